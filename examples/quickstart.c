/* quickstart.c - prune a matrix in SIMD-width groups, multiply, check, and compare with dense.
 *
 *   cc -O2 -march=native -I. examples/quickstart.c -o quickstart -lm && ./quickstart
 *
 * A random 2048 x 2048 layer loses 90% of its weights in aligned groups of G along the input
 * axis (G = the vector width of the backend compiled in), chosen by group RMS as in the Scalpel
 * method. The grouped-CSR product must equal the dense product of the pruned matrix; then the
 * program prints the storage of dense, plain CSR (G = 1) and grouped CSR, and the time of each
 * kernel (median of repeated runs, measured side by side in this run).
 *
 * Options: quickstart [ROWS COLS [RATE]], e.g. quickstart 4096 4096 0.95 */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint32_t rng = 12345u;
static float uniform(void) /* [-1, 1) */
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Zero the groups [k*G, k*G+G) of each row whose RMS falls in the lowest `rate` fraction. */
static void prune_groups(float *w, int32_t rows, int32_t cols, int32_t g, double rate)
{
    int32_t gpr = (cols + g - 1) / g, r, k, j;
    size_t n = (size_t)rows * (size_t)gpr, cut = (size_t)(rate * (double)n);
    float *score = (float *)malloc(n * sizeof(float)), *sorted = (float *)malloc(n * sizeof(float)), thr;
    if (score == NULL || sorted == NULL) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (r = 0; r < rows; r++)
        for (k = 0; k < gpr; k++) {
            double s = 0.0;
            int32_t m = 0;
            for (j = k * g; j < k * g + g && j < cols; j++, m++) s += (double)w[(size_t)r * cols + j] * w[(size_t)r * cols + j];
            score[(size_t)r * gpr + k] = (float)sqrt(s / m);
        }
    memcpy(sorted, score, n * sizeof(float));
    qsort(sorted, n, sizeof(float), cmp_float);
    thr = cut == 0 ? -1.0f : cut >= n ? INFINITY : sorted[cut];
    for (r = 0; r < rows; r++)
        for (k = 0; k < gpr; k++)
            if (score[(size_t)r * gpr + k] < thr)
                for (j = k * g; j < k * g + g && j < cols; j++) w[(size_t)r * cols + j] = 0.0f;
    free(score);
    free(sorted);
}

static double seconds(void) { return (double)clock() / CLOCKS_PER_SEC; }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median time per call of one kernel: 9 samples, each long enough to measure with clock(). */
#define TIME_MEDIAN(result, call)                                                                   \
    do {                                                                                           \
        double t_[9], t0_;                                                                         \
        long reps_ = 1, i_;                                                                        \
        int s_;                                                                                    \
        for (;;) {                                                                                 \
            t0_ = seconds();                                                                       \
            for (i_ = 0; i_ < reps_; i_++) { call; }                                               \
            if (seconds() - t0_ > 0.02) break;                                                     \
            reps_ *= 2;                                                                            \
        }                                                                                          \
        for (s_ = 0; s_ < 9; s_++) {                                                               \
            t0_ = seconds();                                                                       \
            for (i_ = 0; i_ < reps_; i_++) { call; }                                               \
            t_[s_] = (seconds() - t0_) / (double)reps_;                                            \
        }                                                                                          \
        qsort(t_, 9, sizeof(double), cmp_double);                                                  \
        (result) = t_[4];                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    int32_t rows = 2048, cols = 2048, i, g;
    double rate = 0.90, max_err = 0.0, t_dense, t_csr, t_grouped;
    const char *backend = scalpel_kernels_backend();
    float *w, *x, *y_dense, *y_sparse;
    scalpel_gcsr grouped, csr;
    scalpel_status st;

    if (argc == 3 || argc == 4) {
        rows = (int32_t)atoi(argv[1]);
        cols = (int32_t)atoi(argv[2]);
        if (argc == 4) rate = atof(argv[3]);
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [ROWS COLS [RATE]]   (defaults: 2048 2048 0.90)\n", argv[0]);
        return 2;
    }
    if (rows < 1 || cols < 1 || rows > 65536 || cols > 65536 || !(rate >= 0.0 && rate < 1.0)) {
        fprintf(stderr, "%s: ROWS and COLS must be 1..65536 and RATE in [0, 1)\n", argv[0]);
        return 2;
    }
    /* G = the vector width of the compiled backend: the fast case of the grouped kernel */
    g = strcmp(backend, "x86-avx512") == 0 ? 16 : strcmp(backend, "x86-avx2") == 0 ? 8 : 4;

    w = (float *)malloc((size_t)rows * cols * sizeof(float));
    x = (float *)malloc((size_t)cols * sizeof(float));
    y_dense = (float *)malloc((size_t)rows * sizeof(float));
    y_sparse = (float *)malloc((size_t)rows * sizeof(float));
    if (!w || !x || !y_dense || !y_sparse) { fprintf(stderr, "out of memory\n"); return 1; }
    for (i = 0; i < rows * cols; i++) w[i] = uniform();
    for (i = 0; i < cols; i++) x[i] = uniform();

    prune_groups(w, rows, cols, g, rate);
    st = scalpel_gcsr_from_dense(w, rows, cols, g, &grouped);
    if (st == SCALPEL_OK) st = scalpel_gcsr_from_dense(w, rows, cols, 1, &csr);
    if (st != SCALPEL_OK) { fprintf(stderr, "scalpel: %s\n", scalpel_status_string(st)); return 1; }

    /* correctness: grouped and CSR products equal the dense product of the pruned matrix */
    scalpel_gemv_f32(w, rows, cols, x, y_dense);
    scalpel_gcsr_spmv_f32(&grouped, x, y_sparse);
    for (i = 0; i < rows; i++) max_err = fmax(max_err, fabs((double)y_sparse[i] - y_dense[i]));
    scalpel_gcsr_spmv_f32(&csr, x, y_sparse);
    for (i = 0; i < rows; i++) max_err = fmax(max_err, fabs((double)y_sparse[i] - y_dense[i]));

    TIME_MEDIAN(t_dense, scalpel_gemv_f32(w, rows, cols, x, y_dense));
    TIME_MEDIAN(t_csr, scalpel_gcsr_spmv_f32(&csr, x, y_sparse));
    TIME_MEDIAN(t_grouped, scalpel_gcsr_spmv_f32(&grouped, x, y_sparse));

    printf("Scalpel %s, backend %s\n", SCALPEL_VERSION_STRING, backend);
    printf("W: %d x %d, %.0f%% of weights pruned in aligned groups of G = %d (by group RMS)\n",
           (int)rows, (int)cols, rate * 100.0, (int)g);
    printf("max |grouped - dense| = %.3g, |csr - dense| included (%s)\n", max_err,
           max_err < 1e-3 ? "ok" : "MISMATCH");
    printf("\n%-22s %12s %10s %12s %10s\n", "format", "bytes", "size", "time/call", "speed-up");
    printf("%-22s %12lu %9.1f%% %10.1f us %9.2fx\n", "dense", (unsigned long)((size_t)rows * cols * 4), 100.0,
           t_dense * 1e6, 1.0);
    printf("%-22s %12lu %9.1f%% %10.1f us %9.2fx\n", "CSR (G = 1)", (unsigned long)scalpel_gcsr_bytes(&csr),
           100.0 * (double)scalpel_gcsr_bytes(&csr) / ((double)rows * cols * 4), t_csr * 1e6, t_dense / t_csr);
    printf("grouped CSR (G = %-2d)   %12lu %9.1f%% %10.1f us %9.2fx\n", (int)g, (unsigned long)scalpel_gcsr_bytes(&grouped),
           100.0 * (double)scalpel_gcsr_bytes(&grouped) / ((double)rows * cols * 4), t_grouped * 1e6, t_dense / t_grouped);

    scalpel_gcsr_free(&grouped);
    scalpel_gcsr_free(&csr);
    free(w); free(x); free(y_dense); free(y_sparse);
    return max_err < 1e-3 ? 0 : 1;
}
