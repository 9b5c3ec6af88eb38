/* test_safetensors.c: fv_st_open on small files written into a temporary directory: a valid
 * file with F32, F16 and BF16 tensors reads back exactly, and every malformed input fails with
 * FV_ERR and a message naming what was wrong. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "engine/safetensors.h"

static char dir[256];
static int file_no;

/* Writes header (as given, padded with `pad` spaces) and data; returns the path (static buffer). */
static const char *write_file_raw(const void *bytes, size_t n) {
  static char path[512];
  snprintf(path, sizeof path, "%s/t%d.safetensors", dir, file_no++);
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    exit(1);
  }
  if (n) fwrite(bytes, 1, n, f);
  fclose(f);
  return path;
}

static const char *write_st_n(const char *header, size_t hl, const void *data, size_t data_len) {
  size_t total = 8 + hl + data_len;
  uint8_t *buf = malloc(total);
  for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
  memcpy(buf + 8, header, hl);
  if (data_len) memcpy(buf + 8 + hl, data, data_len);
  const char *p = write_file_raw(buf, total);
  free(buf);
  return p;
}

static const char *write_st(const char *header, const void *data, size_t data_len) {
  return write_st_n(header, strlen(header), data, data_len);
}

/* Opens and expects failure with every word in `words` (space-separated) in the message. */
static void expect_fail(const char *what, const char *path, const char *words) {
  fv_safetensors st;
  fv_error err = {{0}};
  fv_status s = fv_st_open(path, &st, &err);
  CHECK(s == FV_ERR, "%s: expected failure, got success", what);
  if (s != FV_ERR) {
    fv_st_close(&st);
    return;
  }
  char copy[256];
  snprintf(copy, sizeof copy, "%s", words);
  for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
    CHECK(strstr(err.msg, w) != NULL, "%s: message lacks \"%s\": %s", what, w, err.msg);
  CHECK(strstr(err.msg, dir) != NULL, "%s: message does not name the file: %s", what, err.msg);
  CHECK(st.map == NULL && st.tensors == NULL && st.count == 0, "%s: failed open left state behind", what);
}

static const char *hdr(const char *entries) {
  static char h[2048];
  snprintf(h, sizeof h, "{%s}", entries);
  return h;
}

static void test_valid(void) {
  /* a: F32 [2,3]; b: F16 [3]; c: BF16 [2,1]; z: F32 [0] (empty); unaligned offsets on purpose */
  uint8_t data[64] = {0};
  const float a[6] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f};
  const uint16_t b[3] = {0x3C00, 0xC000, 0x3555}; /* 1, -2, 0.333 */
  const uint16_t c[2] = {0x3F80, 0xC2F7};         /* 1, -123.5 */
  memcpy(data + 0, a, 24);
  memcpy(data + 24, b, 6);
  memcpy(data + 30, c, 4);
  const char *h =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
      "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[24,30]},"
      "\"c\":{\"dtype\":\"BF16\",\"shape\":[2,1],\"data_offsets\":[30,34]},"
      "\"z\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[34,34]}}   ";
  const char *path = write_st(h, data, 34);
  fv_safetensors st;
  fv_error err = {{0}};
  CHECK(fv_st_open(path, &st, &err) == FV_OK, "valid file: %s", err.msg);
  CHECK(st.count == 4, "valid file: %d tensors, expected 4", st.count);
  fv_st_tensor *ta = fv_st_get(&st, "a"), *tb = fv_st_get(&st, "b"), *tc = fv_st_get(&st, "c");
  CHECK(ta && tb && tc, "valid file: tensors missing");
  if (ta && tb && tc) {
    float fa[6], fb[3], fc[2];
    fv_convert_to_f32(ta->data, ta->dtype, fa, 6);
    fv_convert_to_f32(tb->data, tb->dtype, fb, 3);
    fv_convert_to_f32(tc->data, tc->dtype, fc, 2);
    CHECK(ta->dtype == FV_F32 && ta->ndim == 2 && ta->shape[0] == 2 && ta->shape[1] == 3 && ta->bytes == 24,
          "a: metadata");
    CHECK(memcmp(fa, a, sizeof a) == 0, "a: values");
    CHECK(tb->dtype == FV_F16 && fb[0] == 1.0f && fb[1] == -2.0f && fabsf(fb[2] - 0.3333f) < 1e-3f, "b: %g %g %g",
          fb[0], fb[1], fb[2]);
    CHECK(tc->dtype == FV_BF16 && fc[0] == 1.0f && fc[1] == -123.5f, "c: %g %g", fc[0], fc[1]);
  }
  CHECK(fv_st_get(&st, "missing") == NULL, "get of a missing tensor");
  CHECK(fv_st_check_all_used(&st, &err) == FV_ERR && strstr(err.msg, "unexpected") && strstr(err.msg, "\"z\""),
        "unused tensor z: %s", err.msg);
  CHECK(fv_st_get(&st, "z") != NULL, "empty tensor z");
  CHECK(fv_st_check_all_used(&st, &err) == FV_OK, "all used: %s", err.msg);
  fv_st_close(&st);
  fv_st_close(&st); /* closing twice is harmless */

  /* I64, as PyTorch stores BatchNorm's num_batches_tracked: a scalar (shape []) of 8 bytes,
   * at an unaligned offset. */
  const int64_t tracked = 123456789012LL;
  memcpy(data + 3, &tracked, 8);
  path = write_st(
      "{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[3,11]},"
      "\"pad\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[11,13]}}",
      data, 13);
  CHECK(fv_st_open(path, &st, &err) == FV_OK, "I64 scalar: %s", err.msg);
  fv_st_tensor *tn = fv_st_get(&st, "n");
  CHECK(tn && tn->dtype == FV_I64 && tn->ndim == 0 && tn->bytes == 8, "I64 scalar: metadata");
  if (tn) {
    int64_t v;
    memcpy(&v, tn->data, 8);
    CHECK(v == tracked, "I64 scalar: value %lld", (long long)v);
    CHECK(strcmp(fv_dtype_name(tn->dtype), "I64") == 0 && fv_dtype_size(tn->dtype) == 8, "I64 name and size");
  }
  fv_st_close(&st);
}

static void test_bad(void) {
  uint8_t data[64] = {0};
  expect_fail("zero-byte file", write_file_raw("", 0), "empty 0 bytes");
  expect_fail("5-byte file", write_file_raw("\x10\0\0\0\0", 5), "truncated 5 bytes");
  {
    uint8_t b[12] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    expect_fail("header length past end", write_file_raw(b, sizeof b), "header length 200 past end");
  }
  {
    uint8_t b[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    expect_fail("huge header length", write_file_raw(b, sizeof b), "header length past end");
  }
  {
    /* a full, valid-looking file cut short inside its data */
    const char *h = hdr("\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}");
    expect_fail("truncated data", write_st(h, data, 8), "\"a\" data_offsets [0, 16] outside 8 bytes");
  }
  expect_fail("malformed JSON", write_st("{\"a\": {\"dtype\": \"F32\",", data, 0), "malformed JSON");
  expect_fail("trailing garbage", write_st("{} x", data, 0), "trailing");
  expect_fail("JSON array", write_st("[1, 2]", data, 0), "an array expected object");
  expect_fail("NUL in header", write_st_n("{}\0  ", 5, data, 0), "NUL");
  expect_fail("overlap",
              write_st(hdr("\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}"),
                       data, 12),
              "\"a\" \"b\" overlap");
  expect_fail("overlap hidden behind a long tensor",
              write_st(hdr("\"a\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                           "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}"),
                       data, 32),
              "overlap");
  expect_fail("begin > end", write_st(hdr("\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}"), data, 12),
              "\"a\" data_offsets [8, 4]");
  expect_fail("offset past data",
              write_st(hdr("\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}"), data, 12),
              "\"a\" [12, 16] outside 12 bytes");
  expect_fail("negative offset",
              write_st(hdr("\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}"), data, 4),
              "\"a\" data_offsets");
  expect_fail("byte length mismatch",
              write_st(hdr("\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,8]}"), data, 8),
              "\"a\" 8 bytes F16 needs 6 bytes");
  expect_fail("unsupported dtype",
              write_st(hdr("\"idx\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}"), data, 8),
              "\"idx\" unsupported dtype I32 F32 F16 BF16 I64");
  expect_fail("I64 byte length",
              write_st(hdr("\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}"), data, 4),
              "\"n\" 4 bytes I64 needs 8 bytes");
  expect_fail("unknown dtype", write_st(hdr("\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}"), data, 1),
              "\"a\" unknown dtype Q4");
  expect_fail("dtype not a string", write_st(hdr("\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}"), data, 4),
              "\"a\" dtype number");
  expect_fail("shape missing", write_st(hdr("\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}"), data, 4),
              "\"a\" shape nothing");
  expect_fail("shape negative",
              write_st(hdr("\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}"), data, 4),
              "\"a\" shape[0] non-negative");
  expect_fail("shape fractional",
              write_st(hdr("\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}"), data, 4), "shape[0]");
  expect_fail("too many dims",
              write_st(hdr("\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}"), data, 4),
              "\"a\" 9 dimensions at most 8");
  expect_fail(
      "shape overflow",
      write_st(hdr("\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}"), data, 4),
      "\"a\" 2^62");
  expect_fail("data_offsets wrong length",
              write_st(hdr("\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}"), data, 4),
              "\"a\" data_offsets");
  expect_fail("entry not an object", write_st(hdr("\"a\":[1,2,3]"), data, 0), "\"a\" an array");
  expect_fail("duplicate tensor",
              write_st(hdr("\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}"),
                       data, 8),
              "duplicate \"a\"");
  expect_fail("metadata not strings", write_st(hdr("\"__metadata__\":{\"n\":3}"), data, 0),
              "__metadata__ \"n\" string");
  expect_fail("metadata not an object", write_st(hdr("\"__metadata__\":3"), data, 0), "__metadata__ object");
  {
    char path[300];
    snprintf(path, sizeof path, "%s/does-not-exist.safetensors", dir);
    expect_fail("missing file", path, "cannot open");
  }
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/fovea-st-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_valid();
  test_bad();
  /* clean up the files this test wrote */
  for (int i = 0; i < file_no; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/t%d.safetensors", dir, i);
    unlink(path);
  }
  rmdir(dir);
  return fv_test_finish();
}
