/* jpeg.h: JPEG encoding with libjpeg-turbo, for the jpeg_compression corruption (spec 3.13)
 * and for writing corrupted images as JPEG (ImageNet-C's stored form, spec 1.5).
 *
 * Settings are Pillow's defaults, so the bytes equal what a Python pipeline gets from
 * Image.save(buf, 'JPEG', quality=q) and Image.open(buf) on the same libjpeg-turbo:
 * baseline, standard IJG tables scaled by quality with force_baseline, 4:2:0 chroma
 * subsampling for RGB, ISLOW DCT, no optimised Huffman tables unless asked; decoding with
 * ISLOW and fancy upsampling. Gray images are coded as one-component JPEGs. libjpeg errors
 * become fv_error messages (setjmp), never an exit; its warnings are ignored.
 * General image decoding is vision/image.h's job; fv_jpeg_load exists for inputs that must
 * decode exactly as libjpeg(-turbo) does in OpenCV's and PIL's readers (frost textures). */
#ifndef FV_JPEG_H
#define FV_JPEG_H

#include "../engine/status.h"
#include "image.h"

/* Encodes `in` (1 or 3 channels) at quality 1..100 in memory and decodes it again into
 * `out` (same size and channels; free with fv_image_free). */
fv_status fv_jpeg_roundtrip(const fv_image *in, int quality, fv_image *out, fv_error *err);

/* Writes img as a JPEG file at quality 1..100, with optimised Huffman tables when optimize
 * is non-zero (Pillow's optimize=True). Written under a temporary name and renamed. */
fv_status fv_jpeg_save(const char *path, const fv_image *img, int quality, int optimize, fv_error *err);

/* Decodes a JPEG file with libjpeg-turbo's defaults (ISLOW, fancy upsampling) into 1 (gray)
 * or 3 (RGB) channels; any colour space libjpeg can convert from is accepted. */
fv_status fv_jpeg_load(const char *path, int want_channels, fv_image *img, fv_error *err);

#endif
