import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, test } from 'vitest';
import type { CachedModel } from '../model/sources/library';
import type { ModelTransfer } from '../store/models';
import { CachedModelList, type CachedModelListProps, describeOrigin } from './CachedModels';
import { ModelChoice } from './ModelPicker';
import { ModelSources, type ModelSourcesProps, formatEta, formatSpeed } from './ModelSources';

const GGUF: CachedModel = {
  id: 'url-1',
  name: 'tiny.Q4_K_M.gguf',
  origin: { kind: 'url', url: 'https://models.example.org/tiny/tiny.Q4_K_M.gguf' },
  format: 'gguf',
  weights: ['https://models.example.org/tiny/tiny.Q4_K_M.gguf'],
  bytes: 668_788_096,
  addedAt: new Date(2026, 1, 3, 14, 5).getTime(),
};

const SAFETENSORS: CachedModel = {
  id: 'hub-2',
  name: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0',
  origin: { kind: 'hub', repo: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0', revision: 'main' },
  format: 'safetensors',
  weights: ['w'],
  config: 'c',
  tokenizer: 't',
  bytes: 2_200_119_864,
  addedAt: new Date(2026, 1, 2, 9, 0).getTime(),
};

function renderList(props: Partial<CachedModelListProps> = {}): string {
  return renderToStaticMarkup(
    <CachedModelList
      models={[GGUF, SAFETENSORS]}
      loaded
      storage={{ usage: 2_900_000_000, quota: 60_000_000_000 }}
      chosen={{ source: 'embedded', id: 'manyicl-tiny' }}
      onUse={() => {}}
      onDelete={() => {}}
      {...props}
    />,
  );
}

const noActions: ModelSourcesProps['actions'] = {
  addFromHub: async () => null,
  addFromUrl: async () => null,
  addFromFiles: async () => null,
  cancel() {},
  setHubToken() {},
  forgetHubToken() {},
  dismiss() {},
};

function renderSources(props: Partial<ModelSourcesProps> = {}): string {
  return renderToStaticMarkup(<ModelSources transfer={null} error={null} notice={null} hubToken="" actions={noActions} {...props} />);
}

describe('ModelChoice', () => {
  test('the embedded model, trained checkpoints, and the slots for cached models and sources', () => {
    const html = renderToStaticMarkup(
      <ModelChoice
        model={{ source: 'embedded', id: 'manyicl-tiny' }}
        checkpoints={[{ runId: 'r1', name: 'base run', step: 200 }]}
        onChange={() => {}}
        cachedModels={<span data-testid="cached-slot" />}
        addModel={<span data-testid="sources-slot" />}
      />,
    );
    expect(html).toContain('checked="" value="embedded"');
    expect(html).toContain('first train it in full-parameter mode, then fine-tune with LoRA');
    expect(html).toContain('<option value="r1" selected="">base run · step 200</option>');
    expect(html).not.toContain('coming');
    expect(html).toMatch(/<span data-testid="cached-slot"><\/span><\/fieldset><span data-testid="sources-slot">/);
    const none = renderToStaticMarkup(<ModelChoice model={{ source: 'embedded', id: 'manyicl-tiny' }} checkpoints={[]} onChange={() => {}} />);
    expect(none).toContain('Appears once a full-parameter run has saved a checkpoint.');
    expect(none.match(/disabled=""/g)).toHaveLength(1);
  });
});

describe('CachedModelList', () => {
  test('lists name, format, size, origin and date, with the storage estimate above', () => {
    const html = renderList();
    expect(html).toContain('data-testid="storage-estimate">2.7 GiB used of 55.9 GiB<');
    expect(html.indexOf('storage-estimate')).toBeLessThan(html.indexOf('tiny.Q4_K_M.gguf'));
    expect(html).toMatch(/tiny\.Q4_K_M\.gguf<\/span> <span class="tag">GGUF<\/span>/);
    expect(html).toContain('<span data-testid="cached-model-size">638 MiB</span> · URL: models.example.org · added 2026-02-03 14:05');
    expect(html).toMatch(/TinyLlama\/TinyLlama-1\.1B-Chat-v1\.0<\/span> <span class="tag">safetensors<\/span>/);
    expect(html).toContain('<span data-testid="cached-model-size">2.0 GiB</span> · Hub: TinyLlama/TinyLlama-1.1B-Chat-v1.0 · added 2026-02-02 09:00');
    expect(html).toContain('aria-label="Delete tiny.Q4_K_M.gguf"');
    expect(html).toContain('aria-label="Use tiny.Q4_K_M.gguf"');
    expect(html).not.toMatch(/name="model"[^>]*checked/);
    // Quantize on load only for safetensors: GGUF weights are already quantized.
    expect(html.match(/Quantize on load/g)).toHaveLength(1);
    expect(html).toContain('<option value="Q8_0">Q8_0</option><option value="Q4_0">Q4_0</option>');
  });

  test('ticks the model in use with its quantization', () => {
    const html = renderList({ chosen: { source: 'cached', id: 'hub-2', name: SAFETENSORS.name, quantize: 'Q4_0' } });
    expect(html).toMatch(/<div class="choice cached-model checked" data-testid="cached-model" data-model-id="hub-2"><input type="radio"[^>]* checked=""/);
    expect(html.match(/checked=""/g)).toHaveLength(1);
    expect(html).toContain('<option value="Q4_0" selected="">Q4_0</option>');
  });

  test('empty, loading and unknown storage', () => {
    expect(renderList({ models: [] })).toContain('No models cached yet');
    expect(renderList({ loaded: false })).toContain('Reading the cached models');
    expect(renderList({ storage: null })).toContain('Storage use unknown');
  });

  test('describes origins', () => {
    expect(describeOrigin({ kind: 'hub', repo: 'a/b', revision: 'v2' })).toBe('Hub: a/b@v2');
    expect(describeOrigin({ kind: 'file', names: ['m.gguf'] })).toBe('local file m.gguf');
    expect(describeOrigin({ kind: 'file', names: ['a', 'b', 'c'] })).toBe('3 local files');
  });
});

describe('ModelSources', () => {
  const transfer: ModelTransfer = {
    label: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0',
    file: 'model.safetensors (3 of 3)',
    loaded: 512 * 1024 * 1024,
    total: 2 * 1024 * 1024 * 1024,
    bytesPerSecond: 25 * 1024 * 1024,
    etaSeconds: 61.4,
    cancel() {},
  };

  test('a transfer shows a progress bar with bytes, rate, time left, and a Cancel button', () => {
    const html = renderSources({ transfer });
    expect(html).toContain('<progress aria-label="Adding TinyLlama/TinyLlama-1.1B-Chat-v1.0" value="536870912" max="2147483648">');
    expect(html).toContain('model.safetensors (3 of 3)');
    expect(html).toMatch(/data-testid="transfer-facts"[^>]*>512 MiB of 2 GiB · 25 MiB\/s · 1 min 2 s left</);
    expect(html).toContain('data-testid="cancel-transfer">Cancel</button>');
    // The download buttons wait while one runs.
    expect(html).toMatch(/disabled="" data-testid="hub-download"/);
    expect(html).toMatch(/disabled="" data-testid="url-download"/);
  });

  test('before the sizes are known the bar is indeterminate', () => {
    const html = renderSources({ transfer: { ...transfer, file: '', loaded: 0, total: 0, bytesPerSecond: 0, etaSeconds: Infinity } });
    expect(html).toContain('<progress aria-label="Adding TinyLlama/TinyLlama-1.1B-Chat-v1.0">');
    expect(html).toContain('looking up the files…');
    expect(html).toContain('0 B of unknown · – /s · time left unknown');
  });

  test('the Hub, URL and file forms; errors and notices in plain words', () => {
    const html = renderSources({ error: 'Could not add m.gguf: the GGUF file not found', notice: 'ignored while an error shows' });
    expect(html).toContain('data-testid="hub-repo"');
    expect(html).toContain('value="main"');
    expect(html).toContain('data-testid="hub-file"');
    expect(html).toContain('type="password"');
    expect(html).toContain('Stored only on this device');
    expect(html).not.toContain('Forget the token');
    expect(html).toContain('data-testid="model-url"');
    expect(html).toContain('data-testid="model-drop-zone"');
    expect(html).toMatch(/type="file" multiple="" accept="\.gguf,\.safetensors,\.json"/);
    expect(html).toContain('role="alert" data-testid="model-error">Could not add m.gguf: the GGUF file not found');
    expect(html).not.toContain('ignored while an error shows');
    expect(renderSources({ notice: 'Added tiny.gguf.' })).toContain('data-testid="model-notice">Added tiny.gguf.<');
    expect(renderSources({ hubToken: 'hf_x' })).toContain('Forget the token');
  });

  test('rates and times left', () => {
    expect(formatSpeed(0)).toBe('– /s');
    expect(formatSpeed(1536)).toBe('1.5 KiB/s');
    expect(formatEta(Infinity)).toBe('time left unknown');
    expect(formatEta(0)).toBe('0 s left');
    expect(formatEta(58.2)).toBe('59 s left');
    expect(formatEta(60)).toBe('1 min 0 s left');
    expect(formatEta(3725)).toBe('1 h 2 min left');
  });
});
