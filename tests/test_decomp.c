/* test_decomp.c - TASD series (parse, greedy decomposition, error measures), hybrid and series
 * layers inside networks, and the no-retrain planner.
 *
 * Decompositions are checked against the algebra they promise: W == sum T_i + R exactly, one M
 * with N1 + N2 == the top N1 + N2 of each group, errors equal to the same sums done here in
 * double. Networks are checked by running them: an exact form gives the dense outputs. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "scalpel_train.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

static void fill(float *w, int32_t n, float zero_rate)
{
    int32_t i;
    for (i = 0; i < n; i++) {
        float u = test_uniform();
        w[i] = (test_uniform() * 0.5f + 0.5f) < zero_rate ? 0.0f : u;
    }
}

static void test_parse(void)
{
    static const char *good[] = { "2:4", "1:8+2:8", "4:8+2:8+1:8", "8:16+4:16+2:16+1:16", "16:16", "1:2" };
    static const char *bad[] = { "", "2", "2:", ":4", "2:3", "0:4", "5:4", "2:32", "2:4+", "+2:4", "2:4 ",
                                 "2:4+1:4+1:4+1:4+1:4", "a:4", "2:4x", "0002:4", "-1:4", "2::4" };
    scalpel_tasd_spec s;
    char buf[64];
    size_t i;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK(scalpel_tasd_parse(good[i], &s) == SCALPEL_OK, "parse '%s'", good[i]);
        scalpel_tasd_spec_string(&s, buf, sizeof buf);
        CHECK(strcmp(buf, good[i]) == 0, "round trip '%s' -> '%s'", good[i], buf);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(scalpel_tasd_parse(bad[i], &s) == SCALPEL_ERR_ARGUMENT && s.n_terms == 0, "reject '%s'", bad[i]);
    }
    CHECK(scalpel_tasd_parse(NULL, &s) == SCALPEL_ERR_NULL, "NULL text");
    CHECK(scalpel_tasd_parse("2:4", NULL) == SCALPEL_ERR_NULL, "NULL out");
    scalpel_tasd_parse("4:8+2:8", &s);
    scalpel_tasd_spec_string(&s, buf, 4);
    CHECK(strlen(buf) <= 3, "truncated spec string stays terminated");
}

/* top-k per group of m, ties to the lowest position: the oracle for a one-M series */
static void top_k(const float *w, int32_t rows, int32_t cols, int32_t k, int32_t m, float *out)
{
    int32_t r, c0, j, s;
    memset(out, 0, (size_t)rows * (size_t)cols * sizeof(float));
    for (r = 0; r < rows; r++)
        for (c0 = 0; c0 < cols; c0 += m) {
            int keep[16] = { 0 };
            for (s = 0; s < k; s++) {
                int32_t best = -1;
                float bm = -1.0f;
                for (j = 0; j < m; j++) {
                    float a = c0 + j < cols ? w[r * cols + c0 + j] : 0.0f;
                    a = a < 0 ? -a : a;
                    if (!keep[j] && a > bm) { bm = a; best = j; }
                }
                keep[best] = 1;
            }
            for (j = 0; j < m && c0 + j < cols; j++)
                if (keep[j]) out[r * cols + c0 + j] = w[r * cols + c0 + j];
        }
}

static void test_decompose(void)
{
    int32_t it;
    for (it = 0; it < 60; it++) {
        int32_t rows = test_range(1, 20), cols = test_range(1, 70), i, m = 4 << (it % 3);
        size_t n = (size_t)rows * (size_t)cols;
        float *w = (float *)malloc(n * sizeof(float)), *R = (float *)malloc(n * sizeof(float));
        float *d = (float *)malloc(n * sizeof(float)), *o = (float *)malloc(n * sizeof(float));
        float *x = (float *)malloc((size_t)cols * 8 * sizeof(float));
        scalpel_tasd_spec spec;
        scalpel_tasd t;
        double et, eo, num = 0, den = 0;
        int exact = 1;
        fill(w, (int32_t)n, (float)(it % 5) * 0.2f);
        fill(x, cols * 8, 0.0f);
        spec.n_terms = 2;
        spec.n[0] = m / 2; spec.m[0] = m;
        spec.n[1] = m / 4; spec.m[1] = m;
        CHECK(scalpel_tasd_decompose(w, rows, cols, &spec, &t, R) == SCALPEL_OK, "decompose %dx%d", (int)rows, (int)cols);
        CHECK(scalpel_tasd_validate(&t) == SCALPEL_OK && t.n_terms == 2, "valid series");
        CHECK(scalpel_tasd_to_dense(&t, d) == SCALPEL_OK, "to dense");
        for (i = 0; i < (int32_t)n; i++) exact &= d[i] + R[i] == w[i] && (d[i] == 0.0f || R[i] == 0.0f);
        CHECK(exact, "w == sum T + R exactly, disjoint");
        top_k(w, rows, cols, m / 2 + m / 4, m, o);
        CHECK(memcmp(o, d, n * sizeof(float)) == 0, "N1:M + N2:M == top (N1+N2) per group (M %d)", (int)m);
        CHECK(scalpel_tasd_bytes(&t) == scalpel_nm_bytes(&t.terms[0]) + scalpel_nm_bytes(&t.terms[1]), "bytes");
        for (i = 0; i < (int32_t)n; i++) { num += (double)R[i] * R[i]; den += (double)w[i] * w[i]; }
        CHECK(scalpel_tasd_error_tensor(w, &t, &et) == SCALPEL_OK, "error tensor");
        CHECK(fabs(et - (den > 0 ? sqrt(num / den) : 0.0)) < 1e-6, "tensor error %g vs %g", et, den > 0 ? sqrt(num / den) : 0.0);
        CHECK(scalpel_tasd_error_output(w, &t, x, 8, &eo) == SCALPEL_OK, "error output");
        {
            double nn = 0, dd = 0;
            int32_t s, r, c;
            for (s = 0; s < 8; s++)
                for (r = 0; r < rows; r++) {
                    double y = 0, e = 0;
                    for (c = 0; c < cols; c++) { y += (double)w[r * cols + c] * x[s * cols + c]; e += (double)R[r * cols + c] * x[s * cols + c]; }
                    nn += e * e; dd += y * y;
                }
            CHECK(fabs(eo - (dd > 0 ? sqrt(nn / dd) : 0.0)) < 1e-4, "output error %g vs %g", eo, dd > 0 ? sqrt(nn / dd) : 0.0);
        }
        {   /* the series kernels compute the sum of the terms */
            float *y = (float *)malloc((size_t)rows * sizeof(float)), *yr = (float *)malloc((size_t)rows * sizeof(float));
            int ok = 1;
            scalpel_tasd_spmv_f32(&t, x, y);
            scalpel_gemv_f32_ref(d, rows, cols, x, yr);
            for (i = 0; i < rows; i++) ok &= fabsf(y[i] - yr[i]) <= 1e-4f * (1.0f + fabsf(yr[i]));
            CHECK(ok, "series spmv == dense product of the sum");
            free(y);
            free(yr);
        }
        scalpel_tasd_free(&t);
        CHECK(t.n_terms == 0 && t.terms[0].values == NULL, "free zeroes");
        free(w); free(R); free(d); free(o); free(x);
    }
    {
        scalpel_tasd t;
        scalpel_tasd_spec spec;
        float w[4] = { 1, 2, 3, 4 }, bad[2] = { 1.0f, 0.0f };
        bad[1] = bad[1] / bad[1] * 0.0f + (float)(1e30 * 1e30);
        memset(&spec, 0, sizeof spec);
        CHECK(scalpel_tasd_decompose(w, 1, 4, &spec, &t, NULL) == SCALPEL_ERR_ARGUMENT, "zero terms");
        scalpel_tasd_parse("2:4", &spec);
        CHECK(scalpel_tasd_decompose(NULL, 1, 4, &spec, &t, NULL) == SCALPEL_ERR_NULL, "NULL w");
        CHECK(scalpel_tasd_decompose(w, -1, 4, &spec, &t, NULL) == SCALPEL_ERR_SHAPE, "negative rows");
        CHECK(scalpel_tasd_decompose(bad, 1, 2, &spec, &t, NULL) == SCALPEL_ERR_ARGUMENT, "infinite weight");
        spec.m[0] = 3;
        CHECK(scalpel_tasd_decompose(w, 1, 4, &spec, &t, NULL) == SCALPEL_ERR_ARGUMENT, "M = 3");
    }
}

/* 784-48-10 with ReLU, random weights; ~80% zeros in fc1 so that exact sparse forms pay */
static void small_net(scalpel_net *net, float zero_rate)
{
    float *w1 = (float *)malloc(48 * 784 * sizeof(float)), w2[10 * 48], b1[48], b2[10];
    fill(w1, 48 * 784, zero_rate);
    fill(w2, 480, 0.0f);
    fill(b1, 48, 0.0f);
    fill(b2, 10, 0.0f);
    scalpel_net_init(1, 28, 28, net);
    scalpel_net_add_fc(net, 48, w1, b1);
    scalpel_net_add_relu(net);
    scalpel_net_add_fc(net, 10, w2, b2);
    free(w1);
}

static int same_outputs(const scalpel_net *a, const scalpel_net *b, const float *x, int32_t batch, float tol)
{
    size_t wa = scalpel_net_workspace_size(a, batch), wb = scalpel_net_workspace_size(b, batch);
    float *ya = (float *)malloc((size_t)batch * 10 * sizeof(float)), *yb = (float *)malloc((size_t)batch * 10 * sizeof(float));
    void *ka = malloc(wa), *kb = malloc(wb);
    int ok = scalpel_net_forward(a, x, batch, ya, ka) == SCALPEL_OK && scalpel_net_forward(b, x, batch, yb, kb) == SCALPEL_OK;
    int32_t i;
    for (i = 0; ok && i < batch * 10; i++) ok = fabsf(ya[i] - yb[i]) <= tol * (1.0f + fabsf(ya[i]));
    free(ya); free(yb); free(ka); free(kb);
    return ok;
}

static void test_net_storages(void)
{
    scalpel_net net, ref;
    float *w = (float *)malloc(48 * 784 * sizeof(float)), *x = (float *)malloc(3 * 784 * sizeof(float));
    scalpel_hybrid h;
    scalpel_tasd t;
    scalpel_tasd_spec spec;
    scalpel_hw_profile hw;
    scalpel_plan plan;
    unsigned char buf[64];
    size_t written;
    int32_t i;
    test_rng_state = 0x9E3779B97F4A7C15ull;
    small_net(&net, 0.8f);
    test_rng_state = 0x9E3779B97F4A7C15ull;
    small_net(&ref, 0.8f);    /* the same network twice */
    fill(x, 3 * 784, 0.0f);
    memcpy(w, net.layers[0].w, 48 * 784 * sizeof(float));
    CHECK(scalpel_hybrid_from_dense(w, 48, 784, 8, NULL, &h) == SCALPEL_OK, "hybrid");
    CHECK(scalpel_net_set_hybrid(&net, 1, &h) == SCALPEL_ERR_ARGUMENT, "relu layer has no weights");
    CHECK(scalpel_net_set_hybrid(&net, 2, &h) == SCALPEL_ERR_SHAPE && h.grouped.values != NULL, "wrong shape: h kept");
    CHECK(scalpel_net_set_hybrid(&net, 0, &h) == SCALPEL_OK && h.grouped.values == NULL, "set hybrid moves");
    CHECK(net.layers[0].storage == SCALPEL_STORAGE_HYBRID && scalpel_net_validate(&net) == SCALPEL_OK, "valid hybrid net");
    CHECK(scalpel_net_has_decomposed(&net) == 1 && scalpel_net_has_decomposed(&ref) == 0, "has_decomposed");
    CHECK(same_outputs(&net, &ref, x, 1, 1e-4f) && same_outputs(&net, &ref, x, 3, 1e-4f), "hybrid layer == dense (batch 1, 3)");
    CHECK(scalpel_layer_macs(&net.layers[0]) == (int64_t)net.layers[0].sparse.nnz_groups * 8 + net.layers[0].residual.nnz_groups, "macs");
    CHECK(scalpel_net_weight_bytes(&net) < scalpel_net_weight_bytes(&ref), "hybrid is smaller");
    /* model files hold it (version 4; test_netfile checks the format) */
    CHECK(scalpel_net_serialize(&net, buf, sizeof buf, &written) == SCALPEL_ERR_BUFFER_TOO_SMALL, "a file needs room");
    CHECK(scalpel_net_serialized_size(&net) > sizeof buf, "serialized size");
    {
        size_t cap = scalpel_net_serialized_size(&net);
        unsigned char *file = (unsigned char *)malloc(cap);
        scalpel_net back;
        CHECK(file != NULL && scalpel_net_serialize(&net, file, cap, &written) == SCALPEL_OK && written == cap &&
                  scalpel_net_load_buffer(file, cap, &back) == SCALPEL_OK,
              "hybrid network through a model file");
        CHECK(back.n_layers > 0 && back.layers[0].storage == SCALPEL_STORAGE_HYBRID && same_outputs(&back, &ref, x, 3, 1e-4f),
              "loaded hybrid");
        scalpel_net_free(&back);
        free(file);
    }
    scalpel_hw_profile_host(&hw);
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_UNSUPPORTED, "plan_net refuses");
    {
        scalpel_trainer tr;
        CHECK(scalpel_trainer_init(&net, 4, NULL, &tr) == SCALPEL_ERR_UNSUPPORTED, "training refuses");
    }
    /* an exact series (N == M) and a lossy one */
    scalpel_tasd_parse("8:8", &spec);
    CHECK(scalpel_tasd_decompose(w, 48, 784, &spec, &t, NULL) == SCALPEL_OK, "8:8");
    CHECK(scalpel_net_set_tasd(&net, 0, &t) == SCALPEL_OK && t.n_terms == 0, "set tasd moves");
    CHECK(net.layers[0].storage == SCALPEL_STORAGE_TASD && scalpel_net_validate(&net) == SCALPEL_OK, "valid tasd net");
    CHECK(same_outputs(&net, &ref, x, 1, 1e-4f) && same_outputs(&net, &ref, x, 3, 1e-4f), "exact series == dense");
    net.layers[0].series->terms[0].values[0] = 0.0f;
    net.layers[0].series->terms[0].meta[0] ^= 0xff;   /* positions no longer increase */
    CHECK(scalpel_net_validate(&net) != SCALPEL_OK, "validate checks the series");
    net.layers[0].series->terms[0].meta[0] ^= 0xff;
    scalpel_net_free(&net);
    CHECK(net.n_layers == 0, "free");
    /* a trained-like net through the planner */
    {
        scalpel_dataset ds;
        scalpel_nr_plan *p = (scalpel_nr_plan *)malloc(sizeof *p);
        scalpel_nr_options o;
        int32_t *lab, n = 300;
        CHECK(scalpel_dataset_synthetic(n, 5, &ds) == SCALPEL_OK, "synthetic");
        lab = (int32_t *)malloc((size_t)n * sizeof(int32_t));
        for (i = 0; i < n; i++) lab[i] = ds.y[i];
        memset(&o, 0, sizeof o);
        o.calib = 64;
        CHECK(scalpel_plan_no_retrain(&ref, &hw, ds.x, lab, n, &o, p) == SCALPEL_OK, "plan no retrain");
        CHECK(p->n_layers == 3 && p->layers[1].chosen == -1 && p->layers[0].chosen >= 0 && p->layers[2].chosen >= 0, "layers");
        CHECK(p->layers[0].n_candidates == 19 && p->layers[0].cand[0].form == SCALPEL_NR_DENSE, "menu");
        CHECK(p->accuracy_planned >= p->accuracy_dense - 0.005f - 1e-6f, "within budget: %g vs %g", p->accuracy_planned, p->accuracy_dense);
        for (i = 0; i < p->layers[0].n_candidates; i++) {
            const scalpel_nr_candidate *c = &p->layers[0].cand[i];
            CHECK(c->seconds > 0 && c->bytes > 0 && c->error >= 0 && c->error < 2, "candidate %d numbers", (int)i);
            if (c->form != SCALPEL_NR_TASD) CHECK(c->error < 1e-5, "exact form %d has no error (%g)", (int)i, c->error);
        }
        CHECK(scalpel_net_load_buffer(NULL, 0, &net) != SCALPEL_OK, "load of nothing fails");
        {
            scalpel_net copy;
            size_t sz = scalpel_net_serialized_size(&ref);
            void *b = malloc(sz);
            scalpel_net_serialize(&ref, b, sz, &written);
            scalpel_net_load_buffer(b, sz, &copy);
            CHECK(scalpel_net_apply_no_retrain(&copy, p) == SCALPEL_OK && scalpel_net_validate(&copy) == SCALPEL_OK, "apply");
            scalpel_net_free(&copy);
            /* exact forms only: same outputs */
            o.no_tasd = 1;
            CHECK(scalpel_plan_no_retrain(&ref, &hw, ds.x, lab, n, &o, p) == SCALPEL_OK && p->layers[0].n_candidates == 4, "exact plan");
            scalpel_net_load_buffer(b, sz, &copy);
            CHECK(scalpel_net_apply_no_retrain(&copy, p) == SCALPEL_OK && same_outputs(&copy, &ref, x, 3, 1e-4f), "exact plan keeps outputs");
            p->layers[0].chosen = 99;
            CHECK(scalpel_net_apply_no_retrain(&copy, p) == SCALPEL_ERR_ARGUMENT, "bad choice rejected");
            p->layers[0].chosen = 0;
            p->n_layers = 2;
            CHECK(scalpel_net_apply_no_retrain(&copy, p) == SCALPEL_ERR_ARGUMENT, "layer count mismatch");
            scalpel_net_free(&copy);
            free(b);
        }
        lab[0] = 10;
        CHECK(scalpel_plan_no_retrain(&ref, &hw, ds.x, lab, n, &o, p) == SCALPEL_ERR_ARGUMENT, "label out of range");
        lab[0] = 0;
        o.budget = -1.0f;
        CHECK(scalpel_plan_no_retrain(&ref, &hw, ds.x, lab, n, &o, p) == SCALPEL_ERR_ARGUMENT, "negative budget");
        o.budget = 0.0f;
        CHECK(scalpel_plan_no_retrain(&ref, &hw, ds.x, lab, 0, &o, p) == SCALPEL_ERR_ARGUMENT, "no samples");
        CHECK(scalpel_plan_no_retrain(&ref, &hw, NULL, lab, n, &o, p) == SCALPEL_ERR_NULL, "NULL x");
        free(lab);
        free(p);
        scalpel_dataset_free(&ds);
    }
    {
        scalpel_hybrid_costs c;
        CHECK(scalpel_hybrid_costs_measure(64, 256, 8, 0, &c) == SCALPEL_OK && c.group > 0 && c.nonzero > 0, "costs mv");
        CHECK(scalpel_hybrid_costs_measure(64, 256, 16, 16, &c) == SCALPEL_OK && c.group > 0 && c.nonzero > 0, "costs mm");
        CHECK(c.row >= 0.0f, "row cost measured, never negative");
        {
            float wz[8] = { 1, 1, 1, 1, 0, 0, 0, 1 };
            scalpel_hybrid h2;
            c.row = -1.0f;
            CHECK(scalpel_hybrid_from_dense(wz, 1, 8, 4, &c, &h2) == SCALPEL_ERR_ARGUMENT, "negative row cost");
            c.row = 0.0f; c.group = 1.0f; c.nonzero = 1.0f;
            CHECK(scalpel_hybrid_from_dense(wz, 1, 8, 4, &c, &h2) == SCALPEL_OK && h2.grouped.nnz_groups == 1 &&
                  h2.residual.nnz_groups == 1, "full group grouped, lone weight to CSR");
            scalpel_hybrid_free(&h2);
            c.row = 100.0f;
            CHECK(scalpel_hybrid_from_dense(wz, 1, 8, 4, &c, &h2) == SCALPEL_OK && h2.grouped.nnz_groups == 0 &&
                  h2.residual.nnz_groups == 5, "a row cost larger than the gain: all CSR");
            scalpel_hybrid_free(&h2);
        }
        CHECK(scalpel_hybrid_costs_measure(64, 256, 3, 0, &c) == SCALPEL_ERR_GROUP, "bad G");
        CHECK(scalpel_hybrid_costs_measure(0, 256, 8, 0, &c) == SCALPEL_ERR_SHAPE, "bad shape");
    }
    scalpel_net_free(&ref);
    free(w);
    free(x);
}

/* The no-retrain choice: a decomposed form only when it beats both dense and CSR by the margin
 * (5%), so that one lucky timing never leaves a layer slower than dense or CSR. */
static void test_choose_margin(void)
{
    static scalpel_nr_plan p;
    scalpel_nr_layer *l = &p.layers[0];
    memset(&p, 0, sizeof(p));
    p.n_layers = 1;
    l->n_candidates = 4;
    l->cand[0].form = SCALPEL_NR_DENSE;
    l->cand[1].form = SCALPEL_NR_GROUPED; l->cand[1].group = 1;
    l->cand[2].form = SCALPEL_NR_GROUPED; l->cand[2].group = 8;
    l->cand[3].form = SCALPEL_NR_HYBRID; l->cand[3].group = 8;
    l->cand[0].seconds = 1.00; l->cand[1].seconds = 1.20; l->cand[2].seconds = 1.10; l->cand[3].seconds = 0.97;
    scalpel__nr_choose(&p, 0.0);
    CHECK(l->chosen == 0, "a hybrid 3%% faster than dense is not taken (chose %d)", (int)l->chosen);
    l->cand[3].seconds = 0.90;
    scalpel__nr_choose(&p, 0.0);
    CHECK(l->chosen == 3, "a hybrid 10%% faster than dense is taken (chose %d)", (int)l->chosen);
    l->cand[1].seconds = 0.93; /* CSR the best plain form: the hybrid must beat it by 5% */
    scalpel__nr_choose(&p, 0.0);
    CHECK(l->chosen == 1, "a hybrid 3%% faster than CSR is not taken (chose %d)", (int)l->chosen);
    l->cand[2].seconds = 0.80;
    scalpel__nr_choose(&p, 0.0);
    CHECK(l->chosen == 2, "grouped 14%% faster than CSR is taken (chose %d)", (int)l->chosen);
}

int main(void)
{
    test_choose_margin();
    test_parse();
    test_decompose();
    test_net_storages();
    return test_summary("test_decomp");
}
