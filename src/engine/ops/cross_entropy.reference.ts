// CPU reference of kernels/cross_entropy.wgsl (with the LM-head matmuls around it) in float64, shared by its
// test and the kernel benchmark.

export interface CrossEntropyProblem {
  rows: number;
  dim: number;
  vocab: number;
  /** f32 [rows, dim] */
  hidden: Float32Array;
  /** f32 [vocab, dim]: the LM head. */
  weight: Float32Array;
  /** Distinct rows of hidden, one per target. */
  targetRows: Uint32Array;
  targetLabels: Uint32Array;
  /** dLoss/dtokenLoss of each target. */
  targetWeights: Float32Array;
}

/**
 * Per-target loss logsumexp(logits) - logits[label], and the gradients of sum_p targetWeights[p] loss[p]:
 * dHidden (zero outside target rows) and dWeight of the LM head.
 */
export function crossEntropyRef(pr: CrossEntropyProblem, hidden: ArrayLike<number> = pr.hidden) {
  const { dim, vocab, weight } = pr;
  const loss = new Float64Array(pr.targetRows.length);
  const dHidden = new Float64Array(pr.rows * dim);
  const dWeight = new Float64Array(vocab * dim);
  const logits = new Float64Array(vocab);
  pr.targetRows.forEach((row, p) => {
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) {
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += weight[v * dim + d] * hidden[row * dim + d];
      logits[v] = sum;
      max = Math.max(max, sum);
    }
    let sumExp = 0;
    for (let v = 0; v < vocab; v++) sumExp += Math.exp(logits[v] - max);
    const lse = max + Math.log(sumExp);
    loss[p] = lse - logits[pr.targetLabels[p]];
    for (let v = 0; v < vocab; v++) {
      const g = (Math.exp(logits[v] - lse) - (v === pr.targetLabels[p] ? 1 : 0)) * pr.targetWeights[p];
      for (let d = 0; d < dim; d++) {
        dHidden[row * dim + d] += g * weight[v * dim + d];
        dWeight[v * dim + d] += g * hidden[row * dim + d];
      }
    }
  });
  return { loss, dHidden, dWeight };
}

/** logits [rows, vocab] = hidden [rows, dim] weight^T. */
export function lmHeadLogitsRef(hidden: ArrayLike<number>, weight: ArrayLike<number>, rows: number, dim: number, vocab: number): Float64Array {
  const logits = new Float64Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < vocab; c++) {
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += hidden[r * dim + d] * weight[c * dim + d];
      logits[r * vocab + c] = sum;
    }
  }
  return logits;
}
