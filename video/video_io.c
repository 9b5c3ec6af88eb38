/* video_io.c: FFmpeg 5.1 demux/decode/convert and encode/mux for Fovea (see video_io.h).
 *
 * The call sequences follow shared/design/methods/video_dit.md section 8 (FFmpeg C API notes):
 * receive before send, drain decoder and encoder at the end, read the stream time base back
 * after the header is written, free in reverse order. This file does not thread anything itself
 * beyond FFmpeg's own codec threads. */
#include "video_io.h"

#include <dirent.h>
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *av_err(int code, char *buf, size_t size) {
  av_strerror(code, buf, size);
  return buf;
}
#define AVERR(code) av_err((code), (char[AV_ERROR_MAX_STRING_SIZE]){0}, AV_ERROR_MAX_STRING_SIZE)

void fv_video_unit_clear(fv_video_unit *u) {
  fv_image_free(&u->image);
  av_frame_free(&u->frame);
  av_packet_free(&u->packet);
  memset(u, 0, sizeof *u);
}

/* ---- reading ------------------------------------------------------------------------------ */

struct fv_video_reader {
  char *path;
  AVFormatContext *fmt;
  AVCodecContext *dec;
  int stream;
  unsigned char *copy; /* per input stream: deliver its packets as COPY units */
  unsigned n_streams;  /* at open; demuxers like MPEG-TS may add streams later, never copied */
  int read_retries;    /* consecutive EAGAIN from the demuxer */
  int bad_in_a_row;    /* ERROR units since the last good frame */
  AVPacket *pkt;
  AVFrame *frame;
  struct SwsContext *sws;
  int want_channels; /* 0: the source's own */
  int draining, ended, end_checked;
  long next_index;
  double last_time, max_step; /* of decoded frames, for the early-end check */
  double announced_end;       /* seconds: where the header says the video ends; 0 = unknown */
  fv_video_info info;
};

static int is_gray_format(int f) {
  const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
  return d && d->nb_components <= 2 && !(d->flags & AV_PIX_FMT_FLAG_PAL) && !(d->flags & AV_PIX_FMT_FLAG_RGB);
}

fv_status fv_video_reader_open(const char *path, int channels, int copy_audio, fv_video_reader **out, fv_error *err) {
  *out = NULL;
  if (channels != 0 && channels != 1 && channels != 3)
    return fv_fail(err, "%s: channels must be 0, 1 or 3, got %d", path, channels);
  fv_video_reader *r = calloc(1, sizeof *r);
  if (!r || !(r->path = strdup(path))) {
    free(r);
    return fv_fail(err, "%s: out of memory", path);
  }
  r->want_channels = channels;
  int ret = avformat_open_input(&r->fmt, path, NULL, NULL);
  if (ret == AVERROR_EOF) {
    fv_fail(err, "%s: the file ends before any video frame (empty or truncated)", path);
    goto fail;
  }
  if (ret < 0) {
    fv_fail(err, "%s: cannot open as a video: %s", path, AVERR(ret));
    goto fail;
  }
  if ((ret = avformat_find_stream_info(r->fmt, NULL)) == AVERROR_EOF) {
    fv_fail(err, "%s: the file ends before any video frame (empty or truncated)", path);
    goto fail;
  }
  if (ret < 0) {
    fv_fail(err, "%s: cannot read stream information: %s", path, AVERR(ret));
    goto fail;
  }
  const AVCodec *codec = NULL;
  r->stream = av_find_best_stream(r->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (r->stream == AVERROR_STREAM_NOT_FOUND) {
    fv_fail(err, "%s: no video stream", path);
    goto fail;
  }
  if (r->stream < 0 || !codec) {
    const AVStream *vs = NULL;
    for (unsigned i = 0; i < r->fmt->nb_streams; i++)
      if (r->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) vs = r->fmt->streams[i];
    fv_fail(err, "%s: this FFmpeg build has no decoder for the video stream (codec %s)", path,
            vs ? avcodec_get_name(vs->codecpar->codec_id) : "unknown");
    goto fail;
  }
  AVStream *st = r->fmt->streams[r->stream];
  if (!(r->dec = avcodec_alloc_context3(codec)) || !(r->pkt = av_packet_alloc()) || !(r->frame = av_frame_alloc()) ||
      !(r->copy = calloc(r->fmt->nb_streams + 1, 1))) {
    fv_fail(err, "%s: out of memory", path);
    goto fail;
  }
  if ((ret = avcodec_parameters_to_context(r->dec, st->codecpar)) < 0) {
    fv_fail(err, "%s: bad codec parameters: %s", path, AVERR(ret));
    goto fail;
  }
  r->dec->pkt_timebase = st->time_base;
  r->dec->thread_count = 0; /* one per core */
  r->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  /* A decoder that detects damage (CRC, bitstream errors) returns an error instead of guessing,
   * so damaged frames are counted and dropped rather than written as garbage. */
  r->dec->err_recognition |= AV_EF_CRCCHECK | AV_EF_EXPLODE;
  if ((ret = avcodec_open2(r->dec, codec, NULL)) < 0) {
    fv_fail(err, "%s: cannot open the %s decoder: %s", path, codec->name, AVERR(ret));
    goto fail;
  }
  r->n_streams = r->fmt->nb_streams;
  for (unsigned i = 0; i < r->n_streams; i++) {
    r->copy[i] = copy_audio && r->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
    r->info.copy_streams += r->copy[i];
    /* Other streams are not read further than the demuxer needs to. */
    if ((int)i != r->stream && !r->copy[i]) r->fmt->streams[i]->discard = AVDISCARD_ALL;
  }
  fv_video_info *in = &r->info;
  in->width = r->dec->width;
  in->height = r->dec->height;
  in->tb_num = st->time_base.num;
  in->tb_den = st->time_base.den;
  in->codec = codec->name;
  in->pix_fmt = r->dec->pix_fmt != AV_PIX_FMT_NONE ? av_get_pix_fmt_name(r->dec->pix_fmt) : "unknown";
  in->start_time = r->fmt->start_time != AV_NOPTS_VALUE ? (double)r->fmt->start_time / AV_TIME_BASE : 0;
  if (st->duration > 0 && st->duration != AV_NOPTS_VALUE) { /* the video stream's own (mp4, avi) */
    in->duration = (double)st->duration * av_q2d(st->time_base);
    double start = st->start_time != AV_NOPTS_VALUE ? (double)st->start_time * av_q2d(st->time_base) : 0;
    r->announced_end = start + in->duration;
  } else if (r->fmt->duration > 0) { /* the container's, all streams (mkv) */
    in->duration = (double)r->fmt->duration / AV_TIME_BASE;
    r->announced_end = in->start_time + in->duration;
  }
  in->frames_estimate = st->nb_frames > 0 ? (long)st->nb_frames : 0;
  if (in->frames_estimate == 0 && in->duration > 0) {
    AVRational fr = av_guess_frame_rate(r->fmt, st, NULL);
    if (fr.num > 0 && fr.den > 0) in->frames_estimate = (long)(in->duration * av_q2d(fr) + 0.5);
  }
  in->channels = channels ? channels : (r->dec->pix_fmt != AV_PIX_FMT_NONE && is_gray_format(r->dec->pix_fmt) ? 1 : 3);
  if (in->width <= 0 || in->height <= 0) {
    fv_fail(err, "%s: the video stream has no frame size (%dx%d)", path, in->width, in->height);
    goto fail;
  }
  *out = r;
  return FV_OK;
fail:
  fv_video_reader_close(r);
  return FV_ERR;
}

void fv_video_reader_close(fv_video_reader *r) {
  if (!r) return;
  sws_freeContext(r->sws);
  av_frame_free(&r->frame);
  av_packet_free(&r->pkt);
  avcodec_free_context(&r->dec);
  avformat_close_input(&r->fmt);
  free(r->copy);
  free(r->path);
  free(r);
}

const fv_video_info *fv_video_reader_info(const fv_video_reader *r) { return &r->info; }

/* An ERROR unit: "PATH: frame N: cause", N being the index the next good frame gets. */
static void set_error(fv_video_unit *u, fv_video_reader *r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(fv_video_unit *u, fv_video_reader *r, const char *fmt, ...) {
  /* A file of garbage can make every packet fail: stop after this many in a row, so a hostile input
   * costs bounded time and output. */
  if (++r->bad_in_a_row >= 1000) {
    r->ended = r->end_checked = 1;
    fmt = "1000 decode errors in a row; giving up on the rest of the file";
  }
  u->kind = FV_VIDEO_ERROR;
  u->index = r->next_index;
  int n = snprintf(u->message, sizeof u->message, "%s: frame %ld: ", r->path, r->next_index);
  if (n < 0 || (size_t)n >= sizeof u->message) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(u->message + n, sizeof u->message - (size_t)n, fmt, ap);
  va_end(ap);
}

/* Converts a decoded frame into 8-bit gray or RGB pixels. Formats that already are what we want
 * are copied row by row, so 8-bit gray and RGB sources stay bit-exact. */
static fv_status frame_to_image(fv_video_reader *r, const AVFrame *f, fv_image *img, fv_error *err) {
  int w = f->width, h = f->height, c = r->info.channels;
  if (w <= 0 || h <= 0 || w > FV_IMAGE_MAX_DIM || h > FV_IMAGE_MAX_DIM || (long)w * h > FV_IMAGE_MAX_PIXELS)
    return fv_fail(err, "%s: frame size %dx%d outside 1..%d", r->path, w, h, FV_IMAGE_MAX_DIM);
  enum AVPixelFormat dst = c == 1 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
  img->pixels = malloc((size_t)w * h * c);
  if (!img->pixels) return fv_fail(err, "%s: out of memory for a %dx%d frame", r->path, w, h);
  img->width = w;
  img->height = h;
  img->channels = c;
  if (f->format == dst) {
    for (int y = 0; y < h; y++)
      memcpy(img->pixels + (size_t)y * w * c, f->data[0] + (size_t)y * f->linesize[0], (size_t)w * c);
    return FV_OK;
  }
  r->sws =
      sws_getCachedContext(r->sws, w, h, f->format, w, h, dst,
                           SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP, NULL, NULL, NULL);
  if (!r->sws) {
    fv_image_free(img);
    return fv_fail(err, "%s: cannot convert %s frames to %s", r->path, av_get_pix_fmt_name(f->format),
                   av_get_pix_fmt_name(dst));
  }
  const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
  if (d && !(d->flags & AV_PIX_FMT_FLAG_RGB) && d->nb_components >= 3) {
    /* libswscale assumes BT.601 limited range unless told: follow what the stream says. */
    int cs = f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601;
    int full = f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P ||
               f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P;
    sws_setColorspaceDetails(r->sws, sws_getCoefficients(cs), full, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16,
                             1 << 16);
  }
  uint8_t *dst_data[4] = {img->pixels, NULL, NULL, NULL};
  int dst_linesize[4] = {w * c, 0, 0, 0};
  sws_scale(r->sws, (const uint8_t *const *)f->data, f->linesize, 0, h, dst_data, dst_linesize);
  return FV_OK;
}

/* Demuxers stop quietly at the last complete packet of a truncated file (Matroska does), so a
 * file that ends well before the duration its header announces is reported as damaged: once,
 * when the last frame is more than two frame steps and a quarter second short of the end. */
static int early_end(fv_video_reader *r, fv_video_unit *u) {
  /* (set_error may end the reader itself; end_checked then stops a second message.) */
  if (r->end_checked) return 0;
  r->end_checked = 1;
  double end = r->announced_end;
  if (end <= 0 || r->next_index == 0 || r->last_time + 2 * r->max_step + 0.25 >= end) return 0;
  set_error(u, r, "the video ends at %.3f s but the file announces %.3f s: truncated or damaged, later frames are lost",
            r->last_time, end);
  return 1;
}

fv_status fv_video_read(fv_video_reader *r, fv_video_unit *u, fv_error *err) {
  memset(u, 0, sizeof *u);
  for (;;) {
    if (r->ended) {
      u->kind = FV_VIDEO_END;
      return FV_OK;
    }
    int ret = avcodec_receive_frame(r->dec, r->frame);
    if (ret == 0) {
      AVFrame *f = r->frame;
      if ((f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags) {
        set_error(u, r, "the decoder marked the frame as damaged (pts %lld)", (long long)f->best_effort_timestamp);
        av_frame_unref(f);
        return FV_OK;
      }
      if (f->width <= 0 || f->height <= 0 || f->width > FV_IMAGE_MAX_DIM || f->height > FV_IMAGE_MAX_DIM ||
          (long)f->width * f->height > FV_IMAGE_MAX_PIXELS) {
        set_error(u, r, "frame size %dx%d outside 1..%d", f->width, f->height, FV_IMAGE_MAX_DIM);
        av_frame_unref(f);
        return FV_OK;
      }
      u->kind = FV_VIDEO_FRAME;
      u->index = r->next_index++;
      r->bad_in_a_row = 0;
      u->pts = f->best_effort_timestamp == AV_NOPTS_VALUE ? FV_VIDEO_NO_PTS : f->best_effort_timestamp;
      u->pts_time = u->pts == FV_VIDEO_NO_PTS ? NAN : (double)u->pts * r->info.tb_num / r->info.tb_den;
      if (!isnan(u->pts_time)) {
        if (u->index > 0 && u->pts_time - r->last_time > r->max_step) r->max_step = u->pts_time - r->last_time;
        r->last_time = u->pts_time;
      }
      if (!(u->frame = av_frame_alloc())) return fv_fail(err, "%s: out of memory", r->path);
      av_frame_move_ref(u->frame, f);
      if (frame_to_image(r, u->frame, &u->image, err)) {
        fv_video_unit_clear(u);
        return FV_ERR;
      }
      return FV_OK;
    }
    if (ret == AVERROR_EOF) {
      r->ended = 1;
      if (early_end(r, u)) return FV_OK;
      continue;
    }
    if (ret != AVERROR(EAGAIN)) {
      /* A frame the decoder gave up on (with frame threading the error surfaces here). */
      set_error(u, r, "could not be decoded: %s", AVERR(ret));
      return FV_OK;
    }
    if (r->draining) { /* EAGAIN after a flush: the decoder has nothing more */
      r->ended = 1;
      if (early_end(r, u)) return FV_OK;
      continue;
    }
    ret = av_read_frame(r->fmt, r->pkt);
    if (ret == AVERROR(EAGAIN) && r->read_retries++ < 1000) { /* no data yet (pipes, some demuxers) */
      usleep(1000);
      continue;
    }
    r->read_retries = 0;
    if (ret < 0) { /* as ffmpeg(1) does, any read error ends the input */
      r->draining = 1;
      avcodec_send_packet(r->dec, NULL);
      if (ret != AVERROR_EOF) {
        set_error(u, r, "reading stopped at byte %lld: %s", r->fmt->pb ? (long long)avio_tell(r->fmt->pb) : -1LL,
                  AVERR(ret));
        return FV_OK;
      }
      continue;
    }
    if (r->pkt->stream_index == r->stream) {
      int64_t pts = r->pkt->pts;
      ret = avcodec_send_packet(r->dec, r->pkt);
      av_packet_unref(r->pkt);
      if (ret < 0 && ret != AVERROR(EAGAIN)) {
        set_error(u, r, "packet (pts %lld) could not be decoded: %s", (long long)pts, AVERR(ret));
        return FV_OK;
      }
      continue;
    }
    if (r->pkt->stream_index >= 0 && (unsigned)r->pkt->stream_index < r->n_streams && r->copy[r->pkt->stream_index]) {
      if (!(u->packet = av_packet_alloc())) {
        av_packet_unref(r->pkt);
        return fv_fail(err, "%s: out of memory", r->path);
      }
      av_packet_move_ref(u->packet, r->pkt);
      u->kind = FV_VIDEO_COPY;
      return FV_OK;
    }
    av_packet_unref(r->pkt);
  }
}

/* ---- writing ------------------------------------------------------------------------------ */

struct fv_video_writer {
  char *path; /* final name (a pattern for sequences) */
  char *tmp;  /* container: temporary file; sequence: temporary directory */
  int sequence;
  const fv_video_reader *src;
  AVFormatContext *fmt;
  AVCodecContext *enc;
  AVStream *st;
  int *map;           /* input stream -> output stream index, or -1 */
  AVRational *map_tb; /* input stream time bases, copied at open: the demuxer runs on another thread */
  unsigned n_map;
  AVPacket *pkt;
  AVFrame *conv; /* converted frame in the encoder's format */
  struct SwsContext *sws;
  int rgb_tags; /* encoder input comes from RGB/gray pixels: tag BT.709 */
  int64_t last_pts;
  long frames;
  FILE *stamps; /* sequence: the timestamps file (in the temporary directory) */
  char *stamps_name;
  int finished;
};

int fv_video_is_sequence(const char *path) {
  char buf[4096];
  return av_get_frame_filename(buf, sizeof buf, path, 1) == 0;
}

static const char *extension(const char *path) {
  const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
  return dot && (!slash || dot > slash) ? dot + 1 : "";
}

int fv_video_output_supported(const char *path) {
  const char *ext = extension(path);
  if (fv_video_is_sequence(path)) return strcasecmp(ext, "png") == 0;
  return strcasecmp(ext, "mp4") == 0 || strcasecmp(ext, "mkv") == 0 || strcasecmp(ext, "webm") == 0;
}

static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

static int supports_format(const AVCodec *c, enum AVPixelFormat f) {
  if (!c->pix_fmts) return 0;
  for (const enum AVPixelFormat *p = c->pix_fmts; *p != AV_PIX_FMT_NONE; p++)
    if (*p == f) return 1;
  return 0;
}

static fv_status open_sequence(fv_video_writer *w, fv_error *err) {
  char *dir = dir_of(w->path);
  if (!dir) return fv_fail(err, "%s: out of memory", w->path);
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    fv_fail(err, "%s: the directory %s does not exist", w->path, dir);
    free(dir);
    return FV_ERR;
  }
  size_t n = strlen(dir) + 32;
  w->tmp = malloc(n);
  if (!w->tmp) {
    free(dir);
    return fv_fail(err, "%s: out of memory", w->path);
  }
  snprintf(w->tmp, n, "%s/.fovea-frames-XXXXXX", dir);
  free(dir);
  if (!mkdtemp(w->tmp)) {
    fv_status st = fv_fail(err, "%s: cannot create a temporary directory %s: %s", w->path, w->tmp, strerror(errno));
    free(w->tmp);
    w->tmp = NULL;
    return st;
  }
  /* The timestamps file: the pattern with its %d replaced by "timestamps" and .txt for .png. */
  const char *base = strrchr(w->path, '/');
  base = base ? base + 1 : w->path;
  char name[1024];
  size_t k = 0;
  for (const char *p = base; *p && k + 16 < sizeof name;) {
    if (p[0] == '%' && p[1] != '%') {
      const char *q = p + 1;
      while (*q >= '0' && *q <= '9') q++;
      if (*q == 'd') {
        k += (size_t)snprintf(name + k, sizeof name - k, "timestamps");
        p = q + 1;
        continue;
      }
    }
    name[k++] = *p++;
  }
  name[k] = '\0';
  char *dot = strrchr(name, '.');
  if (dot) *dot = '\0';
  size_t m = strlen(w->tmp) + strlen(name) + 8;
  if (!(w->stamps_name = malloc(m))) return fv_fail(err, "%s: out of memory", w->path);
  snprintf(w->stamps_name, m, "%s/%s.txt", w->tmp, name);
  if (!(w->stamps = fopen(w->stamps_name, "w")))
    return fv_fail(err, "%s: cannot create %s: %s", w->path, w->stamps_name, strerror(errno));
  const fv_video_info *in = &w->src->info;
  fprintf(w->stamps, "# fovea frame timestamps: file number (= input frame index), pts in time base %d/%d, seconds\n",
          in->tb_num, in->tb_den);
  return FV_OK;
}

/* Encoder and pixel format for a container output. */
static fv_status choose_encoder(fv_video_writer *w, const fv_video_writer_options *opt, const AVCodec **codec,
                                enum AVPixelFormat *pix, fv_error *err) {
  const char *ext = extension(w->path);
  const fv_video_info *in = &w->src->info;
  const char *name;
  if (opt->lossless) {
    if (strcasecmp(ext, "mkv") != 0)
      return fv_fail(err, "%s: --lossless writes FFV1 in .mkv (or a PNG sequence); .%s cannot hold it", w->path, ext);
    name = "ffv1";
  } else {
    name = strcasecmp(ext, "webm") == 0 ? "libvpx-vp9" : "libx264";
  }
  *codec = avcodec_find_encoder_by_name(name);
  if (!*codec)
    return fv_fail(err, "%s: this FFmpeg build has no %s encoder, needed for .%s output", w->path, name, ext);
  enum AVPixelFormat source = w->src->dec->pix_fmt;
  if (opt->lossless) {
    /* Keep the decoded format when FFV1 takes it (bit-exact round trip), else a lossless
     * container for 8-bit RGB or gray pixels. */
    *pix = supports_format(*codec, source) ? source : in->channels == 1 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_GBRP;
  } else if (strcmp(name, "libx264") == 0 && (in->width % 2 || in->height % 2)) {
    *pix = AV_PIX_FMT_YUV444P; /* 4:2:0 needs even sizes */
  } else {
    *pix = AV_PIX_FMT_YUV420P;
  }
  return FV_OK;
}

static fv_status open_container(fv_video_writer *w, const fv_video_writer_options *opt, int *skipped, fv_error *err) {
  const fv_video_reader *src = w->src;
  const fv_video_info *in = &src->info;
  const AVCodec *codec = NULL;
  enum AVPixelFormat pix = AV_PIX_FMT_NONE;
  if (choose_encoder(w, opt, &codec, &pix, err)) return FV_ERR;
  int ret = avformat_alloc_output_context2(&w->fmt, NULL, NULL, w->path);
  if (ret < 0 || !w->fmt) return fv_fail(err, "%s: no FFmpeg muxer for this file name: %s", w->path, AVERR(ret));
  if (!(w->st = avformat_new_stream(w->fmt, NULL)) || !(w->enc = avcodec_alloc_context3(codec)) ||
      !(w->pkt = av_packet_alloc()) || !(w->conv = av_frame_alloc()) ||
      !(w->map = malloc(src->n_streams * sizeof *w->map)) || !(w->map_tb = malloc(src->n_streams * sizeof *w->map_tb)))
    return fv_fail(err, "%s: out of memory", w->path);
  AVStream *ist = src->fmt->streams[src->stream];
  AVCodecContext *e = w->enc;
  e->width = in->width;
  e->height = in->height;
  e->pix_fmt = pix;
  e->time_base = ist->time_base; /* frames keep their input pts unchanged */
  AVRational fr = av_guess_frame_rate(src->fmt, ist, NULL);
  if (fr.num > 0 && fr.den > 0) e->framerate = fr;
  e->sample_aspect_ratio = ist->sample_aspect_ratio.num ? ist->sample_aspect_ratio : src->dec->sample_aspect_ratio;
  const AVPixFmtDescriptor *sd = av_pix_fmt_desc_get(src->dec->pix_fmt);
  w->rgb_tags = !sd || (sd->flags & AV_PIX_FMT_FLAG_RGB) || sd->nb_components < 3;
  const AVPixFmtDescriptor *ed = av_pix_fmt_desc_get(pix);
  if (ed && !(ed->flags & AV_PIX_FMT_FLAG_RGB) && ed->nb_components >= 3) {
    if (w->rgb_tags) {
      e->colorspace = AVCOL_SPC_BT709;
      e->color_primaries = AVCOL_PRI_BT709;
      e->color_trc = AVCOL_TRC_BT709;
      e->color_range = AVCOL_RANGE_MPEG;
    } else {
      e->colorspace = src->dec->colorspace;
      e->color_primaries = src->dec->color_primaries;
      e->color_trc = src->dec->color_trc;
      e->color_range = src->dec->color_range;
    }
  }
  if (strcmp(codec->name, "libx264") == 0) {
    av_opt_set(e->priv_data, "preset", "medium", 0);
    av_opt_set_double(e->priv_data, "crf", opt->crf >= 0 ? opt->crf : 23, 0);
  } else if (strcmp(codec->name, "libvpx-vp9") == 0) {
    e->bit_rate = 0; /* constant quality */
    av_opt_set_int(e->priv_data, "crf", opt->crf >= 0 ? opt->crf : 32, 0);
    av_opt_set(e->priv_data, "deadline", "good", 0);
    av_opt_set_int(e->priv_data, "cpu-used", 4, 0);
    av_opt_set_int(e->priv_data, "row-mt", 1, 0);
  } else if (strcmp(codec->name, "ffv1") == 0) {
    /* Version 3 with slice CRCs: damage in the written file is detectable on reading. */
    e->level = 3;
    av_opt_set_int(e->priv_data, "slicecrc", 1, 0);
    e->gop_size = 1;
  }
  e->thread_count = 0;
  if (w->fmt->oformat->flags & AVFMT_GLOBALHEADER) e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if ((ret = avcodec_open2(e, codec, NULL)) < 0)
    return fv_fail(err, "%s: cannot open the %s encoder for %dx%d %s: %s", w->path, codec->name, e->width, e->height,
                   av_get_pix_fmt_name(pix), AVERR(ret));
  if ((ret = avcodec_parameters_from_context(w->st->codecpar, e)) < 0)
    return fv_fail(err, "%s: encoder parameters: %s", w->path, AVERR(ret));
  w->st->time_base = e->time_base;
  w->st->avg_frame_rate = e->framerate;
  w->st->sample_aspect_ratio = e->sample_aspect_ratio;
  /* Copied streams: only codecs the container accepts (e.g. no PCM in .mp4, only Opus/Vorbis in .webm). */
  w->n_map = src->n_streams;
  for (unsigned i = 0; i < src->n_streams; i++) {
    w->map[i] = -1;
    w->map_tb[i] = src->fmt->streams[i]->time_base;
    if (!src->copy[i]) continue;
    const AVStream *s = src->fmt->streams[i];
    if (avformat_query_codec(w->fmt->oformat, s->codecpar->codec_id, FF_COMPLIANCE_NORMAL) != 1) {
      if (skipped) (*skipped)++;
      continue;
    }
    AVStream *os = avformat_new_stream(w->fmt, NULL);
    if (!os) return fv_fail(err, "%s: out of memory", w->path);
    if ((ret = avcodec_parameters_copy(os->codecpar, s->codecpar)) < 0)
      return fv_fail(err, "%s: cannot copy stream %u: %s", w->path, i, AVERR(ret));
    os->codecpar->codec_tag = 0;
    os->time_base = s->time_base;
    w->map[i] = os->index;
  }
  /* The temporary file sits next to the final one, so the rename stays on one file system. */
  char *dir = dir_of(w->path);
  const char *base = strrchr(w->path, '/');
  base = base ? base + 1 : w->path;
  size_t n = (dir ? strlen(dir) : 0) + strlen(base) + 32;
  if (!dir || !(w->tmp = malloc(n))) {
    free(dir);
    return fv_fail(err, "%s: out of memory", w->path);
  }
  snprintf(w->tmp, n, "%s/.%s.fovea-XXXXXX", dir, base);
  free(dir);
  int fd = mkstemp(w->tmp);
  if (fd < 0) {
    fv_status st = fv_fail(err, "%s: cannot create a temporary file %s: %s", w->path, w->tmp, strerror(errno));
    free(w->tmp);
    w->tmp = NULL;
    return st;
  }
  close(fd);
  if ((ret = avio_open(&w->fmt->pb, w->tmp, AVIO_FLAG_WRITE)) < 0)
    return fv_fail(err, "%s: cannot open %s for writing: %s", w->path, w->tmp, AVERR(ret));
  if ((ret = avformat_write_header(w->fmt, NULL)) < 0)
    return fv_fail(err, "%s: cannot write the %s header: %s", w->path, w->fmt->oformat->name, AVERR(ret));
  return FV_OK;
}

fv_status fv_video_writer_open(const char *path, const fv_video_reader *src, const fv_video_writer_options *opt,
                               fv_video_writer **out, int *skipped, fv_error *err) {
  *out = NULL;
  if (skipped) *skipped = 0;
  if (!fv_video_output_supported(path))
    return fv_fail(err,
                   "%s: unsupported output; use .mp4 or .mkv (H.264), .webm (VP9), .mkv with --lossless (FFV1), "
                   "or a PNG pattern with %%d such as frames/%%05d.png",
                   path);
  fv_video_writer *w = calloc(1, sizeof *w);
  if (!w || !(w->path = strdup(path))) {
    free(w);
    return fv_fail(err, "%s: out of memory", path);
  }
  w->src = src;
  w->last_pts = INT64_MIN;
  w->sequence = fv_video_is_sequence(path);
  fv_status st;
  if (w->sequence) {
    st = open_sequence(w, err);
    if (!st && skipped) *skipped = src->info.copy_streams;
  } else {
    st = open_container(w, opt, skipped, err);
  }
  if (st) {
    fv_video_writer_close(w);
    return FV_ERR;
  }
  *out = w;
  return FV_OK;
}

long fv_video_writer_frames(const fv_video_writer *w) { return w->frames; }

static fv_status drain_encoder(fv_video_writer *w, fv_error *err) {
  for (;;) {
    int ret = avcodec_receive_packet(w->enc, w->pkt);
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return FV_OK;
    if (ret < 0) return fv_fail(err, "%s: encoding failed: %s", w->path, AVERR(ret));
    av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
    w->pkt->stream_index = w->st->index;
    ret = av_interleaved_write_frame(w->fmt, w->pkt); /* takes the packet's reference */
    if (ret < 0) return fv_fail(err, "%s: writing a video packet failed: %s", w->path, AVERR(ret));
  }
}

static fv_status write_sequence_frame(fv_video_writer *w, const fv_video_unit *u, const fv_image *img, fv_error *err) {
  const char *base = strrchr(w->path, '/');
  base = base ? base + 1 : w->path;
  char name[4096];
  if (av_get_frame_filename2(name, sizeof name, base, (int)(u->index > INT32_MAX ? INT32_MAX : u->index), 0) < 0)
    return fv_fail(err, "%s: cannot expand the pattern for frame %ld", w->path, u->index);
  char file[8192];
  snprintf(file, sizeof file, "%s/%s", w->tmp, name);
  if (fv_image_save_png(file, img, err)) return FV_ERR;
  if (u->pts == FV_VIDEO_NO_PTS)
    fprintf(w->stamps, "%ld none none\n", u->index);
  else
    fprintf(w->stamps, "%ld %lld %.6f\n", u->index, (long long)u->pts, u->pts_time);
  w->frames++;
  return FV_OK;
}

fv_status fv_video_write_frame(fv_video_writer *w, const fv_video_unit *u, const fv_image *pixels, fv_error *err) {
  if (u->kind != FV_VIDEO_FRAME) return fv_fail(err, "%s: not a frame", w->path);
  if (w->sequence) return write_sequence_frame(w, u, pixels ? pixels : &u->image, err);
  AVCodecContext *e = w->enc;
  const uint8_t *src_data[4] = {NULL};
  int src_linesize[4] = {0};
  int sw, sh;
  enum AVPixelFormat sf;
  if (pixels) {
    src_data[0] = pixels->pixels;
    src_linesize[0] = pixels->width * pixels->channels;
    sw = pixels->width;
    sh = pixels->height;
    sf = pixels->channels == 1 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
  } else {
    for (int i = 0; i < 4; i++) {
      src_data[i] = u->frame->data[i];
      src_linesize[i] = u->frame->linesize[i];
    }
    sw = u->frame->width;
    sh = u->frame->height;
    sf = u->frame->format;
  }
  AVFrame *f = w->conv;
  int ret, borrowed = 0;
  if (!pixels && sf == e->pix_fmt && sw == e->width && sh == e->height) {
    borrowed = 1;
    /* The decoded frame as it is: exact. A new reference, so the caller's unit stays intact. */
    av_frame_unref(f);
    if ((ret = av_frame_ref(f, u->frame)) < 0) return fv_fail(err, "%s: %s", w->path, AVERR(ret));
  } else {
    if (!f->buf[0] || f->format != e->pix_fmt) {
      av_frame_unref(f);
      f->format = e->pix_fmt;
      f->width = e->width;
      f->height = e->height;
      if ((ret = av_frame_get_buffer(f, 0)) < 0) return fv_fail(err, "%s: out of memory for a frame", w->path);
    }
    if ((ret = av_frame_make_writable(f)) < 0) return fv_fail(err, "%s: out of memory for a frame", w->path);
    w->sws = sws_getCachedContext(w->sws, sw, sh, sf, e->width, e->height, e->pix_fmt,
                                  SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP, NULL, NULL,
                                  NULL);
    if (!w->sws)
      return fv_fail(err, "%s: cannot convert %s to %s", w->path, av_get_pix_fmt_name(sf),
                     av_get_pix_fmt_name(e->pix_fmt));
    const AVPixFmtDescriptor *sd = av_pix_fmt_desc_get(sf);
    if (pixels || (sd && (sd->flags & AV_PIX_FMT_FLAG_RGB))) {
      /* RGB -> YUV with the matrix the output is tagged with (BT.709, limited range). */
      sws_setColorspaceDetails(w->sws, sws_getCoefficients(SWS_CS_DEFAULT), 1, sws_getCoefficients(SWS_CS_ITU709), 0, 0,
                               1 << 16, 1 << 16);
    }
    sws_scale(w->sws, src_data, src_linesize, 0, sh, f->data, f->linesize);
  }
  /* Timestamps pass through unchanged; a missing or non-increasing one (broken input) is moved
   * just past the previous, because encoders and muxers refuse non-monotonic timestamps. */
  int64_t pts = u->pts;
  if (pts == FV_VIDEO_NO_PTS || (w->last_pts != INT64_MIN && pts <= w->last_pts))
    pts = w->last_pts == INT64_MIN ? 0 : w->last_pts + 1;
  w->last_pts = pts;
  f->pts = pts;
  f->pict_type = AV_PICTURE_TYPE_NONE;
  ret = avcodec_send_frame(e, f);
  if (borrowed) av_frame_unref(f);
  if (ret < 0) return fv_fail(err, "%s: encoding frame %ld failed: %s", w->path, u->index, AVERR(ret));
  w->frames++;
  return drain_encoder(w, err);
}

fv_status fv_video_write_copy(fv_video_writer *w, fv_video_unit *u, fv_error *err) {
  if (u->kind != FV_VIDEO_COPY || !u->packet) return fv_fail(err, "%s: not a packet to copy", w->path);
  AVPacket *p = u->packet;
  int in = p->stream_index;
  if (w->sequence || in < 0 || (unsigned)in >= w->n_map || w->map[in] < 0) {
    av_packet_unref(p);
    return FV_OK;
  }
  AVStream *os = w->fmt->streams[w->map[in]];
  av_packet_rescale_ts(p, w->map_tb[in], os->time_base);
  p->stream_index = os->index;
  p->pos = -1;
  int ret = av_interleaved_write_frame(w->fmt, p);
  if (ret < 0) return fv_fail(err, "%s: copying a packet of stream %d failed: %s", w->path, in, AVERR(ret));
  return FV_OK;
}

/* Moves every file of the temporary directory into the pattern's directory. */
static fv_status publish_sequence(fv_video_writer *w, fv_error *err) {
  if (fclose(w->stamps) != 0) {
    w->stamps = NULL;
    return fv_fail(err, "%s: writing %s failed: %s", w->path, w->stamps_name, strerror(errno));
  }
  w->stamps = NULL;
  char *dir = dir_of(w->path);
  DIR *d = opendir(w->tmp);
  if (!dir || !d) {
    free(dir);
    if (d) closedir(d);
    return fv_fail(err, "%s: cannot list %s", w->path, w->tmp);
  }
  fv_status st = FV_OK;
  struct dirent *e;
  while (!st && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char from[8192], to[8192];
    snprintf(from, sizeof from, "%s/%s", w->tmp, e->d_name);
    snprintf(to, sizeof to, "%s/%s", dir, e->d_name);
    if (rename(from, to) != 0) st = fv_fail(err, "%s: cannot move %s to %s: %s", w->path, from, to, strerror(errno));
  }
  closedir(d);
  free(dir);
  if (!st && rmdir(w->tmp) != 0) st = fv_fail(err, "%s: cannot remove %s: %s", w->path, w->tmp, strerror(errno));
  return st;
}

fv_status fv_video_writer_finish(fv_video_writer *w, fv_error *err) {
  if (w->finished) return FV_OK;
  if (w->sequence) {
    if (publish_sequence(w, err)) return FV_ERR;
    w->finished = 1;
    return FV_OK;
  }
  int ret = avcodec_send_frame(w->enc, NULL);
  if (ret < 0 && ret != AVERROR_EOF) return fv_fail(err, "%s: flushing the encoder failed: %s", w->path, AVERR(ret));
  if (drain_encoder(w, err)) return FV_ERR;
  if ((ret = av_write_trailer(w->fmt)) < 0)
    return fv_fail(err, "%s: writing the trailer failed: %s", w->path, AVERR(ret));
  if ((ret = avio_closep(&w->fmt->pb)) < 0)
    return fv_fail(err, "%s: closing %s failed: %s", w->path, w->tmp, AVERR(ret));
  if (rename(w->tmp, w->path) != 0)
    return fv_fail(err, "%s: cannot rename %s into place: %s", w->path, w->tmp, strerror(errno));
  w->finished = 1;
  return FV_OK;
}

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char p[8192];
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

void fv_video_writer_close(fv_video_writer *w) {
  if (!w) return;
  if (w->stamps) fclose(w->stamps);
  sws_freeContext(w->sws);
  av_frame_free(&w->conv);
  av_packet_free(&w->pkt);
  avcodec_free_context(&w->enc);
  if (w->fmt) {
    if (w->fmt->pb) avio_closep(&w->fmt->pb);
    avformat_free_context(w->fmt);
  }
  if (!w->finished && w->tmp) {
    if (w->sequence)
      remove_tree(w->tmp);
    else
      unlink(w->tmp);
  }
  free(w->stamps_name);
  free(w->tmp);
  free(w->map);
  free(w->map_tb);
  free(w->path);
  free(w);
}
