/* scalpel_train.h - training in C: backward passes, SGD, pruned retraining and mask layers.
 *
 * Part of Scalpel (see scalpel_format.h for the version). Depends on scalpel.h (networks,
 * pruning routines, node removal). Grep for the ">>" markers:
 *   >>trainer    scalpel_trainer: a trainable copy of a dense network; forward with caches,
 *                softmax cross-entropy, backward for fc / conv2d / maxpool / relu / dropout /
 *                node masks, SGD with momentum, weight decay and step learning rates
 *   >>pruning    weight masks re-applied after every step (momentum of pruned weights cleared),
 *                node-mask layers with hysteresis (section 5 of the method), Han's dropout rule
 *   >>datasets   data loaders
 *   >>drivers    epochs over datasets with a progress callback, the pruning drivers
 *                (traditional, SIMD-aware, node pruning, scalpel_prune_for per hardware
 *                class) and checkpoints that resume bit-identically
 *
 * USAGE
 *   Do this in exactly one C or C++ file (SCALPEL_TRAIN_IMPLEMENTATION compiles this module
 *   alone), and include "scalpel_train.h" without the define anywhere else:
 *
 *     #define SCALPEL_IMPLEMENTATION
 *     #include "scalpel_train.h"
 *
 *   A complete program (cc -O2 -march=native example.c): learns which points of [-1, 1]^2
 *   have coordinates of different signs.
 *
 *     #define SCALPEL_IMPLEMENTATION
 *     #include "scalpel_train.h"
 *     #include <stdio.h>
 *     int main(void) {
 *         static float x[1024 * 2];
 *         static int32_t y[1024];
 *         scalpel_net net, trained;
 *         scalpel_train_config cfg;
 *         scalpel_trainer tr;
 *         float acc = 0.0f;
 *         int i;
 *         for (i = 0; i < 1024; i++) {
 *             x[2 * i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
 *             x[2 * i + 1] = (float)((i * 53) % 97) / 48.0f - 1.0f;
 *             y[i] = (x[2 * i] > 0.0f) != (x[2 * i + 1] > 0.0f);
 *         }
 *         scalpel_net_init(2, 1, 1, &net);                 // the architecture (zero weights)
 *         scalpel_net_add_fc(&net, 32, NULL, NULL);
 *         scalpel_net_add_relu(&net);
 *         scalpel_net_add_fc(&net, 2, NULL, NULL);         // logits of 2 classes
 *         scalpel_train_config_default(&cfg);              // momentum 0.9, weight decay 1e-4
 *         cfg.lr = 0.05f;
 *         if (scalpel_trainer_init(&net, 32, &cfg, &tr) != SCALPEL_OK) return 1;
 *         scalpel_trainer_init_weights(&tr, SCALPEL_INIT_HE);
 *         for (i = 0; i < 3000; i++)                       // SGD steps on batches of 32
 *             scalpel_trainer_step(&tr, x + (i % 32) * 64, y + (i % 32) * 32, 32, NULL);
 *         scalpel_trainer_evaluate(&tr, x, y, 1024, &acc);
 *         if (scalpel_trainer_export(&tr, &trained) != SCALPEL_OK) return 1;  // a scalpel_net
 *         printf("accuracy %.3f, %lu weight bytes\n", (double)acc,
 *                (unsigned long)scalpel_net_weight_bytes(&trained));
 *         scalpel_net_free(&trained);
 *         scalpel_trainer_free(&tr);
 *         scalpel_net_free(&net);
 *         return acc > 0.9f ? 0 : 1;
 *     }
 *
 *   Pruned retraining: write a mask into tr.layers[i].mask (for instance with
 *   scalpel_prune_groups_threshold(tr.layers[i].w, rows, cols, G, ..., tr.layers[i].mask)),
 *   call scalpel_trainer_apply_masks, and keep stepping: masks are re-applied after every step.
 *   Node pruning: cfg.node_masks = SCALPEL_TRAIN_MASK_ALL (or _CONV / _FC), raise
 *   tr.config.mask_lambda stage by stage, then scalpel_trainer_remove_nodes gives the smaller
 *   dense network to retrain in a new trainer.
 *
 *   Drivers (>>drivers) do all of that over datasets: scalpel_train_epochs (shuffled batches,
 *   test accuracy, a progress callback per epoch, optional checkpoint file), then
 *   scalpel_prune_traditional / scalpel_prune_simd / scalpel_prune_nodes on a trainer, or the
 *   whole pipeline for a hardware profile from a trained dense network:
 *
 *     scalpel_driver_config dc;  scalpel_prune_result res;  scalpel_hw_profile hw;  scalpel_net out;
 *     scalpel_driver_config_default(&dc);
 *     dc.progress = scalpel_progress_print;                 // one updating line on stderr
 *     scalpel_hw_profile_host(&hw);
 *     if (scalpel_prune_for(&dense, &hw, &train, &test, &dc, &res, &out) == SCALPEL_OK)
 *         scalpel_net_save(&out, "pruned.scpn");            // packed for hw; free with scalpel_net_free
 *
 * CONFIGURATION
 *   SCALPEL_IMPLEMENTATION / SCALPEL_TRAIN_IMPLEMENTATION   compile the implementation here
 *   SCALPEL_MALLOC / SCALPEL_FREE    the allocator (ctx = the net's alloc_ctx given to init)
 *   SCALPEL_NO_MALLOC                removes this whole module's API (training allocates)
 *   SCALPEL_ZLIB                     gzip'd IDX files (MNIST as distributed); link with -lz
 *   -fopenmp (_OPENMP)               convolutions run their samples on OpenMP threads (the
 *                                    count omp_get_max_threads() gave at init, at most 64).
 *     Tolerance: forward passes are bit-identical with any thread count. Conv weight and bias
 *     gradients are summed per thread and the partial sums added in thread order, so with T
 *     threads each differs from the one-thread sum by at most about
 *     2 * batch * FLT_EPSILON * sum over samples |dW_s| (a reordered float sum); one thread
 *     gives exactly the serial result. Runs are bit-identical for the same seed, build and
 *     thread count. Everything else (fc layers, pooling, the optimizer) is single-threaded.
 *
 * DOES NOT
 *   train networks with grouped-CSR storage in place (init reads them densely; export writes
 *   dense), use libm (exp, log and sqrt are computed here), keep global state, or use threads
 *   other than OpenMP's (and those only when you compile with it).
 *
 * MEMORY
 *   scalpel_trainer is yours to place. scalpel_trainer_init allocates one block (weights,
 *   gradients, momentum, masks, activation caches for batch_max samples, scratch) through
 *   SCALPEL_MALLOC with the network's alloc_ctx; scalpel_trainer_free releases it. Steps and
 *   evaluation allocate nothing; export and remove_nodes allocate the networks they return.
 *
 * ERRORS
 *   Every function returns scalpel_status and validates its arguments (labels in range, batch
 *   in [1, batch_max], configuration values). Outputs are zeroed on failure; a failed step
 *   leaves the weights as they were.
 */
#include "scalpel.h"

#ifndef SCALPEL_TRAIN_H
#define SCALPEL_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SCALPEL_NO_MALLOC

/* ======================================================================================== */
/* >>trainer                                                                                */
/* ======================================================================================== */

/* scalpel_train_masks: which weighted layers get a node-mask layer on their outputs (the
 * output layer never does). A bit set. */
typedef enum scalpel_train_masks {
    SCALPEL_TRAIN_MASK_NONE = 0,
    SCALPEL_TRAIN_MASK_CONV = 1,    /* feature maps of conv2d layers */
    SCALPEL_TRAIN_MASK_FC = 2,      /* neurons of hidden fc layers */
    SCALPEL_TRAIN_MASK_ALL = 3
} scalpel_train_masks;

/* scalpel_init: weight initialisation. Biases start at 0. Both are uniform distributions (no
 * libm needed for a normal one) with the variance of the named scheme. */
typedef enum scalpel_init {
    SCALPEL_INIT_XAVIER = 0,  /* U(-s, s), s = sqrt(6 / (fan_in + fan_out)) (Glorot) */
    SCALPEL_INIT_HE = 1       /* U(-s, s), s = sqrt(6 / fan_in): variance 2 / fan_in (Kaiming) */
} scalpel_init;

/* Upper bounds of the configuration (see scalpel_train_config). A learning rate above 1000 is
 * no rate SGD trains with (the command-line tools stop at 10): 1e30 only turns the weights
 * into inf and NaN. The node masks' b lives in [0, 1], so once mask_lambda * lr reaches 1 a
 * single step switches every mask off: at any lr >= 1e-6, a mask_lambda of 1e6 already does,
 * and the node-pruning driver raises its lambda no further. */
#define SCALPEL_TRAIN_LR_MAX 1000.0f
#define SCALPEL_TRAIN_MASK_LAMBDA_MAX 1e6f

/* scalpel_train_config: hyper-parameters. Fill with scalpel_train_config_default, then change
 * what you need. Copied into the trainer (tr.config), where a driver may change lr, momentum,
 * weight_decay, mask_lambda and the schedule between steps. Every value must be finite and in
 * the range given below: scalpel_trainer_init, the checkpoint reader and every update check
 * them (NaN is in no range). */
typedef struct scalpel_train_config {
    float lr;              /* learning rate in (0, SCALPEL_TRAIN_LR_MAX = 1000]; default 0.01 */
    float momentum;        /* SGD momentum in [0, 1); default 0.9 */
    float weight_decay;    /* L2 on weights and biases (added to the gradient), in [0, 1]: a decay
                              of 1 already pulls w by lr x w per step; default 1e-4 */
    int32_t lr_step;       /* lr is multiplied by lr_gamma every lr_step steps (>= 0); default 0 =
                              never. See scalpel_trainer_lr for the rate after many drops. */
    float lr_gamma;        /* in (0, 1]; default 0.1 */
    uint64_t seed;         /* RNG seed for initialisation and dropout; default 1 */
    int32_t node_masks;    /* scalpel_train_masks; default NONE */
    float mask_threshold;  /* T in [0, 1]; default 0.8 */
    float mask_eps;        /* hysteresis eps in [0, 1]: a turns on at b >= T + eps; default 0.0001 */
    float mask_init;       /* initial b in [0, mask_max]; default 0.8002 (a starts at 1) */
    float mask_max;        /* b is clamped to [0, mask_max], mask_max in [0, 1]; default 0.802 */
    float mask_lambda;     /* L1 pull: b -= mask_lambda * lr after every step; in
                              [0, SCALPEL_TRAIN_MASK_LAMBDA_MAX = 1e6]; default 0 */
    float dropout[SCALPEL_NET_MAX_LAYERS]; /* inverted-dropout rate on the input of layer i,
                                              fc layers only, in [0, 1); default 0 */
} scalpel_train_config;

/* scalpel_train_layer: the trainable state of layer i of the network (weighted layers only;
 * unweighted layers have every pointer NULL). Read and write w, b, mask, dropout and the node
 * masks between steps; the rest is the trainer's. W is [rows x cols] as in scalpel_layer. */
typedef struct scalpel_train_layer {
    float *w, *b;            /* weights [rows x cols], bias [rows] */
    float *grad_w, *grad_b;  /* gradients of the last backward pass (loss = mean over the batch) */
    float *mom_w, *mom_b;    /* momentum buffers */
    uint8_t *mask;           /* weight mask [rows x cols]: 1 kept, 0 pruned (all 1 at init, or
                                the stored groups of a grouped-CSR layer) */
    float dropout;           /* inverted-dropout rate on this layer's input (fc only) */
    float *node_a;           /* node masks on this layer's outputs [rows], or NULL: a in {0, 1} */
    float *node_b;           /* b in [0, mask_max] */
    float *node_grad_b;      /* straight-through gradient of b (unmasked activation) */
    int32_t mask_owner;      /* layer whose node masks scale this layer's input, or -1 */
} scalpel_train_layer;

/* scalpel_trainer: a network being trained. Built by scalpel_trainer_init from a scalpel_net
 * (its shapes are copied into `arch`, whose weight pointers stay NULL), released by
 * scalpel_trainer_free. Fields after `rng` are internal caches. */
typedef struct scalpel_trainer {
    scalpel_net arch;                                   /* shapes only */
    scalpel_train_config config;
    scalpel_train_layer layers[SCALPEL_NET_MAX_LAYERS];
    int32_t batch_max, classes;
    int64_t steps;                                      /* SGD steps taken */
    int64_t epoch;                                      /* epochs run by scalpel_train_epochs */
    int32_t stage;                                      /* pruning stages run by the drivers */
    uint64_t rng;                                       /* xorshift64* state */
    /* internal */
    float *act[SCALPEL_NET_MAX_LAYERS + 1];  /* act[i]: input of layer i [batch x in]; act[n]: logits */
    float *xin[SCALPEL_NET_MAX_LAYERS];      /* masked / dropped input of weighted layer i, or NULL */
    uint8_t *drop[SCALPEL_NET_MAX_LAYERS];   /* dropout keep flags of fc layer i */
    int32_t *argmax[SCALPEL_NET_MAX_LAYERS]; /* maxpool routing */
    float *grad[2], *scratch[6];           /* 0, 1, 3, 4, 5: one region per thread */
    size_t scratch_n[6];                   /* floats per thread in each */
    int32_t threads;                       /* OpenMP threads the scratch was sized for (1 without) */
    int32_t last_batch, last_training;
    int32_t backward_stop;                 /* backward stops at this layer: the layers before it
                                              get zero gradients (scalpel_train_epochs sets it
                                              while they are all frozen; 0 = everything) */
    void *block, *alloc_ctx;
} scalpel_trainer;

/* The defaults listed in scalpel_train_config. */
SCALPEL_API void scalpel_train_config_default(scalpel_train_config *cfg);
/* A trainer for net (fc, conv2d, maxpool, relu layers; dense or grouped-CSR weights, read
 * densely) and batches of up to batch_max samples. cfg NULL = defaults. The network's output is
 * taken as the logits of softmax cross-entropy (classes = its output size, >= 2). */
SCALPEL_API scalpel_status scalpel_trainer_init(const scalpel_net *net, int32_t batch_max,
                                                const scalpel_train_config *cfg, scalpel_trainer *tr);
SCALPEL_API void scalpel_trainer_free(scalpel_trainer *tr);
/* Re-initialises every weight (kept by its mask) with the trainer's RNG; biases to 0, momentum
 * to 0. */
SCALPEL_API scalpel_status scalpel_trainer_init_weights(scalpel_trainer *tr, scalpel_init init);

/* logits[batch x classes] = net(x[batch x in]); training = 1 draws dropout masks from the RNG
 * (inverted dropout), 0 runs without dropout. Node masks apply in both. Caches every
 * activation for scalpel_trainer_backward. logits may be NULL. */
SCALPEL_API scalpel_status scalpel_trainer_forward(scalpel_trainer *tr, const float *x, int32_t batch,
                                                   int32_t training, float *logits);
/* Softmax cross-entropy of the last forward's logits against labels[batch] (mean over the
 * batch) into *loss, and every gradient (weights, biases, node-mask b) of that loss. */
SCALPEL_API scalpel_status scalpel_trainer_backward(scalpel_trainer *tr, const int32_t *labels,
                                                    int32_t batch, float *loss);
/* One SGD update from the current gradients, at the scheduled learning rate: for every weight
 * v = momentum * v + (g + weight_decay * w); w -= lr * v; then w and v are zeroed where the
 * mask is 0. Node masks: b -= lr * grad_b; b -= mask_lambda * lr; clamp to [0, mask_max];
 * a = 1 if b >= T + eps, 0 if b < T, else unchanged. Then steps++. */
SCALPEL_API scalpel_status scalpel_trainer_apply(scalpel_trainer *tr);
/* forward (training) + backward + apply: one SGD step on a batch. */
SCALPEL_API scalpel_status scalpel_trainer_step(scalpel_trainer *tr, const float *x, const int32_t *labels,
                                                int32_t batch, float *loss);
/* The learning rate the next apply uses: lr x lr_gamma^(steps / lr_step), computed by squaring
 * in double (O(log) multiplications for any step count) and rounded to float once. A rate below
 * FLT_MIN (about 1.2e-38, the smallest normal float) is returned as 0: a denormal rate changes
 * no weight and only slows the arithmetic. */
SCALPEL_API float scalpel_trainer_lr(const scalpel_trainer *tr);
/* Fraction of x[n] classified as labels[n] (first maximum on ties), without dropout, in
 * chunks of batch_max. Overwrites the caches. */
SCALPEL_API scalpel_status scalpel_trainer_evaluate(scalpel_trainer *tr, const float *x, const int32_t *labels,
                                                    int32_t n, float *accuracy);
/* A new dense network with the trained weights (free it). Node masks are folded in: the input
 * columns that read a node with a = 0 are zeroed, so the result computes what the trainer
 * computes without dropout. */
SCALPEL_API scalpel_status scalpel_trainer_export(const scalpel_trainer *tr, scalpel_net *out);

/* ======================================================================================== */
/* >>pruning (training side)                                                                */
/* ======================================================================================== */

/* w *= mask and momentum *= mask for every weighted layer (after you changed masks). */
SCALPEL_API void scalpel_trainer_apply_masks(scalpel_trainer *tr);
/* Physical node removal: export, then scalpel_net_remove_nodes with keep = (a == 1) for every
 * layer that has node masks. *out is a smaller dense network computing what the masked one
 * computes (free it); retrain it with a new trainer. */
SCALPEL_API scalpel_status scalpel_trainer_remove_nodes(const scalpel_trainer *tr, int32_t round_to,
                                                        scalpel_net *out);
/* Han's dropout rule for retraining: D_r = D_o * sqrt(C_ir / C_io), connections remaining /
 * originally. 0 when c_io <= 0. */
SCALPEL_API float scalpel_dropout_han(float d_o, int64_t c_ir, int64_t c_io);
/* Dropout during mask training: D_k = D_0 * N_k / N_0 (nodes kept / originally). */
SCALPEL_API float scalpel_dropout_nodes(float d_0, int32_t n_k, int32_t n_0);

/* ======================================================================================== */
/* >>datasets                                                                               */
/* ======================================================================================== */

/* scalpel_dataset: n labelled samples for training and evaluation.
 *
 * Sample i is x[i * sample_size .. (i + 1) * sample_size), sample_size = c * h * w, CHW and
 * row-major (the layout scalpel_net_forward takes), with values in [0, 1] (IDX bytes / 255);
 * its label is y[i] < classes. A dataset the library built owns one block (`block`: x, then
 * y) released by scalpel_dataset_free; a dataset you fill by hand with your own arrays has
 * block == NULL, and scalpel_dataset_validate checks it before the other functions trust it.
 * A zeroed struct (`scalpel_dataset ds = {0};`) is a valid "nothing" for scalpel_dataset_free.
 * Limits: n, c, h, w >= 1, c * h * w <= INT32_MAX, 1 <= classes <= 256. */
typedef struct scalpel_dataset {
    int32_t n;              /* samples */
    int32_t c, h, w;        /* shape of one sample: channels, height, width (MNIST: 1, 28, 28) */
    int32_t classes;        /* labels are 0 .. classes - 1 */
    float *x;               /* [n x c*h*w] pixel values */
    uint8_t *y;             /* [n] labels */
    void *block;            /* the library-owned allocation behind x and y, or NULL */
    void *alloc_ctx;        /* passed to SCALPEL_FREE when block is released */
} scalpel_dataset;

/* Largest decompressed IDX file the readers accept, and largest x array (in bytes) they build
 * (4 bytes per pixel: an images file may hold a quarter of it). A header announcing more is
 * refused (SCALPEL_ERR_UNSUPPORTED) before anything is allocated or inflated; a gzip stream is
 * never inflated past what its header announces, into a block that grows only as data
 * arrives: the gzip-bomb guard. Default 1 GiB (MNIST's training images: 47 MB, 188 MB as
 * floats). Define it before the implementation to change it. */
#ifndef SCALPEL_DATASET_MAX_BYTES
#define SCALPEL_DATASET_MAX_BYTES ((uint64_t)1 << 30)
#endif

/* The environment variable scalpel_dataset_mnist(NULL, ...) and the tools read: a directory
 * holding the four MNIST files. */
#define SCALPEL_DATASET_MNIST_ENV "SCALPEL_MNIST_DIR"

/* Checks a dataset from anywhere: shape, sizes, non-NULL arrays, classes in 1..256 and every
 * label < classes (O(n); pixel values are not checked). */
SCALPEL_API scalpel_status scalpel_dataset_validate(const scalpel_dataset *ds);

/* perm[0 .. n) = a permutation of 0 .. n-1, Fisher-Yates driven by a 64-bit seed: the same
 * seed gives the same permutation on every platform and compiler. Nothing is allocated.
 * Typical use: scalpel_dataset_shuffle(ds.n, seed + epoch, perm) once per epoch. */
SCALPEL_API scalpel_status scalpel_dataset_shuffle(int32_t n, uint64_t seed, int32_t *perm);

/* Number of batches of batch_size samples covering ds (the last one may be short); 0 when ds or
 * batch_size is invalid. */
SCALPEL_API int32_t scalpel_dataset_batches(const scalpel_dataset *ds, int32_t batch_size);

/* Copies batch `batch` (0-based) of the order perm[0 .. ds->n) into your buffers:
 *   x_out[count x c*h*w] = x[perm[batch*batch_size + k]], y_out[count] likewise as int32 (what
 *   scalpel_trainer_step takes; y_out may be NULL), count = min(batch_size, n - batch*batch_size) written to *count (may be NULL).
 * perm == NULL means the dataset's own order. Every perm entry used is checked (< n). Does not
 * run scalpel_dataset_validate (O(n)) on every call: validate hand-filled datasets once. */
SCALPEL_API scalpel_status scalpel_dataset_batch(const scalpel_dataset *ds, const int32_t *perm,
                                                 int32_t batch_size, int32_t batch, float *x_out,
                                                 int32_t *y_out, int32_t *count);

/* Built-in synthetic data so that demos and tests run without MNIST: n samples of 1 x 28 x 28,
 * 10 classes (label = i % 10), each a seven-segment digit drawn with random position, size,
 * slant and stroke width, on speckle noise. LeNet-300-100 with the default SGD settings
 * reaches about 94% test accuracy after one epoch over 30000 samples and 98.8% after three
 * (2.5 s, one thread, on the 2-core x86-64 this was measured on); its accuracies say
 * nothing about MNIST.
 * Sample i depends only on (seed, i): the same on every platform (integer arithmetic, then
 * byte / 255), and the first k samples of n are those of k. n >= 1. */
SCALPEL_API scalpel_status scalpel_dataset_synthetic_into(int32_t n, uint64_t seed, float *x, uint8_t *y);

/* IDX files as MNIST and Fashion-MNIST ship them (big-endian):
 *   images: magic 0x00000803 (unsigned bytes, 3 dimensions), n, rows, cols, then n*rows*cols
 *           pixel bytes; labels: magic 0x00000801, n, then n label bytes.
 * The result is n samples of 1 x rows x cols, x = byte / 255, classes = largest label + 1.
 * Either buffer may be gzip'd (starts 1f 8b) when the implementation is compiled with
 * SCALPEL_ZLIB (link -lz); without it a gzip'd input is SCALPEL_ERR_UNSUPPORTED.
 * Validated before use: SCALPEL_ERR_TRUNCATED (ends early, header or data), SCALPEL_ERR_MAGIC
 * (not IDX, or an IDX labels file given as images and vice versa), SCALPEL_ERR_UNSUPPORTED
 * (another IDX element type or rank; more than SCALPEL_DATASET_MAX_BYTES; gzip without
 * SCALPEL_ZLIB), SCALPEL_ERR_SHAPE (a zero dimension, image and label counts differ),
 * SCALPEL_ERR_CORRUPT (bytes after the data, a dimension above INT32_MAX, a corrupt or
 * concatenated gzip stream, a gzip stream longer than its IDX header announces). Both headers
 * are checked before anything large is allocated or inflated. */

/* 1 when this build reads gzip'd IDX files (compiled with SCALPEL_ZLIB), else 0. */
SCALPEL_API int32_t scalpel_dataset_gzip_supported(void);

/* How to get MNIST: file names, where to put them, where to download them. Never NULL. */
SCALPEL_API const char *scalpel_dataset_mnist_help(void);

/* Releases what the library allocated for ds (if anything) and zeroes it; safe on NULL. */
SCALPEL_API void scalpel_dataset_free(scalpel_dataset *ds);

/* IDX bytes (see above) -> a dataset that owns its memory. */
SCALPEL_API scalpel_status scalpel_dataset_from_idx(const void *images, size_t images_size,
                                                    const void *labels, size_t labels_size,
                                                    scalpel_dataset *out);
/* The same from two files (plain or gzip'd). A file that cannot be read gives the reason
 * (SCALPEL_ERR_NOT_FOUND, _PERMISSION, _NOT_REGULAR, _IO; see "files" in scalpel_format.h). */
SCALPEL_API scalpel_status scalpel_dataset_load_idx(const char *images_path, const char *labels_path,
                                                    scalpel_dataset *out);
/* MNIST (or Fashion-MNIST: same file names) from dir, or from the directory named by the
 * environment variable SCALPEL_MNIST_DIR when dir is NULL: train != 0 reads
 * train-{images-idx3,labels-idx1}-ubyte, else t10k-..., each plain or with .gz (plain first),
 * in dir itself or in dir/MNIST/raw (torchvision's layout). No directory given, or the files
 * are not there (as regular files): SCALPEL_ERR_NOT_FOUND; print scalpel_dataset_mnist_help()
 * then. */
SCALPEL_API scalpel_status scalpel_dataset_mnist(const char *dir, int32_t train, scalpel_dataset *out);
/* scalpel_dataset_synthetic_into into memory the dataset owns. */
SCALPEL_API scalpel_status scalpel_dataset_synthetic(int32_t n, uint64_t seed, scalpel_dataset *out);
/* A copy of the samples idx[0 .. count) of ds, in that order (repeats allowed), same classes. */
SCALPEL_API scalpel_status scalpel_dataset_subset(const scalpel_dataset *ds, const int32_t *idx,
                                                  int32_t count, scalpel_dataset *out);
/* Shuffles ds with seed (scalpel_dataset_shuffle) and copies the first n_first samples into
 * *first and the other n - n_first into *second (0 < n_first < n): e.g. a validation split. */
SCALPEL_API scalpel_status scalpel_dataset_split(const scalpel_dataset *ds, int32_t n_first, uint64_t seed,
                                                 scalpel_dataset *first, scalpel_dataset *second);

/* ======================================================================================== */
/* >>drivers                                                                                */
/* ======================================================================================== */

/* scalpel_progress: what the progress callback gets once per epoch. */
typedef struct scalpel_progress {
    const char *stage;      /* "dense", "traditional", "simd", "nodes", "retrain", ... */
    int32_t epoch, epochs;  /* 1-based epoch of this call to scalpel_train_epochs, and its count */
    float loss;             /* mean training loss of the epoch */
    float accuracy;         /* test accuracy after the epoch (0 without a test set) */
    float prune_rate;       /* fraction of the network's weights pruned (weight and node masks) */
    double seconds;         /* processor seconds of the epoch (clock()) */
} scalpel_progress;

/* One call per epoch; user is scalpel_driver_config.progress_user. */
typedef void (*scalpel_progress_fn)(void *user, const scalpel_progress *p);

/* The default printer for command-line tools: one line on stderr, rewritten with '\r' every
 * epoch, ended by a newline after the last epoch of a call. user is unused. */
SCALPEL_API void scalpel_progress_print(void *user, const scalpel_progress *p);

/* scalpel_layer_order: the order in which the SIMD-aware driver prunes the weighted layers, one
 * at a time. Every layer's stages are judged against the same dense accuracy, so the layers
 * pruned first may spend the whole tolerance and the later ones get what is left: the order
 * says which layers matter most. */
typedef enum scalpel_layer_order {
    SCALPEL_ORDER_TIME = 0,    /* slowest first, by the dense time of each layer measured with
                                  the library's kernels on this machine (speed first; the
                                  measurement can differ between runs when two layers are close) */
    SCALPEL_ORDER_WEIGHTS = 1, /* most weights first, ties in layer order (size first: for
                                  targets whose flash holds the model, where the largest layer is
                                  most of it; no timing, so the order is the same on every run) */
    SCALPEL_ORDER_GIVEN = 2    /* the layers of dc->order_given first, in that order; the weighted
                                  layers it leaves out follow, most weights first (a small layer
                                  that matters for speed, such as LeNet-5's first convolution, can
                                  go before the large ones spend the tolerance) */
} scalpel_layer_order;

/* scalpel_driver_config: how the drivers train and prune. Fill with
 * scalpel_driver_config_default, then change what you need. */
typedef struct scalpel_driver_config {
    scalpel_train_config train;   /* trainers the drivers create (scalpel_prune_for, retraining
                                     after node removal); node_masks is set by the driver */
    int32_t batch;                /* batch size for new trainers; default 64 */
    int32_t epochs_per_stage;     /* retraining epochs after each pruning stage; default 1 */
    int32_t epochs_final;         /* closing retraining, default 1 (0: none): of the smaller
                                     network after node removal; and, after the last stage of
                                     the Traditional and SIMD-aware drivers, a fine-tune at
                                     lr x train.lr_gamma, undone when it ends below the accuracy
                                     it started from (so it never takes the result out of the
                                     tolerance its stages kept) */
    int32_t fc_epochs_per_stage;  /* scalpel_prune_for, moderate class, when conv layers were
                                     node-pruned: retraining epochs per stage of the SIMD-aware
                                     fc phase that follows (the convolutions are frozen then, so
                                     its epochs cost a fraction of a node stage's); 0 (default) =
                                     epochs_per_stage */
    int32_t max_stages;           /* stages per driver (per layer for SIMD-aware); default 8 */
    float rate_start, rate_step, rate_max; /* target pruning rates: start, + step per stage, at
                                     most max; defaults 0.5, 0.1, 0.95 */
    float rate_keep;              /* 0 (default): the linear ladder above. In (0, 1): a geometric
                                     one, each stage keeps rate_keep of the weights the last one
                                     kept: rate s = 1 - (1 - rate_start) * rate_keep^s (at most
                                     rate_max; rate_step is then unused). Finer steps near the
                                     end, where one 10-point step costs the most accuracy. */
    float tolerance;              /* accuracy drop allowed below dense; default 0.01 */
    float lambda_start, lambda_factor; /* node pruning: lambda of stage s = start * factor^s;
                                     defaults 0.001, 2 (b lives in a band of 0.002: small) */
    int32_t round_to;             /* node removal rounding (1, 8, 16, 32); default 1 */
    uint8_t frozen[SCALPEL_NET_MAX_LAYERS]; /* 1: layer i's weights and biases are restored after
                                     every step (frozen); default 0 */
    int32_t patience;             /* stages past tolerance in a row (any driver) tolerated before
                                     the driver rolls back to the last stage within it and stops
                                     (accuracy right after a stage is noisy: one bad epoch need
                                     not end pruning); default 0 = stop at the first */
    int32_t stage_anneal;         /* 1: the last retraining epoch of each stage runs at lr x
                                     train.lr_gamma, so the accuracy that decides the stage is
                                     measured at a settled point (less epoch-to-epoch noise);
                                     needs epochs_per_stage >= 2; default 0 */
    int32_t layer_order;          /* SIMD-aware: the order of the layers, a scalpel_layer_order;
                                     default SCALPEL_ORDER_TIME */
    int32_t order_given[SCALPEL_NET_MAX_LAYERS]; /* SCALPEL_ORDER_GIVEN: layer indices (weighted
                                     layers, each at most once), n_order_given of them */
    int32_t n_order_given;        /* default 0 */
    float layer_rate_max[SCALPEL_NET_MAX_LAYERS]; /* SIMD-aware: 0 (default) = rate_max; in (0, 1]:
                                     layer i's ladder stops at min(rate_max, this), for a layer
                                     that should keep most of its weights (a cap at or below the
                                     layer's break-even skips it) */
    int32_t tolerance_shares;     /* SIMD-aware: 0 (default) = every layer's stages are judged
                                     against the whole tolerance below dense, so the first layers
                                     may spend all of it. 1 = each layer may spend an equal share
                                     of what the layers before it left: the k-th of n layers to
                                     prune stops at a drop of spent + (tolerance - spent) /
                                     (n - k + 1) below dense (spent: the drop when it starts), and
                                     a share one layer does not use passes on to the next. The
                                     whole result stays within tolerance either way. */
    int32_t remove_dead;          /* SIMD-aware: 1 = when a layer's stages end, its nodes with no
                                     weight left (rows whose every group was pruned) are removed
                                     exactly, their constant outputs folded into the next weighted
                                     layer's bias (scalpel_net_remove_dead_nodes), provided that
                                     layer is not group-pruned yet (its groups then form on the
                                     smaller shape, aligned). The trainer is rebuilt on the
                                     smaller network (momentum restarts at 0); not with node
                                     masks. Default 0 = shapes never change */
    scalpel_progress_fn progress; /* NULL = silent (the default) */
    void *progress_user;
    const char *checkpoint_path;  /* when set, scalpel_train_epochs (and so every driver) saves a
                                     checkpoint there after every epoch; default NULL */
} scalpel_driver_config;

/* scalpel_prune_result: what a driver achieved. */
typedef struct scalpel_prune_result {
    float dense_accuracy;                     /* test accuracy before pruning */
    float accuracy;                           /* test accuracy of the result */
    float rate;                               /* fraction of all weights pruned (vs the dense net) */
    float layer_rate[SCALPEL_NET_MAX_LAYERS]; /* per layer, vs its dense weight count */
    int32_t skipped[SCALPEL_NET_MAX_LAYERS];  /* SIMD-aware: 1 = not weight-pruned (cannot get
                                                 faster, frozen, or not of the kind asked for) */
    int32_t order[SCALPEL_NET_MAX_LAYERS];    /* SIMD-aware: weighted layers in the order they were
                                                 pruned (dc->layer_order), -1 after */
    float layer_accuracy[SCALPEL_NET_MAX_LAYERS]; /* SIMD-aware: test accuracy after layer i's
                                                 stages (the layers before it in order pruned
                                                 too; before the closing fine-tune); 0 for a
                                                 skipped layer and in the other drivers */
    int32_t nodes_before[SCALPEL_NET_MAX_LAYERS], nodes_after[SCALPEL_NET_MAX_LAYERS]; /* rows */
    int32_t stages;                           /* stages run (kept or rolled back) */
} scalpel_prune_result;

SCALPEL_API void scalpel_driver_config_default(scalpel_driver_config *dc);

/* Test accuracy of the trainer on ds (no dropout), in chunks of batch_max. */
SCALPEL_API scalpel_status scalpel_trainer_evaluate_dataset(scalpel_trainer *tr, const scalpel_dataset *ds,
                                                            float *accuracy);
/* Fraction of the trainer's weights pruned: weights with mask 0, in rows whose node is off, or
 * in input columns that read a node that is off. */
SCALPEL_API float scalpel_trainer_prune_rate(const scalpel_trainer *tr);

/* `epochs` epochs of SGD over train in batches of tr->batch_max, shuffled with
 * scalpel_dataset_shuffle(n, config.seed + tr->epoch) (so a resumed run shuffles alike), then
 * evaluation on test (may be NULL) and one progress call (dc and dc->progress may be NULL;
 * stage NULL = "train"), and a checkpoint when dc->checkpoint_path is set. tr->epoch counts
 * the epochs. *accuracy (may be NULL) = the last test accuracy. Layers with dc->frozen[i] set
 * get their weights and biases back after every step. Allocates batch buffers for the call.
 * Resuming: a trainer initialised like the first, scalpel_trainer_load_checkpoint, then the
 * remaining epochs give bit-identical weights to an uninterrupted run (same build, threads). */
SCALPEL_API scalpel_status scalpel_train_epochs(scalpel_trainer *tr, const scalpel_dataset *train,
                                                const scalpel_dataset *test, int32_t epochs,
                                                const char *stage, const scalpel_driver_config *dc,
                                                float *accuracy);

/* Traditional pruning (Han et al.) of a trained trainer: stage s prunes every weighted layer to
 * magnitude rate s of the ladder (rate_start, rate_step or rate_keep, rate_max;
 * scalpel_prune_magnitude_rate into the masks), retrains epochs_per_stage epochs with Han's
 * dropout rule on fc layers, and stops when the accuracy falls more than tolerance below dense
 * (patience + 1 stages in a row): the trainer goes back to the last stage within tolerance.
 * Then epochs_final epochs of fine-tuning at lr x lr_gamma. */
SCALPEL_API scalpel_status scalpel_prune_traditional(scalpel_trainer *tr, const scalpel_dataset *train,
                                                     const scalpel_dataset *test,
                                                     const scalpel_driver_config *dc, scalpel_prune_result *res);

/* SIMD-aware pruning for hw: the weighted layers are pruned one at a time in dc->layer_order
 * (by default timed dense with the library's kernels at batch hw->batch, slowest first; or
 * most weights first; or dc->order_given first), each up to its rate cap
 * (dc->layer_rate_max, else rate_max) and within its tolerance (the whole of it, or its share
 * with dc->tolerance_shares), with groups of hw->group
 * (scalpel_prune_groups_rate, RMS) at the ladder's rates, retraining after each stage; a layer
 * stops as in scalpel_prune_traditional (past tolerance patience + 1 times in a row, back to
 * its last stage within it). A layer whose achieved rate is not above its
 * kernel's break-even (mv_grouped for fc at batch 1, else mm_grouped) is restored dense
 * (skipped[i] = 1). only_kind: 0 = every weighted layer, or SCALPEL_LAYER_FC / _CONV2D (the
 * others are left as they are and marked skipped, as are layers with dc->frozen set). */
SCALPEL_API scalpel_status scalpel_prune_simd(scalpel_trainer *tr, const scalpel_dataset *train,
                                              const scalpel_dataset *test, const scalpel_hw_profile *hw,
                                              int32_t only_kind, const scalpel_driver_config *dc,
                                              scalpel_prune_result *res);

/* Node pruning with the trainer's mask layers (tr built with config.node_masks != NONE): stage
 * s sets mask_lambda = lambda_start * lambda_factor^s and each fc layer's dropout to
 * scalpel_dropout_nodes(config.dropout[i], kept, original) of the nodes feeding it, trains
 * epochs_per_stage epochs and stops past tolerance (patience + 1 stages in a row) or when a
 * layer has no node left, back at the last stage within tolerance. Then the nodes that are off
 * are removed (scalpel_trainer_remove_nodes with round_to) into *out, which a new trainer
 * retrains for epochs_final epochs (dc->train with no node masks, dropout scaled alike); that
 * retraining is undone when it ends below the removed network it started from, so res->accuracy
 * is never below the last accepted stage's. The lambda stops growing at
 * SCALPEL_TRAIN_MASK_LAMBDA_MAX. */
SCALPEL_API scalpel_status scalpel_prune_nodes(scalpel_trainer *tr, const scalpel_dataset *train,
                                               const scalpel_dataset *test, const scalpel_driver_config *dc,
                                               scalpel_prune_result *res, scalpel_net *out);

/* The whole Scalpel pipeline for a trained dense net on hw: LOW = SIMD-aware pruning of every
 * layer; MODERATE = node pruning of conv layers, then (conv frozen) SIMD-aware pruning of fc
 * layers, whose tolerance is what node pruning left of dc->tolerance against the dense
 * accuracy (the whole pipeline stays within tolerance of dense) and whose stages retrain
 * dc->fc_epochs_per_stage epochs when that is set; HIGH = node pruning
 * everywhere. Finishes with scalpel_plan_net (SCALPEL mode) and
 * scalpel_net_pack: *out_net is the deployable network (free it). res->layer_rate is against
 * net's dense weight counts. */
SCALPEL_API scalpel_status scalpel_prune_for(const scalpel_net *net, const scalpel_hw_profile *hw,
                                             const scalpel_dataset *train, const scalpel_dataset *test,
                                             const scalpel_driver_config *dc, scalpel_prune_result *res,
                                             scalpel_net *out_net);

/* Checkpoint file format version 1 (little-endian), magic "SCPK": header (magic, version,
 * total size, layer count), the trainer's configuration, steps, RNG state, epoch and stage
 * counters, then per layer its shape, dropout and (weighted layers) weights, biases, momentum,
 * weight mask and node masks; CRC-32 (scalpel_crc32) of everything before the last 4 bytes.
 * The reader takes only what training can produce: the configuration within the bounds of
 * scalpel_train_config, a nonzero RNG state, steps below SCALPEL_CHECKPOINT_MAX_STEPS (2^53:
 * 285 years at a million steps a second, and every count below it exact in a double), epoch
 * and stage counters in [0, INT32_MAX] (scalpel_train_epochs runs an int32 count of epochs
 * and callers read the counter as one). The epoch counter is not bounded by the step count:
 * scalpel_prune_nodes' retraining carries the epoch counter into a fresh trainer at step 0. */
#define SCALPEL_CHECKPOINT_MAGIC "SCPK"
#define SCALPEL_CHECKPOINT_VERSION 1
#define SCALPEL_CHECKPOINT_MAX_STEPS ((int64_t)1 << 53)

/* Writes tr's whole training state to path through a temporary file renamed over it (the
 * writers' rule: "files" in scalpel_format.h). */
SCALPEL_API scalpel_status scalpel_trainer_save_checkpoint(const scalpel_trainer *tr, const char *path);
/* Restores a checkpoint into tr, a trainer initialised for the same architecture (and node
 * masks). Everything is validated before tr is touched: the file's errors (SCALPEL_ERR_NOT_FOUND,
 * _PERMISSION, _NOT_REGULAR, _IO), _TRUNCATED, _MAGIC, _VERSION, _CHECKSUM, _SHAPE (another
 * architecture; a file longer than this trainer's checkpoints is refused before it is read),
 * _CORRUPT (bad sizes, masks not 0/1, non-finite values, an invalid configuration). On error
 * tr is unchanged. */
SCALPEL_API scalpel_status scalpel_trainer_load_checkpoint(scalpel_trainer *tr, const char *path);
/* The same through memory: *size bytes of checkpoint (free with SCALPEL_FREE(tr->alloc_ctx)). */
SCALPEL_API scalpel_status scalpel_trainer_checkpoint_to_buffer(const scalpel_trainer *tr, void **buf,
                                                                size_t *size);
SCALPEL_API scalpel_status scalpel_trainer_checkpoint_from_buffer(scalpel_trainer *tr, const void *buf,
                                                                  size_t size);

#endif /* SCALPEL_NO_MALLOC */

#ifdef __cplusplus
}
#endif

#endif /* SCALPEL_TRAIN_H */

/* ======================================================================================== */
/* >>implementation                                                                         */
/* ======================================================================================== */
#if defined(SCALPEL_IMPLEMENTATION) && !defined(SCALPEL_TRAIN_IMPLEMENTATION)
#define SCALPEL_TRAIN_IMPLEMENTATION
#endif

#if defined(SCALPEL_TRAIN_IMPLEMENTATION) && !defined(SCALPEL__TRAIN_IMPLEMENTATION_DONE)
#define SCALPEL__TRAIN_IMPLEMENTATION_DONE

#ifndef SCALPEL_NO_MALLOC

#include <string.h>
#include <float.h>

/* The allocator defaults, SCALPEL__PRIV and the small private helpers every module shares
 * (byte order, saturating sizes, the seeded generator, sqrt, temporary files) come from
 * scalpel_format.h ("private helpers"). */

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================================== */
/* >>trainer (implementation)                                                               */
/* ======================================================================================== */

#define SCALPEL__TRAIN_ALIGN 64u

static int scalpel__train_weighted(int32_t kind)
{
    return kind == SCALPEL_LAYER_FC || kind == SCALPEL_LAYER_CONV2D;
}

static int scalpel__train_finite(float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return (bits & 0x7f800000u) != 0x7f800000u;
}

/* ---- OpenMP (optional) ----------------------------------------------------------------- */

#ifdef _OPENMP
#include <omp.h>
#define SCALPEL__TRAIN_OMP(x) _Pragma(#x)
static int32_t scalpel__train_thread(void) { return (int32_t)omp_get_thread_num(); }
#else
#define SCALPEL__TRAIN_OMP(x)
static int32_t scalpel__train_thread(void) { return 0; }
#endif

/* Threads for a loop over `batch` samples: what OpenMP offers now, at most what the scratch
 * was sized for and at most one per sample. */
static int32_t scalpel__train_threads(const scalpel_trainer *tr, int32_t batch)
{
    int32_t nt = 1;
#ifdef _OPENMP
    nt = (int32_t)omp_get_max_threads();
#endif
    if (nt > tr->threads) nt = tr->threads;
    if (nt > batch) nt = batch;
    return nt < 1 ? 1 : nt;
}

/* ---- math without libm ------------------------------------------------------------------ */

/* e^x in double, made for x <= 0 (softmax after subtracting the maximum): x = k ln2 + r with k
 * the nearest integer, Taylor to degree 10 on |r| <= ln2/2 (relative error ~1e-12). Defined
 * for every input, because diverged training hands it inf - inf: NaN gives NaN, x < -700
 * (-inf included) gives 0, x > 700 (+inf included) gives +inf, so k stays within +-1010 and
 * nothing outside int32 range is ever converted to an integer. */
static double scalpel__train_exp_nonpos(double x)
{
    double r, p, scale, t;
    int32_t k;
    uint64_t bits;
    if (x != x) return x;
    if (x < -700.0) return 0.0;
    if (x > 700.0) {
        bits = 0x7ff0000000000000ull;
        memcpy(&scale, &bits, sizeof(scale));
        return scale;
    }
    t = x * 1.4426950408889634;
    k = (int32_t)(t < 0.0 ? t - 0.5 : t + 0.5);
    r = x - (double)k * 0.6931471805599453;
    p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 +
        r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800))))))))));
    bits = (uint64_t)(1023 + k) << 52;
    memcpy(&scale, &bits, sizeof(scale));
    return p * scale;
}

/* ln x for x >= 1 (a sum of exponentials, at least one of them 1): x = m 2^e with m in
 * [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m - 1) / (m + 1)) by its series. */
static double scalpel__train_log(double x)
{
    uint64_t bits;
    int32_t e;
    double m, s, s2, t;
    memcpy(&bits, &x, sizeof(bits));
    e = (int32_t)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    memcpy(&m, &bits, sizeof(m));
    if (m > 1.4142135623730951) { m *= 0.5; e++; }
    s = (m - 1.0) / (m + 1.0);
    s2 = s * s;
    t = 1.0 / 19;
    t = 1.0 / 17 + s2 * t; t = 1.0 / 15 + s2 * t; t = 1.0 / 13 + s2 * t; t = 1.0 / 11 + s2 * t;
    t = 1.0 / 9 + s2 * t;  t = 1.0 / 7 + s2 * t;  t = 1.0 / 5 + s2 * t;  t = 1.0 / 3 + s2 * t;
    t = 1.0 + s2 * t;
    return (double)e * 0.6931471805599453 + 2.0 * s * t;
}

/* ---- helpers ------------------------------------------------------------------------------ */

/* Reserves `bytes` (64-byte aligned) at *off of a block based at base (NULL on the sizing
 * pass); *off becomes SIZE_MAX on overflow. */
static void *scalpel__train_carve(unsigned char *base, size_t *off, size_t bytes)
{
    size_t o = *off;
    if (o == SIZE_MAX || bytes == SIZE_MAX) { *off = SIZE_MAX; return NULL; }
    o = (o + (SCALPEL__TRAIN_ALIGN - 1u)) & ~(size_t)(SCALPEL__TRAIN_ALIGN - 1u);
    if (bytes > SIZE_MAX - o - SCALPEL__TRAIN_ALIGN) { *off = SIZE_MAX; return NULL; }
    *off = o + bytes;
    return base ? (void *)(base + o) : NULL;
}

static size_t scalpel__train_in_size(const scalpel_layer *L)
{
    return (size_t)L->geom.in_c * (size_t)L->geom.in_h * (size_t)L->geom.in_w;
}

static size_t scalpel__train_out_size(const scalpel_layer *L)
{
    return (size_t)L->geom.out_c * (size_t)L->geom.out_h * (size_t)L->geom.out_w;
}

/* t[cols x rows] = a[rows x cols]^T */
static void scalpel__train_transpose(const float *a, int32_t rows, int32_t cols, float *t)
{
    int32_t r, c;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++) t[(size_t)c * (size_t)rows + (size_t)r] = a[(size_t)r * (size_t)cols + (size_t)c];
}

/* dx[C x H x W] += col2im(dcol[(C*K*K) x (OH*OW)]): the adjoint of scalpel_im2col_f32. */
static void scalpel__train_col2im(const float *dcol, int32_t channels, int32_t height, int32_t width,
                                  int32_t kernel, int32_t stride, int32_t pad, int32_t oh, int32_t ow, float *dx)
{
    int32_t ch, i, j, oy, ox;
    size_t plane = (size_t)oh * (size_t)ow;
    for (ch = 0; ch < channels; ch++)
        for (i = 0; i < kernel; i++)
            for (j = 0; j < kernel; j++) {
                const float *src = dcol + ((size_t)(ch * kernel + i) * (size_t)kernel + (size_t)j) * plane;
                float *dst = dx + (size_t)ch * (size_t)height * (size_t)width;
                for (oy = 0; oy < oh; oy++) {
                    int32_t iy = oy * stride - pad + i;
                    if (iy < 0 || iy >= height) continue;
                    for (ox = 0; ox < ow; ox++) {
                        int32_t ix = ox * stride - pad + j;
                        if (ix >= 0 && ix < width)
                            dst[(size_t)iy * (size_t)width + (size_t)ix] += src[(size_t)oy * (size_t)ow + (size_t)ox];
                    }
                }
            }
}

/* ---- configuration ------------------------------------------------------------------------ */

SCALPEL_API void scalpel_train_config_default(scalpel_train_config *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->lr = 0.01f;
    cfg->momentum = 0.9f;
    cfg->weight_decay = 1e-4f;
    cfg->lr_step = 0;
    cfg->lr_gamma = 0.1f;
    cfg->seed = 1;
    cfg->node_masks = SCALPEL_TRAIN_MASK_NONE;
    cfg->mask_threshold = 0.8f;
    cfg->mask_eps = 0.0001f;
    cfg->mask_init = 0.8002f;
    cfg->mask_max = 0.802f;
    cfg->mask_lambda = 0.0f;
}

/* The optimizer's values within the bounds of scalpel_train_config (NaN fails every
 * comparison, infinities the upper bounds): checked by init and the checkpoint reader through
 * scalpel__train_check_config, and before every update, since a driver or the caller may
 * change them between steps. */
static int scalpel__train_sgd_ok(const scalpel_train_config *c)
{
    return c->lr > 0.0f && c->lr <= SCALPEL_TRAIN_LR_MAX && c->momentum >= 0.0f && c->momentum < 1.0f &&
           c->weight_decay >= 0.0f && c->weight_decay <= 1.0f && c->lr_step >= 0 && c->lr_gamma > 0.0f &&
           c->lr_gamma <= 1.0f && c->mask_lambda >= 0.0f && c->mask_lambda <= SCALPEL_TRAIN_MASK_LAMBDA_MAX;
}

/* Every field of c within the bounds of scalpel_train_config, dropout only on fc layers of net. */
static scalpel_status scalpel__train_check_config(const scalpel_train_config *c, const scalpel_net *net)
{
    int32_t i;
    if (!scalpel__train_sgd_ok(c)) return SCALPEL_ERR_ARGUMENT;
    if (c->node_masks < 0 || c->node_masks > SCALPEL_TRAIN_MASK_ALL) return SCALPEL_ERR_ARGUMENT;
    if (!(c->mask_threshold >= 0.0f && c->mask_threshold <= 1.0f)) return SCALPEL_ERR_ARGUMENT;
    if (!(c->mask_eps >= 0.0f && c->mask_eps <= 1.0f)) return SCALPEL_ERR_ARGUMENT;
    if (!(c->mask_max >= 0.0f && c->mask_max <= 1.0f)) return SCALPEL_ERR_ARGUMENT;
    if (!(c->mask_init >= 0.0f && c->mask_init <= c->mask_max)) return SCALPEL_ERR_ARGUMENT;
    for (i = 0; i < SCALPEL_NET_MAX_LAYERS; i++) {
        if (!(c->dropout[i] >= 0.0f && c->dropout[i] < 1.0f)) return SCALPEL_ERR_ARGUMENT;
        if (c->dropout[i] > 0.0f && (i >= net->n_layers || net->layers[i].geom.kind != SCALPEL_LAYER_FC))
            return SCALPEL_ERR_ARGUMENT;
    }
    return SCALPEL_OK;
}

/* ---- layer kinds in training: one entry per kind ----------------------------------------- */
/* Training's side of scalpel.h's kind table: three functions per kind, scalpel__train_NAME_*
 * for each NAME of SCALPEL__LAYER_KINDS; the table is generated from that list.
 *
 *   carve     the layer's own arrays in the trainer's block (scalpel__train_carve: base NULL
 *             only counts), and its needs of the shared scratch regions, raised in need[]:
 *             0 im2col [cols x P] or gradient transpose [rows x batch], 1 col^T, 2 W^T,
 *             3 per-sample dW (and 4, the per-thread partial dW), 5 per-thread partial db
 *   forward   act[i + 1][batch x out] = layer(act[i]), keeping what backward needs
 *   backward  from g[batch x out] = dL/d(output): the layer's gradients, and (need_dx) dx[batch
 *             x in] = dL/d(input) */
typedef struct scalpel__train_kind_ops {
    void (*carve)(scalpel_trainer *tr, int32_t i, unsigned char *base, size_t *off, size_t need[6]);
    void (*forward)(scalpel_trainer *tr, int32_t i, const float *src, int32_t batch, int32_t training, float *dst);
    void (*backward)(scalpel_trainer *tr, int32_t i, const float *g, int32_t batch, int need_dx, float *dx);
} scalpel__train_kind_ops;

SCALPEL__PRIV void scalpel__train_need(size_t need[6], int k, size_t v)
{
    if (v > need[k]) need[k] = v;
}

/* The arrays and scratch needs every weighted layer has: weights, bias, their gradients and
 * momenta, the weight mask; the masked / dropped input when fc or node-masked. */
static void scalpel__train_weighted_carve(scalpel_trainer *tr, int32_t i, unsigned char *base, size_t *off,
                                          size_t need[6])
{
    const scalpel_layer *L = &tr->arch.layers[i];
    scalpel_train_layer *T = &tr->layers[i];
    size_t B = (size_t)tr->batch_max, in = scalpel__train_in_size(L);
    size_t wn = (size_t)L->geom.rows * (size_t)L->geom.cols, rn = (size_t)L->geom.rows * sizeof(float);
    T->w = (float *)scalpel__train_carve(base, off, wn * sizeof(float));
    T->grad_w = (float *)scalpel__train_carve(base, off, wn * sizeof(float));
    T->mom_w = (float *)scalpel__train_carve(base, off, wn * sizeof(float));
    T->mask = (uint8_t *)scalpel__train_carve(base, off, wn);
    T->b = (float *)scalpel__train_carve(base, off, rn);
    T->grad_b = (float *)scalpel__train_carve(base, off, rn);
    T->mom_b = (float *)scalpel__train_carve(base, off, rn);
    if (L->geom.kind == SCALPEL_LAYER_FC || T->mask_owner >= 0)
        tr->xin[i] = (float *)scalpel__train_carve(base, off, scalpel__size_mul(B * sizeof(float), in));
    scalpel__train_need(need, 2, wn);
    scalpel__train_need(need, 3, wn);
    scalpel__train_need(need, 4, wn);
    scalpel__train_need(need, 5, (size_t)L->geom.rows);
}

/* The input a weighted layer multiplies: act[i] through the node masks of its owner and,
 * training an fc layer, inverted dropout (flags kept for backward); act[i] itself when
 * neither applies. */
static const float *scalpel__train_masked_input(scalpel_trainer *tr, int32_t i, const float *src, int32_t batch,
                                                int32_t training)
{
    const scalpel_layer *L = &tr->arch.layers[i];
    scalpel_train_layer *T = &tr->layers[i];
    size_t in = scalpel__train_in_size(L), k;
    int32_t s;
    float p = (training && L->geom.kind == SCALPEL_LAYER_FC) ? T->dropout : 0.0f;
    if (T->mask_owner >= 0 || p > 0.0f) {
        const float *na = T->mask_owner >= 0 ? tr->layers[T->mask_owner].node_a : NULL;
        size_t plane = (size_t)L->geom.in_h * (size_t)L->geom.in_w;
        float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
        float *xm = tr->xin[i];
        for (s = 0; s < batch; s++)
            for (k = 0; k < in; k++) {
                size_t idx = (size_t)s * in + k;
                float v = src[idx];
                if (na) v *= na[k / plane];
                if (p > 0.0f) {
                    uint8_t keep = scalpel__rng_uniform(&tr->rng) >= p;
                    tr->drop[i][idx] = keep;
                    v = keep ? v * scale : 0.0f;
                }
                xm[idx] = v;
            }
        src = xm;
    }
    return src;
}

/* 1 when backward must read the masked input of weighted layer i (and send dx back through
 * the masks). */
static int scalpel__train_masked_in(const scalpel_trainer *tr, int32_t i)
{
    const scalpel_train_layer *T = &tr->layers[i];
    return T->mask_owner >= 0 ||
           (tr->last_training && tr->arch.layers[i].geom.kind == SCALPEL_LAYER_FC && T->dropout > 0.0f);
}

/* dx through dropout, then the node mask (straight-through to the owner's b). */
static void scalpel__train_masked_dx(scalpel_trainer *tr, int32_t i, int32_t batch, float *dx)
{
    const scalpel_layer *L = &tr->arch.layers[i];
    scalpel_train_layer *T = &tr->layers[i];
    size_t in = scalpel__train_in_size(L), k;
    int32_t s;
    float p = (tr->last_training && L->geom.kind == SCALPEL_LAYER_FC) ? T->dropout : 0.0f;
    float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
    size_t plane = (size_t)L->geom.in_h * (size_t)L->geom.in_w;
    scalpel_train_layer *O = T->mask_owner >= 0 ? &tr->layers[T->mask_owner] : NULL;
    for (s = 0; s < batch; s++)
        for (k = 0; k < in; k++) {
            size_t idx = (size_t)s * in + k;
            float d = dx[idx];
            if (p > 0.0f) d = tr->drop[i][idx] ? d * scale : 0.0f;
            if (O) {
                O->node_grad_b[k / plane] += d * tr->act[i][idx];
                d *= O->node_a[k / plane];
            }
            dx[idx] = d;
        }
}

/* ---- fc: batched as X[batch x cols] . W^T -------------------------------------------------- */

static void scalpel__train_fc_carve(scalpel_trainer *tr, int32_t i, unsigned char *base, size_t *off, size_t need[6])
{
    const scalpel_layer *L = &tr->arch.layers[i];
    size_t B = (size_t)tr->batch_max, in = scalpel__train_in_size(L);
    scalpel__train_weighted_carve(tr, i, base, off, need);
    tr->drop[i] = (uint8_t *)scalpel__train_carve(base, off, scalpel__size_mul(B, in));
    scalpel__train_need(need, 0, scalpel__size_mul((size_t)L->geom.rows, B));
}

static void scalpel__train_fc_forward(scalpel_trainer *tr, int32_t i, const float *src, int32_t batch,
                                      int32_t training, float *dst)
{
    const scalpel_layer *L = &tr->arch.layers[i];
    scalpel_train_layer *T = &tr->layers[i];
    float *wt = tr->scratch[2];
    int32_t r, s;
    src = scalpel__train_masked_input(tr, i, src, batch, training);
    scalpel__train_transpose(T->w, L->geom.rows, L->geom.cols, wt);
    scalpel_gemm_f32(src, batch, L->geom.cols, wt, L->geom.rows, dst);
    for (s = 0; s < batch; s++)
        for (r = 0; r < L->geom.rows; r++) dst[(size_t)s * (size_t)L->geom.rows + (size_t)r] += T->b[r];
}

static void scalpel__train_fc_backward(scalpel_trainer *tr, int32_t i, const float *g, int32_t batch, int need_dx,
                                       float *dx)
{
    const scalpel_layer *L = &tr->arch.layers[i];
    scalpel_train_layer *T = &tr->layers[i];
    int masked_in = scalpel__train_masked_in(tr, i);
    const float *src = masked_in ? tr->xin[i] : tr->act[i];
    float *gt = tr->scratch[0];
    int32_t r, s;
    memset(T->grad_b, 0, (size_t)L->geom.rows * sizeof(float));
    scalpel__train_transpose(g, batch, L->geom.rows, gt);
    scalpel_gemm_f32(gt, L->geom.rows, batch, src, L->geom.cols, T->grad_w);
    for (r = 0; r < L->geom.rows; r++) {
        float sb = 0.0f;
        for (s = 0; s < batch; s++) sb += gt[(size_t)r * (size_t)batch + (size_t)s];
        T->grad_b[r] = sb;
    }
    if (need_dx) scalpel_gemm_f32(g, batch, L->geom.rows, T->w, L->geom.cols, dx);
    if (need_dx && masked_in) scalpel__train_masked_dx(tr, i, batch, dx);
}

/* ---- conv2d: per sample, im2col + gemm; samples split over threads -------------------------- */

static void scalpel__train_conv2d_carve(scalpel_trainer *tr, int32_t i, unsigned char *base, size_t *off,
                                        size_t need[6])
{
    const scalpel_layer *L = &tr->arch.layers[i];
    size_t c = scalpel__size_mul((size_t)L->geom.cols, (size_t)L->geom.out_h * (size_t)L->geom.out_w);
    scalpel__train_weighted_carve(tr, i, base, off, need);
    scalpel__train_need(need, 0, c);
    scalpel__train_need(need, 1, c);
}

static void scalpel__train_conv2d_forward(scalpel_trainer *tr, int32_t i, const float *src, int32_t batch,
                                          int32_t training, float *dst)
{
    const scalpel_layer *L = &tr->arch.layers[i];
    scalpel_train_layer *T = &tr->layers[i];
    size_t in = scalpel__train_in_size(L), out = scalpel__train_out_size(L);
    /* samples are independent: threads change nothing in the results */
    int32_t P = L->geom.out_h * L->geom.out_w, nt = scalpel__train_threads(tr, batch), s;
    const float *csrc = scalpel__train_masked_input(tr, i, src, batch, training);
    (void)nt;
    SCALPEL__TRAIN_OMP(omp parallel for num_threads(nt) schedule(static))
    for (s = 0; s < batch; s++) {
        float *col = tr->scratch[0] + (size_t)scalpel__train_thread() * tr->scratch_n[0];
        float *o = dst + (size_t)s * out;
        int32_t r, q;
        scalpel_im2col_f32(csrc + (size_t)s * in, L->geom.in_c, L->geom.in_h, L->geom.in_w, L->geom.kernel, L->geom.stride, L->geom.pad, col);
        scalpel_gemm_f32(T->w, L->geom.rows, L->geom.cols, col, P, o);
        for (r = 0; r < L->geom.rows; r++)
            for (q = 0; q < P; q++) o[(size_t)r * (size_t)P + (size_t)q] += T->b[r];
    }
}

static void scalpel__train_conv2d_backward(scalpel_trainer *tr, int32_t i, const float *g, int32_t batch, int need_dx,
                                           float *dx)
{
    const scalpel_layer *L = &tr->arch.layers[i];
    scalpel_train_layer *T = &tr->layers[i];
    size_t in = scalpel__train_in_size(L), out = scalpel__train_out_size(L), k;
    int masked_in = scalpel__train_masked_in(tr, i);
    const float *src = masked_in ? tr->xin[i] : tr->act[i];
    /* Each thread takes a contiguous share of the samples and sums its dW and db into its own
     * partial buffers; the partials are added in thread order. One thread gives exactly the
     * serial sums. */
    int32_t P = L->geom.out_h * L->geom.out_w, nt = scalpel__train_threads(tr, batch), t, r;
    size_t wn = (size_t)L->geom.rows * (size_t)L->geom.cols;
    const float *csrc = src, *cg = g;
    float *wt = tr->scratch[2], *cdx = dx;
    memset(T->grad_b, 0, (size_t)L->geom.rows * sizeof(float));
    if (need_dx) {
        scalpel__train_transpose(T->w, L->geom.rows, L->geom.cols, wt);
        memset(dx, 0, (size_t)batch * in * sizeof(float));
    }
    SCALPEL__TRAIN_OMP(omp parallel for num_threads(nt) schedule(static, 1))
    for (t = 0; t < nt; t++) {
        float *col = tr->scratch[0] + (size_t)t * tr->scratch_n[0];
        float *colT = tr->scratch[1] + (size_t)t * tr->scratch_n[1];
        float *tmp = tr->scratch[3] + (size_t)t * tr->scratch_n[3];
        float *pw = tr->scratch[4] + (size_t)t * tr->scratch_n[4];
        float *pb = tr->scratch[5] + (size_t)t * tr->scratch_n[5];
        int32_t s0 = (int32_t)((int64_t)batch * t / nt), s1 = (int32_t)((int64_t)batch * (t + 1) / nt), ss, rr, q;
        size_t kk;
        memset(pw, 0, wn * sizeof(float));
        memset(pb, 0, (size_t)L->geom.rows * sizeof(float));
        for (ss = s0; ss < s1; ss++) {
            const float *gs = cg + (size_t)ss * out;
            scalpel_im2col_f32(csrc + (size_t)ss * in, L->geom.in_c, L->geom.in_h, L->geom.in_w, L->geom.kernel, L->geom.stride, L->geom.pad, col);
            scalpel__train_transpose(col, L->geom.cols, P, colT);
            scalpel_gemm_f32(gs, L->geom.rows, P, colT, L->geom.cols, tmp);     /* dW_s = dY . col^T */
            for (kk = 0; kk < wn; kk++) pw[kk] += tmp[kk];
            for (rr = 0; rr < L->geom.rows; rr++) {
                float sb = 0.0f;
                for (q = 0; q < P; q++) sb += gs[(size_t)rr * (size_t)P + (size_t)q];
                pb[rr] += sb;
            }
            if (need_dx) {
                scalpel_gemm_f32(wt, L->geom.cols, L->geom.rows, gs, P, col);   /* dcol = W^T . dY */
                scalpel__train_col2im(col, L->geom.in_c, L->geom.in_h, L->geom.in_w, L->geom.kernel, L->geom.stride, L->geom.pad,
                                      L->geom.out_h, L->geom.out_w, cdx + (size_t)ss * in);
            }
        }
    }
    memcpy(T->grad_w, tr->scratch[4], wn * sizeof(float));
    memcpy(T->grad_b, tr->scratch[5], (size_t)L->geom.rows * sizeof(float));
    for (t = 1; t < nt; t++) {
        const float *pw = tr->scratch[4] + (size_t)t * tr->scratch_n[4];
        const float *pb = tr->scratch[5] + (size_t)t * tr->scratch_n[5];
        for (k = 0; k < wn; k++) T->grad_w[k] += pw[k];
        for (r = 0; r < L->geom.rows; r++) T->grad_b[r] += pb[r];
    }
    if (need_dx && masked_in) scalpel__train_masked_dx(tr, i, batch, dx);
}

/* ---- maxpool: the forward keeps the winner of each window, backward routes to it ----------- */

static void scalpel__train_maxpool_carve(scalpel_trainer *tr, int32_t i, unsigned char *base, size_t *off,
                                         size_t need[6])
{
    size_t out = scalpel__train_out_size(&tr->arch.layers[i]);
    (void)need;
    tr->argmax[i] = (int32_t *)scalpel__train_carve(base, off, scalpel__size_mul((size_t)tr->batch_max * sizeof(int32_t), out));
}

static void scalpel__train_maxpool_forward(scalpel_trainer *tr, int32_t i, const float *src, int32_t batch,
                                           int32_t training, float *dst)
{
    const scalpel_layer *L = &tr->arch.layers[i];
    size_t in = scalpel__train_in_size(L), out = scalpel__train_out_size(L);
    int32_t s, c, oy, ox, ky, kx, K = L->geom.kernel, S = L->geom.stride;
    (void)training;
    for (s = 0; s < batch; s++)
        for (c = 0; c < L->geom.in_c; c++) {
            const float *pl = src + (size_t)s * in + (size_t)c * (size_t)L->geom.in_h * (size_t)L->geom.in_w;
            size_t obase = (size_t)s * out + (size_t)c * (size_t)L->geom.out_h * (size_t)L->geom.out_w;
            for (oy = 0; oy < L->geom.out_h; oy++)
                for (ox = 0; ox < L->geom.out_w; ox++) {
                    int32_t best = (oy * S) * L->geom.in_w + ox * S;
                    for (ky = 0; ky < K; ky++)
                        for (kx = 0; kx < K; kx++) {
                            int32_t j = (oy * S + ky) * L->geom.in_w + ox * S + kx;
                            if (pl[j] > pl[best]) best = j;
                        }
                    dst[obase + (size_t)oy * (size_t)L->geom.out_w + (size_t)ox] = pl[best];
                    tr->argmax[i][obase + (size_t)oy * (size_t)L->geom.out_w + (size_t)ox] = best;
                }
        }
}

static void scalpel__train_maxpool_backward(scalpel_trainer *tr, int32_t i, const float *g, int32_t batch,
                                            int need_dx, float *dx)
{
    const scalpel_layer *L = &tr->arch.layers[i];
    size_t in = scalpel__train_in_size(L), out = scalpel__train_out_size(L), tot = (size_t)batch * out, k;
    if (!need_dx) return;
    memset(dx, 0, (size_t)batch * in * sizeof(float));
    for (k = 0; k < tot; k++) {
        size_t sidx = k / out, cidx = (k % out) / ((size_t)L->geom.out_h * (size_t)L->geom.out_w);
        dx[sidx * in + cidx * (size_t)L->geom.in_h * (size_t)L->geom.in_w + (size_t)tr->argmax[i][k]] += g[k];
    }
}

/* ---- relu ----------------------------------------------------------------------------------- */

static void scalpel__train_relu_carve(scalpel_trainer *tr, int32_t i, unsigned char *base, size_t *off, size_t need[6])
{
    (void)tr; (void)i; (void)base; (void)off; (void)need;
}

static void scalpel__train_relu_forward(scalpel_trainer *tr, int32_t i, const float *src, int32_t batch,
                                        int32_t training, float *dst)
{
    size_t total = (size_t)batch * scalpel__train_out_size(&tr->arch.layers[i]), k;
    (void)training;
    for (k = 0; k < total; k++) dst[k] = src[k] > 0.0f ? src[k] : 0.0f;
}

static void scalpel__train_relu_backward(scalpel_trainer *tr, int32_t i, const float *g, int32_t batch, int need_dx,
                                         float *dx)
{
    size_t tot = (size_t)batch * scalpel__train_out_size(&tr->arch.layers[i]), k;
    const float *y = tr->act[i + 1];
    if (!need_dx) return;
    for (k = 0; k < tot; k++) dx[k] = y[k] > 0.0f ? g[k] : 0.0f;
}

/* Indexed by scalpel_layer_kind (entry 0 is no kind), generated from scalpel.h's
 * SCALPEL__LAYER_KINDS: a kind listed there without its three functions here does not compile. */
#define SCALPEL__TRAIN_KIND_ENTRY(NAME, KIND, W, F, PC, Q, T, GPU, NR, O, K, S, P) SCALPEL__TRAIN_KIND_ENTRY_##T(NAME)
/* Kinds that do not train yet (T = 0) have no functions; scalpel_trainer_init refuses them. */
#define SCALPEL__TRAIN_KIND_ENTRY_0(NAME) { NULL, NULL, NULL },
#define SCALPEL__TRAIN_KIND_ENTRY_1(NAME)                                                             \
    { scalpel__train_##NAME##_carve, scalpel__train_##NAME##_forward, scalpel__train_##NAME##_backward },
static const scalpel__train_kind_ops scalpel__train_kinds[] = {
    { NULL, NULL, NULL },
    SCALPEL__LAYER_KINDS(SCALPEL__TRAIN_KIND_ENTRY)
};
typedef char scalpel__train_kinds_complete[(sizeof scalpel__train_kinds / sizeof scalpel__train_kinds[0] ==
                                            SCALPEL_LAYER_COUNT) ? 1 : -1];
#undef SCALPEL__TRAIN_KIND_ENTRY
#undef SCALPEL__TRAIN_KIND_ENTRY_0
#undef SCALPEL__TRAIN_KIND_ENTRY_1

/* Lays out (base == NULL: sizes) or assigns every array of the trainer in one block. */
static size_t scalpel__train_layout(scalpel_trainer *tr, unsigned char *base)
{
    const scalpel_net *a = &tr->arch;
    size_t off = 0, B = (size_t)tr->batch_max, maxact = (size_t)scalpel_net_input_size(a);
    size_t need[6] = { 1, 1, 1, 1, 1, 1 };
    int32_t i, n = a->n_layers;
    for (i = 0; i < n; i++) {
        const scalpel_layer *L = &a->layers[i];
        size_t in = scalpel__train_in_size(L), out = scalpel__train_out_size(L);
        if (out > maxact) maxact = out;
        tr->act[i] = (float *)scalpel__train_carve(base, &off, scalpel__size_mul(B * sizeof(float), in));
        scalpel__train_kinds[L->geom.kind].carve(tr, i, base, &off, need);
    }
    /* node masks after the per-layer arrays (owners are known from mask_owner links) */
    for (i = 0; i < n; i++) {
        int32_t k;
        int owner = 0;
        for (k = 0; k < n; k++) if (tr->layers[k].mask_owner == i) owner = 1;
        if (owner) {
            size_t rn = (size_t)a->layers[i].geom.rows * sizeof(float);
            tr->layers[i].node_a = (float *)scalpel__train_carve(base, &off, rn);
            tr->layers[i].node_b = (float *)scalpel__train_carve(base, &off, rn);
            tr->layers[i].node_grad_b = (float *)scalpel__train_carve(base, &off, rn);
        }
    }
    tr->act[n] = (float *)scalpel__train_carve(base, &off, scalpel__size_mul(B * sizeof(float),
                                                                              (size_t)scalpel_net_output_size(a)));
    tr->grad[0] = (float *)scalpel__train_carve(base, &off, scalpel__size_mul(B * sizeof(float), maxact));
    tr->grad[1] = (float *)scalpel__train_carve(base, &off, scalpel__size_mul(B * sizeof(float), maxact));
    {
        size_t per[6], k, T = (size_t)tr->threads;
        for (k = 0; k < 6; k++) per[k] = need[k];
        for (k = 0; k < 6; k++) {
            size_t copies = k == 2 ? 1 : T;
            /* a multiple of 16 floats per thread: every thread's region starts on 64 bytes */
            per[k] = (per[k] + 15u) & ~(size_t)15u;
            tr->scratch_n[k] = per[k];
            tr->scratch[k] = (float *)scalpel__train_carve(base, &off,
                                                           scalpel__size_mul(scalpel__size_mul(per[k], copies), sizeof(float)));
        }
    }
    if (off == SIZE_MAX) return SIZE_MAX;
    return off + SCALPEL__TRAIN_ALIGN;
}

SCALPEL_API scalpel_status scalpel_trainer_init(const scalpel_net *net, int32_t batch_max,
                                                const scalpel_train_config *cfg, scalpel_trainer *tr)
{
    scalpel_train_config def;
    scalpel_status st;
    int32_t i, n, last_weighted = -1, prev_weighted = -1;
    size_t bytes;
    unsigned char *base;
    if (tr) memset(tr, 0, sizeof(*tr));
    if (!net || !tr) return SCALPEL_ERR_NULL;
    if (batch_max < 1) return SCALPEL_ERR_ARGUMENT;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;
    if (scalpel_net_has_decomposed(net)) return SCALPEL_ERR_UNSUPPORTED; /* HYBRID / TASD layers */
    if (!cfg) { scalpel_train_config_default(&def); cfg = &def; }
    st = scalpel__train_check_config(cfg, net);
    if (st != SCALPEL_OK) return st;
    n = net->n_layers;
    if (n < 1 || scalpel_net_output_size(net) < 2) return SCALPEL_ERR_SHAPE;
    /* the per-layer arrays of the trainer and its config are SCALPEL_NET_MAX_LAYERS long, and
     * the backward pass follows the chain: a layer reading an earlier tensor is not trained */
    if (n > SCALPEL_NET_MAX_LAYERS) return SCALPEL_ERR_UNSUPPORTED;
    for (i = 0; i < n; i++) if (net->layers[i].geom.from != 0) return SCALPEL_ERR_UNSUPPORTED;
    /* kinds and windows training does not have yet (scalpel_net_first_unsupported names them) */
    if (scalpel_net_first_unsupported(net, SCALPEL_USE_TRAINING) >= 0) return SCALPEL_ERR_UNSUPPORTED;
    for (i = 0; i < n; i++) if (scalpel__train_weighted(net->layers[i].geom.kind)) last_weighted = i;
    tr->arch.in_c = net->in_c; tr->arch.in_h = net->in_h; tr->arch.in_w = net->in_w;
    tr->arch.input_norm = net->input_norm; /* the inputs stay what they were: exported with the weights */
    tr->arch.layers = (scalpel_layer *)SCALPEL_MALLOC(net->alloc_ctx, (size_t)n * sizeof(scalpel_layer));
    if (!tr->arch.layers) { memset(tr, 0, sizeof(*tr)); return SCALPEL_ERR_NO_MEMORY; }
    tr->arch.owns_layers = 1;
    tr->arch.capacity = n;
    tr->arch.n_layers = n;
    for (i = 0; i < n; i++) {
        scalpel_layer *L = &tr->arch.layers[i];
        *L = net->layers[i];
        L->w = NULL; L->b = NULL; L->block = NULL; L->storage = SCALPEL_STORAGE_DENSE;
        memset(&L->sparse, 0, sizeof(L->sparse));
        tr->layers[i].mask_owner = -1;
        tr->layers[i].dropout = cfg->dropout[i];
        if (scalpel__train_weighted(L->geom.kind)) {
            if (prev_weighted >= 0 && prev_weighted != last_weighted) {
                int32_t pk = net->layers[prev_weighted].geom.kind;
                if (((cfg->node_masks & SCALPEL_TRAIN_MASK_CONV) && pk == SCALPEL_LAYER_CONV2D) ||
                    ((cfg->node_masks & SCALPEL_TRAIN_MASK_FC) && pk == SCALPEL_LAYER_FC))
                    tr->layers[i].mask_owner = prev_weighted;
            }
            prev_weighted = i;
        }
    }
    tr->config = *cfg;
    tr->batch_max = batch_max;
    tr->classes = scalpel_net_output_size(net);
    tr->rng = scalpel__rng_seed(cfg->seed);
    tr->alloc_ctx = net->alloc_ctx;
    tr->arch.alloc_ctx = net->alloc_ctx;
    tr->threads = 1;
#ifdef _OPENMP
    tr->threads = omp_get_max_threads();
    if (tr->threads < 1) tr->threads = 1;
    if (tr->threads > 64) tr->threads = 64;
#endif
    bytes = scalpel__train_layout(tr, NULL);
    if (bytes == SIZE_MAX) { scalpel_trainer_free(tr); return SCALPEL_ERR_OVERFLOW; }
    base = (unsigned char *)SCALPEL_MALLOC(net->alloc_ctx, bytes);
    if (!base) { scalpel_trainer_free(tr); return SCALPEL_ERR_NO_MEMORY; }
    memset(base, 0, bytes);
    tr->block = base;
    scalpel__train_layout(tr, (unsigned char *)base + ((SCALPEL__TRAIN_ALIGN - ((uintptr_t)base % SCALPEL__TRAIN_ALIGN)) % SCALPEL__TRAIN_ALIGN));
    for (i = 0; i < n; i++) {
        const scalpel_layer *L = &net->layers[i];
        scalpel_train_layer *T = &tr->layers[i];
        size_t k, wn;
        if (!scalpel__train_weighted(L->geom.kind)) continue;
        wn = (size_t)L->geom.rows * (size_t)L->geom.cols;
        if (L->storage == SCALPEL_STORAGE_DENSE) {
            memcpy(T->w, L->w, wn * sizeof(float));
            for (k = 0; k < wn; k++) T->mask[k] = 1;
        } else {
            const scalpel_gcsr *m = &L->sparse;
            int32_t r, g, j;
            st = scalpel_gcsr_to_dense(m, T->w);
            if (st != SCALPEL_OK) { scalpel_trainer_free(tr); return st; }
            for (r = 0; r < m->rows; r++)
                for (g = m->row_ptr[r]; g < m->row_ptr[r + 1]; g++) {
                    int64_t c0 = (int64_t)scalpel_gcsr_col(m, g);
                    for (j = 0; j < m->group && c0 + j < m->cols; j++)
                        T->mask[(size_t)r * (size_t)m->cols + (size_t)(c0 + j)] = 1;
                }
        }
        memcpy(T->b, L->b, (size_t)L->geom.rows * sizeof(float));
        if (T->node_a) {
            int32_t r;
            for (r = 0; r < L->geom.rows; r++) { T->node_a[r] = 1.0f; T->node_b[r] = cfg->mask_init; }
        }
    }
    return SCALPEL_OK;
}

SCALPEL_API void scalpel_trainer_free(scalpel_trainer *tr)
{
    if (!tr) return;
    if (tr->block) SCALPEL_FREE(tr->alloc_ctx, tr->block);
    if (tr->arch.owns_layers && tr->arch.layers) SCALPEL_FREE(tr->alloc_ctx, tr->arch.layers);
    memset(tr, 0, sizeof(*tr));
}

SCALPEL_API scalpel_status scalpel_trainer_init_weights(scalpel_trainer *tr, scalpel_init init)
{
    int32_t i;
    if (!tr) return SCALPEL_ERR_NULL;
    if (!tr->block) return SCALPEL_ERR_ARGUMENT;
    if (init != SCALPEL_INIT_XAVIER && init != SCALPEL_INIT_HE) return SCALPEL_ERR_ARGUMENT;
    for (i = 0; i < tr->arch.n_layers; i++) {
        const scalpel_layer *L = &tr->arch.layers[i];
        scalpel_train_layer *T = &tr->layers[i];
        size_t k, wn;
        double fan_in, fan_out, s;
        if (!scalpel__train_weighted(L->geom.kind)) continue;
        wn = (size_t)L->geom.rows * (size_t)L->geom.cols;
        fan_in = (double)L->geom.cols;
        fan_out = (double)L->geom.rows * (L->geom.kind == SCALPEL_LAYER_CONV2D ? (double)L->geom.kernel * L->geom.kernel : 1.0);
        s = init == SCALPEL_INIT_HE ? scalpel__sqrt(6.0 / fan_in) : scalpel__sqrt(6.0 / (fan_in + fan_out));
        for (k = 0; k < wn; k++) {
            float u = scalpel__rng_uniform(&tr->rng) * 2.0f - 1.0f;
            T->w[k] = T->mask[k] ? (float)(s * u) : 0.0f;
            T->mom_w[k] = 0.0f;
        }
        memset(T->b, 0, (size_t)L->geom.rows * sizeof(float));
        memset(T->mom_b, 0, (size_t)L->geom.rows * sizeof(float));
    }
    return SCALPEL_OK;
}

/* ---- forward ------------------------------------------------------------------------------ */

SCALPEL_API scalpel_status scalpel_trainer_forward(scalpel_trainer *tr, const float *x, int32_t batch,
                                                   int32_t training, float *logits)
{
    const scalpel_net *a;
    int32_t i, n;
    if (!tr || !x) return SCALPEL_ERR_NULL;
    if (!tr->block) return SCALPEL_ERR_ARGUMENT;
    if (batch < 1 || batch > tr->batch_max) return SCALPEL_ERR_ARGUMENT;
    a = &tr->arch;
    n = a->n_layers;
    memcpy(tr->act[0], x, (size_t)batch * (size_t)scalpel_net_input_size(a) * sizeof(float));
    for (i = 0; i < n; i++) {
        int32_t kind = a->layers[i].geom.kind;
        if (kind < 1 || kind >= SCALPEL_LAYER_COUNT) return SCALPEL_ERR_ARGUMENT;
        scalpel__train_kinds[kind].forward(tr, i, tr->act[i], batch, training, tr->act[i + 1]);
    }
    tr->last_batch = batch;
    tr->last_training = training ? 1 : 0;
    if (logits) memcpy(logits, tr->act[n], (size_t)batch * (size_t)tr->classes * sizeof(float));
    return SCALPEL_OK;
}

/* ---- backward ----------------------------------------------------------------------------- */

SCALPEL_API scalpel_status scalpel_trainer_backward(scalpel_trainer *tr, const int32_t *labels,
                                                    int32_t batch, float *loss)
{
    const scalpel_net *a;
    int32_t i, s, n, C;
    float *g, *dx;
    double total = 0.0;
    if (loss) *loss = 0.0f;
    if (!tr || !labels) return SCALPEL_ERR_NULL;
    if (!tr->block) return SCALPEL_ERR_ARGUMENT;
    if (batch < 1 || batch != tr->last_batch) return SCALPEL_ERR_ARGUMENT;
    C = tr->classes;
    for (s = 0; s < batch; s++) if (labels[s] < 0 || labels[s] >= C) return SCALPEL_ERR_ARGUMENT;
    a = &tr->arch;
    n = a->n_layers;
    /* dL/dz = (softmax(z) - onehot) / batch; loss = mean(logsumexp(z) - z_label) */
    g = tr->grad[0];
    for (s = 0; s < batch; s++) {
        const float *z = tr->act[n] + (size_t)s * (size_t)C;
        float *gz = g + (size_t)s * (size_t)C;
        double m = z[0], sum = 0.0;
        int32_t c;
        for (c = 1; c < C; c++) if (z[c] > m) m = z[c];
        for (c = 0; c < C; c++) { double e = scalpel__train_exp_nonpos((double)z[c] - m); gz[c] = (float)e; sum += e; }
        for (c = 0; c < C; c++) gz[c] = (float)((double)gz[c] / sum / (double)batch);
        gz[labels[s]] -= 1.0f / (float)batch;
        total += m + scalpel__train_log(sum) - (double)z[labels[s]];
    }
    for (i = 0; i < n; i++) if (tr->layers[i].node_grad_b) memset(tr->layers[i].node_grad_b, 0, (size_t)a->layers[i].geom.rows * sizeof(float));
    for (i = 0; i < tr->backward_stop && i < n; i++)
        if (tr->layers[i].grad_w) {
            memset(tr->layers[i].grad_w, 0, (size_t)a->layers[i].geom.rows * (size_t)a->layers[i].geom.cols * sizeof(float));
            memset(tr->layers[i].grad_b, 0, (size_t)a->layers[i].geom.rows * sizeof(float));
        }
    for (i = n - 1; i >= tr->backward_stop; i--) {
        dx = tr->grad[g == tr->grad[0] ? 1 : 0];
        scalpel__train_kinds[a->layers[i].geom.kind].backward(tr, i, g, batch, i > tr->backward_stop, dx);
        g = dx;
    }
    if (loss) *loss = (float)(total / (double)batch);
    return SCALPEL_OK;
}

/* ---- SGD ---------------------------------------------------------------------------------- */

/* lr x gamma^drops by squaring: at most 64 rounds whatever the step count (a loop over the
 * drops would run 2^60 times for a checkpoint that says 2^60 steps, and with gamma > 0.5 the
 * rate sticks at the smallest denormal instead of reaching 0). The product of two floats is
 * exact in double, so one drop gives exactly the float product lr * gamma. */
SCALPEL_API float scalpel_trainer_lr(const scalpel_trainer *tr)
{
    double lr, base;
    uint64_t drops;
    if (!tr) return 0.0f;
    lr = (double)tr->config.lr;
    if (tr->config.lr_step > 0 && tr->steps > 0) {
        drops = (uint64_t)tr->steps / (uint64_t)tr->config.lr_step;
        base = (double)tr->config.lr_gamma;
        while (drops > 0 && lr != 0.0) {
            if (drops & 1u) lr *= base;
            base *= base;
            drops >>= 1;
        }
    }
    if (lr < (double)FLT_MIN && lr > -(double)FLT_MIN) return 0.0f;   /* flushed, see above */
    if (lr > (double)FLT_MAX) return FLT_MAX;   /* only a configuration apply refuses (gamma > 1) */
    if (lr < -(double)FLT_MAX) return -FLT_MAX;
    return (float)lr;
}

SCALPEL_API scalpel_status scalpel_trainer_apply(scalpel_trainer *tr)
{
    const scalpel_train_config *c;
    float lr, mu, wd;
    int32_t i;
    if (!tr) return SCALPEL_ERR_NULL;
    if (!tr->block) return SCALPEL_ERR_ARGUMENT;
    c = &tr->config;
    if (!scalpel__train_sgd_ok(c)) return SCALPEL_ERR_ARGUMENT;
    lr = scalpel_trainer_lr(tr);
    mu = c->momentum;
    wd = c->weight_decay;
    for (i = 0; i < tr->arch.n_layers; i++) {
        const scalpel_layer *L = &tr->arch.layers[i];
        scalpel_train_layer *T = &tr->layers[i];
        size_t k, wn;
        int32_t r;
        if (!scalpel__train_weighted(L->geom.kind)) continue;
        wn = (size_t)L->geom.rows * (size_t)L->geom.cols;
        for (k = 0; k < wn; k++) {
            if (T->mask[k]) {
                float v = mu * T->mom_w[k] + (T->grad_w[k] + wd * T->w[k]);
                T->mom_w[k] = v;
                T->w[k] -= lr * v;
            } else {
                T->mom_w[k] = 0.0f;
                T->w[k] = 0.0f;
            }
        }
        for (r = 0; r < L->geom.rows; r++) {
            float v = mu * T->mom_b[r] + (T->grad_b[r] + wd * T->b[r]);
            T->mom_b[r] = v;
            T->b[r] -= lr * v;
        }
        if (T->node_a) {
            float on = c->mask_threshold + c->mask_eps;
            for (r = 0; r < L->geom.rows; r++) {
                float b = T->node_b[r] - lr * T->node_grad_b[r];
                b -= c->mask_lambda * lr;
                if (!(b >= 0.0f)) b = 0.0f;   /* NaN too */
                if (b > c->mask_max) b = c->mask_max;
                T->node_b[r] = b;
                if (b >= on) T->node_a[r] = 1.0f;
                else if (b < c->mask_threshold) T->node_a[r] = 0.0f;
            }
        }
    }
    tr->steps++;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_trainer_step(scalpel_trainer *tr, const float *x, const int32_t *labels,
                                                int32_t batch, float *loss)
{
    scalpel_status st;
    if (loss) *loss = 0.0f;
    if (!tr || !x || !labels) return SCALPEL_ERR_NULL;
    if (tr->block && batch >= 1 && batch <= tr->batch_max) {
        int32_t s;
        for (s = 0; s < batch; s++) if (labels[s] < 0 || labels[s] >= tr->classes) return SCALPEL_ERR_ARGUMENT;
    }
    st = scalpel_trainer_forward(tr, x, batch, 1, NULL);
    if (st == SCALPEL_OK) st = scalpel_trainer_backward(tr, labels, batch, loss);
    if (st == SCALPEL_OK) st = scalpel_trainer_apply(tr);
    return st;
}

SCALPEL_API scalpel_status scalpel_trainer_evaluate(scalpel_trainer *tr, const float *x, const int32_t *labels,
                                                    int32_t n, float *accuracy)
{
    int32_t done = 0, correct = 0, in, s;
    if (accuracy) *accuracy = 0.0f;
    if (!tr || !x || !labels || !accuracy) return SCALPEL_ERR_NULL;
    if (!tr->block || n < 1) return SCALPEL_ERR_ARGUMENT;
    in = scalpel_net_input_size(&tr->arch);
    while (done < n) {
        int32_t b = n - done < tr->batch_max ? n - done : tr->batch_max;
        scalpel_status st = scalpel_trainer_forward(tr, x + (size_t)done * (size_t)in, b, 0, NULL);
        if (st != SCALPEL_OK) return st;
        for (s = 0; s < b; s++) {
            const float *z = tr->act[tr->arch.n_layers] + (size_t)s * (size_t)tr->classes;
            int32_t c, best = 0;
            for (c = 1; c < tr->classes; c++) if (z[c] > z[best]) best = c;
            if (best == labels[done + s]) correct++;
        }
        done += b;
    }
    *accuracy = (float)correct / (float)n;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_trainer_export(const scalpel_trainer *tr, scalpel_net *out)
{
    scalpel_status st;
    int32_t i;
    size_t maxw = 1;
    float *tmp;
    if (out) memset(out, 0, sizeof(*out));
    if (!tr || !out) return SCALPEL_ERR_NULL;
    if (!tr->block) return SCALPEL_ERR_ARGUMENT;
    for (i = 0; i < tr->arch.n_layers; i++) {
        size_t wn = (size_t)tr->arch.layers[i].geom.rows * (size_t)tr->arch.layers[i].geom.cols;
        if (wn > maxw) maxw = wn;
    }
    tmp = (float *)SCALPEL_MALLOC(tr->alloc_ctx, maxw * sizeof(float));
    if (!tmp) return SCALPEL_ERR_NO_MEMORY;
    st = scalpel_net_init(tr->arch.in_c, tr->arch.in_h, tr->arch.in_w, out);
    out->alloc_ctx = tr->alloc_ctx;
    out->input_norm = tr->arch.input_norm;
    for (i = 0; i < tr->arch.n_layers && st == SCALPEL_OK; i++) {
        const scalpel_layer *L = &tr->arch.layers[i];
        const scalpel_train_layer *T = &tr->layers[i];
        if (scalpel__train_weighted(L->geom.kind)) {
            const float *w = T->w;
            if (T->mask_owner >= 0) {
                const float *na = tr->layers[T->mask_owner].node_a;
                size_t plane = (size_t)L->geom.in_h * (size_t)L->geom.in_w, r, c;
                size_t per = L->geom.kind == SCALPEL_LAYER_CONV2D ? (size_t)L->geom.kernel * (size_t)L->geom.kernel : plane;
                memcpy(tmp, T->w, (size_t)L->geom.rows * (size_t)L->geom.cols * sizeof(float));
                for (r = 0; r < (size_t)L->geom.rows; r++)
                    for (c = 0; c < (size_t)L->geom.cols; c++)
                        if (na[c / per] == 0.0f) tmp[r * (size_t)L->geom.cols + c] = 0.0f;
                w = tmp;
            }
            st = scalpel_net_add_layer(out, L->geom.kind, L->geom.rows, L->geom.kernel, L->geom.stride, L->geom.pad, w, T->b);
        } else {
            st = scalpel_net_add_layer(out, L->geom.kind, 0, L->geom.kernel, L->geom.stride, L->geom.pad, NULL, NULL);
        }
    }
    SCALPEL_FREE(tr->alloc_ctx, tmp);
    if (st != SCALPEL_OK) scalpel_net_free(out);
    return st;
}

/* ======================================================================================== */
/* >>pruning (training side, implementation)                                                */
/* ======================================================================================== */

SCALPEL_API void scalpel_trainer_apply_masks(scalpel_trainer *tr)
{
    int32_t i;
    if (!tr || !tr->block) return;
    for (i = 0; i < tr->arch.n_layers; i++) {
        const scalpel_layer *L = &tr->arch.layers[i];
        scalpel_train_layer *T = &tr->layers[i];
        size_t k, wn;
        if (!scalpel__train_weighted(L->geom.kind)) continue;
        wn = (size_t)L->geom.rows * (size_t)L->geom.cols;
        for (k = 0; k < wn; k++) if (!T->mask[k]) { T->w[k] = 0.0f; T->mom_w[k] = 0.0f; }
    }
}

SCALPEL_API scalpel_status scalpel_trainer_remove_nodes(const scalpel_trainer *tr, int32_t round_to,
                                                        scalpel_net *out)
{
    scalpel_net full;
    const uint8_t *keep[SCALPEL_NET_MAX_LAYERS];
    uint8_t *flags;
    size_t total = 0, off = 0;
    int32_t i;
    scalpel_status st;
    if (out) memset(out, 0, sizeof(*out));
    if (!tr || !out) return SCALPEL_ERR_NULL;
    if (!tr->block) return SCALPEL_ERR_ARGUMENT;
    for (i = 0; i < tr->arch.n_layers; i++) if (tr->layers[i].node_a) total += (size_t)tr->arch.layers[i].geom.rows;
    flags = (uint8_t *)SCALPEL_MALLOC(tr->alloc_ctx, total ? total : 1);
    if (!flags) return SCALPEL_ERR_NO_MEMORY;
    for (i = 0; i < tr->arch.n_layers; i++) {
        keep[i] = NULL;
        if (tr->layers[i].node_a) {
            int32_t r;
            for (r = 0; r < tr->arch.layers[i].geom.rows; r++) flags[off + (size_t)r] = tr->layers[i].node_a[r] != 0.0f;
            keep[i] = flags + off;
            off += (size_t)tr->arch.layers[i].geom.rows;
        }
    }
    st = scalpel_trainer_export(tr, &full);
    if (st == SCALPEL_OK) {
        st = scalpel_net_remove_nodes(&full, keep, round_to, out);
        scalpel_net_free(&full);
    }
    SCALPEL_FREE(tr->alloc_ctx, flags);
    return st;
}

SCALPEL_API float scalpel_dropout_han(float d_o, int64_t c_ir, int64_t c_io)
{
    if (c_io <= 0 || c_ir < 0) return 0.0f;
    return (float)((double)d_o * scalpel__sqrt((double)c_ir / (double)c_io));
}

SCALPEL_API float scalpel_dropout_nodes(float d_0, int32_t n_k, int32_t n_0)
{
    if (n_0 <= 0 || n_k < 0) return 0.0f;
    return (float)((double)d_0 * (double)n_k / (double)n_0);
}

/* ======================================================================================== */
/* >>datasets (implementation)                                                              */
/* ======================================================================================== */

/* Datasets: the IDX reader (plain and, with SCALPEL_ZLIB, gzip'd), MNIST lookup, the built-in
 * synthetic digits, shuffling, splitting and batches. Everything read from outside is checked
 * the way the model-file and safetensors readers check it: sizes before reads, every product
 * by division before it is formed, both IDX headers (and their agreement) before any large
 * allocation, and a gzip stream never inflated past what its IDX header announced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#ifdef SCALPEL_ZLIB
#include <zlib.h>
#endif

/* Uniform in [0, bound) by multiply-shift: bias below bound / 2^32 (1.4e-5 for 60000). */
SCALPEL__PRIV uint32_t scalpel__data_below(uint64_t *s, uint32_t bound)
{
    return (uint32_t)(((uint64_t)scalpel__rng_next(s) * bound) >> 32);
}

/* --- shape checks --- */

/* Shape, sizes, arrays and class count of ds; labels are not scanned. */
SCALPEL__PRIV scalpel_status scalpel__data_check_shape(const scalpel_dataset *ds)
{
    int64_t ss;
    if (ds == NULL) return SCALPEL_ERR_NULL;
    if (ds->n < 1 || ds->c < 1 || ds->h < 1 || ds->w < 1) return SCALPEL_ERR_SHAPE;
    ss = (int64_t)ds->c * ds->h;
    if (ss > INT32_MAX) return SCALPEL_ERR_OVERFLOW;
    ss *= ds->w;
    if (ss > INT32_MAX) return SCALPEL_ERR_OVERFLOW;
    if ((uint64_t)ss > (uint64_t)(SIZE_MAX / sizeof(float)) / (uint64_t)ds->n) return SCALPEL_ERR_OVERFLOW;
    if (ds->classes < 1 || ds->classes > 256) return SCALPEL_ERR_ARGUMENT;
    if (ds->x == NULL || ds->y == NULL) return SCALPEL_ERR_NULL;
    return SCALPEL_OK;
}

/* c*h*w of a dataset whose shape was checked. */
SCALPEL__PRIV size_t scalpel__data_sample_size(const scalpel_dataset *ds)
{
    return (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
}

SCALPEL_API scalpel_status scalpel_dataset_validate(const scalpel_dataset *ds)
{
    int32_t i;
    scalpel_status st = scalpel__data_check_shape(ds);
    if (st != SCALPEL_OK) return st;
    for (i = 0; i < ds->n; i++)
        if ((int32_t)ds->y[i] >= ds->classes) return SCALPEL_ERR_ARGUMENT;
    return SCALPEL_OK;
}

SCALPEL_API void scalpel_dataset_free(scalpel_dataset *ds)
{
    if (ds == NULL) return;
    if (ds->block != NULL) SCALPEL_FREE(ds->alloc_ctx, ds->block);
    memset(ds, 0, sizeof(*ds));
}

/* --- shuffling and batches --- */

SCALPEL_API scalpel_status scalpel_dataset_shuffle(int32_t n, uint64_t seed, int32_t *perm)
{
    uint64_t s = scalpel__rng_seed(seed);
    int32_t i;
    if (n < 0) return SCALPEL_ERR_ARGUMENT;
    if (n > 0 && perm == NULL) return SCALPEL_ERR_NULL;
    for (i = 0; i < n; i++) perm[i] = i;
    for (i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)scalpel__data_below(&s, (uint32_t)i + 1u), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return SCALPEL_OK;
}

SCALPEL_API int32_t scalpel_dataset_batches(const scalpel_dataset *ds, int32_t batch_size)
{
    if (batch_size < 1 || scalpel__data_check_shape(ds) != SCALPEL_OK) return 0;
    return (int32_t)(((int64_t)ds->n + batch_size - 1) / batch_size);
}

SCALPEL_API scalpel_status scalpel_dataset_batch(const scalpel_dataset *ds, const int32_t *perm,
                                                 int32_t batch_size, int32_t batch, float *x_out,
                                                 int32_t *y_out, int32_t *count)
{
    int64_t start;
    int32_t k, m;
    size_t ss;
    scalpel_status st;
    if (count != NULL) *count = 0;
    st = scalpel__data_check_shape(ds);
    if (st != SCALPEL_OK) return st;
    if (x_out == NULL) return SCALPEL_ERR_NULL;
    if (batch_size < 1 || batch < 0) return SCALPEL_ERR_ARGUMENT;
    start = (int64_t)batch * batch_size;
    if (start >= ds->n) return SCALPEL_ERR_ARGUMENT;
    m = (int32_t)((int64_t)ds->n - start < batch_size ? (int64_t)ds->n - start : batch_size);
    if (perm != NULL) /* every index before the first copy: a failed call writes nothing */
        for (k = 0; k < m; k++)
            if (perm[start + k] < 0 || perm[start + k] >= ds->n) return SCALPEL_ERR_ARGUMENT;
    ss = scalpel__data_sample_size(ds);
    for (k = 0; k < m; k++) {
        size_t i = (size_t)(perm != NULL ? perm[start + k] : (int32_t)(start + k));
        memcpy(x_out + (size_t)k * ss, ds->x + i * ss, ss * sizeof(float));
        if (y_out != NULL) y_out[k] = ds->y[i];
    }
    if (count != NULL) *count = m;
    return SCALPEL_OK;
}

/* --- synthetic digits ---
 * A seven-segment digit (segments a..g as bits 0..6) of random width 10..14, height 15..20,
 * stroke 2..3 pixels and slant -3..3 (eighths of a pixel per row), placed at random with a
 * margin, with a half-intensity rim, random stroke dropout and background speckle. */
SCALPEL__PRIV void scalpel__data_digit(int32_t digit, uint64_t *s, uint8_t *img)
{
    static const uint8_t segs[10] = { 0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07, 0x7F, 0x6F };
    uint8_t rim[28 * 28];
    int32_t W = 10 + (int32_t)scalpel__data_below(s, 5), H = 15 + (int32_t)scalpel__data_below(s, 6);
    int32_t t = 2 + (int32_t)scalpel__data_below(s, 2), slant = (int32_t)scalpel__data_below(s, 7) - 3;
    int32_t x0 = 4 + (int32_t)scalpel__data_below(s, (uint32_t)(21 - W));
    int32_t y0 = 2 + (int32_t)scalpel__data_below(s, (uint32_t)(25 - H));
    int32_t ym = y0 + H / 2, v = 200 + (int32_t)scalpel__data_below(s, 56);
    int32_t seg, x, y, i;
    memset(img, 0, 28 * 28);
    for (seg = 0; seg < 7; seg++) {
        int32_t rx0, rx1, ry0, ry1;
        if (!(segs[digit] & (1u << seg))) continue;
        switch (seg) {
        case 0: rx0 = x0; rx1 = x0 + W; ry0 = y0; ry1 = y0 + t; break;                   /* a */
        case 1: rx0 = x0 + W - t; rx1 = x0 + W; ry0 = y0; ry1 = ym + 1; break;           /* b */
        case 2: rx0 = x0 + W - t; rx1 = x0 + W; ry0 = ym; ry1 = y0 + H; break;           /* c */
        case 3: rx0 = x0; rx1 = x0 + W; ry0 = y0 + H - t; ry1 = y0 + H; break;           /* d */
        case 4: rx0 = x0; rx1 = x0 + t; ry0 = ym; ry1 = y0 + H; break;                   /* e */
        case 5: rx0 = x0; rx1 = x0 + t; ry0 = y0; ry1 = ym + 1; break;                   /* f */
        default: rx0 = x0; rx1 = x0 + W; ry0 = ym - t / 2; ry1 = ym - t / 2 + t; break;  /* g */
        }
        for (y = ry0; y < ry1; y++) {
            int32_t shift = slant * (ym - y) / 8; /* C99: truncation toward zero everywhere */
            for (x = rx0 + shift; x < rx1 + shift; x++)
                if (x >= 0 && x < 28 && y >= 0 && y < 28) img[y * 28 + x] = (uint8_t)v;
        }
    }
    /* soft edges: background pixels next to the stroke get half its intensity */
    for (y = 0; y < 28; y++)
        for (x = 0; x < 28; x++) {
            int32_t m = 0;
            if (x > 0 && img[y * 28 + x - 1] > m) m = img[y * 28 + x - 1];
            if (x < 27 && img[y * 28 + x + 1] > m) m = img[y * 28 + x + 1];
            if (y > 0 && img[(y - 1) * 28 + x] > m) m = img[(y - 1) * 28 + x];
            if (y < 27 && img[(y + 1) * 28 + x] > m) m = img[(y + 1) * 28 + x];
            rim[y * 28 + x] = (uint8_t)(img[y * 28 + x] == 0 ? m / 2 : img[y * 28 + x]);
        }
    for (i = 0; i < 28 * 28; i++) {
        uint32_t r = scalpel__rng_next(s);
        int32_t p = rim[i];
        if (p > 0 && (r & 31u) == 0) p /= 3;                                      /* dropout */
        if (((r >> 5) & 15u) == 0 && (int32_t)((r >> 9) & 127u) > p) p = (int32_t)((r >> 9) & 127u); /* speckle */
        img[i] = (uint8_t)p;
    }
}

SCALPEL_API scalpel_status scalpel_dataset_synthetic_into(int32_t n, uint64_t seed, float *x, uint8_t *y)
{
    uint8_t img[28 * 28];
    int32_t i, j;
    if (n < 1) return SCALPEL_ERR_ARGUMENT;
    if (x == NULL || y == NULL) return SCALPEL_ERR_NULL;
    for (i = 0; i < n; i++) {
        uint64_t s = scalpel__rng_seed(scalpel__splitmix64(seed) ^ (uint64_t)i);
        scalpel__data_digit(i % 10, &s, img);
        for (j = 0; j < 28 * 28; j++) x[(size_t)i * 784u + (size_t)j] = (float)img[j] / 255.0f;
        y[i] = (uint8_t)(i % 10);
    }
    return SCALPEL_OK;
}

SCALPEL_API int32_t scalpel_dataset_gzip_supported(void)
{
#ifdef SCALPEL_ZLIB
    return 1;
#else
    return 0;
#endif
}

SCALPEL_API const char *scalpel_dataset_mnist_help(void)
{
    return "MNIST was not found. Scalpel reads the four files of the original distribution,\n"
           "gzip'd or not (Fashion-MNIST uses the same names):\n"
           "    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz\n"
           "    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz\n"
           "Put them in one directory and give that directory to the program, or set the\n"
           "environment variable " SCALPEL_DATASET_MNIST_ENV "=<directory>. To download them (the mirror\n"
           "torchvision uses; Yann LeCun's page http://yann.lecun.com/exdb/mnist/ is the original):\n"
           "    mkdir -p data/mnist && cd data/mnist && for f in train-images-idx3-ubyte \\\n"
           "      train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do\n"
           "      curl -fO https://ossci-datasets.s3.amazonaws.com/mnist/$f.gz; done\n"
           "A torchvision download works as it is: give its root (the directory holding\n"
           "MNIST/raw). The .gz files need a build with -DSCALPEL_ZLIB and -lz (zlib1g-dev);\n"
           "otherwise run gunzip on them first. Without MNIST, scalpel_dataset_synthetic gives\n"
           "a built-in stand-in (much easier than MNIST).\n";
}

/* --- IDX --- */

/* A validated IDX header: rank, dimensions, header bytes and payload bytes (one byte per
 * element: only unsigned-byte files are read). */
typedef struct scalpel__data_idx {
    int32_t ndim;
    uint32_t dims[3];
    size_t header;
    size_t payload;
} scalpel__data_idx;

/* The IDX element types (third magic byte): ubyte, sbyte, short, int, float, double. */
SCALPEL__PRIV int scalpel__data_idx_type_ok(uint8_t t)
{
    return t == 0x08 || t == 0x09 || t == 0x0B || t == 0x0C || t == 0x0D || t == 0x0E;
}

/* Checks the 4 magic bytes p[0..avail) for an unsigned-byte IDX of rank want_ndim (3: images,
 * 1: labels). An unsigned-byte file of the other rank (labels given as images) is MAGIC, any
 * other valid IDX file UNSUPPORTED. */
SCALPEL__PRIV scalpel_status scalpel__data_idx_magic(const uint8_t *p, size_t avail, int32_t want_ndim)
{
    if (avail < 4) return SCALPEL_ERR_TRUNCATED;
    if (p[0] != 0 || p[1] != 0 || !scalpel__data_idx_type_ok(p[2]) || p[3] == 0) return SCALPEL_ERR_MAGIC;
    if (p[2] == 0x08 && (p[3] == 1 || p[3] == 3) && p[3] != want_ndim) return SCALPEL_ERR_MAGIC;
    if (p[2] != 0x08 || p[3] != want_ndim) return SCALPEL_ERR_UNSUPPORTED;
    return SCALPEL_OK;
}

/* Parses a whole IDX header from p[0..avail). The element count must not exceed `limit`
 * (UNSUPPORTED, checked by division so no product overflows) nor make the file exceed
 * SCALPEL_DATASET_MAX_BYTES. */
SCALPEL__PRIV scalpel_status scalpel__data_idx_header(const uint8_t *p, size_t avail, int32_t want_ndim,
                                                           uint64_t limit, scalpel__data_idx *h)
{
    uint64_t total = 1;
    int32_t d;
    scalpel_status st = scalpel__data_idx_magic(p, avail, want_ndim);
    memset(h, 0, sizeof(*h));
    if (st != SCALPEL_OK) return st;
    h->ndim = want_ndim;
    h->header = 4u + 4u * (size_t)want_ndim;
    if (avail < h->header) return SCALPEL_ERR_TRUNCATED;
    for (d = 0; d < want_ndim; d++) {
        const uint8_t *q = p + 4 + 4 * d;
        uint32_t v = ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3];
        if (v == 0) return SCALPEL_ERR_SHAPE;
        if (v > (uint32_t)INT32_MAX) return SCALPEL_ERR_CORRUPT;
        h->dims[d] = v;
    }
    if (limit > SCALPEL_DATASET_MAX_BYTES - h->header) limit = SCALPEL_DATASET_MAX_BYTES - h->header;
    if (limit > (uint64_t)SIZE_MAX) limit = (uint64_t)SIZE_MAX;
    for (d = 0; d < want_ndim; d++) {
        if (total > limit / h->dims[d]) return SCALPEL_ERR_UNSUPPORTED;
        total *= h->dims[d];
    }
    h->payload = (size_t)total;
    return SCALPEL_OK;
}

#ifdef SCALPEL_ZLIB
/* zlib allocates through SCALPEL_MALLOC too (opaque = the alloc context). */
static voidpf scalpel__data_zalloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    if (size != 0 && (size_t)items > SIZE_MAX / size) return Z_NULL;
    return SCALPEL_MALLOC(opaque, (size_t)items * size);
}
static void scalpel__data_zfree(voidpf opaque, voidpf p)
{
    (void)opaque;
    SCALPEL_FREE(opaque, p);
}

/* A gzip stream being read from in[0..n). */
typedef struct scalpel__data_gz {
    z_stream z;
    const uint8_t *in;
    size_t n, pos;  /* in[pos..n) is not yet given to zlib */
    int ended;      /* the gzip member ended (trailer CRC and length checked by zlib) */
} scalpel__data_gz;

/* Inflates exactly `want` bytes into out, stopping early only at the stream's end (*got says
 * how many came). zlib's counters are 32-bit: input and output go in chunks of 1 GiB. */
SCALPEL__PRIV scalpel_status scalpel__data_gz_read(scalpel__data_gz *g, uint8_t *out, size_t want, size_t *got)
{
    *got = 0;
    while (*got < want && !g->ended) {
        uInt before_out, before_in;
        size_t chunk = want - *got;
        int r;
        if (g->z.avail_in == 0 && g->pos < g->n) {
            size_t c = g->n - g->pos < ((size_t)1 << 30) ? g->n - g->pos : ((size_t)1 << 30);
            g->z.next_in = (Bytef *)(g->in + g->pos);
            g->z.avail_in = (uInt)c;
            g->pos += c;
        }
        if (chunk > ((size_t)1 << 30)) chunk = (size_t)1 << 30;
        g->z.next_out = (Bytef *)(out + *got);
        g->z.avail_out = (uInt)chunk;
        before_out = g->z.avail_out;
        before_in = g->z.avail_in;
        r = inflate(&g->z, Z_NO_FLUSH);
        *got += (size_t)(before_out - g->z.avail_out);
        if (r == Z_STREAM_END) {
            g->ended = 1;
        } else if (r == Z_MEM_ERROR) {
            return SCALPEL_ERR_NO_MEMORY;
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            return SCALPEL_ERR_CORRUPT; /* Z_DATA_ERROR (bad data, CRC or length), Z_NEED_DICT */
        } else if (g->z.avail_out == before_out && g->z.avail_in == before_in) {
            /* no progress: zlib wants input that is not there */
            return g->z.avail_in == 0 && g->pos == g->n ? SCALPEL_ERR_TRUNCATED : SCALPEL_ERR_CORRUPT;
        }
    }
    return SCALPEL_OK;
}

/* Reads an IDX file from a gzip stream: its header first (checked like a plain one), then
 * exactly the payload it announces into a new block (*owned) when !header_only. The stream
 * must then end, with nothing after it. */
SCALPEL__PRIV scalpel_status scalpel__data_gz_idx(const uint8_t *in, size_t n, int32_t want_ndim, uint64_t limit,
                                                       int header_only, scalpel__data_idx *h,
                                                       uint8_t **owned)
{
    scalpel__data_gz g;
    uint8_t head[16], extra;
    size_t got = 0, more = 0;
    scalpel_status st;
    memset(&g, 0, sizeof(g));
    g.z.zalloc = scalpel__data_zalloc;
    g.z.zfree = scalpel__data_zfree;
    g.z.opaque = Z_NULL;
    g.in = in;
    g.n = n;
    if (inflateInit2(&g.z, 15 + 16) != Z_OK) return SCALPEL_ERR_NO_MEMORY; /* 16: gzip only */
    st = scalpel__data_gz_read(&g, head, 4, &got);
    if (st == SCALPEL_OK) st = scalpel__data_idx_magic(head, got, want_ndim);
    if (st == SCALPEL_OK) {
        st = scalpel__data_gz_read(&g, head + 4, 4u * (size_t)want_ndim, &more);
        got += more;
    }
    if (st == SCALPEL_OK) st = scalpel__data_idx_header(head, got, want_ndim, limit, h);
    if (st == SCALPEL_OK && !header_only) {
        /* the block grows (doubling, at most to the announced size) only as data arrives, so a
         * few bytes announcing a large file cost no large allocation */
        size_t cap = h->payload < ((size_t)1 << 20) ? h->payload : ((size_t)1 << 20), have = 0;
        *owned = (uint8_t *)SCALPEL_MALLOC(NULL, cap);
        if (*owned == NULL) st = SCALPEL_ERR_NO_MEMORY;
        while (st == SCALPEL_OK) {
            st = scalpel__data_gz_read(&g, *owned + have, cap - have, &got);
            have += got;
            if (st != SCALPEL_OK || have < cap || cap == h->payload) break;
            {
                size_t bigger = cap > h->payload / 2 ? h->payload : 2 * cap;
                uint8_t *nb = (uint8_t *)SCALPEL_MALLOC(NULL, bigger);
                if (nb == NULL) {
                    st = SCALPEL_ERR_NO_MEMORY;
                    break;
                }
                memcpy(nb, *owned, have);
                SCALPEL_FREE(NULL, *owned);
                *owned = nb;
                cap = bigger;
            }
        }
        if (st == SCALPEL_OK && have < h->payload) st = SCALPEL_ERR_TRUNCATED;
        /* one byte more must not come: the stream has to end where the header says */
        if (st == SCALPEL_OK && !g.ended) {
            st = scalpel__data_gz_read(&g, &extra, 1, &got);
            if (st == SCALPEL_OK && got != 0) st = SCALPEL_ERR_CORRUPT;
            if (st == SCALPEL_OK && !g.ended) st = SCALPEL_ERR_TRUNCATED;
        }
        /* a second gzip member or garbage after the first */
        if (st == SCALPEL_OK && (g.z.avail_in != 0 || g.pos != g.n)) st = SCALPEL_ERR_CORRUPT;
        if (st != SCALPEL_OK && *owned != NULL) {
            SCALPEL_FREE(NULL, *owned);
            *owned = NULL;
        }
    }
    inflateEnd(&g.z);
    return st;
}
#endif /* SCALPEL_ZLIB */

/* One IDX input, plain or gzip'd: its validated header and (unless header_only) its payload,
 * pointing into `in` for a plain file or into *owned (to free) for a gzip'd one. */
SCALPEL__PRIV scalpel_status scalpel__data_idx_open(const uint8_t *in, size_t n, int32_t want_ndim, uint64_t limit,
                                                         int header_only, scalpel__data_idx *h,
                                                         const uint8_t **payload, uint8_t **owned)
{
    scalpel_status st;
    *payload = NULL;
    *owned = NULL;
    memset(h, 0, sizeof(*h));
    if (n >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
#ifdef SCALPEL_ZLIB
        st = scalpel__data_gz_idx(in, n, want_ndim, limit, header_only, h, owned);
        if (st == SCALPEL_OK) *payload = *owned;
        return st;
#else
        (void)header_only;
        return SCALPEL_ERR_UNSUPPORTED; /* gzip'd: build with SCALPEL_ZLIB and -lz, or gunzip */
#endif
    }
    st = scalpel__data_idx_header(in, n, want_ndim, limit, h);
    if (st != SCALPEL_OK) return st;
    if (n - h->header < h->payload) return SCALPEL_ERR_TRUNCATED;
    if (n - h->header > h->payload) return SCALPEL_ERR_CORRUPT; /* trailing bytes */
    *payload = in + h->header;
    return SCALPEL_OK;
}

/* One block for x (first, as aligned as the allocator makes it) and y. */
SCALPEL__PRIV scalpel_status scalpel__data_alloc(int32_t n, int32_t c, int32_t h, int32_t w,
                                                      scalpel_dataset *out)
{
    size_t ss, xbytes;
    memset(out, 0, sizeof(*out));
    if (n < 1 || c < 1 || h < 1 || w < 1) return SCALPEL_ERR_SHAPE;
    if ((int64_t)c * h > INT32_MAX || (int64_t)c * h * w > INT32_MAX) return SCALPEL_ERR_OVERFLOW;
    ss = (size_t)c * (size_t)h * (size_t)w;
    if (ss > (SIZE_MAX - (size_t)n) / sizeof(float) / (size_t)n) return SCALPEL_ERR_OVERFLOW;
    xbytes = (size_t)n * ss * sizeof(float);
    out->block = SCALPEL_MALLOC(NULL, xbytes + (size_t)n);
    if (out->block == NULL) return SCALPEL_ERR_NO_MEMORY;
    out->x = (float *)out->block;
    out->y = (uint8_t *)out->block + xbytes;
    out->n = n;
    out->c = c;
    out->h = h;
    out->w = w;
    out->classes = 1;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_dataset_from_idx(const void *images, size_t images_size,
                                                    const void *labels, size_t labels_size,
                                                    scalpel_dataset *out)
{
    const uint8_t *pi = (const uint8_t *)images, *pl = (const uint8_t *)labels, *px, *py;
    uint8_t *oi = NULL, *ol = NULL;
    scalpel__data_idx hi, hl;
    float table[256];
    size_t i, total;
    int32_t maxl = 0;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (images == NULL || labels == NULL) return SCALPEL_ERR_NULL;
    /* both headers and their agreement first: nothing large is allocated or inflated before.
     * The x array is 4 bytes per pixel, so images are limited to a quarter of the cap. */
    st = scalpel__data_idx_open(pi, images_size, 3, SCALPEL_DATASET_MAX_BYTES / sizeof(float), 1, &hi, &px, &oi);
    if (st == SCALPEL_OK) st = scalpel__data_idx_open(pl, labels_size, 1, SCALPEL_DATASET_MAX_BYTES, 1, &hl, &py, &ol);
    if (st == SCALPEL_OK && hi.dims[0] != hl.dims[0]) st = SCALPEL_ERR_SHAPE;
    if (st == SCALPEL_OK && (uint64_t)hi.dims[1] * hi.dims[2] > (uint64_t)INT32_MAX) st = SCALPEL_ERR_UNSUPPORTED;
    /* then the data (a gzip'd input is inflated into a block of exactly its announced size) */
    if (st == SCALPEL_OK) st = scalpel__data_idx_open(pi, images_size, 3, SCALPEL_DATASET_MAX_BYTES / sizeof(float), 0, &hi, &px, &oi);
    if (st == SCALPEL_OK) st = scalpel__data_idx_open(pl, labels_size, 1, SCALPEL_DATASET_MAX_BYTES, 0, &hl, &py, &ol);
    if (st == SCALPEL_OK)
        st = scalpel__data_alloc((int32_t)hi.dims[0], 1, (int32_t)hi.dims[1], (int32_t)hi.dims[2], out);
    if (st == SCALPEL_OK) {
        for (i = 0; i < 256; i++) table[i] = (float)i / 255.0f;
        total = hi.payload;
        for (i = 0; i < total; i++) out->x[i] = table[px[i]];
        for (i = 0; i < (size_t)out->n; i++) {
            out->y[i] = py[i];
            if (py[i] > maxl) maxl = py[i];
        }
        out->classes = maxl + 1;
    }
    if (oi != NULL) SCALPEL_FREE(NULL, oi);
    if (ol != NULL) SCALPEL_FREE(NULL, ol);
    if (st != SCALPEL_OK) scalpel_dataset_free(out);
    return st;
}

/* Reads a whole regular file (scalpel__file_read_all). Files larger than the cap (plus a
 * header) are refused before reading: a gzip'd IDX file is smaller than what it holds. */
SCALPEL__PRIV scalpel_status scalpel__data_read_file(const char *path, uint8_t **buf, size_t *size)
{
    return scalpel__file_read_all(path, NULL, SCALPEL_DATASET_MAX_BYTES + 64u, buf, size);
}

SCALPEL_API scalpel_status scalpel_dataset_load_idx(const char *images_path, const char *labels_path,
                                                    scalpel_dataset *out)
{
    uint8_t *bi = NULL, *bl = NULL;
    size_t ni = 0, nl = 0;
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (images_path == NULL || labels_path == NULL) return SCALPEL_ERR_NULL;
    st = scalpel__data_read_file(images_path, &bi, &ni);
    if (st == SCALPEL_OK) st = scalpel__data_read_file(labels_path, &bl, &nl);
    if (st == SCALPEL_OK) st = scalpel_dataset_from_idx(bi, ni, bl, nl, out);
    if (bi != NULL) SCALPEL_FREE(NULL, bi);
    if (bl != NULL) SCALPEL_FREE(NULL, bl);
    return st;
}

/* path = dir + sub + "/" + base (+ ".gz"): the first that is a regular file. 1 if found. */
SCALPEL__PRIV int scalpel__data_find(const char *dir, const char *sub, const char *base, char *path)
{
    static const char *const ext[2] = { "", ".gz" };
    int e;
    for (e = 0; e < 2; e++) {
        FILE *f;
        uint64_t size;
        sprintf(path, "%s%s/%s%s", dir, sub, base, ext[e]);
        if (scalpel__file_open_read(path, &f, &size) == SCALPEL_OK) {
            fclose(f);
            return 1;
        }
    }
    return 0;
}

SCALPEL_API scalpel_status scalpel_dataset_mnist(const char *dir, int32_t train, scalpel_dataset *out)
{
    static const char *const subs[2] = { "", "/MNIST/raw" };
    const char *img = train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
    const char *lab = train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
    char *pi, *pl;
    size_t len;
    int s;
    scalpel_status st = SCALPEL_ERR_NOT_FOUND;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (dir == NULL) dir = getenv(SCALPEL_DATASET_MNIST_ENV);
    if (dir == NULL || dir[0] == '\0') return SCALPEL_ERR_NOT_FOUND;
    len = strlen(dir);
    if (len > SIZE_MAX / 2 - 64) return SCALPEL_ERR_OVERFLOW;
    pi = (char *)SCALPEL_MALLOC(NULL, 2 * (len + 64));
    if (pi == NULL) return SCALPEL_ERR_NO_MEMORY;
    pl = pi + len + 64;
    for (s = 0; s < 2; s++)
        if (scalpel__data_find(dir, subs[s], img, pi) && scalpel__data_find(dir, subs[s], lab, pl)) {
            st = scalpel_dataset_load_idx(pi, pl, out);
            break;
        }
    SCALPEL_FREE(NULL, pi);
    return st;
}

SCALPEL_API scalpel_status scalpel_dataset_synthetic(int32_t n, uint64_t seed, scalpel_dataset *out)
{
    scalpel_status st;
    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (n < 1) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__data_alloc(n, 1, 28, 28, out);
    if (st == SCALPEL_OK) st = scalpel_dataset_synthetic_into(n, seed, out->x, out->y);
    if (st != SCALPEL_OK) {
        scalpel_dataset_free(out);
        return st;
    }
    out->classes = 10;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_dataset_subset(const scalpel_dataset *ds, const int32_t *idx,
                                                  int32_t count, scalpel_dataset *out)
{
    scalpel_status st;
    size_t ss;
    int32_t k;
    if (out == NULL) return SCALPEL_ERR_NULL;
    if (ds == out) return SCALPEL_ERR_ARGUMENT; /* before out is cleared: it is the input */
    memset(out, 0, sizeof(*out));
    st = scalpel_dataset_validate(ds);
    if (st != SCALPEL_OK) return st;
    if (idx == NULL) return SCALPEL_ERR_NULL;
    if (count < 1) return SCALPEL_ERR_ARGUMENT;
    for (k = 0; k < count; k++)
        if (idx[k] < 0 || idx[k] >= ds->n) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__data_alloc(count, ds->c, ds->h, ds->w, out);
    if (st != SCALPEL_OK) return st;
    ss = scalpel__data_sample_size(ds);
    for (k = 0; k < count; k++) {
        memcpy(out->x + (size_t)k * ss, ds->x + (size_t)idx[k] * ss, ss * sizeof(float));
        out->y[k] = ds->y[idx[k]];
    }
    out->classes = ds->classes;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_dataset_split(const scalpel_dataset *ds, int32_t n_first, uint64_t seed,
                                                 scalpel_dataset *first, scalpel_dataset *second)
{
    int32_t *perm;
    scalpel_status st;
    if (first == NULL || second == NULL) return SCALPEL_ERR_NULL;
    if (first == second || ds == first || ds == second) return SCALPEL_ERR_ARGUMENT;
    memset(first, 0, sizeof(*first));
    memset(second, 0, sizeof(*second));
    st = scalpel_dataset_validate(ds);
    if (st != SCALPEL_OK) return st;
    if (n_first < 1 || n_first >= ds->n) return SCALPEL_ERR_ARGUMENT;
    perm = (int32_t *)SCALPEL_MALLOC(NULL, (size_t)ds->n * sizeof(int32_t));
    if (perm == NULL) return SCALPEL_ERR_NO_MEMORY;
    st = scalpel_dataset_shuffle(ds->n, seed, perm);
    if (st == SCALPEL_OK) st = scalpel_dataset_subset(ds, perm, n_first, first);
    if (st == SCALPEL_OK) st = scalpel_dataset_subset(ds, perm + n_first, ds->n - n_first, second);
    SCALPEL_FREE(NULL, perm);
    if (st != SCALPEL_OK) {
        scalpel_dataset_free(first);
        scalpel_dataset_free(second);
    }
    return st;
}

/* ======================================================================================== */
/* >>drivers (implementation)                                                               */
/* ======================================================================================== */

#include <time.h>

SCALPEL_API void scalpel_progress_print(void *user, const scalpel_progress *p)
{
    (void)user;
    if (!p) return;
    fprintf(stderr, "\r%-12s epoch %3d/%-3d  loss %.4f  acc %6.2f%%  pruned %5.1f%%  %7.1fs ",
            p->stage ? p->stage : "train", (int)p->epoch, (int)p->epochs, (double)p->loss,
            100.0 * (double)p->accuracy, 100.0 * (double)p->prune_rate, p->seconds);
    if (p->epoch >= p->epochs) fputc('\n', stderr);
    fflush(stderr);
}

SCALPEL_API void scalpel_driver_config_default(scalpel_driver_config *dc)
{
    if (!dc) return;
    memset(dc, 0, sizeof(*dc));
    scalpel_train_config_default(&dc->train);
    dc->batch = 64;
    dc->epochs_per_stage = 1;
    dc->epochs_final = 1;
    dc->max_stages = 8;
    dc->rate_start = 0.5f;
    dc->rate_step = 0.1f;
    dc->rate_max = 0.95f;
    dc->tolerance = 0.01f;
    dc->lambda_start = 0.001f;
    dc->lambda_factor = 2.0f;
    dc->round_to = 1;
}

static scalpel_status scalpel__drv_check(const scalpel_driver_config *dc)
{
    if (dc->batch < 1 || dc->epochs_per_stage < 0 || dc->epochs_final < 0 || dc->max_stages < 0 ||
        dc->fc_epochs_per_stage < 0)
        return SCALPEL_ERR_ARGUMENT;
    if (!(dc->rate_keep >= 0.0f && dc->rate_keep < 1.0f)) return SCALPEL_ERR_ARGUMENT;
    if (!(dc->rate_start >= 0.0f && dc->rate_start <= 1.0f) || !(dc->rate_step >= 0.0f && dc->rate_step <= 1.0f) ||
        !(dc->rate_max >= 0.0f && dc->rate_max <= 1.0f) || !(dc->tolerance >= 0.0f && dc->tolerance <= 1.0f))
        return SCALPEL_ERR_ARGUMENT;
    if (!scalpel__train_finite(dc->lambda_start) || !(dc->lambda_start >= 0.0f) ||
        !scalpel__train_finite(dc->lambda_factor) || !(dc->lambda_factor >= 0.0f))
        return SCALPEL_ERR_ARGUMENT;
    if (dc->stage_anneal != 0 && dc->stage_anneal != 1) return SCALPEL_ERR_ARGUMENT;
    if (dc->layer_order != SCALPEL_ORDER_TIME && dc->layer_order != SCALPEL_ORDER_WEIGHTS &&
        dc->layer_order != SCALPEL_ORDER_GIVEN)
        return SCALPEL_ERR_ARGUMENT;
    if (dc->tolerance_shares != 0 && dc->tolerance_shares != 1) return SCALPEL_ERR_ARGUMENT;
    if (dc->remove_dead != 0 && dc->remove_dead != 1) return SCALPEL_ERR_ARGUMENT;
    if (dc->n_order_given < 0 || dc->n_order_given > SCALPEL_NET_MAX_LAYERS) return SCALPEL_ERR_ARGUMENT;
    {
        int32_t i;
        for (i = 0; i < SCALPEL_NET_MAX_LAYERS; i++)
            if (!(dc->layer_rate_max[i] >= 0.0f && dc->layer_rate_max[i] <= 1.0f)) return SCALPEL_ERR_ARGUMENT;
    }
    if (dc->patience < 0 || dc->patience > 1000) return SCALPEL_ERR_ARGUMENT;
    if (dc->round_to != 1 && dc->round_to != 8 && dc->round_to != 16 && dc->round_to != 32) return SCALPEL_ERR_ARGUMENT;
    return SCALPEL_OK;
}

static scalpel_status scalpel__drv_check_ds(const scalpel_trainer *tr, const scalpel_dataset *ds)
{
    scalpel_status st = scalpel_dataset_validate(ds);
    if (st != SCALPEL_OK) return st;
    if ((int64_t)ds->c * ds->h * ds->w != (int64_t)scalpel_net_input_size(&tr->arch)) return SCALPEL_ERR_SHAPE;
    if (ds->classes > tr->classes) return SCALPEL_ERR_SHAPE;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_trainer_evaluate_dataset(scalpel_trainer *tr, const scalpel_dataset *ds,
                                                            float *accuracy)
{
    float *x, *logits;
    int32_t *y, nb, b, count = 0, s, correct = 0;
    size_t in;
    scalpel_status st;
    if (accuracy) *accuracy = 0.0f;
    if (!tr || !ds || !accuracy) return SCALPEL_ERR_NULL;
    if (!tr->block) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__drv_check_ds(tr, ds);
    if (st != SCALPEL_OK) return st;
    in = (size_t)scalpel_net_input_size(&tr->arch);
    x = (float *)SCALPEL_MALLOC(tr->alloc_ctx, (size_t)tr->batch_max * (in + (size_t)tr->classes) * sizeof(float) +
                                                  (size_t)tr->batch_max * sizeof(int32_t));
    if (!x) return SCALPEL_ERR_NO_MEMORY;
    logits = x + (size_t)tr->batch_max * in;
    y = (int32_t *)(void *)(logits + (size_t)tr->batch_max * (size_t)tr->classes);
    nb = scalpel_dataset_batches(ds, tr->batch_max);
    for (b = 0; b < nb && st == SCALPEL_OK; b++) {
        st = scalpel_dataset_batch(ds, NULL, tr->batch_max, b, x, y, &count);
        if (st == SCALPEL_OK) st = scalpel_trainer_forward(tr, x, count, 0, logits);
        for (s = 0; s < count && st == SCALPEL_OK; s++)
            if (scalpel_argmax_f32(logits + (size_t)s * (size_t)tr->classes, tr->classes) == y[s]) correct++;
    }
    SCALPEL_FREE(tr->alloc_ctx, x);
    if (st == SCALPEL_OK) *accuracy = (float)correct / (float)ds->n;
    return st;
}

SCALPEL_API float scalpel_trainer_prune_rate(const scalpel_trainer *tr)
{
    int64_t total = 0, kept = 0;
    int32_t i;
    if (!tr || !tr->block) return 0.0f;
    for (i = 0; i < tr->arch.n_layers; i++) {
        const scalpel_layer *L = &tr->arch.layers[i];
        const scalpel_train_layer *T = &tr->layers[i];
        const float *na = T->mask_owner >= 0 ? tr->layers[T->mask_owner].node_a : NULL;
        size_t per, r, c;
        if (!scalpel__train_weighted(L->geom.kind)) continue;
        per = L->geom.kind == SCALPEL_LAYER_CONV2D ? (size_t)L->geom.kernel * (size_t)L->geom.kernel : (size_t)L->geom.in_h * (size_t)L->geom.in_w;
        total += (int64_t)L->geom.rows * L->geom.cols;
        for (r = 0; r < (size_t)L->geom.rows; r++) {
            if (T->node_a && T->node_a[r] == 0.0f) continue;
            for (c = 0; c < (size_t)L->geom.cols; c++)
                if (T->mask[r * (size_t)L->geom.cols + c] && (!na || na[c / per] != 0.0f)) kept++;
        }
    }
    return total ? (float)(1.0 - (double)kept / (double)total) : 0.0f;
}

/* Per-layer pruning rates of the trainer's masks (as scalpel_trainer_prune_rate) into res. */
static void scalpel__drv_rates(const scalpel_trainer *tr, scalpel_prune_result *res)
{
    int32_t i;
    for (i = 0; i < tr->arch.n_layers; i++) {
        const scalpel_layer *L = &tr->arch.layers[i];
        const scalpel_train_layer *T = &tr->layers[i];
        const float *na = T->mask_owner >= 0 ? tr->layers[T->mask_owner].node_a : NULL;
        size_t per, r, c;
        int64_t kept = 0;
        res->layer_rate[i] = 0.0f;
        if (!scalpel__train_weighted(L->geom.kind)) continue;
        per = L->geom.kind == SCALPEL_LAYER_CONV2D ? (size_t)L->geom.kernel * (size_t)L->geom.kernel : (size_t)L->geom.in_h * (size_t)L->geom.in_w;
        for (r = 0; r < (size_t)L->geom.rows; r++) {
            if (T->node_a && T->node_a[r] == 0.0f) continue;
            for (c = 0; c < (size_t)L->geom.cols; c++)
                if (T->mask[r * (size_t)L->geom.cols + c] && (!na || na[c / per] != 0.0f)) kept++;
        }
        res->layer_rate[i] = (float)(1.0 - (double)kept / ((double)L->geom.rows * (double)L->geom.cols));
    }
    res->rate = scalpel_trainer_prune_rate(tr);
}

/* Restores the frozen layers' weights from saved copies (and clears their momentum). */
static void scalpel__drv_refreeze(scalpel_trainer *tr, const scalpel_driver_config *dc, float *const *saved)
{
    int32_t i;
    for (i = 0; i < tr->arch.n_layers; i++) {
        const scalpel_layer *L = &tr->arch.layers[i];
        scalpel_train_layer *T = &tr->layers[i];
        size_t wn;
        if (!saved[i] || !dc->frozen[i]) continue;
        wn = (size_t)L->geom.rows * (size_t)L->geom.cols;
        memcpy(T->w, saved[i], wn * sizeof(float));
        memcpy(T->b, saved[i] + wn, (size_t)L->geom.rows * sizeof(float));
        memset(T->mom_w, 0, wn * sizeof(float));
        memset(T->mom_b, 0, (size_t)L->geom.rows * sizeof(float));
    }
}

SCALPEL_API scalpel_status scalpel_train_epochs(scalpel_trainer *tr, const scalpel_dataset *train,
                                                const scalpel_dataset *test, int32_t epochs,
                                                const char *stage, const scalpel_driver_config *dc,
                                                float *accuracy)
{
    size_t in, bytes, frozen_n = 0;
    unsigned char *mem;
    float *x, *fz;
    int32_t *y, *perm, e, b, nb, count = 0, i;
    float *saved[SCALPEL_NET_MAX_LAYERS];
    scalpel_status st;
    if (accuracy) *accuracy = 0.0f;
    if (!tr || !train) return SCALPEL_ERR_NULL;
    if (!tr->block || epochs < 0) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__drv_check_ds(tr, train);
    if (st == SCALPEL_OK && test) st = scalpel__drv_check_ds(tr, test);
    if (st != SCALPEL_OK) return st;
    in = (size_t)scalpel_net_input_size(&tr->arch);
    for (i = 0; i < tr->arch.n_layers; i++)
        if (dc && dc->frozen[i] && tr->layers[i].w)
            frozen_n += (size_t)tr->arch.layers[i].geom.rows * ((size_t)tr->arch.layers[i].geom.cols + 1u);
    bytes = (size_t)tr->batch_max * in * sizeof(float) + frozen_n * sizeof(float) +
            (size_t)tr->batch_max * sizeof(int32_t) + (size_t)train->n * sizeof(int32_t);
    mem = (unsigned char *)SCALPEL_MALLOC(tr->alloc_ctx, bytes);
    if (!mem) return SCALPEL_ERR_NO_MEMORY;
    x = (float *)(void *)mem;
    fz = x + (size_t)tr->batch_max * in;
    y = (int32_t *)(void *)(fz + frozen_n);
    perm = y + tr->batch_max;
    for (i = 0; i < tr->arch.n_layers; i++) {
        saved[i] = NULL;
        if (dc && dc->frozen[i] && tr->layers[i].w) {
            size_t wn = (size_t)tr->arch.layers[i].geom.rows * (size_t)tr->arch.layers[i].geom.cols;
            saved[i] = fz;
            memcpy(fz, tr->layers[i].w, wn * sizeof(float));
            memcpy(fz + wn, tr->layers[i].b, (size_t)tr->arch.layers[i].geom.rows * sizeof(float));
            fz += wn + (size_t)tr->arch.layers[i].geom.rows;
        }
    }
    /* nothing before the first trainable weighted layer needs a gradient: when every weighted
     * layer in front of it is frozen (and has no node masks), backward stops there */
    tr->backward_stop = 0;
    for (i = 0; dc && i < tr->arch.n_layers; i++) {
        if (!scalpel__train_weighted(tr->arch.layers[i].geom.kind)) continue;
        if (!dc->frozen[i] || tr->layers[i].node_a) break;
        tr->backward_stop = i + 1;
    }
    if (tr->backward_stop > 0) {
        while (tr->backward_stop < tr->arch.n_layers && !scalpel__train_weighted(tr->arch.layers[tr->backward_stop].geom.kind))
            tr->backward_stop++;
    }
    nb = scalpel_dataset_batches(train, tr->batch_max);
    for (e = 0; e < epochs && st == SCALPEL_OK; e++) {
        clock_t t0 = clock();
        double loss_sum = 0.0;
        float acc = 0.0f;
        st = scalpel_dataset_shuffle(train->n, tr->config.seed + (uint64_t)tr->epoch, perm);
        for (b = 0; b < nb && st == SCALPEL_OK; b++) {
            float loss = 0.0f;
            st = scalpel_dataset_batch(train, perm, tr->batch_max, b, x, y, &count);
            if (st == SCALPEL_OK) st = scalpel_trainer_step(tr, x, y, count, &loss);
            if (st == SCALPEL_OK && dc) scalpel__drv_refreeze(tr, dc, saved);
            loss_sum += (double)loss * (double)count;
        }
        if (st != SCALPEL_OK) break;
        tr->epoch++;
        if (test) st = scalpel_trainer_evaluate_dataset(tr, test, &acc);
        if (st != SCALPEL_OK) break;
        if (accuracy) *accuracy = acc;
        if (dc && dc->progress) {
            scalpel_progress p;
            p.stage = stage ? stage : "train";
            p.epoch = e + 1;
            p.epochs = epochs;
            p.loss = (float)(loss_sum / (double)train->n);
            p.accuracy = acc;
            p.prune_rate = scalpel_trainer_prune_rate(tr);
            p.seconds = (double)(clock() - t0) / (double)CLOCKS_PER_SEC;
            dc->progress(dc->progress_user, &p);
        }
        if (dc && dc->checkpoint_path) st = scalpel_trainer_save_checkpoint(tr, dc->checkpoint_path);
    }
    tr->backward_stop = 0;
    if (st == SCALPEL_OK && epochs == 0 && test && accuracy) st = scalpel_trainer_evaluate_dataset(tr, test, accuracy);
    SCALPEL_FREE(tr->alloc_ctx, mem);
    return st;
}

/* ---- checkpoints ------------------------------------------------------------------------- */

/* A cursor over checkpoint bytes: p == NULL counts (writing), err records a short read. */
typedef struct scalpel__ck {
    unsigned char *p;
    const unsigned char *q;
    size_t off, cap;
    int err;
} scalpel__ck;

static void scalpel__ck_u32(scalpel__ck *c, uint32_t v)
{
    if (c->p) scalpel__put_u32(c->p + c->off, v);
    c->off += 4;
}
static void scalpel__ck_u64(scalpel__ck *c, uint64_t v)
{
    scalpel__ck_u32(c, (uint32_t)v);
    scalpel__ck_u32(c, (uint32_t)(v >> 32));
}
static void scalpel__ck_f32(scalpel__ck *c, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    scalpel__ck_u32(c, u);
}
static void scalpel__ck_fv(scalpel__ck *c, const float *v, size_t n)
{
    size_t k;
    for (k = 0; k < n; k++) scalpel__ck_f32(c, v[k]);
}
static void scalpel__ck_bytes(scalpel__ck *c, const uint8_t *v, size_t n)
{
    if (c->p) { memcpy(c->p + c->off, v, n); memset(c->p + c->off + n, 0, (4u - n % 4u) % 4u); }
    c->off += n + (4u - n % 4u) % 4u;
}

static uint32_t scalpel__ck_get32(scalpel__ck *c)
{
    const unsigned char *b;
    if (c->err || c->cap - c->off < 4) { c->err = 1; return 0; }
    b = c->q + c->off;
    c->off += 4;
    return scalpel__get_u32(b);
}
static uint64_t scalpel__ck_get64(scalpel__ck *c)
{
    uint64_t lo = scalpel__ck_get32(c);
    return lo | ((uint64_t)scalpel__ck_get32(c) << 32);
}
static float scalpel__ck_getf(scalpel__ck *c)
{
    uint32_t u = scalpel__ck_get32(c);
    float v;
    memcpy(&v, &u, 4);
    return v;
}
/* Reads n floats into dst (NULL: checks only); 0 when one is not finite. Fewer than n floats
 * left is a short read (c->err) found before the loop, which so never outruns the bytes. */
static int scalpel__ck_getfv(scalpel__ck *c, float *dst, size_t n)
{
    size_t k;
    int ok = 1;
    if (c->err || (c->cap - c->off) / 4u < n) { c->err = 1; return 0; }
    for (k = 0; k < n; k++) {
        float v = scalpel__ck_getf(c);
        if (!scalpel__train_finite(v)) ok = 0;
        if (dst) dst[k] = v;
    }
    return ok;
}

/* Writes (c->p set) or sizes (c->p NULL) the checkpoint of tr, CRC included. */
static void scalpel__ck_write(const scalpel_trainer *tr, scalpel__ck *c)
{
    const scalpel_train_config *g = &tr->config;
    int32_t i, n = tr->arch.n_layers;
    c->off = 0;
    if (c->p) memcpy(c->p, SCALPEL_CHECKPOINT_MAGIC, 4);
    c->off = 4;
    scalpel__ck_u32(c, SCALPEL_CHECKPOINT_VERSION);
    scalpel__ck_u64(c, (uint64_t)c->cap);
    scalpel__ck_u32(c, (uint32_t)n);
    scalpel__ck_u32(c, 0u);
    scalpel__ck_f32(c, g->lr); scalpel__ck_f32(c, g->momentum); scalpel__ck_f32(c, g->weight_decay);
    scalpel__ck_u32(c, (uint32_t)g->lr_step); scalpel__ck_f32(c, g->lr_gamma); scalpel__ck_u64(c, g->seed);
    scalpel__ck_u32(c, (uint32_t)g->node_masks); scalpel__ck_f32(c, g->mask_threshold);
    scalpel__ck_f32(c, g->mask_eps); scalpel__ck_f32(c, g->mask_init); scalpel__ck_f32(c, g->mask_max);
    scalpel__ck_f32(c, g->mask_lambda);
    scalpel__ck_u64(c, (uint64_t)tr->steps); scalpel__ck_u64(c, tr->rng);
    scalpel__ck_u64(c, (uint64_t)tr->epoch); scalpel__ck_u32(c, (uint32_t)tr->stage);
    for (i = 0; i < n; i++) {
        const scalpel_layer *L = &tr->arch.layers[i];
        const scalpel_train_layer *T = &tr->layers[i];
        scalpel__ck_u32(c, (uint32_t)L->geom.kind);
        scalpel__ck_u32(c, (uint32_t)L->geom.rows);
        scalpel__ck_u32(c, (uint32_t)L->geom.cols);
        scalpel__ck_u32(c, T->node_a ? 1u : 0u);
        scalpel__ck_f32(c, g->dropout[i]);
        scalpel__ck_f32(c, T->dropout);
        if (scalpel__train_weighted(L->geom.kind)) {
            size_t wn = (size_t)L->geom.rows * (size_t)L->geom.cols, rn = (size_t)L->geom.rows;
            scalpel__ck_fv(c, T->w, wn); scalpel__ck_fv(c, T->b, rn);
            scalpel__ck_fv(c, T->mom_w, wn); scalpel__ck_fv(c, T->mom_b, rn);
            scalpel__ck_bytes(c, T->mask, wn);
            if (T->node_a) { scalpel__ck_fv(c, T->node_a, rn); scalpel__ck_fv(c, T->node_b, rn); }
        }
    }
    if (c->p) scalpel__ck_u32(c, scalpel_crc32(0, c->p, c->off));
    else c->off += 4;
}

/* Validates (apply == 0) or restores (apply == 1, after a validating pass) a checkpoint. Every
 * field is checked against what training produces (see SCALPEL_CHECKPOINT_MAGIC), each integer
 * before it is converted to a signed type, and every loop is bounded by the trainer's own
 * architecture and by the bytes present. */
static scalpel_status scalpel__ck_read(scalpel_trainer *tr, const unsigned char *buf, size_t size, int apply)
{
    scalpel__ck c;
    scalpel_train_config g;
    int32_t i, n;
    uint64_t total, rng, steps, epoch;
    uint32_t stage, lr_step, node_masks;
    memset(&c, 0, sizeof(c));
    c.q = buf;
    c.cap = size;
    if (size < 4) return SCALPEL_ERR_TRUNCATED;
    if (memcmp(buf, SCALPEL_CHECKPOINT_MAGIC, 4) != 0) return SCALPEL_ERR_MAGIC;
    if (size < 28) return SCALPEL_ERR_TRUNCATED;
    c.off = 4;
    if (scalpel__ck_get32(&c) != SCALPEL_CHECKPOINT_VERSION) return SCALPEL_ERR_VERSION;
    total = scalpel__ck_get64(&c);
    if (total > (uint64_t)size) return SCALPEL_ERR_TRUNCATED;
    if (total < (uint64_t)size || total < 32) return SCALPEL_ERR_CORRUPT;
    if (scalpel_crc32(0, buf, size - 4) != scalpel__get_u32(buf + size - 4))
        return SCALPEL_ERR_CHECKSUM;
    c.cap = size - 4;
    n = (int32_t)scalpel__ck_get32(&c);
    if (n != tr->arch.n_layers) return SCALPEL_ERR_SHAPE;
    if (scalpel__ck_get32(&c) != 0u) return SCALPEL_ERR_CORRUPT;
    scalpel_train_config_default(&g);
    g.lr = scalpel__ck_getf(&c); g.momentum = scalpel__ck_getf(&c); g.weight_decay = scalpel__ck_getf(&c);
    lr_step = scalpel__ck_get32(&c); g.lr_gamma = scalpel__ck_getf(&c); g.seed = scalpel__ck_get64(&c);
    node_masks = scalpel__ck_get32(&c); g.mask_threshold = scalpel__ck_getf(&c);
    g.mask_eps = scalpel__ck_getf(&c); g.mask_init = scalpel__ck_getf(&c); g.mask_max = scalpel__ck_getf(&c);
    g.mask_lambda = scalpel__ck_getf(&c);
    steps = scalpel__ck_get64(&c); rng = scalpel__ck_get64(&c);
    epoch = scalpel__ck_get64(&c); stage = scalpel__ck_get32(&c);
    if (c.err) return SCALPEL_ERR_TRUNCATED;
    if (steps >= (uint64_t)SCALPEL_CHECKPOINT_MAX_STEPS || epoch > (uint64_t)INT32_MAX || stage > (uint32_t)INT32_MAX ||
        lr_step > (uint32_t)INT32_MAX || rng == 0)
        return SCALPEL_ERR_CORRUPT;
    g.lr_step = (int32_t)lr_step;
    /* tr's own node_masks is valid (0 .. 3), so the comparison is exact */
    if (node_masks != (uint32_t)tr->config.node_masks) return SCALPEL_ERR_SHAPE;
    g.node_masks = tr->config.node_masks;
    for (i = 0; i < n; i++) {
        const scalpel_layer *L = &tr->arch.layers[i];
        scalpel_train_layer *T = &tr->layers[i];
        uint32_t kind = scalpel__ck_get32(&c), rows = scalpel__ck_get32(&c), cols = scalpel__ck_get32(&c);
        uint32_t has_node = scalpel__ck_get32(&c);
        float d_cfg = scalpel__ck_getf(&c), d_layer = scalpel__ck_getf(&c);
        if (c.err) return SCALPEL_ERR_TRUNCATED;
        if (kind != (uint32_t)L->geom.kind || rows != (uint32_t)L->geom.rows || cols != (uint32_t)L->geom.cols ||
            has_node != (T->node_a ? 1u : 0u))
            return SCALPEL_ERR_SHAPE;
        if (!(d_layer >= 0.0f && d_layer < 1.0f)) return SCALPEL_ERR_CORRUPT;
        if (d_layer > 0.0f && L->geom.kind != SCALPEL_LAYER_FC) return SCALPEL_ERR_CORRUPT;
        g.dropout[i] = d_cfg;
        if (apply) T->dropout = d_layer;
        if (scalpel__train_weighted(L->geom.kind)) {
            size_t wn = (size_t)L->geom.rows * (size_t)L->geom.cols, rn = (size_t)L->geom.rows, k, pad = (4u - wn % 4u) % 4u;
            int ok = 1;
            ok &= scalpel__ck_getfv(&c, apply ? T->w : NULL, wn);
            ok &= scalpel__ck_getfv(&c, apply ? T->b : NULL, rn);
            ok &= scalpel__ck_getfv(&c, apply ? T->mom_w : NULL, wn);
            ok &= scalpel__ck_getfv(&c, apply ? T->mom_b : NULL, rn);
            if (c.err || c.cap - c.off < wn + pad) return SCALPEL_ERR_TRUNCATED;
            for (k = 0; k < wn + pad; k++)
                if (c.q[c.off + k] > (k < wn ? 1u : 0u)) return SCALPEL_ERR_CORRUPT;
            if (apply) memcpy(T->mask, c.q + c.off, wn);
            c.off += wn + pad;
            if (T->node_a) {
                if (c.err || (c.cap - c.off) / 8u < rn) return SCALPEL_ERR_TRUNCATED;
                for (k = 0; k < rn; k++) {
                    float a = scalpel__ck_getf(&c);
                    if (a != 0.0f && a != 1.0f) return SCALPEL_ERR_CORRUPT;
                    if (apply) T->node_a[k] = a;
                }
                for (k = 0; k < rn; k++) {
                    float b = scalpel__ck_getf(&c);
                    if (!(b >= 0.0f && b <= 1.0f)) return SCALPEL_ERR_CORRUPT;
                    if (apply) T->node_b[k] = b;
                }
            }
            if (c.err) return SCALPEL_ERR_TRUNCATED;
            if (!ok) return SCALPEL_ERR_CORRUPT;
        }
    }
    if (c.err) return SCALPEL_ERR_TRUNCATED;
    if (c.off != c.cap) return SCALPEL_ERR_CORRUPT;
    if (scalpel__train_check_config(&g, &tr->arch) != SCALPEL_OK) return SCALPEL_ERR_CORRUPT;
    if (apply) {
        tr->config = g;
        tr->steps = (int64_t)steps;
        tr->rng = rng;
        tr->epoch = (int64_t)epoch;
        tr->stage = (int32_t)stage;
    }
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_trainer_checkpoint_to_buffer(const scalpel_trainer *tr, void **buf,
                                                                size_t *size)
{
    scalpel__ck c;
    if (buf) *buf = NULL;
    if (size) *size = 0;
    if (!tr || !buf || !size) return SCALPEL_ERR_NULL;
    if (!tr->block) return SCALPEL_ERR_ARGUMENT;
    memset(&c, 0, sizeof(c));
    scalpel__ck_write(tr, &c);
    c.cap = c.off;
    c.p = (unsigned char *)SCALPEL_MALLOC(tr->alloc_ctx, c.cap);
    if (!c.p) return SCALPEL_ERR_NO_MEMORY;
    scalpel__ck_write(tr, &c);
    *buf = c.p;
    *size = c.cap;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_trainer_checkpoint_from_buffer(scalpel_trainer *tr, const void *buf,
                                                                  size_t size)
{
    scalpel_status st;
    if (!tr || !buf) return SCALPEL_ERR_NULL;
    if (!tr->block) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__ck_read(tr, (const unsigned char *)buf, size, 0);
    if (st == SCALPEL_OK) st = scalpel__ck_read(tr, (const unsigned char *)buf, size, 1);
    return st;
}

/* Built in memory first, so that every check is done before a file is touched; then the
 * writers' one rule: temporary file beside the target, checked writes, rename. */
SCALPEL_API scalpel_status scalpel_trainer_save_checkpoint(const scalpel_trainer *tr, const char *path)
{
    void *buf = NULL;
    size_t size = 0;
    char *tmp;
    FILE *f;
    scalpel_status st;
    if (!tr || !path) return SCALPEL_ERR_NULL;
    if (path[0] == 0) return SCALPEL_ERR_ARGUMENT;
    st = scalpel_trainer_checkpoint_to_buffer(tr, &buf, &size);
    if (st != SCALPEL_OK) return st;
    st = scalpel__tmp_open(path, tr->alloc_ctx, &tmp, &f);
    if (st == SCALPEL_OK) {
        errno = 0;
        if (fwrite(buf, 1, size, f) != size) st = scalpel__errno_status(errno);
        st = scalpel__tmp_close(f, tmp, path, tr->alloc_ctx, st);
    }
    SCALPEL_FREE(tr->alloc_ctx, buf);
    return st;
}

/* A checkpoint of this trainer has one exact size (scalpel__ck_write measures it): a longer
 * file is refused before it is read, so a huge or endless file costs nothing. */
SCALPEL_API scalpel_status scalpel_trainer_load_checkpoint(scalpel_trainer *tr, const char *path)
{
    unsigned char *buf;
    size_t size;
    scalpel__ck c;
    scalpel_status st;
    if (!tr || !path) return SCALPEL_ERR_NULL;
    if (!tr->block) return SCALPEL_ERR_ARGUMENT;
    memset(&c, 0, sizeof(c));
    scalpel__ck_write(tr, &c); /* no buffer: measures */
    st = scalpel__file_read_all(path, tr->alloc_ctx, (uint64_t)c.off, &buf, &size);
    if (st == SCALPEL_ERR_UNSUPPORTED) return SCALPEL_ERR_SHAPE; /* longer than this trainer's checkpoints */
    if (st != SCALPEL_OK) return st;
    st = scalpel_trainer_checkpoint_from_buffer(tr, buf, size);
    SCALPEL_FREE(tr->alloc_ctx, buf);
    return st;
}

/* ---- pruning drivers ---------------------------------------------------------------------- */

static scalpel_status scalpel__drv_begin(scalpel_trainer *tr, const scalpel_dataset *train, const scalpel_dataset *test,
                                         const scalpel_driver_config **dc, scalpel_driver_config *def,
                                         scalpel_prune_result *res)
{
    scalpel_status st;
    int32_t i;
    if (res) memset(res, 0, sizeof(*res));
    if (!tr || !train || !test || !res) return SCALPEL_ERR_NULL;
    if (!tr->block) return SCALPEL_ERR_ARGUMENT;
    if (!*dc) { scalpel_driver_config_default(def); *dc = def; }
    st = scalpel__drv_check(*dc);
    if (st == SCALPEL_OK) st = scalpel__drv_check_ds(tr, train);
    if (st == SCALPEL_OK) st = scalpel__drv_check_ds(tr, test);
    if (st == SCALPEL_OK) st = scalpel_trainer_evaluate_dataset(tr, test, &res->dense_accuracy);
    res->accuracy = res->dense_accuracy;
    for (i = 0; i < SCALPEL_NET_MAX_LAYERS; i++) res->order[i] = -1;
    for (i = 0; i < tr->arch.n_layers; i++)
        if (scalpel__train_weighted(tr->arch.layers[i].geom.kind))
            res->nodes_before[i] = res->nodes_after[i] = tr->arch.layers[i].geom.rows;
    return st;
}

/* 1 when acc fell more than tol below base. In double with a slack of 1e-6, so that a drop of
 * exactly tol (accuracies are k / n, rounded to float) is not counted as past it. */
static int scalpel__drv_past(float acc, float base, float tol)
{
    return (double)base - (double)acc > (double)tol + 1e-6;
}

/* The grouped kernel's break-even rate for layer L at batch `batch`: matrix-vector for an fc
 * layer at batch 1, matrix-matrix otherwise */
static float scalpel__drv_breakeven(const scalpel_hw_profile *hw, const scalpel_layer *L, int32_t batch)
{
    return (L->geom.kind == SCALPEL_LAYER_FC && batch == 1) ? hw->breakeven_mv_grouped : hw->breakeven_mm_grouped;
}

/* Layer i's last rate: dc->rate_max, or its own cap when lower */
static float scalpel__drv_layer_max(const scalpel_driver_config *dc, int32_t i)
{
    float c = dc->layer_rate_max[i];
    return c > 0.0f && c < dc->rate_max ? c : dc->rate_max;
}

/* dc->tolerance_shares: the drop below dense a layer may reach when `spent` is already gone and
 * `layers` layers (this one included) are still to prune: spent plus an equal share of what is
 * left of tol, nothing more once tol is spent. A network better than dense (spent < 0) has more
 * than tol left; the result is clamped to [0, 1] (never asks for better than dense). */
static float scalpel__drv_share(float tol, double spent, int32_t layers)
{
    double left = (double)tol - spent, t = spent + (left > 0.0 && layers > 0 ? left / (double)layers : 0.0);
    return t < 0.0 ? 0.0f : t > 1.0 ? 1.0f : (float)t;
}

/* Stage rate s: min(start + s * step, max), or the geometric ladder when rate_keep is set.
 * Computed in double and rounded once, so the ladder is the same on every target. */
static float scalpel__drv_rate(const scalpel_driver_config *dc, int32_t s)
{
    double r;
    if (dc->rate_keep > 0.0f) {
        double kept = 1.0 - (double)dc->rate_start;
        int32_t k;
        for (k = 0; k < s; k++) kept *= (double)dc->rate_keep;
        r = 1.0 - kept;
    } else {
        r = (double)dc->rate_start + (double)s * (double)dc->rate_step;
    }
    return r > (double)dc->rate_max ? dc->rate_max : (float)r;
}

/* `epochs` epochs at the trainer's current lr x lr_gamma with no step schedule (the closing
 * fine-tune of the Traditional and SIMD-aware drivers, and the annealed end of a stage); the
 * trainer's configuration is restored after. */
static scalpel_status scalpel__drv_anneal(scalpel_trainer *tr, const scalpel_dataset *train, const scalpel_dataset *test,
                                          int32_t epochs, const char *stage, const scalpel_driver_config *dc, float *acc)
{
    float lr = tr->config.lr;
    int32_t lr_step = tr->config.lr_step;
    scalpel_status st;
    if (epochs <= 0) return SCALPEL_OK;
    tr->config.lr = scalpel_trainer_lr(tr) * tr->config.lr_gamma;
    tr->config.lr_step = 0;
    st = scalpel_train_epochs(tr, train, test, epochs, stage, dc, acc);
    tr->config.lr = lr;
    tr->config.lr_step = lr_step;
    return st;
}

/* The closing retraining of a driver (dc->epochs_final epochs; with `anneal` at the current
 * rate times lr_gamma, held constant, else on the trainer's own schedule), kept only when it
 * does not end below where it started: the stages were judged against the tolerance, and a
 * retraining must not undo that. *acc = the accuracy of the network the trainer is left with. */
static scalpel_status scalpel__drv_closing(scalpel_trainer *tr, const scalpel_dataset *train, const scalpel_dataset *test,
                                           const scalpel_driver_config *dc, const char *stage, int anneal, float *acc)
{
    void *snap = NULL;
    size_t snap_n = 0;
    float before = 0.0f;
    scalpel_status st = scalpel_trainer_evaluate_dataset(tr, test, &before);
    if (st != SCALPEL_OK || dc->epochs_final <= 0) {
        if (st == SCALPEL_OK) *acc = before;
        return st;
    }
    st = scalpel_trainer_checkpoint_to_buffer(tr, &snap, &snap_n);
    if (st == SCALPEL_OK)
        st = anneal ? scalpel__drv_anneal(tr, train, test, dc->epochs_final, stage, dc, acc)
                    : scalpel_train_epochs(tr, train, test, dc->epochs_final, stage, dc, acc);
    if (st == SCALPEL_OK && *acc < before) {
        st = scalpel_trainer_checkpoint_from_buffer(tr, snap, snap_n);
        *acc = before;
    }
    if (snap) SCALPEL_FREE(tr->alloc_ctx, snap);
    return st;
}

static scalpel_status scalpel__drv_finetune(scalpel_trainer *tr, const scalpel_dataset *train,
                                            const scalpel_dataset *test, const scalpel_driver_config *dc, float *acc)
{
    return scalpel__drv_closing(tr, train, test, dc, "finetune", 1, acc);
}

static int64_t scalpel__drv_kept(const uint8_t *mask, size_t n)
{
    size_t k;
    int64_t kept = 0;
    for (k = 0; k < n; k++) kept += mask[k] != 0;
    return kept;
}

/* Han's rule on fc layer i after its mask changed. */
static void scalpel__drv_han(scalpel_trainer *tr, int32_t i)
{
    const scalpel_layer *L = &tr->arch.layers[i];
    size_t wn = (size_t)L->geom.rows * (size_t)L->geom.cols;
    if (L->geom.kind != SCALPEL_LAYER_FC || !(tr->config.dropout[i] > 0.0f)) return;
    tr->layers[i].dropout = scalpel_dropout_han(tr->config.dropout[i], scalpel__drv_kept(tr->layers[i].mask, wn), (int64_t)wn);
}

/* One retraining stage: epochs_per_stage epochs (or an evaluation when that is 0). */
static scalpel_status scalpel__drv_retrain(scalpel_trainer *tr, const scalpel_dataset *train, const scalpel_dataset *test,
                                           const char *stage, const scalpel_driver_config *dc, float *acc)
{
    scalpel_status st;
    if (dc->epochs_per_stage <= 0) return scalpel_trainer_evaluate_dataset(tr, test, acc);
    if (!dc->stage_anneal || dc->epochs_per_stage < 2)
        return scalpel_train_epochs(tr, train, test, dc->epochs_per_stage, stage, dc, acc);
    st = scalpel_train_epochs(tr, train, test, dc->epochs_per_stage - 1, stage, dc, acc);
    if (st == SCALPEL_OK) st = scalpel__drv_anneal(tr, train, test, 1, stage, dc, acc);
    return st;
}

static size_t scalpel__drv_max_weights(const scalpel_net *a)
{
    size_t m = 1;
    int32_t i;
    for (i = 0; i < a->n_layers; i++) {
        size_t wn = (size_t)a->layers[i].geom.rows * (size_t)a->layers[i].geom.cols;
        if (scalpel__train_weighted(a->layers[i].geom.kind) && wn > m) m = wn;
    }
    return m;
}

/* After a stage with accuracy acc: within tolerance, it becomes the last good stage (*good, a
 * checkpoint of the trainer; res->accuracy = acc) and *misses = 0; past it, one more miss.
 * Returns 1 when the stages must end (patience + 1 misses in a row, or an error in *st). */
static int scalpel__drv_judge(scalpel_trainer *tr, const scalpel_driver_config *dc, float acc,
                              scalpel_prune_result *res, int32_t *misses, void **good, size_t *good_n,
                              scalpel_status *st)
{
    if (scalpel__drv_past(acc, res->dense_accuracy, dc->tolerance)) return ++*misses > dc->patience;
    *misses = 0;
    res->accuracy = acc;
    if (*good) SCALPEL_FREE(tr->alloc_ctx, *good);
    *good = NULL;
    *st = scalpel_trainer_checkpoint_to_buffer(tr, good, good_n);
    return *st != SCALPEL_OK;
}

/* When the stages ended on misses, back to the last good stage; then frees it. */
static void scalpel__drv_back_to_good(scalpel_trainer *tr, int32_t misses, void *good, size_t good_n,
                                      scalpel_status *st)
{
    if (*st == SCALPEL_OK && misses > 0) *st = scalpel_trainer_checkpoint_from_buffer(tr, good, good_n);
    if (good) SCALPEL_FREE(tr->alloc_ctx, good);
}

/* The stage ladder shared by the Traditional and SIMD-aware drivers. Stage s prunes layer
 * `only` (or every weighted layer when only < 0) to rate s of the ladder: by magnitude when
 * group == 0, else in aligned groups of `group` (RMS); then retrains. A stage more than
 * tolerance below dense counts as a miss; after patience + 1 misses in a row the trainer goes
 * back to the last stage within tolerance (or to where it started) and the ladder ends.
 * res->accuracy is the accuracy of that stage. mb: a scratch mask as large as the largest
 * layer. */
static scalpel_status scalpel__drv_ladder(scalpel_trainer *tr, const scalpel_dataset *train, const scalpel_dataset *test,
                                          const scalpel_driver_config *dc, scalpel_prune_result *res, int32_t only,
                                          int32_t group, const char *stage, uint8_t *mb)
{
    void *good = NULL;
    size_t good_n = 0;
    int32_t s, i, misses = 0;
    float last = -1.0f;
    scalpel_status st = scalpel_trainer_checkpoint_to_buffer(tr, &good, &good_n);
    for (s = 0; s < dc->max_stages && st == SCALPEL_OK; s++) {
        float rate = scalpel__drv_rate(dc, s), acc = 0.0f;
        if (rate <= last) break;
        last = rate;
        for (i = 0; i < tr->arch.n_layers && st == SCALPEL_OK; i++) {
            const scalpel_layer *L = &tr->arch.layers[i];
            scalpel_train_layer *T = &tr->layers[i];
            size_t k, wn = (size_t)L->geom.rows * (size_t)L->geom.cols;
            if (!scalpel__train_weighted(L->geom.kind) || (only >= 0 && i != only)) continue;
            if (group == 0) st = scalpel_prune_magnitude_rate(T->w, L->geom.rows, L->geom.cols, rate, mb, NULL);
            else st = scalpel_prune_groups_rate(T->w, L->geom.rows, L->geom.cols, group, SCALPEL_IMPORTANCE_RMS, rate, mb, NULL);
            for (k = 0; k < wn && st == SCALPEL_OK; k++) T->mask[k] = (uint8_t)(T->mask[k] & mb[k]);
            scalpel__drv_han(tr, i);
        }
        if (st != SCALPEL_OK) break;
        scalpel_trainer_apply_masks(tr);
        tr->stage++;
        res->stages++;
        st = scalpel__drv_retrain(tr, train, test, stage, dc, &acc);
        if (st != SCALPEL_OK) break;
        if (scalpel__drv_judge(tr, dc, acc, res, &misses, &good, &good_n, &st)) break;
    }
    scalpel__drv_back_to_good(tr, misses, good, good_n, &st);
    return st;
}

SCALPEL_API scalpel_status scalpel_prune_traditional(scalpel_trainer *tr, const scalpel_dataset *train,
                                                     const scalpel_dataset *test,
                                                     const scalpel_driver_config *dc, scalpel_prune_result *res)
{
    scalpel_driver_config def;
    scalpel_status st = scalpel__drv_begin(tr, train, test, &dc, &def, res);
    uint8_t *mb;
    if (st != SCALPEL_OK) return st;
    mb = (uint8_t *)SCALPEL_MALLOC(tr->alloc_ctx, scalpel__drv_max_weights(&tr->arch));
    if (!mb) return SCALPEL_ERR_NO_MEMORY;
    st = scalpel__drv_ladder(tr, train, test, dc, res, -1, 0, "traditional", mb);
    SCALPEL_FREE(tr->alloc_ctx, mb);
    if (st == SCALPEL_OK && res->stages > 0) st = scalpel__drv_finetune(tr, train, test, dc, &res->accuracy);
    if (st == SCALPEL_OK) scalpel__drv_rates(tr, res);
    return st;
}

/* Processor seconds of one dense forward of layer i of net (a one-layer network run with the
 * library's kernels at `batch`), the mean over enough runs to fill about 20 ms. */
static scalpel_status scalpel__drv_time_layer(const scalpel_net *net, int32_t i, int32_t batch, double *secs)
{
    const scalpel_layer *L = &net->layers[i];
    scalpel_net one;
    scalpel_status st;
    float *in = NULL, *out = NULL;
    void *ws = NULL;
    size_t isz = (size_t)L->geom.in_c * (size_t)L->geom.in_h * (size_t)L->geom.in_w, k;
    *secs = 0.0;
    st = scalpel_net_init(L->geom.in_c, L->geom.in_h, L->geom.in_w, &one);
    one.alloc_ctx = net->alloc_ctx;
    if (st == SCALPEL_OK) {
        st = scalpel_net_add_layer(&one, L->geom.kind, L->geom.rows, L->geom.kernel, L->geom.stride, L->geom.pad, L->w, L->b);
    }
    if (st == SCALPEL_OK) {
        size_t wsz = scalpel_net_workspace_size(&one, batch);
        in = (float *)SCALPEL_MALLOC(net->alloc_ctx, (size_t)batch * isz * sizeof(float));
        out = (float *)SCALPEL_MALLOC(net->alloc_ctx, (size_t)batch * (size_t)scalpel_net_output_size(&one) * sizeof(float));
        ws = SCALPEL_MALLOC(net->alloc_ctx, wsz ? wsz : 1);
        if (!in || !out || !ws) st = SCALPEL_ERR_NO_MEMORY;
    }
    if (st == SCALPEL_OK) {
        clock_t t0, t1;
        long reps = 0;
        for (k = 0; k < (size_t)batch * isz; k++) in[k] = (float)(k % 7) * 0.125f;
        t0 = clock();
        do {
            st = scalpel_net_forward(&one, in, batch, out, ws);
            reps++;
            t1 = clock();
        } while (st == SCALPEL_OK && (double)(t1 - t0) < 0.02 * (double)CLOCKS_PER_SEC && reps < 100000);
        *secs = (double)(t1 - t0) / (double)CLOCKS_PER_SEC / (double)reps;
    }
    if (in) SCALPEL_FREE(net->alloc_ctx, in);
    if (out) SCALPEL_FREE(net->alloc_ctx, out);
    if (ws) SCALPEL_FREE(net->alloc_ctx, ws);
    scalpel_net_free(&one);
    return st;
}

/* remove_dead after layer i's stages: its dead nodes go (scalpel_net_remove_dead_nodes) and the
 * trainer is rebuilt in place on the smaller network, with the same configuration, counters,
 * RNG and per-layer dropout. Weight masks carry over as "non-zero" on every layer that had a
 * pruned weight (a masked weight is exactly 0; a kept one exactly 0 is not lost, it is frozen
 * at 0). Nothing changes when no node of layer i is dead. */
static scalpel_status scalpel__drv_remove_dead(scalpel_trainer *tr, int32_t i)
{
    uint8_t which[SCALPEL_NET_MAX_LAYERS];
    scalpel_net full, small;
    scalpel_trainer t2;
    int32_t removed = 0, k;
    scalpel_status st;
    memset(which, 0, sizeof(which));
    which[i] = 1;
    st = scalpel_trainer_export(tr, &full);
    if (st != SCALPEL_OK) return st;
    st = scalpel_net_remove_dead_nodes(&full, which, &small, &removed);
    scalpel_net_free(&full);
    if (st != SCALPEL_OK) return st;
    if (removed == 0) { scalpel_net_free(&small); return SCALPEL_OK; }
    st = scalpel_trainer_init(&small, tr->batch_max, &tr->config, &t2);
    if (st == SCALPEL_OK) {
        for (k = 0; k < small.n_layers; k++) {
            const scalpel_layer *L = &tr->arch.layers[k];
            size_t n, j, wn;
            int any = 0;
            t2.layers[k].dropout = tr->layers[k].dropout;
            if (!scalpel__train_weighted(L->geom.kind)) continue;
            wn = (size_t)L->geom.rows * (size_t)L->geom.cols;
            for (j = 0; j < wn && !any; j++) any = !tr->layers[k].mask[j];
            if (!any) continue;
            n = (size_t)small.layers[k].geom.rows * (size_t)small.layers[k].geom.cols;
            for (j = 0; j < n; j++) t2.layers[k].mask[j] = t2.layers[k].w[j] != 0.0f;
        }
        t2.steps = tr->steps;
        t2.epoch = tr->epoch;
        t2.stage = tr->stage;
        t2.rng = tr->rng;
        scalpel_trainer_free(tr);
        *tr = t2;
    }
    scalpel_net_free(&small);
    return st;
}

SCALPEL_API scalpel_status scalpel_prune_simd(scalpel_trainer *tr, const scalpel_dataset *train,
                                              const scalpel_dataset *test, const scalpel_hw_profile *hw,
                                              int32_t only_kind, const scalpel_driver_config *dc,
                                              scalpel_prune_result *res)
{
    scalpel_driver_config def;
    scalpel_status st;
    scalpel_net cur;
    double key[SCALPEL_NET_MAX_LAYERS]; /* seconds or weights: larger first */
    scalpel_driver_config layer_dc;     /* dc with the tolerance of the layer being pruned */
    float now;                          /* accuracy after the layers pruned so far */
    double cells0[SCALPEL_NET_MAX_LAYERS]; /* dense weight counts before remove_dead */
    uint8_t done[SCALPEL_NET_MAX_LAYERS];  /* 1: layer i has been group-pruned */
    int32_t n_order = 0, i, j, o, batch, any_pruned, to_prune, has_nodes = 0;
    uint8_t *mb;
    if (res) memset(res, 0, sizeof(*res));
    if (!hw) return SCALPEL_ERR_NULL;
    if (only_kind != 0 && only_kind != SCALPEL_LAYER_FC && only_kind != SCALPEL_LAYER_CONV2D) return SCALPEL_ERR_ARGUMENT;
    if (hw->group != 1 && hw->group != 2 && hw->group != 4 && hw->group != 8 && hw->group != 16) return SCALPEL_ERR_GROUP;
    st = scalpel__drv_begin(tr, train, test, &dc, &def, res);
    if (st != SCALPEL_OK) return st;
    batch = hw->batch >= 1 ? hw->batch : 1;
    memset(done, 0, sizeof(done));
    for (i = 0; i < tr->arch.n_layers; i++) {
        cells0[i] = (double)tr->arch.layers[i].geom.rows * (double)tr->arch.layers[i].geom.cols;
        if (tr->layers[i].node_a) has_nodes = 1;
    }
    /* the order: weighted layers by measured dense time, slowest first, or by weight count,
     * largest first (a stable insertion: ties keep layer order); given layers ahead of all,
     * after each is checked (a weighted layer of this network, listed once) */
    if (dc->layer_order == SCALPEL_ORDER_GIVEN)
        for (o = 0; o < dc->n_order_given; o++) {
            i = dc->order_given[o];
            if (i < 0 || i >= tr->arch.n_layers || !scalpel__train_weighted(tr->arch.layers[i].geom.kind))
                return SCALPEL_ERR_ARGUMENT;
            for (j = 0; j < o; j++) if (dc->order_given[j] == i) return SCALPEL_ERR_ARGUMENT;
        }
    st = scalpel_trainer_export(tr, &cur);
    for (i = 0; i < tr->arch.n_layers && st == SCALPEL_OK; i++) {
        int32_t kind = tr->arch.layers[i].geom.kind;
        if (!scalpel__train_weighted(kind)) continue;
        if (only_kind != 0 && kind != only_kind) { res->skipped[i] = 1; continue; }
        if (dc->layer_order != SCALPEL_ORDER_TIME)
            key[i] = (double)tr->arch.layers[i].geom.rows * (double)tr->arch.layers[i].geom.cols;
        else
            st = scalpel__drv_time_layer(&cur, i, batch, &key[i]);
        if (dc->layer_order == SCALPEL_ORDER_GIVEN)
            for (o = 0; o < dc->n_order_given; o++)
                if (dc->order_given[o] == i) key[i] = 1e30 * (double)(dc->n_order_given - o); /* above any count */
        for (j = n_order; j > 0 && key[res->order[j - 1]] < key[i]; j--) res->order[j] = res->order[j - 1];
        res->order[j] = i;
        n_order++;
    }
    scalpel_net_free(&cur);
    if (st != SCALPEL_OK) return st;
    /* layers that cannot get faster at any rate of the ladder, or frozen ones, are skipped
     * before any stage (and take no share of the tolerance) */
    for (o = 0, to_prune = 0; o < n_order; o++) {
        const scalpel_layer *L = &tr->arch.layers[res->order[o]];
        float be = scalpel__drv_breakeven(hw, L, batch);
        if (scalpel__drv_layer_max(dc, res->order[o]) <= be || dc->frozen[res->order[o]]) res->skipped[res->order[o]] = 1;
        else to_prune++;
    }
    mb = (uint8_t *)SCALPEL_MALLOC(tr->alloc_ctx, scalpel__drv_max_weights(&tr->arch));
    if (!mb) return SCALPEL_ERR_NO_MEMORY;
    layer_dc = *dc;
    now = res->dense_accuracy;
    for (o = 0; o < n_order && st == SCALPEL_OK; o++) {
        const scalpel_layer *L;
        scalpel_train_layer *T;
        float be, achieved;
        void *layer_snap = NULL;
        size_t layer_n = 0, wn;
        i = res->order[o];
        L = &tr->arch.layers[i];
        T = &tr->layers[i];
        wn = (size_t)L->geom.rows * (size_t)L->geom.cols;
        be = scalpel__drv_breakeven(hw, L, batch);
        if (res->skipped[i]) continue;
        layer_dc.rate_max = scalpel__drv_layer_max(dc, i);
        if (dc->tolerance_shares)
            layer_dc.tolerance = scalpel__drv_share(dc->tolerance, (double)res->dense_accuracy - (double)now, to_prune);
        to_prune--;
        res->accuracy = now;
        st = scalpel_trainer_checkpoint_to_buffer(tr, &layer_snap, &layer_n);
        if (st == SCALPEL_OK) st = scalpel__drv_ladder(tr, train, test, &layer_dc, res, i, hw->group, "simd", mb);
        achieved = 1.0f - (float)((double)scalpel__drv_kept(T->mask, wn) / (double)wn);
        if (st == SCALPEL_OK && !(achieved > be)) {
            /* cannot get faster than dense: restore the layer as it was before its stages */
            st = scalpel_trainer_checkpoint_from_buffer(tr, layer_snap, layer_n);
            res->skipped[i] = 1;
        } else if (st == SCALPEL_OK) {
            now = res->accuracy; /* the accuracy of the layer's last stage within its tolerance */
            res->layer_accuracy[i] = now;
            done[i] = 1;
            if (dc->remove_dead && !has_nodes) {
                /* its dead nodes go while the next weighted layer is not group-pruned yet */
                for (j = i + 1; j < tr->arch.n_layers && !scalpel__train_weighted(tr->arch.layers[j].geom.kind); j++) {}
                if (j < tr->arch.n_layers && !done[j]) st = scalpel__drv_remove_dead(tr, i);
            }
        }
        if (layer_snap) SCALPEL_FREE(tr->alloc_ctx, layer_snap);
    }
    SCALPEL_FREE(tr->alloc_ctx, mb);
    for (o = 0, any_pruned = 0; o < n_order; o++) any_pruned |= !res->skipped[res->order[o]];
    if (st == SCALPEL_OK && any_pruned) st = scalpel__drv_finetune(tr, train, test, dc, &res->accuracy);
    else if (st == SCALPEL_OK) st = scalpel_trainer_evaluate_dataset(tr, test, &res->accuracy);
    if (st == SCALPEL_OK) {
        /* rates against the dense counts the driver started from (remove_dead shrinks shapes:
         * a removed node's weights count as pruned) */
        double kept = 0.0, total = 0.0;
        scalpel__drv_rates(tr, res);
        for (i = 0; i < tr->arch.n_layers; i++) {
            const scalpel_layer *L = &tr->arch.layers[i];
            double k;
            if (!scalpel__train_weighted(L->geom.kind) || !(cells0[i] > 0.0)) continue;
            k = (1.0 - (double)res->layer_rate[i]) * (double)L->geom.rows * (double)L->geom.cols;
            res->layer_rate[i] = (float)(1.0 - k / cells0[i]);
            res->nodes_after[i] = L->geom.rows;
            kept += k;
            total += cells0[i];
        }
        if (dc->remove_dead && total > 0.0) res->rate = (float)(1.0 - kept / total);
    }
    return st;
}

SCALPEL_API scalpel_status scalpel_prune_nodes(scalpel_trainer *tr, const scalpel_dataset *train,
                                               const scalpel_dataset *test, const scalpel_driver_config *dc,
                                               scalpel_prune_result *res, scalpel_net *out)
{
    scalpel_driver_config def;
    scalpel_status st;
    scalpel_net small;
    int32_t s, i, any = 0, misses = 0;
    double lambda;
    void *good = NULL;
    size_t good_n = 0;
    if (out) memset(out, 0, sizeof(*out));
    if (!out) { if (res) memset(res, 0, sizeof(*res)); return SCALPEL_ERR_NULL; }
    st = scalpel__drv_begin(tr, train, test, &dc, &def, res);
    if (st != SCALPEL_OK) return st;
    for (i = 0; i < tr->arch.n_layers; i++) if (tr->layers[i].node_a) any = 1;
    if (!any) return SCALPEL_ERR_ARGUMENT;
    lambda = dc->lambda_start;
    st = scalpel_trainer_checkpoint_to_buffer(tr, &good, &good_n);
    for (s = 0; s < dc->max_stages && st == SCALPEL_OK; s++, lambda *= dc->lambda_factor) {
        float acc = 0.0f;
        int empty = 0;
        /* at most the configuration's bound (a pull that switches every mask off at any lr
         * >= 1e-6), so that the trainer stays one the checkpoint reader takes back */
        tr->config.mask_lambda = lambda < (double)SCALPEL_TRAIN_MASK_LAMBDA_MAX ? (float)lambda : SCALPEL_TRAIN_MASK_LAMBDA_MAX;
        for (i = 0; i < tr->arch.n_layers; i++) {
            scalpel_train_layer *T = &tr->layers[i];
            if (T->mask_owner >= 0 && tr->arch.layers[i].geom.kind == SCALPEL_LAYER_FC) {
                const scalpel_train_layer *O = &tr->layers[T->mask_owner];
                int32_t r, kept = 0, n0 = tr->arch.layers[T->mask_owner].geom.rows;
                for (r = 0; r < n0; r++) kept += O->node_a[r] != 0.0f;
                T->dropout = scalpel_dropout_nodes(tr->config.dropout[i], kept, n0);
            }
        }
        tr->stage++;
        res->stages++;
        st = scalpel__drv_retrain(tr, train, test, "nodes", dc, &acc);
        for (i = 0; i < tr->arch.n_layers && st == SCALPEL_OK; i++)
            if (tr->layers[i].node_a) {
                int32_t r, kept = 0;
                for (r = 0; r < tr->arch.layers[i].geom.rows; r++) kept += tr->layers[i].node_a[r] != 0.0f;
                if (kept == 0) empty = 1;
            }
        if (st != SCALPEL_OK) break;
        /* a layer with no node left ends the stages at once; a miss (past tolerance) only
         * after patience + 1 in a row; either way back to the last good stage */
        if (empty) { misses = 1; break; }
        if (scalpel__drv_judge(tr, dc, acc, res, &misses, &good, &good_n, &st)) break;
    }
    scalpel__drv_back_to_good(tr, misses, good, good_n, &st);
    if (st != SCALPEL_OK) return st;
    tr->config.mask_lambda = 0.0f;
    st = scalpel_trainer_remove_nodes(tr, dc->round_to, &small);
    if (st != SCALPEL_OK) return st;
    for (i = 0; i < small.n_layers; i++) {
        const scalpel_layer *L0 = &tr->arch.layers[i], *L1 = &small.layers[i];
        if (!scalpel__train_weighted(L0->geom.kind)) continue;
        res->nodes_after[i] = L1->geom.rows;
        res->layer_rate[i] = (float)(1.0 - ((double)L1->geom.rows * L1->geom.cols) / ((double)L0->geom.rows * L0->geom.cols));
    }
    {
        double kept = 0.0, total = 0.0;
        for (i = 0; i < small.n_layers; i++)
            if (scalpel__train_weighted(small.layers[i].geom.kind)) {
                kept += (double)small.layers[i].geom.rows * small.layers[i].geom.cols;
                total += (double)tr->arch.layers[i].geom.rows * tr->arch.layers[i].geom.cols;
            }
        res->rate = total > 0.0 ? (float)(1.0 - kept / total) : 0.0f;
    }
    if (dc->epochs_final > 0) {
        scalpel_train_config cfg = tr->config;
        scalpel_trainer t2;
        cfg.node_masks = SCALPEL_TRAIN_MASK_NONE;
        cfg.mask_lambda = 0.0f;
        for (i = 0; i < SCALPEL_NET_MAX_LAYERS; i++) cfg.dropout[i] = i < tr->arch.n_layers ? tr->layers[i].dropout : 0.0f;
        st = scalpel_trainer_init(&small, tr->batch_max, &cfg, &t2);
        if (st == SCALPEL_OK) {
            /* undone when it ends below the removed network as it came out of the stages
             * (removal is exact: the last accepted stage's accuracy), so that a pipeline that
             * goes on (scalpel_prune_for) starts from what the judge saw */
            t2.rng = tr->rng;
            t2.epoch = tr->epoch;
            st = scalpel__drv_closing(&t2, train, test, dc, "retrain", 0, &res->accuracy);
            if (st == SCALPEL_OK) st = scalpel_trainer_export(&t2, out);
            scalpel_trainer_free(&t2);
        }
        scalpel_net_free(&small);
    } else {
        *out = small;
        st = scalpel_trainer_evaluate_dataset(tr, test, &res->accuracy);
        if (st != SCALPEL_OK) scalpel_net_free(out);
    }
    return st;
}

/* Per-layer rates of net against the dense shapes of ref: 1 - nonzero weights / dense count. */
static void scalpel__drv_net_rates(const scalpel_net *net, const scalpel_net *ref, scalpel_prune_result *res)
{
    double kept = 0.0, total = 0.0;
    int32_t i;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        size_t wn = (size_t)L->geom.rows * (size_t)L->geom.cols, k, nz = 0;
        double dense = (double)ref->layers[i].geom.rows * (double)ref->layers[i].geom.cols;
        res->layer_rate[i] = 0.0f;
        if (!scalpel__train_weighted(L->geom.kind) || L->storage != SCALPEL_STORAGE_DENSE) continue;
        for (k = 0; k < wn; k++) nz += L->w[k] != 0.0f;
        res->layer_rate[i] = (float)(1.0 - (double)nz / dense);
        kept += (double)nz;
        total += dense;
    }
    res->rate = total > 0.0 ? (float)(1.0 - kept / total) : 0.0f;
}

SCALPEL_API scalpel_status scalpel_prune_for(const scalpel_net *net, const scalpel_hw_profile *hw,
                                             const scalpel_dataset *train, const scalpel_dataset *test,
                                             const scalpel_driver_config *dc, scalpel_prune_result *res,
                                             scalpel_net *out_net)
{
    scalpel_driver_config def, dc2;
    scalpel_train_config cfg;
    scalpel_trainer tr;
    scalpel_prune_result r1;
    scalpel_net mid;
    scalpel_plan plan;
    scalpel_status st;
    int32_t i, has_conv_mask = 0;
    if (res) memset(res, 0, sizeof(*res));
    if (out_net) memset(out_net, 0, sizeof(*out_net));
    if (!net || !hw || !train || !test || !res || !out_net) return SCALPEL_ERR_NULL;
    if (hw->hw_class != SCALPEL_HW_LOW && hw->hw_class != SCALPEL_HW_MODERATE && hw->hw_class != SCALPEL_HW_HIGH)
        return SCALPEL_ERR_ARGUMENT;
    if (!dc) { scalpel_driver_config_default(&def); dc = &def; }
    st = scalpel__drv_check(dc);
    if (st != SCALPEL_OK) return st;
    cfg = dc->train;
    memset(&mid, 0, sizeof(mid));
    if (hw->hw_class == SCALPEL_HW_LOW) {
        cfg.node_masks = SCALPEL_TRAIN_MASK_NONE;
        st = scalpel_trainer_init(net, dc->batch, &cfg, &tr);
        if (st != SCALPEL_OK) return st;
        st = scalpel_prune_simd(&tr, train, test, hw, 0, dc, res);
        if (st == SCALPEL_OK) st = scalpel_trainer_export(&tr, out_net);
        scalpel_trainer_free(&tr);
    } else if (hw->hw_class == SCALPEL_HW_HIGH) {
        cfg.node_masks = SCALPEL_TRAIN_MASK_ALL;
        st = scalpel_trainer_init(net, dc->batch, &cfg, &tr);
        if (st != SCALPEL_OK) return st;
        st = scalpel_prune_nodes(&tr, train, test, dc, res, out_net);
        scalpel_trainer_free(&tr);
    } else {
        /* node-prune the conv layers (when a conv layer feeds another weighted layer) */
        cfg.node_masks = SCALPEL_TRAIN_MASK_CONV;
        st = scalpel_trainer_init(net, dc->batch, &cfg, &tr);
        if (st != SCALPEL_OK) return st;
        for (i = 0; i < tr.arch.n_layers; i++) if (tr.layers[i].node_a) has_conv_mask = 1;
        memset(&r1, 0, sizeof(r1));
        if (has_conv_mask) st = scalpel_prune_nodes(&tr, train, test, dc, &r1, &mid);
        else st = scalpel_trainer_export(&tr, &mid);
        scalpel_trainer_free(&tr);
        /* then, conv frozen, SIMD-aware pruning of the fc layers */
        if (st == SCALPEL_OK) {
            cfg.node_masks = SCALPEL_TRAIN_MASK_NONE;
            st = scalpel_trainer_init(&mid, dc->batch, &cfg, &tr);
            if (st == SCALPEL_OK) {
                dc2 = *dc;
                for (i = 0; i < mid.n_layers; i++) if (mid.layers[i].geom.kind == SCALPEL_LAYER_CONV2D) dc2.frozen[i] = 1;
                if (has_conv_mask && dc->fc_epochs_per_stage > 0) dc2.epochs_per_stage = dc->fc_epochs_per_stage;
                /* the fc stages get what is left of the budget against the original dense
                 * accuracy (more when node pruning gained accuracy), so the whole pipeline
                 * stays within tolerance of dense, not of its intermediate network */
                if (has_conv_mask) {
                    double left = (double)dc->tolerance - ((double)r1.dense_accuracy - (double)r1.accuracy);
                    dc2.tolerance = left < 0.0 ? 0.0f : left > 1.0 ? 1.0f : (float)left;
                }
                st = scalpel_prune_simd(&tr, train, test, hw, SCALPEL_LAYER_FC, &dc2, res);
                if (st == SCALPEL_OK) st = scalpel_trainer_export(&tr, out_net);
                scalpel_trainer_free(&tr);
            }
        }
        scalpel_net_free(&mid);
        if (st == SCALPEL_OK && has_conv_mask) {
            res->dense_accuracy = r1.dense_accuracy;
            res->stages += r1.stages;
            /* nodes before node pruning; after: what the fc stages (remove_dead) left */
            for (i = 0; i < SCALPEL_NET_MAX_LAYERS; i++) res->nodes_before[i] = r1.nodes_before[i];
        }
    }
    if (st == SCALPEL_OK) {
        scalpel__drv_net_rates(out_net, net, res);
        st = scalpel_plan_net(out_net, hw, SCALPEL_PLAN_SCALPEL, &plan);
        if (st == SCALPEL_OK) st = scalpel_net_pack(out_net, &plan);
    }
    if (st != SCALPEL_OK) scalpel_net_free(out_net);
    return st;
}

#ifdef __cplusplus
}
#endif

#endif /* SCALPEL_NO_MALLOC */

#endif /* SCALPEL_TRAIN_IMPLEMENTATION */

/*
 * LICENCE: MIT. Copyright (c) 2026 the Scalpel authors. See the end of scalpel_format.h.
 */
