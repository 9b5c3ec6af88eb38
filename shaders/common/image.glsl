/* image.glsl: border rules and bilinear sampling shared by the image kernels (stencil.comp,
 * sample.comp, warp.comp): the GLSL of fv_ref_border() and bilinear() in engine/ref/ref_image.c,
 * operation for operation (read the contract in engine/graph.h, fv_border).
 *
 * fv_axis_at / fv_bilinear_at split the interpolation by axis for kernels whose outputs share
 * rows or columns.
 *
 * The including file defines fv_src(idx), the idx-th value of the image being read, as float.
 * Images are [B, H, W, C]; callers pass the flat index of (b, 0, 0, c) as `base`. */
#ifndef FV_IMAGE_GLSL
#define FV_IMAGE_GLSL

#define FV_BORDER_NEAREST 0u
#define FV_BORDER_REFLECT101 1u
#define FV_BORDER_REFLECT 2u
#define FV_BORDER_ZERO 3u

/* i mod p in [0, p) for any i, p > 0 (GLSL leaves % of negative operands undefined). */
int fv_mod(int i, int p) {
  uint up = uint(p);
  return i >= 0 ? int(uint(i) % up) : int((up - uint(-i) % up) % up);
}

/* The source index for coordinate i on an axis of length n, or -1: outside, reads as zero. */
int fv_border(int i, int n, uint mode) {
  if (i >= 0 && i < n) return i;
  if (mode == FV_BORDER_NEAREST) return i < 0 ? 0 : n - 1;
  if (mode == FV_BORDER_ZERO) return -1;
  if (mode == FV_BORDER_REFLECT101) {
    if (n == 1) return 0;
    int period = 2 * n - 2, m = fv_mod(i, period);
    return m < n ? m : period - m;
  }
  int period = 2 * n, m = fv_mod(i, period); /* FV_BORDER_REFLECT */
  return m < n ? m : period - 1 - m;
}

/* Clamped to +-2^24 before floor() so int() is defined for any input, NaN included. */
float fv_clamp_coord(float v) {
  if (!(v >= -16777216.0)) v = -16777216.0;
  if (v > 16777216.0) v = 16777216.0;
  return v;
}

float fv_texel(uint base, int y, int x, uint W, uint C) {
  return (y < 0 || x < 0) ? 0.0 : fv_src(base + (uint(y) * W + uint(x)) * C);
}

/* scipy.ndimage order-1 interpolation at (cy, cx) of the image whose (0, 0, c) is at base. */
float fv_bilinear(uint base, uint H, uint W, uint C, float cy, float cx, uint mode) {
  cy = fv_clamp_coord(cy);
  cx = fv_clamp_coord(cx);
  float fy = floor(cy), fx = floor(cx);
  precise float ty = cy - fy, tx = cx - fx;
  int y0 = int(fy), x0 = int(fx);
  int ya = fv_border(y0, int(H), mode), yb = fv_border(y0 + 1, int(H), mode);
  int xa = fv_border(x0, int(W), mode), xb = fv_border(x0 + 1, int(W), mode);
  float v00 = fv_texel(base, ya, xa, W, C), v01 = fv_texel(base, ya, xb, W, C);
  float v10 = fv_texel(base, yb, xa, W, C), v11 = fv_texel(base, yb, xb, W, C);
  precise float top = (1.0 - tx) * v00 + tx * v01;
  precise float bottom = (1.0 - tx) * v10 + tx * v11;
  precise float r = (1.0 - ty) * top + ty * bottom;
  return r;
}

/* The same interpolation split by axis (ref_image.c's bilinear_axis): a coordinate becomes two
 * source indices (-1: reads as zero) and the second one's weight, so kernels that share a row
 * or a column between outputs set that axis up once. Same operations as fv_bilinear. */
struct fv_axis {
  int i0, i1;
  float t;
};

fv_axis fv_axis_at(float v, int n, uint mode) {
  v = fv_clamp_coord(v);
  float f = floor(v);
  precise float t = v - f;
  int i = int(f);
  return fv_axis(fv_border(i, n, mode), fv_border(i + 1, n, mode), t);
}

/* Value at (ay, ax) of the channel whose (0, 0) is at base. Only FV_BORDER_ZERO yields -1
 * indices: under the other rules (mode is a specialization constant) the loads are unguarded. */
float fv_bilinear_at(uint base, fv_axis ay, fv_axis ax, uint W, uint C, uint mode) {
  float v00, v01, v10, v11;
  if (mode == FV_BORDER_ZERO) {
    v00 = fv_texel(base, ay.i0, ax.i0, W, C), v01 = fv_texel(base, ay.i0, ax.i1, W, C);
    v10 = fv_texel(base, ay.i1, ax.i0, W, C), v11 = fv_texel(base, ay.i1, ax.i1, W, C);
  } else {
    uint r0 = base + uint(ay.i0) * W * C, r1 = base + uint(ay.i1) * W * C;
    v00 = fv_src(r0 + uint(ax.i0) * C), v01 = fv_src(r0 + uint(ax.i1) * C);
    v10 = fv_src(r1 + uint(ax.i0) * C), v11 = fv_src(r1 + uint(ax.i1) * C);
  }
  precise float top = (1.0 - ax.t) * v00 + ax.t * v01;
  precise float bottom = (1.0 - ax.t) * v10 + ax.t * v11;
  precise float r = (1.0 - ay.t) * top + ay.t * bottom;
  return r;
}

#endif
