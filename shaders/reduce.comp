#version 450
/* reduce.comp: FV_OP_REDUCE, one workgroup per (image, channel): each invocation folds a strided
 * share of the H*W values, then a shared-memory tree (fixed order: deterministic) combines the
 * 256 partials. Mean = fp32 tree sum / (H*W); the C reference sums in double, so the two agree
 * to rounding (about 1e-6 relative), not bit for bit. Max is exact.
 *
 * Bindings: 0 image [B, H, W, C], 1 out [B, C]. Push: groups (B*C), HW, C.
 * Specialization: 0 MAX (0 mean, 1 max). */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint MAX = 0;

layout(std430, binding = 0) readonly buffer BufIn { STORE_T img[]; };
layout(std430, binding = 1) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint groups, HW, C; } p;

shared float part[256];

float combine(float a, float b) { return MAX != 0 ? max(a, b) : a + b; }

void main() {
  uint g = fv_group_id(); /* the same for the whole workgroup: the return below is uniform */
  if (g >= p.groups) return;
  uint lid = gl_LocalInvocationID.x;
  uint b = g / p.C, c = g % p.C;
  float acc = MAX != 0 ? uintBitsToFloat(0xFF800000u) : 0.0; /* -inf: the identity of max */
  for (uint k = lid; k < p.HW; k += 256) acc = combine(acc, fv_load(img[(b * p.HW + k) * p.C + c]));
  part[lid] = acc;
  barrier();
  for (uint s = 128; s > 0; s >>= 1) {
    if (lid < s) part[lid] = combine(part[lid], part[lid + s]);
    barrier();
  }
  if (lid == 0) o[g] = fv_store(MAX != 0 ? part[0] : part[0] / float(p.HW));
}
