/* fuzz_npy.c - libFuzzer harness for the .npy reader (scalpel_npy_parse), what `scalpel run`
 * reads its inputs with.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz_npy.c -o fuzz_npy
 *   ./fuzz_npy -max_total_time=60 corpus/      (seeds: ./fuzz_npy --seeds DIR, from the writer)
 *
 * Whatever the bytes, the parser returns an error with *out zeroed (no data), or an array
 * whose shape multiplies to `count` floats, every one finite and readable. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    scalpel_npy a;
    scalpel_status st = scalpel_npy_parse(data, size, &a);
    if (st != SCALPEL_OK) {
        if (a.data != NULL || a.count != 0 || a.ndim != 0) abort();
        return 0;
    }
    {
        size_t n = 1, k;
        int32_t d;
        float sum = 0.0f;
        if (a.ndim < 1 || a.ndim > SCALPEL_NPY_MAX_DIMS || a.data == NULL) abort();
        for (d = 0; d < a.ndim; d++) n *= (size_t)a.shape[d];
        if (n != a.count) abort();
        for (k = 0; k < a.count; k++) {
            if (!(a.data[k] >= -3.4028235e38f && a.data[k] <= 3.4028235e38f)) abort();
            sum += a.data[k];
        }
        (void)sum;
    }
    scalpel_npy_free(&a);
    return 0;
}
