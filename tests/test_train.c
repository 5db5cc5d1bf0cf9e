/* test_train.c - training: finite-difference gradient checks for every layer type (fc, conv2d
 * with stride and padding, maxpool, relu, softmax cross-entropy, node masks, dropout with a
 * fixed mask), a hand-computed SGD update, the learning-rate schedule, weight masks and
 * momentum, mask-layer hysteresis and revival, determinism, a small problem that must train,
 * export and node-removal equivalence, argument errors, no allocation in a step; hostile
 * checkpoints and configurations (every counter and bound, the rate in closed form) and
 * diverging training without undefined behaviour. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

static long test_allocs;
#define SCALPEL_MALLOC(ctx, n) ((void)(ctx), test_allocs++, malloc(n))
#define SCALPEL_FREE(ctx, p) ((void)(ctx), free(p))
#define SCALPEL_IMPLEMENTATION
#include "scalpel_train.h"
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static void fill_uniform(float *v, size_t n, float scale)
{
    size_t i;
    for (i = 0; i < n; i++) v[i] = scale * test_uniform();
}

/* Random weights in every weighted layer (kept by masks), small random biases. */
static void randomize(scalpel_trainer *tr, float scale)
{
    int32_t i;
    for (i = 0; i < tr->arch.n_layers; i++) {
        const scalpel_layer *L = &tr->arch.layers[i];
        size_t k, wn = (size_t)L->geom.rows * (size_t)L->geom.cols;
        if (!tr->layers[i].w) continue;
        for (k = 0; k < wn; k++) tr->layers[i].w[k] = tr->layers[i].mask[k] ? scale * test_uniform() : 0.0f;
        fill_uniform(tr->layers[i].b, (size_t)L->geom.rows, 0.1f);
    }
}

/* Mean softmax cross-entropy of a forward pass, in double from the logits. The RNG is reset to
 * `rng` first so that dropout draws the same mask every time. */
static double loss_at(scalpel_trainer *tr, const float *x, const int32_t *labels, int32_t batch,
                      int32_t training, uint64_t rng)
{
    static float logits[4096];
    double total = 0.0;
    int32_t s, c, C = tr->classes;
    tr->rng = rng;
    if (scalpel_trainer_forward(tr, x, batch, training, logits) != SCALPEL_OK) return 1e30;
    for (s = 0; s < batch; s++) {
        const float *z = logits + (size_t)s * (size_t)C;
        double m = z[0], sum = 0.0;
        for (c = 1; c < C; c++) if (z[c] > m) m = z[c];
        for (c = 0; c < C; c++) sum += exp((double)z[c] - m);
        total += m + log(sum) - (double)z[labels[s]];
    }
    return total / batch;
}

/* Compares analytic gradients with central differences for every weight, bias and node mask of
 * the trainer. Gradients of the node masks' b are compared with d loss / d a (a treated as a
 * continuous scale: the straight-through estimator). Returns the number of mismatches. */
static int grad_check(scalpel_trainer *tr, const float *x, const int32_t *labels, int32_t batch,
                      int32_t training, const char *name)
{
    const float h = 1e-3f;
    uint64_t rng = tr->rng;
    int bad = 0, checked = 0, kinks = 0;
    int32_t i;
    float loss = 0.0f;
    double worst = 0.0, l0;
    tr->rng = rng;
    CHECK(scalpel_trainer_forward(tr, x, batch, training, NULL) == SCALPEL_OK, "%s forward", name);
    CHECK(scalpel_trainer_backward(tr, labels, batch, &loss) == SCALPEL_OK, "%s backward", name);
    CHECK(fabs(loss - loss_at(tr, x, labels, batch, training, rng)) < 1e-5 * (1.0 + fabs(loss)),
          "%s: loss %g", name, (double)loss);
    l0 = loss_at(tr, x, labels, batch, training, rng);
    for (i = 0; i < tr->arch.n_layers; i++) {
        scalpel_train_layer *T = &tr->layers[i];
        const scalpel_layer *L = &tr->arch.layers[i];
        int part;
        if (!T->w) continue;
        for (part = 0; part < 3; part++) {
            float *p = part == 0 ? T->w : part == 1 ? T->b : T->node_a;
            const float *g = part == 0 ? T->grad_w : part == 1 ? T->grad_b : T->node_grad_b;
            size_t k, n = part == 0 ? (size_t)L->geom.rows * (size_t)L->geom.cols : (size_t)L->geom.rows;
            float *ga;
            if (!p) continue;
            ga = (float *)malloc(n * sizeof(float));
            memcpy(ga, g, n * sizeof(float));
            for (k = 0; k < n; k++) {
                float keep = p[k];
                double lp, lm, num, tol, err;
                p[k] = keep + h; lp = loss_at(tr, x, labels, batch, training, rng);
                p[k] = keep - h; lm = loss_at(tr, x, labels, batch, training, rng);
                p[k] = keep;
                num = (lp - lm) / (2.0 * (double)h);
                tol = 2e-3 + 2e-2 * fabs(num);
                /* a ReLU or a max-pool window switching inside [-h, h] makes the loss
                 * non-smooth there: the one-sided slopes disagree. Such points are skipped
                 * (and counted: they must stay rare). */
                if (fabs((lp - l0) - (l0 - lm)) / (double)h > tol) { kinks++; continue; }
                err = fabs(num - (double)ga[k]);
                if (err > worst) worst = err;
                checked++;
                if (err > tol) {
                    bad++;
                    if (bad <= 5)
                        printf("  %s layer %d part %d [%d]: analytic %.6g numeric %.6g\n", name, (int)i, part,
                               (int)k, (double)ga[k], num);
                }
            }
            free(ga);
        }
    }
    tr->rng = rng;
    printf("%s: %d gradients, worst |analytic - numeric| %.2g, %d kinks skipped\n", name, checked, worst, kinks);
    CHECK(kinks * 20 <= checked, "%s: %d kinks in %d gradients", name, kinks, checked);
    CHECK(bad == 0, "%s: %d of %d gradients off (worst %g)", name, bad, checked, worst);
    CHECK(checked > 0, "%s: nothing checked", name);
    return bad;
}

static void make_inputs(float *x, int32_t *labels, int32_t batch, int32_t in, int32_t classes)
{
    int32_t s;
    fill_uniform(x, (size_t)batch * (size_t)in, 1.0f);
    for (s = 0; s < batch; s++) labels[s] = test_range(0, classes - 1);
}

/* ---- gradient checks ---------------------------------------------------------------------- */

static void test_grad_fc(void)
{
    scalpel_net net;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    float x[4 * 6];
    int32_t labels[4];
    scalpel_net_init(6, 1, 1, &net);
    scalpel_net_add_fc(&net, 5, NULL, NULL);
    scalpel_net_add_relu(&net);
    scalpel_net_add_fc(&net, 4, NULL, NULL);
    scalpel_net_add_relu(&net);
    scalpel_net_add_fc(&net, 3, NULL, NULL);
    scalpel_train_config_default(&cfg);
    CHECK(scalpel_trainer_init(&net, 4, &cfg, &tr) == SCALPEL_OK, "init");
    randomize(&tr, 0.8f);
    make_inputs(x, labels, 4, 6, 3);
    grad_check(&tr, x, labels, 4, 0, "fc+relu+softmax-ce");
    scalpel_trainer_free(&tr);

    /* dropout on the inputs of both later fc layers, with the mask fixed by the RNG state */
    cfg.dropout[2] = 0.3f;
    cfg.dropout[4] = 0.5f;
    CHECK(scalpel_trainer_init(&net, 4, &cfg, &tr) == SCALPEL_OK, "init dropout");
    randomize(&tr, 0.8f);
    grad_check(&tr, x, labels, 4, 1, "dropout");
    {   /* inverted dropout: a dropped input is 0, a kept one is scaled by 1 / (1 - p) */
        int32_t k, zeros = 0;
        CHECK(scalpel_trainer_forward(&tr, x, 4, 1, NULL) == SCALPEL_OK, "forward");
        for (k = 0; k < 4 * 4; k++) {
            float y = tr.act[4][k], d = tr.xin[4][k];
            if (tr.drop[4][k]) CHECK(fabsf(d - y * 2.0f) <= 1e-6f * (1.0f + fabsf(y)), "scaled %g %g", (double)d, (double)y);
            else { CHECK(d == 0.0f, "dropped %g", (double)d); zeros++; }
        }
        CHECK(zeros > 0 && zeros < 16, "dropout 0.5 dropped %d of 16", (int)zeros);
    }
    scalpel_trainer_free(&tr);

    /* node masks on both hidden fc layers, one node of each switched off */
    scalpel_train_config_default(&cfg);
    cfg.node_masks = SCALPEL_TRAIN_MASK_ALL;
    CHECK(scalpel_trainer_init(&net, 4, &cfg, &tr) == SCALPEL_OK, "init masks");
    CHECK(tr.layers[0].node_a && tr.layers[2].node_a && !tr.layers[4].node_a, "mask owners");
    CHECK(tr.layers[2].mask_owner == 0 && tr.layers[4].mask_owner == 2, "mask links");
    randomize(&tr, 0.8f);
    tr.layers[0].node_a[1] = 0.0f;
    tr.layers[2].node_a[3] = 0.0f;
    grad_check(&tr, x, labels, 4, 0, "fc node masks");
    /* a removed node still gets a gradient (unmasked activation), unless its activation is 0 */
    {
        int32_t s, any = 0;
        for (s = 0; s < 4; s++) if (tr.act[2][s * 5 + 1] != 0.0f) any = 1;
        if (any) CHECK(tr.layers[0].node_grad_b[1] != 0.0f, "removed node has no gradient");
    }
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
}

static void test_grad_conv(void)
{
    scalpel_net net;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    static float x[3 * 2 * 8 * 8];
    int32_t labels[3];
    int pass;
    for (pass = 0; pass < 3; pass++) {
        scalpel_net_init(2, 8, 8, &net);
        if (pass == 0) {
            /* conv stride 1 pad 1, maxpool 2/2, conv stride 2 pad 1, fc */
            scalpel_net_add_conv2d(&net, 4, 3, 1, 1, NULL, NULL);
            scalpel_net_add_relu(&net);
            scalpel_net_add_maxpool(&net, 2, 2);
            scalpel_net_add_conv2d(&net, 3, 3, 2, 1, NULL, NULL);
            scalpel_net_add_relu(&net);
            scalpel_net_add_fc(&net, 3, NULL, NULL);
        } else {
            /* conv without padding, 1x1 conv, overlapping pool windows (3/2: an input can be
             * the maximum of two windows) */
            scalpel_net_add_conv2d(&net, 3, 2, 1, 0, NULL, NULL);
            scalpel_net_add_relu(&net);
            scalpel_net_add_conv2d(&net, 4, 1, 1, 0, NULL, NULL);
            scalpel_net_add_maxpool(&net, 3, 2);
            scalpel_net_add_fc(&net, 5, NULL, NULL);
            scalpel_net_add_relu(&net);
            scalpel_net_add_fc(&net, 3, NULL, NULL);
        }
        scalpel_train_config_default(&cfg);
        if (pass == 2) {
            cfg.node_masks = SCALPEL_TRAIN_MASK_ALL;
            cfg.dropout[4] = 0.25f;
        }
        CHECK(scalpel_trainer_init(&net, 3, &cfg, &tr) == SCALPEL_OK, "init conv %d", pass);
        randomize(&tr, 0.7f);
        make_inputs(x, labels, 3, 2 * 8 * 8, 3);
        if (pass == 2) {
            CHECK(tr.layers[0].node_a && tr.layers[2].node_a && tr.layers[4].node_a, "conv mask owners");
            CHECK(tr.layers[2].mask_owner == 0 && tr.layers[4].mask_owner == 2, "conv mask links");
            tr.layers[0].node_a[2] = 0.0f;   /* a feature map off: its whole plane is masked */
            tr.layers[2].node_a[1] = 0.0f;
            grad_check(&tr, x, labels, 3, 1, "conv node masks + dropout");
        } else {
            grad_check(&tr, x, labels, 3, 0, pass == 0 ? "conv s1p1 + maxpool + conv s2p1" : "conv k2 + 1x1 + maxpool 3/2");
        }
        scalpel_trainer_free(&tr);
        scalpel_net_free(&net);
    }
}

/* ---- SGD ---------------------------------------------------------------------------------- */

static void test_sgd_hand(void)
{
    /* one fc layer 3 -> 2, batch 2: dW = mean over samples of (p - onehot) x^T */
    const float w0[6] = { 0.1f, -0.2f, 0.3f, 0.05f, 0.4f, -0.1f }, b0[2] = { 0.01f, -0.02f };
    const float x[6] = { 1.0f, 0.5f, -1.0f, -0.5f, 2.0f, 0.25f };
    const int32_t labels[2] = { 1, 0 };
    double w[6], b[2], vw[6] = { 0 }, vb[2] = { 0 };
    const double lr = 0.05, mu = 0.9, wd = 0.01;
    scalpel_net net;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    int step, k;
    scalpel_net_init(3, 1, 1, &net);
    scalpel_net_add_fc(&net, 2, w0, b0);
    scalpel_train_config_default(&cfg);
    cfg.lr = (float)lr; cfg.momentum = (float)mu; cfg.weight_decay = (float)wd;
    CHECK(scalpel_trainer_init(&net, 2, &cfg, &tr) == SCALPEL_OK, "init");
    for (k = 0; k < 6; k++) w[k] = w0[k];
    for (k = 0; k < 2; k++) b[k] = b0[k];
    for (step = 0; step < 3; step++) {
        double gw[6] = { 0 }, gb[2] = { 0 }, loss = 0.0;
        float got_loss;
        int s, r, c;
        for (s = 0; s < 2; s++) {
            double z[2], m, sum, p[2];
            for (r = 0; r < 2; r++) { z[r] = b[r]; for (c = 0; c < 3; c++) z[r] += w[r * 3 + c] * x[s * 3 + c]; }
            m = z[0] > z[1] ? z[0] : z[1];
            sum = exp(z[0] - m) + exp(z[1] - m);
            for (r = 0; r < 2; r++) p[r] = exp(z[r] - m) / sum;
            loss += (m + log(sum) - z[labels[s]]) / 2.0;
            for (r = 0; r < 2; r++) {
                double d = (p[r] - (r == labels[s] ? 1.0 : 0.0)) / 2.0;
                gb[r] += d;
                for (c = 0; c < 3; c++) gw[r * 3 + c] += d * x[s * 3 + c];
            }
        }
        for (k = 0; k < 6; k++) { vw[k] = mu * vw[k] + gw[k] + wd * w[k]; w[k] -= lr * vw[k]; }
        for (k = 0; k < 2; k++) { vb[k] = mu * vb[k] + gb[k] + wd * b[k]; b[k] -= lr * vb[k]; }
        CHECK(scalpel_trainer_step(&tr, x, labels, 2, &got_loss) == SCALPEL_OK, "step");
        CHECK(fabs(got_loss - loss) < 1e-6, "loss %g vs %g", (double)got_loss, loss);
        for (k = 0; k < 6; k++) CHECK(fabs(tr.layers[0].w[k] - w[k]) < 1e-6, "step %d w[%d] %g vs %g", step, k, (double)tr.layers[0].w[k], w[k]);
        for (k = 0; k < 2; k++) CHECK(fabs(tr.layers[0].b[k] - b[k]) < 1e-6, "step %d b[%d]", step, k);
    }
    CHECK(tr.steps == 3, "steps %d", (int)tr.steps);
    scalpel_trainer_free(&tr);

    /* step schedule */
    cfg.lr = 0.1f; cfg.lr_step = 2; cfg.lr_gamma = 0.5f;
    CHECK(scalpel_trainer_init(&net, 2, &cfg, &tr) == SCALPEL_OK, "init");
    CHECK(scalpel_trainer_lr(&tr) == 0.1f, "lr0");
    tr.steps = 2; CHECK(fabsf(scalpel_trainer_lr(&tr) - 0.05f) < 1e-9f, "lr2");
    tr.steps = 5; CHECK(fabsf(scalpel_trainer_lr(&tr) - 0.025f) < 1e-9f, "lr5");
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
}

static void test_weight_masks(void)
{
    scalpel_net net;
    scalpel_trainer tr;
    float x[8 * 10];
    int32_t labels[8];
    long allocs;
    int32_t i, k, step;
    int ok_w = 1, ok_m = 1, moved = 0;
    scalpel_net_init(10, 1, 1, &net);
    scalpel_net_add_fc(&net, 16, NULL, NULL);
    scalpel_net_add_relu(&net);
    scalpel_net_add_fc(&net, 4, NULL, NULL);
    CHECK(scalpel_trainer_init(&net, 8, NULL, &tr) == SCALPEL_OK, "init");
    CHECK(scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE) == SCALPEL_OK, "he");
    /* SIMD-aware pruning of fc1 with the pruning routine, straight into the trainer's mask */
    CHECK(scalpel_prune_groups_rate(tr.layers[0].w, 16, 10, 2, SCALPEL_IMPORTANCE_RMS, 0.5f, tr.layers[0].mask, NULL) == SCALPEL_OK, "prune");
    CHECK(scalpel_prune_magnitude_rate(tr.layers[2].w, 4, 16, 0.25f, tr.layers[2].mask, NULL) == SCALPEL_OK, "prune2");
    make_inputs(x, labels, 8, 10, 4);
    /* momentum built up before the masks take effect must be discarded */
    CHECK(scalpel_trainer_step(&tr, x, labels, 8, NULL) == SCALPEL_OK, "step");
    scalpel_trainer_apply_masks(&tr);
    allocs = test_allocs;
    for (step = 0; step < 10; step++) CHECK(scalpel_trainer_step(&tr, x, labels, 8, NULL) == SCALPEL_OK, "step");
    CHECK(test_allocs == allocs, "a step allocated");
    for (i = 0; i <= 2; i += 2)
        for (k = 0; k < tr.arch.layers[i].geom.rows * tr.arch.layers[i].geom.cols; k++) {
            if (!tr.layers[i].mask[k]) {
                if (tr.layers[i].w[k] != 0.0f) ok_w = 0;
                if (tr.layers[i].mom_w[k] != 0.0f) ok_m = 0;
            } else if (tr.layers[i].mom_w[k] != 0.0f) {
                moved = 1;
            }
        }
    CHECK(ok_w, "pruned weights came back");
    CHECK(ok_m, "momentum of pruned weights kept");
    CHECK(moved, "kept weights did not train");
    CHECK(fabsf(scalpel_group_sparsity_f32(tr.layers[0].w, 16, 10, 2) - 0.5f) < 1e-6f, "group sparsity %g",
          (double)scalpel_group_sparsity_f32(tr.layers[0].w, 16, 10, 2));
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);

    CHECK(fabsf(scalpel_dropout_han(0.5f, 25, 100) - 0.25f) < 1e-6f, "han");
    CHECK(fabsf(scalpel_dropout_han(0.5f, 100, 100) - 0.5f) < 1e-6f, "han 1");
    CHECK(scalpel_dropout_han(0.5f, 1, 0) == 0.0f, "han 0");
    CHECK(fabsf(scalpel_dropout_nodes(0.5f, 161, 300) - 0.5f * 161.0f / 300.0f) < 1e-6f, "nodes");
}

/* A grouped-CSR network starts with the mask of its stored groups. */
static void test_init_sparse(void)
{
    float w[4 * 8];
    scalpel_gcsr m;
    scalpel_net net;
    scalpel_trainer tr;
    int32_t k, ok = 1;
    for (k = 0; k < 32; k++) w[k] = (k / 4) % 2 ? 0.0f : 0.5f + (float)k;
    CHECK(scalpel_gcsr_from_dense(w, 4, 8, 4, &m) == SCALPEL_OK, "gcsr");
    scalpel_net_init(8, 1, 1, &net);
    CHECK(scalpel_net_add_fc_gcsr(&net, &m, NULL) == SCALPEL_OK, "add");
    CHECK(scalpel_trainer_init(&net, 2, NULL, &tr) == SCALPEL_OK, "init");
    for (k = 0; k < 32; k++) if (tr.layers[0].mask[k] != (w[k] != 0.0f) || tr.layers[0].w[k] != w[k]) ok = 0;
    CHECK(ok, "mask from stored groups");
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
    scalpel_gcsr_free(&m);
}

/* ---- mask layers -------------------------------------------------------------------------- */

static void test_hysteresis(void)
{
    scalpel_net net;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    float *a, *b, *g;
    const float T = 0.8f, eps = 0.0001f;
    scalpel_net_init(4, 1, 1, &net);
    scalpel_net_add_fc(&net, 6, NULL, NULL);
    scalpel_net_add_relu(&net);
    scalpel_net_add_fc(&net, 2, NULL, NULL);
    scalpel_train_config_default(&cfg);
    cfg.node_masks = SCALPEL_TRAIN_MASK_FC;
    cfg.lr = 0.01f;
    CHECK(scalpel_trainer_init(&net, 1, &cfg, &tr) == SCALPEL_OK, "init");
    a = tr.layers[0].node_a; b = tr.layers[0].node_b; g = tr.layers[0].node_grad_b;
    CHECK(a && b && g && !tr.layers[2].node_a, "masks on the hidden layer only");
    CHECK(a[0] == 1.0f && b[0] == 0.8002f, "initial a %g b %g", (double)a[0], (double)b[0]);
    /* grad_b is zero after init: apply moves b only by the L1 pull (0 here) */
    b[0] = T + eps * 0.5f; a[0] = 1.0f;     /* between T and T + eps: keeps 1 */
    b[1] = T + eps * 0.5f; a[1] = 0.0f;     /* ... keeps 0 */
    b[2] = T - 0.001f;     a[2] = 1.0f;     /* under T: off */
    b[3] = T + 3 * eps;    a[3] = 0.0f;     /* over T + eps: back on (revival) */
    b[4] = 0.802f; g[4] = -10.0f;           /* clamped to mask_max */
    b[5] = 0.0005f; g[5] = 10.0f;           /* clamped to 0 */
    CHECK(scalpel_trainer_apply(&tr) == SCALPEL_OK, "apply");
    CHECK(a[0] == 1.0f, "a0 %g", (double)a[0]);
    CHECK(a[1] == 0.0f, "a1 %g", (double)a[1]);
    CHECK(a[2] == 0.0f, "a2 %g", (double)a[2]);
    CHECK(a[3] == 1.0f, "a3 %g", (double)a[3]);
    CHECK(b[4] == 0.802f && a[4] == 1.0f, "b4 %g", (double)b[4]);
    CHECK(b[5] == 0.0f && a[5] == 0.0f, "b5 %g", (double)b[5]);
    /* L1 pull: b -= lambda * lr */
    memset(g, 0, 6 * sizeof(float));
    b[0] = 0.8002f;
    tr.config.mask_lambda = 0.005f;
    CHECK(scalpel_trainer_apply(&tr) == SCALPEL_OK, "apply");
    CHECK(fabsf(b[0] - (0.8002f - 0.005f * 0.01f)) < 1e-7f, "pull %g", (double)b[0]);
    CHECK(a[0] == 1.0f, "still on");
    CHECK(scalpel_trainer_apply(&tr) == SCALPEL_OK, "apply");
    CHECK(scalpel_trainer_apply(&tr) == SCALPEL_OK, "apply");
    CHECK(scalpel_trainer_apply(&tr) == SCALPEL_OK, "apply");
    CHECK(b[0] < T && a[0] == 0.0f, "pulled under T: b %g a %g", (double)b[0], (double)a[0]);
    /* revival through the straight-through gradient: a removed node whose unmasked activation
     * would lower the loss gets a negative grad_b, b rises past T + eps, a comes back */
    tr.config.mask_lambda = 0.0f;
    {
        float x[4] = { 1.0f, 1.0f, 1.0f, 1.0f };
        int32_t label = 1, k, step;
        for (k = 0; k < 24; k++) tr.layers[0].w[k] = 0.0f;
        for (k = 0; k < 4; k++) tr.layers[0].w[0 * 4 + k] = 0.5f;      /* node 0 active, y0 = 2 */
        for (k = 0; k < 12; k++) tr.layers[2].w[k] = 0.0f;
        tr.layers[2].w[1 * 6 + 0] = 1.0f;                           /* node 0 votes for class 1 */
        memset(tr.layers[0].b, 0, 6 * sizeof(float));
        memset(tr.layers[2].b, 0, 2 * sizeof(float));
        tr.config.lr = 0.01f; tr.config.momentum = 0.0f; tr.config.weight_decay = 0.0f;
        CHECK(a[0] == 0.0f, "node 0 is off");
        CHECK(scalpel_trainer_forward(&tr, x, 1, 1, NULL) == SCALPEL_OK, "fwd");
        CHECK(scalpel_trainer_backward(&tr, &label, 1, NULL) == SCALPEL_OK, "bwd");
        CHECK(g[0] < 0.0f, "straight-through gradient of a removed node: %g", (double)g[0]);
        for (step = 0; step < 200 && a[0] == 0.0f; step++)
            CHECK(scalpel_trainer_step(&tr, x, &label, 1, NULL) == SCALPEL_OK, "step");
        CHECK(a[0] == 1.0f && b[0] >= T + eps, "node 0 came back: a %g b %g", (double)a[0], (double)b[0]);
    }
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
}

/* ---- determinism, training, export -------------------------------------------------------- */

static void xor_data(float *x, int32_t *labels, int32_t n, uint64_t *seed)
{
    int32_t i;
    uint64_t save = test_rng_state;
    test_rng_state = *seed;
    for (i = 0; i < n; i++) {
        float u = test_uniform(), v = test_uniform();
        x[2 * i] = u; x[2 * i + 1] = v;
        labels[i] = (u > 0.0f) != (v > 0.0f);
    }
    *seed = test_rng_state;
    test_rng_state = save;
}

static void make_xor_net(scalpel_net *net)
{
    scalpel_net_init(2, 1, 1, net);
    scalpel_net_add_fc(net, 16, NULL, NULL);
    scalpel_net_add_relu(net);
    scalpel_net_add_fc(net, 16, NULL, NULL);
    scalpel_net_add_relu(net);
    scalpel_net_add_fc(net, 2, NULL, NULL);
}

static void test_determinism(void)
{
    static float x[32 * 2];
    int32_t labels[32];
    scalpel_net net;
    scalpel_train_config cfg;
    scalpel_trainer t1, t2, t3;
    uint64_t seed = 42;
    int32_t step, i, same = 1, differ = 0;
    xor_data(x, labels, 32, &seed);
    make_xor_net(&net);
    scalpel_train_config_default(&cfg);
    cfg.seed = 7;
    cfg.dropout[2] = 0.3f;
    cfg.dropout[4] = 0.2f;
    cfg.node_masks = SCALPEL_TRAIN_MASK_FC;
    cfg.mask_lambda = 0.5f;
    CHECK(scalpel_trainer_init(&net, 32, &cfg, &t1) == SCALPEL_OK, "init");
    CHECK(scalpel_trainer_init(&net, 32, &cfg, &t2) == SCALPEL_OK, "init");
    cfg.seed = 8;
    CHECK(scalpel_trainer_init(&net, 32, &cfg, &t3) == SCALPEL_OK, "init");
    scalpel_trainer_init_weights(&t1, SCALPEL_INIT_XAVIER);
    scalpel_trainer_init_weights(&t2, SCALPEL_INIT_XAVIER);
    scalpel_trainer_init_weights(&t3, SCALPEL_INIT_XAVIER);
    for (step = 0; step < 30; step++) {
        scalpel_trainer_step(&t1, x, labels, 32, NULL);
        scalpel_trainer_step(&t2, x, labels, 32, NULL);
        scalpel_trainer_step(&t3, x, labels, 32, NULL);
    }
    for (i = 0; i < net.n_layers; i++) {
        size_t wn = (size_t)net.layers[i].geom.rows * (size_t)net.layers[i].geom.cols;
        if (!t1.layers[i].w) continue;
        if (memcmp(t1.layers[i].w, t2.layers[i].w, wn * sizeof(float)) != 0) same = 0;
        if (memcmp(t1.layers[i].b, t2.layers[i].b, (size_t)net.layers[i].geom.rows * sizeof(float)) != 0) same = 0;
        if (t1.layers[i].node_b &&
            memcmp(t1.layers[i].node_b, t2.layers[i].node_b, (size_t)net.layers[i].geom.rows * sizeof(float)) != 0) same = 0;
        if (memcmp(t1.layers[i].w, t3.layers[i].w, wn * sizeof(float)) != 0) differ = 1;
    }
    CHECK(same, "same seed, different weights");
    CHECK(differ, "different seeds, same weights");
    scalpel_trainer_free(&t1);
    scalpel_trainer_free(&t2);
    scalpel_trainer_free(&t3);
    scalpel_net_free(&net);
}

static void test_trains(void)
{
    static float x[2048 * 2], xt[512 * 2];
    static int32_t labels[2048], lt[512];
    scalpel_net net;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    uint64_t seed = 1234;
    int32_t step;
    float acc0 = 0.0f, acc = 0.0f, loss = 0.0f;
    xor_data(x, labels, 2048, &seed);
    xor_data(xt, lt, 512, &seed);
    make_xor_net(&net);
    scalpel_train_config_default(&cfg);
    cfg.lr = 0.1f;
    cfg.lr_step = 300;
    cfg.lr_gamma = 0.3f;
    CHECK(scalpel_trainer_init(&net, 32, &cfg, &tr) == SCALPEL_OK, "init");
    scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE);
    scalpel_trainer_evaluate(&tr, xt, lt, 512, &acc0);
    for (step = 0; step < 400; step++) {
        int32_t off = (step * 32) % 2048;
        CHECK(scalpel_trainer_step(&tr, x + 2 * off, labels + off, 32, &loss) == SCALPEL_OK, "step");
    }
    CHECK(scalpel_trainer_evaluate(&tr, xt, lt, 512, &acc) == SCALPEL_OK, "evaluate");
    printf("xor: accuracy %.3f -> %.3f after 400 steps, last loss %.4f\n", (double)acc0, (double)acc, (double)loss);
    CHECK(acc >= 0.93f, "xor accuracy %g", (double)acc);
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
}

/* Node pruning end to end, as the pipeline does it: train dense, train mask layers with the L1
 * pull raised in stages (small learning rate, as the public code's 0.001), remove the nodes
 * physically, retrain the smaller network. */
#ifndef NODE_LAMBDAS
#define NODE_LAMBDAS { 0.001f, 0.002f, 0.004f }
#endif
static void xor_steps(scalpel_trainer *tr, const float *x, const int32_t *labels, int32_t steps)
{
    int32_t step;
    for (step = 0; step < steps; step++) {
        int32_t off = (step * 32) % 2048;
        scalpel_trainer_step(tr, x + 2 * off, labels + off, 32, NULL);
    }
}

static void test_node_pruning(void)
{
    static float x[2048 * 2], xt[512 * 2];
    static int32_t labels[2048], lt[512];
    static const float lambdas[3] = NODE_LAMBDAS;
    scalpel_net net, dense, small;
    scalpel_train_config cfg;
    scalpel_trainer tr, tr2;
    uint64_t seed = 99;
    int32_t stage, kept0 = 0, kept1 = 0, r;
    float acc_dense = 0.0f, acc_masked = 0.0f, acc_small = 0.0f, acc_retrained = 0.0f;
    xor_data(x, labels, 2048, &seed);
    xor_data(xt, lt, 512, &seed);
    make_xor_net(&net);
    scalpel_train_config_default(&cfg);
    cfg.lr = 0.1f;
    CHECK(scalpel_trainer_init(&net, 32, &cfg, &tr) == SCALPEL_OK, "init");
    scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE);
    xor_steps(&tr, x, labels, 600);
    scalpel_trainer_evaluate(&tr, xt, lt, 512, &acc_dense);
    CHECK(scalpel_trainer_export(&tr, &dense) == SCALPEL_OK, "export");
    scalpel_trainer_free(&tr);

    cfg.lr = 0.001f;
    cfg.node_masks = SCALPEL_TRAIN_MASK_FC;
    CHECK(scalpel_trainer_init(&dense, 32, &cfg, &tr) == SCALPEL_OK, "init masks");
    for (stage = 0; stage < 3; stage++) {
        tr.config.mask_lambda = lambdas[stage];
        xor_steps(&tr, x, labels, 300);
    }
    for (r = 0; r < 16; r++) { kept0 += tr.layers[0].node_a[r] != 0.0f; kept1 += tr.layers[2].node_a[r] != 0.0f; }
    scalpel_trainer_evaluate(&tr, xt, lt, 512, &acc_masked);
    CHECK(scalpel_trainer_remove_nodes(&tr, 1, &small) == SCALPEL_OK, "remove");
    CHECK(small.layers[0].geom.rows == kept0 && small.layers[2].geom.rows == kept1, "removed shapes");
    cfg.lr = 0.01f;
    cfg.node_masks = SCALPEL_TRAIN_MASK_NONE;
    CHECK(scalpel_trainer_init(&small, 32, &cfg, &tr2) == SCALPEL_OK, "init small");
    scalpel_trainer_evaluate(&tr2, xt, lt, 512, &acc_small);
    CHECK(acc_small == acc_masked, "removal changed accuracy %g -> %g", (double)acc_masked, (double)acc_small);
    xor_steps(&tr2, x, labels, 300);
    scalpel_trainer_evaluate(&tr2, xt, lt, 512, &acc_retrained);
    printf("node pruning: kept %d/16, %d/16; accuracy %.3f dense, %.3f masked, %.3f removed, %.3f retrained\n",
           (int)kept0, (int)kept1, (double)acc_dense, (double)acc_masked, (double)acc_small, (double)acc_retrained);
    CHECK(kept0 < 16 || kept1 < 16, "no node was removed");
    CHECK(acc_retrained >= 0.93f, "retrained accuracy %g", (double)acc_retrained);
    scalpel_trainer_free(&tr2);
    scalpel_trainer_free(&tr);
    scalpel_net_free(&small);
    scalpel_net_free(&dense);
    scalpel_net_free(&net);
}

static float max_rel_diff(const float *a, const float *b, size_t n)
{
    float worst = 0.0f;
    size_t i;
    for (i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]) / (1.0f + fabsf(a[i]));
        if (d > worst) worst = d;
    }
    return worst;
}

static void test_export(void)
{
    static float x[5 * 2 * 10 * 10], y1[5 * 4], y2[5 * 4], y3[5 * 4];
    scalpel_net net, out, small;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    void *ws;
    int32_t batch;
    scalpel_net_init(2, 10, 10, &net);
    scalpel_net_add_conv2d(&net, 6, 3, 1, 1, NULL, NULL);
    scalpel_net_add_relu(&net);
    scalpel_net_add_maxpool(&net, 2, 2);
    scalpel_net_add_conv2d(&net, 5, 3, 1, 0, NULL, NULL);
    scalpel_net_add_relu(&net);
    scalpel_net_add_fc(&net, 8, NULL, NULL);
    scalpel_net_add_relu(&net);
    scalpel_net_add_fc(&net, 4, NULL, NULL);
    scalpel_train_config_default(&cfg);
    cfg.node_masks = SCALPEL_TRAIN_MASK_ALL;
    cfg.dropout[5] = 0.5f;
    CHECK(scalpel_trainer_init(&net, 5, &cfg, &tr) == SCALPEL_OK, "init");
    scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE);
    fill_uniform(x, sizeof(x) / sizeof(x[0]), 1.0f);
    tr.layers[0].node_a[1] = 0.0f; tr.layers[0].node_a[4] = 0.0f;
    tr.layers[3].node_a[2] = 0.0f;
    tr.layers[5].node_a[0] = 0.0f; tr.layers[5].node_a[6] = 0.0f;
    CHECK(scalpel_trainer_export(&tr, &out) == SCALPEL_OK, "export");
    CHECK(scalpel_trainer_remove_nodes(&tr, 1, &small) == SCALPEL_OK, "remove nodes");
    CHECK(small.layers[0].geom.rows == 4 && small.layers[3].geom.rows == 4 && small.layers[5].geom.rows == 6,
          "kept %d %d %d", (int)small.layers[0].geom.rows, (int)small.layers[3].geom.rows, (int)small.layers[5].geom.rows);
    ws = malloc(scalpel_net_workspace_size(&net, 5));
    for (batch = 1; batch <= 5; batch += 4) {
        CHECK(scalpel_trainer_forward(&tr, x, batch, 0, y1) == SCALPEL_OK, "forward");
        CHECK(scalpel_net_forward(&out, x, batch, y2, ws) == SCALPEL_OK, "net forward");
        CHECK(scalpel_net_forward(&small, x, batch, y3, ws) == SCALPEL_OK, "small forward");
        CHECK(max_rel_diff(y1, y2, (size_t)batch * 4) < 1e-5f, "export differs by %g", (double)max_rel_diff(y1, y2, (size_t)batch * 4));
        CHECK(max_rel_diff(y1, y3, (size_t)batch * 4) < 1e-5f, "removal differs by %g", (double)max_rel_diff(y1, y3, (size_t)batch * 4));
    }
    free(ws);
    scalpel_net_free(&out);
    scalpel_net_free(&small);
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
}

/* Initialisation bounds and variance; evaluate over a count that is not a multiple of
 * batch_max; a failed step changes no weight. */
static void test_init_eval(void)
{
    static float x[37 * 20], logits[37 * 3], w_before[64 * 20];
    int32_t labels[37], k, s, correct = 0, bound_ok;
    scalpel_net net;
    scalpel_trainer tr;
    float acc = -1.0f;
    double sum2;
    scalpel_net_init(20, 1, 1, &net);
    scalpel_net_add_fc(&net, 64, NULL, NULL);
    scalpel_net_add_relu(&net);
    scalpel_net_add_fc(&net, 3, NULL, NULL);
    CHECK(scalpel_trainer_init(&net, 8, NULL, &tr) == SCALPEL_OK, "init");
    CHECK(scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE) == SCALPEL_OK, "he");
    sum2 = 0.0;
    bound_ok = 1;
    for (k = 0; k < 64 * 20; k++) {
        if (!(fabsf(tr.layers[0].w[k]) <= (float)sqrt(6.0 / 20.0))) bound_ok = 0;
        sum2 += (double)tr.layers[0].w[k] * tr.layers[0].w[k];
    }
    CHECK(bound_ok, "he bound");
    CHECK(fabs(sum2 / (64 * 20) - 2.0 / 20.0) < 0.015, "he variance %g", sum2 / (64 * 20));
    CHECK(scalpel_trainer_init_weights(&tr, SCALPEL_INIT_XAVIER) == SCALPEL_OK, "xavier");
    sum2 = 0.0;
    for (k = 0; k < 3 * 64; k++) {
        if (!(fabsf(tr.layers[2].w[k]) <= (float)sqrt(6.0 / 67.0))) bound_ok = 0;
        sum2 += (double)tr.layers[2].w[k] * tr.layers[2].w[k];
    }
    CHECK(bound_ok, "xavier bound");
    CHECK(fabs(sum2 / (3 * 64) - 2.0 / 67.0) < 0.01, "xavier variance %g", sum2 / (3 * 64));
    make_inputs(x, labels, 37, 20, 3);
    for (s = 0; s < 37; s++) {
        CHECK(scalpel_trainer_forward(&tr, x + s * 20, 1, 0, logits + s * 3) == SCALPEL_OK, "forward");
        if (scalpel_argmax_f32(logits + s * 3, 3) == labels[s]) correct++;
    }
    CHECK(scalpel_trainer_evaluate(&tr, x, labels, 37, &acc) == SCALPEL_OK, "evaluate");
    CHECK(acc == (float)correct / 37.0f, "accuracy %g vs %d / 37", (double)acc, (int)correct);
    memcpy(w_before, tr.layers[0].w, sizeof(w_before));
    labels[5] = 3;
    CHECK(scalpel_trainer_step(&tr, x, labels, 8, NULL) == SCALPEL_ERR_ARGUMENT, "bad label");
    CHECK(memcmp(w_before, tr.layers[0].w, sizeof(w_before)) == 0, "failed step changed weights");
    labels[5] = -1;
    CHECK(scalpel_trainer_evaluate(&tr, x, labels, 37, &acc) == SCALPEL_OK && acc < 1.0f, "evaluate, label -1 never right");
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
}

#ifdef _OPENMP
#include <omp.h>
/* OpenMP: forward passes are bit-identical with 1 and 2 threads; conv gradients (partial sums
 * per thread) agree within the tolerance the header documents. */
static void test_openmp(void)
{
    static float x[16 * 2 * 12 * 12], y1[16 * 4], y2[16 * 4], g1[2][6 * 2 * 3 * 3 + 5 * 6 * 3 * 3];
    int32_t labels[16], nt, k, bad = 0;
    scalpel_net net;
    scalpel_trainer tr;
    int saved = omp_get_max_threads();
    scalpel_net_init(2, 12, 12, &net);
    scalpel_net_add_conv2d(&net, 6, 3, 1, 1, NULL, NULL);
    scalpel_net_add_relu(&net);
    scalpel_net_add_maxpool(&net, 2, 2);
    scalpel_net_add_conv2d(&net, 5, 3, 1, 0, NULL, NULL);
    scalpel_net_add_relu(&net);
    scalpel_net_add_fc(&net, 4, NULL, NULL);
    omp_set_num_threads(2);
    CHECK(scalpel_trainer_init(&net, 16, NULL, &tr) == SCALPEL_OK, "init");
    CHECK(tr.threads >= 2, "threads %d", (int)tr.threads);
    scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE);
    make_inputs(x, labels, 16, 2 * 12 * 12, 4);
    for (nt = 1; nt <= 2; nt++) {
        omp_set_num_threads(nt);
        CHECK(scalpel_trainer_forward(&tr, x, 16, 0, nt == 1 ? y1 : y2) == SCALPEL_OK, "forward");
        CHECK(scalpel_trainer_backward(&tr, labels, 16, NULL) == SCALPEL_OK, "backward");
        memcpy(g1[nt - 1], tr.layers[0].grad_w, 6 * 2 * 9 * sizeof(float));
        memcpy(g1[nt - 1] + 6 * 2 * 9, tr.layers[3].grad_w, 5 * 6 * 9 * sizeof(float));
    }
    CHECK(memcmp(y1, y2, sizeof(y1)) == 0, "forward differs with 2 threads");
    for (k = 0; k < 6 * 2 * 9 + 5 * 6 * 9; k++)
        if (fabsf(g1[0][k] - g1[1][k]) > 1e-5f * (1.0f + fabsf(g1[0][k]))) bad++;
    CHECK(bad == 0, "%d conv gradients differ with 2 threads", (int)bad);
    omp_set_num_threads(saved);
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
}
#endif

static void test_errors(void)
{
    scalpel_net net;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    float x[2 * 3] = { 0 }, loss = 1.0f;
    int32_t bad[2] = { 0, 2 }, good[2] = { 0, 1 };
    scalpel_net_init(3, 1, 1, &net);
    scalpel_net_add_relu(&net);
    scalpel_net_add_fc(&net, 2, NULL, NULL);
    scalpel_train_config_default(&cfg);
    CHECK(scalpel_trainer_init(NULL, 2, &cfg, &tr) == SCALPEL_ERR_NULL, "null net");
    CHECK(scalpel_trainer_init(&net, 0, &cfg, &tr) == SCALPEL_ERR_ARGUMENT, "batch 0");
    cfg.dropout[0] = 0.5f;
    CHECK(scalpel_trainer_init(&net, 2, &cfg, &tr) == SCALPEL_ERR_ARGUMENT, "dropout on relu");
    cfg.dropout[0] = 0.0f; cfg.dropout[1] = 1.0f;
    CHECK(scalpel_trainer_init(&net, 2, &cfg, &tr) == SCALPEL_ERR_ARGUMENT, "dropout 1");
    cfg.dropout[1] = 0.0f; cfg.lr = -1.0f;
    CHECK(scalpel_trainer_init(&net, 2, &cfg, &tr) == SCALPEL_ERR_ARGUMENT, "lr < 0");
    cfg.lr = 0.01f; cfg.momentum = 1.0f;
    CHECK(scalpel_trainer_init(&net, 2, &cfg, &tr) == SCALPEL_ERR_ARGUMENT, "momentum 1");
    cfg.momentum = 0.9f; cfg.mask_init = 0.9f;
    CHECK(scalpel_trainer_init(&net, 2, &cfg, &tr) == SCALPEL_ERR_ARGUMENT, "mask_init > max");
    scalpel_train_config_default(&cfg);
    CHECK(scalpel_trainer_init(&net, 2, &cfg, &tr) == SCALPEL_OK, "init");
    CHECK(scalpel_trainer_step(&tr, x, bad, 2, &loss) == SCALPEL_ERR_ARGUMENT && loss == 0.0f, "label out of range");
    CHECK(tr.steps == 0, "failed step counted");
    CHECK(scalpel_trainer_step(&tr, x, good, 3, NULL) == SCALPEL_ERR_ARGUMENT, "batch > max");
    CHECK(scalpel_trainer_step(&tr, NULL, good, 2, NULL) == SCALPEL_ERR_NULL, "null x");
    CHECK(scalpel_trainer_forward(&tr, x, 1, 0, NULL) == SCALPEL_OK, "forward 1");
    CHECK(scalpel_trainer_backward(&tr, good, 2, NULL) == SCALPEL_ERR_ARGUMENT, "backward batch mismatch");
    CHECK(scalpel_trainer_init_weights(&tr, (scalpel_init)7) == SCALPEL_ERR_ARGUMENT, "init kind");
    scalpel_trainer_free(&tr);
    scalpel_trainer_free(&tr);   /* twice is fine */
    CHECK(scalpel_trainer_step(&tr, x, good, 2, NULL) == SCALPEL_ERR_ARGUMENT, "freed trainer");
    scalpel_net_free(&net);
    /* one output: nothing to classify */
    scalpel_net_init(3, 1, 1, &net);
    scalpel_net_add_fc(&net, 1, NULL, NULL);
    CHECK(scalpel_trainer_init(&net, 2, NULL, &tr) == SCALPEL_ERR_SHAPE, "one class");
    scalpel_net_free(&net);
}

/* ---- hostile checkpoints and configurations ------------------------------------------------ */

/* Offsets of the checkpoint fields these tests rewrite (format version 1): header 24 bytes,
 * configuration 52 (lr at 24, weight_decay 32, lr_step 36, lr_gamma 40, mask_lambda 72), then
 * steps 76, rng 84, epoch 92 (8 bytes each) and stage 100. */
#define CK_LR 24
#define CK_WD 32
#define CK_LR_STEP 36
#define CK_GAMMA 40
#define CK_LAMBDA 72
#define CK_STEPS 76
#define CK_RNG 84
#define CK_EPOCH 92
#define CK_STAGE 100

static void ck_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static void ck_put64(unsigned char *p, uint64_t v) { ck_put32(p, (uint32_t)v); ck_put32(p + 4, (uint32_t)(v >> 32)); }
static void ck_putf(unsigned char *p, float f) { uint32_t u; memcpy(&u, &f, 4); ck_put32(p, u); }
/* the CRC over everything before the last four bytes, as a forger with the format would */
static void ck_resign(unsigned char *buf, size_t n) { ck_put32(buf + n - 4, scalpel_crc32(0, buf, n - 4)); }

/* scalpel_trainer_lr in closed form: any step count returns at once, with gamma^drops to
 * double precision, one drop exactly the float product, and rates below FLT_MIN as 0 (a
 * schedule with gamma > 0.5 used to stick at the smallest denormal, and a loop over 2^53 drops
 * never ended). */
static void test_lr_closed_form(void)
{
    scalpel_net net;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    double want = 0.1f;
    int32_t k;
    make_xor_net(&net);
    scalpel_train_config_default(&cfg);
    cfg.lr = 0.1f; cfg.lr_step = 3; cfg.lr_gamma = 0.9f;
    CHECK(scalpel_trainer_init(&net, 4, &cfg, &tr) == SCALPEL_OK, "init");
    tr.steps = 2; CHECK(scalpel_trainer_lr(&tr) == 0.1f, "no drop yet");
    tr.steps = 5; CHECK(scalpel_trainer_lr(&tr) == 0.1f * 0.9f, "one drop: the float product");
    for (k = 0; k < 100; k++) want *= (double)0.9f;
    tr.steps = 300; CHECK(fabs(scalpel_trainer_lr(&tr) - want) <= 1e-6 * want, "100 drops %g vs %g", (double)scalpel_trainer_lr(&tr), want);
    for (; k < 800; k++) want *= (double)0.9f;
    tr.steps = 2400;
    CHECK(want > FLT_MIN && fabs(scalpel_trainer_lr(&tr) - want) <= 1e-5 * want, "800 drops %g vs %g", (double)scalpel_trainer_lr(&tr), want);
    tr.steps = 2700; CHECK(scalpel_trainer_lr(&tr) == 0.0f, "900 drops: below FLT_MIN, flushed to 0 (%g)", (double)scalpel_trainer_lr(&tr));
    tr.config.lr_step = 1;
    tr.steps = SCALPEL_CHECKPOINT_MAX_STEPS - 1; CHECK(scalpel_trainer_lr(&tr) == 0.0f, "2^53 - 1 drops");
    tr.config.lr_gamma = 1.0f;
    CHECK(scalpel_trainer_lr(&tr) == 0.1f, "gamma 1: the rate never drops");
    tr.config.lr_gamma = 0.5f;
    tr.steps = 122; CHECK(scalpel_trainer_lr(&tr) == ldexpf(0.1f, -122), "0.1 x 2^-122: normal, exact");
    tr.steps = 127; CHECK(scalpel_trainer_lr(&tr) == 0.0f, "0.1 x 2^-127: below FLT_MIN, flushed (%g)", (double)scalpel_trainer_lr(&tr));
    tr.steps = -5; CHECK(scalpel_trainer_lr(&tr) == 0.1f, "negative steps: no drop");
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
}

/* The configuration's bounds (scalpel_train_config): lr in (0, 1000], weight_decay in [0, 1],
 * mask_lambda in [0, 1e6], all finite; at init and before every update. */
static void test_config_bounds(void)
{
    static const float x[4 * 2] = { 0.5f, -0.5f, -0.25f, 0.75f, 0.1f, 0.2f, -0.9f, -0.3f };
    static const int32_t y[4] = { 1, 1, 0, 0 };
    scalpel_net net;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    float inf = 1e30f * 1e30f, nan = inf - inf;
    make_xor_net(&net);
#define BOUND(field, value, expect)                                                                \
    do {                                                                                           \
        scalpel_status st_;                                                                        \
        scalpel_train_config_default(&cfg);                                                        \
        cfg.field = (value);                                                                       \
        st_ = scalpel_trainer_init(&net, 4, &cfg, &tr);                                            \
        CHECK(st_ == (expect), "%s = %.9g: %s", #field, (double)(value), scalpel_status_string(st_)); \
        if (st_ == SCALPEL_OK) scalpel_trainer_free(&tr);                                          \
    } while (0)
    BOUND(lr, 1e30f, SCALPEL_ERR_ARGUMENT);
    BOUND(lr, inf, SCALPEL_ERR_ARGUMENT);
    BOUND(lr, nan, SCALPEL_ERR_ARGUMENT);
    BOUND(lr, 1000.0001f, SCALPEL_ERR_ARGUMENT);
    BOUND(lr, SCALPEL_TRAIN_LR_MAX, SCALPEL_OK);
    BOUND(lr, 10.0f, SCALPEL_OK);
    BOUND(lr, 1e-30f, SCALPEL_OK);
    BOUND(lr, 0.0f, SCALPEL_ERR_ARGUMENT);
    BOUND(weight_decay, 1.5f, SCALPEL_ERR_ARGUMENT);
    BOUND(weight_decay, 1.0f, SCALPEL_OK);
    BOUND(weight_decay, nan, SCALPEL_ERR_ARGUMENT);
    BOUND(mask_lambda, 1e7f, SCALPEL_ERR_ARGUMENT);
    BOUND(mask_lambda, inf, SCALPEL_ERR_ARGUMENT);
    BOUND(mask_lambda, SCALPEL_TRAIN_MASK_LAMBDA_MAX, SCALPEL_OK);
    BOUND(lr_gamma, 1.5f, SCALPEL_ERR_ARGUMENT);
    BOUND(lr_gamma, nan, SCALPEL_ERR_ARGUMENT);
    BOUND(momentum, nan, SCALPEL_ERR_ARGUMENT);
#undef BOUND
    /* changed after init: the update refuses and counts no step */
    scalpel_train_config_default(&cfg);
    CHECK(scalpel_trainer_init(&net, 4, &cfg, &tr) == SCALPEL_OK, "init");
    scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE);
    tr.config.lr = 1e30f;
    CHECK(scalpel_trainer_step(&tr, x, y, 4, NULL) == SCALPEL_ERR_ARGUMENT && tr.steps == 0, "lr 1e30 set after init");
    tr.config.lr = 0.01f; tr.config.weight_decay = 2.0f;
    CHECK(scalpel_trainer_step(&tr, x, y, 4, NULL) == SCALPEL_ERR_ARGUMENT && tr.steps == 0, "weight decay 2 set after init");
    tr.config.weight_decay = 0.0f; tr.config.lr_gamma = 2.0f;
    CHECK(scalpel_trainer_step(&tr, x, y, 4, NULL) == SCALPEL_ERR_ARGUMENT && tr.steps == 0, "gamma 2 set after init");
    tr.config.lr_gamma = 0.1f;
    CHECK(scalpel_trainer_step(&tr, x, y, 4, NULL) == SCALPEL_OK && tr.steps == 1, "valid again");
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
}

/* The softmax's exponential on every input: NaN (inf - inf from diverged logits) gives NaN with
 * no conversion of NaN to int (-fsanitize=float-cast-overflow), the infinities their limits. */
static void test_exp_any(void)
{
    double inf = 1e300 * 1e300, nan = inf - inf, x;
    double got = scalpel__train_exp_nonpos(nan);
    CHECK(got != got, "exp(NaN) = %g", got);
    CHECK(scalpel__train_exp_nonpos(-inf) == 0.0, "exp(-inf)");
    CHECK(scalpel__train_exp_nonpos(-1000.0) == 0.0, "exp(-1000)");
    CHECK(scalpel__train_exp_nonpos(inf) == inf, "exp(+inf)");
    CHECK(scalpel__train_exp_nonpos(1000.0) == inf, "exp(1000) = %g", scalpel__train_exp_nonpos(1000.0));
    CHECK(scalpel__train_exp_nonpos(1e300) == inf, "exp(1e300)");
    CHECK(scalpel__train_exp_nonpos(0.0) == 1.0, "exp(0)");
    for (x = -699.75; x <= 699.75; x += 0.5) {
        double e = exp(x);
        if (!(fabs(scalpel__train_exp_nonpos(x) - e) <= 1e-11 * e)) break;
    }
    CHECK(x > 699.75, "exp(%g) = %.17g vs %.17g", x, scalpel__train_exp_nonpos(x), exp(x));
}

/* Training that diverges (the largest accepted lr on inputs of 1e4; a NaN input and inputs of
 * 3e38 into a linear classifier) runs without undefined behaviour: inf and NaN logits reach
 * the softmax and come out as non-finite losses, every step counted. Built with
 * -fsanitize=undefined,float-cast-overflow (gcc's undefined leaves that one out). */
static void test_diverging_no_ub(void)
{
    static float x[8 * 2];
    int32_t y[8], k, s, nonfinite = 0;
    scalpel_net net;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    float loss = 0.0f, acc = -1.0f, inf = 1e30f * 1e30f;
    make_xor_net(&net);
    scalpel_train_config_default(&cfg);
    cfg.lr = SCALPEL_TRAIN_LR_MAX;
    cfg.momentum = 0.9f;
    CHECK(scalpel_trainer_init(&net, 8, &cfg, &tr) == SCALPEL_OK, "init at the largest lr");
    scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE);
    for (k = 0; k < 8; k++) {
        x[2 * k] = (float)(k % 3 - 1) * 1e4f; x[2 * k + 1] = (float)(k % 5 - 2) * 1e4f;
        y[k] = k & 1;
    }
    for (s = 0; s < 30; s++) {
        CHECK(scalpel_trainer_step(&tr, x, y, 8, &loss) == SCALPEL_OK, "step %d", (int)s);
        nonfinite += !scalpel__train_finite(loss);
    }
    CHECK(nonfinite > 0, "the run diverged (loss %g): the test reached inf / NaN logits", (double)loss);
    /* straight into the softmax (no relu to turn NaN into 0): a NaN input, then inputs that
     * make both logits +inf (inf - inf in the softmax) */
    {
        scalpel_net lin;
        scalpel_trainer tl;
        scalpel_net_init(2, 1, 1, &lin);
        scalpel_net_add_fc(&lin, 2, NULL, NULL);
        CHECK(scalpel_trainer_init(&lin, 8, &cfg, &tl) == SCALPEL_OK, "init linear");
        for (k = 0; k < 4; k++) tl.layers[0].w[k] = 1.0f;
        x[0] = inf - inf;
        CHECK(scalpel_trainer_step(&tl, x, y, 8, &loss) == SCALPEL_OK && loss != loss, "NaN input: loss %g", (double)loss);
        for (k = 0; k < 4; k++) tl.layers[0].w[k] = 1.0f;
        for (k = 0; k < 2; k++) tl.layers[0].b[k] = 0.0f;
        for (k = 0; k < 16; k++) x[k] = 3e38f;
        CHECK(scalpel_trainer_step(&tl, x, y, 8, &loss) == SCALPEL_OK && loss != loss, "inf logits: loss %g", (double)loss);
        CHECK(scalpel_trainer_evaluate(&tl, x, y, 8, &acc) == SCALPEL_OK && acc >= 0.0f && acc <= 1.0f, "evaluate");
        CHECK(tl.steps == 2, "steps %d", (int)tl.steps);
        scalpel_trainer_free(&tl);
        scalpel_net_free(&lin);
    }
    CHECK(tr.steps == 30, "steps %d", (int)tr.steps);
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
}

/* Checkpoints with fields no training produces, CRC fixed up: refused (SCALPEL_ERR_CORRUPT),
 * at once and leaving the trainer as it was; the extremes that training can reach load and
 * train. The campaign's case: steps = 2^60 with gamma 0.9 and lr_step 1 used to load and then
 * hang every step in a loop of 2^60 rate drops. */
static void test_checkpoint_hostile(void)
{
    static const float x[4 * 2] = { 0.5f, -0.5f, -0.25f, 0.75f, 0.1f, 0.2f, -0.9f, -0.3f };
    static const int32_t y[4] = { 1, 1, 0, 0 };
    scalpel_net net;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    void *vbuf = NULL, *vnow = NULL;
    unsigned char *buf, *copy;
    size_t n = 0, n_now = 0;
    make_xor_net(&net);
    scalpel_train_config_default(&cfg);
    cfg.lr = 0.1f; cfg.lr_step = 1; cfg.lr_gamma = 0.9f;
    CHECK(scalpel_trainer_init(&net, 4, &cfg, &tr) == SCALPEL_OK, "init");
    scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE);
    CHECK(scalpel_trainer_step(&tr, x, y, 4, NULL) == SCALPEL_OK && scalpel_trainer_step(&tr, x, y, 4, NULL) == SCALPEL_OK, "steps");
    CHECK(scalpel_trainer_checkpoint_to_buffer(&tr, &vbuf, &n) == SCALPEL_OK && n > 112, "to buffer");
    buf = (unsigned char *)vbuf;
    copy = (unsigned char *)malloc(n);
    /* buf is also the trainer's state that a refused load must leave (the refused cases come
     * first, before any accepted load changes it) */
#define HOSTILE(patch, expect, what)                                                               \
    do {                                                                                           \
        scalpel_status st_;                                                                        \
        memcpy(copy, buf, n);                                                                      \
        patch;                                                                                     \
        ck_resign(copy, n);                                                                        \
        st_ = scalpel_trainer_checkpoint_from_buffer(&tr, copy, n);                                \
        CHECK(st_ == (expect), "%s: %s", what, scalpel_status_string(st_));                        \
        if (st_ != SCALPEL_OK) {                                                                   \
            CHECK(scalpel_trainer_checkpoint_to_buffer(&tr, &vnow, &n_now) == SCALPEL_OK && n_now == n && \
                  memcmp(vnow, buf, n) == 0, "%s: trainer changed by a refused load", what);       \
            free(vnow); vnow = NULL;                                                               \
        }                                                                                          \
        if (tr.steps >= SCALPEL_CHECKPOINT_MAX_STEPS || tr.steps < 0) tr.steps = 2; /* an old reader let it in */ \
    } while (0)
    HOSTILE(ck_put64(copy + CK_STEPS, (uint64_t)1 << 60), SCALPEL_ERR_CORRUPT, "steps 2^60");
    HOSTILE(ck_put64(copy + CK_STEPS, (uint64_t)SCALPEL_CHECKPOINT_MAX_STEPS), SCALPEL_ERR_CORRUPT, "steps 2^53");
    HOSTILE(ck_put64(copy + CK_STEPS, ~(uint64_t)0), SCALPEL_ERR_CORRUPT, "steps 2^64 - 1");
    HOSTILE(ck_put64(copy + CK_EPOCH, (uint64_t)1 << 31), SCALPEL_ERR_CORRUPT, "epoch 2^31");
    HOSTILE(ck_put64(copy + CK_EPOCH, (uint64_t)1 << 63), SCALPEL_ERR_CORRUPT, "epoch 2^63");
    HOSTILE(ck_put32(copy + CK_STAGE, 0x80000000u), SCALPEL_ERR_CORRUPT, "stage 2^31");
    HOSTILE(ck_put32(copy + CK_LR_STEP, 0x80000000u), SCALPEL_ERR_CORRUPT, "lr_step 2^31");
    HOSTILE(ck_put64(copy + CK_RNG, 0), SCALPEL_ERR_CORRUPT, "rng 0");
    HOSTILE(ck_putf(copy + CK_LR, 1e30f), SCALPEL_ERR_CORRUPT, "lr 1e30");
    HOSTILE(ck_putf(copy + CK_LR, 1000.0001f), SCALPEL_ERR_CORRUPT, "lr just above 1000");
    HOSTILE(ck_putf(copy + CK_WD, 2.0f), SCALPEL_ERR_CORRUPT, "weight decay 2");
    HOSTILE(ck_putf(copy + CK_LAMBDA, 1e7f), SCALPEL_ERR_CORRUPT, "mask_lambda 1e7");
    HOSTILE(ck_putf(copy + CK_GAMMA, 1.0001f), SCALPEL_ERR_CORRUPT, "gamma above 1");
    /* the extremes training can reach load, and a step takes no time */
    HOSTILE(ck_put64(copy + CK_STEPS, (uint64_t)SCALPEL_CHECKPOINT_MAX_STEPS - 1), SCALPEL_OK, "steps 2^53 - 1");
    CHECK(tr.steps == SCALPEL_CHECKPOINT_MAX_STEPS - 1 && scalpel_trainer_lr(&tr) == 0.0f, "rate after 2^53 - 1 drops of 0.9");
    CHECK(scalpel_trainer_step(&tr, x, y, 4, NULL) == SCALPEL_OK && tr.steps == SCALPEL_CHECKPOINT_MAX_STEPS, "a step there");
    HOSTILE(ck_putf(copy + CK_GAMMA, 1.0f); ck_put64(copy + CK_STEPS, (uint64_t)SCALPEL_CHECKPOINT_MAX_STEPS - 1), SCALPEL_OK,
            "gamma 1, steps 2^53 - 1");
    CHECK(scalpel_trainer_lr(&tr) == 0.1f && scalpel_trainer_step(&tr, x, y, 4, NULL) == SCALPEL_OK, "gamma 1: the rate stays");
    HOSTILE(ck_put64(copy + CK_EPOCH, (uint64_t)INT32_MAX); ck_put32(copy + CK_STAGE, (uint32_t)INT32_MAX), SCALPEL_OK,
            "epoch and stage INT32_MAX");
    CHECK(tr.epoch == INT32_MAX && tr.stage == INT32_MAX, "counters");
    HOSTILE(ck_put64(copy + CK_EPOCH, 1000); ck_put64(copy + CK_STEPS, 0), SCALPEL_OK,
            "epoch above steps (a node-pruning retrainer's snapshot)");
    HOSTILE(ck_putf(copy + CK_LR, SCALPEL_TRAIN_LR_MAX), SCALPEL_OK, "lr 1000");
    HOSTILE(ck_putf(copy + CK_LAMBDA, SCALPEL_TRAIN_MASK_LAMBDA_MAX), SCALPEL_OK, "mask_lambda 1e6");
#undef HOSTILE
    /* truncated inside the weights: a short read, found before any loop over them */
    CHECK(scalpel_trainer_checkpoint_from_buffer(&tr, buf, 140) == SCALPEL_ERR_TRUNCATED, "truncated");
    memcpy(copy, buf, n);
    ck_put64(copy + 8, 140);
    ck_resign(copy, 140);
    CHECK(scalpel_trainer_checkpoint_from_buffer(&tr, copy, 140) == SCALPEL_ERR_TRUNCATED, "short, size field agreeing");
    free(copy);
    free(vbuf);
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
}

int main(void)
{
    test_grad_fc();
    test_grad_conv();
    test_sgd_hand();
    test_weight_masks();
    test_init_sparse();
    test_hysteresis();
    test_determinism();
    test_trains();
    test_node_pruning();
    test_export();
    test_init_eval();
#ifdef _OPENMP
    test_openmp();
#endif
    test_errors();
    test_exp_any();
    test_config_bounds();
    test_checkpoint_hostile();
    test_lr_closed_form();
    test_diverging_no_ub();
    return test_summary("test_train");
}
