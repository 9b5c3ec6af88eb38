/* vit.h: timm Vision Transformers (ViT, DeiT, DeiT-distilled, DeiT-III, register and
 * global-average-pool variants) as engine graphs, loaded from timm's tensor names.
 *
 * A model is a hub-style folder (config.json + model.safetensors) or a bare .safetensors
 * file (configuration then comes from a config.json beside it, or from the tensor shapes).
 * Weights stay in the file's mapping in their stored dtype; executors convert on upload. */
#ifndef FV_VIT_H
#define FV_VIT_H

#include <stdint.h>

#include "../engine/graph.h"
#include "../engine/safetensors.h"
#include "vit_config.h"

typedef struct fv_vit {
  fv_vit_config cfg;
  fv_safetensors st;
  char path[1024];  /* the folder or file it was loaded from */
  void *owned_data; /* fv_vit_random: the weights' memory */
} fv_vit;

/* Loads and fully checks a model: config, tensor names and shapes, no unexpected tensors. */
fv_status fv_vit_load(const char *path, fv_vit *vit, fv_error *err);
void fv_vit_free(fv_vit *vit);
/* A model of timm architecture `arch` with seeded random weights (timm-like init scales),
 * for benchmarks: no file involved. */
fv_status fv_vit_random(const char *arch, uint64_t seed, fv_vit *vit, fv_error *err);

#define FV_VIT_MAX_DEPTH 64

typedef struct fv_vit_graph {
  int input;  /* INPUT [B, C, H, W], normalised pixels */
  int logits; /* output, B x num_classes values */
  int probs;  /* output, softmax of logits */
  /* Per block, for diagnostics appended after the build (fovea attention): */
  int depth;
  int n_prefix;                     /* class/distillation/register tokens before the patches */
  int grid_h, grid_w;               /* patch-token grid */
  int qkv[FV_VIT_MAX_DEPTH];        /* the qkv linear's output [B, T, 3*E] feeding attention */
  int tap_scales[FV_VIT_MAX_DEPTH]; /* TAP blocks: scale weights [B, grid_h, grid_w, K]; else -1 */
} fv_vit_graph;

/* Appends the forward pass for `batch` images to g. The model must outlive g. */
fv_status fv_vit_build(fv_vit *vit, fv_graph *g, int batch, fv_vit_graph *out, fv_error *err);

/* Bytes of the largest activation one image needs (the MLP hidden state), at elem_size bytes
 * per element: callers divide the device's binding limit by it to choose a batch size. */
uint64_t fv_vit_bytes_per_image(const fv_vit *vit, size_t elem_size);

#endif
