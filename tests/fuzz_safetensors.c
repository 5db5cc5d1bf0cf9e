/* fuzz_safetensors.c - libFuzzer harness for the safetensors reader and import.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz_safetensors.c -o fuzz_st
 *   ./fuzz_st -max_total_time=30 corpus/
 *
 * Seeds: tests/test_safetensors writes its valid files into the directory given as its second
 * argument. Whatever the bytes, find must return an error or a tensor lying wholly inside
 * them whose every element reads back; import must fail leaving the network untouched, or
 * succeed with a network that validates and runs. The input is copied into a buffer of its
 * exact size so that the sanitizer catches a read one byte past the end. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The names the seeds use, plus a few that only a mutation can produce. */
static const char *const names[] = { "a", "b", "s", "z", "h", "l1.weight", "l2.bias", "c.weight",
                                     "t7", "", "\xF0\x9F\x98\x80\xC3\xA9" };

static void check_tensor(const uint8_t *buf, size_t size, const scalpel_safetensors_tensor *t)
{
    size_t esz = t->dtype == SCALPEL_ST_F32 ? 4 : 2;
    float *out;
    if (t->count < 0 || t->ndim < 0 || t->ndim > 4) abort();
    if (t->data < buf || t->data > buf + size) abort();
    if ((uint64_t)t->count > (uint64_t)(buf + size - t->data) / esz) abort();
    out = (float *)malloc((size_t)t->count * sizeof(float) + 1);
    if (scalpel_safetensors_read_f32(t, out, t->count) != SCALPEL_OK) abort();
    free(out);
}

static void try_import(const uint8_t *buf, size_t size, int conv)
{
    static const char *const prefixes[2] = { "l1", "l2" };
    scalpel_net net;
    float in[50], before[75], after[75];
    void *ws;
    int i;
    scalpel_status st;
    if (conv) {
        if (scalpel_net_init(2, 5, 5, &net) != SCALPEL_OK) abort();
        if (scalpel_net_add_conv2d(&net, 3, 3, 1, 1, NULL, NULL) != SCALPEL_OK) abort();
    } else {
        if (scalpel_net_init(1, 1, 4, &net) != SCALPEL_OK) abort();
        if (scalpel_net_add_fc(&net, 3, NULL, NULL) != SCALPEL_OK) abort();
        if (scalpel_net_add_relu(&net) != SCALPEL_OK) abort();
        if (scalpel_net_add_fc(&net, 2, NULL, NULL) != SCALPEL_OK) abort();
    }
    for (i = 0; i < 50; i++) in[i] = (float)(i % 5) - 2.0f;
    ws = malloc(scalpel_net_workspace_size(&net, 1));
    if (scalpel_net_forward(&net, in, 1, before, ws) != SCALPEL_OK) abort();
    st = scalpel_net_import_safetensors(&net, buf, size, conv ? NULL : prefixes, conv ? 0 : 2);
    if (scalpel_net_validate(&net) != SCALPEL_OK) abort();
    if (scalpel_net_forward(&net, in, 1, after, ws) != SCALPEL_OK) abort();
    if (st != SCALPEL_OK && memcmp(before, after, (size_t)scalpel_net_output_size(&net) * sizeof(float)) != 0)
        abort();
    free(ws);
    scalpel_net_free(&net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = (uint8_t *)malloc(size ? size : 1);
    size_t k;
    if (size) memcpy(buf, data, size);
    for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        scalpel_safetensors_tensor t;
        if (scalpel_safetensors_find(buf, size, names[k], &t) == SCALPEL_OK) check_tensor(buf, size, &t);
    }
    { /* every name listed (as import lists unused tensors) is found again by name */
        static char names[64][128];
        int32_t count = 0, i;
        if (scalpel_safetensors_names(buf, size, names, 64, &count) == SCALPEL_OK) {
            for (i = 0; i < count && i < 64; i++) {
                scalpel_safetensors_tensor t;
                if (strlen(names[i]) >= 128) abort();
                if (scalpel_safetensors_find(buf, size, names[i], &t) == SCALPEL_ERR_ARGUMENT) abort();
            }
        }
    }
    try_import(buf, size, 0);
    try_import(buf, size, 1);
    free(buf);
    return 0;
}
