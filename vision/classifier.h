/* classifier.h: a ViT ready to classify batches of images on one device.
 *
 * Owns the model, its recorded graph and executor, and a preprocessor: callers put images
 * into batch slots (decoded images, preprocessed on the device) and run the batch. The batch
 * size is lowered to what the device can bind. Commands that classify (classify, eval,
 * video filters) share this instead of each wiring the engine themselves. */
#ifndef FV_CLASSIFIER_H
#define FV_CLASSIFIER_H

#include "../engine/device.h"
#include "../engine/exec.h"
#include "image.h"
#include "preprocess.h"
#include "vit.h"

typedef struct fv_classifier {
  fv_vit vit;
  fv_device *dev; /* not owned; NULL = CPU executor */
  fv_graph graph;
  fv_vit_graph nodes;
  fv_exec *ex;
  fv_preprocessor *pre;
  int batch;        /* images per run */
  size_t per_image; /* floats of one preprocessed image */
  int num_classes;
  float *input; /* batch * per_image */
} fv_classifier;

typedef struct fv_classifier_options {
  int batch;   /* wanted batch size (lowered to fit the device) */
  int fp16;    /* fp16 storage */
  int profile; /* timestamp queries */
} fv_classifier_options;

fv_status fv_classifier_open(const char *model, fv_device *dev, const fv_classifier_options *opt, fv_classifier *c,
                             fv_error *err);
void fv_classifier_close(fv_classifier *c);

/* Preprocesses img into batch slot `slot` (0 <= slot < c->batch). */
fv_status fv_classifier_set_image(fv_classifier *c, int slot, const fv_image *img, fv_error *err);
/* Runs the batch; slots >= filled are zeroed first. logits/probs receive filled * num_classes
 * values (either may be NULL). */
fv_status fv_classifier_run(fv_classifier *c, int filled, float *logits, float *probs, fv_error *err);

/* One class of a ranking: index and probability. */
typedef struct fv_ranked {
  int index;
  float prob;
} fv_ranked;

/* Ranks n class probabilities into out[0..n): highest first, ties by lower index. */
void fv_rank_classes(const float *probs, int n, fv_ranked *out);

#endif
