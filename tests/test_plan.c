/* test_plan.c - hardware profiles, the per-layer planner, scalpel_net_pack and calibration.
 *
 * Networks are built by hand with known sparsity (exact counts of zeroed aligned groups), so
 * every rate, byte count and decision the planner reports can be checked against arithmetic
 * done here. Pack is checked by running the network before and after. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define TOL 1e-5

/* w[rows x cols] random in +-[0.1, 1] (never zero), then exactly `zero_groups` aligned groups
 * of g zeroed, the i-th at group number i * total / zero_groups (distinct, spread over the
 * matrix), so the grouped rate at g is known exactly. */
static void make_weights(float *w, int32_t rows, int32_t cols, int32_t g, int32_t zero_groups)
{
    int32_t per_row = (cols + g - 1) / g, total = rows * per_row, i;
    for (i = 0; i < rows * cols; i++) {
        float u = test_uniform();
        w[i] = u < 0.0f ? u - 0.1f : u + 0.1f;
        if (w[i] > 1.0f) w[i] = 1.0f;
        if (w[i] < -1.0f) w[i] = -1.0f;
    }
    for (i = 0; i < zero_groups; i++) {
        int32_t k = (int32_t)((int64_t)i * total / zero_groups);
        int32_t r = k / per_row, c0 = (k % per_row) * g, c;
        for (c = c0; c < c0 + g && c < cols; c++) w[r * cols + c] = 0.0f;
    }
}

/* reference counts straight from a dense matrix */
static int64_t count_zero(const float *w, int64_t n)
{
    int64_t i, z = 0;
    for (i = 0; i < n; i++) z += w[i] == 0.0f;
    return z;
}

static int64_t count_groups(const float *w, int32_t rows, int32_t cols, int32_t g, int64_t *kept)
{
    int32_t r, c0, c;
    int64_t groups = 0;
    *kept = 0;
    for (r = 0; r < rows; r++)
        for (c0 = 0; c0 < cols; c0 += g) {
            int any = 0, width = 0;
            for (c = c0; c < c0 + g && c < cols; c++) { any |= w[r * cols + c] != 0.0f; width++; }
            if (any) { groups++; *kept += width; }
        }
    return groups;
}

static void random_input(float *x, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++) x[i] = test_uniform();
}

/* out = net(x), one sample, through a workspace of the size the network asks for */
static scalpel_status run_net(const scalpel_net *net, const float *x, int32_t batch, float *out)
{
    size_t ws = scalpel_net_workspace_size(net, batch);
    void *mem = malloc(ws ? ws : 1);
    scalpel_status st = scalpel_net_forward(net, x, batch, out, mem);
    free(mem);
    return st;
}

static double max_rel_diff(const float *a, const float *b, int32_t n)
{
    double worst = 0.0, scale = 1.0;
    int32_t i;
    for (i = 0; i < n; i++) if (fabs((double)a[i]) > scale) scale = fabs((double)a[i]);
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / scale;
        if (d > worst) worst = d;
    }
    return worst;
}

static void test_profiles(void)
{
    static const char *const names[] = { "cortex-m4", "cortex-m7", "cortex-m55", "x86-avx2",
                                         "x86-avx512", "arm-neon", "cuda" };
    scalpel_hw_profile p;
    int32_t i;
    const char *b = scalpel_kernels_backend();
    CHECK(scalpel_hw_profile_count() == 7, "count %d", (int)scalpel_hw_profile_count());
    for (i = 0; i < 7; i++) {
        const char *n = scalpel_hw_profile_name(i);
        CHECK(n != NULL && strcmp(n, names[i]) == 0, "name %d", (int)i);
        CHECK(scalpel_hw_profile_get(names[i], &p) == SCALPEL_OK, "get %s", names[i]);
        CHECK(strcmp(p.name, names[i]) == 0, "%s", p.name);
        CHECK(p.note != NULL && p.note[0] != '\0', "note of %s", names[i]);
        CHECK(p.batch >= 1 && p.group >= 1, "%s", names[i]);
    }
    CHECK(scalpel_hw_profile_name(-1) == NULL, "name -1");
    CHECK(scalpel_hw_profile_name(7) == NULL, "name 7");

    CHECK(scalpel_hw_profile_get("cortex-m4", &p) == SCALPEL_OK, "m4");
    CHECK(p.hw_class == SCALPEL_HW_LOW && p.group == 2 && p.dtype == SCALPEL_DTYPE_Q15 && p.batch == 1, "m4");
    /* bench/cortex_m_q.c's q15 sweep of the library's own kernels */
    CHECK(p.breakeven_mv_csr == 0.78f && p.breakeven_mv_grouped == 0.32f &&
          p.breakeven_mm_csr == 0.69f && p.breakeven_mm_grouped == 0.22f, "m4 break-evens");
    CHECK(scalpel_hw_profile_get("cortex-m55", &p) == SCALPEL_OK, "m55");
    CHECK(p.hw_class == SCALPEL_HW_LOW && p.group == 4 && p.dtype == SCALPEL_DTYPE_F32, "m55");
    CHECK(scalpel_hw_profile_get("x86-avx2", &p) == SCALPEL_OK, "avx2");
    CHECK(p.hw_class == SCALPEL_HW_MODERATE && p.group == 8 && p.dtype == SCALPEL_DTYPE_F32, "avx2");
    CHECK(p.breakeven_mv_csr == 0.52f && p.breakeven_mv_grouped == 0.03f &&
          p.breakeven_mm_csr == 0.79f && p.breakeven_mm_grouped == 0.84f, "avx2 break-evens");
    CHECK(scalpel_hw_profile_get("x86-avx512", &p) == SCALPEL_OK && p.group == 16, "avx512");
    CHECK(scalpel_hw_profile_get("arm-neon", &p) == SCALPEL_OK && p.group == 4 &&
          p.hw_class == SCALPEL_HW_MODERATE, "neon");
    CHECK(scalpel_hw_profile_get("cuda", &p) == SCALPEL_OK, "cuda");
    CHECK(p.hw_class == SCALPEL_HW_HIGH && p.group == 1 && p.batch == 50 &&
          p.breakeven_mm_csr == 0.963f && p.breakeven_mm_grouped == 1.0f, "cuda");

    /* unknown names: exact, case-sensitive matching; the output is cleared */
    memset(&p, 0x55, sizeof(p));
    CHECK(scalpel_hw_profile_get("X86-AVX2", &p) == SCALPEL_ERR_ARGUMENT, "case");
    CHECK(p.name[0] == '\0' && p.group == 0, "cleared");
    CHECK(scalpel_hw_profile_get("", &p) == SCALPEL_ERR_ARGUMENT, "empty");
    CHECK(scalpel_hw_profile_get("cortex-m4 ", &p) == SCALPEL_ERR_ARGUMENT, "trailing space");
    CHECK(scalpel_hw_profile_get("cortex", &p) == SCALPEL_ERR_ARGUMENT, "prefix");
    CHECK(scalpel_hw_profile_get(NULL, &p) == SCALPEL_ERR_NULL, "NULL name");
    CHECK(scalpel_hw_profile_get("cuda", NULL) == SCALPEL_ERR_NULL, "NULL out");
    CHECK(scalpel_hw_profile_host(NULL) == SCALPEL_ERR_NULL, "host NULL");

    /* the host profile follows the compiled backend */
    CHECK(scalpel_hw_profile_host(&p) == SCALPEL_OK, "host");
    if (strcmp(b, "x86-avx512") == 0) CHECK(strcmp(p.name, "x86-avx512") == 0 && p.group == 16, "%s", p.name);
    else if (strcmp(b, "x86-avx2") == 0) CHECK(strcmp(p.name, "x86-avx2") == 0 && p.group == 8, "%s", p.name);
    else if (strcmp(b, "x86-sse2") == 0)
        CHECK(strcmp(p.name, "x86-sse2") == 0 && p.group == 4 && p.hw_class == SCALPEL_HW_MODERATE, "%s", p.name);
    else if (strcmp(b, "arm-neon") == 0) CHECK(strcmp(p.name, "arm-neon") == 0 && p.group == 4, "%s", p.name);
    else if (strcmp(b, "arm-mve") == 0) CHECK(strcmp(p.name, "cortex-m55") == 0, "%s", p.name);
    else if (strcmp(b, "cortex-m-dsp") == 0)
        CHECK(strcmp(p.name, "cortex-m4") == 0 && p.group == 2 && p.dtype == SCALPEL_DTYPE_Q15, "%s", p.name);
    else CHECK(strcmp(p.name, "scalar") == 0 && p.group == 2 && p.dtype == SCALPEL_DTYPE_F32 &&
               p.hw_class == SCALPEL_HW_LOW, "%s", p.name);
    /* ... through the profile the backend names */
    {
        const scalpel_backend_info *info = scalpel_kernels_backend_info();
        scalpel_hw_profile named;
        CHECK(strcmp(p.name, info->default_profile) == 0, "host %s, backend names %s", p.name, info->default_profile);
        if (scalpel_hw_profile_get(info->default_profile, &named) == SCALPEL_OK)
            CHECK(memcmp(&named, &p, sizeof(p)) == 0, "host profile differs from %s", info->default_profile);
        else
            CHECK(strcmp(b, "x86-sse2") == 0 || strcmp(b, "scalar") == 0, "%s: no profile %s", b, info->default_profile);
    }
    printf("host backend %s -> profile %s (G = %d)\n", b, p.name, (int)p.group);
}

/* FC network 1x1x160 -> fc 32 -> relu -> fc 16. Layer 0 has 95% of its aligned groups of 8
 * zero (608 of 640), layer 2 one group of 8 of its 64 (1.56%). */
static void build_fc_net(scalpel_net *net, float *w0, float *w2, float *b0, float *b2)
{
    make_weights(w0, 32, 160, 8, 608);
    make_weights(w2, 16, 32, 8, 1);
    random_input(b0, 32);
    random_input(b2, 16);
    CHECK(scalpel_net_init(1, 1, 160, net) == SCALPEL_OK, "init");
    CHECK(scalpel_net_add_fc(net, 32, w0, b0) == SCALPEL_OK, "fc0");
    CHECK(scalpel_net_add_relu(net) == SCALPEL_OK, "relu");
    CHECK(scalpel_net_add_fc(net, 16, w2, b2) == SCALPEL_OK, "fc2");
}

static void check_layer_numbers(const scalpel_layer_plan *p, const float *w, int32_t rows, int32_t cols,
                                int32_t g, int64_t positions)
{
    int64_t kept, groups = count_groups(w, rows, cols, g, &kept), total = (int64_t)rows * cols;
    int64_t zeros = count_zero(w, total);
    CHECK(fabs(p->zero_rate - (double)zeros / (double)total) < 1e-6, "zero_rate %g", p->zero_rate);
    CHECK(fabs(p->rate - (double)(total - kept) / (double)total) < 1e-6, "rate %g", p->rate);
    CHECK(p->macs_dense == total * positions, "macs_dense");
    if (p->storage == SCALPEL_STORAGE_GCSR) {
        CHECK(p->group == g, "group %d", (int)p->group);
        CHECK(p->macs_planned == groups * g * positions, "macs_planned");
        CHECK(p->bytes_planned == (size_t)(groups * g * 4 + groups * 2 + (rows + 1) * 4 + rows * 4),
              "bytes_planned %lu", (unsigned long)p->bytes_planned);
    } else {
        CHECK(p->group == 0, "dense group");
        CHECK(p->macs_planned == total * positions, "dense macs");
        CHECK(p->bytes_planned == (size_t)(total * 4 + rows * 4), "dense bytes");
    }
    CHECK(p->reason != NULL && p->reason[0] != '\0', "reason");
}

/* Plans a copy of net, packs it, and checks: outputs unchanged, the plan's byte and MAC counts
 * equal what the packed network reports, and planning again finds it already packed. */
static void check_pack(const scalpel_net *src_desc, const float *const *w, const float *const *b,
                       const scalpel_hw_profile *hw, scalpel_plan_mode mode, int32_t batch)
{
    scalpel_net net;
    scalpel_plan plan, again;
    int32_t i, k = 0, nin = scalpel_net_input_size(src_desc), nout = scalpel_net_output_size(src_desc);
    float *x = (float *)malloc((size_t)nin * (size_t)batch * sizeof(float));
    float *y0 = (float *)malloc((size_t)nout * (size_t)batch * sizeof(float));
    float *y1 = (float *)malloc((size_t)nout * (size_t)batch * sizeof(float));
    /* rebuild an identical network (dense) from the description's shapes and the weights */
    CHECK(scalpel_net_init(src_desc->in_c, src_desc->in_h, src_desc->in_w, &net) == SCALPEL_OK, "init");
    for (i = 0; i < src_desc->n_layers; i++) {
        const scalpel_layer *L = &src_desc->layers[i];
        if (L->geom.kind == SCALPEL_LAYER_FC) {
            CHECK(scalpel_net_add_fc(&net, L->geom.out_c, w[k], b[k]) == SCALPEL_OK, "fc");
            k++;
        } else if (L->geom.kind == SCALPEL_LAYER_CONV2D) {
            CHECK(scalpel_net_add_conv2d(&net, L->geom.out_c, L->geom.kernel, L->geom.stride, L->geom.pad, w[k], b[k]) == SCALPEL_OK, "conv");
            k++;
        } else if (L->geom.kind == SCALPEL_LAYER_RELU) {
            CHECK(scalpel_net_add_relu(&net) == SCALPEL_OK, "relu");
        } else {
            CHECK(scalpel_net_add_maxpool(&net, L->geom.kernel, L->geom.stride) == SCALPEL_OK, "pool");
        }
    }
    random_input(x, nin * batch);
    CHECK(run_net(&net, x, batch, y0) == SCALPEL_OK, "forward before");
    CHECK(scalpel_plan_net(&net, hw, mode, &plan) == SCALPEL_OK, "plan");
    CHECK(scalpel_net_pack(&net, &plan) == SCALPEL_OK, "pack");
    CHECK(scalpel_net_validate(&net) == SCALPEL_OK, "valid after pack");
    CHECK(run_net(&net, x, batch, y1) == SCALPEL_OK, "forward after");
    CHECK(max_rel_diff(y0, y1, nout * batch) <= TOL, "%s mode %d: outputs moved by %g", hw->name,
          (int)mode, max_rel_diff(y0, y1, nout * batch));
    for (i = 0; i < net.n_layers; i++) {
        const scalpel_layer *L = &net.layers[i];
        const scalpel_layer_plan *p = &plan.layers[i];
        if (!(L->geom.kind == SCALPEL_LAYER_FC || L->geom.kind == SCALPEL_LAYER_CONV2D)) continue;
        CHECK(L->storage == p->storage, "layer %d storage", (int)i);
        if (L->storage == SCALPEL_STORAGE_GCSR) {
            CHECK(L->sparse.group == p->group, "layer %d group", (int)i);
            CHECK(p->bytes_planned == scalpel_gcsr_bytes(&L->sparse) + (size_t)L->geom.rows * sizeof(float),
                  "layer %d bytes_planned %lu vs %lu", (int)i, (unsigned long)p->bytes_planned,
                  (unsigned long)(scalpel_gcsr_bytes(&L->sparse) + (size_t)L->geom.rows * sizeof(float)));
        } else {
            CHECK(p->bytes_planned == (size_t)L->geom.rows * (size_t)(L->geom.cols + 1) * sizeof(float), "dense bytes");
        }
        CHECK(p->macs_planned == scalpel_layer_macs(L), "layer %d macs", (int)i);
    }
    CHECK(scalpel_plan_net(&net, hw, mode, &again) == SCALPEL_OK, "replan");
    for (i = 0; i < net.n_layers; i++) {
        CHECK(again.layers[i].storage == plan.layers[i].storage && again.layers[i].group == plan.layers[i].group,
              "replan decides the same, layer %d", (int)i);
        CHECK(again.layers[i].bytes_now == plan.layers[i].bytes_planned, "bytes_now after pack, layer %d", (int)i);
        CHECK(again.layers[i].zero_rate == plan.layers[i].zero_rate && again.layers[i].rate == plan.layers[i].rate,
              "rates from packed storage, layer %d", (int)i);
    }
    /* and back to dense: exact too */
    CHECK(scalpel_plan_net(&net, hw, SCALPEL_PLAN_DENSE, &again) == SCALPEL_OK, "plan dense");
    CHECK(scalpel_net_pack(&net, &again) == SCALPEL_OK, "pack dense");
    CHECK(run_net(&net, x, batch, y1) == SCALPEL_OK, "forward dense");
    CHECK(max_rel_diff(y0, y1, nout * batch) <= TOL, "back to dense");
    {
        size_t sum = 0;
        for (i = 0; i < net.n_layers; i++) sum += again.layers[i].bytes_planned;
        CHECK(scalpel_net_weight_bytes(&net) == sum, "weight bytes of the dense network");
    }
    scalpel_net_free(&net);
    free(x); free(y0); free(y1);
}

static void test_plan_fc(void)
{
    static float w0[32 * 160], w2[16 * 32], b0[32], b2[16];
    const float *ws[2], *bs[2];
    scalpel_net net;
    scalpel_plan plan, plan2;
    scalpel_hw_profile hw;
    scalpel_gcsr m;
    int32_t i, gs;

    build_fc_net(&net, w0, w2, b0, b2);
    ws[0] = w0; ws[1] = w2; bs[0] = b0; bs[1] = b2;
    CHECK(scalpel_hw_profile_get("x86-avx2", &hw) == SCALPEL_OK, "avx2");
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_OK, "plan");
    CHECK(plan.n_layers == 3 && plan.mode == SCALPEL_PLAN_SCALPEL && strcmp(plan.hw.name, "x86-avx2") == 0, "header");
    CHECK(plan.layers[0].technique == SCALPEL_TECHNIQUE_WEIGHT_GROUPS, "fc technique");
    CHECK(plan.layers[0].storage == SCALPEL_STORAGE_GCSR && plan.layers[0].group == 8, "95%% goes grouped");
    CHECK(plan.layers[0].kernel_mm == 0, "batch 1: matrix-vector");
    CHECK(plan.layers[0].break_even == 0.03f, "mv grouped break-even");
    CHECK(fabs(plan.layers[0].rate - 0.95) < 1e-6, "rate %g", plan.layers[0].rate);
    check_layer_numbers(&plan.layers[0], w0, 32, 160, 8, 1);
    CHECK(plan.layers[0].bytes_now == (size_t)(32 * 160 * 4 + 32 * 4), "bytes_now dense");
    CHECK(plan.layers[1].technique == SCALPEL_TECHNIQUE_NONE && plan.layers[1].storage == SCALPEL_STORAGE_DENSE &&
          plan.layers[1].bytes_planned == 0 && plan.layers[1].macs_dense == 0, "relu");
    CHECK(plan.layers[2].storage == SCALPEL_STORAGE_DENSE, "1.6%% stays dense");
    CHECK(plan.layers[2].technique == SCALPEL_TECHNIQUE_WEIGHT_GROUPS, "fc technique");
    check_layer_numbers(&plan.layers[2], w2, 16, 32, 8, 1);

    /* batch > 1: matrix-matrix break-even (0.84); 95% still passes it, a custom 0.96 does not */
    hw.batch = 4;
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_OK, "plan b4");
    CHECK(plan.layers[0].kernel_mm == 1 && plan.layers[0].break_even == 0.84f, "mm");
    CHECK(plan.layers[0].storage == SCALPEL_STORAGE_GCSR, "95%% > 84%%");
    hw.breakeven_mm_grouped = 0.96f;
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_OK, "plan b4");
    CHECK(plan.layers[0].storage == SCALPEL_STORAGE_DENSE && plan.layers[0].group == 0, "95%% < 96%%");
    hw.batch = 1;
    hw.breakeven_mv_grouped = plan.layers[0].rate;   /* the rule is "above": equal stays dense */
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_OK, "plan");
    CHECK(plan.layers[0].storage == SCALPEL_STORAGE_DENSE, "rate equal to break-even: dense");

    /* other G on the same weights: groups of 16 are only half as often all-zero here */
    CHECK(scalpel_hw_profile_get("x86-avx512", &hw) == SCALPEL_OK, "avx512");
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_OK, "plan 16");
    check_layer_numbers(&plan.layers[0], w0, 32, 160, 16, 1);
    check_layer_numbers(&plan.layers[2], w2, 16, 32, 16, 1);

    /* the same weights stored as grouped CSR with G = 1, 4, 16 plan exactly like dense */
    CHECK(scalpel_hw_profile_get("x86-avx2", &hw) == SCALPEL_OK, "avx2");
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_OK, "plan");
    for (gs = 1; gs <= 16; gs *= 4) {
        scalpel_net sn;
        CHECK(scalpel_gcsr_from_dense(w0, 32, 160, gs, &m) == SCALPEL_OK, "gcsr");
        CHECK(scalpel_net_init(1, 1, 160, &sn) == SCALPEL_OK, "init");
        CHECK(scalpel_net_add_fc_gcsr(&sn, &m, b0) == SCALPEL_OK, "fc gcsr");
        CHECK(scalpel_net_add_relu(&sn) == SCALPEL_OK, "relu");
        CHECK(scalpel_net_add_fc(&sn, 16, w2, b2) == SCALPEL_OK, "fc2");
        scalpel_gcsr_free(&m);
        CHECK(scalpel_plan_net(&sn, &hw, SCALPEL_PLAN_SCALPEL, &plan2) == SCALPEL_OK, "plan");
        CHECK(plan2.layers[0].zero_rate == plan.layers[0].zero_rate && plan2.layers[0].rate == plan.layers[0].rate &&
              plan2.layers[0].bytes_planned == plan.layers[0].bytes_planned &&
              plan2.layers[0].macs_planned == plan.layers[0].macs_planned &&
              plan2.layers[0].storage == plan.layers[0].storage, "stored G=%d plans like dense", (int)gs);
        CHECK(plan2.layers[0].bytes_now == scalpel_gcsr_bytes(&sn.layers[0].sparse) + 32 * sizeof(float), "bytes_now");
        /* a cortex-m4 plan (G = 2) from G = gs storage, against the dense count */
        {
            scalpel_hw_profile m4;
            CHECK(scalpel_hw_profile_get("cortex-m4", &m4) == SCALPEL_OK, "m4");
            CHECK(scalpel_plan_net(&sn, &m4, SCALPEL_PLAN_SCALPEL, &plan2) == SCALPEL_OK, "plan m4");
            check_layer_numbers(&plan2.layers[0], w0, 32, 160, 2, 1);
        }
        scalpel_net_free(&sn);
    }

    /* traditional: any zero -> CSR; optimized at the 50% boundary */
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_TRADITIONAL, &plan) == SCALPEL_OK, "trad");
    for (i = 0; i < 3; i += 2) {
        CHECK(plan.layers[i].technique == SCALPEL_TECHNIQUE_WEIGHTS, "trad technique");
        CHECK(plan.layers[i].storage == SCALPEL_STORAGE_GCSR && plan.layers[i].group == 1, "trad CSR");
    }
    check_layer_numbers(&plan.layers[0], w0, 32, 160, 1, 1);
    check_layer_numbers(&plan.layers[2], w2, 16, 32, 1, 1);
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_OPTIMIZED, &plan) == SCALPEL_OK, "opt");
    CHECK(plan.layers[0].storage == SCALPEL_STORAGE_GCSR && plan.layers[0].group == 1, "opt 95%% CSR");
    CHECK(plan.layers[2].storage == SCALPEL_STORAGE_DENSE && plan.layers[2].technique == SCALPEL_TECHNIQUE_WEIGHTS,
          "opt 1.6%% dense");
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_DENSE, &plan) == SCALPEL_OK, "dense");
    for (i = 0; i < 3; i++)
        CHECK(plan.layers[i].storage == SCALPEL_STORAGE_DENSE && plan.layers[i].group == 0, "dense mode");

    /* pack keeps the outputs, every mode, several profiles, batch 1 and 3 */
    {
        static const char *const profs[] = { "x86-avx2", "x86-avx512", "cortex-m4", "cortex-m55", "cuda" };
        int32_t p, mode;
        for (p = 0; p < 5; p++) {
            CHECK(scalpel_hw_profile_get(profs[p], &hw) == SCALPEL_OK, "%s", profs[p]);
            for (mode = 0; mode < 4; mode++) {
                check_pack(&net, ws, bs, &hw, (scalpel_plan_mode)mode, 1);
                check_pack(&net, ws, bs, &hw, (scalpel_plan_mode)mode, 3);
            }
        }
    }
    scalpel_net_free(&net);
}

/* exact 50% boundary of the optimized baseline, and traditional on a zero-free layer */
static void test_boundaries(void)
{
    static float w[10 * 20], b[10];
    scalpel_net net;
    scalpel_plan plan;
    scalpel_hw_profile hw;
    CHECK(scalpel_hw_profile_get("x86-avx2", &hw) == SCALPEL_OK, "avx2");
    make_weights(w, 10, 20, 1, 100);            /* exactly 50% zero */
    random_input(b, 10);
    CHECK(scalpel_net_init(20, 1, 1, &net) == SCALPEL_OK && scalpel_net_add_fc(&net, 10, w, b) == SCALPEL_OK, "net");
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_OPTIMIZED, &plan) == SCALPEL_OK, "opt");
    CHECK(plan.layers[0].zero_rate == 0.5f, "zero rate %g", plan.layers[0].zero_rate);
    CHECK(plan.layers[0].storage == SCALPEL_STORAGE_GCSR && plan.layers[0].group == 1, "half pruned: CSR");
    CHECK(plan.layers[0].break_even == 0.5f, "opt break-even");
    scalpel_net_free(&net);
    make_weights(w, 10, 20, 1, 99);             /* 50.5% of weights remain */
    CHECK(scalpel_net_init(20, 1, 1, &net) == SCALPEL_OK && scalpel_net_add_fc(&net, 10, w, b) == SCALPEL_OK, "net");
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_OPTIMIZED, &plan) == SCALPEL_OK, "opt");
    CHECK(plan.layers[0].storage == SCALPEL_STORAGE_DENSE, "more than half left: dense");
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_TRADITIONAL, &plan) == SCALPEL_OK, "trad");
    CHECK(plan.layers[0].storage == SCALPEL_STORAGE_GCSR && plan.layers[0].group == 1, "trad CSR at 49.5%%");
    scalpel_net_free(&net);
    make_weights(w, 10, 20, 1, 0);              /* no zero at all */
    CHECK(scalpel_net_init(20, 1, 1, &net) == SCALPEL_OK && scalpel_net_add_fc(&net, 10, w, b) == SCALPEL_OK, "net");
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_TRADITIONAL, &plan) == SCALPEL_OK, "trad");
    CHECK(plan.layers[0].storage == SCALPEL_STORAGE_DENSE && plan.layers[0].zero_rate == 0.0f, "trad: no zero, dense");
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_OPTIMIZED, &plan) == SCALPEL_OK, "opt");
    CHECK(plan.layers[0].storage == SCALPEL_STORAGE_DENSE, "opt: no zero, dense");
    scalpel_net_free(&net);
}

/* conv net 1x12x12 -> conv 8 3x3 pad 1 -> relu -> maxpool 2/2 -> fc 10 */
static void test_plan_conv(void)
{
    static float wc[8 * 9], bc[8], wf[10 * 8 * 6 * 6], bf[10];
    const float *ws[2], *bs[2];
    scalpel_net net;
    scalpel_plan plan;
    scalpel_hw_profile hw;
    int32_t i, p, mode;
    make_weights(wc, 8, 9, 2, 32);              /* 32 of 40 groups of 2 (80%) */
    make_weights(wf, 10, 288, 2, 1380);         /* 1380 of 1440 groups of 2 (95.8%) */
    random_input(bc, 8);
    random_input(bf, 10);
    ws[0] = wc; ws[1] = wf; bs[0] = bc; bs[1] = bf;
    CHECK(scalpel_net_init(1, 12, 12, &net) == SCALPEL_OK, "init");
    CHECK(scalpel_net_add_conv2d(&net, 8, 3, 1, 1, wc, bc) == SCALPEL_OK, "conv");
    CHECK(scalpel_net_add_relu(&net) == SCALPEL_OK, "relu");
    CHECK(scalpel_net_add_maxpool(&net, 2, 2) == SCALPEL_OK, "pool");
    CHECK(scalpel_net_add_fc(&net, 10, wf, bf) == SCALPEL_OK, "fc");

    /* moderate: conv node-pruned and dense (even at 80%), FC grouped */
    CHECK(scalpel_hw_profile_get("x86-avx2", &hw) == SCALPEL_OK, "avx2");
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_OK, "plan");
    CHECK(plan.layers[0].technique == SCALPEL_TECHNIQUE_NODES && plan.layers[0].storage == SCALPEL_STORAGE_DENSE,
          "moderate conv: nodes, dense");
    CHECK(plan.layers[0].kernel_mm == 1, "conv is matrix-matrix");
    CHECK(plan.layers[0].macs_dense == 8 * 9 * 144 && plan.layers[0].macs_planned == 8 * 9 * 144, "conv macs");
    CHECK(plan.layers[1].technique == SCALPEL_TECHNIQUE_NONE && plan.layers[2].technique == SCALPEL_TECHNIQUE_NONE, "unweighted");
    CHECK(plan.layers[3].technique == SCALPEL_TECHNIQUE_WEIGHT_GROUPS && plan.layers[3].storage == SCALPEL_STORAGE_GCSR &&
          plan.layers[3].group == 8, "moderate fc grouped");

    /* low: grouped weight pruning on conv too; 80% at G = 2 passes the mm break-even 0.22 */
    CHECK(scalpel_hw_profile_get("cortex-m4", &hw) == SCALPEL_OK, "m4");
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_OK, "plan");
    CHECK(plan.layers[0].technique == SCALPEL_TECHNIQUE_WEIGHT_GROUPS && plan.layers[0].storage == SCALPEL_STORAGE_GCSR &&
          plan.layers[0].group == 2 && plan.layers[0].break_even == 0.22f, "low conv grouped");
    check_layer_numbers(&plan.layers[0], wc, 8, 9, 2, 144);
    CHECK(plan.layers[3].storage == SCALPEL_STORAGE_GCSR && plan.layers[3].break_even == 0.32f, "low fc grouped (mv)");
    check_layer_numbers(&plan.layers[3], wf, 10, 288, 2, 1);
    hw.breakeven_mm_grouped = 0.9f;             /* now 80% is not enough for the conv */
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_OK, "plan");
    CHECK(plan.layers[0].technique == SCALPEL_TECHNIQUE_WEIGHT_GROUPS && plan.layers[0].storage == SCALPEL_STORAGE_DENSE,
          "low conv under break-even stays dense");

    /* high: nodes everywhere, all dense */
    CHECK(scalpel_hw_profile_get("cuda", &hw) == SCALPEL_OK, "cuda");
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_OK, "plan");
    for (i = 0; i < 4; i += 3) {
        CHECK(plan.layers[i].technique == SCALPEL_TECHNIQUE_NODES && plan.layers[i].storage == SCALPEL_STORAGE_DENSE,
              "high layer %d", (int)i);
        CHECK(plan.layers[i].kernel_mm == 1, "batch 50: matrix-matrix");
    }

    /* pack on every profile and mode keeps the outputs */
    for (p = 0; p < scalpel_hw_profile_count(); p++) {
        CHECK(scalpel_hw_profile_get(scalpel_hw_profile_name(p), &hw) == SCALPEL_OK, "profile");
        for (mode = 0; mode < 4; mode++) {
            check_pack(&net, ws, bs, &hw, (scalpel_plan_mode)mode, 1);
            check_pack(&net, ws, bs, &hw, (scalpel_plan_mode)mode, 2);
        }
    }
    scalpel_net_free(&net);
}

static void test_errors(void)
{
    static float w0[32 * 160], w2[16 * 32], b0[32], b2[16];
    scalpel_net net, bad;
    scalpel_layer room[16];
    scalpel_plan plan, p2;
    scalpel_hw_profile hw, h2;
    build_fc_net(&net, w0, w2, b0, b2);
    CHECK(scalpel_hw_profile_get("x86-avx2", &hw) == SCALPEL_OK, "avx2");

    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, NULL) == SCALPEL_ERR_NULL, "NULL out");
    memset(&plan, 0x33, sizeof(plan));
    CHECK(scalpel_plan_net(NULL, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_NULL, "NULL net");
    CHECK(plan.n_layers == 0 && plan.layers[0].reason == NULL, "out cleared");
    CHECK(scalpel_plan_net(&net, NULL, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_NULL, "NULL hw");
    CHECK(scalpel_plan_net(&net, &hw, (scalpel_plan_mode)4, &plan) == SCALPEL_ERR_ARGUMENT, "mode 4");
    CHECK(scalpel_plan_net(&net, &hw, (scalpel_plan_mode)-1, &plan) == SCALPEL_ERR_ARGUMENT, "mode -1");
    h2 = hw; h2.hw_class = 0;
    CHECK(scalpel_plan_net(&net, &h2, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_ARGUMENT, "class 0");
    h2 = hw; h2.hw_class = 4;
    CHECK(scalpel_plan_net(&net, &h2, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_ARGUMENT, "class 4");
    h2 = hw; h2.group = 3;
    CHECK(scalpel_plan_net(&net, &h2, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_GROUP, "group 3");
    h2 = hw; h2.group = 32;
    CHECK(scalpel_plan_net(&net, &h2, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_GROUP, "group 32");
    h2 = hw; h2.dtype = 7;
    CHECK(scalpel_plan_net(&net, &h2, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_DTYPE, "dtype 7");
    h2 = hw; h2.batch = 0;
    CHECK(scalpel_plan_net(&net, &h2, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_ARGUMENT, "batch 0");
    h2 = hw; h2.breakeven_mv_grouped = -0.1f;
    CHECK(scalpel_plan_net(&net, &h2, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_ARGUMENT, "negative break-even");
    h2 = hw; h2.breakeven_mm_csr = 1.5f;
    CHECK(scalpel_plan_net(&net, &h2, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_ARGUMENT, "break-even > 1");
    h2 = hw; h2.breakeven_mv_csr = (float)sqrt(-1.0);
    CHECK(scalpel_plan_net(&net, &h2, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_ARGUMENT, "NaN break-even");
    h2 = hw; memset(h2.name, 'x', sizeof(h2.name));
    CHECK(scalpel_plan_net(&net, &h2, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_ERR_ARGUMENT, "unterminated name");
    bad = net; bad.n_layers = SCALPEL_NET_MAX_LAYERS + 1;
    CHECK(scalpel_plan_net(&bad, &hw, SCALPEL_PLAN_SCALPEL, &plan) != SCALPEL_OK, "too many layers");
    test_net_detach(&bad, &net, room, 16); bad.layers[0].w = NULL;
    CHECK(scalpel_plan_net(&bad, &hw, SCALPEL_PLAN_SCALPEL, &plan) != SCALPEL_OK, "missing weights");
    test_net_detach(&bad, &net, room, 16); bad.layers[2].geom.cols = 31;
    CHECK(scalpel_plan_net(&bad, &hw, SCALPEL_PLAN_SCALPEL, &plan) != SCALPEL_OK, "bad shape");

    /* pack: every field of the plan checked before anything changes */
    CHECK(scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_OK, "plan");
    CHECK(scalpel_net_pack(NULL, &plan) == SCALPEL_ERR_NULL, "pack NULL net");
    CHECK(scalpel_net_pack(&net, NULL) == SCALPEL_ERR_NULL, "pack NULL plan");
    p2 = plan; p2.n_layers = 2;
    CHECK(scalpel_net_pack(&net, &p2) == SCALPEL_ERR_SHAPE, "layer count");
    p2 = plan; p2.mode = 9;
    CHECK(scalpel_net_pack(&net, &p2) == SCALPEL_ERR_ARGUMENT, "plan mode");
    p2 = plan; p2.hw.group = 5;
    CHECK(scalpel_net_pack(&net, &p2) == SCALPEL_ERR_GROUP, "plan profile");
    p2 = plan; p2.layers[2].storage = 2;
    CHECK(scalpel_net_pack(&net, &p2) == SCALPEL_ERR_ARGUMENT, "storage 2");
    p2 = plan; p2.layers[2].storage = SCALPEL_STORAGE_GCSR; p2.layers[2].group = 0;
    CHECK(scalpel_net_pack(&net, &p2) == SCALPEL_ERR_GROUP, "gcsr G 0");
    p2 = plan; p2.layers[2].storage = SCALPEL_STORAGE_GCSR; p2.layers[2].group = 6;
    CHECK(scalpel_net_pack(&net, &p2) == SCALPEL_ERR_GROUP, "gcsr G 6");
    p2 = plan; p2.layers[2].group = 4;
    CHECK(scalpel_net_pack(&net, &p2) == SCALPEL_ERR_GROUP, "dense with a G");
    p2 = plan; p2.layers[1].storage = SCALPEL_STORAGE_GCSR; p2.layers[1].group = 8;
    CHECK(scalpel_net_pack(&net, &p2) == SCALPEL_ERR_ARGUMENT, "relu cannot be sparse");
    p2 = plan; p2.layers[0].technique = 9;
    CHECK(scalpel_net_pack(&net, &p2) == SCALPEL_ERR_ARGUMENT, "technique");
    p2 = plan; p2.layers[0].kernel_mm = 2;
    CHECK(scalpel_net_pack(&net, &p2) == SCALPEL_ERR_ARGUMENT, "kernel_mm");
    p2 = plan; p2.layers[0].rate = 2.0f;
    CHECK(scalpel_net_pack(&net, &p2) == SCALPEL_ERR_ARGUMENT, "rate");
    p2 = plan; p2.layers[0].macs_planned = -1;
    CHECK(scalpel_net_pack(&net, &p2) == SCALPEL_ERR_ARGUMENT, "macs");
    /* the valid layer 0 of that last plan was not converted: all or nothing on bad plans */
    CHECK(net.layers[0].storage == SCALPEL_STORAGE_DENSE, "nothing converted on a bad plan");
    test_net_detach(&bad, &net, room, 16); bad.layers[0].w = NULL;
    CHECK(scalpel_net_pack(&bad, &plan) == SCALPEL_ERR_NULL, "pack invalid net");
    /* a plan already carried out is a no-op */
    CHECK(scalpel_net_pack(&net, &plan) == SCALPEL_OK, "pack");
    CHECK(net.layers[0].storage == SCALPEL_STORAGE_GCSR, "packed");
    CHECK(scalpel_net_pack(&net, &plan) == SCALPEL_OK, "pack again");
    CHECK(net.layers[0].storage == SCALPEL_STORAGE_GCSR && net.layers[0].sparse.group == 8, "unchanged");
    scalpel_net_free(&net);
}

static void test_calibrate(void)
{
    scalpel_hw_profile hw, h2;
    CHECK(scalpel_hw_profile_host(&hw) == SCALPEL_OK, "host");
    h2 = hw;
    CHECK(scalpel_hw_calibrate(NULL, 64, 64, 0) == SCALPEL_ERR_NULL, "NULL");
    CHECK(scalpel_hw_calibrate(&h2, 0, 64, 0) == SCALPEL_ERR_SHAPE, "rows 0");
    CHECK(scalpel_hw_calibrate(&h2, 64, 16385, 0) == SCALPEL_ERR_SHAPE, "cols 16385");
    CHECK(scalpel_hw_calibrate(&h2, 16385, 64, 0) == SCALPEL_ERR_SHAPE, "rows 16385");
    CHECK(scalpel_hw_calibrate(&h2, 64, 64, -1) == SCALPEL_ERR_ARGUMENT, "n -1");
    CHECK(scalpel_hw_calibrate(&h2, 64, 64, 4097) == SCALPEL_ERR_ARGUMENT, "n 4097");
    h2.group = 3;
    CHECK(scalpel_hw_calibrate(&h2, 64, 64, 0) == SCALPEL_ERR_GROUP, "group 3");
    h2 = hw; h2.hw_class = 9;
    CHECK(scalpel_hw_calibrate(&h2, 64, 64, 0) == SCALPEL_ERR_ARGUMENT, "class 9");
    CHECK(memcmp(&h2.breakeven_mv_csr, &hw.breakeven_mv_csr, 4 * sizeof(float)) == 0, "unchanged on error");

    h2 = hw;
    CHECK(scalpel_hw_calibrate(&h2, 256, 256, 16) == SCALPEL_OK, "calibrate");
    CHECK(h2.breakeven_mv_csr >= 0.0f && h2.breakeven_mv_csr <= 1.0f, "mv csr %g", h2.breakeven_mv_csr);
    CHECK(h2.breakeven_mv_grouped >= 0.0f && h2.breakeven_mv_grouped <= 1.0f, "mv grouped %g", h2.breakeven_mv_grouped);
    CHECK(h2.breakeven_mm_csr >= 0.0f && h2.breakeven_mm_csr <= 1.0f, "mm csr %g", h2.breakeven_mm_csr);
    CHECK(h2.breakeven_mm_grouped >= 0.0f && h2.breakeven_mm_grouped <= 1.0f, "mm grouped %g", h2.breakeven_mm_grouped);
    CHECK(h2.note != NULL && strcmp(h2.note, "calibrated on this machine") == 0, "note");
    CHECK(strcmp(h2.name, hw.name) == 0 && h2.group == hw.group && h2.hw_class == hw.hw_class, "rest kept");
    printf("calibrated %s at 256 x 256, n = 16: mv CSR %.2f grouped %.2f, mm CSR %.2f grouped %.2f\n",
           h2.name, h2.breakeven_mv_csr, h2.breakeven_mv_grouped, h2.breakeven_mm_csr, h2.breakeven_mm_grouped);
    /* n = 0: only matrix-vector measured, matrix-matrix rates kept */
    h2 = hw;
    CHECK(scalpel_hw_calibrate(&h2, 33, 70, 0) == SCALPEL_OK, "calibrate mv only");
    CHECK(h2.breakeven_mm_csr == hw.breakeven_mm_csr && h2.breakeven_mm_grouped == hw.breakeven_mm_grouped, "mm kept");
    {
        static float w[4 * 8];
        scalpel_net net;
        scalpel_plan plan;
        make_weights(w, 4, 8, 1, 16);
        CHECK(scalpel_net_init(8, 1, 1, &net) == SCALPEL_OK && scalpel_net_add_fc(&net, 4, w, NULL) == SCALPEL_OK, "net");
        CHECK(scalpel_plan_net(&net, &h2, SCALPEL_PLAN_SCALPEL, &plan) == SCALPEL_OK, "a calibrated profile plans");
        CHECK(plan.layers[0].break_even == h2.breakeven_mv_grouped, "with its own break-even");
        scalpel_net_free(&net);
    }
}

int main(void)
{
    test_profiles();
    test_plan_fc();
    test_boundaries();
    test_plan_conv();
    test_errors();
    test_calibrate();
    return test_summary("test_plan");
}
