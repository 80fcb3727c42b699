// npm run score -- FILE.jsonl: scores each line {"metric", "prediction", "references"} of a JSON Lines file and
// prints one JSON line per input line, in order (src/eval/score-lines.ts has the contract). It stops at the
// first bad line, prints nothing for it, names its line number and the problem on stderr and exits 1.
import { ScoreInputError, scoreLine } from '../eval/score-lines';
import { readLines } from './read-lines';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.length !== 1 || args[0].startsWith('-')) {
    console.error(
      'usage: npm run score -- FILE.jsonl\n' +
        '  each line: {"metric":"accuracy"|"squad"|"rouge"|"gsm8k","prediction":"...","references":["..."]}',
    );
    return 2;
  }
  let line = 0;
  for await (const text of readLines(args[0])) {
    line++;
    try {
      const result = scoreLine(text, line);
      if (result !== null) process.stdout.write(`${result}\n`);
    } catch (error) {
      if (!(error instanceof ScoreInputError)) throw error;
      console.error(`${args[0]}: ${error.message}`);
      return 1;
    }
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
