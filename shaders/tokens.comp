#version 450
/* tokens.comp: token selection over x [B, T, E].
 * MEAN = 1: out[b, e] = mean of x[b, start .. start+count-1, e] (global average pooling);
 * MEAN = 0: out[b, t, e] = x[b, start + t, e] (class token, prefix tokens). One output
 * element per invocation; the mean sums in fp32 in token order.
 *
 * Bindings: 0 x, 1 out. Push: total, T, E, start, count. Specialization: 0 MEAN. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint MEAN = 0;

layout(std430, binding = 0) readonly buffer BufX { STORE_T x[]; };
layout(std430, binding = 1) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint total, T, E, start, count; } p;

void main() {
  uint i = fv_group_id() * 256 + gl_LocalInvocationID.x;
  if (i >= p.total) return;
  uint e = i % p.E, r = i / p.E;
  if (MEAN != 0) {
    uint base = (r * p.T + p.start) * p.E + e; /* r = b */
    float s = 0.0;
    for (uint t = 0; t < p.count; t++) s += fv_load(x[base + t * p.E]);
    o[i] = fv_store(s / float(p.count));
  } else {
    uint t = r % p.count, b = r / p.count;
    o[i] = x[(b * p.T + p.start + t) * p.E + e];
  }
}
