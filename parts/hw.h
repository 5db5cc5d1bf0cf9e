/* ---------------------------------------------------------------------------------------- */
/* >>hardware profiles and >>planner (implementation)                                        */
/* ---------------------------------------------------------------------------------------- */
/* parts/hw.h: implementation part of scalpel.h (merged into it before release).
 *
 * The planner reads each weighted layer as it is stored (dense or grouped CSR with any G) and
 * counts, without a dense copy, what a grouped kernel with the target's G would skip; it then
 * applies the paper's per-class rule (section 2 of the method) or one of the baselines. Pack
 * carries the decision out, one exact conversion per layer. Calibration measures this
 * machine's break-even rates with the library's own kernels. */

#include <string.h>
#include <limits.h>
#ifndef SCALPEL_NO_MALLOC
#include <time.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One built-in profile. The name is kept as a pointer here (the public struct copies it into
 * its fixed array) so that the table stays a plain constant. */
typedef struct scalpel__hw_entry {
    const char *name;
    int32_t hw_class, group, dtype, batch;
    float mv_csr, mv_grouped, mm_csr, mm_grouped;
    const char *note;
} scalpel__hw_entry;

/* The built-in profiles. Break-even rates are the paper's measurements (section 2 of the
 * method, Yu et al., ISCA 2017) where it has them for that class of machine; elsewhere they are
 * borrowed from the nearest measured machine, and the note says so: calibrate those with
 * scalpel_hw_calibrate before trusting a decision near the threshold. */
static const scalpel__hw_entry scalpel__hw_table[] = {
    /* paper, Cortex-M4 100x100 q15, matrix-vector: CSR 68%, grouped (G = 2, SMLAD) 48%;
     * matrix-matrix: CSR 73%, grouped 56% */
    { "cortex-m4", SCALPEL_HW_LOW, 2, SCALPEL_DTYPE_Q15, 1, 0.68f, 0.48f, 0.73f, 0.56f,
      "paper's Cortex-M4 100x100 q15 measurements (G = 2, SMLAD)" },
    /* Cortex-M7 has the same 2 x q15 DSP SIMD as the M4: the M4 figures, not measured on an M7 */
    { "cortex-m7", SCALPEL_HW_LOW, 2, SCALPEL_DTYPE_Q15, 1, 0.68f, 0.48f, 0.73f, 0.56f,
      "Cortex-M4 figures as defaults (same 2 x q15 DSP SIMD); calibrate on the board" },
    /* Cortex-M55 Helium: 128-bit vectors, 4 fp32 lanes; no paper figure, M4 ones borrowed */
    { "cortex-m55", SCALPEL_HW_LOW, 4, SCALPEL_DTYPE_F32, 1, 0.68f, 0.48f, 0.73f, 0.56f,
      "Helium fp32 (G = 4); Cortex-M4 figures as defaults, calibrate on the board" },
    /* paper, Core i7-6700 (AVX2, 8 x fp32) with MKL: matrix-vector 4096x4096 CSR 52%, grouped
     * (G = 8) 3%; matrix-matrix 128x1200 . 1200x729 CSR 79%, grouped about 84% */
    { "x86-avx2", SCALPEL_HW_MODERATE, 8, SCALPEL_DTYPE_F32, 1, 0.52f, 0.03f, 0.79f, 0.84f,
      "paper's Core i7-6700 (AVX2) measurements with MKL" },
    /* AVX-512: 16 fp32 lanes; the i7 figures as defaults */
    { "x86-avx512", SCALPEL_HW_MODERATE, 16, SCALPEL_DTYPE_F32, 1, 0.52f, 0.03f, 0.79f, 0.84f,
      "AVX-512 (G = 16); Core i7 (AVX2) figures as defaults, calibrate" },
    /* NEON: 128-bit vectors, 4 fp32 lanes; the i7 figures as defaults */
    { "arm-neon", SCALPEL_HW_MODERATE, 4, SCALPEL_DTYPE_F32, 1, 0.52f, 0.03f, 0.79f, 0.84f,
      "NEON (G = 4); Core i7 figures as defaults, calibrate" },
    /* paper, GTX Titan X, 4096x4096 . 4096x50 with cuSPARSE: CSR 96.3%; no grouping on GPUs
     * (G = 1, grouped never wins: 1.0); the paper has no matrix-vector figure, the same used */
    { "cuda", SCALPEL_HW_HIGH, 1, SCALPEL_DTYPE_F32, 50, 0.963f, 1.0f, 0.963f, 1.0f,
      "paper's GTX Titan X cuSPARSE measurement (batch 50); no grouping on GPUs" }
};

#define SCALPEL__HW_COUNT ((int32_t)(sizeof(scalpel__hw_table) / sizeof(scalpel__hw_table[0])))

SCALPEL__PRIV int scalpel__hw_group_ok(int32_t g)
{
    return g == 1 || g == 2 || g == 4 || g == 8 || g == 16;
}

/* A break-even rate is a fraction; NaN fails both comparisons and so is refused too. */
SCALPEL__PRIV int scalpel__hw_fraction_ok(float x)
{
    return x >= 0.0f && x <= 1.0f;
}

/* A profile may have been copied and edited by hand: every field the planner or calibration
 * reads is checked (the name must be terminated inside its array; note is free text). */
SCALPEL__PRIV scalpel_status scalpel__hw_check(const scalpel_hw_profile *hw)
{
    if (hw == NULL) return SCALPEL_ERR_NULL;
    if (memchr(hw->name, 0, sizeof(hw->name)) == NULL) return SCALPEL_ERR_ARGUMENT;
    if (hw->hw_class != SCALPEL_HW_LOW && hw->hw_class != SCALPEL_HW_MODERATE &&
        hw->hw_class != SCALPEL_HW_HIGH)
        return SCALPEL_ERR_ARGUMENT;
    if (!scalpel__hw_group_ok(hw->group)) return SCALPEL_ERR_GROUP;
    if (hw->dtype != SCALPEL_DTYPE_F32 && hw->dtype != SCALPEL_DTYPE_Q15 && hw->dtype != SCALPEL_DTYPE_Q7)
        return SCALPEL_ERR_DTYPE;
    if (hw->batch < 1) return SCALPEL_ERR_ARGUMENT;
    if (!scalpel__hw_fraction_ok(hw->breakeven_mv_csr) || !scalpel__hw_fraction_ok(hw->breakeven_mv_grouped) ||
        !scalpel__hw_fraction_ok(hw->breakeven_mm_csr) || !scalpel__hw_fraction_ok(hw->breakeven_mm_grouped))
        return SCALPEL_ERR_ARGUMENT;
    return SCALPEL_OK;
}

SCALPEL__PRIV void scalpel__hw_fill(const scalpel__hw_entry *e, const char *name, scalpel_hw_profile *out)
{
    size_t n = strlen(name);
    memset(out, 0, sizeof(*out));
    if (n >= sizeof(out->name)) n = sizeof(out->name) - 1;
    memcpy(out->name, name, n);
    out->hw_class = e->hw_class;
    out->group = e->group;
    out->dtype = e->dtype;
    out->batch = e->batch;
    out->breakeven_mv_csr = e->mv_csr;
    out->breakeven_mv_grouped = e->mv_grouped;
    out->breakeven_mm_csr = e->mm_csr;
    out->breakeven_mm_grouped = e->mm_grouped;
    out->note = e->note;
}

SCALPEL_API int32_t scalpel_hw_profile_count(void)
{
    return SCALPEL__HW_COUNT;
}

SCALPEL_API const char *scalpel_hw_profile_name(int32_t i)
{
    if (i < 0 || i >= SCALPEL__HW_COUNT) return NULL;
    return scalpel__hw_table[i].name;
}

SCALPEL__PRIV const scalpel__hw_entry *scalpel__hw_find(const char *name)
{
    int32_t i;
    for (i = 0; i < SCALPEL__HW_COUNT; i++)
        if (strcmp(name, scalpel__hw_table[i].name) == 0) return &scalpel__hw_table[i];
    return NULL;
}

SCALPEL_API scalpel_status scalpel_hw_profile_get(const char *name, scalpel_hw_profile *out)
{
    const scalpel__hw_entry *e;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (name == NULL) return SCALPEL_ERR_NULL;
    e = scalpel__hw_find(name);
    if (e == NULL) return SCALPEL_ERR_ARGUMENT;
    scalpel__hw_fill(e, e->name, out);
    return SCALPEL_OK;
}

/* The kernels compiled into this program decide the profile, not the CPU it happens to run on:
 * G must be the vector width the compiled kernels use. Two backends have no profile of their
 * own and get a derived one: "x86-sse2" is the AVX2 profile with G = 4 (128-bit vectors; the
 * i7 figures remain defaults), and "scalar" (plain C, SCALPEL_NO_SIMD or a Cortex-M without
 * Helium) follows the Cortex-M4 rules (LOW class, G = 2, the M4 break-evens) with fp32 values,
 * the only type the plain C kernels run. A backend this table does not know gives
 * SCALPEL_ERR_UNSUPPORTED. */
SCALPEL_API scalpel_status scalpel_hw_profile_host(scalpel_hw_profile *out)
{
    const char *b = scalpel_kernels_backend();
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (strcmp(b, "x86-avx512") == 0 || strcmp(b, "x86-avx2") == 0 || strcmp(b, "arm-neon") == 0)
        return scalpel_hw_profile_get(b, out);
    if (strcmp(b, "arm-mve") == 0) return scalpel_hw_profile_get("cortex-m55", out);
    if (strcmp(b, "x86-sse2") == 0) {
        scalpel__hw_fill(scalpel__hw_find("x86-avx2"), "x86-sse2", out);
        out->group = 4;
        out->note = "SSE2 (G = 4); Core i7 (AVX2) figures as defaults, calibrate";
        return SCALPEL_OK;
    }
    if (strcmp(b, "scalar") == 0) {
        scalpel__hw_fill(scalpel__hw_find("cortex-m4"), "scalar", out);
        out->dtype = SCALPEL_DTYPE_F32;
        out->note = "plain C fp32 kernels; Cortex-M4 rules and figures as defaults, calibrate";
        return SCALPEL_OK;
    }
    return SCALPEL_ERR_UNSUPPORTED;
}

#ifndef SCALPEL_NO_MALLOC

/* ---- calibration ------------------------------------------------------------------------ */

/* xorshift64*: a local generator, so calibration keeps no global state and repeats exactly. */
SCALPEL__PRIV uint32_t scalpel__hw_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint32_t)((*s * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Values in +-[1/16, 1]: never zero by chance, so a rate of pruning is exactly the rate asked. */
SCALPEL__PRIV void scalpel__hw_fill_random(float *p, size_t n, uint64_t *s)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t u = scalpel__hw_rand(s);
        float mag = 0.0625f + 0.9375f * (float)(u >> 8) * (1.0f / 16777216.0f);
        p[i] = (u & 1u) ? -mag : mag;
    }
}

/* w = src with exactly round(rate * groups) aligned groups of g zeroed, chosen uniformly over
 * the whole matrix by selection sampling (Knuth's Algorithm S), so that the matrix carries the
 * rate asked for without a per-row pattern a kernel could be lucky with. */
SCALPEL__PRIV void scalpel__hw_prune_copy(const float *src, float *w, int32_t rows, int32_t cols,
                                          int32_t g, double rate, uint64_t *s)
{
    int64_t per_row = ((int64_t)cols + g - 1) / g;
    int64_t left = (int64_t)rows * per_row;
    int64_t need = (int64_t)(rate * (double)left + 0.5);
    int32_t r;
    memcpy(w, src, (size_t)rows * (size_t)cols * sizeof(float));
    for (r = 0; r < rows; r++) {
        float *row = w + (size_t)r * (size_t)cols;
        int64_t k;
        for (k = 0; k < per_row; k++, left--) {
            double u = (double)scalpel__hw_rand(s) * (1.0 / 4294967296.0);
            if (need > 0 && u * (double)left < (double)need) {
                int64_t c0 = k * g, c1 = c0 + g < cols ? c0 + g : cols;
                memset(row + c0, 0, (size_t)(c1 - c0) * sizeof(float));
                need--;
            }
        }
    }
}

/* One timed operation: which kernel, and its operands. */
typedef struct scalpel__hw_op {
    int kind;                 /* 0 gemv, 1 spmv, 2 gemm, 3 spmm */
    const float *w;
    const scalpel_gcsr *m;
    int32_t rows, cols, n;
    const float *x;           /* x[cols] or B[cols x n] */
    float *y;                 /* y[rows] or C[rows x n] */
    long iters;
    double t[5];
} scalpel__hw_op;

SCALPEL__PRIV void scalpel__hw_run(const scalpel__hw_op *op)
{
    switch (op->kind) {
    case 0: scalpel_gemv_f32(op->w, op->rows, op->cols, op->x, op->y); break;
    case 1: scalpel_gcsr_spmv_f32(op->m, op->x, op->y); break;
    case 2: scalpel_gemm_f32(op->w, op->rows, op->cols, op->x, op->n, op->y); break;
    default: scalpel_gcsr_spmm_f32(op->m, op->x, op->n, op->y); break;
    }
}

/* Seconds of processor time for `iters` calls. clock() because it is the one timer C99 offers
 * everywhere; its coarse tick is why every loop is made to last at least 2 ms. */
SCALPEL__PRIV double scalpel__hw_loop(const scalpel__hw_op *op, long iters)
{
    clock_t t0 = clock();
    long i;
    for (i = 0; i < iters; i++) scalpel__hw_run(op);
    return (double)(clock() - t0) / (double)CLOCKS_PER_SEC;
}

/* Times a set of operations that are compared with each other: each gets a loop of at least
 * 2 ms, then five rounds run every operation's loop in turn, so a machine that slows down
 * mid-way slows all of them alike; each time is the median of its five rounds per call. */
SCALPEL__PRIV void scalpel__hw_measure(scalpel__hw_op *ops, int n_ops, double *median)
{
    int i, r, a, b;
    for (i = 0; i < n_ops; i++) {
        scalpel__hw_op *op = &ops[i];
        op->iters = 1;
        scalpel__hw_run(op);                  /* first touch: page faults, caches */
        for (;;) {                            /* grow the loop to 2 ms, aiming at 2.4 */
            double t = scalpel__hw_loop(op, op->iters);
            if (t >= 0.002 || op->iters >= (1L << 24)) break;
            op->iters = t < 0.0002 ? op->iters * 10 : (long)((double)op->iters * (0.0024 / t)) + 1;
        }
    }
    for (r = 0; r < 5; r++)
        for (i = 0; i < n_ops; i++)
            ops[i].t[r] = scalpel__hw_loop(&ops[i], ops[i].iters) / (double)ops[i].iters;
    for (i = 0; i < n_ops; i++) {
        double *t = ops[i].t;
        for (a = 1; a < 5; a++)               /* insertion sort of five samples */
            for (b = a; b > 0 && t[b - 1] > t[b]; b--) {
                double tmp = t[b]; t[b] = t[b - 1]; t[b - 1] = tmp;
            }
        median[i] = t[2];
    }
}

/* Where a relative-time curve (sparse / dense at increasing rates) last crosses 1.0 from above:
 * beyond that rate every measured point is faster than dense. Linear interpolation between the
 * two points around the crossing; 0 when sparse already wins at every rate, 1 when it never
 * wins at the highest rate. Taking the last crossing keeps a noisy dip at a low rate from
 * being read as a break-even. */
SCALPEL__PRIV float scalpel__hw_crossing(const double *rate, const double *rel, int n)
{
    int i, last = -1;
    double f;
    for (i = 0; i < n; i++)
        if (rel[i] >= 1.0) last = i;
    if (last < 0) return 0.0f;
    if (last == n - 1) return 1.0f;
    f = (rel[last] - 1.0) / (rel[last] - rel[last + 1]);
    f = rate[last] + f * (rate[last + 1] - rate[last]);
    if (f < 0.0) f = 0.0;
    if (f > 1.0) f = 1.0;
    return (float)f;
}

/* Measures rather than assumes: the break-even of a sparse kernel depends on cache sizes,
 * memory bandwidth and the compiled vector width, which no table can know for every machine.
 * One random matrix is pruned at each rate of the sweep (whole aligned groups of G for the
 * grouped kernel, single weights for CSR) and each sparse kernel is timed against dense
 * interleaved at that rate. Everything is computed into locals: on any failure hw is left as
 * it was. With n == 0 only the matrix-vector rates are measured and the matrix-matrix ones are
 * kept. The kernels measured are the fp32 ones (the only type of this version), whatever
 * hw->dtype says. */
SCALPEL_API scalpel_status scalpel_hw_calibrate(scalpel_hw_profile *hw, int32_t rows, int32_t cols, int32_t n)
{
    static const double rates[12] = { 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99 };
    double rel_mv_g[12], rel_mv_c[12], rel_mm_g[12], rel_mm_c[12];
    size_t nw, nb, nc, total, i;
    float *mem, *w0, *wp, *x, *y, *bm, *cm;
    uint64_t seed = 0x5CA1BE15C0FFEEull;
    scalpel_gcsr mg, mc;
    scalpel_status st;
    int k, j;
    if (hw == NULL) return SCALPEL_ERR_NULL;
    st = scalpel__hw_check(hw);
    if (st != SCALPEL_OK) return st;
    if (rows < 1 || cols < 1 || rows > 16384 || cols > 16384) return SCALPEL_ERR_SHAPE;
    if (n < 0 || n > 4096) return SCALPEL_ERR_ARGUMENT;
    /* every count below fits int32 (16384 * 16384 = 2^28, 16384 * 4096 = 2^26); the byte total
     * is what can exceed a 32-bit size_t */
    nw = (size_t)rows * (size_t)cols;
    nb = (size_t)cols * (size_t)n;
    nc = (size_t)rows * (size_t)n;
    total = 2 * nw + (size_t)cols + (size_t)rows + nb + nc;
    if (total > SIZE_MAX / sizeof(float)) return SCALPEL_ERR_OVERFLOW;
    mem = (float *)SCALPEL_MALLOC(NULL, total * sizeof(float));
    if (mem == NULL) return SCALPEL_ERR_NO_MEMORY;
    w0 = mem;
    wp = w0 + nw;
    x = wp + nw;
    y = x + cols;
    bm = y + rows;
    cm = bm + nb;
    scalpel__hw_fill_random(w0, nw, &seed);
    scalpel__hw_fill_random(x, (size_t)cols, &seed);
    scalpel__hw_fill_random(bm, nb, &seed);
    memset(&mg, 0, sizeof(mg));
    memset(&mc, 0, sizeof(mc));
    st = SCALPEL_OK;
    for (k = 0; k < 12 && st == SCALPEL_OK; k++) {
        scalpel__hw_op ops[3];
        double med[3];
        scalpel__hw_prune_copy(w0, wp, rows, cols, hw->group, rates[k], &seed);
        st = scalpel_gcsr_from_dense(wp, rows, cols, hw->group, &mg);
        if (st != SCALPEL_OK) break;
        scalpel__hw_prune_copy(w0, wp, rows, cols, 1, rates[k], &seed);
        st = scalpel_gcsr_from_dense(wp, rows, cols, 1, &mc);
        if (st != SCALPEL_OK) break;
        for (j = 0; j < 2; j++) {
            int mm = j == 1;
            if (mm && n == 0) break;
            memset(ops, 0, sizeof(ops));
            ops[0].kind = mm ? 2 : 0;
            ops[0].w = w0;
            ops[1].kind = ops[2].kind = mm ? 3 : 1;
            ops[1].m = &mg;
            ops[2].m = &mc;
            for (i = 0; i < 3; i++) {
                ops[i].rows = rows;
                ops[i].cols = cols;
                ops[i].n = n;
                ops[i].x = mm ? bm : x;
                ops[i].y = mm ? cm : y;
            }
            scalpel__hw_measure(ops, 3, med);
            if (med[0] <= 0.0) med[0] = 1e-12;   /* a clock that never ticked: avoid 0 / 0 */
            if (mm) {
                rel_mm_g[k] = med[1] / med[0];
                rel_mm_c[k] = med[2] / med[0];
            } else {
                rel_mv_g[k] = med[1] / med[0];
                rel_mv_c[k] = med[2] / med[0];
            }
        }
        scalpel_gcsr_free(&mg);
        scalpel_gcsr_free(&mc);
    }
    scalpel_gcsr_free(&mg);
    scalpel_gcsr_free(&mc);
    SCALPEL_FREE(NULL, mem);
    if (st != SCALPEL_OK) return st;
    hw->breakeven_mv_grouped = scalpel__hw_crossing(rates, rel_mv_g, 12);
    hw->breakeven_mv_csr = scalpel__hw_crossing(rates, rel_mv_c, 12);
    if (n > 0) {
        hw->breakeven_mm_grouped = scalpel__hw_crossing(rates, rel_mm_g, 12);
        hw->breakeven_mm_csr = scalpel__hw_crossing(rates, rel_mm_c, 12);
    }
    hw->note = "calibrated on this machine";
    return SCALPEL_OK;
}

#endif /* SCALPEL_NO_MALLOC */

/* ---- planner ---------------------------------------------------------------------------- */

/* What a layer's weights look like to a grouped kernel with group g. */
typedef struct scalpel__hw_stats {
    int64_t total;     /* rows * cols */
    int64_t zeros;     /* zero weights (stored zeros and weights not stored) */
    int64_t groups;    /* aligned groups of g holding a nonzero weight: what GCSR(g) stores */
    int64_t kept;      /* in-range weights of those groups: total - kept is what g skips */
} scalpel__hw_stats;

/* Counts without a dense copy (the planner must work under SCALPEL_NO_MALLOC). Dense storage is
 * scanned group by group. Grouped storage (any stored G) is walked in column order: nonzero
 * weights come in increasing column order within a row, so the aligned groups of the target g
 * that hold one are counted by noticing when the group number changes, with no memory. */
SCALPEL__PRIV void scalpel__hw_stats_of(const scalpel_layer *L, int32_t g, scalpel__hw_stats *s)
{
    int32_t rows = L->rows, cols = L->cols, r;
    int64_t nonzero = 0;
    memset(s, 0, sizeof(*s));
    s->total = (int64_t)rows * cols;
    if (L->storage == SCALPEL_STORAGE_DENSE) {
        for (r = 0; r < rows; r++) {
            const float *row = L->w + (size_t)r * (size_t)cols;
            int32_t c0;
            for (c0 = 0; c0 < cols; c0 += g) {
                int32_t end = cols - c0 < g ? cols : c0 + g, c, any = 0;
                for (c = c0; c < end; c++)
                    if (row[c] != 0.0f) { any = 1; nonzero++; }
                if (any) { s->groups++; s->kept += end - c0; }
                if (cols - c0 <= g) break;     /* c0 + g would pass INT32_MAX near the top */
            }
        }
    } else {
        const scalpel_gcsr *m = &L->sparse;
        const float *v = (const float *)m->values;
        int32_t G = m->group;
        for (r = 0; r < rows; r++) {
            int64_t last = -1;
            int32_t k, j;
            for (k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++) {
                int64_t c0 = (int64_t)scalpel_gcsr_col(m, k);
                for (j = 0; j < G && c0 + j < cols; j++) {
                    int64_t t;
                    if (v[(size_t)k * (size_t)G + (size_t)j] == 0.0f) continue;
                    nonzero++;
                    t = (c0 + j) / g;
                    if (t != last) {
                        int64_t width = (int64_t)cols - t * g;
                        last = t;
                        s->groups++;
                        s->kept += width < g ? width : g;
                    }
                }
            }
        }
    }
    s->zeros = s->total - nonzero;
}

/* Bytes of a layer stored as grouped CSR with g: exactly what scalpel_gcsr_bytes reports for
 * the matrix scalpel_gcsr_from_dense would build (values, 16-bit indices up to 65536 columns,
 * row pointers), plus the bias. Computed in 64 bits; 0 means it would not fit a size_t. */
SCALPEL__PRIV size_t scalpel__hw_gcsr_bytes(int32_t rows, int32_t cols, int64_t groups, int32_t g)
{
    uint64_t idx = cols <= 65536 ? 2u : 4u;
    uint64_t b = (uint64_t)groups * (uint64_t)g * 4u + (uint64_t)groups * idx +
                 ((uint64_t)rows + 1u) * 4u + (uint64_t)rows * 4u;
    if (b > (uint64_t)SIZE_MAX) return 0;
    return (size_t)b;
}

SCALPEL_API scalpel_status scalpel_plan_net(const scalpel_net *net, const scalpel_hw_profile *hw,
                                            scalpel_plan_mode mode, scalpel_plan *out)
{
    int32_t i;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (net == NULL || hw == NULL) return SCALPEL_ERR_NULL;
    if (mode != SCALPEL_PLAN_SCALPEL && mode != SCALPEL_PLAN_TRADITIONAL &&
        mode != SCALPEL_PLAN_OPTIMIZED && mode != SCALPEL_PLAN_DENSE)
        return SCALPEL_ERR_ARGUMENT;
    st = scalpel__hw_check(hw);
    if (st != SCALPEL_OK) return st;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    out->mode = (int32_t)mode;
    out->n_layers = net->n_layers;
    out->hw = *hw;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        scalpel_layer_plan *p = &out->layers[i];
        scalpel__hw_stats s, s1;
        int32_t g;
        int64_t positions, dense_vals;
        size_t dense_bytes;
        int grouped;
        p->storage = SCALPEL_STORAGE_DENSE;
        if (!scalpel__is_weighted(L->kind)) {
            p->technique = SCALPEL_TECHNIQUE_NONE;
            p->reason = "no weights: nothing to prune or pack";
            continue;
        }
        positions = L->kind == SCALPEL_LAYER_CONV2D ? (int64_t)L->out_h * L->out_w : 1;
        p->kernel_mm = (L->kind == SCALPEL_LAYER_CONV2D || hw->batch > 1) ? 1 : 0;
        /* the rate that matters is the one of the kernel the mode would use: the profile's G
         * for Scalpel, single weights (CSR) for the baselines and dense mode */
        g = mode == SCALPEL_PLAN_SCALPEL ? hw->group : 1;
        scalpel__hw_stats_of(L, g, &s);
        if (g == 1) s1 = s; else scalpel__hw_stats_of(L, 1, &s1);
        p->zero_rate = s.total > 0 ? (float)((double)s1.zeros / (double)s.total) : 0.0f;
        p->rate = s.total > 0 ? (float)((double)(s.total - s.kept) / (double)s.total) : 0.0f;
        dense_vals = s.total;
        if ((uint64_t)dense_vals * 4u + (uint64_t)L->rows * 4u > (uint64_t)SIZE_MAX) return SCALPEL_ERR_OVERFLOW;
        dense_bytes = (size_t)dense_vals * sizeof(float) + (size_t)L->rows * sizeof(float);
        p->bytes_now = L->storage == SCALPEL_STORAGE_GCSR
                     ? scalpel_gcsr_bytes(&L->sparse) + (size_t)L->rows * sizeof(float) : dense_bytes;
        p->macs_dense = dense_vals * positions;
        grouped = 0;
        switch (mode) {
        case SCALPEL_PLAN_SCALPEL: {
            /* a G of 1 makes the "grouped" kernel plain CSR: its break-even is the CSR one */
            float be_g = p->kernel_mm ? (g == 1 ? hw->breakeven_mm_csr : hw->breakeven_mm_grouped)
                                      : (g == 1 ? hw->breakeven_mv_csr : hw->breakeven_mv_grouped);
            p->break_even = be_g;
            if (hw->hw_class == SCALPEL_HW_HIGH) {
                p->technique = SCALPEL_TECHNIQUE_NODES;
                p->reason = "high-parallelism target: node pruning, dense kernels";
            } else if (hw->hw_class == SCALPEL_HW_MODERATE && L->kind == SCALPEL_LAYER_CONV2D) {
                p->technique = SCALPEL_TECHNIQUE_NODES;
                p->reason = "moderate-parallelism target: convolutions take node pruning and stay dense";
            } else {
                p->technique = SCALPEL_TECHNIQUE_WEIGHT_GROUPS;
                grouped = p->rate > be_g;
                p->reason = grouped ? "grouped rate above the kernel's break-even: grouped CSR is faster"
                                    : "grouped rate not above the kernel's break-even: dense is faster";
            }
            break;
        }
        case SCALPEL_PLAN_TRADITIONAL:
            p->technique = SCALPEL_TECHNIQUE_WEIGHTS;
            p->break_even = 0.0f;
            grouped = s1.zeros > 0;
            p->reason = grouped ? "traditional baseline: CSR for a layer with zero weights"
                                : "traditional baseline: no zero weight, dense";
            break;
        case SCALPEL_PLAN_OPTIMIZED:
            p->technique = SCALPEL_TECHNIQUE_WEIGHTS;
            p->break_even = 0.5f;
            /* integers, so that exactly half pruned is CSR ("more than 50% remain" is dense) */
            grouped = s1.zeros > 0 && 2 * s1.zeros >= s.total;
            p->reason = grouped ? "optimized baseline: at least half the weights pruned, CSR"
                                : "optimized baseline: more than half the weights remain, dense";
            break;
        default: /* SCALPEL_PLAN_DENSE */
            p->technique = SCALPEL_TECHNIQUE_NONE;
            p->break_even = 1.0f;
            p->reason = "dense mode: every layer dense";
            break;
        }
        if (grouped && s.groups * (int64_t)g > (int64_t)INT32_MAX) {
            grouped = 0;          /* more stored values than grouped CSR can index */
            p->reason = "too many stored values for grouped CSR: dense";
        }
        if (grouped) {
            p->storage = SCALPEL_STORAGE_GCSR;
            p->group = g;
            p->bytes_planned = scalpel__hw_gcsr_bytes(L->rows, L->cols, s.groups, g);
            if (p->bytes_planned == 0) return SCALPEL_ERR_OVERFLOW;
            p->macs_planned = s.groups * g * positions;
        } else {
            p->bytes_planned = dense_bytes;
            p->macs_planned = p->macs_dense;
        }
    }
    return SCALPEL_OK;
}

#ifndef SCALPEL_NO_MALLOC

/* A plan may come from anywhere (edited by hand, kept from another network): every field pack
 * or a reader of the plan relies on is checked against the network before anything changes. */
SCALPEL__PRIV scalpel_status scalpel__hw_plan_check(const scalpel_net *net, const scalpel_plan *plan)
{
    int32_t i;
    scalpel_status st;
    if (plan->mode < SCALPEL_PLAN_SCALPEL || plan->mode > SCALPEL_PLAN_DENSE) return SCALPEL_ERR_ARGUMENT;
    if (plan->n_layers != net->n_layers) return SCALPEL_ERR_SHAPE;
    st = scalpel__hw_check(&plan->hw);
    if (st != SCALPEL_OK) return st;
    for (i = 0; i < plan->n_layers; i++) {
        const scalpel_layer_plan *p = &plan->layers[i];
        if (p->technique < SCALPEL_TECHNIQUE_NONE || p->technique > SCALPEL_TECHNIQUE_NODES)
            return SCALPEL_ERR_ARGUMENT;
        if (p->kernel_mm != 0 && p->kernel_mm != 1) return SCALPEL_ERR_ARGUMENT;
        if (!scalpel__hw_fraction_ok(p->zero_rate) || !scalpel__hw_fraction_ok(p->rate) ||
            !scalpel__hw_fraction_ok(p->break_even))
            return SCALPEL_ERR_ARGUMENT;
        if (p->macs_dense < 0 || p->macs_planned < 0) return SCALPEL_ERR_ARGUMENT;
        if (p->storage == SCALPEL_STORAGE_DENSE) {
            if (p->group != 0) return SCALPEL_ERR_GROUP;
        } else if (p->storage == SCALPEL_STORAGE_GCSR) {
            if (!scalpel__is_weighted(net->layers[i].kind)) return SCALPEL_ERR_ARGUMENT;
            if (!scalpel__hw_group_ok(p->group)) return SCALPEL_ERR_GROUP;
        } else {
            return SCALPEL_ERR_ARGUMENT;
        }
    }
    return SCALPEL_OK;
}

/* Each layer is converted through its dense weights, so every conversion is exact: grouped CSR
 * with any G stores every nonzero weight and the same bias. Layers are converted one at a time;
 * if one fails (out of memory), the layers already converted and the ones not yet converted
 * all still compute the same function as before, so the network stays usable (only partly
 * packed) and the error is returned. The temporary dense copy is the largest layer's. */
SCALPEL_API scalpel_status scalpel_net_pack(scalpel_net *net, const scalpel_plan *plan)
{
    int32_t i;
    size_t most = 0;
    float *tmp;
    scalpel_status st;
    if (net == NULL || plan == NULL) return SCALPEL_ERR_NULL;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    st = scalpel__hw_plan_check(net, plan);
    if (st != SCALPEL_OK) return st;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        const scalpel_layer_plan *p = &plan->layers[i];
        int32_t now_g = L->storage == SCALPEL_STORAGE_GCSR ? L->sparse.group : 0;
        /* validated: rows * cols fits int32, so this sum cannot overflow a size_t */
        size_t need = (size_t)L->rows * (size_t)L->cols + (size_t)L->rows;
        if (!scalpel__is_weighted(L->kind)) continue;
        if (p->storage == L->storage && p->group == now_g) continue;
        if (need > most) most = need;
    }
    if (most == 0) return SCALPEL_OK;              /* already as planned */
    if (most > SIZE_MAX / sizeof(float)) return SCALPEL_ERR_OVERFLOW;
    tmp = (float *)SCALPEL_MALLOC(net->alloc_ctx, most * sizeof(float));
    if (tmp == NULL) return SCALPEL_ERR_NO_MEMORY;
    for (i = 0; i < net->n_layers && st == SCALPEL_OK; i++) {
        scalpel_layer *L = &net->layers[i];
        const scalpel_layer_plan *p = &plan->layers[i];
        int32_t now_g = L->storage == SCALPEL_STORAGE_GCSR ? L->sparse.group : 0;
        size_t nw = (size_t)L->rows * (size_t)L->cols;
        float *bias = tmp + nw;
        if (!scalpel__is_weighted(L->kind)) continue;
        if (p->storage == L->storage && p->group == now_g) continue;
        scalpel__layer_dense_weights(L, tmp);
        /* the bias is copied out too: the layer's old block, which holds it, is released */
        memcpy(bias, L->b, (size_t)L->rows * sizeof(float));
        if (p->storage == SCALPEL_STORAGE_DENSE) {
            st = scalpel__layer_set_dense(net, L, tmp, bias);
        } else {
            scalpel_gcsr m;
            st = scalpel_gcsr_from_dense_ctx(tmp, L->rows, L->cols, p->group, net->alloc_ctx, &m);
            if (st == SCALPEL_OK) {
                st = scalpel__layer_set_gcsr(net, L, &m, bias);
                scalpel_gcsr_free(&m);
            }
        }
    }
    SCALPEL_FREE(net->alloc_ctx, tmp);
    return st;
}

#endif /* SCALPEL_NO_MALLOC */

#ifdef __cplusplus
}
#endif
