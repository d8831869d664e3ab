/**
 * One PostgreSQL for the int and e2e tiers: the server named by DATABASE_URL when set, otherwise
 * an embedded server under .cutter/test, started once for the run and stopped after it.
 * Test files get their own database from `freshDatabase()` (test/support/db.ts).
 */
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { acquireEmbedded, type EmbeddedServer } from '../../src/store/embedded.js';

let server: EmbeddedServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    server = await acquireEmbedded(path.resolve('.cutter/test'));
    adminUrl = server.url;
  }
  project.provide('adminUrl', adminUrl);
  project.provide('backend', process.env.DATABASE_URL ? 'server' : 'embedded');
}

export async function teardown(): Promise<void> {
  await server?.release();
}

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    backend: 'server' | 'embedded';
  }
}
