/* filter.h: the per-frame video pipeline behind `fovea filter`: decode, (corrupt), classify,
 * select, encode.
 *
 * Three stages run at once: a decode thread (video_io reader), the calling thread (corruption and
 * classification in batches of the classifier's size), and an encode thread (video_io writer).
 * Bounded queues join them, so memory stays proportional to the batch, not to the video.
 * Decode errors are counted, reported through a callback with their frame index, and skipped.
 * Nothing appears under the output or labels names unless the run succeeds.
 *
 * Not here: option parsing, device choice, terminal output (apps/cmd_filter.c), and
 * re-generation of frames (a later video DiT pipeline). */
#ifndef FV_VIDEO_FILTER_H
#define FV_VIDEO_FILTER_H

#include <stdint.h>

#include "../vision/classifier.h"
#include "../vision/corrupt.h"
#include "video_io.h"

#define FV_FILTER_MAX_CORRUPT 8
#define FV_FILTER_MAX_SELECT 64

typedef struct fv_filter_stats {
  long read;           /* frames decoded */
  long classified;     /* frames classified (every --every-th) */
  long written;        /* frames encoded */
  long undecodable;    /* decode errors (packets or frames dropped) */
  long unselected;     /* classified but not selected */
  int skipped_streams; /* audio streams the output container cannot take */
  double seconds;      /* wall time of the run */
  /* Busy time per stage (seconds); stages overlap, so these add up to more than seconds. */
  double decode_s, corrupt_s, classify_s, encode_s;
  double pts_time;   /* timestamp of the last frame seen, for progress */
  double duration;   /* of the input from its container, <= 0 when unknown */
  double start_time; /* the container's first timestamp: progress is (pts_time - start_time) / duration */
} fv_filter_stats;

typedef struct fv_filter_options {
  const char *input, *output;
  const char *labels; /* JSONL path or NULL */
  int every;          /* classify and keep every N-th frame (1 = all) */
  int select[FV_FILTER_MAX_SELECT];
  int n_select; /* 0: no selection by label */
  float min_prob;
  struct {
    int corruption, severity;
  } corrupt[FV_FILTER_MAX_CORRUPT];
  int n_corrupt;
  int top; /* labels per frame in the JSONL */
  fv_video_writer_options writer;
  /* Called on the calling thread (any may be NULL). */
  void (*on_warning)(void *user, const char *message);
  void (*on_progress)(void *user, const fv_filter_stats *s);
  void *user;
} fv_filter_options;

/* Runs the pipeline. cr may be NULL when n_corrupt is 0. Fails with one message (naming the file)
 * for unreadable inputs, zero decodable frames, zero frames written, writer errors and engine
 * errors; stats are filled either way. */
fv_status fv_filter_run(fv_classifier *cls, fv_corruptor *cr, const fv_filter_options *opt, fv_filter_stats *stats,
                        fv_error *err);

/* Converts img to `channels` channels (1: PIL's 'L' weights from RGB; 3: gray replicated) into out
 * (a new image); a copy when the channels already match. */
fv_status fv_image_to_channels(const fv_image *img, int channels, fv_image *out, fv_error *err);

#endif
