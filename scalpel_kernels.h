/* scalpel_kernels.h - dense, grouped-sparse, N:M, TASD-series and hybrid fp32 kernels, the
 * fixed-point (q15, q7) dense and grouped kernels for microcontrollers, im2col / im2row for
 * convolutions, and the networks' bias, ReLU and max-pooling passes (fp32, q15, q7).
 *
 * Part of Scalpel (see scalpel_format.h for the version). Depends on scalpel_format.h.
 *
 * USAGE
 *   #define SCALPEL_IMPLEMENTATION        // in one C file: every module, or just
 *   #include "scalpel.h"                  // SCALPEL_KERNELS_IMPLEMENTATION for this one
 *
 *     float y[300];
 *     scalpel_gemv_f32(w, 300, 784, x, y);          // y = W . x, W dense [300 x 784]
 *     scalpel_gcsr m;
 *     scalpel_gcsr_from_dense(w, 300, 784, 8, &m);  // groups of 8 along the input axis
 *     scalpel_gcsr_spmv_f32(&m, x, y);              // same y, skipping pruned groups
 *     scalpel_gcsr_free(&m);
 *
 * BACKENDS (chosen at compile time from the target; scalpel_kernels_backend() names the one
 * compiled in)
 *   "x86-avx512"  -mavx512f: 16-lane fp32 through SIMDe (native AVX-512 instructions)
 *   "x86-avx2"    -mavx2 -mfma: 8 lanes through SIMDe
 *   "x86-sse2"    any x86-64: 4 lanes through SIMDe
 *   "arm-neon"    AArch64 / ARMv7 with NEON: 4 lanes through SIMDe (its NEON mapping)
 *   "arm-mve"     Cortex-M55/M85 with Helium fp (-mcpu=cortex-m55): <arm_mve.h>, 4 lanes with
 *                 tail predication; no SIMDe (it has no Helium mapping)
 *   "cortex-m-dsp" Cortex-M4/M7/M33 (the DSP extension, no Helium fp): fp32 in plain C (SIMDe's
 *                 scalar fallback costs about twice the instructions of a plain loop there);
 *                 q15 / q7 through <arm_acle.h> (SMLALD, SXTB16 + SMLAD)
 *   "scalar"      everything else (Cortex-M0/M3, any build with SCALPEL_NO_SIMD): plain C
 *   The SIMDe backends need Debian's libsimde-dev (or SIMDe's headers on the include path).
 *
 *   The grouped sparse kernel is fastest when G equals the vector width (16, 8 or 4 above): one
 *   index load, one vector load of x and one of the weights, one fused multiply-add per group.
 *   Every G in {1, 2, 4, 8, 16} is correct on every backend: G = 4, 8, 16 use 4-, 8- and
 *   16-lane vectors (native registers where the target has them, else arrays of the widest
 *   native ones); G = 1 (plain CSR) uses AVX2 gathers where the target has them, and unrolled
 *   plain C elsewhere, as G = 2 does everywhere.
 *
 *   N:M matrix-vector (scalpel_nm_spmv_f32): on AVX-512 (AVX2) a vector step of 16 (8) kept
 *   values picks its x values out of contiguous loads with permutes when the step spans at most
 *   128 (16) columns (2:4, 4:8, 8:16, 1:4 ...), and gathers them otherwise (1:8, 2:16, 1:16);
 *   plain C elsewhere. N:M matrix-matrix, TASD series (one pass per term, accumulating) and the
 *   hybrid (grouped pass, then the CSR residual added) reuse the grouped kernels' schemes.
 *
 *   Fixed point (q15, q7) has its own rungs, the same on every target's outputs: plain C on
 *   hosts (exact integer sums, nothing to gain from fp32 SIMD); on Cortex-M with the DSP
 *   extension, q15 pairs through SMLALD (two MACs into int64, x and w pairs each one unaligned
 *   32-bit load) and q7 quads through SXTB16 (bytes 0, 2 and, rotated, 1, 3) + two SMLADs
 *   (int32); on Helium (M55, M85) dense products through VMLALDAVA.S16 (8 lanes) and
 *   VMLADAVA.S8 (16 lanes) with a tail predicate, grouped ones with G >= 8 through one vector
 *   load per group (q7 G = 8 via widening byte loads) and smaller G through the DSP rung.
 *   Dense matrix-vector does two rows per pass (each x load feeds both), matrix-matrix two
 *   input vectors per pass (each weight load feeds both). Grouped: q15 G = 2 and q7 G = 4 fill
 *   one DSP step exactly (one index, one weight and one x load per group).
 *
 *   Bias + ReLU, ReLU and max pooling (the networks' passes between matrix products): fp32 by
 *   vectors of the target's width (SIMDe, Helium), 2x2 / stride-2 pooling by SIMDe shuffles
 *   (SSE, AVX2); q15 / q7 ReLU by Helium vectors, q15 2x2 pooling by DSP SSUB16 + SEL; plain C
 *   elsewhere. Exact: the same outputs as their `_ref` oracles (see scalpel_maxpool_f32 for
 *   the one exception, NaN and signed-zero ties in 2x2 windows).
 *
 * CONFIGURATION
 *   SCALPEL_NO_SIMD   plain C kernels only (define everywhere the implementation is compiled)
 *
 * ACCURACY
 *   Fixed point: every kernel's outputs equal its `_ref` oracle's bit for bit, on every target.
 *   fp32: each fast kernel computes the same sums as its plain C `_ref` oracle, in a different order
 *   and with fused multiply-adds, so results are not bit-identical. For an output that is a sum
 *   of n products, |fast - ref| <= 2 * n * FLT_EPSILON * sum |w_i * x_i| (the classic bound
 *   for recursive summation, applied to both), which the tests check on every backend.
 *
 * DOES NOT
 *   allocate, keep state, check arguments (kernels trust them: validate sparse matrices built
 *   from outside with scalpel_gcsr_validate once), or use threads.
 *
 * MEMORY
 *   Inputs and outputs need no particular alignment. Outputs must not overlap inputs, except
 *   where a kernel says y may equal x (the ReLU kernels; scalpel_bias_relu_f32 works in place).
 */
#include "scalpel_format.h"

#ifndef SCALPEL_KERNELS_H
#define SCALPEL_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/* y[rows] = W[rows x cols] . x[cols] */
SCALPEL_API void scalpel_gemv_f32(const float *w, int32_t rows, int32_t cols, const float *x, float *y);
SCALPEL_API void scalpel_gemv_f32_ref(const float *w, int32_t rows, int32_t cols, const float *x, float *y);

/* C[m x n] = A[m x k] . B[k x n] (row-major, C overwritten) */
SCALPEL_API void scalpel_gemm_f32(const float *a, int32_t m, int32_t k, const float *b, int32_t n, float *c);
SCALPEL_API void scalpel_gemm_f32_ref(const float *a, int32_t m, int32_t k, const float *b, int32_t n, float *c);
/* The same with B and C inside larger arrays: row p of B starts ldb floats after row p - 1,
 * row i of C ldc after row i - 1 (ldb, ldc >= n). A convolution multiplies a block of its
 * im2col matrix this way, straight into its output map. */
SCALPEL_API void scalpel_gemm_f32_ld(const float *a, int32_t m, int32_t k, const float *b, size_t ldb, int32_t n, float *c,
                                     size_t ldc);

/* y[rows] = W[rows x cols] . x[cols], W grouped-CSR (dtype F32) */
SCALPEL_API void scalpel_gcsr_spmv_f32(const scalpel_gcsr *w, const float *x, float *y);
SCALPEL_API void scalpel_gcsr_spmv_f32_ref(const scalpel_gcsr *w, const float *x, float *y);

/* C[rows x n] = W[rows x cols] . B[cols x n], W grouped-CSR (dtype F32), B and C row-major */
SCALPEL_API void scalpel_gcsr_spmm_f32(const scalpel_gcsr *w, const float *b, int32_t n, float *c);
SCALPEL_API void scalpel_gcsr_spmm_f32_ref(const scalpel_gcsr *w, const float *b, int32_t n, float *c);

/* y[rows] = W[rows x cols] . x[cols], W N:M (scalpel_nm) */
SCALPEL_API void scalpel_nm_spmv_f32(const scalpel_nm *w, const float *x, float *y);
SCALPEL_API void scalpel_nm_spmv_f32_ref(const scalpel_nm *w, const float *x, float *y);
/* y[rows] += W[rows x cols] . x[cols], W N:M: the terms of a TASD series accumulate this way */
SCALPEL_API void scalpel_nm_spmv_acc_f32(const scalpel_nm *w, const float *x, float *y);

/* C[rows x n] = W[rows x cols] . B[cols x n], W N:M, B and C row-major */
SCALPEL_API void scalpel_nm_spmm_f32(const scalpel_nm *w, const float *b, int32_t n, float *c);
SCALPEL_API void scalpel_nm_spmm_f32_ref(const scalpel_nm *w, const float *b, int32_t n, float *c);
/* C[rows x n] += W[rows x cols] . B[cols x n], W N:M */
SCALPEL_API void scalpel_nm_spmm_acc_f32(const scalpel_nm *w, const float *b, int32_t n, float *c);

/* y[rows] = (T1 + ... + Tn) . x[cols], W a TASD series (n = 0: y = 0) */
SCALPEL_API void scalpel_tasd_spmv_f32(const scalpel_tasd *s, const float *x, float *y);
/* C[rows x n] = (T1 + ... + Tn) . B[cols x n] */
SCALPEL_API void scalpel_tasd_spmm_f32(const scalpel_tasd *s, const float *b, int32_t n, float *c);

/* y[rows] = (grouped + residual) . x[cols], W the exact hybrid (scalpel_hybrid) */
SCALPEL_API void scalpel_hybrid_spmv_f32(const scalpel_hybrid *w, const float *x, float *y);
SCALPEL_API void scalpel_hybrid_spmv_f32_ref(const scalpel_hybrid *w, const float *x, float *y);
/* C[rows x n] = (grouped + residual) . B[cols x n] */
SCALPEL_API void scalpel_hybrid_spmm_f32(const scalpel_hybrid *w, const float *b, int32_t n, float *c);
SCALPEL_API void scalpel_hybrid_spmm_f32_ref(const scalpel_hybrid *w, const float *b, int32_t n, float *c);

/* ---- bias, ReLU and max pooling (fp32): the network's elementwise passes --------------------
 * Exact operations (one add, a compare), so the fast kernels equal their `_ref` oracles bit for
 * bit, NaN included (ReLU turns a NaN into 0, as x86 MAXPS(x, 0) and Helium VMAXNM do), except
 * for max pooling with 2x2 windows at stride 2 (see scalpel_maxpool_f32). y may equal x where
 * noted; otherwise outputs must not overlap inputs. */

/* y[rows x n] += b[rows] broadcast over n; then max(., 0) when relu (NaN -> 0). n == 1 (a fully
 * connected layer at batch 1) runs over the rows, n > 1 (a convolution's feature maps, row r =
 * output channel r) over the positions of each row. */
SCALPEL_API void scalpel_bias_relu_f32(float *y, const float *b, int32_t rows, int32_t n, int relu);
SCALPEL_API void scalpel_bias_relu_f32_ref(float *y, const float *b, int32_t rows, int32_t n, int relu);

/* y[n] = max(x[n], 0), NaN -> 0 and -0 -> +0 (y may equal x) */
SCALPEL_API void scalpel_relu_f32(const float *x, size_t n, float *y);
SCALPEL_API void scalpel_relu_f32_ref(const float *x, size_t n, float *y);

/* y[c x oh x ow] = max over each kernel x kernel window of x[c x h x w], windows stride apart,
 * no padding, oh = (h - kernel) / stride + 1 and ow likewise (rounded down: windows never leave
 * the input; nothing is written when h or w < kernel). The oracle keeps the first largest value
 * of a window in row-major order (a NaN there is skipped unless it comes first). 2x2 windows at
 * stride 2 (LeNet's pooling) take a row kernel that takes vertical maxima first, four or eight
 * outputs per step on SIMDe targets: for numbers its result is the window's max as the oracle's,
 * except that a window holding both -0 and +0 as its max may give the other zero; with a NaN in
 * a window it may give the NaN or the max of the others. */
SCALPEL_API void scalpel_maxpool_f32(const float *x, int32_t c, int32_t h, int32_t w, int32_t kernel, int32_t stride,
                                     float *y);
SCALPEL_API void scalpel_maxpool_f32_ref(const float *x, int32_t c, int32_t h, int32_t w, int32_t kernel,
                                         int32_t stride, float *y);

/* ---- general convolution windows (fp32): im2col blocks, depthwise ----------------------------
 * scalpel_conv_window is the window of a convolution as these kernels take it: kernel kh x kw,
 * strides sh / sw, the top and left padding pt / pl (the bottom and right padding follow from
 * the output size oh x ow the caller passes), dilations dh / dw. */
typedef struct scalpel_conv_window {
    int32_t kh, kw, sh, sw, pt, pl, dh, dw;
} scalpel_conv_window;

/* col[(ch*kh + i)*kw + j][q - p0] = x[c0 + ch][oy*sh + i*dh - pt][ox*sw + j*dw - pl] (0 outside
 * x) for the output positions q = oy*ow + ox in [p0, p0 + np) and the channels [c0, c0 + cn)
 * of x [. x h x w]; rows of col ld floats apart (ld >= np). The im2col matrix of any window, or
 * a block of its columns (a convolution multiplies it block by block). */
SCALPEL_API void scalpel_im2col_window_f32(const float *x, int32_t h, int32_t w, int32_t c0, int32_t cn,
                                           const scalpel_conv_window *win, int32_t oh, int32_t ow, int32_t p0, int32_t np,
                                           float *col, size_t ld);

/* A depthwise convolution (each input channel convolved with its own filters, `mult` output
 * channels per input channel: MobileNet's and DS-CNN's 3x3 layers), direct, without im2col.
 * Floats of scratch scalpel_dwconv_f32 needs for one input channel (the channel zero-padded
 * and split into sw column phases, so that every tap reads contiguous columns). */
SCALPEL_API size_t scalpel_dwconv_f32_scratch(const scalpel_conv_window *win, int32_t oh, int32_t ow);
/* y[o][oy][ox] = sum over i < kh, j < kw of wt[o][i][j] * x[o / mult][oy*sh + i*dh - pt]
 * [ox*sw + j*dw - pl] (zero outside x), for o < c * mult, oy < oh, ox < ow; no bias. x is
 * [c x h x w], wt [c*mult x kh x kw], y [c*mult x oh x ow]. Sums in float, the taps in row-major
 * order (the _ref in double). */
SCALPEL_API void scalpel_dwconv_f32(const float *x, int32_t c, int32_t h, int32_t w, int32_t mult, const float *wt,
                                    const scalpel_conv_window *win, int32_t oh, int32_t ow, float *scratch, float *y);
SCALPEL_API void scalpel_dwconv_f32_ref(const float *x, int32_t c, int32_t h, int32_t w, int32_t mult, const float *wt,
                                        const scalpel_conv_window *win, int32_t oh, int32_t ow, float *y);

/* Pooling over any window (dilation 1), one sample: x [c x h x w] -> y [c x oh x ow], the
 * window of output (oy, ox) starting at (oy*sh - pt, ox*sw - pl), kh x kw cells:
 *   SCALPEL_POOL_OP_MAX       the largest of its cells inside x (padding never wins);
 *   SCALPEL_POOL_OP_AVG       the mean of its cells inside x (TF "same", ONNX's default);
 *   SCALPEL_POOL_OP_AVG_PADS  their sum over its cells inside the padded input, rows
 *                             [-pt, h + pb) and columns [-pl, w + pr) (PyTorch, Caffe);
 *   SCALPEL_POOL_OP_SUM       their sum (LRN within a channel sums squares with it).
 * Every window must hold a cell of x. Means multiply the sum by 1 / count. y may be x when
 * oh*ow <= h*w (each channel is copied out before its outputs are written). NaN: which lane
 * wins a max with a NaN is the target's. */
#define SCALPEL_POOL_OP_MAX 0
#define SCALPEL_POOL_OP_AVG 1
#define SCALPEL_POOL_OP_AVG_PADS 2
#define SCALPEL_POOL_OP_SUM 3
SCALPEL_API size_t scalpel_pool_window_f32_scratch(const scalpel_conv_window *win, int32_t oh, int32_t ow);
SCALPEL_API void scalpel_pool_window_f32(const float *x, int32_t c, int32_t h, int32_t w, const scalpel_conv_window *win,
                                         int32_t pb, int32_t pr, int32_t op, int32_t oh, int32_t ow, float *scratch, float *y);
SCALPEL_API void scalpel_pool_window_f32_ref(const float *x, int32_t c, int32_t h, int32_t w, const scalpel_conv_window *win,
                                             int32_t pb, int32_t pr, int32_t op, int32_t oh, int32_t ow, float *y);

/* Elementwise kernels of the layer kinds, over n floats (y may be x):
 *   scalpel_affine_f32      y = x * a + b (batch norm, one channel's plane)
 *   scalpel_add_f32         y = x + x2, then min(max(., lo), hi) when clip (a ReLU after a
 *                           residual add: lo = 0, hi = +inf; relu6: 0, 6)
 *   scalpel_clip_f32        y = min(max(x, lo), hi)
 *   scalpel_leaky_relu_f32  y = max(x, 0) + slope * min(x, 0)
 *   scalpel_hardswish_f32   y = x * min(max(x + 3, 0), 6) / 6
 * A NaN becomes lo in a clip and 0 in a leaky ReLU, in every lane and in the plain C tail
 * alike (a max or min with a NaN gives its other operand). */
SCALPEL_API void scalpel_affine_f32(const float *x, size_t n, float a, float b, float *y);
SCALPEL_API void scalpel_add_f32(const float *x, const float *x2, size_t n, int clip, float lo, float hi, float *y);
SCALPEL_API void scalpel_clip_f32(const float *x, size_t n, float lo, float hi, float *y);
SCALPEL_API void scalpel_leaky_relu_f32(const float *x, size_t n, float slope, float *y);
SCALPEL_API void scalpel_hardswish_f32(const float *x, size_t n, float *y);

/* Local response normalization (AlexNet, Caffe's ConvNet), across channels, one sample:
 * y[c][p] = x[c][p] / (k + alpha / size * sum over the `size` channels q around c (those that
 * exist) of x[q][p]^2)^beta, for c < C, p < plane. Sums in float, q ascending. beta 0.75 (the
 * default of Caffe and PyTorch), 0.5 and 1 take square roots and a division in vectors; other
 * betas exp(beta * log(.)) in double per element. y must not overlap x. */
SCALPEL_API void scalpel_lrn_across_f32(const float *x, int32_t C, size_t plane, int32_t size, float alpha, float beta,
                                        float k, float *y);
/* The scaling alone, for sums s computed elsewhere (LRN within a channel): y[i] = x[i] /
 * (k + a * s[i])^beta, i < n; s may be y. */
SCALPEL_API void scalpel_lrn_scale_f32(const float *x, const float *s, size_t n, float k, float a, float beta, float *y);
SCALPEL_API void scalpel_lrn_across_f32_ref(const float *x, int32_t C, size_t plane, int32_t size, float alpha, float beta,
                                            float k, float *y);

/* ---- fixed point (q15, q7): the microcontroller kernels --------------------------------------
 *
 * Values are symmetric fixed point, real = q * scale: q15 is int16_t, q7 is int8_t. A layer
 * y = W . x + b with weight scale s_w (per layer or per output row), input scale s_x and output
 * scale s_y runs entirely in integers:
 *
 *   acc[r] = bias[r] + sum_k W[r][k] * x[k]         exact: int64 (q15), int32 widened (q7)
 *   y[r]   = clamp(floor((acc[r] * mult + 2^(shift-1)) / 2^shift), lo, 32767 or 127)
 *
 * with mult * 2^-shift ~ s_w * s_x / s_y (scalpel_requant_from_real), bias[r] = b[r] / (s_w s_x)
 * rounded, lo = 0 when `relu` (a following ReLU fused into the same pass) else -32768 / -128.
 * Because every sum is an exact integer, all paths (plain C, Cortex-M DSP, Helium, x86) give
 * the same outputs bit for bit, on every target. Limits the kernels rely on (the network
 * quantizer and scalpel_requant_check guarantee them): cols <= 65536, |bias| < 2^46,
 * 0 <= mult <= 32768, 0 <= shift <= 62. */
#define SCALPEL_Q15_MAX 32767
#define SCALPEL_Q7_MAX 127
#define SCALPEL_QUANT_MAX_COLS 65536

/* scalpel_requant: how a fixed-point kernel turns its integer accumulators into outputs.
 * `bias` holds one entry per output row (or NULL for none). `mult` and `shift` hold one entry
 * per output row when per_channel is 1, else a single entry for all rows. `relu` = 1 clamps at
 * 0 (the next layer's ReLU fused in). A zeroed struct is not valid: mult and shift are needed. */
typedef struct scalpel_requant {
    const int64_t *bias;   /* [rows] in accumulator units (s_w * s_x), or NULL */
    const int32_t *mult;   /* [rows] or [1]: 0 .. 32768 */
    const int8_t *shift;   /* [rows] or [1]: 0 .. 62 */
    int32_t per_channel;   /* 1: mult and shift per row; 0: one pair for every row */
    int32_t relu;          /* 1: outputs clamped at 0 */
} scalpel_requant;

/* mult * 2^-shift as close to `real` (> 0, < 2^15) as 15-bit multipliers allow (relative error
 * at most 2^-15): mult in [16384, 32768), shift in 0 .. 62 (mult 32768 with shift 0 only for a
 * real that rounds up to 2^15). SCALPEL_ERR_ARGUMENT when real is not finite, <= 0 or >= 32768.
 * A real under 2^-48 keeps shift 62 with a smaller mult = round(real * 2^62), 0 below 2^-63
 * (outputs 0). No libm: the scaling is done by exact doublings. */
SCALPEL_API scalpel_status scalpel_requant_from_real(double real, int32_t *mult, int8_t *shift);
/* Checks a requant for `rows` outputs against the limits above (pointers, ranges). */
SCALPEL_API scalpel_status scalpel_requant_check(const scalpel_requant *rq, int32_t rows);

/* q[n] = clamp(round_half_away(x[n] / scale)) in dtype Q15 (int16_t) or Q7 (int8_t), clamped to
 * the full range [-32768, 32767] / [-128, 127] (infinities saturate); NaN -> 0. The division is
 * single precision and the rounding exact, so every target gives the same integers (no libm).
 * scale > 0 and finite, else SCALPEL_ERR_ARGUMENT; SCALPEL_ERR_DTYPE for another dtype. */
SCALPEL_API scalpel_status scalpel_quantize_f32(const float *x, size_t n, float scale, scalpel_dtype dtype, void *q);
/* x[n] = q[n] * scale (single precision), q of dtype Q15 or Q7, else SCALPEL_ERR_DTYPE. */
SCALPEL_API scalpel_status scalpel_dequantize_f32(const void *q, size_t n, float scale, scalpel_dtype dtype, float *x);

/* y[rows] = requant(W[rows x cols] . x[cols]), W dense row-major */
SCALPEL_API void scalpel_gemv_q15(const int16_t *w, int32_t rows, int32_t cols, const int16_t *x,
                                  const scalpel_requant *rq, int16_t *y);
SCALPEL_API void scalpel_gemv_q15_ref(const int16_t *w, int32_t rows, int32_t cols, const int16_t *x,
                                      const scalpel_requant *rq, int16_t *y);
SCALPEL_API void scalpel_gemv_q7(const int8_t *w, int32_t rows, int32_t cols, const int8_t *x,
                                 const scalpel_requant *rq, int8_t *y);
SCALPEL_API void scalpel_gemv_q7_ref(const int8_t *w, int32_t rows, int32_t cols, const int8_t *x,
                                     const scalpel_requant *rq, int8_t *y);

/* Y[rows x n] = requant(W[rows x cols] . X[n x cols]^T): n matrix-vector products at once.
 * X holds the n input vectors one after another (a batch; the patches scalpel_im2row_* writes),
 * so both operands of every dot product are contiguous; Y[r][j] is output r of vector j (row r
 * is output channel r over all positions: the CHW layout of a convolution's output). */
SCALPEL_API void scalpel_gemm_q15(const int16_t *w, int32_t rows, int32_t cols, const int16_t *x, int32_t n,
                                  const scalpel_requant *rq, int16_t *y);
SCALPEL_API void scalpel_gemm_q15_ref(const int16_t *w, int32_t rows, int32_t cols, const int16_t *x, int32_t n,
                                      const scalpel_requant *rq, int16_t *y);
SCALPEL_API void scalpel_gemm_q7(const int8_t *w, int32_t rows, int32_t cols, const int8_t *x, int32_t n,
                                 const scalpel_requant *rq, int8_t *y);
SCALPEL_API void scalpel_gemm_q7_ref(const int8_t *w, int32_t rows, int32_t cols, const int8_t *x, int32_t n,
                                     const scalpel_requant *rq, int8_t *y);

/* y[rows] = requant(W . x[cols]), W grouped-CSR of dtype Q15 (G = 2 fills one SMLAD) or Q7
 * (G = 4 fills one SXTB16 + SMLAD pair) */
SCALPEL_API void scalpel_gcsr_spmv_q15(const scalpel_gcsr *w, const int16_t *x, const scalpel_requant *rq, int16_t *y);
SCALPEL_API void scalpel_gcsr_spmv_q15_ref(const scalpel_gcsr *w, const int16_t *x, const scalpel_requant *rq,
                                           int16_t *y);
SCALPEL_API void scalpel_gcsr_spmv_q7(const scalpel_gcsr *w, const int8_t *x, const scalpel_requant *rq, int8_t *y);
SCALPEL_API void scalpel_gcsr_spmv_q7_ref(const scalpel_gcsr *w, const int8_t *x, const scalpel_requant *rq,
                                          int8_t *y);

/* Y[rows x n] = requant(W . X[n x cols]^T), W grouped-CSR (Q15 / Q7), layouts as scalpel_gemm_q15 */
SCALPEL_API void scalpel_gcsr_spmm_q15(const scalpel_gcsr *w, const int16_t *x, int32_t n, const scalpel_requant *rq,
                                       int16_t *y);
SCALPEL_API void scalpel_gcsr_spmm_q15_ref(const scalpel_gcsr *w, const int16_t *x, int32_t n,
                                           const scalpel_requant *rq, int16_t *y);
SCALPEL_API void scalpel_gcsr_spmm_q7(const scalpel_gcsr *w, const int8_t *x, int32_t n, const scalpel_requant *rq,
                                      int8_t *y);
SCALPEL_API void scalpel_gcsr_spmm_q7_ref(const scalpel_gcsr *w, const int8_t *x, int32_t n,
                                          const scalpel_requant *rq, int8_t *y);

/* rows[(OH*OW) x (C*K*K)] = im2row(in[C x H x W]): row p holds the K x K window of output
 * position p over every channel, in the order (c*K + i)*K + j of a flattened filter, zero
 * outside the input (padding P). The transpose of scalpel_im2col_f32, so that each patch is
 * contiguous for the fixed-point matrix-matrix kernels. Arguments must give OH, OW >= 1. */
SCALPEL_API void scalpel_im2row_q15(const int16_t *in, int32_t channels, int32_t height, int32_t width,
                                    int32_t kernel, int32_t stride, int32_t pad, int16_t *rows);
SCALPEL_API void scalpel_im2row_q7(const int8_t *in, int32_t channels, int32_t height, int32_t width,
                                   int32_t kernel, int32_t stride, int32_t pad, int8_t *rows);

/* Fixed-point ReLU and max pooling: exact, every kernel equal to its `_ref` bit for bit on every
 * target. There is no fixed-point bias + ReLU kernel: the bias and a following ReLU are part of
 * every fixed-point matrix kernel's requant (scalpel_requant: bias, relu). */
/* y[n] = max(x[n], 0) (y may equal x); Helium: 8 / 16 lanes per step, tail-predicated */
SCALPEL_API void scalpel_relu_q15(const int16_t *x, size_t n, int16_t *y);
SCALPEL_API void scalpel_relu_q15_ref(const int16_t *x, size_t n, int16_t *y);
SCALPEL_API void scalpel_relu_q7(const int8_t *x, size_t n, int8_t *y);
SCALPEL_API void scalpel_relu_q7_ref(const int8_t *x, size_t n, int8_t *y);

/* y[c x oh x ow] = max over each kernel x kernel window of x[c x h x w], as scalpel_maxpool_f32
 * (stride apart, no padding, rounded down). 2x2 windows at stride 2 run a row kernel, for q15 on
 * Cortex-M DSP two outputs per step through SSUB16 + SEL. */
SCALPEL_API void scalpel_maxpool_q15(const int16_t *x, int32_t c, int32_t h, int32_t w, int32_t kernel, int32_t stride,
                                     int16_t *y);
SCALPEL_API void scalpel_maxpool_q15_ref(const int16_t *x, int32_t c, int32_t h, int32_t w, int32_t kernel,
                                         int32_t stride, int16_t *y);
SCALPEL_API void scalpel_maxpool_q7(const int8_t *x, int32_t c, int32_t h, int32_t w, int32_t kernel, int32_t stride,
                                    int8_t *y);
SCALPEL_API void scalpel_maxpool_q7_ref(const int8_t *x, int32_t c, int32_t h, int32_t w, int32_t kernel,
                                        int32_t stride, int8_t *y);

/* ---- fixed point (q15, q7): the other operators of the network kinds ----------------------
 * Exact integer arithmetic like the matrix kernels: each kernel's `_ref` computes the same
 * formula the plain way, and every target gives the same outputs bit for bit. Below,
 * rshift(v, s) = floor((v + 2^(s-1)) / 2^s) (v itself for s = 0: rounding half up, as the
 * requant does) and sat() clamps to the type's range, [-32768, 32767] or [-128, 127]. The
 * limits on each kernel's constants are the ones scalpel_qnet_validate enforces. */

/* rows[p - p0][(ch*kh + i)*kw + j] = x[c0 + ch][oy*sh + i*dh - pt][ox*sw + j*dw - pl] (0
 * outside x) for the output positions p = oy*ow + ox in [p0, p0 + np) and the channels
 * [c0, c0 + cn) of x [. x h x w]: the im2row matrix of any window (rectangular, strided,
 * padded per side, dilated) and of one group's channels, or a block of its rows, for the
 * matrix-matrix kernels. */
SCALPEL_API void scalpel_im2row_window_q15(const int16_t *x, int32_t h, int32_t w, int32_t c0, int32_t cn,
                                           const scalpel_conv_window *win, int32_t ow, int32_t p0, int32_t np,
                                           int16_t *rows);
SCALPEL_API void scalpel_im2row_window_q7(const int8_t *x, int32_t h, int32_t w, int32_t c0, int32_t cn,
                                          const scalpel_conv_window *win, int32_t ow, int32_t p0, int32_t np,
                                          int8_t *rows);

/* Depthwise convolution, direct: y[o][oy][ox] = requant_o(sum over i < kh, j < kw of
 * wt[o][i][j] * x[o / mult][oy*sh + i*dh - pt][ox*sw + j*dw - pl]) (0 outside x), with the
 * requant of row o as in the matrix kernels (bias, mult, shift, relu). x [c x h x w], wt
 * [c*mult x kh x kw], y [c*mult x oh x ow]; kh * kw <= 65536. Each input channel is first
 * copied with its zero padding into scratch (scalpel_dwconv_q_scratch elements of the type),
 * so that every output runs the same taps without bounds checks: SMLALD pairs (q15) and
 * SXTB16 + SMLAD quads (q7) on DSP cores, predicated 8-lane reductions on Helium, 3x3 windows
 * unrolled. */
SCALPEL_API size_t scalpel_dwconv_q_scratch(const scalpel_conv_window *win, int32_t oh, int32_t ow);
SCALPEL_API void scalpel_dwconv_q15(const int16_t *x, int32_t c, int32_t h, int32_t w, int32_t mult, const int16_t *wt,
                                    const scalpel_conv_window *win, int32_t oh, int32_t ow, const scalpel_requant *rq,
                                    int16_t *scratch, int16_t *y);
SCALPEL_API void scalpel_dwconv_q15_ref(const int16_t *x, int32_t c, int32_t h, int32_t w, int32_t mult,
                                        const int16_t *wt, const scalpel_conv_window *win, int32_t oh, int32_t ow,
                                        const scalpel_requant *rq, int16_t *y);
SCALPEL_API void scalpel_dwconv_q7(const int8_t *x, int32_t c, int32_t h, int32_t w, int32_t mult, const int8_t *wt,
                                   const scalpel_conv_window *win, int32_t oh, int32_t ow, const scalpel_requant *rq,
                                   int8_t *scratch, int8_t *y);
SCALPEL_API void scalpel_dwconv_q7_ref(const int8_t *x, int32_t c, int32_t h, int32_t w, int32_t mult, const int8_t *wt,
                                       const scalpel_conv_window *win, int32_t oh, int32_t ow, const scalpel_requant *rq,
                                       int8_t *y);

/* Pooling over any window (dilation 1), one sample, the windows of scalpel_pool_window_f32:
 *   SCALPEL_POOL_OP_MAX       the largest of the window's cells inside x;
 *   SCALPEL_POOL_OP_AVG       the sum s of its cells inside x over their count n,
 *   SCALPEL_POOL_OP_AVG_PADS  or over the count of its cells inside the padded input,
 * a mean rounded half away from zero: sign(s) * floor((2|s| + n) / (2n)), in the input's
 * scale. Every window must hold a cell of x; kh * kw <= 65536. y must not overlap x. */
SCALPEL_API void scalpel_pool_window_q15(const int16_t *x, int32_t c, int32_t h, int32_t w, const scalpel_conv_window *win,
                                         int32_t pb, int32_t pr, int32_t op, int32_t oh, int32_t ow, int16_t *y);
SCALPEL_API void scalpel_pool_window_q15_ref(const int16_t *x, int32_t c, int32_t h, int32_t w,
                                             const scalpel_conv_window *win, int32_t pb, int32_t pr, int32_t op,
                                             int32_t oh, int32_t ow, int16_t *y);
SCALPEL_API void scalpel_pool_window_q7(const int8_t *x, int32_t c, int32_t h, int32_t w, const scalpel_conv_window *win,
                                        int32_t pb, int32_t pr, int32_t op, int32_t oh, int32_t ow, int8_t *y);
SCALPEL_API void scalpel_pool_window_q7_ref(const int8_t *x, int32_t c, int32_t h, int32_t w,
                                            const scalpel_conv_window *win, int32_t pb, int32_t pr, int32_t op,
                                            int32_t oh, int32_t ow, int8_t *y);

/* Per-channel scaling (a batch norm that could not be folded into a layer before it):
 * y[ch][p] = requant_ch(wt[ch] * x[ch][p]) for ch < c, p < plane, the requant of row ch as in
 * the matrix kernels (bias, mult, shift, relu). y may be x. */
SCALPEL_API void scalpel_channel_scale_q15(const int16_t *x, int32_t c, size_t plane, const int16_t *wt,
                                           const scalpel_requant *rq, int16_t *y);
SCALPEL_API void scalpel_channel_scale_q15_ref(const int16_t *x, int32_t c, size_t plane, const int16_t *wt,
                                               const scalpel_requant *rq, int16_t *y);
SCALPEL_API void scalpel_channel_scale_q7(const int8_t *x, int32_t c, size_t plane, const int8_t *wt,
                                          const scalpel_requant *rq, int8_t *y);
SCALPEL_API void scalpel_channel_scale_q7_ref(const int8_t *x, int32_t c, size_t plane, const int8_t *wt,
                                              const scalpel_requant *rq, int8_t *y);

/* Elementwise, over n values (y may be x or x2):
 *   scalpel_add_q*          y = sat(rshift(x * ma + x2 * mb, shift)), then max(., 0) when relu:
 *                           two tensors of different scales summed in the output's scale
 *                           (ma, mb in 0 .. 32768, shift 0 .. 62)
 *   scalpel_rescale_q*      y = sat(rshift(x * mult, shift)): a tensor in another scale
 *                           (mult 0 .. 32768, shift 0 .. 62; 16384 and 14 copy it exactly)
 *   scalpel_clip_q*         y = min(max(x, lo), hi), lo <= hi
 *   scalpel_leaky_relu_q*   y = x >= 0 ? x : sat(rshift(x * slope, shift)), the slope's sign
 *                           in `slope` (-32768 .. 32768, shift 0 .. 62)
 *   scalpel_hardswish_q*    y = sat(rshift(x * min(max(x + three, 0), six) * mult, shift)): with
 *                           three and six the reals 3 and 6 in the input's units (0 <= three
 *                           <= six <= 2^30) and mult * 2^-shift = s_x^2 / (6 s_y)
 *   scalpel_sigmoid_q*,     u = sat16(rshift(x * mult, shift)) is the input in units of 2^-11
 *   scalpel_tanh_q*         (Q4.11, [-16, 16)); f(|u|) is linear between the entries of a
 *                           513-entry table of f over [0, 16] in Q15 (step 1/32); the output is
 *                           in Q15 (scale 2^-15: q15) or Q7 (scale 2^-7: q7, rshift(., 8) of
 *                           the Q15 value), saturated: sigmoid(u) = f(u) for u >= 0, 32768 -
 *                           f(-u) below; tanh(-u) = -tanh(u). Error against the exact function
 *                           of the Q4.11 input, all inputs tried: at most 1 (sigmoid) and 4
 *                           (tanh) units of the last place in q15, at most 1 in q7. */
SCALPEL_API void scalpel_add_q15(const int16_t *x, const int16_t *x2, size_t n, int32_t ma, int32_t mb, int32_t shift,
                                 int relu, int16_t *y);
SCALPEL_API void scalpel_add_q15_ref(const int16_t *x, const int16_t *x2, size_t n, int32_t ma, int32_t mb,
                                     int32_t shift, int relu, int16_t *y);
SCALPEL_API void scalpel_add_q7(const int8_t *x, const int8_t *x2, size_t n, int32_t ma, int32_t mb, int32_t shift,
                                int relu, int8_t *y);
SCALPEL_API void scalpel_add_q7_ref(const int8_t *x, const int8_t *x2, size_t n, int32_t ma, int32_t mb, int32_t shift,
                                    int relu, int8_t *y);
SCALPEL_API void scalpel_rescale_q15(const int16_t *x, size_t n, int32_t mult, int32_t shift, int16_t *y);
SCALPEL_API void scalpel_rescale_q15_ref(const int16_t *x, size_t n, int32_t mult, int32_t shift, int16_t *y);
SCALPEL_API void scalpel_rescale_q7(const int8_t *x, size_t n, int32_t mult, int32_t shift, int8_t *y);
SCALPEL_API void scalpel_rescale_q7_ref(const int8_t *x, size_t n, int32_t mult, int32_t shift, int8_t *y);
SCALPEL_API void scalpel_clip_q15(const int16_t *x, size_t n, int32_t lo, int32_t hi, int16_t *y);
SCALPEL_API void scalpel_clip_q15_ref(const int16_t *x, size_t n, int32_t lo, int32_t hi, int16_t *y);
SCALPEL_API void scalpel_clip_q7(const int8_t *x, size_t n, int32_t lo, int32_t hi, int8_t *y);
SCALPEL_API void scalpel_clip_q7_ref(const int8_t *x, size_t n, int32_t lo, int32_t hi, int8_t *y);
SCALPEL_API void scalpel_leaky_relu_q15(const int16_t *x, size_t n, int32_t slope, int32_t shift, int16_t *y);
SCALPEL_API void scalpel_leaky_relu_q15_ref(const int16_t *x, size_t n, int32_t slope, int32_t shift, int16_t *y);
SCALPEL_API void scalpel_leaky_relu_q7(const int8_t *x, size_t n, int32_t slope, int32_t shift, int8_t *y);
SCALPEL_API void scalpel_leaky_relu_q7_ref(const int8_t *x, size_t n, int32_t slope, int32_t shift, int8_t *y);
SCALPEL_API void scalpel_hardswish_q15(const int16_t *x, size_t n, int32_t three, int32_t six, int32_t mult,
                                       int32_t shift, int16_t *y);
SCALPEL_API void scalpel_hardswish_q15_ref(const int16_t *x, size_t n, int32_t three, int32_t six, int32_t mult,
                                           int32_t shift, int16_t *y);
SCALPEL_API void scalpel_hardswish_q7(const int8_t *x, size_t n, int32_t three, int32_t six, int32_t mult,
                                      int32_t shift, int8_t *y);
SCALPEL_API void scalpel_hardswish_q7_ref(const int8_t *x, size_t n, int32_t three, int32_t six, int32_t mult,
                                          int32_t shift, int8_t *y);
SCALPEL_API void scalpel_sigmoid_q15(const int16_t *x, size_t n, int32_t mult, int32_t shift, int16_t *y);
SCALPEL_API void scalpel_sigmoid_q15_ref(const int16_t *x, size_t n, int32_t mult, int32_t shift, int16_t *y);
SCALPEL_API void scalpel_sigmoid_q7(const int8_t *x, size_t n, int32_t mult, int32_t shift, int8_t *y);
SCALPEL_API void scalpel_sigmoid_q7_ref(const int8_t *x, size_t n, int32_t mult, int32_t shift, int8_t *y);
SCALPEL_API void scalpel_tanh_q15(const int16_t *x, size_t n, int32_t mult, int32_t shift, int16_t *y);
SCALPEL_API void scalpel_tanh_q15_ref(const int16_t *x, size_t n, int32_t mult, int32_t shift, int16_t *y);
SCALPEL_API void scalpel_tanh_q7(const int8_t *x, size_t n, int32_t mult, int32_t shift, int8_t *y);
SCALPEL_API void scalpel_tanh_q7_ref(const int8_t *x, size_t n, int32_t mult, int32_t shift, int8_t *y);

/* The code path compiled in: "x86-avx512", "x86-avx2", "x86-sse2", "arm-neon", "arm-mve",
 * "cortex-m-dsp", "scalar". */
SCALPEL_API const char *scalpel_kernels_backend(void);

/* scalpel_backend_info: what the backend compiled in says about itself, decided in the one
 * platform-detection block of the implementation, so that no other code needs to compare
 * backend names. `name` is what scalpel_kernels_backend() returns; `f32_lanes` the fp32 vector
 * width of the dense kernels (16, 8 or 4; 1 for plain C), what scalpel_kernels_vector_width()
 * returns; `default_profile` the name of the hardware profile scalpel_hw_profile_host (scalpel.h)
 * gives for it: a built-in one ("x86-avx512", "x86-avx2", "arm-neon", "cortex-m55",
 * "cortex-m4"), or one of the two profiles derived for backends without their own ("x86-sse2":
 * the x86-avx2 profile with G = 4; "scalar": the cortex-m4 rules with fp32 values). A static
 * constant: never NULL, never freed. */
typedef struct scalpel_backend_info {
    const char *name;
    int32_t f32_lanes;
    const char *default_profile;
} scalpel_backend_info;

SCALPEL_API const scalpel_backend_info *scalpel_kernels_backend_info(void);

/* Output size of a convolution or pooling window along one axis:
 * (size + 2*pad - kernel) / stride + 1, or -1 when the arguments are invalid (size < 1,
 * kernel < 1, stride < 1, pad < 0, pad >= kernel, or a window that does not fit). */
SCALPEL_API int32_t scalpel_conv_out_dim(int32_t size, int32_t kernel, int32_t stride, int32_t pad);

/* col[(C*K*K) x (OH*OW)] = im2col(in[C x H x W]) for a K x K window, stride S, zero padding P,
 * OH = scalpel_conv_out_dim(H, K, S, P), OW likewise. Row (c*K + i)*K + j of col holds input
 * channel c shifted by window offset (i, j), so that a convolution with weights
 * W[out x C x K x K] is the product W[out x C*K*K] . col = out[out x OH*OW] (dense gemm or a
 * grouped-CSR spmm of the flattened filters). Arguments must give OH, OW >= 1. */
SCALPEL_API void scalpel_im2col_f32(const float *in, int32_t channels, int32_t height, int32_t width,
                                    int32_t kernel, int32_t stride, int32_t pad, float *col);

/* C[m x (OH*OW)] = A[m x (C*K*K)] . im2col(in[C x H x W]) for a K x K window with stride 1 and
 * no padding (OH = H - K + 1, OW = W - K + 1), without writing the im2col matrix: each vector
 * of V outputs along an output row reads its inputs straight from the image (row p = (c*K + i)*K
 * + j of im2col at output (y, x) is in[c][y + i][x + j]). The same products in the same order as
 * scalpel_im2col_f32 + scalpel_gemm_f32, so the same results bit for bit; at batch 1 it saves
 * writing and re-reading the im2col matrix (for LeNet-5's convolutions about a fifth of their
 * time). Fastest when OW is a multiple of the vector width (the network forward pass uses it
 * only then); other widths take a masked tail per output row. Arguments must give
 * OH, OW >= 1. */
SCALPEL_API void scalpel_conv_gemm_f32(const float *a, int32_t m, const float *in, int32_t channels, int32_t height,
                                       int32_t width, int32_t kernel, float *c);
SCALPEL_API void scalpel_conv_gemm_f32_ref(const float *a, int32_t m, const float *in, int32_t channels,
                                           int32_t height, int32_t width, int32_t kernel, float *c);

/* The vector width (fp32 lanes) of the dense kernels compiled in: 16, 8 or 4; 1 for the scalar
 * path. */
SCALPEL_API int32_t scalpel_kernels_vector_width(void);

#ifdef __cplusplus
}
#endif

#endif /* SCALPEL_KERNELS_H */

/* ======================================================================================== */
/* >>implementation                                                                         */
/* ======================================================================================== */
#if defined(SCALPEL_IMPLEMENTATION) && !defined(SCALPEL_KERNELS_IMPLEMENTATION)
#define SCALPEL_KERNELS_IMPLEMENTATION
#endif

#if defined(SCALPEL_KERNELS_IMPLEMENTATION) && !defined(SCALPEL__KERNELS_IMPLEMENTATION_DONE)
#define SCALPEL__KERNELS_IMPLEMENTATION_DONE

#include <string.h>

/* ---- platform detection: the one place that decides the backend ------------------------ */
#if defined(SCALPEL_NO_SIMD)
#  define SCALPEL__BACKEND "scalar"
#  define SCALPEL__LANES 1
#  define SCALPEL__PROFILE "scalar"
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#  define SCALPEL__MVE 1
#  define SCALPEL__BACKEND "arm-mve"
#  define SCALPEL__LANES 4
#  define SCALPEL__PROFILE "cortex-m55"
#  include <arm_mve.h>
#elif defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M') && defined(__ARM_FEATURE_DSP)
#  define SCALPEL__BACKEND "cortex-m-dsp" /* M4, M7, M33: plain C fp32, DSP q15 / q7 */
#  define SCALPEL__LANES 1
#  define SCALPEL__PROFILE "cortex-m4"
#elif defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M')
#  define SCALPEL__BACKEND "scalar"      /* M0, M3: plain C */
#  define SCALPEL__LANES 1
#  define SCALPEL__PROFILE "scalar"
#elif defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__) || defined(_M_X64) || \
      defined(__ARM_NEON) || defined(__ARM_NEON__)
#  if defined(__has_include)
#    if !__has_include(<simde/x86/avx512.h>)
#      error "Scalpel: SIMDe not found. Install it (Debian: apt-get install libsimde-dev), add its headers to the include path, or define SCALPEL_NO_SIMD for plain C kernels."
#    endif
#  endif
#  define SCALPEL__SIMDE 1
#  if defined(__AVX512F__)
#    include <simde/x86/avx512.h>   /* 128-, 256- and 512-bit registers */
#  elif defined(__AVX__)
#    include <simde/x86/avx2.h>     /* 128- and 256-bit; 16 lanes as two 256-bit halves */
#    include <simde/x86/fma.h>
#    define SCALPEL__V256_MAX 1
#  else
#    include <simde/x86/fma.h>      /* 128-bit only (SSE2, NEON); wider groups built below */
#    define SCALPEL__V128_MAX 1
#  endif
#  if defined(__AVX512F__)
#    define SCALPEL__VW 16
#    define SCALPEL__BACKEND "x86-avx512"
#    define SCALPEL__PROFILE "x86-avx512"
#  elif defined(__AVX2__) && defined(__FMA__)
#    define SCALPEL__VW 8
#    define SCALPEL__BACKEND "x86-avx2"
#    define SCALPEL__PROFILE "x86-avx2"
#  elif defined(__ARM_NEON) || defined(__ARM_NEON__)
#    define SCALPEL__VW 4
#    define SCALPEL__BACKEND "arm-neon"
#    define SCALPEL__PROFILE "arm-neon"
#  else
#    define SCALPEL__VW 4
#    define SCALPEL__BACKEND "x86-sse2"
#    define SCALPEL__PROFILE "x86-sse2"  /* derived from x86-avx2 with G = 4 (scalpel.h) */
#  endif
#  define SCALPEL__LANES SCALPEL__VW
#else
#  define SCALPEL__BACKEND "scalar"
#  define SCALPEL__LANES 1
#  define SCALPEL__PROFILE "scalar"    /* cortex-m4 rules with fp32 values (scalpel.h) */
#endif
/* The fixed-point kernels take their own rungs on Cortex-M, whatever the fp32 one: the DSP
 * extension (M4, M7, M33, M55) and integer Helium (M55, M85, with or without MVE float). */
#if !defined(SCALPEL_NO_SIMD) && defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M')
#  if defined(__ARM_FEATURE_DSP)
#    define SCALPEL__QDSP 1
#    include <arm_acle.h>
#  endif
#  if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#    define SCALPEL__QMVE 1
#    if !defined(SCALPEL__MVE)
#      include <arm_mve.h>
#    endif
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The one description of the backend chosen above; the two functions below read from it. */
SCALPEL_API const scalpel_backend_info *scalpel_kernels_backend_info(void)
{
    static const scalpel_backend_info info = { SCALPEL__BACKEND, SCALPEL__LANES, SCALPEL__PROFILE };
    return &info;
}

SCALPEL_API const char *scalpel_kernels_backend(void) { return scalpel_kernels_backend_info()->name; }

SCALPEL_API int32_t scalpel_kernels_vector_width(void) { return scalpel_kernels_backend_info()->f32_lanes; }

/* ---- plain C reference kernels: the tests' oracle, always compiled ---------------------- */

/* y[rows] = W[rows x cols] . x[cols] */
SCALPEL_API void scalpel_gemv_f32_ref(const float *w, int32_t rows, int32_t cols, const float *x, float *y)
{
    int32_t r, c;
    for (r = 0; r < rows; r++) {
        const float *wr = w + (size_t)r * (size_t)cols;
        float s = 0.0f;
        for (c = 0; c < cols; c++) s += wr[c] * x[c];
        y[r] = s;
    }
}

/* C[m x n] = A[m x k] . B[k x n] */
SCALPEL_API void scalpel_gemm_f32_ref(const float *a, int32_t m, int32_t k, const float *b, int32_t n, float *c)
{
    int32_t i, j, p;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            float s = 0.0f;
            for (p = 0; p < k; p++) s += a[(size_t)i * (size_t)k + (size_t)p] * b[(size_t)p * (size_t)n + (size_t)j];
            c[(size_t)i * (size_t)n + (size_t)j] = s;
        }
}

/* C[m x (OH*OW)] = A[m x (C*K*K)] . im2col(in), stride 1, no padding */
SCALPEL_API void scalpel_conv_gemm_f32_ref(const float *a, int32_t m, const float *in, int32_t channels,
                                           int32_t height, int32_t width, int32_t kernel, float *c)
{
    int32_t oh = height - kernel + 1, ow = width - kernel + 1, r, y, x, ch, i, j;
    size_t k = (size_t)channels * (size_t)kernel * (size_t)kernel;
    for (r = 0; r < m; r++)
        for (y = 0; y < oh; y++)
            for (x = 0; x < ow; x++) {
                const float *ar = a + (size_t)r * k;
                float s = 0.0f;
                for (ch = 0; ch < channels; ch++)
                    for (i = 0; i < kernel; i++)
                        for (j = 0; j < kernel; j++)
                            s += *ar++ * in[((size_t)ch * (size_t)height + (size_t)(y + i)) * (size_t)width + (size_t)(x + j)];
                c[((size_t)r * (size_t)oh + (size_t)y) * (size_t)ow + (size_t)x] = s;
            }
}

/* y[rows] = W . x[cols], W grouped-CSR */
SCALPEL_API void scalpel_gcsr_spmv_f32_ref(const scalpel_gcsr *w, const float *x, float *y)
{
    const float *v = (const float *)w->values;
    int32_t r, k, j, g = w->group;
    for (r = 0; r < w->rows; r++) {
        float s = 0.0f;
        for (k = w->row_ptr[r]; k < w->row_ptr[r + 1]; k++) {
            int32_t c = (int32_t)scalpel_gcsr_col(w, k);
            for (j = 0; j < g && c + j < w->cols; j++) s += v[(size_t)k * (size_t)g + (size_t)j] * x[c + j];
        }
        y[r] = s;
    }
}

/* C[rows x n] = W . B[cols x n], W grouped-CSR */
SCALPEL_API void scalpel_gcsr_spmm_f32_ref(const scalpel_gcsr *w, const float *b, int32_t n, float *c)
{
    const float *v = (const float *)w->values;
    int32_t r, k, j, t, g = w->group;
    for (r = 0; r < w->rows; r++)
        for (t = 0; t < n; t++) {
            float s = 0.0f;
            for (k = w->row_ptr[r]; k < w->row_ptr[r + 1]; k++) {
                int32_t col = (int32_t)scalpel_gcsr_col(w, k);
                for (j = 0; j < g && col + j < w->cols; j++)
                    s += v[(size_t)k * (size_t)g + (size_t)j] * b[(size_t)(col + j) * (size_t)n + (size_t)t];
            }
            c[(size_t)r * (size_t)n + (size_t)t] = s;
        }
}

/* y[rows x n] += b[rows] broadcast over n, then max(., 0) when relu (NaN -> 0) */
SCALPEL_API void scalpel_bias_relu_f32_ref(float *y, const float *b, int32_t rows, int32_t n, int relu)
{
    int32_t r, p;
    for (r = 0; r < rows; r++)
        for (p = 0; p < n; p++) {
            float *o = y + (size_t)r * (size_t)n + (size_t)p, v = *o + b[r];
            *o = (relu && !(v > 0.0f)) ? 0.0f : v;
        }
}

/* y[n] = max(x[n], 0), NaN -> 0 */
SCALPEL_API void scalpel_relu_f32_ref(const float *x, size_t n, float *y)
{
    size_t k;
    for (k = 0; k < n; k++) y[k] = x[k] > 0.0f ? x[k] : 0.0f;
}

/* y[c x oh x ow] = max over kernel x kernel windows of x[c x h x w], stride apart, no padding */
SCALPEL_API void scalpel_maxpool_f32_ref(const float *x, int32_t c, int32_t h, int32_t w, int32_t kernel,
                                         int32_t stride, float *y)
{
    int32_t ch, oy, ox, ky, kx, oh, ow;
    if (h < kernel || w < kernel) return;
    oh = (h - kernel) / stride + 1;
    ow = (w - kernel) / stride + 1;
    for (ch = 0; ch < c; ch++)
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++) {
                const float *win = x + ((size_t)ch * (size_t)h + (size_t)(oy * stride)) * (size_t)w + (size_t)(ox * stride);
                float m = win[0];
                for (ky = 0; ky < kernel; ky++)
                    for (kx = 0; kx < kernel; kx++) {
                        float v = win[(size_t)ky * (size_t)w + (size_t)kx];
                        if (v > m) m = v;
                    }
                y[((size_t)ch * (size_t)oh + (size_t)oy) * (size_t)ow + (size_t)ox] = m;
            }
}

/* y[o][oy][ox] = sum of wt[o][i][j] x[o / mult][oy*sh + i*dh - pt][ox*sw + j*dw - pl], in double */
SCALPEL_API void scalpel_dwconv_f32_ref(const float *x, int32_t c, int32_t h, int32_t w, int32_t mult, const float *wt,
                                        const scalpel_conv_window *win, int32_t oh, int32_t ow, float *y)
{
    int32_t o, oy, ox, i, j;
    for (o = 0; o < c * mult; o++)
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++) {
                double acc = 0.0;
                for (i = 0; i < win->kh; i++)
                    for (j = 0; j < win->kw; j++) {
                        int32_t iy = oy * win->sh + i * win->dh - win->pt, ix = ox * win->sw + j * win->dw - win->pl;
                        if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
                        acc += (double)wt[((size_t)o * (size_t)win->kh + (size_t)i) * (size_t)win->kw + (size_t)j] *
                               x[((size_t)(o / mult) * (size_t)h + (size_t)iy) * (size_t)w + (size_t)ix];
                    }
                y[((size_t)o * (size_t)oh + (size_t)oy) * (size_t)ow + (size_t)ox] = (float)acc;
            }
}

SCALPEL_API void scalpel_lrn_across_f32_ref(const float *x, int32_t C, size_t plane, int32_t size, float alpha, float beta,
                                            float k, float *y)
{
    int32_t c, q, half = size / 2;
    size_t p;
    for (c = 0; c < C; c++)
        for (p = 0; p < plane; p++) {
            double s = 0.0;
            for (q = c - half; q <= c + half; q++)
                if (q >= 0 && q < C) s += (double)x[(size_t)q * plane + p] * (double)x[(size_t)q * plane + p];
            y[(size_t)c * plane + p] =
                (float)((double)x[(size_t)c * plane + p] / scalpel__pow_pos((double)k + (double)alpha / size * s, (double)beta));
        }
}

SCALPEL_API void scalpel_pool_window_f32_ref(const float *x, int32_t c, int32_t h, int32_t w, const scalpel_conv_window *win,
                                             int32_t pb, int32_t pr, int32_t op, int32_t oh, int32_t ow, float *y)
{
    int32_t ch, oy, ox, i, j;
    for (ch = 0; ch < c; ch++)
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++) {
                int32_t ys = oy * win->sh - win->pt, xs = ox * win->sw - win->pl, cells = 0, padded = 0;
                double acc = 0.0, m = 0.0;
                for (i = ys; i < ys + win->kh; i++)
                    for (j = xs; j < xs + win->kw; j++) {
                        if (i >= -win->pt && i < h + pb && j >= -win->pl && j < w + pr) padded++;
                        if (i < 0 || i >= h || j < 0 || j >= w) continue;
                        {
                            double v = (double)x[((size_t)ch * (size_t)h + (size_t)i) * (size_t)w + (size_t)j];
                            if (cells == 0 || v > m) m = v;
                            acc += v;
                            cells++;
                        }
                    }
                y[((size_t)ch * (size_t)oh + (size_t)oy) * (size_t)ow + (size_t)ox] =
                    (float)(op == SCALPEL_POOL_OP_MAX ? m : op == SCALPEL_POOL_OP_AVG ? acc / cells
                            : op == SCALPEL_POOL_OP_AVG_PADS ? acc / padded : acc);
            }
}

/* ---- convolution helpers (exact data movement, one version) ----------------------------- */

SCALPEL_API int32_t scalpel_conv_out_dim(int32_t size, int32_t kernel, int32_t stride, int32_t pad)
{
    int64_t span;
    if (size < 1 || kernel < 1 || stride < 1 || pad < 0 || pad >= kernel) return -1;
    span = (int64_t)size + 2 * (int64_t)pad - kernel;
    if (span < 0) return -1;
    return (int32_t)(span / stride + 1);
}

/* d[0..n) = s[0..n): one im2col row span (a handful of floats: LeNet's 8 or 24), by vector
 * moves where there is a vector unit (a libc memcpy call per span cost more than the copy). */
static inline void scalpel__copy_span_f32(float *d, const float *s, int32_t n);

/* col[(C*K*K) x (OH*OW)] = im2col(in[C x H x W]) */
SCALPEL_API void scalpel_im2col_f32(const float *in, int32_t channels, int32_t height, int32_t width,
                                    int32_t kernel, int32_t stride, int32_t pad, float *col)
{
    int32_t oh = scalpel_conv_out_dim(height, kernel, stride, pad);
    int32_t ow = scalpel_conv_out_dim(width, kernel, stride, pad);
    int32_t ch, i, j, oy, ox;
    size_t plane = (size_t)oh * (size_t)ow;
    if (stride == 1 && pad == 0) {
        /* no borders (LeNet's convolutions): output row oy of kernel tap (i, j) is input row
         * oy + i from column j, a span of ow floats */
        for (ch = 0; ch < channels; ch++)
            for (i = 0; i < kernel; i++)
                for (j = 0; j < kernel; j++) {
                    float *d = col + ((size_t)(ch * kernel + i) * (size_t)kernel + (size_t)j) * plane;
                    const float *s = in + ((size_t)ch * (size_t)height + (size_t)i) * (size_t)width + (size_t)j;
                    for (oy = 0; oy < oh; oy++, d += ow, s += width) scalpel__copy_span_f32(d, s, ow);
                }
        return;
    }
    for (ch = 0; ch < channels; ch++)
        for (i = 0; i < kernel; i++)
            for (j = 0; j < kernel; j++) {
                float *dst = col + ((size_t)(ch * kernel + i) * (size_t)kernel + (size_t)j) * plane;
                const float *src = in + (size_t)ch * (size_t)height * (size_t)width;
                for (oy = 0; oy < oh; oy++) {
                    int32_t iy = oy * stride - pad + i;
                    float *d = dst + (size_t)oy * (size_t)ow;
                    if (iy < 0 || iy >= height) {
                        memset(d, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    if (stride == 1) {
                        /* contiguous: zero the padded borders, copy the middle */
                        int32_t x0 = j - pad, lo = x0 < 0 ? -x0 : 0;
                        int32_t hi = width - x0 < ow ? width - x0 : ow;
                        if (hi < lo) hi = lo;
                        for (ox = 0; ox < lo; ox++) d[ox] = 0.0f;
                        if (hi > lo) scalpel__copy_span_f32(d + lo, src + (size_t)iy * (size_t)width + (size_t)(x0 + lo), hi - lo);
                        for (ox = hi; ox < ow; ox++) d[ox] = 0.0f;
                    } else {
                        for (ox = 0; ox < ow; ox++) {
                            int32_t ix = ox * stride - pad + j;
                            d[ox] = (ix >= 0 && ix < width) ? src[(size_t)iy * (size_t)width + (size_t)ix] : 0.0f;
                        }
                    }
                }
            }
}

/* ---- vector helpers: the one surface the vector kernels below are written against -------
 * scalpel__vW_{zero, load, store, set1, fma, add, loadn, storen, hsum} on W = 4, 8, 16 fp32
 * lanes, and max0 (max(x, 0)) on the widths the target has registers for. `loadn` / `storen` move only the first n < W lanes, so that no kernel reads or writes
 * past the end of an array. Two providers: SIMDe (x86, NEON) and Helium (<arm_mve.h>). */
#if defined(SCALPEL__SIMDE)

/* SIMDe's 128-, 256- and 512-bit types, mapped to the real registers of the target. */
#define SCALPEL__VHELPERS(W, T, PFX)                                                                 \
    typedef T scalpel__v##W;                                                                        \
    static inline T scalpel__v##W##_zero(void) { return PFX##_setzero_ps(); }                      \
    static inline T scalpel__v##W##_load(const float *p) { return PFX##_loadu_ps(p); }             \
    static inline void scalpel__v##W##_store(float *p, T v) { PFX##_storeu_ps(p, v); }             \
    static inline T scalpel__v##W##_set1(float f) { return PFX##_set1_ps(f); }                     \
    static inline T scalpel__v##W##_fma(T acc, T a, T b) { return PFX##_fmadd_ps(a, b, acc); }     \
    static inline T scalpel__v##W##_add(T a, T b) { return PFX##_add_ps(a, b); }                   \
    static inline T scalpel__v##W##_mul(T a, T b) { return PFX##_mul_ps(a, b); }                   \
    static inline T scalpel__v##W##_div(T a, T b) { return PFX##_div_ps(a, b); }

/* Partial vectors: masked loads and stores where the target has them natively (AVX, AVX-512:
 * masked-off lanes are never touched), otherwise a copy through a small buffer. SIMDe's
 * portable masked loads read every lane, so they are only used on the native rungs. */
#define SCALPEL__VTAIL_COPY(W, T, PFX)                                                               \
    static inline T scalpel__v##W##_loadn(const float *p, int32_t n)                                \
    {                                                                                               \
        float t[W] = { 0 };                                                                         \
        memcpy(t, p, (size_t)n * sizeof(float));                                                    \
        return PFX##_loadu_ps(t);                                                                   \
    }                                                                                               \
    static inline void scalpel__v##W##_storen(float *p, T v, int32_t n)                             \
    {                                                                                               \
        float t[W];                                                                                 \
        PFX##_storeu_ps(t, v);                                                                      \
        memcpy(p, t, (size_t)n * sizeof(float));                                                    \
    }
#if defined(__AVX2__)
static inline simde__m256i scalpel__mask8(int32_t n)
{
    return simde_mm256_cmpgt_epi32(simde_mm256_set1_epi32(n), simde_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define SCALPEL__VTAIL_AVX(W, T, PFX, MASK)                                                          \
    static inline T scalpel__v##W##_loadn(const float *p, int32_t n) { return PFX##_maskload_ps(p, MASK(n)); } \
    static inline void scalpel__v##W##_storen(float *p, T v, int32_t n) { PFX##_maskstore_ps(p, MASK(n), v); }
#define scalpel__mask4(n) simde_mm256_castsi256_si128(scalpel__mask8(n))
#endif

static inline float scalpel__v4_hsum(simde__m128 v)
{
    simde__m128 s = simde_mm_add_ps(v, simde_mm_movehl_ps(v, v));
    s = simde_mm_add_ss(s, simde_mm_shuffle_ps(s, s, 1));
    return simde_mm_cvtss_f32(s);
}
/* y[0..3] = the lane sums of a, b, c, d: one transpose-and-add tree for four rows (a row's own
 * hsum costs a shuffle chain each; grouped rows of a hard-pruned layer hold a few groups only,
 * so the reduction is a large part of their cost). */
static inline void scalpel__v4_hsum4(simde__m128 a, simde__m128 b, simde__m128 c, simde__m128 d, float *y)
{
    simde__m128 ab = simde_mm_add_ps(simde_mm_unpacklo_ps(a, b), simde_mm_unpackhi_ps(a, b));
    simde__m128 cd = simde_mm_add_ps(simde_mm_unpacklo_ps(c, d), simde_mm_unpackhi_ps(c, d));
    simde_mm_storeu_ps(y, simde_mm_add_ps(simde_mm_movelh_ps(ab, cd), simde_mm_movehl_ps(cd, ab)));
}
SCALPEL__VHELPERS(4, simde__m128, simde_mm)
/* max(a, 0), 0 for a NaN lane (x86 MAX returns its second operand then), as ReLU is */
static inline simde__m128 scalpel__v4_max0(simde__m128 a) { return simde_mm_max_ps(a, simde_mm_setzero_ps()); }
static inline simde__m128 scalpel__v4_sqrt(simde__m128 a) { return simde_mm_sqrt_ps(a); }
static inline simde__m128 scalpel__v4_max(simde__m128 a, simde__m128 b) { return simde_mm_max_ps(a, b); }
static inline simde__m128 scalpel__v4_min(simde__m128 a, simde__m128 b) { return simde_mm_min_ps(a, b); }
#if defined(__AVX2__)
SCALPEL__VTAIL_AVX(4, simde__m128, simde_mm, scalpel__mask4)
#else
SCALPEL__VTAIL_COPY(4, simde__m128, simde_mm)
#endif
#if !defined(SCALPEL__V128_MAX)
SCALPEL__VHELPERS(8, simde__m256, simde_mm256)
static inline simde__m256 scalpel__v8_max0(simde__m256 a) { return simde_mm256_max_ps(a, simde_mm256_setzero_ps()); }
static inline simde__m256 scalpel__v8_sqrt(simde__m256 a) { return simde_mm256_sqrt_ps(a); }
static inline simde__m256 scalpel__v8_max(simde__m256 a, simde__m256 b) { return simde_mm256_max_ps(a, b); }
static inline simde__m256 scalpel__v8_min(simde__m256 a, simde__m256 b) { return simde_mm256_min_ps(a, b); }
#if defined(__AVX2__)
SCALPEL__VTAIL_AVX(8, simde__m256, simde_mm256, scalpel__mask8)
#else
SCALPEL__VTAIL_COPY(8, simde__m256, simde_mm256)
#endif
static inline float scalpel__v8_hsum(simde__m256 v)
{
    return scalpel__v4_hsum(simde_mm_add_ps(simde_mm256_castps256_ps128(v), simde_mm256_extractf128_ps(v, 1)));
}
static inline void scalpel__v8_hsum4(simde__m256 a, simde__m256 b, simde__m256 c, simde__m256 d, float *y)
{
    simde__m256 ab = simde_mm256_add_ps(simde_mm256_unpacklo_ps(a, b), simde_mm256_unpackhi_ps(a, b));
    simde__m256 cd = simde_mm256_add_ps(simde_mm256_unpacklo_ps(c, d), simde_mm256_unpackhi_ps(c, d));
    /* per 128-bit half: a, b, c, d partial sums in lanes 0..3 */
    simde__m256 t = simde_mm256_add_ps(simde_mm256_castpd_ps(simde_mm256_unpacklo_pd(simde_mm256_castps_pd(ab), simde_mm256_castps_pd(cd))),
                                       simde_mm256_castpd_ps(simde_mm256_unpackhi_pd(simde_mm256_castps_pd(ab), simde_mm256_castps_pd(cd))));
    simde_mm_storeu_ps(y, simde_mm_add_ps(simde_mm256_castps256_ps128(t), simde_mm256_extractf128_ps(t, 1)));
}
#endif
#if !defined(SCALPEL__V128_MAX) && !defined(SCALPEL__V256_MAX)
SCALPEL__VHELPERS(16, simde__m512, simde_mm512)
static inline simde__m512 scalpel__v16_max0(simde__m512 a)
{
    /* the zero-masked form: the plain one starts from an undefined register (see hsum4) */
    return _mm512_maskz_max_ps((__mmask16)0xFFFF, a, _mm512_setzero_ps());
}
/* zero-masked too: the plain form starts from an undefined register */
static inline simde__m512 scalpel__v16_sqrt(simde__m512 a) { return _mm512_maskz_sqrt_ps((__mmask16)0xFFFF, a); }
static inline simde__m512 scalpel__v16_max(simde__m512 a, simde__m512 b) { return _mm512_maskz_max_ps((__mmask16)0xFFFF, a, b); }
static inline simde__m512 scalpel__v16_min(simde__m512 a, simde__m512 b) { return _mm512_maskz_min_ps((__mmask16)0xFFFF, a, b); }
/* native AVX-512 masks (SIMDe 0.7 has no masked 512-bit load/store) */
static inline simde__m512 scalpel__v16_loadn(const float *p, int32_t n)
{
    return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
}
static inline void scalpel__v16_storen(float *p, simde__m512 v, int32_t n)
{
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), v);
}
static inline float scalpel__v16_hsum(simde__m512 v)
{
    /* through memory: GCC's in-register 512->256 extracts trip -Wmaybe-uninitialized in C++ */
    float t[16];
    simde_mm512_storeu_ps(t, v);
    return scalpel__v4_hsum(simde_mm_add_ps(simde_mm_add_ps(simde_mm_loadu_ps(t), simde_mm_loadu_ps(t + 4)),
                                            simde_mm_add_ps(simde_mm_loadu_ps(t + 8), simde_mm_loadu_ps(t + 12))));
}
static inline void scalpel__v16_hsum4(simde__m512 a, simde__m512 b, simde__m512 c, simde__m512 d, float *y)
{
    /* 128-bit blocks: ab = [a0+a2, a1+a3, b0+b2, b1+b3], cd alike; u's block k then holds row
     * k's four partial sums, added within the block by two in-lane swaps; the compress gathers
     * lane 0 of each block. Zero-masked forms throughout: the unmasked ones start from an
     * undefined register, which GCC's C++ front end reports as maybe-uninitialized. */
    const __mmask16 all = (__mmask16)0xFFFF;
    __m512 ab = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(all, a, b, 0x44), _mm512_maskz_shuffle_f32x4(all, a, b, 0xEE));
    __m512 cd = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(all, c, d, 0x44), _mm512_maskz_shuffle_f32x4(all, c, d, 0xEE));
    __m512 u = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(all, ab, cd, 0x88), _mm512_maskz_shuffle_f32x4(all, ab, cd, 0xDD));
    u = _mm512_add_ps(u, _mm512_maskz_permute_ps(all, u, 0x4E));
    u = _mm512_add_ps(u, _mm512_maskz_permute_ps(all, u, 0xB1));
    _mm512_mask_storeu_ps(y, (__mmask16)0x000F, _mm512_maskz_compress_ps((__mmask16)0x1111, u));
}
#endif

#elif defined(SCALPEL__MVE)

/* Helium: 4 lanes; partial vectors are tail-predicated (vctp32q), so the inactive lanes are
 * neither loaded nor stored. */
typedef float32x4_t scalpel__v4;
static inline scalpel__v4 scalpel__v4_zero(void) { return vdupq_n_f32(0.0f); }
static inline scalpel__v4 scalpel__v4_load(const float *p) { return vld1q_f32(p); }
static inline void scalpel__v4_store(float *p, scalpel__v4 v) { vst1q_f32(p, v); }
static inline scalpel__v4 scalpel__v4_set1(float f) { return vdupq_n_f32(f); }
static inline scalpel__v4 scalpel__v4_fma(scalpel__v4 acc, scalpel__v4 a, scalpel__v4 b) { return vfmaq_f32(acc, a, b); }
static inline scalpel__v4 scalpel__v4_add(scalpel__v4 a, scalpel__v4 b) { return vaddq_f32(a, b); }
static inline scalpel__v4 scalpel__v4_max0(scalpel__v4 a) { return vmaxnmq_f32(a, vdupq_n_f32(0.0f)); } /* NaN -> 0 */
static inline scalpel__v4 scalpel__v4_max(scalpel__v4 a, scalpel__v4 b) { return vmaxnmq_f32(a, b); }
static inline scalpel__v4 scalpel__v4_min(scalpel__v4 a, scalpel__v4 b) { return vminnmq_f32(a, b); }
static inline scalpel__v4 scalpel__v4_mul(scalpel__v4 a, scalpel__v4 b) { return vmulq_f32(a, b); }
static inline scalpel__v4 scalpel__v4_loadn(const float *p, int32_t n) { return vldrwq_z_f32(p, vctp32q((uint32_t)n)); }
static inline void scalpel__v4_storen(float *p, scalpel__v4 v, int32_t n) { vstrwq_p_f32(p, v, vctp32q((uint32_t)n)); }
static inline float scalpel__v4_hsum(scalpel__v4 v)
{
    return (vgetq_lane_f32(v, 0) + vgetq_lane_f32(v, 1)) + (vgetq_lane_f32(v, 2) + vgetq_lane_f32(v, 3));
}
static inline void scalpel__v4_hsum4(scalpel__v4 a, scalpel__v4 b, scalpel__v4 c, scalpel__v4 d, float *y)
{
    y[0] = scalpel__v4_hsum(a); y[1] = scalpel__v4_hsum(b); y[2] = scalpel__v4_hsum(c); y[3] = scalpel__v4_hsum(d);
}
#define SCALPEL__V128_MAX 1
#define SCALPEL__VW 4

#endif

#if defined(SCALPEL__SIMDE) || defined(SCALPEL__MVE)
#define SCALPEL__VEC 1

/* Lanes wider than the target's registers, as arrays of B-lane registers (SIMDe's emulated
 * wide types would do the same, but make GCC print ABI notes when passed by value). */
#define SCALPEL__VMULTI(W, B)                                                                        \
    typedef struct scalpel__v##W { scalpel__v##B q[W / B]; } scalpel__v##W;                         \
    static inline scalpel__v##W scalpel__v##W##_zero(void)                                          \
    { scalpel__v##W r; int i; for (i = 0; i < W / B; i++) r.q[i] = scalpel__v##B##_zero(); return r; } \
    static inline scalpel__v##W scalpel__v##W##_load(const float *p)                                \
    { scalpel__v##W r; int i; for (i = 0; i < W / B; i++) r.q[i] = scalpel__v##B##_load(p + B * i); return r; } \
    static inline scalpel__v##W scalpel__v##W##_fma(scalpel__v##W acc, scalpel__v##W a, scalpel__v##W b) \
    { int i; for (i = 0; i < W / B; i++) acc.q[i] = scalpel__v##B##_fma(acc.q[i], a.q[i], b.q[i]); return acc; } \
    static inline scalpel__v##W scalpel__v##W##_add(scalpel__v##W a, scalpel__v##W b)               \
    { int i; for (i = 0; i < W / B; i++) a.q[i] = scalpel__v##B##_add(a.q[i], b.q[i]); return a; }   \
    static inline scalpel__v##W scalpel__v##W##_loadn(const float *p, int32_t n)                    \
    {                                                                                               \
        scalpel__v##W r;                                                                            \
        int i;                                                                                      \
        for (i = 0; i < W / B; i++, n -= B, p += B)                                                 \
            r.q[i] = n >= B ? scalpel__v##B##_load(p) : n > 0 ? scalpel__v##B##_loadn(p, n) : scalpel__v##B##_zero(); \
        return r;                                                                                   \
    }                                                                                               \
    static inline scalpel__v##B scalpel__v##W##_fold(scalpel__v##W v)                              \
    {                                                                                               \
        scalpel__v##B s = v.q[0];                                                                   \
        int i;                                                                                      \
        for (i = 1; i < W / B; i++) s = scalpel__v##B##_add(s, v.q[i]);                             \
        return s;                                                                                   \
    }                                                                                               \
    static inline float scalpel__v##W##_hsum(scalpel__v##W v) { return scalpel__v##B##_hsum(scalpel__v##W##_fold(v)); } \
    static inline void scalpel__v##W##_hsum4(scalpel__v##W a, scalpel__v##W b, scalpel__v##W c,    \
                                             scalpel__v##W d, float *y)                             \
    {                                                                                               \
        scalpel__v##B##_hsum4(scalpel__v##W##_fold(a), scalpel__v##W##_fold(b), scalpel__v##W##_fold(c), \
                              scalpel__v##W##_fold(d), y);                                          \
    }
#if defined(SCALPEL__V128_MAX)
SCALPEL__VMULTI(8, 4)
SCALPEL__VMULTI(16, 4)
#elif defined(SCALPEL__V256_MAX)
SCALPEL__VMULTI(16, 8)
#endif

/* The natural width of the target, used by the dense kernels and spmm. */
#define SCALPEL__VCAT2(a, b) a##b
#define SCALPEL__VCAT(a, b) SCALPEL__VCAT2(a, b)
#define SCALPEL__V(op) SCALPEL__VCAT(SCALPEL__VCAT(scalpel__v, SCALPEL__VW), _##op)
typedef SCALPEL__VCAT(scalpel__v, SCALPEL__VW) scalpel__vec;

/* y[rows] = W[rows x cols] . x[cols]: four rows at a time share each load of x; two vectors per
 * row and step keep eight independent FMA chains in flight. */
SCALPEL_API void scalpel_gemv_f32(const float *w, int32_t rows, int32_t cols, const float *x, float *y)
{
    const int32_t V = SCALPEL__VW;
    int32_t r = 0, c, tail = cols % V, body = cols - tail;
    for (; r + 4 <= rows; r += 4) {
        const float *w0 = w + (size_t)r * (size_t)cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;
        scalpel__vec a0 = SCALPEL__V(zero)(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (c = 0; c + 2 * V <= body; c += 2 * V) {
            scalpel__vec xv = SCALPEL__V(load)(x + c), xu = SCALPEL__V(load)(x + c + V);
            a0 = SCALPEL__V(fma)(a0, SCALPEL__V(load)(w0 + c), xv);
            a1 = SCALPEL__V(fma)(a1, SCALPEL__V(load)(w1 + c), xv);
            a2 = SCALPEL__V(fma)(a2, SCALPEL__V(load)(w2 + c), xv);
            a3 = SCALPEL__V(fma)(a3, SCALPEL__V(load)(w3 + c), xv);
            b0 = SCALPEL__V(fma)(b0, SCALPEL__V(load)(w0 + c + V), xu);
            b1 = SCALPEL__V(fma)(b1, SCALPEL__V(load)(w1 + c + V), xu);
            b2 = SCALPEL__V(fma)(b2, SCALPEL__V(load)(w2 + c + V), xu);
            b3 = SCALPEL__V(fma)(b3, SCALPEL__V(load)(w3 + c + V), xu);
        }
        if (c < body) {
            scalpel__vec xv = SCALPEL__V(load)(x + c);
            a0 = SCALPEL__V(fma)(a0, SCALPEL__V(load)(w0 + c), xv);
            a1 = SCALPEL__V(fma)(a1, SCALPEL__V(load)(w1 + c), xv);
            a2 = SCALPEL__V(fma)(a2, SCALPEL__V(load)(w2 + c), xv);
            a3 = SCALPEL__V(fma)(a3, SCALPEL__V(load)(w3 + c), xv);
        }
        if (tail) {
            scalpel__vec xv = SCALPEL__V(loadn)(x + body, tail);
            b0 = SCALPEL__V(fma)(b0, SCALPEL__V(loadn)(w0 + body, tail), xv);
            b1 = SCALPEL__V(fma)(b1, SCALPEL__V(loadn)(w1 + body, tail), xv);
            b2 = SCALPEL__V(fma)(b2, SCALPEL__V(loadn)(w2 + body, tail), xv);
            b3 = SCALPEL__V(fma)(b3, SCALPEL__V(loadn)(w3 + body, tail), xv);
        }
        y[r] = SCALPEL__V(hsum)(SCALPEL__V(add)(a0, b0));
        y[r + 1] = SCALPEL__V(hsum)(SCALPEL__V(add)(a1, b1));
        y[r + 2] = SCALPEL__V(hsum)(SCALPEL__V(add)(a2, b2));
        y[r + 3] = SCALPEL__V(hsum)(SCALPEL__V(add)(a3, b3));
    }
    for (; r < rows; r++) {
        const float *w0 = w + (size_t)r * (size_t)cols;
        scalpel__vec a0 = SCALPEL__V(zero)(), b0 = a0;
        for (c = 0; c + 2 * V <= body; c += 2 * V) {
            a0 = SCALPEL__V(fma)(a0, SCALPEL__V(load)(w0 + c), SCALPEL__V(load)(x + c));
            b0 = SCALPEL__V(fma)(b0, SCALPEL__V(load)(w0 + c + V), SCALPEL__V(load)(x + c + V));
        }
        if (c < body) a0 = SCALPEL__V(fma)(a0, SCALPEL__V(load)(w0 + c), SCALPEL__V(load)(x + c));
        if (tail) b0 = SCALPEL__V(fma)(b0, SCALPEL__V(loadn)(w0 + body, tail), SCALPEL__V(loadn)(x + body, tail));
        y[r] = SCALPEL__V(hsum)(SCALPEL__V(add)(a0, b0));
    }
}

/* Register blocks of C = A . B for k-rows [p0, p1) of B, R rows x 2V columns: two accumulators
 * per row, two vector loads of B and R broadcasts of A per k step. Each row's three steps
 * (start from C or zero, accumulate, store) are the macros below, so that every block is
 * written out in named registers: GCC keeps an array of accumulators in memory. */
#define SCALPEL__GEMM_ROW_START(cr, x0, x1) \
    do { if (p0 > 0) { x0 = SCALPEL__V(load)(cr); x1 = SCALPEL__V(load)((cr) + V); } else { x0 = SCALPEL__V(zero)(); x1 = x0; } } while (0)
#define SCALPEL__GEMM_ROW_STEP(ar, x0, x1) \
    do { scalpel__vec av_ = SCALPEL__V(set1)((ar)[p]); x0 = SCALPEL__V(fma)(x0, av_, b0); x1 = SCALPEL__V(fma)(x1, av_, b1); } while (0)
#define SCALPEL__GEMM_ROW_STORE(cr, x0, x1) \
    do { SCALPEL__V(store)(cr, x0); SCALPEL__V(store)((cr) + V, x1); } while (0)

/* The 6 x 2V block: twelve accumulators (fits the 16 registers of AVX2 and NEON, and AVX-512's
 * 32). */
static void scalpel__gemm_6x2(const float *a, int32_t k, const float *b, size_t ldb, float *c,
                              size_t ldc, int32_t p0, int32_t p1)
{
    const int32_t V = SCALPEL__VW;
    const float *a0 = a, *a1 = a0 + k, *a2 = a1 + k, *a3 = a2 + k, *a4 = a3 + k, *a5 = a4 + k;
    float *c0 = c, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc, *c4 = c3 + ldc, *c5 = c4 + ldc;
    scalpel__vec x00, x01, x10, x11, x20, x21, x30, x31, x40, x41, x50, x51;
    int32_t p;
    SCALPEL__GEMM_ROW_START(c0, x00, x01); SCALPEL__GEMM_ROW_START(c1, x10, x11);
    SCALPEL__GEMM_ROW_START(c2, x20, x21); SCALPEL__GEMM_ROW_START(c3, x30, x31);
    SCALPEL__GEMM_ROW_START(c4, x40, x41); SCALPEL__GEMM_ROW_START(c5, x50, x51);
    for (p = p0; p < p1; p++) {
        const float *bp = b + (size_t)p * ldb;
        scalpel__vec b0 = SCALPEL__V(load)(bp), b1 = SCALPEL__V(load)(bp + V);
        SCALPEL__GEMM_ROW_STEP(a0, x00, x01); SCALPEL__GEMM_ROW_STEP(a1, x10, x11);
        SCALPEL__GEMM_ROW_STEP(a2, x20, x21); SCALPEL__GEMM_ROW_STEP(a3, x30, x31);
        SCALPEL__GEMM_ROW_STEP(a4, x40, x41); SCALPEL__GEMM_ROW_STEP(a5, x50, x51);
    }
    SCALPEL__GEMM_ROW_STORE(c0, x00, x01); SCALPEL__GEMM_ROW_STORE(c1, x10, x11);
    SCALPEL__GEMM_ROW_STORE(c2, x20, x21); SCALPEL__GEMM_ROW_STORE(c3, x30, x31);
    SCALPEL__GEMM_ROW_STORE(c4, x40, x41); SCALPEL__GEMM_ROW_STORE(c5, x50, x51);
}

/* Edge blocks of C = A . B (fewer than 6 rows or 2V columns): one row at a time, two vectors,
 * the columns past `nc` masked off. */
static void scalpel__gemm_edge(const float *a, int32_t k, const float *b, size_t ldb, float *c,
                               size_t ldc, int32_t p0, int32_t p1, int32_t nr, int32_t nc)
{
    const int32_t V = SCALPEL__VW;
    int32_t i, p, n0 = nc < V ? nc : V, n1 = nc - n0;
    for (i = 0; i < nr; i++) {
        const float *ai = a + (size_t)i * (size_t)k;
        float *ci = c + (size_t)i * ldc;
        scalpel__vec x0 = SCALPEL__V(zero)(), x1 = x0;
        if (p0 > 0) {
            x0 = n0 == V ? SCALPEL__V(load)(ci) : SCALPEL__V(loadn)(ci, n0);
            if (n1 > 0) x1 = n1 == V ? SCALPEL__V(load)(ci + V) : SCALPEL__V(loadn)(ci + V, n1);
        }
        for (p = p0; p < p1; p++) {
            const float *bp = b + (size_t)p * ldb;
            scalpel__vec av = SCALPEL__V(set1)(ai[p]);
            x0 = SCALPEL__V(fma)(x0, av, n0 == V ? SCALPEL__V(load)(bp) : SCALPEL__V(loadn)(bp, n0));
            if (n1 > 0) x1 = SCALPEL__V(fma)(x1, av, n1 == V ? SCALPEL__V(load)(bp + V) : SCALPEL__V(loadn)(bp + V, n1));
        }
        if (n0 == V) SCALPEL__V(store)(ci, x0); else SCALPEL__V(storen)(ci, x0, n0);
        if (n1 == V) SCALPEL__V(store)(ci + V, x1); else if (n1 > 0) SCALPEL__V(storen)(ci + V, x1, n1);
    }
}

/* 6 rows of the last, narrower strip when it fits one vector (nc <= V columns, masked): six
 * independent FMA chains, as in the full blocks, so that a product with few columns (a 1x1
 * convolution on a 3 x 3 map: 9 columns) is not held up by the latency of one chain per row,
 * as the edge loop's would be. */
static void scalpel__gemm_6x1m(const float *a, int32_t k, const float *b, size_t ldb, float *c, size_t ldc,
                               int32_t p0, int32_t p1, int32_t nc)
{
    const float *a0 = a, *a1 = a0 + k, *a2 = a1 + k, *a3 = a2 + k, *a4 = a3 + k, *a5 = a4 + k;
    float *c0 = c, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc, *c4 = c3 + ldc, *c5 = c4 + ldc;
    scalpel__vec x0, x1, x2, x3, x4, x5;
    int32_t p;
    if (p0 > 0) {
        x0 = SCALPEL__V(loadn)(c0, nc); x1 = SCALPEL__V(loadn)(c1, nc); x2 = SCALPEL__V(loadn)(c2, nc);
        x3 = SCALPEL__V(loadn)(c3, nc); x4 = SCALPEL__V(loadn)(c4, nc); x5 = SCALPEL__V(loadn)(c5, nc);
    } else {
        x0 = x1 = x2 = x3 = x4 = x5 = SCALPEL__V(zero)();
    }
    for (p = p0; p < p1; p++) {
        scalpel__vec bv = SCALPEL__V(loadn)(b + (size_t)p * ldb, nc);
        x0 = SCALPEL__V(fma)(x0, SCALPEL__V(set1)(a0[p]), bv);
        x1 = SCALPEL__V(fma)(x1, SCALPEL__V(set1)(a1[p]), bv);
        x2 = SCALPEL__V(fma)(x2, SCALPEL__V(set1)(a2[p]), bv);
        x3 = SCALPEL__V(fma)(x3, SCALPEL__V(set1)(a3[p]), bv);
        x4 = SCALPEL__V(fma)(x4, SCALPEL__V(set1)(a4[p]), bv);
        x5 = SCALPEL__V(fma)(x5, SCALPEL__V(set1)(a5[p]), bv);
    }
    SCALPEL__V(storen)(c0, x0, nc); SCALPEL__V(storen)(c1, x1, nc); SCALPEL__V(storen)(c2, x2, nc);
    SCALPEL__V(storen)(c3, x3, nc); SCALPEL__V(storen)(c4, x4, nc); SCALPEL__V(storen)(c5, x5, nc);
}

/* The 3 x 2V and 2 x 2V blocks, for the 1..5 rows left below the last 6-row block: so that
 * those rows do not go one at a time through the edge loop, whose two FMA chains per row wait
 * on each other's latency. */
static void scalpel__gemm_3x2(const float *a, int32_t k, const float *b, size_t ldb, float *c,
                              size_t ldc, int32_t p0, int32_t p1)
{
    const int32_t V = SCALPEL__VW;
    const float *a0 = a, *a1 = a0 + k, *a2 = a1 + k;
    float *c0 = c, *c1 = c0 + ldc, *c2 = c1 + ldc;
    scalpel__vec x00, x01, x10, x11, x20, x21;
    int32_t p;
    SCALPEL__GEMM_ROW_START(c0, x00, x01); SCALPEL__GEMM_ROW_START(c1, x10, x11); SCALPEL__GEMM_ROW_START(c2, x20, x21);
    for (p = p0; p < p1; p++) {
        const float *bp = b + (size_t)p * ldb;
        scalpel__vec b0 = SCALPEL__V(load)(bp), b1 = SCALPEL__V(load)(bp + V);
        SCALPEL__GEMM_ROW_STEP(a0, x00, x01); SCALPEL__GEMM_ROW_STEP(a1, x10, x11); SCALPEL__GEMM_ROW_STEP(a2, x20, x21);
    }
    SCALPEL__GEMM_ROW_STORE(c0, x00, x01); SCALPEL__GEMM_ROW_STORE(c1, x10, x11); SCALPEL__GEMM_ROW_STORE(c2, x20, x21);
}
static void scalpel__gemm_2x2(const float *a, int32_t k, const float *b, size_t ldb, float *c,
                              size_t ldc, int32_t p0, int32_t p1)
{
    const int32_t V = SCALPEL__VW;
    const float *a0 = a, *a1 = a0 + k;
    float *c0 = c, *c1 = c0 + ldc;
    scalpel__vec x00, x01, x10, x11;
    int32_t p;
    SCALPEL__GEMM_ROW_START(c0, x00, x01); SCALPEL__GEMM_ROW_START(c1, x10, x11);
    for (p = p0; p < p1; p++) {
        const float *bp = b + (size_t)p * ldb;
        scalpel__vec b0 = SCALPEL__V(load)(bp), b1 = SCALPEL__V(load)(bp + V);
        SCALPEL__GEMM_ROW_STEP(a0, x00, x01); SCALPEL__GEMM_ROW_STEP(a1, x10, x11);
    }
    SCALPEL__GEMM_ROW_STORE(c0, x00, x01); SCALPEL__GEMM_ROW_STORE(c1, x10, x11);
}

/* C[m x n] = A[m x k] . B[k x n]: blocks of 128 k-rows keep a [128 x 2V] strip of B in L1
 * while every 6-row block of A sweeps over it. The 1..5 rows left go as register blocks of 3
 * and 2 rows (5 = 3 + 2, 4 = 2 + 2; a single row through the edge loop) on full-width strips,
 * and through the edge loop on the last, narrower strip. */
SCALPEL_API void scalpel_gemm_f32_ld(const float *a, int32_t m, int32_t k, const float *b, size_t ldb, int32_t n, float *c,
                                     size_t ldc)
{
    const int32_t V = SCALPEL__VW, KC = 128, MR = 6;
    int32_t p0, j0, i0;
    if (k == 0) {
        for (i0 = 0; i0 < m; i0++) memset(c + (size_t)i0 * ldc, 0, (size_t)n * sizeof(float));
        return;
    }
    for (p0 = 0; p0 < k; p0 += KC) {
        int32_t p1 = k - p0 < KC ? k : p0 + KC;
        for (j0 = 0; j0 < n; j0 += 2 * V) {
            int32_t nc = n - j0 < 2 * V ? n - j0 : 2 * V;
            for (i0 = 0; i0 < m; i0 += MR) {
                const float *ai = a + (size_t)i0 * (size_t)k;
                float *ci = c + (size_t)i0 * ldc + (size_t)j0;
                if (m - i0 >= MR && nc == 2 * V) scalpel__gemm_6x2(ai, k, b + j0, ldb, ci, ldc, p0, p1);
                else if (nc == 2 * V) {
                    int32_t i = i0;
                    if (m - i == 3 || m - i == 5) { scalpel__gemm_3x2(a + (size_t)i * (size_t)k, k, b + j0, ldb, c + (size_t)i * ldc + (size_t)j0, ldc, p0, p1); i += 3; }
                    for (; m - i >= 2; i += 2) scalpel__gemm_2x2(a + (size_t)i * (size_t)k, k, b + j0, ldb, c + (size_t)i * ldc + (size_t)j0, ldc, p0, p1);
                    if (m - i >= 1) scalpel__gemm_edge(a + (size_t)i * (size_t)k, k, b + j0, ldb, c + (size_t)i * ldc + (size_t)j0, ldc, p0, p1, 1, nc);
                } else if (m - i0 >= MR && nc <= V) scalpel__gemm_6x1m(ai, k, b + j0, ldb, ci, ldc, p0, p1, nc);
                else scalpel__gemm_edge(ai, k, b + j0, ldb, ci, ldc, p0, p1, m - i0 < MR ? m - i0 : MR, nc);
            }
        }
    }
}

SCALPEL_API void scalpel_gemm_f32(const float *a, int32_t m, int32_t k, const float *b, int32_t n, float *c)
{
    scalpel_gemm_f32_ld(a, m, k, b, (size_t)n, n, c, (size_t)n);
}

/* Implicit-im2col blocks of scalpel_conv_gemm_f32: R rows of A times two vectors of outputs
 * (positions d0 and d1 of C, V each, every vector within one output row), for k-rows
 * [p0, p1): k-row p reads the image at s0 + off[p - p0] and s1 + off[p - p0] (the offset of
 * channel c, window row i, tap j in the image), added to what C holds when p0 > 0. The same
 * loop as the GEMM blocks above, with B's rows found through the offsets. */
#define SCALPEL__CG_ARGS                                                                             \
    const float *a, int32_t k, const float *s0, const float *s1, const int32_t *off, float *d0,      \
        float *d1, size_t n, int32_t p0, int32_t p1
#define SCALPEL__CG_START(r, x0, x1)                                                                 \
    do {                                                                                            \
        if (p0 > 0) { x0 = SCALPEL__V(load)(d0 + (size_t)(r) * n); x1 = SCALPEL__V(load)(d1 + (size_t)(r) * n); } \
        else { x0 = SCALPEL__V(zero)(); x1 = x0; }                                                  \
    } while (0)
#define SCALPEL__CG_LOOP(STEPS)                                                                      \
    do {                                                                                            \
        int32_t p, q_;                                                                              \
        for (p = p0, q_ = 0; p < p1; p++, q_++) {                                                   \
            scalpel__vec b0 = SCALPEL__V(load)(s0 + off[q_]), b1 = SCALPEL__V(load)(s1 + off[q_]);  \
            STEPS                                                                                   \
        }                                                                                           \
    } while (0)
#define SCALPEL__CG_STORE(r, x0, x1) \
    do { SCALPEL__V(store)(d0 + (size_t)(r) * n, x0); SCALPEL__V(store)(d1 + (size_t)(r) * n, x1); } while (0)

static void scalpel__cg_6x2(SCALPEL__CG_ARGS)
{
    const float *a0 = a, *a1 = a0 + k, *a2 = a1 + k, *a3 = a2 + k, *a4 = a3 + k, *a5 = a4 + k;
    scalpel__vec x00, x01, x10, x11, x20, x21, x30, x31, x40, x41, x50, x51;
    SCALPEL__CG_START(0, x00, x01); SCALPEL__CG_START(1, x10, x11); SCALPEL__CG_START(2, x20, x21);
    SCALPEL__CG_START(3, x30, x31); SCALPEL__CG_START(4, x40, x41); SCALPEL__CG_START(5, x50, x51);
    SCALPEL__CG_LOOP(SCALPEL__GEMM_ROW_STEP(a0, x00, x01); SCALPEL__GEMM_ROW_STEP(a1, x10, x11);
                     SCALPEL__GEMM_ROW_STEP(a2, x20, x21); SCALPEL__GEMM_ROW_STEP(a3, x30, x31);
                     SCALPEL__GEMM_ROW_STEP(a4, x40, x41); SCALPEL__GEMM_ROW_STEP(a5, x50, x51););
    SCALPEL__CG_STORE(0, x00, x01); SCALPEL__CG_STORE(1, x10, x11); SCALPEL__CG_STORE(2, x20, x21);
    SCALPEL__CG_STORE(3, x30, x31); SCALPEL__CG_STORE(4, x40, x41); SCALPEL__CG_STORE(5, x50, x51);
}
static void scalpel__cg_3x2(SCALPEL__CG_ARGS)
{
    const float *a0 = a, *a1 = a0 + k, *a2 = a1 + k;
    scalpel__vec x00, x01, x10, x11, x20, x21;
    SCALPEL__CG_START(0, x00, x01); SCALPEL__CG_START(1, x10, x11); SCALPEL__CG_START(2, x20, x21);
    SCALPEL__CG_LOOP(SCALPEL__GEMM_ROW_STEP(a0, x00, x01); SCALPEL__GEMM_ROW_STEP(a1, x10, x11);
                     SCALPEL__GEMM_ROW_STEP(a2, x20, x21););
    SCALPEL__CG_STORE(0, x00, x01); SCALPEL__CG_STORE(1, x10, x11); SCALPEL__CG_STORE(2, x20, x21);
}
static void scalpel__cg_2x2(SCALPEL__CG_ARGS)
{
    const float *a0 = a, *a1 = a0 + k;
    scalpel__vec x00, x01, x10, x11;
    SCALPEL__CG_START(0, x00, x01); SCALPEL__CG_START(1, x10, x11);
    SCALPEL__CG_LOOP(SCALPEL__GEMM_ROW_STEP(a0, x00, x01); SCALPEL__GEMM_ROW_STEP(a1, x10, x11););
    SCALPEL__CG_STORE(0, x00, x01); SCALPEL__CG_STORE(1, x10, x11);
}
static void scalpel__cg_1x2(SCALPEL__CG_ARGS)
{
    scalpel__vec x00, x01;
    (void)k;
    SCALPEL__CG_START(0, x00, x01);
    SCALPEL__CG_LOOP(SCALPEL__GEMM_ROW_STEP(a, x00, x01););
    SCALPEL__CG_STORE(0, x00, x01);
}

/* C[m x (OH*OW)] = A[m x (C*K*K)] . im2col(in), stride 1, no padding. k-rows in blocks of 256
 * (their image offsets in a 1 KB table on the stack); in each, the full vectors of every output row
 * in pairs (an odd last one paired with itself: the same values stored twice), rows of A in
 * blocks of 6 (the 1..5 left as 3 + 2, 2 + 2, 3, 2 or 1). Then each output row's masked tail
 * of OW mod V outputs, one row of A at a time. */
SCALPEL_API void scalpel_conv_gemm_f32(const float *a, int32_t m, const float *in, int32_t channels, int32_t height,
                                       int32_t width, int32_t kernel, float *c)
{
    enum { KC = 256 };
    const int32_t V = SCALPEL__VW;
    int32_t oh = height - kernel + 1, ow = width - kernel + 1, per_row = ow / V, tail = ow - per_row * V;
    int32_t n_full = oh * per_row, v, i, r, y, k = channels * kernel * kernel, p0, p1, p;
    int32_t off[KC];
    size_t n = (size_t)oh * (size_t)ow;
    for (p0 = 0; p0 < k && n_full > 0; p0 = p1) {
        p1 = k - p0 < KC ? k : p0 + KC;
        for (p = p0; p < p1; p++) {
            int32_t kk = kernel * kernel, ch = p / kk, ij = p - ch * kk;
            off[p - p0] = (ch * height + ij / kernel) * width + ij % kernel;
        }
        for (v = 0; v < n_full; v += 2) {
            int32_t v1 = v + 1 < n_full ? v + 1 : v;
            size_t y0 = (size_t)(v / per_row), x0 = (size_t)(v % per_row) * (size_t)V;
            size_t y1 = (size_t)(v1 / per_row), x1 = (size_t)(v1 % per_row) * (size_t)V;
            const float *s0 = in + y0 * (size_t)width + x0, *s1 = in + y1 * (size_t)width + x1;
            for (i = 0; i < m;) {
                int32_t left = m - i, rows = left >= 6 ? 6 : (left == 3 || left == 5) ? 3 : left == 1 ? 1 : 2;
                const float *ai = a + (size_t)i * (size_t)k;
                float *d0 = c + (size_t)i * n + y0 * (size_t)ow + x0, *d1 = c + (size_t)i * n + y1 * (size_t)ow + x1;
                switch (rows) {
                case 6: scalpel__cg_6x2(ai, k, s0, s1, off, d0, d1, n, p0, p1); break;
                case 3: scalpel__cg_3x2(ai, k, s0, s1, off, d0, d1, n, p0, p1); break;
                case 2: scalpel__cg_2x2(ai, k, s0, s1, off, d0, d1, n, p0, p1); break;
                default: scalpel__cg_1x2(ai, k, s0, s1, off, d0, d1, n, p0, p1); break;
                }
                i += rows;
            }
        }
    }
    if (tail == 0) return;
    for (y = 0; y < oh; y++) {
        const float *s0 = in + (size_t)y * (size_t)width + (size_t)(per_row * V);
        for (r = 0; r < m; r++) {
            const float *ar = a + (size_t)r * (size_t)k;
            scalpel__vec x0 = SCALPEL__V(zero)();
            int32_t ch, ii, j;
            p = 0;
            for (ch = 0; ch < channels; ch++)
                for (ii = 0; ii < kernel; ii++) {
                    const float *t = s0 + ((size_t)ch * (size_t)height + (size_t)ii) * (size_t)width;
                    for (j = 0; j < kernel; j++, p++)
                        x0 = SCALPEL__V(fma)(x0, SCALPEL__V(set1)(ar[p]), SCALPEL__V(loadn)(t + j, tail));
                }
            SCALPEL__V(storen)(c + (size_t)r * n + (size_t)y * (size_t)ow + (size_t)(per_row * V), x0, tail);
        }
    }
}

/* Grouped spmv for G = W lanes: per stored group one index load, one vector load of x, one of
 * the weights and one FMA. The index width is fixed per instantiation (IT = uint16_t or
 * uint32_t) so the loop carries no branch. A row's last group may reach past `cols` (a tail):
 * its x is loaded with loadn so nothing past x[cols-1] is read. Four accumulators per row
 * (four groups per step, where G lanes fit one native register) keep four FMA chains and four
 * index-to-x loads in flight: two left
 * the core waiting on FMA latency behind each index load (Zen 4: 1.3x the dense gemv at 0%
 * pruning). Each row is one sequential stream, which the hardware prefetcher follows; four
 * rows interleaved in one loop (eight chains) were faster only at 0% pruning out of cache,
 * and slower everywhere else (measured with bench/ab). Rows go four at a time only for the
 * reduction: one transpose-and-add tree (hsum4) for four rows, which matters when a
 * hard-pruned row holds only a few groups and its own reduction would cost more than its
 * FMAs. */
/* Software prefetch of the weights SCALPEL__SPMV_PF_AHEAD floats (8 KiB) ahead, in rows of at
 * least SCALPEL__SPMV_PF_ROW stored floats (twice that for groups narrower than 16). Each
 * group's x load waits on its index load; the hardware prefetcher alone left the grouped
 * spmv at 1.2x the dense gemv's time at 0 % pruning on Zen 4, in cache and out of it. With
 * the prefetch, medians of make -C bench ab (AVX-512, G = 16): 0.77x the old time at 2048^2,
 * 0.92x at 4096^2; G = 8 0.90-1.0x; neutral at 50-90 %. Only where a group is one native
 * register (the four-chain loop): on AVX2 and SSE2 a group of 16 spans registers, and the
 * prefetch there cost up to 1.2x at 50 %. A prefetch never faults, so reading ahead past the
 * end of the values is harmless (the address is formed as an integer, never as a pointer). */
#define SCALPEL__SPMV_PF_AHEAD 2048
#define SCALPEL__SPMV_PF_ROW 1024
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__))
#define SCALPEL__PREFETCH(p, ahead) __builtin_prefetch((const void *)((uintptr_t)(p) + (ahead)), 0, 3)
#else
#define SCALPEL__PREFETCH(p, ahead) ((void)0)
#endif
#define SCALPEL__SPMV_GROUPED_IDX(W, T, IT)                                                          \
    static inline T scalpel__spmv_row_g##W##_##IT(const float *v, const IT *ci, const float *x,     \
                                                  int32_t cols, int32_t k, int32_t end)             \
    {                                                                                               \
        int32_t full = end;                                                                         \
        const int pf = (end - k) * W >= (W >= 16 ? 1 : 2) * SCALPEL__SPMV_PF_ROW;                   \
        int l;                                                                                      \
        T a0 = scalpel__v##W##_zero(), a1 = a0, a2 = a0, a3 = a0;                                   \
        if (end > k && (int64_t)ci[end - 1] + W > (int64_t)cols) full--;                            \
        /* four chains where W lanes are one native register; wider W already splits each     \
           group over several registers (and four of them would spill on SSE2's sixteen) */    \
        for (; W <= SCALPEL__VW && k + 4 <= full; k += 4) {                                        \
            const float *vk = v + (size_t)k * W;                                                    \
            if (pf)                                                                                 \
                for (l = 0; l < 4 * W; l += 16) SCALPEL__PREFETCH(vk + l, 4 * SCALPEL__SPMV_PF_AHEAD);\
            a0 = scalpel__v##W##_fma(a0, scalpel__v##W##_load(vk), scalpel__v##W##_load(x + ci[k])); \
            a1 = scalpel__v##W##_fma(a1, scalpel__v##W##_load(vk + W), scalpel__v##W##_load(x + ci[k + 1])); \
            a2 = scalpel__v##W##_fma(a2, scalpel__v##W##_load(vk + 2 * W), scalpel__v##W##_load(x + ci[k + 2])); \
            a3 = scalpel__v##W##_fma(a3, scalpel__v##W##_load(vk + 3 * W), scalpel__v##W##_load(x + ci[k + 3])); \
        }                                                                                           \
        a0 = scalpel__v##W##_add(a0, a2);                                                           \
        a1 = scalpel__v##W##_add(a1, a3);                                                           \
        for (; k + 2 <= full; k += 2) {                                                             \
            a0 = scalpel__v##W##_fma(a0, scalpel__v##W##_load(v + (size_t)k * W), scalpel__v##W##_load(x + ci[k])); \
            a1 = scalpel__v##W##_fma(a1, scalpel__v##W##_load(v + (size_t)k * W + W), scalpel__v##W##_load(x + ci[k + 1])); \
        }                                                                                           \
        if (k < full) {                                                                             \
            a0 = scalpel__v##W##_fma(a0, scalpel__v##W##_load(v + (size_t)k * W), scalpel__v##W##_load(x + ci[k])); \
            k++;                                                                                    \
        }                                                                                           \
        if (k < end)                                                                                \
            a1 = scalpel__v##W##_fma(a1, scalpel__v##W##_load(v + (size_t)k * W),                    \
                                     scalpel__v##W##_loadn(x + ci[k], cols - (int32_t)ci[k]));      \
        return scalpel__v##W##_add(a0, a1);                                                         \
    }                                                                                               \
    static void scalpel__spmv_g##W##_##IT(const scalpel_gcsr *m, const float *x, float *y)          \
    {                                                                                               \
        const float *v = (const float *)m->values;                                                  \
        const IT *ci = (const IT *)m->col_idx;                                                      \
        const int32_t *rp = m->row_ptr;                                                             \
        int32_t r = 0;                                                                              \
        for (; r + 4 <= m->rows; r += 4) {                                                          \
            T s0, s1, s2, s3;                                                                       \
            if (rp[r + 4] == rp[r]) { y[r] = y[r + 1] = y[r + 2] = y[r + 3] = 0.0f; continue; } /* common when pruned hard */ \
            s0 = scalpel__spmv_row_g##W##_##IT(v, ci, x, m->cols, rp[r], rp[r + 1]);                \
            s1 = scalpel__spmv_row_g##W##_##IT(v, ci, x, m->cols, rp[r + 1], rp[r + 2]);            \
            s2 = scalpel__spmv_row_g##W##_##IT(v, ci, x, m->cols, rp[r + 2], rp[r + 3]);            \
            s3 = scalpel__spmv_row_g##W##_##IT(v, ci, x, m->cols, rp[r + 3], rp[r + 4]);            \
            scalpel__v##W##_hsum4(s0, s1, s2, s3, y + r);                                           \
        }                                                                                           \
        for (; r < m->rows; r++)                                                                    \
            y[r] = scalpel__v##W##_hsum(scalpel__spmv_row_g##W##_##IT(v, ci, x, m->cols, rp[r], rp[r + 1])); \
    }
#define SCALPEL__SPMV_GROUPED(W, T)                                                                  \
    SCALPEL__SPMV_GROUPED_IDX(W, T, uint16_t)                                                       \
    SCALPEL__SPMV_GROUPED_IDX(W, T, uint32_t)                                                       \
    static void scalpel__spmv_g##W(const scalpel_gcsr *m, const float *x, float *y)                 \
    {                                                                                               \
        if (m->index_bits == 16) scalpel__spmv_g##W##_uint16_t(m, x, y);                            \
        else scalpel__spmv_g##W##_uint32_t(m, x, y);                                                \
    }

SCALPEL__SPMV_GROUPED(4, scalpel__v4)
SCALPEL__SPMV_GROUPED(8, scalpel__v8)
SCALPEL__SPMV_GROUPED(16, scalpel__v16)

/* C[rows x n] = W . B[cols x n]: vectorised along n, blocked so that B is read from L1.
 * Columns of B and C go in strips of up to 8V (eight vector accumulators per row); rows of B
 * in blocks of KC, a multiple of 16 (no group straddles two blocks) chosen so that the block
 * under the strip, KC x strip, fits SCALPEL__SPMM_L1_BYTES. Every row of W takes, block by
 * block, the groups whose columns fall in the block (a cursor per row; rows in chunks of
 * SCALPEL__SPMM_ROWS so the cursors live on the stack) and adds them to its C strip, loaded and
 * stored once per block in which the row has a group. Without the row blocks every stored
 * weight streamed a strip of B from L2 or L3 (a strip of 1200 rows is 600 KB), and the
 * kernel ran at a fraction of the FMA rate that L1 sustains. Group lanes past `cols` are
 * skipped, so B[cols] is never read. */
#define SCALPEL__SPMM_STRIP 8
#define SCALPEL__SPMM_L1_BYTES 16384
#define SCALPEL__SPMM_ROWS 64
/* Pack B blocks into an aligned stack buffer of SCALPEL__SPMM_L1_BYTES (not on Helium: a
 * Cortex-M stack is too small for it, and its memory has no cache lines to split). */
#if defined(SCALPEL__MVE)
#define SCALPEL__SPMM_PACK 0
#else
#define SCALPEL__SPMM_PACK 1
#endif
/* One row's groups [k, end) with columns below c1, on a piece of NV full vectors of C at cr
 * (NV = 8, 4, 2, 1): C piece += sum of w * B[col - c0], B's rows n floats apart (b points at
 * the piece's first column of B row c0, or at a packed copy of the block), the accumulators
 * named registers (an array would live on the stack: a load and a store around every FMA).
 * Returns the first group not taken. */
#define SCALPEL__SPMM_ACC_1(X) X(0)
#define SCALPEL__SPMM_ACC_2(X) X(0) X(1)
#define SCALPEL__SPMM_ACC_4(X) X(0) X(1) X(2) X(3)
#define SCALPEL__SPMM_ACC_8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define SCALPEL__SPMM_DECL(i) scalpel__vec a##i = SCALPEL__V(load)(cr + i * V);
#define SCALPEL__SPMM_FMA(i) a##i = SCALPEL__V(fma)(a##i, av, SCALPEL__V(load)(bp + i * V));
#define SCALPEL__SPMM_STORE(i) SCALPEL__V(store)(cr + i * V, a##i);
#define SCALPEL__SPMM_ROW_NV(NV)                                                                     \
    static inline int32_t scalpel__spmm_row_v##NV(const scalpel_gcsr *m, const float *v, const float *b, \
                                                  int32_t n, int32_t c0, float *cr, int32_t k,       \
                                                  int32_t end, int32_t c1)                           \
    {                                                                                               \
        const int32_t V = SCALPEL__VW, G = m->group;                                                \
        int32_t col;                                                                                \
        SCALPEL__SPMM_ACC_##NV(SCALPEL__SPMM_DECL)                                                  \
        for (; k < end && (col = (int32_t)scalpel_gcsr_col(m, k)) < c1; k++) {                      \
            const int32_t ng = m->cols - col < G ? m->cols - col : G;                               \
            const float *vk = v + (size_t)k * (size_t)G, *bp = b + (size_t)(col - c0) * (size_t)n;  \
            int32_t g;                                                                              \
            for (g = 0; g < ng; g++, bp += n) {                                                     \
                const scalpel__vec av = SCALPEL__V(set1)(vk[g]);                                    \
                SCALPEL__SPMM_ACC_##NV(SCALPEL__SPMM_FMA)                                           \
            }                                                                                       \
        }                                                                                           \
        SCALPEL__SPMM_ACC_##NV(SCALPEL__SPMM_STORE)                                                 \
        return k;                                                                                   \
    }
SCALPEL__SPMM_ROW_NV(8)
SCALPEL__SPMM_ROW_NV(4)
SCALPEL__SPMM_ROW_NV(2)
SCALPEL__SPMM_ROW_NV(1)

/* The same on a last piece of `last` < V columns (masked loads and stores). */
static inline int32_t scalpel__spmm_row_tail(const scalpel_gcsr *m, const float *v, const float *b, int32_t n,
                                             int32_t c0, float *cr, int32_t k, int32_t end, int32_t c1,
                                             int32_t last)
{
    const int32_t G = m->group;
    int32_t col;
    scalpel__vec a0 = SCALPEL__V(loadn)(cr, last);
    for (; k < end && (col = (int32_t)scalpel_gcsr_col(m, k)) < c1; k++) {
        const int32_t ng = m->cols - col < G ? m->cols - col : G;
        const float *vk = v + (size_t)k * (size_t)G, *bp = b + (size_t)(col - c0) * (size_t)n;
        int32_t g;
        for (g = 0; g < ng; g++, bp += n) a0 = SCALPEL__V(fma)(a0, SCALPEL__V(set1)(vk[g]), SCALPEL__V(loadn)(bp, last));
    }
    SCALPEL__V(storen)(cr, a0, last);
    return k;
}

/* One piece of C columns [j0, j0 + nc): nc is 8, 4, 2 or 1 full vectors, or fewer than V
 * columns. The caller cuts C into full strips of 8V and splits what is left into such pieces
 * (729 columns on AVX-512: 5 x 128 + 64 + 16 + 9), so that every piece runs on named
 * registers: a 89-column remainder on an array of accumulators took longer than a full strip
 * (measured: 128 x 1200 . 1200 x 729 at 50 % pruning, 1.88 ms against 1.46 ms for 640). */
static void scalpel__spmm_strip(const scalpel_gcsr *m, const float *b, int32_t n, float *c, int32_t j0, int32_t nc,
                                int acc_c)
{
    const int32_t V = SCALPEL__VW, G = m->group;
    const float *v = (const float *)m->values;
    const int32_t nv = nc < V ? 0 : nc / V;
    /* blocks of at most L1 size, and no more blocks than half a row's weights on average: a
       visit loads and stores the row's C piece, which two weights pay for (plain CSR at 99%
       pruning paid more for the visits than for the product) */
    const int64_t per_row = m->rows > 0 ? (int64_t)m->nnz_groups * G / m->rows : 0;
    int32_t kc = SCALPEL__SPMM_L1_BYTES / ((nv > 0 ? nv * V : V) * 4), r0, r, t, c0, cur[SCALPEL__SPMM_ROWS];
#if SCALPEL__SPMM_PACK
    float pack_mem[SCALPEL__SPMM_L1_BYTES / 4 + 16];
    float *pk = (float *)(void *)(((uintptr_t)pack_mem + 63u) & ~(uintptr_t)63u);
    int pack;
#endif
    if (per_row < 2) kc = m->cols;
    else if ((int64_t)m->cols / kc > per_row / 2) kc = (int32_t)((int64_t)m->cols / (per_row / 2));
    kc -= kc % 16;
    if (kc < 16) kc = 16;
#if SCALPEL__SPMM_PACK
    /* B's rows are not vector-aligned unless n is a multiple of V and B itself is aligned:
       every vector load of an unaligned row then spans two cache lines, and the strips ran at
       half the FMA rate that aligned rows allow. Copying each block under the piece into an
       aligned buffer costs a load and a store per element, paid back when the chunk of rows
       uses each B row of the block about twice (measured: 128 x 1200 . 1200 x 729). */
    pack = nv > 0 && (int64_t)kc * nc * 4 <= SCALPEL__SPMM_L1_BYTES &&
           (((uintptr_t)(b + j0) % ((uintptr_t)V * 4u)) != 0 || n % V != 0) &&
           per_row * (m->rows < SCALPEL__SPMM_ROWS ? m->rows : SCALPEL__SPMM_ROWS) >= 2 * (int64_t)m->cols;
#endif
    for (r0 = 0; r0 < m->rows; r0 += SCALPEL__SPMM_ROWS) {
        const int32_t r1 = m->rows - r0 < SCALPEL__SPMM_ROWS ? m->rows : r0 + SCALPEL__SPMM_ROWS;
        for (r = r0; r < r1; r++) {
            cur[r - r0] = m->row_ptr[r];
            if (!acc_c) {
                float *cr = c + (size_t)r * (size_t)n + (size_t)j0;
                for (t = 0; t < nv; t++) SCALPEL__V(store)(cr + t * V, SCALPEL__V(zero)());
                if (nv == 0) SCALPEL__V(storen)(cr, SCALPEL__V(zero)(), nc);
            }
        }
        for (c0 = 0; c0 < m->cols; c0 += kc) {
            const int32_t c1 = c0 + kc;
            const float *bb = b + (size_t)c0 * (size_t)n + (size_t)j0;
            int32_t ldb = n;
#if SCALPEL__SPMM_PACK
            if (pack) {
                const int32_t rows_b = m->cols - c0 < kc ? m->cols - c0 : kc;
                int32_t i;
                for (i = 0; i < rows_b; i++)
                    for (t = 0; t < nv; t++)
                        SCALPEL__V(store)(pk + (size_t)i * (size_t)nc + (size_t)(t * V), SCALPEL__V(load)(bb + (size_t)i * (size_t)n + (size_t)(t * V)));
                bb = pk;
                ldb = nc;
            }
#endif
            for (r = r0; r < r1; r++) {
                int32_t k = cur[r - r0];
                const int32_t end = m->row_ptr[r + 1];
                float *cr;
                if (k >= end || (int32_t)scalpel_gcsr_col(m, k) >= c1) continue;
                cr = c + (size_t)r * (size_t)n + (size_t)j0;
                switch (nv) {
                case 8: k = scalpel__spmm_row_v8(m, v, bb, ldb, c0, cr, k, end, c1); break;
                case 4: k = scalpel__spmm_row_v4(m, v, bb, ldb, c0, cr, k, end, c1); break;
                case 2: k = scalpel__spmm_row_v2(m, v, bb, ldb, c0, cr, k, end, c1); break;
                case 1: k = scalpel__spmm_row_v1(m, v, bb, ldb, c0, cr, k, end, c1); break;
                default: k = scalpel__spmm_row_tail(m, v, bb, ldb, c0, cr, k, end, c1, nc); break;
                }
                cur[r - r0] = k;
            }
        }
    }
}

/* C[rows x n] (+)= W . B, by pieces of C columns: full strips of 8V, then 4V, 2V, V and a
 * masked rest. */
static void scalpel__spmm_pieces(const scalpel_gcsr *w, const float *b, int32_t n, float *c, int acc_c)
{
    const int32_t V = SCALPEL__VW;
    int32_t j0 = 0, width;
    for (; n - j0 >= SCALPEL__SPMM_STRIP * V; j0 += SCALPEL__SPMM_STRIP * V)
        scalpel__spmm_strip(w, b, n, c, j0, SCALPEL__SPMM_STRIP * V, acc_c);
    for (width = SCALPEL__SPMM_STRIP * V / 2; width >= V; width /= 2)
        if (n - j0 >= width) {
            scalpel__spmm_strip(w, b, n, c, j0, width, acc_c);
            j0 += width;
        }
    if (j0 < n) scalpel__spmm_strip(w, b, n, c, j0, n - j0, acc_c);
}

/* The other order, for a matrix with few weights per row: each stored weight adds w * B[col]
 * to the C row, whole rows at a time (four vectors per step), as a generic CSR library does.
 * The C row stays in L1, and each B row is one contiguous stream the prefetcher follows;
 * the strips above would instead visit every B row once per strip, a short segment at a time,
 * with too few weights per row to pay for it. */
static void scalpel__spmm_rows(const scalpel_gcsr *m, const float *b, int32_t n, float *c, int acc_c)
{
    const int32_t V = SCALPEL__VW, G = m->group, body = n - n % (4 * V);
    const float *v = (const float *)m->values;
    int32_t r, k, g, j;
    for (r = 0; r < m->rows; r++) {
        float *cr = c + (size_t)r * (size_t)n;
        if (!acc_c) {
            for (j = 0; j + V <= n; j += V) SCALPEL__V(store)(cr + j, SCALPEL__V(zero)());
            if (j < n) SCALPEL__V(storen)(cr + j, SCALPEL__V(zero)(), n - j);
        }
        for (k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++) {
            /* a group at a time: the C row is read and written once per group, not per weight */
            const int32_t col = (int32_t)scalpel_gcsr_col(m, k), ng = m->cols - col < G ? m->cols - col : G;
            const float *vk = v + (size_t)k * (size_t)G, *b0 = b + (size_t)col * (size_t)n;
            for (j = 0; j < body; j += 4 * V) {
                const float *bp = b0 + j;
                scalpel__vec a0 = SCALPEL__V(load)(cr + j), a1 = SCALPEL__V(load)(cr + j + V),
                             a2 = SCALPEL__V(load)(cr + j + 2 * V), a3 = SCALPEL__V(load)(cr + j + 3 * V);
                for (g = 0; g < ng; g++, bp += n) {
                    const scalpel__vec av = SCALPEL__V(set1)(vk[g]);
                    a0 = SCALPEL__V(fma)(a0, av, SCALPEL__V(load)(bp));
                    a1 = SCALPEL__V(fma)(a1, av, SCALPEL__V(load)(bp + V));
                    a2 = SCALPEL__V(fma)(a2, av, SCALPEL__V(load)(bp + 2 * V));
                    a3 = SCALPEL__V(fma)(a3, av, SCALPEL__V(load)(bp + 3 * V));
                }
                SCALPEL__V(store)(cr + j, a0); SCALPEL__V(store)(cr + j + V, a1);
                SCALPEL__V(store)(cr + j + 2 * V, a2); SCALPEL__V(store)(cr + j + 3 * V, a3);
            }
            for (; j < n; j += V) {
                const int32_t w = n - j < V ? n - j : V;
                const float *bp = b0 + j;
                scalpel__vec a0 = SCALPEL__V(loadn)(cr + j, w);
                for (g = 0; g < ng; g++, bp += n) a0 = SCALPEL__V(fma)(a0, SCALPEL__V(set1)(vk[g]), SCALPEL__V(loadn)(bp, w));
                SCALPEL__V(storen)(cr + j, a0, w);
            }
        }
    }
}

/* The same order for G < 4 (plain CSR above all): a group is too small to pay for a pass
 * over the C row, so the row takes chunks of up to SCALPEL__SPMM_CHUNK stored weights of any
 * columns at a time (their values and B rows gathered first), and C is read and written once
 * per chunk instead of once per weight. A generic CSR library (Eigen) passes over C once per
 * weight; at 99 % pruning this order took our CSR spmm from 1.44x Eigen's time to parity.
 * For G >= 4 the gathering costs more than it saves (measured: 10-20 % slower on 1x1
 * convolution shapes), so those keep the group loop above. */
#define SCALPEL__SPMM_CHUNK 16
static void scalpel__spmm_rows_chunked(const scalpel_gcsr *m, const float *b, int32_t n, float *c, int acc_c)
{
    const int32_t V = SCALPEL__VW, G = m->group, body = n - n % (4 * V);
    const float *v = (const float *)m->values;
    const float *bp[SCALPEL__SPMM_CHUNK];
    float wv[SCALPEL__SPMM_CHUNK];
    int32_t r, k, g, j, t, cnt;
    for (r = 0; r < m->rows; r++) {
        float *cr = c + (size_t)r * (size_t)n;
        const int32_t end = m->row_ptr[r + 1];
        if (!acc_c) {
            for (j = 0; j + V <= n; j += V) SCALPEL__V(store)(cr + j, SCALPEL__V(zero)());
            if (j < n) SCALPEL__V(storen)(cr + j, SCALPEL__V(zero)(), n - j);
        }
        for (k = m->row_ptr[r], g = 0; k < end;) {
            /* the next chunk: lanes of groups in order, lanes past `cols` skipped */
            for (cnt = 0; cnt < SCALPEL__SPMM_CHUNK && k < end;) {
                const int32_t col = (int32_t)scalpel_gcsr_col(m, k), ng = m->cols - col < G ? m->cols - col : G;
                for (; g < ng && cnt < SCALPEL__SPMM_CHUNK; g++, cnt++) {
                    wv[cnt] = v[(size_t)k * (size_t)G + (size_t)g];
                    bp[cnt] = b + (size_t)(col + g) * (size_t)n;
                }
                if (g >= ng) { k++; g = 0; }
            }
            for (j = 0; j < body; j += 4 * V) {
                scalpel__vec a0 = SCALPEL__V(load)(cr + j), a1 = SCALPEL__V(load)(cr + j + V),
                             a2 = SCALPEL__V(load)(cr + j + 2 * V), a3 = SCALPEL__V(load)(cr + j + 3 * V);
                for (t = 0; t < cnt; t++) {
                    const float *p = bp[t] + j;
                    const scalpel__vec av = SCALPEL__V(set1)(wv[t]);
                    a0 = SCALPEL__V(fma)(a0, av, SCALPEL__V(load)(p));
                    a1 = SCALPEL__V(fma)(a1, av, SCALPEL__V(load)(p + V));
                    a2 = SCALPEL__V(fma)(a2, av, SCALPEL__V(load)(p + 2 * V));
                    a3 = SCALPEL__V(fma)(a3, av, SCALPEL__V(load)(p + 3 * V));
                }
                SCALPEL__V(store)(cr + j, a0); SCALPEL__V(store)(cr + j + V, a1);
                SCALPEL__V(store)(cr + j + 2 * V, a2); SCALPEL__V(store)(cr + j + 3 * V, a3);
            }
            for (; j < n; j += V) {
                const int32_t w = n - j < V ? n - j : V;
                scalpel__vec a0 = SCALPEL__V(loadn)(cr + j, w);
                for (t = 0; t < cnt; t++) a0 = SCALPEL__V(fma)(a0, SCALPEL__V(set1)(wv[t]), SCALPEL__V(loadn)(bp[t] + j, w));
                SCALPEL__V(storen)(cr + j, a0, w);
            }
        }
    }
}

/* Which order. For G >= 4, scalpel__spmm_rows below SCALPEL__SPMM_ROWS_BELOW stored weights
 * per row on average, or below SCALPEL__SPMM_ROWS_WIDE_BELOW when C is at least four strips
 * wide (each piece of C is one more pass over W, whose few weights per row then do not pay
 * for it); else the strips. Measured with make -C bench ab on Zen 4 (AVX-512) after the
 * strips gained pieces and packing: at 128 x 128 . 128 x 144 the strips took 0.61x the rows'
 * time at 70 % and 0.71x at 90 % (12.8 weights a row), 64 x 32 . 32 x 64 0.63-0.74x; at
 * 128 x 1200 . 1200 x 729, 99 % (12 a row) the rows stay 8-15 % faster, and at 1.3 a row
 * (128 x 128, 99 %) 2x faster. For G < 4 the chunked rows take over below
 * SCALPEL__SPMM_CHUNKED_BELOW weights per row (or for narrow C): plain CSR at
 * 128 x 1200 . 1200 x 729 ran 0.55x of the strips' time at 99 % (12 weights a row), 0.83x at
 * 90 % (120) and 1.22x at 70 % (360). Except when C is exactly one strip wide: the strip then
 * holds the whole C row in registers across a block of weights, and the chunks ran 1.2-1.7x
 * its time (AVX2, 64 x 32 . 32 x 64). */
#define SCALPEL__SPMM_ROWS_BELOW 4
#define SCALPEL__SPMM_ROWS_WIDE_BELOW 16
#define SCALPEL__SPMM_CHUNKED_BELOW 160

static void scalpel__gcsr_spmm(const scalpel_gcsr *w, const float *b, int32_t n, float *c, int acc_c)
{
    const int32_t S = SCALPEL__SPMM_STRIP * SCALPEL__VW;
    const int64_t stored = (int64_t)w->nnz_groups * w->group;
    if (w->rows > 0 && w->group >= 4 &&
        (stored < (int64_t)SCALPEL__SPMM_ROWS_BELOW * w->rows ||
         (stored < (int64_t)SCALPEL__SPMM_ROWS_WIDE_BELOW * w->rows && n >= 4 * S))) {
        scalpel__spmm_rows(w, b, n, c, acc_c);
        return;
    }
    if (w->rows > 0 && w->group < 4 && n != S &&
        (stored < (int64_t)SCALPEL__SPMM_CHUNKED_BELOW * w->rows || n <= 2 * S)) {
        scalpel__spmm_rows_chunked(w, b, n, c, acc_c);
        return;
    }
    scalpel__spmm_pieces(w, b, n, c, acc_c);
}

SCALPEL_API void scalpel_gcsr_spmm_f32(const scalpel_gcsr *w, const float *b, int32_t n, float *c)
{
    scalpel__gcsr_spmm(w, b, n, c, 0);
}

/* C[rows x n] += W . B[cols x n] */
static void scalpel__gcsr_spmm_acc(const scalpel_gcsr *w, const float *b, int32_t n, float *c)
{
    scalpel__gcsr_spmm(w, b, n, c, 1);
}

#if defined(SCALPEL__SIMDE) && defined(__AVX2__)
/* Plain CSR (G = 1) with AVX2 gathers: eight stored weights per step, their column indices
 * widened to 32 bits, x gathered at them (every index is < cols, so no lane reads past x),
 * two accumulators. The traditional baseline deserves the best kernel we can give it. */
#define SCALPEL__SPMV_CSR_GATHER(IT, WIDEN)                                                          \
    static void scalpel__spmv_csr_##IT(const scalpel_gcsr *m, const float *x, float *y, int acc)    \
    {                                                                                               \
        const float *v = (const float *)m->values;                                                  \
        const IT *ci = (const IT *)m->col_idx;                                                      \
        int32_t r;                                                                                  \
        for (r = 0; r < m->rows; r++) {                                                             \
            int32_t k = m->row_ptr[r], end = m->row_ptr[r + 1];                                     \
            simde__m256 a0 = simde_mm256_setzero_ps(), a1 = a0;                                     \
            float s = 0.0f;                                                                         \
            for (; k + 16 <= end; k += 16) {                                                        \
                a0 = simde_mm256_fmadd_ps(simde_mm256_loadu_ps(v + k),                              \
                                          simde_mm256_i32gather_ps(x, WIDEN(ci + k), 4), a0);        \
                a1 = simde_mm256_fmadd_ps(simde_mm256_loadu_ps(v + k + 8),                          \
                                          simde_mm256_i32gather_ps(x, WIDEN(ci + k + 8), 4), a1);    \
            }                                                                                       \
            if (k + 8 <= end) {                                                                     \
                a0 = simde_mm256_fmadd_ps(simde_mm256_loadu_ps(v + k),                              \
                                          simde_mm256_i32gather_ps(x, WIDEN(ci + k), 4), a0);        \
                k += 8;                                                                             \
            }                                                                                       \
            for (; k < end; k++) s += v[k] * x[ci[k]];                                              \
            y[r] = (acc ? y[r] : 0.0f) + (scalpel__v8_hsum(simde_mm256_add_ps(a0, a1)) + s);        \
        }                                                                                           \
    }
#define SCALPEL__WIDEN16(p) simde_mm256_cvtepu16_epi32(simde_mm_loadu_si128((const simde__m128i *)(const void *)(p)))
#define SCALPEL__WIDEN32(p) simde_mm256_loadu_si256((const simde__m256i *)(const void *)(p))
SCALPEL__SPMV_CSR_GATHER(uint16_t, SCALPEL__WIDEN16)
SCALPEL__SPMV_CSR_GATHER(uint32_t, SCALPEL__WIDEN32)
#define SCALPEL__CSR_GATHER 1
#endif

#endif /* SCALPEL__VEC */

static inline void scalpel__copy_span_f32(float *d, const float *s, int32_t n)
{
#if defined(SCALPEL__VEC)
    const int32_t V = SCALPEL__VW;
    int32_t k = 0;
    for (; k + V <= n; k += V) SCALPEL__V(store)(d + k, SCALPEL__V(load)(s + k));
#if SCALPEL__VW > 8
    if (k + 8 <= n) { scalpel__v8_store(d + k, scalpel__v8_load(s + k)); k += 8; } /* LeNet-5's conv2: spans of 8 */
#endif
    if (k < n) SCALPEL__V(storen)(d + k, SCALPEL__V(loadn)(s + k, n - k), n - k);
#else
    memcpy(d, s, (size_t)n * sizeof(float));
#endif
}


/* ---- im2col of a general window -------------------------------------------------------------
 * Each tap's output columns inside the input are worked out once, so every output row of a
 * tap is a zero span, a copy (contiguous at stride 1) and a zero span, with no test per
 * element; spans are copied and cleared a vector at a time (no library call per row: 3x3
 * convolutions on small maps copy thousands of spans of 8 floats). */
/* d[0..n) = v */
static inline void scalpel__fill_span_f32(float *d, int32_t n, float v)
{
    int32_t k = 0;
#if defined(SCALPEL__VEC)
    const scalpel__vec vv = SCALPEL__V(set1)(v);
    for (; k + SCALPEL__VW <= n; k += SCALPEL__VW) SCALPEL__V(store)(d + k, vv);
    if (k < n) SCALPEL__V(storen)(d + k, vv, n - k);
#else
    for (; k < n; k++) d[k] = v;
#endif
}

static inline void scalpel__zero_span_f32(float *d, int32_t n)
{
    int32_t k = 0;
#if defined(SCALPEL__VEC)
    for (; k + SCALPEL__VW <= n; k += SCALPEL__VW) SCALPEL__V(store)(d + k, SCALPEL__V(zero)());
    if (k < n) SCALPEL__V(storen)(d + k, SCALPEL__V(zero)(), n - k);
#else
    for (; k < n; k++) d[k] = 0.0f;
#endif
}

/* d[t] = s[t * sw] for t < n: the columns of a strided window. At stride 2 on AVX-512, 16
 * columns from two masked loads and a permute (reading s[0 .. 2n - 2] only); plain C
 * otherwise. */
static void scalpel__strided_copy_f32(float *d, const float *s, int32_t n, int32_t sw)
{
    int32_t t = 0;
#if SCALPEL__VW == 16 && defined(__AVX512F__)
    if (sw == 2) {
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        for (; t < n; t += 16) {
            const int32_t m = n - t < 16 ? n - t : 16, span = 2 * m - 1;
            const __mmask16 mlo = (__mmask16)(span >= 16 ? 0xFFFFu : (1u << span) - 1u);
            const __mmask16 mhi = (__mmask16)(span > 16 ? (1u << (span - 16)) - 1u : 0u);
            const __m512 lo = _mm512_maskz_loadu_ps(mlo, s + 2 * t), hi = _mm512_maskz_loadu_ps(mhi, s + 2 * t + 16);
            _mm512_mask_storeu_ps(d + t, (__mmask16)((1u << m) - 1u), _mm512_permutex2var_ps(lo, even, hi));
        }
    }
#endif
    for (; t < n; t++) d[t] = s[(size_t)t * (size_t)sw];
}

SCALPEL_API void scalpel_im2col_window_f32(const float *x, int32_t h, int32_t w, int32_t c0, int32_t cn,
                                           const scalpel_conv_window *win, int32_t oh, int32_t ow, int32_t p0, int32_t np,
                                           float *col, size_t ld)
{
    const int32_t sw = win->sw;
    int32_t ch, i, j;
    (void)oh;
    for (ch = 0; ch < cn; ch++) {
        const float *plane = x + (size_t)(c0 + ch) * (size_t)h * (size_t)w;
        for (i = 0; i < win->kh; i++)
            for (j = 0; j < win->kw; j++) {
                float *dst = col + ((size_t)(ch * win->kh + i) * (size_t)win->kw + (size_t)j) * ld;
                int32_t dx = j * win->dw - win->pl, xa, xb, oy = p0 / ow, ox = p0 - oy * ow, left = np;
                /* dst[base + t] is output column t of the current output row (t >= ox) */
                int64_t base = -(int64_t)ox;
                /* the output columns ox with 0 <= ox*sw + dx < w: [xa, xb) */
                xa = dx >= 0 ? 0 : (-dx + sw - 1) / sw;
                xb = w - 1 - dx < 0 ? 0 : (w - 1 - dx) / sw + 1;
                if (xb > ow) xb = ow;
                for (; left > 0; oy++, base += ow, ox = 0) { /* one output row (or its part in the block) */
                    int32_t xe = left < ow - ox ? ox + left : ow, lo, hi;
                    int32_t iy = oy * win->sh + i * win->dh - win->pt;
                    left -= xe - ox;
                    if (iy < 0 || iy >= h) {
                        scalpel__zero_span_f32(dst + (base + ox), xe - ox);
                        continue;
                    }
                    lo = xa < ox ? ox : xa > xe ? xe : xa;
                    hi = xb < lo ? lo : xb > xe ? xe : xb;
                    if (lo > ox) scalpel__zero_span_f32(dst + (base + ox), lo - ox);
                    if (sw == 1) {
                        if (hi > lo) scalpel__copy_span_f32(dst + (base + lo), plane + (size_t)iy * (size_t)w + (lo + dx), hi - lo);
                    } else {
                        if (hi > lo)
                            scalpel__strided_copy_f32(dst + (base + lo), plane + (size_t)iy * (size_t)w + (size_t)((int64_t)lo * sw + dx),
                                                      hi - lo, sw);
                    }
                    if (xe > hi) scalpel__zero_span_f32(dst + (base + hi), xe - hi);
                }
            }
    }
}

/* ---- depthwise convolution (fp32) -------------------------------------------------------------
 * Per input channel, the channel is copied once into scratch, zero-padded and split into
 * sh x sw phase planes, Q_(a,b)[r][t] = padded[r*sh + a][t*sw + b], each QH x QW with
 * QH = oh + (kh-1)*dh / sh and QW = ow + (kw-1)*dw / sw. Tap (i, j) of output (oy, ox) then
 * reads Q_(i*dh % sh, j*dw % sw)[oy + i*dh / sh][ox + j*dw / sw]: at any stride, every tap
 * reads the plane at a fixed offset. The outputs are computed over rows QW wide (the QW - ow
 * extra columns of each row are computed and dropped), so that the whole plane is one flat
 * run of oh*QW values, a vector at a time with one weight broadcast per tap: small maps (5
 * columns in DS-CNN, 3 in MobileNet's last layers) use whole vectors too. The valid columns are
 * then copied to y. */

/* Where tap `tap` (row-major in the kh x kw window) reads, from the start of the phase planes. */
static size_t scalpel__dw_tap_offset(const scalpel_conv_window *win, int32_t tap, size_t qplane, int32_t qw)
{
    const int32_t offy = (tap / win->kw) * win->dh, offx = (tap % win->kw) * win->dw;
    return ((size_t)(offy % win->sh) * (size_t)win->sw + (size_t)(offx % win->sw)) * qplane +
           (size_t)(offy / win->sh) * (size_t)qw + (size_t)(offx / win->sw);
}

/* The phase planes' shape: rows QH, columns QW. */
static void scalpel__dw_shape(const scalpel_conv_window *win, int32_t oh, int32_t ow, int32_t *qh, int32_t *qw)
{
    *qh = oh + ((win->kh - 1) * win->dh) / win->sh;
    *qw = ow + ((win->kw - 1) * win->dw) / win->sw;
}

/* The channel xc [h x w] padded with `pad` and split into the sh x sw phase planes of a window
 * (above), QH x QW each, at the start of scratch. */
static void scalpel__dw_phases(const float *xc, int32_t h, int32_t w, const scalpel_conv_window *win, int32_t qh,
                               int32_t qw, float pad, float *scratch)
{
    const int32_t sh = win->sh, sw = win->sw;
    const size_t qplane = (size_t)qh * (size_t)qw;
    int32_t a, bq, r;
    if (sw > 1) {
        /* strided: every plane padded in one fill, then each input row's columns dealt to
           their phases (a row's few columns per phase do not pay for a call per margin) */
        int32_t iy;
        scalpel__fill_span_f32(scratch, (int32_t)((size_t)sh * (size_t)sw * qplane), pad);
        for (iy = 0; iy < h; iy++) {
            const float *row = xc + (size_t)iy * (size_t)w;
            a = (iy + win->pt) % sh;
            r = (iy + win->pt) / sh;
            if (r >= qh) break;
            for (bq = 0; bq < sw; bq++) {
                int32_t off = bq - win->pl, t0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int32_t t1 = w - 1 - off < 0 ? 0 : (w - 1 - off) / sw + 1;
                if (t1 > qw) t1 = qw;
                if (t1 > t0)
                    scalpel__strided_copy_f32(scratch + ((size_t)a * (size_t)sw + (size_t)bq) * qplane + (size_t)r * (size_t)qw + (size_t)t0,
                                              row + (t0 * sw + off), t1 - t0, sw);
            }
        }
        return;
    }
    for (a = 0; a < sh; a++)
        for (bq = 0; bq < sw; bq++) {
            float *q = scratch + ((size_t)a * (size_t)sw + (size_t)bq) * qplane;
            for (r = 0; r < qh; r++) {
                float *dst = q + (size_t)r * (size_t)qw;
                int32_t iy = r * sh + a - win->pt;
                if (iy < 0 || iy >= h) {
                    scalpel__fill_span_f32(dst, qw, pad);
                    continue;
                }
                if (sw == 1) { /* zeros, the input row, zeros */
                    int32_t lo = win->pl < qw ? win->pl : qw, n = w < qw - lo ? w : qw - lo;
                    if (n < 0) n = 0;
                    /* inline spans, no library call: a small map's rows are a few floats */
                    if (lo > 0) scalpel__fill_span_f32(dst, lo, pad);
                    if (n > 0) scalpel__copy_span_f32(dst + lo, xc + (size_t)iy * (size_t)w, n);
                    if (lo + n < qw) scalpel__fill_span_f32(dst + lo + n, qw - lo - n, pad);
                } else { /* the columns of this phase: t with 0 <= t*sw + bq - pl < w, strided */
                    const float *row = xc + (size_t)iy * (size_t)w;
                    int32_t off = bq - win->pl, t0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
                    int32_t t1 = w - 1 - off < 0 ? 0 : (w - 1 - off) / sw + 1;
                    if (t1 > qw) t1 = qw;
                    if (t0 > t1) t0 = t1;
                    if (t0 > 0) scalpel__fill_span_f32(dst, t0, pad);
                    if (t1 > t0) scalpel__strided_copy_f32(dst + t0, row + (t0 * sw + off), t1 - t0, sw);
                    if (t1 < qw) scalpel__fill_span_f32(dst + t1, qw - t1, pad);
                }
            }
        }
}

/* Small maps (MobileNet's last layers: 6 x 6, 3 x 3) put channels in the vector lanes
 * instead: a block of VW channels is copied into a zero-padded [HP x WP x VW] map (position
 * major, channel minor), each output position is then taps vector FMAs with the block's
 * weights transposed to [taps x VW], and the [oh*ow x VW] result is copied back to the
 * channels' planes. Per channel that costs the h*w + oh*ow scalar moves, against the phase
 * planes' fixed cost per channel (about 200 cycles), which dominates a 3 x 3 map. Up to 64
 * output positions (144 where AVX-512 gathers do the transposes), one output channel per
 * input channel. */
#ifndef SCALPEL__DW_LANES_MAX /* (defined beforehand to compare the two paths) */
#if SCALPEL__VW == 16 && defined(__AVX512F__)
#define SCALPEL__DW_LANES_MAX 144 /* gathers transpose: 12 x 12 maps gain too (9.8 -> 7.9 us) */
#else
#define SCALPEL__DW_LANES_MAX 64  /* scalar transposes: 12 x 12 maps lose (11.6 -> 13.5 us, AVX2) */
#endif
#endif

#if defined(SCALPEL__VEC)
/* The padded map of the lanes path: every input position some window reads. */
static void scalpel__dw_lanes_shape(const scalpel_conv_window *win, int32_t oh, int32_t ow, int32_t *hp, int32_t *wp)
{
    *hp = (oh - 1) * win->sh + (win->kh - 1) * win->dh + 1;
    *wp = (ow - 1) * win->sw + (win->kw - 1) * win->dw + 1;
}
#endif

SCALPEL_API size_t scalpel_dwconv_f32_scratch(const scalpel_conv_window *win, int32_t oh, int32_t ow)
{
    int32_t qh, qw;
    size_t phases, lanes = 0;
    scalpel__dw_shape(win, oh, ow, &qh, &qw);
    /* the phase planes (plus one plane of slack that the last taps' vectors may read past the
       last phase: never used) and the flat output */
    phases = ((size_t)win->sh * (size_t)win->sw + 1u) * (size_t)qh * (size_t)qw + (size_t)oh * (size_t)qw + 64u;
#if defined(SCALPEL__VEC)
    if ((int64_t)oh * ow <= SCALPEL__DW_LANES_MAX) {
        int32_t hp, wp;
        scalpel__dw_lanes_shape(win, oh, ow, &hp, &wp);
        lanes = (size_t)SCALPEL__VW * ((size_t)hp * (size_t)wp + (size_t)win->kh * (size_t)win->kw + (size_t)oh * (size_t)ow);
    }
#endif
    return phases > lanes ? phases : lanes;
}

#if defined(SCALPEL__VEC)
static void scalpel__dwconv_lanes_f32(const float *x, int32_t c, int32_t h, int32_t w, const float *wt,
                                      const scalpel_conv_window *win, int32_t oh, int32_t ow, float *scratch, float *y)
{
    const int32_t V = SCALPEL__VW, taps = win->kh * win->kw, np = oh * ow;
    int32_t hp, wp, c0, l, iy, ix, oy, ox, i, j;
    float *map, *wl, *out;
    size_t mapn, k;
    size_t pos[SCALPEL__DW_LANES_MAX], toff[64];
    int32_t q;
    scalpel__dw_lanes_shape(win, oh, ow, &hp, &wp);
    mapn = (size_t)hp * (size_t)wp * (size_t)V;
    /* where each output position's window starts, and where each tap reads from there */
    for (oy = 0; oy < oh; oy++)
        for (ox = 0; ox < ow; ox++)
            pos[oy * ow + ox] = ((size_t)(oy * win->sh) * (size_t)wp + (size_t)(ox * win->sw)) * (size_t)V;
    for (i = 0; i < win->kh; i++)
        for (j = 0; j < win->kw; j++)
            toff[i * win->kw + j] = ((size_t)(i * win->dh) * (size_t)wp + (size_t)(j * win->dw)) * (size_t)V;
    map = scratch;
    wl = map + mapn;
    out = wl + (size_t)taps * (size_t)V;
    for (c0 = 0; c0 < c; c0 += V) {
        const int32_t nb = c - c0 < V ? c - c0 : V;
        /* the block's inputs, position major; lanes past the last channel stay zero */
        for (k = 0; k < mapn; k += (size_t)V) SCALPEL__V(store)(map + k, SCALPEL__V(zero)());
#if SCALPEL__VW == 16 && defined(__AVX512F__)
        if ((int64_t)h * w * V < INT32_MAX && (int64_t)taps * V < INT32_MAX) {
            /* AVX-512: the transposes by gathers, 16 channels (or positions) per instruction */
            const __mmask16 live = (__mmask16)((1u << nb) - 1u);
            const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
            const __m512i in_idx = _mm512_mullo_epi32(lane, _mm512_set1_epi32(h * w));
            const __m512i w_idx = _mm512_mullo_epi32(lane, _mm512_set1_epi32(taps));
            const float *xb = x + (size_t)c0 * (size_t)h * (size_t)w;
            for (iy = 0; iy < h && iy + win->pt < hp; iy++)
                for (ix = 0; ix < w && ix + win->pl < wp; ix++)
                    _mm512_storeu_ps(map + ((size_t)(iy + win->pt) * (size_t)wp + (size_t)(ix + win->pl)) * (size_t)V,
                                     _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, in_idx, xb + (size_t)iy * (size_t)w + (size_t)ix, 4));
            for (i = 0; i < taps; i++)
                _mm512_storeu_ps(wl + (size_t)i * (size_t)V,
                                 _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, w_idx, wt + (size_t)c0 * (size_t)taps + (size_t)i, 4));
            l = V; /* done: skip the scalar copies */
        } else
#endif
        l = 0;
        for (; l < nb; l++) {
            const float *xc = x + (size_t)(c0 + l) * (size_t)h * (size_t)w;
            for (iy = 0; iy < h && iy + win->pt < hp; iy++)
                for (ix = 0; ix < w && ix + win->pl < wp; ix++)
                    map[((size_t)(iy + win->pt) * (size_t)wp + (size_t)(ix + win->pl)) * (size_t)V + (size_t)l] =
                        xc[(size_t)iy * (size_t)w + (size_t)ix];
            for (i = 0; i < taps; i++) wl[(size_t)i * (size_t)V + (size_t)l] = wt[(size_t)(c0 + l) * (size_t)taps + (size_t)i];
        }
        for (l = nb; l < V; l++)
            for (i = 0; i < taps; i++) wl[(size_t)i * (size_t)V + (size_t)l] = 0.0f;
        /* (the gathers above left those lanes zero already: this rewrites zeros) */
        /* four output positions at a time: four independent FMA chains */
        for (q = 0; q < np; q += 4) {
            const int32_t nq = np - q < 4 ? np - q : 4;
            const float *b0, *b1, *b2, *b3;
            scalpel__vec a0 = SCALPEL__V(zero)(), a1 = a0, a2 = a0, a3 = a0;
            b0 = map + pos[q];
            b1 = map + pos[q + (nq > 1)];
            b2 = map + pos[q + (nq > 2 ? 2 : 0)];
            b3 = map + pos[q + (nq > 3 ? 3 : 0)];
            for (i = 0; i < taps; i++) {
                const scalpel__vec wv = SCALPEL__V(load)(wl + (size_t)i * (size_t)V);
                a0 = SCALPEL__V(fma)(a0, wv, SCALPEL__V(load)(b0 + toff[i]));
                a1 = SCALPEL__V(fma)(a1, wv, SCALPEL__V(load)(b1 + toff[i]));
                a2 = SCALPEL__V(fma)(a2, wv, SCALPEL__V(load)(b2 + toff[i]));
                a3 = SCALPEL__V(fma)(a3, wv, SCALPEL__V(load)(b3 + toff[i]));
            }
            SCALPEL__V(store)(out + (size_t)q * (size_t)V, a0);
            if (nq > 1) SCALPEL__V(store)(out + (size_t)(q + 1) * (size_t)V, a1);
            if (nq > 2) SCALPEL__V(store)(out + (size_t)(q + 2) * (size_t)V, a2);
            if (nq > 3) SCALPEL__V(store)(out + (size_t)(q + 3) * (size_t)V, a3);
        }
        for (l = 0; l < nb; l++) {
            float *yc = y + (size_t)(c0 + l) * (size_t)np;
            i = 0;
#if SCALPEL__VW == 16 && defined(__AVX512F__)
            {   /* a channel's outputs, 16 positions per gather */
                const __m512i q_idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                                         _mm512_set1_epi32(V));
                for (; i < np; i += 16) {
                    const int32_t n = np - i < 16 ? np - i : 16;
                    const __mmask16 m = (__mmask16)((1u << n) - 1u);
                    _mm512_mask_storeu_ps(yc + i, m, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, q_idx,
                                                                               out + (size_t)i * (size_t)V + (size_t)l, 4));
                }
            }
#endif
            for (; i < np; i++) yc[i] = out[(size_t)i * (size_t)V + (size_t)l];
        }
    }
}
#endif

SCALPEL_API void scalpel_dwconv_f32(const float *x, int32_t c, int32_t h, int32_t w, int32_t mult, const float *wt,
                                    const scalpel_conv_window *win, int32_t oh, int32_t ow, float *scratch, float *y)
{
    const int32_t sh = win->sh, sw = win->sw, kh = win->kh, kw = win->kw, taps = kh * kw;
    int32_t qh, qw, ci, m, oy, tap;
    size_t qplane, flat_n, k, toff[64];
    float *flat;
#if defined(SCALPEL__VEC)
    if (mult == 1 && (int64_t)oh * ow <= SCALPEL__DW_LANES_MAX && win->kh * win->kw <= 64) {
        scalpel__dwconv_lanes_f32(x, c, h, w, wt, win, oh, ow, scratch, y);
        return;
    }
#endif
    scalpel__dw_shape(win, oh, ow, &qh, &qw);
    qplane = (size_t)qh * (size_t)qw;
    /* where each tap reads, from the start of the phase planes (the divisions once per call,
       not per vector: up to 64 taps kept, more computed as they come) */
    for (tap = 0; tap < taps && tap < 64; tap++) toff[tap] = scalpel__dw_tap_offset(win, tap, qplane, qw);
    flat_n = (size_t)oh * (size_t)qw;
    flat = scratch + ((size_t)sh * (size_t)sw + 1u) * qplane;
    for (k = 0; k < qplane; k++) scratch[(size_t)sh * (size_t)sw * qplane + k] = 0.0f; /* the slack plane */
    for (ci = 0; ci < c; ci++) {
        const float *xc = x + (size_t)ci * (size_t)h * (size_t)w;
        scalpel__dw_phases(xc, h, w, win, qh, qw, 0.0f, scratch);
        for (m = 0; m < mult; m++) {
            int32_t o = ci * mult + m;
            const float *wo = wt + (size_t)o * (size_t)taps;
            float *yo = y + (size_t)o * (size_t)oh * (size_t)ow;
            size_t f = 0;
#if defined(SCALPEL__VEC)
            {   /* two vectors of the flat output at a time: two independent chains */
                const size_t V = (size_t)SCALPEL__VW;
                for (; f < flat_n; f += 2 * V) {
                    size_t n0 = flat_n - f < V ? flat_n - f : V, n1 = flat_n - f > V ? (flat_n - f - V < V ? flat_n - f - V : V) : 0;
                    scalpel__vec a0 = SCALPEL__V(zero)(), a1 = a0;
                    for (tap = 0; tap < taps; tap++) {
                        const float *src = scratch + (tap < 64 ? toff[tap] : scalpel__dw_tap_offset(win, tap, qplane, qw)) + f;
                        const scalpel__vec wv = SCALPEL__V(set1)(wo[tap]);
                        a0 = SCALPEL__V(fma)(a0, wv, n0 == V ? SCALPEL__V(load)(src) : SCALPEL__V(loadn)(src, (int32_t)n0));
                        if (n1 > 0)
                            a1 = SCALPEL__V(fma)(a1, wv, n1 == V ? SCALPEL__V(load)(src + V) : SCALPEL__V(loadn)(src + V, (int32_t)n1));
                    }
                    if (n0 == V) SCALPEL__V(store)(flat + f, a0); else SCALPEL__V(storen)(flat + f, a0, (int32_t)n0);
                    if (n1 == V) SCALPEL__V(store)(flat + f + V, a1); else if (n1 > 0) SCALPEL__V(storen)(flat + f + V, a1, (int32_t)n1);
                }
            }
#endif
            if (f < flat_n) { /* plain C: what the vectors did not cover, tap by tap over the run */
                size_t f0 = f;
                for (k = f0; k < flat_n; k++) flat[k] = 0.0f;
                for (tap = 0; tap < taps; tap++) {
                    const float *src = scratch + (tap < 64 ? toff[tap] : scalpel__dw_tap_offset(win, tap, qplane, qw));
                    const float wv = wo[tap];
                    for (k = f0; k < flat_n; k++) flat[k] += wv * src[k];
                }
            }
            if (qw == ow) scalpel__copy_span_f32(yo, flat, (int32_t)flat_n);
            else
                for (oy = 0; oy < oh; oy++) scalpel__copy_span_f32(yo + (size_t)oy * (size_t)ow, flat + (size_t)oy * (size_t)qw, ow);
        }
    }
}

/* ---- elementwise (fp32) -------------------------------------------------------------------------
 * One loop each: vectors, then plain C written with the same max / min semantics. */

/* the scalar max and min of the vector ones: the second operand unless a > b (a < b) */
static inline float scalpel__maxf(float a, float b) { return a > b ? a : b; }
static inline float scalpel__minf(float a, float b) { return a < b ? a : b; }

SCALPEL_API void scalpel_affine_f32(const float *x, size_t n, float a, float b, float *y)
{
    size_t k = 0;
#if defined(SCALPEL__VEC)
    const scalpel__vec av = SCALPEL__V(set1)(a), bv = SCALPEL__V(set1)(b);
    for (; k + SCALPEL__VW <= n; k += SCALPEL__VW) SCALPEL__V(store)(y + k, SCALPEL__V(add)(SCALPEL__V(mul)(SCALPEL__V(load)(x + k), av), bv));
#endif
    for (; k < n; k++) y[k] = x[k] * a + b;
}

SCALPEL_API void scalpel_add_f32(const float *x, const float *x2, size_t n, int clip, float lo, float hi, float *y)
{
    size_t k = 0;
#if defined(SCALPEL__VEC)
    const scalpel__vec lv = SCALPEL__V(set1)(lo), hv = SCALPEL__V(set1)(hi);
    for (; k + SCALPEL__VW <= n; k += SCALPEL__VW) {
        scalpel__vec v = SCALPEL__V(add)(SCALPEL__V(load)(x + k), SCALPEL__V(load)(x2 + k));
        if (clip) v = SCALPEL__V(min)(SCALPEL__V(max)(v, lv), hv);
        SCALPEL__V(store)(y + k, v);
    }
#endif
    for (; k < n; k++) {
        float v = x[k] + x2[k];
        y[k] = clip ? scalpel__minf(scalpel__maxf(v, lo), hi) : v;
    }
}

SCALPEL_API void scalpel_clip_f32(const float *x, size_t n, float lo, float hi, float *y)
{
    size_t k = 0;
#if defined(SCALPEL__VEC)
    const scalpel__vec lv = SCALPEL__V(set1)(lo), hv = SCALPEL__V(set1)(hi);
    for (; k + SCALPEL__VW <= n; k += SCALPEL__VW)
        SCALPEL__V(store)(y + k, SCALPEL__V(min)(SCALPEL__V(max)(SCALPEL__V(load)(x + k), lv), hv));
#endif
    for (; k < n; k++) y[k] = scalpel__minf(scalpel__maxf(x[k], lo), hi);
}

SCALPEL_API void scalpel_leaky_relu_f32(const float *x, size_t n, float slope, float *y)
{
    size_t k = 0;
#if defined(SCALPEL__VEC)
    const scalpel__vec zv = SCALPEL__V(zero)(), sv = SCALPEL__V(set1)(slope);
    for (; k + SCALPEL__VW <= n; k += SCALPEL__VW) {
        const scalpel__vec v = SCALPEL__V(load)(x + k);
        SCALPEL__V(store)(y + k, SCALPEL__V(fma)(SCALPEL__V(max)(v, zv), sv, SCALPEL__V(min)(v, zv)));
    }
#endif
    for (; k < n; k++) y[k] = scalpel__maxf(x[k], 0.0f) + slope * scalpel__minf(x[k], 0.0f);
}

SCALPEL_API void scalpel_hardswish_f32(const float *x, size_t n, float *y)
{
    size_t k = 0;
#if defined(SCALPEL__VEC)
    const scalpel__vec zv = SCALPEL__V(zero)(), three = SCALPEL__V(set1)(3.0f), six = SCALPEL__V(set1)(6.0f);
    const scalpel__vec sixth = SCALPEL__V(set1)(1.0f / 6.0f);
    for (; k + SCALPEL__VW <= n; k += SCALPEL__VW) {
        const scalpel__vec v = SCALPEL__V(load)(x + k);
        const scalpel__vec r = SCALPEL__V(min)(SCALPEL__V(max)(SCALPEL__V(add)(v, three), zv), six);
        SCALPEL__V(store)(y + k, SCALPEL__V(mul)(SCALPEL__V(mul)(v, r), sixth));
    }
#endif
    for (; k < n; k++) y[k] = x[k] * scalpel__minf(scalpel__maxf(x[k] + 3.0f, 0.0f), 6.0f) * (1.0f / 6.0f);
}

/* ---- pooling over any window (fp32) -----------------------------------------------------------
 * The depthwise kernel's phase planes (padded with -inf for max, 0 otherwise), then per
 * channel one flat run of oh x QW outputs, a vector at a time: the max or the sum of the taps'
 * shifted runs, times a plane of 1 / count for the means (the same for every channel, made
 * once). The pools of real networks (ceil mode, padding, 24 x 5 windows) thus run in vectors
 * like the square unpadded ones. */

SCALPEL_API size_t scalpel_pool_window_f32_scratch(const scalpel_conv_window *win, int32_t oh, int32_t ow)
{
    int32_t qh, qw;
    scalpel__dw_shape(win, oh, ow, &qh, &qw);
    /* phase planes and a slack plane, the flat run, the plane of 1 / count */
    return ((size_t)win->sh * (size_t)win->sw + 1u) * (size_t)qh * (size_t)qw + 2u * (size_t)oh * (size_t)qw + 64u;
}

SCALPEL_API void scalpel_pool_window_f32(const float *x, int32_t c, int32_t h, int32_t w, const scalpel_conv_window *win,
                                         int32_t pb, int32_t pr, int32_t op, int32_t oh, int32_t ow, float *scratch, float *y)
{
    const int32_t taps = win->kh * win->kw, is_max = op == SCALPEL_POOL_OP_MAX;
    const int32_t mean = op == SCALPEL_POOL_OP_AVG || op == SCALPEL_POOL_OP_AVG_PADS;
    const uint32_t neg_inf_bits = 0xFF800000u;
    int32_t qh, qw, ci, oy, ox, tap;
    size_t qplane, flat_n, k, toff[64];
    float *flat, *inv, pad;
    memcpy(&pad, &neg_inf_bits, sizeof pad);
    if (!is_max) pad = 0.0f;
    if (oh == 1 && ow == 1) {
        /* one window (DS-CNN's 24 x 5 average, any global pool): its cells, row by row; the
           phase planes would be sh x sw planes of one cell each */
        int32_t y0 = -win->pt < 0 ? 0 : -win->pt, y1 = win->kh - win->pt < h ? win->kh - win->pt : h;
        int32_t x0 = -win->pl < 0 ? 0 : -win->pl, x1 = win->kw - win->pl < w ? win->kw - win->pl : w, i, j;
        float scale = 1.0f;
        if (op == SCALPEL_POOL_OP_AVG) scale = 1.0f / (float)((y1 - y0) * (x1 - x0));
        if (op == SCALPEL_POOL_OP_AVG_PADS) {
            int32_t py1 = win->kh - win->pt < h + pb ? win->kh - win->pt : h + pb;
            int32_t px1 = win->kw - win->pl < w + pr ? win->kw - win->pl : w + pr;
            scale = 1.0f / (float)((py1 + win->pt) * (px1 + win->pl));
        }
        for (ci = 0; ci < c; ci++) {
            const float *xc = x + (size_t)ci * (size_t)h * (size_t)w;
            float acc = is_max ? pad : 0.0f;
            for (i = y0; i < y1; i++)
                for (j = x0; j < x1; j++) {
                    const float v = xc[(size_t)i * (size_t)w + (size_t)j];
                    acc = is_max ? (v > acc ? v : acc) : acc + v;
                }
            y[ci] = mean ? acc * scale : acc;
        }
        return;
    }
    scalpel__dw_shape(win, oh, ow, &qh, &qw);
    qplane = (size_t)qh * (size_t)qw;
    flat_n = (size_t)oh * (size_t)qw;
    flat = scratch + ((size_t)win->sh * (size_t)win->sw + 1u) * qplane;
    inv = flat + flat_n;
    for (tap = 0; tap < taps && tap < 64; tap++) toff[tap] = scalpel__dw_tap_offset(win, tap, qplane, qw);
    for (k = 0; k < qplane; k++) scratch[(size_t)win->sh * (size_t)win->sw * qplane + k] = pad; /* the slack plane */
    if (mean)
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < qw; ox++) { /* the count of each window (QW - ow dropped columns: 1) */
                int32_t ys = oy * win->sh - win->pt, xs = ox * win->sw - win->pl, y0, y1, x0, x1;
                if (op == SCALPEL_POOL_OP_AVG) { y0 = 0; y1 = h; x0 = 0; x1 = w; }
                else { y0 = -win->pt; y1 = h + pb; x0 = -win->pl; x1 = w + pr; }
                if (ys > y0) y0 = ys;
                if (ys + win->kh < y1) y1 = ys + win->kh;
                if (xs > x0) x0 = xs;
                if (xs + win->kw < x1) x1 = xs + win->kw;
                inv[(size_t)oy * (size_t)qw + (size_t)ox] =
                    ox < ow && y1 > y0 && x1 > x0 ? 1.0f / (float)((y1 - y0) * (x1 - x0)) : 1.0f;
            }
    for (ci = 0; ci < c; ci++) {
        float *yc = y + (size_t)ci * (size_t)oh * (size_t)ow;
        size_t f = 0;
        scalpel__dw_phases(x + (size_t)ci * (size_t)h * (size_t)w, h, w, win, qh, qw, pad, scratch);
#if defined(SCALPEL__VEC)
        for (; f < flat_n; f += (size_t)SCALPEL__VW) {
            const int32_t n = flat_n - f < (size_t)SCALPEL__VW ? (int32_t)(flat_n - f) : SCALPEL__VW;
            scalpel__vec acc = n == SCALPEL__VW ? SCALPEL__V(load)(scratch + toff[0] + f) : SCALPEL__V(loadn)(scratch + toff[0] + f, n);
            for (tap = 1; tap < taps; tap++) {
                const float *src = scratch + (tap < 64 ? toff[tap] : scalpel__dw_tap_offset(win, tap, qplane, qw)) + f;
                const scalpel__vec v = n == SCALPEL__VW ? SCALPEL__V(load)(src) : SCALPEL__V(loadn)(src, n);
                acc = is_max ? SCALPEL__V(max)(acc, v) : SCALPEL__V(add)(acc, v);
            }
            if (mean) acc = SCALPEL__V(mul)(acc, n == SCALPEL__VW ? SCALPEL__V(load)(inv + f) : SCALPEL__V(loadn)(inv + f, n));
            if (n == SCALPEL__VW) SCALPEL__V(store)(flat + f, acc); else SCALPEL__V(storen)(flat + f, acc, n);
        }
#endif
        for (; f < flat_n; f++) { /* plain C */
            float acc = scratch[toff[0] + f];
            for (tap = 1; tap < taps; tap++) {
                const float v = scratch[(tap < 64 ? toff[tap] : scalpel__dw_tap_offset(win, tap, qplane, qw)) + f];
                acc = is_max ? (v > acc ? v : acc) : acc + v;
            }
            flat[f] = mean ? acc * inv[f] : acc;
        }
        if (qw == ow) scalpel__copy_span_f32(yc, flat, (int32_t)flat_n);
        else
            for (oy = 0; oy < oh; oy++) scalpel__copy_span_f32(yc + (size_t)oy * (size_t)ow, flat + (size_t)oy * (size_t)qw, ow);
    }
}

/* ---- local response normalization (fp32) ------------------------------------------------------
 * The sums of squares a vector of positions at a time (each sum in the same order as plain C),
 * then the scaling: t^0.75 = sqrt(t) * sqrt(sqrt(t)), exact to
 * a few ulp, where pow through exp and log in double cost about 60 ns per element (AlexNet's
 * two LRN layers: 476,000 elements, 9 of its 32 ms before this). */

SCALPEL_API void scalpel_lrn_scale_f32(const float *x, const float *s, size_t n, float k, float a, float beta, float *y)
{
    size_t i = 0;
#if defined(SCALPEL__SIMDE)
    if (beta == 0.75f || beta == 0.5f || beta == 1.0f) {
        const scalpel__vec kv = SCALPEL__V(set1)(k), av = SCALPEL__V(set1)(a);
        for (; i + SCALPEL__VW <= n; i += SCALPEL__VW) {
            scalpel__vec t = SCALPEL__V(fma)(kv, av, SCALPEL__V(load)(s + i)), d;
            if (beta == 1.0f) d = t;
            else {
                d = SCALPEL__V(sqrt)(t);
                if (beta == 0.75f) d = SCALPEL__V(mul)(d, SCALPEL__V(sqrt)(d));
            }
            SCALPEL__V(store)(y + i, SCALPEL__V(div)(SCALPEL__V(load)(x + i), d));
        }
    }
#endif
    for (; i < n; i++) y[i] = x[i] / (float)scalpel__pow_pos((double)(k + a * s[i]), (double)beta);
}

SCALPEL_API void scalpel_lrn_across_f32(const float *x, int32_t C, size_t plane, int32_t size, float alpha, float beta,
                                        float k, float *y)
{
    int32_t c, q, half = size / 2;
    for (c = 0; c < C; c++) {
        int32_t lo = c - half < 0 ? 0 : c - half, hi = c + half >= C ? C - 1 : c + half;
        float *yc = y + (size_t)c * plane;
        size_t p = 0;
#if defined(SCALPEL__VEC)
        for (; p + SCALPEL__VW <= plane; p += SCALPEL__VW) {
            scalpel__vec acc = SCALPEL__V(zero)();
            for (q = lo; q <= hi; q++) {
                scalpel__vec v = SCALPEL__V(load)(x + (size_t)q * plane + p);
                acc = SCALPEL__V(fma)(acc, v, v);
            }
            SCALPEL__V(store)(yc + p, acc);
        }
#endif
        for (; p < plane; p++) {
            float acc = 0.0f;
            for (q = lo; q <= hi; q++) acc += x[(size_t)q * plane + p] * x[(size_t)q * plane + p];
            yc[p] = acc;
        }
        scalpel_lrn_scale_f32(x + (size_t)c * plane, yc, plane, k, alpha / (float)size, beta, yc);
    }
}

/* ---- bias, ReLU and max pooling (fp32) -------------------------------------------------------
 * One function each on every backend: the vector loops where SCALPEL__VEC (max0 gives 0 for a
 * NaN lane, as the scalar tests do, so the paths agree bit for bit), plain C tails. */

/* y[rows x n] += b[rows] broadcast over n, then max(., 0) when relu (NaN -> 0) */
SCALPEL_API void scalpel_bias_relu_f32(float *y, const float *b, int32_t rows, int32_t n, int relu)
{
    int32_t r, p;
    if (n == 1) {
        /* batch 1: one flat pass over the rows, a vector at a time (the compiler's -O2
         * vectoriser gives up on it: y and b might overlap) */
        r = 0;
#if defined(SCALPEL__VEC)
        for (; r + SCALPEL__VW <= rows; r += SCALPEL__VW) {
            scalpel__vec v = SCALPEL__V(add)(SCALPEL__V(load)(y + r), SCALPEL__V(load)(b + r));
            SCALPEL__V(store)(y + r, relu ? SCALPEL__V(max0)(v) : v);
        }
#endif
        for (; r < rows; r++) { float v = y[r] + b[r]; y[r] = (relu && !(v > 0.0f)) ? 0.0f : v; }
        return;
    }
    for (r = 0; r < rows; r++) {
        float bias = b[r], *o = y + (size_t)r * (size_t)n;
        p = 0;
#if defined(SCALPEL__VEC)
        {   /* a convolution's feature map: its bias broadcast over a vector of positions */
            const int32_t V = SCALPEL__VW;
            scalpel__vec bv = SCALPEL__V(set1)(bias);
            if (relu)
                for (; p + V <= n; p += V) SCALPEL__V(store)(o + p, SCALPEL__V(max0)(SCALPEL__V(add)(SCALPEL__V(load)(o + p), bv)));
            else
                for (; p + V <= n; p += V) SCALPEL__V(store)(o + p, SCALPEL__V(add)(SCALPEL__V(load)(o + p), bv));
        }
#endif
        if (relu)
            for (; p < n; p++) { float v = o[p] + bias; o[p] = v > 0.0f ? v : 0.0f; }
        else
            for (; p < n; p++) o[p] += bias;
    }
}

/* y[n] = max(x[n], 0), NaN -> 0 (y may equal x: each vector is loaded before it is stored) */
SCALPEL_API void scalpel_relu_f32(const float *x, size_t n, float *y)
{
    size_t k = 0;
#if defined(SCALPEL__VEC)
    for (; k + SCALPEL__VW <= n; k += SCALPEL__VW) SCALPEL__V(store)(y + k, SCALPEL__V(max0)(SCALPEL__V(load)(x + k)));
#endif
    for (; k < n; k++) y[k] = x[k] > 0.0f ? x[k] : 0.0f;
}

/* One output row of 2x2 / stride-2 max pooling: dst[o] = the max of r0[2o], r0[2o+1], r1[2o],
 * r1[2o+1] for o < n (both input rows hold at least 2n values). Vertical max first, then the
 * even and odd lanes: four outputs per step from two loads of each row (eight with AVX2). For
 * numbers the result is the window's max, the same as the generic loop (up to the sign of a
 * zero max); with a NaN in a window it may be the NaN or the max of the others. */
static void scalpel__maxpool2_row_f32(const float *r0, const float *r1, float *dst, int32_t n)
{
    int32_t o = 0;
#if defined(SCALPEL__SIMDE)
#if defined(__AVX2__)
    for (; o + 8 <= n; o += 8) {
        simde__m256 m0 = simde_mm256_max_ps(simde_mm256_loadu_ps(r1 + 2 * o), simde_mm256_loadu_ps(r0 + 2 * o));
        simde__m256 m1 = simde_mm256_max_ps(simde_mm256_loadu_ps(r1 + 2 * o + 8), simde_mm256_loadu_ps(r0 + 2 * o + 8));
        /* per 128-bit half: [o0 o1 o4 o5 | o2 o3 o6 o7], then the 64-bit pairs back in order */
        simde__m256 m = simde_mm256_max_ps(simde_mm256_shuffle_ps(m0, m1, SIMDE_MM_SHUFFLE(3, 1, 3, 1)),
                                           simde_mm256_shuffle_ps(m0, m1, SIMDE_MM_SHUFFLE(2, 0, 2, 0)));
        simde_mm256_storeu_ps(dst + o, simde_mm256_castpd_ps(simde_mm256_permute4x64_pd(simde_mm256_castps_pd(m),
                                                                                         SIMDE_MM_SHUFFLE(3, 1, 2, 0))));
    }
#endif
    for (; o + 4 <= n; o += 4) {
        simde__m128 m0 = simde_mm_max_ps(simde_mm_loadu_ps(r1 + 2 * o), simde_mm_loadu_ps(r0 + 2 * o));
        simde__m128 m1 = simde_mm_max_ps(simde_mm_loadu_ps(r1 + 2 * o + 4), simde_mm_loadu_ps(r0 + 2 * o + 4));
        simde_mm_storeu_ps(dst + o, simde_mm_max_ps(simde_mm_shuffle_ps(m0, m1, SIMDE_MM_SHUFFLE(3, 1, 3, 1)),
                                                    simde_mm_shuffle_ps(m0, m1, SIMDE_MM_SHUFFLE(2, 0, 2, 0))));
    }
#endif
    for (; o < n; o++) {
        float a = r1[2 * o] > r0[2 * o] ? r1[2 * o] : r0[2 * o];
        float b = r1[2 * o + 1] > r0[2 * o + 1] ? r1[2 * o + 1] : r0[2 * o + 1];
        dst[o] = b > a ? b : a;
    }
}

/* y[c x oh x ow] = max over kernel x kernel windows of x[c x h x w]: 2x2 windows at stride 2
 * take the row kernel above, other shapes the plain loop of the oracle. */
SCALPEL_API void scalpel_maxpool_f32(const float *x, int32_t c, int32_t h, int32_t w, int32_t kernel, int32_t stride,
                                     float *y)
{
    int32_t ch, oy, oh, ow;
    if (h < kernel || w < kernel) return;
    if (kernel != 2 || stride != 2) {
        scalpel_maxpool_f32_ref(x, c, h, w, kernel, stride, y);
        return;
    }
    oh = h / 2;
    ow = w / 2;
    for (ch = 0; ch < c; ch++) {
        const float *src = x + (size_t)ch * (size_t)h * (size_t)w;
        float *dst = y + (size_t)ch * (size_t)oh * (size_t)ow;
        for (oy = 0; oy < oh; oy++)
            scalpel__maxpool2_row_f32(src + (size_t)(2 * oy) * (size_t)w, src + (size_t)(2 * oy + 1) * (size_t)w,
                                      dst + (size_t)oy * (size_t)ow, ow);
    }
}

/* ---- plain C fast paths (Cortex-M4/M7, SCALPEL_NO_SIMD, unknown targets) ---------------- */

/* Grouped spmv with G fixed at compile time and the index width fixed per instantiation; four
 * partial sums (per group for G = 1, per lane pair otherwise) break the add dependency chain.
 * Used for G = 1 (plain CSR) and 2 on every backend, and for every G where no vector backend
 * exists. */
#define SCALPEL__SPMV_SCALAR_IDX(G, IT)                                                              \
    static void scalpel__spmv_s##G##_##IT(const scalpel_gcsr *m, const float *x, float *y, int acc) \
    {                                                                                               \
        const float *v = (const float *)m->values;                                                  \
        const IT *ci = (const IT *)m->col_idx;                                                      \
        int32_t r, k, j;                                                                            \
        for (r = 0; r < m->rows; r++) {                                                             \
            int32_t end = m->row_ptr[r + 1], full = end;                                            \
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;                                       \
            k = m->row_ptr[r];                                                                      \
            if (end > k && (int64_t)ci[end - 1] + G > (int64_t)m->cols) full--;                    \
            if (G == 1) {                                                                           \
                for (; k + 4 <= full; k += 4) {                                                     \
                    s0 += v[k] * x[ci[k]]; s1 += v[k + 1] * x[ci[k + 1]];                           \
                    s2 += v[k + 2] * x[ci[k + 2]]; s3 += v[k + 3] * x[ci[k + 3]];                   \
                }                                                                                   \
            }                                                                                       \
            for (; k < full; k++) {                                                                 \
                const float *vk = v + (size_t)k * G, *xk = x + ci[k];                               \
                for (j = 0; j + 4 <= G; j += 4) {                                                   \
                    s0 += vk[j] * xk[j]; s1 += vk[j + 1] * xk[j + 1];                               \
                    s2 += vk[j + 2] * xk[j + 2]; s3 += vk[j + 3] * xk[j + 3];                       \
                }                                                                                   \
                for (; j < G; j++) s0 += vk[j] * xk[j];                                             \
            }                                                                                       \
            if (k < end) {                                                                          \
                int32_t c = (int32_t)ci[k];                                                         \
                for (j = 0; j < G && c + j < m->cols; j++) s0 += v[(size_t)k * G + (size_t)j] * x[c + j]; \
            }                                                                                       \
            y[r] = (acc ? y[r] : 0.0f) + ((s0 + s1) + (s2 + s3));                                   \
        }                                                                                           \
    }
#define SCALPEL__SPMV_SCALAR(G)                                                                      \
    SCALPEL__SPMV_SCALAR_IDX(G, uint16_t)                                                           \
    SCALPEL__SPMV_SCALAR_IDX(G, uint32_t)                                                           \
    static void scalpel__spmv_s##G(const scalpel_gcsr *m, const float *x, float *y, int acc)        \
    {                                                                                               \
        if (m->index_bits == 16) scalpel__spmv_s##G##_uint16_t(m, x, y, acc);                       \
        else scalpel__spmv_s##G##_uint32_t(m, x, y, acc);                                           \
    }

#if !defined(SCALPEL__CSR_GATHER)
SCALPEL__SPMV_SCALAR(1)
#endif
SCALPEL__SPMV_SCALAR(2)
#if !defined(SCALPEL__VEC)
SCALPEL__SPMV_SCALAR(4)
SCALPEL__SPMV_SCALAR(8)
SCALPEL__SPMV_SCALAR(16)
#endif

/* y[rows] = W . x[cols], W grouped-CSR: dispatch on G to a kernel compiled for that G. */
SCALPEL_API void scalpel_gcsr_spmv_f32(const scalpel_gcsr *w, const float *x, float *y)
{
    switch (w->group) {
#if defined(SCALPEL__CSR_GATHER)
    case 1:
        if (w->index_bits == 16) scalpel__spmv_csr_uint16_t(w, x, y, 0);
        else scalpel__spmv_csr_uint32_t(w, x, y, 0);
        return;
#else
    case 1: scalpel__spmv_s1(w, x, y, 0); return;
#endif
    case 2: scalpel__spmv_s2(w, x, y, 0); return;
#if defined(SCALPEL__VEC)
    case 4: scalpel__spmv_g4(w, x, y); return;
    case 8: scalpel__spmv_g8(w, x, y); return;
    case 16: scalpel__spmv_g16(w, x, y); return;
#else
    case 4: scalpel__spmv_s4(w, x, y, 0); return;
    case 8: scalpel__spmv_s8(w, x, y, 0); return;
    case 16: scalpel__spmv_s16(w, x, y, 0); return;
#endif
    default: scalpel_gcsr_spmv_f32_ref(w, x, y); return; /* unreachable for a valid matrix */
    }
}

#if !defined(SCALPEL__VEC)
/* y[rows] = W[rows x cols] . x[cols]: two rows per pass share x, two partial sums each. */
SCALPEL_API void scalpel_gemv_f32(const float *w, int32_t rows, int32_t cols, const float *x, float *y)
{
    int32_t r = 0, c;
    for (; r + 2 <= rows; r += 2) {
        const float *w0 = w + (size_t)r * (size_t)cols, *w1 = w0 + cols;
        float s0 = 0.0f, s1 = 0.0f, t0 = 0.0f, t1 = 0.0f;
        for (c = 0; c + 2 <= cols; c += 2) {
            s0 += w0[c] * x[c]; t0 += w0[c + 1] * x[c + 1];
            s1 += w1[c] * x[c]; t1 += w1[c + 1] * x[c + 1];
        }
        if (c < cols) { s0 += w0[c] * x[c]; s1 += w1[c] * x[c]; }
        y[r] = s0 + t0;
        y[r + 1] = s1 + t1;
    }
    if (r < rows) scalpel_gemv_f32_ref(w + (size_t)r * (size_t)cols, 1, cols, x, y + r);
}

/* C[m x n] = A[m x k] . B[k x n]: row i of C accumulates a[i][p] * B[p][:] (unit stride). */
SCALPEL_API void scalpel_gemm_f32_ld(const float *a, int32_t m, int32_t k, const float *b, size_t ldb, int32_t n, float *c,
                                     size_t ldc)
{
    int32_t i, p, j;
    for (i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        for (j = 0; j < n; j++) ci[j] = 0.0f;
        for (p = 0; p < k; p++) {
            const float aip = a[(size_t)i * (size_t)k + (size_t)p], *bp = b + (size_t)p * ldb;
            for (j = 0; j < n; j++) ci[j] += aip * bp[j];
        }
    }
}

SCALPEL_API void scalpel_gemm_f32(const float *a, int32_t m, int32_t k, const float *b, int32_t n, float *c)
{
    scalpel_gemm_f32_ld(a, m, k, b, (size_t)n, n, c, (size_t)n);
}

/* C[m x (OH*OW)] = A[m x (C*K*K)] . im2col(in), stride 1, no padding: without vectors there is
 * nothing to gain over the reference. */
SCALPEL_API void scalpel_conv_gemm_f32(const float *a, int32_t m, const float *in, int32_t channels, int32_t height,
                                       int32_t width, int32_t kernel, float *c)
{
    scalpel_conv_gemm_f32_ref(a, m, in, channels, height, width, kernel, c);
}

/* C[rows x n] (+)= W . B[cols x n]: row r of C accumulates w * B[col][:] per stored weight. */
static void scalpel__gcsr_spmm_plain(const scalpel_gcsr *w, const float *b, int32_t n, float *c, int acc)
{
    const float *v = (const float *)w->values;
    int32_t r, k, g, j, G = w->group;
    for (r = 0; r < w->rows; r++) {
        float *cr = c + (size_t)r * (size_t)n;
        if (!acc) for (j = 0; j < n; j++) cr[j] = 0.0f;
        for (k = w->row_ptr[r]; k < w->row_ptr[r + 1]; k++) {
            int32_t col = (int32_t)scalpel_gcsr_col(w, k);
            for (g = 0; g < G && col + g < w->cols; g++) {
                const float wv = v[(size_t)k * (size_t)G + (size_t)g], *bp = b + (size_t)(col + g) * (size_t)n;
                for (j = 0; j < n; j++) cr[j] += wv * bp[j];
            }
        }
    }
}
SCALPEL_API void scalpel_gcsr_spmm_f32(const scalpel_gcsr *w, const float *b, int32_t n, float *c)
{
    scalpel__gcsr_spmm_plain(w, b, n, c, 0);
}
static void scalpel__gcsr_spmm_acc(const scalpel_gcsr *w, const float *b, int32_t n, float *c)
{
    scalpel__gcsr_spmm_plain(w, b, n, c, 1);
}
#endif /* !SCALPEL__VEC */

/* ---- N:M structured sparsity and the exact hybrid ------------------------------------------
 * Every N:M kernel walks a row's groups * N slots; slot k sits in group k / N at the position
 * its metadata gives. Only the last group of a row can reach past `cols`; its slots are
 * bounds-checked one by one, the full groups before it are not. */

/* Sum over the slots [k0, k1) of row r that lie in full groups, plain C, four partial sums. */
static float scalpel__nm_row_plain(const scalpel_nm *w, int32_t r, const float *vr, const float *x,
                                   int32_t k0, int32_t k1)
{
    float s0 = 0.0f, s1 = 0.0f;
    const int32_t n = w->n, m = w->m;
    int32_t k = k0, j = k0 % n, g = (k0 / n) * m;   /* slot j of the group at column g */
    for (; k + 2 <= k1; k += 2) {
        s0 += vr[k] * x[g + scalpel_nm_position(w, r, k)];
        if (++j == n) { j = 0; g += m; }
        s1 += vr[k + 1] * x[g + scalpel_nm_position(w, r, k + 1)];
        if (++j == n) { j = 0; g += m; }
    }
    if (k < k1) s0 += vr[k] * x[g + scalpel_nm_position(w, r, k)];
    return s0 + s1;
}

/* The last group's slots of row r when it reaches past cols (0 when it does not). */
static float scalpel__nm_row_tail(const scalpel_nm *w, int32_t r, const float *vr, const float *x,
                                  int32_t k_full)
{
    float s = 0.0f;
    int32_t k, slots = w->groups * w->n, g = (w->groups - 1) * w->m;   /* k_full starts the last group */
    for (k = k_full; k < slots; k++) {
        int32_t c = g + scalpel_nm_position(w, r, k);
        if (c < w->cols) s += vr[k] * x[c];
    }
    return s;
}

/* y[r] (+)= s plus the tail group of row r */
static inline void scalpel__nm_put(const scalpel_nm *w, int32_t r, const float *vr, const float *x, int32_t k_full,
                                   int32_t slots, int acc, float *y, float s)
{
    if (k_full < slots) s += scalpel__nm_row_tail(w, r, vr, x, k_full);
    y[r] = (acc ? y[r] : 0.0f) + s;
}

#if defined(SCALPEL__CSR_GATHER)
/* Eight slots per step with AVX2 gathers, for N dividing 8: the eight slots then always cover
 * 8 / N whole groups, so their group offsets are one constant vector, and their positions are
 * the next 8 * index_bits bits of metadata (a whole number of bytes), spread over the lanes with
 * one variable shift. Kept for the sparse patterns (span of 8 slots over 32 columns). */
static float scalpel__nm_row_gather(const scalpel_nm *w, int32_t r, const float *vr, const float *x,
                                    int32_t k_full)
{
    const int32_t n = w->n, m = w->m, b = w->index_bits, step_cols = (8 / n) * m;
    const uint8_t *meta = w->meta + (size_t)r * (size_t)w->meta_stride;
    const simde__m256i shifts = simde_mm256_setr_epi32(0, b, 2 * b, 3 * b, 4 * b, 5 * b, 6 * b, 7 * b);
    const simde__m256i mask = simde_mm256_set1_epi32((1 << b) - 1);
    const simde__m256i offs = simde_mm256_setr_epi32(0, (1 / n) * m, (2 / n) * m, (3 / n) * m, (4 / n) * m,
                                                     (5 / n) * m, (6 / n) * m, (7 / n) * m);
    simde__m256 a0 = simde_mm256_setzero_ps(), a1 = a0;
    int32_t k = 0, base = 0, half = 0;
    for (; k + 8 <= k_full; k += 8, base += step_cols, half ^= 1) {
        const uint8_t *mp = meta + (size_t)k * (size_t)b / 8u;
        uint32_t bits = b == 1 ? mp[0] : b == 2 ? (uint32_t)mp[0] | (uint32_t)mp[1] << 8
                      : (uint32_t)mp[0] | (uint32_t)mp[1] << 8 | (uint32_t)mp[2] << 16 | (uint32_t)mp[3] << 24;
        simde__m256i pos = simde_mm256_and_si256(simde_mm256_srlv_epi32(simde_mm256_set1_epi32((int32_t)bits), shifts), mask);
        simde__m256i idx = simde_mm256_add_epi32(simde_mm256_add_epi32(pos, offs), simde_mm256_set1_epi32(base));
        simde__m256 v = simde_mm256_loadu_ps(vr + k), xv = simde_mm256_i32gather_ps(x, idx, 4);
        if (half) a1 = simde_mm256_fmadd_ps(v, xv, a1); else a0 = simde_mm256_fmadd_ps(v, xv, a0);
    }
    return scalpel__v8_hsum(simde_mm256_add_ps(a0, a1)) + scalpel__nm_row_plain(w, r, vr, x, k, k_full);
}

/* N == M: every group is whole (positions 0 .. M-1), so slot k of a full group is column k. */
static float scalpel__nm_row_dense(const float *vr, const float *x, int32_t k_full)
{
    scalpel__vec a0 = SCALPEL__V(zero)(), a1 = a0;
    int32_t k = 0;
    for (; k + 2 * SCALPEL__VW <= k_full; k += 2 * SCALPEL__VW) {
        a0 = SCALPEL__V(fma)(a0, SCALPEL__V(load)(vr + k), SCALPEL__V(load)(x + k));
        a1 = SCALPEL__V(fma)(a1, SCALPEL__V(load)(vr + k + SCALPEL__VW), SCALPEL__V(load)(x + k + SCALPEL__VW));
    }
    for (; k < k_full; k += SCALPEL__VW) {
        int32_t c = k_full - k < SCALPEL__VW ? k_full - k : SCALPEL__VW;
        a0 = SCALPEL__V(fma)(a0, SCALPEL__V(loadn)(vr + k, c), SCALPEL__V(loadn)(x + k, c));
    }
    return SCALPEL__V(hsum)(SCALPEL__V(add)(a0, a1));
}

/* Permutes instead of gathers. With N dividing the lane count V, V consecutive slots (V a
 * multiple of N, starting at a multiple of V) cover V / N whole groups: a span of V * M / N
 * consecutive columns of x from a group boundary, all inside the full groups. The span is
 * loaded as plain vectors and each lane picks its column, group offset + position, by
 * permutes: within a pair of vectors by the two-source permute (AVX-512) or two one-source
 * permutes and a blend (AVX2), between pairs by blends on the higher index bits. `pairs` is the
 * span in units of 2V columns (1, 2 or 4 on AVX-512; 1 or 2 on AVX2). */
/* the b bytes holding the positions of 8 slots, as one little-endian word */
static inline uint32_t scalpel__nm_bits8(const uint8_t *mp, int32_t b)
{
    return b == 1 ? mp[0] : b == 2 ? (uint32_t)mp[0] | (uint32_t)mp[1] << 8
         : (uint32_t)mp[0] | (uint32_t)mp[1] << 8 | (uint32_t)mp[2] << 16 | (uint32_t)mp[3] << 24;
}
static inline int32_t scalpel__nm_clamp(int32_t c, int32_t v) { return c < 0 ? 0 : c > v ? v : c; }
/* vector i of the span: whole while nc (the columns that may be read from xb) allows, else the
 * part below nc and zeros (nc is a constant past the span in the main loops) */
#define SCALPEL__NM_LD8(i) (nc >= 8 * (i) + 8 ? simde_mm256_loadu_ps(xb + 8 * (i)) \
                                              : scalpel__v8_loadn(xb + 8 * (i), scalpel__nm_clamp(nc - 8 * (i), 8)))
static inline simde__m256 scalpel__nm_x8(const float *xb, simde__m256i idx, int32_t pairs, int32_t nc)
{
    simde__m256 p = simde_mm256_permutevar8x32_ps(SCALPEL__NM_LD8(0), idx);
    p = simde_mm256_blendv_ps(p, simde_mm256_permutevar8x32_ps(SCALPEL__NM_LD8(1), idx),
                              simde_mm256_castsi256_ps(simde_mm256_slli_epi32(idx, 28)));
    if (pairs == 2) {
        simde__m256 q = simde_mm256_permutevar8x32_ps(SCALPEL__NM_LD8(2), idx);
        q = simde_mm256_blendv_ps(q, simde_mm256_permutevar8x32_ps(SCALPEL__NM_LD8(3), idx),
                                  simde_mm256_castsi256_ps(simde_mm256_slli_epi32(idx, 28)));
        p = simde_mm256_blendv_ps(p, q, simde_mm256_castsi256_ps(simde_mm256_slli_epi32(idx, 27)));
    }
    return p;
}
/* Four rows at a time: the span of a step is the same for every row (slot k is in group k / N),
 * so its vectors are loaded once and each row permutes them by its own positions. */
static inline simde__m256 scalpel__nm_pick8(simde__m256i idx, int32_t pairs, simde__m256 x0, simde__m256 x1,
                                            simde__m256 x2, simde__m256 x3)
{
    simde__m256 p = simde_mm256_blendv_ps(simde_mm256_permutevar8x32_ps(x0, idx), simde_mm256_permutevar8x32_ps(x1, idx),
                                          simde_mm256_castsi256_ps(simde_mm256_slli_epi32(idx, 28)));
    if (pairs == 2) {
        simde__m256 q = simde_mm256_blendv_ps(simde_mm256_permutevar8x32_ps(x2, idx), simde_mm256_permutevar8x32_ps(x3, idx),
                                              simde_mm256_castsi256_ps(simde_mm256_slli_epi32(idx, 28)));
        p = simde_mm256_blendv_ps(p, q, simde_mm256_castsi256_ps(simde_mm256_slli_epi32(idx, 27)));
    }
    return p;
}
/* the span's 2 * pairs vectors (zeros for the others), as SCALPEL__NM_LD8 bounds them by nc */
#define SCALPEL__NM_SPAN8() do { x0 = SCALPEL__NM_LD8(0); x1 = SCALPEL__NM_LD8(1); \
        if (pairs == 2) { x2 = SCALPEL__NM_LD8(2); x3 = SCALPEL__NM_LD8(3); } } while (0)
static inline simde__m256i scalpel__nm_idx8(const uint8_t *mp, int32_t b, simde__m256i shifts, simde__m256i mask,
                                            simde__m256i offs)
{
    return simde_mm256_or_si256(simde_mm256_and_si256(simde_mm256_srlv_epi32(simde_mm256_set1_epi32((int32_t)scalpel__nm_bits8(mp, b)), shifts), mask), offs);
}
/* the 4-row kernels are inlined into one copy per (index bits, pairs), so that the metadata
 * reads and the permutes lose their per-step branches */
#if defined(__GNUC__)
#define SCALPEL__NM_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define SCALPEL__NM_INLINE static __forceinline
#else
#define SCALPEL__NM_INLINE static inline
#endif
SCALPEL__NM_INLINE void scalpel__nm_rows4_perm8_k(const scalpel_nm *w, int32_t r, const float *x, float *y, int acc,
                                                  int32_t b, int32_t pairs, simde__m256i shifts, simde__m256i mask,
                                                  simde__m256i offs)
{
    const int32_t n = w->n, m = w->m, span = (8 / n) * m;
    const int32_t slots = w->groups * n, k_full = (w->cols / m) * n;
    const size_t mst = (size_t)w->meta_stride;
    const float *v0 = w->values + (size_t)r * (size_t)slots, *v1 = v0 + slots, *v2 = v1 + slots, *v3 = v2 + slots;
    const uint8_t *m0 = w->meta + (size_t)r * mst, *m1 = m0 + mst, *m2 = m1 + mst, *m3 = m2 + mst;
    simde__m256 a0 = simde_mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    simde__m256 x0, x1, x2 = a0, x3 = a0;
    const float *xb = x;
    int32_t k = 0, nc = 32;
    float s[4];
    for (; k + 8 <= k_full; k += 8, xb += span) {
        const size_t o = (size_t)k * (size_t)b / 8u;
        SCALPEL__NM_SPAN8();
        a0 = simde_mm256_fmadd_ps(simde_mm256_loadu_ps(v0 + k), scalpel__nm_pick8(scalpel__nm_idx8(m0 + o, b, shifts, mask, offs), pairs, x0, x1, x2, x3), a0);
        a1 = simde_mm256_fmadd_ps(simde_mm256_loadu_ps(v1 + k), scalpel__nm_pick8(scalpel__nm_idx8(m1 + o, b, shifts, mask, offs), pairs, x0, x1, x2, x3), a1);
        a2 = simde_mm256_fmadd_ps(simde_mm256_loadu_ps(v2 + k), scalpel__nm_pick8(scalpel__nm_idx8(m2 + o, b, shifts, mask, offs), pairs, x0, x1, x2, x3), a2);
        a3 = simde_mm256_fmadd_ps(simde_mm256_loadu_ps(v3 + k), scalpel__nm_pick8(scalpel__nm_idx8(m3 + o, b, shifts, mask, offs), pairs, x0, x1, x2, x3), a3);
    }
    if (k < k_full) {
        /* a last partial step as in the one-row kernel: rem slots (a multiple of N) over rem / N
         * whole groups; metadata through zeroed copies, x and values by masked loads */
        const int32_t rem = k_full - k;
        const size_t o = (size_t)k * (size_t)b / 8u, nb = (size_t)(rem * b + 7) / 8u;
        uint8_t t0[4] = { 0, 0, 0, 0 }, t1[4] = { 0, 0, 0, 0 }, t2[4] = { 0, 0, 0, 0 }, t3[4] = { 0, 0, 0, 0 };
        nc = (rem / n) * m;
        SCALPEL__NM_SPAN8();
        memcpy(t0, m0 + o, nb);
        memcpy(t1, m1 + o, nb);
        memcpy(t2, m2 + o, nb);
        memcpy(t3, m3 + o, nb);
        a0 = simde_mm256_fmadd_ps(scalpel__v8_loadn(v0 + k, rem), scalpel__nm_pick8(scalpel__nm_idx8(t0, b, shifts, mask, offs), pairs, x0, x1, x2, x3), a0);
        a1 = simde_mm256_fmadd_ps(scalpel__v8_loadn(v1 + k, rem), scalpel__nm_pick8(scalpel__nm_idx8(t1, b, shifts, mask, offs), pairs, x0, x1, x2, x3), a1);
        a2 = simde_mm256_fmadd_ps(scalpel__v8_loadn(v2 + k, rem), scalpel__nm_pick8(scalpel__nm_idx8(t2, b, shifts, mask, offs), pairs, x0, x1, x2, x3), a2);
        a3 = simde_mm256_fmadd_ps(scalpel__v8_loadn(v3 + k, rem), scalpel__nm_pick8(scalpel__nm_idx8(t3, b, shifts, mask, offs), pairs, x0, x1, x2, x3), a3);
    }
    scalpel__v8_hsum4(a0, a1, a2, a3, s);
    scalpel__nm_put(w, r, v0, x, k_full, slots, acc, y, s[0]);
    scalpel__nm_put(w, r + 1, v1, x, k_full, slots, acc, y, s[1]);
    scalpel__nm_put(w, r + 2, v2, x, k_full, slots, acc, y, s[2]);
    scalpel__nm_put(w, r + 3, v3, x, k_full, slots, acc, y, s[3]);
}
static void scalpel__nm_rows4_perm8(const scalpel_nm *w, int32_t r, const float *x, float *y, int acc, int32_t pairs,
                                    simde__m256i shifts, simde__m256i mask, simde__m256i offs)
{
    const int32_t b = w->index_bits;
    if (pairs == 1 && b == 1) scalpel__nm_rows4_perm8_k(w, r, x, y, acc, 1, 1, shifts, mask, offs);
    else if (pairs == 1 && b == 2) scalpel__nm_rows4_perm8_k(w, r, x, y, acc, 2, 1, shifts, mask, offs);
    else if (pairs == 1 && b == 4) scalpel__nm_rows4_perm8_k(w, r, x, y, acc, 4, 1, shifts, mask, offs);
    else scalpel__nm_rows4_perm8_k(w, r, x, y, acc, b, pairs, shifts, mask, offs);
}
static void scalpel__nm_spmv_perm8(const scalpel_nm *w, const float *x, float *y, int acc, int32_t pairs)
{
    const int32_t n = w->n, m = w->m, b = w->index_bits, span = (8 / n) * m;
    const int32_t slots = w->groups * n, k_full = (w->cols / m) * n;
    const simde__m256i shifts = simde_mm256_setr_epi32(0, b, 2 * b, 3 * b, 4 * b, 5 * b, 6 * b, 7 * b);
    const simde__m256i mask = simde_mm256_set1_epi32((1 << b) - 1);
    const simde__m256i offs = simde_mm256_setr_epi32(0, (1 / n) * m, (2 / n) * m, (3 / n) * m, (4 / n) * m,
                                                     (5 / n) * m, (6 / n) * m, (7 / n) * m);
    int32_t r = 0;
    for (; r + 4 <= w->rows; r += 4) scalpel__nm_rows4_perm8(w, r, x, y, acc, pairs, shifts, mask, offs);
    for (; r < w->rows; r++) {
    const float *vr = w->values + (size_t)r * (size_t)slots;
    const uint8_t *meta = w->meta + (size_t)r * (size_t)w->meta_stride;
    simde__m256 a0 = simde_mm256_setzero_ps(), a1 = a0;
    int32_t k = 0;
    const float *xb = x;
    for (; k + 16 <= k_full; k += 16, xb += 2 * span) {
        const uint8_t *mp = meta + (size_t)k * (size_t)b / 8u;
        const uint32_t u0 = scalpel__nm_bits8(mp, b), u1 = scalpel__nm_bits8(mp + b, b);
        simde__m256i i0, i1;
        i0 = simde_mm256_or_si256(simde_mm256_and_si256(simde_mm256_srlv_epi32(simde_mm256_set1_epi32((int32_t)u0), shifts), mask), offs);
        i1 = simde_mm256_or_si256(simde_mm256_and_si256(simde_mm256_srlv_epi32(simde_mm256_set1_epi32((int32_t)u1), shifts), mask), offs);
        a0 = simde_mm256_fmadd_ps(simde_mm256_loadu_ps(vr + k), scalpel__nm_x8(xb, i0, pairs, 32), a0);
        a1 = simde_mm256_fmadd_ps(simde_mm256_loadu_ps(vr + k + 8), scalpel__nm_x8(xb + span, i1, pairs, 32), a1);
    }
    for (; k < k_full; k += 8, xb += span) {
        /* the last step may be partial: rem slots (a multiple of N) over rem / N whole groups;
         * metadata through a zeroed word, x and values by masked loads, zeros beyond */
        const int32_t rem = k_full - k < 8 ? k_full - k : 8;
        uint8_t t[4] = { 0, 0, 0, 0 };
        simde__m256i i0;
        memcpy(t, meta + (size_t)k * (size_t)b / 8u, (size_t)(rem * b + 7) / 8u);
        i0 = simde_mm256_or_si256(simde_mm256_and_si256(simde_mm256_srlv_epi32(simde_mm256_set1_epi32((int32_t)scalpel__nm_bits8(t, b)), shifts), mask), offs);
        a0 = simde_mm256_fmadd_ps(scalpel__v8_loadn(vr + k, rem), scalpel__nm_x8(xb, i0, pairs, (rem / n) * m), a0);
    }
    scalpel__nm_put(w, r, vr, x, k_full, slots, acc, y, scalpel__v8_hsum(simde_mm256_add_ps(a0, a1)));
    }
}

#if defined(__AVX512F__)
/* Sixteen slots: 16 * index_bits bits of metadata (2, 4 or 8 bytes); for 4-bit positions lanes
 * 0-7 take the low 32 bits and lanes 8-15 the high 32. */
static inline simde__m512i scalpel__nm_idx16(const uint8_t *mp, int32_t b, simde__m512i shifts, simde__m512i mask,
                                             simde__m512i offs)
{
    simde__m512i lanes;
    if (b == 4) {
        int32_t lo, hi;   /* two broadcasts from memory and a blend: no shuffle-port work */
        memcpy(&lo, mp, 4);
        memcpy(&hi, mp + 4, 4);
        lanes = simde_mm512_mask_blend_epi32((simde__mmask16)0xFF00u, simde_mm512_set1_epi32(lo), simde_mm512_set1_epi32(hi));
    } else if (b == 2) {
        int32_t u;
        memcpy(&u, mp, 4);
        lanes = simde_mm512_set1_epi32(u);
    } else {
        uint16_t u;
        memcpy(&u, mp, 2);
        lanes = simde_mm512_set1_epi32((int32_t)u);
    }
    /* native zero-masked shift: the unmasked form starts from an undefined register, which GCC's
     * C++ front end reports as maybe-uninitialized (SIMDe 0.7 has no masked srlv) */
    return simde_mm512_or_si512(simde_mm512_and_si512(_mm512_maskz_srlv_epi32((__mmask16)0xFFFFu, lanes, shifts), mask), offs);
}
#define SCALPEL__NM_LD16(i) (nc >= 16 * (i) + 16 ? simde_mm512_loadu_ps(xb + 16 * (i)) \
                                                 : scalpel__v16_loadn(xb + 16 * (i), scalpel__nm_clamp(nc - 16 * (i), 16)))
static inline simde__m512 scalpel__nm_x16(const float *xb, simde__m512i idx, int32_t pairs, int32_t nc)
{
    simde__m512 p = simde_mm512_permutex2var_ps(SCALPEL__NM_LD16(0), idx, SCALPEL__NM_LD16(1));
    if (pairs >= 2) {
        const simde__mmask16 h = simde_mm512_test_epi32_mask(idx, simde_mm512_set1_epi32(32));
        simde__m512 q = simde_mm512_permutex2var_ps(SCALPEL__NM_LD16(2), idx, SCALPEL__NM_LD16(3));
        p = simde_mm512_mask_blend_ps(h, p, q);
        if (pairs == 4) {
            simde__m512 p2 = simde_mm512_permutex2var_ps(SCALPEL__NM_LD16(4), idx, SCALPEL__NM_LD16(5));
            simde__m512 q2 = simde_mm512_permutex2var_ps(SCALPEL__NM_LD16(6), idx, SCALPEL__NM_LD16(7));
            p = simde_mm512_mask_blend_ps(simde_mm512_test_epi32_mask(idx, simde_mm512_set1_epi32(64)), p,
                                          simde_mm512_mask_blend_ps(h, p2, q2));
        }
    }
    return p;
}
/* Four rows at a time, as scalpel__nm_rows4_perm8 */
static inline simde__m512 scalpel__nm_pick16(simde__m512i idx, int32_t pairs, simde__m512 x0, simde__m512 x1,
                                             simde__m512 x2, simde__m512 x3, simde__m512 x4, simde__m512 x5,
                                             simde__m512 x6, simde__m512 x7)
{
    simde__m512 p = simde_mm512_permutex2var_ps(x0, idx, x1);
    if (pairs >= 2) {
        const simde__mmask16 h = simde_mm512_test_epi32_mask(idx, simde_mm512_set1_epi32(32));
        p = simde_mm512_mask_blend_ps(h, p, simde_mm512_permutex2var_ps(x2, idx, x3));
        if (pairs == 4)
            p = simde_mm512_mask_blend_ps(simde_mm512_test_epi32_mask(idx, simde_mm512_set1_epi32(64)), p,
                                          simde_mm512_mask_blend_ps(h, simde_mm512_permutex2var_ps(x4, idx, x5),
                                                                    simde_mm512_permutex2var_ps(x6, idx, x7)));
    }
    return p;
}
#define SCALPEL__NM_SPAN16() do { x0 = SCALPEL__NM_LD16(0); x1 = SCALPEL__NM_LD16(1); \
        if (pairs >= 2) { x2 = SCALPEL__NM_LD16(2); x3 = SCALPEL__NM_LD16(3); \
            if (pairs == 4) { x4 = SCALPEL__NM_LD16(4); x5 = SCALPEL__NM_LD16(5); \
                              x6 = SCALPEL__NM_LD16(6); x7 = SCALPEL__NM_LD16(7); } } } while (0)
#define SCALPEL__NM_X16 x0, x1, x2, x3, x4, x5, x6, x7
SCALPEL__NM_INLINE void scalpel__nm_rows4_perm16_k(const scalpel_nm *w, int32_t r, const float *x, float *y, int acc,
                                                   int32_t b, int32_t pairs, simde__m512i sh, simde__m512i mask,
                                                   simde__m512i offs)
{
    const int32_t n = w->n, m = w->m, span = (16 / n) * m;
    const int32_t slots = w->groups * n, k_full = (w->cols / m) * n;
    const size_t mst = (size_t)w->meta_stride;
    const float *v0 = w->values + (size_t)r * (size_t)slots, *v1 = v0 + slots, *v2 = v1 + slots, *v3 = v2 + slots;
    const uint8_t *m0 = w->meta + (size_t)r * mst, *m1 = m0 + mst, *m2 = m1 + mst, *m3 = m2 + mst;
    simde__m512 a0 = simde_mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    simde__m512 x0, x1, x2 = a0, x3 = a0, x4 = a0, x5 = a0, x6 = a0, x7 = a0;
    const float *xb = x;
    int32_t k = 0, nc = 128;
    float s[4];
    for (; k + 16 <= k_full; k += 16, xb += span) {
        const size_t o = (size_t)k * (size_t)b / 8u;
        SCALPEL__NM_SPAN16();
        a0 = simde_mm512_fmadd_ps(simde_mm512_loadu_ps(v0 + k), scalpel__nm_pick16(scalpel__nm_idx16(m0 + o, b, sh, mask, offs), pairs, SCALPEL__NM_X16), a0);
        a1 = simde_mm512_fmadd_ps(simde_mm512_loadu_ps(v1 + k), scalpel__nm_pick16(scalpel__nm_idx16(m1 + o, b, sh, mask, offs), pairs, SCALPEL__NM_X16), a1);
        a2 = simde_mm512_fmadd_ps(simde_mm512_loadu_ps(v2 + k), scalpel__nm_pick16(scalpel__nm_idx16(m2 + o, b, sh, mask, offs), pairs, SCALPEL__NM_X16), a2);
        a3 = simde_mm512_fmadd_ps(simde_mm512_loadu_ps(v3 + k), scalpel__nm_pick16(scalpel__nm_idx16(m3 + o, b, sh, mask, offs), pairs, SCALPEL__NM_X16), a3);
    }
    if (k < k_full) {
        /* the last partial step, as in the one-row kernel */
        const int32_t rem = k_full - k;
        const size_t o = (size_t)k * (size_t)b / 8u, nb = (size_t)(rem * b + 7) / 8u;
        uint8_t t0[8] = { 0, 0, 0, 0, 0, 0, 0, 0 }, t1[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
        uint8_t t2[8] = { 0, 0, 0, 0, 0, 0, 0, 0 }, t3[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
        nc = (rem / n) * m;
        SCALPEL__NM_SPAN16();
        memcpy(t0, m0 + o, nb);
        memcpy(t1, m1 + o, nb);
        memcpy(t2, m2 + o, nb);
        memcpy(t3, m3 + o, nb);
        a0 = simde_mm512_fmadd_ps(scalpel__v16_loadn(v0 + k, rem), scalpel__nm_pick16(scalpel__nm_idx16(t0, b, sh, mask, offs), pairs, SCALPEL__NM_X16), a0);
        a1 = simde_mm512_fmadd_ps(scalpel__v16_loadn(v1 + k, rem), scalpel__nm_pick16(scalpel__nm_idx16(t1, b, sh, mask, offs), pairs, SCALPEL__NM_X16), a1);
        a2 = simde_mm512_fmadd_ps(scalpel__v16_loadn(v2 + k, rem), scalpel__nm_pick16(scalpel__nm_idx16(t2, b, sh, mask, offs), pairs, SCALPEL__NM_X16), a2);
        a3 = simde_mm512_fmadd_ps(scalpel__v16_loadn(v3 + k, rem), scalpel__nm_pick16(scalpel__nm_idx16(t3, b, sh, mask, offs), pairs, SCALPEL__NM_X16), a3);
    }
    scalpel__v16_hsum4(a0, a1, a2, a3, s);
    scalpel__nm_put(w, r, v0, x, k_full, slots, acc, y, s[0]);
    scalpel__nm_put(w, r + 1, v1, x, k_full, slots, acc, y, s[1]);
    scalpel__nm_put(w, r + 2, v2, x, k_full, slots, acc, y, s[2]);
    scalpel__nm_put(w, r + 3, v3, x, k_full, slots, acc, y, s[3]);
}
static void scalpel__nm_rows4_perm16(const scalpel_nm *w, int32_t r, const float *x, float *y, int acc, int32_t pairs,
                                     simde__m512i sh, simde__m512i mask, simde__m512i offs)
{
    /* the (index bits, pairs) that scalpel__nm_spmv sends here: 1:2; 2:4, 1:4; 4:8, 2:8, 1:8 and
     * 8:16, 4:16, 2:16 */
    switch (w->index_bits * 8 + pairs) {
    case 1 * 8 + 1: scalpel__nm_rows4_perm16_k(w, r, x, y, acc, 1, 1, sh, mask, offs); break;
    case 2 * 8 + 1: scalpel__nm_rows4_perm16_k(w, r, x, y, acc, 2, 1, sh, mask, offs); break;
    case 2 * 8 + 2: scalpel__nm_rows4_perm16_k(w, r, x, y, acc, 2, 2, sh, mask, offs); break;
    case 4 * 8 + 1: scalpel__nm_rows4_perm16_k(w, r, x, y, acc, 4, 1, sh, mask, offs); break;
    case 4 * 8 + 2: scalpel__nm_rows4_perm16_k(w, r, x, y, acc, 4, 2, sh, mask, offs); break;
    case 4 * 8 + 4: scalpel__nm_rows4_perm16_k(w, r, x, y, acc, 4, 4, sh, mask, offs); break;
    default: scalpel__nm_rows4_perm16_k(w, r, x, y, acc, w->index_bits, pairs, sh, mask, offs); break;
    }
}
static void scalpel__nm_spmv_perm16(const scalpel_nm *w, const float *x, float *y, int acc, int32_t pairs)
{
    const int32_t n = w->n, m = w->m, b = w->index_bits, span = (16 / n) * m;
    const int32_t slots = w->groups * n, k_full = (w->cols / m) * n;
    const int32_t s = b == 4 ? 0 : b;   /* 4-bit fields restart at lane 8 (high word) */
    const simde__m512i shifts = simde_mm512_setr_epi32(0, b, 2 * b, 3 * b, 4 * b, 5 * b, 6 * b, 7 * b,
                                                       8 * s, 9 * s, 10 * s, 11 * s, 12 * s, 13 * s, 14 * s, 15 * s);
    const simde__m512i shifts_hi = b == 4 ? simde_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 8, 12, 16, 20, 24, 28)
                                          : simde_mm512_setzero_si512();
    const simde__m512i sh = simde_mm512_add_epi32(shifts, shifts_hi);
    const simde__m512i mask = simde_mm512_set1_epi32((1 << b) - 1);
    const simde__m512i offs = simde_mm512_setr_epi32(0, (1 / n) * m, (2 / n) * m, (3 / n) * m, (4 / n) * m,
                                                     (5 / n) * m, (6 / n) * m, (7 / n) * m, (8 / n) * m,
                                                     (9 / n) * m, (10 / n) * m, (11 / n) * m, (12 / n) * m,
                                                     (13 / n) * m, (14 / n) * m, (15 / n) * m);
    int32_t r = 0;
    for (; r + 4 <= w->rows; r += 4) scalpel__nm_rows4_perm16(w, r, x, y, acc, pairs, sh, mask, offs);
    for (; r < w->rows; r++) {
    const float *vr = w->values + (size_t)r * (size_t)slots;
    const uint8_t *meta = w->meta + (size_t)r * (size_t)w->meta_stride;
    simde__m512 a0 = simde_mm512_setzero_ps(), a1 = a0;
    int32_t k = 0;
    const float *xb = x;
    for (; k + 32 <= k_full; k += 32, xb += 2 * span) {
        const uint8_t *mp = meta + (size_t)k * (size_t)b / 8u;
        simde__m512i i0 = scalpel__nm_idx16(mp, b, sh, mask, offs), i1 = scalpel__nm_idx16(mp + 2 * b, b, sh, mask, offs);
        a0 = simde_mm512_fmadd_ps(simde_mm512_loadu_ps(vr + k), scalpel__nm_x16(xb, i0, pairs, 128), a0);
        a1 = simde_mm512_fmadd_ps(simde_mm512_loadu_ps(vr + k + 16), scalpel__nm_x16(xb + span, i1, pairs, 128), a1);
    }
    for (; k < k_full; k += 16, xb += span) {
        /* as in the AVX2 kernel: a last partial step by a zeroed metadata copy and masked loads */
        const int32_t rem = k_full - k < 16 ? k_full - k : 16;
        uint8_t t[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
        simde__m512i i0;
        memcpy(t, meta + (size_t)k * (size_t)b / 8u, (size_t)(rem * b + 7) / 8u);
        i0 = scalpel__nm_idx16(t, b, sh, mask, offs);
        a0 = simde_mm512_fmadd_ps(scalpel__v16_loadn(vr + k, rem), scalpel__nm_x16(xb, i0, pairs, (rem / n) * m), a0);
    }
    scalpel__nm_put(w, r, vr, x, k_full, slots, acc, y, scalpel__v16_hsum(simde_mm512_add_ps(a0, a1)));
    }
}
#endif
#endif

static void scalpel__nm_spmv(const scalpel_nm *w, const float *x, float *y, int acc)
{
    const int32_t slots = w->groups * w->n;
    /* slots in groups that lie wholly inside cols */
    const int32_t k_full = (w->cols / w->m) * w->n;
    int32_t r;
#if defined(SCALPEL__CSR_GATHER)
    /* per shape: whole groups, permutes over a span of at most 8 vectors (AVX-512) or 2 (AVX2),
     * gathers for the sparser patterns with N dividing 8, plain C otherwise */
    const int32_t n = w->n, m = w->m;
    enum { NM_PLAIN, NM_DENSE, NM_PERM16, NM_PERM8, NM_GATHER } path = NM_PLAIN;
    int32_t pairs = 0;
    if (n == m) path = NM_DENSE;
#if defined(__AVX512F__)
    else if (16 % n == 0 && m / (2 * n) <= 4) { path = NM_PERM16; pairs = m / (2 * n); }
#endif
    else if (8 % n == 0 && m == 2 * n) { path = NM_PERM8; pairs = 1; }   /* pairs 2 lost to gathers */
    else if (8 % n == 0) path = NM_GATHER;
#if defined(__AVX512F__)
    if (path == NM_PERM16) { scalpel__nm_spmv_perm16(w, x, y, acc, pairs); return; }
#endif
    if (path == NM_PERM8) { scalpel__nm_spmv_perm8(w, x, y, acc, pairs); return; }
#endif
    for (r = 0; r < w->rows; r++) {
        const float *vr = w->values + (size_t)r * (size_t)slots;
        float s;
#if defined(SCALPEL__CSR_GATHER)
        switch (path) {
        case NM_DENSE: s = scalpel__nm_row_dense(vr, x, k_full); break;
        case NM_GATHER: s = scalpel__nm_row_gather(w, r, vr, x, k_full); break;
        default: s = scalpel__nm_row_plain(w, r, vr, x, 0, k_full); break;
        }
#else
        s = scalpel__nm_row_plain(w, r, vr, x, 0, k_full);
#endif
        if (k_full < slots) s += scalpel__nm_row_tail(w, r, vr, x, k_full);
        y[r] = (acc ? y[r] : 0.0f) + s;
    }
}

/* y[rows] = W . x[cols], W N:M */
SCALPEL_API void scalpel_nm_spmv_f32(const scalpel_nm *w, const float *x, float *y) { scalpel__nm_spmv(w, x, y, 0); }
/* y[rows] += W . x[cols], W N:M */
SCALPEL_API void scalpel_nm_spmv_acc_f32(const scalpel_nm *w, const float *x, float *y) { scalpel__nm_spmv(w, x, y, 1); }

/* y[rows] = W . x[cols], W N:M: the oracle, slot by slot */
SCALPEL_API void scalpel_nm_spmv_f32_ref(const scalpel_nm *w, const float *x, float *y)
{
    int32_t r, k, slots = w->groups * w->n;
    for (r = 0; r < w->rows; r++) {
        float s = 0.0f;
        for (k = 0; k < slots; k++) {
            int32_t c = (k / w->n) * w->m + scalpel_nm_position(w, r, k);
            if (c < w->cols) s += w->values[(size_t)r * (size_t)slots + (size_t)k] * x[c];
        }
        y[r] = s;
    }
}

/* C[rows x n] = W . B[cols x n], W N:M: the oracle */
SCALPEL_API void scalpel_nm_spmm_f32_ref(const scalpel_nm *w, const float *b, int32_t n, float *c)
{
    int32_t r, k, t, slots = w->groups * w->n;
    for (r = 0; r < w->rows; r++)
        for (t = 0; t < n; t++) {
            float s = 0.0f;
            for (k = 0; k < slots; k++) {
                int32_t col = (k / w->n) * w->m + scalpel_nm_position(w, r, k);
                if (col < w->cols)
                    s += w->values[(size_t)r * (size_t)slots + (size_t)k] * b[(size_t)col * (size_t)n + (size_t)t];
            }
            c[(size_t)r * (size_t)n + (size_t)t] = s;
        }
}

#if defined(SCALPEL__VEC)
/* C (+)= W . B for one strip of up to 8V columns of B: the grouped spmm's scheme, one
 * broadcast weight per slot times a row strip of B. Zero slots (padding of sparse groups) are
 * skipped: they add nothing and cost a full strip of loads. */
static void scalpel__nm_spmm_strip(const scalpel_nm *w, const float *b, int32_t n, float *c, int32_t j0,
                                   int32_t nc, int acc_c)
{
    const int32_t V = SCALPEL__VW, S = SCALPEL__SPMM_STRIP, slots = w->groups * w->n;
    int32_t r, k, t, nv = (nc + V - 1) / V, last = nc - (nv - 1) * V;
    for (r = 0; r < w->rows; r++) {
        scalpel__vec accv[SCALPEL__SPMM_STRIP];
        const float *vr = w->values + (size_t)r * (size_t)slots;
        float *cr = c + (size_t)r * (size_t)n + (size_t)j0;
        for (t = 0; t < S; t++) accv[t] = SCALPEL__V(zero)();
        if (acc_c)
            for (t = 0; t < nv; t++) accv[t] = t + 1 < nv || last == V ? SCALPEL__V(load)(cr + t * V) : SCALPEL__V(loadn)(cr + t * V, last);
        for (k = 0; k < slots; k++) {
            int32_t col = (k / w->n) * w->m + scalpel_nm_position(w, r, k);
            const float *bp = b + (size_t)col * (size_t)n + (size_t)j0;
            scalpel__vec av;
            if (vr[k] == 0.0f || col >= w->cols) continue;
            av = SCALPEL__V(set1)(vr[k]);
            if (nv == S && last == V) {
                for (t = 0; t < S; t++) accv[t] = SCALPEL__V(fma)(accv[t], av, SCALPEL__V(load)(bp + t * V));
            } else {
                for (t = 0; t + 1 < nv; t++) accv[t] = SCALPEL__V(fma)(accv[t], av, SCALPEL__V(load)(bp + t * V));
                accv[t] = SCALPEL__V(fma)(accv[t], av, last == V ? SCALPEL__V(load)(bp + t * V) : SCALPEL__V(loadn)(bp + t * V, last));
            }
        }
        for (t = 0; t + 1 < nv; t++) SCALPEL__V(store)(cr + t * V, accv[t]);
        if (last == V) SCALPEL__V(store)(cr + t * V, accv[t]); else SCALPEL__V(storen)(cr + t * V, accv[t], last);
    }
}

static void scalpel__nm_spmm(const scalpel_nm *w, const float *b, int32_t n, float *c, int acc)
{
    const int32_t S = SCALPEL__SPMM_STRIP * SCALPEL__VW;
    int32_t j0;
    for (j0 = 0; j0 < n; j0 += S) scalpel__nm_spmm_strip(w, b, n, c, j0, n - j0 < S ? n - j0 : S, acc);
}
#else
static void scalpel__nm_spmm(const scalpel_nm *w, const float *b, int32_t n, float *c, int acc)
{
    int32_t r, k, j, slots = w->groups * w->n;
    for (r = 0; r < w->rows; r++) {
        const float *vr = w->values + (size_t)r * (size_t)slots;
        float *cr = c + (size_t)r * (size_t)n;
        if (!acc) for (j = 0; j < n; j++) cr[j] = 0.0f;
        for (k = 0; k < slots; k++) {
            int32_t col = (k / w->n) * w->m + scalpel_nm_position(w, r, k);
            const float wv = vr[k], *bp = b + (size_t)col * (size_t)n;
            if (wv == 0.0f || col >= w->cols) continue;
            for (j = 0; j < n; j++) cr[j] += wv * bp[j];
        }
    }
}
#endif

/* C[rows x n] = W . B[cols x n], W N:M */
SCALPEL_API void scalpel_nm_spmm_f32(const scalpel_nm *w, const float *b, int32_t n, float *c) { scalpel__nm_spmm(w, b, n, c, 0); }
/* C[rows x n] += W . B[cols x n], W N:M */
SCALPEL_API void scalpel_nm_spmm_acc_f32(const scalpel_nm *w, const float *b, int32_t n, float *c) { scalpel__nm_spmm(w, b, n, c, 1); }

/* y[rows] = (T1 + ... + Tn) . x[cols]: the first term writes y, the others add to it. */
SCALPEL_API void scalpel_tasd_spmv_f32(const scalpel_tasd *s, const float *x, float *y)
{
    int32_t i;
    if (s->n_terms == 0) { if (s->rows > 0) memset(y, 0, (size_t)s->rows * sizeof(float)); return; }
    scalpel__nm_spmv(&s->terms[0], x, y, 0);
    for (i = 1; i < s->n_terms; i++) scalpel__nm_spmv(&s->terms[i], x, y, 1);
}

/* C[rows x n] = (T1 + ... + Tn) . B[cols x n] */
SCALPEL_API void scalpel_tasd_spmm_f32(const scalpel_tasd *s, const float *b, int32_t n, float *c)
{
    int32_t i;
    if (s->n_terms == 0) {
        if ((int64_t)s->rows * n > 0) memset(c, 0, (size_t)s->rows * (size_t)n * sizeof(float));
        return;
    }
    scalpel__nm_spmm(&s->terms[0], b, n, c, 0);
    for (i = 1; i < s->n_terms; i++) scalpel__nm_spmm(&s->terms[i], b, n, c, 1);
}

/* y[rows] = (G + R) . x[cols]: the grouped part writes y, the CSR residual adds to it. */
SCALPEL_API void scalpel_hybrid_spmv_f32(const scalpel_hybrid *w, const float *x, float *y)
{
    const scalpel_gcsr *R = &w->residual;
    /* an empty part costs nothing: the other one alone writes y (no second pass over it) */
    int acc = w->grouped.nnz_groups > 0;
    if (acc || R->nnz_groups == 0) scalpel_gcsr_spmv_f32(&w->grouped, x, y);
    if (R->nnz_groups == 0) return;
#if defined(SCALPEL__CSR_GATHER)
    if (R->index_bits == 16) scalpel__spmv_csr_uint16_t(R, x, y, acc);
    else scalpel__spmv_csr_uint32_t(R, x, y, acc);
#else
    scalpel__spmv_s1(R, x, y, acc);
#endif
}

/* y[rows] = (G + R) . x[cols], the oracle */
SCALPEL_API void scalpel_hybrid_spmv_f32_ref(const scalpel_hybrid *w, const float *x, float *y)
{
    const scalpel_gcsr *R = &w->residual;
    const float *v = (const float *)R->values;
    int32_t r, k;
    scalpel_gcsr_spmv_f32_ref(&w->grouped, x, y);
    for (r = 0; r < R->rows; r++)
        for (k = R->row_ptr[r]; k < R->row_ptr[r + 1]; k++) y[r] += v[k] * x[scalpel_gcsr_col(R, k)];
}

/* C[rows x n] = (G + R) . B[cols x n] */
SCALPEL_API void scalpel_hybrid_spmm_f32(const scalpel_hybrid *w, const float *b, int32_t n, float *c)
{
    if (w->grouped.nnz_groups == 0) { scalpel_gcsr_spmm_f32(&w->residual, b, n, c); return; }
    scalpel_gcsr_spmm_f32(&w->grouped, b, n, c);
    if (w->residual.nnz_groups > 0) scalpel__gcsr_spmm_acc(&w->residual, b, n, c);
}

/* C[rows x n] = (G + R) . B[cols x n], the oracle */
SCALPEL_API void scalpel_hybrid_spmm_f32_ref(const scalpel_hybrid *w, const float *b, int32_t n, float *c)
{
    const scalpel_gcsr *R = &w->residual;
    const float *v = (const float *)R->values;
    int32_t r, k, t;
    scalpel_gcsr_spmm_f32_ref(&w->grouped, b, n, c);
    for (r = 0; r < R->rows; r++)
        for (k = R->row_ptr[r]; k < R->row_ptr[r + 1]; k++)
            for (t = 0; t < n; t++)
                c[(size_t)r * (size_t)n + (size_t)t] += v[k] * b[(size_t)scalpel_gcsr_col(R, k) * (size_t)n + (size_t)t];
}

/* ---- fixed point (q15, q7) -------------------------------------------------------------------
 * Every rung computes the same exact integer sums (int64 for q15; int32 for q7, where
 * |sum| <= 65536 * 2^14 = 2^30) and hands them to the one requant below, so the outputs agree
 * bit for bit across rungs and targets. Rungs: plain C (hosts, Cortex-M without DSP), the
 * Cortex-M DSP extension (SMLALD: two q15 MACs into int64; SXTB16 + SMLAD: two q7 MACs into
 * int32) and integer Helium (VMLALDAVA / VMLADAVA across 8 or 16 lanes). */

#if defined(__GNUC__)
#define SCALPEL__NOINLINE __attribute__((noinline))
#define SCALPEL__UNLIKELY(c) __builtin_expect(!!(c), 0)
#define SCALPEL__QINLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define SCALPEL__NOINLINE __declspec(noinline)
#define SCALPEL__UNLIKELY(c) (c)
#define SCALPEL__QINLINE static __forceinline
#else
#define SCALPEL__NOINLINE
#define SCALPEL__UNLIKELY(c) (c)
#define SCALPEL__QINLINE static inline
#endif

#if defined(SCALPEL__QDSP)
/* floor((a * b + 2^31) / 2^32): the high word of the product, rounded (SMMULR) */
static inline int32_t scalpel__smmulr(int32_t a, int32_t b)
{
    int32_t r;
#if defined(__GNUC__) /* GCC, Clang, Arm Compiler 6 */
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
#else
    r = (int32_t)(((int64_t)a * b + 0x80000000) >> 32); /* what SMMULR computes */
#endif
    return r;
}
#endif

/* floor(v / 2^s), s in 0 .. 62, for either sign: `>>` of a negative value is
 * implementation-defined in C, so a negative v shifts its complement (~v = -v - 1 >= 0). */
static inline int64_t scalpel__asr64(int64_t v, int32_t s) { return v >= 0 ? v >> s : ~(~v >> s); }

/* Output r of a layer: clamp(floor(((acc + bias[r]) * mult + 2^(shift-1)) / 2^shift), lo, hi).
 * No overflow under the documented limits: |acc + bias| < 2^47, mult <= 2^15, rounding < 2^61. */
/* clamp(floor((t * m + rnd) / 2^s), lo, hi) for t = acc + bias and rnd = 2^(s-1) (0 for s = 0).
 * With GCC and Clang `>>` of a negative value is arithmetic (documented), so it is used as is:
 * no branch on the sign. */
SCALPEL__QINLINE int32_t scalpel__requant(int64_t t, int32_t m, int32_t s, int32_t lo, int32_t hi)
{
    int64_t v;
    if (s >= 33) {
        /* the usual case (mult / 2^shift ~ 2^-16 or less; kernels turn shift 32 into 33 with
         * scalpel__rq_norm) in 32-bit arithmetic. With P = t * m, floor((P + 2^(s-1)) / 2^s)
         * = floor((u + 1) / 2) for u = floor(P / 2^(s-1)), the high word of P shifted right by
         * s - 33; |P| < 2^63 keeps it in 32 bits, and floor((u + 1) / 2) = (u >> 1) + (u & 1)
         * cannot overflow. Bit-identical to the general form below. */
        int64_t p = t * m;
        int32_t q;
#if defined(__GNUC__)
        int32_t u = (int32_t)(p >> 32) >> (s - 33);
        q = (u >> 1) + (u & 1);
#else
        q = (int32_t)scalpel__asr64(scalpel__asr64(p, s - 1) + 1, 1);
#endif
#if defined(SCALPEL__QDSP)
        /* one SSAT to the type's range, then the ReLU floor (lo is 0 or the range's bottom) */
        if (hi == 32767) return (q = __ssat(q, 16)) < lo ? lo : q;
        if (hi == 127) return (q = __ssat(q, 8)) < lo ? lo : q;
#endif
        return q < lo ? lo : q > hi ? hi : q;
    }
#if defined(SCALPEL__QDSP)
    if (s >= 17 && t == (int32_t)t) {
        /* shift 17 .. 32 with t in 32 bits (q7 layers: shifts of 20 to 30 are the usual ones)
         * in one SMMULR: floor((t * m' + 2^31) / 2^32) for m' = m * 2^(32 - s) <= 2^30 is the
         * same value, and takes the high word of a 32 x 32 product instead of a 64-bit
         * variable shift (about 12 cycles against 30 on the M4) */
        int32_t q = scalpel__smmulr((int32_t)t, m << (32 - s));
        if (hi == 127) return (q = __ssat(q, 8)) < lo ? lo : q;
        if (hi == 32767) return (q = __ssat(q, 16)) < lo ? lo : q;
        return q < lo ? lo : q > hi ? hi : q;
    }
    if (s >= 1 && t == (int32_t)t) {
        /* shift 1 .. 16 (a layer whose output range is close to its inputs', pruned layers
         * often): P = t * m in one SMULL; when P fits 32 bits, floor((P + 2^(s-1)) / 2^s) =
         * floor((u + 1) / 2) for u = P >> (s - 1) in 32-bit shifts; otherwise |P| >= 2^31 and
         * |P / 2^s| >= 2^15 saturates both types, to the side of P's sign */
        int64_t p = (int64_t)(int32_t)t * m;
        int32_t q;
        if (p == (int32_t)p) {
            int32_t u = (int32_t)p >> (s - 1);
            q = (u >> 1) + (u & 1);
        } else {
            q = p < 0 ? -hi - 1 : hi;
        }
        if (hi == 127) return (q = __ssat(q, 8)) < lo ? lo : q;
        if (hi == 32767) return (q = __ssat(q, 16)) < lo ? lo : q;
        return q < lo ? lo : q > hi ? hi : q;
    }
#endif
    v = t * m + (s > 0 ? (int64_t)1 << (s - 1) : 0);
#if defined(__GNUC__)
    v >>= s;
#else
    v = scalpel__asr64(v, s);
#endif
    return v < lo ? lo : v > hi ? (int32_t)hi : (int32_t)v;
}
/* shift 32 as shift 33 with the multiplier doubled: floor((P + 2^31) / 2^32) equals
 * floor((2P + 2^32) / 2^33), and |t * 2m| < 2^63 (|t| < 2^47, m <= 2^15), so scalpel__requant
 * takes its 32-bit path. The matrix-matrix kernels (convolutions: shift 32 is common there)
 * apply it once per row; the matrix-vector row loops do not, where on the M4 it cost more in
 * register pressure than it saved. */
SCALPEL__QINLINE void scalpel__rq_norm(int32_t *m, int32_t *s)
{
    if (*s == 32) {
        *m *= 2;
        *s = 33;
    }
}
/* Row r's requant parameters: mult and shift (shift 32 normalized) and its bias (0 without) */
SCALPEL__QINLINE void scalpel__rq_params(const scalpel_requant *rq, int32_t r, int32_t *m, int32_t *s, int64_t *b)
{
    int32_t i = rq->per_channel ? r : 0;
    *m = rq->mult[i];
    *s = rq->shift[i];
    *b = rq->bias != NULL ? rq->bias[r] : 0;
    scalpel__rq_norm(m, s);
}
static inline int32_t scalpel__requant_row(const scalpel_requant *rq, int32_t r, int64_t acc, int32_t lo, int32_t hi)
{
    int32_t m, s;
    int64_t b;
    scalpel__rq_params(rq, r, &m, &s, &b);
    return scalpel__requant(acc + b, m, s, lo, hi);
}

SCALPEL_API scalpel_status scalpel_requant_from_real(double real, int32_t *mult, int8_t *shift)
{
    double x = real;
    int32_t s = 0, m;
    if (mult == NULL || shift == NULL) return SCALPEL_ERR_NULL;
    *mult = 0;
    *shift = 0;
    if (!(real > 0.0) || !(real < 32768.0)) return SCALPEL_ERR_ARGUMENT; /* NaN fails both */
    while (x < 16384.0 && s < 62) { x *= 2.0; s++; }  /* exact: powers of two */
    m = (int32_t)(x + 0.5);                          /* exact: x < 2^15 keeps the half bit */
    if (m == 32768 && s > 0) { m = 16384; s--; }
    *mult = m;
    *shift = (int8_t)s;
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_requant_check(const scalpel_requant *rq, int32_t rows)
{
    int32_t i, n;
    const int64_t bias_max = (int64_t)1 << 46;
    if (rq == NULL || rq->mult == NULL || rq->shift == NULL) return SCALPEL_ERR_NULL;
    if (rows < 0) return SCALPEL_ERR_SHAPE;
    if ((rq->per_channel != 0 && rq->per_channel != 1) || (rq->relu != 0 && rq->relu != 1)) return SCALPEL_ERR_ARGUMENT;
    n = rq->per_channel ? rows : 1;
    for (i = 0; i < n; i++)
        if (rq->mult[i] < 0 || rq->mult[i] > 32768 || rq->shift[i] < 0 || rq->shift[i] > 62) return SCALPEL_ERR_ARGUMENT;
    if (rq->bias != NULL)
        for (i = 0; i < rows; i++)
            if (rq->bias[i] <= -bias_max || rq->bias[i] >= bias_max) return SCALPEL_ERR_ARGUMENT;
    return SCALPEL_OK;
}

/* round half away from zero of v (single precision), clamped to [lo, hi]; NaN -> 0. The
 * fraction v - trunc(v) is exact in float, so no libm and no rounding-mode dependence. */
static int32_t scalpel__round_clamp(float v, int32_t lo, int32_t hi)
{
    int32_t t;
    if (v != v) return 0;
    if (v >= (float)hi) return hi;
    if (v <= (float)lo) return lo;
    t = (int32_t)v;
    if (v - (float)t >= 0.5f) t++;
    else if ((float)t - v >= 0.5f) t--;
    return t < lo ? lo : t > hi ? hi : t;
}

SCALPEL_API scalpel_status scalpel_quantize_f32(const float *x, size_t n, float scale, scalpel_dtype dtype, void *q)
{
    size_t i;
    if (dtype != SCALPEL_DTYPE_Q15 && dtype != SCALPEL_DTYPE_Q7) return SCALPEL_ERR_DTYPE;
    if (n > 0 && (x == NULL || q == NULL)) return SCALPEL_ERR_NULL;
    if (!(scale > 0.0f) || !(scale <= 3.40282347e38f)) return SCALPEL_ERR_ARGUMENT;
    if (dtype == SCALPEL_DTYPE_Q15)
        for (i = 0; i < n; i++) ((int16_t *)q)[i] = (int16_t)scalpel__round_clamp(x[i] / scale, -32768, 32767);
    else
        for (i = 0; i < n; i++) ((int8_t *)q)[i] = (int8_t)scalpel__round_clamp(x[i] / scale, -128, 127);
    return SCALPEL_OK;
}

SCALPEL_API scalpel_status scalpel_dequantize_f32(const void *q, size_t n, float scale, scalpel_dtype dtype, float *x)
{
    size_t i;
    if (dtype != SCALPEL_DTYPE_Q15 && dtype != SCALPEL_DTYPE_Q7) return SCALPEL_ERR_DTYPE;
    if (n > 0 && (x == NULL || q == NULL)) return SCALPEL_ERR_NULL;
    if (dtype == SCALPEL_DTYPE_Q15)
        for (i = 0; i < n; i++) x[i] = (float)((const int16_t *)q)[i] * scale;
    else
        for (i = 0; i < n; i++) x[i] = (float)((const int8_t *)q)[i] * scale;
    return SCALPEL_OK;
}

/* The plain C oracles, one text for both types (T, suffix, largest value): the matrix-vector
 * ones are the matrix-matrix ones with n = 1 (same sums, same requant). */
#define SCALPEL__QREF(T, SUF, QMAX)                                                                 \
    SCALPEL_API void scalpel_gemm_##SUF##_ref(const T *w, int32_t rows, int32_t cols, const T *x,  \
                                              int32_t n, const scalpel_requant *rq, T *y)           \
    {                                                                                               \
        int32_t r, j, c, lo = rq->relu ? 0 : -(QMAX) - 1;                                           \
        for (r = 0; r < rows; r++)                                                                  \
            for (j = 0; j < n; j++) {                                                               \
                const T *wr = w + (size_t)r * (size_t)cols, *xj = x + (size_t)j * (size_t)cols;     \
                int64_t s = 0;                                                                      \
                for (c = 0; c < cols; c++) s += (int32_t)wr[c] * xj[c];                             \
                y[(size_t)r * (size_t)n + (size_t)j] = (T)scalpel__requant_row(rq, r, s, lo, QMAX); \
            }                                                                                       \
    }                                                                                               \
    SCALPEL_API void scalpel_gemv_##SUF##_ref(const T *w, int32_t rows, int32_t cols, const T *x,  \
                                              const scalpel_requant *rq, T *y)                      \
    {                                                                                               \
        scalpel_gemm_##SUF##_ref(w, rows, cols, x, 1, rq, y);                                       \
    }                                                                                               \
    SCALPEL_API void scalpel_gcsr_spmm_##SUF##_ref(const scalpel_gcsr *w, const T *x, int32_t n,   \
                                                   const scalpel_requant *rq, T *y)                 \
    {                                                                                               \
        const T *v = (const T *)w->values;                                                          \
        int32_t r, j, k, i, g = w->group, lo = rq->relu ? 0 : -(QMAX) - 1;                          \
        for (r = 0; r < w->rows; r++)                                                               \
            for (j = 0; j < n; j++) {                                                               \
                const T *xj = x + (size_t)j * (size_t)w->cols;                                      \
                int64_t s = 0;                                                                      \
                for (k = w->row_ptr[r]; k < w->row_ptr[r + 1]; k++) {                               \
                    int32_t c = (int32_t)scalpel_gcsr_col(w, k);                                    \
                    for (i = 0; i < g && c + i < w->cols; i++)                                      \
                        s += (int32_t)v[(size_t)k * (size_t)g + (size_t)i] * xj[c + i];             \
                }                                                                                   \
                y[(size_t)r * (size_t)n + (size_t)j] = (T)scalpel__requant_row(rq, r, s, lo, QMAX); \
            }                                                                                       \
    }                                                                                               \
    SCALPEL_API void scalpel_gcsr_spmv_##SUF##_ref(const scalpel_gcsr *w, const T *x,              \
                                                   const scalpel_requant *rq, T *y)                 \
    {                                                                                               \
        scalpel_gcsr_spmm_##SUF##_ref(w, x, 1, rq, y);                                              \
    }
SCALPEL__QREF(int16_t, q15, 32767)
SCALPEL__QREF(int8_t, q7, 127)

/* Pair (q15) and quad (q7) multiply-accumulates, the only difference between the plain C and
 * the DSP rungs: a pair is two q15 values (one 32-bit register on DSP, a pointer in plain C),
 * a quad four q7 values (sign-extended to even and odd 16-bit pairs on DSP). */
#if defined(SCALPEL__QDSP)
/* unaligned 32-bit load: one LDR on Cortex-M (memcpy compiles to it) */
static inline int32_t scalpel__ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
typedef int32_t scalpel__p15;
#define SCALPEL__P15(p) scalpel__ld32(p)
#define SCALPEL__MAC15(wp, xp, s) __smlald((wp), (xp), (s))
/* SXTB16 of the word rotated right by 8 (bytes 1 and 3), one instruction: GCC 12 does not fold
 * a rotate written in C into SXTB16's operand (it emits a separate ROR), so it is written out. */
static inline int32_t scalpel__sxtb16_ror8(uint32_t u)
{
    int32_t r;
#if defined(__GNUC__)
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(u));
#else
    r = __sxtb16((int32_t)((u >> 8) | (u << 24)));
#endif
    return r;
}
/* the word at p + d, one LDR with a register offset. Volatile so that the compiler keeps each
 * load next to its use: hoisting the four row loads of scalpel__dot4_q7 to the top of its loop
 * runs out of registers on the M4 and spills three of the offsets (38 cycles per iteration on
 * the M4 model instead of 32). */
static inline uint32_t scalpel__ldr_at(const int8_t *p, int32_t d)
{
    uint32_t r;
#if defined(__GNUC__)
    __asm__ volatile("ldr %0, [%1, %2]" : "=r"(r) : "r"(p), "r"(d) : "memory");
#else
    memcpy(&r, p + d, 4);
#endif
    return r;
}
typedef struct scalpel__p7 { int32_t e, o; } scalpel__p7; /* bytes (0, 2) and (1, 3) */
static inline scalpel__p7 scalpel__p7_word(uint32_t u)
{
    scalpel__p7 q;
    q.e = __sxtb16((int32_t)u);
    q.o = scalpel__sxtb16_ror8(u);
    return q;
}
#define scalpel__p7_load(p) scalpel__p7_word((uint32_t)scalpel__ld32(p))
#define SCALPEL__P7(p) scalpel__p7_load(p)
#define SCALPEL__MAC7(wq, xq, s) __smlad((wq).o, (xq).o, __smlad((wq).e, (xq).e, (s)))
#else
typedef const int16_t *scalpel__p15;
#define SCALPEL__P15(p) (p)
#define SCALPEL__MAC15(wp, xp, s) ((s) + (int32_t)(wp)[0] * (xp)[0] + (int32_t)(wp)[1] * (xp)[1])
typedef const int8_t *scalpel__p7;
#define SCALPEL__P7(p) (p)
#define SCALPEL__MAC7(wq, xq, s)                                                                    \
    ((s) + (int32_t)(wq)[0] * (xq)[0] + (int32_t)(wq)[1] * (xq)[1] + (int32_t)(wq)[2] * (xq)[2] +    \
     (int32_t)(wq)[3] * (xq)[3])
#endif

/* Dense dot products: s0 = a0 . b and s1 = a1 . b over n, every load of b feeding both (two
 * weight rows sharing x in a matrix-vector product, two inputs sharing a weight row in a
 * matrix-matrix one); dot1 for the odd one out. */
#if defined(SCALPEL__QMVE)
/* Helium: 8 (q15) or 16 (q7) lanes reduced into a scalar accumulator by one instruction; the
 * last partial vector loads under a tail predicate (inactive lanes read nothing, give 0). */
static void scalpel__dot2_q15(const int16_t *a0, const int16_t *a1, const int16_t *b, int32_t n, int64_t *s0, int64_t *s1)
{
    int64_t t0 = 0, t1 = 0;
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        int16x8_t x = vldrhq_s16(b + i);
        t0 = vmlaldavaq_s16(t0, vldrhq_s16(a0 + i), x);
        t1 = vmlaldavaq_s16(t1, vldrhq_s16(a1 + i), x);
    }
    if (i < n) {
        mve_pred16_t p = vctp16q((uint32_t)(n - i));
        int16x8_t x = vldrhq_z_s16(b + i, p);
        t0 = vmlaldavaq_s16(t0, vldrhq_z_s16(a0 + i, p), x);
        t1 = vmlaldavaq_s16(t1, vldrhq_z_s16(a1 + i, p), x);
    }
    *s0 = t0;
    *s1 = t1;
}
static int64_t scalpel__dot1_q15(const int16_t *a, const int16_t *b, int32_t n)
{
    int64_t t = 0;
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) t = vmlaldavaq_s16(t, vldrhq_s16(a + i), vldrhq_s16(b + i));
    if (i < n) {
        mve_pred16_t p = vctp16q((uint32_t)(n - i));
        t = vmlaldavaq_s16(t, vldrhq_z_s16(a + i, p), vldrhq_z_s16(b + i, p));
    }
    return t;
}
static void scalpel__dot2_q7(const int8_t *a0, const int8_t *a1, const int8_t *b, int32_t n, int64_t *s0, int64_t *s1)
{
    int32_t t0 = 0, t1 = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        int8x16_t x = vldrbq_s8(b + i);
        t0 = vmladavaq_s8(t0, vldrbq_s8(a0 + i), x);
        t1 = vmladavaq_s8(t1, vldrbq_s8(a1 + i), x);
    }
    if (i < n) {
        mve_pred16_t p = vctp8q((uint32_t)(n - i));
        int8x16_t x = vldrbq_z_s8(b + i, p);
        t0 = vmladavaq_s8(t0, vldrbq_z_s8(a0 + i, p), x);
        t1 = vmladavaq_s8(t1, vldrbq_z_s8(a1 + i, p), x);
    }
    *s0 = t0;
    *s1 = t1;
}
static int64_t scalpel__dot1_q7(const int8_t *a, const int8_t *b, int32_t n)
{
    int32_t t = 0, i = 0;
    for (; i + 16 <= n; i += 16) t = vmladavaq_s8(t, vldrbq_s8(a + i), vldrbq_s8(b + i));
    if (i < n) {
        mve_pred16_t p = vctp8q((uint32_t)(n - i));
        t = vmladavaq_s8(t, vldrbq_z_s8(a + i, p), vldrbq_z_s8(b + i, p));
    }
    return t;
}
#else
SCALPEL__QINLINE void scalpel__dot2_q15(const int16_t *a0, const int16_t *a1, const int16_t *b, int32_t n, int64_t *s0, int64_t *s1)
{
    int64_t t0 = 0, t1 = 0;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        scalpel__p15 x0 = SCALPEL__P15(b + i), x1 = SCALPEL__P15(b + i + 2);
        t0 = SCALPEL__MAC15(SCALPEL__P15(a0 + i), x0, t0);
        t1 = SCALPEL__MAC15(SCALPEL__P15(a1 + i), x0, t1);
        t0 = SCALPEL__MAC15(SCALPEL__P15(a0 + i + 2), x1, t0);
        t1 = SCALPEL__MAC15(SCALPEL__P15(a1 + i + 2), x1, t1);
    }
    for (; i < n; i++) {
        t0 += (int32_t)a0[i] * b[i];
        t1 += (int32_t)a1[i] * b[i];
    }
    *s0 = t0;
    *s1 = t1;
}
static int64_t scalpel__dot1_q15(const int16_t *a, const int16_t *b, int32_t n)
{
    int64_t t = 0;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        t = SCALPEL__MAC15(SCALPEL__P15(a + i), SCALPEL__P15(b + i), t);
        t = SCALPEL__MAC15(SCALPEL__P15(a + i + 2), SCALPEL__P15(b + i + 2), t);
    }
    for (; i < n; i++) t += (int32_t)a[i] * b[i];
    return t;
}
static void scalpel__dot2_q7(const int8_t *a0, const int8_t *a1, const int8_t *b, int32_t n, int64_t *s0, int64_t *s1)
{
    int32_t t0 = 0, t1 = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        scalpel__p7 x = SCALPEL__P7(b + i);
        t0 = SCALPEL__MAC7(SCALPEL__P7(a0 + i), x, t0);
        t1 = SCALPEL__MAC7(SCALPEL__P7(a1 + i), x, t1);
    }
    for (; i < n; i++) {
        t0 += (int32_t)a0[i] * b[i];
        t1 += (int32_t)a1[i] * b[i];
    }
    *s0 = t0;
    *s1 = t1;
}
static int64_t scalpel__dot1_q7(const int8_t *a, const int8_t *b, int32_t n)
{
    int32_t t = 0, i = 0;
    for (; i + 4 <= n; i += 4) t = SCALPEL__MAC7(SCALPEL__P7(a + i), SCALPEL__P7(b + i), t);
    for (; i < n; i++) t += (int32_t)a[i] * b[i];
    return t;
}
#endif

/* The sums of four dot products: exact int32 for q7 (|sum| <= 2^30), int64 for q15 */
typedef int32_t scalpel__sum4_q7;
typedef int64_t scalpel__sum4_q15;
/* s[k] = a_k . b over n for the four vectors a_k = a + k * stride, every load of b (and its
 * sign extension) feeding all four: four weight rows sharing x in a matrix-vector product,
 * four patches sharing a weight row in a matrix-matrix one. q7 only, where one 32-bit
 * accumulator per vector leaves the registers for it (on the M4 model: 4 quads of one word of
 * b in 32 cycles, 2.0 per MAC, against 19 for 2 rows, 2.38); q15's int64 accumulators do not
 * fit four at a time, so q15 keeps the pairs. */
#if defined(SCALPEL__QMVE)
static void scalpel__dot4_q7(const int8_t *a, size_t stride, const int8_t *b, int32_t n, int32_t *s)
{
    const int8_t *a1 = a + stride, *a2 = a1 + stride, *a3 = a2 + stride;
    int32_t t0 = 0, t1 = 0, t2 = 0, t3 = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        int8x16_t x = vldrbq_s8(b + i);
        t0 = vmladavaq_s8(t0, vldrbq_s8(a + i), x);
        t1 = vmladavaq_s8(t1, vldrbq_s8(a1 + i), x);
        t2 = vmladavaq_s8(t2, vldrbq_s8(a2 + i), x);
        t3 = vmladavaq_s8(t3, vldrbq_s8(a3 + i), x);
    }
    if (i < n) {
        mve_pred16_t p = vctp8q((uint32_t)(n - i));
        int8x16_t x = vldrbq_z_s8(b + i, p);
        t0 = vmladavaq_s8(t0, vldrbq_z_s8(a + i, p), x);
        t1 = vmladavaq_s8(t1, vldrbq_z_s8(a1 + i, p), x);
        t2 = vmladavaq_s8(t2, vldrbq_z_s8(a2 + i, p), x);
        t3 = vmladavaq_s8(t3, vldrbq_z_s8(a3 + i, p), x);
    }
    s[0] = t0;
    s[1] = t1;
    s[2] = t2;
    s[3] = t3;
}
#elif defined(SCALPEL__QDSP)
/* the rows at fixed offsets from b, so that one pointer moves (5 loads, 10 SXTB16, 8 SMLAD
 * and the loop test: 32 cycles for 16 MACs on the M4 model, nothing spilled) */
static void scalpel__dot4_q7(const int8_t *a, size_t stride, const int8_t *b, int32_t n, int32_t *s)
{
    int32_t d0 = (int32_t)(a - b), d1 = d0 + (int32_t)stride, d2 = d1 + (int32_t)stride, d3 = d2 + (int32_t)stride;
    const int8_t *be = b + (n & ~3);
    int32_t t0 = 0, t1 = 0, t2 = 0, t3 = 0, i;
    for (; b != be; b += 4) {
        scalpel__p7 x = scalpel__p7_load(b), w;
        w = scalpel__p7_word(scalpel__ldr_at(b, d0));
        t0 = SCALPEL__MAC7(w, x, t0);
        w = scalpel__p7_word(scalpel__ldr_at(b, d1));
        t1 = SCALPEL__MAC7(w, x, t1);
        w = scalpel__p7_word(scalpel__ldr_at(b, d2));
        t2 = SCALPEL__MAC7(w, x, t2);
        w = scalpel__p7_word(scalpel__ldr_at(b, d3));
        t3 = SCALPEL__MAC7(w, x, t3);
    }
    for (i = 0; i < (n & 3); i++) {
        int32_t v = b[i];
        t0 += v * b[d0 + i];
        t1 += v * b[d1 + i];
        t2 += v * b[d2 + i];
        t3 += v * b[d3 + i];
    }
    s[0] = t0;
    s[1] = t1;
    s[2] = t2;
    s[3] = t3;
}
#else
static void scalpel__dot4_q7(const int8_t *a, size_t stride, const int8_t *b, int32_t n, int32_t *s)
{
    const int8_t *a1 = a + stride, *a2 = a1 + stride, *a3 = a2 + stride, *be = b + (n & ~3);
    int32_t t0 = 0, t1 = 0, t2 = 0, t3 = 0, i;
    for (; b != be; b += 4, a += 4, a1 += 4, a2 += 4, a3 += 4) {
        scalpel__p7 x = SCALPEL__P7(b);
        t0 = SCALPEL__MAC7(SCALPEL__P7(a), x, t0);
        t1 = SCALPEL__MAC7(SCALPEL__P7(a1), x, t1);
        t2 = SCALPEL__MAC7(SCALPEL__P7(a2), x, t2);
        t3 = SCALPEL__MAC7(SCALPEL__P7(a3), x, t3);
    }
    for (i = 0; i < (n & 3); i++) {
        t0 += (int32_t)a[i] * b[i];
        t1 += (int32_t)a1[i] * b[i];
        t2 += (int32_t)a2[i] * b[i];
        t3 += (int32_t)a3[i] * b[i];
    }
    s[0] = t0;
    s[1] = t1;
    s[2] = t2;
    s[3] = t3;
}
#endif
/* q15 has no four-vector pass (FOUR is 0 in its kernels below: the loops calling this never run) */
#define scalpel__dot4_q15(a, stride, b, n, s) ((void)0)

/* Grouped rows: s[0] (and s[1] when `two`) += the stored groups k in [a, e) of values v (G = g
 * per group) times x0 (x1). Inlined with constant g, idx16 and two into one loop per case;
 * every group here lies inside `cols` (the caller does a row's tail group). */
SCALPEL__QINLINE void scalpel__gdot_q15_k(const int16_t *v, const void *ci, int idx16, int32_t a, int32_t e,
                                          int32_t g, const int16_t *x0, const int16_t *x1, int two, int64_t *s)
{
    int64_t t0 = s[0], t1 = s[1];
    int32_t k, p;
    for (k = a; k < e; k++) {
        uint32_t c = idx16 ? ((const uint16_t *)ci)[k] : ((const uint32_t *)ci)[k];
        const int16_t *vk = v + (size_t)k * (size_t)g;
        if (g == 1) {
            t0 += (int32_t)vk[0] * x0[c];
            if (two) t1 += (int32_t)vk[0] * x1[c];
            continue;
        }
#if defined(SCALPEL__QMVE)
        if (g >= 8) { /* one 8-lane reduction per 8 values */
            for (p = 0; p < g; p += 8) {
                int16x8_t wv = vldrhq_s16(vk + p);
                t0 = vmlaldavaq_s16(t0, wv, vldrhq_s16(x0 + c + p));
                if (two) t1 = vmlaldavaq_s16(t1, wv, vldrhq_s16(x1 + c + p));
            }
            continue;
        }
#endif
        for (p = 0; p < g; p += 2) {
            scalpel__p15 wp = SCALPEL__P15(vk + p);
            t0 = SCALPEL__MAC15(wp, SCALPEL__P15(x0 + c + p), t0);
            if (two) t1 = SCALPEL__MAC15(wp, SCALPEL__P15(x1 + c + p), t1);
        }
    }
    s[0] = t0;
    s[1] = t1;
}

SCALPEL__QINLINE void scalpel__gdot_q7_k(const int8_t *v, const void *ci, int idx16, int32_t a, int32_t e,
                                         int32_t g, const int8_t *x0, const int8_t *x1, int two, int64_t *s)
{
    int32_t t0 = 0, t1 = 0, k, p;
    for (k = a; k < e; k++) {
        uint32_t c = idx16 ? ((const uint16_t *)ci)[k] : ((const uint32_t *)ci)[k];
        const int8_t *vk = v + (size_t)k * (size_t)g;
        if (g < 4) { /* G = 1, 2: plain multiply-accumulates */
            for (p = 0; p < g; p++) {
                t0 += (int32_t)vk[p] * x0[c + p];
                if (two) t1 += (int32_t)vk[p] * x1[c + p];
            }
            continue;
        }
#if defined(SCALPEL__QMVE)
        if (g == 8) { /* widening loads: 8 bytes into 8 int16 lanes */
            int16x8_t wv = vldrbq_s16(vk);
            t0 = vmladavaq_s16(t0, wv, vldrbq_s16(x0 + c));
            if (two) t1 = vmladavaq_s16(t1, wv, vldrbq_s16(x1 + c));
            continue;
        }
        if (g == 16) {
            int8x16_t wv = vldrbq_s8(vk);
            t0 = vmladavaq_s8(t0, wv, vldrbq_s8(x0 + c));
            if (two) t1 = vmladavaq_s8(t1, wv, vldrbq_s8(x1 + c));
            continue;
        }
#endif
        for (p = 0; p < g; p += 4) {
            scalpel__p7 wq = SCALPEL__P7(vk + p);
            t0 = SCALPEL__MAC7(wq, SCALPEL__P7(x0 + c + p), t0);
            if (two) t1 = SCALPEL__MAC7(wq, SCALPEL__P7(x1 + c + p), t1);
        }
    }
    s[0] += t0;
    s[1] += t1;
}

/* s[0] (s[1]) = row r of grouped W . x0 (x1; NULL for one vector). Only a row's last group can
 * reach past cols: it is done lane by lane, so that no x past cols is read. The full groups go
 * to one copy of the loop per G for 16-bit indices (the common case), one for 32-bit ones. */
#define SCALPEL__QGDOT(T, SUF)                                                                      \
    static void scalpel__gdot_##SUF(const scalpel_gcsr *w, int32_t r, const T *x0, const T *x1, int64_t *s) \
    {                                                                                               \
        const T *v = (const T *)w->values;                                                          \
        int32_t a = w->row_ptr[r], b = w->row_ptr[r + 1], g = w->group, e = b, i;                   \
        s[0] = s[1] = 0;                                                                            \
        if (b == a) return;                                                                         \
        if ((int64_t)scalpel_gcsr_col(w, b - 1) + g > (int64_t)w->cols) e = b - 1;                  \
        if (w->index_bits != 16) {                                                                  \
            if (x1 != NULL) scalpel__gdot_##SUF##_k(v, w->col_idx, 0, a, e, g, x0, x1, 1, s);       \
            else scalpel__gdot_##SUF##_k(v, w->col_idx, 0, a, e, g, x0, x0, 0, s);                  \
        } else if (x1 != NULL) {                                                                    \
            switch (g) {                                                                            \
            case 1: scalpel__gdot_##SUF##_k(v, w->col_idx, 1, a, e, 1, x0, x1, 1, s); break;       \
            case 2: scalpel__gdot_##SUF##_k(v, w->col_idx, 1, a, e, 2, x0, x1, 1, s); break;       \
            case 4: scalpel__gdot_##SUF##_k(v, w->col_idx, 1, a, e, 4, x0, x1, 1, s); break;       \
            case 8: scalpel__gdot_##SUF##_k(v, w->col_idx, 1, a, e, 8, x0, x1, 1, s); break;       \
            default: scalpel__gdot_##SUF##_k(v, w->col_idx, 1, a, e, 16, x0, x1, 1, s); break;     \
            }                                                                                       \
        } else {                                                                                    \
            switch (g) {                                                                            \
            case 1: scalpel__gdot_##SUF##_k(v, w->col_idx, 1, a, e, 1, x0, x0, 0, s); break;       \
            case 2: scalpel__gdot_##SUF##_k(v, w->col_idx, 1, a, e, 2, x0, x0, 0, s); break;       \
            case 4: scalpel__gdot_##SUF##_k(v, w->col_idx, 1, a, e, 4, x0, x0, 0, s); break;       \
            case 8: scalpel__gdot_##SUF##_k(v, w->col_idx, 1, a, e, 8, x0, x0, 0, s); break;       \
            default: scalpel__gdot_##SUF##_k(v, w->col_idx, 1, a, e, 16, x0, x0, 0, s); break;     \
            }                                                                                       \
        }                                                                                           \
        if (e < b) { /* the tail group */                                                           \
            int32_t c = (int32_t)scalpel_gcsr_col(w, e);                                            \
            const T *ve = v + (size_t)e * (size_t)g;                                                \
            for (i = 0; i < w->cols - c; i++) {                                                     \
                s[0] += (int32_t)ve[i] * x0[c + i];                                                 \
                if (x1 != NULL) s[1] += (int32_t)ve[i] * x1[c + i];                                 \
            }                                                                                       \
        }                                                                                           \
    }
SCALPEL__QGDOT(int16_t, q15)
SCALPEL__QGDOT(int8_t, q7)

/* Matrix-vector rows for the groups that fill one 32-bit word (q15 G = 2, q7 G = 4: the DSP
 * profiles' choice) when cols % G == 0, so that no group reaches past cols, and the values are
 * 4-aligned. The index and value pointers run on from row to row (groups are stored row after
 * row). Rows go in blocks of SCALPEL__WSPMV_ROWS: first the block's sums into a small array on
 * the stack (scalpel__wsums_*), then their requant (scalpel__wreq_*), two functions with only
 * their own state in registers: on the M4 model a row's fixed cost fell from about 80 cycles
 * with one loop doing both to about 45, which moved the break-even against the dense kernels
 * from 45% to 33% (q7) and from 38% to 32% (q15) pruned on the 100 x 100 sweep. A row's odd
 * groups go first, then four (q7) or eight (q15) per loop test. IT is the index type
 * (uint16_t, uint32_t); MAC(v, xp, acc) adds one group. */
#define SCALPEL__WSPMV_ROWS(ACC) ((int32_t)(128 / sizeof(ACC))) /* 128 bytes of sums on the stack */
#define SCALPEL__QWSUMS(T, SUF, G, ACC, IT, MAC)                                                    \
    /* acc[r] = row r's sum for the nr rows from rp on; *ip and *vk run on to the next block */    \
    SCALPEL__NOINLINE static void scalpel__wsums_##SUF##_##IT(const int32_t *rp, int32_t nr, const IT **pip, \
                                                              const T **pvk, const T *x, int32_t cols, ACC *acc) \
    {                                                                                               \
        const IT *ip = *pip;                                                                        \
        const T *vk = *pvk;                                                                         \
        const int32_t *re = rp + nr;                                                                \
        (void)cols; /* no group reaches past cols here */                                           \
        for (; rp != re; rp++, acc++) {                                                             \
            ACC t = 0;                                                                              \
            int32_t n = rp[1] - rp[0], k;                                                           \
            for (k = n & 3; k > 0; k--, ip++, vk += G) t = MAC(vk, x + ip[0], t); /* odd ones */     \
            for (k = n >> 2; k > 0; k--, ip += 4, vk += 4 * G) { /* then four per loop test */      \
                t = MAC(vk, x + ip[0], t);                                                          \
                t = MAC(vk + G, x + ip[1], t);                                                      \
                t = MAC(vk + 2 * G, x + ip[2], t);                                                  \
                t = MAC(vk + 3 * G, x + ip[3], t);                                                  \
            }                                                                                       \
            *acc = t;                                                                               \
        }                                                                                           \
        *pip = ip;                                                                                  \
        *pvk = vk;                                                                                  \
    }
#define SCALPEL__QWSPMV(T, SUF, G, ACC, IT, V)                                                     \
    static void scalpel__##V##spmv_##SUF##_##IT(const scalpel_gcsr *w, const T *x,                  \
                                                const scalpel_requant *rq, T *y)                    \
    {                                                                                               \
        const IT *ip = (const IT *)w->col_idx + w->row_ptr[0];                                      \
        const T *vk = (const T *)w->values + (size_t)w->row_ptr[0] * G;                             \
        int32_t r0;                                                                                 \
        ACC acc[SCALPEL__WSPMV_ROWS(ACC)];                                                          \
        for (r0 = 0; r0 < w->rows; r0 += SCALPEL__WSPMV_ROWS(ACC)) {                                \
            int32_t nr = w->rows - r0 < SCALPEL__WSPMV_ROWS(ACC) ? w->rows - r0 : SCALPEL__WSPMV_ROWS(ACC); \
            scalpel__##V##sums_##SUF##_##IT(w->row_ptr + r0, nr, &ip, &vk, x, w->cols, acc);        \
            scalpel__wreq_##SUF(acc, r0, nr, rq, y + r0);                                           \
        }                                                                                           \
    }
/* y[r] = requant(acc[r]) for the rows r0 .. r0 + nr - 1 of a layer */
#define SCALPEL__QWREQ(T, SUF, QMAX, ACC)                                                           \
    SCALPEL__NOINLINE static void scalpel__wreq_##SUF(const ACC *acc, int32_t r0, int32_t nr,       \
                                                      const scalpel_requant *rq, T *y)              \
    {                                                                                               \
        const int64_t *bias = rq->bias != NULL ? rq->bias + r0 : NULL;                              \
        int32_t r, lo = rq->relu ? 0 : -(QMAX) - 1, m = rq->mult[0], sh = rq->shift[0];             \
        if (rq->per_channel) {                                                                      \
            const int32_t *mp = rq->mult + r0;                                                      \
            const int8_t *sp = rq->shift + r0;                                                      \
            if (bias != NULL)                                                                       \
                for (r = 0; r < nr; r++) y[r] = (T)scalpel__requant((int64_t)acc[r] + bias[r], mp[r], sp[r], lo, QMAX); \
            else                                                                                    \
                for (r = 0; r < nr; r++) y[r] = (T)scalpel__requant(acc[r], mp[r], sp[r], lo, QMAX); \
        } else if (bias != NULL) {                                                                  \
            for (r = 0; r < nr; r++) y[r] = (T)scalpel__requant((int64_t)acc[r] + bias[r], m, sh, lo, QMAX); \
        } else {                                                                                    \
            for (r = 0; r < nr; r++) y[r] = (T)scalpel__requant(acc[r], m, sh, lo, QMAX);           \
        }                                                                                           \
    }
#if defined(SCALPEL__QDSP)
/* q15 on DSP cores: a layer-wide shift of 32 or more (the usual one) is checked once, then each
 * row is scalpel__requant's first path without its per-row tests */
SCALPEL__NOINLINE static void scalpel__wreq_q15(const int64_t *acc, int32_t r0, int32_t nr, const scalpel_requant *rq,
                                                int16_t *y)
{
    const int64_t *bias = rq->bias != NULL ? rq->bias + r0 : NULL;
    int32_t r, lo = rq->relu ? 0 : -32768, m = rq->mult[0], sh = rq->shift[0];
    scalpel__rq_norm(&m, &sh);
    if (!rq->per_channel && sh >= 33) {
        int32_t k = sh - 33;
        for (r = 0; r < nr; r++) {
            int64_t p = (acc[r] + (bias != NULL ? bias[r] : 0)) * m;
            int32_t u = (int32_t)(p >> 32) >> k, q = __ssat((u >> 1) + (u & 1), 16);
            y[r] = (int16_t)(q < lo ? lo : q);
        }
        return;
    }
    for (r = 0; r < nr; r++) y[r] = (int16_t)scalpel__requant_row(rq, r0 + r, acc[r], lo, 32767);
}

/* q7 on DSP cores: a layer-wide shift of 17 .. 32 (the usual one) is checked once, and each
 * row whose t = acc + bias fits 32 bits takes one SMMULR with the multiplier scaled once
 * (scalpel__requant's second path, without its per-row tests) */
SCALPEL__NOINLINE static void scalpel__wreq_q7(const int32_t *acc, int32_t r0, int32_t nr, const scalpel_requant *rq,
                                               int8_t *y)
{
    const int64_t *bias = rq->bias != NULL ? rq->bias + r0 : NULL;
    int32_t r, lo = rq->relu ? 0 : -128, m = rq->mult[0], sh = rq->shift[0];
    if (!rq->per_channel && sh >= 17 && sh <= 32) {
        int32_t m2 = m << (32 - sh), q;
        if (bias == NULL) {
            for (r = 0; r < nr; r++) {
                q = __ssat(scalpel__smmulr(acc[r], m2), 8);
                y[r] = (int8_t)(q < lo ? lo : q);
            }
            return;
        }
        for (r = 0; r < nr; r++) {
            int64_t t = (int64_t)acc[r] + bias[r];
            if (SCALPEL__UNLIKELY(t != (int32_t)t)) q = scalpel__requant(t, m, sh, -128, 127);
            else q = __ssat(scalpel__smmulr((int32_t)t, m2), 8);
            y[r] = (int8_t)(q < lo ? lo : q);
        }
        return;
    }
    for (r = 0; r < nr; r++) y[r] = (int8_t)scalpel__requant_row(rq, r0 + r, acc[r], lo, 127);
}
#else
SCALPEL__QWREQ(int16_t, q15, 32767, int64_t)
SCALPEL__QWREQ(int8_t, q7, 127, int32_t)
#endif
#define SCALPEL__WMAC15(vk, xp, t) SCALPEL__MAC15(SCALPEL__P15(vk), SCALPEL__P15(xp), t)
#define SCALPEL__WMAC7(vk, xp, t) SCALPEL__MAC7(SCALPEL__P7(vk), SCALPEL__P7(xp), t)
#if defined(SCALPEL__QDSP)
/* q7 G = 4 on DSP cores: a row's odd groups first, then four per loop test with their 16
 * weight bytes in two LDRDs (the values are 4-aligned: the dispatcher checks it), 49 cycles
 * per four groups on the M4 model against 52 with a load per group */
static inline void scalpel__ldrd_next(const int8_t **p, uint32_t *a, uint32_t *b)
{
    uint32_t lo, hi;
    const int8_t *q = *p;
#if defined(__GNUC__)
    __asm__ volatile("ldrd %0, %1, [%2], #8" : "=&r"(lo), "=&r"(hi), "+r"(q) : : "memory");
#else
    memcpy(&lo, q, 4);
    memcpy(&hi, q + 4, 4);
    q += 8;
#endif
    *a = lo;
    *b = hi;
    *p = q;
}
#define SCALPEL__WONE7(wv, c)                                                                       \
    do {                                                                                            \
        scalpel__p7 xq_ = scalpel__p7_word(scalpel__ldr_at(x, (int32_t)(c))), wq_ = scalpel__p7_word(wv); \
        t = SCALPEL__MAC7(wq_, xq_, t);                                                             \
    } while (0)
/* four groups from ip[i] on: their 16 bytes of weights in two LDRDs */
#define SCALPEL__WFOUR(ONE, i)                                                                      \
    do {                                                                                            \
        uint32_t w0_, w1_;                                                                          \
        scalpel__ldrd_next(&vk, &w0_, &w1_);                                                        \
        ONE(w0_, ip[(i)]);                                                                          \
        ONE(w1_, ip[(i) + 1]);                                                                      \
        scalpel__ldrd_next(&vk, &w0_, &w1_);                                                        \
        ONE(w0_, ip[(i) + 2]);                                                                      \
        ONE(w1_, ip[(i) + 3]);                                                                      \
    } while (0)
#define SCALPEL__QWSUMS_DSP(T, SUF, ACC, IT, ONE, EIGHT)                                            \
    SCALPEL__NOINLINE static void scalpel__wsums_##SUF##_##IT(const int32_t *rp, int32_t nr, const IT **pip, \
                                                              const T **pvk, const T *x, int32_t cols, ACC *acc) \
    {                                                                                               \
        const IT *ip = *pip;                                                                        \
        const int8_t *vk = (const int8_t *)*pvk; /* one group is 4 bytes for both types */         \
        (void)cols; /* no group reaches past cols here */                                           \
        const int32_t *re = rp + nr;                                                                \
        int32_t a = rp[0], b;                                                                       \
        while (rp != re) {                                                                          \
            ACC t = 0;                                                                              \
            int32_t n, k;                                                                    \
            b = *++rp;                                                                              \
            n = b - a;                                                                              \
            a = b;                                                                                  \
            if (n & 1) {                                                                            \
                ONE((uint32_t)scalpel__ld32(vk), ip[0]);                                            \
                ip++;                                                                               \
                vk += 4;                                                                            \
            }                                                                                       \
            if (n & 2) {                                                                            \
                uint32_t w0, w1;                                                                    \
                scalpel__ldrd_next(&vk, &w0, &w1);                                                  \
                ONE(w0, ip[0]);                                                                     \
                ONE(w1, ip[1]);                                                                     \
                ip += 2;                                                                            \
            }                                                                                       \
            if (EIGHT) { /* q15: eight groups per loop test */                                      \
                if (n & 4) {                                                                        \
                    SCALPEL__WFOUR(ONE, 0);                                                         \
                    ip += 4;                                                                        \
                }                                                                                   \
                for (k = n >> 3; k > 0; k--, ip += 8) {                                             \
                    SCALPEL__WFOUR(ONE, 0);                                                         \
                    SCALPEL__WFOUR(ONE, 4);                                                         \
                }                                                                                   \
            } else { /* q7: four (eight spill registers on the M4) */                               \
                for (k = n >> 2; k > 0; k--, ip += 4) SCALPEL__WFOUR(ONE, 0);                       \
            }                                                                                       \
            *acc++ = t;                                                                             \
        }                                                                                           \
        *pip = ip;                                                                                  \
        *pvk = (const T *)(const void *)vk;                                                         \
    }
#define SCALPEL__WONE15(wv, c) (t = __smlald((int32_t)(wv), scalpel__ld32(x + (c)), t))
SCALPEL__QWSUMS_DSP(int8_t, q7, int32_t, uint16_t, SCALPEL__WONE7, 0)
SCALPEL__QWSUMS_DSP(int8_t, q7, int32_t, uint32_t, SCALPEL__WONE7, 0)
SCALPEL__QWSUMS_DSP(int16_t, q15, int64_t, uint16_t, SCALPEL__WONE15, 1)
SCALPEL__QWSUMS_DSP(int16_t, q15, int64_t, uint32_t, SCALPEL__WONE15, 1)
#else
SCALPEL__QWSUMS(int16_t, q15, 2, int64_t, uint16_t, SCALPEL__WMAC15)
SCALPEL__QWSUMS(int16_t, q15, 2, int64_t, uint32_t, SCALPEL__WMAC15)
SCALPEL__QWSUMS(int8_t, q7, 4, int32_t, uint16_t, SCALPEL__WMAC7)
SCALPEL__QWSUMS(int8_t, q7, 4, int32_t, uint32_t, SCALPEL__WMAC7)
#endif
SCALPEL__QWSPMV(int16_t, q15, 2, int64_t, uint16_t, w)
SCALPEL__QWSPMV(int16_t, q15, 2, int64_t, uint32_t, w)
SCALPEL__QWSPMV(int8_t, q7, 4, int32_t, uint16_t, w)
SCALPEL__QWSPMV(int8_t, q7, 4, int32_t, uint32_t, w)
#if defined(SCALPEL__QMVE)
/* Helium: groups of one vector (q15 G = 8, q7 G = 16: the paper's rule, G = the vector width),
 * the same blocks of rows, one lane-wise multiply and reduction per group (VMLALDAVA for q15,
 * VMLADAVA for q7), two groups per loop test; a row's last group reaching past cols loads
 * under a tail predicate (inactive lanes read nothing) */
#define SCALPEL__QVSUMS(T, SUF, G, ACC, IT, VLD, VLDZ, VCTP, VMLA)                                \
    SCALPEL__NOINLINE static void scalpel__vsums_##SUF##_##IT(const int32_t *rp, int32_t nr, const IT **pip, \
                                                              const T **pvk, const T *x, int32_t cols, ACC *acc) \
    {                                                                                               \
        const IT *ip = *pip;                                                                        \
        const T *vk = *pvk;                                                                         \
        const int32_t *re = rp + nr;                                                                \
        int32_t a = rp[0], b;                                                                       \
        while (rp != re) {                                                                          \
            ACC t = 0;                                                                              \
            int32_t n, k, tail = 0;                                                                 \
            b = *++rp;                                                                              \
            n = b - a;                                                                              \
            a = b;                                                                                  \
            if (n > 0 && (int32_t)ip[n - 1] > cols - G) { /* a last group past cols: predicated */  \
                tail = cols - (int32_t)ip[n - 1];                                                   \
                n--;                                                                                \
            }                                                                                       \
            if (n & 1) {                                                                            \
                t = VMLA(t, VLD(vk), VLD(x + ip[0]));                                               \
                vk += G;                                                                            \
                ip++;                                                                               \
            }                                                                                       \
            for (k = n >> 1; k > 0; k--, vk += 2 * G, ip += 2) {                                    \
                t = VMLA(t, VLD(vk), VLD(x + ip[0]));                                               \
                t = VMLA(t, VLD(vk + G), VLD(x + ip[1]));                                           \
            }                                                                                       \
            if (tail > 0) {                                                                         \
                mve_pred16_t p = VCTP((uint32_t)tail);                                              \
                t = VMLA(t, VLDZ(vk, p), VLDZ(x + ip[0], p));                                       \
                vk += G;                                                                            \
                ip++;                                                                               \
            }                                                                                       \
            *acc++ = t;                                                                             \
        }                                                                                           \
        *pip = ip;                                                                                  \
        *pvk = vk;                                                                                  \
    }
SCALPEL__QVSUMS(int16_t, q15, 8, int64_t, uint16_t, vldrhq_s16, vldrhq_z_s16, vctp16q, vmlaldavaq_s16)
SCALPEL__QVSUMS(int16_t, q15, 8, int64_t, uint32_t, vldrhq_s16, vldrhq_z_s16, vctp16q, vmlaldavaq_s16)
SCALPEL__QVSUMS(int8_t, q7, 16, int32_t, uint16_t, vldrbq_s8, vldrbq_z_s8, vctp8q, vmladavaq_s8)
SCALPEL__QVSUMS(int8_t, q7, 16, int32_t, uint32_t, vldrbq_s8, vldrbq_z_s8, vctp8q, vmladavaq_s8)
SCALPEL__QWSPMV(int16_t, q15, 8, int64_t, uint16_t, v)
SCALPEL__QWSPMV(int16_t, q15, 8, int64_t, uint32_t, v)
SCALPEL__QWSPMV(int8_t, q7, 16, int32_t, uint16_t, v)
SCALPEL__QWSPMV(int8_t, q7, 16, int32_t, uint32_t, v)
#define SCALPEL__HAS_VSPMV 1
#else
#define SCALPEL__HAS_VSPMV 0 /* the calls below are never made: no Helium */
#define scalpel__vspmv_q15_uint16_t(w, x, rq, y) ((void)0)
#define scalpel__vspmv_q15_uint32_t(w, x, rq, y) ((void)0)
#define scalpel__vspmv_q7_uint16_t(w, x, rq, y) ((void)0)
#define scalpel__vspmv_q7_uint32_t(w, x, rq, y) ((void)0)
#endif

/* Matrix-matrix rows for the same one-word groups: two input vectors per pass over a row's
 * groups (each weight word loaded once for both), the row's bias / mult / shift and its tail
 * group (the last group of a row when cols % G != 0, done lane by lane) found once per row
 * rather than once per pass. An odd last vector runs as a pair with itself, one result kept.
 * Rows of at most 8 stored groups (a convolution with short rows, or rows pruned past ~90%)
 * take four input vectors per pass while four remain: the per-pass work (index and weight
 * loads, loop set-up) is then shared by four outputs (on the M4 model: LeNet-5's conv1 at 59%
 * pruned -5%, 100x100 at 90-99% -8 to -30%; at 30-80% the whole kernel is 1-2% slower, the
 * cost of the larger function's register allocation).
 * MAC2(v, xp0, xp1, t0, t1) adds one group to both accumulators. */
#define SCALPEL__QWSPMM(T, SUF, QMAX, G, ACC, IT, MAC2)                                             \
    static void scalpel__wspmm_##SUF##_##IT(const scalpel_gcsr *w, const T *x, int32_t n,          \
                                            const scalpel_requant *rq, T *y)                        \
    {                                                                                               \
        const IT *ci = (const IT *)w->col_idx;                                                      \
        const T *v = (const T *)w->values;                                                          \
        int32_t r, j, i, cols = w->cols, lo = rq->relu ? 0 : -(QMAX) - 1;                           \
        for (r = 0; r < w->rows; r++) {                                                             \
            int32_t a = w->row_ptr[r], e = w->row_ptr[r + 1], tl = 0, tc = 0;                       \
            int32_t m, sh;                                                                          \
            int64_t bias;                                                                           \
            const T *vt = v;                                                                        \
            T *yr = y + (size_t)r * (size_t)n;                                                      \
            scalpel__rq_params(rq, r, &m, &sh, &bias);                                              \
            if (e > a && (int64_t)ci[e - 1] + G > (int64_t)cols) { /* the tail group */              \
                e--;                                                                                \
                tc = (int32_t)ci[e];                                                                \
                tl = cols - tc;                                                                     \
                vt = v + (size_t)e * G;                                                             \
            }                                                                                       \
            for (j = 0; j + 4 <= n && e - a <= 8; j += 4) {                                         \
                const T *x0 = x + (size_t)j * (size_t)cols;                                         \
                const IT *ip = ci + a, *ie = ci + e;                                                \
                const T *vk = v + (size_t)a * G;                                                    \
                ACC t0 = 0, t1 = 0, t2 = 0, t3 = 0;                                                 \
                for (; ip != ie; ip++, vk += G) {                                                   \
                    const T *xc = x0 + ip[0];                                                       \
                    MAC2(vk, xc, xc + cols, t0, t1);                                                \
                    MAC2(vk, xc + 2 * cols, xc + 3 * cols, t2, t3);                                 \
                }                                                                                   \
                for (i = 0; i < tl; i++) {                                                          \
                    t0 += (int32_t)vt[i] * x0[tc + i];                                              \
                    t1 += (int32_t)vt[i] * x0[cols + tc + i];                                       \
                    t2 += (int32_t)vt[i] * x0[2 * cols + tc + i];                                   \
                    t3 += (int32_t)vt[i] * x0[3 * cols + tc + i];                                   \
                }                                                                                   \
                yr[j] = (T)scalpel__requant((int64_t)t0 + bias, m, sh, lo, QMAX);                   \
                yr[j + 1] = (T)scalpel__requant((int64_t)t1 + bias, m, sh, lo, QMAX);               \
                yr[j + 2] = (T)scalpel__requant((int64_t)t2 + bias, m, sh, lo, QMAX);               \
                yr[j + 3] = (T)scalpel__requant((int64_t)t3 + bias, m, sh, lo, QMAX);               \
            }                                                                                       \
            for (; j < n; j += 2) {                                                                 \
                const T *x0 = x + (size_t)j * (size_t)cols, *x1 = j + 1 < n ? x0 + cols : x0;      \
                const IT *ip = ci + a, *ie = ci + e;                                                \
                const T *vk = v + (size_t)a * G;                                                    \
                ACC t0 = 0, t1 = 0;                                                                 \
                if (((ie - ip) & 1) != 0) { MAC2(vk, x0 + ip[0], x1 + ip[0], t0, t1); ip++; vk += G; }   \
                for (; ip != ie; ip += 2, vk += 2 * G) {                                            \
                    MAC2(vk, x0 + ip[0], x1 + ip[0], t0, t1);                                       \
                    MAC2(vk + G, x0 + ip[1], x1 + ip[1], t0, t1);                                   \
                }                                                                                   \
                if (G == 2 && tl != 0) { /* q15: a tail group has one lane */                      \
                    t0 += (int32_t)vt[0] * x0[tc];                                                  \
                    t1 += (int32_t)vt[0] * x1[tc];                                                  \
                } else                                                                              \
                    for (i = 0; i < tl; i++) {                                                      \
                        t0 += (int32_t)vt[i] * x0[tc + i];                                          \
                        t1 += (int32_t)vt[i] * x1[tc + i];                                          \
                    }                                                                               \
                yr[j] = (T)scalpel__requant((int64_t)t0 + bias, m, sh, lo, QMAX);                   \
                if (j + 1 < n) yr[j + 1] = (T)scalpel__requant((int64_t)t1 + bias, m, sh, lo, QMAX); \
            }                                                                                       \
        }                                                                                           \
    }
#define SCALPEL__WMAC15X2(vk, xp0, xp1, t0, t1)                                                     \
    {                                                                                               \
        scalpel__p15 wv_ = SCALPEL__P15(vk);                                                        \
        t0 = SCALPEL__MAC15(wv_, SCALPEL__P15(xp0), t0);                                            \
        t1 = SCALPEL__MAC15(wv_, SCALPEL__P15(xp1), t1);                                            \
    }
#define SCALPEL__WMAC7X2(vk, xp0, xp1, t0, t1)                                                      \
    {                                                                                               \
        scalpel__p7 wv_ = SCALPEL__P7(vk);                                                          \
        t0 = SCALPEL__MAC7(wv_, SCALPEL__P7(xp0), t0);                                              \
        t1 = SCALPEL__MAC7(wv_, SCALPEL__P7(xp1), t1);                                              \
    }
SCALPEL__QWSPMM(int16_t, q15, 32767, 2, int64_t, uint16_t, SCALPEL__WMAC15X2)
SCALPEL__QWSPMM(int16_t, q15, 32767, 2, int64_t, uint32_t, SCALPEL__WMAC15X2)
SCALPEL__QWSPMM(int8_t, q7, 127, 4, int32_t, uint16_t, SCALPEL__WMAC7X2)
SCALPEL__QWSPMM(int8_t, q7, 127, 4, int32_t, uint32_t, SCALPEL__WMAC7X2)

/* Matrix-vector rows, one copy per (G, index width) chosen once per matrix: the row pointers
 * and the accumulator stay in registers and the requant's per-layer mult / shift are loaded
 * once. Column indices are multiples of G (scalpel_gcsr_validate), so a group can reach past
 * cols only when cols % G != 0, and then only a row's last one: it is done lane by lane. */
#define SCALPEL__QGSPMV(T, SUF, QMAX)                                                               \
    SCALPEL__QINLINE void scalpel__gspmv_##SUF##_k(const scalpel_gcsr *w, const T *x,              \
                                                   const scalpel_requant *rq, T *y, int idx16, int32_t g) \
    {                                                                                               \
        const T *v = (const T *)w->values;                                                          \
        const void *ci = w->col_idx;                                                                \
        const int32_t *rp = w->row_ptr;                                                             \
        const int64_t *bias = rq->bias;                                                             \
        const int32_t *mult = rq->mult;                                                             \
        const int8_t *shift = rq->shift;                                                            \
        int32_t rows = w->rows, cols = w->cols, r, i, a = rp[0], pc = rq->per_channel;             \
        int32_t m, sh, lo = rq->relu ? 0 : -(QMAX) - 1;                                             \
        int tail = g > 1 && cols % g != 0;                                                          \
        if (rows <= 0) return;                                                                      \
        m = mult[0];                                                                                \
        sh = shift[0];                                                                              \
        for (r = 0; r < rows; r++) {                                                                \
            int32_t b = rp[r + 1], e = b;                                                           \
            int64_t s[2] = {0, 0};                                                                  \
            if (tail && b > a) {                                                                    \
                uint32_t cl = idx16 ? ((const uint16_t *)ci)[b - 1] : ((const uint32_t *)ci)[b - 1]; \
                if ((int64_t)cl + g > (int64_t)cols) e = b - 1;                                     \
            }                                                                                       \
            scalpel__gdot_##SUF##_k(v, ci, idx16, a, e, g, x, x, 0, s);                             \
            if (tail && e < b) {                                                                    \
                int32_t c = (int32_t)(idx16 ? ((const uint16_t *)ci)[e] : ((const uint32_t *)ci)[e]); \
                const T *ve = v + (size_t)e * (size_t)g;                                            \
                for (i = 0; i < cols - c; i++) s[0] += (int32_t)ve[i] * x[c + i];                   \
            }                                                                                       \
            if (pc) {                                                                               \
                m = mult[r];                                                                        \
                sh = shift[r];                                                                      \
            }                                                                                       \
            y[r] = (T)scalpel__requant(s[0] + (bias != NULL ? bias[r] : 0), m, sh, lo, QMAX);      \
            a = b;                                                                                  \
        }                                                                                           \
    }                                                                                               \
    SCALPEL_API void scalpel_gcsr_spmv_##SUF(const scalpel_gcsr *w, const T *x,                    \
                                             const scalpel_requant *rq, T *y)                       \
    {                                                                                               \
        if (w->group * (int32_t)sizeof(T) == 4 && w->cols % w->group == 0 &&                        \
            ((uintptr_t)w->values & 3) == 0) {                                                      \
            if (w->index_bits == 16) scalpel__wspmv_##SUF##_uint16_t(w, x, rq, y);                  \
            else scalpel__wspmv_##SUF##_uint32_t(w, x, rq, y);                                      \
            return;                                                                                 \
        }                                                                                           \
        if (SCALPEL__HAS_VSPMV && w->group * (int32_t)sizeof(T) == 16) {                           \
            if (w->index_bits == 16) scalpel__vspmv_##SUF##_uint16_t(w, x, rq, y);                  \
            else scalpel__vspmv_##SUF##_uint32_t(w, x, rq, y);                                      \
            return;                                                                                 \
        }                                                                                           \
        if (w->index_bits != 16) {                                                                  \
            scalpel__gspmv_##SUF##_k(w, x, rq, y, 0, w->group);                                     \
            return;                                                                                 \
        }                                                                                           \
        switch (w->group) {                                                                         \
        case 1: scalpel__gspmv_##SUF##_k(w, x, rq, y, 1, 1); break;                                 \
        case 2: scalpel__gspmv_##SUF##_k(w, x, rq, y, 1, 2); break;                                 \
        case 4: scalpel__gspmv_##SUF##_k(w, x, rq, y, 1, 4); break;                                 \
        case 8: scalpel__gspmv_##SUF##_k(w, x, rq, y, 1, 8); break;                                 \
        default: scalpel__gspmv_##SUF##_k(w, x, rq, y, 1, 16); break;                               \
        }                                                                                           \
    }
SCALPEL__QGSPMV(int16_t, q15, 32767)
SCALPEL__QGSPMV(int8_t, q7, 127)

/* The fast kernels, one text for both types over the rung's dot products above; FOUR (1 for
 * q7) takes four rows (four patches) per pass before the pairs. */
#define SCALPEL__QFAST(T, SUF, QMAX, FOUR)                                                              \
    SCALPEL_API void scalpel_gemv_##SUF(const T *w, int32_t rows, int32_t cols, const T *x,        \
                                        const scalpel_requant *rq, T *y)                            \
    {                                                                                               \
        /* bias, mult and shift advance with the rows (stride 0 when shared or absent) */           \
        static const int64_t no_bias = 0;                                                           \
        const int64_t *bp = rq->bias != NULL ? rq->bias : &no_bias;                                 \
        const int32_t *mp = rq->mult;                                                               \
        const int8_t *sp = rq->shift;                                                               \
        int32_t bs = rq->bias != NULL, ms = rq->per_channel, r = 0, lo = rq->relu ? 0 : -(QMAX) - 1; \
        int64_t s0, s1;                                                                             \
        scalpel__sum4_##SUF s4[4];                                                                  \
        for (; FOUR && r + 3 < rows; r += 4, bp += 4 * bs, mp += 4 * ms, sp += 4 * ms) {           \
            scalpel__dot4_##SUF(w + (size_t)r * (size_t)cols, (size_t)cols, x, cols, s4);           \
            y[r] = (T)scalpel__requant(s4[0] + bp[0], mp[0], sp[0], lo, QMAX);                      \
            y[r + 1] = (T)scalpel__requant(s4[1] + bp[bs], mp[ms], sp[ms], lo, QMAX);               \
            y[r + 2] = (T)scalpel__requant(s4[2] + bp[2 * bs], mp[2 * ms], sp[2 * ms], lo, QMAX);   \
            y[r + 3] = (T)scalpel__requant(s4[3] + bp[3 * bs], mp[3 * ms], sp[3 * ms], lo, QMAX);   \
        }                                                                                           \
        for (; r + 1 < rows; r += 2, bp += 2 * bs, mp += 2 * ms, sp += 2 * ms) {                    \
            const T *w0 = w + (size_t)r * (size_t)cols;                                             \
            scalpel__dot2_##SUF(w0, w0 + cols, x, cols, &s0, &s1);                                  \
            y[r] = (T)scalpel__requant(s0 + bp[0], mp[0], sp[0], lo, QMAX);                         \
            y[r + 1] = (T)scalpel__requant(s1 + bp[bs], mp[ms], sp[ms], lo, QMAX);                  \
        }                                                                                           \
        if (r < rows)                                                                               \
            y[r] = (T)scalpel__requant(scalpel__dot1_##SUF(w + (size_t)r * (size_t)cols, x, cols) + bp[0], \
                                       mp[0], sp[0], lo, QMAX);                                     \
    }                                                                                               \
    SCALPEL_API void scalpel_gemm_##SUF(const T *w, int32_t rows, int32_t cols, const T *x,        \
                                        int32_t n, const scalpel_requant *rq, T *y)                 \
    {                                                                                               \
        int32_t r, j, lo = rq->relu ? 0 : -(QMAX) - 1;                                              \
        int64_t s0, s1;                                                                             \
        scalpel__sum4_##SUF s4[4];                                                                  \
        for (r = 0; r < rows; r++) {                                                                \
            const T *wr = w + (size_t)r * (size_t)cols;                                             \
            T *yr = y + (size_t)r * (size_t)n;                                                      \
            int32_t m, sh;                                                                          \
            int64_t b;                                                                              \
            scalpel__rq_params(rq, r, &m, &sh, &b);                                                 \
            for (j = 0; FOUR && j + 3 < n; j += 4) {                                                \
                scalpel__dot4_##SUF(x + (size_t)j * (size_t)cols, (size_t)cols, wr, cols, s4);     \
                yr[j] = (T)scalpel__requant(s4[0] + b, m, sh, lo, QMAX);                            \
                yr[j + 1] = (T)scalpel__requant(s4[1] + b, m, sh, lo, QMAX);                        \
                yr[j + 2] = (T)scalpel__requant(s4[2] + b, m, sh, lo, QMAX);                        \
                yr[j + 3] = (T)scalpel__requant(s4[3] + b, m, sh, lo, QMAX);                        \
            }                                                                                       \
            for (; j + 1 < n; j += 2) {                                                             \
                const T *xj = x + (size_t)j * (size_t)cols;                                         \
                scalpel__dot2_##SUF(xj, xj + cols, wr, cols, &s0, &s1);                             \
                yr[j] = (T)scalpel__requant(s0 + b, m, sh, lo, QMAX);                               \
                yr[j + 1] = (T)scalpel__requant(s1 + b, m, sh, lo, QMAX);                           \
            }                                                                                       \
            if (j < n)                                                                              \
                yr[j] = (T)scalpel__requant(scalpel__dot1_##SUF(x + (size_t)j * (size_t)cols, wr, cols) + b, \
                                            m, sh, lo, QMAX);                                       \
        }                                                                                           \
    }                                                                                               \
    SCALPEL_API void scalpel_gcsr_spmm_##SUF(const scalpel_gcsr *w, const T *x, int32_t n,         \
                                             const scalpel_requant *rq, T *y)                       \
    {                                                                                               \
        int32_t r, j, lo = rq->relu ? 0 : -(QMAX) - 1;                                              \
        int64_t s[2];                                                                               \
        if (w->group * (int32_t)sizeof(T) == 4) {                                                   \
            if (w->index_bits == 16) scalpel__wspmm_##SUF##_uint16_t(w, x, n, rq, y);               \
            else scalpel__wspmm_##SUF##_uint32_t(w, x, n, rq, y);                                   \
            return;                                                                                 \
        }                                                                                           \
        for (r = 0; r < w->rows; r++) {                                                             \
            T *yr = y + (size_t)r * (size_t)n;                                                      \
            int32_t m, sh;                                                                          \
            int64_t b;                                                                              \
            scalpel__rq_params(rq, r, &m, &sh, &b);                                                 \
            for (j = 0; j < n; j += 2) {                                                            \
                const T *xj = x + (size_t)j * (size_t)w->cols;                                      \
                scalpel__gdot_##SUF(w, r, xj, j + 1 < n ? xj + w->cols : NULL, s);                  \
                yr[j] = (T)scalpel__requant(s[0] + b, m, sh, lo, QMAX);                             \
                if (j + 1 < n) yr[j + 1] = (T)scalpel__requant(s[1] + b, m, sh, lo, QMAX);          \
            }                                                                                       \
        }                                                                                           \
    }
SCALPEL__QFAST(int16_t, q15, 32767, 0)
SCALPEL__QFAST(int8_t, q7, 127, 1)

/* rows[(OH*OW) x (C*K*K)] = im2row(in[C x H x W]): exact data movement, one text for both.
 * Kernel rows are a few values, where a memcpy call or a loop test per word costs several
 * times the copy on a microcontroller. So each output row's positions are split once into the
 * span whose windows lie inside the input and the border ones. A span is copied by one loop
 * per kernel size, with a memcpy of constant size per kernel row for the usual kernels (3, 5,
 * 7: two to four straight loads and stores), else 4 bytes at a time; border positions go
 * element by element with zeros. */
#define SCALPEL__IM2ROW_SPAN(n)                                                                     \
    for (; count > 0; count--, sc += stride)                                                        \
        for (ch = 0, sp = sc; ch < channels; ch++, sp += plane)                                     \
            for (i = 0, sr = sp; i < (n); i++, d += (n), sr += width) memcpy(d, sr, (size_t)(n) * sizeof(*d))
#define SCALPEL__IM2ROW(T, SUF)                                                                     \
    /* count interior positions from window corner sc on, stride apart; returns the end of d */    \
    static T *scalpel__im2row_span_##SUF(const T *sc, int32_t count, int32_t channels, int32_t width, \
                                         size_t plane, int32_t kernel, int32_t stride, T *d)        \
    {                                                                                               \
        const T *sp, *sr;                                                                           \
        int32_t ch, i, j, e = 4 / (int32_t)sizeof(T);                                              \
        switch (kernel) {                                                                           \
        case 3: SCALPEL__IM2ROW_SPAN(3); break;                                                     \
        case 5: SCALPEL__IM2ROW_SPAN(5); break;                                                     \
        case 7: SCALPEL__IM2ROW_SPAN(7); break;                                                     \
        default:                                                                                    \
            for (; count > 0; count--, sc += stride)                                                \
                for (ch = 0, sp = sc; ch < channels; ch++, sp += plane)                             \
                    for (i = 0, sr = sp; i < kernel; i++, d += kernel, sr += width) {               \
                        for (j = 0; j + e <= kernel; j += e) memcpy(d + j, sr + j, 4);              \
                        for (; j < kernel; j++) d[j] = sr[j];                                       \
                    }                                                                               \
        }                                                                                           \
        return d;                                                                                   \
    }                                                                                               \
    SCALPEL_API void scalpel_im2row_##SUF(const T *in, int32_t channels, int32_t height, int32_t width, \
                                          int32_t kernel, int32_t stride, int32_t pad, T *rows)     \
    {                                                                                               \
        int32_t oh = scalpel_conv_out_dim(height, kernel, stride, pad);                             \
        int32_t ow = scalpel_conv_out_dim(width, kernel, stride, pad);                              \
        int32_t oy, ox, ch, i, j, a, b;                                                             \
        size_t plane = (size_t)height * (size_t)width;                                              \
        T *d = rows;                                                                                \
        if (oh <= 0 || ow <= 0) return;                                                             \
        /* the interior columns: ox in [a, b) keeps x0 = ox*stride - pad and x0 + kernel in range */ \
        a = (pad + stride - 1) / stride;                                                            \
        b = width + pad >= kernel ? (width + pad - kernel) / stride + 1 : 0;                        \
        if (b > ow) b = ow;                                                                         \
        if (a > b) a = b;                                                                           \
        for (oy = 0; oy < oh; oy++) {                                                               \
            int32_t y0 = oy * stride - pad, inside = y0 >= 0 && y0 + kernel <= height;              \
            for (ox = 0; ox < ow; ox++) {                                                           \
                int32_t x0 = ox * stride - pad, lo, hi;                                             \
                if (inside && ox == a && b > a) {                                                   \
                    d = scalpel__im2row_span_##SUF(in + (size_t)y0 * (size_t)width + (size_t)x0, b - a, \
                                                   channels, width, plane, kernel, stride, d);      \
                    ox = b - 1;                                                                     \
                    continue;                                                                       \
                }                                                                                   \
                lo = x0 < 0 ? -x0 : 0;                                                              \
                hi = width - x0 < kernel ? width - x0 : kernel;                                     \
                for (ch = 0; ch < channels; ch++)                                                   \
                    for (i = 0; i < kernel; i++, d += kernel) {                                     \
                        const T *src;                                                               \
                        if (y0 + i < 0 || y0 + i >= height || hi <= lo) {                           \
                            for (j = 0; j < kernel; j++) d[j] = 0;                                  \
                            continue;                                                               \
                        }                                                                           \
                        src = in + (size_t)ch * plane + (size_t)(y0 + i) * (size_t)width;           \
                        for (j = 0; j < lo; j++) d[j] = 0;                                          \
                        for (; j < hi; j++) d[j] = src[x0 + j];                                     \
                        for (; j < kernel; j++) d[j] = 0;                                           \
                    }                                                                               \
            }                                                                                       \
        }                                                                                           \
    }
SCALPEL__IM2ROW(int16_t, q15)
SCALPEL__IM2ROW(int8_t, q7)

/* ---- fixed-point ReLU and max pooling -------------------------------------------------------
 * Exact integer compares: every rung gives the oracle's outputs. The plain loops are what the
 * compilers vectorise on hosts; ReLU has a Helium rung (GCC 12 does not vectorise for it at
 * -O2), 2x2 / stride-2 pooling of q15 rows a DSP one (M4, M7, M33, M55). */
#if defined(SCALPEL__QDSP)
/* Lane-wise max of two pairs of int16: SSUB16 sets the GE flags per lane (a >= b), SEL takes
 * a's lane where set, b's elsewhere. */
static inline uint32_t scalpel__max16x2_dsp(uint32_t a, uint32_t b)
{
    (void)__ssub16((int16x2_t)a, (int16x2_t)b);
    return (uint32_t)__sel((int16x2_t)a, (int16x2_t)b);
}
/* n outputs of a 2x2, stride-2 max pooling of q15 rows r0, r1 (2n values each) into dst: two
 * outputs per step from four word loads, three SSUB16 + SEL and one word store. */
static void scalpel__maxpool2_row_q15(const int16_t *r0, const int16_t *r1, int16_t *dst, int32_t n)
{
    int32_t pairs;
    /* counted down: one subtract-and-branch per step (an up-counter costs two more on M4) */
    for (pairs = n >> 1; pairs > 0; pairs--, r0 += 4, r1 += 4, dst += 2) {
        uint32_t a, b, c, d, m1, m2, p, q, o;
        memcpy(&a, r0, 4);
        memcpy(&b, r0 + 2, 4);
        memcpy(&c, r1, 4);
        memcpy(&d, r1 + 2, 4);
        m1 = scalpel__max16x2_dsp(a, c); /* columns 0, 1 of both rows */
        m2 = scalpel__max16x2_dsp(b, d); /* columns 2, 3 */
        p = (m1 & 0xffffu) | (m2 << 16);           /* column 0 | column 2 */
        q = (m1 >> 16) | (m2 & 0xffff0000u);       /* column 1 | column 3 */
        o = scalpel__max16x2_dsp(p, q);
        memcpy(dst, &o, 4);
    }
    if (n & 1) {
        int16_t x = r0[0] > r0[1] ? r0[0] : r0[1], y = r1[0] > r1[1] ? r1[0] : r1[1];
        *dst = x > y ? x : y;
    }
}
#define SCALPEL__POOL2_Q15_DSP 1
#define SCALPEL__POOL2_Q15_ROW(r0, r1, dst, n)                                                       \
    scalpel__maxpool2_row_q15((const int16_t *)(const void *)(r0), (const int16_t *)(const void *)(r1), \
                              (int16_t *)(void *)(dst), (n))
#else
#define SCALPEL__POOL2_Q15_DSP 0
#define SCALPEL__POOL2_Q15_ROW(r0, r1, dst, n) ((void)0)
#endif

/* ReLU: on Helium a vector of 8 (q15) or 16 (q7) lanes per step, the last one under a tail
 * predicate (inactive lanes are neither loaded nor stored; y == x is fine, each vector is loaded
 * before it is stored); elsewhere the plain loop. */
#if defined(SCALPEL__QMVE)
#define SCALPEL__RELU_Q(T, SUF) /* below */
#else
#define SCALPEL__RELU_Q(T, SUF)                                                                      \
    SCALPEL_API void scalpel_relu_##SUF(const T *x, size_t n, T *y)                                  \
    {                                                                                                \
        size_t k;                                                                                    \
        for (k = 0; k < n; k++) y[k] = x[k] > 0 ? x[k] : (T)0;                                       \
    }
#endif

/* Per element type: ReLU and max pooling, the oracles and the fast kernels. */
#define SCALPEL__QPOOL(T, SUF)                                                                       \
    SCALPEL_API void scalpel_relu_##SUF##_ref(const T *x, size_t n, T *y)                            \
    {                                                                                                \
        size_t k;                                                                                    \
        for (k = 0; k < n; k++) y[k] = x[k] > 0 ? x[k] : (T)0;                                       \
    }                                                                                                \
    SCALPEL__RELU_Q(T, SUF)                                                                          \
    SCALPEL_API void scalpel_maxpool_##SUF##_ref(const T *x, int32_t c, int32_t h, int32_t w, int32_t kernel, \
                                                 int32_t stride, T *y)                               \
    {                                                                                                \
        int32_t ch, oy, ox, ky, kx, oh, ow;                                                          \
        if (h < kernel || w < kernel) return;                                                        \
        oh = (h - kernel) / stride + 1;                                                              \
        ow = (w - kernel) / stride + 1;                                                              \
        for (ch = 0; ch < c; ch++)                                                                   \
            for (oy = 0; oy < oh; oy++)                                                              \
                for (ox = 0; ox < ow; ox++) {                                                        \
                    const T *win = x + ((size_t)ch * (size_t)h + (size_t)(oy * stride)) * (size_t)w + (size_t)(ox * stride); \
                    T m = win[0];                                                                    \
                    for (ky = 0; ky < kernel; ky++)                                                  \
                        for (kx = 0; kx < kernel; kx++) {                                            \
                            T v = win[(size_t)ky * (size_t)w + (size_t)kx];                          \
                            if (v > m) m = v;                                                        \
                        }                                                                            \
                    y[((size_t)ch * (size_t)oh + (size_t)oy) * (size_t)ow + (size_t)ox] = m;         \
                }                                                                                    \
    }                                                                                                \
    SCALPEL_API void scalpel_maxpool_##SUF(const T *x, int32_t c, int32_t h, int32_t w, int32_t kernel, \
                                           int32_t stride, T *y)                                     \
    {                                                                                                \
        int32_t ch, oy, ox, oh, ow;                                                                  \
        if (h < kernel || w < kernel) return;                                                        \
        if (kernel != 2 || stride != 2) {                                                            \
            scalpel_maxpool_##SUF##_ref(x, c, h, w, kernel, stride, y);                              \
            return;                                                                                  \
        }                                                                                            \
        oh = h / 2;                                                                                  \
        ow = w / 2;                                                                                  \
        for (ch = 0; ch < c; ch++) {                                                                 \
            const T *src = x + (size_t)ch * (size_t)h * (size_t)w;                                   \
            T *dst = y + (size_t)ch * (size_t)oh * (size_t)ow;                                       \
            for (oy = 0; oy < oh; oy++) { /* the common 2x2 window: pointers that run on */          \
                const T *r0 = src + (size_t)(2 * oy) * (size_t)w, *r1 = r0 + w;                      \
                if (SCALPEL__POOL2_Q15_DSP && sizeof(T) == 2) {                                      \
                    SCALPEL__POOL2_Q15_ROW(r0, r1, dst, ow);                                         \
                    dst += ow;                                                                       \
                    continue;                                                                        \
                }                                                                                    \
                for (ox = 0; ox < ow; ox++, r0 += 2, r1 += 2) {                                      \
                    T a = r0[0] > r0[1] ? r0[0] : r0[1], b = r1[0] > r1[1] ? r1[0] : r1[1];          \
                    *dst++ = a > b ? a : b;                                                          \
                }                                                                                    \
            }                                                                                        \
        }                                                                                            \
    }
SCALPEL__QPOOL(int16_t, q15)
SCALPEL__QPOOL(int8_t, q7)
#undef SCALPEL__QPOOL
#undef SCALPEL__RELU_Q
#if defined(SCALPEL__QMVE)
SCALPEL_API void scalpel_relu_q15(const int16_t *x, size_t n, int16_t *y)
{
    size_t k;
    for (k = 0; k < n; k += 8) {
        mve_pred16_t p = vctp16q((uint32_t)(n - k < 8 ? n - k : 8));
        vstrhq_p_s16(y + k, vmaxq_s16(vldrhq_z_s16(x + k, p), vdupq_n_s16(0)), p);
    }
}
SCALPEL_API void scalpel_relu_q7(const int8_t *x, size_t n, int8_t *y)
{
    size_t k;
    for (k = 0; k < n; k += 16) {
        mve_pred16_t p = vctp8q((uint32_t)(n - k < 16 ? n - k : 16));
        vstrbq_p_s8(y + k, vmaxq_s8(vldrbq_z_s8(x + k, p), vdupq_n_s8(0)), p);
    }
}
#endif
#undef SCALPEL__POOL2_Q15_DSP
#undef SCALPEL__POOL2_Q15_ROW

/* ---- fixed point: the other operators of the network kinds ------------------------------- */

/* The matrix kernels' requant written the plain way, for the `_ref` kernels below: the raw
 * mult and shift (no shift-32 normalization), floor division by exact shifts, no 32-bit path. */
static int32_t scalpel__q_requant_ref(int64_t t, int32_t m, int32_t s, int32_t lo, int32_t hi)
{
    int64_t v = scalpel__asr64(t * m + (s > 0 ? (int64_t)1 << (s - 1) : 0), s);
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}
static int32_t scalpel__q_row_ref(const scalpel_requant *rq, int32_t r, int64_t acc, int32_t lo, int32_t hi)
{
    int32_t k = rq->per_channel ? r : 0;
    return scalpel__q_requant_ref(acc + (rq->bias ? rq->bias[r] : 0), rq->mult[k], rq->shift[k], rq->relu ? 0 : lo, hi);
}

static const uint16_t scalpel__q_sigmoid_table[513] = {
    16384, 16640, 16896, 17151, 17407, 17661, 17916, 18169, 18421, 18673, 18923, 19173,
    19420, 19667, 19912, 20155, 20397, 20636, 20874, 21110, 21344, 21575, 21804, 22031,
    22255, 22477, 22696, 22913, 23127, 23338, 23547, 23753, 23955, 24155, 24352, 24546,
    24737, 24925, 25110, 25292, 25471, 25646, 25819, 25988, 26155, 26318, 26479, 26636,
    26790, 26941, 27090, 27235, 27377, 27516, 27653, 27786, 27917, 28045, 28169, 28292,
    28411, 28528, 28642, 28753, 28862, 28968, 29072, 29173, 29272, 29368, 29462, 29554,
    29644, 29731, 29816, 29899, 29979, 30058, 30135, 30210, 30282, 30353, 30422, 30489,
    30555, 30618, 30680, 30740, 30799, 30856, 30912, 30966, 31018, 31069, 31119, 31167,
    31214, 31260, 31304, 31347, 31389, 31430, 31469, 31508, 31545, 31581, 31616, 31651,
    31684, 31716, 31747, 31778, 31807, 31836, 31864, 31891, 31917, 31943, 31968, 31992,
    32015, 32038, 32060, 32081, 32102, 32122, 32141, 32160, 32179, 32196, 32214, 32231,
    32247, 32263, 32278, 32293, 32307, 32321, 32335, 32348, 32361, 32373, 32385, 32397,
    32408, 32419, 32430, 32440, 32450, 32460, 32469, 32478, 32487, 32496, 32504, 32512,
    32520, 32527, 32535, 32542, 32549, 32555, 32562, 32568, 32574, 32580, 32586, 32592,
    32597, 32602, 32607, 32612, 32617, 32622, 32626, 32630, 32635, 32639, 32643, 32647,
    32650, 32654, 32657, 32661, 32664, 32667, 32670, 32673, 32676, 32679, 32682, 32684,
    32687, 32689, 32692, 32694, 32696, 32699, 32701, 32703, 32705, 32707, 32709, 32711,
    32712, 32714, 32716, 32717, 32719, 32720, 32722, 32723, 32725, 32726, 32727, 32728,
    32730, 32731, 32732, 32733, 32734, 32735, 32736, 32737, 32738, 32739, 32740, 32741,
    32742, 32742, 32743, 32744, 32745, 32745, 32746, 32747, 32747, 32748, 32749, 32749,
    32750, 32750, 32751, 32752, 32752, 32753, 32753, 32753, 32754, 32754, 32755, 32755,
    32756, 32756, 32756, 32757, 32757, 32757, 32758, 32758, 32758, 32759, 32759, 32759,
    32759, 32760, 32760, 32760, 32760, 32761, 32761, 32761, 32761, 32762, 32762, 32762,
    32762, 32762, 32762, 32763, 32763, 32763, 32763, 32763, 32763, 32764, 32764, 32764,
    32764, 32764, 32764, 32764, 32764, 32765, 32765, 32765, 32765, 32765, 32765, 32765,
    32765, 32765, 32765, 32765, 32766, 32766, 32766, 32766, 32766, 32766, 32766, 32766,
    32766, 32766, 32766, 32766, 32766, 32766, 32766, 32766, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768
};
static const uint16_t scalpel__q_tanh_table[513] = {
    0, 1024, 2045, 3063, 4075, 5079, 6073, 7056, 8025, 8980, 9919, 10840,
    11743, 12625, 13486, 14326, 15143, 15936, 16706, 17452, 18173, 18870, 19542, 20189,
    20813, 21411, 21986, 22538, 23066, 23571, 24054, 24516, 24956, 25376, 25776, 26157,
    26519, 26864, 27191, 27502, 27797, 28076, 28341, 28592, 28830, 29055, 29268, 29470,
    29660, 29840, 30010, 30170, 30322, 30465, 30600, 30727, 30847, 30960, 31067, 31167,
    31262, 31351, 31435, 31515, 31589, 31659, 31726, 31788, 31846, 31901, 31953, 32002,
    32048, 32091, 32132, 32170, 32206, 32240, 32271, 32301, 32329, 32356, 32381, 32404,
    32426, 32447, 32466, 32484, 32501, 32517, 32532, 32547, 32560, 32573, 32584, 32596,
    32606, 32616, 32625, 32634, 32642, 32649, 32657, 32663, 32670, 32676, 32681, 32686,
    32691, 32696, 32700, 32704, 32708, 32712, 32715, 32718, 32721, 32724, 32727, 32729,
    32732, 32734, 32736, 32738, 32740, 32741, 32743, 32745, 32746, 32747, 32749, 32750,
    32751, 32752, 32753, 32754, 32755, 32755, 32756, 32757, 32758, 32758, 32759, 32759,
    32760, 32760, 32761, 32761, 32762, 32762, 32762, 32763, 32763, 32763, 32764, 32764,
    32764, 32764, 32765, 32765, 32765, 32765, 32765, 32766, 32766, 32766, 32766, 32766,
    32766, 32766, 32766, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768,
    32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768
};

/* f(a) for a in [0, 32768] (Q4.11): the table's entries a / 64 and a / 64 + 1, interpolated by
 * the low 6 bits, rounding half up (the tables increase, so the step is never negative). */
SCALPEL__QINLINE int32_t scalpel__q_table_at(const uint16_t *t, int32_t a)
{
    int32_t k = a >> 6, fr = a & 63;
    if (k >= 512) return t[512];
    return (int32_t)t[k] + ((((int32_t)t[k + 1] - (int32_t)t[k]) * fr + 32) >> 6);
}
/* sigmoid and tanh of u (Q4.11) in Q15, saturated to [-32767, 32767] */
SCALPEL__QINLINE int32_t scalpel__q_sigmoid15(int32_t u)
{
    int32_t f;
    if (u >= 0) return (f = scalpel__q_table_at(scalpel__q_sigmoid_table, u)) > 32767 ? 32767 : f;
    return 32768 - scalpel__q_table_at(scalpel__q_sigmoid_table, -u);
}
SCALPEL__QINLINE int32_t scalpel__q_tanh15(int32_t u)
{
    int32_t f = scalpel__q_table_at(scalpel__q_tanh_table, u >= 0 ? u : -u);
    if (f > 32767) f = 32767;
    return u >= 0 ? f : -f;
}
/* the same by the definition, for the `_ref` kernels: the entries around |u| as reals */
static int32_t scalpel__q_fn15_ref(const uint16_t *t, int32_t u, int odd)
{
    int64_t a = u < 0 ? -(int64_t)u : u, k = a / 64, f;
    if (k >= 512) f = t[512];
    else f = t[k] + scalpel__asr64(((int64_t)t[k + 1] - t[k]) * (a - 64 * k) + 32, 6);
    if (u >= 0) return f > 32767 ? 32767 : (int32_t)f;
    if (odd) return f > 32767 ? -32767 : -(int32_t)f;
    return (int32_t)(32768 - f);
}


/* Depthwise taps of one interior output (every tap inside x, dilation_w 1): the sum over the
 * kh rows i (inputs at xr + i*rs) of the filter row i times kw inputs. Helium: per row, 8 lanes
 * at a time under a tail predicate (inactive lanes read nothing), widened q7, one reducing
 * multiply-accumulate. Elsewhere the filter comes zero-padded to kwp taps (a multiple of the
 * pair, q15, or the quad, q7) in wp, and the caller guarantees that kwp inputs of every row
 * lie inside x's row: SMLALD pairs (q15) and SXTB16 + SMLAD quads (q7) on DSP cores, the same
 * products one by one in plain C. */
#if defined(SCALPEL__QMVE)
SCALPEL__QINLINE int64_t scalpel__dw_taps_q15(const int16_t *wt, int32_t kh, int32_t kw, const int16_t *xr, size_t rs)
{
    int64_t acc = 0;
    int32_t i, j;
    for (i = 0; i < kh; i++, xr += rs, wt += kw)
        for (j = 0; j < kw; j += 8) {
            mve_pred16_t p = vctp16q((uint32_t)(kw - j));
            acc = vmlaldavaq_s16(acc, vldrhq_z_s16(wt + j, p), vldrhq_z_s16(xr + j, p));
        }
    return acc;
}
SCALPEL__QINLINE int32_t scalpel__dw_taps_q7(const int8_t *wt, int32_t kh, int32_t kw, const int8_t *xr, size_t rs)
{
    int32_t acc = 0, i, j;
    for (i = 0; i < kh; i++, xr += rs, wt += kw)
        for (j = 0; j < kw; j += 8) {
            mve_pred16_t p = vctp16q((uint32_t)(kw - j));
            acc = vmladavaq_s16(acc, vldrbq_z_s16(wt + j, p), vldrbq_z_s16(xr + j, p));
        }
    return acc;
}
#else
SCALPEL__QINLINE int64_t scalpel__dw_taps_q15(const int16_t *wp, int32_t kh, int32_t kwp, const int16_t *xr, size_t rs)
{
    int64_t acc = 0;
    int32_t i, j;
    for (i = 0; i < kh; i++, xr += rs, wp += kwp)
        for (j = 0; j < kwp; j += 2) acc = SCALPEL__MAC15(SCALPEL__P15(wp + j), SCALPEL__P15(xr + j), acc);
    return acc;
}
SCALPEL__QINLINE int32_t scalpel__dw_taps_q7(const scalpel__p7 *wq, int32_t kh, int32_t kwp, const int8_t *xr, size_t rs)
{
    int32_t acc = 0, i, j;
    for (i = 0; i < kh; i++, xr += rs, wq += kwp / 4)
        for (j = 0; j < kwp; j += 4) acc = SCALPEL__MAC7(wq[j / 4], SCALPEL__P7(xr + j), acc);
    return acc;
}
#endif

#if defined(SCALPEL__QDSP) && !defined(SCALPEL__QMVE)
/* One output row of a 3x3 depthwise q7 filter at horizontal stride 1 on DSP cores, two
 * outputs per step: the word x[ox .. ox + 3] of an input row unpacked once, e = (x0, x2) and
 * o = (x1, x3), gives both outputs' three taps of that row:
 *   y[ox]     += SMLAD(e, (w0, w2)) + SMLABB(o, w1)     x0 w0 + x2 w2 + x1 w1
 *   y[ox + 1] += SMLAD(o, (w0, w2)) + SMLATB(e, w1)     x1 w0 + x3 w2 + x2 w1
 * one LDR, two SXTB16 and four multiply-accumulates for 6 MACs (the one-output loop takes
 * twice the loads and unpacks), the filter in registers for the whole row. x points at the
 * row's padded copy (scalpel_dwconv_q7's scratch: at least ow + 5 values per row, so the pair
 * past an odd ow reads inside it), rs apart; b, m, s are the channel's requant. The requant of
 * a shift 17 .. 32 with |b| < 2^30 is scalpel__requant's SMMULR path (|sum| <= 9 * 2^14, so
 * the sum plus bias fits 32 bits), the multiplier scaled once per row; any other goes through
 * scalpel__requant. */
SCALPEL__NOINLINE static void scalpel__dw3_row_q7(const int8_t *x, size_t rs, const int8_t *w, int32_t ow, int64_t b, int32_t m,
                                int32_t s, int32_t lo, int8_t *y)
{
    const int8_t *x1 = x + rs, *x2 = x1 + rs;
    const int32_t w02a = (int32_t)((uint32_t)(uint16_t)w[0] | ((uint32_t)(uint16_t)w[2] << 16));
    const int32_t w02b = (int32_t)((uint32_t)(uint16_t)w[3] | ((uint32_t)(uint16_t)w[5] << 16));
    const int32_t w02c = (int32_t)((uint32_t)(uint16_t)w[6] | ((uint32_t)(uint16_t)w[8] << 16));
    const int32_t w1ab = (int32_t)((uint32_t)(uint16_t)w[1] | ((uint32_t)(uint16_t)w[4] << 16)), w1c = w[7];
    const int fast = s >= 17 && s <= 32 && b > -((int64_t)1 << 30) && b < ((int64_t)1 << 30);
    const int32_t b32 = fast ? (int32_t)b : 0, m2 = fast ? m << (32 - s) : 0;
    int32_t ox;
    for (ox = 0; ox < ow; ox += 2) {
        uint32_t u;
        int32_t e, o, a0, a1, q0, q1;
        u = (uint32_t)scalpel__ld32(x + ox);
        e = __sxtb16((int32_t)u);
        o = scalpel__sxtb16_ror8(u);
        a0 = __smlabb(o, w1ab, __smlad(e, w02a, 0));
        a1 = __smlatb(e, w1ab, __smlad(o, w02a, 0));
        u = (uint32_t)scalpel__ld32(x1 + ox);
        e = __sxtb16((int32_t)u);
        o = scalpel__sxtb16_ror8(u);
        a0 = __smlabt(o, w1ab, __smlad(e, w02b, a0));
        a1 = __smlatt(e, w1ab, __smlad(o, w02b, a1));
        u = (uint32_t)scalpel__ld32(x2 + ox);
        e = __sxtb16((int32_t)u);
        o = scalpel__sxtb16_ror8(u);
        a0 = __smlabb(o, w1c, __smlad(e, w02c, a0));
        a1 = __smlatb(e, w1c, __smlad(o, w02c, a1));
        if (fast) {
            q0 = __ssat(scalpel__smmulr(a0 + b32, m2), 8);
            q1 = __ssat(scalpel__smmulr(a1 + b32, m2), 8);
            q0 = q0 < lo ? lo : q0;
            q1 = q1 < lo ? lo : q1;
        } else {
            q0 = scalpel__requant((int64_t)a0 + b, m, s, lo, 127);
            q1 = scalpel__requant((int64_t)a1 + b, m, s, lo, 127);
        }
        y[ox] = (int8_t)q0;
        if (ox + 1 < ow) y[ox + 1] = (int8_t)q1;
    }
}
#define SCALPEL__DW3_PAIRS(NAME) SCALPEL__DW3_PAIRS_##NAME
#define SCALPEL__DW3_PAIRS_q7 1
#define SCALPEL__DW3_PAIRS_q15 0
#define SCALPEL__DW3_ROW(NAME, x, rs, w, ow, b, m, s, lo, y) SCALPEL__DW3_ROW_##NAME(x, rs, w, ow, b, m, s, lo, y)
#define SCALPEL__DW3_ROW_q7(x, rs, w, ow, b, m, s, lo, y) scalpel__dw3_row_q7(x, rs, w, ow, b, m, s, lo, y)
#define SCALPEL__DW3_ROW_q15(x, rs, w, ow, b, m, s, lo, y) ((void)0)
#else
#define SCALPEL__DW3_PAIRS(NAME) 0
#define SCALPEL__DW3_ROW(NAME, x, rs, w, ow, b, m, s, lo, y) ((void)0)
#endif

/* im2row of a window wholly inside x: for each of the cn channels and kh kernel rows, n values
 * from xc + off (rows rs apart, channels plane apart) to rows; n a constant for the usual kernels, so
 * that each copy is a few loads and stores rather than a call */
#define SCALPEL__IM2ROW_ROWS(T, n)                                                                  \
    for (ch = 0; ch < cn; ch++, xc += plane)                                                        \
        for (i = 0; i < kh; i++, rows += (n)) memcpy(rows, xc + off + (size_t)i * rs, (size_t)(n) * sizeof(T))

/* The kernels, once per type: T the element, NAME q15 / q7, ACC the depthwise accumulator,
 * LO / HI the range, Q7 1 for the 8-bit type (sigmoid / tanh outputs in Q7). */
#define SCALPEL__QOPS(T, NAME, ACC, LO, HI, Q7, PAD)                                                         \
    SCALPEL_API void scalpel_im2row_window_##NAME(const T *x, int32_t h, int32_t w, int32_t c0, int32_t cn,  \
                                                  const scalpel_conv_window *win, int32_t ow, int32_t p0,   \
                                                  int32_t np, T *rows)                                      \
    {                                                                                                       \
        const int32_t kh = win->kh, kw = win->kw, dw = win->dw;                                             \
        const size_t plane = (size_t)h * (size_t)w, rs = (size_t)win->dh * (size_t)w;                      \
        const T *xc0 = x + (size_t)c0 * plane, *xr;                                                         \
        int32_t p, ch, i, j, oy = p0 / ow, ox = p0 % ow;                                                    \
        for (p = 0; p < np; p++) {                                                                          \
            int32_t y0 = oy * win->sh - win->pt, x0 = ox * win->sw - win->pl, jl, jh;                       \
            const T *xc = xc0;                                                                              \
            /* the window's columns j in [jl, jh) lie inside x: x0 + j * dw in [0, w) */                     \
            jl = x0 >= 0 ? 0 : (-x0 + dw - 1) / dw;                                                         \
            jh = x0 >= w ? 0 : (w - 1 - x0) / dw + 1;                                                       \
            if (jl > kw) jl = kw;                                                                           \
            if (jh > kw) jh = kw;                                                                           \
            if (jh < jl) jh = jl;                                                                           \
            if (++ox == ow) {                                                                               \
                ox = 0;                                                                                     \
                oy++;                                                                                       \
            }                                                                                               \
            if (jl == 0 && jh == kw && dw == 1 && y0 >= 0 && y0 + (kh - 1) * win->dh < h) {                 \
                /* the whole window inside x: kernel rows copied with one constant-size copy each */       \
                size_t off = (size_t)y0 * (size_t)w + (size_t)x0;                                           \
                switch (kw) {                                                                               \
                case 3: SCALPEL__IM2ROW_ROWS(T, 3); break;                                                  \
                case 5: SCALPEL__IM2ROW_ROWS(T, 5); break;                                                  \
                case 7: SCALPEL__IM2ROW_ROWS(T, 7); break;                                                  \
                default: SCALPEL__IM2ROW_ROWS(T, kw); break;                                                \
                }                                                                                           \
                continue;                                                                                   \
            }                                                                                               \
            for (ch = 0; ch < cn; ch++, xc += plane)                                                        \
                for (i = 0; i < kh; i++, rows += kw) {                                                      \
                    int32_t iy = y0 + i * win->dh;                                                          \
                    if (iy < 0 || iy >= h) {                                                                \
                        memset(rows, 0, (size_t)kw * sizeof(T));                                            \
                        continue;                                                                           \
                    }                                                                                       \
                    xr = xc + (size_t)iy * (size_t)w;                                                       \
                    for (j = 0; j < jl; j++) rows[j] = 0;                                                   \
                    for (; j < jh; j++) rows[j] = xr[x0 + j * dw];                                          \
                    for (; j < kw; j++) rows[j] = 0;                                                        \
                }                                                                                           \
        }                                                                                                   \
    }                                                                                                       \
    SCALPEL_API void scalpel_dwconv_##NAME##_ref(const T *x, int32_t c, int32_t h, int32_t w, int32_t mult,    \
                                                 const T *wt, const scalpel_conv_window *win, int32_t oh,     \
                                                 int32_t ow, const scalpel_requant *rq, T *y)                 \
    {                                                                                                       \
        int32_t o, oy, ox, i, j;                                                                            \
        for (o = 0; o < c * mult; o++)                                                                      \
            for (oy = 0; oy < oh; oy++)                                                                     \
                for (ox = 0; ox < ow; ox++) {                                                               \
                    int64_t acc = 0;                                                                        \
                    for (i = 0; i < win->kh; i++)                                                           \
                        for (j = 0; j < win->kw; j++) {                                                     \
                            int32_t iy = oy * win->sh + i * win->dh - win->pt, ix = ox * win->sw + j * win->dw - win->pl; \
                            if (iy >= 0 && iy < h && ix >= 0 && ix < w)                                     \
                                acc += (int64_t)wt[((size_t)o * (size_t)win->kh + (size_t)i) * (size_t)win->kw + (size_t)j] * \
                                       x[((size_t)(o / mult) * (size_t)h + (size_t)iy) * (size_t)w + (size_t)ix]; \
                        }                                                                                   \
                    y[((size_t)o * (size_t)oh + (size_t)oy) * (size_t)ow + (size_t)ox] =                    \
                        (T)scalpel__q_row_ref(rq, o, acc, (LO), (HI));                                      \
                }                                                                                           \
    }                                                                                                       \
    /* each window's rows and columns inside x found once, then its cells */                              \
    SCALPEL_API void scalpel_pool_window_##NAME(const T *x, int32_t c, int32_t h, int32_t w,                   \
                                                const scalpel_conv_window *win, int32_t pb, int32_t pr,        \
                                                int32_t op, int32_t oh, int32_t ow, T *y)                     \
    {                                                                                                       \
        int32_t ch, oy, ox, i, j;                                                                           \
        for (ch = 0; ch < c; ch++) {                                                                        \
            const T *xc = x + (size_t)ch * (size_t)h * (size_t)w;                                           \
            for (oy = 0; oy < oh; oy++) {                                                                   \
                int32_t ys = oy * win->sh - win->pt, y0 = ys < 0 ? 0 : ys;                                  \
                int32_t y1 = ys + win->kh < h ? ys + win->kh : h;                                           \
                int32_t py1 = ys + win->kh < h + pb ? ys + win->kh : h + pb;                                \
                for (ox = 0; ox < ow; ox++) {                                                               \
                    int32_t xs = ox * win->sw - win->pl, x0 = xs < 0 ? 0 : xs;                              \
                    int32_t x1 = xs + win->kw < w ? xs + win->kw : w;                                       \
                    int32_t px1 = xs + win->kw < w + pr ? xs + win->kw : w + pr, v;                         \
                    if (op == SCALPEL_POOL_OP_MAX) {                                                        \
                        int32_t mx = xc[(size_t)y0 * (size_t)w + (size_t)x0];                               \
                        for (i = y0; i < y1; i++)                                                           \
                            for (j = x0; j < x1; j++)                                                       \
                                if (xc[(size_t)i * (size_t)w + (size_t)j] > mx) mx = xc[(size_t)i * (size_t)w + (size_t)j]; \
                        v = mx;                                                                             \
                    } else {                                                                                \
                        int64_t sum = 0, n = op == SCALPEL_POOL_OP_AVG_PADS ? (int64_t)(py1 - ys) * (px1 - xs) \
                                                                         : (int64_t)(y1 - y0) * (x1 - x0);  \
                        for (i = y0; i < y1; i++)                                                           \
                            for (j = x0; j < x1; j++) sum += xc[(size_t)i * (size_t)w + (size_t)j];         \
                        v = (int32_t)(sum >= 0 ? (2 * sum + n) / (2 * n) : -((2 * -sum + n) / (2 * n)));    \
                    }                                                                                       \
                    y[((size_t)ch * (size_t)oh + (size_t)oy) * (size_t)ow + (size_t)ox] = (T)v;             \
                }                                                                                           \
            }                                                                                               \
        }                                                                                                   \
    }                                                                                                       \
    /* every cell of every window tested against x and against the padded input */                        \
    SCALPEL_API void scalpel_pool_window_##NAME##_ref(const T *x, int32_t c, int32_t h, int32_t w,             \
                                                    const scalpel_conv_window *win, int32_t pb, int32_t pr,    \
                                                    int32_t op, int32_t oh, int32_t ow, T *y)                 \
    {                                                                                                       \
        int32_t ch, oy, ox, i, j;                                                                           \
        for (ch = 0; ch < c; ch++)                                                                          \
            for (oy = 0; oy < oh; oy++)                                                                     \
                for (ox = 0; ox < ow; ox++) {                                                               \
                    int64_t sum = 0, n = 0, npad = 0, q;                                                    \
                    int32_t mx = (LO) - 1;                                                                  \
                    for (i = 0; i < win->kh; i++)                                                           \
                        for (j = 0; j < win->kw; j++) {                                                     \
                            int32_t iy = oy * win->sh - win->pt + i, ix = ox * win->sw - win->pl + j;       \
                            if (iy < h + pb && ix < w + pr) npad++;                                         \
                            if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;                           \
                            q = x[((size_t)ch * (size_t)h + (size_t)iy) * (size_t)w + (size_t)ix];          \
                            sum += q;                                                                       \
                            n++;                                                                            \
                            if (q > mx) mx = (int32_t)q;                                                    \
                        }                                                                                   \
                    if (op == SCALPEL_POOL_OP_AVG_PADS) n = npad;                                           \
                    if (op != SCALPEL_POOL_OP_MAX) {                                                        \
                        /* round half away from zero: |sum| / n + 1/2, floored, signed back */              \
                        q = sum < 0 ? -sum : sum;                                                           \
                        q = q / n + (2 * (q % n) >= n ? 1 : 0);                                             \
                        mx = (int32_t)(sum < 0 ? -q : q);                                                   \
                    }                                                                                       \
                    y[((size_t)ch * (size_t)oh + (size_t)oy) * (size_t)ow + (size_t)ox] = (T)mx;            \
                }                                                                                           \
    }                                                                                                       \
    SCALPEL_API void scalpel_channel_scale_##NAME(const T *x, int32_t c, size_t plane, const T *wt,           \
                                                  const scalpel_requant *rq, T *y)                          \
    {                                                                                                       \
        int32_t ch, lo = rq->relu ? 0 : (LO);                                                               \
        size_t p;                                                                                           \
        for (ch = 0; ch < c; ch++) {                                                                        \
            const T *xc = x + (size_t)ch * plane;                                                           \
            T *yc = y + (size_t)ch * plane;                                                                 \
            int32_t m, s, k = wt[ch];                                                                       \
            int64_t b;                                                                                      \
            scalpel__rq_params(rq, ch, &m, &s, &b);                                                         \
            for (p = 0; p < plane; p++) yc[p] = (T)scalpel__requant((int64_t)(k * xc[p]) + b, m, s, lo, (HI)); \
        }                                                                                                   \
    }                                                                                                       \
    SCALPEL_API void scalpel_channel_scale_##NAME##_ref(const T *x, int32_t c, size_t plane, const T *wt,     \
                                                      const scalpel_requant *rq, T *y)                      \
    {                                                                                                       \
        size_t k;                                                                                           \
        for (k = 0; k < (size_t)c * plane; k++)                                                             \
            y[k] = (T)scalpel__q_row_ref(rq, (int32_t)(k / plane), (int64_t)wt[k / plane] * x[k], (LO), (HI)); \
    }                                                                                                       \
    SCALPEL_API void scalpel_add_##NAME(const T *x, const T *x2, size_t n, int32_t ma, int32_t mb, int32_t shift, \
                                        int relu, T *y)                                                     \
    {                                                                                                       \
        size_t k;                                                                                           \
        int32_t lo = relu ? 0 : (LO), s = shift;                                                            \
        if (s == 32) { ma *= 2; mb *= 2; s = 33; } /* as scalpel__rq_norm */                                \
        for (k = 0; k < n; k++)                                                                             \
            y[k] = (T)scalpel__requant((int64_t)x[k] * ma + (int64_t)x2[k] * mb, 1, s, lo, (HI));           \
    }                                                                                                       \
    SCALPEL_API void scalpel_add_##NAME##_ref(const T *x, const T *x2, size_t n, int32_t ma, int32_t mb,       \
                                            int32_t shift, int relu, T *y)                                  \
    {                                                                                                       \
        size_t k;                                                                                           \
        for (k = 0; k < n; k++)                                                                             \
            y[k] = (T)scalpel__q_requant_ref((int64_t)x[k] * ma + (int64_t)x2[k] * mb, 1, shift, relu ? 0 : (LO), (HI)); \
    }                                                                                                       \
    SCALPEL_API void scalpel_rescale_##NAME(const T *x, size_t n, int32_t mult, int32_t shift, T *y)           \
    {                                                                                                       \
        size_t k;                                                                                           \
        if (mult == 16384 && shift == 14) {                                                                 \
            if (y != x) memmove(y, x, n * sizeof(T));                                                       \
            return;                                                                                         \
        }                                                                                                   \
        scalpel__rq_norm(&mult, &shift); /* shift 32 as 33 */                                                 \
        for (k = 0; k < n; k++) y[k] = (T)scalpel__requant(x[k], mult, shift, (LO), (HI));                  \
    }                                                                                                       \
    SCALPEL_API void scalpel_rescale_##NAME##_ref(const T *x, size_t n, int32_t mult, int32_t shift, T *y)     \
    {                                                                                                       \
        size_t k;                                                                                           \
        for (k = 0; k < n; k++) y[k] = (T)scalpel__q_requant_ref(x[k], mult, shift, (LO), (HI));            \
    }                                                                                                       \
    SCALPEL_API void scalpel_clip_##NAME(const T *x, size_t n, int32_t lo, int32_t hi, T *y)                   \
    {                                                                                                       \
        size_t k;                                                                                           \
        for (k = 0; k < n; k++) y[k] = (T)(x[k] < lo ? lo : x[k] > hi ? hi : x[k]);                         \
    }                                                                                                       \
    SCALPEL_API void scalpel_clip_##NAME##_ref(const T *x, size_t n, int32_t lo, int32_t hi, T *y)             \
    {                                                                                                       \
        size_t k;                                                                                           \
        for (k = 0; k < n; k++) {                                                                           \
            int32_t v = x[k];                                                                               \
            if (v < lo) v = lo;                                                                             \
            if (v > hi) v = hi;                                                                             \
            y[k] = (T)v;                                                                                    \
        }                                                                                                   \
    }                                                                                                       \
    SCALPEL_API void scalpel_leaky_relu_##NAME(const T *x, size_t n, int32_t slope, int32_t shift, T *y)       \
    {                                                                                                       \
        size_t k;                                                                                           \
        scalpel__rq_norm(&slope, &shift);                                                                  \
        for (k = 0; k < n; k++) y[k] = x[k] >= 0 ? x[k] : (T)scalpel__requant(x[k], slope, shift, (LO), (HI)); \
    }                                                                                                       \
    SCALPEL_API void scalpel_leaky_relu_##NAME##_ref(const T *x, size_t n, int32_t slope, int32_t shift, T *y) \
    {                                                                                                       \
        size_t k;                                                                                           \
        for (k = 0; k < n; k++)                                                                             \
            y[k] = (T)(x[k] >= 0 ? x[k] : scalpel__q_requant_ref(x[k], slope, shift, (LO), (HI)));          \
    }                                                                                                       \
    SCALPEL_API void scalpel_hardswish_##NAME(const T *x, size_t n, int32_t three, int32_t six, int32_t mult,  \
                                              int32_t shift, T *y)                                          \
    {                                                                                                       \
        size_t k;                                                                                           \
        scalpel__rq_norm(&mult, &shift); /* shift 32 as 33 */                                                 \
        for (k = 0; k < n; k++) {                                                                           \
            int32_t t = x[k] + three;                                                                       \
            t = t < 0 ? 0 : t > six ? six : t;                                                              \
            y[k] = (T)scalpel__requant((int64_t)x[k] * t, mult, shift, (LO), (HI));                         \
        }                                                                                                   \
    }                                                                                                       \
    SCALPEL_API void scalpel_hardswish_##NAME##_ref(const T *x, size_t n, int32_t three, int32_t six,          \
                                                  int32_t mult, int32_t shift, T *y)                        \
    {                                                                                                       \
        size_t k;                                                                                           \
        for (k = 0; k < n; k++) {                                                                           \
            int64_t t = (int64_t)x[k] + three;                                                              \
            if (t < 0) t = 0;                                                                               \
            if (t > six) t = six;                                                                           \
            y[k] = (T)scalpel__q_requant_ref(x[k] * t, mult, shift, (LO), (HI));                            \
        }                                                                                                   \
    }                                                                                                       \
    SCALPEL_API void scalpel_sigmoid_##NAME(const T *x, size_t n, int32_t mult, int32_t shift, T *y)           \
    {                                                                                                       \
        size_t k;                                                                                           \
        scalpel__rq_norm(&mult, &shift); /* shift 32 as 33 */                                                 \
        for (k = 0; k < n; k++) {                                                                           \
            int32_t f = scalpel__q_sigmoid15(scalpel__requant(x[k], mult, shift, -32768, 32767));           \
            y[k] = (T)(Q7 ? ((f + 128) >> 8 > 127 ? 127 : (f + 128) >> 8) : f);                            \
        }                                                                                                   \
    }                                                                                                       \
    SCALPEL_API void scalpel_sigmoid_##NAME##_ref(const T *x, size_t n, int32_t mult, int32_t shift, T *y)     \
    {                                                                                                       \
        size_t k;                                                                                           \
        for (k = 0; k < n; k++) {                                                                           \
            int64_t f = scalpel__q_fn15_ref(scalpel__q_sigmoid_table,                                       \
                                            scalpel__q_requant_ref(x[k], mult, shift, -32768, 32767), 0);   \
            if (Q7) f = scalpel__q_requant_ref(f, 1, 8, -128, 127);                                         \
            y[k] = (T)f;                                                                                    \
        }                                                                                                   \
    }                                                                                                       \
    SCALPEL_API void scalpel_tanh_##NAME(const T *x, size_t n, int32_t mult, int32_t shift, T *y)              \
    {                                                                                                       \
        size_t k;                                                                                           \
        scalpel__rq_norm(&mult, &shift); /* shift 32 as 33 */                                                 \
        for (k = 0; k < n; k++) {                                                                           \
            int32_t f = scalpel__q_tanh15(scalpel__requant(x[k], mult, shift, -32768, 32767)), a;            \
            if (Q7) {                                                                                       \
                a = ((f < 0 ? -f : f) + 128) >> 8;                                                          \
                a = a > 127 ? 127 : a;                                                                      \
                f = f < 0 ? -a : a;                                                                         \
            }                                                                                               \
            y[k] = (T)f;                                                                                    \
        }                                                                                                   \
    }                                                                                                       \
    SCALPEL_API void scalpel_tanh_##NAME##_ref(const T *x, size_t n, int32_t mult, int32_t shift, T *y)        \
    {                                                                                                       \
        size_t k;                                                                                           \
        for (k = 0; k < n; k++) {                                                                           \
            int64_t f = scalpel__q_fn15_ref(scalpel__q_tanh_table,                                          \
                                            scalpel__q_requant_ref(x[k], mult, shift, -32768, 32767), 1);   \
            if (Q7) f = f < 0 ? -scalpel__q_requant_ref(-f, 1, 8, 0, 127) : scalpel__q_requant_ref(f, 1, 8, 0, 127); \
            y[k] = (T)f;                                                                                    \
        }                                                                                                   \
    }
#if defined(SCALPEL__QMVE)
/* Helium reads the filter as it is, kw inputs per row (predicated) */
#define SCALPEL__DW_WQ_DECL(NAME)
#define SCALPEL__DW_WQ_FILL(NAME) (void)wpad;
#define SCALPEL__DW_TAPS(NAME, wo, xr, rs) scalpel__dw_taps_##NAME(wo, win->kh, win->kw, xr, rs)
#define SCALPEL__DW_TAPS3(NAME, wo, xr, rs) scalpel__dw_taps_##NAME(wo, 3, 3, xr, rs)
#else
/* the padded filter, and for q7 its quads unpacked once per channel */
#define SCALPEL__DW_WQ_DECL(NAME) SCALPEL__DW_WQ_DECL_##NAME
#define SCALPEL__DW_WQ_DECL_q15
#define SCALPEL__DW_WQ_DECL_q7 scalpel__p7 wq[16];
#define SCALPEL__DW_WQ_FILL(NAME) SCALPEL__DW_WQ_FILL_##NAME
#define SCALPEL__DW_WQ_FILL_q15
#define SCALPEL__DW_WQ_FILL_q7 for (j = 0; j < win->kh * kwp / 4; j++) wq[j] = SCALPEL__P7(wpad + 4 * j);
#define SCALPEL__DW_TAPS(NAME, wo, xr, rs) SCALPEL__DW_TAPS_##NAME(xr, rs)
#define SCALPEL__DW_TAPS_q15(xr, rs) scalpel__dw_taps_q15(wpad, win->kh, kwp, xr, rs)
#define SCALPEL__DW_TAPS_q7(xr, rs) scalpel__dw_taps_q7(wq, win->kh, kwp, xr, rs)
#define SCALPEL__DW_TAPS3(NAME, wo, xr, rs) SCALPEL__DW_TAPS3_##NAME(xr, rs)
#define SCALPEL__DW_TAPS3_q15(xr, rs) scalpel__dw_taps_q15(wpad, 3, 4, xr, rs)
#define SCALPEL__DW_TAPS3_q7(xr, rs) scalpel__dw_taps_q7(wq, 3, 4, xr, rs)
#endif
/* The padded channel of scalpel_dwconv_q*: the rows and columns the windows reach, plus the
 * columns the fast taps read past a row's last tap (a pair or quad rounded up: 3). */
SCALPEL_API size_t scalpel_dwconv_q_scratch(const scalpel_conv_window *win, int32_t oh, int32_t ow)
{
    size_t hp = (size_t)(oh - 1) * (size_t)win->sh + (size_t)(win->kh - 1) * (size_t)win->dh + 1u;
    size_t wp = (size_t)(ow - 1) * (size_t)win->sw + (size_t)(win->kw - 1) * (size_t)win->dw + 1u + 3u;
    return hp * wp;
}

/* The depthwise kernel, once per type (as SCALPEL__QOPS). Per input channel: the channel copied
 * with its zero padding into scratch (hp rows of wp); per output channel: the filter padded
 * for the fast taps (scalpel__dw_taps_*) and the requant of its row; then every output runs
 * the taps, the pointer stepping by the stride. A dilated row (dw > 1) or a filter too large
 * for the padded copy takes the taps one by one. */
#define SCALPEL__DWCONV(T, NAME, ACC, LO, HI, PAD)                                                            \
    SCALPEL_API void scalpel_dwconv_##NAME(const T *x, int32_t c, int32_t h, int32_t w, int32_t mult,          \
                                           const T *wt, const scalpel_conv_window *win, int32_t oh, int32_t ow,  \
                                           const scalpel_requant *rq, T *scratch, T *y)                     \
    {                                                                                                       \
        const int32_t kh = win->kh, kw = win->kw, sh = win->sh, sw = win->sw, taps = kh * kw;                \
        const int32_t kwp = (kw + (PAD) - 1) / (PAD) * (PAD), lo = rq->relu ? 0 : (LO);                     \
        const int fast = win->dw == 1 && kh * kwp <= 64;                                                    \
        const int32_t hp = (oh - 1) * sh + (kh - 1) * win->dh + 1, wp = (ow - 1) * sw + (kw - 1) * win->dw + 4; \
        const size_t rs = (size_t)win->dh * (size_t)wp;                                                     \
        int32_t ci, o, oy, ox, i, j;                                                                        \
        T wpad[64];                                                                                         \
        const int32_t y_lo = win->pt > 0 ? win->pt : 0, y_hi = hp < h + win->pt ? hp : h + win->pt;         \
        const int32_t ncopy = w < wp - win->pl ? w : wp - win->pl;                                          \
        SCALPEL__DW_WQ_DECL(NAME)                                                                           \
        /* the copy's padding is the same zeros for every channel: cleared once; then each channel  \
         * writes only its rows' values, row i of the copy being input row i - pt */                \
        memset(scratch, 0, (size_t)hp * (size_t)wp * sizeof(T));                                            \
        for (ci = 0; ci < c; ci++) {                                                                        \
            const T *xc = x + (size_t)ci * (size_t)h * (size_t)w;                                           \
            for (i = y_lo; i < y_hi; i++) {                                                                 \
                T *d = scratch + (size_t)i * (size_t)wp + win->pl;                                          \
                const T *src = xc + (size_t)(i - win->pt) * (size_t)w;                                      \
                if (ncopy <= 16) /* short rows: a call costs more than the copy */                          \
                    for (j = 0; j < ncopy; j++) d[j] = src[j];                                              \
                else                                                                                        \
                    memcpy(d, src, (size_t)ncopy * sizeof(T));                                              \
            }                                                                                               \
            for (o = ci * mult; o < (ci + 1) * mult; o++) {                                                 \
                const T *wo = wt + (size_t)o * (size_t)taps;                                                \
                T *yo = y + (size_t)o * (size_t)oh * (size_t)ow;                                            \
                int32_t m, s;                                                                               \
                int64_t b;                                                                                  \
                scalpel__rq_params(rq, o, &m, &s, &b);                                                      \
                if (fast) {                                                                                 \
                    for (i = 0; i < kh; i++)                                                                \
                        for (j = 0; j < kwp; j++) wpad[i * kwp + j] = j < kw ? wo[i * kw + j] : (T)0;       \
                    SCALPEL__DW_WQ_FILL(NAME)                                                               \
                }                                                                                           \
                for (oy = 0; oy < oh; oy++) {                                                               \
                    const T *xr = scratch + (size_t)oy * (size_t)sh * (size_t)wp;                           \
                    T *yr = yo + (size_t)oy * (size_t)ow;                                                   \
                    if (SCALPEL__DW3_PAIRS(NAME) && fast && kh == 3 && kw == 3 && sw == 1)                  \
                        SCALPEL__DW3_ROW(NAME, xr, rs, wo, ow, b, m, s, lo, yr); /* two outputs per step */ \
                    else if (fast && kh == 3 && kw == 3) /* the common 3x3: its taps unrolled */            \
                        for (ox = 0; ox < ow; ox++, xr += sw)                                               \
                            yr[ox] = (T)scalpel__requant((int64_t)SCALPEL__DW_TAPS3(NAME, wo, xr, rs) + b, m, s, lo, (HI)); \
                    else if (fast)                                                                          \
                        for (ox = 0; ox < ow; ox++, xr += sw)                                               \
                            yr[ox] = (T)scalpel__requant((int64_t)SCALPEL__DW_TAPS(NAME, wo, xr, rs) + b, m, s, lo, (HI)); \
                    else                                                                                    \
                        for (ox = 0; ox < ow; ox++, xr += sw) {                                             \
                            ACC acc = 0;                                                                    \
                            for (i = 0; i < kh; i++)                                                        \
                                for (j = 0; j < kw; j++)                                                    \
                                    acc += (ACC)wo[i * kw + j] * (ACC)xr[(size_t)i * rs + (size_t)j * (size_t)win->dw]; \
                            yr[ox] = (T)scalpel__requant((int64_t)acc + b, m, s, lo, (HI));                 \
                        }                                                                                   \
                }                                                                                           \
            }                                                                                               \
        }                                                                                                   \
    }
SCALPEL__DWCONV(int16_t, q15, int64_t, -32768, 32767, 2)
SCALPEL__DWCONV(int8_t, q7, int32_t, -128, 127, 4)
#undef SCALPEL__DWCONV
SCALPEL__QOPS(int16_t, q15, int64_t, -32768, 32767, 0, 2)
SCALPEL__QOPS(int8_t, q7, int32_t, -128, 127, 1, 4)
#undef SCALPEL__QOPS
#undef SCALPEL__DW_WQ_DECL
#undef SCALPEL__DW_WQ_FILL
#undef SCALPEL__DW_TAPS
#undef SCALPEL__DW_TAPS3

#ifdef __cplusplus
}
#endif

#endif /* SCALPEL_KERNELS_IMPLEMENTATION */

/*
 * LICENCE: MIT. Copyright (c) 2026 the Scalpel authors. See the end of scalpel_format.h.
 */
