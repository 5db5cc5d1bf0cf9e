/* ---------------------------------------------------------------------------------------- */
/* >>model files (implementation)                                                            */
/* ---------------------------------------------------------------------------------------- */
/*
 * MODEL FILE FORMAT, VERSION 1. Every integer is little-endian; floats are IEEE-754 binary32
 * bit patterns, little-endian. Offsets are from the first byte of the file.
 *
 * Header, 64 bytes:
 *   offset  size  field
 *   0       4     magic "SCPN"
 *   4       2     format version (1)
 *   6       2     header size in bytes (64)
 *   8       4     layer record size in bytes (128)
 *   12      4     layer count n (0 .. SCALPEL_NET_MAX_LAYERS)
 *   16      4     input channels  (int32, >= 1)
 *   20      4     input height    (int32, >= 1)
 *   24      4     input width     (int32, >= 1)
 *   28      4     flags, zero
 *   32      8     total size of the file in bytes, checksum included
 *   40      24    reserved, zero
 *
 * Layer records, n x 128 bytes from offset 64 (int32 fields are non-negative):
 *   0       4     kind (scalpel_layer_kind: 1 fc, 2 conv2d, 3 maxpool, 4 relu)
 *   4       4     outputs: fc outputs or conv2d out_channels; 0 for maxpool and relu
 *   8       4     kernel   (conv2d, maxpool; else 0)
 *   12      4     stride   (conv2d, maxpool; else 0)
 *   16      4     pad      (conv2d; else 0)
 *   20      4     storage  (scalpel_storage: 0 dense, 1 grouped CSR; 0 for unweighted layers)
 *   24      4     rows of the weight matrix (0 for unweighted layers)
 *   28      4     cols of the weight matrix (0 for unweighted layers)
 *   32      4     group G of the grouped CSR (1, 2, 4, 8, 16; 0 when dense)
 *   36      4     index bits of the grouped CSR (16 or 32; 0 when dense)
 *   40      4     nnz_groups of the grouped CSR (0 when dense)
 *   44      4     dtype of the stored values (scalpel_dtype; 0 = F32, the only one in v1)
 *   48      16    dense weights w   [rows x cols] f32:  offset (u64), size in bytes (u64)
 *   64      16    bias b            [rows] f32:         offset, size
 *   80      16    row_ptr           [rows + 1] int32:   offset, size
 *   96      16    col_idx           [nnz_groups] uint16 or uint32 (index bits): offset, size
 *   112     16    values            [nnz_groups x G] f32: offset, size
 *   An array the layer does not have (w of a sparse layer, the CSR arrays of a dense one,
 *   everything of an unweighted layer, col_idx and values when nnz_groups is 0) has offset 0
 *   and size 0. Every size is exactly the element count times the element size.
 *
 * Data, from offset 64 + n * 128: the arrays in record order (layer 0: w, b, row_ptr,
 * col_idx, values; then layer 1 ...), each starting on a multiple of 64 bytes of the file,
 * with zero bytes in every gap. After the last array: zero padding to a multiple of 4, then
 *   total-4 4     CRC-32 (scalpel_crc32, as zlib's crc32) of every byte before it.
 *
 * The shapes of every layer (input and output C x H x W) are not stored: a reader rebuilds
 * them from the input shape and each record's kind, outputs, kernel, stride and pad, and the
 * stored rows and cols must equal the rebuilt ones. Weights and biases must be finite.
 * A reader treats the bytes as hostile: sizes before reads, every product in 64-bit with
 * overflow checks, offsets aligned, in range, in order and not overlapping, reserved fields
 * and gaps zero, the checksum, then the full network check (scalpel_net_validate).
 */

#include <string.h>
#include <limits.h>
#ifndef SCALPEL_NO_MALLOC
#include <stdio.h>
#include <time.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define SCALPEL__NF_HEADER 64u
#define SCALPEL__NF_RECORD 128u
#define SCALPEL__NF_ALIGN 64u
#define SCALPEL__NF_ARRAYS 5 /* w, b, row_ptr, col_idx, values: the record's order */

SCALPEL__PRIV void scalpel__nf_put_u16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
SCALPEL__PRIV void scalpel__nf_put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
SCALPEL__PRIV void scalpel__nf_put_u64(unsigned char *p, uint64_t v)
{
    scalpel__nf_put_u32(p, (uint32_t)v);
    scalpel__nf_put_u32(p + 4, (uint32_t)(v >> 32));
}
SCALPEL__PRIV uint32_t scalpel__nf_get_u16(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}
SCALPEL__PRIV uint32_t scalpel__nf_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
SCALPEL__PRIV uint64_t scalpel__nf_get_u64(const unsigned char *p)
{
    return (uint64_t)scalpel__nf_get_u32(p) | ((uint64_t)scalpel__nf_get_u32(p + 4) << 32);
}

/* A view hands the file's bytes to the kernels as floats and integers in place, which is only
 * right when the host stores them little-endian as the file does. Asked at run time: there is
 * no portable compile-time test, and the answer costs nothing. */
SCALPEL__PRIV int scalpel__nf_little_endian(void)
{
    uint32_t one = 1u;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1u;
}

/* Finite test on the bit pattern: independent of -ffast-math and of <math.h>. */
SCALPEL__PRIV int scalpel__nf_finite_bits(uint32_t bits)
{
    return (bits & 0x7f800000u) != 0x7f800000u;
}

SCALPEL__PRIV uint64_t scalpel__nf_round_up(uint64_t n, uint64_t a)
{
    return (n + a - 1u) / a * a;
}

/* Byte sizes of a layer's five arrays (record order) from its storage fields, in 64-bit:
 * with rows, cols, nnz_groups and G already known to be in [0, INT32_MAX] and G <= 16, no
 * product below can overflow (the largest, rows * cols * 4, is under 2^64). */
SCALPEL__PRIV void scalpel__nf_array_sizes(int32_t kind, int32_t storage, int64_t rows, int64_t cols,
                                           int64_t group, int64_t index_bits, int64_t nnz,
                                           uint64_t sz[SCALPEL__NF_ARRAYS])
{
    int k;
    for (k = 0; k < SCALPEL__NF_ARRAYS; k++) sz[k] = 0;
    if (!scalpel__is_weighted(kind)) return;
    sz[1] = (uint64_t)rows * 4u;
    if (storage == SCALPEL_STORAGE_DENSE) {
        sz[0] = (uint64_t)rows * (uint64_t)cols * 4u;
    } else {
        sz[2] = ((uint64_t)rows + 1u) * 4u;
        sz[3] = (uint64_t)nnz * (uint64_t)(index_bits / 8);
        sz[4] = (uint64_t)nnz * (uint64_t)group * 4u;
    }
}

/* Where the writer puts each array of a valid network (offsets 0 for absent arrays) and the
 * total file size. Fails with SCALPEL_ERR_OVERFLOW when the file would not fit a size_t. */
SCALPEL__PRIV scalpel_status scalpel__nf_layout(const scalpel_net *net,
                                                uint64_t off[SCALPEL_NET_MAX_LAYERS][SCALPEL__NF_ARRAYS],
                                                uint64_t sz[SCALPEL_NET_MAX_LAYERS][SCALPEL__NF_ARRAYS],
                                                size_t *total)
{
    uint64_t cursor = SCALPEL__NF_HEADER + (uint64_t)net->n_layers * SCALPEL__NF_RECORD;
    const uint64_t limit = (uint64_t)SIZE_MAX < ((uint64_t)1 << 62) ? (uint64_t)SIZE_MAX : ((uint64_t)1 << 62);
    int32_t i;
    int k;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        const scalpel_gcsr *s = &L->sparse;
        int gcsr = L->storage == SCALPEL_STORAGE_GCSR;
        scalpel__nf_array_sizes(L->kind, L->storage, L->rows, L->cols, gcsr ? s->group : 0,
                                gcsr ? s->index_bits : 0, gcsr ? s->nnz_groups : 0, sz[i]);
        for (k = 0; k < SCALPEL__NF_ARRAYS; k++) {
            off[i][k] = 0;
            if (sz[i][k] == 0) continue;
            /* each step stays under 2^62 + 2^63 at worst, so the checks themselves never wrap */
            if (sz[i][k] > limit || cursor > limit - sz[i][k] - SCALPEL__NF_ALIGN) return SCALPEL_ERR_OVERFLOW;
            off[i][k] = scalpel__nf_round_up(cursor, SCALPEL__NF_ALIGN);
            cursor = off[i][k] + sz[i][k];
        }
    }
    cursor = scalpel__nf_round_up(cursor, 4u) + 4u;
    if (cursor > limit) return SCALPEL_ERR_OVERFLOW;
    *total = (size_t)cursor;
    return SCALPEL_OK;
}

SCALPEL_API size_t scalpel_net_serialized_size(const scalpel_net *net)
{
    uint64_t off[SCALPEL_NET_MAX_LAYERS][SCALPEL__NF_ARRAYS], sz[SCALPEL_NET_MAX_LAYERS][SCALPEL__NF_ARRAYS];
    size_t total = 0;
    if (scalpel_net_validate(net) != SCALPEL_OK) return 0;
    if (scalpel__nf_layout(net, off, sz, &total) != SCALPEL_OK) return 0;
    return total;
}

/* Copies n floats as little-endian bit patterns; 0 when one is not finite (a model file never
 * holds one, so that every reader can trust the values it maps). */
SCALPEL__PRIV int scalpel__nf_put_floats(unsigned char *p, const float *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, v + i, 4);
        if (!scalpel__nf_finite_bits(bits)) return 0;
        scalpel__nf_put_u32(p + 4 * i, bits);
    }
    return 1;
}

/* Writes the canonical file of net: arrays in record order on the first free 64-byte boundary,
 * every other byte zero, so the same network always gives the same bytes (a view
 * re-serializes to an identical file, and files can be compared or hashed). */
SCALPEL_API scalpel_status scalpel_net_serialize(const scalpel_net *net, void *buf, size_t capacity,
                                                 size_t *written)
{
    uint64_t off[SCALPEL_NET_MAX_LAYERS][SCALPEL__NF_ARRAYS], sz[SCALPEL_NET_MAX_LAYERS][SCALPEL__NF_ARRAYS];
    unsigned char *p = (unsigned char *)buf;
    size_t total = 0;
    int32_t i;
    int k, ok = 1;
    scalpel_status st;
    if (written == NULL) return SCALPEL_ERR_NULL;
    *written = 0;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (buf == NULL) return SCALPEL_ERR_NULL;
    st = scalpel__nf_layout(net, off, sz, &total);
    if (st != SCALPEL_OK) return st;
    if (capacity < total) return SCALPEL_ERR_BUFFER_TOO_SMALL;
    memset(p, 0, total);
    memcpy(p, SCALPEL_NET_MAGIC, 4);
    scalpel__nf_put_u16(p + 4, SCALPEL_NET_FORMAT_VERSION);
    scalpel__nf_put_u16(p + 6, SCALPEL__NF_HEADER);
    scalpel__nf_put_u32(p + 8, SCALPEL__NF_RECORD);
    scalpel__nf_put_u32(p + 12, (uint32_t)net->n_layers);
    scalpel__nf_put_u32(p + 16, (uint32_t)net->in_c);
    scalpel__nf_put_u32(p + 20, (uint32_t)net->in_h);
    scalpel__nf_put_u32(p + 24, (uint32_t)net->in_w);
    scalpel__nf_put_u64(p + 32, (uint64_t)total);
    for (i = 0; i < net->n_layers && ok; i++) {
        const scalpel_layer *L = &net->layers[i];
        unsigned char *r = p + SCALPEL__NF_HEADER + (size_t)i * SCALPEL__NF_RECORD;
        int weighted = scalpel__is_weighted(L->kind), gcsr = weighted && L->storage == SCALPEL_STORAGE_GCSR;
        scalpel__nf_put_u32(r + 0, (uint32_t)L->kind);
        scalpel__nf_put_u32(r + 4, weighted ? (uint32_t)L->out_c : 0u);
        scalpel__nf_put_u32(r + 8, (uint32_t)L->kernel);
        scalpel__nf_put_u32(r + 12, (uint32_t)L->stride);
        scalpel__nf_put_u32(r + 16, (uint32_t)L->pad);
        scalpel__nf_put_u32(r + 20, (uint32_t)L->storage);
        scalpel__nf_put_u32(r + 24, (uint32_t)L->rows);
        scalpel__nf_put_u32(r + 28, (uint32_t)L->cols);
        if (gcsr) {
            scalpel__nf_put_u32(r + 32, (uint32_t)L->sparse.group);
            scalpel__nf_put_u32(r + 36, (uint32_t)L->sparse.index_bits);
            scalpel__nf_put_u32(r + 40, (uint32_t)L->sparse.nnz_groups);
        }
        scalpel__nf_put_u32(r + 44, (uint32_t)SCALPEL_DTYPE_F32);
        for (k = 0; k < SCALPEL__NF_ARRAYS; k++) {
            scalpel__nf_put_u64(r + 48 + 16 * k, off[i][k]);
            scalpel__nf_put_u64(r + 56 + 16 * k, sz[i][k]);
        }
        if (!weighted) continue;
        if (sz[i][0]) ok &= scalpel__nf_put_floats(p + off[i][0], L->w, (size_t)(sz[i][0] / 4u));
        ok &= scalpel__nf_put_floats(p + off[i][1], L->b, (size_t)(sz[i][1] / 4u));
        if (gcsr) {
            const scalpel_gcsr *s = &L->sparse;
            size_t j;
            for (j = 0; j <= (size_t)L->rows; j++)
                scalpel__nf_put_u32(p + off[i][2] + 4 * j, (uint32_t)s->row_ptr[j]);
            for (j = 0; j < (size_t)s->nnz_groups; j++) {
                if (s->index_bits == 16) scalpel__nf_put_u16(p + off[i][3] + 2 * j, scalpel_gcsr_col(s, (int32_t)j));
                else scalpel__nf_put_u32(p + off[i][3] + 4 * j, scalpel_gcsr_col(s, (int32_t)j));
            }
            if (sz[i][4]) ok &= scalpel__nf_put_floats(p + off[i][4], (const float *)s->values, (size_t)(sz[i][4] / 4u));
        }
    }
    if (!ok) {
        memset(p, 0, total);
        return SCALPEL_ERR_ARGUMENT; /* a weight or bias is NaN or infinite */
    }
    scalpel__nf_put_u32(p + total - 4, scalpel_crc32(0, p, total - 4));
    *written = total;
    return SCALPEL_OK;
}

/* 1 when bytes p[from, to) are all zero: gaps and padding carry nothing, so two files of the
 * same network are byte-identical and nothing can hide in them. */
SCALPEL__PRIV int scalpel__nf_zero(const unsigned char *p, uint64_t from, uint64_t to)
{
    for (; from < to; from++)
        if (p[from] != 0) return 0;
    return 1;
}

/* 1 when the n little-endian floats at p are all finite. */
SCALPEL__PRIV int scalpel__nf_floats_finite(const unsigned char *p, uint64_t bytes)
{
    uint64_t i;
    for (i = 0; i + 4u <= bytes; i += 4u)
        if (!scalpel__nf_finite_bits(scalpel__nf_get_u32(p + i))) return 0;
    return 1;
}

/* Checks the fixed header of data[size] (everything but the layer records and the arrays) and
 * returns the layer count. The order of the checks decides the error a damaged file gets: not
 * ours (MAGIC), newer (VERSION), cut short (TRUNCATED), damaged (CHECKSUM), then fields a
 * correct checksum cannot excuse (CORRUPT, UNSUPPORTED). */
SCALPEL__PRIV scalpel_status scalpel__nf_check_header(const unsigned char *p, size_t size, uint32_t *n_out)
{
    uint64_t total;
    uint32_t n;
    if (size < 4) return SCALPEL_ERR_TRUNCATED;
    if (memcmp(p, SCALPEL_NET_MAGIC, 4) != 0) return SCALPEL_ERR_MAGIC;
    if (size < 8) return SCALPEL_ERR_TRUNCATED;
    if (scalpel__nf_get_u16(p + 4) != SCALPEL_NET_FORMAT_VERSION) return SCALPEL_ERR_VERSION;
    if (scalpel__nf_get_u16(p + 6) != SCALPEL__NF_HEADER) return SCALPEL_ERR_CORRUPT;
    if (size < SCALPEL__NF_HEADER + 4u) return SCALPEL_ERR_TRUNCATED;
    total = scalpel__nf_get_u64(p + 32);
    if (total > (uint64_t)size) return SCALPEL_ERR_TRUNCATED;
    if (total < (uint64_t)size) return SCALPEL_ERR_CORRUPT; /* trailing bytes: not what was written */
    if (scalpel_crc32(0, p, size - 4) != scalpel__nf_get_u32(p + size - 4)) return SCALPEL_ERR_CHECKSUM;
    if (scalpel__nf_get_u32(p + 8) != SCALPEL__NF_RECORD) return SCALPEL_ERR_CORRUPT;
    if (scalpel__nf_get_u32(p + 28) != 0 || !scalpel__nf_zero(p, 40, SCALPEL__NF_HEADER)) return SCALPEL_ERR_CORRUPT;
    n = scalpel__nf_get_u32(p + 12);
    if (n > SCALPEL_NET_MAX_LAYERS) return SCALPEL_ERR_UNSUPPORTED;
    if ((uint64_t)SCALPEL__NF_HEADER + (uint64_t)n * SCALPEL__NF_RECORD + 4u > (uint64_t)size)
        return SCALPEL_ERR_CORRUPT; /* the checksum matched, so the count itself is wrong */
    if (size % 4u != 0) return SCALPEL_ERR_CORRUPT;
    *n_out = n;
    return SCALPEL_OK;
}

/* Reads layer record r into the next layer of net: shapes rebuilt by scalpel__net_append (the
 * stored rows/cols only confirm them), storage fields range-checked before any product, each
 * array's size compared with the exact product, its offset checked (aligned, after *cursor,
 * inside the data area [*cursor, end)) and the gap before it zero; then the layer's pointers
 * aim into p. *cursor advances past the layer's arrays. */
SCALPEL__PRIV scalpel_status scalpel__nf_view_layer(const unsigned char *p, uint64_t end,
                                                    const unsigned char *r, scalpel_net *net,
                                                    uint64_t *cursor)
{
    uint32_t f[12];
    uint64_t sz[SCALPEL__NF_ARRAYS], off[SCALPEL__NF_ARRAYS];
    int32_t kind, storage, rows, cols, group, bits, nnz;
    scalpel_layer *L = NULL;
    scalpel_status st;
    int k, weighted;
    for (k = 0; k < 12; k++) {
        f[k] = scalpel__nf_get_u32(r + 4 * k);
        if (f[k] > (uint32_t)INT32_MAX) return SCALPEL_ERR_CORRUPT;
    }
    kind = (int32_t)f[0];
    storage = (int32_t)f[5];
    rows = (int32_t)f[6];
    cols = (int32_t)f[7];
    group = (int32_t)f[8];
    bits = (int32_t)f[9];
    nnz = (int32_t)f[10];
    st = scalpel__net_append(net, kind, (int32_t)f[1], (int32_t)f[2], (int32_t)f[3], (int32_t)f[4], &L);
    if (st == SCALPEL_ERR_ARGUMENT || st == SCALPEL_ERR_SHAPE) return SCALPEL_ERR_CORRUPT;
    if (st != SCALPEL_OK) return st;
    if (rows != L->rows || cols != L->cols) return SCALPEL_ERR_CORRUPT;
    if (f[11] != (uint32_t)SCALPEL_DTYPE_F32) return SCALPEL_ERR_DTYPE;
    weighted = scalpel__is_weighted(kind);
    if (storage == SCALPEL_STORAGE_GCSR && weighted) {
        if (group != 1 && group != 2 && group != 4 && group != 8 && group != 16) return SCALPEL_ERR_GROUP;
        if (bits != 16 && bits != 32) return SCALPEL_ERR_INDEX_WIDTH;
        if ((int64_t)nnz * group > (int64_t)INT32_MAX) return SCALPEL_ERR_OVERFLOW;
        if ((int64_t)nnz > (int64_t)rows * (((int64_t)cols + group - 1) / group)) return SCALPEL_ERR_CORRUPT;
    } else if (storage != SCALPEL_STORAGE_DENSE || group != 0 || bits != 0 || nnz != 0) {
        return SCALPEL_ERR_CORRUPT;
    }
    scalpel__nf_array_sizes(kind, storage, rows, cols, group, bits, nnz, sz);
    for (k = 0; k < SCALPEL__NF_ARRAYS; k++) {
        uint64_t o = scalpel__nf_get_u64(r + 48 + 16 * k), s = scalpel__nf_get_u64(r + 56 + 16 * k);
        if (s != sz[k]) return SCALPEL_ERR_CORRUPT;
        off[k] = o;
        if (s == 0) {
            if (o != 0) return SCALPEL_ERR_CORRUPT;
            continue;
        }
        /* o <= end and s <= end - o: no sum below can wrap, whatever the stored values */
        if (o % SCALPEL__NF_ALIGN != 0 || o < *cursor || o > end || s > end - o) return SCALPEL_ERR_CORRUPT;
        if (!scalpel__nf_zero(p, *cursor, o)) return SCALPEL_ERR_CORRUPT;
        *cursor = o + s;
    }
    if (!weighted) return SCALPEL_OK;
    if (!scalpel__nf_floats_finite(p + off[0], sz[0]) || !scalpel__nf_floats_finite(p + off[1], sz[1]) ||
        !scalpel__nf_floats_finite(p + off[4], sz[4]))
        return SCALPEL_ERR_CORRUPT;
    /* the library never writes through a network's arrays: the casts only fit the gcsr fields */
    L->storage = storage;
    L->b = (const float *)(const void *)(p + off[1]);
    if (storage == SCALPEL_STORAGE_DENSE) {
        L->w = (const float *)(const void *)(p + off[0]);
    } else {
        L->sparse.rows = rows;
        L->sparse.cols = cols;
        L->sparse.group = group;
        L->sparse.index_bits = bits;
        L->sparse.dtype = SCALPEL_DTYPE_F32;
        L->sparse.nnz_groups = nnz;
        L->sparse.row_ptr = (int32_t *)(void *)(uintptr_t)(p + off[2]);
        L->sparse.col_idx = nnz ? (void *)(uintptr_t)(p + off[3]) : NULL;
        L->sparse.values = nnz ? (void *)(uintptr_t)(p + off[4]) : NULL;
    }
    return SCALPEL_OK;
}

/* Header first (nothing else is read before its sizes are known to be inside the buffer), then
 * each record rebuilt into net in turn, then the trailing padding, then the whole network
 * checked once more by scalpel_net_validate (grouped-CSR structure, pointers). Any failure
 * leaves *net zeroed. */
SCALPEL_API scalpel_status scalpel_net_view(const void *data, size_t size, scalpel_net *net)
{
    const unsigned char *p = (const unsigned char *)data;
    uint32_t n = 0, i;
    uint64_t cursor;
    scalpel_status st;
    if (net == NULL) return SCALPEL_ERR_NULL;
    memset(net, 0, sizeof(*net));
    if (data == NULL) return SCALPEL_ERR_NULL;
    if (!scalpel__nf_little_endian()) return SCALPEL_ERR_UNSUPPORTED;
    if ((uintptr_t)data % 4u != 0) return SCALPEL_ERR_ALIGNMENT;
    st = scalpel__nf_check_header(p, size, &n);
    if (st != SCALPEL_OK) return st;
    {
        uint32_t c = scalpel__nf_get_u32(p + 16), h = scalpel__nf_get_u32(p + 20), w = scalpel__nf_get_u32(p + 24);
        if (c > (uint32_t)INT32_MAX || h > (uint32_t)INT32_MAX || w > (uint32_t)INT32_MAX) return SCALPEL_ERR_CORRUPT;
        /* in two steps, so that not even the 64-bit product of three int32 can wrap */
        if ((uint64_t)c * h > (uint64_t)INT32_MAX || (uint64_t)c * h * w > (uint64_t)INT32_MAX)
            return SCALPEL_ERR_OVERFLOW;
        st = scalpel_net_init((int32_t)c, (int32_t)h, (int32_t)w, net);
        if (st != SCALPEL_OK) {
            memset(net, 0, sizeof(*net));
            return st == SCALPEL_ERR_OVERFLOW ? st : SCALPEL_ERR_CORRUPT;
        }
    }
    cursor = SCALPEL__NF_HEADER + (uint64_t)n * SCALPEL__NF_RECORD;
    for (i = 0; i < n && st == SCALPEL_OK; i++)
        st = scalpel__nf_view_layer(p, (uint64_t)size - 4u, p + SCALPEL__NF_HEADER + (size_t)i * SCALPEL__NF_RECORD,
                                    net, &cursor);
    if (st == SCALPEL_OK && !scalpel__nf_zero(p, cursor, (uint64_t)size - 4u)) st = SCALPEL_ERR_CORRUPT;
    if (st == SCALPEL_OK) st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) memset(net, 0, sizeof(*net));
    return st;
}

#ifndef SCALPEL_NO_MALLOC
/* A copied model starts on a cache line, so its 64-byte-aligned arrays do too. */
SCALPEL__PRIV void *scalpel__nf_align64(void *raw)
{
    uintptr_t a = (uintptr_t)raw;
    return (unsigned char *)raw + ((SCALPEL__NF_ALIGN - a % SCALPEL__NF_ALIGN) % SCALPEL__NF_ALIGN);
}

/* The copy goes to a 64-byte boundary inside an over-allocated block (the file's arrays keep
 * their cache-line alignment); net->block is the raw allocation scalpel_net_free releases. */
SCALPEL_API scalpel_status scalpel_net_load_buffer(const void *data, size_t size, scalpel_net *net)
{
    void *raw;
    scalpel_status st;
    if (net == NULL) return SCALPEL_ERR_NULL;
    memset(net, 0, sizeof(*net));
    if (data == NULL) return SCALPEL_ERR_NULL;
    if (size > SIZE_MAX - SCALPEL__NF_ALIGN) return SCALPEL_ERR_OVERFLOW;
    raw = SCALPEL_MALLOC(NULL, size + SCALPEL__NF_ALIGN);
    if (raw == NULL) return SCALPEL_ERR_NO_MEMORY;
    if (size) memcpy(scalpel__nf_align64(raw), data, size);
    st = scalpel_net_view(scalpel__nf_align64(raw), size, net);
    if (st != SCALPEL_OK) {
        SCALPEL_FREE(NULL, raw);
        return st;
    }
    net->block = raw;
    return SCALPEL_OK;
}

/* Reads the whole file into one 64-byte-aligned block and views it. The file's own header is
 * checked (magic, announced total == length) before the big allocation, so a large file that
 * is not a model costs no memory. */
SCALPEL_API scalpel_status scalpel_net_load(const char *path, scalpel_net *net)
{
    unsigned char head[SCALPEL__NF_HEADER];
    FILE *f;
    long len;
    size_t n, got;
    void *raw = NULL;
    scalpel_status st = SCALPEL_OK;
    if (net == NULL) return SCALPEL_ERR_NULL;
    memset(net, 0, sizeof(*net));
    if (path == NULL) return SCALPEL_ERR_NULL;
    f = fopen(path, "rb");
    if (f == NULL) return SCALPEL_ERR_IO;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return SCALPEL_ERR_IO;
    }
    if ((unsigned long)len > (unsigned long)(SIZE_MAX - SCALPEL__NF_ALIGN)) {
        fclose(f);
        return SCALPEL_ERR_OVERFLOW;
    }
    n = (size_t)len;
    got = fread(head, 1, n < sizeof(head) ? n : sizeof(head), f);
    if (got != (n < sizeof(head) ? n : sizeof(head))) st = SCALPEL_ERR_IO;
    else if (got >= 4 && memcmp(head, SCALPEL_NET_MAGIC, 4) != 0) st = SCALPEL_ERR_MAGIC;
    else if (got == sizeof(head) && scalpel__nf_get_u64(head + 32) != (uint64_t)n)
        st = scalpel__nf_get_u64(head + 32) > (uint64_t)n ? SCALPEL_ERR_TRUNCATED : SCALPEL_ERR_CORRUPT;
    if (st == SCALPEL_OK) {
        raw = SCALPEL_MALLOC(NULL, n + SCALPEL__NF_ALIGN);
        if (raw == NULL) st = SCALPEL_ERR_NO_MEMORY;
    }
    if (st == SCALPEL_OK) {
        unsigned char *dst = (unsigned char *)scalpel__nf_align64(raw);
        memcpy(dst, head, got);
        /* the file must end where ftell said: one byte more means it changed under us */
        if (fread(dst + got, 1, n - got, f) != n - got || fgetc(f) != EOF || ferror(f)) st = SCALPEL_ERR_IO;
    }
    fclose(f);
    if (st == SCALPEL_OK) st = scalpel_net_view(scalpel__nf_align64(raw), n, net);
    if (st != SCALPEL_OK) {
        if (raw != NULL) SCALPEL_FREE(NULL, raw);
        memset(net, 0, sizeof(*net));
        return st;
    }
    net->block = raw;
    return SCALPEL_OK;
}

/* Opens a new temporary file beside `path` for writing: path + ".tmp" + a suffix made from the
 * time and a counter, the first name no file has yet (C99 has no exclusive-create mode, so
 * existence is asked with "rb" first). Saving through it and renaming over `path` at the end
 * means a failed save never truncates or destroys the file that was there. */
SCALPEL__PRIV scalpel_status scalpel__nf_tmp_open(const char *path, void *alloc_ctx, char **tmp_out, FILE **f_out)
{
    size_t len;
    char *name;
    unsigned long stamp = (unsigned long)time(NULL) ^ ((unsigned long)clock() << 16);
    unsigned i;
    *tmp_out = NULL;
    *f_out = NULL;
    len = strlen(path);
    if (len == 0) return SCALPEL_ERR_ARGUMENT;
    if (len > SIZE_MAX - 48) return SCALPEL_ERR_OVERFLOW;
    name = (char *)SCALPEL_MALLOC(alloc_ctx, len + 48);
    if (name == NULL) return SCALPEL_ERR_NO_MEMORY;
    for (i = 0; i < 1000; i++) {
        FILE *probe;
        memcpy(name, path, len);
        sprintf(name + len, ".tmp%lx-%u", stamp & 0xffffffffUL, i);
        probe = fopen(name, "rb");
        if (probe != NULL) {
            fclose(probe);
            continue;
        }
        *f_out = fopen(name, "wb");
        if (*f_out == NULL) break; /* no such directory, no permission: retrying will not help */
        *tmp_out = name;
        return SCALPEL_OK;
    }
    SCALPEL_FREE(alloc_ctx, name);
    return SCALPEL_ERR_IO;
}

/* Completes (st == OK) or abandons a temporary file from scalpel__nf_tmp_open: flush and close
 * are checked (a full disk often shows only there), then the rename puts the new file in place
 * in one step. On any failure the temporary goes and the target is left as it was. On Windows,
 * where rename cannot replace a file, the target is removed first: there a crash between the
 * two calls can lose the old file. */
SCALPEL__PRIV scalpel_status scalpel__nf_tmp_close(FILE *f, char *tmp, const char *path, void *alloc_ctx,
                                                   scalpel_status st)
{
    if (fflush(f) != 0 || ferror(f)) {
        if (st == SCALPEL_OK) st = SCALPEL_ERR_IO;
    }
    if (fclose(f) != 0 && st == SCALPEL_OK) st = SCALPEL_ERR_IO;
    if (st == SCALPEL_OK) {
#ifdef _WIN32
        (void)remove(path);
#endif
        if (rename(tmp, path) != 0) st = SCALPEL_ERR_IO;
    }
    if (st != SCALPEL_OK) (void)remove(tmp);
    SCALPEL_FREE(alloc_ctx, tmp);
    return st;
}

/* Serializes to memory first, so that every check is done before a file is touched; then
 * temporary file, checked writes, rename. */
SCALPEL_API scalpel_status scalpel_net_save(const scalpel_net *net, const char *path)
{
    size_t total, written = 0;
    unsigned char *buf;
    char *tmp = NULL;
    FILE *f = NULL;
    scalpel_status st;
    if (net == NULL || path == NULL) return SCALPEL_ERR_NULL;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    total = scalpel_net_serialized_size(net);
    if (total == 0) return SCALPEL_ERR_OVERFLOW;
    buf = (unsigned char *)SCALPEL_MALLOC(net->alloc_ctx, total);
    if (buf == NULL) return SCALPEL_ERR_NO_MEMORY;
    st = scalpel_net_serialize(net, buf, total, &written);
    if (st == SCALPEL_OK) st = scalpel__nf_tmp_open(path, net->alloc_ctx, &tmp, &f);
    if (st == SCALPEL_OK) {
        if (fwrite(buf, 1, written, f) != written) st = SCALPEL_ERR_IO;
        st = scalpel__nf_tmp_close(f, tmp, path, net->alloc_ctx, st);
    }
    SCALPEL_FREE(net->alloc_ctx, buf);
    return st;
}
#endif /* SCALPEL_NO_MALLOC */

#ifdef __cplusplus
}
#endif
