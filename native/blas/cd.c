/*
 * cd.c: one whole CD-k / PCD-k update of a binary RBM in a single native call (lib/train/cd-native.ts).
 *
 * The tensor path of lib/train/cd.ts (cdUpdate) runs, per mini-batch, about 25 tfjs kernels: four
 * fused matMuls, the stacked weight-gradient product, two column sums, Bernoulli draws, concats and
 * the element-wise momentum / decay / update passes, each allocating its output on the wasm heap.
 * Here the same arithmetic runs on preallocated buffers, in the same order and in float32, with the
 * same OpenBLAS calls (gemm_act) and the same generator: the parameters after an update are the
 * numbers the tensor path computes with native BLAS on, bit for bit (test/train/cd-native.test.ts).
 *
 * cdStep(v, W, b, c, dW, db, dc, chains, scratch, state, dims, hyper) -> { err, flips }
 *   err      Σ (v − ṽ)² over the batch's Bernoulli units (CD), 0 (PCD)
 *   flips    CD with a label group: the rows whose reconstructed label differs from the batch's, else 0
 *   v        Float32Array [B, nV]        the mini-batch
 *   W        Float32Array [nV, nH]       updated in place (as are b [nV], c [nH], dW, db, dc)
 *   chains   Float32Array [nNeg, nH] or null: PCD's persistent hidden states (advanced in place)
 *   scratch  Float32Array of at least cdScratchLength(dims) elements (see below)
 *   state    Uint32Array(4)              the xoshiro128** state of lib/core/random.ts (advanced)
 *   dims     Int32Array [B, nV, nH, nNeg, k, persistent, sampleVisible, K]: with K > 0 the last K
 *            visible units are one softmax group (a DBN's label units, lib/dbn/joint.ts): in the
 *            negative phase they are drawn one-of-K after the Bernoulli units of every row, as
 *            jointNegativePhase does (its softmax rounds differently: same distribution, not same bits)
 *   hyper    Float64Array [lr, momentum, weightDecay]
 *
 * centeredStep(v, W, b, c, dW, db, dc, mu, lambda, chains, scratch, state, dims, hyper) -> undefined
 *   one centered PCD-k update (Melchior, Fischer & Wiskott 2016; lib/train/centered.ts's
 *   centeredUpdate without tempering) in plain coordinates: the centered gradient
 *   [v; ṽ] − μ)ᵀ [ε(p(h|v) − λ)/B; −ε(p(h|ṽ) − λ)/nNeg], decay and momentum, the step mapped back by
 *   b −= ΔW λ, c −= μᵀΔW, and the offsets moved as sliding averages (factor ν) of the batch means of
 *   v and p(h|v). W, b, c, dW, db, dc, mu [nV], lambda [nH] and chains [nNeg, nH] in place; scratch
 *   of centeredScratchLength(dims); dims [B, nV, nH, nNeg, k, M]; hyper [lr, momentum, weightDecay, ν];
 *   tempering: with M > 0 a tempering state of M temperatures × nNeg chains (tempering.c), whose
 *   k steps replace the chains' (chains is then null), else undefined.
 */
#include "common.h"

/* The scratch layout: [v; ṽ] (R·nV), [ε p(h|v)/B; −ε p(h|ṽ)/nNeg] (R·nH), p(v|h) (nNeg·nV),
 * CD's hidden states (nNeg·nH), the weight step (nV·nH), the row weights and ones (R each), and the
 * two bias steps (nV, nH); R = B + nNeg. */
static int64_t scratch_length(int64_t B, int64_t nV, int64_t nH, int64_t nNeg) {
  const int64_t R = B + nNeg;
  return R * nV + R * nH + nNeg * nV + nNeg * nH + nV * nH + 2 * R + nV + nH;
}

VECTOR_CLONES
static void scale_rows(float *restrict x, size_t n, float s) {
  for (size_t i = 0; i < n; i++) x[i] = x[i] * s;
}

/*
 * θ ← θ + Δθ with Δθ ← μ Δθ + (step − λε θ): the order of the tensor path's kernels (sub, mul, add),
 * one rounding per kernel, no fused multiply-add (ISO C mode: -ffp-contract=off).
 */
VECTOR_CLONES
static void apply_step(float *restrict theta, float *restrict delta, const float *restrict step, size_t n, float decay, bool useDecay,
                       float momentum, bool useMomentum) {
  for (size_t i = 0; i < n; i++) {
    float s = step[i];
    if (useDecay) {
      const float t = theta[i] * decay;
      s = s - t;
    }
    if (useMomentum) {
      const float m = delta[i] * momentum;
      s = m + s;
    }
    delta[i] = s;
    theta[i] = theta[i] + s;
  }
}

static void cd_step(const float *v, float *W, float *b, float *c, float *dW, float *db, float *dc, float *chains, float *scratch,
                    uint32_t *state, int64_t B, int64_t nV, int64_t nH, int64_t nNeg, int64_t k, bool persistent, bool sampleVisible,
                    int64_t K, double lr, double momentum, double weightDecay, double *err, double *flips) {
  const int64_t R = B + nNeg;
  float *stackV = scratch;
  float *stackH = stackV + R * nV;
  float *pv = stackH + R * nH;
  float *hsCD = pv + nNeg * nV;
  float *stepW = hsCD + nNeg * nH;
  float *rowW = stepW + nV * nH;
  float *ones = rowW + R;
  float *stepB = ones + R;
  float *stepC = stepB + nV;
  float *posH = stackH;           /* p(h|v), later ε p(h|v)/B */
  float *negV = stackV + B * nV;  /* ṽ */
  float *negH = stackH + B * nH;  /* p(h|ṽ), later −ε p(h|ṽ)/nNeg */
  float *hs = persistent ? chains : hsCD;

  memcpy(stackV, v, sizeof(float) * (size_t)(B * nV));
  /* Positive phase. */
  gemm_act(false, false, B, nH, nV, v, W, posH, c, ACT_SIGMOID);
  if (!persistent) bernoulli_rows(posH, hs, (size_t)(nNeg * nH), state);
  /* Negative phase: k block-Gibbs steps. */
  const int64_t nX = nV - K;
  for (int64_t step = 0; step < k; step++) {
    if (K == 0) {
      gemm_act(false, true, nNeg, nV, nH, hs, W, sampleVisible ? pv : negV, b, ACT_SIGMOID);
      if (sampleVisible) bernoulli_rows(pv, negV, (size_t)(nNeg * nV), state);
    } else {
      /* The inputs hWᵀ + b; σ and the draws of the Bernoulli units row by row, then each row's label. */
      gemm_act(false, true, nNeg, nV, nH, hs, W, pv, b, ACT_LINEAR);
      for (int64_t r = 0; r < nNeg; r++) {
        epilogue_row(pv + r * nV, NULL, (size_t)nX, ACT_SIGMOID);
        if (sampleVisible) bernoulli_rows(pv + r * nV, negV + r * nV, (size_t)nX, state);
        else memcpy(negV + r * nV, pv + r * nV, sizeof(float) * (size_t)nX);
      }
      for (int64_t r = 0; r < nNeg; r++) softmax_group_draw(pv + r * nV + nX, negV + r * nV + nX, K, state);
    }
    gemm_act(false, false, nNeg, nH, nV, negV, W, negH, c, ACT_SIGMOID);
    if (persistent || step < k - 1) bernoulli_rows(negH, hs, (size_t)(nNeg * nH), state);
  }
  *err = 0;
  *flips = 0;
  if (!persistent) {
    double e = 0, f = 0;
    for (int64_t r = 0; r < B; r++) {
      for (int64_t i = r * nV; i < r * nV + nX; i++) {
        const double d = (double)v[i] - (double)negV[i];
        e += d * d;
      }
      /* Both label parts are one-hot: they differ exactly when some entry differs. */
      bool differ = false;
      for (int64_t j = r * nV + nX; j < (r + 1) * nV; j++) differ = differ || v[j] != negV[j];
      f += differ ? 1 : 0;
    }
    *err = e;
    *flips = f;
  }
  /* ε(⟨vhᵀ⟩_data − ⟨vhᵀ⟩_model) as one product of the stacked phases, ε folded into the H factor. */
  const float fPos = (float)(lr / (double)B);
  const float fNeg = (float)(-lr / (double)nNeg);
  scale_rows(posH, (size_t)(B * nH), fPos);
  scale_rows(negH, (size_t)(nNeg * nH), fNeg);
  gemm_act(true, false, nV, nH, R, stackV, stackH, stepW, NULL, ACT_LINEAR);
  /* The bias steps: weighted column sums of the same stacks, as [1, R]·[R, n] products. */
  for (int64_t r = 0; r < R; r++) {
    rowW[r] = r < B ? fPos : fNeg;
    ones[r] = 1.0f;
  }
  gemm_act(false, false, 1, nV, R, rowW, stackV, stepB, NULL, ACT_LINEAR);
  gemm_act(false, false, 1, nH, R, ones, stackH, stepC, NULL, ACT_LINEAR);
  const bool useMomentum = momentum > 0;
  const float mu = (float)momentum;
  apply_step(W, dW, stepW, (size_t)(nV * nH), (float)(lr * weightDecay), weightDecay > 0, mu, useMomentum);
  apply_step(b, db, stepB, (size_t)nV, 0.0f, false, mu, useMomentum);
  apply_step(c, dc, stepC, (size_t)nH, 0.0f, false, mu, useMomentum);
}

/* The centered step's scratch: [v; ṽ] and [v; ṽ] − μ (R·nV each), [p(h|v); p(h|ṽ)] and its centered,
 * weighted copy (R·nH each), p(v|h) (nNeg·nV), the weight step (nV·nH), row weights and ones (R
 * each), the bias steps and shifts (2·nV + 2·nH) and the batch sums for the offsets (nV + nH). */
static int64_t centered_scratch_length(int64_t B, int64_t nV, int64_t nH, int64_t nNeg) {
  const int64_t R = B + nNeg;
  return 2 * R * nV + 2 * R * nH + nNeg * nV + nV * nH + 2 * R + 3 * nV + 3 * nH;
}

static void centered_step(const float *v, float *W, float *b, float *c, float *dW, float *db, float *dc, float *mu, float *lambda,
                          float *chains, tempering_t *pt, float *scratch, uint32_t *state, int64_t B, int64_t nV, int64_t nH, int64_t nNeg,
                          int64_t k, double lr, double momentum, double weightDecay, double nu) {
  const int64_t R = B + nNeg;
  float *stackV = scratch;
  float *dv = stackV + R * nV;
  float *stackH = dv + R * nV;
  float *hw = stackH + R * nH;
  float *pv = hw + R * nH;
  float *stepW = pv + nNeg * nV;
  float *rowW = stepW + nV * nH;
  float *ones = rowW + R;
  float *stepB = ones + R;
  float *stepC = stepB + nV;
  float *bShift = stepC + nH;
  float *cShift = bShift + nV;
  float *vSum = cShift + nH;
  float *hSum = vSum + nV;
  float *posH = stackH;
  float *negV = stackV + B * nV;
  float *negH = stackH + B * nH;

  /* Negative phase first (it alone draws): k steps of the persistent chains h → v → h, or k steps
   * of parallel tempering whose β = 1 rows (the first nNeg) give ṽ and p(h|ṽ). */
  if (pt != NULL) {
    tempering_run(pt, W, b, c, nV, nH, k, state);
    memcpy(negV, pt->v, sizeof(float) * (size_t)(nNeg * nV));
    memcpy(negH, pt->hProbs, sizeof(float) * (size_t)(nNeg * nH));
  }
  for (int64_t step = 0; step < k && pt == NULL; step++) {
    gemm_act(false, true, nNeg, nV, nH, chains, W, pv, b, ACT_SIGMOID);
    bernoulli_rows(pv, negV, (size_t)(nNeg * nV), state);
    gemm_act(false, false, nNeg, nH, nV, negV, W, negH, c, ACT_SIGMOID);
    bernoulli_rows(negH, chains, (size_t)(nNeg * nH), state);
  }
  memcpy(stackV, v, sizeof(float) * (size_t)(B * nV));
  gemm_act(false, false, B, nH, nV, v, W, posH, c, ACT_SIGMOID);
  const float fPos = (float)(lr / (double)B);
  const float fNeg = (float)(-lr / (double)nNeg);
  for (int64_t r = 0; r < R; r++) {
    for (int64_t i = 0; i < nV; i++) dv[r * nV + i] = stackV[r * nV + i] - mu[i];
    const float w = r < B ? fPos : fNeg;
    for (int64_t j = 0; j < nH; j++) {
      const float d = stackH[r * nH + j] - lambda[j];
      hw[r * nH + j] = d * w;
    }
    rowW[r] = w;
    ones[r] = 1.0f;
  }
  gemm_act(true, false, nV, nH, R, dv, hw, stepW, NULL, ACT_LINEAR);
  gemm_act(false, false, 1, nV, R, rowW, stackV, stepB, NULL, ACT_LINEAR);
  gemm_act(false, false, 1, nH, R, rowW, stackH, stepC, NULL, ACT_LINEAR);
  const bool useMomentum = momentum > 0;
  const float m = (float)momentum;
  const float decay = (float)(lr * weightDecay);
  /* ΔW (decay, momentum) first: the shifts read the new ΔW before W moves. */
  for (int64_t i = 0; i < nV * nH; i++) {
    float s = stepW[i];
    if (weightDecay > 0) {
      const float t = W[i] * decay;
      s = s - t;
    }
    if (useMomentum) {
      const float q = dW[i] * m;
      s = q + s;
    }
    dW[i] = s;
  }
  for (int64_t i = 0; i < nV; i++) db[i] = useMomentum ? db[i] * m + stepB[i] : stepB[i];
  for (int64_t j = 0; j < nH; j++) dc[j] = useMomentum ? dc[j] * m + stepC[j] : stepC[j];
  gemm_act(false, false, nV, 1, nH, dW, lambda, bShift, NULL, ACT_LINEAR);
  gemm_act(false, false, 1, nH, nV, mu, dW, cShift, NULL, ACT_LINEAR);
  if (nu > 0) {
    gemm_act(false, false, 1, nV, B, ones, v, vSum, NULL, ACT_LINEAR);
    gemm_act(false, false, 1, nH, B, ones, posH, hSum, NULL, ACT_LINEAR);
    const float keep = (float)(1 - nu);
    const float take = (float)(nu / (double)B);
    for (int64_t i = 0; i < nV; i++) {
      const float a = mu[i] * keep;
      const float t = vSum[i] * take;
      mu[i] = a + t;
    }
    for (int64_t j = 0; j < nH; j++) {
      const float a = lambda[j] * keep;
      const float t = hSum[j] * take;
      lambda[j] = a + t;
    }
  }
  for (int64_t i = 0; i < nV * nH; i++) W[i] = W[i] + dW[i];
  for (int64_t i = 0; i < nV; i++) {
    const float d = db[i] - bShift[i];
    b[i] = b[i] + d;
  }
  for (int64_t j = 0; j < nH; j++) {
    const float d = dc[j] - cShift[j];
    c[j] = c[j] + d;
  }
}

napi_value js_cd_step(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 12) return fail(env, false, "cdStep: expected 12 arguments (v, W, b, c, dW, db, dc, chains, scratch, state, dims, hyper)");
  int32_t *dims;
  double *hyper;
  uint32_t *state;
  size_t ld, lh, ls;
  if (!get_typed(env, argv[10], napi_int32_array, (void **)&dims, &ld) || ld != 8) {
    return fail(env, false, "cdStep: dims must be an Int32Array [B, nV, nH, nNeg, k, persistent, sampleVisible, K]");
  }
  if (!get_typed(env, argv[11], napi_float64_array, (void **)&hyper, &lh) || lh != 3) {
    return fail(env, false, "cdStep: hyper must be a Float64Array [lr, momentum, weightDecay]");
  }
  if (!get_u32(env, argv[9], &state, &ls) || ls != 4) return fail(env, false, "cdStep: state must be a Uint32Array of the generator's 4 words");
  const int64_t B = dims[0], nV = dims[1], nH = dims[2], nNeg = dims[3], k = dims[4];
  const bool persistent = dims[5] != 0, sampleVisible = dims[6] != 0;
  const int64_t K = dims[7];
  if (B < 1 || nV < 1 || nH < 1 || nNeg < 1 || k < 1) return fail(env, true, "cdStep: B, nV, nH, nNeg and k must be ≥ 1");
  if (K < 0 || K == 1 || K >= nV) return fail(env, true, "cdStep: the label group K must be 0 (none) or 2 … nV − 1");
  if (!persistent && nNeg != B) return fail(env, true, "cdStep: CD restarts its nNeg chains from the batch, so nNeg must equal B");
  float *a[7], *chains, *scratch;
  const int64_t want[7] = {B * nV, nV * nH, nV, nH, nV * nH, nV, nH};
  if (!f32_args(env, argv, 7, want, a) || !f32_at_least(env, argv[7], &chains, nNeg * nH, true) ||
      !f32_at_least(env, argv[8], &scratch, scratch_length(B, nV, nH, nNeg), false)) {
    return fail(env, true, "cdStep: v, W, b, c, dW, db, dc, scratch must be Float32Arrays of their sizes (chains too, or null)");
  }
  if (persistent && chains == NULL) return fail(env, false, "cdStep: persistent CD needs the chains");
  double err = 0, flips = 0;
  cd_step(a[0], a[1], a[2], a[3], a[4], a[5], a[6], chains, scratch, state, B, nV, nH, nNeg, k, persistent, sampleVisible, K, hyper[0], hyper[1],
          hyper[2], &err, &flips);
  napi_value out, e, f;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_create_double(env, err, &e));
  CHECK(napi_create_double(env, flips, &f));
  CHECK(napi_set_named_property(env, out, "err", e));
  CHECK(napi_set_named_property(env, out, "flips", f));
  return out;
}

napi_value js_centered_step(napi_env env, napi_callback_info info) {
  size_t argc = 15;
  napi_value argv[15];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 15) {
    return fail(env, false,
                "centeredStep: expected 15 arguments (v, W, b, c, dW, db, dc, mu, lambda, chains, scratch, state, dims, hyper, tempering)");
  }
  int32_t *dims;
  double *hyper;
  uint32_t *state;
  size_t ld, lh, ls;
  if (!get_typed(env, argv[12], napi_int32_array, (void **)&dims, &ld) || ld != 6) {
    return fail(env, false, "centeredStep: dims must be an Int32Array [B, nV, nH, nNeg, k, M] (M = 0: no tempering)");
  }
  if (!get_typed(env, argv[13], napi_float64_array, (void **)&hyper, &lh) || lh != 4) {
    return fail(env, false, "centeredStep: hyper must be a Float64Array [lr, momentum, weightDecay, slidingFactor]");
  }
  if (!get_u32(env, argv[11], &state, &ls) || ls != 4) return fail(env, false, "centeredStep: state must be a Uint32Array of 4 words");
  const int64_t B = dims[0], nV = dims[1], nH = dims[2], nNeg = dims[3], k = dims[4];
  if (B < 1 || nV < 1 || nH < 1 || nNeg < 1 || k < 1) return fail(env, true, "centeredStep: B, nV, nH, nNeg and k must be ≥ 1");
  const int64_t M = dims[5];
  float *a[9], *chains, *scratch;
  const int64_t want[9] = {B * nV, nV * nH, nV, nH, nV * nH, nV, nH, nV, nH};
  if (!f32_args(env, argv, 9, want, a) || !f32_at_least(env, argv[9], &chains, nNeg * nH, M > 0) ||
      !f32_at_least(env, argv[10], &scratch, centered_scratch_length(B, nV, nH, nNeg), false)) {
    return fail(env, true,
                "centeredStep: v, W, b, c, dW, db, dc, mu, lambda, chains (null with tempering), scratch must be Float32Arrays of their sizes");
  }
  tempering_t t;
  if (M > 0) {
    const char *why = tempering_from_js(env, argv[14], M, nNeg, nV, nH, &t);
    if (why != NULL) return fail(env, true, why);
  }
  centered_step(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], chains, M > 0 ? &t : NULL, scratch, state, B, nV, nH, nNeg, k,
                hyper[0], hyper[1], hyper[2], hyper[3]);
  return NULL;
}
