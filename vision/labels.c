/* labels.c: class-name lookup (see labels.h). */
#include "labels.h"

#include <stdio.h>

const char *fv_label_name(const fv_vit_config *cfg, int i, char *buf, int buf_size) {
  if (cfg->label_names && i >= 0 && i < cfg->n_labels) return cfg->label_names[i];
  if (cfg->num_classes == fv_imagenet_labels_count && i >= 0 && i < fv_imagenet_labels_count)
    return fv_imagenet_labels[i];
  snprintf(buf, (size_t)buf_size, "class %d", i);
  return buf;
}
