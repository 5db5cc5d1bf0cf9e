/* gen_qnet_firmware.c - host half of the fixed-point firmware test: builds a small pruned
 * LeNet-5-shaped network (fixed-seed random weights), quantizes it to q15 (per output channel,
 * grouped layers with G = 2) and q7 (per layer, regrouped to G = 4), exports both with
 * scalpel_qnet_export_c, and writes integer inputs with the host's integer outputs, which the
 * firmware must reproduce bit for bit.
 *
 *   gcc -O2 -I. tests/gen_qnet_firmware.c -o gen_qnet_firmware -lm
 *   ./gen_qnet_firmware DIR     writes DIR/qlenet_q15.h, DIR/qlenet_q7.h, DIR/qlenet_vectors.h
 *
 * Network: 1x28x28 -> conv 8 5x5 (G = 2 grouped, 50% of groups pruned), relu, pool 2 ->
 * conv 16 5x5 (dense), relu, pool 2 -> fc 64 (G = 2, 90% pruned), relu -> fc 10 (dense).
 *
 * A second network has a layer of every kind with fixed point (qops_q15.h, qops_q7.h,
 * qops_vectors.h), on a 3 x 16 x 12 input: a batch norm on the input (it stays a layer), conv 8
 * 3x5 stride (2, 1) padded (1, 2, 1, 2) + batch norm (folded) + relu6, depthwise 3x3, a pruned
 * 1x1 conv (grouped CSR, G = 4) + relu, conv 3x3 + add (the 1x1's output) + relu, max pooling
 * 3/2 padded with ceil, two 1x1 branches (leaky ReLU, hardswish) concatenated, a grouped conv
 * (2 groups, dilation 2) + tanh, average pooling 2/2 padded counting the pads + sigmoid, global
 * average pooling, fc 10. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define N_VECTORS 3
#define N_CALIB 64

static int add_layer(scalpel_net *net, int32_t outputs, int32_t kernel, int32_t group, float prune)
{
    int32_t n = net->n_layers, r, c, j, g = group ? group : 1;
    const scalpel_layer *last = n ? &net->layers[n - 1] : NULL;
    int32_t ic = last ? last->geom.out_c : net->in_c, ih = last ? last->geom.out_h : net->in_h, iw = last ? last->geom.out_w : net->in_w;
    int32_t cols = kernel ? ic * kernel * kernel : ic * ih * iw;
    float *w = (float *)malloc((size_t)outputs * (size_t)cols * sizeof(float));
    float *b = (float *)malloc((size_t)outputs * sizeof(float));
    float scale = 1.7f / sqrtf((float)cols * (1.0f - prune) + 1.0f);
    scalpel_gcsr m;
    int ok;
    for (r = 0; r < outputs; r++) {
        b[r] = test_uniform() * 0.05f;
        for (c = 0; c < cols; c += g) {
            int zero = group && (float)(test_rand() % 10000u) < prune * 10000.0f;
            for (j = c; j < c + g && j < cols; j++) w[(size_t)r * (size_t)cols + (size_t)j] = zero ? 0.0f : test_uniform() * scale;
        }
    }
    if (group == 0)
        ok = (kernel ? scalpel_net_add_conv2d(net, outputs, kernel, 1, 0, w, b) : scalpel_net_add_fc(net, outputs, w, b)) ==
             SCALPEL_OK;
    else
        ok = scalpel_gcsr_from_dense(w, outputs, cols, group, &m) == SCALPEL_OK &&
             (kernel ? scalpel_net_add_conv2d_gcsr(net, outputs, kernel, 1, 0, &m, b) : scalpel_net_add_fc_gcsr(net, &m, b)) ==
                 SCALPEL_OK;
    if (group) scalpel_gcsr_free(&m);
    free(w);
    free(b);
    return ok;
}

static void put_ints(FILE *f, const char *type, const char *name, const void *v, int32_t rows, int32_t n, int q15)
{
    int32_t r, i;
    fprintf(f, "static const %s %s[%d][%d] = {", type, name, (int)rows, (int)n);
    for (r = 0; r < rows; r++) {
        fputs(r ? ",\n    {" : "\n    {", f);
        for (i = 0; i < n; i++) {
            size_t k = (size_t)r * (size_t)n + (size_t)i;
            fprintf(f, "%s%d%s", i % 16 == 0 ? "\n        " : " ",
                    q15 ? (int)((const int16_t *)v)[k] : (int)((const int8_t *)v)[k], i + 1 < n ? "," : "");
        }
        fputs(" }", f);
    }
    fputs("\n};\n", f);
}

/* fixed-seed weights for n_w weights of fan-in `fan` and n_b biases */
static float *rand_w(size_t n, int32_t fan)
{
    float *w = (float *)malloc(n * sizeof(float)), scale = 1.7f / sqrtf((float)fan);
    size_t i;
    for (i = 0; i < n; i++) w[i] = test_uniform() * scale;
    return w;
}

/* a dense conv2d of any window reading a tensor of in_c channels */
static int conv_in(scalpel_net *net, int32_t in_c, int32_t out, const scalpel_window *win)
{
    int32_t fan = in_c / win->groups * win->kernel_h * win->kernel_w;
    float *w = rand_w((size_t)out * (size_t)fan, fan), *b = rand_w((size_t)out, 20);
    int ok = scalpel_net_add_conv2d_ex(net, out, win, w, b) == SCALPEL_OK;
    free(w);
    free(b);
    return ok;
}

/* the same reading the last layer's output */
static int conv_ex(scalpel_net *net, int32_t out, const scalpel_window *win)
{
    return conv_in(net, net->n_layers ? net->layers[net->n_layers - 1].geom.out_c : net->in_c, out, win);
}

static int batchnorm(scalpel_net *net)
{
    int32_t c = net->n_layers ? net->layers[net->n_layers - 1].geom.out_c : net->in_c, i;
    float scale[64], shift[64];
    for (i = 0; i < c; i++) {
        scale[i] = 1.0f + 0.5f * test_uniform();
        shift[i] = 0.2f * test_uniform();
    }
    return scalpel_net_add_batchnorm_affine(net, scale, shift) == SCALPEL_OK;
}

/* The network of every kind (top comment); its layer numbers, for the joins, in comments.
 * Windows go by pointer to variables: GCC 12.2 at -O2 -march=native (Zen 4) passed a
 * scalpel_window_square(1, 1, 0) returned straight into a by-value argument of these inlined
 * helpers with the previous window's padding (gone with -fno-tree-sra). */
static int build_ops(scalpel_net *net)
{
    scalpel_window w, w1 = scalpel_window_square(1, 1, 0), w3 = scalpel_window_square(3, 1, 1);
    int ok = scalpel_net_init(3, 16, 12, net) == SCALPEL_OK && batchnorm(net); /* 0 */
    w = scalpel_window_square(3, 1, 0);
    w.kernel_w = 5; w.stride_h = 2; w.pad_top = 1; w.pad_left = 2; w.pad_bottom = 1; w.pad_right = 2;
    ok = ok && conv_ex(net, 8, &w) && batchnorm(net) && scalpel_net_add_relu6(net) == SCALPEL_OK; /* 1-3 */
    w = scalpel_window_square(3, 1, 1);
    w.groups = 8;
    ok = ok && conv_ex(net, 8, &w) && scalpel_net_add_relu(net) == SCALPEL_OK; /* 4-5 */
    ok = ok && add_layer(net, 16, 1, 4, 0.5f) && scalpel_net_add_relu(net) == SCALPEL_OK; /* 6-7 */
    ok = ok && conv_ex(net, 16, &w3) && scalpel_net_add_add(net, 7) == SCALPEL_OK &&
         scalpel_net_add_relu(net) == SCALPEL_OK; /* 8-10 */
    w = scalpel_window_square(3, 2, 1);
    w.mode = SCALPEL_POOL_CEIL;
    ok = ok && scalpel_net_add_maxpool_ex(net, &w) == SCALPEL_OK; /* 11 */
    ok = ok && conv_ex(net, 8, &w1) && scalpel_net_add_leaky_relu(net, 0.1f) == SCALPEL_OK;
    ok = ok && scalpel_net_set_next_input(net, 11) == SCALPEL_OK && conv_in(net, 16, 8, &w1) &&
         scalpel_net_add_hardswish(net) == SCALPEL_OK && scalpel_net_add_concat(net, 13) == SCALPEL_OK; /* 12-16 */
    w = scalpel_window_square(3, 1, 2);
    w.groups = 2; w.dilation_h = 2; w.dilation_w = 2;
    ok = ok && conv_ex(net, 16, &w) && scalpel_net_add_tanh(net) == SCALPEL_OK; /* 17-18 */
    w = scalpel_window_square(2, 2, 1);
    w.mode = SCALPEL_POOL_COUNT_PADS;
    ok = ok && scalpel_net_add_avgpool(net, &w) == SCALPEL_OK && scalpel_net_add_sigmoid(net) == SCALPEL_OK &&
         scalpel_net_add_global_avgpool(net) == SCALPEL_OK && add_layer(net, 10, 0, 0, 0.0f);
    return ok;
}

/* Quantizes the network of every kind in q15 and q7, runs the vectors, writes the files. */
static int write_ops(const char *dir)
{
    scalpel_net net;
    scalpel_qnet q[2];
    scalpel_quant_options opt;
    char path[600];
    enum { IN_N = 3 * 16 * 12 };
    static float calib[N_CALIB * IN_N];
    static int16_t x15[N_VECTORS * IN_N], y15[N_VECTORS * 10];
    static int8_t x7[N_VECTORS * IN_N], y7[N_VECTORS * 10];
    void *ws;
    FILE *f;
    int32_t i, d;
    if (!build_ops(&net)) { fprintf(stderr, "gen_qnet_firmware: building the network of every kind failed\n"); return 1; }
    for (i = 0; i < N_CALIB * IN_N; i++) calib[i] = test_uniform() * 2.0f;
    for (d = 0; d < 2; d++) {
        memset(&opt, 0, sizeof(opt));
        opt.dtype = d == 0 ? SCALPEL_DTYPE_Q15 : SCALPEL_DTYPE_Q7;
        opt.per_channel = 1;
        if (scalpel_qnet_quantize(&net, &opt, calib, N_CALIB, &q[d]) != SCALPEL_OK) {
            fprintf(stderr, "gen_qnet_firmware: quantizing the network of every kind failed\n");
            return 1;
        }
    }
    if (scalpel_quantize_f32(calib, N_VECTORS * IN_N, q[0].in_scale, SCALPEL_DTYPE_Q15, x15) != SCALPEL_OK ||
        scalpel_quantize_f32(calib, N_VECTORS * IN_N, q[1].in_scale, SCALPEL_DTYPE_Q7, x7) != SCALPEL_OK)
        return 1;
    ws = malloc(scalpel_qnet_workspace_size(&q[0], N_VECTORS) + scalpel_qnet_workspace_size(&q[1], N_VECTORS));
    if (ws == NULL || scalpel_qnet_forward(&q[0], x15, N_VECTORS, y15, ws) != SCALPEL_OK ||
        scalpel_qnet_forward(&q[1], x7, N_VECTORS, y7, ws) != SCALPEL_OK)
        return 1;
    free(ws);
    sprintf(path, "%s/qops_q15.h", dir);
    if (scalpel_qnet_export_c(&q[0], "qops15", path) != SCALPEL_OK) { fprintf(stderr, "export %s failed\n", path); return 1; }
    sprintf(path, "%s/qops_q7.h", dir);
    if (scalpel_qnet_export_c(&q[1], "qops7", path) != SCALPEL_OK) { fprintf(stderr, "export %s failed\n", path); return 1; }
    sprintf(path, "%s/qops_vectors.h", dir);
    f = fopen(path, "w");
    if (f == NULL) { perror(path); return 1; }
    fprintf(f, "/* qops_vectors.h: integer inputs and the host's integer outputs (%s kernels) of the network\n"
               " * of every kind, written by tests/gen_qnet_firmware.c. Generated file. */\n#define QOPS_N_LAYERS %d\n",
            scalpel_kernels_backend(), (int)q[0].n_layers);
    put_ints(f, "int16_t", "qops15_inputs", x15, N_VECTORS, IN_N, 1);
    put_ints(f, "int16_t", "qops15_expected", y15, N_VECTORS, 10, 1);
    put_ints(f, "int8_t", "qops7_inputs", x7, N_VECTORS, IN_N, 0);
    put_ints(f, "int8_t", "qops7_expected", y7, N_VECTORS, 10, 0);
    if (ferror(f) | fclose(f)) { fprintf(stderr, "gen_qnet_firmware: writing %s failed\n", path); return 1; }
    printf("gen_qnet_firmware: every kind: %d layers (%d in float), q15 %lu weight bytes, q7 %lu\n", (int)q[0].n_layers,
           (int)net.n_layers, (unsigned long)scalpel_qnet_weight_bytes(&q[0]), (unsigned long)scalpel_qnet_weight_bytes(&q[1]));
    scalpel_qnet_free(&q[0]);
    scalpel_qnet_free(&q[1]);
    scalpel_net_free(&net);
    return 0;
}

int main(int argc, char **argv)
{
    scalpel_net net;
    scalpel_qnet q15, q7;
    scalpel_quant_options opt;
    char path[600];
    static float calib[N_CALIB * 784];
    static int16_t x15[N_VECTORS * 784], y15[N_VECTORS * 10];
    static int8_t x7[N_VECTORS * 784], y7[N_VECTORS * 10];
    void *ws;
    FILE *f;
    int32_t i;
    if (argc != 2 || strlen(argv[1]) > 500) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
    test_rng_state = 0x0DDBA11ull;
    if (!(scalpel_net_init(1, 28, 28, &net) == SCALPEL_OK && add_layer(&net, 8, 5, 2, 0.5f) &&
          scalpel_net_add_relu(&net) == SCALPEL_OK && scalpel_net_add_maxpool(&net, 2, 2) == SCALPEL_OK &&
          add_layer(&net, 16, 5, 0, 0.0f) && scalpel_net_add_relu(&net) == SCALPEL_OK &&
          scalpel_net_add_maxpool(&net, 2, 2) == SCALPEL_OK && add_layer(&net, 64, 0, 2, 0.9f) &&
          scalpel_net_add_relu(&net) == SCALPEL_OK && add_layer(&net, 10, 0, 0, 0.0f))) {
        fprintf(stderr, "gen_qnet_firmware: building the network failed\n");
        return 1;
    }
    /* inputs like MNIST digits: most pixels 0, the rest in (0, 1] */
    for (i = 0; i < N_CALIB * 784; i++) calib[i] = test_rand() % 4u == 0 ? (test_uniform() + 1.0f) * 0.5f : 0.0f;
    memset(&opt, 0, sizeof(opt));
    opt.dtype = SCALPEL_DTYPE_Q15;
    opt.per_channel = 1;
    if (scalpel_qnet_quantize(&net, &opt, calib, N_CALIB, &q15) != SCALPEL_OK) return 1;
    opt.dtype = SCALPEL_DTYPE_Q7;
    opt.per_channel = 0;
    opt.group = 4;
    if (scalpel_qnet_quantize(&net, &opt, calib, N_CALIB, &q7) != SCALPEL_OK) return 1;
    /* the test vectors: the last calibration images, quantized, through the host's kernels */
    if (scalpel_quantize_f32(calib, N_VECTORS * 784, q15.in_scale, SCALPEL_DTYPE_Q15, x15) != SCALPEL_OK ||
        scalpel_quantize_f32(calib, N_VECTORS * 784, q7.in_scale, SCALPEL_DTYPE_Q7, x7) != SCALPEL_OK)
        return 1;
    ws = malloc(scalpel_qnet_workspace_size(&q15, N_VECTORS) + scalpel_qnet_workspace_size(&q7, N_VECTORS));
    if (ws == NULL || scalpel_qnet_forward(&q15, x15, N_VECTORS, y15, ws) != SCALPEL_OK ||
        scalpel_qnet_forward(&q7, x7, N_VECTORS, y7, ws) != SCALPEL_OK)
        return 1;
    free(ws);
    sprintf(path, "%s/qlenet_q15.h", argv[1]);
    if (scalpel_qnet_export_c(&q15, "qlenet15", path) != SCALPEL_OK) { fprintf(stderr, "export %s failed\n", path); return 1; }
    sprintf(path, "%s/qlenet_q7.h", argv[1]);
    if (scalpel_qnet_export_c(&q7, "qlenet7", path) != SCALPEL_OK) { fprintf(stderr, "export %s failed\n", path); return 1; }
    sprintf(path, "%s/qlenet_vectors.h", argv[1]);
    f = fopen(path, "w");
    if (f == NULL) { perror(path); return 1; }
    fprintf(f, "/* qlenet_vectors.h: integer inputs and the host's integer outputs (%s kernels), written\n"
               " * by tests/gen_qnet_firmware.c. Generated file. */\n#define QLENET_N_VECTORS %d\n",
            scalpel_kernels_backend(), N_VECTORS);
    put_ints(f, "int16_t", "qlenet15_inputs", x15, N_VECTORS, 784, 1);
    put_ints(f, "int16_t", "qlenet15_expected", y15, N_VECTORS, 10, 1);
    put_ints(f, "int8_t", "qlenet7_inputs", x7, N_VECTORS, 784, 0);
    put_ints(f, "int8_t", "qlenet7_expected", y7, N_VECTORS, 10, 0);
    if (ferror(f) | fclose(f)) { fprintf(stderr, "gen_qnet_firmware: writing %s failed\n", path); return 1; }
    printf("gen_qnet_firmware: q15 %lu weight bytes, q7 %lu, files in %s\n", (unsigned long)scalpel_qnet_weight_bytes(&q15),
           (unsigned long)scalpel_qnet_weight_bytes(&q7), argv[1]);
    scalpel_qnet_free(&q15);
    scalpel_qnet_free(&q7);
    scalpel_net_free(&net);
    return write_ops(argv[1]);
}
