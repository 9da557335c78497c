/* Sparse rows (CSR) for softmaxlab's training engine: included by _softmax_grad.c.
 *
 * The mathematics is the dense engine's (softmaxlab.fast.engine), for rows stored as CSR
 * (indptr (n+1), indices (nnz), data (nnz)): per batch B of m rows with weights s_i,
 *
 *   z_i    = b + sum_{p in row i} data_p W[indices_p, :]        (sparse x dense)
 *   g_i    = s_i (softmax(z_i) - e_{t_i}),  l_i = logsumexp(z_i) - z_{i t_i}
 *   g_W[j] = (1/m) sum_{i in B} sum_{p in row i, indices_p = j} data_p g_i  (+ alpha pen_j W[j])
 *   g_b    = (1/m) sum_i g_i
 *
 * then the SGD step with momentum as torch.optim.SGD. W is kept as (N, C) row-major, so
 * that a stored value touches one contiguous row of C weights.
 *
 * Lazy updates. Only the rows j of W whose feature occurs in the batch get a data
 * gradient. Every other row follows the linear recurrence of the penalty and momentum
 * alone: (W_j, v_j) <- M_j (W_j, v_j) with, for a = lr alpha pen_j,
 *
 *   heavy ball:  M_j = [[1 - a, -lr mu], [alpha pen_j, mu]]
 *   Nesterov:    M_j = [[1 - a (1 + mu), -lr mu^2], [alpha pen_j, mu]]
 *   no momentum: W_j <- (1 - a) W_j
 *
 * so a row untouched for k steps is brought up to date with M_j^k (by repeated squaring)
 * just before it is next read, and every row at the end of the epoch. Without penalty
 * and momentum M_j is the identity: a step touches only the batch's rows. The result is
 * the dense update's, to rounding (tests/fast/test_sparse.py).
 * ------------------------------------------------------------------------------------ */

typedef struct {
    int64_t c, nf, n, batch;    /* classes C, features N, rows n, batch size */
    const int64_t *indptr;      /* (n + 1) */
    const int32_t *indices;     /* (nnz) */
    const void *data;           /* (nnz) stored values, already scaled */
    const int64_t *order;       /* (n) row order, or NULL: in order */
    const int64_t *labels;      /* (n) */
    const void *weight;         /* (n) row weights, or NULL: all 1 */
    void *w, *b;                /* W (N, C), b (C), updated in place */
    void *vw, *vb;              /* velocity (N, C), (C), or NULL */
    double momentum;
    int64_t nesterov;
    double alpha;
    const void *pen;            /* (N) per-feature penalty factor, or NULL: all 1 */
    void *z;                    /* (batch, C) logits, then g */
    void *gw;                   /* (N, C) gradient of the touched rows; zero between steps */
    void *gb;                   /* (C) step sums */
    int64_t *last;              /* (N) the step each row of W is current to */
    int64_t *touched;           /* (N) the rows of W the batch touches */
    uint8_t *mark;              /* (N) */
    int64_t threads;            /* threads of a full pass */
    void *scratch;              /* ((threads - 1) N C) private gradients of a full pass */
    void *pass_buf;             /* (threads, 2, stride) each pass thread's logits and sums */
    int64_t stride;             /* >= C, padded so that no two threads share a cache line */
    double l1;                  /* L1 strength: soft-threshold after each step (no momentum) */
    const void *pen1;           /* (N) per-feature factor of the L1 penalty, or NULL: all 1 */
} sparse_spec;

/* M^k for a 2 x 2 matrix m (row-major), by repeated squaring. */
static void mat2_pow(const double *m, int64_t k, double *out)
{
    double r[4] = {1, 0, 0, 1}, p[4] = {m[0], m[1], m[2], m[3]}, t[4];
    while (k > 0) {
        if (k & 1) {
            t[0] = r[0] * p[0] + r[1] * p[2]; t[1] = r[0] * p[1] + r[1] * p[3];
            t[2] = r[2] * p[0] + r[3] * p[2]; t[3] = r[2] * p[1] + r[3] * p[3];
            memcpy(r, t, sizeof r);
        }
        t[0] = p[0] * p[0] + p[1] * p[2]; t[1] = p[0] * p[1] + p[1] * p[3];
        t[2] = p[2] * p[0] + p[3] * p[2]; t[3] = p[2] * p[1] + p[3] * p[3];
        memcpy(p, t, sizeof p);
        k >>= 1;
    }
    memcpy(out, r, sizeof r);
}

#define SPARSE(SFX, T, EXP, LOG)                                                       \
/* Bring row j of W (and its velocity) from step last[j] to step t (see the header). */ \
static void catch_up_##SFX(const sparse_spec *e, int64_t j, int64_t t, double lr)      \
{                                                                                      \
    const int64_t k = t - e->last[j];                                                  \
    e->last[j] = t;                                                                    \
    if (k <= 0) return;                                                                \
    const int64_t c = e->c;                                                            \
    T *w = (T *)e->w + j * c;                                                          \
    const double p = e->pen ? (double)((const T *)e->pen)[j] : 1.0;                    \
    const double ap = e->alpha * p, a = lr * ap, mu = e->momentum;                     \
    if (e->vw == NULL && e->l1 != 0) {                                                 \
        /* k steps of |w| <- max((1 - a)|w| - t, 0): (1-a)^k |w| - t sum_{i<k} (1-a)^i  \
           while positive, and 0 once it is not (or at once when a >= 1) */             \
        const double t = lr * e->l1 * (e->pen1 ? (double)((const T *)e->pen1)[j] : 1.0); \
        const double f = a < 1 ? pow(1.0 - a, (double)k) : 0.0;                        \
        const double shift = a == 0 ? t * (double)k : (a < 1 ? t * (1.0 - f) / a : 0.0); \
        for (int64_t q = 0; q < c; q++) {                                              \
            const double v = fabs((double)w[q]) * f - shift;                           \
            w[q] = v > 0 && a < 1 ? (T)copysign(v, (double)w[q]) : (T)0;               \
        }                                                                              \
        return;                                                                        \
    }                                                                                  \
    if (e->vw == NULL) {                                                               \
        if (e->alpha == 0) return;                                                     \
        const T f = (T)pow(1.0 - a, (double)k);                                        \
        for (int64_t q = 0; q < c; q++) w[q] *= f;                                     \
        return;                                                                        \
    }                                                                                  \
    T *v = (T *)e->vw + j * c;                                                         \
    double m[4], r[4];                                                                 \
    if (e->nesterov) {                                                                 \
        m[0] = 1 - a * (1 + mu); m[1] = -lr * mu * mu;                                 \
    } else {                                                                           \
        m[0] = 1 - a; m[1] = -lr * mu;                                                 \
    }                                                                                  \
    m[2] = ap; m[3] = mu;                                                              \
    mat2_pow(m, k, r);                                                                 \
    for (int64_t q = 0; q < c; q++) {                                                  \
        const double wq = w[q], vq = v[q];                                             \
        w[q] = (T)(r[0] * wq + r[1] * vq);                                             \
        v[q] = (T)(r[2] * wq + r[3] * vq);                                             \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* z (C) = b + x_r W, then g = s (softmax(z) - e_label) in place; returns s l_r. */     \
static double row_grad_##SFX(const sparse_spec *e, int64_t r, T *z, const T *w)        \
{                                                                                      \
    const int64_t c = e->c;                                                            \
    const T *data = (const T *)e->data, *b = (const T *)e->b;                          \
    for (int64_t q = 0; q < c; q++) z[q] = b[q];                                       \
    for (int64_t p = e->indptr[r]; p < e->indptr[r + 1]; p++) {                        \
        const T v = data[p];                                                           \
        const T *wj = w + (int64_t)e->indices[p] * c;                                  \
        _Pragma("omp simd")                                                            \
        for (int64_t q = 0; q < c; q++) z[q] += v * wj[q];                             \
    }                                                                                  \
    T top = z[0];                                                                      \
    for (int64_t q = 1; q < c; q++) top = z[q] > top ? z[q] : top;                     \
    double sum = 0;                                                                    \
    for (int64_t q = 0; q < c; q++) sum += EXP(z[q] - top);                            \
    const double lse = (double)top + LOG(sum);                                         \
    const int64_t lab = e->labels[r];                                                  \
    const double loss = lse - (double)z[lab];                                          \
    const T s = e->weight ? ((const T *)e->weight)[r] : (T)1;                          \
    for (int64_t q = 0; q < c; q++) z[q] = (T)EXP((double)z[q] - lse) * s;             \
    z[lab] -= s;                                                                       \
    return (double)s * loss;                                                           \
}                                                                                      \
                                                                                       \
/* One SGD step on rows s .. s+m of the epoch, as step t (lazy updates); returns the   \
 * batch's weighted loss sum, before the step. */                                      \
static double sparse_step_##SFX(const sparse_spec *e, int64_t t, int64_t s, int64_t m, \
                                double lr)                                             \
{                                                                                      \
    const int64_t c = e->c;                                                            \
    const int lazy = e->alpha != 0 || e->vw != NULL || e->l1 != 0;                     \
    T *w = (T *)e->w, *z = (T *)e->z, *gw = (T *)e->gw, *gb = (T *)e->gb;              \
    T *b = (T *)e->b;                                                                  \
    const T *data = (const T *)e->data;                                                \
    double total = 0;                                                                  \
    for (int64_t i = 0; i < m; i++) {                                                  \
        const int64_t r = e->order ? e->order[s + i] : s + i;                          \
        if (lazy)                                                                      \
            for (int64_t p = e->indptr[r]; p < e->indptr[r + 1]; p++)                  \
                catch_up_##SFX(e, e->indices[p], t, lr);                               \
        total += row_grad_##SFX(e, r, z + i * c, w);                                   \
    }                                                                                  \
    const T coef = (T)(1.0 / (double)m);                                               \
    for (int64_t q = 0; q < c; q++) gb[q] = 0;                                         \
    int64_t nt = 0;                                                                    \
    for (int64_t i = 0; i < m; i++) {                                                  \
        const int64_t r = e->order ? e->order[s + i] : s + i;                          \
        const T *g = z + i * c;                                                        \
        for (int64_t q = 0; q < c; q++) gb[q] += g[q];                                 \
        for (int64_t p = e->indptr[r]; p < e->indptr[r + 1]; p++) {                    \
            const int64_t j = e->indices[p];                                           \
            if (!e->mark[j]) { e->mark[j] = 1; e->touched[nt++] = j; }                 \
            T *gj = gw + j * c;                                                        \
            const T v = data[p];                                                       \
            for (int64_t q = 0; q < c; q++) gj[q] += v * g[q];                         \
        }                                                                              \
    }                                                                                  \
    const T mu = (T)e->momentum, step = (T)lr, alpha = (T)e->alpha;                    \
    for (int64_t a = 0; a < nt; a++) {                                                 \
        const int64_t j = e->touched[a];                                               \
        T *wj = w + j * c, *gj = gw + j * c;                                           \
        const T ap = alpha * (e->pen ? ((const T *)e->pen)[j] : (T)1);                 \
        for (int64_t q = 0; q < c; q++) gj[q] = gj[q] * coef + ap * wj[q];             \
        if (e->vw) {                                                                   \
            T *vj = (T *)e->vw + j * c;                                                \
            for (int64_t q = 0; q < c; q++) {                                          \
                vj[q] = mu * vj[q] + gj[q];                                            \
                wj[q] -= step * (e->nesterov ? gj[q] + mu * vj[q] : vj[q]);            \
            }                                                                          \
        } else {                                                                       \
            for (int64_t q = 0; q < c; q++) wj[q] -= step * gj[q];                     \
        }                                                                              \
        if (e->l1 != 0) {                                                              \
            const T t = (T)(lr * e->l1) * (e->pen1 ? ((const T *)e->pen1)[j] : (T)1);  \
            for (int64_t q = 0; q < c; q++)                                            \
                wj[q] = wj[q] > t ? wj[q] - t : (wj[q] < -t ? wj[q] + t : (T)0);       \
        }                                                                              \
        for (int64_t q = 0; q < c; q++) gj[q] = 0;                                     \
        e->mark[j] = 0;                                                                \
        if (lazy) e->last[j] = t + 1;                                                  \
    }                                                                                  \
    for (int64_t q = 0; q < c; q++) {                                                  \
        const T g = gb[q] * coef;                                                      \
        if (e->vb) {                                                                   \
            T *vb = (T *)e->vb;                                                        \
            vb[q] = mu * vb[q] + g;                                                    \
            b[q] -= step * (e->nesterov ? g + mu * vb[q] : vb[q]);                     \
        } else {                                                                       \
            b[q] -= step * g;                                                          \
        }                                                                              \
    }                                                                                  \
    return total;                                                                      \
}                                                                                      \
                                                                                       \
/* alpha/2 sum_j pen_j |W_j|^2 (every row current) */                                  \
static double sparse_penalty_##SFX(const sparse_spec *e)                               \
{                                                                                      \
    if (e->alpha == 0 && e->l1 == 0) return 0;                                         \
    const T *w = (const T *)e->w, *pen = (const T *)e->pen, *pen1 = (const T *)e->pen1; \
    double total = 0, abs_total = 0;                                                   \
    for (int64_t j = 0; j < e->nf; j++) {                                              \
        double row = 0, row1 = 0;                                                      \
        for (int64_t q = 0; q < e->c; q++) {                                           \
            row += (double)w[j * e->c + q] * w[j * e->c + q];                          \
            row1 += fabs((double)w[j * e->c + q]);                                     \
        }                                                                              \
        total += pen ? (double)pen[j] * row : row;                                     \
        abs_total += pen1 ? (double)pen1[j] * row1 : row1;                             \
    }                                                                                  \
    return 0.5 * e->alpha * total + e->l1 * abs_total;                                 \
}                                                                                      \
                                                                                       \
/* One epoch of SGD over the batches (rows in `order`, or in order). batch_loss[t] is   \
 * batch t's weighted mean loss before its step; batch_pen[t] the penalty at the start  \
 * of the epoch (the rows of W are only all current there and at its end). */          \
void sparse_epoch_##SFX(const sparse_spec *e, double lr, double *batch_loss,           \
                        double *batch_pen)                                             \
{                                                                                      \
    const double pen = sparse_penalty_##SFX(e);                                        \
    int64_t t = 0;                                                                     \
    for (int64_t s = 0; s < e->n; s += e->batch, t++) {                                \
        const int64_t m = e->n - s < e->batch ? e->n - s : e->batch;                   \
        batch_loss[t] = sparse_step_##SFX(e, t, s, m, lr) / (double)m;                 \
        batch_pen[t] = pen;                                                            \
    }                                                                                  \
    if (e->alpha != 0 || e->vw != NULL || e->l1 != 0)                                  \
        for (int64_t j = 0; j < e->nf; j++) {                                          \
            catch_up_##SFX(e, j, t, lr);                                               \
            e->last[j] = 0;                                                            \
        }                                                                              \
}                                                                                      \
                                                                                       \
/* out_w (N, C) += coef sum_i x_i^T g_i and out_b (C) += coef sum_i g_i over rows       \
 * s .. s+m of the epoch (no penalty); returns sum_i s_i l_i. Rows are shared among     \
 * e->threads threads, each with its own gradient (thread 0: out_w itself; the others  \
 * in e->scratch) and its own logits and C sums in e->pass_buf (padded: threads that    \
 * wrote to one cache line made two threads slower than one), summed at the end. */     \
double sparse_pass_##SFX(const sparse_spec *e, int64_t s, int64_t m, double coef,      \
                         T *out_w, T *out_b)                                           \
{                                                                                      \
    const int64_t c = e->c, nf = e->nf;                                                \
    const T cf = (T)coef;                                                              \
    const T *w = (const T *)e->w, *data = (const T *)e->data;                          \
    const int64_t teams = e->threads > 1 && e->scratch ? e->threads : 1;               \
    const int64_t st = e->stride;                                                      \
    T *buf = (T *)e->pass_buf;                                                         \
    double total = 0;                                                                  \
    memset(buf, 0, (size_t)(teams * 2 * st) * sizeof(T));                             \
    if (teams > 1) memset(e->scratch, 0, (size_t)((teams - 1) * nf * c) * sizeof(T));  \
    _Pragma("omp parallel num_threads(teams) reduction(+ : total) if (teams > 1)")     \
    {                                                                                  \
        const int64_t id = THREAD_ID(), team = TEAM_SIZE();                            \
        T *gw = id == 0 ? out_w : (T *)e->scratch + (id - 1) * nf * c;                 \
        T *z = buf + id * 2 * st, *gbias = z + st;                                     \
        const int64_t lo = s + m * id / team, hi = s + m * (id + 1) / team;            \
        for (int64_t i = lo; i < hi; i++) {                                            \
            const int64_t r = e->order ? e->order[i] : i;                              \
            total += row_grad_##SFX(e, r, z, w);                                       \
            for (int64_t q = 0; q < c; q++) gbias[q] += z[q];                          \
            for (int64_t p = e->indptr[r]; p < e->indptr[r + 1]; p++) {                \
                T *gj = gw + (int64_t)e->indices[p] * c;                               \
                const T v = cf * data[p];                                              \
                _Pragma("omp simd")                                                    \
                for (int64_t q = 0; q < c; q++) gj[q] += v * z[q];                     \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
    for (int64_t id = 1; id < teams; id++) {                                           \
        const T *part = (const T *)e->scratch + (id - 1) * nf * c;                     \
        for (int64_t k = 0; k < nf * c; k++) out_w[k] += part[k];                      \
    }                                                                                  \
    for (int64_t id = 0; id < teams; id++)                                             \
        for (int64_t q = 0; q < c; q++) out_b[q] += cf * buf[id * 2 * st + st + q];    \
    return total;                                                                      \
}

SPARSE(f64, double, exp, log)
SPARSE(f32, float, exp, log)
