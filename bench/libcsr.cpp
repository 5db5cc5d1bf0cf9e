// libcsr.cpp - Eigen's CSR behind the C interface of libcsr.h (see that file).
//
// The matrix is built directly in compressed form (startVec / insertBack / finalize), so
// building a 4096 x 4096 matrix costs one pass over the dense input and no triplet list.
// The products use Eigen's own sparse x dense kernels through Map views of the caller's
// buffers, with noalias() so that Eigen writes straight into the output (no temporary).
#include "libcsr.h"

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <new>

typedef Eigen::SparseMatrix<float, Eigen::RowMajor, int32_t> CsrMatrix;
typedef Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> RowMajorMatrix;

struct libcsr {
    CsrMatrix m;
};

#define LIBCSR_STR2(x) #x
#define LIBCSR_STR(x) LIBCSR_STR2(x)

extern "C" const char *libcsr_name(void)
{
    return "Eigen " LIBCSR_STR(EIGEN_WORLD_VERSION) "." LIBCSR_STR(EIGEN_MAJOR_VERSION) "."
        LIBCSR_STR(EIGEN_MINOR_VERSION) " SparseMatrix<float,RowMajor>";
}

extern "C" libcsr *libcsr_from_dense(const float *w, int32_t rows, int32_t cols)
{
    libcsr *a = new (std::nothrow) libcsr;
    if (!a) return nullptr;
    try {
        int64_t nnz = 0;
        for (int64_t i = 0; i < (int64_t)rows * cols; ++i) nnz += (w[i] != 0.0f);
        a->m.resize(rows, cols);
        a->m.reserve(nnz);
        for (int32_t r = 0; r < rows; ++r) {
            const float *row = w + (size_t)r * (size_t)cols;
            a->m.startVec(r);
            for (int32_t c = 0; c < cols; ++c)
                if (row[c] != 0.0f) a->m.insertBack(r, c) = row[c];
        }
        a->m.finalize();
    } catch (...) {
        delete a;
        return nullptr;
    }
    return a;
}

extern "C" int64_t libcsr_nnz(const libcsr *a) { return a->m.nonZeros(); }

extern "C" size_t libcsr_bytes(const libcsr *a)
{
    return (size_t)a->m.nonZeros() * (sizeof(float) + sizeof(int32_t)) +
           (size_t)(a->m.outerSize() + 1) * sizeof(int32_t);
}

extern "C" void libcsr_spmv(const libcsr *a, const float *x, float *y)
{
    Eigen::Map<const Eigen::VectorXf> xv(x, a->m.cols());
    Eigen::Map<Eigen::VectorXf> yv(y, a->m.rows());
    yv.noalias() = a->m * xv;
}

extern "C" void libcsr_spmm(const libcsr *a, const float *b, int32_t n, float *c)
{
    Eigen::Map<const RowMajorMatrix> bm(b, a->m.cols(), n);
    Eigen::Map<RowMajorMatrix> cm(c, a->m.rows(), n);
    cm.noalias() = a->m * bm;
}

extern "C" void libcsr_free(libcsr *a) { delete a; }
