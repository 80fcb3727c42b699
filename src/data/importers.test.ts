import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import { classLabelNames, csvColumns, detectDelimiter, fetchHfRows, hfRecords, importRows, mapRecords } from './importers';

const task = { name: 'up', family: 'classification' as const };

describe('importRows (JSONL)', () => {
  const jsonl = [
    '{"text": "good film", "label": "pos", "uid": "a"}',
    '{"text": "bad film", "label": "neg"',
    '',
    '{"text": "no label"}',
    '[1, 2]',
    '{"text": "empty", "label": "  "}',
    '{"text": "dull", "label": "neg", "uid": "b"}',
  ].join('\n');

  it('keeps good rows and names the line and field of each bad one', () => {
    const { examples, errors } = importRows(jsonl, 'jsonl', { input: 'text', answer: 'label' }, task);
    expect(examples).toEqual([
      { id: 'up-1', task: 'up', family: 'classification', input: 'good film', answer: 'pos' },
      { id: 'up-7', task: 'up', family: 'classification', input: 'dull', answer: 'neg' },
    ]);
    expect(errors.map((e) => e.row)).toEqual([2, 4, 5, 6]);
    expect(errors[0].message).toMatch(/invalid JSON/);
    expect(errors[1].message).toMatch(/missing answer field 'label' \(fields: text\)/);
    expect(errors[2].message).toMatch(/not a JSON object/);
    expect(errors[3].message).toMatch(/empty answer \(field 'label'\)/);
  });

  it('uses an id field and reports a missing or duplicate id', () => {
    const text = `${jsonl}\n{"text": "again", "label": "pos", "uid": "a"}\n{"text": "no id", "label": "pos"}`;
    const { examples, errors } = importRows(text, 'jsonl', { input: 'text', answer: 'label', id: 'uid' }, task);
    expect(examples.map((e) => e.id)).toEqual(['a', 'b']);
    expect(errors.find((e) => e.row === 8)?.message).toMatch(/duplicate id 'a'/);
    expect(errors.find((e) => e.row === 9)?.message).toMatch(/missing id field 'uid'/);
  });

  it('joins several input fields, reads dotted paths and names integer labels', () => {
    const text = [
      '{"premise": "p one", "hypothesis": "h one", "label": 0, "meta": {"answers": ["x", "y"]}}',
      '{"premise": "p two", "hypothesis": "h two", "label": 2, "meta": {"answers": ["z"]}}',
      '{"premise": "p three", "hypothesis": "h three", "label": 7, "meta": {"answers": []}}',
    ].join('\n');
    const nli = { name: 'nli-up', family: 'nli' as const };
    const { examples, errors } = importRows(text, 'jsonl', { input: ['premise', 'hypothesis'], join: ' | ', answer: 'label', answerNames: ['entailment', 'neutral', 'contradiction'] }, nli);
    expect(examples.map((e) => [e.input, e.answer])).toEqual([['p one | h one', 'entailment'], ['p two | h two', 'contradiction']]);
    expect(errors).toEqual([{ row: 3, message: expect.stringMatching(/'label' is 7, not a label index 0\.\.2/) }]);
    const dotted = importRows(text, 'jsonl', { input: 'premise', answer: 'meta.answers.0' }, nli);
    expect(dotted.examples.map((e) => e.answer)).toEqual(['x', 'z']);
    expect(dotted.errors[0]).toEqual({ row: 3, message: expect.stringMatching(/missing answer field 'meta.answers.0'/) });
    expect(() => importRows(text, 'jsonl', { input: 'meta.answers', answer: 'label' }, nli)).toThrow(/row 1: input field 'meta.answers' is not text \(a list\)/);
  });

  it('throws a summary when no row is valid', () => {
    expect(() => importRows('{"a": 1}\nnot json\n', 'jsonl', { input: 'text', answer: 'label' }, task))
      .toThrow(/no valid examples in the jsonl data \(2 rows\): row 1: missing input field 'text'.*; row 2: invalid JSON/);
    expect(() => importRows('', 'jsonl', { input: 'text', answer: 'label' }, task)).toThrow(/no valid examples in the jsonl data \(0 rows\)/);
  });
});

describe('importRows (CSV)', () => {
  const csv = 'sentence,label,id\r\n"hello, world",pos,1\r\n"she said ""no""",neg,2\r\n"two\nlines",pos,3\r\nshort row\r\n"oops",,5\r\n';

  it('reads quoted CSV and reports rows by file line', () => {
    const { examples, errors } = importRows(csv, 'csv', { input: 'sentence', answer: 'label', id: 'id' }, task);
    expect(examples.map((e) => [e.id, e.input, e.answer])).toEqual([
      ['1', 'hello, world', 'pos'], ['2', 'she said "no"', 'neg'], ['3', 'two\nlines', 'pos'],
    ]);
    expect(errors).toEqual([
      { row: 6, message: 'has 1 fields, the header has 3' },
      { row: 7, message: "empty answer (field 'label')" },
    ]);
  });

  it('explains a column that is not in the header', () => {
    expect(() => importRows(csv, 'csv', { input: 'text', answer: 'label' }, task))
      .toThrow(/row 2: missing input field 'text' \(fields: sentence, label, id\)/);
  });

  const mapping = { input: 'text', answer: 'label' };

  it('numbers rows by file line across a BOM, blank lines, mixed line ends and multi-line fields', () => {
    const text = '\ufeff\n\n text , label \r\n"a\r\nb\nc",pos\n\n\rplain,neg\r\n"",neg\r"last ""one""",pos';
    const { examples, errors } = importRows(text, 'csv', mapping, task);
    expect(examples.map((e) => [e.id, e.input, e.answer])).toEqual([
      ['up-4', 'a\nb\nc', 'pos'], ['up-9', 'plain', 'neg'], ['up-11', 'last "one"', 'pos'],
    ]);
    expect(errors).toEqual([{ row: 10, message: "empty input (field 'text')" }]);
    expect(csvColumns(text)).toEqual(['text', 'label']);
  });

  it('keeps every value as text and empty fields as empty', () => {
    const text = 'text,label,id\n1.50,true,007\n,,\n';
    const { examples, errors } = importRows(text, 'csv', { ...mapping, id: 'id' }, task);
    expect(examples).toEqual([{ id: '007', task: 'up', family: 'classification', input: '1.50', answer: 'true' }]);
    expect(errors).toEqual([{ row: 3, message: "empty input (field 'text')" }]);
  });

  it('reports rows with too few or too many fields', () => {
    const text = 'text,label\nok,pos\nonly\none,two,three\nfine,neg\n';
    const { examples, errors } = importRows(text, 'csv', mapping, task);
    expect(examples.map((e) => e.id)).toEqual(['up-2', 'up-5']);
    expect(errors).toEqual([
      { row: 3, message: 'has 1 fields, the header has 2' },
      { row: 4, message: 'has 3 fields, the header has 2' },
    ]);
  });

  it('reports a stray quote and an unclosed quote at the line the row starts, with the lines it swallowed', () => {
    const stray = 'text,label\nok,pos\n"say "hi"",neg\nlost,pos\n"next",neg\nafter,pos\n';
    const result = importRows(stray, 'csv', mapping, task);
    expect(result.examples.map((e) => e.id)).toEqual(['up-2', 'up-6']);
    expect(result.errors).toEqual([
      { row: 3, message: 'text after a closing quote (quotes inside a field must be doubled); lines 3-5 were read as this one row' },
    ]);
    const unclosed = importRows('text,label\nok,pos\n"open,neg\nlost,pos\n', 'csv', mapping, task);
    expect(unclosed.examples.map((e) => e.id)).toEqual(['up-2']);
    expect(unclosed.errors).toEqual([{ row: 3, message: 'a quoted field is not closed; lines 3-4 were read as this one row' }]);
  });

  it('throws for an empty file, a header with no rows, or a broken header', () => {
    expect(() => importRows('', 'csv', mapping, task)).toThrow(/no valid examples in the csv data \(0 rows\)$/);
    expect(() => importRows('\ufeff\r\n\r\n', 'csv', mapping, task)).toThrow(/no valid examples in the csv data \(0 rows\)$/);
    expect(() => importRows('text,label\r\n', 'csv', mapping, task)).toThrow(/no valid examples in the csv data \(0 rows\)$/);
    expect(() => importRows('\n"text,label\nhi,pos\n', 'csv', mapping, task))
      .toThrow(/\(1 rows\): row 2: header: a quoted field is not closed$/);
    expect(csvColumns('')).toEqual([]);
    expect(csvColumns('text,label')).toEqual(['text', 'label']);
  });
});

// ---- a local stand-in for datasets-server.huggingface.co ----------------------------------------------------

const TOTAL = 250;
const features = [
  { feature_idx: 0, name: 'text', type: { dtype: 'string', _type: 'Value' } },
  { feature_idx: 1, name: 'label', type: { names: ['negative', 'positive'], _type: 'ClassLabel' } },
];
const rowAt = (i: number) => ({ text: `review ${i}`, label: i % 2 });

let server: Server;
let baseUrl: string;
const requests: URLSearchParams[] = [];

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== '/rows') return answer(res, 404, { error: 'Not found.' });
  const q = url.searchParams;
  requests.push(q);
  const dataset = q.get('dataset');
  if (dataset === 'org/gated' && req.headers.authorization !== 'Bearer hf_good') {
    return answer(res, 401, { error: 'The dataset does not exist, or is not accessible without authentication (private or gated). Please check the spelling of the dataset name or retry with authentication.' });
  }
  if ((dataset !== 'org/reviews' && dataset !== 'org/gated') || q.get('config') !== 'default' || q.get('split') !== 'train') {
    return answer(res, 404, { error: 'The dataset does not exist on the Hub.' });
  }
  const offset = Number(q.get('offset'));
  const length = Number(q.get('length'));
  if (length > 100) return answer(res, 422, { error: 'Parameter \'length\' must not be greater than 100' });
  const rows = [];
  for (let i = offset; i < Math.min(offset + length, TOTAL); i++) {
    rows.push({ row_idx: i, row: rowAt(i), truncated_cells: i === 7 ? ['text'] : [] });
  }
  answer(res, 200, { features, rows, num_rows_total: TOTAL, num_rows_per_page: 100, partial: false });
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('fetchHfRows', () => {
  const base = () => ({ dataset: 'org/reviews', config: 'default', split: 'train', baseUrl });

  it('pages through the rows API 100 rows at a time', async () => {
    requests.length = 0;
    const out = await fetchHfRows({ ...base(), offset: 5, length: 230 });
    expect(out.rows.length).toBe(230);
    expect(out.rows[0]).toEqual(rowAt(5));
    expect(out.rows[229]).toEqual(rowAt(234));
    expect(out.numRowsTotal).toBe(TOTAL);
    expect(out.features).toEqual([{ name: 'text', type: features[0].type }, { name: 'label', type: features[1].type }]);
    expect(out.truncatedRows).toEqual([7]);
    expect(requests.map((q) => [q.get('offset'), q.get('length')])).toEqual([['5', '100'], ['105', '100'], ['205', '30']]);
    expect(requests[0].get('dataset')).toBe('org/reviews');
  });

  it('stops at the end of the split', async () => {
    requests.length = 0;
    const out = await fetchHfRows({ ...base(), offset: 200, length: 500 });
    expect(out.rows.length).toBe(50);
    expect(out.rows.at(-1)).toEqual(rowAt(249));
    expect(requests.length).toBe(1);
    const defaults = await fetchHfRows(base());
    expect(defaults.rows.length).toBe(100);
  });

  it('explains 404, 401 and unreachable servers', async () => {
    await expect(fetchHfRows({ ...base(), dataset: 'org/missing' }))
      .rejects.toThrow(/not found on Hugging Face: dataset 'org\/missing', config 'default', split 'train' \(HTTP 404\): The dataset does not exist/);
    await expect(fetchHfRows({ ...base(), split: 'test' })).rejects.toThrow(/split 'test' \(HTTP 404\)/);
    await expect(fetchHfRows({ ...base(), dataset: 'org/gated' })).rejects.toThrow(/refused dataset 'org\/gated'.*\(HTTP 401\).*give a Hugging Face token/);
    await expect(fetchHfRows({ ...base(), dataset: 'org/gated', token: 'hf_bad' })).rejects.toThrow(/HTTP 401.*the token has no access/);
    const gated = await fetchHfRows({ ...base(), dataset: 'org/gated', token: 'hf_good', length: 3 });
    expect(gated.rows).toEqual([rowAt(0), rowAt(1), rowAt(2)]);

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(fetchHfRows({ ...base(), baseUrl: deadUrl })).rejects.toThrow(new RegExp(`could not reach ${deadUrl} for dataset 'org/reviews'`));
  });

  it('uses the fetch it is given', async () => {
    const seen: string[] = [];
    const fake = (async (url: string) => {
      seen.push(url);
      return new Response('oops', { status: 500 });
    }) as unknown as typeof fetch;
    await expect(fetchHfRows({ dataset: 'a/b', config: 'c', split: 'd', fetch: fake })).rejects.toThrow(/HTTP 500\): oops/);
    expect(seen).toEqual(['https://datasets-server.huggingface.co/rows?dataset=a%2Fb&config=c&split=d&offset=0&length=100']);
  });

  it('feeds the import mapping, with class-label names', async () => {
    const out = await fetchHfRows({ ...base(), offset: 10, length: 4 });
    const names = classLabelNames(out.features, 'label');
    expect(names).toEqual(['negative', 'positive']);
    expect(classLabelNames(out.features, 'text')).toBeNull();
    const { examples, errors } = mapRecords(hfRecords(out.rows, 10), { input: 'text', answer: 'label', answerNames: names! }, task);
    expect(errors).toEqual([]);
    expect(examples.map((e) => [e.id, e.input, e.answer])).toEqual([
      ['up-10', 'review 10', 'negative'], ['up-11', 'review 11', 'positive'], ['up-12', 'review 12', 'negative'], ['up-13', 'review 13', 'positive'],
    ]);
  });
});

describe('delimited files: comma, tab or semicolon', () => {
  const mapping = { input: 'text', answer: 'label' };
  const task = { name: 'reviews', family: 'classification' as const };

  test('the separator is found from the header line, quotes and extension considered', () => {
    expect(detectDelimiter('text\tlabel\ngood, really\tpos\n')).toBe('\t');
    expect(detectDelimiter('text;label\n"a, b";pos\n')).toBe(';');
    expect(detectDelimiter('text,label\n')).toBe(',');
    expect(detectDelimiter('"a\tb",label\nx,y\n')).toBe(',');
    expect(detectDelimiter('single\nx\n')).toBe(',');
    expect(detectDelimiter('a\tb,c,d\n', 'data.tsv')).toBe('\t');
    expect(detectDelimiter('a\tb,c,d\n', 'data.TAB')).toBe('\t');
    expect(detectDelimiter('\ufeff\r\n\r\nq\ta\r\n')).toBe('\t');
  });

  test('tab-separated data in a .csv file is read field by field', () => {
    const text = 'text\tlabel\ngood, really good\tpos\nbad\tneg\n';
    expect(csvColumns(text)).toEqual(['text\tlabel']); // read as commas: one field, the issue
    expect(csvColumns(text, '\t')).toEqual(['text', 'label']);
    const { examples, errors } = importRows(text, 'csv', mapping, task, '\t');
    expect(errors).toEqual([]);
    expect(examples.map((e) => [e.input, e.answer])).toEqual([['good, really good', 'pos'], ['bad', 'neg']]);
    expect(importRows('text;label\nok;pos\n', 'csv', mapping, task, ';').examples[0]).toMatchObject({ input: 'ok', answer: 'pos' });
  });
});
