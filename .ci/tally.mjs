// CI tally over vitest JSON reports (.ci/run). Usage: node .ci/tally.mjs LABEL=REPORT.json ...
// Prints one `ci: LABEL run: …` line per run, then, as its last stdout line, `P F S` for the
// distinct tests across all runs. A test is keyed by its file (relative to the repo) and fullName
// (plus its occurrence number, so two tests with the same name in one file stay two); it counts:
//   failed  if it failed in any run it appeared in,
//   passed  if it passed in every run it appeared in,
//   skipped otherwise (skipped or todo in at least one run, failed in none).
// A missing report (the run crashed), a file that failed outside its tests (import error, hook) or
// an unsuccessful run with no failing test each count as one failed check.
import console from 'node:console';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const merged = new Map(); // key -> array of statuses, one per run it appeared in
const note = (key, status) => {
  const list = merged.get(key);
  if (list) list.push(status);
  else merged.set(key, [status]);
};
const kind = (status) => (status === 'passed' || status === 'failed' ? status : 'skipped');

for (const arg of process.argv.slice(2)) {
  const eq = arg.indexOf('=');
  const label = arg.slice(0, eq);
  const file = arg.slice(eq + 1);
  if (!existsSync(file)) {
    console.log(`ci: ${label} run: no test report at ${file} (the run crashed)`);
    note(`${label} run crashed`, 'failed');
    continue;
  }
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    console.log(`ci: ${label} run: unreadable test report at ${file} (${e.message})`);
    note(`${label} run: unreadable report`, 'failed');
    continue;
  }
  let fileErrors = 0;
  for (const suite of report.testResults ?? []) {
    const rel = path.relative(process.cwd(), suite.name);
    const seen = new Map();
    let anyFailed = false;
    for (const t of suite.assertionResults ?? []) {
      const base = `${rel} > ${t.fullName}`;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      const status = kind(t.status);
      if (status === 'failed') anyFailed = true;
      note(n === 1 ? base : `${base} #${n}`, status);
    }
    if (suite.status === 'failed' && !anyFailed) {
      fileErrors += 1;
      console.log(`ci: ${label} run: ${rel} failed outside its tests: ${(suite.message ?? '').split('\n')[0]}`);
      note(`${rel} (file-level failure)`, 'failed');
    }
  }
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  let failed = report.numFailedTests + fileErrors;
  if (!report.success && failed === 0) {
    failed = 1;
    note(`${label} run: unsuccessful without a failing test`, 'failed');
  }
  console.log(
    `ci: ${label} run: ${report.numPassedTests} passed, ${failed} failed, ${skipped} skipped (${report.numTotalTests} tests)`,
  );
}

let passed = 0;
let failed = 0;
let skipped = 0;
let mixed = 0;
for (const statuses of merged.values()) {
  if (statuses.includes('failed')) failed += 1;
  else if (statuses.every((s) => s === 'passed')) passed += 1;
  else {
    skipped += 1;
    if (statuses.includes('passed')) mixed += 1;
  }
}
for (const [key, statuses] of merged) {
  if (statuses.includes('failed')) console.log(`ci: FAILED: ${key}`);
}
const runs = process.argv.length - 2;
console.log(
  `ci: distinct tests over ${runs} run(s): ${passed} passed, ${failed} failed, ${skipped} skipped` +
    (mixed ? ` (${mixed} passed in one run and skipped in another: counted skipped)` : ''),
);
console.log(`${passed} ${failed} ${skipped}`);
