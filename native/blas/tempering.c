/*
 * tempering.c: parallel tempering (Desjardins et al. 2010) on plain arrays, for lib/core/tempering.ts's
 * parallelTempering and the fused centered trainer (cd.c's centeredStep with a ladder).
 *
 * M temperatures × n chains, rows ordered temperature-major (row t·n + r is chain r at β_t, β_0 = 1).
 * One step, as lib/core/tempering.ts's temperingStep: v ~ σ(β(hWᵀ + b) + (1 − β) b_A) per row, then
 * x = vW + c, h ~ σ(βx), the energies −E′ = vᵀ(b − b_A) + hᵀx, then neighbour swaps of the even or
 * odd pairs (alternating) accepted with probability min(1, exp((β_t − β_{t+1})(−E′_j + E′_i))), a
 * uniform drawn only when that is below 1, and the hidden states permuted accordingly. The draws come
 * in the order of the tensor code; its σ is a tfjs kernel rounding differently from this one, so the
 * two agree in distribution, not bit for bit (test/core/tempering.test.ts and
 * test/compute/fused.test.ts check this one against exact enumeration).
 *
 * temperingSteps(pt, W, b, c, dims, state)
 *   pt       { h, v, pv, hProbs, x, hNew: Float32Array, betas: Float64Array(M), base: Float32Array(nV) | null,
 *              negE: Float64Array(M·n), accepted, proposed: Float64Array(M − 1) (swaps per pair, accumulated),
 *              parity: Int32Array(1) }; h [M·n, nH] the states (advanced), v [M·n, nV] and
 *              hProbs [M·n, nH] the last step's samples and probabilities, pv [M·n, nV], x and hNew
 *              [M·n, nH] scratch
 *   dims     Int32Array [M, n, nV, nH, steps]
 */
#include "common.h"

void tempering_run(tempering_t *t, const float *W, const float *b, const float *c, int64_t nV, int64_t nH, int64_t steps,
                   uint32_t *state) {
  const int64_t M = t->M, n = t->n, rows = M * n;
  for (int64_t s = 0; s < steps; s++) {
    gemm_act(false, true, rows, nV, nH, t->h, W, t->pv, b, ACT_LINEAR); /* hWᵀ + b, then β and the base per row */
    for (int64_t r = 0; r < rows; r++) {
      const float beta = (float)t->betas[r / n];
      float *row = t->pv + r * nV;
      if (t->base != NULL) {
        const float keep = 1.0f - beta;
        for (int64_t i = 0; i < nV; i++) {
          const float a = row[i] * beta;
          const float q = keep * t->base[i];
          row[i] = a + q;
        }
      } else {
        for (int64_t i = 0; i < nV; i++) row[i] = row[i] * beta;
      }
      epilogue_row(row, NULL, (size_t)nV, ACT_SIGMOID);
    }
    bernoulli_rows(t->pv, t->v, (size_t)(rows * nV), state);
    gemm_act(false, false, rows, nH, nV, t->v, W, t->x, c, ACT_LINEAR);
    for (int64_t r = 0; r < rows; r++) {
      const float beta = (float)t->betas[r / n];
      float *p = t->hProbs + r * nH;
      const float *x = t->x + r * nH;
      for (int64_t j = 0; j < nH; j++) p[j] = x[j] * beta;
      epilogue_row(p, NULL, (size_t)nH, ACT_SIGMOID);
    }
    bernoulli_rows(t->hProbs, t->hNew, (size_t)(rows * nH), state);
    for (int64_t r = 0; r < rows; r++) {
      double e = 0;
      const float *v = t->v + r * nV;
      for (int64_t i = 0; i < nV; i++) e += (double)v[i] * ((double)b[i] - (t->base != NULL ? (double)t->base[i] : 0.0));
      const float *h = t->hNew + r * nH;
      const float *x = t->x + r * nH;
      for (int64_t j = 0; j < nH; j++) e += (double)h[j] * (double)x[j];
      t->negE[r] = e;
    }
    /* Swaps: the pairs (t, t+1) of one parity, chain by chain; then h ← hNew permuted. */
    for (int64_t r = 0; r < rows; r++) memcpy(t->h + r * nH, t->hNew + r * nH, sizeof(float) * (size_t)nH);
    for (int64_t k = t->parity[0]; k + 1 < M; k += 2) {
      const double dBeta = t->betas[k] - t->betas[k + 1];
      for (int64_t r = 0; r < n; r++) {
        const int64_t i = k * n + r, j = i + n;
        const double logA = dBeta * (t->negE[j] - t->negE[i]);
        t->proposed[k] += 1;
        if (logA >= 0 || (double)xoshiro_next(state) / 4294967296.0 < exp(logA)) {
          t->accepted[k] += 1;
          memcpy(t->h + i * nH, t->hNew + j * nH, sizeof(float) * (size_t)nH);
          memcpy(t->h + j * nH, t->hNew + i * nH, sizeof(float) * (size_t)nH);
        }
      }
    }
    t->parity[0] = t->parity[0] == 0 ? 1 : 0;
  }
}

static bool named_f32(napi_env env, napi_value obj, const char *name, float **out, int64_t want, bool nullable) {
  napi_value v;
  return napi_get_named_property(env, obj, name, &v) == napi_ok && f32_at_least(env, v, out, want, nullable);
}

static bool named_f64(napi_env env, napi_value obj, const char *name, double **out, int64_t want) {
  napi_value v;
  size_t length;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return false;
  return get_typed(env, v, napi_float64_array, (void **)out, &length) && (int64_t)length >= want;
}

/* Reads a tempering state object (see the file comment) for M temperatures × n chains; NULL message = fine. */
const char *tempering_from_js(napi_env env, napi_value obj, int64_t M, int64_t n, int64_t nV, int64_t nH, tempering_t *t) {
  const int64_t rows = M * n;
  napi_value pv;
  size_t lp;
  t->M = M;
  t->n = n;
  if (!named_f32(env, obj, "h", &t->h, rows * nH, false) || !named_f32(env, obj, "v", &t->v, rows * nV, false) ||
      !named_f32(env, obj, "hProbs", &t->hProbs, rows * nH, false) || !named_f32(env, obj, "x", &t->x, rows * nH, false) ||
      !named_f32(env, obj, "hNew", &t->hNew, rows * nH, false) || !named_f32(env, obj, "pv", &t->pv, rows * nV, false) ||
      !named_f32(env, obj, "base", &t->base, nV, true)) {
    return "tempering: h, v, pv, hProbs, x, hNew must be Float32Arrays of M·n rows, base one of nV or null";
  }
  if (!named_f64(env, obj, "betas", &t->betas, M) || !named_f64(env, obj, "negE", &t->negE, rows) ||
      !named_f64(env, obj, "accepted", &t->accepted, M - 1) || !named_f64(env, obj, "proposed", &t->proposed, M - 1)) {
    return "tempering: betas (M), negE (M·n), accepted and proposed (M − 1 each) must be Float64Arrays";
  }
  if (napi_get_named_property(env, obj, "parity", &pv) != napi_ok || !get_typed(env, pv, napi_int32_array, (void **)&t->parity, &lp) ||
      lp != 1) {
    return "tempering: parity must be an Int32Array of 1";
  }
  return NULL;
}

napi_value js_tempering_steps(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6) return fail(env, false, "temperingSteps: expected 6 arguments (pt, W, b, c, dims, state)");
  int32_t *dims;
  uint32_t *state;
  size_t ld, ls;
  if (!get_typed(env, argv[4], napi_int32_array, (void **)&dims, &ld) || ld != 5) {
    return fail(env, false, "temperingSteps: dims must be an Int32Array [M, n, nV, nH, steps]");
  }
  if (!get_u32(env, argv[5], &state, &ls) || ls != 4) return fail(env, false, "temperingSteps: state must be a Uint32Array of 4 words");
  const int64_t M = dims[0], n = dims[1], nV = dims[2], nH = dims[3], steps = dims[4];
  if (M < 1 || n < 1 || nV < 1 || nH < 1 || steps < 0) return fail(env, true, "temperingSteps: M, n, nV, nH must be ≥ 1 and steps ≥ 0");
  tempering_t t;
  const char *why = tempering_from_js(env, argv[0], M, n, nV, nH, &t);
  if (why != NULL) return fail(env, true, why);
  float *a[3];
  const int64_t want[3] = {nV * nH, nV, nH};
  if (!f32_args(env, argv + 1, 3, want, a)) return fail(env, true, "temperingSteps: W, b, c must be Float32Arrays [nV·nH], [nV], [nH]");
  tempering_run(&t, a[0], a[1], a[2], nV, nH, steps, state);
  return NULL;
}
