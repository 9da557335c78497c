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
 * (three launches and three passes). Columns are processed in tiles that stay in L1; the
 * loops over a tile vectorise, and exp/expf call glibc's vector variants (libmvec), which
 * is what -ffast-math would arrange, without its process-wide side effects.
 * Built on first use by softmaxlab.native; see there.
 */
#include <stdint.h>
#include <math.h>

#ifndef SOFTMAXLAB_NO_MVEC
#pragma omp declare simd notinbranch
extern double exp(double);
#pragma omp declare simd notinbranch
extern float expf(float);
#pragma omp declare simd notinbranch
extern double log(double);
#pragma omp declare simd notinbranch
extern float logf(float);
#endif

#define TILE 256

#define SOFTMAX_GRAD(NAME, T, EXP, LOG)                                                \
void NAME(T *z, int64_t stride, int64_t c, int64_t m, const int64_t *label,           \
          T *loss)                                                                     \
{                                                                                      \
    T mx[TILE], sum[TILE], z_true[TILE];                                               \
    for (int64_t i0 = 0; i0 < m; i0 += TILE) {                                         \
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

SOFTMAX_GRAD(softmax_grad_f64, double, exp, log)
SOFTMAX_GRAD(softmax_grad_f32, float, expf, logf)
