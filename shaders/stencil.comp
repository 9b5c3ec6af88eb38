#version 450
/* stencil.comp: FV_OP_STENCIL (engine/graph.h):
 * out[b, y, x, c] = sum_t w_t * in[b, border(y + dy_t), border(x + dx_t), c], summed in tap
 * order in fp32 (`precise`: no fused multiply-add, as in fv_ref_stencil). Taps are read from
 * their buffer, (dy, dx, w) per row, image b's rows starting at b * tap_stride (0 when every
 * image shares one list).
 *
 * One invocation per run of XB pixels along x and group of CPI channels (CPI = C when C <= 4,
 * else 1; XB = 8 for CPI = 1, else 4; specialization constants, so the loops unroll): each tap's
 * loads and row arithmetic are shared by 8 to 16 outputs. Runs inside the box [ylo, yhi) x [xlo, xhi), where
 * the planner found that every tap reads inside the image, take a loop with no border
 * arithmetic at all (one offset per tap); the others the general loop. Both sum the same products in the
 * same order. Per-image taps get an empty box (their offsets are only known at run time) and are
 * read through fv_tap_offset, graph.h's trunc(clamp(d, -2048, 2048)).
 *
 * Bindings: 0 image, 1 taps [T, 3] or [B, T, 3], 2 out.
 * Push: total (runs x channel groups), H, W, C, T, tap_stride, ylo, yhi, xlo, xhi.
 * Specialization: 0 BORDER, 1 CPI, 2 XB. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint BORDER = 0;
layout(constant_id = 1) const uint CPI = 1;
layout(constant_id = 2) const uint XB = 4;

layout(std430, binding = 0) readonly buffer BufIn { STORE_T img[]; };
layout(std430, binding = 1) readonly buffer BufT { STORE_T taps[]; };
layout(std430, binding = 2) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint total, H, W, C, T, tap_stride, ylo, yhi, xlo, xhi; } p;

float fv_src(uint idx) { return fv_load(img[idx]); }
#include "common/image.glsl"

int fv_tap_offset(float d) {
  if (!(d >= -2048.0)) d = isnan(d) ? 0.0 : -2048.0;
  if (d > 2048.0) d = 2048.0;
  return int(d);
}

void main() {
  uint i = fv_group_id() * 256 + gl_LocalInvocationID.x;
  if (i >= p.total) return;
  uint groups = p.C / CPI, blocks = (p.W + XB - 1) / XB; /* CPI divides C: C itself or 1 */
  uint g = i % groups, r = i / groups;
  uint x0 = (r % blocks) * XB;
  r /= blocks;
  uint y = r % p.H, b = r / p.H;
  uint base = b * p.H * p.W * p.C + g * CPI;
  uint tb = b * p.tap_stride;
  precise float acc[XB * CPI];
  for (uint k = 0; k < XB * CPI; k++) acc[k] = 0.0;
  if (y >= p.ylo && y < p.yhi && x0 >= p.xlo && x0 + XB <= p.xhi) {
    /* every tap of every pixel inside: (y + dy, x + dx) is the pixel's index plus (dy W + dx) C */
    int at = int(base + (y * p.W + x0) * p.C);
    for (uint t = 0; t < p.T; t++) {
      int dy = int(fv_load(taps[tb + 3 * t])), dx = int(fv_load(taps[tb + 3 * t + 1]));
      float w = fv_load(taps[tb + 3 * t + 2]);
      uint src = uint(at + (dy * int(p.W) + dx) * int(p.C));
      for (uint j = 0; j < XB; j++)
        for (uint k = 0; k < CPI; k++) acc[j * CPI + k] += w * fv_src(src + j * p.C + k);
    }
  } else {
    for (uint t = 0; t < p.T; t++) {
      int yy = fv_border(int(y) + fv_tap_offset(fv_load(taps[tb + 3 * t])), int(p.H), BORDER);
      if (yy < 0) continue;
      int dx = fv_tap_offset(fv_load(taps[tb + 3 * t + 1]));
      float w = fv_load(taps[tb + 3 * t + 2]);
      for (uint j = 0; j < XB; j++) {
        int xx = fv_border(int(x0 + j) + dx, int(p.W), BORDER);
        if (x0 + j >= p.W || xx < 0) continue;
        uint src = base + (uint(yy) * p.W + uint(xx)) * p.C;
        for (uint k = 0; k < CPI; k++) acc[j * CPI + k] += w * fv_src(src + k);
      }
    }
  }
  for (uint j = 0; j < XB && x0 + j < p.W; j++) {
    uint dst = base + (y * p.W + x0 + j) * p.C;
    for (uint k = 0; k < CPI; k++) o[dst + k] = fv_store(acc[j * CPI + k]);
  }
}
