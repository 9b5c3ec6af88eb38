#version 450
/* random.comp: FV_OP_RANDOM (engine/graph.h): value i of image b = i / per_image draws at index
 * i % per_image from the Philox stream keyed by (seed, keys[b]), as fv_ref_random does.
 * Uniform: a + (b - a) u; normal: a + b N(0, 1). One invocation per VB = 8 consecutive values:
 * one division, then counting (CPU devices divide vectors lane by lane).
 *
 * Bindings: 0 keys [B] (uint words), 1 out. Push: total, per_image, a, b (float bits), seed,
 * corruption, severity, stream. Specialization: 0 NORMAL (0 uniform, 1 normal). */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"
#include "common/philox.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint NORMAL = 0;
const uint VB = 8; /* consecutive values per invocation */

layout(std430, binding = 0) readonly buffer BufK { uint keys[]; };
layout(std430, binding = 1) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint total, per_image, a, b, seed, corruption, severity, stream; } p;

void main() {
  uint i0 = (fv_group_id() * 256 + gl_LocalInvocationID.x) * VB;
  if (i0 >= p.total) return;
  uint img = i0 / p.per_image, idx = i0 % p.per_image; /* then counted on */
  float a = fv_float(p.a), b = fv_float(p.b);
  for (uint k = 0; k < VB && i0 + k < p.total; k++) {
    fv_rng r = fv_rng(p.seed, keys[img], p.corruption, p.severity, p.stream);
    precise float v;
    if (NORMAL != 0)
      v = a + b * fv_rng_normal(r, idx);
    else
      v = a + (b - a) * fv_rng_uniform(r, idx);
    o[i0 + k] = fv_store(v);
    if (++idx == p.per_image) idx = 0, img++;
  }
}
