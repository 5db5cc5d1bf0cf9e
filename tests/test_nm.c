/* test_nm.c - the N:M structured format and the exact grouped + CSR hybrid, with their kernels.
 *
 * N:M: the projection against an independent oracle (each group keeps the N largest
 * magnitudes, ties to the lowest position, padding at the lowest free positions) for every
 * M in {2, 4, 8, 16} and N in 1..M on shapes with tails, cols < M and zero rows / cols;
 * count_overflow against losslessness; the derived fields and storage size; argument errors;
 * the validator on hand-corrupted structs and against an independent validity check; the
 * serialized form (round trips, every truncation, every byte flip, header fields rewritten
 * with the CRC fixed up, random mutations); the spmv / spmm kernels (AVX2 gather path for
 * 8 % N == 0, plain otherwise) and their _acc variants against the _ref oracles and an exact
 * double sum, with NaN guards around every output and inputs allocated to their exact size.
 *
 * Hybrid: from_dense for every G and several cost pairs (all grouped, all CSR, in between):
 * exact round trip, a row split that is a threshold and minimises the documented cost, the
 * kernels against dense gemv / gemm, argument errors, hand-built overlapping parts.
 *
 * Tolerance: |fast - ref| <= 2 * n * FLT_EPSILON * sum |w_i x_i| + tiny (see scalpel_kernels.h).
 * Runs on the host (every SIMD backend, ASan/UBSan, C++) and on emulated Cortex-M4 / M55. */
#include <stdlib.h>
#include <string.h>

#include "counting_alloc.h"
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

#include <float.h>

#ifndef TEST_ITERS
#define TEST_ITERS 3000      /* scales every random loop below */
#endif
#ifndef TEST_MAX_DIM
#define TEST_MAX_DIM 300     /* bounds rows and cols of the kernel tests */
#endif
#define GUARD 4
#define SENTINEL_BITS 0x7FC0BEEFu /* a quiet NaN written around every output */

static const int32_t ms[4] = { 2, 4, 8, 16 };

/* ---- helpers ---------------------------------------------------------------------------------- */

static uint32_t bits_of(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }
static float from_bits(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static int32_t min32(int32_t a, int32_t b) { return a < b ? a : b; }

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        printf("out of memory for %lu bytes: lower TEST_MAX_DIM for this target\n", (unsigned long)n);
        exit(2);
    }
    return p;
}
static float *alloc_floats(size_t n) { return (float *)xmalloc(n * sizeof(float)); }

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static void fix_crc(unsigned char *buf, size_t size) { put32(buf + size - 4, scalpel_crc32(0, buf, size - 4)); }

/* Random weights. kind 0: every value nonzero; 1: zeros at a random rate; 2: few distinct
 * magnitudes of both signs (ties everywhere); 3: whole aligned windows of gz zeroed; 4: all
 * zero. Some rows are emptied. Zeros are +0.0 (a -0.0 is a zero the formats may store as +0.0). */
static void random_matrix(float *w, int32_t rows, int32_t cols)
{
    int32_t kind = test_range(0, 9), rate = test_range(0, 100), gz = 1 << test_range(0, 4), r, c;
    if (kind >= 5) kind = test_range(0, 3);
    for (r = 0; r < rows; r++) {
        int empty = kind != 0 && test_range(0, 9) == 0;
        for (c = 0; c < cols; c++) {
            float v;
            if (kind == 2) {
                v = (float)test_range(1, 3) * 0.5f;
                if (test_range(0, 1)) v = -v;
            }
            else { v = test_uniform(); if (v == 0.0f) v = 0.125f; }
            if (kind == 4 || empty || ((kind == 1 || kind == 2) && test_range(0, 99) < rate)) v = 0.0f;
            w[(size_t)r * cols + c] = v;
        }
        if (kind == 3)
            for (c = 0; c < cols; c += gz)
                if (test_range(0, 99) < rate) {
                    int32_t j;
                    for (j = c; j < c + gz && j < cols; j++) w[(size_t)r * cols + j] = 0.0f;
                }
    }
}

/* Output buffer with GUARD NaN sentinels before and after (one more after when not shifted). */
static float *guarded(size_t n, int32_t misalign)
{
    float *p = alloc_floats(n + 2 * GUARD + 1);
    size_t i;
    for (i = 0; i < n + 2 * GUARD + 1; i++) p[i] = from_bits(SENTINEL_BITS);
    return p + GUARD + misalign;
}
static int guards_intact(const float *out, size_t n, int32_t misalign)
{
    const float *base = out - GUARD - misalign;
    size_t i;
    for (i = 0; i < (size_t)(GUARD + misalign); i++) if (bits_of(base[i]) != SENTINEL_BITS) return 0;
    for (i = 0; i < GUARD + 1 - (size_t)misalign; i++) if (bits_of(out[n + i]) != SENTINEL_BITS) return 0;
    return 1;
}
static void guarded_free(float *out, int32_t misalign) { free(out - GUARD - misalign); }

/* Copy of src[n] in an allocation of exactly n (+ misalign) floats, so ASan sees any overread. */
static float *copy_in(const float *src, size_t n, int32_t misalign, float **base)
{
    *base = alloc_floats(n + (size_t)misalign);
    if (n) memcpy(*base + misalign, src, n * sizeof(float));
    return *base + misalign;
}

/* |got - want| within the summation bound; want is exact (double), scale = sum |terms|. */
static int close_enough(float got, double want, double scale, int32_t terms)
{
    double tol = 2.0 * (terms + 2) * FLT_EPSILON * scale + 1e-30;
    return fabs((double)got - want) <= tol;
}

static int32_t expect_bits(int32_t m) { return m == 2 ? 1 : m == 4 ? 2 : 4; }

/* ---- the oracle of the N:M projection ---------------------------------------------------------- */

/* keep[j] for the group at column c0 of one row: position j has fewer than n positions ranked
 * before it, a position ranking before j when its magnitude is larger, or equal and lower.
 * Positions past cols have magnitude 0. */
static void oracle_keep(const float *row, int32_t cols, int32_t c0, int32_t n, int32_t m, int *keep)
{
    float a[SCALPEL_NM_MAX_M];
    int32_t i, j;
    for (j = 0; j < m; j++) {
        float v = c0 + j < cols ? row[c0 + j] : 0.0f;
        a[j] = v < 0.0f ? -v : v;
    }
    for (j = 0; j < m; j++) {
        int32_t rank = 0;
        for (i = 0; i < m; i++) rank += a[i] > a[j] || (a[i] == a[j] && i < j);
        keep[j] = rank < n;
    }
}

/* Checks everything about m = from_dense(w, rows, cols, n, M): fields, every slot against the
 * oracle, to_dense against the projection, count_overflow against losslessness. */
static void check_projection(const float *w, int32_t rows, int32_t cols, int32_t n, int32_t M, const scalpel_nm *m)
{
    int32_t groups = (cols + M - 1) / M, stride = (groups * n * expect_bits(M) + 7) / 8, r, g, j;
    int32_t bad_slot = 0, overflow = 0;
    float *proj = alloc_floats((size_t)rows * cols), *back = alloc_floats((size_t)rows * cols);
    int64_t counted = -1;
    int lossless;
    CHECK(m->rows == rows && m->cols == cols && m->n == n && m->m == M, "shape fields %d:%d", (int)n, (int)M);
    CHECK(m->groups == groups, "groups %d, want %d (cols %d, M %d)", (int)m->groups, (int)groups, (int)cols, (int)M);
    CHECK(m->index_bits == expect_bits(M), "index_bits %d for M %d", (int)m->index_bits, (int)M);
    CHECK(m->meta_stride == stride, "meta_stride %d, want %d", (int)m->meta_stride, (int)stride);
    CHECK(scalpel_nm_bytes(m) == (size_t)rows * groups * n * 4 + (size_t)rows * stride, "bytes %d:%d", (int)n, (int)M);
    CHECK(scalpel_nm_validate(m) == SCALPEL_OK, "built matrix validates");
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * cols;
        for (g = 0; g < groups; g++) {
            int keep[SCALPEL_NM_MAX_M], nz = 0;
            int32_t k = g * n;
            oracle_keep(row, cols, g * M, n, M, keep);
            for (j = 0; j < M; j++) {
                int32_t c = g * M + j;
                if (c < cols) {
                    nz += row[c] != 0.0f;
                    proj[(size_t)r * cols + c] = keep[j] ? row[c] : 0.0f;
                }
                if (!keep[j]) continue;
                /* slot k holds position j and its value (0 past cols) */
                if (scalpel_nm_position(m, r, k) != j ||
                    bits_of(m->values[((size_t)r * groups + g) * n + (k - g * n)]) != bits_of(c < cols ? row[c] : 0.0f))
                    bad_slot++;
                k++;
            }
            overflow += nz > n;
        }
    }
    CHECK(bad_slot == 0, "%dx%d %d:%d: %d slots differ from the oracle", (int)rows, (int)cols, (int)n, (int)M, (int)bad_slot);
    CHECK(scalpel_nm_to_dense(m, back) == SCALPEL_OK, "to_dense");
    CHECK(memcmp(back, proj, (size_t)rows * cols * 4) == 0, "%dx%d %d:%d: to_dense is not the projection",
          (int)rows, (int)cols, (int)n, (int)M);
    CHECK(scalpel_nm_count_overflow(w, rows, cols, n, M, &counted) == SCALPEL_OK && counted == overflow,
          "count_overflow %d, want %d", (int)counted, (int)overflow);
    lossless = memcmp(back, w, (size_t)rows * cols * 4) == 0;
    CHECK((counted == 0) == lossless, "%dx%d %d:%d: count_overflow %d but lossless %d", (int)rows, (int)cols,
          (int)n, (int)M, (int)counted, lossless);
    if (n == M) CHECK(lossless && counted == 0, "N == M is lossless");
    free(proj);
    free(back);
}

static int same_nm(const scalpel_nm *a, const scalpel_nm *b)
{
    size_t slots;
    if (a->rows != b->rows || a->cols != b->cols || a->n != b->n || a->m != b->m || a->groups != b->groups ||
        a->index_bits != b->index_bits || a->meta_stride != b->meta_stride)
        return 0;
    slots = (size_t)a->rows * a->groups * a->n;
    if (slots && memcmp(a->values, b->values, slots * 4) != 0) return 0;
    return (size_t)a->rows * a->meta_stride == 0 || memcmp(a->meta, b->meta, (size_t)a->rows * a->meta_stride) == 0;
}

static void test_projection(void)
{
    int it;
    for (it = 0; it < TEST_ITERS / 12 + 20; it++) {
        /* shapes: small, tails, cols < M, zero rows / cols */
        int32_t rows = test_range(0, 3) == 0 ? test_range(0, 2) : test_range(1, 24);
        int32_t cols = test_range(0, 3) == 0 ? test_range(0, 17) : test_range(1, 90), mi, n;
        float *w = alloc_floats((size_t)rows * cols);
        random_matrix(w, rows, cols);
        for (mi = 0; mi < 4; mi++)
            for (n = 1; n <= ms[mi]; n++) {
                scalpel_nm m, r;
                scalpel_status st = scalpel_nm_from_dense(w, rows, cols, n, ms[mi], &m);
                size_t bytes = 0, need, written = 0, blk = 0;
                unsigned char *buf;
                void *mem;
                CHECK(st == SCALPEL_OK, "from_dense %dx%d %d:%d: %s", (int)rows, (int)cols, (int)n, (int)ms[mi],
                      scalpel_status_string(st));
                if (st != SCALPEL_OK) continue;
                check_projection(w, rows, cols, n, ms[mi], &m);
                /* into caller memory: same bits, block NULL */
                CHECK(scalpel_nm_from_dense_size(rows, cols, n, ms[mi], &bytes) == SCALPEL_OK && bytes > 0, "size");
                mem = xmalloc(bytes);
                CHECK(scalpel_nm_from_dense_into(w, rows, cols, n, ms[mi], mem, bytes, &r) == SCALPEL_OK &&
                      same_nm(&m, &r) && r.block == NULL, "from_dense_into");
                scalpel_nm_free(&r);
                free(mem);
                /* serialization round trip, bit exact */
                need = scalpel_nm_serialized_size(&m);
                CHECK(need == 48 + ((size_t)rows * m.meta_stride + 3) / 4 * 4 + (size_t)rows * m.groups * n * 4 + 4,
                      "serialized size %lu", (unsigned long)need);
                buf = (unsigned char *)xmalloc(need);
                CHECK(scalpel_nm_serialize(&m, buf, need - 1, &written) == SCALPEL_ERR_BUFFER_TOO_SMALL && written == 0,
                      "capacity checked");
                CHECK(scalpel_nm_serialize(&m, buf, need, &written) == SCALPEL_OK && written == need, "serialize");
                CHECK(scalpel_nm_deserialize(buf, need, &r) == SCALPEL_OK && same_nm(&m, &r), "round trip %dx%d %d:%d",
                      (int)rows, (int)cols, (int)n, (int)ms[mi]);
                scalpel_nm_free(&r);
                CHECK(scalpel_nm_deserialize_size(buf, need, &blk) == SCALPEL_OK && blk > 0, "deserialize_size");
                mem = xmalloc(blk);
                CHECK(scalpel_nm_deserialize_into(buf, need, mem, blk, &r) == SCALPEL_OK && same_nm(&m, &r) &&
                      r.block == NULL, "deserialize_into");
                scalpel_nm_free(&r);
                free(mem);
                free(buf);
                scalpel_nm_free(&m);
                CHECK(m.values == NULL && m.block == NULL && m.rows == 0, "free zeroes");
            }
        free(w);
    }
}

/* Hand-picked groups: ties of both signs, ties with zeros, padding positions, tails. */
static void test_projection_cases(void)
{
    /* one row, M = 4, cols = 10: groups [a b c d] [e f g h] [i j - -] */
    static const float w[10] = { -1.0f, 1.0f, 0.5f, -1.0f, 0.0f, 0.0f, 0.0f, 3.0f, 0.0f, -2.0f };
    float back[10];
    scalpel_nm m;
    int64_t ov = -1;
    CHECK(scalpel_nm_from_dense(w, 1, 10, 2, 4, &m) == SCALPEL_OK, "2:4");
    /* group 0: |-1| at 0 and |1| at 1 tie with |-1| at 3: positions 0, 1 */
    CHECK(scalpel_nm_position(&m, 0, 0) == 0 && scalpel_nm_position(&m, 0, 1) == 1, "ties go to the lowest positions");
    CHECK(m.values[0] == -1.0f && m.values[1] == 1.0f, "kept values");
    /* group 1: 3 at position 3, padding at the lowest free position 0 */
    CHECK(scalpel_nm_position(&m, 0, 2) == 0 && scalpel_nm_position(&m, 0, 3) == 3, "padding at the lowest free position");
    CHECK(m.values[2] == 0.0f && m.values[3] == 3.0f, "padding value 0");
    /* group 2 (cols 8, 9 only): -2 at 1, then 0 at position 0 (before the columns past cols) */
    CHECK(scalpel_nm_position(&m, 0, 4) == 0 && scalpel_nm_position(&m, 0, 5) == 1, "tail group");
    CHECK(scalpel_nm_to_dense(&m, back) == SCALPEL_OK && back[0] == -1.0f && back[1] == 1.0f && back[2] == 0.0f &&
          back[3] == 0.0f && back[7] == 3.0f && back[9] == -2.0f, "to_dense");
    CHECK(scalpel_nm_count_overflow(w, 1, 10, 2, 4, &ov) == SCALPEL_OK && ov == 1, "one group over 2 (got %d)", (int)ov);
    scalpel_nm_free(&m);
    /* 1:2 on a row of one column: the tail slot keeps column 0 */
    CHECK(scalpel_nm_from_dense(w + 9, 1, 1, 1, 2, &m) == SCALPEL_OK && m.groups == 1 && m.meta_stride == 1 &&
          scalpel_nm_position(&m, 0, 0) == 0 && m.values[0] == -2.0f, "1x1 at 1:2");
    scalpel_nm_free(&m);
    /* 3:16 on 5 columns: positions 0..2 of the real ones, the rest past cols never chosen */
    CHECK(scalpel_nm_from_dense(w + 4, 1, 5, 3, 16, &m) == SCALPEL_OK, "3:16 on 5 columns");
    CHECK(scalpel_nm_position(&m, 0, 0) == 0 && scalpel_nm_position(&m, 0, 1) == 1 && scalpel_nm_position(&m, 0, 2) == 3,
          "3:16 keeps 3.0 at 3 and pads at 0, 1 (got %d %d %d)", (int)scalpel_nm_position(&m, 0, 0),
          (int)scalpel_nm_position(&m, 0, 1), (int)scalpel_nm_position(&m, 0, 2));
    CHECK(m.meta_stride == 2 && m.index_bits == 4, "3 slots x 4 bits: 2 bytes");
    scalpel_nm_free(&m);
    /* a -0.0 the projection drops comes back as +0.0: equal as a value */
    {
        static const float z[4] = { 0.0f, -0.0f, 5.0f, 0.0f };
        float zb[4];
        CHECK(scalpel_nm_from_dense(z, 1, 4, 2, 4, &m) == SCALPEL_OK && scalpel_nm_to_dense(&m, zb) == SCALPEL_OK &&
              zb[0] == z[0] && zb[1] == z[1] && zb[2] == z[2] && zb[3] == z[3], "-0.0 round trip by value");
        scalpel_nm_free(&m);
    }
    /* zero rows, zero cols */
    CHECK(scalpel_nm_from_dense(w, 0, 7, 1, 4, &m) == SCALPEL_OK && m.groups == 2 && scalpel_nm_bytes(&m) == 0 &&
          scalpel_nm_validate(&m) == SCALPEL_OK, "0x7");
    scalpel_nm_free(&m);
    CHECK(scalpel_nm_from_dense(w, 3, 0, 2, 8, &m) == SCALPEL_OK && m.groups == 0 && m.meta_stride == 0 &&
          scalpel_nm_bytes(&m) == 0 && scalpel_nm_to_dense(&m, back) == SCALPEL_OK, "3x0");
    scalpel_nm_free(&m);
}

/* ---- argument errors -------------------------------------------------------------------------- */

static int zeroed_nm(const scalpel_nm *m)
{
    return m->rows == 0 && m->cols == 0 && m->n == 0 && m->m == 0 && m->groups == 0 && m->index_bits == 0 &&
           m->meta_stride == 0 && m->values == NULL && m->meta == NULL && m->block == NULL && m->alloc_ctx == NULL;
}

static void test_arguments(void)
{
    float w[4 * 12];
    static const int32_t bad_n[][2] = { { 0, 4 }, { 5, 4 }, { 3, 2 }, { 17, 16 }, { -1, 8 }, { 9, 8 } };
    static const int32_t bad_m[] = { 1, 3, 0, -4, 5, 6, 12, 32, 64 };
    scalpel_nm m, z;
    size_t bytes, i;
    int64_t ov;
    uint64_t mem64[64];
    unsigned char buf[256];
    counting_alloc a = { 0, 0, -1 }, failing = { 0, 0, 0 };
    for (i = 0; i < 48; i++) w[i] = (float)(i % 5);
    memset(&z, 0, sizeof(z));
    scalpel_nm_free(&z);
    scalpel_nm_free(NULL);

#define FAILS(call, code, what)                                                                     \
    do {                                                                                           \
        scalpel_status st_;                                                                        \
        memset(&m, 0xA5, sizeof(m));                                                               \
        st_ = (call);                                                                              \
        CHECK(st_ == (code), "%s: got %s", what, scalpel_status_string(st_));                      \
        CHECK(zeroed_nm(&m), "%s: out not zeroed", what);                                          \
    } while (0)
    for (i = 0; i < sizeof(bad_n) / sizeof(bad_n[0]); i++) {
        FAILS(scalpel_nm_from_dense(w, 4, 12, bad_n[i][0], bad_n[i][1], &m), SCALPEL_ERR_ARGUMENT, "bad N");
        FAILS(scalpel_nm_from_dense_into(w, 4, 12, bad_n[i][0], bad_n[i][1], mem64, sizeof(mem64), &m), SCALPEL_ERR_ARGUMENT, "into: bad N");
        bytes = 99;
        CHECK(scalpel_nm_from_dense_size(4, 12, bad_n[i][0], bad_n[i][1], &bytes) == SCALPEL_ERR_ARGUMENT && bytes == 0, "size: bad N");
        ov = 99;
        CHECK(scalpel_nm_count_overflow(w, 4, 12, bad_n[i][0], bad_n[i][1], &ov) == SCALPEL_ERR_ARGUMENT && ov == 0, "count: bad N");
    }
    for (i = 0; i < sizeof(bad_m) / sizeof(bad_m[0]); i++) {
        FAILS(scalpel_nm_from_dense(w, 4, 12, 1, bad_m[i], &m), SCALPEL_ERR_ARGUMENT, "bad M");
        FAILS(scalpel_nm_from_dense_into(w, 4, 12, 1, bad_m[i], mem64, sizeof(mem64), &m), SCALPEL_ERR_ARGUMENT, "into: bad M");
        CHECK(scalpel_nm_from_dense_size(4, 12, 1, bad_m[i], &bytes) == SCALPEL_ERR_ARGUMENT, "size: bad M %d", (int)bad_m[i]);
        CHECK(scalpel_nm_count_overflow(w, 4, 12, 1, bad_m[i], &ov) == SCALPEL_ERR_ARGUMENT, "count: bad M");
    }
    FAILS(scalpel_nm_from_dense(w, -1, 12, 2, 4, &m), SCALPEL_ERR_SHAPE, "rows < 0");
    FAILS(scalpel_nm_from_dense(w, 4, -12, 2, 4, &m), SCALPEL_ERR_SHAPE, "cols < 0");
    FAILS(scalpel_nm_from_dense(w, INT32_MIN, 12, 2, 4, &m), SCALPEL_ERR_SHAPE, "rows INT32_MIN");
    FAILS(scalpel_nm_from_dense_into(w, 4, -1, 2, 4, mem64, sizeof(mem64), &m), SCALPEL_ERR_SHAPE, "into: cols < 0");
    CHECK(scalpel_nm_from_dense_size(-3, 12, 2, 4, &bytes) == SCALPEL_ERR_SHAPE && bytes == 0, "size: rows < 0");
    CHECK(scalpel_nm_count_overflow(w, 4, -2, 2, 4, &ov) == SCALPEL_ERR_SHAPE, "count: cols < 0");
    FAILS(scalpel_nm_from_dense(NULL, 4, 12, 2, 4, &m), SCALPEL_ERR_NULL, "w NULL");
    FAILS(scalpel_nm_from_dense_into(NULL, 4, 12, 2, 4, mem64, sizeof(mem64), &m), SCALPEL_ERR_NULL, "into: w NULL");
    FAILS(scalpel_nm_from_dense_into(w, 4, 12, 2, 4, NULL, sizeof(mem64), &m), SCALPEL_ERR_NULL, "into: mem NULL");
    FAILS(scalpel_nm_from_dense_into(w, 4, 12, 2, 4, (char *)mem64 + 1, sizeof(mem64) - 1, &m), SCALPEL_ERR_ALIGNMENT, "into: misaligned");
    FAILS(scalpel_nm_from_dense_into(w, 4, 12, 2, 4, (char *)mem64 + 2, sizeof(mem64) - 2, &m), SCALPEL_ERR_ALIGNMENT, "into: misaligned by 2");
    CHECK(scalpel_nm_from_dense_size(4, 12, 2, 4, &bytes) == SCALPEL_OK && bytes <= sizeof(mem64), "size 4x12 2:4");
    FAILS(scalpel_nm_from_dense_into(w, 4, 12, 2, 4, mem64, bytes - 1, &m), SCALPEL_ERR_BUFFER_TOO_SMALL, "into: one byte short");
    FAILS(scalpel_nm_from_dense_into(w, 4, 12, 2, 4, mem64, 0, &m), SCALPEL_ERR_BUFFER_TOO_SMALL, "into: no memory");
    CHECK(scalpel_nm_from_dense_into(w, 4, 12, 2, 4, (char *)mem64 + 4, bytes, &m) == SCALPEL_OK, "into: 4-aligned is enough");
    CHECK(scalpel_nm_from_dense(w, 4, 12, 2, 4, NULL) == SCALPEL_ERR_NULL, "out NULL");
    CHECK(scalpel_nm_from_dense_into(w, 4, 12, 2, 4, mem64, sizeof(mem64), NULL) == SCALPEL_ERR_NULL, "into: out NULL");
    CHECK(scalpel_nm_from_dense_size(4, 12, 2, 4, NULL) == SCALPEL_ERR_NULL, "size: bytes NULL");
    CHECK(scalpel_nm_count_overflow(w, 4, 12, 2, 4, NULL) == SCALPEL_ERR_NULL, "count: groups NULL");
    CHECK(scalpel_nm_count_overflow(NULL, 4, 12, 2, 4, &ov) == SCALPEL_ERR_NULL, "count: w NULL");
    /* slot count past INT32_MAX, caught from the shape alone */
    FAILS(scalpel_nm_from_dense(w, 65536, 65536, 16, 16, &m), SCALPEL_ERR_OVERFLOW, "rows * groups * N > INT32_MAX");
    CHECK(scalpel_nm_from_dense_size(INT32_MAX, 32, 2, 16, &bytes) == SCALPEL_ERR_OVERFLOW, "size: overflow");
#if SIZE_MAX > 0xFFFFFFFFu
    CHECK(scalpel_nm_from_dense_size(INT32_MAX, 16, 1, 16, &bytes) == SCALPEL_OK, "size: exactly INT32_MAX slots");
#else
    CHECK(scalpel_nm_from_dense_size(INT32_MAX, 16, 1, 16, &bytes) == SCALPEL_ERR_OVERFLOW, "size: 8 GB of slots on 32 bits");
#endif
#undef FAILS

    /* the other entry points */
    CHECK(scalpel_nm_validate(NULL) == SCALPEL_ERR_NULL, "validate NULL");
    CHECK(scalpel_nm_to_dense(NULL, w) == SCALPEL_ERR_NULL, "to_dense NULL");
    CHECK(scalpel_nm_bytes(NULL) == 0, "bytes NULL");
    CHECK(scalpel_nm_serialized_size(NULL) == 0, "serialized_size NULL");
    CHECK(scalpel_nm_serialized_size(&z) == 0, "serialized_size of a zeroed struct");
    CHECK(scalpel_nm_from_dense(w, 4, 12, 2, 4, &m) == SCALPEL_OK, "4x12 2:4");
    CHECK(scalpel_nm_to_dense(&m, NULL) == SCALPEL_ERR_NULL, "to_dense dense NULL");
    {
        size_t written = 7, need = scalpel_nm_serialized_size(&m);
        CHECK(need > 0 && need <= sizeof(buf), "serialized_size");
        CHECK(scalpel_nm_serialize(&m, buf, sizeof(buf), NULL) == SCALPEL_ERR_NULL, "serialize: written NULL");
        CHECK(scalpel_nm_serialize(&m, NULL, sizeof(buf), &written) == SCALPEL_ERR_NULL && written == 0, "serialize: buf NULL");
        CHECK(scalpel_nm_serialize(NULL, buf, sizeof(buf), &written) == SCALPEL_ERR_NULL, "serialize: w NULL");
        CHECK(scalpel_nm_serialize(&z, buf, sizeof(buf), &written) == SCALPEL_ERR_ARGUMENT, "serialize: zeroed struct");
        CHECK(scalpel_nm_serialize(&m, buf, need, &written) == SCALPEL_OK && written == need, "serialize");
        memset(&z, 0xA5, sizeof(z));
        CHECK(scalpel_nm_deserialize(NULL, need, &z) == SCALPEL_ERR_NULL && zeroed_nm(&z), "deserialize: data NULL");
        CHECK(scalpel_nm_deserialize(buf, need, NULL) == SCALPEL_ERR_NULL, "deserialize: out NULL");
        CHECK(scalpel_nm_deserialize_size(buf, need, NULL) == SCALPEL_ERR_NULL, "deserialize_size: bytes NULL");
        bytes = 5;
        CHECK(scalpel_nm_deserialize_size(NULL, need, &bytes) == SCALPEL_ERR_NULL && bytes == 0, "deserialize_size: data NULL");
        CHECK(scalpel_nm_deserialize_size(buf, need, &bytes) == SCALPEL_OK && bytes > 0 && bytes <= sizeof(mem64), "deserialize_size");
        memset(&z, 0xA5, sizeof(z));
        CHECK(scalpel_nm_deserialize_into(buf, need, mem64, bytes - 1, &z) == SCALPEL_ERR_BUFFER_TOO_SMALL && zeroed_nm(&z), "into: too small");
        memset(&z, 0xA5, sizeof(z));
        CHECK(scalpel_nm_deserialize_into(buf, need, (char *)mem64 + 1, bytes, &z) == SCALPEL_ERR_ALIGNMENT && zeroed_nm(&z), "into: misaligned");
        memset(&z, 0xA5, sizeof(z));
        CHECK(scalpel_nm_deserialize_into(buf, need, NULL, bytes, &z) == SCALPEL_ERR_NULL && zeroed_nm(&z), "into: mem NULL");
        CHECK(scalpel_nm_deserialize_into(buf, need, mem64, bytes, NULL) == SCALPEL_ERR_NULL, "into: out NULL");
        CHECK(scalpel_nm_deserialize_into(buf, need, mem64, bytes, &z) == SCALPEL_OK && same_nm(&m, &z) && z.block == NULL, "into");
        scalpel_nm_free(&z);
        /* the allocator hooks: context kept, one block each, failures leave nothing behind */
        CHECK(scalpel_nm_deserialize_ctx(buf, need, &a, &z) == SCALPEL_OK && z.alloc_ctx == &a && a.allocs == 1, "deserialize_ctx");
        scalpel_nm_free(&z);
        memset(&z, 0xA5, sizeof(z));
        CHECK(scalpel_nm_deserialize_ctx(buf, need, &failing, &z) == SCALPEL_ERR_NO_MEMORY && zeroed_nm(&z), "deserialize_ctx: no memory");
    }
    scalpel_nm_free(&m);
    CHECK(scalpel_nm_from_dense_ctx(w, 4, 12, 3, 8, &a, &m) == SCALPEL_OK && m.alloc_ctx == &a && m.block != NULL &&
          a.allocs == 2, "from_dense_ctx");
    scalpel_nm_free(&m);
    scalpel_nm_free(&m); /* twice is safe */
    CHECK(a.frees == a.allocs, "every block freed once (%ld of %ld)", a.frees, a.allocs);
    memset(&m, 0xA5, sizeof(m));
    CHECK(scalpel_nm_from_dense_ctx(w, 4, 12, 3, 8, &failing, &m) == SCALPEL_ERR_NO_MEMORY && zeroed_nm(&m), "from_dense_ctx: no memory");
    CHECK(failing.frees == 0 && failing.allocs == 0, "nothing allocated, nothing freed");
}

/* ---- the validator ---------------------------------------------------------------------------- */

/* 3 x 20 at 3:8 in caller memory: 3 groups of 3 slots, 36 bits of metadata in 5 bytes (4 unused
 * bits), the last group covering columns 16..23 of which 20..23 lie past cols. */
typedef struct nm_fixture {
    uint64_t mem[64];
    float dense[3 * 20];
    scalpel_nm m;
} nm_fixture;

static void make_nm_fixture(nm_fixture *f)
{
    int32_t i;
    size_t bytes = 0;
    for (i = 0; i < 60; i++) f->dense[i] = (i % 3 == 0) ? 0.0f : (float)(i + 1);
    CHECK(scalpel_nm_from_dense_size(3, 20, 3, 8, &bytes) == SCALPEL_OK && bytes <= sizeof(f->mem), "fixture size");
    CHECK(scalpel_nm_from_dense_into(f->dense, 3, 20, 3, 8, f->mem, sizeof(f->mem), &f->m) == SCALPEL_OK, "fixture");
}

/* Rewrites the position of slot k of row r (clears the field first). */
static void set_pos(scalpel_nm *m, int32_t r, int32_t k, int32_t pos)
{
    size_t bit = (size_t)k * (size_t)m->index_bits;
    uint8_t *row = m->meta + (size_t)r * (size_t)m->meta_stride, mask = (uint8_t)(((1u << m->index_bits) - 1u) << (bit & 7u));
    row[bit >> 3] = (uint8_t)((row[bit >> 3] & ~mask) | ((uint32_t)pos << (bit & 7u) & mask));
}

/* An independent verdict on a struct whose fields are right: 0 valid, else which defect
 * comes first in the validator's order (row by row: positions and tails, then unused bits). */
static scalpel_status oracle_validity(const scalpel_nm *m)
{
    int32_t r, g, s;
    for (r = 0; r < m->rows; r++) {
        const uint8_t *row = m->meta + (size_t)r * m->meta_stride;
        size_t used = (size_t)m->groups * m->n * m->index_bits, b;
        for (g = 0; g < m->groups; g++) {
            int32_t prev = -1;
            for (s = 0; s < m->n; s++) {
                size_t bit = ((size_t)g * m->n + s) * m->index_bits;
                int32_t pos = 0, j;
                for (j = 0; j < m->index_bits; j++) pos |= ((row[(bit + j) / 8] >> ((bit + j) % 8)) & 1) << j;
                if (pos >= m->m || pos <= prev) return SCALPEL_ERR_COL_INDEX;
                prev = pos;
                if (g * m->m + pos >= m->cols && m->values[((size_t)r * m->groups + g) * m->n + s] != 0.0f) return SCALPEL_ERR_TAIL;
            }
        }
        for (b = used; b < (size_t)m->meta_stride * 8; b++)
            if ((row[b / 8] >> (b % 8)) & 1) return SCALPEL_ERR_CORRUPT;
    }
    return SCALPEL_OK;
}

static void test_validator(void)
{
    nm_fixture f;
    int32_t p, it;
    make_nm_fixture(&f);
    CHECK(scalpel_nm_validate(&f.m) == SCALPEL_OK, "fixture is valid");
    CHECK(f.m.groups == 3 && f.m.index_bits == 4 && f.m.meta_stride == 5, "fixture fields");
#define CORRUPT(stmt, code, what)                                                                   \
    do {                                                                                           \
        make_nm_fixture(&f);                                                                       \
        stmt;                                                                                      \
        CHECK(scalpel_nm_validate(&f.m) == (code), "%s: got %s", what,                             \
              scalpel_status_string(scalpel_nm_validate(&f.m)));                                   \
    } while (0)
    /* positions that 4 bits can hold but M = 8 cannot */
    for (p = 8; p < 16; p++) {
        CORRUPT(set_pos(&f.m, 1, 2, p), SCALPEL_ERR_COL_INDEX, "position >= M in the last slot of a group");
        CORRUPT((set_pos(&f.m, 2, 3, p), set_pos(&f.m, 2, 4, 14), set_pos(&f.m, 2, 5, 15)), SCALPEL_ERR_COL_INDEX,
                "position >= M, increasing");
        CORRUPT(set_pos(&f.m, 0, 8, p), SCALPEL_ERR_COL_INDEX, "position >= M in the tail group");
    }
    CORRUPT((set_pos(&f.m, 0, 0, 2), set_pos(&f.m, 0, 1, 2), set_pos(&f.m, 0, 2, 5)), SCALPEL_ERR_COL_INDEX, "repeated position");
    CORRUPT((set_pos(&f.m, 1, 3, 4), set_pos(&f.m, 1, 4, 3), set_pos(&f.m, 1, 5, 7)), SCALPEL_ERR_COL_INDEX, "decreasing positions");
    CORRUPT((set_pos(&f.m, 2, 6, 0), set_pos(&f.m, 2, 7, 0), set_pos(&f.m, 2, 8, 0)), SCALPEL_ERR_COL_INDEX, "all zero positions");
    /* tail group: positions 4..7 are columns 20..23, past cols */
    CORRUPT((set_pos(&f.m, 1, 6, 1), set_pos(&f.m, 1, 7, 3), set_pos(&f.m, 1, 8, 5), f.m.values[3 * 3 + 8] = 0.0f),
            SCALPEL_OK, "zero past cols is fine");
    CORRUPT((set_pos(&f.m, 1, 6, 1), set_pos(&f.m, 1, 7, 3), set_pos(&f.m, 1, 8, 5), f.m.values[3 * 3 + 8] = -0.0f),
            SCALPEL_OK, "-0.0 past cols is a zero");
    CORRUPT((set_pos(&f.m, 1, 6, 1), set_pos(&f.m, 1, 7, 3), set_pos(&f.m, 1, 8, 5), f.m.values[3 * 3 + 8] = 1.0f),
            SCALPEL_ERR_TAIL, "nonzero value past cols");
    CORRUPT((set_pos(&f.m, 0, 6, 4), set_pos(&f.m, 0, 7, 6), set_pos(&f.m, 0, 8, 7), f.m.values[6] = f.m.values[8] = 0.0f, f.m.values[7] = -3.0f),
            SCALPEL_ERR_TAIL, "nonzero value past cols, middle slot");
    CORRUPT((set_pos(&f.m, 0, 6, 4), set_pos(&f.m, 0, 7, 6), set_pos(&f.m, 0, 8, 7), f.m.values[7] = f.m.values[8] = 0.0f, f.m.values[6] = from_bits(0x7FC00000u)),
            SCALPEL_ERR_TAIL, "NaN past cols");
    /* derived fields */
    CORRUPT(f.m.groups = 2, SCALPEL_ERR_ARGUMENT, "groups one short");
    CORRUPT(f.m.groups = 4, SCALPEL_ERR_ARGUMENT, "groups one over");
    CORRUPT(f.m.index_bits = 3, SCALPEL_ERR_ARGUMENT, "index_bits 3 (what M = 8 needs, not what it stores)");
    CORRUPT(f.m.index_bits = 2, SCALPEL_ERR_ARGUMENT, "index_bits 2");
    CORRUPT(f.m.index_bits = 8, SCALPEL_ERR_ARGUMENT, "index_bits 8");
    CORRUPT(f.m.meta_stride = 4, SCALPEL_ERR_ARGUMENT, "meta_stride one short");
    CORRUPT(f.m.meta_stride = 6, SCALPEL_ERR_ARGUMENT, "meta_stride one over");
    CORRUPT(f.m.n = 0, SCALPEL_ERR_ARGUMENT, "N 0");
    CORRUPT(f.m.n = 9, SCALPEL_ERR_ARGUMENT, "N > M");
    CORRUPT(f.m.m = 3, SCALPEL_ERR_ARGUMENT, "M 3");
    CORRUPT(f.m.m = 32, SCALPEL_ERR_ARGUMENT, "M 32");
    CORRUPT(f.m.m = 16, SCALPEL_ERR_ARGUMENT, "M 16 with the fields of M 8");
    CORRUPT(f.m.n = 2, SCALPEL_ERR_ARGUMENT, "N 2 with the fields of N 3");
    CORRUPT(f.m.rows = -1, SCALPEL_ERR_SHAPE, "rows < 0");
    CORRUPT(f.m.cols = -1, SCALPEL_ERR_SHAPE, "cols < 0");
    CORRUPT(f.m.cols = 25, SCALPEL_ERR_ARGUMENT, "cols 25: 4 groups, the struct says 3");
    CORRUPT(f.m.cols = 16, SCALPEL_ERR_ARGUMENT, "cols 16: 2 groups, the struct says 3");
    CORRUPT((f.m.rows = INT32_MAX, f.m.cols = 16, f.m.n = 16, f.m.m = 16), SCALPEL_ERR_OVERFLOW,
            "rows * groups * N past INT32_MAX, caught before any array is read");
    CORRUPT(f.m.values = NULL, SCALPEL_ERR_NULL, "values NULL");
    CORRUPT(f.m.meta = NULL, SCALPEL_ERR_NULL, "meta NULL");
    /* the 4 unused bits at the end of each row's 5 metadata bytes */
    for (p = 0; p < 3; p++) {
        CORRUPT(f.m.meta[p * 5 + 4] |= 0x10, SCALPEL_ERR_CORRUPT, "an unused trailing bit set");
        CORRUPT(f.m.meta[p * 5 + 4] |= 0x80, SCALPEL_ERR_CORRUPT, "the last unused bit set");
    }
#undef CORRUPT
    /* cols 17 keeps 3 groups but puts columns 17..19 past cols: valid only if they hold zero */
    make_nm_fixture(&f);
    f.m.cols = 17;
    CHECK(scalpel_nm_validate(&f.m) == oracle_validity(&f.m), "cols 17 agrees with the oracle");

    /* random corruption of positions, trailing bits and tail values of built matrices: the
     * validator agrees with an independent check (first defect in the same order) */
    for (it = 0; it < TEST_ITERS + 500; it++) {
        int32_t rows = test_range(1, 6), cols = test_range(1, 40), mi = test_range(0, 3), n = test_range(1, ms[mi]), j, k;
        float *w = alloc_floats((size_t)rows * cols);
        size_t bytes = 0;
        void *mem;
        scalpel_nm m;
        scalpel_status want, got;
        random_matrix(w, rows, cols);
        if (scalpel_nm_from_dense_size(rows, cols, n, ms[mi], &bytes) != SCALPEL_OK) { CHECK(0, "size"); free(w); continue; }
        mem = xmalloc(bytes);
        if (scalpel_nm_from_dense_into(w, rows, cols, n, ms[mi], mem, bytes, &m) != SCALPEL_OK) { CHECK(0, "into"); free(w); free(mem); continue; }
        k = test_range(1, 3);
        for (j = 0; j < k; j++) {
            /* (one draw per statement: the order of the draws is the same with every compiler) */
            int32_t what = test_range(0, 3), r = test_range(0, rows - 1), u = test_range(0, 1 << 20), v = test_range(0, 1 << 20);
            if (what == 0 && m.meta_stride > 0) m.meta[(size_t)r * m.meta_stride + u % m.meta_stride] ^= (uint8_t)(1u << v % 8);
            else if (what == 1) set_pos(&m, r, u % (m.groups * n), v % (1 << m.index_bits));
            else if (what == 2) m.values[(size_t)r * m.groups * n + u % (m.groups * n)] = v % 2 ? 1.0f : -0.0f;
            else if (m.meta_stride > 0) m.meta[(size_t)r * m.meta_stride + m.meta_stride - 1] ^= 0x80;
        }
        want = oracle_validity(&m);
        got = scalpel_nm_validate(&m);
        CHECK(got == want, "%dx%d %d:%d corrupted: validate %s, oracle %s", (int)rows, (int)cols, (int)n, (int)ms[mi],
              scalpel_status_string(got), scalpel_status_string(want));
        if (got == SCALPEL_OK) {
            /* whatever validated is consistent: to_dense puts every slot at its column */
            float *d = alloc_floats((size_t)rows * cols);
            CHECK(scalpel_nm_to_dense(&m, d) == SCALPEL_OK, "to_dense of a valid matrix");
            free(d);
        }
        free(w);
        free(mem);
    }
}

/* ---- the serialized form ---------------------------------------------------------------------- */

static unsigned char *valid_buffer(int32_t rows, int32_t cols, int32_t n, int32_t M, size_t *size)
{
    float *w = alloc_floats((size_t)rows * cols);
    scalpel_nm m;
    unsigned char *buf;
    size_t written = 0;
    int32_t i;
    for (i = 0; i < rows * cols; i++) w[i] = test_range(0, 2) ? test_uniform() : 0.0f;
    if (scalpel_nm_from_dense(w, rows, cols, n, M, &m) != SCALPEL_OK) { free(w); return NULL; }
    *size = scalpel_nm_serialized_size(&m);
    buf = (unsigned char *)xmalloc(*size);
    if (scalpel_nm_serialize(&m, buf, *size, &written) != SCALPEL_OK) { free(buf); buf = NULL; }
    scalpel_nm_free(&m);
    free(w);
    return buf;
}

/* Reads an exact-size copy (so ASan sees an overread); a success must validate, multiply and
 * serialize back to the same bytes (the encoding is canonical). */
static scalpel_status read_copy(const unsigned char *data, size_t size)
{
    unsigned char *copy = (unsigned char *)xmalloc(size);
    scalpel_nm m;
    scalpel_status st;
    size_t blk = 0;
    if (size) memcpy(copy, data, size);
    memset(&m, 0xA5, sizeof(m));
    st = scalpel_nm_deserialize(copy, size, &m);
    {
        /* _size checks the header and the checksum (not the decoded positions): it fails only
         * where deserialize fails, with the same code */
        scalpel_status sz = scalpel_nm_deserialize_size(copy, size, &blk);
        CHECK(sz == SCALPEL_OK ? blk > 0 : (st == sz && blk == 0), "deserialize_size %s, deserialize %s",
              scalpel_status_string(sz), scalpel_status_string(st));
    }
    if (st != SCALPEL_OK) {
        CHECK(zeroed_nm(&m), "failed read leaves a zeroed struct");
    } else {
        size_t need = scalpel_nm_serialized_size(&m), written = 0;
        unsigned char *again = (unsigned char *)xmalloc(need);
        CHECK(scalpel_nm_validate(&m) == SCALPEL_OK, "accepted buffer does not validate");
        CHECK(need == size && scalpel_nm_serialize(&m, again, need, &written) == SCALPEL_OK && written == size &&
              memcmp(again, copy, size) == 0, "accepted buffer does not serialize back to itself");
        if (m.rows <= 256 && m.cols <= 4096) {
            float *x = (float *)calloc((size_t)m.cols + 1, sizeof(float)), *y = guarded((size_t)m.rows, 0);
            int32_t r, bad = 0;
            scalpel_nm_spmv_f32(&m, x, y);
            for (r = 0; r < m.rows; r++) bad += y[r] != 0.0f && !(y[r] != y[r]);
            CHECK(guards_intact(y, (size_t)m.rows, 0) && bad == 0, "spmv on a zero x");
            free(x);
            guarded_free(y, 0);
        }
        free(again);
        scalpel_nm_free(&m);
    }
    free(copy);
    return st;
}

static void test_reader(void)
{
    static const int32_t shapes[][4] = { { 3, 10, 2, 4 }, { 5, 17, 3, 8 }, { 2, 33, 1, 16 }, { 4, 7, 1, 2 }, { 1, 5, 16, 16 } };
    size_t size = 0, i, s;
    int32_t it;
    for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        unsigned char *buf = valid_buffer(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], &size), *bad;
        int32_t bad_trunc = 0, bad_flip = 0, not_crc = 0;
        if (buf == NULL) { CHECK(0, "valid_buffer"); continue; }
        CHECK(read_copy(buf, size) == SCALPEL_OK, "valid buffer reads");
        CHECK(memcmp(buf, "SCPM", 4) == 0 && buf[4] == 1 && buf[5] == 0 && buf[6] == 48 && buf[7] == 0, "magic, version, header size");
        /* every truncation */
        for (i = 0; i < size; i++) {
            scalpel_status st = read_copy(buf, i);
            bad_trunc += st == SCALPEL_OK;
            if (i >= 4) not_crc += st != SCALPEL_ERR_TRUNCATED;
        }
        CHECK(bad_trunc == 0, "a truncated buffer was accepted");
        CHECK(not_crc == 0, "%d truncations past the magic not reported as truncated", (int)not_crc);
        /* trailing bytes */
        bad = (unsigned char *)xmalloc(size + 8);
        memcpy(bad, buf, size);
        memset(bad + size, 0, 8);
        CHECK(read_copy(bad, size + 1) == SCALPEL_ERR_CORRUPT, "one trailing byte");
        CHECK(read_copy(bad, size + 8) == SCALPEL_ERR_CORRUPT, "trailing bytes");
        /* every byte flipped (every bit for the first shapes, a random nonzero xor otherwise) */
        not_crc = 0;
        for (i = 0; i < size; i++) {
            int b;
            for (b = 0; b < 8; b++) {
                scalpel_status st;
                memcpy(bad, buf, size);
                bad[i] ^= s < 2 ? (unsigned char)(1u << b) : (unsigned char)test_range(1, 255);
                st = read_copy(bad, size);
                bad_flip += st == SCALPEL_OK;
                if (i >= 48) not_crc += st != SCALPEL_ERR_CHECKSUM;
                if (s >= 2) break;
            }
        }
        CHECK(bad_flip == 0, "%d flipped buffers accepted", (int)bad_flip);
        CHECK(not_crc == 0, "%d payload flips not caught by the checksum", (int)not_crc);
        memcpy(bad, buf, size); bad[0] = 'X';
        CHECK(read_copy(bad, size) == SCALPEL_ERR_MAGIC, "magic");
        memcpy(bad, buf, size); memcpy(bad, "SCPG", 4);
        CHECK(read_copy(bad, size) == SCALPEL_ERR_MAGIC, "grouped-CSR magic");
        memcpy(bad, buf, size); bad[4] = 2; fix_crc(bad, size);
        CHECK(read_copy(bad, size) == SCALPEL_ERR_VERSION, "version 2");
        memcpy(bad, buf, size); bad[4] = 0; fix_crc(bad, size);
        CHECK(read_copy(bad, size) == SCALPEL_ERR_VERSION, "version 0");
        memcpy(bad, buf, size); bad[size - 1] ^= 0x55;
        CHECK(read_copy(bad, size) == SCALPEL_ERR_CHECKSUM, "checksum");
        /* header fields rewritten, checksum fixed up */
#define REWRITE(off, val, code, what)                                                               \
        do {                                                                                       \
            scalpel_status st_;                                                                    \
            memcpy(bad, buf, size);                                                                \
            put32(bad + (off), (uint32_t)(val));                                                   \
            fix_crc(bad, size);                                                                    \
            st_ = read_copy(bad, size);                                                            \
            CHECK(st_ == (code), "%s: got %s", what, scalpel_status_string(st_));                  \
        } while (0)
        REWRITE(4, 0x00310001u, SCALPEL_ERR_CORRUPT, "header size 49");
        REWRITE(4, 0x00400001u, SCALPEL_ERR_CORRUPT, "header size 64");
        REWRITE(8, 1, SCALPEL_ERR_UNSUPPORTED, "dtype q15");
        REWRITE(8, 2, SCALPEL_ERR_UNSUPPORTED, "dtype q7");
        REWRITE(8, 99, SCALPEL_ERR_DTYPE, "dtype 99");
        REWRITE(12, 0, SCALPEL_ERR_CORRUPT, "N 0");
        REWRITE(12, (uint32_t)shapes[s][3] + 1, SCALPEL_ERR_CORRUPT, "N > M");
        REWRITE(12, 0xFFFFFFFFu, SCALPEL_ERR_CORRUPT, "N 2^32-1");
        REWRITE(16, 3, SCALPEL_ERR_CORRUPT, "M 3");
        REWRITE(16, 32, SCALPEL_ERR_CORRUPT, "M 32");
        REWRITE(16, 0x80000004u, SCALPEL_ERR_CORRUPT, "M 2^31 + 4");
        REWRITE(20, 0xFFFFFFFFu, SCALPEL_ERR_CORRUPT, "rows 2^32-1");
        REWRITE(20, 0x7FFFFFFFu, SCALPEL_ERR_OVERFLOW, "rows 2^31-1: slots past INT32_MAX");
        REWRITE(20, (uint32_t)shapes[s][0] + 1, SCALPEL_ERR_CORRUPT, "rows + 1 (size field disagrees)");
        REWRITE(24, 0x80000000u, SCALPEL_ERR_CORRUPT, "cols 2^31");
        REWRITE(28, 1, SCALPEL_ERR_CORRUPT, "reserved at 28");
        REWRITE(32, (uint32_t)size + 4, SCALPEL_ERR_CORRUPT, "total size + 4");
        REWRITE(32, (uint32_t)size - 4, SCALPEL_ERR_CORRUPT, "total size - 4");
        REWRITE(36, 1, SCALPEL_ERR_CORRUPT, "total size high word");
        REWRITE(40, 1, SCALPEL_ERR_CORRUPT, "reserved at 40");
        REWRITE(44, 0x80000000u, SCALPEL_ERR_CORRUPT, "reserved at 44");
#undef REWRITE
        free(bad);
        free(buf);
    }
    {
        /* 3 x 10 at 2:4: 3 groups x 2 slots x 2 bits = 12 bits, meta_stride 2, 6 meta bytes padded
         * to 8; positions of a row at byte 48 + 2r. */
        unsigned char *buf = valid_buffer(3, 10, 2, 4, &size), *bad = (unsigned char *)xmalloc(size);
        scalpel_status st;
        memcpy(bad, buf, size); bad[48 + 6] = 1; fix_crc(bad, size);
        CHECK(read_copy(bad, size) == SCALPEL_ERR_CORRUPT, "nonzero meta padding byte");
        memcpy(bad, buf, size); bad[48 + 7] = 0x80; fix_crc(bad, size);
        CHECK(read_copy(bad, size) == SCALPEL_ERR_CORRUPT, "nonzero last meta padding byte");
        memcpy(bad, buf, size); bad[48 + 2 * 1 + 1] |= 0x10; fix_crc(bad, size);
        CHECK(read_copy(bad, size) == SCALPEL_ERR_CORRUPT, "unused trailing metadata bits of row 1");
        memcpy(bad, buf, size); bad[48] = 0x5; fix_crc(bad, size); /* slots 0, 1 of row 0: positions 1, 1 */
        CHECK(read_copy(bad, size) == SCALPEL_ERR_COL_INDEX, "repeated position");
        memcpy(bad, buf, size); bad[48] = (unsigned char)((bad[48] & 0xF0u) | 0x1u); /* positions 1, 0 */
        fix_crc(bad, size);
        CHECK(read_copy(bad, size) == SCALPEL_ERR_COL_INDEX, "decreasing positions");
        /* row 0, group 2 (columns 8, 9 and 2 past cols): positions 2, 3 with a nonzero value */
        memcpy(bad, buf, size); bad[48 + 1] = (unsigned char)((bad[48 + 1] & 0xF0u) | 0x2u | 0x3u << 2);
        put32(bad + 48 + 8 + 4 * 4, 0x3F800000u); fix_crc(bad, size);
        st = read_copy(bad, size);
        CHECK(st == SCALPEL_ERR_TAIL, "nonzero value past cols: got %s", scalpel_status_string(st));
        put32(bad + 48 + 8 + 4 * 4, 0x80000000u); put32(bad + 48 + 8 + 5 * 4, 0); fix_crc(bad, size);
        st = read_copy(bad, size);
        CHECK(st == SCALPEL_OK, "-0.0 and 0 past cols: got %s", scalpel_status_string(st));
        /* random mutations, CRC fixed up half the time: never a crash, never an invalid matrix */
        for (it = 0; it < 5 * TEST_ITERS; it++) {
            int32_t k = test_range(1, 4), j;
            memcpy(bad, buf, size);
            for (j = 0; j < k; j++) {
                int32_t at = test_range(0, (int32_t)size - 5);
                bad[at] = (unsigned char)test_rand();
            }
            if (test_range(0, 1)) fix_crc(bad, size);
            (void)read_copy(bad, size);
        }
        free(bad);
        free(buf);
    }
}

/* The header's counts must be paid for by the bytes: the 52-byte buffer of the hostile-input
 * campaign (rows = 2^31 - 1, cols = 0: no slot, no metadata byte, nothing behind the rows)
 * reads, validates, serializes back and expands in O(1), where validation used to loop over
 * every row (8 s of CPU). The same header with one column announces 2^31 - 1 metadata bytes
 * that the 52 bytes do not hold: refused by the size field before anything is read. */
static void put_nm_header(unsigned char *b, uint32_t n, uint32_t m, uint32_t rows, uint32_t cols, uint32_t total)
{
    memset(b, 0, 48);
    memcpy(b, "SCPM", 4);
    b[4] = 1; b[6] = 48;
    put32(b + 12, n); put32(b + 16, m); put32(b + 20, rows); put32(b + 24, cols);
    put32(b + 32, total);
}

static void test_reader_counts(void)
{
    unsigned char blob[52];
    scalpel_nm m, hand;
    scalpel_status st;
    size_t blk = 0;
    put_nm_header(blob, 1, 2, 0x7FFFFFFFu, 0, 52);
    fix_crc(blob, 52);
    CHECK(read_copy(blob, 52) == SCALPEL_OK, "2^31 - 1 rows of 0 columns: a valid (empty) matrix");
    CHECK(scalpel_nm_deserialize_size(blob, 52, &blk) == SCALPEL_OK && blk > 0 && blk <= 64, "block %d bytes", (int)blk);
    CHECK(scalpel_nm_deserialize(blob, 52, &m) == SCALPEL_OK && m.rows == INT32_MAX && m.cols == 0 && m.groups == 0 &&
          m.meta_stride == 0, "read");
    CHECK(scalpel_nm_validate(&m) == SCALPEL_OK && scalpel_nm_bytes(&m) == 0 && scalpel_nm_serialized_size(&m) == 52, "validate");
    CHECK(scalpel_nm_to_dense(&m, NULL) == SCALPEL_OK, "expands to nothing");
    scalpel_nm_free(&m);
    /* the same struct filled by hand, arrays NULL (no slot needs one) */
    memset(&hand, 0, sizeof(hand));
    hand.rows = INT32_MAX; hand.n = 1; hand.m = 2; hand.index_bits = 1;
    CHECK(scalpel_nm_validate(&hand) == SCALPEL_OK, "hand-filled 2^31 - 1 x 0");
    hand.n = 16; hand.m = 16; hand.index_bits = 4;
    CHECK(scalpel_nm_validate(&hand) == SCALPEL_OK, "hand-filled 2^31 - 1 x 0 at 16:16");
    /* rows x 1 column: 2^31 - 1 metadata bytes and values announced, 52 bytes present (the
     * size field disagrees; on 32-bit targets the announced size does not fit a size_t) */
    put_nm_header(blob, 1, 2, 0x7FFFFFFFu, 1, 52);
    fix_crc(blob, 52);
    st = read_copy(blob, 52);
    CHECK(st == SCALPEL_ERR_CORRUPT || (sizeof(size_t) < 8 && st == SCALPEL_ERR_OVERFLOW),
          "2^31 - 1 rows of 1 column in 52 bytes: %s", scalpel_status_string(st));
    put_nm_header(blob, 16, 16, 0x7FFFFFFFu, 0, 52);
    fix_crc(blob, 52);
    CHECK(read_copy(blob, 52) == SCALPEL_OK, "16:16, 2^31 - 1 rows of 0 columns");
}

/* ---- kernels ---------------------------------------------------------------------------------- */

/* exact[r] and scale[r] (sum |w x|) of the dense dense[rows x cols] . x, in double */
static void exact_gemv(const float *d, int32_t rows, int32_t cols, const float *x, double *exact, double *scale)
{
    int32_t r, c;
    for (r = 0; r < rows; r++) {
        double s = 0.0, a = 0.0;
        for (c = 0; c < cols; c++) {
            double t = (double)d[(size_t)r * cols + c] * x[c];
            s += t; a += fabs(t);
        }
        exact[r] = s; scale[r] = a;
    }
}

static void exact_gemm(const float *d, int32_t rows, int32_t cols, const float *b, int32_t n, double *exact, double *scale)
{
    int32_t r, c, j;
    for (r = 0; r < rows; r++)
        for (j = 0; j < n; j++) {
            double s = 0.0, a = 0.0;
            for (c = 0; c < cols; c++) {
                double t = (double)d[(size_t)r * cols + c] * b[(size_t)c * n + j];
                s += t; a += fabs(t);
            }
            exact[(size_t)r * n + j] = s; scale[(size_t)r * n + j] = a;
        }
}

static void test_nm_spmv(void)
{
    int it;
    for (it = 0; it < TEST_ITERS / 30 + 10; it++) {
        int32_t rows = test_range(0, 9) == 0 ? test_range(0, 3) : test_range(1, min32(64, TEST_MAX_DIM));
        int32_t cols = test_range(0, 4) == 0 ? test_range(0, 20) : test_range(1, TEST_MAX_DIM);
        int32_t mi, n, r, c;
        float *w = alloc_floats((size_t)rows * cols), *x0 = alloc_floats((size_t)cols), *d = alloc_floats((size_t)rows * cols);
        float *y0 = alloc_floats((size_t)rows);
        double *exact = (double *)xmalloc((size_t)rows * sizeof(double)), *scale = (double *)xmalloc((size_t)rows * sizeof(double));
        random_matrix(w, rows, cols);
        for (c = 0; c < cols; c++) x0[c] = test_uniform();
        for (r = 0; r < rows; r++) y0[r] = test_uniform() * 4.0f;
        for (mi = 0; mi < 4; mi++)
            for (n = 1; n <= ms[mi]; n++) {
                scalpel_nm m;
                int32_t mis = test_range(0, 1), xmis = test_range(0, 1), bad_ref = 0, bad = 0, bad_acc = 0;
                float *xb, *x, *y;
                if (scalpel_nm_from_dense(w, rows, cols, n, ms[mi], &m) != SCALPEL_OK) { CHECK(0, "from_dense"); continue; }
                scalpel_nm_to_dense(&m, d);
                exact_gemv(d, rows, cols, x0, exact, scale);
                x = copy_in(x0, (size_t)cols, xmis, &xb);
                y = guarded((size_t)rows, mis);
                scalpel_nm_spmv_f32_ref(&m, x, y);
                for (r = 0; r < rows; r++) bad_ref += !close_enough(y[r], exact[r], scale[r], cols);
                CHECK(bad_ref == 0, "nm_spmv_ref %dx%d %d:%d: %d outputs off", (int)rows, (int)cols, (int)n, (int)ms[mi], (int)bad_ref);
                CHECK(guards_intact(y, (size_t)rows, mis), "nm_spmv_ref wrote outside y");
                for (r = 0; r < rows; r++) y[r] = from_bits(0x7FC00001u); /* must be overwritten, not read */
                scalpel_nm_spmv_f32(&m, x, y);
                for (r = 0; r < rows; r++) bad += !close_enough(y[r], exact[r], scale[r], cols);
                CHECK(bad == 0, "nm_spmv %dx%d %d:%d: %d outputs off", (int)rows, (int)cols, (int)n, (int)ms[mi], (int)bad);
                CHECK(guards_intact(y, (size_t)rows, mis), "nm_spmv %dx%d %d:%d wrote outside y", (int)rows, (int)cols, (int)n, (int)ms[mi]);
                for (r = 0; r < rows; r++) y[r] = y0[r];
                scalpel_nm_spmv_acc_f32(&m, x, y);
                for (r = 0; r < rows; r++) bad_acc += !close_enough(y[r], exact[r] + y0[r], scale[r] + fabs((double)y0[r]), cols + 1);
                CHECK(bad_acc == 0, "nm_spmv_acc %dx%d %d:%d: %d outputs off", (int)rows, (int)cols, (int)n, (int)ms[mi], (int)bad_acc);
                CHECK(guards_intact(y, (size_t)rows, mis), "nm_spmv_acc wrote outside y");
                guarded_free(y, mis);
                free(xb);
                scalpel_nm_free(&m);
            }
        free(w); free(x0); free(d); free(y0); free(exact); free(scale);
    }
}

static void test_nm_spmm(void)
{
    int it;
    for (it = 0; it < TEST_ITERS / 60 + 8; it++) {
        int32_t rows = test_range(0, 9) == 0 ? test_range(0, 2) : test_range(1, min32(24, TEST_MAX_DIM / 2));
        int32_t cols = test_range(0, 4) == 0 ? test_range(0, 20) : test_range(1, min32(90, TEST_MAX_DIM));
        /* n crosses every vector width (4, 8, 16) and the 8-vector strip (32, 64 or 128) */
        int32_t n = test_range(0, 5) == 0 ? test_range(71, 140) : test_range(1, 70);
        int32_t mi, nn, i;
        size_t rn = (size_t)rows * n;
        float *w = alloc_floats((size_t)rows * cols), *b0 = alloc_floats((size_t)cols * n), *d = alloc_floats((size_t)rows * cols);
        float *c0 = alloc_floats(rn);
        double *exact = (double *)xmalloc(rn * sizeof(double)), *scale = (double *)xmalloc(rn * sizeof(double));
        random_matrix(w, rows, cols);
        for (i = 0; i < cols * n; i++) b0[i] = test_uniform();
        for (i = 0; i < (int32_t)rn; i++) c0[i] = test_uniform() * 4.0f;
        mi = it % 4; /* M in turn, every N */
        for (nn = 1; nn <= ms[mi]; nn++) {
                scalpel_nm m;
                int32_t mis = test_range(0, 1), bad_ref = 0, bad = 0, bad_acc = 0;
                float *bb, *b, *c;
                if (scalpel_nm_from_dense(w, rows, cols, nn, ms[mi], &m) != SCALPEL_OK) { CHECK(0, "from_dense"); continue; }
                scalpel_nm_to_dense(&m, d);
                exact_gemm(d, rows, cols, b0, n, exact, scale);
                b = copy_in(b0, (size_t)cols * n, test_range(0, 1), &bb);
                c = guarded(rn, mis);
                scalpel_nm_spmm_f32_ref(&m, b, n, c);
                for (i = 0; i < (int32_t)rn; i++) bad_ref += !close_enough(c[i], exact[i], scale[i], cols);
                CHECK(bad_ref == 0, "nm_spmm_ref %dx%dx%d %d:%d: %d off", (int)rows, (int)cols, (int)n, (int)nn, (int)ms[mi], (int)bad_ref);
                CHECK(guards_intact(c, rn, mis), "nm_spmm_ref wrote outside C");
                for (i = 0; i < (int32_t)rn; i++) c[i] = from_bits(0x7FC00001u);
                scalpel_nm_spmm_f32(&m, b, n, c);
                for (i = 0; i < (int32_t)rn; i++) bad += !close_enough(c[i], exact[i], scale[i], cols);
                CHECK(bad == 0, "nm_spmm %dx%dx%d %d:%d: %d off", (int)rows, (int)cols, (int)n, (int)nn, (int)ms[mi], (int)bad);
                CHECK(guards_intact(c, rn, mis), "nm_spmm %dx%dx%d %d:%d wrote outside C", (int)rows, (int)cols, (int)n, (int)nn, (int)ms[mi]);
                memcpy(c, c0, rn * sizeof(float));
                scalpel_nm_spmm_acc_f32(&m, b, n, c);
                for (i = 0; i < (int32_t)rn; i++) bad_acc += !close_enough(c[i], exact[i] + c0[i], scale[i] + fabs((double)c0[i]), cols + 1);
                CHECK(bad_acc == 0, "nm_spmm_acc %dx%dx%d %d:%d: %d off", (int)rows, (int)cols, (int)n, (int)nn, (int)ms[mi], (int)bad_acc);
                CHECK(guards_intact(c, rn, mis), "nm_spmm_acc wrote outside C");
                guarded_free(c, mis);
                free(bb);
                scalpel_nm_free(&m);
            }
        free(w); free(b0); free(d); free(c0); free(exact); free(scale);
    }
}

/* Degenerate shapes: zero rows, zero columns, n = 0. */
static void test_nm_degenerate(void)
{
    float w[64], x[16], *y, *c;
    scalpel_nm m;
    int32_t i;
    for (i = 0; i < 64; i++) w[i] = (float)(i % 3);
    for (i = 0; i < 16; i++) x[i] = 1.0f;
    /* zero columns: every output 0 (the acc variants add nothing) */
    CHECK(scalpel_nm_from_dense(w, 4, 0, 2, 4, &m) == SCALPEL_OK, "4x0");
    y = guarded(4, 0);
    scalpel_nm_spmv_f32(&m, x, y);
    CHECK(y[0] == 0.0f && y[3] == 0.0f && guards_intact(y, 4, 0), "spmv 4x0");
    y[1] = 2.0f;
    scalpel_nm_spmv_acc_f32(&m, x, y);
    CHECK(y[0] == 0.0f && y[1] == 2.0f && guards_intact(y, 4, 0), "spmv_acc 4x0");
    guarded_free(y, 0);
    c = guarded(8, 0);
    scalpel_nm_spmm_f32(&m, x, 2, c);
    CHECK(c[0] == 0.0f && c[7] == 0.0f && guards_intact(c, 8, 0), "spmm 4x0");
    guarded_free(c, 0);
    scalpel_nm_free(&m);
    /* zero rows: nothing written */
    CHECK(scalpel_nm_from_dense(w, 0, 5, 1, 2, &m) == SCALPEL_OK, "0x5");
    y = guarded(0, 0);
    scalpel_nm_spmv_f32(&m, x, y);
    scalpel_nm_spmv_f32_ref(&m, x, y);
    scalpel_nm_spmm_f32(&m, x, 3, y);
    CHECK(guards_intact(y, 0, 0), "0 rows writes nothing");
    guarded_free(y, 0);
    scalpel_nm_free(&m);
    /* n = 0 writes nothing */
    CHECK(scalpel_nm_from_dense(w, 2, 8, 2, 4, &m) == SCALPEL_OK, "2x8");
    c = guarded(0, 0);
    scalpel_nm_spmm_f32(&m, x, 0, c);
    scalpel_nm_spmm_acc_f32(&m, x, 0, c);
    scalpel_nm_spmm_f32_ref(&m, x, 0, c);
    CHECK(guards_intact(c, 0, 0), "spmm n = 0 writes nothing");
    guarded_free(c, 0);
    scalpel_nm_free(&m);
}

/* ---- the exact hybrid ------------------------------------------------------------------------- */

/* cost of a row's split at threshold t (t = G+1: all CSR), as the documented model counts it:
 * the row cost when the row stores any group, a group cost per stored group, a nonzero cost
 * per weight left to the residual. cnt[j] = windows of the row holding j nonzeros. */
static double split_cost(const int32_t *cnt, int32_t G, int32_t t, double cg, double cn, double cr)
{
    double cost = 0.0;
    int32_t j, stored = 0;
    for (j = 1; j <= G; j++) {
        if (j >= t) { cost += cg * cnt[j]; stored += cnt[j]; }
        else cost += cn * j * cnt[j];
    }
    return cost + (stored ? cr : 0.0);
}

/* Checks the structure of h = hybrid_from_dense(w): exact, threshold split, optimal cost. */
static void check_hybrid(const float *w, int32_t rows, int32_t cols, int32_t G, const scalpel_hybrid_costs *costs,
                         const scalpel_hybrid *h)
{
    const scalpel_gcsr *gp = &h->grouped, *rp = &h->residual;
    float *back = alloc_floats((size_t)rows * cols);
    /* NULL: the documented defaults */
    double cg = costs ? costs->group : 3.0, cn = costs ? costs->nonzero : 1.0, cr = costs ? costs->row : 8.0;
    int32_t r, k, c, j, bad_split = 0, bad_cost = 0, bad_res = 0, bad_empty = 0;
    CHECK(scalpel_hybrid_validate(h) == SCALPEL_OK, "hybrid validates");
    CHECK(gp->group == G && rp->group == 1, "group sizes %d / %d", (int)gp->group, (int)rp->group);
    CHECK(gp->rows == rows && gp->cols == cols && rp->rows == rows && rp->cols == cols, "shapes");
    CHECK(gp->dtype == SCALPEL_DTYPE_F32 && rp->dtype == SCALPEL_DTYPE_F32, "dtype f32");
    CHECK(scalpel_hybrid_bytes(h) == scalpel_gcsr_bytes(gp) + scalpel_gcsr_bytes(rp), "bytes");
    CHECK(scalpel_hybrid_to_dense(h, back) == SCALPEL_OK && memcmp(back, w, (size_t)rows * cols * 4) == 0,
          "%dx%d G=%d: to_dense is not w bit for bit", (int)rows, (int)cols, (int)G);
    for (k = 0; k < rp->nnz_groups; k++) bad_res += ((const float *)rp->values)[k] == 0.0f;
    CHECK(bad_res == 0, "%d zeros stored in the residual", (int)bad_res);
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * cols;
        int32_t cnt[SCALPEL_GCSR_MAX_GROUP + 1], t_obs = G + 1, t;
        double best = 1e300, chosen;
        unsigned char grouped[256];
        int32_t nwin = (cols + G - 1) / G;
        memset(cnt, 0, sizeof(cnt));
        memset(grouped, 0, sizeof(grouped));
        for (k = gp->row_ptr[r]; k < gp->row_ptr[r + 1]; k++) {
            int32_t win = (int32_t)scalpel_gcsr_col(gp, k) / G;
            if (win < 256) grouped[win] = 1;
        }
        /* the grouped windows are the ones holding at least t_obs nonzeros */
        for (c = 0; c < nwin && c < 256; c++) {
            int32_t nz = 0;
            for (j = c * G; j < c * G + G && j < cols; j++) nz += row[j] != 0.0f;
            cnt[nz]++;
            if (grouped[c] && nz == 0) bad_empty++;
            if (grouped[c] && nz < t_obs) t_obs = nz;
        }
        for (c = 0; c < nwin && c < 256; c++) {
            int32_t nz = 0;
            for (j = c * G; j < c * G + G && j < cols; j++) nz += row[j] != 0.0f;
            if (nz > 0 && (nz >= t_obs) != (grouped[c] != 0)) bad_split++;
        }
        chosen = split_cost(cnt, G, t_obs, cg, cn, cr);
        for (t = 1; t <= G + 1; t++) {
            double ct = split_cost(cnt, G, t, cg, cn, cr);
            if (ct < best) best = ct;
        }
        if (chosen > best * (1.0 + 1e-6)) bad_cost++;
    }
    CHECK(bad_empty == 0, "%d empty windows stored as groups", (int)bad_empty);
    CHECK(bad_split == 0, "%dx%d G=%d: %d windows not split by one threshold", (int)rows, (int)cols, (int)G, (int)bad_split);
    CHECK(bad_cost == 0, "%dx%d G=%d costs %g/%g/%g: %d rows split at more than the least cost", (int)rows, (int)cols,
          (int)G, cg, cn, cr, (int)bad_cost);
    free(back);
}

static void test_hybrid(void)
{
    /* group, nonzero, row; then what must come out: 1 all grouped, 2 all CSR, 0 in between */
    static const float cost_sets[][4] = { { 1.5f, 1.0f, 0.0f, 0 }, { 1.0f, 1.0f, 0.0f, 0 }, { 0.25f, 1.0f, 0.0f, 0 },
                                          { 4.0f, 1.0f, 0.0f, 0 }, { 3.0f, 0.5f, 2.0f, 0 }, { 3.0f, 1.0f, 8.0f, 0 },
                                          { 1.5f, 1.0f, 0.5f, 0 }, { 1e-6f, 1e6f, 0.0f, 1 }, { 1e-6f, 1e6f, 1.0f, 1 },
                                          { 1e6f, 1e-6f, 0.0f, 2 }, { 1.0f, 1.0f, 1e6f, 2 } };
    static const int32_t gs[4] = { 2, 4, 8, 16 };
    int it;
    for (it = 0; it < TEST_ITERS / 40 + 10; it++) {
        int32_t rows = test_range(0, 9) == 0 ? test_range(0, 2) : test_range(1, min32(40, TEST_MAX_DIM));
        int32_t cols = test_range(0, 4) == 0 ? test_range(0, 20) : test_range(1, min32(200, TEST_MAX_DIM));
        int32_t n = test_range(1, 40), gi, ci, r, i;
        size_t rn = (size_t)rows * n;
        float *w = alloc_floats((size_t)rows * cols), *x0 = alloc_floats((size_t)cols), *b0 = alloc_floats((size_t)cols * n);
        double *ex = (double *)xmalloc(rn * sizeof(double) + 8), *sc = (double *)xmalloc(rn * sizeof(double) + 8);
        double *exv = (double *)xmalloc((size_t)rows * sizeof(double) + 8), *scv = (double *)xmalloc((size_t)rows * sizeof(double) + 8);
        int64_t nnz = 0;
        random_matrix(w, rows, cols);
        for (i = 0; i < rows * cols; i++) nnz += w[i] != 0.0f;
        for (i = 0; i < cols; i++) x0[i] = test_uniform();
        for (i = 0; i < cols * n; i++) b0[i] = test_uniform();
        exact_gemv(w, rows, cols, x0, exv, scv);
        exact_gemm(w, rows, cols, b0, n, ex, sc);
        for (gi = 0; gi < 4; gi++)
            for (ci = -1; ci < (int32_t)(sizeof(cost_sets) / sizeof(cost_sets[0])); ci++) {
                scalpel_hybrid h;
                scalpel_hybrid_costs costs;
                const scalpel_hybrid_costs *cp = NULL;
                scalpel_status st;
                int32_t mis = test_range(0, 1), bad = 0, bad_ref = 0;
                float *y, *c, *xb, *x, *bb, *b;
                int32_t expect = ci >= 0 ? (int32_t)cost_sets[ci][3] : 0;
                if (ci >= 0) {
                    memset(&costs, 0, sizeof(costs));
                    costs.group = cost_sets[ci][0]; costs.nonzero = cost_sets[ci][1]; costs.row = cost_sets[ci][2];
                    cp = &costs;
                }
                st = scalpel_hybrid_from_dense(w, rows, cols, gs[gi], cp, &h);
                CHECK(st == SCALPEL_OK, "hybrid_from_dense %dx%d G=%d: %s", (int)rows, (int)cols, (int)gs[gi], scalpel_status_string(st));
                if (st != SCALPEL_OK) continue;
                check_hybrid(w, rows, cols, gs[gi], cp, &h);
                if (expect == 1) { /* groups nearly free: every nonempty window grouped */
                    CHECK(h.residual.nnz_groups == 0, "all grouped: residual holds %d", (int)h.residual.nnz_groups);
                }
                if (expect == 2) { /* groups (or grouped rows) dear: plain CSR */
                    CHECK(h.grouped.nnz_groups == 0 && h.residual.nnz_groups == nnz, "all CSR: %d groups, %d of %d nonzeros",
                          (int)h.grouped.nnz_groups, (int)h.residual.nnz_groups, (int)nnz);
                }
                /* kernels against the dense product */
                x = copy_in(x0, (size_t)cols, test_range(0, 1), &xb);
                y = guarded((size_t)rows, mis);
                scalpel_hybrid_spmv_f32_ref(&h, x, y);
                for (r = 0; r < rows; r++) bad_ref += !close_enough(y[r], exv[r], scv[r], cols);
                for (r = 0; r < rows; r++) y[r] = from_bits(0x7FC00001u);
                scalpel_hybrid_spmv_f32(&h, x, y);
                for (r = 0; r < rows; r++) bad += !close_enough(y[r], exv[r], scv[r], cols);
                CHECK(bad_ref == 0 && bad == 0, "hybrid spmv %dx%d G=%d: ref %d, fast %d off", (int)rows, (int)cols, (int)gs[gi],
                      (int)bad_ref, (int)bad);
                CHECK(guards_intact(y, (size_t)rows, mis), "hybrid spmv wrote outside y");
                guarded_free(y, mis);
                free(xb);
                b = copy_in(b0, (size_t)cols * n, test_range(0, 1), &bb);
                c = guarded(rn, mis);
                bad = bad_ref = 0;
                scalpel_hybrid_spmm_f32_ref(&h, b, n, c);
                for (i = 0; i < (int32_t)rn; i++) bad_ref += !close_enough(c[i], ex[i], sc[i], cols);
                for (i = 0; i < (int32_t)rn; i++) c[i] = from_bits(0x7FC00001u);
                scalpel_hybrid_spmm_f32(&h, b, n, c);
                for (i = 0; i < (int32_t)rn; i++) bad += !close_enough(c[i], ex[i], sc[i], cols);
                CHECK(bad_ref == 0 && bad == 0, "hybrid spmm %dx%dx%d G=%d: ref %d, fast %d off", (int)rows, (int)cols, (int)n,
                      (int)gs[gi], (int)bad_ref, (int)bad);
                CHECK(guards_intact(c, rn, mis), "hybrid spmm wrote outside C");
                guarded_free(c, mis);
                free(bb);
                scalpel_hybrid_free(&h);
                CHECK(h.grouped.block == NULL && h.residual.block == NULL && h.grouped.rows == 0, "free zeroes");
            }
        free(w); free(x0); free(b0); free(ex); free(sc); free(exv); free(scv);
    }
}

static int zeroed_hybrid(const scalpel_hybrid *h)
{
    return h->grouped.rows == 0 && h->grouped.block == NULL && h->grouped.values == NULL && h->grouped.row_ptr == NULL &&
           h->residual.rows == 0 && h->residual.block == NULL && h->residual.values == NULL && h->residual.row_ptr == NULL;
}

static void test_hybrid_errors(void)
{
    float w[4 * 8];
    static const int32_t bad_g[] = { 1, 3, 0, -2, 5, 32 };
    float nan_v = from_bits(0x7FC00000u);
    float bad_costs[][3] = { { 0.0f, 1.0f, 0.0f }, { 1.0f, 0.0f, 0.0f }, { -1.0f, 1.0f, 0.0f }, { 1.0f, -2.0f, 0.0f },
                             { -0.0f, 1.0f, 0.0f }, { 1.0f, 1.0f, -1.0f }, { 1.0f, 1.0f, -1e-30f },
                             { 0.0f, 0.0f, 0.0f }, { 0.0f, 0.0f, 0.0f }, { 0.0f, 0.0f, 0.0f }, { 0.0f, 0.0f, 0.0f } };
    scalpel_hybrid h, z;
    scalpel_hybrid_costs costs;
    counting_alloc a = { 0, 0, -1 };
    size_t i;
    long f;
    bad_costs[7][0] = nan_v; bad_costs[7][1] = 1.0f;
    bad_costs[8][0] = 1.0f; bad_costs[8][1] = nan_v;
    bad_costs[9][0] = -nan_v; bad_costs[9][1] = -nan_v;
    bad_costs[10][0] = 1.0f; bad_costs[10][1] = 1.0f; bad_costs[10][2] = nan_v;
    for (i = 0; i < 32; i++) w[i] = (i % 3) ? (float)i : 0.0f;
    memset(&z, 0, sizeof(z));
    scalpel_hybrid_free(&z);
    scalpel_hybrid_free(NULL);
#define HFAILS(call, code, what)                                                                    \
    do {                                                                                           \
        scalpel_status st_;                                                                        \
        memset(&h, 0xA5, sizeof(h));                                                               \
        st_ = (call);                                                                              \
        CHECK(st_ == (code), "%s: got %s", what, scalpel_status_string(st_));                      \
        CHECK(zeroed_hybrid(&h), "%s: out not zeroed", what);                                      \
    } while (0)
    for (i = 0; i < sizeof(bad_costs) / sizeof(bad_costs[0]); i++) {
        memset(&costs, 0, sizeof(costs));
        costs.group = bad_costs[i][0];
        costs.nonzero = bad_costs[i][1];
        costs.row = bad_costs[i][2];
        HFAILS(scalpel_hybrid_from_dense(w, 4, 8, 4, &costs, &h), SCALPEL_ERR_ARGUMENT, "bad costs");
    }
    for (i = 0; i < sizeof(bad_g) / sizeof(bad_g[0]); i++)
        HFAILS(scalpel_hybrid_from_dense(w, 4, 8, bad_g[i], NULL, &h), SCALPEL_ERR_GROUP, "bad G");
    HFAILS(scalpel_hybrid_from_dense(w, -1, 8, 4, NULL, &h), SCALPEL_ERR_SHAPE, "rows < 0");
    HFAILS(scalpel_hybrid_from_dense(w, 4, -8, 4, NULL, &h), SCALPEL_ERR_SHAPE, "cols < 0");
    HFAILS(scalpel_hybrid_from_dense(NULL, 4, 8, 4, NULL, &h), SCALPEL_ERR_NULL, "w NULL");
    CHECK(scalpel_hybrid_from_dense(w, 4, 8, 4, NULL, NULL) == SCALPEL_ERR_NULL, "out NULL");
    CHECK(scalpel_hybrid_validate(NULL) == SCALPEL_ERR_NULL, "validate NULL");
    CHECK(scalpel_hybrid_to_dense(NULL, w) == SCALPEL_ERR_NULL, "to_dense NULL");
    CHECK(scalpel_hybrid_bytes(NULL) == 0, "bytes NULL");
    /* allocation failure at each of the three allocations: NO_MEMORY, nothing leaked */
    for (f = 0; f < 3; f++) {
        counting_alloc fa = { 0, 0, 0 };
        fa.fail_after = f;
        memset(&h, 0xA5, sizeof(h));
        CHECK(scalpel_hybrid_from_dense_ctx(w, 4, 8, 4, NULL, &fa, &h) == SCALPEL_ERR_NO_MEMORY, "allocation %ld fails", f);
        CHECK(zeroed_hybrid(&h) && fa.frees == fa.allocs, "allocation %ld fails: zeroed, %ld of %ld freed", f, fa.frees, fa.allocs);
    }
    CHECK(scalpel_hybrid_from_dense_ctx(w, 4, 8, 4, NULL, &a, &h) == SCALPEL_OK && h.grouped.alloc_ctx == &a, "from_dense_ctx");
    scalpel_hybrid_free(&h);
    scalpel_hybrid_free(&h);
    CHECK(a.allocs > 0 && a.frees == a.allocs, "every block freed once (%ld of %ld)", a.frees, a.allocs);
#undef HFAILS
}

/* Hand-built parts: 2 x 12, grouped G = 4 holding [0, 4) of row 0 and [8, 12) of row 1;
 * the residual's entries are set per case. */
typedef struct hybrid_fixture {
    int32_t grp[3], rrp[3];
    uint16_t gcol[2], rcol[4];
    float gval[8], rval[8];
    scalpel_hybrid h;
} hybrid_fixture;

static void make_hybrid_fixture(hybrid_fixture *f, int32_t r0a, int32_t r0b, int32_t r1a)
{
    int32_t i;
    memset(f, 0, sizeof(*f));
    f->grp[0] = 0; f->grp[1] = 1; f->grp[2] = 2;
    f->gcol[0] = 0; f->gcol[1] = 8;
    for (i = 0; i < 8; i++) f->gval[i] = (float)(i + 1);
    f->rrp[0] = 0; f->rrp[1] = 2; f->rrp[2] = 3;
    f->rcol[0] = (uint16_t)r0a; f->rcol[1] = (uint16_t)r0b; f->rcol[2] = (uint16_t)r1a;
    f->rval[0] = 10.0f; f->rval[1] = 11.0f; f->rval[2] = 12.0f;
    f->h.grouped.rows = 2; f->h.grouped.cols = 12; f->h.grouped.group = 4; f->h.grouped.index_bits = 16;
    f->h.grouped.dtype = SCALPEL_DTYPE_F32; f->h.grouped.nnz_groups = 2;
    f->h.grouped.row_ptr = f->grp; f->h.grouped.col_idx = f->gcol; f->h.grouped.values = f->gval;
    f->h.residual.rows = 2; f->h.residual.cols = 12; f->h.residual.group = 1; f->h.residual.index_bits = 16;
    f->h.residual.dtype = SCALPEL_DTYPE_F32; f->h.residual.nnz_groups = 3;
    f->h.residual.row_ptr = f->rrp; f->h.residual.col_idx = f->rcol; f->h.residual.values = f->rval;
}

static void test_hybrid_validator(void)
{
    hybrid_fixture f;
    float d[24];
    static const int32_t ok_cases[][3] = { { 4, 11, 0 }, { 5, 6, 7 }, { 4, 7, 3 }, { 8, 9, 4 } };
    static const int32_t overlap[][3] = { { 0, 5, 0 }, { 3, 5, 0 }, { 4, 5, 8 }, { 4, 5, 11 }, { 1, 2, 0 }, { 4, 5, 9 } };
    size_t i;
    for (i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
        make_hybrid_fixture(&f, ok_cases[i][0], ok_cases[i][1], ok_cases[i][2]);
        CHECK(scalpel_hybrid_validate(&f.h) == SCALPEL_OK, "disjoint parts, case %d", (int)i);
    }
    make_hybrid_fixture(&f, 4, 11, 0);
    CHECK(scalpel_hybrid_to_dense(&f.h, d) == SCALPEL_OK && d[0] == 1.0f && d[3] == 4.0f && d[4] == 10.0f && d[11] == 11.0f &&
          d[12] == 12.0f && d[20] == 5.0f && d[23] == 8.0f && d[5] == 0.0f, "to_dense of the hand-built hybrid");
    for (i = 0; i < sizeof(overlap) / sizeof(overlap[0]); i++) {
        scalpel_status st;
        make_hybrid_fixture(&f, overlap[i][0], overlap[i][1], overlap[i][2]);
        st = scalpel_hybrid_validate(&f.h);
        CHECK(st == SCALPEL_ERR_COL_INDEX, "residual weight inside a stored group, case %d: got %s", (int)i, scalpel_status_string(st));
        CHECK(scalpel_hybrid_to_dense(&f.h, d) == st, "to_dense refuses an overlap");
    }
    make_hybrid_fixture(&f, 4, 5, 0);
    f.h.grouped.group = 1; f.h.grouped.nnz_groups = 2;
    CHECK(scalpel_hybrid_validate(&f.h) == SCALPEL_ERR_GROUP, "grouped part with G = 1");
    make_hybrid_fixture(&f, 4, 6, 0);
    f.h.residual.group = 2;
    CHECK(scalpel_hybrid_validate(&f.h) == SCALPEL_ERR_GROUP, "residual with G = 2");
    make_hybrid_fixture(&f, 4, 5, 0);
    f.h.residual.cols = 13;
    CHECK(scalpel_hybrid_validate(&f.h) == SCALPEL_ERR_SHAPE, "parts of different widths");
    make_hybrid_fixture(&f, 4, 5, 0);
    make_hybrid_fixture(&f, 4, 5, 6);
    f.h.residual.rows = 1; f.rrp[1] = 3;
    CHECK(scalpel_hybrid_validate(&f.h) == SCALPEL_ERR_SHAPE, "parts of different heights");
    make_hybrid_fixture(&f, 5, 4, 0);
    CHECK(scalpel_hybrid_validate(&f.h) == SCALPEL_ERR_COL_INDEX, "residual columns decreasing");
    make_hybrid_fixture(&f, 4, 5, 0);
    f.h.residual.values = NULL;
    CHECK(scalpel_hybrid_validate(&f.h) == SCALPEL_ERR_NULL, "residual values NULL");
}

int main(void)
{
    printf("scalpel %s N:M and hybrid, backend %s\n", SCALPEL_VERSION_STRING, scalpel_kernels_backend());
    test_projection_cases();
    test_arguments();
    test_projection();
    test_validator();
    test_reader();
    test_reader_counts();
    test_nm_degenerate();
    test_nm_spmv();
    test_nm_spmm();
    test_hybrid_errors();
    test_hybrid_validator();
    test_hybrid();
    return test_summary("test_nm");
}
