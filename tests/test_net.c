/* test_net.c - networks: shapes, forward against a naive reference, dense vs grouped CSR,
 * batch 1 vs batch > 1, workspace bounds, no allocation in forward, argument errors. */
#include <stdlib.h>
#include <string.h>

static long test_allocs;
#define SCALPEL_MALLOC(ctx, n) ((void)(ctx), test_allocs++, malloc(n))
#define SCALPEL_FREE(ctx, p) ((void)(ctx), free(p))
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

/* A layer as the reference sees it: dense weights [rows x cols], bias, and the shapes. */
typedef struct ref_layer {
    int kind, outputs, kernel, stride, pad;
    float *w, *b;
} ref_layer;

/* Direct (non-im2col) forward of one sample, in double, for the reference. */
static void ref_forward(const ref_layer *ls, int n, int c, int h, int w, const float *in, double *out, int *out_n)
{
    double *cur = (double *)malloc(sizeof(double) * (size_t)(c * h * w)), *nxt;
    int i, k;
    for (k = 0; k < c * h * w; k++) cur[k] = in[k];
    for (i = 0; i < n; i++) {
        const ref_layer *L = &ls[i];
        if (L->kind == SCALPEL_LAYER_FC) {
            int inputs = c * h * w, o;
            nxt = (double *)malloc(sizeof(double) * (size_t)L->outputs);
            for (o = 0; o < L->outputs; o++) {
                double s = L->b[o];
                for (k = 0; k < inputs; k++) s += (double)L->w[(size_t)o * (size_t)inputs + (size_t)k] * cur[k];
                nxt[o] = s;
            }
            c = L->outputs; h = 1; w = 1;
        } else if (L->kind == SCALPEL_LAYER_CONV2D) {
            int K = L->kernel, S = L->stride, P = L->pad;
            int oh = (h + 2 * P - K) / S + 1, ow = (w + 2 * P - K) / S + 1, o, y, x, ci, ky, kx;
            nxt = (double *)malloc(sizeof(double) * (size_t)(L->outputs * oh * ow));
            for (o = 0; o < L->outputs; o++)
                for (y = 0; y < oh; y++)
                    for (x = 0; x < ow; x++) {
                        double s = L->b[o];
                        for (ci = 0; ci < c; ci++)
                            for (ky = 0; ky < K; ky++)
                                for (kx = 0; kx < K; kx++) {
                                    int iy = y * S - P + ky, ix = x * S - P + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    s += (double)L->w[((o * c + ci) * K + ky) * K + kx] * cur[(ci * h + iy) * w + ix];
                                }
                        nxt[(o * oh + y) * ow + x] = s;
                    }
            c = L->outputs; h = oh; w = ow;
        } else if (L->kind == SCALPEL_LAYER_MAXPOOL) {
            int K = L->kernel, S = L->stride, oh = (h - K) / S + 1, ow = (w - K) / S + 1, ci, y, x, ky, kx;
            nxt = (double *)malloc(sizeof(double) * (size_t)(c * oh * ow));
            for (ci = 0; ci < c; ci++)
                for (y = 0; y < oh; y++)
                    for (x = 0; x < ow; x++) {
                        double m = cur[(ci * h + y * S) * w + x * S];
                        for (ky = 0; ky < K; ky++)
                            for (kx = 0; kx < K; kx++) {
                                double v = cur[(ci * h + y * S + ky) * w + x * S + kx];
                                if (v > m) m = v;
                            }
                        nxt[(ci * oh + y) * ow + x] = m;
                    }
            h = oh; w = ow;
        } else {
            nxt = (double *)malloc(sizeof(double) * (size_t)(c * h * w));
            for (k = 0; k < c * h * w; k++) nxt[k] = cur[k] > 0 ? cur[k] : 0;
        }
        free(cur);
        cur = nxt;
    }
    for (k = 0; k < c * h * w; k++) out[k] = cur[k];
    *out_n = c * h * w;
    free(cur);
}

/* Random weights with roughly `zero` of the aligned groups of 4 set to zero, so grouped
 * layers really skip something. */
static float *rand_weights(size_t n, float zero)
{
    float *w = (float *)malloc(sizeof(float) * (n ? n : 1));
    size_t i;
    for (i = 0; i < n; i++) w[i] = test_uniform() * 0.5f;
    for (i = 0; i + 4 <= n; i += 4)
        if ((float)(test_rand() % 1000) / 1000.0f < zero) memset(w + i, 0, 4 * sizeof(float));
    return w;
}

/* Builds the network described by ls (weights drawn here) with group G for sparse layers
 * (0 = dense), runs batch samples, compares with the reference. */
static void check_net(ref_layer *ls, int n, int c, int h, int w, int group, int batch, const char *what)
{
    scalpel_net net;
    int i, s, on = 0, cc = c, hh = h, ww = w;
    scalpel_status st = scalpel_net_init(c, h, w, &net);
    float *in, *out;
    double *ref;
    unsigned char *ws;
    size_t wsz, insz = (size_t)(c * h * w);
    long allocs;
    CHECK(st == SCALPEL_OK, "%s: init %d", what, st);
    for (i = 0; i < n; i++) {
        ref_layer *L = &ls[i];
        if (L->kind == SCALPEL_LAYER_FC || L->kind == SCALPEL_LAYER_CONV2D) {
            int cols = L->kind == SCALPEL_LAYER_FC ? cc * hh * ww : cc * L->kernel * L->kernel;
            size_t nw = (size_t)L->outputs * (size_t)cols;
            L->w = rand_weights(nw, 0.6f);
            L->b = rand_weights((size_t)L->outputs, 0.0f);
            if (group) {
                scalpel_gcsr m;
                CHECK(scalpel_gcsr_from_dense(L->w, L->outputs, cols, group, &m) == SCALPEL_OK, "%s", what);
                st = L->kind == SCALPEL_LAYER_FC ? scalpel_net_add_fc_gcsr(&net, &m, L->b)
                                                 : scalpel_net_add_conv2d_gcsr(&net, L->outputs, L->kernel, L->stride, L->pad, &m, L->b);
                scalpel_gcsr_free(&m);
            } else {
                st = L->kind == SCALPEL_LAYER_FC ? scalpel_net_add_fc(&net, L->outputs, L->w, L->b)
                                                 : scalpel_net_add_conv2d(&net, L->outputs, L->kernel, L->stride, L->pad, L->w, L->b);
            }
        } else if (L->kind == SCALPEL_LAYER_MAXPOOL) {
            st = scalpel_net_add_maxpool(&net, L->kernel, L->stride);
        } else {
            st = scalpel_net_add_relu(&net);
        }
        CHECK(st == SCALPEL_OK, "%s: layer %d: %s", what, i, scalpel_status_string(st));
        cc = net.layers[i].geom.out_c; hh = net.layers[i].geom.out_h; ww = net.layers[i].geom.out_w;
    }
    CHECK(scalpel_net_validate(&net) == SCALPEL_OK, "%s: validate", what);
    in = (float *)malloc(sizeof(float) * insz * (size_t)batch);
    for (i = 0; i < (int)insz * batch; i++) in[i] = test_uniform();
    out = (float *)malloc(sizeof(float) * ((size_t)scalpel_net_output_size(&net) * (size_t)batch + 8));
    for (i = 0; i < scalpel_net_output_size(&net) * batch + 8; i++) out[i] = -999.0f;
    wsz = scalpel_net_workspace_size(&net, batch);
    CHECK(wsz > 0, "%s: workspace", what);
    ws = (unsigned char *)malloc(wsz + 1);
    allocs = test_allocs;
    st = scalpel_net_forward(&net, in, batch, out, ws + 1);    /* a misaligned workspace works too */
    CHECK(st == SCALPEL_OK, "%s: forward %s", what, scalpel_status_string(st));
    CHECK(test_allocs == allocs, "%s: forward allocated", what);
    ref = (double *)malloc(sizeof(double) * ((size_t)scalpel_net_output_size(&net) + 1));
    for (s = 0; s < batch; s++) {
        ref_forward(ls, n, c, h, w, in + (size_t)s * insz, ref, &on);
        CHECK(on == scalpel_net_output_size(&net), "%s: output size %d vs %d", what, on, (int)scalpel_net_output_size(&net));
        for (i = 0; i < on; i++) {
            double got = out[s * on + i], want = ref[i];
            CHECK(fabs(got - want) <= 1e-4 * (1.0 + fabs(want)), "%s: sample %d out %d: %g vs %g", what, s, i, got, want);
        }
    }
    for (i = 0; i < 8; i++) CHECK(out[on * batch + i] == -999.0f, "%s: wrote past the output", what);
    for (i = 0; i < n; i++) { free(ls[i].w); free(ls[i].b); ls[i].w = ls[i].b = NULL; }
    free(ref); free(in); free(out); free(ws);
    scalpel_net_free(&net);
    CHECK(net.n_layers == 0 && net.block == NULL, "%s: free zeroes", what);
}

static void test_shapes_and_errors(void)
{
    scalpel_net net;
    float w[64] = { 0 }, nanw[4];
    float x[5] = { 1, 5, 2, 5, 0 };
    int32_t i;
    CHECK(scalpel_net_init(0, 1, 1, &net) == SCALPEL_ERR_SHAPE, "zero channels");
    CHECK(scalpel_net_init(1, 1, 1, NULL) == SCALPEL_ERR_NULL, "NULL net");
    CHECK(scalpel_net_init(65536, 65536, 2, &net) == SCALPEL_ERR_OVERFLOW, "huge input");
    CHECK(scalpel_net_init(1, 4, 4, &net) == SCALPEL_OK, "init");
    CHECK(scalpel_net_add_conv2d(&net, 2, 5, 1, 0, w, NULL) == SCALPEL_ERR_SHAPE, "kernel larger than input");
    CHECK(scalpel_net_add_conv2d(&net, 2, 3, 1, 3, w, NULL) == SCALPEL_ERR_ARGUMENT, "pad >= kernel");
    CHECK(scalpel_net_add_conv2d(&net, 2, 3, 0, 0, w, NULL) == SCALPEL_ERR_ARGUMENT, "stride 0");
    CHECK(scalpel_net_add_maxpool(&net, 5, 1) == SCALPEL_ERR_SHAPE, "pool larger than input");
    CHECK(scalpel_net_add_maxpool(&net, 0, 1) == SCALPEL_ERR_ARGUMENT, "pool kernel 0");
    CHECK(scalpel_net_add_fc(&net, 0, w, NULL) == SCALPEL_ERR_SHAPE, "fc 0 outputs");
    CHECK(scalpel_net_add_fc(&net, 65536 * 2048, NULL, NULL) == SCALPEL_ERR_OVERFLOW, "fc too big");
    nanw[0] = 0; nanw[1] = (float)NAN; nanw[2] = 0; nanw[3] = 0;
    CHECK(scalpel_net_add_fc(&net, 1, NULL, NULL) == SCALPEL_OK, "fc 16 -> 1 with zero weights");
    CHECK(scalpel_net_add_fc(&net, 4, nanw, NULL) == SCALPEL_ERR_ARGUMENT, "NaN weight refused");
    CHECK(net.n_layers == 1, "failed adds leave the network unchanged (%d layers)", (int)net.n_layers);
    CHECK(scalpel_net_input_size(&net) == 16 && scalpel_net_output_size(&net) == 1, "sizes");
    CHECK(scalpel_net_weight_bytes(&net) == 17 * sizeof(float), "weight bytes");
    CHECK(scalpel_layer_macs(&net.layers[0]) == 16, "macs");
    CHECK(scalpel_net_workspace_size(&net, 0) == 0, "batch 0 workspace");
    CHECK(scalpel_net_forward(&net, x, 0, x, w) == SCALPEL_ERR_ARGUMENT, "batch 0 forward");
    CHECK(scalpel_net_forward(&net, NULL, 1, x, w) == SCALPEL_ERR_NULL, "NULL input");
    /* a hand-broken network is caught by validate */
    net.layers[0].geom.cols = 15;
    CHECK(scalpel_net_validate(&net) == SCALPEL_ERR_SHAPE, "validate catches a wrong shape");
    net.layers[0].geom.cols = 16;
    net.layers[0].storage = 7;
    CHECK(scalpel_net_validate(&net) != SCALPEL_OK, "validate catches a bad storage");
    net.layers[0].storage = SCALPEL_STORAGE_DENSE;
    CHECK(scalpel_net_validate(&net) == SCALPEL_OK, "validate");
    /* a network in memory grows as needed: far past the most a model file holds */
    for (i = 1; i < SCALPEL_NET_MAX_LAYERS + 50; i++) CHECK(scalpel_net_add_relu(&net) == SCALPEL_OK, "relu %d", (int)i);
    CHECK(net.n_layers == SCALPEL_NET_MAX_LAYERS + 50 && net.capacity >= net.n_layers && net.owns_layers, "grown");
    {
        size_t wsz = scalpel_net_workspace_size(&net, 2);
        float *xin = (float *)calloc((size_t)scalpel_net_input_size(&net) * 2, sizeof(float));
        float *yout = (float *)calloc((size_t)scalpel_net_output_size(&net) * 2, sizeof(float));
        void *ws = malloc(wsz ? wsz : 1);
        CHECK(wsz > 0 && xin && yout && ws && scalpel_net_forward(&net, xin, 2, yout, ws) == SCALPEL_OK,
              "long chain forward");
        free(xin); free(yout); free(ws);
    }
    scalpel_net_free(&net);
    {   /* without an allocator: your array, and a clear error when it is full */
        scalpel_layer room[3];
        CHECK(scalpel_net_init(1, 4, 4, &net) == SCALPEL_OK && scalpel_net_use_layers(&net, room, 3) == SCALPEL_OK,
              "use_layers");
        CHECK(scalpel_net_add_relu(&net) == SCALPEL_OK && scalpel_net_add_maxpool(&net, 2, 2) == SCALPEL_OK &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && net.layers == room, "appends into your array");
        CHECK(scalpel_net_add_relu(&net) == SCALPEL_ERR_NO_MEMORY && net.n_layers == 3, "a full array refuses");
        CHECK(scalpel_net_use_layers(&net, room, 2) == SCALPEL_ERR_ARGUMENT, "use_layers smaller than the network");
        scalpel_net_free(&net);
    }
    scalpel_net_free(&net);
    scalpel_net_free(NULL);
    CHECK(scalpel_argmax_f32(x, 5) == 1, "argmax takes the first of ties");
    CHECK(scalpel_argmax_f32(x, 0) == -1, "argmax of nothing");
    scalpel_softmax_f32(x, 5);
    {
        float s = 0;
        for (i = 0; i < 5; i++) s += x[i];
        CHECK(fabsf(s - 1.0f) < 1e-6f && x[1] == x[3] && x[1] > x[2], "softmax");
    }
    {
        float big[3] = { 1000.0f, 1000.0f, -1000.0f };
        scalpel_softmax_f32(big, 3);
        CHECK(fabsf(big[0] - 0.5f) < 1e-6f && big[2] == 0.0f, "softmax is stable for large inputs");
    }
    {
        /* softmax against libm's exp over the whole useful range, pairs (0, t) */
        float t, worst = 0.0f;
        for (t = -100.0f; t <= 0.0f; t += 0.013f) {
            float p[2];
            double e = exp((double)t), want = e / (1.0 + e), err;
            p[0] = 0.0f; p[1] = t;
            scalpel_softmax_f32(p, 2);
            err = fabs(p[1] - want) / (want > 1e-30 ? want : 1.0);
            if (want < 1e-37) err = fabs(p[1] - want) * 1e30;   /* flushed to 0 is fine */
            if (err > worst) worst = (float)err;
        }
        CHECK(worst < 2e-6f, "softmax vs exp: worst relative error %g", (double)worst);
    }
    CHECK(strcmp(scalpel_layer_kind_name(SCALPEL_LAYER_CONV2D), "conv2d") == 0 &&
          strcmp(scalpel_layer_kind_name(99), "?") == 0, "kind names");
}

int main(void)
{
    int g, b, iter;
    static const int groups[] = { 0, 1, 2, 4, 8, 16 };
    static const int batches[] = { 1, 3 };
    test_shapes_and_errors();
    for (iter = 0; iter < 2; iter++)
        for (g = 0; g < 6; g++)
            for (b = 0; b < 2; b++) {
                /* LeNet-300-100 shaped, scaled down */
                ref_layer mlp[5] = { { SCALPEL_LAYER_FC, 30, 0, 0, 0, 0, 0 }, { SCALPEL_LAYER_RELU, 0, 0, 0, 0, 0, 0 },
                                     { SCALPEL_LAYER_FC, 17, 0, 0, 0, 0, 0 }, { SCALPEL_LAYER_RELU, 0, 0, 0, 0, 0, 0 },
                                     { SCALPEL_LAYER_FC, 10, 0, 0, 0, 0, 0 } };
                /* LeNet-5 shaped, plus padding and stride */
                ref_layer cnn[8] = { { SCALPEL_LAYER_CONV2D, 6, 5, 1, 0, 0, 0 }, { SCALPEL_LAYER_MAXPOOL, 0, 2, 2, 0, 0, 0 },
                                     { SCALPEL_LAYER_CONV2D, 9, 3, 2, 1, 0, 0 }, { SCALPEL_LAYER_RELU, 0, 0, 0, 0, 0, 0 },
                                     { SCALPEL_LAYER_MAXPOOL, 0, 3, 1, 0, 0, 0 }, { SCALPEL_LAYER_FC, 21, 0, 0, 0, 0, 0 },
                                     { SCALPEL_LAYER_RELU, 0, 0, 0, 0, 0, 0 }, { SCALPEL_LAYER_FC, 10, 0, 0, 0, 0, 0 } };
                ref_layer one[1] = { { SCALPEL_LAYER_CONV2D, 5, 1, 1, 0, 0, 0 } };
                /* a ReLU fused into a convolution's bias pass over 49 positions: whole
                 * vectors of every width, then a tail */
                ref_layer cr[2] = { { SCALPEL_LAYER_CONV2D, 4, 3, 1, 0, 0, 0 }, { SCALPEL_LAYER_RELU, 0, 0, 0, 0, 0, 0 } };
                check_net(mlp, 5, 1, 7, 9, groups[g], batches[b], "mlp");
                check_net(cnn, 8, 2, 16, 15, groups[g], batches[b], "cnn");
                check_net(one, 1, 3, 4, 5, groups[g], batches[b], "1x1 conv");
                check_net(cr, 2, 2, 9, 9, groups[g], batches[b], "conv + relu");
                check_net(NULL, 0, 3, 2, 2, groups[g], batches[b], "no layers");
            }
    /* 2x2 / stride-2 pooling takes a row kernel (8 and 4 outputs per step, then one at a
     * time): every output width from 1 to 20, odd input widths and heights, inputs of both
     * signs; nothing written past the output (check_net's guard) */
    for (iter = 2; iter <= 41; iter++) {
        ref_layer pool[1] = { { SCALPEL_LAYER_MAXPOOL, 0, 2, 2, 0, 0, 0 } };
        check_net(pool, 1, 2, 2 + iter % 4, iter, 0, 1 + iter % 2, "maxpool 2x2/2");
    }
    return test_summary("test_net");
}
