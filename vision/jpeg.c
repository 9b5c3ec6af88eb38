/* jpeg.c: libjpeg-turbo encode/decode in memory with Pillow's default settings (see jpeg.h).
 *
 * libjpeg reports fatal errors through error_exit, which by default calls exit(); here it
 * longjmps back to the caller, which turns the library's message into an fv_error. Every
 * object that must survive the longjmp (the codec structs, the memory buffer) lives in a
 * struct that outlives the setjmp frame, so no automatic variable is read after a jump. */
#include "jpeg.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>

#include "../engine/file.h"

typedef struct jpeg_fail {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
} jpeg_fail;

static void on_error_exit(j_common_ptr cinfo) {
  jpeg_fail *f = (jpeg_fail *)cinfo->err;
  f->mgr.format_message(cinfo, f->msg);
  longjmp(f->jump, 1);
}

/* Warnings (corrupt-data notices on decode) are not errors for us; keep stderr clean. */
static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static fv_status check_image(const char *what, const fv_image *img, int quality, fv_error *err) {
  if (!img || !img->pixels || (img->channels != 1 && img->channels != 3))
    return fv_fail(err, "%s: image must have pixels and 1 or 3 channels, got %d", what, img ? img->channels : 0);
  /* JPEG's frame header stores 16-bit sizes and libjpeg refuses more than 65500 per side. */
  if (img->width < 1 || img->height < 1 || img->width > (int)JPEG_MAX_DIMENSION ||
      img->height > (int)JPEG_MAX_DIMENSION)
    return fv_fail(err, "%s: image size %dx%d is outside JPEG's 1..%d", what, img->width, img->height,
                   (int)JPEG_MAX_DIMENSION);
  if (quality < 1 || quality > 100) return fv_fail(err, "%s: JPEG quality %d is outside 1..100", what, quality);
  return FV_OK;
}

typedef struct encoder {
  struct jpeg_compress_struct c;
  jpeg_fail fail;
  unsigned char *buf;
  unsigned long len;
} encoder;

static fv_status encode(const char *what, const fv_image *img, int quality, int optimize, encoder *e, fv_error *err) {
  memset(e, 0, sizeof *e);
  e->c.err = jpeg_std_error(&e->fail.mgr);
  e->fail.mgr.error_exit = on_error_exit;
  e->fail.mgr.output_message = on_output_message;
  if (setjmp(e->fail.jump)) {
    jpeg_destroy_compress(&e->c);
    free(e->buf);
    e->buf = NULL;
    return fv_fail(err, "%s: JPEG encoding failed: %s", what, e->fail.msg);
  }
  jpeg_create_compress(&e->c);
  jpeg_mem_dest(&e->c, &e->buf, &e->len);
  e->c.image_width = (JDIMENSION)img->width;
  e->c.image_height = (JDIMENSION)img->height;
  e->c.input_components = img->channels;
  e->c.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  /* Defaults: YCbCr with 2x2 luma sampling (4:2:0), ISLOW, Huffman tables from the standard. */
  jpeg_set_defaults(&e->c);
  jpeg_set_quality(&e->c, quality, TRUE);
  e->c.dct_method = JDCT_ISLOW;
  e->c.optimize_coding = optimize ? TRUE : FALSE;
  jpeg_start_compress(&e->c, TRUE);
  size_t stride = (size_t)img->width * (size_t)img->channels;
  while (e->c.next_scanline < e->c.image_height) {
    JSAMPROW row = (JSAMPROW)(img->pixels + (size_t)e->c.next_scanline * stride);
    jpeg_write_scanlines(&e->c, &row, 1);
  }
  jpeg_finish_compress(&e->c);
  jpeg_destroy_compress(&e->c);
  return FV_OK;
}

typedef struct decoder {
  struct jpeg_decompress_struct d;
  jpeg_fail fail;
  uint8_t *pixels;
} decoder;

static fv_status decode(const char *what, const unsigned char *buf, unsigned long len, int channels, int expect_w,
                        int expect_h, decoder *dc, fv_image *out, fv_error *err) {
  memset(dc, 0, sizeof *dc);
  dc->d.err = jpeg_std_error(&dc->fail.mgr);
  dc->fail.mgr.error_exit = on_error_exit;
  dc->fail.mgr.output_message = on_output_message;
  if (setjmp(dc->fail.jump)) {
    jpeg_destroy_decompress(&dc->d);
    free(dc->pixels);
    dc->pixels = NULL;
    return fv_fail(err, "%s: JPEG decoding failed: %s", what, dc->fail.msg);
  }
  jpeg_create_decompress(&dc->d);
  jpeg_mem_src(&dc->d, buf, len);
  jpeg_read_header(&dc->d, TRUE);
  dc->d.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  dc->d.dct_method = JDCT_ISLOW;
  dc->d.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&dc->d);
  int ow = (int)dc->d.output_width, oh = (int)dc->d.output_height, oc = dc->d.output_components;
  /* expect_w == 0: any size within image.h's limits. (Parameters are not reassigned after
   * setjmp, so nothing here can be clobbered by the longjmp.) */
  if (expect_w == 0 && (ow > FV_IMAGE_MAX_DIM || oh > FV_IMAGE_MAX_DIM || (long)ow * oh > FV_IMAGE_MAX_PIXELS)) {
    jpeg_destroy_decompress(&dc->d);
    return fv_fail(err, "%s: JPEG is %dx%d, larger than the %dx%d / %ld-pixel limit", what, ow, oh, FV_IMAGE_MAX_DIM,
                   FV_IMAGE_MAX_DIM, (long)FV_IMAGE_MAX_PIXELS);
  }
  int width = expect_w ? expect_w : ow, height = expect_w ? expect_h : oh;
  if (ow != width || oh != height || oc != channels) {
    jpeg_destroy_decompress(&dc->d);
    return fv_fail(err, "%s: decoded JPEG is %dx%dx%d, expected %dx%dx%d", what, ow, oh, oc, width, height, channels);
  }
  size_t stride = (size_t)width * (size_t)channels;
  dc->pixels = malloc(stride * (size_t)height);
  if (!dc->pixels) {
    jpeg_destroy_decompress(&dc->d);
    return fv_fail(err, "%s: out of memory for a %dx%d image", what, width, height);
  }
  while (dc->d.output_scanline < dc->d.output_height) {
    JSAMPROW row = dc->pixels + (size_t)dc->d.output_scanline * stride;
    jpeg_read_scanlines(&dc->d, &row, 1);
  }
  jpeg_finish_decompress(&dc->d);
  jpeg_destroy_decompress(&dc->d);
  out->width = width;
  out->height = height;
  out->channels = channels;
  out->pixels = dc->pixels;
  dc->pixels = NULL;
  return FV_OK;
}

fv_status fv_jpeg_roundtrip(const fv_image *in, int quality, fv_image *out, fv_error *err) {
  memset(out, 0, sizeof *out);
  if (check_image("jpeg round trip", in, quality, err)) return FV_ERR;
  encoder *e = malloc(sizeof *e);
  decoder *d = malloc(sizeof *d);
  fv_status st = FV_ERR;
  if (!e || !d) {
    st = fv_fail(err, "jpeg round trip: out of memory");
  } else if (encode("jpeg round trip", in, quality, 0, e, err) == FV_OK) {
    st = decode("jpeg round trip", e->buf, e->len, in->channels, in->width, in->height, d, out, err);
    free(e->buf);
  }
  free(e);
  free(d);
  return st;
}

fv_status fv_jpeg_save(const char *path, const fv_image *img, int quality, int optimize, fv_error *err) {
  if (check_image(path, img, quality, err)) return FV_ERR;
  encoder *e = malloc(sizeof *e);
  if (!e) return fv_fail(err, "%s: out of memory", path);
  if (encode(path, img, quality, optimize, e, err)) {
    free(e);
    return FV_ERR;
  }
  unsigned char *buf = e->buf;
  size_t len = e->len;
  free(e);
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) {
    free(buf);
    return fv_fail(err, "%s: out of memory", path);
  }
  snprintf(tmp, plen + 16, "%s.tmp-XXXXXX", path);
  fv_status st = FV_OK;
  int fd = mkstemp(tmp);
  if (fd < 0) {
    st = fv_fail(err, "%s: cannot create temporary file %s: %s", path, tmp, strerror(errno));
    free(tmp);
    free(buf);
    return st;
  }
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    st = fv_fail(err, "%s: cannot open temporary file %s: %s", path, tmp, strerror(errno));
    close(fd);
  } else {
    if (fwrite(buf, 1, len, f) != len) st = fv_fail(err, "%s: writing failed: %s", path, strerror(errno));
    /* fclose reports a full disk that buffered writes hid. */
    if (fclose(f) != 0 && st == FV_OK) st = fv_fail(err, "%s: writing failed: %s", path, strerror(errno));
  }
  if (st == FV_OK && rename(tmp, path) != 0)
    st = fv_fail(err, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
  if (st != FV_OK) unlink(tmp);
  free(tmp);
  free(buf);
  return st;
}

fv_status fv_jpeg_load(const char *path, int want_channels, fv_image *img, fv_error *err) {
  memset(img, 0, sizeof *img);
  if (want_channels != 1 && want_channels != 3)
    return fv_fail(err, "%s: can decode to 1 or 3 channels, not %d", path, want_channels);
  char *bytes = NULL;
  size_t len = 0;
  if (fv_read_file(path, (size_t)1 << 30, &bytes, &len, err)) return FV_ERR;
  decoder *d = malloc(sizeof *d);
  fv_status st;
  if (!d)
    st = fv_fail(err, "%s: out of memory", path);
  else
    st = decode(path, (const unsigned char *)bytes, (unsigned long)len, want_channels, 0, 0, d, img, err);
  free(d);
  free(bytes);
  return st;
}
