/* test_dataset.c: vision/dataset against IDX files and ImageFolder trees written here.
 *
 * Plain and gzipped IDX files are read back item by item (gray and RGB), splits and limits are
 * honoured, and every malformed input fails with a message naming the file: wrong magic, short or
 * over-long files, mismatched counts, hostile dimensions, truncated and corrupt gzip streams, labels
 * outside the model, missing files. ImageFolder trees check the by-name mapping (with the
 * normalisation of dataset.h) against sorted order, and the tree's own errors. No GPU needed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "vision/dataset.h"
#include "vision/image.h"

static char root[256];
static int case_no;

static char *tmp_dir(void) {
  static char dir[512];
  snprintf(dir, sizeof dir, "%s/case%d", root, ++case_no);
  mkdir(dir, 0700);
  return dir;
}

static void be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Writes bytes to dir/name, gzipped when the name ends in ".gz". */
static void write_file(const char *dir, const char *name, const uint8_t *data, size_t n) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t len = strlen(name);
  if (len > 3 && strcmp(name + len - 3, ".gz") == 0) {
    gzFile gz = gzopen(path, "wb");
    if (!gz || (n && gzwrite(gz, data, (unsigned)n) != (int)n)) fprintf(stderr, "cannot write %s\n", path);
    if (gz) gzclose(gz);
  } else {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) fprintf(stderr, "cannot write %s\n", path);
    if (f) fclose(f);
  }
}

/* An images file: magic, count, rows, cols, then pixel (i, p) = i * 7 + p. `extra` bytes are
 * appended (negative: removed from the end). */
static void write_images(const char *dir, const char *name, uint32_t magic, uint32_t count, uint32_t rows,
                         uint32_t cols, uint32_t real_count, int extra) {
  size_t data = (size_t)real_count * rows * cols;
  size_t n = 16 + data + (extra > 0 ? (size_t)extra : 0);
  uint8_t *b = calloc(n, 1);
  be32(b, magic);
  be32(b + 4, count);
  be32(b + 8, rows);
  be32(b + 12, cols);
  for (size_t i = 0; i < data; i++) b[16 + i] = (uint8_t)((i / ((size_t)rows * cols)) * 7 + i % ((size_t)rows * cols));
  if (extra < 0) n -= (size_t)-extra;
  write_file(dir, name, b, n);
  free(b);
}

static void write_labels(const char *dir, const char *name, uint32_t magic, uint32_t count, const uint8_t *labels,
                         uint32_t real_count) {
  uint8_t *b = calloc(8 + real_count, 1);
  be32(b, magic);
  be32(b + 4, count);
  memcpy(b + 8, labels, real_count);
  write_file(dir, name, b, 8 + real_count);
  free(b);
}

static const uint8_t five_labels[5] = {3, 0, 9, 9, 1};

/* A valid IDX test split (5 images of 3 rows × 4 columns), plain or gzipped. */
static char *valid_idx(int gz) {
  char *dir = tmp_dir();
  write_images(dir, gz ? "t10k-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte", 0x803, 5, 3, 4, 5, 0);
  write_labels(dir, gz ? "t10k-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte", 0x801, 5, five_labels, 5);
  return dir;
}

static fv_dataset_options idx_opt(int channels) {
  return (fv_dataset_options){.channels = channels, .num_classes = 10};
}

/* Opening must fail with a message containing every non-NULL fragment. */
static void expect_fail(const char *what, const char *dir, const char *split, const fv_dataset_options *opt,
                        const char *frag1, const char *frag2) {
  fv_dataset *ds = (fv_dataset *)1;
  fv_error err = {{0}};
  fv_status st = fv_dataset_open(dir, split, opt, &ds, &err);
  CHECK(st != FV_OK && ds == NULL, "%s: opened", what);
  CHECK(!frag1 || strstr(err.msg, frag1), "%s: message '%s' lacks '%s'", what, err.msg, frag1);
  CHECK(!frag2 || strstr(err.msg, frag2), "%s: message '%s' lacks '%s'", what, err.msg, frag2);
  if (st == FV_OK) fv_dataset_close(ds);
}

static void test_idx_read_back(void) {
  for (int gz = 0; gz <= 1; gz++) {
    for (int channels = 1; channels <= 3; channels += 2) {
      char *dir = valid_idx(gz);
      fv_dataset_options opt = idx_opt(channels);
      fv_dataset *ds = NULL;
      fv_error err;
      CHECK(fv_dataset_open(dir, NULL, &opt, &ds, &err) == FV_OK, "gz=%d: %s", gz, err.msg);
      if (!ds) continue;
      CHECK(fv_dataset_count(ds) == 5, "count %d", fv_dataset_count(ds));
      CHECK(fv_dataset_get_kind(ds) == FV_DATASET_IDX, "kind");
      CHECK(fv_dataset_class_mapping(ds) == FV_MAPPING_INDEX, "mapping");
      CHECK(strcmp(fv_dataset_mapping_name(FV_MAPPING_INDEX), "index") == 0, "mapping name");
      CHECK(strstr(fv_dataset_source(ds), "t10k-images") != NULL, "source %s", fv_dataset_source(ds));
      for (int i = 0; i < 5; i++) {
        fv_image img;
        int label = -1;
        CHECK(fv_dataset_get(ds, i, &img, &label, &err) == FV_OK, "get %d: %s", i, err.msg);
        CHECK(label == five_labels[i] && fv_dataset_label(ds, i) == label, "label %d: %d", i, label);
        CHECK(img.width == 4 && img.height == 3 && img.channels == channels, "shape %dx%dx%d", img.width, img.height,
              img.channels);
        int same = 1;
        for (int p = 0; p < 12 && img.pixels; p++)
          for (int c = 0; c < channels; c++) same &= img.pixels[p * channels + c] == (uint8_t)(i * 7 + p);
        CHECK(same, "gz=%d channels=%d item %d pixels", gz, channels, i);
        fv_image_free(&img);
      }
      fv_image img;
      int label;
      CHECK(fv_dataset_get(ds, 5, &img, &label, &err) != FV_OK, "item 5 of 5 is out of range");
      char buf[700];
      CHECK(strstr(fv_dataset_item_name(ds, 2, buf, sizeof buf), "[#2]") != NULL, "item name %s", buf);
      fv_dataset_close(ds);
    }
  }
}

static void test_idx_split_and_limit(void) {
  char *dir = valid_idx(1);
  uint8_t train_labels[7] = {5, 5, 5, 5, 5, 5, 2};
  write_images(dir, "train-images.idx3-ubyte", 0x803, 7, 2, 2, 7, 0); /* the '.' spelling */
  write_labels(dir, "train-labels-idx1-ubyte.gz", 0x801, 7, train_labels, 7);
  fv_dataset_options opt = idx_opt(1);
  fv_dataset *ds = NULL;
  fv_error err;
  CHECK(fv_dataset_open(dir, "train", &opt, &ds, &err) == FV_OK, "train: %s", err.msg);
  if (ds) {
    CHECK(fv_dataset_count(ds) == 7 && fv_dataset_label(ds, 6) == 2, "train split read");
    fv_dataset_close(ds);
  }
  CHECK(fv_dataset_open(dir, "test", &opt, &ds, &err) == FV_OK && fv_dataset_count(ds) == 5, "test: %s", err.msg);
  fv_dataset_close(ds);
  opt.limit = 2;
  CHECK(fv_dataset_open(dir, NULL, &opt, &ds, &err) == FV_OK && fv_dataset_count(ds) == 2, "limit 2: %s", err.msg);
  fv_dataset_close(ds);
  opt.limit = 99;
  CHECK(fv_dataset_open(dir, NULL, &opt, &ds, &err) == FV_OK && fv_dataset_count(ds) == 5, "limit 99: %s", err.msg);
  fv_dataset_close(ds);
  opt.limit = 0;
  expect_fail("unknown split", dir, "val", &opt, "unknown split 'val'", NULL);
  /* A label beyond the limit is not read, one inside it is checked. */
  opt.num_classes = 4;
  opt.limit = 2;
  CHECK(fv_dataset_open(dir, NULL, &opt, &ds, &err) == FV_OK, "labels 3, 0 fit 4 classes: %s", err.msg);
  fv_dataset_close(ds);
  opt.limit = 0;
  expect_fail("label >= num_classes", dir, NULL, &opt, "t10k-labels-idx1-ubyte.gz", "label 9 of item 2");
}

static void test_idx_malformed(void) {
  fv_dataset_options opt = idx_opt(1);
  char *dir;
  const char *img = "t10k-images-idx3-ubyte", *lab = "t10k-labels-idx1-ubyte";

  dir = tmp_dir();
  write_images(dir, img, 0x802, 5, 3, 4, 5, 0);
  write_labels(dir, lab, 0x801, 5, five_labels, 5);
  expect_fail("images magic", dir, NULL, &opt, img, "magic 0x00000802, expected 0x00000803");

  dir = tmp_dir();
  write_images(dir, img, 0x803, 5, 3, 4, 5, 0);
  write_labels(dir, lab, 0x803, 5, five_labels, 5);
  expect_fail("labels magic", dir, NULL, &opt, lab, "expected 0x00000801");

  dir = tmp_dir();
  write_images(dir, img, 0x803, 5, 3, 4, 5, 0);
  write_labels(dir, lab, 0x801, 4, five_labels, 4);
  expect_fail("count mismatch", dir, NULL, &opt, "holds 5 images", "holds 4 labels");

  dir = tmp_dir();
  write_images(dir, img, 0x803, 5, 3, 4, 5, -1);
  write_labels(dir, lab, 0x801, 5, five_labels, 5);
  expect_fail("plain file one byte short", dir, NULL, &opt, img, "file has 75 bytes");

  dir = tmp_dir();
  write_images(dir, img, 0x803, 5, 3, 4, 5, 3);
  write_labels(dir, lab, 0x801, 5, five_labels, 5);
  expect_fail("plain file with trailing bytes", dir, NULL, &opt, img, "needs 76");

  dir = tmp_dir();
  write_images(dir, img, 0x803, 5, 3, 4, 0, -6); /* 10 bytes: half a header */
  write_labels(dir, lab, 0x801, 5, five_labels, 5);
  expect_fail("truncated header", dir, NULL, &opt, img, "truncated IDX header");

  dir = tmp_dir();
  write_images(dir, img, 0x803, 5, 0, 4, 0, 0);
  write_labels(dir, lab, 0x801, 5, five_labels, 5);
  expect_fail("zero rows", dir, NULL, &opt, img, "0x4 images");

  dir = tmp_dir();
  write_images(dir, img, 0x803, 5, 65535, 65535, 0, 0);
  write_labels(dir, lab, 0x801, 5, five_labels, 5);
  expect_fail("too many pixels per image", dir, NULL, &opt, img, "65535x65535");

  dir = tmp_dir();
  write_images(dir, img, 0x803, 0xffffffffu, 28, 28, 0, 0);
  write_labels(dir, lab, 0x801, 5, five_labels, 5);
  expect_fail("4 billion items", dir, NULL, &opt, img, "4294967295 items");

  /* A gzipped header claiming 2^28 images of 64x64 (1 TiB) over 2 real ones: must fail as
   * truncated after reading what is there, without trying to allocate the claim. */
  dir = tmp_dir();
  write_images(dir, "t10k-images-idx3-ubyte.gz", 0x803, 1u << 28, 64, 64, 2, 0);
  write_labels(dir, lab, 0x801, 1u << 28, five_labels, 5);
  expect_fail("hostile gzipped count", dir, NULL, &opt, "t10k-images-idx3-ubyte.gz", "truncated: 8192 bytes");

  dir = tmp_dir();
  write_images(dir, "t10k-images-idx3-ubyte.gz", 0x803, 5, 3, 4, 5, 1);
  write_labels(dir, lab, 0x801, 5, five_labels, 5);
  expect_fail("gzip with data after the items", dir, NULL, &opt, "t10k-images-idx3-ubyte.gz", "unexpected data");

  dir = tmp_dir();
  write_images(dir, img, 0x803, 0, 3, 4, 0, 0);
  write_labels(dir, lab, 0x801, 0, five_labels, 0);
  expect_fail("no images", dir, NULL, &opt, img, "no images");

  dir = tmp_dir();
  write_images(dir, img, 0x803, 5, 3, 4, 5, 0);
  expect_fail("labels file missing", dir, NULL, &opt, "t10k-labels-idx1-ubyte[.gz]", "test split");
  expect_fail("train split missing", dir, "train", &opt, "train-images-idx3-ubyte[.gz]", "train split");
}

/* Truncated and corrupted gzip streams of a larger (compressible but not trivial) images file. */
static void test_gzip_damage(void) {
  fv_dataset_options opt = idx_opt(1);
  const uint32_t count = 200, side = 28;
  char path[600], *dir;
  for (int damage = 0; damage < 3; damage++) {
    dir = tmp_dir();
    write_images(dir, "t10k-images-idx3-ubyte.gz", 0x803, count, side, side, count, 0);
    uint8_t labels[200] = {0};
    write_labels(dir, "t10k-labels-idx1-ubyte", 0x801, count, labels, count);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    FILE *f = fopen(path, "rb");
    uint8_t *b = malloc(1 << 20);
    size_t n = fread(b, 1, 1 << 20, f);
    fclose(f);
    if (damage == 0)
      n /= 2; /* cut in the middle of the deflate stream */
    else if (damage == 1)
      n -= 4; /* ISIZE trailer missing */
    else
      b[n - 6] ^= 0x55; /* CRC-32 trailer wrong */
    f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    free(b);
    fv_dataset *ds = NULL;
    fv_error err;
    fv_status st = fv_dataset_open(dir, NULL, &opt, &ds, &err);
    CHECK(st != FV_OK, "damaged gzip %d opened", damage);
    CHECK(st != FV_OK && strstr(err.msg, "t10k-images-idx3-ubyte.gz") &&
              (strstr(err.msg, "gzip") || strstr(err.msg, "truncated")),
          "damage %d: message '%s'", damage, st ? err.msg : "");
    if (!st) fv_dataset_close(ds);
  }
}

/* ---- ImageFolder ---------------------------------------------------------------------------- */

static char *const fmnist_labels[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static void put_png(const char *dir, const char *sub, const char *name, int w, int h, int value) {
  char path[700];
  snprintf(path, sizeof path, "%s/%s", dir, sub);
  mkdir(path, 0700);
  if (!name) return;
  snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
  fv_image img = {.width = w, .height = h, .channels = 1, .pixels = malloc((size_t)w * h)};
  memset(img.pixels, value, (size_t)w * h);
  fv_error err;
  if (fv_image_save_png(path, &img, &err)) fprintf(stderr, "%s\n", err.msg);
  fv_image_free(&img);
}

static void test_name_key(void) {
  char k[64];
  const char *cases[][2] = {
      {"T-shirt/top", "t_shirt_top"},    {"t-shirt_top", "t_shirt_top"}, {"Ankle boot", "ankle_boot"},
      {"ankle_boot", "ankle_boot"},      {"  --Bag!! ", "bag"},          {"", ""},
      {"Caf\xc3\xa9 3", "caf\xc3\xa9_3"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fv_dataset_name_key(cases[i][0], k, sizeof k);
    CHECK(strcmp(k, cases[i][1]) == 0, "key of '%s' is '%s', expected '%s'", cases[i][0], k, cases[i][1]);
  }
  fv_dataset_name_key("abcdef ghij", k, 6);
  CHECK(strcmp(k, "abcde") == 0, "truncated key '%s'", k);
  fv_dataset_name_key("abcd ghij", k, 6);
  CHECK(strcmp(k, "abcd") == 0, "truncated key ends without a separator: '%s'", k);
}

static void test_folder_by_name(void) {
  char *dir = tmp_dir();
  put_png(dir, "ankle_boot", "b.png", 5, 4, 10);
  put_png(dir, "ankle_boot", "a.png", 5, 4, 11);
  put_png(dir, "t-shirt_top", "x.png", 6, 6, 20);
  put_png(dir, "SNEAKER", "y.png", 3, 3, 30);
  write_file(dir, "README.txt", (const uint8_t *)"not a class", 11); /* files at the top are ignored */
  fv_dataset_options opt = {.channels = 3, .num_classes = 10, .label_names = fmnist_labels, .n_labels = 10};
  fv_dataset *ds = NULL;
  fv_error err;
  CHECK(fv_dataset_open(dir, NULL, &opt, &ds, &err) == FV_OK, "by name: %s", err.msg);
  if (!ds) return;
  CHECK(fv_dataset_get_kind(ds) == FV_DATASET_FOLDER, "kind");
  CHECK(fv_dataset_class_mapping(ds) == FV_MAPPING_BY_NAME, "mapping %s (%s)",
        fv_dataset_mapping_name(fv_dataset_class_mapping(ds)), fv_dataset_mapping_note(ds));
  CHECK(fv_dataset_count(ds) == 4 && fv_dataset_folder_count(ds) == 3, "count %d", fv_dataset_count(ds));
  /* byte order: "SNEAKER" < "ankle_boot" < "t-shirt_top"; files sorted inside a folder */
  int expect_labels[4] = {7, 9, 9, 0}, expect_value[4] = {30, 11, 10, 20};
  for (int i = 0; i < 4 && i < fv_dataset_count(ds); i++) {
    fv_image img;
    int label;
    CHECK(fv_dataset_get(ds, i, &img, &label, &err) == FV_OK, "get %d: %s", i, err.msg);
    CHECK(label == expect_labels[i], "item %d label %d, expected %d", i, label, expect_labels[i]);
    CHECK(img.channels == 3 && img.pixels && img.pixels[0] == expect_value[i], "item %d pixels", i);
    fv_image_free(&img);
  }
  int cls = -1;
  CHECK(strcmp(fv_dataset_folder_name(ds, 1, &cls), "ankle_boot") == 0 && cls == 9, "folder 1 -> %d", cls);
  fv_dataset_close(ds);
  opt.limit = 2;
  CHECK(fv_dataset_open(dir, NULL, &opt, &ds, &err) == FV_OK && fv_dataset_count(ds) == 2, "limit: %s", err.msg);
  fv_dataset_close(ds);
}

static void test_folder_sorted(void) {
  fv_dataset_options opt = {.channels = 1, .num_classes = 10, .label_names = fmnist_labels, .n_labels = 10};
  fv_dataset *ds = NULL;
  fv_error err;
  /* one folder name matches no label: sorted, and the note says which */
  char *dir = tmp_dir();
  put_png(dir, "Trouser", "a.png", 2, 2, 1);
  put_png(dir, "cats", "a.png", 2, 2, 2);
  CHECK(fv_dataset_open(dir, NULL, &opt, &ds, &err) == FV_OK, "sorted: %s", err.msg);
  if (ds) {
    CHECK(fv_dataset_class_mapping(ds) == FV_MAPPING_SORTED, "mapping");
    CHECK(strstr(fv_dataset_mapping_note(ds), "'cats'") != NULL, "note: %s", fv_dataset_mapping_note(ds));
    CHECK(fv_dataset_label(ds, 0) == 0 && fv_dataset_label(ds, 1) == 1, "sorted labels");
    fv_dataset_close(ds);
  }
  /* two folders for one label: ambiguous, so sorted */
  dir = tmp_dir();
  put_png(dir, "Ankle boot", "a.png", 2, 2, 1);
  put_png(dir, "ankle_boot", "a.png", 2, 2, 2);
  CHECK(fv_dataset_open(dir, NULL, &opt, &ds, &err) == FV_OK, "duplicate: %s", err.msg);
  if (ds) {
    CHECK(fv_dataset_class_mapping(ds) == FV_MAPPING_SORTED, "duplicate mapping");
    CHECK(strstr(fv_dataset_mapping_note(ds), "both match") != NULL, "note: %s", fv_dataset_mapping_note(ds));
    fv_dataset_close(ds);
  }
  /* no label names at all */
  dir = tmp_dir();
  put_png(dir, "Bag", "a.png", 2, 2, 1);
  fv_dataset_options bare = {.channels = 1, .num_classes = 3};
  CHECK(fv_dataset_open(dir, NULL, &bare, &ds, &err) == FV_OK && fv_dataset_class_mapping(ds) == FV_MAPPING_SORTED,
        "no label names: %s", err.msg);
  fv_dataset_close(ds);
  /* more folders than classes in sorted order */
  dir = tmp_dir();
  put_png(dir, "a", "a.png", 2, 2, 1);
  put_png(dir, "b", "a.png", 2, 2, 1);
  put_png(dir, "c", "a.png", 2, 2, 1);
  fv_dataset_options two = {.channels = 1, .num_classes = 2};
  expect_fail("3 folders, 2 classes", dir, NULL, &two, "3 class folders for a model with 2 classes", NULL);
  /* an explicit split makes no sense for a tree */
  expect_fail("split on ImageFolder", dir, "test", &two, "has no splits", NULL);
}

static void test_folder_errors(void) {
  fv_dataset_options opt = {.channels = 1, .num_classes = 10, .label_names = fmnist_labels, .n_labels = 10};
  char *dir = tmp_dir();
  expect_fail("empty folder", dir, NULL, &opt, "neither an IDX directory", "no sub-folders");
  put_png(dir, "Bag", "a.png", 2, 2, 1);
  put_png(dir, "Coat", NULL, 0, 0, 0);
  expect_fail("class folder without images", dir, NULL, &opt, "class 'Coat'", "no image files");
  dir = tmp_dir();
  put_png(dir, "Bag", NULL, 0, 0, 0);
  write_file(dir, "Bag/broken.png", (const uint8_t *)"\x89PNG\r\n\x1a\nxx", 10);
  fv_dataset *ds = NULL;
  fv_error err;
  CHECK(fv_dataset_open(dir, NULL, &opt, &ds, &err) == FV_OK, "broken image opens (decoded lazily): %s", err.msg);
  if (ds) {
    fv_image img;
    int label;
    CHECK(fv_dataset_get(ds, 0, &img, &label, &err) != FV_OK && strstr(err.msg, "broken.png"), "broken: %s", err.msg);
    fv_dataset_close(ds);
  }
  expect_fail("missing path", "/nonexistent/fovea-data", NULL, &opt, "/nonexistent/fovea-data", "cannot access");
  char file[600];
  snprintf(file, sizeof file, "%s/Bag/broken.png", dir);
  expect_fail("a file, not a directory", file, NULL, &opt, "not a directory", NULL);
  fv_dataset_options bad = opt;
  bad.channels = 2;
  expect_fail("2 channels", dir, NULL, &bad, "channels must be 1 or 3", NULL);
}

int main(void) {
  snprintf(root, sizeof root, "%s/fovea-test-dataset-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(root)) {
    perror("mkdtemp");
    return 1;
  }
  test_name_key();
  test_idx_read_back();
  test_idx_split_and_limit();
  test_idx_malformed();
  test_gzip_damage();
  test_folder_by_name();
  test_folder_sorted();
  test_folder_errors();
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
  return fv_test_finish();
}
