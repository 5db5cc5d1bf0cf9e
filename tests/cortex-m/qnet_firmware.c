/* qnet_firmware.c - fixed-point networks exported as C headers, run with no allocation on an
 * emulated Cortex-M (and on the host), must give the host's integer outputs bit for bit.
 *
 *   gcc -O2 -I. tests/gen_qnet_firmware.c -o gen && ./gen build/fw
 *   tests/cortex-m/run.sh m4 build/fw/qnet.elf tests/cortex-m/qnet_firmware.c -Ibuild/fw -DSCALPEL_NO_MALLOC
 *
 * qlenet_q15.h / qlenet_q7.h (scalpel_qnet_export_c) define the networks as constant data, in
 * flash; qlenet_vectors.h holds the inputs and the host's outputs. Batch 1 runs the
 * matrix-vector kernels, the whole batch the matrix-matrix ones; convolutions always run
 * matrix-matrix. On a core with the DSP extension these are the SMLAD / SXTB16 paths, on the
 * M55 the Helium ones, on the host plain C or x86: all must agree exactly.
 *
 * qops_q15.h / qops_q7.h hold the network of every kind with fixed point (gen_qnet_firmware.c:
 * padded rectangular, depthwise, grouped and dilated convolutions, batch norm, add, concat,
 * the pools, clip, leaky ReLU, hardswish, sigmoid, tanh), checked the same way. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "../test_util.h"

#include "qlenet_q15.h"
#include "qlenet_q7.h"
#include "qlenet_vectors.h"
#include "qops_q15.h"
#include "qops_q7.h"
#include "qops_vectors.h"

static unsigned char workspace[96 * 1024]; /* 96 KB of the 512 KB of RAM */
static int16_t out15[QLENET_N_VECTORS][10];
static int8_t out7[QLENET_N_VECTORS][10];

/* The network of every kind: vector by vector, then the whole batch, against the host. */
static void check_ops(void)
{
    size_t need15 = scalpel_qnet_workspace_size(&qops15, QLENET_N_VECTORS);
    size_t need7 = scalpel_qnet_workspace_size(&qops7, QLENET_N_VECTORS);
    int32_t v, i;
    printf("qnet_firmware: every kind, %d layers: q15 %lu weight bytes, workspace %lu; q7 %lu, workspace %lu\n",
           (int)qops15.n_layers, (unsigned long)scalpel_qnet_weight_bytes(&qops15), (unsigned long)need15,
           (unsigned long)scalpel_qnet_weight_bytes(&qops7), (unsigned long)need7);
    CHECK(scalpel_qnet_validate(&qops15) == SCALPEL_OK && scalpel_qnet_validate(&qops7) == SCALPEL_OK,
          "every kind: validate");
    CHECK(qops15.n_layers == QOPS_N_LAYERS && qops7.n_layers == QOPS_N_LAYERS, "every kind: layers");
    CHECK(need15 > 0 && need15 <= sizeof(workspace) && need7 > 0 && need7 <= sizeof(workspace), "every kind: workspace fits");
    if (need15 == 0 || need15 > sizeof(workspace) || need7 == 0 || need7 > sizeof(workspace)) return;
    for (v = 0; v < QLENET_N_VECTORS; v++) {
        CHECK(scalpel_qnet_forward(&qops15, qops15_inputs[v], 1, out15[v], workspace) == SCALPEL_OK, "ops q15 forward");
        CHECK(scalpel_qnet_forward(&qops7, qops7_inputs[v], 1, out7[v], workspace) == SCALPEL_OK, "ops q7 forward");
        for (i = 0; i < 10; i++) {
            CHECK(out15[v][i] == qops15_expected[v][i], "ops q15 vector %d output %d: %d, host %d", (int)v, (int)i,
                  (int)out15[v][i], (int)qops15_expected[v][i]);
            CHECK(out7[v][i] == qops7_expected[v][i], "ops q7 vector %d output %d: %d, host %d", (int)v, (int)i,
                  (int)out7[v][i], (int)qops7_expected[v][i]);
        }
    }
    memset(out15, 0, sizeof(out15));
    memset(out7, 0, sizeof(out7));
    CHECK(scalpel_qnet_forward(&qops15, qops15_inputs, QLENET_N_VECTORS, out15, workspace) == SCALPEL_OK &&
          memcmp(out15, qops15_expected, sizeof(out15)) == 0, "ops q15 batch equals the host");
    CHECK(scalpel_qnet_forward(&qops7, qops7_inputs, QLENET_N_VECTORS, out7, workspace) == SCALPEL_OK &&
          memcmp(out7, qops7_expected, sizeof(out7)) == 0, "ops q7 batch equals the host");
}

int main(void)
{
    size_t need15 = scalpel_qnet_workspace_size(&qlenet15, QLENET_N_VECTORS);
    size_t need7 = scalpel_qnet_workspace_size(&qlenet7, QLENET_N_VECTORS);
    int32_t v, i;
    printf("qnet_firmware: %s kernels; q15 %lu weight bytes, workspace %lu; q7 %lu weight bytes, workspace %lu\n",
           scalpel_kernels_backend(), (unsigned long)scalpel_qnet_weight_bytes(&qlenet15), (unsigned long)need15,
           (unsigned long)scalpel_qnet_weight_bytes(&qlenet7), (unsigned long)need7);
    CHECK(scalpel_qnet_validate(&qlenet15) == SCALPEL_OK && scalpel_qnet_validate(&qlenet7) == SCALPEL_OK, "validate");
    CHECK(qlenet15.layers[0].storage == SCALPEL_STORAGE_GCSR && qlenet15.layers[0].sparse.group == 2 &&
          qlenet7.layers[0].sparse.group == 4 && qlenet15.layers[3].storage == SCALPEL_STORAGE_DENSE, "storage kept");
#if defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M')
    CHECK((uintptr_t)qlenet15.layers[0].sparse.values < 0x20000000u && (uintptr_t)&qlenet7 < 0x20000000u,
          "weights in flash");
#endif
    CHECK(need15 > 0 && need15 <= sizeof(workspace) && need7 > 0 && need7 <= sizeof(workspace), "workspace fits");
    if (need15 == 0 || need15 > sizeof(workspace) || need7 == 0 || need7 > sizeof(workspace))
        return test_summary("qnet_firmware");
    for (v = 0; v < QLENET_N_VECTORS; v++) {
        CHECK(scalpel_qnet_forward(&qlenet15, qlenet15_inputs[v], 1, out15[v], workspace) == SCALPEL_OK, "q15 forward");
        CHECK(scalpel_qnet_forward(&qlenet7, qlenet7_inputs[v], 1, out7[v], workspace) == SCALPEL_OK, "q7 forward");
        for (i = 0; i < 10; i++) {
            CHECK(out15[v][i] == qlenet15_expected[v][i], "q15 vector %d output %d: %d, host %d", (int)v, (int)i,
                  (int)out15[v][i], (int)qlenet15_expected[v][i]);
            CHECK(out7[v][i] == qlenet7_expected[v][i], "q7 vector %d output %d: %d, host %d", (int)v, (int)i,
                  (int)out7[v][i], (int)qlenet7_expected[v][i]);
        }
    }
    memset(out15, 0, sizeof(out15));
    memset(out7, 0, sizeof(out7));
    CHECK(scalpel_qnet_forward(&qlenet15, qlenet15_inputs, QLENET_N_VECTORS, out15, workspace) == SCALPEL_OK &&
          memcmp(out15, qlenet15_expected, sizeof(out15)) == 0, "q15 batch equals the host");
    CHECK(scalpel_qnet_forward(&qlenet7, qlenet7_inputs, QLENET_N_VECTORS, out7, workspace) == SCALPEL_OK &&
          memcmp(out7, qlenet7_expected, sizeof(out7)) == 0, "q7 batch equals the host");
    check_ops();
    return test_summary("qnet_firmware");
}
