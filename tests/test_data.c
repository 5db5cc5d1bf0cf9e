/* test_data.c - the datasets of scalpel_train.h: IDX reader, MNIST lookup, synthetic digits,
 * shuffling, batches, subsets and splits.
 *
 *   gcc -std=c99 -pedantic -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined \
 *       -DSCALPEL_ZLIB -I. tests/test_data.c -o test_data -lz -lm
 *   ./test_data [MNIST_DIR|-] [SEED_DIR]
 *
 * Without -DSCALPEL_ZLIB (and -lz) the gzip tests check that gzip'd input is refused with
 * SCALPEL_ERR_UNSUPPORTED. MNIST_DIR (the four files, plain or gzip'd) adds the checks on the
 * real data set; SEED_DIR receives seed inputs for tests/fuzz_idx.c. Scratch files go to
 * $TMPDIR (default /tmp) and are removed. */
#include <stdlib.h>

/* An allocator that fails the fail_at-th allocation (counting from 0) and counts live blocks. */
static long fail_at = -1, n_alloc, live;
static void *t_malloc(size_t n)
{
    void *p;
    if (fail_at >= 0 && n_alloc++ == fail_at) return NULL;
    p = malloc(n);
    if (p != NULL) live++;
    return p;
}
static void t_free(void *p)
{
    if (p != NULL) live--;
    free(p);
}
#define SCALPEL_MALLOC(ctx, size) ((void)(ctx), t_malloc(size))
#define SCALPEL_FREE(ctx, p) ((void)(ctx), t_free(p))
#define SCALPEL_IMPLEMENTATION
#include "scalpel_train.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>
#ifdef SCALPEL_ZLIB
#include <zlib.h>
#endif

/* ---- IDX files made here ---- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static void make_header(uint8_t *buf, uint32_t n, uint32_t rows, uint32_t cols)
{
    put_be32(buf, 0x00000803u);
    put_be32(buf + 4, n);
    put_be32(buf + 8, rows);
    put_be32(buf + 12, cols);
}

/* images: n x rows x cols, pixel (i, k) = (i * 31 + k * 7) & 255. Returns the size. */
static size_t make_images(uint8_t *buf, uint32_t n, uint32_t rows, uint32_t cols)
{
    size_t i, total = (size_t)n * rows * cols;
    put_be32(buf, 0x00000803u);
    put_be32(buf + 4, n);
    put_be32(buf + 8, rows);
    put_be32(buf + 12, cols);
    for (i = 0; i < total; i++) buf[16 + i] = (uint8_t)((i / (rows * cols)) * 31 + (i % (rows * cols)) * 7);
    return 16 + total;
}

static size_t make_labels(uint8_t *buf, uint32_t n, const uint8_t *labels)
{
    put_be32(buf, 0x00000801u);
    put_be32(buf + 4, n);
    memcpy(buf + 8, labels, n);
    return 8 + (size_t)n;
}

static int is_zeroed(const scalpel_dataset *ds)
{
    return ds->n == 0 && ds->x == NULL && ds->y == NULL && ds->block == NULL && ds->classes == 0;
}

/* from_idx on exact-size heap copies, so that ASan sees a read one byte past either end. */
static scalpel_status from_copies(const uint8_t *a, size_t na, const uint8_t *b, size_t nb, scalpel_dataset *ds)
{
    uint8_t *ca = (uint8_t *)malloc(na ? na : 1), *cb = (uint8_t *)malloc(nb ? nb : 1);
    scalpel_status st;
    memcpy(ca, a, na);
    memcpy(cb, b, nb);
    st = scalpel_dataset_from_idx(ca, na, cb, nb, ds);
    free(ca);
    free(cb);
    return st;
}

static uint8_t IMG[16 + 5 * 4 * 3], LAB[8 + 5];
static size_t NIMG, NLAB;
static const uint8_t LABELS5[5] = { 3, 0, 7, 3, 1 };

static void test_idx_valid(void)
{
    scalpel_dataset ds;
    size_t i;
    int ok = 1;
    NIMG = make_images(IMG, 5, 4, 3);
    NLAB = make_labels(LAB, 5, LABELS5);
    CHECK(from_copies(IMG, NIMG, LAB, NLAB, &ds) == SCALPEL_OK, "valid IDX");
    CHECK(ds.n == 5 && ds.c == 1 && ds.h == 4 && ds.w == 3, "shape %d %d %d %d", (int)ds.n, (int)ds.c, (int)ds.h, (int)ds.w);
    CHECK(ds.classes == 8, "classes = max label + 1: %d", (int)ds.classes);
    for (i = 0; i < 60; i++) ok &= ds.x[i] == (float)IMG[16 + i] / 255.0f;
    CHECK(ok, "pixels are byte / 255");
    CHECK(memcmp(ds.y, LABELS5, 5) == 0, "labels");
    CHECK(scalpel_dataset_validate(&ds) == SCALPEL_OK, "validates");
    scalpel_dataset_free(&ds);
    CHECK(is_zeroed(&ds), "free zeroes");
    scalpel_dataset_free(&ds); /* twice is fine */
    scalpel_dataset_free(NULL);
    {   /* label 255: 256 classes; one sample of 1 x 1 */
        uint8_t im[17], lb[9], l = 255;
        make_images(im, 1, 1, 1);
        make_labels(lb, 1, &l);
        CHECK(from_copies(im, 17, lb, 9, &ds) == SCALPEL_OK && ds.classes == 256, "256 classes");
        scalpel_dataset_free(&ds);
    }
}

static void test_idx_hostile(void)
{
    scalpel_dataset ds;
    uint8_t im[sizeof(IMG) + 1], lb[sizeof(LAB) + 1];
    size_t k;
    int all;
    /* every truncation of either file */
    for (all = 1, k = 0; k < NIMG; k++) {
        scalpel_status st = from_copies(IMG, k, LAB, NLAB, &ds);
        all &= st == SCALPEL_ERR_TRUNCATED && is_zeroed(&ds);
    }
    CHECK(all, "every truncated images file: SCALPEL_ERR_TRUNCATED, output zeroed");
    for (all = 1, k = 0; k < NLAB; k++) all &= from_copies(IMG, NIMG, LAB, k, &ds) == SCALPEL_ERR_TRUNCATED;
    CHECK(all, "every truncated labels file: SCALPEL_ERR_TRUNCATED");
    /* trailing bytes */
    memcpy(im, IMG, NIMG); im[NIMG] = 0;
    memcpy(lb, LAB, NLAB); lb[NLAB] = 0;
    CHECK(from_copies(im, NIMG + 1, LAB, NLAB, &ds) == SCALPEL_ERR_CORRUPT, "trailing image byte");
    CHECK(from_copies(IMG, NIMG, lb, NLAB + 1, &ds) == SCALPEL_ERR_CORRUPT, "trailing label byte");
    /* magic */
    memcpy(im, IMG, NIMG);
    im[0] = 1;
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_MAGIC, "magic byte 0");
    im[0] = 0; im[2] = 0x07;
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_MAGIC, "unknown IDX type");
    im[2] = 0x0D;
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_UNSUPPORTED, "float IDX");
    im[2] = 0x08; im[3] = 4;
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_UNSUPPORTED, "rank 4");
    im[3] = 0;
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_MAGIC, "rank 0");
    CHECK(from_copies(LAB, NLAB, IMG, NIMG, &ds) == SCALPEL_ERR_MAGIC, "files swapped");
    CHECK(from_copies(IMG, NIMG, IMG, NIMG, &ds) == SCALPEL_ERR_MAGIC, "images as labels");
    /* dimensions */
    memcpy(im, IMG, NIMG);
    put_be32(im + 4, 0);
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_SHAPE, "zero samples");
    put_be32(im + 4, 5); put_be32(im + 12, 0);
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_SHAPE, "zero columns");
    put_be32(im + 12, 3); put_be32(im + 4, 6);
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_TRUNCATED, "one sample more than the bytes");
    put_be32(im + 4, 4);
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_CORRUPT, "4 images announced, 5 there");
    CHECK(from_copies(im, NIMG - 12, LAB, NLAB, &ds) == SCALPEL_ERR_SHAPE, "counts differ, sizes right");
    put_be32(im + 4, 0x80000000u);
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_CORRUPT, "count above INT32_MAX");
    put_be32(im + 4, 0x7FFFFFFFu);
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_UNSUPPORTED, "huge count");
    put_be32(im + 8, 0x7FFFFFFFu); put_be32(im + 12, 0x7FFFFFFFu);
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_UNSUPPORTED, "product past 2^64");
    put_be32(im + 4, 1); put_be32(im + 8, 65536); put_be32(im + 12, 65536);
    CHECK(from_copies(im, NIMG, LAB, NLAB, &ds) == SCALPEL_ERR_UNSUPPORTED, "2^32 pixels");
    memcpy(lb, LAB, NLAB);
    put_be32(lb + 4, 0x7FFFFFFFu);
    CHECK(from_copies(IMG, NIMG, lb, NLAB, &ds) == SCALPEL_ERR_UNSUPPORTED, "huge label count");
    put_be32(lb + 4, 6);
    CHECK(from_copies(IMG, NIMG, lb, NLAB, &ds) == SCALPEL_ERR_TRUNCATED, "labels announce one more");
    /* arguments */
    CHECK(scalpel_dataset_from_idx(NULL, 0, LAB, NLAB, &ds) == SCALPEL_ERR_NULL, "NULL images");
    CHECK(scalpel_dataset_from_idx(IMG, NIMG, NULL, 0, &ds) == SCALPEL_ERR_NULL, "NULL labels");
    CHECK(scalpel_dataset_from_idx(IMG, NIMG, LAB, NLAB, NULL) == SCALPEL_ERR_NULL, "NULL out");
    /* random byte damage: an error, or a dataset that validates */
    for (all = 1, k = 0; k < 4000; k++) {
        scalpel_status st;
        memcpy(im, IMG, NIMG);
        memcpy(lb, LAB, NLAB);
        im[test_rand() % NIMG] = (uint8_t)test_rand();
        if (k & 1) lb[test_rand() % NLAB] = (uint8_t)test_rand();
        st = from_copies(im, NIMG, lb, NLAB, &ds);
        if (st == SCALPEL_OK) all &= scalpel_dataset_validate(&ds) == SCALPEL_OK && ds.n == 5;
        else all &= is_zeroed(&ds);
        scalpel_dataset_free(&ds);
    }
    CHECK(all, "random damage: error with zeroed output, or a valid dataset");
}

#ifdef SCALPEL_ZLIB
/* gzip of src[n] into a new buffer (*out_n bytes). level 9, or 0 (stored blocks). */
static uint8_t *gz(const uint8_t *src, size_t n, int level, size_t *out_n)
{
    z_stream z;
    uint8_t *out;
    size_t cap = n + n / 100 + 1024;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
    out = (uint8_t *)malloc(cap);
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) { free(out); deflateEnd(&z); return NULL; }
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static void test_gzip(void)
{
    scalpel_dataset ds, ref;
    size_t gi_n, gl_n, k, bn;
    uint8_t *gi = gz(IMG, NIMG, 9, &gi_n), *gl = gz(LAB, NLAB, 9, &gl_n), *bad, *big, *bomb;
    int all;
    CHECK(scalpel_dataset_gzip_supported() == 1, "gzip supported");
    CHECK(from_copies(IMG, NIMG, LAB, NLAB, &ref) == SCALPEL_OK, "reference");
    CHECK(from_copies(gi, gi_n, gl, gl_n, &ds) == SCALPEL_OK, "both gzip'd");
    CHECK(ds.n == 5 && memcmp(ds.x, ref.x, 60 * sizeof(float)) == 0 && memcmp(ds.y, ref.y, 5) == 0, "same data");
    scalpel_dataset_free(&ds);
    CHECK(from_copies(gi, gi_n, LAB, NLAB, &ds) == SCALPEL_OK && ds.n == 5, "gzip'd images, plain labels");
    scalpel_dataset_free(&ds);
    /* every truncation of the gzip stream */
    for (all = 1, k = 0; k < gi_n; k++) {
        scalpel_status st = from_copies(gi, k, gl, gl_n, &ds);
        all &= st != SCALPEL_OK && is_zeroed(&ds);
        if (k >= 2 && st != SCALPEL_ERR_TRUNCATED && st != SCALPEL_ERR_CORRUPT) all = 0;
    }
    CHECK(all, "every truncated gzip stream: TRUNCATED or CORRUPT");
    /* a flipped bit anywhere after the 10-byte gzip header (deflate data, CRC, length): an
     * error, or (an unused bit of the last deflate byte) exactly the same data */
    bad = (uint8_t *)malloc(gi_n);
    for (all = 1, k = 10; k < gi_n; k++) {
        scalpel_status st;
        memcpy(bad, gi, gi_n);
        bad[k] ^= (uint8_t)(1u << (k % 8));
        st = from_copies(bad, gi_n, gl, gl_n, &ds);
        if (st == SCALPEL_OK) all &= memcmp(ds.x, ref.x, 60 * sizeof(float)) == 0;
        else all &= is_zeroed(&ds); /* CORRUPT mostly; a damaged IDX header decodes to anything */
        scalpel_dataset_free(&ds);
    }
    CHECK(all, "flipped bits in the gzip stream are caught");
    memcpy(bad, gi, gi_n);
    bad[2] = 7; /* compression method */
    CHECK(from_copies(bad, gi_n, gl, gl_n, &ds) == SCALPEL_ERR_CORRUPT, "bad gzip method");
    free(bad);
    /* a second member, and garbage, after the first */
    big = (uint8_t *)malloc(2 * gi_n);
    memcpy(big, gi, gi_n);
    memcpy(big + gi_n, gi, gi_n);
    CHECK(from_copies(big, 2 * gi_n, gl, gl_n, &ds) == SCALPEL_ERR_CORRUPT, "two gzip members");
    big[gi_n] = 0;
    CHECK(from_copies(big, gi_n + 1, gl, gl_n, &ds) == SCALPEL_ERR_CORRUPT, "garbage after the stream");
    free(big);
    /* bomb: a header for 5 samples of 4 x 3, then 64 MiB of zeros (64 KiB compressed) */
    bn = 16 + ((size_t)64 << 20);
    big = (uint8_t *)calloc(bn, 1);
    memcpy(big, IMG, NIMG);
    bomb = gz(big, bn, 9, &k);
    free(big);
    CHECK(bomb != NULL && k < 200000, "bomb made (%lu bytes)", (unsigned long)k);
    if (bomb != NULL) {
        CHECK(from_copies(bomb, k, gl, gl_n, &ds) == SCALPEL_ERR_CORRUPT, "gzip longer than its header: CORRUPT");
        free(bomb);
    }
    /* a tiny stream announcing 60000 x 28 x 28: truncated (and no 47 MB block: the buffer
     * grows only as data arrives) */
    {
        uint8_t h[16], *lz = (uint8_t *)calloc(8 + 60000, 1), *glz;
        size_t glz_n;
        make_header(h, 60000, 28, 28);
        big = gz(h, 16, 9, &k);
        CHECK(from_copies(big, k, gl, gl_n, &ds) == SCALPEL_ERR_SHAPE, "announces 60000, labels 5");
        put_be32(lz, 0x00000801u);
        put_be32(lz + 4, 60000);
        glz = gz(lz, 8 + 60000, 9, &glz_n);
        CHECK(from_copies(big, k, glz, glz_n, &ds) == SCALPEL_ERR_TRUNCATED, "announces 60000, holds 0");
        CHECK(from_copies(big, k - 1, glz, glz_n, &ds) == SCALPEL_ERR_TRUNCATED, "and cut");
        free(big);
        free(glz);
        free(lz);
        make_header(h, 0x40000000u, 1, 1);
        big = gz(h, 16, 9, &k);
        CHECK(from_copies(big, k, gl, gl_n, &ds) == SCALPEL_ERR_UNSUPPORTED, "announces 2^30 pixels");
        free(big);
    }
    scalpel_dataset_free(&ref);
    free(gi);
    free(gl);
}
#else
static void test_gzip(void)
{
    scalpel_dataset ds;
    static const uint8_t fake[20] = { 0x1f, 0x8b, 8, 0 };
    CHECK(scalpel_dataset_gzip_supported() == 0, "no gzip without SCALPEL_ZLIB");
    CHECK(from_copies(fake, 20, LAB, NLAB, &ds) == SCALPEL_ERR_UNSUPPORTED, "gzip'd images refused");
    CHECK(from_copies(IMG, NIMG, fake, 20, &ds) == SCALPEL_ERR_UNSUPPORTED, "gzip'd labels refused");
}
#endif

/* ---- files and MNIST lookup ---- */

static const char *tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t != NULL && t[0] != '\0' ? t : "/tmp";
}

static int write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) return 0;
    if (fwrite(p, 1, n, f) != n) { fclose(f); return 0; }
    return fclose(f) == 0;
}

static int exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f != NULL) fclose(f);
    return f != NULL;
}

static void test_files(void)
{
    char a[512], b[512], dir[512];
    scalpel_dataset ds;
    const char *help = scalpel_dataset_mnist_help();
    sprintf(a, "%s/scalpel_test_data_img", tmpdir());
    sprintf(b, "%s/scalpel_test_data_lab", tmpdir());
    CHECK(write_file(a, IMG, NIMG) && write_file(b, LAB, NLAB), "scratch files written");
    CHECK(scalpel_dataset_load_idx(a, b, &ds) == SCALPEL_OK && ds.n == 5 && ds.classes == 8, "load_idx");
    scalpel_dataset_free(&ds);
    CHECK(scalpel_dataset_load_idx(a, "/nonexistent/scalpel/x", &ds) == SCALPEL_ERR_NOT_FOUND && is_zeroed(&ds), "missing file: NOT_FOUND");
    CHECK(scalpel_dataset_load_idx(NULL, b, &ds) == SCALPEL_ERR_NULL, "NULL path");
    CHECK(scalpel_dataset_load_idx(tmpdir(), b, &ds) != SCALPEL_OK, "a directory is not a file");
    remove(a);
    remove(b);
    /* a fake MNIST test set in the scratch directory (C99 cannot make the MNIST/raw folders
     * of torchvision's layout; left alone if such files are there already) */
    CHECK(scalpel_dataset_mnist("/nonexistent/scalpel", 0, &ds) == SCALPEL_ERR_NOT_FOUND && is_zeroed(&ds), "no MNIST: NOT_FOUND");
    if (getenv(SCALPEL_DATASET_MNIST_ENV) == NULL)
        CHECK(scalpel_dataset_mnist(NULL, 1, &ds) == SCALPEL_ERR_NOT_FOUND, "no dir, no env: NOT_FOUND");
    sprintf(a, "%s/t10k-images-idx3-ubyte", tmpdir());
    sprintf(b, "%s/t10k-labels-idx1-ubyte", tmpdir());
    sprintf(dir, "%s/train-images-idx3-ubyte", tmpdir());
    if (!exists(a) && !exists(b) && !exists(dir) && write_file(a, IMG, NIMG) && write_file(b, LAB, NLAB)) {
        CHECK(scalpel_dataset_mnist(tmpdir(), 0, &ds) == SCALPEL_OK && ds.n == 5, "test files found");
        scalpel_dataset_free(&ds);
        CHECK(scalpel_dataset_mnist(tmpdir(), 1, &ds) == SCALPEL_ERR_NOT_FOUND, "train files absent: NOT_FOUND");
        remove(a);
        remove(b);
    }
    CHECK(strstr(help, "train-images-idx3-ubyte") && strstr(help, "t10k-labels-idx1-ubyte") &&
          strstr(help, SCALPEL_DATASET_MNIST_ENV) && strstr(help, "SCALPEL_ZLIB"), "help names files, env, zlib");
}

/* ---- synthetic digits ---- */

/* FNV-1a over the pixel bytes (x * 255, exact) and labels of a dataset. */
static uint32_t ds_hash(const scalpel_dataset *ds)
{
    uint32_t h = 2166136261u;
    size_t i, total = (size_t)ds->n * ds->c * ds->h * ds->w;
    for (i = 0; i < total; i++) { h ^= (uint32_t)(ds->x[i] * 255.0f + 0.5f); h *= 16777619u; }
    for (i = 0; i < (size_t)ds->n; i++) { h ^= ds->y[i]; h *= 16777619u; }
    return h;
}

static void test_synthetic(void)
{
    scalpel_dataset a, b, c;
    float cent[10][784];
    int32_t cnt[10], i, j, k, correct = 0;
    int range = 1, prefix;
    CHECK(scalpel_dataset_synthetic(3000, 7, &a) == SCALPEL_OK, "synthetic");
    CHECK(scalpel_dataset_synthetic(3000, 7, &b) == SCALPEL_OK, "again");
    CHECK(scalpel_dataset_synthetic(100, 8, &c) == SCALPEL_OK, "other seed");
    CHECK(a.n == 3000 && a.c == 1 && a.h == 28 && a.w == 28 && a.classes == 10, "shape");
    CHECK(scalpel_dataset_validate(&a) == SCALPEL_OK, "validates");
    CHECK(memcmp(a.x, b.x, (size_t)3000 * 784 * sizeof(float)) == 0 && memcmp(a.y, b.y, 3000) == 0, "deterministic");
    CHECK(memcmp(a.x, c.x, 100 * 784 * sizeof(float)) != 0, "seed matters");
    for (i = 0; i < 3000 * 784; i++) range &= a.x[i] >= 0.0f && a.x[i] <= 1.0f;
    CHECK(range, "pixels in [0, 1]");
    for (i = 0, k = 1; i < 3000; i++) k &= a.y[i] == i % 10;
    CHECK(k, "label = i %% 10");
    scalpel_dataset_free(&c);
    CHECK(scalpel_dataset_synthetic(100, 7, &c) == SCALPEL_OK, "prefix");
    prefix = memcmp(a.x, c.x, 100 * 784 * sizeof(float)) == 0;
    CHECK(prefix, "the first 100 of 3000 are the 100");
    /* pinned: the generator is integer arithmetic, identical everywhere */
    CHECK(ds_hash(&c) == 0x3d2f943du, "hash of synthetic(100, 7): 0x%08lx", (unsigned long)ds_hash(&c));
    scalpel_dataset_free(&c);
    /* learnable: nearest centroid over 2000 samples classifies the other 1000 well */
    memset(cent, 0, sizeof(cent));
    memset(cnt, 0, sizeof(cnt));
    for (i = 0; i < 2000; i++) {
        for (j = 0; j < 784; j++) cent[a.y[i]][j] += a.x[(size_t)i * 784 + j];
        cnt[a.y[i]]++;
    }
    for (k = 0; k < 10; k++)
        for (j = 0; j < 784; j++) cent[k][j] /= (float)cnt[k];
    for (i = 2000; i < 3000; i++) {
        int best = 0;
        float bd = 1e30f;
        for (k = 0; k < 10; k++) {
            float d = 0.0f;
            for (j = 0; j < 784; j++) {
                float e = a.x[(size_t)i * 784 + j] - cent[k][j];
                d += e * e;
            }
            if (d < bd) { bd = d; best = k; }
        }
        correct += best == a.y[i];
    }
    printf("synthetic: nearest-centroid accuracy %.1f%%\n", (double)correct / 10.0);
    CHECK(correct >= 400, "nearest centroid %d / 1000 (chance: 100)", (int)correct);
    CHECK(scalpel_dataset_synthetic(0, 1, &c) == SCALPEL_ERR_ARGUMENT, "n = 0");
    CHECK(scalpel_dataset_synthetic(1, 1, NULL) == SCALPEL_ERR_NULL, "NULL out");
    scalpel_dataset_free(&a);
    scalpel_dataset_free(&b);
}

/* ---- shuffle, batches, subsets, splits ---- */

static void test_shuffle_batches(void)
{
    int32_t p[1000], q[1000], seen[1000], i, cnt = -1, k;
    scalpel_dataset ds, s1, s2, hand;
    float xb[7 * 784];
    int32_t yb[7];
    int ok = 1;
    CHECK(scalpel_dataset_shuffle(1000, 42, p) == SCALPEL_OK, "shuffle");
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < 1000; i++) if (p[i] >= 0 && p[i] < 1000) seen[p[i]]++;
    for (i = 0; i < 1000; i++) ok &= seen[i] == 1;
    CHECK(ok, "a permutation");
    scalpel_dataset_shuffle(1000, 42, q);
    CHECK(memcmp(p, q, sizeof(p)) == 0, "same seed, same order");
    scalpel_dataset_shuffle(1000, 43, q);
    CHECK(memcmp(p, q, sizeof(p)) != 0, "other seed, other order");
    scalpel_dataset_shuffle(10, 42, q);
    CHECK(q[0] == 0 && q[1] == 7 && q[2] == 8 && q[3] == 6 && q[9] == 1, "pinned: %d %d %d %d %d %d %d %d %d %d", (int)q[0], (int)q[1], (int)q[2], (int)q[3],
          (int)q[4], (int)q[5], (int)q[6], (int)q[7], (int)q[8], (int)q[9]);
    CHECK(scalpel_dataset_shuffle(0, 1, NULL) == SCALPEL_OK, "n = 0");
    CHECK(scalpel_dataset_shuffle(-1, 1, p) == SCALPEL_ERR_ARGUMENT, "n < 0");
    CHECK(scalpel_dataset_shuffle(3, 1, NULL) == SCALPEL_ERR_NULL, "NULL perm");

    scalpel_dataset_synthetic(30, 3, &ds);
    scalpel_dataset_shuffle(30, 5, p);
    CHECK(scalpel_dataset_batches(&ds, 7) == 5 && scalpel_dataset_batches(&ds, 30) == 1 &&
          scalpel_dataset_batches(&ds, 0) == 0 && scalpel_dataset_batches(NULL, 7) == 0, "batch counts");
    for (ok = 1, k = 0; k < 5; k++) {
        CHECK(scalpel_dataset_batch(&ds, p, 7, k, xb, yb, &cnt) == SCALPEL_OK, "batch %d", (int)k);
        ok &= cnt == (k < 4 ? 7 : 2);
        for (i = 0; i < cnt; i++) {
            ok &= yb[i] == ds.y[p[k * 7 + i]];
            ok &= memcmp(xb + i * 784, ds.x + (size_t)p[k * 7 + i] * 784, 784 * sizeof(float)) == 0;
        }
    }
    CHECK(ok, "batches follow the permutation; the last has 2");
    CHECK(scalpel_dataset_batch(&ds, NULL, 7, 1, xb, NULL, &cnt) == SCALPEL_OK && cnt == 7 &&
          memcmp(xb, ds.x + 7 * 784, 784 * sizeof(float)) == 0, "NULL perm: own order, NULL y");
    CHECK(scalpel_dataset_batch(&ds, p, 7, 5, xb, yb, &cnt) == SCALPEL_ERR_ARGUMENT && cnt == 0, "batch past the end");
    CHECK(scalpel_dataset_batch(&ds, p, 0, 0, xb, yb, &cnt) == SCALPEL_ERR_ARGUMENT, "batch size 0");
    CHECK(scalpel_dataset_batch(&ds, p, 7, 0, NULL, yb, &cnt) == SCALPEL_ERR_NULL, "NULL x");
    p[8] = 30;
    xb[0] = -1.0f;
    CHECK(scalpel_dataset_batch(&ds, p, 7, 1, xb, yb, &cnt) == SCALPEL_ERR_ARGUMENT && xb[0] == -1.0f, "bad perm entry: nothing written");
    p[8] = -1;
    CHECK(scalpel_dataset_batch(&ds, p, 7, 1, xb, yb, &cnt) == SCALPEL_ERR_ARGUMENT, "negative perm entry");

    /* subset and split */
    q[0] = 4; q[1] = 4; q[2] = 29;
    CHECK(scalpel_dataset_subset(&ds, q, 3, &s1) == SCALPEL_OK && s1.n == 3 && s1.classes == 10 &&
          s1.y[2] == ds.y[29] && memcmp(s1.x + 784, ds.x + 4 * 784, 784 * sizeof(float)) == 0, "subset");
    scalpel_dataset_free(&s1);
    q[1] = 30;
    CHECK(scalpel_dataset_subset(&ds, q, 3, &s1) == SCALPEL_ERR_ARGUMENT && is_zeroed(&s1), "subset index out of range");
    CHECK(scalpel_dataset_subset(&ds, q, 0, &s1) == SCALPEL_ERR_ARGUMENT, "subset of 0");
    CHECK(scalpel_dataset_subset(&ds, q, 1, &ds) == SCALPEL_ERR_ARGUMENT && ds.n == 30, "subset into its input");
    CHECK(scalpel_dataset_split(&ds, 20, 9, &s1, &s2) == SCALPEL_OK && s1.n == 20 && s2.n == 10, "split");
    {
        int32_t h1[10] = { 0 }, h0[10] = { 0 };
        double sum0 = 0, sum1 = 0;
        for (i = 0; i < 30; i++) h0[ds.y[i]]++;
        for (i = 0; i < 20; i++) h1[s1.y[i]]++;
        for (i = 0; i < 10; i++) h1[s2.y[i]]++;
        for (i = 0; i < 30 * 784; i++) sum0 += ds.x[i];
        for (i = 0; i < 20 * 784; i++) sum1 += s1.x[i];
        for (i = 0; i < 10 * 784; i++) sum1 += s2.x[i];
        CHECK(memcmp(h0, h1, sizeof(h0)) == 0 && sum0 > sum1 - 1e-3 && sum0 < sum1 + 1e-3, "split keeps every sample once");
        scalpel_dataset_shuffle(30, 9, p);
        CHECK(memcmp(s1.x, ds.x + (size_t)p[0] * 784, 784 * sizeof(float)) == 0 && s2.y[9] == ds.y[p[29]], "split = shuffle + subsets");
    }
    scalpel_dataset_free(&s1);
    scalpel_dataset_free(&s2);
    CHECK(scalpel_dataset_split(&ds, 30, 9, &s1, &s2) == SCALPEL_ERR_ARGUMENT, "split leaving nothing");
    CHECK(scalpel_dataset_split(&ds, 0, 9, &s1, &s2) == SCALPEL_ERR_ARGUMENT, "split of 0");

    /* hand-filled datasets */
    hand = ds;
    hand.block = NULL;
    hand.classes = 5;
    CHECK(scalpel_dataset_validate(&hand) == SCALPEL_ERR_ARGUMENT, "label >= classes");
    hand.classes = 257;
    CHECK(scalpel_dataset_validate(&hand) == SCALPEL_ERR_ARGUMENT, "257 classes");
    hand.classes = 10; hand.h = 0;
    CHECK(scalpel_dataset_validate(&hand) == SCALPEL_ERR_SHAPE, "zero height");
    hand.h = 0x10000; hand.w = 0x10000;
    CHECK(scalpel_dataset_validate(&hand) == SCALPEL_ERR_OVERFLOW, "sample too large");
    CHECK(scalpel_dataset_batch(&hand, NULL, 1, 0, xb, yb, &cnt) == SCALPEL_ERR_OVERFLOW, "batch checks the shape");
    hand.h = 28; hand.w = 28; hand.y = NULL;
    CHECK(scalpel_dataset_validate(&hand) == SCALPEL_ERR_NULL, "NULL labels");
    CHECK(scalpel_dataset_validate(NULL) == SCALPEL_ERR_NULL, "NULL dataset");
    scalpel_dataset_free(&ds);
}

/* ---- allocation failures: NO_MEMORY, nothing leaked, output zeroed ---- */

static void test_alloc_failures(void)
{
    scalpel_dataset ds, s1, s2;
    long k, base;
    int all = 1, done = 0;
#ifdef SCALPEL_ZLIB
    size_t gi_n, gl_n;
    uint8_t *gi = gz(IMG, NIMG, 9, &gi_n), *gl = gz(LAB, NLAB, 9, &gl_n);
#else
    const uint8_t *gi = IMG, *gl = LAB;
    size_t gi_n = NIMG, gl_n = NLAB;
#endif
    for (k = 0; k < 64 && !done; k++) {
        scalpel_status st;
        base = live;
        fail_at = k;
        n_alloc = 0;
        st = scalpel_dataset_from_idx(gi, gi_n, gl, gl_n, &ds);
        fail_at = -1;
        if (st == SCALPEL_OK) {
            done = 1;
            scalpel_dataset_free(&ds);
        } else {
            all &= st == SCALPEL_ERR_NO_MEMORY && is_zeroed(&ds);
        }
        all &= live == base;
    }
    CHECK(all && done, "from_idx: every allocation failure reported, nothing leaked (%ld allocations)", k - 1);
    scalpel_dataset_synthetic(20, 1, &ds);
    for (all = 1, done = 0, k = 0; k < 64 && !done; k++) {
        scalpel_status st;
        base = live;
        fail_at = k;
        n_alloc = 0;
        st = scalpel_dataset_split(&ds, 5, 1, &s1, &s2);
        fail_at = -1;
        if (st == SCALPEL_OK) {
            done = 1;
            scalpel_dataset_free(&s1);
            scalpel_dataset_free(&s2);
        } else {
            all &= st == SCALPEL_ERR_NO_MEMORY && is_zeroed(&s1) && is_zeroed(&s2) && live == base;
        }
    }
    CHECK(all && done, "split: every allocation failure reported, nothing leaked");
    scalpel_dataset_free(&ds);
    CHECK(live == 0, "no block alive at the end: %ld", live);
#ifdef SCALPEL_ZLIB
    free(gi);
    free(gl);
#endif
}

/* ---- the real MNIST ---- */

static void test_mnist(const char *dir)
{
    static const int32_t train_counts[10] = { 5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949 };
    static const int32_t test_counts[10] = { 980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009 };
    int t;
    for (t = 1; t >= 0; t--) {
        scalpel_dataset ds;
        scalpel_status st = scalpel_dataset_mnist(dir, t, &ds);
        int32_t counts[10] = { 0 }, i;
        double sum = 0;
        int range = 1;
        if (st == SCALPEL_ERR_UNSUPPORTED && !scalpel_dataset_gzip_supported()) {
            printf("MNIST %s: skipped, the files are gzip'd and this build has no SCALPEL_ZLIB\n", t ? "train" : "test");
            continue;
        }
        if (st != SCALPEL_OK) {
            CHECK(st == SCALPEL_OK, "MNIST %s from %s: %s", t ? "train" : "test", dir, scalpel_status_string(st));
            if (st == SCALPEL_ERR_NOT_FOUND) printf("%s", scalpel_dataset_mnist_help());
            continue;
        }
        CHECK(ds.n == (t ? 60000 : 10000) && ds.c == 1 && ds.h == 28 && ds.w == 28 && ds.classes == 10, "MNIST shape");
        for (i = 0; i < ds.n; i++) counts[ds.y[i]]++;
        CHECK(memcmp(counts, t ? train_counts : test_counts, sizeof(counts)) == 0, "MNIST label counts");
        CHECK(ds.y[0] == (t ? 5 : 7) && ds.y[1] == (t ? 0 : 2), "first labels");
        for (i = 0; i < ds.n * 784; i++) {
            range &= ds.x[i] >= 0.0f && ds.x[i] <= 1.0f;
            sum += (double)(ds.x[i] * 255.0f + 0.5f) - 0.5;
        }
        CHECK(range, "MNIST pixels in [0, 1]");
        /* byte sums computed from the files with Python's gzip module */
        CHECK((long)(sum + 0.5) == (t ? 1567298545L : 264923200L), "pixel byte sum %.0f", sum);
        printf("MNIST %s: %d samples\n", t ? "train" : "test", (int)ds.n);
        scalpel_dataset_free(&ds);
    }
}

/* ---- seeds for tests/fuzz_idx.c: 4-byte little-endian images length, images, labels ---- */

static void write_seed(const char *dir, const char *name, const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    char path[512];
    uint8_t *buf = (uint8_t *)malloc(4 + na + nb);
    buf[0] = (uint8_t)na; buf[1] = (uint8_t)(na >> 8); buf[2] = (uint8_t)(na >> 16); buf[3] = (uint8_t)(na >> 24);
    memcpy(buf + 4, a, na);
    memcpy(buf + 4 + na, b, nb);
    sprintf(path, "%s/%s", dir, name);
    CHECK(write_file(path, buf, 4 + na + nb), "seed %s", path);
    free(buf);
}

static void write_seeds(const char *dir)
{
    write_seed(dir, "plain", IMG, NIMG, LAB, NLAB);
#ifdef SCALPEL_ZLIB
    {
        size_t gi_n, gl_n;
        uint8_t *gi = gz(IMG, NIMG, 9, &gi_n), *gl = gz(LAB, NLAB, 9, &gl_n), *s;
        write_seed(dir, "gz", gi, gi_n, gl, gl_n);
        write_seed(dir, "gz-images", gi, gi_n, LAB, NLAB);
        free(gi);
        s = gz(IMG, NIMG, 0, &gi_n);
        write_seed(dir, "gz-stored", s, gi_n, gl, gl_n);
        free(s);
        free(gl);
    }
#endif
}

int main(int argc, char **argv)
{
    test_idx_valid();
    test_idx_hostile();
    test_gzip();
    test_files();
    test_synthetic();
    test_shuffle_batches();
    test_alloc_failures();
    if (argc > 1 && strcmp(argv[1], "-") != 0) test_mnist(argv[1]);
    if (argc > 2) write_seeds(argv[2]);
    return test_summary("test_data");
}
