/* vit_config.h: what a timm ViT/DeiT model is, from config.json, its architecture name
 * and its tensor shapes.
 *
 * Resolution order for each hyper-parameter: model_args in config.json, then the
 * architecture-name table (timm's vit_* / deit_* registry), then the tensor shapes; where
 * two sources give different values that is an error naming both. */
#ifndef FV_VIT_CONFIG_H
#define FV_VIT_CONFIG_H

#include "../engine/safetensors.h"
#include "../engine/status.h"

typedef enum { FV_POOL_TOKEN, FV_POOL_AVG } fv_pool;
typedef enum { FV_INTERP_BICUBIC, FV_INTERP_BILINEAR } fv_interp;
typedef enum { FV_CROP_CENTER, FV_CROP_SQUASH } fv_crop_mode;

typedef struct fv_vit_config {
  char architecture[128];
  int num_classes;
  int img_size[2]; /* H, W */
  int patch_size;
  int in_chans;
  int embed_dim;
  int depth;
  int num_heads;
  float mlp_ratio;
  int mlp_hidden; /* from shapes: blocks.0.mlp.fc1.weight rows */
  int qkv_bias;
  int class_token;
  int reg_tokens;
  int no_embed_class;
  int distilled;
  int layer_scale; /* ls1.gamma / ls2.gamma present */
  int fc_norm;     /* fc_norm after pooling (global_pool avg) instead of norm before it */
  fv_pool global_pool;
  float norm_eps; /* 1e-6 for timm ViT/DeiT */
  /* Token-aware average pooling (config.json "tap": {"num_scales", "temperature"};
   * shared/design/methods/tap_adl.md 5): tap_scales = K, 0 when the section is absent. Which
   * blocks have TAP is decided by the tensors present (vit.c). */
  int tap_scales;
  float tap_temperature;
  /* pretrained_cfg */
  fv_interp interpolation;
  float crop_pct;
  fv_crop_mode crop_mode;
  float mean[3], std[3];
  /* label names: NULL when config.json has none */
  char **label_names;
  int n_labels;
} fv_vit_config;

/* Parses config.json text (path is used in messages). Fields absent from the JSON are
 * left at "unknown" (0 / -1) for fv_vit_config_resolve to fill. */
fv_status fv_vit_config_parse(const char *json, size_t len, const char *path, fv_vit_config *cfg, fv_error *err);
/* Fills unknown fields from the architecture table and the tensor shapes, checking agreement. */
fv_status fv_vit_config_resolve(fv_vit_config *cfg, const fv_safetensors *st, fv_error *err);
/* Default config for a bare .safetensors file: everything from shapes, ImageNet defaults. */
void fv_vit_config_default(fv_vit_config *cfg);
void fv_vit_config_free(fv_vit_config *cfg);
/* The complete config of a timm registry architecture (the table alone, no tensors), with
 * ImageNet preprocessing defaults: what `fovea bench` builds random-weight models from. */
fv_status fv_vit_config_for_arch(const char *arch, int num_classes, fv_vit_config *cfg, fv_error *err);

#endif
