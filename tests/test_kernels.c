/* test_kernels.c - every kernel against its plain C `_ref` oracle on thousands of random shapes.
 *
 * Covers every group size, tails (cols not a multiple of G), empty rows, all-zero and fully
 * dense matrices, unaligned pointers (offset by one float) and guard values around every
 * output. Inputs are allocated to their exact size, so under AddressSanitizer any read past
 * x[cols - 1] or B[cols - 1][n - 1] is caught. im2col is checked against a direct convolution.
 * The same file runs on the host (every SIMD backend) and on emulated Cortex-M4 / M55.
 *
 * Tolerance: |fast - ref| <= 2 * n * FLT_EPSILON * sum |w_i x_i| + tiny (see scalpel_kernels.h). */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#ifndef TEST_ITERS
#define TEST_ITERS 3000      /* random cases per kernel family */
#endif
#ifndef TEST_MAX_DIM
#define TEST_MAX_DIM 300     /* rows and cols drawn up to this */
#endif
#define GUARD 4
#define GUARD_VALUE 12345.678f

static const int32_t groups[5] = { 1, 2, 4, 8, 16 };

/* Random weights with a random sparsity pattern: whole groups of `gz` zeroed at rate `rate`
 * (pattern aligned to gz, which may differ from the storage G: stored groups then hold zeros),
 * some rows emptied, some matrices entirely zero or entirely dense. */
static void random_weights(float *w, int32_t rows, int32_t cols)
{
    int32_t kind = test_range(0, 9), gz = groups[test_range(0, 4)], r, c;
    float rate = (float)test_range(0, 100) / 100.0f;
    for (r = 0; r < rows; r++) {
        int empty_row = kind < 6 && test_range(0, 9) == 0;
        for (c = 0; c < cols; c++) w[(size_t)r * cols + c] = test_uniform();
        for (c = 0; c < cols; c += gz) {
            int drop = empty_row || kind == 0 || (kind != 1 && (float)(test_rand() % 1000) / 1000.0f < rate);
            int32_t j;
            if (drop)
                for (j = c; j < c + gz && j < cols; j++) w[(size_t)r * cols + j] = 0.0f;
        }
    }
}

static float *alloc_floats(size_t n)
{
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    if (p == NULL) {
        printf("out of memory for %lu floats: lower TEST_MAX_DIM for this target\n", (unsigned long)n);
        exit(2);
    }
    return p;
}

/* Output buffer with GUARD floats before and after, filled with a sentinel. */
static float *guarded(size_t n, int32_t misalign)
{
    float *p = alloc_floats(n + 2 * GUARD + 1);
    size_t i;
    for (i = 0; i < n + 2 * GUARD + 1; i++) p[i] = GUARD_VALUE;
    return p + GUARD + misalign;
}
static int guards_intact(const float *out, size_t n, int32_t misalign)
{
    const float *base = out - GUARD - misalign;
    size_t i;
    for (i = 0; i < (size_t)(GUARD + misalign); i++) if (base[i] != GUARD_VALUE) return 0;
    for (i = 0; i < GUARD + 1 - (size_t)misalign; i++) if (out[n + i] != GUARD_VALUE) return 0;
    return 1;
}
static void guarded_free(float *out, int32_t misalign) { free(out - GUARD - misalign); }

/* Copy of src[n] at an address one float past a 16-byte boundary when misalign is set, in an
 * allocation of exactly n (+ misalign) floats so ASan sees any overread. */
static float *copy_in(const float *src, size_t n, int32_t misalign, float **base)
{
    *base = alloc_floats(n + (size_t)misalign);
    if (n) memcpy(*base + misalign, src, n * sizeof(float));
    return *base + misalign;
}

/* Does got[i] match want[i] within the summation bound? scale[i] = sum |w x| for that output. */
static int close_enough(float got, float want, double scale, int32_t terms)
{
    double tol = 2.0 * (terms + 2) * FLT_EPSILON * scale + 1e-30;
    return fabs((double)got - (double)want) <= tol;
}

static void test_gemv_spmv(void)
{
    int it;
    for (it = 0; it < TEST_ITERS; it++) {
        int32_t rows = test_range(1, TEST_MAX_DIM), cols = test_range(1, TEST_MAX_DIM);
        int32_t mis = test_range(0, 1), gi, r, c, bad = 0;
        float *w = alloc_floats((size_t)rows * cols), *x0 = alloc_floats((size_t)cols), *wb, *xb;
        float *yref = alloc_floats((size_t)rows);
        double *scale = (double *)(void *)alloc_floats((size_t)rows * 2);
        float *wa, *xa, *y;
        random_weights(w, rows, cols);
        for (c = 0; c < cols; c++) x0[c] = test_uniform();
        wa = copy_in(w, (size_t)rows * cols, mis, &wb);
        xa = copy_in(x0, (size_t)cols, test_range(0, 1), &xb);
        for (r = 0; r < rows; r++) {
            scale[r] = 0.0;
            for (c = 0; c < cols; c++) scale[r] += fabs((double)w[(size_t)r * cols + c] * x0[c]);
        }
        scalpel_gemv_f32_ref(w, rows, cols, x0, yref);

        y = guarded((size_t)rows, mis);
        scalpel_gemv_f32(wa, rows, cols, xa, y);
        for (r = 0; r < rows; r++) bad += !close_enough(y[r], yref[r], scale[r], cols);
        CHECK(bad == 0, "gemv %dx%d: %d outputs off", (int)rows, (int)cols, (int)bad);
        CHECK(guards_intact(y, (size_t)rows, mis), "gemv %dx%d wrote outside y", (int)rows, (int)cols);
        guarded_free(y, mis);

        for (gi = 0; gi < 5; gi++) {
            scalpel_gcsr m;
            scalpel_status st = scalpel_gcsr_from_dense(w, rows, cols, groups[gi], &m);
            float *ys;
            CHECK(st == SCALPEL_OK, "from_dense: %s", scalpel_status_string(st));
            if (st != SCALPEL_OK) continue;
            CHECK(scalpel_gcsr_validate(&m) == SCALPEL_OK, "built matrix does not validate");
            ys = guarded((size_t)rows, mis);
            scalpel_gcsr_spmv_f32_ref(&m, xa, ys);
            bad = 0;
            for (r = 0; r < rows; r++) bad += !close_enough(ys[r], yref[r], scale[r], cols);
            CHECK(bad == 0, "spmv_ref %dx%d G=%d: %d outputs off", (int)rows, (int)cols, (int)groups[gi], (int)bad);
            for (r = 0; r < rows; r++) ys[r] = -1.0f;
            scalpel_gcsr_spmv_f32(&m, xa, ys);
            bad = 0;
            for (r = 0; r < rows; r++) bad += !close_enough(ys[r], yref[r], scale[r], cols);
            CHECK(bad == 0, "spmv %dx%d G=%d: %d outputs off", (int)rows, (int)cols, (int)groups[gi], (int)bad);
            CHECK(guards_intact(ys, (size_t)rows, mis), "spmv %dx%d G=%d wrote outside y", (int)rows, (int)cols, (int)groups[gi]);
            guarded_free(ys, mis);
            scalpel_gcsr_free(&m);
        }
        free(w); free(x0); free(wb); free(xb); free(yref); free(scale);
    }
}

/* gemm and every G's spmm (and its _ref) on one shape, against a double-precision product. */
static void check_gemm_spmm(int32_t m, int32_t k, int32_t n)
{
    {
        int32_t mis = test_range(0, 1), gi, i, j, p, bad = 0;
        float *a = alloc_floats((size_t)m * k), *b0 = alloc_floats((size_t)k * n), *cref = alloc_floats((size_t)m * n);
        double *scale = (double *)(void *)alloc_floats((size_t)m * n * 2);
        float *bb, *ab, *aa, *ba, *c;
        random_weights(a, m, k);
        for (i = 0; i < k * n; i++) b0[i] = test_uniform();
        aa = copy_in(a, (size_t)m * k, mis, &ab);
        ba = copy_in(b0, (size_t)k * n, test_range(0, 1), &bb);
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++) {
                double s = 0.0;
                for (p = 0; p < k; p++) s += fabs((double)a[(size_t)i * k + p] * b0[(size_t)p * n + j]);
                scale[(size_t)i * n + j] = s;
            }
        scalpel_gemm_f32_ref(a, m, k, b0, n, cref);
        c = guarded((size_t)m * n, mis);
        scalpel_gemm_f32(aa, m, k, ba, n, c);
        for (i = 0; i < m * n; i++) bad += !close_enough(c[i], cref[i], scale[i], k);
        CHECK(bad == 0, "gemm %dx%dx%d: %d outputs off", (int)m, (int)k, (int)n, (int)bad);
        CHECK(guards_intact(c, (size_t)m * n, mis), "gemm wrote outside C");
        guarded_free(c, mis);
        for (gi = 0; gi < 5; gi++) {
            scalpel_gcsr w;
            if (scalpel_gcsr_from_dense(a, m, k, groups[gi], &w) != SCALPEL_OK) { CHECK(0, "from_dense"); continue; }
            c = guarded((size_t)m * n, mis);
            scalpel_gcsr_spmm_f32_ref(&w, ba, n, c);
            bad = 0;
            for (i = 0; i < m * n; i++) bad += !close_enough(c[i], cref[i], scale[i], k);
            CHECK(bad == 0, "spmm_ref %dx%dx%d G=%d: %d off", (int)m, (int)k, (int)n, (int)groups[gi], (int)bad);
            for (i = 0; i < m * n; i++) c[i] = -1.0f;
            scalpel_gcsr_spmm_f32(&w, ba, n, c);
            bad = 0;
            for (i = 0; i < m * n; i++) bad += !close_enough(c[i], cref[i], scale[i], k);
            CHECK(bad == 0, "spmm %dx%dx%d G=%d: %d off", (int)m, (int)k, (int)n, (int)groups[gi], (int)bad);
            CHECK(guards_intact(c, (size_t)m * n, mis), "spmm wrote outside C");
            guarded_free(c, mis);
            scalpel_gcsr_free(&w);
        }
        free(a); free(b0); free(cref); free(scale); free(ab); free(bb);
    }
}

static void test_gemm_spmm(void)
{
    /* spmm runs in one of three orders (whole C rows a group at a time, whole C rows a chunk
       of CSR weights at a time, or pieces of C columns over blocks of B rows, packed into an
       aligned buffer when B's rows are not aligned): shapes that take each, on every
       backend, with C wider than two strips of the widest vectors and a remainder that
       takes 4V, 2V, V and masked pieces, B deeper than several blocks and more rows than one
       chunk of row cursors. Every order was checked to be reached (each broken on purpose
       fails this test) */
#if defined(TEST_SMALL_MEMORY)
    static const int32_t fixed[][3] = { { 20, 40, 70 }, { 9, 100, 140 }, { 3, 17, 300 } };
#else
    static const int32_t fixed[][3] = { { 70, 300, 389 }, { 9, 130, 600 }, { 130, 48, 270 }, { 3, 17, 1000 } };
#endif
    int it;
    for (it = 0; it < TEST_ITERS / 4; it++)
        check_gemm_spmm(test_range(1, TEST_MAX_DIM / 2), test_range(1, TEST_MAX_DIM / 2), test_range(1, 70));
    for (it = 0; it < (int)(sizeof fixed / sizeof fixed[0]); it++) check_gemm_spmm(fixed[it][0], fixed[it][1], fixed[it][2]);
}

/* Degenerate shapes the random draw rarely hits: empty matrices, one column, k = 0, n = 0. */
static void test_degenerate(void)
{
    float w[64], x[16], y[8], c[8];
    scalpel_gcsr m;
    int32_t i;
    for (i = 0; i < 64; i++) w[i] = (float)(i % 3);
    for (i = 0; i < 16; i++) x[i] = 1.0f;
    for (i = 0; i < 8; i++) y[i] = c[i] = GUARD_VALUE;
    /* zero columns: every output is 0 */
    CHECK(scalpel_gcsr_from_dense(w, 4, 0, 8, &m) == SCALPEL_OK, "from_dense 4x0");
    CHECK(m.nnz_groups == 0, "4x0 has no groups");
    scalpel_gcsr_spmv_f32(&m, x, y);
    CHECK(y[0] == 0.0f && y[3] == 0.0f && y[4] == GUARD_VALUE, "spmv 4x0");
    scalpel_gcsr_free(&m);
    scalpel_gemv_f32(w, 4, 0, x, y);
    CHECK(y[0] == 0.0f && y[3] == 0.0f && y[4] == GUARD_VALUE, "gemv 4x0");
    scalpel_gemm_f32(w, 2, 0, x, 3, c);
    CHECK(c[0] == 0.0f && c[5] == 0.0f && c[6] == GUARD_VALUE, "gemm k=0 writes zeros");
    /* zero rows */
    CHECK(scalpel_gcsr_from_dense(w, 0, 5, 4, &m) == SCALPEL_OK, "from_dense 0x5");
    CHECK(scalpel_gcsr_validate(&m) == SCALPEL_OK, "0x5 validates");
    scalpel_gcsr_spmv_f32(&m, x, y);
    scalpel_gcsr_free(&m);
    CHECK(y[0] == 0.0f, "0 rows leaves y alone");
    /* n = 0 writes nothing */
    CHECK(scalpel_gcsr_from_dense(w, 2, 8, 4, &m) == SCALPEL_OK, "from_dense 2x8");
    c[0] = GUARD_VALUE;
    scalpel_gcsr_spmm_f32(&m, x, 0, c);
    CHECK(c[0] == GUARD_VALUE, "spmm n=0 writes nothing");
    scalpel_gcsr_free(&m);
}

/* im2col + gemm against a direct convolution, random shapes, strides and paddings (a third
 * of them pad 0). */
static void test_im2col(void)
{
    int it;
    for (it = 0; it < TEST_ITERS / 20 + 10; it++) {
        /* widths past two vectors of 16 (im2col copies a row span by vectors); every stride 1
         * pad 0 case takes the border-free path; up to 13 output rows (gemm's 6-row blocks
         * and the rows after them) */
        int32_t C = test_range(1, 4), H = test_range(1, 14), W = test_range(1, 40);
        int32_t K = test_range(1, 5), S = test_range(1, 3), P = it % 3 == 0 ? 0 : test_range(0, K - 1), O = test_range(1, 13);
        int32_t oh = scalpel_conv_out_dim(H, K, S, P), ow = scalpel_conv_out_dim(W, K, S, P);
        int32_t i, o, ch, ki, kj, oy, ox, bad = 0;
        float *in, *wt, *col, *out;
        if (oh < 1 || ow < 1) { CHECK(H + 2 * P < K || W + 2 * P < K, "out_dim -1 only when the window does not fit"); continue; }
        CHECK(oh == (H + 2 * P - K) / S + 1 && ow == (W + 2 * P - K) / S + 1, "out_dim formula");
        in = alloc_floats((size_t)C * H * W);
        wt = alloc_floats((size_t)O * C * K * K);
        col = guarded((size_t)C * K * K * oh * ow, 0);
        out = alloc_floats((size_t)O * oh * ow);
        for (i = 0; i < C * H * W; i++) in[i] = test_uniform();
        for (i = 0; i < O * C * K * K; i++) wt[i] = test_uniform();
        scalpel_im2col_f32(in, C, H, W, K, S, P, col);
        CHECK(guards_intact(col, (size_t)C * K * K * oh * ow, 0), "im2col wrote outside col");
        scalpel_gemm_f32(wt, O, C * K * K, col, oh * ow, out);
        for (o = 0; o < O; o++)
            for (oy = 0; oy < oh; oy++)
                for (ox = 0; ox < ow; ox++) {
                    double s = 0.0, sa = 0.0;
                    for (ch = 0; ch < C; ch++)
                        for (ki = 0; ki < K; ki++)
                            for (kj = 0; kj < K; kj++) {
                                int32_t iy = oy * S - P + ki, ix = ox * S - P + kj;
                                double t;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                t = (double)wt[((o * C + ch) * K + ki) * K + kj] * in[(ch * H + iy) * W + ix];
                                s += t; sa += fabs(t);
                            }
                    bad += !close_enough(out[(o * oh + oy) * ow + ox], (float)s, sa + 1e-6, C * K * K);
                }
        CHECK(bad == 0, "conv via im2col C%d H%d W%d K%d S%d P%d: %d off", (int)C, (int)H, (int)W, (int)K, (int)S, (int)P, (int)bad);
        free(in); free(wt); guarded_free(col, 0); free(out);
    }
    CHECK(scalpel_conv_out_dim(28, 5, 1, 0) == 24, "LeNet conv1 24x24");
    CHECK(scalpel_conv_out_dim(24, 2, 2, 0) == 12, "pool 12x12");
    CHECK(scalpel_conv_out_dim(3, 5, 1, 0) == -1, "window larger than input");
    CHECK(scalpel_conv_out_dim(8, 3, 0, 0) == -1, "stride 0");
    CHECK(scalpel_conv_out_dim(8, 3, 1, 3) == -1, "pad >= kernel");
}

/* scalpel_conv_gemm_f32: the convolution without the im2col matrix (stride 1, no padding).
 * Output widths around the vector widths (4, 8, 16: full vectors in pairs, an odd last one,
 * masked tails), 1..13 rows of A (the 6-row blocks and every remainder), k past one 256-row
 * block of offsets. Against a double-precision sum; on a vector build bit for bit against
 * im2col + scalpel_gemm_f32 (the same products in the same order); nothing written outside C. */
static void test_conv_gemm(void)
{
    int it;
    for (it = 0; it < TEST_ITERS / 20 + 10; it++) {
        int32_t C = it % 7 == 0 ? test_range(11, 14) : test_range(1, 4), K = test_range(1, 5);
        int32_t H = K - 1 + test_range(1, 10), W = K - 1 + test_range(1, 40), O = test_range(1, 13);
        int32_t oh = H - K + 1, ow = W - K + 1, i, o, ch, ki, kj, oy, ox, bad = 0, badr = 0;
        size_t nk = (size_t)C * K * K, nc = (size_t)O * oh * ow;
        float *in = alloc_floats((size_t)C * H * W), *wt = alloc_floats((size_t)O * nk);
        float *col = alloc_floats(nk * oh * ow), *want = alloc_floats(nc), *ref = alloc_floats(nc);
        float *out = guarded(nc, 0);
        for (i = 0; i < C * H * W; i++) in[i] = test_uniform();
        for (i = 0; i < (int32_t)(O * nk); i++) wt[i] = test_uniform();
        scalpel_conv_gemm_f32(wt, O, in, C, H, W, K, out);
        scalpel_conv_gemm_f32_ref(wt, O, in, C, H, W, K, ref);
        CHECK(guards_intact(out, nc, 0), "conv_gemm wrote outside C (C%d H%d W%d K%d O%d)", (int)C, (int)H, (int)W, (int)K, (int)O);
        scalpel_im2col_f32(in, C, H, W, K, 1, 0, col);
        scalpel_gemm_f32(wt, O, (int32_t)nk, col, oh * ow, want);
        if (scalpel_kernels_vector_width() > 1)
            CHECK(memcmp(out, want, nc * sizeof(float)) == 0, "conv_gemm == im2col + gemm bit for bit (C%d H%d W%d K%d O%d)",
                  (int)C, (int)H, (int)W, (int)K, (int)O);
        for (o = 0; o < O; o++)
            for (oy = 0; oy < oh; oy++)
                for (ox = 0; ox < ow; ox++) {
                    double s = 0.0, sa = 0.0;
                    size_t q = ((size_t)o * oh + oy) * ow + ox;
                    for (ch = 0; ch < C; ch++)
                        for (ki = 0; ki < K; ki++)
                            for (kj = 0; kj < K; kj++) {
                                double t = (double)wt[((o * C + ch) * K + ki) * K + kj] * in[(ch * H + oy + ki) * W + ox + kj];
                                s += t; sa += fabs(t);
                            }
                    bad += !close_enough(out[q], (float)s, sa + 1e-6, (int32_t)nk);
                    badr += !close_enough(ref[q], (float)s, sa + 1e-6, (int32_t)nk);
                }
        CHECK(bad == 0 && badr == 0, "conv_gemm C%d H%d W%d K%d O%d: %d off (ref %d)", (int)C, (int)H, (int)W, (int)K, (int)O,
              (int)bad, (int)badr);
        free(in); free(wt); free(col); free(want); free(ref); guarded_free(out, 0);
    }
    CHECK(scalpel_kernels_vector_width() == 1 || scalpel_kernels_vector_width() == 4 ||
          scalpel_kernels_vector_width() == 8 || scalpel_kernels_vector_width() == 16, "vector width");
}

/* ---- bias + ReLU, ReLU, max pooling: exact, so fast == ref bit for bit (a NaN as any NaN) ---- */

/* A value for the elementwise tests: mostly uniform, sometimes a special one (NaN, infinities,
 * both zeros, ties from a few small integers) when `specials`. */
static float special_value(int specials)
{
    int32_t k = test_range(0, 19);
    if (!specials || k > 8) return k == 9 ? (float)test_range(-2, 2) : test_uniform();
    switch (k) {
    case 0: return (float)NAN;
    case 1: return -(float)NAN;
    case 2: return (float)INFINITY;
    case 3: return -(float)INFINITY;
    case 4: return 0.0f;
    case 5: return -0.0f;
    case 6: return FLT_MAX;
    case 7: return FLT_MIN;
    default: return (float)test_range(-2, 2);
    }
}
/* bits equal, or both NaN (a NaN's payload may depend on the operand order a compiler picks) */
static int same_f32(float a, float b)
{
    if (a != a && b != b) return 1;
    return memcmp(&a, &b, sizeof a) == 0;
}

static void test_bias_relu(void)
{
    int it;
    for (it = 0; it < TEST_ITERS / 4 + 20; it++) {
        /* n == 1 half the time (a fully connected layer at batch 1), else feature maps around
         * the vector widths; rows past several vectors with every tail */
        int32_t rows = test_range(0, 3) == 0 ? test_range(0, 40) : test_range(1, TEST_MAX_DIM);
        int32_t n = it % 2 ? 1 : test_range(0, 3) == 0 ? test_range(1, 40) : test_range(1, 200 > TEST_MAX_DIM ? TEST_MAX_DIM : 200);
        int32_t relu = test_range(0, 1), mis = test_range(0, 1), specials = test_range(0, 2) == 0, bad = 0;
        size_t total = (size_t)rows * (size_t)n, i;
        float *b0 = alloc_floats((size_t)rows), *y0 = alloc_floats(total), *ref = alloc_floats(total), *bb, *ba, *y;
        for (i = 0; i < (size_t)rows; i++) b0[i] = special_value(specials);
        for (i = 0; i < total; i++) y0[i] = special_value(specials);
        ba = copy_in(b0, (size_t)rows, test_range(0, 1), &bb);
        memcpy(ref, y0, total * sizeof(float));
        scalpel_bias_relu_f32_ref(ref, b0, rows, n, relu);
        y = guarded(total, mis);
        memcpy(y, y0, total * sizeof(float));
        scalpel_bias_relu_f32(y, ba, rows, n, relu);
        for (i = 0; i < total; i++) {
            float v = y0[i] + b0[i / (size_t)n];
            bad += !same_f32(y[i], ref[i]);
            /* the oracle itself: the sum, or its ReLU with NaN -> 0 and -0 -> +0 */
            if (relu) bad += !same_f32(ref[i], v > 0.0f ? v : 0.0f);
            else bad += !same_f32(ref[i], v);
        }
        CHECK(bad == 0, "bias_relu rows %d n %d relu %d: %d outputs off", (int)rows, (int)n, (int)relu, (int)bad);
        CHECK(guards_intact(y, total, mis), "bias_relu rows %d n %d wrote outside y", (int)rows, (int)n);
        guarded_free(y, mis);
        free(b0); free(y0); free(ref); free(bb);
    }
}

/* Every special value at every lane of a vector and of the scalar tail: lengths 0 .. 40 (past
 * two 16-lane vectors), each value in turn at each position. */
static const float *specials_list(int32_t *count)
{
    static float v[10];
    v[0] = (float)NAN; v[1] = -(float)NAN; v[2] = (float)INFINITY; v[3] = -(float)INFINITY; v[4] = 0.0f;
    v[5] = -0.0f; v[6] = FLT_MAX; v[7] = -FLT_MIN; v[8] = 1.0f; v[9] = -1.0f;
    *count = 10;
    return v;
}
static void test_elementwise_specials(void)
{
    int32_t cnt, n, s, i, bad = 0;
    const float *sp = specials_list(&cnt);
    for (n = 0; n <= 40; n++)
        for (s = 0; s < cnt; s++) {
            float x[41], y[41 + 1], ref[41], b[41], yb[41 + 1], refb[41];
            int32_t relu = s & 1;
            for (i = 0; i < n; i++) {
                x[i] = sp[(s + i) % cnt];
                b[i] = sp[(s + 3 * i + 1) % cnt];
            }
            y[n] = GUARD_VALUE;
            scalpel_relu_f32(x, (size_t)n, y);
            scalpel_relu_f32_ref(x, (size_t)n, ref);
            memcpy(yb, x, (size_t)n * sizeof(float));
            memcpy(refb, x, (size_t)n * sizeof(float));
            yb[n] = GUARD_VALUE;
            scalpel_bias_relu_f32(yb, b, n, 1, relu);       /* n rows of 1 */
            scalpel_bias_relu_f32_ref(refb, b, n, 1, relu);
            for (i = 0; i < n; i++) bad += memcmp(&y[i], &ref[i], sizeof(float)) != 0 || !same_f32(yb[i], refb[i]);
            bad += y[n] != GUARD_VALUE || yb[n] != GUARD_VALUE;
            memcpy(yb, x, (size_t)n * sizeof(float));
            memcpy(refb, x, (size_t)n * sizeof(float));
            if (n > 0) {
                scalpel_bias_relu_f32(yb, b, 1, n, relu);   /* one row of n */
                scalpel_bias_relu_f32_ref(refb, b, 1, n, relu);
            }
            for (i = 0; i < n; i++) bad += !same_f32(yb[i], refb[i]);
            bad += yb[n] != GUARD_VALUE;
            scalpel_relu_f32(x, (size_t)n, x);              /* in place */
            for (i = 0; i < n; i++) bad += memcmp(&x[i], &ref[i], sizeof(float)) != 0;
        }
    CHECK(bad == 0, "relu / bias_relu on special values: %d off", (int)bad);
}

static void test_relu(void)
{
    int it;
    for (it = 0; it < TEST_ITERS / 4 + 20; it++) {
        size_t n = (size_t)(test_range(0, 3) == 0 ? test_range(0, 40) : test_range(1, 4 * TEST_MAX_DIM)), i;
        int32_t mis = test_range(0, 1), in_place = test_range(0, 1), specials = test_range(0, 1), bad = 0;
        float *x0 = alloc_floats(n), *ref = alloc_floats(n), *xb, *xa, *y;
        for (i = 0; i < n; i++) x0[i] = special_value(specials);
        scalpel_relu_f32_ref(x0, n, ref);
        y = guarded(n, mis);
        if (in_place) {
            memcpy(y, x0, n * sizeof(float));
            scalpel_relu_f32(y, n, y);
            xb = NULL;
        } else {
            xa = copy_in(x0, n, test_range(0, 1), &xb);
            scalpel_relu_f32(xa, n, y);
            for (i = 0; i < n; i++) bad += !same_f32(xa[i], x0[i]); /* the input is left alone */
        }
        for (i = 0; i < n; i++) {
            float want = x0[i] > 0.0f ? x0[i] : 0.0f;
            bad += memcmp(&y[i], &ref[i], sizeof(float)) != 0 || memcmp(&ref[i], &want, sizeof(float)) != 0;
        }
        CHECK(bad == 0, "relu n %lu in place %d: %d outputs off", (unsigned long)n, (int)in_place, (int)bad);
        CHECK(guards_intact(y, n, mis), "relu n %lu wrote outside y", (unsigned long)n);
        guarded_free(y, mis);
        free(x0); free(ref); free(xb);
    }
}

/* Max pooling: 2x2 / stride 2 (the row kernel) half the time, with odd widths and heights,
 * widths past two AVX2 steps; kernel 3 at stride 1 and 2; any kernel 1..4 with stride 1..3.
 * Windows without a NaN must match the oracle's value (== : the 2x2 row kernel may give the
 * other zero when -0 and +0 tie); a window with a NaN may give the NaN or any of its values. */
static void test_maxpool(void)
{
    int it;
    for (it = 0; it < TEST_ITERS / 10 + 30; it++) {
        int32_t shape = it % 4, K, S, C = test_range(1, 4), H, W, oh, ow, ch, oy, ox, ky, kx, bad = 0, badw = 0;
        int32_t specials = test_range(0, 2) == 0, mis = test_range(0, 1);
        size_t nin, nout, i;
        float *x0, *xa, *xb, *y, *ref;
        if (shape < 2) { K = 2; S = 2; }
        else if (shape == 2) { K = 3; S = test_range(1, 2); }
        else { K = test_range(1, 4); S = test_range(1, 3); }
        H = test_range(K, K + 12);
        W = test_range(K, K + 45);
        oh = (H - K) / S + 1;
        ow = (W - K) / S + 1;
        CHECK(oh == scalpel_conv_out_dim(H, K, S, 0) && ow == scalpel_conv_out_dim(W, K, S, 0), "maxpool shape");
        nin = (size_t)C * H * W;
        nout = (size_t)C * oh * ow;
        x0 = alloc_floats(nin);
        ref = alloc_floats(nout);
        for (i = 0; i < nin; i++) x0[i] = special_value(specials);
        xa = copy_in(x0, nin, test_range(0, 1), &xb);
        scalpel_maxpool_f32_ref(x0, C, H, W, K, S, ref);
        y = guarded(nout, mis);
        scalpel_maxpool_f32(xa, C, H, W, K, S, y);
        for (ch = 0; ch < C; ch++)
            for (oy = 0; oy < oh; oy++)
                for (ox = 0; ox < ow; ox++) {
                    size_t q = ((size_t)ch * oh + oy) * ow + ox;
                    int nan = 0, found = 0;
                    double m = -INFINITY;
                    for (ky = 0; ky < K; ky++)
                        for (kx = 0; kx < K; kx++) {
                            float v = x0[((size_t)ch * H + oy * S + ky) * W + ox * S + kx];
                            if (v != v) nan = 1;
                            else if (v > m) m = v;
                            if (same_f32(v, y[q]) || v == y[q]) found = 1;
                        }
                    if (nan) { badw += !found; continue; }
                    bad += !(y[q] == ref[q] && (double)ref[q] == m);
                    if (K != 2 || S != 2) bad += !same_f32(y[q], ref[q]); /* the oracle's own loop */
                }
        CHECK(bad == 0 && badw == 0, "maxpool C%d H%d W%d K%d S%d: %d off, %d NaN windows off", (int)C, (int)H, (int)W,
              (int)K, (int)S, (int)bad, (int)badw);
        CHECK(guards_intact(y, nout, mis), "maxpool C%d H%d W%d K%d S%d wrote outside y", (int)C, (int)H, (int)W, (int)K, (int)S);
        guarded_free(y, mis);
        free(x0); free(xb); free(ref);
    }
    {   /* a window that does not fit writes nothing */
        float x[4] = { 1, 2, 3, 4 }, y[2] = { GUARD_VALUE, GUARD_VALUE };
        scalpel_maxpool_f32(x, 1, 1, 4, 2, 2, y);
        scalpel_maxpool_f32_ref(x, 1, 1, 4, 2, 2, y);
        CHECK(y[0] == GUARD_VALUE && y[1] == GUARD_VALUE, "maxpool h < kernel writes nothing");
    }
}

/* The backend's description agrees with the two functions that read from it. */
static void test_backend_info(void)
{
    const scalpel_backend_info *info = scalpel_kernels_backend_info();
    CHECK(info != NULL && info == scalpel_kernels_backend_info(), "backend info");
    if (info == NULL) return;
    CHECK(info->name != NULL && strcmp(info->name, scalpel_kernels_backend()) == 0, "backend name %s", info->name);
    CHECK(info->f32_lanes == scalpel_kernels_vector_width(), "lanes %d, vector width %d", (int)info->f32_lanes,
          (int)scalpel_kernels_vector_width());
    CHECK(info->default_profile != NULL && info->default_profile[0] != 0, "default profile");
}

int main(void)
{
    printf("scalpel %s kernels, backend %s\n", SCALPEL_VERSION_STRING, scalpel_kernels_backend());
    test_degenerate();
    test_gemv_spmv();
    test_gemm_spmm();
    test_im2col();
    test_conv_gemm();
    test_bias_relu();
    test_elementwise_specials();
    test_relu();
    test_maxpool();
    test_backend_info();
    return test_summary("test_kernels");
}
