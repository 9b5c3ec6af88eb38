/* image.h: decoding images into 8-bit pixels, encoding PNG, and listing image files.
 *
 * Decoding aims at the bytes a Python pipeline gets from PIL's Image.open(p).convert('RGB')
 * (or 'L'), because that is what timm models were evaluated with: PNG through libpng with
 * PIL's conventions (see image.c for the 16-bit and alpha rules), every other format
 * (JPEG, WebP, BMP, TIFF, ...) through FFmpeg, which matches PIL only approximately.
 * This module deliberately does no resizing, colour management (ICC, gAMA), EXIF
 * orientation or alpha compositing: PIL's convert('RGB') does none of them either.
 * FFmpeg reports decoder complaints through av_log on stderr; its log level is global
 * state, so setting it (av_log_set_level) is left to apps/. */
#ifndef FV_IMAGE_H
#define FV_IMAGE_H

#include <stdint.h>

#include "../engine/status.h"

/* Largest image accepted: width and height each <= FV_IMAGE_MAX_DIM and at most
 * FV_IMAGE_MAX_PIXELS pixels, so sizes never overflow and a hostile header cannot make
 * us allocate gigabytes. */
#define FV_IMAGE_MAX_DIM 65535
#define FV_IMAGE_MAX_PIXELS (1L << 28)

typedef struct fv_image {
  int width, height;
  int channels;    /* 1 (gray) or 3 (RGB) */
  uint8_t *pixels; /* row-major HWC, width * height * channels bytes, owned */
} fv_image;

/* Decodes the file at path into img with want_channels (1 or 3) channels. On failure
 * img is left empty and err names the file and the cause. */
fv_status fv_image_load(const char *path, int want_channels, fv_image *img, fv_error *err);
void fv_image_free(fv_image *img);

/* Writes img as an 8-bit gray or RGB PNG. The file is written under a temporary name in
 * the same directory and renamed, so a reader never sees a partial file. */
fv_status fv_image_save_png(const char *path, const fv_image *img, fv_error *err);

/* A directory expands to its image files (extensions png, jpg, jpeg, webp, bmp, tif,
 * tiff in any case; not recursive), sorted by name; any other path is returned as is
 * (one entry) if it exists. A directory without images is an error. Free the list with
 * fv_image_list_free. */
fv_status fv_list_images(const char *path, char ***files, int *count, fv_error *err);
void fv_image_list_free(char **files, int count);

#endif
