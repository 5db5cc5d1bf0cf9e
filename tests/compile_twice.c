/* compile_twice.c - the single-header contract: every header included twice for declarations,
 * then with SCALPEL_IMPLEMENTATION, then once more; builds as C99 (gcc, clang, -pedantic
 * -Werror) and as C++, with and without SCALPEL_STATIC, SCALPEL_NO_SIMD and SCALPEL_NO_MALLOC. */
#include "scalpel_format.h"
#include "scalpel_kernels.h"
#include "scalpel.h"
#include "scalpel.h"
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "scalpel.h"
#include "scalpel_kernels.h"

#include <stdio.h>

int main(void)
{
    static float w[4 * 20], x[20], y[4];
    static unsigned char mem[1024];
    size_t need = 0;
    scalpel_gcsr m;
    int i;
    for (i = 0; i < 80; i++) w[i] = (i % 7 == 0) ? (float)i : 0.0f;
    for (i = 0; i < 20; i++) x[i] = 1.0f;
    if (scalpel_gcsr_from_dense_size(w, 4, 20, 4, &need) != SCALPEL_OK || need > sizeof(mem)) return 1;
    if (scalpel_gcsr_from_dense_into(w, 4, 20, 4, mem, sizeof(mem), &m) != SCALPEL_OK) return 2;
    scalpel_gcsr_spmv_f32(&m, x, y);
    scalpel_gemv_f32(w, 4, 20, x, y);
    printf("compile_twice: %s, backend %s, %s\n", SCALPEL_VERSION_STRING, scalpel_kernels_backend(),
           scalpel_status_string(SCALPEL_OK));
    return y[0] == 0.0f + 7.0f + 14.0f ? 0 : 3;
}
