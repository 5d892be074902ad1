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
 * cdStep(v, W, b, c, dW, db, dc, chains, scratch, state, dims, hyper) -> Σ (v − ṽ)² (CD) or 0 (PCD)
 *   v        Float32Array [B, nV]        the mini-batch
 *   W        Float32Array [nV, nH]       updated in place (as are b [nV], c [nH], dW, db, dc)
 *   chains   Float32Array [nNeg, nH] or null: PCD's persistent hidden states (advanced in place)
 *   scratch  Float32Array of at least cdScratchLength(dims) elements (see below)
 *   state    Uint32Array(4)              the xoshiro128** state of lib/core/random.ts (advanced)
 *   dims     Int32Array [B, nV, nH, nNeg, k, persistent, sampleVisible]
 *   hyper    Float64Array [lr, momentum, weightDecay]
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
                    double lr, double momentum, double weightDecay, double *err) {
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
  for (int64_t step = 0; step < k; step++) {
    gemm_act(false, true, nNeg, nV, nH, hs, W, sampleVisible ? pv : negV, b, ACT_SIGMOID);
    if (sampleVisible) bernoulli_rows(pv, negV, (size_t)(nNeg * nV), state);
    gemm_act(false, false, nNeg, nH, nV, negV, W, negH, c, ACT_SIGMOID);
    if (persistent || step < k - 1) bernoulli_rows(negH, hs, (size_t)(nNeg * nH), state);
  }
  if (!persistent) {
    double e = 0;
    for (int64_t i = 0; i < B * nV; i++) {
      const double d = (double)v[i] - (double)negV[i];
      e += d * d;
    }
    *err = e;
  } else {
    *err = 0;
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

static bool f32_at_least(napi_env env, napi_value value, float **data, int64_t want, bool nullable) {
  size_t length;
  if (!get_f32(env, value, data, &length, nullable)) return false;
  if (*data == NULL) return nullable;
  return (int64_t)length >= want;
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
  if (!get_typed(env, argv[10], napi_int32_array, (void **)&dims, &ld) || ld != 7) return fail(env, false, "cdStep: dims must be an Int32Array of 7");
  if (!get_typed(env, argv[11], napi_float64_array, (void **)&hyper, &lh) || lh != 3) {
    return fail(env, false, "cdStep: hyper must be a Float64Array [lr, momentum, weightDecay]");
  }
  if (!get_u32(env, argv[9], &state, &ls) || ls != 4) return fail(env, false, "cdStep: state must be a Uint32Array of the generator's 4 words");
  const int64_t B = dims[0], nV = dims[1], nH = dims[2], nNeg = dims[3], k = dims[4];
  const bool persistent = dims[5] != 0, sampleVisible = dims[6] != 0;
  if (B < 1 || nV < 1 || nH < 1 || nNeg < 1 || k < 1) return fail(env, true, "cdStep: B, nV, nH, nNeg and k must be ≥ 1");
  if (!persistent && nNeg != B) return fail(env, true, "cdStep: CD restarts its nNeg chains from the batch, so nNeg must equal B");
  float *v, *W, *b, *c, *dW, *db, *dc, *chains, *scratch;
  if (!f32_at_least(env, argv[0], &v, B * nV, false) || !f32_at_least(env, argv[1], &W, nV * nH, false) ||
      !f32_at_least(env, argv[2], &b, nV, false) || !f32_at_least(env, argv[3], &c, nH, false) ||
      !f32_at_least(env, argv[4], &dW, nV * nH, false) || !f32_at_least(env, argv[5], &db, nV, false) ||
      !f32_at_least(env, argv[6], &dc, nH, false) || !f32_at_least(env, argv[7], &chains, nNeg * nH, true) ||
      !f32_at_least(env, argv[8], &scratch, scratch_length(B, nV, nH, nNeg), false)) {
    return fail(env, true, "cdStep: v, W, b, c, dW, db, dc, scratch must be Float32Arrays of their sizes (chains too, or null)");
  }
  if (persistent && chains == NULL) return fail(env, false, "cdStep: persistent CD needs the chains");
  double err = 0;
  cd_step(v, W, b, c, dW, db, dc, chains, scratch, state, B, nV, nH, nNeg, k, persistent, sampleVisible, hyper[0], hyper[1], hyper[2],
          &err);
  napi_value out;
  CHECK(napi_create_double(env, err, &out));
  return out;
}
