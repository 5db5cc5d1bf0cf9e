/* test_safetensors.c - the safetensors reader and scalpel_net_import_safetensors.
 *
 *   test_safetensors [DIR|-] [SEED_DIR]
 *
 * Always runs the files built here in C: valid small files, every F16 and BF16 bit pattern,
 * hostile headers (each with the status it must give), every truncation of a valid file, and
 * imports that must fail leaving the network exactly as it was. With DIR (written by
 * tests/make_safetensors.py) it also imports the LeNet-300-100 (F32, F16, BF16) and conv nets
 * there into networks built with zero weights and compares scalpel_net_forward with the
 * numpy or PyTorch outputs stored beside them. With SEED_DIR it writes the valid files it
 * builds there, as the fuzzer's seed corpus. */
#include <stdlib.h>
#include <string.h>

#include "counting_alloc.h"
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

static uint8_t *file_buf;
static size_t file_len;

/* Builds a safetensors file in file_buf: header text, padded with spaces to a multiple of 8
 * when pad is set, then data_len bytes of data (data == NULL: a ramp 0, 1, 2, ...). */
static void build(const char *header, int pad, const uint8_t *data, size_t data_len)
{
    size_t n = strlen(header), padded = pad ? (n + 7) / 8 * 8 : n, i;
    free(file_buf);
    file_len = 8 + padded + data_len;
    file_buf = (uint8_t *)malloc(file_len ? file_len : 1);
    for (i = 0; i < 8; i++) file_buf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(file_buf + 8, header, n);
    memset(file_buf + 8 + n, ' ', padded - n);
    for (i = 0; i < data_len; i++) file_buf[8 + padded + i] = data ? data[i] : (uint8_t)i;
}

static void put_f32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    p[0] = (uint8_t)u; p[1] = (uint8_t)(u >> 8); p[2] = (uint8_t)(u >> 16); p[3] = (uint8_t)(u >> 24);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    FILE *f;
    if (dir == NULL) return;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL) { CHECK(0, "cannot write %s", path); return; }
    CHECK(fwrite(data, 1, len, f) == len, "short write %s", path);
    fclose(f);
}

static uint8_t *read_file(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    FILE *f;
    long n;
    uint8_t *p;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = (uint8_t *)malloc(n > 0 ? (size_t)n : 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) { free(p); fclose(f); return NULL; }
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* ---- valid files ---------------------------------------------------------------------- */

static void test_valid(const char *seeds)
{
    uint8_t data[32 + 8];
    scalpel_safetensors_tensor t;
    float out[8];
    int i;
    /* a: F32 [2, 3]; b: F16 [4] = 1, -2, 0.5, 65504; escaped names and metadata */
    for (i = 0; i < 6; i++) put_f32(data + 4 * i, (float)i - 2.5f);
    {
        const uint8_t h[8] = { 0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38, 0xFF, 0x7B };
        memcpy(data + 24, h, 8);
    }
    build("{\"__metadata__\":{\"format\":\"pt\"}, \"a\":{\"dtype\":\"F32\",\"shape\":[2,3],"
          "\"data_offsets\":[0,24]},\n\t\"\\u0062\" : { \"shape\" : [ 4 ] , \"data_offsets\":[24,32],"
          "\"dtype\":\"F16\"}}",
          1, data, 32);
    write_file(seeds, "valid_small.safetensors", file_buf, file_len);
    CHECK(scalpel_safetensors_find(file_buf, file_len, "a", &t) == SCALPEL_OK, "find a");
    CHECK(t.dtype == SCALPEL_ST_F32 && t.ndim == 2 && t.shape[0] == 2 && t.shape[1] == 3 && t.count == 6,
          "a: dtype %d ndim %d count %d", (int)t.dtype, (int)t.ndim, (int)t.count);
    CHECK(strcmp(t.name, "a") == 0, "name %s", t.name);
    { /* every tensor's name in one call: header order, __metadata__ skipped, escapes decoded */
        char names[3][128];
        int32_t count = -1;
        CHECK(scalpel_safetensors_names(file_buf, file_len, names, 3, &count) == SCALPEL_OK && count == 2 &&
              strcmp(names[0], "a") == 0 && strcmp(names[1], "b") == 0, "names: %d, '%s', '%s'", (int)count,
              names[0], names[1]);
        CHECK(scalpel_safetensors_names(file_buf, file_len, NULL, 0, &count) == SCALPEL_OK && count == 2,
              "names: the count alone");
        CHECK(scalpel_safetensors_names(file_buf, file_len, names, 1, &count) == SCALPEL_OK && count == 2 &&
              strcmp(names[0], "a") == 0, "names: room for one of two");
        CHECK(scalpel_safetensors_names(file_buf, file_len, NULL, 1, &count) == SCALPEL_ERR_NULL, "names: NULL room");
        CHECK(scalpel_safetensors_names(file_buf, file_len, names, -1, &count) == SCALPEL_ERR_ARGUMENT, "names: -1");
        CHECK(scalpel_safetensors_names(NULL, file_len, names, 3, &count) == SCALPEL_ERR_NULL, "names: no data");
        CHECK(scalpel_safetensors_names(file_buf, file_len - 1, names, 3, &count) != SCALPEL_OK && count == 0,
              "names of a truncated file");
    }
    CHECK(scalpel_safetensors_read_f32(&t, out, 6) == SCALPEL_OK, "read a");
    for (i = 0; i < 6; i++) CHECK(out[i] == (float)i - 2.5f, "a[%d] = %g", i, (double)out[i]);
    CHECK(scalpel_safetensors_read_f32(&t, out, 5) == SCALPEL_ERR_ARGUMENT, "wrong count");
    CHECK(scalpel_safetensors_read_f32(&t, out, 7) == SCALPEL_ERR_ARGUMENT, "wrong count");
    CHECK(scalpel_safetensors_read_f32(NULL, out, 6) == SCALPEL_ERR_NULL, "null t");
    CHECK(scalpel_safetensors_read_f32(&t, NULL, 6) == SCALPEL_ERR_NULL, "null out");
    {
        scalpel_safetensors_tensor bad = t;
        bad.shape[1] = 4; /* count no longer follows from the shape */
        CHECK(scalpel_safetensors_read_f32(&bad, out, 6) == SCALPEL_ERR_ARGUMENT, "inconsistent struct");
        bad = t;
        bad.dtype = 7;
        CHECK(scalpel_safetensors_read_f32(&bad, out, 6) == SCALPEL_ERR_UNSUPPORTED, "bad dtype");
        bad = t;
        bad.ndim = 5;
        CHECK(scalpel_safetensors_read_f32(&bad, out, 6) == SCALPEL_ERR_ARGUMENT, "bad ndim");
    }
    CHECK(scalpel_safetensors_find(file_buf, file_len, "b", &t) == SCALPEL_OK, "find escaped b");
    CHECK(t.dtype == SCALPEL_ST_F16 && t.ndim == 1 && t.count == 4, "b");
    CHECK(scalpel_safetensors_read_f32(&t, out, 4) == SCALPEL_OK, "read b");
    CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0.5f && out[3] == 65504.0f, "b values");
    CHECK(scalpel_safetensors_find(file_buf, file_len, "c", &t) == SCALPEL_ERR_ARGUMENT, "absent");
    CHECK(t.data == NULL && t.count == 0 && t.name[0] == 0, "output cleared on error");
    CHECK(scalpel_safetensors_find(file_buf, file_len, "__metadata__", &t) == SCALPEL_ERR_ARGUMENT, "metadata is no tensor");
    CHECK(scalpel_safetensors_find(file_buf, file_len, "", &t) == SCALPEL_ERR_ARGUMENT, "empty name");
    CHECK(scalpel_safetensors_find(NULL, file_len, "a", &t) == SCALPEL_ERR_NULL, "null data");
    CHECK(scalpel_safetensors_find(file_buf, file_len, NULL, &t) == SCALPEL_ERR_NULL, "null name");
    CHECK(scalpel_safetensors_find(file_buf, file_len, "a", NULL) == SCALPEL_ERR_NULL, "null out");

    /* every truncation of a valid file is refused, read from an exact-size copy so that the
     * sanitizer sees any read past the end */
    {
        size_t cut;
        for (cut = 0; cut < file_len; cut++) {
            uint8_t *p = (uint8_t *)malloc(cut ? cut : 1);
            scalpel_status st;
            memcpy(p, file_buf, cut);
            st = scalpel_safetensors_find(p, cut, "a", &t);
            CHECK(st == SCALPEL_ERR_TRUNCATED, "cut %d: %d", (int)cut, (int)st);
            free(p);
        }
        /* one byte more is a gap after the last tensor */
        {
            uint8_t *p = (uint8_t *)malloc(file_len + 1);
            memcpy(p, file_buf, file_len);
            p[file_len] = 0;
            CHECK(scalpel_safetensors_find(p, file_len + 1, "a", &t) == SCALPEL_ERR_CORRUPT, "trailing byte");
            free(p);
        }
    }

    /* an empty file: "{}" and no data */
    build("{}", 1, NULL, 0);
    write_file(seeds, "empty.safetensors", file_buf, file_len);
    CHECK(scalpel_safetensors_find(file_buf, file_len, "a", &t) == SCALPEL_ERR_ARGUMENT, "empty file");

    /* scalars, zero-sized tensors on tile boundaries, non-ASCII names, an unknown key skipped */
    build("{\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,2]},"
          "\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[2,2]},"
          "\"z0\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[0,0]},"
          "\"\\ud83d\\ude00\\u00e9\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[2,4],"
          "\"extra\":{\"k\":[1,-2.5e+3,true,false,null,\"x\"]}},"
          "\"i8\":{\"dtype\":\"I8\",\"shape\":[2,2],\"data_offsets\":[4,8]}}",
          1, NULL, 8);
    write_file(seeds, "kinds.safetensors", file_buf, file_len);
    CHECK(scalpel_safetensors_find(file_buf, file_len, "s", &t) == SCALPEL_OK && t.ndim == 0 && t.count == 1,
          "scalar");
    CHECK(scalpel_safetensors_read_f32(&t, out, 1) == SCALPEL_OK, "read scalar");
    {
        uint32_t u;
        memcpy(&u, &out[0], 4);
        CHECK(u == 0x01000000u, "bf16 0x0100 -> %08x", (unsigned)u);
    }
    CHECK(scalpel_safetensors_find(file_buf, file_len, "z", &t) == SCALPEL_OK && t.count == 0, "empty tensor");
    CHECK(scalpel_safetensors_read_f32(&t, out, 0) == SCALPEL_OK, "read empty tensor");
    CHECK(scalpel_safetensors_find(file_buf, file_len, "\xF0\x9F\x98\x80\xC3\xA9", &t) == SCALPEL_OK,
          "surrogate pair name");
    CHECK(t.data == file_buf + file_len - 6, "data pointer");
    CHECK(scalpel_safetensors_find(file_buf, file_len, "i8", &t) == SCALPEL_ERR_UNSUPPORTED, "I8 asked for");
}

/* Every F16 and BF16 bit pattern against an independent definition of the value. */
static void test_all_halves(void)
{
    uint8_t *data = (uint8_t *)malloc(65536 * 2);
    float *out = (float *)malloc(65536 * sizeof(float));
    scalpel_safetensors_tensor t;
    uint32_t h;
    long bad16 = 0, bad_bf = 0;
    for (h = 0; h < 65536; h++) { data[2 * h] = (uint8_t)h; data[2 * h + 1] = (uint8_t)(h >> 8); }
    build("{\"h\":{\"dtype\":\"F16\",\"shape\":[65536],\"data_offsets\":[0,131072]}}", 1, data, 131072);
    CHECK(scalpel_safetensors_find(file_buf, file_len, "h", &t) == SCALPEL_OK, "find halves");
    CHECK(scalpel_safetensors_read_f32(&t, out, 65536) == SCALPEL_OK, "read halves");
    for (h = 0; h < 65536; h++) {
        int s = (int)(h >> 15), e = (int)((h >> 10) & 31), m = (int)(h & 1023);
        double v = e == 0 ? ldexp((double)m, -24) : ldexp((double)(1024 + m), e - 25);
        if (s) v = -v;
        if (e == 31) {
            if (m == 0 ? !(isinf(out[h]) && (out[h] < 0) == (s == 1)) : !isnan(out[h])) bad16++;
        } else if ((double)out[h] != v || (signbit(out[h]) != 0) != (s != 0)) {
            bad16++;
        }
    }
    CHECK(bad16 == 0, "%ld F16 patterns wrong", bad16);
    build("{\"h\":{\"dtype\":\"BF16\",\"shape\":[256,256],\"data_offsets\":[0,131072]}}", 1, data, 131072);
    CHECK(scalpel_safetensors_find(file_buf, file_len, "h", &t) == SCALPEL_OK, "find bf16");
    CHECK(scalpel_safetensors_read_f32(&t, out, 65536) == SCALPEL_OK, "read bf16");
    for (h = 0; h < 65536; h++) {
        uint32_t u;
        memcpy(&u, &out[h], 4);
        if (u != h << 16) bad_bf++;
    }
    CHECK(bad_bf == 0, "%ld BF16 patterns wrong", bad_bf);
    free(data);
    free(out);
}

/* ---- hostile headers ------------------------------------------------------------------ */

typedef struct hostile {
    const char *what;
    const char *header;
    size_t data_len;
    const char *name;
    scalpel_status expect;
} hostile;

#define T1(x) "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}" x "}"

static const hostile cases[] = {
    { "control", T1(""), 4, "a", SCALPEL_OK },
    { "unterminated string", "{\"a", 0, "a", SCALPEL_ERR_CORRUPT },
    { "unterminated object", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "bad escape", "{\"\\q\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "short \\u", "{\"\\u12\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "lone high surrogate", "{\"\\ud800x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "lone low surrogate", "{\"\\udc00\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "control char in string", "{\"a\tb\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "bad utf-8", "{\"\xC0\xAF\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "utf-8 surrogate", "{\"\xED\xA0\x80\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "trailing garbage", T1("") "x", 4, "a", SCALPEL_ERR_CORRUPT },
    { "two objects", T1("") "{}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "trailing comma", T1(","), 4, "a", SCALPEL_ERR_CORRUPT },
    { "leading space", " " T1(""), 4, "a", SCALPEL_ERR_CORRUPT },
    { "not an object", "[]", 0, "a", SCALPEL_ERR_CORRUPT },
    { "missing colon", "{\"a\" {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "entry not an object", "{\"a\":[1]}", 0, "a", SCALPEL_ERR_CORRUPT },
    { "empty entry", "{\"a\":{}}", 0, "a", SCALPEL_ERR_CORRUPT },
    { "missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "two dtypes", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "garbage dtype", "{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "garbage dtype elsewhere", T1(",\"b\":{\"dtype\":\"f32\",\"shape\":[0],\"data_offsets\":[4,4]}"), 4, "a", SCALPEL_ERR_CORRUPT },
    { "dtype not a string", "{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "F64 asked for", "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "a", SCALPEL_ERR_UNSUPPORTED },
    { "BOOL asked for", "{\"a\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}", 3, "a", SCALPEL_ERR_UNSUPPORTED },
    { "F64 present, F32 asked for", T1(",\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[4,12]}"), 12, "a", SCALPEL_OK },
    { "negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "float dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "exponent offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4e0]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "leading zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "string dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "int64 overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[9223372036854775808],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "int64 max dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[9223372036854775807],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "product overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0, "a", SCALPEL_ERR_CORRUPT },
    { "bytes overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0, "a", SCALPEL_ERR_CORRUPT },
    { "wrapping bytes", "{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}", 0, "a", SCALPEL_ERR_CORRUPT },
    { "shape/offset mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "offsets backwards", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "offset past data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 4, "a", SCALPEL_ERR_TRUNCATED },
    { "huge offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775803,9223372036854775807]}}", 4, "a", SCALPEL_ERR_TRUNCATED },
    { "gap at start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "a", SCALPEL_ERR_CORRUPT },
    { "gap between", T1(",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}"), 12, "a", SCALPEL_ERR_CORRUPT },
    { "gap at end", T1(""), 8, "a", SCALPEL_ERR_CORRUPT },
    { "overlap", T1(",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[2,10]}"), 10, "a", SCALPEL_ERR_CORRUPT },
    { "same range twice", T1(",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"), 4, "a", SCALPEL_ERR_CORRUPT },
    { "overlap and gap cancel", T1(",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]},\"c\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[8,10]}"), 10, "a", SCALPEL_ERR_CORRUPT },
    { "empty tensor inside another", T1(",\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[2,2]}"), 4, "a", SCALPEL_ERR_CORRUPT },
    { "empty tensor on boundary", T1(",\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}"), 4, "b", SCALPEL_OK },
    { "duplicate name", T1(",\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}"), 8, "a", SCALPEL_ERR_CORRUPT },
    { "duplicate by escape", T1(",\"\\u0061\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}"), 8, "zz", SCALPEL_ERR_CORRUPT },
    { "duplicate metadata", T1(",\"__metadata__\":{},\"__metadata__\":{}"), 4, "a", SCALPEL_ERR_CORRUPT },
    { "escaped field names", "{\"a\":{\"d\\u0074ype\":\"F\\u00332\",\"shape\":[1],\"data\\u005foffsets\":[0,4]}}", 4, "a", SCALPEL_OK },
    { "whitespace everywhere", "{ \r\n\t\"a\" : { \"dtype\" : \"F32\" , \"shape\" : [ 1 ] , \"data_offsets\" : [ 0 , 4 ] } \n}\n\t\r ", 4, "a", SCALPEL_OK },
    { "metadata nested", T1(",\"__metadata__\":{\"k\":{}}"), 4, "a", SCALPEL_ERR_CORRUPT },
    { "metadata not an object", T1(",\"__metadata__\":\"x\""), 4, "a", SCALPEL_ERR_CORRUPT },
    { "F4 odd count", "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}", 1, "zz", SCALPEL_ERR_CORRUPT },
    { "F4 even count", "{\"a\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[0,2]}}", 2, "zz", SCALPEL_ERR_ARGUMENT },
    { "metadata not strings", T1(",\"__metadata__\":{\"k\":1}"), 4, "a", SCALPEL_ERR_CORRUPT },
    { "rank 5 asked for", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_UNSUPPORTED },
    { "rank 5 elsewhere", T1(",\"b\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[4,8]}"), 8, "a", SCALPEL_OK },
    { "unbalanced unknown value", "{\"a\":{\"x\":[[1],\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "bad literal", "{\"a\":{\"x\":tru,\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
    { "bad number", "{\"a\":{\"x\":1.,\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", SCALPEL_ERR_CORRUPT },
};

static void test_hostile(void)
{
    size_t k;
    int i;
    scalpel_safetensors_tensor t;
    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        scalpel_status st;
        uint8_t *p;
        build(cases[k].header, 1, NULL, cases[k].data_len);
        p = (uint8_t *)malloc(file_len);
        memcpy(p, file_buf, file_len);
        st = scalpel_safetensors_find(p, file_len, cases[k].name, &t);
        CHECK(st == cases[k].expect, "%s: got %d (%s), want %d", cases[k].what, (int)st,
              scalpel_status_string(st), (int)cases[k].expect);
        free(p);
        /* the same header unpadded (no trailing spaces) gives the same answer */
        build(cases[k].header, 0, NULL, cases[k].data_len);
        st = scalpel_safetensors_find(file_buf, file_len, cases[k].name, &t);
        CHECK(st == cases[k].expect, "%s (unpadded): got %d", cases[k].what, (int)st);
    }

    /* nesting in an unknown key: 60 deep is fine, 70 deep is refused, a million costs nothing */
    {
        int depth, k2;
        for (k2 = 0; k2 < 2; k2++) {
            char h[400];
            size_t len;
            depth = k2 ? 70 : 60;
            strcpy(h, "{\"a\":{\"x\":");
            len = strlen(h);
            for (i = 0; i < depth; i++) h[len++] = '[';
            for (i = 0; i < depth; i++) h[len++] = ']';
            strcpy(h + len, ",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
            build(h, 1, NULL, 4);
            CHECK(scalpel_safetensors_find(file_buf, file_len, "a", &t) == (k2 ? SCALPEL_ERR_CORRUPT : SCALPEL_OK),
                  "depth %d", depth);
        }
    }
    {
        size_t n = 1000000;
        char *h = (char *)malloc(n + 64);
        strcpy(h, "{\"a\":{\"x\":");
        memset(h + 10, '[', n);
        h[10 + n] = 0;
        build(h, 1, NULL, 0);
        CHECK(scalpel_safetensors_find(file_buf, file_len, "a", &t) == SCALPEL_ERR_CORRUPT, "depth bomb");
        free(h);
    }
    /* a name of 128 bytes: valid in the file, too long for the struct */
    {
        char h[512], name[129];
        memset(name, 'n', 128);
        name[128] = 0;
        snprintf(h, sizeof(h), "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", name);
        build(h, 1, NULL, 4);
        CHECK(scalpel_safetensors_find(file_buf, file_len, name, &t) == SCALPEL_ERR_UNSUPPORTED, "long name");
        name[127] = 0;
        CHECK(scalpel_safetensors_find(file_buf, file_len, name, &t) == SCALPEL_ERR_ARGUMENT, "prefix of it");
        snprintf(h, sizeof(h), "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", name);
        build(h, 1, NULL, 4);
        CHECK(scalpel_safetensors_find(file_buf, file_len, name, &t) == SCALPEL_OK && strlen(t.name) == 127,
              "127-byte name");
    }
    /* the header length field itself */
    {
        uint8_t b[24];
        memset(b, ' ', sizeof(b));
        b[8] = '{'; b[9] = '}';
        CHECK(scalpel_safetensors_find(b, 7, "a", &t) == SCALPEL_ERR_TRUNCATED, "7 bytes");
        memset(b, 0, 8); b[0] = 16;
        CHECK(scalpel_safetensors_find(b, 24, "a", &t) == SCALPEL_ERR_ARGUMENT, "N = 16 ok");
        b[0] = 17;
        CHECK(scalpel_safetensors_find(b, 24, "a", &t) == SCALPEL_ERR_TRUNCATED, "N past end");
        b[0] = 0;
        CHECK(scalpel_safetensors_find(b, 24, "a", &t) == SCALPEL_ERR_CORRUPT, "N = 0");
        memset(b, 0xFF, 8);
        CHECK(scalpel_safetensors_find(b, 24, "a", &t) == SCALPEL_ERR_CORRUPT, "N = 2^64 - 1");
        memset(b, 0, 8); b[3] = 0x10; /* 268 MB */
        CHECK(scalpel_safetensors_find(b, 24, "a", &t) == SCALPEL_ERR_CORRUPT, "huge N");
        memset(b, 0, 8); b[7] = 0x80;
        CHECK(scalpel_safetensors_find(b, 24, "a", &t) == SCALPEL_ERR_CORRUPT, "N = 2^63");
    }
    /* more tensors than the cap: refused, not parsed for seconds */
    {
        int n = 16385;
        size_t cap = (size_t)n * 96 + 64, len = 1;
        char *h = (char *)malloc(cap);
        h[0] = '{';
        for (i = 0; i < n; i++)
            len += (size_t)snprintf(h + len, cap - len, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                                    i ? "," : "", i, 4 * i, 4 * i + 4);
        h[len++] = '}';
        h[len] = 0;
        build(h, 1, NULL, (size_t)n * 4);
        CHECK(scalpel_safetensors_find(file_buf, file_len, "t0", &t) == SCALPEL_ERR_UNSUPPORTED, "16385 tensors");
        free(h);
    }
    /* many tensors: the pairwise checks across chunks find a duplicate and an overlap far apart */
    {
        int n = 300, which;
        for (which = 0; which < 3; which++) {
            size_t cap = (size_t)n * 80 + 64, len = 1;
            char *h = (char *)malloc(cap);
            scalpel_status st;
            h[0] = '{';
            for (i = 0; i < n; i++) {
                int name = (which == 1 && i == n - 1) ? 5 : i;
                long b = (long)i * 4, e = b + 4;
                if (which == 2 && i == n - 1) { b -= 4 * 200; e -= 4 * 200; } /* lands on tensor 99 */
                len += (size_t)snprintf(h + len, cap - len, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%ld,%ld]}",
                                        i ? "," : "", name, b, e);
            }
            h[len++] = '}';
            h[len] = 0;
            build(h, 1, NULL, (size_t)n * 4);
            st = scalpel_safetensors_find(file_buf, file_len, "t7", &t);
            CHECK(st == (which == 0 ? SCALPEL_OK : SCALPEL_ERR_CORRUPT), "300 tensors, case %d: %d", which, (int)st);
            if (which == 0) {
                float v;
                CHECK(scalpel_safetensors_find(file_buf, file_len, "t299", &t) == SCALPEL_OK &&
                          t.data == file_buf + file_len - 4, "last of 300");
                CHECK(scalpel_safetensors_read_f32(&t, &v, 1) == SCALPEL_OK, "read last");
            }
            free(h);
        }
    }
}

/* ---- import --------------------------------------------------------------------------- */

/* Forward of a batch-1 input, into out (which must hold the output size). */
static void forward1(const scalpel_net *net, const float *in, float *out)
{
    size_t ws = scalpel_net_workspace_size(net, 1);
    void *w = malloc(ws ? ws : 1);
    CHECK(scalpel_net_forward(net, in, 1, out, w) == SCALPEL_OK, "forward");
    free(w);
}

/* Runs an import that must fail with `expect`, and checks the network gives bit-identical
 * outputs afterwards. */
static void import_fails(scalpel_net *net, const char *const *prefixes, int32_t n, scalpel_status expect,
                         const char *what)
{
    float in[256], before[256], after[256];
    int i, same = 1;
    scalpel_status st;
    for (i = 0; i < scalpel_net_input_size(net); i++) in[i] = (float)(i % 7) - 3.0f;
    forward1(net, in, before);
    st = scalpel_net_import_safetensors(net, file_buf, file_len, prefixes, n);
    CHECK(st == expect, "%s: got %d (%s), want %d", what, (int)st, scalpel_status_string(st), (int)expect);
    forward1(net, in, after);
    for (i = 0; i < scalpel_net_output_size(net); i++) same &= memcmp(&before[i], &after[i], 4) == 0;
    CHECK(same, "%s: network changed by a failed import", what);
}

/* Header and data for a tiny FC net 4 -> 3 -> 2 under names p1 and p2, with values v(i). */
static void build_fc_file(const char *p1, const char *p2, int with_bias2, const char *shape1, float bad)
{
    char h[1024];
    uint8_t data[4 * (12 + 3 + 6 + 2)];
    int i;
    size_t nd = with_bias2 ? 23 : 21;
    for (i = 0; i < 23; i++) put_f32(data + 4 * i, (float)(i + 1) * 0.125f);
    if (bad != 0.0f) put_f32(data + 4 * 13, bad);
    snprintf(h, sizeof(h),
             "{\"%s.weight\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[0,48]},"
             "\"%s.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[48,60]},"
             "\"%s.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[60,84]}%s}",
             p1, shape1, p1, p2,
             with_bias2 ? ",\"__metadata__\":{\"a\":\"b\"},\"l2.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[84,92]}" : "");
    build(h, 1, data, nd * 4);
}

/* The private natural-order comparison the automatic prefixes are sorted with. */
static void test_natural_order(void)
{
    CHECK(scalpel__st_natcmp("fc2", "fc10") < 0, "fc2 < fc10");
    CHECK(scalpel__st_natcmp("fc10", "fc2") > 0, "fc10 > fc2");
    CHECK(scalpel__st_natcmp("2", "10") < 0, "2 < 10");
    CHECK(scalpel__st_natcmp("layer.9.x", "layer.10.a") < 0, "9 < 10 before the rest");
    CHECK(scalpel__st_natcmp("a", "b") < 0 && scalpel__st_natcmp("b", "a") > 0, "letters");
    CHECK(scalpel__st_natcmp("a", "a1") < 0, "prefix first");
    CHECK(scalpel__st_natcmp("007", "7") < 0 && scalpel__st_natcmp("7", "007") > 0, "leading zeros: total order");
    CHECK(scalpel__st_natcmp("x1y2", "x1y2") == 0, "equal");
    CHECK(scalpel__st_natcmp("99999999999999999999999", "100000000000000000000000") < 0, "long digit runs");
}

static void test_import_c(const char *seeds)
{
    scalpel_net net;
    const char *pre[2] = { "l1", "l2" };
    float in[4] = { 1, -2, 3, 0.5f }, out[2], w1[12], b1[3], w2[6], b2[2], h[3];
    int i, j;
    CHECK(scalpel_net_init(1, 1, 4, &net) == SCALPEL_OK, "init");
    CHECK(scalpel_net_add_fc(&net, 3, NULL, NULL) == SCALPEL_OK, "fc1");
    CHECK(scalpel_net_add_relu(&net) == SCALPEL_OK, "relu");
    CHECK(scalpel_net_add_fc(&net, 2, NULL, NULL) == SCALPEL_OK, "fc2");

    build_fc_file("l1", "l2", 1, "[3,4]", 0.0f);
    write_file(seeds, "fc.safetensors", file_buf, file_len);
    CHECK(scalpel_net_import_safetensors(&net, file_buf, file_len, pre, 2) == SCALPEL_OK, "import");
    for (i = 0; i < 12; i++) w1[i] = (float)(i + 1) * 0.125f;
    for (i = 0; i < 3; i++) b1[i] = (float)(i + 13) * 0.125f;
    for (i = 0; i < 6; i++) w2[i] = (float)(i + 16) * 0.125f;
    for (i = 0; i < 2; i++) b2[i] = (float)(i + 22) * 0.125f;
    CHECK(net.layers[0].w != NULL && memcmp(net.layers[0].w, w1, sizeof(w1)) == 0, "w1 installed");
    CHECK(memcmp(net.layers[2].b, b2, sizeof(b2)) == 0, "b2 installed");
    for (i = 0; i < 3; i++) {
        float s = b1[i];
        for (j = 0; j < 4; j++) s += w1[i * 4 + j] * in[j];
        h[i] = s > 0 ? s : 0;
    }
    forward1(&net, in, out);
    for (i = 0; i < 2; i++) {
        float s = b2[i];
        for (j = 0; j < 3; j++) s += w2[i * 3 + j] * h[j];
        CHECK(fabsf(out[i] - s) <= 1e-5f * fabsf(s), "out[%d] %g vs %g", i, (double)out[i], (double)s);
    }
    /* an allocator failing at each allocation in turn: NO_MEMORY, the net unchanged, nothing
     * leaked (every allocation made during the import is freed by it, or owned by the net) */
    {
        counting_alloc a = { 0, 0, -1 };
        long k, base_allocs, base_frees;
        scalpel_net n2;
        CHECK(scalpel_net_init(1, 1, 4, &n2) == SCALPEL_OK, "init");
        n2.alloc_ctx = &a;
        CHECK(scalpel_net_add_fc(&n2, 3, NULL, NULL) == SCALPEL_OK && scalpel_net_add_relu(&n2) == SCALPEL_OK &&
                  scalpel_net_add_fc(&n2, 2, NULL, NULL) == SCALPEL_OK, "counted net");
        for (k = 0; k < 3; k++) {
            base_allocs = a.allocs;
            base_frees = a.frees;
            a.fail_after = a.allocs + k;
            import_fails(&n2, pre, 2, SCALPEL_ERR_NO_MEMORY, "allocation failure");
            CHECK(a.allocs - base_allocs == a.frees - base_frees, "failure %ld: %ld allocated, %ld freed", k,
                  a.allocs - base_allocs, a.frees - base_frees);
        }
        a.fail_after = -1;
        base_allocs = a.allocs;
        base_frees = a.frees;
        CHECK(scalpel_net_import_safetensors(&n2, file_buf, file_len, pre, 2) == SCALPEL_OK, "import counted");
        /* one temporary block plus a new block per layer, the two old blocks released */
        CHECK(a.allocs - base_allocs == 3 && a.frees - base_frees == 3, "%ld allocs, %ld frees",
              a.allocs - base_allocs, a.frees - base_frees);
        forward1(&n2, in, h);
        CHECK(memcmp(h, out, sizeof(out)) == 0, "same outputs as the first import");
        scalpel_net_free(&n2);
        CHECK(a.allocs == a.frees, "all released: %ld allocs, %ld frees", a.allocs, a.frees);
    }
    /* prefixes == NULL: the same, by natural order */
    build_fc_file("l1", "l2", 1, "[3,4]", 0.0f);
    CHECK(scalpel_net_import_safetensors(&net, file_buf, file_len, NULL, 0) == SCALPEL_OK, "import auto");

    /* natural order: "x.10" is the second layer, "x.9" the first; byte order would swap them
     * and fail on the shapes. No bias for x.10: it becomes zero. */
    build_fc_file("x.9", "x.10", 0, "[3,4]", 0.0f);
    CHECK(scalpel_net_import_safetensors(&net, file_buf, file_len, NULL, 0) == SCALPEL_OK, "natural order");
    CHECK(net.layers[2].b[0] == 0.0f && net.layers[2].b[1] == 0.0f, "absent bias is zero");
    CHECK(memcmp(net.layers[2].w, w2, sizeof(w2)) == 0, "x.10 is the second layer");

    /* failures leave the net unchanged */
    build_fc_file("l1", "l2", 1, "[3,4]", 0.0f);
    import_fails(&net, pre, 1, SCALPEL_ERR_ARGUMENT, "n_prefixes too small");
    import_fails(&net, pre, 3, SCALPEL_ERR_ARGUMENT, "n_prefixes too large");
    import_fails(&net, NULL, 2, SCALPEL_ERR_ARGUMENT, "n_prefixes with NULL prefixes");
    {
        const char *bad[2] = { "l1", NULL };
        const char *missing[2] = { "l1", "l3" };
        const char *swapped[2] = { "l2", "l1" };
        const char *too_long[2] = { "l1", "0123456789012345678901234567890123456789012345678901234567890123456789"
                                          "012345678901234567890123456789012345678901234567890" }; /* 121 + ".weight" */
        import_fails(&net, bad, 2, SCALPEL_ERR_NULL, "NULL prefix");
        import_fails(&net, missing, 2, SCALPEL_ERR_ARGUMENT, "missing tensor");
        import_fails(&net, swapped, 2, SCALPEL_ERR_SHAPE, "swapped prefixes");
        import_fails(&net, too_long, 2, SCALPEL_ERR_UNSUPPORTED, "prefix too long");
    }
    build_fc_file("l1", "l2", 1, "[4,3]", 0.0f);
    import_fails(&net, pre, 2, SCALPEL_ERR_SHAPE, "transposed weight");
    build_fc_file("l1", "l2", 1, "[12]", 0.0f);
    import_fails(&net, pre, 2, SCALPEL_ERR_SHAPE, "flat weight");
    build_fc_file("l1", "l2", 1, "[3,4]", (float)INFINITY);
    import_fails(&net, pre, 2, SCALPEL_ERR_ARGUMENT, "infinite bias");
    build_fc_file("l1", "l2", 1, "[3,4]", (float)NAN);
    import_fails(&net, pre, 2, SCALPEL_ERR_ARGUMENT, "NaN bias");
    build_fc_file("l1", "l2", 1, "[3,4,1]", 0.0f);
    import_fails(&net, pre, 2, SCALPEL_ERR_SHAPE, "rank-3 weight");
    build_fc_file("l1", "l1x", 1, "[3,4]", 0.0f);
    /* ".weight" tensors l1 and l1x, in that order; the stray "l2.bias" belongs to no layer */
    CHECK(scalpel_net_import_safetensors(&net, file_buf, file_len, NULL, 0) == SCALPEL_OK, "auto l1, l1x");
    build_fc_file("l1", "l2", 1, "[3,4]", 0.0f);
    {
        size_t full = file_len, cut;
        for (cut = 0; cut < full; cut += 3) {
            size_t keep = file_len;
            file_len = cut;
            import_fails(&net, pre, 2, SCALPEL_ERR_TRUNCATED, "truncated file");
            file_len = keep;
        }
    }
    build("{\"l1.weight\":{\"dtype\":\"F64\",\"shape\":[3,4],\"data_offsets\":[0,96]},"
          "\"l2.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[96,120]}}", 1, NULL, 120);
    import_fails(&net, pre, 2, SCALPEL_ERR_UNSUPPORTED, "F64 weight");
    build("{\"l1.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}}", 1, NULL, 48);
    import_fails(&net, NULL, 0, SCALPEL_ERR_ARGUMENT, "one .weight for two layers");
    build("{\"l1.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
          "\"l2.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[48,72]},"
          "\"l3.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[72,76]}}", 1, NULL, 76);
    import_fails(&net, NULL, 0, SCALPEL_ERR_ARGUMENT, "three .weight for two layers");
    build("{\"l1.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
          "\"l1.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[48,64]},"
          "\"l2.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[64,88]}}", 1, NULL, 88);
    import_fails(&net, pre, 2, SCALPEL_ERR_SHAPE, "bias of the wrong length");
    build("{\"l1.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
          "\"l2.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[48,72]},}", 1, NULL, 72);
    import_fails(&net, pre, 2, SCALPEL_ERR_CORRUPT, "corrupt header");
    CHECK(scalpel_net_import_safetensors(NULL, file_buf, file_len, pre, 2) == SCALPEL_ERR_NULL, "null net");
    CHECK(scalpel_net_import_safetensors(&net, NULL, file_len, pre, 2) == SCALPEL_ERR_NULL, "null data");
    {
        char h[512], name[130];
        memset(name, 'q', 121);
        name[121] = 0;
        snprintf(h, sizeof(h), "{\"l1.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
                 "\"%s.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[48,72]}}", name);
        build(h, 1, NULL, 72);
        import_fails(&net, NULL, 0, SCALPEL_ERR_UNSUPPORTED, "automatic prefix too long");
        name[120] = 0;
        snprintf(h, sizeof(h), "{\"l1.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
                 "\"%s.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[48,72]}}", name);
        build(h, 1, NULL, 72);
        /* l1 sorts before qqq...: shapes match only in that order */
        CHECK(scalpel_net_import_safetensors(&net, file_buf, file_len, NULL, 0) == SCALPEL_OK, "127-byte name");
    }
    scalpel_net_free(&net);

    /* a network without weighted layers takes any sound file, and refuses a broken one */
    CHECK(scalpel_net_init(1, 4, 4, &net) == SCALPEL_OK && scalpel_net_add_relu(&net) == SCALPEL_OK, "relu net");
    build("{}", 1, NULL, 0);
    CHECK(scalpel_net_import_safetensors(&net, file_buf, file_len, NULL, 0) == SCALPEL_OK, "nothing to import");
    build("{,}", 1, NULL, 0);
    CHECK(scalpel_net_import_safetensors(&net, file_buf, file_len, NULL, 0) == SCALPEL_ERR_CORRUPT, "nothing, corrupt");
    scalpel_net_free(&net);

    /* conv: [out, in, k, k] must match exactly */
    CHECK(scalpel_net_init(2, 5, 5, &net) == SCALPEL_OK, "init conv");
    CHECK(scalpel_net_add_conv2d(&net, 3, 3, 1, 1, NULL, NULL) == SCALPEL_OK, "conv");
    build("{\"c.weight\":{\"dtype\":\"BF16\",\"shape\":[3,2,3,3],\"data_offsets\":[0,108]},"
          "\"c.bias\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[108,114]}}", 1, NULL, 114);
    for (i = 0; i < 57; i++) { file_buf[file_len - 114 + 2 * i] = 0; file_buf[file_len - 113 + 2 * i] = 0x3F; }
    write_file(seeds, "conv.safetensors", file_buf, file_len);
    CHECK(scalpel_net_import_safetensors(&net, file_buf, file_len, NULL, 0) == SCALPEL_OK, "conv import");
    CHECK(net.layers[0].w[53] == 0.5f && net.layers[0].b[2] == 1.75f, "conv values %g %g",
          (double)net.layers[0].w[53], (double)net.layers[0].b[2]);
    build("{\"c.weight\":{\"dtype\":\"F32\",\"shape\":[3,18],\"data_offsets\":[0,216]}}", 1, NULL, 216);
    import_fails(&net, NULL, 0, SCALPEL_ERR_SHAPE, "conv weight flattened");
    build("{\"c.weight\":{\"dtype\":\"F32\",\"shape\":[3,2,9,1],\"data_offsets\":[0,216]}}", 1, NULL, 216);
    import_fails(&net, NULL, 0, SCALPEL_ERR_SHAPE, "conv kernel not square");
    build("{\"c.weight\":{\"dtype\":\"F32\",\"shape\":[3,1,6,3],\"data_offsets\":[0,216]}}", 1, NULL, 216);
    import_fails(&net, NULL, 0, SCALPEL_ERR_SHAPE, "conv in_c wrong");
    scalpel_net_free(&net);
}

/* ---- reference files from tests/make_safetensors.py ----------------------------------- */

/* Imports DIR/NAME.safetensors into net and compares its forward with DIR/NAME.ref. */
static void check_reference(const char *dir, const char *name, scalpel_net *net)
{
    char fn[256];
    size_t len, rlen, ws;
    uint8_t *st, *ref;
    uint32_t hdr[3];
    int32_t batch, nin, nout, s, i;
    int ok;
    float *x, *y, *out;
    void *work;
    double worst = 0;
    snprintf(fn, sizeof(fn), "%s.safetensors", name);
    st = read_file(dir, fn, &len);
    snprintf(fn, sizeof(fn), "%s.ref", name);
    ref = read_file(dir, fn, &rlen);
    if (st == NULL || ref == NULL) {
        CHECK(0, "%s: files missing in %s", name, dir);
        free(st); free(ref);
        return;
    }
    CHECK(scalpel_net_import_safetensors(net, st, len, NULL, 0) == SCALPEL_OK, "%s: import", name);
    CHECK(rlen >= 16 && memcmp(ref, "SREF", 4) == 0, "%s: ref header", name);
    for (i = 0; i < 3; i++)
        hdr[i] = (uint32_t)ref[4 + 4 * i] | ((uint32_t)ref[5 + 4 * i] << 8) |
                 ((uint32_t)ref[6 + 4 * i] << 16) | ((uint32_t)ref[7 + 4 * i] << 24);
    batch = (int32_t)hdr[0]; nin = (int32_t)hdr[1]; nout = (int32_t)hdr[2];
    ok = nin == scalpel_net_input_size(net) && nout == scalpel_net_output_size(net) && batch > 0 &&
         rlen == 16 + 4 * (size_t)batch * (size_t)(nin + nout);
    CHECK(ok && nin == scalpel_net_input_size(net) && nout == scalpel_net_output_size(net) && batch > 0 &&
              rlen == 16 + 4 * (size_t)batch * (size_t)(nin + nout), "%s: ref sizes", name);
    if (!ok) { free(st); free(ref); return; }
    x = (float *)malloc(4 * (size_t)batch * (size_t)(nin + nout));
    memcpy(x, ref + 16, 4 * (size_t)batch * (size_t)(nin + nout)); /* little-endian host */
    y = x + (size_t)batch * (size_t)nin;
    out = (float *)malloc(4 * (size_t)batch * (size_t)nout);
    ws = scalpel_net_workspace_size(net, batch);
    work = malloc(ws ? ws : 1);
    CHECK(scalpel_net_forward(net, x, batch, out, work) == SCALPEL_OK, "%s: forward", name);
    for (s = 0; s < batch; s++) {
        double scale = 1e-3;
        for (i = 0; i < nout; i++) scale = fmax(scale, fabs(y[s * nout + i]));
        for (i = 0; i < nout; i++) {
            double err = fabs((double)out[s * nout + i] - y[s * nout + i]) / scale;
            if (err > worst) worst = err;
        }
    }
    CHECK(worst <= 1e-4, "%s: relative error %g", name, worst);
    printf("  %s: %d samples, worst relative error %.2e\n", name, (int)batch, worst);
    /* batch 1 takes the matrix-vector path: same answers */
    {
        float *o1 = (float *)malloc(4 * (size_t)nout);
        forward1(net, x, o1);
        for (i = 0; i < nout; i++)
            CHECK(fabsf(o1[i] - out[i]) <= 1e-4f * (float)fmax(1.0, fabs(out[i])), "%s: batch 1", name);
        free(o1);
    }
    free(work); free(out); free(x); free(st); free(ref);
}

static void conv_net(scalpel_net *net)
{
    CHECK(scalpel_net_init(3, 16, 16, net) == SCALPEL_OK, "init");
    CHECK(scalpel_net_add_conv2d(net, 6, 5, 1, 2, NULL, NULL) == SCALPEL_OK, "conv1");
    CHECK(scalpel_net_add_relu(net) == SCALPEL_OK, "relu");
    CHECK(scalpel_net_add_maxpool(net, 2, 2) == SCALPEL_OK, "pool");
    CHECK(scalpel_net_add_conv2d(net, 16, 3, 2, 1, NULL, NULL) == SCALPEL_OK, "conv2");
    CHECK(scalpel_net_add_relu(net) == SCALPEL_OK, "relu");
    CHECK(scalpel_net_add_maxpool(net, 2, 2) == SCALPEL_OK, "pool");
    CHECK(scalpel_net_add_fc(net, 32, NULL, NULL) == SCALPEL_OK, "fc1");
    CHECK(scalpel_net_add_relu(net) == SCALPEL_OK, "relu");
    CHECK(scalpel_net_add_fc(net, 10, NULL, NULL) == SCALPEL_OK, "fc2");
}

static void test_references(const char *dir)
{
    static const char *const lenets[3] = { "lenet_f32", "lenet_f16", "lenet_bf16" };
    scalpel_net net;
    size_t len;
    uint8_t *p;
    int k;
    for (k = 0; k < 3; k++) {
        CHECK(scalpel_net_init(1, 28, 28, &net) == SCALPEL_OK, "init");
        CHECK(scalpel_net_add_fc(&net, 300, NULL, NULL) == SCALPEL_OK, "fc1");
        CHECK(scalpel_net_add_relu(&net) == SCALPEL_OK, "relu");
        CHECK(scalpel_net_add_fc(&net, 100, NULL, NULL) == SCALPEL_OK, "fc2");
        CHECK(scalpel_net_add_relu(&net) == SCALPEL_OK, "relu");
        CHECK(scalpel_net_add_fc(&net, 10, NULL, NULL) == SCALPEL_OK, "fc3");
        check_reference(dir, lenets[k], &net);
        scalpel_net_free(&net);
    }
    conv_net(&net);
    check_reference(dir, "conv_f32", &net);
    scalpel_net_free(&net);
    /* PyTorch parity: the files must be there (tests/make_safetensors.py fails without torch) */
    p = read_file(dir, "torch_conv.safetensors", &len);
    CHECK(p != NULL, "torch_conv.safetensors in %s (PyTorch's outputs; run make_safetensors.py with torch)", dir);
    if (p != NULL) {
        free(p);
        conv_net(&net);
        check_reference(dir, "torch_conv", &net);
        scalpel_net_free(&net);
    }
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 && strcmp(argv[1], "-") != 0 ? argv[1] : NULL;
    const char *seeds = argc > 2 ? argv[2] : NULL;
    test_valid(seeds);
    test_all_halves();
    test_hostile();
    test_natural_order();
    test_import_c(seeds);
    if (dir != NULL) test_references(dir);
    else printf("  no reference directory given: C-built files only\n");
    free(file_buf);
    return test_summary("test_safetensors");
}
