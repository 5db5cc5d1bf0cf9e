/* parts/prune.h: implementation part of scalpel.h (merged into it before release) */
/* >>pruning ================================================================================
 *
 * Magnitude and SIMD-aware (grouped) pruning over dense W[rows x cols], and node removal.
 *
 * Design choices, in one place:
 *   - Nothing here allocates except scalpel_net_remove_nodes: training calls the routines every
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
 *     scalpel__prune_sqrt), so pruning adds no -lm dependency of its own.
 *   - Non-finite weights are refused (SCALPEL_ERR_ARGUMENT): a NaN has no magnitude order and
 *     an infinity means training diverged; pruning either silently would hide the problem.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef SCALPEL__PRIV
#  if defined(__GNUC__) || defined(__clang__)
#    define SCALPEL__PRIV static __attribute__((unused))
#  else
#    define SCALPEL__PRIV static
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

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

/* Finite test by the exponent field: isfinite() would need <math.h>, and some C++ modes hide
 * the macro. */
SCALPEL__PRIV int scalpel__prune_finite(float x)
{
    return (scalpel__prune_abs_bits(x) & 0x7f800000u) != 0x7f800000u;
}

/* sqrt(x) for finite x >= 0 without libm (gcc's inline sqrtsd still keeps a call to sqrt()
 * behind it for errno, which needs -lm). The initial guess halves the exponent (relative error
 * < 7%); Newton doubles the correct digits per step, so six steps reach double precision, and
 * rounding that to float is exact in all but vanishingly rare midpoint cases. */
SCALPEL__PRIV double scalpel__prune_sqrt(double x)
{
    uint64_t u;
    double y;
    int i;
    if (!(x > 0.0)) return 0.0;
    memcpy(&u, &x, sizeof(u));
    u = (u >> 1) + ((uint64_t)1023 << 51); /* halves the biased exponent */
    memcpy(&y, &u, sizeof(y));
    for (i = 0; i < 6; i++) y = 0.5 * (y + x / y);
    return y;
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
        return (float)scalpel__prune_sqrt(acc / (double)m);
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

SCALPEL__PRIV int scalpel__prune_group_ok(int32_t group)
{
    return group == 1 || group == 2 || group == 4 || group == 8 || group == 16;
}

SCALPEL__PRIV int scalpel__prune_importance_ok(int32_t importance)
{
    return importance == SCALPEL_IMPORTANCE_RMS || importance == SCALPEL_IMPORTANCE_MEAN ||
           importance == SCALPEL_IMPORTANCE_MAX;
}

SCALPEL__PRIV scalpel_status scalpel__prune_all_finite(const float *w, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!scalpel__prune_finite(w[i])) return SCALPEL_ERR_ARGUMENT;
    return SCALPEL_OK;
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
    if (!scalpel__prune_group_ok(group)) return SCALPEL_ERR_GROUP;
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
    if (!scalpel__prune_group_ok(group)) return SCALPEL_ERR_GROUP;
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
    if (!scalpel__prune_group_ok(group)) return SCALPEL_ERR_GROUP;
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
    if (!scalpel__prune_group_ok(group)) return 0.0f;
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

/* Node removal. Works one weighted layer at a time with two byte sets: `in_keep`, the channels
 * that reach this layer (all of the input, then those the previous weighted layer kept, carried
 * unchanged through relu and maxpool, which act per channel), and `keep`, the nodes this layer
 * keeps. Each input channel owns cols / in_c consecutive columns (k*k of a filter for a conv,
 * H*W of a flattened feature map for an FC, one for an FC after an FC), so dropping a channel
 * drops one contiguous run per row. The weights are compacted in place in one scratch buffer:
 * every kept element moves to an index no larger than its own, in increasing order, so nothing
 * unread is overwritten. Any storage is read (scalpel__layer_dense_weights); the result is
 * dense, because removing nodes makes a smaller dense model (that is its point).
 * keep holds net->n_layers pointers; a mask byte other than 0 or 1 is refused, as a mask that
 * is not a mask (an uninitialised buffer, scores passed by mistake) should not cut a network. */
SCALPEL_API scalpel_status scalpel_net_remove_nodes(const scalpel_net *net, const uint8_t *const *keep,
                                                    int32_t round_to, scalpel_net *out)
{
    size_t max_w = 0, max_rows = 0, max_ch = 0, bytes, i;
    int32_t l, last_weighted = -1;
    float *wbuf = NULL, *bbuf;
    uint8_t *in_keep, *cur_keep, *tmp;
    void *block = NULL;
    scalpel_status st;

    if (out == NULL) return SCALPEL_ERR_NULL;
    memset(out, 0, sizeof(*out));
    if (net == NULL || keep == NULL) return SCALPEL_ERR_NULL;
    if (round_to != 1 && round_to != 8 && round_to != 16 && round_to != 32) return SCALPEL_ERR_ARGUMENT;
    st = scalpel_net_validate(net);
    if (st != SCALPEL_OK) return st;

    /* Scratch sizes and the keep masks' rules, before anything is allocated. */
    max_ch = (size_t)net->in_c;
    for (l = 0; l < net->n_layers; l++) {
        const scalpel_layer *ly = &net->layers[l];
        if (scalpel__is_weighted(ly->kind)) last_weighted = l;
        if ((size_t)ly->out_c > max_ch) max_ch = (size_t)ly->out_c;
        if ((size_t)ly->in_c > max_ch) max_ch = (size_t)ly->in_c;
    }
    for (l = 0; l < net->n_layers; l++) {
        const scalpel_layer *ly = &net->layers[l];
        if (scalpel__is_weighted(ly->kind)) {
            uint64_t cells = (uint64_t)ly->rows * (uint64_t)ly->cols;
            if (cells > (uint64_t)(SIZE_MAX / sizeof(float))) return SCALPEL_ERR_OVERFLOW;
            if ((size_t)cells > max_w) max_w = (size_t)cells;
            if ((size_t)ly->rows > max_rows) max_rows = (size_t)ly->rows;
        }
        if (keep[l] != NULL) {
            int32_t c, kept = 0;
            if (!scalpel__is_weighted(ly->kind) || l == last_weighted) return SCALPEL_ERR_ARGUMENT;
            for (c = 0; c < ly->out_c; c++) {
                if (keep[l][c] > 1) return SCALPEL_ERR_ARGUMENT;
                kept += keep[l][c];
            }
            if (kept == 0) return SCALPEL_ERR_ARGUMENT; /* the network would be cut in two */
        }
    }

    /* One block: weights, biases, then the two channel sets. */
    if (max_rows + 1 > SIZE_MAX / sizeof(float) - max_w) return SCALPEL_ERR_OVERFLOW;
    bytes = (max_w + max_rows + 1) * sizeof(float);
    if (2 * max_ch + 1 > SIZE_MAX - bytes) return SCALPEL_ERR_OVERFLOW;
    bytes += 2 * max_ch + 1;
    block = SCALPEL_MALLOC(net->alloc_ctx, bytes);
    if (block == NULL) return SCALPEL_ERR_NO_MEMORY;
    wbuf = (float *)block;
    bbuf = wbuf + max_w;
    in_keep = (uint8_t *)(bbuf + max_rows + 1);
    cur_keep = in_keep + max_ch;

    st = scalpel_net_init(net->in_c, net->in_h, net->in_w, out);
    if (st != SCALPEL_OK) goto fail;
    out->alloc_ctx = net->alloc_ctx;
    for (i = 0; i < (size_t)net->in_c; i++) in_keep[i] = 1;

    for (l = 0; l < net->n_layers; l++) {
        const scalpel_layer *ly = &net->layers[l];
        scalpel_layer *nl = NULL;
        int32_t kept = 0, kept_in = 0, per_ch, r, c, new_cols;
        size_t dst = 0;
        if (!scalpel__is_weighted(ly->kind)) {
            /* relu / maxpool: same channels, nothing to cut; the kept set flows through. */
            st = scalpel__net_append(out, ly->kind, 0, ly->kernel, ly->stride, ly->pad, &nl);
            if (st != SCALPEL_OK) goto fail;
            continue;
        }
        if (ly->in_c <= 0 || ly->cols % ly->in_c != 0) { st = SCALPEL_ERR_SHAPE; goto fail; }
        per_ch = ly->cols / ly->in_c;
        scalpel__layer_dense_weights(ly, wbuf);
        kept = scalpel__prune_final_keep(keep[l], wbuf, ly->rows, ly->cols, round_to, cur_keep);
        for (c = 0; c < ly->in_c; c++) kept_in += in_keep[c];
        new_cols = kept_in * per_ch;
        for (r = 0; r < ly->rows; r++) {
            const float *src = wbuf + (size_t)r * (size_t)ly->cols;
            if (!cur_keep[r]) continue;
            for (c = 0; c < ly->in_c; c++) {
                if (!in_keep[c]) continue;
                memmove(wbuf + dst, src + (size_t)c * (size_t)per_ch, (size_t)per_ch * sizeof(float));
                dst += (size_t)per_ch;
            }
        }
        for (r = 0, i = 0; r < ly->rows; r++)
            if (cur_keep[r]) bbuf[i++] = ly->b[r];
        st = scalpel__net_append(out, ly->kind, kept, ly->kernel, ly->stride, ly->pad, &nl);
        if (st != SCALPEL_OK) goto fail;
        if (nl->rows != kept || nl->cols != new_cols) { st = SCALPEL_ERR_SHAPE; goto fail; }
        st = scalpel__layer_set_dense(out, nl, wbuf, bbuf);
        if (st != SCALPEL_OK) goto fail;
        tmp = in_keep; in_keep = cur_keep; cur_keep = tmp;
    }
    SCALPEL_FREE(net->alloc_ctx, block);
    return SCALPEL_OK;

fail:
    SCALPEL_FREE(net->alloc_ctx, block);
    scalpel_net_free(out);
    memset(out, 0, sizeof(*out));
    return st;
}
#endif /* SCALPEL_NO_MALLOC */

#ifdef __cplusplus
}
#endif
