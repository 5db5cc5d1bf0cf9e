/* bench_net.c - whole-network forward passes: dense, the two pruning baselines and Scalpel,
 * on the shapes of the paper's two MNIST networks, one sample at a time, one thread.
 *
 * WHAT IS MEASURED
 *   scalpel_net_forward at batch 1 on
 *     LeNet-300-100: 784 -> fc 300 -> relu -> fc 100 -> relu -> fc 10
 *     LeNet-5 (Caffe): 1x28x28 -> conv 20 5x5 -> maxpool 2/2 -> conv 50 5x5 -> maxpool 2/2 ->
 *                      fc 500 -> relu -> fc 10 (Caffe's LeNet has a relu after fc1 only)
 *   with fixed-seed random weights, in four variants:
 *     Dense        the network as built.
 *     Traditional  magnitude pruning of every layer at Han et al.'s rates, then
 *                  scalpel_plan_net(TRADITIONAL) + scalpel_net_pack: CSR (G = 1) everywhere.
 *     Optimized    the same pruned weights, scalpel_plan_net(OPTIMIZED): layers with more than
 *                  half their weights left stay dense.
 *     Scalpel      on this machine's profile (scalpel_hw_profile_host; moderate class on a
 *                  CPU): nodes removed down to the paper's final structures with
 *                  scalpel_net_remove_nodes (random keep masks of those sizes), then the FC
 *                  layers of the smaller network pruned in aligned groups of the profile's G
 *                  (scalpel_prune_groups_rate, RMS importance) at one rate chosen so that the
 *                  whole model reaches the public code's final pruning rate, counted against
 *                  the original dense weight count; then scalpel_plan_net(SCALPEL) + pack.
 *   Weights are random, so no accuracy is measured: speed and size depend only on the shapes
 *   and the sparsity, which are the paper's. Which weights go differs from a trained network
 *   (random magnitudes give scattered zeros; training gives structure), so take the pruned
 *   variants' figures as what these rates and formats cost, not as a reproduction of training.
 *
 * HOW
 *   As bench.c: the four variants of a network are one interleaved set. Each gets an
 *   iteration count whose loop lasts at least BENCH_MIN_MS (default 20 ms); then in each of
 *   BENCH_REPEATS rounds (default 11) every variant runs one untimed loop (caches settle on
 *   its own weights) and one timed loop, in an order rotated per round; its time is the median
 *   over the rounds (clock_gettime(CLOCK_MONOTONIC)). Every packed network's output is checked
 *   against the same network before packing (dense weights, same zeros).
 *
 * Only the public API is used. No OpenBLAS: it needs the library and libm only.
 */
#define _POSIX_C_SOURCE 200112L   /* clock_gettime */

#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPEATS 21
#define N_VARIANTS 4
#define CHECK_TOL 1e-4            /* |packed - unpacked| / max |unpacked| */

static int g_repeats = 11;
static double g_min_time = 0.020;
static double g_worst_spread = 0.0;
static double g_worst_check = 0.0;

static long env_long(const char *name, long fallback, long lo, long hi)
{
    const char *s = getenv(name);
    char *end = NULL;
    long v;
    if (!s || !*s) return fallback;
    v = strtol(s, &end, 10);
    if (!end || *end != '\0') return fallback;
    return v < lo ? lo : v > hi ? hi : v;
}

static void die(const char *what, scalpel_status st)
{
    fprintf(stderr, "bench_net: %s failed: %s\n", what, scalpel_status_string(st));
    exit(1);
}

static void must(scalpel_status st, const char *what)
{
    if (st != SCALPEL_OK) die(what, st);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "bench_net: out of memory (%zu bytes)\n", n); exit(1); }
    return p;
}

/* ---- random numbers (splitmix64, fixed seeds) -------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

/* magnitudes in [1/16, 1] * scale, random sign: never zero, so pruning alone makes zeros */
static void fill(float *p, size_t n, float scale, uint64_t *s)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint64_t u = rng_next(s);
        float mag = 0.0625f + 0.9375f * (float)(u >> 40) * (1.0f / 16777216.0f);
        p[i] = ((u & 1u) ? -mag : mag) * scale;
    }
}

/* keep[n] with exactly k ones at random places (selection sampling, Knuth's Algorithm S) */
static void random_keep(uint8_t *keep, int32_t n, int32_t k, uint64_t *s)
{
    int32_t i, need = k;
    for (i = 0; i < n; i++) {
        keep[i] = (uint8_t)(need > 0 && rng_unit(s) * (double)(n - i) < (double)need);
        need -= keep[i];
    }
}

/* ---- networks ------------------------------------------------------------------------- */

/* One layer of a network description: kind, outputs (FC) or channels (conv), kernel, stride */
typedef struct layer_desc { int32_t kind, outputs, kernel, stride; } layer_desc;

typedef struct model {
    const char *name;
    int32_t in_c, in_h, in_w;
    int32_t n_layers;
    layer_desc layers[8];
    float han_rate[8];          /* Han et al.'s pruned fraction per weighted layer, in order */
    int32_t keep_nodes[8];      /* nodes kept by Scalpel per weighted layer (last: all) */
    double scalpel_rate;        /* the public code's final overall pruning rate */
    double paper_scalpel_speedup, paper_scalpel_size, paper_trad_speedup;
} model;

/* A copy of a network with new weights: same layers and shapes; weighted layer k takes its
 * weights from w[k] (dense) and its bias from b[k], or keeps the original bias when b is NULL. */
static void rebuild(const scalpel_net *shape, float *const *w, float *const *b, scalpel_net *out)
{
    int32_t i, k = 0;
    must(scalpel_net_init(shape->in_c, shape->in_h, shape->in_w, out), "scalpel_net_init");
    for (i = 0; i < shape->n_layers; i++) {
        const scalpel_layer *L = &shape->layers[i];
        const float *bias = b ? b[k] : L->b;
        switch (L->geom.kind) {
        case SCALPEL_LAYER_FC: must(scalpel_net_add_fc(out, L->geom.out_c, w[k++], bias), "add_fc"); break;
        case SCALPEL_LAYER_CONV2D:
            must(scalpel_net_add_conv2d(out, L->geom.out_c, L->geom.kernel, L->geom.stride, L->geom.pad, w[k++], bias), "add_conv2d");
            break;
        case SCALPEL_LAYER_MAXPOOL: must(scalpel_net_add_maxpool(out, L->geom.kernel, L->geom.stride), "add_maxpool"); break;
        default: must(scalpel_net_add_relu(out), "add_relu"); break;
        }
    }
}

/* Indices of the weighted layers of net into idx; returns their count. */
static int32_t weighted_layers(const scalpel_net *net, int32_t *idx)
{
    int32_t i, k = 0;
    for (i = 0; i < net->n_layers; i++)
        if (net->layers[i].geom.kind == SCALPEL_LAYER_FC || net->layers[i].geom.kind == SCALPEL_LAYER_CONV2D) idx[k++] = i;
    return k;
}

/* Dense weights of every weighted layer of a dense network, copied (the caller frees). */
static int32_t copy_weights(const scalpel_net *net, float **w)
{
    int32_t i, k = 0;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        size_t n;
        if (L->geom.kind != SCALPEL_LAYER_FC && L->geom.kind != SCALPEL_LAYER_CONV2D) continue;
        if (L->storage != SCALPEL_STORAGE_DENSE) { fprintf(stderr, "bench_net: expected dense\n"); exit(1); }
        n = (size_t)L->geom.rows * (size_t)L->geom.cols;
        w[k] = (float *)xmalloc(n * sizeof(float));
        memcpy(w[k], L->w, n * sizeof(float));
        k++;
    }
    return k;
}

static int64_t count_nonzero(const float *w, size_t n)
{
    size_t i;
    int64_t c = 0;
    for (i = 0; i < n; i++) c += w[i] != 0.0f;
    return c;
}

/* ---- timing (bench.c's scheme) ------------------------------------------------------------ */

typedef struct variant {
    const char *name;
    scalpel_net net;         /* packed as planned */
    scalpel_net ref;         /* the same weights, dense: the reference for the output check */
    scalpel_plan plan;
    int has_plan;
    void *ws;
    float *out;
    const float *in;
    long iters;
    double samples[MAX_REPEATS];
    double median;
    int64_t kept;            /* nonzero weights, of the original dense count */
} variant;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double time_loop(variant *v, long iters)
{
    double t0 = now_s();
    long i;
    for (i = 0; i < iters; i++) scalpel_net_forward(&v->net, v->in, 1, v->out, v->ws);
    return now_s() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void measure(variant *vs, int n)
{
    int i, r;
    for (i = 0; i < n; i++) {
        variant *v = &vs[i];
        v->iters = 1;
        time_loop(v, 1);
        for (;;) {
            double t = time_loop(v, v->iters), grow;
            if (t >= g_min_time) break;
            grow = t > 0.0 ? 1.25 * g_min_time / t : 100.0;
            if (grow > 100.0) grow = 100.0;
            if (grow < 2.0) grow = 2.0;
            v->iters = (long)((double)v->iters * grow) + 1;
        }
    }
    for (r = 0; r < g_repeats; r++)
        for (i = 0; i < n; i++) {
            variant *v = &vs[(r + i) % n];
            time_loop(v, v->iters);                 /* untimed: settle the caches */
            v->samples[r] = time_loop(v, v->iters) / (double)v->iters;
        }
    for (i = 0; i < n; i++) {
        variant *v = &vs[i];
        double spread;
        qsort(v->samples, (size_t)g_repeats, sizeof v->samples[0], cmp_double);
        v->median = v->samples[g_repeats / 2];
        spread = (v->samples[(3 * g_repeats) / 4] - v->samples[g_repeats / 4]) / v->median;
        if (spread > g_worst_spread) g_worst_spread = spread;
        fprintf(stderr, "  %-12s %10.3f us  (loop x%ld, spread %.1f%%)\n", v->name, v->median * 1e6,
                v->iters, 100.0 * spread);
    }
}

/* ---- the benchmark of one network ------------------------------------------------------- */

static void check_outputs(variant *v, int32_t nout)
{
    void *ws = xmalloc(scalpel_net_workspace_size(&v->ref, 1));
    float *y = (float *)xmalloc((size_t)nout * sizeof(float));
    double scale = 0.0, worst = 0.0;
    int32_t i;
    must(scalpel_net_forward(&v->net, v->in, 1, v->out, v->ws), "forward");
    must(scalpel_net_forward(&v->ref, v->in, 1, y, ws), "forward (reference)");
    for (i = 0; i < nout; i++) if (fabs((double)y[i]) > scale) scale = fabs((double)y[i]);
    if (scale == 0.0) scale = 1.0;
    for (i = 0; i < nout; i++) {
        double d = fabs((double)y[i] - (double)v->out[i]) / scale;
        if (d > worst) worst = d;
    }
    if (worst > g_worst_check) g_worst_check = worst;
    if (worst > CHECK_TOL) {
        fprintf(stderr, "bench_net: %s: packed network differs from unpacked by %g\n", v->name, worst);
        exit(1);
    }
    free(ws);
    free(y);
}

static const char *storage_name(const scalpel_layer_plan *p, char *buf, size_t n)
{
    if (p->storage == SCALPEL_STORAGE_DENSE) snprintf(buf, n, "dense");
    else if (p->group == 1) snprintf(buf, n, "CSR");
    else snprintf(buf, n, "G=%d", (int)p->group);
    return buf;
}

static void bench_model(const model *m, const scalpel_hw_profile *hw)
{
    scalpel_net dense;
    variant vs[N_VARIANTS];
    float *w[8] = { NULL }, *wt[8] = { NULL }, *ws8[8] = { NULL };
    const uint8_t *keep_ptrs[SCALPEL_NET_MAX_LAYERS];
    uint8_t *keep_bufs[8] = { NULL };
    int64_t dense_count = 0, conv_small = 0, fc_small = 0, target_kept;
    uint64_t seed = 0x5CA1DE11ULL;
    float *x;
    int32_t i, k, nw = 0, nin, nout, widx[8];
    double fc_rate;
    scalpel_net small;

    memset(vs, 0, sizeof vs);
    memset(keep_ptrs, 0, sizeof keep_ptrs);
    /* the shapes first (zero weights), then the dense network with random weights scaled by
     * 1/sqrt(fan-in) as an initialiser would */
    {
        scalpel_net shape;
        float *b[8] = { NULL };
        must(scalpel_net_init(m->in_c, m->in_h, m->in_w, &shape), "scalpel_net_init");
        for (i = 0; i < m->n_layers; i++) {
            const layer_desc *d = &m->layers[i];
            switch (d->kind) {
            case SCALPEL_LAYER_FC: must(scalpel_net_add_fc(&shape, d->outputs, NULL, NULL), "add_fc"); break;
            case SCALPEL_LAYER_CONV2D:
                must(scalpel_net_add_conv2d(&shape, d->outputs, d->kernel, d->stride, 0, NULL, NULL), "add_conv2d");
                break;
            case SCALPEL_LAYER_MAXPOOL: must(scalpel_net_add_maxpool(&shape, d->kernel, d->stride), "add_maxpool"); break;
            default: must(scalpel_net_add_relu(&shape), "add_relu"); break;
            }
        }
        nw = weighted_layers(&shape, widx);
        for (k = 0; k < nw; k++) {
            const scalpel_layer *L = &shape.layers[widx[k]];
            size_t n = (size_t)L->geom.rows * (size_t)L->geom.cols;
            w[k] = (float *)xmalloc(n * sizeof(float));
            b[k] = (float *)xmalloc((size_t)L->geom.rows * sizeof(float));
            fill(w[k], n, 1.0f / (float)sqrt((double)L->geom.cols), &seed);
            fill(b[k], (size_t)L->geom.rows, 0.1f, &seed);
            dense_count += (int64_t)n;
        }
        rebuild(&shape, w, b, &dense);
        scalpel_net_free(&shape);
        for (k = 0; k < nw; k++) free(b[k]);
    }
    nin = scalpel_net_input_size(&dense);
    nout = scalpel_net_output_size(&dense);
    x = (float *)xmalloc((size_t)nin * sizeof(float));
    fill(x, (size_t)nin, 1.0f, &seed);

    /* Dense */
    vs[0].name = "Dense";
    rebuild(&dense, w, NULL, &vs[0].net);
    rebuild(&dense, w, NULL, &vs[0].ref);
    vs[0].kept = dense_count;

    /* Traditional and Optimized: the same magnitude-pruned weights, two plans */
    {
        int64_t kept = 0;
        for (k = 0; k < nw; k++) {
            const scalpel_layer *L = &dense.layers[widx[k]];
            size_t n;
            uint8_t *mask;
            n = (size_t)L->geom.rows * (size_t)L->geom.cols;
            wt[k] = (float *)xmalloc(n * sizeof(float));
            memcpy(wt[k], w[k], n * sizeof(float));
            mask = (uint8_t *)xmalloc(n);
            must(scalpel_prune_magnitude_rate(wt[k], L->geom.rows, L->geom.cols, m->han_rate[k], mask, NULL),
                 "scalpel_prune_magnitude_rate");
            scalpel_mask_apply_f32(wt[k], mask, n);
            kept += count_nonzero(wt[k], n);
            free(mask);
        }
        vs[1].name = "Traditional";
        vs[2].name = "Optimized";
        for (i = 1; i <= 2; i++) {
            rebuild(&dense, wt, NULL, &vs[i].net);
            rebuild(&dense, wt, NULL, &vs[i].ref);
            must(scalpel_plan_net(&vs[i].net, hw, i == 1 ? SCALPEL_PLAN_TRADITIONAL : SCALPEL_PLAN_OPTIMIZED,
                                  &vs[i].plan), "scalpel_plan_net");
            must(scalpel_net_pack(&vs[i].net, &vs[i].plan), "scalpel_net_pack");
            vs[i].has_plan = 1;
            vs[i].kept = kept;
        }
    }

    /* Scalpel: remove nodes to the paper's structure, then prune the FC layers in groups */
    for (i = 0, k = 0; i < dense.n_layers; i++) {
        const scalpel_layer *L = &dense.layers[i];
        if (L->geom.kind != SCALPEL_LAYER_FC && L->geom.kind != SCALPEL_LAYER_CONV2D) continue;
        keep_bufs[k] = NULL;
        if (k < nw - 1) {
            keep_bufs[k] = (uint8_t *)xmalloc((size_t)L->geom.out_c);
            random_keep(keep_bufs[k], L->geom.out_c, m->keep_nodes[k], &seed);
            keep_ptrs[i] = keep_bufs[k];
        }
        k++;
    }
    must(scalpel_net_remove_nodes(&dense, keep_ptrs, 1, &small), "scalpel_net_remove_nodes");
    copy_weights(&small, ws8);
    for (i = 0, k = 0; i < small.n_layers; i++) {
        const scalpel_layer *L = &small.layers[i];
        if (L->geom.kind == SCALPEL_LAYER_CONV2D) { conv_small += (int64_t)L->geom.rows * L->geom.cols; k++; }
        else if (L->geom.kind == SCALPEL_LAYER_FC) { fc_small += (int64_t)L->geom.rows * L->geom.cols; k++; }
    }
    /* one group-pruning rate for every FC layer, so that conv (kept dense, as the moderate
     * class does) + FC reach the overall target against the original count */
    target_kept = (int64_t)floor((1.0 - m->scalpel_rate) * (double)dense_count + 0.5);
    fc_rate = 1.0 - (double)(target_kept - conv_small) / (double)fc_small;
    if (fc_rate < 0.0) fc_rate = 0.0;
    if (fc_rate > 1.0) fc_rate = 1.0;
    {
        int64_t kept = 0;
        for (i = 0, k = 0; i < small.n_layers; i++) {
            const scalpel_layer *L = &small.layers[i];
            size_t n;
            if (L->geom.kind != SCALPEL_LAYER_FC && L->geom.kind != SCALPEL_LAYER_CONV2D) continue;
            n = (size_t)L->geom.rows * (size_t)L->geom.cols;
            if (L->geom.kind == SCALPEL_LAYER_FC) {
                uint8_t *mask = (uint8_t *)xmalloc(n);
                must(scalpel_prune_groups_rate(ws8[k], L->geom.rows, L->geom.cols, hw->group, SCALPEL_IMPORTANCE_RMS,
                                               (float)fc_rate, mask, NULL), "scalpel_prune_groups_rate");
                scalpel_mask_apply_f32(ws8[k], mask, n);
                free(mask);
            }
            kept += count_nonzero(ws8[k], n);
            k++;
        }
        vs[3].name = "Scalpel";
        rebuild(&small, ws8, NULL, &vs[3].net);
        rebuild(&small, ws8, NULL, &vs[3].ref);
        must(scalpel_plan_net(&vs[3].net, hw, SCALPEL_PLAN_SCALPEL, &vs[3].plan), "scalpel_plan_net");
        must(scalpel_net_pack(&vs[3].net, &vs[3].plan), "scalpel_net_pack");
        vs[3].has_plan = 1;
        vs[3].kept = kept;
    }

    for (i = 0; i < N_VARIANTS; i++) {
        vs[i].ws = xmalloc(scalpel_net_workspace_size(&vs[i].net, 1));
        vs[i].out = (float *)xmalloc((size_t)nout * sizeof(float));
        vs[i].in = x;
        must(scalpel_net_validate(&vs[i].net), "scalpel_net_validate");
        check_outputs(&vs[i], nout);
    }

    fprintf(stderr, "bench_net: %s\n", m->name);
    measure(vs, N_VARIANTS);

    /* report */
    {
        double dense_t = vs[0].median;
        size_t dense_b = scalpel_net_weight_bytes(&vs[0].net);
        char buf[N_VARIANTS][24];
        printf("### %s\n\n", m->name);
        printf("Forward pass, batch 1, fp32, one thread. Speed-up and size are relative to Dense; "
               "\"weights left\" counts nonzero weights against the dense network's %lld. "
               "The last two columns are the paper's Core i7 figures.\n\n", (long long)dense_count);
        printf("| variant | time / sample | speed-up | weight bytes | %% of dense | weights left | paper i7 speed-up | paper i7 size |\n");
        printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (i = 0; i < N_VARIANTS; i++) {
            const variant *v = &vs[i];
            size_t bytes = scalpel_net_weight_bytes(&v->net);
            const char *ps = "-", *pz = "-";
            char s1[16], s2[16];
            if (i == 0) { ps = "1x"; pz = "100%"; }
            if (i == 1) { snprintf(s1, sizeof s1, "%.2fx", m->paper_trad_speedup); ps = s1; }
            if (i == 3) {
                snprintf(s1, sizeof s1, "%.2fx", m->paper_scalpel_speedup); ps = s1;
                snprintf(s2, sizeof s2, "%.2f%%", m->paper_scalpel_size); pz = s2;
            }
            printf("| %s | %.2f us | %.2fx | %lu | %.2f%% | %.2f%% | %s | %s |\n", v->name, v->median * 1e6,
                   dense_t / v->median, (unsigned long)bytes, 100.0 * (double)bytes / (double)dense_b,
                   100.0 * (double)v->kept / (double)dense_count, ps, pz);
        }
        printf("\nPer layer (the planner's decision and the layer's zero fraction; Scalpel's shapes are "
               "after node removal, its FC layers group-pruned at %.1f%% with G = %d):\n\n",
               100.0 * fc_rate, (int)hw->group);
        printf("| layer | dense shape | Traditional | Optimized | Scalpel shape | Scalpel |\n");
        printf("| --- | --- | --- | --- | --- | --- |\n");
        for (i = 0; i < dense.n_layers; i++) {
            const scalpel_layer *L = &dense.layers[i], *S = &small.layers[i];
            if (L->geom.kind != SCALPEL_LAYER_FC && L->geom.kind != SCALPEL_LAYER_CONV2D) continue;
            printf("| %d %s | %d x %d | %s, %.1f%% zero | %s, %.1f%% zero | %d x %d | %s, %.1f%% zero |\n", (int)i,
                   scalpel_layer_kind_name(L->geom.kind), (int)L->geom.rows, (int)L->geom.cols,
                   storage_name(&vs[1].plan.layers[i], buf[1], sizeof buf[1]), 100.0 * vs[1].plan.layers[i].zero_rate,
                   storage_name(&vs[2].plan.layers[i], buf[2], sizeof buf[2]), 100.0 * vs[2].plan.layers[i].zero_rate,
                   (int)S->geom.rows, (int)S->geom.cols,
                   storage_name(&vs[3].plan.layers[i], buf[3], sizeof buf[3]), 100.0 * vs[3].plan.layers[i].zero_rate);
        }
        printf("\n");
    }

    for (i = 0; i < N_VARIANTS; i++) {
        scalpel_net_free(&vs[i].net);
        scalpel_net_free(&vs[i].ref);
        free(vs[i].ws);
        free(vs[i].out);
    }
    for (k = 0; k < nw; k++) { free(w[k]); free(wt[k]); free(ws8[k]); }
    for (k = 0; k < nw - 1; k++) free(keep_bufs[k]);
    scalpel_net_free(&small);
    scalpel_net_free(&dense);
    free(x);
}

int main(void)
{
    /* Han et al., "Learning both Weights and Connections for Efficient Neural Networks",
     * NIPS 2015, Tables 2 and 3: fraction of weights pruned per layer (LeNet-300-100: 8%, 9%,
     * 26% kept; LeNet-5: 66%, 12%, 8%, 19% kept). Scalpel's node counts and final rates are
     * the public code's results (method doc, sections 3 and 5); the paper's i7 figures are
     * its Table/Figure results (section 6). */
    static const model lenet300 = {
        "LeNet-300-100", 1, 28, 28, 5,
        { { SCALPEL_LAYER_FC, 300, 0, 0 }, { SCALPEL_LAYER_RELU, 0, 0, 0 }, { SCALPEL_LAYER_FC, 100, 0, 0 },
          { SCALPEL_LAYER_RELU, 0, 0, 0 }, { SCALPEL_LAYER_FC, 10, 0, 0 } },
        { 0.92f, 0.91f, 0.74f },
        { 161, 64, 10 },
        0.920, 6.86, 7.08, 3.78
    };
    static const model lenet5 = {
        "LeNet-5", 1, 28, 28, 7,
        { { SCALPEL_LAYER_CONV2D, 20, 5, 1 }, { SCALPEL_LAYER_MAXPOOL, 0, 2, 2 },
          { SCALPEL_LAYER_CONV2D, 50, 5, 1 }, { SCALPEL_LAYER_MAXPOOL, 0, 2, 2 },
          { SCALPEL_LAYER_FC, 500, 0, 0 }, { SCALPEL_LAYER_RELU, 0, 0, 0 }, { SCALPEL_LAYER_FC, 10, 0, 0 } },
        { 0.34f, 0.88f, 0.92f, 0.81f },
        { 9, 18, 65, 10 },
        0.968, 4.15, 5.20, 1.55
    };
    scalpel_hw_profile hw;
    double t0 = now_s();

    g_repeats = (int)env_long("BENCH_REPEATS", 11, 7, MAX_REPEATS) | 1;
    if (g_repeats > MAX_REPEATS) g_repeats = MAX_REPEATS;
    g_min_time = 1e-3 * (double)env_long("BENCH_MIN_MS", 20, 1, 1000);
    must(scalpel_hw_profile_host(&hw), "scalpel_hw_profile_host");

    printf("# Scalpel network benchmark\n\n");
    printf("- scalpel backend: `%s`; planner profile `%s` (class %d, G = %d, matrix-vector break-evens "
           "CSR %.2f, grouped %.2f: %s)\n", scalpel_kernels_backend(), hw.name, (int)hw.hw_class,
           (int)hw.group, hw.breakeven_mv_csr, hw.breakeven_mv_grouped, hw.note);
#if defined(__VERSION__)
    printf("- compiler: %s\n", __VERSION__);
#endif
    printf("- timing: median of %d interleaved rounds, each a loop of >= %.0f ms, one thread, batch 1, "
           "random weights (fixed seed)\n\n", g_repeats, g_min_time * 1e3);
    fflush(stdout);
    bench_model(&lenet300, &hw);
    fflush(stdout);
    bench_model(&lenet5, &hw);
    printf("Largest interquartile spread of a measurement: %.1f%%. Every packed network agreed with "
           "its unpacked weights (worst relative difference %.1e, tolerance %.0e).\n\n",
           100.0 * g_worst_spread, g_worst_check, CHECK_TOL);
    printf("Total time: %.0f s.\n", now_s() - t0);
    return 0;
}
