/*
 * blas.node: a tiny N-API binding of OpenBLAS's single-precision GEMM for rbm-notebooks.
 *
 * lib/blas.ts uses it to run the TensorFlow.js wasm backend's matrix products (BatchMatMul,
 * _FusedMatMul) on OpenBLAS, reading and writing the wasm heap in place through Float32Array views.
 *
 * Exports (all matrices row-major, all arrays Float32Array, any byteOffset, plain or shared buffer):
 *   sgemm(transA, transB, M, N, K, alpha, A, B, beta, C)
 *       C[M×N] = alpha · op(A)·op(B) + beta · C, op(X) = Xᵀ when its flag is true;
 *       A is M×K (K×M when transposed), B is K×N (N×K when transposed).
 *   gemmBatched(transA, transB, batch, M, N, K, A, strideA, B, strideB, C, bias, activation)
 *       for i < batch: C_i = act(op(A_i)·op(B_i) + bias), X_i = X + i·strideX (stride 0 broadcasts
 *       one matrix to every batch), bias a Float32Array of length N or null, activation one of
 *       ACT_LINEAR, ACT_RELU, ACT_RELU6, ACT_SIGMOID, ACT_ELU. C's batches are contiguous.
 *   bernoulli(P, OUT, state)
 *       OUT[i] = [u_i < P[i]] (1 or 0; NaN where P[i] is NaN) for i < OUT.length, u_i the next
 *       uniform of the xoshiro128** stream whose four state words are the Uint32Array `state`
 *       (advanced in place): the stream and float32 rounding of lib/core/random.ts's
 *       Rng.fillUniform, so a seed gives the same samples here as in JS.
 *   annealHidden(X, rows, nH, hCols, betaHi, betaLo, at, inc, hAug, state)
 *       the hidden half of one AIS / RAISE temperature step (lib/eval/anneal.ts's annealHidden, in
 *       float64): inc[r] += Σ_j softplus(βHi x_rj) − softplus(βLo x_rj) for X (Float32Array
 *       rows×nH, x = c + vW) and, unless at = 0, hAug[r·hCols + j] = β_at · [u < σ(β_at x_rj)]
 *       with β_at = βHi (at = 1) or βLo (at = 2) and u the next double uniform (r / 2^32) of the
 *       xoshiro128** stream in `state` — the uniforms Rng.uniform draws in JS. inc is a
 *       Float64Array of rows.
 *   sampleVisible(P, rows, nV, v, coef, coefRow, acc, state)
 *       the visible half (lib/eval/anneal.ts's sampleVisible): v[r·nV + i] = [u < P[r·nV + i]] and
 *       acc[r] = Σ_i v_ri · coef[coefRow[r]·nV + i] in float64, u the next double uniforms of the
 *       stream in `state`. P, v Float32Array; coef Float64Array; coefRow Int32Array; acc Float64Array.
 *   setNumThreads(n), getNumThreads(), config() -> "OpenBLAS 0.3.21 … (core name)"
 *   ACT_LINEAR … ACT_ELU: the activation codes.
 * Errors (wrong types, arrays too short) throw a JS TypeError / RangeError; nothing is written then.
 */
#include "common.h"

/* ------------------------------------------------------------------ exports */

/* sgemm(transA, transB, M, N, K, alpha, A, B, beta, C) */
static napi_value js_sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 10) return fail(env, false, "sgemm: expected 10 arguments (transA, transB, M, N, K, alpha, A, B, beta, C)");
  bool ta, tb;
  int64_t m, n, k;
  float alpha, beta;
  float *a, *b, *c;
  size_t la, lb, lc;
  if (!get_bool(env, argv[0], &ta) || !get_bool(env, argv[1], &tb)) return fail(env, false, "sgemm: transA/transB must be booleans");
  if (!get_int(env, argv[2], &m) || !get_int(env, argv[3], &n) || !get_int(env, argv[4], &k)) {
    return fail(env, false, "sgemm: M, N, K must be non-negative integers");
  }
  if (!get_float(env, argv[5], &alpha) || !get_float(env, argv[8], &beta)) return fail(env, false, "sgemm: alpha/beta must be numbers");
  if (!get_f32(env, argv[6], &a, &la, false) || !get_f32(env, argv[7], &b, &lb, false) || !get_f32(env, argv[9], &c, &lc, false)) {
    return fail(env, false, "sgemm: A, B and C must be Float32Arrays");
  }
  if ((int64_t)la < m * k || (int64_t)lb < k * n || (int64_t)lc < m * n) {
    return fail(env, true, "sgemm: an array is shorter than its matrix (A needs M·K, B K·N, C M·N elements)");
  }
  if (m == 0 || n == 0) return NULL;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n,
              (blasint)k, alpha, a, ta ? (blasint)m : (blasint)(k > 0 ? k : 1), b, tb ? (blasint)(k > 0 ? k : 1) : (blasint)n,
              beta, c, (blasint)n);
  return NULL;
}

/* gemmBatched(transA, transB, batch, M, N, K, A, strideA, B, strideB, C, bias, activation) */
static napi_value js_gemm_batched(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 13) {
    return fail(env, false,
                "gemmBatched: expected 13 arguments (transA, transB, batch, M, N, K, A, strideA, B, strideB, C, bias, activation)");
  }
  bool ta, tb;
  int64_t batch, m, n, k, sa, sb, act;
  float *a, *b, *c, *bias;
  size_t la, lb, lc, lbias;
  if (!get_bool(env, argv[0], &ta) || !get_bool(env, argv[1], &tb)) return fail(env, false, "gemmBatched: transA/transB must be booleans");
  if (!get_int(env, argv[2], &batch) || !get_int(env, argv[3], &m) || !get_int(env, argv[4], &n) || !get_int(env, argv[5], &k) ||
      !get_int(env, argv[7], &sa) || !get_int(env, argv[9], &sb) || !get_int(env, argv[12], &act)) {
    return fail(env, false, "gemmBatched: sizes, strides and activation must be non-negative integers");
  }
  if (act > ACT_ELU) return fail(env, true, "gemmBatched: unknown activation code");
  if (!get_f32(env, argv[6], &a, &la, false) || !get_f32(env, argv[8], &b, &lb, false) || !get_f32(env, argv[10], &c, &lc, false) ||
      !get_f32(env, argv[11], &bias, &lbias, true)) {
    return fail(env, false, "gemmBatched: A, B, C must be Float32Arrays and bias a Float32Array or null");
  }
  if (batch == 0 || m == 0 || n == 0) return NULL;
  if ((int64_t)la < (batch - 1) * sa + m * k || (int64_t)lb < (batch - 1) * sb + k * n || (int64_t)lc < batch * m * n ||
      (bias != NULL && (int64_t)lbias < n)) {
    return fail(env, true, "gemmBatched: an array is shorter than its batched matrices");
  }
  for (int64_t i = 0; i < batch; i++) gemm_act(ta, tb, m, n, k, a + i * sa, b + i * sb, c + i * m * n, bias, (int)act);
  return NULL;
}

static inline double softplus64(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

static inline double sigmoid64(double a) {
  if (a >= 0) return 1.0 / (1.0 + exp(-a));
  const double e = exp(a);
  return e / (1.0 + e);
}

/*
 * The same arithmetic as lib/eval/anneal.ts's annealHidden, term for term: for |Δβ x| < 1,
 * softplus(βHi x) − softplus(βLo x) = log1p(σ(βLo x)·expm1(Δβ x)) with expm1 and log1p by their
 * series below 0.01, which keeps the digits of small steps; otherwise the two softplus directly.
 */
static void anneal_hidden(const float *X, int64_t rows, int64_t nH, int64_t hCols, double betaHi, double betaLo, int at, double *inc,
                          float *hAug, uint32_t *state) {
  const double dBeta = betaHi - betaLo;
  const double betaS = at == 1 ? betaHi : betaLo;
  uint32_t s[4] = {state[0], state[1], state[2], state[3]};
  for (int64_t r = 0; r < rows; r++) {
    const float *x_row = X + r * nH;
    float *h_row = hAug + r * hCols;
    double acc = 0;
    for (int64_t j = 0; j < nH; j++) {
      const double x = (double)x_row[j];
      const double aLo = betaLo * x;
      const double d = dBeta * x;
      double p;
      if (d > -1 && d < 1) {
        const double e = exp(-fabs(aLo));
        const double sLo = aLo >= 0 ? 1 / (1 + e) : e / (1 + e);
        const double em = d > -0.01 && d < 0.01
                              ? d * (1 + d * (1.0 / 2 + d * (1.0 / 6 + d * (1.0 / 24 + d * (1.0 / 120 + d / 720)))))
                              : expm1(d);
        const double z = sLo * em;
        acc += z > -0.01 && z < 0.01
                   ? z * (1 - z * (1.0 / 2 - z * (1.0 / 3 - z * (1.0 / 4 - z * (1.0 / 5 - z * (1.0 / 6 - z * (1.0 / 7 - z / 8)))))))
                   : log1p(z);
        p = at == 1 ? (sLo * (1 + em)) / (1 + z) : sLo;
      } else {
        acc += softplus64(betaHi * x) - softplus64(aLo);
        p = sigmoid64(betaS * x);
      }
      if (at != 0) h_row[j] = (double)xoshiro_next(s) / 4294967296.0 < p ? (float)betaS : 0.0f;
    }
    inc[r] += acc;
  }
  memcpy(state, s, sizeof s);
}

/* annealHidden(X, rows, nH, hCols, betaHi, betaLo, at, inc, hAug, state) */
static napi_value js_anneal_hidden(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 10) return fail(env, false, "annealHidden: expected 10 arguments (X, rows, nH, hCols, betaHi, betaLo, at, inc, hAug, state)");
  float *X, *hAug;
  size_t lx, lh, ls, linc;
  uint32_t *s;
  int64_t rows, nH, hCols, at;
  double betaHi, betaLo;
  if (!get_f32(env, argv[0], &X, &lx, false) || !get_f32(env, argv[8], &hAug, &lh, false)) {
    return fail(env, false, "annealHidden: X and hAug must be Float32Arrays");
  }
  if (!get_int(env, argv[1], &rows) || !get_int(env, argv[2], &nH) || !get_int(env, argv[3], &hCols) || !get_int(env, argv[6], &at) || at > 2) {
    return fail(env, false, "annealHidden: rows, nH, hCols must be non-negative integers and at 0, 1 or 2");
  }
  if (napi_get_value_double(env, argv[4], &betaHi) != napi_ok || napi_get_value_double(env, argv[5], &betaLo) != napi_ok) {
    return fail(env, false, "annealHidden: betaHi and betaLo must be numbers");
  }
  void *ptr = NULL;
  if (!get_typed(env, argv[7], napi_float64_array, &ptr, &linc)) return fail(env, false, "annealHidden: inc must be a Float64Array");
  if (!get_u32(env, argv[9], &s, &ls) || ls != 4) return fail(env, false, "annealHidden: state must be a Uint32Array of 4 words");
  if ((int64_t)lx < rows * nH || (int64_t)linc < rows || (at != 0 && ((int64_t)lh < (rows - 1) * hCols + nH || hCols < nH))) {
    return fail(env, true, "annealHidden: an array is shorter than rows × its width");
  }
  anneal_hidden(X, rows, nH, hCols, betaHi, betaLo, (int)at, (double *)ptr, hAug, s);
  return NULL;
}

/* sampleVisible(P, rows, nV, v, coef, coefRow, acc, state) */
static napi_value js_sample_visible(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 8) return fail(env, false, "sampleVisible: expected 8 arguments (P, rows, nV, v, coef, coefRow, acc, state)");
  float *P, *v;
  double *coef, *acc;
  int32_t *coefRow;
  uint32_t *s;
  size_t lp, lv, lc, lr, la, ls;
  int64_t rows, nV;
  if (!get_f32(env, argv[0], &P, &lp, false) || !get_f32(env, argv[3], &v, &lv, false) ||
      !get_typed(env, argv[4], napi_float64_array, (void **)&coef, &lc) || !get_typed(env, argv[5], napi_int32_array, (void **)&coefRow, &lr) ||
      !get_typed(env, argv[6], napi_float64_array, (void **)&acc, &la) || !get_u32(env, argv[7], &s, &ls) || ls != 4) {
    return fail(env, false, "sampleVisible: P, v Float32Array; coef, acc Float64Array; coefRow Int32Array; state Uint32Array(4)");
  }
  if (!get_int(env, argv[1], &rows) || !get_int(env, argv[2], &nV)) return fail(env, false, "sampleVisible: rows and nV must be integers");
  if ((int64_t)lp < rows * nV || (int64_t)lv < rows * nV || (int64_t)lr < rows || (int64_t)la < rows) {
    return fail(env, true, "sampleVisible: an array is shorter than rows × nV");
  }
  for (int64_t r = 0; r < rows; r++) {
    if (coefRow[r] < 0 || (int64_t)(coefRow[r] + 1) * nV > (int64_t)lc) return fail(env, true, "sampleVisible: coefRow points past coef");
  }
  uint32_t st[4] = {s[0], s[1], s[2], s[3]};
  for (int64_t r = 0; r < rows; r++) {
    const float *p = P + r * nV;
    float *vr = v + r * nV;
    const double *w = coef + (int64_t)coefRow[r] * nV;
    double sum = 0;
    for (int64_t i = 0; i < nV; i++) {
      if ((double)xoshiro_next(st) / 4294967296.0 < (double)p[i]) {
        vr[i] = 1.0f;
        sum += w[i];
      } else {
        vr[i] = 0.0f;
      }
    }
    acc[r] = sum;
  }
  memcpy(s, st, sizeof st);
  return NULL;
}

/* bernoulli(P, OUT, state) */
static napi_value js_bernoulli(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 3) return fail(env, false, "bernoulli: expected 3 arguments (P, OUT, state)");
  float *p, *out;
  uint32_t *s;
  size_t lp, lo, ls;
  if (!get_f32(env, argv[0], &p, &lp, false) || !get_f32(env, argv[1], &out, &lo, false)) {
    return fail(env, false, "bernoulli: P and OUT must be Float32Arrays");
  }
  if (!get_u32(env, argv[2], &s, &ls)) return fail(env, false, "bernoulli: state must be a Uint32Array");
  if (ls != 4) return fail(env, true, "bernoulli: state must hold the generator's 4 words");
  if (lp < lo) return fail(env, true, "bernoulli: P is shorter than OUT");
  bernoulli_rows(p, out, lo, s);
  return NULL;
}

static napi_value js_set_num_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t t;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 1 || !get_int(env, argv[0], &t) || t < 1) return fail(env, false, "setNumThreads: expected a positive integer");
  openblas_set_num_threads((int)t);
  return NULL;
}

static napi_value js_get_num_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &out));
  return out;
}

static napi_value js_config(napi_env env, napi_callback_info info) {
  (void)info;
  char text[512];
  snprintf(text, sizeof text, "%s (core %s)", openblas_get_config(), openblas_get_corename());
  napi_value out;
  CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"sgemm", js_sgemm},
      {"gemmBatched", js_gemm_batched},
      {"setNumThreads", js_set_num_threads},
      {"getNumThreads", js_get_num_threads},
      {"config", js_config},
      {"bernoulli", js_bernoulli},
      {"annealHidden", js_anneal_hidden},
      {"sampleVisible", js_sample_visible},
      {"cdStep", js_cd_step},
      {"centeredStep", js_centered_step},
      {"gibbsSteps", js_gibbs_steps},
      {"temperingSteps", js_tempering_steps},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    CHECK(napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f));
    CHECK(napi_set_named_property(env, exports, fns[i].name, f));
  }
  struct {
    const char *name;
    int value;
  } consts[] = {
      {"ACT_LINEAR", ACT_LINEAR}, {"ACT_RELU", ACT_RELU}, {"ACT_RELU6", ACT_RELU6}, {"ACT_SIGMOID", ACT_SIGMOID}, {"ACT_ELU", ACT_ELU},
  };
  for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++) {
    napi_value v;
    CHECK(napi_create_int32(env, consts[i].value, &v));
    CHECK(napi_set_named_property(env, exports, consts[i].name, v));
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
