/* cortex_m_dw.c - the fixed-point depthwise convolution (scalpel_dwconv_q15 / _q7) on the
 * depthwise shapes of the MLPerf Tiny models, counted on emulated Cortex-M cores:
 *
 *   sh tests/cortex-m/run.sh count m4 build/bench/cortex_m_dw-m4.elf bench/cortex_m_dw.c
 *   sh tests/cortex-m/run.sh count m4 build/bench/cortex_m_dw-m4-c.elf bench/cortex_m_dw.c -DSCALPEL_NO_SIMD
 *
 * One bench_start() / bench_stop() pair per call, in the order of `shapes` below, q15 then q7.
 * The build with SCALPEL_NO_SIMD runs the same kernel as plain C (the taps one by one); the
 * default build its DSP (SMLALD pairs, SXTB16 + SMLAD quads) or Helium path. Every output is
 * compared with scalpel_dwconv_*_ref first: a difference ends the program with status 1.
 * bench/cortex_m_dw.py runs both builds and prints cycles per multiply-accumulate. */
#define SCALPEL_FORMAT_IMPLEMENTATION
#define SCALPEL_KERNELS_IMPLEMENTATION
#include "scalpel_kernels.h"

#include <stdio.h>
#include <string.h>

__attribute__((noinline)) void bench_start(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void bench_stop(void) { __asm__ volatile("" ::: "memory"); }

/* channels, height, width, kernel, stride, pad (square windows, depth multiplier 1) */
static const int32_t shapes[][6] = {
    { 64, 25, 5, 3, 1, 1 },  /* DS-CNN: every depthwise layer */
    { 16, 48, 48, 3, 1, 1 }, /* MobileNetV1-0.25 (96 x 96): block 2, stride 1 */
    { 32, 24, 24, 3, 2, 1 }, /* block 4, stride 2 */
    { 128, 6, 6, 3, 1, 1 },  /* blocks 7 .. 11 */
};
#define N_SHAPES (int32_t)(sizeof(shapes) / sizeof(shapes[0]))
#define MAX_IN (16 * 48 * 48)

static int16_t x15[MAX_IN], y15[MAX_IN], r15[MAX_IN], w15[128 * 9];
static int8_t x7[MAX_IN], y7[MAX_IN], r7[MAX_IN], w7[128 * 9];
static int64_t bias[128];
static int16_t dws15[50 * 53]; /* scalpel_dwconv_q_scratch: at most 50 x 53 (48 x 48 padded) */
static int8_t dws7[50 * 53];

int main(void)
{
    uint32_t st = 12345u;
    int32_t i, k, mult;
    int8_t shift;
    scalpel_requant rq;
    for (i = 0; i < MAX_IN; i++) {
        st = st * 1664525u + 1013904223u;
        x15[i] = (int16_t)(st >> 16);
        x7[i] = (int8_t)(st >> 24);
    }
    for (i = 0; i < 128 * 9; i++) {
        st = st * 1664525u + 1013904223u;
        w15[i] = (int16_t)(st >> 16);
        w7[i] = (int8_t)(st >> 24);
    }
    for (i = 0; i < 128; i++) bias[i] = (int64_t)(i * 37) - 2000;
    if (scalpel_requant_from_real(0.0007, &mult, &shift) != SCALPEL_OK) return 2;
    rq.bias = bias; rq.mult = &mult; rq.shift = &shift; rq.per_channel = 0; rq.relu = 1;
    printf("cortex_m_dw: backend %s\n", scalpel_kernels_backend());
    for (k = 0; k < 2; k++)
        for (i = 0; i < N_SHAPES; i++) {
            const int32_t *s = shapes[i];
            scalpel_conv_window win;
            int32_t oh = (s[1] + 2 * s[5] - s[3]) / s[4] + 1, ow = (s[2] + 2 * s[5] - s[3]) / s[4] + 1;
            size_t n = (size_t)s[0] * (size_t)oh * (size_t)ow;
            win.kh = win.kw = s[3]; win.sh = win.sw = s[4]; win.pt = win.pl = s[5]; win.dh = win.dw = 1;
            if (k == 0) {
                scalpel_dwconv_q15_ref(x15, s[0], s[1], s[2], 1, w15, &win, oh, ow, &rq, r15);
                bench_start();
                scalpel_dwconv_q15(x15, s[0], s[1], s[2], 1, w15, &win, oh, ow, &rq, dws15, y15);
                bench_stop();
                if (memcmp(y15, r15, n * 2) != 0) return 1;
            } else {
                scalpel_dwconv_q7_ref(x7, s[0], s[1], s[2], 1, w7, &win, oh, ow, &rq, r7);
                bench_start();
                scalpel_dwconv_q7(x7, s[0], s[1], s[2], 1, w7, &win, oh, ow, &rq, dws7, y7);
                bench_stop();
                if (memcmp(y7, r7, n) != 0) return 1;
            }
            printf("shape %s %d %d %d %d %d %d macs %lu\n", k ? "q7" : "q15", (int)s[0], (int)s[1], (int)s[2], (int)s[3],
                   (int)s[4], (int)s[5], (unsigned long)(n * (size_t)(s[3] * s[3])));
        }
    return 0;
}
