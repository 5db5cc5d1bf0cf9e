/* test_prune.c - pruning routines and node removal against naive references.
 *
 * Rate pruning is checked against a sort of (score, index) pairs: the mask must equal the
 * reference exactly. Group scores are checked against a plain double-precision computation.
 * Node removal is checked by running the reduced network and a "masked" copy of the original
 * (removed rows and biases zeroed) on the same inputs. A counting allocator checks that every
 * allocation of scalpel_net_remove_nodes gets the network's alloc_ctx and that a failure at any
 * allocation leaks nothing and leaves *out zeroed. */
#include <stdlib.h>
#include <string.h>

static int test_ctx_token;
static long test_live_allocs;     /* allocations not yet freed */
static long test_alloc_countdown; /* > 0: the allocation that brings it to 0 fails */
static int test_bad_ctx;          /* an allocation got a ctx other than &test_ctx_token / NULL */
static void *test_malloc(void *ctx, size_t n)
{
    void *p;
    if (ctx != NULL && ctx != (void *)&test_ctx_token) test_bad_ctx = 1;
    if (test_alloc_countdown > 0 && --test_alloc_countdown == 0) return NULL;
    p = malloc(n);
    if (p != NULL) test_live_allocs++;
    return p;
}
static void test_free(void *ctx, void *p)
{
    if (ctx != NULL && ctx != (void *)&test_ctx_token) test_bad_ctx = 1;
    if (p != NULL) test_live_allocs--;
    free(p);
}
#define SCALPEL_MALLOC(ctx, n) test_malloc((ctx), (n))
#define SCALPEL_FREE(ctx, p) test_free((ctx), (p))
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

/* ---------------------------------------------------------------- naive references */

static double naive_score(const float *p, int m, int importance)
{
    double acc = 0.0;
    int i;
    for (i = 0; i < m; i++) {
        double a = fabs((double)p[i]);
        if (importance == SCALPEL_IMPORTANCE_MEAN) acc += a;
        else if (importance == SCALPEL_IMPORTANCE_MAX) acc = a > acc ? a : acc;
        else acc += a * a;
    }
    if (importance == SCALPEL_IMPORTANCE_MEAN) return acc / m;
    if (importance == SCALPEL_IMPORTANCE_MAX) return acc;
    return sqrt(acc / m);
}

typedef struct ref_item { float score; long index; } ref_item;
static int ref_cmp(const void *a, const void *b)
{
    const ref_item *x = (const ref_item *)a, *y = (const ref_item *)b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

static long expected_count(float rate, long n)
{
    return (long)((double)rate * (double)n + 0.5);
}

/* The mask rate pruning must give: sort groups by (score, index), prune the first k.
 * scores[] are the library's own (checked separately against naive_score), so the comparison
 * is exact. Returns the largest pruned score through *cut (0 if none). */
static void ref_rate_mask(const float *scores, int rows, int cols, int group, long k, uint8_t *mask,
                          float *cut)
{
    int gpr = (cols + group - 1) / group;
    long ng = (long)rows * gpr, i;
    ref_item *items = (ref_item *)malloc(sizeof(ref_item) * (size_t)(ng > 0 ? ng : 1));
    *cut = 0.0f;
    for (i = 0; i < ng; i++) { items[i].score = scores[i]; items[i].index = i; }
    qsort(items, (size_t)ng, sizeof(ref_item), ref_cmp);
    for (i = 0; i < (long)rows * cols; i++) mask[i] = 1;
    for (i = 0; i < k; i++) {
        long g = items[i].index;
        int r = (int)(g / gpr), c0 = (int)(g % gpr) * group, c;
        for (c = c0; c < c0 + group && c < cols; c++) mask[(long)r * cols + c] = 0;
        *cut = items[i].score;
    }
    free(items);
}

static void fill_random(float *w, long n, int ties)
{
    long i;
    static const float levels[5] = { 0.0f, 0.25f, -0.25f, 0.5f, -1.0f };
    for (i = 0; i < n; i++) w[i] = ties ? levels[test_rand() % 5] : test_uniform();
}

/* Every aligned group of G (tail included) is all kept or all pruned. */
static int groups_whole(const uint8_t *mask, int rows, int cols, int group)
{
    int r, c, j;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c += group)
            for (j = c; j < c + group && j < cols; j++)
                if (mask[(long)r * cols + j] != mask[(long)r * cols + c]) return 0;
    return 1;
}

/* ---------------------------------------------------------------- pruning routines */

static void test_scores(void)
{
    static const int groups[5] = { 1, 2, 4, 8, 16 };
    int it, gi, imp;
    for (it = 0; it < 30; it++) {
        int rows = test_range(1, 9), cols = test_range(1, 53);
        float *w = (float *)malloc(sizeof(float) * (size_t)(rows * cols));
        float *s = (float *)malloc(sizeof(float) * (size_t)(rows * cols));
        fill_random(w, (long)rows * cols, it % 3 == 0);
        for (gi = 0; gi < 5; gi++)
            for (imp = 0; imp < 3; imp++) {
                int g = groups[gi], gpr = (cols + g - 1) / g, r, k, bad = 0;
                scalpel_status st = scalpel_prune_group_scores(w, rows, cols, g, (scalpel_importance)imp, s);
                CHECK(st == SCALPEL_OK, "scores status %d", (int)st);
                for (r = 0; r < rows; r++)
                    for (k = 0; k < gpr; k++) {
                        int m = cols - k * g < g ? cols - k * g : g;  /* tail: in-range weights only */
                        double ref = naive_score(w + (long)r * cols + k * g, m, imp);
                        double got = s[r * gpr + k];
                        if (fabs(got - ref) > 1e-6 * ref + 1e-30) bad++;
                        if (g == 1 && got != fabs((double)w[(long)r * cols + k])) bad++;
                    }
                CHECK(bad == 0, "%d scores differ (rows %d cols %d G %d imp %d)", bad, rows, cols, g, imp);
            }
        free(w);
        free(s);
    }
    {   /* a hand-made tail: cols 10, G 4 -> groups [0,4) [4,8) [8,10) */
        const float w[10] = { 3, -4, 0, 0, 1, 1, 1, 1, 6, -8 };
        float s[3];
        CHECK(scalpel_prune_group_scores(w, 1, 10, 4, SCALPEL_IMPORTANCE_RMS, s) == SCALPEL_OK &&
              fabs(s[0] - 2.5) < 1e-6 && fabs(s[1] - 1.0) < 1e-6 && fabs(s[2] - sqrt(50.0)) < 1e-5,
              "rms with tail: %g %g %g", s[0], s[1], s[2]);
        CHECK(scalpel_prune_group_scores(w, 1, 10, 4, SCALPEL_IMPORTANCE_MEAN, s) == SCALPEL_OK &&
              s[0] == 1.75f && s[1] == 1.0f && s[2] == 7.0f, "mean with tail: %g %g %g", s[0], s[1], s[2]);
        CHECK(scalpel_prune_group_scores(w, 1, 10, 4, SCALPEL_IMPORTANCE_MAX, s) == SCALPEL_OK &&
              s[0] == 4.0f && s[1] == 1.0f && s[2] == 8.0f, "max with tail: %g %g %g", s[0], s[1], s[2]);
    }
}

static void test_magnitude(void)
{
    int it;
    for (it = 0; it < 60; it++) {
        int rows = test_range(1, 17), cols = test_range(1, 70), ties = it % 2;
        long n = (long)rows * cols, i, zeros = 0, k;
        float rate = it % 10 == 0 ? 0.0f : (it % 10 == 1 ? 1.0f : (float)(test_rand() % 1001) / 1000.0f);
        float *w = (float *)malloc(sizeof(float) * (size_t)n);
        float *s = (float *)malloc(sizeof(float) * (size_t)n);
        uint8_t *mask = (uint8_t *)malloc((size_t)n), *ref = (uint8_t *)malloc((size_t)n);
        float thr = -1.0f, ref_cut;
        float max_pruned = 0.0f, min_kept = 1e30f;
        fill_random(w, n, ties);
        k = expected_count(rate, n);
        CHECK(scalpel_prune_magnitude_rate(w, rows, cols, rate, mask, &thr) == SCALPEL_OK, "rate status");
        for (i = 0; i < n; i++) {
            float a = (float)fabs((double)w[i]);
            s[i] = a;
            zeros += mask[i] == 0;
            if (mask[i] == 0 && a > max_pruned) max_pruned = a;
            if (mask[i] == 1 && a < min_kept) min_kept = a;
        }
        CHECK(zeros == k, "pruned %ld, want %ld (n %ld rate %g ties %d)", zeros, k, n, rate, ties);
        CHECK(max_pruned <= min_kept, "order: pruned %g > kept %g", max_pruned, min_kept);
        ref_rate_mask(s, rows, cols, 1, k, ref, &ref_cut);
        CHECK(memcmp(mask, ref, (size_t)n) == 0, "mask differs from the sorted reference (ties %d)", ties);
        CHECK(thr == ref_cut, "threshold_out %g, want %g", thr, ref_cut);
        CHECK(scalpel_prune_magnitude_rate(w, rows, cols, rate, mask, NULL) == SCALPEL_OK &&
              memcmp(mask, ref, (size_t)n) == 0, "threshold_out may be NULL");
        /* threshold rule */
        {
            float t = ties ? 0.25f : 0.3f;
            long bad = 0;
            CHECK(scalpel_prune_magnitude_threshold(w, rows, cols, t, mask) == SCALPEL_OK, "threshold status");
            for (i = 0; i < n; i++) bad += mask[i] != (fabs((double)w[i]) >= t);
            CHECK(bad == 0, "%ld threshold decisions wrong", bad);
            CHECK(scalpel_prune_magnitude_threshold(w, rows, cols, 0.0f, mask) == SCALPEL_OK &&
                  memchr(mask, 0, (size_t)n) == NULL, "threshold 0 keeps all");
        }
        free(w); free(s); free(mask); free(ref);
    }
    for (it = 0; it < 6; it++) {
        /* every finite bit pattern (denormals, +-0, 1e38), and a larger LeNet-300-100 fc1 shape */
        int rows = it < 4 ? 37 : 300, cols = it < 4 ? 29 : 784, g = it < 4 ? 1 << it : 1;
        long n = (long)rows * cols, gpr = (cols + g - 1) / g, k, i;
        float rate = (float)(test_rand() % 1001) / 1000.0f, thr, ref_cut;
        float *w = (float *)malloc(sizeof(float) * (size_t)n), *s = (float *)malloc(sizeof(float) * (size_t)n);
        uint8_t *mask = (uint8_t *)malloc((size_t)n), *ref = (uint8_t *)malloc((size_t)n);
        for (i = 0; i < n; i++) {
            uint32_t u = test_rand();
            if ((u & 0x7f800000u) == 0x7f800000u) u &= 0xbfffffffu;  /* no inf / NaN */
            if (i % 11 == 0) u &= 0x807fffffu;                        /* denormals and zeros */
            if (i % 13 == 0) u = (i % 2) ? 0x80000000u : 0u;          /* many -0 / +0 ties */
            memcpy(&w[i], &u, 4);
        }
        CHECK(scalpel_prune_group_scores(w, rows, cols, g, SCALPEL_IMPORTANCE_MAX, s) == SCALPEL_OK, "wide scores");
        k = expected_count(rate, (long)rows * gpr);
        CHECK(scalpel_prune_groups_rate(w, rows, cols, g, SCALPEL_IMPORTANCE_MAX, rate, mask, &thr) == SCALPEL_OK,
              "wide rate status");
        ref_rate_mask(s, rows, cols, g, k, ref, &ref_cut);
        CHECK(memcmp(mask, ref, (size_t)n) == 0 && thr == ref_cut, "wide-range mask (G %d, rate %g)", g, rate);
        free(w); free(s); free(mask); free(ref);
    }
    {   /* all equal: ties decided by position only */
        float w[12];
        uint8_t mask[12];
        float thr = 0.0f;
        int i, ok = 1;
        for (i = 0; i < 12; i++) w[i] = (i % 2) ? 0.5f : -0.5f;
        CHECK(scalpel_prune_magnitude_rate(w, 3, 4, 0.5f, mask, &thr) == SCALPEL_OK && thr == 0.5f, "ties");
        for (i = 0; i < 12; i++) ok &= mask[i] == (i >= 6);
        CHECK(ok, "ties pruned first-first");
        /* 0.125 * 12 = 1.5 rounds half up to 2 */
        CHECK(scalpel_prune_magnitude_rate(w, 3, 4, 0.125f, mask, &thr) == SCALPEL_OK &&
              mask[0] == 0 && mask[1] == 0 && mask[2] == 1, "round half up");
    }
}

static void test_groups(void)
{
    static const int groups[5] = { 1, 2, 4, 8, 16 };
    int it;
    for (it = 0; it < 80; it++) {
        int rows = test_range(1, 12), cols = test_range(1, 60), g = groups[it % 5], imp = (it / 5) % 3;
        int gpr = (cols + g - 1) / g, ties = (it / 15) % 2;
        long n = (long)rows * cols, ng = (long)rows * gpr, i, k, pruned_groups = 0;
        float rate = (it % 7 == 0) ? 1.0f : (float)(test_rand() % 1001) / 1000.0f;
        float *w = (float *)malloc(sizeof(float) * (size_t)n);
        float *s = (float *)malloc(sizeof(float) * (size_t)ng);
        uint8_t *mask = (uint8_t *)malloc((size_t)n), *ref = (uint8_t *)malloc((size_t)n);
        float thr = -1.0f, ref_cut, t;
        fill_random(w, n, ties);
        CHECK(scalpel_prune_group_scores(w, rows, cols, g, (scalpel_importance)imp, s) == SCALPEL_OK, "scores");
        k = expected_count(rate, ng);
        CHECK(scalpel_prune_groups_rate(w, rows, cols, g, (scalpel_importance)imp, rate, mask, &thr) == SCALPEL_OK,
              "groups rate status");
        CHECK(groups_whole(mask, rows, cols, g), "groups split (G %d)", g);
        for (i = 0; i < ng; i++) {
            int r = (int)(i / gpr), c = (int)(i % gpr) * g;
            pruned_groups += mask[(long)r * cols + c] == 0;
        }
        CHECK(pruned_groups == k, "pruned %ld groups, want %ld", pruned_groups, k);
        ref_rate_mask(s, rows, cols, g, k, ref, &ref_cut);
        CHECK(memcmp(mask, ref, (size_t)n) == 0, "group mask differs from reference (G %d imp %d ties %d)",
              g, imp, ties);
        CHECK(thr == ref_cut, "group threshold_out %g want %g", thr, ref_cut);
        /* with cols a multiple of G the group rate is the weight rate */
        if (cols % g == 0) {
            long zeros = 0;
            for (i = 0; i < n; i++) zeros += mask[i] == 0;
            CHECK(zeros == k * g, "weight count %ld, want %ld", zeros, k * g);
        }
        /* threshold rule, on the library's own scores */
        t = s[test_rand() % (uint32_t)ng];
        CHECK(scalpel_prune_groups_threshold(w, rows, cols, g, (scalpel_importance)imp, t, mask) == SCALPEL_OK,
              "groups threshold status");
        CHECK(groups_whole(mask, rows, cols, g), "threshold groups split");
        {
            long bad = 0;
            for (i = 0; i < ng; i++) {
                int r = (int)(i / gpr), c = (int)(i % gpr) * g;
                bad += mask[(long)r * cols + c] != (s[i] >= t);
            }
            CHECK(bad == 0, "%ld group threshold decisions wrong", bad);
        }
        /* group sparsity of the pruned matrix: at least the pruned weights; G = 1 = sparsity */
        scalpel_mask_apply_f32(w, mask, (size_t)n);
        {
            long skipped = 0, r, c, j;
            for (r = 0; r < rows; r++)
                for (c = 0; c < cols; c += g) {
                    int zero = 1, m = 0;
                    for (j = c; j < c + g && j < cols; j++, m++) zero &= w[r * cols + j] == 0.0f;
                    if (zero) skipped += m;
                }
            CHECK(fabs(scalpel_group_sparsity_f32(w, rows, cols, g) - (double)skipped / (double)n) < 1e-6,
                  "group sparsity");
            CHECK(scalpel_group_sparsity_f32(w, rows, cols, 1) == scalpel_sparsity_f32(w, (size_t)n),
                  "G 1 group sparsity is sparsity");
        }
        free(w); free(s); free(mask); free(ref);
    }
}

static void test_small_utils(void)
{
    float w[8] = { 1, 0, -0.0f, 2, 0, 0, 3, 4 };
    const uint8_t m[8] = { 1, 1, 1, 0, 1, 1, 0, 1 };
    const float g[2 * 6] = { 0, 0, 0, 0, 1, 0,     /* G 4: [0,4) zero, tail [4,6) not */
                             0, 0, 0, 1, 0, 0 };   /* [0,4) not zero, tail zero */
    CHECK(fabs(scalpel_sparsity_f32(w, 8) - 0.5) < 1e-7, "sparsity counts -0 too");
    CHECK(scalpel_sparsity_f32(NULL, 8) == 0.0f && scalpel_sparsity_f32(w, 0) == 0.0f, "sparsity NULL / 0");
    scalpel_mask_apply_f32(w, m, 8);
    CHECK(w[3] == 0.0f && w[6] == 0.0f && w[0] == 1.0f && w[7] == 4.0f, "mask apply");
    scalpel_mask_apply_f32(NULL, m, 8);
    scalpel_mask_apply_f32(w, NULL, 8);
    CHECK(w[7] == 4.0f, "mask apply NULL does nothing");
    CHECK(fabs(scalpel_group_sparsity_f32(g, 2, 6, 4) - 6.0 / 12.0) < 1e-7, "group sparsity with tails: %g",
          scalpel_group_sparsity_f32(g, 2, 6, 4));
    CHECK(fabs(scalpel_group_sparsity_f32(g, 2, 6, 2) - 8.0 / 12.0) < 1e-7, "group sparsity G 2");
    CHECK(scalpel_group_sparsity_f32(g, 2, 6, 3) == 0.0f && scalpel_group_sparsity_f32(NULL, 2, 6, 4) == 0.0f &&
          scalpel_group_sparsity_f32(g, -1, 6, 4) == 0.0f && scalpel_group_sparsity_f32(g, 0, 6, 4) == 0.0f,
          "group sparsity bad arguments give 0");
}

static void test_errors(void)
{
    float w[12], s[12], thr;
    uint8_t mask[12];
    float nan_v, inf_v;
    uint32_t nan_bits = 0x7fc00000u, inf_bits = 0x7f800000u;
    int i;
    memcpy(&nan_v, &nan_bits, 4);
    memcpy(&inf_v, &inf_bits, 4);
    for (i = 0; i < 12; i++) w[i] = (float)(i + 1);
#define RESET() (memset(mask, 7, sizeof(mask)), thr = 9.0f)
    RESET();
    CHECK(scalpel_prune_magnitude_rate(NULL, 3, 4, 0.5f, mask, &thr) == SCALPEL_ERR_NULL && thr == 0.0f,
          "NULL w, threshold cleared");
    CHECK(scalpel_prune_magnitude_rate(w, 3, 4, 0.5f, NULL, &thr) == SCALPEL_ERR_NULL, "NULL mask");
    CHECK(scalpel_prune_magnitude_rate(w, -1, 4, 0.5f, mask, &thr) == SCALPEL_ERR_SHAPE, "rows < 0");
    CHECK(scalpel_prune_magnitude_rate(w, 3, -4, 0.5f, mask, &thr) == SCALPEL_ERR_SHAPE, "cols < 0");
    RESET();
    CHECK(scalpel_prune_magnitude_rate(w, 3, 4, 1.5f, mask, &thr) == SCALPEL_ERR_ARGUMENT && mask[0] == 0 &&
          thr == 0.0f, "rate > 1, mask cleared");
    CHECK(scalpel_prune_magnitude_rate(w, 3, 4, -0.1f, mask, &thr) == SCALPEL_ERR_ARGUMENT, "rate < 0");
    CHECK(scalpel_prune_magnitude_rate(w, 3, 4, nan_v, mask, &thr) == SCALPEL_ERR_ARGUMENT, "rate NaN");
    CHECK(scalpel_prune_magnitude_threshold(w, 3, 4, nan_v, mask) == SCALPEL_ERR_ARGUMENT, "threshold NaN");
    CHECK(scalpel_prune_magnitude_threshold(w, 3, 4, -1.0f, mask) == SCALPEL_ERR_ARGUMENT, "threshold < 0");
    CHECK(scalpel_prune_magnitude_threshold(NULL, 3, 4, 1.0f, mask) == SCALPEL_ERR_NULL, "threshold NULL w");
    CHECK(scalpel_prune_magnitude_threshold(w, 3, 4, 1.0f, NULL) == SCALPEL_ERR_NULL, "threshold NULL mask");
    CHECK(scalpel_prune_magnitude_threshold(w, 3, -1, 1.0f, mask) == SCALPEL_ERR_SHAPE, "threshold shape");
    CHECK(scalpel_prune_group_scores(w, 3, 4, 3, SCALPEL_IMPORTANCE_RMS, s) == SCALPEL_ERR_GROUP, "G 3");
    CHECK(scalpel_prune_group_scores(w, 3, 4, 0, SCALPEL_IMPORTANCE_RMS, s) == SCALPEL_ERR_GROUP, "G 0");
    CHECK(scalpel_prune_group_scores(w, 3, 4, 32, SCALPEL_IMPORTANCE_RMS, s) == SCALPEL_ERR_GROUP, "G 32");
    CHECK(scalpel_prune_group_scores(w, 3, 4, 2, (scalpel_importance)3, s) == SCALPEL_ERR_ARGUMENT, "importance");
    CHECK(scalpel_prune_group_scores(w, 3, 4, 2, SCALPEL_IMPORTANCE_RMS, NULL) == SCALPEL_ERR_NULL, "NULL scores");
    CHECK(scalpel_prune_groups_threshold(w, 3, 4, 5, SCALPEL_IMPORTANCE_RMS, 1.0f, mask) == SCALPEL_ERR_GROUP,
          "threshold G 5");
    CHECK(scalpel_prune_groups_threshold(w, 3, 4, 2, SCALPEL_IMPORTANCE_RMS, -2.0f, mask) == SCALPEL_ERR_ARGUMENT,
          "group threshold < 0");
    CHECK(scalpel_prune_groups_threshold(w, 3, 4, 2, SCALPEL_IMPORTANCE_RMS, nan_v, mask) == SCALPEL_ERR_ARGUMENT,
          "group threshold NaN");
    CHECK(scalpel_prune_groups_threshold(w, 3, 4, 2, (scalpel_importance)3, 1.0f, mask) == SCALPEL_ERR_ARGUMENT,
          "group threshold importance");
    RESET();
    CHECK(scalpel_prune_groups_rate(w, 3, 4, 6, SCALPEL_IMPORTANCE_RMS, 0.5f, mask, &thr) == SCALPEL_ERR_GROUP &&
          thr == 0.0f && mask[11] == 0, "groups rate G 6");
    CHECK(scalpel_prune_groups_rate(w, 3, 4, 2, SCALPEL_IMPORTANCE_MAX, 2.0f, mask, &thr) == SCALPEL_ERR_ARGUMENT,
          "groups rate > 1");
    CHECK(scalpel_prune_groups_rate(w, 3, 4, 2, SCALPEL_IMPORTANCE_MAX, nan_v, mask, NULL) == SCALPEL_ERR_ARGUMENT,
          "groups rate NaN");
    CHECK(scalpel_prune_groups_rate(w, 3, 4, 2, (scalpel_importance)3, 0.5f, mask, NULL) == SCALPEL_ERR_ARGUMENT,
          "groups rate importance");
    CHECK(scalpel_prune_groups_rate(w, 3, 4, 2, SCALPEL_IMPORTANCE_MAX, 0.5f, NULL, NULL) == SCALPEL_ERR_NULL,
          "groups rate NULL mask");
    CHECK(scalpel_prune_groups_rate(NULL, 3, 4, 2, SCALPEL_IMPORTANCE_MAX, 0.5f, mask, NULL) == SCALPEL_ERR_NULL,
          "groups rate NULL w");
    /* non-finite weights */
    w[5] = nan_v;
    CHECK(scalpel_prune_magnitude_rate(w, 3, 4, 0.5f, mask, NULL) == SCALPEL_ERR_ARGUMENT, "NaN weight, rate");
    CHECK(scalpel_prune_magnitude_threshold(w, 3, 4, 0.5f, mask) == SCALPEL_ERR_ARGUMENT, "NaN weight, threshold");
    CHECK(scalpel_prune_group_scores(w, 3, 4, 4, SCALPEL_IMPORTANCE_RMS, s) == SCALPEL_ERR_ARGUMENT, "NaN scores");
    w[5] = -inf_v;
    CHECK(scalpel_prune_groups_rate(w, 3, 4, 4, SCALPEL_IMPORTANCE_RMS, 0.5f, mask, NULL) == SCALPEL_ERR_ARGUMENT,
          "-inf weight, groups rate");
    CHECK(scalpel_prune_groups_threshold(w, 3, 4, 4, SCALPEL_IMPORTANCE_RMS, 0.5f, mask) == SCALPEL_ERR_ARGUMENT,
          "-inf weight, groups threshold");
    w[5] = 6.0f;
    /* empty matrices are valid and prune nothing */
    CHECK(scalpel_prune_magnitude_rate(w, 0, 4, 0.5f, mask, &thr) == SCALPEL_OK && thr == 0.0f, "0 rows");
    CHECK(scalpel_prune_groups_rate(w, 3, 0, 8, SCALPEL_IMPORTANCE_RMS, 1.0f, mask, &thr) == SCALPEL_OK, "0 cols");
    CHECK(scalpel_prune_group_scores(w, 0, 0, 8, SCALPEL_IMPORTANCE_RMS, s) == SCALPEL_OK, "0 x 0 scores");
    /* extremes of magnitude do not overflow the scores */
    {
        const float big[4] = { 3.0e38f, -3.0e38f, 3.0e38f, 3.0e38f };
        const float tiny[2] = { 1e-45f, 1e-45f };
        CHECK(scalpel_prune_group_scores(big, 1, 4, 4, SCALPEL_IMPORTANCE_RMS, s) == SCALPEL_OK &&
              fabs(s[0] - 3.0e38) < 1e32, "rms of huge weights: %g", s[0]);
        CHECK(scalpel_prune_group_scores(tiny, 1, 2, 2, SCALPEL_IMPORTANCE_RMS, s) == SCALPEL_OK && s[0] == 1e-45f,
              "rms of denormals: %g", s[0]);
    }
#undef RESET
}

/* ---------------------------------------------------------------- node removal */

typedef struct layer_spec { int kind, outputs, kernel, stride, pad; } layer_spec;

/* Builds a network from spec with the given weights (w[l], b[l] for weighted layers); gcsr_layer
 * >= 0 stores that layer as grouped CSR with G = 4 instead. */
static scalpel_status build_net(int c, int h, int wd, const layer_spec *spec, int n, float **w, float **b,
                                int gcsr_layer, scalpel_net *net)
{
    int l;
    scalpel_status st = scalpel_net_init(c, h, wd, net);
    if (st != SCALPEL_OK) return st;
    net->alloc_ctx = &test_ctx_token;
    for (l = 0; l < n && st == SCALPEL_OK; l++) {
        const layer_spec *s = &spec[l];
        if (s->kind == SCALPEL_LAYER_RELU) st = scalpel_net_add_relu(net);
        else if (s->kind == SCALPEL_LAYER_MAXPOOL) st = scalpel_net_add_maxpool(net, s->kernel, s->stride);
        else if (l == gcsr_layer) {
            /* W's shape from the current output shape, then a grouped copy of the same weights */
            const scalpel_layer *p = net->n_layers ? &net->layers[net->n_layers - 1] : NULL;
            int pc = p ? p->geom.out_c : net->in_c, ph = p ? p->geom.out_h : net->in_h, pw = p ? p->geom.out_w : net->in_w;
            int cols = s->kind == SCALPEL_LAYER_FC ? pc * ph * pw : pc * s->kernel * s->kernel;
            scalpel_gcsr m;
            st = scalpel_gcsr_from_dense(w[l], s->outputs, cols, 4, &m);
            if (st != SCALPEL_OK) break;
            st = s->kind == SCALPEL_LAYER_FC ? scalpel_net_add_fc_gcsr(net, &m, b[l])
                                             : scalpel_net_add_conv2d_gcsr(net, s->outputs, s->kernel,
                                                                           s->stride, s->pad, &m, b[l]);
            scalpel_gcsr_free(&m);
        } else if (s->kind == SCALPEL_LAYER_FC) st = scalpel_net_add_fc(net, s->outputs, w[l], b[l]);
        else st = scalpel_net_add_conv2d(net, s->outputs, s->kernel, s->stride, s->pad, w[l], b[l]);
    }
    if (st != SCALPEL_OK) scalpel_net_free(net);
    return st;
}

/* The keep set remove_nodes must use: the user's mask, then the removed rows of largest L2
 * norm (lower index first) until the count is a multiple of round_to or all are kept. */
static int expected_keep(const uint8_t *user, const float *w, int rows, int cols, int round_to, uint8_t *keep)
{
    int i, kept = 0, target;
    for (i = 0; i < rows; i++) { keep[i] = user ? user[i] : 1; kept += keep[i]; }
    target = (kept + round_to - 1) / round_to * round_to;
    if (target > rows) target = rows;
    while (kept < target) {
        int best = -1, j;
        double bn = -1.0;
        for (i = 0; i < rows; i++) {
            double s = 0.0;
            if (keep[i]) continue;
            for (j = 0; j < cols; j++) s += (double)w[(long)i * cols + j] * w[(long)i * cols + j];
            if (s > bn) { bn = s; best = i; }
        }
        keep[best] = 1;
        kept++;
    }
    return kept;
}

static int forward_all(const scalpel_net *net, const float *in, int batch, float *out)
{
    size_t ws = scalpel_net_workspace_size(net, batch);
    void *mem = malloc(ws ? ws : 1);
    scalpel_status st = ws ? scalpel_net_forward(net, in, batch, out, mem) : SCALPEL_ERR_ARGUMENT;
    free(mem);
    return st == SCALPEL_OK;
}

/* One removal case: random weights and masks on spec, checked against the masked network. */
static void removal_case(const char *name, int c, int h, int wd, const layer_spec *spec, int n, int round_to,
                         int gcsr_layer)
{
    float *w[SCALPEL_NET_MAX_LAYERS] = { 0 }, *b[SCALPEL_NET_MAX_LAYERS] = { 0 };
    float *mw[SCALPEL_NET_MAX_LAYERS] = { 0 }, *mb[SCALPEL_NET_MAX_LAYERS] = { 0 };
    uint8_t *user[SCALPEL_NET_MAX_LAYERS] = { 0 }, *fin[SCALPEL_NET_MAX_LAYERS] = { 0 };
    const uint8_t *keep[SCALPEL_NET_MAX_LAYERS] = { 0 };
    scalpel_net net, masked, reduced;
    int l, last_w = -1, batch, prev_kept = c, ok;
    scalpel_status st;
    long live0;
    memset(&net, 0, sizeof(net));
    memset(&masked, 0, sizeof(masked));
    memset(&reduced, 0, sizeof(reduced));
    /* shapes from a weightless build, then random weights */
    st = build_net(c, h, wd, spec, n, w, b, -1, &net); /* w, b all NULL: zero weights */
    CHECK(st == SCALPEL_OK, "%s: shape build %d", name, (int)st);
    if (st != SCALPEL_OK) return;
    for (l = 0; l < n; l++) {
        const scalpel_layer *L = &net.layers[l];
        long cells = (long)L->geom.rows * L->geom.cols, i;
        if (L->geom.rows == 0) continue;
        last_w = l;
        w[l] = (float *)malloc(sizeof(float) * (size_t)cells);
        b[l] = (float *)malloc(sizeof(float) * (size_t)L->geom.rows);
        mw[l] = (float *)malloc(sizeof(float) * (size_t)cells);
        mb[l] = (float *)malloc(sizeof(float) * (size_t)L->geom.rows);
        fin[l] = (uint8_t *)malloc((size_t)L->geom.rows);
        user[l] = (uint8_t *)malloc((size_t)L->geom.rows);
        for (i = 0; i < cells; i++) w[l][i] = test_uniform() * 0.5f;
        for (i = 0; i < L->geom.rows; i++) b[l][i] = test_uniform() * 0.2f;
    }
    scalpel_net_free(&net);
    CHECK(build_net(c, h, wd, spec, n, w, b, gcsr_layer, &net) == SCALPEL_OK, "%s: build", name);
    /* masks for every weighted layer but the last; the masked copy zeroes removed rows */
    for (l = 0; l < n; l++) {
        const scalpel_layer *L = &net.layers[l];
        int r, any = 0, kept;
        if (w[l] == NULL) continue;
        if (l != last_w) {
            for (r = 0; r < L->geom.rows; r++) { user[l][r] = (uint8_t)(test_rand() % 100 < 55); any |= user[l][r]; }
            if (!any) user[l][test_rand() % (uint32_t)L->geom.rows] = 1;
            keep[l] = user[l];
        }
        kept = expected_keep(keep[l], w[l], L->geom.rows, L->geom.cols, round_to, fin[l]);
        memcpy(mw[l], w[l], sizeof(float) * (size_t)L->geom.rows * (size_t)L->geom.cols);
        memcpy(mb[l], b[l], sizeof(float) * (size_t)L->geom.rows);
        for (r = 0; r < L->geom.rows; r++)
            if (!fin[l][r]) {
                memset(mw[l] + (long)r * L->geom.cols, 0, sizeof(float) * (size_t)L->geom.cols);
                mb[l][r] = 0.0f;
            }
        CHECK(kept == L->geom.rows || kept % round_to == 0, "%s: expected count %d not rounded", name, kept);
    }
    CHECK(build_net(c, h, wd, spec, n, mw, mb, -1, &masked) == SCALPEL_OK, "%s: masked build", name);
    live0 = test_live_allocs;
    test_bad_ctx = 0;
    st = scalpel_net_remove_nodes(&net, keep, round_to, &reduced);
    CHECK(st == SCALPEL_OK, "%s: remove_nodes %d", name, (int)st);
    CHECK(!test_bad_ctx && reduced.alloc_ctx == (void *)&test_ctx_token, "%s: alloc_ctx", name);
    CHECK(scalpel_net_validate(&reduced) == SCALPEL_OK && reduced.n_layers == n, "%s: reduced valid", name);
    /* shapes */
    ok = 1;
    for (l = 0; l < n && st == SCALPEL_OK; l++) {
        const scalpel_layer *L = &reduced.layers[l], *O = &net.layers[l];
        ok &= L->geom.kind == O->geom.kind && L->geom.in_c == prev_kept && L->geom.in_h == O->geom.in_h && L->geom.in_w == O->geom.in_w &&
              L->geom.out_h == O->geom.out_h && L->geom.out_w == O->geom.out_w;
        if (w[l] != NULL) {
            int r, kept = 0;
            for (r = 0; r < O->geom.rows; r++) kept += fin[l][r];
            ok &= L->geom.rows == kept && L->geom.out_c == kept && L->storage == SCALPEL_STORAGE_DENSE &&
                  (long)L->geom.cols * O->geom.in_c == (long)O->geom.cols * prev_kept;
            prev_kept = kept;
        } else {
            ok &= L->geom.out_c == prev_kept;
        }
    }
    CHECK(ok, "%s: reduced shapes", name);
    /* outputs */
    for (batch = 1; batch <= 3 && st == SCALPEL_OK; batch += 2) {
        int in_n = scalpel_net_input_size(&net), out_n = scalpel_net_output_size(&net), i, bad = 0;
        float *x = (float *)malloc(sizeof(float) * (size_t)(in_n * batch));
        float *y0 = (float *)malloc(sizeof(float) * (size_t)(out_n * batch));
        float *y1 = (float *)malloc(sizeof(float) * (size_t)(out_n * batch));
        double worst = 0.0;
        for (i = 0; i < in_n * batch; i++) x[i] = test_uniform();
        CHECK(scalpel_net_output_size(&reduced) == out_n, "%s: output size", name);
        CHECK(forward_all(&masked, x, batch, y0) && forward_all(&reduced, x, batch, y1), "%s: forward", name);
        for (i = 0; i < out_n * batch; i++) {
            double d = fabs((double)y0[i] - y1[i]) / (fabs((double)y0[i]) + 1e-2);
            if (d > worst) worst = d;
            bad += d > 1e-5;
        }
        CHECK(bad == 0, "%s: batch %d, %d outputs differ (worst relative %g)", name, batch, bad, worst);
        free(x); free(y0); free(y1);
    }
    scalpel_net_free(&reduced);
    CHECK(test_live_allocs == live0, "%s: reduced network freed everything", name);
    /* every allocation failing in turn: an error, *out zeroed, nothing leaked */
    {
        int k, failures = 0, bad = 0;
        for (k = 1; k <= 40; k++) {
            scalpel_net tmp;
            memset(&tmp, 0x5a, sizeof(tmp));
            test_alloc_countdown = k;
            st = scalpel_net_remove_nodes(&net, keep, round_to, &tmp);
            test_alloc_countdown = 0;
            if (st == SCALPEL_OK) { scalpel_net_free(&tmp); break; }
            failures++;
            if (st != SCALPEL_ERR_NO_MEMORY || tmp.n_layers != 0 || tmp.alloc_ctx != NULL) bad++;
            if (test_live_allocs != live0) bad++;
        }
        CHECK(failures >= 2 && bad == 0, "%s: allocation failures (%d failures, %d bad)", name, failures, bad);
        CHECK(test_live_allocs == live0, "%s: leaks after failures", name);
    }
    scalpel_net_free(&net);
    scalpel_net_free(&masked);
    for (l = 0; l < n; l++) { free(w[l]); free(b[l]); free(mw[l]); free(mb[l]); free(user[l]); free(fin[l]); }
}

static void test_remove_nodes(void)
{
    enum { FC = SCALPEL_LAYER_FC, CV = SCALPEL_LAYER_CONV2D, MP = SCALPEL_LAYER_MAXPOOL, RL = SCALPEL_LAYER_RELU };
    /* LeNet-300-100 scaled down: 1x8x8 -> 40 -> 20 -> 10 */
    static const layer_spec lenet300[5] = { { FC, 40, 0, 0, 0 }, { RL, 0, 0, 0, 0 }, { FC, 20, 0, 0, 0 },
                                            { RL, 0, 0, 0, 0 }, { FC, 10, 0, 0, 0 } };
    /* LeNet-5 scaled down: conv-relu-pool-conv-relu-pool-fc-relu-fc on 1x12x12 */
    static const layer_spec lenet5[9] = { { CV, 6, 3, 1, 1 }, { RL, 0, 0, 0, 0 }, { MP, 0, 2, 2, 0 },
                                          { CV, 10, 3, 1, 0 }, { RL, 0, 0, 0, 0 }, { MP, 0, 2, 2, 0 },
                                          { FC, 24, 0, 0, 0 }, { RL, 0, 0, 0, 0 }, { FC, 4, 0, 0, 0 } };
    /* strides, padding, overlapping pools, FC straight after FC and conv straight after conv */
    static const layer_spec odd[10] = { { CV, 9, 3, 2, 1 }, { RL, 0, 0, 0, 0 }, { MP, 0, 2, 1, 0 },
                                        { CV, 7, 2, 1, 1 }, { CV, 12, 3, 2, 2 }, { RL, 0, 0, 0, 0 },
                                        { MP, 0, 3, 2, 0 }, { FC, 35, 0, 0, 0 }, { FC, 17, 0, 0, 0 },
                                        { FC, 3, 0, 0, 0 } };
    /* a conv flattened straight into an FC (no pool) */
    static const layer_spec flat[4] = { { CV, 5, 3, 1, 0 }, { RL, 0, 0, 0, 0 }, { FC, 6, 0, 0, 0 },
                                        { FC, 2, 0, 0, 0 } };
    static const int rounds[4] = { 1, 8, 16, 32 };
    int it, ri;
    for (it = 0; it < 3; it++)
        for (ri = 0; ri < 4; ri++) {
            removal_case("lenet300", 1, 8, 8, lenet300, 5, rounds[ri], it == 2 ? 2 : -1);
            removal_case("lenet5", 1, 12, 12, lenet5, 9, rounds[ri], it == 2 ? 3 : -1);
            removal_case("odd", 2, 13, 11, odd, 10, rounds[ri], it == 2 ? 4 : -1);
            removal_case("flat", 3, 6, 5, flat, 4, rounds[ri], it == 2 ? 0 : -1);
        }
}

/* round_to on a known case: 30 nodes, keep 11 -> 16 with round_to 8 (the 5 largest rows come
 * back), 30 with round_to 32 (capped), 11 with round_to 1. */
static void test_round_to_counts(void)
{
    float w1[30 * 4], w2[2 * 30];
    uint8_t user[30];
    const uint8_t *keep[2];
    scalpel_net net, out;
    int i, r;
    for (i = 0; i < 30 * 4; i++) w1[i] = 0.01f * (float)((i * 7) % 13);
    for (i = 0; i < 2 * 30; i++) w2[i] = 1.0f;
    for (r = 0; r < 30; r++) user[r] = (uint8_t)(r < 11);
    /* rows 20..24 get the largest norms of the removed ones, row 25 ties with row 20 */
    for (r = 20; r < 25; r++) w1[r * 4] = 5.0f + (float)r;
    w1[25 * 4] = 5.0f + 20.0f;
    for (i = 1; i < 4; i++) { w1[25 * 4 + i] = w1[20 * 4 + i]; }
    keep[0] = user;
    keep[1] = NULL;
    CHECK(scalpel_net_init(4, 1, 1, &net) == SCALPEL_OK && scalpel_net_add_fc(&net, 30, w1, NULL) == SCALPEL_OK &&
          scalpel_net_add_fc(&net, 2, w2, NULL) == SCALPEL_OK, "build");
    CHECK(scalpel_net_remove_nodes(&net, keep, 1, &out) == SCALPEL_OK && out.layers[0].geom.rows == 11 &&
          out.layers[1].geom.cols == 11, "round_to 1");
    scalpel_net_free(&out);
    CHECK(scalpel_net_remove_nodes(&net, keep, 8, &out) == SCALPEL_OK && out.layers[0].geom.rows == 16 &&
          out.layers[1].geom.cols == 16, "round_to 8");
    {   /* kept rows: 0..10, then 20..24 (row 25 ties 20 and loses: higher index) */
        int okr = 1;
        for (r = 0; r < 11; r++) okr &= out.layers[0].w[r * 4 + 1] == w1[r * 4 + 1];
        for (r = 0; r < 5; r++) okr &= out.layers[0].w[(11 + r) * 4] == w1[(20 + r) * 4];
        CHECK(okr, "round_to 8 adds back the largest rows, lower index on ties");
    }
    scalpel_net_free(&out);
    CHECK(scalpel_net_remove_nodes(&net, keep, 16, &out) == SCALPEL_OK && out.layers[0].geom.rows == 16, "round_to 16");
    scalpel_net_free(&out);
    CHECK(scalpel_net_remove_nodes(&net, keep, 32, &out) == SCALPEL_OK && out.layers[0].geom.rows == 30, "round_to 32 cap");
    scalpel_net_free(&out);
    /* errors: *out is zeroed, nothing built */
    memset(&out, 0x33, sizeof(out));
    CHECK(scalpel_net_remove_nodes(&net, keep, 3, &out) == SCALPEL_ERR_ARGUMENT && out.n_layers == 0, "round_to 3");
    CHECK(scalpel_net_remove_nodes(&net, keep, 0, &out) == SCALPEL_ERR_ARGUMENT, "round_to 0");
    CHECK(scalpel_net_remove_nodes(NULL, keep, 1, &out) == SCALPEL_ERR_NULL, "NULL net");
    CHECK(scalpel_net_remove_nodes(&net, NULL, 1, &out) == SCALPEL_ERR_NULL, "NULL keep");
    CHECK(scalpel_net_remove_nodes(&net, keep, 1, NULL) == SCALPEL_ERR_NULL, "NULL out");
    keep[1] = user;
    CHECK(scalpel_net_remove_nodes(&net, keep, 1, &out) == SCALPEL_ERR_ARGUMENT, "mask on the output layer");
    keep[1] = NULL;
    memset(user, 0, sizeof(user));
    CHECK(scalpel_net_remove_nodes(&net, keep, 1, &out) == SCALPEL_ERR_ARGUMENT, "every node removed");
    user[3] = 2;
    CHECK(scalpel_net_remove_nodes(&net, keep, 1, &out) == SCALPEL_ERR_ARGUMENT, "mask byte 2");
    user[3] = 1;
    CHECK(scalpel_net_remove_nodes(&net, keep, 1, &out) == SCALPEL_OK && out.layers[0].geom.rows == 1, "one node");
    scalpel_net_free(&out);
    CHECK(scalpel_net_add_relu(&net) == SCALPEL_OK, "relu");
    {
        const uint8_t *k3[3];
        uint8_t two[2] = { 1, 1 };
        k3[0] = NULL; k3[1] = NULL; k3[2] = two;
        CHECK(scalpel_net_remove_nodes(&net, k3, 1, &out) == SCALPEL_ERR_ARGUMENT && out.n_layers == 0,
              "mask on an unweighted layer");
    }
    {   /* an invalid network is refused */
        scalpel_net bad;
        scalpel_layer room[16];
        test_net_detach(&bad, &net, room, 16);
        bad.layers[0].geom.cols = 5;
        CHECK(scalpel_net_remove_nodes(&bad, keep, 1, &out) == SCALPEL_ERR_SHAPE, "invalid net");
    }
    scalpel_net_free(&net);
}

/* ---------------------------------------------------------------- dead-node removal */

/* One dead-node case on spec: random weights and biases of both signs, then every row listed in
 * dead[] (pairs of layer, row; -1 ends) zeroed; cascade[] (pairs of layer, row) rows keep only
 * the columns that read the first dead node of the weighted layer before. The network after
 * removal must compute what the original does (folded constants included) and have
 * expect_rows[l] rows in weighted layer l. */
static void dead_case(const char *name, int c, int h, int wd, const layer_spec *spec, int n, int gcsr_layer,
                      const int *dead, const int *cascade, const uint8_t *which, const int *expect_rows,
                      float bias_sign)
{
    float *w[SCALPEL_NET_MAX_LAYERS] = { 0 }, *b[SCALPEL_NET_MAX_LAYERS] = { 0 };
    int rows[SCALPEL_NET_MAX_LAYERS] = { 0 }, cols[SCALPEL_NET_MAX_LAYERS] = { 0 }, per[SCALPEL_NET_MAX_LAYERS] = { 0 };
    int l, i, pc = c, ph = h, pw = wd, prev = -1;
    scalpel_net net, out;
    int32_t removed = -1;
    /* shapes */
    for (l = 0; l < n; l++) {
        const layer_spec *sp = &spec[l];
        if (sp->kind == SCALPEL_LAYER_FC || sp->kind == SCALPEL_LAYER_CONV2D) {
            rows[l] = sp->outputs;
            per[l] = sp->kind == SCALPEL_LAYER_FC ? ph * pw : sp->kernel * sp->kernel;
            cols[l] = pc * per[l];
            if (sp->kind == SCALPEL_LAYER_FC) { pc = sp->outputs; ph = pw = 1; }
            else { pc = sp->outputs; ph = (ph + 2 * sp->pad - sp->kernel) / sp->stride + 1; pw = (pw + 2 * sp->pad - sp->kernel) / sp->stride + 1; }
            w[l] = (float *)malloc(sizeof(float) * (size_t)rows[l] * (size_t)cols[l]);
            b[l] = (float *)malloc(sizeof(float) * (size_t)rows[l]);
            fill_random(w[l], (long)rows[l] * cols[l], 0);
            for (i = 0; i < rows[l]; i++) b[l][i] = bias_sign * (0.2f + 0.1f * (float)(i % 5)) * ((i % 3 == 1) ? -1.0f : 1.0f);
        } else if (sp->kind == SCALPEL_LAYER_MAXPOOL) {
            ph = (ph - sp->kernel) / sp->stride + 1;
            pw = (pw - sp->kernel) / sp->stride + 1;
        }
    }
    for (i = 0; dead[i] >= 0; i += 2)
        memset(w[dead[i]] + (size_t)dead[i + 1] * (size_t)cols[dead[i]], 0, sizeof(float) * (size_t)cols[dead[i]]);
    for (i = 0; cascade && cascade[i] >= 0; i += 2) {
        int L = cascade[i], r = cascade[i + 1], j, d = -1;
        for (l = L - 1; l >= 0 && d < 0; l--) if (rows[l]) prev = l, l = -1;
        for (j = 0; dead[j] >= 0; j += 2) if (dead[j] == prev) { d = dead[j + 1]; break; }
        for (j = 0; j < cols[L]; j++) if (j / per[L] != d) w[L][(size_t)r * (size_t)cols[L] + (size_t)j] = 0.0f;
    }
    CHECK(build_net(c, h, wd, spec, n, w, b, gcsr_layer, &net) == SCALPEL_OK, "%s: build", name);
    memset(&out, 0x5a, sizeof(out));
    CHECK(scalpel_net_remove_dead_nodes(&net, which, &out, &removed) == SCALPEL_OK, "%s: remove", name);
    {
        int expect_removed = 0, ok = 1;
        for (l = 0; l < n; l++) if (rows[l]) {
            ok &= out.layers[l].geom.rows == expect_rows[l];
            expect_removed += rows[l] - expect_rows[l];
        }
        CHECK(ok && removed == expect_removed && out.n_layers == net.n_layers, "%s: shapes (removed %d, expected %d)",
              name, (int)removed, expect_removed);
    }
    {   /* the same outputs on random inputs, batch 3 */
        int in_n = c * h * wd, out_n = net.layers[n - 1].geom.out_c * net.layers[n - 1].geom.out_h * net.layers[n - 1].geom.out_w;
        float *x = (float *)malloc(sizeof(float) * (size_t)in_n * 3), *y0 = (float *)malloc(sizeof(float) * (size_t)out_n * 3),
              *y1 = (float *)malloc(sizeof(float) * (size_t)out_n * 3);
        double worst = 0.0;
        fill_random(x, (long)in_n * 3, 0);
        CHECK(forward_all(&net, x, 3, y0) && forward_all(&out, x, 3, y1), "%s: forward", name);
        for (i = 0; i < out_n * 3; i++) {
            double d = fabs((double)y0[i] - (double)y1[i]) / (1.0 + fabs((double)y0[i]));
            if (d > worst) worst = d;
        }
        CHECK(worst < 1e-5, "%s: outputs agree (worst %g)", name, worst);
        free(x); free(y0); free(y1);
    }
    scalpel_net_free(&out);
    scalpel_net_free(&net);
    for (l = 0; l < n; l++) { free(w[l]); free(b[l]); }
}

static void test_dead_nodes(void)
{
    enum { FC = SCALPEL_LAYER_FC, CV = SCALPEL_LAYER_CONV2D, RL = SCALPEL_LAYER_RELU, MP = SCALPEL_LAYER_MAXPOOL };
    static const layer_spec mlp[5] = { { FC, 12, 0, 0, 0 }, { RL, 0, 0, 0, 0 }, { FC, 9, 0, 0, 0 }, { RL, 0, 0, 0, 0 },
                                       { FC, 3, 0, 0, 0 } };
    static const layer_spec linear[3] = { { FC, 10, 0, 0, 0 }, { FC, 6, 0, 0, 0 }, { FC, 3, 0, 0, 0 } };
    static const layer_spec cnn[9] = { { CV, 5, 3, 1, 0 }, { RL, 0, 0, 0, 0 }, { MP, 0, 2, 2, 0 }, { CV, 6, 3, 1, 0 },
                                       { RL, 0, 0, 0, 0 }, { MP, 0, 2, 2, 0 }, { FC, 7, 0, 0, 0 }, { RL, 0, 0, 0, 0 },
                                       { FC, 3, 0, 0, 0 } };
    static const layer_spec padded[4] = { { CV, 6, 3, 1, 0 }, { RL, 0, 0, 0, 0 }, { CV, 4, 3, 1, 1 }, { FC, 3, 0, 0, 0 } };
    /* mlp: rows 1, 4, 7 of fc1 dead (row 4's bias is negative: a zero constant), row 5 of fc2
     * dead; fc2's row 2 reads only fc1's row 1 (dead): it cascades. fc3 keeps its 3 outputs. */
    static const int mlp_dead[] = { 0, 1, 0, 4, 0, 7, 2, 5, -1 }, mlp_casc[] = { 2, 2, -1 };
    static const int mlp_rows[5] = { 9, 0, 7, 0, 3 };
    static const uint8_t only_first[5] = { 1, 0, 0, 0, 0 };
    static const int first_rows[5] = { 9, 0, 9, 0, 3 };
    static const int linear_dead[] = { 0, 0, 0, 9, 1, 3, -1 }, linear_rows[3] = { 8, 5, 3 };
    static const int cnn_dead[] = { 0, 2, 3, 0, 3, 5, 6, 6, -1 }, cnn_rows[9] = { 4, 0, 0, 4, 0, 0, 6, 0, 3 };
    /* padded: maps 0 (bias +0.2: a non-zero constant into a padded conv, kept) and 1 (bias
     * -0.3: relu makes it 0, removed) */
    static const int padded_dead[] = { 0, 0, 0, 1, -1 }, padded_rows[4] = { 5, 0, 4, 3 };
    static const int all_dead[] = { 0, 0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9, 0, 10, 0, 11, -1 };
    static const int all_rows[5] = { 1, 0, 9, 0, 3 };
    static const int none[] = { -1 }, none_rows[5] = { 12, 0, 9, 0, 3 };
    dead_case("mlp", 1, 4, 4, mlp, 5, -1, mlp_dead, mlp_casc, NULL, mlp_rows, 1.0f);
    dead_case("mlp, fc1 grouped", 1, 4, 4, mlp, 5, 0, mlp_dead, mlp_casc, NULL, mlp_rows, 1.0f);
    dead_case("mlp, fc2 grouped", 1, 4, 4, mlp, 5, 2, mlp_dead, mlp_casc, NULL, mlp_rows, 1.0f);
    dead_case("mlp, only fc1", 1, 4, 4, mlp, 5, -1, mlp_dead, mlp_casc, only_first, first_rows, 1.0f);
    dead_case("mlp, negative biases", 1, 4, 4, mlp, 5, -1, mlp_dead, mlp_casc, NULL, mlp_rows, -1.0f);
    dead_case("no relu", 2, 3, 1, linear, 3, -1, linear_dead, NULL, NULL, linear_rows, 1.0f);
    dead_case("conv, pool, fc", 2, 12, 12, cnn, 9, -1, cnn_dead, NULL, NULL, cnn_rows, 1.0f);
    dead_case("conv into a padded conv", 1, 7, 7, padded, 4, -1, padded_dead, NULL, NULL, padded_rows, 1.0f);
    dead_case("every fc1 node dead", 1, 4, 4, mlp, 5, -1, all_dead, NULL, NULL, all_rows, 1.0f);
    dead_case("nothing dead", 1, 4, 4, mlp, 5, -1, none, NULL, NULL, none_rows, 1.0f);

    {   /* errors, allocator failure at each allocation, the network's alloc_ctx */
        float *w[SCALPEL_NET_MAX_LAYERS] = { 0 }, *b[SCALPEL_NET_MAX_LAYERS] = { 0 };
        float w1[12 * 16], w2[9 * 12], w3[3 * 9], b1[12], b2[9], b3[3];
        scalpel_net net, out;
        int32_t removed = 7;
        long k, fails = 0;
        fill_random(w1, 12 * 16, 0); fill_random(w2, 9 * 12, 0); fill_random(w3, 27, 0);
        fill_random(b1, 12, 0); fill_random(b2, 9, 0); fill_random(b3, 3, 0);
        memset(w1 + 16 * 3, 0, 16 * sizeof(float));
        w[0] = w1; w[2] = w2; w[4] = w3; b[0] = b1; b[2] = b2; b[4] = b3;
        CHECK(build_net(1, 4, 4, mlp, 5, w, b, -1, &net) == SCALPEL_OK, "build");
        memset(&out, 0x33, sizeof(out));
        CHECK(scalpel_net_remove_dead_nodes(NULL, NULL, &out, &removed) == SCALPEL_ERR_NULL && out.n_layers == 0 &&
              removed == 0, "NULL net");
        CHECK(scalpel_net_remove_dead_nodes(&net, NULL, NULL, NULL) == SCALPEL_ERR_NULL, "NULL out");
        {
            scalpel_net bad;
            scalpel_layer room[16];
            test_net_detach(&bad, &net, room, 16);
            bad.layers[2].geom.cols = 5;
            CHECK(scalpel_net_remove_dead_nodes(&bad, NULL, &out, NULL) == SCALPEL_ERR_SHAPE && out.n_layers == 0,
                  "invalid net");
        }
        for (k = 1; k < 64; k++) {
            scalpel_status st;
            test_alloc_countdown = k;
            st = scalpel_net_remove_dead_nodes(&net, NULL, &out, &removed);
            test_alloc_countdown = 0;
            if (st == SCALPEL_OK) { CHECK(out.layers[0].geom.rows == 11 && removed == 1, "ok after %ld", k); scalpel_net_free(&out); break; }
            fails++;
            CHECK(st == SCALPEL_ERR_NO_MEMORY && out.n_layers == 0 && removed == 0, "failure %ld: status %d", k, (int)st);
        }
        CHECK(fails >= 2, "allocations tried: %ld", fails);
        scalpel_net_free(&net);
        CHECK(test_live_allocs == 0 && !test_bad_ctx, "no leak, alloc_ctx used (%ld live)", test_live_allocs);
    }
}

int main(void)
{
    test_scores();
    test_magnitude();
    test_groups();
    test_small_utils();
    test_errors();
    test_remove_nodes();
    test_round_to_counts();
    test_dead_nodes();
    return test_summary("test_prune");
}
