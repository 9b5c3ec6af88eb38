#version 450
/* layernorm.comp: LayerNorm over the last dimension, one workgroup per row.
 *
 * out = (x - mean) / sqrt(var + eps) * gamma + beta. Two passes over the row (mean, then the
 * mean of squared deviations) rather than E[x^2] - mean^2, which cancels catastrophically
 * when |mean| >> std; the row is re-read from memory, which is cheap next to the barriers.
 * Reductions go through shared memory (portable: no subgroup features needed). The workgroup
 * size is specialization constant 0 and must be a power of two (the planner picks 64 on CPU
 * devices, 256 on GPUs).
 *
 * Bindings: 0 x, 1 gamma, 2 beta (any tensor when absent; never read), 3 out.
 * Push: rows, C, eps bits. Specialization: 0 WG, 1 HAS_GAMMA, 2 HAS_BETA. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint HAS_GAMMA = 0;
layout(constant_id = 2) const uint HAS_BETA = 0;

layout(std430, binding = 0) readonly buffer BufX { STORE_T x[]; };
layout(std430, binding = 1) readonly buffer BufG { STORE_T gamma[]; };
layout(std430, binding = 2) readonly buffer BufB { STORE_T beta[]; };
layout(std430, binding = 3) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint rows, C, eps_bits; } p;

shared float red[WG];

/* Sum of v over the workgroup; every invocation gets the result. */
float workgroup_sum(float v) {
  uint t = gl_LocalInvocationID.x;
  red[t] = v;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (t < s) red[t] += red[t + s];
    barrier();
  }
  float r = red[0];
  barrier(); /* red is reused by the next reduction */
  return r;
}

void main() {
  uint row = fv_group_id();
  if (row >= p.rows) return;
  uint t = gl_LocalInvocationID.x;
  uint base = row * p.C;

  float s = 0.0;
  for (uint c = t; c < p.C; c += WG) s += fv_load(x[base + c]);
  float mean = workgroup_sum(s) / float(p.C);

  float q = 0.0;
  for (uint c = t; c < p.C; c += WG) {
    float d = fv_load(x[base + c]) - mean;
    q += d * d;
  }
  float var = workgroup_sum(q) / float(p.C);
  float inv = 1.0 / sqrt(var + fv_float(p.eps_bits));

  for (uint c = t; c < p.C; c += WG) {
    float v = (fv_load(x[base + c]) - mean) * inv;
    if (HAS_GAMMA != 0) v *= fv_load(gamma[c]);
    if (HAS_BETA != 0) v += fv_load(beta[c]);
    o[base + c] = fv_store(v);
  }
}
