/* softmaxlab's one native kernel: the part of a fused training step between its two GEMMs.
 *
 * Input:  Z^T, the logits of one batch in the transposed layout (C rows of m values,
 *         row stride `stride`), and each sample's true class `label` (m,).
 * Output: Z^T is overwritten by (Y_hat - Y)^T = m dL/dZ^T, where
 *             Y_hat[i, k] = exp(z[i, k] - max_j z[i, j]) / sum_l exp(z[i, l] - max_j z[i, j])
 *         and Y is the one-hot of `label`; `loss[i]` receives sample i's cross-entropy
 *             -log Y_hat[i, label[i]] = max_j z[i, j] + log sum_l exp(z[i, l] - max_j z[i, j])
 *                                       - z[i, label[i]]
 *         in this stable form (finite for any finite logits, even where Y_hat underflows).
 *
 * One pass over the C x m block instead of PyTorch's softmax, gather and subtraction
 * (three launches and three passes). Columns are processed in tiles that stay in L1,
 * every loop over a tile vectorises (exp inline, below; log from glibc's libmvec), and
 * large batches split their tiles among threads (PARALLEL_MIN).
 * Built on first use by softmaxlab.native; see there.
 */
#include <stdint.h>
#include <string.h>
#include <math.h>

#ifndef SOFTMAXLAB_NO_MVEC
/* glibc's libmvec has vector variants of log/logf; declaring them "simd" lets the
   compiler call them from vectorised loops (what -ffast-math would arrange, without its
   process-wide side effects). */
#pragma omp declare simd notinbranch
extern double log(double);
#pragma omp declare simd notinbranch
extern float logf(float);
#endif

/* exp(x) for the arguments met here, x = z - max z <= 0 (or NaN), written so that the
 * loops vectorise: x = k ln2 + r with k = round(x / ln2) and |r| <= ln2/2, then
 * exp(x) = 2^k * P(r), P the Taylor polynomial of degree 13 (truncation error
 * |r|^14/14! < 5e-18 relative), 2^k built from its exponent bits. Measured against
 * glibc's exp: within 1 ulp. Below -708, where exp(x) < 4e-308 cannot change a sum that
 * is at least 1, it returns 0; NaN stays NaN. */
static inline double exp_nonpositive(double x)
{
    const double shift = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    double xc = x < -708.0 ? -708.0 : x;
    double t = xc * 1.4426950408889634 + shift;
    double k = t - shift;
    double r = (xc - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - 0x4338000000000000LL + 1023) << 52; /* k + bias, as an exponent */
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    double y = x < -708.0 ? 0.0 : p * scale;
    return x != x ? x : y;
}

/* The same for float: degree 7 (truncation error < 6e-9 relative), 0 below -87. */
static inline float expf_nonpositive(float x)
{
    const float shift = 12582912.0f; /* 1.5 * 2^23 */
    float xc = x < -87.0f ? -87.0f : x;
    float t = xc * 1.44269504f + shift;
    float k = t - shift;
    float r = (xc - k * 0.693145752f) - k * 1.42860677e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - 0x4B400000 + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = x < -87.0f ? 0.0f : p * scale;
    return x != x ? x : y;
}

#define TILE 256
/* Built with -fopenmp, tiles are shared among the threads of the OpenMP runtime PyTorch
 * already loaded (same libgomp.so.1, so torch.set_num_threads applies and no second pool
 * competes for the cores) from this many columns on; each column is computed the same
 * way whatever thread takes it, so the results do not depend on the thread count. */
#define PARALLEL_MIN 2048

#define SOFTMAX_GRAD(NAME, T, EXP, LOG)                                                \
void NAME(T *z, int64_t stride, int64_t c, int64_t m, const int64_t *label,           \
          T *loss)                                                                     \
{                                                                                      \
    _Pragma("omp parallel for schedule(static) if (m >= PARALLEL_MIN)")                \
    for (int64_t i0 = 0; i0 < m; i0 += TILE) {                                         \
        T mx[TILE], sum[TILE], z_true[TILE];                                           \
        const int64_t w = m - i0 < TILE ? m - i0 : TILE;                               \
        T *zt = z + i0;                                                                \
        /* the largest logit of each sample */                                         \
        _Pragma("omp simd")                                                            \
        for (int64_t i = 0; i < w; i++) mx[i] = zt[i];                                 \
        for (int64_t k = 1; k < c; k++) {                                              \
            const T *row = zt + k * stride;                                            \
            _Pragma("omp simd")                                                        \
            for (int64_t i = 0; i < w; i++) mx[i] = row[i] > mx[i] ? row[i] : mx[i];   \
        }                                                                              \
        for (int64_t i = 0; i < w; i++) z_true[i] = zt[label[i0 + i] * stride + i];    \
        /* exp(z - max) and its sum over the classes */                                \
        _Pragma("omp simd")                                                            \
        for (int64_t i = 0; i < w; i++) sum[i] = 0;                                    \
        for (int64_t k = 0; k < c; k++) {                                              \
            T *row = zt + k * stride;                                                  \
            _Pragma("omp simd")                                                        \
            for (int64_t i = 0; i < w; i++) {                                          \
                row[i] = EXP(row[i] - mx[i]);                                          \
                sum[i] += row[i];                                                      \
            }                                                                          \
        }                                                                              \
        _Pragma("omp simd")                                                            \
        for (int64_t i = 0; i < w; i++) {                                              \
            loss[i0 + i] = mx[i] + LOG(sum[i]) - z_true[i];                            \
            sum[i] = 1 / sum[i];                                                       \
        }                                                                              \
        for (int64_t k = 0; k < c; k++) {                                              \
            T *row = zt + k * stride;                                                  \
            _Pragma("omp simd")                                                        \
            for (int64_t i = 0; i < w; i++) row[i] *= sum[i];                          \
        }                                                                              \
        /* subtract the one-hot targets */                                             \
        for (int64_t i = 0; i < w; i++) zt[label[i0 + i] * stride + i] -= 1;           \
    }                                                                                  \
}

SOFTMAX_GRAD(softmax_grad_f64, double, exp_nonpositive, log)
SOFTMAX_GRAD(softmax_grad_f32, float, expf_nonpositive, logf)

/* ------------------------------------------------------------------------------------
 * A whole epoch of the fast path in one call, when the BLAS PyTorch uses is at hand
 * (`gemm`: its Fortran-interface dgemm/sgemm, passed in by softmaxlab.native). For each
 * in-order batch j of m rows X_j = [X | 1][s:s+m]  (m, N+1, row-major, shared with
 * PyTorch):
 *     Z_j^T  = [W^T | b] X_j^T                    (C, m)      one GEMM
 *     Z_j^T <- (Y_hat - Y)^T, loss_j             softmax_grad above
 *     [W^T | b] -= (lr / m) (Y_hat - Y)^T X_j      (C, N+1)    one GEMM, accumulated
 * the same mathematics and the same BLAS routine as the PyTorch loop, without a return
 * to Python per step. Row-major matrices are handed to the column-major BLAS as their
 * transposes.
 * ------------------------------------------------------------------------------------ */
typedef void (*dgemm_fn)(const char *, const char *, const int *, const int *, const int *,
                         const double *, const double *, const int *, const double *,
                         const int *, const double *, double *, const int *);
typedef void (*sgemm_fn)(const char *, const char *, const int *, const int *, const int *,
                         const float *, const float *, const int *, const float *,
                         const int *, const float *, float *, const int *);

#define EPOCH(NAME, T, GEMM_T, KERNEL)                                                 \
void NAME(GEMM_T gemm, T *wa_t, int64_t c, int64_t n_cols, const T *xa, int64_t n,    \
          int64_t batch, T *z_store, const int64_t *labels, T *row_loss, double lr)    \
{                                                                                      \
    const int ci = (int)c, k = (int)n_cols, ldz = (int)batch;                          \
    const T one = 1, zero = 0;                                                         \
    for (int64_t s = 0, j = 0; s < n; s += batch, j++) {                               \
        const int m = (int)(n - s < batch ? n - s : batch);                            \
        const T *xb = xa + s * n_cols;                                                 \
        T *z = z_store + j * c * batch;                                                \
        const T step = (T)(-lr / m);                                                   \
        /* Z^T (C, m) row-major = (m, C) column-major = X_j (m, N+1) [W^T|b]^T */       \
        gemm("T", "N", &m, &ci, &k, &one, xb, &k, wa_t, &k, &zero, z, &ldz);           \
        KERNEL(z, batch, c, m, labels + j * batch, row_loss + j * batch);              \
        /* [W^T|b]^T (N+1, C) column-major += step * X_j^T (N+1, m) G (m, C) */        \
        gemm("N", "N", &k, &ci, &m, &step, xb, &k, z, &ldz, &one, wa_t, &k);           \
    }                                                                                  \
}

EPOCH(epoch_f64, double, dgemm_fn, softmax_grad_f64)
EPOCH(epoch_f32, float, sgemm_fn, softmax_grad_f32)

/* The GEMM floor of EPOCH, for the benchmarks: only its two GEMMs per batch, the second
 * into a scratch (C, N+1) instead of the parameters, no softmax. */
#define GEMM_FLOOR(NAME, T, GEMM_T)                                                    \
void NAME(GEMM_T gemm, const T *wa_t, int64_t c, int64_t n_cols, const T *xa,         \
          int64_t n, int64_t batch, T *z_store, T *scratch)                            \
{                                                                                      \
    const int ci = (int)c, k = (int)n_cols, ldz = (int)batch;                          \
    const T one = 1, zero = 0;                                                         \
    for (int64_t s = 0, j = 0; s < n; s += batch, j++) {                               \
        const int m = (int)(n - s < batch ? n - s : batch);                            \
        const T *xb = xa + s * n_cols;                                                 \
        T *z = z_store + j * c * batch;                                                \
        gemm("T", "N", &m, &ci, &k, &one, xb, &k, wa_t, &k, &zero, z, &ldz);           \
        gemm("N", "N", &k, &ci, &m, &one, xb, &k, z, &ldz, &zero, scratch, &k);        \
    }                                                                                  \
}

GEMM_FLOOR(gemm_floor_f64, double, dgemm_fn)
GEMM_FLOOR(gemm_floor_f32, float, sgemm_fn)
