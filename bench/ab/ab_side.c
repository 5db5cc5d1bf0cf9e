/* ab_side.c - one side of the before/after kernel comparison (bench_ab.c): the library as it
 * stands in the include path this file is compiled with, behind functions named by AB_SIDE
 * (ref_ or new_). Compiled twice, once per side, with SCALPEL_STATIC so that the two copies
 * of the library do not clash. */
#define SCALPEL_STATIC
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#define AB_CAT2(a, b) a##b
#define AB_CAT(a, b) AB_CAT2(a, b)
#define AB_FN(name) AB_CAT(AB_SIDE, name)

/* An opaque grouped-CSR matrix of this side, built from dense w. NULL on failure. */
void *AB_FN(gcsr_new)(const float *w, int32_t rows, int32_t cols, int32_t group)
{
    scalpel_gcsr *m = (scalpel_gcsr *)malloc(sizeof *m);
    if (m == NULL) return NULL;
    if (scalpel_gcsr_from_dense(w, rows, cols, group, m) != SCALPEL_OK) {
        free(m);
        return NULL;
    }
    return m;
}

void AB_FN(gcsr_free)(void *m)
{
    scalpel_gcsr_free((scalpel_gcsr *)m);
    free(m);
}

void AB_FN(spmv)(const void *m, const float *x, float *y) { scalpel_gcsr_spmv_f32((const scalpel_gcsr *)m, x, y); }
void AB_FN(spmm)(const void *m, const float *b, int32_t n, float *c) { scalpel_gcsr_spmm_f32((const scalpel_gcsr *)m, b, n, c); }
void AB_FN(gemv)(const float *w, int32_t rows, int32_t cols, const float *x, float *y) { scalpel_gemv_f32(w, rows, cols, x, y); }
const char *AB_FN(backend)(void) { return scalpel_kernels_backend(); }
