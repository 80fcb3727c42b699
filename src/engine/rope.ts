// Rotary position embedding frequencies, as HF transformers computes them (in float32).
import type { RopeScaling } from './spec';

/**
 * inv_freq[i] for i < headDim / 2, with optional linear or Llama 3 scaling.
 * Default: 1 / theta^(2i / headDim); PyTorch rounds the exponent, the power and the reciprocal to f32.
 */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling | null): Float32Array {
  if (headDim <= 0 || headDim % 2 !== 0) throw new Error(`RoPE head dimension must be even, got ${headDim}`);
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const exponent = Math.fround((2 * i) / headDim);
    const power = Math.fround(theta ** exponent);
    invFreq[i] = 1 / power;
  }
  if (!scaling) return invFreq;
  switch (scaling.type) {
    case 'linear':
      for (let i = 0; i < half; i++) invFreq[i] = invFreq[i] / scaling.factor;
      return invFreq;
    case 'llama3':
      return llama3Scaled(invFreq, scaling);
  }
}

/**
 * Llama 3.1 scaling: long wavelengths are slowed down by `factor`, short ones kept, and the band between
 * the two wavelength thresholds blends both.
 */
function llama3Scaled(invFreq: Float32Array, scaling: Extract<RopeScaling, { type: 'llama3' }>): Float32Array {
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: originalMax } = scaling;
  const lowFreqWavelen = originalMax / lowFreqFactor;
  const highFreqWavelen = originalMax / highFreqFactor;
  const out = new Float32Array(invFreq.length);
  for (let i = 0; i < invFreq.length; i++) {
    const freq = invFreq[i];
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen > lowFreqWavelen) {
      out[i] = freq / factor;
    } else if (wavelen < highFreqWavelen) {
      out[i] = freq;
    } else {
      const smooth = (originalMax / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      out[i] = ((1 - smooth) * freq) / factor + smooth * freq;
    }
  }
  return out;
}
