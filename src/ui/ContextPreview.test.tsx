import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, test } from 'vitest';
import { charTokenizer } from '../data/tokenizer';
import { buildPreview } from '../store/run-setup';
import { defaultRunConfig } from '../train/run-config';
import { ContextPreviewView } from './ContextPreview';

const tokenizer = charTokenizer();

function render(objective: 'manyicl' | 'last-answer') {
  const config = { ...defaultRunConfig(), objective, contextLength: 160, tasks: [{ task: 'sentiment', weight: 1 }] };
  const preview = buildPreview(config, [], tokenizer, 0);
  return { preview, html: renderToStaticMarkup(<ContextPreviewView preview={preview} message={null} index={0} onIndex={() => {}} />) };
}

describe('ContextPreviewView', () => {
  test('renders the context with every answer marked as a target, with its shot', () => {
    const { preview, html } = render('manyicl');
    expect(html).toContain('data-testid="context-preview"');
    const targets = html.match(/data-target="true"/g) ?? [];
    expect(targets.length).toBe(preview.shots);
    expect(html).toContain('title="answer of shot 1"');
    expect(html).toContain('title="shot 1"');
    expect(html).toMatch(/data-target="true" data-shot="0" title="answer of shot 1"> [a-z]+↵\n<\/mark>/);
    expect(html).toContain(`${preview.shots} shots`);
  });

  test('last-answer: only the final answer is trained; the others are watched', () => {
    const { preview, html } = render('last-answer');
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
