/*
 * gibbs.c: runs of block-Gibbs steps of a binary RBM in one native call, for lib/core/sampling.ts's
 * gibbsChain and lib/dbn/generate.ts's dreams (a DBN's top RBM, whose last K visible units are the
 * softmax group of its labels).
 *
 * gibbsSteps(v, vProbs, hProbs, h, W, b, c, dims, state)
 *   v        Float32Array [B, nV]   the chains' visible states, advanced in place
 *   vProbs   Float32Array [B, nV]   the last step's visible probabilities (written)
 *   hProbs, h Float32Array [B, nH]  p(h|v) and h of the last step (written)
 *   W [nV, nH], b [nV], c [nH]      the RBM
 *   dims     Int32Array [B, nV, nH, steps, K, groupClamped]
 *   state    Uint32Array(4)         the xoshiro128** state of lib/core/random.ts (advanced)
 *
 * Each step draws h ~ σ(vW + c); then, when K > 0, the group either kept (groupClamped: its entries
 * of v and vProbs hold the clamped one-hot rows) or drawn one-of-K from the softmax of its inputs with
 * one uniform per row; then the other nV − K units ~ σ(hWᵀ + b). With K = 0 that is the tensor
 * path's gibbsVHV with native BLAS on — the same OpenBLAS products, σ and generator, so the same
 * chain bit for bit. With K > 0 the draws come in the order of core/sampling.ts's clampedGibbsStep,
 * whose σ and softmax are tfjs kernels rounding differently from these: the chains agree in
 * distribution (test/compute/fused.test.ts checks them against the exact conditional of an
 * enumerable model).
 */
#include "common.h"

static void gibbs_steps(float *v, float *vProbs, float *hProbs, float *h, const float *W, const float *b, const float *c, int64_t B,
                        int64_t nV, int64_t nH, int64_t steps, int64_t K, bool clamped, uint32_t *state) {
  const int64_t nX = nV - K;
  for (int64_t s = 0; s < steps; s++) {
    gemm_act(false, false, B, nH, nV, v, W, hProbs, c, ACT_SIGMOID);
    bernoulli_rows(hProbs, h, (size_t)(B * nH), state);
    gemm_act(false, true, B, nV, nH, h, W, vProbs, b, ACT_LINEAR); /* the inputs hWᵀ + b */
    for (int64_t r = 0; r < B && K > 0; r++) {
      float *vr = v + r * nV + nX;
      float *pr = vProbs + r * nV + nX;
      if (clamped) {
        memcpy(pr, vr, sizeof(float) * (size_t)K);
        continue;
      }
      softmax_group_draw(pr, vr, K, state);
    }
    /* The Bernoulli units, row by row: with K = 0 the rows are contiguous and this is one draw of B·nV. */
    for (int64_t r = 0; r < B; r++) {
      epilogue_row(vProbs + r * nV, NULL, (size_t)nX, ACT_SIGMOID);
      bernoulli_rows(vProbs + r * nV, v + r * nV, (size_t)nX, state);
    }
  }
}

napi_value js_gibbs_steps(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 9) return fail(env, false, "gibbsSteps: expected 9 arguments (v, vProbs, hProbs, h, W, b, c, dims, state)");
  int32_t *dims;
  uint32_t *state;
  size_t ld, ls;
  if (!get_typed(env, argv[7], napi_int32_array, (void **)&dims, &ld) || ld != 6) {
    return fail(env, false, "gibbsSteps: dims must be an Int32Array [B, nV, nH, steps, K, groupClamped]");
  }
  if (!get_u32(env, argv[8], &state, &ls) || ls != 4) return fail(env, false, "gibbsSteps: state must be a Uint32Array of 4 words");
  const int64_t B = dims[0], nV = dims[1], nH = dims[2], steps = dims[3], K = dims[4];
  if (B < 1 || nV < 1 || nH < 1 || steps < 0 || K < 0 || K > nV) {
    return fail(env, true, "gibbsSteps: B, nV, nH must be ≥ 1, steps ≥ 0 and 0 ≤ K ≤ nV");
  }
  float *a[7];
  const int64_t want[7] = {B * nV, B * nV, B * nH, B * nH, nV * nH, nV, nH};
  if (!f32_args(env, argv, 7, want, a)) return fail(env, true, "gibbsSteps: v, vProbs, hProbs, h, W, b, c must be Float32Arrays of their sizes");
  gibbs_steps(a[0], a[1], a[2], a[3], a[4], a[5], a[6], B, nV, nH, steps, K, dims[5] != 0, state);
  return NULL;
}
