/* reference_nets.h - builders for the reference networks, in one place: the four MLPerf Tiny
 * models, the Scalpel paper's ConvNet, NIN and AlexNet, and LeNet-5. Included by
 * examples/scalpel_cli.c (`scalpel demo --net NAME`) and bench/bench_models.c; needs scalpel.h
 * (with its implementation) first.
 *
 * Each builder follows the published definition layer for layer:
 *   ds-cnn       keyword spotting, mlcommons/tiny benchmark/training/keyword_spotting/
 *                keras_model.py (ds_cnn): input 1 x 49 x 10 (MFCC frames x coefficients),
 *                conv 64 10x4 stride 2 "same", 4 depthwise-separable blocks (depthwise 3x3 +
 *                pointwise 64), average pooling 24 x 5 (the model's int(49/2) x int(10/2), valid:
 *                it averages the first 24 of 25 rows), fc 12, softmax. BatchNorm + ReLU after
 *                every convolution.
 *   mobilenet-v1 visual wake words, vww_model.py: MobileNetV1 with alpha 0.25 on 3 x 96 x 96,
 *                conv 8 3x3 stride 2, 13 depthwise-separable blocks (8 -> 16 -> 32 ... 256,
 *                stride 2 at blocks 2, 4, 6, 12), global average pooling, fc 2, softmax;
 *                BatchNorm + ReLU after every convolution, TF "same" padding (the odd cell of
 *                every stride-2 layer at the bottom / right).
 *   resnet-8     image classification, resnet_v1_eembc: 3 x 32 x 32, conv 16, three residual
 *                stacks (16, 32, 64 filters; stride 2 with a 1x1 stride-2 shortcut in the last
 *                two), average pooling 8, fc 10, softmax.
 *   autoencoder  anomaly detection (ToyADMOS), keras_model.py: 640 -> 128 x4 -> 8 -> 128 x4 ->
 *                640, BatchNorm + ReLU after each hidden Dense.
 *   convnet      Caffe's cifar10_full (the paper's ConvNet): conv 32 5x5 pad 2, max pool 3/2,
 *                ReLU, LRN within channel (3, 5e-5, 0.75); conv 32, ReLU, avg pool 3/2, LRN;
 *                conv 64, ReLU, avg pool 3/2; fc 10. Caffe rounds pooling up (ceil).
 *   nin          Network in Network for CIFAR-10 (Caffe model zoo): three mlpconv blocks
 *                (conv 192 5x5 / 192 5x5 / 192 3x3, each with two 1x1 "cccp" layers and ReLUs;
 *                160, 96 / 192, 192 / 192, 10), max pool 3/2, avg pool 3/2, global avg pool 8.
 *   alexnet      Caffe's bvlc_alexnet on 3 x 227 x 227: conv 96 11x11/4, ReLU, LRN 5, max pool
 *                3/2; conv 256 5x5 pad 2 groups 2, ReLU, LRN, pool; conv 384 3x3; conv 384
 *                groups 2; conv 256 groups 2, pool; fc 4096, 4096, 1000 (ReLU between).
 *   lenet-5      Caffe's LeNet on 1 x 28 x 28: conv 20 5x5, max pool 2, conv 50 5x5, max pool
 *                2, fc 500, ReLU, fc 10.
 * Weights are random (He-uniform, a fixed seed per network and the caller's seed), BatchNorm
 * statistics random around 1 and 0, and every BatchNorm is folded into its convolution or fc
 * layer (scalpel_net_fold_batchnorm) as an imported model would be: timing and sizes do not
 * depend on the values. Dropout is the identity at inference and has no layer. */
#ifndef SCALPEL_REFERENCE_NETS_H
#define SCALPEL_REFERENCE_NETS_H

#include <stdlib.h>
#include <string.h>

/* The state of one network's build: the network, the random generator, the first error. */
typedef struct ref_builder {
    scalpel_net net;
    uint64_t rng;
    scalpel_status st;
} ref_builder;

static float ref_uniform(ref_builder *b) /* [-1, 1) */
{
    b->rng ^= b->rng >> 12;
    b->rng ^= b->rng << 25;
    b->rng ^= b->rng >> 27;
    return (float)((b->rng * 0x2545F4914F6CDD1Dull) >> 40) / 8388608.0f - 1.0f;
}

/* The channels of the tensor the next layer reads. */
static int32_t ref_channels(const ref_builder *b)
{
    int32_t t = b->net.n_layers - b->net.next_from;
    return t == 0 ? b->net.in_c : b->net.layers[t - 1].geom.out_c;
}

/* A batch norm with random statistics after the layer just added. */
static void ref_bn(ref_builder *b)
{
    int32_t c, C;
    float *p;
    if (b->st != SCALPEL_OK) return;
    C = ref_channels(b);
    p = (float *)malloc(4 * (size_t)C * sizeof(float));
    if (!p) { b->st = SCALPEL_ERR_NO_MEMORY; return; }
    for (c = 0; c < C; c++) {
        p[c] = 0.1f * ref_uniform(b);                  /* mean */
        p[C + c] = 1.0f + 0.25f * ref_uniform(b);      /* var */
        p[2 * C + c] = 1.0f + 0.2f * ref_uniform(b);   /* gamma */
        p[3 * C + c] = 0.1f * ref_uniform(b);          /* beta */
    }
    b->st = scalpel_net_add_batchnorm(&b->net, p, p + C, p + 2 * C, p + 3 * C, 1e-3f);
    free(p);
}

/* A convolution with He-uniform weights and small biases: kernel kh x kw, stride s (both
 * axes), padding (top, left, bottom, right), groups g. */
static void ref_conv(ref_builder *b, int32_t out, int32_t kh, int32_t kw, int32_t s, int32_t pt, int32_t pl,
                     int32_t pb, int32_t pr, int32_t g)
{
    scalpel_window win;
    int32_t in_c, cols, k;
    float *w, *bias, scale;
    if (b->st != SCALPEL_OK) return;
    in_c = ref_channels(b);
    cols = in_c / (g > 0 ? g : 1) * kh * kw;
    w = (float *)malloc((size_t)out * (size_t)cols * sizeof(float));
    bias = (float *)malloc((size_t)out * sizeof(float));
    if (!w || !bias) {
        free(w); free(bias);
        b->st = SCALPEL_ERR_NO_MEMORY;
        return;
    }
    scale = 2.449489743f / (float)sqrt((double)cols); /* sqrt(6 / fan_in) */
    for (k = 0; k < out * cols; k++) w[k] = scale * ref_uniform(b);
    for (k = 0; k < out; k++) bias[k] = 0.05f * ref_uniform(b);
    win = scalpel_window_square(1, 1, 0);
    win.kernel_h = kh; win.kernel_w = kw;
    win.stride_h = win.stride_w = s;
    win.pad_top = pt; win.pad_left = pl; win.pad_bottom = pb; win.pad_right = pr;
    win.groups = g;
    b->st = scalpel_net_add_conv2d_ex(&b->net, out, &win, w, bias);
    free(w);
    free(bias);
}

/* TF / Keras padding='same' for a k x k window at stride s on the current map: the total
 * padding max((ceil(n / s) - 1) * s + k - n, 0), its odd cell at the bottom / right. */
static void ref_same(const ref_builder *b, int32_t kh, int32_t kw, int32_t s, int32_t *pt, int32_t *pl, int32_t *pb,
                     int32_t *pr)
{
    int32_t t = b->net.n_layers - b->net.next_from, h, w, th, tw;
    h = t == 0 ? b->net.in_h : b->net.layers[t - 1].geom.out_h;
    w = t == 0 ? b->net.in_w : b->net.layers[t - 1].geom.out_w;
    th = ((h + s - 1) / s - 1) * s + kh - h;
    tw = ((w + s - 1) / s - 1) * s + kw - w;
    if (th < 0) th = 0;
    if (tw < 0) tw = 0;
    *pt = th / 2; *pb = th - th / 2;
    *pl = tw / 2; *pr = tw - tw / 2;
}

/* conv with TF "same" padding, then BatchNorm and ReLU */
static void ref_conv_same_bn_relu(ref_builder *b, int32_t out, int32_t kh, int32_t kw, int32_t s, int32_t g)
{
    int32_t pt, pl, pb, pr;
    ref_same(b, kh, kw, s, &pt, &pl, &pb, &pr);
    ref_conv(b, out, kh, kw, s, pt, pl, pb, pr, g);
    ref_bn(b);
    if (b->st == SCALPEL_OK) b->st = scalpel_net_add_relu(&b->net);
}

/* A depthwise-separable block: depthwise 3x3 at stride s, BN, ReLU, pointwise 1x1 to out, BN, ReLU. */
static void ref_ds_block(ref_builder *b, int32_t out, int32_t s)
{
    ref_conv_same_bn_relu(b, ref_channels(b), 3, 3, s, ref_channels(b));
    ref_conv_same_bn_relu(b, out, 1, 1, 1, 1);
}

static void ref_fc(ref_builder *b, int32_t out)
{
    int32_t t, in_n, k;
    float *w, *bias, scale;
    if (b->st != SCALPEL_OK) return;
    t = b->net.n_layers - b->net.next_from;
    in_n = t == 0 ? b->net.in_c * b->net.in_h * b->net.in_w
                  : b->net.layers[t - 1].geom.out_c * b->net.layers[t - 1].geom.out_h * b->net.layers[t - 1].geom.out_w;
    w = (float *)malloc((size_t)out * (size_t)in_n * sizeof(float));
    bias = (float *)malloc((size_t)out * sizeof(float));
    if (!w || !bias) {
        free(w); free(bias);
        b->st = SCALPEL_ERR_NO_MEMORY;
        return;
    }
    scale = 2.449489743f / (float)sqrt((double)in_n);
    for (k = 0; k < out * in_n; k++) w[k] = scale * ref_uniform(b);
    for (k = 0; k < out; k++) bias[k] = 0.05f * ref_uniform(b);
    b->st = scalpel_net_add_fc(&b->net, out, w, bias);
    free(w);
    free(bias);
}

static void ref_relu(ref_builder *b) { if (b->st == SCALPEL_OK) b->st = scalpel_net_add_relu(&b->net); }
static void ref_softmax(ref_builder *b) { if (b->st == SCALPEL_OK) b->st = scalpel_net_add_softmax(&b->net); }

/* a pooling window k x k at stride s, no padding; Caffe's ceil rounding when `ceil_mode` */
static void ref_pool(ref_builder *b, int avg, int32_t kh, int32_t kw, int32_t s, int ceil_mode)
{
    scalpel_window win = scalpel_window_square(1, 1, 0);
    if (b->st != SCALPEL_OK) return;
    win.kernel_h = kh; win.kernel_w = kw;
    win.stride_h = win.stride_w = s;
    if (s == 0) { win.stride_h = kh; win.stride_w = kw; }
    win.mode = ceil_mode ? SCALPEL_POOL_CEIL : 0;
    b->st = avg ? scalpel_net_add_avgpool(&b->net, &win) : scalpel_net_add_maxpool_ex(&b->net, &win);
}

static void ref_lrn(ref_builder *b, int32_t size, float alpha, float beta, int32_t mode)
{
    if (b->st == SCALPEL_OK) b->st = scalpel_net_add_lrn(&b->net, size, alpha, beta, 1.0f, mode);
}

/* ---- the networks ------------------------------------------------------------------------- */

static void ref_build_ds_cnn(ref_builder *b)
{
    int i;
    ref_conv_same_bn_relu(b, 64, 10, 4, 2, 1);
    for (i = 0; i < 4; i++) ref_ds_block(b, 64, 1);
    ref_pool(b, 1, 24, 5, 0, 0);
    ref_fc(b, 12);
    ref_softmax(b);
}

static void ref_build_mobilenet_v1(ref_builder *b)
{
    static const int32_t out[13] = { 16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256 };
    static const int32_t stride[13] = { 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1 };
    int i;
    ref_conv_same_bn_relu(b, 8, 3, 3, 2, 1);
    for (i = 0; i < 13; i++) ref_ds_block(b, out[i], stride[i]);
    if (b->st == SCALPEL_OK) b->st = scalpel_net_add_global_avgpool(&b->net);
    ref_fc(b, 2);
    ref_softmax(b);
}

/* one residual stack of resnet_v1_eembc: two 3x3 convs (the first at stride s), the
 * shortcut the identity (s = 1) or a 1x1 stride-s conv, add, ReLU */
static void ref_res_stack(ref_builder *b, int32_t filters, int32_t s)
{
    int32_t x = b->net.n_layers - 1, y, pt, pl, pb, pr;
    ref_conv_same_bn_relu(b, filters, 3, 3, s, 1);
    ref_same(b, 3, 3, 1, &pt, &pl, &pb, &pr);
    ref_conv(b, filters, 3, 3, 1, pt, pl, pb, pr, 1);
    ref_bn(b);
    y = b->net.n_layers - 1;
    if (s != 1 && b->st == SCALPEL_OK) { /* the shortcut reads x */
        b->st = scalpel_net_set_next_input(&b->net, x);
        ref_same(b, 1, 1, s, &pt, &pl, &pb, &pr);
        ref_conv(b, filters, 1, 1, s, pt, pl, pb, pr, 1);
        x = b->net.n_layers - 1;
    }
    if (b->st == SCALPEL_OK) b->st = scalpel_net_add_add(&b->net, s != 1 ? y : x);
    ref_relu(b);
}

static void ref_build_resnet8(ref_builder *b)
{
    ref_conv_same_bn_relu(b, 16, 3, 3, 1, 1);
    ref_res_stack(b, 16, 1);
    ref_res_stack(b, 32, 2);
    ref_res_stack(b, 64, 2);
    ref_pool(b, 1, 8, 8, 0, 0);
    ref_fc(b, 10);
    ref_softmax(b);
}

static void ref_build_autoencoder(ref_builder *b)
{
    static const int32_t sizes[9] = { 128, 128, 128, 128, 8, 128, 128, 128, 128 };
    int i;
    for (i = 0; i < 9; i++) {
        ref_fc(b, sizes[i]);
        ref_bn(b);
        ref_relu(b);
    }
    ref_fc(b, 640);
}

static void ref_build_convnet(ref_builder *b)
{
    ref_conv(b, 32, 5, 5, 1, 2, 2, 2, 2, 1);
    ref_pool(b, 0, 3, 3, 2, 1);
    ref_relu(b);
    ref_lrn(b, 3, 5e-5f, 0.75f, SCALPEL_LRN_WITHIN_CHANNEL);
    ref_conv(b, 32, 5, 5, 1, 2, 2, 2, 2, 1);
    ref_relu(b);
    ref_pool(b, 1, 3, 3, 2, 1);
    ref_lrn(b, 3, 5e-5f, 0.75f, SCALPEL_LRN_WITHIN_CHANNEL);
    ref_conv(b, 64, 5, 5, 1, 2, 2, 2, 2, 1);
    ref_relu(b);
    ref_pool(b, 1, 3, 3, 2, 1);
    ref_fc(b, 10);
}

static void ref_build_nin(ref_builder *b)
{
    ref_conv(b, 192, 5, 5, 1, 2, 2, 2, 2, 1); ref_relu(b);
    ref_conv(b, 160, 1, 1, 1, 0, 0, 0, 0, 1); ref_relu(b);
    ref_conv(b, 96, 1, 1, 1, 0, 0, 0, 0, 1);  ref_relu(b);
    ref_pool(b, 0, 3, 3, 2, 1);
    ref_conv(b, 192, 5, 5, 1, 2, 2, 2, 2, 1); ref_relu(b);
    ref_conv(b, 192, 1, 1, 1, 0, 0, 0, 0, 1); ref_relu(b);
    ref_conv(b, 192, 1, 1, 1, 0, 0, 0, 0, 1); ref_relu(b);
    ref_pool(b, 1, 3, 3, 2, 1);
    ref_conv(b, 192, 3, 3, 1, 1, 1, 1, 1, 1); ref_relu(b);
    ref_conv(b, 192, 1, 1, 1, 0, 0, 0, 0, 1); ref_relu(b);
    ref_conv(b, 10, 1, 1, 1, 0, 0, 0, 0, 1);  ref_relu(b);
    ref_pool(b, 1, 8, 8, 1, 1);
}

static void ref_build_alexnet(ref_builder *b)
{
    ref_conv(b, 96, 11, 11, 4, 0, 0, 0, 0, 1); ref_relu(b);
    ref_lrn(b, 5, 1e-4f, 0.75f, 0);
    ref_pool(b, 0, 3, 3, 2, 1);
    ref_conv(b, 256, 5, 5, 1, 2, 2, 2, 2, 2); ref_relu(b);
    ref_lrn(b, 5, 1e-4f, 0.75f, 0);
    ref_pool(b, 0, 3, 3, 2, 1);
    ref_conv(b, 384, 3, 3, 1, 1, 1, 1, 1, 1); ref_relu(b);
    ref_conv(b, 384, 3, 3, 1, 1, 1, 1, 1, 2); ref_relu(b);
    ref_conv(b, 256, 3, 3, 1, 1, 1, 1, 1, 2); ref_relu(b);
    ref_pool(b, 0, 3, 3, 2, 1);
    ref_fc(b, 4096); ref_relu(b);
    ref_fc(b, 4096); ref_relu(b);
    ref_fc(b, 1000);
}

static void ref_build_lenet5(ref_builder *b)
{
    ref_conv(b, 20, 5, 5, 1, 0, 0, 0, 0, 1);
    ref_pool(b, 0, 2, 2, 2, 0);
    ref_conv(b, 50, 5, 5, 1, 0, 0, 0, 0, 1);
    ref_pool(b, 0, 2, 2, 2, 0);
    ref_fc(b, 500);
    ref_relu(b);
    ref_fc(b, 10);
}

/* The table: name, input shape, builder, one line for listings. */
typedef struct ref_net_desc {
    const char *name;
    int32_t c, h, w;
    void (*build)(ref_builder *b);
    const char *what;
} ref_net_desc;

static const ref_net_desc ref_nets[] = {
    { "ds-cnn", 1, 49, 10, ref_build_ds_cnn, "MLPerf Tiny keyword spotting (DS-CNN, 12 classes)" },
    { "mobilenet-v1", 3, 96, 96, ref_build_mobilenet_v1, "MLPerf Tiny visual wake words (MobileNetV1 0.25, 2 classes)" },
    { "resnet-8", 3, 32, 32, ref_build_resnet8, "MLPerf Tiny image classification (ResNet-8, CIFAR-10)" },
    { "autoencoder", 640, 1, 1, ref_build_autoencoder, "MLPerf Tiny anomaly detection (FC autoencoder, 640 in/out)" },
    { "convnet", 3, 32, 32, ref_build_convnet, "the paper's ConvNet (Caffe cifar10_full)" },
    { "nin", 3, 32, 32, ref_build_nin, "the paper's NIN (Network in Network, CIFAR-10)" },
    { "alexnet", 3, 227, 227, ref_build_alexnet, "the paper's AlexNet (Caffe bvlc_alexnet, grouped convs, LRN)" },
    { "lenet-5", 1, 28, 28, ref_build_lenet5, "LeNet-5 (Caffe)" }
};
#define REF_NET_COUNT ((int)(sizeof(ref_nets) / sizeof(ref_nets[0])))

/* The description of network `name`, or NULL. */
static const ref_net_desc *ref_net_find(const char *name)
{
    int i;
    for (i = 0; i < REF_NET_COUNT; i++)
        if (strcmp(ref_nets[i].name, name) == 0) return &ref_nets[i];
    return NULL;
}

/* Builds network d with random weights from `seed` into *out (BatchNorms folded). */
static scalpel_status ref_net_build(const ref_net_desc *d, uint64_t seed, scalpel_net *out)
{
    ref_builder b;
    int32_t folded = 0;
    memset(out, 0, sizeof(*out));
    b.rng = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    if (b.rng == 0) b.rng = 1;
    b.st = scalpel_net_init(d->c, d->h, d->w, &b.net);
    if (b.st == SCALPEL_OK) d->build(&b);
    if (b.st == SCALPEL_OK) b.st = scalpel_net_fold_batchnorm(&b.net, out, &folded);
    scalpel_net_free(&b.net);
    return b.st;
}

#endif /* SCALPEL_REFERENCE_NETS_H */
