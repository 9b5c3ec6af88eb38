/* file.h: whole-file reads with the checks every caller needs (size cap, short reads),
 * and the shared description of JSON values for error messages. */
#ifndef FV_FILE_H
#define FV_FILE_H

#include <stddef.h>

#include "status.h"

/* Reads the whole file at path into a new NUL-terminated buffer (*len excludes the NUL).
 * Files larger than max_bytes are refused, naming both sizes. */
fv_status fv_read_file(const char *path, size_t max_bytes, char **data, size_t *len, fv_error *err);

struct cJSON;
/* "a number", "a string", "an array", ... for messages about unexpected JSON. */
const char *fv_json_kind(const struct cJSON *item);

#endif
