/* mlperf_firmware.c - one MLPerf Tiny model, exported as a C header by
 * tests/gen_mlperf_firmware.c, run with no allocation on an emulated Cortex-M (and on the
 * host): its output must be the host's integers bit for bit.
 *
 *   gcc -O2 -I. tests/gen_mlperf_firmware.c -o gen && ./gen build/mlperf
 *   tests/cortex-m/run.sh m4 build/mlperf/ds_cnn.elf tests/cortex-m/mlperf_firmware.c -Ibuild/mlperf \
 *       -DSCALPEL_NO_MALLOC -DMLPERF=ds_cnn
 *
 * MLPERF names the model (ds_cnn, mobilenet_v1, resnet_8, autoencoder, or a pruned variant
 * such as ds_cnn_p70 from gen_mlperf_firmware's --pruned): the network is
 * mlperf_<MLPERF>.h, its vectors mlperf_<MLPERF>_vectors.h. The weights stay in flash (const
 * data); the only RAM the network takes is one static workspace of <MLPERF>_WORKSPACE_BYTES.
 * One forward pass of one sample runs between bench_start() and bench_stop(), so that
 * `run.sh count` gives its instructions and estimated cycles (bench/cortex_m_mlperf.py). */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "../test_util.h"

#ifndef MLPERF
#error "define MLPERF (ds_cnn, mobilenet_v1, resnet_8 or autoencoder)"
#endif
#define MLPERF_STR2(a) #a
#define MLPERF_STR(a) MLPERF_STR2(a)
#define MLPERF_CAT2(a, b) a##b
#define MLPERF_CAT(a, b) MLPERF_CAT2(a, b)
#include MLPERF_STR(MLPERF_CAT(mlperf_, MLPERF).h)
#include MLPERF_STR(MLPERF_CAT(MLPERF_CAT(mlperf_, MLPERF), _vectors.h))

__attribute__((noinline)) void bench_start(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void bench_stop(void) { __asm__ volatile("" ::: "memory"); }

static uint64_t workspace[(MLPERF_CAT(MLPERF, _WORKSPACE_BYTES) + 7) / 8];
static int8_t out[sizeof(mlperf_expected)];

int main(void)
{
    const scalpel_qnet *q = &MLPERF;
    size_t i, bad = 0;
    scalpel_status st;
    printf("mlperf_firmware: %s, %s kernels, %d layers (%d grouped), %lu weight bytes, workspace %lu bytes (all tensors: "
           "%lu), %ld MACs, %ld run\n", MLPERF_STR(MLPERF), scalpel_kernels_backend(), (int)q->n_layers,
           (int)MLPERF_GROUPED_LAYERS, (unsigned long)scalpel_qnet_weight_bytes(q), (unsigned long)sizeof(workspace),
           (unsigned long)MLPERF_TENSOR_BYTES, (long)MLPERF_MACS, (long)MLPERF_MACS_RUN);
    CHECK(scalpel_qnet_validate(q) == SCALPEL_OK, "validate");
    CHECK(q->dtype == SCALPEL_DTYPE_Q7 && scalpel_qnet_input_size(q) == (int32_t)sizeof(mlperf_input) &&
          scalpel_qnet_output_size(q) == (int32_t)sizeof(mlperf_expected), "shapes");
    CHECK(scalpel_qnet_workspace_size(q, 1) <= sizeof(workspace), "the header's workspace size holds");
#if defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M')
    CHECK((uintptr_t)q->layers < 0x20000000u, "the network is in flash");
#endif
    bench_start();
    st = scalpel_qnet_forward(q, mlperf_input, 1, out, workspace);
    bench_stop();
    CHECK(st == SCALPEL_OK, "forward: %s", scalpel_status_string(st));
    for (i = 0; i < sizeof(out); i++) bad += out[i] != mlperf_expected[i];
    CHECK(bad == 0, "%lu of %lu outputs differ from the host's", (unsigned long)bad, (unsigned long)sizeof(out));
    return test_summary("mlperf_firmware");
}
