/* test_qnet.c - fixed-point networks (scalpel.h >>quantization): quantization of float
 * networks from calibration data, the integer forward pass against an independent integer
 * oracle written here, agreement with the float network, export, and hostile structs.
 *
 *   gcc -std=c99 -O2 -march=native -I. tests/test_qnet.c -o test_qnet -lm && ./test_qnet
 * On Cortex-M (tests/cortex-m/run.sh m4 x.elf tests/test_qnet.c -DTEST_SMALL_MEMORY): the hand
 * built networks, hostile structs and max pooling only. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

/* where the export test writes (argv[1]; steps run side by side each get their own) */
static const char *out_dir = "build/test";

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_CALIB 48

/* Random weights with aligned groups of G zeroed at rate `prune` (G = 0: dense). */
static float *random_weights(int32_t rows, int32_t cols, int32_t group, float prune)
{
    float *w = (float *)malloc((size_t)rows * (size_t)cols * sizeof(float));
    float scale = 1.5f / sqrtf((float)cols * (1.0f - prune) + 1.0f);
    int32_t r, c, j, g = group ? group : 1;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c += g) {
            int zero = group && (float)(test_rand() % 10000u) < prune * 10000.0f;
            for (j = c; j < c + g && j < cols; j++)
                w[(size_t)r * (size_t)cols + (size_t)j] = zero ? 0.0f : test_uniform() * scale;
        }
    return w;
}

static float *random_bias(int32_t n)
{
    float *b = (float *)malloc((size_t)n * sizeof(float));
    int32_t i;
    for (i = 0; i < n; i++) b[i] = test_uniform() * 0.1f;
    return b;
}

/* Appends a weighted layer (conv when kernel > 0) with group G storage (0: dense). */
static int add_weighted(scalpel_net *net, int32_t outputs, int32_t kernel, int32_t group, float prune)
{
    int32_t n = net->n_layers, cols;
    const scalpel_layer *last = n ? &net->layers[n - 1] : NULL;
    int32_t c = last ? last->geom.out_c : net->in_c, h = last ? last->geom.out_h : net->in_h, wd = last ? last->geom.out_w : net->in_w;
    float *w, *b;
    int ok;
    cols = kernel ? c * kernel * kernel : c * h * wd;
    w = random_weights(outputs, cols, group, prune);
    b = random_bias(outputs);
    if (group == 0) {
        ok = (kernel ? scalpel_net_add_conv2d(net, outputs, kernel, 1, 0, w, b) : scalpel_net_add_fc(net, outputs, w, b)) ==
             SCALPEL_OK;
    } else {
        scalpel_gcsr m;
        ok = scalpel_gcsr_from_dense(w, outputs, cols, group, &m) == SCALPEL_OK &&
             (kernel ? scalpel_net_add_conv2d_gcsr(net, outputs, kernel, 1, 0, &m, b) : scalpel_net_add_fc_gcsr(net, &m, b)) ==
                 SCALPEL_OK;
        scalpel_gcsr_free(&m);
    }
    free(w);
    free(b);
    return ok;
}

/* A small LeNet-5-shaped network: conv 6 5x5 (G = 2 grouped), relu, pool 2, conv 8 3x3 (dense),
 * relu, pool 2, fc 32 (G = 1: plain CSR), relu, fc 10 (dense). Input 1 x 16 x 16. */
static int build_net(scalpel_net *net)
{
    return scalpel_net_init(1, 16, 16, net) == SCALPEL_OK && add_weighted(net, 6, 5, 2, 0.5f) &&
           scalpel_net_add_relu(net) == SCALPEL_OK && scalpel_net_add_maxpool(net, 2, 2) == SCALPEL_OK &&
           add_weighted(net, 8, 3, 0, 0.0f) && scalpel_net_add_relu(net) == SCALPEL_OK &&
           scalpel_net_add_maxpool(net, 2, 2) == SCALPEL_OK && add_weighted(net, 32, 0, 1, 0.7f) &&
           scalpel_net_add_relu(net) == SCALPEL_OK && add_weighted(net, 10, 0, 0, 0.0f);
}

/* ---- the oracle: an integer forward pass written from the documented semantics only ---- */

static int32_t q_get(const scalpel_qnet *q, const void *p, size_t i)
{
    return q->dtype == SCALPEL_DTYPE_Q15 ? ((const int16_t *)p)[i] : ((const int8_t *)p)[i];
}

static int64_t floor_shift(int64_t v, int s)
{
    int64_t d = (int64_t)1 << s, r = v / d;
    if (v % d != 0 && v < 0) r--; /* floor, not truncation */
    return r;
}

static int32_t requant(const scalpel_requant *rq, int32_t r, int64_t acc, int32_t qmax)
{
    int32_t k = rq->per_channel ? r : 0, s = rq->shift[k];
    int64_t v = acc + (rq->bias ? rq->bias[r] : 0);
    int64_t y = floor_shift(v * rq->mult[k] + (s > 0 ? (int64_t)1 << (s - 1) : 0), s);
    int32_t lo = rq->relu ? 0 : -qmax - 1;
    return y > qmax ? qmax : y < lo ? lo : (int32_t)y;
}

/* out = layer(in) for one sample, activations as int32 arrays */
static void oracle_layer(const scalpel_qnet *q, const scalpel_qlayer *L, const int32_t *in, int32_t *out)
{
    int32_t qmax = q->dtype == SCALPEL_DTYPE_Q15 ? 32767 : 127, r, c, oy, ox, i, j;
    if (L->geom.kind == SCALPEL_LAYER_FC || L->geom.kind == SCALPEL_LAYER_CONV2D) {
        int32_t *w = (int32_t *)malloc((size_t)L->geom.rows * (size_t)L->geom.cols * sizeof(int32_t));
        size_t esz = q->dtype == SCALPEL_DTYPE_Q15 ? 2 : 1;
        void *dense = malloc((size_t)L->geom.rows * (size_t)L->geom.cols * esz);
        const void *src = L->w;
        if (L->storage == SCALPEL_STORAGE_GCSR) {
            CHECK(scalpel_gcsr_to_dense_fixed(&L->sparse, dense) == SCALPEL_OK, "to_dense_fixed");
            src = dense;
        }
        for (i = 0; i < L->geom.rows * L->geom.cols; i++) w[i] = q_get(q, src, (size_t)i);
        if (L->geom.kind == SCALPEL_LAYER_FC) {
            for (r = 0; r < L->geom.rows; r++) {
                int64_t acc = 0;
                for (c = 0; c < L->geom.cols; c++) acc += (int64_t)w[r * L->geom.cols + c] * in[c];
                out[r] = requant(&L->rq, r, acc, qmax);
            }
        } else {
            int32_t K = L->geom.kernel;
            for (r = 0; r < L->geom.rows; r++)
                for (oy = 0; oy < L->geom.out_h; oy++)
                    for (ox = 0; ox < L->geom.out_w; ox++) {
                        int64_t acc = 0;
                        for (c = 0; c < L->geom.in_c; c++)
                            for (i = 0; i < K; i++)
                                for (j = 0; j < K; j++) {
                                    int32_t y = oy * L->geom.stride - L->geom.pad + i, x = ox * L->geom.stride - L->geom.pad + j;
                                    if (y < 0 || x < 0 || y >= L->geom.in_h || x >= L->geom.in_w) continue;
                                    acc += (int64_t)w[r * L->geom.cols + (c * K + i) * K + j] *
                                           in[(c * L->geom.in_h + y) * L->geom.in_w + x];
                                }
                        out[(r * L->geom.out_h + oy) * L->geom.out_w + ox] = requant(&L->rq, r, acc, qmax);
                    }
        }
        free(w);
        free(dense);
    } else if (L->geom.kind == SCALPEL_LAYER_MAXPOOL) {
        for (c = 0; c < L->geom.in_c; c++)
            for (oy = 0; oy < L->geom.out_h; oy++)
                for (ox = 0; ox < L->geom.out_w; ox++) {
                    int32_t m = -100000;
                    for (i = 0; i < L->geom.kernel; i++)
                        for (j = 0; j < L->geom.kernel; j++) {
                            int32_t v = in[(c * L->geom.in_h + oy * L->geom.stride + i) * L->geom.in_w + ox * L->geom.stride + j];
                            if (v > m) m = v;
                        }
                    out[(c * L->geom.out_h + oy) * L->geom.out_w + ox] = m;
                }
    } else {
        for (i = 0; i < L->geom.in_c * L->geom.in_h * L->geom.in_w; i++) out[i] = in[i] > 0 ? in[i] : 0;
    }
}

/* Runs the oracle on sample `in` (network dtype) and compares with the library's output. */
static int oracle_matches(const scalpel_qnet *q, const void *in, const void *got)
{
    int32_t a[4096], b[4096], i, n = scalpel_qnet_input_size(q), ok = 1;
    for (i = 0; i < n; i++) a[i] = q_get(q, in, (size_t)i);
    for (i = 0; i < q->n_layers; i++) {
        oracle_layer(q, &q->layers[i], a, b);
        memcpy(a, b, sizeof(a));
    }
    for (i = 0; i < scalpel_qnet_output_size(q); i++) ok &= a[i] == q_get(q, got, (size_t)i);
    return ok;
}

static float max_abs(const float *v, int32_t n)
{
    float m = 0.0f;
    int32_t i;
    for (i = 0; i < n; i++) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
    return m;
}

/* Quantizes `net` with opt and checks everything about the result. */
static void check_quantized(const scalpel_net *net, const float *calib, const scalpel_quant_options *opt, float tol,
                            const char *what)
{
    enum { B = 5 };
    scalpel_qnet q;
    size_t esz = opt->dtype == SCALPEL_DTYPE_Q15 ? 2 : 1;
    int32_t in_n = scalpel_net_input_size(net), out_n = scalpel_net_output_size(net), s, i, agree = 0;
    float ref[B * 10], got[B * 10];
    unsigned char xq[B * 256 * 2], y1[B * 10 * 2], yb[B * 10 * 2];
    void *ws, *wsf = malloc(scalpel_net_workspace_size(net, B));
    scalpel_status st = scalpel_qnet_quantize(net, opt, calib, N_CALIB, &q);
    CHECK(st == SCALPEL_OK, "%s: quantize: %s", what, scalpel_status_string(st));
    if (st != SCALPEL_OK) { free(wsf); return; }
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_OK, "%s: validates", what);
    CHECK(q.n_layers == net->n_layers && q.dtype == opt->dtype, "%s: layers and dtype", what);
    CHECK(q.layers[0].storage == SCALPEL_STORAGE_GCSR && q.layers[0].sparse.group == (opt->group ? opt->group : 2) &&
          q.layers[3].storage == SCALPEL_STORAGE_DENSE && q.layers[6].sparse.group == (opt->group ? opt->group : 1),
          "%s: storage and groups kept", what);
    CHECK(q.layers[0].rq.relu == 1 && q.layers[3].rq.relu == 1 && q.layers[6].rq.relu == 1 && q.layers[8].rq.relu == 0,
          "%s: ReLU fused into the layer before it", what);
    CHECK(q.layers[2].out_scale == q.layers[0].out_scale, "%s: pooling keeps the scale", what);
    ws = malloc(scalpel_qnet_workspace_size(&q, B));
    CHECK(ws != NULL && scalpel_qnet_workspace_size(&q, B) >= scalpel_qnet_workspace_size(&q, 1), "%s: workspace", what);
    /* float network vs fixed point on held-out samples (the last B calibration-like inputs) */
    CHECK(scalpel_net_forward(net, calib, B, ref, wsf) == SCALPEL_OK, "%s: float forward", what);
    CHECK(scalpel_qnet_forward_f32(&q, calib, B, got, ws) == SCALPEL_OK, "%s: forward_f32", what);
    for (s = 0; s < B; s++) {
        float range = max_abs(ref + s * out_n, out_n), err = 0.0f;
        for (i = 0; i < out_n; i++) err = fmaxf(err, fabsf(got[s * out_n + i] - ref[s * out_n + i]));
        CHECK(err <= tol * range + 1e-6f, "%s: sample %d within %g of the float outputs (err %g, range %g)", what, (int)s,
              (double)tol, (double)err, (double)range);
        agree += scalpel_argmax_f32(got + s * out_n, out_n) == scalpel_argmax_f32(ref + s * out_n, out_n);
    }
    CHECK(agree >= B - 1, "%s: %d of %d predictions agree with float", what, (int)agree, B);
    /* integer path: batch 1 and batch B give identical integers, and the oracle agrees */
    CHECK(scalpel_quantize_f32(calib, (size_t)B * (size_t)in_n, q.in_scale, (scalpel_dtype)q.dtype, xq) == SCALPEL_OK,
          "%s: quantize input", what);
    CHECK(scalpel_qnet_forward(&q, xq, B, yb, ws) == SCALPEL_OK, "%s: batch forward", what);
    for (s = 0; s < B; s++) {
        CHECK(scalpel_qnet_forward(&q, xq + (size_t)s * (size_t)in_n * esz, 1, y1 + (size_t)s * (size_t)out_n * esz, ws) ==
                  SCALPEL_OK, "%s: forward", what);
        CHECK(oracle_matches(&q, xq + (size_t)s * (size_t)in_n * esz, y1 + (size_t)s * (size_t)out_n * esz),
              "%s: sample %d equals the integer oracle", what, (int)s);
        CHECK(scalpel_qnet_argmax(&q, y1 + (size_t)s * (size_t)out_n * esz, out_n) ==
                  scalpel_argmax_f32(got + s * out_n, out_n), "%s: argmax", what);
    }
    CHECK(memcmp(y1, yb, (size_t)B * (size_t)out_n * esz) == 0, "%s: batch 1 and batch %d identical", what, B);
    CHECK(scalpel_qnet_weight_bytes(&q) > 0 && scalpel_qnet_weight_bytes(&q) < scalpel_net_weight_bytes(net),
          "%s: smaller than float (%lu < %lu bytes)", what, (unsigned long)scalpel_qnet_weight_bytes(&q),
          (unsigned long)scalpel_net_weight_bytes(net));
    free(ws);
    free(wsf);
    scalpel_qnet_free(&q);
    CHECK(q.n_layers == 0 && q.layers == NULL, "%s: free zeroes", what);
}

/* A valid q15 network with one dense FC layer of hand-picked integers. */
static int16_t hw_w[6] = { 100, -200, 300, 400, 500, -600 };
static int64_t hw_b[2] = { 1000, -1000 };
static int32_t hw_m[1] = { 16384 };
static int8_t hw_s[1] = { 15 };
static void hand_net(scalpel_qnet *q)
{
    static scalpel_qlayer hand_layers[1];
    memset(q, 0, sizeof(*q));
    memset(hand_layers, 0, sizeof(hand_layers));
    q->layers = hand_layers;
    q->dtype = SCALPEL_DTYPE_Q15;
    q->in_c = 3; q->in_h = 1; q->in_w = 1;
    q->n_layers = 1;
    q->in_scale = 0.01f;
    q->layers[0].geom.kind = SCALPEL_LAYER_FC;
    q->layers[0].geom.in_c = 3; q->layers[0].geom.in_h = 1; q->layers[0].geom.in_w = 1;
    q->layers[0].geom.out_c = 2; q->layers[0].geom.out_h = 1; q->layers[0].geom.out_w = 1;
    q->layers[0].geom.rows = 2; q->layers[0].geom.cols = 3;
    q->layers[0].storage = SCALPEL_STORAGE_DENSE;
    q->layers[0].w = hw_w;
    q->layers[0].rq.bias = hw_b;
    q->layers[0].rq.mult = hw_m;
    q->layers[0].rq.shift = hw_s;
    q->layers[0].out_scale = 0.02f;
}

static void test_hand_and_hostile(void)
{
    scalpel_qnet q;
    int16_t x[3] = { 10, 20, 30 }, y[2];
    unsigned char ws[1024];
    int8_t bad_shift[1] = { 63 };
    int32_t bad_mult[1] = { 40000 };
    hand_net(&q);
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_OK, "hand net validates");
    CHECK(scalpel_qnet_workspace_size(&q, 1) <= sizeof(ws), "hand net workspace");
    CHECK(scalpel_qnet_forward(&q, x, 1, y, ws) == SCALPEL_OK, "hand net runs");
    /* row 0: 1000 + 1000 - 4000 + 9000 = 7000, * 16384 / 2^15 = 3500; row 1: -1000 + 4000 + 10000
     * - 18000 = -5000 -> -2500 */
    CHECK(y[0] == 3500 && y[1] == -2500, "hand net: %d %d (want 3500 -2500)", y[0], y[1]);
    q.layers[0].rq.relu = 1;
    CHECK(scalpel_qnet_forward(&q, x, 1, y, ws) == SCALPEL_OK && y[0] == 3500 && y[1] == 0, "fused relu clamps");
    q.layers[0].rq.relu = 0;

    CHECK(scalpel_qnet_validate(NULL) == SCALPEL_ERR_NULL, "validate NULL");
    q.dtype = SCALPEL_DTYPE_F32;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_DTYPE, "F32 qnet refused");
    q.dtype = 7;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_DTYPE, "unknown dtype refused");
    hand_net(&q); q.layers = NULL;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_NULL, "layers missing");
    hand_net(&q); q.n_layers = -1;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_ARGUMENT, "negative layers");
    hand_net(&q); q.in_scale = 0.0f;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_ARGUMENT, "zero input scale");
    hand_net(&q); q.in_scale = NAN;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_ARGUMENT, "NaN input scale");
    hand_net(&q); q.layers[0].geom.cols = 4;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_SHAPE, "cols disagree with the input");
    hand_net(&q); q.layers[0].geom.out_c = 3;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_SHAPE, "output shape disagrees");
    hand_net(&q); q.layers[0].geom.in_c = 2;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_SHAPE, "input shape disagrees");
    hand_net(&q); q.layers[0].w = NULL;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_NULL, "missing weights");
    hand_net(&q); q.layers[0].rq.mult = NULL;
    CHECK(scalpel_qnet_validate(&q) != SCALPEL_OK, "missing multiplier");
    hand_net(&q); q.layers[0].rq.shift = bad_shift;
    CHECK(scalpel_qnet_validate(&q) != SCALPEL_OK, "shift 63 refused");
    hand_net(&q); q.layers[0].rq.mult = bad_mult;
    CHECK(scalpel_qnet_validate(&q) != SCALPEL_OK, "multiplier past 2^15 refused");
    hand_net(&q); q.layers[0].storage = SCALPEL_STORAGE_TASD;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_UNSUPPORTED, "TASD storage refused");
    hand_net(&q); q.layers[0].storage = SCALPEL_STORAGE_GCSR;
    CHECK(scalpel_qnet_validate(&q) != SCALPEL_OK, "GCSR storage without a matrix refused");
    hand_net(&q); q.layers[0].geom.kind = 99;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_ARGUMENT, "unknown layer kind");
    hand_net(&q); q.layers[0].out_scale = -1.0f;
    CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_ARGUMENT, "negative output scale");
    hand_net(&q);
    CHECK(scalpel_qnet_forward(&q, NULL, 1, y, ws) == SCALPEL_ERR_NULL, "forward NULL input");
    CHECK(scalpel_qnet_forward(&q, x, 0, y, ws) == SCALPEL_ERR_ARGUMENT, "forward batch 0");
    CHECK(scalpel_qnet_workspace_size(&q, 0) == 0 && scalpel_qnet_workspace_size(NULL, 1) == 0, "workspace of nothing");
    CHECK(scalpel_qnet_argmax(&q, y, 0) == -1, "argmax of nothing");
    {
        /* a q15 net whose grouped matrix is Q7 */
        int8_t v8[2] = { 1, 2 };
        int32_t rp[3] = { 0, 1, 1 };
        uint16_t ci[1] = { 0 };
        hand_net(&q);
        q.layers[0].storage = SCALPEL_STORAGE_GCSR;
        q.layers[0].w = NULL;
        q.layers[0].sparse.rows = 2; q.layers[0].sparse.cols = 3; q.layers[0].sparse.group = 2;
        q.layers[0].sparse.index_bits = 16; q.layers[0].sparse.dtype = SCALPEL_DTYPE_Q7;
        q.layers[0].sparse.nnz_groups = 1; q.layers[0].sparse.row_ptr = rp;
        q.layers[0].sparse.col_idx = ci; q.layers[0].sparse.values = v8;
        CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_DTYPE, "sparse dtype differs from the network's");
        q.dtype = SCALPEL_DTYPE_Q7;
        CHECK(scalpel_qnet_validate(&q) == SCALPEL_OK, "the same as a q7 network validates");
        ci[0] = 2;
        CHECK(scalpel_qnet_validate(&q) == SCALPEL_ERR_TAIL, "tail weight past cols refused");
    }
    scalpel_qnet_free(NULL);
}

static void test_quantize_errors(const scalpel_net *net, const float *calib)
{
    scalpel_qnet q;
    scalpel_quant_options opt;
    float *bad = (float *)malloc((size_t)N_CALIB * 256 * sizeof(float));
    memset(&opt, 0, sizeof(opt));
    opt.dtype = SCALPEL_DTYPE_Q15;
    memset(&q, 0x5a, sizeof(q));
    CHECK(scalpel_qnet_quantize(NULL, &opt, calib, N_CALIB, &q) == SCALPEL_ERR_NULL && q.n_layers == 0, "NULL net, out zeroed");
    CHECK(scalpel_qnet_quantize(net, NULL, calib, N_CALIB, &q) == SCALPEL_ERR_NULL, "NULL options");
    CHECK(scalpel_qnet_quantize(net, &opt, NULL, N_CALIB, &q) == SCALPEL_ERR_NULL, "NULL calibration");
    CHECK(scalpel_qnet_quantize(net, &opt, calib, 0, &q) == SCALPEL_ERR_ARGUMENT, "no calibration samples");
    opt.dtype = SCALPEL_DTYPE_F32;
    CHECK(scalpel_qnet_quantize(net, &opt, calib, N_CALIB, &q) == SCALPEL_ERR_DTYPE, "dtype F32 refused");
    opt.dtype = SCALPEL_DTYPE_Q7; opt.group = 3;
    CHECK(scalpel_qnet_quantize(net, &opt, calib, N_CALIB, &q) == SCALPEL_ERR_GROUP, "group 3 refused");
    opt.group = 0; opt.per_channel = 2;
    CHECK(scalpel_qnet_quantize(net, &opt, calib, N_CALIB, &q) == SCALPEL_ERR_ARGUMENT, "per_channel 2 refused");
    opt.per_channel = 0;
    memcpy(bad, calib, (size_t)N_CALIB * 256 * sizeof(float));
    bad[777] = NAN;
    CHECK(scalpel_qnet_quantize(net, &opt, bad, N_CALIB, &q) == SCALPEL_ERR_ARGUMENT, "NaN in calibration refused");
    bad[777] = INFINITY;
    CHECK(scalpel_qnet_quantize(net, &opt, bad, N_CALIB, &q) == SCALPEL_ERR_ARGUMENT, "inf in calibration refused");
    {
        scalpel_net broken;
        scalpel_layer room[16];
        test_net_detach(&broken, net, room, 16);
        broken.layers[0].geom.in_c = 5;
        CHECK(scalpel_qnet_quantize(&broken, &opt, calib, N_CALIB, &q) != SCALPEL_OK && q.n_layers == 0,
              "invalid float network refused");
    }
    /* all-zero calibration: still a valid network (scales fall back, nothing divides by 0) */
    memset(bad, 0, (size_t)N_CALIB * 256 * sizeof(float));
    CHECK(scalpel_qnet_quantize(net, &opt, bad, N_CALIB, &q) == SCALPEL_OK && scalpel_qnet_validate(&q) == SCALPEL_OK,
          "all-zero calibration gives a valid network");
    scalpel_qnet_free(&q);
    free(bad);
}

static void test_export(const scalpel_net *net, const float *calib)
{
    scalpel_qnet q;
    scalpel_quant_options opt;
    char path[1024], missing[1100];
    FILE *f;
    char line[256];
    long size1 = 0, size2 = 0;
    snprintf(path, sizeof path, "%s/qnet_export_test.h", out_dir);
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.h", out_dir);
    memset(&opt, 0, sizeof(opt));
    opt.dtype = SCALPEL_DTYPE_Q7;
    opt.per_channel = 1;
    if (scalpel_qnet_quantize(net, &opt, calib, N_CALIB, &q) != SCALPEL_OK) { CHECK(0, "export: quantize"); return; }
    CHECK(scalpel_qnet_export_c(&q, "qtest", path) == SCALPEL_OK, "export writes %s", path);
    f = fopen(path, "r");
    CHECK(f != NULL, "exported file exists");
    if (f) {
        int found = 0;
        while (fgets(line, sizeof(line), f)) found |= strstr(line, "static const scalpel_qnet qtest = {") != NULL;
        fseek(f, 0, SEEK_END);
        size1 = ftell(f);
        fclose(f);
        CHECK(found, "the network's definition is there");
    }
    CHECK(scalpel_qnet_export_c(&q, "int", path) == SCALPEL_ERR_ARGUMENT, "keyword name refused");
    CHECK(scalpel_qnet_export_c(&q, "9lives", path) == SCALPEL_ERR_ARGUMENT, "non-identifier refused");
    CHECK(scalpel_qnet_export_c(&q, "qtest", missing) == SCALPEL_ERR_NOT_FOUND, "unwritable path");
    q.layers[0].rq.shift = NULL;
    CHECK(scalpel_qnet_export_c(&q, "qtest", path) != SCALPEL_OK, "an invalid network is not exported");
    f = fopen(path, "r");
    if (f) { fseek(f, 0, SEEK_END); size2 = ftell(f); fclose(f); }
    CHECK(size1 > 0 && size1 == size2, "failed exports left the earlier file as it was");
    scalpel_qnet_free(&q);
}

/* Max pooling in q15 and q7 against a plain loop: 2x2 stride 2 (the fast path, which on DSP
 * cores compares two lanes at a time with SSUB16 + SEL), 3x3 stride 2 and 2x2 stride 1, on
 * negative and positive values over the whole range, even and odd widths (a floor-sized
 * output leaves the last input column out), several channels. */
static void test_maxpool(void)
{
    static const int32_t shapes[][4] = {{2, 2, 24, 24}, {2, 2, 7, 9}, {2, 2, 5, 2}, {3, 2, 9, 11}, {2, 1, 5, 6}, {2, 2, 2, 3}};
    int16_t in[3 * 24 * 24], out[3 * 24 * 24];
    int8_t in7[3 * 24 * 24], out7[3 * 24 * 24];
    size_t t;
    int32_t i;
    for (t = 0; t < sizeof(shapes) / sizeof(shapes[0]); t++) {
        scalpel_qlayer L;
        int32_t c, oy, ox, bad = 0;
        memset(&L, 0, sizeof(L));
        L.geom.kind = SCALPEL_LAYER_MAXPOOL;
        L.geom.kernel = shapes[t][0];
        L.geom.stride = shapes[t][1];
        L.geom.in_c = L.geom.out_c = 3;
        L.geom.in_h = shapes[t][2];
        L.geom.in_w = shapes[t][3];
        L.geom.out_h = (L.geom.in_h - L.geom.kernel) / L.geom.stride + 1;
        L.geom.out_w = (L.geom.in_w - L.geom.kernel) / L.geom.stride + 1;
        for (i = 0; i < L.geom.in_c * L.geom.in_h * L.geom.in_w; i++) {
            uint32_t r = test_rand();
            in[i] = (int16_t)(r % 4u == 0 ? (r & 1u ? 32767 : -32768) : (int32_t)(r >> 8) % 65536 - 32768);
            in7[i] = (int8_t)((int32_t)(r >> 12) % 256 - 128);
        }
        memset(out, 0x55, sizeof(out));
        memset(out7, 0x55, sizeof(out7));
        scalpel_maxpool_q15(in, L.geom.in_c, L.geom.in_h, L.geom.in_w, L.geom.kernel, L.geom.stride, out);
        scalpel_maxpool_q7(in7, L.geom.in_c, L.geom.in_h, L.geom.in_w, L.geom.kernel, L.geom.stride, out7);
        for (c = 0; c < L.geom.in_c; c++)
            for (oy = 0; oy < L.geom.out_h; oy++)
                for (ox = 0; ox < L.geom.out_w; ox++) {
                    int32_t m = -40000, m7 = -200, ky, kx, o = (c * L.geom.out_h + oy) * L.geom.out_w + ox;
                    for (ky = 0; ky < L.geom.kernel; ky++)
                        for (kx = 0; kx < L.geom.kernel; kx++) {
                            int32_t k = (c * L.geom.in_h + oy * L.geom.stride + ky) * L.geom.in_w + ox * L.geom.stride + kx;
                            if (in[k] > m) m = in[k];
                            if (in7[k] > m7) m7 = in7[k];
                        }
                    if (out[o] != m || out7[o] != m7) bad++;
                }
        /* nothing written past the output */
        for (i = L.geom.in_c * L.geom.out_h * L.geom.out_w; i < 3 * 24 * 24; i++)
            if (out[i] != 0x5555 || out7[i] != 0x55) bad++;
        CHECK(bad == 0, "max pool %dx%d stride %d on %dx%d: %d wrong", (int)L.geom.kernel, (int)L.geom.kernel, (int)L.geom.stride,
              (int)L.geom.in_h, (int)L.geom.in_w, (int)bad);
    }
}

int main(int argc, char **argv)
{
    scalpel_net net;
    scalpel_quant_options opt;
    float *calib = (float *)malloc((size_t)N_CALIB * 256 * sizeof(float));
    int32_t i;
    if (argc > 1) out_dir = argv[1];
    test_rng_state = 0x0FF1CE5ull;
    CHECK(build_net(&net), "float network built");
    for (i = 0; i < N_CALIB * 256; i++) calib[i] = test_rand() % 3u == 0 ? (test_uniform() + 1.0f) * 0.5f : 0.0f;
    test_hand_and_hostile();
    test_maxpool();
#ifndef TEST_SMALL_MEMORY /* microcontroller runs: quantizing needs more heap, exporting a file system */
    memset(&opt, 0, sizeof(opt));
    opt.dtype = SCALPEL_DTYPE_Q15;
    check_quantized(&net, calib, &opt, 0.01f, "q15 per layer");
    opt.per_channel = 1;
    check_quantized(&net, calib, &opt, 0.01f, "q15 per channel");
    opt.dtype = SCALPEL_DTYPE_Q7;
    check_quantized(&net, calib, &opt, 0.15f, "q7 per channel");
    opt.per_channel = 0;
    check_quantized(&net, calib, &opt, 0.2f, "q7 per layer");
    opt.group = 4;
    check_quantized(&net, calib, &opt, 0.2f, "q7 regrouped to G = 4");
    test_quantize_errors(&net, calib);
    test_export(&net, calib);
#else
    (void)opt;
    (void)check_quantized;
    (void)test_quantize_errors;
    (void)test_export;
#endif
    scalpel_net_free(&net);
    free(calib);
    return test_summary("test_qnet");
}
