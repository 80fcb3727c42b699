// Examples from user data: JSONL/CSV uploads with a field mapping, and Hugging Face datasets through the
// datasets-server `rows` API.
import Papa from 'papaparse';
import type { Example, TaskFamily } from './tasks';

export interface FieldMapping {
  /** Field (or fields, joined with `join`) that make the input. Dotted paths reach into JSON: 'answers.text.0'. */
  input: string | string[];
  answer: string;
  /** Field holding a unique example id; default `<task>-<line>`. */
  id?: string;
  /** Joins several input fields; default '\n'. */
  join?: string;
  /** Names for integer answers (a class-label column): answer k becomes answerNames[k]. */
  answerNames?: string[];
}

export interface ImportError {
  /** 1-based line of the file (for Hugging Face rows: the row index). */
  row: number;
  message: string;
}

export interface ImportResult {
  examples: Example[];
  errors: ImportError[];
}

export interface ImportTask {
  name: string;
  family: TaskFamily;
}

/** A record to map, with the row number its errors are reported under. */
export interface SourceRecord {
  row: number;
  record: Record<string, unknown>;
}

/**
 * Examples from a JSONL or CSV upload. Bad rows (invalid JSON, missing mapped fields, empty input or answer,
 * duplicate ids) are reported per row and left out; if no row is valid this throws with a summary.
 */
export function importRows(text: string, format: 'jsonl' | 'csv', mapping: FieldMapping, task: ImportTask, delimiter: CsvDelimiter = ','): ImportResult {
  const { records, errors } = format === 'jsonl' ? readJsonl(text) : readCsv(text, delimiter);
  return finish(mapRecords(records, mapping, task), errors, records.length + errors.length, format);
}

/** Examples from records already read (e.g. Hugging Face rows); same checks as importRows, but never throws. */
export function mapRecords(records: SourceRecord[], mapping: FieldMapping, task: ImportTask): ImportResult {
  const examples: Example[] = [];
  const errors: ImportError[] = [];
  const ids = new Set<string>();
  const inputFields = typeof mapping.input === 'string' ? [mapping.input] : mapping.input;
  if (inputFields.length === 0) throw new Error('the mapping names no input field');
  for (const { row, record } of records) {
    try {
      const inputs = inputFields.map((field) => text(record, field, 'input'));
      const input = inputs.join(mapping.join ?? '\n').trim();
      if (input.trim() === '') throw new Error(`empty input (field ${inputFields.map((f) => `'${f}'`).join(', ')})`);
      let answer = text(record, mapping.answer, 'answer');
      if (mapping.answerNames) answer = nameOf(answer, mapping.answerNames, mapping.answer);
      if (answer.trim() === '') throw new Error(`empty answer (field '${mapping.answer}')`);
      const id = mapping.id !== undefined ? text(record, mapping.id, 'id') : `${task.name}-${row}`;
      if (ids.has(id)) throw new Error(`duplicate id '${id}' (field '${mapping.id ?? 'id'}')`);
      ids.add(id);
      examples.push({ id, task: task.name, family: task.family, input, answer: answer.trim() });
    } catch (e) {
      errors.push({ row, message: (e as Error).message });
    }
  }
  return { examples, errors };
}

function readJsonl(text: string): { records: SourceRecord[]; errors: ImportError[] } {
  const records: SourceRecord[] = [];
  const errors: ImportError[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    try {
      const value: unknown = JSON.parse(line);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        errors.push({ row: i + 1, message: 'not a JSON object' });
      } else {
        records.push({ row: i + 1, record: value as Record<string, unknown> });
      }
    } catch (e) {
      errors.push({ row: i + 1, message: `invalid JSON: ${(e as Error).message}` });
    }
  });
  return { records, errors };
}

// ---- CSV ---------------------------------------------------------------------------------------------------

/** papaparse's key for the values of a row past the header's columns. */
const CSV_EXTRA_KEY = '__parsed_extra';

type CsvRow = Record<string, string | string[]>;

/** The field separators a delimited upload may use: comma (CSV), tab (TSV) or semicolon. */
export type CsvDelimiter = ',' | '\t' | ';';

export const DELIMITER_NAMES: Record<CsvDelimiter, string> = { ',': 'comma-separated', '\t': 'tab-separated', ';': 'semicolon-separated' };

/**
 * The separator of a delimited file, from its header line: the one of tab, semicolon and comma that occurs most
 * there outside quotes (comma when none does). A `.tsv` or `.tab` file is tab-separated unless its header has no tab.
 */
export function detectDelimiter(text: string, fileName = ''): CsvDelimiter {
  const header = csvSource(text.slice(0, 64 * 1024)).source.split('\n', 1)[0] ?? '';
  const unquoted = header.replace(/"[^"]*"/g, '');
  const count = (c: string) => unquoted.split(c).length - 1;
  const counts: [CsvDelimiter, number][] = [['\t', count('\t')], [';', count(';')], [',', count(',')]];
  if (/\.(tsv|tab)$/i.test(fileName) && counts[0][1] > 0) return '\t';
  const [best, most] = counts.reduce((a, b) => (b[1] > a[1] ? b : a));
  return most > 0 ? best : ',';
}

/** Papa.parse options shared by importRows and csvColumns: header row, every value a string. */
function csvOptions(delimiter: CsvDelimiter = ','): Papa.ParseConfig<CsvRow> {
  return {
    header: true,
    skipEmptyLines: true,
    dynamicTyping: false,
    delimiter,
    newline: '\n',
    transformHeader: (name) => name.trim(),
  };
}

/**
 * The text papaparse reads: no byte-order mark, every line end (CRLF, CR) made LF so files mixing them work,
 * and no blank lines before the header (papaparse would give transformHeader the first blank line instead of
 * the header). `blankLines` counts the lines cut.
 */
function csvSource(text: string): { source: string; blankLines: number } {
  const normalized = (text.startsWith('\ufeff') ? text.slice(1) : text).replace(/\r\n?/g, '\n');
  const source = normalized.replace(/^\n+/, '');
  return { source, blankLines: normalized.length - source.length };
}

/**
 * Column names of a CSV upload, as importRows keys its records: trimmed, with papaparse's renaming of
 * repeated names ('a', 'a_1'). Empty when the text has no header line. Reads all of `text`; give a big file's
 * first part.
 */
export function csvColumns(text: string, delimiter: CsvDelimiter = ','): string[] {
  return Papa.parse<CsvRow>(csvSource(text).source, csvOptions(delimiter)).meta.fields ?? [];
}

function readCsv(text: string, delimiter: CsvDelimiter): { records: SourceRecord[]; errors: ImportError[] } {
  const { source, blankLines } = csvSource(text);
  const records: SourceRecord[] = [];
  const errors: ImportError[] = [];
  const lineBreaksBefore = lineBreakCounter(source);
  const lineOf = (offset: number) => blankLines + lineBreaksBefore(offset) + 1;
  Papa.parse<CsvRow>(source, {
    ...csvOptions(delimiter),
    step: ({ data: row, errors: rowErrors, meta }) => {
      // papaparse says where a row ends (meta.cursor, past its closing line break), not where it starts: count
      // back the line breaks inside its fields and the one that closes it. An unclosed quote runs to the end
      // of the text, taking any last line break into the field.
      const lastLine = lineOf(meta.cursor - 1);
      const unclosed = rowErrors.some((e) => e.code === 'MissingQuotes');
      const closedByLineBreak = !unclosed && source[meta.cursor - 1] === '\n';
      const line = lineOf(meta.cursor) - (closedByLineBreak ? 1 : 0) - countLineBreaks(Object.values(row).flat().join(''));
      if (rowErrors.length > 0) {
        const extra = row[CSV_EXTRA_KEY];
        const fieldCount = Object.keys(row).filter((k) => k !== CSV_EXTRA_KEY).length + (Array.isArray(extra) ? extra.length : 0);
        const runsOn = lastLine > line ? `; lines ${line}-${lastLine} were read as this one row` : '';
        errors.push({ row: line, message: csvErrorMessage(rowErrors, fieldCount, meta.fields?.length ?? 0) + runsOn });
        return;
      }
      records.push({ row: line, record: row });
    },
  });
  if (records.length === 0 && errors.length === 0) {
    // papaparse keeps the header row's own errors to itself (an unclosed quote there swallows the file).
    const header = Papa.parse<string[]>(source, { delimiter, newline: '\n', preview: 1 });
    if (header.errors.length > 0) {
      errors.push({ row: blankLines + 1, message: `header: ${csvErrorMessage(header.errors, 0, 0)}` });
    }
  }
  return { records, errors };
}

/** A function giving the number of line breaks before an offset of the text; offsets must not decrease. */
function lineBreakCounter(text: string): (offset: number) => number {
  let counted = 0;
  let lineBreaks = 0;
  return (offset) => {
    for (; counted < offset; counted++) if (text.charCodeAt(counted) === 10) lineBreaks++;
    return lineBreaks;
  };
}

function countLineBreaks(value: string): number {
  let n = 0;
  for (let i = value.indexOf('\n'); i !== -1; i = value.indexOf('\n', i + 1)) n++;
  return n;
}

/** One message for the papaparse errors of a row; quote problems first, as they cause the others. */
function csvErrorMessage(rowErrors: Papa.ParseError[], fieldCount: number, columnCount: number): string {
  const codes = new Set(rowErrors.map((e) => e.code));
  if (codes.has('InvalidQuotes')) return 'text after a closing quote (quotes inside a field must be doubled)';
  if (codes.has('MissingQuotes')) return 'a quoted field is not closed';
  if (codes.has('TooFewFields') || codes.has('TooManyFields')) return `has ${fieldCount} fields, the header has ${columnCount}`;
  return rowErrors.map((e) => e.message).join('; ');
}

/** The value at a dotted path ('a.b.0'), or undefined. A key containing the whole path wins. */
function lookup(record: Record<string, unknown>, path: string): unknown {
  if (path in record) return record[path];
  let value: unknown = record;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function text(record: Record<string, unknown>, field: string, role: string): string {
  const value = lookup(record, field);
  if (value === undefined || value === null) {
    const known = Object.keys(record).slice(0, 12).join(', ');
    throw new Error(`missing ${role} field '${field}' (fields: ${known})`);
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`${role} field '${field}' is not text (${Array.isArray(value) ? 'a list' : 'an object'})`);
}

function nameOf(value: string, names: string[], field: string): string {
  const k = Number(value);
  if (!Number.isInteger(k) || names[k] === undefined) {
    throw new Error(`answer field '${field}' is ${value}, not a label index 0..${names.length - 1}`);
  }
  return names[k];
}

function finish(result: ImportResult, readErrors: ImportError[], rowCount: number, what: string): ImportResult {
  const errors = [...readErrors, ...result.errors].sort((a, b) => a.row - b.row);
  if (result.examples.length === 0) {
    const shown = errors.slice(0, 5).map((e) => `row ${e.row}: ${e.message}`);
    if (errors.length > shown.length) shown.push(`and ${errors.length - shown.length} more`);
    const detail = shown.length > 0 ? `: ${shown.join('; ')}` : '';
    throw new Error(`no valid examples in the ${what} data (${rowCount} rows)${detail}`);
  }
  return { examples: result.examples, errors };
}

// ---- Hugging Face datasets-server -------------------------------------------------------------------------

export const HF_DATASETS_SERVER = 'https://datasets-server.huggingface.co';
const HF_PAGE = 100;

export interface HfRowsOptions {
  dataset: string;
  config: string;
  split: string;
  /** First row; default 0. */
  offset?: number;
  /** Rows wanted; default 100. Fetched in pages of at most 100. */
  length?: number;
  baseUrl?: string;
  /** A Hugging Face access token, for gated or private datasets. */
  token?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

export interface HfRows {
  rows: Record<string, unknown>[];
  numRowsTotal: number;
  features: { name: string; type: unknown }[];
  /** row_idx of rows the server shortened (their long cells are cut). */
  truncatedRows: number[];
}

interface HfRowsPage {
  features: { feature_idx: number; name: string; type: unknown }[];
  rows: { row_idx: number; row: Record<string, unknown>; truncated_cells: string[] }[];
  num_rows_total: number;
}

/** Rows [offset, offset + length) of a dataset split (fewer at the end of the split). */
export async function fetchHfRows(opts: HfRowsOptions): Promise<HfRows> {
  const baseUrl = (opts.baseUrl ?? HF_DATASETS_SERVER).replace(/\/+$/, '');
  const doFetch = opts.fetch ?? globalThis.fetch;
  const offset = opts.offset ?? 0;
  const length = opts.length ?? HF_PAGE;
  if (!Number.isInteger(offset) || offset < 0) throw new Error(`bad offset ${offset}`);
  if (!Number.isInteger(length) || length < 1) throw new Error(`bad length ${length}`);
  const what = `dataset '${opts.dataset}', config '${opts.config}', split '${opts.split}'`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;

  const out: HfRows = { rows: [], numRowsTotal: 0, features: [], truncatedRows: [] };
  let next = offset;
  const end = offset + length;
  while (next < end) {
    const pageLength = Math.min(HF_PAGE, end - next);
    const params = new URLSearchParams({
      dataset: opts.dataset, config: opts.config, split: opts.split, offset: String(next), length: String(pageLength),
    });
    const url = `${baseUrl}/rows?${params}`;
    let response: Response;
    try {
      response = await doFetch(url, { headers, signal: opts.signal });
    } catch (e) {
      throw new Error(`could not reach ${baseUrl} for ${what}: ${(e as Error).message}`);
    }
    const body = await response.text();
    if (!response.ok) throw new Error(httpErrorMessage(response.status, what, body, Boolean(opts.token)));
    let page: HfRowsPage;
    try {
      page = JSON.parse(body) as HfRowsPage;
    } catch {
      throw new Error(`${baseUrl}/rows answered with something that is not JSON for ${what}`);
    }
    if (!Array.isArray(page.rows) || !Array.isArray(page.features) || typeof page.num_rows_total !== 'number') {
      throw new Error(`${baseUrl}/rows answered without rows, features or num_rows_total for ${what}`);
    }
    if (out.features.length === 0) out.features = page.features.map((f) => ({ name: f.name, type: f.type }));
    out.numRowsTotal = page.num_rows_total;
    for (const r of page.rows) {
      out.rows.push(r.row);
      if (r.truncated_cells?.length) out.truncatedRows.push(r.row_idx);
    }
    next += page.rows.length;
    if (page.rows.length === 0 || next >= page.num_rows_total) break;
  }
  return out;
}

function httpErrorMessage(status: number, what: string, body: string, hasToken: boolean): string {
  let detail = '';
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === 'string') detail = `: ${parsed.error}`;
  } catch {
    detail = body ? `: ${body.slice(0, 200)}` : '';
  }
  if (status === 401 || status === 403) {
    const hint = hasToken ? 'the token has no access to it' : 'it is gated or private; give a Hugging Face token with read access';
    return `Hugging Face refused ${what} (HTTP ${status}): ${hint}${detail}`;
  }
  if (status === 404) return `not found on Hugging Face: ${what} (HTTP 404)${detail}`;
  return `Hugging Face datasets-server failed for ${what} (HTTP ${status})${detail}`;
}

/** Rows fetched from Hugging Face as import records (row numbers are the rows' indices in the split). */
export function hfRecords(rows: Record<string, unknown>[], offset = 0): SourceRecord[] {
  return rows.map((record, i) => ({ row: offset + i, record }));
}

/** Label names of a ClassLabel feature ({ _type: 'ClassLabel', names: [...] }), or null. */
export function classLabelNames(features: HfRows['features'], field: string): string[] | null {
  const type = features.find((f) => f.name === field)?.type as { _type?: unknown; names?: unknown } | undefined;
  if (type?._type === 'ClassLabel' && Array.isArray(type.names) && type.names.every((n) => typeof n === 'string')) return type.names;
  return null;
}
