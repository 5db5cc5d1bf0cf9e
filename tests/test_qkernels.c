/* test_qkernels.c - the fixed-point (q15, q7) kernels and the fixed-point grouped CSR.
 *
 * Every fast kernel must equal its plain C `_ref` oracle bit for bit (the sums are exact
 * integers) on random shapes: cols odd or not a multiple of G, rows 0 and 1, n = 1 .. 5, every G,
 * per-layer and per-channel requant, fused ReLU, the extreme values -32768 / -128 and saturated
 * outputs, unaligned inputs, guard values around every output. Inputs are allocated to their
 * exact size so that AddressSanitizer catches any read past them. The oracle itself is checked
 * against integers written out by hand, and a checksum of every kernel's outputs on a fixed
 * input is compared with a constant that must be the same on every target (host, Cortex-M4 DSP,
 * Cortex-M55 Helium). The other operators of the network kinds (im2row of any window,
 * depthwise convolution, pooling, channel scaling, add, rescale, clip, leaky ReLU, hardswish,
 * sigmoid, tanh) the same way: fast == ref on random windows and constants at their limits, in
 * place where documented, the refs against hand-computed integers, sigmoid / tanh against the
 * exact functions over every input (the documented error bounds), and a second checksum.
 * Runs on the host (C, C++, SCALPEL_NO_SIMD, sanitizers) and on emulated Cortex-M3 / M4 / M7 /
 * M55. */
#define SCALPEL_FORMAT_IMPLEMENTATION
#define SCALPEL_KERNELS_IMPLEMENTATION
#include "scalpel_kernels.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#ifndef TEST_ITERS
#define TEST_ITERS 2000      /* random cases per kernel family */
#endif
#ifndef TEST_MAX_DIM
#define TEST_MAX_DIM 300     /* rows and cols drawn up to this */
#endif
#define GUARD 8
#define GUARD_BYTE 0xA5

static const int32_t groups[5] = { 1, 2, 4, 8, 16 };

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        printf("out of memory for %lu bytes: lower TEST_MAX_DIM for this target\n", (unsigned long)n);
        exit(2);
    }
    return p;
}

/* A random integer of the type's range, often an extreme (-max-1, max) or zero. */
static int32_t random_q(int32_t qmax, int32_t extremes)
{
    int32_t k = test_range(0, 15);
    if (extremes && k == 0) return -qmax - 1;
    if (extremes && k == 1) return qmax;
    if (k == 2) return 0;
    return test_range(-qmax - 1, qmax);
}

/* Random weights (esz 2: int16_t, 1: int8_t) with a group-aligned sparsity pattern (gz may
 * differ from the storage G), some rows empty, sometimes all extremes (saturating sums). */
static void random_wq(void *w, size_t esz, int32_t rows, int32_t cols)
{
    int32_t qmax = esz == 2 ? 32767 : 127, gz = groups[test_range(0, 4)], kind = test_range(0, 9), r, c, j;
    int32_t rate = test_range(0, 100);
    for (r = 0; r < rows; r++) {
        int empty = test_range(0, 9) == 0;
        for (c = 0; c < cols; c += gz) {
            int drop = empty || kind == 0 || (kind != 1 && test_range(0, 99) < rate);
            for (j = c; j < c + gz && j < cols; j++) {
                int32_t v = drop ? 0 : kind == 2 ? (test_range(0, 1) ? qmax : -qmax - 1) : random_q(qmax, 1);
                if (esz == 2) ((int16_t *)w)[(size_t)r * cols + j] = (int16_t)v;
                else ((int8_t *)w)[(size_t)r * cols + j] = (int8_t)v;
            }
        }
    }
}

static void random_xq(void *x, size_t esz, size_t n, int extremes)
{
    size_t i;
    int32_t qmax = esz == 2 ? 32767 : 127;
    for (i = 0; i < n; i++) {
        int32_t v = extremes ? (test_range(0, 1) ? qmax : -qmax - 1) : random_q(qmax, 1);
        if (esz == 2) ((int16_t *)x)[i] = (int16_t)v;
        else ((int8_t *)x)[i] = (int8_t)v;
    }
}

/* A random requant for `rows` outputs: shifts around the magnitude of the sums so that outputs
 * spread over the range, sometimes saturating, sometimes 0; bias near the documented limit. */
typedef struct rq_store {
    int64_t bias[TEST_MAX_DIM + 1];
    int32_t mult[TEST_MAX_DIM + 1];
    int8_t shift[TEST_MAX_DIM + 1];
    scalpel_requant rq;
} rq_store;

static void random_rq(rq_store *s, int32_t rows, int32_t shift_lo, int32_t shift_hi)
{
    int32_t i, n;
    s->rq.per_channel = test_range(0, 1);
    s->rq.relu = test_range(0, 1);
    s->rq.bias = test_range(0, 3) == 0 ? NULL : s->bias;
    s->rq.mult = s->mult;
    s->rq.shift = s->shift;
    n = s->rq.per_channel ? rows : 1;
    for (i = 0; i < n || i < 1; i++) {
        int32_t k = test_range(0, 9);
        s->mult[i] = k == 0 ? 0 : k == 1 ? 32768 : test_range(0, 32768);
        s->shift[i] = (int8_t)(k == 2 ? 0 : k == 3 ? 62 : test_range(shift_lo, shift_hi));
    }
    for (i = 0; i < rows; i++) {
        int32_t k = test_range(0, 9);
        int64_t big = ((int64_t)1 << 46) - 1;
        s->bias[i] = k == 0 ? big : k == 1 ? -big : (int64_t)(int32_t)test_rand() * test_range(0, 1 << 10);
    }
}

/* out[GUARD + n + GUARD] bytes: guards filled, the middle poisoned */
static void guard_fill(unsigned char *p, size_t n) { memset(p, GUARD_BYTE, n + 2 * GUARD); }
static int guards_ok(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < GUARD; i++)
        if (p[i] != GUARD_BYTE || p[GUARD + n + i] != GUARD_BYTE) return 0;
    return 1;
}

/* ---- the oracle against integers worked out by hand ---------------------------------------- */

static void test_hand_example(void)
{
    /* W = [1 2 3; -4 5 -6], x = [7 -8 9]: sums 18 and -122; bias 100, -3: 118 and -125 */
    static const int16_t w15[6] = { 1, 2, 3, -4, 5, -6 }, x15[3] = { 7, -8, 9 };
    static const int8_t w7[6] = { 1, 2, 3, -4, 5, -6 }, x7[3] = { 7, -8, 9 };
    int64_t bias[2] = { 100, -3 };
    int32_t mult[2] = { 16384, 0 }, pc_mult[2] = { 3, 1 }, sat_mult[1] = { 32768 };
    int8_t shift[2] = { 15, 0 }, pc_shift[2] = { 0, 2 }, sat_shift[1] = { 0 }, one_shift[1] = { 1 };
    scalpel_requant rq;
    int16_t y15[2], y15f[2];
    int8_t y7[2], y7f[2];
    scalpel_gcsr m;
    uint32_t mem[256 / 4]; /* the _into functions want memory aligned to 4 */
    int32_t g;

    /* x 0.5, rounding half up: 59 and -62.5 + 0.5 = -62 */
    rq.bias = bias; rq.mult = mult; rq.shift = shift; rq.per_channel = 0; rq.relu = 0;
    scalpel_gemv_q15_ref(w15, 2, 3, x15, &rq, y15);
    CHECK(y15[0] == 59 && y15[1] == -62, "q15 half: %d %d", y15[0], y15[1]);
    scalpel_gemv_q7_ref(w7, 2, 3, x7, &rq, y7);
    CHECK(y7[0] == 59 && y7[1] == -62, "q7 half: %d %d", y7[0], y7[1]);
    rq.relu = 1;
    scalpel_gemv_q15_ref(w15, 2, 3, x15, &rq, y15);
    CHECK(y15[0] == 59 && y15[1] == 0, "q15 relu: %d %d", y15[0], y15[1]);
    /* per channel: 118 * 3 = 354; floor((-125 + 2) / 4) = -31 */
    rq.relu = 0; rq.per_channel = 1; rq.mult = pc_mult; rq.shift = pc_shift;
    scalpel_gemv_q15_ref(w15, 2, 3, x15, &rq, y15);
    CHECK(y15[0] == 354 && y15[1] == -31, "q15 per channel: %d %d", y15[0], y15[1]);
    scalpel_gemv_q7_ref(w7, 2, 3, x7, &rq, y7);
    CHECK(y7[0] == 127 && y7[1] == -31, "q7 per channel (saturated): %d %d", y7[0], y7[1]);
    /* x 32768: saturates both ways */
    rq.per_channel = 0; rq.mult = sat_mult; rq.shift = sat_shift;
    scalpel_gemv_q15_ref(w15, 2, 3, x15, &rq, y15);
    CHECK(y15[0] == 32767 && y15[1] == -32768, "q15 saturated: %d %d", y15[0], y15[1]);
    scalpel_gemv_q7_ref(w7, 2, 3, x7, &rq, y7);
    CHECK(y7[0] == 127 && y7[1] == -128, "q7 saturated: %d %d", y7[0], y7[1]);
    /* no bias, shift 1: 18 / 2 + 0.5 -> 9; -122 / 2 + 0.5 -> -61 */
    rq.bias = NULL; rq.mult = pc_mult + 1; rq.shift = one_shift;
    scalpel_gemv_q15_ref(w15, 2, 3, x15, &rq, y15);
    CHECK(y15[0] == 9 && y15[1] == -61, "q15 no bias: %d %d", y15[0], y15[1]);

    /* the same through every kernel and every G (the tail group of G >= 4 reaches past col 2) */
    rq.bias = bias; rq.mult = mult; rq.shift = shift;
    scalpel_gemv_q15(w15, 2, 3, x15, &rq, y15f);
    scalpel_gemv_q15_ref(w15, 2, 3, x15, &rq, y15);
    CHECK(y15f[0] == 59 && y15f[1] == -62 && y15[0] == 59, "q15 fast");
    scalpel_gemv_q7(w7, 2, 3, x7, &rq, y7f);
    CHECK(y7f[0] == 59 && y7f[1] == -62, "q7 fast");
    for (g = 1; g <= 16; g *= 2) {
        CHECK(scalpel_gcsr_from_dense_fixed_into(w15, SCALPEL_DTYPE_Q15, 2, 3, g, mem, sizeof(mem), &m) == SCALPEL_OK, "G %d", (int)g);
        scalpel_gcsr_spmv_q15(&m, x15, &rq, y15f);
        scalpel_gcsr_spmv_q15_ref(&m, x15, &rq, y15);
        CHECK(y15f[0] == 59 && y15f[1] == -62 && y15[0] == 59 && y15[1] == -62, "spmv q15 G %d", (int)g);
        CHECK(scalpel_gcsr_from_dense_fixed_into(w7, SCALPEL_DTYPE_Q7, 2, 3, g, mem, sizeof(mem), &m) == SCALPEL_OK, "G %d", (int)g);
        scalpel_gcsr_spmv_q7(&m, x7, &rq, y7f);
        scalpel_gcsr_spmv_q7_ref(&m, x7, &rq, y7);
        CHECK(y7f[0] == 59 && y7f[1] == -62 && y7[0] == 59 && y7[1] == -62, "spmv q7 G %d", (int)g);
    }
}

/* |sum| at its largest: 65536 products of (-32768)^2 = 2^46, exactly 1 after shift 46 */
static void test_extreme_sums(void)
{
#if !defined(TEST_SMALL_MEMORY)
    const int32_t cols = SCALPEL_QUANT_MAX_COLS;
    int16_t *w = (int16_t *)xmalloc((size_t)cols * 2 * sizeof(int16_t)), *x = (int16_t *)xmalloc((size_t)cols * sizeof(int16_t));
    int8_t *w7 = (int8_t *)xmalloc((size_t)cols * 2), *x7 = (int8_t *)xmalloc((size_t)cols);
    int64_t bias[2] = { 0, ((int64_t)1 << 46) - 1 };
    int32_t mult[2] = { 1, 32768 };
    int8_t shift[2] = { 46, 62 };
    scalpel_requant rq;
    int16_t y[2], yr[2];
    int8_t y7[2], y7r[2];
    int32_t i;
    for (i = 0; i < 2 * cols; i++) { w[i] = -32768; w7[i] = -128; }
    for (i = 0; i < cols; i++) { x[i] = -32768; x7[i] = -128; }
    rq.bias = bias; rq.mult = mult; rq.shift = shift; rq.per_channel = 1; rq.relu = 0;
    CHECK(scalpel_requant_check(&rq, 2) == SCALPEL_OK, "limits accepted");
    scalpel_gemv_q15(w, 2, cols, x, &rq, y);
    scalpel_gemv_q15_ref(w, 2, cols, x, &rq, yr);
    /* row 1: ((2^46 + 2^46 - 1) * 2^15 + 2^61) / 2^62 = 1.5 - 2^-47 -> 1 */
    CHECK(yr[0] == 1 && yr[1] == 1 && y[0] == yr[0] && y[1] == yr[1], "q15 extreme: %d %d %d %d", yr[0], yr[1], y[0], y[1]);
    shift[0] = 30; /* q7: 65536 * 2^14 = 2^30 */
    scalpel_gemv_q7(w7, 2, cols, x7, &rq, y7);
    scalpel_gemv_q7_ref(w7, 2, cols, x7, &rq, y7r);
    CHECK(y7r[0] == 1 && y7[0] == 1 && y7[1] == y7r[1], "q7 extreme: %d %d %d", y7r[0], y7[0], y7[1]);
    free(w); free(x); free(w7); free(x7);
#endif
}

/* ---- every fast kernel against its oracle ------------------------------------------------- */

/* One random case of dtype esz: dense mv and mm, then grouped mv and mm for every G. */
static void one_case(size_t esz, int32_t rows, int32_t cols, int32_t n)
{
    size_t wn = (size_t)rows * cols, xn = (size_t)n * cols, yb = (size_t)rows * n * esz;
    unsigned char *w = (unsigned char *)xmalloc(wn * esz);
    unsigned char *xa = (unsigned char *)xmalloc(xn * esz + esz), *x;
    unsigned char *y = (unsigned char *)xmalloc(yb + 2 * GUARD), *yr = (unsigned char *)xmalloc(yb + 2 * GUARD);
    static rq_store rqs;
    int32_t gi, unaligned = test_range(0, 1);
    scalpel_dtype dt = esz == 2 ? SCALPEL_DTYPE_Q15 : SCALPEL_DTYPE_Q7;
    /* x at an odd element offset half of the time (needs no alignment) */
    x = xa + (unaligned ? esz : 0);
    random_wq(w, esz, rows, cols);
    random_xq(x, esz, xn, test_range(0, 15) == 0);
    /* shifts around where (sum * mult) / 2^shift lands in the output range, either side */
    if (esz == 2) random_rq(&rqs, rows, 18, 50);
    else random_rq(&rqs, rows, 6, 38);

#define RUN2(call_fast, call_ref, what)                                                             \
    do {                                                                                           \
        guard_fill(y, yb);                                                                         \
        guard_fill(yr, yb);                                                                        \
        call_fast;                                                                                 \
        call_ref;                                                                                  \
        CHECK(guards_ok(y, yb) && guards_ok(yr, yb), "%s guards, %dx%d n %d", what, (int)rows, (int)cols, (int)n); \
        CHECK(memcmp(y + GUARD, yr + GUARD, yb) == 0, "%s differs, %dx%d n %d", what, (int)rows, (int)cols, (int)n); \
    } while (0)
    if (esz == 2) {
        const int16_t *W = (const int16_t *)(void *)w, *X = (const int16_t *)(void *)x;
        int16_t *Y = (int16_t *)(void *)(y + GUARD), *YR = (int16_t *)(void *)(yr + GUARD);
        yb = (size_t)rows * esz;
        RUN2(scalpel_gemv_q15(W, rows, cols, X, &rqs.rq, Y), scalpel_gemv_q15_ref(W, rows, cols, X, &rqs.rq, YR), "gemv q15");
        yb = (size_t)rows * n * esz;
        RUN2(scalpel_gemm_q15(W, rows, cols, X, n, &rqs.rq, Y), scalpel_gemm_q15_ref(W, rows, cols, X, n, &rqs.rq, YR), "gemm q15");
    } else {
        const int8_t *W = (const int8_t *)w, *X = (const int8_t *)x;
        int8_t *Y = (int8_t *)(y + GUARD), *YR = (int8_t *)(yr + GUARD);
        yb = (size_t)rows * esz;
        RUN2(scalpel_gemv_q7(W, rows, cols, X, &rqs.rq, Y), scalpel_gemv_q7_ref(W, rows, cols, X, &rqs.rq, YR), "gemv q7");
        yb = (size_t)rows * n * esz;
        RUN2(scalpel_gemm_q7(W, rows, cols, X, n, &rqs.rq, Y), scalpel_gemm_q7_ref(W, rows, cols, X, n, &rqs.rq, YR), "gemm q7");
    }
    for (gi = 0; gi < 5; gi++) {
        scalpel_gcsr m;
        CHECK(scalpel_gcsr_from_dense_fixed(w, dt, rows, cols, groups[gi], NULL, &m) == SCALPEL_OK, "from_dense_fixed");
        CHECK(scalpel_gcsr_validate(&m) == SCALPEL_OK, "validate");
        if (esz == 2) {
            const int16_t *X = (const int16_t *)(void *)x;
            int16_t *Y = (int16_t *)(void *)(y + GUARD), *YR = (int16_t *)(void *)(yr + GUARD);
            yb = (size_t)rows * esz;
            RUN2(scalpel_gcsr_spmv_q15(&m, X, &rqs.rq, Y), scalpel_gcsr_spmv_q15_ref(&m, X, &rqs.rq, YR), "spmv q15");
            /* the grouped oracle equals the dense one: the format loses nothing */
            RUN2(scalpel_gcsr_spmv_q15_ref(&m, X, &rqs.rq, Y), scalpel_gemv_q15_ref((const int16_t *)(void *)w, rows, cols, X, &rqs.rq, YR), "spmv q15 ref vs dense");
            yb = (size_t)rows * n * esz;
            RUN2(scalpel_gcsr_spmm_q15(&m, X, n, &rqs.rq, Y), scalpel_gcsr_spmm_q15_ref(&m, X, n, &rqs.rq, YR), "spmm q15");
        } else {
            const int8_t *X = (const int8_t *)x;
            int8_t *Y = (int8_t *)(y + GUARD), *YR = (int8_t *)(yr + GUARD);
            yb = (size_t)rows * esz;
            RUN2(scalpel_gcsr_spmv_q7(&m, X, &rqs.rq, Y), scalpel_gcsr_spmv_q7_ref(&m, X, &rqs.rq, YR), "spmv q7");
            RUN2(scalpel_gcsr_spmv_q7_ref(&m, X, &rqs.rq, Y), scalpel_gemv_q7_ref((const int8_t *)w, rows, cols, X, &rqs.rq, YR), "spmv q7 ref vs dense");
            yb = (size_t)rows * n * esz;
            RUN2(scalpel_gcsr_spmm_q7(&m, X, n, &rqs.rq, Y), scalpel_gcsr_spmm_q7_ref(&m, X, n, &rqs.rq, YR), "spmm q7");
        }
        scalpel_gcsr_free(&m);
    }
#undef RUN2
    free(w); free(xa); free(y); free(yr);
}

/* Grouped CSR whose values are not 4-aligned (a user's own arena, a struct pointing into a
 * file): the one-word-group kernels load two groups per LDRD on DSP cores, which needs 4-byte
 * alignment, so they must hand such a matrix to the general loop. Values moved to an offset of
 * one element, then every product checked against the oracle. */
static void test_unaligned_values(void)
{
    enum { R = 37, C = 64 };
    static int16_t w15[R * C], x15[C], y15[R], r15[R];
    static int8_t w7[R * C], x7[C], y7[R], r7[R];
    static unsigned char shifted[R * C * 2 + 8];
    static rq_store rqs;
    int32_t i, esz, it;
    for (it = 0; it < 20; it++)
        for (esz = 1; esz <= 2; esz++) {
            scalpel_gcsr m;
            void *orig;
            size_t bytes;
            random_wq(esz == 2 ? (void *)w15 : (void *)w7, (size_t)esz, R, C);
            random_xq(esz == 2 ? (void *)x15 : (void *)x7, (size_t)esz, C, 0);
            random_rq(&rqs, R, esz == 2 ? 18 : 6, esz == 2 ? 50 : 38);
            for (i = 0; i + 4 <= R * C; i += 12) { /* whole aligned groups of zeros, as pruning leaves */
                if (esz == 2) w15[i] = w15[i + 1] = 0;
                else w7[i] = w7[i + 1] = w7[i + 2] = w7[i + 3] = 0;
            }
            CHECK(scalpel_gcsr_from_dense_fixed(esz == 2 ? (void *)w15 : (void *)w7, esz == 2 ? SCALPEL_DTYPE_Q15 : SCALPEL_DTYPE_Q7,
                                                R, C, esz == 2 ? 2 : 4, NULL, &m) == SCALPEL_OK, "unaligned values: from_dense_fixed");
            bytes = (size_t)m.nnz_groups * (size_t)m.group * (size_t)esz;
            orig = m.values;
            memcpy(shifted + esz, orig, bytes);
            m.values = shifted + esz; /* 1 or 2 bytes past a 4-aligned address */
            if (esz == 2) {
                scalpel_gcsr_spmv_q15(&m, x15, &rqs.rq, y15);
                scalpel_gcsr_spmv_q15_ref(&m, x15, &rqs.rq, r15);
                CHECK(memcmp(y15, r15, sizeof y15) == 0, "spmv q15 with values at an odd element differs");
            } else {
                scalpel_gcsr_spmv_q7(&m, x7, &rqs.rq, y7);
                scalpel_gcsr_spmv_q7_ref(&m, x7, &rqs.rq, r7);
                CHECK(memcmp(y7, r7, sizeof y7) == 0, "spmv q7 with values at an odd element differs");
            }
            m.values = orig;
            scalpel_gcsr_free(&m);
        }
}

static void test_random(void)
{
    int32_t it;
    for (it = 0; it < TEST_ITERS; it++) {
        int32_t k = test_range(0, 9);
        int32_t rows = k == 0 ? test_range(0, 1) : test_range(1, TEST_MAX_DIM);
        int32_t cols = k == 1 ? test_range(1, 3) : test_range(1, TEST_MAX_DIM);
        int32_t n = test_range(1, 5);
        one_case(it & 1 ? 2 : 1, rows, cols, n);
    }
}

/* ---- requant, quantize --------------------------------------------------------------------- */

/* The requant's arithmetic on its own, against floor division written out here: the kernels
 * and their oracles share scalpel__requant, so its 32-bit path for shifts >= 33 (and shift 32
 * through scalpel__rq_norm) is checked against an independent formula, over the whole documented domain (|acc + bias| < 2^47,
 * 0 <= mult <= 32768, 0 <= shift <= 62) and at its edges. */
static int32_t requant_by_division(int64_t t, int32_t m, int32_t s, int32_t lo, int32_t hi)
{
    int64_t v = t * m + (s > 0 ? (int64_t)1 << (s - 1) : 0), d = (int64_t)1 << s, q = v / d;
    if (v % d != 0 && v < 0) q--; /* C division truncates; floor goes one lower for negatives */
    return q < lo ? lo : q > hi ? hi : (int32_t)q;
}
static void test_requant_arithmetic(void)
{
    static const int64_t edges[] = { 0, 1, -1, 2, -2, 32767, -32768, ((int64_t)1 << 31) - 1, -((int64_t)1 << 31),
                                     (int64_t)1 << 32, -((int64_t)1 << 32), ((int64_t)1 << 47) - 1,
                                     -((int64_t)1 << 47) + 1, ((int64_t)1 << 46) + 12345, -((int64_t)1 << 46) - 12345 };
    static const int32_t lims[3][2] = { { -32768, 32767 }, { -128, 127 }, { 0, 32767 } };
    int32_t i, bad = 0;
    for (i = 0; i < 200000; i++) {
        int64_t t;
        int32_t m, s, l = test_range(0, 2), got, want;
        if (i < 15 * 63) { /* every edge with every shift, mult at its largest */
            t = edges[i / 63];
            s = i % 63;
            m = 32768;
        } else {
            int32_t bits = test_range(0, 47); /* magnitudes spread over 2^0 .. 2^47 */
            t = (int64_t)(((uint64_t)test_rand() << 32 | test_rand()) & (((uint64_t)1 << bits) - 1));
            if (test_range(0, 1)) t = -t;
            m = test_range(0, 3) == 0 ? 32768 : test_range(0, 32768);
            s = test_range(0, 3) == 0 ? test_range(30, 36) : test_range(0, 62);
        }
        want = requant_by_division(t, m, s, lims[l][0], lims[l][1]);
        got = scalpel__requant(t, m, s, lims[l][0], lims[l][1]);
        if (got == want) { /* and as the kernels call it: shift 32 turned into 33 */
            int32_t mn = m, sn = s;
            scalpel__rq_norm(&mn, &sn);
            got = scalpel__requant(t, mn, sn, lims[l][0], lims[l][1]);
        }
        if (got != want && bad++ < 5) CHECK(0, "requant t=%ld*2^32+%lu m=%d s=%d: %d, by division %d", (long)(t >> 32),
                  (unsigned long)(t & 0xffffffff), (int)m, (int)s, (int)got, (int)want);
        else CHECK(got == want, "requant arithmetic");
    }
}

static void test_requant(void)
{
    int32_t mult, i;
    int8_t shift;
    scalpel_requant rq;
    int32_t m1[2] = { 16384, 32768 };
    int8_t s1[2] = { 14, 62 };
    int64_t b1[2] = { 0, (int64_t)1 << 46 };
    CHECK(scalpel_requant_from_real(1.0, &mult, &shift) == SCALPEL_OK && mult == 16384 && shift == 14, "1.0: %d %d", (int)mult, (int)shift);
    CHECK(scalpel_requant_from_real(0.5, &mult, &shift) == SCALPEL_OK && mult == 16384 && shift == 15, "0.5");
    CHECK(scalpel_requant_from_real(32767.9, &mult, &shift) == SCALPEL_OK && mult == 32768 && shift == 0, "32767.9: %d %d", (int)mult, (int)shift);
    CHECK(scalpel_requant_from_real(16383.99, &mult, &shift) == SCALPEL_OK && mult == 16384 && shift == 0, "16383.99: %d %d", (int)mult, (int)shift);
    CHECK(scalpel_requant_from_real(1e-30, &mult, &shift) == SCALPEL_OK && mult == 0 && shift == 62, "tiny: %d %d", (int)mult, (int)shift);
    CHECK(scalpel_requant_from_real(ldexp(1.0, -50), &mult, &shift) == SCALPEL_OK && mult == 4096 && shift == 62, "2^-50: %d", (int)mult);
    CHECK(scalpel_requant_from_real(0.0, &mult, &shift) == SCALPEL_ERR_ARGUMENT, "0");
    CHECK(scalpel_requant_from_real(-1.0, &mult, &shift) == SCALPEL_ERR_ARGUMENT, "-1");
    CHECK(scalpel_requant_from_real(32768.0, &mult, &shift) == SCALPEL_ERR_ARGUMENT, "2^15");
    CHECK(scalpel_requant_from_real(HUGE_VAL, &mult, &shift) == SCALPEL_ERR_ARGUMENT, "inf");
    CHECK(scalpel_requant_from_real(NAN, &mult, &shift) == SCALPEL_ERR_ARGUMENT, "nan");
    CHECK(scalpel_requant_from_real(1.0, NULL, &shift) == SCALPEL_ERR_NULL, "NULL");
    for (i = 0; i < 20000; i++) {
        /* log-uniform over [2^-40, 2^15) */
        double real = ldexp(1.0 + (double)test_rand() / 4294967296.0, test_range(-40, 14));
        double got;
        CHECK(scalpel_requant_from_real(real, &mult, &shift) == SCALPEL_OK, "ok %g", real);
        got = ldexp((double)mult, -shift);
        CHECK(mult >= 16384 && mult <= 32768 && shift >= 0 && shift <= 62, "range %g: %d %d", real, (int)mult, (int)shift);
        CHECK(fabs(got - real) <= real * ldexp(1.0, -15), "accuracy %g: %d %d", real, (int)mult, (int)shift);
    }

    rq.bias = b1; rq.mult = m1; rq.shift = s1; rq.per_channel = 1; rq.relu = 0;
    CHECK(scalpel_requant_check(&rq, 1) == SCALPEL_OK, "valid");
    CHECK(scalpel_requant_check(&rq, 2) == SCALPEL_ERR_ARGUMENT, "bias 2^46");
    b1[1] = -((int64_t)1 << 46) + 1;
    CHECK(scalpel_requant_check(&rq, 2) == SCALPEL_OK, "bias -(2^46 - 1)");
    m1[1] = 32769;
    CHECK(scalpel_requant_check(&rq, 2) == SCALPEL_ERR_ARGUMENT, "mult 32769");
    m1[1] = -1;
    CHECK(scalpel_requant_check(&rq, 2) == SCALPEL_ERR_ARGUMENT, "mult -1");
    m1[1] = 0; s1[1] = 63;
    CHECK(scalpel_requant_check(&rq, 2) == SCALPEL_ERR_ARGUMENT, "shift 63");
    s1[1] = -1;
    CHECK(scalpel_requant_check(&rq, 2) == SCALPEL_ERR_ARGUMENT, "shift -1");
    rq.per_channel = 0; /* only entry 0 is read */
    CHECK(scalpel_requant_check(&rq, 2) == SCALPEL_OK, "per layer");
    rq.relu = 2;
    CHECK(scalpel_requant_check(&rq, 2) == SCALPEL_ERR_ARGUMENT, "relu 2");
    rq.relu = 0; rq.per_channel = -1;
    CHECK(scalpel_requant_check(&rq, 2) == SCALPEL_ERR_ARGUMENT, "per_channel -1");
    rq.per_channel = 0;
    CHECK(scalpel_requant_check(&rq, -1) == SCALPEL_ERR_SHAPE, "rows -1");
    rq.mult = NULL;
    CHECK(scalpel_requant_check(&rq, 2) == SCALPEL_ERR_NULL, "mult NULL");
    CHECK(scalpel_requant_check(NULL, 2) == SCALPEL_ERR_NULL, "NULL");
}

static void test_quantize(void)
{
    static const float in[] = { 0.0f, 0.5f, -0.5f, 1.4999999f, 1.5f, -1.5f, 2.5f, -2.5f, 0.49999997f, -0.49999997f,
                                126.5f, 127.49f, 127.5f, -128.5f, -129.0f, 32766.5f, 32767.5f, -32768.5f, 1e30f, -1e30f };
    static const int16_t want15[] = { 0, 1, -1, 1, 2, -2, 3, -3, 0, 0, 127, 127, 128, -129, -129, 32767, 32767, -32768, 32767, -32768 };
    static const int8_t want7[] = { 0, 1, -1, 1, 2, -2, 3, -3, 0, 0, 127, 127, 127, -128, -128, 127, 127, -128, 127, -128 };
    const size_t n = sizeof(in) / sizeof(in[0]);
    float xs[sizeof(in) / sizeof(in[0])], back[4], special[4];
    int16_t q15[sizeof(in) / sizeof(in[0])];
    int8_t q7[sizeof(in) / sizeof(in[0])];
    size_t i;
    int32_t v;
    /* scale 0.25: x / scale is exact, so the table's halves stay halves */
    for (i = 0; i < n; i++) xs[i] = in[i] * 0.25f;
    CHECK(scalpel_quantize_f32(xs, n, 0.25f, SCALPEL_DTYPE_Q15, q15) == SCALPEL_OK, "q15");
    CHECK(scalpel_quantize_f32(xs, n, 0.25f, SCALPEL_DTYPE_Q7, q7) == SCALPEL_OK, "q7");
    for (i = 0; i < n; i++) {
        CHECK(q15[i] == want15[i], "q15 of %.9g: %d, want %d", (double)in[i], q15[i], want15[i]);
        CHECK(q7[i] == want7[i], "q7 of %.9g: %d, want %d", (double)in[i], q7[i], want7[i]);
    }
    special[0] = NAN; special[1] = -NAN; special[2] = HUGE_VALF; special[3] = -HUGE_VALF;
    CHECK(scalpel_quantize_f32(special, 4, 1.0f, SCALPEL_DTYPE_Q15, q15) == SCALPEL_OK, "special");
    CHECK(q15[0] == 0 && q15[1] == 0 && q15[2] == 32767 && q15[3] == -32768, "NaN, inf: %d %d %d %d", q15[0], q15[1], q15[2], q15[3]);
    CHECK(scalpel_quantize_f32(special, 4, 1.0f, SCALPEL_DTYPE_Q7, q7) == SCALPEL_OK, "special q7");
    CHECK(q7[0] == 0 && q7[1] == 0 && q7[2] == 127 && q7[3] == -128, "q7 NaN, inf");
    CHECK(scalpel_quantize_f32(xs, n, 0.0f, SCALPEL_DTYPE_Q15, q15) == SCALPEL_ERR_ARGUMENT, "scale 0");
    CHECK(scalpel_quantize_f32(xs, n, -1.0f, SCALPEL_DTYPE_Q15, q15) == SCALPEL_ERR_ARGUMENT, "scale < 0");
    CHECK(scalpel_quantize_f32(xs, n, HUGE_VALF, SCALPEL_DTYPE_Q15, q15) == SCALPEL_ERR_ARGUMENT, "scale inf");
    CHECK(scalpel_quantize_f32(xs, n, NAN, SCALPEL_DTYPE_Q15, q15) == SCALPEL_ERR_ARGUMENT, "scale NaN");
    CHECK(scalpel_quantize_f32(xs, n, 1.0f, SCALPEL_DTYPE_F32, q15) == SCALPEL_ERR_DTYPE, "dtype F32");
    CHECK(scalpel_quantize_f32(NULL, n, 1.0f, SCALPEL_DTYPE_Q15, q15) == SCALPEL_ERR_NULL, "NULL");
    CHECK(scalpel_quantize_f32(NULL, 0, 1.0f, SCALPEL_DTYPE_Q15, NULL) == SCALPEL_OK, "empty");
    CHECK(scalpel_dequantize_f32(q15, 1, 1.0f, (scalpel_dtype)7, back) == SCALPEL_ERR_DTYPE, "dequantize dtype");
    /* round trip: every q15 value, through float and back, at a scale that is not a power of 2 */
    for (v = -32768; v <= 32767; v++) {
        int16_t q = (int16_t)v, r = 0;
        float f = 0.0f;
        scalpel_dequantize_f32(&q, 1, 0.00137f, SCALPEL_DTYPE_Q15, &f);
        scalpel_quantize_f32(&f, 1, 0.00137f, SCALPEL_DTYPE_Q15, &r);
        if (r != q) { CHECK(r == q, "round trip %d -> %g -> %d", (int)v, (double)f, (int)r); break; }
    }
    for (v = -128; v <= 127; v++) {
        int8_t q = (int8_t)v, r = 0;
        float f = 0.0f;
        scalpel_dequantize_f32(&q, 1, 3.7f, SCALPEL_DTYPE_Q7, &f);
        CHECK(f == (float)v * 3.7f, "dequantize q7 %d", (int)v);
        scalpel_quantize_f32(&f, 1, 3.7f, SCALPEL_DTYPE_Q7, &r);
        CHECK(r == q, "q7 round trip %d", (int)v);
    }
}

/* ---- format: build, validate, serialize ---------------------------------------------------- */

static void test_format_fixed(void)
{
    int32_t it;
    static const int16_t w[2 * 5] = { 1, -2, 0, 0, 0,
                                      0, 0, 0, 0, -32768 };
    uint32_t mem[512 / 4], mem2[512 / 4]; /* aligned to 4, as the _into functions want */
    unsigned char buf[512];
    int16_t back[10];
    float fback[10];
    scalpel_gcsr m, d;
    size_t bytes = 0, written = 0;
    /* the hand example: G = 4 keeps (1, -2, 0, 0) at col 0 and (-32768, 0, 0, 0) at col 4 */
    CHECK(scalpel_gcsr_from_dense_fixed_size(w, SCALPEL_DTYPE_Q15, 2, 5, 4, &bytes) == SCALPEL_OK && bytes > 0, "size");
    CHECK(scalpel_gcsr_from_dense_fixed_into(w, SCALPEL_DTYPE_Q15, 2, 5, 4, mem, bytes, &m) == SCALPEL_OK, "into");
    CHECK(m.nnz_groups == 2 && m.row_ptr[1] == 1 && m.row_ptr[2] == 2 && m.dtype == SCALPEL_DTYPE_Q15, "structure");
    CHECK(((uint16_t *)m.col_idx)[0] == 0 && ((uint16_t *)m.col_idx)[1] == 4, "cols");
    CHECK(((int16_t *)m.values)[1] == -2 && ((int16_t *)m.values)[4] == -32768 && ((int16_t *)m.values)[5] == 0, "values");
    CHECK(scalpel_gcsr_to_dense_fixed(&m, back) == SCALPEL_OK && memcmp(back, w, sizeof(w)) == 0, "to_dense_fixed");
    CHECK(scalpel_gcsr_to_dense(&m, fback) == SCALPEL_ERR_DTYPE, "to_dense refuses q15");
    CHECK(scalpel_gcsr_from_dense_fixed_into(w, SCALPEL_DTYPE_Q15, 2, 5, 4, mem, bytes - 1, &d) == SCALPEL_ERR_BUFFER_TOO_SMALL, "small");
    CHECK(scalpel_gcsr_from_dense_fixed_into(w, SCALPEL_DTYPE_F32, 2, 5, 4, mem2, sizeof(mem2), &d) == SCALPEL_ERR_DTYPE, "F32 refused");
    CHECK(scalpel_gcsr_from_dense_fixed_size(w, (scalpel_dtype)9, 2, 5, 4, &bytes) == SCALPEL_ERR_DTYPE && bytes == 0, "dtype 9");
    CHECK(scalpel_gcsr_from_dense_fixed_into(w, SCALPEL_DTYPE_Q15, 2, 5, 3, mem2, sizeof(mem2), &d) == SCALPEL_ERR_GROUP, "G 3");
    /* serialized: values as 16-bit little endian two's complement, padded to 4 */
    CHECK(scalpel_gcsr_serialize(&m, buf, sizeof(buf), &written) == SCALPEL_OK, "serialize");
    CHECK(written == 48 + 12 + 4 + 16 + 4, "size %lu", (unsigned long)written);
    CHECK(buf[48 + 12 + 4 + 2] == 0xFE && buf[48 + 12 + 4 + 3] == 0xFF && buf[48 + 12 + 4 + 9] == 0x80, "value bytes");
    CHECK(scalpel_gcsr_deserialize_size(buf, written, &bytes) == SCALPEL_OK, "deserialize_size");
    CHECK(scalpel_gcsr_deserialize_into(buf, written, mem2, sizeof(mem2), &d) == SCALPEL_OK, "deserialize");
    CHECK(d.dtype == SCALPEL_DTYPE_Q15 && scalpel_gcsr_to_dense_fixed(&d, back) == SCALPEL_OK && memcmp(back, w, sizeof(w)) == 0, "round trip");
    /* a nonzero tail lane (cols 5 .. 7 of group 1) behind a good checksum: refused */
    {
        uint32_t crc;
        buf[48 + 12 + 4 + 12] = 1;
        crc = scalpel_crc32(0, buf, written - 4);
        buf[written - 4] = (unsigned char)crc; buf[written - 3] = (unsigned char)(crc >> 8);
        buf[written - 2] = (unsigned char)(crc >> 16); buf[written - 1] = (unsigned char)(crc >> 24);
        CHECK(scalpel_gcsr_deserialize_into(buf, written, mem2, sizeof(mem2), &d) == SCALPEL_ERR_TAIL, "tail in buffer");
    }
    /* validate per dtype */
    ((int16_t *)m.values)[6] = 3;
    CHECK(scalpel_gcsr_validate(&m) == SCALPEL_ERR_TAIL, "q15 tail");
    ((int16_t *)m.values)[6] = 0;
    m.dtype = SCALPEL_DTYPE_Q7; /* same bytes read as 16 int8: lanes 5..7 of group 1 are bytes 13..15 */
    CHECK(scalpel_gcsr_validate(&m) == SCALPEL_OK, "q7 view");
    ((int8_t *)m.values)[7] = 1;
    CHECK(scalpel_gcsr_validate(&m) == SCALPEL_ERR_TAIL, "q7 tail");
    m.dtype = (scalpel_dtype)3;
    CHECK(scalpel_gcsr_validate(&m) == SCALPEL_ERR_DTYPE, "dtype 3");

    /* random round trips, both dtypes, every G, through memory and through a buffer */
    for (it = 0; it < TEST_ITERS / 10 + 20; it++) {
        int32_t rows = test_range(0, 40), cols = test_range(1, 70), g = groups[test_range(0, 4)];
        size_t esz = it & 1 ? 2 : 1;
        scalpel_dtype dt = esz == 2 ? SCALPEL_DTYPE_Q15 : SCALPEL_DTYPE_Q7;
        unsigned char *dense = (unsigned char *)xmalloc((size_t)rows * cols * esz);
        unsigned char *out = (unsigned char *)xmalloc((size_t)rows * cols * esz);
        unsigned char *sb, *dm;
        size_t cap, dn = 0;
        scalpel_gcsr a, b;
        random_wq(dense, esz, rows, cols);
        CHECK(scalpel_gcsr_from_dense_fixed(dense, dt, rows, cols, g, NULL, &a) == SCALPEL_OK, "build");
        CHECK(scalpel_gcsr_to_dense_fixed(&a, out) == SCALPEL_OK && memcmp(out, dense, (size_t)rows * cols * esz) == 0, "to_dense %d", (int)it);
        cap = scalpel_gcsr_serialized_size(&a);
        sb = (unsigned char *)xmalloc(cap);
        CHECK(cap > 0 && scalpel_gcsr_serialize(&a, sb, cap, &written) == SCALPEL_OK && written == cap, "serialize %d", (int)it);
        CHECK(scalpel_gcsr_deserialize_size(sb, cap, &dn) == SCALPEL_OK, "size");
        dm = (unsigned char *)xmalloc(dn);
        CHECK(scalpel_gcsr_deserialize_into(sb, cap, dm, dn, &b) == SCALPEL_OK, "deserialize %d", (int)it);
        CHECK(b.nnz_groups == a.nnz_groups && b.dtype == dt &&
              memcmp(b.values, a.values, (size_t)a.nnz_groups * (size_t)g * esz) == 0, "same values %d", (int)it);
        free(dense); free(out); free(sb); free(dm);
        scalpel_gcsr_free(&a);
    }
}

/* ---- im2row against im2col ---------------------------------------------------------------- */

static void test_im2row(void)
{
    int32_t it;
    for (it = 0; it < TEST_ITERS / 20 + 20; it++) {
        int32_t c = test_range(1, 3), h = test_range(1, 14), wd = test_range(1, 14), k = test_range(1, 8);
        int32_t s = test_range(1, 3), p = test_range(0, k - 1), oh, ow, q, i, plane, patch;
        int16_t *in, *rows;
        int8_t *in7, *rows7;
        float *fin, *fin7, *col, *col7;
        oh = scalpel_conv_out_dim(h, k, s, p);
        ow = scalpel_conv_out_dim(wd, k, s, p);
        if (oh < 1 || ow < 1) continue;
        plane = oh * ow;
        patch = c * k * k;
        in = (int16_t *)xmalloc((size_t)c * h * wd * sizeof(int16_t));
        in7 = (int8_t *)xmalloc((size_t)c * h * wd);
        fin = (float *)xmalloc((size_t)c * h * wd * sizeof(float));
        fin7 = (float *)xmalloc((size_t)c * h * wd * sizeof(float));
        rows = (int16_t *)xmalloc((size_t)plane * patch * sizeof(int16_t));
        rows7 = (int8_t *)xmalloc((size_t)plane * patch);
        col = (float *)xmalloc((size_t)plane * patch * sizeof(float));
        col7 = (float *)xmalloc((size_t)plane * patch * sizeof(float));
        for (i = 0; i < c * h * wd; i++) {
            in[i] = (int16_t)random_q(32767, 1);
            in7[i] = (int8_t)random_q(127, 1);
            fin[i] = (float)in[i];
            fin7[i] = (float)in7[i];
        }
        scalpel_im2row_q15(in, c, h, wd, k, s, p, rows);
        scalpel_im2row_q7(in7, c, h, wd, k, s, p, rows7);
        scalpel_im2col_f32(fin, c, h, wd, k, s, p, col);
        scalpel_im2col_f32(fin7, c, h, wd, k, s, p, col7);
        for (q = 0; q < plane; q++)
            for (i = 0; i < patch; i++) {
                if ((float)rows[(size_t)q * patch + i] != col[(size_t)i * plane + q] ||
                    (float)rows7[(size_t)q * patch + i] != col7[(size_t)i * plane + q]) {
                    CHECK(0, "im2row c%d h%d w%d k%d s%d p%d at %d,%d", (int)c, (int)h, (int)wd, (int)k, (int)s, (int)p, (int)q, (int)i);
                    q = plane;
                    break;
                }
            }
        test_passed++;
        free(in); free(in7); free(fin); free(fin7); free(rows); free(rows7); free(col); free(col7);
    }
}

/* ReLU and max pooling (q15, q7): fast == ref bit for bit, guard bytes around every output, the
 * oracle checked against a direct max. Max pooling: 2x2 / stride 2 half the time (odd widths
 * and heights: the DSP row's odd output and the unused last column / row), kernel 3 at stride 1
 * and 2, any kernel 1..4 at stride 1..3; unaligned inputs and outputs (q15 by one element). */
static void test_relu_maxpool(void)
{
    int32_t it, e;
    for (it = 0; it < TEST_ITERS / 10 + 40; it++)
        for (e = 0; e < 2; e++) {
            size_t esz = e ? 1 : 2, n = (size_t)(test_range(0, 3) == 0 ? test_range(0, 40) : test_range(1, 4 * TEST_MAX_DIM)), i;
            int32_t in_place = test_range(0, 1), mis = test_range(0, 1), bad = 0;
            int32_t shape = it % 4, K, S, C = test_range(1, 4), H, W, oh, ow, ch, oy, ox, ky, kx;
            size_t nin, nout;
            unsigned char *x = (unsigned char *)xmalloc(n * esz + esz), *y = (unsigned char *)xmalloc(n * esz + 2 * GUARD + esz);
            unsigned char *ref = (unsigned char *)xmalloc(n * esz + 1), *xa = x + mis * esz, *ya = y + mis * esz;
            random_xq(xa, esz, n, 0);
            guard_fill(ya, n * esz);
            if (in_place) memcpy(ya + GUARD, xa, n * esz);
            if (esz == 2) {
                scalpel_relu_q15_ref((const int16_t *)(void *)xa, n, (int16_t *)(void *)ref);
                scalpel_relu_q15((const int16_t *)(void *)(in_place ? ya + GUARD : xa), n, (int16_t *)(void *)(ya + GUARD));
                for (i = 0; i < n; i++) {
                    int16_t v = ((const int16_t *)(void *)xa)[i];
                    bad += ((const int16_t *)(void *)ref)[i] != (v > 0 ? v : 0);
                }
            } else {
                scalpel_relu_q7_ref((const int8_t *)xa, n, (int8_t *)ref);
                scalpel_relu_q7((const int8_t *)(in_place ? ya + GUARD : xa), n, (int8_t *)(ya + GUARD));
                for (i = 0; i < n; i++) {
                    int8_t v = ((const int8_t *)xa)[i];
                    bad += ((const int8_t *)ref)[i] != (v > 0 ? v : 0);
                }
            }
            CHECK(bad == 0 && (n == 0 || memcmp(ya + GUARD, ref, n * esz) == 0), "relu q%d n %lu in place %d",
                  esz == 2 ? 15 : 7, (unsigned long)n, (int)in_place);
            CHECK(guards_ok(ya, n * esz), "relu q%d n %lu wrote outside y", esz == 2 ? 15 : 7, (unsigned long)n);
            free(x); free(y); free(ref);

            if (shape < 2) { K = 2; S = 2; }
            else if (shape == 2) { K = 3; S = test_range(1, 2); }
            else { K = test_range(1, 4); S = test_range(1, 3); }
            H = test_range(K, K + 12);
            W = test_range(K, K + 40);
            oh = (H - K) / S + 1;
            ow = (W - K) / S + 1;
            nin = (size_t)C * H * W;
            nout = (size_t)C * oh * ow;
            x = (unsigned char *)xmalloc(nin * esz + esz);
            y = (unsigned char *)xmalloc(nout * esz + 2 * GUARD + esz);
            ref = (unsigned char *)xmalloc(nout * esz);
            xa = x + mis * esz;
            ya = y + test_range(0, 1) * esz;
            random_xq(xa, esz, nin, 0);
            if (test_range(0, 3) == 0) /* many ties: a few values only */
                for (i = 0; i < nin; i++) {
                    if (esz == 2) ((int16_t *)(void *)xa)[i] = (int16_t)(((int16_t *)(void *)xa)[i] % 3);
                    else ((int8_t *)xa)[i] = (int8_t)(((int8_t *)xa)[i] % 3);
                }
            guard_fill(ya, nout * esz);
            if (esz == 2) {
                scalpel_maxpool_q15_ref((const int16_t *)(void *)xa, C, H, W, K, S, (int16_t *)(void *)ref);
                scalpel_maxpool_q15((const int16_t *)(void *)xa, C, H, W, K, S, (int16_t *)(void *)(ya + GUARD));
            } else {
                scalpel_maxpool_q7((const int8_t *)xa, C, H, W, K, S, (int8_t *)(ya + GUARD));
                scalpel_maxpool_q7_ref((const int8_t *)xa, C, H, W, K, S, (int8_t *)ref);
            }
            bad = 0;
            for (ch = 0; ch < C; ch++)
                for (oy = 0; oy < oh; oy++)
                    for (ox = 0; ox < ow; ox++) {
                        int32_t m = -1000000, got;
                        size_t q = ((size_t)ch * oh + oy) * ow + ox;
                        for (ky = 0; ky < K; ky++)
                            for (kx = 0; kx < K; kx++) {
                                size_t j = ((size_t)ch * H + oy * S + ky) * W + ox * S + kx;
                                int32_t v = esz == 2 ? ((const int16_t *)(void *)xa)[j] : ((const int8_t *)xa)[j];
                                if (v > m) m = v;
                            }
                        got = esz == 2 ? ((const int16_t *)(void *)ref)[q] : ((const int8_t *)ref)[q];
                        bad += got != m;
                    }
            CHECK(bad == 0 && memcmp(ya + GUARD, ref, nout * esz) == 0, "maxpool q%d C%d H%d W%d K%d S%d (%d oracle outputs off)",
                  esz == 2 ? 15 : 7, (int)C, (int)H, (int)W, (int)K, (int)S, (int)bad);
            CHECK(guards_ok(ya, nout * esz), "maxpool q%d C%d H%d W%d K%d S%d wrote outside y", esz == 2 ? 15 : 7, (int)C,
                  (int)H, (int)W, (int)K, (int)S);
            free(x); free(y); free(ref);
        }
    {   /* a window that does not fit writes nothing */
        int16_t x15[4] = { 1, 2, 3, 4 }, y15[2] = { 77, 77 };
        int8_t x7[4] = { 1, 2, 3, 4 }, y7[2] = { 77, 77 };
        scalpel_maxpool_q15(x15, 1, 1, 4, 2, 2, y15);
        scalpel_maxpool_q15_ref(x15, 1, 1, 4, 2, 2, y15);
        scalpel_maxpool_q7(x7, 1, 4, 1, 2, 2, y7);
        scalpel_maxpool_q7_ref(x7, 1, 4, 1, 2, 2, y7);
        CHECK(y15[0] == 77 && y15[1] == 77 && y7[0] == 77 && y7[1] == 77, "maxpool q h or w < kernel writes nothing");
    }
}

/* ---- the other operators of the network kinds: windows, depthwise, pooling, elementwise ---- */

static int32_t qget(const void *p, size_t esz, size_t i)
{
    return esz == 2 ? ((const int16_t *)p)[i] : ((const int8_t *)p)[i];
}
static void qset(void *p, size_t esz, size_t i, int32_t v)
{
    if (esz == 2) ((int16_t *)p)[i] = (int16_t)v;
    else ((int8_t *)p)[i] = (int8_t)v;
}

/* A random window over x [h x w]: kernel 1..5, strides 1..3, dilations 1..dmax, each of the
 * four pads smaller than the dilated kernel (with dmax 1, as pools have, every window then
 * holds a cell of x); *oh and *ow by the floor rule (h + pt + pb - ((kh-1)*dh + 1)) / sh + 1,
 * 0 when even one window does not fit. */
static void random_window(int32_t h, int32_t w, int32_t dmax, scalpel_conv_window *win, int32_t *pb, int32_t *pr,
                          int32_t *oh, int32_t *ow)
{
    int32_t eh, ew, nh, nw;
    win->kh = test_range(1, 5);
    win->kw = test_range(1, 5);
    win->sh = test_range(1, 3);
    win->sw = test_range(1, 3);
    win->dh = test_range(1, dmax);
    win->dw = test_range(1, dmax);
    eh = (win->kh - 1) * win->dh + 1;
    ew = (win->kw - 1) * win->dw + 1;
    win->pt = test_range(0, eh - 1);
    win->pl = test_range(0, ew - 1);
    *pb = test_range(0, eh - 1);
    *pr = test_range(0, ew - 1);
    nh = h + win->pt + *pb - eh;
    nw = w + win->pl + *pr - ew;
    *oh = nh < 0 ? 0 : nh / win->sh + 1;
    *ow = nw < 0 ? 0 : nw / win->sw + 1;
}

#define WIN_FMT "h%d w%d k%dx%d s%d,%d p%d,%d d%d,%d out %dx%d"
#define WIN_ARGS(h, w, win, oh, ow) (int)(h), (int)(w), (int)(win).kh, (int)(win).kw, (int)(win).sh, (int)(win).sw, \
    (int)(win).pt, (int)(win).pl, (int)(win).dh, (int)(win).dw, (int)(oh), (int)(ow)

/* im2row of any window against its formula written out: rows[p][(ch*kh + i)*kw + j] =
 * x[c0 + ch][oy*sh + i*dh - pt][ox*sw + j*dw - pl], 0 outside x; channels [c0, c0 + cn) of a
 * larger x, guard bytes around rows. */
static void test_im2row_window(void)
{
    int32_t it, e;
    for (it = 0; it < TEST_ITERS / 10 + 30; it++)
        for (e = 0; e < 2; e++) {
            size_t esz = e ? 1 : 2, xn, rn, rb, q;
            int32_t c0 = test_range(0, 2), cn = test_range(1, 3), call = c0 + cn + test_range(0, 1);
            int32_t h = test_range(1, 12), w = test_range(1, 12), pb, pr, oh, ow, oy, ox, ch, i, j, bad = 0;
            scalpel_conv_window win;
            unsigned char *x, *rows;
            random_window(h, w, 2, &win, &pb, &pr, &oh, &ow);
            if (oh < 1 || ow < 1) continue;
            xn = (size_t)call * h * w;
            rn = (size_t)oh * ow * cn * win.kh * win.kw;
            rb = rn * esz;
            x = (unsigned char *)xmalloc(xn * esz);
            rows = (unsigned char *)xmalloc(rb + 2 * GUARD);
            random_xq(x, esz, xn, 0);
            guard_fill(rows, rb);
            if (esz == 2) scalpel_im2row_window_q15((const int16_t *)(void *)x, h, w, c0, cn, &win, ow, 0, oh * ow, (int16_t *)(void *)(rows + GUARD));
            else scalpel_im2row_window_q7((const int8_t *)x, h, w, c0, cn, &win, ow, 0, oh * ow, (int8_t *)(rows + GUARD));
            for (oy = 0; oy < oh; oy++)
                for (ox = 0; ox < ow; ox++)
                    for (ch = 0; ch < cn; ch++)
                        for (i = 0; i < win.kh; i++)
                            for (j = 0; j < win.kw; j++) {
                                int32_t iy = oy * win.sh + i * win.dh - win.pt, ix = ox * win.sw + j * win.dw - win.pl;
                                int32_t want = iy < 0 || iy >= h || ix < 0 || ix >= w ? 0 : qget(x, esz, ((size_t)(c0 + ch) * h + iy) * w + ix);
                                q = ((size_t)oy * ow + ox) * cn * win.kh * win.kw + ((size_t)ch * win.kh + i) * win.kw + j;
                                bad += qget(rows + GUARD, esz, q) != want;
                            }
            CHECK(bad == 0, "im2row_window q%d c0 %d cn %d " WIN_FMT ": %d entries off", esz == 2 ? 15 : 7, (int)c0, (int)cn,
                  WIN_ARGS(h, w, win, oh, ow), (int)bad);
            CHECK(guards_ok(rows, rb), "im2row_window q%d " WIN_FMT " wrote outside rows", esz == 2 ? 15 : 7, WIN_ARGS(h, w, win, oh, ow));
            {   /* a block of positions [p0, p0 + np) gives those rows of the whole matrix, exactly sized */
                int32_t P = oh * ow, p0 = test_range(0, P - 1), np = test_range(1, P - p0);
                size_t cols = (size_t)cn * win.kh * win.kw;
                unsigned char *blk = (unsigned char *)xmalloc((size_t)np * cols * esz);
                if (esz == 2) scalpel_im2row_window_q15((const int16_t *)(void *)x, h, w, c0, cn, &win, ow, p0, np, (int16_t *)(void *)blk);
                else scalpel_im2row_window_q7((const int8_t *)x, h, w, c0, cn, &win, ow, p0, np, (int8_t *)blk);
                CHECK(memcmp(blk, rows + GUARD + (size_t)p0 * cols * esz, (size_t)np * cols * esz) == 0,
                      "im2row_window q%d block [%d, %d) of " WIN_FMT, esz == 2 ? 15 : 7, (int)p0, (int)(p0 + np), WIN_ARGS(h, w, win, oh, ow));
                free(blk);
            }
            free(x); free(rows);
        }
}

/* the fast kernel with a scratch of exactly scalpel_dwconv_q_scratch elements (ASan catches
 * any access past it), or the reference */
static void call_dwconv(int ref, size_t esz, const void *x, int32_t c, int32_t h, int32_t w, int32_t mult, const void *wt,
                        const scalpel_conv_window *win, int32_t oh, int32_t ow, const scalpel_requant *rq, void *y)
{
    void *scratch;
    if (esz == 2 && ref) {
        scalpel_dwconv_q15_ref((const int16_t *)x, c, h, w, mult, (const int16_t *)wt, win, oh, ow, rq, (int16_t *)y);
        return;
    }
    if (ref) {
        scalpel_dwconv_q7_ref((const int8_t *)x, c, h, w, mult, (const int8_t *)wt, win, oh, ow, rq, (int8_t *)y);
        return;
    }
    scratch = xmalloc(scalpel_dwconv_q_scratch(win, oh, ow) * esz);
    if (esz == 2)
        scalpel_dwconv_q15((const int16_t *)x, c, h, w, mult, (const int16_t *)wt, win, oh, ow, rq, (int16_t *)scratch,
                           (int16_t *)y);
    else
        scalpel_dwconv_q7((const int8_t *)x, c, h, w, mult, (const int8_t *)wt, win, oh, ow, rq, (int8_t *)scratch, (int8_t *)y);
    free(scratch);
}

/* Depthwise convolution: fast == ref on random windows (dilations, per-side pads, windows
 * partly or wholly in the padding, interior and border outputs), depth multiplier 1..3,
 * per-layer and per-channel requant with and without ReLU, sparse and extreme weights,
 * inputs sometimes all extremes (saturated sums). Inputs exact size, guards around y. */
static void test_dwconv(void)
{
    static rq_store rqs;
    int32_t it, e;
    for (it = 0; it < TEST_ITERS / 4 + 20; it++)
        for (e = 0; e < 2; e++) {
            size_t esz = e ? 1 : 2, xn, wn, yb;
            int32_t c = test_range(1, 4), mult = test_range(1, 3), h = test_range(1, 20), w = test_range(1, 20);
            int32_t pb, pr, oh, ow;
            scalpel_conv_window win;
            unsigned char *x, *wt, *y, *yr;
            random_window(h, w, 2, &win, &pb, &pr, &oh, &ow);
            if (oh < 1 || ow < 1) continue;
            xn = (size_t)c * h * w;
            wn = (size_t)c * mult * win.kh * win.kw;
            yb = (size_t)c * mult * oh * ow * esz;
            x = (unsigned char *)xmalloc(xn * esz);
            wt = (unsigned char *)xmalloc(wn * esz);
            y = (unsigned char *)xmalloc(yb + 2 * GUARD);
            yr = (unsigned char *)xmalloc(yb + 2 * GUARD);
            random_xq(x, esz, xn, test_range(0, 15) == 0);
            random_wq(wt, esz, c * mult, win.kh * win.kw);
            /* sums reach 25 * 2^30 (q15) or 25 * 2^14 (q7): shifts around the output range */
            if (esz == 2) random_rq(&rqs, c * mult, 14, 50);
            else random_rq(&rqs, c * mult, 2, 38);
            guard_fill(y, yb);
            guard_fill(yr, yb);
            call_dwconv(0, esz, x, c, h, w, mult, wt, &win, oh, ow, &rqs.rq, y + GUARD);
            call_dwconv(1, esz, x, c, h, w, mult, wt, &win, oh, ow, &rqs.rq, yr + GUARD);
            CHECK(guards_ok(y, yb) && guards_ok(yr, yb), "dwconv q%d c%d mult %d " WIN_FMT " wrote outside y", esz == 2 ? 15 : 7,
                  (int)c, (int)mult, WIN_ARGS(h, w, win, oh, ow));
            CHECK(memcmp(y + GUARD, yr + GUARD, yb) == 0, "dwconv q%d c%d mult %d " WIN_FMT " per channel %d relu %d: fast != ref",
                  esz == 2 ? 15 : 7, (int)c, (int)mult, WIN_ARGS(h, w, win, oh, ow), (int)rqs.rq.per_channel, (int)rqs.rq.relu);
            free(x); free(wt); free(y); free(yr);
        }
}

/* The 3x3 windows at horizontal stride 1 (MobileNet's, DS-CNN's depthwise layers), which the
 * DSP rung runs two outputs per step: odd and even output widths, padding on every side,
 * vertical strides and dilations, depth multipliers, and requants on both sides of its fast
 * path (shifts 17 .. 32 with |bias| < 2^30, and the others) */
static void test_dwconv3(void)
{
    static rq_store rqs;
    int32_t it, e;
    for (it = 0; it < TEST_ITERS / 6 + 20; it++)
        for (e = 0; e < 2; e++) {
            size_t esz = e ? 1 : 2, xn, wn, yb;
            int32_t c = test_range(1, 3), mult = test_range(1, 2), h = test_range(1, 12), w = test_range(1, 12);
            int32_t pb = test_range(0, 2), pr = test_range(0, 2), oh, ow;
            scalpel_conv_window win;
            unsigned char *x, *wt, *y, *yr;
            win.kh = win.kw = 3;
            win.sw = win.dw = 1;
            win.sh = test_range(1, 2);
            win.dh = test_range(1, 2);
            win.pt = test_range(0, 2 * win.dh);
            win.pl = test_range(0, 2);
            oh = h + win.pt + pb - (2 * win.dh + 1);
            ow = w + win.pl + pr - 3;
            if (oh < 0 || ow < 0) continue;
            oh = oh / win.sh + 1;
            ow = ow + 1;
            xn = (size_t)c * h * w;
            wn = (size_t)c * mult * 9;
            yb = (size_t)c * mult * oh * ow * esz;
            x = (unsigned char *)xmalloc(xn * esz);
            wt = (unsigned char *)xmalloc(wn * esz);
            y = (unsigned char *)xmalloc(yb + 2 * GUARD);
            yr = (unsigned char *)xmalloc(yb + 2 * GUARD);
            random_xq(x, esz, xn, test_range(0, 7) == 0);
            random_wq(wt, esz, c * mult, 9);
            if (esz == 2) random_rq(&rqs, c * mult, 14, 50);
            else random_rq(&rqs, c * mult, 8, 34);
            guard_fill(y, yb);
            guard_fill(yr, yb);
            call_dwconv(0, esz, x, c, h, w, mult, wt, &win, oh, ow, &rqs.rq, y + GUARD);
            call_dwconv(1, esz, x, c, h, w, mult, wt, &win, oh, ow, &rqs.rq, yr + GUARD);
            CHECK(guards_ok(y, yb) && guards_ok(yr, yb), "dwconv3 q%d c%d mult %d " WIN_FMT " wrote outside y",
                  esz == 2 ? 15 : 7, (int)c, (int)mult, WIN_ARGS(h, w, win, oh, ow));
            CHECK(memcmp(y + GUARD, yr + GUARD, yb) == 0, "dwconv3 q%d c%d mult %d " WIN_FMT " per channel %d relu %d: fast != ref",
                  esz == 2 ? 15 : 7, (int)c, (int)mult, WIN_ARGS(h, w, win, oh, ow), (int)rqs.rq.per_channel, (int)rqs.rq.relu);
            free(x); free(wt); free(y); free(yr);
        }
}

static void call_pool(int ref, size_t esz, const void *x, int32_t c, int32_t h, int32_t w, const scalpel_conv_window *win,
                      int32_t pb, int32_t pr, int32_t op, int32_t oh, int32_t ow, void *y)
{
    if (esz == 2)
        (ref ? scalpel_pool_window_q15_ref : scalpel_pool_window_q15)((const int16_t *)x, c, h, w, win, pb, pr, op, oh, ow,
                                                                      (int16_t *)y);
    else
        (ref ? scalpel_pool_window_q7_ref : scalpel_pool_window_q7)((const int8_t *)x, c, h, w, win, pb, pr, op, oh, ow,
                                                                    (int8_t *)y);
}

/* sign(s) * floor((2|s| + n) / (2n)): the documented mean, rounded half away from zero */
static int32_t mean_half_away(int64_t s, int64_t n)
{
    int64_t a = s < 0 ? -s : s, q = (2 * a + n) / (2 * n);
    return (int32_t)(s < 0 ? -q : q);
}

/* Pooling over any window (dilation 1), max and both means: fast == ref, and ref against the
 * documented definition computed here cell by cell (max of the cells inside x, padding never
 * wins; the mean over the cells inside x or inside the padded input [-pt, h + pb) x
 * [-pl, w + pr), rounded half away from zero). Inputs sometimes all extremes (sums of
 * -32768s), sometimes few values (ties, exact halves). */
static void test_pool_window(void)
{
    int32_t it, e;
    for (it = 0; it < TEST_ITERS / 4 + 30; it++)
        for (e = 0; e < 2; e++) {
            size_t esz = e ? 1 : 2, xn, yb, k;
            int32_t c = test_range(1, 4), h = test_range(1, 20), w = test_range(1, 20), op = it % 3;
            int32_t pb, pr, oh, ow, ch, oy, ox, i, j, bad = 0, empty = 0;
            scalpel_conv_window win;
            unsigned char *x, *y, *yr;
            random_window(h, w, 1, &win, &pb, &pr, &oh, &ow);
            if (oh < 1 || ow < 1) continue;
            xn = (size_t)c * h * w;
            yb = (size_t)c * oh * ow * esz;
            x = (unsigned char *)xmalloc(xn * esz);
            y = (unsigned char *)xmalloc(yb + 2 * GUARD);
            yr = (unsigned char *)xmalloc(yb + 2 * GUARD);
            random_xq(x, esz, xn, test_range(0, 7) == 0);
            if (test_range(0, 3) == 0)
                for (k = 0; k < xn; k++) qset(x, esz, k, qget(x, esz, k) % 4);
            guard_fill(y, yb);
            guard_fill(yr, yb);
            call_pool(0, esz, x, c, h, w, &win, pb, pr, op, oh, ow, y + GUARD);
            call_pool(1, esz, x, c, h, w, &win, pb, pr, op, oh, ow, yr + GUARD);
            for (ch = 0; ch < c; ch++)
                for (oy = 0; oy < oh; oy++)
                    for (ox = 0; ox < ow; ox++) {
                        int64_t sum = 0, n = 0, npad = 0;
                        int32_t mx = -1000000, want;
                        for (i = 0; i < win.kh; i++)
                            for (j = 0; j < win.kw; j++) {
                                int32_t iy = oy * win.sh - win.pt + i, ix = ox * win.sw - win.pl + j, v;
                                if (iy < h + pb && ix < w + pr) npad++;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                v = qget(x, esz, ((size_t)ch * h + iy) * w + ix);
                                sum += v;
                                n++;
                                if (v > mx) mx = v;
                            }
                        if (n == 0) { empty++; continue; }
                        want = op == SCALPEL_POOL_OP_MAX ? mx : mean_half_away(sum, op == SCALPEL_POOL_OP_AVG ? n : npad);
                        bad += qget(yr + GUARD, esz, ((size_t)ch * oh + oy) * ow + ox) != want;
                    }
            CHECK(empty == 0, "pool window generator: %d windows without a cell of x", (int)empty);
            CHECK(guards_ok(y, yb) && guards_ok(yr, yb), "pool q%d op %d c%d " WIN_FMT " pb %d pr %d wrote outside y",
                  esz == 2 ? 15 : 7, (int)op, (int)c, WIN_ARGS(h, w, win, oh, ow), (int)pb, (int)pr);
            CHECK(bad == 0, "pool ref q%d op %d c%d " WIN_FMT " pb %d pr %d: %d outputs off the definition", esz == 2 ? 15 : 7,
                  (int)op, (int)c, WIN_ARGS(h, w, win, oh, ow), (int)pb, (int)pr, (int)bad);
            CHECK(memcmp(y + GUARD, yr + GUARD, yb) == 0, "pool q%d op %d c%d " WIN_FMT " pb %d pr %d: fast != ref",
                  esz == 2 ? 15 : 7, (int)op, (int)c, WIN_ARGS(h, w, win, oh, ow), (int)pb, (int)pr);
            free(x); free(y); free(yr);
        }
}

static void call_channel_scale(int ref, size_t esz, const void *x, int32_t c, size_t plane, const void *wt,
                               const scalpel_requant *rq, void *y)
{
    if (esz == 2)
        (ref ? scalpel_channel_scale_q15_ref : scalpel_channel_scale_q15)((const int16_t *)x, c, plane, (const int16_t *)wt,
                                                                          rq, (int16_t *)y);
    else
        (ref ? scalpel_channel_scale_q7_ref : scalpel_channel_scale_q7)((const int8_t *)x, c, plane, (const int8_t *)wt, rq,
                                                                        (int8_t *)y);
}

/* Per-channel scaling: fast == ref, out of place and in place (y == x), per-layer and
 * per-channel requant, ReLU, planes of 0 and 1, extreme weights and inputs. */
static void test_channel_scale(void)
{
    static rq_store rqs;
    int32_t it, e;
    for (it = 0; it < TEST_ITERS / 4 + 20; it++)
        for (e = 0; e < 2; e++) {
            size_t esz = e ? 1 : 2, plane = (size_t)(test_range(0, 4) == 0 ? test_range(0, 1) : test_range(1, 3 * TEST_MAX_DIM)), yb, k;
            int32_t c = test_range(1, TEST_MAX_DIM < 16 ? TEST_MAX_DIM : 16), in_place = test_range(0, 1);
            unsigned char *x, *wt, *y, *yr;
            yb = (size_t)c * plane * esz;
            x = (unsigned char *)xmalloc(yb);
            wt = (unsigned char *)xmalloc((size_t)c * esz);
            y = (unsigned char *)xmalloc(yb + 2 * GUARD);
            yr = (unsigned char *)xmalloc(yb + 2 * GUARD);
            random_xq(x, esz, (size_t)c * plane, test_range(0, 15) == 0);
            for (k = 0; k < (size_t)c; k++) qset(wt, esz, k, random_q(esz == 2 ? 32767 : 127, 1));
            /* products reach 2^30 (q15) or 2^14 (q7) */
            if (esz == 2) random_rq(&rqs, c, 10, 46);
            else random_rq(&rqs, c, 2, 30);
            guard_fill(y, yb);
            guard_fill(yr, yb);
            if (in_place) memcpy(y + GUARD, x, yb);
            call_channel_scale(0, esz, in_place ? y + GUARD : x, c, plane, wt, &rqs.rq, y + GUARD);
            call_channel_scale(1, esz, x, c, plane, wt, &rqs.rq, yr + GUARD);
            CHECK(guards_ok(y, yb) && guards_ok(yr, yb), "channel_scale q%d c%d plane %lu wrote outside y", esz == 2 ? 15 : 7,
                  (int)c, (unsigned long)plane);
            CHECK(memcmp(y + GUARD, yr + GUARD, yb) == 0, "channel_scale q%d c%d plane %lu in place %d per channel %d relu %d: fast != ref",
                  esz == 2 ? 15 : 7, (int)c, (unsigned long)plane, (int)in_place, (int)rqs.rq.per_channel, (int)rqs.rq.relu);
            free(x); free(wt); free(y); free(yr);
        }
}

/* The elementwise kernels, one dispatcher: kind, fast or ref, q15 or q7. Parameters: add
 * (a = ma, b = mb, c = shift, relu), rescale (a = mult, c = shift), clip (a = lo, b = hi),
 * leaky ReLU (a = slope, c = shift), hardswish (a = three, b = six, d = mult, c = shift),
 * sigmoid and tanh (a = mult, c = shift). */
enum { EW_ADD, EW_RESCALE, EW_CLIP, EW_LEAKY, EW_HARDSWISH, EW_SIGMOID, EW_TANH, EW_KINDS };
static const char *const ew_names[EW_KINDS] = { "add", "rescale", "clip", "leaky_relu", "hardswish", "sigmoid", "tanh" };
typedef struct ew_params {
    int32_t a, b, c, d;
    int relu;
} ew_params;

static void ew_call(int kind, int ref, size_t esz, const void *x, const void *x2, size_t n, const ew_params *p, void *y)
{
    if (esz == 2) {
        const int16_t *a = (const int16_t *)x, *b = (const int16_t *)x2;
        int16_t *o = (int16_t *)y;
        switch (kind) {
        case EW_ADD: (ref ? scalpel_add_q15_ref : scalpel_add_q15)(a, b, n, p->a, p->b, p->c, p->relu, o); break;
        case EW_RESCALE: (ref ? scalpel_rescale_q15_ref : scalpel_rescale_q15)(a, n, p->a, p->c, o); break;
        case EW_CLIP: (ref ? scalpel_clip_q15_ref : scalpel_clip_q15)(a, n, p->a, p->b, o); break;
        case EW_LEAKY: (ref ? scalpel_leaky_relu_q15_ref : scalpel_leaky_relu_q15)(a, n, p->a, p->c, o); break;
        case EW_HARDSWISH: (ref ? scalpel_hardswish_q15_ref : scalpel_hardswish_q15)(a, n, p->a, p->b, p->d, p->c, o); break;
        case EW_SIGMOID: (ref ? scalpel_sigmoid_q15_ref : scalpel_sigmoid_q15)(a, n, p->a, p->c, o); break;
        default: (ref ? scalpel_tanh_q15_ref : scalpel_tanh_q15)(a, n, p->a, p->c, o); break;
        }
    } else {
        const int8_t *a = (const int8_t *)x, *b = (const int8_t *)x2;
        int8_t *o = (int8_t *)y;
        switch (kind) {
        case EW_ADD: (ref ? scalpel_add_q7_ref : scalpel_add_q7)(a, b, n, p->a, p->b, p->c, p->relu, o); break;
        case EW_RESCALE: (ref ? scalpel_rescale_q7_ref : scalpel_rescale_q7)(a, n, p->a, p->c, o); break;
        case EW_CLIP: (ref ? scalpel_clip_q7_ref : scalpel_clip_q7)(a, n, p->a, p->b, o); break;
        case EW_LEAKY: (ref ? scalpel_leaky_relu_q7_ref : scalpel_leaky_relu_q7)(a, n, p->a, p->c, o); break;
        case EW_HARDSWISH: (ref ? scalpel_hardswish_q7_ref : scalpel_hardswish_q7)(a, n, p->a, p->b, p->d, p->c, o); break;
        case EW_SIGMOID: (ref ? scalpel_sigmoid_q7_ref : scalpel_sigmoid_q7)(a, n, p->a, p->c, o); break;
        default: (ref ? scalpel_tanh_q7_ref : scalpel_tanh_q7)(a, n, p->a, p->c, o); break;
        }
    }
}

/* a multiplier 0 .. 32768, often a limit or 16384 (x 1 at shift 14) */
static int32_t random_mult(void)
{
    int32_t k = test_range(0, 7);
    return k == 0 ? 0 : k == 1 ? 32768 : k == 2 ? 16384 : test_range(0, 32768);
}
/* a shift 0 .. 62: often 0, 32 (turned into 33 by the fast kernels), 33 or 62, else lo .. hi */
static int32_t random_shift(int32_t lo, int32_t hi)
{
    int32_t k = test_range(0, 11);
    return k == 0 ? 0 : k == 1 ? 32 : k == 2 ? 33 : k == 3 ? 62 : k == 4 ? test_range(0, 62) : test_range(lo, hi);
}

/* Constants of kind `kind` at and between their documented limits. */
static void random_ew(int kind, size_t esz, ew_params *p)
{
    int32_t qmax = esz == 2 ? 32767 : 127, k = test_range(0, 7), t;
    p->a = p->b = p->c = p->d = 0;
    p->relu = test_range(0, 1);
    switch (kind) {
    case EW_ADD:
        p->a = random_mult();
        p->b = random_mult();
        p->c = random_shift(12, 18);
        break;
    case EW_RESCALE:
        if (k == 0) { p->a = 16384; p->c = 14; } /* the exact copy */
        else { p->a = random_mult(); p->c = random_shift(8, 22); }
        break;
    case EW_CLIP: /* lo <= hi within the range, sometimes equal or at the ends */
        p->a = test_range(-qmax - 1, qmax);
        p->b = test_range(-qmax - 1, qmax);
        if (p->a > p->b) { t = p->a; p->a = p->b; p->b = t; }
        if (k == 0) p->b = p->a;
        if (k == 1) p->a = -qmax - 1;
        if (k == 2) p->b = qmax;
        break;
    case EW_LEAKY: /* slope -32768 .. 32768 */
        p->a = k == 0 ? -32768 : k == 1 ? 32768 : k == 2 ? 0 : test_range(-32768, 32768);
        p->c = random_shift(10, 20);
        break;
    case EW_HARDSWISH: /* 0 <= three <= six <= 2^30 */
        t = test_range(0, 30);
        p->b = k == 0 ? 0 : k == 1 ? 1 << 30 : (int32_t)(test_rand() & (((uint32_t)1 << t) - 1));
        p->a = k == 2 ? p->b : test_range(0, p->b);
        p->d = random_mult();
        p->c = random_shift(0, 62);
        break;
    default: /* sigmoid, tanh: u = x * mult >> shift spread over Q4.11 or saturated */
        p->a = random_mult();
        p->c = random_shift(esz == 2 ? 10 : 2, esz == 2 ? 20 : 12);
        break;
    }
}

/* Every elementwise kernel: fast == ref on random inputs (extremes, sometimes all extremes)
 * and constants at their limits, n from 0, inputs and outputs at odd element offsets, guard
 * bytes around y; in place (y == x, and y == x2 for add) against the ref out of place; the
 * copy of rescale 16384 / 14 is exact. */
static void test_elementwise(void)
{
    int32_t it, e, kind;
    for (it = 0; it < TEST_ITERS / 2 + 20; it++)
        for (e = 0; e < 2; e++)
            for (kind = 0; kind < EW_KINDS; kind++) {
                size_t esz = e ? 1 : 2, n = (size_t)(test_range(0, 3) == 0 ? test_range(0, 20) : test_range(1, 4 * TEST_MAX_DIM));
                size_t yb = n * esz;
                int32_t mis = test_range(0, 1), in_place = test_range(0, 2); /* 0: out of place, 1: y == x, 2: y == x2 */
                unsigned char *xa = (unsigned char *)xmalloc(yb + esz), *x2 = (unsigned char *)xmalloc(yb);
                unsigned char *y = (unsigned char *)xmalloc(yb + 2 * GUARD + esz), *yr = (unsigned char *)xmalloc(yb + 2 * GUARD);
                unsigned char *x = xa + mis * esz, *ya = y + test_range(0, 1) * esz;
                ew_params p;
                if (kind != EW_ADD && in_place == 2) in_place = 1;
                random_xq(x, esz, n, test_range(0, 15) == 0);
                random_xq(x2, esz, n, test_range(0, 15) == 0);
                random_ew(kind, esz, &p);
                guard_fill(ya, yb);
                guard_fill(yr, yb);
                ew_call(kind, 1, esz, x, x2, n, &p, yr + GUARD);
                if (in_place == 1) memcpy(ya + GUARD, x, yb);
                if (in_place == 2) memcpy(ya + GUARD, x2, yb);
                ew_call(kind, 0, esz, in_place == 1 ? ya + GUARD : x, in_place == 2 ? ya + GUARD : x2, n, &p, ya + GUARD);
                CHECK(guards_ok(ya, yb) && guards_ok(yr, yb), "%s q%d n %lu wrote outside y", ew_names[kind], esz == 2 ? 15 : 7,
                      (unsigned long)n);
                CHECK(memcmp(ya + GUARD, yr + GUARD, yb) == 0, "%s q%d n %lu in place %d consts %ld %ld %ld %ld relu %d: fast != ref",
                      ew_names[kind], esz == 2 ? 15 : 7, (unsigned long)n, (int)in_place, (long)p.a, (long)p.b, (long)p.c,
                      (long)p.d, p.relu);
                if (kind == EW_RESCALE && p.a == 16384 && p.c == 14)
                    CHECK(memcmp(yr + GUARD, x, yb) == 0, "rescale q%d 16384 / 14 is not a copy", esz == 2 ? 15 : 7);
                free(xa); free(x2); free(y); free(yr);
            }
}

/* ---- the new oracles against integers worked out by hand --------------------------------- */

/* Each `_ref` (and its fast kernel, on the same input) against outputs computed by hand, in
 * q15 and q7 where the values fit both. */
static void test_ops_hand_examples(void)
{
    int32_t i;
    {   /* im2row: x [2 x 2 x 3], channel 1 only (c0 1), a 2x2 window dilated 2 across, top pad 1:
         * oh = (2 + 1 - 2) / 1 + 1 = 2, ow = (3 - 3) / 1 + 1 = 1; p 0 reads rows -1 (zero) and 0,
         * p 1 rows 0 and 1, columns 0 and 2 */
        static const int16_t x15[12] = { 1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6 };
        static const int8_t x7[12] = { 1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6 };
        static const int16_t want[8] = { 0, 0, -1, -3, -1, -3, -4, -6 };
        scalpel_conv_window win = { 2, 2, 1, 1, 1, 0, 1, 2 };
        int16_t r15[8];
        int8_t r7[8];
        int bad = 0;
        scalpel_im2row_window_q15(x15, 2, 3, 1, 1, &win, 1, 0, 2, r15);
        scalpel_im2row_window_q7(x7, 2, 3, 1, 1, &win, 1, 0, 2, r7);
        for (i = 0; i < 8; i++) bad += r15[i] != want[i] || r7[i] != want[i];
        CHECK(bad == 0, "im2row_window by hand: %d %d %d %d %d %d %d %d", r15[0], r15[1], r15[2], r15[3], r15[4], r15[5], r15[6], r15[7]);
    }
    {   /* depthwise: x [1 x 2 x 2] = [1 2; 3 4], multiplier 2, 2x2 filters [1 2; 3 4] and
         * [-1 0; 0 1], pad 1 top and left: sums 4 11 14 30 and 1 2 3 3; bias 1 then x 0.5
         * (shift 15, half up): 2.5 6 7.5 15.5 -> 3 6 8 16; bias -10 then x 1: -9 -8 -7 -7 */
        static const int16_t x15[4] = { 1, 2, 3, 4 }, w15[8] = { 1, 2, 3, 4, -1, 0, 0, 1 };
        static const int8_t x7[4] = { 1, 2, 3, 4 }, w7[8] = { 1, 2, 3, 4, -1, 0, 0, 1 };
        static const int16_t want[8] = { 3, 6, 8, 16, -9, -8, -7, -7 }, want_relu[8] = { 3, 6, 8, 16, 0, 0, 0, 0 };
        int64_t bias[2] = { 1, -10 };
        int32_t mult[2] = { 16384, 16384 };
        int8_t shift[2] = { 15, 14 };
        scalpel_requant rq;
        scalpel_conv_window win = { 2, 2, 1, 1, 1, 1, 1, 1 };
        int16_t y15[8], f15[8], s15[64];
        int8_t y7[8], f7[8], s7[64];
        int r, bad;
        rq.bias = bias; rq.mult = mult; rq.shift = shift; rq.per_channel = 1;
        for (r = 0; r < 2; r++) {
            const int16_t *wv = r ? want_relu : want;
            rq.relu = r;
            scalpel_dwconv_q15_ref(x15, 1, 2, 2, 2, w15, &win, 2, 2, &rq, y15);
            scalpel_dwconv_q15(x15, 1, 2, 2, 2, w15, &win, 2, 2, &rq, s15, f15);
            scalpel_dwconv_q7_ref(x7, 1, 2, 2, 2, w7, &win, 2, 2, &rq, y7);
            scalpel_dwconv_q7(x7, 1, 2, 2, 2, w7, &win, 2, 2, &rq, s7, f7);
            for (i = 0, bad = 0; i < 8; i++) bad += y15[i] != wv[i] || f15[i] != wv[i] || y7[i] != wv[i] || f7[i] != wv[i];
            CHECK(bad == 0, "dwconv by hand relu %d: %d %d %d %d %d %d %d %d", r, y15[0], y15[1], y15[2], y15[3], y15[4], y15[5],
                  y15[6], y15[7]);
        }
    }
    {   /* pooling, means rounded half away from zero: [-2 -3 | 2 3] in windows of 2 at stride 2:
         * -5 / 2 -> -3, 5 / 2 -> 3; [1 1 2] and [-2 -2 -1] in one window of 3: 4 / 3 -> 1,
         * -5 / 3 -> -2. [-3 5], windows of 2 at stride 2, pad 1 left and 1 right: cells
         * {pad, -3} and {5, pad}: max -3 and 5 (padding never wins), mean over the cells inside
         * x -3 and 5, over the padded input -3 / 2 -> -2 and 5 / 2 -> 3. */
        static const int16_t a15[4] = { -2, -3, 2, 3 }, b15[3] = { 1, 1, 2 }, c15[3] = { -2, -2, -1 }, d15[2] = { -3, 5 };
        static const int8_t a7[4] = { -2, -3, 2, 3 }, b7[3] = { 1, 1, 2 }, c7[3] = { -2, -2, -1 }, d7[2] = { -3, 5 };
        static const int32_t want_d[3][2] = { { -3, 5 }, { -3, 5 }, { -2, 3 } };
        scalpel_conv_window w2 = { 1, 2, 1, 2, 0, 0, 1, 1 }, w3 = { 1, 3, 1, 1, 0, 0, 1, 1 }, wp = { 1, 2, 1, 2, 0, 1, 1, 1 };
        int16_t y15[2], f15[2];
        int8_t y7[2], f7[2];
        int32_t op;
        scalpel_pool_window_q15_ref(a15, 1, 1, 4, &w2, 0, 0, SCALPEL_POOL_OP_AVG, 1, 2, y15);
        scalpel_pool_window_q7_ref(a7, 1, 1, 4, &w2, 0, 0, SCALPEL_POOL_OP_AVG, 1, 2, y7);
        CHECK(y15[0] == -3 && y15[1] == 3 && y7[0] == -3 && y7[1] == 3, "pool -5/2, 5/2: %d %d %d %d", y15[0], y15[1], y7[0], y7[1]);
        scalpel_pool_window_q15_ref(b15, 1, 1, 3, &w3, 0, 0, SCALPEL_POOL_OP_AVG, 1, 1, y15);
        scalpel_pool_window_q15_ref(c15, 1, 1, 3, &w3, 0, 0, SCALPEL_POOL_OP_AVG, 1, 1, y15 + 1);
        scalpel_pool_window_q7_ref(b7, 1, 1, 3, &w3, 0, 0, SCALPEL_POOL_OP_AVG, 1, 1, y7);
        scalpel_pool_window_q7_ref(c7, 1, 1, 3, &w3, 0, 0, SCALPEL_POOL_OP_AVG, 1, 1, y7 + 1);
        CHECK(y15[0] == 1 && y15[1] == -2 && y7[0] == 1 && y7[1] == -2, "pool 4/3, -5/3: %d %d %d %d", y15[0], y15[1], y7[0], y7[1]);
        for (op = 0; op < 3; op++) {
            scalpel_pool_window_q15_ref(d15, 1, 1, 2, &wp, 0, 1, op, 1, 2, y15);
            scalpel_pool_window_q15(d15, 1, 1, 2, &wp, 0, 1, op, 1, 2, f15);
            scalpel_pool_window_q7_ref(d7, 1, 1, 2, &wp, 0, 1, op, 1, 2, y7);
            scalpel_pool_window_q7(d7, 1, 1, 2, &wp, 0, 1, op, 1, 2, f7);
            CHECK(y15[0] == want_d[op][0] && y15[1] == want_d[op][1] && f15[0] == y15[0] && f15[1] == y15[1] &&
                  y7[0] == want_d[op][0] && y7[1] == want_d[op][1] && f7[0] == y7[0] && f7[1] == y7[1],
                  "pool op %d with padding: %d %d (fast %d %d)", (int)op, y15[0], y15[1], f15[0], f15[1]);
        }
    }
    {   /* channel scale: [1 -2 3] x 3 (x 1); [100 -100 7] x -5 = -500 500 -35, bias 1, x 0.5
         * rounding half up: -249.5 -> -249, 250.5 -> 251, -17 -> -17; q7 saturates; ReLU */
        static const int16_t x15[6] = { 1, -2, 3, 100, -100, 7 }, w15[2] = { 3, -5 };
        static const int8_t x7[6] = { 1, -2, 3, 100, -100, 7 }, w7[2] = { 3, -5 };
        static const int16_t want15[6] = { 3, -6, 9, -249, 251, -17 }, want7[6] = { 3, -6, 9, -128, 127, -17 };
        static const int16_t want_relu[6] = { 3, 0, 9, 0, 251, 0 };
        int64_t bias[2] = { 0, 1 };
        int32_t mult[2] = { 16384, 16384 };
        int8_t shift[2] = { 14, 15 };
        scalpel_requant rq;
        int16_t y15[6], f15[6];
        int8_t y7[6], f7[6];
        int bad = 0;
        rq.bias = bias; rq.mult = mult; rq.shift = shift; rq.per_channel = 1; rq.relu = 0;
        scalpel_channel_scale_q15_ref(x15, 2, 3, w15, &rq, y15);
        scalpel_channel_scale_q15(x15, 2, 3, w15, &rq, f15);
        scalpel_channel_scale_q7_ref(x7, 2, 3, w7, &rq, y7);
        scalpel_channel_scale_q7(x7, 2, 3, w7, &rq, f7);
        for (i = 0; i < 6; i++) bad += y15[i] != want15[i] || f15[i] != want15[i] || y7[i] != want7[i] || f7[i] != want7[i];
        CHECK(bad == 0, "channel_scale by hand: %d %d %d %d %d %d", y15[0], y15[1], y15[2], y15[3], y15[4], y15[5]);
        rq.relu = 1;
        scalpel_channel_scale_q15_ref(x15, 2, 3, w15, &rq, y15);
        for (i = 0, bad = 0; i < 6; i++) bad += y15[i] != want_relu[i];
        CHECK(bad == 0, "channel_scale by hand, ReLU: %d %d %d %d %d %d", y15[0], y15[1], y15[2], y15[3], y15[4], y15[5]);
    }
    {   /* add: 16384, 16384, shift 14 is the saturating sum; x / 2 + x2 / 4 (16384, 8192, 15)
         * rounds half up: 3, 2 -> 2; -3, -1 -> -1.75 -> -2; 1, 0 -> 1; -1, 0 -> 0 */
        static const int16_t a15[4] = { 30000, -30000, 5, -7 }, b15[4] = { 10000, -10000, -9, 3 };
        static const int8_t a7[4] = { 100, -100, 5, -7 }, b7[4] = { 100, -100, -9, 3 };
        static const int16_t c15[4] = { 3, -3, 1, -1 }, d15[4] = { 2, -1, 0, 0 };
        static const int8_t c7[4] = { 3, -3, 1, -1 }, d7[4] = { 2, -1, 0, 0 };
        int16_t y15[4], f15[4];
        int8_t y7[4], f7[4];
        scalpel_add_q15_ref(a15, b15, 4, 16384, 16384, 14, 0, y15);
        scalpel_add_q15(a15, b15, 4, 16384, 16384, 14, 0, f15);
        CHECK(y15[0] == 32767 && y15[1] == -32768 && y15[2] == -4 && y15[3] == -4 && memcmp(y15, f15, sizeof(y15)) == 0,
              "add q15 saturating: %d %d %d %d", y15[0], y15[1], y15[2], y15[3]);
        scalpel_add_q7_ref(a7, b7, 4, 16384, 16384, 14, 0, y7);
        scalpel_add_q7(a7, b7, 4, 16384, 16384, 14, 0, f7);
        CHECK(y7[0] == 127 && y7[1] == -128 && y7[2] == -4 && y7[3] == -4 && memcmp(y7, f7, sizeof(y7)) == 0,
              "add q7 saturating: %d %d %d %d", y7[0], y7[1], y7[2], y7[3]);
        scalpel_add_q15_ref(a15, b15, 4, 16384, 16384, 14, 1, y15);
        CHECK(y15[0] == 32767 && y15[1] == 0 && y15[2] == 0 && y15[3] == 0, "add q15 ReLU: %d %d %d %d", y15[0], y15[1], y15[2], y15[3]);
        scalpel_add_q15_ref(c15, d15, 4, 16384, 8192, 15, 0, y15);
        scalpel_add_q7_ref(c7, d7, 4, 16384, 8192, 15, 0, y7);
        CHECK(y15[0] == 2 && y15[1] == -2 && y15[2] == 1 && y15[3] == 0 && y7[0] == 2 && y7[1] == -2 && y7[2] == 1 && y7[3] == 0,
              "add x/2 + x2/4: %d %d %d %d", y15[0], y15[1], y15[2], y15[3]);
    }
    {   /* rescale x 1.5 (24576, 14): 3 -> 4.5 -> 5, -3 -> -4.5 -> -4 (half up), saturating;
         * 16384 / 14 copies; mult 0 and 32768 / 62 give 0 */
        static const int16_t x15[4] = { 3, -3, 30000, -32768 };
        static const int8_t x7[4] = { 3, -3, 100, -128 };
        int16_t y15[4];
        int8_t y7[4];
        scalpel_rescale_q15_ref(x15, 4, 24576, 14, y15);
        scalpel_rescale_q7_ref(x7, 4, 24576, 14, y7);
        CHECK(y15[0] == 5 && y15[1] == -4 && y15[2] == 32767 && y15[3] == -32768 && y7[0] == 5 && y7[1] == -4 && y7[2] == 127 &&
              y7[3] == -128, "rescale x1.5: %d %d %d %d / %d %d %d %d", y15[0], y15[1], y15[2], y15[3], y7[0], y7[1], y7[2], y7[3]);
        scalpel_rescale_q15_ref(x15, 4, 16384, 14, y15);
        scalpel_rescale_q7_ref(x7, 4, 16384, 14, y7);
        CHECK(memcmp(y15, x15, sizeof(y15)) == 0 && memcmp(y7, x7, sizeof(y7)) == 0, "rescale 16384 / 14 ref copies");
        scalpel_rescale_q15_ref(x15, 4, 0, 0, y15);
        CHECK(y15[0] == 0 && y15[1] == 0 && y15[2] == 0 && y15[3] == 0, "rescale mult 0");
        scalpel_rescale_q15_ref(x15, 4, 32768, 62, y15);
        CHECK(y15[0] == 0 && y15[1] == 0 && y15[2] == 0 && y15[3] == 0, "rescale 2^-47");
    }
    {   /* clip to [-5, 7] and to [3, 3] */
        static const int16_t x15[5] = { -100, -5, 0, 7, 100 }, want[5] = { -5, -5, 0, 7, 7 };
        static const int8_t x7[5] = { -100, -5, 0, 7, 100 };
        int16_t y15[5];
        int8_t y7[5];
        int bad = 0;
        scalpel_clip_q15_ref(x15, 5, -5, 7, y15);
        scalpel_clip_q7_ref(x7, 5, -5, 7, y7);
        for (i = 0; i < 5; i++) bad += y15[i] != want[i] || y7[i] != want[i];
        scalpel_clip_q15_ref(x15, 5, 3, 3, y15);
        for (i = 0; i < 5; i++) bad += y15[i] != 3;
        CHECK(bad == 0, "clip by hand");
    }
    {   /* leaky ReLU slope 3277 / 2^15: -100 -> -10.0006 -> -10, -32768 -> -3277, x >= 0 kept;
         * slope -16384 / 2^14 (negative: y = -x below 0): -32768 -> 32767, -128 -> 127, -5 -> 5 */
        static const int16_t x15[4] = { -100, 5, 0, -32768 };
        static const int8_t x7[4] = { -100, 5, 0, -128 };
        int16_t y15[4];
        int8_t y7[4];
        scalpel_leaky_relu_q15_ref(x15, 4, 3277, 15, y15);
        scalpel_leaky_relu_q7_ref(x7, 4, 3277, 15, y7);
        CHECK(y15[0] == -10 && y15[1] == 5 && y15[2] == 0 && y15[3] == -3277 && y7[0] == -10 && y7[1] == 5 && y7[2] == 0 &&
              y7[3] == -13, "leaky 0.1: %d %d %d %d / %d %d %d %d", y15[0], y15[1], y15[2], y15[3], y7[0], y7[1], y7[2], y7[3]);
        scalpel_leaky_relu_q15_ref(x15, 4, -16384, 14, y15);
        scalpel_leaky_relu_q7_ref(x7, 4, -16384, 14, y7);
        CHECK(y15[0] == 100 && y15[1] == 5 && y15[3] == 32767 && y7[0] == 100 && y7[3] == 127,
              "leaky -1: %d %d %d / %d %d", y15[0], y15[1], y15[3], y7[0], y7[3]);
    }
    {   /* hardswish in units of 1/16 in and out: three 48, six 96, mult / 2^shift = 21845 / 2^21
         * ~ 1/96: x 16 (1.0) -> 16 * 64 = 1024 -> 10.67 -> 11; -16 -> -512 -> -5.33 -> -5; -48 and
         * -100 -> 0; 48 -> 4608 -> 47.9993 -> 48; 100 -> 9600 -> 99.998 -> 100. At the limits
         * three = six = 2^30, mult 32768, shift 0: 2 -> 2^31 * 2^15, -2 -> below -2^45: saturated. */
        static const int16_t x15[6] = { 16, -16, -48, -100, 48, 100 }, want[6] = { 11, -5, 0, 0, 48, 100 }, e15[2] = { 2, -2 };
        static const int8_t x7[6] = { 16, -16, -48, -100, 48, 100 }, e7[2] = { 2, -2 };
        int16_t y15[6];
        int8_t y7[6];
        int bad = 0;
        scalpel_hardswish_q15_ref(x15, 6, 48, 96, 21845, 21, y15);
        scalpel_hardswish_q7_ref(x7, 6, 48, 96, 21845, 21, y7);
        for (i = 0; i < 6; i++) bad += y15[i] != want[i] || y7[i] != want[i];
        CHECK(bad == 0, "hardswish by hand: %d %d %d %d %d %d", y15[0], y15[1], y15[2], y15[3], y15[4], y15[5]);
        scalpel_hardswish_q15_ref(e15, 2, 1 << 30, 1 << 30, 32768, 0, y15);
        scalpel_hardswish_q7_ref(e7, 2, 1 << 30, 1 << 30, 32768, 0, y7);
        CHECK(y15[0] == 32767 && y15[1] == -32768 && y7[0] == 127 && y7[1] == -128, "hardswish saturated: %d %d %d %d", y15[0],
              y15[1], y7[0], y7[1]);
    }
    {   /* sigmoid and tanh, u = x (16384 / 14): the tables at entry 32 (u = 1.0) are 23955
         * (sigmoid) and 24956 (tanh); halfway between entries 0 and 1 (u = 32): 16384 + 128,
         * 0 + 512; u = 1: 16384 + (256 + 32) >> 6 = 16388, 1024 / 64 -> 16; below 0 by symmetry
         * (32768 - f for sigmoid); at the ends 32767 / 0 and 32767 / -32767. q7 at real 64
         * (16384 / 8, u = 64 x): 32 -> 23955 -> (23955 + 128) >> 8 = 94, -32 -> 8813 -> 34,
         * tanh 97 / -97; 127 -> u 8128, entry 127: 32160 -> 126, tanh 32745 -> 127 (saturated
         * from 128); -128 -> entry 128: 32768 - 32179 -> 2, and -127. */
        static const int16_t x15[9] = { 0, 2048, -2048, 32, -32, 1, -1, 32767, -32768 };
        static const int16_t ws[9] = { 16384, 23955, 8813, 16512, 16256, 16388, 16380, 32767, 0 };
        static const int16_t wt[9] = { 0, 24956, -24956, 512, -512, 16, -16, 32767, -32767 };
        static const int8_t x7[5] = { 0, 32, -32, 127, -128 };
        static const int8_t ws7[5] = { 64, 94, 34, 126, 2 }, wt7[5] = { 0, 97, -97, 127, -127 };
        int16_t s15[9], t15[9], fs15[9], ft15[9];
        int8_t s7[5], t7[5], fs7[5], ft7[5];
        int bad = 0;
        scalpel_sigmoid_q15_ref(x15, 9, 16384, 14, s15);
        scalpel_tanh_q15_ref(x15, 9, 16384, 14, t15);
        scalpel_sigmoid_q15(x15, 9, 16384, 14, fs15);
        scalpel_tanh_q15(x15, 9, 16384, 14, ft15);
        for (i = 0; i < 9; i++) bad += s15[i] != ws[i] || t15[i] != wt[i] || fs15[i] != ws[i] || ft15[i] != wt[i];
        CHECK(bad == 0, "sigmoid / tanh q15 by hand: %d %d %d %d %d %d %d %d %d / %d %d %d %d %d %d %d %d %d", s15[0], s15[1],
              s15[2], s15[3], s15[4], s15[5], s15[6], s15[7], s15[8], t15[0], t15[1], t15[2], t15[3], t15[4], t15[5], t15[6],
              t15[7], t15[8]);
        scalpel_sigmoid_q7_ref(x7, 5, 16384, 8, s7);
        scalpel_tanh_q7_ref(x7, 5, 16384, 8, t7);
        scalpel_sigmoid_q7(x7, 5, 16384, 8, fs7);
        scalpel_tanh_q7(x7, 5, 16384, 8, ft7);
        for (i = 0, bad = 0; i < 5; i++) bad += s7[i] != ws7[i] || t7[i] != wt7[i] || fs7[i] != ws7[i] || ft7[i] != wt7[i];
        CHECK(bad == 0, "sigmoid / tanh q7 by hand: %d %d %d %d %d / %d %d %d %d %d", s7[0], s7[1], s7[2], s7[3], s7[4], t7[0],
              t7[1], t7[2], t7[3], t7[4]);
    }
}

/* ---- sigmoid and tanh against the exact functions ---------------------------------------- */

static int32_t round_clamp(double v, int32_t lo, int32_t hi)
{
    double r = floor(v + 0.5);
    return r < lo ? lo : r > hi ? hi : (int32_t)r;
}

/* The documented error bound, every input: q15 with 16384 / 14 (u = x, so all of Q4.11)
 * against round(32768 sigmoid(u / 2048)) clamped to 32767 and round(32768 tanh(u / 2048))
 * clamped to [-32767, 32767]; q7, every x at a few scales (real 16 .. 256: u up to the whole
 * Q4.11 range), u = the requant of x written out here, against round(128 f(u / 2048)) clamped
 * to the type. Fast == ref on the way. The maxima are printed in units of the last place. */
#define SIGMOID_Q15_BOUND 1
#define TANH_Q15_BOUND 4
#define ACT_Q7_BOUND 1
static void test_activation_error(void)
{
    enum { CHUNK = 512 };
    static int16_t x15[CHUNK], s15[CHUNK], t15[CHUNK], fs15[CHUNK], ft15[CHUNK];
    static const double reals[4] = { 16.0, 64.0, 100.0, 256.0 };
    int8_t x7[256], s7[256], t7[256], fs7[256], ft7[256];
    int32_t base, i, r, es = 0, et = 0, es7 = 0, et7 = 0, xs = 0, xt = 0, diff = 0;
    for (base = -32768; base < 32768; base += CHUNK) {
        for (i = 0; i < CHUNK; i++) x15[i] = (int16_t)(base + i);
        scalpel_sigmoid_q15(x15, CHUNK, 16384, 14, fs15);
        scalpel_tanh_q15(x15, CHUNK, 16384, 14, ft15);
        scalpel_sigmoid_q15_ref(x15, CHUNK, 16384, 14, s15);
        scalpel_tanh_q15_ref(x15, CHUNK, 16384, 14, t15);
        diff += memcmp(fs15, s15, sizeof(s15)) != 0 || memcmp(ft15, t15, sizeof(t15)) != 0;
        for (i = 0; i < CHUNK; i++) {
            double u = (double)x15[i] / 2048.0;
            int32_t ws = round_clamp(32768.0 / (1.0 + exp(-u)), -32768, 32767), wt = round_clamp(32768.0 * tanh(u), -32767, 32767);
            int32_t ds = s15[i] > ws ? s15[i] - ws : ws - s15[i], dt = t15[i] > wt ? t15[i] - wt : wt - t15[i];
            if (ds > es) { es = ds; xs = x15[i]; }
            if (dt > et) { et = dt; xt = x15[i]; }
        }
    }
    for (r = 0; r < 4; r++) {
        int32_t mult;
        int8_t shift;
        scalpel_requant_from_real(reals[r], &mult, &shift);
        for (i = 0; i < 256; i++) x7[i] = (int8_t)(i - 128);
        scalpel_sigmoid_q7(x7, 256, mult, shift, fs7);
        scalpel_tanh_q7(x7, 256, mult, shift, ft7);
        scalpel_sigmoid_q7_ref(x7, 256, mult, shift, s7);
        scalpel_tanh_q7_ref(x7, 256, mult, shift, t7);
        diff += memcmp(fs7, s7, sizeof(s7)) != 0 || memcmp(ft7, t7, sizeof(t7)) != 0;
        for (i = 0; i < 256; i++) {
            double u = (double)requant_by_division(x7[i], mult, shift, -32768, 32767) / 2048.0;
            int32_t ws = round_clamp(128.0 / (1.0 + exp(-u)), -128, 127), wt = round_clamp(128.0 * tanh(u), -128, 127);
            int32_t ds = s7[i] > ws ? s7[i] - ws : ws - s7[i], dt = t7[i] > wt ? t7[i] - wt : wt - t7[i];
            if (ds > es7) es7 = ds;
            if (dt > et7) et7 = dt;
        }
    }
    printf("sigmoid / tanh max error in units of the last place: q15 %d (at x %d) / %d (at x %d), q7 %d / %d\n", (int)es,
           (int)xs, (int)et, (int)xt, (int)es7, (int)et7);
    CHECK(diff == 0, "sigmoid / tanh fast != ref over all inputs (%d chunks)", (int)diff);
    CHECK(es <= SIGMOID_Q15_BOUND, "sigmoid q15 error %d > %d", (int)es, SIGMOID_Q15_BOUND);
    CHECK(et <= TANH_Q15_BOUND, "tanh q15 error %d > %d", (int)et, TANH_Q15_BOUND);
    CHECK(es7 <= ACT_Q7_BOUND && et7 <= ACT_Q7_BOUND, "q7 errors %d, %d > %d", (int)es7, (int)et7, ACT_Q7_BOUND);
}

/* ---- one checksum for every target --------------------------------------------------------- */

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ b[i]) * 16777619u;
    return h;
}

/* Every kernel on a fixed input (its own generator, so the other tests' draws do not matter):
 * the hash of all outputs must be the same constant on every target and every rung. */
#define CHECKSUM_EXPECTED 0x3f0b7d35u
static void test_checksum(void)
{
    enum { R = 37, C = 75, N = 3 };
    static int16_t w15[R * C], x15[N * C], y15[R * N];
    static int8_t w7[R * C], x7[N * C], y7[R * N];
    static uint32_t mem[16384 / 4]; /* aligned to 4, as the _into functions want */
    int64_t bias[R];
    int32_t mult[R], i, gi;
    int8_t shift[R];
    uint32_t h = 2166136261u, href = 2166136261u, st = 12345u;
    scalpel_requant rq;
    scalpel_gcsr m;
    for (i = 0; i < R * C; i++) {
        st = st * 1103515245u + 12345u;
        w15[i] = (int16_t)((int32_t)((st >> 8) & 0xFFFFu) - 32768);
        if ((st >> 28) < 9) w15[i] = 0;              /* ~56% zeros */
        w7[i] = (int8_t)((int32_t)((st >> 4) & 0xFFu) - 128);
        if ((st >> 28) < 9) w7[i] = 0;
    }
    for (i = 0; i < N * C; i++) {
        st = st * 1103515245u + 12345u;
        x15[i] = (int16_t)((int32_t)((st >> 8) & 0xFFFFu) - 32768);
        x7[i] = (int8_t)((int32_t)((st >> 16) & 0xFFu) - 128);
    }
    for (i = 0; i < R; i++) {
        bias[i] = (int64_t)(i - 18) * 1000003;
        mult[i] = 16384 + i * 401;
        shift[i] = (int8_t)(i & 1 ? 22 : 8);
    }
    rq.bias = bias; rq.mult = mult; rq.shift = shift; rq.per_channel = 1; rq.relu = 0;
#define HASH_BOTH(fast, ref, yv)                                                                    \
    do {                                                                                           \
        memset(yv, 0, sizeof(yv)); fast; h = fnv(h, yv, sizeof(yv));                                \
        memset(yv, 0, sizeof(yv)); ref; href = fnv(href, yv, sizeof(yv));                           \
    } while (0)
    for (i = 0; i < 2; i++) {
        rq.relu = i;
        rq.per_channel = 1 - i;
        HASH_BOTH(scalpel_gemv_q15(w15, R, C, x15, &rq, y15), scalpel_gemv_q15_ref(w15, R, C, x15, &rq, y15), y15);
        HASH_BOTH(scalpel_gemm_q15(w15, R, C, x15, N, &rq, y15), scalpel_gemm_q15_ref(w15, R, C, x15, N, &rq, y15), y15);
        HASH_BOTH(scalpel_gemv_q7(w7, R, C, x7, &rq, y7), scalpel_gemv_q7_ref(w7, R, C, x7, &rq, y7), y7);
        HASH_BOTH(scalpel_gemm_q7(w7, R, C, x7, N, &rq, y7), scalpel_gemm_q7_ref(w7, R, C, x7, N, &rq, y7), y7);
        for (gi = 0; gi < 5; gi++) {
            CHECK(scalpel_gcsr_from_dense_fixed_into(w15, SCALPEL_DTYPE_Q15, R, C, groups[gi], mem, sizeof(mem), &m) == SCALPEL_OK, "q15");
            HASH_BOTH(scalpel_gcsr_spmv_q15(&m, x15, &rq, y15), scalpel_gcsr_spmv_q15_ref(&m, x15, &rq, y15), y15);
            HASH_BOTH(scalpel_gcsr_spmm_q15(&m, x15, N, &rq, y15), scalpel_gcsr_spmm_q15_ref(&m, x15, N, &rq, y15), y15);
            CHECK(scalpel_gcsr_from_dense_fixed_into(w7, SCALPEL_DTYPE_Q7, R, C, groups[gi], mem, sizeof(mem), &m) == SCALPEL_OK, "q7");
            HASH_BOTH(scalpel_gcsr_spmv_q7(&m, x7, &rq, y7), scalpel_gcsr_spmv_q7_ref(&m, x7, &rq, y7), y7);
            HASH_BOTH(scalpel_gcsr_spmm_q7(&m, x7, N, &rq, y7), scalpel_gcsr_spmm_q7_ref(&m, x7, N, &rq, y7), y7);
        }
    }
#undef HASH_BOTH
    printf("checksum 0x%08lx (ref 0x%08lx)\n", (unsigned long)h, (unsigned long)href);
    CHECK(h == href, "fast and ref hashes differ");
    CHECK(href == CHECKSUM_EXPECTED, "ref hash 0x%08lx, expected 0x%08lx", (unsigned long)href, (unsigned long)CHECKSUM_EXPECTED);
}

/* A second checksum, for the other operators: each one on a fixed input (its own generator)
 * in q15 and q7, fast and ref hashed apart; both must give this constant on every target. */
#define CHECKSUM_OPS_EXPECTED 0x724475a4u
static void test_checksum_ops(void)
{
    enum { C = 3, H = 9, W = 11, M = 2, N = C * H * W, YMAX = 1024 }; /* YMAX: the largest output, im2row's 990 */
    static int16_t x15[N], x215[N], w15[C * M * 9], y15[YMAX];
    static int8_t x7[N], x27[N], w7[C * M * 9], y7[YMAX];
    static int16_t dws15[256];
    static int8_t dws7[256]; /* dwconv's padded channel: at most 13 x 18 for the windows below */
    /* a 3x3 window, strides 2 / 1, pads 1 / 2 (bottom 1, right 2), dilations 1 / 2: 5 x 11
     * outputs; pooling 3x2, strides 2, pads 1 / 1 (bottom 1, right 0): 5 x 6 */
    scalpel_conv_window cw = { 3, 3, 2, 1, 1, 2, 1, 2 }, pw = { 3, 2, 2, 2, 1, 1, 1, 1 }, sw3 = { 3, 3, 1, 1, 1, 1, 1, 1 };
    const int32_t coh = 5, cow = 11, poh = 5, pow_ = 6;
    int64_t bias[C * M];
    int32_t mult[C * M], i, r, op;
    int8_t shift[C * M];
    uint32_t h = 2166136261u, href = 2166136261u, st = 777u;
    scalpel_requant rq;
    for (i = 0; i < N; i++) {
        st = st * 1103515245u + 12345u;
        x15[i] = (int16_t)((int32_t)((st >> 8) & 0xFFFFu) - 32768);
        x7[i] = (int8_t)((int32_t)((st >> 16) & 0xFFu) - 128);
        st = st * 1103515245u + 12345u;
        x215[i] = (int16_t)((int32_t)((st >> 8) & 0xFFFFu) - 32768);
        x27[i] = (int8_t)((int32_t)((st >> 16) & 0xFFu) - 128);
    }
    for (i = 0; i < C * M * 9; i++) {
        st = st * 1103515245u + 12345u;
        w15[i] = (int16_t)((int32_t)((st >> 8) & 0xFFFFu) - 32768);
        w7[i] = (int8_t)((int32_t)((st >> 16) & 0xFFu) - 128);
    }
    for (i = 0; i < C * M; i++) {
        bias[i] = (int64_t)(i - 3) * 76543;
        mult[i] = 16384 + i * 2011;
        shift[i] = (int8_t)(i & 1 ? 33 : 32);
    }
    rq.bias = bias; rq.mult = mult; rq.shift = shift;
#define HASH2(fast, ref, yv, n)                                                                     \
    do {                                                                                           \
        memset(yv, 0, sizeof(yv)); fast; h = fnv(h, yv, (size_t)(n) * sizeof(yv[0]));              \
        memset(yv, 0, sizeof(yv)); ref; href = fnv(href, yv, (size_t)(n) * sizeof(yv[0]));          \
    } while (0)
    /* im2row has no ref: hashed into both */
    HASH2(scalpel_im2row_window_q15(x15, H, W, 1, 2, &cw, cow, 0, coh * cow, y15), scalpel_im2row_window_q15(x15, H, W, 1, 2, &cw, cow, 0, coh * cow, y15),
          y15, coh * cow * 2 * 9);
    HASH2(scalpel_im2row_window_q7(x7, H, W, 0, 1, &cw, cow, 0, coh * cow, y7), scalpel_im2row_window_q7(x7, H, W, 0, 1, &cw, cow, 0, coh * cow, y7),
          y7, coh * cow * 9);
    for (r = 0; r < 2; r++) {
        rq.relu = r;
        rq.per_channel = 1 - r;
        /* dwconv q15 sums reach 9 * 2^30: shifts 32 / 33 keep outputs inside and out of range */
        HASH2(scalpel_dwconv_q15(x15, C, H, W, M, w15, &cw, coh, cow, &rq, dws15, y15),
              scalpel_dwconv_q15_ref(x15, C, H, W, M, w15, &cw, coh, cow, &rq, y15), y15, C * M * coh * cow);
        /* and a plain 3x3 "same" window: the DSP / Helium taps (cw's dilated rows go one by one) */
        HASH2(scalpel_dwconv_q15(x15, C, H, W, M, w15, &sw3, H, W, &rq, dws15, y15),
              scalpel_dwconv_q15_ref(x15, C, H, W, M, w15, &sw3, H, W, &rq, y15), y15, C * M * H * W);
        HASH2(scalpel_channel_scale_q15(x15, C, H * W, w15, &rq, y15), scalpel_channel_scale_q15_ref(x15, C, H * W, w15, &rq, y15),
              y15, N);
        for (i = 0; i < C * M; i++) shift[i] = (int8_t)(shift[i] - 8); /* q7: sums 2^16 smaller, outputs 2^8 */
        HASH2(scalpel_dwconv_q7(x7, C, H, W, M, w7, &cw, coh, cow, &rq, dws7, y7),
              scalpel_dwconv_q7_ref(x7, C, H, W, M, w7, &cw, coh, cow, &rq, y7), y7, C * M * coh * cow);
        HASH2(scalpel_dwconv_q7(x7, C, H, W, M, w7, &sw3, H, W, &rq, dws7, y7),
              scalpel_dwconv_q7_ref(x7, C, H, W, M, w7, &sw3, H, W, &rq, y7), y7, C * M * H * W);
        HASH2(scalpel_channel_scale_q7(x7, C, H * W, w7, &rq, y7), scalpel_channel_scale_q7_ref(x7, C, H * W, w7, &rq, y7), y7, N);
        for (i = 0; i < C * M; i++) shift[i] = (int8_t)(shift[i] + 8);
        HASH2(scalpel_add_q15(x15, x215, N, 23170, 9000, 15, r, y15), scalpel_add_q15_ref(x15, x215, N, 23170, 9000, 15, r, y15), y15, N);
        HASH2(scalpel_add_q7(x7, x27, N, 23170, 9000, 15, r, y7), scalpel_add_q7_ref(x7, x27, N, 23170, 9000, 15, r, y7), y7, N);
    }
    for (op = 0; op < 3; op++) {
        HASH2(scalpel_pool_window_q15(x15, C, H, W, &pw, 1, 0, op, poh, pow_, y15),
              scalpel_pool_window_q15_ref(x15, C, H, W, &pw, 1, 0, op, poh, pow_, y15), y15, C * poh * pow_);
        HASH2(scalpel_pool_window_q7(x7, C, H, W, &pw, 1, 0, op, poh, pow_, y7),
              scalpel_pool_window_q7_ref(x7, C, H, W, &pw, 1, 0, op, poh, pow_, y7), y7, C * poh * pow_);
    }
    HASH2(scalpel_rescale_q15(x15, N, 20000, 16, y15), scalpel_rescale_q15_ref(x15, N, 20000, 16, y15), y15, N);
    HASH2(scalpel_rescale_q7(x7, N, 20000, 16, y7), scalpel_rescale_q7_ref(x7, N, 20000, 16, y7), y7, N);
    HASH2(scalpel_rescale_q15(x15, N, 16384, 14, y15), scalpel_rescale_q15_ref(x15, N, 16384, 14, y15), y15, N);
    HASH2(scalpel_clip_q15(x15, N, -1000, 20000, y15), scalpel_clip_q15_ref(x15, N, -1000, 20000, y15), y15, N);
    HASH2(scalpel_clip_q7(x7, N, -10, 90, y7), scalpel_clip_q7_ref(x7, N, -10, 90, y7), y7, N);
    HASH2(scalpel_leaky_relu_q15(x15, N, 3277, 15, y15), scalpel_leaky_relu_q15_ref(x15, N, 3277, 15, y15), y15, N);
    HASH2(scalpel_leaky_relu_q7(x7, N, -16384, 14, y7), scalpel_leaky_relu_q7_ref(x7, N, -16384, 14, y7), y7, N);
    /* hardswish: q15 in units of 2^-8 (three 768, six 1536, 1 / 1536 = 21845 / 2^25), q7 in 2^-4 */
    HASH2(scalpel_hardswish_q15(x15, N, 768, 1536, 21845, 25, y15), scalpel_hardswish_q15_ref(x15, N, 768, 1536, 21845, 25, y15), y15, N);
    HASH2(scalpel_hardswish_q7(x7, N, 48, 96, 21845, 21, y7), scalpel_hardswish_q7_ref(x7, N, 48, 96, 21845, 21, y7), y7, N);
    HASH2(scalpel_sigmoid_q15(x15, N, 16384, 15, y15), scalpel_sigmoid_q15_ref(x15, N, 16384, 15, y15), y15, N);
    HASH2(scalpel_sigmoid_q7(x7, N, 16384, 8, y7), scalpel_sigmoid_q7_ref(x7, N, 16384, 8, y7), y7, N);
    HASH2(scalpel_tanh_q15(x15, N, 16384, 15, y15), scalpel_tanh_q15_ref(x15, N, 16384, 15, y15), y15, N);
    HASH2(scalpel_tanh_q7(x7, N, 16384, 8, y7), scalpel_tanh_q7_ref(x7, N, 16384, 8, y7), y7, N);
#undef HASH2
    printf("checksum of the other operators 0x%08lx (ref 0x%08lx)\n", (unsigned long)h, (unsigned long)href);
    CHECK(h == href, "fast and ref hashes of the other operators differ");
    CHECK(href == CHECKSUM_OPS_EXPECTED, "ref hash 0x%08lx, expected 0x%08lx", (unsigned long)href, (unsigned long)CHECKSUM_OPS_EXPECTED);
}

int main(void)
{
    printf("scalpel %s fixed-point kernels, backend %s\n", SCALPEL_VERSION_STRING, scalpel_kernels_backend());
    test_hand_example();
    test_checksum();
    test_extreme_sums();
    test_requant();
    test_requant_arithmetic();
    test_quantize();
    test_format_fixed();
    test_im2row();
    test_relu_maxpool();
    test_ops_hand_examples();
    test_checksum_ops();
    test_im2row_window();
    test_dwconv();
    test_dwconv3();
    test_pool_window();
    test_channel_scale();
    test_elementwise();
    test_activation_error();
    test_unaligned_values();
    test_random();
    return test_summary("test_qkernels");
}
