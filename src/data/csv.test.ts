import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv';

describe('parseCsv', () => {
  it('reads quoted fields, doubled quotes, CRLF and newlines inside quotes', () => {
    const text = '\ufefftext,label\r\n"hello, world",pos\r\n"she said ""hi""",neg\n"two\nlines",pos\n\nlast,neg';
    const { records, errors } = parseCsv(text);
    expect(errors).toEqual([]);
    expect(records).toEqual([
      { line: 1, fields: ['text', 'label'] },
      { line: 2, fields: ['hello, world', 'pos'] },
      { line: 3, fields: ['she said "hi"', 'neg'] },
      { line: 4, fields: ['two\nlines', 'pos'] },
      { line: 7, fields: ['last', 'neg'] },
    ]);
  });

  it('keeps empty fields', () => {
    expect(parseCsv('a,,c\n,,\n').records.map((r) => r.fields)).toEqual([['a', '', 'c'], ['', '', '']]);
  });

  it('reports an unclosed quote and text after a closing quote, by line', () => {
    const bad = parseCsv('a,b\n"x"y,1\nok,2\n"open,3');
    expect(bad.records.map((r) => r.fields)).toEqual([['a', 'b'], ['ok', '2']]);
    expect(bad.errors).toEqual([
      { line: 2, message: expect.stringMatching(/after a closing quote/) },
      { line: 4, message: expect.stringMatching(/not closed/) },
    ]);
  });
});
