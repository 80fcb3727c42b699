import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, test } from 'vitest';
import { BUILTIN_TASK_INFO, defaultRunConfig } from '../store/run-setup';
import { createBlockers } from '../store/run-setup';
import { CreateRunForm, EstimateLine, TaskBuilderForm } from './TaskBuilder';

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

describe('memory settings', () => {
  test('recompute and the saved activations: f16 shown for a cached model, f32 for the embedded one, unless chosen', () => {
    const select = (html: string) => html.match(/<select[^>]*data-testid="activations"[^>]*>.*?<\/select>/)![0];
    const selected = (html: string) => select(html).match(/<option value="(f\d+)" selected=""/)![1];
    const embedded = renderToStaticMarkup(<TaskBuilderForm config={defaultRunConfig()} weights={{}} actions={actions} />);
    expect(selected(embedded)).toBe('f32');
    expect(embedded.match(/<input [^>]*data-testid="recompute"[^>]*>/)![0]).not.toContain('checked');
    const cached = { ...defaultRunConfig(), recompute: true, model: { source: 'cached' as const, id: 'm', name: 'm.gguf' } };
    const html = renderToStaticMarkup(<TaskBuilderForm config={cached} weights={{}} actions={actions} />);
    expect(selected(html)).toBe('f16');
    expect(html.match(/<input [^>]*data-testid="recompute"[^>]*>/)![0]).toContain('checked=""');
    expect(selected(renderToStaticMarkup(<TaskBuilderForm config={{ ...cached, activations: 'f32' }} weights={{}} actions={actions} />))).toBe('f32');
  });
});

describe('label renaming, quick demo and estimate', () => {
  test('the switch says why labels are renamed, and what unticking it does', () => {
    const on = renderToStaticMarkup(<TaskBuilderForm config={defaultRunConfig()} weights={{}} actions={actions} />);
    const box = (html: string) => html.match(/<input [^>]*data-testid="rename-labels"[^>]*>/)![0];
    expect(box(on)).toContain('checked=""');
    expect(on).toContain('(&quot;positive&quot; may be &quot;kite&quot;)');
    const off = renderToStaticMarkup(<TaskBuilderForm config={{ ...defaultRunConfig(), renameLabels: false }} weights={{}} actions={actions} />);
    expect(box(off)).not.toContain('checked');
    expect(off).toContain('The real labels are kept');
  });

  test('the quick demo states its size; the estimate says what it is based on', () => {
    const html = renderToStaticMarkup(
      <TaskBuilderForm config={defaultRunConfig()} weights={{}} actions={actions} quickDemo={{ software: true, onApply() {} }} estimate={{ ms: 150_000, basis: 'from run "x"' }} />,
    );
    expect(html).toContain('The embedded model, 8 steps of one context of 64 tokens: small, since this GPU is emulated on the CPU.');
    expect(html).toContain('<strong>Estimated duration: about 3 min</strong> (an estimate from run &quot;x&quot;).');
    expect(renderToStaticMarkup(<EstimateLine estimate={{ ms: null, basis: 'nothing measured' }} />)).toContain('No estimate of the duration yet: nothing measured.');
  });
});

describe('CreateRunForm', () => {
  const props = { name: '', placeholder: 'manyicl · full #1', warnings: [], configFileError: null, onName() {}, onCreate() {}, onStopRun() {}, onConfigFile() {} };
  const base = { check: { errors: [], warnings: [] }, tokenizerStatus: 'ready' as const, tokenizerError: null, model: defaultRunConfig().model, activeRun: null, noGpu: null };
  const buttons = (html: string) => ({
    start: /<button[^>]*disabled=""[^>]*data-testid="create-and-start"/.test(html) ? 'disabled' : 'enabled',
    create: /<button[^>]*disabled=""[^>]*data-testid="create-run"/.test(html) ? 'disabled' : 'enabled',
  });

  test('a paused run: Create works, Create and start explains and offers to stop it', () => {
    const html = renderToStaticMarkup(<CreateRunForm {...props} blockers={createBlockers({ ...base, activeRun: { id: 'r1', name: 'first', status: 'paused' } })} />);
    expect(buttons(html)).toEqual({ start: 'disabled', create: 'enabled' });
    expect(html).toContain('Run &quot;first&quot; is paused and still holds the GPU');
    expect(html).toMatch(/data-testid="stop-active-run">Stop &quot;first&quot;<\/button>/);
    // Not an error: a polite status, and no alert.
    expect(html).toMatch(/role="status" data-testid="start-blockers"><li>Run &quot;first&quot; is paused/);
    expect(html).not.toContain('role="alert"');
  });

  test('a model without a tokenizer blocks both, with the reason', () => {
    const html = renderToStaticMarkup(
      <CreateRunForm {...props} blockers={createBlockers({ ...base, tokenizerStatus: 'error', tokenizerError: 'no tokenizer.ggml.model', model: { source: 'cached', id: 'a', name: 'notok.gguf' } })} />,
    );
    expect(buttons(html)).toEqual({ start: 'disabled', create: 'disabled' });
    expect(html).toContain('notok.gguf has no usable tokenizer (no tokenizer.ggml.model)');
    expect(buttons(renderToStaticMarkup(<CreateRunForm {...props} blockers={[]} />))).toEqual({ start: 'enabled', create: 'enabled' });
  });
});
