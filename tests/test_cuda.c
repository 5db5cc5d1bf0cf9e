/* test_cuda.c - the GPU backend (scalpel_cuda.cu) against the CPU forward pass.
 *
 *   nvcc -O3 -c scalpel_cuda.cu -o build/scalpel_cuda.o
 *   gcc -std=c99 -O2 -I. -isystem /usr/local/cuda/include tests/test_cuda.c build/scalpel_cuda.o \
 *       -L/usr/local/cuda/lib64 -Wl,-rpath,/usr/local/cuda/lib64 -lcublas -lcudart -lstdc++ -lm
 *
 * Without a usable GPU it says so in one line and checks what needs none: argument checks,
 * NULL handling, SCALPEL_ERR_NO_DEVICE from upload. With one: random FC-only and
 * conv-pool-conv-pool-fc networks (padding, stride, a 1x1 conv), dense and grouped CSR with
 * every G and both index widths, batches 1, 7 and 50 against scalpel_net_forward (relative
 * tolerance 1e-4), async on a stream equal to sync, batch limits, and no device memory leaked
 * over repeated upload/free. */
#define SCALPEL_IMPLEMENTATION
#define SCALPEL_CUDA
#include "scalpel.h"
#include "test_util.h"

#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#define STORE_DENSE 0

/* Random weights [rows x cols]; for grouped storage about 60% of the G-groups are zero. */
static float *random_weights(int32_t rows, int32_t cols, int32_t group)
{
    float *w = (float *)malloc((size_t)rows * (size_t)cols * sizeof(float));
    int32_t r, c;
    float scale = 1.0f / (float)(cols > 0 ? cols : 1);
    scale = scale > 0.05f ? scale * 3.0f : 0.15f;
    if (!w) return NULL;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++) w[(size_t)r * (size_t)cols + (size_t)c] = test_uniform() * scale;
    if (group > 0)
        for (r = 0; r < rows; r++)
            for (c = 0; c < cols; c += group)
                if (test_range(0, 9) < 6) {
                    int32_t k;
                    for (k = c; k < c + group && k < cols; k++) w[(size_t)r * (size_t)cols + (size_t)k] = 0.0f;
                }
    return w;
}

/* A copy of m with 32-bit column indices (m keeps its own). */
static int widen_indices(const scalpel_gcsr *m, scalpel_gcsr *wide, uint32_t **idx)
{
    int32_t k;
    *wide = *m;
    *idx = (uint32_t *)malloc((size_t)(m->nnz_groups > 0 ? m->nnz_groups : 1) * sizeof(uint32_t));
    if (!*idx) return 0;
    for (k = 0; k < m->nnz_groups; k++) (*idx)[k] = scalpel_gcsr_col(m, k);
    wide->col_idx = *idx;
    wide->index_bits = 32;
    wide->block = NULL;
    return scalpel_gcsr_validate(wide) == SCALPEL_OK;
}

/* Adds an FC (kernel 0) or conv layer with random weights in the given storage:
 * group 0 = dense, else grouped CSR with that G and index_bits 16 or 32. */
static int add_weighted(scalpel_net *net, int32_t outputs, int32_t kernel, int32_t stride, int32_t pad,
                        int32_t group, int32_t bits)
{
    const scalpel_layer *last = net->n_layers ? &net->layers[net->n_layers - 1] : NULL;
    int32_t c = last ? last->geom.out_c : net->in_c, h = last ? last->geom.out_h : net->in_h, wd = last ? last->geom.out_w : net->in_w;
    int32_t cols = kernel ? c * kernel * kernel : c * h * wd, i;
    float *w = random_weights(outputs, cols, group), *b = (float *)malloc((size_t)outputs * sizeof(float));
    scalpel_status st;
    int ok = 1;
    if (!w || !b) { free(w); free(b); return 0; }
    for (i = 0; i < outputs; i++) b[i] = 0.1f * test_uniform();
    if (group == 0) {
        st = kernel ? scalpel_net_add_conv2d(net, outputs, kernel, stride, pad, w, b) : scalpel_net_add_fc(net, outputs, w, b);
        ok = st == SCALPEL_OK;
    } else {
        scalpel_gcsr m, wide;
        uint32_t *idx = NULL;
        const scalpel_gcsr *use = &m;
        ok = scalpel_gcsr_from_dense(w, outputs, cols, group, &m) == SCALPEL_OK;
        if (ok && bits == 32) {
            ok = widen_indices(&m, &wide, &idx);
            use = &wide;
        }
        if (ok) {
            st = kernel ? scalpel_net_add_conv2d_gcsr(net, outputs, kernel, stride, pad, use, b)
                        : scalpel_net_add_fc_gcsr(net, use, b);
            ok = st == SCALPEL_OK;
        }
        free(idx);
        scalpel_gcsr_free(&m);
    }
    free(w);
    free(b);
    return ok;
}

/* kind 0: FC-only 3x4x5 -> 50 -> relu -> 23 -> relu -> 10.
 * kind 1: 3x13x11 -> conv 8 k3 s1 p1 -> relu -> maxpool 2/2 -> conv 12 k3 s2 p1 -> relu
 *         -> conv 6 k1 (direct) -> maxpool 2/1 -> fc 20 -> relu -> fc 10. */
static int build_net(int kind, int32_t group, int32_t bits, scalpel_net *net)
{
    int ok;
    if (kind == 0) {
        ok = scalpel_net_init(3, 4, 5, net) == SCALPEL_OK && add_weighted(net, 50, 0, 0, 0, group, bits) &&
             scalpel_net_add_relu(net) == SCALPEL_OK && add_weighted(net, 23, 0, 0, 0, group, bits) &&
             scalpel_net_add_relu(net) == SCALPEL_OK && add_weighted(net, 10, 0, 0, 0, group, bits);
    } else {
        ok = scalpel_net_init(3, 13, 11, net) == SCALPEL_OK && add_weighted(net, 8, 3, 1, 1, group, bits) &&
             scalpel_net_add_relu(net) == SCALPEL_OK && scalpel_net_add_maxpool(net, 2, 2) == SCALPEL_OK &&
             add_weighted(net, 12, 3, 2, 1, group, bits) && scalpel_net_add_relu(net) == SCALPEL_OK &&
             add_weighted(net, 6, 1, 1, 0, group, bits) && scalpel_net_add_maxpool(net, 2, 1) == SCALPEL_OK &&
             add_weighted(net, 20, 0, 0, 0, group, bits) && scalpel_net_add_relu(net) == SCALPEL_OK &&
             add_weighted(net, 10, 0, 0, 0, group, bits);
    }
    if (!ok) scalpel_net_free(net);
    return ok;
}

/* max |a - b| relative to max(1, max |b|) */
static double rel_err(const float *a, const float *b, size_t n)
{
    double scale = 1.0, err = 0.0;
    size_t i;
    for (i = 0; i < n; i++) if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= err)) err = d;   /* NaN counts as the worst */
    }
    return err / scale;
}

static void checks_without_device(void)
{
    scalpel_net net;
    scalpel_cuda_net *h = (scalpel_cuda_net *)&h;   /* not NULL: upload must clear it */
    scalpel_gcsr g;
    float x[4] = { 0 }, y[4];
    CHECK(scalpel_cuda_device_info(NULL, NULL, 0) == SCALPEL_ERR_NULL, "device_info(NULL)");
    CHECK(scalpel_cuda_net_upload(NULL, 1, &h) == SCALPEL_ERR_NULL && h == NULL, "upload(NULL net)");
    CHECK(build_net(0, 0, 16, &net), "build");
    h = (scalpel_cuda_net *)&h;
    CHECK(scalpel_cuda_net_upload(&net, 0, &h) == SCALPEL_ERR_ARGUMENT && h == NULL, "max_batch 0");
    CHECK(scalpel_cuda_net_upload(&net, -5, &h) == SCALPEL_ERR_ARGUMENT && h == NULL, "max_batch < 0");
    CHECK(scalpel_cuda_net_upload(&net, 1, NULL) == SCALPEL_ERR_NULL, "upload(NULL out)");
    net.layers[0].geom.rows = 49;   /* broken chain: validation must refuse it before the device */
    CHECK(scalpel_cuda_net_upload(&net, 1, &h) < 0 && h == NULL, "invalid net refused");
    net.layers[0].geom.rows = 50;
    CHECK(scalpel_cuda_net_forward(NULL, x, 1, y) == SCALPEL_ERR_NULL, "forward(NULL)");
    CHECK(scalpel_cuda_net_forward_async(NULL, x, 1, y, NULL) == SCALPEL_ERR_NULL, "forward_async(NULL)");
    CHECK(scalpel_cuda_net_error(NULL) != NULL && scalpel_cuda_net_error(NULL)[0] == '\0', "error(NULL)");
    scalpel_cuda_net_free(NULL);
    memset(&g, 0, sizeof(g));
    CHECK(scalpel_cuda_gcsr_spmm_f32(NULL, x, 1, y, NULL) == SCALPEL_ERR_NULL, "spmm(NULL)");
    g.group = 3; g.index_bits = 16; g.rows = 1; g.cols = 1;
    CHECK(scalpel_cuda_gcsr_spmm_f32(&g, x, 1, y, NULL) == SCALPEL_ERR_GROUP, "spmm bad group");
    g.group = 4; g.index_bits = 8;
    CHECK(scalpel_cuda_gcsr_spmm_f32(&g, x, 1, y, NULL) == SCALPEL_ERR_INDEX_WIDTH, "spmm bad index width");
    g.index_bits = 16; g.cols = 70000;
    CHECK(scalpel_cuda_gcsr_spmm_f32(&g, x, 1, y, NULL) == SCALPEL_ERR_INDEX_WIDTH, "spmm 16-bit too narrow");
    g.cols = 1; g.rows = -1;
    CHECK(scalpel_cuda_gcsr_spmm_f32(&g, x, 1, y, NULL) == SCALPEL_ERR_SHAPE, "spmm rows < 0");
    g.rows = 1;
    CHECK(scalpel_cuda_gcsr_spmm_f32(&g, x, -1, y, NULL) == SCALPEL_ERR_SHAPE, "spmm n < 0");
    CHECK(scalpel_cuda_gcsr_spmm_f32(&g, x, 1, y, NULL) == SCALPEL_ERR_NULL, "spmm row_ptr NULL");
    g.dtype = SCALPEL_DTYPE_Q15;
    CHECK(scalpel_cuda_gcsr_spmm_f32(&g, x, 1, y, NULL) == SCALPEL_ERR_DTYPE, "spmm dtype");
    g.dtype = SCALPEL_DTYPE_F32; g.rows = 0;
    CHECK(scalpel_cuda_gcsr_spmm_f32(&g, x, 1, y, NULL) == SCALPEL_OK, "spmm with no rows is a no-op");
    scalpel_net_free(&net);
}

/* GPU forward (sync and async) vs CPU on one network for batches 1, 7, 50. */
static void check_net(int kind, int32_t group, int32_t bits, cudaStream_t stream)
{
    static const int32_t batches[3] = { 1, 7, 50 };
    scalpel_net net;
    scalpel_cuda_net *h = NULL;
    int32_t in_n, out_n, bi, i;
    float *x, *ycpu, *ygpu, *yasync, *dx = NULL, *dy = NULL;
    void *ws;
    scalpel_status st;
    if (!build_net(kind, group, bits, &net)) { CHECK(0, "build net kind %d G %d bits %d", kind, (int)group, (int)bits); return; }
    in_n = scalpel_net_input_size(&net);
    out_n = scalpel_net_output_size(&net);
    x = (float *)malloc((size_t)50 * (size_t)in_n * sizeof(float));
    ycpu = (float *)malloc((size_t)50 * (size_t)out_n * sizeof(float));
    ygpu = (float *)malloc((size_t)50 * (size_t)out_n * sizeof(float));
    yasync = (float *)malloc((size_t)50 * (size_t)out_n * sizeof(float));
    ws = malloc(scalpel_net_workspace_size(&net, 50));
    st = scalpel_cuda_net_upload(&net, 50, &h);
    CHECK(st == SCALPEL_OK && h != NULL, "upload kind %d G %d bits %d: %s", kind, (int)group, (int)bits, scalpel_status_string(st));
    CHECK(cudaMalloc((void **)&dx, (size_t)50 * (size_t)in_n * sizeof(float)) == cudaSuccess, "cudaMalloc");
    CHECK(cudaMalloc((void **)&dy, (size_t)50 * (size_t)out_n * sizeof(float)) == cudaSuccess, "cudaMalloc");
    if (st == SCALPEL_OK && x && ycpu && ygpu && yasync && ws && dx && dy) {
        for (i = 0; i < 50 * in_n; i++) x[i] = test_uniform();
        for (bi = 0; bi < 3; bi++) {
            int32_t batch = batches[bi];
            size_t on = (size_t)batch * (size_t)out_n;
            double e;
            CHECK(scalpel_net_forward(&net, x, batch, ycpu, ws) == SCALPEL_OK, "cpu forward");
            memset(ygpu, 0xff, on * sizeof(float));
            st = scalpel_cuda_net_forward(h, x, batch, ygpu);
            CHECK(st == SCALPEL_OK, "gpu forward: %s / %s", scalpel_status_string(st), scalpel_cuda_net_error(h));
            e = rel_err(ygpu, ycpu, on);
            CHECK(e <= 1e-4, "kind %d G %d bits %d batch %d: rel err %g", kind, (int)group, (int)bits, (int)batch, e);
            CHECK(scalpel_cuda_net_error(h)[0] == '\0', "no error message after success");
            /* async on a stream, device pointers */
            CHECK(cudaMemcpy(dx, x, (size_t)batch * (size_t)in_n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess, "copy in");
            CHECK(cudaMemset(dy, 0xff, on * sizeof(float)) == cudaSuccess, "memset");
            st = scalpel_cuda_net_forward_async(h, dx, batch, dy, (void *)stream);
            CHECK(st == SCALPEL_OK, "async: %s", scalpel_cuda_net_error(h));
            CHECK(cudaStreamSynchronize(stream) == cudaSuccess, "stream sync");
            CHECK(cudaMemcpy(yasync, dy, on * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess, "copy out");
            /* same kernels; cuBLAS may pick another reduction order per stream, hence 1e-6 */
            e = rel_err(yasync, ygpu, on);
            CHECK(e <= 1e-6, "async equals sync (kind %d G %d batch %d): %g", kind, (int)group, (int)batch, e);
        }
        CHECK(scalpel_cuda_net_forward(h, x, 51, ygpu) == SCALPEL_ERR_ARGUMENT, "batch > max_batch refused");
        CHECK(scalpel_cuda_net_forward(h, x, 0, ygpu) == SCALPEL_ERR_ARGUMENT, "batch 0 refused");
        CHECK(scalpel_cuda_net_forward_async(h, dx, 51, dy, NULL) == SCALPEL_ERR_ARGUMENT, "async batch > max refused");
        CHECK(scalpel_cuda_net_forward(h, NULL, 1, ygpu) == SCALPEL_ERR_NULL, "forward NULL in");
    }
    cudaFree(dx);
    cudaFree(dy);
    scalpel_cuda_net_free(h);
    free(x); free(ycpu); free(ygpu); free(yasync); free(ws);
    scalpel_net_free(&net);
}

/* The public SpMM on device arrays against scalpel_gcsr_spmm_f32_ref. */
static void check_public_spmm(int32_t group, int32_t bits, cudaStream_t stream)
{
    const int32_t rows = 37, cols = 203, n = 77;
    float *w = random_weights(rows, cols, group), *b = (float *)malloc((size_t)cols * n * sizeof(float));
    float *c = (float *)malloc((size_t)rows * n * sizeof(float)), *cr = (float *)malloc((size_t)rows * n * sizeof(float));
    scalpel_gcsr m, wide, dev;
    uint32_t *idx = NULL;
    const scalpel_gcsr *use = &m;
    void *d_rp = NULL, *d_ci = NULL, *d_v = NULL, *d_b = NULL, *d_c = NULL;
    size_t ib;
    int32_t i;
    scalpel_status st;
    memset(&m, 0, sizeof(m));
    if (!w || !b || !c || !cr || scalpel_gcsr_from_dense(w, rows, cols, group, &m) != SCALPEL_OK) {
        CHECK(0, "spmm setup");
        goto done;
    }
    if (bits == 32 && !widen_indices(&m, &wide, &idx)) { CHECK(0, "widen"); goto done; }
    if (bits == 32) use = &wide;
    for (i = 0; i < cols * n; i++) b[i] = test_uniform();
    scalpel_gcsr_spmm_f32_ref(use, b, n, cr);
    ib = (size_t)(use->nnz_groups ? use->nnz_groups : 1) * (size_t)(use->index_bits / 8);
    CHECK(cudaMalloc(&d_rp, (size_t)(rows + 1) * 4) == cudaSuccess && cudaMalloc(&d_ci, ib) == cudaSuccess &&
          cudaMalloc(&d_v, (size_t)(use->nnz_groups ? use->nnz_groups : 1) * (size_t)group * 4) == cudaSuccess &&
          cudaMalloc(&d_b, (size_t)cols * n * 4) == cudaSuccess && cudaMalloc(&d_c, (size_t)rows * n * 4) == cudaSuccess, "alloc");
    if (!d_rp || !d_ci || !d_v || !d_b || !d_c) goto done;
    cudaMemcpy(d_rp, use->row_ptr, (size_t)(rows + 1) * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(d_ci, use->col_idx, (size_t)use->nnz_groups * (size_t)(use->index_bits / 8), cudaMemcpyHostToDevice);
    cudaMemcpy(d_v, use->values, (size_t)use->nnz_groups * (size_t)group * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(d_b, b, (size_t)cols * n * 4, cudaMemcpyHostToDevice);
    dev = *use;
    dev.row_ptr = (int32_t *)d_rp; dev.col_idx = d_ci; dev.values = d_v; dev.block = NULL;
    st = scalpel_cuda_gcsr_spmm_f32(&dev, (const float *)d_b, n, (float *)d_c, (void *)stream);
    CHECK(st == SCALPEL_OK, "public spmm: %s", scalpel_status_string(st));
    CHECK(cudaStreamSynchronize(stream) == cudaSuccess, "sync");
    CHECK(cudaMemcpy(c, d_c, (size_t)rows * n * 4, cudaMemcpyDeviceToHost) == cudaSuccess, "copy");
    CHECK(rel_err(c, cr, (size_t)rows * n) <= 1e-5, "public spmm G %d bits %d", (int)group, (int)bits);
done:
    cudaFree(d_rp); cudaFree(d_ci); cudaFree(d_v); cudaFree(d_b); cudaFree(d_c);
    free(idx);
    scalpel_gcsr_free(&m);
    free(w); free(b); free(c); free(cr);
}

/* Repeated upload/free must give back all device memory. */
static void check_no_leak(void)
{
    scalpel_net net;
    size_t free0 = 0, free1 = 0, total = 0;
    int i;
    scalpel_cuda_net *h = NULL;
    if (!build_net(1, 4, 16, &net)) { CHECK(0, "build"); return; }
    /* warm up: the first upload creates the context and cuBLAS's own lazy state */
    CHECK(scalpel_cuda_net_upload(&net, 50, &h) == SCALPEL_OK, "upload");
    scalpel_cuda_net_free(h);
    cudaDeviceSynchronize();
    CHECK(cudaMemGetInfo(&free0, &total) == cudaSuccess, "memgetinfo");
    for (i = 0; i < 20; i++) {
        h = NULL;
        CHECK(scalpel_cuda_net_upload(&net, 50 + i, &h) == SCALPEL_OK, "upload %d", i);
        scalpel_cuda_net_free(h);
    }
    cudaDeviceSynchronize();
    CHECK(cudaMemGetInfo(&free1, &total) == cudaSuccess, "memgetinfo");
    CHECK(free1 >= free0, "device memory leaked: %lu -> %lu bytes free", (unsigned long)free0, (unsigned long)free1);
    scalpel_net_free(&net);
}

int main(void)
{
    static const int32_t groups[5] = { 1, 2, 4, 8, 16 };
    int32_t count = -1, gi;
    char name[256];
    scalpel_status st = scalpel_cuda_device_info(&count, name, sizeof(name));
    checks_without_device();
    if (st != SCALPEL_OK) {
        scalpel_net net;
        scalpel_cuda_net *h = (scalpel_cuda_net *)&h;
        printf("test_cuda: no CUDA device (%s): GPU tests skipped\n", scalpel_status_string(st));
        CHECK(st == SCALPEL_ERR_NO_DEVICE, "device_info: %s", scalpel_status_string(st));
        CHECK(count == 0 && name[0] == '\0', "no device: count 0, empty name");
        CHECK(build_net(1, 8, 16, &net), "build");
        st = scalpel_cuda_net_upload(&net, 50, &h);
        CHECK(st == SCALPEL_ERR_NO_DEVICE && h == NULL, "upload without device: %s", scalpel_status_string(st));
        scalpel_net_free(&net);
        return test_summary("test_cuda");
    }
    printf("test_cuda: %d device(s), using %s\n", (int)count, name);
    CHECK(count >= 1 && name[0] != '\0', "device info");
    {
        cudaStream_t stream = NULL;
        CHECK(cudaStreamCreate(&stream) == cudaSuccess, "stream");
        check_net(0, 0, 16, stream);
        check_net(1, 0, 16, stream);
        for (gi = 0; gi < 5; gi++) {
            check_net(0, groups[gi], 16, stream);
            check_net(1, groups[gi], 16, stream);
            check_net(0, groups[gi], 32, stream);
            check_net(1, groups[gi], 32, stream);
            check_public_spmm(groups[gi], 16, stream);
            check_public_spmm(groups[gi], 32, stream);
        }
        cudaStreamDestroy(stream);
    }
    check_no_leak();
    return test_summary("test_cuda");
}
