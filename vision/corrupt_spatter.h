/* corrupt_spatter.h: spatter's "water" mode (spec 3.15, mode 0, severities 1-3 of every table)
 * on the CPU: the liquid layer, its Canny edges, the distance transform and the emboss chain
 * that give the drops their rims, ending in the mask M that the GPU blends with pale turquoise.
 *
 * No OpenCV exists here, so the OpenCV steps are written from their documented algorithms
 * (OpenCV 4.x C code paths, read for their exact integer semantics; no code copied):
 * Canny (3x3 Sobel with replicated borders, L1 magnitude, non-maximum suppression with
 * OpenCV's tan(22.5) fixed-point sectors and tie rules, 8-connected hysteresis), the 5x5
 * chamfer distance transform (DIST_L2: weights 1, 1.4, 2.1969 in 16.16 fixed point), blur
 * (3x3 box, reflect-101; float sums in double, 8-bit sums with OpenCV's fixed-point divide),
 * equalizeHist (OpenCV's LUT) and filter2D (3x3 correlation, saturated to 8 bits). OpenCV
 * builds that route these through IPP or other accelerated paths could differ on ties.
 * Mode 1 (mud) is plain blur/threshold arithmetic and runs as GPU ops; not here. */
#ifndef FV_CORRUPT_SPATTER_H
#define FV_CORRUPT_SPATTER_H

#include <stdint.h>

#include "../engine/status.h"

/* Spatter mode 0's mask. params = (mu, sigma, blur sigma, threshold, intensity, mode) from
 * the severity table; mode must be 0. Normals: engine/philox.h fv_rng_normal with corruption 17
 * (spatter), `severity`, stream 0, draw index = pixel index y*W+x. M (height*width floats)
 * receives L8 * D / max(L8 * D) * intensity (spec 3.15), 0 where there is no liquid. When
 * max(L8 * D) is 0 (no liquid at all; the reference then outputs NaN, i.e. a black image),
 * M is all zero and *empty is set to 1; otherwise *empty is 0. */
fv_status fv_spatter_water_layer(int height, int width, const float params[6], uint32_t seed, uint32_t image_key,
                                 int severity, float *M, int *empty, fv_error *err);

/* ---- the steps, exposed for tests/test_corrupt_host.c -------------------------------------- */

/* scipy.ndimage.gaussian_filter (and skimage.filters.gaussian) on a 2-D double image: truncate 4,
 * radius int(4 sigma + 0.5), border 'nearest', axis 0 then axis 1. sigma <= 0 copies. */
fv_status fv_spatter_gaussian(const double *in, int height, int width, double sigma, double *out, fv_error *err);

/* cv2.Canny(src, low, high) with aperture 3 and L1 gradient: dst is 255 on edges, else 0. */
fv_status fv_spatter_canny(const uint8_t *src, int height, int width, int low, int high, uint8_t *dst, fv_error *err);

/* cv2.distanceTransform(src, DIST_L2, 5): distance from each pixel to the nearest zero pixel by
 * the 5x5 chamfer metric. Pixels outside the image do not count as zeros; an image without any
 * zero gets a huge distance (about 8192) everywhere, as OpenCV's does. */
fv_status fv_spatter_distance(const uint8_t *src, int height, int width, float *dst, fv_error *err);

/* cv2.blur(src, (3, 3)) on float32 (sums in double, times 1/9, reflect-101). */
void fv_spatter_box3_f32(const float *src, int height, int width, float *dst);
/* cv2.blur(src, (3, 3)) on uint8: 16-bit sums and OpenCV's fixed-point divide by 9 (rounds). */
void fv_spatter_box3_u8(const uint8_t *src, int height, int width, uint8_t *dst);
/* cv2.equalizeHist. */
void fv_spatter_equalize_hist(const uint8_t *src, int n, uint8_t *dst);
/* cv2.filter2D(src, CV_8U, [[-2,-1,0],[-1,1,1],[0,1,2]]): correlation, reflect-101, clamped to 0..255. */
void fv_spatter_emboss(const uint8_t *src, int height, int width, uint8_t *dst);

#endif
