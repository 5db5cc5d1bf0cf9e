/* fuzz_seeds.c - writes a seed corpus for fuzz_gcsr: valid serialized matrices of every group
 * size, both index widths' neighbourhoods, tails, empty rows; and for fuzz_nm: valid serialized
 * N:M matrices (SCPM) of every M, with N = 1, M / 2 and M, and the hostile-input campaign's
 * 52-byte buffer (2^31 - 1 rows of 0 columns, whose validation once looped over every row),
 * with its 16:16 twin and the 1-column one the size field refuses.  usage: fuzz_seeds DIR */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

/* A header-only N:M buffer (52 bytes: no metadata, no values) announcing rows x cols at N:M,
 * its size field 52 and its CRC correct. */
static int write_nm_header_only(const char *dir, uint32_t n, uint32_t m, uint32_t rows, uint32_t cols)
{
    unsigned char b[52];
    char path[512];
    FILE *f;
    memset(b, 0, sizeof(b));
    memcpy(b, "SCPM", 4);
    b[4] = 1; b[6] = 48;
    put32(b + 12, n); put32(b + 16, m); put32(b + 20, rows); put32(b + 24, cols);
    put32(b + 32, 52);
    put32(b + 48, scalpel_crc32(0, b, 48));
    snprintf(path, sizeof(path), "%s/seed-nm-header-%ux%u-%u-%u", dir, (unsigned)rows, (unsigned)cols, (unsigned)n, (unsigned)m);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(b, 1, sizeof(b), f) != sizeof(b)) { perror(path); return 0; }
    fclose(f);
    return 1;
}

int main(int argc, char **argv)
{
    static const int32_t shapes[][2] = { { 1, 1 }, { 3, 10 }, { 5, 17 }, { 8, 64 }, { 2, 33 }, { 0, 4 } };
    int32_t s, g, i, count = 0;
    if (argc != 2) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
    for (s = 0; s < (int32_t)(sizeof(shapes) / sizeof(shapes[0])); s++)
        for (g = 1; g <= 16; g *= 2) {
            int32_t rows = shapes[s][0], cols = shapes[s][1];
            float *w = (float *)calloc((size_t)rows * cols + 1, sizeof(float));
            scalpel_gcsr m;
            unsigned char *buf;
            size_t n = 0, cap;
            char path[512];
            FILE *f;
            for (i = 0; i < rows * cols; i++) w[i] = (i * 7 % 5 == 0) ? (float)(i + 1) : 0.0f;
            if (scalpel_gcsr_from_dense(w, rows, cols, g, &m) != SCALPEL_OK) return 1;
            cap = scalpel_gcsr_serialized_size(&m);
            buf = (unsigned char *)malloc(cap);
            if (scalpel_gcsr_serialize(&m, buf, cap, &n) != SCALPEL_OK) return 1;
            snprintf(path, sizeof(path), "%s/seed-%dx%d-g%d", argv[1], (int)rows, (int)cols, (int)g);
            f = fopen(path, "wb");
            if (f == NULL || fwrite(buf, 1, n, f) != n) { perror(path); return 1; }
            fclose(f);
            count++;
            free(buf); free(w);
            scalpel_gcsr_free(&m);
        }
    for (s = 0; s < (int32_t)(sizeof(shapes) / sizeof(shapes[0])); s++)
        for (g = 2; g <= 16; g *= 2) {
            int32_t ns[3], k;
            ns[0] = 1; ns[1] = g / 2; ns[2] = g;
            for (k = 0; k < 3; k++) {
                int32_t rows = shapes[s][0], cols = shapes[s][1];
                float *w = (float *)calloc((size_t)rows * cols + 1, sizeof(float));
                scalpel_nm m;
                unsigned char *buf;
                size_t n = 0, cap;
                char path[512];
                FILE *f;
                if (k == 1 && g == 2) continue; /* same as N = 1 */
                for (i = 0; i < rows * cols; i++) w[i] = (i * 7 % 5 == 0) ? (float)(i + 1) : (float)(i % 3) * 0.5f;
                if (scalpel_nm_from_dense(w, rows, cols, ns[k], g, &m) != SCALPEL_OK) return 1;
                cap = scalpel_nm_serialized_size(&m);
                buf = (unsigned char *)malloc(cap);
                if (scalpel_nm_serialize(&m, buf, cap, &n) != SCALPEL_OK) return 1;
                snprintf(path, sizeof(path), "%s/seed-nm-%dx%d-%d-%d", argv[1], (int)rows, (int)cols, (int)ns[k], (int)g);
                f = fopen(path, "wb");
                if (f == NULL || fwrite(buf, 1, n, f) != n) { perror(path); return 1; }
                fclose(f);
                count++;
                free(buf); free(w);
                scalpel_nm_free(&m);
            }
        }
    if (!write_nm_header_only(argv[1], 1, 2, 0x7FFFFFFFu, 0) || !write_nm_header_only(argv[1], 16, 16, 0x7FFFFFFFu, 0) ||
        !write_nm_header_only(argv[1], 1, 2, 0x7FFFFFFFu, 1))
        return 1;
    count += 3;
    printf("fuzz_seeds: wrote %d seeds to %s\n", (int)count, argv[1]);
    return 0;
}
