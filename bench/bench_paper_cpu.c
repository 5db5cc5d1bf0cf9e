/* bench_paper_cpu.c - the Scalpel paper's CPU columns: ConvNet, NIN and AlexNet, dense against
 * the pruned structures the paper reports, batch 1, one thread.
 *
 * THE PAPER (Yu et al., "Scalpel: Customizing DNN Pruning to the Underlying Hardware
 * Parallelism", ISCA 2017): on an Intel Core i7 ("moderate parallelism": node pruning for the
 * convolutions, SIMD-aware grouped weight pruning for the fully connected layers) it reports
 * speed-up / relative model size: ConvNet 1.58x / 44.28%, NIN 1.22x / 81.16%, AlexNet 2.20x /
 * 13.06%, with node-pruning removal rates per convolution of ConvNet 28% / 25% / 49% and
 * AlexNet 3% / 20% / 24% / 18% / 0%.
 *
 * WHAT IS BUILT (weights random: no CIFAR-10 or ImageNet offline; speed and size depend on the
 * shapes and the sparsity, not on the values, and no accuracy is measured)
 *   dense   the network of ../examples/reference_nets.h (ref_net_build, seed 1). This program
 *           builds it again through its own parameterized builders (below), which mirror the
 *           reference definitions layer for layer with the channel counts and the fc pruning
 *           rate as parameters; with the reference counts and no pruning they must give the
 *           reference network bit for bit (checked at start: same weight bytes, same output).
 *   pruned  node pruning of the convolutions: each convolution has round((1 - rate) * out)
 *           output channels (AlexNet: rounded to the nearest even count, since a grouped
 *           convolution (groups 2) reads or writes each of those tensors and splits it in two
 *           equal halves), the next layer's inputs shrinking with it; then every fc layer
 *           pruned in aligned groups of the host profile's G (scalpel_hw_profile_host;
 *           scalpel_prune_groups_rate, RMS importance) at one rate, chosen as the smallest rate
 *           whose packed model (convolutions dense, fc layers grouped CSR with G) is at most
 *           the paper's relative size of the dense model's weight bytes; then
 *           scalpel_plan_net(SCALPEL) + scalpel_net_pack, which keeps an fc layer dense when its
 *           grouped rate is not above the profile's break-even (reported).
 *           NIN has no fc layer: its 81.16% must come from node pruning alone. This program
 *           reads the paper that way and removes one uniform fraction of the output channels of
 *           its first eight convolutions (the ninth's 10 outputs are the classes and stay): the
 *           smallest fraction (searched in steps of 0.01%) whose model is at most 81.16% of the
 *           dense weight bytes.
 *   pruned, fc dense   the same pruned weights with every layer dense (not packed): the check
 *           that grouped CSR fc layers are really faster than dense ones at that rate here.
 * HOW
 *   As bench_net.c: the three variants of a network are timed interleaved; each gets an
 *   iteration count whose loop lasts at least BENCH_MIN_MS (default 20), then in each of
 *   BENCH_REPEATS rounds (default 11) every variant runs an untimed loop and a timed loop, in
 *   an order rotated per round; its time is the median. The packed network's output is checked
 *   against the unpacked one (max difference / max |output| <= 1e-4).
 *
 * Only the public API (and reference_nets.h) is used: the library and libm.
 */
#define _POSIX_C_SOURCE 200112L   /* clock_gettime */

#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "../examples/reference_nets.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPEATS 21
#define NET_SEED 1u
#define N_VARIANTS 3
#define CHECK_TOL 1e-4
#define MAX_CONV 9
#define MAX_FC 3

static int g_repeats = 11;
static double g_min_time = 0.020;

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

static void must(scalpel_status st, const char *what)
{
    if (st != SCALPEL_OK) {
        fprintf(stderr, "bench_paper_cpu: %s failed: %s\n", what, scalpel_status_string(st));
        exit(1);
    }
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "bench_paper_cpu: out of memory (%zu bytes)\n", n); exit(1); }
    return p;
}

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

/* ---- parameterized builders -------------------------------------------------------------
 * The ConvNet, NIN and AlexNet of reference_nets.h, layer for layer, with the output channels
 * of every convolution from g_ch[] and every fc layer pruned in groups of g_group at g_fc_rate
 * (0: not pruned). They draw from the builder's generator in the reference's order, so the
 * reference counts and rate 0 give the reference weights exactly. */

static int32_t g_ch[MAX_CONV];
static double g_fc_rate;
static int32_t g_group = 1;

/* An fc layer like reference_nets.h's (He-uniform weights, small biases, the same draws), its
 * weights pruned in aligned groups of g_group at g_fc_rate when that is > 0. */
static void pc_fc(ref_builder *b, int32_t out)
{
    int32_t t, in_n;
    size_t n, k;
    float *w, *bias, scale;
    uint8_t *mask;
    if (b->st != SCALPEL_OK) return;
    t = b->net.n_layers - b->net.next_from;
    in_n = t == 0 ? b->net.in_c * b->net.in_h * b->net.in_w
                  : b->net.layers[t - 1].geom.out_c * b->net.layers[t - 1].geom.out_h * b->net.layers[t - 1].geom.out_w;
    n = (size_t)out * (size_t)in_n;
    w = (float *)xmalloc(n * sizeof(float));
    bias = (float *)xmalloc((size_t)out * sizeof(float));
    scale = 2.449489743f / (float)sqrt((double)in_n);
    for (k = 0; k < n; k++) w[k] = scale * ref_uniform(b);
    for (k = 0; k < (size_t)out; k++) bias[k] = 0.05f * ref_uniform(b);
    if (g_fc_rate > 0.0) {
        mask = (uint8_t *)xmalloc(n);
        b->st = scalpel_prune_groups_rate(w, out, in_n, g_group, SCALPEL_IMPORTANCE_RMS, (float)g_fc_rate, mask, NULL);
        if (b->st == SCALPEL_OK) scalpel_mask_apply_f32(w, mask, n);
        free(mask);
    }
    if (b->st == SCALPEL_OK) b->st = scalpel_net_add_fc(&b->net, out, w, bias);
    free(w);
    free(bias);
}

/* a convolution with square kernel k, stride s, equal pads p, groups g */
static void pc_conv(ref_builder *b, int32_t out, int32_t k, int32_t s, int32_t p, int32_t g)
{
    ref_conv(b, out, k, k, s, p, p, p, p, g);
}

static void pc_build_convnet(ref_builder *b)    /* Caffe cifar10_full */
{
    pc_conv(b, g_ch[0], 5, 1, 2, 1);
    ref_pool(b, 0, 3, 3, 2, 1);
    ref_relu(b);
    ref_lrn(b, 3, 5e-5f, 0.75f, SCALPEL_LRN_WITHIN_CHANNEL);
    pc_conv(b, g_ch[1], 5, 1, 2, 1);
    ref_relu(b);
    ref_pool(b, 1, 3, 3, 2, 1);
    ref_lrn(b, 3, 5e-5f, 0.75f, SCALPEL_LRN_WITHIN_CHANNEL);
    pc_conv(b, g_ch[2], 5, 1, 2, 1);
    ref_relu(b);
    ref_pool(b, 1, 3, 3, 2, 1);
    pc_fc(b, 10);
}

static void pc_build_nin(ref_builder *b)        /* three mlpconv blocks */
{
    static const int32_t kernel[MAX_CONV] = { 5, 1, 1, 5, 1, 1, 3, 1, 1 };
    int i;
    for (i = 0; i < MAX_CONV; i++) {
        pc_conv(b, g_ch[i], kernel[i], 1, kernel[i] / 2, 1);
        ref_relu(b);
        if (i == 2) ref_pool(b, 0, 3, 3, 2, 1);
        if (i == 5) ref_pool(b, 1, 3, 3, 2, 1);
    }
    ref_pool(b, 1, 8, 8, 1, 1);
}

static void pc_build_alexnet(ref_builder *b)    /* Caffe bvlc_alexnet */
{
    pc_conv(b, g_ch[0], 11, 4, 0, 1); ref_relu(b);
    ref_lrn(b, 5, 1e-4f, 0.75f, 0);
    ref_pool(b, 0, 3, 3, 2, 1);
    pc_conv(b, g_ch[1], 5, 1, 2, 2); ref_relu(b);
    ref_lrn(b, 5, 1e-4f, 0.75f, 0);
    ref_pool(b, 0, 3, 3, 2, 1);
    pc_conv(b, g_ch[2], 3, 1, 1, 1); ref_relu(b);
    pc_conv(b, g_ch[3], 3, 1, 1, 2); ref_relu(b);
    pc_conv(b, g_ch[4], 3, 1, 1, 2); ref_relu(b);
    ref_pool(b, 0, 3, 3, 2, 1);
    pc_fc(b, 4096); ref_relu(b);
    pc_fc(b, 4096); ref_relu(b);
    pc_fc(b, 1000);
}

/* ---- the paper's networks ---------------------------------------------------------------- */

typedef struct paper_net {
    const char *name;                 /* reference_nets.h's name */
    const char *label;
    void (*build)(ref_builder *b);
    int32_t n_conv;
    int32_t dense_ch[MAX_CONV];       /* the reference's output channels */
    int32_t multiple[MAX_CONV];       /* kept counts are multiples of this (grouped convs) */
    double removal[MAX_CONV];         /* the paper's node-removal rates; NIN: searched */
    int32_t fixed[MAX_CONV];          /* 1: never pruned (NIN's class layer) */
    double paper_speedup, paper_size; /* size in % of dense */
} paper_net;

static const paper_net nets[] = {
    { "convnet", "ConvNet", pc_build_convnet, 3, { 32, 32, 64 }, { 1, 1, 1 }, { 0.28, 0.25, 0.49 }, { 0 }, 1.58, 44.28 },
    { "nin", "NIN", pc_build_nin, 9, { 192, 160, 96, 192, 192, 192, 192, 192, 10 }, { 1, 1, 1, 1, 1, 1, 1, 1, 1 },
      { 0 }, { 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 1.22, 81.16 },
    { "alexnet", "AlexNet", pc_build_alexnet, 5, { 96, 256, 384, 384, 256 }, { 2, 2, 2, 2, 2 },
      { 0.03, 0.20, 0.24, 0.18, 0.0 }, { 0 }, 2.20, 13.06 }
};
#define N_NETS ((int)(sizeof(nets) / sizeof(nets[0])))

/* kept channels: (1 - rate) * out to the nearest multiple (ties up), at least one multiple */
static int32_t kept_count(int32_t out, double rate, int32_t multiple)
{
    double want = (1.0 - rate) * (double)out / (double)multiple;
    int32_t k = (int32_t)floor(want + 0.5) * multiple;
    if (k < multiple) k = multiple;
    return k > out ? out : k;
}

static void build(const paper_net *p, const int32_t *ch, double fc_rate, int32_t group, scalpel_net *out)
{
    ref_net_desc d = *ref_net_find(p->name);
    memcpy(g_ch, ch, sizeof(g_ch));
    g_fc_rate = fc_rate;
    g_group = group;
    d.build = p->build;
    must(ref_net_build(&d, NET_SEED, out), p->name);
}

/* ---- sizes --------------------------------------------------------------------------------- */

/* Weight bytes of the weighted layers of net (dense shapes) when the fc layers are stored as
 * grouped CSR with group G after pruning round(rate * groups) of each one's aligned groups,
 * and the convolutions stay dense: scalpel_gcsr_bytes' formula (values, 16-bit column indices
 * up to 65536 columns, row pointers) plus the biases. rate < 0: every layer dense. */
static double model_bytes(const scalpel_net *net, double rate, int32_t G)
{
    double total = 0.0;
    int32_t i;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer_geom *g = &net->layers[i].geom;
        if (g->rows == 0) continue;
        total += 4.0 * (double)g->rows;                                    /* bias */
        if (g->kind == SCALPEL_LAYER_FC && rate >= 0.0) {
            int64_t groups = (int64_t)g->rows * ((g->cols + G - 1) / G);
            int64_t pruned = (int64_t)floor((double)(float)rate * (double)groups + 0.5);
            int64_t stored = groups - pruned;
            total += (double)stored * (4.0 * G + (g->cols <= 65536 ? 2.0 : 4.0)) + 4.0 * (double)(g->rows + 1);
        } else {
            total += 4.0 * (double)g->rows * (double)g->cols;
        }
    }
    return total;
}

/* dense weight bytes of a network with conv outputs ch (NIN: shapes only, from the geometry) */
static double shape_bytes(const paper_net *p, const int32_t *ch, const scalpel_net *dense)
{
    /* every conv's weights are out x (in / groups) x k x k; the shapes follow from ch and the
     * dense network's kernels, groups and the channels each conv reads */
    double total = 0.0;
    int32_t i, c = 0, in_c = dense->in_c;
    for (i = 0; i < dense->n_layers; i++) {
        const scalpel_layer_geom *g = &dense->layers[i].geom;
        if (g->kind == SCALPEL_LAYER_CONV2D) {
            total += 4.0 * (double)ch[c] * ((double)(in_c / g->groups) * g->kernel_h * g->kernel_w + 1.0);
            in_c = ch[c++];
        } else if (g->kind == SCALPEL_LAYER_FC) {
            total += 4.0 * (double)g->rows * ((double)in_c * g->in_h * g->in_w + 1.0);
            in_c = g->rows;
        }
    }
    (void)p;
    return total;
}

/* ---- timing -------------------------------------------------------------------------------- */

typedef struct variant {
    const char *name;
    scalpel_net net;
    void *ws;
    float *out;
    const float *in;
    long iters;
    double samples[MAX_REPEATS];
    double median, spread;
} variant;

static double time_loop(variant *v, long iters)
{
    double t0 = now_s();
    long i;
    for (i = 0; i < iters; i++) scalpel_net_forward(&v->net, v->in, 1, v->out, v->ws);
    return now_s() - t0;
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
            time_loop(v, v->iters);
            v->samples[r] = time_loop(v, v->iters) / (double)v->iters;
        }
    for (i = 0; i < n; i++) {
        variant *v = &vs[i];
        qsort(v->samples, (size_t)g_repeats, sizeof v->samples[0], cmp_double);
        v->median = v->samples[g_repeats / 2];
        v->spread = (v->samples[(3 * g_repeats) / 4] - v->samples[g_repeats / 4]) / v->median;
        fprintf(stderr, "  %-18s %12.2f us  (loop x%ld, spread %.1f%%)\n", v->name, v->median * 1e6, v->iters,
                100.0 * v->spread);
    }
}

static void fill_input(float *x, size_t n)
{
    uint64_t s = 0x1234567887654321ull;
    size_t i;
    for (i = 0; i < n; i++) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        x[i] = (float)((s * 0x2545F4914F6CDD1Dull) >> 40) / 8388608.0f - 1.0f;
    }
}

/* max |a - b| / max |b| over n outputs */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double scale = 0.0, worst = 0.0;
    size_t i;
    for (i = 0; i < n; i++) if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    if (scale == 0.0) scale = 1.0;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / scale;
        if (d > worst) worst = d;
    }
    return worst;
}

static void prepare(variant *v, const char *name, const float *x)
{
    v->name = name;
    must(scalpel_net_validate(&v->net), "scalpel_net_validate");
    v->ws = xmalloc(scalpel_net_workspace_size(&v->net, 1));
    v->out = (float *)xmalloc((size_t)scalpel_net_output_size(&v->net) * sizeof(float));
    v->in = x;
    must(scalpel_net_forward(&v->net, x, 1, v->out, v->ws), "scalpel_net_forward");
}

/* The fc layers of the pruned network alone: each as a one-layer network, dense (its zeros
 * stored) and grouped CSR with the profile's G (forced, whatever the planner chose), timed
 * interleaved. Prints one table row per fc layer. */
static void fc_storage_check(const scalpel_net *unpacked, const scalpel_plan *plan, const scalpel_hw_profile *hw)
{
    int32_t i;
    for (i = 0; i < unpacked->n_layers; i++) {
        const scalpel_layer *L = &unpacked->layers[i];
        variant vs[2];
        scalpel_plan p1;
        float *x;
        size_t nin;
        int k;
        double d;
        if (L->geom.kind != SCALPEL_LAYER_FC || L->storage != SCALPEL_STORAGE_DENSE) continue;
        memset(vs, 0, sizeof vs);
        nin = (size_t)L->geom.in_c * (size_t)L->geom.in_h * (size_t)L->geom.in_w;
        x = (float *)xmalloc(nin * sizeof(float));
        fill_input(x, nin);
        for (k = 0; k < 2; k++) {
            must(scalpel_net_init(L->geom.in_c, L->geom.in_h, L->geom.in_w, &vs[k].net), "scalpel_net_init");
            must(scalpel_net_add_fc(&vs[k].net, L->geom.rows, L->w, L->b), "scalpel_net_add_fc");
        }
        must(scalpel_plan_net(&vs[1].net, hw, SCALPEL_PLAN_SCALPEL, &p1), "scalpel_plan_net");
        p1.layers[0].storage = SCALPEL_STORAGE_GCSR;     /* grouped, whatever the planner said */
        p1.layers[0].group = hw->group;
        must(scalpel_net_pack(&vs[1].net, &p1), "scalpel_net_pack");
        prepare(&vs[0], "fc dense", x);
        prepare(&vs[1], "fc grouped CSR", x);
        d = rel_diff(vs[1].out, vs[0].out, (size_t)L->geom.rows);
        if (d > CHECK_TOL) {
            fprintf(stderr, "bench_paper_cpu: fc layer %d: grouped and dense differ by %g\n", (int)i, d);
            exit(1);
        }
        measure(vs, 2);
        printf("| %d | %d x %d | %.2f%% | %.2f | %.2f | %.2fx | %s | %s |\n", (int)i, (int)L->geom.rows, (int)L->geom.cols,
               100.0 * plan->layers[i].rate, vs[0].median * 1e6, vs[1].median * 1e6, vs[0].median / vs[1].median,
               vs[1].median < vs[0].median ? "grouped" : "dense",
               plan->layers[i].storage == SCALPEL_STORAGE_GCSR ? "grouped CSR" : "dense");
        for (k = 0; k < 2; k++) {
            scalpel_net_free(&vs[k].net);
            free(vs[k].ws);
            free(vs[k].out);
        }
        free(x);
    }
}

/* ---- one network --------------------------------------------------------------------------- */

typedef struct result {
    const paper_net *p;
    double dense_ms, pruned_ms, fcdense_ms, size, speedup, fc_rate, nin_rate, worst_spread;
    int pass;
} result;

static result bench_one(const paper_net *p, const scalpel_hw_profile *hw)
{
    scalpel_net ref, dense0;
    variant vs[N_VARIANTS];
    scalpel_plan plan;
    int32_t ch[MAX_CONV], i, c, nin, nout;
    double dense_bytes, target, lo, hi, fc_rate = 0.0, nin_rate = 0.0;
    float *x;
    result res;
    size_t pruned_bytes, db;
    int has_fc = 0;

    memset(vs, 0, sizeof vs);
    memset(&res, 0, sizeof res);
    res.p = p;
    /* the reference network and this program's mirror of it: the same network, bit for bit */
    must(ref_net_build(ref_net_find(p->name), NET_SEED, &ref), p->name);
    for (c = 0; c < MAX_CONV; c++) ch[c] = c < p->n_conv ? p->dense_ch[c] : 0;
    build(p, ch, 0.0, hw->group, &dense0);
    nin = scalpel_net_input_size(&ref);
    nout = scalpel_net_output_size(&ref);
    x = (float *)xmalloc((size_t)nin * sizeof(float));
    fill_input(x, (size_t)nin);
    vs[0].net = dense0;
    prepare(&vs[0], "dense", x);
    {
        variant r0;
        memset(&r0, 0, sizeof r0);
        r0.net = ref;
        prepare(&r0, "reference", x);
        if (scalpel_net_weight_bytes(&ref) != scalpel_net_weight_bytes(&dense0) || ref.n_layers != dense0.n_layers ||
            memcmp(r0.out, vs[0].out, (size_t)nout * sizeof(float)) != 0) {
            fprintf(stderr, "bench_paper_cpu: %s: the parameterized builder does not give reference_nets.h's network\n",
                    p->name);
            exit(1);
        }
        free(r0.ws);
        free(r0.out);
        scalpel_net_free(&ref);
    }
    dense_bytes = (double)scalpel_net_weight_bytes(&dense0);
    target = p->paper_size / 100.0 * dense_bytes;
    for (i = 0; i < dense0.n_layers; i++) has_fc |= dense0.layers[i].geom.kind == SCALPEL_LAYER_FC;

    /* the pruned structure's channel counts */
    if (has_fc) {
        for (c = 0; c < p->n_conv; c++) ch[c] = kept_count(p->dense_ch[c], p->removal[c], p->multiple[c]);
    } else {
        /* NIN: the smallest uniform removal fraction (steps of 1e-4) whose dense model fits */
        int32_t step;
        for (step = 0; step <= 9000; step++) {
            double r = 1e-4 * step;
            for (c = 0; c < p->n_conv; c++) ch[c] = p->fixed[c] ? p->dense_ch[c] : kept_count(p->dense_ch[c], r, p->multiple[c]);
            if (shape_bytes(p, ch, &dense0) <= target) { nin_rate = r; break; }
        }
    }
    /* the fc rate: the smallest whose packed model fits the paper's size (bisection on the
     * exact byte count of the shapes) */
    if (has_fc) {
        scalpel_net shape;
        build(p, ch, 0.0, hw->group, &shape);
        if (model_bytes(&shape, 1.0, hw->group) > target) {
            fprintf(stderr, "bench_paper_cpu: %s: even every fc group pruned leaves more than %.2f%%\n", p->name,
                    p->paper_size);
            fc_rate = 1.0;
        } else if (model_bytes(&shape, 0.0, hw->group) <= target) {
            fc_rate = 0.0;
        } else {
            lo = 0.0; hi = 1.0;
            for (i = 0; i < 60; i++) {
                double mid = 0.5 * (lo + hi);
                if (model_bytes(&shape, mid, hw->group) <= target) hi = mid; else lo = mid;
            }
            fc_rate = hi;
        }
        scalpel_net_free(&shape);
    }

    /* pruned, unpacked (every layer dense, the zeros stored): the fc-dense variant and the
     * reference of the output check; pruned and packed as the planner says */
    build(p, ch, fc_rate, hw->group, &vs[2].net);
    prepare(&vs[2], "pruned, fc dense", x);
    build(p, ch, fc_rate, hw->group, &vs[1].net);
    must(scalpel_plan_net(&vs[1].net, hw, SCALPEL_PLAN_SCALPEL, &plan), "scalpel_plan_net");
    must(scalpel_net_pack(&vs[1].net, &plan), "scalpel_net_pack");
    prepare(&vs[1], "pruned (Scalpel)", x);
    {
        double d = rel_diff(vs[1].out, vs[2].out, (size_t)nout);
        if (d > CHECK_TOL) {
            fprintf(stderr, "bench_paper_cpu: %s: packed and unpacked pruned networks differ by %g\n", p->name, d);
            exit(1);
        }
    }

    fprintf(stderr, "bench_paper_cpu: %s\n", p->label);
    measure(vs, N_VARIANTS);

    db = scalpel_net_weight_bytes(&vs[0].net);
    pruned_bytes = scalpel_net_weight_bytes(&vs[1].net);
    res.dense_ms = vs[0].median * 1e3;
    res.pruned_ms = vs[1].median * 1e3;
    res.fcdense_ms = vs[2].median * 1e3;
    res.speedup = vs[0].median / vs[1].median;
    res.size = 100.0 * (double)pruned_bytes / (double)db;
    res.fc_rate = fc_rate;
    res.nin_rate = nin_rate;
    res.pass = res.speedup >= p->paper_speedup && res.size <= p->paper_size;
    for (i = 0; i < N_VARIANTS; i++) if (vs[i].spread > res.worst_spread) res.worst_spread = vs[i].spread;

    /* per layer */
    printf("### %s: layers (dense -> pruned)\n\n", p->label);
    if (has_fc)
        printf("Node pruning at the paper's removal rates%s; fc layers pruned in aligned groups of G = %d at %.2f%% "
               "(the smallest rate whose packed model is at most %.2f%% of the dense weight bytes).\n\n",
               p->multiple[0] > 1 ? " (kept counts rounded to even: grouped convolutions)" : "", (int)hw->group,
               100.0 * fc_rate, p->paper_size);
    else
        printf("No fc layer: the paper's %.2f%% read as node pruning alone, one uniform fraction %.2f%% of the output "
               "channels removed from each of the first %d convolutions (the last one's %d outputs are the classes), "
               "the smallest fraction whose model is at most %.2f%% of the dense weight bytes.\n\n",
               p->paper_size, 100.0 * nin_rate, (int)p->n_conv - 1, (int)p->dense_ch[p->n_conv - 1], p->paper_size);
    printf("| layer | kind | dense weights | pruned weights | removed | paper removal | storage | grouped rate | bytes dense | bytes pruned |\n");
    printf("| --- | --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
    for (i = 0, c = 0; i < vs[0].net.n_layers; i++) {
        const scalpel_layer *D = &vs[0].net.layers[i], *P = &vs[1].net.layers[i];
        const scalpel_layer_plan *lp = &plan.layers[i];
        char removed[32], paper[32], storage[32], grate[32];
        size_t bd, bp;
        if (D->geom.rows == 0) continue;
        bd = ((size_t)D->geom.rows * (size_t)D->geom.cols + (size_t)D->geom.rows) * sizeof(float);
        bp = lp->bytes_planned;
        snprintf(removed, sizeof removed, "%.1f%%", 100.0 * (1.0 - (double)P->geom.rows / (double)D->geom.rows));
        if (D->geom.kind == SCALPEL_LAYER_CONV2D) {
            if (has_fc) snprintf(paper, sizeof paper, "%.0f%%", 100.0 * p->removal[c]);
            else snprintf(paper, sizeof paper, "-");
            c++;
        } else {
            snprintf(paper, sizeof paper, "-");
        }
        if (P->storage == SCALPEL_STORAGE_GCSR) snprintf(storage, sizeof storage, "grouped CSR, G = %d", (int)P->sparse.group);
        else snprintf(storage, sizeof storage, "dense");
        if (D->geom.kind == SCALPEL_LAYER_FC) snprintf(grate, sizeof grate, "%.2f%%", 100.0 * lp->rate);
        else snprintf(grate, sizeof grate, "-");
        printf("| %d | %s | %d x %d | %d x %d | %s | %s | %s | %s | %lu | %lu |\n", (int)i,
               scalpel_layer_kind_name(D->geom.kind), (int)D->geom.rows, (int)D->geom.cols, (int)P->geom.rows,
               (int)P->geom.cols, removed, paper, storage, grate, (unsigned long)bd, (unsigned long)bp);
    }
    printf("\nPlanner (profile `%s`, class %d, G = %d, matrix-vector grouped break-even %.2f): ", hw->name,
           (int)hw->hw_class, (int)hw->group, hw->breakeven_mv_grouped);
    {
        int any = 0;
        for (i = 0; i < vs[1].net.n_layers; i++) {
            const scalpel_layer *P = &vs[1].net.layers[i];
            if (P->geom.kind != SCALPEL_LAYER_FC) continue;
            printf("%slayer %d %s (%s)", any ? "; " : "", (int)i, P->storage == SCALPEL_STORAGE_GCSR ? "grouped CSR" : "dense",
                   plan.layers[i].reason);
            any = 1;
        }
        if (!any) printf("no fc layer; the convolutions stay dense (node pruning)");
    }
    printf(".\n\nWhole network, the same pruned weights: fc layers as planned %.3f ms, every layer dense %.3f ms%s.\n\n",
           res.pruned_ms, res.fcdense_ms, has_fc ? "" : " (no fc layer: the same storage, the difference is noise)");
    if (has_fc) {
        printf("Storage check, each fc layer alone (batch 1, its zeros stored dense against grouped CSR with G = %d):\n\n",
               (int)hw->group);
        printf("| layer | shape | grouped rate | dense us | grouped CSR us | speed-up of grouped | faster here | planner chose |\n");
        printf("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |\n");
        fc_storage_check(&vs[2].net, &plan, hw);
        printf("\n");
    }
    fflush(stdout);
    for (i = 0; i < N_VARIANTS; i++) {
        scalpel_net_free(&vs[i].net);
        free(vs[i].ws);
        free(vs[i].out);
    }
    free(x);
    return res;
}

int main(void)
{
    scalpel_hw_profile hw;
    result res[N_NETS];
    int i, passed = 0;
    double t0 = now_s(), worst = 0.0;

    g_repeats = (int)env_long("BENCH_REPEATS", 11, 1, MAX_REPEATS) | 1;
    if (g_repeats > MAX_REPEATS) g_repeats = MAX_REPEATS;
    g_min_time = 1e-3 * (double)env_long("BENCH_MIN_MS", 20, 1, 1000);
    must(scalpel_hw_profile_host(&hw), "scalpel_hw_profile_host");

    printf("# The Scalpel paper's CPU columns: ConvNet, NIN, AlexNet\n\n");
    printf("- scalpel backend: `%s`; planner profile `%s` (class %d, G = %d)\n", scalpel_kernels_backend(), hw.name,
           (int)hw.hw_class, (int)hw.group);
#if defined(__VERSION__)
    printf("- compiler: %s\n", __VERSION__);
#endif
    printf("- timing: median of %d interleaved rounds, each a loop of >= %.0f ms, one thread, batch 1, fp32\n",
           g_repeats, g_min_time * 1e3);
    printf("- weights: random (fixed seed): CIFAR-10 and ImageNet are not available offline, so no accuracy is "
           "measured; speed and size depend on the shapes and the sparsity, not on the values. Random "
           "magnitudes make the groups pruned differ from a trained network's; the counts are the paper's.\n\n");
    fflush(stdout);
    for (i = 0; i < N_NETS; i++) res[i] = bench_one(&nets[i], &hw);

    printf("### Paper CPU columns (Core i7 in the paper; this machine here)\n\n");
    printf("| network | dense ms | pruned ms | speed-up | paper speed-up | relative size | paper size | goal | result |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n");
    for (i = 0; i < N_NETS; i++) {
        const result *r = &res[i];
        passed += r->pass;
        if (r->worst_spread > worst) worst = r->worst_spread;
        printf("| %s | %.3f | %.3f | %.3fx | %.2fx | %.2f%% | %.2f%% | speed-up >= paper, size <= paper | %s |\n",
               r->p->label, r->dense_ms, r->pruned_ms, r->speedup, r->p->paper_speedup, r->size, r->p->paper_size,
               r->pass ? "PASS" : "MISS");
    }
    printf("\nrelative size: scalpel_net_weight_bytes of the pruned, packed network over the dense one's (weights, "
           "indices, row pointers and biases). %d of %d networks reach the paper's speed-up at no more than its size. "
           "Largest interquartile spread of a measurement: %.1f%%. Total time: %.0f s.\n",
           passed, N_NETS, 100.0 * worst, now_s() - t0);
    return 0;
}
