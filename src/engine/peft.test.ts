import { describe, expect, it } from 'vitest';
import {
  adapterConfigJson,
  type LoraConfig,
  loraScaling,
  loraTensorShapes,
  parseAdapterConfig,
  peftKey,
} from './peft';
import { LORA_TARGETS } from './spec';
import { loadReferenceCase } from '../reference/case';
import { REFERENCE_CASES, caseReader, readFixtureJson } from '../testdata/cases.testing';

/** The essentials of what PEFT 0.21 writes for a plain LoRA. */
const plainAdapter = {
  peft_type: 'LORA',
  r: 8,
  lora_alpha: 16,
  target_modules: ['q_proj', 'v_proj'],
  lora_dropout: 0.05,
  bias: 'none',
  fan_in_fan_out: false,
  use_dora: false,
  use_rslora: false,
  rank_pattern: {},
  alpha_pattern: {},
  layers_to_transform: null,
  layers_pattern: null,
  modules_to_save: null,
  task_type: 'CAUSAL_LM',
};

describe('peft keys and scaling', () => {
  it('names tensors the way PEFT saves them', () => {
    expect(peftKey(0, 'q_proj', 'A')).toBe('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(peftKey(11, 'o_proj', 'B')).toBe('base_model.model.model.layers.11.self_attn.o_proj.lora_B.weight');
    expect(peftKey(3, 'down_proj', 'B')).toBe('base_model.model.model.layers.3.mlp.down_proj.lora_B.weight');
    expect(peftKey(1, 'gate_proj', 'A')).toBe('base_model.model.model.layers.1.mlp.gate_proj.lora_A.weight');
  });

  it('scales by alpha / r, or alpha / sqrt(r) with rsLoRA', () => {
    expect(loraScaling({ rank: 4, alpha: 8, targets: ['q_proj'] })).toBe(2);
    expect(loraScaling({ rank: 16, alpha: 8, targets: ['q_proj'], useRslora: true })).toBe(2);
  });
});

describe('parseAdapterConfig', () => {
  it('reads a plain LoRA, targets in LORA_TARGETS order', () => {
    const cfg = parseAdapterConfig({ ...plainAdapter, target_modules: ['v_proj', 'mlp.down_proj', 'q_proj', 'v_proj'] });
    expect(cfg).toEqual({ rank: 8, alpha: 16, targets: ['q_proj', 'v_proj', 'down_proj'], useRslora: false });
    expect(parseAdapterConfig({ ...plainAdapter, target_modules: 'all-linear' }).targets).toEqual([...LORA_TARGETS]);
    expect(parseAdapterConfig({ ...plainAdapter, use_rslora: true }).useRslora).toBe(true);
  });

  it('round-trips what adapterConfigJson writes', () => {
    const cfg: LoraConfig = { rank: 16, alpha: 32, targets: ['q_proj', 'k_proj', 'up_proj'], useRslora: true };
    const json = adapterConfigJson(cfg, 'meta-llama/Llama-3.2-1B');
    expect(json).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 16,
      lora_alpha: 32,
      target_modules: ['q_proj', 'k_proj', 'up_proj'],
      lora_dropout: 0,
      bias: 'none',
      inference_mode: true,
      use_rslora: true,
      use_dora: false,
      base_model_name_or_path: 'meta-llama/Llama-3.2-1B',
    });
    expect(parseAdapterConfig(JSON.parse(JSON.stringify(json)))).toEqual(cfg);
    expect(adapterConfigJson({ rank: 4, alpha: 8, targets: ['v_proj'] })).toMatchObject({
      base_model_name_or_path: null,
      use_rslora: false,
    });
  });

  it('names unsupported options', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ use_dora: true }, /use_dora = true is not supported/],
      [{ rank_pattern: { 'model.layers.0.self_attn.q_proj': 4 } }, /rank_pattern/],
      [{ alpha_pattern: { q_proj: 4 } }, /alpha_pattern/],
      [{ layers_to_transform: [0, 1] }, /layers_to_transform/],
      [{ layers_to_transform: 3 }, /layers_to_transform = 3/],
      [{ bias: 'lora_only' }, /bias = "lora_only" is not supported/],
      [{ modules_to_save: ['lm_head'] }, /modules_to_save/],
      [{ fan_in_fan_out: true }, /fan_in_fan_out/],
      [{ lora_bias: true }, /lora_bias/],
      [{ peft_type: 'IA3' }, /peft_type must be "LORA", got "IA3"/],
      [{ r: 0 }, /r must be a positive integer/],
      [{ lora_alpha: undefined }, /lora_alpha must be a positive number/],
      [{ target_modules: ['q_proj', 'lm_head'] }, /unsupported target module "lm_head"/],
      [{ target_modules: 'mlp.0.q_proj' }, /regular expression/],
      [{ target_modules: [] }, /non-empty list/],
    ];
    for (const [change, message] of cases) {
      expect(() => parseAdapterConfig({ ...plainAdapter, ...change }), JSON.stringify(change)).toThrow(message);
    }
    expect(() => parseAdapterConfig(null)).toThrow(/not a JSON object/);
  });
});

describe('fixture adapters', () => {
  for (const name of REFERENCE_CASES) {
    it(`${name}: loraTensorShapes matches adapter_model.safetensors exactly`, async () => {
      const { spec, lora } = await loadReferenceCase(caseReader(`reference/${name}`));
      const cfg = parseAdapterConfig(await readFixtureJson(`reference/${name}/adapter_config.json`));
      expect(cfg).toEqual({ rank: 4, alpha: 8, targets: [...LORA_TARGETS], useRslora: false });
      expect(loraScaling(cfg)).toBe(2);

      const adapter = lora.tensors;
      const shapes = loraTensorShapes(spec, cfg);
      expect(shapes.length).toBe(spec.numLayers * LORA_TARGETS.length * 2);
      for (const { key, shape } of shapes) {
        expect(adapter.has(key), key).toBe(true);
        expect(adapter.info(key).shape, key).toEqual(shape);
      }
      expect(new Set(shapes.map((s) => s.key))).toEqual(new Set(adapter.header.tensors.keys()));
    });
  }

  it('orders tensors by layer, then target, A before B', async () => {
    const { spec } = await loadReferenceCase(caseReader('reference/llama3-tiny'));
    const shapes = loraTensorShapes(spec, { rank: 2, alpha: 4, targets: ['k_proj', 'down_proj'] });
    expect(shapes.map((s) => [s.layer, s.target, s.which, s.shape])).toEqual([
      [0, 'k_proj', 'A', [2, 96]],
      [0, 'k_proj', 'B', [32, 2]],
      [0, 'down_proj', 'A', [2, 256]],
      [0, 'down_proj', 'B', [96, 2]],
      [1, 'k_proj', 'A', [2, 96]],
      [1, 'k_proj', 'B', [32, 2]],
      [1, 'down_proj', 'A', [2, 256]],
      [1, 'down_proj', 'B', [96, 2]],
    ]);
  });
});
