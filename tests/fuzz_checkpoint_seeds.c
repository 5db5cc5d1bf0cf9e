/* fuzz_checkpoint_seeds.c - writes a seed corpus for fuzz_checkpoint: checkpoints of its
 * trainer (the architecture comes from fuzz_checkpoint.c), real ones and the hostile-input
 * campaign's, each with the CRC the writer computes:
 *   real              after three steps, a node switched off, weights pruned, a step schedule
 *   steps-2pow60      lr_step 1, gamma 0.9, steps = 2^60 (once loaded, then hung every step)
 *   steps-2pow53-1    the largest step count the reader takes, gamma 0.9 (the rate is 0)
 *   gamma1-2pow53-1   the same with gamma 1 (the rate never drops)
 *   lr-1e30           a learning rate past the bound (refused)
 *   lr-max-huge       lr 1000 and weights of 1e30: the step's logits are inf and NaN
 *   epoch-2pow31      an epoch counter past INT32_MAX (refused)
 * usage: fuzz_checkpoint_seeds DIR */
#define FUZZ_CHECKPOINT_NO_FUZZER
#include "fuzz_checkpoint.c"

#include <stdio.h>

static int write_seed(const char *dir, const char *name, const scalpel_trainer *tr)
{
    char path[512];
    void *buf = NULL;
    size_t n = 0;
    FILE *f;
    int ok;
    if (scalpel_trainer_checkpoint_to_buffer(tr, &buf, &n) != SCALPEL_OK) return 0;
    snprintf(path, sizeof(path), "%s/ck-%s", dir, name);
    f = fopen(path, "wb");
    ok = f != NULL && fwrite(buf, 1, n, f) == n;
    if (f != NULL && fclose(f) != 0) ok = 0;
    if (!ok) perror(path);
    free(buf);
    return ok;
}

int main(int argc, char **argv)
{
    scalpel_net net;
    scalpel_trainer tr;
    float x[FUZZ_CK_BATCH * FUZZ_CK_IN];
    int32_t y[FUZZ_CK_BATCH], i, count = 0;
    void *real = NULL;
    size_t real_n = 0, k;
    if (argc != 2) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
    if (fuzz_ck_trainer(&net, &tr) != SCALPEL_OK) return 1;
    fuzz_ck_batch(x, y);
    tr.config.lr_step = 2;
    tr.config.lr_gamma = 0.5f;
    for (i = 0; i < 3; i++)
        if (scalpel_trainer_step(&tr, x, y, FUZZ_CK_BATCH, NULL) != SCALPEL_OK) return 1;
    tr.layers[3].node_a[1] = 0.0f;
    tr.layers[5].mask[2] = 0;
    tr.layers[5].mask[7] = 0;
    scalpel_trainer_apply_masks(&tr);
    count += write_seed(argv[1], "real", &tr);
    if (scalpel_trainer_checkpoint_to_buffer(&tr, &real, &real_n) != SCALPEL_OK) return 1;

    tr.config.lr_step = 1;
    tr.config.lr_gamma = 0.9f;
    tr.steps = (int64_t)1 << 60;
    count += write_seed(argv[1], "steps-2pow60", &tr);
    tr.steps = SCALPEL_CHECKPOINT_MAX_STEPS - 1;
    count += write_seed(argv[1], "steps-2pow53-1", &tr);
    tr.config.lr_gamma = 1.0f;
    count += write_seed(argv[1], "gamma1-2pow53-1", &tr);

    if (scalpel_trainer_checkpoint_from_buffer(&tr, real, real_n) != SCALPEL_OK) return 1;
    tr.config.lr = 1e30f;
    count += write_seed(argv[1], "lr-1e30", &tr);
    tr.config.lr = SCALPEL_TRAIN_LR_MAX;
    for (k = 0; k < (size_t)5 * 8; k++) tr.layers[3].w[k] = (k % 2) ? 1e30f : -1e30f;
    for (k = 0; k < (size_t)3 * 5; k++) tr.layers[5].w[k] = tr.layers[5].mask[k] ? 1e30f : 0.0f;
    count += write_seed(argv[1], "lr-max-huge", &tr);

    if (scalpel_trainer_checkpoint_from_buffer(&tr, real, real_n) != SCALPEL_OK) return 1;
    tr.epoch = (int64_t)1 << 31;
    count += write_seed(argv[1], "epoch-2pow31", &tr);

    free(real);
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
    printf("fuzz_checkpoint_seeds: wrote %d seeds to %s\n", (int)count, argv[1]);
    return count == 7 ? 0 : 1;
}
