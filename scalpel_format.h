/* scalpel_format.h - status codes, allocator hooks and the sparse formats: grouped CSR, N:M,
 * TASD series of N:M terms, and the exact grouped + CSR hybrid.
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
 *   - trust a struct or a buffer it did not build: scalpel_gcsr_validate, scalpel_nm_validate,
 *     scalpel_tasd_validate, scalpel_hybrid_validate and the deserializers check everything
 *     before use.
 *
 * MEMORY
 *   A matrix built by the library owns one block (`block`) holding its three arrays (values
 *   first, on a 64-byte boundary so that group loads never straddle cache lines), released by
 *   scalpel_gcsr_free. A matrix you fill by hand with your own arrays has block == NULL and
 *   scalpel_gcsr_free only clears the struct. No function here allocates except
 *   scalpel_gcsr_from_dense(_ctx) and scalpel_gcsr_deserialize(_ctx), their N:M twins (each
 *   also has a _size / _into pair for your own memory) and scalpel_hybrid_from_dense(_ctx).
 *   scalpel_nm (one block: values, then packed positions) works the same way; a TASD series
 *   and a hybrid own their parts, released by scalpel_tasd_free / scalpel_hybrid_free.
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
    SCALPEL_ERR_NOT_FOUND = -36,       /* no such file, or a directory on its path is missing */
    SCALPEL_ERR_PERMISSION = -37,      /* permission denied, or a read-only file system */
    SCALPEL_ERR_NOT_REGULAR = -38,     /* not a regular file: a directory, device, FIFO, socket, or
                                          a symbolic link where a file is to be replaced */
    SCALPEL_ERR_NO_SPACE = -39,        /* disk full, quota exceeded or file size limit reached */
    /* GPU (scalpel_cuda.cu) */
    SCALPEL_ERR_NO_DEVICE = -40,       /* no usable CUDA device (or no driver) */
    SCALPEL_ERR_DEVICE = -41           /* the CUDA runtime, cuBLAS or a kernel launch failed */
} scalpel_status;

/* A short English description of `status`, e.g. "column index out of range ...". Never NULL. */
SCALPEL_API const char *scalpel_status_string(scalpel_status status);

/* scalpel_dtype: element type of stored values. Written to disk: numbers are fixed and only
 * appended. F32 is IEEE single precision; Q15 (int16_t) and Q7 (int8_t) are symmetric fixed
 * point for microcontrollers: a value means q * scale, the scale kept beside the data (per
 * layer or per output channel, see scalpel_requant in scalpel_kernels.h). */
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

/* Checks a matrix that may come from anywhere: group, dtype (F32, Q15 or Q7: check the dtype a
 * kernel needs yourself), index width, dimensions, counts, every row pointer, every column
 * index (in range, multiple of G, strictly increasing per row) and that tail values past
 * `cols` are zero. O(rows + stored values). */
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

/* Grouped CSR -> dense w[rows x cols] (row-major). Validates m first; SCALPEL_ERR_DTYPE for a
 * Q15 / Q7 matrix (use scalpel_gcsr_to_dense_fixed). */
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
 *                 values:  nnz_groups x G elements (f32 as IEEE-754 bits, q15 as 16-bit and q7
 *                          as 8-bit two's complement), then zero padding to a multiple of 4
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

/* Fixed-point grouped CSR (dtype Q15 or Q7): the same layout with int16_t / int8_t values.
 * w is dense [rows x cols] row-major int16_t (Q15) or int8_t (Q7); a group is stored iff one of
 * its integers is nonzero. The _size / _into pair as above (memory aligned to 4). */
SCALPEL_API scalpel_status scalpel_gcsr_from_dense_fixed_size(const void *w, scalpel_dtype dtype,
                                                              int32_t rows, int32_t cols, int32_t group,
                                                              size_t *bytes);
SCALPEL_API scalpel_status scalpel_gcsr_from_dense_fixed_into(const void *w, scalpel_dtype dtype,
                                                              int32_t rows, int32_t cols, int32_t group,
                                                              void *mem, size_t mem_size, scalpel_gcsr *out);
/* Fixed-point grouped CSR -> dense w[rows x cols] of m's dtype (int16_t or int8_t). Validates m
 * first; SCALPEL_ERR_DTYPE for an F32 matrix (use scalpel_gcsr_to_dense). */
SCALPEL_API scalpel_status scalpel_gcsr_to_dense_fixed(const scalpel_gcsr *m, void *w);

#ifndef SCALPEL_NO_MALLOC
/* The allocating versions: SCALPEL_MALLOC(alloc_ctx, ...) one block, owned by *out. */
SCALPEL_API scalpel_status scalpel_gcsr_from_dense_fixed(const void *w, scalpel_dtype dtype, int32_t rows,
                                                         int32_t cols, int32_t group, void *alloc_ctx,
                                                         scalpel_gcsr *out);
SCALPEL_API scalpel_status scalpel_gcsr_from_dense(const float *w, int32_t rows, int32_t cols,
                                                   int32_t group, scalpel_gcsr *out);
SCALPEL_API scalpel_status scalpel_gcsr_from_dense_ctx(const float *w, int32_t rows, int32_t cols,
                                                       int32_t group, void *alloc_ctx,
                                                       scalpel_gcsr *out);
SCALPEL_API scalpel_status scalpel_gcsr_deserialize(const void *data, size_t size, scalpel_gcsr *out);
SCALPEL_API scalpel_status scalpel_gcsr_deserialize_ctx(const void *data, size_t size,
                                                        void *alloc_ctx, scalpel_gcsr *out);
#endif

/* ---- N:M structured sparsity -------------------------------------------------------------- */

/* Largest supported M (group length) of the N:M format. */
#define SCALPEL_NM_MAX_M 16

/* scalpel_nm: a weight matrix W [rows = outputs] x [cols = inputs] in N:M structured sparsity.
 *
 * Each row is cut into aligned groups of M consecutive columns [g*M, g*M + M) along the input
 * (reduction) axis, as NVIDIA's sparse tensor cores do for 2:4. Every group keeps exactly N
 * slots: N values and, per value, its position inside the group (0 .. M-1), strictly
 * increasing. A kept value may be zero (a group with fewer than N nonzeros pads with zeros at
 * the lowest free positions), so every row has the same `groups * N` slots and needs no row
 * pointers: the structure is the pattern, only positions are stored.
 *
 *   values: [rows x groups x N] floats; slot s of group g of row r at (r*groups + g)*N + s.
 *   meta:   [rows x meta_stride] bytes; the position of slot k = g*N + s of row r is the
 *           `index_bits`-bit field at bit k*index_bits of the row's bytes (least significant
 *           bits first). index_bits is 1 for M = 2, 2 for M = 4 and 4 for M = 8 and 16 (rounded up
 *           to a power of two so that no field straddles a byte: M = 8 pays 1 bit per kept value
 *           over the 3 it needs). For 2:4 this is the 4-bit-per-group layout of sparse tensor cores.
 *
 * `cols` need not be a multiple of M: slots of the last group whose column is >= cols hold
 * zero and no kernel reads x[cols] or beyond.
 *
 * M is 2, 4, 8 or 16 and 1 <= N <= M. Build one with scalpel_nm_from_dense (the N:M projection:
 * the N largest magnitudes of each group, ties to the lowest position; lossless exactly when no
 * group holds more than N nonzeros, which scalpel_nm_count_overflow tells), read one with
 * scalpel_nm_deserialize, or fill it yourself (block = NULL) and check it with
 * scalpel_nm_validate before giving it to a kernel. A zeroed struct is a valid "nothing" for
 * scalpel_nm_free. Limits: rows * groups * N <= INT32_MAX slots. */
typedef struct scalpel_nm {
    int32_t rows;           /* outputs */
    int32_t cols;           /* inputs */
    int32_t n;              /* kept values per group (N) */
    int32_t m;              /* group length along the input axis (M): 2, 4, 8 or 16 */
    int32_t groups;         /* groups per row: ceil(cols / M) */
    int32_t index_bits;     /* bits per stored position: 1, 2 or 4 (see above) */
    int32_t meta_stride;    /* metadata bytes per row: ceil(groups * N * index_bits / 8) */
    float *values;          /* [rows x groups x N] kept values */
    uint8_t *meta;          /* [rows x meta_stride] packed positions */
    void *block;            /* the library-owned allocation behind the arrays, or NULL */
    void *alloc_ctx;        /* passed to SCALPEL_FREE when block is released */
} scalpel_nm;

/* Position (0 .. M-1) inside its group of slot k of row r. No checks. */
static inline int32_t scalpel_nm_position(const scalpel_nm *w, int32_t r, int32_t k)
{
    size_t bit = (size_t)k * (size_t)w->index_bits;
    const uint8_t *row = w->meta + (size_t)r * (size_t)w->meta_stride;
    return (int32_t)((row[bit >> 3] >> (bit & 7u)) & ((1u << w->index_bits) - 1u));
}

/* Checks a matrix that may come from anywhere: N, M, shape, derived fields, array pointers,
 * every position (below M, strictly increasing within its group), zeros in slots past `cols`.
 * O(rows * groups * N), and O(1) when cols = 0 whatever rows is: the work is bounded by the
 * bytes of the arrays, so a reader's cost is bounded by the buffer it reads. Errors:
 * SCALPEL_ERR_ARGUMENT (N, M, index_bits or meta_stride), SCALPEL_ERR_SHAPE,
 * SCALPEL_ERR_OVERFLOW, SCALPEL_ERR_NULL, SCALPEL_ERR_COL_INDEX (a position), SCALPEL_ERR_TAIL,
 * SCALPEL_ERR_CORRUPT (nonzero unused bits at the end of a row's metadata: every matrix has one
 * encoding). */
SCALPEL_API scalpel_status scalpel_nm_validate(const scalpel_nm *w);

/* Real storage in bytes: values + metadata (not the struct, not padding). 0 for NULL. */
SCALPEL_API size_t scalpel_nm_bytes(const scalpel_nm *w);

/* Groups of dense w[rows x cols] holding more than N nonzeros: the ones the N:M projection
 * changes. 0 means scalpel_nm_from_dense is exact for this w. */
SCALPEL_API scalpel_status scalpel_nm_count_overflow(const float *w, int32_t rows, int32_t cols,
                                                     int32_t n, int32_t m, int64_t *groups);

/* Dense w[rows x cols] -> N:M, keeping in each group of M the N values of largest magnitude
 * (ties: lowest position); the others are dropped (see scalpel_nm_count_overflow). In memory you
 * provide: ask for the size (depends only on the shape), then build into at least that many
 * bytes aligned to 4. The result has block == NULL. w must be finite. */
SCALPEL_API scalpel_status scalpel_nm_from_dense_size(int32_t rows, int32_t cols, int32_t n, int32_t m,
                                                      size_t *bytes);
SCALPEL_API scalpel_status scalpel_nm_from_dense_into(const float *w, int32_t rows, int32_t cols,
                                                      int32_t n, int32_t m, void *mem, size_t mem_size,
                                                      scalpel_nm *out);

/* N:M -> dense w[rows x cols] (row-major). Validates first. */
SCALPEL_API scalpel_status scalpel_nm_to_dense(const scalpel_nm *w, float *dense);

/* Releases what the library allocated for w (if anything) and zeroes the struct. Safe on a
 * zeroed struct, a hand-filled one and NULL. */
SCALPEL_API void scalpel_nm_free(scalpel_nm *w);

/* Serialization of one N:M matrix to a byte buffer (format version 1, little-endian):
 *
 *   offset  size  field
 *   0       4     magic "SCPM"
 *   4       2     format version (1)
 *   6       2     header size in bytes (48)
 *   8       4     dtype (scalpel_dtype; F32 only in version 1)
 *   12      4     N
 *   16      4     M
 *   20      4     rows
 *   24      4     cols
 *   28      4     reserved, zero
 *   32      8     total size of the buffer in bytes, checksum included
 *   40      8     reserved, zero
 *   48            meta:   rows x meta_stride bytes, zero padding to a multiple of 4
 *                 values: rows x groups x N f32 (IEEE-754 bits)
 *   total-4 4     CRC-32 (as scalpel_crc32) of every byte before it
 *
 * groups, index_bits and meta_stride are derived from N, M and cols, never stored. The reader
 * checks sizes before reads, products for overflow, the checksum, then scalpel_nm_validate. */
#define SCALPEL_NM_MAGIC "SCPM"
#define SCALPEL_NM_FORMAT_VERSION 1
#define SCALPEL_NM_HEADER_BYTES 48

/* Exact serialized size of a valid w (0 if w is not valid). */
SCALPEL_API size_t scalpel_nm_serialized_size(const scalpel_nm *w);
/* Writes w into buf[capacity]; *written = bytes used. Validates w first. */
SCALPEL_API scalpel_status scalpel_nm_serialize(const scalpel_nm *w, void *buf, size_t capacity,
                                                size_t *written);
/* Checks data[size]'s framing (magic, version, sizes, checksum) and reports the memory
 * scalpel_nm_deserialize_into needs; _into then checks the contents (scalpel_nm_validate). */
SCALPEL_API scalpel_status scalpel_nm_deserialize_size(const void *data, size_t size, size_t *bytes);
/* Decodes data[size] into mem (aligned to 4, at least the size above); block == NULL after. */
SCALPEL_API scalpel_status scalpel_nm_deserialize_into(const void *data, size_t size, void *mem,
                                                       size_t mem_size, scalpel_nm *out);

#ifndef SCALPEL_NO_MALLOC
/* The allocating versions: one SCALPEL_MALLOC(alloc_ctx, ...) block, owned by *out. */
SCALPEL_API scalpel_status scalpel_nm_from_dense(const float *w, int32_t rows, int32_t cols,
                                                 int32_t n, int32_t m, scalpel_nm *out);
SCALPEL_API scalpel_status scalpel_nm_from_dense_ctx(const float *w, int32_t rows, int32_t cols,
                                                     int32_t n, int32_t m, void *alloc_ctx,
                                                     scalpel_nm *out);
SCALPEL_API scalpel_status scalpel_nm_deserialize(const void *data, size_t size, scalpel_nm *out);
SCALPEL_API scalpel_status scalpel_nm_deserialize_ctx(const void *data, size_t size, void *alloc_ctx,
                                                      scalpel_nm *out);
#endif

/* ---- TASD series: a sum of N:M terms ------------------------------------------------------ */

/* Most terms in one series. Three terms of one M express any k:M (binary decomposition of k);
 * the fourth leaves room for a mixed-M tail. */
#define SCALPEL_TASD_MAX_TERMS 4

/* scalpel_tasd: W [rows x cols] approximated (or represented exactly) by a series of N:M
 * terms, W ~ T1 + T2 + ... + Tn, so that W . x ~ T1 . x + ... + Tn . x: every term is a
 * structured-sparse product accumulating into the same output. The terms are built greedily
 * (scalpel_tasd_decompose in scalpel.h: each the N:M projection of what the previous ones left),
 * so they never share a weight; the error is exactly (W - sum Ti) . x.
 * Terms are ordinary scalpel_nm matrices of the series' shape. A zeroed struct is a valid
 * "nothing" for scalpel_tasd_free; n_terms = 0 is the zero matrix. */
typedef struct scalpel_tasd {
    int32_t rows, cols;
    int32_t n_terms;                              /* 0 .. SCALPEL_TASD_MAX_TERMS */
    scalpel_nm terms[SCALPEL_TASD_MAX_TERMS];     /* terms[0 .. n_terms) */
} scalpel_tasd;

/* Checks n_terms, each term (scalpel_nm_validate) and that every term has the series' shape. */
SCALPEL_API scalpel_status scalpel_tasd_validate(const scalpel_tasd *s);
/* Real storage of all terms in bytes. */
SCALPEL_API size_t scalpel_tasd_bytes(const scalpel_tasd *s);
/* dense[rows x cols] = sum of the terms. Validates first. */
SCALPEL_API scalpel_status scalpel_tasd_to_dense(const scalpel_tasd *s, float *dense);
/* Releases every term; safe on a zeroed struct and on NULL. */
SCALPEL_API void scalpel_tasd_free(scalpel_tasd *s);

/* ---- the exact hybrid: grouped CSR + CSR residual ------------------------------------------ */

/* scalpel_hybrid: any sparse matrix W [rows x cols] split exactly as W = grouped + residual.
 *
 * `grouped` (grouped CSR, G >= 2) holds the groups dense enough to pay for a vector load;
 * `residual` (plain CSR, G = 1) holds every other nonzero. Both have W's shape and together hold
 * each nonzero of W exactly once, so the product (grouped + residual) . x is W . x up to float
 * rounding: nothing is approximated. This is how a matrix pruned without structure (for
 * example by PyTorch's `prune`) runs on the grouped kernels without retraining.
 *
 * The split is chosen row by row (scalpel_hybrid_from_dense): a group of G goes to the grouped
 * part when it holds at least t nonzeros, with t per row minimising
 *     row_cost (when the row stores any group) + group_cost * (groups stored)
 *         + nonzero_cost * (nonzeros left to the residual),
 * t = G + 1 meaning "plain CSR for this row". The costs are the measured time of a row's pass
 * through the grouped kernel, of one stored group of it and of one stored weight of the CSR
 * kernel on the target (scalpel_hybrid_costs_measure in scalpel.h measures them). When no row
 * gains, the grouped part is empty and the hybrid runs exactly as the CSR kernel does.
 * A zeroed struct is a valid "nothing" for scalpel_hybrid_free. */
typedef struct scalpel_hybrid {
    scalpel_gcsr grouped;    /* the dense-enough groups, G = group (2, 4, 8 or 16) */
    scalpel_gcsr residual;   /* the remaining nonzeros, plain CSR (G = 1) */
} scalpel_hybrid;

/* scalpel_hybrid_costs: the numbers the row split compares (any one unit; group and nonzero
 * > 0, row >= 0). */
typedef struct scalpel_hybrid_costs {
    float group;     /* cost of one stored group of the grouped kernel */
    float nonzero;   /* cost of one stored weight of the CSR kernel */
    float row;       /* fixed cost of a row that stores groups (its reduction and store) */
} scalpel_hybrid_costs;

/* Checks both parts (scalpel_gcsr_validate; dtype F32, the only one the hybrid kernels run),
 * their shapes, G >= 2 for grouped and G = 1 for residual, and that no weight is stored in both (the split is exact, not overlapping). */
SCALPEL_API scalpel_status scalpel_hybrid_validate(const scalpel_hybrid *w);
/* Real storage of both parts in bytes. */
SCALPEL_API size_t scalpel_hybrid_bytes(const scalpel_hybrid *w);
/* dense[rows x cols] = grouped + residual. Validates first. */
SCALPEL_API scalpel_status scalpel_hybrid_to_dense(const scalpel_hybrid *w, float *dense);
/* Releases both parts; safe on a zeroed struct and on NULL. */
SCALPEL_API void scalpel_hybrid_free(scalpel_hybrid *w);
#ifndef SCALPEL_NO_MALLOC
/* Splits dense w[rows x cols] (any sparsity) into groups of `group` (2, 4, 8, 16) and a CSR
 * residual, choosing each row's threshold from `costs` (see above; NULL: group 3, nonzero 1,
 * row 8, a middle ground of x86 measurements). Exact: to_dense gives w back bit for bit, except
 * that a -0.0 (a zero like any other) comes back as +0.0. */
SCALPEL_API scalpel_status scalpel_hybrid_from_dense(const float *w, int32_t rows, int32_t cols,
                                                     int32_t group, const scalpel_hybrid_costs *costs,
                                                     scalpel_hybrid *out);
SCALPEL_API scalpel_status scalpel_hybrid_from_dense_ctx(const float *w, int32_t rows, int32_t cols,
                                                         int32_t group, const scalpel_hybrid_costs *costs,
                                                         void *alloc_ctx, scalpel_hybrid *out);
#endif

/* ---- files -------------------------------------------------------------------------------- */
#ifndef SCALPEL_NO_MALLOC
/* Files, as every reader and writer of the library handles them (model files, checkpoints,
 * IDX data, exported C headers):
 * - A reader takes regular files only. A directory, a device (/dev/zero), a FIFO or a socket
 *   is refused with SCALPEL_ERR_NOT_REGULAR before anything is read, and a FIFO never blocks
 *   the open. The file's length is known before it is read; a format whose header announces
 *   its sizes is checked against that length before any large allocation.
 * - A writer never writes into the file it replaces. It creates a new temporary file beside
 *   the target OUT, named OUT.scalpel-tmp-PID-N, exclusively (an existing file of that name,
 *   another writer's included, is never opened), checks every write, flushes the file to the
 *   disk (fsync), gives it the permission bits of the OUT it replaces, renames it over OUT in
 *   one step and flushes the directory. Any failure removes the temporary file and leaves OUT
 *   as it was. OUT must be a regular file or absent: a directory, device, FIFO, socket or
 *   symbolic link at OUT is refused (SCALPEL_ERR_NOT_REGULAR), never replaced and never
 *   written through (to write where a link points, name the target). Two processes saving
 *   the same OUT at once leave one complete file, from one of them. After kill -9 or a power
 *   loss before the rename, a file OUT.scalpel-tmp-* may remain: OUT is intact, and the
 *   temporary file can be deleted.
 * - Errors say why: SCALPEL_ERR_NOT_FOUND, _PERMISSION, _NOT_REGULAR, _NO_SPACE (disk full,
 *   quota, or the size limit of `ulimit -f`, where the program ignores SIGXFSZ), else _IO.
 * Without POSIX files (Windows, bare-metal C libraries; or SCALPEL_NO_POSIX_FILES defined) the
 * rules hold as far as ISO C allows: no file-type check, no exclusive creation (a temporary
 * name that exists is skipped after a probe), no fsync, no permission copy, and on Windows the
 * target is removed just before the rename. */

/* The readers' first check, for a file of yours: `path` names an existing regular file that
 * can be opened for reading (never blocking, even on a FIFO); *size = its length in bytes. */
SCALPEL_API scalpel_status scalpel_file_size(const char *path, uint64_t *size);
#endif

#ifdef __cplusplus
}
#endif

#endif /* SCALPEL_FORMAT_H */

/* ======================================================================================== */
/* >>implementation                                                                         */
/* ======================================================================================== */
#if defined(SCALPEL_IMPLEMENTATION) && !defined(SCALPEL_FORMAT_IMPLEMENTATION)
#define SCALPEL_FORMAT_IMPLEMENTATION
#endif

/* ---- private helpers shared by every module ---------------------------------------------
 * One copy of each small private helper the modules need: the allocator defaults, the
 * little-endian byte order of every file and buffer, saturating size arithmetic, the seeded
 * random generator, a square root without libm and the temporary-file-then-rename rule of
 * every writer. scalpel_format.h is included by every header, so each module compiled alone
 * (SCALPEL_<MODULE>_IMPLEMENTATION) sees them; the guard defines them once per translation
 * unit however many modules and inclusions it has. All are static and marked unused, so a
 * module that needs only some of them compiles warning-free. */
#if (defined(SCALPEL_IMPLEMENTATION) || defined(SCALPEL_FORMAT_IMPLEMENTATION) ||                 \
     defined(SCALPEL_KERNELS_IMPLEMENTATION) || defined(SCALPEL_NET_IMPLEMENTATION) ||             \
     defined(SCALPEL_TRAIN_IMPLEMENTATION)) && !defined(SCALPEL__HELPERS_DONE)
#define SCALPEL__HELPERS_DONE

#include <string.h>

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

/* Private functions: static, and marked unused so that a configuration that removes their
 * callers (SCALPEL_NO_MALLOC, a module compiled alone) compiles warning-free. */
#ifndef SCALPEL__PRIV
#if defined(__GNUC__) || defined(__clang__)
#define SCALPEL__PRIV static __attribute__((unused))
#else
#define SCALPEL__PRIV static
#endif
#endif

/* Little-endian fields of model files, checkpoints, serialized matrices and safetensors,
 * byte by byte: independent of the host's byte order and alignment. */
SCALPEL__PRIV void scalpel__put_u16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
SCALPEL__PRIV void scalpel__put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
SCALPEL__PRIV void scalpel__put_u64(unsigned char *p, uint64_t v)
{
    scalpel__put_u32(p, (uint32_t)v);
    scalpel__put_u32(p + 4, (uint32_t)(v >> 32));
}
SCALPEL__PRIV uint32_t scalpel__get_u16(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}
SCALPEL__PRIV uint32_t scalpel__get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
SCALPEL__PRIV uint64_t scalpel__get_u64(const unsigned char *p)
{
    return (uint64_t)scalpel__get_u32(p) | ((uint64_t)scalpel__get_u32(p + 4) << 32);
}

/* a + b and a * b on sizes, saturating to SIZE_MAX so that one check at the end catches any
 * overflow on the way. */
SCALPEL__PRIV size_t scalpel__size_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
SCALPEL__PRIV size_t scalpel__size_mul(size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
    return a * b;
}

/* The seeded random generator of calibration, training and the synthetic datasets:
 * splitmix64 spreads a seed, xorshift64* draws. Integer-only, so every platform repeats the
 * same sequence bit for bit (tests and trained models depend on it); the state is the
 * caller's, so nothing global. */
SCALPEL__PRIV uint64_t scalpel__splitmix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* The starting state for a seed: never 0, where xorshift would stay. */
SCALPEL__PRIV uint64_t scalpel__rng_seed(uint64_t seed)
{
    uint64_t s = scalpel__splitmix64(seed);
    return s != 0 ? s : 0x9E3779B97F4A7C15ull;
}
/* The next 32 random bits (the high half of the xorshift64* product). */
SCALPEL__PRIV uint32_t scalpel__rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint32_t)((*s * 0x2545F4914F6CDD1Dull) >> 32);
}
/* Uniform in [0, 1), 24 bits. */
SCALPEL__PRIV float scalpel__rng_uniform(uint64_t *s)
{
    return (float)(scalpel__rng_next(s) >> 8) * (1.0f / 16777216.0f);
}

/* sqrt(x) for finite x >= 0 (0 for anything else) without libm (gcc's inline sqrtsd still
 * keeps a call to sqrt() behind it for errno, which needs -lm). The initial guess halves the
 * exponent (relative error < 7%); Newton doubles the correct digits per step, so six steps
 * reach double precision, and rounding that to float is exact in all but vanishingly rare
 * midpoint cases. */
SCALPEL__PRIV double scalpel__sqrt(double x)
{
    uint64_t u;
    double y;
    int i;
    if (!(x > 0.0)) return 0.0;
    memcpy(&u, &x, sizeof(u));
    u = (u >> 1) + ((uint64_t)1023 << 51); /* halves the biased exponent */
    memcpy(&y, &u, sizeof(y));
    for (i = 0; i < 6; i++) y = 0.5 * (y + x / y);
    return y;
}

/* e^x in double without libm, for every x: x = k ln2 + r with k the nearest integer and
 * |r| <= ln2/2, e^r by its Taylor polynomial to degree 13 (relative error ~1e-17), 2^k put
 * into the exponent field in two steps so that results down to the subnormals come out.
 * NaN gives NaN, x > 709.8 (+inf included) +inf, x < -745.2 (-inf included) 0. */
SCALPEL__PRIV double scalpel__exp(double x)
{
    double r, p, t, s1, s2;
    int32_t k, k1;
    uint64_t bits;
    if (x != x) return x;
    if (x > 709.78) {
        bits = 0x7ff0000000000000ull;
        memcpy(&p, &bits, sizeof(p));
        return p;
    }
    if (x < -745.2) return 0.0;
    t = x * 1.4426950408889634;
    k = (int32_t)(t < 0.0 ? t - 0.5 : t + 0.5);
    r = (x - (double)k * 0.693147180369123816490) - (double)k * 1.90821492927058770002e-10; /* ln2 in two parts */
    p = 1.0 / 6227020800.0;
    p = 1.0 / 479001600.0 + r * p; p = 1.0 / 39916800.0 + r * p; p = 1.0 / 3628800.0 + r * p;
    p = 1.0 / 362880.0 + r * p;   p = 1.0 / 40320.0 + r * p;    p = 1.0 / 5040.0 + r * p;
    p = 1.0 / 720.0 + r * p;      p = 1.0 / 120.0 + r * p;      p = 1.0 / 24.0 + r * p;
    p = 1.0 / 6.0 + r * p;        p = 0.5 + r * p;              p = 1.0 + r * p;
    p = 1.0 + r * p;
    k1 = k / 2;                   /* 2^k = 2^k1 * 2^(k - k1), each a normal number */
    bits = (uint64_t)(1023 + k1) << 52;
    memcpy(&s1, &bits, sizeof(s1));
    bits = (uint64_t)(1023 + (k - k1)) << 52;
    memcpy(&s2, &bits, sizeof(s2));
    return p * s1 * s2;
}

/* e^x - 1 without cancellation near 0 (its series for |x| < 0.5, else scalpel__exp - 1). */
SCALPEL__PRIV double scalpel__expm1(double x)
{
    double term = x, sum = x;
    int n;
    if (!(x > -0.5 && x < 0.5)) return scalpel__exp(x) - 1.0;
    for (n = 2; n <= 18; n++) {
        term *= x / (double)n;
        sum += term;
    }
    return sum;
}

/* ln x for finite x > 0 (subnormals too); -inf for 0, NaN for anything else: x = m 2^e with m
 * in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m - 1) / (m + 1)) by its series to s^21. */
SCALPEL__PRIV double scalpel__log(double x)
{
    uint64_t bits;
    int32_t e;
    double m, s, s2, t;
    if (x == 0.0) {
        bits = 0xfff0000000000000ull;
        memcpy(&t, &bits, sizeof(t));
        return t;
    }
    if (!(x > 0.0) || x > 1.7976931348623157e308) return (x - x) / (x - x);
    e = 0;
    if (x < 2.2250738585072014e-308) { x *= 18014398509481984.0; e = -54; } /* subnormal: scale by 2^54 */
    memcpy(&bits, &x, sizeof(bits));
    e += (int32_t)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    memcpy(&m, &bits, sizeof(m));
    if (m > 1.4142135623730951) { m *= 0.5; e++; }
    s = (m - 1.0) / (m + 1.0);
    s2 = s * s;
    /* 1 + s^2/3 + s^4/5 + ... + s^22/23, Horner with the constants folded (no division per
       term: LRN calls this for every output) */
    t = 1.0 / 23.0;
    t = 1.0 / 21.0 + s2 * t; t = 1.0 / 19.0 + s2 * t; t = 1.0 / 17.0 + s2 * t; t = 1.0 / 15.0 + s2 * t;
    t = 1.0 / 13.0 + s2 * t; t = 1.0 / 11.0 + s2 * t; t = 1.0 / 9.0 + s2 * t;  t = 1.0 / 7.0 + s2 * t;
    t = 1.0 / 5.0 + s2 * t;  t = 1.0 / 3.0 + s2 * t;  t = 1.0 + s2 * t;
    return (double)e * 0.693147180369123816490 + (double)e * 1.90821492927058770002e-10 + 2.0 * s * t;
}

/* tanh x without libm: (e^2x - 1) / (e^2x + 1) through expm1 (no cancellation near 0), odd;
 * +-1 beyond |x| = 20. */
SCALPEL__PRIV double scalpel__tanh(double x)
{
    double a = x < 0.0 ? -x : x, m, t;
    if (x != x) return x;
    if (a > 20.0) return x < 0.0 ? -1.0 : 1.0;
    m = scalpel__expm1(2.0 * a);
    t = m / (m + 2.0);
    return x < 0.0 ? -t : t;
}

/* a^b for a > 0 and finite b, as e^(b ln a). */
SCALPEL__PRIV double scalpel__pow_pos(double a, double b)
{
    return scalpel__exp(b * scalpel__log(a));
}

#endif /* SCALPEL__HELPERS_DONE */

/* Files (see "files" in the public part): the readers' open, the writers' temporary file and
 * rename, and errno turned into a status. Only the modules that read or write files get them,
 * and only where the library may allocate. */
#if (defined(SCALPEL_IMPLEMENTATION) || defined(SCALPEL_FORMAT_IMPLEMENTATION) ||                 \
     defined(SCALPEL_NET_IMPLEMENTATION) || defined(SCALPEL_TRAIN_IMPLEMENTATION)) &&               \
    !defined(SCALPEL_NO_MALLOC) && !defined(SCALPEL__FILE_HELPERS_DONE)
#define SCALPEL__FILE_HELPERS_DONE

#include <stdio.h>
#include <time.h>
#include <errno.h>

#if !defined(SCALPEL_NO_POSIX_FILES) && (defined(__unix__) || defined(__unix) || (defined(__APPLE__) && defined(__MACH__)))
#define SCALPEL__POSIX_FILES 1
#include <sys/types.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
/* A strict ISO C build (-std=c99) on glibc hides these three POSIX functions, which every
 * POSIX C library has: declared here exactly as POSIX does, only where the headers did not. */
#if defined(__GLIBC__) && !defined(__cplusplus) && !defined(__USE_POSIX)
extern FILE *fdopen(int fd, const char *mode);
extern int fileno(FILE *stream);
#endif
#if defined(__GLIBC__) && !defined(__cplusplus) && !defined(__USE_XOPEN_EXTENDED) && !defined(__USE_XOPEN2K)
extern ssize_t readlink(const char *path, char *buf, size_t size);
#endif
#endif

/* The status that says why a file call failed with errno e. */
SCALPEL__PRIV scalpel_status scalpel__errno_status(int e)
{
#ifdef ENOENT
    if (e == ENOENT) return SCALPEL_ERR_NOT_FOUND;
#endif
#ifdef ENOTDIR
    if (e == ENOTDIR) return SCALPEL_ERR_NOT_FOUND;
#endif
#ifdef EACCES
    if (e == EACCES) return SCALPEL_ERR_PERMISSION;
#endif
#ifdef EPERM
    if (e == EPERM) return SCALPEL_ERR_PERMISSION;
#endif
#ifdef EROFS
    if (e == EROFS) return SCALPEL_ERR_PERMISSION;
#endif
#ifdef ENOSPC
    if (e == ENOSPC) return SCALPEL_ERR_NO_SPACE;
#endif
#ifdef EDQUOT
    if (e == EDQUOT) return SCALPEL_ERR_NO_SPACE;
#endif
#ifdef EFBIG
    if (e == EFBIG) return SCALPEL_ERR_NO_SPACE;
#endif
#ifdef EISDIR
    if (e == EISDIR) return SCALPEL_ERR_NOT_REGULAR;
#endif
    return SCALPEL_ERR_IO;
}

/* Opens `path` for reading, a regular file only (see above); *size = its length. The type is
 * asked before the open (a FIFO would block it, a device may act on it) and again of what was
 * opened (the name may have changed in between). */
SCALPEL__PRIV scalpel_status scalpel__file_open_read(const char *path, FILE **f_out, uint64_t *size)
{
#ifdef SCALPEL__POSIX_FILES
    struct stat st;
    int fd, e;
    *f_out = NULL;
    *size = 0;
    if (path == NULL) return SCALPEL_ERR_NULL;
    if (path[0] == '\0') return SCALPEL_ERR_NOT_FOUND;
    if (stat(path, &st) != 0) return scalpel__errno_status(errno);
    if (!S_ISREG(st.st_mode)) return SCALPEL_ERR_NOT_REGULAR;
    do {
        fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return scalpel__errno_status(errno);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0) {
        e = errno;
        close(fd);
        return S_ISREG(st.st_mode) ? scalpel__errno_status(e) : SCALPEL_ERR_NOT_REGULAR;
    }
    *f_out = fdopen(fd, "rb");
    if (*f_out == NULL) {
        e = errno;
        close(fd);
        return scalpel__errno_status(e);
    }
    *size = (uint64_t)st.st_size;
    return SCALPEL_OK;
#else
    long len;
    FILE *f;
    *f_out = NULL;
    *size = 0;
    if (path == NULL) return SCALPEL_ERR_NULL;
    if (path[0] == '\0') return SCALPEL_ERR_NOT_FOUND;
    errno = 0;
    f = fopen(path, "rb");
    if (f == NULL) return scalpel__errno_status(errno);
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return SCALPEL_ERR_NOT_REGULAR; /* a stream with no length: a device or a pipe */
    }
    *f_out = f;
    *size = (uint64_t)len;
    return SCALPEL_OK;
#endif
}

/* Reads exactly n bytes. *at_end != 0: the file must end there (one byte more means it grew
 * since its length was asked). */
SCALPEL__PRIV scalpel_status scalpel__file_read(FILE *f, void *dst, size_t n, int at_end)
{
    errno = 0;
    if (n != 0 && fread(dst, 1, n, f) != n) return ferror(f) ? scalpel__errno_status(errno) : SCALPEL_ERR_IO;
    if (at_end && (fgetc(f) != EOF || ferror(f))) return SCALPEL_ERR_IO;
    return SCALPEL_OK;
}

/* A whole regular file into a new block of size + 1 bytes (allocated with alloc_ctx; the extra
 * byte is 0), refused before any allocation when longer than max_size
 * (SCALPEL_ERR_UNSUPPORTED). */
SCALPEL__PRIV scalpel_status scalpel__file_read_all(const char *path, void *alloc_ctx, uint64_t max_size,
                                                   unsigned char **buf, size_t *size)
{
    FILE *f;
    uint64_t len;
    scalpel_status st;
    *buf = NULL;
    *size = 0;
    st = scalpel__file_open_read(path, &f, &len);
    if (st != SCALPEL_OK) return st;
    if (len > max_size || len >= (uint64_t)SIZE_MAX) {
        fclose(f);
        return len > max_size ? SCALPEL_ERR_UNSUPPORTED : SCALPEL_ERR_OVERFLOW;
    }
    *buf = (unsigned char *)SCALPEL_MALLOC(alloc_ctx, (size_t)len + 1u);
    if (*buf == NULL) st = SCALPEL_ERR_NO_MEMORY;
    else st = scalpel__file_read(f, *buf, (size_t)len, 1);
    fclose(f);
    if (st != SCALPEL_OK) {
        if (*buf != NULL) SCALPEL_FREE(alloc_ctx, *buf);
        *buf = NULL;
        return st;
    }
    (*buf)[len] = 0;
    *size = (size_t)len;
    return SCALPEL_OK;
}

/* Checks that `path` may be replaced (absent, or a regular file that is not a symbolic link)
 * and opens a new temporary file beside it, OUT.scalpel-tmp-PID-N, created exclusively, with
 * the permission bits of the file it will replace. *tmp_out (allocated with alloc_ctx) and
 * *f_out go to scalpel__tmp_close. */
SCALPEL__PRIV scalpel_status scalpel__tmp_open(const char *path, void *alloc_ctx, char **tmp_out, FILE **f_out)
{
    size_t len;
    char *name;
    unsigned long stamp = (unsigned long)time(NULL) ^ ((unsigned long)clock() << 12) ^
                          (unsigned long)((uintptr_t)&len >> 4);
    unsigned long pid = 0;
    unsigned i;
    scalpel_status st = SCALPEL_ERR_IO;
#ifdef SCALPEL__POSIX_FILES
    struct stat old;
    int have_old = 0;
    char link_byte[1];
#endif
    *tmp_out = NULL;
    *f_out = NULL;
    if (path == NULL) return SCALPEL_ERR_NULL;
    len = strlen(path);
    if (len == 0) return SCALPEL_ERR_ARGUMENT;
    if (len > SIZE_MAX - 64) return SCALPEL_ERR_OVERFLOW;
#ifdef SCALPEL__POSIX_FILES
    if (readlink(path, link_byte, 1) >= 0) return SCALPEL_ERR_NOT_REGULAR; /* a symbolic link */
    if (stat(path, &old) == 0) {
        if (!S_ISREG(old.st_mode)) return SCALPEL_ERR_NOT_REGULAR;
        have_old = 1;
    } else if (errno != ENOENT) {
        return scalpel__errno_status(errno);
    }
    pid = (unsigned long)getpid();
#endif
    name = (char *)SCALPEL_MALLOC(alloc_ctx, len + 64);
    if (name == NULL) return SCALPEL_ERR_NO_MEMORY;
    memcpy(name, path, len);
    for (i = 0; i < 1000; i++) {
        sprintf(name + len, ".scalpel-tmp-%lx-%lx", pid, (stamp + i * 0x9e3779b1UL) & 0xffffffffUL);
#ifdef SCALPEL__POSIX_FILES
        {
            int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY, have_old ? (old.st_mode & 0777) : 0666);
            if (fd < 0) {
                if (errno == EEXIST || errno == EINTR) continue;
                st = scalpel__errno_status(errno);
                break;
            }
            /* the old file's bits exactly (open applied the umask to them) */
            if ((have_old && chmod(name, old.st_mode & 0777) != 0) || (*f_out = fdopen(fd, "wb")) == NULL) {
                st = scalpel__errno_status(errno);
                close(fd);
                (void)remove(name);
                break;
            }
        }
#else
        {
            FILE *probe = fopen(name, "rb");
            if (probe != NULL) {
                fclose(probe);
                continue;
            }
            errno = 0;
            *f_out = fopen(name, "wb");
            if (*f_out == NULL) {
                st = scalpel__errno_status(errno); /* no such directory, no permission: retrying will not help */
                break;
            }
        }
#endif
        *tmp_out = name;
        return SCALPEL_OK;
    }
    SCALPEL_FREE(alloc_ctx, name);
    return st;
}

/* Completes (st == OK) or abandons a temporary file from scalpel__tmp_open. Flush, fsync and
 * close are checked (a full disk often shows only there); the rename puts the new file in
 * place in one step; the directory is then flushed too, so that the rename survives a power
 * loss (best effort: a file system that cannot flush a directory is not an error). On any
 * failure the temporary goes and the target is left as it was. On Windows, where rename
 * cannot replace a file, the target is removed first: there a crash between the two calls can
 * lose the old file. Returns st, or the first failure. */
SCALPEL__PRIV scalpel_status scalpel__tmp_close(FILE *f, char *tmp, const char *path, void *alloc_ctx,
                                                scalpel_status st)
{
    errno = 0;
    if ((fflush(f) != 0 || ferror(f)) && st == SCALPEL_OK) st = scalpel__errno_status(errno);
#ifdef SCALPEL__POSIX_FILES
    if (st == SCALPEL_OK && fsync(fileno(f)) != 0 && errno != EINVAL) st = scalpel__errno_status(errno);
#endif
    if (fclose(f) != 0 && st == SCALPEL_OK) st = scalpel__errno_status(errno);
    if (st == SCALPEL_OK) {
#ifdef _WIN32
        (void)remove(path);
#endif
        if (rename(tmp, path) != 0) st = scalpel__errno_status(errno);
    }
#ifdef SCALPEL__POSIX_FILES
    if (st == SCALPEL_OK) {
        /* the directory of path: up to its last '/', "/" itself, or "." */
        size_t n = strlen(path), cut = n;
        int fd;
        while (cut > 0 && path[cut - 1] != '/') cut--;
        if (cut > 1) cut--; /* drop the slash, except for the root */
        memcpy(tmp, cut ? path : ".", cut ? cut : 1); /* the temporary's name is no longer needed */
        tmp[cut ? cut : 1] = '\0';
        fd = open(tmp, O_RDONLY | O_NOCTTY);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
    }
#endif
    if (st != SCALPEL_OK) (void)remove(tmp);
    SCALPEL_FREE(alloc_ctx, tmp);
    return st;
}

#endif /* SCALPEL__FILE_HELPERS_DONE */

#if defined(SCALPEL_FORMAT_IMPLEMENTATION) && !defined(SCALPEL__FORMAT_IMPLEMENTATION_DONE)
#define SCALPEL__FORMAT_IMPLEMENTATION_DONE

#include <string.h>
#include <limits.h>

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
    case SCALPEL_ERR_NOT_FOUND: return "no such file or directory";
    case SCALPEL_ERR_PERMISSION: return "permission denied";
    case SCALPEL_ERR_NOT_REGULAR: return "not a regular file (a directory, device, FIFO, socket or symbolic link)";
    case SCALPEL_ERR_NO_SPACE: return "no space left (disk full, quota or file size limit)";
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

/* 1 when one of values[lo .. hi) of `dtype` (F32, Q15 or Q7) is nonzero: the stored-group and
 * tail tests of every dtype. -0.0f counts as zero, as in the fp32 group test. */
static int scalpel__any_nonzero(const void *values, scalpel_dtype dtype, size_t lo, size_t hi)
{
    size_t i;
    if (dtype == SCALPEL_DTYPE_F32) {
        for (i = lo; i < hi; i++)
            if (((const float *)values)[i] != 0.0f) return 1;
    } else if (dtype == SCALPEL_DTYPE_Q15) {
        for (i = lo; i < hi; i++)
            if (((const int16_t *)values)[i] != 0) return 1;
    } else {
        for (i = lo; i < hi; i++)
            if (((const int8_t *)values)[i] != 0) return 1;
    }
    return 0;
}

SCALPEL_API scalpel_status scalpel_gcsr_validate(const scalpel_gcsr *m)
{
    int32_t r, gpr;
    size_t esz;
    if (m == NULL) return SCALPEL_ERR_NULL;
    if (!scalpel__group_ok(m->group)) return SCALPEL_ERR_GROUP;
    esz = scalpel_dtype_size(m->dtype);
    if (esz == 0) return SCALPEL_ERR_DTYPE;
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
            /* tail group: lanes past cols are 0 */
            if ((int64_t)c + m->group > (int64_t)m->cols &&
                scalpel__any_nonzero(m->values, m->dtype, (size_t)k * (size_t)m->group + (size_t)(m->cols - (int32_t)c),
                                     (size_t)k * (size_t)m->group + (size_t)m->group))
                return SCALPEL_ERR_TAIL;
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

/* Checks arguments and counts the stored groups of dense w (dtype F32, Q15 or Q7). */
static scalpel_status scalpel__dense_count(const void *w, scalpel_dtype dtype, int32_t rows, int32_t cols,
                                           int32_t group, int32_t *nnz_groups)
{
    int64_t count = 0;
    int32_t r, c;
    size_t esz = scalpel_dtype_size(dtype);
    if (esz == 0) return SCALPEL_ERR_DTYPE;
    if (w == NULL && (int64_t)rows * cols > 0) return SCALPEL_ERR_NULL;
    if (!scalpel__group_ok(group)) return SCALPEL_ERR_GROUP;
    if (rows < 0 || cols < 0 || rows == INT32_MAX) return SCALPEL_ERR_SHAPE;
    if ((uint64_t)rows * (uint64_t)cols > (uint64_t)SIZE_MAX / esz) return SCALPEL_ERR_OVERFLOW;
    for (r = 0; r < rows; r++) {
        size_t row = (size_t)r * (size_t)cols;
        for (c = 0; c < cols; c += group)
            count += scalpel__any_nonzero(w, dtype, row + (size_t)c, row + (size_t)(cols - c < group ? cols : c + group));
        if (count * group > (int64_t)INT32_MAX) return SCALPEL_ERR_OVERFLOW;
    }
    *nnz_groups = (int32_t)count;
    return SCALPEL_OK;
}

/* The _size and _into halves of every from_dense, whatever the dtype. */
static scalpel_status scalpel__gcsr_dense_size(const void *w, scalpel_dtype dtype, int32_t rows, int32_t cols,
                                               int32_t group, size_t *bytes)
{
    int32_t nnz = 0;
    size_t orp, oc;
    scalpel_status st;
    if (bytes == NULL) return SCALPEL_ERR_NULL;
    *bytes = 0;
    st = scalpel__dense_count(w, dtype, rows, cols, group, &nnz);
    if (st != SCALPEL_OK) return st;
    return scalpel__gcsr_layout(rows, nnz, group, cols <= 65536 ? 16 : 32, dtype, &orp, &oc, bytes);
}

static scalpel_status scalpel__gcsr_dense_into(const void *w, scalpel_dtype dtype, int32_t rows, int32_t cols,
                                               int32_t group, void *mem, size_t mem_size, scalpel_gcsr *out)
{
    int32_t nnz = 0, r, c, k = 0, index_bits = cols <= 65536 ? 16 : 32;
    size_t orp, oc, total, esz = scalpel_dtype_size(dtype);
    const unsigned char *src = (const unsigned char *)w;
    unsigned char *vals;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (mem == NULL) return SCALPEL_ERR_NULL;
    if ((uintptr_t)mem % 4 != 0) return SCALPEL_ERR_ALIGNMENT;
    st = scalpel__dense_count(w, dtype, rows, cols, group, &nnz);
    if (st != SCALPEL_OK) return st;
    st = scalpel__gcsr_layout(rows, nnz, group, index_bits, dtype, &orp, &oc, &total);
    if (st != SCALPEL_OK) return st;
    if (mem_size < total) return SCALPEL_ERR_BUFFER_TOO_SMALL;
    vals = (unsigned char *)mem;
    out->rows = rows;
    out->cols = cols;
    out->group = group;
    out->index_bits = index_bits;
    out->dtype = dtype;
    out->nnz_groups = nnz;
    out->values = mem;
    out->row_ptr = (int32_t *)(void *)((unsigned char *)mem + orp);
    out->col_idx = (unsigned char *)mem + oc;
    out->row_ptr[0] = 0;
    for (r = 0; r < rows; r++) {
        size_t row = (size_t)r * (size_t)cols;
        for (c = 0; c < cols; c += group) {
            int32_t n = cols - c < group ? cols - c : group;
            unsigned char *dst = vals + (size_t)k * (size_t)group * esz;
            if (!scalpel__any_nonzero(w, dtype, row + (size_t)c, row + (size_t)c + (size_t)n)) continue;
            /* all-zero bytes are 0 in every dtype: the tail lanes past cols */
            memcpy(dst, src + (row + (size_t)c) * esz, (size_t)n * esz);
            if (n < group) memset(dst + (size_t)n * esz, 0, (size_t)(group - n) * esz);
            if (index_bits == 16) ((uint16_t *)out->col_idx)[k] = (uint16_t)c;
            else ((uint32_t *)out->col_idx)[k] = (uint32_t)c;
            k++;
        }
        out->row_ptr[r + 1] = k;
    }
    SCALPEL_ASSERT(k == nnz);
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_gcsr_from_dense_size(const float *w, int32_t rows, int32_t cols,
                                                        int32_t group, size_t *bytes)
{
    return scalpel__gcsr_dense_size(w, SCALPEL_DTYPE_F32, rows, cols, group, bytes);
}

SCALPEL_API scalpel_status scalpel_gcsr_from_dense_into(const float *w, int32_t rows, int32_t cols,
                                                        int32_t group, void *mem, size_t mem_size,
                                                        scalpel_gcsr *out)
{
    return scalpel__gcsr_dense_into(w, SCALPEL_DTYPE_F32, rows, cols, group, mem, mem_size, out);
}

static int scalpel__dtype_fixed(scalpel_dtype dtype)
{
    return dtype == SCALPEL_DTYPE_Q15 || dtype == SCALPEL_DTYPE_Q7;
}

SCALPEL_API scalpel_status scalpel_gcsr_from_dense_fixed_size(const void *w, scalpel_dtype dtype,
                                                              int32_t rows, int32_t cols, int32_t group,
                                                              size_t *bytes)
{
    if (bytes != NULL) *bytes = 0;
    if (!scalpel__dtype_fixed(dtype)) return SCALPEL_ERR_DTYPE;
    return scalpel__gcsr_dense_size(w, dtype, rows, cols, group, bytes);
}

SCALPEL_API scalpel_status scalpel_gcsr_from_dense_fixed_into(const void *w, scalpel_dtype dtype,
                                                              int32_t rows, int32_t cols, int32_t group,
                                                              void *mem, size_t mem_size, scalpel_gcsr *out)
{
    if (out != NULL) memset(out, 0, sizeof(*out));
    if (!scalpel__dtype_fixed(dtype)) return SCALPEL_ERR_DTYPE;
    return scalpel__gcsr_dense_into(w, dtype, rows, cols, group, mem, mem_size, out);
}

/* Grouped CSR -> dense, elements moved as bytes: one walk for every dtype (m validated). */
static scalpel_status scalpel__gcsr_scatter(const scalpel_gcsr *m, void *w)
{
    int32_t r, k;
    size_t esz = scalpel_dtype_size(m->dtype);
    unsigned char *dst = (unsigned char *)w;
    const unsigned char *v = (const unsigned char *)m->values;
    if (w == NULL && (int64_t)m->rows * m->cols > 0) return SCALPEL_ERR_NULL;
    if ((uint64_t)m->rows * (uint64_t)m->cols > (uint64_t)SIZE_MAX / esz) return SCALPEL_ERR_OVERFLOW;
    if ((int64_t)m->rows * m->cols > 0) memset(w, 0, (size_t)m->rows * (size_t)m->cols * esz);
    for (r = 0; r < m->rows; r++)
        for (k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++) {
            int32_t c = (int32_t)scalpel_gcsr_col(m, k);
            int32_t n = m->cols - c < m->group ? m->cols - c : m->group;
            memcpy(dst + ((size_t)r * (size_t)m->cols + (size_t)c) * esz, v + (size_t)k * (size_t)m->group * esz,
                   (size_t)n * esz);
        }
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_gcsr_to_dense(const scalpel_gcsr *m, float *w)
{
    scalpel_status st = scalpel_gcsr_validate(m);
    if (st != SCALPEL_OK) return st;
    if (m->dtype != SCALPEL_DTYPE_F32) return SCALPEL_ERR_DTYPE; /* scalpel_gcsr_to_dense_fixed */
    return scalpel__gcsr_scatter(m, w);
}

SCALPEL_API scalpel_status scalpel_gcsr_to_dense_fixed(const scalpel_gcsr *m, void *w)
{
    scalpel_status st = scalpel_gcsr_validate(m);
    if (st != SCALPEL_OK) return st;
    if (!scalpel__dtype_fixed(m->dtype)) return SCALPEL_ERR_DTYPE; /* scalpel_gcsr_to_dense */
    return scalpel__gcsr_scatter(m, w);
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
    for (i = 0; i < nvals; i++) {
        if (m->dtype == SCALPEL_DTYPE_F32) {
            uint32_t bits;
            memcpy(&bits, (const float *)m->values + i, 4);
            scalpel__put_u32(q, bits);
            q += 4;
        } else if (m->dtype == SCALPEL_DTYPE_Q15) {
            scalpel__put_u16(q, (uint16_t)((const int16_t *)m->values)[i]);
            q += 2;
        } else {
            *q++ = (unsigned char)((const int8_t *)m->values)[i];
        }
    }
    scalpel__put_u32(p + total - 4, scalpel_crc32(0, p, total - 4));
    *written = total;
    return SCALPEL_OK;
}

/* The two's complement value of the low `bits` bits of u (no implementation-defined cast). */
static int32_t scalpel__sign_extend(uint32_t u, int bits)
{
    uint32_t sign = 1u << (bits - 1);
    return (int32_t)(u & (sign - 1u)) - (int32_t)(u & sign);
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
    for (i = 0; i < nvals; i++) {
        if (h.dtype == SCALPEL_DTYPE_F32) {
            uint32_t bits = scalpel__get_u32(q);
            memcpy((float *)out->values + i, &bits, 4);
            q += 4;
        } else if (h.dtype == SCALPEL_DTYPE_Q15) {
            ((int16_t *)out->values)[i] = (int16_t)scalpel__sign_extend(scalpel__get_u16(q), 16);
            q += 2;
        } else {
            ((int8_t *)out->values)[i] = (int8_t)scalpel__sign_extend(*q, 8);
            q += 1;
        }
    }
    st = scalpel_gcsr_validate(out);
    if (st != SCALPEL_OK) memset(out, 0, sizeof(*out));
    return st;
}

/* ---- N:M structured sparsity ---------------------------------------------------------------- */

static int scalpel__nm_bits(int32_t m)
{
    return m == 2 ? 1 : m == 4 ? 2 : (m == 8 || m == 16) ? 4 : 0;
}

/* Derived fields and the slot count of an rows x cols N:M matrix, every product checked. */
static scalpel_status scalpel__nm_shape(int32_t rows, int32_t cols, int32_t n, int32_t m,
                                        int32_t *groups, int32_t *meta_stride, size_t *slots)
{
    int64_t g, per_row_bits, total;
    if (scalpel__nm_bits(m) == 0 || n < 1 || n > m) return SCALPEL_ERR_ARGUMENT;
    if (rows < 0 || cols < 0) return SCALPEL_ERR_SHAPE;
    g = ((int64_t)cols + m - 1) / m;
    total = (int64_t)rows * g * n;
    if (total > (int64_t)INT32_MAX) return SCALPEL_ERR_OVERFLOW;
    per_row_bits = g * n * scalpel__nm_bits(m);
    *groups = (int32_t)g;
    *meta_stride = (int32_t)((per_row_bits + 7) / 8);
    *slots = (size_t)total;
    return SCALPEL_OK;
}

/* One block: values (16-aligned start), then metadata. */
static scalpel_status scalpel__nm_layout(int32_t rows, int32_t meta_stride, size_t slots,
                                         size_t *off_meta, size_t *total)
{
    size_t vbytes, mbytes;
    if (slots > (SIZE_MAX - 64) / 8) return SCALPEL_ERR_OVERFLOW;
    vbytes = slots * sizeof(float);
    if ((uint64_t)rows * (uint64_t)meta_stride > (uint64_t)(SIZE_MAX - 64) / 2) return SCALPEL_ERR_OVERFLOW;
    mbytes = (size_t)rows * (size_t)meta_stride;
    *off_meta = scalpel__round_up(vbytes, 16);
    if (*off_meta > SIZE_MAX - mbytes - 16) return SCALPEL_ERR_OVERFLOW;
    *total = *off_meta + scalpel__round_up(mbytes, 16);
    if (*total == 0) *total = 16;
    return SCALPEL_OK;
}

static void scalpel__nm_set_position(scalpel_nm *w, int32_t r, int32_t k, int32_t pos)
{
    size_t bit = (size_t)k * (size_t)w->index_bits;
    uint8_t *row = w->meta + (size_t)r * (size_t)w->meta_stride;
    row[bit >> 3] = (uint8_t)(row[bit >> 3] | (uint32_t)pos << (bit & 7u));
}

SCALPEL_API scalpel_status scalpel_nm_validate(const scalpel_nm *w)
{
    int32_t groups = 0, stride = 0, r, g, s;
    size_t slots = 0;
    scalpel_status st;
    if (w == NULL) return SCALPEL_ERR_NULL;
    st = scalpel__nm_shape(w->rows, w->cols, w->n, w->m, &groups, &stride, &slots);
    if (st != SCALPEL_OK) return st;
    if (w->groups != groups || w->index_bits != scalpel__nm_bits(w->m) || w->meta_stride != stride)
        return SCALPEL_ERR_ARGUMENT;
    if (slots > 0 && (w->values == NULL || w->meta == NULL)) return SCALPEL_ERR_NULL;
    /* no columns, no slots: nothing in any row to check. Return before a loop over rows that
     * nothing stands behind (a 52-byte buffer may announce INT32_MAX rows of 0 columns); with
     * groups >= 1 every row has at least one metadata byte, so the loop below is bounded by
     * the bytes of the arrays. */
    if (groups == 0) return SCALPEL_OK;
    for (r = 0; r < w->rows; r++) {
        for (g = 0; g < groups; g++) {
            int32_t prev = -1;
            for (s = 0; s < w->n; s++) {
                int32_t k = g * w->n + s, pos = scalpel_nm_position(w, r, k);
                if (pos >= w->m || pos <= prev) return SCALPEL_ERR_COL_INDEX;
                prev = pos;
                if ((int64_t)g * w->m + pos >= (int64_t)w->cols &&
                    w->values[(size_t)r * (size_t)groups * (size_t)w->n + (size_t)k] != 0.0f)
                    return SCALPEL_ERR_TAIL;
            }
        }
        /* the unused bits at the end of a row's metadata are zero: one encoding per matrix */
        {
            size_t used = (size_t)groups * (size_t)w->n * (size_t)w->index_bits;
            const uint8_t *row = w->meta + (size_t)r * (size_t)stride;
            if (used % 8 != 0 && (row[used / 8] >> (used % 8)) != 0) return SCALPEL_ERR_CORRUPT;
        }
    }
    return SCALPEL_OK;
}

SCALPEL_API size_t scalpel_nm_bytes(const scalpel_nm *w)
{
    if (w == NULL || w->rows < 0 || w->groups < 0 || w->n < 0 || w->meta_stride < 0) return 0;
    return (size_t)w->rows * (size_t)w->groups * (size_t)w->n * sizeof(float)
         + (size_t)w->rows * (size_t)w->meta_stride;
}

static scalpel_status scalpel__nm_dense_args(const float *w, int32_t rows, int32_t cols, int32_t n,
                                             int32_t m)
{
    int32_t groups, stride;
    size_t slots;
    scalpel_status st = scalpel__nm_shape(rows, cols, n, m, &groups, &stride, &slots);
    if (st != SCALPEL_OK) return st;
    if ((uint64_t)rows * (uint64_t)cols > (uint64_t)SIZE_MAX / sizeof(float)) return SCALPEL_ERR_OVERFLOW;
    if (w == NULL && (int64_t)rows * cols > 0) return SCALPEL_ERR_NULL;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_nm_count_overflow(const float *w, int32_t rows, int32_t cols,
                                                     int32_t n, int32_t m, int64_t *groups)
{
    int32_t r, c, j;
    int64_t count = 0;
    scalpel_status st;
    if (groups == NULL) return SCALPEL_ERR_NULL;
    *groups = 0;
    st = scalpel__nm_dense_args(w, rows, cols, n, m);
    if (st != SCALPEL_OK) return st;
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * (size_t)cols;
        for (c = 0; c < cols; c += m) {
            int32_t nz = 0;
            for (j = c; j < cols && j < c + m; j++) nz += row[j] != 0.0f;
            count += nz > n;
        }
    }
    *groups = count;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_nm_from_dense_size(int32_t rows, int32_t cols, int32_t n, int32_t m,
                                                      size_t *bytes)
{
    int32_t groups, stride;
    size_t slots, off;
    scalpel_status st;
    if (bytes == NULL) return SCALPEL_ERR_NULL;
    *bytes = 0;
    st = scalpel__nm_shape(rows, cols, n, m, &groups, &stride, &slots);
    if (st != SCALPEL_OK) return st;
    return scalpel__nm_layout(rows, stride, slots, &off, bytes);
}

/* Fills an out struct's fields for the shape and points its arrays into mem (zeroed). */
static scalpel_status scalpel__nm_carve(int32_t rows, int32_t cols, int32_t n, int32_t m, void *mem,
                                        size_t mem_size, scalpel_nm *out)
{
    int32_t groups, stride;
    size_t slots, off, total;
    scalpel_status st = scalpel__nm_shape(rows, cols, n, m, &groups, &stride, &slots);
    if (st != SCALPEL_OK) return st;
    st = scalpel__nm_layout(rows, stride, slots, &off, &total);
    if (st != SCALPEL_OK) return st;
    if (mem == NULL) return SCALPEL_ERR_NULL;
    if ((uintptr_t)mem % 4 != 0) return SCALPEL_ERR_ALIGNMENT;
    if (mem_size < total) return SCALPEL_ERR_BUFFER_TOO_SMALL;
    memset(mem, 0, total);
    out->rows = rows;
    out->cols = cols;
    out->n = n;
    out->m = m;
    out->groups = groups;
    out->index_bits = scalpel__nm_bits(m);
    out->meta_stride = stride;
    out->values = (float *)mem;
    out->meta = (uint8_t *)mem + off;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_nm_from_dense_into(const float *w, int32_t rows, int32_t cols,
                                                      int32_t n, int32_t m, void *mem, size_t mem_size,
                                                      scalpel_nm *out)
{
    int32_t r, g, s, j;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    st = scalpel__nm_dense_args(w, rows, cols, n, m);
    if (st != SCALPEL_OK) return st;
    st = scalpel__nm_carve(rows, cols, n, m, mem, mem_size, out);
    if (st != SCALPEL_OK) { memset(out, 0, sizeof(*out)); return st; }
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * (size_t)cols;
        for (g = 0; g < out->groups; g++) {
            /* keep[j]: position j is among the N largest magnitudes of the group; a position
             * past cols counts as 0 and loses ties to every real one (it comes later) */
            uint8_t keep[SCALPEL_NM_MAX_M];
            int32_t c0 = g * m, k = g * n;
            memset(keep, 0, sizeof(keep));
            for (s = 0; s < n; s++) {
                int32_t best = 0, found = 0;
                float bm = -1.0f;
                for (j = 0; j < m; j++) {
                    float a = c0 + j < cols ? row[c0 + j] : 0.0f;
                    a = a < 0.0f ? -a : a;
                    if (!keep[j] && (!found || a > bm)) { bm = a; best = j; found = 1; }  /* NaN: first free */
                }
                keep[best] = 1;
            }
            for (j = 0; j < m; j++) {
                if (!keep[j]) continue;
                out->values[(size_t)r * (size_t)out->groups * (size_t)n + (size_t)k] =
                    c0 + j < cols ? row[c0 + j] : 0.0f;
                scalpel__nm_set_position(out, r, k, j);
                k++;
            }
        }
    }
    return SCALPEL_OK;
}

/* Writes (add = 0) or adds (add = 1) every in-range slot of a valid w into dense[rows x cols].
 * Without slots (cols = 0) there is nothing to write, whatever rows says. */
static void scalpel__nm_scatter(const scalpel_nm *w, float *dense, int add)
{
    int32_t r, k, slots = w->groups * w->n;
    if (slots == 0) return;
    for (r = 0; r < w->rows; r++)
        for (k = 0; k < slots; k++) {
            int32_t c = (k / w->n) * w->m + scalpel_nm_position(w, r, k);
            float v = w->values[(size_t)r * (size_t)slots + (size_t)k], *d;
            if (c >= w->cols) continue;
            d = dense + (size_t)r * (size_t)w->cols + (size_t)c;
            *d = add ? *d + v : v;
        }
}

SCALPEL_API scalpel_status scalpel_nm_to_dense(const scalpel_nm *w, float *dense)
{
    scalpel_status st = scalpel_nm_validate(w);
    if (st != SCALPEL_OK) return st;
    if ((uint64_t)w->rows * (uint64_t)w->cols > (uint64_t)SIZE_MAX / sizeof(float)) return SCALPEL_ERR_OVERFLOW;
    if (dense == NULL && (int64_t)w->rows * w->cols > 0) return SCALPEL_ERR_NULL;
    if ((int64_t)w->rows * w->cols > 0) memset(dense, 0, (size_t)w->rows * (size_t)w->cols * sizeof(float));
    scalpel__nm_scatter(w, dense, 0);
    return SCALPEL_OK;
}

SCALPEL_API void scalpel_nm_free(scalpel_nm *w)
{
    if (w == NULL) return;
#ifndef SCALPEL_NO_MALLOC
    if (w->block != NULL) SCALPEL_FREE(w->alloc_ctx, w->block);
#endif
    memset(w, 0, sizeof(*w));
}

static size_t scalpel__nm_serialized_size(int32_t rows, int32_t meta_stride, size_t slots)
{
    uint64_t total = SCALPEL_NM_HEADER_BYTES;
    total += ((uint64_t)rows * (uint64_t)meta_stride + 3u) / 4u * 4u;
    total += (uint64_t)slots * 4u + 4u;
    if (total > (uint64_t)SIZE_MAX) return 0;
    return (size_t)total;
}

SCALPEL_API size_t scalpel_nm_serialized_size(const scalpel_nm *w)
{
    if (scalpel_nm_validate(w) != SCALPEL_OK) return 0;
    return scalpel__nm_serialized_size(w->rows, w->meta_stride,
                                       (size_t)w->rows * (size_t)w->groups * (size_t)w->n);
}

SCALPEL_API scalpel_status scalpel_nm_serialize(const scalpel_nm *w, void *buf, size_t capacity,
                                                size_t *written)
{
    unsigned char *p = (unsigned char *)buf, *q;
    size_t total, i, slots, mbytes;
    scalpel_status st;
    if (written == NULL) return SCALPEL_ERR_NULL;
    *written = 0;
    st = scalpel_nm_validate(w);
    if (st != SCALPEL_OK) return st;
    if (buf == NULL) return SCALPEL_ERR_NULL;
    total = scalpel_nm_serialized_size(w);
    if (total == 0) return SCALPEL_ERR_OVERFLOW;
    if (capacity < total) return SCALPEL_ERR_BUFFER_TOO_SMALL;
    memset(p, 0, total);
    memcpy(p, SCALPEL_NM_MAGIC, 4);
    scalpel__put_u16(p + 4, SCALPEL_NM_FORMAT_VERSION);
    scalpel__put_u16(p + 6, SCALPEL_NM_HEADER_BYTES);
    scalpel__put_u32(p + 8, (uint32_t)SCALPEL_DTYPE_F32);
    scalpel__put_u32(p + 12, (uint32_t)w->n);
    scalpel__put_u32(p + 16, (uint32_t)w->m);
    scalpel__put_u32(p + 20, (uint32_t)w->rows);
    scalpel__put_u32(p + 24, (uint32_t)w->cols);
    scalpel__put_u64(p + 32, (uint64_t)total);
    q = p + SCALPEL_NM_HEADER_BYTES;
    mbytes = (size_t)w->rows * (size_t)w->meta_stride;
    if (mbytes > 0) memcpy(q, w->meta, mbytes);
    q += scalpel__round_up(mbytes, 4);
    slots = (size_t)w->rows * (size_t)w->groups * (size_t)w->n;
    for (i = 0; i < slots; i++, q += 4) {
        uint32_t bits;
        memcpy(&bits, w->values + i, 4);
        scalpel__put_u32(q, bits);
    }
    scalpel__put_u32(p + total - 4, scalpel_crc32(0, p, total - 4));
    *written = total;
    return SCALPEL_OK;
}

typedef struct scalpel__nm_header {
    int32_t rows, cols, n, m, groups, stride;
    size_t slots, total, off_meta, block;
} scalpel__nm_header;

static scalpel_status scalpel__nm_read_header(const void *data, size_t size, scalpel__nm_header *h)
{
    const unsigned char *p = (const unsigned char *)data;
    uint32_t dtype, n, m, rows, cols;
    size_t expect;
    scalpel_status st;
    if (data == NULL) return SCALPEL_ERR_NULL;
    if (size < 4) return SCALPEL_ERR_TRUNCATED;
    if (memcmp(p, SCALPEL_NM_MAGIC, 4) != 0) return SCALPEL_ERR_MAGIC;
    if (size < SCALPEL_NM_HEADER_BYTES + 4) return SCALPEL_ERR_TRUNCATED;
    if (scalpel__get_u16(p + 4) != SCALPEL_NM_FORMAT_VERSION) return SCALPEL_ERR_VERSION;
    if (scalpel__get_u16(p + 6) != SCALPEL_NM_HEADER_BYTES) return SCALPEL_ERR_CORRUPT;
    dtype = scalpel__get_u32(p + 8);
    n = scalpel__get_u32(p + 12);
    m = scalpel__get_u32(p + 16);
    rows = scalpel__get_u32(p + 20);
    cols = scalpel__get_u32(p + 24);
    if (scalpel__get_u32(p + 28) != 0 || scalpel__get_u64(p + 40) != 0) return SCALPEL_ERR_CORRUPT;
    if (dtype > (uint32_t)SCALPEL_DTYPE_Q7) return SCALPEL_ERR_DTYPE;
    if (dtype != (uint32_t)SCALPEL_DTYPE_F32) return SCALPEL_ERR_UNSUPPORTED;
    if (n > 16u || m > 16u || rows > (uint32_t)INT32_MAX || cols > (uint32_t)INT32_MAX)
        return SCALPEL_ERR_CORRUPT;
    st = scalpel__nm_shape((int32_t)rows, (int32_t)cols, (int32_t)n, (int32_t)m, &h->groups,
                           &h->stride, &h->slots);
    if (st != SCALPEL_OK) return st == SCALPEL_ERR_ARGUMENT ? SCALPEL_ERR_CORRUPT : st;
    expect = scalpel__nm_serialized_size((int32_t)rows, h->stride, h->slots);
    if (expect == 0) return SCALPEL_ERR_OVERFLOW;
    if (scalpel__get_u64(p + 32) != (uint64_t)expect) return SCALPEL_ERR_CORRUPT;
    if (size < expect) return SCALPEL_ERR_TRUNCATED;
    if (size > expect) return SCALPEL_ERR_CORRUPT;
    if (scalpel_crc32(0, p, expect - 4) != scalpel__get_u32(p + expect - 4)) return SCALPEL_ERR_CHECKSUM;
    h->rows = (int32_t)rows;
    h->cols = (int32_t)cols;
    h->n = (int32_t)n;
    h->m = (int32_t)m;
    h->total = expect;
    return scalpel__nm_layout(h->rows, h->stride, h->slots, &h->off_meta, &h->block);
}

SCALPEL_API scalpel_status scalpel_nm_deserialize_size(const void *data, size_t size, size_t *bytes)
{
    scalpel__nm_header h;
    scalpel_status st;
    if (bytes == NULL) return SCALPEL_ERR_NULL;
    *bytes = 0;
    st = scalpel__nm_read_header(data, size, &h);
    if (st == SCALPEL_OK) *bytes = h.block;
    return st;
}

SCALPEL_API scalpel_status scalpel_nm_deserialize_into(const void *data, size_t size, void *mem,
                                                       size_t mem_size, scalpel_nm *out)
{
    scalpel__nm_header h;
    const unsigned char *q;
    size_t i, mbytes;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    st = scalpel__nm_read_header(data, size, &h);
    if (st != SCALPEL_OK) return st;
    st = scalpel__nm_carve(h.rows, h.cols, h.n, h.m, mem, mem_size, out);
    if (st != SCALPEL_OK) { memset(out, 0, sizeof(*out)); return st; }
    q = (const unsigned char *)data + SCALPEL_NM_HEADER_BYTES;
    mbytes = (size_t)h.rows * (size_t)h.stride;
    if (mbytes > 0) memcpy(out->meta, q, mbytes);
    for (i = mbytes; i % 4 != 0; i++)
        if (q[i] != 0) { memset(out, 0, sizeof(*out)); return SCALPEL_ERR_CORRUPT; }
    q += scalpel__round_up(mbytes, 4);
    for (i = 0; i < h.slots; i++, q += 4) {
        uint32_t bits = scalpel__get_u32(q);
        memcpy(out->values + i, &bits, 4);
    }
    st = scalpel_nm_validate(out);
    if (st != SCALPEL_OK) memset(out, 0, sizeof(*out));
    return st;
}


/* ---- TASD series ------------------------------------------------------------------------------ */

SCALPEL_API scalpel_status scalpel_tasd_validate(const scalpel_tasd *s)
{
    int32_t i;
    if (s == NULL) return SCALPEL_ERR_NULL;
    if (s->n_terms < 0 || s->n_terms > SCALPEL_TASD_MAX_TERMS) return SCALPEL_ERR_ARGUMENT;
    if (s->rows < 0 || s->cols < 0) return SCALPEL_ERR_SHAPE;
    for (i = 0; i < s->n_terms; i++) {
        scalpel_status st = scalpel_nm_validate(&s->terms[i]);
        if (st != SCALPEL_OK) return st;
        if (s->terms[i].rows != s->rows || s->terms[i].cols != s->cols) return SCALPEL_ERR_SHAPE;
    }
    return SCALPEL_OK;
}

SCALPEL_API size_t scalpel_tasd_bytes(const scalpel_tasd *s)
{
    size_t total = 0;
    int32_t i;
    if (s == NULL || s->n_terms < 0 || s->n_terms > SCALPEL_TASD_MAX_TERMS) return 0;
    for (i = 0; i < s->n_terms; i++) total += scalpel_nm_bytes(&s->terms[i]);
    return total;
}

SCALPEL_API scalpel_status scalpel_tasd_to_dense(const scalpel_tasd *s, float *dense)
{
    int32_t i;
    scalpel_status st = scalpel_tasd_validate(s);
    if (st != SCALPEL_OK) return st;
    if ((uint64_t)s->rows * (uint64_t)s->cols > (uint64_t)SIZE_MAX / sizeof(float)) return SCALPEL_ERR_OVERFLOW;
    if (dense == NULL && (int64_t)s->rows * s->cols > 0) return SCALPEL_ERR_NULL;
    if ((int64_t)s->rows * s->cols > 0) memset(dense, 0, (size_t)s->rows * (size_t)s->cols * sizeof(float));
    for (i = 0; i < s->n_terms; i++) scalpel__nm_scatter(&s->terms[i], dense, 1);
    return SCALPEL_OK;
}

SCALPEL_API void scalpel_tasd_free(scalpel_tasd *s)
{
    int32_t i;
    if (s == NULL) return;
    for (i = 0; i < SCALPEL_TASD_MAX_TERMS; i++) scalpel_nm_free(&s->terms[i]);
    memset(s, 0, sizeof(*s));
}

/* ---- the exact hybrid ------------------------------------------------------------------------ */

SCALPEL_API scalpel_status scalpel_hybrid_validate(const scalpel_hybrid *w)
{
    const scalpel_gcsr *G, *R;
    int32_t r;
    scalpel_status st;
    if (w == NULL) return SCALPEL_ERR_NULL;
    G = &w->grouped;
    R = &w->residual;
    if ((st = scalpel_gcsr_validate(G)) != SCALPEL_OK) return st;
    if ((st = scalpel_gcsr_validate(R)) != SCALPEL_OK) return st;
    if (G->dtype != SCALPEL_DTYPE_F32 || R->dtype != SCALPEL_DTYPE_F32) return SCALPEL_ERR_DTYPE; /* fp32 kernels only */
    if (G->group < 2 || R->group != 1) return SCALPEL_ERR_GROUP;
    if (G->rows != R->rows || G->cols != R->cols) return SCALPEL_ERR_SHAPE;
    /* no residual weight inside a stored group: both lists are sorted, so one merge per row */
    for (r = 0; r < G->rows; r++) {
        int32_t a = G->row_ptr[r], k;
        for (k = R->row_ptr[r]; k < R->row_ptr[r + 1]; k++) {
            uint32_t c = scalpel_gcsr_col(R, k);
            while (a < G->row_ptr[r + 1] && scalpel_gcsr_col(G, a) + (uint32_t)G->group <= c) a++;
            if (a < G->row_ptr[r + 1] && scalpel_gcsr_col(G, a) <= c) return SCALPEL_ERR_COL_INDEX;
        }
    }
    return SCALPEL_OK;
}

SCALPEL_API size_t scalpel_hybrid_bytes(const scalpel_hybrid *w)
{
    if (w == NULL) return 0;
    return scalpel_gcsr_bytes(&w->grouped) + scalpel_gcsr_bytes(&w->residual);
}

SCALPEL_API scalpel_status scalpel_hybrid_to_dense(const scalpel_hybrid *w, float *dense)
{
    const scalpel_gcsr *R;
    int32_t r, k;
    scalpel_status st = scalpel_hybrid_validate(w);
    if (st != SCALPEL_OK) return st;
    st = scalpel_gcsr_to_dense(&w->grouped, dense);
    if (st != SCALPEL_OK) return st;
    R = &w->residual;
    for (r = 0; r < R->rows; r++)
        for (k = R->row_ptr[r]; k < R->row_ptr[r + 1]; k++)
            dense[(size_t)r * (size_t)R->cols + scalpel_gcsr_col(R, k)] = ((const float *)R->values)[k];
    return SCALPEL_OK;
}

SCALPEL_API void scalpel_hybrid_free(scalpel_hybrid *w)
{
    if (w == NULL) return;
    scalpel_gcsr_free(&w->grouped);
    scalpel_gcsr_free(&w->residual);
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

/* One allocating from_dense for every dtype: size, one block, build into it. */
static scalpel_status scalpel__gcsr_dense_alloc(const void *w, scalpel_dtype dtype, int32_t rows, int32_t cols,
                                                int32_t group, void *alloc_ctx, scalpel_gcsr *out)
{
    size_t bytes = 0;
    void *mem;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    st = scalpel__gcsr_dense_size(w, dtype, rows, cols, group, &bytes);
    if (st != SCALPEL_OK) return st;
    if (bytes > SIZE_MAX - SCALPEL__BLOCK_ALIGN) return SCALPEL_ERR_OVERFLOW;
    mem = SCALPEL_MALLOC(alloc_ctx, bytes + SCALPEL__BLOCK_ALIGN);
    if (mem == NULL) return SCALPEL_ERR_NO_MEMORY;
    st = scalpel__gcsr_dense_into(w, dtype, rows, cols, group, scalpel__align_block(mem), bytes, out);
    if (st != SCALPEL_OK) { SCALPEL_FREE(alloc_ctx, mem); return st; }
    out->block = mem;
    out->alloc_ctx = alloc_ctx;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_gcsr_from_dense_ctx(const float *w, int32_t rows, int32_t cols,
                                                       int32_t group, void *alloc_ctx,
                                                       scalpel_gcsr *out)
{
    return scalpel__gcsr_dense_alloc(w, SCALPEL_DTYPE_F32, rows, cols, group, alloc_ctx, out);
}

SCALPEL_API scalpel_status scalpel_gcsr_from_dense_fixed(const void *w, scalpel_dtype dtype, int32_t rows,
                                                         int32_t cols, int32_t group, void *alloc_ctx,
                                                         scalpel_gcsr *out)
{
    if (out != NULL) memset(out, 0, sizeof(*out));
    if (!scalpel__dtype_fixed(dtype)) return SCALPEL_ERR_DTYPE;
    return scalpel__gcsr_dense_alloc(w, dtype, rows, cols, group, alloc_ctx, out);
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

SCALPEL_API scalpel_status scalpel_nm_from_dense_ctx(const float *w, int32_t rows, int32_t cols,
                                                     int32_t n, int32_t m, void *alloc_ctx,
                                                     scalpel_nm *out)
{
    size_t bytes = 0;
    void *mem;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    st = scalpel__nm_dense_args(w, rows, cols, n, m);
    if (st == SCALPEL_OK) st = scalpel_nm_from_dense_size(rows, cols, n, m, &bytes);
    if (st != SCALPEL_OK) return st;
    if (bytes > SIZE_MAX - SCALPEL__BLOCK_ALIGN) return SCALPEL_ERR_OVERFLOW;
    mem = SCALPEL_MALLOC(alloc_ctx, bytes + SCALPEL__BLOCK_ALIGN);
    if (mem == NULL) return SCALPEL_ERR_NO_MEMORY;
    st = scalpel_nm_from_dense_into(w, rows, cols, n, m, scalpel__align_block(mem), bytes, out);
    if (st != SCALPEL_OK) { SCALPEL_FREE(alloc_ctx, mem); return st; }
    out->block = mem;
    out->alloc_ctx = alloc_ctx;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_nm_from_dense(const float *w, int32_t rows, int32_t cols,
                                                 int32_t n, int32_t m, scalpel_nm *out)
{
    return scalpel_nm_from_dense_ctx(w, rows, cols, n, m, NULL, out);
}

SCALPEL_API scalpel_status scalpel_nm_deserialize_ctx(const void *data, size_t size, void *alloc_ctx,
                                                      scalpel_nm *out)
{
    size_t bytes = 0;
    void *mem;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    st = scalpel_nm_deserialize_size(data, size, &bytes);
    if (st != SCALPEL_OK) return st;
    if (bytes > SIZE_MAX - SCALPEL__BLOCK_ALIGN) return SCALPEL_ERR_OVERFLOW;
    mem = SCALPEL_MALLOC(alloc_ctx, bytes + SCALPEL__BLOCK_ALIGN);
    if (mem == NULL) return SCALPEL_ERR_NO_MEMORY;
    st = scalpel_nm_deserialize_into(data, size, scalpel__align_block(mem), bytes, out);
    if (st != SCALPEL_OK) { SCALPEL_FREE(alloc_ctx, mem); return st; }
    out->block = mem;
    out->alloc_ctx = alloc_ctx;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_nm_deserialize(const void *data, size_t size, scalpel_nm *out)
{
    return scalpel_nm_deserialize_ctx(data, size, NULL, out);
}

/* The row threshold t (1 .. G+1) of the cost model in scalpel_hybrid's comment. cnt[j] = groups
 * of this row holding exactly j nonzeros. */
static int32_t scalpel__hybrid_threshold(const int64_t *cnt, int32_t group, float cg, float cn, float cr)
{
    int32_t t, j, best_t = group + 1;
    double best = 0.0;
    for (j = 1; j <= group; j++) best += (double)cn * (double)j * (double)cnt[j]; /* all CSR */
    for (t = group; t >= 1; t--) {
        double cost = (double)cr;
        for (j = 1; j <= group; j++)
            cost += j >= t ? (double)cg * (double)cnt[j] : (double)cn * (double)j * (double)cnt[j];
        if (cost < best) { best = cost; best_t = t; }
    }
    return best_t;
}

SCALPEL_API scalpel_status scalpel_hybrid_from_dense_ctx(const float *w, int32_t rows, int32_t cols,
                                                         int32_t group, const scalpel_hybrid_costs *costs,
                                                         void *alloc_ctx, scalpel_hybrid *out)
{
    int32_t r, c, j, kg = 0, kr = 0, gbits = cols <= 65536 ? 16 : 32;
    int64_t ng = 0, nr = 0;
    float cg = 3.0f, cn = 1.0f, cr = 8.0f;
    int32_t *thr = NULL;
    size_t orp, oc, total;
    void *mg = NULL, *mr = NULL;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (group < 2 || !scalpel__group_ok(group)) return SCALPEL_ERR_GROUP;
    if (rows < 0 || cols < 0 || rows == INT32_MAX) return SCALPEL_ERR_SHAPE;
    if ((uint64_t)rows * (uint64_t)cols > (uint64_t)SIZE_MAX / sizeof(float)) return SCALPEL_ERR_OVERFLOW;
    if (w == NULL && (int64_t)rows * cols > 0) return SCALPEL_ERR_NULL;
    if (costs != NULL) {
        if (!(costs->group > 0.0f) || !(costs->nonzero > 0.0f) || !(costs->row >= 0.0f) ||
            costs->group > 1e30f || costs->nonzero > 1e30f || costs->row > 1e30f)
            return SCALPEL_ERR_ARGUMENT;
        cg = costs->group;
        cn = costs->nonzero;
        cr = costs->row;
    }
    thr = (int32_t *)SCALPEL_MALLOC(alloc_ctx, ((size_t)rows + 1) * sizeof(int32_t));
    if (thr == NULL) return SCALPEL_ERR_NO_MEMORY;
    /* pass 1: each row's threshold, and the sizes of both parts */
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * (size_t)cols;
        int64_t cnt[SCALPEL_GCSR_MAX_GROUP + 1];
        memset(cnt, 0, sizeof(cnt));
        for (c = 0; c < cols; c += group) {
            int32_t nz = 0;
            for (j = c; j < cols && j < c + group; j++) nz += row[j] != 0.0f;
            cnt[nz]++;
        }
        thr[r] = scalpel__hybrid_threshold(cnt, group, cg, cn, cr);
        for (j = 1; j <= group; j++) {
            if (j >= thr[r]) ng += cnt[j];
            else nr += (int64_t)j * cnt[j];
        }
        if (ng * group > (int64_t)INT32_MAX || nr > (int64_t)INT32_MAX) { st = SCALPEL_ERR_OVERFLOW; goto fail; }
    }
    /* pass 2: both parts, each in its own block like scalpel_gcsr_from_dense's */
    st = scalpel__gcsr_layout(rows, (int32_t)ng, group, gbits, SCALPEL_DTYPE_F32, &orp, &oc, &total);
    if (st != SCALPEL_OK) goto fail;
    mg = SCALPEL_MALLOC(alloc_ctx, total + SCALPEL__BLOCK_ALIGN);
    if (mg == NULL) { st = SCALPEL_ERR_NO_MEMORY; goto fail; }
    {
        unsigned char *base = (unsigned char *)scalpel__align_block(mg);
        scalpel_gcsr *G = &out->grouped;
        G->rows = rows; G->cols = cols; G->group = group; G->index_bits = gbits;
        G->dtype = SCALPEL_DTYPE_F32; G->nnz_groups = (int32_t)ng;
        G->values = base; G->row_ptr = (int32_t *)(void *)(base + orp); G->col_idx = base + oc;
        G->block = mg; G->alloc_ctx = alloc_ctx;
    }
    st = scalpel__gcsr_layout(rows, (int32_t)nr, 1, gbits, SCALPEL_DTYPE_F32, &orp, &oc, &total);
    if (st != SCALPEL_OK) goto fail;
    mr = SCALPEL_MALLOC(alloc_ctx, total + SCALPEL__BLOCK_ALIGN);
    if (mr == NULL) { st = SCALPEL_ERR_NO_MEMORY; goto fail; }
    {
        unsigned char *base = (unsigned char *)scalpel__align_block(mr);
        scalpel_gcsr *R = &out->residual;
        R->rows = rows; R->cols = cols; R->group = 1; R->index_bits = gbits;
        R->dtype = SCALPEL_DTYPE_F32; R->nnz_groups = (int32_t)nr;
        R->values = base; R->row_ptr = (int32_t *)(void *)(base + orp); R->col_idx = base + oc;
        R->block = mr; R->alloc_ctx = alloc_ctx;
    }
    out->grouped.row_ptr[0] = out->residual.row_ptr[0] = 0;
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * (size_t)cols;
        float *gv = (float *)out->grouped.values, *rv = (float *)out->residual.values;
        for (c = 0; c < cols; c += group) {
            int32_t nz = 0, end = cols - c < group ? cols : c + group;
            for (j = c; j < end; j++) nz += row[j] != 0.0f;
            if (nz == 0) continue;
            if (nz >= thr[r]) {
                for (j = 0; j < group; j++) gv[(size_t)kg * (size_t)group + (size_t)j] = c + j < cols ? row[c + j] : 0.0f;
                if (gbits == 16) ((uint16_t *)out->grouped.col_idx)[kg] = (uint16_t)c;
                else ((uint32_t *)out->grouped.col_idx)[kg] = (uint32_t)c;
                kg++;
            } else {
                for (j = c; j < end; j++) {
                    if (row[j] == 0.0f) continue;
                    rv[kr] = row[j];
                    if (gbits == 16) ((uint16_t *)out->residual.col_idx)[kr] = (uint16_t)j;
                    else ((uint32_t *)out->residual.col_idx)[kr] = (uint32_t)j;
                    kr++;
                }
            }
        }
        out->grouped.row_ptr[r + 1] = kg;
        out->residual.row_ptr[r + 1] = kr;
    }
    SCALPEL_ASSERT(kg == ng && kr == nr);
    SCALPEL_FREE(alloc_ctx, thr);
    return SCALPEL_OK;
fail:
    SCALPEL_FREE(alloc_ctx, thr);
    scalpel_hybrid_free(out);
    return st;
}

SCALPEL_API scalpel_status scalpel_hybrid_from_dense(const float *w, int32_t rows, int32_t cols,
                                                     int32_t group, const scalpel_hybrid_costs *costs,
                                                     scalpel_hybrid *out)
{
    return scalpel_hybrid_from_dense_ctx(w, rows, cols, group, costs, NULL, out);
}
SCALPEL_API scalpel_status scalpel_file_size(const char *path, uint64_t *size)
{
    FILE *f;
    uint64_t len;
    scalpel_status st;
    if (size != NULL) *size = 0;
    if (path == NULL || size == NULL) return SCALPEL_ERR_NULL;
    st = scalpel__file_open_read(path, &f, &len);
    if (st != SCALPEL_OK) return st;
    fclose(f);
    *size = len;
    return SCALPEL_OK;
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
