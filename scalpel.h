/* scalpel.h - Scalpel: pruned neural networks that actually run faster and smaller.
 *
 * The umbrella header and the network module. It includes, in dependency order:
 *   scalpel_format.h   status codes, allocator hooks, the grouped-CSR format, serialization
 *   scalpel_kernels.h  dense and grouped-sparse fp32 kernels (SIMDe / Helium / plain C), im2col
 * and adds (grep for the ">>" markers):
 *   >>networks          scalpel_net: FC, conv2d, maxpool, relu; dense or grouped-CSR weights;
 *                       a forward pass that allocates nothing; softmax and argmax
 *   >>model files       versioned, checksummed model files: save, load, zero-copy view
 *   >>pruning           magnitude and SIMD-aware group pruning over dense weights and masks;
 *                       node removal into a smaller dense network
 *   >>hardware profiles cortex-m4 ... cuda: class, G, data type, break-even pruning rates;
 *                       calibration on the running machine
 *   >>planner           per-layer technique and storage (Scalpel, Traditional, Optimized),
 *                       scalpel_net_pack
 *   >>export and import C-header export for firmware, safetensors import from PyTorch
 *
 * USAGE
 *   Do this in exactly one C or C++ file to compile the whole library there:
 *
 *     #define SCALPEL_IMPLEMENTATION
 *     #include "scalpel.h"
 *
 *   and include "scalpel.h" without the define anywhere else (SCALPEL_NET_IMPLEMENTATION
 *   compiles this module alone). A complete program (cc -O2 -march=native example.c -lm):
 *
 *     #define SCALPEL_IMPLEMENTATION
 *     #include "scalpel.h"
 *     #include <stdio.h>
 *     #include <stdlib.h>
 *     int main(void) {
 *         static float w1[300 * 784], w2[10 * 300];     // your trained weights
 *         float x[784] = { 0 }, y[10];
 *         scalpel_net net;
 *         scalpel_hw_profile hw;
 *         scalpel_plan plan;
 *         void *ws;
 *         int i;
 *         for (i = 0; i < 300 * 784; i++) w1[i] = (i % 10 == 0) ? 0.01f : 0.0f;  // 90% pruned
 *         for (i = 0; i < 10 * 300; i++) w2[i] = 0.1f;
 *         if (scalpel_net_init(1, 28, 28, &net) != SCALPEL_OK ||
 *             scalpel_net_add_fc(&net, 300, w1, NULL) != SCALPEL_OK ||
 *             scalpel_net_add_relu(&net) != SCALPEL_OK ||
 *             scalpel_net_add_fc(&net, 10, w2, NULL) != SCALPEL_OK) return 1;
 *         scalpel_hw_profile_host(&hw);                             // this machine's class and G
 *         if (scalpel_plan_net(&net, &hw, SCALPEL_PLAN_SCALPEL, &plan) != SCALPEL_OK ||
 *             scalpel_net_pack(&net, &plan) != SCALPEL_OK) return 1;  // sparse where it pays
 *         ws = malloc(scalpel_net_workspace_size(&net, 1));
 *         for (i = 0; i < 784; i++) x[i] = 1.0f;
 *         if (!ws || scalpel_net_forward(&net, x, 1, y, ws) != SCALPEL_OK) return 1;
 *         printf("%s: predicted %d, fc1 %s, y[0] = %g, %lu weight bytes\n", hw.name,
 *                scalpel_argmax_f32(y, 10), plan.layers[0].storage ? "grouped" : "dense",
 *                y[0], (unsigned long)scalpel_net_weight_bytes(&net));
 *         free(ws);
 *         scalpel_net_free(&net);
 *         return 0;
 *     }
 *
 * CONFIGURATION (see each module's header for details)
 *   SCALPEL_IMPLEMENTATION   compile every module's implementation in this file
 *   SCALPEL_NET_IMPLEMENTATION  this module only (format and kernels compiled elsewhere)
 *   SCALPEL_STATIC           make every function static (a private copy per file)
 *   SCALPEL_MALLOC/FREE      your allocator, both or neither (ctx = the alloc_ctx you passed;
 *                            for a network, net->alloc_ctx)
 *   SCALPEL_ASSERT           internal invariant checks (default: assert)
 *   SCALPEL_NO_MALLOC        no allocating entry points (firmware): run networks from
 *                            scalpel_net_view over flash or from a header scalpel_net_export_c
 *                            wrote; pruning, planning and the forward pass stay available
 *   SCALPEL_NO_SIMD          plain C kernels only
 *
 * MEMORY
 *   scalpel_net is yours to place (stack, static, inside your struct): no hidden global or
 *   heap state. scalpel_net_add_* copy the weights you give into blocks the network owns;
 *   scalpel_net_free releases them. scalpel_net_forward allocates nothing: you pass a
 *   workspace of scalpel_net_workspace_size(net, batch) bytes. Loading, packing, node removal,
 *   calibration, export and import allocate through SCALPEL_MALLOC.
 *
 * ERRORS
 *   Every function that can fail returns scalpel_status (scalpel_status_string names it) and
 *   leaves its outputs zeroed or unchanged on failure: a failed add leaves the network as it
 *   was, a failed save leaves the existing file as it was, a failed import leaves the weights
 *   as they were. Bytes from outside (model files, safetensors) are validated completely.
 *
 * DOES NOT
 *   train (scalpel_train.h), run on GPUs (scalpel_cuda.cu), use threads, keep global state,
 *   or quantize (q15/q7 kernels belong to the microcontroller module; profiles already name
 *   the data type each target wants).
 */
#include "scalpel_format.h"
#include "scalpel_kernels.h"

#ifndef SCALPEL_H
#define SCALPEL_H

#include <stddef.h>
#include <stdint.h>

/* The library's version as one comparable number, e.g. 0.1.0 -> 100. */
#define SCALPEL_VERSION_NUMBER (SCALPEL_VERSION_MAJOR * 10000 + SCALPEL_VERSION_MINOR * 100 + SCALPEL_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================================== */
/* >>networks                                                                                */
/* ======================================================================================== */

/* Most layers one network holds. Fixed (not a configuration macro) because it sizes
 * scalpel_net, which model files, exported C arrays and every translation unit must agree on. */
#define SCALPEL_NET_MAX_LAYERS 32

/* scalpel_layer_kind: what a layer computes. Written to model files: numbers are fixed and
 * only appended. */
typedef enum scalpel_layer_kind {
    SCALPEL_LAYER_FC = 1,       /* y[outputs] = W[outputs x inputs] . x + b (implicit flatten) */
    SCALPEL_LAYER_CONV2D = 2,   /* im2col, then W[out_c x in_c*k*k] . col + b per channel */
    SCALPEL_LAYER_MAXPOOL = 3,  /* max over kernel x kernel windows, stride, no padding, floor */
    SCALPEL_LAYER_RELU = 4      /* y = max(x, 0), in place */
} scalpel_layer_kind;

/* scalpel_storage: how a weighted layer keeps its weights. Written to model files. */
typedef enum scalpel_storage {
    SCALPEL_STORAGE_DENSE = 0,  /* w: [rows x cols] row-major floats */
    SCALPEL_STORAGE_GCSR = 1    /* sparse: grouped CSR with any G (G = 1 is plain CSR) */
} scalpel_storage;

/* scalpel_layer: one layer of a scalpel_net. Filled by scalpel_net_add_* (or a model file, or
 * an exported C header); read its fields freely, change them only through the library.
 *
 * Shapes are per sample, CHW. A fully connected layer sees its input flattened (C*H*W inputs,
 * CHW order, as torch.flatten does) and produces [outputs x 1 x 1]. The weight matrix of a
 * weighted layer is W [rows = outputs or out_channels] x [cols = inputs or in_c*kernel*kernel]
 * (a conv weight [out, in, k, k] flattened row-major: one row per filter, the im2col view).
 * Exactly one of `w` (dense) and `sparse` (grouped CSR, sparse.rows == rows, sparse.cols ==
 * cols) holds the weights, as `storage` says; `b` is the bias [rows], never NULL for a weighted
 * layer. Unweighted layers (maxpool, relu) have rows = cols = 0 and no arrays.
 * `block` is the memory this layer owns (NULL when it points into a view, an exported header
 * or your arrays); scalpel_net_free releases it. */
typedef struct scalpel_layer {
    int32_t kind;                 /* scalpel_layer_kind */
    int32_t in_c, in_h, in_w;     /* input shape per sample */
    int32_t out_c, out_h, out_w;  /* output shape per sample */
    int32_t kernel, stride, pad;  /* conv2d and maxpool; 0 otherwise */
    int32_t rows, cols;           /* weight matrix shape; 0 for unweighted layers */
    int32_t storage;              /* scalpel_storage */
    const float *w;               /* dense weights [rows x cols] when storage is DENSE, else NULL */
    scalpel_gcsr sparse;          /* the weights when storage is GCSR, else zeroed */
    const float *b;               /* bias [rows] */
    void *block;                  /* owned memory behind w and b, or NULL */
} scalpel_layer;

/* scalpel_net: a feed-forward network, caller-allocated (on the stack, static, or inside your
 * own struct). scalpel_net_init makes an empty one for a given input shape; scalpel_net_add_*
 * appends layers (copying weights into memory the network owns); scalpel_net_load and
 * scalpel_net_view read model files; an exported C header defines a ready `static const` one.
 * Release with scalpel_net_free (safe on a zeroed or failed-to-load struct).
 *
 * Memory: `alloc_ctx` is passed to SCALPEL_MALLOC / SCALPEL_FREE for everything this network
 * allocates (default NULL; set it right after scalpel_net_init). `block` is a whole model file
 * the network owns (scalpel_net_load), or NULL. A view (scalpel_net_view) or an exported
 * network owns nothing and points into your bytes: keep them alive and unchanged. */
typedef struct scalpel_net {
    int32_t in_c, in_h, in_w;                    /* input shape per sample (CHW) */
    int32_t n_layers;                            /* layers used in `layers` */
    scalpel_layer layers[SCALPEL_NET_MAX_LAYERS];
    void *block;                                 /* owned model-file copy, or NULL */
    void *alloc_ctx;                             /* for SCALPEL_MALLOC / SCALPEL_FREE */
} scalpel_net;

/* An empty network taking inputs of shape [channels x height x width] (CHW). No allocation. */
SCALPEL_API scalpel_status scalpel_net_init(int32_t channels, int32_t height, int32_t width,
                                            scalpel_net *net);
#ifndef SCALPEL_NO_MALLOC
/* y[outputs] = W[outputs x inputs] . flatten(x) + b; inputs = current C*H*W.
 * w and b are copied; w == NULL gives zero weights (to fill later, e.g. by import) and b == NULL
 * a zero bias. Fails with SCALPEL_ERR_ARGUMENT when a weight
 * or bias is not finite. */
SCALPEL_API scalpel_status scalpel_net_add_fc(scalpel_net *net, int32_t outputs, const float *w,
                                              const float *b);
/* y[out_c x OH x OW] = conv(x[C x H x W], w[out_c x C x kernel x kernel]) + b[out_c];
 * OH = (H + 2*pad - kernel) / stride + 1 (pad < kernel, zero padding). w and b are copied. */
SCALPEL_API scalpel_status scalpel_net_add_conv2d(scalpel_net *net, int32_t out_channels,
                                                  int32_t kernel, int32_t stride, int32_t pad,
                                                  const float *w, const float *b);
/* Like add_fc / add_conv2d, but the layer keeps W as grouped CSR (a copy of w, any G). */
SCALPEL_API scalpel_status scalpel_net_add_fc_gcsr(scalpel_net *net, const scalpel_gcsr *w,
                                                   const float *b);
SCALPEL_API scalpel_status scalpel_net_add_conv2d_gcsr(scalpel_net *net, int32_t out_channels,
                                                       int32_t kernel, int32_t stride, int32_t pad,
                                                       const scalpel_gcsr *w, const float *b);
#endif
/* y[C x OH x OW] = max over kernel x kernel windows of x[C x H x W], OH = (H - kernel) / stride
 * + 1 (no padding, partial windows dropped, as PyTorch's default). */
SCALPEL_API scalpel_status scalpel_net_add_maxpool(scalpel_net *net, int32_t kernel, int32_t stride);
/* y = max(x, 0), same shape. */
SCALPEL_API scalpel_status scalpel_net_add_relu(scalpel_net *net);

/* Floats per sample in (C*H*W) and out (the last layer's C*H*W); 0 for a NULL network. */
SCALPEL_API int32_t scalpel_net_input_size(const scalpel_net *net);
SCALPEL_API int32_t scalpel_net_output_size(const scalpel_net *net);
/* Bytes of scratch memory scalpel_net_forward needs for `batch` samples (any alignment;
 * 0 when the network or batch is invalid or the size would overflow). */
SCALPEL_API size_t scalpel_net_workspace_size(const scalpel_net *net, int32_t batch);
/* out[batch x outputs] = net(in[batch x C x H x W]). Allocates nothing: workspace must hold
 * scalpel_net_workspace_size(net, batch) bytes. Batch 1 runs fully connected layers with the
 * matrix-vector kernels, batch > 1 with the matrix-matrix ones; convolutions run as im2col +
 * matrix-matrix per sample. The network is trusted (validate one from outside with
 * scalpel_net_validate, which view and load already did). */
SCALPEL_API scalpel_status scalpel_net_forward(const scalpel_net *net, const float *in, int32_t batch,
                                               float *out, void *workspace);
/* Full structural check of a network you did not build: shapes chained layer to layer, every
 * product in range, every sparse matrix valid, every pointer present. */
SCALPEL_API scalpel_status scalpel_net_validate(const scalpel_net *net);

/* Weights stored, in bytes: dense values, or grouped-CSR values + indices + row pointers,
 * plus biases. What the model costs in memory, honestly. */
SCALPEL_API size_t scalpel_net_weight_bytes(const scalpel_net *net);
/* Multiply-accumulates per sample actually executed by layer i (stored weights x positions):
 * a sparse layer counts its stored groups' values, not the dense count. */
SCALPEL_API int64_t scalpel_layer_macs(const scalpel_layer *layer);
/* "fc", "conv2d", "maxpool", "relu" or "?" */
SCALPEL_API const char *scalpel_layer_kind_name(int32_t kind);

/* Release everything the network owns and zero it. Safe on NULL and on a zeroed struct. */
SCALPEL_API void scalpel_net_free(scalpel_net *net);

/* x[n] = softmax(x[n]) in place, numerically stable (max subtracted). n >= 1. */
SCALPEL_API void scalpel_softmax_f32(float *x, int32_t n);
/* Index of the largest x[i] (the first on ties), -1 when n < 1. */
SCALPEL_API int32_t scalpel_argmax_f32(const float *x, int32_t n);

/* ======================================================================================== */
/* >>model files                                                                             */
/* ======================================================================================== */

/* Model file format version 1 (every field little-endian; see the implementation section
 * ">>model files" for the byte layout). Magic "SCPN". Arrays start on 64-byte boundaries so
 * that a view of a 64-byte-aligned buffer (flash, mmap) keeps the kernels' alignment. */
#define SCALPEL_NET_MAGIC "SCPN"
#define SCALPEL_NET_FORMAT_VERSION 1

/* Exact size of the model file for net (0 if net is invalid). */
SCALPEL_API size_t scalpel_net_serialized_size(const scalpel_net *net);
/* Writes net into buf[capacity]; *written = bytes used. Validates net first. */
SCALPEL_API scalpel_status scalpel_net_serialize(const scalpel_net *net, void *buf, size_t capacity,
                                                 size_t *written);
/* A network pointing into data[size] (zero-copy: flash, mmap). data must be 4-byte aligned and
 * stay alive and unchanged. Hostile-safe: any byte sequence gives a valid network or an error. */
SCALPEL_API scalpel_status scalpel_net_view(const void *data, size_t size, scalpel_net *net);
#ifndef SCALPEL_NO_MALLOC
/* Writes the model to `path` through a temporary file renamed over it on success, so a failure
 * never destroys an existing file. */
SCALPEL_API scalpel_status scalpel_net_save(const scalpel_net *net, const char *path);
/* Reads a model file into memory the network owns (one block), then views it. */
SCALPEL_API scalpel_status scalpel_net_load(const char *path, scalpel_net *net);
/* Like load, from bytes in memory (copied; data needs no alignment). */
SCALPEL_API scalpel_status scalpel_net_load_buffer(const void *data, size_t size, scalpel_net *net);
#endif

/* ======================================================================================== */
/* >>pruning                                                                                 */
/* ======================================================================================== */

/* Pruning routines are pure functions over dense weights W[rows x cols] (a conv weight
 * flattened to [out, in*k*k]) and byte masks of the same shape (1 = kept, 0 = pruned). They
 * allocate nothing, so training can call them every step. "rate" is the fraction of weights
 * to remove, in [0, 1]. Ties are broken by position (earlier first), so results are
 * deterministic. */

/* scalpel_importance: how a group of G weights is scored for SIMD-aware pruning. */
typedef enum scalpel_importance {
    SCALPEL_IMPORTANCE_RMS = 0,    /* sqrt(mean(w^2)), the default and the paper's best */
    SCALPEL_IMPORTANCE_MEAN = 1,   /* mean |w| */
    SCALPEL_IMPORTANCE_MAX = 2     /* max |w| */
} scalpel_importance;

/* Traditional magnitude pruning (Han et al.): mask[i] = |w[i]| >= threshold (so threshold 0
 * keeps everything). Threshold NaN or negative, or any non-finite weight: SCALPEL_ERR_ARGUMENT. */
SCALPEL_API scalpel_status scalpel_prune_magnitude_threshold(const float *w, int32_t rows, int32_t cols,
                                                             float threshold, uint8_t *mask);
/* Traditional magnitude pruning to a target rate: exactly round(rate * rows * cols) weights of
 * smallest magnitude get mask 0 (round half up). *threshold_out (may be NULL) = the largest
 * pruned magnitude, 0 when nothing is pruned. */
SCALPEL_API scalpel_status scalpel_prune_magnitude_rate(const float *w, int32_t rows, int32_t cols,
                                                        float rate, uint8_t *mask, float *threshold_out);
/* Group scores: scores[rows x ceil(cols / G)], the importance of each aligned group
 * [k*G, k*G+G) of each row (a tail group past cols is scored over its in-range weights). */
SCALPEL_API scalpel_status scalpel_prune_group_scores(const float *w, int32_t rows, int32_t cols,
                                                      int32_t group, scalpel_importance importance,
                                                      float *scores);
/* SIMD-aware pruning: every weight of a group whose score is under threshold gets mask 0.
 * Threshold NaN or negative, or any non-finite weight: SCALPEL_ERR_ARGUMENT. */
SCALPEL_API scalpel_status scalpel_prune_groups_threshold(const float *w, int32_t rows, int32_t cols,
                                                          int32_t group, scalpel_importance importance,
                                                          float threshold, uint8_t *mask);
/* SIMD-aware pruning to a rate: the round(rate * groups) groups of lowest score get mask 0
 * (rate counts groups; with cols a multiple of G that is also the rate of weights).
 * *threshold_out (may be NULL) = the largest pruned score, 0 when nothing is pruned. */
SCALPEL_API scalpel_status scalpel_prune_groups_rate(const float *w, int32_t rows, int32_t cols,
                                                     int32_t group, scalpel_importance importance,
                                                     float rate, uint8_t *mask, float *threshold_out);
/* w[i] = 0 where mask[i] == 0, for n weights. */
SCALPEL_API void scalpel_mask_apply_f32(float *w, const uint8_t *mask, size_t n);
/* Fraction of zero weights in w[n] (0 for n == 0). */
SCALPEL_API float scalpel_sparsity_f32(const float *w, size_t n);
/* Fraction of weights of W[rows x cols] that lie in all-zero aligned groups of G: what a
 * grouped-CSR layer with that G actually skips. G = 1 gives the plain zero fraction. */
SCALPEL_API float scalpel_group_sparsity_f32(const float *w, int32_t rows, int32_t cols, int32_t group);

#ifndef SCALPEL_NO_MALLOC
/* Node removal: keep[i] is the keep mask of layer i of net (out_c bytes, 1 = keep the neuron or
 * feature map), or NULL to keep every node of that layer (always NULL for unweighted layers
 * and for the last weighted layer: outputs are never removed). Builds in *out a smaller dense
 * network that computes exactly what net computes with the removed nodes' outputs forced to
 * zero: each removed node's row (filter) and bias go, and so do the inputs of the next weighted
 * layer that read it (after a flatten, a feature map owns H*W consecutive inputs).
 * round_to (1, 8, 16 or 32) rounds each kept count up to a multiple (capped at the original
 * count) for GPUs, keeping back the removed nodes with the largest weight norms first.
 * keep holds net->n_layers pointers; mask bytes must be 0 or 1 and a mask may not remove every
 * node of its layer (SCALPEL_ERR_ARGUMENT). net may hold any storage (sparse layers are read
 * densely); the result is always dense. *out is a new network (free it); net is unchanged. */
SCALPEL_API scalpel_status scalpel_net_remove_nodes(const scalpel_net *net, const uint8_t *const *keep,
                                                    int32_t round_to, scalpel_net *out);
#endif

/* ======================================================================================== */
/* >>hardware profiles                                                                        */
/* ======================================================================================== */

/* scalpel_hw_class: the paper's three classes of hardware parallelism. */
typedef enum scalpel_hw_class {
    SCALPEL_HW_LOW = 1,        /* microcontrollers: SIMD-aware weight pruning on every layer */
    SCALPEL_HW_MODERATE = 2,   /* CPUs: node pruning on CONV, SIMD-aware weight pruning on FC */
    SCALPEL_HW_HIGH = 3        /* GPUs: node pruning on every layer */
} scalpel_hw_class;

/* scalpel_hw_profile: what the planner knows about a target. Built-in profiles come from
 * scalpel_hw_profile_get; copy one and edit it, or measure with scalpel_hw_calibrate.
 * Break-even pruning rates are fractions in [0, 1]: a sparse kernel beats dense only above its
 * rate; 1 means never. "mv" is the matrix-vector kernel (FC layers at batch 1), "mm" the
 * matrix-matrix one (convolutions as im2col GEMM, FC layers at batch > 1). Defaults are the
 * paper's measurements (section 2 of the method) where it has them; see each profile's note. */
typedef struct scalpel_hw_profile {
    char name[32];                  /* e.g. "x86-avx2" */
    int32_t hw_class;               /* scalpel_hw_class */
    int32_t group;                  /* G: SIMD width in elements of `dtype` */
    int32_t dtype;                  /* scalpel_dtype the target runs (Q15 on Cortex-M4/M7) */
    int32_t batch;                  /* typical inference batch: 1, or 50 on GPUs */
    float breakeven_mv_csr;         /* plain CSR (G = 1) */
    float breakeven_mv_grouped;     /* grouped CSR with `group` */
    float breakeven_mm_csr;
    float breakeven_mm_grouped;
    const char *note;               /* where the defaults come from (static string) */
} scalpel_hw_profile;

/* Number of built-in profiles, and the name of profile i (NULL when out of range). */
SCALPEL_API int32_t scalpel_hw_profile_count(void);
SCALPEL_API const char *scalpel_hw_profile_name(int32_t i);
/* Built-in profile by name: "cortex-m4", "cortex-m7", "cortex-m55", "x86-avx2", "x86-avx512",
 * "arm-neon", "cuda". SCALPEL_ERR_ARGUMENT for an unknown name. */
SCALPEL_API scalpel_status scalpel_hw_profile_get(const char *name, scalpel_hw_profile *out);
/* The built-in profile matching the kernels compiled into this program
 * (scalpel_kernels_backend()): x86-avx512 -> "x86-avx512", x86-avx2 -> "x86-avx2",
 * "x86-sse2" -> the x86-avx2 profile with G = 4 named "x86-sse2", arm-neon -> "arm-neon",
 * arm-mve -> "cortex-m55", "scalar" -> the cortex-m4 rules with F32 named "scalar";
 * SCALPEL_ERR_UNSUPPORTED for an unknown backend. */
SCALPEL_API scalpel_status scalpel_hw_profile_host(scalpel_hw_profile *out);
#ifndef SCALPEL_NO_MALLOC
/* Measures the break-even rates of this machine's kernels into hw, for a matrix-vector product
 * W[rows x cols] . x and (when n > 0) a matrix-matrix product W . B[cols x n]: times dense,
 * grouped (hw->group) and CSR kernels over a sweep of pruning rates (medians of repeated runs)
 * and interpolates where each sparse kernel crosses dense (the last crossing, so that one noisy
 * dip is not taken for it). Times the fp32 kernels whatever hw->dtype says. Takes about two
 * seconds for 1024 x 1024 with n = 64. Every field of hw is validated; hw is unchanged on error;
 * with n == 0 the mm rates are kept. hw->note becomes "calibrated on this machine". */
SCALPEL_API scalpel_status scalpel_hw_calibrate(scalpel_hw_profile *hw, int32_t rows, int32_t cols,
                                                int32_t n);
#endif

/* ======================================================================================== */
/* >>planner                                                                                  */
/* ======================================================================================== */

/* scalpel_plan_mode: which rule decides each layer. */
typedef enum scalpel_plan_mode {
    SCALPEL_PLAN_SCALPEL = 0,      /* the paper's per-class rules with break-even fallback */
    SCALPEL_PLAN_TRADITIONAL = 1,  /* baseline: CSR (G = 1) for every layer with any zero weight */
    SCALPEL_PLAN_OPTIMIZED = 2,    /* baseline: CSR, but layers with > 50% of weights left dense */
    SCALPEL_PLAN_DENSE = 3         /* everything dense */
} scalpel_plan_mode;

/* scalpel_technique: the pruning technique the plan assigns to a layer (what training should
 * do), separate from the storage it ends in. */
typedef enum scalpel_technique {
    SCALPEL_TECHNIQUE_NONE = 0,          /* unweighted layer, or left as it is */
    SCALPEL_TECHNIQUE_WEIGHT_GROUPS = 1, /* SIMD-aware weight pruning with the profile's G */
    SCALPEL_TECHNIQUE_WEIGHTS = 2,       /* traditional magnitude pruning (baselines) */
    SCALPEL_TECHNIQUE_NODES = 3          /* node pruning (mask layers, then remove nodes) */
} scalpel_technique;

/* scalpel_layer_plan: the decision for one layer and the numbers behind it. */
typedef struct scalpel_layer_plan {
    int32_t technique;        /* scalpel_technique */
    int32_t storage;          /* scalpel_storage the layer ends in */
    int32_t group;            /* G of that storage (1 = CSR; 0 when dense) */
    int32_t kernel_mm;        /* 1 when the layer runs the matrix-matrix kernel, 0 matrix-vector */
    float zero_rate;          /* fraction of zero weights */
    float rate;               /* fraction of weights a grouped kernel with G skips (G = 1: zero_rate);
                                 measured at hw->group in SCALPEL mode, at G = 1 otherwise */
    float break_even;         /* the break-even rate the decision compared `rate` with */
    size_t bytes_now;         /* weight bytes as the layer is stored now */
    size_t bytes_planned;     /* weight bytes after scalpel_net_pack */
    int64_t macs_dense;       /* multiply-accumulates per sample, dense */
    int64_t macs_planned;     /* executed after packing */
    const char *reason;       /* one line a person understands (static string) */
} scalpel_layer_plan;

/* scalpel_plan: a per-layer plan for one network on one profile. */
typedef struct scalpel_plan {
    int32_t mode;                                     /* scalpel_plan_mode */
    int32_t n_layers;
    scalpel_hw_profile hw;                            /* the profile planned for */
    scalpel_layer_plan layers[SCALPEL_NET_MAX_LAYERS];
} scalpel_plan;

/* Decides each layer of net for profile hw. Reads the weights as they are (already pruned by
 * training or by the routines above): a layer goes grouped (or CSR for the baselines) only
 * when its pruning rate is above the break-even of its kernel on hw; otherwise it stays dense.
 * SCALPEL_PLAN_SCALPEL applies the class rules: LOW grouped weight pruning on FC and CONV;
 * MODERATE node pruning on CONV (dense) and grouped on FC; HIGH node pruning everywhere. */
SCALPEL_API scalpel_status scalpel_plan_net(const scalpel_net *net, const scalpel_hw_profile *hw,
                                            scalpel_plan_mode mode, scalpel_plan *out);
#ifndef SCALPEL_NO_MALLOC
/* Converts each layer of net in place to the storage the plan chose (dense <-> grouped CSR,
 * any G). The result computes the same outputs (within float rounding order). */
SCALPEL_API scalpel_status scalpel_net_pack(scalpel_net *net, const scalpel_plan *plan);
#endif

/* ======================================================================================== */
/* >>export and import                                                                        */
/* ======================================================================================== */

#ifndef SCALPEL_NO_MALLOC
/* Writes a C header to `path` defining `static const` arrays (aligned to 16 bytes) and
 * `static const scalpel_net <name>`: a ready network that runs with no allocation at all
 * (`#include "scalpel.h"` first). name must be a C identifier. Written through a temporary
 * file and renamed, like scalpel_net_save. */
SCALPEL_API scalpel_status scalpel_net_export_c(const scalpel_net *net, const char *name,
                                                const char *path);
#endif

/* scalpel_safetensors_tensor: one tensor of a safetensors file, as scalpel_safetensors_find
 * reports it. `data` points into the file's bytes. */
typedef struct scalpel_safetensors_tensor {
    char name[128];
    int32_t dtype;           /* SCALPEL_ST_F32, SCALPEL_ST_F16 or SCALPEL_ST_BF16 */
    int32_t ndim;            /* 0 .. 4 */
    int64_t shape[4];
    int64_t count;           /* elements */
    const uint8_t *data;     /* count * element size bytes, little-endian */
} scalpel_safetensors_tensor;

#define SCALPEL_ST_F32 0
#define SCALPEL_ST_F16 1
#define SCALPEL_ST_BF16 2

/* Checks a whole safetensors file data[size] (8-byte header length, JSON header, data) and
 * finds the tensor called `name`. SCALPEL_ERR_ARGUMENT if absent; SCALPEL_ERR_TRUNCATED when the
 * buffer ends before the header or data it announces; SCALPEL_ERR_CORRUPT for any other
 * malformed header (bad JSON, offsets overlapping or leaving gaps, shape/offset mismatch,
 * duplicate names); SCALPEL_ERR_UNSUPPORTED when the tensor is not F32/F16/BF16, has more than
 * 4 dimensions or a name over 127 bytes, or the file has more than 16384 tensors. */
SCALPEL_API scalpel_status scalpel_safetensors_find(const void *data, size_t size, const char *name,
                                                    scalpel_safetensors_tensor *out);
/* out[count] = the tensor's elements converted to float (F16, BF16 widened exactly). */
SCALPEL_API scalpel_status scalpel_safetensors_read_f32(const scalpel_safetensors_tensor *t, float *out,
                                                        int64_t count);
/* Fills the weights and biases of net's weighted layers (in order) from tensors named
 * "<prefix>.weight" ([out, in] or [out, in, k, k]) and "<prefix>.bias" ([out], optional:
 * zero when absent). prefixes[i] names the i-th weighted layer; with prefixes == NULL the
 * file's "*.weight" tensors are taken in natural name order ("fc1" < "fc2" < "fc10",
 * "0" < "2" < "10"; n_prefixes must then be 0). Shapes must match the layers exactly. Layers
 * become dense copies. All or nothing: on failure net is unchanged. A missing tensor or a
 * non-finite value gives SCALPEL_ERR_ARGUMENT, a shape mismatch SCALPEL_ERR_SHAPE. */
#ifndef SCALPEL_NO_MALLOC
SCALPEL_API scalpel_status scalpel_net_import_safetensors(scalpel_net *net, const void *data, size_t size,
                                                          const char *const *prefixes, int32_t n_prefixes);
#endif

#ifdef __cplusplus
}
#endif

#endif /* SCALPEL_H */

/* >>implementation: the format and kernel modules are implemented in their own headers
 * (switched on by SCALPEL_IMPLEMENTATION through the includes above); this module's parts
 * follow. */
#if defined(SCALPEL_IMPLEMENTATION) && !defined(SCALPEL_NET_IMPLEMENTATION)
#define SCALPEL_NET_IMPLEMENTATION
#endif

#if defined(SCALPEL_NET_IMPLEMENTATION) && !defined(SCALPEL__NET_IMPLEMENTATION_DONE)
#define SCALPEL__NET_IMPLEMENTATION_DONE
#include "parts/net.h"
#include "parts/netfile.h"
#include "parts/prune.h"
#include "parts/hw.h"
#include "parts/export.h"
#include "parts/safetensors.h"
#endif

/*
 * LICENCE: MIT. Copyright (c) 2026 the Scalpel authors. See the end of scalpel_format.h.
 */
