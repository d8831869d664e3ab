/** `cutter init [--example]`: formatting only; the work is src/workspace/init.ts. */
import { initWorkspace } from '../../workspace/init.js';
import type { Session } from '../../workspace/session.js';
import type { Output } from '../output.js';
import { EXIT } from '../../errors.js';

export async function init(s: Session, out: Output, opts: { example?: boolean }): Promise<number> {
  const r = await initWorkspace(s, opts);
  out.result(r, () => {
    const lines = [
      `${r.configWritten ? 'wrote' : 'kept'} ${r.config}`,
      `store migrated (${r.store.embedded ? 'embedded PostgreSQL under .cutter/' : 'server'})`,
    ];
    if (r.example) {
      lines.push(`example target database ${r.example.database} seeded`);
      lines.push(
        `member keys ${Object.entries(r.example.members)
          .map(([n, roles]) => `${n} (${roles.join(', ')})`)
          .join(', ')} and a backup keypair in ${r.example.keysDir}`,
      );
      lines.push(
        `governance ${r.example.governance} recorded, signed by root; trust root ${r.example.trustRoot} pinned in ` +
          `the config`,
      );
      lines.push(`plan ${r.example.plan}`);
    }
    const done = lines.map((l) => `  ${out.color.green('✓')} ${l}`);
    const env = r.example?.targetEnv;
    if (env) {
      done.push(
        `  ! the config names the example target as env:${env.variable} (its URL holds a password); before planning:`,
      );
      done.push(`      export ${env.variable}='${env.value}'   # with the real password in place of ***`);
    }
    return done.join('\n');
  });
  return EXIT.ok;
}
