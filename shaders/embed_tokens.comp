#version 450
/* embed_tokens.comp: assembles the token sequence (timm _pos_embed).
 * out[b, t] = (t < P ? prefix[t] : patches[b, t - P]) + pos[t - pos_offset] when
 * t >= pos_offset (and a positional table exists). One output element per invocation.
 *
 * Bindings: 0 patches [B, T-P, E], 1 prefix [P, E], 2 pos [L, E], 3 out [B, T, E]; an absent
 * prefix or pos is bound to any tensor and never read.
 * Push: total, T, E, P, pos_offset. Specialization: 0 HAS_POS (P = 0 means no prefix). */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint HAS_POS = 0;

layout(std430, binding = 0) readonly buffer BufX { STORE_T patches[]; };
layout(std430, binding = 1) readonly buffer BufP { STORE_T prefix[]; };
layout(std430, binding = 2) readonly buffer BufPos { STORE_T pos[]; };
layout(std430, binding = 3) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint total, T, E, P, pos_offset; } p;

void main() {
  uint i = fv_group_id() * 256 + gl_LocalInvocationID.x;
  if (i >= p.total) return;
  uint e = i % p.E, bt = i / p.E;
  uint t = bt % p.T, b = bt / p.T;
  float v = t < p.P ? fv_load(prefix[t * p.E + e]) : fv_load(patches[(b * (p.T - p.P) + t - p.P) * p.E + e]);
  if (HAS_POS != 0 && t >= p.pos_offset) v += fv_load(pos[(t - p.pos_offset) * p.E + e]);
  o[i] = fv_store(v);
}
