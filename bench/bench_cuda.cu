/* bench_cuda.cu - Scalpel on a GPU: the paper's Figure 10 kernel sweep and the two MNIST
 * networks, dense against pruned, at batch 50.
 *
 * WHAT IS MEASURED
 *   (a) C[4096 x 50] = W[4096 x 4096] . B[4096 x 50], fp32, W pruned at 50, 60, 70, 80, 90,
 *       91 .. 99 % (the paper's Figure 10 is 90 .. 99 % on a Titan X; the lower rates locate a
 *       break-even under 90 %):
 *         cuBLAS      cublasSgemm on the dense (unpruned) W: the reference, relative time 1
 *         cuSPARSE    cusparseSpMM (generic API, CUSPARSE_SPMM_ALG_DEFAULT) on the CSR of W
 *                     pruned weight by weight at random positions (what magnitude pruning of
 *                     random weights gives), B and C row-major (CUSPARSE_ORDER_ROW)
 *         Scalpel     scalpel_cuda_gcsr_spmm_f32 on W pruned in aligned groups of G = 4, 8
 *                     and 16 at the same rate (random groups; SIMD-aware pruning's pattern)
 *       and reports each sparse kernel's time relative to dense and its break-even rate,
 *       interpolated linearly where its relative time last crosses 1.
 *   (b) LeNet-300-100 and LeNet-5 (Caffe: conv 20 5x5, pool 2/2, conv 50 5x5, pool 2/2, fc 500,
 *       relu, fc 10), random weights (fixed seed), batch 50: the dense network against the one
 *       scalpel_net_remove_nodes makes with random keep masks of the paper's final sizes
 *       (LeNet-300-100: 161/300, 64/100; LeNet-5: 9/20, 18/50 maps, 65/500), both uploaded with
 *       scalpel_cuda_net_upload. Timed two ways: scalpel_cuda_net_forward_async on device
 *       buffers (the network alone: no host copies), and scalpel_cuda_net_forward with host
 *       buffers (copies and synchronisation included) for reference.
 *
 * HOW
 *   As bench.c and bench_net.c: the kernels compared with each other are one interleaved set.
 *   Each gets an iteration count whose loop lasts at least BENCH_MIN_MS (default 20 ms); then
 *   in each of BENCH_REPEATS rounds (default 11) every member runs once untimed and then its
 *   timed loop, in an order rotated per round, and its time is the median over the rounds.
 *   Work queued on the benchmark's stream (one stream for the sweep and the asynchronous
 *   forward) is timed with cudaEvent records around the loop; the synchronous network forward
 *   (host copies; the library's default-stream path) with the host's monotonic clock.
 *   Correctness is checked once per kernel and network before timing: the sweep against a
 *   double-precision product of the same pruned matrix on the host (every element), the
 *   networks (both entry points) against scalpel_net_forward on the CPU; tolerance 1e-3
 *   relative to the largest reference magnitude; a mismatch exits 1. A missed target is
 *   reported, not an error.
 *
 * Without a usable CUDA device it prints "bench_cuda: no CUDA device (<reason>): skipped" and
 * exits 0. Build: make -C bench run-cuda (nvcc; links ../scalpel_cuda.cu, cuBLAS, cuSPARSE).
 */
#define SCALPEL_IMPLEMENTATION
#define SCALPEL_CUDA
#include "scalpel.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPEATS 21
#define CHECK_TOL 1e-3       /* |gpu - reference| / max |reference| */
#define BATCH 50

#ifndef SWEEP_ROWS           /* the paper's size; smaller only for smoke tests */
#define SWEEP_ROWS 4096
#endif
#ifndef SWEEP_COLS
#define SWEEP_COLS 4096
#endif
#define N_RATES 14
#define N_GROUPS 3
#define N_SWEEP_JOBS (2 + N_GROUPS)

static int g_repeats = 11;
static double g_min_time = 0.020;
static double g_worst_spread = 0.0;
static double g_worst_check = 0.0;
static cudaStream_t g_stream;

/* ---- errors ------------------------------------------------------------------------------ */

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "bench_cuda: %s failed: %s\n", what, why);
    exit(1);
}

static void ck_cuda(cudaError_t e, const char *what)
{
    if (e != cudaSuccess) fail(what, cudaGetErrorString(e));
}

static void ck_cublas(cublasStatus_t s, const char *what)
{
    char buf[48];
    if (s == CUBLAS_STATUS_SUCCESS) return;
    snprintf(buf, sizeof buf, "cuBLAS status %d", (int)s);
    fail(what, buf);
}

static void ck_cusparse(cusparseStatus_t s, const char *what)
{
    if (s != CUSPARSE_STATUS_SUCCESS) fail(what, cusparseGetErrorString(s));
}

static void ck_scalpel(scalpel_status st, const char *what)
{
    if (st != SCALPEL_OK) fail(what, scalpel_status_string(st));
}

/* a scalpel_cuda_net_* call: the handle's CUDA message too */
static void ck_net(scalpel_status st, const scalpel_cuda_net *h, const char *what)
{
    char buf[512];
    if (st == SCALPEL_OK) return;
    snprintf(buf, sizeof buf, "%s (%s)", scalpel_status_string(st), h ? scalpel_cuda_net_error(h) : "");
    fail(what, buf);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "bench_cuda: out of memory (%zu bytes)\n", n); exit(1); }
    return p;
}

static void *dmalloc(size_t n, const char *what)
{
    void *p = NULL;
    ck_cuda(cudaMalloc(&p, n ? n : 4), what);
    return p;
}

static void dfree(void *p)
{
    if (p) ck_cuda(cudaFree(p), "cudaFree");
}

static void upload(void *dst, const void *src, size_t n)
{
    ck_cuda(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice), "cudaMemcpy to device");
}

static void download(void *dst, const void *src, size_t n)
{
    ck_cuda(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
}

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

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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

/* magnitudes in [1/16, 1] * scale, random sign: never zero, so pruning alone makes zeros */
static void fill(float *p, size_t n, float scale, uint64_t *s)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint64_t u = rng_next(s);
        float mag = 0.0625f + 0.9375f * (float)(u >> 40) * (1.0f / 16777216.0f);
        p[i] = ((u & 1u) ? -mag : mag) * scale;
    }
}

/* keep[n]: exactly k ones at random places (selection sampling, Knuth's Algorithm S) */
static void random_keep(uint8_t *keep, size_t n, size_t k, uint64_t *s)
{
    size_t i, need = k;
    for (i = 0; i < n; i++) {
        keep[i] = (uint8_t)(need > 0 && rng_unit(s) * (double)(n - i) < (double)need);
        need -= keep[i];
    }
}

/* ---- interleaved timing ------------------------------------------------------------------ */

typedef struct job {
    const char *name;
    void (*run)(void *ctx);
    void *ctx;
    int host_timed;              /* 1: synchronous call, timed on the host clock */
    long iters;
    double samples[MAX_REPEATS];
    double median;               /* seconds per call */
} job;

static cudaEvent_t g_ev0, g_ev1;

/* seconds for `iters` calls of j */
static double time_loop(job *j, long iters)
{
    long i;
    if (j->host_timed) {
        double t0;
        ck_cuda(cudaStreamSynchronize(g_stream), "cudaStreamSynchronize");
        t0 = now_s();
        for (i = 0; i < iters; i++) j->run(j->ctx);
        return now_s() - t0;
    } else {
        float ms = 0.0f;
        ck_cuda(cudaEventRecord(g_ev0, g_stream), "cudaEventRecord");
        for (i = 0; i < iters; i++) j->run(j->ctx);
        ck_cuda(cudaEventRecord(g_ev1, g_stream), "cudaEventRecord");
        ck_cuda(cudaEventSynchronize(g_ev1), "cudaEventSynchronize");
        ck_cuda(cudaEventElapsedTime(&ms, g_ev0, g_ev1), "cudaEventElapsedTime");
        return 1e-3 * (double)ms;
    }
}

static void measure(job *js, int n)
{
    int i, r;
    for (i = 0; i < n; i++) {            /* warm-up, then a loop of at least g_min_time */
        job *j = &js[i];
        j->iters = 1;
        time_loop(j, 3);
        for (;;) {
            double t = time_loop(j, j->iters), grow;
            if (t >= g_min_time || j->iters > 100000000L) break;
            grow = t > 0.0 ? 1.25 * g_min_time / t : 100.0;
            if (grow > 100.0) grow = 100.0;
            if (grow < 2.0) grow = 2.0;
            j->iters = (long)((double)j->iters * grow) + 1;
        }
    }
    for (r = 0; r < g_repeats; r++)
        for (i = 0; i < n; i++) {
            job *j = &js[(r + i) % n];
            time_loop(j, 1);                               /* untimed */
            j->samples[r] = time_loop(j, j->iters) / (double)j->iters;
        }
    for (i = 0; i < n; i++) {
        job *j = &js[i];
        double spread;
        qsort(j->samples, (size_t)g_repeats, sizeof j->samples[0], cmp_double);
        j->median = j->samples[g_repeats / 2];
        spread = (j->samples[(3 * g_repeats) / 4] - j->samples[g_repeats / 4]) / j->median;
        if (spread > g_worst_spread) g_worst_spread = spread;
        fprintf(stderr, "  %-22s %10.2f us  (loop x%ld, spread %.1f%%)\n", j->name, j->median * 1e6,
                j->iters, 100.0 * spread);
    }
}

static void note_check(const char *what, double worst)
{
    if (worst > g_worst_check) g_worst_check = worst;
    if (!(worst <= CHECK_TOL)) {
        fprintf(stderr, "bench_cuda: %s: GPU result differs from the reference by %g (tolerance %g)\n",
                what, worst, CHECK_TOL);
        exit(1);
    }
}

static const char *fmt_time(double s, char *buf, size_t n)
{
    if (s >= 1e-3) snprintf(buf, n, "%.3f ms", s * 1e3);
    else snprintf(buf, n, "%.2f us", s * 1e6);
    return buf;
}

/* ---- (a) the kernel sweep ---------------------------------------------------------------- */

typedef struct gemm_ctx {       /* C = W . B row-major, as column-major C^T = B^T . W^T */
    cublasHandle_t h;
    const float *w, *b;
    float *c;
    int rows, cols, n;
} gemm_ctx;

static void run_gemm(void *p)
{
    const gemm_ctx *g = (const gemm_ctx *)p;
    const float one = 1.0f, zero = 0.0f;
    /* column-major: C^T[n x rows] = B^T[n x cols] . W^T[cols x rows]; a row-major X[r x c]
     * is the column-major X^T[c x r] with leading dimension c */
    ck_cublas(cublasSgemm(g->h, CUBLAS_OP_N, CUBLAS_OP_N, g->n, g->rows, g->cols, &one, g->b, g->n, g->w,
                          g->cols, &zero, g->c, g->n), "cublasSgemm");
}

typedef struct csr_ctx {
    cusparseHandle_t h;
    cusparseSpMatDescr_t a;
    cusparseDnMatDescr_t b, c;
    void *buffer;
    int32_t *row_ptr, *col_idx;
    float *values;
} csr_ctx;

static void run_csr(void *p)
{
    const csr_ctx *s = (const csr_ctx *)p;
    const float one = 1.0f, zero = 0.0f;
    ck_cusparse(cusparseSpMM(s->h, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, s->a,
                             s->b, &zero, s->c, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, s->buffer), "cusparseSpMM");
}

typedef struct gcsr_ctx {
    scalpel_gcsr w;             /* describes device arrays */
    const float *b;
    float *c;
    int32_t n;
} gcsr_ctx;

static void run_gcsr(void *p)
{
    const gcsr_ctx *g = (const gcsr_ctx *)p;
    ck_scalpel(scalpel_cuda_gcsr_spmm_f32(&g->w, g->b, g->n, g->c, (void *)g_stream), "scalpel_cuda_gcsr_spmm_f32");
}

/* The largest relative difference of the device result dc[rows x n] from W . B computed in
 * double on the host (zero weights skipped); w is the (pruned) host matrix. */
static double check_sweep(const float *w, const float *b, const float *dc, int rows, int cols, int n)
{
    const size_t cn = (size_t)rows * (size_t)n;
    float *c = (float *)xmalloc(cn * sizeof(float));
    double *ref = (double *)xmalloc(cn * sizeof(double));
    double scale = 0.0, worst = 0.0;
    size_t i;
    int r, k, j;
    ck_cuda(cudaStreamSynchronize(g_stream), "cudaStreamSynchronize");
    download(c, dc, cn * sizeof(float));
    for (r = 0; r < rows; r++) {
        double *y = ref + (size_t)r * (size_t)n;
        for (j = 0; j < n; j++) y[j] = 0.0;
        for (k = 0; k < cols; k++) {
            double x = (double)w[(size_t)r * (size_t)cols + (size_t)k];
            const float *bk = b + (size_t)k * (size_t)n;
            if (x == 0.0) continue;
            for (j = 0; j < n; j++) y[j] += x * (double)bk[j];
        }
    }
    for (i = 0; i < cn; i++) if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    if (scale == 0.0) scale = 1.0;
    for (i = 0; i < cn; i++) {
        double d = fabs(ref[i] - (double)c[i]) / scale;
        if (!(d <= worst)) worst = d == d ? d : HUGE_VAL;   /* NaN: the worst */
    }
    free(ref);
    free(c);
    return worst;
}

/* Linear interpolation of the rate where rel crosses 1, after the last rate at which the
 * sparse kernel is not faster (so that one noisy dip is not taken for the crossing).
 * Returns -1 when it is faster at every rate (break-even below the sweep), 2 when never. */
static double break_even(const double *rates, const double *rel, int n)
{
    int i, last = -1;
    for (i = 0; i < n; i++) if (rel[i] >= 1.0) last = i;
    if (last < 0) return -1.0;
    if (last == n - 1) return 2.0;
    return rates[last] + (rates[last + 1] - rates[last]) * (rel[last] - 1.0) / (rel[last] - rel[last + 1]);
}

static const char *fmt_break_even(double be, char *buf, size_t n)
{
    if (be < 0.0) snprintf(buf, n, "< 50%%");
    else if (be > 1.0) snprintf(buf, n, "> 99%%");
    else snprintf(buf, n, "%.1f%%", 100.0 * be);
    return buf;
}

static void bench_sweep(cublasHandle_t cublas, cusparseHandle_t cusparse)
{
    static const double rates[N_RATES] = { 0.50, 0.60, 0.70, 0.80, 0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96,
                                           0.97, 0.98, 0.99 };
    /* the paper's Titan X cuSPARSE relative times at 0.90 .. 0.99 (Figure 10) */
    static const double paper[10] = { 2.176, 2.091, 1.934, 1.782, 1.421, 1.239, 1.035, 0.912, 0.644, 0.351 };
    static const int32_t groups[N_GROUPS] = { 4, 8, 16 };
    const int rows = SWEEP_ROWS, cols = SWEEP_COLS, n = BATCH;
    const size_t wn = (size_t)rows * (size_t)cols;
    double rel[N_SWEEP_JOBS][N_RATES], med[N_SWEEP_JOBS][N_RATES], be[N_SWEEP_JOBS];
    uint64_t seed = 0x5CA1DE10ULL;
    float *w = (float *)xmalloc(wn * sizeof(float));
    float *p = (float *)xmalloc(wn * sizeof(float));
    float *b = (float *)xmalloc((size_t)cols * (size_t)n * sizeof(float));
    uint8_t *keep = (uint8_t *)xmalloc(wn);
    float *dw, *db, *dc;
    gemm_ctx gemm;
    int ri, gi, i;
    char t0[24], t1[24];

    fill(w, wn, 1.0f / (float)sqrt((double)cols), &seed);
    fill(b, (size_t)cols * (size_t)n, 1.0f, &seed);
    dw = (float *)dmalloc(wn * sizeof(float), "cudaMalloc W");
    db = (float *)dmalloc((size_t)cols * (size_t)n * sizeof(float), "cudaMalloc B");
    dc = (float *)dmalloc((size_t)rows * (size_t)n * sizeof(float), "cudaMalloc C");
    upload(dw, w, wn * sizeof(float));
    upload(db, b, (size_t)cols * (size_t)n * sizeof(float));

    gemm.h = cublas; gemm.w = dw; gemm.b = db; gemm.c = dc; gemm.rows = rows; gemm.cols = cols; gemm.n = n;
    ck_cuda(cudaMemsetAsync(dc, 0xff, (size_t)rows * (size_t)n * sizeof(float), g_stream), "cudaMemsetAsync");
    run_gemm(&gemm);
    note_check("cuBLAS SGEMM", check_sweep(w, b, dc, rows, cols, n));

    fprintf(stderr, "bench_cuda: sweep %d x %d . %d x %d\n", rows, cols, cols, n);
    for (ri = 0; ri < N_RATES; ri++) {
        const double rate = rates[ri];
        job js[N_SWEEP_JOBS];
        csr_ctx csr;
        gcsr_ctx gc[N_GROUPS];
        char name[N_GROUPS][24];
        memset(js, 0, sizeof js);
        memset(&csr, 0, sizeof csr);
        memset(gc, 0, sizeof gc);

        /* cuSPARSE: unstructured pruning, exactly round(rate * rows * cols) weights removed */
        {
            size_t kept = wn - (size_t)floor(rate * (double)wn + 0.5), idx;
            int32_t *rp = (int32_t *)xmalloc(((size_t)rows + 1) * sizeof(int32_t));
            int32_t *ci = (int32_t *)xmalloc((kept ? kept : 1) * sizeof(int32_t));
            float *va = (float *)xmalloc((kept ? kept : 1) * sizeof(float));
            size_t bytes;
            int r, k;
            random_keep(keep, wn, kept, &seed);
            for (idx = 0; idx < wn; idx++) p[idx] = keep[idx] ? w[idx] : 0.0f;
            idx = 0;
            rp[0] = 0;
            for (r = 0; r < rows; r++) {
                for (k = 0; k < cols; k++) {
                    float x = p[(size_t)r * (size_t)cols + (size_t)k];
                    if (x != 0.0f) { ci[idx] = k; va[idx] = x; idx++; }
                }
                rp[r + 1] = (int32_t)idx;
            }
            csr.h = cusparse;
            csr.row_ptr = (int32_t *)dmalloc(((size_t)rows + 1) * sizeof(int32_t), "cudaMalloc CSR row_ptr");
            csr.col_idx = (int32_t *)dmalloc(idx * sizeof(int32_t), "cudaMalloc CSR col_idx");
            csr.values = (float *)dmalloc(idx * sizeof(float), "cudaMalloc CSR values");
            upload(csr.row_ptr, rp, ((size_t)rows + 1) * sizeof(int32_t));
            upload(csr.col_idx, ci, idx * sizeof(int32_t));
            upload(csr.values, va, idx * sizeof(float));
            free(rp); free(ci); free(va);
            ck_cusparse(cusparseCreateCsr(&csr.a, rows, cols, (int64_t)idx, csr.row_ptr, csr.col_idx, csr.values,
                                          CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO,
                                          CUDA_R_32F), "cusparseCreateCsr");
            ck_cusparse(cusparseCreateDnMat(&csr.b, cols, n, n, db, CUDA_R_32F, CUSPARSE_ORDER_ROW),
                        "cusparseCreateDnMat B");
            ck_cusparse(cusparseCreateDnMat(&csr.c, rows, n, n, dc, CUDA_R_32F, CUSPARSE_ORDER_ROW),
                        "cusparseCreateDnMat C");
            {
                const float one = 1.0f, zero = 0.0f;
                ck_cusparse(cusparseSpMM_bufferSize(cusparse, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                    CUSPARSE_OPERATION_NON_TRANSPOSE, &one, csr.a, csr.b, &zero,
                                                    csr.c, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &bytes),
                            "cusparseSpMM_bufferSize");
            }
            csr.buffer = bytes ? dmalloc(bytes, "cudaMalloc cuSPARSE buffer") : NULL;
            ck_cuda(cudaMemsetAsync(dc, 0xff, (size_t)rows * (size_t)n * sizeof(float), g_stream), "cudaMemsetAsync");
            run_csr(&csr);
            snprintf(name[0], sizeof name[0], "cuSPARSE CSR %.0f%%", 100.0 * rate);
            note_check(name[0], check_sweep(p, b, dc, rows, cols, n));
        }

        /* Scalpel: aligned groups of G, exactly round(rate * groups) groups removed */
        for (gi = 0; gi < N_GROUPS; gi++) {
            const int32_t g = groups[gi];
            const size_t ng = wn / (size_t)g, kept = ng - (size_t)floor(rate * (double)ng + 0.5);
            scalpel_gcsr m;
            size_t idx, ib;
            char what[48];
            random_keep(keep, ng, kept, &seed);
            for (idx = 0; idx < wn; idx++) p[idx] = keep[idx / (size_t)g] ? w[idx] : 0.0f;
            ck_scalpel(scalpel_gcsr_from_dense(p, rows, cols, g, &m), "scalpel_gcsr_from_dense");
            if ((size_t)m.nnz_groups != kept) fail("group pruning", "stored groups != kept groups");
            ib = (size_t)m.index_bits / 8u;
            gc[gi].w = m;
            gc[gi].w.block = NULL;
            gc[gi].w.alloc_ctx = NULL;
            gc[gi].w.row_ptr = (int32_t *)dmalloc(((size_t)rows + 1) * sizeof(int32_t), "cudaMalloc row_ptr");
            gc[gi].w.col_idx = dmalloc((size_t)m.nnz_groups * ib, "cudaMalloc col_idx");
            gc[gi].w.values = dmalloc((size_t)m.nnz_groups * (size_t)g * sizeof(float), "cudaMalloc values");
            upload(gc[gi].w.row_ptr, m.row_ptr, ((size_t)rows + 1) * sizeof(int32_t));
            upload(gc[gi].w.col_idx, m.col_idx, (size_t)m.nnz_groups * ib);
            upload(gc[gi].w.values, m.values, (size_t)m.nnz_groups * (size_t)g * sizeof(float));
            scalpel_gcsr_free(&m);
            gc[gi].b = db; gc[gi].c = dc; gc[gi].n = n;
            ck_cuda(cudaMemsetAsync(dc, 0xff, (size_t)rows * (size_t)n * sizeof(float), g_stream), "cudaMemsetAsync");
            run_gcsr(&gc[gi]);
            snprintf(what, sizeof what, "Scalpel G=%d %.0f%%", (int)g, 100.0 * rate);
            note_check(what, check_sweep(p, b, dc, rows, cols, n));
            snprintf(name[gi], sizeof name[gi], "Scalpel G=%d", (int)g);
        }

        js[0].name = "cuBLAS SGEMM"; js[0].run = run_gemm; js[0].ctx = &gemm;
        js[1].name = "cuSPARSE CSR"; js[1].run = run_csr; js[1].ctx = &csr;
        for (gi = 0; gi < N_GROUPS; gi++) { js[2 + gi].name = name[gi]; js[2 + gi].run = run_gcsr; js[2 + gi].ctx = &gc[gi]; }
        fprintf(stderr, " %.0f%% pruned\n", 100.0 * rate);
        measure(js, N_SWEEP_JOBS);
        for (i = 0; i < N_SWEEP_JOBS; i++) { med[i][ri] = js[i].median; rel[i][ri] = js[i].median / js[0].median; }

        ck_cusparse(cusparseDestroySpMat(csr.a), "cusparseDestroySpMat");
        ck_cusparse(cusparseDestroyDnMat(csr.b), "cusparseDestroyDnMat");
        ck_cusparse(cusparseDestroyDnMat(csr.c), "cusparseDestroyDnMat");
        dfree(csr.buffer); dfree(csr.row_ptr); dfree(csr.col_idx); dfree(csr.values);
        for (gi = 0; gi < N_GROUPS; gi++) { dfree(gc[gi].w.row_ptr); dfree(gc[gi].w.col_idx); dfree(gc[gi].w.values); }
    }
    for (i = 1; i < N_SWEEP_JOBS; i++) be[i] = break_even(rates, rel[i], N_RATES);

    printf("## (a) Sparse x dense matrix product on the GPU (Figure 10)\n\n");
    printf("C[%d x %d] = W[%d x %d] . B[%d x %d], fp32, row-major, one stream. `rel` is the time relative to "
           "cuBLAS SGEMM on the dense W, measured in the same interleaved set. cuSPARSE: `cusparseSpMM` "
           "(CUSPARSE_SPMM_ALG_DEFAULT, CSR with 32-bit indices, B and C in CUSPARSE_ORDER_ROW) on W pruned weight "
           "by weight at random positions; Scalpel: `scalpel_cuda_gcsr_spmm_f32` on W pruned in whole aligned "
           "groups of G at random. The last column is the paper's Titan X cuSPARSE (csrmm) figure.\n\n",
           rows, n, rows, cols, cols, n);
    printf("| pruned | cuBLAS dense | cuSPARSE CSR | rel | Scalpel G=4 | rel | Scalpel G=8 | rel | Scalpel G=16 | rel | paper cuSPARSE |\n");
    printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (ri = 0; ri < N_RATES; ri++) {
        char pp[16];
        int pi = (int)floor(rates[ri] * 100.0 + 0.5) - 90;
        if (pi >= 0 && pi < 10) snprintf(pp, sizeof pp, "%.3f", paper[pi]);
        else snprintf(pp, sizeof pp, "-");
        printf("| %.0f%% | %s |", 100.0 * rates[ri], fmt_time(med[0][ri], t0, sizeof t0));
        for (i = 1; i < N_SWEEP_JOBS; i++) printf(" %s | %.3f |", fmt_time(med[i][ri], t1, sizeof t1), rel[i][ri]);
        printf(" %s |\n", pp);
    }
    printf("| **break-even** | |");
    for (i = 1; i < N_SWEEP_JOBS; i++) printf(" | **%s** |", fmt_break_even(be[i], t0, sizeof t0));
    printf(" 96.3%% |\n\n");

    printf("Targets (break-even = the pruning rate above which the sparse kernel beats dense):\n\n");
    printf("- cuSPARSE CSR break-even: %s (paper, Titan X: 96.3%%)\n", fmt_break_even(be[1], t0, sizeof t0));
    for (gi = 0; gi < N_GROUPS; gi++)
        printf("- %s Scalpel G=%d break-even %s <= 80%% (target)\n", be[2 + gi] <= 0.80 ? "PASS" : "MISS",
               (int)groups[gi], fmt_break_even(be[2 + gi], t0, sizeof t0));
    printf("\n");
    fflush(stdout);

    dfree(dw); dfree(db); dfree(dc);
    free(w); free(p); free(b); free(keep);
}

/* ---- (b) networks ------------------------------------------------------------------------ */

typedef struct layer_desc { int32_t kind, outputs, kernel, stride; } layer_desc;

typedef struct model {
    const char *name;
    int32_t n_layers;
    layer_desc layers[8];
    int32_t keep_nodes[8];      /* nodes kept per weighted layer (the last keeps all) */
    double paper_speedup;       /* Titan X, Scalpel over dense */
} model;

static void build(const model *m, uint64_t *seed, scalpel_net *net)
{
    int32_t i;
    ck_scalpel(scalpel_net_init(1, 28, 28, net), "scalpel_net_init");
    for (i = 0; i < m->n_layers; i++) {
        const layer_desc *d = &m->layers[i];
        int32_t in_c = net->n_layers ? net->layers[net->n_layers - 1].geom.out_c : net->in_c;
        int32_t cols = d->kind == SCALPEL_LAYER_FC ? scalpel_net_output_size(net) : in_c * d->kernel * d->kernel;
        float *w = NULL, *b = NULL;
        if (d->kind == SCALPEL_LAYER_FC || d->kind == SCALPEL_LAYER_CONV2D) {
            size_t wn = (size_t)d->outputs * (size_t)cols;
            w = (float *)xmalloc(wn * sizeof(float));
            b = (float *)xmalloc((size_t)d->outputs * sizeof(float));
            fill(w, wn, 1.0f / (float)sqrt((double)cols), seed);   /* an initialiser's scale */
            fill(b, (size_t)d->outputs, 0.1f, seed);
        }
        switch (d->kind) {
        case SCALPEL_LAYER_FC: ck_scalpel(scalpel_net_add_fc(net, d->outputs, w, b), "scalpel_net_add_fc"); break;
        case SCALPEL_LAYER_CONV2D:
            ck_scalpel(scalpel_net_add_conv2d(net, d->outputs, d->kernel, d->stride, 0, w, b), "scalpel_net_add_conv2d");
            break;
        case SCALPEL_LAYER_MAXPOOL:
            ck_scalpel(scalpel_net_add_maxpool(net, d->kernel, d->stride), "scalpel_net_add_maxpool");
            break;
        default: ck_scalpel(scalpel_net_add_relu(net), "scalpel_net_add_relu"); break;
        }
        free(w);
        free(b);
    }
}

typedef struct net_ctx {
    scalpel_cuda_net *h;
    const float *in;             /* device (async) or host (sync) */
    float *out;
    int sync;
} net_ctx;

static void run_net(void *p)
{
    const net_ctx *c = (const net_ctx *)p;
    if (c->sync) ck_net(scalpel_cuda_net_forward(c->h, c->in, BATCH, c->out), c->h, "scalpel_cuda_net_forward");
    else ck_net(scalpel_cuda_net_forward_async(c->h, c->in, BATCH, c->out, (void *)g_stream), c->h,
                "scalpel_cuda_net_forward_async");
}

static double max_rel_diff(const float *ref, const float *y, size_t n)
{
    double scale = 0.0, worst = 0.0;
    size_t i;
    for (i = 0; i < n; i++) if (fabs((double)ref[i]) > scale) scale = fabs((double)ref[i]);
    if (scale == 0.0) scale = 1.0;
    for (i = 0; i < n; i++) {
        double d = fabs((double)ref[i] - (double)y[i]) / scale;
        if (!(d <= worst)) worst = d == d ? d : HUGE_VAL;   /* NaN: the worst */
    }
    return worst;
}

/* net on the CPU and on the GPU (both entry points) agree on x[BATCH] */
static void check_net(const char *what, const scalpel_net *net, scalpel_cuda_net *h, const float *x,
                      const float *dx, float *dy)
{
    const size_t nout = (size_t)scalpel_net_output_size(net) * BATCH;
    size_t wsb = scalpel_net_workspace_size(net, BATCH);
    void *ws = xmalloc(wsb);
    float *ref = (float *)xmalloc(nout * sizeof(float)), *y = (float *)xmalloc(nout * sizeof(float));
    char buf[96];
    if (wsb == 0) fail("scalpel_net_workspace_size", "0");
    ck_scalpel(scalpel_net_forward(net, x, BATCH, ref, ws), "scalpel_net_forward");
    memset(y, 0xff, nout * sizeof(float));
    ck_net(scalpel_cuda_net_forward(h, x, BATCH, y), h, "scalpel_cuda_net_forward");
    snprintf(buf, sizeof buf, "%s, scalpel_cuda_net_forward", what);
    note_check(buf, max_rel_diff(ref, y, nout));
    ck_cuda(cudaMemsetAsync(dy, 0xff, nout * sizeof(float), g_stream), "cudaMemsetAsync");
    ck_net(scalpel_cuda_net_forward_async(h, dx, BATCH, dy, (void *)g_stream), h, "scalpel_cuda_net_forward_async");
    ck_cuda(cudaStreamSynchronize(g_stream), "cudaStreamSynchronize");
    download(y, dy, nout * sizeof(float));
    snprintf(buf, sizeof buf, "%s, scalpel_cuda_net_forward_async", what);
    note_check(buf, max_rel_diff(ref, y, nout));
    free(ws); free(ref); free(y);
}

static void structure(const scalpel_net *net, char *buf, size_t n)
{
    int32_t i;
    size_t used = 0;
    buf[0] = '\0';
    for (i = 0; i < net->n_layers && used + 8 < n; i++) {
        const scalpel_layer *L = &net->layers[i];
        int k;
        if (L->geom.kind != SCALPEL_LAYER_FC && L->geom.kind != SCALPEL_LAYER_CONV2D) continue;
        k = snprintf(buf + used, n - used, "%s%d", used ? "-" : "", (int)L->geom.out_c);
        if (k < 0 || (size_t)k >= n - used) break;
        used += (size_t)k;
    }
}

static int64_t weight_count(const scalpel_net *net)
{
    int64_t c = 0;
    int32_t i;
    for (i = 0; i < net->n_layers; i++) c += (int64_t)net->layers[i].geom.rows * net->layers[i].geom.cols;
    return c;
}

static void bench_model(const model *m)
{
    scalpel_net dense, small;
    scalpel_net *nets[2];
    scalpel_cuda_net *h[2] = { NULL, NULL };
    const uint8_t *keep_ptrs[SCALPEL_NET_MAX_LAYERS];
    uint8_t *keep_bufs[SCALPEL_NET_MAX_LAYERS];
    uint64_t seed = 0x5CA1DE11ULL;
    net_ctx ctx[4];
    job js[4];
    int32_t i, k, nw = 0, nin, nout;
    float *x, *y, *dx, *dy[2];
    char s[2][64], t0[24], t1[24], t2[24];

    memset(keep_ptrs, 0, sizeof keep_ptrs);
    memset(keep_bufs, 0, sizeof keep_bufs);
    build(m, &seed, &dense);
    for (i = 0; i < dense.n_layers; i++)
        if (dense.layers[i].geom.kind == SCALPEL_LAYER_FC || dense.layers[i].geom.kind == SCALPEL_LAYER_CONV2D) nw++;
    for (i = 0, k = 0; i < dense.n_layers; i++) {
        const scalpel_layer *L = &dense.layers[i];
        if (L->geom.kind != SCALPEL_LAYER_FC && L->geom.kind != SCALPEL_LAYER_CONV2D) continue;
        if (k < nw - 1) {
            keep_bufs[i] = (uint8_t *)xmalloc((size_t)L->geom.out_c);
            random_keep(keep_bufs[i], (size_t)L->geom.out_c, (size_t)m->keep_nodes[k], &seed);
            keep_ptrs[i] = keep_bufs[i];
        }
        k++;
    }
    ck_scalpel(scalpel_net_remove_nodes(&dense, keep_ptrs, 1, &small), "scalpel_net_remove_nodes");
    nets[0] = &dense;
    nets[1] = &small;

    nin = scalpel_net_input_size(&dense);
    nout = scalpel_net_output_size(&dense);
    x = (float *)xmalloc((size_t)nin * BATCH * sizeof(float));
    y = (float *)xmalloc((size_t)nout * BATCH * sizeof(float));
    fill(x, (size_t)nin * BATCH, 1.0f, &seed);
    dx = (float *)dmalloc((size_t)nin * BATCH * sizeof(float), "cudaMalloc input");
    upload(dx, x, (size_t)nin * BATCH * sizeof(float));
    for (i = 0; i < 2; i++) {
        dy[i] = (float *)dmalloc((size_t)nout * BATCH * sizeof(float), "cudaMalloc output");
        ck_net(scalpel_cuda_net_upload(nets[i], BATCH, &h[i]), NULL, "scalpel_cuda_net_upload");
        check_net(i ? "node-pruned" : "dense", nets[i], h[i], x, dx, dy[i]);
        structure(nets[i], s[i], sizeof s[i]);
    }

    memset(js, 0, sizeof js);
    for (i = 0; i < 4; i++) {
        int v = i & 1, sync = i >> 1;
        ctx[i].h = h[v];
        ctx[i].sync = sync;
        ctx[i].in = sync ? x : dx;
        ctx[i].out = sync ? y : dy[v];
        js[i].run = run_net;
        js[i].ctx = &ctx[i];
        js[i].host_timed = sync;
    }
    js[0].name = "dense, async";
    js[1].name = "node-pruned, async";
    js[2].name = "dense, sync";
    js[3].name = "node-pruned, sync";
    fprintf(stderr, "bench_cuda: %s\n", m->name);
    measure(js, 4);

    printf("### %s\n\n", m->name);
    printf("| variant | weighted layers (outputs) | weights | device buffers: time / batch | per sample | speed-up | "
           "host buffers (with copies): time / batch | speed-up | paper Titan X |\n");
    printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (i = 0; i < 2; i++) {
        char ps[16];
        if (i) snprintf(ps, sizeof ps, "%.2fx", m->paper_speedup);
        else snprintf(ps, sizeof ps, "1x");
        printf("| %s | %s | %lld | %s | %s | %.2fx | %s | %.2fx | %s |\n", i ? "node-pruned" : "dense", s[i],
               (long long)weight_count(nets[i]), fmt_time(js[i].median, t0, sizeof t0),
               fmt_time(js[i].median / BATCH, t2, sizeof t2),
               js[0].median / js[i].median, fmt_time(js[2 + i].median, t1, sizeof t1),
               js[2].median / js[2 + i].median, ps);
    }
    printf("\n");
    fflush(stdout);

    for (i = 0; i < 2; i++) { scalpel_cuda_net_free(h[i]); dfree(dy[i]); }
    dfree(dx);
    free(x); free(y);
    for (i = 0; i < SCALPEL_NET_MAX_LAYERS; i++) free(keep_bufs[i]);
    scalpel_net_free(&small);
    scalpel_net_free(&dense);
}

/* ---- main -------------------------------------------------------------------------------- */

int main(void)
{
    static const model lenet300 = {
        "LeNet-300-100", 5,
        { { SCALPEL_LAYER_FC, 300, 0, 0 }, { SCALPEL_LAYER_RELU, 0, 0, 0 }, { SCALPEL_LAYER_FC, 100, 0, 0 },
          { SCALPEL_LAYER_RELU, 0, 0, 0 }, { SCALPEL_LAYER_FC, 10, 0, 0 } },
        { 161, 64, 10 },
        1.08
    };
    static const model lenet5 = {
        "LeNet-5 (Caffe)", 7,
        { { SCALPEL_LAYER_CONV2D, 20, 5, 1 }, { SCALPEL_LAYER_MAXPOOL, 0, 2, 2 },
          { SCALPEL_LAYER_CONV2D, 50, 5, 1 }, { SCALPEL_LAYER_MAXPOOL, 0, 2, 2 },
          { SCALPEL_LAYER_FC, 500, 0, 0 }, { SCALPEL_LAYER_RELU, 0, 0, 0 }, { SCALPEL_LAYER_FC, 10, 0, 0 } },
        { 9, 18, 65, 10 },
        1.59
    };
    char name[256];
    int32_t count = 0;
    scalpel_status st;
    cublasHandle_t cublas;
    cusparseHandle_t cusparse;
    cudaDeviceProp prop;
    int rt = 0, drv = 0, cbv = 0, csv = 0;
    double t_start = now_s();

    name[0] = '\0';
    st = scalpel_cuda_device_info(&count, name, sizeof name);
    if (st == SCALPEL_ERR_NO_DEVICE || (st == SCALPEL_OK && count < 1)) {
        int n = 0;
        cudaError_t e = cudaGetDeviceCount(&n);
        printf("bench_cuda: no CUDA device (%s): skipped\n",
               e != cudaSuccess ? cudaGetErrorString(e) : scalpel_status_string(SCALPEL_ERR_NO_DEVICE));
        return 0;
    }
    ck_scalpel(st, "scalpel_cuda_device_info");

    g_repeats = (int)env_long("BENCH_REPEATS", 11, 7, MAX_REPEATS) | 1;
    if (g_repeats > MAX_REPEATS) g_repeats = MAX_REPEATS;
    g_min_time = 1e-3 * (double)env_long("BENCH_MIN_MS", 20, 1, 1000);

    ck_cuda(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    ck_cuda(cudaRuntimeGetVersion(&rt), "cudaRuntimeGetVersion");
    ck_cuda(cudaDriverGetVersion(&drv), "cudaDriverGetVersion");
    /* a blocking stream: it waits for the legacy default stream, where cudaMemcpy uploads go */
    ck_cuda(cudaStreamCreate(&g_stream), "cudaStreamCreate");
    ck_cuda(cudaEventCreate(&g_ev0), "cudaEventCreate");
    ck_cuda(cudaEventCreate(&g_ev1), "cudaEventCreate");
    ck_cublas(cublasCreate(&cublas), "cublasCreate");
    ck_cublas(cublasSetStream(cublas, g_stream), "cublasSetStream");
    ck_cublas(cublasGetVersion(cublas, &cbv), "cublasGetVersion");
    ck_cusparse(cusparseCreate(&cusparse), "cusparseCreate");
    ck_cusparse(cusparseSetStream(cusparse, g_stream), "cusparseSetStream");
    ck_cusparse(cusparseGetVersion(cusparse, &csv), "cusparseGetVersion");

    printf("# Scalpel GPU benchmark\n\n");
    printf("- device: %s (%d device%s; compute capability %d.%d, %d SMs, %.1f GiB)\n", name, (int)count,
           count == 1 ? "" : "s", prop.major, prop.minor, prop.multiProcessorCount,
           (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    printf("- CUDA runtime %d.%d, driver %d.%d, cuBLAS %d, cuSPARSE %d\n", rt / 1000, (rt % 1000) / 10, drv / 1000,
           (drv % 1000) / 10, cbv, csv);
    printf("- timing: median of %d interleaved rounds, each a loop of >= %.0f ms after warm-up; cudaEvent timers "
           "on one stream (host clock for the synchronous network calls); fp32, batch %d, random data (fixed seed)\n\n",
           g_repeats, g_min_time * 1e3, BATCH);
    fflush(stdout);

    bench_sweep(cublas, cusparse);

    printf("## (b) Networks, batch %d\n\n", BATCH);
    printf("Dense against node-pruned (`scalpel_net_remove_nodes`, random keep masks of the paper's final sizes; "
           "dense layers on cuBLAS). \"Device buffers\" is `scalpel_cuda_net_forward_async` with input and output "
           "already on the GPU, so host copies do not dominate; \"host buffers\" is the synchronous "
           "`scalpel_cuda_net_forward`, which copies the batch in and the outputs back. The paper's Titan X speed-up "
           "is Scalpel over dense on trained networks.\n\n");
    bench_model(&lenet300);
    bench_model(&lenet5);

    printf("Largest interquartile spread of a measurement: %.1f%%. Every GPU result agreed with its reference "
           "(worst relative difference %.1e, tolerance %.0e).\n\n", 100.0 * g_worst_spread, g_worst_check, CHECK_TOL);
    printf("Total time: %.0f s.\n", now_s() - t_start);

    ck_cusparse(cusparseDestroy(cusparse), "cusparseDestroy");
    ck_cublas(cublasDestroy(cublas), "cublasDestroy");
    ck_cuda(cudaEventDestroy(g_ev0), "cudaEventDestroy");
    ck_cuda(cudaEventDestroy(g_ev1), "cudaEventDestroy");
    ck_cuda(cudaStreamDestroy(g_stream), "cudaStreamDestroy");
    return 0;
}
