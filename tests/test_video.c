/* test_video.c: video/video_io.c against clips made here with FFmpeg's libraries directly, and a
 * small clip tool for the CLI test and the benchmark.
 *
 * Debian's ffmpeg command is not needed: `test_video make` writes the 20 Fashion-MNIST samples in
 * assets/samples (labels in their names) as frames with irregular timestamps and an optional PCM
 * audio track through libavformat and libavcodec, and `test_video probe` lists a file's frames
 * (pts, pixel hash) and audio packets by decoding it with the libraries, independently of
 * video_io.c. Without arguments the program runs the library tests: frames and timestamps read
 * back exactly, a lossless FFV1 round trip is bit-exact with audio copied unchanged, H.264 .mp4,
 * VP9 .webm and PNG sequences keep the timestamps, truncated, damaged and garbled files yield
 * counted decode errors and never a failure, and bad outputs fail with one message and leave
 * nothing behind.
 *
 * Encoders used: ffv1, libx264, libvpx-vp9, png, pcm_s16le; all are in Debian 12's libavcodec59. */
#include <dirent.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "video/video_io.h"

/* The 20 Fashion-MNIST test images bundled in the repository (labels in their names), so the
 * tests need no data package. */
#define SAMPLES FOVEA_DATA_DIR "/samples"

static const char *const class_keys[10] = {"t-shirt-top", "trouser", "pullover", "dress", "coat",
                                           "sandal",      "shirt",   "sneaker",  "bag",   "ankle-boot"};

typedef struct samples {
  fv_image images[64];
  int labels[64];
  int n;
} samples;

static void samples_free(samples *s) {
  for (int i = 0; i < s->n; i++) fv_image_free(&s->images[i]);
  s->n = 0;
}

/* assets/samples/fmnist-NNNN-LABEL.png, sorted by name. */
static fv_status samples_load(samples *s, fv_error *err) {
  memset(s, 0, sizeof *s);
  char **files;
  int count;
  if (fv_list_images(SAMPLES, &files, &count, err)) return FV_ERR;
  fv_status st = FV_OK;
  for (int i = 0; i < count && !st && s->n < 64; i++) {
    const char *base = strrchr(files[i], '/');
    base = base ? base + 1 : files[i];
    if (strncmp(base, "fmnist-", 7) != 0 || strlen(base) < 17) continue;
    int label = -1;
    for (int k = 0; k < 10; k++)
      if (strncmp(base + 12, class_keys[k], strlen(class_keys[k])) == 0 && base[12 + strlen(class_keys[k])] == '.')
        label = k;
    if (label < 0) {
      st = fv_fail(err, "%s: no Fashion-MNIST class in the name", files[i]);
      break;
    }
    if ((st = fv_image_load(files[i], 1, &s->images[s->n], err))) break;
    if (s->images[s->n].width != 28 || s->images[s->n].height != 28) {
      fv_image_free(&s->images[s->n]);
      st = fv_fail(err, "%s: not 28x28", files[i]);
      break;
    }
    s->labels[s->n++] = label;
  }
  fv_image_list_free(files, count);
  if (!st && s->n < 20) st = fv_fail(err, "%s: %d Fashion-MNIST samples, need 20", SAMPLES, s->n);
  if (st) samples_free(s);
  return st;
}

/* Irregular frame times in milliseconds: steps of 15..108 ms, none repeating in a simple pattern. */
static int64_t pts_ms(int i) {
  int64_t t = 0;
  for (int k = 0; k < i; k++) t += 40 + ((k * 7) % 5) * 17 - (k % 3 == 0 ? 25 : 0);
  return t;
}

static uint64_t fnv(const uint8_t *p, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

/* Frame i of a clip of size w x h: sample i at 28x28, else a grid of samples i, i+1, ... tiled
 * over the frame. */
static fv_status clip_frame(const samples *ds, int i, int w, int h, fv_image *out, int *label, fv_error *err) {
  out->width = w;
  out->height = h;
  out->channels = 1;
  out->pixels = calloc((size_t)w * h, 1);
  if (!out->pixels) return fv_fail(err, "out of memory");
  int n = ds->n, cols = (w + 27) / 28;
  for (int ty = 0; ty * 28 < h; ty++)
    for (int tx = 0; tx < cols; tx++) {
      int k = (i + ty * cols + tx) % n;
      if (tx == 0 && ty == 0) *label = ds->labels[k];
      for (int y = 0; y < 28 && ty * 28 + y < h; y++)
        for (int x = 0; x < 28 && tx * 28 + x < w; x++)
          out->pixels[(size_t)(ty * 28 + y) * w + tx * 28 + x] = ds->images[k].pixels[y * 28 + x];
    }
  return FV_OK;
}

typedef struct clip_spec {
  int frames, width, height;
  const char *codec; /* ffv1 (gray8), ffv1rgb (gbrp), x264 (yuv420p), png (gray8) */
  int audio;
  const char *pngs;   /* also write frame_NNN.png here */
  const char *labels; /* also write the true labels, one per line */
} clip_spec;

static fv_status encode_and_write(AVFormatContext *fmt, AVCodecContext *enc, AVStream *st, AVFrame *f, AVPacket *pkt,
                                  fv_error *err) {
  int ret = avcodec_send_frame(enc, f);
  if (ret < 0) return fv_fail(err, "send_frame: %d", ret);
  while ((ret = avcodec_receive_packet(enc, pkt)) == 0) {
    av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
    pkt->stream_index = st->index;
    if (av_interleaved_write_frame(fmt, pkt) < 0) return fv_fail(err, "write_frame failed");
  }
  return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? FV_OK : fv_fail(err, "receive_packet: %d", ret);
}

/* Writes a clip with libavformat/libavcodec directly (not through video_io.c). */
static fv_status make_clip(const char *path, const clip_spec *s, fv_error *err) {
  samples *ds = malloc(sizeof *ds);
  if (!ds) return fv_fail(err, "out of memory");
  if (samples_load(ds, err)) {
    free(ds);
    return FV_ERR;
  }
  AVFormatContext *fmt = NULL;
  AVCodecContext *enc = NULL, *aenc = NULL;
  AVFrame *f = av_frame_alloc(), *af = av_frame_alloc();
  AVPacket *pkt = av_packet_alloc();
  FILE *labels = NULL;
  fv_status st = FV_ERR;
  int rgb = strcmp(s->codec, "ffv1rgb") == 0, x264 = strcmp(s->codec, "x264") == 0, png = strcmp(s->codec, "png") == 0;
  if (avformat_alloc_output_context2(&fmt, NULL, NULL, path) < 0) {
    fv_fail(err, "%s: no muxer", path);
    goto done;
  }
  const AVCodec *codec = avcodec_find_encoder_by_name(x264 ? "libx264" : png ? "png" : "ffv1");
  AVStream *vs = avformat_new_stream(fmt, NULL);
  enc = avcodec_alloc_context3(codec);
  enc->width = s->width;
  enc->height = s->height;
  enc->pix_fmt = x264 ? AV_PIX_FMT_YUV420P : rgb ? AV_PIX_FMT_GBRP : AV_PIX_FMT_GRAY8;
  enc->time_base = (AVRational){1, 1000};
  enc->framerate = (AVRational){20, 1};
  if (x264) av_opt_set(enc->priv_data, "preset", "ultrafast", 0);
  if (!x264 && !png) { /* FFV1 version 3 with slice CRCs, so damage is detectable */
    enc->level = 3;
    av_opt_set_int(enc->priv_data, "slicecrc", 1, 0);
  }
  if (fmt->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (avcodec_open2(enc, codec, NULL) < 0) {
    fv_fail(err, "%s: cannot open the encoder", path);
    goto done;
  }
  avcodec_parameters_from_context(vs->codecpar, enc);
  vs->time_base = enc->time_base;
  AVStream *as = NULL;
  const int rate = 8000, chunk = 400;
  if (s->audio) {
    const AVCodec *ac = avcodec_find_encoder(AV_CODEC_ID_PCM_S16LE);
    as = avformat_new_stream(fmt, NULL);
    aenc = avcodec_alloc_context3(ac);
    aenc->sample_fmt = AV_SAMPLE_FMT_S16;
    aenc->sample_rate = rate;
    av_channel_layout_default(&aenc->ch_layout, 1);
    aenc->time_base = (AVRational){1, rate};
    if (avcodec_open2(aenc, ac, NULL) < 0) {
      fv_fail(err, "%s: cannot open the PCM encoder", path);
      goto done;
    }
    avcodec_parameters_from_context(as->codecpar, aenc);
    as->time_base = aenc->time_base;
  }
  if (avio_open(&fmt->pb, path, AVIO_FLAG_WRITE) < 0 || avformat_write_header(fmt, NULL) < 0) {
    fv_fail(err, "%s: cannot write the header", path);
    goto done;
  }
  if (s->labels && !(labels = fopen(s->labels, "w"))) {
    fv_fail(err, "%s: cannot create", s->labels);
    goto done;
  }
  int64_t audio_next = 0, end_ms = pts_ms(s->frames);
  for (int i = 0; i < s->frames; i++) {
    fv_image img = {0};
    int label = 0;
    if (clip_frame(ds, i, s->width, s->height, &img, &label, err)) goto done;
    if (labels) fprintf(labels, "%d\n", label);
    if (s->pngs) {
      char name[4096];
      snprintf(name, sizeof name, "%s/frame_%03d.png", s->pngs, i);
      if (fv_image_save_png(name, &img, err)) goto done;
    }
    av_frame_unref(f);
    f->format = enc->pix_fmt;
    f->width = s->width;
    f->height = s->height;
    av_frame_get_buffer(f, 0);
    for (int y = 0; y < s->height; y++)
      for (int x = 0; x < s->width; x++) {
        uint8_t v = img.pixels[(size_t)y * s->width + x];
        f->data[0][(size_t)y * f->linesize[0] + x] = v;
        if (rgb) f->data[1][(size_t)y * f->linesize[1] + x] = f->data[2][(size_t)y * f->linesize[2] + x] = v;
      }
    if (x264)
      for (int p = 1; p < 3; p++)
        for (int y = 0; y < (s->height + 1) / 2; y++)
          memset(f->data[p] + (size_t)y * f->linesize[p], 128, (size_t)(s->width + 1) / 2);
    fv_image_free(&img);
    f->pts = pts_ms(i);
    if (encode_and_write(fmt, enc, vs, f, pkt, err)) goto done;
    /* Audio up to this frame's time, so the file interleaves. */
    while (as && audio_next * 1000 < (int64_t)f->pts * rate + (int64_t)chunk * 1000 &&
           audio_next * 1000 < end_ms * rate) {
      av_frame_unref(af);
      af->format = AV_SAMPLE_FMT_S16;
      af->nb_samples = chunk;
      af->sample_rate = rate;
      av_channel_layout_copy(&af->ch_layout, &aenc->ch_layout);
      av_frame_get_buffer(af, 0);
      int16_t *smp = (int16_t *)af->data[0];
      for (int k = 0; k < chunk; k++) smp[k] = (int16_t)(((audio_next + k) * 37) % 20000 - 10000);
      af->pts = audio_next;
      audio_next += chunk;
      if (encode_and_write(fmt, aenc, as, af, pkt, err)) goto done;
    }
  }
  if (encode_and_write(fmt, enc, vs, NULL, pkt, err) || (aenc && encode_and_write(fmt, aenc, as, NULL, pkt, err)))
    goto done;
  if (av_write_trailer(fmt) < 0) {
    fv_fail(err, "%s: trailer failed", path);
    goto done;
  }
  st = FV_OK;
done:
  if (labels) fclose(labels);
  av_frame_free(&f);
  av_frame_free(&af);
  av_packet_free(&pkt);
  avcodec_free_context(&enc);
  avcodec_free_context(&aenc);
  if (fmt) {
    if (fmt->pb) avio_closep(&fmt->pb);
    avformat_free_context(fmt);
  }
  samples_free(ds);
  free(ds);
  return st;
}

/* ---- independent probe ---------------------------------------------------------------------- */

typedef struct probe_frame {
  int64_t pts;
  double pts_time;
  uint64_t hash; /* of the packed pixels */
  int width, height, format;
} probe_frame;

typedef struct probe {
  probe_frame frames[512];
  int n_frames;
  uint64_t audio_hash; /* over all audio packets' data and pts */
  int audio_packets;
  int tb_num, tb_den;
  int errors;
} probe;

static fv_status probe_file(const char *path, probe *p, fv_error *err) {
  memset(p, 0, sizeof *p);
  AVFormatContext *fmt = NULL;
  if (avformat_open_input(&fmt, path, NULL, NULL) < 0 || avformat_find_stream_info(fmt, NULL) < 0) {
    avformat_close_input(&fmt);
    return fv_fail(err, "%s: cannot open", path);
  }
  const AVCodec *codec = NULL;
  int vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (vi < 0) {
    avformat_close_input(&fmt);
    return fv_fail(err, "%s: no video", path);
  }
  AVStream *st = fmt->streams[vi];
  p->tb_num = st->time_base.num;
  p->tb_den = st->time_base.den;
  AVCodecContext *dec = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(dec, st->codecpar);
  dec->pkt_timebase = st->time_base;
  avcodec_open2(dec, codec, NULL);
  AVPacket *pkt = av_packet_alloc();
  AVFrame *f = av_frame_alloc();
  p->audio_hash = 14695981039346656037ull;
  int eof = 0;
  while (!eof) {
    int ret = av_read_frame(fmt, pkt);
    if (ret < 0) {
      eof = 1;
      avcodec_send_packet(dec, NULL);
    } else if (pkt->stream_index == vi) {
      if (avcodec_send_packet(dec, pkt) < 0) p->errors++;
    } else if (fmt->streams[pkt->stream_index]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
      p->audio_hash = fnv(pkt->data, (size_t)pkt->size, p->audio_hash);
      double t = (double)pkt->pts * av_q2d(fmt->streams[pkt->stream_index]->time_base);
      int64_t us = (int64_t)(t * 1e6 + 0.5);
      p->audio_hash = fnv((const uint8_t *)&us, sizeof us, p->audio_hash);
      p->audio_packets++;
    }
    av_packet_unref(pkt);
    for (;;) {
      ret = avcodec_receive_frame(dec, f);
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) break;
      if (ret < 0) {
        p->errors++;
        break;
      }
      if (p->n_frames < 512) {
        probe_frame *pf = &p->frames[p->n_frames++];
        pf->pts = f->best_effort_timestamp;
        pf->pts_time = (double)f->best_effort_timestamp * av_q2d(st->time_base);
        pf->width = f->width;
        pf->height = f->height;
        pf->format = f->format;
        int size = av_image_get_buffer_size(f->format, f->width, f->height, 1);
        uint8_t *buf = malloc((size_t)size);
        av_image_copy_to_buffer(buf, size, (const uint8_t *const *)f->data, f->linesize, f->format, f->width, f->height,
                                1);
        pf->hash = fnv(buf, (size_t)size, 14695981039346656037ull);
        free(buf);
      }
      av_frame_unref(f);
    }
  }
  av_frame_free(&f);
  av_packet_free(&pkt);
  avcodec_free_context(&dec);
  avformat_close_input(&fmt);
  return FV_OK;
}

/* ---- library tests --------------------------------------------------------------------------- */

static char tmpdir[256];

static char *tmp_path(const char *name) {
  static char buf[8][512];
  static int k;
  char *b = buf[k++ % 8];
  snprintf(b, 512, "%s/%s", tmpdir, name);
  return b;
}

static int count_dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  if (d) closedir(d);
  return n;
}

static int file_exists(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0;
}

/* Reads a whole file through video_io.c, optionally writing every frame (and audio) to out. */
typedef struct read_result {
  int frames, errors, copies;
  int64_t pts[512];
  uint64_t hash[512]; /* of the 8-bit image */
  char first_error[256];
} read_result;

static fv_status read_all(const char *in, const char *out, int lossless, read_result *res, fv_error *err) {
  memset(res, 0, sizeof *res);
  fv_video_reader *r = NULL;
  fv_video_writer *w = NULL;
  if (fv_video_reader_open(in, 0, 1, &r, err)) return FV_ERR;
  fv_video_writer_options wo = {.lossless = lossless, .crf = -1};
  fv_status st = FV_OK;
  if (out) st = fv_video_writer_open(out, r, &wo, &w, NULL, err);
  while (!st) {
    fv_video_unit u;
    if ((st = fv_video_read(r, &u, err))) break;
    if (u.kind == FV_VIDEO_END) break;
    if (u.kind == FV_VIDEO_FRAME) {
      if (res->frames < 512) {
        res->pts[res->frames] = u.pts;
        res->hash[res->frames] =
            fnv(u.image.pixels, (size_t)u.image.width * u.image.height * u.image.channels, 14695981039346656037ull);
      }
      res->frames++;
      if (w) st = fv_video_write_frame(w, &u, NULL, err);
    } else if (u.kind == FV_VIDEO_COPY) {
      res->copies++;
      if (w) st = fv_video_write_copy(w, &u, err);
    } else if (u.kind == FV_VIDEO_ERROR) {
      if (res->errors++ == 0) snprintf(res->first_error, sizeof res->first_error, "%s", u.message);
    }
    fv_video_unit_clear(&u);
  }
  if (!st && w) st = fv_video_writer_finish(w, err);
  fv_video_writer_close(w);
  fv_video_reader_close(r);
  return st;
}

static void test_read_exact(const char *clip, const char *pngs) {
  read_result res;
  fv_error err;
  fv_status st = read_all(clip, NULL, 0, &res, &err);
  CHECK(st == FV_OK, "%s", err.msg);
  CHECK(res.frames == 20, "frames %d", res.frames);
  CHECK(res.errors == 0, "errors %d", res.errors);
  CHECK(res.copies > 0, "audio packets delivered for copy: %d", res.copies);
  int pts_ok = 1, pix_ok = 1;
  for (int i = 0; i < 20 && i < res.frames; i++) {
    pts_ok &= res.pts[i] == pts_ms(i);
    char name[600];
    snprintf(name, sizeof name, "%s/frame_%03d.png", pngs, i);
    fv_image img = {0};
    if (fv_image_load(name, 1, &img, &err) == FV_OK)
      pix_ok &= fnv(img.pixels, 28 * 28, 14695981039346656037ull) == res.hash[i];
    else
      pix_ok = 0;
    fv_image_free(&img);
  }
  CHECK(pts_ok, "decoded pts equal the irregular pts written");
  CHECK(pix_ok, "decoded gray pixels equal the Fashion-MNIST images");
  fv_video_reader *r = NULL;
  CHECK(fv_video_reader_open(clip, 0, 0, &r, &err) == FV_OK, "%s", err.msg);
  if (r) {
    const fv_video_info *in = fv_video_reader_info(r);
    CHECK(in->width == 28 && in->height == 28 && in->channels == 1, "%dx%d c%d", in->width, in->height, in->channels);
    CHECK(in->tb_num == 1 && in->tb_den == 1000, "time base %d/%d", in->tb_num, in->tb_den);
    CHECK(in->duration > 0.9 * pts_ms(19) / 1000.0, "duration %g", in->duration);
    CHECK(in->copy_streams == 0, "no copy without copy_audio");
    fv_video_reader_close(r);
  }
}

static void test_lossless_round_trip(const char *clip) {
  read_result res;
  fv_error err;
  const char *out = tmp_path("round.mkv");
  CHECK(read_all(clip, out, 1, &res, &err) == FV_OK, "%s", err.msg);
  probe a, b;
  CHECK(probe_file(clip, &a, &err) == FV_OK, "%s", err.msg);
  CHECK(probe_file(out, &b, &err) == FV_OK, "%s", err.msg);
  CHECK(a.n_frames == 20 && b.n_frames == 20, "frames %d -> %d", a.n_frames, b.n_frames);
  int same = a.n_frames == b.n_frames;
  for (int i = 0; same && i < a.n_frames; i++)
    same = a.frames[i].hash == b.frames[i].hash && a.frames[i].format == b.frames[i].format &&
           a.frames[i].pts_time == b.frames[i].pts_time;
  CHECK(same, "FFV1 round trip: every frame bit-exact, same pixel format and pts");
  CHECK(a.audio_packets > 0 && a.audio_packets == b.audio_packets && a.audio_hash == b.audio_hash,
        "audio copied unchanged: %d -> %d packets", a.audio_packets, b.audio_packets);
  CHECK(b.errors == 0, "output decodes cleanly");
  CHECK(count_dir_entries(tmpdir) > 0 && !file_exists(tmp_path(".round.mkv")), "no temporary left");
}

/* Lossy outputs: same frame count and timestamps (in seconds), audio where the container takes it. */
static void test_lossy(const char *clip, const char *name, int expect_audio) {
  read_result res;
  fv_error err;
  const char *out = tmp_path(name);
  fv_status st = read_all(clip, out, 0, &res, &err);
  CHECK(st == FV_OK, "%s: %s", name, err.msg);
  probe b;
  if (st || probe_file(out, &b, &err)) return;
  CHECK(b.n_frames == 20, "%s: %d frames", name, b.n_frames);
  int ok = b.n_frames == 20;
  for (int i = 0; ok && i < 20; i++) ok = fabs(b.frames[i].pts_time - pts_ms(i) / 1000.0) < 1e-6;
  CHECK(ok, "%s: every frame keeps its irregular timestamp", name);
  CHECK((b.audio_packets > 0) == expect_audio, "%s: audio packets %d", name, b.audio_packets);
}

static void test_sequence(const char *clip, const char *pngs) {
  read_result res;
  fv_error err;
  mkdir(tmp_path("seq"), 0755);
  CHECK(read_all(clip, tmp_path("seq/f_%04d.png"), 0, &res, &err) == FV_OK, "%s", err.msg);
  CHECK(count_dir_entries(tmp_path("seq")) == 21, "20 PNGs and the timestamps file: %d",
        count_dir_entries(tmp_path("seq")));
  int ok = 1;
  for (int i = 0; i < 20; i++) {
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/f_%04d.png", tmp_path("seq"), i);
    snprintf(b, sizeof b, "%s/frame_%03d.png", pngs, i);
    fv_image x = {0}, y = {0};
    ok &= fv_image_load(a, 1, &x, &err) == FV_OK && fv_image_load(b, 1, &y, &err) == FV_OK &&
          memcmp(x.pixels, y.pixels, 28 * 28) == 0;
    fv_image_free(&x);
    fv_image_free(&y);
  }
  CHECK(ok, "PNG sequence frames equal the input frames");
  FILE *f = fopen(tmp_path("seq/f_timestamps.txt"), "r");
  CHECK(f != NULL, "timestamps file written");
  if (f) {
    char line[256];
    int n = 0, good = 1;
    while (fgets(line, sizeof line, f)) {
      if (line[0] == '#') continue;
      long idx;
      long long pts;
      good &= sscanf(line, "%ld %lld", &idx, &pts) == 2 && idx == n && pts == pts_ms(n);
      n++;
    }
    fclose(f);
    CHECK(good && n == 20, "timestamps file: index and pts of 20 frames (%d)", n);
  }
}

static void test_truncated(const char *clip) {
  fv_error err;
  FILE *in = fopen(clip, "rb");
  fseek(in, 0, SEEK_END);
  long size = ftell(in);
  fseek(in, 0, SEEK_SET);
  char *buf = malloc((size_t)size);
  CHECK(fread(buf, 1, (size_t)size, in) == (size_t)size, "read clip");
  fclose(in);
  const char *cut = tmp_path("cut.mkv");
  FILE *out = fopen(cut, "wb");
  fwrite(buf, 1, (size_t)(size * 4 / 10), out);
  fclose(out);
  free(buf);
  /* Damage inside the data of frame 10's packet (its position from the demuxer) of a PNG-coded
   * clip: the PNG chunk CRCs catch it. FFmpeg 5.1's FFV1 decoder conceals CRC failures without
   * telling the caller, and its demuxers skip damage to the container's own structure silently;
   * of those, only the early end of a truncated file is detectable. */
  const char *bad = tmp_path("damaged.mkv"), *pclip = tmp_path("png.mkv");
  clip_spec spec = {.frames = 20, .width = 28, .height = 28, .codec = "png"};
  CHECK(make_clip(pclip, &spec, &err) == FV_OK, "%s", err.msg);
  in = fopen(pclip, "rb");
  fseek(in, 0, SEEK_END);
  size = ftell(in);
  fseek(in, 0, SEEK_SET);
  buf = malloc((size_t)size);
  CHECK(fread(buf, 1, (size_t)size, in) == (size_t)size, "read clip");
  fclose(in);
  AVFormatContext *fmt = NULL;
  int64_t pos = -1;
  int psize = 0;
  if (avformat_open_input(&fmt, pclip, NULL, NULL) == 0) {
    AVPacket *pkt = av_packet_alloc();
    for (int n = 0; av_read_frame(fmt, pkt) == 0; av_packet_unref(pkt))
      if (pkt->stream_index == 0 && n++ == 10) {
        pos = pkt->pos;
        psize = pkt->size;
      }
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
  }
  CHECK(pos > 0 && pos + psize <= size, "found frame 10's packet at %lld", (long long)pos);
  for (long i = pos + psize / 4; pos > 0 && i < pos + psize / 2; i++) buf[i] = (char)(buf[i] ^ 0x5a);
  out = fopen(bad, "wb");
  fwrite(buf, 1, (size_t)size, out);
  fclose(out);
  free(buf);
  read_result dmg;
  CHECK(read_all(bad, tmp_path("damaged-out.mkv"), 1, &dmg, &err) == FV_OK, "damage is not a failure: %s", err.msg);
  CHECK(dmg.errors == 1 && dmg.frames == 19, "the damaged frame is dropped and counted: %d frames, %d errors (%s)",
        dmg.frames, dmg.errors, dmg.first_error);
  CHECK(strstr(dmg.first_error, "damaged.mkv: frame 10: ") != NULL, "error names the file and frame: %s",
        dmg.first_error);
  read_result res;
  fv_status st = read_all(cut, tmp_path("cut-out.mkv"), 1, &res, &err);
  CHECK(st == FV_OK, "a truncated file is not a failure: %s", err.msg);
  CHECK(res.frames > 0 && res.frames < 20, "some frames decoded: %d", res.frames);
  CHECK(res.errors >= 1, "the damage is reported: %d errors", res.errors);
  CHECK(strstr(res.first_error, "cut.mkv: frame ") != NULL, "error names the file and frame: %s", res.first_error);
  int prefix = 1;
  read_result full;
  read_all(clip, NULL, 0, &full, &err);
  for (int i = 0; i < res.frames; i++) prefix &= res.hash[i] == full.hash[i] && res.pts[i] == full.pts[i];
  CHECK(prefix, "the frames that decode are the clip's first frames, exact");
}

/* Hostile inputs: copies of clips with bytes flipped at random all over (headers included) and cut
 * at random lengths. Reading may fail to open or report decode errors, but never returns FV_ERR after
 * opening, never loops without end, and (under ASan) never touches memory it should not. */
static void test_garbled(const char *clip, const char *x264clip) {
  const char *srcs[2] = {clip, x264clip};
  uint64_t rng = 12345;
  int opened = 0, survived = 0, total = 0;
  for (int s = 0; s < 2; s++) {
    FILE *in = fopen(srcs[s], "rb");
    if (!in) continue;
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    uint8_t *orig = malloc((size_t)size), *buf = malloc((size_t)size);
    size_t got = fread(orig, 1, (size_t)size, in);
    fclose(in);
    for (int t = 0; t < 24 && got == (size_t)size; t++) {
      memcpy(buf, orig, (size_t)size);
      int flips = 1 + (int)((fv_test_rand(&rng) + 1) * 20);
      for (int k = 0; k < flips; k++) {
        long at = (long)((fv_test_rand(&rng) + 1) * 0.5 * (double)(size - 1));
        buf[at] ^= (uint8_t)(1 + (int)((fv_test_rand(&rng) + 1) * 127));
      }
      long len = t % 3 == 2 ? (long)((fv_test_rand(&rng) + 1) * 0.5 * (double)size) : size;
      const char *path = tmp_path("garbled.bin");
      FILE *out = fopen(path, "wb");
      fwrite(buf, 1, (size_t)len, out);
      fclose(out);
      fv_error err;
      read_result res;
      total++;
      fv_video_reader *r = NULL;
      if (fv_video_reader_open(path, 0, 1, &r, &err) != FV_OK) continue;
      fv_video_reader_close(r);
      opened++;
      if (read_all(path, NULL, 0, &res, &err) == FV_OK) survived++;
    }
    free(orig);
    free(buf);
  }
  printf("garbled files: %d made, %d opened, %d read to the end\n", total, opened, survived);
  CHECK(total == 48 && survived == opened, "garbled files: %d made, %d opened, %d read to the end", total, opened,
        survived);
}

static void test_bad_outputs(const char *clip) {
  fv_error err;
  fv_video_reader *r = NULL;
  if (fv_video_reader_open(clip, 0, 1, &r, &err)) {
    CHECK(0, "%s", err.msg);
    return;
  }
  fv_video_writer *w = NULL;
  fv_video_writer_options wo = {.crf = -1};
  int before = count_dir_entries(tmpdir);
  CHECK(fv_video_writer_open(tmp_path("x.avi"), r, &wo, &w, NULL, &err) == FV_ERR && strstr(err.msg, "x.avi"),
        "unsupported extension: %s", err.msg);
  CHECK(fv_video_writer_open(tmp_path("frames_%d.jpg"), r, &wo, &w, NULL, &err) == FV_ERR, "JPEG sequence refused");
  wo.lossless = 1;
  CHECK(fv_video_writer_open(tmp_path("x.mp4"), r, &wo, &w, NULL, &err) == FV_ERR && strstr(err.msg, "lossless"),
        "--lossless in .mp4: %s", err.msg);
  wo.lossless = 0;
  CHECK(fv_video_writer_open(tmp_path("nodir/x.mkv"), r, &wo, &w, NULL, &err) == FV_ERR && strstr(err.msg, "nodir"),
        "missing directory: %s", err.msg);
  CHECK(fv_video_writer_open(tmp_path("nodir/%d.png"), r, &wo, &w, NULL, &err) == FV_ERR && strstr(err.msg, "nodir"),
        "missing sequence directory: %s", err.msg);
  /* An output abandoned half way leaves nothing. */
  CHECK(fv_video_writer_open(tmp_path("abandoned.mkv"), r, &wo, &w, NULL, &err) == FV_OK, "%s", err.msg);
  fv_video_unit u;
  while (fv_video_read(r, &u, &err) == FV_OK && u.kind != FV_VIDEO_END && u.kind != FV_VIDEO_FRAME)
    fv_video_unit_clear(&u);
  if (w && u.kind == FV_VIDEO_FRAME) CHECK(fv_video_write_frame(w, &u, NULL, &err) == FV_OK, "%s", err.msg);
  fv_video_unit_clear(&u);
  fv_video_writer_close(w);
  CHECK(count_dir_entries(tmpdir) == before, "nothing left behind: %d -> %d entries", before,
        count_dir_entries(tmpdir));
  fv_video_reader_close(r);
  CHECK(fv_video_reader_open(tmp_path("missing.mkv"), 0, 0, &r, &err) == FV_ERR && strstr(err.msg, "missing.mkv"),
        "missing input: %s", err.msg);
  FILE *f = fopen(tmp_path("text.mkv"), "w");
  fputs("not a video\n", f);
  fclose(f);
  CHECK(fv_video_reader_open(tmp_path("text.mkv"), 0, 0, &r, &err) == FV_ERR && strstr(err.msg, "text.mkv"),
        "not a video: %s", err.msg);
}

static int run_tests(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/fv-test-video-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  fv_error err;
  char *pngs = strdup(tmp_path("pngs"));
  mkdir(pngs, 0755);
  char *clip = strdup(tmp_path("clip.mkv"));
  clip_spec spec = {.frames = 20, .width = 28, .height = 28, .codec = "ffv1", .audio = 1, .pngs = pngs};
  fv_status st = make_clip(clip, &spec, &err);
  CHECK(st == FV_OK, "make the test clip: %s", err.msg);
  if (st == FV_OK) {
    test_read_exact(clip, pngs);
    test_lossless_round_trip(clip);
    test_lossy(clip, "lossy.mp4", 0); /* PCM is not allowed in .mp4: left out */
    test_lossy(clip, "lossy.mkv", 1);
    test_lossy(clip, "lossy.webm", 0);
    test_sequence(clip, pngs);
    test_truncated(clip);
    clip_spec xs = {.frames = 12, .width = 32, .height = 24, .codec = "x264"};
    const char *x264clip = tmp_path("x264.mkv");
    CHECK(make_clip(x264clip, &xs, &err) == FV_OK, "%s", err.msg);
    test_garbled(clip, x264clip);
    test_bad_outputs(clip);
  }
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  free(pngs);
  free(clip);
  return fv_test_finish();
}

int main(int argc, char **argv) {
  av_log_set_level(getenv("FOVEA_FFMPEG_LOG") ? AV_LOG_INFO : AV_LOG_QUIET);
  if (argc >= 2 && strcmp(argv[1], "make") == 0) {
    /* test_video make OUT FRAMES WIDTH HEIGHT CODEC [audio] [pngs=DIR] [labels=FILE] */
    if (argc < 7) {
      fprintf(
          stderr,
          "usage: test_video make OUT FRAMES WIDTH HEIGHT ffv1|ffv1rgb|x264|png [audio] [pngs=DIR] [labels=FILE]\n");
      return 2;
    }
    clip_spec s = {.frames = atoi(argv[3]), .width = atoi(argv[4]), .height = atoi(argv[5]), .codec = argv[6]};
    for (int i = 7; i < argc; i++) {
      if (strcmp(argv[i], "audio") == 0) s.audio = 1;
      if (strncmp(argv[i], "pngs=", 5) == 0) s.pngs = argv[i] + 5;
      if (strncmp(argv[i], "labels=", 7) == 0) s.labels = argv[i] + 7;
    }
    fv_error err;
    if (make_clip(argv[2], &s, &err)) {
      fprintf(stderr, "test_video make: %s\n", err.msg);
      return 1;
    }
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "probe") == 0) {
    /* One line per frame: index pts pts_time hash; then "audio PACKETS HASH" and "errors N". */
    probe *p = malloc(sizeof *p);
    fv_error err;
    if (!p || probe_file(argv[2], p, &err)) {
      fprintf(stderr, "test_video probe: %s\n", p ? err.msg : "out of memory");
      free(p);
      return 1;
    }
    for (int i = 0; i < p->n_frames; i++)
      printf("%d %lld %.6f %016llx %dx%d %s\n", i, (long long)p->frames[i].pts, p->frames[i].pts_time,
             (unsigned long long)p->frames[i].hash, p->frames[i].width, p->frames[i].height,
             av_get_pix_fmt_name(p->frames[i].format));
    printf("audio %d %016llx\nerrors %d\n", p->audio_packets, (unsigned long long)p->audio_hash, p->errors);
    free(p);
    return 0;
  }
  return run_tests();
}
