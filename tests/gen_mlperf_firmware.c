/* gen_mlperf_firmware.c - host half of the MLPerf Tiny firmware test and benchmark: the four
 * MLPerf Tiny models of examples/reference_nets.h (DS-CNN, MobileNetV1-0.25, ResNet-8, the FC
 * autoencoder; random weights from a fixed seed, BatchNorms folded, the final softmax left
 * out: fixed point has none, and the logits' largest is the class), quantized to q7 with one
 * weight scale per output channel, calibrated on random inputs, exported with
 * scalpel_qnet_export_c, with one integer input and the host's integer output, which the
 * firmware (tests/cortex-m/mlperf_firmware.c) must reproduce bit for bit.
 *
 *   gcc -O2 -I. tests/gen_mlperf_firmware.c -o gen_mlperf_firmware -lm
 *   ./gen_mlperf_firmware DIR     writes DIR/mlperf_<model>.h and DIR/mlperf_<model>_vectors.h
 *
 * The vectors header also records what the firmware cannot compute itself: the multiply-
 * accumulates of one forward pass, and the bytes all the network's tensors would take if
 * each had its own buffer (what the workspace planner's reuse is measured against).
 *
 *   ./gen_mlperf_firmware DIR --pruned    also writes the SIMD-aware pruned variants
 *                                         mlperf_<model>_p50 / _p70 / _p90 (for DSP cores) and
 *                                         mlperf_<model>_p50_mve / ... (for Helium)
 *
 * A pruned variant is the same network with 50, 70 or 90% of its groups of G weights removed
 * from every layer the microcontroller rules prune (fully connected and convolutions with one
 * group; depthwise filters of nine taps are left whole), lowest RMS first
 * (scalpel_prune_groups_rate), then planned for a q7 profile and packed (scalpel_net_pack): a
 * layer whose rate is above its kernel's break-even is stored in grouped CSR. G is the q7
 * SIMD width: 4 on a DSP core (one SXTB16 + SMLAD pair; the cortex-m4 profile), 16 on Helium
 * (one vector; the cortex-m55 profile, the _mve variants). The weights are random, so a
 * variant measures speed, size and bit-exactness, not accuracy. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "../examples/reference_nets.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_CALIB 32

static const char *const models[4][2] = {
    { "ds-cnn", "ds_cnn" }, { "mobilenet-v1", "mobilenet_v1" }, { "resnet-8", "resnet_8" }, { "autoencoder", "autoencoder" }
};

/* The q7 profiles the variants are planned for, with the grouped break-evens of the 100 x 100
 * sweep (bench/cortex_m_q.c, make bench-cortex-m): cortex-m4, G = 4 (one word: SXTB16 + SMLAD),
 * matrix-vector 33%, matrix-matrix 32%; cortex-m55, G = 16 (one Helium vector), matrix-vector
 * 73%, matrix-matrix above 99% (its Helium grouped matrix-matrix product does not beat dense
 * at any rate of the sweep: convolutions stay dense there). */
static scalpel_status q7_profile(int mve, scalpel_hw_profile *hw)
{
    scalpel_status st = scalpel_hw_profile_get(mve ? "cortex-m55" : "cortex-m4", hw);
    if (st != SCALPEL_OK) return st;
    hw->group = mve ? 16 : 4;
    hw->dtype = SCALPEL_DTYPE_Q7;
    hw->breakeven_mv_grouped = mve ? 0.73f : 0.33f;
    hw->breakeven_mm_grouped = mve ? 0.995f : 0.32f;
    return SCALPEL_OK;
}

/* `rate` of the groups of G (the profile's) of every FC layer and one-group convolution
 * removed, then the network planned and packed for the q7 profile; the layers that went
 * grouped are counted */
static int prune_and_pack(scalpel_net *net, int mve, float rate, int32_t *n_grouped)
{
    scalpel_hw_profile hw;
    scalpel_plan plan;
    int32_t i;
    *n_grouped = 0;
    if (q7_profile(mve, &hw) != SCALPEL_OK) return 1;
    for (i = 0; i < net->n_layers; i++) {
        scalpel_layer *L = &net->layers[i];
        size_t n = (size_t)L->geom.rows * (size_t)L->geom.cols;
        uint8_t *mask;
        if (L->storage != SCALPEL_STORAGE_DENSE || L->w == NULL || n == 0) continue;
        if (L->geom.kind != SCALPEL_LAYER_FC && !(L->geom.kind == SCALPEL_LAYER_CONV2D && L->geom.groups == 1)) continue;
        mask = (uint8_t *)malloc(n);
        if (mask == NULL || scalpel_prune_groups_rate(L->w, L->geom.rows, L->geom.cols, hw.group, SCALPEL_IMPORTANCE_RMS,
                                                      rate, mask, NULL) != SCALPEL_OK)
            return 1;
        scalpel_mask_apply_f32((float *)(uintptr_t)L->w, mask, n); /* the network owns its weights */
        free(mask);
    }
    if (scalpel_plan_net(net, &hw, SCALPEL_PLAN_SCALPEL, &plan) != SCALPEL_OK || scalpel_net_pack(net, &plan) != SCALPEL_OK)
        return 1;
    for (i = 0; i < net->n_layers; i++) *n_grouped += net->layers[i].storage == SCALPEL_STORAGE_GCSR;
    return 0;
}

/* one model: build (pruned by `pct` percent of its groups unless 0, for the Helium profile
 * when `mve`), quantize, run the vector, write the two headers */
static int write_model(const char *dir, const char *net_name, const char *c_name, int pct, int mve)
{
    const ref_net_desc *d = ref_net_find(net_name);
    scalpel_net net;
    scalpel_qnet q;
    scalpel_quant_options opt;
    char path[700];
    float *calib;
    int8_t *x, *y;
    void *ws;
    size_t in_n, out_n, tensors = 0;
    int64_t macs = 0, macs_run = 0;
    int32_t i, n_grouped = 0;
    char name[64];
    FILE *f;
    if (d == NULL || ref_net_build(d, 1, &net) != SCALPEL_OK) {
        fprintf(stderr, "gen_mlperf_firmware: building %s failed\n", net_name);
        return 1;
    }
    if (net.n_layers > 0 && net.layers[net.n_layers - 1].geom.kind == SCALPEL_LAYER_SOFTMAX) net.n_layers--;
    for (i = 0; i < net.n_layers; i++) macs += scalpel_layer_macs(&net.layers[i]);
    if (pct > 0 && prune_and_pack(&net, mve, (float)pct / 100.0f, &n_grouped) != 0) {
        fprintf(stderr, "gen_mlperf_firmware: pruning %s to %d%% failed\n", net_name, pct);
        return 1;
    }
    for (i = 0; i < net.n_layers; i++) macs_run += scalpel_layer_macs(&net.layers[i]);
    if (pct > 0) snprintf(name, sizeof name, "%s_p%d%s", c_name, pct, mve ? "_mve" : "");
    else snprintf(name, sizeof name, "%s", c_name);
    c_name = name;
    test_rng_state = 0x5EED5EEDull ^ (uint64_t)(unsigned char)net_name[0] * 0x9E3779B97F4A7C15ull; /* the same
                                                                 calibration inputs for every variant */
    in_n = (size_t)scalpel_net_input_size(&net);
    out_n = (size_t)scalpel_net_output_size(&net);
    calib = (float *)malloc((size_t)N_CALIB * in_n * sizeof(float));
    x = (int8_t *)malloc(in_n);
    y = (int8_t *)malloc(out_n);
    if (!calib || !x || !y) return 1;
    for (i = 0; i < N_CALIB * (int32_t)in_n; i++) calib[i] = test_uniform() * 1.7f; /* variance ~1 */
    memset(&opt, 0, sizeof(opt));
    opt.dtype = SCALPEL_DTYPE_Q7;
    opt.per_channel = 1;
    if (scalpel_qnet_quantize(&net, &opt, calib, N_CALIB, &q) != SCALPEL_OK) {
        fprintf(stderr, "gen_mlperf_firmware: quantizing %s failed\n", net_name);
        return 1;
    }
    ws = malloc(scalpel_qnet_workspace_size(&q, 1));
    if (ws == NULL || scalpel_quantize_f32(calib, in_n, q.in_scale, SCALPEL_DTYPE_Q7, x) != SCALPEL_OK ||
        scalpel_qnet_forward(&q, x, 1, y, ws) != SCALPEL_OK)
        return 1;
    free(ws);
    tensors = in_n;
    for (i = 0; i < q.n_layers; i++)
        tensors += (size_t)q.layers[i].geom.out_c * (size_t)q.layers[i].geom.out_h * (size_t)q.layers[i].geom.out_w;
    snprintf(path, sizeof path, "%s/mlperf_%s.h", dir, c_name);
    if (scalpel_qnet_export_c(&q, c_name, path) != SCALPEL_OK) { fprintf(stderr, "export %s failed\n", path); return 1; }
    snprintf(path, sizeof path, "%s/mlperf_%s_vectors.h", dir, c_name);
    f = fopen(path, "w");
    if (f == NULL) { perror(path); return 1; }
    fprintf(f, "/* mlperf_%s_vectors.h: %s (%s), q7 per channel: one integer input and the host's integer\n"
               " * output (%s kernels), written by tests/gen_mlperf_firmware.c. Generated file. */\n"
               "#define MLPERF_MACS %lld\n#define MLPERF_MACS_RUN %lld\n#define MLPERF_GROUPED_LAYERS %d\n"
               "#define MLPERF_TENSOR_BYTES %lu\n#define MLPERF_FLOAT_LAYERS %d\n",
            c_name, net_name, d->what, scalpel_kernels_backend(), (long long)macs, (long long)macs_run, (int)n_grouped,
            (unsigned long)tensors, (int)net.n_layers);
    fprintf(f, "static const int8_t mlperf_input[%lu] = {", (unsigned long)in_n);
    for (i = 0; i < (int32_t)in_n; i++) fprintf(f, "%s%d%s", i % 24 == 0 ? "\n    " : " ", (int)x[i], i + 1 < (int32_t)in_n ? "," : "");
    fprintf(f, "\n};\nstatic const int8_t mlperf_expected[%lu] = {", (unsigned long)out_n);
    for (i = 0; i < (int32_t)out_n; i++) fprintf(f, "%s%d%s", i % 24 == 0 ? "\n    " : " ", (int)y[i], i + 1 < (int32_t)out_n ? "," : "");
    fputs("\n};\n", f);
    if (ferror(f) | fclose(f)) { fprintf(stderr, "gen_mlperf_firmware: writing %s failed\n", path); return 1; }
    printf("gen_mlperf_firmware: %s: %d layers (%d grouped), %lld MACs (%lld run), %lu weight bytes, workspace %lu bytes "
           "(tensors %lu)\n", c_name, (int)q.n_layers, (int)n_grouped, (long long)macs, (long long)macs_run,
           (unsigned long)scalpel_qnet_weight_bytes(&q),
           (unsigned long)scalpel_qnet_workspace_size(&q, 1), (unsigned long)tensors);
    scalpel_qnet_free(&q);
    scalpel_net_free(&net);
    free(calib); free(x); free(y);
    return 0;
}

int main(int argc, char **argv)
{
    static const int rates[4] = { 0, 50, 70, 90 };
    int i, k, pruned = argc == 3 && strcmp(argv[2], "--pruned") == 0;
    if ((argc != 2 && !pruned) || strlen(argv[1]) > 500) {
        fprintf(stderr, "usage: %s DIR [--pruned]\n", argv[0]);
        return 2;
    }
    for (i = 0; i < 4; i++)
        for (k = 0; k < (pruned ? 7 : 1); k++) /* dense, then G = 4 and G = 16 at each rate */
            if (write_model(argv[1], models[i][0], models[i][1], rates[(k + 1) / 2], k > 0 && k % 2 == 0) != 0) return 1;
    return 0;
}
