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
 * Line taps (separable blurs: constant taps (dy0, dx0 + t) or (dy0 + t, dx0), t = 0..LT-1, in
 * that order, LT <= 64): runs go along the line and each run loads a window of XB + LT - 1
 * values per channel once and every pixel takes its LT taps from it, in order (under
 * FV_BORDER_ZERO only runs inside the box do).
 *
 * The optional addend (graph.h) is added once to each finished sum: out = addend + sum.
 *
 * Bindings: 0 image, 1 taps [T, 3] or [B, T, 3], 2 addend (the image when absent, unread), 3 out.
 * Push: total (runs x channel groups), H, W, C, T, tap_stride, ylo, yhi, xlo, xhi.
 * Specialization: 0 BORDER, 1 CPI, 2 XB, 3 LINE, 4 LT, 5 ADD. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint BORDER = 0;
layout(constant_id = 1) const uint CPI = 1;
layout(constant_id = 2) const uint XB = 4;
layout(constant_id = 3) const uint LINE = 0; /* 0: any taps, 1: a row line, 2: a column line */
layout(constant_id = 4) const uint LT = 1;   /* the line's tap count (LINE != 0) */
layout(constant_id = 5) const uint ADD = 0;  /* 1: out = addend + sum */

layout(std430, binding = 0) readonly buffer BufIn { STORE_T img[]; };
layout(std430, binding = 1) readonly buffer BufT { STORE_T taps[]; };
layout(std430, binding = 2) readonly buffer BufA { STORE_T addend[]; };
layout(std430, binding = 3) writeonly buffer BufOut { STORE_T o[]; };

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
  /* A run is XB pixels along x (along y for column lines) at (y0, x0) and after. */
  const bool down = LINE == 2;
  uint groups = p.C / CPI; /* CPI divides C: C itself or 1 */
  uint g = i % groups, r = i / groups, y0, x0;
  if (down) {
    x0 = r % p.W;
    r /= p.W;
    uint blocks = (p.H + XB - 1) / XB;
    y0 = (r % blocks) * XB;
    r /= blocks;
  } else {
    uint blocks = (p.W + XB - 1) / XB;
    x0 = (r % blocks) * XB;
    r /= blocks;
    y0 = r % p.H;
    r /= p.H;
  }
  uint b = r;
  uint base = b * p.H * p.W * p.C + g * CPI;
  uint tb = b * p.tap_stride;
  const uint step_y = down ? 1 : 0, step_x = down ? 0 : 1;
  precise float acc[XB * CPI];
  for (uint k = 0; k < XB * CPI; k++) acc[k] = 0.0;
  bool inside = down ? x0 >= p.xlo && x0 < p.xhi && y0 >= p.ylo && y0 + XB <= p.yhi
                     : y0 >= p.ylo && y0 < p.yhi && x0 >= p.xlo && x0 + XB <= p.xhi;
  if (LINE != 0 && (inside || BORDER != FV_BORDER_ZERO)) {
    /* Line taps (t-th tap at (dy0, dx0) + t along the run): pixel j's tap t reads window value
     * j + t, so the run loads XB + LT - 1 values per channel instead of XB * LT. Unrolled (LT is
     * a specialization constant); pixel j still adds its taps in order t = 0, 1, ... The window's
     * positions go through the border rule (a no-op inside), so runs at the edges take this path
     * too, except under FV_BORDER_ZERO, where a tap outside must add nothing at all. */
    int d0y = int(fv_load(taps[0])), d0x = int(fv_load(taps[1]));
    int across = down ? fv_border(int(x0) + d0x, int(p.W), BORDER) : fv_border(int(y0) + d0y, int(p.H), BORDER);
    int start = down ? int(y0) + d0y : int(x0) + d0x, n = down ? int(p.H) : int(p.W);
    float w[LT];
    for (uint t = 0; t < LT; t++) w[t] = fv_load(taps[3 * t + 2]);
    for (uint k = 0; k < XB + LT - 1; k++) {
      int along = fv_border(start + int(k), n, BORDER);
      uint src = base + (down ? uint(along) * p.W + uint(across) : uint(across) * p.W + uint(along)) * p.C;
      for (uint c = 0; c < CPI; c++) {
        float v = fv_src(src + c);
        for (uint j = 0; j < XB; j++)
          if (k >= j && k - j < LT) acc[j * CPI + c] += w[k - j] * v;
      }
    }
  } else if (inside) {
    /* every tap of every pixel inside: (y + dy, x + dx) is the pixel's index plus (dy W + dx) C */
    int at = int(base + (y0 * p.W + x0) * p.C);
    for (uint t = 0; t < p.T; t++) {
      int dy = int(fv_load(taps[tb + 3 * t])), dx = int(fv_load(taps[tb + 3 * t + 1]));
      float w = fv_load(taps[tb + 3 * t + 2]);
      uint src = uint(at + (dy * int(p.W) + dx) * int(p.C));
      for (uint j = 0; j < XB; j++)
        for (uint k = 0; k < CPI; k++) acc[j * CPI + k] += w * fv_src(src + j * p.C + k);
    }
  } else {
    for (uint t = 0; t < p.T; t++) {
      int dy = fv_tap_offset(fv_load(taps[tb + 3 * t])), dx = fv_tap_offset(fv_load(taps[tb + 3 * t + 1]));
      float w = fv_load(taps[tb + 3 * t + 2]);
      for (uint j = 0; j < XB; j++) {
        uint y = y0 + j * step_y, x = x0 + j * step_x;
        if (y >= p.H || x >= p.W) continue;
        int yy = fv_border(int(y) + dy, int(p.H), BORDER), xx = fv_border(int(x) + dx, int(p.W), BORDER);
        if (BORDER == FV_BORDER_ZERO && (yy < 0 || xx < 0)) continue; /* the other rules map inside */
        uint src = base + (uint(yy) * p.W + uint(xx)) * p.C;
        for (uint k = 0; k < CPI; k++) acc[j * CPI + k] += w * fv_src(src + k);
      }
    }
  }
  for (uint j = 0; j < XB; j++) {
    uint y = y0 + j * step_y, x = x0 + j * step_x;
    if (y >= p.H || x >= p.W) break;
    uint dst = base + (y * p.W + x) * p.C;
    for (uint k = 0; k < CPI; k++) {
      precise float v = acc[j * CPI + k];
      if (ADD != 0) v = fv_load(addend[dst + k]) + v;
      o[dst + k] = fv_store(v);
    }
  }
}
