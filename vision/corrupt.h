/* corrupt.h: the 19 ImageNet-C corruptions at severities 1..5, seeded, on any device.
 * Spec: shared/design/methods/corruptions.md (referred to as "spec" below).
 *
 * A corruptor owns one device (NULL = the CPU executor) and builds, per (corruption, severity,
 * batch, height, width), an engine graph of image ops (engine/graph.h: FV_OP_STENCIL, SAMPLE,
 * WARP, PIXEL, RANDOM, REDUCE, PLASMA, RESAMPLE) that it records once and replays for every
 * batch of that shape (the four most recent stay recorded). Host-side pieces that are
 * sequential or come from files run in C on the CPU (spec 5) and enter the graph as inputs:
 * glass blur's copy chain (as a displacement map the GPU applies), spatter's water mode (Canny,
 * distance transform, equalizeHist), frost texture choice and crop, the 32/64-px tables'
 * elastic affine map; JPEG is a host round trip (libjpeg-turbo: baseline, 4:2:0, ISLOW, quality
 * from the table). Motion blur and snow draw one angle per image: the host computes each image's
 * ray and their stencil reads it from a per-image taps input, so they batch like the others.
 *
 * Randomness: counter-based Philox (engine/philox.h) keyed by (seed, image key), counter
 * (corruption, severity, stream, draw index): the same seed and key give the same draws on
 * every device, batch size and run; image order and sharding do not matter.
 *
 * Semantics: imagecorruptions v1.1.2 (spec 0; fv_corrupt_variant for the original script's
 * elastic_transform and frost): float computation, output truncated to uint8,
 * RGB. Gray inputs (1 channel) follow Fovea's documented rule: replicated to RGB (as the
 * reference's corrupt() does), corrupted as RGB, and converted back to gray with PIL's 'L'
 * weights (L = (19595 R + 38470 G + 7471 B + 32768) >> 16), which is what a user's PIL
 * pipeline reading the corrupted file as gray would see. Outputs keep the input's channels. */
#ifndef FV_CORRUPT_H
#define FV_CORRUPT_H

#include <stdint.h>

#include "../engine/device.h"
#include "../engine/status.h"
#include "image.h"

/* Spec 1.7 order; the first 15 are the "main" corruptions that enter mCE. */
typedef enum fv_corruption {
  FV_GAUSSIAN_NOISE = 0,
  FV_SHOT_NOISE,
  FV_IMPULSE_NOISE,
  FV_DEFOCUS_BLUR,
  FV_GLASS_BLUR,
  FV_MOTION_BLUR,
  FV_ZOOM_BLUR,
  FV_SNOW,
  FV_FROST,
  FV_FOG,
  FV_BRIGHTNESS,
  FV_CONTRAST,
  FV_ELASTIC_TRANSFORM,
  FV_PIXELATE,
  FV_JPEG_COMPRESSION,
  FV_SPECKLE_NOISE,
  FV_GAUSSIAN_BLUR,
  FV_SPATTER,
  FV_SATURATE,
  FV_CORRUPTION_COUNT
} fv_corruption;

#define FV_MAIN_CORRUPTIONS 15

const char *fv_corruption_name(int c);         /* "gaussian_noise", ... */
int fv_corruption_from_name(const char *name); /* -1 if unknown */
int fv_corruption_is_random(int c);

typedef enum fv_corrupt_table { FV_TABLE_IMAGENET = 0, FV_TABLE_CIFAR10, FV_TABLE_TINY } fv_corrupt_table;
const char *fv_corrupt_table_name(fv_corrupt_table t); /* "imagenet", "cifar10", "tiny" */
int fv_corrupt_table_from_name(const char *name);      /* -1 if unknown */
int fv_corrupt_table_size(fv_corrupt_table t);         /* 224, 32, 64 */

/* --variant (spec "Reference semantics"): which reference the imagenet table follows where
 * they differ materially. imagecorruptions (default): imagecorruptions v1.1.2. hendrycks: the
 * original ImageNet-C script for elastic_transform (its affine + field algorithm and its
 * (alpha, sigma, A) at 224, spec 3.11) and frost (no texture rescale, spec 3.7); the other 17
 * corruptions are the same in both. The cifar10 and tiny tables always follow the hendrycks
 * scripts that built CIFAR-10-C and Tiny-ImageNet-C, so the variant does not change them. */
typedef enum fv_corrupt_variant { FV_VARIANT_IMAGECORRUPTIONS = 0, FV_VARIANT_HENDRYCKS } fv_corrupt_variant;
const char *fv_corrupt_variant_name(fv_corrupt_variant v); /* "imagecorruptions", "hendrycks" */
int fv_corrupt_variant_from_name(const char *name);        /* -1 if unknown */

typedef struct fv_corrupt_options {
  fv_corrupt_table table;
  fv_corrupt_variant variant; /* --variant, default imagecorruptions (0) */
  uint32_t seed;              /* --seed, default 0 */
  const char *frost_dir;      /* NULL: procedural textures (spec 7) from frost_seed */
  uint32_t frost_seed;
  int batch; /* images per graph run (default 16; lowered so one image tensor stays <= 48 MiB) */
} fv_corrupt_options;

typedef struct fv_corruptor fv_corruptor;

fv_status fv_corruptor_open(fv_device *dev, const fv_corrupt_options *opt, fv_corruptor **out, fv_error *err);
void fv_corruptor_close(fv_corruptor *c);

/* Corrupts n images (all the same size and channel count, 1 or 3 channels) with corruption c
 * at severity 1..5. keys[i] (required) is image i's identity (dataset index, or
 * fv_corrupt_path_key of its file): with the seed it fixes every random draw, so the result
 * of image i does not depend on n, on the batch or on the other images. out[i] receives a new
 * image of the same size and channels (free with fv_image_free); on failure nothing is left
 * allocated. Any n >= 1: batches are split internally (the last one padded, its padding
 * discarded). Images of another size than the table's are corrupted with the table's
 * parameters as they are; fv_corruptor_take_note says so once. */
fv_status fv_corrupt_images(fv_corruptor *cr, int c, int severity, const fv_image *in, const uint32_t *keys, int n,
                            fv_image *out, fv_error *err);

/* Identity of an image file for folder mode: a 32-bit FNV-1a hash of its file name
 * (the base name, so moving a folder keeps the noise). */
uint32_t fv_corrupt_path_key(const char *path);

/* How many spatter draws had no liquid at all (spec 3.15 pitfall), since open: reports count them. */
long fv_corruptor_empty_spatter(const fv_corruptor *c);

/* A note for the user, returned once (then NULL): set when the images' size differs from the
 * table's (spec 6.3: parameters are never rescaled silently). The corruptor does not print. */
const char *fv_corruptor_take_note(fv_corruptor *c);

/* One line describing the frost source for reports: "procedural (seed s)" or
 * "user textures from DIR (sha256 ...)". */
const char *fv_corruptor_frost_source(const fv_corruptor *c);

#endif
