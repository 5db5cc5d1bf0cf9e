/* test_cuda_emul.cu - the GPU backend's arithmetic and index maps, checked on the host.
 *
 *   nvcc -O3 -I. tests/test_cuda_emul.cu -o build/test_cuda_emul -lcublas
 *
 * No GPU needed. This file #includes scalpel_cuda.cu itself, so it tests the very source text
 * the kernels are compiled from: every kernel's body is a __host__ __device__ function
 * (scalpel__cuda_spmm_element, scalpel__cuda_im2col_at, scalpel__cuda_maxpool_at,
 * scalpel__cuda_to_fm_src / to_sm_src, scalpel__cuda_bias_index, the elementwise functions), and the
 * layer sequence (scalpel__cuda_run) is a template that the device runs with kernel launches
 * and this test runs with host loops over every index a kernel's grid covers, plus a
 * column-major SGEMM with exactly the arguments the device passes to cublasSgemm. Checked:
 *   - the SpMM element against scalpel_gcsr_spmm_f32_ref for every G, both index widths, tail
 *     groups, empty rows, n = 1, cols > 65536
 *   - the batched im2col map (column p*batch + s) against scalpel_im2col_f32 per sample, exactly
 *   - the transposes (both directions are inverse permutations)
 *   - whole networks (maxpool-only exactly; FC, conv, pool, relu, dense and grouped, random
 *     architectures) against scalpel_net_forward, with NaN-poisoned buffers of exactly the
 *     sizes scalpel__cuda_plan asks for and guard zones after them
 * Not checked here (needs a GPU: tests/test_cuda.c): launch configurations, cuBLAS itself,
 * memory transfers, streams. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel_cuda.cu"
#include "tests/test_util.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 64
static const float SENTINEL = 12345.5f;

/* ---- the host provider of scalpel__cuda_run -------------------------------------------- */

struct emul_ops {
    /* the buffers a provider may touch: [base, base + n) each */
    const float *ro[2]; size_t ro_n[2];          /* input, weights are not tracked */
    float *rw[4]; size_t rw_n[4];                /* act0, act1, scratch, out */
    long bad;                                     /* accesses outside them */
    long ops;

    /* 1 when [p, p + n) lies inside one known buffer; else counts it and the op is skipped
     * (a too small planned buffer fails the test instead of corrupting the heap) */
    int need(const float *p, size_t n)
    {
        int i;
        for (i = 0; i < 4; i++)
            if (rw[i] && p >= rw[i] && p + n <= rw[i] + rw_n[i]) return 1;
        for (i = 0; i < 2; i++)
            if (ro[i] && p >= ro[i] && p + n <= ro[i] + ro_n[i]) return 1;
        bad++;
        return 0;
    }
    scalpel_status to_fm(const float *in, float *act, int32_t batch, int32_t features)
    {
        size_t total = (size_t)batch * (size_t)features, o;
        if (!(need(in, total) & need(act, total))) return SCALPEL_ERR_BUFFER_TOO_SMALL;
        ops++;
        for (o = 0; o < total; o++) act[o] = in[scalpel__cuda_to_fm_src(o, batch, features)];
        return SCALPEL_OK;
    }
    scalpel_status to_sm(const float *act, float *out, int32_t batch, int32_t features)
    {
        size_t total = (size_t)batch * (size_t)features, o;
        if (!(need(act, total) & need(out, total))) return SCALPEL_ERR_BUFFER_TOO_SMALL;
        ops++;
        for (o = 0; o < total; o++) out[o] = act[scalpel__cuda_to_sm_src(o, batch, features)];
        return SCALPEL_OK;
    }
    scalpel_status im2col(const float *act, const scalpel__cuda_layer *L, int32_t batch, float *col)
    {
        size_t total = (size_t)L->geom.cols * (size_t)L->positions * (size_t)batch, o;
        if (!(need(act, (size_t)L->geom.in_c * L->geom.in_h * L->geom.in_w * batch) & need(col, total)))
            return SCALPEL_ERR_BUFFER_TOO_SMALL;
        ops++;
        for (o = 0; o < total; o++) col[o] = scalpel__cuda_im2col_at(act, L, batch, o);
        return SCALPEL_OK;
    }
    scalpel_status maxpool(const float *act, const scalpel__cuda_layer *L, int32_t batch, float *out, size_t total)
    {
        size_t o;
        if (!(need(act, (size_t)L->geom.in_c * L->geom.in_h * L->geom.in_w * batch) & need(out, total)))
            return SCALPEL_ERR_BUFFER_TOO_SMALL;
        ops++;
        for (o = 0; o < total; o++) out[o] = scalpel__cuda_maxpool_at(act, L, batch, o);
        return SCALPEL_OK;
    }
    scalpel_status bias(float *y, const float *b, size_t total, int32_t batch, int32_t positions)
    {
        size_t o;
        if (!need(y, total)) return SCALPEL_ERR_BUFFER_TOO_SMALL;
        ops++;
        for (o = 0; o < total; o++) y[o] += b[scalpel__cuda_bias_index(o, batch, positions)];
        return SCALPEL_OK;
    }
    template <class F> scalpel_status map(float *y, size_t total)
    {
        size_t o;
        if (!need(y, total)) return SCALPEL_ERR_BUFFER_TOO_SMALL;
        ops++;
        for (o = 0; o < total; o++) y[o] = F::apply(y[o]);
        return SCALPEL_OK;
    }
    scalpel_status spmm(const scalpel_gcsr *w, const float *b, int32_t n, float *c)
    {
        const uint16_t *c16 = w->index_bits == 16 ? (const uint16_t *)w->col_idx : NULL;
        const uint32_t *c32 = w->index_bits == 16 ? NULL : (const uint32_t *)w->col_idx;
        int32_t r, j;
        if (!(need(b, (size_t)w->cols * (size_t)n) & need(c, (size_t)w->rows * (size_t)n)))
            return SCALPEL_ERR_BUFFER_TOO_SMALL;
        ops++;
        for (r = 0; r < w->rows; r++)
            for (j = 0; j < n; j++)
                c[(size_t)r * (size_t)n + (size_t)j] = scalpel__cuda_spmm_element(
                    w->row_ptr, c16, c32, (const float *)w->values, w->group, w->cols, b, n, r, j);
        return SCALPEL_OK;
    }
    /* cublasSgemm(N, N, m, n, k, 1, A, lda, B, ldb, 0, C, ldc), column-major */
    scalpel_status gemm(scalpel__cuda_gemm g)
    {
        int i, j, p;
        if (g.lda < g.m || g.ldb < g.k || g.ldc < g.m) { bad++; return SCALPEL_ERR_ARGUMENT; }
        if (!(need(g.a, (size_t)g.lda * (size_t)g.k) & need(g.c, (size_t)g.ldc * (size_t)g.n)))
            return SCALPEL_ERR_BUFFER_TOO_SMALL;
        ops++;
        for (j = 0; j < g.n; j++)
            for (i = 0; i < g.m; i++) {
                float s = 0.0f;
                for (p = 0; p < g.k; p++) s += g.a[(size_t)i + (size_t)p * g.lda] * g.b[(size_t)p + (size_t)j * g.ldb];
                g.c[(size_t)i + (size_t)j * g.ldc] = s;
            }
        return SCALPEL_OK;
    }
};

/* ---- helpers (as in test_cuda.c) -------------------------------------------------------- */

static float *random_weights(int32_t rows, int32_t cols, int32_t group, int zero_pct)
{
    float *w = (float *)malloc((size_t)(rows ? rows : 1) * (size_t)(cols ? cols : 1) * sizeof(float));
    int32_t r, c;
    float scale = cols > 0 ? 3.0f / (float)cols : 1.0f;
    if (scale < 0.15f) scale = 0.15f;
    if (!w) return NULL;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++) w[(size_t)r * (size_t)cols + (size_t)c] = test_uniform() * scale;
    if (group > 0)
        for (r = 0; r < rows; r++)
            for (c = 0; c < cols; c += group)
                if (test_range(0, 99) < zero_pct) {
                    int32_t k;
                    for (k = c; k < c + group && k < cols; k++) w[(size_t)r * (size_t)cols + (size_t)k] = 0.0f;
                }
    return w;
}

static int widen_indices(const scalpel_gcsr *m, scalpel_gcsr *wide, uint32_t **idx)
{
    int32_t k;
    *wide = *m;
    *idx = (uint32_t *)malloc((size_t)(m->nnz_groups > 0 ? m->nnz_groups : 1) * sizeof(uint32_t));
    if (!*idx) return 0;
    for (k = 0; k < m->nnz_groups; k++) (*idx)[k] = scalpel_gcsr_col(m, k);
    wide->col_idx = *idx;
    wide->index_bits = 32;
    wide->block = NULL;
    return scalpel_gcsr_validate(wide) == SCALPEL_OK;
}

/* group 0 = dense; kernel 0 = FC */
static int add_weighted(scalpel_net *net, int32_t outputs, int32_t kernel, int32_t stride, int32_t pad,
                        int32_t group, int32_t bits)
{
    const scalpel_layer *last = net->n_layers ? &net->layers[net->n_layers - 1] : NULL;
    int32_t c = last ? last->geom.out_c : net->in_c, h = last ? last->geom.out_h : net->in_h, wd = last ? last->geom.out_w : net->in_w;
    int32_t cols = kernel ? c * kernel * kernel : c * h * wd, i;
    float *w = random_weights(outputs, cols, group, 60), *b = (float *)malloc((size_t)outputs * sizeof(float));
    int ok;
    if (!w || !b) { free(w); free(b); return 0; }
    for (i = 0; i < outputs; i++) b[i] = 0.1f * test_uniform();
    if (group == 0) {
        ok = (kernel ? scalpel_net_add_conv2d(net, outputs, kernel, stride, pad, w, b)
                     : scalpel_net_add_fc(net, outputs, w, b)) == SCALPEL_OK;
    } else {
        scalpel_gcsr m, wide;
        uint32_t *idx = NULL;
        const scalpel_gcsr *use = &m;
        ok = scalpel_gcsr_from_dense(w, outputs, cols, group, &m) == SCALPEL_OK;
        if (ok && bits == 32) { ok = widen_indices(&m, &wide, &idx); use = &wide; }
        if (ok) ok = (kernel ? scalpel_net_add_conv2d_gcsr(net, outputs, kernel, stride, pad, use, b)
                             : scalpel_net_add_fc_gcsr(net, use, b)) == SCALPEL_OK;
        free(idx);
        scalpel_gcsr_free(&m);
    }
    free(w);
    free(b);
    return ok;
}

static double rel_err(const float *a, const float *b, size_t n)
{
    double scale = 1.0, err = 0.0;
    size_t i;
    for (i = 0; i < n; i++) if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= err)) err = d;
    }
    return err / scale;
}

static float *alloc_guarded(size_t n)
{
    float *p = (float *)malloc((n + GUARD) * sizeof(float));
    size_t i;
    if (!p) return NULL;
    for (i = 0; i < n; i++) p[i] = NAN;             /* reading unwritten data shows as NaN */
    for (i = 0; i < GUARD; i++) p[n + i] = SENTINEL;
    return p;
}

static int guard_ok(const float *p, size_t n)
{
    size_t i;
    for (i = 0; i < GUARD; i++) if (p[n + i] != SENTINEL) return 0;
    return 1;
}

/* Emulated GPU forward of `net` for `batch` samples (max_batch >= batch sizes the buffers
 * as upload would) vs scalpel_net_forward. tol < 0: exact. */
static void emulate_net(const scalpel_net *net, int32_t max_batch, int32_t batch, double tol, const char *what)
{
    scalpel__cuda_layer layers[SCALPEL_NET_MAX_LAYERS];
    size_t act_n = 0, scr_n = 0, in_n, out_n, i;
    int32_t in_f = scalpel_net_input_size(net), out_f = scalpel_net_output_size(net);
    float *x, *ycpu, *y, *a0, *a1, *scr;
    void *ws;
    emul_ops ops;
    scalpel_status st;
    CHECK(scalpel_net_validate(net) == SCALPEL_OK, "%s: net invalid", what);
    st = scalpel__cuda_plan(net, max_batch, layers, &act_n, &scr_n);
    CHECK(st == SCALPEL_OK, "%s: plan %s", what, scalpel_status_string(st));
    if (st != SCALPEL_OK) return;
    in_n = (size_t)batch * (size_t)in_f;
    out_n = (size_t)batch * (size_t)out_f;
    x = (float *)malloc(in_n * sizeof(float));
    ycpu = (float *)malloc(out_n * sizeof(float));
    y = alloc_guarded(out_n);
    a0 = alloc_guarded(act_n);
    a1 = alloc_guarded(act_n);
    scr = alloc_guarded(scr_n);
    ws = malloc(scalpel_net_workspace_size(net, batch));
    if (!x || !ycpu || !y || !a0 || !a1 || !scr || !ws) { CHECK(0, "alloc"); goto done; }
    for (i = 0; i < in_n; i++) x[i] = test_uniform();
    memset(&ops, 0, sizeof(ops));
    ops.ro[0] = x; ops.ro_n[0] = in_n;
    ops.rw[0] = a0; ops.rw_n[0] = act_n;
    ops.rw[1] = a1; ops.rw_n[1] = act_n;
    ops.rw[2] = scr; ops.rw_n[2] = scr_n;
    ops.rw[3] = y; ops.rw_n[3] = out_n;
    st = scalpel__cuda_run(ops, layers, net->n_layers, in_f, out_f, x, batch, y, a0, a1, scr);
    CHECK(st == SCALPEL_OK, "%s: run %s", what, scalpel_status_string(st));
    CHECK(ops.bad == 0, "%s: %ld accesses outside the planned buffers", what, ops.bad);
    CHECK(guard_ok(a0, act_n) && guard_ok(a1, act_n) && guard_ok(scr, scr_n) && guard_ok(y, out_n),
          "%s: write past a planned buffer", what);
    CHECK(scalpel_net_forward(net, x, batch, ycpu, ws) == SCALPEL_OK, "%s: cpu forward", what);
    if (tol < 0) {
        CHECK(memcmp(y, ycpu, out_n * sizeof(float)) == 0, "%s batch %d: not exact", what, (int)batch);
    } else {
        double e = rel_err(y, ycpu, out_n);
        CHECK(e <= tol, "%s batch %d: rel err %g", what, (int)batch, e);
    }
done:
    free(x); free(ycpu); free(y); free(a0); free(a1); free(scr); free(ws);
}

/* ---- 1. SpMM element vs scalpel_gcsr_spmm_f32_ref ------------------------------------------ */

static void check_spmm(int32_t rows, int32_t cols, int32_t n, int32_t group, int32_t bits, int zero_pct)
{
    float *w = random_weights(rows, cols, group, zero_pct);
    float *b = alloc_guarded((size_t)cols * (size_t)n);   /* NaN past B: 0 * NaN shows a tail read */
    float *c = (float *)malloc((size_t)(rows ? rows : 1) * (size_t)n * sizeof(float));
    float *cr = (float *)malloc((size_t)(rows ? rows : 1) * (size_t)n * sizeof(float));
    scalpel_gcsr m, wide;
    const scalpel_gcsr *use = &m;
    uint32_t *idx = NULL;
    emul_ops ops;
    size_t i;
    long over = 0;
    int32_t r, j, k;
    memset(&m, 0, sizeof(m));
    memset(&ops, 0, sizeof(ops));
    if (!w || !b || !c || !cr || scalpel_gcsr_from_dense(w, rows, cols, group, &m) != SCALPEL_OK) {
        CHECK(0, "spmm setup %d x %d G %d", (int)rows, (int)cols, (int)group);
        goto done;
    }
    CHECK(m.index_bits == 16 || cols > 65536, "from_dense gives 16-bit indices when they fit");
    if (bits == 32 && m.index_bits == 16) {
        if (!widen_indices(&m, &wide, &idx)) { CHECK(0, "widen"); goto done; }
        use = &wide;
    }
    CHECK(use->index_bits == bits, "index width %d", (int)bits);
    for (i = 0; i < (size_t)cols * (size_t)n; i++) b[i] = test_uniform();
    for (i = 0; i < GUARD; i++) b[(size_t)cols * (size_t)n + i] = NAN;
    scalpel_gcsr_spmm_f32_ref(use, b, n, cr);
    ops.rw[0] = (float *)b; ops.rw_n[0] = (size_t)cols * (size_t)n;
    ops.rw[1] = c; ops.rw_n[1] = (size_t)rows * (size_t)n;
    ops.spmm(use, b, n, c);
    CHECK(ops.bad == 0, "spmm buffers");
    /* bound: 2 * terms * eps * sum |w_i * b_i| (both sums are recursive summations) */
    for (r = 0; r < rows; r++)
        for (j = 0; j < n; j++) {
            double sabs = 0.0, bound;
            for (k = 0; k < cols; k++)
                sabs += fabs((double)w[(size_t)r * cols + k] * (double)b[(size_t)k * n + j]);
            bound = 2.0 * (double)(cols + 1) * FLT_EPSILON * sabs + 1e-30;
            if (!(fabs((double)c[(size_t)r * n + j] - (double)cr[(size_t)r * n + j]) <= bound)) over++;
        }
    CHECK(over == 0, "spmm %d x %d . %d x %d G %d bits %d: %ld elements off", (int)rows, (int)cols, (int)cols,
          (int)n, (int)group, (int)bits, over);
done:
    free(idx);
    scalpel_gcsr_free(&m);
    free(w); free(b); free(c); free(cr);
}

/* ---- 2. im2col map vs scalpel_im2col_f32 ---------------------------------------------------- */

static void check_im2col(int32_t C, int32_t H, int32_t W, int32_t K, int32_t S, int32_t P, int32_t batch)
{
    scalpel__cuda_layer L;
    int32_t oh = scalpel_conv_out_dim(H, K, S, P), ow = scalpel_conv_out_dim(W, K, S, P), s;
    size_t chw, pos, ckk, i, row, p, wrong = 0;
    float *act, *col, *one, *ref;
    emul_ops ops;
    if (oh < 1 || ow < 1) return;
    memset(&L, 0, sizeof(L));
    L.geom.kind = SCALPEL_LAYER_CONV2D;
    L.geom.in_c = C; L.geom.in_h = H; L.geom.in_w = W; L.geom.kernel = K; L.geom.stride = S; L.geom.pad = P;
    L.geom.out_h = oh; L.geom.out_w = ow; L.positions = oh * ow; L.geom.cols = C * K * K;
    chw = (size_t)C * H * W; pos = (size_t)oh * ow; ckk = (size_t)C * K * K;
    act = (float *)malloc(chw * batch * sizeof(float));
    col = (float *)malloc(ckk * pos * batch * sizeof(float));
    one = (float *)malloc(chw * sizeof(float));
    ref = (float *)malloc(ckk * pos * sizeof(float));
    memset(&ops, 0, sizeof(ops));
    if (!act || !col || !one || !ref) { CHECK(0, "alloc"); goto done; }
    for (i = 0; i < chw * batch; i++) act[i] = test_uniform() + 2.0f;   /* never 0: padding shows */
    ops.rw[0] = act; ops.rw_n[0] = chw * batch;
    ops.rw[1] = col; ops.rw_n[1] = ckk * pos * batch;
    ops.im2col(act, &L, batch, col);
    for (s = 0; s < batch; s++) {
        for (i = 0; i < chw; i++) one[i] = act[i * batch + s];
        scalpel_im2col_f32(one, C, H, W, K, S, P, ref);
        for (row = 0; row < ckk; row++)
            for (p = 0; p < pos; p++)
                if (memcmp(&col[row * pos * batch + p * batch + s], &ref[row * pos + p], sizeof(float)) != 0) wrong++;
    }
    CHECK(ops.bad == 0 && wrong == 0, "im2col C%d H%d W%d K%d S%d P%d batch %d: %lu wrong", (int)C, (int)H, (int)W,
          (int)K, (int)S, (int)P, (int)batch, (unsigned long)wrong);
done:
    free(act); free(col); free(one); free(ref);
}

/* ---- 3. transposes ------------------------------------------------------------------------ */

static void check_transposes(int32_t batch, int32_t features)
{
    size_t n = (size_t)batch * features, o, bad = 0;
    float *in = (float *)malloc(n * sizeof(float)), *act = (float *)malloc(n * sizeof(float));
    float *back = (float *)malloc(n * sizeof(float));
    unsigned char *hit = (unsigned char *)calloc(n, 1);
    emul_ops ops;
    int32_t s, f;
    memset(&ops, 0, sizeof(ops));
    if (!in || !act || !back || !hit) { CHECK(0, "alloc"); goto done; }
    for (o = 0; o < n; o++) in[o] = (float)o;
    ops.rw[0] = in; ops.rw_n[0] = n; ops.rw[1] = act; ops.rw_n[1] = n; ops.rw[2] = back; ops.rw_n[2] = n;
    ops.to_fm(in, act, batch, features);
    for (s = 0; s < batch; s++)
        for (f = 0; f < features; f++)
            if (act[(size_t)f * batch + s] != in[(size_t)s * features + f]) bad++;
    for (o = 0; o < n; o++) {
        size_t src = scalpel__cuda_to_fm_src(o, batch, features);
        if (src >= n || hit[src]) bad++; else hit[src] = 1;
    }
    ops.to_sm(act, back, batch, features);
    CHECK(bad == 0 && ops.bad == 0 && memcmp(back, in, n * sizeof(float)) == 0,
          "transposes batch %d features %d", (int)batch, (int)features);
done:
    free(in); free(act); free(back); free(hit);
}

/* ---- 4. networks ---------------------------------------------------------------------------- */

static void check_maxpool_nets(void)
{
    static const int32_t shapes[][5] = { /* C, H, W, K, S */
        { 1, 4, 4, 2, 2 }, { 3, 7, 5, 2, 2 }, { 2, 9, 11, 3, 2 }, { 4, 6, 6, 3, 3 }, { 2, 5, 8, 2, 1 },
        { 1, 1, 1, 1, 1 }, { 3, 10, 3, 3, 1 }, { 2, 13, 13, 4, 3 }, { 5, 6, 7, 1, 2 }
    };
    size_t t;
    int32_t batch;
    for (t = 0; t < sizeof(shapes) / sizeof(shapes[0]); t++)
        for (batch = 1; batch <= 9; batch += 4) {
            scalpel_net net;
            char what[64];
            if (scalpel_net_init(shapes[t][0], shapes[t][1], shapes[t][2], &net) != SCALPEL_OK ||
                scalpel_net_add_maxpool(&net, shapes[t][3], shapes[t][4]) != SCALPEL_OK) {
                CHECK(0, "maxpool net %d", (int)t);
                continue;
            }
            snprintf(what, sizeof(what), "maxpool net %d", (int)t);
            emulate_net(&net, 9, batch, -1.0, what);
            /* relu then maxpool: also exact */
            scalpel_net_free(&net);
            if (scalpel_net_init(shapes[t][0], shapes[t][1], shapes[t][2], &net) != SCALPEL_OK ||
                scalpel_net_add_relu(&net) != SCALPEL_OK ||
                scalpel_net_add_maxpool(&net, shapes[t][3], shapes[t][4]) != SCALPEL_OK) continue;
            emulate_net(&net, 12, batch, -1.0, "relu-maxpool net");
            scalpel_net_free(&net);
        }
}

/* The networks of test_cuda.c. */
static int build_fixed_net(int kind, int32_t group, int32_t bits, scalpel_net *net)
{
    int ok;
    if (kind == 0) {
        ok = scalpel_net_init(3, 4, 5, net) == SCALPEL_OK && add_weighted(net, 50, 0, 0, 0, group, bits) &&
             scalpel_net_add_relu(net) == SCALPEL_OK && add_weighted(net, 23, 0, 0, 0, group, bits) &&
             scalpel_net_add_relu(net) == SCALPEL_OK && add_weighted(net, 10, 0, 0, 0, group, bits);
    } else {
        ok = scalpel_net_init(3, 13, 11, net) == SCALPEL_OK && add_weighted(net, 8, 3, 1, 1, group, bits) &&
             scalpel_net_add_relu(net) == SCALPEL_OK && scalpel_net_add_maxpool(net, 2, 2) == SCALPEL_OK &&
             add_weighted(net, 12, 3, 2, 1, group, bits) && scalpel_net_add_relu(net) == SCALPEL_OK &&
             add_weighted(net, 6, 1, 1, 0, group, bits) && scalpel_net_add_maxpool(net, 2, 1) == SCALPEL_OK &&
             add_weighted(net, 20, 0, 0, 0, group, bits) && scalpel_net_add_relu(net) == SCALPEL_OK &&
             add_weighted(net, 10, 0, 0, 0, group, bits);
    }
    if (!ok) scalpel_net_free(net);
    return ok;
}

static int32_t random_storage_group(void)
{
    static const int32_t g[6] = { 0, 1, 2, 4, 8, 16 };
    return g[test_range(0, 5)];
}

/* A random chain of conv / maxpool / relu / FC layers (each weighted layer in a random
 * storage); returns 0 when the random shape ran out of room (try again). */
static int build_random_net(scalpel_net *net)
{
    int32_t c = test_range(1, 4), h = test_range(1, 14), w = test_range(1, 14), n = test_range(1, 6), i;
    if (scalpel_net_init(c, h, w, net) != SCALPEL_OK) return 0;
    for (i = 0; i < n; i++) {
        int32_t kind = test_range(0, 3), group = random_storage_group(), bits = test_range(0, 1) ? 32 : 16;
        int ok = 1;
        if (kind == 0) {          /* conv */
            int32_t k = test_range(1, 5), s = test_range(1, 3), p = test_range(0, k - 1);
            if (scalpel_conv_out_dim(h, k, s, p) < 1 || scalpel_conv_out_dim(w, k, s, p) < 1) { k = 1; s = 1; p = 0; }
            if (test_range(0, 4) == 0) { k = 1; s = 1; p = 0; }   /* the direct 1x1 path */
            ok = add_weighted(net, test_range(1, 9), k, s, p, group, bits);
        } else if (kind == 1) {   /* maxpool */
            int32_t k = test_range(1, 3), s = test_range(1, 3);
            if (k > h || k > w) k = 1;
            ok = scalpel_net_add_maxpool(net, k, s) == SCALPEL_OK;
        } else if (kind == 2) {
            ok = scalpel_net_add_relu(net) == SCALPEL_OK;
        } else {
            ok = add_weighted(net, test_range(1, 30), 0, 0, 0, group, bits);
        }
        if (!ok) { scalpel_net_free(net); return 0; }
        c = net->layers[i].geom.out_c; h = net->layers[i].geom.out_h; w = net->layers[i].geom.out_w;
    }
    return 1;
}

static void check_plan_limits(void)
{
    scalpel_net net;
    scalpel__cuda_layer layers[SCALPEL_NET_MAX_LAYERS];
    size_t act_n = 0, scr_n = 0;
    if (!build_fixed_net(1, 0, 16, &net)) { CHECK(0, "build"); return; }
    CHECK(scalpel__cuda_plan(&net, 50, layers, &act_n, &scr_n) == SCALPEL_OK, "plan");
    /* largest features: input 3*13*11 = 429 vs conv1 8*13*11 = 1144; im2col conv1 27 x 143 */
    CHECK(act_n == (size_t)1144 * 50, "act size %lu", (unsigned long)act_n);
    CHECK(scr_n == (size_t)27 * 143 * 50 || scr_n > (size_t)27 * 143 * 50, "scratch size %lu", (unsigned long)scr_n);
    CHECK(layers[5].direct == 1 && layers[0].direct == 0, "1x1 conv runs without im2col");
    CHECK(layers[0].positions == 143 && layers[8].positions == 1, "positions");
    CHECK(scalpel__cuda_plan(&net, INT32_MAX, layers, &act_n, &scr_n) == SCALPEL_ERR_OVERFLOW,
          "positions x max_batch past int32 refused");
    scalpel_net_free(&net);
    /* the gemm mapping: row-major C[m x n] = A[m x k] . B[k x n] -> column-major arguments */
    {
        float a[6] = { 1, 2, 3, 4, 5, 6 }, b[12], c[8], cr[8];
        int i;
        emul_ops ops;
        memset(&ops, 0, sizeof(ops));
        ops.rw[0] = a; ops.rw_n[0] = 6; ops.rw[1] = b; ops.rw_n[1] = 12; ops.rw[2] = c; ops.rw_n[2] = 8;
        for (i = 0; i < 12; i++) b[i] = (float)(i * i % 7) - 3.0f;
        ops.gemm(scalpel__cuda_gemm_rowmajor(a, 2, 3, b, 4, c));
        scalpel_gemm_f32_ref(a, 2, 3, b, 4, cr);
        CHECK(memcmp(c, cr, sizeof(c)) == 0 && ops.bad == 0, "gemm argument mapping");
    }
}

int main(void)
{
    static const int32_t groups[5] = { 1, 2, 4, 8, 16 };
    static const int32_t batches[3] = { 1, 7, 50 };
    int gi, bits, t, bi, kind;
    /* 1. SpMM */
    for (gi = 0; gi < 5; gi++)
        for (bits = 16; bits <= 32; bits += 16) {
            int32_t G = groups[gi];
            check_spmm(1, 1, 1, G, bits, 0);
            check_spmm(7, 13, 5, G, bits, 50);
            check_spmm(16, 64, 50, G, bits, 70);
            check_spmm(33, 101, 7, G, bits, 60);
            check_spmm(9, G + 3, 33, G, bits, 30);        /* tail group */
            check_spmm(5, 3, 4, G, bits, 0);              /* cols < G for G >= 4 */
            check_spmm(12, 40, 9, G, bits, 100);          /* every row empty */
            check_spmm(20, 77, 1, G, bits, 95);           /* mostly empty rows, n = 1 */
            check_spmm(0, 10, 3, G, bits, 50);            /* no rows */
            check_spmm(40, 300, 100, G, bits, 80);
        }
    check_spmm(3, 70001, 2, 8, 32, 90);                   /* 32-bit indices by necessity */
    check_spmm(2, 65536 + 5, 3, 16, 32, 50);
    check_spmm(2, 65536, 2, 8, 16, 95);                   /* 16-bit indices up to 65528 */
    check_spmm(3, 40000, 3, 1, 16, 99);
    /* 2. im2col */
    for (t = 0; t < 300; t++) {
        int32_t K = test_range(1, 5), S = test_range(1, 3);
        check_im2col(test_range(1, 4), test_range(1, 12), test_range(1, 12), K, S, test_range(0, K - 1),
                     test_range(1, 6));
    }
    check_im2col(3, 32, 32, 5, 1, 2, 4);
    check_im2col(1, 1, 1, 1, 1, 0, 50);
    check_im2col(2, 7, 9, 3, 2, 1, 50);
    /* 3. transposes */
    check_transposes(1, 1);
    check_transposes(1, 37);
    check_transposes(50, 1);
    check_transposes(7, 60);
    check_transposes(50, 784);
    /* 4. networks */
    check_plan_limits();
    check_maxpool_nets();
    for (kind = 0; kind < 2; kind++)
        for (gi = -1; gi < 5; gi++)
            for (bits = 16; bits <= 32; bits += 16) {
                scalpel_net net;
                char what[64];
                int32_t G = gi < 0 ? 0 : groups[gi];
                if (G == 0 && bits == 32) continue;
                if (!build_fixed_net(kind, G, bits, &net)) { CHECK(0, "build %d %d", kind, (int)G); continue; }
                snprintf(what, sizeof(what), "%s G %d bits %d", kind ? "conv net" : "fc net", (int)G, (int)bits);
                for (bi = 0; bi < 3; bi++) emulate_net(&net, 50, batches[bi], 1e-4, what);
                scalpel_net_free(&net);
            }
    for (t = 0; t < 400; t++) {
        scalpel_net net;
        char what[64];
        int32_t batch = test_range(1, 9);
        if (!build_random_net(&net)) { t--; continue; }
        snprintf(what, sizeof(what), "random net %d (%d layers)", t, (int)net.n_layers);
        emulate_net(&net, batch + test_range(0, 3), batch, 1e-4, what);
        scalpel_net_free(&net);
    }
    {   /* no layers: output = input */
        scalpel_net net;
        if (scalpel_net_init(2, 3, 4, &net) == SCALPEL_OK) emulate_net(&net, 5, 5, -1.0, "empty net");
    }
    /* every layer kind of the library's table (a new kind joins here by itself): the kind with
     * its sample parameters after a [3 x 8 x 8] input, between a 1x1 convolution and an fc */
    for (int32_t kind = 1; kind < SCALPEL_LAYER_COUNT; kind++) {
        scalpel_layer_kind_desc d;
        scalpel_net net;
        float w0[9], b0[3];
        char what[64];
        int ok;
        for (int i = 0; i < 9; i++) w0[i] = test_uniform();
        for (int i = 0; i < 3; i++) b0[i] = test_uniform();
        ok = scalpel_layer_kind_info(kind, &d) == SCALPEL_OK && scalpel_net_init(3, 8, 8, &net) == SCALPEL_OK &&
             scalpel_net_add_layer(&net, SCALPEL_LAYER_CONV2D, 3, 1, 1, 0, w0, b0) == SCALPEL_OK;
        ok = ok && scalpel_net_add_layer(&net, kind, d.outputs, d.kernel, d.stride, d.pad, NULL, NULL) == SCALPEL_OK;
        ok = ok && scalpel_net_add_layer(&net, SCALPEL_LAYER_FC, 10, 0, 0, 0, NULL, NULL) == SCALPEL_OK;
        for (int32_t j = 1; ok && j < net.n_layers; j++) {  /* zero weights as added: random ones now */
            scalpel_layer *L = &net.layers[j];
            size_t n = L->w ? (size_t)L->geom.rows * (size_t)L->geom.cols : 0;
            for (size_t k = 0; k < n; k++) ((float *)(uintptr_t)L->w)[k] = test_uniform();
        }
        snprintf(what, sizeof(what), "kind %s", d.name ? d.name : "?");
        CHECK(ok, "%s: build", what);
        if (ok && !scalpel_layer_supports(&net.layers[1].geom, SCALPEL_USE_GPU)) {
            /* not on the GPU yet: refused, and the layer named */
            scalpel__cuda_layer layers[4];
            size_t act_n = 0, scr_n = 0;
            CHECK(scalpel__cuda_plan(&net, 4, layers, &act_n, &scr_n) == SCALPEL_ERR_UNSUPPORTED &&
                      scalpel_net_first_unsupported(&net, SCALPEL_USE_GPU) == 1,
                  "%s: refused by the GPU plan", what);
        } else if (ok) {
            for (int32_t batch = 1; batch <= 4; batch += 3) emulate_net(&net, 4, batch, 1e-4, what);
        }
        scalpel_net_free(&net);
    }
    return test_summary("test_cuda_emul");
}
