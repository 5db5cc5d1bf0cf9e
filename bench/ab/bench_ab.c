/* bench_ab.c - the sparse kernels before and after a change, in one run on one machine.
 *
 * The same program links two copies of the library (ab_side.c compiled against the reference
 * commit's headers as ref_*, and against the working tree's as new_*) and times them
 * interleaved, round by round, on the same matrices: grouped spmv (G = 16, 8, 1) at 0, 5, 50
 * and 90 % pruning on 2048^2 and 4096^2, grouped spmm (G = 16, 8, 1) at 70, 90 and 99 % on the
 * shapes of bench.c's section 4b, and the dense gemv. Prints a Markdown table of medians and
 * new / ref (below 1: the change made it faster). `make -C bench ab` builds it for
 * -march=x86-64-v3 (AVX2) and -march=x86-64 (SSE2) and runs both; REF=<commit> picks the
 * reference (default: the commit before the kernel work of the Zen 4 issue). An argument
 * `mv` or `mm` runs the spmv or the spmm part only.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void *ref_gcsr_new(const float *w, int32_t rows, int32_t cols, int32_t group);
void ref_gcsr_free(void *m);
void ref_spmv(const void *m, const float *x, float *y);
void ref_spmm(const void *m, const float *b, int32_t n, float *c);
void ref_gemv(const float *w, int32_t rows, int32_t cols, const float *x, float *y);
const char *ref_backend(void);
void *new_gcsr_new(const float *w, int32_t rows, int32_t cols, int32_t group);
void new_gcsr_free(void *m);
void new_spmv(const void *m, const float *x, float *y);
void new_spmm(const void *m, const float *b, int32_t n, float *c);
void new_gemv(const float *w, int32_t rows, int32_t cols, const float *x, float *y);
const char *new_backend(void);

#define ROUNDS 9

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

/* zeroes a random `rate` of the aligned groups of g in every row */
static void prune(float *w, int32_t rows, int32_t cols, int32_t g, double rate)
{
    int32_t r, k, j;
    for (r = 0; r < rows; r++)
        for (k = 0; k * g < cols; k++)
            if ((uniform() + 1.0f) * 0.5f < rate)
                for (j = k * g; j < cols && j < k * g + g; j++) w[(size_t)r * cols + j] = 0.0f;
}

typedef struct op { int kind; const void *m; const float *w, *x; float *y; int32_t rows, cols, n; } op;

static void run(const op *o, int side)
{
    if (o->kind == 0) (side ? new_spmv : ref_spmv)(o->m, o->x, o->y);
    else if (o->kind == 1) (side ? new_spmm : ref_spmm)(o->m, o->x, o->n, o->y);
    else (side ? new_gemv : ref_gemv)(o->w, o->rows, o->cols, o->x, o->y);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* median seconds per call of the two sides, interleaved round by round */
static void time_pair(const op *ref, const op *cur, double *t_ref, double *t_new)
{
    double s[2][ROUNDS];
    int r, side;
    for (r = 0; r < ROUNDS; r++)
        for (side = 0; side < 2; side++) {
            const op *o = side ? cur : ref;
            long it = 0;
            double t0 = now_s(), t;
            do {
                run(o, side);
                it++;
                t = now_s() - t0;
            } while (t < 0.01);
            s[side][r] = t / (double)it;
        }
    qsort(s[0], ROUNDS, sizeof(double), cmp);
    qsort(s[1], ROUNDS, sizeof(double), cmp);
    *t_ref = s[0][ROUNDS / 2];
    *t_new = s[1][ROUNDS / 2];
}

static void row(const char *what, const op *ref, const op *cur)
{
    double a, b;
    time_pair(ref, cur, &a, &b);
    printf("| %s | %.1f | %.1f | %.3f |\n", what, a * 1e6, b * 1e6, b / a);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const int only_mv = argc > 1 && strcmp(argv[1], "mv") == 0, only_mm = argc > 1 && strcmp(argv[1], "mm") == 0;
    static const int32_t groups[3] = { 16, 8, 1 };
    static const double mv_rates[4] = { 0.0, 0.05, 0.5, 0.9 }, mm_rates[3] = { 0.7, 0.9, 0.99 };
    static const int32_t mm_shapes[3][3] = { { 128, 1200, 729 }, { 128, 128, 144 }, { 64, 32, 64 } };
    int32_t si, gi, ri;
    printf("backends: ref `%s`, new `%s`; median of %d interleaved rounds of >= 10 ms; times in us\n\n", ref_backend(),
           new_backend(), ROUNDS);
    printf("| kernel | ref | new | new / ref |\n| --- | ---: | ---: | ---: |\n");
    for (si = 0; si < 2 && !only_mm; si++) {
        const int32_t n = si ? 4096 : 2048;
        float *w = (float *)malloc(sizeof(float) * (size_t)n * n), *p = (float *)malloc(sizeof(float) * (size_t)n * n);
        float *x = (float *)malloc(sizeof(float) * (size_t)n), *y = (float *)malloc(sizeof(float) * (size_t)n);
        char what[96];
        op a, b;
        size_t i;
        for (i = 0; i < (size_t)n * n; i++) w[i] = uniform();
        for (i = 0; i < (size_t)n; i++) x[i] = uniform();
        memset(&a, 0, sizeof a);
        a.kind = 2; a.w = w; a.rows = n; a.cols = n; a.x = x; a.y = y;
        b = a;
        snprintf(what, sizeof what, "dense gemv %d^2", (int)n);
        row(what, &a, &b);
        for (gi = 0; gi < 3; gi++)
            for (ri = 0; ri < 4; ri++) {
                memcpy(p, w, sizeof(float) * (size_t)n * n);
                prune(p, n, n, groups[gi], mv_rates[ri]);
                a.kind = b.kind = 0;
                a.m = ref_gcsr_new(p, n, n, groups[gi]);
                b.m = new_gcsr_new(p, n, n, groups[gi]);
                if (a.m == NULL || b.m == NULL) return 1;
                snprintf(what, sizeof what, "spmv %d^2 G=%d %.0f%%", (int)n, (int)groups[gi], 100.0 * mv_rates[ri]);
                row(what, &a, &b);
                ref_gcsr_free((void *)(uintptr_t)a.m);
                new_gcsr_free((void *)(uintptr_t)b.m);
            }
        free(w); free(p); free(x); free(y);
    }
    for (si = 0; si < 3 && !only_mv; si++) {
        const int32_t m = mm_shapes[si][0], k = mm_shapes[si][1], n = mm_shapes[si][2];
        float *w = (float *)malloc(sizeof(float) * (size_t)m * k), *bm = (float *)malloc(sizeof(float) * (size_t)k * n);
        float *c = (float *)malloc(sizeof(float) * (size_t)m * n);
        size_t i;
        for (i = 0; i < (size_t)k * n; i++) bm[i] = uniform();
        for (gi = 0; gi < 3; gi++)
            for (ri = 0; ri < 3; ri++) {
                char what[96];
                op a, b;
                for (i = 0; i < (size_t)m * k; i++) w[i] = uniform();
                prune(w, m, k, groups[gi], mm_rates[ri]);
                memset(&a, 0, sizeof a);
                a.kind = 1; a.x = bm; a.y = c; a.n = n;
                b = a;
                a.m = ref_gcsr_new(w, m, k, groups[gi]);
                b.m = new_gcsr_new(w, m, k, groups[gi]);
                if (a.m == NULL || b.m == NULL) return 1;
                snprintf(what, sizeof what, "spmm %dx%d . %dx%d G=%d %.0f%%", (int)m, (int)k, (int)k, (int)n, (int)groups[gi],
                         100.0 * mm_rates[ri]);
                row(what, &a, &b);
                ref_gcsr_free((void *)(uintptr_t)a.m);
                new_gcsr_free((void *)(uintptr_t)b.m);
            }
        free(w); free(bm); free(c);
    }
    return 0;
}
