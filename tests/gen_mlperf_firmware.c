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
 * each had its own buffer (what the workspace planner's reuse is measured against). */
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

/* one model: build, quantize, run the vector, write the two headers */
static int write_model(const char *dir, const char *net_name, const char *c_name)
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
    int64_t macs = 0;
    int32_t i;
    FILE *f;
    if (d == NULL || ref_net_build(d, 1, &net) != SCALPEL_OK) {
        fprintf(stderr, "gen_mlperf_firmware: building %s failed\n", net_name);
        return 1;
    }
    if (net.n_layers > 0 && net.layers[net.n_layers - 1].geom.kind == SCALPEL_LAYER_SOFTMAX) net.n_layers--;
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
    for (i = 0; i < net.n_layers; i++) macs += scalpel_layer_macs(&net.layers[i]);
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
               "#define MLPERF_MACS %lld\n#define MLPERF_TENSOR_BYTES %lu\n#define MLPERF_FLOAT_LAYERS %d\n",
            c_name, net_name, d->what, scalpel_kernels_backend(), (long long)macs, (unsigned long)tensors, (int)net.n_layers);
    fprintf(f, "static const int8_t mlperf_input[%lu] = {", (unsigned long)in_n);
    for (i = 0; i < (int32_t)in_n; i++) fprintf(f, "%s%d%s", i % 24 == 0 ? "\n    " : " ", (int)x[i], i + 1 < (int32_t)in_n ? "," : "");
    fprintf(f, "\n};\nstatic const int8_t mlperf_expected[%lu] = {", (unsigned long)out_n);
    for (i = 0; i < (int32_t)out_n; i++) fprintf(f, "%s%d%s", i % 24 == 0 ? "\n    " : " ", (int)y[i], i + 1 < (int32_t)out_n ? "," : "");
    fputs("\n};\n", f);
    if (ferror(f) | fclose(f)) { fprintf(stderr, "gen_mlperf_firmware: writing %s failed\n", path); return 1; }
    printf("gen_mlperf_firmware: %s: %d layers, %lld MACs, %lu weight bytes, workspace %lu bytes (tensors %lu)\n", net_name,
           (int)q.n_layers, (long long)macs, (unsigned long)scalpel_qnet_weight_bytes(&q),
           (unsigned long)scalpel_qnet_workspace_size(&q, 1), (unsigned long)tensors);
    scalpel_qnet_free(&q);
    scalpel_net_free(&net);
    free(calib); free(x); free(y);
    return 0;
}

int main(int argc, char **argv)
{
    int i;
    if (argc != 2 || strlen(argv[1]) > 500) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
    test_rng_state = 0x5EED5EEDull;
    for (i = 0; i < 4; i++)
        if (write_model(argv[1], models[i][0], models[i][1]) != 0) return 1;
    return 0;
}
