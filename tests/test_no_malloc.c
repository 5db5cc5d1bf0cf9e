/* test_no_malloc.c - firmware configuration: SCALPEL_NO_MALLOC removes every allocating entry
 * point; the *_size / *_into pairs build and read matrices in caller memory. `make test` also
 * checks that this object references no malloc/free symbol and that calling a removed function
 * does not compile. */
#define SCALPEL_NO_MALLOC
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

static float arena[1024];          /* caller memory, aligned for float */
static unsigned char wire[2048];

int main(void)
{
    float w[4 * 10] = { 0 }, x[10], y[4], back[40];
    scalpel_gcsr m, r;
    size_t need = 0, n = 0;
    int i;
    for (i = 0; i < 10; i++) x[i] = (float)i;
    w[9] = 1.0f; w[10] = 2.0f; w[25] = 3.0f;
    CHECK(scalpel_gcsr_from_dense_size(w, 4, 10, 8, &need) == SCALPEL_OK && need <= sizeof(arena) / 2, "size");
    CHECK(scalpel_gcsr_from_dense_into(w, 4, 10, 8, arena, need, &m) == SCALPEL_OK, "into");
    scalpel_gcsr_spmv_f32(&m, x, y);
    CHECK(y[0] == 9.0f && y[1] == 0.0f && y[2] == 15.0f && y[3] == 0.0f, "spmv with tail group");
    CHECK(scalpel_gcsr_serialize(&m, wire, sizeof(wire), &n) == SCALPEL_OK, "serialize");
    CHECK(scalpel_gcsr_deserialize_size(wire, n, &need) == SCALPEL_OK, "deserialize_size");
    CHECK(scalpel_gcsr_deserialize_into(wire, n, arena + 512, need, &r) == SCALPEL_OK, "deserialize_into");
    CHECK(scalpel_gcsr_to_dense(&r, back) == SCALPEL_OK && back[25] == 3.0f && back[9] == 1.0f, "to_dense");
    scalpel_gcsr_free(&r); /* allowed: nothing to release */
    return test_summary("test_no_malloc");
}
