/* status.h: how every Fovea function reports failure.
 *
 * Functions return fv_status (0 = ok) and, on failure, fill an fv_error with one
 * human-readable sentence naming the file, the value and what was expected.
 * Nothing below apps/ prints or exits; the caller decides what to do with it. */
#ifndef FV_STATUS_H
#define FV_STATUS_H

#include <stdarg.h>

typedef int fv_status;
enum { FV_OK = 0, FV_ERR = 1 };

typedef struct fv_error {
  char msg[1024];
} fv_error;

/* Formats the message into err (if non-NULL) and returns FV_ERR. */
fv_status fv_fail(fv_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to an existing message, keeping the root cause. */
fv_status fv_fail_context(fv_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
