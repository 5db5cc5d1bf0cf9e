/* fuzz_nm.c - libFuzzer harness for the N:M format (reader and builder) and the exact hybrid.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. tests/fuzz_nm.c -o fuzz_nm
 *   ./fuzz_nm -max_total_time=60 -timeout=5 corpus/   (fuzz_seeds writes SCPM seeds; an empty corpus works too)
 *
 * The low two bits of the first byte pick what the input is:
 *   3  the whole input is a serialized N:M buffer (a seed "SCPM..." starts with 'S' = 0x53)
 *      with a correct CRC-32 written over its last four bytes, so that mutations of a seed
 *      reach the checks behind the checksum (test_nm checks that the checksum catches flips)
 *   2  the rest of the input is one, with magic, version, header size and total size fixed up
 *      as well, so that inputs of any length get past the framing
 *   0  scalpel_nm_from_dense on a small matrix decoded from the rest
 *   1  scalpel_hybrid_from_dense on a small matrix decoded from the rest
 * A buffer the reader accepts must validate, expand, multiply (spmv and spmm, without touching
 * memory outside the arrays) and serialize back to the same bytes. Reading, validating,
 * serializing and expanding cost what the bytes hold, never what the header's counts say
 * (2^31 - 1 rows of 0 columns fit in 52 bytes: fuzz_seeds writes that buffer): run with
 * -timeout, so that work bounded by a count instead of the bytes present is a failure.
 * A matrix the builders make must validate, keep in every group the N largest magnitudes
 * (N:M) or give w back exactly (hybrid), survive a serialization round trip (N:M), and
 * multiply like its _ref oracle and the dense product. Any violation aborts. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_DIM 64

static void must(int cond)
{
    if (!cond) abort();
}

/* exactly n floats (one when n = 0), so that ASan sees any access past the end */
static float *floats(size_t n)
{
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    if (p == NULL) abort();
    return p;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

/* got within the summation bound of want (scale = sum |terms|), both finite */
static int close_enough(float got, double want, double scale, int32_t terms)
{
    double tol = 2.0 * (terms + 2) * FLT_EPSILON * scale + 1e-30;
    return fabs((double)got - want) <= tol;
}

/* ---- the reader ------------------------------------------------------------------------------- */

static void check_reader(const unsigned char *buf, size_t size)
{
    scalpel_nm m;
    size_t blk = 0;
    scalpel_status st = scalpel_nm_deserialize(buf, size, &m), sz = scalpel_nm_deserialize_size(buf, size, &blk);
    if (sz != SCALPEL_OK) must(st == sz);
    if (st != SCALPEL_OK) {
        must(m.values == NULL && m.meta == NULL && m.block == NULL && m.rows == 0);
        return;
    }
    must(sz == SCALPEL_OK && blk > 0);
    must(scalpel_nm_validate(&m) == SCALPEL_OK);
    /* canonical: serializing what was read gives the same bytes */
    {
        size_t need = scalpel_nm_serialized_size(&m), written = 0;
        unsigned char *again = (unsigned char *)malloc(need ? need : 1);
        must(need == size);
        must(scalpel_nm_serialize(&m, again, need, &written) == SCALPEL_OK && written == size);
        must(memcmp(again, buf, size) == 0);
        free(again);
    }
    if ((int64_t)m.rows * m.cols <= (1 << 20)) {
        /* any shape of at most 2^20 weights, rows x 0 included (any rows, no array) */
        float *d = floats((size_t)m.rows * m.cols);
        must(scalpel_nm_to_dense(&m, d) == SCALPEL_OK);
        free(d);
    }
    if ((int64_t)m.rows * m.cols <= (1 << 20) && m.rows <= 4096 && m.cols <= 65536) {
        /* exact-size arrays: ASan sees any read past x[cols - 1] or write past y[rows - 1] */
        float *x = floats((size_t)m.cols), *y = floats((size_t)m.rows);
        float *b = floats((size_t)m.cols * 3), *c = floats((size_t)m.rows * 3);
        if (m.cols) memset(x, 0, (size_t)m.cols * sizeof(float));
        if (m.cols) memset(b, 0, (size_t)m.cols * 3 * sizeof(float));
        scalpel_nm_spmv_f32(&m, x, y);
        scalpel_nm_spmv_f32_ref(&m, x, y);
        scalpel_nm_spmv_acc_f32(&m, x, y);
        scalpel_nm_spmm_f32(&m, b, 3, c);
        scalpel_nm_spmm_acc_f32(&m, b, 3, c);
        free(x); free(y); free(b); free(c);
    }
    scalpel_nm_free(&m);
}

/* ---- the builders ----------------------------------------------------------------------------- */

/* w[rows x cols] from the bytes: one byte per value (small multiples of 1/16 of both signs:
 * zeros and ties) or, when raw, four bytes of IEEE bits with NaN and infinity replaced by 0
 * (the builders ask for finite weights). Missing bytes read as 0. */
static void decode_matrix(const unsigned char *p, size_t n, float *w, int32_t count, int raw)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        if (raw) {
            uint32_t bits = 0;
            size_t at = (size_t)i * 4, k;
            float v;
            for (k = 0; k < 4; k++) if (at + k < n) bits |= (uint32_t)p[at + k] << (8 * k);
            memcpy(&v, &bits, 4);
            w[i] = (v - v == 0.0f) ? v : 0.0f;
        } else {
            w[i] = (size_t)i < n ? (float)(int8_t)p[i] / 16.0f : 0.0f;
        }
    }
}

/* Multiplies by x (values in [-1, 1]) and compares fast, _ref and the exact dense product. */
static void check_products_nm(const scalpel_nm *m, const float *d)
{
    int32_t r, c;
    float *x = floats((size_t)m->cols), *y = floats((size_t)m->rows);
    float *yr = floats((size_t)m->rows);
    for (c = 0; c < m->cols; c++) x[c] = (float)((c * 37) % 17 - 8) / 8.0f;
    scalpel_nm_spmv_f32(m, x, y);
    scalpel_nm_spmv_f32_ref(m, x, yr);
    for (r = 0; r < m->rows; r++) {
        double s = 0.0, a = 0.0;
        for (c = 0; c < m->cols; c++) {
            double t = (double)d[(size_t)r * m->cols + c] * x[c];
            s += t; a += fabs(t);
        }
        if (a > 1e30) continue; /* raw weights near FLT_MAX: the float sums may overflow */
        must(close_enough(y[r], s, a, m->cols));
        must(close_enough(yr[r], s, a, m->cols));
    }
    /* spmm with n = 5 (a tail of every vector width) */
    {
        const int32_t n = 5;
        float *b = floats((size_t)m->cols * n);
        float *cc = floats((size_t)m->rows * n);
        float *cr = floats((size_t)m->rows * n);
        int32_t j;
        for (j = 0; j < m->cols * n; j++) b[j] = (float)((j * 29) % 13 - 6) / 6.0f;
        scalpel_nm_spmm_f32(m, b, n, cc);
        scalpel_nm_spmm_f32_ref(m, b, n, cr);
        for (r = 0; r < m->rows; r++)
            for (j = 0; j < n; j++) {
                double s = 0.0, a = 0.0;
                for (c = 0; c < m->cols; c++) {
                    double t = (double)d[(size_t)r * m->cols + c] * b[(size_t)c * n + j];
                    s += t; a += fabs(t);
                }
                if (a > 1e30) continue;
                must(close_enough(cc[(size_t)r * n + j], s, a, m->cols));
                must(close_enough(cr[(size_t)r * n + j], s, a, m->cols));
            }
        free(b); free(cc); free(cr);
    }
    free(x); free(y); free(yr);
}

static void fuzz_nm_from_dense(const unsigned char *p, size_t size)
{
    int32_t rows, cols, M, N, r, g, j, i;
    int raw;
    float *w, *d;
    scalpel_nm m, back;
    int64_t over = -1, groups_over = 0;
    if (size < 3) return;
    rows = p[0] % (FUZZ_MAX_DIM + 1);
    cols = p[1] % (FUZZ_MAX_DIM + 1);
    M = 2 << (p[2] & 3);
    N = 1 + (p[2] >> 2) % M;
    raw = (p[1] & 0x80) != 0;
    w = floats((size_t)rows * cols);
    d = floats((size_t)rows * cols);
    decode_matrix(p + 3, size - 3, w, rows * cols, raw);
    must(scalpel_nm_from_dense(w, rows, cols, N, M, &m) == SCALPEL_OK);
    must(scalpel_nm_validate(&m) == SCALPEL_OK);
    must(m.groups == (cols + M - 1) / M && m.index_bits == (M == 2 ? 1 : M == 4 ? 2 : 4));
    must(scalpel_nm_to_dense(&m, d) == SCALPEL_OK);
    /* every group: the kept positions are those with fewer than N positions ranked before them */
    for (r = 0; r < rows; r++)
        for (g = 0; g < m.groups; g++) {
            float a[SCALPEL_NM_MAX_M];
            int32_t nz = 0, k = g * N;
            for (j = 0; j < M; j++) {
                float v = g * M + j < cols ? w[(size_t)r * cols + g * M + j] : 0.0f;
                a[j] = v < 0.0f ? -v : v;
                nz += v != 0.0f;
            }
            groups_over += nz > N;
            for (j = 0; j < M; j++) {
                int32_t rank = 0;
                for (i = 0; i < M; i++) rank += a[i] > a[j] || (a[i] == a[j] && i < j);
                if (rank < N) {
                    must(scalpel_nm_position(&m, r, k) == j);
                    k++;
                }
                if (g * M + j < cols)
                    must(d[(size_t)r * cols + g * M + j] == (rank < N ? w[(size_t)r * cols + g * M + j] : 0.0f));
            }
        }
    must(scalpel_nm_count_overflow(w, rows, cols, N, M, &over) == SCALPEL_OK && over == groups_over);
    if (over == 0)
        for (i = 0; i < rows * cols; i++) must(d[i] == w[i]); /* by value: a dropped -0.0 returns as +0.0 */
    /* serialization round trip */
    {
        size_t need = scalpel_nm_serialized_size(&m), written = 0;
        unsigned char *buf = (unsigned char *)malloc(need);
        must(need > 0 && scalpel_nm_serialize(&m, buf, need, &written) == SCALPEL_OK && written == need);
        must(scalpel_nm_deserialize(buf, need, &back) == SCALPEL_OK);
        must(back.rows == m.rows && back.cols == m.cols && back.n == m.n && back.m == m.m);
        must(memcmp(back.values, m.values, (size_t)rows * m.groups * N * 4) == 0);
        must((size_t)rows * m.meta_stride == 0 || memcmp(back.meta, m.meta, (size_t)rows * m.meta_stride) == 0);
        scalpel_nm_free(&back);
        free(buf);
    }
    check_products_nm(&m, d);
    scalpel_nm_free(&m);
    free(w);
    free(d);
}

static void fuzz_hybrid_from_dense(const unsigned char *p, size_t size)
{
    int32_t rows, cols, G, i, r, c;
    int raw;
    float *w, *d;
    scalpel_hybrid h;
    scalpel_hybrid_costs costs;
    const scalpel_hybrid_costs *cp = NULL;
    if (size < 6) return;
    rows = p[0] % (FUZZ_MAX_DIM + 1);
    cols = p[1] % (FUZZ_MAX_DIM + 1);
    raw = (p[1] & 0x80) != 0;
    G = 2 << (p[2] & 3);
    if ((p[2] & 4) == 0) {
        memset(&costs, 0, sizeof(costs));
        costs.group = 0.125f * (float)(1 + p[3]);
        costs.nonzero = 0.125f * (float)(1 + p[4]);
        costs.row = 0.5f * (float)p[5];
        cp = &costs;
    }
    w = floats((size_t)rows * cols);
    d = floats((size_t)rows * cols);
    decode_matrix(p + 6, size - 6, w, rows * cols, raw);
    must(scalpel_hybrid_from_dense(w, rows, cols, G, cp, &h) == SCALPEL_OK);
    must(scalpel_hybrid_validate(&h) == SCALPEL_OK);
    must(h.grouped.group == G && h.residual.group == 1);
    must(scalpel_hybrid_to_dense(&h, d) == SCALPEL_OK);
    for (i = 0; i < rows * cols; i++) must(d[i] == w[i]); /* by value: a -0.0 left out returns as +0.0 */
    for (i = 0; i < h.residual.nnz_groups; i++) must(((const float *)h.residual.values)[i] != 0.0f);
    {
        float *x = floats((size_t)cols), *y = floats((size_t)rows);
        float *yr = floats((size_t)rows);
        const int32_t n = 3;
        float *b = floats((size_t)cols * n), *cc = floats((size_t)rows * n);
        for (c = 0; c < cols; c++) x[c] = (float)((c * 37) % 17 - 8) / 8.0f;
        for (i = 0; i < cols * n; i++) b[i] = (float)((i * 29) % 13 - 6) / 6.0f;
        scalpel_hybrid_spmv_f32(&h, x, y);
        scalpel_hybrid_spmv_f32_ref(&h, x, yr);
        scalpel_hybrid_spmm_f32(&h, b, n, cc);
        for (r = 0; r < rows; r++) {
            double s = 0.0, a = 0.0;
            int32_t j;
            for (c = 0; c < cols; c++) {
                double t = (double)w[(size_t)r * cols + c] * x[c];
                s += t; a += fabs(t);
            }
            if (a <= 1e30) {
                must(close_enough(y[r], s, a, cols));
                must(close_enough(yr[r], s, a, cols));
            }
            for (j = 0; j < n; j++) {
                s = 0.0; a = 0.0;
                for (c = 0; c < cols; c++) {
                    double t = (double)w[(size_t)r * cols + c] * b[(size_t)c * n + j];
                    s += t; a += fabs(t);
                }
                if (a <= 1e30) must(close_enough(cc[(size_t)r * n + j], s, a, cols));
            }
        }
        free(x); free(y); free(yr); free(b); free(cc);
    }
    scalpel_hybrid_free(&h);
    free(w);
    free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy;
    if (size == 0) return 0;
    switch (data[0] & 3u) {
    case 0: fuzz_nm_from_dense(data + 1, size - 1); break;
    case 1: fuzz_hybrid_from_dense(data + 1, size - 1); break;
    case 2:
        /* an exact-size copy of the rest, its framing fixed up */
        copy = (unsigned char *)malloc(size - 1 ? size - 1 : 1);
        if (size - 1) memcpy(copy, data + 1, size - 1);
        if (size - 1 >= SCALPEL_NM_HEADER_BYTES + 4) {
            size_t n = size - 1;
            memcpy(copy, SCALPEL_NM_MAGIC, 4);
            copy[4] = SCALPEL_NM_FORMAT_VERSION; copy[5] = 0; copy[6] = SCALPEL_NM_HEADER_BYTES; copy[7] = 0;
            put32(copy + 32, (uint32_t)n);
            put32(copy + 36, (uint32_t)((uint64_t)n >> 32));
            put32(copy + n - 4, scalpel_crc32(0, copy, n - 4));
        }
        check_reader(copy, size - 1);
        free(copy);
        break;
    default:
        copy = (unsigned char *)malloc(size);
        memcpy(copy, data, size);
        if (size >= SCALPEL_NM_HEADER_BYTES + 4) put32(copy + size - 4, scalpel_crc32(0, copy, size - 4));
        check_reader(copy, size);
        free(copy);
        break;
    }
    return 0;
}
