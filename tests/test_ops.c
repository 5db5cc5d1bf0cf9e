/* test_ops.c - the operators of real networks, parameter by parameter, against the plain
 * definitions (scalpel_layer_ref, in double):
 *
 *   1. conv2d over random windows: rectangular kernels, stride per axis, uneven padding,
 *      dilation, groups, depthwise with a channel multiplier, 1x1; dense and grouped CSR
 *      (every G), batch 1 and 3;
 *   2. max and average pooling with padding, floor and ceil rounding, pads counted or not,
 *      global average pooling;
 *   3. batch norm from running statistics, standalone, and folded into the layer before it
 *      (scalpel_net_fold_batchnorm: only where that is exact, with skips renumbered);
 *   4. joins: residual add (a ReLU after it fused) and concat reading earlier tensors;
 *   5. elementwise kinds, softmax and LRN (both modes);
 *   6. the model file (version 3; version 2 still written for first-version networks), its
 *      hostile-input checks on the new fields, and the parts of the library that refuse a
 *      kind they do not take yet (fixed point, training, node removal, the hybrid);
 *   7. bad parameters refused with the documented status;
 *   8. .npy arrays: round trip and hostile headers.
 * Tolerance of the float forward against the double reference: 1e-5 of the output's largest
 * magnitude. A product sums at most cols = in_c/groups * kh * kw <= 150 terms here; float
 * summation errs by at most cols * 2^-24 * sum|terms| <= 150 * 6e-8 * (a few times the largest
 * output) ~ 1e-5 relative; the transcendental kinds (expf, tanhf, powf) are within a few ulp.
 *
 *   cc -std=c99 -O2 -I. tests/test_ops.c -o test_ops -lm && ./test_ops
 * On boards without files (Cortex-M under QEMU) build with -DTEST_NO_FILES: the .npy round
 * trip through a file and the C export are left out; -DTEST_SMALL_MEMORY keeps every map
 * within 16 x 16. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel_train.h"
#include "test_util.h"
#ifndef TEST_SMALL_MEMORY
#include "examples/reference_nets.h" /* dead-node removal on the reference networks */
#endif

/* where the file tests write (argv[1]; steps run side by side each get their own) */
#ifndef TEST_NO_FILES
static const char *out_dir = "build/test";
static char out_path_buf[1024];
static const char *out_path(const char *name)
{
    snprintf(out_path_buf, sizeof(out_path_buf), "%s/%s", out_dir, name);
    return out_path_buf;
}
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-5

static float *rand_floats(size_t n, float scale)
{
    float *v = (float *)malloc((n ? n : 1) * sizeof(float));
    size_t i;
    for (i = 0; v && i < n; i++) v[i] = scale * test_uniform();
    return v;
}

/* max |a - b| over max |b| */
static double rel_err(const float *a, const float *b, size_t n)
{
    double e = 0.0, m = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > e) e = d;
        if (fabs((double)b[i]) > m) m = fabs((double)b[i]);
    }
    return m > 0.0 ? e / m : e;
}

static int forward(const scalpel_net *net, const float *x, int32_t batch, float *y)
{
    size_t ws = scalpel_net_workspace_size(net, batch);
    void *work = malloc(ws ? ws : 1);
    int ok = ws > 0 && work && scalpel_net_forward(net, x, batch, y, work) == SCALPEL_OK;
    free(work);
    return ok;
}

/* The whole network in the reference, sample by sample: every tensor kept, each layer's
 * scalpel_layer_ref on the tensors it reads (weights densified). y: [batch x outputs]. */
static int reference(const scalpel_net *net, const float *x, int32_t batch, float *y)
{
    int32_t n = net->n_layers, i, s, ok = 1;
    int32_t in_n = scalpel_net_input_size(net), out_n = scalpel_net_output_size(net);
    float **t = (float **)calloc((size_t)n + 1, sizeof(float *));
    for (i = 0; i < n; i++) {
        const scalpel_layer_geom *g = &net->layers[i].geom;
        t[i + 1] = (float *)malloc((size_t)g->out_c * (size_t)g->out_h * (size_t)g->out_w * sizeof(float));
    }
    for (s = 0; s < batch && ok; s++) {
        t[0] = (float *)(uintptr_t)(x + (size_t)s * (size_t)in_n);
        for (i = 0; i < n && ok; i++) {
            scalpel_layer L = net->layers[i];
            float *wd = NULL;
            int32_t src2 = L.geom.kind == SCALPEL_LAYER_ADD || L.geom.kind == SCALPEL_LAYER_CONCAT ? i - L.geom.from2 : -1;
            if (L.geom.rows > 0) { /* densify */
                scalpel_net one = *net;
                wd = (float *)malloc((size_t)L.geom.rows * (size_t)L.geom.cols * sizeof(float));
                one.layers = &L;
                one.n_layers = 1;
                if (L.storage == SCALPEL_STORAGE_DENSE) memcpy(wd, L.w, (size_t)L.geom.rows * (size_t)L.geom.cols * sizeof(float));
                else ok = scalpel_gcsr_to_dense(&L.sparse, wd) == SCALPEL_OK;
                (void)one;
                L.storage = SCALPEL_STORAGE_DENSE;
                L.w = wd;
            }
            ok = ok && scalpel_layer_ref(&L, t[i - L.geom.from], src2 >= 0 ? t[src2] : NULL, t[i + 1]) == SCALPEL_OK;
            free(wd);
        }
        if (ok) memcpy(y + (size_t)s * (size_t)out_n, t[n], (size_t)out_n * sizeof(float));
    }
    for (i = 1; i <= n; i++) free(t[i]);
    free(t);
    return ok;
}

/* forward at batch 1 and 3 against the reference; returns the worst relative error */
static double check_net(const scalpel_net *net, const char *what)
{
    int32_t in_n = scalpel_net_input_size(net), out_n = scalpel_net_output_size(net), batch;
    float *x = rand_floats((size_t)3 * (size_t)in_n, 1.0f);
    float *y = (float *)malloc((size_t)3 * (size_t)out_n * sizeof(float));
    float *r = (float *)malloc((size_t)3 * (size_t)out_n * sizeof(float));
    double worst = 0.0;
    CHECK(scalpel_net_validate(net) == SCALPEL_OK, "%s: validate", what);
    for (batch = 1; batch <= 3; batch += 2) {
        double e;
        int ok = forward(net, x, batch, y) && reference(net, x, batch, r);
        e = ok ? rel_err(y, r, (size_t)batch * (size_t)out_n) : 1.0;
        CHECK(ok && e <= TOL, "%s: batch %d off the reference by %g", what, (int)batch, e);
        if (e > worst) worst = e;
    }
    free(x); free(y); free(r);
    return worst;
}

/* Every weighted layer of net to grouped CSR with G, after zeroing about 60% of its weights. */
static int sparsify(scalpel_net *net, int32_t G)
{
    scalpel_plan plan;
    scalpel_hw_profile hw;
    int32_t i;
    memset(&plan, 0, sizeof(plan));
    if (scalpel_hw_profile_get("cortex-m4", &hw) != SCALPEL_OK) return 0;
    hw.dtype = SCALPEL_DTYPE_F32;
    if (scalpel_plan_net(net, &hw, SCALPEL_PLAN_DENSE, &plan) != SCALPEL_OK) return 0;
    for (i = 0; i < net->n_layers; i++) {
        scalpel_layer *L = &net->layers[i];
        size_t k, n = (size_t)L->geom.rows * (size_t)L->geom.cols;
        if (L->geom.rows == 0) continue;
        for (k = 0; k < n; k++)
            if (test_rand() % 10 < 6) ((float *)(uintptr_t)L->w)[k] = 0.0f;
        plan.layers[i].storage = SCALPEL_STORAGE_GCSR;
        plan.layers[i].group = G;
    }
    return scalpel_net_pack(net, &plan) == SCALPEL_OK;
}

/* ---- 1. convolutions ---------------------------------------------------------------------- */

static void test_conv(void)
{
    int trial, built = 0, grouped = 0, depthwise = 0, dilated = 0, uneven = 0;
    double worst = 0.0;
    for (trial = 0; trial < 400; trial++) {
        int32_t groups = test_range(1, 4), cg = test_range(1, 3), mult = test_range(1, 3), C, out;
        scalpel_window win;
        scalpel_net net;
        scalpel_status st;
        float *w, *b;
        char what[200];
        if (trial % 5 == 0) { cg = 1; groups = test_range(1, 6); } /* depthwise */
        C = groups * cg;
        out = groups * mult;
        win = scalpel_window_square(1, 1, 0);
        win.kernel_h = test_range(1, 5); win.kernel_w = test_range(1, 5);
        if (trial % 7 == 0) { win.kernel_h = 10; win.kernel_w = 4; } /* DS-CNN's first layer */
        win.stride_h = test_range(1, 3); win.stride_w = test_range(1, 3);
        win.dilation_h = test_range(1, 2); win.dilation_w = test_range(1, 2);
        win.pad_top = test_range(0, (win.kernel_h - 1) * win.dilation_h);
        win.pad_bottom = test_range(0, (win.kernel_h - 1) * win.dilation_h);
        win.pad_left = test_range(0, (win.kernel_w - 1) * win.dilation_w);
        win.pad_right = test_range(0, (win.kernel_w - 1) * win.dilation_w);
        win.groups = groups;
        scalpel_net_init(C, test_range(1, 14), test_range(1, 12), &net);
        w = rand_floats((size_t)out * (size_t)cg * (size_t)win.kernel_h * (size_t)win.kernel_w, 0.5f);
        b = rand_floats((size_t)out, 0.1f);
        st = scalpel_net_add_conv2d_ex(&net, out, &win, w, b);
        sprintf(what, "conv %dx%dx%d -> %d, k %dx%d s %dx%d d %dx%d pad %d,%d,%d,%d groups %d", (int)C, (int)net.in_h,
                (int)net.in_w, (int)out, (int)win.kernel_h, (int)win.kernel_w, (int)win.stride_h, (int)win.stride_w,
                (int)win.dilation_h, (int)win.dilation_w, (int)win.pad_top, (int)win.pad_left, (int)win.pad_bottom,
                (int)win.pad_right, (int)groups);
        if (st == SCALPEL_ERR_SHAPE) { /* the dilated window is larger than the padded input */
            int64_t ekh = (int64_t)(win.kernel_h - 1) * win.dilation_h + 1, ekw = (int64_t)(win.kernel_w - 1) * win.dilation_w + 1;
            CHECK(net.in_h + win.pad_top + win.pad_bottom < ekh || net.in_w + win.pad_left + win.pad_right < ekw,
                  "%s: refused as too small", what);
            free(w); free(b); scalpel_net_free(&net);
            continue;
        }
        CHECK(st == SCALPEL_OK, "%s: build (%s)", what, scalpel_status_string(st));
        if (st == SCALPEL_OK) {
            double e;
            built++;
            grouped += groups > 1;
            depthwise += groups == C;
            dilated += win.dilation_h > 1 || win.dilation_w > 1;
            uneven += win.pad_top != win.pad_bottom || win.pad_left != win.pad_right;
            CHECK(net.layers[0].geom.rows == out && net.layers[0].geom.cols == cg * win.kernel_h * win.kernel_w,
                  "%s: W shape", what);
            e = check_net(&net, what);
            if (e > worst) worst = e;
            if (sparsify(&net, (int32_t)1 << test_range(0, 4))) {
                char sp[240];
                sprintf(sp, "%s, grouped CSR G=%d", what, (int)net.layers[0].sparse.group);
                e = check_net(&net, sp);
                if (e > worst) worst = e;
            } else {
                CHECK(0, "%s: pack to grouped CSR", what);
            }
        }
        free(w); free(b);
        scalpel_net_free(&net);
    }
    {   /* square windows at stride 1 on maps 16 and 32 wide (the implicit im2col on a padded
           copy, every vector width): "same" padding, uneven padding, none */
        static const int32_t pads[3][4] = { { 1, 1, 1, 1 }, { 0, 1, 2, 1 }, { 0, 0, 0, 0 } };
        int32_t q, size;
#ifdef TEST_SMALL_MEMORY
        const int32_t largest = 16; /* boards with a small heap */
#else
        const int32_t largest = 32;
#endif
        for (size = 16; size <= largest; size += 16)
            for (q = 0; q < 3; q++) {
                scalpel_net net;
                scalpel_window win = scalpel_window_square(3, 1, 0);
                float *w = rand_floats(8 * 5 * 9, 0.5f), *b = rand_floats(8, 0.1f);
                char what[96];
                win.pad_top = pads[q][0]; win.pad_left = pads[q][1]; win.pad_bottom = pads[q][2]; win.pad_right = pads[q][3];
                win.kernel_h = win.kernel_w = 3;
                CHECK(scalpel_net_init(5, size + 2 - pads[q][0] - pads[q][2], size + 2 - pads[q][1] - pads[q][3], &net) == SCALPEL_OK &&
                          scalpel_net_add_conv2d_ex(&net, 8, &win, w, b) == SCALPEL_OK && scalpel_net_add_relu(&net) == SCALPEL_OK &&
                          net.layers[0].geom.out_w == size,
                      "conv 3x3 to width %d", (int)size);
                sprintf(what, "conv 3x3 to %dx%d, pads %d,%d,%d,%d", (int)size, (int)size, (int)pads[q][0], (int)pads[q][1],
                        (int)pads[q][2], (int)pads[q][3]);
                check_net(&net, what);
                free(w); free(b);
                scalpel_net_free(&net);
            }
    }
    CHECK(built > 200 && grouped > 50 && depthwise > 30 && dilated > 50 && uneven > 50,
          "coverage: %d built, %d grouped, %d depthwise, %d dilated, %d uneven", built, grouped, depthwise, dilated, uneven);
    printf("conv2d: %d windows (%d grouped, %d depthwise, %d dilated, %d uneven pads), dense and sparse, worst %.2g\n",
           built, grouped, depthwise, dilated, uneven, worst);
}

/* ---- 2. pooling --------------------------------------------------------------------------- */

static void test_pool(void)
{
    int trial, built = 0, ceil_n = 0;
    for (trial = 0; trial < 300; trial++) {
        scalpel_window win = scalpel_window_square(1, 1, 0);
        scalpel_net net;
        scalpel_status st;
        int avg = trial % 2;
        char what[160];
        win.kernel_h = test_range(1, 4); win.kernel_w = test_range(1, 4);
        win.stride_h = test_range(1, 3); win.stride_w = test_range(1, 3);
        win.pad_top = test_range(0, win.kernel_h - 1); win.pad_bottom = test_range(0, win.kernel_h - 1);
        win.pad_left = test_range(0, win.kernel_w - 1); win.pad_right = test_range(0, win.kernel_w - 1);
        win.mode = (test_rand() % 2 ? SCALPEL_POOL_CEIL : 0) | (avg && test_rand() % 2 ? SCALPEL_POOL_COUNT_PADS : 0);
        scalpel_net_init(test_range(1, 3), test_range(1, 11), test_range(1, 11), &net);
        st = avg ? scalpel_net_add_avgpool(&net, &win) : scalpel_net_add_maxpool_ex(&net, &win);
        sprintf(what, "%s %dx%d k %dx%d s %dx%d pad %d,%d,%d,%d mode %d", avg ? "avgpool" : "maxpool", (int)net.in_h,
                (int)net.in_w, (int)win.kernel_h, (int)win.kernel_w, (int)win.stride_h, (int)win.stride_w,
                (int)win.pad_top, (int)win.pad_left, (int)win.pad_bottom, (int)win.pad_right, (int)win.mode);
        if (st == SCALPEL_ERR_SHAPE) {
            CHECK(net.in_h + win.pad_top + win.pad_bottom < win.kernel_h || net.in_w + win.pad_left + win.pad_right < win.kernel_w,
                  "%s: refused as too small", what);
            scalpel_net_free(&net);
            continue;
        }
        CHECK(st == SCALPEL_OK, "%s: build (%s)", what, scalpel_status_string(st));
        if (st == SCALPEL_OK) {
            const scalpel_layer_geom *g = &net.layers[0].geom;
            built++;
            ceil_n += (win.mode & SCALPEL_POOL_CEIL) != 0;
            /* the last window starts inside the input or its top / left padding */
            CHECK((g->out_h - 1) * g->stride_h < g->in_h + g->pad_top && (g->out_w - 1) * g->stride_w < g->in_w + g->pad_left,
                  "%s: last window", what);
            check_net(&net, what);
        }
        scalpel_net_free(&net);
    }
    {   /* global average pooling, and ceil mode against a known size (Caffe's 3x3 s2 on 32) */
        scalpel_net net;
        scalpel_window win = scalpel_window_square(3, 2, 0);
        win.mode = SCALPEL_POOL_CEIL;
        CHECK(scalpel_net_init(4, 7, 5, &net) == SCALPEL_OK && scalpel_net_add_global_avgpool(&net) == SCALPEL_OK &&
                  net.layers[0].geom.out_h == 1 && net.layers[0].geom.out_w == 1,
              "global average pooling");
        check_net(&net, "global avgpool");
        scalpel_net_free(&net);
        CHECK(scalpel_net_init(2, 32, 32, &net) == SCALPEL_OK && scalpel_net_add_maxpool_ex(&net, &win) == SCALPEL_OK &&
                  net.layers[0].geom.out_h == 16 && net.layers[0].geom.out_w == 16,
              "ceil mode: 32 -> 16 (floor gives 15)");
        scalpel_net_free(&net);
    }
    CHECK(built > 150 && ceil_n > 50, "coverage: %d pools, %d ceil", built, ceil_n);
    printf("pooling: %d windows (%d ceil)\n", built, ceil_n);
}

/* ---- 3. batch norm ------------------------------------------------------------------------ */

static void test_batchnorm(void)
{
    enum { C = 5 };
    float mean[C], var[C], gamma[C], beta[C], *w = rand_floats((size_t)C * 3 * 9, 0.5f), *b = rand_floats(C, 0.1f);
    float x[3 * 6 * 6], y1[C * 36], y2[C * 36];
    scalpel_net net, folded;
    int32_t i, n = 0;
    for (i = 0; i < C; i++) {
        mean[i] = test_uniform();
        var[i] = 0.5f + 0.5f * test_uniform();
        gamma[i] = 1.0f + 0.5f * test_uniform();
        beta[i] = 0.2f * test_uniform();
    }
    for (i = 0; i < 3 * 36; i++) x[i] = test_uniform();
    /* conv -> bn -> relu -> bn (after a ReLU: stays) */
    CHECK(scalpel_net_init(3, 6, 6, &net) == SCALPEL_OK &&
              scalpel_net_add_conv2d(&net, C, 3, 1, 1, w, b) == SCALPEL_OK &&
              scalpel_net_add_batchnorm(&net, mean, var, gamma, beta, 1e-5f) == SCALPEL_OK &&
              scalpel_net_add_relu(&net) == SCALPEL_OK &&
              scalpel_net_add_batchnorm(&net, mean, var, NULL, NULL, 1e-3f) == SCALPEL_OK,
          "conv, bn, relu, bn");
    check_net(&net, "batch norm");
    CHECK(fabsf(net.layers[1].params[2] - gamma[2] / sqrtf(var[2] + 1e-5f)) <= 1e-6f &&
              fabsf(net.layers[1].params[C + 2] - (beta[2] - mean[2] * net.layers[1].params[2])) <= 1e-6f,
          "scale and shift from the statistics");
    CHECK(scalpel_net_fold_batchnorm(&net, &folded, &n) == SCALPEL_OK && n == 1 && folded.n_layers == 3 &&
              folded.layers[0].geom.kind == SCALPEL_LAYER_CONV2D && folded.layers[2].geom.kind == SCALPEL_LAYER_BATCHNORM,
          "fold: the batch norm after the conv goes, the one after the ReLU stays (%d folded)", (int)n);
    CHECK(forward(&net, x, 1, y1) && forward(&folded, x, 1, y2) && rel_err(y2, y1, C * 36) <= TOL,
          "folded computes the same, off by %g", rel_err(y2, y1, C * 36));
    scalpel_net_free(&folded);
    scalpel_net_free(&net);
    /* a conv output read by a later add too: folding would change what the add reads */
    CHECK(scalpel_net_init(3, 6, 6, &net) == SCALPEL_OK && scalpel_net_add_conv2d(&net, 3, 3, 1, 1, w, b) == SCALPEL_OK &&
              scalpel_net_add_batchnorm(&net, mean, var, gamma, beta, 1e-5f) == SCALPEL_OK &&
              scalpel_net_add_add(&net, 0) == SCALPEL_OK && scalpel_net_fold_batchnorm(&net, &folded, &n) == SCALPEL_OK &&
              n == 0 && folded.n_layers == 3,
          "no fold when the conv output is read elsewhere");
    check_net(&folded, "unfolded copy");
    scalpel_net_free(&folded);
    scalpel_net_free(&net);
    /* a fold in the middle renumbers the skips after it */
    CHECK(scalpel_net_init(3, 6, 6, &net) == SCALPEL_OK && scalpel_net_add_conv2d(&net, 3, 3, 1, 1, w, b) == SCALPEL_OK &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && scalpel_net_add_conv2d(&net, 3, 3, 1, 1, w, b) == SCALPEL_OK &&
              scalpel_net_add_batchnorm_affine(&net, gamma, beta) == SCALPEL_OK && scalpel_net_add_add(&net, 1) == SCALPEL_OK &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && scalpel_net_fold_batchnorm(&net, &folded, &n) == SCALPEL_OK &&
              n == 1 && folded.n_layers == 5 && folded.layers[3].geom.kind == SCALPEL_LAYER_ADD && folded.layers[3].geom.from2 == 1,
          "residual block: the batch norm folds, the add still reads the first ReLU");
    CHECK(forward(&net, x, 1, y1) && forward(&folded, x, 1, y2) && rel_err(y2, y1, 3 * 36) <= TOL,
          "residual block folded computes the same, off by %g", rel_err(y2, y1, 3 * 36));
    scalpel_net_free(&folded);
    if (sparsify(&net, 4)) { /* sparse stays sparse */
        CHECK(scalpel_net_fold_batchnorm(&net, &folded, &n) == SCALPEL_OK && n == 1 &&
                  folded.layers[2].storage == SCALPEL_STORAGE_GCSR && folded.layers[2].sparse.group == 4,
              "a grouped-CSR layer stays grouped after folding");
        CHECK(forward(&net, x, 1, y1) && forward(&folded, x, 1, y2) && rel_err(y2, y1, 3 * 36) <= TOL, "sparse fold");
        scalpel_net_free(&folded);
    }
    scalpel_net_free(&net);
    var[0] = 0.0f;
    CHECK(scalpel_net_init(3, 6, 6, &net) == SCALPEL_OK &&
              scalpel_net_add_batchnorm(&net, mean, var, NULL, NULL, 0.0f) == SCALPEL_ERR_ARGUMENT && net.n_layers == 0,
          "a zero variance with eps 0 is refused");
    var[0] = -1.0f;
    CHECK(scalpel_net_add_batchnorm(&net, mean, var, NULL, NULL, 0.5f) == SCALPEL_ERR_ARGUMENT, "variance + eps <= 0");
    scalpel_net_free(&net);
    free(w); free(b);
    printf("batch norm: standalone, folded where exact\n");
}

/* ---- 4. joins ----------------------------------------------------------------------------- */

static void test_joins(void)
{
    float *w = rand_floats(4 * 4 * 9, 0.4f), *b = rand_floats(4, 0.1f), *w2 = rand_floats(6 * 4, 0.4f);
    scalpel_net net;
    /* conv -> relu -> conv -> add(the relu) -> relu -> concat(network input... no: the first conv)
       -> conv 1x1 -> global avg -> fc -> softmax */
    CHECK(scalpel_net_init(4, 7, 7, &net) == SCALPEL_OK && scalpel_net_add_conv2d(&net, 4, 3, 1, 1, w, b) == SCALPEL_OK &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && scalpel_net_add_conv2d(&net, 4, 3, 1, 1, w, b) == SCALPEL_OK &&
              scalpel_net_add_add(&net, 1) == SCALPEL_OK && scalpel_net_add_relu(&net) == SCALPEL_OK &&
              scalpel_net_add_concat(&net, 0) == SCALPEL_OK && net.layers[5].geom.out_c == 8 &&
              scalpel_net_add_concat(&net, -1) == SCALPEL_OK && net.layers[6].geom.out_c == 12 &&
              scalpel_net_add_global_avgpool(&net) == SCALPEL_OK && scalpel_net_add_layer(&net, SCALPEL_LAYER_FC, 2, 0, 0, 0, w2, b) == SCALPEL_OK &&
              scalpel_net_add_softmax(&net) == SCALPEL_OK,
          "residual and concat network");
    check_net(&net, "joins");
    {   /* the add reading the input twice (from and from2), and the input and a later tensor */
        scalpel_net n2;
        CHECK(scalpel_net_init(2, 3, 3, &n2) == SCALPEL_OK && scalpel_net_add_add(&n2, -1) == SCALPEL_OK &&
                  scalpel_net_add_relu(&n2) == SCALPEL_OK && scalpel_net_set_next_input(&n2, -1) == SCALPEL_OK &&
                  scalpel_net_add_add(&n2, 1) == SCALPEL_OK,
              "adds of the input");
        check_net(&n2, "adds of the input");
        scalpel_net_free(&n2);
    }
    /* refusals */
    CHECK(scalpel_net_add_add(&net, 0) == SCALPEL_ERR_SHAPE, "add of different shapes");
    CHECK(scalpel_net_add_add(&net, 99) == SCALPEL_ERR_ARGUMENT && scalpel_net_add_add(&net, -2) == SCALPEL_ERR_ARGUMENT,
          "add of a layer that does not exist");
    CHECK(scalpel_net_add_concat(&net, 0) == SCALPEL_ERR_SHAPE, "concat of different sizes");
    CHECK(scalpel_net_first_unsupported(&net, SCALPEL_USE_TRAINING) == 3 &&
              scalpel_net_first_unsupported(&net, SCALPEL_USE_GPU) == 3 &&
              scalpel_net_first_unsupported(&net, SCALPEL_USE_NODE_REMOVAL) == -1,
          "the first layer training and the GPU do not take: the add; node removal takes every layer");
    scalpel_net_free(&net);
    free(w); free(b); free(w2);
    printf("joins: add, concat, skips\n");
}

/* ---- 5. elementwise, softmax, LRN --------------------------------------------------------- */

static void test_elementwise(void)
{
    scalpel_net net;
    float *w = rand_floats(6 * 3, 1.0f), *b = rand_floats(6, 0.5f);
    /* large inputs through every function: exp and tanh saturate, the clips bite */
    CHECK(scalpel_net_init(3, 5, 4, &net) == SCALPEL_OK && scalpel_net_add_layer(&net, SCALPEL_LAYER_CONV2D, 6, 1, 1, 0, w, b) == SCALPEL_OK &&
              scalpel_net_add_relu6(&net) == SCALPEL_OK && scalpel_net_add_clip(&net, -0.5f, 0.75f) == SCALPEL_OK &&
              scalpel_net_set_next_input(&net, 0) == SCALPEL_OK && scalpel_net_add_leaky_relu(&net, 0.1f) == SCALPEL_OK &&
              scalpel_net_add_hardswish(&net) == SCALPEL_OK && scalpel_net_add_sigmoid(&net) == SCALPEL_OK &&
              scalpel_net_set_next_input(&net, 0) == SCALPEL_OK && scalpel_net_add_tanh(&net) == SCALPEL_OK &&
              scalpel_net_add_softmax(&net) == SCALPEL_OK && scalpel_net_add_lrn(&net, 3, 1e-2f, 0.75f, 2.0f, 0) == SCALPEL_OK &&
              scalpel_net_add_lrn(&net, 5, 5e-2f, 0.75f, 1.0f, SCALPEL_LRN_WITHIN_CHANNEL) == SCALPEL_OK,
          "elementwise chain");
    check_net(&net, "elementwise");
    {   /* each elementwise kind as a network's output, 3 x 5 x 5 values (vectors and a tail),
           with a residual add (plain, ReLU fused, clip fused) and a batch norm */
        int32_t kind;
        for (kind = 0; kind < 8; kind++) {
            scalpel_net one;
            char what[64];
            float sc[3] = { 1.5f, -0.5f, 0.25f }, sh[3] = { 0.5f, -1.0f, 2.0f };
            int ok = scalpel_net_init(3, 5, 5, &one) == SCALPEL_OK &&
                     scalpel_net_add_layer(&one, SCALPEL_LAYER_CONV2D, 3, 1, 1, 0, w, b) == SCALPEL_OK;
            switch (kind) {
            case 0: ok = ok && scalpel_net_add_clip(&one, -0.5f, 0.75f) == SCALPEL_OK; break;
            case 1: ok = ok && scalpel_net_add_leaky_relu(&one, 0.1f) == SCALPEL_OK; break;
            case 2: ok = ok && scalpel_net_add_hardswish(&one) == SCALPEL_OK; break;
            case 3: ok = ok && scalpel_net_add_sigmoid(&one) == SCALPEL_OK; break;
            case 4: ok = ok && scalpel_net_add_tanh(&one) == SCALPEL_OK; break;
            case 5: ok = ok && scalpel_net_add_batchnorm_affine(&one, sc, sh) == SCALPEL_OK; break;
            case 6: ok = ok && scalpel_net_add_add(&one, -1) == SCALPEL_OK; break;
            default: ok = ok && scalpel_net_add_add(&one, -1) == SCALPEL_OK && scalpel_net_add_relu(&one) == SCALPEL_OK; break;
            }
            sprintf(what, "elementwise kind %d alone", (int)kind);
            CHECK(ok, "%s: built", what);
            check_net(&one, what);
            scalpel_net_free(&one);
        }
    }
    CHECK(scalpel_net_add_clip(&net, 1.0f, 0.0f) == SCALPEL_ERR_ARGUMENT, "clip lo > hi");
    CHECK(scalpel_net_add_clip(&net, 0.0f, INFINITY) == SCALPEL_ERR_ARGUMENT, "clip to infinity");
    CHECK(scalpel_net_add_leaky_relu(&net, NAN) == SCALPEL_ERR_ARGUMENT, "slope NaN");
    CHECK(scalpel_net_add_lrn(&net, 4, 1e-4f, 0.75f, 1.0f, 0) == SCALPEL_ERR_ARGUMENT, "LRN of even size");
    CHECK(scalpel_net_add_lrn(&net, 3, 1e-4f, 0.75f, 0.0f, 0) == SCALPEL_ERR_ARGUMENT, "LRN with k = 0");
    CHECK(scalpel_net_add_lrn(&net, 3, 1e-4f, 0.75f, 1.0f, 2) == SCALPEL_ERR_ARGUMENT, "LRN mode 2");
    scalpel_net_free(&net);
    {   /* a clip after fc (batch 1 and the batched path), after conv and after add runs inside
           their output pass */
        scalpel_net n2;
        float *wf = rand_floats(8 * 60, 1.0f), *bf = rand_floats(8, 0.5f);
        CHECK(scalpel_net_init(3, 5, 4, &n2) == SCALPEL_OK &&
                  scalpel_net_add_layer(&n2, SCALPEL_LAYER_CONV2D, 3, 1, 1, 0, wf, bf) == SCALPEL_OK &&
                  scalpel_net_add_clip(&n2, -0.3f, 0.4f) == SCALPEL_OK && scalpel_net_add_add(&n2, -1) == SCALPEL_OK &&
                  scalpel_net_add_relu6(&n2) == SCALPEL_OK && scalpel_net_add_fc(&n2, 8, wf, bf) == SCALPEL_OK &&
                  scalpel_net_add_clip(&n2, -0.25f, 0.5f) == SCALPEL_OK,
              "fused clips");
        check_net(&n2, "fused clips");
        scalpel_net_free(&n2);
        free(wf); free(bf);
    }
    {   /* LRN across many channels: the running window sum against the reference */
        scalpel_net n2;
        CHECK(scalpel_net_init(150, 2, 2, &n2) == SCALPEL_OK && scalpel_net_add_lrn(&n2, 5, 1e-2f, 0.75f, 1.0f, 0) == SCALPEL_OK,
              "LRN over 150 channels");
        check_net(&n2, "LRN 150 channels");
        scalpel_net_free(&n2);
    }
    free(w); free(b);
    {   /* the LRN kernels on their own: every beta path (the square roots for 0.75, 0.5 and 1,
           pow otherwise), sizes 1 to 7, planes with vector tails */
        static const float betas[5] = { 0.75f, 0.5f, 1.0f, 0.6f, 0.0f };
        int32_t C, size, bi;
        size_t plane;
        for (bi = 0; bi < 5; bi++)
            for (size = 1; size <= 7; size += 2)
                for (C = 1; C <= 9; C += 4)
                    for (plane = 1; plane <= 37; plane += 12) {
                        size_t n = (size_t)C * plane;
                        float *x = rand_floats(n, 3.0f), *y = (float *)malloc(n * sizeof(float)), *r = (float *)malloc(n * sizeof(float));
                        scalpel_lrn_across_f32(x, C, plane, size, 0.3f, betas[bi], 1.5f, y);
                        scalpel_lrn_across_f32_ref(x, C, plane, size, 0.3f, betas[bi], 1.5f, r);
                        CHECK(rel_err(y, r, n) <= TOL, "lrn kernel beta %g size %d C %d plane %d: %g", betas[bi], (int)size,
                              (int)C, (int)plane, rel_err(y, r, n));
                        free(x); free(y); free(r);
                    }
    }
    {   /* the pooling kernel on its own against its _ref: every op, windows up to 5 x 5, strides
           1 to 3, padding on each side up to the window's half, maps with vector tails */
        int32_t op, kh, kw, st, pt, pl, pb, pr, cases = 0;
        for (op = 0; op < 4; op++)
            for (kh = 1; kh <= 5; kh += 2)
                for (kw = 1; kw <= 5; kw += 2)
                    for (st = 1; st <= 3; st++)
                        for (pt = 0; pt <= kh / 2; pt++) {
                            scalpel_conv_window win;
                            int32_t h = 7 + (int32_t)(test_rand() % 13u), w = 3 + (int32_t)(test_rand() % 21u), c = 3, oh, ow;
                            float *x, *y, *r, *scr;
                            pl = kw / 2; pb = pt; pr = (kw / 2 + st) % (kw / 2 + 1);
                            win.kh = kh; win.kw = kw; win.sh = st; win.sw = (st % 3) + 1; win.pt = pt; win.pl = pl;
                            win.dh = win.dw = 1;
                            oh = (h + pt + pb - kh) / win.sh + 1;
                            ow = (w + pl + pr - kw) / win.sw + 1;
                            x = rand_floats((size_t)c * (size_t)h * (size_t)w, 2.0f);
                            y = (float *)malloc((size_t)c * (size_t)oh * (size_t)ow * sizeof(float));
                            r = (float *)malloc((size_t)c * (size_t)oh * (size_t)ow * sizeof(float));
                            scr = (float *)malloc(scalpel_pool_window_f32_scratch(&win, oh, ow) * sizeof(float));
                            scalpel_pool_window_f32(x, c, h, w, &win, pb, pr, op, oh, ow, scr, y);
                            scalpel_pool_window_f32_ref(x, c, h, w, &win, pb, pr, op, oh, ow, r);
                            CHECK(rel_err(y, r, (size_t)c * (size_t)oh * (size_t)ow) <= TOL,
                                  "pool kernel op %d %dx%d stride %dx%d pads %d,%d,%d,%d on %dx%d: %g", (int)op, (int)kh, (int)kw,
                                  (int)win.sh, (int)win.sw, (int)pt, (int)pl, (int)pb, (int)pr, (int)h, (int)w,
                                  rel_err(y, r, (size_t)c * (size_t)oh * (size_t)ow));
                            free(x); free(y); free(r); free(scr);
                            cases++;
                        }
        CHECK(cases >= 200, "pool kernel cases: %d", (int)cases);
        for (op = 0; op < 4; op++) { /* one window: DS-CNN's 24 x 5 average on 25 x 5, a padded 3 x 3 on 2 x 2 */
            static const scalpel_conv_window one[2] = { { 24, 5, 24, 5, 0, 0, 1, 1 }, { 3, 3, 2, 2, 1, 1, 1, 1 } };
            static const int32_t hw[2][2] = { { 25, 5 }, { 2, 2 } };
            int32_t q;
            for (q = 0; q < 2; q++) {
                float *x = rand_floats((size_t)4 * (size_t)hw[q][0] * (size_t)hw[q][1], 2.0f), y[4], r[4];
                float *scr = (float *)malloc(scalpel_pool_window_f32_scratch(&one[q], 1, 1) * sizeof(float));
                scalpel_pool_window_f32(x, 4, hw[q][0], hw[q][1], &one[q], 0, 0, op, 1, 1, scr, y);
                scalpel_pool_window_f32_ref(x, 4, hw[q][0], hw[q][1], &one[q], 0, 0, op, 1, 1, r);
                CHECK(rel_err(y, r, 4) <= TOL, "pool kernel, one window %d, op %d: %g", (int)q, (int)op, rel_err(y, r, 4));
                free(x); free(scr);
            }
        }
    }
    printf("elementwise, softmax, lrn\n");
}

/* ---- 6. model files and the parts that refuse what they do not take -------------------------- */

static scalpel_status build_all(scalpel_net *net)
{
    scalpel_window win = scalpel_window_square(3, 1, 0);
    float *w = rand_floats(8 * 2 * 12, 0.4f), *b = rand_floats(8, 0.1f), sc[8], sh[8];
    scalpel_status st;
    int i;
    for (i = 0; i < 8; i++) { sc[i] = 1.0f + 0.1f * test_uniform(); sh[i] = 0.1f * test_uniform(); }
    win.kernel_h = 3; win.kernel_w = 2; win.pad_top = 1; win.pad_bottom = 1; win.pad_right = 1; win.groups = 2;
    st = scalpel_net_init(4, 9, 8, net);
    if (st == SCALPEL_OK) st = scalpel_net_add_conv2d_ex(net, 8, &win, w, b);
    if (st == SCALPEL_OK) st = scalpel_net_add_batchnorm_affine(net, sc, sh);
    if (st == SCALPEL_OK) st = scalpel_net_add_relu6(net);
    win = scalpel_window_square(3, 2, 1);
    win.mode = SCALPEL_POOL_CEIL | SCALPEL_POOL_COUNT_PADS;
    if (st == SCALPEL_OK) st = scalpel_net_add_avgpool(net, &win);
    if (st == SCALPEL_OK) st = scalpel_net_add_lrn(net, 3, 1e-3f, 0.75f, 1.0f, 0);
    if (st == SCALPEL_OK) st = scalpel_net_add_add(net, 3);
    if (st == SCALPEL_OK) st = scalpel_net_add_concat(net, 3);
    if (st == SCALPEL_OK) st = scalpel_net_add_hardswish(net);
    if (st == SCALPEL_OK) st = scalpel_net_add_fc(net, 5, NULL, NULL);
    if (st == SCALPEL_OK) st = scalpel_net_add_softmax(net);
    free(w); free(b);
    return st;
}

static void test_file(void)
{
    scalpel_net net, v;
    unsigned char *buf, *p;
    size_t n, written = 0;
    float x[4 * 9 * 8], y1[5], y2[5];
    int i;
    CHECK(build_all(&net) == SCALPEL_OK, "a network of the new kinds");
    check_net(&net, "all kinds");
    n = scalpel_net_serialized_size(&net);
    buf = (unsigned char *)malloc(n + 64);
    p = buf + ((64 - (uintptr_t)buf % 64) % 64);
    for (i = 0; i < 4 * 9 * 8; i++) x[i] = test_uniform();
    CHECK(n > 0 && scalpel_net_serialize(&net, p, n, &written) == SCALPEL_OK && written == n && p[4] == 3 &&
              scalpel__get_u32(p + 8) == 224,
          "written as version 3 with 224-byte records");
    CHECK(scalpel_net_view(p, n, &v) == SCALPEL_OK && v.n_layers == net.n_layers && forward(&net, x, 1, y1) &&
              forward(&v, x, 1, y2) && memcmp(y1, y2, sizeof y1) == 0 &&
              memcmp(&v.layers[0].geom, &net.layers[0].geom, sizeof(scalpel_layer_geom)) == 0,
          "the view computes the same bits");
    scalpel_net_free(&v);
    {   /* hostile: every field of the new part of a record, one at a time */
        static const struct { unsigned off, value; const char *what; } bad[] = {
            { 152, 0, "kernel_h 0" }, { 160, 0, "stride_h 0" }, { 168, 5, "pad_top past the kernel" },
            { 184, 0, "dilation 0" }, { 192, 3, "groups not dividing" }, { 196, 8, "unknown mode bit" },
            { 132, 1, "from2 on a conv" }, { 212, 1, "reserved byte" }, { 8, 3, "version 2 kernel field" },
            { 200, 0x7fc00000u, "alpha NaN" }, { 4, 7, "outputs not a multiple of groups" } };
        size_t k;
        unsigned char *q = (unsigned char *)malloc(n + 64), *c = q + ((64 - (uintptr_t)q % 64) % 64);
        for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            scalpel_status st;
            memcpy(c, p, n);
            scalpel__put_u32(c + 64 + bad[k].off, bad[k].value);
            scalpel__put_u32(c + n - 4, scalpel_crc32(0, c, n - 4));
            st = scalpel_net_view(c, n, &v);
            CHECK(st == SCALPEL_ERR_CORRUPT && v.n_layers == 0, "%s refused (%s)", bad[k].what, scalpel_status_string(st));
        }
        /* the batch norm's params: a NaN, and a size that is not 2 * C * 4 */
        memcpy(c, p, n);
        scalpel__put_u32(c + n - 4, 0);
        {
            uint64_t poff = scalpel__get_u64(c + 64 + 224 + 136);
            scalpel__put_u32(c + poff, 0x7f800000u);
            scalpel__put_u32(c + n - 4, scalpel_crc32(0, c, n - 4));
            CHECK(scalpel_net_view(c, n, &v) == SCALPEL_ERR_CORRUPT, "batch norm scale infinite");
            memcpy(c, p, n);
            scalpel__put_u64(c + 64 + 224 + 144, 60);
            scalpel__put_u32(c + n - 4, scalpel_crc32(0, c, n - 4));
            CHECK(scalpel_net_view(c, n, &v) == SCALPEL_ERR_CORRUPT, "batch norm params of the wrong size");
            memcpy(c, p, n);
            scalpel__put_u32(c + 64 + 6 * 224 + 132, 7); /* the add reading before the input */
            scalpel__put_u32(c + n - 4, scalpel_crc32(0, c, n - 4));
            CHECK(scalpel_net_view(c, n, &v) == SCALPEL_ERR_CORRUPT, "from2 before the network input");
            memcpy(c, p, n);
            scalpel__put_u32(c + 64 + 6 * 224 + 132, 6); /* the add reading the input: other shape */
            scalpel__put_u32(c + n - 4, scalpel_crc32(0, c, n - 4));
            CHECK(scalpel_net_view(c, n, &v) == SCALPEL_ERR_CORRUPT, "add of a tensor of another shape");
        }
        free(q);
    }
    free(buf);
    /* the parts that do not take the new kinds yet say so */
    {
        scalpel_quant_options opt;
        scalpel_qnet q;
        scalpel_trainer tr;
        scalpel_net out;
        memset(&opt, 0, sizeof(opt));
        opt.dtype = SCALPEL_DTYPE_Q15;
        {   /* fixed point takes every kind but softmax and LRN: refused, naming the first of those */
            int32_t i, first = -1;
            for (i = net.n_layers - 1; i >= 0; i--)
                if (net.layers[i].geom.kind == SCALPEL_LAYER_SOFTMAX || net.layers[i].geom.kind == SCALPEL_LAYER_LRN) first = i;
            if (first >= 0)
                CHECK(scalpel_qnet_quantize(&net, &opt, x, 1, &q) == SCALPEL_ERR_UNSUPPORTED &&
                          scalpel_net_first_unsupported(&net, SCALPEL_USE_FIXED_POINT) == first,
                      "fixed point refuses softmax / LRN, naming layer %d", (int)first);
            else
                CHECK(scalpel_qnet_quantize(&net, &opt, x, 1, &q) == SCALPEL_OK &&
                          scalpel_net_first_unsupported(&net, SCALPEL_USE_FIXED_POINT) == -1,
                      "fixed point takes every kind of this network");
            scalpel_qnet_free(&q);
        }
        CHECK(scalpel_trainer_init(&net, 4, NULL, &tr) == SCALPEL_ERR_UNSUPPORTED, "training refuses");
        CHECK(scalpel_net_remove_dead_nodes(&net, NULL, &out, NULL) == SCALPEL_OK && out.n_layers == net.n_layers,
              "dead-node removal takes every kind");
        scalpel_net_free(&out);
#ifndef TEST_NO_FILES
        CHECK(scalpel_net_export_c(&net, "allkinds", out_path("allkinds.h")) == SCALPEL_OK, "C export takes every kind");
#endif
    }
    scalpel_net_free(&net);
    {   /* a network of first-version layers is still written as version 2 */
        float w[2 * 9] = { 0 }, bb[2] = { 0 };
        unsigned char small[4096];
        CHECK(scalpel_net_init(1, 5, 5, &net) == SCALPEL_OK && scalpel_net_add_conv2d(&net, 2, 3, 1, 1, w, bb) == SCALPEL_OK &&
                  scalpel_net_add_maxpool(&net, 2, 2) == SCALPEL_OK && scalpel_net_serialize(&net, small, sizeof small, &written) == SCALPEL_OK &&
                  small[4] == 2 && scalpel__get_u32(small + 8) == 144,
              "first-version network: version 2");
        scalpel_net_free(&net);
    }
    printf("model files: version 3, hostile fields refused\n");
}

/* ---- 7. bad parameters -------------------------------------------------------------------- */

static void test_refusals(void)
{
    scalpel_net net;
    scalpel_window win = scalpel_window_square(3, 1, 1);
    scalpel_net_init(4, 8, 8, &net);
    win.groups = 3;
    CHECK(scalpel_net_add_conv2d_ex(&net, 6, &win, NULL, NULL) == SCALPEL_ERR_SHAPE, "groups not dividing in_c");
    win.groups = 2;
    CHECK(scalpel_net_add_conv2d_ex(&net, 5, &win, NULL, NULL) == SCALPEL_ERR_SHAPE, "groups not dividing out_c");
    win = scalpel_window_square(3, 1, 3);
    CHECK(scalpel_net_add_conv2d_ex(&net, 4, &win, NULL, NULL) == SCALPEL_ERR_ARGUMENT, "pad = kernel");
    win = scalpel_window_square(3, 1, 1);
    win.dilation_h = 0;
    CHECK(scalpel_net_add_conv2d_ex(&net, 4, &win, NULL, NULL) == SCALPEL_ERR_ARGUMENT, "dilation 0");
    win = scalpel_window_square(3, 1, 1);
    win.mode = SCALPEL_POOL_CEIL;
    CHECK(scalpel_net_add_conv2d_ex(&net, 4, &win, NULL, NULL) == SCALPEL_ERR_ARGUMENT, "ceil mode on a conv");
    win = scalpel_window_square(2, 2, 0);
    win.dilation_w = 2;
    CHECK(scalpel_net_add_maxpool_ex(&net, &win) == SCALPEL_ERR_ARGUMENT, "dilated pooling");
    win = scalpel_window_square(2, 2, 0);
    win.mode = SCALPEL_POOL_COUNT_PADS;
    CHECK(scalpel_net_add_maxpool_ex(&net, &win) == SCALPEL_ERR_ARGUMENT, "count pads on max pooling");
    win = scalpel_window_square(9, 1, 0);
    CHECK(scalpel_net_add_avgpool(&net, &win) == SCALPEL_ERR_SHAPE, "window larger than the map");
    CHECK(scalpel_net_add_conv2d_ex(&net, 4, NULL, NULL, NULL) == SCALPEL_ERR_NULL, "no window");
    CHECK(net.n_layers == 0, "nothing appended by a refusal");
    {   /* a grouped conv takes no hybrid (its groups run apart) */
        scalpel_hybrid h;
        memset(&h, 0, sizeof(h));
        win = scalpel_window_square(1, 1, 0);
        win.groups = 2;
        CHECK(scalpel_net_add_conv2d_ex(&net, 4, &win, NULL, NULL) == SCALPEL_OK &&
                  scalpel_net_set_hybrid(&net, 0, &h) == SCALPEL_ERR_UNSUPPORTED,
              "hybrid refused on a grouped conv");
    }
    scalpel_net_free(&net);
    printf("refusals\n");
}

/* ---- 8. .npy arrays ------------------------------------------------------------------------ */

static void test_npy(void)
{
    char path[1024];
    int64_t shape[4] = { 2, 3, 1, 5 };
    float data[30];
    scalpel_npy a;
    int i;
    for (i = 0; i < 30; i++) data[i] = test_uniform();
#ifndef TEST_NO_FILES
    snprintf(path, sizeof path, "%s", out_path("ops_array.npy"));
    CHECK(scalpel_npy_save(path, data, 4, shape) == SCALPEL_OK && scalpel_npy_load(path, &a) == SCALPEL_OK &&
              a.ndim == 4 && a.shape[0] == 2 && a.shape[3] == 5 && a.count == 30 && memcmp(a.data, data, sizeof data) == 0,
          "npy round trip");
    scalpel_npy_free(&a);
#else
    (void)path; (void)shape;
#endif
    {
        static const struct { const char *header; scalpel_status want; } cases[] = {
            { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", SCALPEL_OK },
            { "{\"shape\": (6,), \"fortran_order\": False, \"descr\": \"<f4\"}", SCALPEL_OK },
            { "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", SCALPEL_ERR_DTYPE },
            { "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", SCALPEL_ERR_DTYPE },
            { "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", SCALPEL_ERR_UNSUPPORTED },
            { "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", SCALPEL_ERR_UNSUPPORTED },
            { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", SCALPEL_ERR_TRUNCATED },
            { "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", SCALPEL_ERR_CORRUPT },
            { "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", SCALPEL_ERR_OVERFLOW },
            { "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", SCALPEL_ERR_OVERFLOW },
            { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", SCALPEL_ERR_CORRUPT },
            { "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", SCALPEL_ERR_CORRUPT },
            { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", SCALPEL_ERR_CORRUPT },
            { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, }", SCALPEL_ERR_CORRUPT },
            { "{'descr': '<f4', 'fortran_order': Fals, 'shape': (6,)}", SCALPEL_ERR_CORRUPT },
            { "['descr']", SCALPEL_ERR_CORRUPT },
            { "{'descr': '<f4', 'fortran_order': False, 'shape':", SCALPEL_ERR_CORRUPT }, /* found by fuzz_npy */
            { "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,6), }", SCALPEL_ERR_UNSUPPORTED } };
        size_t k;
        for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            unsigned char file[512];
            size_t hl = strlen(cases[k].header), total = 10 + hl + 1 + 24;
            scalpel_status st;
            memcpy(file, "\x93NUMPY\x01\x00", 8);
            scalpel__put_u16(file + 8, (uint16_t)(hl + 1));
            memcpy(file + 10, cases[k].header, hl);
            file[10 + hl] = '\n';
            for (i = 0; i < 6; i++) memcpy(file + 10 + hl + 1 + 4 * i, &data[i], 4);
            st = scalpel_npy_parse(file, total, &a);
            CHECK(st == cases[k].want, "npy header %s: %s (want %s)", cases[k].header, scalpel_status_string(st),
                  scalpel_status_string(cases[k].want));
            scalpel_npy_free(&a);
            if (cases[k].want == SCALPEL_OK) { /* every shorter prefix is refused */
                size_t cut;
                for (cut = 0; cut < total; cut++) {
                    st = scalpel_npy_parse(file, cut, &a);
                    CHECK(st != SCALPEL_OK && a.data == NULL, "prefix of %lu bytes refused", (unsigned long)cut);
                    scalpel_npy_free(&a);
                }
            }
        }
    }
    CHECK(scalpel_npy_parse("\x93NUMPY\x04\x00\x00\x00", 10, &a) == SCALPEL_ERR_VERSION, "npy version 4");
    CHECK(scalpel_npy_parse("PK\x03\x04zipfile", 10, &a) == SCALPEL_ERR_MAGIC, "npz is no npy");
#ifndef TEST_NO_FILES
    CHECK(scalpel_npy_load(out_path("no-such-file.npy"), &a) == SCALPEL_ERR_NOT_FOUND, "missing file");
#endif
    printf("npy arrays\n");
}

/* ---- 9. node removal across coupled channels ------------------------------------------------ */

/* Tolerance of a reduced network against the original: 1e-4 of the largest output. The two
 * compute the same sums except that the removed terms are gone and the constants of removed
 * channels enter through folded biases (summed in double, rounded once); float summation of
 * at most 576 terms per output here errs by 576 * 2^-24 ~ 3.4e-5 of the terms' magnitudes,
 * and each network's outputs are within a few times its terms. */
#define TOL_REMOVAL 1e-4

/* Zeroes the weights of row r of (dense) weighted layer i, and its bias too when asked. */
static void zero_row(scalpel_net *net, int32_t i, int32_t r, int with_bias)
{
    scalpel_layer *L = &net->layers[i];
    memset((float *)(uintptr_t)L->w + (size_t)r * (size_t)L->geom.cols, 0, (size_t)L->geom.cols * sizeof(float));
    if (with_bias) ((float *)(uintptr_t)L->b)[r] = 0.0f;
}

/* The largest relative difference of a's and b's outputs on random inputs, batch 3. */
static double same_outputs(const scalpel_net *a, const scalpel_net *b)
{
    int32_t in_n = scalpel_net_input_size(a), out_n = scalpel_net_output_size(a);
    float *x = rand_floats((size_t)3 * (size_t)in_n, 1.0f);
    float *ya = (float *)malloc((size_t)3 * (size_t)out_n * sizeof(float));
    float *yb = (float *)malloc((size_t)3 * (size_t)out_n * sizeof(float));
    double e = 1.0;
    if (scalpel_net_output_size(b) == out_n && scalpel_net_input_size(b) == in_n && forward(a, x, 3, ya) &&
        forward(b, x, 3, yb))
        e = rel_err(yb, ya, (size_t)3 * (size_t)out_n);
    free(x); free(ya); free(yb);
    return e;
}

static size_t weight_count(const scalpel_net *net)
{
    size_t n = 0;
    int32_t i;
    for (i = 0; i < net->n_layers; i++) n += (size_t)net->layers[i].geom.rows * (size_t)net->layers[i].geom.cols;
    return n;
}

/* A window of size k, stride s, padding p on every side, and groups g. */
static scalpel_window win_of(int32_t k, int32_t s, int32_t p, int32_t g)
{
    scalpel_window w = scalpel_window_square(k, s, p);
    w.groups = g;
    return w;
}

/* conv with random weights (He-like scale) and biases */
static int add_conv(scalpel_net *net, int32_t out, int32_t k, int32_t s, int32_t p, int32_t g)
{
    scalpel_window win = win_of(k, s, p, g);
    int32_t in_c = net->n_layers ? net->layers[net->n_layers - 1].geom.out_c : net->in_c;
    size_t cols = (size_t)(in_c / g) * (size_t)k * (size_t)k;
    float *w = rand_floats((size_t)out * cols, 1.5f / (float)sqrt((double)cols)), *b = rand_floats((size_t)out, 0.3f);
    int ok = scalpel_net_add_conv2d_ex(net, out, &win, w, b) == SCALPEL_OK;
    free(w); free(b);
    return ok;
}

static int add_bn(scalpel_net *net)
{
    int32_t C = net->layers[net->n_layers - 1].geom.out_c, c;
    float *sc = rand_floats((size_t)C, 0.5f), *sh = rand_floats((size_t)C, 0.5f);
    int ok;
    for (c = 0; c < C; c++) sc[c] += 1.0f;
    ok = scalpel_net_add_batchnorm_affine(net, sc, sh) == SCALPEL_OK;
    free(sc); free(sh);
    return ok;
}

/* The network of test_removal_masks, the same weights every time. */
static int build_mask_net(scalpel_net *net)
{
    scalpel_window pool = scalpel_window_square(2, 2, 1);
    float w[4 * 6], b[4];
    int32_t i;
    int ok;
    test_rng_state = 0x5EED0F11ull;
    /* 0 conv 8 / 1 bn / 2 relu / 3 depthwise x2 (16) / 4 relu6 / 5 conv 1x1 8 / 6 bn / 7 add(2) /
       8 relu / 9 concat(2) (16) / 10 maxpool 2 pad 1 / 11 conv 1x1 6 / 12 global avg / 13 fc 4 */
    ok = scalpel_net_init(3, 9, 9, net) == SCALPEL_OK && add_conv(net, 8, 3, 1, 1, 1) && add_bn(net) &&
         scalpel_net_add_relu(net) == SCALPEL_OK && add_conv(net, 16, 3, 1, 1, 8) &&
         scalpel_net_add_relu6(net) == SCALPEL_OK && add_conv(net, 8, 1, 1, 0, 1) && add_bn(net) &&
         scalpel_net_add_add(net, 2) == SCALPEL_OK && scalpel_net_add_relu(net) == SCALPEL_OK &&
         scalpel_net_add_concat(net, 2) == SCALPEL_OK && scalpel_net_add_maxpool_ex(net, &pool) == SCALPEL_OK &&
         add_conv(net, 6, 1, 1, 0, 1) && scalpel_net_add_global_avgpool(net) == SCALPEL_OK;
    for (i = 0; i < 24; i++) w[i] = 0.3f * test_uniform();
    for (i = 0; i < 4; i++) b[i] = 0.1f * test_uniform();
    return ok && scalpel_net_add_fc(net, 4, w, b) == SCALPEL_OK;
}

/* Masks: the coupled sets go together, a mask of NULL has no say, masks that disagree over a
 * set are refused, and so is removing what a grouped conv, an LRN across channels or the
 * output reads. The reduced network computes what the original computes with the removed
 * channels at zero in every tensor: checked against a copy with those rows, biases and batch
 * norm entries zeroed (every kind on the way maps 0 to 0). */
static void test_removal_masks(void)
{
    scalpel_net net, oracle, small;
    uint8_t mask_a[8] = { 1, 0, 1, 1, 1, 0, 1, 1 }, mask_b[8], mask_x[8];
    const uint8_t *keep[16];
    int32_t i, c;
    CHECK(build_mask_net(&net) && build_mask_net(&oracle), "mask network, twice");
    memcpy(mask_b, mask_a, sizeof mask_b);
    for (i = 0; i < 16; i++) keep[i] = NULL;
    keep[0] = mask_a;
    keep[5] = mask_b;
    /* the oracle: channels 1 and 5 zero wherever they are */
    for (c = 0; c < 8; c++) {
        if (mask_a[c]) continue;
        zero_row(&oracle, 0, c, 1);
        zero_row(&oracle, 3, 2 * c, 1);
        zero_row(&oracle, 3, 2 * c + 1, 1);
        zero_row(&oracle, 5, c, 1);
        ((float *)(uintptr_t)oracle.layers[1].params)[c] = ((float *)(uintptr_t)oracle.layers[1].params)[8 + c] = 0.0f;
        ((float *)(uintptr_t)oracle.layers[6].params)[c] = ((float *)(uintptr_t)oracle.layers[6].params)[8 + c] = 0.0f;
    }
    CHECK(scalpel_net_remove_nodes(&net, keep, 1, &small) == SCALPEL_OK, "masks over coupled channels");
    CHECK(small.n_layers == net.n_layers && small.layers[0].geom.rows == 6 && small.layers[1].geom.out_c == 6 &&
              small.layers[3].geom.rows == 12 && small.layers[3].geom.groups == 6 && small.layers[5].geom.cols == 12 &&
              small.layers[9].geom.out_c == 12 && small.layers[11].geom.cols == 12 && small.layers[13].geom.cols == 6,
          "every coupled tensor lost channels 1 and 5 (depthwise 12 rows in 6 groups, concat 12)");
    CHECK(same_outputs(&oracle, &small) <= TOL_REMOVAL, "reduced = original with the channels at zero (%g)",
          same_outputs(&oracle, &small));
    scalpel_net_free(&small);
    keep[5] = NULL; /* no say: the set still goes, as the first mask asks */
    CHECK(scalpel_net_remove_nodes(&net, keep, 1, &small) == SCALPEL_OK && small.layers[5].geom.rows == 6 &&
              same_outputs(&oracle, &small) <= TOL_REMOVAL,
          "a NULL mask has no say");
    scalpel_net_free(&small);
    memcpy(mask_x, mask_a, sizeof mask_x);
    mask_x[5] = 1;
    keep[5] = mask_x;
    memset(&small, 0x5a, sizeof small);
    CHECK(scalpel_net_remove_nodes(&net, keep, 1, &small) == SCALPEL_ERR_ARGUMENT && small.n_layers == 0,
          "masks that disagree over channels joined by an add");
    keep[5] = NULL;
    keep[3] = mask_x; /* 8 bytes for a 16-row depthwise: rows 0..7 say keep, 8..15 unread */
    {
        uint8_t dw[16];
        for (c = 0; c < 16; c++) dw[c] = mask_a[c / 2];
        keep[3] = dw;
        CHECK(scalpel_net_remove_nodes(&net, keep, 1, &small) == SCALPEL_OK && small.layers[3].geom.rows == 12,
              "a depthwise mask that agrees");
        scalpel_net_free(&small);
        dw[3] = 1; /* row 3 reads channel 1, which the first mask removes */
        CHECK(scalpel_net_remove_nodes(&net, keep, 1, &small) == SCALPEL_ERR_ARGUMENT,
              "a depthwise channel goes with its input channel");
        keep[0] = NULL;
        for (c = 0; c < 16; c++) dw[c] = mask_a[c / 2];
        CHECK(scalpel_net_remove_nodes(&net, keep, 1, &small) == SCALPEL_OK && small.layers[0].geom.rows == 6 &&
                  same_outputs(&oracle, &small) <= TOL_REMOVAL,
              "the depthwise mask alone removes its input channels");
        scalpel_net_free(&small);
    }
    scalpel_net_free(&oracle);
    scalpel_net_free(&net);

    {   /* pinned: a grouped conv's inputs, an LRN across channels' inputs, the output */
        scalpel_net g;
        const uint8_t *k3[4] = { NULL, NULL, NULL, NULL };
        uint8_t m4[4] = { 1, 0, 1, 1 };
        CHECK(scalpel_net_init(2, 6, 6, &g) == SCALPEL_OK && add_conv(&g, 4, 3, 1, 1, 1) && add_conv(&g, 4, 3, 1, 1, 2) &&
                  add_conv(&g, 3, 1, 1, 0, 1),
              "grouped network");
        k3[0] = m4;
        CHECK(scalpel_net_remove_nodes(&g, k3, 1, &small) == SCALPEL_ERR_UNSUPPORTED, "a grouped conv's input stays");
        k3[0] = NULL; k3[1] = m4;
        CHECK(scalpel_net_remove_nodes(&g, k3, 1, &small) == SCALPEL_ERR_UNSUPPORTED, "a grouped conv's output stays");
        scalpel_net_free(&g);
        CHECK(scalpel_net_init(2, 6, 6, &g) == SCALPEL_OK && add_conv(&g, 4, 3, 1, 1, 1) &&
                  scalpel_net_add_lrn(&g, 3, 1e-3f, 0.75f, 1.0f, 0) == SCALPEL_OK && add_conv(&g, 3, 1, 1, 0, 1),
              "LRN network");
        k3[0] = m4; k3[1] = NULL;
        CHECK(scalpel_net_remove_nodes(&g, k3, 1, &small) == SCALPEL_ERR_UNSUPPORTED, "what an LRN across channels reads stays");
        scalpel_net_free(&g);
        CHECK(scalpel_net_init(2, 6, 6, &g) == SCALPEL_OK && add_conv(&g, 4, 3, 1, 1, 1) && add_bn(&g),
              "network ending in a batch norm");
        k3[0] = m4;
        CHECK(scalpel_net_remove_nodes(&g, k3, 1, &small) == SCALPEL_ERR_ARGUMENT, "the output's channels stay");
        scalpel_net_free(&g);
    }
    printf("node removal with masks: coupled sets, no say, disagreement, pinned sets\n");
}

/* Dead nodes: rows with all-zero weights go where that is exact, their constants folded. */
static void dead_case(scalpel_net *net, const char *name, int32_t want_removed)
{
    scalpel_net small;
    int32_t removed = -1;
    scalpel_status st = scalpel_net_remove_dead_nodes(net, NULL, &small, &removed);
    CHECK(st == SCALPEL_OK, "%s: remove_dead_nodes (%s)", name, scalpel_status_string(st));
    if (st != SCALPEL_OK) return;
    CHECK(want_removed < 0 ? removed > 0 : removed == want_removed, "%s: %d nodes removed (want %d)", name, (int)removed,
          (int)want_removed);
    CHECK(scalpel_net_validate(&small) == SCALPEL_OK && small.n_layers == net->n_layers &&
              (removed == 0 || weight_count(&small) < weight_count(net)),
          "%s: a smaller valid network", name);
    CHECK(same_outputs(net, &small) <= TOL_REMOVAL, "%s: the same outputs (%g)", name, same_outputs(net, &small));
    printf("  %-28s %3d nodes removed, %zu -> %zu weights\n", name, (int)removed, weight_count(net), weight_count(&small));
    scalpel_net_free(&small);
}

static void test_removal_dead(void)
{
    scalpel_net net;
    scalpel_window ap_count = scalpel_window_square(3, 1, 1), ap = scalpel_window_square(3, 1, 1);
    scalpel_window mp = scalpel_window_square(3, 2, 1);
    ap_count.mode = SCALPEL_POOL_COUNT_PADS;
    mp.mode = SCALPEL_POOL_CEIL;
    /* 0 conv 6 (no pad) / 1 bn / 2 sigmoid / 3 conv 1x1 6 / 4 leaky / 5 avgpool pads counted /
       6 conv 5 3x3 / 7 hardswish / 8 avgpool pads not counted / 9 concat(4) / 10 fc 4 / 11 softmax */
    CHECK(scalpel_net_init(2, 9, 9, &net) == SCALPEL_OK && add_conv(&net, 6, 3, 1, 0, 1) && add_bn(&net) &&
              scalpel_net_add_sigmoid(&net) == SCALPEL_OK && add_conv(&net, 6, 1, 1, 0, 1) &&
              scalpel_net_add_leaky_relu(&net, 0.1f) == SCALPEL_OK && scalpel_net_add_avgpool(&net, &ap_count) == SCALPEL_OK &&
              add_conv(&net, 5, 3, 1, 1, 1) && scalpel_net_add_hardswish(&net) == SCALPEL_OK &&
              scalpel_net_add_avgpool(&net, &ap) == SCALPEL_OK && scalpel_net_add_concat(&net, 4) == SCALPEL_OK,
          "activations network");
    {
        int32_t cols = net.layers[9].geom.out_c * net.layers[9].geom.out_h * net.layers[9].geom.out_w;
        float *w = rand_floats((size_t)4 * (size_t)cols, 0.1f), *b = rand_floats(4, 0.1f);
        CHECK(scalpel_net_add_fc(&net, 4, w, b) == SCALPEL_OK && scalpel_net_add_softmax(&net) == SCALPEL_OK, "fc, softmax");
        free(w); free(b);
    }
    /* conv 0 rows 0 and 3: sigmoid(bn(b)) folds into the 1x1 conv: both go. conv 3 row 2:
       leaky(b) != 0 meets the counted pads: stays (and so does its set). conv 6 row 1: through
       hardswish and the uncounted pool into the fc: goes. */
    zero_row(&net, 0, 0, 0); zero_row(&net, 0, 3, 0);
    zero_row(&net, 3, 2, 0);
    ((float *)(uintptr_t)net.layers[3].b)[2] = 0.7f;
    zero_row(&net, 6, 1, 0);
    dead_case(&net, "sigmoid, pools, concat", 3);
    scalpel_net_free(&net);

    /* sets that cannot go: a grouped conv, an LRN across channels; an LRN within a channel and
       a padded ceil max pool keep a zero constant */
    CHECK(scalpel_net_init(2, 8, 8, &net) == SCALPEL_OK && add_conv(&net, 4, 3, 1, 1, 1) &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && scalpel_net_add_lrn(&net, 3, 1e-3f, 0.75f, 1.0f, 0) == SCALPEL_OK &&
              add_conv(&net, 4, 3, 1, 1, 2) && scalpel_net_add_relu(&net) == SCALPEL_OK && add_conv(&net, 6, 3, 1, 1, 1) &&
              scalpel_net_add_relu(&net) == SCALPEL_OK && scalpel_net_add_maxpool_ex(&net, &mp) == SCALPEL_OK &&
              scalpel_net_add_lrn(&net, 3, 1e-3f, 0.75f, 1.0f, SCALPEL_LRN_WITHIN_CHANNEL) == SCALPEL_OK &&
              add_conv(&net, 3, 1, 1, 0, 1),
          "pinned network");
    zero_row(&net, 0, 1, 0);
    zero_row(&net, 3, 2, 0);
    zero_row(&net, 5, 4, 0);
    ((float *)(uintptr_t)net.layers[5].b)[4] = -0.5f; /* relu: 0, through the pool and the LRN */
    zero_row(&net, 5, 5, 0);
    ((float *)(uintptr_t)net.layers[5].b)[5] = 0.5f;  /* 0.5 through the LRN within: not constant */
    dead_case(&net, "grouped, LRN: only one goes", 1);
    scalpel_net_free(&net);

#ifndef TEST_SMALL_MEMORY
    {   /* the reference networks with a quarter of their rows zeroed */
        static const char *const names[] = { "ds-cnn", "mobilenet-v1", "resnet-8", "convnet", "nin", "autoencoder" };
        size_t k;
        for (k = 0; k < sizeof names / sizeof names[0]; k++) {
            const ref_net_desc *d = ref_net_find(names[k]);
            int32_t i, r, last = -1;
            if (!d || ref_net_build(d, 7, &net) != SCALPEL_OK) { CHECK(0, "%s built", names[k]); continue; }
            for (i = 0; i < net.n_layers; i++)
                if (net.layers[i].geom.rows > 0) last = i;
            for (i = 0; i < last; i++)
                for (r = 0; r < net.layers[i].geom.rows; r++)
                    if (test_rand() % 4 == 0) zero_row(&net, i, r, 0);
            dead_case(&net, names[k], -1);
            scalpel_net_free(&net);
        }
    }
#endif
    printf("dead-node removal: constants through every kind, pinned sets, reference networks\n");
}

int main(int argc, char **argv)
{
#ifndef TEST_NO_FILES
    if (argc > 1) out_dir = argv[1];
#else
    (void)argc; (void)argv;
#endif
    test_conv();
    test_pool();
    test_batchnorm();
    test_joins();
    test_elementwise();
    test_file();
    test_refusals();
    test_npy();
    test_removal_masks();
    test_removal_dead();
    return test_summary("test_ops");
}
