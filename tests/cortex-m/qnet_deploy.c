/* qnet_deploy.c - the smallest static deployment of an exported fixed-point network: constant
 * weights in flash, one static workspace sized by the header's <name>_WORKSPACE_BYTES, no
 * allocator, one forward pass of one sample between the benchmark markers.
 *
 *   scalpel quantize model.scpn lenet -o build/lenet.h
 *   CORTEX_M_LD=tests/cortex-m/cortex-m-4mb.ld tests/cortex-m/run.sh count m4 build/deploy.elf \
 *       tests/cortex-m/qnet_deploy.c -Ibuild -DSCALPEL_NO_MALLOC -DQNET_HEADER='"lenet.h"' -DQNET=lenet
 *
 * The input is a fixed synthetic digit (a ring, pixel values in [0, 1]): the kernels' work does
 * not depend on the values, so the counts are those of any image. Returns 0 when the network
 * validates and runs. bench/cortex_m_lenet.py builds it per model for the end-to-end table. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <stdio.h>

#ifndef QNET_HEADER
#error "define QNET_HEADER (the exported header, quoted) and QNET (the network's name)"
#endif
#include QNET_HEADER

#define QNET_CAT2(a, b) a##b
#define QNET_CAT(a, b) QNET_CAT2(a, b)

__attribute__((noinline)) void bench_start(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void bench_stop(void) { __asm__ volatile("" ::: "memory"); }

static uint64_t workspace[(QNET_CAT(QNET, _WORKSPACE_BYTES) + 7) / 8];
static float image[784];
static int16_t x[784];   /* big enough for q15 and q7 inputs */
static int16_t y[16];

int main(void)
{
    const scalpel_qnet *q = &QNET;
    int32_t i, j, cls;
    scalpel_status st = scalpel_qnet_validate(q);
    if (st != SCALPEL_OK || scalpel_qnet_input_size(q) != 784 || scalpel_qnet_output_size(q) > 16) {
        printf("qnet_deploy: invalid network: %s\n", scalpel_status_string(st));
        return 1;
    }
    for (i = 0; i < 28; i++)
        for (j = 0; j < 28; j++) {
            int32_t d = (i - 14) * (i - 14) + (j - 14) * (j - 14);
            image[i * 28 + j] = d > 36 && d < 81 ? 1.0f : 0.0f;
        }
    if (scalpel_quantize_f32(image, 784, q->in_scale, (scalpel_dtype)q->dtype, x) != SCALPEL_OK) return 1;
    bench_start();
    st = scalpel_qnet_forward(q, x, 1, y, workspace);
    bench_stop();
    cls = scalpel_qnet_argmax(q, y, scalpel_qnet_output_size(q));
    printf("qnet_deploy: %s, %s kernels, %lu weight bytes, %lu workspace bytes, class %d\n",
           q->dtype == SCALPEL_DTYPE_Q15 ? "q15" : "q7", scalpel_kernels_backend(),
           (unsigned long)scalpel_qnet_weight_bytes(q), (unsigned long)sizeof(workspace), (int)cls);
    return st == SCALPEL_OK ? 0 : 1;
}
