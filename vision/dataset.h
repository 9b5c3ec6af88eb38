/* dataset.h: labelled images from a data set on disk, for evaluation.
 *
 * Two layouts are recognised from what a directory holds:
 *  - IDX (MNIST, Fashion-MNIST): {t10k,train}-images-idx3-ubyte and {t10k,train}-labels-idx1-ubyte,
 *    each optionally gzipped (".gz"; "." instead of the last "-" is accepted too, as some mirrors
 *    spell it). The split picks t10k-* ("test", the default) or train-*. Both files are read and
 *    checked completely when the data set is opened (headers, counts, lengths, every label), so a
 *    bad file fails before any work is done. Labels are class indices.
 *  - ImageFolder (torchvision's layout): one sub-folder per class with images directly inside.
 *    Folders are mapped to the model's classes BY NAME when every folder name matches exactly one
 *    label name after fv_dataset_name_key normalisation, otherwise in SORTED order (folder i, in
 *    byte order, is class i). fv_dataset_class_mapping says which, fv_dataset_mapping_note why.
 * Items come in a fixed order (IDX: file order; ImageFolder: class folders in byte order, files
 * sorted inside each) and `limit` keeps the first N. Items are decoded when fetched, as 8-bit gray
 * or RGB (gray replicated, as PIL's convert('RGB') does).
 *
 * Non-goals: no shuffling, sharding, augmentation, nested class folders (torchvision recurses),
 * CSV/JSON label files or other archive formats; no parallel decoding. This module never prints. */
#ifndef FV_DATASET_H
#define FV_DATASET_H

#include "../engine/status.h"
#include "image.h"

/* Bounds that keep hostile headers from making us allocate or loop without end. */
#define FV_DATASET_MAX_ITEMS (1 << 28)
#define FV_DATASET_MAX_CLASSES (1 << 16)

typedef struct fv_dataset fv_dataset;

typedef enum { FV_DATASET_IDX, FV_DATASET_FOLDER } fv_dataset_kind;

typedef enum {
  FV_MAPPING_INDEX,   /* IDX: the stored label is the class index */
  FV_MAPPING_BY_NAME, /* ImageFolder: folder names matched to label names */
  FV_MAPPING_SORTED   /* ImageFolder: folder i in sorted order is class i */
} fv_dataset_mapping;

typedef struct fv_dataset_options {
  int channels;    /* 1 (gray) or 3 (RGB): what fv_dataset_get returns */
  int num_classes; /* the model's classes: a label >= this is an error */
  /* The model's class names (may be NULL / 0): ImageFolder folders are matched against them. */
  char *const *label_names;
  int n_labels;
  int limit; /* keep the first `limit` items; 0 = all */
} fv_dataset_options;

/* Opens the data set at path. split is "test" or "train" (NULL = "test"); only IDX data sets
 * have splits, and an explicit split for an ImageFolder tree is an error (point path at the
 * split's own folder instead). On failure *out is NULL and err names the file and the cause. */
fv_status fv_dataset_open(const char *path, const char *split, const fv_dataset_options *opt, fv_dataset **out,
                          fv_error *err);
void fv_dataset_close(fv_dataset *ds);

int fv_dataset_count(const fv_dataset *ds);
fv_dataset_kind fv_dataset_get_kind(const fv_dataset *ds);
fv_dataset_mapping fv_dataset_class_mapping(const fv_dataset *ds);
/* "index", "by_name" or "sorted", as reports print it. */
const char *fv_dataset_mapping_name(fv_dataset_mapping m);
/* One sentence on why the mapping was chosen (ImageFolder), or "" (IDX). */
const char *fv_dataset_mapping_note(const fv_dataset *ds);
/* ImageFolder: the number of class folders and folder f's name with its class index.
 * IDX: 0 folders. */
int fv_dataset_folder_count(const fv_dataset *ds);
const char *fv_dataset_folder_name(const fv_dataset *ds, int f, int *class_index);
/* What the items are read from, for reports: the images file (IDX) or the root folder. */
const char *fv_dataset_source(const fv_dataset *ds);

/* The label of item i without decoding it. */
int fv_dataset_label(const fv_dataset *ds, int i);
/* Decodes item i (0 <= i < count) into img (free with fv_image_free) and its class index. */
fv_status fv_dataset_get(fv_dataset *ds, int i, fv_image *img, int *label, fv_error *err);
/* A name for item i in messages: the image's path, or "FILE[#i]" for IDX. */
const char *fv_dataset_item_name(const fv_dataset *ds, int i, char *buf, int buf_size);

/* The normalised form used to match folder names to label names: ASCII letters lower-cased,
 * ASCII letters, digits and non-ASCII bytes kept, and every run of other characters (space, '_',
 * '-', '/', punctuation) turned into one '_', with none at either end. So "T-shirt/top",
 * "t-shirt_top" and "T shirt top" all become "t_shirt_top"; "Ankle boot" and "ankle_boot" become
 * "ankle_boot". Writes at most out_size bytes including the terminator (truncating). */
void fv_dataset_name_key(const char *name, char *out, int out_size);

#endif
