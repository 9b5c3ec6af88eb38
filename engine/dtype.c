/* dtype.c: element sizes and IEEE half / bfloat16 conversions, done bit-exactly
 * so that CPU reference results do not depend on compiler half support. */
#include "dtype.h"

#include <string.h>

size_t fv_dtype_size(fv_dtype t) {
  switch (t) {
    case FV_F32:
    case FV_U32: return 4;
    case FV_F16:
    case FV_BF16: return 2;
    case FV_U8: return 1;
    case FV_I64: return 8;
  }
  return 0;
}

const char *fv_dtype_name(fv_dtype t) {
  switch (t) {
    case FV_F32: return "F32";
    case FV_F16: return "F16";
    case FV_BF16: return "BF16";
    case FV_U8: return "U8";
    case FV_U32: return "U32";
    case FV_I64: return "I64";
  }
  return "?";
}

static float bits_to_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint32_t f32_to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

float fv_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    /* zero or subnormal: value = man * 2^-24 */
    float v = (float)man * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  if (exp == 31) return bits_to_f32(sign | 0x7f800000u | (man << 13));
  return bits_to_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t fv_f32_to_f16(float f) {
  uint32_t u = f32_to_bits(f);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t abs = u & 0x7fffffffu;
  if (abs >= 0x7f800000u) /* inf or nan */
    return (uint16_t)(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
  if (abs < 0x38800000u) {
    /* result is subnormal or zero: round abs * 2^24 to an integer, nearest even */
    float v = bits_to_f32(abs) * 16777216.0f;
    uint32_t i = (uint32_t)v;
    float rem = v - (float)i;
    if (rem > 0.5f || (rem == 0.5f && (i & 1u))) i++;
    return (uint16_t)(sign | i);
  }
  uint32_t e = (abs >> 23) - 112u;
  uint32_t m = abs & 0x7fffffu;
  uint32_t half = (e << 10) | (m >> 13);
  uint32_t rest = m & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) half++;
  return (uint16_t)(sign | half);
}

float fv_bf16_to_f32(uint16_t b) { return bits_to_f32((uint32_t)b << 16); }

void fv_convert_to_f32(const void *src, fv_dtype src_type, float *dst, size_t n) {
  const unsigned char *p = src;
  for (size_t i = 0; i < n; i++) {
    switch (src_type) {
      case FV_F32: memcpy(&dst[i], p + 4 * i, 4); break;
      case FV_F16:
      case FV_BF16: {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = src_type == FV_F16 ? fv_f16_to_f32(h) : fv_bf16_to_f32(h);
        break;
      }
      case FV_U8: dst[i] = (float)p[i]; break;
      case FV_U32: {
        uint32_t u;
        memcpy(&u, p + 4 * i, 4);
        dst[i] = (float)u;
        break;
      }
      case FV_I64: {
        int64_t v;
        memcpy(&v, p + 8 * i, 8);
        dst[i] = (float)v;
        break;
      }
    }
  }
}
