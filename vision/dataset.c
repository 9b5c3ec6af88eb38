/* dataset.c: IDX and ImageFolder data sets (see dataset.h).
 *
 * IDX files are read plain or through zlib's inflate (gzip recognised by its magic bytes, not the
 * file name). Every header field is checked before it sizes anything: an uncompressed file
 * must be exactly as long as its header says, and a gzipped one is read into a buffer that grows
 * with the data actually decompressed, so a header claiming 2^28 huge images in a 100-byte file
 * costs nothing. A gzip stream that ends early or fails its CRC is an error naming the file. */
#include "dataset.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

struct fv_dataset {
  fv_dataset_kind kind;
  fv_dataset_mapping mapping;
  char note[512];
  char *source; /* images file (IDX) or root folder */
  int channels;
  int count;
  int *labels; /* count class indices */
  /* IDX */
  uint8_t *pixels; /* count * rows * cols */
  int rows, cols;
  /* ImageFolder */
  char **files; /* count paths */
  char **folders;
  int *folder_class;
  int n_folders;
};

/* ---- small helpers ------------------------------------------------------------------------------ */

static char *join_path(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  int slash = a > 0 && dir[a - 1] == '/';
  char *p = malloc(a + b + 2);
  if (p) snprintf(p, a + b + 2, "%s%s%s", dir, slash ? "" : "/", name);
  return p;
}

static int is_regular_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_directory(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void fv_dataset_name_key(const char *name, char *out, int out_size) {
  if (out_size <= 0) return;
  int n = 0, pending_sep = 0;
  for (const unsigned char *p = (const unsigned char *)name; *p && n < out_size - 1; p++) {
    unsigned char c = *p;
    int keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c >= 0x80;
    if (!keep) {
      pending_sep = n > 0; /* no separator at the start */
      continue;
    }
    if (pending_sep) {
      if (n >= out_size - 2) break;
      out[n++] = '_';
      pending_sep = 0;
    }
    out[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  out[n] = '\0'; /* a trailing run of separators was never written */
}

/* ---- IDX ------------------------------------------------------------------------------------------ */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* A byte source over a plain or gzipped file. zlib's gz* functions were not used: once they have
 * read the whole file they stop without asking inflate for the rest of the gzip trailer, so a file
 * that lacks its last bytes (ISIZE) reads as complete. Here inflate itself must report the end of
 * the stream (CRC-32 and length checked); concatenated gzip members are read one after another. */
typedef struct reader {
  FILE *f;
  const char *path;
  int gz, stream_end, file_end;
  z_stream z;
  unsigned char in[1 << 16];
} reader;

static fv_status reader_open(reader *r, const char *path, fv_error *err) {
  memset(r, 0, sizeof *r);
  r->path = path;
  if (!(r->f = fopen(path, "rb"))) return fv_fail(err, "%s: cannot open: %s", path, strerror(errno));
  size_t n = fread(r->in, 1, 2, r->f);
  r->gz = n == 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
  if (r->gz) {
    if (inflateInit2(&r->z, 16 + MAX_WBITS) != Z_OK) {
      fclose(r->f);
      r->f = NULL;
      return fv_fail(err, "%s: cannot start zlib", path);
    }
    r->z.next_in = r->in;
    r->z.avail_in = 2;
  } else {
    r->z.avail_in = (uInt)n; /* plain: the bytes already read wait in r->in */
    r->z.next_in = r->in;
  }
  return FV_OK;
}

static void reader_close(reader *r) {
  if (r->gz) inflateEnd(&r->z);
  if (r->f) fclose(r->f);
}

/* Reads up to len bytes; returns the count read (short only at the end of the data), or -1 with err
 * filled on a read error or a corrupt or truncated gzip stream. */
static long long reader_read(reader *r, unsigned char *buf, size_t len, fv_error *err) {
  size_t done = 0;
  if (!r->gz) {
    size_t pending = r->z.avail_in < len ? r->z.avail_in : len;
    memcpy(buf, r->z.next_in, pending);
    r->z.next_in += pending;
    r->z.avail_in -= (uInt)pending;
    done = pending + fread(buf + pending, 1, len - pending, r->f);
    if (done < len && ferror(r->f)) return fv_fail(err, "%s: read error: %s", r->path, strerror(errno)), -1;
    return (long long)done;
  }
  while (done < len) {
    if (r->z.avail_in == 0 && !r->file_end) {
      size_t n = fread(r->in, 1, sizeof r->in, r->f);
      if (n < sizeof r->in) {
        if (ferror(r->f)) return fv_fail(err, "%s: read error: %s", r->path, strerror(errno)), -1;
        r->file_end = 1;
      }
      r->z.next_in = r->in;
      r->z.avail_in = (uInt)n;
    }
    if (r->stream_end) {
      if (r->z.avail_in == 0) break; /* the end of the last member: the end of the data */
      if (inflateReset(&r->z) != Z_OK) return fv_fail(err, "%s: cannot restart zlib", r->path), -1;
      r->stream_end = 0; /* another gzip member follows */
    }
    size_t want = len - done < (1u << 30) ? len - done : (1u << 30);
    r->z.next_out = buf + done;
    r->z.avail_out = (uInt)want;
    int ret = inflate(&r->z, Z_NO_FLUSH);
    done += want - r->z.avail_out;
    if (ret == Z_STREAM_END) {
      r->stream_end = 1;
    } else if (ret == Z_BUF_ERROR && r->z.avail_in == 0 && r->file_end) {
      return fv_fail(err, "%s: truncated gzip data: the file ends inside the compressed stream", r->path), -1;
    } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
      return fv_fail(err, "%s: corrupt gzip data: %s", r->path, r->z.msg ? r->z.msg : "inflate failed"), -1;
    }
  }
  return (long long)done;
}

typedef struct idx_file {
  uint32_t count;      /* items the header declares */
  uint32_t rows, cols; /* images only; 1 for labels */
  uint8_t *data;       /* the first `kept` items */
  uint32_t kept;
} idx_file;

/* Reads the IDX file at path: magic (0x00000803 images or 0x00000801 labels), dimensions, and the
 * first `keep` items (all when keep >= count). */
static fv_status idx_read(const char *path, int n_dims, uint32_t keep, idx_file *out, fv_error *err) {
  memset(out, 0, sizeof *out);
  const uint32_t magic = 0x00000800u | (uint32_t)n_dims;
  const char *what = n_dims == 3 ? "images" : "labels";
  struct stat st;
  if (stat(path, &st) != 0) return fv_fail(err, "%s: cannot access: %s", path, strerror(errno));
  reader r;
  if (reader_open(&r, path, err)) return FV_ERR;
  fv_status status = FV_ERR;
  uint8_t *data = NULL;
  unsigned char head[16];
  size_t head_len = 4 + 4 * (size_t)n_dims;
  long long got = reader_read(&r, head, head_len, err);
  if (got < 0) goto done;
  if ((size_t)got < head_len) {
    fv_fail(err, "%s: truncated IDX header: %lld bytes, expected %zu", path, got, head_len);
    goto done;
  }
  uint32_t m = be32(head);
  if (m != magic) {
    fv_fail(err, "%s: not an IDX %s file: magic 0x%08x, expected 0x%08x", path, what, (unsigned)m, (unsigned)magic);
    goto done;
  }
  out->count = be32(head + 4);
  out->rows = n_dims == 3 ? be32(head + 8) : 1;
  out->cols = n_dims == 3 ? be32(head + 12) : 1;
  if (out->count > FV_DATASET_MAX_ITEMS) {
    fv_fail(err, "%s: header declares %u items, more than the %d accepted", path, (unsigned)out->count,
            FV_DATASET_MAX_ITEMS);
    goto done;
  }
  if (n_dims == 3 && (out->rows < 1 || out->cols < 1 || out->rows > FV_IMAGE_MAX_DIM || out->cols > FV_IMAGE_MAX_DIM ||
                      (uint64_t)out->rows * out->cols > (uint64_t)FV_IMAGE_MAX_PIXELS)) {
    fv_fail(err, "%s: header declares %ux%u images; expected 1..%d pixels per side and at most %ld pixels", path,
            (unsigned)out->rows, (unsigned)out->cols, FV_IMAGE_MAX_DIM, FV_IMAGE_MAX_PIXELS);
    goto done;
  }
  uint64_t item = (uint64_t)out->rows * out->cols;
  uint64_t total = (uint64_t)out->count * item; /* < 2^28 * 2^28: no overflow */
  if (!r.gz && (uint64_t)st.st_size != head_len + total) {
    fv_fail(err, "%s: file has %lld bytes, but its header (%u %s of %ux%u) needs %llu", path, (long long)st.st_size,
            (unsigned)out->count, what, (unsigned)out->rows, (unsigned)out->cols,
            (unsigned long long)(head_len + total));
    goto done;
  }
  uint32_t kept = keep < out->count ? keep : out->count;
  uint64_t want = (uint64_t)kept * item;
  if (want > (uint64_t)SIZE_MAX / 2) {
    fv_fail(err, "%s: %llu bytes of %s do not fit in memory", path, (unsigned long long)want, what);
    goto done;
  }
  /* Uncompressed: the length was checked above, so allocate at once. Gzipped: grow with the data
   * that really arrives (at most twice of it), never trusting the header's claim up front. */
  size_t have = 0, cap = !r.gz || want < (1u << 24) ? (size_t)want : (1u << 24);
  data = malloc(cap ? cap : 1);
  if (!data) {
    fv_fail(err, "%s: out of memory for %zu bytes of %s", path, cap, what);
    goto done;
  }
  while (have < want) {
    if (have == cap) {
      size_t ncap = cap * 2 < want ? cap * 2 : (size_t)want;
      uint8_t *grown = realloc(data, ncap);
      if (!grown) {
        fv_fail(err, "%s: out of memory for %zu bytes of %s", path, ncap, what);
        goto done;
      }
      data = grown;
      cap = ncap;
    }
    got = reader_read(&r, data + have, cap - have, err);
    if (got < 0) goto done;
    have += (size_t)got;
    if (have < cap) break; /* end of data */
  }
  if (have < want) {
    fv_fail(err, "%s: truncated: %zu bytes of %s after the header, but its header (%u %s of %ux%u) needs %llu", path,
            have, what, (unsigned)out->count, what, (unsigned)out->rows, (unsigned)out->cols,
            (unsigned long long)total);
    goto done;
  }
  if (kept == out->count) {
    /* All items read: the file must end here, and reading to the end checks the gzip CRC. */
    unsigned char extra;
    got = reader_read(&r, &extra, 1, err);
    if (got < 0) goto done;
    if (got > 0) {
      fv_fail(err, "%s: unexpected data after the %u %s its header declares", path, (unsigned)out->count, what);
      goto done;
    }
  }
  out->data = data;
  out->kept = kept;
  data = NULL;
  status = FV_OK;
done:
  free(data);
  reader_close(&r);
  return status;
}

/* Finds "<prefix>-<kind>-<idxN>-ubyte" in dir, also spelled with '.' before idxN and with ".gz"
 * (uncompressed first). Returns a malloc'd path or NULL. */
static char *idx_find(const char *dir, const char *prefix, const char *kind, const char *idx) {
  static const char *const forms[] = {"%s-%s-%s-ubyte", "%s-%s.%s-ubyte", "%s-%s-%s-ubyte.gz", "%s-%s.%s-ubyte.gz"};
  for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
    char name[64];
    snprintf(name, sizeof name, forms[f], prefix, kind, idx);
    char *p = join_path(dir, name);
    if (p && is_regular_file(p)) return p;
    free(p);
  }
  return NULL;
}

static int idx_present(const char *dir) {
  static const char *const prefixes[] = {"t10k", "train"};
  for (int i = 0; i < 2; i++) {
    char *a = idx_find(dir, prefixes[i], "images", "idx3"), *b = idx_find(dir, prefixes[i], "labels", "idx1");
    int any = a || b;
    free(a);
    free(b);
    if (any) return 1;
  }
  return 0;
}

static fv_status idx_open(fv_dataset *ds, const char *dir, const char *prefix, const char *split,
                          const fv_dataset_options *opt, fv_error *err) {
  char *images_path = idx_find(dir, prefix, "images", "idx3");
  char *labels_path = idx_find(dir, prefix, "labels", "idx1");
  idx_file images = {0}, labels = {0};
  fv_status status = FV_ERR;
  if (!images_path || !labels_path) {
    fv_fail(err, "%s: IDX directory without %s-%s-%s-ubyte[.gz] for the %s split", dir, prefix,
            images_path ? "labels" : "images", images_path ? "idx1" : "idx3", split);
    goto done;
  }
  uint32_t keep = opt->limit > 0 ? (uint32_t)opt->limit : UINT32_MAX;
  if (idx_read(images_path, 3, keep, &images, err) || idx_read(labels_path, 1, keep, &labels, err)) goto done;
  if (images.count != labels.count) {
    fv_fail(err, "%s holds %u images but %s holds %u labels", images_path, (unsigned)images.count, labels_path,
            (unsigned)labels.count);
    goto done;
  }
  if (images.count == 0) {
    fv_fail(err, "%s: the file holds no images", images_path);
    goto done;
  }
  ds->labels = malloc((size_t)labels.kept * sizeof *ds->labels);
  if (!ds->labels) {
    fv_fail(err, "%s: out of memory", labels_path);
    goto done;
  }
  for (uint32_t i = 0; i < labels.kept; i++) {
    if (labels.data[i] >= opt->num_classes) {
      fv_fail(err, "%s: label %d of item %u is not a class of the model (0..%d)", labels_path, labels.data[i],
              (unsigned)i, opt->num_classes - 1);
      goto done;
    }
    ds->labels[i] = labels.data[i];
  }
  ds->kind = FV_DATASET_IDX;
  ds->mapping = FV_MAPPING_INDEX;
  ds->count = (int)images.kept;
  ds->rows = (int)images.rows;
  ds->cols = (int)images.cols;
  ds->pixels = images.data;
  images.data = NULL;
  ds->source = images_path;
  images_path = NULL;
  status = FV_OK;
done:
  free(images.data);
  free(labels.data);
  free(images_path);
  free(labels_path);
  return status;
}

/* ---- ImageFolder ------------------------------------------------------------------------------- */

static int by_strcmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The class sub-folders of root (names, not paths), sorted in byte order; hidden ones skipped. */
static fv_status list_class_folders(const char *root, char ***names, int *count, fv_error *err) {
  *names = NULL;
  *count = 0;
  DIR *dir = opendir(root);
  if (!dir) return fv_fail(err, "%s: cannot read directory: %s", root, strerror(errno));
  char **list = NULL;
  int n = 0, cap = 0;
  fv_status status = FV_OK;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char *full = join_path(root, e->d_name);
    int is_dir = full && is_directory(full);
    free(full);
    if (!full) {
      status = fv_fail(err, "%s: out of memory listing the directory", root);
      break;
    }
    if (!is_dir) continue;
    if (n == FV_DATASET_MAX_CLASSES) {
      status = fv_fail(err, "%s: more than %d class folders", root, FV_DATASET_MAX_CLASSES);
      break;
    }
    if (n == cap) {
      int ncap = cap ? cap * 2 : 16;
      char **grown = realloc(list, (size_t)ncap * sizeof *list);
      if (!grown) {
        status = fv_fail(err, "%s: out of memory listing the directory", root);
        break;
      }
      list = grown;
      cap = ncap;
    }
    if (!(list[n] = strdup(e->d_name))) {
      status = fv_fail(err, "%s: out of memory listing the directory", root);
      break;
    }
    n++;
  }
  closedir(dir);
  if (status) {
    fv_image_list_free(list, n);
    return status;
  }
  if (n > 0) qsort(list, (size_t)n, sizeof *list, by_strcmp);
  *names = list;
  *count = n;
  return FV_OK;
}

/* Maps folders to classes by name if every folder matches exactly one label name and no two
 * folders the same one; otherwise sorted order. Fills ds->folder_class, mapping and note. */
static fv_status map_folders(fv_dataset *ds, const char *root, const fv_dataset_options *opt, fv_error *err) {
  int F = ds->n_folders;
  ds->folder_class = malloc((size_t)F * sizeof *ds->folder_class);
  int *owner = opt->n_labels > 0 ? malloc((size_t)opt->n_labels * sizeof *owner) : NULL;
  if (!ds->folder_class || (opt->n_labels > 0 && !owner)) {
    free(owner);
    return fv_fail(err, "%s: out of memory", root);
  }
  for (int l = 0; l < opt->n_labels; l++) owner[l] = -1;
  int by_name = opt->n_labels > 0 && opt->label_names;
  if (!by_name) snprintf(ds->note, sizeof ds->note, "the model has no label names");
  char key[256], label_key[256];
  for (int f = 0; f < F && by_name; f++) {
    fv_dataset_name_key(ds->folders[f], key, sizeof key);
    int match = -1, matches = 0;
    for (int l = 0; l < opt->n_labels && l < opt->num_classes; l++) {
      fv_dataset_name_key(opt->label_names[l] ? opt->label_names[l] : "", label_key, sizeof label_key);
      if (key[0] && strcmp(key, label_key) == 0) {
        if (matches++ == 0) match = l;
      }
    }
    if (matches == 0) {
      snprintf(ds->note, sizeof ds->note, "folder '%.200s' matches no label name of the model", ds->folders[f]);
      by_name = 0;
    } else if (matches > 1) {
      snprintf(ds->note, sizeof ds->note, "folder '%.200s' matches %d label names of the model", ds->folders[f],
               matches);
      by_name = 0;
    } else if (owner[match] >= 0) {
      snprintf(ds->note, sizeof ds->note, "folders '%.100s' and '%.100s' both match label '%.100s'",
               ds->folders[owner[match]], ds->folders[f], opt->label_names[match]);
      by_name = 0;
    } else {
      owner[match] = f;
      ds->folder_class[f] = match;
    }
  }
  free(owner);
  if (by_name) {
    ds->mapping = FV_MAPPING_BY_NAME;
    snprintf(ds->note, sizeof ds->note, "all %d folder names match the model's label names", F);
    return FV_OK;
  }
  ds->mapping = FV_MAPPING_SORTED;
  if (F > opt->num_classes)
    return fv_fail(err,
                   "%s: %d class folders for a model with %d classes (folders are mapped in sorted order because %s)",
                   root, F, opt->num_classes, ds->note);
  for (int f = 0; f < F; f++) ds->folder_class[f] = f;
  char because[sizeof ds->note];
  memcpy(because, ds->note, sizeof because);
  snprintf(ds->note, sizeof ds->note, "sorted order: %.400s", because);
  return FV_OK;
}

static fv_status folder_open(fv_dataset *ds, const char *root, const fv_dataset_options *opt, fv_error *err) {
  ds->kind = FV_DATASET_FOLDER;
  if (!(ds->source = strdup(root))) return fv_fail(err, "%s: out of memory", root);
  if (list_class_folders(root, &ds->folders, &ds->n_folders, err)) return FV_ERR;
  if (ds->n_folders == 0)
    return fv_fail(err,
                   "%s: neither an IDX directory (t10k-/train-{images-idx3,labels-idx1}-ubyte[.gz]) nor an "
                   "ImageFolder tree (one sub-folder of images per class): no sub-folders",
                   root);
  if (map_folders(ds, root, opt, err)) return FV_ERR;
  int cap = 0;
  for (int f = 0; f < ds->n_folders; f++) {
    if (opt->limit > 0 && ds->count >= opt->limit) break;
    char *dir = join_path(root, ds->folders[f]);
    char **list = NULL;
    int n = 0;
    if (!dir) return fv_fail(err, "%s: out of memory", root);
    fv_status st = fv_list_images(dir, &list, &n, err);
    free(dir);
    if (st) return fv_fail_context(err, "ImageFolder class '%s'", ds->folders[f]);
    if (opt->limit > 0 && n > opt->limit - ds->count) {
      for (int i = opt->limit - ds->count; i < n; i++) free(list[i]);
      n = opt->limit - ds->count;
    }
    if (n > FV_DATASET_MAX_ITEMS - ds->count) {
      fv_image_list_free(list, n);
      return fv_fail(err, "%s: more than %d images", root, FV_DATASET_MAX_ITEMS);
    }
    if (ds->count + n > cap) {
      int ncap = cap ? cap : 256;
      while (ncap < ds->count + n) ncap = ncap > FV_DATASET_MAX_ITEMS / 2 ? FV_DATASET_MAX_ITEMS : ncap * 2;
      char **files = realloc(ds->files, (size_t)ncap * sizeof *files);
      if (files) ds->files = files;
      int *labels = files ? realloc(ds->labels, (size_t)ncap * sizeof *labels) : NULL;
      if (labels) ds->labels = labels;
      if (!files || !labels) {
        fv_image_list_free(list, n);
        return fv_fail(err, "%s: out of memory for %d images", root, ncap);
      }
      cap = ncap;
    }
    for (int i = 0; i < n; i++) {
      ds->files[ds->count] = list[i];
      ds->labels[ds->count++] = ds->folder_class[f];
    }
    free(list); /* the strings moved into ds->files */
  }
  return FV_OK;
}

/* ---- public ------------------------------------------------------------------------------------- */

fv_status fv_dataset_open(const char *path, const char *split, const fv_dataset_options *opt, fv_dataset **out,
                          fv_error *err) {
  *out = NULL;
  if (opt->channels != 1 && opt->channels != 3)
    return fv_fail(err, "data set channels must be 1 or 3, not %d", opt->channels);
  if (opt->num_classes < 1) return fv_fail(err, "data set needs a model with at least one class");
  if (opt->limit < 0) return fv_fail(err, "data set limit must be >= 0, not %d", opt->limit);
  const char *prefix = NULL;
  if (!split || strcmp(split, "test") == 0)
    prefix = "t10k";
  else if (strcmp(split, "train") == 0)
    prefix = "train";
  else
    return fv_fail(err, "unknown split '%s' (expected 'test' or 'train')", split);
  struct stat st;
  if (stat(path, &st) != 0) return fv_fail(err, "%s: cannot access: %s", path, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return fv_fail(err, "%s: not a directory (expected an IDX directory or an ImageFolder tree)", path);
  fv_dataset *ds = calloc(1, sizeof *ds);
  if (!ds) return fv_fail(err, "out of memory");
  ds->channels = opt->channels;
  fv_status st2;
  if (idx_present(path)) {
    st2 = idx_open(ds, path, prefix, split ? split : "test", opt, err);
  } else if (split) {
    st2 = fv_fail(err,
                  "%s: an ImageFolder tree has no splits; point the data set at the split's own folder instead of "
                  "giving '%s'",
                  path, split);
  } else {
    st2 = folder_open(ds, path, opt, err);
  }
  if (!st2 && ds->count == 0) st2 = fv_fail(err, "%s: the data set holds no images", path);
  if (st2) {
    fv_dataset_close(ds);
    return FV_ERR;
  }
  *out = ds;
  return FV_OK;
}

void fv_dataset_close(fv_dataset *ds) {
  if (!ds) return;
  if (ds->files) fv_image_list_free(ds->files, ds->count);
  if (ds->folders) fv_image_list_free(ds->folders, ds->n_folders);
  free(ds->folder_class);
  free(ds->labels);
  free(ds->pixels);
  free(ds->source);
  free(ds);
}

int fv_dataset_count(const fv_dataset *ds) { return ds->count; }
fv_dataset_kind fv_dataset_get_kind(const fv_dataset *ds) { return ds->kind; }
fv_dataset_mapping fv_dataset_class_mapping(const fv_dataset *ds) { return ds->mapping; }
const char *fv_dataset_mapping_note(const fv_dataset *ds) { return ds->note; }
int fv_dataset_folder_count(const fv_dataset *ds) { return ds->kind == FV_DATASET_FOLDER ? ds->n_folders : 0; }
const char *fv_dataset_source(const fv_dataset *ds) { return ds->source; }
int fv_dataset_label(const fv_dataset *ds, int i) { return ds->labels[i]; }

const char *fv_dataset_mapping_name(fv_dataset_mapping m) {
  return m == FV_MAPPING_BY_NAME ? "by_name" : m == FV_MAPPING_SORTED ? "sorted" : "index";
}

const char *fv_dataset_folder_name(const fv_dataset *ds, int f, int *class_index) {
  if (class_index) *class_index = ds->folder_class[f];
  return ds->folders[f];
}

const char *fv_dataset_item_name(const fv_dataset *ds, int i, char *buf, int buf_size) {
  if (ds->kind == FV_DATASET_FOLDER) return ds->files[i];
  snprintf(buf, (size_t)buf_size, "%s[#%d]", ds->source, i);
  return buf;
}

fv_status fv_dataset_get(fv_dataset *ds, int i, fv_image *img, int *label, fv_error *err) {
  memset(img, 0, sizeof *img);
  if (i < 0 || i >= ds->count) return fv_fail(err, "%s: item %d outside 0..%d", ds->source, i, ds->count - 1);
  *label = ds->labels[i];
  if (ds->kind == FV_DATASET_FOLDER) return fv_image_load(ds->files[i], ds->channels, img, err);
  size_t n = (size_t)ds->rows * (size_t)ds->cols;
  img->pixels = malloc(n * (size_t)ds->channels);
  if (!img->pixels) return fv_fail(err, "%s: out of memory for item %d", ds->source, i);
  img->width = ds->cols;
  img->height = ds->rows;
  img->channels = ds->channels;
  const uint8_t *src = ds->pixels + (size_t)i * n;
  if (ds->channels == 1) {
    memcpy(img->pixels, src, n);
  } else {
    for (size_t p = 0; p < n; p++) img->pixels[3 * p] = img->pixels[3 * p + 1] = img->pixels[3 * p + 2] = src[p];
  }
  return FV_OK;
}
