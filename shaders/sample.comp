#version 450
/* sample.comp: FV_OP_SAMPLE, one invocation per output value (engine/graph.h):
 * out[b, y, x, c] = scale * sum_l bilinear(in[b], ay_l*y + by_l, ax_l*x + bx_l, c), the rows
 * (ay, by, ax, bx) read from the weight buffer, in fp32 in fv_ref_sample's order.
 *
 * Bindings: 0 image [B, H, W, C], 1 table [L, 4], 2 out [B, OH, OW, C].
 * Push: total, H, W, C, OH, OW, L, scale (float bits). Specialization: 0 BORDER. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint BORDER = 0;

layout(std430, binding = 0) readonly buffer BufIn { STORE_T img[]; };
layout(std430, binding = 1) readonly buffer BufT { STORE_T table[]; };
layout(std430, binding = 2) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint total, H, W, C, OH, OW, L, scale; } p;

float fv_src(uint idx) { return fv_load(img[idx]); }
#include "common/image.glsl"

void main() {
  uint i = fv_group_id() * 256 + gl_LocalInvocationID.x;
  if (i >= p.total) return;
  uint c = i % p.C, r = i / p.C;
  uint x = r % p.OW;
  r /= p.OW;
  uint y = r % p.OH, b = r / p.OH;
  uint base = b * p.H * p.W * p.C + c;
  precise float acc = 0.0;
  for (uint l = 0; l < p.L; l++) {
    precise float cy = fv_load(table[4 * l]) * float(y) + fv_load(table[4 * l + 1]);
    precise float cx = fv_load(table[4 * l + 2]) * float(x) + fv_load(table[4 * l + 3]);
    acc += fv_bilinear(base, p.H, p.W, p.C, cy, cx, BORDER);
  }
  precise float v = fv_float(p.scale) * acc;
  o[i] = fv_store(v);
}
