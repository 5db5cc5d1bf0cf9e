/* cortex_m_q.c - the paper's Cortex-M sweep (Figure 9: 100 x 100, pruning rates 30 .. 99%, with
 * 10 and 20% added below them) in fixed point, counted on emulated Cortex-M4 and M55 cores:
 *
 *   sh tests/cortex-m/run.sh count m4 build/bench/cortex_m_q-m4.elf bench/cortex_m_q.c \
 *     | python3 bench/cortex_m_q_table.py m4
 *
 * Four sweeps, one bench_start() / bench_stop() pair per kernel call, in this order:
 *   1. q15 matrix-vector: dense scalpel_gemv_q15, then per rate CSR (G = 1) and grouped G15
 *   2. q7 matrix-vector:  dense scalpel_gemv_q7,  then per rate CSR (G = 1) and grouped G7
 *   3. q15 matrix-matrix (NV input vectors): dense scalpel_gemm_q15, then per rate CSR, G15
 *   4. q7 matrix-matrix (NV input vectors):  dense scalpel_gemm_q7,  then per rate CSR, G7
 * G15 / G7 are 2 / 4 on DSP cores (one 32-bit word) and 8 / 16 on Helium (one vector).
 * Each format is pruned at the same rate with its own granularity: in every row, that share of
 * the aligned groups of G (rounded) is zeroed, chosen at random (fixed seed: the run is
 * deterministic). The sparse matrices are built with scalpel_gcsr_from_dense_fixed_into in
 * static memory. Every kernel uses the same realistic requant (per-layer mult / shift from
 * scalpel_requant_from_real, a bias per row). Before a sparse kernel is timed, its output is
 * compared with the dense kernel's on the same pruned matrix (and the dense kernels with their
 * plain C references): any difference ends the program with a nonzero status, so the table
 * can never come from wrong code. bench/cortex_m_q_table.py turns the counts into tables. */
#define SCALPEL_FORMAT_IMPLEMENTATION
#define SCALPEL_KERNELS_IMPLEMENTATION
#include "scalpel_kernels.h"

#include <stdio.h>
#include <string.h>

#define N 100  /* rows = cols of the weight matrix */
/* the grouped G of each type: one 32-bit word on DSP cores (SMLALD pair, SXTB16 + SMLAD quad),
 * one 128-bit vector on Helium (8 q15, 16 q7 lanes: the paper's rule, G = the SIMD width) */
#if defined(__ARM_FEATURE_MVE)
#define G15 8
#define G7 16
#else
#define G15 2
#define G7 4
#endif
#define NV 100 /* input vectors of the matrix-matrix sweep */
#define NRATES 11

__attribute__((noinline)) void bench_start(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void bench_stop(void) { __asm__ volatile("" ::: "memory"); }

static const int rates[NRATES] = { 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99 };

static int16_t w15[N * N], wp15[N * N], x15[NV * N], y15[NV * N], yd15[NV * N];
static int8_t w7[N * N], wp7[N * N], x7[NV * N], y7[NV * N], yd7[NV * N];
static int64_t bias[N];
static uint32_t mem32[(N * N * 2 + N * N * 4 + 4 * (N + 1) + 1024) / 4]; /* one grouped CSR, 4-aligned */
static int32_t mult15, mult7;
static int8_t shift15, shift7;
static scalpel_requant rq15, rq7;

static uint32_t seed = 2017u;
static uint32_t next(void) { seed = seed * 1664525u + 1013904223u; return seed >> 8; }
/* uniform in [-m, m] without 0 */
static int32_t nonzero(int32_t m)
{
    int32_t v = (int32_t)(next() % (uint32_t)(2 * m)) - m;
    return v >= 0 ? v + 1 : v;
}

/* wp = w with `pct` % of the aligned groups of g in each row (rounded) zeroed at random */
static void prune(size_t esz, int32_t g, int pct)
{
    int32_t r, k, gpr = (N + g - 1) / g, drop = (gpr * pct + 50) / 100; /* a tail group counts too */
    if (esz == 2) memcpy(wp15, w15, sizeof(w15));
    else memcpy(wp7, w7, sizeof(w7));
    for (r = 0; r < N; r++) {
        int32_t left = drop;
        unsigned char gone[N];
        memset(gone, 0, sizeof(gone));
        while (left > 0) {
            k = (int32_t)(next() % (uint32_t)gpr);
            if (gone[k]) continue;
            gone[k] = 1;
            left--;
            if (esz == 2) memset(wp15 + r * N + k * g, 0, (size_t)(N - k * g < g ? N - k * g : g) * 2);
            else memset(wp7 + r * N + k * g, 0, (size_t)(N - k * g < g ? N - k * g : g));
        }
    }
}

static int build(size_t esz, int32_t g, scalpel_gcsr *m)
{
    size_t bytes = 0;
    scalpel_dtype dt = esz == 2 ? SCALPEL_DTYPE_Q15 : SCALPEL_DTYPE_Q7;
    const void *wp = esz == 2 ? (const void *)wp15 : (const void *)wp7;
    if (scalpel_gcsr_from_dense_fixed_size(wp, dt, N, N, g, &bytes) != SCALPEL_OK || bytes > sizeof(mem32) ||
        scalpel_gcsr_from_dense_fixed_into(wp, dt, N, N, g, mem32, sizeof(mem32), m) != SCALPEL_OK) {
        printf("cortex_m_q: building the G=%d matrix failed (%lu bytes)\n", (int)g, (unsigned long)bytes);
        return 1;
    }
    return 0;
}

static int differ(const void *a, const void *b, size_t bytes, const char *what, int32_t g, int pct)
{
    if (memcmp(a, b, bytes) == 0) return 0;
    printf("cortex_m_q: MISMATCH %s G=%d at %d%%\n", what, (int)g, pct);
    return 1;
}

/* 1. q15 matrix-vector */
static int sweep_mv_q15(void)
{
    static const int32_t gs[2] = { 1, G15 };
    int ri, gi;
    scalpel_gemv_q15_ref(w15, N, N, x15, &rq15, yd15);
    scalpel_gemv_q15(w15, N, N, x15, &rq15, y15);
    if (differ(y15, yd15, N * 2, "gemv_q15 vs ref", 0, 0)) return 1;
    bench_start();
    scalpel_gemv_q15(w15, N, N, x15, &rq15, y15);
    bench_stop();
    for (ri = 0; ri < NRATES; ri++)
        for (gi = 0; gi < 2; gi++) {
            scalpel_gcsr m;
            prune(2, gs[gi], rates[ri]);
            if (build(2, gs[gi], &m)) return 1;
            scalpel_gemv_q15(wp15, N, N, x15, &rq15, yd15);
            scalpel_gcsr_spmv_q15(&m, x15, &rq15, y15);
            if (differ(y15, yd15, N * 2, "spmv_q15", gs[gi], rates[ri])) return 1;
            bench_start();
            scalpel_gcsr_spmv_q15(&m, x15, &rq15, y15);
            bench_stop();
        }
    return 0;
}

/* 2. q7 matrix-vector */
static int sweep_mv_q7(void)
{
    static const int32_t gs[2] = { 1, G7 };
    int ri, gi;
    scalpel_gemv_q7_ref(w7, N, N, x7, &rq7, yd7);
    scalpel_gemv_q7(w7, N, N, x7, &rq7, y7);
    if (differ(y7, yd7, N, "gemv_q7 vs ref", 0, 0)) return 1;
    bench_start();
    scalpel_gemv_q7(w7, N, N, x7, &rq7, y7);
    bench_stop();
    for (ri = 0; ri < NRATES; ri++)
        for (gi = 0; gi < 2; gi++) {
            scalpel_gcsr m;
            prune(1, gs[gi], rates[ri]);
            if (build(1, gs[gi], &m)) return 1;
            scalpel_gemv_q7(wp7, N, N, x7, &rq7, yd7);
            scalpel_gcsr_spmv_q7(&m, x7, &rq7, y7);
            if (differ(y7, yd7, N, "spmv_q7", gs[gi], rates[ri])) return 1;
            bench_start();
            scalpel_gcsr_spmv_q7(&m, x7, &rq7, y7);
            bench_stop();
        }
    return 0;
}

/* 3. q15 matrix-matrix: Y[N x NV] = W . X[NV x N]^T */
static int sweep_mm_q15(void)
{
    static const int32_t gs[2] = { 1, G15 };
    int ri, gi;
    scalpel_gemm_q15_ref(w15, N, N, x15, NV, &rq15, yd15);
    scalpel_gemm_q15(w15, N, N, x15, NV, &rq15, y15);
    if (differ(y15, yd15, sizeof(y15), "gemm_q15 vs ref", 0, 0)) return 1;
    bench_start();
    scalpel_gemm_q15(w15, N, N, x15, NV, &rq15, y15);
    bench_stop();
    for (ri = 0; ri < NRATES; ri++)
        for (gi = 0; gi < 2; gi++) {
            scalpel_gcsr m;
            prune(2, gs[gi], rates[ri]);
            if (build(2, gs[gi], &m)) return 1;
            scalpel_gemm_q15(wp15, N, N, x15, NV, &rq15, yd15);
            scalpel_gcsr_spmm_q15(&m, x15, NV, &rq15, y15);
            if (differ(y15, yd15, sizeof(y15), "spmm_q15", gs[gi], rates[ri])) return 1;
            bench_start();
            scalpel_gcsr_spmm_q15(&m, x15, NV, &rq15, y15);
            bench_stop();
        }
    return 0;
}

/* 4. q7 matrix-matrix: Y[N x NV] = W . X[NV x N]^T (a convolution's im2row product) */
static int sweep_mm_q7(void)
{
    static const int32_t gs[2] = { 1, G7 };
    int ri, gi;
    scalpel_gemm_q7_ref(w7, N, N, x7, NV, &rq7, yd7);
    scalpel_gemm_q7(w7, N, N, x7, NV, &rq7, y7);
    if (differ(y7, yd7, sizeof(y7), "gemm_q7 vs ref", 0, 0)) return 1;
    bench_start();
    scalpel_gemm_q7(w7, N, N, x7, NV, &rq7, y7);
    bench_stop();
    for (ri = 0; ri < NRATES; ri++)
        for (gi = 0; gi < 2; gi++) {
            scalpel_gcsr m;
            prune(1, gs[gi], rates[ri]);
            if (build(1, gs[gi], &m)) return 1;
            scalpel_gemm_q7(wp7, N, N, x7, NV, &rq7, yd7);
            scalpel_gcsr_spmm_q7(&m, x7, NV, &rq7, y7);
            if (differ(y7, yd7, sizeof(y7), "spmm_q7", gs[gi], rates[ri])) return 1;
            bench_start();
            scalpel_gcsr_spmm_q7(&m, x7, NV, &rq7, y7);
            bench_stop();
        }
    return 0;
}

int main(void)
{
    int32_t i, sat = 0;
    /* Real ranges: weights in [-0.5, 0.5], inputs in [-1, 1], outputs in [-16, 16], biases in
     * [-1, 1]; scales s = range / 2^15 (q15) or / 2^7 (q7), one per layer. The requant
     * multiplier is s_w * s_x / s_y, the bias b / (s_w * s_x) in accumulator units. */
    const double sw15 = 0.5 / 32768.0, sx15 = 1.0 / 32768.0, sy15 = 16.0 / 32768.0;
    const double sw7 = 0.5 / 128.0, sx7 = 1.0 / 128.0, sy7 = 16.0 / 128.0;
    for (i = 0; i < N * N; i++) w15[i] = (int16_t)nonzero(32767);
    for (i = 0; i < N * N; i++) w7[i] = (int8_t)nonzero(127);
    for (i = 0; i < NV * N; i++) x15[i] = (int16_t)nonzero(32767);
    for (i = 0; i < NV * N; i++) x7[i] = (int8_t)nonzero(127);
    for (i = 0; i < N; i++) bias[i] = (int64_t)nonzero(1000) * (int64_t)(1.0 / 1000.0 / (sw15 * sx15));
    if (scalpel_requant_from_real(sw15 * sx15 / sy15, &mult15, &shift15) != SCALPEL_OK ||
        scalpel_requant_from_real(sw7 * sx7 / sy7, &mult7, &shift7) != SCALPEL_OK)
        return 1;
    rq15.bias = bias; rq15.mult = &mult15; rq15.shift = &shift15; rq15.per_channel = 0; rq15.relu = 0;
    /* q7: the same real biases in q7 accumulator units (s_w * s_x = 2^-15 against 2^-31) */
    {
        static int64_t bias7[N];
        for (i = 0; i < N; i++) bias7[i] = bias[i] / (int64_t)((sw7 * sx7) / (sw15 * sx15));
        rq7.bias = bias7; rq7.mult = &mult7; rq7.shift = &shift7; rq7.per_channel = 0; rq7.relu = 0;
    }
    if (scalpel_requant_check(&rq15, N) != SCALPEL_OK || scalpel_requant_check(&rq7, N) != SCALPEL_OK) return 1;
    printf("cortex_m_q bench: backend %s, %dx%d, mm with %d vectors, requant q15 mult %ld shift %d, "
           "q7 mult %ld shift %d, grouped q15 G=%d q7 G=%d\n", scalpel_kernels_backend(), N, N, NV, (long)mult15,
           (int)shift15, (long)mult7, (int)shift7, G15, G7);
    if (sweep_mv_q15()) return 1;
    scalpel_gemv_q15(w15, N, N, x15, &rq15, y15);
    for (i = 0; i < N; i++) sat += y15[i] == 32767 || y15[i] == -32768;
    printf("cortex_m_q bench: dense q15 outputs saturated: %d of %d\n", (int)sat, N);
    if (sweep_mv_q7()) return 1;
    if (sweep_mm_q15()) return 1;
    if (sweep_mm_q7()) return 1;
    printf("cortex_m_q bench: pairs mv_q15 %d, mv_q7 %d, mm_q15 %d, mm_q7 %d; macs mv %d, mm %d\n", 1 + 2 * NRATES,
           1 + 2 * NRATES, 1 + 2 * NRATES, 1 + 2 * NRATES, N * N, N * N * NV);
    return 0;
}
