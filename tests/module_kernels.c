/* See module_format.c. This file holds the kernels' implementation and main(). */
#define SCALPEL_KERNELS_IMPLEMENTATION
#include "scalpel_kernels.h"
#include <stdio.h>

int module_net_check(void);   /* in module_net.c */

int main(void)
{
    float w[2 * 3] = { 1, 2, 3, 4, 5, 6 }, x[3] = { 1, 1, 1 }, y[2];
    scalpel_gcsr m;
    if (scalpel_gcsr_from_dense(w, 2, 3, 2, &m) != SCALPEL_OK) return 1;
    scalpel_gcsr_spmv_f32(&m, x, y);
    scalpel_gcsr_free(&m);
    printf("module_kernels: y = %g %g (%s)\n", y[0], y[1], scalpel_kernels_backend());
    if (!module_net_check()) { printf("module_net: wrong result\n"); return 1; }
    return (y[0] == 6.0f && y[1] == 15.0f) ? 0 : 1;
}
