#version 450
/* warp.comp: FV_OP_WARP, one invocation per pixel and group of CPI channels (CPI = C when C <= 4,
 * else 1; a specialization constant), which share the pixel's axis setups (engine/graph.h):
 * out[b, y, x, c] = bilinear(in[b], y + dy[bd, y, x], x + dx[bd, y, x], c), bd = b, or 0 when
 * the displacement layers hold one field for every image (BD = 1).
 *
 * Bindings: 0 image [B, H, W, C], 1 dy [BD, H, W, 1], 2 dx, 3 out.
 * Push: total (pixels x channel groups), H, W, C, BD. Specialization: 0 BORDER, 1 CPI. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint BORDER = 0;
layout(constant_id = 1) const uint CPI = 1;

layout(std430, binding = 0) readonly buffer BufIn { STORE_T img[]; };
layout(std430, binding = 1) readonly buffer BufDy { STORE_T dy[]; };
layout(std430, binding = 2) readonly buffer BufDx { STORE_T dx[]; };
layout(std430, binding = 3) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint total, H, W, C, BD; } p;

float fv_src(uint idx) { return fv_load(img[idx]); }
#include "common/image.glsl"

void main() {
  uint i = fv_group_id() * 256 + gl_LocalInvocationID.x;
  if (i >= p.total) return;
  uint groups = p.C / CPI; /* CPI divides C: C itself or 1 */
  uint g = i % groups, r = i / groups;
  uint x = r % p.W;
  r /= p.W;
  uint y = r % p.H, b = r / p.H;
  uint bd = p.BD == 1 ? 0 : b;
  uint f = (bd * p.H + y) * p.W + x;
  precise float cy = float(y) + fv_load(dy[f]), cx = float(x) + fv_load(dx[f]);
  fv_axis ay = fv_axis_at(cy, int(p.H), BORDER), ax = fv_axis_at(cx, int(p.W), BORDER);
  uint base = b * p.H * p.W * p.C + g * CPI, dst = ((b * p.H + y) * p.W + x) * p.C + g * CPI;
  for (uint k = 0; k < CPI; k++) o[dst + k] = fv_store(fv_bilinear_at(base + k, ay, ax, p.W, p.C, BORDER));
}
