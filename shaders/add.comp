#version 450
/* add.comp: out = alpha * a + beta * b * gamma[c], c the index along the last dimension
 * (timm's residual add with optional layer scale). One element per invocation.
 *
 * Bindings: 0 a, 1 b, 2 gamma (any tensor when HAS_GAMMA = 0; never read), 3 out.
 * Push: n, C, alpha bits, beta bits. Specialization: 0 HAS_GAMMA. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint HAS_GAMMA = 0;

layout(std430, binding = 0) readonly buffer BufA { STORE_T a[]; };
layout(std430, binding = 1) readonly buffer BufB { STORE_T b[]; };
layout(std430, binding = 2) readonly buffer BufG { STORE_T gamma[]; };
layout(std430, binding = 3) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint n, C, alpha_bits, beta_bits; } p;

void main() {
  uint i = fv_group_id() * 256 + gl_LocalInvocationID.x;
  if (i >= p.n) return;
  float bv = fv_load(b[i]);
  if (HAS_GAMMA != 0) bv *= fv_load(gamma[i % p.C]);
  o[i] = fv_store(fv_float(p.alpha_bits) * fv_load(a[i]) + fv_float(p.beta_bits) * bv);
}
