/* bench.c - the Scalpel kernel benchmark: one single-threaded fp32 run that times scalpel's
 * dense and grouped-sparse kernels side by side with OpenBLAS (dense) and Eigen (CSR), and
 * prints a markdown report.
 *
 * WHAT IS MEASURED
 *   1. Dense: scalpel_gemv_f32 vs cblas_sgemv at 4096 x 4096 and at the LeNet-300-100 fully
 *      connected shapes 300 x 784, 100 x 300, 10 x 100; scalpel_gemm_f32 vs cblas_sgemm on
 *      the paper's CONV-as-GEMM shape 128 x 1200 . 1200 x 729.
 *   2. Sparse matrix-vector on 4096 x 4096 at pruning rates 0, 10, ..., 90, 99 %: grouped
 *      CSR with G = the SIMD width (16 with AVX-512, 8 with AVX2, 4 otherwise), G = 8 as
 *      well on AVX-512, and plain CSR (G = 1), each as time relative to our dense gemv (the
 *      paper's Figure 13 sweep) with the break-even pruning rate, and the speed-up over
 *      OpenBLAS sgemv at 90 %. The same sweep is repeated at 2048 x 2048, a size that stays
 *      in the last-level cache, to separate what the kernel costs from what the cache does.
 *   3. Our CSR (G = 1) against Eigen's CSR on the same 4096 x 4096 matrices, 50 .. 99 %.
 *   4. Sparse x dense matrix product 128 x 1200 . 1200 x 729 at rates 50 .. 99 % (the
 *      paper's Figure 14): grouped and CSR vs our dense gemm, and our CSR vs Eigen's.
 *   5. Memory bandwidth out of cache: dense gemv and grouped spmv (50 % pruned) on a matrix
 *      much larger than the caches (BENCH_BIG_MB, default 1500 MB of dense fp32, 32768
 *      columns), counting the bytes the kernel must stream (values + column indices + row
 *      pointers + x + y), against a STREAM-like triad a[i] = b[i] + s * c[i] over three
 *      arrays of the same total size (counted as STREAM does: 12 bytes per element), and a
 *      read-only sum over the same arrays.
 *   A summary then checks the project's performance targets and prints PASS or MISS for
 *   each. The program exits 0 whether targets are met or not: it is a report, not a test.
 *
 * HOW
 *   Everything runs on one thread (openblas_set_num_threads(1); the Makefile also sets
 *   OPENBLAS_NUM_THREADS=1). Kernels that are compared with each other are measured as one
 *   set, interleaved: each gets an iteration count whose loop lasts at least BENCH_MIN_MS
 *   (default 20 ms), then for each of BENCH_REPEATS rounds (default 11, odd, 7..21) every
 *   kernel of the set runs one untimed loop (so that the caches settle on its own data, as
 *   in a hot loop; near the edge of the last-level cache they need several calls for that)
 *   and then one timed loop, in an order rotated from round to round. A kernel's
 *   time is the median over the rounds of loop time / iterations, clock_gettime(
 *   CLOCK_MONOTONIC). Interleaving puts every kernel of a set through the same slow and
 *   fast phases of a shared machine, so their ratios stay meaningful when absolute times
 *   drift; the interquartile spread of every measurement is tracked and the worst printed.
 *   Weights and inputs come from a fixed-seed splitmix64 generator, uniform in
 *   +-[1/16, 1] so that no weight is zero by chance. Pruning zeroes whole aligned groups of
 *   G weights, [k*G, k*G+G) of a row, chosen uniformly at random over the whole matrix with
 *   exactly round(rate * groups) groups removed; for CSR (G = 1) the same rate of single
 *   weights is removed. Sparse matrices are built with scalpel_gcsr_from_dense, and every
 *   timed result is checked on a sample of rows against a double-precision product of the
 *   same (pruned) dense matrix.
 *
 * Only the public API of scalpel is used (scalpel_gcsr_from_dense, scalpel_gcsr_bytes,
 * scalpel_gcsr_free, scalpel_status_string, the kernels and scalpel_kernels_backend).
 */
#define _POSIX_C_SOURCE 200112L   /* clock_gettime, posix_memalign */

#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include "libcsr.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* OpenBLAS extensions; its cblas.h declares them too, repeated so a netlib cblas.h works */
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);
char *openblas_get_config(void);

#if defined(__AVX512F__)
#define BENCH_SIMD_G 16
#elif defined(__AVX2__)
#define BENCH_SIMD_G 8
#else
#define BENCH_SIMD_G 4
#endif

#define BENCH_MAX_REPEATS 21
#define BENCH_MAX_CASES 8
#define BENCH_CHECK_TOL 2e-4     /* |y - ref| / sum |w x|, per output */

/* ------------------------------------------------------------------------------------------
 * Settings, random numbers, memory
 * ---------------------------------------------------------------------------------------- */

static int g_repeats = 11;
static double g_min_time = 0.020;              /* seconds per timed loop */
static double g_worst_spread = 0.0;            /* largest (q3 - q1) / median seen */
static char g_worst_spread_what[72] = "-";   /* = sizeof bench_case.what */
static int g_check_failures = 0;
static double g_check_worst = 0.0;

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

typedef struct bench_rng { uint64_t state; } bench_rng;

static uint64_t rng_next(bench_rng *r)   /* splitmix64 */
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(bench_rng *r)    /* [0, 1) */
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static void fill_random(float *p, size_t n, uint64_t seed)
{
    bench_rng r;
    size_t i;
    r.state = seed;
    for (i = 0; i < n; ++i) {
        uint64_t u = rng_next(&r);
        float mag = 0.0625f + 0.9375f * (float)(u >> 40) * (1.0f / 16777216.0f);
        p[i] = (u & 1u) ? -mag : mag;
    }
}

static void *xalloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
        fprintf(stderr, "bench: out of memory allocating %zu bytes "
                        "(try a smaller BENCH_BIG_MB)\n", bytes);
        exit(1);
    }
    return p;
}

static float *alloc_f32(size_t n) { return (float *)xalloc(n * sizeof(float)); }

/* Zeroes round(rate * groups) of the aligned groups [k*g, k*g+g) of the rows of w, chosen
 * uniformly at random by selection sampling (Knuth, TAOCP vol. 2, Algorithm S): exactly
 * that many groups go, spread over the whole matrix rather than a fixed count per row. */
static void prune_groups(float *w, int32_t rows, int32_t cols, int32_t g, double rate,
                         uint64_t seed)
{
    int64_t per_row = ((int64_t)cols + g - 1) / g;
    int64_t left = (int64_t)rows * per_row;
    int64_t need = (int64_t)llround(rate * (double)left);
    bench_rng r;
    int32_t row;
    r.state = seed;
    for (row = 0; row < rows; ++row) {
        float *wr = w + (size_t)row * (size_t)cols;
        int64_t k;
        for (k = 0; k < per_row; ++k, --left) {
            if (need > 0 && rng_unit(&r) * (double)left < (double)need) {
                int64_t c0 = k * g, c1 = c0 + g < cols ? c0 + g : cols;
                memset(wr + c0, 0, (size_t)(c1 - c0) * sizeof(float));
                --need;
            }
        }
    }
}

static scalpel_gcsr build_gcsr(const float *w, int32_t rows, int32_t cols, int32_t g)
{
    scalpel_gcsr m;
    scalpel_status st;
    memset(&m, 0, sizeof m);
    st = scalpel_gcsr_from_dense(w, rows, cols, g, &m);
    if (st != SCALPEL_OK) {
        fprintf(stderr, "bench: scalpel_gcsr_from_dense(%d x %d, G=%d) failed: %s\n",
                (int)rows, (int)cols, (int)g, scalpel_status_string(st));
        exit(1);
    }
    return m;
}

static libcsr *build_libcsr(const float *w, int32_t rows, int32_t cols)
{
    libcsr *a = libcsr_from_dense(w, rows, cols);
    if (!a) {
        fprintf(stderr, "bench: %s could not build a %d x %d matrix\n", libcsr_name(),
                (int)rows, (int)cols);
        exit(1);
    }
    return a;
}

/* ------------------------------------------------------------------------------------------
 * Timing: a set of cases measured interleaved (see HOW above)
 * ---------------------------------------------------------------------------------------- */

typedef void (*bench_fn)(const void *ctx);

typedef struct bench_case {
    char what[72];
    bench_fn fn;
    const void *ctx;
    long iters;
    double samples[BENCH_MAX_REPEATS];
    double median;                     /* seconds per call: the result */
} bench_case;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double time_loop(bench_fn fn, const void *ctx, long iters)
{
    double t0 = now_s();
    long i;
    for (i = 0; i < iters; ++i) fn(ctx);
    return now_s() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void set_case(bench_case *c, bench_fn fn, const void *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->what, sizeof c->what, fmt, ap);
    va_end(ap);
    c->fn = fn;
    c->ctx = ctx;
    c->iters = 0;
    c->median = 0.0;
}

static void measure(bench_case *cases, int n)
{
    int i, r;
    for (i = 0; i < n; ++i) {   /* calibrate: a loop of at least g_min_time */
        bench_case *c = &cases[i];
        c->iters = 1;
        c->fn(c->ctx);
        for (;;) {
            double t = time_loop(c->fn, c->ctx, c->iters), grow;
            if (t >= g_min_time) break;
            grow = t > 0.0 ? 1.25 * g_min_time / t : 100.0;
            if (grow > 100.0) grow = 100.0;
            if (grow < 2.0) grow = 2.0;
            c->iters = (long)((double)c->iters * grow) + 1;
        }
    }
    for (r = 0; r < g_repeats; ++r) {
        for (i = 0; i < n; ++i) {
            bench_case *c = &cases[(r + i) % n];
            time_loop(c->fn, c->ctx, c->iters);   /* untimed: settle the cache on c's data */
            c->samples[r] = time_loop(c->fn, c->ctx, c->iters) / (double)c->iters;
        }
    }
    for (i = 0; i < n; ++i) {
        bench_case *c = &cases[i];
        double spread;
        qsort(c->samples, (size_t)g_repeats, sizeof c->samples[0], cmp_double);
        c->median = c->samples[g_repeats / 2];
        spread = (c->samples[(3 * g_repeats) / 4] - c->samples[g_repeats / 4]) / c->median;
        if (spread > g_worst_spread) {
            g_worst_spread = spread;
            memcpy(g_worst_spread_what, c->what, sizeof c->what);
        }
        fprintf(stderr, "  %-44s %12.3f us  (loop x%ld, spread %.1f%%)\n", c->what,
                c->median * 1e6, c->iters, 100.0 * spread);
    }
}

/* ------------------------------------------------------------------------------------------
 * The timed operations
 * ---------------------------------------------------------------------------------------- */

typedef struct dense_mv { const float *w; int32_t rows, cols; const float *x; float *y; } dense_mv;
typedef struct dense_mm { const float *a; int32_t m, k, n; const float *b; float *c; } dense_mm;
typedef struct sparse_mv { const scalpel_gcsr *w; const float *x; float *y; } sparse_mv;
typedef struct sparse_mm { const scalpel_gcsr *w; const float *b; int32_t n; float *c; } sparse_mm;
typedef struct lib_mv { const libcsr *a; const float *x; float *y; } lib_mv;
typedef struct lib_mm { const libcsr *a; const float *b; int32_t n; float *c; } lib_mm;
/* one batch-1 convolution, stride 1, no padding: weights a [m x C*K*K], image in [C x H x W] */
typedef struct dense_conv { const float *a; int32_t m, c, h, w, k; const float *in; float *col, *out; } dense_conv;
typedef struct stream_op { float *a; const float *b, *c; size_t n; } stream_op;

static void run_gemv(const void *p)
{
    const dense_mv *o = (const dense_mv *)p;
    scalpel_gemv_f32(o->w, o->rows, o->cols, o->x, o->y);
}

static void run_sgemv(const void *p)
{
    const dense_mv *o = (const dense_mv *)p;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, o->rows, o->cols, 1.0f, o->w, o->cols, o->x, 1,
                0.0f, o->y, 1);
}

static void run_gemm(const void *p)
{
    const dense_mm *o = (const dense_mm *)p;
    scalpel_gemm_f32(o->a, o->m, o->k, o->b, o->n, o->c);
}

static void run_sgemm(const void *p)
{
    const dense_mm *o = (const dense_mm *)p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, o->m, o->n, o->k, 1.0f, o->a, o->k,
                o->b, o->n, 0.0f, o->c, o->n);
}

static void run_conv_implicit(const void *p)   /* scalpel_conv_gemm_f32: no im2col matrix */
{
    const dense_conv *o = (const dense_conv *)p;
    scalpel_conv_gemm_f32(o->a, o->m, o->in, o->c, o->h, o->w, o->k, o->out);
}
static void run_conv_im2col(const void *p)     /* im2col, then scalpel_gemm_f32 */
{
    const dense_conv *o = (const dense_conv *)p;
    int32_t n = (o->h - o->k + 1) * (o->w - o->k + 1);
    scalpel_im2col_f32(o->in, o->c, o->h, o->w, o->k, 1, 0, o->col);
    scalpel_gemm_f32(o->a, o->m, o->c * o->k * o->k, o->col, n, o->out);
}
static void run_conv_blas(const void *p)       /* im2col, then cblas_sgemm */
{
    const dense_conv *o = (const dense_conv *)p;
    int32_t n = (o->h - o->k + 1) * (o->w - o->k + 1), kk = o->c * o->k * o->k;
    scalpel_im2col_f32(o->in, o->c, o->h, o->w, o->k, 1, 0, o->col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, o->m, n, kk, 1.0f, o->a, kk, o->col, n, 0.0f, o->out, n);
}

static void run_spmv(const void *p)
{
    const sparse_mv *o = (const sparse_mv *)p;
    scalpel_gcsr_spmv_f32(o->w, o->x, o->y);
}

static void run_spmm(const void *p)
{
    const sparse_mm *o = (const sparse_mm *)p;
    scalpel_gcsr_spmm_f32(o->w, o->b, o->n, o->c);
}

static void run_lib_spmv(const void *p)
{
    const lib_mv *o = (const lib_mv *)p;
    libcsr_spmv(o->a, o->x, o->y);
}

static void run_lib_spmm(const void *p)
{
    const lib_mm *o = (const lib_mm *)p;
    libcsr_spmm(o->a, o->b, o->n, o->c);
}

static void triad(float *restrict a, const float *restrict b, const float *restrict c,
                  float s, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

static void run_triad(const void *p)
{
    const stream_op *o = (const stream_op *)p;
    triad(o->a, o->b, o->c, 3.0f, o->n);
}

static volatile float g_sink;

static float sum16(const float *p, size_t n)   /* 16 independent chains: not latency bound */
{
    float acc[16] = {0};
    size_t i;
    int l;
    for (i = 0; i + 16 <= n; i += 16)
        for (l = 0; l < 16; ++l) acc[l] += p[i + (size_t)l];
    for (l = 1; l < 16; ++l) acc[0] += acc[l];
    return acc[0];
}

static void run_sum(const void *p)   /* read-only stream over the three triad arrays */
{
    const stream_op *o = (const stream_op *)p;
    g_sink = sum16(o->a, o->n) + sum16(o->b, o->n) + sum16(o->c, o->n);
}

static void run_zero(const void *p)   /* write-only stream: one array set to zero */
{
    const stream_op *o = (const stream_op *)p;
    memset(o->a, 0, o->n * sizeof(float));
}

static void run_read(const void *p)   /* read-only stream over one array */
{
    const stream_op *o = (const stream_op *)p;
    g_sink = sum16(o->b, o->n);
}

/* ------------------------------------------------------------------------------------------
 * Checking results: C[rows x n] = W[rows x cols] . B[cols x n] on every step-th row, in
 * double precision, error per output relative to sum |w * b| (n = 1 for vectors)
 * ---------------------------------------------------------------------------------------- */

static void check_product(const char *what, const float *w, int32_t rows, int32_t cols,
                          const float *b, int32_t n, const float *c, int32_t step)
{
    double *acc = (double *)xalloc((size_t)n * 2 * sizeof(double)), *mag = acc + n, worst = 0.0;
    int32_t r, k, j;
    for (r = 0; r < rows; r += step) {
        const float *wr = w + (size_t)r * (size_t)cols;
        for (j = 0; j < n; ++j) acc[j] = mag[j] = 0.0;
        for (k = 0; k < cols; ++k) {
            const float *bk = b + (size_t)k * (size_t)n;
            double wk = wr[k];
            if (wk == 0.0) continue;
            for (j = 0; j < n; ++j) {
                acc[j] += wk * bk[j];
                mag[j] += fabs(wk * bk[j]);
            }
        }
        for (j = 0; j < n; ++j) {
            double got = c[(size_t)r * (size_t)n + (size_t)j];
            double err = fabs(got - acc[j]) / (mag[j] > 0.0 ? mag[j] : 1.0);
            if (!(err <= worst)) worst = err;   /* also catches NaN */
        }
    }
    free(acc);
    if (!(worst <= g_check_worst)) g_check_worst = worst;
    if (!(worst <= BENCH_CHECK_TOL)) {
        ++g_check_failures;
        printf("\n**WARNING: %s disagrees with the double-precision reference "
               "(relative error %.3g > %.1g)**\n\n", what, worst, BENCH_CHECK_TOL);
    }
}

/* ------------------------------------------------------------------------------------------
 * Formatting
 * ---------------------------------------------------------------------------------------- */

static const char *fmt_time(double s, char *buf, size_t size)
{
    if (s < 1e-3)
        snprintf(buf, size, "%.2f us", s * 1e6);
    else if (s < 1.0)
        snprintf(buf, size, "%.3f ms", s * 1e3);
    else
        snprintf(buf, size, "%.3f s", s);
    return buf;
}

#define T(s, buf) fmt_time((s), (buf), sizeof(buf))

/* The break-even pruning rate of a sweep: the rate above which the sparse kernel stays
 * faster than dense (relative time < 1), interpolated linearly between the two sweep points
 * where it crosses 1.0. -INFINITY: faster at the first rate; +INFINITY: never faster. */
static double break_even(const double *rates, const double *rel, int n)
{
    int j = n;
    while (j > 0 && rel[j - 1] < 1.0) --j;
    if (j == n) return INFINITY;
    if (j == 0) return -INFINITY;
    return rates[j - 1] + (rates[j] - rates[j - 1]) * (rel[j - 1] - 1.0) / (rel[j - 1] - rel[j]);
}

static const char *fmt_break_even(double be, const double *rates, int n, char *buf, size_t size)
{
    if (be == -INFINITY)
        snprintf(buf, size, "<%g%%", 100.0 * rates[0]);
    else if (be == INFINITY)
        snprintf(buf, size, ">%g%%", 100.0 * rates[n - 1]);
    else
        snprintf(buf, size, "%.1f%%", 100.0 * be);
    return buf;
}

static const char *pass(int ok) { return ok ? "PASS" : "MISS"; }

static const char *group_label(int32_t g)
{
    static char buf[4][24];
    static int next = 0;
    char *b = buf[next++ & 3];
    if (g == 1)
        snprintf(b, sizeof buf[0], "CSR (G=1)");
    else
        snprintf(b, sizeof buf[0], "grouped G=%d", (int)g);
    return b;
}

/* ------------------------------------------------------------------------------------------
 * Results gathered for the summary
 * ---------------------------------------------------------------------------------------- */

typedef struct bench_summary {
    double gemv_4096_ratio;         /* ours / OpenBLAS */
    double gemv_lenet_ratio[3];
    double gemm_ratio;
    double sgemv_4096_time;
    double grouped_rel0[2];         /* grouped spmv at 0 % / our dense: the sweep's first two G */
    double grouped_break_even[2];
    double grouped_vs_openblas_90;  /* OpenBLAS sgemv time / grouped spmv time at 90 % */
    double small_rel0[2], small_break_even[2];   /* the same, 2048 x 2048 (in cache) */
    double ceiling0[2], small_ceiling0[2];       /* sweep_result.ceiling0 of the same G */
    double spmm_vs_eigen[3][3];     /* Eigen CSR time / grouped spmm time: shape x rate */
    double spmm_ceiling[3][3];      /* the most any kernel could gain on Eigen: see 4b */
    double spmm_break_even;         /* grouped spmm (G = BENCH_SIMD_G) vs dense gemm */
    double csr_vs_eigen_spmv_max;   /* ours / Eigen, worst rate */
    double csr_vs_eigen_spmm_max;
    double big_spmv_vs_triad;       /* achieved GB/s ratio */
    double big_gemv_vs_triad;
} bench_summary;

/* ------------------------------------------------------------------------------------------
 * 1. Dense kernels vs OpenBLAS
 * ---------------------------------------------------------------------------------------- */

static void section_dense(bench_summary *sum)
{
    static const int32_t shapes[4][2] = {{4096, 4096}, {300, 784}, {100, 300}, {10, 100}};
    static const char *const names[4] = {"4096 x 4096", "300 x 784 (LeNet fc1)",
                                         "100 x 300 (LeNet fc2)", "10 x 100 (LeNet fc3)"};
    char b1[32], b2[32];
    bench_case cases[2];
    int s;

    printf("## 1. Dense kernels vs OpenBLAS\n\n");
    printf("y = W . x (gemv) and C = A . B (gemm), fp32, row-major, one thread. Ratio < 1: "
           "scalpel is faster.\n\n");
    printf("| op | shape | scalpel | OpenBLAS | scalpel / OpenBLAS | scalpel GFLOP/s | "
           "OpenBLAS GFLOP/s |\n");
    printf("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (s = 0; s < 4; ++s) {
        int32_t rows = shapes[s][0], cols = shapes[s][1];
        float *w = alloc_f32((size_t)rows * (size_t)cols), *x = alloc_f32((size_t)cols);
        float *y0 = alloc_f32((size_t)rows), *y1 = alloc_f32((size_t)rows);
        dense_mv ours, blas;
        double t_ours, t_blas, flops = 2.0 * rows * cols;
        fill_random(w, (size_t)rows * (size_t)cols, 11 + (uint64_t)s);
        fill_random(x, (size_t)cols, 21 + (uint64_t)s);
        ours.w = w; ours.rows = rows; ours.cols = cols; ours.x = x; ours.y = y0;
        blas = ours;
        blas.y = y1;
        set_case(&cases[0], run_gemv, &ours, "scalpel_gemv_f32 %s", names[s]);
        set_case(&cases[1], run_sgemv, &blas, "cblas_sgemv %s", names[s]);
        measure(cases, 2);
        check_product(cases[0].what, w, rows, cols, x, 1, y0, 1);
        check_product(cases[1].what, w, rows, cols, x, 1, y1, 1);
        t_ours = cases[0].median;
        t_blas = cases[1].median;
        printf("| gemv | %s | %s | %s | %.3f | %.1f | %.1f |\n", names[s], T(t_ours, b1),
               T(t_blas, b2), t_ours / t_blas, flops / t_ours * 1e-9, flops / t_blas * 1e-9);
        if (s == 0) {
            sum->gemv_4096_ratio = t_ours / t_blas;
            sum->sgemv_4096_time = t_blas;
        } else {
            sum->gemv_lenet_ratio[s - 1] = t_ours / t_blas;
        }
        free(w); free(x); free(y0); free(y1);
    }
    {
        const int32_t m = 128, k = 1200, n = 729;
        float *a = alloc_f32((size_t)m * k), *b = alloc_f32((size_t)k * n);
        float *c0 = alloc_f32((size_t)m * n), *c1 = alloc_f32((size_t)m * n);
        dense_mm ours, blas;
        double t_ours, t_blas, flops = 2.0 * m * k * n;
        fill_random(a, (size_t)m * k, 31);
        fill_random(b, (size_t)k * n, 32);
        ours.a = a; ours.m = m; ours.k = k; ours.n = n; ours.b = b; ours.c = c0;
        blas = ours;
        blas.c = c1;
        set_case(&cases[0], run_gemm, &ours, "scalpel_gemm_f32 128x1200 . 1200x729");
        set_case(&cases[1], run_sgemm, &blas, "cblas_sgemm 128x1200 . 1200x729");
        measure(cases, 2);
        check_product(cases[0].what, a, m, k, b, n, c0, 4);
        check_product(cases[1].what, a, m, k, b, n, c1, 4);
        t_ours = cases[0].median;
        t_blas = cases[1].median;
        printf("| gemm | 128 x 1200 . 1200 x 729 | %s | %s | %.3f | %.1f | %.1f |\n",
               T(t_ours, b1), T(t_blas, b2), t_ours / t_blas, flops / t_ours * 1e-9,
               flops / t_blas * 1e-9);
        sum->gemm_ratio = t_ours / t_blas;
        free(a); free(b); free(c0); free(c1);
    }
    printf("\n");
    /* LeNet-5's convolutions at batch 1, dense, as the network forward pass runs them: the
     * original shapes and those of our trained x86-avx2 Scalpel model (11 and 21 maps) */
    {
        static const int32_t conv[4][4] = {{20, 1, 28, 5}, {50, 20, 12, 5}, {11, 1, 28, 5}, {21, 11, 12, 5}};
        static const char *const cnames[4] = {"conv1 20 x (1 x 28 x 28), 5 x 5", "conv2 50 x (20 x 12 x 12), 5 x 5",
                                              "conv1 11 x (1 x 28 x 28), 5 x 5", "conv2 21 x (11 x 12 x 12), 5 x 5"};
        bench_case cc[3];
        printf("Convolutions, batch 1, stride 1, no padding (LeNet-5 dense, then our x86-avx2 Scalpel "
               "model's 11 and 21 maps): `scalpel_conv_gemm_f32` (no im2col matrix; what the forward pass "
               "runs when the output width is a multiple of %d) against im2col + `scalpel_gemm_f32` and "
               "im2col + `cblas_sgemm`. Ratio < 1: scalpel is faster.\n\n", (int)scalpel_kernels_vector_width());
        printf("| conv | conv_gemm | im2col + gemm | im2col + OpenBLAS | conv_gemm / im2col + gemm | "
               "conv_gemm / im2col + OpenBLAS |\n");
        printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
        for (s = 0; s < 4; ++s) {
            int32_t m = conv[s][0], ch = conv[s][1], hw = conv[s][2], k = conv[s][3], o = hw - k + 1;
            int32_t kk = ch * k * k, n = o * o;
            float *a = alloc_f32((size_t)m * kk), *in = alloc_f32((size_t)ch * hw * hw), *col = alloc_f32((size_t)kk * n);
            float *o0 = alloc_f32((size_t)m * n), *o1 = alloc_f32((size_t)m * n), *o2 = alloc_f32((size_t)m * n);
            dense_conv c0, c1, c2;
            char b3[32];
            fill_random(a, (size_t)m * kk, 41 + (uint64_t)s);
            fill_random(in, (size_t)ch * hw * hw, 51 + (uint64_t)s);
            c0.a = a; c0.m = m; c0.c = ch; c0.h = hw; c0.w = hw; c0.k = k; c0.in = in; c0.col = col; c0.out = o0;
            c1 = c0; c1.out = o1;
            c2 = c0; c2.out = o2;
            set_case(&cc[0], run_conv_implicit, &c0, "scalpel_conv_gemm_f32 %s", cnames[s]);
            set_case(&cc[1], run_conv_im2col, &c1, "im2col + scalpel_gemm_f32 %s", cnames[s]);
            set_case(&cc[2], run_conv_blas, &c2, "im2col + cblas_sgemm %s", cnames[s]);
            measure(cc, 3);
            /* each output checked against the double product of A and the im2col matrix */
            check_product(cc[0].what, a, m, kk, col, n, o0, 1);
            check_product(cc[1].what, a, m, kk, col, n, o1, 1);
            check_product(cc[2].what, a, m, kk, col, n, o2, 1);
            printf("| %s | %s | %s | %s | %.3f | %.3f |\n", cnames[s], T(cc[0].median, b1), T(cc[1].median, b2),
                   T(cc[2].median, b3), cc[0].median / cc[1].median, cc[0].median / cc[2].median);
            free(a); free(in); free(col); free(o0); free(o1); free(o2);
        }
        printf("\n");
    }
}

/* ------------------------------------------------------------------------------------------
 * 2. and 3. Sparse matrix-vector sweeps, and our CSR vs Eigen's
 * ---------------------------------------------------------------------------------------- */

#define SWEEP_N 13
#define SWEEP_AT_90 11   /* index of 90 % */
static const double k_sweep_rates[SWEEP_N] = {0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5,
                                              0.6, 0.7, 0.8, 0.9, 0.99};
/* scalpel-method.md section 6: i7, MKL CSR and grouped (G = 8), relative to dense (the paper
 * has no points at 2 and 5 %: -1) */
static const double k_paper_mv_csr[SWEEP_N] = {2.087, -1, -1, 1.953, 1.734, 1.558, 1.356, 1.053,
                                               0.852, 0.640, 0.417, 0.206, 0.023};
static const double k_paper_mv_grouped[SWEEP_N] = {1.027, -1, -1, 0.902, 0.797, 0.713, 0.614, 0.505,
                                                   0.393, 0.294, 0.199, 0.081, 0.013};

#if BENCH_SIMD_G == 16
#define SWEEP_NG 3
static const int32_t k_sweep_groups[SWEEP_NG] = {16, 8, 1};
#else
#define SWEEP_NG 2
static const int32_t k_sweep_groups[SWEEP_NG] = {BENCH_SIMD_G, 1};
#endif

/* One sweep over k_sweep_rates on an n x n matrix: dense gemv, grouped spmv for each G of
 * k_sweep_groups and, from 50 %, Eigen's CSR, all interleaved at each rate. */
typedef struct sweep_result {
    double t_dense[SWEEP_N];
    double t_sparse[SWEEP_NG][SWEEP_N];
    double rel[SWEEP_NG][SWEEP_N];          /* t_sparse / t_dense at the same rate */
    double bytes[SWEEP_NG][SWEEP_N];        /* scalpel_gcsr_bytes */
    double t_eigen[SWEEP_N];                /* 0 where not measured */
    double eigen_bytes[SWEEP_N];
    double break_even[SWEEP_NG];
    double t_read0;                         /* read-only stream over the dense matrix, at 0 % */
    double ceiling0[SWEEP_NG];              /* the least t_sparse / t_dense any kernel can reach
                                               at 0 %: its bytes at the faster of the read
                                               stream's and the dense gemv's speed */
} sweep_result;

static void run_sweep(int32_t n, int with_eigen, uint64_t seed, sweep_result *res)
{
    const size_t count = (size_t)n * (size_t)n;
    float *base = alloc_f32(count), *x = alloc_f32((size_t)n);
    float *w[SWEEP_NG], *y[SWEEP_NG + 2];
    bench_case cases[SWEEP_NG + 3];
    int i, gi;

    fill_random(base, count, seed);
    fill_random(x, (size_t)n, seed + 1);
    for (gi = 0; gi < SWEEP_NG; ++gi) w[gi] = alloc_f32(count);
    for (gi = 0; gi < SWEEP_NG + 2; ++gi) y[gi] = alloc_f32((size_t)n);

    for (i = 0; i < SWEEP_N; ++i) {
        double rate = k_sweep_rates[i];
        scalpel_gcsr m[SWEEP_NG];
        sparse_mv sop[SWEEP_NG];
        dense_mv dop;
        lib_mv lop;
        stream_op rop;
        libcsr *eigen = NULL;
        int nc = 0, read_at = -1;

        dop.w = base; dop.rows = n; dop.cols = n; dop.x = x; dop.y = y[SWEEP_NG];
        set_case(&cases[nc++], run_gemv, &dop, "dense gemv %d^2", (int)n);
        for (gi = 0; gi < SWEEP_NG; ++gi) {
            int32_t g = k_sweep_groups[gi];
            memcpy(w[gi], base, count * sizeof(float));
            prune_groups(w[gi], n, n, g, rate, seed + 1000u + 100u * (uint64_t)g + (uint64_t)i);
            m[gi] = build_gcsr(w[gi], n, n, g);
            res->bytes[gi][i] = (double)scalpel_gcsr_bytes(&m[gi]);
            sop[gi].w = &m[gi]; sop[gi].x = x; sop[gi].y = y[gi];
            set_case(&cases[nc++], run_spmv, &sop[gi], "gcsr spmv %d^2 G=%d %.0f%%", (int)n,
                     (int)g, 100.0 * rate);
        }
        res->t_eigen[i] = 0.0;
        res->eigen_bytes[i] = 0.0;
        if (with_eigen && rate >= 0.5) {
            eigen = build_libcsr(w[SWEEP_NG - 1], n, n);
            res->eigen_bytes[i] = (double)libcsr_bytes(eigen);
            lop.a = eigen; lop.x = x; lop.y = y[SWEEP_NG + 1];
            set_case(&cases[nc++], run_lib_spmv, &lop, "Eigen CSR spmv %d^2 %.0f%%", (int)n,
                     100.0 * rate);
        }
        if (i == 0) {
            rop.a = NULL; rop.b = base; rop.c = NULL; rop.n = count;
            read_at = nc;
            set_case(&cases[nc++], run_read, &rop, "read %d^2 floats", (int)n);
        }
        measure(cases, nc);

        res->t_dense[i] = cases[0].median;
        if (read_at >= 0) res->t_read0 = cases[read_at].median;
        check_product(cases[0].what, base, n, n, x, 1, y[SWEEP_NG], 7);
        for (gi = 0; gi < SWEEP_NG; ++gi) {
            res->t_sparse[gi][i] = cases[1 + gi].median;
            res->rel[gi][i] = res->t_sparse[gi][i] / res->t_dense[i];
            check_product(cases[1 + gi].what, w[gi], n, n, x, 1, y[gi], 7);
            scalpel_gcsr_free(&m[gi]);
        }
        if (eigen) {
            res->t_eigen[i] = cases[1 + SWEEP_NG].median;
            check_product(cases[1 + SWEEP_NG].what, w[SWEEP_NG - 1], n, n, x, 1,
                          y[SWEEP_NG + 1], 7);
            libcsr_free(eigen);
        }
    }
    for (gi = 0; gi < SWEEP_NG; ++gi) {
        const double t_fast = res->t_read0 < res->t_dense[0] ? res->t_read0 : res->t_dense[0];
        res->break_even[gi] = break_even(k_sweep_rates, res->rel[gi], SWEEP_N);
        res->ceiling0[gi] = res->bytes[gi][0] / ((double)count * 4.0) * t_fast / res->t_dense[0];
    }
    for (gi = 0; gi < SWEEP_NG; ++gi) free(w[gi]);
    for (gi = 0; gi < SWEEP_NG + 2; ++gi) free(y[gi]);
    free(base);
    free(x);
}

static void print_sweep_table(const sweep_result *res, int with_paper)
{
    char b1[32], b2[32];
    int i, gi;
    printf("| pruned | dense gemv |");
    for (gi = 0; gi < SWEEP_NG; ++gi) printf(" %s | rel |", group_label(k_sweep_groups[gi]));
    if (with_paper) printf(" paper MKL CSR | paper grouped G=8 |");
    printf("\n| ---: | ---: |");
    for (gi = 0; gi < SWEEP_NG; ++gi) printf(" ---: | ---: |");
    if (with_paper) printf(" ---: | ---: |");
    printf("\n");
    for (i = 0; i < SWEEP_N; ++i) {
        printf("| %g%% | %s |", 100.0 * k_sweep_rates[i], T(res->t_dense[i], b1));
        for (gi = 0; gi < SWEEP_NG; ++gi)
            printf(" %s | %.3f |", T(res->t_sparse[gi][i], b2), res->rel[gi][i]);
        if (with_paper && k_paper_mv_csr[i] < 0.0) printf(" - | - |");
        else if (with_paper) printf(" %.3f | %.3f |", k_paper_mv_csr[i], k_paper_mv_grouped[i]);
        printf("\n");
    }
    printf("| **break-even** | |");
    for (gi = 0; gi < SWEEP_NG; ++gi)
        printf(" | **%s** |",
               fmt_break_even(res->break_even[gi], k_sweep_rates, SWEEP_N, b1, sizeof b1));
    if (with_paper) printf(" 52%% | 3%% |");
    printf("\n\nCeiling at 0%%: a read-only stream over the dense matrix took %s in the same set as "
           "the 0%% row (dense gemv %s). Reading a format's bytes at the faster of the two speeds, "
           "no kernel can go below", T(res->t_read0, b1), T(res->t_dense[0], b2));
    for (gi = 0; gi < SWEEP_NG; ++gi)
        printf("%s %.3f (%s)", gi ? "," : "", res->ceiling0[gi], group_label(k_sweep_groups[gi]));
    printf(" of the dense time.\n\n");
}

static void section_spmv(bench_summary *sum, const char *llc)
{
    sweep_result *big = (sweep_result *)xalloc(sizeof *big);
    sweep_result *small = (sweep_result *)xalloc(sizeof *small);
    const double dense_bytes = 4096.0 * 4096.0 * 4.0;
    char b1[32], b2[32];
    int i, gi;

    fprintf(stderr, "bench: spmv sweep 4096 x 4096\n");
    run_sweep(4096, 1, 101, big);
    fprintf(stderr, "bench: spmv sweep 2048 x 2048\n");
    run_sweep(2048, 0, 501, small);

    printf("## 2. Sparse matrix-vector vs dense (Figure 13)\n\n");
    printf("Time of y = W . x with W (4096 x 4096, 64 MiB dense) pruned to each rate; `rel` "
           "is relative to scalpel's dense gemv measured in the same interleaved set. Grouped "
           "columns remove whole aligned groups of G weights; CSR (G = 1) removes single "
           "weights. The last two columns are the paper's Core i7 numbers (MKL CSR; grouped "
           "G = 8, AVX2). OpenBLAS sgemv at this size: %s (section 1).\n\n",
           T(sum->sgemv_4096_time, b1));
    print_sweep_table(big, 1);

    printf("Storage relative to the dense matrix (`scalpel_gcsr_bytes`: values + indices + row "
           "pointers; Eigen: values + 32-bit indices + row pointers):\n\n");
    printf("| pruned |");
    for (gi = 0; gi < SWEEP_NG; ++gi) printf(" %s |", group_label(k_sweep_groups[gi]));
    printf(" Eigen CSR |\n| ---: |");
    for (gi = 0; gi < SWEEP_NG; ++gi) printf(" ---: |");
    printf(" ---: |\n");
    for (i = 0; i < SWEEP_N; ++i) {
        printf("| %g%% |", 100.0 * k_sweep_rates[i]);
        for (gi = 0; gi < SWEEP_NG; ++gi) printf(" %.3f |", big->bytes[gi][i] / dense_bytes);
        if (big->eigen_bytes[i] > 0.0)
            printf(" %.3f |\n", big->eigen_bytes[i] / dense_bytes);
        else
            printf(" - |\n");
    }
    for (gi = 0; gi + 1 < SWEEP_NG && gi < 2; ++gi) {
        sum->grouped_rel0[gi] = big->rel[gi][0];
        sum->ceiling0[gi] = big->ceiling0[gi];
        sum->grouped_break_even[gi] = big->break_even[gi];
    }
    sum->grouped_vs_openblas_90 = sum->sgemv_4096_time / big->t_sparse[0][SWEEP_AT_90];
    printf("\nAt 90%% pruning, grouped G=%d spmv (%s) is **%.2fx** faster than OpenBLAS "
           "dense sgemv (%s) and %.2fx faster than scalpel's dense gemv.\n\n",
           BENCH_SIMD_G, T(big->t_sparse[0][SWEEP_AT_90], b1), sum->grouped_vs_openblas_90,
           T(sum->sgemv_4096_time, b2), 1.0 / big->rel[0][SWEEP_AT_90]);

    printf("### 2b. The same sweep at 2048 x 2048 (16 MiB dense, inside the last-level "
           "cache)\n\n");
    printf("4096 x 4096 fp32 is 64 MiB. On a shared or virtualised machine the part of the "
           "last-level cache one process really gets can be far smaller than reported (%s), "
           "and near that edge a few MiB more or less move a kernel between cache and DRAM "
           "speed. This sweep keeps every format well inside the cache and so shows the "
           "kernels' own cost. Informational; the targets use 4096 x 4096.\n\n", llc);
    print_sweep_table(small, 0);
    for (gi = 0; gi + 1 < SWEEP_NG && gi < 2; ++gi) {
        sum->small_rel0[gi] = small->rel[gi][0];
        sum->small_ceiling0[gi] = small->ceiling0[gi];
        sum->small_break_even[gi] = small->break_even[gi];
    }

    printf("## 3. CSR spmv: scalpel (G = 1) vs %s, 4096 x 4096\n\n", libcsr_name());
    printf("The same pruned matrices as the CSR column of section 2, measured in the same "
           "interleaved sets. Ratio < 1: scalpel is faster.\n\n");
    printf("| pruned | scalpel CSR | Eigen CSR | scalpel / Eigen | scalpel CSR rel. to dense "
           "| Eigen rel. to dense |\n");
    printf("| ---: | ---: | ---: | ---: | ---: | ---: |\n");
    sum->csr_vs_eigen_spmv_max = 0.0;
    for (i = 0; i < SWEEP_N; ++i) {
        double ours = big->t_sparse[SWEEP_NG - 1][i], ratio;
        if (big->t_eigen[i] <= 0.0) continue;
        ratio = ours / big->t_eigen[i];
        if (ratio > sum->csr_vs_eigen_spmv_max) sum->csr_vs_eigen_spmv_max = ratio;
        printf("| %g%% | %s | %s | %.3f | %.3f | %.3f |\n", 100.0 * k_sweep_rates[i],
               T(ours, b1), T(big->t_eigen[i], b2), ratio, ours / big->t_dense[i],
               big->t_eigen[i] / big->t_dense[i]);
    }
    printf("\n");
    free(big);
    free(small);
}

/* ------------------------------------------------------------------------------------------
 * 4. Sparse x dense matrix product 128 x 1200 . 1200 x 729 (Figure 14)
 * ---------------------------------------------------------------------------------------- */

#define MM_N 7
static const double k_mm_rates[MM_N] = {0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99};
static const double k_paper_mm_csr[MM_N] = {2.352, 1.888, 1.440, 0.955, 0.481, 0.243, 0.053};
static const double k_paper_mm_grouped[MM_N] = {2.834, 2.283, 1.759, 1.197, 0.669, 0.386,
                                                0.155};

static void section_spmm(bench_summary *sum)
{
    const int32_t m = 128, k = 1200, n = 729;
    const size_t wcount = (size_t)m * k, ccount = (size_t)m * n;
    float *base = alloc_f32(wcount), *b = alloc_f32((size_t)k * n), *a[SWEEP_NG];
    float *c[SWEEP_NG + 2];
    double t_dense[MM_N], t_sparse[SWEEP_NG][MM_N], rel[SWEEP_NG][MM_N], t_eigen[MM_N];
    double rel_eigen[MM_N];
    bench_case cases[SWEEP_NG + 2];
    char b1[32], b2[32];
    int i, gi;

    fill_random(base, wcount, 201);
    fill_random(b, (size_t)k * n, 202);
    for (gi = 0; gi < SWEEP_NG; ++gi) a[gi] = alloc_f32(wcount);
    for (gi = 0; gi < SWEEP_NG + 2; ++gi) c[gi] = alloc_f32(ccount);

    for (i = 0; i < MM_N; ++i) {
        double rate = k_mm_rates[i];
        scalpel_gcsr w[SWEEP_NG];
        sparse_mm sop[SWEEP_NG];
        dense_mm dop;
        lib_mm lop;
        libcsr *eigen;
        int nc = 0;

        dop.a = base; dop.m = m; dop.k = k; dop.n = n; dop.b = b; dop.c = c[SWEEP_NG];
        set_case(&cases[nc++], run_gemm, &dop, "dense gemm 128x1200 . 1200x729");
        for (gi = 0; gi < SWEEP_NG; ++gi) {
            int32_t g = k_sweep_groups[gi];
            memcpy(a[gi], base, wcount * sizeof(float));
            prune_groups(a[gi], m, k, g, rate, 2000u + 100u * (uint64_t)g + (uint64_t)i);
            w[gi] = build_gcsr(a[gi], m, k, g);
            sop[gi].w = &w[gi]; sop[gi].b = b; sop[gi].n = n; sop[gi].c = c[gi];
            set_case(&cases[nc++], run_spmm, &sop[gi], "gcsr spmm G=%d %.0f%%", (int)g,
                     100.0 * rate);
        }
        eigen = build_libcsr(a[SWEEP_NG - 1], m, k);
        lop.a = eigen; lop.b = b; lop.n = n; lop.c = c[SWEEP_NG + 1];
        set_case(&cases[nc++], run_lib_spmm, &lop, "Eigen CSR spmm %.0f%%", 100.0 * rate);
        measure(cases, nc);

        t_dense[i] = cases[0].median;
        check_product(cases[0].what, base, m, k, b, n, c[SWEEP_NG], 5);
        for (gi = 0; gi < SWEEP_NG; ++gi) {
            t_sparse[gi][i] = cases[1 + gi].median;
            rel[gi][i] = t_sparse[gi][i] / t_dense[i];
            check_product(cases[1 + gi].what, a[gi], m, k, b, n, c[gi], 5);
            scalpel_gcsr_free(&w[gi]);
        }
        t_eigen[i] = cases[1 + SWEEP_NG].median;
        rel_eigen[i] = t_eigen[i] / t_dense[i];
        check_product(cases[1 + SWEEP_NG].what, a[SWEEP_NG - 1], m, k, b, n, c[SWEEP_NG + 1], 5);
        libcsr_free(eigen);
    }

    printf("## 4. Sparse x dense matrix product, 128 x 1200 . 1200 x 729 (Figure 14)\n\n");
    printf("C = W . B with W (128 x 1200) pruned, B dense (1200 x 729, row-major): the CONV "
           "layer as GEMM. `rel` is relative to scalpel's dense gemm measured in the same "
           "interleaved set. The last two columns are the paper's Core i7 numbers.\n\n");
    printf("| pruned | dense gemm |");
    for (gi = 0; gi < SWEEP_NG; ++gi) printf(" %s | rel |", group_label(k_sweep_groups[gi]));
    printf(" Eigen CSR | rel | scalpel CSR / Eigen | paper MKL CSR | paper grouped |\n");
    printf("| ---: | ---: |");
    for (gi = 0; gi < SWEEP_NG; ++gi) printf(" ---: | ---: |");
    printf(" ---: | ---: | ---: | ---: | ---: |\n");
    sum->csr_vs_eigen_spmm_max = 0.0;
    for (i = 0; i < MM_N; ++i) {
        double ratio = t_sparse[SWEEP_NG - 1][i] / t_eigen[i];
        if (ratio > sum->csr_vs_eigen_spmm_max) sum->csr_vs_eigen_spmm_max = ratio;
        printf("| %g%% | %s |", 100.0 * k_mm_rates[i], T(t_dense[i], b1));
        for (gi = 0; gi < SWEEP_NG; ++gi)
            printf(" %s | %.3f |", T(t_sparse[gi][i], b1), rel[gi][i]);
        printf(" %s | %.3f | %.3f | %.3f | %.3f |\n", T(t_eigen[i], b2), rel_eigen[i], ratio,
               k_paper_mm_csr[i], k_paper_mm_grouped[i]);
    }
    printf("| **break-even** | |");
    for (gi = 0; gi < SWEEP_NG; ++gi)
        printf(" | **%s** |", fmt_break_even(break_even(k_mm_rates, rel[gi], MM_N), k_mm_rates,
                                           MM_N, b1, sizeof b1));
    printf(" | **%s** | | 79%% | ~84%% |\n\n",
           fmt_break_even(break_even(k_mm_rates, rel_eigen, MM_N), k_mm_rates, MM_N, b1,
                          sizeof b1));
    sum->spmm_break_even = break_even(k_mm_rates, rel[0], MM_N);
    for (gi = 0; gi < SWEEP_NG; ++gi) free(a[gi]);
    for (gi = 0; gi < SWEEP_NG + 2; ++gi) free(c[gi]);
    free(base);
    free(b);
}

/* 4b. Grouped spmm against Eigen's CSR on the very same grouped-pruned matrices, at the
 * Figure 14 shape and at the 1x1 convolutions of MobileNetV1 (128 x 128 . 128 x 12x12) and
 * ResNet-8 (64 x 32 . 32 x 8x8). Any kernel must read every row of B that some stored
 * weight multiplies at least once, and write C once. A read-only stream over a buffer of
 * B's size and a zeroing of C, timed in the same set, say how fast this machine does those
 * two: `ceiling` is Eigen's time over (the referenced rows' share of the read time + the
 * time to write C), the most any kernel could gain on Eigen here. It is a true lower bound
 * on time only; a kernel also pays for the FMAs, which at 70 % dominate. */
static void section_spmm_shapes(bench_summary *sum)
{
    static const int32_t shapes[3][3] = {{128, 1200, 729}, {128, 128, 144}, {64, 32, 64}};
    static const char *const names[3] = {"128 x 1200 . 1200 x 729 (Figure 14)", "128 x 128 . 128 x 144 (MobileNetV1 1x1)",
                                         "64 x 32 . 32 x 64 (ResNet-8 1x1)"};
    static const double rates[3] = {0.7, 0.9, 0.99};
    char b1[32], b2[32], b3[32], b4[32];
    int si, ri;
    printf("### 4b. Grouped spmm (G = %d) vs %s on the same matrices\n\n", BENCH_SIMD_G, libcsr_name());
    printf("Any kernel must read each row of B that a stored weight multiplies at least once and "
           "write C once. `read B` (a read-only stream over all of B) and `write C` (zeroing C) are "
           "timed in the same interleaved set; `ceiling` is Eigen's time over (the referenced rows' "
           "share of `read B` + `write C`): the most any kernel could gain on Eigen on this "
           "machine. The FMAs are not counted, so the bound is loose where they dominate (70%%).\n\n");
    printf("| shape | pruned | grouped | Eigen CSR | Eigen / grouped | B rows referenced | read B | write C | ceiling |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (si = 0; si < 3; ++si) {
        const int32_t m = shapes[si][0], k = shapes[si][1], n = shapes[si][2];
        float *a = alloc_f32((size_t)m * k), *b = alloc_f32((size_t)k * n), *c0 = alloc_f32((size_t)m * n),
              *c1 = alloc_f32((size_t)m * n);
        fill_random(b, (size_t)k * n, 301 + (uint64_t)si);
        for (ri = 0; ri < 3; ++ri) {
            scalpel_gcsr w;
            libcsr *eigen;
            sparse_mm sop;
            lib_mm lop;
            stream_op rop, zop;
            bench_case cases[4];
            double t_min;
            int32_t rows_used = 0, col, row;
            fill_random(a, (size_t)m * k, 401 + 10u * (uint64_t)si + (uint64_t)ri);
            prune_groups(a, m, k, BENCH_SIMD_G, rates[ri], 501 + 10u * (uint64_t)si + (uint64_t)ri);
            w = build_gcsr(a, m, k, BENCH_SIMD_G);
            eigen = build_libcsr(a, m, k);
            sop.w = &w; sop.b = b; sop.n = n; sop.c = c0;
            lop.a = eigen; lop.b = b; lop.n = n; lop.c = c1;
            rop.a = NULL; rop.b = b; rop.c = NULL; rop.n = (size_t)k * n;
            set_case(&cases[0], run_spmm, &sop, "gcsr spmm G=%d %dx%dx%d %.0f%%", BENCH_SIMD_G, (int)m, (int)k, (int)n,
                     100.0 * rates[ri]);
            set_case(&cases[1], run_lib_spmm, &lop, "Eigen spmm %dx%dx%d %.0f%%", (int)m, (int)k, (int)n, 100.0 * rates[ri]);
            zop.a = c1; zop.b = NULL; zop.c = NULL; zop.n = (size_t)m * n;
            set_case(&cases[2], run_read, &rop, "read B %dx%d", (int)k, (int)n);
            set_case(&cases[3], run_zero, &zop, "zero C %dx%d", (int)m, (int)n);
            measure(cases, 4);
            /* the measured zeroing overwrote c1: run Eigen's product once more to check it */
            run_lib_spmm(&lop);
            check_product(cases[0].what, a, m, k, b, n, c0, 3);
            check_product(cases[1].what, a, m, k, b, n, c1, 3);
            for (col = 0; col < k; ++col)
                for (row = 0; row < m; ++row)
                    if (a[(size_t)row * k + col] != 0.0f) { rows_used++; break; }
            t_min = cases[2].median * (double)rows_used / (double)k + cases[3].median;
            sum->spmm_vs_eigen[si][ri] = cases[1].median / cases[0].median;
            sum->spmm_ceiling[si][ri] = cases[1].median / t_min;
            printf("| %s | %.0f%% | %s | %s | **%.2fx** | %d of %d | %s | %s | %.2fx |\n", names[si], 100.0 * rates[ri],
                   T(cases[0].median, b1), T(cases[1].median, b2), sum->spmm_vs_eigen[si][ri], (int)rows_used, (int)k,
                   T(cases[2].median, b3), T(cases[3].median, b4), sum->spmm_ceiling[si][ri]);
            scalpel_gcsr_free(&w);
            libcsr_free(eigen);
        }
        free(a);
        free(b);
        free(c0);
        free(c1);
    }
    printf("\n");
}

/* ------------------------------------------------------------------------------------------
 * 5. Bandwidth out of cache
 * ---------------------------------------------------------------------------------------- */

/* three arrays of n floats each for the triad and the read-only sum, first-touched */
static stream_op stream_alloc(double bytes)
{
    stream_op op;
    size_t n = (size_t)(bytes / 12.0), i;
    float *a = alloc_f32(n), *b = alloc_f32(n), *c = alloc_f32(n);
    for (i = 0; i < n; ++i) {
        a[i] = 0.0f;
        b[i] = 1.0f;
        c[i] = 2.0f;
    }
    op.a = a; op.b = b; op.c = c; op.n = n;
    return op;
}

static void stream_free(stream_op *op)
{
    free(op->a);
    free((void *)op->b);
    free((void *)op->c);
}

static void section_bandwidth(bench_summary *sum, long big_mb, const char *llc)
{
    const int32_t cols = 32768, g = BENCH_SIMD_G;
    int32_t rows = (int32_t)((double)big_mb * 1048576.0 / (4.0 * cols));
    size_t count;
    float *w, *x, *y0, *y1;
    double dense_bytes, sparse_bytes, gbs[6], stream_bytes[6];
    dense_mv dop;
    sparse_mv sop;
    stream_op small, large;
    scalpel_gcsr m;
    bench_case cases[6];
    char b1[32];
    int i;

    if (rows < 1) rows = 1;
    count = (size_t)rows * (size_t)cols;
    w = alloc_f32(count);
    x = alloc_f32((size_t)cols);
    y0 = alloc_f32((size_t)rows);
    y1 = alloc_f32((size_t)rows);
    fill_random(w, count, 301);
    fill_random(x, (size_t)cols, 302);
    /* the dense kernel's time does not depend on the values, so it runs on the pruned
     * matrix too and one copy of W suffices */
    prune_groups(w, rows, cols, g, 0.5, 303);
    m = build_gcsr(w, rows, cols, g);
    dense_bytes = 4.0 * ((double)count + cols + rows);
    sparse_bytes = (double)scalpel_gcsr_bytes(&m) + 4.0 * ((double)cols + rows);
    small = stream_alloc(sparse_bytes);
    large = stream_alloc(dense_bytes);

    dop.w = w; dop.rows = rows; dop.cols = cols; dop.x = x; dop.y = y0;
    sop.w = &m; sop.x = x; sop.y = y1;
    set_case(&cases[0], run_gemv, &dop, "dense gemv %d x %d", (int)rows, (int)cols);
    set_case(&cases[1], run_spmv, &sop, "gcsr spmv G=%d 50%% %d x %d", (int)g, (int)rows,
             (int)cols);
    set_case(&cases[2], run_triad, &small, "triad %.0f MB", sparse_bytes * 1e-6);
    set_case(&cases[3], run_triad, &large, "triad %.0f MB", dense_bytes * 1e-6);
    set_case(&cases[4], run_sum, &small, "read-only sum %.0f MB", sparse_bytes * 1e-6);
    set_case(&cases[5], run_sum, &large, "read-only sum %.0f MB", dense_bytes * 1e-6);
    measure(cases, 6);
    check_product(cases[0].what, w, rows, cols, x, 1, y0, 257);
    check_product(cases[1].what, w, rows, cols, x, 1, y1, 257);

    stream_bytes[0] = dense_bytes;
    stream_bytes[1] = sparse_bytes;
    stream_bytes[2] = stream_bytes[4] = 12.0 * (double)small.n;
    stream_bytes[3] = stream_bytes[5] = 12.0 * (double)large.n;
    for (i = 0; i < 6; ++i) gbs[i] = stream_bytes[i] / cases[i].median * 1e-9;
    sum->big_gemv_vs_triad = gbs[0] / gbs[3];
    sum->big_spmv_vs_triad = gbs[1] / gbs[2];

    printf("## 5. Memory bandwidth out of cache\n\n");
    printf("W is %d x %d fp32 (%.0f MiB dense; BENCH_BIG_MB=%ld; last-level cache %s), "
           "grouped G=%d with 50%% of the groups pruned. Bytes per call = values + column "
           "indices + row pointers + x + y. The triad a[i] = b[i] + s*c[i] and the read-only "
           "sum run over three arrays of the same total size as each kernel's stream, "
           "interleaved with the kernels; the triad is counted as STREAM counts it (12 bytes "
           "per element; write-allocate traffic not counted).\n\n",
           (int)rows, (int)cols, (double)count * 4.0 / 1048576.0, big_mb, llc, g);
    printf("| kernel | MB per call | time | GB/s | triad GB/s, same size | kernel / triad | "
           "read-only sum GB/s, same size |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    printf("| dense gemv | %.0f | %s | %.2f | %.2f | %.3f | %.2f |\n", dense_bytes * 1e-6,
           T(cases[0].median, b1), gbs[0], gbs[3], sum->big_gemv_vs_triad, gbs[5]);
    printf("| grouped spmv G=%d, 50%% pruned | %.0f | %s | %.2f | %.2f | %.3f | %.2f |\n", g,
           sparse_bytes * 1e-6, T(cases[1].median, b1), gbs[1], gbs[2], sum->big_spmv_vs_triad,
           gbs[4]);
    printf("\nSpeed-up of the 50%%-pruned grouped spmv over dense gemv at this size: %.2fx "
           "(bytes ratio %.2fx).\n\n", cases[0].median / cases[1].median,
           dense_bytes / sparse_bytes);

    stream_free(&small);
    stream_free(&large);
    scalpel_gcsr_free(&m);
    free(w); free(x); free(y0); free(y1);
}

/* ------------------------------------------------------------------------------------------
 * Header and summary
 * ---------------------------------------------------------------------------------------- */

static void read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    buf[0] = '\0';
    if (!f) return;
    if (fgets(buf, (int)size, f)) buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

static void cpu_model(char *buf, size_t size)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(buf, size, "unknown");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                size_t len;
                p += 1 + (p[1] == ' ');
                len = strcspn(p, "\n");
                snprintf(buf, size, "%.*s", (int)len, p);
            }
            break;
        }
    }
    fclose(f);
}

/* "L1d 48K, L2 2048K, L3 491520K" from sysfs (Linux), or "unknown" */
static void cache_sizes(char *buf, size_t size, char *llc, size_t llc_size)
{
    int i;
    size_t used = 0;
    buf[0] = '\0';
    snprintf(llc, llc_size, "unknown");
    for (i = 0; i < 8; ++i) {
        char path[96], level[16], type[32], csize[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        read_line(path, level, sizeof level);
        if (!level[0]) break;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        read_line(path, type, sizeof type);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        read_line(path, csize, sizeof csize);
        if (strcmp(type, "Instruction") == 0) continue;
        if (used < size)
            used += (size_t)snprintf(buf + used, size - used, "%sL%s%s %s", used ? ", " : "",
                                     level, strcmp(type, "Data") == 0 ? "d" : "", csize);
        snprintf(llc, llc_size, "%s as reported", csize);
    }
    if (!buf[0]) snprintf(buf, size, "unknown");
}

static void print_summary(const bench_summary *s)
{
    char b1[32], b2[32];
    int gi, si, ri;
    int lenet_ok = s->gemv_lenet_ratio[0] < 1.0 && s->gemv_lenet_ratio[1] < 1.0 &&
                   s->gemv_lenet_ratio[2] < 1.0;
    printf("## Summary: targets\n\n");
    printf("| target | measured | result |\n| --- | --- | --- |\n");
    printf("| dense gemv 4096 x 4096 within 1.15x of OpenBLAS | %.3fx | %s |\n",
           s->gemv_4096_ratio, pass(s->gemv_4096_ratio <= 1.15));
    printf("| dense gemv faster than OpenBLAS at LeNet shapes 300x784, 100x300, 10x100 | "
           "%.3fx, %.3fx, %.3fx | %s |\n", s->gemv_lenet_ratio[0], s->gemv_lenet_ratio[1],
           s->gemv_lenet_ratio[2], pass(lenet_ok));
    for (gi = 0; gi + 1 < SWEEP_NG && gi < 2; ++gi) {
        int32_t g = k_sweep_groups[gi];
        printf("| grouped spmv (G=%d) at 0%% pruning within 1.05x of our dense gemv, 4096^2 / 2048^2 | %.3fx / %.3fx "
               "(ceiling %.3fx / %.3fx) | %s%s |\n",
               (int)g, s->grouped_rel0[gi], s->small_rel0[gi], s->ceiling0[gi], s->small_ceiling0[gi],
               pass(s->grouped_rel0[gi] <= 1.05 && s->small_rel0[gi] <= 1.05),
               s->grouped_rel0[gi] <= 1.05 && s->small_rel0[gi] <= 1.05 ? ""
               : s->ceiling0[gi] > 1.05 || s->small_ceiling0[gi] > 1.05 ? " (unreachable where the ceiling is above 1.05x)" : "");
        printf("| grouped spmv (G=%d) break-even pruning rate <= 5%% (4096^2; 2048^2 informational) | %s (%s) | %s |\n",
               (int)g, fmt_break_even(s->grouped_break_even[gi], k_sweep_rates, SWEEP_N, b1, sizeof b1),
               fmt_break_even(s->small_break_even[gi], k_sweep_rates, SWEEP_N, b2, sizeof b2),
               pass(s->grouped_break_even[gi] <= 0.05));
    }
    printf("| grouped spmv (G=%d) at 90%% >= 8x faster than OpenBLAS dense sgemv | %.2fx | %s |\n",
           BENCH_SIMD_G, s->grouped_vs_openblas_90, pass(s->grouped_vs_openblas_90 >= 8.0));
    printf("| CSR spmv within 1.2x of Eigen CSR (worst of 50..99%%) | %.3fx | %s |\n",
           s->csr_vs_eigen_spmv_max, pass(s->csr_vs_eigen_spmv_max <= 1.2));
    printf("| CSR spmm within 1.0x of Eigen CSR (worst of 50..99%%) | %.3fx | %s |\n",
           s->csr_vs_eigen_spmm_max, pass(s->csr_vs_eigen_spmm_max <= 1.0));
    for (si = 0; si < 3; ++si) {
        static const char *const shape[3] = {"128x1200 . 1200x729", "128x128 . 128x144", "64x32 . 32x64"};
        int ok = 1;
        int beyond = 0;   /* every rate that misses is one whose ceiling is below 1.5x */
        for (ri = 0; ri < 3; ++ri) ok &= s->spmm_vs_eigen[si][ri] >= 1.5;
        for (ri = 0, beyond = !ok; ri < 3; ++ri)
            if (s->spmm_vs_eigen[si][ri] < 1.5 && s->spmm_ceiling[si][ri] >= 1.5) beyond = 0;
        printf("| grouped spmm (G=%d) >= 1.5x faster than Eigen CSR at 70 / 90 / 99%%, %s | %.2fx / %.2fx / %.2fx "
               "(ceiling %.2fx / %.2fx / %.2fx) | %s%s |\n", BENCH_SIMD_G, shape[si], s->spmm_vs_eigen[si][0],
               s->spmm_vs_eigen[si][1], s->spmm_vs_eigen[si][2], s->spmm_ceiling[si][0], s->spmm_ceiling[si][1],
               s->spmm_ceiling[si][2], pass(ok), beyond ? " (each miss: 1.5x is above its ceiling)" : "");
    }
    printf("| grouped spmm (G=%d) break-even vs our dense gemm <= 50%% | %s | %s |\n", BENCH_SIMD_G,
           fmt_break_even(s->spmm_break_even, k_mm_rates, MM_N, b1, sizeof b1), pass(s->spmm_break_even <= 0.5));
    printf("| out-of-cache grouped spmv >= 75%% of triad bandwidth | %.1f%% | %s |\n",
           100.0 * s->big_spmv_vs_triad, pass(s->big_spmv_vs_triad >= 0.75));
    printf("\nInformational: dense gemm / OpenBLAS sgemm %.3fx; out-of-cache dense gemv at "
           "%.1f%% of triad.\n", s->gemm_ratio, 100.0 * s->big_gemv_vs_triad);
    printf("Largest interquartile spread of a measurement: %.1f%% (%s).\n",
           100.0 * g_worst_spread, g_worst_spread_what);
    if (g_check_failures == 0)
        printf("Every timed result agreed with a double-precision reference (worst relative "
               "error %.2g, tolerance %.0e).\n", g_check_worst, BENCH_CHECK_TOL);
    else
        printf("**%d timed results disagreed with the double-precision reference (worst "
               "relative error %.3g): see the warnings above.**\n", g_check_failures,
               g_check_worst);
}

int main(void)
{
    bench_summary sum;
    char cpu[256], caches[160], llc[48];
    long big_mb;
    double t0 = now_s();

    memset(&sum, 0, sizeof sum);
    g_repeats = (int)env_long("BENCH_REPEATS", 11, 7, BENCH_MAX_REPEATS) | 1;
    if (g_repeats > BENCH_MAX_REPEATS) g_repeats = BENCH_MAX_REPEATS;
    g_min_time = 1e-3 * (double)env_long("BENCH_MIN_MS", 20, 1, 1000);
    big_mb = env_long("BENCH_BIG_MB", 1500, 16, 4096);
    openblas_set_num_threads(1);
    cpu_model(cpu, sizeof cpu);
    cache_sizes(caches, sizeof caches, llc, sizeof llc);

    printf("# Scalpel kernel benchmark\n\n");
    printf("- CPU: %s; caches (sysfs, per instance): %s\n", cpu, caches);
    printf("- scalpel backend: `%s`; SIMD group width used for grouped CSR: G = %d\n",
           scalpel_kernels_backend(), BENCH_SIMD_G);
    printf("- OpenBLAS: core %s, config `%s`, 1 thread\n", openblas_get_corename(),
           openblas_get_config());
    printf("- library CSR: %s\n", libcsr_name());
#if defined(__VERSION__)
    printf("- compiler: %s\n", __VERSION__);
#endif
    printf("- timing: median of %d interleaved rounds, each a loop of >= %.0f ms, one thread, "
           "fp32\n\n", g_repeats, g_min_time * 1e3);
    fflush(stdout);

    fprintf(stderr, "bench: dense kernels\n");
    section_dense(&sum);
    fflush(stdout);
    section_spmv(&sum, llc);
    fflush(stdout);
    fprintf(stderr, "bench: spmm 128x1200 . 1200x729\n");
    section_spmm(&sum);
    fflush(stdout);
    fprintf(stderr, "bench: spmm vs Eigen at three shapes\n");
    section_spmm_shapes(&sum);
    fflush(stdout);
    fprintf(stderr, "bench: bandwidth, %ld MB matrix\n", big_mb);
    section_bandwidth(&sum, big_mb, llc);
    print_summary(&sum);
    printf("\nTotal benchmark time: %.0f s.\n", now_s() - t0);
    return 0;
}
