/* heatmap.c: score maps as colour images (see heatmap.h).
 *
 * Viridis is interpolated linearly between its nine standard stops (#440154 ... #fde725), which
 * is within a couple of 8-bit levels of matplotlib's 256-entry table: enough for a diagnostic
 * picture, and no table to carry. */
#include "heatmap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t viridis[9][3] = {{68, 1, 84},    {71, 44, 122}, {59, 81, 139},  {44, 113, 142}, {33, 145, 140},
                                      {39, 173, 129}, {92, 200, 99}, {170, 220, 50}, {253, 231, 37}};

void fv_colormap_viridis(float t, uint8_t rgb[3]) {
  if (!(t > 0.0f)) t = 0.0f; /* also NaN */
  if (t > 1.0f) t = 1.0f;
  float x = t * 8.0f;
  int i = (int)x;
  if (i > 7) i = 7;
  float f = x - (float)i;
  for (int c = 0; c < 3; c++)
    rgb[c] = (uint8_t)lrintf((1.0f - f) * (float)viridis[i][c] + f * (float)viridis[i + 1][c]);
}

static fv_status new_rgb(int h, int w, fv_image *out, fv_error *err) {
  memset(out, 0, sizeof *out);
  if (h < 1 || w < 1 || (int64_t)h * w > FV_IMAGE_MAX_PIXELS)
    return fv_fail(err, "heatmap: image size %dx%d is outside 1..%ld pixels", h, w, (long)FV_IMAGE_MAX_PIXELS);
  out->pixels = calloc((size_t)h * (size_t)w * 3, 1);
  if (!out->pixels) return fv_fail(err, "heatmap: out of memory for a %dx%d image", h, w);
  out->width = w, out->height = h, out->channels = 3;
  return FV_OK;
}

static uint8_t to_u8(float v) {
  if (!(v > 0.0f)) return 0;
  if (v >= 255.0f) return 255;
  return (uint8_t)lrintf(v);
}

/* Bilinear sample of map at continuous map coordinates (y, x) of pixel centres, edges clamped. */
static float bilinear(const float *map, int mh, int mw, float y, float x) {
  if (y < 0) y = 0;
  if (x < 0) x = 0;
  if (y > (float)(mh - 1)) y = (float)(mh - 1);
  if (x > (float)(mw - 1)) x = (float)(mw - 1);
  int y0 = (int)y, x0 = (int)x;
  int y1 = y0 + 1 < mh ? y0 + 1 : y0, x1 = x0 + 1 < mw ? x0 + 1 : x0;
  float fy = y - (float)y0, fx = x - (float)x0;
  float top = (1 - fx) * map[y0 * mw + x0] + fx * map[y0 * mw + x1];
  float bot = (1 - fx) * map[y1 * mw + x0] + fx * map[y1 * mw + x1];
  return (1 - fy) * top + fy * bot;
}

fv_status fv_heatmap_render(const float *map, int mh, int mw, const float *bg, int bg_h, int bg_w,
                            const fv_heatmap_style *style, fv_image *out, fv_error *err) {
  const int s = style && style->scale > 0 ? style->scale : 1;
  const float alpha = style ? style->alpha : 0.6f;
  if (mh < 1 || mw < 1) return fv_fail(err, "heatmap: map size %dx%d must be positive", mh, mw);
  if (bg_h > 65535 / s || bg_w > 65535 / s)
    return fv_fail(err, "heatmap: %dx%d at scale %d exceeds %d pixels a side", bg_h, bg_w, s, 65535);
  if (new_rgb(bg_h * s, bg_w * s, out, err)) return FV_ERR;
  float lo = style ? style->lo : 0, hi = style ? style->hi : 0;
  if (!(lo < hi)) {
    lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < mh * mw; k++) {
      if (map[k] < lo) lo = map[k];
      if (map[k] > hi) hi = map[k];
    }
  }
  const float range = hi > lo ? hi - lo : 0.0f;
  const int H = out->height, W = out->width;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      /* The output pixel's centre in map coordinates (pixel centres at integers). */
      float my = ((float)y + 0.5f) * (float)mh / (float)H - 0.5f;
      float mx = ((float)x + 0.5f) * (float)mw / (float)W - 0.5f;
      float v = style && style->nearest ? map[(y * mh / H) * mw + x * mw / W] : bilinear(map, mh, mw, my, mx);
      uint8_t rgb[3];
      fv_colormap_viridis(range > 0 ? (v - lo) / range : 0.0f, rgb);
      float g = bg ? 255.0f * bg[(y / s) * bg_w + x / s] : 0.0f;
      uint8_t *p = out->pixels + ((size_t)y * W + x) * 3;
      for (int c = 0; c < 3; c++) p[c] = to_u8(alpha * (float)rgb[c] + (1 - alpha) * g);
    }
  return FV_OK;
}

fv_status fv_heatmap_gray(const float *bg, int h, int w, int scale, fv_image *out, fv_error *err) {
  const int s = scale > 0 ? scale : 1;
  if (h > 65535 / s || w > 65535 / s)
    return fv_fail(err, "heatmap: %dx%d at scale %d exceeds %d pixels a side", h, w, s, 65535);
  if (new_rgb(h * s, w * s, out, err)) return FV_ERR;
  for (int y = 0; y < h * s; y++)
    for (int x = 0; x < w * s; x++) {
      uint8_t v = to_u8(255.0f * bg[(y / s) * w + x / s]);
      memset(out->pixels + ((size_t)y * out->width + x) * 3, v, 3);
    }
  return FV_OK;
}

fv_status fv_heatmap_sheet(const fv_image *tiles, int n, int cols, int gap, fv_image *out, fv_error *err) {
  int th = 0, tw = 0;
  for (int i = 0; i < n; i++)
    if (tiles[i].pixels) {
      if (tiles[i].channels != 3 || (th && (tiles[i].height != th || tiles[i].width != tw)))
        return fv_fail(err, "heatmap sheet: tile %d is %dx%dx%d, expected RGB tiles of one size (%dx%d)", i,
                       tiles[i].height, tiles[i].width, tiles[i].channels, th, tw);
      th = tiles[i].height, tw = tiles[i].width;
    }
  if (n < 1 || cols < 1 || th == 0) return fv_fail(err, "heatmap sheet: no tiles to place");
  const int rows = (n + cols - 1) / cols;
  if ((int64_t)rows * (th + gap) + gap > 65535 || (int64_t)cols * (tw + gap) + gap > 65535)
    return fv_fail(err, "heatmap sheet: %d x %d tiles of %dx%d exceed 65535 pixels a side", rows, cols, th, tw);
  if (new_rgb(rows * (th + gap) + gap, cols * (tw + gap) + gap, out, err)) return FV_ERR;
  memset(out->pixels, 40, (size_t)out->height * out->width * 3);
  for (int i = 0; i < n; i++) {
    if (!tiles[i].pixels) continue;
    const int y0 = gap + (i / cols) * (th + gap), x0 = gap + (i % cols) * (tw + gap);
    for (int y = 0; y < th; y++)
      memcpy(out->pixels + ((size_t)(y0 + y) * out->width + x0) * 3, tiles[i].pixels + (size_t)y * tw * 3,
             (size_t)tw * 3);
  }
  return FV_OK;
}
