/* kernels.h: the SPIR-V modules embedded at build time, and the pipelines made from them.
 *
 * Every shaders/<name>.comp is compiled for fp32 and fp16 storage (cmake/shaders.cmake).
 * Pipelines are created lazily, keyed by kernel, storage and specialization constants, and
 * kept in a VkPipelineCache persisted under $XDG_CACHE_HOME/fovea (or ~/.cache/fovea). */
#ifndef FV_KERNELS_H
#define FV_KERNELS_H

#include <stdint.h>

#include "dtype.h"

typedef struct fv_shader_blob {
  const char *kernel;
  fv_dtype storage;
  const uint32_t *words;
  uint32_t count;
} fv_shader_blob;

extern const fv_shader_blob fv_shader_table[];
extern const int fv_shader_count;

/* NULL when no such kernel was built. */
const fv_shader_blob *fv_shader_find(const char *kernel, fv_dtype storage);

#endif
