/* corrupt_glass.c: glass blur's copy chain as a displacement map (see corrupt_glass.h).
 *
 * During the chain dy/dx hold the ABSOLUTE source row/column of each pixel's current value
 * (whole numbers below 2^24, exact in float); the final pass turns them into offsets. This
 * needs no scratch memory, and each copy is two float moves instead of three channel moves. */
#include "corrupt_glass.h"

#include <stddef.h>

#include "../engine/philox.h"

enum { GLASS_CORRUPTION = 4 };

void fv_glass_displacement(int height, int width, int delta, int iterations, uint32_t seed, uint32_t image_key,
                           int severity, float *dy, float *dx) {
  if (height < 1 || width < 1) return;
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++) {
      dy[(size_t)y * width + x] = (float)y;
      dx[(size_t)y * width + x] = (float)x;
    }
  /* Visited targets: h in [delta+1, H-delta], w in [delta+1, W-delta]; empty when H-delta < delta+1. */
  int rows = height - 2 * delta, cols = width - 2 * delta;
  if (delta >= 1 && rows > 0 && cols > 0) {
    for (int it = 0; it < iterations; it++) {
      fv_rng rx = {seed, image_key, GLASS_CORRUPTION, (uint32_t)severity, 2u * (uint32_t)it};
      fv_rng ry = {seed, image_key, GLASS_CORRUPTION, (uint32_t)severity, 2u * (uint32_t)it + 1u};
      uint32_t k = 0;
      for (int h = height - delta; h >= delta + 1; h--)
        for (int w = width - delta; w >= delta + 1; w--, k++) {
          int ox = (int)fv_rng_below(&rx, k, 2u * (uint32_t)delta) - delta;
          int oy = (int)fv_rng_below(&ry, k, 2u * (uint32_t)delta) - delta;
          /* h + oy in [1, H-1] and w + ox in [1, W-1]: see the bounds above. */
          size_t dst = (size_t)h * width + w, src = (size_t)(h + oy) * width + (w + ox);
          dy[dst] = dy[src];
          dx[dst] = dx[src];
        }
    }
  }
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++) {
      dy[(size_t)y * width + x] -= (float)y;
      dx[(size_t)y * width + x] -= (float)x;
    }
}
