/* file.h: whole-file reads with the checks every caller needs (size cap, short reads), atomic
 * whole-file writes, and the shared description of JSON values for error messages. */
#ifndef FV_FILE_H
#define FV_FILE_H

#include <stddef.h>

#include "status.h"

/* Reads the whole file at path into a new NUL-terminated buffer (*len excludes the NUL).
 * Files larger than max_bytes are refused, naming both sizes. */
fv_status fv_read_file(const char *path, size_t max_bytes, char **data, size_t *len, fv_error *err);

/* Writes data to path atomically: a temporary file beside it (mode 0644), then rename, so readers
 * see the old file or the whole new one, never a part. durable also fsyncs the file before the
 * rename and the folder after it, so the file survives a crash or power cut (resumable stores). */
fv_status fv_write_file_atomic(const char *path, const char *data, size_t len, int durable, fv_error *err);

struct cJSON;
/* "a number", "a string", "an array", ... for messages about unexpected JSON. */
const char *fv_json_kind(const struct cJSON *item);

#endif
