#version 450
/* softmax.comp: softmax over the last dimension, one workgroup per row.
 *
 * Max-subtracted for range safety: out = exp(x - max) / sum exp(x - max), three passes over
 * the row (max, sum, write). Shared-memory reductions, workgroup size = specialization
 * constant 0 (a power of two). Attention does not use this kernel: it has its own online
 * softmax and never materialises the score matrix.
 *
 * Bindings: 0 x, 1 out. Push: rows, C. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

layout(std430, binding = 0) readonly buffer BufX { STORE_T x[]; };
layout(std430, binding = 1) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint rows, C; } p;

shared float red[WG];

/* op 0: sum, op 1: max; every invocation gets the result. */
float workgroup_reduce(float v, uint op) {
  uint t = gl_LocalInvocationID.x;
  red[t] = v;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (t < s) red[t] = op == 0 ? red[t] + red[t + s] : max(red[t], red[t + s]);
    barrier();
  }
  float r = red[0];
  barrier();
  return r;
}

void main() {
  uint row = fv_group_id();
  if (row >= p.rows) return;
  uint t = gl_LocalInvocationID.x;
  uint base = row * p.C;

  float m = -3.402823466e38;
  for (uint c = t; c < p.C; c += WG) m = max(m, fv_load(x[base + c]));
  m = workgroup_reduce(m, 1);

  float s = 0.0;
  for (uint c = t; c < p.C; c += WG) s += exp(fv_load(x[base + c]) - m);
  float inv = 1.0 / workgroup_reduce(s, 0);

  for (uint c = t; c < p.C; c += WG) o[base + c] = fv_store(exp(fv_load(x[base + c]) - m) * inv);
}
