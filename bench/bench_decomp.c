/* bench_decomp.c - the exact hybrid (grouped CSR + CSR residual) against CSR and dense, and the
 * N:M kernels for reference, one thread, fp32.
 *
 * WHAT IS MEASURED
 *   1. W 4096 x 4096 with unstructured random zeros (each weight zero independently with
 *      p = 0.80, 0.90, 0.95, 0.99; fixed seed). Matrix-vector: dense scalpel_gemv_f32, CSR
 *      (scalpel_gcsr_spmv_f32 with G = 1) and scalpel_hybrid_spmv_f32 with G = 4, 8, 16, each
 *      hybrid split by scalpel_hybrid_from_dense with costs measured by
 *      scalpel_hybrid_costs_measure for that G on the same shape (n = 0). "best" is the fastest
 *      of the three hybrids. Then matrix-matrix at 90 % with B [4096 x 64]: scalpel_gemm_f32,
 *      scalpel_gcsr_spmm_f32 (G = 1), scalpel_hybrid_spmm_f32 (costs measured with n = 64).
 *   2. The LeNets pruned the traditional way (../models/lenet300-traditional.scpn and
 *      lenet5-traditional.scpn; SCALPEL_MODELS_DIR overrides the folder): every weighted layer,
 *      its weights taken out of the file as dense (scalpel_gcsr_to_dense for GCSR layers), then
 *      the same three kernels: matrix-vector for fc, matrix-matrix for conv with
 *      n = out_h * out_w positions and a random B [cols x positions] (im2col's shape).
 *   3. N:M for reference: 4096 x 4096 dense random weights projected (scalpel_nm_from_dense) to
 *      1:4, 2:4, 2:8, 4:8, 1:16, 8:16, and the TASD series 2:8+1:8 and 4:8+2:8
 *      (scalpel_tasd_decompose): scalpel_nm_spmv_f32 / scalpel_tasd_spmv_f32 against dense gemv.
 *
 * THE CEILING: per matrix, the most any exact split into groups of G plus CSR could gain over
 *   CSR under the costs measured for it (split_ceiling): a ceiling under the target means no
 *   split with these kernels can reach it on this machine.
 *
 * THE TARGET (the issue's): the hybrid at least 1.5x faster than CSR wherever CSR beats dense,
 * and never slower than the better of CSR and dense. "Never slower" allows NOISE (3 %) of
 * measurement noise; the 1.5x is checked as stated. Each line gets PASS or MISS; a miss is
 * reported, not an error (exit 0).
 *
 * HOW (bench.c's scheme)
 *   The kernels of one comparison are one interleaved set: each gets an iteration count whose
 *   loop lasts at least BENCH_MIN_MS (default 20 ms); then in each of BENCH_REPEATS rounds
 *   (default 11, odd, 7..21) every kernel runs one untimed loop (the caches settle on its data)
 *   and one timed loop (clock_gettime(CLOCK_MONOTONIC)), in an order rotated per round; its time
 *   is the median over the rounds. The worst interquartile spread is printed.
 *   Every kernel's result is checked against a double-precision product of the same matrix
 *   (max |y - ref| / max |ref| < 1e-4) before timing and again after; a failure exits 1. Every
 *   hybrid is also checked to be exact (scalpel_hybrid_to_dense gives W back).
 *
 * Only the public API is used; the library and libm, no OpenBLAS.
 */
#define _POSIX_C_SOURCE 200112L   /* clock_gettime */

#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPEATS 21
#define MAX_OPS 12
#define CHECK_TOL 1e-4     /* max |y - ref| / max |ref| */
#define NOISE 0.03         /* "never slower" allows this much measurement noise */
#define TARGET 1.5         /* hybrid over CSR, where CSR beats dense */
#define BIG 4096
#define MM_N 64
#define N_G 3

static const int32_t g_groups[N_G] = { 4, 8, 16 };
static int g_repeats = 11;
static double g_min_time = 0.020;
static double g_worst_spread = 0.0;
static double g_section_spread = 0.0;
static double g_worst_check = 0.0;
static int g_pass = 0, g_miss = 0;

static long env_long(const char *name, long fallback, long lo, long hi)
{
    const char *s = getenv(name);
    char *end = NULL;
    long v;
    if (!s || !*s) return fallback;
    v = strtol(s, &end, 10);
    if (!end || *end != '\0') return fallback;
    return v < lo ? lo : v > hi ? hi : v;
}

static void must(scalpel_status st, const char *what)
{
    if (st != SCALPEL_OK) {
        fprintf(stderr, "bench_decomp: %s failed: %s\n", what, scalpel_status_string(st));
        exit(1);
    }
}

/* 64-byte aligned, as a network's weights are: AVX-512 loads of a misaligned dense matrix
 * straddle cache lines and would make dense look slower than it runs. */
static void *xmalloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 1) != 0) p = NULL;
    if (!p) { fprintf(stderr, "bench_decomp: out of memory (%lu bytes)\n", (unsigned long)n); exit(1); }
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- random numbers (splitmix64, fixed seeds) -------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

/* magnitudes in [1/16, 1] * scale, random sign: never zero */
static void fill(float *p, size_t n, float scale, uint64_t *s)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint64_t u = rng_next(s);
        float mag = 0.0625f + 0.9375f * (float)(u >> 40) * (1.0f / 16777216.0f);
        p[i] = ((u & 1u) ? -mag : mag) * scale;
    }
}

static int64_t count_nonzero(const float *w, size_t n)
{
    size_t i;
    int64_t c = 0;
    for (i = 0; i < n; i++) c += w[i] != 0.0f;
    return c;
}

/* ---- reference products and checks --------------------------------------------------------- */

/* ref[rows x n] = W[rows x cols] . B[cols x n] in double (n = 1: matrix-vector), zeros skipped */
static double *ref_product(const float *w, int32_t rows, int32_t cols, const float *b, int32_t n)
{
    double *ref = (double *)xmalloc((size_t)rows * (size_t)n * sizeof(double));
    int32_t r, c, j;
    for (r = 0; r < rows; r++) {
        double *o = ref + (size_t)r * (size_t)n;
        const float *wr = w + (size_t)r * (size_t)cols;
        for (j = 0; j < n; j++) o[j] = 0.0;
        for (c = 0; c < cols; c++) {
            const double v = (double)wr[c];
            const float *bp = b + (size_t)c * (size_t)n;
            if (v == 0.0) continue;
            for (j = 0; j < n; j++) o[j] += v * (double)bp[j];
        }
    }
    return ref;
}

static void check(const char *what, const float *y, const double *ref, size_t count)
{
    double scale = 0.0, worst = 0.0;
    size_t i;
    for (i = 0; i < count; i++) if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    if (scale == 0.0) scale = 1.0;
    for (i = 0; i < count; i++) {
        double d = fabs((double)y[i] - ref[i]) / scale;
        if (d != d) { worst = d; break; }   /* NaN: an output never written */
        if (d > worst) worst = d;
    }
    if (worst > g_worst_check) g_worst_check = worst;
    if (!(worst < CHECK_TOL)) {
        fprintf(stderr, "bench_decomp: %s: result differs from the double-precision reference by %g "
                "(tolerance %g)\n", what, worst, CHECK_TOL);
        exit(1);
    }
}

/* ---- kernels as timed operations --------------------------------------------------------- */

enum op_kind { OP_GEMV, OP_GCSR_MV, OP_HYB_MV, OP_NM_MV, OP_TASD_MV, OP_GEMM, OP_GCSR_MM, OP_HYB_MM };

typedef struct op {
    char name[32];
    int kind;
    const float *w;          /* dense */
    int32_t rows, cols, n;   /* n: columns of B for the matrix-matrix kinds */
    const scalpel_gcsr *g;
    const scalpel_hybrid *h;
    const scalpel_nm *nm;
    const scalpel_tasd *t;
    const float *x;          /* x[cols] or B[cols x n] */
    float *y;                /* y[rows] or C[rows x n] */
    const double *ref;       /* the same product in double */
    long iters;
    double samples[MAX_REPEATS];
    double median, spread;
} op;

static void op_run(const op *o)
{
    switch (o->kind) {
    case OP_GEMV: scalpel_gemv_f32(o->w, o->rows, o->cols, o->x, o->y); break;
    case OP_GCSR_MV: scalpel_gcsr_spmv_f32(o->g, o->x, o->y); break;
    case OP_HYB_MV: scalpel_hybrid_spmv_f32(o->h, o->x, o->y); break;
    case OP_NM_MV: scalpel_nm_spmv_f32(o->nm, o->x, o->y); break;
    case OP_TASD_MV: scalpel_tasd_spmv_f32(o->t, o->x, o->y); break;
    case OP_GEMM: scalpel_gemm_f32(o->w, o->rows, o->cols, o->x, o->n, o->y); break;
    case OP_GCSR_MM: scalpel_gcsr_spmm_f32(o->g, o->x, o->n, o->y); break;
    default: scalpel_hybrid_spmm_f32(o->h, o->x, o->n, o->y); break;
    }
}

static size_t op_out_count(const op *o)
{
    int mm = o->kind == OP_GEMM || o->kind == OP_GCSR_MM || o->kind == OP_HYB_MM;
    return (size_t)o->rows * (size_t)(mm ? o->n : 1);
}

static void op_check(const op *o)
{
    memset(o->y, 0xff, op_out_count(o) * sizeof(float));   /* NaNs: a kernel must write all */
    op_run(o);
    check(o->name, o->y, o->ref, op_out_count(o));
}

static double time_loop(const op *o, long iters)
{
    double t0 = now_s();
    long i;
    for (i = 0; i < iters; i++) op_run(o);
    return now_s() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The set ops[n] interleaved: loops of >= g_min_time, g_repeats rounds, medians. Checks every
 * result before and after. `label` goes to stderr with the per-kernel figures. */
static void measure(op *ops, int n, const char *label)
{
    int i, r;
    for (i = 0; i < n; i++) op_check(&ops[i]);
    for (i = 0; i < n; i++) {
        op *o = &ops[i];
        o->iters = 1;
        time_loop(o, 1);
        for (;;) {
            double t = time_loop(o, o->iters), grow;
            if (t >= g_min_time) break;
            grow = t > 0.0 ? 1.25 * g_min_time / t : 100.0;
            if (grow > 100.0) grow = 100.0;
            if (grow < 2.0) grow = 2.0;
            o->iters = (long)((double)o->iters * grow) + 1;
        }
    }
    for (r = 0; r < g_repeats; r++)
        for (i = 0; i < n; i++) {
            op *o = &ops[(r + i) % n];
            time_loop(o, o->iters);                 /* untimed: settle the caches */
            o->samples[r] = time_loop(o, o->iters) / (double)o->iters;
        }
    fprintf(stderr, "bench_decomp: %s\n", label);
    for (i = 0; i < n; i++) {
        op *o = &ops[i];
        qsort(o->samples, (size_t)g_repeats, sizeof o->samples[0], cmp_double);
        o->median = o->samples[g_repeats / 2];
        o->spread = (o->samples[(3 * g_repeats) / 4] - o->samples[g_repeats / 4]) / o->median;
        if (o->spread > g_worst_spread) g_worst_spread = o->spread;
        if (o->spread > g_section_spread) g_section_spread = o->spread;
        fprintf(stderr, "  %-14s %12.3f us  (loop x%ld, spread %.1f%%)\n", o->name, o->median * 1e6,
                o->iters, 100.0 * o->spread);
    }
    for (i = 0; i < n; i++) op_check(&ops[i]);
}

/* ---- formatting ----------------------------------------------------------------------------- */

static const char *fmt_time(double s, char *buf, size_t n)
{
    if (s >= 1e-3) snprintf(buf, n, "%.3f ms", s * 1e3);
    else snprintf(buf, n, "%.2f us", s * 1e6);
    return buf;
}

/* PASS / MISS against the target, with the reason; counts into g_pass / g_miss. */
static const char *verdict(double dense, double csr, double hyb, double ceiling, char *buf, size_t n)
{
    double better = csr < dense ? csr : dense;
    int slow = hyb > (1.0 + NOISE) * better;
    int need = csr < dense;
    int fast = !need || csr / hyb >= TARGET;
    if (!slow && fast) {
        snprintf(buf, n, need ? "PASS" : "PASS (dense beats CSR: only \"never slower\" applies)");
        g_pass++;
    } else {
        char a[80] = "", b[80] = "";
        if (need && !fast)
            snprintf(a, sizeof a, "%.2fx over CSR < %.1fx%s", csr / hyb, TARGET,
                     ceiling < TARGET ? " (the target is above the ceiling)" : "");
        if (slow) snprintf(b, sizeof b, "%.2fx slower than %s", hyb / better, csr < dense ? "CSR" : "dense");
        snprintf(buf, n, "MISS: %s%s%s", a, *a && *b ? "; " : "", b);
        g_miss++;
    }
    return buf;
}

/* Fraction of W's nonzeros that went to the grouped part of h. */
static double grouped_share(const scalpel_hybrid *h, int64_t nnz)
{
    int64_t in_g = count_nonzero((const float *)h->grouped.values,
                                 (size_t)h->grouped.nnz_groups * (size_t)h->grouped.group);
    return nnz > 0 ? (double)in_g / (double)nnz : 0.0;
}

/* The hybrid of w with group g, costs measured for this shape; checked exact. */
static void build_hybrid(const float *w, int32_t rows, int32_t cols, int32_t group, int32_t n,
                         scalpel_hybrid *h, scalpel_hybrid_costs *costs)
{
    size_t count = (size_t)rows * (size_t)cols, i;
    float *back = (float *)xmalloc(count * sizeof(float));
    must(scalpel_hybrid_costs_measure(rows, cols, group, n, costs), "scalpel_hybrid_costs_measure");
    must(scalpel_hybrid_from_dense(w, rows, cols, group, costs, h), "scalpel_hybrid_from_dense");
    must(scalpel_hybrid_validate(h), "scalpel_hybrid_validate");
    must(scalpel_hybrid_to_dense(h, back), "scalpel_hybrid_to_dense");
    for (i = 0; i < count; i++)
        if (back[i] != w[i]) {
            fprintf(stderr, "bench_decomp: hybrid G=%d of a %d x %d matrix is not exact at %lu (%g, not %g)\n",
                    (int)group, (int)rows, (int)cols, (unsigned long)i, (double)back[i], (double)w[i]);
            exit(1);
        }
    free(back);
}

/* The most any exact split of w into groups of G plus CSR can gain over CSR under the measured
 * costs: each aligned group of G columns holding k nonzeros, moved to the grouped part, saves
 * k * nonzero - group (if positive), and every group is free to choose, so the best split costs
 * nnz * nonzero - (the sum of those savings). The ceiling is CSR's cost over that. Per-row
 * costs and the kernels' other overheads only bring a real split closer to 1, so a ceiling
 * under the target means no split with these kernels on this machine reaches it. */
static double split_ceiling(const float *w, int32_t rows, int32_t cols, int32_t group, const scalpel_hybrid_costs *c)
{
    double all = 0.0, saved = 0.0;
    int32_t r, c0, j;
    for (r = 0; r < rows; r++)
        for (c0 = 0; c0 < cols; c0 += group) {
            int32_t k = 0;
            for (j = c0; j < cols && j < c0 + group; j++) k += w[(size_t)r * (size_t)cols + (size_t)j] != 0.0f;
            all += (double)k * c->nonzero;
            if ((double)k * c->nonzero > c->group) saved += (double)k * c->nonzero - c->group;
        }
    return all > saved ? all / (all - saved) : 1e9;
}

/* ---- the three-way comparison of one matrix ---------------------------------------------------
 * Dense, CSR and the hybrids with G = 4, 8, 16 on w [rows x cols], matrix-vector (n == 0) or
 * matrix-matrix with a random B [cols x n]. Fills a result the callers print. */

typedef struct cmp_result {
    double dense, csr, hyb[N_G];
    int best;                       /* index into g_groups */
    double share[N_G];              /* nonzeros in the grouped part */
    double ceiling;                 /* split_ceiling, the best G */
    scalpel_hybrid_costs costs[N_G];
    int64_t nnz;
} cmp_result;

static void compare(const char *label, const float *w, int32_t rows, int32_t cols, int32_t n,
                    uint64_t *seed, cmp_result *res)
{
    op ops[2 + N_G];
    scalpel_gcsr csr;
    scalpel_hybrid h[N_G];
    size_t nin = (size_t)cols * (size_t)(n ? n : 1), nout = (size_t)rows * (size_t)(n ? n : 1);
    float *x = (float *)xmalloc(nin * sizeof(float));
    double *ref;
    int i;

    memset(res, 0, sizeof *res);
    memset(ops, 0, sizeof ops);
    res->nnz = count_nonzero(w, (size_t)rows * (size_t)cols);
    fill(x, nin, 1.0f, seed);
    ref = ref_product(w, rows, cols, x, n ? n : 1);
    must(scalpel_gcsr_from_dense(w, rows, cols, 1, &csr), "scalpel_gcsr_from_dense (CSR)");
    for (i = 0; i < N_G; i++) {
        build_hybrid(w, rows, cols, g_groups[i], n, &h[i], &res->costs[i]);
        res->share[i] = grouped_share(&h[i], res->nnz);
        {
            double cl = split_ceiling(w, rows, cols, g_groups[i], &res->costs[i]);
            if (cl > res->ceiling) res->ceiling = cl;
        }
    }
    for (i = 0; i < 2 + N_G; i++) {
        op *o = &ops[i];
        o->w = w;
        o->rows = rows;
        o->cols = cols;
        o->n = n;
        o->x = x;
        o->y = (float *)xmalloc(nout * sizeof(float));
        o->ref = ref;
        if (i == 0) { o->kind = n ? OP_GEMM : OP_GEMV; snprintf(o->name, sizeof o->name, "dense"); }
        else if (i == 1) { o->kind = n ? OP_GCSR_MM : OP_GCSR_MV; o->g = &csr; snprintf(o->name, sizeof o->name, "CSR"); }
        else {
            o->kind = n ? OP_HYB_MM : OP_HYB_MV;
            o->h = &h[i - 2];
            snprintf(o->name, sizeof o->name, "hybrid G=%d", (int)g_groups[i - 2]);
        }
    }
    measure(ops, 2 + N_G, label);
    res->dense = ops[0].median;
    res->csr = ops[1].median;
    res->best = 0;
    for (i = 0; i < N_G; i++) {
        res->hyb[i] = ops[2 + i].median;
        if (res->hyb[i] < res->hyb[res->best]) res->best = i;
    }
    for (i = 0; i < 2 + N_G; i++) free(ops[i].y);
    for (i = 0; i < N_G; i++) scalpel_hybrid_free(&h[i]);
    scalpel_gcsr_free(&csr);
    free(ref);
    free(x);
}

static void print_cmp_header(const char *first)
{
    printf("| %s | dense | CSR | hybrid G=4 | hybrid G=8 | hybrid G=16 | best | CSR / best | ceiling | dense / best "
           "| nonzeros grouped (G=4 / 8 / 16) | target |\n", first);
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
}

static void print_cmp_row(const char *first, const cmp_result *r)
{
    char t[2 + N_G][24], v[128];
    double hb = r->hyb[r->best];
    int i;
    printf("| %s | %s | %s", first, fmt_time(r->dense, t[0], sizeof t[0]), fmt_time(r->csr, t[1], sizeof t[1]));
    for (i = 0; i < N_G; i++) printf(" | %s", fmt_time(r->hyb[i], t[2 + i], sizeof t[2 + i]));
    printf(" | G=%d | %.2fx | %.2fx | %.2fx | %.1f%% / %.1f%% / %.1f%% | %s |\n", (int)g_groups[r->best], r->csr / hb,
           r->ceiling, r->dense / hb, 100.0 * r->share[0], 100.0 * r->share[1], 100.0 * r->share[2],
           verdict(r->dense, r->csr, hb, r->ceiling, v, sizeof v));
}

static void print_costs(const char *what, const cmp_result *r, int n_res, const char *const *labels)
{
    int k, i;
    printf("Costs given to `scalpel_hybrid_from_dense` (`scalpel_hybrid_costs_measure`, %s; ns per stored "
           "group of G / ns per CSR nonzero):\n\n", what);
    printf("| matrix | G=4 | G=8 | G=16 |\n| --- | ---: | ---: | ---: |\n");
    for (k = 0; k < n_res; k++) {
        printf("| %s", labels[k]);
        for (i = 0; i < N_G; i++)
            printf(" | %.3f / %.3f", 1e9 * r[k].costs[i].group, 1e9 * r[k].costs[i].nonzero);
        printf(" |\n");
    }
    printf("\n");
}

/* ---- section 1: 4096 x 4096, unstructured ----------------------------------------------- */

static void random_pruned(float *w, size_t n, double p, uint64_t *seed)
{
    size_t i;
    fill(w, n, 1.0f / 64.0f, seed);
    for (i = 0; i < n; i++) if (rng_unit(seed) < p) w[i] = 0.0f;
}

static void section_unstructured(void)
{
    static const double rates[] = { 0.80, 0.90, 0.95, 0.99 };
    enum { N_RATES = sizeof rates / sizeof rates[0] };
    cmp_result res[N_RATES], mm;
    char labels[N_RATES][40], label[64];
    const char *lp[N_RATES];
    float *w = (float *)xmalloc((size_t)BIG * BIG * sizeof(float));
    uint64_t seed = 0xDEC0390ULL;
    int k;

    g_section_spread = 0.0;
    printf("## 1. %d x %d, unstructured random zeros\n\n", BIG, BIG);
    printf("Each weight zero independently with probability p (fixed seed). Times are per product; "
           "\"best\" is the fastest of the three hybrids; \"ceiling\" is the most that any exact split "
           "into groups of G (the best G) plus CSR could gain over CSR under the costs measured below (each "
           "aligned group of G moved to the grouped part when that saves time); \"nonzeros grouped\" is "
           "the share of W's nonzeros that the row split put into the grouped part.\n\n");
    printf("### Matrix-vector\n\n");
    for (k = 0; k < N_RATES; k++) {
        random_pruned(w, (size_t)BIG * BIG, rates[k], &seed);
        snprintf(labels[k], sizeof labels[k], "%.0f%% (%.2f%% zero)", 100.0 * rates[k],
                 100.0 * (1.0 - (double)count_nonzero(w, (size_t)BIG * BIG) / ((double)BIG * BIG)));
        lp[k] = labels[k];
        snprintf(label, sizeof label, "%d x %d at %.0f%%, matrix-vector", BIG, BIG, 100.0 * rates[k]);
        compare(label, w, BIG, BIG, 0, &seed, &res[k]);
    }
    print_cmp_header("zeros");
    for (k = 0; k < N_RATES; k++) print_cmp_row(labels[k], &res[k]);
    printf("\n");
    print_costs("matrix-vector, n = 0", res, N_RATES, lp);

    printf("### Matrix-matrix, B %d x %d, at 90%%\n\n", BIG, MM_N);
    random_pruned(w, (size_t)BIG * BIG, 0.90, &seed);
    snprintf(label, sizeof label, "%d x %d at 90%%, matrix-matrix n = %d", BIG, BIG, MM_N);
    compare(label, w, BIG, BIG, MM_N, &seed, &mm);
    print_cmp_header("zeros");
    snprintf(labels[0], sizeof labels[0], "90%% (%.2f%% zero), n = %d",
             100.0 * (1.0 - (double)mm.nnz / ((double)BIG * BIG)), MM_N);
    print_cmp_row(labels[0], &mm);
    printf("\n");
    lp[0] = labels[0];
    print_costs("matrix-matrix, n = 64", &mm, 1, lp);
    printf("Largest interquartile spread in this section: %.1f%%.\n\n", 100.0 * g_section_spread);
    free(w);
}

/* ---- section 2: the LeNets pruned the traditional way --------------------------------------- */

/* Dense weights of layer L (the caller frees), whatever its storage. */
static float *layer_dense(const scalpel_layer *L)
{
    size_t n = (size_t)L->geom.rows * (size_t)L->geom.cols;
    float *w = (float *)xmalloc(n * sizeof(float));
    switch (L->storage) {
    case SCALPEL_STORAGE_DENSE: memcpy(w, L->w, n * sizeof(float)); break;
    case SCALPEL_STORAGE_GCSR: must(scalpel_gcsr_to_dense(&L->sparse, w), "scalpel_gcsr_to_dense"); break;
    case SCALPEL_STORAGE_HYBRID: {
        scalpel_hybrid h;
        h.grouped = L->sparse;
        h.residual = L->residual;
        must(scalpel_hybrid_to_dense(&h, w), "scalpel_hybrid_to_dense");
        break;
    }
    default: must(scalpel_tasd_to_dense(L->series, w), "scalpel_tasd_to_dense"); break;
    }
    return w;
}

static const char *storage_name(const scalpel_layer *L, char *buf, size_t n)
{
    switch (L->storage) {
    case SCALPEL_STORAGE_DENSE: snprintf(buf, n, "dense"); break;
    case SCALPEL_STORAGE_GCSR:
        if (L->sparse.group == 1) snprintf(buf, n, "CSR");
        else snprintf(buf, n, "G=%d", (int)L->sparse.group);
        break;
    case SCALPEL_STORAGE_HYBRID: snprintf(buf, n, "hybrid"); break;
    default: snprintf(buf, n, "TASD"); break;
    }
    return buf;
}

static void bench_model_file(const char *dir, const char *file, uint64_t *seed)
{
    char path[1024], label[160], first[160], sb[16];
    scalpel_net net;
    scalpel_status st;
    cmp_result res[SCALPEL_NET_MAX_LAYERS];
    const char *lp[SCALPEL_NET_MAX_LAYERS];
    char labels[SCALPEL_NET_MAX_LAYERS][48];
    int32_t i, k = 0;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    printf("### %s\n\n", path);
    f = fopen(path, "rb");
    if (f == NULL) {
        printf("Skipped: `%s` not found (set SCALPEL_MODELS_DIR to the folder holding it).\n\n", path);
        return;
    }
    fclose(f);
    memset(&net, 0, sizeof net);
    st = scalpel_net_load(path, &net);
    if (st != SCALPEL_OK) {
        fprintf(stderr, "bench_decomp: scalpel_net_load(%s) failed: %s\n", path, scalpel_status_string(st));
        exit(1);
    }
    print_cmp_header("layer");
    for (i = 0; i < net.n_layers; i++) {
        const scalpel_layer *L = &net.layers[i];
        int conv = L->geom.kind == SCALPEL_LAYER_CONV2D;
        int32_t n;
        float *w;
        if (L->geom.kind != SCALPEL_LAYER_FC && !conv) continue;
        n = conv ? L->geom.out_h * L->geom.out_w : 0;
        w = layer_dense(L);
        snprintf(label, sizeof label, "%s layer %d (%s %d x %d)", file, (int)i, scalpel_layer_kind_name(L->geom.kind),
                 (int)L->geom.rows, (int)L->geom.cols);
        compare(label, w, L->geom.rows, L->geom.cols, n, seed, &res[k]);
        snprintf(first, sizeof first, "%d %s %d x %d, %.1f%% zero, file: %s", (int)i,
                 scalpel_layer_kind_name(L->geom.kind), (int)L->geom.rows, (int)L->geom.cols,
                 100.0 * (1.0 - (double)res[k].nnz / ((double)L->geom.rows * (double)L->geom.cols)),
                 storage_name(L, sb, sizeof sb));
        if (conv) {
            size_t len = strlen(first);
            snprintf(first + len, sizeof first - len, "; x B %d x %d", (int)L->geom.cols, (int)n);
        }
        print_cmp_row(first, &res[k]);
        fflush(stdout);
        snprintf(labels[k], sizeof labels[k], "%d %s %d x %d", (int)i, scalpel_layer_kind_name(L->geom.kind),
                 (int)L->geom.rows, (int)L->geom.cols);
        lp[k] = labels[k];
        k++;
        free(w);
    }
    printf("\n");
    print_costs("fc: n = 0; conv: n = positions", res, k, lp);
    scalpel_net_free(&net);
}

static void section_lenet(void)
{
    const char *dir = getenv("SCALPEL_MODELS_DIR");
    uint64_t seed = 0x1E7E7ULL;
    if (dir == NULL || *dir == '\0') dir = "../models";
    g_section_spread = 0.0;
    printf("## 2. LeNets pruned the traditional way\n\n");
    printf("The trained models of `models/` (Han et al.'s magnitude pruning with retraining), every "
           "weighted layer as stored, taken out as dense weights and rebuilt as CSR and as hybrids. fc "
           "layers: matrix-vector (batch 1); conv layers: matrix-matrix with the im2col shape, a random "
           "B [cols x out_h*out_w].\n\n");
    bench_model_file(dir, "lenet300-traditional.scpn", &seed);
    bench_model_file(dir, "lenet5-traditional.scpn", &seed);
    printf("Largest interquartile spread in this section: %.1f%%.\n\n", 100.0 * g_section_spread);
}

/* ---- section 3: N:M for reference ----------------------------------------------------------- */

static void section_nm(void)
{
    static const int32_t nms[][2] = { { 1, 4 }, { 2, 4 }, { 2, 8 }, { 4, 8 }, { 1, 16 }, { 8, 16 } };
    static const char *const series[] = { "2:8+1:8", "4:8+2:8" };
    enum { N_NM = sizeof nms / sizeof nms[0], N_S = sizeof series / sizeof series[0], N_OPS = 1 + N_NM + N_S };
    size_t count = (size_t)BIG * BIG;
    float *w = (float *)xmalloc(count * sizeof(float)), *tmp = (float *)xmalloc(count * sizeof(float));
    float *x = (float *)xmalloc((size_t)BIG * sizeof(float));
    scalpel_nm nm[N_NM];
    scalpel_tasd ts[N_S];
    op ops[N_OPS];
    double err[N_OPS], wnorm = 0.0;
    size_t bytes[N_OPS], i;
    uint64_t seed = 0x4E3AULL;
    int k;

    g_section_spread = 0.0;
    memset(ops, 0, sizeof ops);
    fill(w, count, 1.0f / 64.0f, &seed);
    fill(x, (size_t)BIG, 1.0f, &seed);
    for (i = 0; i < count; i++) wnorm += (double)w[i] * (double)w[i];
    for (k = 0; k < N_OPS; k++) {
        op *o = &ops[k];
        const float *dense = w;
        o->rows = o->cols = BIG;
        o->x = x;
        o->y = (float *)xmalloc((size_t)BIG * sizeof(float));
        if (k == 0) {
            o->kind = OP_GEMV;
            o->w = w;
            snprintf(o->name, sizeof o->name, "dense");
            bytes[k] = count * sizeof(float);
        } else if (k <= N_NM) {
            scalpel_nm *m = &nm[k - 1];
            must(scalpel_nm_from_dense(w, BIG, BIG, nms[k - 1][0], nms[k - 1][1], m), "scalpel_nm_from_dense");
            must(scalpel_nm_to_dense(m, tmp), "scalpel_nm_to_dense");
            o->kind = OP_NM_MV;
            o->nm = m;
            snprintf(o->name, sizeof o->name, "%d:%d", (int)nms[k - 1][0], (int)nms[k - 1][1]);
            bytes[k] = scalpel_nm_bytes(m);
            dense = tmp;
        } else {
            scalpel_tasd_spec spec;
            scalpel_tasd *t = &ts[k - 1 - N_NM];
            must(scalpel_tasd_parse(series[k - 1 - N_NM], &spec), "scalpel_tasd_parse");
            must(scalpel_tasd_decompose(w, BIG, BIG, &spec, t, NULL), "scalpel_tasd_decompose");
            must(scalpel_tasd_to_dense(t, tmp), "scalpel_tasd_to_dense");
            o->kind = OP_TASD_MV;
            o->t = t;
            snprintf(o->name, sizeof o->name, "TASD %s", series[k - 1 - N_NM]);
            bytes[k] = scalpel_tasd_bytes(t);
            dense = tmp;
        }
        {
            double e = 0.0;
            for (i = 0; i < count; i++) {
                double d = (double)w[i] - (double)dense[i];
                e += d * d;
            }
            err[k] = sqrt(e / wnorm);
        }
        o->ref = ref_product(dense, BIG, BIG, x, 1);
    }
    measure(ops, N_OPS, "N:M, 4096 x 4096, matrix-vector");

    printf("## 3. N:M kernels for reference (%d x %d, matrix-vector)\n\n", BIG, BIG);
    printf("Dense random weights (no zeros) projected to N:M (`scalpel_nm_from_dense`: the N largest "
           "magnitudes of every aligned group of M) or decomposed into a TASD series "
           "(`scalpel_tasd_decompose`); each kernel is checked against its own projected matrix. "
           "\"dropped\" is ||W - W'||_F / ||W||_F.\n\n");
    printf("| format | kept | time | dense / time | bytes | bytes / dense | dropped |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (k = 0; k < N_OPS; k++) {
        char tb[24], kept[16];
        const op *o = &ops[k];
        if (k == 0) snprintf(kept, sizeof kept, "100%%");
        else if (k <= N_NM) snprintf(kept, sizeof kept, "%.1f%%", 100.0 * nms[k - 1][0] / nms[k - 1][1]);
        else snprintf(kept, sizeof kept, "%.1f%%", k == N_NM + 1 ? 100.0 * 3.0 / 8.0 : 100.0 * 6.0 / 8.0);
        printf("| %s | %s | %s | %.2fx | %lu | %.1f%% | %.3f |\n", o->name, kept, fmt_time(o->median, tb, sizeof tb),
               ops[0].median / o->median, (unsigned long)bytes[k], 100.0 * (double)bytes[k] / (double)bytes[0], err[k]);
    }
    printf("\nLargest interquartile spread in this section: %.1f%%.\n\n", 100.0 * g_section_spread);

    for (k = 0; k < N_OPS; k++) { free(ops[k].y); free((void *)ops[k].ref); }
    for (k = 0; k < N_NM; k++) scalpel_nm_free(&nm[k]);
    for (k = 0; k < N_S; k++) scalpel_tasd_free(&ts[k]);
    free(w);
    free(tmp);
    free(x);
}

/* The 1-minute load average (Linux), or -1: other work on the machine shows up as spread. */
static double load_average(void)
{
    double v = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f == NULL) return -1.0;
    if (fscanf(f, "%lf", &v) != 1) v = -1.0;
    fclose(f);
    return v;
}

int main(void)
{
    double t0 = now_s();
    g_repeats = (int)env_long("BENCH_REPEATS", 11, 7, MAX_REPEATS) | 1;
    if (g_repeats > MAX_REPEATS) g_repeats = MAX_REPEATS;
    g_min_time = 1e-3 * (double)env_long("BENCH_MIN_MS", 20, 1, 1000);

    printf("# Scalpel decomposition benchmark: the exact hybrid against CSR and dense\n\n");
    printf("- scalpel backend: `%s`\n", scalpel_kernels_backend());
#if defined(__VERSION__)
    printf("- compiler: %s\n", __VERSION__);
#endif
    printf("- timing: median of %d interleaved rounds, each a loop of >= %.0f ms, one thread, fp32\n",
           g_repeats, g_min_time * 1e3);
    printf("- target: hybrid (the best of G = 4, 8, 16) >= %.1fx faster than CSR wherever CSR beats dense, "
           "and never slower than min(CSR, dense), the latter allowing %.0f%% measurement noise\n",
           TARGET, 100.0 * NOISE);
    if (load_average() >= 0.0)
        printf("- machine load at the start (1-minute average, /proc/loadavg): %.2f\n", load_average());
    printf("\n");
    fflush(stdout);
    section_unstructured();
    fflush(stdout);
    section_lenet();
    fflush(stdout);
    section_nm();
    printf("## Summary\n\n");
    printf("- target: %d PASS, %d MISS (rows of sections 1 and 2)\n", g_pass, g_miss);
    printf("- noise: \"never slower\" allowed %.0f%%; the largest interquartile spread of any measurement "
           "was %.1f%%\n", 100.0 * NOISE, 100.0 * g_worst_spread);
    printf("- every timed result agreed with its double-precision reference (worst relative difference "
           "%.1e, tolerance %.0e); every hybrid gave its matrix back exactly\n", g_worst_check, CHECK_TOL);
    if (load_average() >= 0.0) printf("- machine load at the end: %.2f\n", load_average());
    printf("- total time: %.0f s\n", now_s() - t0);
    return 0;
}
