/* scalpel.h - Scalpel: pruned neural networks that actually run faster and smaller.
 *
 * The umbrella header and the network module. It includes, in dependency order:
 *   scalpel_format.h   status codes, allocator hooks, the grouped-CSR, N:M and hybrid formats,
 *                      serialization
 *   scalpel_kernels.h  dense and grouped-sparse fp32 kernels (SIMDe / Helium / plain C), q15 / q7
 *                      kernels (Cortex-M DSP / Helium / plain C), im2col and im2row
 * and adds (grep for the ">>" markers):
 *   >>layer kinds       the one table of layer kinds (SCALPEL__LAYER_KINDS), then one
 *                       ">>layer NAME" section per kind: fc, conv2d, maxpool, relu
 *   >>networks          scalpel_net: layers of any kind, any number, reading any earlier
 *                       tensor; dense or grouped-CSR weights; a forward pass that allocates
 *                       nothing; softmax and argmax
 *   >>model files       versioned, checksummed model files: save, load, zero-copy view
 *   >>pruning           magnitude and SIMD-aware group pruning over dense weights and masks;
 *                       node removal into a smaller dense network; dead-node removal (rows
 *                       left with no weight go, their constants folded into the next bias)
 *   >>hardware profiles cortex-m4 ... cuda: class, G, data type, break-even pruning rates;
 *                       calibration on the running machine
 *   >>planner           per-layer technique and storage (Scalpel, Traditional, Optimized),
 *                       scalpel_net_pack
 *   >>decomposition     TASD series of N:M terms, the exact grouped + CSR hybrid in networks,
 *                       the no-retrain planner (scalpel_plan_no_retrain)
 *   >>quantization      fixed-point (q15 / q7) networks: calibrated quantization of a float
 *                       network, an integer forward pass, C-header export for firmware
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
 *         for (i = 0; i < 300 * 784; i++) w1[i] = (i / 16 % 10 == 0) ? 0.01f : 0.0f; // 90% pruned
 *         for (i = 0; i < 10 * 300; i++) w2[i] = 0.001f * (float)(i % 7);
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
 *         printf("%s: fc1 %s, y[0] = %g, %lu weight bytes\n", hw.name,
 *                plan.layers[0].storage == SCALPEL_STORAGE_GCSR ? "grouped" : "dense",
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
 *   SCALPEL_NO_POSIX_FILES   files through ISO C stdio only, even on POSIX systems (no
 *                            file-type check, exclusive creation or fsync: "files" in
 *                            scalpel_format.h)
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
 *   Files: regular files only in, a temporary file renamed over OUT out, errors that say why
 *   (SCALPEL_ERR_NOT_FOUND, _PERMISSION, _NOT_REGULAR, _NO_SPACE): "files" in scalpel_format.h.
 *
 * DOES NOT
 *   train (scalpel_train.h), run on GPUs (scalpel_cuda.cu), use threads, keep global state,
 *   or store fixed-point networks in model files (quantize a float model when you export it
 *   for firmware: scalpel_qnet_quantize, then scalpel_qnet_export_c).
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
/* >>networks                                                                               */
/* ======================================================================================== */

/* The most layers a model file holds (and a plan, a trainer or a pruning driver takes: their
 * per-layer arrays are this long). Networks in memory have no limit of their own: their
 * layers live in an array the network points to and grows. 256 holds every network of the
 * MLPerf Tiny suite and a 200-layer network with room to spare. */
#define SCALPEL_NET_MAX_LAYERS 256
/* Largest batch scalpel_net.packed_batch records (the CLI's --batch limit). */
#define SCALPEL_NET_MAX_PACKED_BATCH 65536

/* scalpel_layer_kind: what a layer computes. Written to model files: numbers are fixed and
 * only appended. Each kind has one line in SCALPEL__LAYER_KINDS below, which generates every
 * per-kind table of the library (">>layer kinds" in the implementation); SCALPEL_LAYER_COUNT
 * sizes them, and a table that misses a kind does not compile. */
typedef enum scalpel_layer_kind {
    SCALPEL_LAYER_FC = 1,         /* y[outputs] = W[outputs x inputs] . x + b (implicit flatten) */
    SCALPEL_LAYER_CONV2D = 2,     /* per group: W[out_c/g x in_c/g*kh*kw] . im2col(x) + b; depthwise
                                     when groups = in_c */
    SCALPEL_LAYER_MAXPOOL = 3,    /* max over kh x kw windows, stride, padding, floor or ceil */
    SCALPEL_LAYER_RELU = 4,       /* y = max(x, 0) */
    SCALPEL_LAYER_AVGPOOL = 5,    /* mean over kh x kw windows (global: the whole map), pads counted
                                     or not */
    SCALPEL_LAYER_BATCHNORM = 6,  /* y[c] = x[c] * scale[c] + shift[c] (inference batch norm) */
    SCALPEL_LAYER_ADD = 7,        /* y = x + other (same shape): residual joins */
    SCALPEL_LAYER_CONCAT = 8,     /* y = [x ; other] along channels (same H x W) */
    SCALPEL_LAYER_CLIP = 9,       /* y = min(max(x, lo), hi); relu6 is clip(0, 6) */
    SCALPEL_LAYER_LEAKY_RELU = 10,/* y = x > 0 ? x : slope * x */
    SCALPEL_LAYER_SIGMOID = 11,   /* y = 1 / (1 + exp(-x)) */
    SCALPEL_LAYER_TANH = 12,      /* y = tanh(x) */
    SCALPEL_LAYER_HARDSWISH = 13, /* y = x * clip(x + 3, 0, 6) / 6 */
    SCALPEL_LAYER_SOFTMAX = 14,   /* softmax over the channels at each position */
    SCALPEL_LAYER_LRN = 15,       /* local response normalization, across or within channels */
    SCALPEL_LAYER_COUNT           /* one past the last kind: the length of every per-kind table */
} scalpel_layer_kind;

/* The kinds, one line each: NAME (the prefix of its functions in the >>layer NAME sections of
 * scalpel.h, scalpel_train.h and scalpel_cuda.cu), its scalpel_layer_kind, W: weighted (has W
 * and b), F: fuses_relu (runs a following ReLU in its own output pass), PC: per-channel
 * parameters (floats per channel it stores: batchnorm's scale and shift), then what takes it
 * besides the float forward pass: Q fixed point (scalpel_qnet), T training in C
 * (scalpel_train.h), GPU (scalpel_cuda.cu), NR node removal, each 0 or 1; last, sample
 * parameters (outputs, kernel, stride, pad) that make a valid layer after a [3 x 8 x 8] input.
 * Every per-kind table of the library is generated from this list; its order must be the
 * enum's (checked below), and a kind missing here, or a function missing for a kind listed
 * (with its flag set), does not compile. A conv2d or maxpool layer using what the first
 * version of the library did not have (non-square kernels or strides, uneven padding,
 * dilation, groups, ceil rounding) is taken only by the float forward pass, fixed point and
 * node removal for now, whatever its kind's flags say (scalpel_layer_supports). Softmax and
 * LRN have no fixed point: their outputs need a division or a power per value at a precision
 * 8 or 16 bits do not hold (drop a final softmax: the argmax of the logits is the same). */
#define SCALPEL__LAYER_KINDS(X)                                               \
    X(fc, SCALPEL_LAYER_FC, 1, 1, 0, 1, 1, 1, 1, 10, 0, 0, 0)                \
    X(conv2d, SCALPEL_LAYER_CONV2D, 1, 1, 0, 1, 1, 1, 1, 4, 3, 1, 1)         \
    X(maxpool, SCALPEL_LAYER_MAXPOOL, 0, 0, 0, 1, 1, 1, 1, 0, 2, 2, 0)       \
    X(relu, SCALPEL_LAYER_RELU, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0)             \
    X(avgpool, SCALPEL_LAYER_AVGPOOL, 0, 0, 0, 1, 0, 0, 1, 0, 3, 2, 1)       \
    X(batchnorm, SCALPEL_LAYER_BATCHNORM, 0, 0, 2, 1, 0, 0, 1, 0, 0, 0, 0)   \
    X(add, SCALPEL_LAYER_ADD, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0)               \
    X(concat, SCALPEL_LAYER_CONCAT, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0)         \
    X(clip, SCALPEL_LAYER_CLIP, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0)             \
    X(leaky_relu, SCALPEL_LAYER_LEAKY_RELU, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0) \
    X(sigmoid, SCALPEL_LAYER_SIGMOID, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0)       \
    X(tanh, SCALPEL_LAYER_TANH, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0)             \
    X(hardswish, SCALPEL_LAYER_HARDSWISH, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0)   \
    X(softmax, SCALPEL_LAYER_SOFTMAX, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0)       \
    X(lrn, SCALPEL_LAYER_LRN, 0, 0, 0, 0, 0, 0, 1, 0, 3, 0, 0)

#define SCALPEL__KIND_POSITION(NAME, KIND, W, F, PC, Q, T, GPU, NR, O, K, S, P) scalpel__kind_position_##NAME,
enum scalpel__kind_positions { scalpel__kind_position_none, SCALPEL__LAYER_KINDS(SCALPEL__KIND_POSITION) scalpel__kind_position_end };
#define SCALPEL__KIND_CHECK(NAME, KIND, W, F, PC, Q, T, GPU, NR, O, K, S, P)                                           \
    typedef char scalpel__kind_check_##NAME[((int)(KIND) == (int)scalpel__kind_position_##NAME) ? 1 : -1];
SCALPEL__LAYER_KINDS(SCALPEL__KIND_CHECK)
typedef char scalpel__kind_count_check[((int)scalpel__kind_position_end == (int)SCALPEL_LAYER_COUNT) ? 1 : -1];
#undef SCALPEL__KIND_POSITION
#undef SCALPEL__KIND_CHECK

/* scalpel_layer_geom: what a layer is, apart from its weights: kind, shapes, the parameters of
 * its operator, and which tensors it reads. The float layer (scalpel_layer), the fixed-point
 * layer (scalpel_qlayer) and the GPU's copy all start with this one struct, and the shape
 * rules, the workspace planner, the model files and the C export read it, whatever the number
 * type.
 *
 * Shapes are per sample, CHW. The weight matrix of a weighted layer is W [rows = outputs or
 * out_channels] x [cols = inputs, or in_c/groups*kernel_h*kernel_w]; rows = cols = 0 for an
 * unweighted layer. Parameters a kind does not use are 0.
 *
 * Windows (conv2d, maxpool, avgpool; lrn's size): kernel_h x kernel_w, stride_h / stride_w,
 * zero (or, for max pooling, -infinity) padding pad_top / pad_left / pad_bottom / pad_right,
 * dilation_h / dilation_w (conv2d; 1 otherwise), groups (conv2d; 1 otherwise). The output
 * height is floor((H + pad_top + pad_bottom - ((kernel_h - 1) * dilation_h + 1)) / stride_h) + 1,
 * and with SCALPEL_POOL_CEIL rounded up instead, less one when the last window would start in
 * the bottom padding (PyTorch's and Caffe's rule); the width likewise. `kernel`, `stride` and
 * `pad` repeat the window when it is square, even and plain (kernel_h == kernel_w, stride_h ==
 * stride_w, four equal pads, dilation 1, groups 1, no mode flags), and are 0 otherwise: the
 * first version's fields, which code built for square windows reads. Building a layer from
 * them alone (kernel_h == 0) fills the general fields from them.
 *
 * mode holds flags of the kind (SCALPEL_POOL_*, SCALPEL_LRN_*); alpha, beta, k its real
 * parameters: clip's lo and hi (alpha, beta), leaky_relu's slope (alpha), lrn's alpha, beta
 * and k.
 *
 * Tensors of a network: tensor 0 is the network input, tensor i + 1 the output of layer i.
 * `from` says which tensor layer i reads, counted backwards: 0 (the default) reads tensor i,
 * the one just before (the previous layer's output, or the network input for layer 0); k > 0
 * reads tensor i - k (k = i: the network input). Set it with scalpel_net_set_next_input before
 * appending a layer. Layer shapes follow the tensor they read. `from2` is the second tensor
 * of the kinds that read two (add, concat), counted the same way; 0 for the others. */
typedef struct scalpel_layer_geom {
    int32_t kind;                 /* scalpel_layer_kind */
    int32_t in_c, in_h, in_w;     /* input shape per sample (the first input's) */
    int32_t out_c, out_h, out_w;  /* output shape per sample */
    int32_t kernel, stride, pad;  /* the window when square, even and plain; 0 otherwise */
    int32_t rows, cols;           /* weight matrix shape; 0 for unweighted layers */
    int32_t from;                 /* tensors back from the previous one; default: 0 */
    int32_t kernel_h, kernel_w;   /* window: conv2d, maxpool, avgpool; lrn: size x size */
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left, pad_bottom, pad_right;
    int32_t dilation_h, dilation_w;  /* conv2d; 1 for the pools; 0 otherwise */
    int32_t groups;               /* conv2d: in_c and out_c are multiples; 0 otherwise */
    int32_t mode;                 /* flags of the kind: SCALPEL_POOL_*, SCALPEL_LRN_* */
    int32_t from2;                /* add, concat: the second tensor, counted like from */
    float alpha, beta, k;         /* clip lo / hi, leaky_relu slope, lrn alpha / beta / k */
} scalpel_layer_geom;

/* Flags of scalpel_layer_geom.mode. */
#define SCALPEL_POOL_CEIL 1            /* maxpool, avgpool: round the output size up (Caffe) */
#define SCALPEL_POOL_COUNT_PADS 2      /* avgpool: divide by the window including its padding
                                          (PyTorch's count_include_pad, Caffe); else by the cells
                                          inside the input (TensorFlow "same", ONNX's default) */
#define SCALPEL_LRN_WITHIN_CHANNEL 1   /* lrn: a size x size square of one channel (Caffe
                                          WITHIN_CHANNEL); else `size` neighbouring channels */

/* scalpel_window: the window of a convolution or a pooling layer, for
 * scalpel_net_add_conv2d_ex, scalpel_net_add_maxpool_ex and scalpel_net_add_avgpool. Start
 * from scalpel_window_square(kernel, stride, pad) and change what differs. dilation and
 * groups are conv2d's (1 for pools); mode takes SCALPEL_POOL_* for pools (0 for conv2d). */
typedef struct scalpel_window {
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left, pad_bottom, pad_right;
    int32_t dilation_h, dilation_w;
    int32_t groups;
    int32_t mode;
} scalpel_window;

/* scalpel_storage: how a weighted layer keeps its weights. Written to model files. */
typedef enum scalpel_storage {
    SCALPEL_STORAGE_DENSE = 0,  /* w: [rows x cols] row-major floats */
    SCALPEL_STORAGE_GCSR = 1,   /* sparse: grouped CSR with any G (G = 1 is plain CSR) */
    SCALPEL_STORAGE_HYBRID = 2, /* sparse (grouped, G >= 2) + residual (CSR): the exact hybrid */
    SCALPEL_STORAGE_TASD = 3    /* series: a sum of N:M terms (TASD), exact or approximate */
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
 * layer. Two storages come from the no-retrain planner (">>decomposition"): HYBRID keeps
 * W = sparse (grouped) + residual (CSR); TASD keeps W ~ the N:M terms of *series. Model files
 * hold them (format version 4) and the forward pass runs them; C export, quantization, the
 * GPU, training and the Scalpel planner refuse them with SCALPEL_ERR_UNSUPPORTED. Unweighted
 * layers (maxpool, relu) have rows = cols = 0 and no arrays.
 * `block` is the memory this layer owns (NULL when it points into a view, an exported header
 * or your arrays); scalpel_net_free releases it. A batch normalization layer keeps its
 * per-channel scale and shift in `params` (in `block` too). */
typedef struct scalpel_layer {
    scalpel_layer_geom geom;      /* kind, shapes, the tensor read */
    int32_t storage;              /* scalpel_storage */
    const float *w;               /* dense weights [rows x cols] when storage is DENSE, else NULL */
    scalpel_gcsr sparse;          /* the weights when storage is GCSR, else zeroed */
    const float *b;               /* bias [rows] */
    void *block;                  /* owned memory behind w and b, or NULL */
    scalpel_gcsr residual;        /* the CSR residual when storage is HYBRID, else zeroed */
    scalpel_tasd *series;         /* the N:M series when storage is TASD, else NULL */
    const float *params;          /* per-channel parameters of an unweighted kind, [PC x out_c]
                                     (batchnorm: scale, then shift), or NULL */
} scalpel_layer;

/* scalpel_input_norm: the preprocessing the model's inputs got in training, as a framework's
 * data pipeline did it (torchvision's ToTensor, then Normalize(mean, std)). The model takes
 * raw inputs x in [0, range] (range 1: ToTensor's scale; 255: bytes) and its layers compute
 * (x / range - mean[c]) / std[c] for each input channel c themselves:
 *   where FOLDED: folded into layer 0's weights and bias (exact when layer 0 is a dense fc, or
 *                 a conv2d without padding, reading the input);
 *   where LAYER:  layer 0 is a batchnorm doing it (scale 1 / (range std), shift -mean / std).
 * The record says what was done, for `info`, for the tools that feed the model data in [0, 1]
 * (they scale it to [0, range]) and for the model file; the forward pass never reads it.
 * channels: 1 (one mean and std for every channel) or in_c, at most
 * SCALPEL_INPUT_NORM_MAX_CHANNELS (images: gray, RGB, RGBA). All zero: nothing recorded. */
#define SCALPEL_INPUT_NORM_MAX_CHANNELS 4
typedef enum scalpel_input_norm_where {
    SCALPEL_INPUT_NORM_NONE = 0,
    SCALPEL_INPUT_NORM_FOLDED = 1,
    SCALPEL_INPUT_NORM_LAYER = 2
} scalpel_input_norm_where;
typedef struct scalpel_input_norm {
    int32_t where;                                  /* scalpel_input_norm_where */
    int32_t channels;                               /* values in mean and std: 1 or in_c */
    float range;                                    /* raw inputs lie in [0, range] (> 0) */
    float mean[SCALPEL_INPUT_NORM_MAX_CHANNELS];    /* finite */
    float std[SCALPEL_INPUT_NORM_MAX_CHANNELS];     /* finite, > 0 */
} scalpel_input_norm;

/* scalpel_net: a network of layers run in order, caller-allocated (on the stack, static, or
 * inside your own struct). scalpel_net_init makes an empty one for a given input shape;
 * scalpel_net_add_* appends layers (copying weights into memory the network owns);
 * scalpel_net_load and scalpel_net_view read model files; an exported C header defines a
 * ready `static const` one. Release with scalpel_net_free (safe on a zeroed or failed-to-load
 * struct).
 *
 * Layers live in the array `layers` points to, `n_layers` of them. scalpel_net_add_* grows
 * an array the network owns (doubling, through SCALPEL_MALLOC), so a network has no length
 * limit of its own. Without an allocator (SCALPEL_NO_MALLOC) give it room with
 * scalpel_net_use_layers. Copying the struct copies the pointer, not the layers: use
 * scalpel_net_clone for a copy you can change.
 *
 * Memory: `alloc_ctx` is passed to SCALPEL_MALLOC / SCALPEL_FREE for everything this network
 * allocates (default NULL; set it right after scalpel_net_init). `block` is a whole model file
 * the network owns (scalpel_net_load), or NULL. A view (scalpel_net_view) or an exported
 * network owns nothing and points into your bytes: keep them alive and unchanged. */
typedef struct scalpel_net {
    int32_t in_c, in_h, in_w;    /* input shape per sample (CHW) */
    int32_t n_layers;            /* layers used in `layers` */
    scalpel_layer *layers;       /* [n_layers], or NULL when there are none */
    int32_t capacity;            /* layers `layers` has room for (0: not to be appended to) */
    int32_t owns_layers;         /* 1: `layers` was allocated by the library and is freed with
                                    the network; 0: yours, a view's or an exported header's */
    int32_t next_from;           /* `from` of the next layer appended; default: 0 (previous) */
    void *block;                 /* owned model-file copy, or NULL */
    void *alloc_ctx;             /* for SCALPEL_MALLOC / SCALPEL_FREE */
    scalpel_input_norm input_norm; /* the inputs' preprocessing, done by the layers (see above) */
    int32_t packed_batch;        /* the batch scalpel_net_pack planned the storage for (the
                                    profile's batch); 0: not recorded */
} scalpel_net;

/* An empty network taking inputs of shape [channels x height x width] (CHW). No allocation. */
SCALPEL_API scalpel_status scalpel_net_init(int32_t channels, int32_t height, int32_t width,
                                            scalpel_net *net);
/* Gives net your array layers[capacity] for its layers (the ones it has are moved in), so
 * that scalpel_net_add_* work without an allocator (SCALPEL_NO_MALLOC); an append past
 * capacity fails with SCALPEL_ERR_NO_MEMORY. The array must outlive the network. */
SCALPEL_API scalpel_status scalpel_net_use_layers(scalpel_net *net, scalpel_layer *layers, int32_t capacity);
/* The next layer appended reads the output of layer `layer` (-1: the network input) instead
 * of the output just before it; its shapes follow that tensor. Applies to one append. */
SCALPEL_API scalpel_status scalpel_net_set_next_input(scalpel_net *net, int32_t layer);
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
/* Appends a layer of any kind from the kind table: outputs (the rows of a weighted kind, 0
 * otherwise), kernel, stride and pad as that kind's rules take them (unused ones 0; lrn's size
 * in kernel), w and b as scalpel_net_add_fc takes them for a weighted kind (copied; NULL:
 * zeros), a batch norm's scale and shift (NULL: 1 and 0), and NULL for the others. Kinds with
 * real parameters get defaults (clip 0..6, leaky_relu 0.01, lrn alpha 1e-4, beta 0.75, k 1);
 * add and concat read the same tensor twice. What the scalpel_net_add_<kind> functions do, for code that copies layers of every
 * kind (scalpel_net_add_layer(net, L->geom.kind, ...)). */
SCALPEL_API scalpel_status scalpel_net_add_layer(scalpel_net *net, int32_t kind, int32_t outputs, int32_t kernel,
                                                 int32_t stride, int32_t pad, const float *w, const float *b);
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

/* ---- the operators of real networks (MLPerf Tiny, ConvNet, NIN, AlexNet, MobileNet) ---------- */

/* The window {kernel x kernel, stride, pad on every side, dilation 1, groups 1, mode 0}. */
SCALPEL_API scalpel_window scalpel_window_square(int32_t kernel, int32_t stride, int32_t pad);
#ifndef SCALPEL_NO_MALLOC
/* y[out_c x OH x OW] = conv(x[C x H x W], w[out_c x C/groups x kernel_h x kernel_w]) + b[out_c]
 * with window win (scalpel_layer_geom gives OH and OW). groups divides C and out_c: output
 * channel o reads input channels [g*C/groups, (g+1)*C/groups) with g = o / (out_c/groups);
 * groups == C is a depthwise convolution (out_c = C * multiplier). Every pad < the dilated
 * kernel. w and b are copied; NULL gives zeros. */
SCALPEL_API scalpel_status scalpel_net_add_conv2d_ex(scalpel_net *net, int32_t out_channels, const scalpel_window *win,
                                                     const float *w, const float *b);
/* y[C] = x[C] * scale[C] + shift[C] per channel, from the statistics of a trained batch norm:
 * scale = gamma / sqrt(var + eps), shift = beta - mean * scale (mean, var, gamma, beta: [C];
 * NULL gamma: ones, NULL beta: zeros; mean and var required). A batch norm right after a
 * convolution or fully connected layer is folded into it by scalpel_net_fold_batchnorm; one
 * elsewhere (after a ReLU, after an add) runs as this layer. */
SCALPEL_API scalpel_status scalpel_net_add_batchnorm(scalpel_net *net, const float *mean, const float *var,
                                                     const float *gamma, const float *beta, float eps);
/* The same from the folded per-channel scale[C] and shift[C] (copied). */
SCALPEL_API scalpel_status scalpel_net_add_batchnorm_affine(scalpel_net *net, const float *scale, const float *shift);
#endif
/* y[C x OH x OW] = max over windows of x (padding is -infinity: never the maximum). win's
 * dilation and groups must be 1; mode may have SCALPEL_POOL_CEIL. */
SCALPEL_API scalpel_status scalpel_net_add_maxpool_ex(scalpel_net *net, const scalpel_window *win);
/* y[C x OH x OW] = mean over windows of x: the sum over the cells inside the input, divided
 * by the window's cells inside the input, or with SCALPEL_POOL_COUNT_PADS by the window's
 * cells inside the padded input (PyTorch count_include_pad). mode may have SCALPEL_POOL_CEIL. */
SCALPEL_API scalpel_status scalpel_net_add_avgpool(scalpel_net *net, const scalpel_window *win);
/* y[C x 1 x 1] = the mean of each channel: avgpool with the whole map as its window. */
SCALPEL_API scalpel_status scalpel_net_add_global_avgpool(scalpel_net *net);
/* y = x + (the output of layer `other`; -1: the network input), same shape. x is the tensor
 * the layer reads as usual (the previous output, or scalpel_net_set_next_input's). A ReLU
 * appended right after runs inside the add's pass. */
SCALPEL_API scalpel_status scalpel_net_add_add(scalpel_net *net, int32_t other);
/* y[C1 + C2 x H x W] = x[C1 x H x W] then (the output of layer `other`)[C2 x H x W]. */
SCALPEL_API scalpel_status scalpel_net_add_concat(scalpel_net *net, int32_t other);
/* y = min(max(x, lo), hi), lo <= hi finite. */
SCALPEL_API scalpel_status scalpel_net_add_clip(scalpel_net *net, float lo, float hi);
/* y = min(max(x, 0), 6). */
SCALPEL_API scalpel_status scalpel_net_add_relu6(scalpel_net *net);
/* y = x > 0 ? x : slope * x, slope finite. */
SCALPEL_API scalpel_status scalpel_net_add_leaky_relu(scalpel_net *net, float slope);
/* Elementwise: y = 1 / (1 + exp(-x)); y = tanh(x); y = x * min(max(x + 3, 0), 6) / 6. */
SCALPEL_API scalpel_status scalpel_net_add_sigmoid(scalpel_net *net);
SCALPEL_API scalpel_status scalpel_net_add_tanh(scalpel_net *net);
SCALPEL_API scalpel_status scalpel_net_add_hardswish(scalpel_net *net);
/* y[c][p] = exp(x[c][p]) / sum over c' of exp(x[c'][p]) at each position p (PyTorch's
 * Softmax(dim=1)); on an fc output ([N x 1 x 1]) the usual softmax over the N values. */
SCALPEL_API scalpel_status scalpel_net_add_softmax(scalpel_net *net);
/* Local response normalization with Caffe's parameters (size odd >= 1, alpha, beta, k > 0):
 *   across channels (mode 0, AlexNet): y = x / (k + alpha/size * sum of x^2 over the `size`
 *     channels centred on x's, those past the ends left out)^beta;
 *   within a channel (SCALPEL_LRN_WITHIN_CHANNEL, cuda-convnet's ConvNet): the sum is over the
 *     size x size square centred on x, zero outside the map, and alpha is divided by size^2
 *     (Caffe's WITHIN_CHANNEL takes k = 1). */
SCALPEL_API scalpel_status scalpel_net_add_lrn(scalpel_net *net, int32_t size, float alpha, float beta, float k,
                                               int32_t mode);
#ifndef SCALPEL_NO_MALLOC
/* *out = net with every batch norm that directly follows a convolution or fully connected
 * layer (and that nothing else reads around) folded into that layer's weights and bias:
 * W'[o] = W[o] * scale[o], b'[o] = b[o] * scale[o] + shift[o]. The layers after it are
 * renumbered (their from / from2 still name the same tensors). Exact up to float rounding;
 * *folded (may be NULL) gets the number folded. Sparse weighted layers stay sparse.
 * net is unchanged; free *out. */
SCALPEL_API scalpel_status scalpel_net_fold_batchnorm(const scalpel_net *net, scalpel_net *out, int32_t *folded);
#endif

/* What takes a layer besides the float forward pass, for scalpel_layer_supports. */
typedef enum scalpel_layer_use {
    SCALPEL_USE_FIXED_POINT = 1,   /* scalpel_qnet_quantize and the fixed-point forward */
    SCALPEL_USE_TRAINING = 2,      /* the trainer of scalpel_train.h */
    SCALPEL_USE_GPU = 3,           /* scalpel_cuda_net_upload */
    SCALPEL_USE_NODE_REMOVAL = 4   /* scalpel_net_remove_nodes, scalpel_net_remove_dead_nodes */
} scalpel_layer_use;
/* 1 when `use` takes a layer of geometry g, 0 when not (yet): its kind is not in that part of
 * the library, or it is a conv2d / maxpool with what only the float forward pass, fixed point
 * and node removal run so far (a non-square kernel or stride, uneven padding, dilation,
 * groups, ceil rounding) and `use` is training or the GPU. */
SCALPEL_API int scalpel_layer_supports(const scalpel_layer_geom *g, int32_t use);
/* The first layer of net that `use` does not take, or -1 when it takes them all (and for a
 * NULL network). Those parts of the library refuse such a network with SCALPEL_ERR_UNSUPPORTED;
 * this names the layer to tell the user. */
SCALPEL_API int32_t scalpel_net_first_unsupported(const scalpel_net *net, int32_t use);

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
 * plus biases and the per-channel parameters of batch norms. What the model costs in memory,
 * honestly. */
SCALPEL_API size_t scalpel_net_weight_bytes(const scalpel_net *net);
/* Multiply-accumulates per sample actually executed by layer i (stored weights x positions):
 * a sparse layer counts its stored groups' values, not the dense count. */
SCALPEL_API int64_t scalpel_layer_macs(const scalpel_layer *layer);
/* 1 when some layer of net is stored HYBRID or TASD (storages that C export, quantization, the
 * GPU, training and the Scalpel planner do not take; model files hold them from version 4),
 * else 0. */
SCALPEL_API int scalpel_net_has_decomposed(const scalpel_net *net);
/* "fc", "conv2d", "maxpool", "relu" or "?" */
SCALPEL_API const char *scalpel_layer_kind_name(int32_t kind);

/* scalpel_layer_kind_desc: what the library's kind table says of one kind, for tools and
 * tests that go over every kind (for kind = 1; kind < SCALPEL_LAYER_COUNT; kind++).
 * outputs, kernel, stride and pad are sample parameters that make a valid layer of the kind
 * after an input of [3 x 8 x 8]. */
typedef struct scalpel_layer_kind_desc {
    const char *name;      /* as scalpel_layer_kind_name */
    int32_t weighted;      /* 1: has weights W [rows x cols] and a bias [rows] */
    int32_t fuses_relu;    /* 1: a ReLU right after it runs inside its output pass */
    int32_t outputs, kernel, stride, pad;
} scalpel_layer_kind_desc;
/* Fills *out for kind; SCALPEL_ERR_ARGUMENT (and a zeroed *out) for a number that is no kind. */
SCALPEL_API scalpel_status scalpel_layer_kind_info(int32_t kind, scalpel_layer_kind_desc *out);
/* out = the layer of geometry g applied to one sample in, computed plainly from the kind's
 * definition (in double where it sums), with dense weights w [rows x cols] and bias b [rows]
 * (NULL for unweighted kinds): the oracle the forward passes are tested against. g must be
 * consistent (shapes as its kind's rules give them). */
SCALPEL_API scalpel_status scalpel_layer_forward_ref(const scalpel_layer_geom *g, const float *w, const float *b,
                                                     const float *in, float *out);
/* out = layer L applied to one sample: in (and in2, the second input of add and concat; NULL
 * otherwise), computed plainly from the kind's definition in double where it sums, with L's
 * dense weights, bias and per-channel parameters. What the tests compare every forward pass
 * with; scalpel_layer_forward_ref is this for the kinds without parameters or second input. */
SCALPEL_API scalpel_status scalpel_layer_ref(const scalpel_layer *L, const float *in, const float *in2, float *out);

/* Release everything the network owns and zero it. Safe on NULL and on a zeroed struct. */
SCALPEL_API void scalpel_net_free(scalpel_net *net);

/* x[n] = softmax(x[n]) in place, numerically stable (max subtracted). n >= 1. */
SCALPEL_API void scalpel_softmax_f32(float *x, int32_t n);
/* Index of the largest x[i] (the first on ties), -1 when n < 1. */
SCALPEL_API int32_t scalpel_argmax_f32(const float *x, int32_t n);

/* ======================================================================================== */
/* >>model files                                                                            */
/* ======================================================================================== */

/* Model file format version 2 (every field little-endian; see the implementation section
 * ">>model files" for the byte layout). Magic "SCPN". Arrays start on 64-byte boundaries so
 * that a view of a 64-byte-aligned buffer (flash, mmap) keeps the kernels' alignment. Version
 * 2 adds to each layer record the tensor it reads (scalpel_layer_geom.from); the readers take
 * version 1 files too (every layer then reads the one before). The writer writes version 2.
 * A file holds at most SCALPEL_NET_MAX_LAYERS layers. Version 4 also holds HYBRID and TASD
 * layers (the no-retrain planner's storages); the writer uses it only for networks that have
 * them (or version 4's header fields), so other files stay readable by older readers. */
#define SCALPEL_NET_MAGIC "SCPN"
#define SCALPEL_NET_FORMAT_VERSION 4

/* Exact size of the model file for net (0 if net is invalid). */
SCALPEL_API size_t scalpel_net_serialized_size(const scalpel_net *net);
/* Writes net into buf[capacity]; *written = bytes used. Validates net first. */
SCALPEL_API scalpel_status scalpel_net_serialize(const scalpel_net *net, void *buf, size_t capacity,
                                                 size_t *written);
/* A network pointing into data[size] (zero-copy: flash, mmap): the weights stay in data, the
 * layer structs go into layers[capacity] (yours; SCALPEL_ERR_BUFFER_TOO_SMALL when the file
 * has more layers). Allocates nothing: the firmware way to read a model file. data must be
 * 4-byte aligned and stay alive and unchanged, like layers. Hostile-safe: any byte sequence
 * gives a valid network or an error (and a zeroed *net). A TASD layer (version 4) is refused
 * with SCALPEL_ERR_UNSUPPORTED: it points to a scalpel_tasd struct, which would need memory
 * (scalpel_net_view and scalpel_net_load take it); HYBRID layers view in place like the rest. */
SCALPEL_API scalpel_status scalpel_net_view_with(const void *data, size_t size, scalpel_layer *layers,
                                                 int32_t capacity, scalpel_net *net);
#ifndef SCALPEL_NO_MALLOC
/* The same with the layer structs in an array the network allocates, and one scalpel_tasd
 * struct per TASD layer (released by scalpel_net_free); the weights stay in data. */
SCALPEL_API scalpel_status scalpel_net_view(const void *data, size_t size, scalpel_net *net);
/* Writes the model to `path` through a temporary file renamed over it on success, so a failure
 * never destroys an existing file. */
SCALPEL_API scalpel_status scalpel_net_save(const scalpel_net *net, const char *path);
/* Reads a model file into memory the network owns (one block), then views it. */
SCALPEL_API scalpel_status scalpel_net_load(const char *path, scalpel_net *net);
/* Like load, from bytes in memory (copied; data needs no alignment). */
SCALPEL_API scalpel_status scalpel_net_load_buffer(const void *data, size_t size, scalpel_net *net);
#endif

/* ======================================================================================== */
/* >>pruning                                                                                */
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
/* Node removal: keep[i] is the keep mask of weighted layer i of net (out_c bytes, 1 = keep the
 * neuron or feature map, 0 = remove it), or NULL: that layer's mask has no say. Removing a
 * node removes its channel everywhere the channel goes, as one coupled set:
 *   - through the per-channel layers after it (relu, pools, batch norm, the activations, LRN
 *     within a channel): their channel goes, and a batch norm's scale and shift with it;
 *   - a depthwise convolution's channels go with their input channel;
 *   - channels joined by an add go together or not at all; concat shifts the offsets;
 *   - the layers that read the channel lose its columns (a conv its k*k taps of that input,
 *     an fc the H*W inputs of a flattened map).
 * The masks over one set must agree (SCALPEL_ERR_ARGUMENT otherwise: e.g. the two convs
 * joined by an add, or a depthwise conv and the conv before it), and a NULL mask takes the
 * others' word. Some sets never go: the network input's and the last tensor's channels (a
 * mask on the last weighted layer, or one removing what reaches the output, is
 * SCALPEL_ERR_ARGUMENT), and the channels in or out of a grouped convolution (not depthwise),
 * an LRN across channels or a softmax (SCALPEL_ERR_UNSUPPORTED if a mask removes them).
 * Builds in *out a smaller dense network that computes exactly what net computes with the
 * removed channels forced to zero in every tensor they are part of (what a mask layer after
 * each of them does in training).
 * round_to (1, 8, 16 or 32) rounds the kept count of each mask given up to a multiple (capped
 * at the layer's rows) for GPUs, keeping back the removed nodes with the largest weight
 * norms first; the rounded masks must still agree. keep holds net->n_layers pointers; mask
 * bytes must be 0 or 1 and a mask may not remove every node of its layer, nor the sets every
 * channel of a tensor (SCALPEL_ERR_ARGUMENT). net may hold any storage (sparse layers are
 * read densely); the result is always dense. *out is a new network (free it); net is
 * unchanged. */
SCALPEL_API scalpel_status scalpel_net_remove_nodes(const scalpel_net *net, const uint8_t *const *keep,
                                                    int32_t round_to, scalpel_net *out);
/* Dead-node removal, exact: a node of a weighted layer whose weights are all zero outputs a
 * constant (its bias), and whatever follows it per channel keeps it constant (relu, max
 * pooling, batch norm, the activations...). Weight pruning leaves such nodes behind (a row
 * whose every group was pruned). Each one is removed with its coupled set (as
 * scalpel_net_remove_nodes couples them: a depthwise channel with its input, the channels of
 * an add, which go only when every row producing them is dead) and its constant folded into
 * the bias of every layer that reads it: b'[o] = b[o] + constant * (the sum of row o's
 * columns that read the channel). The removal cascades: a node whose only non-zero weights
 * read removed channels is dead too. A set stays when that would not be exact: a non-zero
 * constant read by a convolution with padding (its border windows read zeros), or passed
 * through a layer that does not keep it constant (average pooling counting pads, LRN within
 * a channel: found by running the layer's reference on it), or when it is pinned (see
 * scalpel_net_remove_nodes). Every tensor keeps at least one channel.
 * which: NULL = every weighted layer; else net->n_layers bytes, and a set goes only if every
 * weighted layer with a row in it has which[i] != 0 (the cascade still reads the channels
 * removed before it).
 * Removing columns shifts the next layer's later columns: if that layer is already pruned in
 * aligned groups, its groups no longer line up, so remove a layer's dead nodes before its
 * successor is group-pruned (as the SIMD-aware driver does with remove_dead), not after.
 * *out is a new dense network (as scalpel_net_remove_nodes makes it; pack it again)
 * computing what net computes, up to float rounding in the folded biases, for finite
 * inputs; *removed (may be NULL) gets the number of weighted-layer rows removed. net is
 * unchanged. */
SCALPEL_API scalpel_status scalpel_net_remove_dead_nodes(const scalpel_net *net, const uint8_t *which,
                                                         scalpel_net *out, int32_t *removed);
#endif

/* ======================================================================================== */
/* >>hardware profiles                                                                      */
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
/* The built-in profile matching the kernels compiled into this program, the one named by
 * scalpel_kernels_backend_info()->default_profile: x86-avx512 -> "x86-avx512", x86-avx2 -> "x86-avx2",
 * "x86-sse2" -> the x86-avx2 profile with G = 4 named "x86-sse2", arm-neon -> "arm-neon",
 * arm-mve -> "cortex-m55", cortex-m-dsp (M4, M7, M33: q15 with SMLAD) -> "cortex-m4",
 * "scalar" -> the cortex-m4 rules with F32 named "scalar";
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
/* >>planner                                                                                */
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
 * any G). The result computes the same outputs (within float rounding order). Records the
 * plan's batch in net->packed_batch (0 for a SCALPEL_PLAN_DENSE plan). */
SCALPEL_API scalpel_status scalpel_net_pack(scalpel_net *net, const scalpel_plan *plan);
#endif

/* ======================================================================================== */
/* >>decomposition: TASD series, the exact hybrid in networks, the no-retrain planner       */
/* ======================================================================================== */

/* scalpel_tasd_spec: the shape of a TASD series, term by term: N[i]:M[i]. Parse one from text
 * such as "2:8+1:8" (scalpel_tasd_parse). 1 <= n_terms <= SCALPEL_TASD_MAX_TERMS; each M is 2,
 * 4, 8 or 16 and 1 <= N <= M. */
typedef struct scalpel_tasd_spec {
    int32_t n_terms;
    int32_t n[SCALPEL_TASD_MAX_TERMS];
    int32_t m[SCALPEL_TASD_MAX_TERMS];
} scalpel_tasd_spec;

/* "N:M" or "N1:M1+N2:M2+..." (no spaces) -> spec. SCALPEL_ERR_ARGUMENT for anything else. */
SCALPEL_API scalpel_status scalpel_tasd_parse(const char *text, scalpel_tasd_spec *out);
/* Writes spec as text ("2:8+1:8") into buf[size] (truncated, always terminated). */
SCALPEL_API void scalpel_tasd_spec_string(const scalpel_tasd_spec *spec, char *buf, size_t size);

#ifndef SCALPEL_NO_MALLOC
/* The greedy TASD decomposition of dense w[rows x cols]: R = w; for each term i,
 * T_i = nm_project(R, N_i, M_i) (the N largest magnitudes of each group of M, ties to the lowest
 * position), R -= T_i. Then w == sum T_i + R exactly, and out holds the T_i. With one M,
 * N1:M + N2:M keeps the top N1 + N2 of each group. `residual` (optional, [rows x cols]) receives R. */
SCALPEL_API scalpel_status scalpel_tasd_decompose(const float *w, int32_t rows, int32_t cols,
                                                  const scalpel_tasd_spec *spec, scalpel_tasd *out,
                                                  float *residual);
/* Relative error on the tensor: ||w - sum T_i||_F / ||w||_F (0 when w is zero). */
SCALPEL_API scalpel_status scalpel_tasd_error_tensor(const float *w, const scalpel_tasd *s, double *rel);
/* Relative error on the outputs for calibration inputs x[count x cols] (one input per row):
 * ||W.X - sum T_i.X||_F / ||W.X||_F over all of them (0 when W.X is zero). */
SCALPEL_API scalpel_status scalpel_tasd_error_output(const float *w, const scalpel_tasd *s,
                                                     const float *x, int32_t count, double *rel);

/* Measures this machine's costs for scalpel_hybrid_from_dense on a rows x cols matrix
 * (matrix-vector when n == 0, matrix-matrix with B[cols x n] otherwise): one stored group of
 * the grouped kernel with `group` and one stored weight of the CSR kernel (both on 80%
 * unstructured zeros), and the fixed cost of a row in the grouped kernel (from a matrix with
 * one group per row). Medians of interleaved runs; about 0.1 s. */
SCALPEL_API scalpel_status scalpel_hybrid_costs_measure(int32_t rows, int32_t cols, int32_t group,
                                                        int32_t n, scalpel_hybrid_costs *out);

/* Gives weighted layer `layer` of net the weights h (exact hybrid) or s (TASD series), keeping
 * its bias. Moves: on success the network owns the arrays and *h / *s is zeroed; on failure
 * nothing changes. The shapes must be the layer's. */
SCALPEL_API scalpel_status scalpel_net_set_hybrid(scalpel_net *net, int32_t layer, scalpel_hybrid *h);
SCALPEL_API scalpel_status scalpel_net_set_tasd(scalpel_net *net, int32_t layer, scalpel_tasd *s);

/* scalpel_nr_form: what the no-retrain planner can give a layer. */
typedef enum scalpel_nr_form {
    SCALPEL_NR_DENSE = 0,      /* unchanged dense weights (error 0) */
    SCALPEL_NR_GROUPED = 1,    /* grouped CSR with `group` (G = 1: CSR), exact */
    SCALPEL_NR_HYBRID = 2,     /* the exact hybrid, groups of `group` + CSR residual */
    SCALPEL_NR_TASD = 3        /* an N:M series (`spec`), exact only when nothing overflows */
} scalpel_nr_form;

/* Most candidates the planner weighs per layer. */
#define SCALPEL_NR_MAX_CANDIDATES 24

/* scalpel_nr_candidate: one way to run one layer, with what it costs and what it loses. */
typedef struct scalpel_nr_candidate {
    int32_t form;              /* scalpel_nr_form */
    int32_t group;             /* G for GROUPED and HYBRID, else 0 */
    scalpel_tasd_spec spec;    /* the series for TASD */
    double error;              /* relative output error on the calibration inputs (exact forms:
                                  float rounding only, treated as 0 when choosing) */
    double seconds;            /* measured time of the layer's product (batch 1: matrix-vector
                                  for fc; im2col matrix-matrix for conv2d) */
    size_t bytes;              /* weight storage */
} scalpel_nr_candidate;

/* scalpel_nr_layer: the candidates of one layer and the one chosen (-1 for unweighted layers). */
typedef struct scalpel_nr_layer {
    int32_t n_candidates;
    int32_t chosen;            /* index into cand, or -1 */
    scalpel_nr_candidate cand[SCALPEL_NR_MAX_CANDIDATES];
} scalpel_nr_layer;

/* scalpel_nr_options: settings of scalpel_plan_no_retrain. Zero-initialise, then set what you
 * need; 0 means the default. */
typedef struct scalpel_nr_options {
    float budget;              /* accuracy drop allowed, as a fraction. default: 0.005 (0.5 points) */
    int32_t calib;             /* samples (the first ones) for the output errors. default: 256 */
    int32_t group;             /* G of the grouped and hybrid candidates. default: hw->group */
    int32_t no_tasd;           /* 1: exact forms only (dense, CSR, grouped, hybrid). default: 0 */
} scalpel_nr_options;

/* scalpel_nr_plan: the result of the no-retrain planner. Large (about 440 kB: candidates for
 * SCALPEL_NET_MAX_LAYERS layers): allocate it. */
typedef struct scalpel_nr_plan {
    int32_t n_layers;
    scalpel_nr_layer layers[SCALPEL_NET_MAX_LAYERS];
    double tau;                /* the global error threshold chosen */
    float accuracy_dense;      /* accuracy of the network as given, on the samples */
    float accuracy_planned;    /* accuracy with the plan applied, on the same samples */
    int32_t evaluations;       /* accuracy evaluations the threshold search made */
} scalpel_nr_plan;

/* Plans a trained network for this machine without retraining, in the spirit of TASDER. Per
 * weighted layer it builds candidates (dense; CSR and grouped CSR and the exact hybrid with
 * G; N:M series with M = 4, 8, 16 made of power-of-two N terms, e.g. 3:8 = 2:8 + 1:8), times
 * each one's product on this machine and measures its relative output error on the layer's
 * real inputs for the first `calib` samples. Then a global threshold tau: every layer takes its
 * fastest candidate whose error is <= tau (exact forms always qualify), a grouped, hybrid or
 * series form only when it is at least 5% faster than the better of dense and CSR (so that one
 * lucky timing never leaves a layer slower than those), and tau is the largest
 * candidate error (binary search) whose accuracy on all `count` samples x[count x inputs]
 * with labels[count] stays within `budget` of the dense network's. Use training or validation
 * samples here and report accuracy on a separate test set. net must hold DENSE or GCSR layers
 * (SCALPEL_ERR_UNSUPPORTED otherwise) and is not changed: apply the plan with
 * scalpel_net_apply_no_retrain. */
SCALPEL_API scalpel_status scalpel_plan_no_retrain(const scalpel_net *net, const scalpel_hw_profile *hw,
                                                   const float *x, const int32_t *labels, int32_t count,
                                                   const scalpel_nr_options *opt, scalpel_nr_plan *out);
/* Converts each weighted layer of net to its chosen candidate (plan from the same network).
 * On failure the layers converted so far keep their new (equivalent or planned) storage and the
 * error is returned. */
SCALPEL_API scalpel_status scalpel_net_apply_no_retrain(scalpel_net *net, const scalpel_nr_plan *plan);
#endif

/* ======================================================================================== */
/* >>quantization: fixed-point (q15 / q7) networks for microcontrollers                     */
/* ======================================================================================== */

/* scalpel_qlayer: one layer of a fixed-point network (scalpel_qnet). Same kinds, shapes and
 * weight-matrix view as scalpel_layer, but the weights are int16_t (Q15) or int8_t (Q7), dense
 * in `w` or grouped CSR in `sparse` (as `storage` says), and the bias, the rescaling to the
 * output scale and a fused ReLU live in `rq` (see scalpel_requant in scalpel_kernels.h). Every
 * activation is fixed point of the network's dtype: the output of layer i means
 * q * out_scale. A ReLU right after a layer that can run it (fc, conv2d, batchnorm, add) is
 * fused into that layer's requant (rq.relu = 1) and then costs nothing. `block` is the memory
 * this layer owns (NULL for an exported header).
 *
 * What each kind keeps, and its output scale (the kernels are in scalpel_kernels.h):
 *   fc, conv2d   w or sparse [rows x cols]; rq.bias [rows], rq.mult / rq.shift [1] or
 *                [rows] (per_channel); a calibrated scale. Any conv2d window, groups
 *                (depthwise: scalpel_dwconv_q*), dilation.
 *   batchnorm    one the quantizer could not fold into the layer before it: w [C] (the
 *                per-channel scale as integers), rq.bias [C], rq.mult / rq.shift [C]
 *                (per_channel 1), scalpel_channel_scale_q*; a calibrated scale.
 *   add          rq.mult [2] (the two inputs' multipliers), rq.shift [2] (equal: one shift
 *                for the sum), scalpel_add_q*; a calibrated scale.
 *   concat       rq.mult [2], rq.shift [2], one pair per input, scalpel_rescale_q*; the
 *                larger of the two inputs' scales (no input saturates).
 *   clip         rq.bias [2]: lo and hi in the input's units; the input's scale.
 *   leaky_relu   rq.mult [1] (signed: the slope's sign), rq.shift [1]; the input's scale.
 *   hardswish    rq.bias [2]: 3 and 6 in the input's units; rq.mult / rq.shift [1] =
 *                s_in / 6; the input's scale.
 *   sigmoid,     rq.mult / rq.shift [1]: the input to Q4.11 (s_in * 2^11); the scale 2^-15
 *   tanh         (q15) or 2^-7 (q7), by table (error in scalpel_kernels.h).
 *   maxpool,     no arrays; the input's scale. Average pooling rounds half away from zero
 *   avgpool,     (scalpel_pool_window_q*).
 *   relu
 * The arrays a kind does not use are NULL and rq's flags 0. softmax and lrn have no fixed
 * point (SCALPEL__LAYER_KINDS). */
typedef struct scalpel_qlayer {
    scalpel_layer_geom geom;      /* kind, shapes, the tensor read (as in scalpel_layer) */
    int32_t storage;              /* SCALPEL_STORAGE_DENSE or SCALPEL_STORAGE_GCSR */
    const void *w;                /* dense weights [rows x cols] (int16_t / int8_t), or NULL */
    scalpel_gcsr sparse;          /* the weights when storage is GCSR (dtype Q15 / Q7), else zeroed */
    scalpel_requant rq;           /* bias, multiplier and shift per layer or per row, fused ReLU */
    float out_scale;              /* real value of one output step */
    void *block;                  /* owned memory behind w, sparse and rq, or NULL */
} scalpel_qlayer;

/* scalpel_qnet: a network in fixed point, built from a float scalpel_net by
 * scalpel_qnet_quantize (calibrated on sample inputs) or defined by a header
 * scalpel_qnet_export_c wrote. Inputs are quantized with in_scale (x_q = round(x / in_scale)),
 * outputs mean q * layers[n_layers - 1].out_scale. Caller-allocated like scalpel_net; release
 * with scalpel_qnet_free (safe on a zeroed struct). */
typedef struct scalpel_qnet {
    int32_t dtype;                                /* SCALPEL_DTYPE_Q15 or SCALPEL_DTYPE_Q7 */
    int32_t in_c, in_h, in_w;                     /* input shape per sample (CHW) */
    int32_t n_layers;
    float in_scale;                               /* real value of one input step */
    scalpel_qlayer *layers;                       /* [n_layers] */
    int32_t owns_layers;                          /* 1: `layers` is freed with the network */
    void *alloc_ctx;                              /* for SCALPEL_MALLOC / SCALPEL_FREE */
} scalpel_qnet;

/* scalpel_quant_options: how scalpel_qnet_quantize quantizes. Zero-initialise, then set dtype.
 *   dtype        SCALPEL_DTYPE_Q15 (16-bit, G = 2 per SMLAD on DSP cores) or SCALPEL_DTYPE_Q7
 *                (8-bit, G = 4 per SXTB16 + SMLAD pair); required (F32, the zero, is refused)
 *   per_channel  0 (default): one weight scale per layer; 1: one per output row / channel
 *   group        0 (default): sparse layers keep the G of the float network; 1, 2, 4, 8 or 16:
 *                sparse layers are regrouped to this G (a group is kept iff one of its
 *                quantized weights is nonzero), e.g. 4 for Q7 from a network packed with G = 2 */
typedef struct scalpel_quant_options {
    int32_t dtype;
    int32_t per_channel;
    int32_t group;
} scalpel_quant_options;

#ifndef SCALPEL_NO_MALLOC
/* Quantizes the float network `net` (dense and grouped-CSR layers; HYBRID / TASD layers give
 * SCALPEL_ERR_UNSUPPORTED) into *out. calib[n_calib x input size] are sample inputs (a few
 * hundred training images): the largest |value| seen at the input and after each weighted
 * layer sets the activation scales (symmetric, max-abs). Weights: symmetric max-abs scales per
 * layer or per output channel; biases in accumulator units; the ratio of scales as a 15-bit
 * multiplier and a shift per layer or per channel. Sparse layers keep exactly their groups'
 * positions (the same kernels run, in integers). Allocates one block per weighted layer. */
SCALPEL_API scalpel_status scalpel_qnet_quantize(const scalpel_net *net, const scalpel_quant_options *opt,
                                                 const float *calib, int32_t n_calib, scalpel_qnet *out);
/* Writes a C header defining `static const` arrays and `static const scalpel_qnet <name>`: a
 * fixed-point network for firmware, no allocation needed (include scalpel.h first), and
 * `#define <name>_WORKSPACE_BYTES`, the workspace one sample needs, to size a static buffer.
 * Written through a temporary file and renamed. A name scalpel_export_name_problem objects to:
 * SCALPEL_ERR_ARGUMENT; a network with no layers: SCALPEL_ERR_SHAPE. */
SCALPEL_API scalpel_status scalpel_qnet_export_c(const scalpel_qnet *q, const char *name, const char *path);
#endif
/* Full structural check of a fixed-point network you did not build (shapes, dtypes, every
 * sparse matrix, the requant limits). */
SCALPEL_API scalpel_status scalpel_qnet_validate(const scalpel_qnet *q);
/* Inputs and outputs per sample; 0 for NULL. */
SCALPEL_API int32_t scalpel_qnet_input_size(const scalpel_qnet *q);
SCALPEL_API int32_t scalpel_qnet_output_size(const scalpel_qnet *q);
/* Bytes of scratch scalpel_qnet_forward and scalpel_qnet_forward_f32 need for `batch` samples
 * (0 when invalid or on overflow). */
SCALPEL_API size_t scalpel_qnet_workspace_size(const scalpel_qnet *q, int32_t batch);
/* out[batch x outputs] = q(in[batch x C x H x W]), inputs and outputs int16_t (Q15) or int8_t
 * (Q7). Allocates nothing. Bit-identical on every target and backend. The network is trusted:
 * validate one from outside with scalpel_qnet_validate. */
SCALPEL_API scalpel_status scalpel_qnet_forward(const scalpel_qnet *q, const void *in, int32_t batch,
                                                void *out, void *workspace);
/* The same with float inputs (quantized with in_scale) and outputs (dequantized). */
SCALPEL_API scalpel_status scalpel_qnet_forward_f32(const scalpel_qnet *q, const float *in, int32_t batch,
                                                    float *out, void *workspace);
/* Bytes the network's arrays take: weights (values, indices, row pointers), biases, multipliers
 * and shifts. What the model costs in flash. */
SCALPEL_API size_t scalpel_qnet_weight_bytes(const scalpel_qnet *q);
/* Index of the largest of n fixed-point outputs of the network's dtype (first on ties). */
SCALPEL_API int32_t scalpel_qnet_argmax(const scalpel_qnet *q, const void *y, int32_t n);
/* Releases what the network owns and zeroes it. Safe on NULL and on a zeroed struct. */
SCALPEL_API void scalpel_qnet_free(scalpel_qnet *q);

/* ======================================================================================== */
/* >>export and import                                                                      */
/* ======================================================================================== */

/* Why `name` cannot name an exported network (scalpel_net_export_c, scalpel_qnet_export_c),
 * as a short phrase to print after the name ("is a C++20 keyword", "is a name <stdint.h>
 * defines", "is reserved: double underscore"), or NULL when it can. The name and the array
 * names made from it (<name>_layers, <name>_l<i>_w, <name>_WORKSPACE_BYTES) must compile in C
 * and C++ next to scalpel.h and the standard headers a firmware includes, so it must be a C
 * identifier of at most 48 characters and none of: a keyword of C (to C23), C++ (to C++20) or
 * GNU C; a reserved identifier (a leading underscore, a double underscore anywhere, a
 * trailing underscore that would make one in the array names); main, std; a macro compilers
 * predefine (unix, linux, i386, ...); a scalpel_, SCALPEL_, simde_, SIMDE_ or HEDLEY_ name
 * (the library and the SIMDe headers it includes); a name <stddef.h>, <stdint.h>,
 * <limits.h>, <float.h>, <math.h>, <fenv.h>, <stdio.h>, <string.h>, <stdlib.h>, <time.h>,
 * <assert.h>, <errno.h> or <stdarg.h> defines, with glibc's POSIX additions (index, y1,
 * timezone, uint, ...), their _r / _unlocked / _l forms and math's f / l forms, or a
 * prefix or suffix those headers reserve (FLT_, FP_, FE_, pthread_, _t, _MAX); nor a name of
 * the form of an exported array (x_layers, x_l0_w), which another exported network's arrays
 * could take. The reason strings are static. */
SCALPEL_API const char *scalpel_export_name_problem(const char *name);
#ifndef SCALPEL_NO_MALLOC
/* Writes a C header to `path` defining `static const` arrays (aligned to 16 bytes) and
 * `static const scalpel_net <name>`: a ready network that runs with no allocation at all
 * (`#include "scalpel.h"` first). Written through a temporary file and renamed, like
 * scalpel_net_save. A name scalpel_export_name_problem objects to, or weights that are not
 * finite: SCALPEL_ERR_ARGUMENT; a network with no layers (nothing a firmware could run):
 * SCALPEL_ERR_SHAPE; HYBRID or TASD layers (the no-retrain planner's, which a version 4 model
 * file holds; scalpel_net_has_decomposed): SCALPEL_ERR_UNSUPPORTED, nothing written. */
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
/* The names of a safetensors file's tensors, in the header's order (the __metadata__ entry
 * is no tensor): the first `capacity` into names[capacity][128] (NUL-terminated, escapes
 * decoded; names may be NULL when capacity is 0), and *count (may be NULL) gets how many
 * there are, even past capacity. Any dtype. The whole file is checked as
 * scalpel_safetensors_find checks it, once: one call lists them all (to name, say, the
 * tensors an import leaves unused). SCALPEL_ERR_UNSUPPORTED when a name has 128 bytes or
 * more, or a NUL, as find would refuse it. */
SCALPEL_API scalpel_status scalpel_safetensors_names(const void *data, size_t size, char (*names)[128],
                                                     int32_t capacity, int32_t *count);
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

/* scalpel_npy: a float32 array in NumPy's .npy format (what `scalpel run` reads and writes, and
 * numpy.save / numpy.load exchange): shape[ndim] (1 <= ndim <= SCALPEL_NPY_MAX_DIMS) and
 * `count` floats in C order at `data` (owned: release with scalpel_npy_free). `descr` is the
 * file's dtype string as written (e.g. "<f4"), kept for messages. */
#define SCALPEL_NPY_MAX_DIMS 8
typedef struct scalpel_npy {
    int32_t ndim;
    int64_t shape[SCALPEL_NPY_MAX_DIMS];
    size_t count;
    float *data;
    char descr[16];
    void *alloc_ctx;
} scalpel_npy;

#ifndef SCALPEL_NO_MALLOC
/* Reads an .npy file's bytes data[size] (format versions 1.0, 2.0 and 3.0) into *out (a copy).
 * Hostile-safe. SCALPEL_ERR_MAGIC: not .npy; SCALPEL_ERR_VERSION: another format version;
 * SCALPEL_ERR_DTYPE: not little-endian float32 (out->descr says what it is);
 * SCALPEL_ERR_UNSUPPORTED: Fortran order, a 0-d array or more than SCALPEL_NPY_MAX_DIMS
 * dimensions; SCALPEL_ERR_CORRUPT: a header that is not the dictionary NumPy writes;
 * SCALPEL_ERR_TRUNCATED / SCALPEL_ERR_CORRUPT: data shorter / longer than the shape says;
 * SCALPEL_ERR_OVERFLOW: a shape whose size does not fit memory; SCALPEL_ERR_ARGUMENT: a
 * value that is NaN or infinite. *out is zeroed on error (but descr, when it was read). */
SCALPEL_API scalpel_status scalpel_npy_parse(const void *data, size_t size, scalpel_npy *out);
/* The same from a file (the file rules of scalpel_format.h). */
SCALPEL_API scalpel_status scalpel_npy_load(const char *path, scalpel_npy *out);
/* Writes data[prod(shape)] as a version 1.0 .npy of float32 '<f4', C order (through a
 * temporary file renamed over path). 1 <= ndim <= SCALPEL_NPY_MAX_DIMS, each dimension >= 0. */
SCALPEL_API scalpel_status scalpel_npy_save(const char *path, const float *data, int32_t ndim, const int64_t *shape);
/* Releases out->data and zeroes *out; safe on a zeroed struct. */
SCALPEL_API void scalpel_npy_free(scalpel_npy *a);
#endif

/* ======================================================================================== */
/* >>gpu: the C API of scalpel_cuda.cu                                                      */
/* ======================================================================================== */

#ifdef SCALPEL_CUDA
/* Declared only with SCALPEL_CUDA defined; implemented in scalpel_cuda.cu, which you compile
 * with nvcc and link with -lcublas -lcudart. Host code stays plain C:
 *
 *   nvcc -O3 -c scalpel_cuda.cu -o scalpel_cuda.o
 *   cc -O2 -DSCALPEL_CUDA -I. app.c scalpel_cuda.o -L/usr/local/cuda/lib64 \
 *      -Wl,-rpath,/usr/local/cuda/lib64 -lcublas -lcudart -lstdc++ -lm
 *
 * (nvcc's launch code needs the C++ runtime, hence -lstdc++.) The C file that holds
 * SCALPEL_IMPLEMENTATION must not define SCALPEL_STATIC: scalpel_cuda.o calls the library's
 * scalpel_net_validate, scalpel_net_input_size and scalpel_net_output_size.
 *
 * A network is uploaded once (weights stay on the device, dense layers for cuBLAS SGEMM,
 * grouped-CSR layers for Scalpel's own SpMM kernel) and run for batches of up to max_batch
 * samples. Activations live on the device as [features x batch] so that every kernel reads
 * consecutive samples with coalesced loads and a convolution of the whole batch is one GEMM.
 * These are always extern (SCALPEL_STATIC does not apply: they live in another translation
 * unit). Every function returns scalpel_status; CUDA and cuBLAS failures are SCALPEL_ERR_DEVICE (the
 * runtime's message is kept in the handle, see scalpel_cuda_net_error), and a machine without
 * a GPU or driver gives SCALPEL_ERR_NO_DEVICE. Nothing leaks on any path. */
typedef struct scalpel_cuda_net scalpel_cuda_net;     /* opaque */

/* Number of usable CUDA devices in *count (0 without a driver or GPU: then SCALPEL_ERR_NO_DEVICE)
 * and the name of the first one (name may be NULL). */
extern scalpel_status scalpel_cuda_device_info(int32_t *count, char *name, size_t name_size);
/* Copies a valid network (checked with scalpel_net_validate) to the current device, with
 * buffers for batches up to max_batch (>= 1). *out is freed with scalpel_cuda_net_free.
 * SCALPEL_ERR_UNSUPPORTED for what the device does not run yet: layers that read other than
 * the previous tensor, kinds scalpel_net_first_unsupported(net, SCALPEL_USE_GPU) names, and
 * the no-retrain planner's HYBRID and TASD storages (scalpel_net_has_decomposed; such a
 * network loads from a version 4 model file: upload the network the plan started from). */
extern scalpel_status scalpel_cuda_net_upload(const scalpel_net *net, int32_t max_batch,
                                                   scalpel_cuda_net **out);
/* out[batch x outputs] = net(in[batch x C x H x W]), host pointers, synchronous. */
extern scalpel_status scalpel_cuda_net_forward(scalpel_cuda_net *net, const float *in, int32_t batch,
                                                    float *out);
/* The same with device pointers, queued on `stream` (a cudaStream_t; NULL = the default
 * stream) and returning without waiting. in and out are device memory in the same layouts.
 * Calls on one handle must not overlap: one handle per stream for concurrency. */
extern scalpel_status scalpel_cuda_net_forward_async(scalpel_cuda_net *net, const float *in_device,
                                                          int32_t batch, float *out_device, void *stream);
/* The last CUDA/cuBLAS error message of this handle ("" if none). Never NULL. */
extern const char *scalpel_cuda_net_error(const scalpel_cuda_net *net);
/* Releases every device allocation and the handle. Safe on NULL. */
extern void scalpel_cuda_net_free(scalpel_cuda_net *net);

/* C[rows x n] = W[rows x cols] . B[cols x n] on the device: Scalpel's grouped-CSR SpMM, for
 * benchmarks and your own kernels' pipelines. w_device describes device arrays (row_ptr,
 * col_idx, values) of a matrix that validated on the host; b and c are device pointers,
 * row-major. Queued on stream. */
extern scalpel_status scalpel_cuda_gcsr_spmm_f32(const scalpel_gcsr *w_device, const float *b, int32_t n,
                                                      float *c, void *stream);
#endif /* SCALPEL_CUDA */

#ifdef __cplusplus
}
#endif

#endif /* SCALPEL_H */

/* ======================================================================================== */
/* >>implementation                                                                         */
/* ======================================================================================== */
/* The format and kernel modules are implemented in their own headers
 * (switched on by SCALPEL_IMPLEMENTATION through the includes above); this module's parts
 * follow. */
#if defined(SCALPEL_IMPLEMENTATION) && !defined(SCALPEL_NET_IMPLEMENTATION)
#define SCALPEL_NET_IMPLEMENTATION
#endif

#if defined(SCALPEL_NET_IMPLEMENTATION) && !defined(SCALPEL__NET_IMPLEMENTATION_DONE)
#define SCALPEL__NET_IMPLEMENTATION_DONE

#include <string.h>
#include <limits.h>
#ifndef SCALPEL_NO_MALLOC
#include <stdio.h>   /* model files and C export */
#include <time.h>    /* calibration timing (clock) */
#endif

/* ======================================================================================== */
/* >>networks (implementation)                                                              */
/* ======================================================================================== */


/* The allocator defaults, SCALPEL_ASSERT, SCALPEL__PRIV (static, marked unused) and the small
 * private helpers every module shares come from scalpel_format.h ("private helpers"). */

/* Alignment of the blocks the network allocates and of the workspace regions: a cache line,
 * so weight rows and activation buffers start where the vector loads like them. */
#define SCALPEL__NET_ALIGN 64u

#ifdef __cplusplus
extern "C" {
#endif


/* G is one of the group sizes grouped CSR supports (1, 2, 4, 8, 16): the one check shared by
 * model files, pruning, profiles and plans. */
SCALPEL__PRIV int scalpel__net_group_ok(int32_t g)
{
    return g == 1 || g == 2 || g == 4 || g == 8 || g == 16;
}

SCALPEL__PRIV void *scalpel__net_align_ptr(void *p)
{
    uintptr_t u = (uintptr_t)p;
    return (void *)((u + (SCALPEL__NET_ALIGN - 1u)) & ~(uintptr_t)(SCALPEL__NET_ALIGN - 1u));
}

/* n rounded up to the workspace alignment, saturating. */
SCALPEL__PRIV size_t scalpel__net_round(size_t n)
{
    return n > SIZE_MAX - SCALPEL__NET_ALIGN ? SIZE_MAX : (n + SCALPEL__NET_ALIGN - 1u) / SCALPEL__NET_ALIGN * SCALPEL__NET_ALIGN;
}

/* c * h * w for dimensions already known to be >= 1, or -1 when it exceeds INT32_MAX; the
 * first product is checked before the second so that nothing can wrap even in 64 bits. */
SCALPEL__PRIV int64_t scalpel__net_dims(int32_t c, int32_t h, int32_t w)
{
    int64_t ch = (int64_t)c * h;
    if (ch > INT32_MAX || ch * w > INT32_MAX) return -1;
    return ch * w;
}

/* c * h * w, or 0 for a shape that is not valid (so that a garbage struct cannot overflow). */
SCALPEL__PRIV int32_t scalpel__net_shape_size(int32_t c, int32_t h, int32_t w)
{
    int64_t n;
    if (c < 1 || h < 1 || w < 1) return 0;
    n = scalpel__net_dims(c, h, w);
    return n < 0 ? 0 : (int32_t)n;
}

SCALPEL__PRIV size_t scalpel__q_esz(int32_t dtype) { return dtype == SCALPEL_DTYPE_Q15 ? 2u : 1u; }

/* ---------------------------------------------------------------------------------------- */
/* >>layer kinds: the tables generated from SCALPEL__LAYER_KINDS                              */
/* ---------------------------------------------------------------------------------------- */
/* Everything the library knows about a kind is in its entries of the tables below, and every
 * part of the library that depends on the kind asks them (training has its own table in
 * scalpel_train.h, the GPU its own in scalpel_cuda.cu, all generated from the same list). A
 * kind's functions live in its own ">>layer NAME" section below. To add a kind: (1) a number in scalpel_layer_kind, (2) its line in
 * SCALPEL__LAYER_KINDS, (3) its >>layer section here with the functions below, (4) its
 * training functions in scalpel_train.h and (5) its GPU functions in scalpel_cuda.cu (every
 * table is generated from the list), (6) its scalpel_net_add_<kind> (scalpel_net_add_layer
 * works for it at once). Forgetting any of (1) to (5) does not compile.
 *
 *   shape        fills g's output shape, rows and cols from g's kind, input shape, kernel,
 *                stride and pad and the `outputs` parameter (weighted kinds); checks every
 *                parameter (those the kind does not use must be 0) and that every count a
 *                kernel indexes with int32 fits
 *   scratch      scratch elements the forward passes need besides input and output, for a
 *                batch (f32: floats; fixed point: elements of the dtype)
 *   forward      out[batch x out] = layer(in[batch x in]) in f32 (in2: the second input of
 *                add and concat); relu: 1 also apply the ReLU after it, 2 the clip after it
 *                (L[1], the next layer of the array), in the same pass (only asked of kinds
 *                with fuses_relu)
 *   forward_ref  one sample, plain C from the definition, dense weights w and bias b: the
 *                oracle of tests/test_layers.c
 *   qscratch     like scratch, for the fixed-point forward
 *   forward_q    the same in the network's fixed point (q15 or q7), bias and fused ReLU in the
 *                layer's requant
 *   params       sample parameters (outputs, kernel, stride, pad) valid after a [3 x 8 x 8]
 *                input, for tests and tools that make one layer of every kind */
typedef struct scalpel__kind_ops {
    const char *name;
    int32_t weighted;   /* 1: the layer has W [rows x cols] and b [rows] */
    int32_t fuses_relu; /* 1: runs a following ReLU inside its own output pass */
    int32_t per_channel;/* floats per output channel in `params` (batchnorm: 2) */
    int32_t uses[5];    /* indexed by scalpel_layer_use: 1 when that part takes the kind */
    scalpel_status (*shape)(scalpel_layer_geom *g, int32_t outputs);
    int32_t params[4];
} scalpel__kind_ops;
/* The number-type parts live in tables of their own, so that a program that runs only
 * fixed-point networks (firmware, linked with --gc-sections) does not keep the float code,
 * and the reverse. */
typedef struct scalpel__kind_f32_ops {
    size_t (*scratch)(const scalpel_layer_geom *g, int32_t batch);
    void (*forward)(const scalpel_layer *L, const float *in, const float *in2, int32_t batch, float *out,
                    float *scratch, int relu);
    void (*forward_ref)(const scalpel_layer *L, const float *in, const float *in2, float *out);
} scalpel__kind_f32_ops;
typedef struct scalpel__kind_q_ops {
    size_t (*qscratch)(const scalpel_layer_geom *g, int32_t batch);
    void (*forward_q)(const scalpel_qnet *q, const scalpel_qlayer *L, const void *in, const void *in2, int32_t batch,
                      void *out, void *scratch);
} scalpel__kind_q_ops;

/* The kinds whose float forward needs no scratch share this one. */
static size_t scalpel__no_scratch(const scalpel_layer_geom *g, int32_t batch)
{
    (void)g; (void)batch;
    return 0;
}
#define scalpel__relu_scratch scalpel__no_scratch
#define scalpel__batchnorm_scratch scalpel__no_scratch
#define scalpel__add_scratch scalpel__no_scratch
#define scalpel__concat_scratch scalpel__no_scratch
#define scalpel__softmax_scratch scalpel__no_scratch
#define scalpel__clip_scratch scalpel__no_scratch
#define scalpel__leaky_relu_scratch scalpel__no_scratch
#define scalpel__sigmoid_scratch scalpel__no_scratch
#define scalpel__tanh_scratch scalpel__no_scratch
#define scalpel__hardswish_scratch scalpel__no_scratch
/* likewise the kinds whose fixed-point forward needs none */
#define scalpel__maxpool_qscratch scalpel__no_scratch
#define scalpel__relu_qscratch scalpel__no_scratch
#define scalpel__avgpool_qscratch scalpel__no_scratch
#define scalpel__batchnorm_qscratch scalpel__no_scratch
#define scalpel__add_qscratch scalpel__no_scratch
#define scalpel__concat_qscratch scalpel__no_scratch
#define scalpel__clip_qscratch scalpel__no_scratch
#define scalpel__leaky_relu_qscratch scalpel__no_scratch
#define scalpel__sigmoid_qscratch scalpel__no_scratch
#define scalpel__tanh_qscratch scalpel__no_scratch
#define scalpel__hardswish_qscratch scalpel__no_scratch

/* The table, generated from SCALPEL__LAYER_KINDS: each kind's functions declared (they are
 * defined in its >>layer section below; a missing one is an undefined static function, an
 * error), then one entry per kind in the list's order, which is the enum's. */
#define SCALPEL__KIND_DECLARE(NAME, KIND, W, F, PC, Q, T, GPU, NR, O, K, S, P)                     \
    static scalpel_status scalpel__##NAME##_shape(scalpel_layer_geom *g, int32_t outputs);            \
    static size_t scalpel__##NAME##_scratch(const scalpel_layer_geom *g, int32_t batch);              \
    static void scalpel__##NAME##_forward(const scalpel_layer *L, const float *in, const float *in2,  \
                                          int32_t batch, float *out, float *scratch, int relu);       \
    static void scalpel__##NAME##_forward_ref(const scalpel_layer *L, const float *in,                \
                                              const float *in2, float *out);                          \
    SCALPEL__KIND_Q_DECLARE_##Q(NAME)
/* Only the kinds with fixed point (Q = 1) have (and declare) the fixed-point functions. */
#define SCALPEL__KIND_Q_DECLARE_0(NAME)
#define SCALPEL__KIND_Q_DECLARE_1(NAME)                                                              \
    static size_t scalpel__##NAME##_qscratch(const scalpel_layer_geom *g, int32_t batch);             \
    static void scalpel__##NAME##_forward_q(const scalpel_qnet *q, const scalpel_qlayer *L,           \
                                            const void *in, const void *in2, int32_t batch, void *out,    \
                                            void *scratch);
#define SCALPEL__KIND_ENTRY(NAME, KIND, W, F, PC, Q, T, GPU, NR, O, K, S, P)                       \
    { #NAME, W, F, PC, { 0, Q, T, GPU, NR }, scalpel__##NAME##_shape, { O, K, S, P } },
#define SCALPEL__KIND_F32_ENTRY(NAME, KIND, W, F, PC, Q, T, GPU, NR, O, K, S, P)                   \
    { scalpel__##NAME##_scratch, scalpel__##NAME##_forward, scalpel__##NAME##_forward_ref },
#define SCALPEL__KIND_Q_ENTRY(NAME, KIND, W, F, PC, Q, T, GPU, NR, O, K, S, P) SCALPEL__KIND_Q_ENTRY_##Q(NAME)
#define SCALPEL__KIND_Q_ENTRY_0(NAME) { NULL, NULL },
#define SCALPEL__KIND_Q_ENTRY_1(NAME) { scalpel__##NAME##_qscratch, scalpel__##NAME##_forward_q },
SCALPEL__LAYER_KINDS(SCALPEL__KIND_DECLARE)

/* Indexed by scalpel_layer_kind; entry 0 is no kind. */
static const scalpel__kind_ops scalpel__kinds[] = {
    { "?", 0, 0, 0, { 0, 0, 0, 0, 0 }, NULL, { 0, 0, 0, 0 } },
    SCALPEL__LAYER_KINDS(SCALPEL__KIND_ENTRY)
};
static const scalpel__kind_f32_ops scalpel__kinds_f32[] = {
    { NULL, NULL, NULL },
    SCALPEL__LAYER_KINDS(SCALPEL__KIND_F32_ENTRY)
};
static const scalpel__kind_q_ops scalpel__kinds_q[] = {
    { NULL, NULL },
    SCALPEL__LAYER_KINDS(SCALPEL__KIND_Q_ENTRY)
};
typedef char scalpel__kinds_complete[(sizeof scalpel__kinds / sizeof scalpel__kinds[0] == SCALPEL_LAYER_COUNT &&
                                      sizeof scalpel__kinds_f32 / sizeof scalpel__kinds_f32[0] == SCALPEL_LAYER_COUNT &&
                                      sizeof scalpel__kinds_q / sizeof scalpel__kinds_q[0] == SCALPEL_LAYER_COUNT) ? 1 : -1];
#undef SCALPEL__KIND_DECLARE
#undef SCALPEL__KIND_ENTRY
#undef SCALPEL__KIND_F32_ENTRY
#undef SCALPEL__KIND_Q_ENTRY
#undef SCALPEL__KIND_Q_ENTRY_0
#undef SCALPEL__KIND_Q_ENTRY_1
#undef SCALPEL__KIND_Q_DECLARE_0
#undef SCALPEL__KIND_Q_DECLARE_1

/* Both number-type tables start with the scratch function, so the workspace plan reads it
 * from either through one type (a struct's address is its first member's). */
typedef size_t (*scalpel__scratch_fn)(const scalpel_layer_geom *g, int32_t batch);

SCALPEL__PRIV int scalpel__kind_ok(int32_t kind) { return kind >= 1 && kind < SCALPEL_LAYER_COUNT; }

SCALPEL__PRIV int scalpel__is_weighted(int32_t kind)
{
    return scalpel__kind_ok(kind) && scalpel__kinds[kind].weighted;
}

/* 1 for the kinds that read a second tensor (from2): add and concat. */
SCALPEL__PRIV int scalpel__kind_joins(int32_t kind)
{
    return kind == SCALPEL_LAYER_ADD || kind == SCALPEL_LAYER_CONCAT;
}

SCALPEL_API const char *scalpel_layer_kind_name(int32_t kind)
{
    return scalpel__kind_ok(kind) ? scalpel__kinds[kind].name : "?";
}

SCALPEL_API scalpel_status scalpel_layer_kind_info(int32_t kind, scalpel_layer_kind_desc *out)
{
    const scalpel__kind_ops *k;
    if (!out) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (!scalpel__kind_ok(kind)) return SCALPEL_ERR_ARGUMENT;
    k = &scalpel__kinds[kind];
    out->name = k->name;
    out->weighted = k->weighted;
    out->fuses_relu = k->fuses_relu;
    out->outputs = k->params[0];
    out->kernel = k->params[1];
    out->stride = k->params[2];
    out->pad = k->params[3];
    return SCALPEL_OK;
}

/* Fills g's output shape, rows and cols from its kind, input shape and parameters (the kind's
 * shape rule), after the checks every kind shares. */
SCALPEL__PRIV scalpel_status scalpel__geom_infer(scalpel_layer_geom *g, int32_t outputs)
{
    g->rows = g->cols = 0;
    if (!scalpel__kind_ok(g->kind)) return SCALPEL_ERR_ARGUMENT;
    if (g->in_c < 1 || g->in_h < 1 || g->in_w < 1) return SCALPEL_ERR_SHAPE;
    if (scalpel__net_dims(g->in_c, g->in_h, g->in_w) < 0) return SCALPEL_ERR_OVERFLOW;
    return scalpel__kinds[g->kind].shape(g, outputs);
}

SCALPEL_API scalpel_status scalpel_layer_forward_ref(const scalpel_layer_geom *g, const float *w, const float *b,
                                                     const float *in, float *out)
{
    scalpel_layer L;
    if (!g) return SCALPEL_ERR_NULL;
    if (scalpel__kind_ok(g->kind) && (scalpel__kinds[g->kind].per_channel || scalpel__kind_joins(g->kind)))
        return SCALPEL_ERR_ARGUMENT; /* needs parameters or a second input: scalpel_layer_ref */
    memset(&L, 0, sizeof(L));
    L.geom = *g;
    L.w = w;
    L.b = b;
    return scalpel_layer_ref(&L, in, NULL, out);
}

SCALPEL_API scalpel_status scalpel_layer_ref(const scalpel_layer *L, const float *in, const float *in2, float *out)
{
    scalpel_layer_geom chk;
    scalpel_status st;
    if (!L || !in || !out) return SCALPEL_ERR_NULL;
    if (!scalpel__kind_ok(L->geom.kind)) return SCALPEL_ERR_ARGUMENT;
    chk = L->geom;
    chk.out_c = chk.out_h = chk.out_w = chk.rows = chk.cols = 0;
    st = scalpel__geom_infer(&chk, scalpel__is_weighted(L->geom.kind) ? L->geom.out_c : 0);
    if (st != SCALPEL_OK) return st;
    if (L->geom.kind == SCALPEL_LAYER_CONCAT) chk.out_c = L->geom.out_c;
    if (L->geom.kind == SCALPEL_LAYER_CONCAT && chk.out_c <= chk.in_c) return SCALPEL_ERR_SHAPE;
    if (memcmp(&chk, &L->geom, sizeof(chk)) != 0) return SCALPEL_ERR_SHAPE;
    if (scalpel__kinds[L->geom.kind].weighted && (!L->w || !L->b || L->storage != SCALPEL_STORAGE_DENSE))
        return SCALPEL_ERR_NULL;
    if (scalpel__kinds[L->geom.kind].per_channel && !L->params) return SCALPEL_ERR_NULL;
    if (scalpel__kind_joins(L->geom.kind) && !in2) return SCALPEL_ERR_NULL;
    scalpel__kinds_f32[L->geom.kind].forward_ref(L, in, in2, out);
    return SCALPEL_OK;
}

/* ---- tensors of a network: which one a layer reads, where each one lives ----------------- */
/* The float and the fixed-point layers both start with their scalpel_layer_geom, so the code
 * below reads either array through the geometry, given the size of one element. Tensor 0 is
 * the network input, tensor t >= 1 the output of layer t - 1. */
#define SCALPEL__GEOM_AT(layers, stride, i)                                                             \
    ((const scalpel_layer_geom *)(const void *)((const unsigned char *)(layers) + (size_t)(i) * (stride)))

/* The tensor layer i reads, or -1 when `from` points before the network input. */
SCALPEL__PRIV int32_t scalpel__geom_source(const scalpel_layer_geom *g, int32_t i)
{
    return (g->from < 0 || g->from > i) ? -1 : i - g->from;
}

/* The second tensor layer i reads: -1 when `from2` points before the network input, -2 for a
 * kind that reads one tensor. */
SCALPEL__PRIV int32_t scalpel__geom_source2(const scalpel_layer_geom *g, int32_t i)
{
    if (!scalpel__kind_joins(g->kind)) return -2;
    return (g->from2 < 0 || g->from2 > i) ? -1 : i - g->from2;
}

/* 1 when some layer reads a tensor other than the one just before it. */
SCALPEL__PRIV int scalpel__layers_have_skips(const void *layers, size_t stride, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++) {
        const scalpel_layer_geom *g = SCALPEL__GEOM_AT(layers, stride, i);
        if (g->from != 0 || scalpel__kind_joins(g->kind)) return 1;
    }
    return 0;
}

/* 1 when tensor t (t >= 1) must outlive the next layer: a layer other than layer t reads it
 * (as its first or its second input). Such a tensor is "kept": it gets a region of its own,
 * held to the end of the pass. Every other tensor is read only by the next layer, and lives
 * in one of two ping-pong buffers. */
SCALPEL__PRIV int scalpel__tensor_kept(const void *layers, size_t stride, int32_t n, int32_t t)
{
    int32_t i;
    for (i = t + 1; i < n; i++) {
        const scalpel_layer_geom *g = SCALPEL__GEOM_AT(layers, stride, i);
        if (scalpel__geom_source(g, i) == t || scalpel__geom_source2(g, i) == t) return 1;
    }
    return 0;
}

/* The shape of tensor t of a network with input [in_c x in_h x in_w] (0: the input, t: the
 * output of layer t - 1), float or fixed-point layers alike. */
SCALPEL__PRIV void scalpel__tensor_shape(const void *layers, size_t stride, int32_t in_c, int32_t in_h, int32_t in_w,
                                         int32_t t, int32_t *c, int32_t *h, int32_t *w)
{
    if (t == 0) {
        *c = in_c; *h = in_h; *w = in_w;
    } else {
        const scalpel_layer_geom *g = SCALPEL__GEOM_AT(layers, stride, t - 1);
        *c = g->out_c; *h = g->out_h; *w = g->out_w;
    }
}

/* 1 when weighted layer i can run the ReLU layer after it inside its own output pass: that
 * ReLU reads it, and nothing else reads the tensor between them. */
SCALPEL__PRIV int scalpel__relu_fusable(const void *layers, size_t stride, int32_t n, int32_t i)
{
    const scalpel_layer_geom *next;
    if (i + 1 >= n) return 0;
    next = SCALPEL__GEOM_AT(layers, stride, i + 1);
    return next->kind == SCALPEL_LAYER_RELU && next->from == 0 && !scalpel__tensor_kept(layers, stride, n, i + 1);
}

/* What a layer of a kind with fuses_relu runs inside its output pass, in the float forward
 * pass: 1 the ReLU after it, 2 the clip after it (relu6: MobileNet-style blocks), 0 nothing;
 * as scalpel__relu_fusable, nothing else may read the tensor between them. */
SCALPEL__PRIV int scalpel__act_fusable(const scalpel_layer *layers, int32_t n, int32_t i)
{
    if (scalpel__relu_fusable(layers, sizeof(scalpel_layer), n, i)) return 1;
    if (i + 1 < n && layers[i + 1].geom.kind == SCALPEL_LAYER_CLIP && layers[i + 1].geom.from == 0 &&
        !scalpel__tensor_kept(layers, sizeof(scalpel_layer), n, i + 1))
        return 2;
    return 0;
}

/* y[rows x n] += b[rows] per row, then the fused activation `act` of layer L (scalpel__act_fusable:
 * 1 ReLU, 2 the clip L[1], the next layer of the same array). */
SCALPEL__PRIV void scalpel__bias_act(float *y, const float *b, int32_t rows, int32_t n, const scalpel_layer *L, int act)
{
    int32_t r, p;
    if (act != 2) {
        scalpel_bias_relu_f32(y, b, rows, n, act);
        return;
    }
    {
        const float lo = L[1].geom.alpha, hi = L[1].geom.beta;
        for (r = 0; r < rows; r++) {
            float *o = y + (size_t)r * (size_t)n, bias = b[r];
            for (p = 0; p < n; p++) {
                float v = o[p] + bias;
                v = v < lo ? lo : v;
                o[p] = v > hi ? hi : v;
            }
        }
    }
}

/* Elements per sample of tensor t >= 1. */
SCALPEL__PRIV size_t scalpel__tensor_elems(const void *layers, size_t stride, int32_t t)
{
    const scalpel_layer_geom *g = SCALPEL__GEOM_AT(layers, stride, t - 1);
    return (size_t)g->out_c * (size_t)g->out_h * (size_t)g->out_w;
}

/* Byte offset of kept tensor t inside the kept area: the kept tensors before it, each rounded
 * up to the workspace alignment. */
SCALPEL__PRIV size_t scalpel__tensor_kept_offset(const void *layers, size_t stride, int32_t n, int32_t t,
                                                 int32_t batch, size_t esz)
{
    size_t off = 0;
    int32_t u;
    for (u = 1; u < t; u++)
        if (scalpel__tensor_kept(layers, stride, n, u))
            off += scalpel__net_round(scalpel__tensor_elems(layers, stride, u) * (size_t)batch * esz);
    return off;
}

/* Inlined into its two callers: it runs in every forward pass, and as a call it costs a
 * microcontroller more than its loop (ten arguments). */
#if defined(__GNUC__) || defined(__clang__)
#define SCALPEL__INLINE __inline__ __attribute__((always_inline))
#else
#define SCALPEL__INLINE
#endif

/* The activation part of the workspace, in bytes: *pingpong for each of the two buffers (the
 * largest tensor that is not kept, times the batch) and *kept for the kept tensors together;
 * *scratch the largest scratch a layer needs (from `table`: scalpel__kinds_f32 or
 * scalpel__kinds_q, entries `table_stride` bytes apart; 0 when table is NULL).
 * SIZE_MAX in any of them on overflow; *has_skips 1 when a layer reads a tensor other than the
 * one before it. The network input is never copied into the workspace. */
SCALPEL__PRIV SCALPEL__INLINE void scalpel__plan_acts(const void *layers, size_t stride, int32_t n, int32_t batch, size_t esz,
                                      const void *table, size_t table_stride, size_t *pingpong, size_t *kept,
                                      size_t *scratch, int32_t *has_skips)
{
    /* element counts per sample while going over the layers (each fits int32); the products
     * with the batch and the element size once at the end: this runs in every forward pass */
    size_t pp = 0, kp = 0, sc = 0;
    int32_t i, skips = 0;
    for (i = 0; i < n; i++) {  /* as if every tensor were read once, by the next layer */
        const scalpel_layer_geom *g = SCALPEL__GEOM_AT(layers, stride, i);
        size_t elems = (size_t)g->out_c * (size_t)g->out_h * (size_t)g->out_w, s = 0;
        if (table && scalpel__kind_ok(g->kind))
            s = (*(const scalpel__scratch_fn *)(const void *)((const unsigned char *)table + (size_t)g->kind * table_stride))(g, batch);
        if (s > sc) sc = s;
        if (elems > pp) pp = elems;
        skips |= g->from != 0 || scalpel__kind_joins(g->kind);
    }
    if (skips) {  /* again, the tensors read later kept in regions of their own */
        pp = 0;
        for (i = 0; i < n; i++) {
            size_t elems = scalpel__tensor_elems(layers, stride, i + 1);
            if (scalpel__tensor_kept(layers, stride, n, i + 1))
                kp = scalpel__size_add(kp, scalpel__net_round(scalpel__size_mul(scalpel__size_mul(elems, (size_t)batch), esz)));
            else if (elems > pp)
                pp = elems;
        }
    }
    *pingpong = scalpel__size_mul(scalpel__size_mul(pp, (size_t)batch), esz);
    *kept = kp;
    *scratch = scalpel__size_mul(sc, esz);
    *has_skips = skips;
}

/* The layers array is usable: a count >= 0 and a pointer whenever the count is not 0. */
SCALPEL__PRIV int scalpel__layers_ok(int32_t n, const void *layers)
{
    return n >= 0 && (n == 0 || layers != NULL);
}
SCALPEL__PRIV int scalpel__net_layers_ok(const scalpel_net *net)
{
    return scalpel__layers_ok(net->n_layers, net->layers);
}

/* y[rows] = W . x[cols] and C[rows x n] = W . B[cols x n] with the layer's weights, whatever
 * their storage. */
static void scalpel__layer_mv(const scalpel_layer *L, const float *x, float *y)
{
    switch (L->storage) {
    case SCALPEL_STORAGE_DENSE: scalpel_gemv_f32(L->w, L->geom.rows, L->geom.cols, x, y); return;
    case SCALPEL_STORAGE_HYBRID: {
        scalpel_hybrid h;
        h.grouped = L->sparse;
        h.residual = L->residual;
        scalpel_hybrid_spmv_f32(&h, x, y);
        return;
    }
    case SCALPEL_STORAGE_TASD: scalpel_tasd_spmv_f32(L->series, x, y); return;
    default: scalpel_gcsr_spmv_f32(&L->sparse, x, y); return;
    }
}
static void scalpel__layer_mm(const scalpel_layer *L, const float *b, int32_t n, float *c)
{
    switch (L->storage) {
    case SCALPEL_STORAGE_DENSE: scalpel_gemm_f32(L->w, L->geom.rows, L->geom.cols, b, n, c); return;
    case SCALPEL_STORAGE_HYBRID: {
        scalpel_hybrid h;
        h.grouped = L->sparse;
        h.residual = L->residual;
        scalpel_hybrid_spmm_f32(&h, b, n, c);
        return;
    }
    case SCALPEL_STORAGE_TASD: scalpel_tasd_spmm_f32(L->series, b, n, c); return;
    default: scalpel_gcsr_spmm_f32(&L->sparse, b, n, c); return;
    }
}

/* out[batch x rows] = the transpose of yt[rows x batch]: a batch's product back to samples. */
#define SCALPEL__Q_UNTRANSPOSE(T, SUF)                                                               \
    static void scalpel__q_untranspose_##SUF(const T *yt, int32_t rows, int32_t batch, T *out)        \
    {                                                                                                \
        int32_t s, r;                                                                                \
        for (s = 0; s < batch; s++)                                                                  \
            for (r = 0; r < rows; r++)                                                               \
                out[(size_t)s * (size_t)rows + (size_t)r] = yt[(size_t)r * (size_t)batch + (size_t)s]; \
    }
SCALPEL__Q_UNTRANSPOSE(int16_t, q15)
SCALPEL__Q_UNTRANSPOSE(int8_t, q7)
#undef SCALPEL__Q_UNTRANSPOSE


/* y = requant(W . x) and Y[rows x n] = requant(W . X[n x cols]^T) with the layer's weights. */
static void scalpel__qlayer_mv(const scalpel_qnet *q, const scalpel_qlayer *L, const void *x, void *y)
{
    if (q->dtype == SCALPEL_DTYPE_Q15) {
        if (L->storage == SCALPEL_STORAGE_DENSE)
            scalpel_gemv_q15((const int16_t *)L->w, L->geom.rows, L->geom.cols, (const int16_t *)x, &L->rq, (int16_t *)y);
        else
            scalpel_gcsr_spmv_q15(&L->sparse, (const int16_t *)x, &L->rq, (int16_t *)y);
    } else {
        if (L->storage == SCALPEL_STORAGE_DENSE)
            scalpel_gemv_q7((const int8_t *)L->w, L->geom.rows, L->geom.cols, (const int8_t *)x, &L->rq, (int8_t *)y);
        else
            scalpel_gcsr_spmv_q7(&L->sparse, (const int8_t *)x, &L->rq, (int8_t *)y);
    }
}
static void scalpel__qlayer_mm(const scalpel_qnet *q, const scalpel_qlayer *L, const void *x, int32_t n, void *y)
{
    if (q->dtype == SCALPEL_DTYPE_Q15) {
        if (L->storage == SCALPEL_STORAGE_DENSE)
            scalpel_gemm_q15((const int16_t *)L->w, L->geom.rows, L->geom.cols, (const int16_t *)x, n, &L->rq, (int16_t *)y);
        else
            scalpel_gcsr_spmm_q15(&L->sparse, (const int16_t *)x, n, &L->rq, (int16_t *)y);
    } else {
        if (L->storage == SCALPEL_STORAGE_DENSE)
            scalpel_gemm_q7((const int8_t *)L->w, L->geom.rows, L->geom.cols, (const int8_t *)x, n, &L->rq, (int8_t *)y);
        else
            scalpel_gcsr_spmm_q7(&L->sparse, (const int8_t *)x, n, &L->rq, (int8_t *)y);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Shape rules shared by the kinds: windows, elementwise shapes, real parameters              */
/* ---------------------------------------------------------------------------------------- */

/* 1 when v is finite (NaN and infinities fail every comparison below). */
SCALPEL__PRIV int scalpel__real_ok(float v) { return v > -3.0e38f && v < 3.0e38f; }

/* Shared by the windowed kinds (conv2d, maxpool, avgpool). Fills the general window fields of g
 * from the first version's kernel / stride / pad when they are unset (kernel_h == 0), checks
 * them (every size in [1, 4096], every pad smaller than the dilated kernel, dilation and groups
 * 1 unless `conv`), computes out_h and out_w (SCALPEL_POOL_CEIL when `pool`), and sets kernel,
 * stride and pad to the square window when there is one (scalpel_layer_geom). */
SCALPEL__PRIV scalpel_status scalpel__window_infer(scalpel_layer_geom *g, int conv, int pool)
{
    int64_t ekh, ekw, oh, ow, span_h, span_w;
    int32_t flags = conv ? 0 : (SCALPEL_POOL_CEIL | (pool == 2 ? SCALPEL_POOL_COUNT_PADS : 0));
    if (g->kernel_h == 0 && g->kernel_w == 0) { /* the first version's square window */
        g->kernel_h = g->kernel_w = g->kernel;
        g->stride_h = g->stride_w = g->stride;
        g->pad_top = g->pad_left = g->pad_bottom = g->pad_right = g->pad;
        g->dilation_h = g->dilation_w = 1;
        g->groups = 1;
    }
    if (g->kernel_h < 1 || g->kernel_w < 1 || g->kernel_h > 4096 || g->kernel_w > 4096 || g->stride_h < 1 ||
        g->stride_w < 1 || g->stride_h > 4096 || g->stride_w > 4096 || g->dilation_h < 1 || g->dilation_w < 1 ||
        g->dilation_h > 4096 || g->dilation_w > 4096 || g->groups < 1 || (g->mode & ~flags) != 0)
        return SCALPEL_ERR_ARGUMENT;
    if (!conv && (g->dilation_h != 1 || g->dilation_w != 1 || g->groups != 1)) return SCALPEL_ERR_ARGUMENT;
    if (g->from2 != 0 || g->alpha != 0.0f || g->beta != 0.0f || g->k != 0.0f) return SCALPEL_ERR_ARGUMENT;
    ekh = (int64_t)(g->kernel_h - 1) * g->dilation_h + 1;
    ekw = (int64_t)(g->kernel_w - 1) * g->dilation_w + 1;
    if (g->pad_top < 0 || g->pad_left < 0 || g->pad_bottom < 0 || g->pad_right < 0 || g->pad_top >= ekh ||
        g->pad_bottom >= ekh || g->pad_left >= ekw || g->pad_right >= ekw)
        return SCALPEL_ERR_ARGUMENT;
    span_h = (int64_t)g->in_h + g->pad_top + g->pad_bottom - ekh;
    span_w = (int64_t)g->in_w + g->pad_left + g->pad_right - ekw;
    if (span_h < 0 || span_w < 0) return SCALPEL_ERR_SHAPE;
    if (g->mode & SCALPEL_POOL_CEIL) {
        oh = (span_h + g->stride_h - 1) / g->stride_h + 1;
        ow = (span_w + g->stride_w - 1) / g->stride_w + 1;
        /* the last window must start inside the input or its top / left padding */
        if ((oh - 1) * g->stride_h >= (int64_t)g->in_h + g->pad_top) oh--;
        if ((ow - 1) * g->stride_w >= (int64_t)g->in_w + g->pad_left) ow--;
    } else {
        oh = span_h / g->stride_h + 1;
        ow = span_w / g->stride_w + 1;
    }
    if (oh * ow > INT32_MAX) return SCALPEL_ERR_OVERFLOW;
    g->out_h = (int32_t)oh;
    g->out_w = (int32_t)ow;
    if (g->kernel_h == g->kernel_w && g->stride_h == g->stride_w && g->pad_top == g->pad_left &&
        g->pad_top == g->pad_bottom && g->pad_top == g->pad_right && g->dilation_h == 1 && g->dilation_w == 1 &&
        g->groups == 1 && g->mode == 0) {
        g->kernel = g->kernel_h; g->stride = g->stride_h; g->pad = g->pad_top;
    } else {
        g->kernel = g->stride = g->pad = 0;
    }
    return SCALPEL_OK;
}

/* 1 when the window is what the first version of the library ran (square, even, plain, and
 * for max pooling unpadded): the fixed-point, training and GPU code reads only kernel, stride
 * and pad. */
SCALPEL__PRIV int scalpel__window_basic(const scalpel_layer_geom *g)
{
    if (g->kernel == 0) return 0;
    return g->kind != SCALPEL_LAYER_MAXPOOL || g->pad == 0;
}

/* The window fields alone zero: kinds without a window check this. */
SCALPEL__PRIV int scalpel__no_window(const scalpel_layer_geom *g)
{
    return g->kernel == 0 && g->stride == 0 && g->pad == 0 && g->kernel_h == 0 && g->kernel_w == 0 &&
           g->stride_h == 0 && g->stride_w == 0 && g->pad_top == 0 && g->pad_left == 0 && g->pad_bottom == 0 &&
           g->pad_right == 0 && g->dilation_h == 0 && g->dilation_w == 0 && g->groups == 0;
}

/* The elementwise kinds: same shape out, no window, no weights, one input; `reals` says how
 * many of alpha, beta, k the kind uses (the others must be 0) and mode must be 0. */
SCALPEL__PRIV scalpel_status scalpel__same_shape(scalpel_layer_geom *g, int32_t outputs, int reals)
{
    if (outputs != 0 || !scalpel__no_window(g) || g->mode != 0 || g->from2 != 0) return SCALPEL_ERR_ARGUMENT;
    if ((reals < 1 && g->alpha != 0.0f) || (reals < 2 && g->beta != 0.0f) || (reals < 3 && g->k != 0.0f))
        return SCALPEL_ERR_ARGUMENT;
    g->out_c = g->in_c; g->out_h = g->in_h; g->out_w = g->in_w;
    return SCALPEL_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* >>layer fc: y[outputs] = W[outputs x inputs] . flatten(x) + b                            */
/* ---------------------------------------------------------------------------------------- */

static scalpel_status scalpel__fc_shape(scalpel_layer_geom *g, int32_t outputs)
{
    int64_t in_size = (int64_t)g->in_c * g->in_h * g->in_w;
    if (!scalpel__no_window(g) || g->mode != 0 || g->from2 != 0 || g->alpha != 0.0f || g->beta != 0.0f || g->k != 0.0f)
        return SCALPEL_ERR_ARGUMENT;
    if (outputs < 1) return SCALPEL_ERR_SHAPE;
    if ((int64_t)outputs * in_size > INT32_MAX) return SCALPEL_ERR_OVERFLOW;
    g->rows = outputs; g->cols = (int32_t)in_size;
    g->out_c = outputs; g->out_h = 1; g->out_w = 1;
    return SCALPEL_OK;
}

/* batch > 1: the transposed input [cols x batch] and output [rows x batch] */
static size_t scalpel__fc_scratch(const scalpel_layer_geom *g, int32_t batch)
{
    if (batch <= 1) return 0;
    return scalpel__size_mul((size_t)batch, scalpel__size_add((size_t)g->cols, (size_t)g->rows));
}

/* A fully connected layer over the whole batch. Batch 1 is the matrix-vector product. For a
 * batch, the kernels compute C = W . B with B [inputs x batch]: transpose the samples in,
 * multiply, transpose back, so the batch reuses each weight from cache instead of streaming
 * the matrix once per sample. */
static void scalpel__fc_forward(const scalpel_layer *L, const float *in, const float *in2, int32_t batch, float *out,
                                float *scratch, int relu)
{
    int32_t rows = L->geom.rows, cols = L->geom.cols, s, r, c;
    (void)in2;
    if (batch == 1) {
        scalpel__layer_mv(L, in, out);
        scalpel__bias_act(out, L->b, rows, 1, L, relu);
        return;
    } else {
        float *xt = scratch, *yt = scratch + (size_t)cols * (size_t)batch;
        for (s = 0; s < batch; s++)
            for (c = 0; c < cols; c++) xt[(size_t)c * (size_t)batch + (size_t)s] = in[(size_t)s * (size_t)cols + (size_t)c];
        scalpel__layer_mm(L, xt, batch, yt);
        for (s = 0; s < batch; s++)
            for (r = 0; r < rows; r++) {
                float v = yt[(size_t)r * (size_t)batch + (size_t)s] + L->b[r];
                if (relu == 2) {
                    v = v < L[1].geom.alpha ? L[1].geom.alpha : v;
                    v = v > L[1].geom.beta ? L[1].geom.beta : v;
                } else if (relu && !(v > 0.0f)) {
                    v = 0.0f;
                }
                out[(size_t)s * (size_t)rows + (size_t)r] = v;
            }
    }
}

/* out[r] = b[r] + sum_c W[r][c] in[c], in double */
static void scalpel__fc_forward_ref(const scalpel_layer *L, const float *in, const float *in2, float *out)
{
    const scalpel_layer_geom *g = &L->geom;
    const float *w = L->w, *b = L->b;
    int32_t r, c;
    (void)in2;
    for (r = 0; r < g->rows; r++) {
        double acc = b[r];
        for (c = 0; c < g->cols; c++) acc += (double)w[(size_t)r * (size_t)g->cols + (size_t)c] * in[c];
        out[r] = (float)acc;
    }
}

/* batch > 1: the product [rows x batch] before it is transposed back */
static size_t scalpel__fc_qscratch(const scalpel_layer_geom *g, int32_t batch)
{
    return batch > 1 ? scalpel__size_mul((size_t)batch, (size_t)g->rows) : 0;
}

static void scalpel__fc_forward_q(const scalpel_qnet *q, const scalpel_qlayer *L, const void *in, const void *in2,
                                  int32_t batch, void *out, void *scratch)
{
    (void)in2;
    if (batch == 1) {
        scalpel__qlayer_mv(q, L, in, out);
        return;
    }
    scalpel__qlayer_mm(q, L, in, batch, scratch);
    if (q->dtype == SCALPEL_DTYPE_Q15)
        scalpel__q_untranspose_q15((const int16_t *)scratch, L->geom.rows, batch, (int16_t *)out);
    else
        scalpel__q_untranspose_q7((const int8_t *)scratch, L->geom.rows, batch, (int8_t *)out);
}

/* ---------------------------------------------------------------------------------------- */
/* >>layer conv2d: per group, y[out_c/g x OH x OW] = W_g[out_c/g x in_c/g*kh*kw] . im2col(x_g) + b */
/* ---------------------------------------------------------------------------------------- */

static scalpel_status scalpel__conv2d_shape(scalpel_layer_geom *g, int32_t outputs)
{
    int64_t cols, positions;
    scalpel_status st;
    if (outputs < 1) return SCALPEL_ERR_SHAPE;
    st = scalpel__window_infer(g, 1, 0);
    if (st != SCALPEL_OK) return st;
    if (g->in_c % g->groups != 0 || outputs % g->groups != 0) return SCALPEL_ERR_SHAPE;
    cols = (int64_t)(g->in_c / g->groups) * g->kernel_h * g->kernel_w; /* each <= 4096: at most 2^55 */
    positions = (int64_t)g->out_h * g->out_w;
    if (cols > INT32_MAX || (int64_t)outputs * cols > INT32_MAX || cols * positions > INT32_MAX ||
        (int64_t)outputs * positions > INT32_MAX)
        return SCALPEL_ERR_OVERFLOW;
    g->rows = outputs; g->cols = (int32_t)cols;
    g->out_c = outputs;
    return SCALPEL_OK;
}

/* The window of a conv2d layer as the kernels take it (scalpel_conv_window). */
SCALPEL__PRIV scalpel_conv_window scalpel__conv_window_of(const scalpel_layer_geom *g)
{
    scalpel_conv_window win;
    win.kh = g->kernel_h; win.kw = g->kernel_w;
    win.sh = g->stride_h; win.sw = g->stride_w;
    win.pt = g->pad_top; win.pl = g->pad_left;
    win.dh = g->dilation_h; win.dw = g->dilation_w;
    return win;
}

/* the im2col matrix of one group of one sample [cols x OH*OW]; for a depthwise layer at least
 * the padded channel of scalpel_dwconv_f32 */
static size_t scalpel__conv2d_scratch(const scalpel_layer_geom *g, int32_t batch)
{
    size_t n = scalpel__size_mul((size_t)g->cols, (size_t)g->out_h * (size_t)g->out_w), pad;
    (void)batch;
    /* the padded copy of the implicit im2col (scalpel__conv_implicit) */
    pad = scalpel__size_mul((size_t)g->in_c, scalpel__size_mul((size_t)g->in_h + (size_t)g->pad_top + (size_t)g->pad_bottom,
                                                                (size_t)g->in_w + (size_t)g->pad_left + (size_t)g->pad_right));
    if (pad > n) n = pad;
    if (g->groups > 1 && g->groups == g->in_c) {
        scalpel_conv_window win = scalpel__conv_window_of(g);
        size_t d = scalpel_dwconv_f32_scratch(&win, g->out_h, g->out_w);
        if (d > n) n = d;
    }
    return n;
}

/* im2col of the channels [c0, c0 + cn) of one sample for the positions [p0, p0 + np), rows
 * of col ld floats apart (scalpel_im2col_window_f32 with the layer's window). */
SCALPEL__PRIV void scalpel__im2col_window(const float *in, const scalpel_layer_geom *g, int32_t c0, int32_t cn,
                                          int32_t p0, int32_t np, float *col, size_t ld)
{
    scalpel_conv_window win = scalpel__conv_window_of(g);
    scalpel_im2col_window_f32(in, g->in_h, g->in_w, c0, cn, &win, g->out_h, g->out_w, p0, np, col, ld);
}

/* C[rows x P] = W[rows x cols] . im2col(channels [c0, c0 + cn) of in) for a dense layer's rows
 * w, the product in blocks of SCALPEL__CONV_BLOCK positions: each block's im2col columns go to
 * col with rows SCALPEL__CONV_BLOCK + 16 floats apart (a row stride that is no multiple of 2 KiB,
 * so that the GEMM's k-rows do not fall on the same cache sets, as those of a 32 x 32 map,
 * 4 KiB apart, do), and the GEMM writes straight into C. A 1x1 window at stride 1 without
 * padding multiplies the input itself. */
#define SCALPEL__CONV_BLOCK 256
SCALPEL__PRIV void scalpel__conv_dense_rows(const scalpel_layer_geom *g, const float *w, int32_t rows, const float *in,
                                            int32_t c0, int32_t cn, int plain_1x1, float *col, float *out)
{
    int32_t P = g->out_h * g->out_w, k = cn * g->kernel_h * g->kernel_w, p0;
    const size_t ld = SCALPEL__CONV_BLOCK + 16;
    if (plain_1x1) {
        scalpel_gemm_f32(w, rows, k, in + (size_t)c0 * (size_t)P, P, out);
        return;
    }
    if (P <= SCALPEL__CONV_BLOCK) {
        scalpel__im2col_window(in, g, c0, cn, 0, P, col, (size_t)P);
        scalpel_gemm_f32(w, rows, k, col, P, out);
        return;
    }
    for (p0 = 0; p0 < P; p0 += SCALPEL__CONV_BLOCK) {
        int32_t np = P - p0 < SCALPEL__CONV_BLOCK ? P - p0 : SCALPEL__CONV_BLOCK;
        scalpel__im2col_window(in, g, c0, cn, p0, np, col, ld);
        scalpel_gemm_f32_ld(w, rows, k, col, ld, np, out + p0, (size_t)P);
    }
}

/* Rows [r0, r0 + n) of a grouped-CSR matrix as one of its own (the row pointers stay absolute
 * offsets into the same values and indices, which is all the kernels read). */
SCALPEL__PRIV scalpel_gcsr scalpel__gcsr_rows(const scalpel_gcsr *m, int32_t r0, int32_t n)
{
    scalpel_gcsr v = *m;
    v.rows = n;
    v.row_ptr = m->row_ptr + r0;
    v.block = NULL;
    return v;
}

/* 1 when a dense convolution runs scalpel_conv_gemm_f32 (the implicit im2col): a square kernel
 * larger than 1x1 at stride 1, no dilation, one group, and an output width that is a multiple
 * of the vector width (vw > 1). */
SCALPEL__PRIV int scalpel__conv_implicit(const scalpel_layer_geom *g, int32_t vw)
{
    return g->groups == 1 && g->kernel_h == g->kernel_w && g->kernel_h > 1 && g->stride_h == 1 && g->stride_w == 1 &&
           g->dilation_h == 1 && g->dilation_w == 1 && vw > 1 && g->out_w % vw == 0;
}

/* dst[C x (H + pt + pb) x (W + pl + pr)] = the input with its padding as zeros. */
SCALPEL__PRIV void scalpel__pad_copy(const float *in, const scalpel_layer_geom *g, float *dst)
{
    int32_t c, y, hp = g->in_h + g->pad_top + g->pad_bottom, wp = g->in_w + g->pad_left + g->pad_right;
    for (c = 0; c < g->in_c; c++) {
        float *d = dst + (size_t)c * (size_t)hp * (size_t)wp;
        const float *sp = in + (size_t)c * (size_t)g->in_h * (size_t)g->in_w;
        memset(d, 0, (size_t)g->pad_top * (size_t)wp * sizeof(float));
        for (y = 0; y < g->in_h; y++) {
            float *r = d + (size_t)(g->pad_top + y) * (size_t)wp;
            if (g->pad_left) memset(r, 0, (size_t)g->pad_left * sizeof(float));
            memcpy(r + g->pad_left, sp + (size_t)y * (size_t)g->in_w, (size_t)g->in_w * sizeof(float));
            if (g->pad_right) memset(r + g->pad_left + g->in_w, 0, (size_t)g->pad_right * sizeof(float));
        }
        memset(d + (size_t)(g->pad_top + g->in_h) * (size_t)wp, 0, (size_t)g->pad_bottom * (size_t)wp * sizeof(float));
    }
}

/* One sample through a convolution. groups == 1: im2col, then W . col (dense GEMM or grouped
 * sparse matrix-matrix), which lands directly in CHW order; a 1x1 convolution with stride 1
 * and no padding needs no im2col (the input already is the matrix); dense weights, a square
 * window at stride 1 without padding and an output width that is a multiple of the vector
 * width skip the im2col matrix (scalpel_conv_gemm_f32: the same products in the same order,
 * so the same outputs bit for bit, 1.1-1.3x faster on LeNet-5's shapes). A depthwise layer
 * with dense weights runs directly (scalpel__depthwise_f32); other grouped ones run each group
 * as its own product over its slice of channels. Then the bias per output channel (and the
 * next layer's ReLU when `relu`). */
static void scalpel__conv2d_sample(const scalpel_layer *L, const float *in, float *out, float *col, int relu)
{
    const scalpel_layer_geom *g = &L->geom;
    int32_t positions = g->out_h * g->out_w, vw = scalpel_kernels_vector_width(), grp;
    int plain_1x1 = g->kernel_h == 1 && g->kernel_w == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
                    g->pad_left == 0 && g->pad_bottom == 0 && g->pad_right == 0;
    if (g->groups == 1) {
        const float *B = in;
        if (L->storage == SCALPEL_STORAGE_DENSE && scalpel__conv_implicit(g, vw)) {
            /* a square window at stride 1: the implicit im2col, on a zero-padded copy of the
               input when the layer pads (ResNet's and ConvNet's "same" convolutions) */
            const float *src = in;
            int32_t hp = g->in_h + g->pad_top + g->pad_bottom, wp = g->in_w + g->pad_left + g->pad_right;
            if (hp != g->in_h || wp != g->in_w) {
                scalpel__pad_copy(in, g, col);
                src = col;
            }
            scalpel_conv_gemm_f32(L->w, g->rows, src, g->in_c, hp, wp, g->kernel_h, out);
            scalpel__bias_act(out, L->b, g->rows, positions, L, relu);
            return;
        }
        if (L->storage == SCALPEL_STORAGE_DENSE) {
            scalpel__conv_dense_rows(g, L->w, g->rows, in, 0, g->in_c, plain_1x1, col, out);
        } else {
            if (!plain_1x1) {
                scalpel__im2col_window(in, g, 0, g->in_c, 0, positions, col, (size_t)positions);
                B = col;
            }
            scalpel__layer_mm(L, B, positions, out);
        }
    } else if (L->storage == SCALPEL_STORAGE_DENSE && g->groups == g->in_c) {
        scalpel_conv_window win = scalpel__conv_window_of(g);
        scalpel_dwconv_f32(in, g->in_c, g->in_h, g->in_w, g->out_c / g->in_c, L->w, &win, g->out_h, g->out_w, col, out);
    } else {
        int32_t cg = g->in_c / g->groups, og = g->out_c / g->groups;
        for (grp = 0; grp < g->groups; grp++) {
            const float *B = in + (size_t)grp * (size_t)cg * (size_t)positions;
            float *C = out + (size_t)grp * (size_t)og * (size_t)positions;
            if (L->storage == SCALPEL_STORAGE_DENSE) {
                scalpel__conv_dense_rows(g, L->w + (size_t)grp * (size_t)og * (size_t)g->cols, og, in, grp * cg, cg, plain_1x1,
                                         col, C);
            } else { /* grouped CSR: the group's rows (HYBRID and TASD are refused for grouped layers) */
                scalpel_gcsr rows = scalpel__gcsr_rows(&L->sparse, grp * og, og);
                if (!plain_1x1) {
                    scalpel__im2col_window(in, g, grp * cg, cg, 0, positions, col, (size_t)positions);
                    B = col;
                }
                scalpel_gcsr_spmm_f32(&rows, B, positions, C);
            }
        }
    }
    scalpel__bias_act(out, L->b, g->rows, positions, L, relu);
}

static void scalpel__conv2d_forward(const scalpel_layer *L, const float *in, const float *in2, int32_t batch,
                                    float *out, float *scratch, int relu)
{
    size_t s, li = (size_t)L->geom.in_c * (size_t)L->geom.in_h * (size_t)L->geom.in_w;
    size_t lo = (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w;
    (void)in2;
    for (s = 0; s < (size_t)batch; s++) scalpel__conv2d_sample(L, in + s * li, out + s * lo, scratch, relu);
}

/* out[o][y][x] = b[o] + sum over c, i, j of W[o][c][i][j] in[g*C/groups + c][y*sh + i*dh - pt]
 * [x*sw + j*dw - pl] (zero outside the input; g = o's group), in double */
static void scalpel__conv2d_forward_ref(const scalpel_layer *L, const float *in, const float *in2, float *out)
{
    const scalpel_layer_geom *g = &L->geom;
    int32_t o, c, y, x, i, j, cg = g->in_c / g->groups, og = g->out_c / g->groups;
    (void)in2;
    for (o = 0; o < g->out_c; o++)
        for (y = 0; y < g->out_h; y++)
            for (x = 0; x < g->out_w; x++) {
                double acc = L->b[o];
                for (c = 0; c < cg; c++)
                    for (i = 0; i < g->kernel_h; i++)
                        for (j = 0; j < g->kernel_w; j++) {
                            int32_t iy = y * g->stride_h + i * g->dilation_h - g->pad_top;
                            int32_t ix = x * g->stride_w + j * g->dilation_w - g->pad_left;
                            int32_t ic = (o / og) * cg + c;
                            if (iy < 0 || ix < 0 || iy >= g->in_h || ix >= g->in_w) continue;
                            acc += (double)L->w[(((size_t)o * (size_t)cg + (size_t)c) * (size_t)g->kernel_h + (size_t)i) *
                                                    (size_t)g->kernel_w + (size_t)j] *
                                   in[((size_t)ic * (size_t)g->in_h + (size_t)iy) * (size_t)g->in_w + (size_t)ix];
                        }
                out[((size_t)o * (size_t)g->out_h + (size_t)y) * (size_t)g->out_w + (size_t)x] = (float)acc;
            }
}

/* Output positions per block of the fixed-point convolution: its im2row rows and its block of
 * outputs are all the scratch it needs (a whole map's im2row would be the largest buffer of
 * the network: ResNet-8's first 3x3 layers, 144 x 1024 values). A map whose whole im2row
 * holds at most SCALPEL__Q_CONV_WHOLE values goes in one block, without the copy of the
 * outputs (LeNet-5's first layer: 576 x 25). */
#define SCALPEL__Q_CONV_BLOCK 64
#ifndef SCALPEL__Q_CONV_WHOLE /* tests set it to 0: every map of more than a block in blocks */
#define SCALPEL__Q_CONV_WHOLE 16384
#endif

/* Positions per block of a conv2d layer (scalpel__conv2d_forward_q, its scratch). */
SCALPEL__PRIV int32_t scalpel__q_conv_block(const scalpel_layer_geom *g)
{
    int64_t P = (int64_t)g->out_h * g->out_w;
    return P * g->cols <= SCALPEL__Q_CONV_WHOLE || P <= SCALPEL__Q_CONV_BLOCK ? (int32_t)P : SCALPEL__Q_CONV_BLOCK;
}

/* one block of im2row rows [block x in_c/groups*kh*kw] (scalpel__q_conv_block) and, when the
 * map takes more than one block, the block's outputs [out_c/groups x block]; for a depthwise layer the
 * larger of that and scalpel_dwconv_q*'s padded channel (the layer's storage, dense or not,
 * is not part of its shape) */
static size_t scalpel__conv2d_qscratch(const scalpel_layer_geom *g, int32_t batch)
{
    size_t P = (size_t)g->out_h * (size_t)g->out_w, b = (size_t)scalpel__q_conv_block(g);
    size_t n = scalpel__size_mul((size_t)g->cols, b);
    (void)batch;
    if (P > b) n = scalpel__size_add(n, scalpel__size_mul((size_t)(g->out_c / g->groups), b));
    if (g->groups > 1 && g->groups == g->in_c) {
        scalpel_conv_window win = scalpel__conv_window_of(g);
        size_t d = scalpel_dwconv_q_scratch(&win, g->out_h, g->out_w);
        if (d > n) n = d;
    }
    return n;
}

/* Y[n_rows x n] = requant(W[r0 .. r0 + n_rows) . X[n x cols]^T): rows [r0, r0 + n_rows) of a
 * weighted layer (one group of a grouped convolution) with their slice of the requant. */
static void scalpel__qlayer_rows_mm(const scalpel_qnet *q, const scalpel_qlayer *L, int32_t r0, int32_t n_rows,
                                    const void *x, int32_t n, void *y)
{
    scalpel_qlayer v = *L;
    v.geom.rows = n_rows;
    if (L->storage == SCALPEL_STORAGE_DENSE)
        v.w = (const unsigned char *)L->w + (size_t)r0 * (size_t)L->geom.cols * scalpel__q_esz(q->dtype);
    else
        v.sparse = scalpel__gcsr_rows(&L->sparse, r0, n_rows);
    if (v.rq.bias) v.rq.bias += r0;
    if (v.rq.per_channel) { v.rq.mult += r0; v.rq.shift += r0; }
    scalpel__qlayer_mm(q, &v, x, n, y);
}

/* rows[p - p0][c] = x[c][p] for c < C, p in [p0, p0 + np) of P positions: a 1x1 convolution's
 * input as the matrix-matrix kernels take it (each position's channels contiguous), with no
 * im2col: one copy of the input against out_c multiply-accumulates per value. */
static void scalpel__q_transpose(size_t esz, const void *x, int32_t C, int32_t P, int32_t p0, int32_t np, void *rows)
{
    int32_t c, p;
    if (esz == 2) {
        const int16_t *a = (const int16_t *)x + p0;
        int16_t *r = (int16_t *)rows;
        for (c = 0; c < C; c++, a += P)
            for (p = 0; p < np; p++) r[(size_t)p * (size_t)C + (size_t)c] = a[p];
    } else {
        const int8_t *a = (const int8_t *)x + p0;
        int8_t *r = (int8_t *)rows;
        for (c = 0; c < C; c++, a += P)
            for (p = 0; p < np; p++) r[(size_t)p * (size_t)C + (size_t)c] = a[p];
    }
}


/* One sample at a time: a dense depthwise layer runs scalpel_dwconv_q* directly. Every other
 * layer goes group by group and, within a group, block by block of SCALPEL__Q_CONV_BLOCK
 * output positions: the block's rows (a 1x1 layer at stride 1 without padding: its input
 * transposed, scalpel__q_transpose; a square window of a map that fits one block: the first
 * version's im2row; any other: scalpel_im2row_window_q*), then the matrix-matrix kernel of the
 * layer's storage on the group's rows, into the output (one block) or into scratch and copied
 * to the block's columns. */
static void scalpel__conv2d_forward_q(const scalpel_qnet *q, const scalpel_qlayer *L, const void *in, const void *in2,
                                      int32_t batch, void *out, void *scratch)
{
    const scalpel_layer_geom *g = &L->geom;
    size_t esz = scalpel__q_esz(q->dtype), s;
    size_t li = (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w * esz;
    size_t lo = (size_t)g->out_c * (size_t)g->out_h * (size_t)g->out_w * esz;
    int32_t positions = g->out_h * g->out_w, cg = g->in_c / g->groups, og = g->out_c / g->groups, grp;
    int q15 = q->dtype == SCALPEL_DTYPE_Q15;
    int plain_1x1 = g->kernel_h == 1 && g->kernel_w == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
                    g->pad_left == 0 && g->pad_bottom == 0 && g->pad_right == 0 && g->dilation_h == 1 && g->dilation_w == 1;
    scalpel_conv_window win = scalpel__conv_window_of(g);
    (void)in2;
    for (s = 0; s < (size_t)batch; s++) {
        const void *x = (const unsigned char *)in + s * li;
        unsigned char *y = (unsigned char *)out + s * lo;
        if (L->storage == SCALPEL_STORAGE_DENSE && g->groups > 1 && g->groups == g->in_c) {
            if (q15)
                scalpel_dwconv_q15((const int16_t *)x, g->in_c, g->in_h, g->in_w, og, (const int16_t *)L->w, &win,
                                   g->out_h, g->out_w, &L->rq, (int16_t *)scratch, (int16_t *)(void *)y);
            else
                scalpel_dwconv_q7((const int8_t *)x, g->in_c, g->in_h, g->in_w, og, (const int8_t *)L->w, &win, g->out_h,
                                  g->out_w, &L->rq, (int8_t *)scratch, (int8_t *)y);
            continue;
        }
        for (grp = 0; grp < g->groups; grp++) {
            unsigned char *yg = y + (size_t)grp * (size_t)og * (size_t)positions * esz;
            int32_t p0, r, block = scalpel__q_conv_block(g);
            for (p0 = 0; p0 < positions; p0 += block) {
                int32_t np = positions - p0 < block ? positions - p0 : block;
                int whole = np == positions;
                unsigned char *yb = whole ? yg : (unsigned char *)scratch + (size_t)np * (size_t)g->cols * esz;
                if (plain_1x1)
                    scalpel__q_transpose(esz, (const unsigned char *)x + (size_t)grp * (size_t)cg * (size_t)positions * esz,
                                         cg, positions, p0, np, scratch);
                else if (whole && scalpel__window_basic(g) && q15)
                    scalpel_im2row_q15((const int16_t *)x, g->in_c, g->in_h, g->in_w, g->kernel, g->stride, g->pad,
                                       (int16_t *)scratch);
                else if (whole && scalpel__window_basic(g))
                    scalpel_im2row_q7((const int8_t *)x, g->in_c, g->in_h, g->in_w, g->kernel, g->stride, g->pad,
                                      (int8_t *)scratch);
                else if (q15)
                    scalpel_im2row_window_q15((const int16_t *)x, g->in_h, g->in_w, grp * cg, cg, &win, g->out_w, p0, np,
                                              (int16_t *)scratch);
                else
                    scalpel_im2row_window_q7((const int8_t *)x, g->in_h, g->in_w, grp * cg, cg, &win, g->out_w, p0, np,
                                             (int8_t *)scratch);
                scalpel__qlayer_rows_mm(q, L, grp * og, og, scratch, np, yb);
                if (!whole)
                    for (r = 0; r < og; r++)
                        memcpy(yg + ((size_t)r * (size_t)positions + (size_t)p0) * esz, yb + (size_t)r * (size_t)np * esz,
                               (size_t)np * esz);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* >>layer maxpool: y[C x OH x OW] = max over kh x kw windows of x[C x H x W]                */
/* ---------------------------------------------------------------------------------------- */

static scalpel_status scalpel__maxpool_shape(scalpel_layer_geom *g, int32_t outputs)
{
    if (outputs != 0) return SCALPEL_ERR_ARGUMENT;
    g->out_c = g->in_c;
    return scalpel__window_infer(g, 0, 1);
}

/* The pools' float scratch: scalpel_pool_window_f32's for any window (none for the square
 * unpadded max pooling of the first version, scalpel_maxpool_f32). */
static size_t scalpel__maxpool_scratch(const scalpel_layer_geom *g, int32_t batch)
{
    scalpel_conv_window win = scalpel__conv_window_of(g);
    (void)batch;
    return scalpel__window_basic(g) ? 0 : scalpel_pool_window_f32_scratch(&win, g->out_h, g->out_w);
}

static void scalpel__maxpool_forward(const scalpel_layer *L, const float *in, const float *in2, int32_t batch,
                                     float *out, float *scratch, int relu)
{
    const scalpel_layer_geom *g = &L->geom;
    size_t s, li = (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w;
    size_t lo = (size_t)g->out_c * (size_t)g->out_h * (size_t)g->out_w;
    scalpel_conv_window win = scalpel__conv_window_of(g);
    (void)relu; (void)in2;
    for (s = 0; s < (size_t)batch; s++) {
        if (scalpel__window_basic(g))
            scalpel_maxpool_f32(in + s * li, g->in_c, g->in_h, g->in_w, g->kernel, g->stride, out + s * lo);
        else
            scalpel_pool_window_f32(in + s * li, g->in_c, g->in_h, g->in_w, &win, g->pad_bottom, g->pad_right,
                                    SCALPEL_POOL_OP_MAX, g->out_h, g->out_w, scratch, out + s * lo);
    }
}

/* out[c][y][x] = max of in[c][y*sh + i - pt][x*sw + j - pl] over the cells inside the input */
static void scalpel__maxpool_forward_ref(const scalpel_layer *L, const float *in, const float *in2, float *out)
{
    const scalpel_layer_geom *g = &L->geom;
    int32_t c, y, x, i, j;
    (void)in2;
    for (c = 0; c < g->out_c; c++)
        for (y = 0; y < g->out_h; y++)
            for (x = 0; x < g->out_w; x++) {
                int have = 0;
                float m = 0.0f;
                for (i = 0; i < g->kernel_h; i++)
                    for (j = 0; j < g->kernel_w; j++) {
                        int32_t iy = y * g->stride_h + i - g->pad_top, ix = x * g->stride_w + j - g->pad_left;
                        float v;
                        if (iy < 0 || ix < 0 || iy >= g->in_h || ix >= g->in_w) continue;
                        v = in[((size_t)c * (size_t)g->in_h + (size_t)iy) * (size_t)g->in_w + (size_t)ix];
                        if (!have || v > m) m = v;
                        have = 1;
                    }
                out[((size_t)c * (size_t)g->out_h + (size_t)y) * (size_t)g->out_w + (size_t)x] = m;
            }
}

/* The pooling layers in fixed point, one sample at a time: the first version's square unpadded
 * max pooling by its row kernels, any other window by scalpel_pool_window_q*. */
static void scalpel__pool_forward_q(const scalpel_qnet *q, const scalpel_qlayer *L, const void *in, int32_t batch,
                                    void *out, int32_t op)
{
    const scalpel_layer_geom *g = &L->geom;
    size_t esz = scalpel__q_esz(q->dtype), s;
    size_t li = (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w * esz;
    size_t lo = (size_t)g->out_c * (size_t)g->out_h * (size_t)g->out_w * esz;
    scalpel_conv_window win = scalpel__conv_window_of(g);
    int basic = op == SCALPEL_POOL_OP_MAX && scalpel__window_basic(g);
    for (s = 0; s < (size_t)batch; s++) {
        const unsigned char *x = (const unsigned char *)in + s * li;
        unsigned char *y = (unsigned char *)out + s * lo;
        if (q->dtype == SCALPEL_DTYPE_Q15 && basic)
            scalpel_maxpool_q15((const int16_t *)(const void *)x, g->in_c, g->in_h, g->in_w, g->kernel, g->stride,
                                (int16_t *)(void *)y);
        else if (basic)
            scalpel_maxpool_q7((const int8_t *)x, g->in_c, g->in_h, g->in_w, g->kernel, g->stride, (int8_t *)y);
        else if (q->dtype == SCALPEL_DTYPE_Q15)
            scalpel_pool_window_q15((const int16_t *)(const void *)x, g->in_c, g->in_h, g->in_w, &win, g->pad_bottom,
                                    g->pad_right, op, g->out_h, g->out_w, (int16_t *)(void *)y);
        else
            scalpel_pool_window_q7((const int8_t *)x, g->in_c, g->in_h, g->in_w, &win, g->pad_bottom, g->pad_right, op,
                                   g->out_h, g->out_w, (int8_t *)y);
    }
}

static void scalpel__maxpool_forward_q(const scalpel_qnet *q, const scalpel_qlayer *L, const void *in, const void *in2,
                                       int32_t batch, void *out, void *scratch)
{
    (void)in2; (void)scratch;
    scalpel__pool_forward_q(q, L, in, batch, out, SCALPEL_POOL_OP_MAX);
}

/* ---------------------------------------------------------------------------------------- */
/* >>layer relu: y = max(x, 0), same shape                                                    */
/* ---------------------------------------------------------------------------------------- */

static scalpel_status scalpel__relu_shape(scalpel_layer_geom *g, int32_t outputs)
{
    return scalpel__same_shape(g, outputs, 0);
}

static void scalpel__relu_forward(const scalpel_layer *L, const float *in, const float *in2, int32_t batch, float *out,
                                  float *scratch, int relu)
{
    size_t n = (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w * (size_t)batch;
    (void)scratch; (void)relu; (void)in2;
    scalpel_relu_f32(in, n, out);
}

static void scalpel__relu_forward_ref(const scalpel_layer *L, const float *in, const float *in2, float *out)
{
    size_t k, n = (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w;
    (void)in2;
    for (k = 0; k < n; k++) out[k] = in[k] > 0.0f ? in[k] : 0.0f;
}

static void scalpel__relu_forward_q(const scalpel_qnet *q, const scalpel_qlayer *L, const void *in, const void *in2,
                                    int32_t batch, void *out, void *scratch)
{
    size_t n = (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w * (size_t)batch;
    (void)scratch; (void)in2;
    if (q->dtype == SCALPEL_DTYPE_Q15) scalpel_relu_q15((const int16_t *)in, n, (int16_t *)out);
    else scalpel_relu_q7((const int8_t *)in, n, (int8_t *)out);
}

/* ---------------------------------------------------------------------------------------- */
/* >>layer avgpool: y[C x OH x OW] = mean over kh x kw windows of x[C x H x W]               */
/* ---------------------------------------------------------------------------------------- */

static scalpel_status scalpel__avgpool_shape(scalpel_layer_geom *g, int32_t outputs)
{
    if (outputs != 0) return SCALPEL_ERR_ARGUMENT;
    g->out_c = g->in_c;
    return scalpel__window_infer(g, 0, 2);
}

/* The mean of each channel, for the whole map as one window (global average pooling, the
 * head of ResNet-8, DS-CNN, MobileNet and NIN): 4 independent sums over the plane. */
SCALPEL__PRIV void scalpel__global_avg_sample(const float *in, int32_t c, size_t plane, float *out)
{
    int32_t ch;
    for (ch = 0; ch < c; ch++) {
        const float *p = in + (size_t)ch * plane;
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        size_t k = 0;
        for (; k + 4 <= plane; k += 4) { a0 += p[k]; a1 += p[k + 1]; a2 += p[k + 2]; a3 += p[k + 3]; }
        for (; k < plane; k++) a0 += p[k];
        out[ch] = ((a0 + a1) + (a2 + a3)) / (float)plane;
    }
}

/* 1 for global average pooling: one window over the whole unpadded map. */
static int scalpel__avgpool_global(const scalpel_layer_geom *g)
{
    return g->out_h == 1 && g->out_w == 1 && g->kernel_h == g->in_h && g->kernel_w == g->in_w && g->pad_top == 0 &&
           g->pad_left == 0 && g->pad_bottom == 0 && g->pad_right == 0;
}

static size_t scalpel__avgpool_scratch(const scalpel_layer_geom *g, int32_t batch)
{
    scalpel_conv_window win = scalpel__conv_window_of(g);
    (void)batch;
    return scalpel__avgpool_global(g) ? 0 : scalpel_pool_window_f32_scratch(&win, g->out_h, g->out_w);
}

static void scalpel__avgpool_forward(const scalpel_layer *L, const float *in, const float *in2, int32_t batch,
                                     float *out, float *scratch, int relu)
{
    const scalpel_layer_geom *g = &L->geom;
    size_t s, li = (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w;
    size_t lo = (size_t)g->out_c * (size_t)g->out_h * (size_t)g->out_w;
    int global = scalpel__avgpool_global(g);
    scalpel_conv_window win = scalpel__conv_window_of(g);
    int32_t op = (g->mode & SCALPEL_POOL_COUNT_PADS) ? SCALPEL_POOL_OP_AVG_PADS : SCALPEL_POOL_OP_AVG;
    (void)relu; (void)in2;
    for (s = 0; s < (size_t)batch; s++) {
        if (global) scalpel__global_avg_sample(in + s * li, g->in_c, (size_t)g->in_h * (size_t)g->in_w, out + s * lo);
        else
            scalpel_pool_window_f32(in + s * li, g->in_c, g->in_h, g->in_w, &win, g->pad_bottom, g->pad_right, op, g->out_h,
                                    g->out_w, scratch, out + s * lo);
    }
}

/* out[c][y][x] = (sum of the window's cells inside the input) / (those cells, or with
 * SCALPEL_POOL_COUNT_PADS the window's cells inside the padded input), in double */
static void scalpel__avgpool_forward_ref(const scalpel_layer *L, const float *in, const float *in2, float *out)
{
    const scalpel_layer_geom *g = &L->geom;
    int32_t c, y, x, i, j;
    (void)in2;
    for (c = 0; c < g->out_c; c++)
        for (y = 0; y < g->out_h; y++)
            for (x = 0; x < g->out_w; x++) {
                double acc = 0.0;
                int32_t inside = 0, padded = 0;
                for (i = 0; i < g->kernel_h; i++)
                    for (j = 0; j < g->kernel_w; j++) {
                        int32_t iy = y * g->stride_h + i - g->pad_top, ix = x * g->stride_w + j - g->pad_left;
                        if (iy < g->in_h + g->pad_bottom && ix < g->in_w + g->pad_right) padded++;
                        if (iy < 0 || ix < 0 || iy >= g->in_h || ix >= g->in_w) continue;
                        acc += in[((size_t)c * (size_t)g->in_h + (size_t)iy) * (size_t)g->in_w + (size_t)ix];
                        inside++;
                    }
                out[((size_t)c * (size_t)g->out_h + (size_t)y) * (size_t)g->out_w + (size_t)x] =
                    (float)(acc / (double)((g->mode & SCALPEL_POOL_COUNT_PADS) ? padded : inside));
            }
}

/* rounded half away from zero, in the input's scale (scalpel_pool_window_q*) */
static void scalpel__avgpool_forward_q(const scalpel_qnet *q, const scalpel_qlayer *L, const void *in, const void *in2,
                                       int32_t batch, void *out, void *scratch)
{
    (void)in2; (void)scratch;
    scalpel__pool_forward_q(q, L, in, batch, out,
                            (L->geom.mode & SCALPEL_POOL_COUNT_PADS) ? SCALPEL_POOL_OP_AVG_PADS : SCALPEL_POOL_OP_AVG);
}

/* ---------------------------------------------------------------------------------------- */
/* >>layer batchnorm: y[c] = x[c] * scale[c] + shift[c] (params: scale[C], then shift[C])   */
/* ---------------------------------------------------------------------------------------- */

static scalpel_status scalpel__batchnorm_shape(scalpel_layer_geom *g, int32_t outputs)
{
    return scalpel__same_shape(g, outputs, 0);
}

static void scalpel__batchnorm_forward(const scalpel_layer *L, const float *in, const float *in2, int32_t batch,
                                       float *out, float *scratch, int relu)
{
    int32_t C = L->geom.out_c, s, c;
    size_t plane = (size_t)L->geom.out_h * (size_t)L->geom.out_w;
    const float *scale = L->params, *shift = L->params + C;
    (void)scratch; (void)relu; (void)in2;
    for (s = 0; s < batch; s++)
        for (c = 0; c < C; c++)
            scalpel_affine_f32(in + ((size_t)s * (size_t)C + (size_t)c) * plane, plane, scale[c], shift[c],
                               out + ((size_t)s * (size_t)C + (size_t)c) * plane);
}

static void scalpel__batchnorm_forward_ref(const scalpel_layer *L, const float *in, const float *in2, float *out)
{
    int32_t C = L->geom.out_c, c;
    size_t plane = (size_t)L->geom.out_h * (size_t)L->geom.out_w, k;
    (void)in2;
    for (c = 0; c < C; c++)
        for (k = 0; k < plane; k++)
            out[(size_t)c * plane + k] = (float)((double)in[(size_t)c * plane + k] * L->params[c] + L->params[C + c]);
}

/* a batch norm the quantizer could not fold: y[c] = requant_c(w[c] * x[c]) (scalpel_qlayer) */
static void scalpel__batchnorm_forward_q(const scalpel_qnet *q, const scalpel_qlayer *L, const void *in,
                                         const void *in2, int32_t batch, void *out, void *scratch)
{
    size_t plane = (size_t)L->geom.out_h * (size_t)L->geom.out_w, n = (size_t)L->geom.out_c * plane, s;
    (void)in2; (void)scratch;
    for (s = 0; s < (size_t)batch; s++) {
        if (q->dtype == SCALPEL_DTYPE_Q15)
            scalpel_channel_scale_q15((const int16_t *)in + s * n, L->geom.out_c, plane, (const int16_t *)L->w, &L->rq,
                                      (int16_t *)out + s * n);
        else
            scalpel_channel_scale_q7((const int8_t *)in + s * n, L->geom.out_c, plane, (const int8_t *)L->w, &L->rq,
                                     (int8_t *)out + s * n);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* >>layer add: y = x + other (same shape), a following ReLU fused                           */
/* ---------------------------------------------------------------------------------------- */

/* The shape of the second input is checked where the network is known (scalpel__join_check). */
static scalpel_status scalpel__add_shape(scalpel_layer_geom *g, int32_t outputs)
{
    if (outputs != 0 || !scalpel__no_window(g) || g->mode != 0 || g->alpha != 0.0f || g->beta != 0.0f || g->k != 0.0f)
        return SCALPEL_ERR_ARGUMENT;
    g->out_c = g->in_c; g->out_h = g->in_h; g->out_w = g->in_w;
    return SCALPEL_OK;
}

static void scalpel__add_forward(const scalpel_layer *L, const float *in, const float *in2, int32_t batch, float *out,
                                 float *scratch, int relu)
{
    size_t n = (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w * (size_t)batch;
    const uint32_t inf_bits = 0x7F800000u;
    float inf;
    (void)scratch;
    memcpy(&inf, &inf_bits, sizeof inf);
    if (relu == 2) scalpel_add_f32(in, in2, n, 1, L[1].geom.alpha, L[1].geom.beta, out); /* the clip after it (L[1]) */
    else if (relu) scalpel_add_f32(in, in2, n, 1, 0.0f, inf, out);
    else scalpel_add_f32(in, in2, n, 0, 0.0f, 0.0f, out);
}

static void scalpel__add_forward_ref(const scalpel_layer *L, const float *in, const float *in2, float *out)
{
    size_t n = (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w, k;
    for (k = 0; k < n; k++) out[k] = (float)((double)in[k] + (double)in2[k]);
}

/* both inputs to the output's scale and summed before one rounding (scalpel_add_q*) */
static void scalpel__add_forward_q(const scalpel_qnet *q, const scalpel_qlayer *L, const void *in, const void *in2,
                                   int32_t batch, void *out, void *scratch)
{
    size_t n = (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w * (size_t)batch;
    (void)scratch;
    if (q->dtype == SCALPEL_DTYPE_Q15)
        scalpel_add_q15((const int16_t *)in, (const int16_t *)in2, n, L->rq.mult[0], L->rq.mult[1], L->rq.shift[0],
                        L->rq.relu, (int16_t *)out);
    else
        scalpel_add_q7((const int8_t *)in, (const int8_t *)in2, n, L->rq.mult[0], L->rq.mult[1], L->rq.shift[0],
                       L->rq.relu, (int8_t *)out);
}

/* ---------------------------------------------------------------------------------------- */
/* >>layer concat: y[C1 + C2 x H x W] = x[C1 x H x W] then other[C2 x H x W]                 */
/* ---------------------------------------------------------------------------------------- */

/* out_c is the sum of both inputs' channels: the reader of a model file and the builder set
 * it from the second input before calling this (scalpel__join_check checks it). */
static scalpel_status scalpel__concat_shape(scalpel_layer_geom *g, int32_t outputs)
{
    if (outputs != 0 || !scalpel__no_window(g) || g->mode != 0 || g->alpha != 0.0f || g->beta != 0.0f || g->k != 0.0f)
        return SCALPEL_ERR_ARGUMENT;
    g->out_c = g->in_c; /* + the second input's channels: scalpel__join_check */
    g->out_h = g->in_h; g->out_w = g->in_w;
    return SCALPEL_OK;
}

static void scalpel__concat_forward(const scalpel_layer *L, const float *in, const float *in2, int32_t batch,
                                    float *out, float *scratch, int relu)
{
    size_t plane = (size_t)L->geom.out_h * (size_t)L->geom.out_w, a = (size_t)L->geom.in_c * plane;
    size_t b = (size_t)(L->geom.out_c - L->geom.in_c) * plane, s;
    (void)scratch; (void)relu;
    for (s = 0; s < (size_t)batch; s++) {
        memcpy(out + s * (a + b), in + s * a, a * sizeof(float));
        memcpy(out + s * (a + b) + a, in2 + s * b, b * sizeof(float));
    }
}

static void scalpel__concat_forward_ref(const scalpel_layer *L, const float *in, const float *in2, float *out)
{
    size_t plane = (size_t)L->geom.out_h * (size_t)L->geom.out_w, a = (size_t)L->geom.in_c * plane, k;
    size_t b = (size_t)(L->geom.out_c - L->geom.in_c) * plane;
    for (k = 0; k < a; k++) out[k] = in[k];
    for (k = 0; k < b; k++) out[a + k] = in2[k];
}

/* each input copied to the output's scale (an exact copy when it is the input's own) */
static void scalpel__concat_forward_q(const scalpel_qnet *q, const scalpel_qlayer *L, const void *in, const void *in2,
                                      int32_t batch, void *out, void *scratch)
{
    size_t plane = (size_t)L->geom.out_h * (size_t)L->geom.out_w, a = (size_t)L->geom.in_c * plane, s;
    size_t b = (size_t)(L->geom.out_c - L->geom.in_c) * plane;
    (void)scratch;
    for (s = 0; s < (size_t)batch; s++) {
        if (q->dtype == SCALPEL_DTYPE_Q15) {
            int16_t *y = (int16_t *)out + s * (a + b);
            scalpel_rescale_q15((const int16_t *)in + s * a, a, L->rq.mult[0], L->rq.shift[0], y);
            scalpel_rescale_q15((const int16_t *)in2 + s * b, b, L->rq.mult[1], L->rq.shift[1], y + a);
        } else {
            int8_t *y = (int8_t *)out + s * (a + b);
            scalpel_rescale_q7((const int8_t *)in + s * a, a, L->rq.mult[0], L->rq.shift[0], y);
            scalpel_rescale_q7((const int8_t *)in2 + s * b, b, L->rq.mult[1], L->rq.shift[1], y + a);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Elementwise kinds: clip, leaky_relu, sigmoid, tanh, hardswish. One function each computes */
/* y[n] from x[n]; forward runs it over the batch, forward_ref over one sample in double.    */
/* ---------------------------------------------------------------------------------------- */

#define SCALPEL__ELEMENTWISE_KIND(NAME, REALS)                                                                 \
    static scalpel_status scalpel__##NAME##_shape(scalpel_layer_geom *g, int32_t outputs)                       \
    {                                                                                                          \
        scalpel_status st = scalpel__same_shape(g, outputs, REALS);                                            \
        return st == SCALPEL_OK ? scalpel__##NAME##_check(g) : st;                                              \
    }                                                                                                          \
    static void scalpel__##NAME##_forward(const scalpel_layer *L, const float *in, const float *in2,            \
                                          int32_t batch, float *out, float *scratch, int relu)                 \
    {                                                                                                          \
        (void)in2; (void)scratch; (void)relu;                                                                  \
        scalpel__##NAME##_run(&L->geom, in, (size_t)L->geom.out_c * (size_t)L->geom.out_h *                    \
                                                (size_t)L->geom.out_w * (size_t)batch, out);                   \
    }                                                                                                          \
    static void scalpel__##NAME##_forward_ref(const scalpel_layer *L, const float *in, const float *in2,        \
                                              float *out)                                                      \
    {                                                                                                          \
        size_t k, n = (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w;                   \
        (void)in2;                                                                                             \
        for (k = 0; k < n; k++) out[k] = (float)scalpel__##NAME##_ref(&L->geom, (double)in[k]);                \
    }


/* >>layer clip: y = min(max(x, lo), hi), lo = alpha <= hi = beta; relu6 is clip(0, 6) */
static scalpel_status scalpel__clip_check(const scalpel_layer_geom *g)
{
    return scalpel__real_ok(g->alpha) && scalpel__real_ok(g->beta) && g->alpha <= g->beta ? SCALPEL_OK
                                                                                          : SCALPEL_ERR_ARGUMENT;
}
static void scalpel__clip_run(const scalpel_layer_geom *g, const float *x, size_t n, float *y)
{
    scalpel_clip_f32(x, n, g->alpha, g->beta, y);
}
static double scalpel__clip_ref(const scalpel_layer_geom *g, double x)
{
    return x < g->alpha ? g->alpha : x > g->beta ? g->beta : x;
}
SCALPEL__ELEMENTWISE_KIND(clip, 2)

/* >>layer leaky_relu: y = x > 0 ? x : slope * x, slope = alpha */
static scalpel_status scalpel__leaky_relu_check(const scalpel_layer_geom *g)
{
    return scalpel__real_ok(g->alpha) ? SCALPEL_OK : SCALPEL_ERR_ARGUMENT;
}
static void scalpel__leaky_relu_run(const scalpel_layer_geom *g, const float *x, size_t n, float *y)
{
    scalpel_leaky_relu_f32(x, n, g->alpha, y);
}
static double scalpel__leaky_relu_ref(const scalpel_layer_geom *g, double x) { return x > 0.0 ? x : g->alpha * x; }
SCALPEL__ELEMENTWISE_KIND(leaky_relu, 1)

/* >>layer sigmoid: y = 1 / (1 + exp(-x)) */
static scalpel_status scalpel__sigmoid_check(const scalpel_layer_geom *g) { (void)g; return SCALPEL_OK; }
static void scalpel__sigmoid_run(const scalpel_layer_geom *g, const float *x, size_t n, float *y)
{
    size_t k;
    (void)g;
    for (k = 0; k < n; k++) y[k] = (float)(1.0 / (1.0 + scalpel__exp(-(double)x[k])));
}
static double scalpel__sigmoid_ref(const scalpel_layer_geom *g, double x) { (void)g; return 1.0 / (1.0 + scalpel__exp(-x)); }
SCALPEL__ELEMENTWISE_KIND(sigmoid, 0)

/* >>layer tanh: y = tanh(x) */
static scalpel_status scalpel__tanh_check(const scalpel_layer_geom *g) { (void)g; return SCALPEL_OK; }
static void scalpel__tanh_run(const scalpel_layer_geom *g, const float *x, size_t n, float *y)
{
    size_t k;
    (void)g;
    for (k = 0; k < n; k++) y[k] = (float)scalpel__tanh((double)x[k]);
}
static double scalpel__tanh_ref(const scalpel_layer_geom *g, double x) { (void)g; return scalpel__tanh(x); }
SCALPEL__ELEMENTWISE_KIND(tanh, 0)

/* >>layer hardswish: y = x * min(max(x + 3, 0), 6) / 6 */
static scalpel_status scalpel__hardswish_check(const scalpel_layer_geom *g) { (void)g; return SCALPEL_OK; }
static void scalpel__hardswish_run(const scalpel_layer_geom *g, const float *x, size_t n, float *y)
{
    (void)g;
    scalpel_hardswish_f32(x, n, y);
}
static double scalpel__hardswish_ref(const scalpel_layer_geom *g, double x)
{
    double r = x + 3.0;
    (void)g;
    r = r < 0.0 ? 0.0 : r > 6.0 ? 6.0 : r;
    return x * r / 6.0;
}
SCALPEL__ELEMENTWISE_KIND(hardswish, 0)
#undef SCALPEL__ELEMENTWISE_KIND

/* The elementwise kinds in fixed point: each runs its scalpel_<kind>_q15 / _q7 kernel over the
 * batch with the integer constants the quantizer left in rq (scalpel_qlayer). */
#define SCALPEL__Q_ELEMENTWISE(NAME, ...)                                                                      \
    static void scalpel__##NAME##_forward_q(const scalpel_qnet *q, const scalpel_qlayer *L, const void *in,     \
                                            const void *in2, int32_t batch, void *out, void *scratch)          \
    {                                                                                                          \
        size_t n = (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w * (size_t)batch;     \
        (void)in2; (void)scratch;                                                                              \
        if (q->dtype == SCALPEL_DTYPE_Q15)                                                                     \
            scalpel_##NAME##_q15((const int16_t *)in, n, __VA_ARGS__, (int16_t *)out);                         \
        else                                                                                                   \
            scalpel_##NAME##_q7((const int8_t *)in, n, __VA_ARGS__, (int8_t *)out);                            \
    }
SCALPEL__Q_ELEMENTWISE(clip, (int32_t)L->rq.bias[0], (int32_t)L->rq.bias[1])
SCALPEL__Q_ELEMENTWISE(leaky_relu, L->rq.mult[0], L->rq.shift[0])
SCALPEL__Q_ELEMENTWISE(hardswish, (int32_t)L->rq.bias[0], (int32_t)L->rq.bias[1], L->rq.mult[0], L->rq.shift[0])
SCALPEL__Q_ELEMENTWISE(sigmoid, L->rq.mult[0], L->rq.shift[0])
SCALPEL__Q_ELEMENTWISE(tanh, L->rq.mult[0], L->rq.shift[0])
#undef SCALPEL__Q_ELEMENTWISE

/* ---------------------------------------------------------------------------------------- */
/* >>layer softmax: y[c][p] = exp(x[c][p] - m) / sum over c' of exp(x[c'][p] - m), per position */
/* ---------------------------------------------------------------------------------------- */

static scalpel_status scalpel__softmax_shape(scalpel_layer_geom *g, int32_t outputs)
{
    return scalpel__same_shape(g, outputs, 0);
}

static void scalpel__softmax_forward(const scalpel_layer *L, const float *in, const float *in2, int32_t batch,
                                     float *out, float *scratch, int relu)
{
    int32_t C = L->geom.out_c, s, c;
    size_t plane = (size_t)L->geom.out_h * (size_t)L->geom.out_w, p;
    (void)in2; (void)scratch; (void)relu;
    for (s = 0; s < batch; s++) {
        const float *x = in + (size_t)s * (size_t)C * plane;
        float *y = out + (size_t)s * (size_t)C * plane;
        for (p = 0; p < plane; p++) {
            float m = x[p], sum = 0.0f;
            for (c = 1; c < C; c++)
                if (x[(size_t)c * plane + p] > m) m = x[(size_t)c * plane + p];
            for (c = 0; c < C; c++) {
                float e = (float)scalpel__exp((double)(x[(size_t)c * plane + p] - m));
                y[(size_t)c * plane + p] = e;
                sum += e;
            }
            for (c = 0; c < C; c++) y[(size_t)c * plane + p] /= sum;
        }
    }
}

static void scalpel__softmax_forward_ref(const scalpel_layer *L, const float *in, const float *in2, float *out)
{
    int32_t C = L->geom.out_c, c;
    size_t plane = (size_t)L->geom.out_h * (size_t)L->geom.out_w, p;
    (void)in2;
    for (p = 0; p < plane; p++) {
        double m = in[p], sum = 0.0;
        for (c = 1; c < C; c++)
            if (in[(size_t)c * plane + p] > m) m = in[(size_t)c * plane + p];
        for (c = 0; c < C; c++) sum += scalpel__exp((double)in[(size_t)c * plane + p] - m);
        for (c = 0; c < C; c++) out[(size_t)c * plane + p] = (float)(scalpel__exp((double)in[(size_t)c * plane + p] - m) / sum);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* >>layer lrn: y = x / (k + alpha/n * sum of x^2 over a neighbourhood)^beta                  */
/* ---------------------------------------------------------------------------------------- */

/* size = kernel_h = kernel_w (odd, 1..4096), alpha, beta, k = the real fields, mode 0 (across
 * channels, n = size) or SCALPEL_LRN_WITHIN_CHANNEL (a size x size square, n = size^2). */
static scalpel_status scalpel__lrn_shape(scalpel_layer_geom *g, int32_t outputs)
{
    int32_t size = g->kernel_h;
    if (outputs != 0 || g->kernel != 0 || g->stride != 0 || g->pad != 0 || g->stride_h != 0 || g->stride_w != 0 ||
        g->pad_top != 0 || g->pad_left != 0 || g->pad_bottom != 0 || g->pad_right != 0 || g->dilation_h != 0 ||
        g->dilation_w != 0 || g->groups != 0 || g->from2 != 0)
        return SCALPEL_ERR_ARGUMENT;
    if (size < 1 || size > 4095 || size % 2 == 0 || g->kernel_w != size || (g->mode & ~SCALPEL_LRN_WITHIN_CHANNEL) != 0)
        return SCALPEL_ERR_ARGUMENT;
    if (!scalpel__real_ok(g->alpha) || !scalpel__real_ok(g->beta) || !scalpel__real_ok(g->k) || !(g->k > 0.0f) ||
        g->alpha < 0.0f || g->beta < 0.0f)
        return SCALPEL_ERR_ARGUMENT;
    g->out_c = g->in_c; g->out_h = g->in_h; g->out_w = g->in_w;
    return SCALPEL_OK;
}

/* One sample. Across channels: the sum of squares over each channel's window, summed directly
 * (`size` products per output: a running sum would subtract large squares from small ones
 * and lose the small, which PyTorch and Caffe do not), scalpel_lrn_across_f32. Within a
 * channel: the square's sums into y, then scalpel_lrn_scale_f32 in place. */
/* LRN within a channel's square: a size x size window at stride 1, padded by size / 2. */
static scalpel_conv_window scalpel__lrn_window(const scalpel_layer_geom *g)
{
    scalpel_conv_window win;
    win.kh = win.kw = g->kernel_h;
    win.sh = win.sw = 1;
    win.pt = win.pl = g->kernel_h / 2;
    win.dh = win.dw = 1;
    return win;
}

static size_t scalpel__lrn_scratch(const scalpel_layer_geom *g, int32_t batch)
{
    scalpel_conv_window win = scalpel__lrn_window(g);
    (void)batch;
    return (g->mode & SCALPEL_LRN_WITHIN_CHANNEL) ? scalpel_pool_window_f32_scratch(&win, g->in_h, g->in_w) : 0;
}

SCALPEL__PRIV void scalpel__lrn_sample(const scalpel_layer_geom *g, const float *x, float *y, float *scratch)
{
    int32_t C = g->in_c, H = g->in_h, W = g->in_w, half = g->kernel_h / 2;
    size_t plane = (size_t)H * (size_t)W;
    if (g->mode & SCALPEL_LRN_WITHIN_CHANNEL) {
        float a = g->alpha / (float)((int64_t)g->kernel_h * g->kernel_h);
        scalpel_conv_window win = scalpel__lrn_window(g);
        size_t p, n = (size_t)C * plane;
        for (p = 0; p < n; p++) y[p] = x[p] * x[p];
        scalpel_pool_window_f32(y, C, H, W, &win, half, half, SCALPEL_POOL_OP_SUM, H, W, scratch, y);
        scalpel_lrn_scale_f32(x, y, n, g->k, a, g->beta, y);
        return;
    }
    scalpel_lrn_across_f32(x, C, plane, g->kernel_h, g->alpha, g->beta, g->k, y);
}

static void scalpel__lrn_forward(const scalpel_layer *L, const float *in, const float *in2, int32_t batch, float *out,
                                 float *scratch, int relu)
{
    size_t n = (size_t)L->geom.in_c * (size_t)L->geom.in_h * (size_t)L->geom.in_w, s;
    (void)in2; (void)relu;
    for (s = 0; s < (size_t)batch; s++) scalpel__lrn_sample(&L->geom, in + s * n, out + s * n, scratch);
}

static void scalpel__lrn_forward_ref(const scalpel_layer *L, const float *in, const float *in2, float *out)
{
    const scalpel_layer_geom *g = &L->geom;
    int32_t C = g->in_c, H = g->in_h, W = g->in_w, half = g->kernel_h / 2, c, yy, xx, i, j;
    int within = (g->mode & SCALPEL_LRN_WITHIN_CHANNEL) != 0;
    double n = within ? (double)g->kernel_h * g->kernel_h : (double)g->kernel_h;
    (void)in2;
    for (c = 0; c < C; c++)
        for (yy = 0; yy < H; yy++)
            for (xx = 0; xx < W; xx++) {
                double s = 0.0, v;
                size_t at = ((size_t)c * (size_t)H + (size_t)yy) * (size_t)W + (size_t)xx;
                if (within) {
                    for (i = -half; i <= half; i++)
                        for (j = -half; j <= half; j++) {
                            if (yy + i < 0 || yy + i >= H || xx + j < 0 || xx + j >= W) continue;
                            v = in[((size_t)c * (size_t)H + (size_t)(yy + i)) * (size_t)W + (size_t)(xx + j)];
                            s += v * v;
                        }
                } else {
                    for (i = -half; i <= half; i++) {
                        if (c + i < 0 || c + i >= C) continue;
                        v = in[((size_t)(c + i) * (size_t)H + (size_t)yy) * (size_t)W + (size_t)xx];
                        s += v * v;
                    }
                }
                out[at] = (float)((double)in[at] / scalpel__pow_pos((double)g->k + (double)g->alpha / n * s, (double)g->beta));
            }
}

/* ---------------------------------------------------------------------------------------- */
/* >>networks: building, workspace, forward pass, checks                                     */
/* ---------------------------------------------------------------------------------------- */

/* Room for `need` layers. Without room of its own (a view, an exported header, a copy) the
 * network gets an array it owns with the layers copied in; an owned array doubles. */
SCALPEL__PRIV scalpel_status scalpel__net_reserve(scalpel_net *net, int32_t need)
{
#ifndef SCALPEL_NO_MALLOC
    int32_t cap;
    scalpel_layer *arr;
    if (need <= net->capacity) return SCALPEL_OK;
    if (net->capacity > 0 && !net->owns_layers) return SCALPEL_ERR_NO_MEMORY; /* your array is full */
    cap = net->capacity > 0 ? net->capacity : 4;
    while (cap < need) {
        if (cap > INT32_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    if ((size_t)cap > SIZE_MAX / sizeof(scalpel_layer)) return SCALPEL_ERR_OVERFLOW;
    arr = (scalpel_layer *)SCALPEL_MALLOC(net->alloc_ctx, (size_t)cap * sizeof(scalpel_layer));
    if (!arr) return SCALPEL_ERR_NO_MEMORY;
    if (net->n_layers > 0) memcpy(arr, net->layers, (size_t)net->n_layers * sizeof(scalpel_layer));
    if (net->owns_layers && net->layers) SCALPEL_FREE(net->alloc_ctx, net->layers);
    net->layers = arr;
    net->capacity = cap;
    net->owns_layers = 1;
    return SCALPEL_OK;
#else
    return need <= net->capacity ? SCALPEL_OK : SCALPEL_ERR_NO_MEMORY;
#endif
}

SCALPEL_API scalpel_status scalpel_net_use_layers(scalpel_net *net, scalpel_layer *layers, int32_t capacity)
{
    if (!net || !layers) return SCALPEL_ERR_NULL;
    if (!scalpel__net_layers_ok(net) || capacity < net->n_layers || capacity < 1) return SCALPEL_ERR_ARGUMENT;
    if (net->n_layers > 0 && net->layers != layers)
        memmove(layers, net->layers, (size_t)net->n_layers * sizeof(scalpel_layer));
#ifndef SCALPEL_NO_MALLOC
    if (net->owns_layers && net->layers && net->layers != layers) SCALPEL_FREE(net->alloc_ctx, net->layers);
#endif
    net->layers = layers;
    net->capacity = capacity;
    net->owns_layers = 0;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_net_set_next_input(scalpel_net *net, int32_t layer)
{
    if (!net) return SCALPEL_ERR_NULL;
    if (!scalpel__net_layers_ok(net)) return SCALPEL_ERR_ARGUMENT;
    if (layer < -1 || layer >= net->n_layers) return SCALPEL_ERR_ARGUMENT;
    net->next_from = net->n_layers - 1 - layer;
    return SCALPEL_OK;
}

/* The second input of a join against the first: add takes the same shape, concat the same
 * H x W and adds the channels (g->out_c = in_c + c2). */
SCALPEL__PRIV scalpel_status scalpel__join_check(scalpel_layer_geom *g, int32_t c2, int32_t h2, int32_t w2)
{
    if (g->kind == SCALPEL_LAYER_ADD) {
        if (c2 != g->in_c || h2 != g->in_h || w2 != g->in_w) return SCALPEL_ERR_SHAPE;
    } else if (g->kind == SCALPEL_LAYER_CONCAT) {
        if (h2 != g->in_h || w2 != g->in_w) return SCALPEL_ERR_SHAPE;
        if ((int64_t)g->in_c + c2 > INT32_MAX || scalpel__net_dims(g->in_c + c2, h2, w2) < 0) return SCALPEL_ERR_OVERFLOW;
        g->out_c = g->in_c + c2;
    }
    return SCALPEL_OK;
}

/* Fills g's input shapes from the tensors it reads as layer i of a network (float or
 * fixed-point layers, `stride` bytes apart), and its output shape, rows and cols from its kind
 * and parameters. g holds the kind, the parameters, from and from2. */
SCALPEL__PRIV scalpel_status scalpel__geom_build(const void *layers, size_t stride, int32_t in_c, int32_t in_h,
                                                 int32_t in_w, int32_t i, scalpel_layer_geom *g, int32_t outputs)
{
    int32_t src = scalpel__geom_source(g, i), src2 = scalpel__geom_source2(g, i), c2 = 0, h2 = 0, w2 = 0;
    scalpel_status st;
    if (src < 0 || src2 == -1 || !scalpel__kind_ok(g->kind)) return SCALPEL_ERR_ARGUMENT;
    if (src2 == -2 && g->from2 != 0) return SCALPEL_ERR_ARGUMENT;
    scalpel__tensor_shape(layers, stride, in_c, in_h, in_w, src, &g->in_c, &g->in_h, &g->in_w);
    st = scalpel__geom_infer(g, outputs);
    if (st != SCALPEL_OK || src2 < 0) return st;
    scalpel__tensor_shape(layers, stride, in_c, in_h, in_w, src2, &c2, &h2, &w2);
    return scalpel__join_check(g, c2, h2, w2);
}

/* Appends a layer of geometry `proto` (kind, parameters, from2; its `from` is
 * net->next_from's), after building and checking its shapes; storage DENSE with no arrays
 * yet. The network is unchanged on failure (but for a larger array). */
SCALPEL__PRIV scalpel_status scalpel__net_append_geom(scalpel_net *net, const scalpel_layer_geom *proto,
                                                      int32_t outputs, scalpel_layer **out)
{
    scalpel_layer L;
    int32_t i;
    scalpel_status st;
    if (out) *out = NULL;
    if (!net) return SCALPEL_ERR_NULL;
    if (!scalpel__net_layers_ok(net) || net->n_layers == INT32_MAX) return SCALPEL_ERR_ARGUMENT;
    i = net->n_layers;
    memset(&L, 0, sizeof(L));
    L.geom = *proto;
    L.geom.from = net->next_from;
    st = scalpel__geom_build(net->layers, sizeof(scalpel_layer), net->in_c, net->in_h, net->in_w, i, &L.geom, outputs);
    if (st != SCALPEL_OK) return st;
    st = scalpel__net_reserve(net, i + 1);
    if (st != SCALPEL_OK) return st;
    L.storage = SCALPEL_STORAGE_DENSE;
    net->layers[i] = L;
    if (out) *out = &net->layers[i];
    net->n_layers++;
    net->next_from = 0;
    return SCALPEL_OK;
}

/* The same for a layer given by the first version's parameters (kind, outputs, a square
 * window), as scalpel_net_add_layer takes them. A kind with real parameters gets its
 * defaults: clip (0, 6), leaky_relu 0.01, lrn (kernel = size) alpha 1e-4, beta 0.75, k 1
 * across channels. */
SCALPEL__PRIV scalpel_status scalpel__net_append(scalpel_net *net, int32_t kind, int32_t outputs,
                                                 int32_t kernel, int32_t stride, int32_t pad,
                                                 scalpel_layer **out)
{
    scalpel_layer_geom g;
    memset(&g, 0, sizeof(g));
    g.kind = kind;
    if (kind == SCALPEL_LAYER_LRN) {
        if (stride != 0 || pad != 0) return SCALPEL_ERR_ARGUMENT;
        g.kernel_h = g.kernel_w = kernel;
        g.alpha = 1e-4f; g.beta = 0.75f; g.k = 1.0f;
    } else {
        g.kernel = kernel; g.stride = stride; g.pad = pad;
        if (kind == SCALPEL_LAYER_CLIP) g.beta = 6.0f;
        if (kind == SCALPEL_LAYER_LEAKY_RELU) g.alpha = 0.01f;
    }
    return scalpel__net_append_geom(net, &g, outputs, out);
}

/* Writes the layer's weights as dense W[rows x cols], whatever its storage. */
SCALPEL__PRIV void scalpel__layer_dense_weights(const scalpel_layer *layer, float *w)
{
    size_t n = (size_t)layer->geom.rows * (size_t)layer->geom.cols;
    if (layer->storage == SCALPEL_STORAGE_DENSE) {
        if (n) memcpy(w, layer->w, n * sizeof(float));
    } else if (layer->storage == SCALPEL_STORAGE_TASD) {
        (void)scalpel_tasd_to_dense(layer->series, w);
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
        if (layer->storage == SCALPEL_STORAGE_HYBRID) {
            const scalpel_gcsr *R = &layer->residual;
            for (r = 0; r < R->rows; r++)
                for (k = R->row_ptr[r]; k < R->row_ptr[r + 1]; k++)
                    w[(size_t)r * (size_t)R->cols + scalpel_gcsr_col(R, k)] = ((const float *)R->values)[k];
        }
    }
}

/* 1 when v[0..n) are all finite. Tested on the exponent field: independent of -ffast-math and
 * of <math.h>. Every part of the library that refuses NaN and infinities uses this one. */
SCALPEL__PRIV int scalpel__net_all_finite(const float *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], sizeof(bits));
        if ((bits & 0x7f800000u) == 0x7f800000u) return 0;
    }
    return 1;
}

#ifndef SCALPEL_NO_MALLOC
/* Releases the memory a layer owns and forgets its arrays (shapes stay). */
SCALPEL__PRIV void scalpel__layer_release(scalpel_net *net, scalpel_layer *layer)
{
    if (layer->block) SCALPEL_FREE(net->alloc_ctx, layer->block);
    if (layer->sparse.block) scalpel_gcsr_free(&layer->sparse);
    if (layer->residual.block) scalpel_gcsr_free(&layer->residual);
    if (layer->series) {
        scalpel_tasd_free(layer->series);
        SCALPEL_FREE(net->alloc_ctx, layer->series);
    }
    layer->block = NULL;
    layer->w = NULL;
    layer->b = NULL;
    layer->params = NULL;
    layer->series = NULL;
    memset(&layer->sparse, 0, sizeof(layer->sparse));
    memset(&layer->residual, 0, sizeof(layer->residual));
    layer->storage = SCALPEL_STORAGE_DENSE;
}

/* One block holding the weights (at its aligned start) and the bias after them; the layer's
 * old memory is released only once the new block exists, so a failure changes nothing. */
SCALPEL__PRIV scalpel_status scalpel__layer_set_dense(scalpel_net *net, scalpel_layer *layer,
                                                      const float *w, const float *b)
{
    size_t n = (size_t)layer->geom.rows * (size_t)layer->geom.cols, bytes;
    void *block;
    float *wd, *bd;
    if (!scalpel__is_weighted(layer->geom.kind)) return SCALPEL_ERR_ARGUMENT;
    bytes = SCALPEL__NET_ALIGN + (n + (size_t)layer->geom.rows) * sizeof(float);
    block = SCALPEL_MALLOC(net->alloc_ctx, bytes);
    if (!block) return SCALPEL_ERR_NO_MEMORY;
    wd = (float *)scalpel__net_align_ptr(block);
    bd = wd + n;
    if (w) memcpy(wd, w, n * sizeof(float)); else memset(wd, 0, n * sizeof(float));
    if (b) memcpy(bd, b, (size_t)layer->geom.rows * sizeof(float));
    else memset(bd, 0, (size_t)layer->geom.rows * sizeof(float));
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
    if (!scalpel__is_weighted(layer->geom.kind)) return SCALPEL_ERR_ARGUMENT;
    st = scalpel_gcsr_validate(w);
    if (st != SCALPEL_OK) return st;
    if (w->dtype != SCALPEL_DTYPE_F32) return SCALPEL_ERR_DTYPE;
    if (w->rows != layer->geom.rows || w->cols != layer->geom.cols) return SCALPEL_ERR_SHAPE;
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

/* Gives layer L, just appended, a copy of its weights (dense w or grouped sw; NULL: zeros)
 * and bias; on failure the layer is taken off again, so the network is unchanged. */
SCALPEL__PRIV scalpel_status scalpel__net_fill_weights(scalpel_net *net, scalpel_layer *L, const float *w,
                                                       const scalpel_gcsr *sw, const float *b)
{
    scalpel_status st;
    if (sw && (sw->rows != L->geom.rows || sw->cols != L->geom.cols)) st = SCALPEL_ERR_SHAPE;
    else if (w && !scalpel__net_all_finite(w, (size_t)L->geom.rows * (size_t)L->geom.cols)) st = SCALPEL_ERR_ARGUMENT;
    else if (b && !scalpel__net_all_finite(b, (size_t)L->geom.rows)) st = SCALPEL_ERR_ARGUMENT;
    else st = sw ? scalpel__layer_set_gcsr(net, L, sw, b) : scalpel__layer_set_dense(net, L, w, b);
    if (st != SCALPEL_OK) {
        net->next_from = L->geom.from; /* the failed layer's input stays chosen */
        memset(L, 0, sizeof(*L));
        net->n_layers--;
    }
    return st;
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
    return scalpel__net_fill_weights(net, L, w, sw, b);
}

/* Gives layer L (just appended, per-channel kind) a block holding params[PC x out_c]. */
SCALPEL__PRIV scalpel_status scalpel__layer_set_params(scalpel_net *net, scalpel_layer *L, const float *params)
{
    size_t n = (size_t)scalpel__kinds[L->geom.kind].per_channel * (size_t)L->geom.out_c;
    void *block;
    float *p;
    if (!scalpel__net_all_finite(params, n)) return SCALPEL_ERR_ARGUMENT;
    block = SCALPEL_MALLOC(net->alloc_ctx, SCALPEL__NET_ALIGN + n * sizeof(float));
    if (!block) return SCALPEL_ERR_NO_MEMORY;
    p = (float *)scalpel__net_align_ptr(block);
    memcpy(p, params, n * sizeof(float));
    scalpel__layer_release(net, L);
    L->block = block;
    L->params = p;
    return SCALPEL_OK;
}

/* Appends a batch norm with params = scale[C] then shift[C] (copied); unchanged on failure. */
SCALPEL__PRIV scalpel_status scalpel__net_add_batchnorm_params(scalpel_net *net, const float *params)
{
    scalpel_layer_geom g;
    scalpel_layer *L;
    scalpel_status st;
    memset(&g, 0, sizeof(g));
    g.kind = SCALPEL_LAYER_BATCHNORM;
    st = scalpel__net_append_geom(net, &g, 0, &L);
    if (st != SCALPEL_OK) return st;
    st = scalpel__layer_set_params(net, L, params);
    if (st != SCALPEL_OK) {
        net->next_from = L->geom.from;
        memset(L, 0, sizeof(*L));
        net->n_layers--;
    }
    return st;
}

/* The channels of the tensor the next appended layer reads, or -1. */
SCALPEL__PRIV int32_t scalpel__net_next_channels(const scalpel_net *net)
{
    int32_t t, c, h, w;
    if (!scalpel__net_layers_ok(net)) return -1;
    t = net->n_layers - net->next_from;
    if (t < 0 || t > net->n_layers) return -1;
    scalpel__tensor_shape(net->layers, sizeof(scalpel_layer), net->in_c, net->in_h, net->in_w, t, &c, &h, &w);
    return c;
}

SCALPEL_API scalpel_status scalpel_net_add_layer(scalpel_net *net, int32_t kind, int32_t outputs, int32_t kernel,
                                                 int32_t stride, int32_t pad, const float *w, const float *b)
{
    if (!net) return SCALPEL_ERR_NULL;
    if (!scalpel__kind_ok(kind)) return SCALPEL_ERR_ARGUMENT;
    if (scalpel__kinds[kind].weighted) return scalpel__net_add_weighted(net, kind, outputs, kernel, stride, pad, w, NULL, b);
    if (kind == SCALPEL_LAYER_BATCHNORM) { /* w, b: scale and shift, NULL: 1 and 0 */
        int32_t C = scalpel__net_next_channels(net), c;
        float *p;
        scalpel_status st;
        if (outputs != 0 || kernel != 0 || stride != 0 || pad != 0) return SCALPEL_ERR_ARGUMENT;
        if (C < 1) return SCALPEL_ERR_ARGUMENT;
        p = (float *)SCALPEL_MALLOC(net->alloc_ctx, 2 * (size_t)C * sizeof(float));
        if (!p) return SCALPEL_ERR_NO_MEMORY;
        for (c = 0; c < C; c++) {
            p[c] = w ? w[c] : 1.0f;
            p[C + c] = b ? b[c] : 0.0f;
        }
        st = scalpel__net_add_batchnorm_params(net, p);
        SCALPEL_FREE(net->alloc_ctx, p);
        return st;
    }
    if (w || b) return SCALPEL_ERR_ARGUMENT; /* an unweighted kind takes no arrays */
    return scalpel__net_append(net, kind, outputs, kernel, stride, pad, NULL);
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

/* ---- appending the operators of real networks ----------------------------------------------- */

SCALPEL_API scalpel_window scalpel_window_square(int32_t kernel, int32_t stride, int32_t pad)
{
    scalpel_window w;
    w.kernel_h = w.kernel_w = kernel;
    w.stride_h = w.stride_w = stride;
    w.pad_top = w.pad_left = w.pad_bottom = w.pad_right = pad;
    w.dilation_h = w.dilation_w = 1;
    w.groups = 1;
    w.mode = 0;
    return w;
}

/* The geometry of a windowed kind from a scalpel_window. */
SCALPEL__PRIV void scalpel__geom_from_window(scalpel_layer_geom *g, int32_t kind, const scalpel_window *win)
{
    memset(g, 0, sizeof(*g));
    g->kind = kind;
    g->kernel_h = win->kernel_h; g->kernel_w = win->kernel_w;
    g->stride_h = win->stride_h; g->stride_w = win->stride_w;
    g->pad_top = win->pad_top; g->pad_left = win->pad_left; g->pad_bottom = win->pad_bottom; g->pad_right = win->pad_right;
    g->dilation_h = win->dilation_h; g->dilation_w = win->dilation_w;
    g->groups = win->groups;
    g->mode = win->mode;
}

/* Appends a layer of geometry g with no arrays; a window of only zeros is refused here (the
 * first version's fields would otherwise stand in for it). */
SCALPEL__PRIV scalpel_status scalpel__net_add_plain(scalpel_net *net, const scalpel_layer_geom *g)
{
    if (!net) return SCALPEL_ERR_NULL;
    return scalpel__net_append_geom(net, g, 0, NULL);
}

SCALPEL_API scalpel_status scalpel_net_add_maxpool_ex(scalpel_net *net, const scalpel_window *win)
{
    scalpel_layer_geom g;
    if (!net || !win) return SCALPEL_ERR_NULL;
    if (win->kernel_h < 1 || win->kernel_w < 1) return SCALPEL_ERR_ARGUMENT;
    scalpel__geom_from_window(&g, SCALPEL_LAYER_MAXPOOL, win);
    return scalpel__net_add_plain(net, &g);
}

SCALPEL_API scalpel_status scalpel_net_add_avgpool(scalpel_net *net, const scalpel_window *win)
{
    scalpel_layer_geom g;
    if (!net || !win) return SCALPEL_ERR_NULL;
    if (win->kernel_h < 1 || win->kernel_w < 1) return SCALPEL_ERR_ARGUMENT;
    scalpel__geom_from_window(&g, SCALPEL_LAYER_AVGPOOL, win);
    return scalpel__net_add_plain(net, &g);
}

SCALPEL_API scalpel_status scalpel_net_add_global_avgpool(scalpel_net *net)
{
    scalpel_window win;
    int32_t t, c, h, w;
    if (!net) return SCALPEL_ERR_NULL;
    if (!scalpel__net_layers_ok(net)) return SCALPEL_ERR_ARGUMENT;
    t = net->n_layers - net->next_from;
    if (t < 0) return SCALPEL_ERR_ARGUMENT;
    scalpel__tensor_shape(net->layers, sizeof(scalpel_layer), net->in_c, net->in_h, net->in_w, t, &c, &h, &w);
    win = scalpel_window_square(1, 1, 0);
    win.kernel_h = h; win.kernel_w = w;
    return scalpel_net_add_avgpool(net, &win);
}

/* A join reading the output of layer `other` (-1: the network input) as its second input. */
SCALPEL__PRIV scalpel_status scalpel__net_add_join(scalpel_net *net, int32_t kind, int32_t other)
{
    scalpel_layer_geom g;
    if (!net) return SCALPEL_ERR_NULL;
    if (!scalpel__net_layers_ok(net) || other < -1 || other >= net->n_layers) return SCALPEL_ERR_ARGUMENT;
    memset(&g, 0, sizeof(g));
    g.kind = kind;
    g.from2 = net->n_layers - 1 - other;
    return scalpel__net_add_plain(net, &g);
}

SCALPEL_API scalpel_status scalpel_net_add_add(scalpel_net *net, int32_t other)
{
    return scalpel__net_add_join(net, SCALPEL_LAYER_ADD, other);
}

SCALPEL_API scalpel_status scalpel_net_add_concat(scalpel_net *net, int32_t other)
{
    return scalpel__net_add_join(net, SCALPEL_LAYER_CONCAT, other);
}

/* An elementwise kind with its real parameters. */
SCALPEL__PRIV scalpel_status scalpel__net_add_elementwise(scalpel_net *net, int32_t kind, float alpha, float beta)
{
    scalpel_layer_geom g;
    memset(&g, 0, sizeof(g));
    g.kind = kind;
    g.alpha = alpha;
    g.beta = beta;
    return scalpel__net_add_plain(net, &g);
}

SCALPEL_API scalpel_status scalpel_net_add_clip(scalpel_net *net, float lo, float hi)
{
    return scalpel__net_add_elementwise(net, SCALPEL_LAYER_CLIP, lo, hi);
}
SCALPEL_API scalpel_status scalpel_net_add_relu6(scalpel_net *net)
{
    return scalpel__net_add_elementwise(net, SCALPEL_LAYER_CLIP, 0.0f, 6.0f);
}
SCALPEL_API scalpel_status scalpel_net_add_leaky_relu(scalpel_net *net, float slope)
{
    return scalpel__net_add_elementwise(net, SCALPEL_LAYER_LEAKY_RELU, slope, 0.0f);
}
SCALPEL_API scalpel_status scalpel_net_add_sigmoid(scalpel_net *net)
{
    return scalpel__net_add_elementwise(net, SCALPEL_LAYER_SIGMOID, 0.0f, 0.0f);
}
SCALPEL_API scalpel_status scalpel_net_add_tanh(scalpel_net *net)
{
    return scalpel__net_add_elementwise(net, SCALPEL_LAYER_TANH, 0.0f, 0.0f);
}
SCALPEL_API scalpel_status scalpel_net_add_hardswish(scalpel_net *net)
{
    return scalpel__net_add_elementwise(net, SCALPEL_LAYER_HARDSWISH, 0.0f, 0.0f);
}
SCALPEL_API scalpel_status scalpel_net_add_softmax(scalpel_net *net)
{
    return scalpel__net_add_elementwise(net, SCALPEL_LAYER_SOFTMAX, 0.0f, 0.0f);
}

SCALPEL_API scalpel_status scalpel_net_add_lrn(scalpel_net *net, int32_t size, float alpha, float beta, float k,
                                               int32_t mode)
{
    scalpel_layer_geom g;
    memset(&g, 0, sizeof(g));
    g.kind = SCALPEL_LAYER_LRN;
    g.kernel_h = g.kernel_w = size;
    g.alpha = alpha; g.beta = beta; g.k = k;
    g.mode = mode;
    return scalpel__net_add_plain(net, &g);
}

#ifndef SCALPEL_NO_MALLOC
SCALPEL_API scalpel_status scalpel_net_add_conv2d_ex(scalpel_net *net, int32_t out_channels, const scalpel_window *win,
                                                     const float *w, const float *b)
{
    scalpel_layer_geom g;
    scalpel_layer *L;
    scalpel_status st;
    if (!net || !win) return SCALPEL_ERR_NULL;
    if (win->kernel_h < 1 || win->kernel_w < 1 || win->mode != 0) return SCALPEL_ERR_ARGUMENT;
    scalpel__geom_from_window(&g, SCALPEL_LAYER_CONV2D, win);
    st = scalpel__net_append_geom(net, &g, out_channels, &L);
    if (st != SCALPEL_OK) return st;
    return scalpel__net_fill_weights(net, L, w, NULL, b);
}

SCALPEL_API scalpel_status scalpel_net_add_batchnorm_affine(scalpel_net *net, const float *scale, const float *shift)
{
    int32_t C;
    float *p;
    scalpel_status st;
    if (!net || !scale || !shift) return SCALPEL_ERR_NULL;
    C = scalpel__net_next_channels(net);
    if (C < 1) return SCALPEL_ERR_ARGUMENT;
    p = (float *)SCALPEL_MALLOC(net->alloc_ctx, 2 * (size_t)C * sizeof(float));
    if (!p) return SCALPEL_ERR_NO_MEMORY;
    memcpy(p, scale, (size_t)C * sizeof(float));
    memcpy(p + C, shift, (size_t)C * sizeof(float));
    st = scalpel__net_add_batchnorm_params(net, p);
    SCALPEL_FREE(net->alloc_ctx, p);
    return st;
}

SCALPEL_API scalpel_status scalpel_net_add_batchnorm(scalpel_net *net, const float *mean, const float *var,
                                                     const float *gamma, const float *beta, float eps)
{
    int32_t C, c;
    float *p;
    scalpel_status st = SCALPEL_OK;
    if (!net || !mean || !var) return SCALPEL_ERR_NULL;
    if (!(eps >= 0.0f) || !scalpel__real_ok(eps)) return SCALPEL_ERR_ARGUMENT;
    C = scalpel__net_next_channels(net);
    if (C < 1) return SCALPEL_ERR_ARGUMENT;
    p = (float *)SCALPEL_MALLOC(net->alloc_ctx, 2 * (size_t)C * sizeof(float));
    if (!p) return SCALPEL_ERR_NO_MEMORY;
    for (c = 0; c < C && st == SCALPEL_OK; c++) {
        double v = (double)var[c] + eps, g = gamma ? gamma[c] : 1.0, bt = beta ? beta[c] : 0.0, sc;
        if (!scalpel__real_ok(var[c]) || !scalpel__real_ok(mean[c]) || !(v > 0.0) || !scalpel__real_ok((float)g) ||
            !scalpel__real_ok((float)bt)) {
            st = SCALPEL_ERR_ARGUMENT; /* a variance of 0 with eps 0 divides by zero */
            break;
        }
        sc = g / scalpel__sqrt(v);
        p[c] = (float)sc;
        p[C + c] = (float)(bt - (double)mean[c] * sc);
    }
    if (st == SCALPEL_OK) st = scalpel__net_add_batchnorm_params(net, p);
    SCALPEL_FREE(net->alloc_ctx, p);
    return st;
}
#endif /* SCALPEL_NO_MALLOC */


#ifndef SCALPEL_NO_MALLOC
/* ---- batch norm folding ---------------------------------------------------------------------- */

/* Appends to out a copy of layer S (its geometry, weights in their storage, bias, per-channel
 * parameters) reading the tensors `from` and `from2` back, as out numbers them. Dense and
 * grouped-CSR weights only. */
SCALPEL__PRIV scalpel_status scalpel__net_append_copy(scalpel_net *out, const scalpel_layer *S, int32_t from,
                                                      int32_t from2)
{
    scalpel_layer_geom g = S->geom;
    scalpel_layer *L;
    scalpel_status st;
    g.from2 = from2;
    out->next_from = from;
    st = scalpel__net_append_geom(out, &g, scalpel__is_weighted(g.kind) ? g.out_c : 0, &L);
    if (st != SCALPEL_OK) return st;
    if (scalpel__is_weighted(g.kind))
        return scalpel__net_fill_weights(out, L, S->storage == SCALPEL_STORAGE_DENSE ? S->w : NULL,
                                         S->storage == SCALPEL_STORAGE_GCSR ? &S->sparse : NULL, S->b);
    if (S->params) {
        st = scalpel__layer_set_params(out, L, S->params);
        if (st != SCALPEL_OK) {
            memset(L, 0, sizeof(*L));
            out->n_layers--;
        }
    }
    return st;
}

/* 1 when layer i of net is a batch norm that folds into layer i - 1: it reads that layer's
 * output, which nothing else reads, and that layer is weighted with dense or grouped-CSR
 * weights. */
SCALPEL__PRIV int scalpel__bn_folds(const scalpel_net *net, int32_t i)
{
    const scalpel_layer *P;
    if (i < 1 || net->layers[i].geom.kind != SCALPEL_LAYER_BATCHNORM || net->layers[i].geom.from != 0) return 0;
    P = &net->layers[i - 1];
    if (!scalpel__is_weighted(P->geom.kind)) return 0;
    if (P->storage != SCALPEL_STORAGE_DENSE && P->storage != SCALPEL_STORAGE_GCSR) return 0;
    return !scalpel__tensor_kept(net->layers, sizeof(scalpel_layer), net->n_layers, i);
}

SCALPEL_API scalpel_status scalpel_net_fold_batchnorm(const scalpel_net *net, scalpel_net *out, int32_t *folded)
{
    int32_t *newt = NULL, i, ni = 0, count = 0;
    float *wd = NULL, *bd = NULL;
    size_t most = 1;
    scalpel_status st;
    if (folded) *folded = 0;
    if (!out) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (!net) return SCALPEL_ERR_NULL;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (scalpel_net_has_decomposed(net)) return SCALPEL_ERR_UNSUPPORTED;
    for (i = 0; i < net->n_layers; i++) {
        size_t n = (size_t)net->layers[i].geom.rows * (size_t)net->layers[i].geom.cols;
        if (n > most) most = n;
    }
    newt = (int32_t *)SCALPEL_MALLOC(net->alloc_ctx, ((size_t)net->n_layers + 1) * sizeof(int32_t));
    wd = (float *)SCALPEL_MALLOC(net->alloc_ctx, most * sizeof(float));
    bd = (float *)SCALPEL_MALLOC(net->alloc_ctx, (most < 4096 ? 4096 : most) * sizeof(float));
    st = scalpel_net_init(net->in_c, net->in_h, net->in_w, out);
    if (!newt || !wd || !bd) st = SCALPEL_ERR_NO_MEMORY;
    if (st == SCALPEL_OK) {
        out->alloc_ctx = net->alloc_ctx;
        out->input_norm = net->input_norm; /* layer 0 stays layer 0: nothing folds into an input */
    }
    if (newt) newt[0] = 0;
    for (i = 0; i < net->n_layers && st == SCALPEL_OK; i++) {
        const scalpel_layer *L = &net->layers[i];
        int32_t t = scalpel__geom_source(&L->geom, i), t2 = scalpel__geom_source2(&L->geom, i);
        int32_t from = ni - newt[t], from2 = t2 >= 0 ? ni - newt[t2] : 0;
        if (i + 1 < net->n_layers && scalpel__bn_folds(net, i + 1)) {
            /* this layer with the batch norm after it: W'[o] = W[o] * scale[o], b' = b * scale + shift */
            const float *p = net->layers[i + 1].params;
            int32_t rows = L->geom.rows, cols = L->geom.cols, r, c;
            scalpel_layer_geom g = L->geom;
            scalpel_layer *nl;
            if ((size_t)rows > (most < 4096 ? 4096 : most)) { st = SCALPEL_ERR_OVERFLOW; break; }
            scalpel__layer_dense_weights(L, wd);
            for (r = 0; r < rows; r++) {
                for (c = 0; c < cols; c++) wd[(size_t)r * (size_t)cols + (size_t)c] *= p[r];
                bd[r] = L->b[r] * p[r] + p[rows + r];
            }
            g.from2 = from2;
            out->next_from = from;
            st = scalpel__net_append_geom(out, &g, g.out_c, &nl);
            if (st == SCALPEL_OK) st = scalpel__net_fill_weights(out, nl, wd, NULL, bd);
            if (st == SCALPEL_OK && L->storage == SCALPEL_STORAGE_GCSR) { /* sparse stays sparse */
                scalpel_gcsr m;
                st = scalpel_gcsr_from_dense(wd, rows, cols, L->sparse.group, &m);
                if (st == SCALPEL_OK) {
                    st = scalpel__layer_set_gcsr(out, &out->layers[out->n_layers - 1], &m, bd);
                    scalpel_gcsr_free(&m);
                }
            }
            newt[i + 1] = newt[i + 2] = ni + 1;
            ni++;
            count++;
            i++; /* the batch norm is done */
            continue;
        }
        st = scalpel__net_append_copy(out, L, from, from2);
        newt[i + 1] = ni + 1;
        ni++;
    }
    if (newt) SCALPEL_FREE(net->alloc_ctx, newt);
    if (wd) SCALPEL_FREE(net->alloc_ctx, wd);
    if (bd) SCALPEL_FREE(net->alloc_ctx, bd);
    if (st != SCALPEL_OK) {
        scalpel_net_free(out);
        return st;
    }
    if (folded) *folded = count;
    return SCALPEL_OK;
}
#endif /* SCALPEL_NO_MALLOC */

/* ---- what takes a layer --------------------------------------------------------------------- */

SCALPEL_API int scalpel_layer_supports(const scalpel_layer_geom *g, int32_t use)
{
    if (!g || !scalpel__kind_ok(g->kind) || use < SCALPEL_USE_FIXED_POINT || use > SCALPEL_USE_NODE_REMOVAL) return 0;
    if (!scalpel__kinds[g->kind].uses[use]) return 0;
    if (use != SCALPEL_USE_NODE_REMOVAL && use != SCALPEL_USE_FIXED_POINT &&
        (g->kind == SCALPEL_LAYER_CONV2D || g->kind == SCALPEL_LAYER_MAXPOOL))
        return scalpel__window_basic(g); /* node removal and fixed point take any window */
    return 1;
}

SCALPEL_API int32_t scalpel_net_first_unsupported(const scalpel_net *net, int32_t use)
{
    int32_t i;
    if (!net || !scalpel__net_layers_ok(net)) return -1;
    for (i = 0; i < net->n_layers; i++)
        if (!scalpel_layer_supports(&net->layers[i].geom, use)) return i;
    return -1;
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
    if (net->n_layers <= 0 || !net->layers) return scalpel_net_input_size(net);
    L = &net->layers[net->n_layers - 1];
    return scalpel__net_shape_size(L->geom.out_c, L->geom.out_h, L->geom.out_w);
}

/* The workspace: two ping-pong activation buffers (batch x the largest tensor read only by
 * the next layer), one scratch area (the largest a layer's kind asks for: the im2col matrix
 * of a convolution, the transposed batch of a fully connected layer), then one region per
 * kept tensor (one that a later layer reads again). Each region starts on a 64-byte boundary
 * of whatever pointer the caller passes. Byte sizes per region; SIZE_MAX when anything
 * overflows. */
static size_t scalpel__net_workspace(const scalpel_net *net, int32_t batch, size_t *pp, size_t *scratch, size_t *kept,
                                     int32_t *skips)
{
    size_t total;
    scalpel__plan_acts(net->layers, sizeof(scalpel_layer), net->n_layers, batch, sizeof(float), scalpel__kinds_f32,
                       sizeof(scalpel__kinds_f32[0]), pp, kept, scratch, skips);
    total = scalpel__size_add(scalpel__size_mul(*pp, 2), *scratch);
    total = scalpel__size_add(total, *kept);
    return scalpel__size_add(total, 4 * SCALPEL__NET_ALIGN);
}

SCALPEL_API size_t scalpel_net_workspace_size(const scalpel_net *net, int32_t batch)
{
    size_t pp, scratch, kept, total;
    int32_t skips;
    if (!net || batch < 1 || !scalpel__net_layers_ok(net)) return 0;
    total = scalpel__net_workspace(net, batch, &pp, &scratch, &kept, &skips);
    return total == SIZE_MAX ? 0 : total;
}

/* Where tensor t lives while layer i runs: the network input (t = 0), the previous output
 * (t = i), or its region of the kept area. */
SCALPEL__PRIV const float *scalpel__net_tensor(const scalpel_net *net, const float *in, const float *prev,
                                               const unsigned char *kept, int32_t batch, int32_t i, int32_t t)
{
    if (t == i) return prev;
    if (t == 0) return in;
    return (const float *)(const void *)(kept + scalpel__tensor_kept_offset(net->layers, sizeof(scalpel_layer),
                                                                            net->n_layers, t, batch, sizeof(float)));
}

SCALPEL_API scalpel_status scalpel_net_forward(const scalpel_net *net, const float *in, int32_t batch,
                                               float *out, void *workspace)
{
    size_t pp, scratch_n, kept_n, total, out_n, kept_cursor = 0;
    float *buf[2], *scratch;
    unsigned char *kept;
    const float *prev;
    int32_t i, n, skips;
    if (!net || !in || !out || !workspace) return SCALPEL_ERR_NULL;
    if (batch < 1) return SCALPEL_ERR_ARGUMENT;
    if (!scalpel__net_layers_ok(net)) return SCALPEL_ERR_ARGUMENT;
    total = scalpel__net_workspace(net, batch, &pp, &scratch_n, &kept_n, &skips);
    if (total == SIZE_MAX) return SCALPEL_ERR_OVERFLOW;
    buf[0] = (float *)scalpel__net_align_ptr(workspace);
    buf[1] = (float *)scalpel__net_align_ptr((unsigned char *)buf[0] + pp);
    scratch = (float *)scalpel__net_align_ptr((unsigned char *)buf[1] + pp);
    kept = (unsigned char *)scalpel__net_align_ptr((unsigned char *)scratch + scratch_n);
    out_n = (size_t)scalpel_net_output_size(net);
    n = net->n_layers;
    prev = in;
    for (i = 0; i < n; i++) {
        const scalpel_layer *L = &net->layers[i];
        const scalpel__kind_ops *k;
        int32_t t = scalpel__geom_source(&L->geom, i), t2, o;
        const float *src, *src2;
        float *dst;
        int relu;
        if (!scalpel__kind_ok(L->geom.kind) || t < 0) return SCALPEL_ERR_ARGUMENT;
        k = &scalpel__kinds[L->geom.kind];
        /* a ReLU right after a layer that can take it runs inside that layer's output pass,
         * unless something else reads the tensor between them */
        relu = k->fuses_relu ? scalpel__act_fusable(net->layers, n, i) : 0; /* 1 ReLU, 2 clip */
        src = scalpel__net_tensor(net, in, prev, kept, batch, i, t);
        t2 = scalpel__geom_source2(&L->geom, i);
        src2 = t2 >= 0 ? scalpel__net_tensor(net, in, prev, kept, batch, i, t2) : NULL;
        o = i + 1 + (relu != 0); /* the tensor this pass produces */
        if (skips && scalpel__tensor_kept(net->layers, sizeof(scalpel_layer), n, o)) {
            dst = (float *)(void *)(kept + kept_cursor);
            kept_cursor += scalpel__net_round(scalpel__tensor_elems(net->layers, sizeof(scalpel_layer), o) *
                                              (size_t)batch * sizeof(float));
        } else {
            dst = prev == buf[0] ? buf[1] : buf[0];
        }
        scalpel__kinds_f32[L->geom.kind].forward(L, src, src2, batch, dst, scratch, relu);
        i += relu != 0;
        prev = dst;
    }
    memcpy(out, prev, out_n * (size_t)batch * sizeof(float));
    return SCALPEL_OK;
}

/* Checks layer i's geometry (layers `stride` bytes apart, float or fixed-point, of a network
 * with input [in_c x in_h x in_w]): from and from2 in range, the kind known, and every field
 * equal to what the kind's rules rebuild from its parameters and the tensors it reads. */
SCALPEL__PRIV scalpel_status scalpel__geom_check(const void *layers, size_t stride, int32_t in_c, int32_t in_h,
                                                 int32_t in_w, int32_t i)
{
    const scalpel_layer_geom *g = SCALPEL__GEOM_AT(layers, stride, i);
    scalpel_layer_geom ref = *g;
    scalpel_status st;
    if (!scalpel__kind_ok(g->kind)) return SCALPEL_ERR_ARGUMENT;
    ref.in_c = ref.in_h = ref.in_w = ref.out_c = ref.out_h = ref.out_w = ref.rows = ref.cols = 0;
    st = scalpel__geom_build(layers, stride, in_c, in_h, in_w, i, &ref, scalpel__is_weighted(g->kind) ? g->out_c : 0);
    if (st != SCALPEL_OK) return st;
    return memcmp(&ref, g, sizeof(ref)) == 0 ? SCALPEL_OK : SCALPEL_ERR_SHAPE;
}

/* The input_norm record of net is one scalpel_input_norm describes: all zero, or FOLDED /
 * LAYER with 1 or in_c (<= 4) channels, a finite range > 0, finite means, finite stds > 0,
 * zeros past `channels`; LAYER with a batchnorm as layer 0 reading the input. */
SCALPEL__PRIV int scalpel__input_norm_ok(const scalpel_net *net)
{
    const scalpel_input_norm *q = &net->input_norm;
    int32_t c;
    if (q->where == SCALPEL_INPUT_NORM_NONE) {
        if (q->channels != 0 || q->range != 0.0f) return 0;
        for (c = 0; c < SCALPEL_INPUT_NORM_MAX_CHANNELS; c++)
            if (q->mean[c] != 0.0f || q->std[c] != 0.0f) return 0;
        return 1;
    }
    if (q->where != SCALPEL_INPUT_NORM_FOLDED && q->where != SCALPEL_INPUT_NORM_LAYER) return 0;
    if (q->channels < 1 || q->channels > SCALPEL_INPUT_NORM_MAX_CHANNELS) return 0;
    if (q->channels != 1 && q->channels != net->in_c) return 0;
    if (!(q->range > 0.0f && q->range <= 3.0e38f)) return 0;
    for (c = 0; c < SCALPEL_INPUT_NORM_MAX_CHANNELS; c++) {
        if (c >= q->channels) {
            if (q->mean[c] != 0.0f || q->std[c] != 0.0f) return 0;
        } else if (!(q->mean[c] >= -3.0e38f && q->mean[c] <= 3.0e38f && q->std[c] > 0.0f && q->std[c] <= 3.0e38f)) {
            return 0;
        }
    }
    if (q->where == SCALPEL_INPUT_NORM_LAYER &&
        (net->n_layers < 1 || net->layers[0].geom.kind != SCALPEL_LAYER_BATCHNORM))
        return 0;
    return 1;
}

SCALPEL_API scalpel_status scalpel_net_validate(const scalpel_net *net)
{
    int32_t i;
    if (!net) return SCALPEL_ERR_NULL;
    if (net->in_c < 1 || net->in_h < 1 || net->in_w < 1) return SCALPEL_ERR_SHAPE;
    if (scalpel__net_dims(net->in_c, net->in_h, net->in_w) < 0) return SCALPEL_ERR_OVERFLOW;
    if (net->n_layers < 0) return SCALPEL_ERR_ARGUMENT;
    if (net->n_layers > 0 && !net->layers) return SCALPEL_ERR_NULL;
    if (net->packed_batch < 0 || net->packed_batch > SCALPEL_NET_MAX_PACKED_BATCH) return SCALPEL_ERR_ARGUMENT;
    if (!scalpel__input_norm_ok(net)) return SCALPEL_ERR_ARGUMENT;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        scalpel_status st = scalpel__geom_check(net->layers, sizeof(scalpel_layer), net->in_c, net->in_h, net->in_w, i);
        if (st != SCALPEL_OK) return st;
        if (scalpel__kinds[L->geom.kind].per_channel) {
            if (!L->params) return SCALPEL_ERR_NULL;
            if (!scalpel__net_all_finite(L->params, (size_t)scalpel__kinds[L->geom.kind].per_channel * (size_t)L->geom.out_c))
                return SCALPEL_ERR_ARGUMENT;
        } else if (L->params) {
            return SCALPEL_ERR_ARGUMENT;
        }
        if (scalpel__is_weighted(L->geom.kind)) {
            if (!L->b) return SCALPEL_ERR_NULL;
            if (L->storage == SCALPEL_STORAGE_DENSE) {
                if (!L->w) return SCALPEL_ERR_NULL;
            } else if (L->storage == SCALPEL_STORAGE_GCSR) {
                st = scalpel_gcsr_validate(&L->sparse);
                if (st != SCALPEL_OK) return st;
                if (L->sparse.dtype != SCALPEL_DTYPE_F32) return SCALPEL_ERR_DTYPE;
                if (L->sparse.rows != L->geom.rows || L->sparse.cols != L->geom.cols) return SCALPEL_ERR_SHAPE;
            } else if ((L->storage == SCALPEL_STORAGE_HYBRID || L->storage == SCALPEL_STORAGE_TASD) &&
                       L->geom.groups > 1) {
                return SCALPEL_ERR_UNSUPPORTED; /* a grouped convolution runs dense or grouped CSR only */
            } else if (L->storage == SCALPEL_STORAGE_HYBRID) {
                scalpel_hybrid hy;
                hy.grouped = L->sparse;
                hy.residual = L->residual;
                st = scalpel_hybrid_validate(&hy);
                if (st != SCALPEL_OK) return st;
                if (L->sparse.dtype != SCALPEL_DTYPE_F32 || L->residual.dtype != SCALPEL_DTYPE_F32) return SCALPEL_ERR_DTYPE;
                if (L->sparse.rows != L->geom.rows || L->sparse.cols != L->geom.cols) return SCALPEL_ERR_SHAPE;
            } else if (L->storage == SCALPEL_STORAGE_TASD) {
                if (!L->series) return SCALPEL_ERR_NULL;
                st = scalpel_tasd_validate(L->series);
                if (st != SCALPEL_OK) return st;
                if (L->series->rows != L->geom.rows || L->series->cols != L->geom.cols) return SCALPEL_ERR_SHAPE;
            } else {
                return SCALPEL_ERR_ARGUMENT;
            }
        } else if (L->storage != SCALPEL_STORAGE_DENSE) {
            return SCALPEL_ERR_ARGUMENT;
        }
    }
    return SCALPEL_OK;
}

SCALPEL_API size_t scalpel_net_weight_bytes(const scalpel_net *net)
{
    size_t total = 0;
    int32_t i;
    if (!net || !scalpel__net_layers_ok(net)) return 0;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        if (scalpel__kind_ok(L->geom.kind) && scalpel__kinds[L->geom.kind].per_channel) /* batch norm's scale, shift */
            total += (size_t)scalpel__kinds[L->geom.kind].per_channel * (size_t)L->geom.out_c * sizeof(float);
        if (!scalpel__is_weighted(L->geom.kind)) continue;
        if (L->storage == SCALPEL_STORAGE_GCSR) total += scalpel_gcsr_bytes(&L->sparse);
        else if (L->storage == SCALPEL_STORAGE_HYBRID) total += scalpel_gcsr_bytes(&L->sparse) + scalpel_gcsr_bytes(&L->residual);
        else if (L->storage == SCALPEL_STORAGE_TASD) total += scalpel_tasd_bytes(L->series);
        else total += (size_t)L->geom.rows * (size_t)L->geom.cols * sizeof(float);
        total += (size_t)L->geom.rows * sizeof(float);
    }
    return total;
}

SCALPEL_API int64_t scalpel_layer_macs(const scalpel_layer *layer)
{
    int64_t positions, per;
    if (!layer || !scalpel__is_weighted(layer->geom.kind)) return 0;
    positions = (int64_t)layer->geom.out_h * layer->geom.out_w;
    if (layer->storage == SCALPEL_STORAGE_GCSR) per = (int64_t)layer->sparse.nnz_groups * layer->sparse.group;
    else if (layer->storage == SCALPEL_STORAGE_HYBRID)
        per = (int64_t)layer->sparse.nnz_groups * layer->sparse.group + layer->residual.nnz_groups;
    else if (layer->storage == SCALPEL_STORAGE_TASD) {
        int32_t i;
        per = 0;
        if (layer->series)
            for (i = 0; i < layer->series->n_terms && i < SCALPEL_TASD_MAX_TERMS; i++)
                per += (int64_t)layer->series->terms[i].rows * layer->series->terms[i].groups * layer->series->terms[i].n;
    } else per = (int64_t)layer->geom.rows * layer->geom.cols;
    return per * positions;
}

SCALPEL_API int scalpel_net_has_decomposed(const scalpel_net *net)
{
    int32_t i;
    if (!net || !scalpel__net_layers_ok(net)) return 0;
    for (i = 0; i < net->n_layers; i++)
        if (net->layers[i].storage == SCALPEL_STORAGE_HYBRID || net->layers[i].storage == SCALPEL_STORAGE_TASD) return 1;
    return 0;
}

SCALPEL_API void scalpel_net_free(scalpel_net *net)
{
    if (!net) return;
#ifndef SCALPEL_NO_MALLOC
    if (net->layers) {
        int32_t i, n = net->n_layers;
        if (net->capacity > 0 && n > net->capacity) n = net->capacity;
        for (i = 0; i < n; i++) scalpel__layer_release(net, &net->layers[i]);
        if (net->owns_layers) SCALPEL_FREE(net->alloc_ctx, net->layers);
    }
    if (net->block) SCALPEL_FREE(net->alloc_ctx, net->block);
#endif
    memset(net, 0, sizeof(*net));
}

/* e^x for x <= 0 (what softmax needs after subtracting the maximum), without libm so that the
 * library links without -lm on every target. x = k ln2 + r with |r| <= ln2 / 2; e^r by its
 * Taylor polynomial to degree 7 (relative error under 2e-8, below float rounding); 2^k built
 * in the exponent field. Results under FLT_MIN flush to 0, far below what a probability
 * needs. NaN stays NaN. */
SCALPEL__PRIV float scalpel__expf_nonpos(float x)
{
    double r, p;
    int32_t k;
    uint64_t bits;
    double scale;
    if (x != x) return x;
    if (x < -87.0f) return 0.0f;
    k = (int32_t)(x * 1.4426950408889634 - 0.5);           /* round(x / ln2), x <= 0 */
    r = (double)x - (double)k * 0.6931471805599453;
    p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 + r * (1.0 / 5040)))))));
    bits = (uint64_t)(1023 + k) << 52;
    memcpy(&scale, &bits, sizeof(scale));
    return (float)(p * scale);
}

SCALPEL_API void scalpel_softmax_f32(float *x, int32_t n)
{
    float m, sum = 0.0f;
    int32_t i;
    if (!x || n < 1) return;
    m = x[0];
    for (i = 1; i < n; i++) if (x[i] > m) m = x[i];
    for (i = 0; i < n; i++) { x[i] = scalpel__expf_nonpos(x[i] - m); sum += x[i]; }
    for (i = 0; i < n; i++) x[i] /= sum;
}

SCALPEL_API int32_t scalpel_argmax_f32(const float *x, int32_t n)
{
    int32_t i, best = 0;
    if (!x || n < 1) return -1;
    for (i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}


/* ======================================================================================== */
/* >>model files (implementation)                                                           */
/* ======================================================================================== */
/*
 * MODEL FILE FORMAT, VERSION 4 (and 3, 2, 1). Every integer is little-endian; floats are IEEE-754 binary32
 * bit patterns, little-endian. Offsets are from the first byte of the file.
 *
 * Header, 64 bytes:
 *   offset  size  field
 *   0       4     magic "SCPN"
 *   4       2     format version (3; readers also take 2 and 1; the writer uses 2 when every
 *                 layer is one version 2 holds: fc, conv2d, maxpool, relu with square, even,
 *                 plain windows and unpadded max pooling)
 *   6       2     header size in bytes (64)
 *   8       4     layer record size in bytes (224 in versions 3 and 4, 144 in version 2, 128 in version 1)
 *   12      4     layer count n (0 .. SCALPEL_NET_MAX_LAYERS)
 *   16      4     input channels  (int32, >= 1)
 *   20      4     input height    (int32, >= 1)
 *   24      4     input width     (int32, >= 1)
 *   28      4     flags, zero
 *   32      8     total size of the file in bytes, checksum included
 *   40      24    reserved, zero
 *
 * Layer records, n x 224 bytes (version 2: n x 144, version 1: n x 128) from offset 64 (int32
 * fields are non-negative; version 4's records are version 3's, see "Version 4" below for the
 * storages it adds):
 *   0       4     kind (scalpel_layer_kind: 1 fc, 2 conv2d, 3 maxpool, 4 relu; from version 3:
 *                 5 avgpool, 6 batchnorm, 7 add, 8 concat, 9 clip, 10 leaky_relu, 11 sigmoid,
 *                 12 tanh, 13 hardswish, 14 softmax, 15 lrn)
 *   4       4     outputs: fc outputs or conv2d out_channels; 0 for the unweighted kinds
 *   8       4     kernel   (versions 1, 2: conv2d, maxpool; else 0. Version 3: 0)
 *   12      4     stride   (likewise)
 *   16      4     pad      (versions 1, 2: conv2d; else 0. Version 3: 0)
 *   20      4     storage  (scalpel_storage: 0 dense, 1 grouped CSR; from version 4: 2 the exact
 *                 hybrid, 3 a TASD series; 0 for unweighted layers)
 *   24      4     rows of the weight matrix (0 for unweighted layers)
 *   28      4     cols of the weight matrix (0 for unweighted layers)
 *   32      4     group G of the grouped CSR (1, 2, 4, 8, 16; the hybrid's grouped part: 2 ..
 *                 16; TASD: the number of terms T, 0 .. SCALPEL_TASD_MAX_TERMS; 0 when dense)
 *   36      4     index bits of the grouped CSR (16 or 32; 0 when dense or TASD)
 *   40      4     nnz_groups of the grouped CSR (0 when dense or TASD)
 *   44      4     dtype of the stored values (scalpel_dtype; 0 = F32, the only one in v1)
 *   48      16    dense weights w   [rows x cols] f32:  offset (u64), size in bytes (u64);
 *                 storages 2 and 3: the decomposition array instead (below)
 *   64      16    bias b            [rows] f32:         offset, size
 *   80      16    row_ptr           [rows + 1] int32:   offset, size
 *   96      16    col_idx           [nnz_groups] uint16 or uint32 (index bits): offset, size
 *   112     16    values            [nnz_groups x G] f32: offset, size
 *   version 2 only:
 *   128     4     from: the tensor the layer reads, counted back from the one just before it
 *                 (scalpel_layer_geom.from: 0 = the previous layer's output; k <= the
 *                 layer's index, k = index: the network input)
 *   132     12    version 2: reserved, zero
 *   version 3 only:
 *   132     4     from2: the second tensor of add and concat, counted like from; else 0
 *   136     16    params [per_channel x out_c] f32 (batchnorm: scale[C] then shift[C]): offset,
 *                 size; after the five arrays above in the data
 *   152     48    kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left, pad_bottom,
 *                 pad_right, dilation_h, dilation_w, groups, mode (int32 each, as
 *                 scalpel_layer_geom has them; all 0 for the kinds without a window, lrn's size
 *                 in kernel_h and kernel_w)
 *   200     12    alpha, beta, k (f32, finite; 0 where the kind has none)
 *   212     12    reserved, zero
 *   An array the layer does not have (w of a sparse layer, the CSR arrays of a dense one,
 *   everything of an unweighted layer, col_idx and values when nnz_groups is 0) has offset 0
 *   and size 0. Every size is exactly the element count times the element size, except the
 *   decomposition array's, which is the length of the buffers it holds.
 *
 * Version 4 adds two storages for a weighted layer (not a convolution with groups > 1, whose
 * groups run apart), the no-retrain planner's (scalpel_plan_no_retrain). The writer uses
 * version 4 only when a layer has one of them (or the header holds version 4's fields).
 *   2  hybrid, W = grouped + residual exactly (scalpel_hybrid): fields 32 .. 40 and row_ptr,
 *      col_idx, values hold the grouped part (G >= 2) as for storage 1; the decomposition
 *      array at 48 holds the residual, a CSR matrix [rows x cols] (G = 1, f32), as one
 *      grouped-CSR buffer (scalpel_gcsr_serialize: magic "SCPG", its layout in
 *      scalpel_format.h, with its own CRC-32).
 *   3  TASD, W ~ T1 + ... + TT (scalpel_tasd): field 32 holds T, fields 36 and 40 are 0,
 *      row_ptr, col_idx and values are absent; the decomposition array holds the terms
 *      [rows x cols] in order, each as one N:M buffer (scalpel_nm_serialize: magic "SCPM",
 *      f32, with its own CRC-32; each a multiple of 4 bytes long), back to back. T = 0 (the
 *      zero matrix) has no array.
 *   The array's size is exactly the sum of its buffers' sizes; inside them, every field as the
 *   buffer's writer writes it (shape rows x cols, reserved and padding bytes zero) and every
 *   value finite. A reader points the matrices into the buffers, as it does the other arrays
 *   (the residual: row_ptr at 48, col_idx right after, values on the next multiple of 4; a
 *   term: meta at 48, values on the next multiple of 4): nothing is copied. A TASD layer
 *   points to a scalpel_tasd, one small struct that scalpel_net_view and scalpel_net_load
 *   allocate; scalpel_net_view_with, which allocates nothing, refuses a TASD layer with
 *   SCALPEL_ERR_UNSUPPORTED (and takes hybrid layers). Files of versions 1 to 3 never have
 *   storage 2 or 3.
 *
 * Data, from offset 64 + n * record size: the arrays in record order (layer 0: w or the
 * decomposition, b, row_ptr, col_idx, values, params; then layer 1 ...), each starting on a
 * multiple of 64 bytes of the file, with zero bytes in every gap. After the last array: zero
 * padding to a multiple of 4, then
 *   total-4 4     CRC-32 (scalpel_crc32, as zlib's crc32) of every byte before it.
 *
 * The shapes of every layer (input and output C x H x W) are not stored: a reader rebuilds
 * them from the shapes of the tensors the layer reads and each record's kind, outputs and
 * parameters, and the stored rows and cols must equal the rebuilt ones. Weights and biases must be finite.
 * A reader treats the bytes as hostile: sizes before reads, every product in 64-bit with
 * overflow checks, offsets aligned, in range, in order and not overlapping, reserved fields
 * and gaps zero, the checksum, then the full network check (scalpel_net_validate).
 */


#define SCALPEL__NF_HEADER 64u
#define SCALPEL__NF_RECORD 224u     /* versions 3 and 4 */
#define SCALPEL__NF_RECORD_V2 144u  /* version 2 */
#define SCALPEL__NF_RECORD_V1 128u  /* version 1 */
#define SCALPEL__NF_ALIGN 64u
#define SCALPEL__NF_ARRAYS 6 /* w (or the decomposition), b, row_ptr, col_idx, values, params: the data's order */

/* Where the record keeps array k's offset (its size follows): the first five from byte 48,
 * version 3's params at 136. */
#define SCALPEL__NF_ARRAY_FIELD(k) ((k) < 5 ? 48u + 16u * (unsigned)(k) : 136u)

/* 1 when a layer is one the first versions of the format hold (versions 1 and 2: fc, conv2d,
 * maxpool, relu with square, even, plain windows, max pooling unpadded). The writer uses the
 * oldest version that holds every layer, so files of such networks stay readable by older
 * readers. */
SCALPEL__PRIV int scalpel__nf_first_version_layer(const scalpel_layer_geom *g)
{
    if (g->kind < SCALPEL_LAYER_FC || g->kind > SCALPEL_LAYER_RELU) return 0;
    if (g->kind == SCALPEL_LAYER_CONV2D || g->kind == SCALPEL_LAYER_MAXPOOL) return scalpel__window_basic(g);
    return 1;
}

/* 1 when net has what only version 4's header holds: the input preprocessing or the batch
 * the model was packed for. */
SCALPEL__PRIV int scalpel__nf_header_needs_v4(const scalpel_net *net)
{
    return net->packed_batch != 0 || net->input_norm.where != SCALPEL_INPUT_NORM_NONE;
}

/* 1 when layer L needs version 4's records: its weights are stored HYBRID or TASD (the
 * no-retrain planner's storages; storage numbers 2 and 3 in a record). */
SCALPEL__PRIV int scalpel__nf_layer_needs_v4(const scalpel_layer *L)
{
    return L->storage == SCALPEL_STORAGE_HYBRID || L->storage == SCALPEL_STORAGE_TASD;
}

/* The format version the writer uses for net: 2, 3 when a layer needs it, 4 when the header's
 * metadata or a layer's storage does. */
SCALPEL__PRIV uint32_t scalpel__nf_version_for(const scalpel_net *net)
{
    int32_t i;
    if (scalpel__nf_header_needs_v4(net)) return 4u;
    for (i = 0; i < net->n_layers; i++)   /* decomposed layers: version 4's records */
        if (scalpel__nf_layer_needs_v4(&net->layers[i])) return 4u;
    for (i = 0; i < net->n_layers; i++)
        if (!scalpel__nf_first_version_layer(&net->layers[i].geom)) return 3u;
    return 2u;
}
SCALPEL__PRIV uint32_t scalpel__nf_record_size(uint32_t version)
{
    return version == 1u ? SCALPEL__NF_RECORD_V1 : version == 2u ? SCALPEL__NF_RECORD_V2 : SCALPEL__NF_RECORD;
}

/* Little-endian fields: scalpel__put_u16/u32/u64 and scalpel__get_* (scalpel_format.h). */

/* A view hands the file's bytes to the kernels as floats and integers in place, which is only
 * right when the host stores them little-endian as the file does. Asked at run time: there is
 * no portable compile-time test, and the answer costs nothing. */
SCALPEL__PRIV int scalpel__nf_little_endian(void)
{
    uint32_t one = 1u;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1u;
}

/* Finite test on the bit pattern: independent of -ffast-math and of <math.h>. */
SCALPEL__PRIV int scalpel__nf_finite_bits(uint32_t bits)
{
    return (bits & 0x7f800000u) != 0x7f800000u;
}

SCALPEL__PRIV uint64_t scalpel__nf_round_up(uint64_t n, uint64_t a)
{
    return (n + a - 1u) / a * a;
}

/* Byte sizes of a layer's arrays (record order) from its storage fields, in 64-bit: with rows,
 * cols, nnz_groups and G already known to be in [0, INT32_MAX] and G <= 16, no product below
 * can overflow (the largest, rows * cols * 4, is under 2^64). A hybrid's grouped part has a
 * grouped CSR's arrays; the decomposition array of HYBRID and TASD (slot 0) is sized by its
 * contents, not by the record, and is left 0 here. */
SCALPEL__PRIV void scalpel__nf_array_sizes(int32_t kind, int32_t storage, int64_t rows, int64_t cols,
                                           int64_t group, int64_t index_bits, int64_t nnz, int64_t out_c,
                                           uint64_t sz[SCALPEL__NF_ARRAYS])
{
    int k;
    for (k = 0; k < SCALPEL__NF_ARRAYS; k++) sz[k] = 0;
    if (scalpel__kind_ok(kind)) sz[5] = (uint64_t)scalpel__kinds[kind].per_channel * (uint64_t)out_c * 4u;
    if (!scalpel__is_weighted(kind)) return;
    sz[1] = (uint64_t)rows * 4u;
    if (storage == SCALPEL_STORAGE_DENSE) {
        sz[0] = (uint64_t)rows * (uint64_t)cols * 4u;
    } else if (storage == SCALPEL_STORAGE_GCSR || storage == SCALPEL_STORAGE_HYBRID) {
        sz[2] = ((uint64_t)rows + 1u) * 4u;
        sz[3] = (uint64_t)nnz * (uint64_t)(index_bits / 8);
        sz[4] = (uint64_t)nnz * (uint64_t)group * 4u;
    }
}

/* Size of the decomposition array of a valid HYBRID or TASD layer (version 4): the residual's
 * grouped-CSR buffer, or the terms' N:M buffers back to back (each a multiple of 4 bytes). */
SCALPEL__PRIV uint64_t scalpel__nf_decomposition_bytes(const scalpel_layer *L)
{
    uint64_t n = 0;
    int32_t t;
    if (L->storage == SCALPEL_STORAGE_HYBRID) return (uint64_t)scalpel_gcsr_serialized_size(&L->residual);
    for (t = 0; t < L->series->n_terms; t++) n += (uint64_t)scalpel_nm_serialized_size(&L->series->terms[t]);
    return n;
}

/* The largest file offset the writer produces: under 2^62, and what a size_t holds. */
#define SCALPEL__NF_LIMIT ((uint64_t)SIZE_MAX < ((uint64_t)1 << 62) ? (uint64_t)SIZE_MAX : ((uint64_t)1 << 62))

/* Where the writer puts the arrays of layer L of a valid network (offsets 0 for absent
 * arrays), from *cursor on; *cursor advances past them. SCALPEL_ERR_OVERFLOW when the file
 * would not fit a size_t. */
SCALPEL__PRIV scalpel_status scalpel__nf_layer_layout(const scalpel_layer *L, uint64_t *cursor,
                                                      uint64_t off[SCALPEL__NF_ARRAYS], uint64_t sz[SCALPEL__NF_ARRAYS])
{
    const scalpel_gcsr *s = &L->sparse;
    int grouped = L->storage == SCALPEL_STORAGE_GCSR || L->storage == SCALPEL_STORAGE_HYBRID, k;
    scalpel__nf_array_sizes(L->geom.kind, L->storage, L->geom.rows, L->geom.cols, grouped ? s->group : 0,
                            grouped ? s->index_bits : 0, grouped ? s->nnz_groups : 0, L->geom.out_c, sz);
    if (scalpel__is_weighted(L->geom.kind) && scalpel__nf_layer_needs_v4(L)) sz[0] = scalpel__nf_decomposition_bytes(L);
    for (k = 0; k < SCALPEL__NF_ARRAYS; k++) {
        off[k] = 0;
        if (sz[k] == 0) continue;
        /* each step stays under 2^62 + 2^63 at worst, so the checks themselves never wrap */
        if (sz[k] > SCALPEL__NF_LIMIT || *cursor > SCALPEL__NF_LIMIT - sz[k] - SCALPEL__NF_ALIGN) return SCALPEL_ERR_OVERFLOW;
        off[k] = scalpel__nf_round_up(*cursor, SCALPEL__NF_ALIGN);
        *cursor = off[k] + sz[k];
    }
    return SCALPEL_OK;
}

/* Where the writer puts the input preprocessing's array (mean[channels], then std[channels],
 * f32) of a valid network: on the first 64-byte boundary after the last layer's arrays.
 * Returns its offset (0: the network records none); *cursor advances past it. The cursor is
 * under 2^62, so adding 64 + 32 bytes cannot wrap. */
SCALPEL__PRIV uint64_t scalpel__nf_norm_layout(const scalpel_net *net, uint64_t *cursor)
{
    uint64_t off;
    if (net->input_norm.where == SCALPEL_INPUT_NORM_NONE) return 0;
    off = scalpel__nf_round_up(*cursor, SCALPEL__NF_ALIGN);
    *cursor = off + 8u * (uint64_t)net->input_norm.channels;
    return off;
}

/* The total file size of a valid network. */
SCALPEL__PRIV scalpel_status scalpel__nf_layout(const scalpel_net *net, size_t *total)
{
    uint64_t cursor = SCALPEL__NF_HEADER + (uint64_t)net->n_layers * scalpel__nf_record_size(scalpel__nf_version_for(net)),
             off[SCALPEL__NF_ARRAYS], sz[SCALPEL__NF_ARRAYS];
    int32_t i;
    if (net->n_layers > SCALPEL_NET_MAX_LAYERS) return SCALPEL_ERR_UNSUPPORTED;
    for (i = 0; i < net->n_layers; i++) {
        scalpel_status st = scalpel__nf_layer_layout(&net->layers[i], &cursor, off, sz);
        if (st != SCALPEL_OK) return st;
    }
    (void)scalpel__nf_norm_layout(net, &cursor);
    cursor = scalpel__nf_round_up(cursor, 4u) + 4u;
    if (cursor > SCALPEL__NF_LIMIT) return SCALPEL_ERR_OVERFLOW;
    *total = (size_t)cursor;
    return SCALPEL_OK;
}

SCALPEL_API size_t scalpel_net_serialized_size(const scalpel_net *net)
{
    size_t total = 0;
    if (scalpel_net_validate(net) != SCALPEL_OK) return 0;
    if (scalpel__nf_layout(net, &total) != SCALPEL_OK) return 0;
    return total;
}

/* Copies n floats as little-endian bit patterns; 0 when one is not finite (a model file never
 * holds one, so that every reader can trust the values it maps). */
SCALPEL__PRIV int scalpel__nf_put_floats(unsigned char *p, const float *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, v + i, 4);
        if (!scalpel__nf_finite_bits(bits)) return 0;
        scalpel__put_u32(p + 4 * i, bits);
    }
    return 1;
}

/* Writes the decomposition array of a valid HYBRID or TASD layer into q[size] (its exact size,
 * scalpel__nf_decomposition_bytes): 1, or 0 when a value is not finite (the buffers' writers
 * copy bits as they are; a model file holds only finite values). */
SCALPEL__PRIV int scalpel__nf_put_decomposition(const scalpel_layer *L, unsigned char *q, uint64_t size)
{
    size_t used = 0, w = 0;
    int32_t t;
    if (L->storage == SCALPEL_STORAGE_HYBRID) {
        const scalpel_gcsr *R = &L->residual;
        return scalpel__net_all_finite((const float *)R->values, (size_t)R->nnz_groups) &&
               scalpel_gcsr_serialize(R, q, (size_t)size, &w) == SCALPEL_OK && (uint64_t)w == size;
    }
    for (t = 0; t < L->series->n_terms; t++) {
        const scalpel_nm *T = &L->series->terms[t];
        if (!scalpel__net_all_finite(T->values, (size_t)T->rows * (size_t)T->groups * (size_t)T->n) ||
            scalpel_nm_serialize(T, q + used, (size_t)size - used, &w) != SCALPEL_OK)
            return 0;
        used += w;
    }
    return (uint64_t)used == size;
}

/* Writes the canonical file of net: arrays in record order on the first free 64-byte boundary,
 * every other byte zero, so the same network always gives the same bytes (a view
 * re-serializes to an identical file, and files can be compared or hashed). */
SCALPEL_API scalpel_status scalpel_net_serialize(const scalpel_net *net, void *buf, size_t capacity,
                                                 size_t *written)
{
    uint64_t off[SCALPEL__NF_ARRAYS] = { 0, 0, 0, 0, 0, 0 }, sz[SCALPEL__NF_ARRAYS] = { 0, 0, 0, 0, 0, 0 }, cursor;
    unsigned char *p = (unsigned char *)buf;
    uint32_t version, record;
    size_t total = 0;
    int32_t i;
    int k, ok = 1;
    scalpel_status st;
    if (written == NULL) return SCALPEL_ERR_NULL;
    *written = 0;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (buf == NULL) return SCALPEL_ERR_NULL;
    st = scalpel__nf_layout(net, &total);
    if (st != SCALPEL_OK) return st;
    if (capacity < total) return SCALPEL_ERR_BUFFER_TOO_SMALL;
    memset(p, 0, total);
    version = scalpel__nf_version_for(net);
    record = scalpel__nf_record_size(version);
    memcpy(p, SCALPEL_NET_MAGIC, 4);
    scalpel__put_u16(p + 4, (uint16_t)version);
    scalpel__put_u16(p + 6, SCALPEL__NF_HEADER);
    scalpel__put_u32(p + 8, record);
    scalpel__put_u32(p + 12, (uint32_t)net->n_layers);
    scalpel__put_u32(p + 16, (uint32_t)net->in_c);
    scalpel__put_u32(p + 20, (uint32_t)net->in_h);
    scalpel__put_u32(p + 24, (uint32_t)net->in_w);
    scalpel__put_u64(p + 32, (uint64_t)total);
    cursor = SCALPEL__NF_HEADER + (uint64_t)net->n_layers * record;
    for (i = 0; i < net->n_layers && ok; i++) {
        const scalpel_layer *L = &net->layers[i];
        unsigned char *r = p + SCALPEL__NF_HEADER + (size_t)i * record;
        int weighted = scalpel__is_weighted(L->geom.kind), decomposed = weighted && scalpel__nf_layer_needs_v4(L);
        int gcsr = weighted && (L->storage == SCALPEL_STORAGE_GCSR || L->storage == SCALPEL_STORAGE_HYBRID);
        scalpel__put_u32(r + 0, (uint32_t)L->geom.kind);
        scalpel__put_u32(r + 4, weighted ? (uint32_t)L->geom.out_c : 0u);
        if (version < 3u) { /* version 3 keeps the window in its own fields */
            scalpel__put_u32(r + 8, (uint32_t)L->geom.kernel);
            scalpel__put_u32(r + 12, (uint32_t)L->geom.stride);
            scalpel__put_u32(r + 16, (uint32_t)L->geom.pad);
        }
        scalpel__put_u32(r + 20, (uint32_t)L->storage);
        scalpel__put_u32(r + 24, (uint32_t)L->geom.rows);
        scalpel__put_u32(r + 28, (uint32_t)L->geom.cols);
        if (gcsr) {
            scalpel__put_u32(r + 32, (uint32_t)L->sparse.group);
            scalpel__put_u32(r + 36, (uint32_t)L->sparse.index_bits);
            scalpel__put_u32(r + 40, (uint32_t)L->sparse.nnz_groups);
        } else if (weighted && L->storage == SCALPEL_STORAGE_TASD) {
            scalpel__put_u32(r + 32, (uint32_t)L->series->n_terms);
        }
        scalpel__put_u32(r + 44, (uint32_t)SCALPEL_DTYPE_F32);
        (void)scalpel__nf_layer_layout(L, &cursor, off, sz); /* succeeded for the total above */
        for (k = 0; k < SCALPEL__NF_ARRAYS; k++) {
            if (k == 5 && version < 3u) break; /* sz[5] is 0 for every first-version kind */
            scalpel__put_u64(r + SCALPEL__NF_ARRAY_FIELD(k), off[k]);
            scalpel__put_u64(r + SCALPEL__NF_ARRAY_FIELD(k) + 8, sz[k]);
        }
        scalpel__put_u32(r + 128, (uint32_t)L->geom.from);
        if (version >= 3u) {
            const scalpel_layer_geom *g = &L->geom;
            int32_t ints[12];
            float reals[3];
            int q;
            ints[0] = g->kernel_h; ints[1] = g->kernel_w; ints[2] = g->stride_h; ints[3] = g->stride_w;
            ints[4] = g->pad_top; ints[5] = g->pad_left; ints[6] = g->pad_bottom; ints[7] = g->pad_right;
            ints[8] = g->dilation_h; ints[9] = g->dilation_w; ints[10] = g->groups; ints[11] = g->mode;
            reals[0] = g->alpha; reals[1] = g->beta; reals[2] = g->k;
            scalpel__put_u32(r + 132, (uint32_t)g->from2);
            for (q = 0; q < 12; q++) scalpel__put_u32(r + 152 + 4 * q, (uint32_t)ints[q]);
            ok &= scalpel__nf_put_floats(r + 200, reals, 3);
            if (sz[5]) ok &= scalpel__nf_put_floats(p + off[5], L->params, (size_t)(sz[5] / 4u));
        }
        if (!weighted) continue;
        if (decomposed) {
            if (sz[0]) ok &= scalpel__nf_put_decomposition(L, p + off[0], sz[0]);
        } else if (sz[0]) {
            ok &= scalpel__nf_put_floats(p + off[0], L->w, (size_t)(sz[0] / 4u));
        }
        ok &= scalpel__nf_put_floats(p + off[1], L->b, (size_t)(sz[1] / 4u));
        if (gcsr) {
            const scalpel_gcsr *s = &L->sparse;
            size_t j;
            for (j = 0; j <= (size_t)L->geom.rows; j++)
                scalpel__put_u32(p + off[2] + 4 * j, (uint32_t)s->row_ptr[j]);
            for (j = 0; j < (size_t)s->nnz_groups; j++) {
                if (s->index_bits == 16) scalpel__put_u16(p + off[3] + 2 * j, scalpel_gcsr_col(s, (int32_t)j));
                else scalpel__put_u32(p + off[3] + 4 * j, scalpel_gcsr_col(s, (int32_t)j));
            }
            if (sz[4]) ok &= scalpel__nf_put_floats(p + off[4], (const float *)s->values, (size_t)(sz[4] / 4u));
        }
    }
    if (ok && version >= 4u) { /* the header's metadata */
        const scalpel_input_norm *q = &net->input_norm;
        uint64_t norm_off = scalpel__nf_norm_layout(net, &cursor);
        scalpel__put_u32(p + 40, (uint32_t)net->packed_batch);
        if (norm_off != 0) {
            scalpel__put_u32(p + 28, q->where == SCALPEL_INPUT_NORM_LAYER ? 3u : 1u);
            ok &= scalpel__nf_put_floats(p + 44, &q->range, 1);
            scalpel__put_u64(p + 48, norm_off);
            scalpel__put_u64(p + 56, 8u * (uint64_t)q->channels);
            ok &= scalpel__nf_put_floats(p + norm_off, q->mean, (size_t)q->channels);
            ok &= scalpel__nf_put_floats(p + norm_off + 4u * (uint64_t)q->channels, q->std, (size_t)q->channels);
        }
    }
    if (!ok) {
        memset(p, 0, total);
        return SCALPEL_ERR_ARGUMENT; /* a weight or bias is NaN or infinite */
    }
    scalpel__put_u32(p + total - 4, scalpel_crc32(0, p, total - 4));
    *written = total;
    return SCALPEL_OK;
}

/* 1 when bytes p[from, to) are all zero: gaps and padding carry nothing, so two files of the
 * same network are byte-identical and nothing can hide in them. */
SCALPEL__PRIV int scalpel__nf_zero(const unsigned char *p, uint64_t from, uint64_t to)
{
    for (; from < to; from++)
        if (p[from] != 0) return 0;
    return 1;
}

/* 1 when the n little-endian floats at p are all finite. */
SCALPEL__PRIV int scalpel__nf_floats_finite(const unsigned char *p, uint64_t bytes)
{
    uint64_t i;
    for (i = 0; i + 4u <= bytes; i += 4u)
        if (!scalpel__nf_finite_bits(scalpel__get_u32(p + i))) return 0;
    return 1;
}

/* Checks the fixed header of data[size] (everything but the layer records and the arrays) and
 * returns the layer count. The order of the checks decides the error a damaged file gets: not
 * ours (MAGIC), newer (VERSION), cut short (TRUNCATED), damaged (CHECKSUM), then fields a
 * correct checksum cannot excuse (CORRUPT, UNSUPPORTED). */
SCALPEL__PRIV scalpel_status scalpel__nf_check_header(const unsigned char *p, size_t size, int layout_only,
                                                      uint32_t *n_out, uint32_t *record_out)
{
    uint64_t total;
    uint32_t n, version, record;
    if (size < 4) return SCALPEL_ERR_TRUNCATED;
    if (memcmp(p, SCALPEL_NET_MAGIC, 4) != 0) return SCALPEL_ERR_MAGIC;
    if (size < 8) return SCALPEL_ERR_TRUNCATED;
    version = scalpel__get_u16(p + 4);
    if (version < 1u || version > SCALPEL_NET_FORMAT_VERSION) return SCALPEL_ERR_VERSION;
    record = scalpel__nf_record_size(version);
    if (scalpel__get_u16(p + 6) != SCALPEL__NF_HEADER) return SCALPEL_ERR_CORRUPT;
    if (size < SCALPEL__NF_HEADER + 4u) return SCALPEL_ERR_TRUNCATED;
    total = scalpel__get_u64(p + 32);
    if (total > (uint64_t)size) return SCALPEL_ERR_TRUNCATED;
    if (total < (uint64_t)size) return SCALPEL_ERR_CORRUPT; /* trailing bytes: not what was written */
    if (!layout_only && scalpel_crc32(0, p, size - 4) != scalpel__get_u32(p + size - 4)) return SCALPEL_ERR_CHECKSUM;
    if (scalpel__get_u32(p + 8) != record) return SCALPEL_ERR_CORRUPT;
    if (version < 4u && (scalpel__get_u32(p + 28) != 0 || !scalpel__nf_zero(p, 40, SCALPEL__NF_HEADER)))
        return SCALPEL_ERR_CORRUPT; /* version 4's metadata: scalpel__nf_view_meta */
    n = scalpel__get_u32(p + 12);
    if (n > SCALPEL_NET_MAX_LAYERS) return SCALPEL_ERR_UNSUPPORTED;
    if ((uint64_t)SCALPEL__NF_HEADER + (uint64_t)n * record + 4u > (uint64_t)size)
        return SCALPEL_ERR_CORRUPT; /* the checksum matched, so the count itself is wrong */
    if (size % 4u != 0) return SCALPEL_ERR_CORRUPT;
    *n_out = n;
    *record_out = record;
    return SCALPEL_OK;
}

/* The residual of a HYBRID layer (version 4), viewed in place: q[size] must be one
 * grouped-CSR buffer ("SCPG", scalpel_format.h; scalpel_gcsr_deserialize_size checks it whole:
 * framing, fields, its length, its CRC-32) of a plain CSR f32 matrix [rows x cols], with its
 * padding zero and its values finite. m then points into q: row_ptr at 48, col_idx right after
 * it, values on the next multiple of 4 (the buffer's layout), so that a loaded hybrid costs
 * no copy. Any fault is SCALPEL_ERR_CORRUPT: the file's checksum matched. */
SCALPEL__PRIV scalpel_status scalpel__nf_view_residual(const unsigned char *q, uint64_t size, int32_t rows,
                                                       int32_t cols, scalpel_gcsr *m)
{
    size_t need = 0;
    uint64_t nnz, idx_end, vals;
    memset(m, 0, sizeof(*m));
    if (size > (uint64_t)SIZE_MAX || scalpel_gcsr_deserialize_size(q, (size_t)size, &need) != SCALPEL_OK)
        return SCALPEL_ERR_CORRUPT;
    if (scalpel__get_u32(q + 8) != (uint32_t)SCALPEL_DTYPE_F32 || scalpel__get_u32(q + 12) != 1u ||
        scalpel__get_u32(q + 20) != (uint32_t)rows || scalpel__get_u32(q + 24) != (uint32_t)cols)
        return SCALPEL_ERR_CORRUPT;
    m->index_bits = (int32_t)scalpel__get_u32(q + 16); /* 16 or 32, and nnz <= INT32_MAX: checked */
    nnz = scalpel__get_u32(q + 28);
    /* the buffer's check bounded every term: these sums are its exact length */
    idx_end = 48u + ((uint64_t)rows + 1u) * 4u + nnz * (uint64_t)(m->index_bits / 8);
    vals = scalpel__nf_round_up(idx_end, 4u);
    if (vals + nnz * 4u + 4u != size || !scalpel__nf_zero(q, idx_end, vals) || !scalpel__nf_floats_finite(q + vals, nnz * 4u))
        return SCALPEL_ERR_CORRUPT;
    m->rows = rows;
    m->cols = cols;
    m->group = 1;
    m->dtype = SCALPEL_DTYPE_F32;
    m->nnz_groups = (int32_t)nnz;
    m->row_ptr = (int32_t *)(void *)(uintptr_t)(q + 48);
    m->col_idx = nnz ? (void *)(uintptr_t)(q + 48u + ((uint64_t)rows + 1u) * 4u) : NULL;
    m->values = nnz ? (void *)(uintptr_t)(q + vals) : NULL;
    return scalpel_gcsr_validate(m) == SCALPEL_OK ? SCALPEL_OK : SCALPEL_ERR_CORRUPT;
}

/* One term of a TASD layer (version 4), viewed in place: the N:M buffer ("SCPM",
 * scalpel_format.h; scalpel_nm_deserialize_size checks its framing, fields, length and CRC-32)
 * that starts q[avail], of an f32 matrix [rows x cols], with its padding zero and its values
 * finite; *used = its length. w then points into q: meta at 48, values on the next multiple of
 * 4. Any fault is SCALPEL_ERR_CORRUPT. */
SCALPEL__PRIV scalpel_status scalpel__nf_view_term(const unsigned char *q, uint64_t avail, int32_t rows, int32_t cols,
                                                   scalpel_nm *w, uint64_t *used)
{
    size_t need = 0;
    uint64_t total, n, m, groups, bits, stride, slots, meta_end, vals;
    memset(w, 0, sizeof(*w));
    if (avail < 52u) return SCALPEL_ERR_CORRUPT; /* header and checksum */
    total = scalpel__get_u64(q + 32);
    if (total > avail || total > (uint64_t)SIZE_MAX || scalpel_nm_deserialize_size(q, (size_t)total, &need) != SCALPEL_OK)
        return SCALPEL_ERR_CORRUPT;
    if (scalpel__get_u32(q + 20) != (uint32_t)rows || scalpel__get_u32(q + 24) != (uint32_t)cols) return SCALPEL_ERR_CORRUPT;
    n = scalpel__get_u32(q + 12); /* 1 <= N <= M, M in {2, 4, 8, 16}: checked */
    m = scalpel__get_u32(q + 16);
    groups = ((uint64_t)cols + m - 1u) / m;
    bits = m == 2u ? 1u : m == 4u ? 2u : 4u;
    /* rows x groups x N <= INT32_MAX (the buffer's check): no product below wraps */
    if (groups * n != 0 && (uint64_t)rows > (uint64_t)INT32_MAX / (groups * n)) return SCALPEL_ERR_CORRUPT;
    slots = (uint64_t)rows * groups * n;
    stride = (groups * n * bits + 7u) / 8u;
    meta_end = 48u + (uint64_t)rows * stride;
    vals = scalpel__nf_round_up(meta_end, 4u);
    if (vals + slots * 4u + 4u != total || !scalpel__nf_zero(q, meta_end, vals) || !scalpel__nf_floats_finite(q + vals, slots * 4u))
        return SCALPEL_ERR_CORRUPT;
    w->rows = rows;
    w->cols = cols;
    w->n = (int32_t)n;
    w->m = (int32_t)m;
    w->groups = (int32_t)groups;
    w->index_bits = (int32_t)bits;
    w->meta_stride = (int32_t)stride;
    w->meta = (uint8_t *)(void *)(uintptr_t)(q + 48);
    w->values = (float *)(void *)(uintptr_t)(q + vals);
    *used = total;
    return scalpel_nm_validate(w) == SCALPEL_OK ? SCALPEL_OK : SCALPEL_ERR_CORRUPT;
}

/* Reads layer record r into the next layer of net: shapes rebuilt by scalpel__net_append (the
 * stored rows/cols only confirm them), storage fields range-checked before any product, each
 * array's size compared with the exact product, its offset checked (aligned, after *cursor,
 * inside the data area [*cursor, end)) and the gap before it zero; then the layer's pointers
 * aim into p. *cursor advances past the layer's arrays. layout_only: p holds the header and
 * the records only, so nothing past them is looked at (gaps, values) and no pointer is set.
 * A decomposed layer (version 4, storage HYBRID or TASD) has its decomposition array in slot
 * 0 (sized by its buffers) and points into them too; a TASD layer's series struct is
 * allocated (may_allocate), or the layer refused with SCALPEL_ERR_UNSUPPORTED. */
SCALPEL__PRIV scalpel_status scalpel__nf_view_layer(const unsigned char *p, uint64_t end,
                                                    const unsigned char *r, uint32_t record, int layout_only,
                                                    int may_allocate, scalpel_net *net, uint64_t *cursor)
{
    uint32_t f[12], version = scalpel__get_u16(p + 4);
    uint64_t sz[SCALPEL__NF_ARRAYS], off[SCALPEL__NF_ARRAYS], dsz = 0;
    int32_t kind, storage, rows, cols, group, bits, nnz;
    scalpel_layer *L = NULL;
    scalpel_status st;
    int k, weighted, decomposed;
    for (k = 0; k < 12; k++) {
        f[k] = scalpel__get_u32(r + 4 * k);
        if (f[k] > (uint32_t)INT32_MAX) return SCALPEL_ERR_CORRUPT;
    }
    kind = (int32_t)f[0];
    storage = (int32_t)f[5];
    rows = (int32_t)f[6];
    cols = (int32_t)f[7];
    group = (int32_t)f[8];
    bits = (int32_t)f[9];
    nnz = (int32_t)f[10];
    if (record > SCALPEL__NF_RECORD_V1) {   /* version 2 on: the tensor read */
        uint32_t from = scalpel__get_u32(r + 128);
        if (from > (uint32_t)net->n_layers) return SCALPEL_ERR_CORRUPT;
        net->next_from = (int32_t)from;
    }
    if (record == SCALPEL__NF_RECORD) {     /* version 3: the window and the real parameters */
        scalpel_layer_geom g;
        uint32_t v[12], from2 = scalpel__get_u32(r + 132), bits3[3];
        int q;
        if (f[2] != 0 || f[3] != 0 || f[4] != 0 || from2 > (uint32_t)net->n_layers || !scalpel__nf_zero(r, 212, record))
            return SCALPEL_ERR_CORRUPT;
        for (q = 0; q < 12; q++) {
            v[q] = scalpel__get_u32(r + 152 + 4 * q);
            if (v[q] > (uint32_t)INT32_MAX) return SCALPEL_ERR_CORRUPT;
        }
        for (q = 0; q < 3; q++) {
            bits3[q] = scalpel__get_u32(r + 200 + 4 * q);
            if (!scalpel__nf_finite_bits(bits3[q])) return SCALPEL_ERR_CORRUPT;
        }
        memset(&g, 0, sizeof(g));
        g.kind = kind;
        g.kernel_h = (int32_t)v[0]; g.kernel_w = (int32_t)v[1]; g.stride_h = (int32_t)v[2]; g.stride_w = (int32_t)v[3];
        g.pad_top = (int32_t)v[4]; g.pad_left = (int32_t)v[5]; g.pad_bottom = (int32_t)v[6]; g.pad_right = (int32_t)v[7];
        g.dilation_h = (int32_t)v[8]; g.dilation_w = (int32_t)v[9]; g.groups = (int32_t)v[10]; g.mode = (int32_t)v[11];
        memcpy(&g.alpha, &bits3[0], 4); memcpy(&g.beta, &bits3[1], 4); memcpy(&g.k, &bits3[2], 4);
        g.from2 = (int32_t)from2;
        /* a windowed kind needs its window here: all zeros would stand for the first version's */
        if ((kind == SCALPEL_LAYER_CONV2D || kind == SCALPEL_LAYER_MAXPOOL || kind == SCALPEL_LAYER_AVGPOOL) &&
            (g.kernel_h == 0 || g.kernel_w == 0))
            return SCALPEL_ERR_CORRUPT;
        st = scalpel__net_append_geom(net, &g, (int32_t)f[1], &L);
    } else {
        if (record > SCALPEL__NF_RECORD_V1 && !scalpel__nf_zero(r, 132, record)) return SCALPEL_ERR_CORRUPT;
        if (kind > SCALPEL_LAYER_RELU) return SCALPEL_ERR_CORRUPT; /* kinds of version 3 on */
        st = scalpel__net_append(net, kind, (int32_t)f[1], (int32_t)f[2], (int32_t)f[3], (int32_t)f[4], &L);
        if (st == SCALPEL_OK && !scalpel__nf_first_version_layer(&L->geom)) st = SCALPEL_ERR_CORRUPT;
    }
    if (st == SCALPEL_ERR_ARGUMENT || st == SCALPEL_ERR_SHAPE) return SCALPEL_ERR_CORRUPT;
    if (st != SCALPEL_OK) return st;
    if (rows != L->geom.rows || cols != L->geom.cols) return SCALPEL_ERR_CORRUPT;
    if (f[11] != (uint32_t)SCALPEL_DTYPE_F32) return SCALPEL_ERR_DTYPE;
    weighted = scalpel__is_weighted(kind);
    decomposed = weighted && version >= 4u && (storage == SCALPEL_STORAGE_HYBRID || storage == SCALPEL_STORAGE_TASD);
    if (weighted && (storage == SCALPEL_STORAGE_GCSR || (decomposed && storage == SCALPEL_STORAGE_HYBRID))) {
        if (!scalpel__net_group_ok(group)) return SCALPEL_ERR_GROUP;
        if (storage == SCALPEL_STORAGE_HYBRID && group < 2) return SCALPEL_ERR_CORRUPT; /* the hybrid's groups */
        if (bits != 16 && bits != 32) return SCALPEL_ERR_INDEX_WIDTH;
        if ((int64_t)nnz * group > (int64_t)INT32_MAX) return SCALPEL_ERR_OVERFLOW;
        if ((int64_t)nnz > (int64_t)rows * (((int64_t)cols + group - 1) / group)) return SCALPEL_ERR_CORRUPT;
    } else if (decomposed) { /* TASD: field 32 holds the number of terms */
        if (group > SCALPEL_TASD_MAX_TERMS || bits != 0 || nnz != 0) return SCALPEL_ERR_CORRUPT;
    } else if (storage != SCALPEL_STORAGE_DENSE || group != 0 || bits != 0 || nnz != 0) {
        return SCALPEL_ERR_CORRUPT;
    }
    /* a grouped convolution runs each group's rows apart, which only dense and grouped CSR do */
    if (decomposed && L->geom.groups > 1) return SCALPEL_ERR_CORRUPT;
    scalpel__nf_array_sizes(kind, storage, rows, cols, group, bits, nnz, L->geom.out_c, sz);
    for (k = 0; k < SCALPEL__NF_ARRAYS; k++) {
        uint64_t o, s;
        if (k == 5 && record != SCALPEL__NF_RECORD) break; /* no params before version 3 */
        o = scalpel__get_u64(r + SCALPEL__NF_ARRAY_FIELD(k));
        s = scalpel__get_u64(r + SCALPEL__NF_ARRAY_FIELD(k) + 8);
        if (k == 0 && decomposed) {
            /* the decomposition: its buffers say its size (checked below); a hybrid always has
               its residual's buffer, a series one buffer per term */
            if (s % 4u != 0 || (s == 0) != (storage == SCALPEL_STORAGE_TASD && group == 0)) return SCALPEL_ERR_CORRUPT;
            dsz = s;
        } else if (s != sz[k]) {
            return SCALPEL_ERR_CORRUPT;
        }
        off[k] = o;
        if (s == 0) {
            if (o != 0) return SCALPEL_ERR_CORRUPT;
            continue;
        }
        /* o <= end and s <= end - o: no sum below can wrap, whatever the stored values */
        if (o % SCALPEL__NF_ALIGN != 0 || o < *cursor || o > end || s > end - o) return SCALPEL_ERR_CORRUPT;
        if (!layout_only && !scalpel__nf_zero(p, *cursor, o)) return SCALPEL_ERR_CORRUPT;
        *cursor = o + s;
    }
    if (layout_only) return SCALPEL_OK;
    if (sz[5]) {
        if (!scalpel__nf_floats_finite(p + off[5], sz[5])) return SCALPEL_ERR_CORRUPT;
        L->params = (const float *)(const void *)(p + off[5]);
    }
    if (!weighted) return SCALPEL_OK;
    if (!scalpel__nf_floats_finite(p + off[0], sz[0]) || !scalpel__nf_floats_finite(p + off[1], sz[1]) ||
        !scalpel__nf_floats_finite(p + off[4], sz[4]))
        return SCALPEL_ERR_CORRUPT;
    if (decomposed) {
        scalpel_tasd series;
        uint64_t at = 0, used = 0;
        int32_t t;
        memset(&series, 0, sizeof(series));
        if (storage == SCALPEL_STORAGE_HYBRID) {
            st = scalpel__nf_view_residual(p + off[0], dsz, rows, cols, &L->residual);
            if (st != SCALPEL_OK) return st;
        } else {
            series.rows = rows;
            series.cols = cols;
            series.n_terms = group;
            for (t = 0; t < group; t++) {
                st = scalpel__nf_view_term(p + off[0] + at, dsz - at, rows, cols, &series.terms[t], &used);
                if (st != SCALPEL_OK) return st;
                at += used;
            }
            if (at != dsz) return SCALPEL_ERR_CORRUPT;
            /* a layer points to its series: a struct that must live somewhere */
            if (!may_allocate) return SCALPEL_ERR_UNSUPPORTED;
#ifndef SCALPEL_NO_MALLOC
            L->series = (scalpel_tasd *)SCALPEL_MALLOC(net->alloc_ctx, sizeof(scalpel_tasd));
            if (L->series == NULL) return SCALPEL_ERR_NO_MEMORY;
            *L->series = series;  /* its terms point into p (block NULL): only the struct is freed */
#endif
        }
    }
    /* the library never writes through a network's arrays: the casts only fit the gcsr fields */
    L->storage = storage;
    L->b = (const float *)(const void *)(p + off[1]);
    if (storage == SCALPEL_STORAGE_DENSE) {
        L->w = (const float *)(const void *)(p + off[0]);
    } else if (storage != SCALPEL_STORAGE_TASD) {
        L->sparse.rows = rows;
        L->sparse.cols = cols;
        L->sparse.group = group;
        L->sparse.index_bits = bits;
        L->sparse.dtype = SCALPEL_DTYPE_F32;
        L->sparse.nnz_groups = nnz;
        L->sparse.row_ptr = (int32_t *)(void *)(uintptr_t)(p + off[2]);
        L->sparse.col_idx = nnz ? (void *)(uintptr_t)(p + off[3]) : NULL;
        L->sparse.values = nnz ? (void *)(uintptr_t)(p + off[4]) : NULL;
    }
    if (storage == SCALPEL_STORAGE_HYBRID) {
        scalpel_hybrid h;
        h.grouped = L->sparse;
        h.residual = L->residual;
        /* the grouped part's own faults get scalpel_net_validate's codes, as a grouped-CSR
           layer's do; a residual weight inside a stored group is a fault of the residual */
        if (scalpel_gcsr_validate(&h.grouped) == SCALPEL_OK && scalpel_hybrid_validate(&h) != SCALPEL_OK)
            return SCALPEL_ERR_CORRUPT;
    }
    return SCALPEL_OK;
}

/* Version 4's header metadata into net: flags (bit 0: an input preprocessing is recorded; bit
 * 1: a layer does it, else it is folded), the packed batch, and the preprocessing's range and
 * array (mean[C'] then std[C'], C' = 1 or in_c, at most 4) on the first 64-byte boundary after
 * the layers' arrays, the gap zero. Everything must be what the writer writes: absent fields
 * zero, values finite, each in its range (scalpel_net_validate checks the rest). *cursor
 * advances past the array. Earlier versions: the header check found bytes 28..63 zero. */
SCALPEL__PRIV scalpel_status scalpel__nf_view_meta(const unsigned char *p, uint64_t end, int layout_only,
                                                   scalpel_net *net, uint64_t *cursor)
{
    uint32_t flags, batch;
    uint64_t off, sz, c;
    scalpel_input_norm *q = &net->input_norm;
    if (scalpel__get_u16(p + 4) < 4u) return SCALPEL_OK;
    flags = scalpel__get_u32(p + 28);
    batch = scalpel__get_u32(p + 40);
    if (batch > (uint32_t)SCALPEL_NET_MAX_PACKED_BATCH) return SCALPEL_ERR_CORRUPT;
    net->packed_batch = (int32_t)batch;
    off = scalpel__get_u64(p + 48);
    sz = scalpel__get_u64(p + 56);
    if (flags == 0u) return (scalpel__get_u32(p + 44) == 0u && off == 0u && sz == 0u) ? SCALPEL_OK : SCALPEL_ERR_CORRUPT;
    if (flags != 1u && flags != 3u) return SCALPEL_ERR_CORRUPT;
    c = sz / 8u;
    if (sz % 8u != 0 || c < 1u || c > SCALPEL_INPUT_NORM_MAX_CHANNELS || (c != 1u && c != (uint64_t)net->in_c))
        return SCALPEL_ERR_CORRUPT;
    if (off != scalpel__nf_round_up(*cursor, SCALPEL__NF_ALIGN) || off > end || sz > end - off) return SCALPEL_ERR_CORRUPT;
    q->where = flags == 3u ? SCALPEL_INPUT_NORM_LAYER : SCALPEL_INPUT_NORM_FOLDED;
    q->channels = (int32_t)c;
    if (!layout_only) {
        uint32_t bits = scalpel__get_u32(p + 44), i;
        if (!scalpel__nf_zero(p, *cursor, off) || !scalpel__nf_finite_bits(bits)) return SCALPEL_ERR_CORRUPT;
        memcpy(&q->range, &bits, 4);
        for (i = 0; i < 2u * (uint32_t)c; i++) {
            bits = scalpel__get_u32(p + off + 4u * i);
            if (!scalpel__nf_finite_bits(bits)) return SCALPEL_ERR_CORRUPT;
            memcpy(i < c ? &q->mean[i] : &q->std[i - c], &bits, 4);
        }
        if (!scalpel__input_norm_ok(net)) return SCALPEL_ERR_CORRUPT;
    }
    *cursor = off + sz;
    return SCALPEL_OK;
}

/* Header first (nothing else is read before its sizes are known to be inside the buffer), then
 * each record rebuilt into net in turn, then the trailing padding, then the whole network
 * checked once more by scalpel_net_validate (grouped-CSR structure, pointers). Any failure
 * leaves *net zeroed. layout_only (scalpel_net_load's check before it reads a large file):
 * data holds only the header and the records of a file of `size` bytes; the checksum, gaps,
 * values and arrays are not looked at, and the layers get no pointers (net is for
 * scalpel_net_free only). */
static scalpel_status scalpel__net_view(const void *data, size_t size, scalpel_layer *layers, int32_t capacity,
                                        int layout_only, scalpel_net *net)
{
    const unsigned char *p = (const unsigned char *)data;
    uint32_t n = 0, i, record = 0;
    uint64_t cursor;
    scalpel_status st;
    if (net == NULL) return SCALPEL_ERR_NULL;
    memset(net, 0, sizeof(*net));
    if (data == NULL) return SCALPEL_ERR_NULL;
    if (!scalpel__nf_little_endian()) return SCALPEL_ERR_UNSUPPORTED;
    if ((uintptr_t)data % 4u != 0) return SCALPEL_ERR_ALIGNMENT;
    st = scalpel__nf_check_header(p, size, layout_only, &n, &record);
    if (st != SCALPEL_OK) return st;
    {
        uint32_t c = scalpel__get_u32(p + 16), h = scalpel__get_u32(p + 20), w = scalpel__get_u32(p + 24);
        if (c > (uint32_t)INT32_MAX || h > (uint32_t)INT32_MAX || w > (uint32_t)INT32_MAX) return SCALPEL_ERR_CORRUPT;
        /* in two steps, so that not even the 64-bit product of three int32 can wrap */
        if ((uint64_t)c * h > (uint64_t)INT32_MAX || (uint64_t)c * h * w > (uint64_t)INT32_MAX)
            return SCALPEL_ERR_OVERFLOW;
        st = scalpel_net_init((int32_t)c, (int32_t)h, (int32_t)w, net);
        if (st != SCALPEL_OK) {
            memset(net, 0, sizeof(*net));
            return st == SCALPEL_ERR_OVERFLOW ? st : SCALPEL_ERR_CORRUPT;
        }
    }
    if (layers) {
        net->layers = layers;
        net->capacity = capacity;
        if (n > (uint32_t)capacity) st = SCALPEL_ERR_BUFFER_TOO_SMALL;
    }
    cursor = SCALPEL__NF_HEADER + (uint64_t)n * record;
    for (i = 0; i < n && st == SCALPEL_OK; i++)
        st = scalpel__nf_view_layer(p, (uint64_t)size - 4u, p + SCALPEL__NF_HEADER + (size_t)i * record, record,
                                    layout_only, layers == NULL, net, &cursor);
    if (st == SCALPEL_OK) st = scalpel__nf_view_meta(p, (uint64_t)size - 4u, layout_only, net, &cursor);
    /* the last array ends where the writer's padding to 4 bytes and the checksum begin: not a
       byte more (a file holds nothing its records do not account for) */
    if (st == SCALPEL_OK && scalpel__nf_round_up(cursor, 4u) + 4u != (uint64_t)size) st = SCALPEL_ERR_CORRUPT;
    if (!layout_only && st == SCALPEL_OK && !scalpel__nf_zero(p, cursor, (uint64_t)size - 4u)) st = SCALPEL_ERR_CORRUPT;
    if (!layout_only && st == SCALPEL_OK) st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) {
#ifndef SCALPEL_NO_MALLOC
        int32_t j;
        for (j = 0; net->layers != NULL && j < net->n_layers; j++) /* the TASD layers' series structs */
            if (net->layers[j].series != NULL) SCALPEL_FREE(net->alloc_ctx, net->layers[j].series);
        if (net->owns_layers) SCALPEL_FREE(net->alloc_ctx, net->layers);
#endif
        memset(net, 0, sizeof(*net));
    }
    return st;
}

SCALPEL_API scalpel_status scalpel_net_view_with(const void *data, size_t size, scalpel_layer *layers,
                                                 int32_t capacity, scalpel_net *net)
{
    if (net) memset(net, 0, sizeof(*net));
    if (!layers) return SCALPEL_ERR_NULL;
    if (capacity < 1) return SCALPEL_ERR_ARGUMENT;
    return scalpel__net_view(data, size, layers, capacity, 0, net);
}

#ifndef SCALPEL_NO_MALLOC
SCALPEL_API scalpel_status scalpel_net_view(const void *data, size_t size, scalpel_net *net)
{
    return scalpel__net_view(data, size, NULL, 0, 0, net);
}

/* The layout check of scalpel_net_load (see scalpel__net_view). */
SCALPEL__PRIV scalpel_status scalpel__net_view_layout(const unsigned char *head_and_records, size_t file_size,
                                                      scalpel_net *shape)
{
    return scalpel__net_view(head_and_records, file_size, NULL, 0, 1, shape);
}
#endif

#ifndef SCALPEL_NO_MALLOC
/* A copied model starts on a cache line, so its 64-byte-aligned arrays do too. */
SCALPEL__PRIV void *scalpel__nf_align64(void *raw)
{
    uintptr_t a = (uintptr_t)raw;
    return (unsigned char *)raw + ((SCALPEL__NF_ALIGN - a % SCALPEL__NF_ALIGN) % SCALPEL__NF_ALIGN);
}

/* The copy goes to a 64-byte boundary inside an over-allocated block (the file's arrays keep
 * their cache-line alignment); net->block is the raw allocation scalpel_net_free releases. */
SCALPEL_API scalpel_status scalpel_net_load_buffer(const void *data, size_t size, scalpel_net *net)
{
    void *raw;
    scalpel_status st;
    if (net == NULL) return SCALPEL_ERR_NULL;
    memset(net, 0, sizeof(*net));
    if (data == NULL) return SCALPEL_ERR_NULL;
    if (size > SIZE_MAX - SCALPEL__NF_ALIGN) return SCALPEL_ERR_OVERFLOW;
    raw = SCALPEL_MALLOC(NULL, size + SCALPEL__NF_ALIGN);
    if (raw == NULL) return SCALPEL_ERR_NO_MEMORY;
    if (size) memcpy(scalpel__nf_align64(raw), data, size);
    st = scalpel_net_view(scalpel__nf_align64(raw), size, net);
    if (st != SCALPEL_OK) {
        SCALPEL_FREE(NULL, raw);
        return st;
    }
    net->block = raw;
    return SCALPEL_OK;
}

/* A model file larger than this is read whole only when its header and layer records account
 * for its length (scalpel_net_load); smaller ones are read whole at once, so that a damaged
 * file gets the error of its first fault in the order scalpel_net_view checks them. */
#define SCALPEL__NF_PRECHECK_ABOVE ((uint64_t)1 << 24)

/* Reads the whole file into one 64-byte-aligned block and views it. Only a regular file is
 * read (scalpel__file_open_read). Before the big allocation: the header (magic, announced
 * total == length) and, for a file over 16 MiB, the layer records, rebuilt as a view does
 * without the arrays (scalpel__net_view, layout only), whose arrays must account for every
 * byte; so a large file that is not a model, or whose header lies about its size, costs
 * neither memory nor the time to read it. */
SCALPEL_API scalpel_status scalpel_net_load(const char *path, scalpel_net *net)
{
    unsigned char head[SCALPEL__NF_HEADER];
    FILE *f;
    uint64_t len;
    size_t n, got;
    void *raw = NULL;
    scalpel_status st;
    if (net == NULL) return SCALPEL_ERR_NULL;
    memset(net, 0, sizeof(*net));
    if (path == NULL) return SCALPEL_ERR_NULL;
    st = scalpel__file_open_read(path, &f, &len);
    if (st != SCALPEL_OK) return st;
    if (len > (uint64_t)(SIZE_MAX - SCALPEL__NF_ALIGN)) {
        fclose(f);
        return SCALPEL_ERR_OVERFLOW;
    }
    n = (size_t)len;
    got = n < sizeof(head) ? n : sizeof(head);
    st = scalpel__file_read(f, head, got, 0);
    if (st != SCALPEL_OK) {
    } else if (got >= 4 && memcmp(head, SCALPEL_NET_MAGIC, 4) != 0) {
        st = SCALPEL_ERR_MAGIC;
    } else if (got == sizeof(head) && scalpel__get_u64(head + 32) != (uint64_t)n) {
        st = scalpel__get_u64(head + 32) > (uint64_t)n ? SCALPEL_ERR_TRUNCATED : SCALPEL_ERR_CORRUPT;
    } else if (len > SCALPEL__NF_PRECHECK_ABOVE) {
        /* header and records: at most 64 + 256 x 224 bytes, read here and then again below */
        uint32_t count = scalpel__get_u32(head + 12), record = scalpel__get_u32(head + 8);
        uint64_t prefix = SCALPEL__NF_HEADER + (uint64_t)count * record;
        unsigned char *pre;
        scalpel_net shape;
        if (count > SCALPEL_NET_MAX_LAYERS || (record != SCALPEL__NF_RECORD && record != SCALPEL__NF_RECORD_V2 && record != SCALPEL__NF_RECORD_V1) ||
            prefix + 4u > len) {
            st = SCALPEL_ERR_CORRUPT;
        } else if ((pre = (unsigned char *)SCALPEL_MALLOC(NULL, (size_t)prefix)) == NULL) {
            st = SCALPEL_ERR_NO_MEMORY;
        } else {
            memcpy(pre, head, sizeof(head));
            st = scalpel__file_read(f, pre + sizeof(head), (size_t)prefix - sizeof(head), 0);
            if (st == SCALPEL_OK) st = scalpel__net_view_layout(pre, n, &shape);
            if (st == SCALPEL_OK) scalpel_net_free(&shape);
            SCALPEL_FREE(NULL, pre);
            if (st == SCALPEL_OK && fseek(f, (long)sizeof(head), SEEK_SET) != 0) st = SCALPEL_ERR_IO;
        }
    }
    if (st == SCALPEL_OK) {
        raw = SCALPEL_MALLOC(NULL, n + SCALPEL__NF_ALIGN);
        if (raw == NULL) st = SCALPEL_ERR_NO_MEMORY;
    }
    if (st == SCALPEL_OK) {
        unsigned char *dst = (unsigned char *)scalpel__nf_align64(raw);
        memcpy(dst, head, got);
        st = scalpel__file_read(f, dst + got, n - got, 1);
    }
    fclose(f);
    if (st == SCALPEL_OK) st = scalpel_net_view(scalpel__nf_align64(raw), n, net);
    if (st != SCALPEL_OK) {
        if (raw != NULL) SCALPEL_FREE(NULL, raw);
        memset(net, 0, sizeof(*net));
        return st;
    }
    net->block = raw;
    return SCALPEL_OK;
}

/* Temporary file beside the target, then rename: scalpel__tmp_open / scalpel__tmp_close
 * (scalpel_format.h). */

/* Serializes to memory first, so that every check is done before a file is touched; then
 * temporary file, checked writes, rename. */
SCALPEL_API scalpel_status scalpel_net_save(const scalpel_net *net, const char *path)
{
    size_t total, written = 0;
    unsigned char *buf;
    char *tmp = NULL;
    FILE *f = NULL;
    scalpel_status st;
    if (net == NULL || path == NULL) return SCALPEL_ERR_NULL;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    total = scalpel_net_serialized_size(net);
    if (total == 0) return SCALPEL_ERR_OVERFLOW;
    buf = (unsigned char *)SCALPEL_MALLOC(net->alloc_ctx, total);
    if (buf == NULL) return SCALPEL_ERR_NO_MEMORY;
    st = scalpel_net_serialize(net, buf, total, &written);
    if (st == SCALPEL_OK) st = scalpel__tmp_open(path, net->alloc_ctx, &tmp, &f);
    if (st == SCALPEL_OK) {
        errno = 0;
        if (fwrite(buf, 1, written, f) != written) st = scalpel__errno_status(errno);
        st = scalpel__tmp_close(f, tmp, path, net->alloc_ctx, st);
    }
    SCALPEL_FREE(net->alloc_ctx, buf);
    return st;
}
#endif /* SCALPEL_NO_MALLOC */


/* ======================================================================================== */
/* >>pruning (implementation)                                                               */
/* ======================================================================================== */
/*
 *
 * Magnitude and SIMD-aware (grouped) pruning over dense W[rows x cols], and node removal.
 *
 * Design choices, in one place:
 *   - Nothing here allocates except the two node removals (scalpel_net_remove_nodes and
 *     scalpel_net_remove_dead_nodes, which build new networks): training calls the routines every
 *     step, and firmware builds (SCALPEL_NO_MALLOC) keep them.
 *   - Rate-based selection needs the k-th smallest score without sorting (sorting needs a copy,
 *     i.e. memory). Non-negative IEEE-754 floats order like their bit patterns read as uint32,
 *     so a search over the 2^31 patterns finds the cut exactly whatever the distribution of
 *     scores. It runs one byte at a time (a 256-way search: 4 counting passes, 2 KB of stack)
 *     rather than bit by bit (31 passes), because training calls it every step and the group
 *     scores, recomputed in every pass rather than stored (no memory), dominate the cost.
 *   - Ties at the cut are pruned in index order (row-major, earlier first) until exactly
 *     round(rate * count) items are pruned, so results are exact and deterministic.
 *   - round(x) is round-half-up, computed in double: rate * count is never negative.
 *   - No libm: a group score needs one square root, taken by Newton's method in double (see
 *     scalpel__sqrt), so pruning adds no -lm dependency of its own.
 *   - Non-finite weights are refused (SCALPEL_ERR_ARGUMENT): a NaN has no magnitude order and
 *     an infinity means training diverged; pruning either silently would hide the problem.
 */


/* Bit pattern of |x| (sign cleared). For finite x, and +inf, these order like the values. */
SCALPEL__PRIV uint32_t scalpel__prune_abs_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof(u));
    return u & 0x7fffffffu;
}

SCALPEL__PRIV float scalpel__prune_from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof(x));
    return x;
}

/* Importance of one group p[0..m) (m >= 1 in-range weights; a tail group is scored over what
 * it has, so a short group is neither favoured nor penalised by phantom zeros). Sums run in
 * double so that 16 squares never overflow or lose the small ones. A group of one weight
 * scores exactly |w| under every importance, which makes G = 1 plain magnitude pruning. */
SCALPEL__PRIV float scalpel__prune_score(const float *p, int32_t m, int32_t importance)
{
    double acc = 0.0;
    float mx = 0.0f;
    int32_t i;
    if (m == 1) return scalpel__prune_from_bits(scalpel__prune_abs_bits(p[0]));
    switch (importance) {
    case SCALPEL_IMPORTANCE_MEAN:
        for (i = 0; i < m; i++) acc += (double)scalpel__prune_from_bits(scalpel__prune_abs_bits(p[i]));
        return (float)(acc / (double)m);
    case SCALPEL_IMPORTANCE_MAX:
        for (i = 0; i < m; i++) {
            float a = scalpel__prune_from_bits(scalpel__prune_abs_bits(p[i]));
            if (a > mx) mx = a;
        }
        return mx;
    default: /* RMS */
        for (i = 0; i < m; i++) acc += (double)p[i] * (double)p[i];
        return (float)scalpel__sqrt(acc / (double)m);
    }
}

/* Shared argument checks for the W[rows x cols] routines: pointers, shapes, that rows * cols
 * floats are addressable, the group size and the importance. *n gets rows * cols. */
SCALPEL__PRIV scalpel_status scalpel__prune_check(const float *w, int32_t rows, int32_t cols,
                                                  const void *out, size_t *n)
{
    uint64_t count;
    *n = 0;
    if (w == NULL || out == NULL) return SCALPEL_ERR_NULL;
    if (rows < 0 || cols < 0) return SCALPEL_ERR_SHAPE;
    count = (uint64_t)rows * (uint64_t)cols; /* < 2^62: cannot wrap in 64 bits */
    if (count > (uint64_t)(SIZE_MAX / sizeof(float))) return SCALPEL_ERR_OVERFLOW;
    *n = (size_t)count;
    return SCALPEL_OK;
}

SCALPEL__PRIV int scalpel__prune_importance_ok(int32_t importance)
{
    return importance == SCALPEL_IMPORTANCE_RMS || importance == SCALPEL_IMPORTANCE_MEAN ||
           importance == SCALPEL_IMPORTANCE_MAX;
}

SCALPEL__PRIV scalpel_status scalpel__prune_all_finite(const float *w, size_t n)
{
    return scalpel__net_all_finite(w, n) ? SCALPEL_OK : SCALPEL_ERR_ARGUMENT;
}

/* round(rate * count), half up, for rate in [0, 1]; never above count. */
SCALPEL__PRIV uint64_t scalpel__prune_target(float rate, uint64_t count)
{
    double t = (double)rate * (double)count + 0.5;
    uint64_t k = (uint64_t)t;
    return k > count ? count : k;
}

/* One counting pass of the selection: hist[d] = number of groups (of G along each row; G = 1
 * for single weights) whose score bits match `prefix` on `prefix_mask` and have byte d at
 * `shift`. */
SCALPEL__PRIV void scalpel__prune_histogram(const float *w, int32_t rows, int32_t cols, int32_t group,
                                            int32_t importance, uint32_t prefix, uint32_t prefix_mask,
                                            int shift, uint64_t hist[256])
{
    int32_t r, c;
    memset(hist, 0, 256 * sizeof(hist[0]));
    if (group == 1) { /* fast path: the score is |w| itself */
        size_t i, n = (size_t)rows * (size_t)cols;
        for (i = 0; i < n; i++) {
            uint32_t u = scalpel__prune_abs_bits(w[i]);
            if ((u & prefix_mask) == prefix) hist[(u >> shift) & 0xffu]++;
        }
        return;
    }
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * (size_t)cols;
        for (c = 0; c < cols; c += group) {
            int32_t m = cols - c < group ? cols - c : group;
            uint32_t u = scalpel__prune_abs_bits(scalpel__prune_score(row + c, m, importance));
            if ((u & prefix_mask) == prefix) hist[(u >> shift) & 0xffu]++;
        }
    }
}

/* The pruning of exactly k groups of lowest score, shared by the magnitude (G = 1) and the
 * grouped rate routines. Arguments are already checked and the weights finite.
 * The cut is the k-th smallest score's bit pattern, found one byte at a time, most significant
 * first: a pass counts the scores that share the bytes fixed so far by their next byte, and the
 * running count picks the byte holding the k-th. Four passes (a 256-way search) instead of the
 * 31 of a binary search over the same patterns; the 2 KB of counters live on the stack. Then
 * every group below the cut is pruned, and k - count(below) of those equal to it, first ones
 * first. *cut_out = the score of the largest pruned group (0 when k == 0). */
SCALPEL__PRIV void scalpel__prune_select(const float *w, int32_t rows, int32_t cols, int32_t group,
                                         int32_t importance, uint64_t k, uint8_t *mask,
                                         float *cut_out)
{
    uint64_t hist[256], rank = k, below = 0, ties;
    uint32_t prefix = 0, prefix_mask = 0, cut;
    size_t n = (size_t)rows * (size_t)cols;
    int32_t r, c;
    int shift;
    *cut_out = 0.0f;
    if (k == 0) {
        if (n > 0) memset(mask, 1, n);
        return;
    }
    for (shift = 24; shift >= 0; shift -= 8) {
        uint32_t d;
        scalpel__prune_histogram(w, rows, cols, group, importance, prefix, prefix_mask, shift, hist);
        for (d = 0; d < 255 && hist[d] < rank; d++) rank -= hist[d], below += hist[d];
        prefix |= d << shift;
        prefix_mask |= 0xffu << shift;
    }
    cut = prefix;
    ties = k - below; /* 1 <= ties <= count(score == cut) */
    *cut_out = scalpel__prune_from_bits(cut);
    if (group == 1) { /* fast path, as in the counting passes */
        size_t i;
        for (i = 0; i < n; i++) {
            uint32_t u = scalpel__prune_abs_bits(w[i]);
            uint8_t keep = u > cut;
            if (u == cut && ties > 0) ties--;
            else if (u == cut) keep = 1;
            mask[i] = keep;
        }
        return;
    }
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * (size_t)cols;
        uint8_t *mrow = mask + (size_t)r * (size_t)cols;
        for (c = 0; c < cols; c += group) {
            int32_t m = cols - c < group ? cols - c : group;
            uint32_t u = scalpel__prune_abs_bits(scalpel__prune_score(row + c, m, importance));
            uint8_t keep = 1;
            if (u < cut) keep = 0;
            else if (u == cut && ties > 0) { keep = 0; ties--; }
            memset(mrow + c, keep, (size_t)m);
        }
    }
}

/* Han et al.'s rule. A threshold that is NaN or negative is a caller bug (every |w| >= a
 * negative threshold), so it is refused rather than read as "keep all". */
SCALPEL_API scalpel_status scalpel_prune_magnitude_threshold(const float *w, int32_t rows, int32_t cols,
                                                             float threshold, uint8_t *mask)
{
    size_t n, i;
    scalpel_status st = scalpel__prune_check(w, rows, cols, mask, &n);
    if (st != SCALPEL_OK) return st;
    if (n > 0) memset(mask, 0, n);
    if (!(threshold >= 0.0f)) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__prune_all_finite(w, n);
    if (st != SCALPEL_OK) return st;
    for (i = 0; i < n; i++) {
        float a = scalpel__prune_from_bits(scalpel__prune_abs_bits(w[i]));
        mask[i] = (uint8_t)(a >= threshold);
    }
    return SCALPEL_OK;
}

/* Magnitude pruning to a rate is grouped pruning with G = 1 (a single weight scores |w| under
 * every importance): one selection routine serves both. */
SCALPEL_API scalpel_status scalpel_prune_magnitude_rate(const float *w, int32_t rows, int32_t cols,
                                                        float rate, uint8_t *mask, float *threshold_out)
{
    size_t n;
    float cut = 0.0f;
    scalpel_status st;
    if (threshold_out != NULL) *threshold_out = 0.0f;
    st = scalpel__prune_check(w, rows, cols, mask, &n);
    if (st != SCALPEL_OK) return st;
    if (n > 0) memset(mask, 0, n);
    if (!(rate >= 0.0f && rate <= 1.0f)) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__prune_all_finite(w, n);
    if (st != SCALPEL_OK) return st;
    scalpel__prune_select(w, rows, cols, 1, SCALPEL_IMPORTANCE_MAX,
                          scalpel__prune_target(rate, (uint64_t)n), mask, &cut);
    if (threshold_out != NULL) *threshold_out = cut;
    return SCALPEL_OK;
}

/* Groups per row, ceil(cols / G), in 64 bits: cols + G - 1 may not fit int32. */
SCALPEL__PRIV uint64_t scalpel__prune_groups_per_row(int32_t cols, int32_t group)
{
    return ((uint64_t)cols + (uint64_t)group - 1) / (uint64_t)group;
}

SCALPEL_API scalpel_status scalpel_prune_group_scores(const float *w, int32_t rows, int32_t cols,
                                                      int32_t group, scalpel_importance importance,
                                                      float *scores)
{
    size_t n, k = 0;
    uint64_t total;
    int32_t r, c;
    scalpel_status st = scalpel__prune_check(w, rows, cols, scores, &n);
    if (st != SCALPEL_OK) return st;
    if (!scalpel__net_group_ok(group)) return SCALPEL_ERR_GROUP;
    total = (uint64_t)rows * scalpel__prune_groups_per_row(cols, group);
    if (total > (uint64_t)(SIZE_MAX / sizeof(float))) return SCALPEL_ERR_OVERFLOW;
    if (total > 0) memset(scores, 0, (size_t)total * sizeof(float));
    if (!scalpel__prune_importance_ok((int32_t)importance)) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__prune_all_finite(w, n);
    if (st != SCALPEL_OK) return st;
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * (size_t)cols;
        for (c = 0; c < cols; c += group) {
            int32_t m = cols - c < group ? cols - c : group;
            scores[k++] = scalpel__prune_score(row + c, m, (int32_t)importance);
        }
    }
    return SCALPEL_OK;
}

/* Strictly "under threshold" is pruned, as in the magnitude rule, so threshold 0 keeps all. */
SCALPEL_API scalpel_status scalpel_prune_groups_threshold(const float *w, int32_t rows, int32_t cols,
                                                          int32_t group, scalpel_importance importance,
                                                          float threshold, uint8_t *mask)
{
    size_t n;
    int32_t r, c;
    scalpel_status st = scalpel__prune_check(w, rows, cols, mask, &n);
    if (st != SCALPEL_OK) return st;
    if (n > 0) memset(mask, 0, n);
    if (!scalpel__net_group_ok(group)) return SCALPEL_ERR_GROUP;
    if (!scalpel__prune_importance_ok((int32_t)importance)) return SCALPEL_ERR_ARGUMENT;
    if (!(threshold >= 0.0f)) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__prune_all_finite(w, n);
    if (st != SCALPEL_OK) return st;
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * (size_t)cols;
        uint8_t *mrow = mask + (size_t)r * (size_t)cols;
        for (c = 0; c < cols; c += group) {
            int32_t m = cols - c < group ? cols - c : group;
            float s = scalpel__prune_score(row + c, m, (int32_t)importance);
            memset(mrow + c, s >= threshold ? 1 : 0, (size_t)m);
        }
    }
    return SCALPEL_OK;
}

/* The rate counts groups, tail groups included (each is one unit the kernel skips or loads). */
SCALPEL_API scalpel_status scalpel_prune_groups_rate(const float *w, int32_t rows, int32_t cols,
                                                     int32_t group, scalpel_importance importance,
                                                     float rate, uint8_t *mask, float *threshold_out)
{
    size_t n;
    float cut = 0.0f;
    scalpel_status st;
    if (threshold_out != NULL) *threshold_out = 0.0f;
    st = scalpel__prune_check(w, rows, cols, mask, &n);
    if (st != SCALPEL_OK) return st;
    if (n > 0) memset(mask, 0, n);
    if (!scalpel__net_group_ok(group)) return SCALPEL_ERR_GROUP;
    if (!scalpel__prune_importance_ok((int32_t)importance)) return SCALPEL_ERR_ARGUMENT;
    if (!(rate >= 0.0f && rate <= 1.0f)) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__prune_all_finite(w, n);
    if (st != SCALPEL_OK) return st;
    scalpel__prune_select(w, rows, cols, group, (int32_t)importance,
                          scalpel__prune_target(rate, (uint64_t)rows * scalpel__prune_groups_per_row(cols, group)),
                          mask, &cut);
    if (threshold_out != NULL) *threshold_out = cut;
    return SCALPEL_OK;
}

/* Void by design (it is called after every optimizer step): NULL pointers do nothing. */
SCALPEL_API void scalpel_mask_apply_f32(float *w, const uint8_t *mask, size_t n)
{
    size_t i;
    if (w == NULL || mask == NULL) return;
    for (i = 0; i < n; i++)
        if (mask[i] == 0) w[i] = 0.0f;
}

/* -0.0f counts as zero (it compares equal, and a kernel skips it the same). Counted in size_t
 * and divided in double so large layers keep an exact fraction. */
SCALPEL_API float scalpel_sparsity_f32(const float *w, size_t n)
{
    size_t i, zeros = 0;
    if (w == NULL || n == 0) return 0.0f;
    for (i = 0; i < n; i++) zeros += w[i] == 0.0f;
    return (float)((double)zeros / (double)n);
}

/* What a grouped-CSR layer with G skips: weights in all-zero aligned groups (a tail group
 * counts only its in-range weights, as the kernel reads nothing past cols). Invalid arguments
 * give 0: the function returns a fraction, not a status, and 0 is "nothing skipped". */
SCALPEL_API float scalpel_group_sparsity_f32(const float *w, int32_t rows, int32_t cols, int32_t group)
{
    size_t n, skipped = 0;
    int32_t r, c, i;
    if (scalpel__prune_check(w, rows, cols, w, &n) != SCALPEL_OK || n == 0) return 0.0f;
    if (!scalpel__net_group_ok(group)) return 0.0f;
    for (r = 0; r < rows; r++) {
        const float *row = w + (size_t)r * (size_t)cols;
        for (c = 0; c < cols; c += group) {
            int32_t m = cols - c < group ? cols - c : group;
            int zero = 1;
            for (i = 0; i < m && zero; i++) zero = row[c + i] == 0.0f;
            if (zero) skipped += (size_t)m;
        }
    }
    return (float)((double)skipped / (double)n);
}

#ifndef SCALPEL_NO_MALLOC
/* Squared L2 norm of a weight row, the "importance" of a node when round_to adds nodes back.
 * The squared norm orders like the norm and needs no square root. */
SCALPEL__PRIV double scalpel__prune_row_norm2(const float *row, int32_t cols)
{
    double s = 0.0;
    int32_t i;
    for (i = 0; i < cols; i++) s += (double)row[i] * (double)row[i];
    return s;
}

/* Final keep set of one weighted layer: the caller's mask, then (round_to > 1) the removed
 * nodes of largest weight-row norm added back, one at a time (lower index first on ties),
 * until the count is a multiple of round_to or everything is kept. The rounding uses the whole
 * original row, which is the node's own weight before any input was dropped. Returns the kept
 * count. */
SCALPEL__PRIV int32_t scalpel__prune_final_keep(const uint8_t *user, const float *w, int32_t rows,
                                                int32_t cols, int32_t round_to, uint8_t *keep)
{
    int32_t i, kept = 0, target;
    for (i = 0; i < rows; i++) {
        keep[i] = user == NULL ? 1 : user[i];
        kept += keep[i];
    }
    target = (int32_t)((((int64_t)kept + round_to - 1) / round_to) * round_to);
    if (target > rows) target = rows;
    while (kept < target) {
        int32_t best = -1;
        double best_norm = -1.0;
        for (i = 0; i < rows; i++) {
            double nrm;
            if (keep[i]) continue;
            nrm = scalpel__prune_row_norm2(w + (size_t)i * (size_t)cols, cols);
            if (nrm > best_norm) { best_norm = nrm; best = i; }
        }
        if (best < 0) break; /* unreachable: kept < target <= rows leaves a removed node */
        keep[best] = 1;
        kept++;
    }
    return kept;
}

/* Node removal over coupled channels. A network's tensors (0: the input, t: the output of
 * layer t - 1) hold channels, numbered globally: channel c of tensor t is off[t] + c. Layers
 * couple channels that must go together, kept in a union-find forest over those numbers:
 *   - a per-channel layer (relu, the pools, batch norm, the elementwise activations, LRN
 *     within a channel) ties output channel c to input channel c;
 *   - a depthwise convolution (groups == in_c > 1) ties output channels c*m .. c*m + m - 1 to
 *     input channel c (a depthwise channel goes with its input channel);
 *   - add ties channel c of both inputs and of the output; concat ties each output channel to
 *     the input channel it copies, at its offset;
 *   - fc and ordinary conv rows start new channels: their inputs are only read (columns).
 * Some sets can never go, "pinned": the network input's channels and the last tensor's (1:
 * what the caller feeds and reads), and (2) the channels in and out of a grouped convolution
 * (its groups must stay equal), of an LRN across channels (its neighbours would change) and
 * of a softmax (its sum would change). A removed set goes from every tensor at once: the rows
 * that produce it, the per-channel parameters of the layers it passes, and the columns of
 * every layer that reads it. */
typedef struct scalpel__nr_plan {
    int32_t n_t;          /* tensors: n_layers + 1 */
    int32_t *off;         /* [n_t + 1] first global number of each tensor's channels */
    int32_t *parent;      /* [n_ch] union-find parents */
    uint8_t *state;       /* [n_ch] at roots: SCALPEL__NR_* request bits, or 1 = removed */
    uint8_t *pin;         /* [n_ch] at roots: 0, 1 (input / output), 2 (a kind that pins) */
    uint8_t *removed;     /* [n_ch] per channel, once decided */
    float *konst;         /* [n_ch] the value a removed channel holds (dead-node removal) */
    int32_t *boff;        /* [n_layers] first row of each weighted layer in bias */
    float *bias;          /* [all rows] each weighted layer's bias after folding */
} scalpel__nr_plan;

#define SCALPEL__NR_KEEP 1   /* a mask keeps a node of the set */
#define SCALPEL__NR_DROP 2   /* a mask removes a node of the set */

SCALPEL__PRIV float scalpel__nr_abs(float x) { return x < 0.0f ? -x : x; }

SCALPEL__PRIV int32_t scalpel__nr_find(int32_t *parent, int32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

SCALPEL__PRIV void scalpel__nr_union(scalpel__nr_plan *p, int32_t a, int32_t b)
{
    int32_t ra = scalpel__nr_find(p->parent, a), rb = scalpel__nr_find(p->parent, b);
    if (ra == rb) return;
    if (ra > rb) { int32_t t = ra; ra = rb; rb = t; }
    p->parent[rb] = ra;
    if (p->pin[rb] > p->pin[ra]) p->pin[ra] = p->pin[rb];
}

SCALPEL__PRIV void scalpel__nr_pin_tensor(scalpel__nr_plan *p, int32_t t, uint8_t why)
{
    int32_t c;
    for (c = p->off[t]; c < p->off[t + 1]; c++) {
        int32_t r = scalpel__nr_find(p->parent, c);
        if (p->pin[r] < why) p->pin[r] = why;
    }
}

/* 1 for a depthwise convolution: one input channel per group (and more than one group). */
SCALPEL__PRIV int scalpel__nr_depthwise(const scalpel_layer_geom *g)
{
    return g->kind == SCALPEL_LAYER_CONV2D && g->groups > 1 && g->groups == g->in_c;
}

/* A kind that mixes channels other than by weights: nothing in or out of it can go. */
SCALPEL__PRIV int scalpel__nr_pins(const scalpel_layer_geom *g)
{
    if (g->kind == SCALPEL_LAYER_CONV2D) return g->groups > 1 && !scalpel__nr_depthwise(g);
    if (g->kind == SCALPEL_LAYER_LRN) return !(g->mode & SCALPEL_LRN_WITHIN_CHANNEL);
    return g->kind == SCALPEL_LAYER_SOFTMAX;
}

/* Lays out the plan in one block and couples the channels (above). */
SCALPEL__PRIV scalpel_status scalpel__nr_plan_init(const scalpel_net *net, scalpel__nr_plan *p, void **block)
{
    int32_t n = net->n_layers, i, t;
    size_t n_ch = 0, rows = 0, bytes;
    unsigned char *q;
    *block = NULL;
    p->n_t = n + 1;
    for (t = 0; t <= n; t++) {
        int32_t c, h, w;
        scalpel__tensor_shape(net->layers, sizeof(scalpel_layer), net->in_c, net->in_h, net->in_w, t, &c, &h, &w);
        n_ch += (size_t)c;
    }
    for (i = 0; i < n; i++) rows += (size_t)net->layers[i].geom.rows;
    if (n_ch >= (size_t)INT32_MAX || rows >= (size_t)INT32_MAX) return SCALPEL_ERR_OVERFLOW;
    bytes = ((size_t)n + 2) * sizeof(int32_t) + n_ch * (sizeof(int32_t) + sizeof(float) + 3) +
            (size_t)n * sizeof(int32_t) + (rows + 1) * sizeof(float) + 16;
    q = (unsigned char *)SCALPEL_MALLOC(net->alloc_ctx, bytes);
    if (!q) return SCALPEL_ERR_NO_MEMORY;
    *block = q;
    p->konst = (float *)(void *)q;            q += n_ch * sizeof(float);
    p->bias = (float *)(void *)q;             q += (rows + 1) * sizeof(float);
    p->off = (int32_t *)(void *)q;            q += ((size_t)n + 2) * sizeof(int32_t);
    p->parent = (int32_t *)(void *)q;         q += n_ch * sizeof(int32_t);
    p->boff = (int32_t *)(void *)q;           q += (size_t)n * sizeof(int32_t);
    p->state = q;                             q += n_ch;
    p->pin = q;                               q += n_ch;
    p->removed = q;
    memset(p->state, 0, 3 * n_ch);
    p->off[0] = 0;
    for (t = 0; t <= n; t++) {
        int32_t c, h, w;
        scalpel__tensor_shape(net->layers, sizeof(scalpel_layer), net->in_c, net->in_h, net->in_w, t, &c, &h, &w);
        p->off[t + 1] = p->off[t] + c;
    }
    for (i = 0; i < (int32_t)n_ch; i++) { p->parent[i] = i; p->konst[i] = 0.0f; }
    for (i = 0, rows = 0; i < n; i++) {
        p->boff[i] = (int32_t)rows;
        rows += (size_t)net->layers[i].geom.rows;
        if (net->layers[i].geom.rows > 0) memcpy(p->bias + p->boff[i], net->layers[i].b, (size_t)net->layers[i].geom.rows * sizeof(float));
    }
    for (i = 0; i < n; i++) {
        const scalpel_layer_geom *g = &net->layers[i].geom;
        int32_t a = scalpel__geom_source(g, i), b = scalpel__geom_source2(g, i), o = i + 1, c;
        if (scalpel__nr_pins(g)) {
            scalpel__nr_pin_tensor(p, a, 2);
            scalpel__nr_pin_tensor(p, o, 2);
        } else if (scalpel__nr_depthwise(g)) {
            int32_t m = g->out_c / g->in_c;
            for (c = 0; c < g->out_c; c++) scalpel__nr_union(p, p->off[o] + c, p->off[a] + c / m);
        } else if (g->kind == SCALPEL_LAYER_CONCAT) {
            int32_t ca = p->off[a + 1] - p->off[a];
            for (c = 0; c < g->out_c; c++)
                scalpel__nr_union(p, p->off[o] + c, c < ca ? p->off[a] + c : p->off[b] + c - ca);
        } else if (!scalpel__is_weighted(g->kind)) {
            for (c = 0; c < g->out_c; c++) {
                scalpel__nr_union(p, p->off[o] + c, p->off[a] + c);
                if (b >= 0) scalpel__nr_union(p, p->off[o] + c, p->off[b] + c);
            }
        }
    }
    scalpel__nr_pin_tensor(p, 0, 1);
    scalpel__nr_pin_tensor(p, n, 1);
    return SCALPEL_OK;
}

/* removed[] from the roots' state (1 = removed); 0 when some tensor would lose every channel
 * (then *empty is that tensor). */
SCALPEL__PRIV int scalpel__nr_settle(scalpel__nr_plan *p, int32_t *empty)
{
    int32_t t, c;
    for (t = 0; t < p->n_t; t++) {
        int32_t kept = 0;
        for (c = p->off[t]; c < p->off[t + 1]; c++) {
            p->removed[c] = (uint8_t)(p->state[scalpel__nr_find(p->parent, c)] == 1);
            kept += !p->removed[c];
        }
        if (kept == 0 && p->off[t + 1] > p->off[t]) { *empty = t; return 0; }
    }
    return 1;
}

/* Builds *out from net without the removed channels, every weighted layer with the plan's
 * biases; the result is dense. wbuf holds the largest weight matrix. */
SCALPEL__PRIV scalpel_status scalpel__nr_rebuild(const scalpel_net *net, const scalpel__nr_plan *p, float *wbuf,
                                                 float *bbuf, scalpel_net *out)
{
    int32_t i;
    scalpel_status st = scalpel_net_init(net->in_c, net->in_h, net->in_w, out);
    if (st != SCALPEL_OK) return st;
    out->alloc_ctx = net->alloc_ctx;
    out->input_norm = net->input_norm; /* the input's channels are never removed */
    for (i = 0; i < net->n_layers && st == SCALPEL_OK; i++) {
        const scalpel_layer *L = &net->layers[i];
        const scalpel_layer_geom *g0 = &L->geom;
        const uint8_t *rin = p->removed + p->off[scalpel__geom_source(g0, i)];
        const uint8_t *rout = p->removed + p->off[i + 1];
        scalpel_layer_geom g = *g0;
        scalpel_layer *nl = NULL;
        int32_t c, r, kept = 0;
        out->next_from = g0->from;
        if (scalpel__is_weighted(g0->kind)) {
            size_t dst = 0;
            int32_t dw = scalpel__nr_depthwise(g0), per_ch = g0->cols / (g0->in_c / (g0->groups > 0 ? g0->groups : 1)), kept_in = 0;
            for (c = 0; c < g0->in_c; c++) kept_in += !rin[c];
            scalpel__layer_dense_weights(L, wbuf);
            for (r = 0; r < g0->rows; r++) {
                const float *src = wbuf + (size_t)r * (size_t)g0->cols;
                if (rout[r]) continue;
                bbuf[kept++] = p->bias[p->boff[i] + r];
                if (dw || g0->groups > 1) { /* depthwise rows keep their one channel; grouped: nothing goes */
                    memmove(wbuf + dst, src, (size_t)g0->cols * sizeof(float));
                    dst += (size_t)g0->cols;
                    continue;
                }
                for (c = 0; c < g0->in_c; c++) {
                    if (rin[c]) continue;
                    memmove(wbuf + dst, src + (size_t)c * (size_t)per_ch, (size_t)per_ch * sizeof(float));
                    dst += (size_t)per_ch;
                }
            }
            if (dw) g.groups = kept_in;
            st = scalpel__net_append_geom(out, &g, kept, &nl);
            if (st == SCALPEL_OK && (size_t)nl->geom.rows * (size_t)nl->geom.cols != dst) st = SCALPEL_ERR_SHAPE;
            if (st == SCALPEL_OK) st = scalpel__net_fill_weights(out, nl, wbuf, NULL, bbuf);
        } else {
            st = scalpel__net_append_geom(out, &g, 0, &nl);
            if (st == SCALPEL_OK && L->params) { /* per-channel parameters: the kept channels' */
                int32_t k, pc = scalpel__kinds[g0->kind].per_channel;
                for (k = 0; k < pc; k++)
                    for (c = 0; c < g0->out_c; c++)
                        if (!rout[c]) bbuf[kept++] = L->params[(size_t)k * (size_t)g0->out_c + (size_t)c];
                st = scalpel__layer_set_params(out, nl, bbuf);
                if (st != SCALPEL_OK) { memset(nl, 0, sizeof(*nl)); out->n_layers--; }
            }
        }
    }
    if (st != SCALPEL_OK) {
        scalpel_net_free(out);
        memset(out, 0, sizeof(*out));
    }
    return st;
}

/* Scratch for both removals: the largest weight matrix and the largest row / channel count. */
SCALPEL__PRIV scalpel_status scalpel__nr_scratch(const scalpel_net *net, size_t extra, float **wbuf, float **bbuf)
{
    size_t most_w = 1, most_r = 1;
    int32_t i;
    *wbuf = *bbuf = NULL;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer_geom *g = &net->layers[i].geom;
        uint64_t cells = (uint64_t)g->rows * (uint64_t)g->cols;
        size_t pc = (size_t)scalpel__kinds[g->kind].per_channel * (size_t)g->out_c;
        if (cells > (uint64_t)(SIZE_MAX / sizeof(float) / 2)) return SCALPEL_ERR_OVERFLOW;
        if ((size_t)cells > most_w) most_w = (size_t)cells;
        if ((size_t)g->rows > most_r) most_r = (size_t)g->rows;
        if (pc > most_r) most_r = pc;
    }
    if (extra > most_w) most_w = extra;
    *wbuf = (float *)SCALPEL_MALLOC(net->alloc_ctx, (most_w + most_r) * sizeof(float));
    if (!*wbuf) return SCALPEL_ERR_NO_MEMORY;
    *bbuf = *wbuf + most_w;
    return SCALPEL_OK;
}

/* Node removal with masks: each mask's bytes request keeping or removing the set each node
 * belongs to; the sets requested removed go (their channels forced to zero, in every tensor),
 * a set requested both ways is an error, and so is removing a pinned set. */
SCALPEL_API scalpel_status scalpel_net_remove_nodes(const scalpel_net *net, const uint8_t *const *keep,
                                                    int32_t round_to, scalpel_net *out)
{
    scalpel__nr_plan p;
    void *block = NULL;
    float *wbuf = NULL, *bbuf = NULL;
    uint8_t *rounded;
    int32_t l, last_weighted = -1, empty = 0;
    scalpel_status st;

    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (net == NULL || keep == NULL) return SCALPEL_ERR_NULL;
    if (round_to != 1 && round_to != 8 && round_to != 16 && round_to != 32) return SCALPEL_ERR_ARGUMENT;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (scalpel_net_first_unsupported(net, SCALPEL_USE_NODE_REMOVAL) >= 0) return SCALPEL_ERR_UNSUPPORTED;
    for (l = 0; l < net->n_layers; l++)
        if (scalpel__is_weighted(net->layers[l].geom.kind)) last_weighted = l;
    for (l = 0; l < net->n_layers; l++) { /* the masks' rules, before anything is allocated */
        const scalpel_layer *ly = &net->layers[l];
        int32_t c, kept = 0;
        if (keep[l] == NULL) continue;
        if (!scalpel__is_weighted(ly->geom.kind) || l == last_weighted) return SCALPEL_ERR_ARGUMENT;
        for (c = 0; c < ly->geom.out_c; c++) {
            if (keep[l][c] > 1) return SCALPEL_ERR_ARGUMENT;
            kept += keep[l][c];
        }
        if (kept == 0) return SCALPEL_ERR_ARGUMENT; /* the network would be cut in two */
    }
    st = scalpel__nr_scratch(net, 0, &wbuf, &bbuf);
    if (st == SCALPEL_OK) st = scalpel__nr_plan_init(net, &p, &block);
    for (l = 0; l < net->n_layers && st == SCALPEL_OK; l++) {
        const scalpel_layer *ly = &net->layers[l];
        int32_t r;
        if (keep[l] == NULL) continue;
        /* the rounded mask goes into this layer's slice of removed[] (free until settled) */
        rounded = p.removed + p.off[l + 1];
        scalpel__layer_dense_weights(ly, wbuf);
        (void)scalpel__prune_final_keep(keep[l], wbuf, ly->geom.rows, ly->geom.cols, round_to, rounded);
        for (r = 0; r < ly->geom.rows; r++) {
            int32_t root = scalpel__nr_find(p.parent, p.off[l + 1] + r);
            p.state[root] |= (uint8_t)(rounded[r] ? SCALPEL__NR_KEEP : SCALPEL__NR_DROP);
        }
    }
    for (l = 0; st == SCALPEL_OK && l < p.off[p.n_t]; l++) {
        if (p.parent[l] != l) continue;
        if (p.state[l] == (SCALPEL__NR_KEEP | SCALPEL__NR_DROP)) st = SCALPEL_ERR_ARGUMENT; /* masks disagree */
        else if (p.state[l] == SCALPEL__NR_DROP && p.pin[l])
            st = p.pin[l] == 1 ? SCALPEL_ERR_ARGUMENT : SCALPEL_ERR_UNSUPPORTED;
        p.state[l] = (uint8_t)(p.state[l] == SCALPEL__NR_DROP);
    }
    if (st == SCALPEL_OK && !scalpel__nr_settle(&p, &empty)) st = SCALPEL_ERR_ARGUMENT;
    if (st == SCALPEL_OK) st = scalpel__nr_rebuild(net, &p, wbuf, bbuf, out);
    if (block) SCALPEL_FREE(net->alloc_ctx, block);
    if (wbuf) SCALPEL_FREE(net->alloc_ctx, wbuf);
    return st;
}

/* One pass of dead-node removal over the candidate sets (state 1 at their roots): folds the
 * removed inputs' constants into each weighted layer's bias, finds the constant each removed
 * channel holds, and clears the candidacy of every set that cannot go exactly: a row of it
 * still reads a kept channel through a non-zero weight, its constant meets a convolution's
 * padding, or a layer it passes does not keep it constant (found by running the layer's
 * reference on the constants: pools with padding, LRN within a channel). Returns the number
 * of sets cleared. tin, tin2, tout hold the largest tensor. */
SCALPEL__PRIV int32_t scalpel__nr_dead_pass(const scalpel_net *net, scalpel__nr_plan *p, float *wbuf, float *tin,
                                            float *tin2, float *tout)
{
    int32_t i, cleared = 0;
    /* read through the roots, so that a set cleared early in the pass counts at once */
#define SCALPEL__NR_GONE(ch) (p->state[scalpel__nr_find(p->parent, (ch))] == 1)
#define SCALPEL__NR_CLEAR(ch)                                                         \
    do {                                                                              \
        int32_t root_ = scalpel__nr_find(p->parent, (ch));                            \
        if (p->state[root_] == 1) { p->state[root_] = 0; cleared++; }                 \
    } while (0)
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        const scalpel_layer_geom *g = &L->geom;
        int32_t a = scalpel__geom_source(g, i), b = scalpel__geom_source2(g, i), o = i + 1, c, r, j;
        const float *kin = p->konst + p->off[a];
        if (scalpel__is_weighted(g->kind)) {
            int32_t dw = scalpel__nr_depthwise(g), cin = dw ? 1 : g->in_c / (g->groups > 0 ? g->groups : 1);
            int32_t per_ch = g->cols / cin, m = dw ? g->out_c / g->in_c : 1;
            int padded = g->kind == SCALPEL_LAYER_CONV2D && (g->pad_top | g->pad_left | g->pad_bottom | g->pad_right) != 0;
            float *bias = p->bias + p->boff[i];
            scalpel__layer_dense_weights(L, wbuf);
            for (r = 0; r < g->rows; r++) {
                const float *row = wbuf + (size_t)r * (size_t)g->cols;
                double acc = (double)L->b[r];
                int dead = 1;
                /* the input channels row r reads: all (fc, conv), its own (depthwise) */
                int32_t c0 = dw ? r / m : 0, c1 = dw ? r / m + 1 : (g->groups > 1 ? 0 : g->in_c);
                for (c = c0; c < c1; c++) {
                    const float *cols = row + (size_t)(dw ? 0 : c) * (size_t)per_ch;
                    if (!SCALPEL__NR_GONE(p->off[a] + c)) {
                        for (j = 0; j < per_ch && dead; j++) dead = cols[j] == 0.0f;
                        continue;
                    }
                    if (kin[c] != 0.0f) {
                        double s = 0.0;
                        if (padded) SCALPEL__NR_CLEAR(p->off[a] + c); /* border windows read zeros */
                        for (j = 0; j < per_ch; j++) s += (double)cols[j];
                        acc += (double)kin[c] * s;
                    }
                }
                if (g->groups > 1 && !dw) dead = 0; /* grouped: pinned, never removed */
                bias[r] = (float)acc;
                if (SCALPEL__NR_GONE(p->off[o] + r)) {
                    if (!dead) SCALPEL__NR_CLEAR(p->off[o] + r);
                    p->konst[p->off[o] + r] = bias[r];
                }
            }
        } else {
            size_t hw_in = (size_t)g->in_h * (size_t)g->in_w, hw_out = (size_t)g->out_h * (size_t)g->out_w;
            int any = 0;
            for (c = 0; c < g->out_c && !any; c++) any = SCALPEL__NR_GONE(p->off[o] + c);
            if (!any) continue;
            /* the removed channels' constants (0 elsewhere) through the layer's reference */
            for (c = 0; c < g->in_c; c++)
                for (j = 0; j < (int32_t)hw_in; j++) tin[(size_t)c * hw_in + (size_t)j] = SCALPEL__NR_GONE(p->off[a] + c) ? kin[c] : 0.0f;
            if (b >= 0) {
                int32_t cb = p->off[b + 1] - p->off[b];
                size_t hw_b = hw_in;
                for (c = 0; c < cb; c++)
                    for (j = 0; j < (int32_t)hw_b; j++)
                        tin2[(size_t)c * hw_b + (size_t)j] = SCALPEL__NR_GONE(p->off[b] + c) ? p->konst[p->off[b] + c] : 0.0f;
            }
            if (scalpel_layer_ref(L, tin, b >= 0 ? tin2 : NULL, tout) != SCALPEL_OK) {
                for (c = 0; c < g->out_c; c++) SCALPEL__NR_CLEAR(p->off[o] + c);
                continue;
            }
            for (c = 0; c < g->out_c; c++) {
                const float *v = tout + (size_t)c * hw_out;
                int constant = 1;
                if (!SCALPEL__NR_GONE(p->off[o] + c)) continue;
                for (j = 1; j < (int32_t)hw_out && constant; j++)
                    constant = scalpel__nr_abs(v[j] - v[0]) <= 1e-6f * (1.0f + scalpel__nr_abs(v[0]));
                if (!constant || !(v[0] - v[0] == 0.0f)) SCALPEL__NR_CLEAR(p->off[o] + c);
                p->konst[p->off[o] + c] = v[0];
            }
        }
    }
#undef SCALPEL__NR_CLEAR
#undef SCALPEL__NR_GONE
    return cleared;
}

/* Dead-node removal: every unpinned set whose rows may go (which) starts as a candidate; passes
 * clear the candidates that cannot go exactly until none changes (each pass clears at least
 * one or ends, so at most one pass per set), and a tensor about to lose every channel keeps
 * its first. The last pass's biases are the folded ones. */
SCALPEL_API scalpel_status scalpel_net_remove_dead_nodes(const scalpel_net *net, const uint8_t *which,
                                                         scalpel_net *out, int32_t *removed)
{
    scalpel__nr_plan p;
    void *block = NULL;
    float *wbuf = NULL, *bbuf = NULL, *tens = NULL;
    size_t most_t = 1;
    int32_t l, t, empty = 0, n_removed = 0;
    scalpel_status st;

    if (removed) *removed = 0;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (net == NULL) return SCALPEL_ERR_NULL;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (scalpel_net_first_unsupported(net, SCALPEL_USE_NODE_REMOVAL) >= 0) return SCALPEL_ERR_UNSUPPORTED;
    for (t = 0; t <= net->n_layers; t++) {
        int32_t c, h, w;
        scalpel__tensor_shape(net->layers, sizeof(scalpel_layer), net->in_c, net->in_h, net->in_w, t, &c, &h, &w);
        if ((size_t)c * (size_t)h * (size_t)w > most_t) most_t = (size_t)c * (size_t)h * (size_t)w;
    }
    if (most_t > SIZE_MAX / sizeof(float) / 3) return SCALPEL_ERR_OVERFLOW;
    st = scalpel__nr_scratch(net, 0, &wbuf, &bbuf);
    if (st == SCALPEL_OK) {
        tens = (float *)SCALPEL_MALLOC(net->alloc_ctx, 3 * most_t * sizeof(float));
        if (!tens) st = SCALPEL_ERR_NO_MEMORY;
    }
    if (st == SCALPEL_OK) st = scalpel__nr_plan_init(net, &p, &block);
    if (st == SCALPEL_OK) {
        for (l = 0; l < p.off[p.n_t]; l++)
            if (p.parent[l] == l) p.state[l] = (uint8_t)!p.pin[l];
        for (l = 0; l < net->n_layers; l++) { /* sets holding a row of a layer left out stay */
            int32_t r;
            if (!scalpel__is_weighted(net->layers[l].geom.kind) || which == NULL || which[l] != 0) continue;
            for (r = 0; r < net->layers[l].geom.rows; r++) p.state[scalpel__nr_find(p.parent, p.off[l + 1] + r)] = 0;
        }
        for (;;) {
            if (scalpel__nr_dead_pass(net, &p, wbuf, tens, tens + most_t, tens + 2 * most_t) > 0) continue;
            if (scalpel__nr_settle(&p, &empty)) break;
            p.state[scalpel__nr_find(p.parent, p.off[empty])] = 0; /* a tensor keeps a channel */
        }
        for (l = 0; l < net->n_layers; l++)
            if (scalpel__is_weighted(net->layers[l].geom.kind)) {
                int32_t r;
                for (r = 0; r < net->layers[l].geom.rows; r++) n_removed += p.removed[p.off[l + 1] + r];
            }
        st = scalpel__nr_rebuild(net, &p, wbuf, bbuf, out);
    }
    if (block) SCALPEL_FREE(net->alloc_ctx, block);
    if (wbuf) SCALPEL_FREE(net->alloc_ctx, wbuf);
    if (tens) SCALPEL_FREE(net->alloc_ctx, tens);
    if (st == SCALPEL_OK && removed) *removed = n_removed;
    return st;
}
#endif /* SCALPEL_NO_MALLOC */


/* ======================================================================================== */
/* >>hardware profiles and >>planner (implementation)                                       */
/* ======================================================================================== */
/* The planner reads each weighted layer as it is stored (dense or grouped CSR with any G) and
 * counts, without a dense copy, what a grouped kernel with the target's G would skip; it then
 * applies the paper's per-class rule (section 2 of the method) or one of the baselines. Pack
 * carries the decision out, one exact conversion per layer. Calibration measures this
 * machine's break-even rates with the library's own kernels. */


/* One built-in profile. The name is kept as a pointer here (the public struct copies it into
 * its fixed array) so that the table stays a plain constant. */
typedef struct scalpel__hw_entry {
    const char *name;
    int32_t hw_class, group, dtype, batch;
    float mv_csr, mv_grouped, mm_csr, mm_grouped;
    const char *note;
} scalpel__hw_entry;

/* The built-in profiles. Break-even rates are measurements of this library's own kernels where
 * we have them (the Cortex-M4), else the paper's (section 2 of the method, Yu et al., ISCA
 * 2017) for that class of machine, else borrowed from the nearest measured machine; the note
 * says which: calibrate the borrowed ones with scalpel_hw_calibrate before trusting a decision
 * near the threshold. */
static const scalpel__hw_entry scalpel__hw_table[] = {
    /* ours, Cortex-M4 100x100 q15 (bench/cortex_m_q.c, make bench-cortex-m: estimated cycles of
     * the M4 model against our dense SMLAD kernels), matrix-vector: CSR 78%, grouped (G = 2)
     * 32%; matrix-matrix: CSR 69%, grouped 22%. The paper measured 68 / 48 / 73 / 56% against
     * a slower dense kernel. */
    { "cortex-m4", SCALPEL_HW_LOW, 2, SCALPEL_DTYPE_Q15, 1, 0.78f, 0.32f, 0.69f, 0.22f,
      "Cortex-M4 100x100 q15 sweep of these kernels (G = 2, SMLAD), estimated cycles" },
    /* Cortex-M7 has the same 2 x q15 DSP SIMD as the M4 and runs the same kernels: the M4
     * figures, not measured on an M7's dual-issue pipeline */
    { "cortex-m7", SCALPEL_HW_LOW, 2, SCALPEL_DTYPE_Q15, 1, 0.78f, 0.32f, 0.69f, 0.22f,
      "Cortex-M4 figures as defaults (same 2 x q15 DSP SIMD); calibrate on the board" },
    /* Cortex-M55 Helium: 128-bit vectors, 4 fp32 lanes; no paper figure, M4 ones borrowed */
    { "cortex-m55", SCALPEL_HW_LOW, 4, SCALPEL_DTYPE_F32, 1, 0.68f, 0.48f, 0.73f, 0.56f,
      "Helium fp32 (G = 4); Cortex-M4 figures as defaults, calibrate on the board" },
    /* paper, Core i7-6700 (AVX2, 8 x fp32) with MKL: matrix-vector 4096x4096 CSR 52%, grouped
     * (G = 8) 3%; matrix-matrix 128x1200 . 1200x729 CSR 79%, grouped about 84% */
    { "x86-avx2", SCALPEL_HW_MODERATE, 8, SCALPEL_DTYPE_F32, 1, 0.52f, 0.03f, 0.79f, 0.84f,
      "paper's Core i7-6700 (AVX2) measurements with MKL" },
    /* AVX-512: 16 fp32 lanes; the i7 figures as defaults */
    { "x86-avx512", SCALPEL_HW_MODERATE, 16, SCALPEL_DTYPE_F32, 1, 0.52f, 0.03f, 0.79f, 0.84f,
      "AVX-512 (G = 16); Core i7 (AVX2) figures as defaults, calibrate" },
    /* NEON: 128-bit vectors, 4 fp32 lanes; the i7 figures as defaults */
    { "arm-neon", SCALPEL_HW_MODERATE, 4, SCALPEL_DTYPE_F32, 1, 0.52f, 0.03f, 0.79f, 0.84f,
      "NEON (G = 4); Core i7 figures as defaults, calibrate" },
    /* paper, GTX Titan X, 4096x4096 . 4096x50 with cuSPARSE: CSR 96.3%; no grouping on GPUs
     * (G = 1, grouped never wins: 1.0); the paper has no matrix-vector figure, the same used */
    { "cuda", SCALPEL_HW_HIGH, 1, SCALPEL_DTYPE_F32, 50, 0.963f, 1.0f, 0.963f, 1.0f,
      "paper's GTX Titan X cuSPARSE measurement (batch 50); no grouping on GPUs" }
};

#define SCALPEL__HW_COUNT ((int32_t)(sizeof(scalpel__hw_table) / sizeof(scalpel__hw_table[0])))

/* A break-even rate is a fraction; NaN fails both comparisons and so is refused too. */
SCALPEL__PRIV int scalpel__hw_fraction_ok(float x)
{
    return x >= 0.0f && x <= 1.0f;
}

/* A profile may have been copied and edited by hand: every field the planner or calibration
 * reads is checked (the name must be terminated inside its array; note is free text). */
SCALPEL__PRIV scalpel_status scalpel__hw_check(const scalpel_hw_profile *hw)
{
    if (hw == NULL) return SCALPEL_ERR_NULL;
    if (memchr(hw->name, 0, sizeof(hw->name)) == NULL) return SCALPEL_ERR_ARGUMENT;
    if (hw->hw_class != SCALPEL_HW_LOW && hw->hw_class != SCALPEL_HW_MODERATE &&
        hw->hw_class != SCALPEL_HW_HIGH)
        return SCALPEL_ERR_ARGUMENT;
    if (!scalpel__net_group_ok(hw->group)) return SCALPEL_ERR_GROUP;
    if (hw->dtype != SCALPEL_DTYPE_F32 && hw->dtype != SCALPEL_DTYPE_Q15 && hw->dtype != SCALPEL_DTYPE_Q7)
        return SCALPEL_ERR_DTYPE;
    if (hw->batch < 1) return SCALPEL_ERR_ARGUMENT;
    if (!scalpel__hw_fraction_ok(hw->breakeven_mv_csr) || !scalpel__hw_fraction_ok(hw->breakeven_mv_grouped) ||
        !scalpel__hw_fraction_ok(hw->breakeven_mm_csr) || !scalpel__hw_fraction_ok(hw->breakeven_mm_grouped))
        return SCALPEL_ERR_ARGUMENT;
    return SCALPEL_OK;
}

SCALPEL__PRIV void scalpel__hw_fill(const scalpel__hw_entry *e, const char *name, scalpel_hw_profile *out)
{
    size_t n = strlen(name);
    memset(out, 0, sizeof(*out));
    if (n >= sizeof(out->name)) n = sizeof(out->name) - 1;
    memcpy(out->name, name, n);
    out->hw_class = e->hw_class;
    out->group = e->group;
    out->dtype = e->dtype;
    out->batch = e->batch;
    out->breakeven_mv_csr = e->mv_csr;
    out->breakeven_mv_grouped = e->mv_grouped;
    out->breakeven_mm_csr = e->mm_csr;
    out->breakeven_mm_grouped = e->mm_grouped;
    out->note = e->note;
}

SCALPEL_API int32_t scalpel_hw_profile_count(void)
{
    return SCALPEL__HW_COUNT;
}

SCALPEL_API const char *scalpel_hw_profile_name(int32_t i)
{
    if (i < 0 || i >= SCALPEL__HW_COUNT) return NULL;
    return scalpel__hw_table[i].name;
}

SCALPEL__PRIV const scalpel__hw_entry *scalpel__hw_find(const char *name)
{
    int32_t i;
    for (i = 0; i < SCALPEL__HW_COUNT; i++)
        if (strcmp(name, scalpel__hw_table[i].name) == 0) return &scalpel__hw_table[i];
    return NULL;
}

SCALPEL_API scalpel_status scalpel_hw_profile_get(const char *name, scalpel_hw_profile *out)
{
    const scalpel__hw_entry *e;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (name == NULL) return SCALPEL_ERR_NULL;
    e = scalpel__hw_find(name);
    if (e == NULL) return SCALPEL_ERR_ARGUMENT;
    scalpel__hw_fill(e, e->name, out);
    return SCALPEL_OK;
}

/* Profiles derived from a built-in one for backends that have none of their own: "x86-sse2" is
 * the AVX2 profile with G = 4 (128-bit vectors; the i7 figures remain defaults), and "scalar"
 * (plain C, SCALPEL_NO_SIMD or a Cortex-M3) follows the Cortex-M4 rules (LOW class, G = 2, the
 * M4 break-evens) with fp32 values, the only type the plain C kernels run. group 0 and dtype
 * -1 keep the base profile's. */
typedef struct scalpel__hw_derived {
    const char *name, *base;
    int32_t group, dtype;
    const char *note;
} scalpel__hw_derived;

static const scalpel__hw_derived scalpel__hw_derived_table[] = {
    { "x86-sse2", "x86-avx2", 4, -1, "SSE2 (G = 4); Core i7 (AVX2) figures as defaults, calibrate" },
    { "scalar", "cortex-m4", 0, SCALPEL_DTYPE_F32,
      "plain C fp32 kernels; Cortex-M4 rules and figures as defaults, calibrate" }
};

/* The kernels compiled into this program decide the profile, not the CPU it happens to run on:
 * G must be the vector width the compiled kernels use. The backend names its profile
 * (scalpel_kernels_backend_info()->default_profile): a built-in one, or one derived above. A
 * name neither table knows gives SCALPEL_ERR_UNSUPPORTED. */
SCALPEL_API scalpel_status scalpel_hw_profile_host(scalpel_hw_profile *out)
{
    const char *want = scalpel_kernels_backend_info()->default_profile;
    const scalpel__hw_entry *e;
    size_t i;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (scalpel__hw_find(want) != NULL) return scalpel_hw_profile_get(want, out);
    for (i = 0; i < sizeof(scalpel__hw_derived_table) / sizeof(scalpel__hw_derived_table[0]); i++) {
        const scalpel__hw_derived *d = &scalpel__hw_derived_table[i];
        if (strcmp(want, d->name) != 0 || (e = scalpel__hw_find(d->base)) == NULL) continue;
        scalpel__hw_fill(e, d->name, out);
        if (d->group != 0) out->group = d->group;
        if (d->dtype >= 0) out->dtype = d->dtype;
        out->note = d->note;
        return SCALPEL_OK;
    }
    return SCALPEL_ERR_UNSUPPORTED;
}

#ifndef SCALPEL_NO_MALLOC

/* ---- calibration ------------------------------------------------------------------------ */

/* Values in +-[1/16, 1]: never zero by chance, so a rate of pruning is exactly the rate asked. */
SCALPEL__PRIV void scalpel__hw_fill_random(float *p, size_t n, uint64_t *s)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t u = scalpel__rng_next(s);
        float mag = 0.0625f + 0.9375f * (float)(u >> 8) * (1.0f / 16777216.0f);
        p[i] = (u & 1u) ? -mag : mag;
    }
}

/* w = src with exactly round(rate * groups) aligned groups of g zeroed, chosen uniformly over
 * the whole matrix by selection sampling (Knuth's Algorithm S), so that the matrix carries the
 * rate asked for without a per-row pattern a kernel could be lucky with. */
SCALPEL__PRIV void scalpel__hw_prune_copy(const float *src, float *w, int32_t rows, int32_t cols,
                                          int32_t g, double rate, uint64_t *s)
{
    int64_t per_row = ((int64_t)cols + g - 1) / g;
    int64_t left = (int64_t)rows * per_row;
    int64_t need = (int64_t)(rate * (double)left + 0.5);
    int32_t r;
    memcpy(w, src, (size_t)rows * (size_t)cols * sizeof(float));
    for (r = 0; r < rows; r++) {
        float *row = w + (size_t)r * (size_t)cols;
        int64_t k;
        for (k = 0; k < per_row; k++, left--) {
            double u = (double)scalpel__rng_next(s) * (1.0 / 4294967296.0);
            if (need > 0 && u * (double)left < (double)need) {
                int64_t c0 = k * g, c1 = c0 + g < cols ? c0 + g : cols;
                memset(row + c0, 0, (size_t)(c1 - c0) * sizeof(float));
                need--;
            }
        }
    }
}

/* One timed operation: which kernel, and its operands. */
typedef struct scalpel__hw_op {
    int kind;                 /* 0 gemv, 1 spmv, 2 gemm, 3 spmm, 4 layer mv, 5 layer mm */
    const float *w;
    const scalpel_gcsr *m;
    const scalpel_layer *L;   /* kinds 4 and 5: any storage */
    int32_t rows, cols, n;
    const float *x;           /* x[cols] or B[cols x n] */
    float *y;                 /* y[rows] or C[rows x n] */
    long iters;
    double t[5];
} scalpel__hw_op;

SCALPEL__PRIV void scalpel__hw_run(const scalpel__hw_op *op)
{
    switch (op->kind) {
    case 0: scalpel_gemv_f32(op->w, op->rows, op->cols, op->x, op->y); break;
    case 1: scalpel_gcsr_spmv_f32(op->m, op->x, op->y); break;
    case 2: scalpel_gemm_f32(op->w, op->rows, op->cols, op->x, op->n, op->y); break;
    case 4: scalpel__layer_mv(op->L, op->x, op->y); break;
    case 5: scalpel__layer_mm(op->L, op->x, op->n, op->y); break;
    default: scalpel_gcsr_spmm_f32(op->m, op->x, op->n, op->y); break;
    }
}

/* Seconds of processor time for `iters` calls. clock() because it is the one timer C99 offers
 * everywhere; its coarse tick is why every loop is made to last at least 2 ms. */
SCALPEL__PRIV double scalpel__hw_loop(const scalpel__hw_op *op, long iters)
{
    clock_t t0 = clock();
    long i;
    for (i = 0; i < iters; i++) scalpel__hw_run(op);
    return (double)(clock() - t0) / (double)CLOCKS_PER_SEC;
}

/* Times a set of operations that are compared with each other: each gets a loop of at least
 * 2 ms, then five rounds run every operation's loop in turn, so a machine that slows down
 * mid-way slows all of them alike; each time is the median of its five rounds per call. */
SCALPEL__PRIV void scalpel__hw_measure(scalpel__hw_op *ops, int n_ops, double *median)
{
    int i, r, a, b;
    for (i = 0; i < n_ops; i++) {
        scalpel__hw_op *op = &ops[i];
        op->iters = 1;
        scalpel__hw_run(op);                  /* first touch: page faults, caches */
        for (;;) {                            /* grow the loop to 2 ms, aiming at 2.4 */
            double t = scalpel__hw_loop(op, op->iters);
            if (t >= 0.002 || op->iters >= (1L << 24)) break;
            op->iters = t < 0.0002 ? op->iters * 10 : (long)((double)op->iters * (0.0024 / t)) + 1;
        }
    }
    for (r = 0; r < 5; r++)
        for (i = 0; i < n_ops; i++)
            ops[i].t[r] = scalpel__hw_loop(&ops[i], ops[i].iters) / (double)ops[i].iters;
    for (i = 0; i < n_ops; i++) {
        double *t = ops[i].t;
        for (a = 1; a < 5; a++)               /* insertion sort of five samples */
            for (b = a; b > 0 && t[b - 1] > t[b]; b--) {
                double tmp = t[b]; t[b] = t[b - 1]; t[b - 1] = tmp;
            }
        median[i] = t[2];
    }
}

/* Where a relative-time curve (sparse / dense at increasing rates) last crosses 1.0 from above:
 * beyond that rate every measured point is faster than dense. Linear interpolation between the
 * two points around the crossing; 0 when sparse already wins at every rate, 1 when it never
 * wins at the highest rate. Taking the last crossing keeps a noisy dip at a low rate from
 * being read as a break-even. */
SCALPEL__PRIV float scalpel__hw_crossing(const double *rate, const double *rel, int n)
{
    int i, last = -1;
    double f;
    for (i = 0; i < n; i++)
        if (rel[i] >= 1.0) last = i;
    if (last < 0) return 0.0f;
    if (last == n - 1) return 1.0f;
    f = (rel[last] - 1.0) / (rel[last] - rel[last + 1]);
    f = rate[last] + f * (rate[last + 1] - rate[last]);
    if (f < 0.0) f = 0.0;
    if (f > 1.0) f = 1.0;
    return (float)f;
}

/* Measures rather than assumes: the break-even of a sparse kernel depends on cache sizes,
 * memory bandwidth and the compiled vector width, which no table can know for every machine.
 * One random matrix is pruned at each rate of the sweep (whole aligned groups of G for the
 * grouped kernel, single weights for CSR) and each sparse kernel is timed against dense
 * interleaved at that rate. Everything is computed into locals: on any failure hw is left as
 * it was. With n == 0 only the matrix-vector rates are measured and the matrix-matrix ones are
 * kept. The kernels measured are the fp32 ones (the only type of this version), whatever
 * hw->dtype says. */
SCALPEL_API scalpel_status scalpel_hw_calibrate(scalpel_hw_profile *hw, int32_t rows, int32_t cols, int32_t n)
{
    static const double rates[12] = { 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99 };
    double rel_mv_g[12], rel_mv_c[12], rel_mm_g[12], rel_mm_c[12];
    size_t nw, nb, nc, total, i;
    float *mem, *w0, *wp, *x, *y, *bm, *cm;
    uint64_t seed = 0x5CA1BE15C0FFEEull;
    scalpel_gcsr mg, mc;
    scalpel_status st;
    int k, j;
    if (hw == NULL) return SCALPEL_ERR_NULL;
    st = scalpel__hw_check(hw);
    if (st != SCALPEL_OK) return st;
    if (rows < 1 || cols < 1 || rows > 16384 || cols > 16384) return SCALPEL_ERR_SHAPE;
    if (n < 0 || n > 4096) return SCALPEL_ERR_ARGUMENT;
    /* every count below fits int32 (16384 * 16384 = 2^28, 16384 * 4096 = 2^26); the byte total
     * is what can exceed a 32-bit size_t */
    nw = (size_t)rows * (size_t)cols;
    nb = (size_t)cols * (size_t)n;
    nc = (size_t)rows * (size_t)n;
    total = 2 * nw + (size_t)cols + (size_t)rows + nb + nc;
    if (total > SIZE_MAX / sizeof(float)) return SCALPEL_ERR_OVERFLOW;
    mem = (float *)SCALPEL_MALLOC(NULL, total * sizeof(float));
    if (mem == NULL) return SCALPEL_ERR_NO_MEMORY;
    w0 = mem;
    wp = w0 + nw;
    x = wp + nw;
    y = x + cols;
    bm = y + rows;
    cm = bm + nb;
    scalpel__hw_fill_random(w0, nw, &seed);
    scalpel__hw_fill_random(x, (size_t)cols, &seed);
    scalpel__hw_fill_random(bm, nb, &seed);
    memset(&mg, 0, sizeof(mg));
    memset(&mc, 0, sizeof(mc));
    st = SCALPEL_OK;
    for (k = 0; k < 12 && st == SCALPEL_OK; k++) {
        scalpel__hw_op ops[3];
        double med[3];
        scalpel__hw_prune_copy(w0, wp, rows, cols, hw->group, rates[k], &seed);
        st = scalpel_gcsr_from_dense(wp, rows, cols, hw->group, &mg);
        if (st != SCALPEL_OK) break;
        scalpel__hw_prune_copy(w0, wp, rows, cols, 1, rates[k], &seed);
        st = scalpel_gcsr_from_dense(wp, rows, cols, 1, &mc);
        if (st != SCALPEL_OK) break;
        for (j = 0; j < 2; j++) {
            int mm = j == 1;
            if (mm && n == 0) break;
            memset(ops, 0, sizeof(ops));
            ops[0].kind = mm ? 2 : 0;
            ops[0].w = w0;
            ops[1].kind = ops[2].kind = mm ? 3 : 1;
            ops[1].m = &mg;
            ops[2].m = &mc;
            for (i = 0; i < 3; i++) {
                ops[i].rows = rows;
                ops[i].cols = cols;
                ops[i].n = n;
                ops[i].x = mm ? bm : x;
                ops[i].y = mm ? cm : y;
            }
            scalpel__hw_measure(ops, 3, med);
            if (med[0] <= 0.0) med[0] = 1e-12;   /* a clock that never ticked: avoid 0 / 0 */
            if (mm) {
                rel_mm_g[k] = med[1] / med[0];
                rel_mm_c[k] = med[2] / med[0];
            } else {
                rel_mv_g[k] = med[1] / med[0];
                rel_mv_c[k] = med[2] / med[0];
            }
        }
        scalpel_gcsr_free(&mg);
        scalpel_gcsr_free(&mc);
    }
    scalpel_gcsr_free(&mg);
    scalpel_gcsr_free(&mc);
    SCALPEL_FREE(NULL, mem);
    if (st != SCALPEL_OK) return st;
    hw->breakeven_mv_grouped = scalpel__hw_crossing(rates, rel_mv_g, 12);
    hw->breakeven_mv_csr = scalpel__hw_crossing(rates, rel_mv_c, 12);
    if (n > 0) {
        hw->breakeven_mm_grouped = scalpel__hw_crossing(rates, rel_mm_g, 12);
        hw->breakeven_mm_csr = scalpel__hw_crossing(rates, rel_mm_c, 12);
    }
    hw->note = "calibrated on this machine";
    return SCALPEL_OK;
}

#endif /* SCALPEL_NO_MALLOC */

/* ---- planner ---------------------------------------------------------------------------- */

/* What a layer's weights look like to a grouped kernel with group g. */
typedef struct scalpel__hw_stats {
    int64_t total;     /* rows * cols */
    int64_t zeros;     /* zero weights (stored zeros and weights not stored) */
    int64_t groups;    /* aligned groups of g holding a nonzero weight: what GCSR(g) stores */
    int64_t kept;      /* in-range weights of those groups: total - kept is what g skips */
} scalpel__hw_stats;

/* Counts without a dense copy (the planner must work under SCALPEL_NO_MALLOC). Dense storage is
 * scanned group by group. Grouped storage (any stored G) is walked in column order: nonzero
 * weights come in increasing column order within a row, so the aligned groups of the target g
 * that hold one are counted by noticing when the group number changes, with no memory. */
SCALPEL__PRIV void scalpel__hw_stats_of(const scalpel_layer *L, int32_t g, scalpel__hw_stats *s)
{
    int32_t rows = L->geom.rows, cols = L->geom.cols, r;
    int64_t nonzero = 0;
    memset(s, 0, sizeof(*s));
    s->total = (int64_t)rows * cols;
    if (L->storage == SCALPEL_STORAGE_DENSE) {
        for (r = 0; r < rows; r++) {
            const float *row = L->w + (size_t)r * (size_t)cols;
            int32_t c0;
            for (c0 = 0; c0 < cols; c0 += g) {
                int32_t end = cols - c0 < g ? cols : c0 + g, c, any = 0;
                for (c = c0; c < end; c++)
                    if (row[c] != 0.0f) { any = 1; nonzero++; }
                if (any) { s->groups++; s->kept += end - c0; }
                if (cols - c0 <= g) break;     /* c0 + g would pass INT32_MAX near the top */
            }
        }
    } else {
        const scalpel_gcsr *m = &L->sparse;
        const float *v = (const float *)m->values;
        int32_t G = m->group;
        for (r = 0; r < rows; r++) {
            int64_t last = -1;
            int32_t k, j;
            for (k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++) {
                int64_t c0 = (int64_t)scalpel_gcsr_col(m, k);
                for (j = 0; j < G && c0 + j < cols; j++) {
                    int64_t t;
                    if (v[(size_t)k * (size_t)G + (size_t)j] == 0.0f) continue;
                    nonzero++;
                    t = (c0 + j) / g;
                    if (t != last) {
                        int64_t width = (int64_t)cols - t * g;
                        last = t;
                        s->groups++;
                        s->kept += width < g ? width : g;
                    }
                }
            }
        }
    }
    s->zeros = s->total - nonzero;
}

/* Bytes of a layer stored as grouped CSR with g: exactly what scalpel_gcsr_bytes reports for
 * the matrix scalpel_gcsr_from_dense would build (values, 16-bit indices up to 65536 columns,
 * row pointers), plus the bias. Computed in 64 bits; 0 means it would not fit a size_t. */
SCALPEL__PRIV size_t scalpel__hw_gcsr_bytes(int32_t rows, int32_t cols, int64_t groups, int32_t g)
{
    uint64_t idx = cols <= 65536 ? 2u : 4u;
    uint64_t b = (uint64_t)groups * (uint64_t)g * 4u + (uint64_t)groups * idx +
                 ((uint64_t)rows + 1u) * 4u + (uint64_t)rows * 4u;
    if (b > (uint64_t)SIZE_MAX) return 0;
    return (size_t)b;
}

SCALPEL_API scalpel_status scalpel_plan_net(const scalpel_net *net, const scalpel_hw_profile *hw,
                                            scalpel_plan_mode mode, scalpel_plan *out)
{
    int32_t i;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (net == NULL || hw == NULL) return SCALPEL_ERR_NULL;
    if (mode != SCALPEL_PLAN_SCALPEL && mode != SCALPEL_PLAN_TRADITIONAL &&
        mode != SCALPEL_PLAN_OPTIMIZED && mode != SCALPEL_PLAN_DENSE)
        return SCALPEL_ERR_ARGUMENT;
    st = scalpel__hw_check(hw);
    if (st != SCALPEL_OK) return st;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (scalpel_net_has_decomposed(net)) return SCALPEL_ERR_UNSUPPORTED;
    out->mode = (int32_t)mode;
    out->n_layers = net->n_layers;
    out->hw = *hw;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        scalpel_layer_plan *p = &out->layers[i];
        scalpel__hw_stats s, s1;
        int32_t g;
        int64_t positions, dense_vals;
        size_t dense_bytes;
        int grouped;
        p->storage = SCALPEL_STORAGE_DENSE;
        if (!scalpel__is_weighted(L->geom.kind)) {
            p->technique = SCALPEL_TECHNIQUE_NONE;
            p->reason = "no weights: nothing to prune or pack";
            continue;
        }
        positions = L->geom.kind == SCALPEL_LAYER_CONV2D ? (int64_t)L->geom.out_h * L->geom.out_w : 1;
        p->kernel_mm = (L->geom.kind == SCALPEL_LAYER_CONV2D || hw->batch > 1) ? 1 : 0;
        /* the rate that matters is the one of the kernel the mode would use: the profile's G
         * for Scalpel, single weights (CSR) for the baselines and dense mode */
        g = mode == SCALPEL_PLAN_SCALPEL ? hw->group : 1;
        scalpel__hw_stats_of(L, g, &s);
        if (g == 1) s1 = s; else scalpel__hw_stats_of(L, 1, &s1);
        p->zero_rate = s.total > 0 ? (float)((double)s1.zeros / (double)s.total) : 0.0f;
        p->rate = s.total > 0 ? (float)((double)(s.total - s.kept) / (double)s.total) : 0.0f;
        dense_vals = s.total;
        if ((uint64_t)dense_vals * 4u + (uint64_t)L->geom.rows * 4u > (uint64_t)SIZE_MAX) return SCALPEL_ERR_OVERFLOW;
        dense_bytes = (size_t)dense_vals * sizeof(float) + (size_t)L->geom.rows * sizeof(float);
        p->bytes_now = L->storage == SCALPEL_STORAGE_GCSR
                     ? scalpel_gcsr_bytes(&L->sparse) + (size_t)L->geom.rows * sizeof(float) : dense_bytes;
        p->macs_dense = dense_vals * positions;
        grouped = 0;
        switch (mode) {
        case SCALPEL_PLAN_SCALPEL: {
            /* a G of 1 makes the "grouped" kernel plain CSR: its break-even is the CSR one */
            float be_g = p->kernel_mm ? (g == 1 ? hw->breakeven_mm_csr : hw->breakeven_mm_grouped)
                                      : (g == 1 ? hw->breakeven_mv_csr : hw->breakeven_mv_grouped);
            p->break_even = be_g;
            if (hw->hw_class == SCALPEL_HW_HIGH) {
                p->technique = SCALPEL_TECHNIQUE_NODES;
                p->reason = "high-parallelism target: node pruning, dense kernels";
            } else if (hw->hw_class == SCALPEL_HW_MODERATE && L->geom.kind == SCALPEL_LAYER_CONV2D) {
                p->technique = SCALPEL_TECHNIQUE_NODES;
                p->reason = "moderate-parallelism target: convolutions take node pruning and stay dense";
            } else {
                p->technique = SCALPEL_TECHNIQUE_WEIGHT_GROUPS;
                grouped = p->rate > be_g;
                p->reason = grouped ? "grouped rate above the kernel's break-even: grouped CSR is faster"
                                    : "grouped rate not above the kernel's break-even: dense is faster";
            }
            break;
        }
        case SCALPEL_PLAN_TRADITIONAL:
            p->technique = SCALPEL_TECHNIQUE_WEIGHTS;
            p->break_even = 0.0f;
            grouped = s1.zeros > 0;
            p->reason = grouped ? "traditional baseline: CSR for a layer with zero weights"
                                : "traditional baseline: no zero weight, dense";
            break;
        case SCALPEL_PLAN_OPTIMIZED:
            p->technique = SCALPEL_TECHNIQUE_WEIGHTS;
            p->break_even = 0.5f;
            /* integers, so that exactly half pruned is CSR ("more than 50% remain" is dense) */
            grouped = s1.zeros > 0 && 2 * s1.zeros >= s.total;
            p->reason = grouped ? "optimized baseline: at least half the weights pruned, CSR"
                                : "optimized baseline: more than half the weights remain, dense";
            break;
        default: /* SCALPEL_PLAN_DENSE */
            p->technique = SCALPEL_TECHNIQUE_NONE;
            p->break_even = 1.0f;
            p->reason = "dense mode: every layer dense";
            break;
        }
        if (grouped && s.groups * (int64_t)g > (int64_t)INT32_MAX) {
            grouped = 0;          /* more stored values than grouped CSR can index */
            p->reason = "too many stored values for grouped CSR: dense";
        }
        if (grouped) {
            p->storage = SCALPEL_STORAGE_GCSR;
            p->group = g;
            p->bytes_planned = scalpel__hw_gcsr_bytes(L->geom.rows, L->geom.cols, s.groups, g);
            if (p->bytes_planned == 0) return SCALPEL_ERR_OVERFLOW;
            p->macs_planned = s.groups * g * positions;
        } else {
            p->bytes_planned = dense_bytes;
            p->macs_planned = p->macs_dense;
        }
    }
    return SCALPEL_OK;
}

#ifndef SCALPEL_NO_MALLOC

/* A plan may come from anywhere (edited by hand, kept from another network): every field pack
 * or a reader of the plan relies on is checked against the network before anything changes. */
SCALPEL__PRIV scalpel_status scalpel__hw_plan_check(const scalpel_net *net, const scalpel_plan *plan)
{
    int32_t i;
    scalpel_status st;
    if (plan->mode < SCALPEL_PLAN_SCALPEL || plan->mode > SCALPEL_PLAN_DENSE) return SCALPEL_ERR_ARGUMENT;
    if (plan->n_layers != net->n_layers) return SCALPEL_ERR_SHAPE;
    st = scalpel__hw_check(&plan->hw);
    if (st != SCALPEL_OK) return st;
    for (i = 0; i < plan->n_layers; i++) {
        const scalpel_layer_plan *p = &plan->layers[i];
        if (p->technique < SCALPEL_TECHNIQUE_NONE || p->technique > SCALPEL_TECHNIQUE_NODES)
            return SCALPEL_ERR_ARGUMENT;
        if (p->kernel_mm != 0 && p->kernel_mm != 1) return SCALPEL_ERR_ARGUMENT;
        if (!scalpel__hw_fraction_ok(p->zero_rate) || !scalpel__hw_fraction_ok(p->rate) ||
            !scalpel__hw_fraction_ok(p->break_even))
            return SCALPEL_ERR_ARGUMENT;
        if (p->macs_dense < 0 || p->macs_planned < 0) return SCALPEL_ERR_ARGUMENT;
        if (p->storage == SCALPEL_STORAGE_DENSE) {
            if (p->group != 0) return SCALPEL_ERR_GROUP;
        } else if (p->storage == SCALPEL_STORAGE_GCSR) {
            if (!scalpel__is_weighted(net->layers[i].geom.kind)) return SCALPEL_ERR_ARGUMENT;
            if (!scalpel__net_group_ok(p->group)) return SCALPEL_ERR_GROUP;
        } else {
            return SCALPEL_ERR_ARGUMENT;
        }
    }
    return SCALPEL_OK;
}

/* Each layer is converted through its dense weights, so every conversion is exact: grouped CSR
 * with any G stores every nonzero weight and the same bias. Layers are converted one at a time;
 * if one fails (out of memory), the layers already converted and the ones not yet converted
 * all still compute the same function as before, so the network stays usable (only partly
 * packed) and the error is returned. The temporary dense copy is the largest layer's. */
SCALPEL_API scalpel_status scalpel_net_pack(scalpel_net *net, const scalpel_plan *plan)
{
    int32_t i;
    size_t most = 0;
    float *tmp;
    scalpel_status st;
    if (net == NULL || plan == NULL) return SCALPEL_ERR_NULL;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    st = scalpel__hw_plan_check(net, plan);
    if (st != SCALPEL_OK) return st;
    if (plan->hw.batch > SCALPEL_NET_MAX_PACKED_BATCH) return SCALPEL_ERR_ARGUMENT;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        const scalpel_layer_plan *p = &plan->layers[i];
        int32_t now_g = L->storage == SCALPEL_STORAGE_GCSR ? L->sparse.group : 0;
        /* validated: rows * cols fits int32, so this sum cannot overflow a size_t */
        size_t need = (size_t)L->geom.rows * (size_t)L->geom.cols + (size_t)L->geom.rows;
        if (!scalpel__is_weighted(L->geom.kind)) continue;
        if (p->storage == L->storage && p->group == now_g) continue;
        if (need > most) most = need;
    }
    if (most > SIZE_MAX / sizeof(float)) return SCALPEL_ERR_OVERFLOW;
    /* the batch the storage was chosen for (none when the plan keeps everything dense) */
    net->packed_batch = plan->mode == SCALPEL_PLAN_DENSE ? 0 : plan->hw.batch;
    if (most == 0) return SCALPEL_OK;              /* already as planned */
    tmp = (float *)SCALPEL_MALLOC(net->alloc_ctx, most * sizeof(float));
    if (tmp == NULL) return SCALPEL_ERR_NO_MEMORY;
    for (i = 0; i < net->n_layers && st == SCALPEL_OK; i++) {
        scalpel_layer *L = &net->layers[i];
        const scalpel_layer_plan *p = &plan->layers[i];
        int32_t now_g = L->storage == SCALPEL_STORAGE_GCSR ? L->sparse.group : 0;
        size_t nw = (size_t)L->geom.rows * (size_t)L->geom.cols;
        float *bias = tmp + nw;
        if (!scalpel__is_weighted(L->geom.kind)) continue;
        if (p->storage == L->storage && p->group == now_g) continue;
        scalpel__layer_dense_weights(L, tmp);
        /* the bias is copied out too: the layer's old block, which holds it, is released */
        memcpy(bias, L->b, (size_t)L->geom.rows * sizeof(float));
        if (p->storage == SCALPEL_STORAGE_DENSE) {
            st = scalpel__layer_set_dense(net, L, tmp, bias);
        } else {
            scalpel_gcsr m;
            st = scalpel_gcsr_from_dense_ctx(tmp, L->geom.rows, L->geom.cols, p->group, net->alloc_ctx, &m);
            if (st == SCALPEL_OK) {
                st = scalpel__layer_set_gcsr(net, L, &m, bias);
                scalpel_gcsr_free(&m);
            }
        }
    }
    SCALPEL_FREE(net->alloc_ctx, tmp);
    return st;
}

#endif /* SCALPEL_NO_MALLOC */


/* ======================================================================================== */
/* >>decomposition (implementation)                                                         */
/* ======================================================================================== */

SCALPEL__PRIV int scalpel__nm_shape_ok(int32_t n, int32_t m)
{
    return (m == 2 || m == 4 || m == 8 || m == 16) && n >= 1 && n <= m;
}

SCALPEL_API scalpel_status scalpel_tasd_parse(const char *text, scalpel_tasd_spec *out)
{
    const char *p = text;
    int32_t t = 0;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (text == NULL) return SCALPEL_ERR_NULL;
    for (;;) {
        int32_t v[2] = { 0, 0 }, k;
        for (k = 0; k < 2; k++) {
            int digits = 0;
            while (*p >= '0' && *p <= '9' && digits < 3) { v[k] = v[k] * 10 + (*p - '0'); p++; digits++; }
            if (digits == 0 || (*p >= '0' && *p <= '9')) break;
            if (k == 0) { if (*p != ':') break; p++; }
        }
        if (k < 2 || t >= SCALPEL_TASD_MAX_TERMS || !scalpel__nm_shape_ok(v[0], v[1])) {
            memset(out, 0, sizeof(*out));
            return SCALPEL_ERR_ARGUMENT;
        }
        out->n[t] = v[0];
        out->m[t] = v[1];
        t++;
        if (*p == '\0') break;
        if (*p != '+') { memset(out, 0, sizeof(*out)); return SCALPEL_ERR_ARGUMENT; }
        p++;
    }
    out->n_terms = t;
    return SCALPEL_OK;
}

SCALPEL_API void scalpel_tasd_spec_string(const scalpel_tasd_spec *spec, char *buf, size_t size)
{
    size_t used = 0;
    int32_t i;
    if (buf == NULL || size == 0) return;
    buf[0] = '\0';
    if (spec == NULL || spec->n_terms < 0 || spec->n_terms > SCALPEL_TASD_MAX_TERMS) return;
    for (i = 0; i < spec->n_terms; i++) {   /* no stdio: firmware builds have none */
        char t[24];
        int32_t v[2], k, len = 0;
        v[0] = spec->n[i];
        v[1] = spec->m[i];
        if (i > 0) t[len++] = '+';
        for (k = 0; k < 2; k++) {
            char d[12];
            int32_t nd = 0, x = v[k] < 0 ? 0 : v[k];
            do { d[nd++] = (char)('0' + x % 10); x /= 10; } while (x > 0 && nd < 10);
            while (nd > 0) t[len++] = d[--nd];
            if (k == 0) t[len++] = ':';
        }
        for (k = 0; k < len && used + 1 < size; k++) buf[used++] = t[k];
        buf[used] = '\0';
    }
}

#ifndef SCALPEL_NO_MALLOC
SCALPEL__PRIV scalpel_status scalpel__dense_args(const float *w, int32_t rows, int32_t cols)
{
    if (rows < 0 || cols < 0) return SCALPEL_ERR_SHAPE;
    if ((uint64_t)rows * (uint64_t)cols > (uint64_t)(SIZE_MAX / sizeof(float)) / 2) return SCALPEL_ERR_OVERFLOW;
    if (w == NULL && (int64_t)rows * cols > 0) return SCALPEL_ERR_NULL;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_tasd_decompose(const float *w, int32_t rows, int32_t cols,
                                                  const scalpel_tasd_spec *spec, scalpel_tasd *out,
                                                  float *residual)
{
    size_t n = (size_t)0;
    float *R;
    int32_t i, r, k;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (spec == NULL) return SCALPEL_ERR_NULL;
    if (spec->n_terms < 1 || spec->n_terms > SCALPEL_TASD_MAX_TERMS) return SCALPEL_ERR_ARGUMENT;
    for (i = 0; i < spec->n_terms; i++)
        if (!scalpel__nm_shape_ok(spec->n[i], spec->m[i])) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__dense_args(w, rows, cols);
    if (st != SCALPEL_OK) return st;
    if (w != NULL && !scalpel__net_all_finite(w, (size_t)rows * (size_t)cols)) return SCALPEL_ERR_ARGUMENT;
    n = (size_t)rows * (size_t)cols;
    R = residual;
    if (R == NULL) {
        R = (float *)SCALPEL_MALLOC(NULL, n ? n * sizeof(float) : 1);
        if (R == NULL) return SCALPEL_ERR_NO_MEMORY;
    }
    if (n) memcpy(R, w, n * sizeof(float));
    for (i = 0; i < spec->n_terms; i++) {
        scalpel_nm *T = &out->terms[i];
        int32_t slots;
        st = scalpel_nm_from_dense(R, rows, cols, spec->n[i], spec->m[i], T);
        if (st != SCALPEL_OK) break;
        slots = T->groups * T->n;
        for (r = 0; r < rows; r++)        /* R -= T: each kept value was R's, so R becomes 0 there */
            for (k = 0; k < slots; k++) {
                int32_t c = (k / T->n) * T->m + scalpel_nm_position(T, r, k);
                if (c < cols) R[(size_t)r * (size_t)cols + (size_t)c] -= T->values[(size_t)r * (size_t)slots + (size_t)k];
            }
    }
    if (R != residual) SCALPEL_FREE(NULL, R);
    if (st != SCALPEL_OK) { scalpel_tasd_free(out); return st; }
    out->rows = rows;
    out->cols = cols;
    out->n_terms = spec->n_terms;
    return SCALPEL_OK;
}

/* d = w - sum T_i, in a new array (NULL when out of memory; *st says why). */
SCALPEL__PRIV float *scalpel__tasd_difference(const float *w, const scalpel_tasd *s, scalpel_status *st)
{
    size_t n, i;
    float *d;
    *st = scalpel_tasd_validate(s);
    if (*st != SCALPEL_OK) return NULL;
    *st = scalpel__dense_args(w, s->rows, s->cols);
    if (*st != SCALPEL_OK) return NULL;
    n = (size_t)s->rows * (size_t)s->cols;
    d = (float *)SCALPEL_MALLOC(NULL, n ? n * sizeof(float) : 1);
    if (d == NULL) { *st = SCALPEL_ERR_NO_MEMORY; return NULL; }
    *st = scalpel_tasd_to_dense(s, d);
    for (i = 0; i < n; i++) d[i] = w[i] - d[i];
    return d;
}

SCALPEL_API scalpel_status scalpel_tasd_error_tensor(const float *w, const scalpel_tasd *s, double *rel)
{
    double num = 0.0, den = 0.0;
    size_t i, n;
    scalpel_status st;
    float *d;
    if (rel == NULL) return SCALPEL_ERR_NULL;
    *rel = 0.0;
    d = scalpel__tasd_difference(w, s, &st);
    if (d == NULL) return st;
    n = (size_t)s->rows * (size_t)s->cols;
    for (i = 0; i < n; i++) {
        num += (double)d[i] * (double)d[i];
        den += (double)w[i] * (double)w[i];
    }
    SCALPEL_FREE(NULL, d);
    *rel = den > 0.0 ? scalpel__sqrt(num / den) : 0.0;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_tasd_error_output(const float *w, const scalpel_tasd *s,
                                                     const float *x, int32_t count, double *rel)
{
    double num = 0.0, den = 0.0;
    int32_t j, r;
    scalpel_status st;
    float *d, *y, *e;
    if (rel == NULL) return SCALPEL_ERR_NULL;
    *rel = 0.0;
    if (count < 0) return SCALPEL_ERR_ARGUMENT;
    if (s != NULL && x == NULL && count > 0 && s->cols > 0) return SCALPEL_ERR_NULL;
    d = scalpel__tasd_difference(w, s, &st);
    if (d == NULL) return st;
    y = (float *)SCALPEL_MALLOC(NULL, 2 * ((size_t)s->rows + 1) * sizeof(float));
    if (y == NULL) { SCALPEL_FREE(NULL, d); return SCALPEL_ERR_NO_MEMORY; }
    e = y + s->rows + 1;
    for (j = 0; j < count; j++) {
        const float *xj = x + (size_t)j * (size_t)s->cols;
        scalpel_gemv_f32(w, s->rows, s->cols, xj, y);
        scalpel_gemv_f32(d, s->rows, s->cols, xj, e);
        for (r = 0; r < s->rows; r++) {
            num += (double)e[r] * (double)e[r];
            den += (double)y[r] * (double)y[r];
        }
    }
    SCALPEL_FREE(NULL, d);
    SCALPEL_FREE(NULL, y);
    *rel = den > 0.0 ? scalpel__sqrt(num / den) : 0.0;
    return SCALPEL_OK;
}

/* Fixed-seed uniform [-1, 1) floats, never exactly zero: timing operands. */
SCALPEL__PRIV void scalpel__dc_fill(float *v, size_t n, uint32_t seed)
{
    size_t i;
    for (i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = ((float)(seed >> 9) + 0.5f) / 4194304.0f - 1.0f;
    }
}

SCALPEL_API scalpel_status scalpel_hybrid_costs_measure(int32_t rows, int32_t cols, int32_t group,
                                                        int32_t n, scalpel_hybrid_costs *out)
{
    float *w, *x, *y;
    size_t nw, i, nx, ny;
    scalpel_gcsr g, c, one;
    scalpel__hw_op ops[3];
    double med[3];
    uint32_t seed = 12345u;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    if (rows < 1 || cols < 1 || n < 0 || rows > 1 << 16 || cols > 1 << 16 || n > 4096) return SCALPEL_ERR_SHAPE;
    if (group < 2 || group > SCALPEL_GCSR_MAX_GROUP || (group & (group - 1)) != 0) return SCALPEL_ERR_GROUP;
    nw = (size_t)rows * (size_t)cols;
    nx = (size_t)cols * (size_t)(n ? n : 1);
    ny = (size_t)rows * (size_t)(n ? n : 1);
    w = (float *)SCALPEL_MALLOC(NULL, (nw + nx + ny) * sizeof(float));
    if (w == NULL) return SCALPEL_ERR_NO_MEMORY;
    x = w + nw;
    y = x + nx;
    scalpel__dc_fill(w, nw + nx, 7u);
    for (i = 0; i < nw; i++) {      /* 80% unstructured zeros: both kernels see typical rows */
        seed = seed * 1664525u + 1013904223u;
        if ((seed >> 8) % 10u < 8u) w[i] = 0.0f;
    }
    memset(&g, 0, sizeof(g));
    memset(&c, 0, sizeof(c));
    memset(&one, 0, sizeof(one));
    st = scalpel_gcsr_from_dense(w, rows, cols, group, &g);
    if (st == SCALPEL_OK) st = scalpel_gcsr_from_dense(w, rows, cols, 1, &c);
    if (st == SCALPEL_OK) {   /* then one group per row, in the first columns */
        memset(w, 0, nw * sizeof(float));
        for (i = 0; i < (size_t)rows; i++) w[i * (size_t)cols] = 1.0f;
        st = scalpel_gcsr_from_dense(w, rows, cols, group, &one);
    }
    if (st == SCALPEL_OK) {
        int k;
        memset(ops, 0, sizeof(ops));
        for (k = 0; k < 3; k++) {
            ops[k].kind = n ? 3 : 1;
            ops[k].rows = rows;
            ops[k].cols = cols;
            ops[k].n = n;
            ops[k].x = x;
            ops[k].y = y;
        }
        ops[0].m = &g;
        ops[1].m = &c;
        ops[2].m = &one;
        scalpel__hw_measure(ops, 3, med);
        out->group = (float)(med[0] / (double)(g.nnz_groups > 0 ? g.nnz_groups : 1));
        out->nonzero = (float)(med[1] / (double)(c.nnz_groups > 0 ? c.nnz_groups : 1));
        out->row = (float)(med[2] / (double)rows) - out->group;
        if (!(out->group > 0.0f)) out->group = 1e-12f;       /* a clock that never ticked */
        if (!(out->nonzero > 0.0f)) out->nonzero = 1e-12f;
        if (!(out->row > 0.0f)) out->row = 0.0f;
    }
    scalpel_gcsr_free(&g);
    scalpel_gcsr_free(&c);
    scalpel_gcsr_free(&one);
    SCALPEL_FREE(NULL, w);
    return st;
}

/* A new block for layer's bias alone (the weights live in the structures that come with it). */
SCALPEL__PRIV scalpel_status scalpel__layer_bias_block(scalpel_net *net, const scalpel_layer *layer,
                                                       void **block, float **bias)
{
    *block = SCALPEL_MALLOC(net->alloc_ctx, SCALPEL__NET_ALIGN + ((size_t)layer->geom.rows + 1) * sizeof(float));
    if (*block == NULL) return SCALPEL_ERR_NO_MEMORY;
    *bias = (float *)scalpel__net_align_ptr(*block);
    if (layer->geom.rows > 0) memcpy(*bias, layer->b, (size_t)layer->geom.rows * sizeof(float));
    return SCALPEL_OK;
}

SCALPEL__PRIV scalpel_status scalpel__net_layer_check(const scalpel_net *net, int32_t layer)
{
    scalpel_status st;
    if (net == NULL) return SCALPEL_ERR_NULL;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (layer < 0 || layer >= net->n_layers || !scalpel__is_weighted(net->layers[layer].geom.kind))
        return SCALPEL_ERR_ARGUMENT;
    /* a grouped convolution runs each group's rows apart: only dense and grouped CSR split so */
    if (net->layers[layer].geom.groups > 1) return SCALPEL_ERR_UNSUPPORTED;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_net_set_hybrid(scalpel_net *net, int32_t layer, scalpel_hybrid *h)
{
    scalpel_layer *L;
    void *block;
    float *bias;
    scalpel_status st = scalpel__net_layer_check(net, layer);
    if (st != SCALPEL_OK) return st;
    if (h == NULL) return SCALPEL_ERR_NULL;
    st = scalpel_hybrid_validate(h);
    if (st != SCALPEL_OK) return st;
    L = &net->layers[layer];
    if (h->grouped.rows != L->geom.rows || h->grouped.cols != L->geom.cols) return SCALPEL_ERR_SHAPE;
    if (h->grouped.dtype != SCALPEL_DTYPE_F32 || h->residual.dtype != SCALPEL_DTYPE_F32) return SCALPEL_ERR_DTYPE;
    if (!scalpel__net_all_finite((const float *)h->grouped.values, (size_t)h->grouped.nnz_groups * (size_t)h->grouped.group) ||
        !scalpel__net_all_finite((const float *)h->residual.values, (size_t)h->residual.nnz_groups))
        return SCALPEL_ERR_ARGUMENT;
    st = scalpel__layer_bias_block(net, L, &block, &bias);
    if (st != SCALPEL_OK) return st;
    scalpel__layer_release(net, L);
    L->block = block;
    L->b = bias;
    L->storage = SCALPEL_STORAGE_HYBRID;
    L->sparse = h->grouped;
    L->residual = h->residual;
    memset(h, 0, sizeof(*h));
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_net_set_tasd(scalpel_net *net, int32_t layer, scalpel_tasd *s)
{
    scalpel_layer *L;
    scalpel_tasd *own;
    void *block;
    float *bias;
    int32_t i;
    scalpel_status st = scalpel__net_layer_check(net, layer);
    if (st != SCALPEL_OK) return st;
    if (s == NULL) return SCALPEL_ERR_NULL;
    st = scalpel_tasd_validate(s);
    if (st != SCALPEL_OK) return st;
    L = &net->layers[layer];
    if (s->rows != L->geom.rows || s->cols != L->geom.cols) return SCALPEL_ERR_SHAPE;
    for (i = 0; i < s->n_terms; i++)
        if (!scalpel__net_all_finite(s->terms[i].values, (size_t)s->rows * (size_t)s->terms[i].groups * (size_t)s->terms[i].n))
            return SCALPEL_ERR_ARGUMENT;
    own = (scalpel_tasd *)SCALPEL_MALLOC(net->alloc_ctx, sizeof(*own));
    if (own == NULL) return SCALPEL_ERR_NO_MEMORY;
    st = scalpel__layer_bias_block(net, L, &block, &bias);
    if (st != SCALPEL_OK) { SCALPEL_FREE(net->alloc_ctx, own); return st; }
    *own = *s;
    scalpel__layer_release(net, L);
    L->block = block;
    L->b = bias;
    L->storage = SCALPEL_STORAGE_TASD;
    L->series = own;
    memset(s, 0, sizeof(*s));
    return SCALPEL_OK;
}

/* ---- the no-retrain planner ------------------------------------------------------------- */

/* One candidate built for a layer: a standalone scalpel_layer (shape of src, bias of src)
 * whose weights live in the structures here. */
typedef struct scalpel__nr_built {
    scalpel_layer L;
    scalpel_gcsr g;
    scalpel_hybrid h;
    scalpel_tasd t;
} scalpel__nr_built;

SCALPEL__PRIV void scalpel__nr_built_free(scalpel__nr_built *b)
{
    scalpel_gcsr_free(&b->g);
    scalpel_hybrid_free(&b->h);
    scalpel_tasd_free(&b->t);
    memset(b, 0, sizeof(*b));
}

/* wd: the layer's weights, dense. costs: for HYBRID. */
SCALPEL__PRIV scalpel_status scalpel__nr_build(const scalpel_layer *src, const float *wd,
                                               const scalpel_nr_candidate *c,
                                               const scalpel_hybrid_costs *costs, scalpel__nr_built *b)
{
    scalpel_status st = SCALPEL_OK;
    memset(b, 0, sizeof(*b));
    b->L = *src;
    b->L.block = NULL;
    b->L.w = NULL;
    b->L.series = NULL;
    memset(&b->L.sparse, 0, sizeof(b->L.sparse));
    memset(&b->L.residual, 0, sizeof(b->L.residual));
    switch (c->form) {
    case SCALPEL_NR_DENSE:
        b->L.storage = SCALPEL_STORAGE_DENSE;
        b->L.w = wd;
        break;
    case SCALPEL_NR_GROUPED:
        st = scalpel_gcsr_from_dense(wd, src->geom.rows, src->geom.cols, c->group, &b->g);
        b->L.storage = SCALPEL_STORAGE_GCSR;
        b->L.sparse = b->g;
        break;
    case SCALPEL_NR_HYBRID:
        st = scalpel_hybrid_from_dense(wd, src->geom.rows, src->geom.cols, c->group, costs, &b->h);
        b->L.storage = SCALPEL_STORAGE_HYBRID;
        b->L.sparse = b->h.grouped;
        b->L.residual = b->h.residual;
        break;
    case SCALPEL_NR_TASD:
        st = scalpel_tasd_decompose(wd, src->geom.rows, src->geom.cols, &c->spec, &b->t, NULL);
        b->L.storage = SCALPEL_STORAGE_TASD;
        b->L.series = &b->t;
        break;
    default:
        st = SCALPEL_ERR_ARGUMENT;
    }
    if (st != SCALPEL_OK) scalpel__nr_built_free(b);
    return st;
}

SCALPEL__PRIV size_t scalpel__nr_bytes(const scalpel__nr_built *b)
{
    switch (b->L.storage) {
    case SCALPEL_STORAGE_GCSR: return scalpel_gcsr_bytes(&b->g);
    case SCALPEL_STORAGE_HYBRID: return scalpel_hybrid_bytes(&b->h);
    case SCALPEL_STORAGE_TASD: return scalpel_tasd_bytes(&b->t);
    default: return (size_t)b->L.geom.rows * (size_t)b->L.geom.cols * sizeof(float);
    }
}

/* Installs candidate c into layer i of net (the network owns the result). */
SCALPEL__PRIV scalpel_status scalpel__nr_install(scalpel_net *net, int32_t i, const scalpel_nr_candidate *c,
                                                 const scalpel_hybrid_costs *costs)
{
    scalpel_layer *L = &net->layers[i];
    size_t n = (size_t)L->geom.rows * (size_t)L->geom.cols;
    float *wd = (float *)SCALPEL_MALLOC(NULL, n ? n * sizeof(float) : 1);
    scalpel_status st = SCALPEL_OK;
    if (wd == NULL) return SCALPEL_ERR_NO_MEMORY;
    scalpel__layer_dense_weights(L, wd);
    switch (c->form) {
    case SCALPEL_NR_DENSE:
        if (L->storage != SCALPEL_STORAGE_DENSE) st = scalpel__layer_set_dense(net, L, wd, L->b);
        break;
    case SCALPEL_NR_GROUPED: {
        scalpel_gcsr g;
        st = scalpel_gcsr_from_dense(wd, L->geom.rows, L->geom.cols, c->group, &g);
        if (st == SCALPEL_OK) st = scalpel__layer_set_gcsr(net, L, &g, L->b);
        scalpel_gcsr_free(&g);
        break;
    }
    case SCALPEL_NR_HYBRID: {
        scalpel_hybrid h;
        st = scalpel_hybrid_from_dense(wd, L->geom.rows, L->geom.cols, c->group, costs, &h);
        if (st == SCALPEL_OK) st = scalpel_net_set_hybrid(net, i, &h);
        scalpel_hybrid_free(&h);
        break;
    }
    case SCALPEL_NR_TASD: {
        scalpel_tasd t;
        st = scalpel_tasd_decompose(wd, L->geom.rows, L->geom.cols, &c->spec, &t, NULL);
        if (st == SCALPEL_OK) st = scalpel_net_set_tasd(net, i, &t);
        scalpel_tasd_free(&t);
        break;
    }
    default: st = SCALPEL_ERR_ARGUMENT;
    }
    SCALPEL_FREE(NULL, wd);
    return st;
}

/* Accuracy of net on x[count] / labels, in batches. */
SCALPEL__PRIV scalpel_status scalpel__nr_accuracy(const scalpel_net *net, const float *x, const int32_t *labels,
                                                  int32_t count, float *acc)
{
    const int32_t B = 64;
    int32_t in = scalpel_net_input_size(net), outn = scalpel_net_output_size(net), s, j, right = 0;
    size_t ws = scalpel_net_workspace_size(net, B);
    void *work = SCALPEL_MALLOC(NULL, ws + (size_t)B * (size_t)outn * sizeof(float));
    float *out;
    if (work == NULL) return SCALPEL_ERR_NO_MEMORY;
    out = (float *)(void *)((unsigned char *)work + ws);
    for (s = 0; s < count; s += B) {
        int32_t nb = count - s < B ? count - s : B;
        scalpel_status st = scalpel_net_forward(net, x + (size_t)s * (size_t)in, nb, out, work);
        if (st != SCALPEL_OK) { SCALPEL_FREE(NULL, work); return st; }
        for (j = 0; j < nb; j++) right += scalpel_argmax_f32(out + (size_t)j * (size_t)outn, outn) == labels[s + j];
    }
    SCALPEL_FREE(NULL, work);
    *acc = count > 0 ? (float)right / (float)count : 0.0f;
    return SCALPEL_OK;
}

/* The inputs of layer i for samples [0, k): x itself for the first layer, else the outputs of a
 * copy of net cut before layer i. */
SCALPEL__PRIV scalpel_status scalpel__nr_layer_inputs(const scalpel_net *net, int32_t i, const float *x,
                                                      int32_t k, float *acts)
{
    scalpel_net cut = *net;
    const int32_t B = 32;
    int32_t in = scalpel_net_input_size(net), s, per;
    size_t ws;
    void *work;
    if (i == 0) { memcpy(acts, x, (size_t)k * (size_t)in * sizeof(float)); return SCALPEL_OK; }
    cut.n_layers = i;
    per = scalpel_net_output_size(&cut);
    ws = scalpel_net_workspace_size(&cut, B);
    work = SCALPEL_MALLOC(NULL, ws ? ws : 1);
    if (work == NULL) return SCALPEL_ERR_NO_MEMORY;
    for (s = 0; s < k; s += B) {
        int32_t nb = k - s < B ? k - s : B;
        scalpel_status st = scalpel_net_forward(&cut, x + (size_t)s * (size_t)in, nb, acts + (size_t)s * (size_t)per, work);
        if (st != SCALPEL_OK) { SCALPEL_FREE(NULL, work); return st; }
    }
    SCALPEL_FREE(NULL, work);
    return SCALPEL_OK;
}

/* The candidate menu for one layer (see scalpel_plan_no_retrain). */
SCALPEL__PRIV int32_t scalpel__nr_menu(int32_t group, int no_tasd, scalpel_nr_candidate *c)
{
    static const char *const series[] = {
        "1:4", "2:4", "2:4+1:4",
        "1:8", "2:8", "2:8+1:8", "4:8", "4:8+1:8", "4:8+2:8", "4:8+2:8+1:8",
        "1:16", "2:16", "4:16", "8:16", "8:16+4:16"
    };
    int32_t k = 0, i;
    memset(c, 0, sizeof(*c) * SCALPEL_NR_MAX_CANDIDATES);
    c[k++].form = SCALPEL_NR_DENSE;
    c[k].form = SCALPEL_NR_GROUPED; c[k++].group = 1;
    c[k].form = SCALPEL_NR_GROUPED; c[k++].group = group;
    c[k].form = SCALPEL_NR_HYBRID; c[k++].group = group;
    if (!no_tasd)
        for (i = 0; i < (int32_t)(sizeof(series) / sizeof(series[0])) && k < SCALPEL_NR_MAX_CANDIDATES; i++) {
            c[k].form = SCALPEL_NR_TASD;
            if (scalpel_tasd_parse(series[i], &c[k].spec) == SCALPEL_OK) k++;
        }
    return k;
}

/* Candidates of one weighted layer: time and output error of each. */
SCALPEL__PRIV scalpel_status scalpel__nr_layer(const scalpel_net *net, int32_t i, const float *acts, int32_t k,
                                               int32_t group, int no_tasd, scalpel_nr_layer *out)
{
    const scalpel_layer *L = &net->layers[i];
    int conv = L->geom.kind == SCALPEL_LAYER_CONV2D;
    int32_t positions = conv ? L->geom.out_h * L->geom.out_w : 1, c, s;
    size_t nw = (size_t)L->geom.rows * (size_t)L->geom.cols, in = (size_t)L->geom.in_c * (size_t)L->geom.in_h * (size_t)L->geom.in_w;
    size_t nx = (size_t)L->geom.cols * (size_t)positions, ny = (size_t)L->geom.rows * (size_t)positions;
    float *wd, *X, *Y, *E, *Bt;
    void *block;
    scalpel_hybrid_costs costs;
    scalpel_status st;
    /* the dense candidate is timed on weights aligned as a network's are (64 bytes): vector
     * loads that straddle cache lines would make dense look slower than it runs */
    block = SCALPEL_MALLOC(NULL, SCALPEL__NET_ALIGN + (2 * nw + 2 * nx + 2 * ny + 1) * sizeof(float));
    if (block == NULL) return SCALPEL_ERR_NO_MEMORY;
    wd = (float *)scalpel__net_align_ptr(block);
    X = wd + nw;          /* the layer's input matrix for one sample (im2col for conv) */
    Bt = X + nx;          /* timing operand */
    Y = Bt + nx;
    E = Y + ny;
    scalpel__layer_dense_weights(L, wd);
    scalpel__dc_fill(Bt, nx, 99u);
    st = scalpel_hybrid_costs_measure(L->geom.rows, L->geom.cols, group, conv ? positions : 0, &costs);
    if (st != SCALPEL_OK) { SCALPEL_FREE(NULL, block); return st; }
    out->n_candidates = scalpel__nr_menu(group, no_tasd, out->cand);
    out->chosen = 0;
    for (c = 0; c < out->n_candidates; c++) {
        scalpel_nr_candidate *cd = &out->cand[c];
        scalpel__nr_built b;
        scalpel__hw_op op;
        double num = 0.0, den = 0.0, med = 0.0;
        float *D = E + ny;   /* room for the difference W - candidate: reuses the tail (nw floats) */
        st = scalpel__nr_build(L, wd, cd, &costs, &b);
        if (st != SCALPEL_OK) break;
        memset(&op, 0, sizeof(op));
        op.kind = conv ? 5 : 4;
        op.L = &b.L;
        op.rows = L->geom.rows;
        op.cols = L->geom.cols;
        op.n = positions;
        op.x = Bt;
        op.y = Y;
        scalpel__hw_measure(&op, 1, &med);
        cd->seconds = med;
        cd->bytes = scalpel__nr_bytes(&b);
        /* output error: ||(W - C) X|| / ||W X|| over the calibration samples */
        scalpel__layer_dense_weights(&b.L, D);
        {
            size_t q;
            for (q = 0; q < nw; q++) D[q] = wd[q] - D[q];
        }
        for (s = 0; s < k; s++) {
            const float *a = acts + (size_t)s * in;
            size_t q;
            if (conv) {
                const float *Bm = a;
                if (!(L->geom.kernel == 1 && L->geom.stride == 1 && L->geom.pad == 0)) {
                    scalpel_im2col_f32(a, L->geom.in_c, L->geom.in_h, L->geom.in_w, L->geom.kernel, L->geom.stride, L->geom.pad, X);
                    Bm = X;
                }
                scalpel_gemm_f32(wd, L->geom.rows, L->geom.cols, Bm, positions, Y);
                scalpel_gemm_f32(D, L->geom.rows, L->geom.cols, Bm, positions, E);
            } else {
                scalpel_gemv_f32(wd, L->geom.rows, L->geom.cols, a, Y);
                scalpel_gemv_f32(D, L->geom.rows, L->geom.cols, a, E);
            }
            for (q = 0; q < ny; q++) {
                num += (double)E[q] * (double)E[q];
                den += (double)Y[q] * (double)Y[q];
            }
        }
        cd->error = den > 0.0 ? scalpel__sqrt(num / den) : 0.0;
        scalpel__nr_built_free(&b);
    }
    SCALPEL_FREE(NULL, block);
    return st;
}

/* Every layer's fastest candidate whose error is <= tau (exact forms: error 0 by construction). */
/* The margin by which a decomposed form (grouped with G > 1, the hybrid, a series) must beat the
 * better of dense and CSR to be chosen: the candidates are timed one after another, and a
 * layer must never end slower than dense or CSR because one timing was lucky (LeNet-5's fc2
 * once took a hybrid 7% slower than dense). */
#define SCALPEL__NR_MARGIN 0.95

SCALPEL__PRIV void scalpel__nr_choose(scalpel_nr_plan *p, double tau)
{
    int32_t i, c;
    for (i = 0; i < p->n_layers; i++) {
        scalpel_nr_layer *l = &p->layers[i];
        int32_t best = -1, plain = -1;
        if (l->n_candidates == 0) { l->chosen = -1; continue; }
        for (c = 0; c < l->n_candidates; c++) {
            const scalpel_nr_candidate *cd = &l->cand[c];
            double e = cd->form == SCALPEL_NR_TASD ? cd->error : 0.0;
            int is_plain = cd->form == SCALPEL_NR_DENSE || (cd->form == SCALPEL_NR_GROUPED && cd->group == 1);
            if (is_plain && (plain < 0 || cd->seconds < l->cand[plain].seconds)) plain = c;
            if (e <= tau && (best < 0 || cd->seconds < l->cand[best].seconds)) best = c;
        }
        if (best >= 0 && plain >= 0 && best != plain && !(l->cand[best].seconds < SCALPEL__NR_MARGIN * l->cand[plain].seconds))
            best = plain; /* not clearly faster than dense or CSR: keep those */
        l->chosen = best < 0 ? 0 : best;
    }
}

/* Accuracy of a copy of net with p's current choices installed. */
SCALPEL__PRIV scalpel_status scalpel__nr_try(const void *file, size_t size, const scalpel_nr_plan *p,
                                             const float *x, const int32_t *labels, int32_t count, float *acc)
{
    scalpel_net copy;
    scalpel_status st = scalpel_net_load_buffer(file, size, &copy);
    if (st != SCALPEL_OK) return st;
    st = scalpel_net_apply_no_retrain(&copy, p);
    if (st == SCALPEL_OK) st = scalpel__nr_accuracy(&copy, x, labels, count, acc);
    scalpel_net_free(&copy);
    return st;
}

SCALPEL_API scalpel_status scalpel_net_apply_no_retrain(scalpel_net *net, const scalpel_nr_plan *plan)
{
    int32_t i;
    scalpel_status st;
    if (net == NULL || plan == NULL) return SCALPEL_ERR_NULL;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (plan->n_layers != net->n_layers) return SCALPEL_ERR_ARGUMENT;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_nr_layer *l = &plan->layers[i];
        if (!scalpel__is_weighted(net->layers[i].geom.kind)) {
            if (l->n_candidates != 0) return SCALPEL_ERR_ARGUMENT;
            continue;
        }
        if (l->n_candidates < 1 || l->n_candidates > SCALPEL_NR_MAX_CANDIDATES || l->chosen < 0 ||
            l->chosen >= l->n_candidates)
            return SCALPEL_ERR_ARGUMENT;
        {
            const scalpel_nr_candidate *c = &l->cand[l->chosen];
            int32_t G = c->group;
            if (c->form < SCALPEL_NR_DENSE || c->form > SCALPEL_NR_TASD) return SCALPEL_ERR_ARGUMENT;
            if ((c->form == SCALPEL_NR_GROUPED && !(G == 1 || G == 2 || G == 4 || G == 8 || G == 16)) ||
                (c->form == SCALPEL_NR_HYBRID && !(G == 2 || G == 4 || G == 8 || G == 16)))
                return SCALPEL_ERR_GROUP;
        }
    }
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_nr_layer *l = &plan->layers[i];
        if (!scalpel__is_weighted(net->layers[i].geom.kind)) continue;
        /* the hybrid split is exact whatever the costs: the defaults serve when applying */
        st = scalpel__nr_install(net, i, &l->cand[l->chosen], NULL);
        if (st != SCALPEL_OK) return st;
    }
    return SCALPEL_OK;
}

/* qsort order for the threshold candidates */
SCALPEL__PRIV int scalpel__nr_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

SCALPEL_API scalpel_status scalpel_plan_no_retrain(const scalpel_net *net, const scalpel_hw_profile *hw,
                                                   const float *x, const int32_t *labels, int32_t count,
                                                   const scalpel_nr_options *opt, scalpel_nr_plan *out)
{
    scalpel_nr_options o;
    int32_t i, in, k, n_tau = 0, outn, lo, hi;
    double *taus = NULL;
    float *acts = NULL;
    void *file = NULL;
    size_t fsize = 0, written = 0, most = 0;
    float acc_dense = 0.0f, acc = 0.0f;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (net == NULL || hw == NULL || x == NULL || labels == NULL) return SCALPEL_ERR_NULL;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (scalpel_net_has_decomposed(net)) return SCALPEL_ERR_UNSUPPORTED;
    if (count < 1) return SCALPEL_ERR_ARGUMENT;
    memset(&o, 0, sizeof(o));
    if (opt != NULL) o = *opt;
    if (!(o.budget >= 0.0f && o.budget <= 1.0f) || o.calib < 0 || o.group < 0 || o.no_tasd < 0 || o.no_tasd > 1)
        return SCALPEL_ERR_ARGUMENT;
    if (o.budget == 0.0f) o.budget = 0.005f;
    if (o.calib == 0) o.calib = 256;
    if (o.group == 0) o.group = hw->group;
    if (!(o.group == 2 || o.group == 4 || o.group == 8 || o.group == 16)) return SCALPEL_ERR_GROUP;
    in = scalpel_net_input_size(net);
    outn = scalpel_net_output_size(net);
    for (i = 0; i < count; i++)
        if (labels[i] < 0 || labels[i] >= outn) return SCALPEL_ERR_ARGUMENT;
    if (!scalpel__net_all_finite(x, (size_t)count * (size_t)in)) return SCALPEL_ERR_ARGUMENT;
    k = o.calib < count ? o.calib : count;
    out->n_layers = net->n_layers;
    /* the activations of the calibration samples, sized for the largest layer input */
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        size_t a = (size_t)L->geom.in_c * (size_t)L->geom.in_h * (size_t)L->geom.in_w;
        if (a > most) most = a;
    }
    acts = (float *)SCALPEL_MALLOC(NULL, (size_t)k * most * sizeof(float) + 1);
    taus = (double *)SCALPEL_MALLOC(NULL, ((size_t)net->n_layers * SCALPEL_NR_MAX_CANDIDATES + 1) * sizeof(double));
    fsize = scalpel_net_serialized_size(net);
    file = fsize ? SCALPEL_MALLOC(NULL, fsize) : NULL;
    if (acts == NULL || taus == NULL || file == NULL) { st = fsize ? SCALPEL_ERR_NO_MEMORY : SCALPEL_ERR_OVERFLOW; goto done; }
    st = scalpel_net_serialize(net, file, fsize, &written);
    if (st != SCALPEL_OK) goto done;
    for (i = 0; i < net->n_layers; i++) {
        /* grouped convolutions keep their storage: their groups run apart, which the hybrid and
           the series do not */
        if (!scalpel__is_weighted(net->layers[i].geom.kind) || net->layers[i].geom.groups > 1) {
            out->layers[i].chosen = -1;
            continue;
        }
        st = scalpel__nr_layer_inputs(net, i, x, k, acts);
        if (st == SCALPEL_OK) st = scalpel__nr_layer(net, i, acts, k, o.group, o.no_tasd, &out->layers[i]);
        if (st != SCALPEL_OK) goto done;
    }
    /* the thresholds worth trying: 0 (exact forms only) and every series' error */
    taus[n_tau++] = 0.0;
    for (i = 0; i < net->n_layers; i++) {
        int32_t c;
        for (c = 0; c < out->layers[i].n_candidates; c++)
            if (out->layers[i].cand[c].form == SCALPEL_NR_TASD) taus[n_tau++] = out->layers[i].cand[c].error;
    }
    qsort(taus, (size_t)n_tau, sizeof(double), scalpel__nr_cmp);
    st = scalpel__nr_accuracy(net, x, labels, count, &acc_dense);
    if (st != SCALPEL_OK) goto done;
    /* the largest tau within budget: tau = 0 is exact and taken as the floor */
    lo = 0;
    hi = n_tau - 1;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo + 1) / 2;
        scalpel__nr_choose(out, taus[mid]);
        st = scalpel__nr_try(file, fsize, out, x, labels, count, &acc);
        out->evaluations++;
        if (st != SCALPEL_OK) goto done;
        if (acc >= acc_dense - o.budget) lo = mid; else hi = mid - 1;
    }
    out->tau = taus[lo];
    scalpel__nr_choose(out, out->tau);
    st = scalpel__nr_try(file, fsize, out, x, labels, count, &acc);
    out->evaluations++;
    out->accuracy_dense = acc_dense;
    out->accuracy_planned = acc;
done:
    if (acts) SCALPEL_FREE(NULL, acts);
    if (taus) SCALPEL_FREE(NULL, taus);
    if (file) SCALPEL_FREE(NULL, file);
    if (st != SCALPEL_OK) memset(out, 0, sizeof(*out));
    return st;
}
#endif /* SCALPEL_NO_MALLOC */

/* ======================================================================================== */
/* >>quantization (implementation): fixed-point networks                                    */
/* ======================================================================================== */

SCALPEL__PRIV int scalpel__q_scale_ok(float s) { return s > 0.0f && s <= 3.0e38f; }

SCALPEL_API int32_t scalpel_qnet_input_size(const scalpel_qnet *q)
{
    if (!q) return 0;
    return scalpel__net_shape_size(q->in_c, q->in_h, q->in_w);
}

SCALPEL_API int32_t scalpel_qnet_output_size(const scalpel_qnet *q)
{
    const scalpel_qlayer *L;
    if (!q) return 0;
    if (q->n_layers <= 0 || !q->layers) return scalpel_qnet_input_size(q);
    L = &q->layers[q->n_layers - 1];
    return scalpel__net_shape_size(L->geom.out_c, L->geom.out_h, L->geom.out_w);
}

/* 1 for the kinds whose fixed-point pass can apply the ReLU after them (rq.relu). */
SCALPEL__PRIV int scalpel__q_runs_relu(int32_t kind)
{
    return scalpel__is_weighted(kind) || kind == SCALPEL_LAYER_BATCHNORM || kind == SCALPEL_LAYER_ADD;
}

/* Entries of rq.bias and of rq.mult / rq.shift an unweighted layer of a fixed-point network
 * holds (scalpel_qlayer), and of w (batchnorm's per-channel weights). */
SCALPEL__PRIV void scalpel__q_param_counts(const scalpel_qlayer *L, int32_t *n_w, int32_t *n_bias, int32_t *n_mult)
{
    int32_t k = L->geom.kind;
    *n_w = *n_bias = *n_mult = 0;
    if (k == SCALPEL_LAYER_BATCHNORM) *n_w = *n_bias = *n_mult = L->geom.out_c;
    else if (k == SCALPEL_LAYER_ADD || k == SCALPEL_LAYER_CONCAT) *n_mult = 2;
    else if (k == SCALPEL_LAYER_CLIP) *n_bias = 2;
    else if (k == SCALPEL_LAYER_HARDSWISH) { *n_bias = 2; *n_mult = 1; }
    else if (k == SCALPEL_LAYER_LEAKY_RELU || k == SCALPEL_LAYER_SIGMOID || k == SCALPEL_LAYER_TANH) *n_mult = 1;
}

/* The arrays and constants of an unweighted fixed-point layer against its kind's limits
 * (scalpel_qlayer, the kernels' in scalpel_kernels.h): what the kind needs is there, what it
 * does not use is NULL, the flags are those it takes. */
SCALPEL__PRIV scalpel_status scalpel__q_params_check(const scalpel_qnet *q, const scalpel_qlayer *L)
{
    int32_t nw, nb, nm, k = L->geom.kind, j, qmax = q->dtype == SCALPEL_DTYPE_Q15 ? SCALPEL_Q15_MAX : SCALPEL_Q7_MAX;
    const scalpel_requant *rq = &L->rq;
    scalpel__q_param_counts(L, &nw, &nb, &nm);
    if ((nw > 0 && !L->w) || (nb > 0 && !rq->bias) || (nm > 0 && (!rq->mult || !rq->shift))) return SCALPEL_ERR_NULL;
    if ((nw == 0 && L->w) || (nb == 0 && rq->bias) || (nm == 0 && (rq->mult || rq->shift))) return SCALPEL_ERR_ARGUMENT;
    if (rq->per_channel != (k == SCALPEL_LAYER_BATCHNORM) || (rq->relu != 0 && !scalpel__q_runs_relu(k)) ||
        (rq->relu != 0 && rq->relu != 1))
        return SCALPEL_ERR_ARGUMENT;
    if (k == SCALPEL_LAYER_BATCHNORM) return scalpel_requant_check(rq, L->geom.out_c);
    for (j = 0; j < nm; j++) {
        int32_t lo = k == SCALPEL_LAYER_LEAKY_RELU ? -32768 : 0;
        if (rq->mult[j] < lo || rq->mult[j] > 32768 || rq->shift[j] < 0 || rq->shift[j] > 62) return SCALPEL_ERR_ARGUMENT;
    }
    if (k == SCALPEL_LAYER_ADD && rq->shift[0] != rq->shift[1]) return SCALPEL_ERR_ARGUMENT;
    if (k == SCALPEL_LAYER_CLIP && !(rq->bias[0] >= -qmax - 1 && rq->bias[0] <= rq->bias[1] && rq->bias[1] <= qmax))
        return SCALPEL_ERR_ARGUMENT;
    if (k == SCALPEL_LAYER_HARDSWISH && !(rq->bias[0] >= 0 && rq->bias[0] <= rq->bias[1] && rq->bias[1] <= ((int64_t)1 << 30)))
        return SCALPEL_ERR_ARGUMENT;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_qnet_validate(const scalpel_qnet *q)
{
    int32_t i;
    if (!q) return SCALPEL_ERR_NULL;
    if (q->dtype != SCALPEL_DTYPE_Q15 && q->dtype != SCALPEL_DTYPE_Q7) return SCALPEL_ERR_DTYPE;
    if (q->n_layers < 0) return SCALPEL_ERR_ARGUMENT;
    if (q->n_layers > 0 && !q->layers) return SCALPEL_ERR_NULL;
    if (!scalpel__q_scale_ok(q->in_scale)) return SCALPEL_ERR_ARGUMENT;
    if (scalpel_qnet_input_size(q) < 1) return SCALPEL_ERR_SHAPE;
    for (i = 0; i < q->n_layers; i++) {
        const scalpel_qlayer *L = &q->layers[i];
        scalpel_status st = scalpel__geom_check(q->layers, sizeof(scalpel_qlayer), q->in_c, q->in_h, q->in_w, i);
        if (st != SCALPEL_OK) return st;
        if (!scalpel_layer_supports(&L->geom, SCALPEL_USE_FIXED_POINT)) return SCALPEL_ERR_UNSUPPORTED;
        if (!scalpel__q_scale_ok(L->out_scale)) return SCALPEL_ERR_ARGUMENT;
        if (scalpel__is_weighted(L->geom.kind)) {
            if (L->geom.cols > SCALPEL_QUANT_MAX_COLS) return SCALPEL_ERR_UNSUPPORTED;
            if ((uint64_t)L->geom.rows * (uint64_t)L->geom.cols > (uint64_t)(SIZE_MAX / 2)) return SCALPEL_ERR_OVERFLOW;
            if (L->storage == SCALPEL_STORAGE_DENSE) {
                if (L->w == NULL) return SCALPEL_ERR_NULL;
            } else if (L->storage == SCALPEL_STORAGE_GCSR) {
                st = scalpel_gcsr_validate(&L->sparse);
                if (st != SCALPEL_OK) return st;
                if ((int32_t)L->sparse.dtype != q->dtype) return SCALPEL_ERR_DTYPE;
                if (L->sparse.rows != L->geom.rows || L->sparse.cols != L->geom.cols) return SCALPEL_ERR_SHAPE;
            } else {
                return SCALPEL_ERR_UNSUPPORTED;
            }
            st = scalpel_requant_check(&L->rq, L->geom.rows);
            if (st != SCALPEL_OK) return st;
        } else {
            if (L->storage != SCALPEL_STORAGE_DENSE) return SCALPEL_ERR_ARGUMENT;
            st = scalpel__q_params_check(q, L);
            if (st != SCALPEL_OK) return st;
        }
    }
    return SCALPEL_OK;
}

/* Workspace, in bytes per region, 64-byte aligned each: two ping-pong activation buffers and
 * the kept tensors, laid out as the float network's (scalpel__plan_acts), the quantized input
 * and output of scalpel_qnet_forward_f32, and last the scratch (each kind's qscratch). The
 * forward passes lay out the regions without sizing the scratch (with_scratch 0): it is the
 * last region, so its size moves nothing, and the workspace the caller passes holds
 * scalpel_qnet_workspace_size bytes, which counted it. That keeps one call per layer out of
 * every pass on a microcontroller. */
/* Elements per sample in and out of a network whose shapes are trusted (the forward passes'
 * cheap twins of scalpel_qnet_input_size / output_size). */
SCALPEL__PRIV size_t scalpel__q_elems_in(const scalpel_qnet *q)
{
    return (size_t)q->in_c * (size_t)q->in_h * (size_t)q->in_w;
}
SCALPEL__PRIV size_t scalpel__q_elems_out(const scalpel_qnet *q)
{
    const scalpel_layer_geom *g;
    if (q->n_layers == 0) return scalpel__q_elems_in(q);
    g = &q->layers[q->n_layers - 1].geom;
    return (size_t)g->out_c * (size_t)g->out_h * (size_t)g->out_w;
}

static size_t scalpel__qnet_workspace(const scalpel_qnet *q, int32_t batch, int with_scratch, size_t *pp,
                                      size_t *kept, size_t *qin, size_t *qout, size_t *scratch, int32_t *skips)
{
    size_t esz = scalpel__q_esz(q->dtype), total;
    scalpel__plan_acts(q->layers, sizeof(scalpel_qlayer), q->n_layers, batch, esz, with_scratch ? scalpel__kinds_q : NULL,
                       sizeof(scalpel__kinds_q[0]), pp, kept, scratch, skips);
    *qin = scalpel__size_mul(scalpel__size_mul(scalpel__q_elems_in(q), (size_t)batch), esz);
    *qout = scalpel__size_mul(scalpel__size_mul(scalpel__q_elems_out(q), (size_t)batch), esz);
    total = scalpel__size_add(scalpel__size_mul(*pp, 2), *scratch);
    total = scalpel__size_add(total, *kept);
    total = scalpel__size_add(total, *qin);
    total = scalpel__size_add(total, *qout);
    return scalpel__size_add(total, 6 * SCALPEL__NET_ALIGN);
}

SCALPEL_API size_t scalpel_qnet_workspace_size(const scalpel_qnet *q, int32_t batch)
{
    size_t a, s, k, i, o, total;
    int32_t skips;
    if (!q || batch < 1 || !scalpel__layers_ok(q->n_layers, q->layers)) return 0;
    if (q->dtype != SCALPEL_DTYPE_Q15 && q->dtype != SCALPEL_DTYPE_Q7) return 0;
    total = scalpel__qnet_workspace(q, batch, 1, &a, &k, &i, &o, &s, &skips);
    return total == SIZE_MAX ? 0 : total;
}

/* Tensor t of the pass (0 the input, i the previous layer's output `prev`, else a kept one). */
SCALPEL__PRIV const unsigned char *scalpel__q_tensor(const scalpel_qnet *q, const void *in, const unsigned char *prev,
                                                     const unsigned char *kept, int32_t batch, int32_t i, int32_t t)
{
    if (t == i) return prev;
    if (t == 0) return (const unsigned char *)in;
    return kept + scalpel__tensor_kept_offset(q->layers, sizeof(scalpel_qlayer), q->n_layers, t, batch,
                                              scalpel__q_esz(q->dtype));
}

/* The forward pass on an already laid-out workspace: r[0], r[1] the ping-pong buffers, r[2]
 * the kept tensors, r[5] the scratch. A ReLU after a layer whose requant already applied it
 * (rq.relu) is skipped, unless a tensor between them is kept (then it runs: a ReLU of a ReLU
 * changes nothing, so the result is the same either way). */
static scalpel_status scalpel__qnet_run(const scalpel_qnet *q, const void *in, int32_t batch, void *out,
                                        unsigned char *const *r, int32_t skips)
{
    size_t esz = scalpel__q_esz(q->dtype), kept_cursor = 0;
    const unsigned char *prev = (const unsigned char *)in;
    int32_t i, n = q->n_layers;
    for (i = 0; i < n; i++) {
        const scalpel_qlayer *L = &q->layers[i];
        int32_t t = skips ? scalpel__geom_source(&L->geom, i) : i; /* a chain reads the tensor before */
        int32_t t2 = skips ? scalpel__geom_source2(&L->geom, i) : -2;
        const unsigned char *src, *src2 = NULL;
        unsigned char *dst;
        if (!scalpel__kind_ok(L->geom.kind) || t < 0) return SCALPEL_ERR_ARGUMENT;
        if (L->geom.kind == SCALPEL_LAYER_RELU && t == i && i > 0 && scalpel__q_runs_relu(q->layers[i - 1].geom.kind) &&
            q->layers[i - 1].rq.relu &&
            !(skips && (scalpel__tensor_kept(q->layers, sizeof(scalpel_qlayer), n, i) ||
                        scalpel__tensor_kept(q->layers, sizeof(scalpel_qlayer), n, i + 1))))
            continue; /* already applied: prev stands for this layer's output */
        src = scalpel__q_tensor(q, in, prev, r[2], batch, i, t);
        if (t2 >= 0) src2 = scalpel__q_tensor(q, in, prev, r[2], batch, i, t2);
        if (skips && scalpel__tensor_kept(q->layers, sizeof(scalpel_qlayer), n, i + 1)) {
            dst = r[2] + kept_cursor;
            kept_cursor += scalpel__net_round(scalpel__tensor_elems(q->layers, sizeof(scalpel_qlayer), i + 1) * (size_t)batch * esz);
        } else {
            dst = prev == r[0] ? r[1] : r[0];
        }
        scalpel__kinds_q[L->geom.kind].forward_q(q, L, src, src2, batch, dst, r[5]);
        prev = dst;
    }
    memcpy(out, prev, scalpel__q_elems_out(q) * (size_t)batch * esz);
    return SCALPEL_OK;
}

/* Checks the arguments both forward passes share and cuts the workspace into its regions:
 * r[0], r[1] the ping-pong activations, r[2] the kept tensors, r[3] / r[4] the quantized input
 * and output of scalpel_qnet_forward_f32, r[5] the scratch (last: see scalpel__qnet_workspace). */
static scalpel_status scalpel__qnet_layout(const scalpel_qnet *q, int32_t batch, void *workspace, unsigned char **r,
                                           int32_t *skips)
{
    size_t sz[6];
    int i;
    if (batch < 1 || !scalpel__layers_ok(q->n_layers, q->layers)) return SCALPEL_ERR_ARGUMENT;
    if (q->dtype != SCALPEL_DTYPE_Q15 && q->dtype != SCALPEL_DTYPE_Q7) return SCALPEL_ERR_DTYPE;
    if (scalpel__qnet_workspace(q, batch, 0, &sz[0], &sz[2], &sz[3], &sz[4], &sz[5], skips) == SIZE_MAX)
        return SCALPEL_ERR_OVERFLOW;
    sz[1] = sz[0];
    r[0] = (unsigned char *)scalpel__net_align_ptr(workspace);
    for (i = 1; i < 6; i++) r[i] = (unsigned char *)scalpel__net_align_ptr(r[i - 1] + sz[i - 1]);
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_qnet_forward(const scalpel_qnet *q, const void *in, int32_t batch, void *out,
                                                void *workspace)
{
    unsigned char *r[6];
    int32_t skips;
    scalpel_status st;
    if (!q || !in || !out || !workspace) return SCALPEL_ERR_NULL;
    st = scalpel__qnet_layout(q, batch, workspace, r, &skips);
    if (st != SCALPEL_OK) return st;
    return scalpel__qnet_run(q, in, batch, out, r, skips);
}

SCALPEL_API scalpel_status scalpel_qnet_forward_f32(const scalpel_qnet *q, const float *in, int32_t batch, float *out,
                                                    void *workspace)
{
    unsigned char *r[6];
    int32_t skips;
    scalpel_status st;
    if (!q || !in || !out || !workspace) return SCALPEL_ERR_NULL;
    st = scalpel__qnet_layout(q, batch, workspace, r, &skips);
    if (st != SCALPEL_OK) return st;
    st = scalpel_quantize_f32(in, (size_t)scalpel_qnet_input_size(q) * (size_t)batch, q->in_scale,
                              (scalpel_dtype)q->dtype, r[3]);
    if (st != SCALPEL_OK) return st;
    st = scalpel__qnet_run(q, r[3], batch, r[4], r, skips);
    if (st != SCALPEL_OK) return st;
    return scalpel_dequantize_f32(r[4], (size_t)scalpel_qnet_output_size(q) * (size_t)batch,
                                  q->n_layers > 0 ? q->layers[q->n_layers - 1].out_scale : q->in_scale,
                                  (scalpel_dtype)q->dtype, out);
}

SCALPEL_API size_t scalpel_qnet_weight_bytes(const scalpel_qnet *q)
{
    size_t total = 0;
    int32_t i;
    if (!q || !scalpel__layers_ok(q->n_layers, q->layers)) return 0;
    for (i = 0; i < q->n_layers; i++) {
        const scalpel_qlayer *L = &q->layers[i];
        size_t nq;
        if (!scalpel__is_weighted(L->geom.kind)) {
            int32_t nw, nb, nm;
            scalpel__q_param_counts(L, &nw, &nb, &nm);
            total += (size_t)nw * scalpel__q_esz(q->dtype) + (size_t)nb * sizeof(int64_t) +
                     (size_t)nm * (sizeof(int32_t) + sizeof(int8_t));
            continue;
        }
        nq = L->rq.per_channel ? (size_t)L->geom.rows : 1u;
        if (L->storage == SCALPEL_STORAGE_DENSE)
            total += (size_t)L->geom.rows * (size_t)L->geom.cols * scalpel__q_esz(q->dtype);
        else
            total += scalpel_gcsr_bytes(&L->sparse);
        total += (L->rq.bias ? (size_t)L->geom.rows * sizeof(int64_t) : 0u) + nq * (sizeof(int32_t) + sizeof(int8_t));
    }
    return total;
}

SCALPEL_API int32_t scalpel_qnet_argmax(const scalpel_qnet *q, const void *y, int32_t n)
{
    int32_t i, best = 0;
    if (!q || !y || n < 1) return -1;
    for (i = 1; i < n; i++) {
        int32_t a = q->dtype == SCALPEL_DTYPE_Q15 ? ((const int16_t *)y)[i] : ((const int8_t *)y)[i];
        int32_t b = q->dtype == SCALPEL_DTYPE_Q15 ? ((const int16_t *)y)[best] : ((const int8_t *)y)[best];
        if (a > b) best = i;
    }
    return best;
}

SCALPEL_API void scalpel_qnet_free(scalpel_qnet *q)
{
    if (!q) return;
#ifndef SCALPEL_NO_MALLOC
    if (q->layers) {
        int32_t i;
        for (i = 0; i < q->n_layers; i++)
            if (q->layers[i].block) SCALPEL_FREE(q->alloc_ctx, q->layers[i].block);
        if (q->owns_layers) SCALPEL_FREE(q->alloc_ctx, q->layers);
    }
#endif
    memset(q, 0, sizeof(*q));
}

#ifndef SCALPEL_NO_MALLOC

/* ---- quantization of a float network --------------------------------------------------- */

SCALPEL__PRIV float scalpel__q_absmax(const float *v, size_t n)
{
    float m = 0.0f;
    size_t k;
    for (k = 0; k < n; k++) {
        float a = v[k] < 0.0f ? -v[k] : v[k];
        if (a > m) m = a;
    }
    return m;
}

/* amax[0] = largest |input| of calib, amax[i + 1] = largest |output| of layer i over calib, for
 * the layers whose scale the quantizer needs (weighted layers, batch norms, adds, and a ReLU or
 * clip right after one); others stay 0. Each comes from forward passes of the network cut after that layer, in
 * chunks of samples. */
SCALPEL__PRIV scalpel_status scalpel__q_calibrate(const scalpel_net *net, const float *calib, int32_t n_calib,
                                                  float *amax)
{
    enum { CHUNK = 32 };
    size_t in_n = (size_t)scalpel_net_input_size(net), maxact = in_n, ws_n;
    scalpel_net *prefix;
    float *outb;
    void *ws;
    int32_t i, s;
    scalpel_status st = SCALPEL_OK;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        size_t o = (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w;
        if (o > maxact) maxact = o;
    }
    ws_n = scalpel_net_workspace_size(net, CHUNK);
    if (ws_n == 0 || maxact > SIZE_MAX / sizeof(float) / CHUNK) return SCALPEL_ERR_OVERFLOW;
    prefix = (scalpel_net *)SCALPEL_MALLOC(net->alloc_ctx, sizeof(scalpel_net));
    outb = (float *)SCALPEL_MALLOC(net->alloc_ctx, maxact * CHUNK * sizeof(float));
    ws = SCALPEL_MALLOC(net->alloc_ctx, ws_n);
    if (!prefix || !outb || !ws) st = SCALPEL_ERR_NO_MEMORY;
    amax[0] = scalpel__q_absmax(calib, (size_t)n_calib * in_n);
    for (i = 0; i < net->n_layers && st == SCALPEL_OK; i++) {
        const scalpel_layer *L = &net->layers[i];
        size_t o = (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w;
        int needed = scalpel__q_runs_relu(L->geom.kind) ||
                     ((L->geom.kind == SCALPEL_LAYER_RELU || L->geom.kind == SCALPEL_LAYER_CLIP) && i > 0 &&
                      scalpel__q_runs_relu(net->layers[i - 1].geom.kind));
        amax[i + 1] = 0.0f;
        if (!needed) continue;
        *prefix = *net;
        prefix->n_layers = i + 1;
        prefix->block = NULL; /* a borrowed view of net's layers: never freed */
        for (s = 0; s < n_calib && st == SCALPEL_OK; s += CHUNK) {
            int32_t b = n_calib - s < CHUNK ? n_calib - s : CHUNK;
            float m;
            st = scalpel_net_forward(prefix, calib + (size_t)s * in_n, b, outb, ws);
            m = scalpel__q_absmax(outb, o * (size_t)b);
            if (m > amax[i + 1]) amax[i + 1] = m;
        }
    }
    if (prefix) SCALPEL_FREE(net->alloc_ctx, prefix);
    if (outb) SCALPEL_FREE(net->alloc_ctx, outb);
    if (ws) SCALPEL_FREE(net->alloc_ctx, ws);
    return st;
}

/* Quantizes weighted float layer F (input scale s_in, calibrated output range a_out) into L:
 * weight scales, integer weights in F's storage (regrouped when opt->group is set), biases,
 * multipliers and shifts, all in one block. */
SCALPEL__PRIV scalpel_status scalpel__q_layer_build(const scalpel_layer *F, const scalpel_quant_options *opt,
                                                    float s_in, float a_out, int relu, void *ctx, scalpel_qlayer *L)
{
    int32_t rows = F->geom.rows, cols = F->geom.cols, r, nq = opt->per_channel ? F->geom.rows : 1;
    scalpel_dtype dtype = (scalpel_dtype)opt->dtype;
    size_t esz = scalpel__q_esz(opt->dtype), nw = (size_t)rows * (size_t)cols, wbytes = 0, ob, om, os, total;
    float qmax = dtype == SCALPEL_DTYPE_Q15 ? (float)SCALPEL_Q15_MAX : (float)SCALPEL_Q7_MAX, wmax = 0.0f, s_out;
    float *wf, *sw;
    unsigned char *wq, *block = NULL;
    int64_t *bias;
    int32_t *mult;
    int8_t *shift;
    scalpel_status st = SCALPEL_OK;
    wf = (float *)SCALPEL_MALLOC(ctx, (nw ? nw : 1u) * sizeof(float));
    wq = (unsigned char *)SCALPEL_MALLOC(ctx, (nw ? nw : 1u) * esz);
    sw = (float *)SCALPEL_MALLOC(ctx, (size_t)rows * sizeof(float));
    if (!wf || !wq || !sw) { st = SCALPEL_ERR_NO_MEMORY; goto done; }
    if (F->storage == SCALPEL_STORAGE_DENSE) memcpy(wf, F->w, nw * sizeof(float));
    else if ((st = scalpel_gcsr_to_dense(&F->sparse, wf)) != SCALPEL_OK) goto done;
    for (r = 0; r < rows; r++) {
        sw[r] = scalpel__q_absmax(wf + (size_t)r * (size_t)cols, (size_t)cols);
        if (sw[r] > wmax) wmax = sw[r];
    }
    for (r = 0; r < rows; r++) {
        float m = opt->per_channel ? sw[r] : wmax;
        sw[r] = m > 0.0f ? m / qmax : 1.0f; /* an all-zero row quantizes to zeros at any scale */
        st = scalpel_quantize_f32(wf + (size_t)r * (size_t)cols, (size_t)cols, sw[r], dtype, wq + (size_t)r * (size_t)cols * esz);
        if (st != SCALPEL_OK) goto done;
    }
    /* the output scale: the calibrated range, but never so small that the rescaling factor
     * s_w * s_in / s_out leaves the multiplier's range (outputs saturate instead) */
    s_out = a_out / qmax;
    if (!(s_out >= (wmax > 0.0f ? wmax / qmax : 1.0f) * s_in / 16384.0f))
        s_out = (wmax > 0.0f ? wmax / qmax : 1.0f) * s_in / 16384.0f;
    if (!scalpel__q_scale_ok(s_out)) { st = SCALPEL_ERR_ARGUMENT; goto done; }
    if (F->storage == SCALPEL_STORAGE_DENSE) wbytes = nw * esz;
    else st = scalpel_gcsr_from_dense_fixed_size(wq, dtype, rows, cols, opt->group ? opt->group : F->sparse.group, &wbytes);
    if (st != SCALPEL_OK) goto done;
    ob = (wbytes + 15u) / 16u * 16u;
    om = ob + (size_t)rows * sizeof(int64_t);
    os = om + (size_t)nq * sizeof(int32_t);
    total = os + (size_t)nq;
    block = (unsigned char *)SCALPEL_MALLOC(ctx, total);
    if (!block) { st = SCALPEL_ERR_NO_MEMORY; goto done; }
    L->geom = F->geom;
    L->geom.rows = rows; L->geom.cols = cols;
    if (F->storage == SCALPEL_STORAGE_DENSE) {
        memcpy(block, wq, wbytes);
        L->storage = SCALPEL_STORAGE_DENSE;
        L->w = block;
    } else {
        st = scalpel_gcsr_from_dense_fixed_into(wq, dtype, rows, cols, opt->group ? opt->group : F->sparse.group,
                                                block, wbytes, &L->sparse);
        if (st != SCALPEL_OK) goto done;
        L->storage = SCALPEL_STORAGE_GCSR;
    }
    bias = (int64_t *)(void *)(block + ob);
    mult = (int32_t *)(void *)(block + om);
    shift = (int8_t *)(void *)(block + os);
    for (r = 0; r < rows; r++) {
        const double lim = 70368744177663.0; /* 2^46 - 1: the kernels' bias limit */
        double v = (double)F->b[r] / ((double)sw[r] * (double)s_in);
        if (v > lim) v = lim;
        if (v < -lim) v = -lim;
        bias[r] = (int64_t)(v < 0.0 ? v - 0.5 : v + 0.5);
    }
    for (r = 0; r < nq && st == SCALPEL_OK; r++)
        st = scalpel_requant_from_real((double)sw[r] * (double)s_in / (double)s_out, &mult[r], &shift[r]);
    if (st != SCALPEL_OK) goto done;
    L->rq.bias = bias;
    L->rq.mult = mult;
    L->rq.shift = shift;
    L->rq.per_channel = opt->per_channel;
    L->rq.relu = relu;
    L->out_scale = s_out;
    L->block = block;
    block = NULL;
done:
    if (block) SCALPEL_FREE(ctx, block);
    if (wf) SCALPEL_FREE(ctx, wf);
    if (wq) SCALPEL_FREE(ctx, wq);
    if (sw) SCALPEL_FREE(ctx, sw);
    return st;
}

/* round(v) as an integer clamped to [lo, hi] (v finite), for the constants of the unweighted
 * kinds, computed on the host in double */
SCALPEL__PRIV int64_t scalpel__q_round_clamp(double v, int64_t lo, int64_t hi)
{
    if (!(v > (double)lo)) return lo;
    if (!(v < (double)hi)) return hi;
    return (int64_t)(v < 0.0 ? v - 0.5 : v + 0.5);
}

/* The integer constants of unweighted layer F (scalpel_qlayer) for input scales s_in, s_in2
 * (add, concat) and calibrated output range a_out (add), with its output scale, in one block
 * L owns. A batch norm left in the network (one nothing could fold) is quantized as a
 * weighted layer of one weight per channel. */
SCALPEL__PRIV scalpel_status scalpel__q_unweighted_build(const scalpel_layer *F, const scalpel_quant_options *opt,
                                                         float s_in, float s_in2, float a_out, int relu, void *ctx,
                                                         scalpel_qlayer *L)
{
    int32_t k = F->geom.kind, nw, nb, nm, j, qmax = opt->dtype == SCALPEL_DTYPE_Q15 ? SCALPEL_Q15_MAX : SCALPEL_Q7_MAX;
    double s_out = s_in;
    int64_t *bias;
    int32_t *mult;
    int8_t *shift;
    unsigned char *block;
    scalpel_status st = SCALPEL_OK;
    L->geom = F->geom;
    if (k == SCALPEL_LAYER_BATCHNORM) {
        scalpel_layer diag;
        scalpel_quant_options per_row = *opt;
        memset(&diag, 0, sizeof(diag));
        diag.geom.kind = SCALPEL_LAYER_FC;
        diag.geom.rows = F->geom.out_c;
        diag.geom.cols = 1;
        diag.storage = SCALPEL_STORAGE_DENSE;
        diag.w = F->params;                 /* scale[C]: one weight per row */
        diag.b = F->params + F->geom.out_c; /* shift[C]: the bias */
        per_row.per_channel = 1;
        st = scalpel__q_layer_build(&diag, &per_row, s_in, a_out, relu, ctx, L);
        L->geom = F->geom;
        return st;
    }
    scalpel__q_param_counts(L, &nw, &nb, &nm);
    L->out_scale = s_in;
    if (nb + nm == 0) return SCALPEL_OK;
    block = (unsigned char *)SCALPEL_MALLOC(ctx, (size_t)nb * sizeof(int64_t) + (size_t)nm * (sizeof(int32_t) + 1u));
    if (!block) return SCALPEL_ERR_NO_MEMORY;
    bias = nb ? (int64_t *)(void *)block : NULL;
    mult = nm ? (int32_t *)(void *)(block + (size_t)nb * sizeof(int64_t)) : NULL;
    shift = nm ? (int8_t *)(block + (size_t)nb * sizeof(int64_t) + (size_t)nm * sizeof(int32_t)) : NULL;
    if (k == SCALPEL_LAYER_ADD || k == SCALPEL_LAYER_CONCAT) {
        /* add: the calibrated range, never so fine that an input's ratio leaves the multiplier's
           range; concat: the coarser input's scale, so that neither input saturates */
        double big = s_in > s_in2 ? s_in : s_in2, r0, r1;
        s_out = k == SCALPEL_LAYER_CONCAT ? big : (double)a_out / qmax;
        if (!(s_out >= big / 16384.0)) s_out = big / 16384.0;
        r0 = s_in / s_out; r1 = s_in2 / s_out;
        if (k == SCALPEL_LAYER_CONCAT) {
            st = scalpel_requant_from_real(r0, &mult[0], &shift[0]);
            if (st == SCALPEL_OK) st = scalpel_requant_from_real(r1, &mult[1], &shift[1]);
        } else {
            /* one shift for both, from the larger ratio; the other's multiplier at that shift */
            int32_t big_i = r1 > r0 ? 1 : 0;
            double small = big_i ? r0 : r1, scale = 1.0;
            st = scalpel_requant_from_real(big_i ? r1 : r0, &mult[big_i], &shift[big_i]);
            for (j = 0; j < shift[big_i]; j++) scale *= 2.0;
            mult[1 - big_i] = (int32_t)scalpel__q_round_clamp(small * scale, 0, 32768);
            shift[1 - big_i] = shift[big_i];
        }
    } else if (k == SCALPEL_LAYER_CLIP) {
        bias[0] = scalpel__q_round_clamp((double)F->geom.alpha / s_in, -qmax - 1, qmax);
        bias[1] = scalpel__q_round_clamp((double)F->geom.beta / s_in, -qmax - 1, qmax);
    } else if (k == SCALPEL_LAYER_LEAKY_RELU) {
        double a = F->geom.alpha < 0.0f ? -(double)F->geom.alpha : (double)F->geom.alpha;
        mult[0] = 0; shift[0] = 0;
        if (a >= 32768.0) st = SCALPEL_ERR_UNSUPPORTED;
        else if (a > 0.0) st = scalpel_requant_from_real(a, &mult[0], &shift[0]);
        if (F->geom.alpha < 0.0f) mult[0] = -mult[0];
    } else if (k == SCALPEL_LAYER_HARDSWISH) {
        /* 3 and 6 in the input's units; the product x * t has the scale s_in^2, the output s_in */
        if (6.0 / s_in > 1073741824.0 || s_in / 6.0 >= 32768.0) st = SCALPEL_ERR_UNSUPPORTED;
        bias[0] = scalpel__q_round_clamp(3.0 / s_in, 0, (int64_t)1 << 30);
        bias[1] = scalpel__q_round_clamp(6.0 / s_in, 0, (int64_t)1 << 30);
        if (st == SCALPEL_OK) st = scalpel_requant_from_real(s_in / 6.0, &mult[0], &shift[0]);
    } else { /* sigmoid, tanh: the input to Q4.11, the output in the type's fixed scale */
        s_out = opt->dtype == SCALPEL_DTYPE_Q15 ? 1.0 / 32768.0 : 1.0 / 128.0;
        st = s_in * 2048.0 >= 32768.0 ? SCALPEL_ERR_UNSUPPORTED : scalpel_requant_from_real(s_in * 2048.0, &mult[0], &shift[0]);
    }
    if (st == SCALPEL_OK && !scalpel__q_scale_ok((float)s_out)) st = SCALPEL_ERR_ARGUMENT;
    if (st != SCALPEL_OK) {
        SCALPEL_FREE(ctx, block);
        return st;
    }
    L->rq.bias = bias;
    L->rq.mult = mult;
    L->rq.shift = shift;
    L->rq.relu = relu;
    L->out_scale = (float)s_out;
    L->block = block;
    return SCALPEL_OK;
}

/* The range a layer's output scale covers: its own, or the ReLU's or clip's right after it when
 * that reads only it (a ReLU then runs in its requant: *relu = 1). */
SCALPEL__PRIV float scalpel__q_out_range(const scalpel_net *net, const float *amax, int32_t i, int *relu)
{
    *relu = scalpel__relu_fusable(net->layers, sizeof(scalpel_layer), net->n_layers, i);
    return scalpel__act_fusable(net->layers, net->n_layers, i) ? amax[i + 2] : amax[i + 1];
}

SCALPEL_API scalpel_status scalpel_qnet_quantize(const scalpel_net *net, const scalpel_quant_options *opt,
                                                 const float *calib, int32_t n_calib, scalpel_qnet *out)
{
    float *amax = NULL, cur, qmax;
    int32_t i, g, n_bn = 0;
    scalpel_net folded;
    scalpel_status st;
    if (!out) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (!net || !opt || !calib) return SCALPEL_ERR_NULL;
    if (opt->dtype != SCALPEL_DTYPE_Q15 && opt->dtype != SCALPEL_DTYPE_Q7) return SCALPEL_ERR_DTYPE;
    g = opt->group;
    if (g != 0 && g != 1 && g != 2 && g != 4 && g != 8 && g != 16) return SCALPEL_ERR_GROUP;
    if ((opt->per_channel != 0 && opt->per_channel != 1) || n_calib < 1) return SCALPEL_ERR_ARGUMENT;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (scalpel_net_has_decomposed(net)) return SCALPEL_ERR_UNSUPPORTED;
    if (scalpel_net_first_unsupported(net, SCALPEL_USE_FIXED_POINT) >= 0) return SCALPEL_ERR_UNSUPPORTED;
    for (i = 0; i < net->n_layers; i++) {
        if (scalpel__is_weighted(net->layers[i].geom.kind) && net->layers[i].geom.cols > SCALPEL_QUANT_MAX_COLS)
            return SCALPEL_ERR_UNSUPPORTED;
        n_bn += net->layers[i].geom.kind == SCALPEL_LAYER_BATCHNORM;
    }
    if ((size_t)n_calib > SIZE_MAX / sizeof(float) / (size_t)scalpel_net_input_size(net)) return SCALPEL_ERR_OVERFLOW;
    if (!scalpel__net_all_finite(calib, (size_t)n_calib * (size_t)scalpel_net_input_size(net))) return SCALPEL_ERR_ARGUMENT;
    /* batch norms after a convolution or fully connected layer go into its weights first */
    memset(&folded, 0, sizeof(folded));
    if (n_bn > 0) {
        st = scalpel_net_fold_batchnorm(net, &folded, NULL);
        if (st != SCALPEL_OK) return st;
        net = &folded;
    }
    amax = (float *)SCALPEL_MALLOC(net->alloc_ctx, ((size_t)net->n_layers + 1) * sizeof(float));
    if (!amax) st = SCALPEL_ERR_NO_MEMORY;
    else st = scalpel__q_calibrate(net, calib, n_calib, amax);
    qmax = opt->dtype == SCALPEL_DTYPE_Q15 ? (float)SCALPEL_Q15_MAX : (float)SCALPEL_Q7_MAX;
    out->dtype = opt->dtype;
    out->in_c = net->in_c; out->in_h = net->in_h; out->in_w = net->in_w;
    out->alloc_ctx = net->alloc_ctx;
    if (st == SCALPEL_OK && net->n_layers > 0) {
        out->layers = (scalpel_qlayer *)SCALPEL_MALLOC(net->alloc_ctx, (size_t)net->n_layers * sizeof(scalpel_qlayer));
        if (!out->layers) st = SCALPEL_ERR_NO_MEMORY;
        else memset(out->layers, 0, (size_t)net->n_layers * sizeof(scalpel_qlayer));
        out->owns_layers = 1;
    }
    out->n_layers = out->layers ? net->n_layers : 0;
    if (amax) out->in_scale = amax[0] > 0.0f ? amax[0] / qmax : 1.0f / qmax;
    for (i = 0; i < out->n_layers && st == SCALPEL_OK; i++) {
        const scalpel_layer *F = &net->layers[i];
        scalpel_qlayer *L = &out->layers[i];
        int32_t t = scalpel__geom_source(&F->geom, i), t2 = scalpel__geom_source2(&F->geom, i);
        float cur2;
        int relu = 0;
        cur = t == 0 ? out->in_scale : out->layers[t - 1].out_scale; /* the scale of the tensor read */
        cur2 = t2 < 0 ? cur : t2 == 0 ? out->in_scale : out->layers[t2 - 1].out_scale;
        if (scalpel__is_weighted(F->geom.kind)) {
            float a_out = scalpel__q_out_range(net, amax, i, &relu);
            st = scalpel__q_layer_build(F, opt, cur, a_out, relu, net->alloc_ctx, L);
        } else {
            float a_out = scalpel__q_runs_relu(F->geom.kind) ? scalpel__q_out_range(net, amax, i, &relu) : 0.0f;
            st = scalpel__q_unweighted_build(F, opt, cur, cur2, a_out, relu, net->alloc_ctx, L);
        }
    }
    if (amax) SCALPEL_FREE(net->alloc_ctx, amax);
    if (n_bn > 0) scalpel_net_free(&folded);
    if (st == SCALPEL_OK) st = scalpel_qnet_validate(out);
    if (st != SCALPEL_OK) scalpel_qnet_free(out);
    return st;
}

#endif /* SCALPEL_NO_MALLOC */

/* ======================================================================================== */
/* >>export and import (implementation): C-header export                                    */
/* ======================================================================================== */
/*
 * scalpel_net_export_c writes a header that needs nothing but scalpel.h: arrays named
 * <name>_l<i>_w, _b, _row_ptr, _col_idx, _values (only those a layer has) and
 * `static const scalpel_net <name>`, built with positional initializers so that the same text
 * compiles as C99 and as C++. Floats are printed with 9 significant digits, which reads back
 * as the same float in every conforming compiler, so the firmware computes with exactly the
 * weights the host had. The header refuses, with #error, a scalpel.h whose scalpel_net may
 * be laid out differently (another major.minor version, another model format version).
 */

/* ---- names an exported header may use ---------------------------------------------------- */

/* The longest name accepted: an array name adds at most "_l9999_row_ptr" to it, and the result
 * stays within the 63 significant characters C99 promises for identifiers (the include guard
 * and <name>_WORKSPACE_BYTES may go past them: compilers keep every character in practice). */
#define SCALPEL__EX_MAX_NAME 48

/* 1 when name[0..n) is one of the words of `list` (separated by single spaces). */
SCALPEL__PRIV int scalpel__ex_word(const char *name, size_t n, const char *list)
{
    while (*list) {
        size_t k = 0;
        while (list[k] && list[k] != ' ') k++;
        if (k == n && memcmp(list, name, n) == 0) return 1;
        list += k;
        if (*list == ' ') list++;
    }
    return 0;
}

/* 1 when the n-character name is a word of `list` as it stands or once one of its forms'
 * endings is taken off: _r (reentrant), _unlocked (stdio), _l (locale), 64 (glibc's large-file
 * fopen64), and with `math` set the type suffixes of <math.h> (sinf, sinl, sinf64, lgammaf_r). */
SCALPEL__PRIV int scalpel__ex_listed(const char *name, size_t n, const char *list, int math)
{
    static const char *const tails[] = { "", "_r", "_unlocked", "_l", "64" };
    static const char *const types[] = { "", "f", "l", "f16", "f32", "f64", "f128", "f32x", "f64x" };
    size_t a, b;
    for (a = 0; a < sizeof(tails) / sizeof(tails[0]); a++) {
        size_t ta = strlen(tails[a]);
        if (ta >= n || memcmp(name + n - ta, tails[a], ta) != 0) continue;
        for (b = 0; b < (math ? sizeof(types) / sizeof(types[0]) : 1u); b++) {
            size_t tb = strlen(types[b]);
            if (ta + tb >= n || memcmp(name + n - ta - tb, types[b], tb) != 0) continue;
            if (scalpel__ex_word(name, n - ta - tb, list)) return 1;
        }
    }
    return 0;
}

/* 1 for a name of <stdint.h>'s families, of any width: [u]int[_least|_fast]<N|ptr|max>_t and
 * [U]INT[_LEAST|_FAST][N|PTR|MAX]_{MIN,MAX,WIDTH,C}. */
SCALPEL__PRIV int scalpel__ex_stdint(const char *s)
{
    int upper = s[0] == 'U' || s[0] == 'I';
    if (*s == (upper ? 'U' : 'u')) s++;
    if (strncmp(s, upper ? "INT" : "int", 3) != 0) return 0;
    s += 3;
    if (strncmp(s, upper ? "_LEAST" : "_least", 6) == 0) s += 6;
    else if (strncmp(s, upper ? "_FAST" : "_fast", 5) == 0) s += 5;
    if (strncmp(s, upper ? "PTR" : "ptr", 3) == 0 || strncmp(s, upper ? "MAX" : "max", 3) == 0) s += 3;
    else while (*s >= '0' && *s <= '9') s++;
    if (!upper) return strcmp(s, "_t") == 0;
    return strcmp(s, "_MIN") == 0 || strcmp(s, "_MAX") == 0 || strcmp(s, "_WIDTH") == 0 || strcmp(s, "_C") == 0;
}

/* 1 when the n-character name ends with an array name's ending: _layers, _WORKSPACE_BYTES or
 * _l<digits>_<array> (_w, _b, _row_ptr, _col_idx, _values, _bias, _mult, _shift). */
SCALPEL__PRIV int scalpel__ex_array_form(const char *name, size_t n)
{
    size_t i, j;
    if ((n > 7 && strcmp(name + n - 7, "_layers") == 0) || (n > 16 && strcmp(name + n - 16, "_WORKSPACE_BYTES") == 0))
        return 1;
    for (i = 1; i + 3 < n; i++) {
        if (name[i] != '_' || name[i + 1] != 'l' || name[i + 2] < '0' || name[i + 2] > '9') continue;
        for (j = i + 2; j < n && name[j] >= '0' && name[j] <= '9'; j++) {}
        if (j < n && name[j] == '_' &&
            scalpel__ex_word(name + j + 1, n - j - 1, "w b row_ptr col_idx values bias mult shift"))
            return 1;
    }
    return 0;
}

/* The checks in the order a reason is picked: the characters, the keywords, the reserved
 * underscores, main / std / predefined macros, the reserved prefixes, the standard headers'
 * names, their reserved suffixes, and last the array-name forms. */
SCALPEL_API const char *scalpel_export_name_problem(const char *name)
{
    /* keywords, then the standard library: {reason, words} */
    static const char *const keywords[][2] = {
        { "is a C keyword", "auto break case char const continue default do double else enum extern float for goto "
                            "if int long register return short signed sizeof static struct switch typedef union "
                            "unsigned void volatile while" },
        { "is a C99 keyword", "inline restrict _Bool _Complex _Imaginary _Pragma" },
        { "is a C11 keyword", "_Alignas _Alignof _Atomic _Generic _Noreturn _Static_assert _Thread_local" },
        { "is a C23 and C++ keyword", "alignas alignof bool constexpr false nullptr static_assert thread_local true" },
        { "is a C23 and GNU C keyword", "typeof" },
        { "is a C23 keyword", "typeof_unqual _BitInt _Decimal32 _Decimal64 _Decimal128" },
        { "is a C++ and GNU C keyword", "asm" },
        { "is a C++ keyword", "and and_eq bitand bitor catch char16_t char32_t class compl const_cast decltype "
                              "delete dynamic_cast explicit export friend mutable namespace new noexcept not not_eq "
                              "operator or or_eq private protected public reinterpret_cast static_cast template "
                              "this throw try typeid typename using virtual wchar_t xor xor_eq" },
        { "is a C++20 keyword", "char8_t concept consteval constinit co_await co_return co_yield requires" },
        { "is special in C++20 (modules)", "import module" },
        { "is a preprocessor operator", "defined" } };
    static const char *const others[][2] = {
        { "is main, the program's entry point (C++ allows no variable named main)", "main" },
        { "is the C++ standard library's namespace", "std" },
        { "is a macro compilers commonly predefine", "unix linux i386 i486 i586 i686 mips sun sparc vax m68k "
                                                     "mc68000 mc68010 mc68020 pdp11 ns32000 hp9000 hppa u3b u3b2 "
                                                     "u370 ultrix sgi ibm powerpc ppc MIPSEB MIPSEL R3000 R4000 "
                                                     "WIN32 WIN64 WINNT" } };
    static const char *const headers[][2] = {
        { "is a name <stddef.h> defines", "NULL offsetof ptrdiff_t size_t max_align_t nullptr_t unreachable" },
        { "is a name <limits.h> defines", "CHAR_BIT SCHAR_MIN SCHAR_MAX UCHAR_MAX CHAR_MIN CHAR_MAX MB_LEN_MAX "
                                          "SHRT_MIN SHRT_MAX USHRT_MAX INT_MIN INT_MAX UINT_MAX LONG_MIN LONG_MAX "
                                          "ULONG_MAX LLONG_MIN LLONG_MAX ULLONG_MAX BOOL_MAX BOOL_WIDTH CHAR_WIDTH "
                                          "SCHAR_WIDTH UCHAR_WIDTH SHRT_WIDTH USHRT_WIDTH INT_WIDTH UINT_WIDTH "
                                          "LONG_WIDTH ULONG_WIDTH LLONG_WIDTH ULLONG_WIDTH BITINT_MAXWIDTH MAX_CANON "
                                          "MAX_INPUT PIPE_BUF LONG_BIT WORD_BIT NZERO LONG_LONG_MIN NL_ARGMAX "
                                          "NL_LANGMAX NL_MSGMAX NL_NMAX NL_SETMAX NL_TEXTMAX" },
        { "is a name <stdint.h> defines", "SIZE_MAX SIZE_WIDTH PTRDIFF_MIN PTRDIFF_MAX PTRDIFF_WIDTH "
                                          "SIG_ATOMIC_MIN SIG_ATOMIC_MAX SIG_ATOMIC_WIDTH WCHAR_MIN WCHAR_MAX "
                                          "WCHAR_WIDTH WINT_MIN WINT_MAX WINT_WIDTH" },
        { "is a name <float.h> defines", "DECIMAL_DIG" },
        { "is a name <assert.h> defines", "assert assert_perror NDEBUG" },
        { "is a name <errno.h> defines",
          "errno EDOM ERANGE EILSEQ E2BIG EACCES EADDRINUSE EADDRNOTAVAIL EADV EAFNOSUPPORT EAGAIN EALREADY "
          "EBADE EBADF EBADFD EBADMSG EBADR EBADRQC EBADSLT EBFONT EBUSY ECANCELED ECHILD ECHRNG ECOMM "
          "ECONNABORTED ECONNREFUSED ECONNRESET EDEADLK EDEADLOCK EDESTADDRREQ EDOTDOT EDQUOT EEXIST EFAULT "
          "EFBIG EHOSTDOWN EHOSTUNREACH EHWPOISON EIDRM EINPROGRESS EINTR EINVAL EIO EISCONN EISDIR EISNAM "
          "EKEYEXPIRED EKEYREJECTED EKEYREVOKED EL2HLT EL2NSYNC EL3HLT EL3RST ELIBACC ELIBBAD ELIBEXEC "
          "ELIBMAX ELIBSCN ELNRNG ELOOP EMEDIUMTYPE EMFILE EMLINK EMSGSIZE EMULTIHOP ENAMETOOLONG ENAVAIL "
          "ENETDOWN ENETRESET ENETUNREACH ENFILE ENOANO ENOBUFS ENOCSI ENODATA ENODEV ENOENT ENOEXEC ENOKEY "
          "ENOLCK ENOLINK ENOMEDIUM ENOMEM ENOMSG ENONET ENOPKG ENOPROTOOPT ENOSPC ENOSR ENOSTR ENOSYS "
          "ENOTBLK ENOTCONN ENOTDIR ENOTEMPTY ENOTNAM ENOTRECOVERABLE ENOTSOCK ENOTSUP ENOTTY ENOTUNIQ "
          "ENXIO EOPNOTSUPP EOVERFLOW EOWNERDEAD EPERM EPFNOSUPPORT EPIPE EPROTO EPROTONOSUPPORT EPROTOTYPE "
          "EREMCHG EREMOTE EREMOTEIO ERESTART ERFKILL EROFS ESHUTDOWN ESOCKTNOSUPPORT ESPIPE ESRCH ESRMNT "
          "ESTALE ESTRPIPE ETIME ETIMEDOUT ETOOMANYREFS ETXTBSY EUCLEAN EUNATCH EUSERS EWOULDBLOCK EXDEV "
          "EXFULL" },
        { "is a name <stdarg.h> defines", "va_list va_start va_arg va_end va_copy" },
        { "is a name <fenv.h> defines", "fenv_t fexcept_t femode_t feclearexcept fegetenv fegetexceptflag "
                                        "fegetround feholdexcept feraiseexcept fesetenv fesetexceptflag fesetround "
                                        "fetestexcept feupdateenv feenableexcept fedisableexcept fegetexcept "
                                        "fegetmode fesetmode fesetexcept fetestexceptflag" },
        { "is a name <stdio.h> defines", "FILE fpos_t EOF BUFSIZ FILENAME_MAX FOPEN_MAX L_tmpnam TMP_MAX SEEK_SET "
                                         "SEEK_CUR SEEK_END L_ctermid P_tmpdir stdin stdout stderr remove rename "
                                         "renameat tmpfile tmpnam tempnam fclose fflush fopen freopen fdopen "
                                         "fmemopen open_memstream fileno setbuf setvbuf setbuffer setlinebuf "
                                         "fprintf fscanf printf scanf snprintf sprintf sscanf vfprintf vfscanf "
                                         "vprintf vscanf vsnprintf vsprintf vsscanf dprintf vdprintf asprintf "
                                         "vasprintf fgetc fgets fputc fputs getc getchar gets putc putchar puts "
                                         "ungetc getw putw getline getdelim fread fwrite fgetpos fseek fseeko "
                                         "fsetpos ftell ftello rewind clearerr feof ferror perror popen pclose "
                                         "ctermid cuserid flockfile ftrylockfile funlockfile fcloseall fopencookie "
                                         "obstack_printf obstack_vprintf renameat2 L_cuserid RENAME_EXCHANGE "
                                         "RENAME_NOREPLACE RENAME_WHITEOUT SEEK_DATA SEEK_HOLE" },
        { "is a name <string.h> defines", "memcpy memmove memset memcmp memchr memrchr memccpy memmem mempcpy "
                                          "memset_explicit strcpy strncpy strcat strncat strcmp strncmp strcoll "
                                          "strxfrm strchr strrchr strspn strcspn strpbrk strstr strtok strerror "
                                          "strlen strnlen strdup strndup stpcpy stpncpy strsep strsignal strlcpy "
                                          "strlcat explicit_bzero bcmp bcopy bzero ffs ffsl ffsll index rindex "
                                          "strcasecmp strncasecmp basename memfrob rawmemchr strcasestr strchrnul "
                                          "strfry strverscmp sigabbrev_np sigdescr_np strerrordesc_np "
                                          "strerrorname_np strdupa strndupa" },
        { "is a name <stdlib.h> defines", "div_t ldiv_t lldiv_t EXIT_FAILURE EXIT_SUCCESS RAND_MAX MB_CUR_MAX atof "
                                          "atoi atol atoll strtod strtof strtold strtol strtoll strtoul strtoull "
                                          "strtoq strtouq strfromd strfromf strfroml rand srand random srandom "
                                          "initstate setstate drand48 erand48 lrand48 nrand48 mrand48 jrand48 "
                                          "srand48 seed48 lcong48 arc4random arc4random_buf arc4random_uniform "
                                          "aligned_alloc calloc free malloc realloc reallocarray valloc "
                                          "posix_memalign free_sized free_aligned_sized alloca abort atexit "
                                          "at_quick_exit on_exit exit quick_exit getenv secure_getenv setenv "
                                          "unsetenv putenv clearenv system bsearch qsort abs labs llabs div ldiv "
                                          "lldiv mblen mbtowc wctomb mbstowcs wcstombs mkstemp mkstemps mkdtemp "
                                          "mkostemp mktemp realpath a64l l64a ecvt fcvt gcvt qecvt qfcvt qgcvt "
                                          "getloadavg getsubopt rpmatch getpt grantpt posix_openpt ptsname unlockpt "
                                          "mkostemps canonicalize_file_name strfromf32 strfromf64 strfromf128 "
                                          "strfromf32x strfromf64x strtof32 strtof64 strtof128 strtof32x strtof64x "
                                          "WEXITSTATUS WIFEXITED WIFSIGNALED "
                                          "WIFSTOPPED WIFCONTINUED WTERMSIG WSTOPSIG WNOHANG WUNTRACED WCONTINUED "
                                          "WEXITED WNOWAIT WSTOPPED" },
        { "is a name <sys/types.h> defines (glibc's <stdlib.h> includes it)",
          "uint ulong ushort u_char u_short u_int u_long quad_t u_quad_t caddr_t daddr_t loff_t fd_set fd_mask "
          "select pselect FD_SET FD_CLR FD_ISSET FD_ZERO FD_SETSIZE NFDBITS BIG_ENDIAN LITTLE_ENDIAN PDP_ENDIAN "
          "BYTE_ORDER htobe16 htobe32 htobe64 htole16 htole32 htole64 be16toh be32toh be64toh le16toh le32toh "
          "le64toh" },
        { "is a name <unistd.h>, <fcntl.h> or <sys/stat.h> declares (the library includes them on POSIX systems to handle files)",
          "ACCESSPERMS ALLPERMS DEFFILEMODE FAPPEND FASYNC FD_CLOEXEC FFSYNC FNDELAY FNONBLOCK "
          "MAX_HANDLE_SZ R_OK W_OK X_OK STDERR_FILENO STDIN_FILENO STDOUT_FILENO TEMP_FAILURE_RETRY "
          "st_atime st_ctime st_mtime program_invocation_name program_invocation_short_name L_SET L_INCR "
          "L_XTND "
          "F_OWNER_GID F_OWNER_PGRP F_OWNER_PID F_OWNER_TID access acct alarm brk chdir chmod chown chroot "
          "close close_range closefrom confstr copy_file_range creat creat64 crypt daemon dup dup2 dup3 "
          "eaccess endusershell euidaccess execl execle execlp execv execve execveat execvp execvpe "
          "faccessat fallocate fallocate64 fchdir fchmod fchmodat fchown fchownat fcntl fcntl64 fdatasync "
          "fexecve fork fpathconf fstat fstat64 fstatat fstatat64 fsync ftruncate ftruncate64 futimens "
          "get_current_dir_name getcwd getdomainname getdtablesize getegid getentropy geteuid getgid "
          "getgroups gethostid gethostname getlogin getlogin_r getopt getpagesize getpass getpgid getpgrp "
          "getpid getppid getresgid getresuid getsid gettid getuid getumask getusershell getwd group_member "
          "isatty lchmod lchown link linkat lockf lockf64 lseek lseek64 lstat lstat64 mkdir mkdirat mkfifo "
          "mkfifoat mknod mknodat name_to_handle_at nice open open64 open_by_handle_at openat openat64 "
          "pathconf pause pipe pipe2 posix_fadvise posix_fadvise64 posix_fallocate posix_fallocate64 pread "
          "pread64 profil pwrite pwrite64 read readahead readlink readlinkat revoke rmdir sbrk "
          "setdomainname setegid seteuid setgid sethostid sethostname setlogin setpgid setpgrp setregid "
          "setresgid setresuid setreuid setsid setuid setusershell sleep splice stat stat64 statx swab "
          "symlink symlinkat sync sync_file_range syncfs syscall sysconf tcgetpgrp tcsetpgrp tee truncate "
          "truncate64 ttyname ttyname_r ttyslot ualarm umask unlink unlinkat usleep utimensat vfork vhangup "
          "vmsplice write optarg optind opterr optopt environ" },
        { "is a name <time.h> defines", "clock_t time_t CLOCKS_PER_SEC clock difftime mktime time timespec_get "
                                        "timespec_getres asctime ctime gmtime localtime strftime strptime timegm "
                                        "timelocal dysize daylight timezone tzname tzset nanosleep clock_getres "
                                        "clock_gettime clock_settime clock_nanosleep clock_getcpuclockid "
                                        "clock_adjtime timer_create timer_delete timer_gettime timer_settime "
                                        "timer_getoverrun TIMER_ABSTIME getdate getdate_err" } };
    static const char *const math_words =
        "acos asin atan atan2 cos sin tan acosh asinh atanh cosh sinh tanh exp exp2 exp10 expm1 frexp ilogb "
        "llogb ldexp log log10 log1p log2 logb modf scalbn scalbln cbrt fabs hypot pow sqrt erf erfc lgamma "
        "tgamma ceil floor nearbyint rint lrint llrint round roundeven lround llround trunc fmod remainder "
        "remquo copysign nan nextafter nexttoward nextup nextdown fdim fmax fmin fma fmaximum fminimum fmaxmag "
        "fminmag fmaximum_num fminimum_num fmaximum_mag fminimum_mag fmaximum_mag_num fminimum_mag_num "
        "fromfp fromfpx ufromfp ufromfpx totalorder totalordermag canonicalize getpayload setpayload "
        "setpayloadsig fadd fsub fmul fdiv ffma fsqrt dadd dsub dmul ddiv dfma dsqrt f32add f32sub f32mul "
        "f32div f32fma f32sqrt f32xadd f32xsub f32xmul f32xdiv f32xfma f32xsqrt f64add f64sub f64mul f64div "
        "f64fma f64sqrt f64xadd f64xsub f64xmul f64xdiv f64xfma f64xsqrt sincos j0 j1 jn y0 y1 yn gamma drem finite significand scalb signgam isinf isnan fpclassify "
        "isfinite isnormal signbit isgreater isgreaterequal isless islessequal islessgreater isunordered "
        "iscanonical issignaling issubnormal iszero iseqsig math_errhandling HUGE_VAL HUGE_VALF HUGE_VALL "
        "HUGE_VAL_F32 HUGE_VAL_F64 HUGE_VAL_F128 HUGE_VAL_F32X HUGE_VAL_F64X INFINITY NAN SNAN SNANF SNANL "
        "SNANF32 SNANF64 SNANF128 SNANF32X SNANF64X MAXFLOAT "
        "float_t double_t M_E M_LOG2E M_LOG10E M_LN2 M_LN10 M_PI M_PI_2 M_PI_4 M_1_PI M_2_PI M_2_SQRTPI M_SQRT2 "
        "M_SQRT1_2";
    /* reserved prefixes, with the reason for a name that is the prefix without its '_' (whose
     * array names take the prefix); `capital`: the standard reserves only the names that go on
     * with a capital or a digit, like <name>_WORKSPACE_BYTES */
    static const struct { const char *prefix; int capital; const char *why, *why_stem; } prefixes[] = {
        { "scalpel_", 0, "is reserved for the library: scalpel_ prefix",
          "is reserved for the library: its array names would take the scalpel_ prefix" },
        { "SCALPEL_", 0, "is reserved for the library: SCALPEL_ prefix",
          "is reserved for the library: its array names would take the SCALPEL_ prefix" },
        { "simde_", 0, "is reserved for SIMDe, which scalpel.h includes: simde_ prefix",
          "is reserved for SIMDe: its array names would take the simde_ prefix" },
        { "SIMDE_", 0, "is reserved for SIMDe, which scalpel.h includes: SIMDE_ prefix",
          "is reserved for SIMDe: its array names would take the SIMDE_ prefix" },
        { "HEDLEY_", 0, "is reserved for Hedley, which SIMDe includes: HEDLEY_ prefix",
          "is reserved for Hedley: its array names would take the HEDLEY_ prefix" },
        { "pthread_", 0, "is reserved by POSIX: pthread_ prefix",
          "is reserved by POSIX: its array names would take the pthread_ prefix" },
        { "PTHREAD_", 0, "is reserved by POSIX: PTHREAD_ prefix",
          "is reserved by POSIX: its array names would take the PTHREAD_ prefix" },
        { "FLT_", 1, "is reserved by <float.h>: FLT_ prefix", "is reserved: <name>_WORKSPACE_BYTES would take the FLT_ prefix" },
        { "DBL_", 1, "is reserved by <float.h>: DBL_ prefix", "is reserved: <name>_WORKSPACE_BYTES would take the DBL_ prefix" },
        { "LDBL_", 1, "is reserved by <float.h>: LDBL_ prefix", "is reserved: <name>_WORKSPACE_BYTES would take the LDBL_ prefix" },
        { "FP_", 1, "is reserved by <math.h>: FP_ prefix", "is reserved: <name>_WORKSPACE_BYTES would take the FP_ prefix" },
        { "MATH_", 1, "is reserved by <math.h>: MATH_ prefix", "is reserved: <name>_WORKSPACE_BYTES would take the MATH_ prefix" },
        { "FE_", 1, "is reserved by <fenv.h>: FE_ prefix", "is reserved: <name>_WORKSPACE_BYTES would take the FE_ prefix" },
        { "TIME_", 1, "is reserved by <time.h>: TIME_ prefix", "is reserved: <name>_WORKSPACE_BYTES would take the TIME_ prefix" },
        { "CLOCK_", 1, "is reserved by <time.h>: CLOCK_ prefix", "is reserved: <name>_WORKSPACE_BYTES would take the CLOCK_ prefix" },
        { "O_", 1, "is a name <fcntl.h> defines (the library includes it on POSIX systems): O_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the O_ prefix" },
        { "F_", 1, "is a name <fcntl.h> defines (the library includes it on POSIX systems): F_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the F_ prefix" },
        { "AT_", 1, "is a name <fcntl.h> defines (the library includes it on POSIX systems): AT_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the AT_ prefix" },
        { "POSIX_FADV_", 1, "is a name <fcntl.h> defines (the library includes it on POSIX systems): POSIX_FADV_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the POSIX_FADV_ prefix" },
        { "FALLOC_FL_", 1, "is a name <fcntl.h> defines (the library includes it on POSIX systems): FALLOC_FL_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the FALLOC_FL_ prefix" },
        { "SPLICE_F_", 1, "is a name <fcntl.h> defines (the library includes it on POSIX systems): SPLICE_F_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the SPLICE_F_ prefix" },
        { "SYNC_FILE_RANGE_", 1, "is a name <fcntl.h> defines (the library includes it on POSIX systems): SYNC_FILE_RANGE_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the SYNC_FILE_RANGE_ prefix" },
        { "RWH_", 1, "is a name <fcntl.h> defines (the library includes it on POSIX systems): RWH_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the RWH_ prefix" },
        { "RWF_", 1, "is a name <fcntl.h> defines (the library includes it on POSIX systems): RWF_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the RWF_ prefix" },
        { "DN_", 1, "is a name <fcntl.h> defines (the library includes it on POSIX systems): DN_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the DN_ prefix" },
        { "LOCK_", 1, "is a name <fcntl.h> defines (the library includes it on POSIX systems): LOCK_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the LOCK_ prefix" },
        { "S_", 1, "is a name <sys/stat.h> defines (the library includes it on POSIX systems): S_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the S_ prefix" },
        { "STATX_", 1, "is a name <sys/stat.h> defines (the library includes it on POSIX systems): STATX_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the STATX_ prefix" },
        { "UTIME_", 1, "is a name <sys/stat.h> defines (the library includes it on POSIX systems): UTIME_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the UTIME_ prefix" },
        { "CLOSE_RANGE_", 1, "is a name <unistd.h> defines (the library includes it on POSIX systems): CLOSE_RANGE_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the CLOSE_RANGE_ prefix" },
        { "ADJ_", 1, "is a name <sys/timex.h> defines (glibc's <time.h> includes it for C++): ADJ_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the ADJ_ prefix" },
        { "MOD_", 1, "is a name <sys/timex.h> defines (glibc's <time.h> includes it for C++): MOD_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the MOD_ prefix" },
        { "STA_", 1, "is a name <sys/timex.h> defines (glibc's <time.h> includes it for C++): STA_ prefix",
          "is reserved: <name>_WORKSPACE_BYTES would take the STA_ prefix" } };
    size_t i, n;
    if (name == NULL) return "is a null pointer";
    n = strlen(name);
    if (n == 0) return "is empty";
    if (n > SCALPEL__EX_MAX_NAME) return "is longer than 48 characters";
    for (i = 0; i < n; i++) {
        char c = name[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        int digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && i > 0)) return "is not a C identifier (letters, digits and _, not starting with a digit)";
    }
    for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
        if (scalpel__ex_word(name, n, keywords[i][1])) return keywords[i][0];
    if (name[0] == '_' && (name[1] == '_' || (name[1] >= 'A' && name[1] <= 'Z')))
        return "is reserved: an underscore followed by a capital or another underscore";
    if (strstr(name, "__") != NULL) return "is reserved: double underscore (C++ reserves every name holding one)";
    if (name[0] == '_') return "is reserved at file scope: leading underscore";
    if (name[n - 1] == '_') return "ends with an underscore: its array names (<name>_layers) would hold a double underscore";
    for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        if (scalpel__ex_word(name, n, others[i][1])) return others[i][0];
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t k = strlen(prefixes[i].prefix);
        char next = name[n < k ? 0 : k];
        if (n == k - 1 && memcmp(name, prefixes[i].prefix, k - 1) == 0) return prefixes[i].why_stem;
        if (n > k && memcmp(name, prefixes[i].prefix, k) == 0 &&
            (!prefixes[i].capital || (next >= 'A' && next <= 'Z') || (next >= '0' && next <= '9')))
            return prefixes[i].why;
    }
    for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
        if (scalpel__ex_listed(name, n, headers[i][1], 0)) return headers[i][0];
    if (scalpel__ex_stdint(name)) return "is a name <stdint.h> defines";
    if (scalpel__ex_listed(name, n, math_words, 1)) return "is a name <math.h> defines";
    if (n > 2 && strcmp(name + n - 2, "_t") == 0) return "ends in _t, which POSIX reserves for type names";
    if (n > 4 && strcmp(name + n - 4, "_MAX") == 0) return "ends in _MAX, which POSIX reserves for <limits.h>";
    if (scalpel__ex_array_form(name, n))
        return "has the form of an exported array name (x_layers, x_l0_w), which another network's arrays could take";
    return NULL;
}

#ifndef SCALPEL_NO_MALLOC

/* 1 when every weight and bias of the (valid) network is finite: a NaN or an infinity has no
 * portable literal, and a network holding one is a bug to report, not to ship. */
SCALPEL__PRIV int scalpel__ex_finite(const scalpel_net *net)
{
    int32_t i;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        const float *arrays[2];
        size_t counts[2];
        int a;
        if (!scalpel__is_weighted(L->geom.kind)) continue;
        arrays[0] = L->b;
        counts[0] = (size_t)L->geom.rows;
        if (L->storage == SCALPEL_STORAGE_DENSE) {
            arrays[1] = L->w;
            counts[1] = (size_t)L->geom.rows * (size_t)L->geom.cols;
        } else {
            arrays[1] = (const float *)L->sparse.values;
            counts[1] = (size_t)L->sparse.nnz_groups * (size_t)L->sparse.group;
        }
        for (a = 0; a < 2; a++)
            if (!scalpel__net_all_finite(arrays[a], counts[a])) return 0;
    }
    return 1;
}

/* Prints one finite float as a C literal that reads back as the same float: 9 significant
 * digits, a '.' or exponent so that the 'f' suffix is legal, "-0.0f" for negative zero. The
 * decimal separator is forced to '.' in case the program changed its locale. */
SCALPEL__PRIV int scalpel__ex_float(FILE *f, float v)
{
    char s[48];
    int i, has_point = 0, len = sprintf(s, "%.9g", (double)v);
    if (len <= 0 || len > 40) return -1;
    for (i = 0; i < len; i++) {
        char c = s[i];
        if ((c >= '0' && c <= '9') || c == '-' || c == '+') continue;
        if (c == 'e' || c == 'E') { has_point = 1; continue; }
        s[i] = '.';
        has_point = 1;
    }
    if (!has_point) { s[len++] = '.'; s[len++] = '0'; }
    s[len++] = 'f';
    s[len] = 0;
    return fputs(s, f) < 0 ? -1 : 0;
}

/* Writes `static const float <name>_l<i>_<what>[n] = { ... };` eight values a line. */
SCALPEL__PRIV int scalpel__ex_floats(FILE *f, const char *name, int32_t layer, const char *what,
                                     const float *v, size_t n)
{
    size_t j;
    int bad = fprintf(f, "SCALPEL_EXPORT_ALIGN16 static const float %s_l%d_%s[%lu] = {", name, (int)layer,
                      what, (unsigned long)n) < 0;
    for (j = 0; j < n && !bad; j++) {
        bad |= fputs(j % 8 == 0 ? "\n    " : " ", f) < 0;
        bad |= scalpel__ex_float(f, v[j]) < 0;
        if (j + 1 < n) bad |= fputc(',', f) == EOF;
    }
    bad |= fputs("\n};\n", f) < 0;
    return bad ? -1 : 0;
}

/* Writes `static const <type> <name>_l<i>_<what>[n] = { ... };` (n >= 1), twelve a line, from n
 * integers stored as `type`: 'b' int8_t, 'h' int16_t, 'i' int32_t, 'H' uint16_t, 'I' uint32_t,
 * 'q' int64_t (printed with the LL suffix, unsigned ones with u). */
SCALPEL__PRIV int scalpel__ex_ints(FILE *f, const char *name, int32_t layer, const char *what, char type,
                                   const void *v, size_t n)
{
    const char *ctype = type == 'b' ? "int8_t" : type == 'h' ? "int16_t" : type == 'i' ? "int32_t"
                      : type == 'H' ? "uint16_t" : type == 'I' ? "uint32_t" : "int64_t";
    const char *suffix = type == 'q' ? "LL" : (type == 'H' || type == 'I') ? "u" : "";
    size_t j;
    int bad = fprintf(f, "SCALPEL_EXPORT_ALIGN16 static const %s %s_l%d_%s[%lu] = {", ctype, name, (int)layer, what,
                      (unsigned long)n) < 0;
    for (j = 0; j < n && !bad; j++) {
        long long x;
        switch (type) {
        case 'b': x = ((const int8_t *)v)[j]; break;
        case 'h': x = ((const int16_t *)v)[j]; break;
        case 'i': x = ((const int32_t *)v)[j]; break;
        case 'H': x = ((const uint16_t *)v)[j]; break;
        case 'I': x = (long long)((const uint32_t *)v)[j]; break;
        default: x = (long long)((const int64_t *)v)[j]; break;
        }
        bad |= fprintf(f, "%s%lld%s%s", j % 12 == 0 ? "\n    " : " ", x, suffix, j + 1 < n ? "," : "") < 0;
    }
    bad |= fputs("\n};\n", f) < 0;
    return bad ? -1 : 0;
}

/* The index arrays of a grouped-CSR layer: int32 row pointers, then (when it stores any group)
 * uint16/uint32 columns. */
SCALPEL__PRIV int scalpel__ex_gcsr_index(FILE *f, const char *name, int32_t layer, const scalpel_gcsr *s)
{
    if (scalpel__ex_ints(f, name, layer, "row_ptr", 'i', s->row_ptr, (size_t)s->rows + 1) < 0) return -1;
    if (s->nnz_groups == 0) return 0;
    return scalpel__ex_ints(f, name, layer, "col_idx", s->index_bits == 16 ? 'H' : 'I', s->col_idx,
                            (size_t)s->nnz_groups);
}

/* The arrays of a float grouped-CSR layer: indices, then the values. */
SCALPEL__PRIV int scalpel__ex_gcsr(FILE *f, const char *name, int32_t layer, const scalpel_gcsr *s)
{
    if (scalpel__ex_gcsr_index(f, name, layer, s) < 0) return -1;
    if (s->nnz_groups == 0) return 0;
    return scalpel__ex_floats(f, name, layer, "values", (const float *)s->values,
                              (size_t)s->nnz_groups * (size_t)s->group);
}

/* What every exported header starts with after its comment: the include guard
 * <guard><name>_H, the check that scalpel.h came first and lays out its structs as the writer's
 * did, and the alignment / unused-variable macros. */
SCALPEL__PRIV int scalpel__ex_prologue(FILE *f, const char *guard, const char *name)
{
    return fprintf(f,
        "#ifndef %s%s_H\n#define %s%s_H\n\n"
        "#if !defined(SCALPEL_H) || !defined(SCALPEL_NET_FORMAT_VERSION)\n"
        "#error \"include scalpel.h before this exported network (%s)\"\n#endif\n"
        "#if SCALPEL_NET_FORMAT_VERSION != %d || SCALPEL_VERSION_NUMBER / 100 != %d\n"
        "#error \"this exported network (%s) was written by Scalpel %s: its structs may differ in this version\"\n"
        "#endif\n\n"
        "#ifndef SCALPEL_EXPORT_ALIGN16\n"
        "#if defined(__GNUC__) || defined(__clang__)\n"
        "#define SCALPEL_EXPORT_ALIGN16 __attribute__((aligned(16)))\n"
        "#elif defined(_MSC_VER)\n"
        "#define SCALPEL_EXPORT_ALIGN16 __declspec(align(16))\n"
        "#else\n"
        "#define SCALPEL_EXPORT_ALIGN16\n"
        "#endif\n#endif\n"
        "#ifndef SCALPEL_EXPORT_UNUSED\n"
        "#if defined(__GNUC__) || defined(__clang__)\n"
        "#define SCALPEL_EXPORT_UNUSED __attribute__((unused))\n"
        "#else\n"
        "#define SCALPEL_EXPORT_UNUSED\n"
        "#endif\n#endif\n\n",
        guard, name, guard, name, name, SCALPEL_NET_FORMAT_VERSION, SCALPEL_VERSION_NUMBER / 100, name,
        SCALPEL_VERSION_STRING) < 0 ? -1 : 0;
}

/* A float as a C literal that reads back to the same value: 9 significant digits, always with
 * a point or an exponent before the f suffix. buf holds 40 characters. */
SCALPEL__PRIV void scalpel__ex_real(char *buf, float v)
{
    size_t n = (size_t)snprintf(buf, 36, "%.9g", (double)v);
    if (n < 36 && !strpbrk(buf, ".e")) { buf[n++] = '.'; buf[n++] = '0'; }
    if (n < 38) { buf[n++] = 'f'; buf[n] = '\0'; }
}

/* The geometry initializer of a layer (every field, in scalpel_layer_geom's order). */

SCALPEL__PRIV int scalpel__ex_geom(FILE *f, const scalpel_layer_geom *g)
{
    char a[40], b[40], k[40];
    scalpel__ex_real(a, g->alpha);
    scalpel__ex_real(b, g->beta);
    scalpel__ex_real(k, g->k);
    return fprintf(f, "{ %d, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld,\n"
                      "            %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %s, %s, %s }",
                   (int)g->kind, (long)g->in_c, (long)g->in_h, (long)g->in_w, (long)g->out_c, (long)g->out_h,
                   (long)g->out_w, (long)g->kernel, (long)g->stride, (long)g->pad, (long)g->rows, (long)g->cols,
                   (long)g->from, (long)g->kernel_h, (long)g->kernel_w, (long)g->stride_h, (long)g->stride_w,
                   (long)g->pad_top, (long)g->pad_left, (long)g->pad_bottom, (long)g->pad_right, (long)g->dilation_h,
                   (long)g->dilation_w, (long)g->groups, (long)g->mode, (long)g->from2, a, b, k) < 0 ? -1 : 0;
}

/* One positional initializer for net->layers[i] (every field given, so -Wextra's
 * missing-initializer warning stays quiet in C and C++). */
SCALPEL__PRIV int scalpel__ex_layer(FILE *f, const char *name, int32_t i, const scalpel_layer *L)
{
    int bad, weighted = scalpel__is_weighted(L->geom.kind), gcsr = weighted && L->storage == SCALPEL_STORAGE_GCSR;
    char w[80], b[80];
    if (weighted && !gcsr) sprintf(w, "%s_l%d_w", name, (int)i);
    else strcpy(w, "NULL");
    if (weighted) sprintf(b, "%s_l%d_b", name, (int)i);
    else strcpy(b, "NULL");
    bad = fputs("        { ", f) < 0;
    bad |= scalpel__ex_geom(f, &L->geom) < 0;
    bad |= fprintf(f, ", %d, %s,\n", (int)L->storage, w) < 0;
    if (gcsr) {
        const scalpel_gcsr *s = &L->sparse;
        if (s->nnz_groups > 0)
            bad |= fprintf(f, "          { %ld, %ld, %d, %d, SCALPEL_DTYPE_F32, %ld, (int32_t *)%s_l%d_row_ptr,\n"
                              "            (void *)%s_l%d_col_idx, (void *)%s_l%d_values, NULL, NULL },\n",
                           (long)s->rows, (long)s->cols, (int)s->group, (int)s->index_bits, (long)s->nnz_groups,
                           name, (int)i, name, (int)i, name, (int)i) < 0;
        else
            bad |= fprintf(f, "          { %ld, %ld, %d, %d, SCALPEL_DTYPE_F32, 0, (int32_t *)%s_l%d_row_ptr,"
                              " NULL, NULL, NULL, NULL },\n",
                           (long)s->rows, (long)s->cols, (int)s->group, (int)s->index_bits, name, (int)i) < 0;
    } else {
        bad |= fputs("          { 0, 0, 0, 0, SCALPEL_DTYPE_F32, 0, NULL, NULL, NULL, NULL, NULL },\n", f) < 0;
    }
    if (L->params) sprintf(w, "%s_l%d_p", name, (int)i);
    else strcpy(w, "NULL");
    bad |= fprintf(f, "          %s, NULL,\n"
                      "          { 0, 0, 0, 0, SCALPEL_DTYPE_F32, 0, NULL, NULL, NULL, NULL, NULL }, NULL, %s }", b, w) < 0;
    return bad ? -1 : 0;
}

/* The whole header. Returns 0, or -1 when a write failed (the caller checks the stream too). */
SCALPEL__PRIV int scalpel__ex_write(FILE *f, const scalpel_net *net, const char *name)
{
    int32_t i;
    int bad = fprintf(f,
        "/* %s: a Scalpel network exported by scalpel_net_export_c (Scalpel %s, model format %d).\n"
        " * Generated file: do not edit. Input %ld x %ld x %ld (CHW), %ld layers, %lu weight bytes.\n"
        " * Use: #include \"scalpel.h\" first (the implementation compiled somewhere in the program),\n"
        " * then this header; `%s` is a ready scalpel_net for scalpel_net_forward, with no\n"
        " * allocation (a static workspace of scalpel_net_workspace_size(&%s, batch) bytes). */\n",
        name, SCALPEL_VERSION_STRING, SCALPEL_NET_FORMAT_VERSION, (long)net->in_c, (long)net->in_h,
        (long)net->in_w, (long)net->n_layers, (unsigned long)scalpel_net_weight_bytes(net), name, name) < 0;
    bad |= scalpel__ex_prologue(f, "SCALPEL_NET_EXPORT_", name) < 0;
    for (i = 0; i < net->n_layers && !bad; i++) {
        const scalpel_layer *L = &net->layers[i];
        bad |= fprintf(f, "/* layer %d: %s, %ld x %ld x %ld -> %ld x %ld x %ld%s */\n", (int)i,
                       scalpel_layer_kind_name(L->geom.kind), (long)L->geom.in_c, (long)L->geom.in_h, (long)L->geom.in_w,
                       (long)L->geom.out_c, (long)L->geom.out_h, (long)L->geom.out_w,
                       !scalpel__is_weighted(L->geom.kind) ? ""
                       : L->storage == SCALPEL_STORAGE_DENSE ? ", dense" : ", grouped CSR") < 0;
        if (L->params && !bad)
            bad |= scalpel__ex_floats(f, name, i, "p", L->params,
                                      (size_t)scalpel__kinds[L->geom.kind].per_channel * (size_t)L->geom.out_c) < 0;
        if (!scalpel__is_weighted(L->geom.kind) || bad) continue;
        if (L->storage == SCALPEL_STORAGE_DENSE)
            bad |= scalpel__ex_floats(f, name, i, "w", L->w, (size_t)L->geom.rows * (size_t)L->geom.cols) < 0;
        else
            bad |= scalpel__ex_gcsr(f, name, i, &L->sparse) < 0;
        if (!bad) bad |= scalpel__ex_floats(f, name, i, "b", L->b, (size_t)L->geom.rows) < 0;
    }
    if (bad) return -1;
    if (net->n_layers > 0) { /* exactly the layers the model has, in flash with the weights */
        bad |= fprintf(f, "\nstatic const scalpel_layer %s_layers[%ld] = {\n", name, (long)net->n_layers) < 0;
        for (i = 0; i < net->n_layers && !bad; i++) {
            bad |= scalpel__ex_layer(f, name, i, &net->layers[i]) < 0;
            bad |= fputs(i + 1 < net->n_layers ? ",\n" : "\n", f) < 0;
        }
        bad |= fputs("};\n", f) < 0;
    }
    /* the library never writes through a network's layers: the cast only fits the field */
    bad |= fprintf(f, "\nSCALPEL_EXPORT_UNUSED static const scalpel_net %s = {\n    %ld, %ld, %ld, %ld,\n",
                   name, (long)net->in_c, (long)net->in_h, (long)net->in_w, (long)net->n_layers) < 0;
    if (net->n_layers > 0) bad |= fprintf(f, "    (scalpel_layer *)%s_layers,\n", name) < 0;
    else bad |= fputs("    NULL,\n", f) < 0;
    bad |= fputs("    0, 0, 0, NULL, NULL,\n    { ", f) < 0; /* then input_norm and packed_batch */
    {
        const scalpel_input_norm *q = &net->input_norm;
        int c, which;
        bad |= fprintf(f, "%ld, %ld, ", (long)q->where, (long)q->channels) < 0;
        bad |= scalpel__ex_float(f, q->range);
        for (which = 0; which < 2 && !bad; which++) {
            bad |= fputs(", { ", f) < 0;
            for (c = 0; c < SCALPEL_INPUT_NORM_MAX_CHANNELS && !bad; c++) {
                bad |= scalpel__ex_float(f, which ? q->std[c] : q->mean[c]);
                bad |= fputs(c + 1 < SCALPEL_INPUT_NORM_MAX_CHANNELS ? ", " : " }", f) < 0;
            }
        }
    }
    bad |= fprintf(f, " },\n    %ld\n};\n\n#endif /* SCALPEL_NET_EXPORT_%s_H */\n", (long)net->packed_batch, name) < 0;
    return bad ? -1 : 0;
}

SCALPEL_API scalpel_status scalpel_net_export_c(const scalpel_net *net, const char *name, const char *path)
{
    char *tmp = NULL;
    FILE *f = NULL;
    scalpel_status st;
    if (net == NULL || name == NULL || path == NULL) return SCALPEL_ERR_NULL;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (scalpel_net_has_decomposed(net)) return SCALPEL_ERR_UNSUPPORTED;
    if (net->n_layers == 0) return SCALPEL_ERR_SHAPE;
    if (scalpel_export_name_problem(name) != NULL) return SCALPEL_ERR_ARGUMENT;
    if (!scalpel__ex_finite(net)) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__tmp_open(path, net->alloc_ctx, &tmp, &f);
    if (st != SCALPEL_OK) return st;
    errno = 0;
    if (scalpel__ex_write(f, net, name) != 0) st = scalpel__errno_status(errno);
    return scalpel__tmp_close(f, tmp, path, net->alloc_ctx, st);
}


/* ---- C-header export of a fixed-point network ------------------------------------------ */

/* One positional initializer for q->layers[i] (every field given). */
SCALPEL__PRIV int scalpel__ex_qlayer(FILE *f, const char *name, int32_t i, const scalpel_qlayer *L, const char *dt)
{
    int bad, weighted = scalpel__is_weighted(L->geom.kind), gcsr = weighted && L->storage == SCALPEL_STORAGE_GCSR;
    int32_t nw, nb, nm;
    char w[80], arr[3][80];
    scalpel__q_param_counts(L, &nw, &nb, &nm);
    if (weighted) nb = nm = 1; /* every weighted layer has all three arrays */
    if ((weighted && !gcsr) || nw > 0) sprintf(w, "%s_l%d_w", name, (int)i);
    else strcpy(w, "NULL");
    if (nb > 0) sprintf(arr[0], "%s_l%d_bias", name, (int)i);
    else strcpy(arr[0], "NULL");
    if (nm > 0) {
        sprintf(arr[1], "%s_l%d_mult", name, (int)i);
        sprintf(arr[2], "%s_l%d_shift", name, (int)i);
    } else {
        strcpy(arr[1], "NULL");
        strcpy(arr[2], "NULL");
    }
    bad = fputs("        { ", f) < 0;
    bad |= scalpel__ex_geom(f, &L->geom) < 0;
    bad |= fprintf(f, ", %d, %s,\n", (int)L->storage, w) < 0;
    if (gcsr && L->sparse.nnz_groups > 0)
        bad |= fprintf(f, "          { %ld, %ld, %d, %d, %s, %ld, (int32_t *)%s_l%d_row_ptr,\n"
                          "            (void *)%s_l%d_col_idx, (void *)%s_l%d_values, NULL, NULL },\n",
                       (long)L->sparse.rows, (long)L->sparse.cols, (int)L->sparse.group, (int)L->sparse.index_bits, dt,
                       (long)L->sparse.nnz_groups, name, (int)i, name, (int)i, name, (int)i) < 0;
    else if (gcsr)
        bad |= fprintf(f, "          { %ld, %ld, %d, %d, %s, 0, (int32_t *)%s_l%d_row_ptr, NULL, NULL, NULL, NULL },\n",
                       (long)L->sparse.rows, (long)L->sparse.cols, (int)L->sparse.group, (int)L->sparse.index_bits, dt,
                       name, (int)i) < 0;
    else
        bad |= fprintf(f, "          { 0, 0, 0, 0, %s, 0, NULL, NULL, NULL, NULL, NULL },\n", dt) < 0;
    bad |= fprintf(f, "          { %s, %s, %s, %d, %d }, ", arr[0], arr[1], arr[2], (int)L->rq.per_channel,
                   (int)L->rq.relu) < 0;
    bad |= scalpel__ex_float(f, L->out_scale) < 0;
    bad |= fputs(", NULL }", f) < 0;
    return bad ? -1 : 0;
}

SCALPEL__PRIV int scalpel__ex_qwrite(FILE *f, const scalpel_qnet *q, const char *name)
{
    int32_t i;
    const char *dt = q->dtype == SCALPEL_DTYPE_Q15 ? "SCALPEL_DTYPE_Q15" : "SCALPEL_DTYPE_Q7";
    char et = q->dtype == SCALPEL_DTYPE_Q15 ? 'h' : 'b';
    int bad = fprintf(f,
        "/* %s: a fixed-point (%s) Scalpel network exported by scalpel_qnet_export_c (Scalpel %s).\n"
        " * Generated file: do not edit. Input %ld x %ld x %ld (CHW), %ld layers, %lu weight bytes.\n"
        " * Use: #include \"scalpel.h\" first (the implementation compiled somewhere in the program),\n"
        " * then this header; `%s` is a ready scalpel_qnet for scalpel_qnet_forward, with no\n"
        " * allocation (a static workspace of scalpel_qnet_workspace_size(&%s, batch) bytes). */\n",
        name, q->dtype == SCALPEL_DTYPE_Q15 ? "q15" : "q7", SCALPEL_VERSION_STRING, (long)q->in_c, (long)q->in_h,
        (long)q->in_w, (long)q->n_layers, (unsigned long)scalpel_qnet_weight_bytes(q), name, name) < 0;
    bad |= scalpel__ex_prologue(f, "SCALPEL_QNET_EXPORT_", name) < 0;
    for (i = 0; i < q->n_layers && !bad; i++) {
        const scalpel_qlayer *L = &q->layers[i];
        int32_t nq = L->rq.per_channel ? L->geom.rows : 1;
        bad |= fprintf(f, "/* layer %d: %s, %ld x %ld x %ld -> %ld x %ld x %ld%s */\n", (int)i,
                       scalpel_layer_kind_name(L->geom.kind), (long)L->geom.in_c, (long)L->geom.in_h, (long)L->geom.in_w,
                       (long)L->geom.out_c, (long)L->geom.out_h, (long)L->geom.out_w,
                       !scalpel__is_weighted(L->geom.kind) ? ""
                       : L->storage == SCALPEL_STORAGE_DENSE ? ", dense" : ", grouped CSR") < 0;
        if (bad) continue;
        if (!scalpel__is_weighted(L->geom.kind)) { /* the constants of its kind (scalpel_qlayer) */
            int32_t nw, nb, nm;
            scalpel__q_param_counts(L, &nw, &nb, &nm);
            if (nw > 0) bad |= scalpel__ex_ints(f, name, i, "w", et, L->w, (size_t)nw) < 0;
            if (nb > 0 && !bad) bad |= scalpel__ex_ints(f, name, i, "bias", 'q', L->rq.bias, (size_t)nb) < 0;
            if (nm > 0 && !bad) bad |= scalpel__ex_ints(f, name, i, "mult", 'i', L->rq.mult, (size_t)nm) < 0;
            if (nm > 0 && !bad) bad |= scalpel__ex_ints(f, name, i, "shift", 'b', L->rq.shift, (size_t)nm) < 0;
            continue;
        }
        if (L->storage == SCALPEL_STORAGE_DENSE)
            bad |= scalpel__ex_ints(f, name, i, "w", et, L->w, (size_t)L->geom.rows * (size_t)L->geom.cols) < 0;
        else
            bad |= scalpel__ex_gcsr_index(f, name, i, &L->sparse) < 0 ||
                   (L->sparse.nnz_groups > 0 &&
                    scalpel__ex_ints(f, name, i, "values", et, L->sparse.values,
                                     (size_t)L->sparse.nnz_groups * (size_t)L->sparse.group) < 0);
        if (!bad) bad |= scalpel__ex_ints(f, name, i, "bias", 'q', L->rq.bias, (size_t)L->geom.rows) < 0;
        if (!bad) bad |= scalpel__ex_ints(f, name, i, "mult", 'i', L->rq.mult, (size_t)nq) < 0;
        if (!bad) bad |= scalpel__ex_ints(f, name, i, "shift", 'b', L->rq.shift, (size_t)nq) < 0;
    }
    if (bad) return -1;
    bad |= fprintf(f, "\n/* bytes of workspace scalpel_qnet_forward needs for one sample: size a static buffer */\n"
                      "#define %s_WORKSPACE_BYTES %lu\n", name, (unsigned long)scalpel_qnet_workspace_size(q, 1)) < 0;
    if (q->n_layers > 0) { /* exactly the layers the model has, in flash with the weights */
        bad |= fprintf(f, "\nstatic const scalpel_qlayer %s_layers[%ld] = {\n", name, (long)q->n_layers) < 0;
        for (i = 0; i < q->n_layers && !bad; i++) {
            bad |= scalpel__ex_qlayer(f, name, i, &q->layers[i], dt) < 0;
            bad |= fputs(i + 1 < q->n_layers ? ",\n" : "\n", f) < 0;
        }
        bad |= fputs("};\n", f) < 0;
    }
    bad |= fprintf(f, "\nSCALPEL_EXPORT_UNUSED static const scalpel_qnet %s = {\n    %s, %ld, %ld, %ld, %ld, ",
                   name, dt, (long)q->in_c, (long)q->in_h, (long)q->in_w, (long)q->n_layers) < 0;
    bad |= scalpel__ex_float(f, q->in_scale) < 0;
    if (q->n_layers > 0) bad |= fprintf(f, ",\n    (scalpel_qlayer *)%s_layers,\n", name) < 0;
    else bad |= fputs(",\n    NULL,\n", f) < 0;
    bad |= fprintf(f, "    0, NULL\n};\n\n#endif /* SCALPEL_QNET_EXPORT_%s_H */\n", name) < 0;
    return bad ? -1 : 0;
}

SCALPEL_API scalpel_status scalpel_qnet_export_c(const scalpel_qnet *q, const char *name, const char *path)
{
    char *tmp = NULL;
    FILE *f = NULL;
    scalpel_status st;
    if (q == NULL || name == NULL || path == NULL) return SCALPEL_ERR_NULL;
    st = scalpel_qnet_validate(q);
    if (st != SCALPEL_OK) return st;
    if (q->n_layers == 0) return SCALPEL_ERR_SHAPE;
    if (scalpel_export_name_problem(name) != NULL) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__tmp_open(path, q->alloc_ctx, &tmp, &f);
    if (st != SCALPEL_OK) return st;
    errno = 0;
    if (scalpel__ex_qwrite(f, q, name) != 0) st = scalpel__errno_status(errno);
    return scalpel__tmp_close(f, tmp, path, q->alloc_ctx, st);
}


#endif /* SCALPEL_NO_MALLOC */


/* ======================================================================================== */
/* >>safetensors                                                                            */
/* ======================================================================================== */

/* safetensors reader: PyTorch / Hugging Face weights straight into a scalpel_net.
 *
 * FORMAT
 *   offset  size  field
 *   0       8     N: header length, unsigned little-endian
 *   8       N     UTF-8 JSON object: "name": {"dtype": "F32", "shape": [d0, ...],
 *                 "data_offsets": [begin, end]}, ..., plus at most one "__metadata__"
 *                 object of string -> string
 *   8 + N   D     the data region; a tensor's bytes are [begin, end) relative to its start,
 *                 row-major, little-endian
 *
 * WHAT IS VALIDATED, on every scalpel_safetensors_find, for every entry (not only the one asked
 * for), before any byte is trusted:
 *   - 8 <= size, N <= size - 8 (else SCALPEL_ERR_TRUNCATED), 2 <= N <= 100,000,000, the header
 *     starts with '{';
 *   - strict JSON (RFC 8259): strings are valid UTF-8 with no control characters, escapes are
 *     \" \\ \/ \b \f \n \r \t \uXXXX with surrogates paired; nothing but whitespace after the
 *     object; unknown keys of a tensor entry are skipped, nested at most 64 deep;
 *   - every tensor has exactly one dtype (a safetensors dtype name), shape (non-negative
 *     integers that fit int64) and data_offsets (two of them); names are unique;
 *   - end - begin == product(shape) * element size, computed with overflow checks;
 *     begin <= end, end <= D (else SCALPEL_ERR_TRUNCATED);
 *   - the tensors tile the data region exactly: no overlap, no gap, nothing after the last
 *     (the official reader's rule; empty tensors may sit on any tile boundary);
 *   - at most 16384 tensors (more: SCALPEL_ERR_UNSUPPORTED).
 *   Any other failure is SCALPEL_ERR_CORRUPT. Then, for the tensor asked for: absent is
 *   SCALPEL_ERR_ARGUMENT; a dtype other than F32, F16 and BF16, more than 4 dimensions or a
 *   name longer than 127 bytes is SCALPEL_ERR_UNSUPPORTED.
 *
 * IMPORT (scalpel_net_import_safetensors) is all-or-nothing: every tensor is found, checked
 *   and converted into a temporary block before any layer changes, so on failure the network
 *   is exactly as it was. Errors: a missing "<prefix>.weight", or as many "*.weight" tensors
 *   as weighted layers not found (prefixes == NULL, n_prefixes must then be 0), or a value
 *   that is not finite: SCALPEL_ERR_ARGUMENT; a tensor whose shape is not the layer's:
 *   SCALPEL_ERR_SHAPE; the file's own errors as find reports them.
 *
 * COST
 *   The parser walks the header in place and allocates nothing (about 2.5 KB of stack). Names
 *   and ranges are compared pairwise, 64 tensors per walk of the header: a file with T
 *   tensors costs 1 + T / 64 walks, a few milliseconds for a thousand tensors and about a
 *   second at the cap of 16384. Call find once per tensor you need (import does exactly that).
 */

#define SCALPEL__ST_MAX_HEADER 100000000u
#define SCALPEL__ST_MAX_TENSORS 16384
#define SCALPEL__ST_MAX_DEPTH 64
#define SCALPEL__ST_CHUNK 64

/* A cursor over the header text. */
typedef struct scalpel__st_cur {
    const uint8_t *s;
    size_t n;
    size_t i;
} scalpel__st_cur;

/* One tensor entry as parsed from the header: its name as the raw (still escaped) bytes
 * s[key_b, key_e) of the header, and everything else decoded. dtype indexes
 * scalpel__st_dtypes. */
typedef struct scalpel__st_entry {
    size_t key_b, key_e;
    int key_plain;         /* no escapes: the raw bytes are the name */
    int32_t dtype;
    int32_t ndim;          /* the real rank, possibly above 4 */
    int64_t shape[4];      /* the first four dimensions */
    int64_t count;
    uint64_t begin, end;
} scalpel__st_entry;

/* Every dtype the safetensors format defines, with its size in bits, so that a file holding
 * tensors we cannot convert still validates (their bytes are counted in the tiling), and only
 * asking for one of them is refused. The first three are SCALPEL_ST_F32, _F16 and _BF16. */
typedef struct scalpel__st_dtype {
    const char *name;
    int32_t bits;
} scalpel__st_dtype;

static const scalpel__st_dtype scalpel__st_dtypes[] = {
    { "F32", 32 }, { "F16", 16 }, { "BF16", 16 },
    { "F64", 64 }, { "I64", 64 }, { "U64", 64 }, { "I32", 32 }, { "U32", 32 },
    { "I16", 16 }, { "U16", 16 }, { "I8", 8 }, { "U8", 8 }, { "BOOL", 8 },
    { "F8_E5M2", 8 }, { "F8_E4M3", 8 }, { "F8_E8M0", 8 }, { "C64", 64 },
    { "F6_E2M3", 6 }, { "F6_E3M2", 6 }, { "F4", 4 }
};
#define SCALPEL__ST_N_DTYPES ((int32_t)(sizeof(scalpel__st_dtypes) / sizeof(scalpel__st_dtypes[0])))

SCALPEL__PRIV void scalpel__st_ws(scalpel__st_cur *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' ||
                           c->s[c->i] == '\r'))
        c->i++;
}

/* Consumes `ch` after optional whitespace, or reports the header corrupt. */
SCALPEL__PRIV scalpel_status scalpel__st_expect(scalpel__st_cur *c, uint8_t ch)
{
    scalpel__st_ws(c);
    if (c->i >= c->n || c->s[c->i] != ch) return SCALPEL_ERR_CORRUPT;
    c->i++;
    return SCALPEL_OK;
}

SCALPEL__PRIV int scalpel__st_hex(uint8_t ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Four hex digits at s[i..i+4), bounds already checked by the caller; -1 if not hex. */
SCALPEL__PRIV int32_t scalpel__st_hex4(const uint8_t *s, size_t i)
{
    int32_t v = 0;
    int k;
    for (k = 0; k < 4; k++) {
        int h = scalpel__st_hex(s[i + (size_t)k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Length of the UTF-8 sequence starting at s[i] (< n), 0 if it is not well formed. Rejects
 * overlong forms, surrogates and code points past U+10FFFF, as RFC 3629 does, so that two
 * names that differ only in their encoding can never both pass. */
SCALPEL__PRIV size_t scalpel__st_utf8_len(const uint8_t *s, size_t n, size_t i)
{
    uint8_t b0 = s[i];
    size_t len, k;
    uint32_t cp;
    if (b0 < 0x80) return 1;
    if (b0 >= 0xC2 && b0 <= 0xDF) { len = 2; cp = b0 & 0x1Fu; }
    else if (b0 >= 0xE0 && b0 <= 0xEF) { len = 3; cp = b0 & 0x0Fu; }
    else if (b0 >= 0xF0 && b0 <= 0xF4) { len = 4; cp = b0 & 0x07u; }
    else return 0;
    if (n - i < len) return 0;
    for (k = 1; k < len; k++) {
        if ((s[i + k] & 0xC0u) != 0x80u) return 0;
        cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    if (len == 3 && (cp < 0x800u || (cp >= 0xD800u && cp <= 0xDFFFu))) return 0;
    if (len == 4 && (cp < 0x10000u || cp > 0x10FFFFu)) return 0;
    return len;
}

/* Parses a JSON string at the cursor (which must be on its opening quote) and reports the
 * raw bytes between the quotes, s[*b, *e). Everything a later decode relies on is checked
 * here, so the decoders below never meet a malformed string. */
SCALPEL__PRIV scalpel_status scalpel__st_string(scalpel__st_cur *c, size_t *b, size_t *e)
{
    const uint8_t *s = c->s;
    size_t i = c->i, n = c->n;
    if (i >= n || s[i] != '"') return SCALPEL_ERR_CORRUPT;
    i++;
    *b = i;
    for (;;) {
        uint8_t ch;
        if (i >= n) return SCALPEL_ERR_CORRUPT; /* unterminated */
        ch = s[i];
        if (ch == '"') break;
        if (ch < 0x20) return SCALPEL_ERR_CORRUPT;
        if (ch == '\\') {
            if (n - i < 2) return SCALPEL_ERR_CORRUPT;
            ch = s[i + 1];
            if (ch == '"' || ch == '\\' || ch == '/' || ch == 'b' || ch == 'f' || ch == 'n' ||
                ch == 'r' || ch == 't') {
                i += 2;
            } else if (ch == 'u') {
                int32_t u;
                if (n - i < 6 || (u = scalpel__st_hex4(s, i + 2)) < 0) return SCALPEL_ERR_CORRUPT;
                i += 6;
                if (u >= 0xDC00 && u <= 0xDFFF) return SCALPEL_ERR_CORRUPT; /* lone low half */
                if (u >= 0xD800 && u <= 0xDBFF) {
                    int32_t lo;
                    if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u') return SCALPEL_ERR_CORRUPT;
                    lo = scalpel__st_hex4(s, i + 2);
                    if (lo < 0xDC00 || lo > 0xDFFF) return SCALPEL_ERR_CORRUPT;
                    i += 6;
                }
            } else {
                return SCALPEL_ERR_CORRUPT;
            }
        } else {
            size_t len = scalpel__st_utf8_len(s, n, i);
            if (len == 0) return SCALPEL_ERR_CORRUPT;
            i += len;
        }
    }
    *e = i;
    c->i = i + 1;
    return SCALPEL_OK;
}

/* Next code point of a string already checked by scalpel__st_string, raw bytes s[*i, e). */
SCALPEL__PRIV uint32_t scalpel__st_next_cp(const uint8_t *s, size_t e, size_t *i)
{
    size_t k = *i;
    uint8_t ch = s[k];
    uint32_t cp;
    if (ch == '\\') {
        ch = s[k + 1];
        *i = k + 2;
        switch (ch) {
        case 'b': return 8;
        case 'f': return 12;
        case 'n': return 10;
        case 'r': return 13;
        case 't': return 9;
        case 'u':
            cp = (uint32_t)scalpel__st_hex4(s, k + 2);
            *i = k + 6;
            if (cp >= 0xD800u && cp <= 0xDBFFu) {
                uint32_t lo = (uint32_t)scalpel__st_hex4(s, k + 8);
                *i = k + 12;
                cp = 0x10000u + ((cp - 0xD800u) << 10) + (lo - 0xDC00u);
            }
            return cp;
        default: return ch; /* " \ / */
        }
    }
    if (ch < 0x80) { *i = k + 1; return ch; }
    {
        size_t len = scalpel__st_utf8_len(s, e, k), j;
        cp = ch & (len == 2 ? 0x1Fu : len == 3 ? 0x0Fu : 0x07u);
        for (j = 1; j < len; j++) cp = (cp << 6) | (s[k + j] & 0x3Fu);
        *i = k + len;
        return cp;
    }
}

/* The UTF-8 bytes of code point cp into u[4]; returns how many. */
SCALPEL__PRIV size_t scalpel__st_utf8_put(uint32_t cp, uint8_t *u)
{
    if (cp < 0x80u) { u[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800u) { u[0] = (uint8_t)(0xC0u | (cp >> 6)); u[1] = (uint8_t)(0x80u | (cp & 0x3Fu)); return 2; }
    if (cp < 0x10000u) {
        u[0] = (uint8_t)(0xE0u | (cp >> 12)); u[1] = (uint8_t)(0x80u | ((cp >> 6) & 0x3Fu));
        u[2] = (uint8_t)(0x80u | (cp & 0x3Fu));
        return 3;
    }
    u[0] = (uint8_t)(0xF0u | (cp >> 18)); u[1] = (uint8_t)(0x80u | ((cp >> 12) & 0x3Fu));
    u[2] = (uint8_t)(0x80u | ((cp >> 6) & 0x3Fu)); u[3] = (uint8_t)(0x80u | (cp & 0x3Fu));
    return 4;
}

/* Decodes a checked string s[b, e) into out[cap] (no terminator) and returns its full decoded
 * length, which may exceed cap: the caller learns the length and the first cap bytes in one
 * pass. */
SCALPEL__PRIV size_t scalpel__st_decode(const uint8_t *s, size_t b, size_t e, char *out, size_t cap)
{
    size_t i = b, len = 0;
    while (i < e) {
        uint8_t u[4];
        size_t k, m = scalpel__st_utf8_put(scalpel__st_next_cp(s, e, &i), u);
        for (k = 0; k < m; k++, len++)
            if (len < cap) out[len] = (char)u[k];
    }
    return len;
}

/* Whether the checked string s[b, e) decodes to exactly name[name_len]. */
SCALPEL__PRIV int scalpel__st_str_is(const uint8_t *s, size_t b, size_t e, const char *name,
                                     size_t name_len)
{
    size_t i = b, j = 0;
    while (i < e) {
        uint8_t u[4];
        size_t k, m;
        if (s[i] != '\\' && s[i] < 0x80) { /* the common case, byte for byte */
            if (j >= name_len || (uint8_t)name[j] != s[i]) return 0;
            i++; j++;
            continue;
        }
        m = scalpel__st_utf8_put(scalpel__st_next_cp(s, e, &i), u);
        for (k = 0; k < m; k++, j++)
            if (j >= name_len || (uint8_t)name[j] != u[k]) return 0;
    }
    return j == name_len;
}

/* Whether two checked strings of the same header decode to the same text (escapes may differ:
 * "a" and "\u0061" are one name). `plain` says neither holds an escape, the common case that
 * the pairwise duplicate check must make cheap. */
SCALPEL__PRIV int scalpel__st_str_eq(const uint8_t *s, size_t b1, size_t e1, size_t b2, size_t e2,
                                     int plain)
{
    size_t i = b1, j = b2;
    if (plain) return e1 - b1 == e2 - b2 && memcmp(s + b1, s + b2, e1 - b1) == 0;
    while (i < e1 && j < e2)
        if (scalpel__st_next_cp(s, e1, &i) != scalpel__st_next_cp(s, e2, &j)) return 0;
    return i == e1 && j == e2;
}

/* A JSON integer that must be non-negative and fit int64: "0" or a digit run without a
 * leading zero, not followed by a fraction or an exponent (2.0 and 1e3 are refused: the
 * format writes plain integers, and accepting them would invite rounding). */
SCALPEL__PRIV scalpel_status scalpel__st_uint(scalpel__st_cur *c, int64_t *v)
{
    const uint8_t *s = c->s;
    size_t i;
    int64_t x = 0;
    scalpel__st_ws(c);
    i = c->i;
    if (i >= c->n || s[i] < '0' || s[i] > '9') return SCALPEL_ERR_CORRUPT; /* also '-' */
    if (s[i] == '0' && i + 1 < c->n && s[i + 1] >= '0' && s[i + 1] <= '9') return SCALPEL_ERR_CORRUPT;
    while (i < c->n && s[i] >= '0' && s[i] <= '9') {
        int d = s[i] - '0';
        if (x > (INT64_MAX - d) / 10) return SCALPEL_ERR_CORRUPT;
        x = x * 10 + d;
        i++;
    }
    if (i < c->n && (s[i] == '.' || s[i] == 'e' || s[i] == 'E')) return SCALPEL_ERR_CORRUPT;
    c->i = i;
    *v = x;
    return SCALPEL_OK;
}

/* Skips any JSON number (full grammar), for values of keys we do not use. */
SCALPEL__PRIV scalpel_status scalpel__st_skip_number(scalpel__st_cur *c)
{
    const uint8_t *s = c->s;
    size_t i = c->i, n = c->n, d;
    if (i < n && s[i] == '-') i++;
    if (i >= n || s[i] < '0' || s[i] > '9') return SCALPEL_ERR_CORRUPT;
    if (s[i] == '0') i++;
    else while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i < n && s[i] == '.') {
        for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++) {}
        if (i == d) return SCALPEL_ERR_CORRUPT;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++) {}
        if (i == d) return SCALPEL_ERR_CORRUPT;
    }
    c->i = i;
    return SCALPEL_OK;
}

/* Skips one JSON value of any kind. Recursion is bounded by SCALPEL__ST_MAX_DEPTH, so a
 * header of ten million '[' costs a refusal, not the stack. */
SCALPEL__PRIV scalpel_status scalpel__st_skip(scalpel__st_cur *c, int depth)
{
    scalpel_status st;
    size_t b, e;
    scalpel__st_ws(c);
    if (c->i >= c->n) return SCALPEL_ERR_CORRUPT;
    switch (c->s[c->i]) {
    case '"': return scalpel__st_string(c, &b, &e);
    case '{':
    case '[': {
        uint8_t close = c->s[c->i] == '{' ? '}' : ']';
        if (depth >= SCALPEL__ST_MAX_DEPTH) return SCALPEL_ERR_CORRUPT;
        c->i++;
        scalpel__st_ws(c);
        if (c->i < c->n && c->s[c->i] == close) { c->i++; return SCALPEL_OK; }
        for (;;) {
            if (close == '}') {
                scalpel__st_ws(c);
                if ((st = scalpel__st_string(c, &b, &e)) != SCALPEL_OK) return st;
                if ((st = scalpel__st_expect(c, ':')) != SCALPEL_OK) return st;
            }
            if ((st = scalpel__st_skip(c, depth + 1)) != SCALPEL_OK) return st;
            scalpel__st_ws(c);
            if (c->i >= c->n) return SCALPEL_ERR_CORRUPT;
            if (c->s[c->i] == close) { c->i++; return SCALPEL_OK; }
            if (c->s[c->i] != ',') return SCALPEL_ERR_CORRUPT;
            c->i++;
        }
    }
    case 't':
    case 'f':
    case 'n': {
        const char *lit = c->s[c->i] == 't' ? "true" : c->s[c->i] == 'f' ? "false" : "null";
        size_t len = strlen(lit);
        if (c->n - c->i < len || memcmp(c->s + c->i, lit, len) != 0) return SCALPEL_ERR_CORRUPT;
        c->i += len;
        return SCALPEL_OK;
    }
    default: return scalpel__st_skip_number(c);
    }
}

/* One tensor entry {"dtype": ..., "shape": [...], "data_offsets": [b, e]} (any key order,
 * unknown keys skipped), checked against the data region of data_size bytes. */
SCALPEL__PRIV scalpel_status scalpel__st_entry_parse(scalpel__st_cur *c, uint64_t data_size,
                                                     scalpel__st_entry *en)
{
    scalpel_status st;
    int seen_dtype = 0, seen_shape = 0, seen_off = 0;
    uint64_t bits;
    en->dtype = -1;
    en->ndim = 0;
    en->count = 1;
    if ((st = scalpel__st_expect(c, '{')) != SCALPEL_OK) return st;
    scalpel__st_ws(c);
    if (c->i < c->n && c->s[c->i] == '}') return SCALPEL_ERR_CORRUPT; /* no fields at all */
    for (;;) {
        size_t kb, ke;
        scalpel__st_ws(c);
        if ((st = scalpel__st_string(c, &kb, &ke)) != SCALPEL_OK) return st;
        if ((st = scalpel__st_expect(c, ':')) != SCALPEL_OK) return st;
        if (scalpel__st_str_is(c->s, kb, ke, "dtype", 5)) {
            size_t vb, ve;
            int32_t d;
            if (seen_dtype++) return SCALPEL_ERR_CORRUPT;
            scalpel__st_ws(c);
            if ((st = scalpel__st_string(c, &vb, &ve)) != SCALPEL_OK) return st;
            for (d = 0; d < SCALPEL__ST_N_DTYPES; d++)
                if (scalpel__st_str_is(c->s, vb, ve, scalpel__st_dtypes[d].name,
                                       strlen(scalpel__st_dtypes[d].name)))
                    en->dtype = d;
            if (en->dtype < 0) return SCALPEL_ERR_CORRUPT;
        } else if (scalpel__st_str_is(c->s, kb, ke, "shape", 5)) {
            if (seen_shape++) return SCALPEL_ERR_CORRUPT;
            if ((st = scalpel__st_expect(c, '[')) != SCALPEL_OK) return st;
            scalpel__st_ws(c);
            if (c->i < c->n && c->s[c->i] == ']') {
                c->i++; /* a scalar: one element */
            } else {
                for (;;) {
                    int64_t d;
                    if ((st = scalpel__st_uint(c, &d)) != SCALPEL_OK) return st;
                    if (en->ndim < 4) en->shape[en->ndim] = d;
                    if (en->ndim == INT32_MAX) return SCALPEL_ERR_CORRUPT;
                    en->ndim++;
                    /* checked step by step, as the official reader does, so that no prefix
                     * of the product overflows either */
                    if (d != 0 && en->count > INT64_MAX / d) return SCALPEL_ERR_CORRUPT;
                    en->count *= d;
                    scalpel__st_ws(c);
                    if (c->i < c->n && c->s[c->i] == ']') { c->i++; break; }
                    if ((st = scalpel__st_expect(c, ',')) != SCALPEL_OK) return st;
                }
            }
        } else if (scalpel__st_str_is(c->s, kb, ke, "data_offsets", 12)) {
            int64_t b, e;
            if (seen_off++) return SCALPEL_ERR_CORRUPT;
            if ((st = scalpel__st_expect(c, '[')) != SCALPEL_OK) return st;
            if ((st = scalpel__st_uint(c, &b)) != SCALPEL_OK) return st;
            if ((st = scalpel__st_expect(c, ',')) != SCALPEL_OK) return st;
            if ((st = scalpel__st_uint(c, &e)) != SCALPEL_OK) return st;
            if ((st = scalpel__st_expect(c, ']')) != SCALPEL_OK) return st;
            en->begin = (uint64_t)b;
            en->end = (uint64_t)e;
        } else {
            if ((st = scalpel__st_skip(c, 2)) != SCALPEL_OK) return st;
        }
        scalpel__st_ws(c);
        if (c->i >= c->n) return SCALPEL_ERR_CORRUPT;
        if (c->s[c->i] == '}') { c->i++; break; }
        if (c->s[c->i] != ',') return SCALPEL_ERR_CORRUPT;
        c->i++;
    }
    if (!seen_dtype || !seen_shape || !seen_off) return SCALPEL_ERR_CORRUPT;
    if (en->begin > en->end) return SCALPEL_ERR_CORRUPT;
    if (en->end > data_size) return SCALPEL_ERR_TRUNCATED;
    /* bytes = count * bits / 8, whole bytes only (sub-byte dtypes pack) */
    bits = (uint64_t)scalpel__st_dtypes[en->dtype].bits;
    if ((uint64_t)en->count > UINT64_MAX / bits) return SCALPEL_ERR_CORRUPT;
    if (((uint64_t)en->count * bits) % 8u != 0) return SCALPEL_ERR_CORRUPT;
    if (en->end - en->begin != (uint64_t)en->count * bits / 8u) return SCALPEL_ERR_CORRUPT;
    return SCALPEL_OK;
}

/* State of one walk over the header. Every walk checks the whole syntax again (it is cheap
 * next to keeping anything), counts the entries, looks for `name`, sums the tensors' bytes,
 * and compares each entry with the chunk of entries [chunk_start, chunk_start + CHUNK) it has
 * collected so far: duplicate names and overlapping ranges. One walk per chunk covers every
 * pair once, with a fixed 2.5 KB of state. */
typedef struct scalpel__st_walk {
    uint64_t data_size;
    const char *name;
    size_t name_len;
    int found;
    scalpel__st_entry hit;
    int64_t count;
    uint64_t covered;
    int64_t chunk_start;
    int32_t chunk_n;
    size_t ck_b[SCALPEL__ST_CHUNK], ck_e[SCALPEL__ST_CHUNK];
    int ck_plain[SCALPEL__ST_CHUNK];
    uint64_t ck_begin[SCALPEL__ST_CHUNK], ck_end[SCALPEL__ST_CHUNK];
} scalpel__st_walk;

/* Whether byte ranges [b1, e1) and [b2, e2) break the tiling rule: two non-empty ranges may
 * not share a byte, and an empty range may not sit strictly inside a non-empty one. */
SCALPEL__PRIV int scalpel__st_clash(uint64_t b1, uint64_t e1, uint64_t b2, uint64_t e2)
{
    if (b1 == e1 && b2 == e2) return 0;
    if (b1 == e1) return b2 < b1 && b1 < e2;
    if (b2 == e2) return b1 < b2 && b2 < e1;
    return b1 < e2 && b2 < e1;
}

/* One entry of a walk (the k-th, k = w->count): counted against the cap and the region, looked
 * for when it is the first walk, then compared with the chunk and kept when it belongs to it. */
SCALPEL__PRIV scalpel_status scalpel__st_visit(scalpel__st_walk *w, const uint8_t *s,
                                               const scalpel__st_entry *en)
{
    int64_t k = w->count;
    int32_t j;
    if (w->count >= SCALPEL__ST_MAX_TENSORS) return SCALPEL_ERR_UNSUPPORTED;
    w->count++;
    /* covered <= data_size always holds, so the subtraction cannot wrap and neither can the sum */
    if (en->end - en->begin > w->data_size - w->covered) return SCALPEL_ERR_CORRUPT;
    w->covered += en->end - en->begin;
    if (w->chunk_start == 0 && w->name != NULL && !w->found &&
        scalpel__st_str_is(s, en->key_b, en->key_e, w->name, w->name_len)) {
        w->found = 1;
        w->hit = *en;
    }
    if (k < w->chunk_start) return SCALPEL_OK;
    for (j = 0; j < w->chunk_n; j++) {
        if (scalpel__st_clash(w->ck_begin[j], w->ck_end[j], en->begin, en->end))
            return SCALPEL_ERR_CORRUPT;
        if (scalpel__st_str_eq(s, w->ck_b[j], w->ck_e[j], en->key_b, en->key_e,
                               w->ck_plain[j] && en->key_plain))
            return SCALPEL_ERR_CORRUPT;
    }
    if (k < w->chunk_start + SCALPEL__ST_CHUNK) {
        w->ck_b[w->chunk_n] = en->key_b;
        w->ck_e[w->chunk_n] = en->key_e;
        w->ck_plain[w->chunk_n] = en->key_plain;
        w->ck_begin[w->chunk_n] = en->begin;
        w->ck_end[w->chunk_n] = en->end;
        w->chunk_n++;
    }
    return SCALPEL_OK;
}

/* One walk over the header text s[n]: the top-level object, each entry visited in order. */
SCALPEL__PRIV scalpel_status scalpel__st_walk_header(const uint8_t *s, size_t n, scalpel__st_walk *w)
{
    scalpel__st_cur c;
    scalpel_status st;
    int seen_meta = 0;
    c.s = s;
    c.n = n;
    c.i = 0;
    w->count = 0;
    w->covered = 0;
    w->chunk_n = 0;
    if (n == 0 || s[0] != '{') return SCALPEL_ERR_CORRUPT;
    c.i = 1;
    scalpel__st_ws(&c);
    if (c.i < n && s[c.i] == '}') {
        c.i++;
    } else {
        for (;;) {
            scalpel__st_entry en;
            size_t kb, ke;
            scalpel__st_ws(&c);
            if ((st = scalpel__st_string(&c, &kb, &ke)) != SCALPEL_OK) return st;
            if ((st = scalpel__st_expect(&c, ':')) != SCALPEL_OK) return st;
            if (scalpel__st_str_is(s, kb, ke, "__metadata__", 12)) {
                /* string -> string, nothing else (the official reader's rule) */
                if (seen_meta++) return SCALPEL_ERR_CORRUPT;
                if ((st = scalpel__st_expect(&c, '{')) != SCALPEL_OK) return st;
                scalpel__st_ws(&c);
                if (c.i < n && s[c.i] == '}') {
                    c.i++;
                } else {
                    for (;;) {
                        size_t b, e;
                        scalpel__st_ws(&c);
                        if ((st = scalpel__st_string(&c, &b, &e)) != SCALPEL_OK) return st;
                        if ((st = scalpel__st_expect(&c, ':')) != SCALPEL_OK) return st;
                        scalpel__st_ws(&c);
                        if ((st = scalpel__st_string(&c, &b, &e)) != SCALPEL_OK) return st;
                        scalpel__st_ws(&c);
                        if (c.i >= n) return SCALPEL_ERR_CORRUPT;
                        if (s[c.i] == '}') { c.i++; break; }
                        if (s[c.i] != ',') return SCALPEL_ERR_CORRUPT;
                        c.i++;
                    }
                }
            } else {
                memset(&en, 0, sizeof(en));
                if ((st = scalpel__st_entry_parse(&c, w->data_size, &en)) != SCALPEL_OK) return st;
                en.key_b = kb;
                en.key_e = ke;
                en.key_plain = memchr(s + kb, '\\', ke - kb) == NULL;
                if ((st = scalpel__st_visit(w, s, &en)) != SCALPEL_OK) return st;
            }
            scalpel__st_ws(&c);
            if (c.i >= n) return SCALPEL_ERR_CORRUPT;
            if (s[c.i] == '}') { c.i++; break; }
            if (s[c.i] != ',') return SCALPEL_ERR_CORRUPT;
            c.i++;
        }
    }
    scalpel__st_ws(&c); /* writers pad the header with spaces to a multiple of 8 */
    if (c.i != n) return SCALPEL_ERR_CORRUPT;
    /* non-empty ranges that do not overlap and sum to the region tile it exactly */
    if (w->covered != w->data_size) return SCALPEL_ERR_CORRUPT;
    return SCALPEL_OK;
}

/* Validates the whole file data[size] (every walk the header needs) and looks for the tensor
 * whose name decodes to name[name_len] (name == NULL: none); w->found and w->hit say what the
 * first walk saw. */
SCALPEL__PRIV scalpel_status scalpel__st_check(const uint8_t *bytes, size_t size, const char *name,
                                               size_t name_len, scalpel__st_walk *w)
{
    uint64_t hlen;
    int64_t start;
    scalpel_status st;
    memset(w, 0, sizeof(*w));
    if (size < 8) return SCALPEL_ERR_TRUNCATED;
    hlen = scalpel__get_u64(bytes);
    if (hlen > SCALPEL__ST_MAX_HEADER) return SCALPEL_ERR_CORRUPT;
    if (hlen > (uint64_t)(size - 8)) return SCALPEL_ERR_TRUNCATED;
    w->data_size = (uint64_t)(size - 8) - hlen;
    w->name = name;
    w->name_len = name_len;
    /* first walk: syntax, counts, the name, and the pairs within the first chunk; then one
     * walk per further chunk for the remaining pairs */
    for (start = 0; start == 0 || start < w->count; start += SCALPEL__ST_CHUNK) {
        w->chunk_start = start;
        if ((st = scalpel__st_walk_header(bytes + 8, (size_t)hlen, w)) != SCALPEL_OK) return st;
    }
    return SCALPEL_OK;
}

/* The core of scalpel_safetensors_find for a name given with its length (import builds names
 * that need no terminator). */
SCALPEL__PRIV scalpel_status scalpel__st_find(const void *data, size_t size, const char *name,
                                              size_t name_len, scalpel_safetensors_tensor *out)
{
    const uint8_t *bytes = (const uint8_t *)data;
    scalpel__st_walk w;
    scalpel_status st;
    int32_t k;
    memset(out, 0, sizeof(*out));
    if ((st = scalpel__st_check(bytes, size, name, name_len, &w)) != SCALPEL_OK) return st;
    if (!w.found) return SCALPEL_ERR_ARGUMENT;
    if (name_len > sizeof(out->name) - 1 || w.hit.dtype > SCALPEL_ST_BF16 || w.hit.ndim > 4)
        return SCALPEL_ERR_UNSUPPORTED;
    memcpy(out->name, name, name_len);
    out->name[name_len] = '\0';
    out->dtype = w.hit.dtype;
    out->ndim = w.hit.ndim;
    for (k = 0; k < w.hit.ndim; k++) out->shape[k] = w.hit.shape[k];
    out->count = w.hit.count;
    out->data = bytes + (size - (size_t)w.data_size) + (size_t)w.hit.begin;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_safetensors_find(const void *data, size_t size, const char *name,
                                                    scalpel_safetensors_tensor *out)
{
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (data == NULL || name == NULL) return SCALPEL_ERR_NULL;
    return scalpel__st_find(data, size, name, strlen(name), out);
}

/* An F16 bit pattern widened to the float with the same value (every half is a float):
 * subnormals are renormalised, infinities and NaN payloads kept. */
SCALPEL__PRIV float scalpel__st_half(uint32_t h)
{
    uint32_t sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu, bits;
    float f;
    if (e == 0x1Fu) {
        bits = sign | 0x7F800000u | (m << 13);
    } else if (e != 0) {
        bits = sign | ((e + 112u) << 23) | (m << 13);
    } else if (m == 0) {
        bits = sign;
    } else {
        e = 113u; /* the exponent of 2^-14, the subnormals' scale, as a float exponent */
        while ((m & 0x400u) == 0) { m <<= 1; e--; }
        bits = sign | (e << 23) | ((m & 0x3FFu) << 13);
    }
    memcpy(&f, &bits, sizeof(f));
    return f;
}

SCALPEL_API scalpel_status scalpel_safetensors_read_f32(const scalpel_safetensors_tensor *t, float *out,
                                                        int64_t count)
{
    int64_t i, n = 1;
    int32_t k;
    if (t == NULL || out == NULL) return SCALPEL_ERR_NULL;
    if (t->dtype < SCALPEL_ST_F32 || t->dtype > SCALPEL_ST_BF16) return SCALPEL_ERR_UNSUPPORTED;
    if (t->ndim < 0 || t->ndim > 4) return SCALPEL_ERR_ARGUMENT;
    /* the struct may come from anywhere: its count must follow from its shape */
    for (k = 0; k < t->ndim; k++) {
        if (t->shape[k] < 0) return SCALPEL_ERR_SHAPE;
        if (t->shape[k] != 0 && n > INT64_MAX / t->shape[k]) return SCALPEL_ERR_OVERFLOW;
        n *= t->shape[k];
    }
    if (t->count != n || count != t->count) return SCALPEL_ERR_ARGUMENT;
    if ((uint64_t)count > (uint64_t)(SIZE_MAX / 4)) return SCALPEL_ERR_OVERFLOW;
    if (count > 0 && t->data == NULL) return SCALPEL_ERR_NULL;
    for (i = 0; i < count; i++) {
        const uint8_t *p;
        uint32_t bits;
        if (t->dtype == SCALPEL_ST_F32) {
            p = t->data + (size_t)i * 4;
            bits = scalpel__get_u32(p);
            memcpy(&out[i], &bits, sizeof(bits));
        } else {
            p = t->data + (size_t)i * 2;
            bits = scalpel__get_u16(p);
            if (t->dtype == SCALPEL_ST_F16) {
                out[i] = scalpel__st_half(bits);
            } else {
                bits <<= 16; /* bfloat16 is the top half of a float */
                memcpy(&out[i], &bits, sizeof(bits));
            }
        }
    }
    return SCALPEL_OK;
}

#ifndef SCALPEL_NO_MALLOC

/* Natural order: runs of digits compare as numbers ("fc2" < "fc10", "2" < "10"), everything
 * else byte by byte; names equal that way ("01" and "1") fall back to plain byte order so the
 * order is total and deterministic. */
SCALPEL__PRIV int scalpel__st_natcmp(const char *a, const char *b)
{
    const char *a0 = a, *b0 = b;
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            const char *ae, *be;
            size_t al, bl;
            while (*a == '0') a++;
            while (*b == '0') b++;
            for (ae = a; *ae >= '0' && *ae <= '9'; ae++) {}
            for (be = b; *be >= '0' && *be <= '9'; be++) {}
            al = (size_t)(ae - a);
            bl = (size_t)(be - b);
            if (al != bl) return al < bl ? -1 : 1;
            if (al > 0) {
                int r = memcmp(a, b, al);
                if (r != 0) return r < 0 ? -1 : 1;
            }
            a = ae;
            b = be;
        } else {
            if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++;
            b++;
        }
    }
    if (*a || *b) return *a ? 1 : -1;
    return strcmp(a0, b0);
}

/* Collects the prefixes of every "<prefix>.weight" tensor of a header already validated by a
 * find, into pre[max][128]; *n = how many there are (even past max, so the caller can tell a
 * mismatch). A prefix too long for the buffers, or holding a NUL, is unsupported. */
SCALPEL__PRIV scalpel_status scalpel__st_weight_prefixes(const uint8_t *bytes, int32_t max,
                                                         char (*pre)[128], int32_t *n)
{
    uint64_t hlen = scalpel__get_u64(bytes);
    scalpel__st_cur c;
    scalpel_status st;
    *n = 0;
    c.s = bytes + 8;
    c.n = (size_t)hlen;
    c.i = 1; /* past '{' */
    scalpel__st_ws(&c);
    if (c.i < c.n && c.s[c.i] == '}') return SCALPEL_OK;
    for (;;) {
        size_t kb, ke, len;
        char buf[136];
        scalpel__st_ws(&c);
        if ((st = scalpel__st_string(&c, &kb, &ke)) != SCALPEL_OK) return st;
        if ((st = scalpel__st_expect(&c, ':')) != SCALPEL_OK) return st;
        if ((st = scalpel__st_skip(&c, 0)) != SCALPEL_OK) return st;
        len = scalpel__st_decode(c.s, kb, ke, buf, sizeof(buf));
        if (len >= 7 && len <= sizeof(buf) && memcmp(buf + len - 7, ".weight", 7) == 0) {
            if (len - 7 > 127 || memchr(buf, 0, len - 7) != NULL) return SCALPEL_ERR_UNSUPPORTED;
            if (*n < max) {
                memcpy(pre[*n], buf, len - 7);
                pre[*n][len - 7] = '\0';
            }
            (*n)++;
        } else if (len > sizeof(buf)) {
            /* too long to hold: decode again just to read its end */
            char tail[8];
            size_t i = kb, m = 0;
            while (i < ke) { /* keep the last 7 decoded bytes */
                uint8_t u[4];
                size_t q, k = scalpel__st_utf8_put(scalpel__st_next_cp(c.s, ke, &i), u);
                for (q = 0; q < k; q++, m++) {
                    memmove(tail, tail + 1, 6);
                    tail[6] = (char)u[q];
                }
            }
            if (m >= 7 && memcmp(tail, ".weight", 7) == 0) return SCALPEL_ERR_UNSUPPORTED;
        }
        scalpel__st_ws(&c);
        if (c.i >= c.n) return SCALPEL_ERR_CORRUPT;
        if (c.s[c.i] == '}') return SCALPEL_OK;
        if (c.s[c.i] != ',') return SCALPEL_ERR_CORRUPT;
        c.i++;
    }
}

SCALPEL_API scalpel_status scalpel_safetensors_names(const void *data, size_t size, char (*names)[128],
                                                     int32_t capacity, int32_t *count)
{
    const uint8_t *bytes = (const uint8_t *)data;
    scalpel__st_walk w;
    scalpel__st_cur c;
    scalpel_status st;
    int32_t k = 0;
    if (count != NULL) *count = 0;
    if (data == NULL || (names == NULL && capacity > 0)) return SCALPEL_ERR_NULL;
    if (capacity < 0) return SCALPEL_ERR_ARGUMENT;
    if ((st = scalpel__st_check(bytes, size, NULL, 0, &w)) != SCALPEL_OK) return st;
    if (count != NULL) *count = (int32_t)w.count;
    /* the header is valid: walk its entries once more, key then value */
    c.s = bytes + 8;
    c.n = (size_t)scalpel__get_u64(bytes);
    c.i = 1; /* past '{' */
    scalpel__st_ws(&c);
    if (c.i < c.n && c.s[c.i] == '}') return SCALPEL_OK;
    for (;;) {
        size_t kb, ke, len;
        scalpel__st_ws(&c);
        if ((st = scalpel__st_string(&c, &kb, &ke)) != SCALPEL_OK) return st;
        if ((st = scalpel__st_expect(&c, ':')) != SCALPEL_OK) return st;
        if ((st = scalpel__st_skip(&c, 0)) != SCALPEL_OK) return st;
        if (!scalpel__st_str_is(c.s, kb, ke, "__metadata__", 12)) {
            if (k < capacity) {
                len = scalpel__st_decode(c.s, kb, ke, names[k], 128);
                if (len >= 128 || memchr(names[k], 0, len) != NULL) {
                    names[k][0] = '\0';
                    return SCALPEL_ERR_UNSUPPORTED;
                }
                names[k][len] = '\0';
            }
            k++;
        }
        scalpel__st_ws(&c);
        if (c.i >= c.n || c.s[c.i] == '}') return SCALPEL_OK;
        if (c.s[c.i] != ',') return SCALPEL_ERR_CORRUPT; /* cannot happen: checked above */
        c.i++;
    }
}

/* Import is all-or-nothing: every tensor is found, shape-checked, converted and checked for
 * finite values into one temporary block first; then each layer gets its new dense copy built
 * beside it (layers are copied, so the net is untouched while anything can still fail); only
 * when all are built are the old layers released and the new ones put in place. */
SCALPEL_API scalpel_status scalpel_net_import_safetensors(scalpel_net *net, const void *data, size_t size,
                                                          const char *const *prefixes, int32_t n_prefixes)
{
    char auto_pre[SCALPEL_NET_MAX_LAYERS][128];
    const char *pre[SCALPEL_NET_MAX_LAYERS];
    int32_t idx[SCALPEL_NET_MAX_LAYERS];
    size_t off_w[SCALPEL_NET_MAX_LAYERS], off_b[SCALPEL_NET_MAX_LAYERS];
    scalpel_layer fresh[SCALPEL_NET_MAX_LAYERS];
    scalpel_safetensors_tensor t;
    scalpel__st_walk walk;
    scalpel_status st;
    int32_t n_weighted = 0, i, j, built = 0;
    size_t total = 0;
    float *tmp;

    if (net == NULL || data == NULL) return SCALPEL_ERR_NULL;
    if (net->n_layers < 0 || net->n_layers > SCALPEL_NET_MAX_LAYERS) return SCALPEL_ERR_ARGUMENT;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        if (!scalpel__is_weighted(L->geom.kind)) continue;
        if (L->geom.rows <= 0 || L->geom.cols <= 0) return SCALPEL_ERR_ARGUMENT;
        if ((size_t)L->geom.rows > (SIZE_MAX / sizeof(float) - total) / ((size_t)L->geom.cols + 1))
            return SCALPEL_ERR_OVERFLOW;
        off_w[n_weighted] = total;
        off_b[n_weighted] = total + (size_t)L->geom.rows * (size_t)L->geom.cols;
        total += (size_t)L->geom.rows * ((size_t)L->geom.cols + 1);
        idx[n_weighted++] = i;
    }
    if (prefixes != NULL) {
        if (n_prefixes != n_weighted) return SCALPEL_ERR_ARGUMENT;
        for (i = 0; i < n_weighted; i++) {
            if (prefixes[i] == NULL) return SCALPEL_ERR_NULL;
            pre[i] = prefixes[i];
        }
    } else {
        int32_t found;
        if (n_prefixes != 0) return SCALPEL_ERR_ARGUMENT;
        /* the listing below walks a header that must be known sound */
        if ((st = scalpel__st_check((const uint8_t *)data, size, NULL, 0, &walk)) != SCALPEL_OK) return st;
        st = scalpel__st_weight_prefixes((const uint8_t *)data, SCALPEL_NET_MAX_LAYERS, auto_pre, &found);
        if (st != SCALPEL_OK) return st;
        if (found != n_weighted) return SCALPEL_ERR_ARGUMENT;
        /* insertion sort: at most SCALPEL_NET_MAX_LAYERS names */
        for (i = 0; i < n_weighted; i++) pre[i] = auto_pre[i];
        for (i = 1; i < n_weighted; i++)
            for (j = i; j > 0 && scalpel__st_natcmp(pre[j - 1], pre[j]) > 0; j--) {
                const char *x = pre[j];
                pre[j] = pre[j - 1];
                pre[j - 1] = x;
            }
    }
    if (n_weighted == 0) {
        /* nothing to fill, but the file must still be sound */
        return scalpel__st_check((const uint8_t *)data, size, NULL, 0, &walk);
    }

    tmp = (float *)SCALPEL_MALLOC(net->alloc_ctx, total * sizeof(float));
    if (tmp == NULL) return SCALPEL_ERR_NO_MEMORY;
    for (i = 0; i < n_weighted; i++) {
        const scalpel_layer *L = &net->layers[idx[i]];
        char name[136];
        size_t plen = strlen(pre[i]);
        if (plen > 127 - 7) { st = SCALPEL_ERR_UNSUPPORTED; goto fail; }
        memcpy(name, pre[i], plen);
        memcpy(name + plen, ".weight", 8);
        if ((st = scalpel__st_find(data, size, name, plen + 7, &t)) != SCALPEL_OK) goto fail;
        if (L->geom.kind == SCALPEL_LAYER_FC) {
            if (t.ndim != 2 || t.shape[0] != L->geom.rows || t.shape[1] != L->geom.cols) { st = SCALPEL_ERR_SHAPE; goto fail; }
        } else {
            if (t.ndim != 4 || t.shape[0] != L->geom.rows || t.shape[1] != L->geom.in_c ||
                t.shape[2] != L->geom.kernel || t.shape[3] != L->geom.kernel || t.count != (int64_t)L->geom.rows * L->geom.cols) {
                st = SCALPEL_ERR_SHAPE;
                goto fail;
            }
        }
        if ((st = scalpel_safetensors_read_f32(&t, tmp + off_w[i], t.count)) != SCALPEL_OK) goto fail;
        memcpy(name + plen, ".bias", 6);
        st = scalpel__st_find(data, size, name, plen + 5, &t);
        if (st == SCALPEL_ERR_ARGUMENT) {
            memset(tmp + off_b[i], 0, (size_t)L->geom.rows * sizeof(float));
        } else if (st != SCALPEL_OK) {
            goto fail;
        } else {
            if (t.ndim != 1 || t.shape[0] != L->geom.rows) { st = SCALPEL_ERR_SHAPE; goto fail; }
            if ((st = scalpel_safetensors_read_f32(&t, tmp + off_b[i], t.count)) != SCALPEL_OK) goto fail;
        }
        if (!scalpel__net_all_finite(tmp + off_w[i], (size_t)L->geom.rows * ((size_t)L->geom.cols + 1))) {
            st = SCALPEL_ERR_ARGUMENT;
            goto fail;
        }
    }
    /* build each new layer beside the old one: a copy with no memory of its own, which
     * scalpel__layer_set_dense fills without touching what the original owns */
    for (built = 0; built < n_weighted; built++) {
        scalpel_layer *F = &fresh[built];
        *F = net->layers[idx[built]];
        memset(&F->sparse, 0, sizeof(F->sparse));
        F->storage = SCALPEL_STORAGE_DENSE;
        F->w = NULL;
        F->b = NULL;
        F->block = NULL;
        st = scalpel__layer_set_dense(net, F, tmp + off_w[built], tmp + off_b[built]);
        if (st != SCALPEL_OK) goto fail;
    }
    for (i = 0; i < n_weighted; i++) {
        scalpel__layer_release(net, &net->layers[idx[i]]);
        net->layers[idx[i]] = fresh[i];
    }
    SCALPEL_FREE(net->alloc_ctx, tmp);
    return SCALPEL_OK;

fail:
    for (i = 0; i < built; i++) scalpel__layer_release(net, &fresh[i]);
    SCALPEL_FREE(net->alloc_ctx, tmp);
    return st;
}

#endif /* SCALPEL_NO_MALLOC */

/* ---- NumPy .npy arrays --------------------------------------------------------------------
 * Layout: "\x93NUMPY", major and minor version bytes, the header length (2 bytes in version
 * 1.0, 4 bytes in 2.0 and 3.0, little-endian), the header: a Python dictionary literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (N, C, H, W), } padded with spaces and a
 * newline, then the raw data. The parser accepts exactly that dictionary's grammar: the three
 * keys once each, in any order, single or double quotes, optional trailing comma, spaces. */

#ifndef SCALPEL_NO_MALLOC
/* Skips spaces; returns the new position. */
SCALPEL__PRIV size_t scalpel__npy_space(const char *h, size_t i, size_t n)
{
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\n' || h[i] == '\r')) i++;
    return i;
}

/* A quoted string at h[i] into buf[cap] (truncated names fail: nothing valid is that long);
 * returns the position after it, or 0 on a syntax error. */
SCALPEL__PRIV size_t scalpel__npy_string(const char *h, size_t i, size_t n, char *buf, size_t cap)
{
    char q;
    size_t k = 0;
    if (i >= n || (h[i] != '\'' && h[i] != '"')) return 0;
    q = h[i++];
    while (i < n && h[i] != q) {
        if (h[i] == '\\' || k + 1 >= cap) return 0;
        buf[k++] = h[i++];
    }
    if (i >= n) return 0;
    buf[k] = '\0';
    return i + 1;
}

/* The header dictionary h[n] into descr, *fortran, shape[*ndim]. */
SCALPEL__PRIV scalpel_status scalpel__npy_header(const char *h, size_t n, char *descr, int *fortran, int64_t *shape,
                                                int32_t *ndim)
{
    int seen_d = 0, seen_f = 0, seen_s = 0;
    size_t i = scalpel__npy_space(h, 0, n);
    if (i >= n || h[i] != '{') return SCALPEL_ERR_CORRUPT;
    i = scalpel__npy_space(h, i + 1, n);
    while (i < n && h[i] != '}') {
        char key[32];
        i = scalpel__npy_string(h, i, n, key, sizeof key);
        if (i == 0) return SCALPEL_ERR_CORRUPT;
        i = scalpel__npy_space(h, i, n);
        if (i >= n || h[i] != ':') return SCALPEL_ERR_CORRUPT;
        i = scalpel__npy_space(h, i + 1, n);
        if (strcmp(key, "descr") == 0 && !seen_d) {
            seen_d = 1;
            i = scalpel__npy_string(h, i, n, descr, 16);
            if (i == 0) return SCALPEL_ERR_CORRUPT;
        } else if (strcmp(key, "fortran_order") == 0 && !seen_f) {
            seen_f = 1;
            if (n - i >= 4 && memcmp(h + i, "True", 4) == 0) { *fortran = 1; i += 4; }
            else if (n - i >= 5 && memcmp(h + i, "False", 5) == 0) { *fortran = 0; i += 5; }
            else return SCALPEL_ERR_CORRUPT;
        } else if (strcmp(key, "shape") == 0 && !seen_s) {
            seen_s = 1;
            if (i >= n || h[i] != '(') return SCALPEL_ERR_CORRUPT;
            i = scalpel__npy_space(h, i + 1, n);
            *ndim = 0;
            while (i < n && h[i] != ')') {
                int64_t v = 0;
                size_t d0 = i;
                while (i < n && h[i] >= '0' && h[i] <= '9') {
                    if (v > (INT64_MAX - 9) / 10) return SCALPEL_ERR_OVERFLOW;
                    v = v * 10 + (h[i++] - '0');
                }
                if (i == d0) return SCALPEL_ERR_CORRUPT;
                if (i < n && h[i] == 'L') i++; /* Python 2's long suffix */
                if (*ndim >= SCALPEL_NPY_MAX_DIMS) return SCALPEL_ERR_UNSUPPORTED;
                shape[(*ndim)++] = v;
                i = scalpel__npy_space(h, i, n);
                if (i < n && h[i] == ',') i = scalpel__npy_space(h, i + 1, n);
                else if (i < n && h[i] != ')') return SCALPEL_ERR_CORRUPT;
            }
            if (i >= n) return SCALPEL_ERR_CORRUPT;
            i++;
        } else {
            return SCALPEL_ERR_CORRUPT; /* an unknown or repeated key */
        }
        i = scalpel__npy_space(h, i, n);
        if (i < n && h[i] == ',') i = scalpel__npy_space(h, i + 1, n);
        else if (i < n && h[i] != '}') return SCALPEL_ERR_CORRUPT;
    }
    if (i >= n || !seen_d || !seen_f || !seen_s) return SCALPEL_ERR_CORRUPT;
    for (i = i + 1; i < n; i++)
        if (h[i] != ' ' && h[i] != '\n') return SCALPEL_ERR_CORRUPT;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_npy_parse(const void *data, size_t size, scalpel_npy *out)
{
    const unsigned char *p = (const unsigned char *)data;
    char hdr_descr[16];
    size_t hlen, start, i;
    uint64_t count = 1;
    int fortran = 0, d;
    scalpel_status st;
    if (!out) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (!data) return SCALPEL_ERR_NULL;
    if (size < 10) return size >= 6 && memcmp(p, "\x93NUMPY", 6) == 0 ? SCALPEL_ERR_TRUNCATED : SCALPEL_ERR_MAGIC;
    if (memcmp(p, "\x93NUMPY", 6) != 0) return SCALPEL_ERR_MAGIC;
    if (p[6] == 1 && p[7] == 0) {
        hlen = scalpel__get_u16(p + 8);
        start = 10;
    } else if ((p[6] == 2 || p[6] == 3) && p[7] == 0) {
        if (size < 12) return SCALPEL_ERR_TRUNCATED;
        hlen = scalpel__get_u32(p + 8);
        start = 12;
    } else {
        return SCALPEL_ERR_VERSION;
    }
    if (hlen > size - start) return SCALPEL_ERR_TRUNCATED;
    hdr_descr[0] = '\0';
    st = scalpel__npy_header((const char *)p + start, hlen, hdr_descr, &fortran, out->shape, &out->ndim);
    if (st != SCALPEL_OK) {
        memset(out, 0, sizeof(*out));
        return st;
    }
    memcpy(out->descr, hdr_descr, sizeof(hdr_descr));
    if (strcmp(hdr_descr, "<f4") != 0) st = SCALPEL_ERR_DTYPE;
    else if (fortran || out->ndim < 1) st = SCALPEL_ERR_UNSUPPORTED;
    for (d = 0; d < out->ndim && st == SCALPEL_OK; d++) {
        if (out->shape[d] != 0 && count > (uint64_t)(SIZE_MAX / 4u) / (uint64_t)out->shape[d]) st = SCALPEL_ERR_OVERFLOW;
        else count *= (uint64_t)out->shape[d];
    }
    start += hlen;
    if (st == SCALPEL_OK && count * 4u > (uint64_t)(size - start)) st = SCALPEL_ERR_TRUNCATED;
    if (st == SCALPEL_OK && count * 4u < (uint64_t)(size - start)) st = SCALPEL_ERR_CORRUPT;
    if (st == SCALPEL_OK) {
        out->data = (float *)SCALPEL_MALLOC(out->alloc_ctx, count ? (size_t)count * 4u : 1u);
        if (!out->data) st = SCALPEL_ERR_NO_MEMORY;
    }
    if (st == SCALPEL_OK) {
        for (i = 0; i < (size_t)count; i++) {
            uint32_t bits = scalpel__get_u32(p + start + 4 * i);
            if ((bits & 0x7f800000u) == 0x7f800000u) { st = SCALPEL_ERR_ARGUMENT; break; }
            memcpy(&out->data[i], &bits, 4);
        }
        out->count = (size_t)count;
    }
    if (st != SCALPEL_OK) {
        if (out->data) SCALPEL_FREE(out->alloc_ctx, out->data);
        memset(out, 0, sizeof(*out));
        memcpy(out->descr, hdr_descr, sizeof(hdr_descr));
    }
    return st;
}

SCALPEL_API scalpel_status scalpel_npy_load(const char *path, scalpel_npy *out)
{
    unsigned char *buf = NULL;
    size_t size = 0;
    scalpel_status st;
    if (!out) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (!path) return SCALPEL_ERR_NULL;
    st = scalpel__file_read_all(path, NULL, (uint64_t)SIZE_MAX - 1u, &buf, &size);
    if (st != SCALPEL_OK) return st;
    st = scalpel_npy_parse(buf, size, out);
    SCALPEL_FREE(NULL, buf);
    return st;
}

SCALPEL_API scalpel_status scalpel_npy_save(const char *path, const float *data, int32_t ndim, const int64_t *shape)
{
    char head[256];
    size_t len, total, count = 1, i;
    int32_t d;
    char *tmp = NULL;
    FILE *f = NULL;
    unsigned char *buf;
    scalpel_status st;
    if (!path || !shape || (!data && ndim > 0)) return SCALPEL_ERR_NULL;
    if (ndim < 1 || ndim > SCALPEL_NPY_MAX_DIMS) return SCALPEL_ERR_ARGUMENT;
    len = (size_t)sprintf(head, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (d = 0; d < ndim; d++) {
        if (shape[d] < 0 || shape[d] > (int64_t)INT32_MAX) return SCALPEL_ERR_ARGUMENT;
        if (shape[d] != 0 && count > SIZE_MAX / 4u / (size_t)shape[d]) return SCALPEL_ERR_OVERFLOW;
        count *= (size_t)shape[d];
        len += (size_t)sprintf(head + len, "%ld%s", (long)shape[d], ndim == 1 ? "," : d + 1 < ndim ? ", " : "");
    }
    len += (size_t)sprintf(head + len, "), }");
    /* spaces and a newline so that the data starts on a multiple of 64 bytes */
    total = (10 + len + 1 + 63) / 64 * 64;
    while (10 + len + 1 < total) head[len++] = ' ';
    head[len++] = '\n';
    if (count > (SIZE_MAX - total) / 4u) return SCALPEL_ERR_OVERFLOW;
    buf = (unsigned char *)SCALPEL_MALLOC(NULL, total + count * 4u);
    if (!buf) return SCALPEL_ERR_NO_MEMORY;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    scalpel__put_u16(buf + 8, (uint16_t)len);
    memcpy(buf + 10, head, len);
    for (i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &data[i], 4);
        scalpel__put_u32(buf + total + 4 * i, bits);
    }
    st = scalpel__tmp_open(path, NULL, &tmp, &f);
    if (st == SCALPEL_OK) {
        errno = 0;
        if (fwrite(buf, 1, total + count * 4u, f) != total + count * 4u) st = scalpel__errno_status(errno);
        st = scalpel__tmp_close(f, tmp, path, NULL, st);
    }
    SCALPEL_FREE(NULL, buf);
    return st;
}

SCALPEL_API void scalpel_npy_free(scalpel_npy *a)
{
    if (!a) return;
    if (a->data) SCALPEL_FREE(a->alloc_ctx, a->data);
    memset(a, 0, sizeof(*a));
}
#endif /* SCALPEL_NO_MALLOC */

#ifdef __cplusplus
}
#endif
#endif

/*
 * LICENCE: MIT. Copyright (c) 2026 the Scalpel authors. See the end of scalpel_format.h.
 */
