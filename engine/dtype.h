/* dtype.h: element types and the conversions between them.
 *
 * Graph tensors are computed in fp32 or stored as fp16 (fp32 accumulation always);
 * safetensors may also hold BF16. U8 exists only for raw image inputs, U32 for per-image
 * random keys (graph inputs written and read as raw words, never converted). I64 exists only
 * so safetensors files with integer bookkeeping tensors (BatchNorm's num_batches_tracked)
 * open; no graph node is ever I64. */
#ifndef FV_DTYPE_H
#define FV_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum fv_dtype { FV_F32 = 0, FV_F16, FV_BF16, FV_U8, FV_U32, FV_I64 } fv_dtype;

size_t fv_dtype_size(fv_dtype t);
const char *fv_dtype_name(fv_dtype t);

float fv_f16_to_f32(uint16_t h);
uint16_t fv_f32_to_f16(float f); /* round to nearest even, overflow to inf */
float fv_bf16_to_f32(uint16_t b);

/* Converts n elements of src (any dtype, possibly unaligned) to fp32. */
void fv_convert_to_f32(const void *src, fv_dtype src_type, float *dst, size_t n);

#endif
