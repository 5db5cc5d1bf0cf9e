/* test_netfile.c - model files (scalpel_net_serialize / view / save / load / load_buffer) and
 * the C export's error paths.
 *
 *   gcc -std=c99 -pedantic -Wall -Wextra -Werror -fsanitize=address,undefined -I. \
 *       tests/test_netfile.c -o test_netfile -lm && ./test_netfile [DIR]
 *
 * DIR (default build) receives the files the test writes. Checks: round trips of networks
 * mixing dense and grouped-CSR (G = 1..16, 16- and 32-bit indices, a fully pruned layer),
 * conv, pool, relu and fc, and of version 4's HYBRID and TASD layers (every field they add
 * changed: SCALPEL_ERR_CORRUPT), give bit-identical outputs and byte-identical re-serializations;
 * every single-byte change (with and without a repaired checksum) and every truncation of a
 * small file gives an error or a network that validates and runs; hand-made hostile headers
 * give the right codes; failed saves leave an existing file byte-identical; allocation
 * failures are reported and leak nothing. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

/* An allocator that fails on request, to reach every SCALPEL_ERR_NO_MEMORY path. */
static long test_alloc_count, test_alloc_fail_at = -1;
static void *test_malloc(size_t n)
{
    if (test_alloc_count++ == test_alloc_fail_at) return NULL;
    return malloc(n);
}
#define SCALPEL_MALLOC(ctx, n) ((void)(ctx), test_malloc(n))
#define SCALPEL_FREE(ctx, p) ((void)(ctx), free(p))

#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

static char dir[400] = "build";

static void path_in(char *out, const char *name)
{
    sprintf(out, "%s/%s", dir, name);
}

/* Random weights with whole aligned groups of G zeroed at rate `prune`, so that a grouped-CSR
 * copy really is sparse; `prune` 1 gives an all-zero matrix (nnz_groups 0). */
static float *random_weights(int32_t rows, int32_t cols, int32_t group, float prune)
{
    float *w = (float *)malloc((size_t)rows * (size_t)cols * sizeof(float) + 4);
    int32_t r, c, j;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c += group) {
            int zero = (float)(test_rand() % 1000u) < prune * 1000.0f;
            for (j = c; j < c + group && j < cols; j++)
                w[(size_t)r * (size_t)cols + (size_t)j] = zero ? 0.0f : test_uniform() * 0.5f;
        }
    return w;
}

static float *random_bias(int32_t n)
{
    float *b = (float *)malloc((size_t)n * sizeof(float) + 4);
    int32_t i;
    for (i = 0; i < n; i++) b[i] = test_uniform() * 0.1f;
    return b;
}

/* Current C x H x W at the end of net. */
static void out_shape(const scalpel_net *net, int32_t *c, int32_t *h, int32_t *w)
{
    if (net->n_layers == 0) { *c = net->in_c; *h = net->in_h; *w = net->in_w; return; }
    *c = net->layers[net->n_layers - 1].geom.out_c;
    *h = net->layers[net->n_layers - 1].geom.out_h;
    *w = net->layers[net->n_layers - 1].geom.out_w;
}

/* Appends an FC layer: dense when group == 0, else grouped CSR with that G. */
static scalpel_status add_fc(scalpel_net *net, int32_t outputs, int32_t group, float prune)
{
    int32_t cols = scalpel_net_output_size(net);
    float *w = random_weights(outputs, cols, group ? group : 1, prune), *b = random_bias(outputs);
    scalpel_status st;
    if (group == 0) {
        st = scalpel_net_add_fc(net, outputs, w, b);
    } else {
        scalpel_gcsr m;
        st = scalpel_gcsr_from_dense(w, outputs, cols, group, &m);
        if (st == SCALPEL_OK) st = scalpel_net_add_fc_gcsr(net, &m, b);
        scalpel_gcsr_free(&m);
    }
    free(w);
    free(b);
    return st;
}

static scalpel_status add_conv(scalpel_net *net, int32_t out_c, int32_t k, int32_t s, int32_t p, int32_t group,
                               float prune)
{
    int32_t c, h, wd, cols;
    float *w, *b;
    scalpel_status st;
    out_shape(net, &c, &h, &wd);
    cols = c * k * k;
    w = random_weights(out_c, cols, group ? group : 1, prune);
    b = random_bias(out_c);
    if (group == 0) {
        st = scalpel_net_add_conv2d(net, out_c, k, s, p, w, b);
    } else {
        scalpel_gcsr m;
        st = scalpel_gcsr_from_dense(w, out_c, cols, group, &m);
        if (st == SCALPEL_OK) st = scalpel_net_add_conv2d_gcsr(net, out_c, k, s, p, &m, b);
        scalpel_gcsr_free(&m);
    }
    free(w);
    free(b);
    return st;
}

/* Network 0: conv (dense) / relu / pool / conv (G=4) / relu / fc G=16 / relu / fc G=8 /
 * fc G=2 / relu / fc G=1 / fc fully pruned G=16 / fc dense. */
static int build_mixed(scalpel_net *net)
{
    int ok = scalpel_net_init(3, 12, 12, net) == SCALPEL_OK;
    ok &= add_conv(net, 4, 3, 1, 1, 0, 0.3f) == SCALPEL_OK;
    ok &= scalpel_net_add_relu(net) == SCALPEL_OK;
    ok &= scalpel_net_add_maxpool(net, 2, 2) == SCALPEL_OK;
    ok &= add_conv(net, 6, 3, 1, 0, 4, 0.5f) == SCALPEL_OK;
    ok &= scalpel_net_add_relu(net) == SCALPEL_OK;
    ok &= add_fc(net, 40, 16, 0.6f) == SCALPEL_OK;
    ok &= scalpel_net_add_relu(net) == SCALPEL_OK;
    ok &= add_fc(net, 24, 8, 0.5f) == SCALPEL_OK;
    ok &= add_fc(net, 20, 2, 0.7f) == SCALPEL_OK;
    ok &= scalpel_net_add_relu(net) == SCALPEL_OK;
    ok &= add_fc(net, 17, 1, 0.8f) == SCALPEL_OK;
    ok &= add_fc(net, 9, 16, 1.0f) == SCALPEL_OK;
    ok &= add_fc(net, 5, 0, 0.0f) == SCALPEL_OK;
    return ok;
}

/* Network 1: input wider than 65536 columns, so the first layer has 32-bit indices. */
static int build_wide(scalpel_net *net)
{
    int ok = scalpel_net_init(1, 300, 220, net) == SCALPEL_OK;
    ok &= add_fc(net, 3, 8, 0.995f) == SCALPEL_OK;
    ok &= scalpel_net_add_relu(net) == SCALPEL_OK;
    ok &= add_fc(net, 2, 0, 0.0f) == SCALPEL_OK;
    ok &= net->layers[0].storage == SCALPEL_STORAGE_GCSR && net->layers[0].sparse.index_bits == 32;
    return ok;
}

/* Network 2: the small file the corruption loops walk through. */
static int build_small(scalpel_net *net)
{
    int ok = scalpel_net_init(1, 2, 5, net) == SCALPEL_OK;
    ok &= add_fc(net, 4, 2, 0.5f) == SCALPEL_OK;
    ok &= scalpel_net_add_relu(net) == SCALPEL_OK;
    ok &= add_fc(net, 3, 0, 0.0f) == SCALPEL_OK;
    return ok;
}

/* out = net(in) for a fixed pseudo-random batch; 0 when the forward pass failed. */
static int run_net(const scalpel_net *net, int32_t batch, float *out)
{
    int32_t n = scalpel_net_input_size(net) * batch, i;
    size_t ws = scalpel_net_workspace_size(net, batch);
    float *in = (float *)malloc((size_t)n * sizeof(float) + 4);
    void *work = malloc(ws + 16);
    uint64_t saved = test_rng_state;
    scalpel_status st;
    test_rng_state = 12345u;
    for (i = 0; i < n; i++) in[i] = test_uniform();
    test_rng_state = saved;
    st = scalpel_net_forward(net, in, batch, out, work);
    free(in);
    free(work);
    return st == SCALPEL_OK;
}

/* Serialized bytes of net, malloc'd. */
static unsigned char *to_bytes(const scalpel_net *net, size_t *n)
{
    size_t cap = scalpel_net_serialized_size(net);
    unsigned char *buf = (unsigned char *)malloc(cap + 1);
    *n = 0;
    if (cap == 0 || scalpel_net_serialize(net, buf, cap, n) != SCALPEL_OK || *n != cap) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void fix_crc(unsigned char *p, size_t n)
{
    uint32_t crc = scalpel_crc32(0, p, n - 4);
    p[n - 4] = (unsigned char)crc; p[n - 3] = (unsigned char)(crc >> 8);
    p[n - 2] = (unsigned char)(crc >> 16); p[n - 1] = (unsigned char)(crc >> 24);
}
static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}
static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* A 64-byte-aligned copy of bytes (plus `shift`), in a buffer the caller frees with free(raw). */
static unsigned char *aligned_copy(const unsigned char *src, size_t n, size_t shift, void **raw)
{
    unsigned char *p;
    *raw = malloc(n + 128);
    p = (unsigned char *)*raw;
    p += (64u - (uintptr_t)p % 64u) % 64u + shift;
    if (n) memcpy(p, src, n);
    return p;
}

static int file_equals(const char *path, const unsigned char *data, size_t n)
{
    FILE *f = fopen(path, "rb");
    size_t i;
    int ok = f != NULL;
    for (i = 0; ok && i < n; i++) ok = fgetc(f) == data[i];
    if (ok) ok = fgetc(f) == EOF;
    if (f) fclose(f);
    return ok;
}

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok = f != NULL && fwrite(data, 1, n, f) == n;
    if (f != NULL && fclose(f) != 0) ok = 0;
    return ok;
}

static int file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* Round trip of one network through serialize/view, load_buffer, save/load. */
static void test_round_trip(const char *what, scalpel_net *net, int32_t batch)
{
    int32_t outn = scalpel_net_output_size(net) * batch;
    float *ref = (float *)malloc((size_t)outn * sizeof(float) + 4);
    float *got = (float *)malloc((size_t)outn * sizeof(float) + 4);
    size_t n = 0, n2 = 0;
    unsigned char *bytes = to_bytes(net, &n), *bytes2, *view;
    void *raw;
    scalpel_net v, l;
    char path[512];
    CHECK(bytes != NULL, "%s: serialize", what);
    CHECK(run_net(net, batch, ref), "%s: forward", what);
    if (bytes == NULL) { free(ref); free(got); return; }
    CHECK(n % 4 == 0 && memcmp(bytes, "SCPN", 4) == 0, "%s: size %lu", what, (unsigned long)n);

    view = aligned_copy(bytes, n, 0, &raw);
    CHECK(scalpel_net_view(view, n, &v) == SCALPEL_OK, "%s: view", what);
    CHECK(v.block == NULL && v.n_layers == net->n_layers, "%s: view owns nothing", what);
    CHECK(run_net(&v, batch, got) && memcmp(ref, got, (size_t)outn * sizeof(float)) == 0,
          "%s: view computes the same outputs", what);
    bytes2 = to_bytes(&v, &n2);
    CHECK(bytes2 != NULL && n2 == n && memcmp(bytes, bytes2, n) == 0, "%s: view re-serializes identically", what);
    CHECK(scalpel_net_weight_bytes(&v) == scalpel_net_weight_bytes(net), "%s: weight bytes", what);
    free(bytes2);
    scalpel_net_free(&v);
    free(raw);

    view = aligned_copy(bytes, n, 1, &raw);
    CHECK(scalpel_net_view(view, n, &v) == SCALPEL_ERR_ALIGNMENT && v.n_layers == 0, "%s: misaligned view", what);
    free(raw);
    view = aligned_copy(bytes, n, 2, &raw);
    CHECK(scalpel_net_view(view, n, &v) == SCALPEL_ERR_ALIGNMENT, "%s: view 2 bytes off", what);
    free(raw);
    view = aligned_copy(bytes, n, 3, &raw);
    CHECK(scalpel_net_load_buffer(view, n, &l) == SCALPEL_OK, "%s: load_buffer from an odd address", what);
    CHECK(l.block != NULL && run_net(&l, batch, got) && memcmp(ref, got, (size_t)outn * sizeof(float)) == 0,
          "%s: load_buffer outputs", what);
    scalpel_net_free(&l);
    free(raw);

    sprintf(path, "%s/test_netfile_%s.scpn", dir, what);
    CHECK(scalpel_net_save(net, path) == SCALPEL_OK, "%s: save %s", what, path);
    CHECK(file_equals(path, bytes, n), "%s: saved file is the serialized bytes", what);
    CHECK(scalpel_net_load(path, &l) == SCALPEL_OK, "%s: load", what);
    CHECK(l.block != NULL && run_net(&l, batch, got) && memcmp(ref, got, (size_t)outn * sizeof(float)) == 0,
          "%s: loaded network computes the same outputs", what);
    CHECK(scalpel_net_save(&l, path) == SCALPEL_OK && file_equals(path, bytes, n), "%s: save of a loaded net", what);
    scalpel_net_free(&l);
    CHECK(l.block == NULL && l.n_layers == 0, "%s: free zeroes", what);
    remove(path);
    free(bytes);
    free(ref);
    free(got);
}

/* A view that succeeded must be a network that validates and runs inside its arrays. */
static void check_viewed(const scalpel_net *v, const char *what, size_t pos)
{
    size_t ws = scalpel_net_workspace_size(v, 1);
    CHECK(scalpel_net_validate(v) == SCALPEL_OK, "%s at %lu: accepted network validates", what, (unsigned long)pos);
    if (ws < ((size_t)64 << 20) && scalpel_net_input_size(v) < (1 << 22)) {
        float *in = (float *)calloc((size_t)scalpel_net_input_size(v) + 1, sizeof(float));
        float *out = (float *)malloc(((size_t)scalpel_net_output_size(v) + 1) * sizeof(float));
        void *work = malloc(ws + 1);
        CHECK(scalpel_net_forward(v, in, 1, out, work) == SCALPEL_OK, "%s at %lu: runs", what, (unsigned long)pos);
        free(in); free(out); free(work);
    }
}

/* Every single-byte change (three patterns, checksum left or repaired) and every truncation of
 * the file of the network `build` makes. */
static void test_corruptions_of(const char *what, int (*build)(scalpel_net *))
{
    scalpel_net net, v;
    size_t n = 0, pos;
    unsigned char *bytes, *p;
    void *raw;
    long accepted = 0, rejected = 0;
    static const unsigned char xors[3] = { 0x01, 0x80, 0xff };
    CHECK(build(&net), "%s network", what);
    bytes = to_bytes(&net, &n);
    CHECK(bytes != NULL, "%s serialize", what);
    if (bytes == NULL) { scalpel_net_free(&net); return; }
    p = aligned_copy(bytes, n, 0, &raw);
    for (pos = 0; pos < n; pos++) {
        int x, fix;
        for (x = 0; x < 3; x++)
            for (fix = 0; fix < 2; fix++) {
                scalpel_status st;
                memcpy(p, bytes, n);
                p[pos] ^= xors[x];
                if (fix && pos < n - 4) fix_crc(p, n);
                st = scalpel_net_view(p, n, &v);
                if (!fix && pos < n - 4)
                    CHECK(st != SCALPEL_OK, "unrepaired change at %lu accepted", (unsigned long)pos);
                if (st == SCALPEL_OK) { accepted++; check_viewed(&v, "byte change", pos); scalpel_net_free(&v); }
                else { rejected++; CHECK(v.n_layers == 0 && v.layers == NULL, "failed view left output"); }
            }
    }
    free(raw);
    for (pos = 0; pos < n; pos++) {
        void *r2;
        unsigned char *t = aligned_copy(bytes, pos, 0, &r2);
        scalpel_status st = scalpel_net_view(t, pos, &v);
        CHECK(st == SCALPEL_ERR_TRUNCATED, "truncation to %lu gives %d", (unsigned long)pos, (int)st);
        /* with the checksum repaired and the total size patched, the cut file is still refused */
        if (pos >= 64 + 8) {
            put64(t + 32, (uint64_t)pos);
            fix_crc(t, pos);
            st = scalpel_net_view(t, pos, &v);
            if (st == SCALPEL_OK) check_viewed(&v, "patched truncation", pos);
            else CHECK(v.n_layers == 0, "failed view left output");
            scalpel_net_free(&v);
            CHECK(st != SCALPEL_OK || pos % 4 == 0, "odd size accepted");
        }
        free(r2);
    }
    printf("byte changes (%s): %ld accepted (validated and ran), %ld rejected\n", what, accepted, rejected);
    free(bytes);
    scalpel_net_free(&net);
}

static void test_corruptions(void)
{
    test_corruptions_of("small", build_small);
}

/* Field offsets in the file, as documented in scalpel.h (>>model files). */
#define REC(i) (64u + 144u * (unsigned)(i))

static scalpel_status view_patched(const unsigned char *bytes, size_t n, size_t at, int width, uint64_t value,
                                   int repair)
{
    void *raw;
    unsigned char *p = aligned_copy(bytes, n, 0, &raw);
    scalpel_net v;
    scalpel_status st;
    if (width == 1) p[at] = (unsigned char)value;
    else if (width == 2) { p[at] = (unsigned char)value; p[at + 1] = (unsigned char)(value >> 8); }
    else if (width == 4) put32(p + at, (uint32_t)value);
    else put64(p + at, value);
    if (repair) fix_crc(p, n);
    st = scalpel_net_view(p, n, &v);
    if (st == SCALPEL_OK) check_viewed(&v, "patched", at);
    else CHECK(v.n_layers == 0, "failed view left output");
    scalpel_net_free(&v);
    free(raw);
    return st;
}

static void test_hostile_fields(void)
{
    scalpel_net net;
    size_t n = 0;
    unsigned char *bytes;
    uint64_t b_off;
    CHECK(build_small(&net), "small network");
    bytes = to_bytes(&net, &n);
    if (bytes == NULL) { CHECK(0, "serialize"); scalpel_net_free(&net); return; }
    /* layer 0 is grouped CSR (G = 2), layer 1 relu, layer 2 dense */
    CHECK(view_patched(bytes, n, 0, 1, 'X', 0) == SCALPEL_ERR_MAGIC, "magic");
    CHECK(view_patched(bytes, n, 4, 2, SCALPEL_NET_FORMAT_VERSION + 1, 1) == SCALPEL_ERR_VERSION, "a version after ours");
    CHECK(view_patched(bytes, n, 4, 2, 4, 1) == SCALPEL_ERR_CORRUPT, "version 4 with 144-byte records");
    CHECK(view_patched(bytes, n, 4, 2, 3, 1) == SCALPEL_ERR_CORRUPT, "version 3 with 144-byte records");
    CHECK(view_patched(bytes, n, 4, 2, 1, 1) == SCALPEL_ERR_CORRUPT, "version 1 with 144-byte records");
    CHECK(view_patched(bytes, n, 4, 2, 0, 1) == SCALPEL_ERR_VERSION, "version 0");
    CHECK(view_patched(bytes, n, 6, 2, 48, 1) == SCALPEL_ERR_CORRUPT, "header size");
    CHECK(view_patched(bytes, n, 8, 4, 96, 1) == SCALPEL_ERR_CORRUPT, "record size");
    CHECK(view_patched(bytes, n, 12, 4, SCALPEL_NET_MAX_LAYERS + 1, 1) == SCALPEL_ERR_UNSUPPORTED, "too many layers");
    CHECK(view_patched(bytes, n, 12, 4, 0xffffffffu, 1) == SCALPEL_ERR_UNSUPPORTED, "2^32-1 layers");
    CHECK(view_patched(bytes, n, 12, 4, SCALPEL_NET_MAX_LAYERS, 1) == SCALPEL_ERR_CORRUPT, "the most layers in a small file");
    CHECK(view_patched(bytes, n, REC(1) + 128, 4, 2, 1) == SCALPEL_ERR_CORRUPT, "from beyond the input");
    CHECK(view_patched(bytes, n, REC(1) + 136, 4, 1, 1) == SCALPEL_ERR_CORRUPT, "reserved record bytes");
    CHECK(view_patched(bytes, n, 12, 4, 2, 1) == SCALPEL_ERR_CORRUPT, "fewer layers than arrays");
    CHECK(view_patched(bytes, n, 16, 4, 0, 1) == SCALPEL_ERR_CORRUPT, "zero channels");
    CHECK(view_patched(bytes, n, 16, 4, 0x80000000u, 1) == SCALPEL_ERR_CORRUPT, "negative channels");
    CHECK(view_patched(bytes, n, 16, 4, 0x7fffffffu, 1) != SCALPEL_OK, "huge input");
    CHECK(view_patched(bytes, n, 28, 4, 1, 1) == SCALPEL_ERR_CORRUPT, "flags");
    CHECK(view_patched(bytes, n, 50, 1, 1, 1) == SCALPEL_ERR_CORRUPT, "reserved header byte");
    CHECK(view_patched(bytes, n, 32, 8, n + 4, 1) == SCALPEL_ERR_TRUNCATED, "total size too large");
    CHECK(view_patched(bytes, n, 32, 8, n - 4, 1) == SCALPEL_ERR_CORRUPT, "total size too small");
    CHECK(view_patched(bytes, n, 32, 8, UINT64_MAX, 1) == SCALPEL_ERR_TRUNCATED, "total size 2^64-1");
    CHECK(view_patched(bytes, n, 100, 1, 0x5a, 0) == SCALPEL_ERR_CHECKSUM, "checksum");
    CHECK(view_patched(bytes, n, n - 1, 1, bytes[n - 1] ^ 1u, 0) == SCALPEL_ERR_CHECKSUM, "checksum byte");
    /* layer records */
    CHECK(view_patched(bytes, n, REC(0) + 0, 4, 9, 1) == SCALPEL_ERR_CORRUPT, "unknown kind");
    CHECK(view_patched(bytes, n, REC(0) + 0, 4, 0x80000001u, 1) == SCALPEL_ERR_CORRUPT, "negative kind");
    CHECK(view_patched(bytes, n, REC(0) + 4, 4, 5, 1) == SCALPEL_ERR_CORRUPT, "outputs != stored rows");
    CHECK(view_patched(bytes, n, REC(0) + 4, 4, 0x40000000u, 1) == SCALPEL_ERR_OVERFLOW, "outputs x inputs overflow");
    CHECK(view_patched(bytes, n, REC(0) + 8, 4, 3, 1) == SCALPEL_ERR_CORRUPT, "kernel on an fc layer");
    CHECK(view_patched(bytes, n, REC(0) + 20, 4, 2, 1) == SCALPEL_ERR_CORRUPT, "storage 2");
    CHECK(view_patched(bytes, n, REC(0) + 20, 4, 0, 1) == SCALPEL_ERR_CORRUPT, "storage dense with CSR fields");
    CHECK(view_patched(bytes, n, REC(0) + 24, 4, 5, 1) == SCALPEL_ERR_CORRUPT, "stored rows");
    CHECK(view_patched(bytes, n, REC(0) + 28, 4, 11, 1) == SCALPEL_ERR_CORRUPT, "stored cols");
    CHECK(view_patched(bytes, n, REC(0) + 32, 4, 3, 1) == SCALPEL_ERR_GROUP, "group 3");
    CHECK(view_patched(bytes, n, REC(0) + 32, 4, 32, 1) == SCALPEL_ERR_GROUP, "group 32");
    CHECK(view_patched(bytes, n, REC(0) + 36, 4, 8, 1) == SCALPEL_ERR_INDEX_WIDTH, "index bits 8");
    CHECK(view_patched(bytes, n, REC(0) + 40, 4, 0x40000000u, 1) == SCALPEL_ERR_OVERFLOW, "nnz x G overflow");
    CHECK(view_patched(bytes, n, REC(0) + 40, 4, 0x7fffffffu, 1) == SCALPEL_ERR_OVERFLOW, "nnz INT32_MAX");
    CHECK(view_patched(bytes, n, REC(0) + 40, 4, 4 * 3 + 1, 1) == SCALPEL_ERR_CORRUPT, "nnz above rows x groups");
    CHECK(view_patched(bytes, n, REC(0) + 44, 4, 1, 1) == SCALPEL_ERR_DTYPE, "dtype q15");
    CHECK(view_patched(bytes, n, REC(1) + 20, 4, 1, 1) == SCALPEL_ERR_CORRUPT, "relu with storage");
    CHECK(view_patched(bytes, n, REC(1) + 4, 4, 1, 1) == SCALPEL_ERR_CORRUPT, "relu with outputs");
    CHECK(view_patched(bytes, n, REC(1) + 48, 8, 64, 1) == SCALPEL_ERR_CORRUPT, "relu with an array offset");
    CHECK(view_patched(bytes, n, REC(2) + 88, 8, 8, 1) == SCALPEL_ERR_CORRUPT, "dense layer with a row_ptr size");
    /* array offsets and sizes of layer 2 (dense): w at +48, b at +64 */
    b_off = get64(bytes + REC(2) + 64);
    CHECK(view_patched(bytes, n, REC(2) + 64, 8, b_off + 4, 1) == SCALPEL_ERR_CORRUPT, "misaligned offset");
    CHECK(view_patched(bytes, n, REC(2) + 64, 8, b_off + 64, 1) == SCALPEL_ERR_CORRUPT, "offset past the end");
    CHECK(view_patched(bytes, n, REC(2) + 64, 8, 0, 1) == SCALPEL_ERR_CORRUPT, "offset in the header");
    CHECK(view_patched(bytes, n, REC(2) + 64, 8, 64, 1) == SCALPEL_ERR_CORRUPT, "offset in the records");
    CHECK(view_patched(bytes, n, REC(2) + 64, 8, get64(bytes + REC(2) + 48), 1) == SCALPEL_ERR_CORRUPT,
          "overlapping arrays");
    CHECK(view_patched(bytes, n, REC(2) + 64, 8, UINT64_MAX - 63u, 1) == SCALPEL_ERR_CORRUPT, "offset near 2^64");
    CHECK(view_patched(bytes, n, REC(2) + 64, 8, (uint64_t)SIZE_MAX - 63u, 1) == SCALPEL_ERR_CORRUPT,
          "offset near SIZE_MAX");
    CHECK(view_patched(bytes, n, REC(2) + 72, 8, UINT64_MAX, 1) == SCALPEL_ERR_CORRUPT, "size 2^64-1");
    CHECK(view_patched(bytes, n, REC(2) + 72, 8, 16, 1) == SCALPEL_ERR_CORRUPT, "size not the product");
    CHECK(view_patched(bytes, n, b_off - 1, 1, 7, 1) == SCALPEL_ERR_CORRUPT, "nonzero gap byte");
    CHECK(view_patched(bytes, n, b_off, 4, 0x7fc00000u, 1) == SCALPEL_ERR_CORRUPT, "NaN bias");
    CHECK(view_patched(bytes, n, get64(bytes + REC(2) + 48), 4, 0xff800000u, 1) == SCALPEL_ERR_CORRUPT,
          "infinite weight");
    CHECK(view_patched(bytes, n, get64(bytes + REC(0) + 80), 4, 1, 1) == SCALPEL_ERR_ROW_PTR, "row_ptr[0] = 1");
    CHECK(view_patched(bytes, n, get64(bytes + REC(0) + 96), 2, 1, 1) == SCALPEL_ERR_COL_INDEX, "odd column, G = 2");
    free(bytes);
    scalpel_net_free(&net);
}

/* A file of 32 relu layers (the maximum) is fine; a hand-made count of 33 is refused. */
static void test_layer_limits(void)
{
    scalpel_net net, v;
    size_t n = 0;
    unsigned char *bytes;
    void *raw;
    int32_t i;
    int ok = scalpel_net_init(2, 3, 3, &net) == SCALPEL_OK;
    for (i = 0; i < SCALPEL_NET_MAX_LAYERS; i++) ok &= scalpel_net_add_relu(&net) == SCALPEL_OK;
    CHECK(ok && net.n_layers == SCALPEL_NET_MAX_LAYERS, "the most layers a file holds");
    bytes = to_bytes(&net, &n);
    CHECK(bytes != NULL && n == 64 + SCALPEL_NET_MAX_LAYERS * 144 + 4, "full-length size %lu", (unsigned long)n);
    if (bytes) {
        unsigned char *p = aligned_copy(bytes, n, 0, &raw);
        scalpel_layer few[8];
        CHECK(scalpel_net_view(p, n, &v) == SCALPEL_OK && v.n_layers == SCALPEL_NET_MAX_LAYERS, "full-length view");
        scalpel_net_free(&v);
        CHECK(scalpel_net_view_with(p, n, few, 8, &v) == SCALPEL_ERR_BUFFER_TOO_SMALL && v.n_layers == 0,
              "view into too small a layer array");
        free(raw);
        free(bytes);
    }
    ok = scalpel_net_add_relu(&net) == SCALPEL_OK; /* in memory a network has no limit... */
    CHECK(ok && scalpel_net_serialized_size(&net) == 0, "...but a file does");
    CHECK(scalpel_net_serialize(&net, &n, 4, &n) == SCALPEL_ERR_UNSUPPORTED, "too long to serialize");
    scalpel_net_free(&net);
    /* an empty network round-trips too */
    CHECK(scalpel_net_init(1, 1, 1, &net) == SCALPEL_OK, "empty net");
    bytes = to_bytes(&net, &n);
    CHECK(bytes != NULL && n == 68, "empty net size");
    if (bytes) {
        unsigned char *p = aligned_copy(bytes, n, 0, &raw);
        CHECK(scalpel_net_view(p, n, &v) == SCALPEL_OK && v.n_layers == 0 && v.in_c == 1, "empty view");
        free(raw);
        free(bytes);
    }
}

static void test_arguments(void)
{
    scalpel_net net, v;
    size_t n = 0, written = 7;
    unsigned char *bytes;
    float nan_w[4 * 10];
    const float *saved;
    memset(&v, 0x5a, sizeof(v));
    CHECK(scalpel_net_view(NULL, 10, &v) == SCALPEL_ERR_NULL && v.n_layers == 0, "view NULL data clears");
    CHECK(scalpel_net_view("SCPN", 4, NULL) == SCALPEL_ERR_NULL, "view NULL net");
    CHECK(scalpel_net_serialized_size(NULL) == 0, "size NULL");
    CHECK(scalpel_net_serialize(NULL, &n, 4, &written) != SCALPEL_OK && written == 0, "serialize NULL net");
    CHECK(build_small(&net), "small");
    CHECK(scalpel_net_serialize(&net, NULL, 100, &written) == SCALPEL_ERR_NULL, "serialize NULL buf");
    CHECK(scalpel_net_serialize(&net, &n, 1, NULL) == SCALPEL_ERR_NULL, "serialize NULL written");
    bytes = to_bytes(&net, &n);
    CHECK(bytes != NULL, "serialize");
    if (bytes) {
        unsigned char *small = (unsigned char *)malloc(n);
        CHECK(scalpel_net_serialize(&net, small, n - 1, &written) == SCALPEL_ERR_BUFFER_TOO_SMALL && written == 0,
              "capacity one byte short");
        free(small);
        CHECK(scalpel_net_load_buffer(NULL, n, &v) == SCALPEL_ERR_NULL, "load_buffer NULL");
        CHECK(scalpel_net_load_buffer(bytes, n, NULL) == SCALPEL_ERR_NULL, "load_buffer NULL net");
        CHECK(scalpel_net_load_buffer(bytes, 3, &v) == SCALPEL_ERR_TRUNCATED, "load_buffer short");
        CHECK(scalpel_net_load_buffer(bytes, SIZE_MAX, &v) == SCALPEL_ERR_OVERFLOW, "load_buffer SIZE_MAX");
        free(bytes);
    }
    CHECK(scalpel_net_save(NULL, "x") == SCALPEL_ERR_NULL && scalpel_net_save(&net, NULL) == SCALPEL_ERR_NULL,
          "save NULL");
    CHECK(scalpel_net_save(&net, "") == SCALPEL_ERR_ARGUMENT, "save empty path");
    CHECK(scalpel_net_load(NULL, &v) == SCALPEL_ERR_NULL && scalpel_net_load("x", NULL) == SCALPEL_ERR_NULL,
          "load NULL");
    /* a non-finite weight is refused by serialize and export (w points at our array for a while) */
    memset(nan_w, 0, sizeof(nan_w));
    nan_w[7] = (float)(1e30 * 1e30);
    saved = net.layers[2].w;
    if (net.layers[2].geom.rows * net.layers[2].geom.cols <= 40) {
        unsigned char buf[4096];
        char path[512];
        net.layers[2].w = nan_w;
        CHECK(scalpel_net_serialize(&net, buf, sizeof(buf), &written) == SCALPEL_ERR_ARGUMENT && written == 0,
              "serialize infinite weight");
        path_in(path, "test_netfile_nan.h");
        CHECK(scalpel_net_export_c(&net, "nan_net", path) == SCALPEL_ERR_ARGUMENT && !file_exists(path),
              "export infinite weight");
        net.layers[2].w = saved;
    }
    scalpel_net_free(&net);
    /* an invalid network is refused everywhere */
    memset(&net, 0, sizeof(net));
    net.n_layers = 40;
    CHECK(scalpel_net_serialized_size(&net) == 0, "invalid net size 0");
    CHECK(scalpel_net_serialize(&net, &n, sizeof(n), &written) != SCALPEL_OK, "invalid net serialize");
}

static void test_files(void)
{
    scalpel_net net, other, v;
    size_t n = 0, n2 = 0;
    unsigned char *bytes, *bytes2;
    char path[512], sub[600], missing[512];
    static const char garbage[] = "not a model, just some text that is long enough to have a header's worth........";
    CHECK(build_small(&net), "small");
    CHECK(build_mixed(&other), "mixed");
    bytes = to_bytes(&net, &n);
    bytes2 = to_bytes(&other, &n2);
    path_in(path, "test_netfile_existing.scpn");
    CHECK(scalpel_net_save(&net, path) == SCALPEL_OK && file_equals(path, bytes, n), "save the existing file");

    /* failures that must leave the existing file byte-identical */
    sprintf(sub, "%s/inside", path);
    CHECK(scalpel_net_save(&other, sub) == SCALPEL_ERR_NOT_FOUND, "save below a file");
    CHECK(file_equals(path, bytes, n), "file intact after a save below it");
    memset(&v, 0, sizeof(v));
    v.n_layers = -1;
    CHECK(scalpel_net_save(&v, path) != SCALPEL_OK && file_equals(path, bytes, n), "invalid net: file intact");
    for (test_alloc_fail_at = 0; test_alloc_fail_at < 2; test_alloc_fail_at++) { /* save allocates twice */
        test_alloc_count = 0;
        CHECK(scalpel_net_save(&other, path) == SCALPEL_ERR_NO_MEMORY && file_equals(path, bytes, n),
              "allocation %ld fails: file intact", test_alloc_fail_at);
    }
    test_alloc_fail_at = -1;
    /* a directory as target: refused, the directory and the file in it stay */
    CHECK(scalpel_net_save(&other, dir) == SCALPEL_ERR_NOT_REGULAR, "save over a directory");
    CHECK(file_equals(path, bytes, n), "file in that directory intact");
    CHECK(scalpel_net_export_c(&other, "mixed_net", dir) == SCALPEL_ERR_NOT_REGULAR, "export over a directory");
    /* a directory that does not exist */
    sprintf(missing, "%s/no_such_directory_4711/model.scpn", dir);
    CHECK(scalpel_net_save(&net, missing) == SCALPEL_ERR_NOT_FOUND && !file_exists(missing), "save into a missing dir");
    CHECK(scalpel_net_export_c(&net, "small_net", missing) == SCALPEL_ERR_NOT_FOUND, "export into a missing dir");
    /* a successful save replaces the file */
    CHECK(scalpel_net_save(&other, path) == SCALPEL_OK && file_equals(path, bytes2, n2), "save replaces");

    /* loads */
    CHECK(scalpel_net_load(missing, &v) == SCALPEL_ERR_NOT_FOUND && v.n_layers == 0, "load a missing file");
    CHECK(scalpel_net_load(dir, &v) == SCALPEL_ERR_NOT_REGULAR, "load a directory");
    CHECK(write_file(path, garbage, sizeof(garbage)) && scalpel_net_load(path, &v) == SCALPEL_ERR_MAGIC,
          "load a text file");
    CHECK(write_file(path, bytes, n - 1) && scalpel_net_load(path, &v) == SCALPEL_ERR_TRUNCATED, "load truncated");
    CHECK(write_file(path, bytes, 10) && scalpel_net_load(path, &v) == SCALPEL_ERR_TRUNCATED, "load 10 bytes");
    CHECK(write_file(path, bytes, 0) && scalpel_net_load(path, &v) == SCALPEL_ERR_TRUNCATED, "load empty");
    {
        unsigned char *longer = (unsigned char *)calloc(n + 8, 1);
        memcpy(longer, bytes, n);
        CHECK(write_file(path, longer, n + 8) && scalpel_net_load(path, &v) == SCALPEL_ERR_CORRUPT, "trailing bytes");
        longer[77] ^= 1;
        CHECK(write_file(path, longer, n) && scalpel_net_load(path, &v) == SCALPEL_ERR_CHECKSUM, "load damaged");
        free(longer);
    }
    CHECK(write_file(path, bytes, n), "rewrite");
    for (test_alloc_fail_at = 0; test_alloc_fail_at < 2; test_alloc_fail_at++) {
        test_alloc_count = 0;
        CHECK(scalpel_net_load(path, &v) == SCALPEL_ERR_NO_MEMORY && v.n_layers == 0, "load, allocation fails");
        test_alloc_count = 0;
        CHECK(scalpel_net_load_buffer(bytes, n, &v) == SCALPEL_ERR_NO_MEMORY, "load_buffer, allocation fails");
        break;
    }
    test_alloc_fail_at = -1;
    CHECK(scalpel_net_load(path, &v) == SCALPEL_OK, "load after the failures");
    scalpel_net_free(&v);
    remove(path);

    /* export names */
    path_in(path, "test_netfile_export.h");
    CHECK(scalpel_net_export_c(&net, "1net", path) == SCALPEL_ERR_ARGUMENT, "name starting with a digit");
    CHECK(scalpel_net_export_c(&net, "", path) == SCALPEL_ERR_ARGUMENT, "empty name");
    CHECK(scalpel_net_export_c(&net, "my-net", path) == SCALPEL_ERR_ARGUMENT, "name with a dash");
    CHECK(scalpel_net_export_c(&net, "int", path) == SCALPEL_ERR_ARGUMENT, "keyword");
    CHECK(scalpel_net_export_c(&net, "class", path) == SCALPEL_ERR_ARGUMENT, "C++ keyword");
    CHECK(scalpel_net_export_c(&net, "__net", path) == SCALPEL_ERR_ARGUMENT, "reserved name");
    CHECK(scalpel_net_export_c(&net, "n123456789012345678901234567890123456789012345678901234567890", path) ==
              SCALPEL_ERR_ARGUMENT, "name too long");
    CHECK(scalpel_net_export_c(NULL, "a", path) == SCALPEL_ERR_NULL, "export NULL net");
    CHECK(scalpel_net_export_c(&net, NULL, path) == SCALPEL_ERR_NULL, "export NULL name");
    CHECK(!file_exists(path), "no file after refused exports");
    CHECK(scalpel_net_export_c(&other, "mixed_net", path) == SCALPEL_OK && file_exists(path), "export");
    {
        FILE *f = fopen(path, "rb");
        static char text[1 << 20];
        size_t len = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
        if (f) fclose(f);
        text[len] = 0;
        CHECK(strstr(text, "static const scalpel_net mixed_net = {") != NULL, "export defines the network");
        CHECK(strstr(text, "#ifndef SCALPEL_NET_EXPORT_mixed_net_H") != NULL, "include guard");
        CHECK(strstr(text, "mixed_net_l5_col_idx") != NULL && strstr(text, "mixed_net_l12_w") != NULL, "arrays");
        CHECK(strstr(text, "nan") == NULL && strstr(text, "inf") == NULL, "no non-finite literal");
    }
    for (test_alloc_fail_at = 0; test_alloc_fail_at < 1; test_alloc_fail_at++) {
        test_alloc_count = 0;
        CHECK(scalpel_net_export_c(&other, "mixed_net", path) == SCALPEL_ERR_NO_MEMORY, "export, allocation fails");
    }
    test_alloc_fail_at = -1;
    remove(path);
    free(bytes);
    free(bytes2);
    scalpel_net_free(&net);
    scalpel_net_free(&other);
}

/* The exported literals read back as exactly the stored floats: -0, denormals, the extremes and
 * numbers that need all 9 digits. Parsed here with strtof, as a compiler parses them. */
static void test_export_floats(void)
{
    static const float special[16] = { -0.0f, 0.0f, 1.0f, -1.0f, 0.1f, 1.0f / 3.0f, FLT_MIN, -FLT_MIN,
                                       1e-45f, 3e-39f, FLT_MAX, -FLT_MAX, 16777216.0f, 123456792.0f,
                                       1e20f, 2.5e-10f };
    float w[16 * 2], b[16], parsed[16 * 2];
    scalpel_net net;
    char path[512];
    static char text[1 << 16];
    size_t len = 0;
    const char *p;
    int32_t i, count = 0;
    FILE *f;
    for (i = 0; i < 32; i++) w[i] = special[i % 16] * (i < 16 ? 1.0f : -1.0f);
    for (i = 0; i < 16; i++) b[i] = special[15 - i];
    CHECK(scalpel_net_init(1, 1, 2, &net) == SCALPEL_OK && scalpel_net_add_fc(&net, 16, w, b) == SCALPEL_OK,
          "special-value net");
    path_in(path, "test_netfile_floats.h");
    CHECK(scalpel_net_export_c(&net, "floats", path) == SCALPEL_OK, "export special values");
    f = fopen(path, "rb");
    if (f) { len = fread(text, 1, sizeof(text) - 1, f); fclose(f); }
    text[len] = 0;
    p = strstr(text, "floats_l0_w[32] = {");
    CHECK(p != NULL, "w array present");
    if (p) {
        p += strlen("floats_l0_w[32] = {");
        while (count < 32) {
            char *end;
            while (*p == ' ' || *p == '\n' || *p == ',') p++;
            parsed[count] = strtof(p, &end);
            if (end == p || *end != 'f') break;
            p = end + 1;
            count++;
        }
        CHECK(count == 32, "32 literals parsed, got %d", (int)count);
        CHECK(memcmp(parsed, w, sizeof(float) * (size_t)count) == 0, "literals are exactly the weights");
        CHECK(strstr(text, "-0.0f") != NULL, "negative zero kept");
    }
    remove(path);
    scalpel_net_free(&net);
}

/* Shapes whose products overflow 64-bit arithmetic if computed naively: a conv record with a
 * huge kernel, and one whose im2col matrix is 2^67 floats. Both must be refused cleanly (under
 * UBSan a wrapped product aborts the program, which is why this runs last). */
static void test_hostile_conv(void)
{
    scalpel_net net;
    size_t n = 0;
    unsigned char *bytes = NULL, *p;
    float w[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    void *raw;
    CHECK(scalpel_net_init(1, 3, 3, &net) == SCALPEL_OK && scalpel_net_add_conv2d(&net, 1, 3, 1, 0, w, NULL) == SCALPEL_OK,
          "conv net");
    bytes = to_bytes(&net, &n);
    scalpel_net_free(&net);
    CHECK(bytes != NULL, "conv serialize");
    if (bytes == NULL) return;
    p = aligned_copy(bytes, n, 0, &raw);
    put32(p + 16, 1u << 20); put32(p + 20, 1); put32(p + 24, 1); /* input 2^20 x 1 x 1 */
    put32(p + REC(0) + 8, 0x7fffffffu);                           /* kernel 2^31 - 1 */
    fix_crc(p, n);
    CHECK(scalpel_net_view(p, n, &net) != SCALPEL_OK, "conv kernel 2^31-1");
    memcpy(p, bytes, n);
    put32(p + 16, 1); put32(p + 20, 1); put32(p + 24, 0x7fffffffu); /* input 1 x 1 x (2^31 - 1) */
    put32(p + REC(0) + 8, 4096); put32(p + REC(0) + 16, 4095);      /* kernel 4096, pad 4095 */
    fix_crc(p, n);
    CHECK(scalpel_net_view(p, n, &net) != SCALPEL_OK, "conv with a 2^67-float im2col matrix");
    free(raw);
    free(bytes);
    CHECK(scalpel_net_init(INT32_MAX, INT32_MAX, INT32_MAX, &net) != SCALPEL_OK, "init with 2^93 inputs");
}

/* 160 layers: 80 x (conv 3x3, 2 -> 2 channels, padding 1; relu) on 2 x 6 x 6, every eighth
 * relu reading the output of the conv three layers back instead of the one before (kept
 * tensors in the workspace, `from` in the file), one in five convs grouped CSR. */
static int build_deep(scalpel_net *net)
{
    float w[2 * 2 * 9], b[2];
    int32_t k, j, ok = scalpel_net_init(2, 6, 6, net) == SCALPEL_OK;
    for (k = 0; k < 80 && ok; k++) {
        for (j = 0; j < 2 * 2 * 9; j++) w[j] = 0.35f * test_uniform();
        for (j = 0; j < 2; j++) b[j] = 0.05f * test_uniform();
        if (k % 5 == 4) {
            scalpel_gcsr m;
            for (j = 0; j < 2 * 2 * 9; j += 3) w[j] = 0.0f;
            ok = scalpel_gcsr_from_dense(w, 2, 18, 2, &m) == SCALPEL_OK &&
                 scalpel_net_add_conv2d_gcsr(net, 2, 3, 1, 1, &m, b) == SCALPEL_OK;
            scalpel_gcsr_free(&m);
        } else {
            ok = scalpel_net_add_conv2d(net, 2, 3, 1, 1, w, b) == SCALPEL_OK;
        }
        if (ok && k % 8 == 7) ok = scalpel_net_set_next_input(net, net->n_layers - 3) == SCALPEL_OK;
        if (ok) ok = scalpel_net_add_relu(net) == SCALPEL_OK;
    }
    return ok && net->n_layers == 160;
}

/* ---- version 4: HYBRID and TASD layers ---------------------------------------------------- */

/* Gives weighted layer i of net the exact hybrid with G = group (group > 0), or the N:M series
 * `spec` (group 0; spec NULL: a series of no terms, the zero matrix), from its weights. */
static int decompose_layer(scalpel_net *net, int32_t i, int32_t group, const char *spec)
{
    scalpel_layer *L = &net->layers[i];
    int32_t rows = L->geom.rows, cols = L->geom.cols;
    float *w = (float *)malloc((size_t)rows * (size_t)cols * sizeof(float) + 4);
    int ok = w != NULL;
    if (ok && L->storage == SCALPEL_STORAGE_DENSE) memcpy(w, L->w, (size_t)rows * (size_t)cols * sizeof(float));
    else if (ok) ok = scalpel_gcsr_to_dense(&L->sparse, w) == SCALPEL_OK;
    if (ok && group > 0) {
        scalpel_hybrid h;
        scalpel_hybrid_costs costs;   /* a group with two weights pays, a lone weight does not */
        costs.group = 1.5f;
        costs.nonzero = 1.0f;
        costs.row = 0.0f;
        memset(&h, 0, sizeof(h));
        ok = scalpel_hybrid_from_dense(w, rows, cols, group, &costs, &h) == SCALPEL_OK &&
             scalpel_net_set_hybrid(net, i, &h) == SCALPEL_OK;
        scalpel_hybrid_free(&h);
    } else if (ok) {
        scalpel_tasd t;
        scalpel_tasd_spec sp;
        memset(&t, 0, sizeof(t));
        t.rows = rows;
        t.cols = cols;
        if (spec != NULL)
            ok = scalpel_tasd_parse(spec, &sp) == SCALPEL_OK && scalpel_tasd_decompose(w, rows, cols, &sp, &t, NULL) == SCALPEL_OK;
        ok = ok && scalpel_net_set_tasd(net, i, &t) == SCALPEL_OK;
        scalpel_tasd_free(&t);
    }
    free(w);
    return ok;
}

/* Network 3: every storage in one file: conv 3x3 hybrid G=2 / relu / conv 1x1 TASD 2:4 /
 * pool / fc TASD 2:4+1:4 / relu / fc hybrid G=8 / fc TASD 1:8+1:2 / fc TASD of no terms / fc
 * grouped CSR G=4 / fc dense. Weights without structure (50-60% zeros), so that the hybrids
 * have both parts. */
static int build_decomposed(scalpel_net *net)
{
    int ok = scalpel_net_init(2, 6, 6, net) == SCALPEL_OK;
    ok = ok && add_conv(net, 4, 3, 1, 1, 0, 0.5f) == SCALPEL_OK && decompose_layer(net, 0, 2, NULL);
    ok = ok && scalpel_net_add_relu(net) == SCALPEL_OK;
    ok = ok && add_conv(net, 3, 1, 1, 0, 0, 0.3f) == SCALPEL_OK && decompose_layer(net, 2, 0, "2:4");
    ok = ok && scalpel_net_add_maxpool(net, 2, 2) == SCALPEL_OK;
    ok = ok && add_fc(net, 12, 1, 0.6f) == SCALPEL_OK && decompose_layer(net, 4, 0, "2:4+1:4");
    ok = ok && scalpel_net_add_relu(net) == SCALPEL_OK;
    ok = ok && add_fc(net, 10, 0, 0.0f) == SCALPEL_OK && decompose_layer(net, 6, 8, NULL);
    ok = ok && add_fc(net, 9, 0, 0.0f) == SCALPEL_OK && decompose_layer(net, 7, 0, "1:8+1:2");
    ok = ok && add_fc(net, 7, 0, 0.0f) == SCALPEL_OK && decompose_layer(net, 8, 0, NULL);
    ok = ok && add_fc(net, 6, 4, 0.5f) == SCALPEL_OK;
    ok = ok && add_fc(net, 3, 0, 0.0f) == SCALPEL_OK;
    return ok && scalpel_net_validate(net) == SCALPEL_OK;
}

/* Network 4: the small file the corruption loops walk through: fc 10 -> 4 hybrid G=2 / relu /
 * fc 4 -> 3 TASD 1:2+1:4. */
static int build_small_decomposed(scalpel_net *net)
{
    int ok = scalpel_net_init(1, 2, 5, net) == SCALPEL_OK;
    ok = ok && add_fc(net, 4, 1, 0.4f) == SCALPEL_OK && decompose_layer(net, 0, 2, NULL);
    ok = ok && scalpel_net_add_relu(net) == SCALPEL_OK;
    ok = ok && add_fc(net, 3, 0, 0.0f) == SCALPEL_OK && decompose_layer(net, 2, 0, "1:2+1:4");
    return ok && net->layers[0].sparse.nnz_groups > 0 && net->layers[0].residual.nnz_groups > 0;
}

/* Network 5: more than 65536 inputs, so that the residual has 32-bit indices. */
static int build_wide_hybrid(scalpel_net *net)
{
    int ok = scalpel_net_init(1, 300, 220, net) == SCALPEL_OK;
    ok = ok && add_fc(net, 3, 1, 0.99f) == SCALPEL_OK && decompose_layer(net, 0, 4, NULL);
    ok = ok && scalpel_net_add_relu(net) == SCALPEL_OK;
    ok = ok && add_fc(net, 2, 0, 0.0f) == SCALPEL_OK && decompose_layer(net, 2, 0, "1:2");
    return ok && net->layers[0].residual.index_bits == 32 && net->layers[0].residual.nnz_groups > 0;
}

/* Version 4 records are 224 bytes, as version 3's. */
#define REC4(i) (64u + 224u * (unsigned)(i))

/* view_patched after also repairing the CRC-32 of the buffer [from, from + len) inside the
 * file (a residual's or a term's), so that the change reaches the checks behind it. */
static scalpel_status view_patched_inner(const unsigned char *bytes, size_t n, size_t at, int width, uint64_t value,
                                         size_t from, size_t len)
{
    unsigned char *copy = (unsigned char *)malloc(n);
    scalpel_status st;
    memcpy(copy, bytes, n);
    if (width == 1) copy[at] = (unsigned char)value;
    else if (width == 2) { copy[at] = (unsigned char)value; copy[at + 1] = (unsigned char)(value >> 8); }
    else if (width == 4) put32(copy + at, (uint32_t)value);
    else put64(copy + at, value);
    fix_crc(copy + from, len);
    st = view_patched(copy, n, 0, 1, copy[0], 1);
    free(copy);
    return st;
}

/* Every field version 4 adds, changed: SCALPEL_ERR_CORRUPT, with the checksums repaired. */
static void test_decomposed_fields(void)
{
    scalpel_net net;
    size_t n = 0, rq, rlen, tq, tlen, t2;
    unsigned char *bytes;
    uint32_t rows;
    CHECK(build_small_decomposed(&net), "small decomposed network");
    bytes = to_bytes(&net, &n);
    if (bytes == NULL) { CHECK(0, "serialize"); scalpel_net_free(&net); return; }
    /* layer 0 hybrid G = 2 (residual buffer at rq), layer 1 relu, layer 2 TASD of two terms (at tq) */
    CHECK(bytes[4] == 4 && bytes[5] == 0 && get64(bytes + 8) % 0x100000000ull == 224, "version 4, 224-byte records");
    CHECK(get64(bytes + REC4(0) + 20) % 0x100000000ull == 2 && get64(bytes + REC4(2) + 20) % 0x100000000ull == 3,
          "storages 2 and 3");
    rq = (size_t)get64(bytes + REC4(0) + 48);
    rlen = (size_t)get64(bytes + REC4(0) + 56);
    tq = (size_t)get64(bytes + REC4(2) + 48);
    tlen = (size_t)get64(bytes + REC4(2) + 56);
    rows = 4;
    CHECK(rq % 64 == 0 && rlen > 52 && memcmp(bytes + rq, "SCPG", 4) == 0, "the residual's buffer");
    CHECK(tq % 64 == 0 && tlen > 104 && memcmp(bytes + tq, "SCPM", 4) == 0, "the series' buffers");
    CHECK(bytes[REC4(2) + 32] == 2, "two terms");
    t2 = tq + (size_t)get64(bytes + tq + 32);
    CHECK(t2 < tq + tlen && memcmp(bytes + t2, "SCPM", 4) == 0, "the second term's buffer");
    CHECK(view_patched(bytes, n, 0, 1, 'S', 1) == SCALPEL_OK, "the file as written");

    /* the record */
    CHECK(view_patched(bytes, n, 4, 2, 3, 1) == SCALPEL_ERR_CORRUPT, "storage 2 in a version 3 file");
    CHECK(view_patched(bytes, n, REC4(0) + 20, 4, 3, 1) == SCALPEL_ERR_CORRUPT, "hybrid read as TASD");
    CHECK(view_patched(bytes, n, REC4(0) + 20, 4, 1, 1) != SCALPEL_OK, "hybrid read as grouped CSR");
    CHECK(view_patched(bytes, n, REC4(0) + 20, 4, 4, 1) == SCALPEL_ERR_CORRUPT, "storage 4");
    CHECK(view_patched(bytes, n, REC4(2) + 20, 4, 2, 1) != SCALPEL_OK, "TASD read as hybrid");
    CHECK(view_patched(bytes, n, REC4(2) + 20, 4, 0, 1) == SCALPEL_ERR_CORRUPT, "TASD read as dense");
    CHECK(view_patched(bytes, n, REC4(1) + 20, 4, 3, 1) == SCALPEL_ERR_CORRUPT, "relu stored TASD");
    CHECK(view_patched(bytes, n, REC4(0) + 32, 4, 1, 1) == SCALPEL_ERR_CORRUPT, "hybrid with G = 1");
    CHECK(view_patched(bytes, n, REC4(2) + 32, 4, 1, 1) == SCALPEL_ERR_CORRUPT, "one term fewer");
    CHECK(view_patched(bytes, n, REC4(2) + 32, 4, 3, 1) == SCALPEL_ERR_CORRUPT, "one term more");
    CHECK(view_patched(bytes, n, REC4(2) + 32, 4, 0, 1) == SCALPEL_ERR_CORRUPT, "no terms, with buffers");
    CHECK(view_patched(bytes, n, REC4(2) + 32, 4, 5, 1) == SCALPEL_ERR_CORRUPT, "5 terms");
    CHECK(view_patched(bytes, n, REC4(2) + 36, 4, 16, 1) == SCALPEL_ERR_CORRUPT, "TASD with index bits");
    CHECK(view_patched(bytes, n, REC4(2) + 40, 4, 1, 1) == SCALPEL_ERR_CORRUPT, "TASD with nnz_groups");
    CHECK(view_patched(bytes, n, REC4(2) + 80, 8, 64, 1) == SCALPEL_ERR_CORRUPT, "TASD with a row_ptr offset");
    CHECK(view_patched(bytes, n, REC4(0) + 212, 4, 1, 1) == SCALPEL_ERR_CORRUPT, "reserved record bytes");
    /* the decomposition array's offset and size */
    CHECK(view_patched(bytes, n, REC4(0) + 56, 8, rlen + 4, 1) == SCALPEL_ERR_CORRUPT, "residual size + 4");
    CHECK(view_patched(bytes, n, REC4(0) + 56, 8, rlen - 4, 1) == SCALPEL_ERR_CORRUPT, "residual size - 4");
    CHECK(view_patched(bytes, n, REC4(0) + 56, 8, rlen - 1, 1) == SCALPEL_ERR_CORRUPT, "residual size odd");
    CHECK(view_patched(bytes, n, REC4(0) + 56, 8, 0, 1) == SCALPEL_ERR_CORRUPT, "residual size 0");
    CHECK(view_patched(bytes, n, REC4(0) + 56, 8, UINT64_MAX - 3u, 1) == SCALPEL_ERR_CORRUPT, "residual size 2^64-4");
    CHECK(view_patched(bytes, n, REC4(0) + 48, 8, rq + 4, 1) == SCALPEL_ERR_CORRUPT, "residual misaligned");
    CHECK(view_patched(bytes, n, REC4(0) + 48, 8, 0, 1) == SCALPEL_ERR_CORRUPT, "residual offset 0");
    CHECK(view_patched(bytes, n, REC4(0) + 48, 8, rq + 64, 1) == SCALPEL_ERR_CORRUPT, "residual offset moved");
    CHECK(view_patched(bytes, n, REC4(0) + 48, 8, UINT64_MAX - 63u, 1) == SCALPEL_ERR_CORRUPT, "residual offset near 2^64");
    CHECK(view_patched(bytes, n, REC4(2) + 56, 8, tlen - 4, 1) == SCALPEL_ERR_CORRUPT, "series size - 4");
    CHECK(view_patched(bytes, n, REC4(2) + 56, 8, tlen + 4, 1) == SCALPEL_ERR_CORRUPT, "series size + 4");
    CHECK(view_patched(bytes, n, REC4(2) + 56, 8, 0, 1) == SCALPEL_ERR_CORRUPT, "series size 0");
    CHECK(view_patched(bytes, n, REC4(2) + 56, 8, t2 - tq, 1) == SCALPEL_ERR_CORRUPT, "series of one term's size");
    CHECK(view_patched(bytes, n, rq + rlen, 1, 9, 1) == SCALPEL_ERR_CORRUPT, "gap after the residual");
    /* inside the residual's buffer, its own checksum repaired too */
    CHECK(view_patched(bytes, n, rq + 60, 1, bytes[rq + 60] ^ 1u, 1) == SCALPEL_ERR_CORRUPT, "residual's checksum");
    CHECK(view_patched_inner(bytes, n, rq + 0, 1, 'X', rq, rlen) == SCALPEL_ERR_CORRUPT, "residual's magic");
    CHECK(view_patched_inner(bytes, n, rq + 4, 2, 2, rq, rlen) == SCALPEL_ERR_CORRUPT, "residual's version");
    CHECK(view_patched_inner(bytes, n, rq + 8, 4, 1, rq, rlen) == SCALPEL_ERR_CORRUPT, "residual q15");
    CHECK(view_patched_inner(bytes, n, rq + 12, 4, 2, rq, rlen) == SCALPEL_ERR_CORRUPT, "residual G = 2");
    CHECK(view_patched_inner(bytes, n, rq + 16, 4, 32, rq, rlen) == SCALPEL_ERR_CORRUPT, "residual index bits");
    CHECK(view_patched_inner(bytes, n, rq + 20, 4, rows - 1, rq, rlen) == SCALPEL_ERR_CORRUPT, "residual rows");
    CHECK(view_patched_inner(bytes, n, rq + 24, 4, 11, rq, rlen) == SCALPEL_ERR_CORRUPT, "residual cols");
    CHECK(view_patched_inner(bytes, n, rq + 28, 4, (uint64_t)net.layers[0].residual.nnz_groups + 1u, rq, rlen) ==
              SCALPEL_ERR_CORRUPT, "residual nnz");
    CHECK(view_patched_inner(bytes, n, rq + 32, 8, rlen + 4, rq, rlen) == SCALPEL_ERR_CORRUPT, "residual's total");
    CHECK(view_patched_inner(bytes, n, rq + 40, 1, 1, rq, rlen) == SCALPEL_ERR_CORRUPT, "residual's reserved bytes");
    CHECK(view_patched_inner(bytes, n, rq + 48, 4, 1, rq, rlen) == SCALPEL_ERR_CORRUPT, "residual row_ptr[0] = 1");
    CHECK(view_patched_inner(bytes, n, rq + 48 + 4 * (rows + 1), 2, 10, rq, rlen) == SCALPEL_ERR_CORRUPT,
          "residual column past cols");
    CHECK(view_patched_inner(bytes, n, rlen - 8 + rq, 4, 0x7fc00000u, rq, rlen) == SCALPEL_ERR_CORRUPT, "residual NaN");
    {   /* a residual weight inside a stored group of the grouped part: not an exact split */
        const scalpel_gcsr *G = &net.layers[0].sparse, *R = &net.layers[0].residual;
        int32_t r, done = 0;
        for (r = 0; r < G->rows && !done; r++)
            if (G->row_ptr[r + 1] > G->row_ptr[r] && R->row_ptr[r + 1] > R->row_ptr[r]) {
                uint32_t c = scalpel_gcsr_col(G, G->row_ptr[r]);
                int32_t k = R->row_ptr[r];
                int ordered = (k == R->row_ptr[r] || scalpel_gcsr_col(R, k - 1) < c) &&
                              (k + 1 == R->row_ptr[r + 1] || scalpel_gcsr_col(R, k + 1) > c);
                if (!ordered) continue;
                CHECK(view_patched_inner(bytes, n, rq + 48 + 4 * (rows + 1) + 2 * (size_t)k, 2, c, rq, rlen) ==
                          SCALPEL_ERR_CORRUPT, "residual weight inside a stored group");
                done = 1;
            }
        CHECK(done, "a row with both parts");
    }
    /* inside the terms' buffers */
    CHECK(view_patched(bytes, n, tq + 49, 1, bytes[tq + 49] ^ 1u, 1) == SCALPEL_ERR_CORRUPT, "term's checksum");
    CHECK(view_patched_inner(bytes, n, tq + 0, 1, 'X', tq, t2 - tq) == SCALPEL_ERR_CORRUPT, "term's magic");
    CHECK(view_patched_inner(bytes, n, tq + 8, 4, 1, tq, t2 - tq) == SCALPEL_ERR_CORRUPT, "term q15");
    CHECK(view_patched_inner(bytes, n, tq + 12, 4, 2, tq, t2 - tq) == SCALPEL_ERR_CORRUPT, "term's N");
    CHECK(view_patched_inner(bytes, n, tq + 16, 4, 4, tq, t2 - tq) == SCALPEL_ERR_CORRUPT, "term's M");
    CHECK(view_patched_inner(bytes, n, tq + 20, 4, 2, tq, t2 - tq) == SCALPEL_ERR_CORRUPT, "term's rows");
    CHECK(view_patched_inner(bytes, n, tq + 24, 4, 5, tq, t2 - tq) == SCALPEL_ERR_CORRUPT, "term's cols");
    CHECK(view_patched_inner(bytes, n, tq + 28, 4, 1, tq, t2 - tq) == SCALPEL_ERR_CORRUPT, "term's reserved field");
    CHECK(view_patched_inner(bytes, n, tq + 32, 8, tlen, tq, t2 - tq) == SCALPEL_ERR_CORRUPT, "term's total");
    CHECK(view_patched_inner(bytes, n, tq + 48, 1, 0xff, tq, t2 - tq) == SCALPEL_ERR_CORRUPT, "term's positions");
    CHECK(view_patched_inner(bytes, n, tq + 48 + 3, 1, 1, tq, t2 - tq) == SCALPEL_ERR_CORRUPT, "term's meta padding");
    CHECK(view_patched_inner(bytes, n, t2 - 8, 4, 0xff800000u, tq, t2 - tq) == SCALPEL_ERR_CORRUPT, "term's -inf");
    CHECK(view_patched_inner(bytes, n, t2 + 16, 4, 2, t2, tq + tlen - t2) == SCALPEL_ERR_CORRUPT, "second term's M");
    free(bytes);
    scalpel_net_free(&net);
}

static void test_decomposed(void)
{
    scalpel_net net, v;
    size_t n = 0, written = 0;
    unsigned char *bytes;
    void *raw;
    scalpel_layer room[16];
    CHECK(build_decomposed(&net), "decomposed network builds");
    CHECK(net.layers[0].storage == SCALPEL_STORAGE_HYBRID && net.layers[0].sparse.nnz_groups > 0 &&
              net.layers[0].residual.nnz_groups > 0 && net.layers[8].series->n_terms == 0 &&
              net.layers[7].series->terms[1].m == 2,
          "hybrids with both parts, a series of no terms, mixed M");
    test_round_trip("decomposed", &net, 1);
    test_round_trip("decomposed_batch3", &net, 3);
    bytes = to_bytes(&net, &n);
    CHECK(bytes != NULL && bytes[4] == 4, "a decomposed network needs version 4");
    if (bytes != NULL) {
        unsigned char *p = aligned_copy(bytes, n, 0, &raw);
        memset(&v, 0x5a, sizeof(v));
        CHECK(scalpel_net_view_with(p, n, room, 16, &v) == SCALPEL_ERR_UNSUPPORTED && v.n_layers == 0,
              "view_with refuses TASD layers (their series would need memory)");
        for (test_alloc_fail_at = 0; test_alloc_fail_at < 64; test_alloc_fail_at++) { /* layers, series */
            scalpel_status st;
            test_alloc_count = 0;
            st = scalpel_net_view(p, n, &v);
            if (st == SCALPEL_OK) { scalpel_net_free(&v); break; }
            CHECK(st == SCALPEL_ERR_NO_MEMORY && v.n_layers == 0 && v.layers == NULL, "view, allocation %ld fails",
                  test_alloc_fail_at);
        }
        CHECK(test_alloc_fail_at > 4 && test_alloc_fail_at < 64, "view allocates the series (%ld)", test_alloc_fail_at);
        test_alloc_fail_at = -1;
        free(raw);
        free(bytes);
    }
    {   /* a value that is not finite is refused by the writer */
        float *rv = (float *)net.layers[0].residual.values, keep = rv[0];
        unsigned char *buf = (unsigned char *)malloc(scalpel_net_serialized_size(&net) + 1);
        rv[0] = (float)(1e30 * 1e30);
        CHECK(scalpel_net_serialize(&net, buf, scalpel_net_serialized_size(&net), &written) == SCALPEL_ERR_ARGUMENT &&
                  written == 0, "serialize an infinite residual weight");
        rv[0] = keep;
        keep = net.layers[4].series->terms[1].values[0];
        net.layers[4].series->terms[1].values[0] = (float)(1e30 * 1e30) * 0.0f;
        CHECK(scalpel_net_serialize(&net, buf, scalpel_net_serialized_size(&net), &written) == SCALPEL_ERR_ARGUMENT,
              "serialize a NaN term value");
        net.layers[4].series->terms[1].values[0] = keep;
        free(buf);
    }
    {   /* what does not take these storages says so, and writes nothing */
        char path[512];
        float calib[72];
        scalpel_qnet q;
        scalpel_quant_options qo;
        scalpel_hw_profile hw;
        static scalpel_plan plan;
        memset(calib, 0, sizeof(calib));
        memset(&qo, 0, sizeof(qo));
        qo.dtype = SCALPEL_DTYPE_Q15;
        path_in(path, "test_netfile_decomposed.h");
        CHECK(scalpel_net_export_c(&net, "decomposed", path) == SCALPEL_ERR_UNSUPPORTED && !file_exists(path),
              "C export refuses HYBRID and TASD layers");
        CHECK(scalpel_qnet_quantize(&net, &qo, calib, 1, &q) == SCALPEL_ERR_UNSUPPORTED && q.n_layers == 0,
              "quantization refuses them");
        CHECK(scalpel_hw_profile_host(&hw) == SCALPEL_OK &&
                  scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_UNSUPPORTED,
              "the Scalpel planner refuses them");
    }
    scalpel_net_free(&net);
    CHECK(build_small_decomposed(&net), "small decomposed network builds");
    test_round_trip("small_decomposed", &net, 2);
    scalpel_net_free(&net);
    CHECK(build_wide_hybrid(&net), "wide hybrid builds");
    test_round_trip("wide_hybrid", &net, 1);
    scalpel_net_free(&net);
    {   /* hybrid only: a zero-copy view into the caller's layers */
        float *ref, *got;
        int ok = scalpel_net_init(1, 2, 5, &net) == SCALPEL_OK && add_fc(&net, 6, 1, 0.4f) == SCALPEL_OK &&
                 decompose_layer(&net, 0, 2, NULL) && scalpel_net_add_relu(&net) == SCALPEL_OK &&
                 add_fc(&net, 3, 0, 0.0f) == SCALPEL_OK && decompose_layer(&net, 2, 4, NULL);
        CHECK(ok, "hybrid-only network");
        bytes = to_bytes(&net, &n);
        ref = (float *)malloc(3 * sizeof(float));
        got = (float *)malloc(3 * sizeof(float));
        if (bytes != NULL) {
            unsigned char *p = aligned_copy(bytes, n, 0, &raw);
            CHECK(scalpel_net_view_with(p, n, room, 16, &v) == SCALPEL_OK && v.layers == room && v.n_layers == 3,
                  "view_with of hybrid layers");
            CHECK(room[0].residual.values != NULL && (const unsigned char *)room[0].residual.values > p &&
                      (const unsigned char *)room[0].residual.values < p + n, "the residual points into the file");
            CHECK(run_net(&net, 1, ref) && run_net(&v, 1, got) && memcmp(ref, got, 3 * sizeof(float)) == 0,
                  "view_with computes the same outputs");
            free(raw);
            free(bytes);
        }
        free(ref);
        free(got);
        scalpel_net_free(&net);
    }
    test_decomposed_fields();
    test_corruptions_of("small decomposed", build_small_decomposed);
}

/* ---- version 4's header: the input preprocessing and the packed batch ---------------------- */

/* Network 3: a batchnorm first doing the input preprocessing (LAYER), then fc; packed for 8. */
static int build_meta(scalpel_net *net)
{
    static const float scale[3] = { 4.0f, 2.0f, 1.0f }, shift[3] = { -0.5f, 0.25f, 1.0f };
    int ok = scalpel_net_init(3, 2, 2, net) == SCALPEL_OK;
    ok &= scalpel_net_add_batchnorm_affine(net, scale, shift) == SCALPEL_OK;
    ok &= add_fc(net, 4, 2, 0.5f) == SCALPEL_OK;
    net->input_norm.where = SCALPEL_INPUT_NORM_LAYER;
    net->input_norm.channels = 3;
    net->input_norm.range = 255.0f;
    net->input_norm.mean[0] = 0.5f; net->input_norm.mean[1] = -0.25f; net->input_norm.mean[2] = -1.0f;
    net->input_norm.std[0] = 1.0f / 1020.0f; net->input_norm.std[1] = 1.0f / 510.0f; net->input_norm.std[2] = 1.0f / 255.0f;
    net->packed_batch = 8;
    return ok && scalpel_net_validate(net) == SCALPEL_OK;
}

static void test_metadata(void)
{
    scalpel_net net, l;
    scalpel_input_norm saved;
    unsigned char *bytes;
    size_t n = 0;
    uint64_t norm_off;
    char path[512];
    static char text[1 << 16];
    size_t len = 0;
    FILE *f;

    CHECK(build_meta(&net), "metadata network");
    test_round_trip("meta", &net, 2);
    bytes = to_bytes(&net, &n);
    if (bytes == NULL) { CHECK(0, "serialize meta"); scalpel_net_free(&net); return; }
    CHECK(bytes[4] == 4 && bytes[5] == 0, "the header's metadata makes it version 4");
    CHECK(scalpel_net_load_buffer(bytes, n, &l) == SCALPEL_OK, "load meta");
    CHECK(memcmp(&l.input_norm, &net.input_norm, sizeof net.input_norm) == 0 && l.packed_batch == 8,
          "input_norm and packed_batch read back exactly");
    scalpel_net_free(&l);
    /* the hostile header: each field out of what the writer writes */
    norm_off = (uint64_t)bytes[48] | ((uint64_t)bytes[49] << 8);
    CHECK(norm_off % 64 == 0 && norm_off > 64, "the array sits on a 64-byte boundary");
    CHECK(view_patched(bytes, n, 28, 4, 2, 1) == SCALPEL_ERR_CORRUPT, "flags 2");
    CHECK(view_patched(bytes, n, 28, 4, 7, 1) == SCALPEL_ERR_CORRUPT, "flags 7");
    CHECK(view_patched(bytes, n, 28, 4, 1, 1) == SCALPEL_ERR_ARGUMENT || view_patched(bytes, n, 28, 4, 1, 1) == SCALPEL_OK,
          "flags 1 (folded): a valid record of another meaning");
    CHECK(view_patched(bytes, n, 28, 4, 0, 1) == SCALPEL_ERR_CORRUPT, "flags 0 with an array");
    CHECK(view_patched(bytes, n, 40, 4, 65537, 1) == SCALPEL_ERR_CORRUPT, "packed batch 65537");
    CHECK(view_patched(bytes, n, 40, 4, 65536, 1) == SCALPEL_OK, "packed batch 65536");
    CHECK(view_patched(bytes, n, 44, 4, 0, 1) == SCALPEL_ERR_CORRUPT, "range 0");
    CHECK(view_patched(bytes, n, 44, 4, 0x7fc00000u, 1) == SCALPEL_ERR_CORRUPT, "range NaN");
    CHECK(view_patched(bytes, n, 44, 4, 0xbf800000u, 1) == SCALPEL_ERR_CORRUPT, "range -1");
    CHECK(view_patched(bytes, n, 48, 8, norm_off + 4, 1) == SCALPEL_ERR_CORRUPT, "array offset off its boundary");
    CHECK(view_patched(bytes, n, 48, 8, norm_off - 64, 1) == SCALPEL_ERR_CORRUPT, "array offset over the weights");
    CHECK(view_patched(bytes, n, 48, 8, (uint64_t)1 << 62, 1) == SCALPEL_ERR_CORRUPT, "array offset past the file");
    CHECK(view_patched(bytes, n, 56, 8, 8, 1) == SCALPEL_ERR_CORRUPT, "one value for a 3-channel record");
    CHECK(view_patched(bytes, n, 56, 8, 16, 1) == SCALPEL_ERR_CORRUPT, "two channels of three");
    CHECK(view_patched(bytes, n, 56, 8, 25, 1) == SCALPEL_ERR_CORRUPT, "size not a multiple of 8");
    CHECK(view_patched(bytes, n, 56, 8, (uint64_t)1 << 63, 1) == SCALPEL_ERR_CORRUPT, "size 2^63");
    CHECK(view_patched(bytes, n, (size_t)norm_off + 12, 4, 0, 1) == SCALPEL_ERR_CORRUPT, "std 0");
    CHECK(view_patched(bytes, n, (size_t)norm_off + 12, 4, 0xbf800000u, 1) == SCALPEL_ERR_CORRUPT, "std -1");
    CHECK(view_patched(bytes, n, (size_t)norm_off, 4, 0x7f800000u, 1) == SCALPEL_ERR_CORRUPT, "mean infinite");
    CHECK(view_patched(bytes, n, (size_t)norm_off - 4, 1, 1, 1) == SCALPEL_ERR_CORRUPT, "a byte in the gap before it");
    CHECK(view_patched(bytes, n, 4, 2, 3, 1) == SCALPEL_ERR_CORRUPT, "version 3 with version 4's fields");
    free(bytes);
    test_corruptions_of("meta", build_meta);

    /* validation of the struct itself */
    saved = net.input_norm;
    net.input_norm.channels = 2;
    CHECK(scalpel_net_validate(&net) == SCALPEL_ERR_ARGUMENT, "2 channels of a 3-channel input");
    net.input_norm = saved;
    net.input_norm.std[1] = 0.0f;
    CHECK(scalpel_net_validate(&net) == SCALPEL_ERR_ARGUMENT, "std 0");
    net.input_norm = saved;
    net.input_norm.mean[3] = 1.0f;
    CHECK(scalpel_net_validate(&net) == SCALPEL_ERR_ARGUMENT, "a value past channels");
    net.input_norm = saved;
    net.input_norm.where = 3;
    CHECK(scalpel_net_validate(&net) == SCALPEL_ERR_ARGUMENT, "where 3");
    net.input_norm = saved;
    net.input_norm.range = -1.0f;
    CHECK(scalpel_net_validate(&net) == SCALPEL_ERR_ARGUMENT, "range -1");
    net.input_norm = saved;
    net.packed_batch = SCALPEL_NET_MAX_PACKED_BATCH + 1;
    CHECK(scalpel_net_validate(&net) == SCALPEL_ERR_ARGUMENT, "packed batch past the limit");
    net.packed_batch = -1;
    CHECK(scalpel_net_validate(&net) == SCALPEL_ERR_ARGUMENT, "packed batch -1");
    net.packed_batch = 8;
    memset(&net.input_norm, 0, sizeof net.input_norm);
    net.input_norm.range = 1.0f;
    CHECK(scalpel_net_validate(&net) == SCALPEL_ERR_ARGUMENT, "no record, but a range");
    net.input_norm = saved;
    CHECK(scalpel_net_validate(&net) == SCALPEL_OK, "restored");

    /* the C export writes both, exactly */
    path_in(path, "test_netfile_meta.h");
    CHECK(scalpel_net_export_c(&net, "meta", path) == SCALPEL_OK, "export meta");
    f = fopen(path, "rb");
    if (f) { len = fread(text, 1, sizeof(text) - 1, f); fclose(f); }
    text[len] = 0;
    CHECK(strstr(text, "{ 2, 3, 255.0f, { 0.5f, -0.25f, -1.0f, 0.0f }, { 0.000980392215f, 0.00196078443f, "
                       "0.00392156886f, 0.0f } },\n    8\n};") != NULL, "the export's input_norm and packed_batch");
    remove(path);

    /* the layer kinds that copy a network keep the record: batch norm folding */
    {
        scalpel_net folded;
        int32_t count = 0;
        CHECK(scalpel_net_fold_batchnorm(&net, &folded, &count) == SCALPEL_OK && count == 0 &&
              memcmp(&folded.input_norm, &net.input_norm, sizeof net.input_norm) == 0,
              "fold_batchnorm keeps the input preprocessing (nothing folds into the input)");
        scalpel_net_free(&folded);
    }
    scalpel_net_free(&net);
}

int main(int argc, char **argv)
{
    scalpel_net net;
    if (argc > 1 && strlen(argv[1]) < sizeof(dir)) strcpy(dir, argv[1]);
    CHECK(build_mixed(&net), "mixed network builds");
    test_round_trip("mixed", &net, 1);
    test_round_trip("mixed_batch3", &net, 3);
    scalpel_net_free(&net);
    CHECK(build_wide(&net), "wide network builds");
    test_round_trip("wide", &net, 1);
    scalpel_net_free(&net);
    CHECK(build_small(&net), "small network builds");
    test_round_trip("small", &net, 2);
    scalpel_net_free(&net);
    CHECK(build_deep(&net), "160-layer network builds");
    CHECK(net.layers[15].geom.from == 2 && scalpel_net_validate(&net) == SCALPEL_OK, "160 layers, some reading back");
    test_round_trip("deep160", &net, 1);
    test_round_trip("deep160_batch2", &net, 2);
    scalpel_net_free(&net);
    test_corruptions();
    test_hostile_fields();
    test_layer_limits();
    test_arguments();
    test_files();
    test_export_floats();
    test_decomposed();
    test_metadata();
    test_hostile_conv();
    return test_summary("test_netfile");
}
