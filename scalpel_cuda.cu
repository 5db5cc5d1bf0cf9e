/* scalpel_cuda.cu - Scalpel on NVIDIA GPUs: networks uploaded once and run for whole batches,
 * dense layers through cuBLAS SGEMM and grouped-CSR layers through Scalpel's own SpMM kernel.
 *
 * Part of Scalpel (see scalpel_format.h for the version). Implements the C API declared in
 * scalpel.h under SCALPEL_CUDA (">>gpu"); the library itself is compiled in your C file.
 *
 * BUILD
 *   nvcc -O3 -c scalpel_cuda.cu -o scalpel_cuda.o                  (add -arch=sm_90 for H100)
 *   cc -O2 -DSCALPEL_CUDA -I. app.c scalpel_cuda.o -L/usr/local/cuda/lib64 \
 *      -Wl,-rpath,/usr/local/cuda/lib64 -lcublas -lcudart -lstdc++ -lm
 *   where app.c holds `#define SCALPEL_IMPLEMENTATION` + `#include "scalpel.h"` (not with
 *   SCALPEL_STATIC: this file calls scalpel_net_validate, which must then be extern).
 *
 * USAGE (error checks left out; every call returns scalpel_status)
 *   scalpel_cuda_net *g;
 *   scalpel_cuda_net_upload(&net, 50, &g);            // weights to the device, batches <= 50
 *   scalpel_cuda_net_forward(g, x, 50, y);            // y[50 x outputs] = net(x[50 x inputs])
 *   scalpel_cuda_net_forward_async(g, dx, 50, dy, stream);   // device pointers, no waiting
 *   scalpel_cuda_net_free(g);
 *
 * HOW A BATCH RUNS
 *   Activations live on the device as [features x batch] (sample index fastest), so that every
 *   kernel reads consecutive samples with coalesced loads. The input [batch x C*H*W] is
 *   transposed into that layout on the device and the output transposed back.
 *     FC       Y[rows x batch] = W[rows x cols] . X[cols x batch]: one cublasSgemm (dense) or
 *              one grouped SpMM with n = batch
 *     conv2d   im2col of the whole batch into col[C*K*K x (positions*batch)], column p*batch + s,
 *              then one GEMM / SpMM with n = positions*batch; its result [out_c x positions x
 *              batch] already is the next layer's [features x batch]. 1x1, stride 1, pad 0
 *              convolutions skip im2col.
 *     bias     y[f][s] += b[f / positions]
 *     maxpool, relu   elementwise kernels on the same layout (relu in place)
 *   The grouped SpMM: one thread per output element C[r][j], threads of a warp on consecutive
 *   columns j (coalesced loads of B rows and stores of C), a warp per row; every thread of a
 *   warp walks the same groups, so index and value loads are broadcasts (__ldg). Each kernel's
 *   per-element work is a __host__ __device__ function (scalpel__cuda_*_at, *_element), and the
 *   layer sequence is one template run by either the device or a host emulator, so that
 *   tests/test_cuda_emul.cu checks the arithmetic and every index map without a GPU.
 *
 * ACCURACY
 *   fp32 throughout (cuBLAS default math: no TF32). Same sums as the CPU path in another order
 *   and with fused multiply-adds: results agree within float rounding (the tests use a
 *   relative tolerance of 1e-4), not bit for bit.
 *
 * DOES NOT
 *   train, use more than the current device (cudaSetDevice before upload picks one), use
 *   cuDNN or cuSPARSE, tune the SpMM beyond coalescing (no tensor cores, no fp16), keep global
 *   state beyond what the CUDA runtime keeps, or print anything.
 *
 * MEMORY
 *   scalpel_cuda_net_upload allocates the handle with malloc and one cudaMalloc block holding
 *   every weight array, two activation buffers (largest features x max_batch each), the im2col
 *   scratch (largest C*K*K x positions x max_batch) and the input/output staging buffers; a
 *   cuBLAS handle is created. Nothing is allocated after that: forward passes only launch.
 *   scalpel_cuda_net_free releases all of it.
 *
 * ERRORS
 *   Arguments are checked first (SCALPEL_ERR_NULL, SCALPEL_ERR_ARGUMENT, the network's own
 *   scalpel_net_validate code, SCALPEL_ERR_OVERFLOW for sizes past what the kernels index).
 *   CUDA and cuBLAS failures map to SCALPEL_ERR_NO_DEVICE (no GPU, no or too old a driver),
 *   SCALPEL_ERR_NO_MEMORY (device allocation) or SCALPEL_ERR_DEVICE (anything else), with the
 *   runtime's message kept in the handle (scalpel_cuda_net_error). A failed upload frees what
 *   it allocated and leaves *out NULL.
 */
#ifndef SCALPEL_CUDA
#define SCALPEL_CUDA
#endif
#include "scalpel.h"

#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCALPEL__CUDA_HD __host__ __device__

/* Read-only loads: through the texture path on the device, plain loads in the host emulator. */
#ifdef __CUDA_ARCH__
#define SCALPEL__CUDA_LD(p) __ldg(p)
#else
#define SCALPEL__CUDA_LD(p) (*(p))
#endif

/* ---- per-element work of every kernel (host and device) --------------------------------- */

/* One layer as the GPU runs it: the geometry of scalpel_layer plus where its weights are
 * (device pointers after upload, host pointers in the emulator). */
typedef struct scalpel__cuda_layer {
    scalpel_layer_geom geom; /* the one geometry the float and fixed-point layers share */
    int32_t storage;
    int32_t positions;     /* out_h * out_w for conv2d, 1 for FC */
    int32_t direct;        /* conv2d 1x1, stride 1, pad 0: the input already is col */
    const float *w;        /* dense [rows x cols] */
    scalpel_gcsr sparse;   /* grouped CSR (row_ptr, col_idx, values) */
    const float *b;        /* [rows] */
} scalpel__cuda_layer;

/* act[f*batch + s] = in[s*features + f] (sample-major -> feature-major), o = f*batch + s */
SCALPEL__CUDA_HD static inline size_t scalpel__cuda_to_fm_src(size_t o, int32_t batch, int32_t features)
{
    size_t f = o / (size_t)batch, s = o % (size_t)batch;
    return s * (size_t)features + f;
}

/* out[s*features + f] = act[f*batch + s] (feature-major -> sample-major), o = s*features + f */
SCALPEL__CUDA_HD static inline size_t scalpel__cuda_to_sm_src(size_t o, int32_t batch, int32_t features)
{
    size_t s = o / (size_t)features, f = o % (size_t)features;
    return f * (size_t)batch + s;
}

/* C[r][j] of C[rows x n] = W[rows x cols] . B[cols x n], W grouped CSR (col16 or col32 set,
 * as index_bits says): the groups of row r in order, each group's columns in order, tail
 * columns >= cols skipped (their values are zero and B has no such rows). */
SCALPEL__CUDA_HD static inline float scalpel__cuda_spmm_element(const int32_t *row_ptr, const uint16_t *col16,
                                                                const uint32_t *col32, const float *values,
                                                                int32_t group, int32_t cols, const float *b,
                                                                int32_t n, int32_t r, int32_t j)
{
    int32_t k, t, k0 = SCALPEL__CUDA_LD(row_ptr + r), k1 = SCALPEL__CUDA_LD(row_ptr + r + 1);
    float s = 0.0f;
    for (k = k0; k < k1; k++) {
        int32_t c = col16 ? (int32_t)SCALPEL__CUDA_LD(col16 + k) : (int32_t)SCALPEL__CUDA_LD(col32 + k);
        const float *v = values + (size_t)k * (size_t)group;
        const float *bp = b + (size_t)c * (size_t)n + (size_t)j;
        if (c + group <= cols) {   /* the common case: a constant trip count that unrolls */
            for (t = 0; t < group; t++)
                s += SCALPEL__CUDA_LD(v + t) * SCALPEL__CUDA_LD(bp + (size_t)t * (size_t)n);
        } else {
            for (t = 0; t < cols - c; t++)
                s += SCALPEL__CUDA_LD(v + t) * SCALPEL__CUDA_LD(bp + (size_t)t * (size_t)n);
        }
    }
    return s;
}

/* col[o] of the batched im2col col[C*K*K x (OH*OW*batch)], column p*batch + s, row
 * (c*K + ky)*K + kx, from act[C*H*W x batch]; zero where the window is in the padding. */
SCALPEL__CUDA_HD static inline float scalpel__cuda_im2col_at(const float *act, const scalpel__cuda_layer *L,
                                                             int32_t batch, size_t o)
{
    size_t width = (size_t)L->positions * (size_t)batch;
    size_t row = o / width, rest = o % width;
    size_t p = rest / (size_t)batch, s = rest % (size_t)batch;
    int32_t K = L->geom.kernel;
    int32_t c = (int32_t)(row / ((size_t)K * (size_t)K));
    int32_t ky = (int32_t)((row / (size_t)K) % (size_t)K), kx = (int32_t)(row % (size_t)K);
    int32_t oy = (int32_t)(p / (size_t)L->geom.out_w), ox = (int32_t)(p % (size_t)L->geom.out_w);
    int32_t iy = oy * L->geom.stride - L->geom.pad + ky, ix = ox * L->geom.stride - L->geom.pad + kx;
    if (iy < 0 || iy >= L->geom.in_h || ix < 0 || ix >= L->geom.in_w) return 0.0f;
    return act[(((size_t)c * (size_t)L->geom.in_h + (size_t)iy) * (size_t)L->geom.in_w + (size_t)ix) * (size_t)batch + s];
}

/* out[o] of maxpool over act[C*H*W x batch] -> [C*OH*OW x batch]: the window's first element,
 * then every larger one (the CPU forward's order, so NaN behaves the same). */
SCALPEL__CUDA_HD static inline float scalpel__cuda_maxpool_at(const float *act, const scalpel__cuda_layer *L,
                                                              int32_t batch, size_t o)
{
    size_t f = o / (size_t)batch, s = o % (size_t)batch;
    size_t plane = (size_t)L->geom.out_h * (size_t)L->geom.out_w;
    size_t c = f / plane, p = f % plane;
    size_t oy = p / (size_t)L->geom.out_w, ox = p % (size_t)L->geom.out_w;
    size_t base = (c * (size_t)L->geom.in_h + oy * (size_t)L->geom.stride) * (size_t)L->geom.in_w + ox * (size_t)L->geom.stride;
    int32_t ky, kx;
    float m = act[base * (size_t)batch + s];
    for (ky = 0; ky < L->geom.kernel; ky++)
        for (kx = 0; kx < L->geom.kernel; kx++) {
            float v = act[(base + (size_t)ky * (size_t)L->geom.in_w + (size_t)kx) * (size_t)batch + s];
            if (v > m) m = v;
        }
    return m;
}

/* Bias of element o of y[rows*positions x batch]: b[(o / batch) / positions]. */
SCALPEL__CUDA_HD static inline size_t scalpel__cuda_bias_index(size_t o, int32_t batch, int32_t positions)
{
    return (o / (size_t)batch) / (size_t)positions;
}

SCALPEL__CUDA_HD static inline float scalpel__cuda_relu(float x) { return x > 0.0f ? x : 0.0f; }

/* The elementwise kinds' functions, y = F::apply(x), for X's map<F>: one kernel template on the
 * device, one loop in the emulator. */
struct scalpel__cuda_relu_fn {
    SCALPEL__CUDA_HD static float apply(float x) { return scalpel__cuda_relu(x); }
};

/* The column-major cublasSgemm call that computes row-major C[m x n] = A[m x k] . B[k x n]:
 * column-major C^T[n x m] = B^T[n x k] . A^T[k x m], i.e. cublasSgemm(N, N, n, m, k, B, n,
 * A, k, C, n). */
typedef struct scalpel__cuda_gemm {
    int m, n, k, lda, ldb, ldc;            /* cuBLAS's arguments (column-major names) */
    const float *a, *b;                    /* cuBLAS's A and B */
    float *c;
} scalpel__cuda_gemm;

static inline scalpel__cuda_gemm scalpel__cuda_gemm_rowmajor(const float *w, int32_t rows, int32_t cols,
                                                             const float *x, int32_t n, float *y)
{
    scalpel__cuda_gemm g;
    g.m = n; g.n = rows; g.k = cols;
    g.a = x; g.lda = n;
    g.b = w; g.ldb = cols;
    g.c = y; g.ldc = n;
    return g;
}

/* ---- layer kinds on the GPU: one entry per kind ----------------------------------------- */
/* The GPU's side of scalpel.h's kind table, checked against SCALPEL_LAYER_COUNT, so that a kind
 * added without its GPU entry does not compile. X provides the operations (device launches or
 * host loops of the emulator); each returns a scalpel_status.
 *   scratch   floats of the shared scratch (the im2col matrix) the layer needs for max_batch
 *             samples, or SIZE_MAX when that would not fit what the kernels index (a table of
 *             its own: the plan needs no X)
 *   run       dst[out features x batch] = layer(src[in features x batch]), feature-major
 *   in_place  1: run writes its result over src (no buffer swap) */
template <class X> struct scalpel__cuda_kind_ops {
    scalpel_status (*run)(X &x, const scalpel__cuda_layer *L, float *src, int32_t batch, float *dst, float *scratch);
    int in_place;
};

static size_t scalpel__cuda_no_scratch(const scalpel__cuda_layer *L, int32_t max_batch)
{
    (void)L; (void)max_batch;
    return 0;
}

/* fc and conv2d: W . B with B the input (fc, 1x1 conv) or its im2col matrix; then the bias */
static size_t scalpel__cuda_weighted_scratch(const scalpel__cuda_layer *L, int32_t max_batch)
{
    size_t n = (size_t)L->positions * (size_t)max_batch;
    if (L->geom.kind != SCALPEL_LAYER_CONV2D || L->direct) return 0;
    if ((size_t)L->geom.cols > SIZE_MAX / sizeof(float) / n) return SIZE_MAX;
    return (size_t)L->geom.cols * n;
}

template <class X>
static scalpel_status scalpel__cuda_weighted_run(X &x, const scalpel__cuda_layer *L, float *src, int32_t batch, float *dst,
                                                 float *scratch)
{
    const float *B = src;
    int32_t n = L->positions * batch;
    size_t total = (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w * (size_t)batch;
    scalpel_status st;
    if (L->geom.kind == SCALPEL_LAYER_CONV2D && !L->direct) {
        st = x.im2col(src, L, batch, scratch);
        if (st != SCALPEL_OK) return st;
        B = scratch;
    }
    if (L->storage == SCALPEL_STORAGE_GCSR) st = x.spmm(&L->sparse, B, n, dst);
    else st = x.gemm(scalpel__cuda_gemm_rowmajor(L->w, L->geom.rows, L->geom.cols, B, n, dst));
    if (st != SCALPEL_OK) return st;
    return x.bias(dst, L->b, total, batch, L->positions);
}

template <class X>
static scalpel_status scalpel__cuda_maxpool_run(X &x, const scalpel__cuda_layer *L, float *src, int32_t batch, float *dst,
                                                float *scratch)
{
    (void)scratch;
    return x.maxpool(src, L, batch, dst, (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w * (size_t)batch);
}

template <class X>
static scalpel_status scalpel__cuda_relu_run(X &x, const scalpel__cuda_layer *L, float *src, int32_t batch, float *dst,
                                             float *scratch)
{
    (void)dst; (void)scratch;
    return x.template map<scalpel__cuda_relu_fn>(src, (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w *
                                                       (size_t)batch);
}

/* Per kind NAME of SCALPEL__LAYER_KINDS: scalpel__cuda_NAME_scratch, scalpel__cuda_NAME_run
 * and scalpel__cuda_NAME_in_place. The tables are generated from the list. */
static size_t scalpel__cuda_fc_scratch(const scalpel__cuda_layer *L, int32_t max_batch)
{
    return scalpel__cuda_weighted_scratch(L, max_batch);
}
static size_t scalpel__cuda_conv2d_scratch(const scalpel__cuda_layer *L, int32_t max_batch)
{
    return scalpel__cuda_weighted_scratch(L, max_batch);
}
#define scalpel__cuda_maxpool_scratch scalpel__cuda_no_scratch
#define scalpel__cuda_relu_scratch scalpel__cuda_no_scratch
#define scalpel__cuda_fc_run scalpel__cuda_weighted_run
#define scalpel__cuda_conv2d_run scalpel__cuda_weighted_run
enum { scalpel__cuda_fc_in_place = 0, scalpel__cuda_conv2d_in_place = 0, scalpel__cuda_maxpool_in_place = 0,
       scalpel__cuda_relu_in_place = 1 };

/* Indexed by scalpel_layer_kind; entry 0 is no kind. */
#define SCALPEL__CUDA_SCRATCH_ENTRY(NAME, KIND, W, F, PC, Q, T, GPU, NR, O, K, S, P) SCALPEL__CUDA_SCRATCH_##GPU(NAME)
/* Kinds the GPU does not run yet (GPU = 0) have no functions; the upload refuses them. */
#define SCALPEL__CUDA_SCRATCH_0(NAME) NULL,
#define SCALPEL__CUDA_SCRATCH_1(NAME) scalpel__cuda_##NAME##_scratch,
static size_t (*const scalpel__cuda_kind_scratch[])(const scalpel__cuda_layer *L, int32_t max_batch) = {
    NULL,
    SCALPEL__LAYER_KINDS(SCALPEL__CUDA_SCRATCH_ENTRY)
};
static_assert(sizeof scalpel__cuda_kind_scratch / sizeof scalpel__cuda_kind_scratch[0] == SCALPEL_LAYER_COUNT,
              "a layer kind has no GPU scratch entry");

#define SCALPEL__CUDA_RUN_ENTRY(NAME, KIND, W, F, PC, Q, T, GPU, NR, O, K, S, P) SCALPEL__CUDA_RUN_##GPU(NAME)
#define SCALPEL__CUDA_RUN_0(NAME) { NULL, 0 },
#define SCALPEL__CUDA_RUN_1(NAME) { scalpel__cuda_##NAME##_run<X>, scalpel__cuda_##NAME##_in_place },
template <class X> static const scalpel__cuda_kind_ops<X> *scalpel__cuda_kinds(void)
{
    static const scalpel__cuda_kind_ops<X> table[] = {
        { NULL, 0 },
        SCALPEL__LAYER_KINDS(SCALPEL__CUDA_RUN_ENTRY)
    };
    static_assert(sizeof table / sizeof table[0] == SCALPEL_LAYER_COUNT, "a layer kind has no GPU entry");
    return table;
}
#undef SCALPEL__CUDA_SCRATCH_ENTRY
#undef SCALPEL__CUDA_RUN_ENTRY
#undef scalpel__cuda_maxpool_scratch
#undef scalpel__cuda_relu_scratch
#undef scalpel__cuda_fc_run
#undef scalpel__cuda_conv2d_run

/* ---- the layer sequence, shared by the device and the host emulator --------------------- */

/* out[batch x out_features] = net(in[batch x in_features]); act0/act1 hold the largest
 * features x batch, scratch the largest im2col. */
template <class X>
static scalpel_status scalpel__cuda_run(X &x, const scalpel__cuda_layer *layers, int32_t n_layers,
                                        int32_t in_features, int32_t out_features, const float *in,
                                        int32_t batch, float *out, float *act0, float *act1, float *scratch)
{
    const scalpel__cuda_kind_ops<X> *kinds = scalpel__cuda_kinds<X>();
    float *act[2];
    float *src;
    int32_t i, cur = 1;
    scalpel_status st;
    act[0] = act0; act[1] = act1;
    st = x.to_fm(in, act[0], batch, in_features);
    if (st != SCALPEL_OK) return st;
    src = act[0];
    for (i = 0; i < n_layers; i++) {
        const scalpel__cuda_layer *L = &layers[i];
        const scalpel__cuda_kind_ops<X> *k;
        if (L->geom.kind < 1 || L->geom.kind >= SCALPEL_LAYER_COUNT) return SCALPEL_ERR_ARGUMENT;
        k = &kinds[L->geom.kind];
        st = k->run(x, L, src, batch, act[cur], scratch);
        if (st != SCALPEL_OK) return st;
        if (k->in_place) continue;
        src = act[cur];
        cur ^= 1;
    }
    return x.to_sm(src, out, batch, out_features);
}

/* The GPU view of a network: geometry, host weight pointers, and the largest buffers a batch
 * of max_batch needs. SCALPEL_ERR_OVERFLOW when a size exceeds what the kernels and cuBLAS
 * index (n = positions * batch and every element count must fit int32 / size_t). */
static scalpel_status scalpel__cuda_plan(const scalpel_net *net, int32_t max_batch, scalpel__cuda_layer *layers,
                                         size_t *act_floats, size_t *scratch_floats)
{
    int32_t i;
    size_t feat = (size_t)net->in_c * (size_t)net->in_h * (size_t)net->in_w, max_feat = feat, scratch = 0;
    const size_t lim = (size_t)INT32_MAX;
    if (feat > lim) return SCALPEL_ERR_OVERFLOW;
    /* kinds and windows the GPU does not run yet (scalpel_net_first_unsupported names them) */
    if (scalpel_net_first_unsupported(net, SCALPEL_USE_GPU) >= 0) return SCALPEL_ERR_UNSUPPORTED;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *S = &net->layers[i];
        scalpel__cuda_layer *L = &layers[i];
        memset(L, 0, sizeof(*L));
        L->geom = S->geom; L->storage = S->storage;
        L->positions = S->geom.kind == SCALPEL_LAYER_CONV2D ? S->geom.out_h * S->geom.out_w : 1;
        L->direct = S->geom.kind == SCALPEL_LAYER_CONV2D && S->geom.kernel == 1 && S->geom.stride == 1 && S->geom.pad == 0;
        L->w = S->w; L->sparse = S->sparse; L->b = S->b;
        feat = (size_t)S->geom.out_c * (size_t)S->geom.out_h * (size_t)S->geom.out_w;
        if (feat > lim) return SCALPEL_ERR_OVERFLOW;
        if (feat > max_feat) max_feat = feat;
        if ((size_t)L->positions > lim / (size_t)max_batch) return SCALPEL_ERR_OVERFLOW;
        {   /* the kind's scratch (the kinds without any answer 0) */
            size_t sc = scalpel__cuda_kind_scratch[S->geom.kind](L, max_batch);
            if (sc == SIZE_MAX) return SCALPEL_ERR_OVERFLOW;
            if (sc > scratch) scratch = sc;
        }
    }
    if (max_feat > SIZE_MAX / sizeof(float) / (size_t)max_batch) return SCALPEL_ERR_OVERFLOW;
    *act_floats = max_feat * (size_t)max_batch;
    *scratch_floats = scratch;
    return SCALPEL_OK;
}

/* ---- kernels ----------------------------------------------------------------------------- */

#define SCALPEL__CUDA_THREADS 256
#define SCALPEL__CUDA_SPMM_ROWS 8       /* warps (rows) per SpMM block */

/* Grid-stride loops over `total` elements. */
#define SCALPEL__CUDA_FOR(o, total)                                                                 \
    for (size_t o = (size_t)blockIdx.x * blockDim.x + threadIdx.x; o < (total);                   \
         o += (size_t)gridDim.x * blockDim.x)

static __global__ void scalpel__cuda_to_fm_kernel(const float *in, float *act, int32_t batch,
                                                  int32_t features, size_t total)
{
    SCALPEL__CUDA_FOR(o, total) act[o] = SCALPEL__CUDA_LD(in + scalpel__cuda_to_fm_src(o, batch, features));
}

static __global__ void scalpel__cuda_to_sm_kernel(const float *act, float *out, int32_t batch,
                                                  int32_t features, size_t total)
{
    SCALPEL__CUDA_FOR(o, total) out[o] = SCALPEL__CUDA_LD(act + scalpel__cuda_to_sm_src(o, batch, features));
}

static __global__ void scalpel__cuda_im2col_kernel(const float *act, scalpel__cuda_layer L, int32_t batch,
                                                   float *col, size_t total)
{
    SCALPEL__CUDA_FOR(o, total) col[o] = scalpel__cuda_im2col_at(act, &L, batch, o);
}

static __global__ void scalpel__cuda_maxpool_kernel(const float *act, scalpel__cuda_layer L, int32_t batch,
                                                    float *out, size_t total)
{
    SCALPEL__CUDA_FOR(o, total) out[o] = scalpel__cuda_maxpool_at(act, &L, batch, o);
}

static __global__ void scalpel__cuda_bias_kernel(float *y, const float *b, int32_t batch,
                                                 int32_t positions, size_t total)
{
    SCALPEL__CUDA_FOR(o, total) y[o] += SCALPEL__CUDA_LD(b + scalpel__cuda_bias_index(o, batch, positions));
}

/* y[o] = F::apply(y[o]), in place: every elementwise kind */
template <class F> static __global__ void scalpel__cuda_map_kernel(float *y, size_t total)
{
    SCALPEL__CUDA_FOR(o, total) y[o] = F::apply(y[o]);
}

/* blockDim (32, SCALPEL__CUDA_SPMM_ROWS): x over columns j, y over rows; G a compile-time
 * constant so that the group loop unrolls. */
template <int G>
static __global__ void scalpel__cuda_spmm_kernel(const int32_t *row_ptr, const uint16_t *col16,
                                                 const uint32_t *col32, const float *values, int32_t rows,
                                                 int32_t cols, const float *b, int32_t n, float *c)
{
    int32_t j = (int32_t)(blockIdx.x * blockDim.x + threadIdx.x);
    int32_t r;
    if (j >= n) return;
    for (r = (int32_t)(blockIdx.y * blockDim.y + threadIdx.y); r < rows; r += (int32_t)(gridDim.y * blockDim.y))
        c[(size_t)r * (size_t)n + (size_t)j] = scalpel__cuda_spmm_element(row_ptr, col16, col32, values, G, cols,
                                                                          b, n, r, j);
}

/* Blocks for a grid-stride kernel over `total` elements (capped: the loop does the rest). */
static unsigned scalpel__cuda_blocks(size_t total)
{
    size_t blocks = (total + SCALPEL__CUDA_THREADS - 1) / SCALPEL__CUDA_THREADS;
    if (blocks > 65535u * 16u) blocks = 65535u * 16u;
    return blocks ? (unsigned)blocks : 1u;
}
#define SCALPEL__CUDA_LAUNCH(kernel, total, stream) \
    kernel<<<scalpel__cuda_blocks(total), SCALPEL__CUDA_THREADS, 0, stream>>>

/* Launches the SpMM of a validated (on the host) matrix whose arrays are device pointers. */
static cudaError_t scalpel__cuda_spmm_launch(const scalpel_gcsr *w, const float *b, int32_t n, float *c,
                                             cudaStream_t stream)
{
    dim3 block(32, SCALPEL__CUDA_SPMM_ROWS);
    size_t gy = ((size_t)w->rows + SCALPEL__CUDA_SPMM_ROWS - 1) / SCALPEL__CUDA_SPMM_ROWS;
    dim3 grid((unsigned)(((size_t)n + 31) / 32), (unsigned)(gy > 65535 ? 65535 : gy));
    const uint16_t *c16 = w->index_bits == 16 ? (const uint16_t *)w->col_idx : NULL;
    const uint32_t *c32 = w->index_bits == 16 ? NULL : (const uint32_t *)w->col_idx;
    const float *v = (const float *)w->values;
    if (w->rows == 0 || n == 0) return cudaSuccess;
#define SCALPEL__CUDA_SPMM(G) \
    scalpel__cuda_spmm_kernel<G><<<grid, block, 0, stream>>>(w->row_ptr, c16, c32, v, w->rows, w->cols, b, n, c)
    switch (w->group) {
    case 1: SCALPEL__CUDA_SPMM(1); break;
    case 2: SCALPEL__CUDA_SPMM(2); break;
    case 4: SCALPEL__CUDA_SPMM(4); break;
    case 8: SCALPEL__CUDA_SPMM(8); break;
    default: SCALPEL__CUDA_SPMM(16); break;
    }
#undef SCALPEL__CUDA_SPMM
    return cudaGetLastError();
}

/* ---- errors ------------------------------------------------------------------------------ */

static scalpel_status scalpel__cuda_status(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return SCALPEL_OK;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInitializationError:
    case cudaErrorStubLibrary:
    case cudaErrorDevicesUnavailable:
    case cudaErrorSystemNotReady:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
        return SCALPEL_ERR_NO_DEVICE;
    case cudaErrorMemoryAllocation:
        return SCALPEL_ERR_NO_MEMORY;
    default:
        return SCALPEL_ERR_DEVICE;
    }
}

static scalpel_status scalpel__cublas_status(cublasStatus_t e)
{
    switch (e) {
    case CUBLAS_STATUS_SUCCESS: return SCALPEL_OK;
    case CUBLAS_STATUS_ALLOC_FAILED: return SCALPEL_ERR_NO_MEMORY;
    case CUBLAS_STATUS_NOT_INITIALIZED: return SCALPEL_ERR_NO_DEVICE;
    default: return SCALPEL_ERR_DEVICE;
    }
}

static const char *scalpel__cublas_string(cublasStatus_t e)
{
    switch (e) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "cuBLAS not initialized (no usable device or driver)";
    case CUBLAS_STATUS_ALLOC_FAILED: return "cuBLAS resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "cuBLAS invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "cuBLAS architecture mismatch";
    case CUBLAS_STATUS_MAPPING_ERROR: return "cuBLAS mapping error";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "cuBLAS execution failed";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "cuBLAS internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "cuBLAS not supported";
    default: return "cuBLAS error";
    }
}

/* ---- the handle -------------------------------------------------------------------------- */

struct scalpel_cuda_net {
    int32_t n_layers, max_batch, in_features, out_features;
    scalpel__cuda_layer layers[SCALPEL_NET_MAX_LAYERS];   /* weight pointers into `block` */
    void *block;                                           /* the one device allocation */
    float *act[2], *scratch, *stage_in, *stage_out;
    cublasHandle_t blas;
    int blas_ok;
    char error[256];
};

/* Records a CUDA error in the handle (if any) and returns its status. */
static scalpel_status scalpel__cuda_fail(scalpel_cuda_net *net, const char *what, cudaError_t e)
{
    if (net)
        snprintf(net->error, sizeof(net->error), "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
    return scalpel__cuda_status(e);
}

static scalpel_status scalpel__cublas_fail(scalpel_cuda_net *net, const char *what, cublasStatus_t e)
{
    if (net) snprintf(net->error, sizeof(net->error), "%s: %s (%d)", what, scalpel__cublas_string(e), (int)e);
    return scalpel__cublas_status(e);
}

/* The device provider of scalpel__cuda_run: launches on a stream, checks every launch. */
struct scalpel__cuda_device_ops {
    scalpel_cuda_net *net;
    cudaStream_t stream;

    scalpel_status launched(const char *what)
    {
        cudaError_t e = cudaGetLastError();
        return e == cudaSuccess ? SCALPEL_OK : scalpel__cuda_fail(net, what, e);
    }
    scalpel_status to_fm(const float *in, float *act, int32_t batch, int32_t features)
    {
        size_t total = (size_t)batch * (size_t)features;
        if (!total) return SCALPEL_OK;
        SCALPEL__CUDA_LAUNCH(scalpel__cuda_to_fm_kernel, total, stream)(in, act, batch, features, total);
        return launched("input transpose kernel");
    }
    scalpel_status to_sm(const float *act, float *out, int32_t batch, int32_t features)
    {
        size_t total = (size_t)batch * (size_t)features;
        if (!total) return SCALPEL_OK;
        SCALPEL__CUDA_LAUNCH(scalpel__cuda_to_sm_kernel, total, stream)(act, out, batch, features, total);
        return launched("output transpose kernel");
    }
    scalpel_status im2col(const float *act, const scalpel__cuda_layer *L, int32_t batch, float *col)
    {
        size_t total = (size_t)L->geom.cols * (size_t)L->positions * (size_t)batch;
        if (!total) return SCALPEL_OK;
        SCALPEL__CUDA_LAUNCH(scalpel__cuda_im2col_kernel, total, stream)(act, *L, batch, col, total);
        return launched("im2col kernel");
    }
    scalpel_status maxpool(const float *act, const scalpel__cuda_layer *L, int32_t batch, float *out, size_t total)
    {
        if (!total) return SCALPEL_OK;
        SCALPEL__CUDA_LAUNCH(scalpel__cuda_maxpool_kernel, total, stream)(act, *L, batch, out, total);
        return launched("maxpool kernel");
    }
    scalpel_status bias(float *y, const float *b, size_t total, int32_t batch, int32_t positions)
    {
        if (!total) return SCALPEL_OK;
        SCALPEL__CUDA_LAUNCH(scalpel__cuda_bias_kernel, total, stream)(y, b, batch, positions, total);
        return launched("bias kernel");
    }
    template <class F> scalpel_status map(float *y, size_t total)
    {
        if (!total) return SCALPEL_OK;
        SCALPEL__CUDA_LAUNCH(scalpel__cuda_map_kernel<F>, total, stream)(y, total);
        return launched("elementwise kernel");
    }
    scalpel_status spmm(const scalpel_gcsr *w, const float *b, int32_t n, float *c)
    {
        cudaError_t e = scalpel__cuda_spmm_launch(w, b, n, c, stream);
        return e == cudaSuccess ? SCALPEL_OK : scalpel__cuda_fail(net, "grouped SpMM kernel", e);
    }
    scalpel_status gemm(scalpel__cuda_gemm g)
    {
        const float one = 1.0f, zero = 0.0f;
        cublasStatus_t e;
        if (g.m == 0 || g.n == 0) return SCALPEL_OK;
        if (g.k == 0) {   /* never for a valid network; zero C rather than rely on a quick return */
            cudaError_t ce = cudaMemsetAsync(g.c, 0, (size_t)g.m * (size_t)g.n * sizeof(float), stream);
            return ce == cudaSuccess ? SCALPEL_OK : scalpel__cuda_fail(net, "cudaMemsetAsync", ce);
        }
        e = cublasSgemm(net->blas, CUBLAS_OP_N, CUBLAS_OP_N, g.m, g.n, g.k, &one, g.a, g.lda, g.b, g.ldb, &zero,
                        g.c, g.ldc);
        return e == CUBLAS_STATUS_SUCCESS ? SCALPEL_OK : scalpel__cublas_fail(net, "cublasSgemm", e);
    }
};

/* ---- public API ---------------------------------------------------------------------------- */

extern "C" scalpel_status scalpel_cuda_device_info(int32_t *count, char *name, size_t name_size)
{
    int n = 0;
    cudaError_t e;
    struct cudaDeviceProp prop;
    if (name && name_size) name[0] = '\0';
    if (!count) return SCALPEL_ERR_NULL;
    *count = 0;
    e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();   /* clear the (non-sticky) error so that later calls start clean */
        return scalpel__cuda_status(e);
    }
    if (n < 1) return SCALPEL_ERR_NO_DEVICE;
    *count = (int32_t)n;
    if (name && name_size) {
        e = cudaGetDeviceProperties(&prop, 0);
        if (e != cudaSuccess) {
            cudaGetLastError();
            return scalpel__cuda_status(e);
        }
        snprintf(name, name_size, "%s", prop.name);
    }
    return SCALPEL_OK;
}

extern "C" void scalpel_cuda_net_free(scalpel_cuda_net *net)
{
    if (!net) return;
    if (net->blas_ok) cublasDestroy(net->blas);
    if (net->block) cudaFree(net->block);
    free(net);
}

/* Bump allocation inside the one device block, 256-byte aligned, overflow-checked. */
static int scalpel__cuda_take(size_t *offset, size_t bytes, size_t *at)
{
    size_t o = (*offset + 255u) & ~(size_t)255u;
    if (o < *offset || bytes > SIZE_MAX - o) return 0;
    *at = o;
    *offset = o + bytes;
    return 1;
}

/* Copies host bytes to block + at. */
static scalpel_status scalpel__cuda_put(scalpel_cuda_net *net, size_t at, const void *src, size_t bytes)
{
    cudaError_t e;
    if (!bytes) return SCALPEL_OK;
    e = cudaMemcpy((char *)net->block + at, src, bytes, cudaMemcpyHostToDevice);
    return e == cudaSuccess ? SCALPEL_OK : scalpel__cuda_fail(net, "cudaMemcpy (weights)", e);
}

extern "C" scalpel_status scalpel_cuda_net_upload(const scalpel_net *net, int32_t max_batch, scalpel_cuda_net **out)
{
    /* byte offsets of every array inside the device block: per layer w (or values), col_idx,
     * row_ptr, b; then act0, act1, scratch, stage_in, stage_out */
    size_t off_w[SCALPEL_NET_MAX_LAYERS], off_ci[SCALPEL_NET_MAX_LAYERS], off_rp[SCALPEL_NET_MAX_LAYERS];
    size_t off_b[SCALPEL_NET_MAX_LAYERS], off_act[2], off_scr, off_in, off_out;
    size_t sz_w[SCALPEL_NET_MAX_LAYERS], sz_ci[SCALPEL_NET_MAX_LAYERS], sz_rp[SCALPEL_NET_MAX_LAYERS];
    size_t act_n = 0, scratch_n = 0, total = 0, in_n, out_n;
    scalpel_cuda_net *h;
    scalpel_status st;
    cudaError_t e;
    cublasStatus_t be;
    int devices = 0, ok = 1;
    int32_t i;
    if (!out) return SCALPEL_ERR_NULL;
    *out = NULL;
    if (!net) return SCALPEL_ERR_NULL;
    if (max_batch < 1) return SCALPEL_ERR_ARGUMENT;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (scalpel_net_has_decomposed(net)) return SCALPEL_ERR_UNSUPPORTED; /* HYBRID / TASD layers */
    for (int32_t i = 0; i < net->n_layers; i++) /* the device runs a chain: every layer reads the one before */
        if (net->layers[i].geom.from != 0) return SCALPEL_ERR_UNSUPPORTED;
    /* kinds and windows the GPU does not run yet (scalpel_net_first_unsupported names them) */
    if (scalpel_net_first_unsupported(net, SCALPEL_USE_GPU) >= 0) return SCALPEL_ERR_UNSUPPORTED;
    h = (scalpel_cuda_net *)calloc(1, sizeof(*h));
    if (!h) return SCALPEL_ERR_NO_MEMORY;
    h->n_layers = net->n_layers;
    h->max_batch = max_batch;
    h->in_features = scalpel_net_input_size(net);
    h->out_features = scalpel_net_output_size(net);
    st = scalpel__cuda_plan(net, max_batch, h->layers, &act_n, &scratch_n);
    if (st != SCALPEL_OK) { free(h); return st; }
    in_n = (size_t)h->in_features * (size_t)max_batch;    /* fit: act_n is the larger of these */
    out_n = (size_t)h->out_features * (size_t)max_batch;

    /* layout: weights, then working buffers */
    for (i = 0; i < net->n_layers && ok; i++) {
        const scalpel_layer *S = &net->layers[i];
        sz_w[i] = sz_ci[i] = sz_rp[i] = 0;
        off_w[i] = off_ci[i] = off_rp[i] = off_b[i] = 0;
        if (S->geom.kind != SCALPEL_LAYER_FC && S->geom.kind != SCALPEL_LAYER_CONV2D) continue;
        if (S->storage == SCALPEL_STORAGE_GCSR) {
            sz_w[i] = (size_t)S->sparse.nnz_groups * (size_t)S->sparse.group * sizeof(float);
            sz_ci[i] = (size_t)S->sparse.nnz_groups * (size_t)(S->sparse.index_bits / 8);
            sz_rp[i] = ((size_t)S->geom.rows + 1) * sizeof(int32_t);
        } else {
            sz_w[i] = (size_t)S->geom.rows * (size_t)S->geom.cols * sizeof(float);
        }
        ok = scalpel__cuda_take(&total, sz_w[i], &off_w[i]) && scalpel__cuda_take(&total, sz_ci[i], &off_ci[i]) &&
             scalpel__cuda_take(&total, sz_rp[i], &off_rp[i]) &&
             scalpel__cuda_take(&total, (size_t)S->geom.rows * sizeof(float), &off_b[i]);
    }
    ok = ok && scalpel__cuda_take(&total, act_n * sizeof(float), &off_act[0]) &&
         scalpel__cuda_take(&total, act_n * sizeof(float), &off_act[1]) &&
         scalpel__cuda_take(&total, scratch_n * sizeof(float), &off_scr) &&
         scalpel__cuda_take(&total, in_n * sizeof(float), &off_in) &&
         scalpel__cuda_take(&total, out_n * sizeof(float), &off_out);
    if (!ok) { free(h); return SCALPEL_ERR_OVERFLOW; }

    /* the device: a clear NO_DEVICE before any allocation */
    e = cudaGetDeviceCount(&devices);
    if (e != cudaSuccess || devices < 1) {
        if (e == cudaSuccess) e = cudaErrorNoDevice;
        cudaGetLastError();
        st = scalpel__cuda_fail(h, "cudaGetDeviceCount", e);
        free(h);
        return st;
    }
    e = cudaMalloc(&h->block, total ? total : 1);
    if (e != cudaSuccess) {
        h->block = NULL;
        cudaGetLastError();
        st = scalpel__cuda_fail(h, "cudaMalloc", e);
        free(h);
        return st;
    }
    be = cublasCreate(&h->blas);
    if (be != CUBLAS_STATUS_SUCCESS) {
        st = scalpel__cublas_fail(h, "cublasCreate", be);
        scalpel_cuda_net_free(h);
        return st;
    }
    h->blas_ok = 1;
    h->act[0] = (float *)((char *)h->block + off_act[0]);
    h->act[1] = (float *)((char *)h->block + off_act[1]);
    h->scratch = (float *)((char *)h->block + off_scr);
    h->stage_in = (float *)((char *)h->block + off_in);
    h->stage_out = (float *)((char *)h->block + off_out);

    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *S = &net->layers[i];
        scalpel__cuda_layer *L = &h->layers[i];
        char *base = (char *)h->block;
        if (S->geom.kind != SCALPEL_LAYER_FC && S->geom.kind != SCALPEL_LAYER_CONV2D) continue;
        if (S->storage == SCALPEL_STORAGE_GCSR) {
            st = scalpel__cuda_put(h, off_w[i], S->sparse.values, sz_w[i]);
            if (st == SCALPEL_OK) st = scalpel__cuda_put(h, off_ci[i], S->sparse.col_idx, sz_ci[i]);
            if (st == SCALPEL_OK) st = scalpel__cuda_put(h, off_rp[i], S->sparse.row_ptr, sz_rp[i]);
            L->w = NULL;
            L->sparse.values = base + off_w[i];
            L->sparse.col_idx = base + off_ci[i];
            L->sparse.row_ptr = (int32_t *)(base + off_rp[i]);
            L->sparse.block = NULL;
            L->sparse.alloc_ctx = NULL;
        } else {
            st = scalpel__cuda_put(h, off_w[i], S->w, sz_w[i]);
            L->w = (const float *)(base + off_w[i]);
            memset(&L->sparse, 0, sizeof(L->sparse));
        }
        if (st == SCALPEL_OK) st = scalpel__cuda_put(h, off_b[i], S->b, (size_t)S->geom.rows * sizeof(float));
        L->b = (const float *)(base + off_b[i]);
        if (st != SCALPEL_OK) {
            scalpel_cuda_net_free(h);
            return st;
        }
    }
    *out = h;
    return SCALPEL_OK;
}

extern "C" scalpel_status scalpel_cuda_net_forward_async(scalpel_cuda_net *net, const float *in_device, int32_t batch,
                                                         float *out_device, void *stream)
{
    scalpel__cuda_device_ops ops;
    cublasStatus_t be;
    if (!net || !in_device || !out_device) return SCALPEL_ERR_NULL;
    if (batch < 1 || batch > net->max_batch) return SCALPEL_ERR_ARGUMENT;
    net->error[0] = '\0';
    ops.net = net;
    ops.stream = (cudaStream_t)stream;
    be = cublasSetStream(net->blas, ops.stream);
    if (be != CUBLAS_STATUS_SUCCESS) return scalpel__cublas_fail(net, "cublasSetStream", be);
    return scalpel__cuda_run(ops, net->layers, net->n_layers, net->in_features, net->out_features, in_device,
                             batch, out_device, net->act[0], net->act[1], net->scratch);
}

extern "C" scalpel_status scalpel_cuda_net_forward(scalpel_cuda_net *net, const float *in, int32_t batch, float *out)
{
    scalpel_status st;
    cudaError_t e;
    if (!net || !in || !out) return SCALPEL_ERR_NULL;
    if (batch < 1 || batch > net->max_batch) return SCALPEL_ERR_ARGUMENT;
    e = cudaMemcpy(net->stage_in, in, (size_t)batch * (size_t)net->in_features * sizeof(float),
                   cudaMemcpyHostToDevice);
    if (e != cudaSuccess) return scalpel__cuda_fail(net, "cudaMemcpy (input)", e);
    st = scalpel_cuda_net_forward_async(net, net->stage_in, batch, net->stage_out, NULL);
    if (st != SCALPEL_OK) {
        cudaDeviceSynchronize();   /* let queued work finish before the caller reuses buffers */
        return st;
    }
    e = cudaMemcpy(out, net->stage_out, (size_t)batch * (size_t)net->out_features * sizeof(float),
                   cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) return scalpel__cuda_fail(net, "cudaMemcpy (output)", e);
    e = cudaGetLastError();
    if (e != cudaSuccess) return scalpel__cuda_fail(net, "forward", e);
    return SCALPEL_OK;
}

extern "C" const char *scalpel_cuda_net_error(const scalpel_cuda_net *net)
{
    return net ? net->error : "";
}

extern "C" scalpel_status scalpel_cuda_gcsr_spmm_f32(const scalpel_gcsr *w_device, const float *b, int32_t n,
                                                     float *c, void *stream)
{
    const scalpel_gcsr *w = w_device;
    cudaError_t e;
    if (!w) return SCALPEL_ERR_NULL;
    if (w->group != 1 && w->group != 2 && w->group != 4 && w->group != 8 && w->group != 16) return SCALPEL_ERR_GROUP;
    if (w->dtype != SCALPEL_DTYPE_F32) return SCALPEL_ERR_DTYPE;
    if (w->index_bits != 16 && w->index_bits != 32) return SCALPEL_ERR_INDEX_WIDTH;
    if (w->rows < 0 || w->cols < 0 || w->nnz_groups < 0 || n < 0) return SCALPEL_ERR_SHAPE;
    if (w->index_bits == 16 && w->cols > 65536) return SCALPEL_ERR_INDEX_WIDTH;
    if ((int64_t)w->nnz_groups * w->group > INT32_MAX) return SCALPEL_ERR_OVERFLOW;
    if (w->rows == 0 || n == 0) return SCALPEL_OK;
    if (!w->row_ptr || !c) return SCALPEL_ERR_NULL;
    if (w->nnz_groups > 0 && (!w->col_idx || !w->values || !b)) return SCALPEL_ERR_NULL;
    e = scalpel__cuda_spmm_launch(w, b, n, c, (cudaStream_t)stream);
    return scalpel__cuda_status(e);
}
