#!/usr/bin/env node
// `npm test`: runs every part of the test suite in turn, streams its output, counts its tests, and ends with
// a table and one summary line, `tests: N passed, N failed[, N skipped]`. A part that fails does not stop the
// parts after it. Exits non-zero when any test failed, any part failed without a failed test (a crash, a
// file that did not load), or any part ran no tests at all.
// `npm test -- unit e2e` runs only the parts named.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** kind says how the part reports its tests: tsc counts as one test, pass or fail. */
const PARTS = [
  { name: 'typecheck', script: 'typecheck', kind: 'tsc' },
  { name: 'unit', script: 'test:unit', kind: 'vitest' },
  { name: 'gpu', script: 'test:gpu', kind: 'vitest' },
  { name: 'gpu-node', script: 'test:gpu:node', kind: 'vitest' },
  { name: 'e2e', script: 'test:e2e', kind: 'playwright' },
];

const chosen = process.argv.slice(2);
const unknown = chosen.filter((name) => !PARTS.some((part) => part.name === name));
if (unknown.length > 0) {
  console.error(`Unknown test part(s): ${unknown.join(', ')}. Parts: ${PARTS.map((p) => p.name).join(', ')}.`);
  process.exit(2);
}
const parts = chosen.length > 0 ? PARTS.filter((part) => chosen.includes(part.name)) : PARTS;

const reportDir = mkdtempSync(join(tmpdir(), 'manyicl-test-'));
const colors = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const bold = (text) => (colors ? `\x1b[1m${text}\x1b[22m` : text);
const red = (text) => (colors ? `\x1b[31m${text}\x1b[39m` : text);
const green = (text) => (colors ? `\x1b[32m${text}\x1b[39m` : text);
const yellow = (text) => (colors ? `\x1b[33m${text}\x1b[39m` : text);

/** Runs `npm run <script> -- <args>`, copying its output through while keeping a copy to parse. */
function runScript(script, args, extraEnv) {
  return new Promise((resolve) => {
    const env = { ...process.env, ...extraEnv };
    if (colors && !env.FORCE_COLOR) env.FORCE_COLOR = '1';
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const child = spawn(npm, ['run', script, '--', ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: process.platform === 'win32',
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      process.stderr.write(chunk);
      output += chunk;
    });
    child.on('error', (error) => {
      output += `\n${error.message}\n`;
      resolve({ code: 127, output });
    });
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output }));
  });
}

function stripAnsi(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '');
}

function readJson(path) {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/** "3 failed | 36 passed | 2 skipped" -> counts; used when a runner wrote no JSON report. */
function countWords(text) {
  const count = (word) => {
    const match = new RegExp(`(\\d+) ${word}\\b`).exec(text);
    return match ? Number(match[1]) : 0;
  };
  return { count };
}

function vitestCounts(jsonPath, output) {
  const report = readJson(jsonPath);
  if (report && typeof report.numTotalTests === 'number') {
    // A test file that fails to load has no failed tests in it, but it is a failure.
    const brokenFiles = (report.testResults ?? []).filter(
      (file) => file.status === 'failed' && !(file.assertionResults ?? []).some((t) => t.status === 'failed'),
    );
    return {
      passed: report.numPassedTests,
      failed: report.numFailedTests + brokenFiles.length,
      skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
      notes: brokenFiles.length > 0 ? [`${brokenFiles.length} test file(s) failed to run`] : [],
      fromReport: true,
    };
  }
  const lines = stripAnsi(output).split('\n');
  const testsLine = lines.findLast((line) => /^\s*Tests\s+\d/.test(line)) ?? '';
  const filesLine = lines.findLast((line) => /^\s*Test Files\s+\d/.test(line)) ?? '';
  const tests = countWords(testsLine);
  const files = countWords(filesLine);
  const failedFiles = files.count('failed');
  return {
    passed: tests.count('passed'),
    failed: Math.max(tests.count('failed'), failedFiles),
    skipped: tests.count('skipped') + tests.count('todo'),
    notes: [],
    fromReport: false,
  };
}

function playwrightCounts(jsonPath, output) {
  const report = readJson(jsonPath);
  if (report && report.stats) {
    const { expected = 0, unexpected = 0, flaky = 0, skipped = 0 } = report.stats;
    const errors = report.errors?.length ?? 0;
    const notes = [];
    if (flaky > 0) notes.push(`${flaky} flaky (passed on retry)`);
    if (errors > 0) notes.push(`${errors} error(s) outside tests`);
    return {
      passed: expected + flaky,
      failed: unexpected + (unexpected === 0 ? errors : 0),
      skipped,
      notes,
      fromReport: true,
    };
  }
  const text = stripAnsi(output);
  const last = (word) => {
    const matches = [...text.matchAll(new RegExp(`^\\s*(\\d+) ${word}\\b`, 'gm'))];
    return matches.length > 0 ? Number(matches[matches.length - 1][1]) : 0;
  };
  return {
    passed: last('passed') + last('flaky'),
    failed: last('failed'),
    skipped: last('skipped') + last('did not run'),
    notes: [],
    fromReport: false,
  };
}

async function runPart(part) {
  const started = Date.now();
  let result;
  let counts;
  if (part.kind === 'tsc') {
    result = await runScript(part.script, [], {});
    const errors = (stripAnsi(result.output).match(/error TS\d+/g) ?? []).length;
    counts = {
      passed: result.code === 0 ? 1 : 0,
      failed: result.code === 0 ? 0 : 1,
      skipped: 0,
      notes: result.code === 0 ? [] : [`${errors} type error(s)`],
      fromReport: true,
    };
  } else if (part.kind === 'vitest') {
    const jsonPath = join(reportDir, `${part.name}.json`);
    const args = ['--reporter=default', '--reporter=json', `--outputFile.json=${jsonPath}`];
    result = await runScript(part.script, args, {});
    counts = vitestCounts(jsonPath, result.output);
  } else {
    const jsonPath = join(reportDir, `${part.name}.json`);
    result = await runScript(part.script, ['--reporter=list,json'], { PLAYWRIGHT_JSON_OUTPUT_FILE: jsonPath });
    counts = playwrightCounts(jsonPath, result.output);
  }
  if (result.code !== 0 && counts.failed === 0) {
    // It failed without naming a failed test (a crash, a build error, a missing browser): that is one failure.
    counts.failed = 1;
    counts.notes.push(`exited with code ${result.code}`);
  }
  const ran = counts.passed + counts.failed;
  if (ran === 0) counts.notes.push('ran no tests');
  const ok = result.code === 0 && counts.failed === 0 && ran > 0;
  return { ...part, ...counts, ok, seconds: (Date.now() - started) / 1000 };
}

const results = [];
for (const part of parts) {
  console.log(`\n${bold(`━━ ${part.name}: npm run ${part.script} ━━`)}\n`);
  results.push(await runPart(part));
}
rmSync(reportDir, { recursive: true, force: true });

const header = ['part', 'result', 'passed', 'failed', 'skipped', 'time', 'notes'];
const rows = results.map((r) => [
  r.name,
  r.ok ? 'ok' : 'FAIL',
  String(r.passed),
  String(r.failed),
  String(r.skipped),
  `${r.seconds.toFixed(0)}s`,
  r.notes.join('; '),
]);
const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
const rightAligned = new Set([2, 3, 4, 5]);
const format = (cells) =>
  cells
    .map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
    .join('  ')
    .trimEnd();

console.log(`\n${bold('━━ summary ━━')}\n`);
console.log(bold(format(header)));
rows.forEach((row, i) => {
  const line = format(row);
  console.log(results[i].ok ? line : red(line));
});

const total = (key) => results.reduce((sum, r) => sum + r[key], 0);
const passed = total('passed');
const failed = total('failed');
const skipped = total('skipped');
const empty = results.filter((r) => r.passed + r.failed === 0).map((r) => r.name);
if (empty.length > 0) console.log(yellow(`\nNo tests ran in: ${empty.join(', ')}.`));
const allOk = results.every((r) => r.ok);
console.log(allOk ? green('\nAll parts passed.') : red('\nSome parts failed.'));
console.log(`tests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(allOk ? 0 : 1);
