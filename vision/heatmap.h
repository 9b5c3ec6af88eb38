/* heatmap.h: rendering small score maps (attention over a patch grid, scale weights) as colour
 * images a person can read: bilinear upsampling, a perceptually ordered colour map (viridis),
 * blending over the gray input, and contact sheets of many such images.
 *
 * Deliberately not here: text (tiles are placed in a documented order instead of labelled),
 * file writing (fv_image_save_png) and any choice of what to show (the commands decide). */
#ifndef FV_HEATMAP_H
#define FV_HEATMAP_H

#include <stdint.h>

#include "../engine/status.h"
#include "image.h"

/* Viridis at t in [0, 1] (clamped; NaN reads as 0), as 8-bit RGB. */
void fv_colormap_viridis(float t, uint8_t rgb[3]);

typedef struct fv_heatmap_style {
  int scale;   /* output pixels per background pixel (>= 1) */
  float alpha; /* weight of the colour over the gray background, 0..1 */
  /* Value range mapped to 0..1: lo < hi fixes it; lo >= hi means the map's own min..max
   * (a constant map renders as 0). */
  float lo, hi;
  int nearest; /* nearest-neighbour upsampling (category maps such as an argmax), else bilinear */
} fv_heatmap_style;

/* map [mh, mw] (row-major) upsampled bilinearly (pixel centres, edge clamp) over a bg_h x bg_w gray
 * background bg (values 0..1, row-major; NULL: black), every background pixel drawn scale x scale:
 * out is a new RGB image of (bg_h * scale) x (bg_w * scale). */
fv_status fv_heatmap_render(const float *map, int mh, int mw, const float *bg, int bg_h, int bg_w,
                            const fv_heatmap_style *style, fv_image *out, fv_error *err);

/* Gray values 0..1 as an RGB image, each pixel drawn scale x scale. */
fv_status fv_heatmap_gray(const float *bg, int h, int w, int scale, fv_image *out, fv_error *err);

/* A contact sheet: n RGB tiles of equal size in rows of `cols`, `gap` pixels of dark gray between
 * and around them; a NULL tile (or one with no pixels) leaves its cell empty. */
fv_status fv_heatmap_sheet(const fv_image *tiles, int n, int cols, int gap, fv_image *out, fv_error *err);

#endif
