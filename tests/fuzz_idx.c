/* fuzz_idx.c - libFuzzer harness for the IDX reader (scalpel_dataset_from_idx), plain and gzip.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -DSCALPEL_ZLIB \
 *       -I. tests/fuzz_idx.c -o fuzz_idx -lz
 *   mkdir -p corpus && ./test_data - corpus      (seeds: tests/test_data.c, second argument)
 *   ./fuzz_idx -max_total_time=30 corpus/
 *
 * Input: a 4-byte little-endian length L, then the images file (min(L, rest) bytes), then the
 * labels file (the remaining bytes). Each part is copied into a buffer of its exact size so
 * that the sanitizer catches a read one byte past either end. The cap is lowered to 16 MiB
 * so that headers near it are reached and no run needs much memory. Whatever the bytes, the
 * reader must return an error with a zeroed dataset, or a dataset that validates, whose
 * pixels are in [0, 1] and whose batches copy out. */
#define SCALPEL_DATASET_MAX_BYTES ((uint64_t)1 << 24)
#define SCALPEL_IMPLEMENTATION
#include "scalpel_train.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    scalpel_dataset ds;
    uint8_t *a, *b;
    size_t la, lb, i, total;
    scalpel_status st;
    if (size < 4) return 0;
    la = (size_t)data[0] | ((size_t)data[1] << 8) | ((size_t)data[2] << 16) | ((size_t)data[3] << 24);
    if (la > size - 4) la = size - 4;
    lb = size - 4 - la;
    a = (uint8_t *)malloc(la ? la : 1);
    b = (uint8_t *)malloc(lb ? lb : 1);
    memcpy(a, data + 4, la);
    memcpy(b, data + 4 + la, lb);
    st = scalpel_dataset_from_idx(a, la, b, lb, &ds);
    if (st != SCALPEL_OK) {
        if (ds.n != 0 || ds.x != NULL || ds.y != NULL || ds.block != NULL) abort();
    } else {
        float *xb;
        int32_t yb[4], cnt = 0;
        if (scalpel_dataset_validate(&ds) != SCALPEL_OK || ds.c != 1) abort();
        total = (size_t)ds.n * (size_t)ds.h * (size_t)ds.w;
        for (i = 0; i < total; i++)
            if (!(ds.x[i] >= 0.0f && ds.x[i] <= 1.0f)) abort();
        xb = (float *)malloc(4 * (size_t)ds.h * (size_t)ds.w * sizeof(float));
        if (scalpel_dataset_batch(&ds, NULL, 4, (ds.n - 1) / 4, xb, yb, &cnt) != SCALPEL_OK || cnt < 1 || cnt > 4)
            abort();
        free(xb);
    }
    scalpel_dataset_free(&ds);
    free(a);
    free(b);
    return 0;
}
