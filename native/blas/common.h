/*
 * common.h: what the translation units of blas.node share — the vectorised sigmoid epilogue, one
 * GEMM with that epilogue (the call behind the wasm matMul kernels, so every caller gets the same
 * numbers), the xoshiro128** stream of lib/core/random.ts with its Bernoulli draws, and the N-API
 * argument helpers. Everything is static: each .c file gets its own copy of what it uses.
 */
#ifndef RBM_BLAS_COMMON_H
#define RBM_BLAS_COMMON_H
#define UNUSED_OK __attribute__((unused))
#include <cblas.h>
#include <math.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { ACT_LINEAR = 0, ACT_RELU = 1, ACT_RELU6 = 2, ACT_SIGMOID = 3, ACT_ELU = 4 };

/* ------------------------------------------------------------------ element-wise epilogue */

/*
 * exp(x) for the sigmoid / elu epilogue, written so that GCC vectorises the loops that call it
 * (glibc's expf is a scalar call): Cody-Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, a
 * degree-6 Taylor-like polynomial (Cephes expf's coefficients, ~1 ulp over the range), and 2^n put
 * together from the exponent bits. Clamped to [-87.3, 88.7] so that 2^n stays a normal float.
 */
static inline float exp_approx(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  const float shifter = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
  float n = (x * 1.44269504088896341f + shifter) - shifter;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

/* The per-row loops are cloned for AVX-512 / AVX2 and picked at load time (GCC ifunc). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

VECTOR_CLONES
UNUSED_OK static void epilogue_row(float *restrict c, const float *restrict bias, size_t n, int act) {
  if (bias != NULL) {
    for (size_t j = 0; j < n; j++) c[j] += bias[j];
  }
  switch (act) {
    case ACT_RELU:
      for (size_t j = 0; j < n; j++) c[j] = c[j] > 0.0f ? c[j] : 0.0f;
      break;
    case ACT_RELU6:
      for (size_t j = 0; j < n; j++) c[j] = c[j] > 0.0f ? (c[j] < 6.0f ? c[j] : 6.0f) : 0.0f;
      break;
    case ACT_SIGMOID:
      for (size_t j = 0; j < n; j++) c[j] = 1.0f / (1.0f + exp_approx(-c[j]));
      break;
    case ACT_ELU:
      for (size_t j = 0; j < n; j++) c[j] = c[j] > 0.0f ? c[j] : exp_approx(c[j]) - 1.0f;
      break;
    default:
      break;
  }
}

/* ------------------------------------------------------------------ N-API helpers */

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "blas.node: N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

UNUSED_OK static bool get_bool(napi_env env, napi_value v, bool *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_boolean) return napi_get_value_bool(env, v, out) == napi_ok;
  if (t == napi_number) {
    double d;
    if (napi_get_value_double(env, v, &d) != napi_ok) return false;
    *out = d != 0;
    return true;
  }
  return false;
}

UNUSED_OK static bool get_int(napi_env env, napi_value v, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= 0 && d <= 2147483647.0) || d != (double)(int64_t)d) return false;
  *out = (int64_t)d;
  return true;
}

UNUSED_OK static bool get_float(napi_env env, napi_value v, float *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  *out = (float)d;
  return true;
}

/* A typed array's data pointer and element count, if it has the given type. */
UNUSED_OK static bool get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  bool is_ta = false;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return false;
  if (napi_get_typedarray_info(env, v, &type, length, data, &buffer, &offset) != napi_ok) return false;
  return type == want && (*data != NULL || *length == 0);
}

/* A Float32Array's data pointer and length; `nullable` accepts null/undefined (→ NULL, 0). */
UNUSED_OK static bool get_f32(napi_env env, napi_value v, float **data, size_t *length, bool nullable) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (nullable && (t == napi_null || t == napi_undefined)) {
    *data = NULL;
    *length = 0;
    return true;
  }
  return get_typed(env, v, napi_float32_array, (void **)data, length);
}

/* A Uint32Array's data pointer and length. */
UNUSED_OK static bool get_u32(napi_env env, napi_value v, uint32_t **data, size_t *length) {
  return get_typed(env, v, napi_uint32_array, (void **)data, length);
}

/* A Float32Array of at least `want` elements into *data; `nullable` also accepts null/undefined (*data = NULL). */
UNUSED_OK static bool f32_at_least(napi_env env, napi_value value, float **data, int64_t want, bool nullable) {
  size_t length;
  if (!get_f32(env, value, data, &length, nullable)) return false;
  if (*data == NULL) return nullable;
  return (int64_t)length >= want;
}

/* argv[0 .. count) as Float32Arrays of at least want[i] elements each, into out[i]; false at the first that is not. */
UNUSED_OK static bool f32_args(napi_env env, const napi_value *argv, int count, const int64_t *want, float **out) {
  for (int i = 0; i < count; i++) {
    if (!f32_at_least(env, argv[i], &out[i], want[i], false)) return false;
  }
  return true;
}

UNUSED_OK static napi_value fail(napi_env env, bool range, const char *msg) {
  if (range) napi_throw_range_error(env, NULL, msg);
  else napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* ------------------------------------------------------------------ Bernoulli samples */

static inline uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

/* One xoshiro128** output (the generator of lib/core/random.ts). */
static inline uint32_t xoshiro_next(uint32_t *s) {
  const uint32_t r = rotl32(s[1] * 5u, 7) * 9u;
  const uint32_t t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl32(s[3], 11);
  return r;
}

/*
 * out[i] = [u_i < p[i]] with u_i = float(r_i · 2^-32), r_i the xoshiro128** outputs (Blackman &
 * Vigna) from state s[0..3]. The comparison is step(p − u) as the JS path computes it: p − u in
 * float32 is > 0 exactly when p > u (subnormals keep distinct floats apart), and NaN stays NaN.
 */
/* [u < p] for a block of uniforms u: a select, not a branch (these are coin flips, which a branch
 * predictor misses half the time), vectorised. */
VECTOR_CLONES
UNUSED_OK static void bernoulli_compare(const float *restrict p, const float *restrict u, float *restrict out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float d = p[i] - u[i];
    out[i] = d > 0.0f ? 1.0f : (d != d ? d : 0.0f);
  }
}

UNUSED_OK static void bernoulli_rows(const float *restrict p, float *restrict out, size_t n, uint32_t *restrict state) {
  uint32_t s[4] = {state[0], state[1], state[2], state[3]};
  float u[256];
  for (size_t at = 0; at < n; at += 256) {
    const size_t m = n - at < 256 ? n - at : 256;
    for (size_t i = 0; i < m; i++) u[i] = (float)((double)xoshiro_next(s) * 2.3283064365386963e-10);
    bernoulli_compare(p + at, u, out + at, m);
  }
  memcpy(state, s, sizeof s);
}

/*
 * One softmax group: p ← softmax(p) over its K inputs (in place), then out ← one-hot of one draw
 * k = #{j : p_1 + … + p_j ≤ u}, capped at K − 1, with one uniform u (core/units.ts
 * sampleSoftmaxGroup's rule). Returns k.
 */
UNUSED_OK static int64_t softmax_group_draw(float *restrict p, float *restrict out, int64_t K, uint32_t *restrict state) {
  float top = p[0];
  for (int64_t j = 1; j < K; j++) top = p[j] > top ? p[j] : top;
  double sum = 0;
  for (int64_t j = 0; j < K; j++) sum += (double)(p[j] = (float)exp((double)(p[j] - top)));
  for (int64_t j = 0; j < K; j++) p[j] = (float)((double)p[j] / sum);
  const float u = (float)((double)xoshiro_next(state) * 2.3283064365386963e-10);
  float cum = 0;
  int64_t k = 0;
  for (int64_t j = 0; j < K; j++) {
    cum += p[j];
    if (cum <= u) k++;
  }
  if (k > K - 1) k = K - 1;
  for (int64_t j = 0; j < K; j++) out[j] = j == k ? 1.0f : 0.0f;
  return k;
}

/*
 * C = act(op(A)·op(B) + bias) for one row-major product, exactly as gemmBatched computes each
 * batch: cblas_sgemm with alpha 1, beta 0, then the epilogue row by row (bias NULL = none).
 */
UNUSED_OK static void gemm_act(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *c,
                               const float *bias, int act) {
  const blasint lda = ta ? (blasint)m : (blasint)(k > 0 ? k : 1);
  const blasint ldb = tb ? (blasint)(k > 0 ? k : 1) : (blasint)n;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, 1.0f,
              a, lda, b, ldb, 0.0f, c, (blasint)n);
  if (bias != NULL || act != ACT_LINEAR) {
    for (int64_t r = 0; r < m; r++) epilogue_row(c + r * n, bias, (size_t)n, act);
  }
}

/* A parallel-tempering state on plain arrays (tempering.c). */
typedef struct {
  int64_t M, n;
  float *h, *v, *pv, *hProbs, *x, *hNew, *base;
  double *betas, *negE, *accepted, *proposed;
  int32_t *parity;
} tempering_t;
void tempering_run(tempering_t *t, const float *W, const float *b, const float *c, int64_t nV, int64_t nH, int64_t steps,
                   uint32_t *state);
const char *tempering_from_js(napi_env env, napi_value obj, int64_t M, int64_t n, int64_t nV, int64_t nH, tempering_t *t);
napi_value js_tempering_steps(napi_env env, napi_callback_info info);

/* Defined in cd.c, registered in blas.c. */
napi_value js_cd_step(napi_env env, napi_callback_info info);
napi_value js_centered_step(napi_env env, napi_callback_info info);
/* Defined in gibbs.c, registered in blas.c. */
napi_value js_gibbs_steps(napi_env env, napi_callback_info info);

#endif
