/* video_io.h: reading and writing video files through FFmpeg (libavformat, libavcodec, libswscale).
 *
 * A reader demuxes and decodes the best video stream of any file FFmpeg can read (threaded
 * decoding) and hands out units in file order: decoded frames (8-bit gray or RGB pixels plus the
 * frame as FFmpeg decoded it, for exact re-encoding), packets of the other streams for stream
 * copy (audio), and decode errors, each with the index of the frame it concerns. A writer encodes
 * frames to .mp4/.mkv (libx264, yuv420p, CRF), .webm (VP9), lossless FFV1 in .mkv, or a PNG
 * sequence (a path with %d), keeps every frame's input timestamp (variable frame rate survives),
 * copies the reader's audio when the container accepts it, and writes under a temporary name that
 * is renamed only by fv_video_writer_finish.
 *
 * Deliberately not here: scaling to a model's input size (the classifier's preprocessing does that
 * on the device), float planes, filters, subtitles and data streams (not copied), and any
 * threading: a reader and a writer are each used by one thread at a time (video/filter.c runs them
 * on different threads). FFmpeg's own log level is global state and left to apps/. */
#ifndef FV_VIDEO_IO_H
#define FV_VIDEO_IO_H

#include <stdint.h>

#include "../engine/status.h"
#include "../vision/image.h"

struct AVFrame;
struct AVPacket;

/* "No timestamp" in fv_video_unit.pts (FFmpeg's AV_NOPTS_VALUE). */
#define FV_VIDEO_NO_PTS INT64_MIN

typedef enum fv_video_unit_kind {
  FV_VIDEO_END = 0, /* end of the input: nothing more will come */
  FV_VIDEO_FRAME,   /* a decoded frame of the video stream */
  FV_VIDEO_COPY,    /* a packet of another stream (audio), to copy unchanged */
  FV_VIDEO_ERROR,   /* a packet or frame that could not be decoded (counted, then skipped) */
} fv_video_unit_kind;

typedef struct fv_video_unit {
  fv_video_unit_kind kind;
  long index;              /* FRAME: 0-based decoded frame index; ERROR: index the next good frame gets */
  int64_t pts;             /* FRAME: best-effort timestamp in the video stream's time base (or FV_VIDEO_NO_PTS) */
  double pts_time;         /* FRAME: pts in seconds (NaN without a timestamp) */
  fv_image image;          /* FRAME: the pixels, gray or RGB (see fv_video_reader_open), owned */
  struct AVFrame *frame;   /* FRAME: the decoded frame as FFmpeg gave it, owned */
  struct AVPacket *packet; /* COPY: the packet, owned */
  char message[256];       /* ERROR: what went wrong, naming the file */
} fv_video_unit;

/* Frees what the unit owns and empties it. */
void fv_video_unit_clear(fv_video_unit *u);

typedef struct fv_video_reader fv_video_reader;

typedef struct fv_video_info {
  int width, height;    /* of the stream (frames may change size mid-stream) */
  int channels;         /* of fv_video_unit.image: 1 or 3 */
  int tb_num, tb_den;   /* the video stream's time base */
  double duration;      /* seconds, from the container; <= 0 when unknown */
  double start_time;    /* seconds: the container's first timestamp (0 when unknown) */
  long frames_estimate; /* from the container; 0 when unknown */
  const char *codec;    /* decoder name */
  const char *pix_fmt;  /* decoded pixel format name */
  int copy_streams;     /* streams whose packets come as FV_VIDEO_COPY units */
} fv_video_info;

/* Opens path and its best video stream. channels: 1 (gray), 3 (RGB), or 0 for the source's own
 * (1 when the decoded pixel format is gray, else 3). copy_audio: also deliver the packets of
 * every audio stream as FV_VIDEO_COPY units. Fails, naming the file, when it cannot be opened,
 * has no video stream or no decoder. */
fv_status fv_video_reader_open(const char *path, int channels, int copy_audio, fv_video_reader **r, fv_error *err);
void fv_video_reader_close(fv_video_reader *r);
const fv_video_info *fv_video_reader_info(const fv_video_reader *r);

/* Fills u with the next unit (kind FV_VIDEO_END at the end). Damage in the file (a packet the
 * decoder rejects, a read error mid-file, a truncated tail) comes as FV_VIDEO_ERROR units and
 * reading goes on; only failures of this program (out of memory, a conversion that cannot be
 * set up) return FV_ERR. */
fv_status fv_video_read(fv_video_reader *r, fv_video_unit *u, fv_error *err);

typedef struct fv_video_writer fv_video_writer;

typedef struct fv_video_writer_options {
  int lossless; /* .mkv: FFV1 instead of libx264 (other outputs: refused) */
  int crf;      /* libx264 / VP9 quality; < 0: the default (23 for x264, 32 for VP9) */
} fv_video_writer_options;

/* Is path's extension one the writer handles (.mp4, .mkv, .webm, or a PNG pattern with %d)? */
int fv_video_output_supported(const char *path);

/* Prepares an output for frames from reader src: the encoder is set up for src's size and time
 * base, and src's copied streams get output streams where the container accepts their codec
 * (the others are left out; *skipped_streams counts them if non-NULL). Nothing appears under
 * path until fv_video_writer_finish. Fails with one clear message for an unsupported extension,
 * a missing encoder, --lossless with a lossy container, or an unwritable directory. */
fv_status fv_video_writer_open(const char *path, const fv_video_reader *src, const fv_video_writer_options *opt,
                               fv_video_writer **w, int *skipped_streams, fv_error *err);
/* Encodes one frame with its pts. pixels NULL: u->frame as decoded (exact where the encoder
 * takes its pixel format); otherwise these pixels (same meaning as u->image, e.g. corrupted). */
fv_status fv_video_write_frame(fv_video_writer *w, const fv_video_unit *u, const fv_image *pixels, fv_error *err);
/* Copies a FV_VIDEO_COPY unit's packet (consumed; ignored if its stream is not in the output). */
fv_status fv_video_write_copy(fv_video_writer *w, fv_video_unit *u, fv_error *err);
/* Frames written so far. */
long fv_video_writer_frames(const fv_video_writer *w);
/* Flushes the encoder, finishes the file and renames it into place. */
fv_status fv_video_writer_finish(fv_video_writer *w, fv_error *err);
/* Frees the writer; an unfinished output is removed (its temporary files included). */
void fv_video_writer_close(fv_video_writer *w);

/* Is "%d" (or "%0Nd") in path: a numbered image sequence? */
int fv_video_is_sequence(const char *path);

#endif
