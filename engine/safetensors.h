/* safetensors.h: read-only access to a .safetensors file through mmap.
 *
 * The header is validated completely before anything in it is trusted: header length
 * against the file size, JSON well-formedness, dtypes (F32, F16, BF16, and I64 for integer bookkeeping tensors),
 * shapes, shape x dtype size = byte length, offsets inside the data area and not overlapping. Tensor data are left in
 * place (unaligned, in their stored dtype). */
#ifndef FV_SAFETENSORS_H
#define FV_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "status.h"

#define FV_ST_MAX_DIMS 8

typedef struct fv_st_tensor {
  char *name;
  fv_dtype dtype;
  int ndim;
  int64_t shape[FV_ST_MAX_DIMS];
  const void *data; /* inside the mapping */
  size_t bytes;
  int used; /* set by fv_st_get; lets loaders report unexpected tensors */
} fv_st_tensor;

typedef struct fv_safetensors {
  char *path;
  void *map;
  size_t map_size;
  fv_st_tensor *tensors;
  int count;
} fv_safetensors;

fv_status fv_st_open(const char *path, fv_safetensors *st, fv_error *err);
void fv_st_close(fv_safetensors *st);
/* Returns the tensor or NULL; marks it used. */
fv_st_tensor *fv_st_get(fv_safetensors *st, const char *name);
/* Fails naming the first tensor never fetched with fv_st_get. */
fv_status fv_st_check_all_used(const fv_safetensors *st, fv_error *err);

#endif
