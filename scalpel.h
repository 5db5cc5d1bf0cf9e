/* scalpel.h - Scalpel: pruned neural networks that actually run faster and smaller.
 *
 * The umbrella header. It includes, in dependency order:
 *   scalpel_format.h   status codes, allocator hooks, the grouped-CSR format, serialization
 *   scalpel_kernels.h  dense and grouped-sparse fp32 kernels (SIMDe / Helium / plain C), im2col
 * Networks, pruning routines, hardware profiles and the per-layer planner come next, here.
 *
 * USAGE
 *   Do this in exactly one C or C++ file to compile the whole library there:
 *
 *     #define SCALPEL_IMPLEMENTATION
 *     #include "scalpel.h"
 *
 *   and include "scalpel.h" without the define anywhere else. A complete program
 *   (cc -O2 -march=native example.c -lm):
 *
 *     #define SCALPEL_IMPLEMENTATION
 *     #include "scalpel.h"
 *     #include <stdio.h>
 *     int main(void) {
 *         enum { R = 4, C = 16 };
 *         float w[R * C] = { 0 }, x[C], y[R];
 *         scalpel_gcsr m;
 *         int i;
 *         for (i = 0; i < C; i++) x[i] = 1.0f;
 *         for (i = 0; i < R; i++) w[i * C + 8 + i] = (float)(i + 1);   // one group per row
 *         if (scalpel_gcsr_from_dense(w, R, C, 8, &m) != SCALPEL_OK) return 1;
 *         scalpel_gcsr_spmv_f32(&m, x, y);                            // y = W . x
 *         printf("%s: y = %g %g %g %g, %lu bytes\n", scalpel_kernels_backend(),
 *                y[0], y[1], y[2], y[3], (unsigned long)scalpel_gcsr_bytes(&m));
 *         scalpel_gcsr_free(&m);
 *         return 0;
 *     }
 *
 * CONFIGURATION (see each module's header for details)
 *   SCALPEL_IMPLEMENTATION   compile every module's implementation in this file
 *   SCALPEL_STATIC           make every function static (a private copy per file)
 *   SCALPEL_MALLOC/FREE      your allocator, both or neither (ctx = the alloc_ctx you passed)
 *   SCALPEL_ASSERT           internal invariant checks (default: assert)
 *   SCALPEL_NO_MALLOC        no allocating entry points (firmware)
 *   SCALPEL_NO_SIMD          plain C kernels only
 *
 * DOES NOT
 *   train (scalpel_train.h), run on GPUs (scalpel_cuda.cu), use threads, or keep global state.
 */
#include "scalpel_format.h"
#include "scalpel_kernels.h"

#ifndef SCALPEL_H
#define SCALPEL_H

/* The library's version as one comparable number, e.g. 0.1.0 -> 100. */
#define SCALPEL_VERSION_NUMBER (SCALPEL_VERSION_MAJOR * 10000 + SCALPEL_VERSION_MINOR * 100 + SCALPEL_VERSION_PATCH)

#endif /* SCALPEL_H */

/* >>implementation: every module's implementation is in its own header, switched on by
 * SCALPEL_IMPLEMENTATION through the includes above. */

/*
 * LICENCE: MIT. Copyright (c) 2026 the Scalpel authors. See the end of scalpel_format.h.
 */
