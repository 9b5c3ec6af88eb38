#version 450
/* stencil.comp: FV_OP_STENCIL, one invocation per output value (engine/graph.h):
 * out[b, y, x, c] = sum_t w_t * in[b, border(y + dy_t), border(x + dx_t), c], summed in tap
 * order in fp32 (`precise`: no fused multiply-add, as in fv_ref_stencil). Taps are read from
 * the weight buffer, (dy, dx, w) per row; offsets are integers (exact in fp16 too, graph.c).
 *
 * Bindings: 0 image, 1 taps [T, 3], 2 out. Push: total, H, W, C, T. Specialization: 0 BORDER. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint BORDER = 0;

layout(std430, binding = 0) readonly buffer BufIn { STORE_T img[]; };
layout(std430, binding = 1) readonly buffer BufT { STORE_T taps[]; };
layout(std430, binding = 2) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint total, H, W, C, T; } p;

float fv_src(uint idx) { return fv_load(img[idx]); }
#include "common/image.glsl"

void main() {
  uint i = fv_group_id() * 256 + gl_LocalInvocationID.x;
  if (i >= p.total) return;
  uint c = i % p.C, r = i / p.C;
  uint x = r % p.W;
  r /= p.W;
  uint y = r % p.H, b = r / p.H;
  uint base = b * p.H * p.W * p.C + c;
  precise float acc = 0.0;
  for (uint t = 0; t < p.T; t++) {
    int yy = fv_border(int(y) + int(fv_load(taps[3 * t])), int(p.H), BORDER);
    int xx = fv_border(int(x) + int(fv_load(taps[3 * t + 1])), int(p.W), BORDER);
    if (yy < 0 || xx < 0) continue;
    acc += fv_load(taps[3 * t + 2]) * fv_src(base + (uint(yy) * p.W + uint(xx)) * p.C);
  }
  o[i] = fv_store(acc);
}
