// An import in progress: the fields found in an upload or a Hugging Face split, a first guess at which field
// is the input and which the answer, and the examples the chosen mapping makes.
import {
  type CsvDelimiter, type FieldMapping, type HfRows, type ImportError, classLabelNames, csvColumns, detectDelimiter, hfRecords, importRows, mapRecords,
} from './importers';
import type { Example, TaskFamily } from './tasks';

export interface ImportMapping {
  input: string[];
  answer: string;
  /** '' for none: ids are then <name>-<row>. */
  id: string;
}

export interface ImportDraftFields {
  /** Fields found in the data, for the mapping selects. */
  columns: string[];
  mapping: ImportMapping;
  name: string;
  family: TaskFamily;
  error: string | null;
}

export type ImportDraft =
  | (ImportDraftFields & { kind: 'file'; fileName: string; format: 'jsonl' | 'csv'; /** The field separator of a delimited file. */ delimiter: CsvDelimiter; text: string })
  | (ImportDraftFields & { kind: 'hf'; dataset: string; config: string; split: string; offset: number; rows: HfRows });

const INPUT_FIELD_GUESSES = ['input', 'text', 'sentence', 'question', 'premise', 'content', 'document', 'prompt', 'x'];
const ANSWER_FIELD_GUESSES = ['answer', 'label', 'output', 'target', 'summary', 'completion', 'y'];

export function formatOfFile(fileName: string): 'jsonl' | 'csv' {
  return /\.(csv|tsv|tab)$/i.test(fileName) ? 'csv' : 'jsonl';
}

/** Field names of the data: the CSV header, or the keys of the first JSON objects (nested objects as 'a.b'). */
export function detectColumns(text: string, format: 'jsonl' | 'csv', delimiter: CsvDelimiter = ','): string[] {
  if (format === 'csv') {
    return csvColumns(text.slice(0, 64 * 1024), delimiter).filter((f) => f !== '');
  }
  const columns = new Set<string>();
  let objects = 0;
  for (const line of text.split('\n')) {
    if (objects >= 50) break;
    const trimmed = line.trim();
    if (!trimmed) continue;
    try {
      const value: unknown = JSON.parse(trimmed);
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        objectColumns(value as Record<string, unknown>).forEach((c) => columns.add(c));
        objects++;
      }
    } catch {
      // bad lines are reported by the import itself
    }
  }
  return [...columns];
}

function objectColumns(record: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const inner of Object.keys(value)) out.push(`${key}.${inner}`);
    } else {
      out.push(key);
    }
  }
  return out;
}

/** A first mapping: the usual names of input and answer fields, else the first and last columns. */
export function guessMapping(columns: string[]): ImportMapping {
  const find = (guesses: string[]) => guesses.map((g) => columns.find((c) => c.toLowerCase() === g)).find((c) => c !== undefined);
  const answer = find(ANSWER_FIELD_GUESSES) ?? columns[columns.length - 1] ?? '';
  const input = find(INPUT_FIELD_GUESSES) ?? columns.find((c) => c !== answer) ?? '';
  return { input: input ? [input] : [], answer, id: '' };
}

function fieldMapping(mapping: ImportMapping, answerNames?: string[] | null): FieldMapping {
  return {
    input: mapping.input,
    answer: mapping.answer,
    ...(mapping.id ? { id: mapping.id } : {}),
    ...(answerNames ? { answerNames } : {}),
  };
}

function datasetName(fileName: string): string {
  return fileName.replace(/\.[^.]+$/, '').replace(/[^a-zA-Z0-9_-]+/g, '-').toLowerCase() || 'imported';
}

/** `name`, or `name-2`, `name-3`, ... : the first that no task in `taken` has. */
export function freeTaskName(name: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  if (!used.has(name)) return name;
  let n = 2;
  while (used.has(`${name}-${n}`)) n++;
  return `${name}-${n}`;
}

/**
 * The draft of an uploaded JSONL or CSV/TSV file: its fields (the separator found from the header line), a
 * guessed mapping, a name from the file name that no task in `takenNames` has.
 */
export function fileDraft(fileName: string, text: string, takenNames: Iterable<string> = []): ImportDraft {
  const format = formatOfFile(fileName);
  const delimiter = format === 'csv' ? detectDelimiter(text, fileName) : ',';
  const columns = detectColumns(text, format, delimiter);
  return {
    kind: 'file', fileName, format, delimiter, text, columns, mapping: guessMapping(columns),
    name: freeTaskName(datasetName(fileName), takenNames), family: 'classification',
    error: columns.length === 0 ? `No fields found in ${fileName}: is it ${format === 'csv' ? 'a CSV file with a header row' : 'JSON Lines (one object per line)'}?` : null,
  };
}

/** The draft of rows fetched from a Hugging Face split; throws when there are none. */
export function hfDraft(source: { dataset: string; config: string; split: string; offset: number }, rows: HfRows, takenNames: Iterable<string> = []): ImportDraft {
  if (rows.rows.length === 0) throw new Error(`the split has no rows from offset ${source.offset}`);
  const columns = rows.features.length > 0 ? rows.features.map((f) => f.name) : objectColumns(rows.rows[0]);
  return {
    kind: 'hf', ...source, rows,
    columns, mapping: guessMapping(columns), name: freeTaskName(datasetName(source.dataset.split('/').pop() ?? source.dataset), takenNames),
    family: 'classification', error: null,
  };
}

/** The draft's rows mapped to examples of the named task, and where they came from; throws when it cannot map them. */
export function draftExamples(draft: ImportDraft, name: string): { examples: Example[]; errors: ImportError[]; origin: string } {
  const task = { name, family: draft.family };
  if (draft.kind === 'file') {
    return { ...importRows(draft.text, draft.format, fieldMapping(draft.mapping), task, draft.delimiter), origin: draft.fileName };
  }
  const names = classLabelNames(draft.rows.features, draft.mapping.answer);
  const result = mapRecords(hfRecords(draft.rows.rows, draft.offset), fieldMapping(draft.mapping, names), task);
  if (result.examples.length === 0) {
    const first = result.errors[0];
    throw new Error(`no valid examples in ${draft.rows.rows.length} rows${first ? ` (row ${first.row}: ${first.message})` : ''}`);
  }
  return { ...result, origin: `${draft.dataset} · ${draft.config} · ${draft.split}` };
}
