/* fuzz_net_seeds.c - writes a seed corpus for fuzz_net: small valid model files (dense and
 * grouped-CSR fc layers of every G, a conv, pool, relu, a fully pruned layer, the kinds of
 * version 3, the HYBRID and TASD layers of version 4, an empty network).  usage: fuzz_net_seeds DIR */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <stdio.h>
#include <stdlib.h>

/* Deterministic sparse weights: every third group of G kept. */
static float *weights(int32_t rows, int32_t cols, int32_t group, int keep_none)
{
    float *w = (float *)calloc((size_t)rows * (size_t)cols + 1, sizeof(float));
    int32_t r, c;
    for (r = 0; r < rows && !keep_none; r++)
        for (c = 0; c < cols; c++)
            if ((r + c / group) % 3 == 0) w[(size_t)r * (size_t)cols + (size_t)c] = (float)(r - c) * 0.25f + 0.5f;
    return w;
}

static int add_fc(scalpel_net *net, int32_t outputs, int32_t group, int keep_none)
{
    int32_t cols = scalpel_net_output_size(net);
    float *w = weights(outputs, cols, group ? group : 1, keep_none);
    scalpel_gcsr m;
    int ok;
    if (group == 0) {
        ok = scalpel_net_add_fc(net, outputs, w, NULL) == SCALPEL_OK;
    } else {
        ok = scalpel_gcsr_from_dense(w, outputs, cols, group, &m) == SCALPEL_OK &&
             scalpel_net_add_fc_gcsr(net, &m, NULL) == SCALPEL_OK;
        scalpel_gcsr_free(&m);
    }
    free(w);
    return ok;
}

static int write_seed(const char *dir, const char *name, const scalpel_net *net)
{
    char path[512];
    size_t cap = scalpel_net_serialized_size(net), n = 0;
    unsigned char *buf = (unsigned char *)malloc(cap + 1);
    FILE *f;
    int ok = cap > 0 && scalpel_net_serialize(net, buf, cap, &n) == SCALPEL_OK;
    snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
    f = ok ? fopen(path, "wb") : NULL;
    ok = f != NULL && fwrite(buf, 1, n, f) == n;
    if (f != NULL && fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "fuzz_net_seeds: could not write %s\n", path);
    free(buf);
    return ok;
}

int main(int argc, char **argv)
{
    scalpel_net net;
    int32_t g, count = 0, ok = 1;
    char name[64];
    if (argc != 2) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
    for (g = 0; g <= 16; g = g ? g * 2 : 1) {
        ok &= scalpel_net_init(1, 3, 5, &net) == SCALPEL_OK && add_fc(&net, 4, g, 0) &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && add_fc(&net, 3, g == 16 ? 2 : g, g == 8);
        snprintf(name, sizeof(name), "mlp-g%d", (int)g);
        ok &= write_seed(argv[1], name, &net);
        count++;
        scalpel_net_free(&net);
    }
    {
        float w[3 * 2 * 2 * 2], b[3] = { 0.5f, -0.5f, 0.25f };
        int i;
        for (i = 0; i < 24; i++) w[i] = (float)(i % 5) - 2.0f;
        ok &= scalpel_net_init(2, 6, 6, &net) == SCALPEL_OK &&
              scalpel_net_add_conv2d(&net, 3, 2, 2, 1, w, b) == SCALPEL_OK &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && scalpel_net_add_maxpool(&net, 2, 1) == SCALPEL_OK &&
              add_fc(&net, 2, 4, 0);
        ok &= write_seed(argv[1], "conv", &net);
        count++;
        scalpel_net_free(&net);
    }
    {   /* layers reading earlier tensors (version 2's `from`): the network input and a kept one */
        float w[3 * 2 * 2 * 2], b[3] = { 0.5f, -0.5f, 0.25f };
        int i;
        for (i = 0; i < 24; i++) w[i] = (float)(i % 7) - 3.0f;
        ok &= scalpel_net_init(2, 6, 6, &net) == SCALPEL_OK &&
              scalpel_net_add_conv2d(&net, 3, 2, 2, 1, w, b) == SCALPEL_OK && scalpel_net_add_relu(&net) == SCALPEL_OK &&
              scalpel_net_set_next_input(&net, 0) == SCALPEL_OK && scalpel_net_add_maxpool(&net, 2, 1) == SCALPEL_OK &&
              scalpel_net_set_next_input(&net, -1) == SCALPEL_OK && scalpel_net_add_relu(&net) == SCALPEL_OK &&
              add_fc(&net, 2, 2, 0);
        ok &= write_seed(argv[1], "skips", &net);
        count++;
        scalpel_net_free(&net);
    }
    {   /* version 3: every kind of the operators issue, small (a grouped conv with uneven pads,
           dilation; batch norm; pools with padding and ceil; add, concat; the activations; LRN) */
        float w[4 * 2 * 6], b[4] = { 0.1f, -0.2f, 0.3f, -0.4f }, sc[4] = { 1.0f, 0.5f, 2.0f, 1.5f }, sh[4] = { 0, 1, -1, 0 };
        scalpel_window win = scalpel_window_square(3, 1, 1);
        int i;
        for (i = 0; i < 48; i++) w[i] = (float)(i % 5) - 2.0f;
        win.kernel_w = 2; win.pad_right = 0; win.dilation_h = 2; win.pad_top = 2; win.groups = 2;
        ok &= scalpel_net_init(4, 6, 5, &net) == SCALPEL_OK && scalpel_net_add_conv2d_ex(&net, 4, &win, w, b) == SCALPEL_OK &&
              scalpel_net_add_batchnorm_affine(&net, sc, sh) == SCALPEL_OK && scalpel_net_add_relu6(&net) == SCALPEL_OK;
        win = scalpel_window_square(2, 2, 1);
        win.mode = SCALPEL_POOL_CEIL;
        ok &= ok && scalpel_net_add_maxpool_ex(&net, &win) == SCALPEL_OK;
        win.mode |= SCALPEL_POOL_COUNT_PADS;
        ok &= ok && scalpel_net_set_next_input(&net, 2) == SCALPEL_OK && scalpel_net_add_avgpool(&net, &win) == SCALPEL_OK &&
              scalpel_net_add_add(&net, 3) == SCALPEL_OK && scalpel_net_add_relu(&net) == SCALPEL_OK &&
              scalpel_net_add_concat(&net, 3) == SCALPEL_OK && scalpel_net_add_leaky_relu(&net, 0.1f) == SCALPEL_OK &&
              scalpel_net_add_lrn(&net, 3, 1e-2f, 0.75f, 1.0f, 0) == SCALPEL_OK &&
              scalpel_net_add_lrn(&net, 3, 1e-2f, 0.75f, 1.0f, SCALPEL_LRN_WITHIN_CHANNEL) == SCALPEL_OK &&
              scalpel_net_add_hardswish(&net) == SCALPEL_OK && scalpel_net_add_sigmoid(&net) == SCALPEL_OK &&
              scalpel_net_add_tanh(&net) == SCALPEL_OK && scalpel_net_add_clip(&net, -0.5f, 0.5f) == SCALPEL_OK &&
              scalpel_net_add_softmax(&net) == SCALPEL_OK && scalpel_net_add_global_avgpool(&net) == SCALPEL_OK &&
              add_fc(&net, 3, 2, 0) && scalpel_net_add_softmax(&net) == SCALPEL_OK;
        ok &= ok && write_seed(argv[1], "v3-kinds", &net);
        count++;
        scalpel_net_free(&net);
    }
    {   /* a depthwise block with a channel multiplier, stride 2 and "same" padding */
        float w[8 * 9], b[8] = { 0 };
        scalpel_window win = scalpel_window_square(3, 2, 0);
        int i;
        for (i = 0; i < 72; i++) w[i] = (float)(i % 3) - 1.0f;
        win.pad_bottom = 1; win.pad_right = 1; win.groups = 4;
        ok &= scalpel_net_init(4, 6, 6, &net) == SCALPEL_OK && scalpel_net_add_conv2d_ex(&net, 8, &win, w, b) == SCALPEL_OK &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && add_fc(&net, 2, 4, 0);
        ok &= ok && write_seed(argv[1], "v3-depthwise", &net);
        count++;
        scalpel_net_free(&net);
    }
    {   /* version 4: an fc layer as the exact hybrid (G = 2 groups + CSR residual), a conv as a
           TASD series of two terms, and one of none */
        int32_t cols = 3 * 5;
        float *w = weights(6, cols, 1, 0), cw[3 * 2 * 2 * 2];
        scalpel_hybrid h;
        scalpel_hybrid_costs costs = { 1.5f, 1.0f, 0.0f }; /* groups of two weights pay, lone ones not */
        scalpel_tasd t;
        scalpel_tasd_spec spec;
        int i;
        for (i = 0; i < 24; i++) cw[i] = (float)(i % 5) - 2.0f;
        for (i = 0; i < cols; i++) w[i] = 0.25f * (float)(i + 1); /* row 0 dense: whole groups */
        memset(&h, 0, sizeof(h));
        memset(&t, 0, sizeof(t));
        ok &= scalpel_net_init(1, 3, 5, &net) == SCALPEL_OK && scalpel_net_add_fc(&net, 6, w, NULL) == SCALPEL_OK &&
              scalpel_hybrid_from_dense(w, 6, cols, 2, &costs, &h) == SCALPEL_OK && scalpel_net_set_hybrid(&net, 0, &h) == SCALPEL_OK &&
              net.layers[0].sparse.nnz_groups > 0 && net.layers[0].residual.nnz_groups > 0 &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && add_fc(&net, 3, 0, 0);
        ok &= ok && write_seed(argv[1], "v4-hybrid", &net);
        count++;
        scalpel_net_free(&net);
        ok &= scalpel_net_init(2, 4, 4, &net) == SCALPEL_OK && scalpel_net_add_conv2d(&net, 3, 2, 1, 0, cw, NULL) == SCALPEL_OK &&
              scalpel_tasd_parse("1:4+1:2", &spec) == SCALPEL_OK &&
              scalpel_tasd_decompose(cw, 3, 8, &spec, &t, NULL) == SCALPEL_OK && scalpel_net_set_tasd(&net, 0, &t) == SCALPEL_OK &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && add_fc(&net, 4, 0, 0);
        scalpel_tasd_free(&t);
        memset(&t, 0, sizeof(t));
        t.rows = 4;
        t.cols = 27;
        ok &= ok && scalpel_net_set_tasd(&net, 2, &t) == SCALPEL_OK && add_fc(&net, 2, 2, 0);
        ok &= ok && write_seed(argv[1], "v4-tasd", &net);
        count++;
        scalpel_hybrid_free(&h);
        scalpel_net_free(&net);
        free(w);
    }
    ok &= scalpel_net_init(1, 1, 1, &net) == SCALPEL_OK;
    ok &= write_seed(argv[1], "empty", &net);
    count++;
    if (!ok) return 1;
    printf("fuzz_net_seeds: wrote %d seeds to %s\n", (int)count, argv[1]);
    return 0;
}
