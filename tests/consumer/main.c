/* main.c - a program outside the Scalpel tree that uses the library as a user's project would:
 * prunes a matrix to aligned groups, builds grouped CSR and checks W . x and W . B against a
 * plain product. Built by tests/test_consumer.sh through CMake find_package, CMake
 * add_subdirectory, pkg-config, and for a Cortex-M4 board with the toolchain file. Prints one
 * line and exits 0 when every product agrees. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include <math.h>
#include <stdio.h>

enum { ROWS = 24, COLS = 40, N = 5, G = 4 };

int main(void)
{
    static float w[ROWS * COLS], x[COLS], y[ROWS], b[COLS * N], c[ROWS * N];
    scalpel_gcsr m;
    int r, k, j, bad = 0;
    unsigned s = 12345u;
    for (r = 0; r < ROWS * COLS; r++) {
        s = s * 1103515245u + 12345u;
        w[r] = (float)((int)(s >> 16) % 19 - 9) / 8.0f;
    }
    for (r = 0; r < ROWS; r++)   /* prune: every other aligned group of G in each row */
        for (k = (r % 2) * G; k < COLS; k += 2 * G)
            for (j = k; j < k + G && j < COLS; j++) w[r * COLS + j] = 0.0f;
    for (k = 0; k < COLS; k++) x[k] = (float)(k % 7) - 3.0f;
    for (k = 0; k < COLS * N; k++) b[k] = (float)(k % 5) - 2.0f;
    if (scalpel_gcsr_from_dense(w, ROWS, COLS, G, &m) != SCALPEL_OK) {
        printf("consumer: scalpel_gcsr_from_dense failed\n");
        return 1;
    }
    scalpel_gcsr_spmv_f32(&m, x, y);
    scalpel_gcsr_spmm_f32(&m, b, N, c);
    for (r = 0; r < ROWS; r++) {
        double e = 0.0;
        for (k = 0; k < COLS; k++) e += (double)w[r * COLS + k] * x[k];
        bad += fabs(e - y[r]) > 1e-4 * (1.0 + fabs(e));
        for (j = 0; j < N; j++) {
            double f = 0.0;
            for (k = 0; k < COLS; k++) f += (double)w[r * COLS + k] * b[k * N + j];
            bad += fabs(f - c[r * N + j]) > 1e-4 * (1.0 + fabs(f));
        }
    }
    printf("consumer: scalpel %s, backend %s, %d groups kept of %d, %d products off\n", SCALPEL_VERSION_STRING,
           scalpel_kernels_backend(), (int)m.nnz_groups, ROWS * ((COLS + G - 1) / G), bad);
    scalpel_gcsr_free(&m);
    return bad == 0 ? 0 : 1;
}
