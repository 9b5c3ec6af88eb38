/* file.c: whole-file reads and JSON value descriptions (see file.h). */
#include "file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

fv_status fv_read_file(const char *path, size_t max_bytes, char **data, size_t *len, fv_error *err) {
  *data = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return fv_fail(err, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  fv_status status = FV_ERR;
  char *buf = NULL;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fv_fail(err, "%s: not a regular file", path);
    goto done;
  }
  if ((unsigned long long)st.st_size > (unsigned long long)max_bytes) {
    fv_fail(err, "%s: %lld bytes, more than the %zu this file may have", path, (long long)st.st_size, max_bytes);
    goto done;
  }
  size_t size = (size_t)st.st_size;
  buf = malloc(size + 1);
  if (!buf) {
    fv_fail(err, "%s: out of memory reading %zu bytes", path, size);
    goto done;
  }
  if (fread(buf, 1, size, f) != size || ferror(f)) {
    fv_fail(err, "%s: read failed after fewer than %zu bytes", path, size);
    free(buf);
    buf = NULL;
    goto done;
  }
  buf[size] = '\0';
  *data = buf;
  *len = size;
  status = FV_OK;
done:
  fclose(f);
  return status;
}

const char *fv_json_kind(const cJSON *item) {
  if (!item) return "nothing";
  if (cJSON_IsNumber(item)) return "a number";
  if (cJSON_IsString(item)) return "a string";
  if (cJSON_IsArray(item)) return "an array";
  if (cJSON_IsObject(item)) return "an object";
  if (cJSON_IsBool(item)) return "a boolean";
  if (cJSON_IsNull(item)) return "null";
  return "an invalid value";
}
