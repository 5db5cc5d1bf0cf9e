/* test_alloc.c - the allocator hooks: SCALPEL_MALLOC / SCALPEL_FREE receive the caller's
 * context, every allocation is released exactly once, and a failing allocator gives
 * SCALPEL_ERR_NO_MEMORY with nothing leaked and a zeroed output. */
#include <stdlib.h>
#include <string.h>

#include "counting_alloc.h"
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

int main(void)
{
    float w[3 * 8] = { 0 };
    counting_alloc a = { 0, 0, -1 }, failing = { 0, 0, 0 };
    scalpel_gcsr m, r;
    unsigned char buf[512];
    size_t n = 0;
    w[3] = 1.0f; w[17] = 2.0f;
    CHECK(scalpel_gcsr_from_dense_ctx(w, 3, 8, 4, &a, &m) == SCALPEL_OK, "from_dense_ctx");
    CHECK(m.alloc_ctx == &a && a.allocs == 1, "context stored, one block");
    CHECK(scalpel_gcsr_serialize(&m, buf, sizeof(buf), &n) == SCALPEL_OK, "serialize");
    CHECK(scalpel_gcsr_deserialize_ctx(buf, n, &a, &r) == SCALPEL_OK && a.allocs == 2, "deserialize_ctx");
    scalpel_gcsr_free(&r);
    scalpel_gcsr_free(&m);
    CHECK(a.frees == 2, "every block freed once (%ld)", a.frees);
    memset(&m, 0x5a, sizeof(m));
    CHECK(scalpel_gcsr_from_dense_ctx(w, 3, 8, 4, &failing, &m) == SCALPEL_ERR_NO_MEMORY, "allocator failure reported");
    CHECK(m.block == NULL && m.rows == 0, "output zeroed on failure");
    CHECK(scalpel_gcsr_deserialize_ctx(buf, n, &failing, &m) == SCALPEL_ERR_NO_MEMORY, "deserialize: allocator failure");
    CHECK(failing.frees == 0, "nothing to free");
    return test_summary("test_alloc");
}
