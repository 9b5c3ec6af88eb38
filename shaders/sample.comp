#version 450
/* sample.comp: FV_OP_SAMPLE (engine/graph.h):
 * out[b, y, x, c] = scale * sum_l bilinear(in[b], ay_l*y + by_l, ax_l*x + bx_l, c), the rows
 * (ay, by, ax, bx) read from the weight buffer, in fp32 in fv_ref_sample's order.
 * One invocation per run of XB = 4 output pixels along x and group of CPI channels (CPI = C when
 * C <= 4, else 1; a specialization constant): each layer's row setup (border rule, weight) is
 * shared by the run, each column's by its channels.
 *
 * Bindings: 0 image [B, H, W, C], 1 table [L, 4], 2 out [B, OH, OW, C].
 * Push: total (runs x channel groups), H, W, C, OH, OW, L, scale (float bits).
 * Specialization: 0 BORDER, 1 CPI. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint BORDER = 0;
layout(constant_id = 1) const uint CPI = 1;
const uint XB = 4; /* output pixels along x per invocation */

layout(std430, binding = 0) readonly buffer BufIn { STORE_T img[]; };
layout(std430, binding = 1) readonly buffer BufT { STORE_T table[]; };
layout(std430, binding = 2) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint total, H, W, C, OH, OW, L, scale; } p;

float fv_src(uint idx) { return fv_load(img[idx]); }
#include "common/image.glsl"

void main() {
  uint i = fv_group_id() * 256 + gl_LocalInvocationID.x;
  if (i >= p.total) return;
  uint groups = p.C / CPI, blocks = (p.OW + XB - 1) / XB; /* CPI divides C: C itself or 1 */
  uint g = i % groups, r = i / groups;
  uint x0 = (r % blocks) * XB;
  r /= blocks;
  uint y = r % p.OH, b = r / p.OH;
  uint base = b * p.H * p.W * p.C + g * CPI;
  precise float acc[XB * CPI];
  for (uint k = 0; k < XB * CPI; k++) acc[k] = 0.0;
  for (uint l = 0; l < p.L; l++) {
    precise float cy = fv_load(table[4 * l]) * float(y) + fv_load(table[4 * l + 1]);
    fv_axis ay = fv_axis_at(cy, int(p.H), BORDER);
    float ax_a = fv_load(table[4 * l + 2]), ax_b = fv_load(table[4 * l + 3]);
    for (uint j = 0; j < XB; j++) {
      precise float cx = ax_a * float(x0 + j) + ax_b;
      fv_axis ax = fv_axis_at(cx, int(p.W), BORDER);
      for (uint k = 0; k < CPI; k++) acc[j * CPI + k] += fv_bilinear_at(base + k, ay, ax, p.W, p.C, BORDER);
    }
  }
  for (uint j = 0; j < XB && x0 + j < p.OW; j++) {
    uint dst = ((b * p.OH + y) * p.OW + x0 + j) * p.C + g * CPI;
    for (uint k = 0; k < CPI; k++) {
      precise float v = fv_float(p.scale) * acc[j * CPI + k];
      o[dst + k] = fv_store(v);
    }
  }
}
