/* counting_alloc.h - an allocator for tests that counts, and fails on demand.
 *
 * Include it before scalpel.h in a test that defines SCALPEL_IMPLEMENTATION: it defines
 * SCALPEL_MALLOC / SCALPEL_FREE. An object whose alloc_ctx points at a counting_alloc has its
 * allocations and frees counted, and allocation fails from the fail_after-th one on (< 0:
 * never), so that every failure path can be walked; a NULL context is plain malloc. */
#ifndef SCALPEL_TEST_COUNTING_ALLOC_H
#define SCALPEL_TEST_COUNTING_ALLOC_H

#include <stdlib.h>

typedef struct counting_alloc {
    long allocs, frees, fail_after;
} counting_alloc;

static void *test_malloc(void *ctx, size_t n)
{
    counting_alloc *a = (counting_alloc *)ctx;
    if (a == NULL) return malloc(n);
    if (a->fail_after >= 0 && a->allocs >= a->fail_after) return NULL;
    a->allocs++;
    return malloc(n);
}

static void test_free(void *ctx, void *p)
{
    counting_alloc *a = (counting_alloc *)ctx;
    if (a != NULL && p != NULL) a->frees++;
    free(p);
}

#define SCALPEL_MALLOC(ctx, size) test_malloc((ctx), (size))
#define SCALPEL_FREE(ctx, p) test_free((ctx), (p))

#endif
