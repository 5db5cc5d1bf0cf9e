/* prune_parity.c - the C library's group scores and rate masks for tests/test_torch_prune.py.
 *
 *   prune_parity IN OUT
 * IN: a sequence of cases, each: int32 rows, cols, group, importance; float32 rate; then
 * rows*cols float32 weights (little-endian). OUT: per case, int32 status, float32 cut, then
 * rows*ceil(cols/group) float32 scores (scalpel_prune_group_scores) and rows*cols uint8 mask
 * (scalpel_prune_groups_rate). Exit 0 when every case was read and written. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    FILE *in, *out;
    int32_t hdr[4];
    float rate;
    int rc = 0;
    if (argc != 3) {
        fprintf(stderr, "usage: prune_parity IN OUT\n");
        return 2;
    }
    in = fopen(argv[1], "rb");
    out = fopen(argv[2], "wb");
    if (!in || !out) {
        fprintf(stderr, "prune_parity: cannot open the files\n");
        return 1;
    }
    while (fread(hdr, sizeof(int32_t), 4, in) == 4 && fread(&rate, sizeof(float), 1, in) == 1) {
        int32_t rows = hdr[0], cols = hdr[1], group = hdr[2], imp = hdr[3], st;
        size_t n, ng;
        float *w, *scores, cut = 0.0f;
        uint8_t *mask;
        if (rows < 1 || cols < 1 || rows > 4096 || cols > 4096 || group < 1 || group > 16) {
            rc = 1;
            break;
        }
        n = (size_t)rows * (size_t)cols;
        ng = (size_t)rows * (size_t)((cols + group - 1) / group);
        w = (float *)malloc(n * sizeof(float));
        scores = (float *)malloc(ng * sizeof(float));
        mask = (uint8_t *)malloc(n);
        if (!w || !scores || !mask || fread(w, sizeof(float), n, in) != n) {
            free(w), free(scores), free(mask);
            rc = 1;
            break;
        }
        st = (int32_t)scalpel_prune_group_scores(w, rows, cols, group, (scalpel_importance)imp, scores);
        if (st == SCALPEL_OK)
            st = (int32_t)scalpel_prune_groups_rate(w, rows, cols, group, (scalpel_importance)imp, rate, mask, &cut);
        fwrite(&st, sizeof(st), 1, out);
        fwrite(&cut, sizeof(cut), 1, out);
        fwrite(scores, sizeof(float), ng, out);
        fwrite(mask, 1, n, out);
        free(w), free(scores), free(mask);
    }
    if (fclose(out) != 0) rc = 1;
    fclose(in);
    return rc;
}
