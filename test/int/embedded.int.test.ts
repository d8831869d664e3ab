/**
 * The embedded default under real processes: two cutter-like processes starting at once on one
 * directory both get a working server; the last one out stops it; a SIGKILLed holder does not
 * wedge the next start; the data survives restarts. Children run the compiled code (npm test builds first).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireEmbedded, stopEmbedded } from '../../src/store/embedded.js';
import { connect, sql } from '../../src/store/connection.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-embedded-'));
const root = path.resolve(import.meta.dirname, '../..');

/** A child process that acquires the server, writes a row, holds for `holdMs`, releases. */
function child(holdMs: number, value: string): Promise<{ code: number | null; out: string }> {
  const script = `
    import { acquireEmbedded } from ${JSON.stringify(path.join(root, 'dist/src/store/embedded.js'))};
    import { connect, sql } from ${JSON.stringify(path.join(root, 'dist/src/store/connection.js'))};
    const s = await acquireEmbedded(${JSON.stringify(dir)});
    const db = connect(s.url, { poolSize: 1 });
    await db.query(sql\`CREATE TABLE IF NOT EXISTS marks (v text)\`).catch(() => undefined);
    await db.query(sql\`INSERT INTO marks VALUES (${'${'}${JSON.stringify(value)}})\`);
    await new Promise((r) => setTimeout(r, ${holdMs}));
    await db.dispose();
    await s.release();
    console.log('ok', s.port);
  `;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => resolve({ code, out }));
  });
}

afterAll(async () => {
  await stopEmbedded(dir).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('embedded PostgreSQL', () => {
  it('serves two processes started at once on the same directory, and stops after the last', async () => {
    const [a, b] = await Promise.all([child(500, 'a'), child(500, 'b')]);
    expect(a.out).toMatch(/^ok \d+/m);
    expect(b.out).toMatch(/^ok \d+/m);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.out.split(' ')[1]).toBe(b.out.split(' ')[1]); // one server, one port
    expect(existsSync(path.join(dir, 'pg', 'postmaster.pid'))).toBe(false); // stopped by the last one out
  });

  it('keeps the data across restarts and survives a SIGKILLed holder', async () => {
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      import { acquireEmbedded } from ${JSON.stringify(path.join(root, 'dist/src/store/embedded.js'))};
      await acquireEmbedded(${JSON.stringify(dir)}); console.log('held'); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      holder.on('close', (code) => reject(new Error(`holder exited ${code}`)));
    });
    holder.kill('SIGKILL');
    await new Promise((r) => holder.on('close', r));
    const s = await acquireEmbedded(dir);
    const db = connect(s.url, { poolSize: 1 });
    const rows = await db.query(sql`SELECT v FROM marks ORDER BY v`);
    await db.dispose();
    await s.release();
    expect(rows.map((r) => r.v)).toEqual(['a', 'b']);
    expect(readFileSync(path.join(dir, 'leases', '..', 'port'), 'utf8').trim()).toMatch(/^\d+$/);
    expect(existsSync(path.join(dir, 'pg', 'postmaster.pid'))).toBe(false);
  });
});
