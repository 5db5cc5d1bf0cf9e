/* cortex_m.c - the paper's Cortex-M4 matrix-vector sweep (100 x 100, pruning rates 30 .. 99%),
 * fp32, counted on emulated Cortex-M4 and M55 cores: dense gemv, plain CSR (G = 1) and grouped
 * CSR (G = 2, 4), each pruned at the same rate with its own granularity (random whole groups).
 *
 * Each kernel call sits between bench_start() / bench_stop() markers; the QEMU plugin counts
 * the instructions executed and a cycle estimate per pair (tests/cortex-m/run.sh count), and
 * bench/cortex_m_table.py turns the list into relative times. Order of the pairs: dense once,
 * then per rate CSR, G = 2, G = 4. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <stdio.h>
#include <string.h>

#define N 100
__attribute__((noinline)) void bench_start(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void bench_stop(void) { __asm__ volatile("" ::: "memory"); }

static float w[N * N], wp[N * N], x[N], y[N];
static unsigned char mem[3 * (N * N * 4 + N * N * 2 + 1024)];
static uint32_t seed = 2017u;
static uint32_t next(void) { seed = seed * 1664525u + 1013904223u; return seed >> 8; }

/* Zero `rate` of the aligned groups of g in each row (rounded), chosen at random. */
static void prune(int32_t g, int pct)
{
    int32_t r, k, gpr = N / g, drop = (gpr * pct + 50) / 100;
    memcpy(wp, w, sizeof(w));
    for (r = 0; r < N; r++) {
        int32_t left = drop;
        unsigned char gone[N];
        memset(gone, 0, sizeof(gone));
        while (left > 0) {
            k = (int32_t)(next() % (uint32_t)gpr);
            if (!gone[k]) { gone[k] = 1; left--; memset(wp + r * N + k * g, 0, (size_t)g * sizeof(float)); }
        }
    }
}

int main(void)
{
    static const int rates[] = { 30, 40, 50, 60, 70, 80, 90, 95, 99 };
    static const int32_t gs[] = { 1, 2, 4 };
    int32_t i, ri, gi;
    for (i = 0; i < N * N; i++) w[i] = (float)((int32_t)(next() % 2001u) - 1000) / 1000.0f + 0.001f;
    for (i = 0; i < N; i++) x[i] = (float)(i % 7) - 3.0f;
    bench_start();
    scalpel_gemv_f32(w, N, N, x, y);
    bench_stop();
    for (ri = 0; ri < (int32_t)(sizeof(rates) / sizeof(rates[0])); ri++)
        for (gi = 0; gi < 3; gi++) {
            scalpel_gcsr m;
            prune(gs[gi], rates[ri]);
            if (scalpel_gcsr_from_dense_into(wp, N, N, gs[gi], mem, sizeof(mem), &m) != SCALPEL_OK) return 1;
            bench_start();
            scalpel_gcsr_spmv_f32(&m, x, y);
            bench_stop();
        }
    printf("cortex_m bench: backend %s\n", scalpel_kernels_backend());
    return 0;
}
