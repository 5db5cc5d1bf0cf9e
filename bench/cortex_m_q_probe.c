/* cortex_m_q_probe.c - cycles (M4 model) and instructions per multiply-accumulate of the
 * fixed-point kernels on an emulated Cortex-M, between bench_start() / bench_stop() markers:
 *
 *   tests/cortex-m/run.sh count m4 /tmp/p.elf bench/cortex_m_q_probe.c
 *   tests/cortex-m/run.sh count m55 /tmp/p55.elf bench/cortex_m_q_probe.c
 *
 * One marker pair per case, in the order printed; divide the plugin's per-pair figures by the
 * MAC counts printed here (stored values for the grouped cases: 90% of the groups pruned). */
#define SCALPEL_FORMAT_IMPLEMENTATION
#define SCALPEL_KERNELS_IMPLEMENTATION
#include "scalpel_kernels.h"

#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) void bench_start(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void bench_stop(void) { __asm__ volatile("" ::: "memory"); }

static uint32_t rng = 1u;
static int32_t rnd(int32_t lo, int32_t hi)
{
    rng = rng * 1103515245u + 12345u;
    return lo + (int32_t)((rng >> 8) % (uint32_t)(hi - lo + 1));
}

/* dense weights, then (when g > 0) 90% of their groups of g zeroed */
static void fill(void *w, size_t esz, int32_t rows, int32_t cols, int32_t g)
{
    int32_t r, c, j;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c += g > 0 ? g : cols) {
            int keep = g == 0 || rnd(0, 9) == 0;
            for (j = c; j < cols && j < c + (g > 0 ? g : cols); j++) {
                int32_t v = keep ? rnd(esz == 2 ? -32768 : -128, esz == 2 ? 32767 : 127) : 0;
                if (esz == 2) ((int16_t *)w)[(size_t)r * cols + j] = (int16_t)v;
                else ((int8_t *)w)[(size_t)r * cols + j] = (int8_t)v;
            }
        }
}

static void dense(size_t esz, int32_t rows, int32_t cols)
{
    void *w = malloc((size_t)rows * cols * esz), *x = malloc((size_t)cols * esz), *y = malloc((size_t)rows * esz);
    int32_t mult = 16384;
    int8_t shift = esz == 2 ? 30 : 14;
    scalpel_requant rq = { NULL, &mult, &shift, 0, 0 };
    if (!w || !x || !y) { printf("out of memory\n"); exit(1); }
    fill(w, esz, rows, cols, 0);
    fill(x, esz, 1, cols, 0);
    bench_start();
    if (esz == 2) scalpel_gemv_q15((const int16_t *)w, rows, cols, (const int16_t *)x, &rq, (int16_t *)y);
    else scalpel_gemv_q7((const int8_t *)w, rows, cols, (const int8_t *)x, &rq, (int8_t *)y);
    bench_stop();
    printf("dense %s %dx%d: %ld MACs\n", esz == 2 ? "q15" : "q7", (int)rows, (int)cols, (long)rows * cols);
    free(w); free(x); free(y);
}

static void grouped(size_t esz, int32_t rows, int32_t cols, int32_t g)
{
    void *w = malloc((size_t)rows * cols * esz), *x = malloc((size_t)cols * esz), *y = malloc((size_t)rows * esz);
    int32_t mult = 16384;
    int8_t shift = esz == 2 ? 30 : 14;
    scalpel_requant rq = { NULL, &mult, &shift, 0, 0 };
    scalpel_gcsr m;
    if (!w || !x || !y) { printf("out of memory\n"); exit(1); }
    fill(w, esz, rows, cols, g);
    fill(x, esz, 1, cols, 0);
    if (scalpel_gcsr_from_dense_fixed(w, esz == 2 ? SCALPEL_DTYPE_Q15 : SCALPEL_DTYPE_Q7, rows, cols, g, NULL, &m) != SCALPEL_OK) {
        printf("from_dense_fixed failed\n");
        exit(1);
    }
    free(w);
    bench_start();
    if (esz == 2) scalpel_gcsr_spmv_q15(&m, (const int16_t *)x, &rq, (int16_t *)y);
    else scalpel_gcsr_spmv_q7(&m, (const int8_t *)x, &rq, (int8_t *)y);
    bench_stop();
    printf("grouped %s G=%d %dx%d 90%% pruned: %ld stored MACs (%ld dense)\n", esz == 2 ? "q15" : "q7", (int)g,
           (int)rows, (int)cols, (long)m.nnz_groups * g, (long)rows * cols);
    scalpel_gcsr_free(&m);
    free(x); free(y);
}

int main(void)
{
    printf("cortex_m_q_probe: backend %s\n", scalpel_kernels_backend());
    dense(2, 100, 100);
    dense(2, 128, 784);
    dense(1, 100, 100);
    dense(1, 300, 784);
    grouped(2, 128, 784, 2);
    grouped(1, 300, 784, 4);
    grouped(2, 128, 784, 8);
    grouped(1, 300, 784, 16);
    return 0;
}
