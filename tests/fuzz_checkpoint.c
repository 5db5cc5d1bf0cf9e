/* fuzz_checkpoint.c - libFuzzer harness for the checkpoint reader and the training step after it.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. tests/fuzz_checkpoint.c -o fuzz_checkpoint
 *   ./fuzz_checkpoint -max_total_time=20 -timeout=5 corpus/   (seeds: tests/fuzz_checkpoint_seeds.c)
 *
 * One small trainer is built once (conv 1 -> 2 maps with node masks, relu, maxpool, fc 8 -> 5
 * with node masks, relu, fc 5 -> 3 with dropout on its input: every part of the format) and put
 * back to the same state before every input. Inputs whose first byte is odd (the seeds start
 * with 'S') get magic, version, size field and CRC-32 fixed up, so that mutations reach the
 * checks behind the checksum, as a forger with the format would; the others are read as they
 * are. Whatever the bytes:
 *   - a refused checkpoint leaves the trainer exactly as it was;
 *   - an accepted one writes back to the same bytes (the format has one encoding), gives a
 *     learning rate in [0, lr], and one SGD step on a fixed batch of three samples succeeds
 *     and counts, whatever the weights and the schedule say (a step count of 2^60 once made
 *     the rate loop 2^60 times: run with -timeout so that such a hang is a failure);
 *   - no sanitizer report (clang's undefined includes float-cast-overflow: diverged logits
 *     reach the softmax's exponential as NaN).
 * Any violation aborts. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel_train.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_CK_BATCH 3
#define FUZZ_CK_IN 16   /* 1 x 4 x 4 */

/* The architecture of the harness and of its seeds: fc layer 5 takes dropout 0.25. */
static scalpel_status fuzz_ck_trainer(scalpel_net *net, scalpel_trainer *tr)
{
    scalpel_train_config cfg;
    scalpel_status st;
    scalpel_net_init(1, 4, 4, net);
    st = scalpel_net_add_conv2d(net, 2, 3, 1, 1, NULL, NULL);
    if (st == SCALPEL_OK) st = scalpel_net_add_relu(net);
    if (st == SCALPEL_OK) st = scalpel_net_add_maxpool(net, 2, 2);
    if (st == SCALPEL_OK) st = scalpel_net_add_fc(net, 5, NULL, NULL);
    if (st == SCALPEL_OK) st = scalpel_net_add_relu(net);
    if (st == SCALPEL_OK) st = scalpel_net_add_fc(net, 3, NULL, NULL);
    if (st != SCALPEL_OK) return st;
    scalpel_train_config_default(&cfg);
    cfg.node_masks = SCALPEL_TRAIN_MASK_ALL;
    cfg.dropout[5] = 0.25f;
    cfg.lr = 0.05f;
    st = scalpel_trainer_init(net, FUZZ_CK_BATCH, &cfg, tr);
    if (st == SCALPEL_OK) st = scalpel_trainer_init_weights(tr, SCALPEL_INIT_HE);
    return st;
}

/* The fixed batch: pixels in [0, 1], labels 0, 1, 2. */
static void fuzz_ck_batch(float *x, int32_t *y)
{
    int32_t i;
    for (i = 0; i < FUZZ_CK_BATCH * FUZZ_CK_IN; i++) x[i] = (float)((i * 7) % 11) / 10.0f;
    for (i = 0; i < FUZZ_CK_BATCH; i++) y[i] = i % 3;
}

#ifndef FUZZ_CHECKPOINT_NO_FUZZER

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int cond)
{
    if (!cond) abort();
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static scalpel_net net;
    static scalpel_trainer tr;
    static void *pristine;
    static size_t pristine_n;
    static float x[FUZZ_CK_BATCH * FUZZ_CK_IN];
    static int32_t y[FUZZ_CK_BATCH];
    unsigned char *copy;
    void *again = NULL;
    size_t again_n = 0;
    scalpel_status st;
    if (pristine == NULL) {
        must(fuzz_ck_trainer(&net, &tr) == SCALPEL_OK);
        must(scalpel_trainer_checkpoint_to_buffer(&tr, &pristine, &pristine_n) == SCALPEL_OK);
        fuzz_ck_batch(x, y);
    }
    must(scalpel_trainer_checkpoint_from_buffer(&tr, pristine, pristine_n) == SCALPEL_OK);
    /* an exact-size copy, so that ASan sees a read past the end */
    copy = (unsigned char *)malloc(size ? size : 1);
    must(copy != NULL);
    if (size) memcpy(copy, data, size);
    if (size >= 32 && (copy[0] & 1u)) {
        memcpy(copy, SCALPEL_CHECKPOINT_MAGIC, 4);
        put32(copy + 4, SCALPEL_CHECKPOINT_VERSION);
        put32(copy + 8, (uint32_t)size);
        put32(copy + 12, (uint32_t)((uint64_t)size >> 32));
        put32(copy + size - 4, scalpel_crc32(0, copy, size - 4));
    }
    st = scalpel_trainer_checkpoint_from_buffer(&tr, copy, size);
    must(scalpel_trainer_checkpoint_to_buffer(&tr, &again, &again_n) == SCALPEL_OK);
    if (st != SCALPEL_OK) {
        must(again_n == pristine_n && memcmp(again, pristine, pristine_n) == 0);
    } else {
        int64_t steps = tr.steps;
        float lr = scalpel_trainer_lr(&tr), loss = 0.0f, acc = -1.0f;
        must(again_n == size && memcmp(again, copy, size) == 0);
        must(lr >= 0.0f && lr <= tr.config.lr);
        must(scalpel_trainer_step(&tr, x, y, FUZZ_CK_BATCH, &loss) == SCALPEL_OK && tr.steps == steps + 1);
        must(scalpel_trainer_evaluate(&tr, x, y, FUZZ_CK_BATCH, &acc) == SCALPEL_OK && acc >= 0.0f && acc <= 1.0f);
    }
    free(again);
    free(copy);
    return 0;
}

#endif /* FUZZ_CHECKPOINT_NO_FUZZER */
