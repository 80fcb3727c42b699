// Reading a text file line by line as a stream, for the CLI entries that take JSON Lines.
import { createReadStream } from 'node:fs';

const withoutCr = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);

/** The UTF-8 file's lines: split on '\n', with the '\r' of '\r\n' and a leading BOM dropped; no line after a final '\n'. */
export async function* readLines(path: string): AsyncGenerator<string> {
  let rest = '';
  let first = true;
  for await (const piece of createReadStream(path, { encoding: 'utf8' })) {
    let chunk = piece as string;
    if (first && chunk.length > 0) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      first = false;
    }
    let start = 0;
    for (let end = chunk.indexOf('\n'); end >= 0; end = chunk.indexOf('\n', start)) {
      yield withoutCr(rest + chunk.slice(start, end));
      rest = '';
      start = end + 1;
    }
    rest += chunk.slice(start);
  }
  if (rest !== '') yield withoutCr(rest);
}
