/* test_drivers.c - the training drivers on the built-in synthetic digits: epochs with the
 * progress callback, traditional (Han) pruning, SIMD-aware group pruning (slowest layer first
 * or most weights first, whole groups, break-even skips), node pruning (shrunk layers, the
 * removed network computes what the masked one does), scalpel_prune_for on each hardware class
 * (a deployable packed network), and checkpoints: a resumed run is bit-identical to an
 * uninterrupted one, corrupt files are refused with their error codes and leave the trainer
 * unchanged.
 *
 *   gcc -std=c99 -pedantic -Wall -Wextra -Werror -O1 -march=native \
 *       -fsanitize=address,undefined -I. tests/test_drivers.c -o build/test_drivers -lm
 *   build/test_drivers [directory for checkpoint files, default .]
 */
#include <stdlib.h>
#include <string.h>

#define SCALPEL_IMPLEMENTATION
#include "scalpel_train.h"
#include "test_util.h"

static const char *dir = ".";
static scalpel_dataset train_ds, test_ds;

/* ---- helpers ------------------------------------------------------------------------------ */

static void path_in_dir(char *buf, size_t cap, const char *name)
{
    size_t n = strlen(dir);
    if (n + strlen(name) + 2 > cap) { buf[0] = 0; return; }
    memcpy(buf, dir, n);
    buf[n] = '/';
    memcpy(buf + n + 1, name, strlen(name) + 1);
}

/* LeNet-300-100 scaled down: 784-48-24-10. */
static void make_mlp(scalpel_net *net)
{
    scalpel_net_init(1, 28, 28, net);
    scalpel_net_add_fc(net, 48, NULL, NULL);
    scalpel_net_add_relu(net);
    scalpel_net_add_fc(net, 24, NULL, NULL);
    scalpel_net_add_relu(net);
    scalpel_net_add_fc(net, 10, NULL, NULL);
}

/* A small LeNet-5: conv 4 5x5, pool 2, conv 8 5x5, pool 2, fc 32, fc 10. */
static void make_conv(scalpel_net *net)
{
    scalpel_net_init(1, 28, 28, net);
    scalpel_net_add_conv2d(net, 4, 5, 1, 0, NULL, NULL);
    scalpel_net_add_relu(net);
    scalpel_net_add_maxpool(net, 2, 2);
    scalpel_net_add_conv2d(net, 8, 5, 1, 0, NULL, NULL);
    scalpel_net_add_relu(net);
    scalpel_net_add_maxpool(net, 2, 2);
    scalpel_net_add_fc(net, 32, NULL, NULL);
    scalpel_net_add_relu(net);
    scalpel_net_add_fc(net, 10, NULL, NULL);
}

static scalpel_driver_config quiet_config(void)
{
    scalpel_driver_config dc;
    scalpel_driver_config_default(&dc);
    dc.train.lr = 0.01f;
    dc.batch = 32;
    dc.tolerance = 0.03f;
    dc.epochs_per_stage = 2;
    dc.lambda_start = 0.001f;
    dc.max_stages = 3;
    dc.rate_start = 0.5f;
    dc.rate_step = 0.2f;
    return dc;
}

/* A trained dense trainer for arch (He init, `epochs` epochs). */
static scalpel_status trained(const scalpel_net *arch, const scalpel_train_config *cfg, int32_t epochs,
                              scalpel_trainer *tr, float *acc)
{
    scalpel_status st = scalpel_trainer_init(arch, 32, cfg, tr);
    if (st != SCALPEL_OK) return st;
    scalpel_trainer_init_weights(tr, SCALPEL_INIT_HE);
    return scalpel_train_epochs(tr, &train_ds, &test_ds, epochs, "dense", NULL, acc);
}

/* Test accuracy of a plain network (dense or packed). */
static float net_accuracy(const scalpel_net *net)
{
    int32_t in = scalpel_net_input_size(net), i, correct = 0;
    float *out = (float *)malloc(10 * sizeof(float));
    void *ws = malloc(scalpel_net_workspace_size(net, 1));
    for (i = 0; i < test_ds.n; i++) {
        scalpel_net_forward(net, test_ds.x + (size_t)i * (size_t)in, 1, out, ws);
        if (scalpel_argmax_f32(out, 10) == test_ds.y[i]) correct++;
    }
    free(out);
    free(ws);
    return (float)correct / (float)test_ds.n;
}

/* ---- progress callback and epochs ---------------------------------------------------------- */

typedef struct progress_log {
    int calls;
    int32_t last_epoch, epochs;
    float rates[64];
    float last_acc;
    char stage[16];
} progress_log;

static void log_progress(void *user, const scalpel_progress *p)
{
    progress_log *lg = (progress_log *)user;
    if (lg->calls < 64) lg->rates[lg->calls] = p->prune_rate;
    lg->calls++;
    lg->last_epoch = p->epoch;
    lg->epochs = p->epochs;
    lg->last_acc = p->accuracy;
    strncpy(lg->stage, p->stage, sizeof(lg->stage) - 1);
    lg->stage[sizeof(lg->stage) - 1] = 0;
}

static float dense_mlp_acc;
static scalpel_net mlp_dense;   /* the trained dense MLP the drivers start from */

/* A trainer holding a trained network (weights copied). */
static scalpel_status from_dense(const scalpel_net *net, const scalpel_train_config *cfg, scalpel_trainer *tr)
{
    return scalpel_trainer_init(net, 32, cfg, tr);
}

static void test_epochs(void)
{
    scalpel_net arch;
    scalpel_trainer tr;
    scalpel_driver_config dc = quiet_config();
    progress_log lg;
    float acc = 0.0f, acc2 = 0.0f;
    memset(&lg, 0, sizeof(lg));
    dc.progress = log_progress;
    dc.progress_user = &lg;
    make_mlp(&arch);
    CHECK(scalpel_trainer_init(&arch, 32, &dc.train, &tr) == SCALPEL_OK, "init");
    scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE);
    CHECK(scalpel_train_epochs(&tr, &train_ds, &test_ds, 3, "dense", &dc, &acc) == SCALPEL_OK, "epochs");
    CHECK(lg.calls == 3 && lg.last_epoch == 3 && lg.epochs == 3, "calls %d", lg.calls);
    CHECK(strcmp(lg.stage, "dense") == 0, "stage %s", lg.stage);
    CHECK(lg.last_acc == acc, "callback accuracy");
    CHECK(tr.epoch == 3, "epoch counter");
    CHECK(acc > 0.85f, "dense MLP accuracy %.3f", (double)acc);
    CHECK(scalpel_trainer_export(&tr, &mlp_dense) == SCALPEL_OK, "export");
    CHECK(scalpel_trainer_evaluate_dataset(&tr, &test_ds, &acc2) == SCALPEL_OK && acc2 == acc, "evaluate");
    CHECK(scalpel_trainer_prune_rate(&tr) == 0.0f, "dense rate");
    dense_mlp_acc = acc;
    /* errors */
    CHECK(scalpel_train_epochs(NULL, &train_ds, NULL, 1, NULL, NULL, NULL) == SCALPEL_ERR_NULL, "null");
    CHECK(scalpel_train_epochs(&tr, &train_ds, NULL, -1, NULL, NULL, NULL) == SCALPEL_ERR_ARGUMENT, "epochs < 0");
    {
        scalpel_dataset bad = test_ds;
        bad.w = 27;
        bad.n = 10;
        CHECK(scalpel_train_epochs(&tr, &bad, NULL, 1, NULL, NULL, NULL) == SCALPEL_ERR_SHAPE, "shape");
    }
    /* a frozen layer keeps its weights and biases; the others train */
    {
        scalpel_driver_config fz = quiet_config();
        float *w0 = (float *)malloc(784 * 48 * sizeof(float)), *w2 = (float *)malloc(48 * 24 * sizeof(float));
        float b0 = tr.layers[0].b[3];
        fz.frozen[0] = 1;
        memcpy(w0, tr.layers[0].w, 784 * 48 * sizeof(float));
        memcpy(w2, tr.layers[2].w, 48 * 24 * sizeof(float));
        CHECK(scalpel_train_epochs(&tr, &train_ds, NULL, 1, "frozen", &fz, NULL) == SCALPEL_OK, "frozen epoch");
        CHECK(memcmp(w0, tr.layers[0].w, 784 * 48 * sizeof(float)) == 0 && tr.layers[0].b[3] == b0, "frozen");
        CHECK(memcmp(w2, tr.layers[2].w, 48 * 24 * sizeof(float)) != 0, "not frozen");
        free(w0);
        free(w2);
    }
    /* the default printer (to stderr) must not crash */
    {
        scalpel_progress p;
        memset(&p, 0, sizeof(p));
        p.stage = "test";
        p.epoch = p.epochs = 1;
        scalpel_progress_print(NULL, &p);
    }
    scalpel_trainer_free(&tr);
    scalpel_net_free(&arch);
}

/* ---- the geometric ladder, annealed stages and the closing fine-tune ---------------------- */

static void test_ladder(void)
{
    scalpel_trainer tr;
    scalpel_driver_config dc = quiet_config(), bad;
    scalpel_prune_result res;
    progress_log lg;
    static const float want[3] = { 0.5f, 0.75f, 0.875f };
    int i, s;
    memset(&lg, 0, sizeof(lg));
    dc.progress = log_progress;
    dc.progress_user = &lg;
    dc.rate_keep = 0.5f;     /* 0.5, 0.75, 0.875 */
    dc.rate_max = 0.95f;
    dc.tolerance = 1.0f;     /* never stops: every stage runs */
    dc.stage_anneal = 1;
    dc.epochs_final = 1;
    CHECK(from_dense(&mlp_dense, &dc.train, &tr) == SCALPEL_OK, "trainer");
    bad = dc;
    bad.rate_keep = 1.0f;
    CHECK(scalpel_prune_traditional(&tr, &train_ds, &test_ds, &bad, &res) == SCALPEL_ERR_ARGUMENT, "rate_keep 1");
    bad = dc;
    bad.rate_keep = -0.5f;
    CHECK(scalpel_prune_traditional(&tr, &train_ds, &test_ds, &bad, &res) == SCALPEL_ERR_ARGUMENT, "rate_keep < 0");
    bad = dc;
    bad.stage_anneal = 2;
    CHECK(scalpel_prune_traditional(&tr, &train_ds, &test_ds, &bad, &res) == SCALPEL_ERR_ARGUMENT, "stage_anneal 2");
    CHECK(scalpel_prune_traditional(&tr, &train_ds, &test_ds, &dc, &res) == SCALPEL_OK, "traditional");
    CHECK(res.stages == 3, "stages %d", (int)res.stages);
    /* two epochs per stage (the second annealed, reported as its own 1-epoch call), then one */
    CHECK(lg.calls == 3 * 2 + 1, "calls %d", lg.calls);
    for (s = 0; s < 3 && lg.calls >= 7; s++)
        for (i = 0; i < 2; i++)
            CHECK(fabsf(lg.rates[2 * s + i] - want[s]) < 0.01f, "stage %d rate %.4f want %.4f", s,
                  (double)lg.rates[2 * s + i], (double)want[s]);
    CHECK(strcmp(lg.stage, "finetune") == 0 && fabsf(lg.rates[6] - want[2]) < 0.01f, "fine-tune at the last rate");
    CHECK(tr.config.lr == dc.train.lr && tr.config.lr_step == dc.train.lr_step, "lr restored after annealing");
    CHECK(fabsf(res.rate - want[2]) < 0.01f, "rate %.4f", (double)res.rate);
    scalpel_trainer_free(&tr);

    /* patience: with tolerance 0 nearly every stage is a miss; patience 3 lets all three run,
     * then the trainer is back at the last stage within tolerance (or unpruned) */
    dc.tolerance = 0.0f;
    dc.patience = 3;
    dc.progress = NULL;
    CHECK(from_dense(&mlp_dense, &dc.train, &tr) == SCALPEL_OK, "trainer");
    bad = dc;
    bad.patience = -1;
    CHECK(scalpel_prune_traditional(&tr, &train_ds, &test_ds, &bad, &res) == SCALPEL_ERR_ARGUMENT, "patience < 0");
    CHECK(scalpel_prune_traditional(&tr, &train_ds, &test_ds, &dc, &res) == SCALPEL_OK, "traditional, patience");
    CHECK(res.stages == 3, "every stage ran: %d", (int)res.stages);
    CHECK(res.rate < 0.01f || fabsf(res.rate - want[0]) < 0.01f || fabsf(res.rate - want[1]) < 0.01f ||
              fabsf(res.rate - want[2]) < 0.01f,
          "result at a stage of the ladder: %.4f", (double)res.rate);
    CHECK(scalpel_trainer_prune_rate(&tr) == res.rate, "trainer rate");
    scalpel_trainer_free(&tr);
}

/* ---- frozen front layers: backward stops early, the trainable layers get the same steps ---- */

static void test_frozen_front(void)
{
    scalpel_net arch;
    scalpel_trainer a, b;
    scalpel_driver_config dc = quiet_config();
    scalpel_dataset small;
    int32_t idx[256], perm[256], y[32], i, bt, count = 0;
    float *x, *keep_w[SCALPEL_NET_MAX_LAYERS], *keep_b[SCALPEL_NET_MAX_LAYERS];
    size_t wn, k;
    int same = 1;
    for (i = 0; i < 256; i++) idx[i] = i;
    CHECK(scalpel_dataset_subset(&train_ds, idx, 256, &small) == SCALPEL_OK, "subset");
    make_conv(&arch);
    dc.progress = NULL;
    CHECK(scalpel_trainer_init(&arch, 32, &dc.train, &a) == SCALPEL_OK, "init a");
    CHECK(scalpel_trainer_init(&arch, 32, &dc.train, &b) == SCALPEL_OK, "init b");
    scalpel_trainer_init_weights(&a, SCALPEL_INIT_HE);
    scalpel_trainer_init_weights(&b, SCALPEL_INIT_HE);
    for (i = 0; i < arch.n_layers; i++) {
        const scalpel_layer *L = &arch.layers[i];
        keep_w[i] = keep_b[i] = NULL;
        if (L->geom.kind != SCALPEL_LAYER_CONV2D) continue;
        dc.frozen[i] = 1;
        wn = (size_t)L->geom.rows * (size_t)L->geom.cols;
        keep_w[i] = (float *)malloc(wn * sizeof(float));
        keep_b[i] = (float *)malloc((size_t)L->geom.rows * sizeof(float));
        memcpy(keep_w[i], b.layers[i].w, wn * sizeof(float));
        memcpy(keep_b[i], b.layers[i].b, (size_t)L->geom.rows * sizeof(float));
    }
    /* a: the driver path (both conv layers frozen: backward stops at the first fc layer) */
    CHECK(scalpel_train_epochs(&a, &small, NULL, 1, "frozen", &dc, NULL) == SCALPEL_OK, "epochs");
    CHECK(a.backward_stop == 0, "backward_stop reset after the call");
    /* b: the same steps by hand with the full backward, conv weights put back after each */
    x = (float *)malloc((size_t)32 * 784 * sizeof(float));
    CHECK(scalpel_dataset_shuffle(small.n, b.config.seed + (uint64_t)b.epoch, perm) == SCALPEL_OK, "shuffle");
    for (bt = 0; x && bt < scalpel_dataset_batches(&small, 32); bt++) {
        CHECK(scalpel_dataset_batch(&small, perm, 32, bt, x, y, &count) == SCALPEL_OK, "batch");
        CHECK(scalpel_trainer_step(&b, x, y, count, NULL) == SCALPEL_OK, "step");
        for (i = 0; i < arch.n_layers; i++)
            if (keep_w[i]) {
                memcpy(b.layers[i].w, keep_w[i], (size_t)arch.layers[i].geom.rows * (size_t)arch.layers[i].geom.cols * sizeof(float));
                memcpy(b.layers[i].b, keep_b[i], (size_t)arch.layers[i].geom.rows * sizeof(float));
            }
    }
    for (i = 0; i < arch.n_layers; i++) {
        if (!a.layers[i].w) continue;
        wn = (size_t)arch.layers[i].geom.rows * (size_t)arch.layers[i].geom.cols;
        for (k = 0; k < wn; k++) if (a.layers[i].w[k] != b.layers[i].w[k]) same = 0;
        for (k = 0; k < (size_t)arch.layers[i].geom.rows; k++) if (a.layers[i].b[k] != b.layers[i].b[k]) same = 0;
    }
    CHECK(same, "early-stopped backward gives the full backward's weights, bit for bit");
    for (i = 0; i < arch.n_layers; i++) { free(keep_w[i]); free(keep_b[i]); }
    free(x);
    scalpel_trainer_free(&a);
    scalpel_trainer_free(&b);
    scalpel_dataset_free(&small);
    scalpel_net_free(&arch);
}

/* ---- traditional ------------------------------------------------------------------------- */

static void test_traditional(void)
{
    scalpel_net arch;
    scalpel_trainer tr;
    scalpel_driver_config dc = quiet_config();
    scalpel_prune_result res;
    progress_log lg;
    float acc = 0.0f;
    int i, rising = 1;
    memset(&lg, 0, sizeof(lg));
    make_mlp(&arch);
    CHECK(from_dense(&mlp_dense, &dc.train, &tr) == SCALPEL_OK, "trainer");
    acc = dense_mlp_acc;
    dc.progress = log_progress;
    dc.progress_user = &lg;
    {
        scalpel_driver_config bad = dc;
        bad.tolerance = -1.0f;
        CHECK(scalpel_prune_traditional(&tr, &train_ds, &test_ds, &bad, &res) == SCALPEL_ERR_ARGUMENT, "bad config");
        bad = dc;
        bad.round_to = 3;
        CHECK(scalpel_prune_traditional(&tr, &train_ds, &test_ds, &bad, &res) == SCALPEL_ERR_ARGUMENT, "round_to");
        CHECK(scalpel_prune_traditional(&tr, &train_ds, NULL, &dc, &res) == SCALPEL_ERR_NULL, "no test set");
        CHECK(scalpel_prune_traditional(&tr, &train_ds, &test_ds, &dc, NULL) == SCALPEL_ERR_NULL, "no result");
        CHECK(scalpel_trainer_prune_rate(&tr) == 0.0f, "refused runs prune nothing");
    }
    CHECK(scalpel_prune_traditional(&tr, &train_ds, &test_ds, &dc, &res) == SCALPEL_OK, "traditional");
    CHECK(res.dense_accuracy == acc, "dense %.3f %.3f", (double)res.dense_accuracy, (double)acc);
    CHECK(res.stages >= 1 && res.stages <= 3, "stages %d", (int)res.stages);
    CHECK(res.accuracy >= res.dense_accuracy - dc.tolerance, "accuracy %.3f dense %.3f", (double)res.accuracy,
          (double)res.dense_accuracy);
    CHECK(res.rate >= 0.49f, "rate %.3f", (double)res.rate);
    CHECK(res.layer_rate[0] >= 0.49f && res.layer_rate[2] >= 0.49f && res.layer_rate[1] == 0.0f, "layer rates");
    /* stages raise the rate; the closing fine-tune (epochs_final epochs, the last calls)
     * trains the result, after any rollback */
    for (i = 1; i < lg.calls - dc.epochs_final && i < 64; i++) if (lg.rates[i] + 1e-6f < lg.rates[i - 1]) rising = 0;
    CHECK(lg.calls >= 1 + dc.epochs_final && rising, "pruning rates rise (%d calls)", lg.calls);
    CHECK(strcmp(lg.stage, "finetune") == 0 && lg.last_acc == res.accuracy, "fine-tune last (%s)", lg.stage);
    CHECK(fabsf(lg.rates[(lg.calls < 64 ? lg.calls : 64) - 1] - res.rate) < 1e-6f, "fine-tune keeps the masks");
    CHECK(scalpel_trainer_prune_rate(&tr) == res.rate, "trainer rate");
    {
        float now = 0.0f;
        scalpel_trainer_evaluate_dataset(&tr, &test_ds, &now);
        CHECK(now == res.accuracy, "result accuracy is the trainer's");
    }
    /* a zero tolerance with an impossible rate rolls the stage back: nothing more pruned */
    {
        scalpel_prune_result r2;
        float before = scalpel_trainer_prune_rate(&tr);
        dc.rate_start = 0.999f;
        dc.tolerance = 0.0f;
        dc.max_stages = 1;
        dc.progress = NULL;
        CHECK(scalpel_prune_traditional(&tr, &train_ds, &test_ds, &dc, &r2) == SCALPEL_OK, "rollback run");
        CHECK(r2.stages == 1 && scalpel_trainer_prune_rate(&tr) == before, "rolled back %.3f %.3f",
              (double)scalpel_trainer_prune_rate(&tr), (double)before);
    }
    scalpel_trainer_free(&tr);
    scalpel_net_free(&arch);
}

/* ---- SIMD-aware ---------------------------------------------------------------------------- */

/* 1 when every aligned group of G of every row of the mask is all 0 or all 1. */
static int whole_groups(const uint8_t *mask, int32_t rows, int32_t cols, int32_t g)
{
    int32_t r, c, j;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c += g)
            for (j = c; j < c + g && j < cols; j++)
                if (mask[(size_t)r * (size_t)cols + (size_t)j] != mask[(size_t)r * (size_t)cols + (size_t)c]) return 0;
    return 1;
}

static void test_simd(void)
{
    scalpel_net arch;
    scalpel_trainer tr;
    scalpel_driver_config dc = quiet_config();
    scalpel_prune_result res;
    scalpel_hw_profile hw;
    int32_t i, pruned = 0;
    make_mlp(&arch);
    CHECK(scalpel_hw_profile_get("x86-avx512", &hw) == SCALPEL_OK, "profile");
    CHECK(from_dense(&mlp_dense, &dc.train, &tr) == SCALPEL_OK, "trainer");
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_OK, "simd");
    /* the 784 x 48 layer is by far the slowest */
    CHECK(res.order[0] == 0, "slowest first: %d", (int)res.order[0]);
    CHECK(res.order[3] == -1 && (res.order[1] == 2 || res.order[1] == 4), "order");
    CHECK(res.accuracy >= res.dense_accuracy - dc.tolerance, "accuracy %.3f dense %.3f", (double)res.accuracy,
          (double)res.dense_accuracy);
    for (i = 0; i < tr.arch.n_layers; i++) {
        const scalpel_layer *L = &tr.arch.layers[i];
        if (!tr.layers[i].w) continue;
        CHECK(whole_groups(tr.layers[i].mask, L->geom.rows, L->geom.cols, hw.group), "layer %d: whole groups", (int)i);
        if (!res.skipped[i]) {
            float gs = scalpel_group_sparsity_f32(tr.layers[i].w, L->geom.rows, L->geom.cols, hw.group);
            pruned++;
            CHECK(res.layer_rate[i] > hw.breakeven_mv_grouped, "layer %d above break-even", (int)i);
            CHECK(gs >= res.layer_rate[i] - 1e-6f, "layer %d: groups really zero %.3f %.3f", (int)i, (double)gs,
                  (double)res.layer_rate[i]);
        } else {
            CHECK(res.layer_rate[i] == 0.0f, "skipped layer %d dense", (int)i);
        }
    }
    CHECK(pruned >= 1 && res.layer_rate[0] >= 0.49f, "first layer pruned %.3f", (double)res.layer_rate[0]);
    scalpel_trainer_free(&tr);

    /* a profile whose break-even cannot be reached: every layer skipped, weights untouched */
    {
        scalpel_hw_profile slow = hw;
        float *w0 = (float *)malloc(784 * 48 * sizeof(float));
        slow.breakeven_mv_grouped = 0.99f;
        CHECK(from_dense(&mlp_dense, &dc.train, &tr) == SCALPEL_OK, "trainer");
        memcpy(w0, tr.layers[0].w, 784 * 48 * sizeof(float));
        CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &slow, 0, &dc, &res) == SCALPEL_OK, "simd slow");
        CHECK(res.skipped[0] && res.skipped[2] && res.skipped[4] && res.stages == 0, "all skipped");
        CHECK(memcmp(w0, tr.layers[0].w, 784 * 48 * sizeof(float)) == 0 && res.rate == 0.0f, "untouched");
        /* reachable, but every stage fails (zero tolerance, rate 0.999): rolled back, skipped */
        dc.rate_start = 0.999f;
        dc.tolerance = 0.0f;
        dc.max_stages = 1;
        CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, SCALPEL_LAYER_FC, &dc, &res) == SCALPEL_OK, "simd fail");
        CHECK(res.skipped[0] && res.stages >= 1 && res.rate == 0.0f, "rolled back and skipped");
        CHECK(memcmp(w0, tr.layers[0].w, 784 * 48 * sizeof(float)) == 0, "untouched after rollback");
        CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 99, &dc, &res) == SCALPEL_ERR_ARGUMENT, "kind");
        free(w0);
        scalpel_trainer_free(&tr);
    }
    scalpel_net_free(&arch);
}

/* dc.layer_order: SCALPEL_ORDER_WEIGHTS prunes the layers most weights first (here fc 32x128,
 * conv 8x4x5x5, fc 10x32, conv 4x5x5: not layer order, and not the time order either, where a
 * convolution is the slowest), every one of them; an unknown order is refused. */
static void test_simd_order(void)
{
    scalpel_net arch;
    scalpel_trainer tr;
    scalpel_driver_config dc = quiet_config();
    scalpel_prune_result res;
    scalpel_hw_profile hw;
    int32_t i;
    make_conv(&arch);
    CHECK(scalpel_hw_profile_get("cortex-m4", &hw) == SCALPEL_OK, "profile");
    CHECK(scalpel_trainer_init(&arch, 32, &dc.train, &tr) == SCALPEL_OK, "trainer");
    scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE);
    dc.layer_order = 3;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_ERR_ARGUMENT, "order 3");
    dc.layer_order = -1;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_ERR_ARGUMENT, "order -1");
    /* one stage at rate 0.7 (above the profile's break-evens) that every layer keeps
     * (tolerance 1) */
    dc.layer_order = SCALPEL_ORDER_WEIGHTS;
    dc.rate_start = 0.7f;
    dc.tolerance = 1.0f;
    dc.max_stages = 1;
    dc.epochs_per_stage = 1;
    dc.epochs_final = 0;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_OK, "simd by weights");
    CHECK(res.order[0] == 6 && res.order[1] == 3 && res.order[2] == 8 && res.order[3] == 0 && res.order[4] == -1,
          "most weights first: %d %d %d %d %d", (int)res.order[0], (int)res.order[1], (int)res.order[2],
          (int)res.order[3], (int)res.order[4]);
    CHECK(res.stages == 4, "one stage per layer: %d", (int)res.stages);
    for (i = 0; i < tr.arch.n_layers; i++) {
        const scalpel_layer *L = &tr.arch.layers[i];
        if (!tr.layers[i].w) continue;
        CHECK(whole_groups(tr.layers[i].mask, L->geom.rows, L->geom.cols, hw.group), "layer %d: whole groups", (int)i);
        CHECK(!res.skipped[i] && res.layer_rate[i] >= 0.6f, "layer %d pruned %.3f", (int)i, (double)res.layer_rate[i]);
    }
    scalpel_trainer_free(&tr);

    /* SCALPEL_ORDER_GIVEN: conv 0 then fc 8 first, the rest after by weights (fc 6, conv 3).
     * layer_rate_max: conv 0 stops at 0.6 (above the profile's matrix-matrix break-even),
     * conv 3 just below that break-even (skipped, untouched); the others go on to the ladder's
     * 0.7 */
    CHECK(scalpel_trainer_init(&arch, 32, &dc.train, &tr) == SCALPEL_OK, "trainer");
    scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE);
    dc.layer_order = SCALPEL_ORDER_GIVEN;
    dc.n_order_given = 2;
    dc.order_given[0] = 0;
    dc.order_given[1] = 8;
    dc.layer_rate_max[0] = 0.6f;
    dc.layer_rate_max[3] = 0.9f * hw.breakeven_mm_grouped;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_OK, "simd given order");
    CHECK(res.order[0] == 0 && res.order[1] == 8 && res.order[2] == 6 && res.order[3] == 3 && res.order[4] == -1,
          "given order first: %d %d %d %d %d", (int)res.order[0], (int)res.order[1], (int)res.order[2],
          (int)res.order[3], (int)res.order[4]);
    CHECK(!res.skipped[0] && res.layer_rate[0] > hw.breakeven_mm_grouped && res.layer_rate[0] <= 0.6f + 1e-6f, "conv 0 capped at 0.6: %.3f",
          (double)res.layer_rate[0]);
    CHECK(!res.skipped[6] && res.layer_rate[6] >= 0.69f, "fc 6 at the ladder's 0.7: %.3f", (double)res.layer_rate[6]);
    CHECK(res.skipped[3] && res.layer_rate[3] == 0.0f, "conv 3 capped below break-even: skipped");
    /* refused: a layer that holds no weights, one out of range, one listed twice, a bad count,
     * a cap outside [0, 1] */
    dc.order_given[1] = 1;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_ERR_ARGUMENT, "relu in the order");
    dc.order_given[1] = 9;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_ERR_ARGUMENT, "past the layers");
    dc.order_given[1] = 0;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_ERR_ARGUMENT, "listed twice");
    dc.order_given[1] = 8;
    dc.n_order_given = SCALPEL_NET_MAX_LAYERS + 1;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_ERR_ARGUMENT, "count");
    dc.n_order_given = -1;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_ERR_ARGUMENT, "negative count");
    dc.n_order_given = 2;
    dc.layer_rate_max[5] = 1.5f;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_ERR_ARGUMENT, "cap 1.5");
    dc.layer_rate_max[5] = -0.1f;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_ERR_ARGUMENT, "cap -0.1");
    scalpel_trainer_free(&tr);
    scalpel_net_free(&arch);
}

/* dc.tolerance_shares: the k-th of n layers pruned stops within spent + (tolerance - spent) /
 * (n - k + 1) of dense, spent being the drop the layers before it left (read back from
 * res.layer_accuracy); without shares every layer is judged against the whole tolerance (the
 * first layer here goes on to 98% then, past a stage that its share does not allow); values
 * other than 0 and 1 are refused. */
static void test_simd_shares(void)
{
    scalpel_net arch;
    scalpel_trainer tr;
    scalpel_driver_config dc = quiet_config();
    scalpel_prune_result res, whole;
    scalpel_hw_profile hw;
    int32_t o, n = 0, k;
    double spent = 0.0;
    void *snap = NULL;
    size_t snap_n = 0;
    /* the share arithmetic: spent + (tol - spent) / layers, clamped to [0, 1] */
    CHECK(scalpel__drv_share(0.04f, 0.0, 4) == 0.01f, "first of four");
    CHECK(fabs((double)scalpel__drv_share(0.04f, 0.01, 3) - 0.02) < 1e-7, "second: 0.01 + 0.03 / 3");
    CHECK(fabs((double)scalpel__drv_share(0.04f, 0.03, 1) - 0.04) < 1e-7, "last takes what is left");
    CHECK(fabs((double)scalpel__drv_share(0.04f, 0.05, 2) - 0.05) < 1e-7, "spent past tol: no more");
    CHECK(fabs((double)scalpel__drv_share(0.04f, -0.02, 2) - 0.01) < 1e-7, "better than dense: more left");
    CHECK(scalpel__drv_share(0.01f, -0.2, 4) == 0.0f && scalpel__drv_share(1.0f, 0.9, 0) == 0.9f, "clamped");

    make_conv(&arch);
    CHECK(scalpel_hw_profile_get("cortex-m4", &hw) == SCALPEL_OK, "profile");
    dc.layer_order = SCALPEL_ORDER_WEIGHTS;
    dc.rate_start = 0.9f;
    dc.rate_step = 0.04f;
    dc.rate_max = 0.98f;
    dc.max_stages = 3;
    dc.epochs_per_stage = 1;
    dc.epochs_final = 0;
    dc.tolerance = 0.02f;
    dc.tolerance_shares = 2;
    CHECK(scalpel_trainer_init(&arch, 32, &dc.train, &tr) == SCALPEL_OK, "trainer");
    scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE);
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_ERR_ARGUMENT, "shares 2");
    CHECK(scalpel_train_epochs(&tr, &train_ds, &test_ds, 2, "dense", NULL, NULL) == SCALPEL_OK, "dense");
    /* the same trainer twice: whole tolerance, then shares */
    CHECK(scalpel_trainer_checkpoint_to_buffer(&tr, &snap, &snap_n) == SCALPEL_OK, "snapshot");
    dc.tolerance_shares = 0;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &whole) == SCALPEL_OK, "simd whole");
    CHECK(scalpel_trainer_checkpoint_from_buffer(&tr, snap, snap_n) == SCALPEL_OK, "restore");
    free(snap);
    dc.tolerance_shares = 1;
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_OK, "simd shares");
    CHECK(res.dense_accuracy == whole.dense_accuracy, "same start");
    /* every layer of the order was tried (rate_max is above the profile's break-evens) */
    for (o = 0; o < SCALPEL_NET_MAX_LAYERS && res.order[o] >= 0; o++) n++;
    CHECK(n == 4, "four layers: %d", (int)n);
    for (o = 0, k = 0; o < n; o++, k++) {
        int32_t i = res.order[o];
        double drop, share = (double)scalpel__drv_share(dc.tolerance, spent, n - k);
        if (res.skipped[i]) { /* restored: nothing spent, no accuracy recorded */
            CHECK(res.layer_accuracy[i] == 0.0f, "skipped layer %d has no accuracy", (int)i);
            continue;
        }
        drop = (double)res.dense_accuracy - (double)res.layer_accuracy[i];
        CHECK(drop <= share + 1e-6, "layer %d (%d of %d): drop %.4f, share %.4f", (int)i, (int)k + 1, (int)n, drop, share);
        spent = drop;
    }
    /* both runs start from the same trainer and are deterministic: the first layer, judged
     * against its share rather than the whole tolerance, stops at or before the rate it reached
     * with the whole tolerance */
    CHECK(res.layer_rate[res.order[0]] <= whole.layer_rate[whole.order[0]] && res.order[0] == whole.order[0],
          "first layer: %.3f with its share, %.3f with the whole tolerance", (double)res.layer_rate[res.order[0]],
          (double)whole.layer_rate[whole.order[0]]);
    /* whole tolerance: every layer within it */
    for (o = 0; o < n; o++) {
        int32_t i = whole.order[o];
        if (!whole.skipped[i])
            CHECK((double)whole.dense_accuracy - (double)whole.layer_accuracy[i] <= (double)dc.tolerance + 1e-6,
                  "whole: layer %d within tolerance", (int)i);
    }
    printf("  shares: first layer's drop %.4f (share %.4f; %.4f with the whole tolerance), final accuracy %.4f "
           "(%.4f), dense %.4f\n", (double)(res.dense_accuracy - res.layer_accuracy[res.order[0]]),
           (double)scalpel__drv_share(dc.tolerance, 0.0, n),
           (double)(whole.dense_accuracy - whole.layer_accuracy[whole.order[0]]), (double)res.accuracy,
           (double)whole.accuracy, (double)res.dense_accuracy);
    scalpel_trainer_free(&tr);
    scalpel_net_free(&arch);
}

/* dc.remove_dead: three rows of the dense MLP's fc1 are zeroed, so its first grouped stage
 * leaves them dead (RMS 0 goes first). With remove_dead the driver removes them after fc1's
 * stages, before fc2 (pruned second) forms its groups on 21 or fewer columns; the rates are
 * against the dense shapes; without it the shapes stay. */
static void test_simd_remove_dead(void)
{
    scalpel_trainer tr;
    scalpel_driver_config dc = quiet_config();
    scalpel_prune_result res, keep;
    scalpel_hw_profile hw;
    scalpel_net start;
    int32_t i;
    CHECK(scalpel_hw_profile_get("x86-avx512", &hw) == SCALPEL_OK, "profile");
    CHECK(from_dense(&mlp_dense, &dc.train, &tr) == SCALPEL_OK, "trainer");
    for (i = 0; i < 784; i++) tr.layers[0].w[3 * 784 + i] = tr.layers[0].w[10 * 784 + i] = tr.layers[0].w[20 * 784 + i] = 0.0f;
    CHECK(scalpel_trainer_export(&tr, &start) == SCALPEL_OK, "start");
    scalpel_trainer_free(&tr);
    dc.layer_order = SCALPEL_ORDER_GIVEN;
    dc.order_given[0] = 0;
    dc.order_given[1] = 2;
    dc.n_order_given = 2;
    dc.rate_start = 0.6f;
    dc.max_stages = 2;
    dc.tolerance = 0.05f;
    dc.epochs_final = 0;

    dc.remove_dead = 2;
    CHECK(from_dense(&start, &dc.train, &tr) == SCALPEL_OK, "trainer");
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_ERR_ARGUMENT, "remove_dead 2");
    scalpel_trainer_free(&tr);

    dc.remove_dead = 0;
    CHECK(from_dense(&start, &dc.train, &tr) == SCALPEL_OK, "trainer");
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &keep) == SCALPEL_OK, "simd, dead kept");
    CHECK(tr.arch.layers[0].geom.rows == 48 && tr.arch.layers[2].geom.cols == 48 && keep.nodes_after[0] == 48, "shapes kept");
    scalpel_trainer_free(&tr);

    dc.remove_dead = 1;
    CHECK(from_dense(&start, &dc.train, &tr) == SCALPEL_OK, "trainer");
    CHECK(scalpel_prune_simd(&tr, &train_ds, &test_ds, &hw, 0, &dc, &res) == SCALPEL_OK, "simd, dead removed");
    CHECK(!res.skipped[0] && tr.arch.layers[0].geom.rows <= 45 && tr.arch.layers[2].geom.cols == tr.arch.layers[0].geom.rows &&
          tr.arch.layers[0].geom.cols == 784, "fc1 %d rows", (int)tr.arch.layers[0].geom.rows);
    CHECK(res.nodes_before[0] == 48 && res.nodes_after[0] == tr.arch.layers[0].geom.rows && res.nodes_after[4] == 10,
          "nodes %d -> %d", (int)res.nodes_before[0], (int)res.nodes_after[0]);
    CHECK(res.accuracy >= res.dense_accuracy - dc.tolerance, "accuracy %.3f dense %.3f", (double)res.accuracy,
          (double)res.dense_accuracy);
    {
        double kept = 0.0, all = 0.0;
        for (i = 0; i < tr.arch.n_layers; i++) {
            const scalpel_layer *L = &tr.arch.layers[i];
            size_t k, n;
            double here = 0.0, dense = i == 0 ? 784.0 * 48 : i == 2 ? 48.0 * 24 : i == 4 ? 24.0 * 10 : 0.0;
            if (!tr.layers[i].w) continue;
            n = (size_t)L->geom.rows * (size_t)L->geom.cols;
            for (k = 0; k < n; k++) here += tr.layers[i].mask[k] != 0;
            CHECK(whole_groups(tr.layers[i].mask, L->geom.rows, L->geom.cols, hw.group), "layer %d: whole groups", (int)i);
            CHECK(fabs((1.0 - here / dense) - (double)res.layer_rate[i]) < 1e-5, "layer %d rate %.4f vs dense shape",
                  (int)i, (double)res.layer_rate[i]);
            kept += here;
            all += dense;
        }
        CHECK(fabs((1.0 - kept / all) - (double)res.rate) < 1e-5, "overall rate %.4f", (double)res.rate);
    }
    {   /* the trainer's network is what it evaluates */
        scalpel_net now;
        float a;
        CHECK(scalpel_trainer_export(&tr, &now) == SCALPEL_OK, "export");
        a = net_accuracy(&now);
        CHECK(fabs((double)a - (double)res.accuracy) < 1e-6, "export %.4f, driver %.4f", (double)a, (double)res.accuracy);
        scalpel_net_free(&now);
    }
    {   /* the closing fine-tune never ends below where it started (it is undone then); the
         * same run with 3 fine-tuning epochs at a high rate ends at or above the run without */
        scalpel_prune_result ft;
        scalpel_trainer t3;
        scalpel_net now;
        scalpel_driver_config d3 = dc;
        d3.epochs_final = 3;
        d3.train.lr_gamma = 1.0f; /* fine-tune at the full retraining rate: noisy */
        CHECK(from_dense(&start, &d3.train, &t3) == SCALPEL_OK, "trainer");
        CHECK(scalpel_prune_simd(&t3, &train_ds, &test_ds, &hw, 0, &d3, &ft) == SCALPEL_OK, "simd, fine-tuned");
        CHECK(ft.accuracy >= res.accuracy, "fine-tuned %.4f, not %.4f", (double)ft.accuracy, (double)res.accuracy);
        CHECK(scalpel_trainer_export(&t3, &now) == SCALPEL_OK, "export");
        CHECK(fabs((double)net_accuracy(&now) - (double)ft.accuracy) < 1e-6, "fine-tuned export agrees");
        scalpel_net_free(&now);
        scalpel_trainer_free(&t3);
    }
    printf("  remove_dead: fc1 48 -> %d rows, fc2 %.1f%% pruned (%.1f%% with the dead nodes kept), accuracy %.4f "
           "(%.4f)\n", (int)tr.arch.layers[0].geom.rows, 100.0 * res.layer_rate[2], 100.0 * keep.layer_rate[2],
           (double)res.accuracy, (double)keep.accuracy);
    scalpel_trainer_free(&tr);
    scalpel_net_free(&start);
}

/* ---- node pruning ------------------------------------------------------------------------- */

static void test_nodes(void)
{
    scalpel_net arch, small;
    scalpel_trainer tr;
    scalpel_driver_config dc = quiet_config();
    scalpel_prune_result res;
    scalpel_train_config cfg = dc.train;
    float acc = 0.0f;
    make_mlp(&arch);
    cfg.node_masks = SCALPEL_TRAIN_MASK_ALL;
    cfg.dropout[2] = 0.2f;
    CHECK(from_dense(&mlp_dense, &cfg, &tr) == SCALPEL_OK, "trainer");
    dc.epochs_final = 0;
    CHECK(scalpel_prune_nodes(&tr, &train_ds, &test_ds, &dc, &res, &small) == SCALPEL_OK, "nodes");
    CHECK(res.nodes_before[0] == 48 && res.nodes_before[2] == 24 && res.nodes_before[4] == 10, "before");
    CHECK(res.nodes_after[0] < 48 || res.nodes_after[2] < 24, "shrunk: %d %d", (int)res.nodes_after[0],
          (int)res.nodes_after[2]);
    CHECK(res.nodes_after[4] == 10, "outputs kept");
    CHECK(small.layers[0].geom.rows == res.nodes_after[0] && small.layers[2].geom.cols == res.nodes_after[0], "shapes");
    CHECK(res.rate > 0.0f && res.accuracy >= res.dense_accuracy - dc.tolerance, "rate %.3f acc %.3f dense %.3f",
          (double)res.rate, (double)res.accuracy, (double)res.dense_accuracy);
    CHECK(tr.layers[2].dropout <= 0.2f && tr.layers[2].dropout > 0.0f, "dropout scaled %.3f", (double)tr.layers[2].dropout);
    /* the removed network computes what the masked trainer computes */
    {
        float a[10], b[10], maxd = 0.0f;
        void *ws = malloc(scalpel_net_workspace_size(&small, 1));
        int32_t s, k;
        for (s = 0; s < 50; s++) {
            const float *x = test_ds.x + (size_t)s * 784;
            scalpel_trainer_forward(&tr, x, 1, 0, a);
            scalpel_net_forward(&small, x, 1, b, ws);
            for (k = 0; k < 10; k++) if (fabsf(a[k] - b[k]) > maxd) maxd = fabsf(a[k] - b[k]);
        }
        CHECK(maxd < 1e-4f, "removed network matches: %g", (double)maxd);
        CHECK(fabsf(net_accuracy(&small) - res.accuracy) < 0.003f, "accuracy of the removed network");
        free(ws);
    }
    scalpel_net_free(&small);
    scalpel_trainer_free(&tr);
    /* with retraining of the smaller network */
    cfg.dropout[2] = 0.0f;
    CHECK(from_dense(&mlp_dense, &cfg, &tr) == SCALPEL_OK, "trainer");
    dc.epochs_final = 1;
    dc.max_stages = 2;
    CHECK(scalpel_prune_nodes(&tr, &train_ds, &test_ds, &dc, &res, &small) == SCALPEL_OK, "nodes + retrain");
    CHECK(small.layers[0].geom.rows == res.nodes_after[0] && res.nodes_after[0] <= 48, "shape");
    CHECK(fabsf(net_accuracy(&small) - res.accuracy) < 0.003f, "retrained accuracy %.3f %.3f",
          (double)net_accuracy(&small), (double)res.accuracy);
    CHECK(res.accuracy >= res.dense_accuracy - dc.tolerance, "retrained %.3f dense %.3f", (double)res.accuracy,
          (double)res.dense_accuracy);
    scalpel_net_free(&small);
    scalpel_trainer_free(&tr);
    {   /* the retraining after removal never ends below the removed network it started from (it
         * is undone then): the same stages, then 3 epochs at a rate that hurts, end at or above
         * the run without retraining, and the network handed back is the one measured */
        scalpel_prune_result r0, r3;
        scalpel_net s0, s3;
        scalpel_driver_config d3 = dc;
        d3.max_stages = 2;
        d3.epochs_final = 0;
        cfg.lr = 0.05f; /* five times the usual rate, stages and retraining alike, in both runs */
        CHECK(from_dense(&mlp_dense, &cfg, &tr) == SCALPEL_OK, "trainer");
        CHECK(scalpel_prune_nodes(&tr, &train_ds, &test_ds, &d3, &r0, &s0) == SCALPEL_OK, "nodes, no retraining");
        scalpel_trainer_free(&tr);
        d3.epochs_final = 3;
        CHECK(from_dense(&mlp_dense, &cfg, &tr) == SCALPEL_OK, "trainer");
        CHECK(scalpel_prune_nodes(&tr, &train_ds, &test_ds, &d3, &r3, &s3) == SCALPEL_OK, "nodes, hurtful retraining");
        CHECK(s3.layers[0].geom.rows == s0.layers[0].geom.rows && r3.nodes_after[0] == r0.nodes_after[0], "same stages");
        printf("  node retrain guard: %.4f -> %.4f\n", (double)r0.accuracy, (double)r3.accuracy);
        CHECK(r3.accuracy >= r0.accuracy, "retrained %.4f, not %.4f", (double)r3.accuracy, (double)r0.accuracy);
        CHECK(fabsf(net_accuracy(&s3) - r3.accuracy) < 1e-6f, "handed back what was measured: %.4f %.4f",
              (double)net_accuracy(&s3), (double)r3.accuracy);
        cfg.lr = dc.train.lr;
        scalpel_net_free(&s0);
        scalpel_net_free(&s3);
        scalpel_trainer_free(&tr);
    }
    /* a trainer without node masks is refused */
    CHECK(trained(&arch, &dc.train, 0, &tr, &acc) == SCALPEL_OK, "init");
    CHECK(scalpel_prune_nodes(&tr, &train_ds, &test_ds, &dc, &res, &small) == SCALPEL_ERR_ARGUMENT, "no masks");
    scalpel_trainer_free(&tr);
    scalpel_net_free(&arch);
}

/* ---- the pipeline per hardware class ------------------------------------------------------ */

static void check_deployed(const scalpel_net *out, const scalpel_net *dense, const scalpel_prune_result *res,
                           const char *what)
{
    CHECK(scalpel_net_validate(out) == SCALPEL_OK, "%s: valid", what);
    CHECK(fabsf(net_accuracy(out) - res->accuracy) < 0.005f, "%s: packed accuracy %.3f vs %.3f", what,
          (double)net_accuracy(out), (double)res->accuracy);
    CHECK(res->accuracy >= res->dense_accuracy - 0.02f, "%s: accuracy %.3f dense %.3f", what, (double)res->accuracy,
          (double)res->dense_accuracy);
    CHECK(scalpel_net_weight_bytes(out) < scalpel_net_weight_bytes(dense), "%s: smaller %lu < %lu", what,
          (unsigned long)scalpel_net_weight_bytes(out), (unsigned long)scalpel_net_weight_bytes(dense));
}

/* The most epochs a call of scalpel_train_epochs ran, per stage name ("nodes", "simd"). */
typedef struct stage_epochs { int32_t nodes, simd; } stage_epochs;
static void log_stage_epochs(void *user, const scalpel_progress *p)
{
    stage_epochs *se = (stage_epochs *)user;
    if (strcmp(p->stage, "nodes") == 0 && p->epochs > se->nodes) se->nodes = p->epochs;
    if (strcmp(p->stage, "simd") == 0 && p->epochs > se->simd) se->simd = p->epochs;
}

static void test_prune_for(void)
{
    scalpel_net arch, dense, out;
    scalpel_trainer tr;
    scalpel_driver_config dc = quiet_config();
    scalpel_prune_result res;
    scalpel_hw_profile low, mod, high;
    float acc = 0.0f;
    int32_t i, grouped = 0;
    scalpel_hw_profile_get("x86-avx512", &low);
    low.hw_class = SCALPEL_HW_LOW;
    scalpel_hw_profile_get("x86-avx512", &mod);
    mod.breakeven_mm_grouped = 0.3f;   /* let the small fc layers go grouped at batch 1 too */
    scalpel_hw_profile_get("cuda", &high);
    dc.max_stages = 2;

    /* LOW on the MLP: grouped pruning everywhere */
    make_mlp(&arch);
    dense = mlp_dense;   /* borrowed: not freed here */
    CHECK(scalpel_prune_for(&dense, &low, &train_ds, &test_ds, &dc, &res, &out) == SCALPEL_OK, "LOW");
    for (i = 0; i < out.n_layers; i++) if (out.layers[i].storage != SCALPEL_STORAGE_DENSE) grouped++;
    CHECK(grouped >= 1 && out.layers[0].storage != SCALPEL_STORAGE_DENSE && out.layers[0].sparse.group == 16,
          "LOW: grouped storage");
    CHECK(res.layer_rate[0] >= 0.49f, "LOW rate %.3f", (double)res.layer_rate[0]);
    check_deployed(&out, &dense, &res, "LOW");
    scalpel_net_free(&out);

    /* HIGH on the MLP: node pruning everywhere, dense storage */
    CHECK(scalpel_prune_for(&dense, &high, &train_ds, &test_ds, &dc, &res, &out) == SCALPEL_OK, "HIGH");
    CHECK(out.layers[0].storage == SCALPEL_STORAGE_DENSE && out.layers[0].geom.rows == res.nodes_after[0] &&
          res.nodes_after[0] < 48, "HIGH: nodes removed %d", (int)res.nodes_after[0]);
    check_deployed(&out, &dense, &res, "HIGH");
    scalpel_net_free(&out);
    scalpel_net_free(&arch);

    /* MODERATE on the conv net: node-pruned conv (frozen), grouped fc */
    make_conv(&arch);
    CHECK(trained(&arch, &dc.train, 3, &tr, &acc) == SCALPEL_OK, "train conv");
    CHECK(acc > 0.7f, "conv accuracy %.3f", (double)acc);
    CHECK(scalpel_trainer_export(&tr, &dense) == SCALPEL_OK, "export");
    scalpel_trainer_free(&tr);
    CHECK(scalpel_prune_for(&dense, &mod, &train_ds, &test_ds, &dc, &res, &out) == SCALPEL_OK, "MODERATE");
    CHECK(out.layers[0].storage == SCALPEL_STORAGE_DENSE && out.layers[3].storage == SCALPEL_STORAGE_DENSE,
          "MODERATE: conv dense");
    CHECK(res.nodes_after[0] <= 4 && res.nodes_after[3] <= 8 && res.nodes_before[3] == 8, "conv nodes %d %d",
          (int)res.nodes_after[0], (int)res.nodes_after[3]);
    CHECK(res.skipped[0] && res.skipped[3], "conv not weight-pruned");
    CHECK(out.layers[6].storage != SCALPEL_STORAGE_DENSE || res.skipped[6], "fc grouped or skipped");
    CHECK(res.layer_rate[6] > 0.0f, "MODERATE fc rate %.3f", (double)res.layer_rate[6]);
    check_deployed(&out, &dense, &res, "MODERATE");
    scalpel_net_free(&out);
    {
        /* fc_epochs_per_stage: the fc phase's stages retrain that long, the node stages do not */
        scalpel_driver_config d2 = dc;
        stage_epochs se = { 0, 0 };
        d2.progress = log_stage_epochs;
        d2.progress_user = &se;
        d2.epochs_per_stage = 1;
        d2.fc_epochs_per_stage = 3;
        CHECK(scalpel_prune_for(&dense, &mod, &train_ds, &test_ds, &d2, &res, &out) == SCALPEL_OK, "MODERATE fc epochs");
        CHECK(se.nodes == 1 && se.simd == 3, "node stages 1 epoch (%d), fc stages 3 (%d)", (int)se.nodes, (int)se.simd);
        scalpel_net_free(&out);
        d2.fc_epochs_per_stage = -1;
        CHECK(scalpel_prune_for(&dense, &mod, &train_ds, &test_ds, &d2, &res, &out) == SCALPEL_ERR_ARGUMENT,
              "fc_epochs_per_stage < 0 refused");
    }
    CHECK(scalpel_prune_for(&dense, NULL, &train_ds, &test_ds, &dc, &res, &out) == SCALPEL_ERR_NULL, "null hw");
    scalpel_net_free(&dense);
    scalpel_net_free(&arch);
}

/* ---- checkpoints -------------------------------------------------------------------------- */

static int same_state(const scalpel_trainer *a, const scalpel_trainer *b)
{
    int32_t i;
    if (a->steps != b->steps || a->rng != b->rng || a->epoch != b->epoch || a->stage != b->stage) return 0;
    if (memcmp(&a->config, &b->config, sizeof(a->config)) != 0) return 0;
    for (i = 0; i < a->arch.n_layers; i++) {
        const scalpel_layer *L = &a->arch.layers[i];
        size_t wn = (size_t)L->geom.rows * (size_t)L->geom.cols, rn = (size_t)L->geom.rows * sizeof(float);
        if (!a->layers[i].w) continue;
        if (memcmp(a->layers[i].w, b->layers[i].w, wn * sizeof(float)) != 0) return 0;
        if (memcmp(a->layers[i].mom_w, b->layers[i].mom_w, wn * sizeof(float)) != 0) return 0;
        if (memcmp(a->layers[i].b, b->layers[i].b, rn) != 0) return 0;
        if (memcmp(a->layers[i].mom_b, b->layers[i].mom_b, rn) != 0) return 0;
        if (memcmp(a->layers[i].mask, b->layers[i].mask, wn) != 0) return 0;
        if (a->layers[i].dropout != b->layers[i].dropout) return 0;
        if (a->layers[i].node_a && (memcmp(a->layers[i].node_a, b->layers[i].node_a, rn) != 0 ||
                                    memcmp(a->layers[i].node_b, b->layers[i].node_b, rn) != 0))
            return 0;
    }
    return 1;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

/* Re-signs a modified checkpoint so that the check after the CRC is what refuses it. */
static void resign(unsigned char *p, size_t n)
{
    put32(p + n - 4, scalpel_crc32(0, p, n - 4));
}

static void test_checkpoint(void)
{
    scalpel_net arch, other;
    scalpel_trainer a, b, c;
    scalpel_train_config cfg;
    char path[512];
    unsigned char *buf, *copy;
    void *vbuf = NULL, *before = NULL;
    size_t n = 0, n_before = 0;
    float acc = 0.0f;
    int32_t k;
    scalpel_train_config_default(&cfg);
    cfg.lr = 0.05f;
    cfg.node_masks = SCALPEL_TRAIN_MASK_FC;
    cfg.mask_lambda = 0.01f;
    cfg.dropout[2] = 0.3f;   /* dropout draws from the RNG: the RNG state must travel */
    make_mlp(&arch);
    path_in_dir(path, sizeof(path), "test_drivers.ckpt");

    /* uninterrupted: 2 epochs */
    CHECK(trained(&arch, &cfg, 2, &a, &acc) == SCALPEL_OK, "run a");
    /* interrupted after 1 epoch, saved, a new trainer loads it and runs the second */
    {
        scalpel_driver_config dcp;
        scalpel_driver_config_default(&dcp);
        dcp.checkpoint_path = path;   /* saved after every epoch */
        CHECK(scalpel_trainer_init(&arch, 32, &cfg, &b) == SCALPEL_OK, "init b");
        scalpel_trainer_init_weights(&b, SCALPEL_INIT_HE);
        CHECK(scalpel_train_epochs(&b, &train_ds, &test_ds, 1, "b", &dcp, &acc) == SCALPEL_OK, "run b");
    }
    scalpel_trainer_free(&b);
    CHECK(scalpel_trainer_init(&arch, 32, &cfg, &c) == SCALPEL_OK, "init c");
    CHECK(scalpel_trainer_load_checkpoint(&c, path) == SCALPEL_OK, "load");
    CHECK(c.epoch == 1 && c.stage == 0 && c.steps > 0, "counters");
    /* the stage counter travels too */
    c.stage = 3;
    CHECK(scalpel_trainer_save_checkpoint(&c, path) == SCALPEL_OK, "save %s", path);
    c.stage = 0;
    CHECK(scalpel_trainer_load_checkpoint(&c, path) == SCALPEL_OK && c.stage == 3, "stage counter");
    c.stage = 0;
    CHECK(scalpel_train_epochs(&c, &train_ds, &test_ds, 1, "resume", NULL, &acc) == SCALPEL_OK, "resume");
    CHECK(same_state(&a, &c), "resumed run is bit-identical");
    /* and a changed seed is not (the comparison can fail) */
    c.rng ^= 1;
    CHECK(!same_state(&a, &c), "sanity");
    scalpel_trainer_free(&c);

    /* corrupt checkpoints, refused with their codes; the trainer is left as it was */
    CHECK(scalpel_trainer_checkpoint_to_buffer(&a, &vbuf, &n) == SCALPEL_OK && n > 64, "to buffer");
    buf = (unsigned char *)vbuf;
    copy = (unsigned char *)malloc(n);
    CHECK(scalpel_trainer_checkpoint_from_buffer(&a, buf, n) == SCALPEL_OK, "round trip");
    CHECK(scalpel_trainer_checkpoint_to_buffer(&a, &before, &n_before) == SCALPEL_OK && n_before == n &&
          memcmp(before, buf, n) == 0, "round trip is exact");
    memcpy(copy, buf, n); copy[0] = 'X';
    CHECK(scalpel_trainer_checkpoint_from_buffer(&a, copy, n) == SCALPEL_ERR_MAGIC, "magic");
    memcpy(copy, buf, n); put32(copy + 4, 2); resign(copy, n);
    CHECK(scalpel_trainer_checkpoint_from_buffer(&a, copy, n) == SCALPEL_ERR_VERSION, "version");
    CHECK(scalpel_trainer_checkpoint_from_buffer(&a, buf, n - 1) == SCALPEL_ERR_TRUNCATED, "truncated");
    CHECK(scalpel_trainer_checkpoint_from_buffer(&a, buf, 3) == SCALPEL_ERR_TRUNCATED, "tiny");
    memcpy(copy, buf, n); copy[n / 2] ^= 0x10;
    CHECK(scalpel_trainer_checkpoint_from_buffer(&a, copy, n) == SCALPEL_ERR_CHECKSUM, "checksum");
    for (k = 0; k < 200; k++) {   /* every single-bit flip in the body is caught */
        size_t pos = 16 + (size_t)test_rand() % (n - 20);
        memcpy(copy, buf, n); copy[pos] ^= (unsigned char)(1u << (test_rand() % 8));
        if (scalpel_trainer_checkpoint_from_buffer(&a, copy, n) != SCALPEL_ERR_CHECKSUM) break;
    }
    CHECK(k == 200, "bit flips");
    /* weights of layer 0 start after header (24) + config (52) + counters (28) + layer header (24) */
    memcpy(copy, buf, n); put32(copy + 24 + 52 + 28 + 24, 0x7fc00000u); resign(copy, n);
    CHECK(scalpel_trainer_checkpoint_from_buffer(&a, copy, n) == SCALPEL_ERR_CORRUPT, "NaN weight");
    {
        size_t mask0 = 24 + 52 + 28 + 24 + 4 * (2 * (size_t)784 * 48 + 2 * 48);
        memcpy(copy, buf, n); copy[mask0 + 5] = 2; resign(copy, n);
        CHECK(scalpel_trainer_checkpoint_from_buffer(&a, copy, n) == SCALPEL_ERR_CORRUPT, "mask byte 2");
        memcpy(copy, buf, n); put32(copy + mask0 + (size_t)784 * 48, 0x3f000000u); resign(copy, n); /* node a = 0.5 */
        CHECK(scalpel_trainer_checkpoint_from_buffer(&a, copy, n) == SCALPEL_ERR_CORRUPT, "node a 0.5");
    }
    memcpy(copy, buf, n); put32(copy + 24, 0xbf800000u); resign(copy, n);   /* lr = -1 */
    CHECK(scalpel_trainer_checkpoint_from_buffer(&a, copy, n) == SCALPEL_ERR_CORRUPT, "bad config");
    memcpy(copy, buf, n); put32(copy + 8, (uint32_t)n + 4); resign(copy, n);
    CHECK(scalpel_trainer_checkpoint_from_buffer(&a, copy, n) == SCALPEL_ERR_TRUNCATED, "size field");
    {
        unsigned char *longer = (unsigned char *)malloc(n + 4);
        memcpy(longer, buf, n);
        memset(longer + n, 0, 4);
        CHECK(scalpel_trainer_checkpoint_from_buffer(&a, longer, n + 4) == SCALPEL_ERR_CORRUPT, "trailing bytes");
        free(longer);
    }
    memcpy(copy, buf, n); put32(copy + 24 + 52 + 28 + 8, 785); resign(copy, n);
    CHECK(scalpel_trainer_checkpoint_from_buffer(&a, copy, n) == SCALPEL_ERR_SHAPE, "layer shape");
    {
        void *after = NULL;
        size_t n_after = 0;
        CHECK(scalpel_trainer_checkpoint_to_buffer(&a, &after, &n_after) == SCALPEL_OK && n_after == n &&
              memcmp(after, before, n) == 0, "unchanged after refused loads");
        free(after);
    }
    /* another architecture, other node masks */
    make_conv(&other);
    cfg.dropout[2] = 0.0f;
    CHECK(scalpel_trainer_init(&other, 8, &cfg, &c) == SCALPEL_OK, "other");
    CHECK(scalpel_trainer_checkpoint_from_buffer(&c, buf, n) == SCALPEL_ERR_SHAPE, "other arch");
    scalpel_trainer_free(&c);
    cfg.node_masks = SCALPEL_TRAIN_MASK_NONE;
    CHECK(scalpel_trainer_init(&arch, 8, &cfg, &c) == SCALPEL_OK, "no masks");
    CHECK(scalpel_trainer_checkpoint_from_buffer(&c, buf, n) == SCALPEL_ERR_SHAPE, "node masks differ");
    scalpel_trainer_free(&c);
    /* files: a corrupt file on disk, a missing one */
    {
        FILE *f = fopen(path, "wb");
        memcpy(copy, buf, n); copy[n - 9] ^= 1;
        if (f) { fwrite(copy, 1, n, f); fclose(f); }
        CHECK(scalpel_trainer_load_checkpoint(&a, path) == SCALPEL_ERR_CHECKSUM, "corrupt file");
        remove(path);
        CHECK(scalpel_trainer_load_checkpoint(&a, path) == SCALPEL_ERR_NOT_FOUND, "missing file");
        CHECK(scalpel_trainer_save_checkpoint(&a, "/nonexistent-dir/x.ckpt") == SCALPEL_ERR_NOT_FOUND, "unwritable");
        CHECK(scalpel_trainer_load_checkpoint(NULL, path) == SCALPEL_ERR_NULL, "null");
    }
    free(copy);
    free(vbuf);
    free(before);
    scalpel_trainer_free(&a);
    scalpel_net_free(&other);
    scalpel_net_free(&arch);
}

int main(int argc, char **argv)
{
    if (argc > 1) dir = argv[1];
    if (scalpel_dataset_synthetic(8000, 7, &train_ds) != SCALPEL_OK ||
        scalpel_dataset_synthetic(1000, 8, &test_ds) != SCALPEL_OK) {
        printf("synthetic dataset failed\n");
        return 1;
    }
    test_epochs();
    test_checkpoint();
    test_traditional();
    test_ladder();
    test_frozen_front();
    test_simd();
    test_simd_order();
    test_simd_shares();
    test_simd_remove_dead();
    test_nodes();
    test_prune_for();
    scalpel_net_free(&mlp_dense);
    scalpel_dataset_free(&train_ds);
    scalpel_dataset_free(&test_ds);
    return test_summary("test_drivers");
}
