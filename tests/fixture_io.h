/* fixture_io.h: reading the fixtures that tools/ write for the parity tests: raw float32 files
 * and model folders (config.json, model.safetensors, input.bin, expected_logits.bin). */
#ifndef FV_TEST_FIXTURE_IO_H
#define FV_TEST_FIXTURE_IO_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/file.h"
#include "vision/vit.h"

/* A raw little-endian float32 file (at most 64 MiB) into *count floats; NULL with *count 0 if it
 * is unreadable, empty or not a whole number of floats. Free with free(). */
static inline float *fv_test_read_floats(const char *path, size_t *count) {
  char *data = NULL;
  size_t len = 0;
  fv_error err;
  *count = 0;
  if (fv_read_file(path, (size_t)64 << 20, &data, &len, &err) || len == 0 || len % 4) {
    free(data);
    return NULL;
  }
  *count = len / 4;
  return (float *)data; /* malloc'd: suitably aligned for float */
}

/* A model fixture folder: the model, input.bin [batch, C, H, W] and expected_logits.bin
 * [batch, classes] (PyTorch's logits of that input). */
typedef struct fv_test_model_fixture {
  fv_vit vit;
  float *input, *logits;
  size_t n_input, n_logits;
  int batch;
} fv_test_model_fixture;

static inline void fv_test_model_fixture_free(fv_test_model_fixture *f) {
  free(f->input);
  free(f->logits);
  fv_vit_free(&f->vit);
  memset(f, 0, sizeof *f);
}

/* Loads dir into *f; returns 1, or fails a CHECK naming dir and returns 0 with nothing held. */
static inline int fv_test_model_fixture_load(const char *dir, fv_test_model_fixture *f) {
  memset(f, 0, sizeof *f);
  fv_error err;
  if (fv_vit_load(dir, &f->vit, &err)) {
    CHECK(0, "%s", err.msg);
    return 0;
  }
  char path[4200];
  snprintf(path, sizeof path, "%s/input.bin", dir);
  f->input = fv_test_read_floats(path, &f->n_input);
  snprintf(path, sizeof path, "%s/expected_logits.bin", dir);
  f->logits = fv_test_read_floats(path, &f->n_logits);
  const fv_vit_config *c = &f->vit.cfg;
  size_t per_image = (size_t)c->in_chans * c->img_size[0] * c->img_size[1];
  f->batch = per_image ? (int)(f->n_input / per_image) : 0;
  int ok = f->input && f->logits && f->batch >= 1 && f->n_input == f->batch * per_image &&
           f->n_logits == (size_t)f->batch * c->num_classes;
  CHECK(ok, "%s: input.bin / expected_logits.bin do not match the model", dir);
  if (!ok) fv_test_model_fixture_free(f);
  return ok;
}

#endif
