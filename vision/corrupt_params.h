/* corrupt_params.h: internal to vision/corrupt*.c and their tests: the parameter tables of
 * the corruptions (spec 2, 6.1, 6.2) and the test hooks of the corruptor.
 *
 * Every (table, corruption, severity) has one row of up to 7 doubles, in the order of the
 * spec's columns; the comment on each table in corrupt_params.c names them. The public API
 * (corrupt.h) never exposes these rows: callers name a table and a severity, nothing else,
 * so parameters cannot be changed silently (spec 6.3). */
#ifndef FV_CORRUPT_PARAMS_H
#define FV_CORRUPT_PARAMS_H

#include "corrupt.h"

#define FV_CORRUPT_PARAM_COUNT 7

/* The row of (t, c, severity 1..5), or NULL when any of them is out of range. */
const double *fv_corrupt_params(fv_corrupt_table t, int c, int severity);

/* The row the corruptor uses under --variant: the table's row, except elastic_transform on the
 * imagenet table with variant hendrycks (spec 3.11: the original script's algorithm, its
 * column 0 is 1, and its (alpha, sigma, A) at 224). NULL when out of range. */
const double *fv_corrupt_params_variant(fv_corrupt_table t, fv_corrupt_variant variant, int c, int severity);

/* The zoom factors of a numpy arange(start, stop, step) (spec 3.5): length
 * ceil((stop - start) / step), values start + i * ((start + step) - start), all in double.
 * Writes at most cap factors; returns the length (which may exceed cap). */
int fv_corrupt_arange(double start, double stop, double step, double *out, int cap);

/* Test hook: with enabled != 0, motion_blur uses `degrees` for every image instead of its
 * seeded draw (the tests compare against an independent implementation at a fixed angle).
 * Not for production use: outputs made with it are not the seeded corruption. */
void fv_corruptor_force_motion_angle(fv_corruptor *cr, int enabled, double degrees);

#endif
