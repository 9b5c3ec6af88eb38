/* check.h: the few assertion helpers the C tests share.
 *
 * A failed CHECK prints where and why and counts; a test's main returns fv_test_finish(),
 * which prints "N passed, M failed" and is non-zero when anything failed. */
#ifndef FV_TEST_CHECK_H
#define FV_TEST_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int fv_test_passed, fv_test_failed;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (cond) {                                                                \
      fv_test_passed++;                                                        \
    } else {                                                                   \
      fv_test_failed++;                                                        \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, "\n");                                                   \
    }                                                                          \
  } while (0)

/* Largest |a-b| / (max|b| + 1e-6) over n values: a normalised error as ggml's tests use. */
static inline double fv_test_rel_error(const float *a, const float *b, size_t n) {
  double max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (isnan(d)) return INFINITY;
    if (d > max_diff) max_diff = d;
    if (fabs((double)b[i]) > max_ref) max_ref = fabs((double)b[i]);
  }
  return max_diff / (max_ref + 1e-6);
}

static inline double fv_test_max_abs_error(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (isnan(d)) return INFINITY;
    if (d > m) m = d;
  }
  return m;
}

/* Deterministic pseudo-random floats in [-1, 1) (xorshift), so failures reproduce. */
static inline float fv_test_rand(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return (float)((x >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static inline int fv_test_finish(void) {
  printf("%d passed, %d failed\n", fv_test_passed, fv_test_failed);
  return fv_test_failed != 0;
}

#endif
