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
 * Built on first use by softmaxlab.fast.native; see there.
 */
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#define THREAD_ID() omp_get_thread_num()
#define TEAM_SIZE() omp_get_num_threads()
#else
#define THREAD_ID() 0
#define TEAM_SIZE() 1
#endif
#include <stdlib.h>
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
 * glibc's exp: within 1 ulp. Below -650, where exp(x) < 6e-283 cannot change a sum that
 * is at least 1, it returns 0, so that no probability is so small that its products with
 * the features in the gradient's GEMM are subnormal numbers (which x86 computes about a
 * hundred times slower: a line search that tries huge weights would crawl); NaN stays
 * NaN. */
static inline double exp_nonpositive(double x)
{
    const double shift = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    double xc = x < -650.0 ? -650.0 : x;
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
    double y = x < -650.0 ? 0.0 : p * scale;
    return x != x ? x : y;
}

/* The same for float: degree 7 (truncation error < 6e-9 relative), 0 below -75
 * (exp(-75) = 2.7e-33, far enough above float's smallest normal 1.2e-38). */
static inline float expf_nonpositive(float x)
{
    const float shift = 12582912.0f; /* 1.5 * 2^23 */
    float xc = x < -75.0f ? -75.0f : x;
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
    float y = x < -75.0f ? 0.0f : p * scale;
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
 * The training engine (softmaxlab.fast.engine): mini-batch SGD on the analytic gradient, one
 * call per epoch, on the BLAS PyTorch itself uses (`gemm`: its Fortran-interface
 * dgemm/sgemm, passed in by softmaxlab.fast.native). Parameters are kept transposed,
 * W^T (C, N) and b (C). For each batch B of m rows (in order, or the rows `order` names):
 *
 *   X~_B   = (X_B - 1 mu^T) diag(inv_d)           gathered into `xbuf` only when rows are
 *                                                  permuted or transformed; else read in place
 *   Z^T    = W^T X~_B^T + b 1^T                    (C, m)   one GEMM
 *   G^T    = (Y_hat - Y)^T diag(s_B)               softmax_grad above, times row weights s
 *   loss_j = (1/m) sum_i s_i l_i                   the batch's (weighted) mean CE, before
 *   pen_j  = alpha/2 sum_kl pen_l W_kl^2           its step (pen: per-feature factor)
 *   g_W    = (1/m) G^T X~_B + alpha W diag(pen),   g_b = (1/m) G^T 1
 *   v      = mu v + g;  step = v, or g + mu v (Nesterov), or g without momentum
 *   W     -= lr step                               one GEMM (accumulated straight into W^T
 *                                                  when there is no momentum and no penalty)
 *
 * Row-major matrices are handed to the column-major BLAS as their transposes.
 * ------------------------------------------------------------------------------------ */
typedef void (*dgemm_fn)(const char *, const char *, const int *, const int *, const int *,
                         const double *, const double *, const int *, const double *,
                         const int *, const double *, double *, const int *);
typedef void (*sgemm_fn)(const char *, const char *, const int *, const int *, const int *,
                         const float *, const float *, const int *, const float *,
                         const int *, const float *, float *, const int *);

/* Everything one engine needs, fixed for a fit (pointers into PyTorch tensors); the
 * Python side (softmaxlab.fast.native.EngineSpec) mirrors this layout with ctypes. */
/* Gathering a batch's rows is shared among threads from this many values on, and
 * prefetches the rows this many ahead (rows come in random order when shuffled). */
#define GATHER_PARALLEL_MIN 8192
#define PREFETCH_AHEAD 8

typedef struct {
    void *gemm;                 /* dgemm/sgemm */
    int64_t c, nf;              /* classes C, features N */
    const void *x;              /* rows (n, ldx) */
    int64_t ldx, n, batch;
    const int64_t *order;       /* (n) row order, or NULL: in order */
    const void *mu, *inv_d;     /* (N) centring / scaling, or NULL */
    const int64_t *labels;      /* (n) true class of each row */
    const void *weight;         /* (n) row weights s, or NULL: all 1 */
    void *wt, *b;               /* parameters W^T (C, N), b (C), updated in place */
    void *vw, *vb;              /* velocity (C, N), (C), or NULL: no momentum */
    double momentum;
    int64_t nesterov;
    double alpha;               /* L2 strength */
    const void *pen;            /* (N) per-feature penalty factor, or NULL: all 1 */
    void *xbuf;                 /* (batch, N) gathered rows */
    void *z;                    /* (C, batch) logits, then G^T */
    void *gw, *gb;              /* (C, N), (C) gradient */
    int64_t *lbuf;              /* (batch) gathered labels */
    void *sbuf;                 /* (batch) gathered weights */
    void *row_loss;             /* (batch) */
    void *xbuf2;                /* (batch, N) second gather buffer (pipelined epochs) */
    int64_t *lbuf2;             /* (batch) */
    void *sbuf2;                /* (batch) */
    int64_t pipeline;           /* threads allowed: >= 2 gathers the next batch on a second
                                   thread while the first computes (needs OpenMP) */
    double l1;                  /* L1 strength: proximal step (soft-threshold) after each update */
    const void *pen1;           /* (N) per-feature factor of the L1 penalty, or NULL: all 1 */
} engine_spec;

#define ENGINE(SFX, T, GEMM_T)                                                         \
/* Rows s .. s+m of this epoch: where the batch's rows, labels and weights are; gathered \
 * (and standardised) into xdst, ldst, sdst unless they can be read in place. `par` > 0 \
 * allows an OpenMP team for the copy (not inside a pipelined epoch's team); `par` < 0 \
 * copies even rows that could be read in place. */                                    \
static const T *gather_##SFX(const engine_spec *e, int64_t s, int64_t m,               \
                             const int64_t **lab, const T **wgt, T *xdst,              \
                             int64_t *ldst, T *sdst, int par)                          \
{                                                                                      \
    const T *x = (const T *)e->x, *mu = (const T *)e->mu, *id = (const T *)e->inv_d;   \
    const T *sw = (const T *)e->weight;                                                \
    const int64_t nf = e->nf;                                                          \
    if (e->order == NULL) {                                                            \
        *lab = e->labels + s;                                                          \
        *wgt = sw ? sw + s : NULL;                                                     \
        if (mu == NULL && id == NULL && e->ldx == nf && par >= 0) return x + s * e->ldx; \
    } else {                                                                           \
        for (int64_t i = 0; i < m; i++) ldst[i] = e->labels[e->order[s + i]];          \
        *lab = ldst;                                                                   \
        if (sw) {                                                                      \
            for (int64_t i = 0; i < m; i++) sdst[i] = sw[e->order[s + i]];             \
            *wgt = sdst;                                                               \
        } else *wgt = NULL;                                                            \
    }                                                                                  \
    T *buf = xdst;                                                                     \
    _Pragma("omp parallel for schedule(static) if (par > 0 && m * nf >= GATHER_PARALLEL_MIN)") \
    for (int64_t i = 0; i < m; i++) {                                                  \
        if (e->order && i + PREFETCH_AHEAD < m) {                                      \
            const char *next = (const char *)(x + e->order[s + i + PREFETCH_AHEAD] * e->ldx); \
            for (int64_t off = 0; off < nf * (int64_t)sizeof(T); off += 64)            \
                __builtin_prefetch(next + off);                                        \
        }                                                                              \
        const T *src = x + (e->order ? e->order[s + i] : s + i) * e->ldx;              \
        T *dst = buf + i * nf;                                                         \
        if (mu && id) {                                                                \
            _Pragma("omp simd")                                                        \
            for (int64_t l = 0; l < nf; l++) dst[l] = (src[l] - mu[l]) * id[l];        \
        } else if (id) {                                                               \
            _Pragma("omp simd")                                                        \
            for (int64_t l = 0; l < nf; l++) dst[l] = src[l] * id[l];                  \
        } else if (mu) {                                                               \
            _Pragma("omp simd")                                                        \
            for (int64_t l = 0; l < nf; l++) dst[l] = src[l] - mu[l];                  \
        } else {                                                                       \
            memcpy(dst, src, nf * sizeof(T));                                          \
        }                                                                              \
    }                                                                                  \
    return buf;                                                                        \
}                                                                                      \
                                                                                       \
/* out_w = beta out_w + coef G^T X~_B,  out_b = beta out_b + coef G^T 1, for the batch's \
 * m rows xb (labels lab, weights wgt); returns sum_i s_i l_i (its weighted loss sum). */ \
static double grad_rows_##SFX(const engine_spec *e, const T *xb, const int64_t *lab,   \
                              const T *wgt, int64_t m, T *out_w, T *out_b, T coef,     \
                              T beta)                                                  \
{                                                                                      \
    GEMM_T gemm = (GEMM_T)e->gemm;                                                     \
    const int ci = (int)e->c, k = (int)e->nf, mi = (int)m, ldz = (int)e->batch;        \
    T *z = (T *)e->z, *loss = (T *)e->row_loss;                                        \
    const T *b = (const T *)e->b;                                                      \
    const T one = 1;                                                                   \
    for (int64_t q = 0; q < e->c; q++) {                                               \
        T *row = z + q * e->batch;                                                     \
        const T bq = b[q];                                                             \
        for (int64_t i = 0; i < m; i++) row[i] = bq;                                   \
    }                                                                                  \
    /* Z^T (C, m) row-major = (m, C) column-major += X~_B (m, N) W (N, C) */           \
    gemm("T", "N", &mi, &ci, &k, &one, xb, &k, (const T *)e->wt, &k, &one, z, &ldz);   \
    softmax_grad_##SFX(z, e->batch, e->c, m, lab, loss);                               \
    double total = 0;                                                                  \
    if (wgt) {                                                                         \
        for (int64_t q = 0; q < e->c; q++) {                                           \
            T *row = z + q * e->batch;                                                 \
            _Pragma("omp simd")                                                        \
            for (int64_t i = 0; i < m; i++) row[i] *= wgt[i];                          \
        }                                                                              \
        for (int64_t i = 0; i < m; i++) total += (double)wgt[i] * (double)loss[i];     \
    } else {                                                                           \
        for (int64_t i = 0; i < m; i++) total += (double)loss[i];                      \
    }                                                                                  \
    for (int64_t q = 0; q < e->c; q++) {                                               \
        const T *row = z + q * e->batch;                                               \
        T acc = 0;                                                                     \
        for (int64_t i = 0; i < m; i++) acc += row[i];                                 \
        out_b[q] = beta * out_b[q] + coef * acc;                                       \
    }                                                                                  \
    /* out_w^T (N, C) column-major = beta out_w^T + coef X~_B^T (N, m) G (m, C) */     \
    gemm("N", "N", &k, &ci, &mi, &coef, xb, &k, z, &ldz, &beta, out_w, &k);            \
    return total;                                                                      \
}                                                                                      \
                                                                                       \
/* The same for rows s .. s+m of the epoch, gathered here. */                          \
static double grad_##SFX(const engine_spec *e, int64_t s, int64_t m, T *out_w,         \
                         T *out_b, T coef, T beta)                                     \
{                                                                                      \
    const int64_t *lab;                                                                \
    const T *wgt;                                                                      \
    const T *xb = gather_##SFX(e, s, m, &lab, &wgt, (T *)e->xbuf, e->lbuf, (T *)e->sbuf, 1); \
    return grad_rows_##SFX(e, xb, lab, wgt, m, out_w, out_b, coef, beta);              \
}                                                                                      \
                                                                                       \
/* alpha/2 sum pen_l W_kl^2 */                                                         \
static double penalty_##SFX(const engine_spec *e)                                      \
{                                                                                      \
    if (e->alpha == 0 && e->l1 == 0) return 0;                                         \
    const T *w = (const T *)e->wt, *pen = (const T *)e->pen, *pen1 = (const T *)e->pen1; \
    double total = 0, abs_total = 0;                                                   \
    for (int64_t q = 0; q < e->c; q++)                                                 \
        for (int64_t l = 0; l < e->nf; l++) {                                          \
            const double v = w[q * e->nf + l];                                         \
            total += (pen ? (double)pen[l] : 1.0) * v * v;                             \
            abs_total += (pen1 ? (double)pen1[l] : 1.0) * fabs(v);                     \
        }                                                                              \
    return 0.5 * e->alpha * total + e->l1 * abs_total;                                 \
}                                                                                      \
                                                                                       \
/* One update from the data gradient in gw, gb (penalty, momentum, step). */           \
void update_##SFX(const engine_spec *e, double lr)                                     \
{                                                                                      \
    T *w = (T *)e->wt, *b = (T *)e->b, *gw = (T *)e->gw, *gb = (T *)e->gb;             \
    const T *pen = (const T *)e->pen;                                                  \
    const T a = (T)e->alpha, mom = (T)e->momentum, eta = (T)lr;                        \
    const int64_t nf = e->nf, cw = e->c * e->nf;                                       \
    if (a != 0)                                                                        \
        for (int64_t q = 0; q < e->c; q++)                                             \
            for (int64_t l = 0; l < nf; l++)                                           \
                gw[q * nf + l] += a * (pen ? pen[l] : (T)1) * w[q * nf + l];           \
    if (e->vw != NULL) {                                                               \
        T *vw = (T *)e->vw, *vb = (T *)e->vb;                                          \
        for (int64_t i = 0; i < cw; i++) {                                             \
            vw[i] = mom * vw[i] + gw[i];                                               \
            w[i] -= eta * (e->nesterov ? gw[i] + mom * vw[i] : vw[i]);                 \
        }                                                                              \
        for (int64_t q = 0; q < e->c; q++) {                                           \
            vb[q] = mom * vb[q] + gb[q];                                               \
            b[q] -= eta * (e->nesterov ? gb[q] + mom * vb[q] : vb[q]);                 \
        }                                                                              \
    } else {                                                                           \
        for (int64_t i = 0; i < cw; i++) w[i] -= eta * gw[i];                          \
        for (int64_t q = 0; q < e->c; q++) b[q] -= eta * gb[q];                        \
    }                                                                                  \
    if (e->l1 != 0) { /* proximal step of the L1 term: W <- sign(W) max(|W| - t, 0) */ \
        const T *pen1 = (const T *)e->pen1;                                            \
        for (int64_t q = 0; q < e->c; q++)                                             \
            for (int64_t l = 0; l < nf; l++) {                                         \
                const T t = (T)(lr * e->l1) * (pen1 ? pen1[l] : (T)1);                 \
                T *x = w + q * nf + l;                                                 \
                *x = *x > t ? *x - t : (*x < -t ? *x + t : (T)0);                      \
            }                                                                          \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* The data gradient of rows s .. s+m scaled by `coef` into gw, gb (accumulating when  \
 * `accumulate`), and its weighted loss sum: for data-parallel steps (reduced between  \
 * this and update) and full passes (L-BFGS). */                                       \
double gradient_##SFX(const engine_spec *e, int64_t s, int64_t m, double coef,         \
                      int64_t accumulate)                                              \
{                                                                                      \
    return grad_##SFX(e, s, m, (T *)e->gw, (T *)e->gb, (T)coef, accumulate ? 1 : 0);   \
}                                                                                      \
                                                                                       \
/* The step of one gathered batch j: loss and penalty before it, then the update. */   \
static void step_##SFX(const engine_spec *e, double lr, const T *xb,                   \
                       const int64_t *lab, const T *wgt, int64_t m, int64_t j,         \
                       double *batch_loss, double *batch_pen)                          \
{                                                                                      \
    batch_pen[j] = penalty_##SFX(e);                                                   \
    if (e->vw == NULL && e->alpha == 0 && e->l1 == 0) {                                \
        batch_loss[j] = grad_rows_##SFX(e, xb, lab, wgt, m, (T *)e->wt, (T *)e->b,     \
                                        (T)(-lr / m), 1) / m;                          \
    } else {                                                                           \
        batch_loss[j] = grad_rows_##SFX(e, xb, lab, wgt, m, (T *)e->gw, (T *)e->gb,    \
                                        (T)(1.0 / m), 0) / m;                          \
        update_##SFX(e, lr);                                                           \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* An epoch on two threads: while one computes batch j from one buffer, the other      \
 * gathers batch j+1 (shuffled or not, standardised or not) into the other, so the reads \
 * of X from memory overlap the arithmetic. The same operations in the same order      \
 * as the one-thread epoch, hence the same result; a team of one does both in turn. */ \
static void pipelined_##SFX(const engine_spec *e, double lr, double *batch_loss,       \
                            double *batch_pen)                                         \
{                                                                                      \
    T *xb[2] = {(T *)e->xbuf, (T *)e->xbuf2};                                          \
    int64_t *lb[2] = {e->lbuf, e->lbuf2};                                              \
    T *sb[2] = {(T *)e->sbuf, (T *)e->sbuf2};                                          \
    const int64_t *lab[2];                                                             \
    const T *wgt[2];                                                                   \
    const T *rows[2];                                                                  \
    const int64_t k = (e->n + e->batch - 1) / e->batch;                                \
    rows[0] = gather_##SFX(e, 0, e->batch, &lab[0], &wgt[0], xb[0], lb[0], sb[0], -1); \
    _Pragma("omp parallel num_threads(2)")                                             \
    {                                                                                  \
        const int tid = THREAD_ID(), team = TEAM_SIZE();                               \
        for (int64_t j = 0; j < k; j++) {                                              \
            const int cur = (int)(j & 1), nxt = 1 - cur;                               \
            const int64_t s = j * e->batch, m = e->n - s < e->batch ? e->n - s : e->batch; \
            if ((tid == 1 || team == 1) && j + 1 < k) {                                \
                const int64_t s2 = s + e->batch;                                       \
                const int64_t m2 = e->n - s2 < e->batch ? e->n - s2 : e->batch;        \
                rows[nxt] = gather_##SFX(e, s2, m2, &lab[nxt], &wgt[nxt], xb[nxt],     \
                                         lb[nxt], sb[nxt], -1);                        \
            }                                                                          \
            if (tid == 0)                                                              \
                step_##SFX(e, lr, rows[cur], lab[cur], wgt[cur], m, j, batch_loss,     \
                           batch_pen);                                                 \
            _Pragma("omp barrier")                                                     \
        }                                                                              \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* One epoch: every batch's loss and penalty before its step into batch_loss,          \
 * batch_pen (k). */                                                                   \
void epoch_##SFX(const engine_spec *e, double lr, double *batch_loss, double *batch_pen) \
{                                                                                      \
    const int direct = e->vw == NULL && e->alpha == 0 && e->l1 == 0;                   \
    if (e->pipeline >= 2 && e->n > e->batch) {                                         \
        pipelined_##SFX(e, lr, batch_loss, batch_pen);                                 \
        return;                                                                        \
    }                                                                                  \
    for (int64_t s = 0, j = 0; s < e->n; s += e->batch, j++) {                         \
        const int64_t m = e->n - s < e->batch ? e->n - s : e->batch;                   \
        batch_pen[j] = penalty_##SFX(e);                                               \
        if (direct) {                                                                  \
            batch_loss[j] = grad_##SFX(e, s, m, (T *)e->wt, (T *)e->b, (T)(-lr / m), 1) / m; \
        } else {                                                                       \
            batch_loss[j] = grad_##SFX(e, s, m, (T *)e->gw, (T *)e->gb, (T)(1.0 / m), 0) / m; \
            update_##SFX(e, lr);                                                       \
        }                                                                              \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* The GEMM floor of epoch, for the benchmarks: only its two GEMMs per batch (in       \
 * order, rows read in place), the second into gw instead of the parameters. */        \
void gemm_floor_##SFX(const engine_spec *e)                                            \
{                                                                                      \
    GEMM_T gemm = (GEMM_T)e->gemm;                                                     \
    const int ci = (int)e->c, k = (int)e->nf, ldz = (int)e->batch;                     \
    const T one = 1, zero = 0;                                                         \
    for (int64_t s = 0; s < e->n; s += e->batch) {                                     \
        const int mi = (int)(e->n - s < e->batch ? e->n - s : e->batch);               \
        const T *xb = (const T *)e->x + s * e->ldx;                                    \
        gemm("T", "N", &mi, &ci, &k, &one, xb, &k, (const T *)e->wt, &k, &zero,        \
             (T *)e->z, &ldz);                                                         \
        gemm("N", "N", &k, &ci, &mi, &one, xb, &k, (T *)e->z, &ldz, &zero,             \
             (T *)e->gw, &k);                                                          \
    }                                                                                  \
}

ENGINE(f64, double, dgemm_fn)
ENGINE(f32, float, sgemm_fn)

/* Sums for the standardisation (softmaxlab.scaling.standardisation): over the rows of x (in
 * order, or those listed in `rows`), with weights w (NULL: all 1) and shift c,
 *   out[l] = sum_i w_i (x_il - c_l),  out[N + l] = sum_i w_i (x_il - c_l)^2,
 *   out[2N] = sum_i w_i,
 * in float64. One pass over X; the rows are cut into STAT_BLOCKS fixed blocks whose
 * partial sums are added in block order, so the result does not depend on how many
 * threads share the blocks. Returns 0, or -1 when out of memory. */
#define STAT_BLOCKS 64
#define COLUMN_STATS(SFX, T)                                                           \
int column_stats_##SFX(const T *x, int64_t ldx, int64_t n, int64_t nf,                 \
                       const int64_t *rows, const T *w, const T *c, double *out)       \
{                                                                                      \
    const int64_t width = 2 * nf + 1;                                                  \
    const int64_t blocks = n < STAT_BLOCKS ? (n > 0 ? n : 1) : STAT_BLOCKS;            \
    double *part = (double *)calloc((size_t)(blocks * width), sizeof(double));          \
    if (part == NULL) return -1;                                                       \
    _Pragma("omp parallel for schedule(static)")                                       \
    for (int64_t k = 0; k < blocks; k++) {                                             \
        double *s1 = part + k * width, *s2 = s1 + nf;                                  \
        const int64_t lo = n * k / blocks, hi = n * (k + 1) / blocks;                  \
        for (int64_t i = lo; i < hi; i++) {                                            \
            const int64_t r = rows ? rows[i] : i;                                      \
            const T *xi = x + r * ldx;                                                 \
            const double wi = w ? (double)w[r] : 1.0;                                  \
            _Pragma("omp simd")                                                        \
            for (int64_t l = 0; l < nf; l++) {                                         \
                const double t = (double)xi[l] - (double)c[l];                         \
                s1[l] += wi * t;                                                       \
                s2[l] += wi * t * t;                                                   \
            }                                                                          \
            s1[2 * nf] += wi;                                                          \
        }                                                                              \
    }                                                                                  \
    for (int64_t j = 0; j < width; j++) out[j] = 0;                                    \
    for (int64_t k = 0; k < blocks; k++)                                               \
        for (int64_t j = 0; j < width; j++) out[j] += part[k * width + j];             \
    free(part);                                                                        \
    return 0;                                                                          \
}

COLUMN_STATS(f64, double)
COLUMN_STATS(f32, float)

/* CSR rows: the sparse engine (softmaxlab.fast.sparse) */
#include "_sparse.c"
