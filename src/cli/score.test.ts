import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildCli } from './cli.testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLines } from './read-lines';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'manyicl-score-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

describe('readLines', () => {
  it('splits on \\n, drops the \\r of \\r\\n and a leading BOM, and keeps a last line without \\n', async () => {
    const path = join(dir, 'lines.jsonl');
    await writeFile(path, '\ufeff{"a":1}\r\n\n{"b":"\u2028"}\n  \nlast');
    expect(await collect(readLines(path))).toEqual(['{"a":1}', '', '{"b":"\u2028"}', '  ', 'last']);
    await writeFile(path, 'one\ntwo\n');
    expect(await collect(readLines(path))).toEqual(['one', 'two']);
  });

  it('joins lines that span the stream chunks', async () => {
    const path = join(dir, 'long.jsonl');
    const long = 'x'.repeat(200_000);
    await writeFile(path, `${long}\n${long}y`);
    expect(await collect(readLines(path))).toEqual([long, `${long}y`]);
  });
});

describe('npm run score (the built entry)', () => {
  const run = promisify(execFile);
  let entry: string;
  beforeAll(async () => {
    entry = await buildCli('score');
  }, 60_000);

  it('prints one JSON line per input line and exits 0', async () => {
    const input = join(dir, 'good.jsonl');
    await writeFile(
      input,
      [
        '{"metric":"accuracy","prediction":"The Cat.","references":["cat"]}',
        '',
        '{"metric":"squad","prediction":"the cat sat","references":["a cat sat down","dog"]}',
        '{"metric":"rouge","prediction":"c d\\na b","references":["a b\\nc d"]}',
        '{"metric":"gsm8k","prediction":"She has $1,200.","references":["600 * 2 = <<600*2=1200>>1200\\n#### 1200"]}',
      ].join('\n'),
    );
    const { stdout, stderr } = await run(process.execPath, [entry, input]);
    expect(stderr).toBe('');
    expect(stdout).toBe(
      '{"accuracy":1}\n' +
        '{"exact_match":0,"f1":0.8}\n' +
        '{"rouge1":1,"rouge2":0.6666666666666666,"rougeL":0.5,"rougeLsum":1}\n' +
        '{"exact_match":1}\n',
    );
  });

  it('stops at the first bad line: the lines before it on stdout, its number and problem on stderr, exit 1', async () => {
    const input = join(dir, 'bad.jsonl');
    await writeFile(
      input,
      '{"metric":"accuracy","prediction":"a","references":["a"]}\n{"metric":"bleu","prediction":"a","references":["a"]}\n{"metric":"accuracy","prediction":"b","references":["b"]}\n',
    );
    const failure = await run(process.execPath, [entry, input]).then(
      () => null,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failure).not.toBeNull();
    expect(failure!.code).toBe(1);
    expect(failure!.stdout).toBe('{"accuracy":1}\n');
    expect(failure!.stderr).toBe(`${input}: line 2: unknown metric "bleu" (expected one of "accuracy", "squad", "rouge", "gsm8k")\n`);
  });

  it('exits 2 with usage without exactly one file', async () => {
    const failure = await run(process.execPath, [entry]).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2, stderr: expect.stringMatching(/^usage: npm run score -- FILE\.jsonl/) });
  });
});
