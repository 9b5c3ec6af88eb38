/* filter.c: decode thread -> classify (calling thread) -> encode thread, joined by bounded queues.
 *
 * Order is kept end to end: the calling thread forwards frames and copied packets in the order it
 * received them, so the writer sees the input's order and timestamps. A stage that fails aborts
 * both queues; the others notice at their next push or pop and stop, and the calling thread joins
 * them and reports the first error. No global state: everything lives in one run's context. */
#include "filter.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../vision/labels.h"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One unit on its way through the pipeline. */
typedef struct job {
  fv_video_unit u;
  fv_image corrupted; /* pixels to write instead of the decoded frame (after --corrupt) */
  int write;          /* FRAME: encode it */
} job;

static void job_free(job *j) {
  if (!j) return;
  fv_video_unit_clear(&j->u);
  fv_image_free(&j->corrupted);
  free(j);
}

/* ---- bounded queue ------------------------------------------------------------------------- */

typedef struct queue {
  job **items;
  int cap, head, count;
  int closed, aborted;
  pthread_mutex_t mu;
  pthread_cond_t not_empty, not_full;
} queue;

static int queue_init(queue *q, int cap) {
  memset(q, 0, sizeof *q);
  q->items = calloc((size_t)cap, sizeof *q->items);
  if (!q->items) return -1;
  q->cap = cap;
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->not_empty, NULL);
  pthread_cond_init(&q->not_full, NULL);
  return 0;
}

static void queue_destroy(queue *q) {
  if (!q->items) return;
  for (int i = 0; i < q->count; i++) job_free(q->items[(q->head + i) % q->cap]);
  free(q->items);
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->not_empty);
  pthread_cond_destroy(&q->not_full);
  q->items = NULL;
}

/* Blocks while full. Returns -1 (the caller keeps j) when the queue was aborted. */
static int queue_push(queue *q, job *j) {
  pthread_mutex_lock(&q->mu);
  while (q->count == q->cap && !q->aborted) pthread_cond_wait(&q->not_full, &q->mu);
  int ok = !q->aborted;
  if (ok) {
    q->items[(q->head + q->count) % q->cap] = j;
    q->count++;
    pthread_cond_signal(&q->not_empty);
  }
  pthread_mutex_unlock(&q->mu);
  return ok ? 0 : -1;
}

/* Blocks while empty. NULL: closed and empty, or aborted. */
static job *queue_pop(queue *q) {
  pthread_mutex_lock(&q->mu);
  while (q->count == 0 && !q->closed && !q->aborted) pthread_cond_wait(&q->not_empty, &q->mu);
  job *j = NULL;
  if (!q->aborted && q->count > 0) {
    j = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    pthread_cond_signal(&q->not_full);
  }
  pthread_mutex_unlock(&q->mu);
  return j;
}

static void queue_close(queue *q) {
  pthread_mutex_lock(&q->mu);
  q->closed = 1;
  pthread_cond_broadcast(&q->not_empty);
  pthread_mutex_unlock(&q->mu);
}

static void queue_abort(queue *q) {
  pthread_mutex_lock(&q->mu);
  q->aborted = 1;
  pthread_cond_broadcast(&q->not_empty);
  pthread_cond_broadcast(&q->not_full);
  pthread_mutex_unlock(&q->mu);
}

/* ---- the run ------------------------------------------------------------------------------- */

typedef struct run {
  const fv_filter_options *opt;
  fv_video_reader *reader;
  fv_video_writer *writer;
  queue decoded, classified;
  /* Written by one thread each, read by the caller after joining. */
  fv_status decode_status, encode_status;
  fv_error decode_err, encode_err;
  double decode_s, encode_s;
} run;

static void *decode_main(void *arg) {
  run *r = arg;
  for (;;) {
    job *j = calloc(1, sizeof *j);
    if (!j) {
      r->decode_status = fv_fail(&r->decode_err, "%s: out of memory", r->opt->input);
      break;
    }
    double t0 = now_seconds();
    fv_status st = fv_video_read(r->reader, &j->u, &r->decode_err);
    r->decode_s += now_seconds() - t0;
    if (st || j->u.kind == FV_VIDEO_END) {
      r->decode_status = st;
      job_free(j);
      break;
    }
    if (queue_push(&r->decoded, j)) { /* aborted downstream */
      job_free(j);
      break;
    }
  }
  if (r->decode_status)
    queue_abort(&r->decoded);
  else
    queue_close(&r->decoded);
  return NULL;
}

static void *encode_main(void *arg) {
  run *r = arg;
  job *j;
  while ((j = queue_pop(&r->classified))) {
    double t0 = now_seconds();
    fv_status st = FV_OK;
    if (j->u.kind == FV_VIDEO_COPY)
      st = fv_video_write_copy(r->writer, &j->u, &r->encode_err);
    else if (j->u.kind == FV_VIDEO_FRAME && j->write)
      st = fv_video_write_frame(r->writer, &j->u, j->corrupted.pixels ? &j->corrupted : NULL, &r->encode_err);
    r->encode_s += now_seconds() - t0;
    job_free(j);
    if (st) {
      r->encode_status = st;
      queue_abort(&r->classified);
      queue_abort(&r->decoded);
      break;
    }
  }
  return NULL;
}

fv_status fv_image_to_channels(const fv_image *img, int channels, fv_image *out, fv_error *err) {
  memset(out, 0, sizeof *out);
  size_t n = (size_t)img->width * img->height;
  if (!(out->pixels = malloc(n * channels)))
    return fv_fail(err, "out of memory for a %dx%d image", img->width, img->height);
  out->width = img->width;
  out->height = img->height;
  out->channels = channels;
  const uint8_t *s = img->pixels;
  uint8_t *d = out->pixels;
  if (img->channels == channels) {
    memcpy(d, s, n * channels);
  } else if (channels == 1) {
    /* PIL's convert('L'): L = (19595 R + 38470 G + 7471 B + 32768) >> 16, as vision/ uses. */
    for (size_t i = 0; i < n; i++)
      d[i] = (uint8_t)((19595u * s[3 * i] + 38470u * s[3 * i + 1] + 7471u * s[3 * i + 2] + 32768u) >> 16);
  } else {
    for (size_t i = 0; i < n; i++) d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = s[i];
  }
  return FV_OK;
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

/* Applies the --corrupt list to frames[0..n) in place of their pixels, grouping runs of frames
 * with the same size (a stream may change size mid-way; a corruption batch cannot). */
static fv_status corrupt_frames(fv_corruptor *cr, const fv_filter_options *opt, job **frames, int n, fv_error *err) {
  fv_image *in = calloc((size_t)n, sizeof *in), *out = calloc((size_t)n, sizeof *out);
  uint32_t *keys = calloc((size_t)n, sizeof *keys);
  fv_status st = FV_OK;
  if (!in || !out || !keys) {
    st = fv_fail(err, "out of memory");
    goto done;
  }
  for (int start = 0; start < n && !st;) {
    const fv_image *first = &frames[start]->u.image;
    int end = start + 1;
    while (end < n && frames[end]->u.image.width == first->width && frames[end]->u.image.height == first->height &&
           frames[end]->u.image.channels == first->channels)
      end++;
    for (int k = 0; k < opt->n_corrupt && !st; k++) {
      int m = end - start;
      for (int i = 0; i < m; i++) {
        job *j = frames[start + i];
        in[i] = j->corrupted.pixels ? j->corrupted : j->u.image; /* chains: corrupt the corrupted */
        keys[i] = (uint32_t)j->u.index;
      }
      st = fv_corrupt_images(cr, opt->corrupt[k].corruption, opt->corrupt[k].severity, in, keys, m, out, err);
      if (st) {
        fv_fail_context(err, "%s: frames %ld..%ld: --corrupt %s:%d", opt->input, frames[start]->u.index,
                        frames[end - 1]->u.index, fv_corruption_name(opt->corrupt[k].corruption),
                        opt->corrupt[k].severity);
        break;
      }
      for (int i = 0; i < m; i++) {
        fv_image_free(&frames[start + i]->corrupted);
        frames[start + i]->corrupted = out[i];
        out[i] = (fv_image){0};
      }
    }
    start = end;
  }
done:
  free(in);
  free(out);
  free(keys);
  return st;
}

/* Classifies frames[0..n) (n <= batch), writes their JSONL lines and decides which are written. */
static fv_status classify_frames(fv_classifier *cls, const fv_filter_options *opt, job **frames, int n, FILE *labels,
                                 float *probs, fv_ranked *scratch, fv_filter_stats *s, fv_error *err) {
  const fv_vit_config *cfg = &cls->vit.cfg;
  for (int i = 0; i < n; i++) {
    const fv_image *src = frames[i]->corrupted.pixels ? &frames[i]->corrupted : &frames[i]->u.image;
    fv_image conv;
    if (fv_image_to_channels(src, cfg->in_chans, &conv, err)) return FV_ERR;
    fv_status st = fv_classifier_set_image(cls, i, &conv, err);
    fv_image_free(&conv);
    if (st) return fv_fail_context(err, "%s: frame %ld", opt->input, frames[i]->u.index);
  }
  if (fv_classifier_run(cls, n, NULL, probs, err)) return fv_fail_context(err, "%s: classifying", opt->input);
  int K = cls->num_classes, top = opt->top < K ? opt->top : K;
  char buf[32];
  for (int i = 0; i < n; i++) {
    const float *p = probs + (size_t)i * K;
    fv_rank_classes(p, K, scratch);
    int keep = scratch[0].prob >= opt->min_prob;
    if (keep && opt->n_select > 0) {
      keep = 0;
      for (int k = 0; k < opt->n_select; k++) keep |= opt->select[k] == scratch[0].index;
    }
    frames[i]->write = keep;
    s->classified++;
    if (!keep) s->unselected++;
    if (!labels) continue;
    fprintf(labels, "{\"frame\": %ld, \"pts_time\": ", frames[i]->u.index);
    if (isnan(frames[i]->u.pts_time))
      fprintf(labels, "null");
    else
      fprintf(labels, "%.6f", frames[i]->u.pts_time);
    fprintf(labels, ", \"top\": [");
    for (int k = 0; k < top; k++) {
      fprintf(labels, "%s{\"index\": %d, \"label\": ", k ? ", " : "", scratch[k].index);
      json_string(labels, fv_label_name(cfg, scratch[k].index, buf, sizeof buf));
      fprintf(labels, ", \"prob\": %.6g}", scratch[k].prob);
    }
    fprintf(labels, "], \"written\": %s}\n", keep ? "true" : "false");
  }
  return FV_OK;
}

/* The labels file under a temporary name beside its final one. */
static fv_status open_labels(const char *path, char **tmp, FILE **f, fv_error *err) {
  size_t n = strlen(path) + 24;
  if (!(*tmp = malloc(n))) return fv_fail(err, "%s: out of memory", path);
  snprintf(*tmp, n, "%s.fovea-XXXXXX", path);
  int fd = mkstemp(*tmp);
  if (fd < 0) {
    fv_fail(err, "%s: cannot create the temporary file %s: %s", path, *tmp, strerror(errno));
    free(*tmp);
    *tmp = NULL;
    return FV_ERR;
  }
  if (!(*f = fdopen(fd, "w"))) {
    fv_fail(err, "%s: cannot open %s: %s", path, *tmp, strerror(errno));
    close(fd);
    unlink(*tmp);
    free(*tmp);
    *tmp = NULL;
    return FV_ERR;
  }
  return FV_OK;
}

fv_status fv_filter_run(fv_classifier *cls, fv_corruptor *cr, const fv_filter_options *opt, fv_filter_stats *stats,
                        fv_error *err) {
  memset(stats, 0, sizeof *stats);
  if (opt->n_corrupt > 0 && !cr) return fv_fail(err, "--corrupt needs a corruptor");
  if (opt->every < 1) return fv_fail(err, "--every must be >= 1, got %d", opt->every);
  double t_start = now_seconds();
  run r = {.opt = opt};
  int threads = 0; /* 1: decoder started, 2: both */
  pthread_t dec_thread, enc_thread;
  char *labels_tmp = NULL;
  FILE *labels = NULL;
  job **pending = NULL;
  job **frames = NULL;
  float *probs = NULL;
  fv_ranked *scratch = NULL;
  fv_status st = FV_ERR;

  if (fv_video_reader_open(opt->input, 0, 1, &r.reader, err)) return FV_ERR;
  const fv_video_info *info = fv_video_reader_info(r.reader);
  stats->duration = info->duration;
  stats->start_time = info->start_time;
  if (fv_video_writer_open(opt->output, r.reader, &opt->writer, &r.writer, &stats->skipped_streams, err)) goto done;
  if (opt->labels && open_labels(opt->labels, &labels_tmp, &labels, err)) goto done;

  /* Queue bounds: two batches of frames, but at most ~256 MiB of decoded pixels per queue
   * (a 4K frame with its 8-bit copy is ~37 MiB), and never fewer than 4 units. */
  int batch = cls->batch;
  double frame_bytes = (double)info->width * info->height * (info->channels + 4.0);
  int cap = 2 * batch + 8;
  if (cap * frame_bytes > 256.0 * (1 << 20)) cap = (int)(256.0 * (1 << 20) / frame_bytes);
  if (cap < 4) cap = 4;
  int pend_cap = batch + 64; /* frames of one batch plus copied packets in between */
  pending = calloc((size_t)pend_cap, sizeof *pending);
  frames = calloc((size_t)batch, sizeof *frames);
  probs = malloc((size_t)batch * cls->num_classes * sizeof *probs);
  scratch = malloc((size_t)cls->num_classes * sizeof *scratch);
  if (!pending || !frames || !probs || !scratch || queue_init(&r.decoded, cap) || queue_init(&r.classified, cap)) {
    fv_fail(err, "out of memory");
    goto done;
  }
  if (pthread_create(&dec_thread, NULL, decode_main, &r)) {
    fv_fail(err, "cannot start the decode thread");
    goto done;
  }
  threads = 1;
  if (pthread_create(&enc_thread, NULL, encode_main, &r)) {
    fv_fail(err, "cannot start the encode thread");
    queue_abort(&r.decoded);
    goto done;
  }
  threads = 2;

  int ended = 0, failed = 0;
  while (!ended && !failed) {
    int np = 0, nf = 0;
    while (nf < batch && np < pend_cap) {
      job *j = queue_pop(&r.decoded);
      if (!j) {
        ended = 1;
        break;
      }
      if (j->u.kind == FV_VIDEO_ERROR) {
        stats->undecodable++;
        if (opt->on_warning) opt->on_warning(opt->user, j->u.message);
        job_free(j);
        continue;
      }
      if (j->u.kind == FV_VIDEO_FRAME) {
        stats->read++;
        if (!isnan(j->u.pts_time)) stats->pts_time = j->u.pts_time;
        if (j->u.index % opt->every != 0) {
          job_free(j);
          continue;
        }
        frames[nf++] = j;
      }
      pending[np++] = j;
    }
    if (nf > 0 && opt->n_corrupt > 0) {
      double t0 = now_seconds();
      if (corrupt_frames(cr, opt, frames, nf, err)) failed = 1;
      stats->corrupt_s += now_seconds() - t0;
    }
    if (nf > 0 && !failed) {
      double t0 = now_seconds();
      if (classify_frames(cls, opt, frames, nf, labels, probs, scratch, stats, err)) failed = 1;
      stats->classify_s += now_seconds() - t0;
    }
    for (int i = 0; i < np; i++) {
      if (!failed && pending[i]->u.kind == FV_VIDEO_FRAME && pending[i]->write) stats->written++;
      if (failed || queue_push(&r.classified, pending[i])) {
        failed = 1;
        job_free(pending[i]);
      }
    }
    if (opt->on_progress) opt->on_progress(opt->user, stats);
  }
  if (failed) {
    queue_abort(&r.decoded);
    queue_abort(&r.classified);
  } else {
    queue_close(&r.classified);
  }
  pthread_join(dec_thread, NULL);
  pthread_join(enc_thread, NULL);
  threads = 0;
  stats->decode_s = r.decode_s;
  stats->encode_s = r.encode_s;
  if (r.encode_status) {
    *err = r.encode_err;
    goto done;
  }
  if (r.decode_status) {
    *err = r.decode_err;
    goto done;
  }
  if (failed) goto done; /* err set by the classify stage (or a push that found an aborted queue) */
  if (stats->read == 0) {
    fv_fail(err, "%s: no video frame could be decoded (%ld decode error(s)); %s not written", opt->input,
            stats->undecodable, opt->output);
    goto done;
  }
  if (stats->written == 0) {
    fv_fail(err, "%s: none of the %ld classified frame(s) was selected; %s not written", opt->input, stats->classified,
            opt->output);
    goto done;
  }
  if (labels) {
    int bad = ferror(labels);
    if (fclose(labels) != 0) bad = 1;
    labels = NULL;
    if (bad) {
      fv_fail(err, "%s: writing failed: %s", opt->labels, strerror(errno));
      goto done;
    }
  }
  double t0 = now_seconds();
  if (fv_video_writer_finish(r.writer, err)) goto done;
  stats->encode_s += now_seconds() - t0;
  if (opt->labels && rename(labels_tmp, opt->labels) != 0) {
    fv_fail(err, "%s: cannot rename %s into place: %s", opt->labels, labels_tmp, strerror(errno));
    goto done;
  }
  free(labels_tmp);
  labels_tmp = NULL;
  st = FV_OK;
done:
  if (threads) { /* a start failure: stop and join what runs */
    queue_abort(&r.decoded);
    queue_abort(&r.classified);
    pthread_join(dec_thread, NULL);
    if (threads == 2) pthread_join(enc_thread, NULL);
  }
  if (labels) fclose(labels);
  if (labels_tmp) {
    unlink(labels_tmp);
    free(labels_tmp);
  }
  queue_destroy(&r.decoded);
  queue_destroy(&r.classified);
  fv_video_writer_close(r.writer);
  fv_video_reader_close(r.reader);
  free(pending);
  free(frames);
  free(probs);
  free(scratch);
  stats->seconds = now_seconds() - t_start;
  return st;
}
