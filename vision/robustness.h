/* robustness.h: corruption-robustness bookkeeping: the per-(corruption,
 * severity) error table of a model, the ImageNet-C metrics computed from it,
 * and the files that hold it. Spec: shared/design/methods/corruptions.md
 * sections 8 (metrics, AlexNet table) and 8.4 (output).
 *
 * A run is a set of cells: "clean" plus (corruption, severity) pairs. A cell is
 * two integers (images, correct) and the parameters that produced it (model,
 * data set, split, limit, seed, table, frost source, pre-corrupted data set,
 * fp16). Everything else (errors, CE, mCE, relative mCE, means) is computed
 * from the integers, so a set assembled from shards or from a resumed run gives
 * byte-identical metrics to one uninterrupted run.
 *
 * Files:
 *  - the cell store: a directory (RESULTS.json.cells/) with one small JSON file
 * per finished cell, written atomically (temporary file, fsync, rename, fsync
 * of the directory);
 *  - RESULTS.json: the parameters, every cell, and the metrics;
 *  - RESULTS.csv: one row per cell, one per corruption, one per summary metric;
 *  - RESULTS.svg: error against severity per corruption, and CE per corruption.
 *
 * Normalisation: the AlexNet table of spec 8.2, compiled in verbatim (E_clean
 * 0.4345); a baseline model's RESULTS.json (tap_adl.md 9.6: "base = 100"); or
 * none (CE = mean error over severities).
 *
 * Non-goals: running models or corruptions (apps/cmd_robustness.c does that),
 * top-5, per-class errors, mean flip rate (ImageNet-P), CIFAR-10-C .npy
 * reading. This module never prints. */
#ifndef FV_ROBUSTNESS_H
#define FV_ROBUSTNESS_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/status.h"

#define FV_ROB_CORRUPTIONS 19 /* spec 1.7, in that order */
#define FV_ROB_MAIN 15        /* the first 15 enter mCE; the 4 extras never do */
#define FV_ROB_SEVERITIES 5
#define FV_ROB_SLOTS (1 + FV_ROB_CORRUPTIONS * FV_ROB_SEVERITIES) /* slot 0 = clean */
#define FV_ROB_STR 1024

/* AlexNet's clean top-1 error used for relative CE (spec 8.2). */
#define FV_ROB_ALEXNET_CLEAN 0.4345

/* The spec's name of corruption c (0..18), e.g. "gaussian_noise"; NULL outside
 * the range. */
const char *fv_rob_corruption_name(int c);
/* -1 if unknown. */
int fv_rob_corruption_from_name(const char *name);
/* AlexNet's error of corruption c at severity s (1..5), as compiled from
 * spec 8.2. */
double fv_rob_alexnet_error(int c, int s);

/* Slot of a cell: 0 = clean; 1 + 5c + (s - 1) for corruption c at severity s.
 */
int fv_rob_slot(int corruption, int severity);
void fv_rob_slot_cell(int slot, int *corruption, int *severity); /* clean: -1, 0 */
/* "clean" or "gaussian_noise/3" into buf. */
const char *fv_rob_slot_label(int slot, char *buf, int size);

/* What determines a cell's value. Strings are "" when not applicable. */
typedef struct fv_rob_params {
  char model[FV_ROB_STR];
  char dataset[FV_ROB_STR];           /* clean images (generation mode: also the ones
                                         corrupted) */
  char split[32];                     /* IDX split, "" for ImageFolder */
  char corrupted_dataset[FV_ROB_STR]; /* dataset mode: DIR/<corruption>/<severity>/<class>/... */
  char table[16];                     /* imagenet | cifar10 | tiny ("" in dataset mode) */
  char variant[24];                   /* imagecorruptions | hendrycks ("" in dataset mode) */
  char frost[FV_ROB_STR];             /* the frost source line ("" in dataset mode) */
  int limit;                          /* 0 = all */
  uint32_t seed;
  int fp16;
} fv_rob_params;

/* Fails naming the first field that differs between `want` (this run) and `got`
 * (from `where`). */
fv_status fv_rob_params_check(const fv_rob_params *want, const fv_rob_params *got, const char *where, fv_error *err);

typedef struct fv_rob_cell {
  long images, correct;
  double seconds; /* wall clock of the cell: reported, never compared */
} fv_rob_cell;

/* The run-level choices that are not cell parameters: which cells make up the
 * run. */
typedef struct fv_rob_plan {
  int corruption[FV_ROB_CORRUPTIONS]; /* 1 = requested */
  int sev_lo, sev_hi;                 /* 1..5 */
  int clean;                          /* the clean cell is part of the run */
} fv_rob_plan;

/* "all" (19), "imagenet-c" or "main" (the 15), "extras" (the 4), or a comma
 * list of names. */
fv_status fv_rob_parse_corruptions(const char *list, fv_rob_plan *plan, fv_error *err);
/* "A-B" or "A", within 1..5. */
fv_status fv_rob_parse_severities(const char *s, fv_rob_plan *plan, fv_error *err);
/* "K/N" with 1 <= K <= N. */
fv_status fv_rob_parse_shard(const char *s, int *k, int *n, fv_error *err);
/* The plan's cells in canonical order (clean, then corruptions in spec order,
 * severities ascending), keeping those of shard k of n (round-robin: the i-th
 * cell goes to shard i % n + 1; n = 1 keeps all). Returns the count written to
 * slots (at most FV_ROB_SLOTS). Shards are disjoint and their union is the
 * plan, whatever the machine. */
int fv_rob_plan_cells(const fv_rob_plan *plan, int k, int n, int *slots);

/* A set of finished cells, all with the same parameters. */
typedef struct fv_rob_set {
  fv_rob_params params;
  int have_params;
  fv_rob_cell cell[FV_ROB_SLOTS];
  int have[FV_ROB_SLOTS];
} fv_rob_set;

/* Adds a cell. The first cell fixes the parameters; later ones must match them.
 * A cell already present must have the same images and correct counts (a
 * duplicate from another shard or a retried run), else it is refused: two
 * different values for one cell mean something changed. */
fv_status fv_rob_set_add(fv_rob_set *s, const fv_rob_params *p, int slot, const fv_rob_cell *c, const char *where,
                         fv_error *err);

/* ---- metrics ----------------------------------------------------------------------------------------------------- */

typedef enum { FV_NORM_NONE = 0, FV_NORM_ALEXNET, FV_NORM_BASELINE } fv_rob_norm;

typedef struct fv_rob_baseline {
  fv_rob_norm kind;
  char source[FV_ROB_STR]; /* "alexnet (compiled in)" or the file */
  char model[FV_ROB_STR];  /* the baseline file's model, if it says */
  double clean;
  int have_clean;
  double err[FV_ROB_CORRUPTIONS][FV_ROB_SEVERITIES];
  int have[FV_ROB_CORRUPTIONS][FV_ROB_SEVERITIES];
} fv_rob_baseline;

void fv_rob_baseline_none(fv_rob_baseline *b);
void fv_rob_baseline_alexnet(fv_rob_baseline *b);
/* A previous RESULTS.json (or any JSON object with "errors": {corruption: [5
 * errors or null]} and optionally "clean_error"), e.g. the baseline arm of an
 * ablation. */
fv_status fv_rob_baseline_load(const char *path, fv_rob_baseline *b, fv_error *err);

typedef struct fv_rob_metrics {
  fv_rob_norm norm;
  int have_clean;
  double clean_error;
  double err[FV_ROB_CORRUPTIONS][FV_ROB_SEVERITIES];
  int have[FV_ROB_CORRUPTIONS][FV_ROB_SEVERITIES];
  /* per corruption, all in percent; defined when all 5 severities (and,
   * normalised, the baseline's 5) are present; relative CE also needs both
   * clean errors and a positive baseline degradation */
  double ce[FV_ROB_CORRUPTIONS], rce[FV_ROB_CORRUPTIONS], mean_err[FV_ROB_CORRUPTIONS];
  int have_ce[FV_ROB_CORRUPTIONS], have_rce[FV_ROB_CORRUPTIONS], have_mean_err[FV_ROB_CORRUPTIONS];
  /* over the 15 main corruptions, when all 15 are defined (percent) */
  double mce, rmce;
  int have_mce, have_rmce;
  /* unnormalised mean error over the 75 main cells (fraction) and 1 - it */
  double mean_error, mean_accuracy;
  int have_mean_error;
  /* the 4 extras, separately: mean error over their 20 cells, mean CE, mean
   * relative CE */
  double extras_mean_error, extras_mce, extras_rmce;
  int have_extras_mean_error, have_extras_mce, have_extras_rmce;
} fv_rob_metrics;

/* The metrics of spec 8.1 from an error table (fractions). have[c][s] says
 * which cells exist. */
void fv_rob_metrics_compute(const double err[FV_ROB_CORRUPTIONS][FV_ROB_SEVERITIES],
                            const int have[FV_ROB_CORRUPTIONS][FV_ROB_SEVERITIES], int have_clean, double clean_error,
                            const fv_rob_baseline *b, fv_rob_metrics *m);
/* The same from a cell set (error = 1 - correct / images). */
void fv_rob_set_metrics(const fv_rob_set *s, const fv_rob_baseline *b, fv_rob_metrics *m);
/* One sentence with the formulas the numbers were computed with. */
const char *fv_rob_norm_definition(fv_rob_norm n);

/* ---- files ------------------------------------------------------------------------------------------------------- */

/* The cell store. fv_rob_cell_write stores one finished cell; fv_rob_store_load
 * adds every cell file of dir to s (a missing dir adds nothing), checking each
 * against s's parameters. */
fv_status fv_rob_cell_write(const char *dir, const fv_rob_params *p, int slot, const fv_rob_cell *c, const char *shard,
                            const char *device, fv_error *err);
fv_status fv_rob_store_load(const char *dir, fv_rob_set *s, int *loaded, fv_error *err);

/* What RESULTS.json records besides the cells. */
typedef struct fv_rob_info {
  const fv_rob_plan *plan;
  const char *shard;    /* "K/N" or NULL */
  const char *device;   /* NULL: not recorded (merge) */
  const char *mode;     /* "generation" or "dataset" */
  const char *notes[8]; /* caveats, NULL-terminated */
  const char *const *merged_from;
  int n_merged;
} fv_rob_info;

fv_status fv_rob_write_json(const char *path, const fv_rob_set *s, const fv_rob_baseline *b, const fv_rob_info *info,
                            fv_error *err);
fv_status fv_rob_write_csv(const char *path, const fv_rob_set *s, const fv_rob_baseline *b, fv_error *err);
fv_status fv_rob_write_svg(const char *path, const fv_rob_set *s, const fv_rob_baseline *b, const char *title,
                           fv_error *err);

/* Reads a RESULTS.json back: its cells into s (checked as by fv_rob_set_add)
 * and its plan and shard ("" when none) when those pointers are non-NULL. */
fv_status fv_rob_load_results(const char *path, fv_rob_set *s, fv_rob_plan *plan, char *shard, int shard_size,
                              fv_error *err);

/* How a RESULTS.json was normalised, as a --baseline value: "alexnet", "none"
 * or the baseline file it names. */
fv_status fv_rob_results_baseline(const char *path, char *spec, int size, fv_error *err);

/* Adds the "notes" of a RESULTS.json to notes[*n..max) unless already there (merges keep the
 * caveats of their inputs). */
#define FV_ROB_NOTE 1500
fv_status fv_rob_results_notes(const char *path, char notes[][FV_ROB_NOTE], int max, int *n, fv_error *err);

#endif
