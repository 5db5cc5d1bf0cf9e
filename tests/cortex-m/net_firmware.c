/* net_firmware.c - a pruned network exported as a C header, run on an emulated Cortex-M with
 * no allocation, must reproduce the host's outputs.
 *
 *   gcc -O2 -I. tests/gen_firmware_model.c -o gen -lm && ./gen build/fw
 *   tests/cortex-m/run.sh m4 build/fw/net.elf tests/cortex-m/net_firmware.c -Ibuild/fw -DSCALPEL_NO_MALLOC
 *
 * lenet_model.h (scalpel_net_export_c) defines `lenet` and its arrays as constant data, which
 * the linker puts in flash; lenet_vectors.h holds the inputs and the host's outputs. Outputs
 * must agree within 1e-4 relative (to the vector's largest output at least): the host's SIMD
 * kernels sum in another order, with fused multiply-adds. The predicted classes must be identical. Batch 1
 * runs the matrix-vector kernels, the whole batch the matrix-matrix ones. It also builds and
 * runs on the host, which checks that the exported header compiles warning-free. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "../test_util.h"

#include "lenet_model.h"
#include "lenet_vectors.h"

/* Scratch for every forward pass below; its size is checked against the library's figure. */
static float workspace[16384]; /* 64 KB of the 512 KB of RAM */
static float outputs[LENET_N_VECTORS][10];

/* |got - want| within 1e-4 of the larger of |want| and the vector's largest |output|: relative,
 * but not demanding more than float sums give for an output near zero beside large ones. */
static int close_enough(float got, float want, const float *vector)
{
    float scale = fabsf(want);
    int32_t i;
    for (i = 0; i < 10; i++)
        if (fabsf(vector[i]) > scale) scale = fabsf(vector[i]);
    return fabsf(got - want) <= 1e-4f * scale;
}

int main(void)
{
    size_t need1 = scalpel_net_workspace_size(&lenet, 1);
    size_t needn = scalpel_net_workspace_size(&lenet, LENET_N_VECTORS);
    int32_t v, i;
    printf("net_firmware: %s kernels, %lu weight bytes, workspace %lu / %lu bytes\n", scalpel_kernels_backend(),
           (unsigned long)scalpel_net_weight_bytes(&lenet), (unsigned long)need1, (unsigned long)needn);
    CHECK(scalpel_net_validate(&lenet) == SCALPEL_OK, "exported network validates");
    CHECK(scalpel_net_input_size(&lenet) == 784 && scalpel_net_output_size(&lenet) == 10, "shape");
    CHECK(lenet.layers[0].storage == SCALPEL_STORAGE_GCSR && lenet.layers[0].sparse.group == 2 &&
          lenet.layers[2].sparse.group == 4 && lenet.layers[4].storage == SCALPEL_STORAGE_DENSE, "storage kept");
#if defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M')
    /* constant data stays in flash (the CODE region below 0x20000000), not copied to RAM */
    CHECK((uintptr_t)lenet.layers[0].sparse.values < 0x20000000u && (uintptr_t)&lenet < 0x20000000u,
          "weights in flash");
#endif
    CHECK(need1 > 0 && need1 <= sizeof(workspace), "workspace for batch 1: %lu", (unsigned long)need1);
    CHECK(needn > 0 && needn <= sizeof(workspace), "workspace for the batch: %lu", (unsigned long)needn);
    if (need1 == 0 || need1 > sizeof(workspace) || needn == 0 || needn > sizeof(workspace))
        return test_summary("net_firmware");
    for (v = 0; v < LENET_N_VECTORS; v++) {
        CHECK(scalpel_net_forward(&lenet, lenet_inputs[v], 1, outputs[v], workspace) == SCALPEL_OK, "forward %d",
              (int)v);
        for (i = 0; i < 10; i++)
            CHECK(close_enough(outputs[v][i], lenet_expected[v][i], lenet_expected[v]),
                  "vector %d output %d: %.9g, host %.9g", (int)v, (int)i, (double)outputs[v][i],
                  (double)lenet_expected[v][i]);
        CHECK(scalpel_argmax_f32(outputs[v], 10) == lenet_expected_class[v], "vector %d class %d, host %d", (int)v,
              (int)scalpel_argmax_f32(outputs[v], 10), (int)lenet_expected_class[v]);
    }
    CHECK(scalpel_net_forward(&lenet, &lenet_inputs[0][0], LENET_N_VECTORS, &outputs[0][0], workspace) == SCALPEL_OK,
          "batched forward");
    for (v = 0; v < LENET_N_VECTORS; v++) {
        for (i = 0; i < 10; i++)
            CHECK(close_enough(outputs[v][i], lenet_expected[v][i], lenet_expected[v]),
                  "batch: vector %d output %d: %.9g, host %.9g", (int)v, (int)i, (double)outputs[v][i],
                  (double)lenet_expected[v][i]);
        CHECK(scalpel_argmax_f32(outputs[v], 10) == lenet_expected_class[v], "batch: vector %d class", (int)v);
    }
    return test_summary("net_firmware");
}
