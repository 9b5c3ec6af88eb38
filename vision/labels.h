/* labels.h: class names for a model's outputs.
 *
 * A model's own label_names (config.json) win; a 1000-class model without them gets the
 * ImageNet-1k names bundled into the binary (assets/labels/imagenet1k.txt, from Debian's
 * opencv-doc); any other model gets "class N". */
#ifndef FV_LABELS_H
#define FV_LABELS_H

#include "vit_config.h"

/* The name of class i (0 <= i < num_classes); never NULL. buf holds generated names. */
const char *fv_label_name(const fv_vit_config *cfg, int i, char *buf, int buf_size);

extern const char *const fv_imagenet_labels[];
extern const int fv_imagenet_labels_count;

#endif
