/* test_util.h - the tiny test harness shared by Scalpel's test programs.
 *
 * Each program counts checks and ends with the line "N passed, N failed" (the summary CI reads);
 * main() returns non-zero when anything failed. It runs unchanged on the host and on emulated
 * Cortex-M boards (printf without %zu / %lld, no files, a seeded RNG and no clock). */
#ifndef SCALPEL_TEST_UTIL_H
#define SCALPEL_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <math.h>

static long test_passed, test_failed;

/* Counts one check; prints the first failures with their place and a message. */
#define CHECK(cond, ...)                                                                            \
    do {                                                                                           \
        if (cond) {                                                                                \
            test_passed++;                                                                         \
        } else {                                                                                   \
            test_failed++;                                                                         \
            if (test_failed <= 20) {                                                               \
                printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                             \
                printf(__VA_ARGS__);                                                               \
                printf("\n");                                                                      \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static inline int test_summary(const char *name)
{
    printf("%s: %ld passed, %ld failed\n", name, test_passed, test_failed);
    return test_failed != 0;
}

/* xorshift64*: deterministic across platforms. */
static uint64_t test_rng_state = 0x9E3779B97F4A7C15ull;
static inline uint32_t test_rand(void)
{
    test_rng_state ^= test_rng_state >> 12;
    test_rng_state ^= test_rng_state << 25;
    test_rng_state ^= test_rng_state >> 27;
    return (uint32_t)((test_rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}
/* uniform integer in [lo, hi] */
static inline int32_t test_range(int32_t lo, int32_t hi) { return lo + (int32_t)(test_rand() % (uint32_t)(hi - lo + 1)); }
/* uniform float in [-1, 1) */
static inline float test_uniform(void) { return (float)(test_rand() >> 8) / 8388608.0f - 1.0f; }

#ifdef SCALPEL_H
#include <string.h>
/* Points *dst at a copy of src's layers in room[capacity], so that a test can break dst's
 * layers without touching src's (a plain struct copy shares the layer array). */
static inline void test_net_detach(scalpel_net *dst, const scalpel_net *src, scalpel_layer *room, int32_t capacity)
{
    int32_t n = src->n_layers < capacity ? src->n_layers : capacity;
    *dst = *src;
    if (n > 0) memcpy(room, src->layers, (size_t)n * sizeof(*room));
    dst->layers = room;
    dst->capacity = 0;
    dst->owns_layers = 0;
    dst->block = NULL;
}
#endif

#endif
