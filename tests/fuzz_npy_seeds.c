/* fuzz_npy_seeds.c - seeds for tests/fuzz_npy.c: arrays the writer makes (1 to 4 dimensions,
 * an empty one) and the three header versions NumPy writes.
 *
 *   cc -O2 -I. tests/fuzz_npy_seeds.c -o fuzz_npy_seeds -lm && ./fuzz_npy_seeds DIR */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <stdio.h>
#include <string.h>

static int raw_seed(const char *dir, const char *name, int major, const char *header, int n)
{
    char path[512];
    unsigned char buf[512];
    size_t hl = strlen(header), pre = major == 1 ? 10 : 12, total;
    int i;
    FILE *f;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    if (major == 1) scalpel__put_u16(buf + 8, (uint16_t)hl);
    else scalpel__put_u32(buf + 8, (uint32_t)hl);
    memcpy(buf + pre, header, hl);
    total = pre + hl;
    for (i = 0; i < n; i++) {
        float v = (float)i * 0.5f - 1.0f;
        memcpy(buf + total, &v, 4);
        total += 4;
    }
    snprintf(path, sizeof path, "%s/seed-%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, total, f) != total) return 0;
    return fclose(f) == 0;
}

int main(int argc, char **argv)
{
    static const float data[24] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24 };
    int64_t s1[1] = { 24 }, s2[2] = { 4, 6 }, s4[4] = { 2, 3, 2, 2 }, s0[2] = { 0, 5 };
    char path[512];
    int ok = 1;
    if (argc != 2) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
    snprintf(path, sizeof path, "%s/seed-1d", argv[1]);
    ok &= scalpel_npy_save(path, data, 1, s1) == SCALPEL_OK;
    snprintf(path, sizeof path, "%s/seed-2d", argv[1]);
    ok &= scalpel_npy_save(path, data, 2, s2) == SCALPEL_OK;
    snprintf(path, sizeof path, "%s/seed-4d", argv[1]);
    ok &= scalpel_npy_save(path, data, 4, s4) == SCALPEL_OK;
    snprintf(path, sizeof path, "%s/seed-empty", argv[1]);
    ok &= scalpel_npy_save(path, data, 2, s0) == SCALPEL_OK;
    ok &= raw_seed(argv[1], "v2", 2, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3,)}\n", 3);
    ok &= raw_seed(argv[1], "v3", 3, "{'shape': (2, 1), 'fortran_order': False, 'descr': '<f4', }   \n", 2);
    ok &= raw_seed(argv[1], "f8", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", 2);
    if (!ok) { fprintf(stderr, "fuzz_npy_seeds: could not write the seeds\n"); return 1; }
    printf("fuzz_npy_seeds: wrote 7 seeds to %s\n", argv[1]);
    return 0;
}
