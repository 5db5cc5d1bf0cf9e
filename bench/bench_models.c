/* bench_models.c - the reference networks whole: dense forward time at batch 1, weight bytes,
 * activation memory and MACs, one thread.
 *
 * WHAT IS MEASURED
 *   Every network of ../examples/reference_nets.h (the four MLPerf Tiny models, the Scalpel
 *   paper's ConvNet, NIN and AlexNet, LeNet-5), built with ref_net_build at a fixed seed (1,
 *   as `scalpel demo --net NAME`), BatchNorms folded, every layer dense, and per network:
 *     dense ms        scalpel_net_forward at batch 1, one thread, fp32.
 *     weight bytes    scalpel_net_weight_bytes: weights and biases as stored.
 *     peak activation bytes
 *                     scalpel_net_workspace_size(net, 1): all the memory the forward pass uses
 *                     besides the caller's input and output arrays and the weights - two
 *                     ping-pong activation buffers sized for the largest tensor, the scratch of
 *                     the convolutions (im2col) and the tensors that skip connections keep.
 *     largest in+out  the largest input + output tensor of one layer (bytes): the least any
 *                     layer-by-layer executor needs for activations (no im2col, no skips).
 *     MACs            multiply-accumulates per sample: the sum of scalpel_layer_macs over the
 *                     layers, which per weighted layer is rows x cols x out_h x out_w (conv:
 *                     out_c x in_c/groups x kh x kw per output position, times the positions;
 *                     fc: outputs x inputs) - per sample, positions included. Pooling, LRN,
 *                     softmax and the other unweighted layers count nothing.
 * HOW
 *   As bench_net.c: every network gets an iteration count whose loop lasts at least
 *   BENCH_MIN_MS (default 20); then in each of BENCH_REPEATS rounds (default 11, odd, 7..21)
 *   every network runs one untimed loop (its weights back in cache) and one timed loop, in an
 *   order rotated per round; a network's time is the median over the rounds.
 *
 * MODES (torch_models.py drives the last three to compare with PyTorch)
 *   bench_models                    the table above for every network
 *   bench_models --save DIR [--net NAME]
 *                                   writes DIR/NAME.scpn (scalpel_net_save), loads it back and
 *                                   writes one fixed input DIR/NAME.in.npy and the loaded
 *                                   network's output for it DIR/NAME.out.npy; prints one line
 *                                   per network: "model name=... file=... weight_bytes=...
 *                                   workspace_bytes=... macs=... backend=..."
 *   bench_models (--net NAME | --model FILE) --time-only
 *                                   median of BENCH_REPEATS timed loops; prints "ms=..."
 *   bench_models (--net NAME | --model FILE) --serve
 *                                   calibrates, prints "ready iters=N", then answers each
 *                                   line "time" on stdin with one untimed and one timed loop,
 *                                   "ms=..." (per call); exits on "quit" or end of input. The
 *                                   caller interleaves its own timed loops between the lines.
 *   bench_models (--net NAME | --model FILE) --layers
 *                                   every layer alone (a one-layer network over a copy of it, a
 *                                   conv / fc with the ReLU the library fuses into it) on an input
 *                                   of its shape, timed as above, interleaved; prints "layer
 *                                   first=i last=j ms=..." (joins, which read two tensors, are
 *                                   left out).
 *   --save also writes DIR/NAME.logits.npy, the input of a final softmax, where there is one.
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
        fprintf(stderr, "bench_models: %s failed: %s\n", what, scalpel_status_string(st));
        exit(1);
    }
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "bench_models: out of memory (%zu bytes)\n", n); exit(1); }
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

/* ---- one network ready to run ------------------------------------------------------------ */

typedef struct bench_net {
    const char *name;
    scalpel_net net;
    float *in, *out;
    void *ws;
    long iters;
    double samples[MAX_REPEATS];
    double median, spread;
} bench_net;

/* The fixed input of every network: uniform in [-1, 1), its own generator and seed. */
static void fill_input(float *x, size_t n)
{
    uint64_t s = 0x1234567887654321ull;
    size_t i;
    for (i = 0; i < n; i++) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        x[i] = (float)((s * 0x2545F4914F6CDD1Dull) >> 40) / 8388608.0f - 1.0f;
    }
}

/* Buffers for b->net (already built or loaded). */
static void prepare(bench_net *b)
{
    size_t nin = (size_t)scalpel_net_input_size(&b->net), nout = (size_t)scalpel_net_output_size(&b->net);
    size_t ws = scalpel_net_workspace_size(&b->net, 1);
    must(scalpel_net_validate(&b->net), "scalpel_net_validate");
    if (ws == 0) { fprintf(stderr, "bench_models: %s: no workspace size\n", b->name); exit(1); }
    b->in = (float *)xmalloc(nin * sizeof(float));
    b->out = (float *)xmalloc(nout * sizeof(float));
    b->ws = xmalloc(ws);
    fill_input(b->in, nin);
    must(scalpel_net_forward(&b->net, b->in, 1, b->out, b->ws), "scalpel_net_forward");
}

static void release(bench_net *b)
{
    scalpel_net_free(&b->net);
    free(b->in);
    free(b->out);
    free(b->ws);
}

static void build_named(const char *name, bench_net *b)
{
    const ref_net_desc *d = ref_net_find(name);
    memset(b, 0, sizeof(*b));
    if (!d) {
        int i;
        fprintf(stderr, "bench_models: no network '%s'; the networks:", name);
        for (i = 0; i < REF_NET_COUNT; i++) fprintf(stderr, " %s", ref_nets[i].name);
        fprintf(stderr, "\n");
        exit(2);
    }
    b->name = d->name;
    must(ref_net_build(d, NET_SEED, &b->net), d->name);
    prepare(b);
}

static void load_file(const char *path, bench_net *b)
{
    memset(b, 0, sizeof(*b));
    b->name = path;
    must(scalpel_net_load(path, &b->net), path);
    prepare(b);
}

static double time_loop(bench_net *b, long iters)
{
    double t0 = now_s();
    long i;
    for (i = 0; i < iters; i++) scalpel_net_forward(&b->net, b->in, 1, b->out, b->ws);
    return now_s() - t0;
}

/* iterations for a loop of at least g_min_time */
static void calibrate(bench_net *b)
{
    b->iters = 1;
    time_loop(b, 1);
    for (;;) {
        double t = time_loop(b, b->iters), grow;
        if (t >= g_min_time) break;
        grow = t > 0.0 ? 1.25 * g_min_time / t : 100.0;
        if (grow > 100.0) grow = 100.0;
        if (grow < 2.0) grow = 2.0;
        b->iters = (long)((double)b->iters * grow) + 1;
    }
}

/* medians of g_repeats interleaved rounds over bs[0..n) */
static void measure(bench_net *bs, int n)
{
    int i, r;
    for (i = 0; i < n; i++) calibrate(&bs[i]);
    for (r = 0; r < g_repeats; r++)
        for (i = 0; i < n; i++) {
            bench_net *b = &bs[(r + i) % n];
            time_loop(b, b->iters);              /* untimed: its weights back in cache */
            b->samples[r] = time_loop(b, b->iters) / (double)b->iters;
        }
    for (i = 0; i < n; i++) {
        bench_net *b = &bs[i];
        qsort(b->samples, (size_t)g_repeats, sizeof b->samples[0], cmp_double);
        b->median = b->samples[g_repeats / 2];
        b->spread = (b->samples[(3 * g_repeats) / 4] - b->samples[g_repeats / 4]) / b->median;
    }
}

/* ---- sizes ------------------------------------------------------------------------------- */

static int64_t net_macs(const scalpel_net *net)
{
    int64_t m = 0;
    int32_t i;
    for (i = 0; i < net->n_layers; i++) m += scalpel_layer_macs(&net->layers[i]);
    return m;
}

/* bytes of the largest (input + output) of one layer */
static size_t largest_pair(const scalpel_net *net)
{
    size_t best = 0;
    int32_t i;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer_geom *g = &net->layers[i].geom;
        size_t n = (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w + (size_t)g->out_c * (size_t)g->out_h * (size_t)g->out_w;
        if (g->kind == SCALPEL_LAYER_ADD || g->kind == SCALPEL_LAYER_CONCAT) n += (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w;
        if (n > best) best = n;
    }
    return best * sizeof(float);
}

static int32_t weighted_count(const scalpel_net *net)
{
    int32_t i, k = 0;
    for (i = 0; i < net->n_layers; i++) k += net->layers[i].geom.rows > 0;
    return k;
}

/* The first k layers of net as a network of its own: a view sharing net's layers (free
 * nothing of it). */
static scalpel_net prefix_view(const scalpel_net *net, int32_t k)
{
    scalpel_net p = *net;
    p.n_layers = k;
    p.capacity = 0;
    p.owns_layers = 0;
    p.block = NULL;
    return p;
}

/* ---- modes ------------------------------------------------------------------------------- */

static void print_header(void)
{
    printf("- scalpel backend: `%s`", scalpel_kernels_backend());
#if defined(__VERSION__)
    printf("; compiler: %s", __VERSION__);
#endif
    printf("\n- timing: median of %d interleaved rounds, each a loop of >= %.0f ms, one thread, batch 1, "
           "fp32, random weights (seed %u, BatchNorms folded)\n\n", g_repeats, g_min_time * 1e3, (unsigned)NET_SEED);
}

static int run_table(void)
{
    bench_net bs[REF_NET_COUNT];
    int i, n = REF_NET_COUNT;
    double t0 = now_s(), worst = 0.0;
    printf("# Reference networks, dense, batch 1\n\n");
    print_header();
    fflush(stdout);
    for (i = 0; i < n; i++) build_named(ref_nets[i].name, &bs[i]);
    measure(bs, n);
    printf("### Reference networks: dense forward pass\n\n");
    printf("weight bytes: weights + biases as stored (scalpel_net_weight_bytes). peak activation bytes: the "
           "workspace, scalpel_net_workspace_size(net, 1): all the memory a batch-1 forward pass uses besides the "
           "input, the output and the weights (two ping-pong activation buffers of the largest tensor, "
           "convolution scratch (im2col), tensors kept for skip connections). largest in+out: the "
           "largest input + output of one layer. MACs: multiply-accumulates per sample of the conv and "
           "fc layers (sum of scalpel_layer_macs: rows x cols x output positions).\n\n");
    printf("| network | input | layers | weighted | dense time | weight bytes | peak activation bytes | largest in+out | MACs | GMAC/s |\n");
    printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (i = 0; i < n; i++) {
        bench_net *b = &bs[i];
        int64_t macs = net_macs(&b->net);
        if (b->spread > worst) worst = b->spread;
        printf("| %s | %dx%dx%d | %d | %d | %.3f ms | %lu | %lu | %lu | %lld | %.2f |\n", b->name, (int)b->net.in_c,
               (int)b->net.in_h, (int)b->net.in_w, (int)b->net.n_layers, (int)weighted_count(&b->net), b->median * 1e3,
               (unsigned long)scalpel_net_weight_bytes(&b->net), (unsigned long)scalpel_net_workspace_size(&b->net, 1),
               (unsigned long)largest_pair(&b->net), (long long)macs, (double)macs / b->median * 1e-9);
        fprintf(stderr, "  %-13s %10.3f ms  (loop x%ld, spread %.1f%%)\n", b->name, b->median * 1e3, b->iters,
                100.0 * b->spread);
    }
    printf("\nLargest interquartile spread of a measurement: %.1f%%. Total time: %.0f s.\n\n", 100.0 * worst,
           now_s() - t0);
    for (i = 0; i < n; i++) release(&bs[i]);
    return 0;
}

static int save_one(const char *name, const char *dir)
{
    bench_net b, l;
    char path[4096], pin[4096], pout[4096];
    int64_t shape[4];
    build_named(name, &b);
    if (snprintf(path, sizeof path, "%s/%s.scpn", dir, name) >= (int)sizeof path ||
        snprintf(pin, sizeof pin, "%s/%s.in.npy", dir, name) >= (int)sizeof pin ||
        snprintf(pout, sizeof pout, "%s/%s.out.npy", dir, name) >= (int)sizeof pout) {
        fprintf(stderr, "bench_models: path too long\n");
        return 1;
    }
    must(scalpel_net_save(&b.net, path), path);
    load_file(path, &l);     /* what the file holds, run on the same input */
    if (scalpel_net_weight_bytes(&l.net) != scalpel_net_weight_bytes(&b.net) ||
        memcmp(l.out, b.out, (size_t)scalpel_net_output_size(&b.net) * sizeof(float)) != 0) {
        fprintf(stderr, "bench_models: %s: the saved file computes something else\n", name);
        return 1;
    }
    shape[0] = 1; shape[1] = l.net.in_c; shape[2] = l.net.in_h; shape[3] = l.net.in_w;
    must(scalpel_npy_save(pin, l.in, 4, shape), pin);
    shape[1] = scalpel_net_output_size(&l.net);
    must(scalpel_npy_save(pout, l.out, 2, shape), pout);
    if (l.net.n_layers > 1 && l.net.layers[l.net.n_layers - 1].geom.kind == SCALPEL_LAYER_SOFTMAX) {
        /* a softmax can saturate (random weights make large logits): its input too */
        scalpel_net p = prefix_view(&l.net, l.net.n_layers - 1);
        float *y = (float *)xmalloc((size_t)scalpel_net_output_size(&p) * sizeof(float));
        must(scalpel_net_forward(&p, l.in, 1, y, l.ws), "scalpel_net_forward (logits)");
        if (snprintf(pout, sizeof pout, "%s/%s.logits.npy", dir, name) >= (int)sizeof pout) return 1;
        shape[1] = scalpel_net_output_size(&p);
        must(scalpel_npy_save(pout, y, 2, shape), pout);
        free(y);
    }
    printf("model name=%s file=%s weight_bytes=%lu workspace_bytes=%lu largest_pair=%lu macs=%lld in=%dx%dx%d backend=%s\n", name,
           path, (unsigned long)scalpel_net_weight_bytes(&l.net), (unsigned long)scalpel_net_workspace_size(&l.net, 1),
           (unsigned long)largest_pair(&l.net), (long long)net_macs(&l.net), (int)l.net.in_c, (int)l.net.in_h,
           (int)l.net.in_w, scalpel_kernels_backend());
    fflush(stdout);
    release(&b);
    release(&l);
    return 0;
}

/* per-layer times: each layer alone (a one-layer network over a copy of it reading the input,
 * with the ReLU after a conv / fc that the library fuses into it), on a fixed input of its
 * shape, all timed interleaved. Joins (add, concat) read two tensors and are left out. */
static int time_layers(bench_net *whole)
{
    int32_t n = whole->net.n_layers, i, k = 0;
    bench_net *vs = (bench_net *)xmalloc((size_t)n * sizeof(bench_net));
    scalpel_layer *copies = (scalpel_layer *)xmalloc(2 * (size_t)n * sizeof(scalpel_layer));
    int32_t *first = (int32_t *)xmalloc((size_t)n * sizeof(int32_t));
    memset(vs, 0, (size_t)n * sizeof(bench_net));
    for (i = 0; i < n; i++) {
        const scalpel_layer *L = &whole->net.layers[i];
        int32_t m = 1;
        size_t nin;
        if (L->geom.kind == SCALPEL_LAYER_ADD || L->geom.kind == SCALPEL_LAYER_CONCAT) continue;
        if ((L->geom.kind == SCALPEL_LAYER_CONV2D || L->geom.kind == SCALPEL_LAYER_FC) && i + 1 < n &&
            whole->net.layers[i + 1].geom.kind == SCALPEL_LAYER_RELU && whole->net.layers[i + 1].geom.from == 0)
            m = 2;
        copies[2 * k] = *L;
        copies[2 * k].geom.from = 0;
        copies[2 * k].block = NULL;
        if (m == 2) copies[2 * k + 1] = whole->net.layers[i + 1];
        memset(&vs[k].net, 0, sizeof(scalpel_net));
        vs[k].name = whole->name;
        vs[k].net.in_c = L->geom.in_c;
        vs[k].net.in_h = L->geom.in_h;
        vs[k].net.in_w = L->geom.in_w;
        vs[k].net.n_layers = m;
        vs[k].net.layers = &copies[2 * k];
        must(scalpel_net_validate(&vs[k].net), "scalpel_net_validate (one layer)");
        nin = (size_t)scalpel_net_input_size(&vs[k].net);
        vs[k].in = (float *)xmalloc(nin * sizeof(float));
        fill_input(vs[k].in, nin);
        vs[k].out = (float *)xmalloc((size_t)scalpel_net_output_size(&vs[k].net) * sizeof(float));
        vs[k].ws = xmalloc(scalpel_net_workspace_size(&vs[k].net, 1));
        first[k] = i;
        i += m - 1;
        k++;
    }
    measure(vs, k);
    for (i = 0; i < k; i++) {
        printf("layer first=%d last=%d ms=%.6f spread=%.4f\n", (int)first[i], (int)(first[i] + vs[i].net.n_layers - 1),
               vs[i].median * 1e3, vs[i].spread);
        free(vs[i].in);
        free(vs[i].out);
        free(vs[i].ws);
    }
    free(vs);
    free(copies);
    free(first);
    return 0;
}

static int time_only(bench_net *b)
{
    measure(b, 1);
    printf("ms=%.6f iters=%ld spread=%.4f repeats=%d\n", b->median * 1e3, b->iters, b->spread, g_repeats);
    return 0;
}

/* the timing server: one untimed and one timed loop per "time" line */
static int serve(bench_net *b)
{
    char line[256];
    calibrate(b);
    printf("ready iters=%ld\n", b->iters);
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "quit", 4) == 0) break;
        if (strncmp(line, "time", 4) == 0) {
            double t;
            time_loop(b, b->iters);
            t = time_loop(b, b->iters);
            printf("ms=%.6f\n", t / (double)b->iters * 1e3);
        } else {
            printf("error unknown command\n");
        }
        fflush(stdout);
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_models                                  table of every reference network\n"
                    "       bench_models --save DIR [--net NAME]          model files, input and output .npy\n"
                    "       bench_models (--net NAME | --model FILE) --time-only\n"
                    "       bench_models (--net NAME | --model FILE) --serve\n"
                    "       bench_models (--net NAME | --model FILE) --layers\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *net = NULL, *model = NULL, *save = NULL;
    int time_mode = 0, serve_mode = 0, layers_mode = 0, i, rc = 0;
    bench_net b;

    g_repeats = (int)env_long("BENCH_REPEATS", 11, 1, MAX_REPEATS) | 1;
    if (g_repeats > MAX_REPEATS) g_repeats = MAX_REPEATS;
    g_min_time = 1e-3 * (double)env_long("BENCH_MIN_MS", 20, 1, 1000);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--net") == 0 && i + 1 < argc) net = argv[++i];
        else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i];
        else if (strcmp(argv[i], "--save") == 0 && i + 1 < argc) save = argv[++i];
        else if (strcmp(argv[i], "--time-only") == 0) time_mode = 1;
        else if (strcmp(argv[i], "--serve") == 0) serve_mode = 1;
        else if (strcmp(argv[i], "--layers") == 0) layers_mode = 1;
        else return usage();
    }
    if ((net && model) || time_mode + serve_mode + layers_mode > 1 || (save && (model || time_mode || serve_mode || layers_mode)))
        return usage();
    if (save) {
        if (net) return save_one(net, save);
        for (i = 0; i < REF_NET_COUNT && rc == 0; i++) rc = save_one(ref_nets[i].name, save);
        return rc;
    }
    if (time_mode || serve_mode || layers_mode) {
        if (!net && !model) return usage();
        if (net) build_named(net, &b);
        else load_file(model, &b);
        rc = time_mode ? time_only(&b) : serve_mode ? serve(&b) : time_layers(&b);
        release(&b);
        return rc;
    }
    if (net || model) return usage();
    return run_table();
}
