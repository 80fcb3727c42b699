// For GPU tests: the embedded model's tokenizer and architecture, narrower and shallower, so that SwiftShader
// trains it in seconds a step.
import { EMBEDDED_SPEC, makeEmbeddedModel } from '../model/embedded';
import { loadModelFolder } from '../model/load';
import { tensorsOf } from '../model/safetensors';
import type { HostBaseModel } from './session';

export async function smallEmbeddedModel(seed = 7): Promise<HostBaseModel> {
  const spec = { ...EMBEDDED_SPEC, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 16 };
  const files = makeEmbeddedModel(seed, spec);
  const folder = await loadModelFolder(async (name) => files.get(name)!);
  return {
    spec: folder.spec,
    tokenizer: folder.tokenizer,
    tensors: tensorsOf(folder.weights),
  };
}
