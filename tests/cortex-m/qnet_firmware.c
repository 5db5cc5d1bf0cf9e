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

/* One exported pair (q15, q7) with 10 outputs against the host's integers: vector by vector
 * (matrix-vector kernels), then the whole batch. in15 / in7 hold QLENET_N_VECTORS inputs. */
static void check_pair(const char *what, const scalpel_qnet *n15, const scalpel_qnet *n7, const int16_t *in15,
                       const int16_t (*want15)[10], const int8_t *in7, const int8_t (*want7)[10])
{
    size_t need15 = scalpel_qnet_workspace_size(n15, QLENET_N_VECTORS), need7 = scalpel_qnet_workspace_size(n7, QLENET_N_VECTORS);
    size_t in_n = (size_t)scalpel_qnet_input_size(n15);
    int32_t v, i;
    printf("qnet_firmware: %s, %s kernels, %d layers; q15 %lu weight bytes, workspace %lu; q7 %lu weight bytes, "
           "workspace %lu\n", what, scalpel_kernels_backend(), (int)n15->n_layers,
           (unsigned long)scalpel_qnet_weight_bytes(n15), (unsigned long)need15, (unsigned long)scalpel_qnet_weight_bytes(n7),
           (unsigned long)need7);
    CHECK(scalpel_qnet_validate(n15) == SCALPEL_OK && scalpel_qnet_validate(n7) == SCALPEL_OK, "%s: validate", what);
    CHECK(need15 > 0 && need15 <= sizeof(workspace) && need7 > 0 && need7 <= sizeof(workspace), "%s: workspace fits", what);
    if (need15 == 0 || need15 > sizeof(workspace) || need7 == 0 || need7 > sizeof(workspace)) return;
    for (v = 0; v < QLENET_N_VECTORS; v++) {
        CHECK(scalpel_qnet_forward(n15, in15 + (size_t)v * in_n, 1, out15[v], workspace) == SCALPEL_OK, "%s: q15 forward", what);
        CHECK(scalpel_qnet_forward(n7, in7 + (size_t)v * in_n, 1, out7[v], workspace) == SCALPEL_OK, "%s: q7 forward", what);
        for (i = 0; i < 10; i++) {
            CHECK(out15[v][i] == want15[v][i], "%s: q15 vector %d output %d: %d, host %d", what, (int)v, (int)i,
                  (int)out15[v][i], (int)want15[v][i]);
            CHECK(out7[v][i] == want7[v][i], "%s: q7 vector %d output %d: %d, host %d", what, (int)v, (int)i,
                  (int)out7[v][i], (int)want7[v][i]);
        }
    }
    memset(out15, 0, sizeof(out15));
    memset(out7, 0, sizeof(out7));
    CHECK(scalpel_qnet_forward(n15, in15, QLENET_N_VECTORS, out15, workspace) == SCALPEL_OK &&
          memcmp(out15, want15, sizeof(out15)) == 0, "%s: q15 batch equals the host", what);
    CHECK(scalpel_qnet_forward(n7, in7, QLENET_N_VECTORS, out7, workspace) == SCALPEL_OK &&
          memcmp(out7, want7, sizeof(out7)) == 0, "%s: q7 batch equals the host", what);
}

int main(void)
{
    CHECK(qlenet15.layers[0].storage == SCALPEL_STORAGE_GCSR && qlenet15.layers[0].sparse.group == 2 &&
          qlenet7.layers[0].sparse.group == 4 && qlenet15.layers[3].storage == SCALPEL_STORAGE_DENSE, "storage kept");
#if defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M')
    CHECK((uintptr_t)qlenet15.layers[0].sparse.values < 0x20000000u && (uintptr_t)&qlenet7 < 0x20000000u,
          "weights in flash");
#endif
    check_pair("LeNet-5", &qlenet15, &qlenet7, qlenet15_inputs[0], qlenet15_expected, qlenet7_inputs[0], qlenet7_expected);
    CHECK(qops15.n_layers == QOPS_N_LAYERS && qops7.n_layers == QOPS_N_LAYERS, "every kind: layers");
    check_pair("every kind", &qops15, &qops7, qops15_inputs[0], qops15_expected, qops7_inputs[0], qops7_expected);
    return test_summary("qnet_firmware");
}
