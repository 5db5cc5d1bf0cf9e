/* bench_ops.c - the convolution kernels of real networks against XNNPACK.
 *
 * Depthwise 3x3, 1x1 and 3x3 convolutions at the shapes of MobileNetV1 0.25 (96 x 96 input) and
 * ResNet-8 (32 x 32), batch 1, one thread, fp32. Ours: a one-layer scalpel_net (NCHW, dense
 * weights, bias, the ReLU after it fused), timed with scalpel_net_forward. XNNPACK (Debian's
 * libxnnpack-dev, its operator API): xnn_create_convolution2d_nhwc_f32 with the same window,
 * bias and a [0, inf) clamp for the ReLU, xnn_run_operator without a thread pool, NHWC. Both
 * compute the same products (checked: max difference over max magnitude <= 1e-4 after the
 * layout change). Each time is the median of BENCH_REPEATS rounds (default 11), the two
 * interleaved in every round, each round at least BENCH_MIN_MS (default 20) of calls.
 * GFLOP/s counts 2 flops per multiply-accumulate. Goal: ours within 1.2x of XNNPACK's time.
 *
 *   cc -std=c99 -O3 -march=native -I.. bench_ops.c -o bench_ops -lXNNPACK -lpthreadpool -lcpuinfo -lm */
#define _POSIX_C_SOURCE 200112L
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <xnnpack.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_repeats = 11;
static double g_min_s = 0.020;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct op_case {
    const char *net, *what;
    int32_t c, h, w, out, k, stride, groups;   /* TF "same" padding */
} op_case;

static const op_case cases[] = {
    /* MobileNetV1 0.25 at 96 x 96: the depthwise layers, the pointwise layers, the first conv */
    { "MobileNetV1", "dw 3x3 s1", 16, 48, 48, 16, 3, 1, 16 },
    { "MobileNetV1", "dw 3x3 s2", 16, 48, 48, 16, 3, 2, 16 },
    { "MobileNetV1", "dw 3x3 s1", 32, 24, 24, 32, 3, 1, 32 },
    { "MobileNetV1", "dw 3x3 s1", 64, 12, 12, 64, 3, 1, 64 },
    { "MobileNetV1", "dw 3x3 s1", 128, 6, 6, 128, 3, 1, 128 },
    { "MobileNetV1", "dw 3x3 s1", 256, 3, 3, 256, 3, 1, 256 },
    { "MobileNetV1", "1x1", 16, 48, 48, 32, 1, 1, 1 },
    { "MobileNetV1", "1x1", 32, 24, 24, 32, 1, 1, 1 },
    { "MobileNetV1", "1x1", 64, 12, 12, 64, 1, 1, 1 },
    { "MobileNetV1", "1x1", 128, 6, 6, 128, 1, 1, 1 },
    { "MobileNetV1", "1x1", 256, 3, 3, 256, 1, 1, 1 },
    { "MobileNetV1", "3x3 s2", 3, 96, 96, 8, 3, 2, 1 },
    /* ResNet-8 at 32 x 32 */
    { "ResNet-8", "3x3 s1", 3, 32, 32, 16, 3, 1, 1 },
    { "ResNet-8", "3x3 s1", 16, 32, 32, 16, 3, 1, 1 },
    { "ResNet-8", "3x3 s2", 16, 32, 32, 32, 3, 2, 1 },
    { "ResNet-8", "3x3 s1", 32, 16, 16, 32, 3, 1, 1 },
    { "ResNet-8", "3x3 s1", 64, 8, 8, 64, 3, 1, 1 },
    { "ResNet-8", "1x1 s2", 16, 32, 32, 32, 1, 2, 1 },
    { "ResNet-8", "1x1 s2", 32, 16, 16, 64, 1, 2, 1 }
};

/* TF "same": total pad (ceil(n/s) - 1) * s + k - n, the odd cell at the end */
static void same_pad(int32_t n, int32_t k, int32_t s, int32_t *lo, int32_t *hi)
{
    int32_t t = ((n + s - 1) / s - 1) * s + k - n;
    if (t < 0) t = 0;
    *lo = t / 2;
    *hi = t - t / 2;
}

static float frand(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / 8388608.0f - 1.0f;
}

int main(void)
{
    const char *e;
    size_t i;
    int pass = 0, total = 0;
    if ((e = getenv("BENCH_REPEATS")) != NULL && atoi(e) >= 3 && atoi(e) <= 63) g_repeats = atoi(e) | 1;
    if ((e = getenv("BENCH_MIN_MS")) != NULL && atoi(e) >= 1) g_min_s = atoi(e) / 1000.0;
    if (xnn_initialize(NULL) != xnn_status_success) {
        printf("bench_ops: xnn_initialize failed\n");
        return 1;
    }
    printf("## Convolution kernels against XNNPACK (batch 1, one thread, fp32, kernels %s)\n\n", scalpel_kernels_backend());
    printf("| network | layer | in (CxHxW) | out | ours us | XNNPACK us | ours GFLOP/s | XNNPACK GFLOP/s | ours / XNNPACK | goal <= 1.2x |\n");
    printf("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const op_case *c = &cases[i];
        int32_t pt, pb, pl, pr, cg = c->c / c->groups, og = c->out / c->groups, oh, ow, r, k;
        scalpel_window win;
        scalpel_net net;
        float *w, *b, *wx, *x, *xn, *y, *yx, *ws;
        xnn_operator_t op = NULL;
        double t_ours[64], t_x[64], macs, maxd = 0.0, maxv = 0.0, ours, theirs, ratio;
        uint32_t seed = 12345u + (uint32_t)i;
        size_t wn = (size_t)c->out * (size_t)cg * (size_t)c->k * (size_t)c->k, nin = (size_t)c->c * c->h * c->w, nout;
        same_pad(c->h, c->k, c->stride, &pt, &pb);
        same_pad(c->w, c->k, c->stride, &pl, &pr);
        win = scalpel_window_square(c->k, c->stride, 0);
        win.pad_top = pt; win.pad_bottom = pb; win.pad_left = pl; win.pad_right = pr;
        win.groups = c->groups;
        w = (float *)malloc(wn * sizeof(float));
        wx = (float *)malloc(wn * sizeof(float));
        b = (float *)malloc((size_t)c->out * sizeof(float));
        for (k = 0; k < (int32_t)wn; k++) w[k] = frand(&seed) * 0.3f;
        for (k = 0; k < c->out; k++) b[k] = frand(&seed) * 0.1f;
        if (scalpel_net_init(c->c, c->h, c->w, &net) != SCALPEL_OK || scalpel_net_add_conv2d_ex(&net, c->out, &win, w, b) != SCALPEL_OK ||
            scalpel_net_add_relu(&net) != SCALPEL_OK) {
            printf("bench_ops: building case %d failed\n", (int)i);
            return 1;
        }
        oh = net.layers[0].geom.out_h;
        ow = net.layers[0].geom.out_w;
        nout = (size_t)c->out * (size_t)oh * (size_t)ow;
        macs = (double)nout * (double)cg * c->k * c->k;
        /* XNNPACK's weights: [groups][og][kh][kw][cg]; ours [out][cg][kh][kw] */
        for (r = 0; r < c->out; r++) {
            int32_t q, ky, kx;
            for (q = 0; q < cg; q++)
                for (ky = 0; ky < c->k; ky++)
                    for (kx = 0; kx < c->k; kx++)
                        wx[(((size_t)r * c->k + ky) * c->k + kx) * cg + q] = w[(((size_t)r * cg + q) * c->k + ky) * c->k + kx];
        }
        if (xnn_create_convolution2d_nhwc_f32((uint32_t)pt, (uint32_t)pr, (uint32_t)pb, (uint32_t)pl, (uint32_t)c->k,
                                              (uint32_t)c->k, (uint32_t)c->stride, (uint32_t)c->stride, 1, 1,
                                              (uint32_t)c->groups, (size_t)cg, (size_t)og, (size_t)c->c, (size_t)c->out, wx,
                                              b, 0.0f, INFINITY, 0, &op) != xnn_status_success) {
            printf("bench_ops: XNNPACK refused case %d\n", (int)i);
            return 1;
        }
        x = (float *)malloc(nin * sizeof(float));
        xn = (float *)malloc(nin * sizeof(float));
        y = (float *)malloc(nout * sizeof(float));
        yx = (float *)malloc(nout * sizeof(float));
        ws = (float *)malloc(scalpel_net_workspace_size(&net, 1));
        for (k = 0; k < (int32_t)nin; k++) x[k] = frand(&seed);
        {   /* NCHW -> NHWC */
            int32_t ch, yy, xx;
            for (ch = 0; ch < c->c; ch++)
                for (yy = 0; yy < c->h; yy++)
                    for (xx = 0; xx < c->w; xx++)
                        xn[((size_t)yy * c->w + xx) * c->c + ch] = x[((size_t)ch * c->h + yy) * c->w + xx];
        }
        if (xnn_setup_convolution2d_nhwc_f32(op, 1, (size_t)c->h, (size_t)c->w, xn, yx, NULL) != xnn_status_success) {
            printf("bench_ops: XNNPACK setup failed for case %d\n", (int)i);
            return 1;
        }
        scalpel_net_forward(&net, x, 1, y, ws);
        xnn_run_operator(op, NULL);
        {
            int32_t ch, yy, xx;
            for (ch = 0; ch < c->out; ch++)
                for (yy = 0; yy < oh; yy++)
                    for (xx = 0; xx < ow; xx++) {
                        double a = y[((size_t)ch * oh + yy) * ow + xx], bb = yx[((size_t)yy * ow + xx) * c->out + ch];
                        if (fabs(a - bb) > maxd) maxd = fabs(a - bb);
                        if (fabs(bb) > maxv) maxv = fabs(bb);
                    }
        }
        if (maxd > 1e-4 * (maxv > 0 ? maxv : 1)) {
            printf("bench_ops: case %d: ours and XNNPACK differ by %g (of %g)\n", (int)i, maxd, maxv);
            return 1;
        }
        for (r = 0; r < g_repeats; r++) {
            int side;
            for (side = 0; side < 2; side++) {
                long iters = 0;
                double t0 = now_s(), t1;
                do {
                    if ((side ^ (r & 1)) == 0) scalpel_net_forward(&net, x, 1, y, ws);
                    else xnn_run_operator(op, NULL);
                    iters++;
                    t1 = now_s();
                } while (t1 - t0 < g_min_s);
                if ((side ^ (r & 1)) == 0) t_ours[r] = (t1 - t0) / (double)iters;
                else t_x[r] = (t1 - t0) / (double)iters;
            }
        }
        qsort(t_ours, (size_t)g_repeats, sizeof(double), cmp_double);
        qsort(t_x, (size_t)g_repeats, sizeof(double), cmp_double);
        ours = t_ours[g_repeats / 2];
        theirs = t_x[g_repeats / 2];
        ratio = ours / theirs;
        total++;
        pass += ratio <= 1.2;
        printf("| %s | %s | %dx%dx%d | %dx%dx%d | %.1f | %.1f | %.2f | %.2f | %.2fx | %s |\n", c->net, c->what, (int)c->c,
               (int)c->h, (int)c->w, (int)c->out, (int)oh, (int)ow, ours * 1e6, theirs * 1e6, 2.0 * macs / ours * 1e-9,
               2.0 * macs / theirs * 1e-9, ratio, ratio <= 1.2 ? "PASS" : "MISS");
        xnn_delete_operator(op);
        scalpel_net_free(&net);
        free(w); free(wx); free(b); free(x); free(xn); free(y); free(yx); free(ws);
    }
    printf("\nwithin 1.2x of XNNPACK: %d of %d layers (medians of %d interleaved rounds)\n", pass, total, g_repeats);
    xnn_deinitialize();
    return 0;
}
