/* mask_parity.c - the C trainer's node-mask layers, step by step, for tests/test_torch_prune.py.
 *
 *   mask_parity IN OUT
 * The network: input 1 x 14 x 14, conv2d 4 (3x3), relu, maxpool 2, conv2d 6 (3x3), relu,
 * maxpool 2, fc 10, relu, fc 3, trained with node masks on every hidden weighted layer
 * (SCALPEL_TRAIN_MASK_ALL: conv 0, conv 3, fc 6), one thread.
 * IN (little-endian): int32 steps, batch; float32 lr, momentum, weight_decay, mask_lambda; the
 * weights and biases of the 4 weighted layers in order (W [rows x cols] row-major, then b); a
 * then b of the 20 nodes (4 + 6 + 10); then per step batch x 196 inputs (float32) and batch
 * labels (int32).
 * OUT: per step, float32 loss, then a, b and grad_b of the 20 nodes, then every weight and bias
 * as in IN. Exit 0 when every step ran. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel_train.h"

#include <stdio.h>
#include <stdlib.h>

static const int32_t weighted[4] = { 0, 3, 6, 8 };
static const int32_t masked[3] = { 0, 3, 6 };

static int io(void *p, size_t size, size_t n, FILE *f, int write)
{
    return (write ? fwrite(p, size, n, f) : fread(p, size, n, f)) == n;
}

static int weights(scalpel_trainer *tr, FILE *f, int write)
{
    int k;
    for (k = 0; k < 4; k++) {
        const scalpel_layer *L = &tr->arch.layers[weighted[k]];
        scalpel_train_layer *T = &tr->layers[weighted[k]];
        if (!io(T->w, sizeof(float), (size_t)L->geom.rows * (size_t)L->geom.cols, f, write) ||
            !io(T->b, sizeof(float), (size_t)L->geom.rows, f, write)) return 0;
    }
    return 1;
}

static int nodes(scalpel_trainer *tr, FILE *f, int write, int with_grad)
{
    int k;
    float *arrays[3];
    int j;
    for (j = 0; j < (with_grad ? 3 : 2); j++)
        for (k = 0; k < 3; k++) {
            scalpel_train_layer *T = &tr->layers[masked[k]];
            arrays[0] = T->node_a, arrays[1] = T->node_b, arrays[2] = T->node_grad_b;
            if (!T->node_a || !io(arrays[j], sizeof(float), (size_t)tr->arch.layers[masked[k]].geom.rows, f, write))
                return 0;
        }
    return 1;
}

int main(int argc, char **argv)
{
    FILE *in, *out;
    int32_t hdr[2], steps, batch, s;
    float hp[4], *x = NULL;
    int32_t *y = NULL;
    scalpel_net net;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    int rc = 1;
    if (argc != 3) {
        fprintf(stderr, "usage: mask_parity IN OUT\n");
        return 2;
    }
    in = fopen(argv[1], "rb");
    out = fopen(argv[2], "wb");
    if (!in || !out || !io(hdr, sizeof(int32_t), 2, in, 0) || !io(hp, sizeof(float), 4, in, 0)) {
        fprintf(stderr, "mask_parity: cannot read the header\n");
        return 1;
    }
    steps = hdr[0], batch = hdr[1];
    if (steps < 1 || steps > 1000 || batch < 1 || batch > 1024) return 1;
    if (scalpel_net_init(1, 14, 14, &net) != SCALPEL_OK || scalpel_net_add_conv2d(&net, 4, 3, 1, 0, NULL, NULL) ||
        scalpel_net_add_relu(&net) || scalpel_net_add_maxpool(&net, 2, 2) ||
        scalpel_net_add_conv2d(&net, 6, 3, 1, 0, NULL, NULL) || scalpel_net_add_relu(&net) ||
        scalpel_net_add_maxpool(&net, 2, 2) || scalpel_net_add_fc(&net, 10, NULL, NULL) || scalpel_net_add_relu(&net) ||
        scalpel_net_add_fc(&net, 3, NULL, NULL)) {
        fprintf(stderr, "mask_parity: cannot build the network\n");
        return 1;
    }
    scalpel_train_config_default(&cfg);
    cfg.lr = hp[0], cfg.momentum = hp[1], cfg.weight_decay = hp[2], cfg.mask_lambda = hp[3];
    cfg.node_masks = SCALPEL_TRAIN_MASK_ALL;
    if (scalpel_trainer_init(&net, batch, &cfg, &tr) != SCALPEL_OK) {
        fprintf(stderr, "mask_parity: trainer init failed\n");
        return 1;
    }
    x = (float *)malloc((size_t)batch * 196 * sizeof(float));
    y = (int32_t *)malloc((size_t)batch * sizeof(int32_t));
    if (x && y && weights(&tr, in, 0) && nodes(&tr, in, 0, 0)) {
        rc = 0;
        for (s = 0; s < steps && rc == 0; s++) {
            float loss = 0.0f;
            scalpel_status st;
            if (!io(x, sizeof(float), (size_t)batch * 196, in, 0) || !io(y, sizeof(int32_t), (size_t)batch, in, 0)) {
                rc = 1;
                break;
            }
            st = scalpel_trainer_step(&tr, x, y, batch, &loss);
            if (st != SCALPEL_OK) {
                fprintf(stderr, "mask_parity: step %d: %s\n", (int)s, scalpel_status_string(st));
                rc = 1;
                break;
            }
            if (!io(&loss, sizeof(float), 1, out, 1) || !nodes(&tr, out, 1, 1) || !weights(&tr, out, 1)) rc = 1;
        }
    } else {
        fprintf(stderr, "mask_parity: cannot read the weights and masks\n");
    }
    free(x), free(y);
    scalpel_trainer_free(&tr);
    scalpel_net_free(&net);
    fclose(in);
    if (fclose(out) != 0) rc = 1;
    return rc;
}
