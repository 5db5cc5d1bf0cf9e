/* test_layers.c - one test over every layer kind, read from the library's kind table
 * (kind = 1 .. SCALPEL_LAYER_COUNT - 1, each with the sample parameters scalpel_layer_kind_info
 * gives), so a new kind joins without an edit here. For each kind:
 *
 *   1. f32 forward (batch 1 and 3) against scalpel_layer_forward_ref, the plain definition:
 *      relative error <= 1e-5 of the output's largest magnitude (the kernels sum in float, the
 *      reference in double);
 *   2. the same kind reading an earlier tensor (the network input, after two unrelated layers),
 *      against the reference composed by hand;
 *   3. fixed point (q15 and q7, calibrated on 64 samples) against float: max error <= 1% (q15)
 *      and 5% (q7) of the float output's largest magnitude, in a network conv1x1 -> kind -> fc;
 *   4. the trainer's forward equal to the network's (same tolerance as 1.), and every gradient of
 *      that network (the kind's own weights, and the weights before it, which its backward pass
 *      feeds) against central differences;
 *   5. the model file: serialize, view, the same outputs bit for bit, the same bytes again;
 *   6. C export: with a directory argument, writes layers_export.h (every kind's network
 *      exported by scalpel_net_export_c, with its input and expected outputs) for
 *      tests/layers_export_check.c, which compiles it and checks the outputs bit for bit.
 * The CUDA host emulation goes over the same kinds in tests/test_cuda_emul.cu.
 *
 *   cc -std=c99 -O2 -I. tests/test_layers.c -o test_layers -lm && ./test_layers [DIR] */
#define SCALPEL_IMPLEMENTATION
#include "scalpel_train.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IN_C 3
#define IN_H 8
#define IN_W 8
#define IN_N (IN_C * IN_H * IN_W)
#define CLASSES 10

static float *random_floats(size_t n, float scale)
{
    float *v = (float *)malloc((n ? n : 1) * sizeof(float));
    size_t i;
    for (i = 0; v && i < n; i++) v[i] = scale * test_uniform();
    return v;
}

/* Appends one layer of `kind` with its sample parameters and random weights (kept in *w, *b
 * for the references; NULL for unweighted kinds). The weight shape comes from a one-layer
 * network over the tensor the layer will read. */
static scalpel_status add_kind(scalpel_net *net, int32_t kind, float **w, float **b)
{
    scalpel_layer_kind_desc d;
    scalpel_status st = scalpel_layer_kind_info(kind, &d);
    *w = *b = NULL;
    if (st != SCALPEL_OK) return st;
    if (d.weighted) {
        int32_t t = net->n_layers - net->next_from, c, h, wd;
        scalpel_net one;
        if (t == 0) { c = net->in_c; h = net->in_h; wd = net->in_w; }
        else { c = net->layers[t - 1].geom.out_c; h = net->layers[t - 1].geom.out_h; wd = net->layers[t - 1].geom.out_w; }
        st = scalpel_net_init(c, h, wd, &one);
        if (st == SCALPEL_OK) st = scalpel_net_add_layer(&one, kind, d.outputs, d.kernel, d.stride, d.pad, NULL, NULL);
        if (st == SCALPEL_OK) {
            *w = random_floats((size_t)one.layers[0].geom.rows * (size_t)one.layers[0].geom.cols, 0.5f);
            *b = random_floats((size_t)one.layers[0].geom.rows, 0.1f);
        }
        scalpel_net_free(&one);
        if (st != SCALPEL_OK) return st;
    }
    return scalpel_net_add_layer(net, kind, d.outputs, d.kernel, d.stride, d.pad, *w, *b);
}

/* max |a - b| over max |b| (1 when b is all zero and a is not) */
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

static int run_net(const scalpel_net *net, const float *x, int32_t batch, float *y)
{
    size_t ws = scalpel_net_workspace_size(net, batch);
    void *work = malloc(ws ? ws : 1);
    int ok = ws > 0 && work && scalpel_net_forward(net, x, batch, y, work) == SCALPEL_OK;
    free(work);
    return ok;
}

/* A context layer: conv2d 1x1, 3 -> 3 channels (shape kept), random weights in w[9], b[3]. */
static scalpel_status add_conv1x1(scalpel_net *net, float *w, float *b)
{
    int32_t i;
    for (i = 0; i < 9; i++) w[i] = test_uniform();
    for (i = 0; i < 3; i++) b[i] = 0.1f * test_uniform();
    return scalpel_net_add_layer(net, SCALPEL_LAYER_CONV2D, 3, 1, 1, 0, w, b);
}

/* Layer i's reference on one sample of the tensor it reads (and in2, the second one of add
 * and concat), with the dense weights w, b it was given (its per-channel parameters from the
 * layer). */
static void ref_layer(const scalpel_net *net, int32_t i, const float *w, const float *b, const float *in,
                      const float *in2, float *out)
{
    scalpel_layer L = net->layers[i];
    L.storage = SCALPEL_STORAGE_DENSE;
    L.w = w;
    L.b = b;
    CHECK(scalpel_layer_ref(&L, in, in2, out) == SCALPEL_OK, "reference of layer %d", (int)i);
}

/* 1. the kind alone against its reference */
static void test_alone(int32_t kind, const char *name)
{
    scalpel_net net;
    float *w = NULL, *b = NULL, *x, *y, *ref;
    int32_t batch, s, on;
    CHECK(scalpel_net_init(IN_C, IN_H, IN_W, &net) == SCALPEL_OK && add_kind(&net, kind, &w, &b) == SCALPEL_OK,
          "%s: build", name);
    if (net.n_layers != 1) { free(w); free(b); scalpel_net_free(&net); return; }
    on = scalpel_net_output_size(&net);
    x = random_floats((size_t)3 * IN_N, 1.0f);
    y = (float *)malloc((size_t)3 * (size_t)on * sizeof(float));
    ref = (float *)malloc((size_t)3 * (size_t)on * sizeof(float));
    for (batch = 1; batch <= 3; batch += 2) {
        CHECK(run_net(&net, x, batch, y), "%s: forward batch %d", name, (int)batch);
        for (s = 0; s < batch; s++)
            ref_layer(&net, 0, w, b, x + (size_t)s * IN_N, x + (size_t)s * IN_N, ref + (size_t)s * (size_t)on);
        CHECK(rel_err(y, ref, (size_t)batch * (size_t)on) <= 1e-5, "%s: f32 forward batch %d off the reference by %g",
              name, (int)batch, rel_err(y, ref, (size_t)batch * (size_t)on));
    }
    free(x); free(y); free(ref); free(w); free(b);
    scalpel_net_free(&net);
}

/* conv1x1 -> kind -> fc: the network of tests 3 to 6. w0/b0 hold the conv's weights. */
static int build_context(scalpel_net *net, int32_t kind, float *w0, float *b0, float **wk, float **bk, float **wf,
                         float **bf)
{
    return scalpel_net_init(IN_C, IN_H, IN_W, net) == SCALPEL_OK && add_conv1x1(net, w0, b0) == SCALPEL_OK &&
           add_kind(net, kind, wk, bk) == SCALPEL_OK && add_kind(net, SCALPEL_LAYER_FC, wf, bf) == SCALPEL_OK;
}

/* 2. the kind reading an earlier tensor: conv1x1 [t1] -> relu [t2] -> kind reading t1 (kept
 * for it) or the network input (and t2 as its second input, for add and concat) -> fc. The
 * reference is composed layer by layer. */
static void test_skip(int32_t kind, const char *name)
{
    int32_t source;
    for (source = -1; source <= 0; source++) {
        scalpel_net net, v;
        float w0[9], b0[3], *wk = NULL, *bk = NULL, *wf = NULL, *bf = NULL, *x, *y, *t1, *t2, *tk, *ref;
        size_t n = 0, written = 0;
        unsigned char *bytes;
        int ok = scalpel_net_init(IN_C, IN_H, IN_W, &net) == SCALPEL_OK && add_conv1x1(&net, w0, b0) == SCALPEL_OK &&
                 scalpel_net_add_relu(&net) == SCALPEL_OK && scalpel_net_set_next_input(&net, source) == SCALPEL_OK &&
                 add_kind(&net, kind, &wk, &bk) == SCALPEL_OK && add_kind(&net, SCALPEL_LAYER_FC, &wf, &bf) == SCALPEL_OK;
        CHECK(ok && net.layers[2].geom.from == (source < 0 ? 2 : 1), "%s: build reading tensor %d", name, (int)source + 1);
        if (!ok) { free(wk); free(bk); free(wf); free(bf); scalpel_net_free(&net); continue; }
        CHECK(scalpel_net_validate(&net) == SCALPEL_OK, "%s: validate with a skip", name);
        x = random_floats(IN_N, 1.0f);
        y = (float *)malloc(CLASSES * sizeof(float));
        ref = (float *)malloc(CLASSES * sizeof(float));
        t1 = (float *)malloc(IN_N * sizeof(float));
        t2 = (float *)malloc(IN_N * sizeof(float));
        tk = (float *)malloc((size_t)scalpel_net_output_size(&net) * 0 + (size_t)net.layers[2].geom.out_c *
                             (size_t)net.layers[2].geom.out_h * (size_t)net.layers[2].geom.out_w * sizeof(float));
        ref_layer(&net, 0, w0, b0, x, NULL, t1);
        ref_layer(&net, 1, NULL, NULL, t1, NULL, t2);
        ref_layer(&net, 2, wk, bk, source < 0 ? x : t1, t2, tk);
        ref_layer(&net, 3, wf, bf, tk, NULL, ref);
        CHECK(run_net(&net, x, 1, y) && rel_err(y, ref, CLASSES) <= 1e-5, "%s: reading tensor %d, off by %g", name,
              (int)source + 1, rel_err(y, ref, CLASSES));
        /* the file keeps `from` (version 2) */
        n = scalpel_net_serialized_size(&net);
        bytes = (unsigned char *)malloc(n + 64);
        {
            unsigned char *p = bytes + ((64 - (uintptr_t)bytes % 64) % 64);
            float y2[CLASSES];
            memset(&v, 0, sizeof(v));
            CHECK(n > 0 && scalpel_net_serialize(&net, p, n, &written) == SCALPEL_OK && written == n &&
                  scalpel_net_view(p, n, &v) == SCALPEL_OK && v.layers[2].geom.from == net.layers[2].geom.from,
                  "%s: skip through the model file", name);
            CHECK(v.n_layers == 4 && run_net(&v, x, 1, y2) && memcmp(y, y2, sizeof(y2)) == 0,
                  "%s: skip network from its file", name);
            scalpel_net_free(&v);
        }
        free(bytes); free(x); free(y); free(ref); free(t1); free(t2); free(tk);
        free(wk); free(bk); free(wf); free(bf);
        scalpel_net_free(&net);
    }
}

/* 3. fixed point against float; a kind without fixed point yet is refused, by name */
static void test_fixed_point(const scalpel_net *net, const char *name)
{
    int32_t dt, on = scalpel_net_output_size(net);
    /* the samples checked are among those calibrated on: a sample past the calibrated range
     * saturates, which is the calibration's choice and not the kernels' error */
    float *calib = random_floats((size_t)64 * IN_N, 1.0f), *x = calib;
    float *y = (float *)malloc((size_t)8 * (size_t)on * sizeof(float)), *yq = (float *)malloc((size_t)8 * (size_t)on * sizeof(float));
    CHECK(run_net(net, x, 8, y), "%s: float forward", name);
    if (!scalpel_layer_supports(&net->layers[1].geom, SCALPEL_USE_FIXED_POINT)) {
        scalpel_quant_options opt;
        scalpel_qnet q;
        memset(&opt, 0, sizeof(opt));
        opt.dtype = SCALPEL_DTYPE_Q15;
        CHECK(scalpel_qnet_quantize(net, &opt, calib, 64, &q) == SCALPEL_ERR_UNSUPPORTED &&
                  scalpel_net_first_unsupported(net, SCALPEL_USE_FIXED_POINT) == 1,
              "%s: no fixed point yet, refused and named", name);
        printf("  %s: fixed point refused (not yet)\n", name);
        free(calib); free(y); free(yq);
        return;
    }
    for (dt = 0; dt < 2; dt++) {
        scalpel_quant_options opt;
        scalpel_qnet q;
        size_t ws;
        void *work;
        double tol = dt == 0 ? 0.01 : 0.05, e;
        memset(&opt, 0, sizeof(opt));
        opt.dtype = dt == 0 ? SCALPEL_DTYPE_Q15 : SCALPEL_DTYPE_Q7;
        CHECK(scalpel_qnet_quantize(net, &opt, calib, 64, &q) == SCALPEL_OK, "%s: quantize q%d", name, dt == 0 ? 15 : 7);
        ws = scalpel_qnet_workspace_size(&q, 8);
        work = malloc(ws ? ws : 1);
        CHECK(ws > 0 && work && scalpel_qnet_forward_f32(&q, x, 8, yq, work) == SCALPEL_OK, "%s: q forward", name);
        e = rel_err(yq, y, (size_t)8 * (size_t)on);
        CHECK(e <= tol, "%s: q%d off float by %.3g of the output range (at most %.2g)", name, dt == 0 ? 15 : 7, e, tol);
        printf("  %s: q%d within %.2g of the float output range\n", name, dt == 0 ? 15 : 7, e);
        free(work);
        scalpel_qnet_free(&q);
    }
    free(calib); free(y); free(yq);
}

static double loss_at(scalpel_trainer *tr, const float *x, const int32_t *labels, int32_t batch)
{
    float logits[4 * CLASSES];
    double total = 0.0;
    int32_t s, c;
    if (scalpel_trainer_forward(tr, x, batch, 0, logits) != SCALPEL_OK) return 1e30;
    for (s = 0; s < batch; s++) {
        const float *z = logits + (size_t)s * CLASSES;
        double m = z[0], sum = 0.0;
        for (c = 1; c < CLASSES; c++) if (z[c] > m) m = z[c];
        for (c = 0; c < CLASSES; c++) sum += exp((double)z[c] - m);
        total += m + log(sum) - (double)z[labels[s]];
    }
    return total / (double)batch;
}

/* 4. training forward == network forward; gradients against central differences */
static void test_training(const scalpel_net *net, const char *name)
{
    enum { B = 4 };
    scalpel_trainer tr;
    float *x = random_floats((size_t)B * IN_N, 1.0f), y[B * CLASSES], logits[B * CLASSES], loss = 0.0f;
    int32_t labels[B], i, s;
    int bad = 0, checked = 0, kinks = 0;
    const float h = 1e-3f;
    for (s = 0; s < B; s++) labels[s] = test_range(0, CLASSES - 1);
    if (!scalpel_layer_supports(&net->layers[1].geom, SCALPEL_USE_TRAINING)) {
        CHECK(scalpel_trainer_init(net, B, NULL, &tr) == SCALPEL_ERR_UNSUPPORTED &&
                  scalpel_net_first_unsupported(net, SCALPEL_USE_TRAINING) == 1,
              "%s: no training yet, refused and named", name);
        free(x);
        return;
    }
    CHECK(scalpel_trainer_init(net, B, NULL, &tr) == SCALPEL_OK, "%s: trainer", name);
    if (!tr.block) { free(x); return; }
    CHECK(run_net(net, x, B, y) && scalpel_trainer_forward(&tr, x, B, 0, logits) == SCALPEL_OK &&
          rel_err(logits, y, (size_t)B * CLASSES) <= 1e-5, "%s: training forward off the network's by %g", name,
          rel_err(logits, y, (size_t)B * CLASSES));
    CHECK(scalpel_trainer_backward(&tr, labels, B, &loss) == SCALPEL_OK, "%s: backward", name);
    for (i = 0; i < tr.arch.n_layers; i++) {
        scalpel_train_layer *T = &tr.layers[i];
        const scalpel_layer *L = &tr.arch.layers[i];
        int part;
        if (!T->w) continue;
        for (part = 0; part < 2; part++) {
            float *p = part == 0 ? T->w : T->b;
            size_t n = part == 0 ? (size_t)L->geom.rows * (size_t)L->geom.cols : (size_t)L->geom.rows, j;
            float *ga = (float *)malloc(n * sizeof(float));
            double l0 = loss_at(&tr, x, labels, B);
            memcpy(ga, part == 0 ? T->grad_w : T->grad_b, n * sizeof(float));
            for (j = 0; j < 40 && j < n; j++) {
                size_t k = n <= 40 ? j : (size_t)test_rand() % n;
                float keep = p[k];
                double lp, lm, num, tol;
                p[k] = keep + h; lp = loss_at(&tr, x, labels, B);
                p[k] = keep - h; lm = loss_at(&tr, x, labels, B);
                p[k] = keep;
                num = (lp - lm) / (2.0 * (double)h);
                tol = 2e-3 + 2e-2 * fabs(num);
                /* a ReLU or a pooling window switching inside [-h, h]: one-sided slopes differ */
                if (fabs((lp - l0) - (l0 - lm)) / (double)h > tol) { kinks++; continue; }
                checked++;
                if (fabs(num - (double)ga[k]) > tol) {
                    bad++;
                    if (bad <= 3) printf("  %s layer %d part %d [%lu]: analytic %.6g numeric %.6g\n", name, (int)i, part,
                                         (unsigned long)k, (double)ga[k], num);
                }
            }
            free(ga);
        }
    }
    CHECK(checked > 0 && bad == 0, "%s: %d of %d gradients off", name, bad, checked);
    CHECK(kinks * 10 <= checked, "%s: %d kinks in %d gradients", name, kinks, checked);
    scalpel_trainer_free(&tr);
    free(x);
}

/* 5. the model file: view computes the same bits and re-serializes to the same bytes */
static void test_file(const scalpel_net *net, const char *name)
{
    size_t n = scalpel_net_serialized_size(net), written = 0, n2 = 0;
    unsigned char *raw = (unsigned char *)malloc(2 * n + 128), *p, *p2;
    float x[IN_N], y[CLASSES], y2[CLASSES];
    scalpel_net v;
    int32_t i;
    if (!raw || n == 0) { CHECK(0, "%s: serialized size", name); free(raw); return; }
    p = raw + ((64 - (uintptr_t)raw % 64) % 64);
    p2 = p + ((n + 63) / 64) * 64;
    for (i = 0; i < IN_N; i++) x[i] = test_uniform();
    CHECK(scalpel_net_serialize(net, p, n, &written) == SCALPEL_OK && written == n, "%s: serialize", name);
    memset(&v, 0, sizeof(v));
    CHECK(scalpel_net_view(p, n, &v) == SCALPEL_OK, "%s: view", name);
    CHECK(v.n_layers == net->n_layers && run_net(net, x, 1, y) && run_net(&v, x, 1, y2) && memcmp(y, y2, sizeof(y)) == 0, "%s: file outputs", name);
    CHECK(scalpel_net_serialize(&v, p2, n, &n2) == SCALPEL_OK && n2 == n && memcmp(p, p2, n) == 0,
          "%s: the same bytes again", name);
    scalpel_net_free(&v);
    {   /* the allocation-free view: the layer structs in our array */
        scalpel_layer room[4];
        float y3[CLASSES];
        CHECK(scalpel_net_view_with(p, n, room, 4, &v) == SCALPEL_OK && v.layers == room && !v.owns_layers &&
                  run_net(&v, x, 1, y3) && memcmp(y, y3, sizeof(y)) == 0, "%s: view into our layer array", name);
        scalpel_net_free(&v);
    }
    free(raw);
}

/* 6. the exported header of every kind's network, with an input and its expected outputs */
static FILE *export_index;

static void print_floats(FILE *f, const char *name, const float *v, int32_t n)
{
    int32_t i;
    fprintf(f, "static const float %s[%d] = {", name, (int)n);
    for (i = 0; i < n; i++) fprintf(f, "%s%.9gf", i == 0 ? "\n    " : i % 6 ? ", " : ",\n    ", (double)v[i]);
    fprintf(f, "\n};\n");
}

static void test_export(const scalpel_net *net, int32_t kind, const char *name, const char *dir)
{
    char path[512], cname[64];
    float x[IN_N], y[CLASSES];
    int32_t i;
    if (!dir || !export_index) return;
    sprintf(cname, "layers_k%d", (int)kind);
    sprintf(path, "%s/%s.h", dir, cname);
    CHECK(scalpel_net_export_c(net, cname, path) == SCALPEL_OK, "%s: export %s", name, path);
    for (i = 0; i < IN_N; i++) x[i] = test_uniform();
    CHECK(run_net(net, x, 1, y), "%s: outputs to export", name);
    fprintf(export_index, "#include \"%s.h\"\n", cname);
    sprintf(path, "%s_in", cname);
    print_floats(export_index, path, x, IN_N);
    sprintf(path, "%s_out", cname);
    print_floats(export_index, path, y, CLASSES);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    int32_t kind;
    char path[512];
    if (dir) {
        sprintf(path, "%s/layers_export.h", dir);
        export_index = fopen(path, "w");
        CHECK(export_index != NULL, "open %s", path);
        if (export_index) fprintf(export_index, "/* written by tests/test_layers.c */\n");
    }
    for (kind = 1; kind < SCALPEL_LAYER_COUNT; kind++) {
        scalpel_layer_kind_desc d;
        scalpel_net net;
        float w0[9], b0[3], *wk = NULL, *bk = NULL, *wf = NULL, *bf = NULL;
        CHECK(scalpel_layer_kind_info(kind, &d) == SCALPEL_OK && d.name != NULL &&
                  strcmp(d.name, scalpel_layer_kind_name(kind)) == 0, "kind %d described", (int)kind);
        printf("kind %d: %s%s\n", (int)kind, d.name, d.weighted ? " (weighted)" : "");
        test_alone(kind, d.name);
        test_skip(kind, d.name);
        CHECK(build_context(&net, kind, w0, b0, &wk, &bk, &wf, &bf), "%s: conv1x1 -> %s -> fc", d.name, d.name);
        if (net.n_layers == 3) {
            test_fixed_point(&net, d.name);
            test_training(&net, d.name);
            test_file(&net, d.name);
            test_export(&net, kind, d.name, dir);
        }
        free(wk); free(bk); free(wf); free(bf);
        scalpel_net_free(&net);
    }
    {   /* the table refuses what is no kind */
        scalpel_layer_kind_desc d;
        scalpel_layer_geom g;
        float v = 0.0f;
        memset(&g, 0, sizeof(g));
        CHECK(scalpel_layer_kind_info(0, &d) == SCALPEL_ERR_ARGUMENT && d.name == NULL, "kind 0");
        CHECK(scalpel_layer_kind_info(SCALPEL_LAYER_COUNT, &d) == SCALPEL_ERR_ARGUMENT, "kind past the table");
        CHECK(strcmp(scalpel_layer_kind_name(SCALPEL_LAYER_COUNT), "?") == 0, "name past the table");
        CHECK(scalpel_layer_forward_ref(&g, NULL, NULL, &v, &v) == SCALPEL_ERR_ARGUMENT, "reference of no kind");
    }
    if (export_index) {
        fprintf(export_index, "static const struct { const scalpel_net *net; const float *in, *out; const char *name; }"
                              " layers_cases[] = {\n");
        for (kind = 1; kind < SCALPEL_LAYER_COUNT; kind++)
            fprintf(export_index, "    { &layers_k%d, layers_k%d_in, layers_k%d_out, \"%s\" },\n", (int)kind, (int)kind,
                    (int)kind, scalpel_layer_kind_name(kind));
        fprintf(export_index, "};\n");
        CHECK(fclose(export_index) == 0, "write layers_export.h");
    }
    return test_summary("test_layers");
}
