// One AdamW step (torch.optim.AdamW) over a flat buffer of parameters, one element per thread:
//   g = grad * grad_scale[1]                       (the clip coefficient from grad_norm.wgsl)
//   param *= 1 - lr * weight_decay
//   m = lerp(m, g, 1 - beta1)                      (PyTorch's exp_avg.lerp_: m + (1 - beta1) * (g - m))
//   v = beta2 * v + (1 - beta2) * g^2
//   param -= step_size * m / (sqrt(v) / sqrt(1 - beta2^t) + eps),   step_size = lr / (1 - beta1^t)
// Scalars that depend on the step are computed on the CPU in float64.

struct Params {
  count: u32,
  decay: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  step_size: f32,
  bias_correction2_sqrt: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<f32>;
@group(0) @binding(5) var<storage, read> grad_scale: array<f32>;

const WORKGROUP: u32 = 256u;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * groups.x + wg.x) * WORKGROUP + li;
  if (i >= p.count) { return; }
  let g = grad[i] * grad_scale[1];
  let m_old = exp_avg[i];
  let m = m_old + p.one_minus_beta1 * (g - m_old);
  let v = exp_avg_sq[i] * p.beta2 + p.one_minus_beta2 * g * g;
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  let denom = sqrt(v) / p.bias_correction2_sqrt + p.eps;
  param[i] = param[i] * p.decay - p.step_size * (m / denom);
}
