/* ---------------------------------------------------------------------------------------- */
/* >>networks (implementation)                                                               */
/* ---------------------------------------------------------------------------------------- */

#include <string.h>
#include <limits.h>
#include <math.h>

#if defined(SCALPEL_MALLOC) != defined(SCALPEL_FREE)
#error "Scalpel: define both SCALPEL_MALLOC(ctx, size) and SCALPEL_FREE(ctx, p), or neither"
#endif
#if !defined(SCALPEL_MALLOC) && !defined(SCALPEL_NO_MALLOC)
#include <stdlib.h>
#define SCALPEL_MALLOC(ctx, size) ((void)(ctx), malloc(size))
#define SCALPEL_FREE(ctx, p) ((void)(ctx), free(p))
#endif
#ifndef SCALPEL_ASSERT
#include <assert.h>
#define SCALPEL_ASSERT(x) assert(x)
#endif

/* Private functions of this module: static, and marked unused so that a configuration that
 * removes their callers (SCALPEL_NO_MALLOC) compiles warning-free. */
#if defined(__GNUC__) || defined(__clang__)
#define SCALPEL__PRIV static __attribute__((unused))
#else
#define SCALPEL__PRIV static
#endif

/* Alignment of the blocks the network allocates and of the workspace regions: a cache line,
 * so weight rows and activation buffers start where the vector loads like them. */
#define SCALPEL__NET_ALIGN 64u

#ifdef __cplusplus
extern "C" {
#endif

SCALPEL__PRIV int scalpel__is_weighted(int32_t kind)
{
    return kind == SCALPEL_LAYER_FC || kind == SCALPEL_LAYER_CONV2D;
}

SCALPEL__PRIV void *scalpel__net_align_ptr(void *p)
{
    uintptr_t u = (uintptr_t)p;
    return (void *)((u + (SCALPEL__NET_ALIGN - 1u)) & ~(uintptr_t)(SCALPEL__NET_ALIGN - 1u));
}

/* a + b and a * b on sizes, saturating to SIZE_MAX so that one check at the end catches any
 * overflow on the way. */
SCALPEL__PRIV size_t scalpel__net_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
SCALPEL__PRIV size_t scalpel__net_mul(size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
    return a * b;
}

/* c * h * w for dimensions already known to be >= 1, or -1 when it exceeds INT32_MAX; the
 * first product is checked before the second so that nothing can wrap even in 64 bits. */
SCALPEL__PRIV int64_t scalpel__net_dims(int32_t c, int32_t h, int32_t w)
{
    int64_t ch = (int64_t)c * h;
    if (ch > INT32_MAX || ch * w > INT32_MAX) return -1;
    return ch * w;
}

/* Computes and checks the shapes of a layer of `kind` placed after an input of shape
 * [c x h x w], into L (every shape field; weights and storage untouched). Parameters a kind
 * does not use must be 0, so that a model file cannot smuggle meaning into them. Every count
 * a kernel indexes with int32 (weights, activations, the im2col matrix) must fit in int32. */
SCALPEL__PRIV scalpel_status scalpel__layer_shape(int32_t kind, int32_t c, int32_t h, int32_t w,
                                                  int32_t outputs, int32_t kernel, int32_t stride,
                                                  int32_t pad, scalpel_layer *L)
{
    int64_t in_size, oh = 1, ow = 1;
    L->kind = kind;
    L->in_c = c; L->in_h = h; L->in_w = w;
    L->kernel = kernel; L->stride = stride; L->pad = pad;
    L->rows = L->cols = 0;
    if (c < 1 || h < 1 || w < 1) return SCALPEL_ERR_SHAPE;
    in_size = scalpel__net_dims(c, h, w);
    if (in_size < 0) return SCALPEL_ERR_OVERFLOW;
    switch (kind) {
    case SCALPEL_LAYER_FC:
        if (kernel != 0 || stride != 0 || pad != 0) return SCALPEL_ERR_ARGUMENT;
        if (outputs < 1) return SCALPEL_ERR_SHAPE;
        if ((int64_t)outputs * in_size > INT32_MAX) return SCALPEL_ERR_OVERFLOW;
        L->rows = outputs; L->cols = (int32_t)in_size;
        L->out_c = outputs; L->out_h = 1; L->out_w = 1;
        return SCALPEL_OK;
    case SCALPEL_LAYER_CONV2D: {
        int64_t cols;
        if (outputs < 1) return SCALPEL_ERR_SHAPE;
        if (kernel < 1 || stride < 1 || pad < 0 || pad >= kernel || kernel > 4096 || stride > 4096)
            return SCALPEL_ERR_ARGUMENT;
        cols = (int64_t)c * kernel * kernel;   /* kernel <= 4096: at most 2^55 */
        if (h + 2 * (int64_t)pad < kernel || w + 2 * (int64_t)pad < kernel) return SCALPEL_ERR_SHAPE;
        oh = (h + 2 * (int64_t)pad - kernel) / stride + 1;
        ow = (w + 2 * (int64_t)pad - kernel) / stride + 1;
        if (cols > INT32_MAX || (int64_t)outputs * cols > INT32_MAX ||
            oh * ow > INT32_MAX || cols * (oh * ow) > INT32_MAX || (int64_t)outputs * (oh * ow) > INT32_MAX)
            return SCALPEL_ERR_OVERFLOW;
        L->rows = outputs; L->cols = (int32_t)cols;
        L->out_c = outputs; L->out_h = (int32_t)oh; L->out_w = (int32_t)ow;
        return SCALPEL_OK;
    }
    case SCALPEL_LAYER_MAXPOOL:
        if (outputs != 0 || pad != 0) return SCALPEL_ERR_ARGUMENT;
        if (kernel < 1 || stride < 1) return SCALPEL_ERR_ARGUMENT;
        if (kernel > h || kernel > w) return SCALPEL_ERR_SHAPE;
        L->out_c = c; L->out_h = (h - kernel) / stride + 1; L->out_w = (w - kernel) / stride + 1;
        return SCALPEL_OK;
    case SCALPEL_LAYER_RELU:
        if (outputs != 0 || kernel != 0 || stride != 0 || pad != 0) return SCALPEL_ERR_ARGUMENT;
        L->out_c = c; L->out_h = h; L->out_w = w;
        return SCALPEL_OK;
    default:
        return SCALPEL_ERR_ARGUMENT;
    }
}

/* Appends a layer of `kind` after checking and computing its shapes; storage DENSE with no
 * arrays yet. The network is unchanged on failure. */
SCALPEL__PRIV scalpel_status scalpel__net_append(scalpel_net *net, int32_t kind, int32_t outputs,
                                                 int32_t kernel, int32_t stride, int32_t pad,
                                                 scalpel_layer **out)
{
    scalpel_layer L;
    int32_t c, h, w;
    scalpel_status st;
    if (out) *out = NULL;
    if (!net) return SCALPEL_ERR_NULL;
    if (net->n_layers < 0 || net->n_layers >= SCALPEL_NET_MAX_LAYERS) return SCALPEL_ERR_UNSUPPORTED;
    if (net->n_layers == 0) {
        c = net->in_c; h = net->in_h; w = net->in_w;
    } else {
        const scalpel_layer *prev = &net->layers[net->n_layers - 1];
        c = prev->out_c; h = prev->out_h; w = prev->out_w;
    }
    memset(&L, 0, sizeof(L));
    st = scalpel__layer_shape(kind, c, h, w, outputs, kernel, stride, pad, &L);
    if (st != SCALPEL_OK) return st;
    L.storage = SCALPEL_STORAGE_DENSE;
    net->layers[net->n_layers] = L;
    if (out) *out = &net->layers[net->n_layers];
    net->n_layers++;
    return SCALPEL_OK;
}

/* Writes the layer's weights as dense W[rows x cols], whatever its storage. */
SCALPEL__PRIV void scalpel__layer_dense_weights(const scalpel_layer *layer, float *w)
{
    size_t n = (size_t)layer->rows * (size_t)layer->cols;
    if (layer->storage == SCALPEL_STORAGE_DENSE) {
        if (n) memcpy(w, layer->w, n * sizeof(float));
    } else {
        const scalpel_gcsr *m = &layer->sparse;
        const float *v = (const float *)m->values;
        int32_t r, k, j, G = m->group;
        if (n) memset(w, 0, n * sizeof(float));
        for (r = 0; r < m->rows; r++)
            for (k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++) {
                int64_t c0 = (int64_t)scalpel_gcsr_col(m, k);
                for (j = 0; j < G && c0 + j < m->cols; j++)
                    w[(size_t)r * (size_t)m->cols + (size_t)(c0 + j)] = v[(size_t)k * (size_t)G + (size_t)j];
            }
    }
}

SCALPEL__PRIV int scalpel__net_all_finite(const float *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!(v[i] - v[i] == 0.0f)) return 0;   /* false for NaN and +-inf */
    return 1;
}

#ifndef SCALPEL_NO_MALLOC
/* Releases the memory a layer owns and forgets its arrays (shapes stay). */
SCALPEL__PRIV void scalpel__layer_release(scalpel_net *net, scalpel_layer *layer)
{
    if (layer->block) SCALPEL_FREE(net->alloc_ctx, layer->block);
    if (layer->sparse.block) scalpel_gcsr_free(&layer->sparse);
    layer->block = NULL;
    layer->w = NULL;
    layer->b = NULL;
    memset(&layer->sparse, 0, sizeof(layer->sparse));
    layer->storage = SCALPEL_STORAGE_DENSE;
}

/* One block holding the weights (at its aligned start) and the bias after them; the layer's
 * old memory is released only once the new block exists, so a failure changes nothing. */
SCALPEL__PRIV scalpel_status scalpel__layer_set_dense(scalpel_net *net, scalpel_layer *layer,
                                                      const float *w, const float *b)
{
    size_t n = (size_t)layer->rows * (size_t)layer->cols, bytes;
    void *block;
    float *wd, *bd;
    if (!scalpel__is_weighted(layer->kind)) return SCALPEL_ERR_ARGUMENT;
    bytes = SCALPEL__NET_ALIGN + (n + (size_t)layer->rows) * sizeof(float);
    block = SCALPEL_MALLOC(net->alloc_ctx, bytes);
    if (!block) return SCALPEL_ERR_NO_MEMORY;
    wd = (float *)scalpel__net_align_ptr(block);
    bd = wd + n;
    if (w) memcpy(wd, w, n * sizeof(float)); else memset(wd, 0, n * sizeof(float));
    if (b) memcpy(bd, b, (size_t)layer->rows * sizeof(float));
    else memset(bd, 0, (size_t)layer->rows * sizeof(float));
    scalpel__layer_release(net, layer);
    layer->block = block;
    layer->storage = SCALPEL_STORAGE_DENSE;
    layer->w = wd;
    layer->b = bd;
    return SCALPEL_OK;
}

/* A grouped-CSR copy of w in one block: values (aligned), bias, row pointers, column indices. */
SCALPEL__PRIV scalpel_status scalpel__layer_set_gcsr(scalpel_net *net, scalpel_layer *layer,
                                                     const scalpel_gcsr *w, const float *b)
{
    size_t nv, idx_bytes, bytes;
    void *block;
    unsigned char *p;
    scalpel_gcsr m;
    scalpel_status st;
    if (!scalpel__is_weighted(layer->kind)) return SCALPEL_ERR_ARGUMENT;
    st = scalpel_gcsr_validate(w);
    if (st != SCALPEL_OK) return st;
    if (w->dtype != SCALPEL_DTYPE_F32) return SCALPEL_ERR_DTYPE;
    if (w->rows != layer->rows || w->cols != layer->cols) return SCALPEL_ERR_SHAPE;
    nv = (size_t)w->nnz_groups * (size_t)w->group;
    if (!scalpel__net_all_finite((const float *)w->values, nv)) return SCALPEL_ERR_ARGUMENT;
    idx_bytes = (size_t)w->nnz_groups * (size_t)(w->index_bits / 8);
    bytes = SCALPEL__NET_ALIGN + nv * sizeof(float) + (size_t)w->rows * sizeof(float) +
            ((size_t)w->rows + 1) * sizeof(int32_t) + idx_bytes;
    block = SCALPEL_MALLOC(net->alloc_ctx, bytes);
    if (!block) return SCALPEL_ERR_NO_MEMORY;
    m = *w;
    p = (unsigned char *)scalpel__net_align_ptr(block);
    m.values = p;
    if (nv) memcpy(p, w->values, nv * sizeof(float));
    p += nv * sizeof(float);
    if (b) memcpy(p, b, (size_t)w->rows * sizeof(float)); else memset(p, 0, (size_t)w->rows * sizeof(float));
    {
        float *bd = (float *)(void *)p;
        p += (size_t)w->rows * sizeof(float);
        m.row_ptr = (int32_t *)(void *)p;
        memcpy(p, w->row_ptr, ((size_t)w->rows + 1) * sizeof(int32_t));
        p += ((size_t)w->rows + 1) * sizeof(int32_t);
        m.col_idx = p;
        if (idx_bytes) memcpy(p, w->col_idx, idx_bytes);
        m.block = NULL;
        m.alloc_ctx = NULL;
        scalpel__layer_release(net, layer);
        layer->block = block;
        layer->storage = SCALPEL_STORAGE_GCSR;
        layer->sparse = m;
        layer->w = NULL;
        layer->b = bd;
    }
    return SCALPEL_OK;
}

/* Appends a weighted layer and gives it a copy of its weights; the network is unchanged on
 * any failure. */
static scalpel_status scalpel__net_add_weighted(scalpel_net *net, int32_t kind, int32_t outputs,
                                                int32_t kernel, int32_t stride, int32_t pad,
                                                const float *w, const scalpel_gcsr *sw, const float *b)
{
    scalpel_layer *L;
    scalpel_status st;
    if (!net) return SCALPEL_ERR_NULL;
    st = scalpel__net_append(net, kind, outputs, kernel, stride, pad, &L);
    if (st != SCALPEL_OK) return st;
    if (sw && (sw->rows != L->rows || sw->cols != L->cols)) st = SCALPEL_ERR_SHAPE;
    else if (w && !scalpel__net_all_finite(w, (size_t)L->rows * (size_t)L->cols)) st = SCALPEL_ERR_ARGUMENT;
    else if (b && !scalpel__net_all_finite(b, (size_t)L->rows)) st = SCALPEL_ERR_ARGUMENT;
    else st = sw ? scalpel__layer_set_gcsr(net, L, sw, b) : scalpel__layer_set_dense(net, L, w, b);
    if (st != SCALPEL_OK) {
        memset(L, 0, sizeof(*L));
        net->n_layers--;
    }
    return st;
}

SCALPEL_API scalpel_status scalpel_net_add_fc(scalpel_net *net, int32_t outputs, const float *w, const float *b)
{
    return scalpel__net_add_weighted(net, SCALPEL_LAYER_FC, outputs, 0, 0, 0, w, NULL, b);
}

SCALPEL_API scalpel_status scalpel_net_add_conv2d(scalpel_net *net, int32_t out_channels, int32_t kernel,
                                                  int32_t stride, int32_t pad, const float *w, const float *b)
{
    return scalpel__net_add_weighted(net, SCALPEL_LAYER_CONV2D, out_channels, kernel, stride, pad, w, NULL, b);
}

SCALPEL_API scalpel_status scalpel_net_add_fc_gcsr(scalpel_net *net, const scalpel_gcsr *w, const float *b)
{
    if (!w) return SCALPEL_ERR_NULL;
    return scalpel__net_add_weighted(net, SCALPEL_LAYER_FC, w->rows, 0, 0, 0, NULL, w, b);
}

SCALPEL_API scalpel_status scalpel_net_add_conv2d_gcsr(scalpel_net *net, int32_t out_channels,
                                                       int32_t kernel, int32_t stride, int32_t pad,
                                                       const scalpel_gcsr *w, const float *b)
{
    if (!w) return SCALPEL_ERR_NULL;
    return scalpel__net_add_weighted(net, SCALPEL_LAYER_CONV2D, out_channels, kernel, stride, pad, NULL, w, b);
}
#endif /* SCALPEL_NO_MALLOC */

SCALPEL_API scalpel_status scalpel_net_init(int32_t channels, int32_t height, int32_t width, scalpel_net *net)
{
    if (!net) return SCALPEL_ERR_NULL;
    memset(net, 0, sizeof(*net));
    if (channels < 1 || height < 1 || width < 1) return SCALPEL_ERR_SHAPE;
    if (scalpel__net_dims(channels, height, width) < 0) return SCALPEL_ERR_OVERFLOW;
    net->in_c = channels;
    net->in_h = height;
    net->in_w = width;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_net_add_maxpool(scalpel_net *net, int32_t kernel, int32_t stride)
{
    return scalpel__net_append(net, SCALPEL_LAYER_MAXPOOL, 0, kernel, stride, 0, NULL);
}

SCALPEL_API scalpel_status scalpel_net_add_relu(scalpel_net *net)
{
    return scalpel__net_append(net, SCALPEL_LAYER_RELU, 0, 0, 0, 0, NULL);
}

/* c * h * w, or 0 for a shape that is not valid (so that a garbage struct cannot overflow). */
SCALPEL__PRIV int32_t scalpel__net_shape_size(int32_t c, int32_t h, int32_t w)
{
    int64_t n;
    if (c < 1 || h < 1 || w < 1) return 0;
    n = scalpel__net_dims(c, h, w);
    return n < 0 ? 0 : (int32_t)n;
}

SCALPEL_API int32_t scalpel_net_input_size(const scalpel_net *net)
{
    if (!net) return 0;
    return scalpel__net_shape_size(net->in_c, net->in_h, net->in_w);
}

SCALPEL_API int32_t scalpel_net_output_size(const scalpel_net *net)
{
    const scalpel_layer *L;
    if (!net) return 0;
    if (net->n_layers <= 0 || net->n_layers > SCALPEL_NET_MAX_LAYERS) return scalpel_net_input_size(net);
    L = &net->layers[net->n_layers - 1];
    return scalpel__net_shape_size(L->out_c, L->out_h, L->out_w);
}

/* The workspace holds two activation buffers (ping-pong, each batch x the largest activation
 * of the network) and one scratch area: the im2col matrix of the largest convolution, or for
 * batch > 1 the transposed input and output of the largest fully connected layer. Each region
 * starts on a 64-byte boundary of whatever pointer the caller passes. Reports the per-region
 * sizes in floats; SIZE_MAX when anything overflows. */
static size_t scalpel__net_workspace(const scalpel_net *net, int32_t batch, size_t *act, size_t *scratch)
{
    size_t maxact = (size_t)scalpel_net_input_size(net), sc = 0, total;
    int32_t i;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        size_t out = (size_t)L->out_c * (size_t)L->out_h * (size_t)L->out_w;
        if (out > maxact) maxact = out;
        if (L->kind == SCALPEL_LAYER_CONV2D) {
            size_t col = scalpel__net_mul((size_t)L->cols, (size_t)L->out_h * (size_t)L->out_w);
            if (col > sc) sc = col;
        } else if (L->kind == SCALPEL_LAYER_FC && batch > 1) {
            size_t t = scalpel__net_mul((size_t)batch, scalpel__net_add((size_t)L->cols, (size_t)L->rows));
            if (t > sc) sc = t;
        }
    }
    *act = scalpel__net_mul(maxact, (size_t)batch);
    *scratch = sc;
    total = scalpel__net_mul(*act, 2);
    total = scalpel__net_add(total, sc);
    total = scalpel__net_mul(total, sizeof(float));
    total = scalpel__net_add(total, 3 * SCALPEL__NET_ALIGN);
    return total;
}

SCALPEL_API size_t scalpel_net_workspace_size(const scalpel_net *net, int32_t batch)
{
    size_t act, scratch, total;
    if (!net || batch < 1 || net->n_layers < 0 || net->n_layers > SCALPEL_NET_MAX_LAYERS) return 0;
    total = scalpel__net_workspace(net, batch, &act, &scratch);
    return total == SIZE_MAX ? 0 : total;
}

/* One sample through a convolution: im2col, then W . col (dense GEMM or grouped sparse
 * matrix-matrix), which lands directly in CHW order, then the bias per output channel. A 1x1
 * convolution with stride 1 and no padding needs no im2col: the input already is the matrix. */
static void scalpel__conv_forward(const scalpel_layer *L, const float *in, float *out, float *col)
{
    int32_t positions = L->out_h * L->out_w, r, p;
    const float *B = in;
    if (!(L->kernel == 1 && L->stride == 1 && L->pad == 0)) {
        scalpel_im2col_f32(in, L->in_c, L->in_h, L->in_w, L->kernel, L->stride, L->pad, col);
        B = col;
    }
    if (L->storage == SCALPEL_STORAGE_DENSE) scalpel_gemm_f32(L->w, L->rows, L->cols, B, positions, out);
    else scalpel_gcsr_spmm_f32(&L->sparse, B, positions, out);
    for (r = 0; r < L->rows; r++) {
        float bias = L->b[r], *o = out + (size_t)r * (size_t)positions;
        for (p = 0; p < positions; p++) o[p] += bias;
    }
}

/* A fully connected layer over the whole batch. Batch 1 is the matrix-vector product. For a
 * batch, the kernels compute C = W . B with B [inputs x batch]: transpose the samples in,
 * multiply, transpose back, so the batch reuses each weight from cache instead of streaming
 * the matrix once per sample. */
static void scalpel__fc_forward(const scalpel_layer *L, const float *in, int32_t batch, float *out, float *scratch)
{
    int32_t rows = L->rows, cols = L->cols, s, r, c;
    if (batch == 1) {
        if (L->storage == SCALPEL_STORAGE_DENSE) scalpel_gemv_f32(L->w, rows, cols, in, out);
        else scalpel_gcsr_spmv_f32(&L->sparse, in, out);
        for (r = 0; r < rows; r++) out[r] += L->b[r];
        return;
    } else {
        float *xt = scratch, *yt = scratch + (size_t)cols * (size_t)batch;
        for (s = 0; s < batch; s++)
            for (c = 0; c < cols; c++) xt[(size_t)c * (size_t)batch + (size_t)s] = in[(size_t)s * (size_t)cols + (size_t)c];
        if (L->storage == SCALPEL_STORAGE_DENSE) scalpel_gemm_f32(L->w, rows, cols, xt, batch, yt);
        else scalpel_gcsr_spmm_f32(&L->sparse, xt, batch, yt);
        for (s = 0; s < batch; s++)
            for (r = 0; r < rows; r++)
                out[(size_t)s * (size_t)rows + (size_t)r] = yt[(size_t)r * (size_t)batch + (size_t)s] + L->b[r];
    }
}

/* Max over kernel x kernel windows of one sample [C x H x W]; windows never leave the input
 * (the output size rounds down). */
static void scalpel__maxpool_forward(const scalpel_layer *L, const float *in, float *out)
{
    int32_t c, oy, ox, ky, kx, K = L->kernel, S = L->stride;
    for (c = 0; c < L->in_c; c++) {
        const float *src = in + (size_t)c * (size_t)L->in_h * (size_t)L->in_w;
        float *dst = out + (size_t)c * (size_t)L->out_h * (size_t)L->out_w;
        for (oy = 0; oy < L->out_h; oy++)
            for (ox = 0; ox < L->out_w; ox++) {
                const float *win = src + (size_t)(oy * S) * (size_t)L->in_w + (size_t)(ox * S);
                float m = win[0];
                for (ky = 0; ky < K; ky++)
                    for (kx = 0; kx < K; kx++) {
                        float v = win[(size_t)ky * (size_t)L->in_w + (size_t)kx];
                        if (v > m) m = v;
                    }
                dst[(size_t)oy * (size_t)L->out_w + (size_t)ox] = m;
            }
    }
}

SCALPEL_API scalpel_status scalpel_net_forward(const scalpel_net *net, const float *in, int32_t batch,
                                               float *out, void *workspace)
{
    size_t act, scratch_n, total, in_n, out_n, s;
    float *buf[2], *scratch;
    const float *src;
    int32_t i, cur = 0;
    if (!net || !in || !out || !workspace) return SCALPEL_ERR_NULL;
    if (batch < 1) return SCALPEL_ERR_ARGUMENT;
    if (net->n_layers < 0 || net->n_layers > SCALPEL_NET_MAX_LAYERS) return SCALPEL_ERR_ARGUMENT;
    total = scalpel__net_workspace(net, batch, &act, &scratch_n);
    if (total == SIZE_MAX) return SCALPEL_ERR_OVERFLOW;
    buf[0] = (float *)scalpel__net_align_ptr(workspace);
    buf[1] = (float *)scalpel__net_align_ptr(buf[0] + act);
    scratch = (float *)scalpel__net_align_ptr(buf[1] + act);
    in_n = (size_t)scalpel_net_input_size(net);
    out_n = (size_t)scalpel_net_output_size(net);
    src = in;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        size_t li = (size_t)L->in_c * (size_t)L->in_h * (size_t)L->in_w;
        size_t lo = (size_t)L->out_c * (size_t)L->out_h * (size_t)L->out_w;
        float *dst = buf[cur];
        switch (L->kind) {
        case SCALPEL_LAYER_FC:
            scalpel__fc_forward(L, src, batch, dst, scratch);
            break;
        case SCALPEL_LAYER_CONV2D:
            for (s = 0; s < (size_t)batch; s++) scalpel__conv_forward(L, src + s * li, dst + s * lo, scratch);
            break;
        case SCALPEL_LAYER_MAXPOOL:
            for (s = 0; s < (size_t)batch; s++) scalpel__maxpool_forward(L, src + s * li, dst + s * lo);
            break;
        case SCALPEL_LAYER_RELU: {
            size_t k, n = lo * (size_t)batch;
            for (k = 0; k < n; k++) dst[k] = src[k] > 0.0f ? src[k] : 0.0f;
            break;
        }
        default:
            return SCALPEL_ERR_ARGUMENT;
        }
        src = dst;
        cur ^= 1;
    }
    memcpy(out, src, out_n * (size_t)batch * sizeof(float));
    (void)in_n;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_net_validate(const scalpel_net *net)
{
    int32_t i, c, h, w;
    if (!net) return SCALPEL_ERR_NULL;
    if (net->in_c < 1 || net->in_h < 1 || net->in_w < 1) return SCALPEL_ERR_SHAPE;
    if (scalpel__net_dims(net->in_c, net->in_h, net->in_w) < 0) return SCALPEL_ERR_OVERFLOW;
    if (net->n_layers < 0 || net->n_layers > SCALPEL_NET_MAX_LAYERS) return SCALPEL_ERR_UNSUPPORTED;
    c = net->in_c; h = net->in_h; w = net->in_w;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        scalpel_layer ref;
        scalpel_status st;
        int32_t outputs = scalpel__is_weighted(L->kind) ? L->out_c : 0;
        memset(&ref, 0, sizeof(ref));
        st = scalpel__layer_shape(L->kind, c, h, w, outputs, L->kernel, L->stride, L->pad, &ref);
        if (st != SCALPEL_OK) return st;
        if (ref.in_c != L->in_c || ref.in_h != L->in_h || ref.in_w != L->in_w || ref.out_c != L->out_c ||
            ref.out_h != L->out_h || ref.out_w != L->out_w || ref.rows != L->rows || ref.cols != L->cols)
            return SCALPEL_ERR_SHAPE;
        if (scalpel__is_weighted(L->kind)) {
            if (!L->b) return SCALPEL_ERR_NULL;
            if (L->storage == SCALPEL_STORAGE_DENSE) {
                if (!L->w) return SCALPEL_ERR_NULL;
            } else if (L->storage == SCALPEL_STORAGE_GCSR) {
                st = scalpel_gcsr_validate(&L->sparse);
                if (st != SCALPEL_OK) return st;
                if (L->sparse.dtype != SCALPEL_DTYPE_F32) return SCALPEL_ERR_DTYPE;
                if (L->sparse.rows != L->rows || L->sparse.cols != L->cols) return SCALPEL_ERR_SHAPE;
            } else {
                return SCALPEL_ERR_ARGUMENT;
            }
        } else if (L->storage != SCALPEL_STORAGE_DENSE) {
            return SCALPEL_ERR_ARGUMENT;
        }
        c = L->out_c; h = L->out_h; w = L->out_w;
    }
    return SCALPEL_OK;
}

SCALPEL_API size_t scalpel_net_weight_bytes(const scalpel_net *net)
{
    size_t total = 0;
    int32_t i;
    if (!net || net->n_layers < 0 || net->n_layers > SCALPEL_NET_MAX_LAYERS) return 0;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        if (!scalpel__is_weighted(L->kind)) continue;
        if (L->storage == SCALPEL_STORAGE_GCSR) total += scalpel_gcsr_bytes(&L->sparse);
        else total += (size_t)L->rows * (size_t)L->cols * sizeof(float);
        total += (size_t)L->rows * sizeof(float);
    }
    return total;
}

SCALPEL_API int64_t scalpel_layer_macs(const scalpel_layer *layer)
{
    int64_t positions, per;
    if (!layer || !scalpel__is_weighted(layer->kind)) return 0;
    positions = (int64_t)layer->out_h * layer->out_w;
    if (layer->storage == SCALPEL_STORAGE_GCSR) per = (int64_t)layer->sparse.nnz_groups * layer->sparse.group;
    else per = (int64_t)layer->rows * layer->cols;
    return per * positions;
}

SCALPEL_API const char *scalpel_layer_kind_name(int32_t kind)
{
    switch (kind) {
    case SCALPEL_LAYER_FC: return "fc";
    case SCALPEL_LAYER_CONV2D: return "conv2d";
    case SCALPEL_LAYER_MAXPOOL: return "maxpool";
    case SCALPEL_LAYER_RELU: return "relu";
    default: return "?";
    }
}

SCALPEL_API void scalpel_net_free(scalpel_net *net)
{
    if (!net) return;
#ifndef SCALPEL_NO_MALLOC
    {
        int32_t i, n = net->n_layers;
        if (n > SCALPEL_NET_MAX_LAYERS) n = SCALPEL_NET_MAX_LAYERS;
        for (i = 0; i < n; i++) scalpel__layer_release(net, &net->layers[i]);
        if (net->block) SCALPEL_FREE(net->alloc_ctx, net->block);
    }
#endif
    memset(net, 0, sizeof(*net));
}

SCALPEL_API void scalpel_softmax_f32(float *x, int32_t n)
{
    float m, sum = 0.0f;
    int32_t i;
    if (!x || n < 1) return;
    m = x[0];
    for (i = 1; i < n; i++) if (x[i] > m) m = x[i];
    for (i = 0; i < n; i++) { x[i] = expf(x[i] - m); sum += x[i]; }
    for (i = 0; i < n; i++) x[i] /= sum;
}

SCALPEL_API int32_t scalpel_argmax_f32(const float *x, int32_t n)
{
    int32_t i, best = 0;
    if (!x || n < 1) return -1;
    for (i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

#ifdef __cplusplus
}
#endif
