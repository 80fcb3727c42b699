import { describe, expect, test } from 'vitest';
import { detectColumns, draftExamples, fileDraft, freeTaskName, guessMapping, hfDraft } from './import-draft';

describe('import drafts', () => {
  test('finds the fields of JSONL and CSV data and guesses a mapping', () => {
    expect(detectColumns('{"text": "a", "label": 1, "meta": {"src": "x"}}\nnot json\n{"text": "b", "extra": true}', 'jsonl')).toEqual([
      'text', 'label', 'meta.src', 'extra',
    ]);
    expect(detectColumns('question,answer\n"q, 1",a\n', 'csv')).toEqual(['question', 'answer']);
    expect(guessMapping(['id', 'sentence', 'label'])).toEqual({ input: ['sentence'], answer: 'label', id: '' });
    expect(guessMapping(['a', 'b'])).toEqual({ input: ['a'], answer: 'b', id: '' });
  });

  test('a file draft is named after its file and says when it has no fields', () => {
    expect(fileDraft('My Reviews.csv', 'text,label\ngood,pos\n')).toMatchObject({ kind: 'file', format: 'csv', name: 'my-reviews', error: null });
    expect(fileDraft('empty.jsonl', 'not json\n').error).toBe('No fields found in empty.jsonl: is it JSON Lines (one object per line)?');
  });

  test('a Hugging Face draft takes its fields from the features, else from the first row', () => {
    const rows = { rows: [{ q: 'a', a: 'b' }], numRowsTotal: 1, features: [], truncatedRows: [] };
    const draft = hfDraft({ dataset: 'org/qa-set', config: 'default', split: 'train', offset: 0 }, rows);
    expect(draft).toMatchObject({ kind: 'hf', name: 'qa-set', columns: ['q', 'a'], mapping: { input: ['q'], answer: 'a' } });
    expect(draftExamples(draft, 'qa-set')).toMatchObject({ origin: 'org/qa-set · default · train', examples: [{ input: 'a', answer: 'b' }] });
    expect(() => hfDraft({ dataset: 'org/x', config: 'default', split: 'train', offset: 5 }, { ...rows, rows: [] })).toThrow(/no rows from offset 5/);
  });
});

describe('file drafts of delimited files and free names', () => {
  test('a .csv with tabs and a .tsv are read by their separator; the name suggested is free', () => {
    const draft = fileDraft('sentiment.csv', 'sentence\tlabel\ngood\tpos\nbad\tneg\n', ['sentiment', 'sentiment-2']);
    expect(draft).toMatchObject({ kind: 'file', format: 'csv', delimiter: '\t', columns: ['sentence', 'label'], name: 'sentiment-3', error: null });
    expect(draftExamples(draft, draft.name).examples.map((e) => e.answer)).toEqual(['pos', 'neg']);
    expect(fileDraft('data.tsv', 'q\ta\nx\ty\n')).toMatchObject({ format: 'csv', delimiter: '\t', columns: ['q', 'a'], name: 'data' });
    expect(freeTaskName('nli', ['sentiment'])).toBe('nli');
    expect(freeTaskName('nli', ['nli', 'nli-2', 'nli-4'])).toBe('nli-3');
  });
});
