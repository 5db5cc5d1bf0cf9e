/* scalpel_format.h - status codes, allocator hooks and the grouped-CSR sparse format.
 *
 * Part of Scalpel, a header-only C library that makes pruned neural networks run faster and
 * smaller on the hardware they are deployed on. See SCALPEL_VERSION_STRING below.
 *
 * USAGE
 *   Do this in exactly one C or C++ file (or define SCALPEL_IMPLEMENTATION, see scalpel.h):
 *
 *     #define SCALPEL_FORMAT_IMPLEMENTATION
 *     #include "scalpel_format.h"
 *
 *   and include the header without the define everywhere else. A complete example:
 *
 *     #define SCALPEL_FORMAT_IMPLEMENTATION
 *     #include "scalpel_format.h"
 *     #include <stdio.h>
 *     int main(void) {
 *         const float w[2 * 5] = { 1, 2, 0, 0, 0,
 *                                  0, 0, 0, 0, 3 };
 *         scalpel_gcsr m;
 *         scalpel_status st = scalpel_gcsr_from_dense(w, 2, 5, 2, &m);   // G = 2
 *         if (st != SCALPEL_OK) { printf("%s\n", scalpel_status_string(st)); return 1; }
 *         printf("%d groups, %lu bytes\n", (int)m.nnz_groups, (unsigned long)scalpel_gcsr_bytes(&m));
 *         scalpel_gcsr_free(&m);
 *         return 0;
 *     }
 *
 * CONFIGURATION (define before the header is included; "impl" = in the implementation file)
 *   SCALPEL_IMPLEMENTATION          every module's implementation (format, kernels, ...)
 *   SCALPEL_FORMAT_IMPLEMENTATION   this module's implementation only
 *   SCALPEL_STATIC                  all functions `static` (private copy per file); everywhere
 *   SCALPEL_MALLOC(ctx, size)       allocator used when the library must allocate; impl.
 *   SCALPEL_FREE(ctx, p)            define both or neither (checked with #error); `ctx` is the
 *                                   `alloc_ctx` given to the *_ctx functions (NULL otherwise)
 *   SCALPEL_ASSERT(x)               internal invariants only (default: assert); impl.
 *   SCALPEL_NO_MALLOC               removes every allocating entry point (firmware); everywhere.
 *                                   Use the *_size / *_into pairs with your own memory instead.
 *
 * DOES NOT
 *   - keep any global state: every function is reentrant;
 *   - read or write files (serialization works on byte buffers);
 *   - trust a struct or a buffer it did not build: scalpel_gcsr_validate and
 *     scalpel_gcsr_deserialize check everything before use.
 *
 * MEMORY
 *   A matrix built by the library owns one block (`block`) holding its three arrays (values
 *   first, on a 64-byte boundary so that group loads never straddle cache lines), released by
 *   scalpel_gcsr_free. A matrix you fill by hand with your own arrays has block == NULL and
 *   scalpel_gcsr_free only clears the struct. No function here allocates except
 *   scalpel_gcsr_from_dense(_ctx) and scalpel_gcsr_deserialize(_ctx).
 *
 * ERRORS
 *   Functions that can fail return scalpel_status: 0 (SCALPEL_OK) or a negative code grouped by
 *   area; scalpel_status_string() names each. Outputs are cleared before any check, so a failed
 *   call never leaves a half-built object behind.
 */
#ifndef SCALPEL_FORMAT_H
#define SCALPEL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define SCALPEL_VERSION_MAJOR 0
#define SCALPEL_VERSION_MINOR 1
#define SCALPEL_VERSION_PATCH 0
#define SCALPEL_VERSION_STRING "0.1.0"

#ifndef SCALPEL_API
#  ifdef SCALPEL_STATIC
#    if defined(__GNUC__) || defined(__clang__)
#      define SCALPEL_API static __attribute__((unused))
#    else
#      define SCALPEL_API static
#    endif
#  else
#    define SCALPEL_API extern
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* scalpel_status: the result of every function that can fail. 0 is success; errors are
 * negative and grouped by area in steps of 10 so that later modules can append codes without
 * renumbering. Values are stable (they may be stored or logged); new codes are only appended. */
typedef enum scalpel_status {
    SCALPEL_OK = 0,
    /* arguments */
    SCALPEL_ERR_NULL = -1,             /* a required pointer is NULL */
    SCALPEL_ERR_ARGUMENT = -2,         /* an argument has an invalid value */
    SCALPEL_ERR_SHAPE = -3,            /* a dimension is negative or shapes disagree */
    SCALPEL_ERR_OVERFLOW = -4,         /* a size computation would overflow */
    SCALPEL_ERR_UNSUPPORTED = -5,      /* valid, but not supported by this build or version */
    /* memory */
    SCALPEL_ERR_NO_MEMORY = -10,       /* the allocator returned NULL */
    SCALPEL_ERR_BUFFER_TOO_SMALL = -11, /* a caller-provided buffer is too small */
    SCALPEL_ERR_ALIGNMENT = -12,       /* a caller-provided buffer is misaligned */
    /* sparse-format structure */
    SCALPEL_ERR_GROUP = -20,           /* group size is not 1, 2, 4, 8 or 16 */
    SCALPEL_ERR_DTYPE = -21,           /* unknown or unsupported element type */
    SCALPEL_ERR_INDEX_WIDTH = -22,     /* index width is not 16 or 32, or too narrow for cols */
    SCALPEL_ERR_ROW_PTR = -23,         /* row pointers do not start at 0, go backwards, or overrun */
    SCALPEL_ERR_COL_INDEX = -24,       /* column index out of range, misaligned or not increasing */
    SCALPEL_ERR_TAIL = -25,            /* a value of a tail group past `cols` is not zero */
    /* serialized buffers and files */
    SCALPEL_ERR_TRUNCATED = -30,       /* the buffer ends before the data it announces */
    SCALPEL_ERR_MAGIC = -31,           /* not a Scalpel buffer (wrong magic bytes) */
    SCALPEL_ERR_VERSION = -32,         /* written by an unknown format version */
    SCALPEL_ERR_CHECKSUM = -33,        /* CRC-32 mismatch: the data is corrupted */
    SCALPEL_ERR_CORRUPT = -34,         /* header fields are inconsistent */
    SCALPEL_ERR_IO = -35,              /* a file could not be opened, read or written */
    /* GPU (scalpel_cuda.cu) */
    SCALPEL_ERR_NO_DEVICE = -40,       /* no usable CUDA device (or no driver) */
    SCALPEL_ERR_DEVICE = -41           /* the CUDA runtime, cuBLAS or a kernel launch failed */
} scalpel_status;

/* A short English description of `status`, e.g. "column index out of range ...". Never NULL. */
SCALPEL_API const char *scalpel_status_string(scalpel_status status);

/* scalpel_dtype: element type of stored values. Written to disk: numbers are fixed and only
 * appended. Version 0.1 implements F32; Q15 and Q7 (fixed point for Cortex-M) are reserved so
 * that adding them changes no existing name or field. */
typedef enum scalpel_dtype {
    SCALPEL_DTYPE_F32 = 0,
    SCALPEL_DTYPE_Q15 = 1,
    SCALPEL_DTYPE_Q7 = 2
} scalpel_dtype;

/* Bytes per element of `dtype`, 0 if unknown. */
SCALPEL_API size_t scalpel_dtype_size(scalpel_dtype dtype);

/* Largest supported group size. */
#define SCALPEL_GCSR_MAX_GROUP 16

/* scalpel_gcsr: a weight matrix W [rows = outputs] x [cols = inputs] in grouped CSR.
 *
 * Each row is cut into aligned groups of `group` (G) consecutive columns [k*G, k*G + G). A group
 * is stored, all G values, iff any of its weights is nonzero (a stored group may hold zeros).
 * One column index per stored group: the column of its first element, a multiple of G.
 * G = 1 is plain CSR, the traditional one-index-per-weight format. Row r's groups are
 * col_idx[row_ptr[r] .. row_ptr[r+1]) with strictly increasing columns, and their values are
 * values[(row_ptr[r] .. row_ptr[r+1]) * G], G per group in column order.
 *
 * `cols` need not be a multiple of G: the last group of a row may reach past `cols`; its values
 * there are zero and no kernel reads x[cols] or beyond.
 *
 * Fields are public. Build one with scalpel_gcsr_from_dense, read one with
 * scalpel_gcsr_deserialize, or fill it yourself (block = NULL) and check it with
 * scalpel_gcsr_validate before giving it to a kernel: kernels trust their arguments.
 * A zeroed struct (`scalpel_gcsr m = {0};`) is a valid "nothing" for scalpel_gcsr_free.
 * Limits: rows, cols >= 0; nnz_groups * G <= INT32_MAX stored values. */
typedef struct scalpel_gcsr {
    int32_t rows;           /* outputs */
    int32_t cols;           /* inputs */
    int32_t group;          /* G: 1, 2, 4, 8 or 16 */
    int32_t index_bits;     /* width of col_idx entries: 16 (when cols <= 65536) or 32 */
    scalpel_dtype dtype;    /* element type of `values`; kernels named _f32 need F32 */
    int32_t nnz_groups;     /* stored groups = row_ptr[rows] */
    int32_t *row_ptr;       /* [rows + 1] offsets into the stored groups; row_ptr[0] = 0 */
    void *col_idx;          /* [nnz_groups] uint16_t or uint32_t (index_bits): first column */
    void *values;           /* [nnz_groups * G] elements of dtype (float for F32) */
    void *block;            /* the library-owned allocation behind the arrays, or NULL */
    void *alloc_ctx;        /* passed to SCALPEL_FREE when block is released */
} scalpel_gcsr;

/* Column of the first element of stored group k (0 <= k < nnz_groups), whatever the index
 * width. No checks: validate a matrix from outside first. */
static inline uint32_t scalpel_gcsr_col(const scalpel_gcsr *m, int32_t k)
{
    return m->index_bits == 16 ? (uint32_t)((const uint16_t *)m->col_idx)[k]
                               : ((const uint32_t *)m->col_idx)[k];
}

/* Checks a matrix that may come from anywhere: group, dtype, index width, dimensions, counts,
 * every row pointer, every column index (in range, multiple of G, strictly increasing per row)
 * and that tail values past `cols` are zero. O(rows + stored values). */
SCALPEL_API scalpel_status scalpel_gcsr_validate(const scalpel_gcsr *m);

/* Real storage in bytes: values + column indices + row pointers (not the struct, not padding).
 * 0 for NULL. */
SCALPEL_API size_t scalpel_gcsr_bytes(const scalpel_gcsr *m);

/* Dense w[rows x cols] (row-major) -> grouped CSR with group G in {1, 2, 4, 8, 16}, in memory
 * you provide. First ask for the size, then build into at least that many bytes aligned to 4.
 * Nothing is allocated; the result has block == NULL (nothing to free). */
SCALPEL_API scalpel_status scalpel_gcsr_from_dense_size(const float *w, int32_t rows, int32_t cols,
                                                        int32_t group, size_t *bytes);
SCALPEL_API scalpel_status scalpel_gcsr_from_dense_into(const float *w, int32_t rows, int32_t cols,
                                                        int32_t group, void *mem, size_t mem_size,
                                                        scalpel_gcsr *out);

/* Grouped CSR -> dense w[rows x cols] (row-major). Validates m first. */
SCALPEL_API scalpel_status scalpel_gcsr_to_dense(const scalpel_gcsr *m, float *w);

/* Releases what the library allocated for m (if anything) and zeroes the struct. Safe on a
 * zeroed struct, on a hand-filled one (block == NULL) and on NULL. */
SCALPEL_API void scalpel_gcsr_free(scalpel_gcsr *m);

/* Serialization of one matrix to a byte buffer (format version 1, all fields little-endian):
 *
 *   offset  size  field
 *   0       4     magic "SCPG"
 *   4       2     format version (1)
 *   6       2     header size in bytes (48)
 *   8       4     dtype (scalpel_dtype)
 *   12      4     group G
 *   16      4     index bits (16 or 32)
 *   20      4     rows
 *   24      4     cols
 *   28      4     nnz_groups
 *   32      8     total size of the buffer in bytes, checksum included
 *   40      8     reserved, zero
 *   48            row_ptr: (rows + 1) x int32
 *                 col_idx: nnz_groups x uint16 or uint32, then zero padding to a multiple of 4
 *                 values:  nnz_groups x G elements (f32 as IEEE-754 bits), zero padding to 4
 *   total-4 4     CRC-32 (IEEE 802.3, as zlib's crc32) of every byte before it
 *
 * The reader checks the size before every read, every product for overflow, the checksum, then
 * the full structure (scalpel_gcsr_validate). Any malformed buffer gives an error code. */
#define SCALPEL_GCSR_MAGIC "SCPG"
#define SCALPEL_GCSR_FORMAT_VERSION 1
#define SCALPEL_GCSR_HEADER_BYTES 48

/* Exact serialized size of a valid m (0 if m is not valid). */
SCALPEL_API size_t scalpel_gcsr_serialized_size(const scalpel_gcsr *m);
/* Writes m into buf[capacity]; *written = bytes used. Validates m first. */
SCALPEL_API scalpel_status scalpel_gcsr_serialize(const scalpel_gcsr *m, void *buf, size_t capacity,
                                                  size_t *written);
/* Checks data[size] completely and reports the memory scalpel_gcsr_deserialize_into needs. */
SCALPEL_API scalpel_status scalpel_gcsr_deserialize_size(const void *data, size_t size, size_t *bytes);
/* Decodes data[size] into mem (aligned to 4, at least the size above); block == NULL after. */
SCALPEL_API scalpel_status scalpel_gcsr_deserialize_into(const void *data, size_t size, void *mem,
                                                         size_t mem_size, scalpel_gcsr *out);

/* CRC-32 (IEEE, reflected, as zlib's crc32): crc = scalpel_crc32(0, data, n) for a whole
 * buffer, or chain calls by passing the previous result. */
SCALPEL_API uint32_t scalpel_crc32(uint32_t crc, const void *data, size_t size);

#ifndef SCALPEL_NO_MALLOC
/* The allocating versions: SCALPEL_MALLOC(alloc_ctx, ...) one block, owned by *out. */
SCALPEL_API scalpel_status scalpel_gcsr_from_dense(const float *w, int32_t rows, int32_t cols,
                                                   int32_t group, scalpel_gcsr *out);
SCALPEL_API scalpel_status scalpel_gcsr_from_dense_ctx(const float *w, int32_t rows, int32_t cols,
                                                       int32_t group, void *alloc_ctx,
                                                       scalpel_gcsr *out);
SCALPEL_API scalpel_status scalpel_gcsr_deserialize(const void *data, size_t size, scalpel_gcsr *out);
SCALPEL_API scalpel_status scalpel_gcsr_deserialize_ctx(const void *data, size_t size,
                                                        void *alloc_ctx, scalpel_gcsr *out);
#endif

#ifdef __cplusplus
}
#endif

#endif /* SCALPEL_FORMAT_H */

/* >>implementation ========================================================================= */
#if defined(SCALPEL_IMPLEMENTATION) && !defined(SCALPEL_FORMAT_IMPLEMENTATION)
#define SCALPEL_FORMAT_IMPLEMENTATION
#endif

#if defined(SCALPEL_FORMAT_IMPLEMENTATION) && !defined(SCALPEL__FORMAT_IMPLEMENTATION_DONE)
#define SCALPEL__FORMAT_IMPLEMENTATION_DONE

#include <string.h>
#include <limits.h>

#if defined(SCALPEL_MALLOC) != defined(SCALPEL_FREE)
#error "Scalpel: define both SCALPEL_MALLOC(ctx, size) and SCALPEL_FREE(ctx, p), or neither"
#endif
#if !defined(SCALPEL_MALLOC) && !defined(SCALPEL_NO_MALLOC)
#include <stdlib.h>
#define SCALPEL_MALLOC(ctx, size) ((void)(ctx), malloc(size))
#define SCALPEL_FREE(ctx, p) ((void)(ctx), free(p))
#endif
#ifndef SCALPEL_ASSERT
#include <assert.h>
#define SCALPEL_ASSERT(x) assert(x)
#endif

#ifdef __cplusplus
extern "C" {
#endif

SCALPEL_API const char *scalpel_status_string(scalpel_status status)
{
    switch (status) {
    case SCALPEL_OK: return "ok";
    case SCALPEL_ERR_NULL: return "a required pointer is NULL";
    case SCALPEL_ERR_ARGUMENT: return "invalid argument";
    case SCALPEL_ERR_SHAPE: return "invalid or inconsistent shape";
    case SCALPEL_ERR_OVERFLOW: return "size computation would overflow";
    case SCALPEL_ERR_UNSUPPORTED: return "not supported by this build or version";
    case SCALPEL_ERR_NO_MEMORY: return "out of memory";
    case SCALPEL_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case SCALPEL_ERR_ALIGNMENT: return "buffer misaligned";
    case SCALPEL_ERR_GROUP: return "group size must be 1, 2, 4, 8 or 16";
    case SCALPEL_ERR_DTYPE: return "unknown or unsupported element type";
    case SCALPEL_ERR_INDEX_WIDTH: return "index width must be 16 or 32 bits and hold every column";
    case SCALPEL_ERR_ROW_PTR: return "row pointers must start at 0, never decrease and end at the group count";
    case SCALPEL_ERR_COL_INDEX: return "column index out of range, not a multiple of the group size, or not increasing";
    case SCALPEL_ERR_TAIL: return "values of a tail group past the last column must be zero";
    case SCALPEL_ERR_TRUNCATED: return "buffer truncated";
    case SCALPEL_ERR_MAGIC: return "not a Scalpel buffer (bad magic)";
    case SCALPEL_ERR_VERSION: return "unsupported format version";
    case SCALPEL_ERR_CHECKSUM: return "checksum mismatch (corrupted data)";
    case SCALPEL_ERR_CORRUPT: return "inconsistent header fields (corrupted data)";
    case SCALPEL_ERR_IO: return "file input/output error";
    case SCALPEL_ERR_NO_DEVICE: return "no usable CUDA device";
    case SCALPEL_ERR_DEVICE: return "CUDA runtime or cuBLAS error";
    }
    return "unknown status code";
}

SCALPEL_API size_t scalpel_dtype_size(scalpel_dtype dtype)
{
    switch (dtype) {
    case SCALPEL_DTYPE_F32: return 4;
    case SCALPEL_DTYPE_Q15: return 2;
    case SCALPEL_DTYPE_Q7: return 1;
    }
    return 0;
}

/* CRC-32, nibble-table version: 64 bytes of table, no global state, fast enough for loading. */
SCALPEL_API uint32_t scalpel_crc32(uint32_t crc, const void *data, size_t size)
{
    static const uint32_t t[16] = {
        0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
        0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
        0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu };
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    crc = ~crc;
    for (i = 0; i < size; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ t[crc & 15u];
        crc = (crc >> 4) ^ t[crc & 15u];
    }
    return ~crc;
}

static int scalpel__group_ok(int32_t g)
{
    return g == 1 || g == 2 || g == 4 || g == 8 || g == 16;
}

static int32_t scalpel__groups_per_row(int32_t cols, int32_t group)
{
    return (int32_t)(((int64_t)cols + group - 1) / group);
}

static size_t scalpel__round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* Layout of a library-built matrix in one block: values, row_ptr, col_idx, each 16-aligned.
 * Checks every product; fails if the total would not fit a size_t. */
static scalpel_status scalpel__gcsr_layout(int32_t rows, int32_t nnz_groups, int32_t group,
                                           int32_t index_bits, scalpel_dtype dtype,
                                           size_t *off_rowptr, size_t *off_col, size_t *total)
{
    size_t esz = scalpel_dtype_size(dtype), vbytes, rbytes, cbytes;
    if (esz == 0) return SCALPEL_ERR_DTYPE;
    if (rows < 0 || nnz_groups < 0 || rows == INT32_MAX) return SCALPEL_ERR_SHAPE;
    if ((int64_t)nnz_groups * group > (int64_t)INT32_MAX) return SCALPEL_ERR_OVERFLOW;
    /* checked before the product: on 32-bit targets 2^31 values of 4 bytes do not fit */
    if ((size_t)nnz_groups * (size_t)group > (SIZE_MAX - 64) / esz / 4) return SCALPEL_ERR_OVERFLOW;
    vbytes = (size_t)nnz_groups * (size_t)group * esz;
    if ((size_t)rows + 1 > (SIZE_MAX - 64) / 16) return SCALPEL_ERR_OVERFLOW;
    rbytes = ((size_t)rows + 1) * sizeof(int32_t);
    cbytes = (size_t)nnz_groups * (size_t)(index_bits / 8);
    *off_rowptr = scalpel__round_up(vbytes, 16);
    *off_col = *off_rowptr + scalpel__round_up(rbytes, 16);
    if (*off_col > SIZE_MAX - cbytes - 16) return SCALPEL_ERR_OVERFLOW;
    *total = *off_col + scalpel__round_up(cbytes, 16);
    if (*total == 0) *total = 16; /* never ask for a zero-byte block */
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_gcsr_validate(const scalpel_gcsr *m)
{
    int32_t r, gpr;
    size_t esz;
    if (m == NULL) return SCALPEL_ERR_NULL;
    if (!scalpel__group_ok(m->group)) return SCALPEL_ERR_GROUP;
    esz = scalpel_dtype_size(m->dtype);
    if (esz == 0) return SCALPEL_ERR_DTYPE;
    if (m->dtype != SCALPEL_DTYPE_F32) return SCALPEL_ERR_UNSUPPORTED; /* q15/q7: later versions */
    if (m->rows < 0 || m->cols < 0 || m->rows == INT32_MAX) return SCALPEL_ERR_SHAPE;
    if (m->index_bits != 16 && m->index_bits != 32) return SCALPEL_ERR_INDEX_WIDTH;
    if (m->index_bits == 16 && m->cols > 65536) return SCALPEL_ERR_INDEX_WIDTH;
    if (m->nnz_groups < 0) return SCALPEL_ERR_CORRUPT;
    gpr = scalpel__groups_per_row(m->cols, m->group);
    if ((int64_t)m->nnz_groups > (int64_t)m->rows * gpr) return SCALPEL_ERR_CORRUPT;
    if ((int64_t)m->nnz_groups * m->group > (int64_t)INT32_MAX) return SCALPEL_ERR_OVERFLOW;
    if (m->row_ptr == NULL) return SCALPEL_ERR_NULL;
    if (m->nnz_groups > 0 && (m->col_idx == NULL || m->values == NULL)) return SCALPEL_ERR_NULL;
    if (m->row_ptr[0] != 0 || m->row_ptr[m->rows] != m->nnz_groups) return SCALPEL_ERR_ROW_PTR;
    for (r = 0; r < m->rows; r++) {
        int32_t a = m->row_ptr[r], b = m->row_ptr[r + 1], k;
        int64_t prev = -1;
        /* checked before use: a is in [0, nnz] by induction (starts at 0, b checked below) */
        if (b < a || b > m->nnz_groups || b - a > gpr) return SCALPEL_ERR_ROW_PTR;
        for (k = a; k < b; k++) {
            uint32_t c = scalpel_gcsr_col(m, k);
            if ((int64_t)c >= (int64_t)m->cols || c % (uint32_t)m->group != 0 || (int64_t)c <= prev)
                return SCALPEL_ERR_COL_INDEX;
            prev = (int64_t)c;
            if ((int64_t)c + m->group > (int64_t)m->cols) { /* tail group: lanes past cols are 0 */
                const float *v = (const float *)m->values + (size_t)k * (size_t)m->group;
                int32_t j;
                for (j = m->cols - (int32_t)c; j < m->group; j++)
                    if (v[j] != 0.0f) return SCALPEL_ERR_TAIL;
            }
        }
    }
    return SCALPEL_OK;
}

SCALPEL_API size_t scalpel_gcsr_bytes(const scalpel_gcsr *m)
{
    size_t esz;
    if (m == NULL || m->rows < 0 || m->nnz_groups < 0 || m->group < 0) return 0;
    esz = scalpel_dtype_size(m->dtype);
    return (size_t)m->nnz_groups * (size_t)m->group * esz
         + (size_t)m->nnz_groups * (size_t)(m->index_bits == 16 ? 2 : 4)
         + ((size_t)m->rows + 1) * sizeof(int32_t);
}

static int scalpel__group_nonzero(const float *row, int32_t c0, int32_t cols, int32_t group)
{
    int32_t j, end = cols - c0 < group ? cols : c0 + group;
    for (j = c0; j < end; j++)
        if (row[j] != 0.0f) return 1;
    return 0;
}

/* Checks arguments and counts the stored groups of dense w. */
static scalpel_status scalpel__dense_count(const float *w, int32_t rows, int32_t cols, int32_t group,
                                           int32_t *nnz_groups)
{
    int64_t count = 0;
    int32_t r, c;
    if (w == NULL && (int64_t)rows * cols > 0) return SCALPEL_ERR_NULL;
    if (!scalpel__group_ok(group)) return SCALPEL_ERR_GROUP;
    if (rows < 0 || cols < 0 || rows == INT32_MAX) return SCALPEL_ERR_SHAPE;
    if ((uint64_t)rows * (uint64_t)cols > (uint64_t)SIZE_MAX / sizeof(float)) return SCALPEL_ERR_OVERFLOW;
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * (size_t)cols;
        for (c = 0; c < cols; c += group)
            count += scalpel__group_nonzero(row, c, cols, group);
        if (count * group > (int64_t)INT32_MAX) return SCALPEL_ERR_OVERFLOW;
    }
    *nnz_groups = (int32_t)count;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_gcsr_from_dense_size(const float *w, int32_t rows, int32_t cols,
                                                        int32_t group, size_t *bytes)
{
    int32_t nnz = 0;
    size_t orp, oc;
    scalpel_status st;
    if (bytes == NULL) return SCALPEL_ERR_NULL;
    *bytes = 0;
    st = scalpel__dense_count(w, rows, cols, group, &nnz);
    if (st != SCALPEL_OK) return st;
    return scalpel__gcsr_layout(rows, nnz, group, cols <= 65536 ? 16 : 32, SCALPEL_DTYPE_F32,
                                &orp, &oc, bytes);
}

SCALPEL_API scalpel_status scalpel_gcsr_from_dense_into(const float *w, int32_t rows, int32_t cols,
                                                        int32_t group, void *mem, size_t mem_size,
                                                        scalpel_gcsr *out)
{
    int32_t nnz = 0, r, c, k = 0, index_bits = cols <= 65536 ? 16 : 32;
    size_t orp, oc, total;
    float *vals;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (mem == NULL) return SCALPEL_ERR_NULL;
    if ((uintptr_t)mem % 4 != 0) return SCALPEL_ERR_ALIGNMENT;
    st = scalpel__dense_count(w, rows, cols, group, &nnz);
    if (st != SCALPEL_OK) return st;
    st = scalpel__gcsr_layout(rows, nnz, group, index_bits, SCALPEL_DTYPE_F32, &orp, &oc, &total);
    if (st != SCALPEL_OK) return st;
    if (mem_size < total) return SCALPEL_ERR_BUFFER_TOO_SMALL;
    vals = (float *)mem;
    out->rows = rows;
    out->cols = cols;
    out->group = group;
    out->index_bits = index_bits;
    out->dtype = SCALPEL_DTYPE_F32;
    out->nnz_groups = nnz;
    out->values = mem;
    out->row_ptr = (int32_t *)(void *)((unsigned char *)mem + orp);
    out->col_idx = (unsigned char *)mem + oc;
    out->row_ptr[0] = 0;
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * (size_t)cols;
        for (c = 0; c < cols; c += group) {
            int32_t j;
            if (!scalpel__group_nonzero(row, c, cols, group)) continue;
            for (j = 0; j < group; j++)
                vals[(size_t)k * (size_t)group + (size_t)j] = c + j < cols ? row[c + j] : 0.0f;
            if (index_bits == 16) ((uint16_t *)out->col_idx)[k] = (uint16_t)c;
            else ((uint32_t *)out->col_idx)[k] = (uint32_t)c;
            k++;
        }
        out->row_ptr[r + 1] = k;
    }
    SCALPEL_ASSERT(k == nnz);
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_gcsr_to_dense(const scalpel_gcsr *m, float *w)
{
    int32_t r, k, j;
    scalpel_status st = scalpel_gcsr_validate(m);
    if (st != SCALPEL_OK) return st;
    if (w == NULL && (int64_t)m->rows * m->cols > 0) return SCALPEL_ERR_NULL;
    if ((uint64_t)m->rows * (uint64_t)m->cols > (uint64_t)SIZE_MAX / sizeof(float)) return SCALPEL_ERR_OVERFLOW;
    if ((int64_t)m->rows * m->cols > 0) memset(w, 0, (size_t)m->rows * (size_t)m->cols * sizeof(float));
    for (r = 0; r < m->rows; r++) {
        float *row = w + (size_t)r * (size_t)m->cols;
        for (k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++) {
            int32_t c = (int32_t)scalpel_gcsr_col(m, k);
            const float *v = (const float *)m->values + (size_t)k * (size_t)m->group;
            for (j = 0; j < m->group && c + j < m->cols; j++) row[c + j] = v[j];
        }
    }
    return SCALPEL_OK;
}

SCALPEL_API void scalpel_gcsr_free(scalpel_gcsr *m)
{
    if (m == NULL) return;
#ifndef SCALPEL_NO_MALLOC
    if (m->block != NULL) SCALPEL_FREE(m->alloc_ctx, m->block);
#endif
    memset(m, 0, sizeof(*m));
}

/* ---- serialization ---------------------------------------------------------------------- */

static void scalpel__put_u16(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void scalpel__put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static void scalpel__put_u64(unsigned char *p, uint64_t v)
{
    scalpel__put_u32(p, (uint32_t)v);
    scalpel__put_u32(p + 4, (uint32_t)(v >> 32));
}
static uint32_t scalpel__get_u16(const unsigned char *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static uint32_t scalpel__get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t scalpel__get_u64(const unsigned char *p)
{
    return (uint64_t)scalpel__get_u32(p) | ((uint64_t)scalpel__get_u32(p + 4) << 32);
}

/* Serialized size from header fields; 0 when the fields cannot describe a buffer that fits in
 * a size_t (every product checked in 64-bit arithmetic first). */
static size_t scalpel__serialized_size(int64_t rows, int64_t nnz_groups, int64_t group,
                                       int64_t index_bits, size_t esz)
{
    uint64_t total;
    if (rows < 0 || rows >= INT32_MAX || nnz_groups < 0 || nnz_groups > INT32_MAX) return 0;
    if (nnz_groups * group > INT32_MAX) return 0;
    total = SCALPEL_GCSR_HEADER_BYTES + ((uint64_t)rows + 1) * 4u;
    total += ((uint64_t)nnz_groups * (uint64_t)(index_bits / 8) + 3u) / 4u * 4u;
    total += ((uint64_t)nnz_groups * (uint64_t)group * esz + 3u) / 4u * 4u;
    total += 4u;
    if (total > (uint64_t)SIZE_MAX) return 0;
    return (size_t)total;
}

SCALPEL_API size_t scalpel_gcsr_serialized_size(const scalpel_gcsr *m)
{
    if (scalpel_gcsr_validate(m) != SCALPEL_OK) return 0;
    return scalpel__serialized_size(m->rows, m->nnz_groups, m->group, m->index_bits,
                                    scalpel_dtype_size(m->dtype));
}

SCALPEL_API scalpel_status scalpel_gcsr_serialize(const scalpel_gcsr *m, void *buf, size_t capacity,
                                                  size_t *written)
{
    unsigned char *p = (unsigned char *)buf, *q;
    size_t total, i, nvals;
    scalpel_status st;
    if (written == NULL) return SCALPEL_ERR_NULL;
    *written = 0;
    st = scalpel_gcsr_validate(m);
    if (st != SCALPEL_OK) return st;
    if (buf == NULL) return SCALPEL_ERR_NULL;
    total = scalpel_gcsr_serialized_size(m);
    if (total == 0) return SCALPEL_ERR_OVERFLOW;
    if (capacity < total) return SCALPEL_ERR_BUFFER_TOO_SMALL;
    memset(p, 0, total);
    memcpy(p, SCALPEL_GCSR_MAGIC, 4);
    scalpel__put_u16(p + 4, SCALPEL_GCSR_FORMAT_VERSION);
    scalpel__put_u16(p + 6, SCALPEL_GCSR_HEADER_BYTES);
    scalpel__put_u32(p + 8, (uint32_t)m->dtype);
    scalpel__put_u32(p + 12, (uint32_t)m->group);
    scalpel__put_u32(p + 16, (uint32_t)m->index_bits);
    scalpel__put_u32(p + 20, (uint32_t)m->rows);
    scalpel__put_u32(p + 24, (uint32_t)m->cols);
    scalpel__put_u32(p + 28, (uint32_t)m->nnz_groups);
    scalpel__put_u64(p + 32, (uint64_t)total);
    q = p + SCALPEL_GCSR_HEADER_BYTES;
    for (i = 0; i <= (size_t)m->rows; i++, q += 4) scalpel__put_u32(q, (uint32_t)m->row_ptr[i]);
    for (i = 0; i < (size_t)m->nnz_groups; i++) {
        if (m->index_bits == 16) { scalpel__put_u16(q, scalpel_gcsr_col(m, (int32_t)i)); q += 2; }
        else { scalpel__put_u32(q, scalpel_gcsr_col(m, (int32_t)i)); q += 4; }
    }
    q = p + scalpel__round_up((size_t)(q - p), 4);
    nvals = (size_t)m->nnz_groups * (size_t)m->group;
    for (i = 0; i < nvals; i++, q += 4) {
        uint32_t bits;
        memcpy(&bits, (const float *)m->values + i, 4);
        scalpel__put_u32(q, bits);
    }
    scalpel__put_u32(p + total - 4, scalpel_crc32(0, p, total - 4));
    *written = total;
    return SCALPEL_OK;
}

/* Header check shared by _size and _into: everything that can be known without decoding. */
typedef struct scalpel__gcsr_header {
    int32_t rows, cols, group, index_bits, nnz_groups;
    scalpel_dtype dtype;
    size_t total, off_rowptr, off_col, block;
} scalpel__gcsr_header;

static scalpel_status scalpel__gcsr_read_header(const void *data, size_t size, scalpel__gcsr_header *h)
{
    const unsigned char *p = (const unsigned char *)data;
    uint32_t dtype, group, bits, rows, cols, nnz;
    uint64_t total;
    size_t expect;
    if (data == NULL) return SCALPEL_ERR_NULL;
    if (size < 4) return SCALPEL_ERR_TRUNCATED;
    if (memcmp(p, SCALPEL_GCSR_MAGIC, 4) != 0) return SCALPEL_ERR_MAGIC;
    if (size < SCALPEL_GCSR_HEADER_BYTES + 4) return SCALPEL_ERR_TRUNCATED;
    if (scalpel__get_u16(p + 4) != SCALPEL_GCSR_FORMAT_VERSION) return SCALPEL_ERR_VERSION;
    if (scalpel__get_u16(p + 6) != SCALPEL_GCSR_HEADER_BYTES) return SCALPEL_ERR_CORRUPT;
    dtype = scalpel__get_u32(p + 8);
    group = scalpel__get_u32(p + 12);
    bits = scalpel__get_u32(p + 16);
    rows = scalpel__get_u32(p + 20);
    cols = scalpel__get_u32(p + 24);
    nnz = scalpel__get_u32(p + 28);
    total = scalpel__get_u64(p + 32);
    if (scalpel__get_u64(p + 40) != 0) return SCALPEL_ERR_CORRUPT;
    if (dtype > (uint32_t)SCALPEL_DTYPE_Q7) return SCALPEL_ERR_DTYPE;
    if (dtype != (uint32_t)SCALPEL_DTYPE_F32) return SCALPEL_ERR_UNSUPPORTED;
    if (!scalpel__group_ok((int32_t)(group & 0xffu)) || group > 16u) return SCALPEL_ERR_GROUP;
    if (bits != 16u && bits != 32u) return SCALPEL_ERR_INDEX_WIDTH;
    if (rows >= (uint32_t)INT32_MAX || cols > (uint32_t)INT32_MAX || nnz > (uint32_t)INT32_MAX)
        return SCALPEL_ERR_CORRUPT;
    expect = scalpel__serialized_size(rows, nnz, group, bits, scalpel_dtype_size((scalpel_dtype)dtype));
    if (expect == 0) return SCALPEL_ERR_OVERFLOW;
    if (total != (uint64_t)expect) return SCALPEL_ERR_CORRUPT;
    if (size < expect) return SCALPEL_ERR_TRUNCATED;
    if (size > expect) return SCALPEL_ERR_CORRUPT; /* trailing bytes: not what was written */
    if (scalpel_crc32(0, p, expect - 4) != scalpel__get_u32(p + expect - 4)) return SCALPEL_ERR_CHECKSUM;
    h->rows = (int32_t)rows;
    h->cols = (int32_t)cols;
    h->group = (int32_t)group;
    h->index_bits = (int32_t)bits;
    h->nnz_groups = (int32_t)nnz;
    h->dtype = (scalpel_dtype)dtype;
    h->total = expect;
    return scalpel__gcsr_layout(h->rows, h->nnz_groups, h->group, h->index_bits, h->dtype,
                                &h->off_rowptr, &h->off_col, &h->block);
}

SCALPEL_API scalpel_status scalpel_gcsr_deserialize_size(const void *data, size_t size, size_t *bytes)
{
    scalpel__gcsr_header h;
    scalpel_status st;
    if (bytes == NULL) return SCALPEL_ERR_NULL;
    *bytes = 0;
    st = scalpel__gcsr_read_header(data, size, &h);
    if (st == SCALPEL_OK) *bytes = h.block;
    return st;
}

SCALPEL_API scalpel_status scalpel_gcsr_deserialize_into(const void *data, size_t size, void *mem,
                                                         size_t mem_size, scalpel_gcsr *out)
{
    scalpel__gcsr_header h;
    const unsigned char *p = (const unsigned char *)data, *q;
    scalpel_status st;
    size_t i, nvals;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    st = scalpel__gcsr_read_header(data, size, &h);
    if (st != SCALPEL_OK) return st;
    if (mem == NULL) return SCALPEL_ERR_NULL;
    if ((uintptr_t)mem % 4 != 0) return SCALPEL_ERR_ALIGNMENT;
    if (mem_size < h.block) return SCALPEL_ERR_BUFFER_TOO_SMALL;
    out->rows = h.rows;
    out->cols = h.cols;
    out->group = h.group;
    out->index_bits = h.index_bits;
    out->dtype = h.dtype;
    out->nnz_groups = h.nnz_groups;
    out->values = mem;
    out->row_ptr = (int32_t *)(void *)((unsigned char *)mem + h.off_rowptr);
    out->col_idx = (unsigned char *)mem + h.off_col;
    q = p + SCALPEL_GCSR_HEADER_BYTES;
    for (i = 0; i <= (size_t)h.rows; i++, q += 4) out->row_ptr[i] = (int32_t)scalpel__get_u32(q);
    for (i = 0; i < (size_t)h.nnz_groups; i++) {
        if (h.index_bits == 16) { ((uint16_t *)out->col_idx)[i] = (uint16_t)scalpel__get_u16(q); q += 2; }
        else { ((uint32_t *)out->col_idx)[i] = scalpel__get_u32(q); q += 4; }
    }
    q = p + scalpel__round_up((size_t)(q - p), 4);
    nvals = (size_t)h.nnz_groups * (size_t)h.group;
    for (i = 0; i < nvals; i++, q += 4) {
        uint32_t bits = scalpel__get_u32(q);
        memcpy((float *)out->values + i, &bits, 4);
    }
    st = scalpel_gcsr_validate(out);
    if (st != SCALPEL_OK) memset(out, 0, sizeof(*out));
    return st;
}

#ifndef SCALPEL_NO_MALLOC
/* Library-built matrices start their values on a cache line (64 bytes): a vector load of a
 * group then never straddles two lines. The block is over-allocated by the alignment. */
#define SCALPEL__BLOCK_ALIGN 64u
static void *scalpel__align_block(void *p)
{
    uintptr_t a = (uintptr_t)p;
    return (unsigned char *)p + ((SCALPEL__BLOCK_ALIGN - a % SCALPEL__BLOCK_ALIGN) % SCALPEL__BLOCK_ALIGN);
}

SCALPEL_API scalpel_status scalpel_gcsr_from_dense_ctx(const float *w, int32_t rows, int32_t cols,
                                                       int32_t group, void *alloc_ctx,
                                                       scalpel_gcsr *out)
{
    size_t bytes = 0;
    void *mem;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    st = scalpel_gcsr_from_dense_size(w, rows, cols, group, &bytes);
    if (st != SCALPEL_OK) return st;
    if (bytes > SIZE_MAX - SCALPEL__BLOCK_ALIGN) return SCALPEL_ERR_OVERFLOW;
    mem = SCALPEL_MALLOC(alloc_ctx, bytes + SCALPEL__BLOCK_ALIGN);
    if (mem == NULL) return SCALPEL_ERR_NO_MEMORY;
    st = scalpel_gcsr_from_dense_into(w, rows, cols, group, scalpel__align_block(mem), bytes, out);
    if (st != SCALPEL_OK) { SCALPEL_FREE(alloc_ctx, mem); return st; }
    out->block = mem;
    out->alloc_ctx = alloc_ctx;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_gcsr_from_dense(const float *w, int32_t rows, int32_t cols,
                                                   int32_t group, scalpel_gcsr *out)
{
    return scalpel_gcsr_from_dense_ctx(w, rows, cols, group, NULL, out);
}

SCALPEL_API scalpel_status scalpel_gcsr_deserialize_ctx(const void *data, size_t size,
                                                        void *alloc_ctx, scalpel_gcsr *out)
{
    size_t bytes = 0;
    void *mem;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    st = scalpel_gcsr_deserialize_size(data, size, &bytes);
    if (st != SCALPEL_OK) return st;
    if (bytes > SIZE_MAX - SCALPEL__BLOCK_ALIGN) return SCALPEL_ERR_OVERFLOW;
    mem = SCALPEL_MALLOC(alloc_ctx, bytes + SCALPEL__BLOCK_ALIGN);
    if (mem == NULL) return SCALPEL_ERR_NO_MEMORY;
    st = scalpel_gcsr_deserialize_into(data, size, scalpel__align_block(mem), bytes, out);
    if (st != SCALPEL_OK) { SCALPEL_FREE(alloc_ctx, mem); return st; }
    out->block = mem;
    out->alloc_ctx = alloc_ctx;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_gcsr_deserialize(const void *data, size_t size, scalpel_gcsr *out)
{
    return scalpel_gcsr_deserialize_ctx(data, size, NULL, out);
}
#endif /* SCALPEL_NO_MALLOC */

#ifdef __cplusplus
}
#endif

#endif /* SCALPEL_FORMAT_IMPLEMENTATION */

/*
 * LICENCE: MIT. Copyright (c) 2026 the Scalpel authors.
 * Permission is hereby granted, free of charge, to any person obtaining a copy of this software
 * and associated documentation files (the "Software"), to deal in the Software without
 * restriction, including without limitation the rights to use, copy, modify, merge, publish,
 * distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
 * Software is furnished to do so, subject to the following conditions: The above copyright
 * notice and this permission notice shall be included in all copies or substantial portions of
 * the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
