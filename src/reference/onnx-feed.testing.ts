// One pass through an onnxruntime (node or web) session of an exported decoder, fed as transformers.js feeds it.
// No engine imports: the e2e tests (plain Node, no WGSL) use it too.
import type { ModelSpec } from '../engine/spec';

/** The parts of an onnxruntime (node or web) session and tensor a decoder pass uses. */
export interface OrtTensorLike {
  readonly dims: readonly number[];
  readonly data: unknown;
}
export interface OrtSessionLike {
  run(feeds: Record<string, OrtTensorLike>): Promise<Record<string, OrtTensorLike>>;
}
export type MakeTensor = (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: number[]) => OrtTensorLike;

export interface DecoderStep {
  /** [B, S] logits rows, [B * S * V]. */
  logits: Float32Array;
  present: Record<string, OrtTensorLike>;
}

/**
 * One pass of rows `ids` (all the same length S) whose masks cover the cache and the new tokens ([B, P + S]),
 * with positions as transformers.js makes them: cumsum(mask) - 1, 1 where masked.
 */
export async function decoderPass(
  session: OrtSessionLike, make: MakeTensor, spec: ModelSpec, ids: number[][], mask: number[][], past: Record<string, OrtTensorLike> | null,
): Promise<DecoderStep> {
  const B = ids.length;
  const S = ids[0].length;
  const T = mask[0].length;
  const positions = mask.map((row) => {
    let seen = 0;
    return row.map((v) => (v === 1 ? seen++ : 1)).slice(T - S);
  });
  const int64 = (rows: number[][]) => make('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
  const feeds: Record<string, OrtTensorLike> = { input_ids: int64(ids), attention_mask: int64(mask), position_ids: int64(positions) };
  for (let l = 0; l < spec.numLayers; l++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_key_values.${l}.${kind}`] = past?.[`present.${l}.${kind}`] ?? make('float32', new Float32Array(0), [B, spec.numKvHeads, 0, spec.headDim]);
    }
  }
  const out = await session.run(feeds);
  return { logits: out.logits.data as Float32Array, present: out };
}
