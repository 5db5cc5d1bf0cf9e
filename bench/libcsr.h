/* libcsr.h - the reference sparse library the benchmark compares against.
 *
 * A tiny C interface over Eigen's compressed sparse row matrix
 * (Eigen::SparseMatrix<float, Eigen::RowMajor>), implemented in libcsr.cpp, so that the
 * C99 benchmark can time a widely used CSR implementation next to scalpel's own CSR
 * (grouped CSR with G = 1) on exactly the same matrices. All matrices are row-major.
 */
#ifndef SCALPEL_BENCH_LIBCSR_H
#define SCALPEL_BENCH_LIBCSR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct libcsr libcsr;   /* opaque: an Eigen row-major sparse matrix */

/* name and version of the library, e.g. "Eigen 3.4.0 SparseMatrix<float,RowMajor>" */
const char *libcsr_name(void);
/* A = the nonzeros of w[rows x cols]; NULL when out of memory */
libcsr *libcsr_from_dense(const float *w, int32_t rows, int32_t cols);
/* stored nonzeros */
int64_t libcsr_nnz(const libcsr *a);
/* values + column indices + row pointers, in bytes */
size_t libcsr_bytes(const libcsr *a);
/* y[rows] = A . x[cols] */
void libcsr_spmv(const libcsr *a, const float *x, float *y);
/* C[rows x n] = A . B[cols x n], B and C row-major */
void libcsr_spmm(const libcsr *a, const float *b, int32_t n, float *c);
void libcsr_free(libcsr *a);   /* safe on NULL */

#ifdef __cplusplus
}
#endif
#endif /* SCALPEL_BENCH_LIBCSR_H */
