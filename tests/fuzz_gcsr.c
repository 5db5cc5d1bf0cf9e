/* fuzz_gcsr.c - libFuzzer harness for the grouped-CSR buffer reader.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz_gcsr.c -o fuzz_gcsr
 *   ./fuzz_gcsr -max_total_time=30 corpus/
 *
 * Half of the inputs (first byte odd) get a correct CRC-32 written over their last four bytes,
 * so that the fuzzer reaches the structural checks behind the checksum instead of stopping
 * there. Whatever the bytes, the reader must return an error or a matrix that validates and
 * can be multiplied without touching memory outside its arrays. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy = (unsigned char *)malloc(size ? size : 1);
    scalpel_gcsr m;
    if (size) memcpy(copy, data, size);
    if (size >= 8 && (copy[0] & 1u)) {
        uint32_t crc;
        copy[0] = 'S'; /* keep the magic reachable */
        crc = scalpel_crc32(0, copy, size - 4);
        copy[size - 4] = (unsigned char)crc; copy[size - 3] = (unsigned char)(crc >> 8);
        copy[size - 2] = (unsigned char)(crc >> 16); copy[size - 1] = (unsigned char)(crc >> 24);
    }
    if (scalpel_gcsr_deserialize(copy, size, &m) == SCALPEL_OK) {
        if (scalpel_gcsr_validate(&m) != SCALPEL_OK) abort();
        if (m.rows <= 4096 && m.cols <= 4096) {
            float *x = (float *)calloc((size_t)m.cols + 1, sizeof(float));
            float *y = (float *)malloc(((size_t)m.rows + 1) * sizeof(float));
            /* every dtype runs its own kernel; a zero requant (mult 0) is valid for any rows */
            static const int32_t mult0 = 0;
            static const int8_t shift0 = 0;
            scalpel_requant rq = { NULL, &mult0, &shift0, 0, 0 };
            if (m.dtype == SCALPEL_DTYPE_F32) scalpel_gcsr_spmv_f32(&m, x, y);
            else if (m.dtype == SCALPEL_DTYPE_Q15) scalpel_gcsr_spmv_q15(&m, (const int16_t *)(void *)x, &rq, (int16_t *)(void *)y);
            else scalpel_gcsr_spmv_q7(&m, (const int8_t *)(void *)x, &rq, (int8_t *)(void *)y);
            free(x);
            free(y);
        }
        scalpel_gcsr_free(&m);
    }
    free(copy);
    return 0;
}
