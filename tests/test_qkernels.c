/* test_qkernels.c - the fixed-point (q15, q7) kernels and the fixed-point grouped CSR.
 *
 * Every fast kernel must equal its plain C `_ref` oracle bit for bit (the sums are exact
 * integers) on random shapes: cols odd or not a multiple of G, rows 0 and 1, n = 1 .. 5, every G,
 * per-layer and per-channel requant, fused ReLU, the extreme values -32768 / -128 and saturated
 * outputs, unaligned inputs, guard values around every output. Inputs are allocated to their
 * exact size so that AddressSanitizer catches any read past them. The oracle itself is checked
 * against integers written out by hand, and a checksum of every kernel's outputs on a fixed
 * input is compared with a constant that must be the same on every target (host, Cortex-M4 DSP,
 * Cortex-M55 Helium). Runs on the host (C, C++, SCALPEL_NO_SIMD, sanitizers) and on emulated
 * Cortex-M4 / M7 / M55. */
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
    unsigned char mem[256];
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
    unsigned char mem[512], buf[512], mem2[512];
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
    static unsigned char mem[16384];
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
    test_random();
    return test_summary("test_qkernels");
}
