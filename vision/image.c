/* image.c: PNG (libpng) and everything else (FFmpeg) into 8-bit gray or RGB; PNG out.
 *
 * The PNG path reproduces PIL 9.4's Image.open(p).convert('RGB' | 'L') byte for byte
 * (tests/test_image.c checks every colour type against PIL's bytes):
 *   - 16-bit RGB, RGBA and gray+alpha: PIL's unpackers keep the high byte of each sample,
 *     so we strip to 8 bits by truncation (png_set_strip_16), not by rounding.
 *   - 16-bit gray without alpha: PIL opens it as mode "I" (32-bit integers) and its I->L
 *     and I->RGB conversions clip to 0..255, so a typical 16-bit gray image comes out
 *     mostly white. That is surprising, but it is what the Python pipeline feeds the model,
 *     so we do the same (clip, not high byte).
 *   - alpha (and tRNS) is dropped, never composited; gamma and ICC chunks are ignored.
 *   - gray -> RGB replicates; RGB -> gray is PIL's fixed-point ITU-R 601-2 luma,
 *     (R*19595 + G*38470 + B*7471 + 0x8000) >> 16, checked against PIL on all 2^24 colours
 *     (the textbook R*299/1000 + ... with decimal rounding differs in 9040 of them).
 * The FFmpeg path decodes the first frame of the first video stream and converts with
 * swscale; for JPEG it differs from PIL/libjpeg by a few levels (IDCT and chroma upsampling),
 * which the tests measure.
 * Not done here: resizing, EXIF orientation, animated images beyond their first frame. */
#include "image.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fv_image_free(fv_image *img) {
  if (!img) return;
  free(img->pixels);
  memset(img, 0, sizeof *img);
}

static fv_status check_size(const char *path, long long w, long long h, fv_error *err) {
  if (w < 1 || h < 1 || w > FV_IMAGE_MAX_DIM || h > FV_IMAGE_MAX_DIM || w * h > FV_IMAGE_MAX_PIXELS)
    return fv_fail(err, "%s: image is %lldx%lld pixels, expected width and height in 1..%d and at most %ld pixels",
                   path, w, h, FV_IMAGE_MAX_DIM, (long)FV_IMAGE_MAX_PIXELS);
  return FV_OK;
}

/* PIL's L24 luma: exact integer formula, see the header comment. */
static uint8_t luma(unsigned r, unsigned g, unsigned b) {
  return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

/* Converts n pixels of src_channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; 8-bit) to
 * want channels (1 or 3), dropping alpha. dst must not overlap src. */
static void convert_pixels(const uint8_t *src, int src_channels, uint8_t *dst, int want, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const uint8_t *s = src + i * (size_t)src_channels;
    if (src_channels <= 2) {
      if (want == 1) {
        dst[i] = s[0];
      } else {
        dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = s[0];
      }
    } else if (want == 1) {
      dst[i] = luma(s[0], s[1], s[2]);
    } else {
      dst[3 * i] = s[0];
      dst[3 * i + 1] = s[1];
      dst[3 * i + 2] = s[2];
    }
  }
}

/* ---- PNG ------------------------------------------------------------------------------- */

/* libpng reports errors by calling this and expecting it not to return: we keep the
 * message and longjmp back to the setjmp in load_png/save_png. */
typedef struct png_context {
  jmp_buf jump;
  char message[256];
} png_context;

static void png_error_fn(png_structp png, png_const_charp msg) {
  png_context *ctx = png_get_error_ptr(png);
  snprintf(ctx->message, sizeof ctx->message, "%s", msg ? msg : "unknown libpng error");
  longjmp(ctx->jump, 1);
}

/* Warnings (bad ancillary chunk CRCs, unknown chunks) are not errors for PIL either;
 * nothing below apps/ prints, so they are dropped. */
static void png_warning_fn(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

/* Reads through stdio; a short read is reported as what it almost always is. */
static void png_read_fn(png_structp png, png_bytep data, png_size_t length) {
  FILE *f = png_get_io_ptr(png);
  if (fread(data, 1, length, f) != length) png_error(png, ferror(f) ? "read error" : "the file ends early (truncated)");
}

static fv_status load_png(const char *path, FILE *f, int want, fv_image *img, fv_error *err) {
  png_context ctx;
  ctx.message[0] = '\0';
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_fn, png_warning_fn);
  if (!png) return fv_fail(err, "%s: out of memory creating the PNG decoder", path);
  png_infop info = png_create_info_struct(png);
  /* Changed between setjmp and a possible longjmp, so volatile (C11 7.13.2.1). */
  uint8_t *volatile raw = NULL;
  png_bytep *volatile rows = NULL;
  uint8_t *volatile out = NULL;
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return fv_fail(err, "%s: out of memory creating the PNG decoder", path);
  }
  if (setjmp(ctx.jump)) {
    png_destroy_read_struct(&png, &info, NULL);
    free(raw);
    free(rows);
    free(out);
    return fv_fail(err, "%s: corrupt or truncated PNG: %s", path, ctx.message);
  }
  png_set_read_fn(png, f, png_read_fn);
  /* Our own limits are checked below with a clearer message; lift libpng's lower default
   * of 1,000,000 so that check is the one that fires. */
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_read_info(png, info);
  png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  int depth = png_get_bit_depth(png, info), color = png_get_color_type(png, info);
  if (check_size(path, w, h, err)) {
    png_destroy_read_struct(&png, &info, NULL);
    return FV_ERR;
  }
  /* 16-bit gray without alpha is clipped, not truncated (PIL mode "I"), so keep its
   * 16 bits; every other 16-bit type keeps the high byte. */
  int clip16 = depth == 16 && color == PNG_COLOR_TYPE_GRAY;
  if (depth == 16 && !clip16) png_set_strip_16(png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  /* After the transforms: 1..4 channels of 8 bits (16 for clip16). Whether libpng also
   * expanded tRNS into an alpha channel depends on the version; we drop alpha anyway. */
  int channels = png_get_channels(png, info);
  size_t rowbytes = png_get_rowbytes(png, info);
  if (channels < 1 || channels > 4 || rowbytes != (size_t)w * channels * (clip16 ? 2 : 1))
    png_error(png, "unexpected row layout after transforms");
  raw = malloc(rowbytes * h);
  rows = malloc(sizeof(png_bytep) * h);
  out = malloc((size_t)w * h * want);
  if (!raw || !rows || !out) png_error(png, "out of memory for the pixels");
  for (png_uint_32 y = 0; y < h; y++) rows[y] = raw + (size_t)y * rowbytes;
  png_read_image(png, rows);
  png_read_end(png, NULL);
  if (clip16) {
    /* Big-endian 16-bit samples, in place to 8-bit clipped values (PIL I -> L). */
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++) {
      unsigned v = ((unsigned)raw[2 * i] << 8) | raw[2 * i + 1];
      raw[i] = (uint8_t)(v > 255 ? 255 : v);
    }
  }
  convert_pixels(raw, channels, out, want, (size_t)w * h);
  png_destroy_read_struct(&png, &info, NULL);
  free(raw);
  free(rows);
  img->width = (int)w;
  img->height = (int)h;
  img->channels = want;
  img->pixels = out;
  return FV_OK;
}

/* ---- FFmpeg ---------------------------------------------------------------------------- */

static fv_status av_fail(fv_error *err, const char *path, const char *what, int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, buf, sizeof buf);
  return fv_fail(err, "%s: cannot decode image: %s: %s", path, what, buf);
}

/* Decodes the first frame of the best video stream into frame. */
static fv_status decode_first_frame(const char *path, AVFormatContext *fmt, AVCodecContext **codec_out, AVFrame *frame,
                                    fv_error *err) {
  int rc = avformat_find_stream_info(fmt, NULL);
  if (rc < 0) return av_fail(err, path, "reading stream info", rc);
  const AVCodec *codec = NULL;
  int stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (stream < 0 || !codec) return fv_fail(err, "%s: cannot decode image: no image stream with a known decoder", path);
  AVCodecContext *cc = avcodec_alloc_context3(codec);
  if (!cc) return fv_fail(err, "%s: out of memory creating the decoder", path);
  *codec_out = cc;
  rc = avcodec_parameters_to_context(cc, fmt->streams[stream]->codecpar);
  if (rc < 0) return av_fail(err, path, "copying codec parameters", rc);
  cc->thread_count = 1; /* images are small; threads would only make results order-dependent */
  /* Fail on damaged data as PIL does ("image file is truncated") instead of concealing it. */
  cc->err_recognition = AV_EF_EXPLODE | AV_EF_CRCCHECK | AV_EF_BITSTREAM;
  rc = avcodec_open2(cc, codec, NULL);
  if (rc < 0) return av_fail(err, path, "opening the decoder", rc);
  AVPacket *pkt = av_packet_alloc();
  if (!pkt) return fv_fail(err, "%s: out of memory for a packet", path);
  int flushed = 0;
  for (;;) {
    rc = avcodec_receive_frame(cc, frame);
    if (rc == 0) break;
    if (rc != AVERROR(EAGAIN) || flushed) {
      av_packet_free(&pkt);
      return rc == AVERROR_EOF ? fv_fail(err, "%s: cannot decode image: the file holds no complete frame", path)
                               : av_fail(err, path, "decoding", rc);
    }
    rc = av_read_frame(fmt, pkt);
    if (rc < 0) {
      flushed = 1;
      rc = avcodec_send_packet(cc, NULL);
    } else if (pkt->stream_index == stream) {
      rc = avcodec_send_packet(cc, pkt);
      av_packet_unref(pkt);
    } else {
      av_packet_unref(pkt);
      continue;
    }
    if (rc < 0 && rc != AVERROR_EOF) {
      av_packet_free(&pkt);
      return av_fail(err, path, "decoding", rc);
    }
  }
  av_packet_free(&pkt);
  return FV_OK;
}

/* swscale wants the plain YUV formats plus a full-range flag, not the deprecated YUVJ ones. */
static enum AVPixelFormat plain_format(enum AVPixelFormat f, int *full_range) {
  switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full_range = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full_range = 1; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full_range = 1; return AV_PIX_FMT_YUV411P;
    default: return f;
  }
}

/* ---- JPEG colour, as libjpeg does it ----------------------------------------------------
 * swscale's chroma upsampling differs from libjpeg's "fancy upsampling" by up to ~30 levels
 * at sharp colour edges, so for JPEG frames we upsample and convert like libjpeg (what PIL
 * uses), from the documented algorithm: each missing chroma sample is 3/4 of the nearest
 * and 1/4 of the next-nearest sample, per direction, with libjpeg's alternating rounding
 * bias, edges replicated; then ITU-R BT.601 full-range YCbCr -> RGB in 16-bit fixed point.
 * What remains is the IDCT (FFmpeg's vs libjpeg-turbo's), a level or two. */

/* floor(v / 65536) without relying on the implementation-defined shift of negatives. */
static int shift16(long v) { return (int)(v >= 0 ? v >> 16 : -((-v + 65535) >> 16)); }

static uint8_t clamp_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

#define JFIX(x) ((long)((x)*65536.0 + 0.5))

/* One chroma row upsampled horizontally by 2 (libjpeg h2v1 rule) or copied. `sum` holds
 * the vertically weighted column values (scale vs = 4 after a vertical 3:1 blend, else 1). */
static void upsample_row(const int *sum, int cw, int sx, int vs, uint8_t *dst, int width) {
  if (sx == 1) {
    for (int x = 0; x < width; x++) dst[x] = (uint8_t)sum[x]; /* vs is 1 here: no vertical 3:1 sums */
    return;
  }
  for (int x = 0; x < cw; x++) {
    int here = sum[x], left = sum[x > 0 ? x - 1 : 0], right = sum[x + 1 < cw ? x + 1 : cw - 1];
    int a, b;
    if (vs == 4) { /* h2v2: 16ths, biases 8 and 7 */
      a = (here * 3 + left + 8) >> 4;
      b = (here * 3 + right + 7) >> 4;
    } else { /* h2v1: quarters, biases 1 and 2 */
      a = (here * 3 + left + 1) >> 2;
      b = (here * 3 + right + 2) >> 2;
    }
    if (x == 0) a = vs == 4 ? (here * 4 + 8) >> 4 : here;
    if (x == cw - 1) b = vs == 4 ? (here * 4 + 7) >> 4 : here;
    if (2 * x < width) dst[2 * x] = (uint8_t)a;
    if (2 * x + 1 < width) dst[2 * x + 1] = (uint8_t)b;
  }
}

/* Upsamples one chroma plane (cw x ch, subsampled by sx, sy in {1, 2}) to width x height. */
static void upsample_plane(const uint8_t *src, int stride, int cw, int ch, int sx, int sy, uint8_t *dst, int width,
                           int height, int *sum) {
  for (int y = 0; y < height; y++) {
    int vs = 1;
    if (sy == 2) {
      int r = y / 2, nb = (y % 2 == 0) ? (r > 0 ? r - 1 : 0) : (r + 1 < ch ? r + 1 : ch - 1);
      const uint8_t *cur = src + (size_t)r * stride, *other = src + (size_t)nb * stride;
      if (sx == 2) {
        vs = 4; /* the horizontal step divides by 16 */
        for (int x = 0; x < cw; x++) sum[x] = cur[x] * 3 + other[x];
      } else { /* h1v2: rounding bias 1 on the upper row, 2 on the lower */
        for (int x = 0; x < cw; x++) sum[x] = (cur[x] * 3 + other[x] + (y % 2 == 0 ? 1 : 2)) >> 2;
      }
    } else {
      const uint8_t *cur = src + (size_t)y * stride;
      for (int x = 0; x < cw; x++) sum[x] = cur[x];
    }
    upsample_row(sum, cw, sx, vs, dst + (size_t)y * width, width);
  }
}

/* Handles the planar 8-bit YUV / gray frames the JPEG decoder produces; returns 0 (and
 * touches nothing) for any other layout, which then goes through swscale. */
static int jpeg_convert(const AVFrame *frame, int want, uint8_t *out, int *ok) {
  enum AVPixelFormat f = (enum AVPixelFormat)frame->format;
  int sx, sy, w = frame->width, h = frame->height;
  *ok = 1;
  if (f == AV_PIX_FMT_GRAY8) {
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        uint8_t v = frame->data[0][(size_t)y * frame->linesize[0] + x];
        if (want == 1) {
          out[(size_t)y * w + x] = v;
        } else {
          uint8_t *p = out + ((size_t)y * w + x) * 3;
          p[0] = p[1] = p[2] = v;
        }
      }
    return 1;
  }
  if (f == AV_PIX_FMT_YUVJ420P)
    sx = 2, sy = 2;
  else if (f == AV_PIX_FMT_YUVJ422P)
    sx = 2, sy = 1;
  else if (f == AV_PIX_FMT_YUVJ440P)
    sx = 1, sy = 2;
  else if (f == AV_PIX_FMT_YUVJ444P)
    sx = 1, sy = 1;
  else
    return 0;
  int cw = (w + sx - 1) / sx, ch = (h + sy - 1) / sy;
  size_t n = (size_t)w * h;
  uint8_t *cb = malloc(n), *cr = malloc(n);
  int *sum = malloc(sizeof *sum * (size_t)cw);
  if (!cb || !cr || !sum) {
    free(cb), free(cr), free(sum);
    *ok = 0;
    return 1;
  }
  upsample_plane(frame->data[1], frame->linesize[1], cw, ch, sx, sy, cb, w, h, sum);
  upsample_plane(frame->data[2], frame->linesize[2], cw, ch, sx, sy, cr, w, h, sum);
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      size_t i = (size_t)y * w + x;
      int Y = frame->data[0][(size_t)y * frame->linesize[0] + x], u = cb[i] - 128, v = cr[i] - 128;
      int r = clamp_u8(Y + shift16(JFIX(1.40200) * v + 32768));
      int g = clamp_u8(Y + shift16(-JFIX(0.34414) * u - JFIX(0.71414) * v + 32768));
      int b = clamp_u8(Y + shift16(JFIX(1.77200) * u + 32768));
      if (want == 1) {
        out[i] = luma((unsigned)r, (unsigned)g, (unsigned)b);
      } else {
        out[3 * i] = (uint8_t)r, out[3 * i + 1] = (uint8_t)g, out[3 * i + 2] = (uint8_t)b;
      }
    }
  }
  free(cb), free(cr), free(sum);
  return 1;
}

static fv_status convert_frame(const char *path, const AVFrame *frame, int is_jpeg, int want, fv_image *img,
                               fv_error *err) {
  if (check_size(path, frame->width, frame->height, err)) return FV_ERR;
  if (is_jpeg || frame->format == AV_PIX_FMT_GRAY8) {
    size_t n = (size_t)frame->width * frame->height * want;
    uint8_t *out = malloc(n);
    if (!out) return fv_fail(err, "%s: out of memory for %zu bytes of pixels", path, n);
    int ok = 1;
    if (jpeg_convert(frame, want, out, &ok)) {
      if (!ok) {
        free(out);
        return fv_fail(err, "%s: out of memory converting colours", path);
      }
      img->width = frame->width;
      img->height = frame->height;
      img->channels = want;
      img->pixels = out;
      return FV_OK;
    }
    free(out);
  }
  int full_range = frame->color_range == AVCOL_RANGE_JPEG;
  enum AVPixelFormat src = plain_format((enum AVPixelFormat)frame->format, &full_range);
  /* Always RGB: a gray result is then made with PIL's own luma formula (convert_pixels),
   * which swscale's RGB -> gray coefficients do not reproduce. */
  enum AVPixelFormat dst = AV_PIX_FMT_RGB24;
  struct SwsContext *sws = sws_alloc_context();
  if (!sws) return fv_fail(err, "%s: out of memory creating the pixel converter", path);
  /* Same size in and out: the flags only matter for chroma upsampling. JPEG chroma is
   * sited at the centre of each 2x2 block (chr_pos 128/256 of a luma pixel); bilinear
   * upsampling from there is libjpeg's "fancy upsampling", which PIL uses. */
  av_opt_set_int(sws, "srcw", frame->width, 0);
  av_opt_set_int(sws, "srch", frame->height, 0);
  av_opt_set_int(sws, "src_format", src, 0);
  av_opt_set_int(sws, "dstw", frame->width, 0);
  av_opt_set_int(sws, "dsth", frame->height, 0);
  av_opt_set_int(sws, "dst_format", dst, 0);
  av_opt_set_int(sws, "sws_flags", SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_BITEXACT, 0);
  av_opt_set_int(sws, "src_range", full_range, 0);
  av_opt_set_int(sws, "dst_range", 1, 0);
  if (src == AV_PIX_FMT_YUV420P || src == AV_PIX_FMT_YUV422P || src == AV_PIX_FMT_YUV440P) {
    av_opt_set_int(sws, "src_h_chr_pos", 128, 0);
    av_opt_set_int(sws, "src_v_chr_pos", 128, 0);
  }
  if (sws_init_context(sws, NULL, NULL) < 0) {
    sws_freeContext(sws);
    return fv_fail(err, "%s: cannot convert pixel format %s to %s", path,
                   av_get_pix_fmt_name((enum AVPixelFormat)frame->format), av_get_pix_fmt_name(dst));
  }
  size_t pixels = (size_t)frame->width * frame->height;
  uint8_t *out = malloc(pixels * 3);
  if (!out) {
    sws_freeContext(sws);
    return fv_fail(err, "%s: out of memory for %zu bytes of pixels", path, pixels * 3);
  }
  uint8_t *planes[4] = {out, NULL, NULL, NULL};
  int strides[4] = {frame->width * 3, 0, 0, 0};
  int rows = sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height, planes, strides);
  sws_freeContext(sws);
  if (rows != frame->height) {
    free(out);
    return fv_fail(err, "%s: pixel conversion from %s produced %d of %d rows", path,
                   av_get_pix_fmt_name((enum AVPixelFormat)frame->format), rows, frame->height);
  }
  if (want == 1) {
    /* In place is safe: gray pixel i is written after RGB pixel i has been read. */
    for (size_t i = 0; i < pixels; i++) out[i] = luma(out[3 * i], out[3 * i + 1], out[3 * i + 2]);
  }
  img->width = frame->width;
  img->height = frame->height;
  img->channels = want;
  img->pixels = out;
  return FV_OK;
}

static fv_status load_ffmpeg(const char *path, int want, fv_image *img, fv_error *err) {
  AVFormatContext *fmt = NULL;
  AVDictionary *opts = NULL;
  /* A '%' in a file name would otherwise make the image2 demuxer treat it as a pattern. */
  av_dict_set(&opts, "pattern_type", "none", 0);
  int rc = avformat_open_input(&fmt, path, NULL, &opts);
  av_dict_free(&opts);
  if (rc < 0) return av_fail(err, path, "unrecognised or corrupt file", rc);
  AVCodecContext *cc = NULL;
  AVFrame *frame = av_frame_alloc();
  fv_status st =
      frame ? decode_first_frame(path, fmt, &cc, frame, err) : fv_fail(err, "%s: out of memory for a frame", path);
  if (st == FV_OK) st = convert_frame(path, frame, cc->codec_id == AV_CODEC_ID_MJPEG, want, img, err);
  av_frame_free(&frame);
  avcodec_free_context(&cc);
  avformat_close_input(&fmt);
  return st;
}

fv_status fv_image_load(const char *path, int want_channels, fv_image *img, fv_error *err) {
  memset(img, 0, sizeof *img);
  if (want_channels != 1 && want_channels != 3)
    return fv_fail(err, "%s: %d channels requested, expected 1 (gray) or 3 (RGB)", path, want_channels);
  FILE *f = fopen(path, "rb");
  if (!f) return fv_fail(err, "%s: cannot open: %s", path, strerror(errno));
  uint8_t sig[8];
  size_t got = fread(sig, 1, sizeof sig, f);
  if (got == 0) {
    fclose(f);
    return fv_fail(err, "%s: the file is empty, expected an image", path);
  }
  fv_status st;
  if (got == sizeof sig && png_sig_cmp(sig, 0, sizeof sig) == 0) {
    rewind(f);
    st = load_png(path, f, want_channels, img, err);
    fclose(f);
  } else {
    fclose(f);
    st = load_ffmpeg(path, want_channels, img, err);
  }
  return st;
}

/* ---- PNG writing ------------------------------------------------------------------------ */

static fv_status write_png_file(const char *path, FILE *f, const fv_image *img, fv_error *err) {
  png_context ctx;
  ctx.message[0] = '\0';
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_fn, png_warning_fn);
  if (!png) return fv_fail(err, "%s: out of memory creating the PNG encoder", path);
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return fv_fail(err, "%s: out of memory creating the PNG encoder", path);
  }
  if (setjmp(ctx.jump)) {
    png_destroy_write_struct(&png, &info);
    return fv_fail(err, "%s: writing PNG failed: %s", path, ctx.message);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
               img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  size_t stride = (size_t)img->width * img->channels;
  for (int y = 0; y < img->height; y++) png_write_row(png, img->pixels + (size_t)y * stride);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return FV_OK;
}

fv_status fv_image_save_png(const char *path, const fv_image *img, fv_error *err) {
  if (!img || !img->pixels || (img->channels != 1 && img->channels != 3))
    return fv_fail(err, "%s: cannot save: image must have pixels and 1 or 3 channels, got %d", path,
                   img ? img->channels : 0);
  if (check_size(path, img->width, img->height, err)) return FV_ERR;
  size_t len = strlen(path);
  char *tmp = malloc(len + 16);
  if (!tmp) return fv_fail(err, "%s: out of memory", path);
  snprintf(tmp, len + 16, "%s.tmp-XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    fv_status st = fv_fail(err, "%s: cannot create temporary file %s: %s", path, tmp, strerror(errno));
    free(tmp);
    return st;
  }
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    fv_status st = fv_fail(err, "%s: cannot open temporary file %s: %s", path, tmp, strerror(errno));
    close(fd);
    unlink(tmp);
    free(tmp);
    return st;
  }
  fv_status st = write_png_file(path, f, img, err);
  /* fclose reports a full disk that buffered writes hid. */
  if (fclose(f) != 0 && st == FV_OK) st = fv_fail(err, "%s: writing failed: %s", path, strerror(errno));
  if (st == FV_OK && rename(tmp, path) != 0)
    st = fv_fail(err, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
  if (st != FV_OK) unlink(tmp);
  free(tmp);
  return st;
}

/* ---- listing ---------------------------------------------------------------------------- */

static int has_image_extension(const char *name) {
  static const char *const exts[] = {"png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff"};
  const char *dot = strrchr(name, '.');
  if (!dot || dot == name) return 0;
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
    const char *a = dot + 1, *b = exts[i];
    while (*a && *b && tolower((unsigned char)*a) == *b) a++, b++;
    if (!*a && !*b) return 1;
  }
  return 0;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void fv_image_list_free(char **files, int count) {
  if (!files) return;
  for (int i = 0; i < count; i++) free(files[i]);
  free(files);
}

fv_status fv_list_images(const char *path, char ***files, int *count, fv_error *err) {
  *files = NULL;
  *count = 0;
  struct stat st;
  if (stat(path, &st) != 0) return fv_fail(err, "%s: cannot access: %s", path, strerror(errno));
  if (!S_ISDIR(st.st_mode)) {
    char **one = malloc(sizeof *one);
    if (one) one[0] = strdup(path);
    if (!one || !one[0]) {
      free(one);
      return fv_fail(err, "%s: out of memory", path);
    }
    *files = one;
    *count = 1;
    return FV_OK;
  }
  DIR *dir = opendir(path);
  if (!dir) return fv_fail(err, "%s: cannot read directory: %s", path, strerror(errno));
  char **list = NULL;
  int n = 0, cap = 0;
  size_t plen = strlen(path);
  int slash = plen > 0 && path[plen - 1] == '/';
  struct dirent *e;
  fv_status status = FV_OK;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.' || !has_image_extension(e->d_name)) continue;
    size_t len = plen + 1 + strlen(e->d_name) + 1;
    char *full = malloc(len);
    if (!full) {
      status = fv_fail(err, "%s: out of memory listing the directory", path);
      break;
    }
    snprintf(full, len, "%s%s%s", path, slash ? "" : "/", e->d_name);
    struct stat fst;
    if (stat(full, &fst) != 0 || !S_ISREG(fst.st_mode)) { /* a directory named x.png, a dangling link */
      free(full);
      continue;
    }
    if (n == cap) {
      int ncap = cap ? cap * 2 : 16;
      char **grown = ncap > cap ? realloc(list, sizeof *list * (size_t)ncap) : NULL;
      if (!grown) {
        free(full);
        status = fv_fail(err, "%s: out of memory listing the directory", path);
        break;
      }
      list = grown;
      cap = ncap;
    }
    list[n++] = full;
  }
  closedir(dir);
  if (status == FV_OK && n == 0)
    status = fv_fail(err,
                     "%s: directory contains no image files (expected .png, .jpg, .jpeg, .webp, .bmp, .tif "
                     "or .tiff)",
                     path);
  if (status != FV_OK) {
    fv_image_list_free(list, n);
    return status;
  }
  qsort(list, (size_t)n, sizeof *list, compare_names);
  *files = list;
  *count = n;
  return FV_OK;
}
