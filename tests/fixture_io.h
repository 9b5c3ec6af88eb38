/* fixture_io.h: reading the raw float32 fixture files that tools/ write (input.bin,
 * expected_logits.bin, ...), shared by the parity tests. */
#ifndef FV_TEST_FIXTURE_IO_H
#define FV_TEST_FIXTURE_IO_H

#include <stdlib.h>

#include "engine/file.h"

/* A raw little-endian float32 file (at most 64 MiB) into *count floats; NULL with *count 0 if it
 * is unreadable, empty or not a whole number of floats. Free with free(). */
static inline float *fv_test_read_floats(const char *path, size_t *count) {
  char *data = NULL;
  size_t len = 0;
  fv_error err;
  *count = 0;
  if (fv_read_file(path, (size_t)64 << 20, &data, &len, &err) || len == 0 || len % 4) {
    free(data);
    return NULL;
  }
  *count = len / 4;
  return (float *)data; /* malloc'd: suitably aligned for float */
}

#endif
