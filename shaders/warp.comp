#version 450
/* warp.comp: FV_OP_WARP, one invocation per output value (engine/graph.h):
 * out[b, y, x, c] = bilinear(in[b], y + dy[bd, y, x], x + dx[bd, y, x], c), bd = b, or 0 when
 * the displacement layers hold one field for every image (BD = 1).
 *
 * Bindings: 0 image [B, H, W, C], 1 dy [BD, H, W, 1], 2 dx, 3 out. Push: total, H, W, C, BD.
 * Specialization: 0 BORDER. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint BORDER = 0;

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
  uint c = i % p.C, r = i / p.C;
  uint x = r % p.W;
  r /= p.W;
  uint y = r % p.H, b = r / p.H;
  uint bd = p.BD == 1 ? 0 : b;
  uint f = (bd * p.H + y) * p.W + x;
  float cy = float(y) + fv_load(dy[f]), cx = float(x) + fv_load(dx[f]);
  o[i] = fv_store(fv_bilinear(b * p.H * p.W * p.C + c, p.H, p.W, p.C, cy, cx, BORDER));
}
