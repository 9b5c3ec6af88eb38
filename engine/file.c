/* file.c: whole-file reads, atomic writes and JSON value descriptions (see file.h). */
#include "file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Best effort: the rename is what makes the file appear whole; syncing the folder makes it
 * survive a power cut too, which some file systems do not support. */
static void fsync_parent(const char *path) {
  char *dir = strdup(path);
  if (!dir) return;
  char *slash = strrchr(dir, '/');
  const char *name = dir;
  if (slash == dir)
    dir[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    name = ".";
  int fd = open(name, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

fv_status fv_write_file_atomic(const char *path, const char *data, size_t len, int durable, fv_error *err) {
  size_t n = strlen(path) + 16;
  char *tmp = malloc(n);
  if (!tmp) return fv_fail(err, "%s: out of memory", path);
  snprintf(tmp, n, "%s.tmp-XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    fv_status st = fv_fail(err, "%s: cannot create temporary file %s: %s", path, tmp, strerror(errno));
    free(tmp);
    return st;
  }
  fv_status st = FV_OK;
  for (size_t done = 0; done < len && st == FV_OK;) {
    ssize_t w = write(fd, data + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      st = fv_fail(err, "%s: writing %s failed: %s", path, tmp, strerror(errno));
    else
      done += (size_t)w;
  }
  if (st == FV_OK && durable && fsync(fd) != 0)
    st = fv_fail(err, "%s: fsync of %s failed: %s", path, tmp, strerror(errno));
  if (close(fd) != 0 && st == FV_OK) st = fv_fail(err, "%s: closing %s failed: %s", path, tmp, strerror(errno));
  /* mkstemp makes the file 0600; outputs are meant to be read by others like any file. */
  if (st == FV_OK) (void)chmod(tmp, 0644);
  if (st == FV_OK && rename(tmp, path) != 0)
    st = fv_fail(err, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
  if (st != FV_OK)
    unlink(tmp);
  else if (durable)
    fsync_parent(path);
  free(tmp);
  return st;
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
