import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, test } from 'vitest';
import { BUILTIN_TASK_INFO, defaultRunConfig } from '../store/run-setup';
import { TaskBuilderForm } from './TaskBuilder';

const actions = { setConfig() {}, setLora() {}, toggleLoraTarget() {}, toggleTask() {}, setTaskWeight() {} };

describe('TaskBuilderForm', () => {
  test('every built-in task has a checkbox and a weight; chosen ones are ticked', () => {
    const config = { ...defaultRunConfig(), tasks: [{ task: 'sentiment', weight: 1 }, { task: 'arithmetic', weight: 3 }] };
    const html = renderToStaticMarkup(<TaskBuilderForm config={config} weights={{ sentiment: 1, arithmetic: 3 }} actions={actions} />);
    for (const { name } of BUILTIN_TASK_INFO) expect(html).toContain(`data-testid="task-${name}"`);
    expect(html).toContain('type="checkbox" data-testid="task-sentiment" checked=""');
    expect(html).toContain('aria-label="share of arithmetic">75%<');
    expect(html).toMatch(/type="checkbox" data-testid="task-nli"/);
    expect(html).toContain('>Math</h3>');
    expect(html).toContain('>Natural language inference</h3>');
    expect(html).toContain('Weight of arithmetic');
    for (const o of ['manyicl', 'last-answer', 'zero-shot', 'dedicated']) expect(html).toContain(`value="${o}"`);
    for (const t of ['q', 'k', 'v', 'o', 'gate', 'up', 'down']) expect(html).toContain(`/>${t}</label>`);
    // Full mode: the LoRA settings are disabled.
    expect(html).toMatch(/<fieldset class="group" disabled=""[^>]*><legend>LoRA<\/legend>/);
  });

  test('labels every number input', () => {
    const html = renderToStaticMarkup(<TaskBuilderForm config={{ ...defaultRunConfig(), mode: 'lora' }} weights={{}} actions={actions} />);
    const inputs = html.match(/<input id="[^"]+"/g) ?? [];
    expect(inputs.length).toBeGreaterThan(8);
    for (const input of inputs) {
      const id = input.match(/id="([^"]+)"/)![1];
      expect(html).toContain(`for="${id}"`);
    }
  });
});
