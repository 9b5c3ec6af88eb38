/* cli.h: what every fovea subcommand shares: option parsing helpers, device choice, JSON
 * string output and the stderr progress bar. Subcommands live in one file each (cmd_*.c). */
#ifndef FV_CLI_H
#define FV_CLI_H

#include <stdio.h>

#include "engine/device.h"
#include "engine/status.h"

int fv_cmd_devices(int argc, char **argv);
int fv_cmd_classify(int argc, char **argv);
int fv_cmd_bench(int argc, char **argv);
int fv_cmd_eval(int argc, char **argv);
int fv_cmd_corrupt(int argc, char **argv);
int fv_cmd_robustness(int argc, char **argv);
int fv_cmd_filter(int argc, char **argv);
int fv_cmd_attention(int argc, char **argv);

/* Prints "fovea: error: <msg>" on stderr and returns the exit status 1. */
int fv_cli_error(const char *msg);

/* Opens the device named by spec (or $FOVEA_DEVICE): *dev = NULL for "cpu" (the CPU
 * executor). Prints one warning line when the device is a CPU Vulkan implementation. */
fv_status fv_cli_open_device(const char *spec, fv_device **dev, fv_error *err);
/* $FOVEA_MODEL, else the bundled default model (assets/models/fmnist-vit). */
const char *fv_cli_default_model(void);

/* "cpu" or the Vulkan device name, for reports. */
const char *fv_cli_device_name(const fv_device *dev);

/* The options every command that runs a model takes. */
typedef struct fv_cli_model_options {
  const char *model;  /* --model (NULL until fv_cli_default_model fills it) */
  const char *device; /* --device */
  int batch;          /* --batch: set the command's default before parsing */
  int fp16;           /* --fp16 */
  int json;           /* --json */
} fv_cli_model_options;

/* If argv[*i] is --model, --device, --batch, --fp16 or --json, stores it (moving *i past its
 * value) and returns 1; returns 0 for any other argument, and -1 with err set for a bad value. */
int fv_cli_model_option(int argc, char **argv, int *i, fv_cli_model_options *m, fv_error *err);

/* Parses a positive integer option value; fails naming the option. */
fv_status fv_cli_parse_int(const char *option, const char *value, int min, int max, int *out, fv_error *err);

/* Expands the command line's image arguments (files and directories, fv_list_images) into one
 * list of paths, in argument order. Free with fv_image_list_free. */
fv_status fv_cli_collect_images(char *const *inputs, int n_inputs, char ***files, int *count, fv_error *err);

/* The file names of files[0..n) without directory and extension, in *stems (free each and the
 * array, also after a failure). With unique set, fails naming both inputs when two share a stem,
 * since outputs named by stem would collide. */
fv_status fv_cli_file_stems(char *const *files, int n, int unique, char ***stems, fv_error *err);

/* mkdir -p: creates path and its missing parents, then checks it is a writable directory. */
fv_status fv_cli_make_dirs(const char *path, fv_error *err);

/* Writes s as a JSON string literal (quotes and escapes included). */
void fv_json_string(FILE *out, const char *s);

/* A one-line progress bar on stderr, drawn only when stderr is a terminal. */
typedef struct fv_progress {
  int enabled, total, last_drawn;
  const char *what;
} fv_progress;
void fv_progress_start(fv_progress *p, int total, const char *what);
void fv_progress_update(fv_progress *p, int done);
void fv_progress_finish(fv_progress *p);

#endif
