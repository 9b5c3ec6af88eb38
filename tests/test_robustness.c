/* test_robustness.c: vision/robustness against values computed by hand: CE,
 * mCE, relative CE and mCE with AlexNet normalisation, with a baseline model's
 * RESULTS.json and without normalisation; the AlexNet self-test of spec 8.2
 * (AlexNet's own errors give mCE = relative mCE = 100); the cell store (atomic
 * files, resume refusing other parameters); sharding and merge giving the same
 * bytes as one run; JSON and CSV read back. No device is needed: the command's
 * end-to-end behaviour (kill -9 and resume) is tests/test_robustness.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "engine/file.h"
#include "vision/robustness.h"

#define NEAR(a, b, tol) (fabs((a) - (b)) <= (tol))

static void test_names_and_table(void) {
  CHECK(strcmp(fv_rob_corruption_name(0), "gaussian_noise") == 0, "first name");
  CHECK(strcmp(fv_rob_corruption_name(14), "jpeg_compression") == 0, "last main name");
  CHECK(strcmp(fv_rob_corruption_name(18), "saturate") == 0, "last extra");
  CHECK(fv_rob_corruption_name(19) == NULL, "out of range");
  CHECK(fv_rob_corruption_from_name("elastic_transform") == 12, "from name");
  CHECK(fv_rob_corruption_from_name("Elastic") == -1, "unknown name");
  /* spot checks against corruptions.md 8.2, and its "average" column: the mean
   * of the five */
  CHECK(fv_rob_alexnet_error(7, 3) == 0.86468, "snow s3");
  CHECK(fv_rob_alexnet_error(18, 5) == 0.82260, "saturate s5");
  static const double average[19] = {0.886428, 0.894468, 0.922640, 0.819880, 0.826268, 0.785948, 0.798360,
                                     0.866816, 0.826572, 0.819324, 0.564592, 0.853204, 0.646056, 0.717840,
                                     0.606500, 0.845388, 0.787108, 0.717512, 0.658248};
  for (int c = 0; c < 19; c++) {
    double sum = 0;
    for (int s = 1; s <= 5; s++) sum += fv_rob_alexnet_error(c, s);
    CHECK(NEAR(sum / 5, average[c], 5e-7), "%s: AlexNet average %.7f vs the table's %.6f", fv_rob_corruption_name(c),
          sum / 5, average[c]);
  }
}

static void test_metrics(void) {
  double err[19][5] = {{0}};
  int have[19][5] = {{0}};
  fv_rob_baseline none, alex;
  fv_rob_metrics m;
  fv_rob_baseline_none(&none);
  fv_rob_baseline_alexnet(&alex);

  /* Not normalised. gaussian_noise errors 0.1 .. 0.5, clean 0.1:
   *   CE  = 100 * (0.1+0.2+0.3+0.4+0.5)/5 = 100 * 1.5/5 = 30
   *   rCE = 100 * ((0.1-0.1)+(0.2-0.1)+(0.3-0.1)+(0.4-0.1)+(0.5-0.1))/5 = 100
   * * 1.0/5 = 20 */
  for (int s = 0; s < 5; s++) err[0][s] = 0.1 * (s + 1), have[0][s] = 1;
  fv_rob_metrics_compute(err, have, 1, 0.1, &none, &m);
  CHECK(m.have_ce[0] && NEAR(m.ce[0], 30.0, 1e-12), "plain CE %g, expected 30", m.ce[0]);
  CHECK(m.have_rce[0] && NEAR(m.rce[0], 20.0, 1e-12), "plain relative CE %g, expected 20", m.rce[0]);
  CHECK(!m.have_mce && !m.have_rmce, "mCE needs all 15 main corruptions");
  /* the mean error over what is there: 1.5 / 5 cells = 0.3 */
  CHECK(m.have_mean_error == 5 && NEAR(m.mean_error, 0.3, 1e-12), "mean error %g over %d cells", m.mean_error,
        m.have_mean_error);
  CHECK(NEAR(m.mean_accuracy, 0.7, 1e-12), "mean accuracy %g", m.mean_accuracy);
  CHECK(!m.have_ce[1], "no CE for a corruption without cells");

  /* A severity missing: no CE for that corruption. */
  have[0][4] = 0;
  fv_rob_metrics_compute(err, have, 1, 0.1, &none, &m);
  CHECK(!m.have_ce[0] && !m.have_rce[0], "CE needs all five severities");
  have[0][4] = 1;

  /* AlexNet. gaussian_noise errors 0.5, 0.6, 0.7, 0.8, 0.9 (sum 3.5), clean
   * 0.2; AlexNet's sum 0.69528+0.82542+0.93554+0.98138+0.99452 = 4.43214, its
   * clean 0.4345: CE  = 100 * 3.5 / 4.43214 = 78.968624637... rCE = 100 * (3.5
   * - 5*0.2) / (4.43214 - 5*0.4345) = 100 * 2.5 / 2.25964 = 110.637092634...
   * The 14 other main corruptions at exactly half AlexNet's errors: CE = 50
   * each, so mCE = (14*50 + 78.968624637...) / 15 = 51.931241642... */
  for (int s = 0; s < 5; s++) err[0][s] = 0.5 + 0.1 * s;
  for (int c = 1; c < 15; c++)
    for (int s = 0; s < 5; s++) err[c][s] = 0.5 * fv_rob_alexnet_error(c, s + 1), have[c][s] = 1;
  fv_rob_metrics_compute(err, have, 1, 0.2, &alex, &m);
  CHECK(m.have_ce[0] && NEAR(m.ce[0], 78.968624637, 1e-8), "AlexNet CE %.12g, expected 78.968624637", m.ce[0]);
  CHECK(m.have_rce[0] && NEAR(m.rce[0], 110.637092634, 1e-8), "AlexNet relative CE %.12g, expected 110.637092634",
        m.rce[0]);
  CHECK(NEAR(m.ce[5], 50.0, 1e-12), "half AlexNet's errors: CE %g, expected 50", m.ce[5]);
  CHECK(m.have_mce && NEAR(m.mce, 51.931241642, 1e-8), "mCE %.12g, expected 51.931241642", m.mce);
  CHECK(!m.have_extras_mce && !m.have_extras_mean_error, "no extras");

  /* Relative CE with a baseline that did not degrade is undefined, not
   * infinite. */
  fv_rob_baseline flat;
  fv_rob_baseline_none(&flat);
  flat.kind = FV_NORM_BASELINE;
  flat.have_clean = 1;
  flat.clean = 0.3;
  for (int s = 0; s < 5; s++) flat.err[0][s] = 0.3, flat.have[0][s] = 1;
  fv_rob_metrics_compute(err, have, 1, 0.2, &flat, &m);
  /* CE = 100 * 3.5 / (5*0.3) = 100 * 3.5/1.5 = 233.33... ; rCE: baseline
   * degradation 0 → undefined */
  CHECK(m.have_ce[0] && NEAR(m.ce[0], 233.333333333, 1e-8), "baseline CE %.12g, expected 233.333333333", m.ce[0]);
  CHECK(!m.have_rce[0], "relative CE over a zero baseline degradation is undefined");
  CHECK(!m.have_ce[1], "no CE where the baseline has no errors");

  /* The extras enter their own means only. saturate (18) all 0.4,
   * speckle/gaussian_blur/spatter all 0.2: extras mean error = (3*5*0.2 +
   * 5*0.4)/20 = 5/20 = 0.25; the main mCE is unchanged. */
  for (int c = 15; c < 19; c++)
    for (int s = 0; s < 5; s++) err[c][s] = c == 18 ? 0.4 : 0.2, have[c][s] = 1;
  fv_rob_metrics_compute(err, have, 1, 0.2, &alex, &m);
  CHECK(m.have_mce && NEAR(m.mce, 51.931241642, 1e-8), "extras leave mCE alone: %.12g", m.mce);
  CHECK(m.have_extras_mean_error == 20 && NEAR(m.extras_mean_error, 0.25, 1e-12), "extras mean error %g",
        m.extras_mean_error);
  /* saturate's CE: 100 * 2.0 / (0.59342+0.65514+0.51174+0.70834+0.82260
   * = 3.29124) = 60.767... */
  CHECK(NEAR(m.ce[18], 100.0 * 2.0 / 3.29124, 1e-9), "saturate CE %g", m.ce[18]);
  CHECK(m.have_extras_mce, "extras mCE defined");
  double main_mean = 0;
  for (int c = 0; c < 15; c++)
    for (int s = 0; s < 5; s++) main_mean += err[c][s];
  CHECK(m.have_mean_error == 75 && NEAR(m.mean_error, main_mean / 75, 1e-15), "mean error over the 75 main cells");
}

/* Spec 8.2's self-test: AlexNet's own errors give mCE = 100 and relative mCE =
 * 100. */
static void test_alexnet_self(void) {
  double err[19][5];
  int have[19][5];
  for (int c = 0; c < 19; c++)
    for (int s = 0; s < 5; s++) err[c][s] = fv_rob_alexnet_error(c, s + 1), have[c][s] = 1;
  fv_rob_baseline alex;
  fv_rob_metrics m;
  fv_rob_baseline_alexnet(&alex);
  fv_rob_metrics_compute(err, have, 1, FV_ROB_ALEXNET_CLEAN, &alex, &m);
  CHECK(m.have_mce && NEAR(m.mce, 100.0, 1e-12), "AlexNet mCE %.15g, expected 100", m.mce);
  CHECK(m.have_rmce && NEAR(m.rmce, 100.0, 1e-12), "AlexNet relative mCE %.15g, expected 100", m.rmce);
  CHECK(m.have_extras_mce && NEAR(m.extras_mce, 100.0, 1e-12), "AlexNet extras mCE %.15g", m.extras_mce);
  /* unnormalised: the mean of the 15 "average" column values = 11.866... / 15
   */
  double avg = (0.886428 + 0.894468 + 0.922640 + 0.819880 + 0.826268 + 0.785948 + 0.798360 + 0.866816 + 0.826572 +
                0.819324 + 0.564592 + 0.853204 + 0.646056 + 0.717840 + 0.606500) /
               15;
  CHECK(NEAR(m.mean_error, avg, 1e-6), "AlexNet unnormalised mean error %.8f vs %.8f", m.mean_error, avg);
}

/* A synthetic model: cell counts from a formula, over every slot. */
static void fill_set(fv_rob_set *s, const fv_rob_params *p, int with_clean) {
  memset(s, 0, sizeof *s);
  fv_error err;
  for (int slot = with_clean ? 0 : 1; slot < FV_ROB_SLOTS; slot++) {
    fv_rob_cell c = {.images = 1000, .correct = 900 - 7 * slot - (slot * slot) % 13, .seconds = 0.25 * slot};
    CHECK(fv_rob_set_add(s, p, slot, &c, "fill", &err) == FV_OK, "add: %s", err.msg);
  }
}

static void params_for(fv_rob_params *p, uint32_t seed) {
  memset(p, 0, sizeof *p);
  snprintf(p->model, sizeof p->model, "/models/m");
  snprintf(p->dataset, sizeof p->dataset, "/data/fmnist");
  snprintf(p->split, sizeof p->split, "test");
  snprintf(p->table, sizeof p->table, "cifar10");
  snprintf(p->frost, sizeof p->frost, "procedural (seed 0)");
  p->limit = 1000;
  p->seed = seed;
}

static int same_file(const char *a, const char *b) {
  char *x = NULL, *y = NULL;
  size_t nx = 0, ny = 0;
  fv_error err;
  int same = fv_read_file(a, 1 << 24, &x, &nx, &err) == FV_OK && fv_read_file(b, 1 << 24, &y, &ny, &err) == FV_OK &&
             nx == ny && memcmp(x, y, nx) == 0;
  free(x);
  free(y);
  return same;
}

static void test_files(const char *dir) {
  fv_error err;
  fv_rob_params p, other;
  params_for(&p, 7);
  params_for(&other, 8);
  fv_rob_set full;
  fill_set(&full, &p, 1);
  fv_rob_plan plan = {.sev_lo = 1, .sev_hi = 5, .clean = 1};
  CHECK(fv_rob_parse_corruptions("all", &plan, &err) == FV_OK, "all");
  fv_rob_baseline alex;
  fv_rob_baseline_alexnet(&alex);
  fv_rob_info info = {.plan = &plan, .device = "cpu", .mode = "generation", .notes = {"a note", NULL}};
  char path[512], path2[512];

  /* JSON round trip: the cells read back equal, and writing them again gives
   * the same bytes */
  snprintf(path, sizeof path, "%s/full.json", dir);
  CHECK(fv_rob_write_json(path, &full, &alex, &info, &err) == FV_OK, "write json: %s", err.msg);
  fv_rob_set back = {0};
  fv_rob_plan plan_back;
  char shard[16];
  CHECK(fv_rob_load_results(path, &back, &plan_back, shard, sizeof shard, &err) == FV_OK, "load: %s", err.msg);
  CHECK(memcmp(back.have, full.have, sizeof full.have) == 0, "same cells back");
  int same_counts = 1;
  for (int i = 0; i < FV_ROB_SLOTS; i++)
    same_counts &= back.cell[i].images == full.cell[i].images && back.cell[i].correct == full.cell[i].correct &&
                   back.cell[i].seconds == full.cell[i].seconds;
  CHECK(same_counts, "same counts and seconds back");
  CHECK(memcmp(&plan_back, &plan, sizeof plan) == 0, "same plan back");
  CHECK(shard[0] == '\0', "no shard");
  snprintf(path2, sizeof path2, "%s/again.json", dir);
  CHECK(fv_rob_write_json(path2, &back, &alex, &info, &err) == FV_OK, "write again");
  CHECK(same_file(path, path2), "rewriting read-back cells gives the same bytes");

  /* The baseline from a RESULTS.json: the model against itself scores 100 */
  fv_rob_baseline self;
  CHECK(fv_rob_baseline_load(path, &self, &err) == FV_OK, "baseline load: %s", err.msg);
  fv_rob_metrics m;
  fv_rob_set_metrics(&full, &self, &m);
  CHECK(m.have_mce && NEAR(m.mce, 100.0, 1e-12), "a model against its own results: mCE %.15g", m.mce);
  CHECK(m.have_rmce && NEAR(m.rmce, 100.0, 1e-12), "relative mCE %.15g", m.rmce);
  CHECK(strcmp(self.model, "/models/m") == 0, "baseline model recorded: %s", self.model);

  /* Shards: disjoint, covering, and merged they give the bytes of the unsharded
   * file */
  int seen[FV_ROB_SLOTS] = {0}, total = 0;
  fv_rob_set merged = {0};
  for (int k = 1; k <= 3; k++) {
    int slots[FV_ROB_SLOTS];
    int n = fv_rob_plan_cells(&plan, k, 3, slots);
    fv_rob_set part = {0};
    for (int i = 0; i < n; i++) {
      seen[slots[i]]++;
      total++;
      CHECK(fv_rob_set_add(&part, &p, slots[i], &full.cell[slots[i]], "part", &err) == FV_OK, "part add");
    }
    char shard_name[16];
    snprintf(shard_name, sizeof shard_name, "%d/3", k);
    fv_rob_info si = info;
    si.shard = shard_name;
    snprintf(path2, sizeof path2, "%s/shard%d.json", dir, k);
    CHECK(fv_rob_write_json(path2, &part, &alex, &si, &err) == FV_OK, "write shard");
    CHECK(fv_rob_load_results(path2, &merged, NULL, NULL, 0, &err) == FV_OK, "merge shard %d: %s", k, err.msg);
  }
  int once = 1;
  for (int i = 0; i < FV_ROB_SLOTS; i++) once &= seen[i] == 1;
  CHECK(once && total == FV_ROB_SLOTS, "every cell in exactly one of 3 shards");
  snprintf(path2, sizeof path2, "%s/merged.json", dir);
  CHECK(fv_rob_write_json(path2, &merged, &alex, &info, &err) == FV_OK, "write merged");
  CHECK(same_file(path, path2), "3 shards merged = the unsharded file, byte for byte");
  /* the same shard twice is harmless; a conflicting duplicate is refused */
  snprintf(path2, sizeof path2, "%s/shard1.json", dir);
  CHECK(fv_rob_load_results(path2, &merged, NULL, NULL, 0, &err) == FV_OK, "identical duplicate accepted");
  fv_rob_cell changed = full.cell[0];
  changed.correct++;
  CHECK(fv_rob_set_add(&merged, &p, 0, &changed, "x.json", &err) == FV_ERR && strstr(err.msg, "clean") &&
            strstr(err.msg, "x.json"),
        "conflicting duplicate refused: %s", err.msg);
  fv_rob_set third = {0};
  CHECK(fv_rob_load_results(path, &third, NULL, NULL, 0, &err) == FV_OK, "load");
  CHECK(fv_rob_set_add(&third, &other, 5, &full.cell[5], "seed8.json", &err) == FV_ERR && strstr(err.msg, "seed"),
        "other parameters refused: %s", err.msg);

  /* The cell store: write, read back, and refuse a run with other parameters */
  char cells[400];
  snprintf(cells, sizeof cells, "%s/run.cells", dir);
  fv_rob_set store = {0};
  int loaded = -1;
  CHECK(fv_rob_store_load(cells, &store, &loaded, &err) == FV_OK && loaded == 0, "missing store = empty");
  for (int slot = 0; slot < 7; slot++)
    CHECK(fv_rob_cell_write(cells, &p, slot, &full.cell[slot], "1/1", "cpu", &err) == FV_OK, "cell write: %s", err.msg);
  /* a temporary left by a kill during a write is ignored */
  snprintf(path2, sizeof path2, "%s/clean.json.tmp-abcdef", cells);
  FILE *f = fopen(path2, "w");
  if (f) {
    fputs("{\"half", f);
    fclose(f);
  }
  store = (fv_rob_set){0};
  store.params = p;
  store.have_params = 1;
  CHECK(fv_rob_store_load(cells, &store, &loaded, &err) == FV_OK && loaded == 7, "7 cells back (%s)", err.msg);
  CHECK(store.have[0] && store.have[6] && !store.have[7], "the stored slots");
  CHECK(store.cell[3].correct == full.cell[3].correct && store.cell[3].images == 1000, "counts back");
  fv_rob_set resume = {0};
  resume.params = other;
  resume.have_params = 1;
  CHECK(fv_rob_store_load(cells, &resume, &loaded, &err) == FV_ERR && strstr(err.msg, "seed 7") &&
            strstr(err.msg, "seed 8"),
        "resume with another seed refused: %s", err.msg);
  resume = (fv_rob_set){0};
  params_for(&resume.params, 7);
  snprintf(resume.params.model, sizeof resume.params.model, "/models/other");
  resume.have_params = 1;
  CHECK(fv_rob_store_load(cells, &resume, &loaded, &err) == FV_ERR && strstr(err.msg, "model"),
        "resume with another model refused: %s", err.msg);
  /* a damaged cell file is an error naming it, not a silently missing cell */
  snprintf(path2, sizeof path2, "%s/fog-1.json", cells);
  f = fopen(path2, "w");
  if (f) {
    fputs("{\"fovea_robustness_cell\": 1, \"corruption\": \"fog\"}", f);
    fclose(f);
  }
  store = (fv_rob_set){0};
  CHECK(fv_rob_store_load(cells, &store, &loaded, &err) == FV_ERR && strstr(err.msg, "fog-1.json"),
        "damaged cell file named: %s", err.msg);

  /* CSV: one row per cell, per corruption and per summary, with the
   * hand-checkable first rows */
  snprintf(path2, sizeof path2, "%s/full.csv", dir);
  CHECK(fv_rob_write_csv(path2, &full, &alex, &err) == FV_OK, "csv");
  char *csv = NULL;
  size_t len = 0;
  CHECK(fv_read_file(path2, 1 << 20, &csv, &len, &err) == FV_OK, "read csv");
  if (csv) {
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += csv[i] == '\n';
    /* header + 96 cells + 19 corruptions + 8 summaries + normalisation */
    CHECK(lines == 1 + 96 + 19 + 8 + 1, "csv lines %d", lines);
    /* clean: correct = 900 - 0 - 0 = 900 of 1000 → error 0.1; slot 1
     * (gaussian_noise s1): 900 - 7 - 1 = 892 → error 0.108 */
    CHECK(strstr(csv,
                 "kind,corruption,severity,images,correct,error,ce,"
                 "relative_ce,value,seconds\n") == csv,
          "csv header");
    CHECK(strstr(csv, "\ncell,clean,0,1000,900,0.1,,,,0.000\n") != NULL, "clean row");
    CHECK(strstr(csv, "\ncell,gaussian_noise,1,1000,892,0.108,,,,0.250\n") != NULL, "gaussian_noise s1 row");
    CHECK(strstr(csv, "\nsummary,normalisation,,,,,,,alexnet,\n") != NULL, "normalisation row");
    fv_rob_set_metrics(&full, &alex, &m);
    char row[128];
    snprintf(row, sizeof row, "\nsummary,mce,,,,,,,%.10g,\n", m.mce);
    CHECK(strstr(csv, row) != NULL, "mce row %s", row + 1);
    free(csv);
  }

  /* SVG: a well-formed-looking document with both panels */
  snprintf(path2, sizeof path2, "%s/full.svg", dir);
  CHECK(fv_rob_write_svg(path2, &full, &alex, "test <plot> & title", &err) == FV_OK, "svg");
  char *svg = NULL;
  if (fv_read_file(path2, 1 << 22, &svg, &len, &err) == FV_OK) {
    CHECK(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"") != NULL, "svg root");
    CHECK(strstr(svg, "</svg>\n") != NULL, "svg closed");
    CHECK(strstr(svg, "test &lt;plot&gt; &amp; title") != NULL, "title escaped");
    int polylines = 0, rects = 0;
    for (const char *q = svg; (q = strstr(q, "<polyline")); q++) polylines++;
    for (const char *q = svg; (q = strstr(q, "<rect x=")); q++) rects++;
    CHECK(polylines == 19 && rects == 19, "19 lines and 19 bars (got %d, %d)", polylines, rects);
    free(svg);
  }
}

static void test_parsing(void) {
  fv_error err;
  fv_rob_plan plan = {0};
  int k, n;
  CHECK(fv_rob_parse_corruptions("imagenet-c", &plan, &err) == FV_OK && plan.corruption[14] && !plan.corruption[15],
        "imagenet-c = the 15 main");
  CHECK(fv_rob_parse_corruptions("fog,saturate", &plan, &err) == FV_OK && plan.corruption[9] && plan.corruption[18] &&
            !plan.corruption[0],
        "a list");
  CHECK(fv_rob_parse_corruptions("fog,,x", &plan, &err) == FV_ERR, "empty name refused");
  CHECK(fv_rob_parse_corruptions("smog", &plan, &err) == FV_ERR && strstr(err.msg, "smog"), "unknown refused");
  CHECK(fv_rob_parse_severities("2-4", &plan, &err) == FV_OK && plan.sev_lo == 2 && plan.sev_hi == 4, "2-4");
  CHECK(fv_rob_parse_severities("3", &plan, &err) == FV_OK && plan.sev_lo == 3 && plan.sev_hi == 3, "3");
  CHECK(fv_rob_parse_severities("0-5", &plan, &err) == FV_ERR, "0 refused");
  CHECK(fv_rob_parse_severities("4-2", &plan, &err) == FV_ERR, "reversed refused");
  CHECK(fv_rob_parse_severities("1-6", &plan, &err) == FV_ERR, "6 refused");
  CHECK(fv_rob_parse_shard("2/8", &k, &n, &err) == FV_OK && k == 2 && n == 8, "2/8");
  CHECK(fv_rob_parse_shard("3/2", &k, &n, &err) == FV_ERR, "3/2 refused");
  CHECK(fv_rob_parse_shard("0/2", &k, &n, &err) == FV_ERR, "0/2 refused");
  CHECK(fv_rob_parse_shard("1/", &k, &n, &err) == FV_ERR, "1/ refused");
  /* the canonical order: clean, then severities of each corruption */
  fv_rob_plan p2 = {.sev_lo = 4, .sev_hi = 5, .clean = 1};
  fv_rob_parse_corruptions("snow,fog", &p2, &err);
  int slots[FV_ROB_SLOTS];
  int count = fv_rob_plan_cells(&p2, 1, 1, slots);
  CHECK(count == 5 && slots[0] == 0 && slots[1] == fv_rob_slot(7, 4) && slots[4] == fv_rob_slot(9, 5), "order");
  count = fv_rob_plan_cells(&p2, 2, 2, slots);
  CHECK(count == 2 && slots[0] == fv_rob_slot(7, 4) && slots[1] == fv_rob_slot(9, 4), "shard 2/2 = cells 1 and 3");
}

int main(void) {
  char dir[] = "/tmp/fovea-test-robustness-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_names_and_table();
  test_metrics();
  test_alexnet_self();
  test_parsing();
  test_files(dir);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return fv_test_finish();
}
