/* fuzz_safetensors.c: libFuzzer harness for fv_st_open. Each input is written as a whole file
 * (the 8-byte length, the header and the data) and opened; on success every tensor is looked
 * up and its bytes touched, so a header that passed validation but points outside the mapping
 * shows up under AddressSanitizer. It does not fuzz the mmap or file-system layer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!path[0]) {
    snprintf(path, sizeof path, "/tmp/fovea-fuzz-st-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) abort();
    close(fd);
  }
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);

  fv_safetensors st;
  fv_error err;
  if (fv_st_open(path, &st, &err) == FV_OK) {
    volatile uint8_t sink = 0;
    for (int i = 0; i < st.count; i++) {
      fv_st_tensor *t = fv_st_get(&st, st.tensors[i].name);
      if (!t) abort(); /* every listed tensor must be found by name */
      const uint8_t *p = t->data;
      if (t->bytes) sink ^= p[0] ^ p[t->bytes - 1];
    }
    (void)sink;
    if (fv_st_check_all_used(&st, &err) != FV_OK) abort();
    fv_st_close(&st);
  } else if (!err.msg[0]) {
    abort(); /* a failure must say why */
  }
  return 0;
}
