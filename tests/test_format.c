/* test_format.c - the grouped-CSR format: round trips, the validator and the buffer reader.
 *
 * The validator gets hand-corrupted structs (bad group, shapes, row pointers that go backwards,
 * column indices out of range / misaligned / repeated, nonzero tail lanes, counts whose
 * products overflow). The reader gets every truncation of a valid buffer, every single-bit
 * flip, header fields rewritten with the checksum fixed up (so the checks behind the CRC run),
 * and thousands of random mutations. Run under ASan and UBSan by `make test`. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static void fix_crc(unsigned char *buf, size_t size) { put32(buf + size - 4, scalpel_crc32(0, buf, size - 4)); }

static float *random_dense(int32_t rows, int32_t cols, int32_t zero_pct)
{
    float *w = (float *)malloc((size_t)rows * cols * sizeof(float) + 4);
    int32_t i;
    for (i = 0; i < rows * cols; i++) w[i] = test_range(0, 99) < zero_pct ? 0.0f : test_uniform();
    return w;
}

static int same_matrix(const scalpel_gcsr *a, const scalpel_gcsr *b)
{
    int32_t k;
    if (a->rows != b->rows || a->cols != b->cols || a->group != b->group || a->index_bits != b->index_bits ||
        a->nnz_groups != b->nnz_groups || a->dtype != b->dtype)
        return 0;
    if (memcmp(a->row_ptr, b->row_ptr, ((size_t)a->rows + 1) * 4) != 0) return 0;
    for (k = 0; k < a->nnz_groups; k++) {
        uint32_t ca = a->index_bits == 16 ? ((uint16_t *)a->col_idx)[k] : ((uint32_t *)a->col_idx)[k];
        uint32_t cb = b->index_bits == 16 ? ((uint16_t *)b->col_idx)[k] : ((uint32_t *)b->col_idx)[k];
        if (ca != cb) return 0;
    }
    return memcmp(a->values, b->values, (size_t)a->nnz_groups * a->group * 4) == 0;
}

static void test_status_strings(void)
{
    int c, d;
    for (c = -40; c <= 0; c++) CHECK(scalpel_status_string((scalpel_status)c) != NULL, "code %d", c);
    CHECK(strcmp(scalpel_status_string(SCALPEL_OK), "ok") == 0, "ok");
    CHECK(strcmp(scalpel_status_string((scalpel_status)-999), "unknown status code") == 0, "unknown");
    for (c = -35; c < 0; c++)
        for (d = c + 1; d < 0; d++) {
            const char *a = scalpel_status_string((scalpel_status)c), *b = scalpel_status_string((scalpel_status)d);
            if (strcmp(a, "unknown status code") != 0) CHECK(strcmp(a, b) != 0, "codes %d and %d share a message", c, d);
        }
}

static void test_crc(void)
{
    /* the standard check value of CRC-32/ISO-HDLC */
    CHECK(scalpel_crc32(0, "123456789", 9) == 0xCBF43926u, "crc32 check value");
    CHECK(scalpel_crc32(scalpel_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u, "crc32 chains");
    CHECK(scalpel_crc32(0, NULL, 0) == 0u, "crc32 of nothing");
}

static void test_round_trips(void)
{
    int it;
    for (it = 0; it < 400; it++) {
        int32_t rows = test_range(1, 60), cols = test_range(1, 90), g = 1 << test_range(0, 4);
        float *w = random_dense(rows, cols, test_range(0, 100)), *back = (float *)malloc((size_t)rows * cols * 4);
        scalpel_gcsr m, r;
        size_t bytes = 0, need, written = 0, blk = 0;
        unsigned char *buf;
        void *mem;
        int32_t groups = 0, c, row;
        CHECK(scalpel_gcsr_from_dense(w, rows, cols, g, &m) == SCALPEL_OK, "from_dense");
        CHECK(scalpel_gcsr_validate(&m) == SCALPEL_OK, "validate");
        CHECK(m.index_bits == 16, "16-bit indices for %d columns", (int)cols);
        /* one group per aligned window that holds a nonzero */
        for (row = 0; row < rows; row++)
            for (c = 0; c < cols; c += g) {
                int32_t j, nz = 0;
                for (j = c; j < c + g && j < cols; j++) nz |= w[row * cols + j] != 0.0f;
                groups += nz;
            }
        CHECK(m.nnz_groups == groups, "group count %d vs %d", (int)m.nnz_groups, (int)groups);
        CHECK(scalpel_gcsr_bytes(&m) == (size_t)groups * g * 4 + (size_t)groups * 2 + ((size_t)rows + 1) * 4, "bytes");
        CHECK(scalpel_gcsr_to_dense(&m, back) == SCALPEL_OK, "to_dense");
        CHECK(memcmp(w, back, (size_t)rows * cols * 4) == 0, "dense round trip %dx%d G=%d", (int)rows, (int)cols, (int)g);
        /* serialization round trip, allocating and into caller memory */
        need = scalpel_gcsr_serialized_size(&m);
        buf = (unsigned char *)malloc(need);
        CHECK(scalpel_gcsr_serialize(&m, buf, need - 1, &written) == SCALPEL_ERR_BUFFER_TOO_SMALL, "capacity checked");
        CHECK(scalpel_gcsr_serialize(&m, buf, need, &written) == SCALPEL_OK && written == need, "serialize");
        CHECK(scalpel_gcsr_deserialize(buf, need, &r) == SCALPEL_OK, "deserialize");
        CHECK(same_matrix(&m, &r), "serialized round trip");
        scalpel_gcsr_free(&r);
        CHECK(scalpel_gcsr_deserialize_size(buf, need, &blk) == SCALPEL_OK && blk > 0, "deserialize_size");
        mem = malloc(blk);
        CHECK(scalpel_gcsr_deserialize_into(buf, need, mem, blk - 1, &r) == SCALPEL_ERR_BUFFER_TOO_SMALL, "into: too small");
        CHECK(r.rows == 0 && r.row_ptr == NULL, "failed call leaves a zeroed struct");
        CHECK(scalpel_gcsr_deserialize_into(buf, need, (char *)mem + 1, blk - 1, &r) == SCALPEL_ERR_ALIGNMENT, "into: misaligned");
        CHECK(scalpel_gcsr_deserialize_into(buf, need, mem, blk, &r) == SCALPEL_OK && same_matrix(&m, &r), "into");
        CHECK(r.block == NULL, "into: nothing to free");
        scalpel_gcsr_free(&r);
        free(mem);
        /* from_dense_into with caller memory */
        CHECK(scalpel_gcsr_from_dense_size(w, rows, cols, g, &bytes) == SCALPEL_OK, "from_dense_size");
        mem = malloc(bytes);
        CHECK(scalpel_gcsr_from_dense_into(w, rows, cols, g, mem, bytes, &r) == SCALPEL_OK && same_matrix(&m, &r), "from_dense_into");
        scalpel_gcsr_free(&r);
        free(mem);
        free(buf); free(w); free(back);
        scalpel_gcsr_free(&m);
    }
}

static void test_argument_checks(void)
{
    float w[12] = { 1, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 4 };
    scalpel_gcsr m, z;
    size_t bytes;
    memset(&z, 0, sizeof(z));
    scalpel_gcsr_free(&z);
    scalpel_gcsr_free(NULL);
    CHECK(scalpel_gcsr_from_dense(w, 3, 4, 3, &m) == SCALPEL_ERR_GROUP, "G=3");
    CHECK(scalpel_gcsr_from_dense(w, 3, 4, 0, &m) == SCALPEL_ERR_GROUP, "G=0");
    CHECK(scalpel_gcsr_from_dense(w, 3, 4, 32, &m) == SCALPEL_ERR_GROUP, "G=32");
    CHECK(scalpel_gcsr_from_dense(w, -1, 4, 2, &m) == SCALPEL_ERR_SHAPE, "rows < 0");
    CHECK(scalpel_gcsr_from_dense(w, 3, -4, 2, &m) == SCALPEL_ERR_SHAPE, "cols < 0");
    CHECK(scalpel_gcsr_from_dense(NULL, 3, 4, 2, &m) == SCALPEL_ERR_NULL, "w NULL");
    CHECK(scalpel_gcsr_from_dense(w, 3, 4, 2, NULL) == SCALPEL_ERR_NULL, "out NULL");
    CHECK(scalpel_gcsr_from_dense_size(w, 3, 4, 2, NULL) == SCALPEL_ERR_NULL, "bytes NULL");
    CHECK(scalpel_gcsr_from_dense_size(w, INT32_MAX, 1, 2, &bytes) == SCALPEL_ERR_SHAPE, "rows = INT32_MAX (no room for rows + 1 pointers)");
    CHECK(scalpel_gcsr_from_dense_into(w, 3, 4, 2, NULL, 100, &m) == SCALPEL_ERR_NULL, "into NULL mem");
    CHECK(scalpel_gcsr_to_dense(NULL, w) == SCALPEL_ERR_NULL, "to_dense NULL");
    CHECK(scalpel_gcsr_validate(NULL) == SCALPEL_ERR_NULL, "validate NULL");
    CHECK(scalpel_gcsr_bytes(NULL) == 0, "bytes NULL");
    CHECK(scalpel_gcsr_serialized_size(NULL) == 0, "serialized_size NULL");
    CHECK(scalpel_gcsr_deserialize(NULL, 100, &m) == SCALPEL_ERR_NULL, "deserialize NULL");
    CHECK(scalpel_gcsr_from_dense(w, 3, 4, 2, &m) == SCALPEL_OK, "3x4 G=2");
    CHECK(m.nnz_groups == 4, "3x4 G=2 has 4 groups (got %d)", (int)m.nnz_groups);
    scalpel_gcsr_free(&m);
    CHECK(m.block == NULL && m.rows == 0, "free zeroes");
    scalpel_gcsr_free(&m); /* twice is safe */
}

/* A valid 3 x 10 matrix, G = 4 (tail group at column 8 reaches past 10), on caller arrays. */
typedef struct fixture {
    int32_t row_ptr[4];
    uint16_t cols16[5];
    float values[5 * 4];
    scalpel_gcsr m;
} fixture;

static void make_fixture(fixture *f)
{
    static const int32_t rp[4] = { 0, 2, 2, 5 };
    static const uint16_t ci[5] = { 0, 8, 0, 4, 8 };
    int32_t i;
    memcpy(f->row_ptr, rp, sizeof(rp));
    memcpy(f->cols16, ci, sizeof(ci));
    for (i = 0; i < 20; i++) f->values[i] = (float)(i + 1);
    f->values[6] = f->values[7] = 0.0f;   /* tail lanes (cols 10, 11) of group 1 */
    f->values[18] = f->values[19] = 0.0f; /* and of group 4 */
    memset(&f->m, 0, sizeof(f->m));
    f->m.rows = 3; f->m.cols = 10; f->m.group = 4; f->m.index_bits = 16; f->m.dtype = SCALPEL_DTYPE_F32;
    f->m.nnz_groups = 5; f->m.row_ptr = f->row_ptr; f->m.col_idx = f->cols16; f->m.values = f->values;
}

static void test_validator(void)
{
    fixture f;
    float dense[30];
    make_fixture(&f);
    CHECK(scalpel_gcsr_validate(&f.m) == SCALPEL_OK, "fixture is valid");
    CHECK(scalpel_gcsr_to_dense(&f.m, dense) == SCALPEL_OK && dense[8] == 5.0f && dense[9] == 6.0f && dense[10] == 0.0f, "to_dense");
#define CORRUPT(stmt, code, what)                                                                   \
    do {                                                                                           \
        make_fixture(&f);                                                                          \
        stmt;                                                                                      \
        CHECK(scalpel_gcsr_validate(&f.m) == (code), "%s: got %s", what,                           \
              scalpel_status_string(scalpel_gcsr_validate(&f.m)));                                 \
    } while (0)
    CORRUPT(f.m.group = 3, SCALPEL_ERR_GROUP, "group 3");
    CORRUPT(f.m.group = 32, SCALPEL_ERR_GROUP, "group 32");
    CORRUPT(f.m.dtype = (scalpel_dtype)7, SCALPEL_ERR_DTYPE, "dtype 7");
    CORRUPT(f.m.dtype = SCALPEL_DTYPE_Q15, SCALPEL_ERR_TAIL, "float bits read as q15: a nonzero tail value");
    CORRUPT(f.m.rows = -1, SCALPEL_ERR_SHAPE, "rows < 0");
    CORRUPT(f.m.cols = -1, SCALPEL_ERR_SHAPE, "cols < 0");
    CORRUPT(f.m.index_bits = 8, SCALPEL_ERR_INDEX_WIDTH, "8-bit indices");
    CORRUPT((f.m.cols = 70000, f.m.index_bits = 16), SCALPEL_ERR_INDEX_WIDTH, "16-bit indices for 70000 columns");
    CORRUPT(f.m.nnz_groups = -1, SCALPEL_ERR_CORRUPT, "negative count");
    CORRUPT(f.m.nnz_groups = 100, SCALPEL_ERR_CORRUPT, "more groups than the shape holds");
    CORRUPT((f.m.cols = INT32_MAX, f.m.group = 16, f.m.index_bits = 32, f.m.nnz_groups = 0x10000000),
            SCALPEL_ERR_OVERFLOW, "nnz_groups * G past INT32_MAX, caught before any array is read");
    CORRUPT(f.m.row_ptr = NULL, SCALPEL_ERR_NULL, "row_ptr NULL");
    CORRUPT(f.m.col_idx = NULL, SCALPEL_ERR_NULL, "col_idx NULL");
    CORRUPT(f.m.values = NULL, SCALPEL_ERR_NULL, "values NULL");
    CORRUPT(f.row_ptr[0] = 1, SCALPEL_ERR_ROW_PTR, "row_ptr[0] != 0");
    CORRUPT(f.row_ptr[3] = 4, SCALPEL_ERR_ROW_PTR, "row_ptr[rows] != nnz");
    CORRUPT((f.row_ptr[2] = 1), SCALPEL_ERR_ROW_PTR, "row pointers go backwards");
    CORRUPT((f.row_ptr[1] = -1), SCALPEL_ERR_ROW_PTR, "negative row pointer");
    CORRUPT((f.row_ptr[1] = 0, f.row_ptr[2] = 0), SCALPEL_ERR_ROW_PTR, "row with more groups than fit");
    CORRUPT(f.cols16[1] = 12, SCALPEL_ERR_COL_INDEX, "column out of range");
    CORRUPT(f.cols16[1] = 6, SCALPEL_ERR_COL_INDEX, "column not a multiple of G");
    CORRUPT(f.cols16[1] = 0, SCALPEL_ERR_COL_INDEX, "column repeated");
    CORRUPT((f.cols16[2] = 4, f.cols16[3] = 0), SCALPEL_ERR_COL_INDEX, "columns decreasing");
    CORRUPT(f.values[7] = 1.0f, SCALPEL_ERR_TAIL, "nonzero tail lane");
#undef CORRUPT
}

/* A serialized valid matrix with a tail group and both index widths covered by callers. */
static unsigned char *valid_buffer(int32_t rows, int32_t cols, int32_t g, size_t *size)
{
    float *w = random_dense(rows, cols, 50);
    scalpel_gcsr m;
    unsigned char *buf;
    size_t n = 0;
    if (scalpel_gcsr_from_dense(w, rows, cols, g, &m) != SCALPEL_OK) { free(w); return NULL; }
    *size = scalpel_gcsr_serialized_size(&m);
    buf = (unsigned char *)malloc(*size);
    scalpel_gcsr_serialize(&m, buf, *size, &n);
    scalpel_gcsr_free(&m);
    free(w);
    return buf;
}

/* Read an exact-size copy (so ASan sees an overread) and check the outcome is coherent. */
static scalpel_status read_copy(const unsigned char *src, size_t size)
{
    unsigned char *copy = (unsigned char *)malloc(size ? size : 1);
    scalpel_gcsr m;
    scalpel_status st;
    if (size) memcpy(copy, src, size);
    st = scalpel_gcsr_deserialize(copy, size, &m);
    if (st == SCALPEL_OK) {
        CHECK(scalpel_gcsr_validate(&m) == SCALPEL_OK, "accepted buffer gives a valid matrix");
    } else {
        CHECK(m.block == NULL && m.row_ptr == NULL, "rejected buffer leaves a zeroed struct");
    }
    scalpel_gcsr_free(&m);
    free(copy);
    return st;
}

static void test_reader(void)
{
    size_t size = 0, i;
    unsigned char *buf = valid_buffer(7, 13, 4, &size), *bad;
    int32_t bit, it;
    CHECK(buf != NULL, "valid buffer");
    if (buf == NULL) return;
    CHECK(read_copy(buf, size) == SCALPEL_OK, "valid buffer reads");
    /* every truncation */
    for (i = 0; i < size; i++) CHECK(read_copy(buf, i) != SCALPEL_OK, "truncated to %lu accepted", (unsigned long)i);
    CHECK(read_copy(buf, 3) == SCALPEL_ERR_TRUNCATED, "3 bytes: truncated");
    CHECK(read_copy(buf, size - 1) == SCALPEL_ERR_TRUNCATED, "one byte short: truncated");
    /* one extra byte */
    bad = (unsigned char *)malloc(size + 1);
    memcpy(bad, buf, size);
    bad[size] = 0;
    CHECK(read_copy(bad, size + 1) == SCALPEL_ERR_CORRUPT, "trailing byte refused");
    /* every single-bit flip */
    for (i = 0; i < size; i++)
        for (bit = 0; bit < 8; bit++) {
            memcpy(bad, buf, size);
            bad[i] ^= (unsigned char)(1u << bit);
            CHECK(read_copy(bad, size) != SCALPEL_OK, "bit %d of byte %lu flipped accepted", (int)bit, (unsigned long)i);
        }
    memcpy(bad, buf, size); bad[0] = 'X';
    CHECK(read_copy(bad, size) == SCALPEL_ERR_MAGIC, "magic");
    memcpy(bad, buf, size); bad[4] = 2; fix_crc(bad, size);
    CHECK(read_copy(bad, size) == SCALPEL_ERR_VERSION, "version 2");
    memcpy(bad, buf, size); bad[size - 1] ^= 0x55;
    CHECK(read_copy(bad, size) == SCALPEL_ERR_CHECKSUM, "checksum");

    /* header fields rewritten, checksum fixed up: the checks behind the CRC must hold */
#define REWRITE(off, val, what)                                                                     \
    do {                                                                                           \
        memcpy(bad, buf, size);                                                                    \
        put32(bad + (off), (uint32_t)(val));                                                       \
        fix_crc(bad, size);                                                                        \
        CHECK(read_copy(bad, size) != SCALPEL_OK, "%s accepted", what);                            \
    } while (0)
    REWRITE(8, 1, "dtype q15");
    REWRITE(8, 99, "dtype 99");
    REWRITE(12, 3, "group 3");
    REWRITE(12, 0x104, "group 0x104");
    REWRITE(16, 8, "index bits 8");
    REWRITE(20, 0xFFFFFFFFu, "rows 2^32-1");
    REWRITE(20, 0x7FFFFFFEu, "rows 2^31-2");
    REWRITE(20, 8, "rows + 1");
    REWRITE(24, 0x80000000u, "cols 2^31");
    REWRITE(24, 9, "cols shrunk under a column index");
    REWRITE(28, 0x7FFFFFFFu, "nnz_groups 2^31-1");
    REWRITE(28, 0x20000000u, "nnz_groups * G overflows int32");
    REWRITE(32, 0xFFFFFFFFu, "total size");
    REWRITE(40, 1, "reserved");
    /* payload: row pointer going backwards, column index out of range, misaligned */
    REWRITE(48 + 4, 0xFFFFFFFFu, "row_ptr[1] = -1");
    REWRITE(48, 1, "row_ptr[0] = 1");
#undef REWRITE
    {
        /* column entries start after the 8 row pointers: 48 + 32 */
        size_t ci = 48 + 8 * 4;
        memcpy(bad, buf, size); bad[ci] = 13; bad[ci + 1] = 0; fix_crc(bad, size);
        CHECK(read_copy(bad, size) != SCALPEL_OK, "column 13 of 13 accepted");
        memcpy(bad, buf, size); bad[ci] = (unsigned char)(bad[ci] + 2); fix_crc(bad, size);
        CHECK(read_copy(bad, size) != SCALPEL_OK, "misaligned column accepted");
    }
    /* random mutations with the CRC fixed up: never a crash, never an invalid matrix */
    for (it = 0; it < 20000; it++) {
        int32_t n = test_range(1, 4), j;
        memcpy(bad, buf, size);
        for (j = 0; j < n; j++) bad[test_range(0, (int32_t)size - 5)] = (unsigned char)test_rand();
        if (test_range(0, 1)) fix_crc(bad, size);
        (void)read_copy(bad, size);
    }
    free(bad);
    free(buf);

#ifndef TEST_SMALL_MEMORY /* 560 KB: more than a Cortex-M board's RAM */
    /* a wide matrix takes 32-bit indices and survives the same round trip */
    {
        int32_t cols = 70000;
        float *w = (float *)calloc((size_t)2 * cols, sizeof(float));
        scalpel_gcsr m, r;
        unsigned char *b2;
        size_t n2 = 0, sz;
        w[5] = 1.0f; w[cols + 69999] = 2.0f;
        CHECK(scalpel_gcsr_from_dense(w, 2, cols, 16, &m) == SCALPEL_OK, "70000 columns");
        CHECK(m.index_bits == 32, "32-bit indices past 65536 columns");
        CHECK(scalpel_gcsr_bytes(&m) == 2 * 16 * 4 + 2 * 4 + 3 * 4, "bytes with 32-bit indices");
        sz = scalpel_gcsr_serialized_size(&m);
        b2 = (unsigned char *)malloc(sz);
        CHECK(scalpel_gcsr_serialize(&m, b2, sz, &n2) == SCALPEL_OK, "serialize wide");
        CHECK(scalpel_gcsr_deserialize(b2, sz, &r) == SCALPEL_OK && same_matrix(&m, &r), "wide round trip");
        scalpel_gcsr_free(&r);
        scalpel_gcsr_free(&m);
        free(b2);
        free(w);
    }
#endif
}

int main(void)
{
    test_status_strings();
    test_crc();
    test_argument_checks();
    test_round_trips();
    test_validator();
    test_reader();
    return test_summary("test_format");
}
