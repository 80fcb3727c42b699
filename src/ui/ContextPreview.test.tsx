import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, test } from 'vitest';
import { selectPreview } from '../store/run-setup';
import { testRunSetupStore } from '../store/run-setup.testing';
import { ContextPreviewView } from './ContextPreview';

async function render(objective: 'manyicl' | 'last-answer') {
  const { store } = testRunSetupStore();
  store.getState().loadConfig({ ...store.getState().config, objective, contextLength: 160, tasks: [{ task: 'sentiment', weight: 1 }] });
  await store.getState().loadTokenizer();
  const { preview, message } = selectPreview(store.getState());
  if (!preview) throw new Error(`no preview: ${message}`);
  return { preview, html: renderToStaticMarkup(<ContextPreviewView preview={preview} message={null} index={0} onIndex={() => {}} />) };
}

describe('ContextPreviewView', () => {
  test('renders the context with every answer marked as a target, with its shot', async () => {
    const { preview, html } = await render('manyicl');
    expect(html).toContain('data-testid="context-preview"');
    const targets = html.match(/data-target="true"/g) ?? [];
    expect(targets.length).toBe(preview.shots);
    expect(html).toContain('title="answer of shot 1"');
    expect(html).toContain('title="shot 1"');
    expect(html).toMatch(/data-target="true" data-shot="0" title="answer of shot 1"> [a-z]+↵\n<\/mark>/);
    expect(html).toContain(`${preview.shots} shots`);
  });

  test('last-answer: only the final answer is trained; the others are watched', async () => {
    const { preview, html } = await render('last-answer');
    expect(html.match(/data-target="true"/g)).toHaveLength(1);
    expect(html.match(/data-target="watched"/g)).toHaveLength(preview.shots - 1);
  });

  test('shows why there is no preview', () => {
    const html = renderToStaticMarkup(<ContextPreviewView preview={null} message="no task sources" index={2} onIndex={() => {}} />);
    expect(html).toContain('no task sources');
    expect(html).toContain('#3');
    expect(html).not.toContain('data-testid="context-preview"');
  });
});

describe('label renaming in the preview', () => {
  test('says which labels are renamed in this context and why; nothing when the real labels are kept', async () => {
    const { html } = await render('manyicl');
    expect(html).toContain('data-testid="label-renaming"');
    expect(html).toMatch(/sentiment: (negative|positive) → [a-z]+, (negative|positive) → [a-z]+/);
    expect(html).toContain('The data is not broken');
    const { store } = testRunSetupStore();
    store.getState().loadConfig({ ...store.getState().config, contextLength: 160, tasks: [{ task: 'sentiment', weight: 1 }], renameLabels: false });
    await store.getState().loadTokenizer();
    const { preview } = selectPreview(store.getState());
    const kept = renderToStaticMarkup(<ContextPreviewView preview={preview} message={null} index={0} onIndex={() => {}} />);
    expect(kept).not.toContain('label-renaming');
    expect(kept).toMatch(/> (positive|negative)↵/);
  });
});
