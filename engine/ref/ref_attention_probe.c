/* ref_attention_probe.c: the C reference of FV_OP_ATTENTION_PROBE (graph.h), the definition the
 * kernel (shaders/attention_probe.comp) is tested against and the CPU executor runs.
 *
 * Every attention row a = softmax(q k^T * scale) is recomputed in double from the fp32 qkv values
 * (scores summed in double, max-subtracted exponentials), then reduced to what the mode asks for.
 * Nothing T x T per head is kept: one row at a time lives in the caller's scratch. This file does
 * not decide what the statistics mean for a model (vision/attention_probe.c, docs/attention.md). */
#include <math.h>
#include <string.h>

#include "ref.h"

/* Row i of A_h for image b into p[0..T): softmax over keys of scale * q_i . k_j. */
static void probe_row(const float *qkv, int64_t b, int64_t T, int H, int D, int h, int64_t i, float scale, double *p) {
  const int64_t stride = 3LL * H * D;
  const float *q = qkv + (b * T + i) * stride + (int64_t)h * D;
  double m = -INFINITY;
  for (int64_t j = 0; j < T; j++) {
    const float *k = qkv + (b * T + j) * stride + (int64_t)(H + h) * D;
    double s = 0;
    for (int d = 0; d < D; d++) s += (double)q[d] * (double)k[d];
    p[j] = s * (double)scale;
    if (p[j] > m) m = p[j];
  }
  double l = 0;
  for (int64_t j = 0; j < T; j++) {
    p[j] = exp(p[j] - m);
    l += p[j];
  }
  for (int64_t j = 0; j < T; j++) p[j] /= l;
}

/* The STATS row of query i (see fv_probe_stat); work holds T doubles and is overwritten. */
static void row_stats(const double *p, const float *abar, const fv_ref_probe_args *a, int64_t i, double *work,
                      float *out) {
  const int64_t T = a->T, P = a->n_prefix, gw = a->grid_w;
  double ent = 0, mx = 0;
  for (int64_t j = 0; j < T; j++) {
    if (p[j] > 0) ent -= p[j] * log(p[j]);
    if (p[j] > mx) mx = p[j];
  }
  double dist = -1;
  if (i >= P) {
    const int64_t qy = (i - P) / gw, qx = (i - P) % gw;
    double num = 0, den = 0;
    for (int64_t j = P; j < T; j++) {
      const double dy = (double)((j - P) / gw - qy), dx = (double)((j - P) % gw - qx);
      num += p[j] * sqrt(dy * dy + dx * dx);
      den += p[j];
    }
    dist = den > 0 ? num / den : 0;
  }
  /* The sum of the topk largest weights: repeated maxima; ties do not change the sum. */
  memcpy(work, p, (size_t)T * sizeof *work);
  double top = 0;
  for (int k = 0; k < a->topk && k < T; k++) {
    int64_t best = 0;
    for (int64_t j = 1; j < T; j++)
      if (work[j] > work[best]) best = j;
    top += work[best];
    work[best] = -1;
  }
  double cosv = 0, zero = 0;
  if (abar) {
    const double tau = (double)a->threshold / (double)T;
    double dot = 0, nm = 0, na = 0;
    for (int64_t j = 0; j < T; j++) {
      const double mt = p[j] > tau ? p[j] : 0, at = abar[j] > tau ? (double)abar[j] : 0;
      dot += mt * at;
      nm += mt * mt;
      na += at * at;
    }
    cosv = dot / (fmax(sqrt(nm), 1e-8) * fmax(sqrt(na), 1e-8));
    zero = nm == 0 ? 1 : 0;
  }
  out[FV_PROBE_ENTROPY] = (float)ent;
  out[FV_PROBE_DISTANCE] = (float)dist;
  out[FV_PROBE_TOP_SHARE] = (float)top;
  out[FV_PROBE_MAX] = (float)mx;
  out[FV_PROBE_ADL_COS] = (float)cosv;
  out[FV_PROBE_ADL_ZERO] = (float)zero;
}

void fv_ref_attention_probe(const fv_ref_probe_args *a) {
  const int64_t B = a->B, T = a->T;
  const int H = a->H, D = a->D;
  double *p = a->scratch, *work = a->scratch + T, *acc = a->scratch + 2 * T;
  for (int64_t b = 0; b < B; b++) {
    if (a->mode == FV_PROBE_STATS) {
      for (int h = 0; h < H; h++)
        for (int64_t i = 0; i < T; i++) {
          probe_row(a->qkv, b, T, H, D, h, i, a->scale, p);
          const float *abar = a->rows ? a->rows + (b * H + h) * T : NULL;
          row_stats(p, abar, a, i, work, a->out + ((b * H + h) * T + i) * FV_PROBE_NSTATS);
        }
    } else if (a->mode == FV_PROBE_MEAN) {
      for (int64_t i = 0; i < T; i++) {
        memset(acc, 0, (size_t)T * sizeof *acc);
        for (int h = 0; h < H; h++) {
          probe_row(a->qkv, b, T, H, D, h, i, a->scale, p);
          for (int64_t j = 0; j < T; j++) acc[j] += p[j];
        }
        for (int64_t j = 0; j < T; j++) a->out[(b * T + i) * T + j] = (float)(acc[j] / H);
      }
    } else {
      for (int h = 0; h < H; h++) {
        memset(acc, 0, (size_t)T * sizeof *acc);
        const int64_t first = a->query >= 0 ? a->query : 0, last = a->query >= 0 ? a->query + 1 : T;
        for (int64_t i = first; i < last; i++) {
          probe_row(a->qkv, b, T, H, D, h, i, a->scale, p);
          for (int64_t j = 0; j < T; j++) acc[j] += p[j];
        }
        for (int64_t j = 0; j < T; j++) a->out[(b * H + h) * T + j] = (float)(acc[j] / (double)(last - first));
      }
    }
  }
}
