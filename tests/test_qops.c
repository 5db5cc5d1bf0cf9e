/* test_qops.c - fixed point (scalpel.h >>quantization) over every layer kind it takes, beyond
 * the LeNet shapes of test_qnet.c: any conv2d window (rectangular kernel, strides, per-side
 * padding, dilation), grouped convolutions in grouped CSR, depthwise convolutions (depth
 * multiplier 1 and 2), 1x1 convolutions, max / average / global average pooling with padding,
 * ceil rounding and count_include_pad, batch norms folded and left as layers, a residual add
 * with a fused ReLU, a concat of two branches of different scales, clip (relu6), leaky ReLU
 * (positive and negative slope), hardswish, sigmoid, tanh and a final fc.
 *
 * For q15 and q7, per layer and per channel, each network is quantized and checked:
 *   - scalpel_qnet_validate passes, and the structure is what the quantizer documents (batch
 *     norms folded, ReLUs fused, the concat's and the pools' scales);
 *   - float outputs against scalpel_qnet_forward_f32 on calibration inputs, within a bound
 *     relative to the output range (the measured errors are printed), and the argmax
 *     agreement on random inputs (printed);
 *   - batch 1 and batch B integer outputs identical, and the integer outputs equal bit for bit
 *     to an oracle written here from the documented integer semantics of each kind (it calls
 *     no library kernel), on calibration inputs and on random integers over the whole range;
 * then hostile copies of a quantized network (one constant broken) that validate must refuse,
 * the refusal of softmax and LRN, and the C export (not with -DTEST_NO_FILES).
 *
 *   gcc -std=c99 -O2 -march=native -I. tests/test_qops.c -o test_qops -lm && ./test_qops OUTDIR
 * On Cortex-M (tests/cortex-m/run.sh m4 x.elf tests/test_qops.c -DTEST_SMALL_MEMORY
 * -DTEST_NO_FILES): smaller inputs (3 x 8 x 8), fewer calibration and random samples, no
 * export. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TEST_NO_FILES
/* where the export test writes (argv[1]; steps run side by side each get their own) */
static const char *out_dir = "build/test";
#endif

#ifdef TEST_SMALL_MEMORY
#define IMG 8        /* input height and width */
#define N_CALIB 16   /* calibration samples */
#define N_RANDOM 20  /* random inputs for the argmax agreement */
#else
#define IMG 12
#define N_CALIB 64
#define N_RANDOM 100
#endif
#define IN_C 3
#define BATCH 4      /* the batch compared with batch 1 */
#define MAX_TENSORS 40

/* ---- building the float networks ---------------------------------------------------------- */

static float *random_array(size_t n, float scale)
{
    float *v = (float *)malloc((n ? n : 1) * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) v[i] = test_uniform() * scale;
    return v;
}

/* Shape of the tensor the next appended layer reads (net->next_from tensors back). */
static void next_shape(const scalpel_net *net, int32_t *c, int32_t *h, int32_t *w)
{
    int32_t t = net->n_layers - net->next_from;
    if (t <= 0) { *c = net->in_c; *h = net->in_h; *w = net->in_w; return; }
    *c = net->layers[t - 1].geom.out_c;
    *h = net->layers[t - 1].geom.out_h;
    *w = net->layers[t - 1].geom.out_w;
}

/* A factor on the next convolution's weights: > 1 drives the activation after it into its
 * nonlinear ends (hardswish past +-3, tanh past its knee). set_gain returns 1 for && chains. */
static float conv_gain = 1.0f;
static int set_gain(float g)
{
    conv_gain = g;
    return 1;
}

/* Random weights w[rows x cols] with aligned groups of `group` (0: none) zeroed at rate prune. */
static float *conv_weights(int32_t rows, int32_t cols, int32_t group, float prune)
{
    float *w = random_array((size_t)rows * (size_t)cols, conv_gain * 1.7f / sqrtf((float)cols));
    int32_t r, c, j;
    if (group)
        for (r = 0; r < rows; r++)
            for (c = 0; c < cols; c += group)
                if ((float)(test_rand() % 1000u) < prune * 1000.0f)
                    for (j = c; j < c + group && j < cols; j++) w[(size_t)r * (size_t)cols + (size_t)j] = 0.0f;
    return w;
}

/* Appends conv2d_ex with window win and random weights (groups of `group` pruned at `prune`). */
static int add_conv(scalpel_net *net, int32_t out_c, const scalpel_window *win, int32_t group, float prune)
{
    int32_t c, h, w, cols;
    float *wt, *b;
    int ok;
    next_shape(net, &c, &h, &w);
    cols = c / win->groups * win->kernel_h * win->kernel_w;
    wt = conv_weights(out_c, cols, group, prune);
    b = random_array((size_t)out_c, 0.2f);
    ok = scalpel_net_add_conv2d_ex(net, out_c, win, wt, b) == SCALPEL_OK;
    free(wt);
    free(b);
    return ok;
}

static int add_conv_sq(scalpel_net *net, int32_t out_c, int32_t k, int32_t stride, int32_t pad)
{
    scalpel_window win = scalpel_window_square(k, stride, pad);
    return add_conv(net, out_c, &win, 0, 0.0f);
}

/* A square convolution stored as grouped CSR from the start (scalpel_gcsr_from_dense, G). */
static int add_conv_gcsr(scalpel_net *net, int32_t out_c, int32_t k, int32_t pad, int32_t G, float prune)
{
    int32_t c, h, w, cols;
    float *wt, *b;
    scalpel_gcsr m;
    int ok;
    next_shape(net, &c, &h, &w);
    cols = c * k * k;
    wt = conv_weights(out_c, cols, G, prune);
    b = random_array((size_t)out_c, 0.2f);
    ok = scalpel_gcsr_from_dense(wt, out_c, cols, G, &m) == SCALPEL_OK &&
         scalpel_net_add_conv2d_gcsr(net, out_c, k, 1, pad, &m, b) == SCALPEL_OK;
    scalpel_gcsr_free(&m);
    free(wt);
    free(b);
    return ok;
}

static int add_fc(scalpel_net *net, int32_t outputs)
{
    int32_t c, h, w;
    float *wt, *b;
    int ok;
    next_shape(net, &c, &h, &w);
    wt = random_array((size_t)outputs * (size_t)(c * h * w), 1.7f / sqrtf((float)(c * h * w)));
    b = random_array((size_t)outputs, 0.2f);
    ok = scalpel_net_add_fc(net, outputs, wt, b) == SCALPEL_OK;
    free(wt);
    free(b);
    return ok;
}

static int add_bn(scalpel_net *net)
{
    int32_t c, h, w, i;
    float mean[64], var[64], gamma[64], beta[64];
    next_shape(net, &c, &h, &w);
    for (i = 0; i < c; i++) {
        mean[i] = test_uniform() * 0.3f;
        var[i] = 0.5f + 0.5f * (test_uniform() + 1.0f);
        gamma[i] = 0.7f + 0.3f * test_uniform();
        beta[i] = test_uniform() * 0.3f;
    }
    return scalpel_net_add_batchnorm(net, mean, var, gamma, beta, 1e-5f) == SCALPEL_OK;
}

/* Converts layer `layer` of net to grouped CSR with G (scalpel_net_pack with a plan that keeps
 * every other layer's storage): how a grouped convolution gets grouped-CSR weights. */
static int to_gcsr(scalpel_net *net, int32_t layer, int32_t G)
{
    scalpel_plan *plan = (scalpel_plan *)malloc(sizeof(scalpel_plan));
    int32_t i;
    int ok;
    if (!plan) return 0;
    memset(plan, 0, sizeof(*plan));
    plan->mode = SCALPEL_PLAN_SCALPEL;
    plan->n_layers = net->n_layers;
    ok = scalpel_hw_profile_get("cortex-m4", &plan->hw) == SCALPEL_OK;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        int weighted = L->geom.kind == SCALPEL_LAYER_FC || L->geom.kind == SCALPEL_LAYER_CONV2D;
        plan->layers[i].storage = weighted && L->storage == SCALPEL_STORAGE_GCSR ? SCALPEL_STORAGE_GCSR : SCALPEL_STORAGE_DENSE;
        plan->layers[i].group = plan->layers[i].storage == SCALPEL_STORAGE_GCSR ? L->sparse.group : 0;
    }
    plan->layers[layer].storage = SCALPEL_STORAGE_GCSR;
    plan->layers[layer].group = G;
    ok = ok && scalpel_net_pack(net, plan) == SCALPEL_OK && net->layers[layer].storage == SCALPEL_STORAGE_GCSR &&
         net->layers[layer].sparse.group == G;
    free(plan);
    return ok;
}

/* Network "windows": 3 x IMG x IMG
 *   0 conv2d 6, 3x5 kernel, stride (2, 1), pads (top 1, left 2, bottom 0, right 1), dilation (1, 2)
 *   1 relu (fused)
 *   2 conv2d 6, 3x3 pad 1, groups 2, grouped CSR G = 2 with pruned groups
 *   3 clip(0, 6)
 *   4 depthwise 3x3 pad 1, depth multiplier 2 (12 channels)
 *   5 leaky_relu 0.1
 *   6 depthwise 3x3 stride 2 pad 1, multiplier 1
 *   7 conv2d 8 1x1 (weights x 4: hardswish past -3 and 3)
 *   8 hardswish
 *   9 fc 10 */
static int build_windows(scalpel_net *net)
{
    scalpel_window w0 = scalpel_window_square(3, 1, 0), g2 = scalpel_window_square(3, 1, 1), dw = g2, dw2 = g2;
    w0.kernel_w = 5;
    w0.stride_h = 2; w0.stride_w = 1;
    w0.pad_top = 1; w0.pad_left = 2; w0.pad_bottom = 0; w0.pad_right = 1;
    w0.dilation_h = 1; w0.dilation_w = 2;
    g2.groups = 2;
    dw.groups = 6;
    dw2.groups = 12;
    dw2.stride_h = dw2.stride_w = 2;
    return scalpel_net_init(IN_C, IMG, IMG, net) == SCALPEL_OK && add_conv(net, 6, &w0, 0, 0.0f) &&
           scalpel_net_add_relu(net) == SCALPEL_OK && add_conv(net, 6, &g2, 2, 0.4f) && to_gcsr(net, 2, 2) &&
           scalpel_net_add_relu6(net) == SCALPEL_OK && add_conv(net, 12, &dw, 0, 0.0f) &&
           scalpel_net_add_leaky_relu(net, 0.1f) == SCALPEL_OK && add_conv(net, 12, &dw2, 0, 0.0f) &&
           set_gain(4.0f) && add_conv_sq(net, 8, 1, 1, 0) && set_gain(1.0f) && scalpel_net_add_hardswish(net) == SCALPEL_OK &&
           add_fc(net, 10);
}

/* Network "pools": 3 x IMG x IMG
 *   0 batchnorm (reads the network input: cannot be folded, stays a layer)
 *   1 conv2d 6 3x3 pad 1, grouped CSR G = 4 (scalpel_gcsr_from_dense), pruned groups
 *   2 batchnorm (folded into 1)
 *   3 relu (fused)
 *   4 maxpool 3x3 stride 2 pad 1, ceil
 *   5 avgpool 2x2 stride 2 pad 1, ceil (divides by the cells inside the input)
 *   6 conv2d 8 1x1 (weights x 5: tanh saturating)
 *   7 tanh
 *   8 avgpool 3x3 stride 2 pad 1, count_include_pad, ceil
 *   9 leaky_relu -0.5
 *  10 global average pooling
 *  11 sigmoid
 *  12 fc 6 */
static int build_pools(scalpel_net *net)
{
    scalpel_window mp = scalpel_window_square(3, 2, 1), ap = scalpel_window_square(2, 2, 1), ap2 = scalpel_window_square(3, 2, 1);
    mp.mode = SCALPEL_POOL_CEIL;
    ap.mode = SCALPEL_POOL_CEIL;
    ap2.mode = SCALPEL_POOL_CEIL | SCALPEL_POOL_COUNT_PADS;
    return scalpel_net_init(IN_C, IMG, IMG, net) == SCALPEL_OK && add_bn(net) && add_conv_gcsr(net, 6, 3, 1, 4, 0.3f) &&
           add_bn(net) && scalpel_net_add_relu(net) == SCALPEL_OK && scalpel_net_add_maxpool_ex(net, &mp) == SCALPEL_OK &&
           scalpel_net_add_avgpool(net, &ap) == SCALPEL_OK && set_gain(5.0f) && add_conv_sq(net, 8, 1, 1, 0) &&
           set_gain(1.0f) && scalpel_net_add_tanh(net) == SCALPEL_OK && scalpel_net_add_avgpool(net, &ap2) == SCALPEL_OK &&
           scalpel_net_add_leaky_relu(net, -0.5f) == SCALPEL_OK && scalpel_net_add_global_avgpool(net) == SCALPEL_OK &&
           scalpel_net_add_sigmoid(net) == SCALPEL_OK && add_fc(net, 6);
}

/* Network "graph", every kind fixed point takes: 3 x (IMG - 2) x (IMG - 2)
 *   0 batchnorm (network input: stays)
 *   1 conv2d 6 3x3 pad 1          2 relu (output read again by 7)
 *   3 conv2d 6 3x3 pad 1          4 batchnorm (folded)          5 clip(0, 6)
 *   6 conv2d 6 3x3 pad 1          7 add (6's output + 2's)      8 relu (fused into the add)
 *   9 maxpool 2x2 stride 2
 *  10 conv2d 4 1x1                11 tanh (scale 2^-15 / 2^-7)
 *  12 conv2d 4 3x3 pad 1 reading 9's output (weights x 4)      13 leaky_relu 0.1
 *  14 concat (13's output, then 11's: two scales)              15 hardswish
 *  16 avgpool 3x3 stride 1 pad 1  17 sigmoid                   18 fc 6 */
static int build_graph(scalpel_net *net)
{
    scalpel_window ap = scalpel_window_square(3, 1, 1);
    return scalpel_net_init(IN_C, IMG - 2, IMG - 2, net) == SCALPEL_OK && add_bn(net) && add_conv_sq(net, 6, 3, 1, 1) &&
           scalpel_net_add_relu(net) == SCALPEL_OK && add_conv_sq(net, 6, 3, 1, 1) && add_bn(net) &&
           scalpel_net_add_relu6(net) == SCALPEL_OK && add_conv_sq(net, 6, 3, 1, 1) &&
           scalpel_net_add_add(net, 2) == SCALPEL_OK && scalpel_net_add_relu(net) == SCALPEL_OK &&
           scalpel_net_add_maxpool(net, 2, 2) == SCALPEL_OK && add_conv_sq(net, 4, 1, 1, 0) &&
           scalpel_net_add_tanh(net) == SCALPEL_OK && scalpel_net_set_next_input(net, 9) == SCALPEL_OK &&
           set_gain(4.0f) && add_conv_sq(net, 4, 3, 1, 1) && set_gain(1.0f) &&
           scalpel_net_add_leaky_relu(net, 0.1f) == SCALPEL_OK &&
           scalpel_net_add_concat(net, 11) == SCALPEL_OK && scalpel_net_add_hardswish(net) == SCALPEL_OK &&
           scalpel_net_add_avgpool(net, &ap) == SCALPEL_OK && scalpel_net_add_sigmoid(net) == SCALPEL_OK &&
           add_fc(net, 6);
}

/* ---- the oracle: an integer forward pass written from the documented semantics only ------- */

static int32_t q_get(int32_t dtype, const void *p, size_t i)
{
    return dtype == SCALPEL_DTYPE_Q15 ? ((const int16_t *)p)[i] : ((const int8_t *)p)[i];
}

/* floor(v / 2^s) */
static int64_t floor_div_pow2(int64_t v, int s)
{
    int64_t d = (int64_t)1 << s, r = v / d;
    if (v % d != 0 && v < 0) r--;
    return r;
}

/* rshift(v, s) = floor((v + 2^(s-1)) / 2^s), v for s = 0 */
static int64_t rshift(int64_t v, int s)
{
    return s == 0 ? v : floor_div_pow2(v + ((int64_t)1 << (s - 1)), s);
}

static int32_t sat(int64_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : (int32_t)v; }

/* the weighted layers' requant of row r: bias, multiplier and shift, fused ReLU */
static int32_t requant_row(const scalpel_requant *rq, int32_t r, int64_t acc, int32_t qmax)
{
    int32_t k = rq->per_channel ? r : 0;
    int64_t v = acc + (rq->bias ? rq->bias[r] : 0);
    return sat(rshift(v * rq->mult[k], rq->shift[k]), rq->relu ? 0 : -qmax - 1, qmax);
}

/* sigmoid and tanh tables, 513 entries over [0, 16] step 1/32 in Q15, computed here */
static int32_t tab_sig[513], tab_tanh[513];
static void make_tables(void)
{
    int32_t k;
    for (k = 0; k <= 512; k++) {
        double x = k / 32.0;
        tab_sig[k] = (int32_t)floor(32768.0 / (1.0 + exp(-x)) + 0.5);
        tab_tanh[k] = (int32_t)floor(32768.0 * tanh(x) + 0.5);
    }
}
/* f(a), a in [0, 32768] Q4.11: linear between entries a / 64 and a / 64 + 1, rounding half up */
static int64_t tab_at(const int32_t *t, int64_t a)
{
    int64_t k = a / 64, fr = a % 64;
    if (k >= 512) return t[512];
    return t[k] + floor_div_pow2((int64_t)(t[k + 1] - t[k]) * fr + 32, 6);
}

/* The dense integer weights of a weighted layer (decoding grouped CSR here). */
static int32_t *oracle_weights(const scalpel_qnet *q, const scalpel_qlayer *L)
{
    int32_t rows = L->geom.rows, cols = L->geom.cols, r, k, j;
    int32_t *w = (int32_t *)calloc((size_t)rows * (size_t)cols, sizeof(int32_t));
    if (!w) return NULL;
    if (L->storage == SCALPEL_STORAGE_DENSE) {
        for (k = 0; k < rows * cols; k++) w[k] = q_get(q->dtype, L->w, (size_t)k);
        return w;
    }
    for (r = 0; r < rows; r++)
        for (k = L->sparse.row_ptr[r]; k < L->sparse.row_ptr[r + 1]; k++) {
            int32_t G = L->sparse.group;
            int32_t c0 = L->sparse.index_bits == 16 ? (int32_t)((const uint16_t *)L->sparse.col_idx)[k]
                                                    : (int32_t)((const uint32_t *)L->sparse.col_idx)[k];
            for (j = 0; j < G; j++) {
                int32_t v = q_get(q->dtype, L->sparse.values, (size_t)k * (size_t)G + (size_t)j);
                if (c0 + j < cols) w[(size_t)r * (size_t)cols + (size_t)(c0 + j)] = v;
                else if (v != 0) { free(w); return NULL; } /* a tail value past cols must be 0 */
            }
        }
    return w;
}

/* out = layer L of q applied to one sample: in (and in2 for add and concat), int32 values */
static int oracle_layer(const scalpel_qnet *q, const scalpel_qlayer *L, const int32_t *in, const int32_t *in2,
                        int32_t *out)
{
    const scalpel_layer_geom *g = &L->geom;
    const scalpel_requant *rq = &L->rq;
    int32_t qmax = q->dtype == SCALPEL_DTYPE_Q15 ? 32767 : 127, qmin = -qmax - 1;
    int32_t kh = g->kernel_h ? g->kernel_h : g->kernel, kw = g->kernel_w ? g->kernel_w : g->kernel;
    int32_t sh = g->stride_h ? g->stride_h : g->stride, sw = g->stride_w ? g->stride_w : g->stride;
    int32_t dh = g->dilation_h ? g->dilation_h : 1, dw = g->dilation_w ? g->dilation_w : 1;
    int32_t pt = g->pad_top, pl = g->pad_left, H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    int32_t n_in = g->in_c * H * W, n_out = g->out_c * OH * OW, o, c, oy, ox, i, j, k;
    switch (g->kind) {
    case SCALPEL_LAYER_FC:
    case SCALPEL_LAYER_CONV2D: {
        int32_t *w = oracle_weights(q, L);
        if (!w) return 0;
        if (g->kind == SCALPEL_LAYER_FC) {
            for (o = 0; o < g->rows; o++) {
                int64_t acc = 0;
                for (c = 0; c < g->cols; c++) acc += (int64_t)w[(size_t)o * (size_t)g->cols + (size_t)c] * in[c];
                out[o] = requant_row(rq, o, acc, qmax);
            }
        } else {
            int32_t groups = g->groups ? g->groups : 1, cg = g->in_c / groups, og = g->out_c / groups;
            for (o = 0; o < g->out_c; o++)
                for (oy = 0; oy < OH; oy++)
                    for (ox = 0; ox < OW; ox++) {
                        int64_t acc = 0;
                        int32_t c0 = (o / og) * cg;
                        for (c = 0; c < cg; c++)
                            for (i = 0; i < kh; i++)
                                for (j = 0; j < kw; j++) {
                                    int32_t y = oy * sh + i * dh - pt, x = ox * sw + j * dw - pl;
                                    if (y < 0 || x < 0 || y >= H || x >= W) continue;
                                    acc += (int64_t)w[(size_t)o * (size_t)g->cols + (size_t)((c * kh + i) * kw + j)] *
                                           in[((c0 + c) * H + y) * W + x];
                                }
                        out[(o * OH + oy) * OW + ox] = requant_row(rq, o, acc, qmax);
                    }
        }
        free(w);
        return 1;
    }
    case SCALPEL_LAYER_MAXPOOL:
    case SCALPEL_LAYER_AVGPOOL:
        for (c = 0; c < g->in_c; c++)
            for (oy = 0; oy < OH; oy++)
                for (ox = 0; ox < OW; ox++) {
                    int64_t sum = 0, n = 0, npad = 0, m = 0;
                    int have = 0;
                    for (i = 0; i < kh; i++)
                        for (j = 0; j < kw; j++) {
                            int32_t y = oy * sh + i - pt, x = ox * sw + j - pl, v;
                            if (y < H + g->pad_bottom && x < W + g->pad_right) npad++;
                            if (y < 0 || x < 0 || y >= H || x >= W) continue;
                            v = in[(c * H + y) * W + x];
                            sum += v;
                            n++;
                            if (!have || v > m) m = v;
                            have = 1;
                        }
                    if (!have) return 0; /* every window must hold a cell of the input */
                    if (g->kind == SCALPEL_LAYER_AVGPOOL) {
                        int64_t d = (g->mode & SCALPEL_POOL_COUNT_PADS) ? npad : n, a = sum < 0 ? -sum : sum;
                        m = (2 * a + d) / (2 * d); /* half away from zero */
                        if (sum < 0) m = -m;
                    }
                    out[(c * OH + oy) * OW + ox] = (int32_t)m;
                }
        return 1;
    case SCALPEL_LAYER_RELU:
        for (k = 0; k < n_in; k++) out[k] = in[k] > 0 ? in[k] : 0;
        return 1;
    case SCALPEL_LAYER_BATCHNORM:
        for (k = 0; k < n_in; k++) {
            c = k / (H * W);
            out[k] = requant_row(rq, c, (int64_t)q_get(q->dtype, L->w, (size_t)c) * in[k], qmax);
        }
        return 1;
    case SCALPEL_LAYER_ADD:
        for (k = 0; k < n_in; k++)
            out[k] = sat(rshift((int64_t)in[k] * rq->mult[0] + (int64_t)in2[k] * rq->mult[1], rq->shift[0]),
                         rq->relu ? 0 : qmin, qmax);
        return 1;
    case SCALPEL_LAYER_CONCAT:
        for (k = 0; k < n_in; k++) out[k] = sat(rshift((int64_t)in[k] * rq->mult[0], rq->shift[0]), qmin, qmax);
        for (k = n_in; k < n_out; k++)
            out[k] = sat(rshift((int64_t)in2[k - n_in] * rq->mult[1], rq->shift[1]), qmin, qmax);
        return 1;
    case SCALPEL_LAYER_CLIP:
        for (k = 0; k < n_in; k++) out[k] = sat(in[k], (int32_t)rq->bias[0], (int32_t)rq->bias[1]);
        return 1;
    case SCALPEL_LAYER_LEAKY_RELU:
        for (k = 0; k < n_in; k++)
            out[k] = in[k] >= 0 ? in[k] : sat(rshift((int64_t)in[k] * rq->mult[0], rq->shift[0]), qmin, qmax);
        return 1;
    case SCALPEL_LAYER_HARDSWISH:
        for (k = 0; k < n_in; k++) {
            int64_t t = (int64_t)in[k] + rq->bias[0];
            t = t < 0 ? 0 : t > rq->bias[1] ? rq->bias[1] : t;
            out[k] = sat(rshift((int64_t)in[k] * t * rq->mult[0], rq->shift[0]), qmin, qmax);
        }
        return 1;
    case SCALPEL_LAYER_SIGMOID:
    case SCALPEL_LAYER_TANH:
        for (k = 0; k < n_in; k++) {
            int64_t u = sat(rshift((int64_t)in[k] * rq->mult[0], rq->shift[0]), -32768, 32767), f;
            int64_t a = u < 0 ? -u : u;
            if (g->kind == SCALPEL_LAYER_SIGMOID) {
                f = tab_at(tab_sig, a);
                f = u >= 0 ? (f > 32767 ? 32767 : f) : 32768 - f;
                if (q->dtype == SCALPEL_DTYPE_Q7) f = sat(rshift(f, 8), -128, 127);
            } else {
                f = tab_at(tab_tanh, a);
                if (f > 32767) f = 32767;
                if (q->dtype == SCALPEL_DTYPE_Q7) f = sat(rshift(f, 8), 0, 127); /* odd: |f| rounded */
                if (u < 0) f = -f;
            }
            out[k] = (int32_t)f;
        }
        return 1;
    default:
        return 0;
    }
}

/* Runs the oracle on sample `in` (the network's dtype); 1 when every output equals got's. */
static int oracle_matches(const scalpel_qnet *q, const void *in, const void *got, int32_t *first_bad_layer)
{
    int32_t *t[MAX_TENSORS];
    int32_t i, n, ok = 1;
    *first_bad_layer = -1;
    if (q->n_layers + 1 > MAX_TENSORS) return 0;
    for (i = 0; i < MAX_TENSORS; i++) t[i] = NULL;
    n = scalpel_qnet_input_size(q);
    t[0] = (int32_t *)malloc((size_t)n * sizeof(int32_t));
    for (i = 0; i < n; i++) t[0][i] = q_get(q->dtype, in, (size_t)i);
    for (i = 0; i < q->n_layers && ok; i++) {
        const scalpel_qlayer *L = &q->layers[i];
        int32_t src = i - L->geom.from, src2 = i - L->geom.from2;
        int two = L->geom.kind == SCALPEL_LAYER_ADD || L->geom.kind == SCALPEL_LAYER_CONCAT;
        t[i + 1] = (int32_t *)malloc((size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w * sizeof(int32_t));
        if (src < 0 || (two && src2 < 0) || !oracle_layer(q, L, t[src], two ? t[src2] : NULL, t[i + 1])) {
            ok = 0;
            *first_bad_layer = i;
        }
    }
    if (ok) {
        n = scalpel_qnet_output_size(q);
        for (i = 0; i < n; i++) ok &= t[q->n_layers][i] == q_get(q->dtype, got, (size_t)i);
    }
    for (i = 0; i <= q->n_layers; i++) free(t[i]);
    return ok;
}

/* ---- quantizing and checking one network ------------------------------------------------- */

static int32_t count_kind(const scalpel_qnet *q, int32_t kind)
{
    int32_t i, n = 0;
    for (i = 0; i < q->n_layers; i++) n += q->layers[i].geom.kind == kind;
    return n;
}
static int32_t find_kind(const scalpel_qnet *q, int32_t kind)
{
    int32_t i;
    for (i = 0; i < q->n_layers; i++)
        if (q->layers[i].geom.kind == kind) return i;
    return -1;
}

/* Quantizes net with opt into *q and checks validation, float agreement (error at most
 * tol * the output range on calibration inputs; argmax agreement >= 80% on random inputs),
 * batch 1 = batch B, and the oracle. Returns 1 when *q holds a network (free it). */
static int check_quantized(const scalpel_net *net, const float *calib, const float *rnd, const scalpel_quant_options *opt,
                           float tol, const char *what, scalpel_qnet *q)
{
    size_t esz = opt->dtype == SCALPEL_DTYPE_Q15 ? 2 : 1;
    int32_t in_n = scalpel_net_input_size(net), out_n = scalpel_net_output_size(net), s, i, agree = 0, bad_layer;
    size_t wsz_q, wsz_f = scalpel_net_workspace_size(net, BATCH);
    float *ref = (float *)malloc((size_t)BATCH * (size_t)out_n * sizeof(float));
    float *got = (float *)malloc((size_t)BATCH * (size_t)out_n * sizeof(float));
    unsigned char *xq = (unsigned char *)malloc((size_t)BATCH * (size_t)in_n * esz);
    unsigned char *y1 = (unsigned char *)malloc((size_t)BATCH * (size_t)out_n * esz);
    unsigned char *yb = (unsigned char *)malloc((size_t)BATCH * (size_t)out_n * esz);
    void *ws = NULL, *wsf = malloc(wsz_f);
    float err = 0.0f, range = 0.0f;
    int oracle_ok = 1, batch_ok = 1;
    scalpel_status st = scalpel_qnet_quantize(net, opt, calib, N_CALIB, q);
    CHECK(st == SCALPEL_OK, "%s: quantize: %s", what, scalpel_status_string(st));
    if (st != SCALPEL_OK) goto done;
    st = scalpel_qnet_validate(q);
    CHECK(st == SCALPEL_OK, "%s: validates: %s", what, scalpel_status_string(st));
    CHECK(q->dtype == opt->dtype && q->in_c == net->in_c && q->in_h == net->in_h && q->in_w == net->in_w,
          "%s: dtype and input shape", what);
    wsz_q = scalpel_qnet_workspace_size(q, BATCH);
    CHECK(wsz_q > 0 && wsz_q >= scalpel_qnet_workspace_size(q, 1), "%s: workspace", what);
    ws = malloc(wsz_q);
    if (!ws || !wsf || !ref || !got || !xq || !y1 || !yb) { CHECK(0, "%s: out of memory", what); goto done; }

    /* float network vs fixed point, on calibration inputs */
    CHECK(scalpel_net_forward(net, calib, BATCH, ref, wsf) == SCALPEL_OK, "%s: float forward", what);
    CHECK(scalpel_qnet_forward_f32(q, calib, BATCH, got, ws) == SCALPEL_OK, "%s: forward_f32", what);
    for (i = 0; i < BATCH * out_n; i++) {
        range = fmaxf(range, fabsf(ref[i]));
        err = fmaxf(err, fabsf(got[i] - ref[i]));
    }
    CHECK(err <= tol * range + 1e-6f, "%s: error %g more than %g of the output range %g", what, (double)err, (double)tol,
          (double)range);
    /* argmax agreement on random inputs, BATCH at a time */
    for (s = 0; s + BATCH <= N_RANDOM; s += BATCH) {
        int32_t k;
        CHECK(scalpel_net_forward(net, rnd + (size_t)s * (size_t)in_n, BATCH, ref, wsf) == SCALPEL_OK, "%s: float", what);
        CHECK(scalpel_qnet_forward_f32(q, rnd + (size_t)s * (size_t)in_n, BATCH, got, ws) == SCALPEL_OK, "%s: f32", what);
        for (k = 0; k < BATCH; k++)
            agree += scalpel_argmax_f32(ref + k * out_n, out_n) == scalpel_argmax_f32(got + k * out_n, out_n);
    }
    printf("  %-26s max error %.5f = %5.2f%% of range %.4f, argmax agreement %d/%d (%.0f%%)\n", what, (double)err,
           100.0 * (double)err / (double)(range > 0.0f ? range : 1.0f), (double)range, (int)agree,
           N_RANDOM / BATCH * BATCH, 100.0 * agree / (N_RANDOM / BATCH * BATCH));
    CHECK(agree * 10 >= (N_RANDOM / BATCH * BATCH) * 8, "%s: argmax agreement %d of %d", what, (int)agree,
          N_RANDOM / BATCH * BATCH);

    /* integer path: calibration inputs, then random integers over the whole range */
    for (i = 0; i < 2; i++) {
        if (i == 0) {
            CHECK(scalpel_quantize_f32(calib, (size_t)BATCH * (size_t)in_n, q->in_scale, (scalpel_dtype)q->dtype, xq) ==
                      SCALPEL_OK, "%s: quantize input", what);
        } else {
            size_t k;
            for (k = 0; k < (size_t)BATCH * (size_t)in_n; k++) {
                uint32_t r = test_rand();
                if (esz == 2) ((int16_t *)(void *)xq)[k] = (int16_t)((int32_t)(r >> 16) - 32768);
                else ((int8_t *)xq)[k] = (int8_t)((int32_t)(r >> 24) - 128);
            }
        }
        CHECK(scalpel_qnet_forward(q, xq, BATCH, yb, ws) == SCALPEL_OK, "%s: batch forward", what);
        for (s = 0; s < BATCH; s++) {
            const unsigned char *x1 = xq + (size_t)s * (size_t)in_n * esz;
            unsigned char *o1 = y1 + (size_t)s * (size_t)out_n * esz;
            CHECK(scalpel_qnet_forward(q, x1, 1, o1, ws) == SCALPEL_OK, "%s: forward", what);
            if (!oracle_matches(q, x1, o1, &bad_layer)) {
                oracle_ok = 0;
                printf("  %s: %s sample %d differs from the oracle (oracle failed at layer %d)\n", what,
                       i ? "random-integer" : "calibration", (int)s, (int)bad_layer);
            }
        }
        batch_ok &= memcmp(y1, yb, (size_t)BATCH * (size_t)out_n * esz) == 0;
    }
    CHECK(oracle_ok, "%s: integer outputs equal the oracle's", what);
    CHECK(batch_ok, "%s: batch 1 and batch %d identical", what, BATCH);
    /* the same network's integer outputs, layer by layer: cut after each layer and compare with
     * the oracle there too, so that a mismatch names its layer */
    if (!oracle_ok) {
        scalpel_qnet cut = *q;
        for (cut.n_layers = 1; cut.n_layers <= q->n_layers; cut.n_layers++) {
            int32_t o_n = scalpel_qnet_output_size(&cut);
            unsigned char *o = (unsigned char *)malloc((size_t)o_n * esz);
            void *w1 = malloc(scalpel_qnet_workspace_size(&cut, 1));
            int same = scalpel_qnet_forward(&cut, xq, 1, o, w1) == SCALPEL_OK && oracle_matches(&cut, xq, o, &bad_layer);
            free(o);
            free(w1);
            if (!same) {
                printf("  %s: first layer differing from the oracle: %d (%s)\n", what, (int)cut.n_layers - 1,
                       scalpel_layer_kind_name(q->layers[cut.n_layers - 1].geom.kind));
                break;
            }
        }
    }
done:
    free(ref); free(got); free(xq); free(y1); free(yb); free(ws); free(wsf);
    return st == SCALPEL_OK;
}

/* What the quantizer documents of each network's structure. */
static void check_structure_windows(const scalpel_net *net, const scalpel_qnet *q, const char *what)
{
    CHECK(q->n_layers == net->n_layers, "%s: no layer dropped", what);
    if (q->n_layers != net->n_layers) return;
    CHECK(q->layers[0].rq.relu == 1 && q->layers[0].geom.kernel_h == 3 && q->layers[0].geom.kernel_w == 5 &&
              q->layers[0].geom.dilation_w == 2 && q->layers[0].geom.stride_h == 2,
          "%s: rectangular dilated conv with its ReLU fused", what);
    CHECK(q->layers[2].storage == SCALPEL_STORAGE_GCSR && q->layers[2].sparse.group == 2 && q->layers[2].geom.groups == 2,
          "%s: grouped conv kept in grouped CSR", what);
    CHECK(q->layers[3].out_scale == q->layers[2].out_scale && q->layers[3].rq.relu == 0,
          "%s: the clip keeps its input's scale", what);
    CHECK(q->layers[4].geom.groups == 6 && q->layers[4].geom.out_c == 12 && q->layers[6].geom.groups == 12,
          "%s: depthwise layers", what);
}

static void check_structure_pools(const scalpel_net *net, const scalpel_qnet *q, const char *what)
{
    int32_t p = find_kind(q, SCALPEL_LAYER_MAXPOOL), a = find_kind(q, SCALPEL_LAYER_AVGPOOL), s;
    CHECK(q->n_layers == net->n_layers - 1, "%s: the batch norm after the conv folded (%d of %d layers)", what,
          (int)q->n_layers, (int)net->n_layers);
    CHECK(q->layers[0].geom.kind == SCALPEL_LAYER_BATCHNORM && count_kind(q, SCALPEL_LAYER_BATCHNORM) == 1 &&
              q->layers[0].rq.per_channel == 1 && q->layers[0].w != NULL,
          "%s: the batch norm on the input stays a layer", what);
    CHECK(q->layers[1].geom.kind == SCALPEL_LAYER_CONV2D && q->layers[1].storage == SCALPEL_STORAGE_GCSR &&
              q->layers[1].sparse.group == 4 && q->layers[1].rq.relu == 1,
          "%s: the folded conv stays grouped CSR, its ReLU fused", what);
    CHECK(p > 0 && a > p && q->layers[p].out_scale == q->layers[p - 1].out_scale &&
              q->layers[a].out_scale == q->layers[p].out_scale,
          "%s: pools keep the scale", what);
    s = find_kind(q, SCALPEL_LAYER_SIGMOID);
    CHECK(s > 0 && q->layers[s].out_scale == (q->dtype == SCALPEL_DTYPE_Q15 ? 1.0f / 32768.0f : 1.0f / 128.0f),
          "%s: sigmoid's fixed output scale", what);
}

static void check_structure_graph(const scalpel_net *net, const scalpel_qnet *q, const char *what)
{
    int32_t a = find_kind(q, SCALPEL_LAYER_ADD), c = find_kind(q, SCALPEL_LAYER_CONCAT), k;
    CHECK(q->n_layers == net->n_layers - 1, "%s: one batch norm folded (%d of %d layers)", what, (int)q->n_layers,
          (int)net->n_layers);
    CHECK(count_kind(q, SCALPEL_LAYER_BATCHNORM) == 1 && q->layers[0].geom.kind == SCALPEL_LAYER_BATCHNORM,
          "%s: the input's batch norm stays", what);
    for (k = 1; k < SCALPEL_LAYER_COUNT; k++)
        if (k != SCALPEL_LAYER_SOFTMAX && k != SCALPEL_LAYER_LRN)
            CHECK(count_kind(q, k) > 0, "%s: has a %s layer", what, scalpel_layer_kind_name(k));
    CHECK(a > 0 && q->layers[a].rq.relu == 1 && q->layers[a + 1].geom.kind == SCALPEL_LAYER_RELU,
          "%s: the ReLU after the add fused (rq.relu %d)", what, a > 0 ? (int)q->layers[a].rq.relu : -1);
    CHECK(a > 0 && q->layers[a].rq.shift[0] == q->layers[a].rq.shift[1], "%s: add's one shift", what);
    if (c > 0) {
        const scalpel_qlayer *L = &q->layers[c];
        float s1 = q->layers[c - L->geom.from - 1].out_scale, s2 = q->layers[c - L->geom.from2 - 1].out_scale;
        double r1 = L->rq.mult[0] / pow(2.0, L->rq.shift[0]), r2 = L->rq.mult[1] / pow(2.0, L->rq.shift[1]);
        CHECK(s1 != s2 && L->out_scale == (s1 > s2 ? s1 : s2), "%s: concat of scales %g and %g takes the larger (%g)",
              what, (double)s1, (double)s2, (double)L->out_scale);
        CHECK(fabs(r1 - s1 / L->out_scale) < 1e-3 && fabs(r2 - s2 / L->out_scale) < 1e-3 && fabs(r1 - r2) > 1e-3,
              "%s: concat's two rescalings (%g, %g)", what, r1, r2);
    } else {
        CHECK(0, "%s: concat kept", what);
    }
}

/* ---- the elementwise kinds over every input value ------------------------------------------- */

/* One-layer networks of hand-picked constants (clip, leaky ReLU of slopes 0.1, -0.5 and -3,
 * hardswish, sigmoid, tanh, each saturating somewhere) run over every q7 and every q15 input
 * value, SWEEP at a time, against the oracle. */
#define SWEEP 512
static void test_elementwise_sweep(void)
{
    static const struct {
        int32_t kind;
        float alpha, beta;               /* the float layer's reals (validate checks them) */
        int64_t b15[2], b7[2];           /* rq.bias: clip's lo / hi, hardswish's 3 and 6 */
        int32_t m15, m7;                 /* rq.mult[0] */
        int8_t s15, s7;                  /* rq.shift[0] */
    } cases[] = {
        { SCALPEL_LAYER_CLIP, -10.0f, 200.0f, { -1000, 20000 }, { -50, 100 }, 0, 0, 0, 0 },
        { SCALPEL_LAYER_LEAKY_RELU, 0.1f, 0.0f, { 0, 0 }, { 0, 0 }, 26214, 26214, 18, 18 },
        { SCALPEL_LAYER_LEAKY_RELU, -0.5f, 0.0f, { 0, 0 }, { 0, 0 }, -16384, -16384, 15, 15 },
        { SCALPEL_LAYER_LEAKY_RELU, -3.0f, 0.0f, { 0, 0 }, { 0, 0 }, -24576, -24576, 13, 13 },
        { SCALPEL_LAYER_HARDSWISH, 0.0f, 0.0f, { 300, 600 }, { 60, 120 }, 27307, 17476, 24, 21 },
        { SCALPEL_LAYER_SIGMOID, 0.0f, 0.0f, { 0, 0 }, { 0, 0 }, 16777, 26214, 13, 6 },
        { SCALPEL_LAYER_TANH, 0.0f, 0.0f, { 0, 0 }, { 0, 0 }, 16777, 26214, 13, 6 },
    };
    size_t c;
    int32_t d, base, k, bad_layer;
    int16_t *x = (int16_t *)malloc(SWEEP * sizeof(int16_t)), *y = (int16_t *)malloc(SWEEP * sizeof(int16_t));
    void *ws = NULL;
    if (!x || !y) { CHECK(0, "sweep: out of memory"); free(x); free(y); return; }
    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
        for (d = 0; d < 2; d++) {
            scalpel_qlayer L;
            scalpel_qnet q;
            int64_t bias[2];
            int32_t mult[1];
            int8_t shift[1];
            int q7 = d == 1, ok = 1, n_bias = 0, n_mult = 0, k2 = cases[c].kind;
            memset(&L, 0, sizeof(L));
            memset(&q, 0, sizeof(q));
            L.geom.kind = k2;
            L.geom.in_c = L.geom.out_c = 1;
            L.geom.in_h = L.geom.out_h = 1;
            L.geom.in_w = L.geom.out_w = q7 ? 256 : SWEEP;
            L.geom.alpha = cases[c].alpha;
            L.geom.beta = cases[c].beta;
            L.storage = SCALPEL_STORAGE_DENSE;
            n_bias = k2 == SCALPEL_LAYER_CLIP || k2 == SCALPEL_LAYER_HARDSWISH;
            n_mult = k2 != SCALPEL_LAYER_CLIP;
            bias[0] = q7 ? cases[c].b7[0] : cases[c].b15[0];
            bias[1] = q7 ? cases[c].b7[1] : cases[c].b15[1];
            mult[0] = q7 ? cases[c].m7 : cases[c].m15;
            shift[0] = q7 ? cases[c].s7 : cases[c].s15;
            L.rq.bias = n_bias ? bias : NULL;
            L.rq.mult = n_mult ? mult : NULL;
            L.rq.shift = n_mult ? shift : NULL;
            L.out_scale = k2 == SCALPEL_LAYER_SIGMOID || k2 == SCALPEL_LAYER_TANH ? (q7 ? 1.0f / 128.0f : 1.0f / 32768.0f) : 0.01f;
            q.dtype = q7 ? SCALPEL_DTYPE_Q7 : SCALPEL_DTYPE_Q15;
            q.in_c = 1; q.in_h = 1; q.in_w = L.geom.in_w;
            q.in_scale = 0.01f;
            q.n_layers = 1;
            q.layers = &L;
            CHECK(scalpel_qnet_validate(&q) == SCALPEL_OK, "sweep %s %s: validates", scalpel_layer_kind_name(k2),
                  q7 ? "q7" : "q15");
            free(ws);
            ws = malloc(scalpel_qnet_workspace_size(&q, 1));
            for (base = q7 ? -128 : -32768; base < (q7 ? 128 : 32768); base += L.geom.in_w) {
                for (k = 0; k < L.geom.in_w; k++) {
                    if (q7) ((int8_t *)x)[k] = (int8_t)(base + k);
                    else x[k] = (int16_t)(base + k);
                }
                if (scalpel_qnet_forward(&q, x, 1, y, ws) != SCALPEL_OK || !oracle_matches(&q, x, y, &bad_layer)) {
                    ok = 0;
                    break;
                }
            }
            CHECK(ok, "sweep %s (alpha %g) %s: every input equals the oracle (first chunk differing at %d)",
                  scalpel_layer_kind_name(k2), (double)cases[c].alpha, q7 ? "q7" : "q15", (int)base);
        }
    free(ws);
    free(x);
    free(y);
}

/* ---- hostile structs: a valid network with one constant broken ----------------------------- */

/* *h = q with its own copy of the layers in room (the arrays stay q's unless replaced) */
static scalpel_qlayer *hostile_copy(const scalpel_qnet *q, scalpel_qnet *h, scalpel_qlayer *room)
{
    memcpy(room, q->layers, (size_t)q->n_layers * sizeof(scalpel_qlayer));
    *h = *q;
    h->layers = room;
    h->owns_layers = 0;
    return room;
}

/* One broken copy of q must not validate (validate returns an error, nothing crashes). */
#define HOSTILE(what, layer, change)                                                                   \
    do {                                                                                               \
        if ((layer) < 0) { CHECK(0, "%s: no layer for '%s'", tag, what); break; }                       \
        L = hostile_copy(q, &h, room) + (layer);                                                       \
        change;                                                                                        \
        st = scalpel_qnet_validate(&h);                                                                \
        CHECK(st != SCALPEL_OK, "%s: %s refused (got %s)", tag, what, scalpel_status_string(st));      \
    } while (0)

static void test_hostile(const scalpel_qnet *q, const char *tag)
{
    scalpel_qlayer *room = (scalpel_qlayer *)malloc((size_t)q->n_layers * sizeof(scalpel_qlayer)), *L;
    scalpel_qnet h;
    scalpel_status st;
    int32_t qmax = q->dtype == SCALPEL_DTYPE_Q15 ? 32767 : 127;
    int32_t clip = find_kind(q, SCALPEL_LAYER_CLIP), add = find_kind(q, SCALPEL_LAYER_ADD);
    int32_t leaky = find_kind(q, SCALPEL_LAYER_LEAKY_RELU), hsw = find_kind(q, SCALPEL_LAYER_HARDSWISH);
    int32_t sig = find_kind(q, SCALPEL_LAYER_SIGMOID), tnh = find_kind(q, SCALPEL_LAYER_TANH);
    int32_t bn = find_kind(q, SCALPEL_LAYER_BATCHNORM), cat = find_kind(q, SCALPEL_LAYER_CONCAT);
    int32_t mp = find_kind(q, SCALPEL_LAYER_MAXPOOL), ap = find_kind(q, SCALPEL_LAYER_AVGPOOL);
    int32_t relu = find_kind(q, SCALPEL_LAYER_RELU), conv = find_kind(q, SCALPEL_LAYER_CONV2D);
    int64_t clip_swapped[2], clip_low[2], clip_high[2], hs_big[2], hs_crossed[2], hs_neg[2];
    int32_t add_mult[2], mult_big[1] = { 32769 }, mult_small[1] = { -32769 }, mult_neg[2] = { -5, 16384 };
    int8_t add_shift[2], shift63[1] = { 63 }, shift_neg[1] = { -1 };
    int64_t some_bias[2] = { 0, 0 };
    int32_t some_mult[2] = { 16384, 16384 };
    int8_t some_shift[2] = { 14, 14 };
    if (!room) { CHECK(0, "%s: out of memory", tag); return; }
    CHECK(scalpel_qnet_validate(q) == SCALPEL_OK, "%s: the original validates", tag);
    if (clip >= 0) {
        clip_swapped[0] = q->layers[clip].rq.bias[1] + 1; clip_swapped[1] = q->layers[clip].rq.bias[1];
        clip_low[0] = -qmax - 2; clip_low[1] = q->layers[clip].rq.bias[1];
        clip_high[0] = q->layers[clip].rq.bias[0]; clip_high[1] = qmax + 1;
    }
    if (hsw >= 0) {
        hs_big[0] = q->layers[hsw].rq.bias[0]; hs_big[1] = ((int64_t)1 << 30) + 1;
        hs_crossed[0] = q->layers[hsw].rq.bias[1] + 1; hs_crossed[1] = q->layers[hsw].rq.bias[1];
        hs_neg[0] = -1; hs_neg[1] = q->layers[hsw].rq.bias[1];
    }
    if (add >= 0) {
        add_mult[0] = q->layers[add].rq.mult[0]; add_mult[1] = q->layers[add].rq.mult[1];
        add_shift[0] = q->layers[add].rq.shift[0]; add_shift[1] = (int8_t)(q->layers[add].rq.shift[0] + 1);
    }
    /* constants out of their kind's limits */
    HOSTILE("clip lo > hi", clip, L->rq.bias = clip_swapped);
    HOSTILE("clip lo below the type's range", clip, L->rq.bias = clip_low);
    HOSTILE("clip hi above the type's range", clip, L->rq.bias = clip_high);
    HOSTILE("add with shift[0] != shift[1]", add, (L->rq.mult = add_mult, L->rq.shift = add_shift));
    HOSTILE("add with a negative multiplier", add, L->rq.mult = mult_neg);
    HOSTILE("leaky_relu multiplier 32769", leaky, L->rq.mult = mult_big);
    HOSTILE("leaky_relu multiplier -32769", leaky, L->rq.mult = mult_small);
    HOSTILE("hardswish six > 2^30", hsw, L->rq.bias = hs_big);
    HOSTILE("hardswish three > six", hsw, L->rq.bias = hs_crossed);
    HOSTILE("hardswish three < 0", hsw, L->rq.bias = hs_neg);
    HOSTILE("sigmoid shift 63", sig, L->rq.shift = shift63);
    HOSTILE("tanh shift -1", tnh, L->rq.shift = shift_neg);
    HOSTILE("leaky_relu shift 63", leaky, L->rq.shift = shift63);
    HOSTILE("sigmoid multiplier 32769", sig, L->rq.mult = mult_big);
    HOSTILE("conv shift 63", conv, (L->rq.per_channel = 0, L->rq.shift = shift63));
    /* arrays missing where the kind needs them */
    HOSTILE("clip without its bounds", clip, L->rq.bias = NULL);
    HOSTILE("add without multipliers", add, L->rq.mult = NULL);
    HOSTILE("add without shifts", add, L->rq.shift = NULL);
    HOSTILE("concat without multipliers", cat, L->rq.mult = NULL);
    HOSTILE("hardswish without 3 and 6", hsw, L->rq.bias = NULL);
    HOSTILE("hardswish without multiplier", hsw, L->rq.mult = NULL);
    HOSTILE("tanh without multiplier", tnh, L->rq.mult = NULL);
    HOSTILE("batchnorm without weights", bn, L->w = NULL);
    HOSTILE("batchnorm without bias", bn, L->rq.bias = NULL);
    HOSTILE("conv without weights", conv, (L->storage = SCALPEL_STORAGE_DENSE, L->w = NULL));
    /* arrays where the kind has none */
    HOSTILE("maxpool with a bias", mp, L->rq.bias = some_bias);
    HOSTILE("avgpool with multipliers", ap, (L->rq.mult = some_mult, L->rq.shift = some_shift));
    HOSTILE("relu with weights", relu, L->w = some_bias);
    HOSTILE("clip with multipliers", clip, (L->rq.mult = some_mult, L->rq.shift = some_shift));
    HOSTILE("add with a bias", add, L->rq.bias = some_bias);
    HOSTILE("sigmoid with a bias", sig, L->rq.bias = some_bias);
    HOSTILE("leaky_relu with weights", leaky, L->w = some_bias);
    /* flags a kind does not take */
    HOSTILE("rq.relu = 1 on a clip", clip, L->rq.relu = 1);
    HOSTILE("rq.relu = 1 on a tanh", tnh, L->rq.relu = 1);
    HOSTILE("rq.relu = 2 on an add", add, L->rq.relu = 2);
    HOSTILE("per_channel = 1 on an add", add, L->rq.per_channel = 1);
    HOSTILE("per_channel = 0 on a batchnorm", bn, L->rq.per_channel = 0);
    HOSTILE("grouped-CSR storage on a clip", clip, L->storage = SCALPEL_STORAGE_GCSR);
    CHECK(scalpel_qnet_validate(q) == SCALPEL_OK, "%s: the original still validates", tag);
    free(room);
}
#undef HOSTILE

/* ---- softmax and LRN have no fixed point ------------------------------------------------- */

static void test_unsupported(const float *calib)
{
    scalpel_quant_options opt;
    scalpel_net net;
    scalpel_qnet q;
    scalpel_status st;
    memset(&opt, 0, sizeof(opt));
    opt.dtype = SCALPEL_DTYPE_Q15;
    /* conv, relu, fc, softmax: layer 3 */
    CHECK(scalpel_net_init(IN_C, IMG, IMG, &net) == SCALPEL_OK && add_conv_sq(&net, 4, 3, 2, 1) &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && add_fc(&net, 5) && scalpel_net_add_softmax(&net) == SCALPEL_OK,
          "softmax network built");
    CHECK(scalpel_net_first_unsupported(&net, SCALPEL_USE_FIXED_POINT) == 3, "softmax named: %d",
          (int)scalpel_net_first_unsupported(&net, SCALPEL_USE_FIXED_POINT));
    memset(&q, 0x5a, sizeof(q));
    st = scalpel_qnet_quantize(&net, &opt, calib, N_CALIB, &q);
    CHECK(st == SCALPEL_ERR_UNSUPPORTED && q.n_layers == 0 && q.layers == NULL, "softmax refused: %s",
          scalpel_status_string(st));
    scalpel_net_free(&net);
    /* conv, lrn (across channels), relu, fc: layer 1 */
    opt.dtype = SCALPEL_DTYPE_Q7;
    CHECK(scalpel_net_init(IN_C, IMG, IMG, &net) == SCALPEL_OK && add_conv_sq(&net, 4, 3, 2, 1) &&
              scalpel_net_add_lrn(&net, 3, 1e-4f, 0.75f, 1.0f, 0) == SCALPEL_OK &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && add_fc(&net, 5),
          "lrn network built");
    CHECK(scalpel_net_first_unsupported(&net, SCALPEL_USE_FIXED_POINT) == 1, "lrn named: %d",
          (int)scalpel_net_first_unsupported(&net, SCALPEL_USE_FIXED_POINT));
    st = scalpel_qnet_quantize(&net, &opt, calib, N_CALIB, &q);
    CHECK(st == SCALPEL_ERR_UNSUPPORTED && q.n_layers == 0, "lrn refused: %s", scalpel_status_string(st));
    scalpel_net_free(&net);
}

/* ---- export ------------------------------------------------------------------------------ */

#ifndef TEST_NO_FILES
/* q (every kind) exported as a header; a name the export rejects leaves no file. */
static void test_export(const scalpel_qnet *q)
{
    char path[1024], bad[1024], line[512];
    FILE *f;
    int found = 0;
    scalpel_status st;
    snprintf(path, sizeof path, "%s/qops_every_kind.h", out_dir);
    snprintf(bad, sizeof bad, "%s/qops_bad_name.h", out_dir);
    remove(bad);
    st = scalpel_qnet_export_c(q, "qops_every_kind", path);
    CHECK(st == SCALPEL_OK, "export writes %s: %s", path, scalpel_status_string(st));
    f = fopen(path, "r");
    CHECK(f != NULL, "exported file exists");
    if (f) {
        while (fgets(line, sizeof line, f)) found |= strstr(line, "static const scalpel_qnet qops_every_kind") != NULL;
        fclose(f);
    }
    CHECK(found, "the network's definition is in the header");
    st = scalpel_qnet_export_c(q, "int", bad);
    CHECK(st == SCALPEL_ERR_ARGUMENT, "a keyword name refused: %s", scalpel_status_string(st));
    st = scalpel_qnet_export_c(q, "qops__x", bad);
    CHECK(st == SCALPEL_ERR_ARGUMENT, "a reserved name refused: %s", scalpel_status_string(st));
    f = fopen(bad, "r");
    CHECK(f == NULL, "no file written for a rejected name");
    if (f) fclose(f);
}
#endif

/* ---- main --------------------------------------------------------------------------------- */

typedef int (*build_fn)(scalpel_net *);
typedef void (*structure_fn)(const scalpel_net *, const scalpel_qnet *, const char *);

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        build_fn build;
        structure_fn structure;
    } nets[] = { { "windows", build_windows, check_structure_windows },
                 { "pools", build_pools, check_structure_pools },
                 { "graph", build_graph, check_structure_graph } };
    /* bounds on the float-vs-fixed error, relative to the output range */
    static const float tol_q15 = 0.02f, tol_q7 = 0.10f;
    float *calib = (float *)malloc((size_t)N_CALIB * IN_C * IMG * IMG * sizeof(float));
    float *rnd = (float *)malloc((size_t)N_RANDOM * IN_C * IMG * IMG * sizeof(float));
    size_t i, n;
    int32_t d, pc;
#ifndef TEST_NO_FILES
    if (argc > 1) out_dir = argv[1];
#else
    (void)argv;
#endif
    (void)argc;
    test_rng_state = 0x51CA1E0Full;
    make_tables();
    if (!calib || !rnd) { CHECK(0, "out of memory"); return test_summary("test_qops"); }
    for (i = 0; i < (size_t)N_CALIB * IN_C * IMG * IMG; i++) calib[i] = test_uniform();
    for (i = 0; i < (size_t)N_RANDOM * IN_C * IMG * IMG; i++) rnd[i] = test_uniform();
    for (n = 0; n < sizeof(nets) / sizeof(nets[0]); n++) {
        scalpel_net net;
        int built = nets[n].build(&net);
        CHECK(built, "%s: float network built", nets[n].name);
        if (!built) { scalpel_net_free(&net); continue; }
        CHECK(scalpel_net_validate(&net) == SCALPEL_OK, "%s: float network validates", nets[n].name);
        for (d = 0; d < 2; d++)
            for (pc = 0; pc < 2; pc++) {
                scalpel_quant_options opt;
                scalpel_qnet q;
                char what[64];
                memset(&opt, 0, sizeof(opt));
                opt.dtype = d == 0 ? SCALPEL_DTYPE_Q15 : SCALPEL_DTYPE_Q7;
                opt.per_channel = pc;
                snprintf(what, sizeof what, "%s %s %s", nets[n].name, d == 0 ? "q15" : "q7",
                         pc ? "per channel" : "per layer");
                if (!check_quantized(&net, calib, rnd, &opt, d == 0 ? tol_q15 : tol_q7, what, &q)) continue;
                nets[n].structure(&net, &q, what);
                if (n == 2) test_hostile(&q, what);
#ifndef TEST_NO_FILES
                if (n == 2 && d == 0 && pc == 1) test_export(&q);
#endif
                scalpel_qnet_free(&q);
            }
        scalpel_net_free(&net);
    }
    test_elementwise_sweep();
    test_unsupported(calib);
    free(calib);
    free(rnd);
    return test_summary("test_qops");
}
