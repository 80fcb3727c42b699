import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, test } from 'vitest';
import { testRunSetupStore } from '../store/run-setup.testing';
import { ImportView, type ImportViewProps } from './ImportPanel';

function storeWith(text: string) {
  const { store } = testRunSetupStore({
    fetchTokenizer: async () => {
      throw new Error('unused');
    },
    cachedTokenizer: async () => {
      throw new Error('unused');
    },
    embeddedModelUrl: () => '',
  });
  store.getState().openFile('reviews.jsonl', text);
  return store;
}

function render(state: ReturnType<ReturnType<typeof storeWith>['getState']>) {
  const props: ImportViewProps = { imports: state.imports, draft: state.draft, hfForm: state.hfForm, hfStatus: state.hfStatus, hfError: state.hfError, actions: state };
  return renderToStaticMarkup(<ImportView {...props} />);
}

describe('ImportView', () => {
  test('the file and Hugging Face forms', () => {
    const store = storeWith('');
    store.getState().cancelDraft();
    const html = render(store.getState());
    expect(html).toContain('data-testid="import-file"');
    expect(html).toContain('data-testid="hf-dataset"');
  });

  test('the field mapping of an upload', () => {
    const html = render(storeWith('{"text": "good", "label": "pos", "id": "a"}\n').getState());
    expect(html).toContain('data-testid="import-draft"');
    expect(html).toContain('reviews.jsonl · JSONL');
    expect(html).toMatch(/<input type="checkbox" checked=""\/>text<\/label>/);
    expect(html).toMatch(/<option value="label" selected="">label<\/option>/);
  });

  test('an imported dataset with its rows left out', () => {
    const store = storeWith('{"text": "good", "label": "pos"}\n{"text": "no label"}\n');
    store.getState().commitDraft();
    const html = render(store.getState());
    expect(html).toContain('1 examples · reviews.jsonl');
    expect(html).toContain('data-testid="import-errors"');
    expect(html).toContain('1 row left out');
    expect(html).toMatch(/row 2<\/span> missing answer field &#x27;label&#x27;/);
  });
});
