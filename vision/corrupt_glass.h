/* corrupt_glass.h: glass blur's sequential pixel-copy chain (spec 3.3), run on the CPU and
 * returned as a displacement map so the GPU can apply the whole chain with one gather.
 *
 * The references visit h = H-delta down to delta+1, w = W-delta down to delta+1 (both
 * inclusive), draw dx then dy in [-delta, delta-1] and COPY g[h+dy, w+dx] into g[h, w]
 * (their tuple "swap" of array views is a copy; spec 3.3 note). Later visits read pixels that
 * earlier visits already overwrote, so the chain is inherently sequential. Tracking, for every
 * pixel, which ORIGINAL pixel its value came from turns the chain into a single gather:
 * out[y, x] = in[y + dy[y*W+x], x + dx[y*W+x]]. This module does not blur; the two Gaussian
 * blurs around the chain are GPU ops. */
#ifndef FV_CORRUPT_GLASS_H
#define FV_CORRUPT_GLASS_H

#include <stdint.h>

/* Fills dy and dx (height * width floats each, whole numbers) with the displacement of the
 * source pixel after `iterations` passes of the copy chain. Randomness: engine/philox.h with
 * corruption 4 (glass_blur), `severity`, stream 2*i for dx and 2*i+1 for dy in pass i, draw
 * index = the visit's ordinal within the pass (0 for (H-delta, W-delta), then w decreasing
 * fastest), value fv_rng_below(2*delta) - delta.
 *
 * Every read stays inside the image for every size: for a visited h, h+dy lies in
 * [1, H-1] (likewise w), and when H < 2*delta+1 or W < 2*delta+1 the loop range is empty
 * and the map is the identity. delta < 1 or iterations < 1 also give the identity (the
 * tables never use them). height or width < 1: nothing is written. */
void fv_glass_displacement(int height, int width, int delta, int iterations, uint32_t seed, uint32_t image_key,
                           int severity, float *dy, float *dx);

#endif
