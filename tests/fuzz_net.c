/* fuzz_net.c - libFuzzer harness for the model-file reader (scalpel_net_view).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz_net.c -o fuzz_net
 *   ./fuzz_net -max_total_time=60 corpus/        (seeds: tests/fuzz_net_seeds.c)
 *
 * The input is copied to a 64-byte-aligned buffer (a view needs 4-byte alignment, and the
 * fuzzer's buffer has none). Half of the inputs (first byte odd) get their magic restored and
 * a correct CRC-32 over their last four bytes, so that the fuzzer reaches the checks behind
 * the checksum. Whatever the bytes, the reader must return an error or a network that
 * validates; such a network is then run on a zero input (when its workspace is modest) so that
 * the sanitizers see any array the reader let through too short, and (when it is small) goes
 * through dead-node removal, whose result must validate and run too: the coupling of channels
 * across every kind meets whatever graph the reader accepts. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *raw = (unsigned char *)malloc(size + 64), *copy;
    scalpel_net net;
    copy = raw + (64u - (uintptr_t)raw % 64u) % 64u;
    if (size) memcpy(copy, data, size);
    if (size >= 8 && (copy[0] & 1u)) {
        uint32_t crc;
        memcpy(copy, "SCPN", 4);
        crc = scalpel_crc32(0, copy, size - 4);
        copy[size - 4] = (unsigned char)crc; copy[size - 3] = (unsigned char)(crc >> 8);
        copy[size - 2] = (unsigned char)(crc >> 16); copy[size - 1] = (unsigned char)(crc >> 24);
    }
    if (scalpel_net_view(copy, size, &net) == SCALPEL_OK) {
        size_t ws = scalpel_net_workspace_size(&net, 1);
        if (scalpel_net_validate(&net) != SCALPEL_OK || net.block != NULL) abort();
        /* the workspace holds no copy of the input: bound the harness's own buffers too */
        if (ws > 0 && ws < ((size_t)64 << 20) && (size_t)scalpel_net_input_size(&net) < ((size_t)16 << 20) &&
            (size_t)scalpel_net_output_size(&net) < ((size_t)16 << 20)) {
            float *in = (float *)calloc((size_t)scalpel_net_input_size(&net), sizeof(float));
            float *out = (float *)malloc((size_t)scalpel_net_output_size(&net) * sizeof(float));
            void *work = malloc(ws);
            if (in && out && work && scalpel_net_forward(&net, in, 1, out, work) != SCALPEL_OK) abort();
            if (in && out && ws < ((size_t)4 << 20)) {
                scalpel_net small;
                scalpel_status st = scalpel_net_remove_dead_nodes(&net, NULL, &small, NULL);
                if (st == SCALPEL_OK) {
                    size_t ws2 = scalpel_net_workspace_size(&small, 1);
                    void *work2 = malloc(ws2 ? ws2 : 1);
                    if (scalpel_net_validate(&small) != SCALPEL_OK ||
                        scalpel_net_input_size(&small) != scalpel_net_input_size(&net) ||
                        scalpel_net_output_size(&small) != scalpel_net_output_size(&net))
                        abort();
                    if (ws2 == 0 || !work2 || scalpel_net_forward(&small, in, 1, out, work2) != SCALPEL_OK) abort();
                    free(work2);
                    scalpel_net_free(&small);
                } else if (st != SCALPEL_ERR_NO_MEMORY && st != SCALPEL_ERR_OVERFLOW) {
                    abort(); /* a network that validates is always taken */
                }
            }
            free(in);
            free(out);
            free(work);
        }
        scalpel_net_free(&net);
    }
    free(raw);
    return 0;
}
