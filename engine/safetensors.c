/* safetensors.c: open a .safetensors file read-only through mmap and validate its header
 * completely before anything in it is trusted (see safetensors.h).
 *
 * Layout: 8 bytes little-endian header length n, n bytes of JSON (an object mapping tensor
 * names to {"dtype", "shape", "data_offsets": [begin, end]}, plus an optional
 * "__metadata__" object of strings), then the data area; offsets are relative to it.
 * Checks, in order: file size, header length against the file and a 100 MB cap, JSON
 * well-formedness (trailing bytes may only be the spaces the writers pad with), every
 * entry's fields and types, shape products without overflow, byte length = numel x dtype
 * size, offsets inside the data area, no duplicate names, no two tensors overlapping.
 *
 * Deliberately not here: dtype conversion (dtype.h), alignment (data stay where the file
 * puts them, often unaligned), and a check that tensors cover the data area without holes
 * (a hole wastes bytes but cannot make us read anything wrong). Every message names the
 * file, the tensor, the value found and what was expected. */
#include "safetensors.h"
#include "file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (100u * 1000u * 1000u)
/* Doubles hold every integer up to 2^53 exactly; no real offset or dimension is larger. */
#define MAX_JSON_INT 9007199254740992.0

static const char *known_unsupported[] = {"F64", "I32",  "I16",     "I8",      "U64", "U32", "U16",
                                          "U8",  "BOOL", "F8_E4M3", "F8_E5M2", "C64", NULL};

static int parse_dtype(const char *s, fv_dtype *out) {
  if (strcmp(s, "F32") == 0)
    *out = FV_F32;
  else if (strcmp(s, "F16") == 0)
    *out = FV_F16;
  else if (strcmp(s, "BF16") == 0)
    *out = FV_BF16;
  else if (strcmp(s, "I64") == 0)
    *out = FV_I64; /* BatchNorm's num_batches_tracked: loaders read it (or not) but never compute with it */
  else
    return 0;
  return 1;
}

static int is_known_dtype(const char *s) {
  for (int i = 0; known_unsupported[i]; i++)
    if (strcmp(s, known_unsupported[i]) == 0) return 1;
  return 0;
}

/* A JSON number that is a non-negative integer representable exactly; else 0. */
static int json_uint(const cJSON *item, uint64_t *out) {
  if (!cJSON_IsNumber(item)) return 0;
  double v = item->valuedouble;
  if (!isfinite(v) || v < 0 || v > MAX_JSON_INT || v != floor(v)) return 0;
  *out = (uint64_t)v;
  return 1;
}

static int cmp_begin(const void *a, const void *b) {
  const fv_st_tensor *x = *(fv_st_tensor *const *)a, *y = *(fv_st_tensor *const *)b;
  const char *xm = (const char *)x->data, *ym = (const char *)y->data;
  if (xm != ym) return xm < ym ? -1 : 1;
  return x->bytes < y->bytes ? -1 : x->bytes > y->bytes;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp((*(fv_st_tensor *const *)a)->name, (*(fv_st_tensor *const *)b)->name);
}

/* Validates the "__metadata__" entry: an object whose values are strings. */
static fv_status check_metadata(const char *path, const cJSON *meta, fv_error *err) {
  if (!cJSON_IsObject(meta))
    return fv_fail(err, "%s: \"__metadata__\" is %s, expected an object of strings", path, fv_json_kind(meta));
  for (const cJSON *m = meta->child; m; m = m->next)
    if (!cJSON_IsString(m))
      return fv_fail(err, "%s: \"__metadata__\" entry \"%s\" is %s, expected a string", path,
                     m->string ? m->string : "?", fv_json_kind(m));
  return FV_OK;
}

/* Fills t from one header entry, checking everything except overlaps and duplicates. */
static fv_status parse_entry(const char *path, const cJSON *e, const uint8_t *data, uint64_t data_size, fv_st_tensor *t,
                             fv_error *err) {
  const char *name = e->string;
  if (!cJSON_IsObject(e))
    return fv_fail(err, "%s: tensor \"%s\" is %s in the header, expected an object with dtype, shape and data_offsets",
                   path, name, fv_json_kind(e));
  const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
  const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");

  if (!cJSON_IsString(dtype))
    return fv_fail(err, "%s: tensor \"%s\" has dtype %s, expected a string such as \"F32\"", path, name,
                   fv_json_kind(dtype));
  if (!parse_dtype(dtype->valuestring, &t->dtype)) {
    if (is_known_dtype(dtype->valuestring))
      return fv_fail(err, "%s: tensor \"%s\" has unsupported dtype %s, expected F32, F16, BF16 or I64", path, name,
                     dtype->valuestring);
    return fv_fail(err, "%s: tensor \"%s\" has unknown dtype \"%.64s\", expected F32, F16, BF16 or I64", path, name,
                   dtype->valuestring);
  }

  if (!cJSON_IsArray(shape))
    return fv_fail(err, "%s: tensor \"%s\" has shape %s, expected an array of dimensions", path, name,
                   fv_json_kind(shape));
  int ndim = cJSON_GetArraySize(shape);
  if (ndim > FV_ST_MAX_DIMS)
    return fv_fail(err, "%s: tensor \"%s\" has %d dimensions, expected at most %d", path, name, ndim, FV_ST_MAX_DIMS);
  uint64_t numel = 1;
  int d = 0;
  for (const cJSON *s = shape->child; s; s = s->next, d++) {
    uint64_t v;
    if (!json_uint(s, &v))
      return fv_fail(err, "%s: tensor \"%s\" shape[%d] is %s%s, expected a non-negative integer", path, name, d,
                     fv_json_kind(s), cJSON_IsNumber(s) ? " that is negative, fractional or too large" : "");
    /* numel * v must stay below 2^62 so numel x dtype size cannot overflow either */
    if (v != 0 && numel > (UINT64_C(1) << 62) / v)
      return fv_fail(err, "%s: tensor \"%s\" shape has more than 2^62 elements (dimension %d is %llu)", path, name, d,
                     (unsigned long long)v);
    numel *= v;
    t->shape[d] = (int64_t)v;
  }
  t->ndim = ndim;

  uint64_t begin, end;
  if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 || !json_uint(offsets->child, &begin) ||
      !json_uint(offsets->child->next, &end))
    return fv_fail(err, "%s: tensor \"%s\" has data_offsets %s, expected [begin, end] of two non-negative integers",
                   path, name, cJSON_IsArray(offsets) ? "of the wrong length or type" : fv_json_kind(offsets));
  if (begin > end || end > data_size)
    return fv_fail(err,
                   "%s: tensor \"%s\" has data_offsets [%llu, %llu] outside the data area of %llu bytes "
                   "(expected begin <= end <= %llu)",
                   path, name, (unsigned long long)begin, (unsigned long long)end, (unsigned long long)data_size,
                   (unsigned long long)data_size);
  uint64_t want = numel * fv_dtype_size(t->dtype);
  if (end - begin != want)
    return fv_fail(err,
                   "%s: tensor \"%s\" spans %llu bytes (data_offsets [%llu, %llu]), but shape x dtype %s "
                   "needs %llu bytes (%llu elements x %zu)",
                   path, name, (unsigned long long)(end - begin), (unsigned long long)begin, (unsigned long long)end,
                   dtype->valuestring, (unsigned long long)want, (unsigned long long)numel, fv_dtype_size(t->dtype));
  t->data = data + begin;
  t->bytes = (size_t)(end - begin);
  t->used = 0;
  t->name = strdup(name);
  if (!t->name) return fv_fail(err, "%s: out of memory copying tensor name \"%s\"", path, name);
  return FV_OK;
}

/* Checks names are unique and byte ranges disjoint, over pointers sorted twice. */
static fv_status check_unique_disjoint(const char *path, fv_st_tensor *tensors, int count, fv_error *err) {
  fv_status status = FV_ERR;
  fv_st_tensor **order = malloc((size_t)(count > 0 ? count : 1) * sizeof *order);
  if (!order) return fv_fail(err, "%s: out of memory checking %d tensors", path, count);
  for (int i = 0; i < count; i++) order[i] = &tensors[i];

  qsort(order, (size_t)count, sizeof *order, cmp_name);
  for (int i = 1; i < count; i++)
    if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
      fv_fail(err, "%s: duplicate tensor name \"%s\" in the header, expected each name once", path, order[i]->name);
      goto done;
    }

  qsort(order, (size_t)count, sizeof *order, cmp_begin);
  /* Empty tensors occupy no bytes and cannot overlap anything. */
  const fv_st_tensor *prev = NULL;
  for (int i = 0; i < count; i++) {
    const fv_st_tensor *t = order[i];
    if (t->bytes == 0) continue;
    if (prev && (const char *)t->data < (const char *)prev->data + prev->bytes) {
      fv_fail(err,
              "%s: tensors \"%s\" and \"%s\" overlap in the data area (\"%s\" ends after \"%s\" begins), "
              "expected disjoint data_offsets",
              path, prev->name, t->name, prev->name, t->name);
      goto done;
    }
    if (!prev || (const char *)t->data + t->bytes > (const char *)prev->data + prev->bytes) prev = t;
  }
  status = FV_OK;
done:
  free(order);
  return status;
}

fv_status fv_st_open(const char *path, fv_safetensors *st, fv_error *err) {
  memset(st, 0, sizeof *st);
  int fd = -1;
  char *header = NULL;
  cJSON *root = NULL;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fv_fail(err, "%s: cannot open: %s", path, strerror(errno));
    goto fail;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    fv_fail(err, "%s: cannot stat: %s", path, strerror(errno));
    goto fail;
  }
  if (!S_ISREG(sb.st_mode)) {
    fv_fail(err, "%s: not a regular file, expected a .safetensors file", path);
    goto fail;
  }
  if (sb.st_size == 0) {
    fv_fail(err, "%s: file is empty (0 bytes), expected 8 bytes of header length, a JSON header and tensor data", path);
    goto fail;
  }
  if (sb.st_size < 8) {
    fv_fail(err, "%s: file is %lld bytes, truncated: expected at least 8 bytes of header length", path,
            (long long)sb.st_size);
    goto fail;
  }
  if ((uint64_t)sb.st_size > SIZE_MAX) {
    fv_fail(err, "%s: file of %lld bytes is too large to map", path, (long long)sb.st_size);
    goto fail;
  }
  st->map_size = (size_t)sb.st_size;
  st->map = mmap(NULL, st->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (st->map == MAP_FAILED) {
    st->map = NULL;
    fv_fail(err, "%s: cannot mmap %zu bytes: %s", path, st->map_size, strerror(errno));
    goto fail;
  }
  close(fd);
  fd = -1;
  st->path = strdup(path);
  if (!st->path) {
    fv_fail(err, "%s: out of memory", path);
    goto fail;
  }

  const uint8_t *bytes = st->map;
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; i--) header_len = (header_len << 8) | bytes[i];
  const uint64_t available = (uint64_t)st->map_size - 8;
  if (header_len > available) {
    fv_fail(err,
            "%s: header length %llu runs past the end of the file (only %llu bytes follow it): "
            "truncated or not a safetensors file",
            path, (unsigned long long)header_len, (unsigned long long)available);
    goto fail;
  }
  if (header_len > MAX_HEADER_BYTES) {
    fv_fail(err, "%s: header length %llu exceeds the limit of %u bytes", path, (unsigned long long)header_len,
            MAX_HEADER_BYTES);
    goto fail;
  }
  if (header_len < 2) {
    fv_fail(err, "%s: header length %llu is too short for a JSON object, expected at least 2 bytes", path,
            (unsigned long long)header_len);
    goto fail;
  }
  /* Parse a NUL-terminated copy, so no parser can read past the header. */
  header = malloc((size_t)header_len + 1);
  if (!header) {
    fv_fail(err, "%s: out of memory for a %llu-byte header", path, (unsigned long long)header_len);
    goto fail;
  }
  memcpy(header, bytes + 8, (size_t)header_len);
  header[header_len] = '\0';
  if (memchr(header, '\0', (size_t)header_len)) {
    fv_fail(err, "%s: header contains a NUL byte, expected %llu bytes of JSON text", path,
            (unsigned long long)header_len);
    goto fail;
  }
  const char *end = NULL;
  root = cJSON_ParseWithLengthOpts(header, (size_t)header_len, &end, 0);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    long off = at && at >= header && at <= header + header_len ? (long)(at - header) : -1;
    fv_fail(err, "%s: header is malformed JSON (error near byte %ld of %llu), expected a JSON object", path, off,
            (unsigned long long)header_len);
    goto fail;
  }
  for (const char *p = end; p && p < header + header_len; p++)
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
      fv_fail(err, "%s: header has trailing bytes after its JSON object (at byte %ld), expected only padding spaces",
              path, (long)(p - header));
      goto fail;
    }
  if (!cJSON_IsObject(root)) {
    fv_fail(err, "%s: header is %s, expected a JSON object", path, fv_json_kind(root));
    goto fail;
  }

  int count = 0;
  for (const cJSON *e = root->child; e; e = e->next)
    if (strcmp(e->string, "__metadata__") != 0) count++;
  st->tensors = calloc((size_t)(count > 0 ? count : 1), sizeof *st->tensors);
  if (!st->tensors) {
    fv_fail(err, "%s: out of memory for %d tensors", path, count);
    goto fail;
  }
  const uint8_t *data = bytes + 8 + header_len;
  const uint64_t data_size = available - header_len;
  int metadata_seen = 0;
  for (const cJSON *e = root->child; e; e = e->next) {
    if (strcmp(e->string, "__metadata__") == 0) {
      if (metadata_seen++) {
        fv_fail(err, "%s: duplicate \"__metadata__\" entry in the header, expected at most one", path);
        goto fail;
      }
      if (check_metadata(path, e, err)) goto fail;
      continue;
    }
    if (parse_entry(path, e, data, data_size, &st->tensors[st->count], err)) goto fail;
    st->count++;
  }
  if (check_unique_disjoint(path, st->tensors, st->count, err)) goto fail;

  cJSON_Delete(root);
  free(header);
  return FV_OK;

fail:
  if (fd >= 0) close(fd);
  cJSON_Delete(root);
  free(header);
  fv_st_close(st);
  return FV_ERR;
}

void fv_st_close(fv_safetensors *st) {
  if (!st) return;
  for (int i = 0; st->tensors && i < st->count; i++) free(st->tensors[i].name);
  free(st->tensors);
  if (st->map) munmap(st->map, st->map_size);
  free(st->path);
  memset(st, 0, sizeof *st);
}

fv_st_tensor *fv_st_get(fv_safetensors *st, const char *name) {
  for (int i = 0; i < st->count; i++)
    if (strcmp(st->tensors[i].name, name) == 0) {
      st->tensors[i].used = 1;
      return &st->tensors[i];
    }
  return NULL;
}

fv_status fv_st_check_all_used(const fv_safetensors *st, fv_error *err) {
  for (int i = 0; i < st->count; i++)
    if (!st->tensors[i].used)
      return fv_fail(err,
                     "%s: unexpected tensor \"%s\" (%s, %d dims) was not used by the model, "
                     "expected only tensors the architecture defines",
                     st->path ? st->path : "safetensors", st->tensors[i].name, fv_dtype_name(st->tensors[i].dtype),
                     st->tensors[i].ndim);
  return FV_OK;
}
