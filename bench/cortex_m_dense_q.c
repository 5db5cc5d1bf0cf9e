/* cortex_m_dense_q.c - the dense fixed-point layers of LeNet-300-100 and LeNet-5 on an emulated
 * Cortex-M, one marker pair each, for the side-by-side table against CMSIS-NN's s8 kernels in
 * bench/cortex_m_dense_q.py (which runs this under tests/cortex-m/run.sh count):
 *
 *   fc 784 -> 300, fc 300 -> 100, fc 100 -> 10          scalpel_gemv_q7 / _q15
 *   conv 20x12x12 -> 50 5x5, conv 1x28x28 -> 20 5x5      scalpel_im2row_window_q7 / _q15 over
 *                                                       every output position, then
 *                                                       scalpel_gemm_q7 / _q15
 *
 * A convolution has two marker pairs, its im2row then its matrix-matrix product, so that it can
 * be counted with its im2row, as the network runs it (and as CMSIS-NN's convolution counts its
 * im2col), and without. Each case runs q7 then q15; its outputs are checked against
 * the `_ref` kernels after the markers, and a mismatch prints MISMATCH and fails. The requant
 * is per output channel with a bias, as a quantized network has it. */
#define SCALPEL_FORMAT_IMPLEMENTATION
#define SCALPEL_KERNELS_IMPLEMENTATION
#include "scalpel_kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void bench_start(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void bench_stop(void) { __asm__ volatile("" ::: "memory"); }

static uint32_t rng = 7u;
static int32_t rnd(int32_t lo, int32_t hi)
{
    rng = rng * 1103515245u + 12345u;
    return lo + (int32_t)((rng >> 8) % (uint32_t)(hi - lo + 1));
}

static void *alloc(size_t n)
{
    void *p = malloc(n > 0 ? n : 1);
    if (p == NULL) {
        printf("cortex_m_dense_q: out of memory\n");
        exit(1);
    }
    return p;
}

/* random values of the type's range (esz 1: q7, 2: q15) */
static void fill(void *p, size_t esz, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (esz == 2) ((int16_t *)p)[i] = (int16_t)rnd(-32768, 32767);
        else ((int8_t *)p)[i] = (int8_t)rnd(-128, 127);
    }
}

/* per-channel requant with a bias: mult / 2^shift about 1 / (cols * range) keeps outputs in range */
static void make_rq(scalpel_requant *rq, size_t esz, int32_t rows, int32_t cols)
{
    int32_t *m = (int32_t *)alloc((size_t)rows * sizeof(int32_t)), r;
    int8_t *s = (int8_t *)alloc((size_t)rows);
    int64_t *b = (int64_t *)alloc((size_t)rows * sizeof(int64_t));
    for (r = 0; r < rows; r++) {
        m[r] = rnd(16384, 32767);
        s[r] = (int8_t)((esz == 2 ? 31 : 15) + (cols > 256 ? 4 : 2) + rnd(0, 1));
        b[r] = rnd(-100000, 100000);
    }
    rq->bias = b;
    rq->mult = m;
    rq->shift = s;
    rq->per_channel = 1;
    rq->relu = 0;
}

static void free_rq(scalpel_requant *rq)
{
    free((void *)rq->bias);
    free((void *)rq->mult);
    free((void *)rq->shift);
}

static int fails;

static void check(const char *what, const void *y, const void *yr, size_t bytes)
{
    if (memcmp(y, yr, bytes) != 0) {
        printf("MISMATCH: %s differs from its _ref\n", what);
        fails++;
    }
}

/* y[rows] = requant(W[rows x cols] . x) */
static void fc(size_t esz, int32_t cols, int32_t rows)
{
    void *w = alloc((size_t)rows * (size_t)cols * esz), *x = alloc((size_t)cols * esz);
    void *y = alloc((size_t)rows * esz), *yr = alloc((size_t)rows * esz);
    scalpel_requant rq;
    char name[64];
    fill(w, esz, (size_t)rows * (size_t)cols);
    fill(x, esz, (size_t)cols);
    make_rq(&rq, esz, rows, cols);
    bench_start();
    if (esz == 2) scalpel_gemv_q15((const int16_t *)w, rows, cols, (const int16_t *)x, &rq, (int16_t *)y);
    else scalpel_gemv_q7((const int8_t *)w, rows, cols, (const int8_t *)x, &rq, (int8_t *)y);
    bench_stop();
    if (esz == 2) scalpel_gemv_q15_ref((const int16_t *)w, rows, cols, (const int16_t *)x, &rq, (int16_t *)yr);
    else scalpel_gemv_q7_ref((const int8_t *)w, rows, cols, (const int8_t *)x, &rq, (int8_t *)yr);
    sprintf(name, "fc %d -> %d %s", (int)cols, (int)rows, esz == 2 ? "q15" : "q7");
    check(name, y, yr, (size_t)rows * esz);
    printf("case %s: %ld MACs\n", name, (long)rows * cols);
    free_rq(&rq);
    free(w); free(x); free(y); free(yr);
}

/* y[oc x oh x ow] = requant(conv(x[c x h x w], W[oc x c x k x k])), stride 1, no padding */
static void conv(size_t esz, int32_t c, int32_t h, int32_t oc, int32_t k)
{
    int32_t oh = h - k + 1, P = oh * oh, cols = c * k * k;
    scalpel_conv_window win;
    void *w = alloc((size_t)oc * (size_t)cols * esz), *x = alloc((size_t)c * (size_t)h * (size_t)h * esz);
    void *rows = alloc((size_t)P * (size_t)cols * esz);
    void *y = alloc((size_t)oc * (size_t)P * esz), *yr = alloc((size_t)oc * (size_t)P * esz);
    scalpel_requant rq;
    char name[64];
    win.kh = win.kw = k;
    win.sh = win.sw = win.dh = win.dw = 1;
    win.pt = win.pl = 0;
    fill(w, esz, (size_t)oc * (size_t)cols);
    fill(x, esz, (size_t)c * (size_t)h * (size_t)h);
    make_rq(&rq, esz, oc, cols);
    bench_start();
    if (esz == 2) {
        scalpel_im2row_window_q15((const int16_t *)x, h, h, 0, c, &win, oh, 0, P, (int16_t *)rows);
        bench_stop();
        bench_start();
        scalpel_gemm_q15((const int16_t *)w, oc, cols, (const int16_t *)rows, P, &rq, (int16_t *)y);
    } else {
        scalpel_im2row_window_q7((const int8_t *)x, h, h, 0, c, &win, oh, 0, P, (int8_t *)rows);
        bench_stop();
        bench_start();
        scalpel_gemm_q7((const int8_t *)w, oc, cols, (const int8_t *)rows, P, &rq, (int8_t *)y);
    }
    bench_stop();
    if (esz == 2) scalpel_gemm_q15_ref((const int16_t *)w, oc, cols, (const int16_t *)rows, P, &rq, (int16_t *)yr);
    else scalpel_gemm_q7_ref((const int8_t *)w, oc, cols, (const int8_t *)rows, P, &rq, (int8_t *)yr);
    sprintf(name, "conv %dx%dx%d -> %d %dx%d %s", (int)c, (int)h, (int)h, (int)oc, (int)k, (int)k,
            esz == 2 ? "q15" : "q7");
    check(name, y, yr, (size_t)oc * (size_t)P * esz);
    printf("case %s: %ld MACs\n", name, (long)oc * P * cols);
    free_rq(&rq);
    free(w); free(x); free(rows); free(y); free(yr);
}

int main(void)
{
    size_t esz;
    printf("cortex_m_dense_q: backend %s\n", scalpel_kernels_backend());
    for (esz = 1; esz <= 2; esz++) {
        fc(esz, 784, 300);
        fc(esz, 300, 100);
        fc(esz, 100, 10);
        conv(esz, 20, 12, 50, 5);
        conv(esz, 1, 28, 20, 5);
    }
    return fails != 0;
}
