/* status.c: formatting of error messages (see status.h). */
#include "status.h"

#include <stdio.h>
#include <string.h>

fv_status fv_fail(fv_error *err, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return FV_ERR;
}

fv_status fv_fail_context(fv_error *err, const char *fmt, ...) {
  if (!err) return FV_ERR;
  char prefix[512];
  char old[sizeof err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  old[sizeof old - 1] = '\0';
  /* Truncation is acceptable here: the message is for a person, and the start matters most. */
  size_t cap = sizeof err->msg, n = strlen(prefix);
  if (n > cap - 3) n = cap - 3;
  memcpy(err->msg, prefix, n);
  memcpy(err->msg + n, ": ", 2);
  size_t rest = strlen(old);
  if (rest > cap - n - 3) rest = cap - n - 3;
  memcpy(err->msg + n + 2, old, rest);
  err->msg[n + 2 + rest] = '\0';
  return FV_ERR;
}
