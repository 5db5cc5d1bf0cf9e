/* scalpel_cli.c - the `scalpel` command-line tool: inspect, plan, pack, export, import, bench.
 *
 *   cc -O2 -march=native -I. examples/scalpel_cli.c -o scalpel -lm
 *
 *   ./scalpel demo -o lenet.scpn                      a pruned LeNet-300-100 to try things on
 *   ./scalpel info lenet.scpn                         layers, storage, zero rates, MACs
 *   ./scalpel plan --hw list                          the built-in hardware profiles
 *   ./scalpel plan --hw cortex-m4 lenet.scpn          what Scalpel would do on that target
 *   ./scalpel pack --hw host lenet.scpn -o small.scpn convert each layer as planned, save
 *   ./scalpel bench small.scpn                        time it against its dense version
 *   ./scalpel export-c small.scpn lenet -o lenet.h    const C arrays for firmware
 *   ./scalpel quantize small.scpn lenet -o lenet_q15.h   fixed point for Cortex-M, calibrated
 *                                                        on MNIST, with its test error
 *   ./scalpel import-safetensors model.safetensors --arch 784,fc:300,relu,fc:10 -o m.scpn
 *
 * Run `scalpel --help` for every option. Exit status: 0 success, 1 the command failed (the
 * message names the file or argument and the reason), 2 the command line could not be parsed.
 * Nothing is written unless the whole command succeeded (model files and headers are written
 * through a temporary file and renamed). */
#define _POSIX_C_SOURCE 200809L
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "scalpel_train.h"   /* datasets, for plan --no-retrain */

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reference_nets.h"  /* the reference networks of `demo --net` */

#define EXIT_USAGE 2

/* ---- help -------------------------------------------------------------------------------- */

typedef struct cmd_usage {
    const char *name;
    const char *synopsis;
} cmd_usage;

static const cmd_usage usages[] = {
    { "info", "scalpel info MODEL" },
    { "plan", "scalpel plan --hw NAME|host|list [--mode MODE] [--calibrate] [--batch N] [--keep-dead] [--json]\n"
              "       MODEL\n"
              "       scalpel plan --hw list [--json]\n"
              "       scalpel plan --no-retrain [--hw NAME|host] [--data DIR | --synthetic] [--budget POINTS]\n"
              "                    [--samples N] [--exact] [--repeat N] [--against MODEL2] MODEL [-o OUT]" },
    { "pack", "scalpel pack --hw NAME|host [--mode MODE] [--calibrate] [--batch N] [--keep-dead] MODEL -o OUT" },
    { "export-c", "scalpel export-c MODEL NAME -o OUT.h" },
    { "quantize", "scalpel quantize MODEL NAME -o OUT.h [--dtype q15|q7] [--per-channel] [--group G]\n"
                  "                        [--data DIR | --synthetic | --random | --inputs X.npy] [--calib N]\n"
                  "                        [--test N] [--drop-softmax]" },
    { "import-safetensors", "scalpel import-safetensors FILE --arch SPEC [--names P1,P2,...] -o MODEL\n"
                            "                          [--check IN.npy OUT.npy [--tolerance T]] [--allow-unused]\n"
                            "                          [--mean M1[,M2..] --std S1[,S2..] [--input-range R]]" },
    { "bench", "scalpel bench MODEL [--batch N] [--repeat N]" },
    { "demo", "scalpel demo [--net NAME|list] [--seed N] -o FILE" },
    { "run", "scalpel run MODEL --input IN.npy --output OUT.npy [--batch N]" }
};
#define N_USAGES ((int)(sizeof(usages) / sizeof(usages[0])))

static const char help_text[] =
    "Scalpel " SCALPEL_VERSION_STRING ": pruned neural networks that actually run faster and smaller.\n"
    "\n"
    "usage:\n"
    "  scalpel info MODEL\n"
    "      Layers of a model file: kind, input -> output shape, storage (dense, gcsr G=n, csr;\n"
    "      from plan --no-retrain -o also hybrid G=n + csr and tasd N:M+...), weight bytes,\n"
    "      fraction of zero weights, multiply-accumulates executed per sample.\n"
    "  scalpel plan --hw NAME [--mode MODE] [--calibrate] [--batch N] [--keep-dead] [--json] MODEL\n"
    "      The per-layer plan for a hardware profile: technique, storage, kernel, pruning rate\n"
    "      against the kernel's break-even rate, bytes and MACs now -> planned, and why.\n"
    "      --hw list     list the built-in profiles and exit\n"
    "      --mode MODE   scalpel (default: the paper's per-class rules), traditional (CSR for\n"
    "                    every pruned layer), optimized (CSR, layers over 50% dense kept dense),\n"
    "                    dense\n"
    "      --hw host     this machine (the profile of the kernels compiled in), its break-even\n"
    "                    rates measured on first use (on the model's largest FC shape and, for\n"
    "                    the matrix-matrix kernel, the positions of its largest convolution, or\n"
    "                    the batch, or 64 columns) and cached in $XDG_CACHE_HOME/scalpel (else\n"
    "                    ~/.cache/scalpel; delete a file to measure again). A named profile\n"
    "                    uses its built-in figures.\n"
    "      --calibrate   measure the break-even rates now, whatever the cache holds\n"
    "      --batch N     plan for batches of N (default: the profile's, 1 but cuda's 50):\n"
    "                    fc layers then run the matrix-matrix kernels\n"
    "      --json        print only the profile with the rates used (measured for host) as JSON\n"
    "";

/* Split from help_text: C99 compilers need only take string literals of 4095 characters. */
static const char help_text_no_retrain[] =
    "  scalpel plan --no-retrain [--hw NAME|host] [--data DIR | --synthetic] [--budget POINTS]\n"
    "               [--samples N] [--exact] [--repeat N] [--against MODEL2] MODEL [-o OUT]\n"
    "      Plan a trained network without retraining (structured decomposition): per layer the\n"
    "      fastest of dense, CSR, grouped CSR, the exact grouped + CSR hybrid and N:M series\n"
    "      (1:4 ... 8:16+4:16), timed on this machine, with one global output-error threshold\n"
    "      searched so that accuracy on N training samples (default 2000) drops by at most\n"
    "      POINTS (default 0.5). Reports the choice per layer, the test-set error and the\n"
    "      batch-1 forward time against the model as given and its dense version.\n"
    "      --hw          the profile whose G the grouped forms use (default host)\n"
    "      --data DIR    MNIST (default $SCALPEL_MNIST_DIR, else ../shared/data/mnist); gzip'd\n"
    "                    files need a build with -DSCALPEL_ZLIB -lz\n"
    "      --synthetic   the built-in synthetic digits instead of MNIST\n"
    "      --exact       exact forms only (no N:M series): outputs unchanged up to rounding\n"
    "      --against M2  also report the test error and forward time of model M2 (e.g. the\n"
    "                    same network pruned with retraining), timed in the same rounds\n"
    "      -o OUT        save the planned network: each layer in the storage the report names\n"
    "                    (model file version 4 when a layer is a hybrid or an N:M series), so\n"
    "                    that bench and run give what the plan reported. It is read back and\n"
    "                    checked bit for bit against the plan on the test samples before it is\n"
    "                    written; OUT may be MODEL itself. Without --exact the series change\n"
    "                    the outputs (within the budget): the file holds the planned network.\n";

static const char help_text_rest[] =
    "  scalpel pack --hw NAME [--mode MODE] [--calibrate] [--batch N] [--keep-dead] MODEL -o OUT\n"
    "      Plan, convert every layer to its planned storage and save to OUT (which may be\n"
    "      MODEL itself). Prints the sizes before and after. First, dead nodes (outputs or\n"
    "      channels whose weights are all zero, as channel pruning leaves them) are removed,\n"
    "      their constant outputs folded into the biases that read them (exact; a channel\n"
    "      read by a padded convolution stays), and named; --keep-dead keeps them. plan\n"
    "      reports what pack would remove. Packing for --hw host then times each layer made\n"
    "      sparse against its dense version here and keeps it dense unless it is faster.\n"
    "      The model records the batch it was packed for (info and bench show it).\n"
    "  scalpel export-c MODEL NAME -o OUT.h\n"
    "      A C header with static const arrays and `static const scalpel_net NAME`, ready to\n"
    "      run without allocation (include scalpel.h first). NAME: a C identifier that is no\n"
    "      keyword, reserved name or standard library name (a refusal says which).\n"
    "  scalpel quantize MODEL NAME -o OUT.h [--dtype q15|q7] [--per-channel] [--group G]\n"
    "                   [--data DIR | --synthetic | --random | --inputs X.npy] [--calib N] [--test N]\n"
    "                   [--drop-softmax]\n"
    "      Fixed point for microcontrollers: quantize the model (q15 default, or q7) with\n"
    "      activation ranges calibrated on N training images (default 500), report the test\n"
    "      error of the float and the fixed-point network on --test N images (default all)\n"
    "      and their weight bytes, and write a C header with `static const scalpel_qnet NAME`\n"
    "      (scalpel_qnet_forward, no allocation). --per-channel: one weight scale per output\n"
    "      channel; --group G: regroup sparse layers (e.g. 4 for q7's SXTB16 + SMLAD).\n"
    "      --random: a model of any input shape, calibrated on N random inputs (mean 0,\n"
    "      variance 1) and compared with float on --test N others (default 1000): how often\n"
    "      the largest output agrees, and the error relative to each output's range.\n"
    "      --inputs X.npy: your samples (float32, [N, C, H, W] or [N, C*H*W]): the first\n"
    "      --calib N calibrate, the others are compared with float the same way.\n"
    "      Softmax has no fixed point: --drop-softmax quantizes without a final one (the\n"
    "      outputs are then the logits, whose largest is the same).\n"
    "      Data as for plan --no-retrain.\n"
    "";

/* Split again, as above. */
static const char help_text_import[] =
    "  scalpel import-safetensors FILE --arch SPEC [--names P1,P2,...] -o MODEL\n"
    "                             [--check IN.npy OUT.npy [--tolerance T]] [--allow-unused]\n"
    "                             [--mean M1[,M2..] --std S1[,S2..] [--input-range R]]\n"
    "      Build the network SPEC describes, fill its weights from a safetensors file\n"
    "      (F32, F16 or BF16 tensors \"<P>.weight\" and optional \"<P>.bias\"; a batch norm's\n"
    "      P.weight, P.bias, P.running_mean, P.running_var) and save it. --names gives the\n"
    "      tensor prefix of each weighted layer and each bn, in layer order; without it the\n"
    "      file's *.weight tensors are taken in natural name order (fc1 < fc2 < fc10), and bn\n"
    "      layers take the prefixes with running statistics. A tensor the import does not\n"
    "      use is an error that names it (--allow-unused: a warning).\n"
    "      SPEC: the input shape, then the layers, separated by commas:\n"
    "        CxHxW or N          input of C channels of H x W (N alone means N x 1 x 1)\n"
    "        conv:OUT:K[:S[:P]]  convolution, OUT filters of K x K, stride S (1), padding P (0)\n"
    "        pool:K[:S]          max pooling K x K, stride S (default K)\n"
    "        fc:OUT              fully connected (flattens its input)\n"
    "        relu                max(x, 0)\n"
    "        bn[:EPS]            batch norm (EPS 1e-5): folded into the conv or fc just before\n"
    "                            it, else kept as a layer\n"
    "      e.g. 1x28x28,conv:20:5,relu,pool:2,conv:50:5,relu,pool:2,fc:500,relu,fc:10\n"
    "             (LeNet-5 as PyTorch users write it; Caffe's has no relu after the convolutions)\n"
    "           784,fc:300,relu,fc:100,relu,fc:10                        (LeNet-300-100)\n"
    "      SPEC must be the model's forward pass exactly: --check IN.npy OUT.npy (sample inputs\n"
    "      and the framework's outputs for them, float32) runs the imported network on IN and\n"
    "      refuses to write MODEL when an output differs from OUT by more than T (default\n"
    "      1e-4) of the largest |OUT|. For models beyond this SPEC (other pooling, residual\n"
    "      joins) use `python3 -m scalpel convert-torch` or `convert` (ONNX).\n"
    "      --mean/--std: the training pipeline's Normalize(mean, std), one value or one per\n"
    "      input channel (up to 4). The model then takes raw inputs in [0, R] (default 1, as\n"
    "      ToTensor gives them; 255 for bytes) and normalizes them itself: folded into the\n"
    "      first layer when exact (an fc, an unpadded conv), else in a batchnorm layer 0.\n"
    "      Recorded in the model (info shows it); quantize and plan scale their data to R.\n"
    "      --check's IN then holds raw inputs.\n"
    "";

/* Split again, as above. */
static const char help_text_bench[] =
    "  scalpel bench MODEL [--batch N] [--repeat N]\n"
    "      Forward time of the model as stored and of its dense version, whole and per layer,\n"
    "      in N rounds (default 9; batch default 1) that time the two alternately, so that\n"
    "      load from another job hits both alike. Each sample repeats the pass for at least a\n"
    "      millisecond. Prints the median and the spread ((max - min) / min) per layer, min /\n"
    "      median / max of the whole pass, and speed-ups from the medians. Warns on stderr\n"
    "      that results are unreliable (exit status still 0) when, timing the whole pass, it\n"
    "      had the CPU under 90% of the time (alone on a core a loop gets over 99%, sharing\n"
    "      it with one busy job about half), or 2 or more samples took over 1.5x the fastest\n"
    "      of their version (on an idle core they vary by a few percent; a sample that lost\n"
    "      the core for a scheduler time slice, 1 ms or more, lasts half as long again).\n"
    "  scalpel demo [--net NAME|list] [--seed N] -o FILE\n"
    "      Write a LeNet-300-100-shaped model (784-300-100-10, random weights, fixed seed)\n"
    "      magnitude-pruned at Han et al.'s rates (92%, 91%, 74%), to try the other commands.\n"
    "      --net NAME: a reference network instead, random weights from --seed (default 1):\n"
    "      ds-cnn, mobilenet-v1, resnet-8, autoencoder (MLPerf Tiny), convnet, nin, alexnet\n"
    "      (the Scalpel paper's), lenet-5; --net list describes them.\n"
    "  scalpel run MODEL --input IN.npy --output OUT.npy [--batch N]\n"
    "      The model's outputs for every sample of IN (float32 .npy, C order, shape [N, C, H, W]\n"
    "      or [N, C*H*W]), computed N samples at a time (default 64), written as float32 .npy of\n"
    "      shape [N, outputs] (or [N, C, H, W] when the last layer's output is a map).\n"
    "  scalpel --help | --version\n"
    "\n"
    "Options may come before or after the other arguments; `--opt=value` works too, and `--`\n"
    "ends the options. Exit status: 0 success, 1 failure (the message names the file or\n"
    "argument and the reason), 2 a command-line error.\n";

static void print_help(FILE *f)
{
    fputs(help_text, f);
    fputs(help_text_no_retrain, f);
    fputs(help_text_rest, f);
    fputs(help_text_import, f);
    fputs(help_text_bench, f);
}

static const char *cmd_synopsis(const char *cmd)
{
    int i;
    for (i = 0; i < N_USAGES; i++)
        if (strcmp(usages[i].name, cmd) == 0) return usages[i].synopsis;
    return NULL;
}

/* A command-line error: message, the command's synopsis, exit status 2. */
static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    const char *syn = cmd != NULL ? cmd_synopsis(cmd) : NULL;
    fprintf(stderr, "scalpel%s%s: ", cmd != NULL ? " " : "", cmd != NULL ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (syn != NULL) fprintf(stderr, "usage: %s\n", syn);
    fprintf(stderr, "Run 'scalpel --help' for details.\n");
    return EXIT_USAGE;
}

/* A failure: one line naming what failed and why, exit status 1. */
static int fail(const char *fmt, ...)
{
    va_list ap;
    fputs("scalpel: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILURE;
}

/* ---- argument parsing -------------------------------------------------------------------- */

/* One option of a subcommand. A flag (takes_value 0) sets `seen`; an option with a value
 * stores it in `value`. Giving an option twice is an error. */
typedef struct cli_opt {
    const char *long_name;   /* "--hw" */
    const char *short_name;  /* "-o", or NULL */
    int takes_value;
    const char *value;
    int seen;
} cli_opt;

#define MAX_POSITIONAL 4

/* Splits args[0..n) into options and positionals (in any order). Returns 0, 2 after a usage
 * message, or -1 for --help / -h. */
static int parse_args(const char *cmd, int n, char **args, cli_opt *opts, int n_opts,
                      const char **pos, int min_pos, int max_pos, int *n_pos)
{
    int i, k, only_pos = 0;
    *n_pos = 0;
    for (i = 0; i < n; i++) {
        const char *a = args[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            const char *eq = NULL, *value = NULL, *shown;
            size_t name_len = strlen(a);
            cli_opt *o = NULL;
            if (a[1] == '-') {
                eq = strchr(a, '=');
                if (eq != NULL) name_len = (size_t)(eq - a);
            }
            for (k = 0; k < n_opts && o == NULL; k++) {
                const char *ln = opts[k].long_name, *sn = opts[k].short_name;
                if (strlen(ln) == name_len && strncmp(a, ln, name_len) == 0) o = &opts[k];
                else if (sn != NULL && eq == NULL && strncmp(a, sn, 2) == 0 &&
                         (a[2] == '\0' || opts[k].takes_value)) o = &opts[k];
            }
            if (o == NULL) {
                if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return -1;
                return usage_error(cmd, "unknown option '%s'", a);
            }
            shown = a[1] == '-' ? o->long_name : o->short_name;   /* the name as typed */
            if (o->seen) return usage_error(cmd, "option %s given twice", shown);
            o->seen = 1;
            if (!o->takes_value) {
                if (eq != NULL) return usage_error(cmd, "option %s takes no value", shown);
                continue;
            }
            if (eq != NULL) value = eq + 1;
            else if (a[1] != '-' && a[2] != '\0') value = a + 2;   /* -oFILE */
            else if (i + 1 < n) value = args[++i];
            else return usage_error(cmd, "option %s needs a value", shown);
            if (value[0] == '\0') return usage_error(cmd, "option %s needs a non-empty value", shown);
            if (eq == NULL && strncmp(value, "--", 2) == 0 && value[2] != '\0')
                return usage_error(cmd, "option %s needs a value (got option '%s')", shown, value);
            o->value = value;
            continue;
        }
        if (*n_pos >= max_pos) return usage_error(cmd, "unexpected argument '%s'", a);
        pos[(*n_pos)++] = a;
    }
    if (*n_pos < min_pos) return usage_error(cmd, "missing argument%s", min_pos - *n_pos > 1 ? "s" : "");
    return 0;
}

/* 1 when s is a plain decimal number: digits with at most one point, an optional sign and
 * exponent; no spaces, no hexadecimal, no inf or nan (all of which strtod would take). */
static int is_decimal(const char *s)
{
    size_t i = 0, digits = 0;
    if (s[i] == '+' || s[i] == '-') i++;
    for (; s[i] >= '0' && s[i] <= '9'; i++) digits++;
    if (s[i] == '.')
        for (i++; s[i] >= '0' && s[i] <= '9'; i++) digits++;
    if (digits == 0) return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '+' || s[i] == '-') i++;
        if (!(s[i] >= '0' && s[i] <= '9')) return 0;
        while (s[i] >= '0' && s[i] <= '9') i++;
    }
    return s[i] == '\0';
}

/* Whole-string integer in [lo, hi] (strtol with every check). Returns 0 or 2 after a message. */
static int parse_int(const char *cmd, const char *what, const char *s, long lo, long hi, int32_t *out)
{
    char *end = NULL;
    long v;
    errno = 0;
    if (!((s[0] >= '0' && s[0] <= '9') || ((s[0] == '-' || s[0] == '+') && s[1] >= '0' && s[1] <= '9')))
        return usage_error(cmd, "%s '%s' is not an integer", what, s); /* no spaces, no "0x" */
    v = strtol(s, &end, 10);
    if (end == s || *end != '\0')
        return usage_error(cmd, "%s '%s' is not an integer", what, s);
    if (errno == ERANGE || v < lo || v > hi)
        return usage_error(cmd, "%s '%s' is out of range (%ld to %ld)", what, s, lo, hi);
    *out = (int32_t)v;
    return 0;
}

/* ---- small helpers ----------------------------------------------------------------------- */

static uint32_t rng_state = 12345u;
static float uniform(void) /* [-1, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / 8388608.0f - 1.0f;
}

static int is_weighted(const scalpel_layer *l)
{
    return l->geom.kind == SCALPEL_LAYER_FC || l->geom.kind == SCALPEL_LAYER_CONV2D;
}

static int64_t layer_positions(const scalpel_layer *l)
{
    return l->geom.kind == SCALPEL_LAYER_CONV2D ? (int64_t)l->geom.out_h * l->geom.out_w : 1;
}

static int64_t layer_macs_dense(const scalpel_layer *l)
{
    return is_weighted(l) ? (int64_t)l->geom.rows * l->geom.cols * layer_positions(l) : 0;
}

static size_t layer_dense_bytes(const scalpel_layer *l)
{
    return is_weighted(l) ? ((size_t)l->geom.rows * (size_t)l->geom.cols + (size_t)l->geom.rows) * sizeof(float) : 0;
}

/* A one-layer network borrowing layer l's weights (block = NULL), its layer struct in *room:
 * never scalpel_net_free it. Alone, the layer reads the network input; a join reads it twice,
 * which is its real work for an add (both inputs have its shape) and for a concat of two equal
 * halves. A concat of unequal parts cannot run alone: SCALPEL_ERR_UNSUPPORTED. The view is
 * validated, so that nothing is ever run on an inconsistent one. */
static scalpel_status layer_view(const scalpel_layer *l, scalpel_layer *room, scalpel_net *v)
{
    scalpel_status st = scalpel_net_init(l->geom.in_c, l->geom.in_h, l->geom.in_w, v);
    if (st != SCALPEL_OK) return st;
    if (l->geom.kind == SCALPEL_LAYER_CONCAT && l->geom.out_c != 2 * (int64_t)l->geom.in_c) return SCALPEL_ERR_UNSUPPORTED;
    *room = *l;
    room->block = NULL;
    room->geom.from = 0;
    if (l->geom.kind == SCALPEL_LAYER_ADD || l->geom.kind == SCALPEL_LAYER_CONCAT) room->geom.from2 = 0;
    v->layers = room;
    v->n_layers = 1;
    return scalpel_net_validate(v);
}

static size_t layer_weight_bytes(const scalpel_layer *l)
{
    scalpel_net v;
    scalpel_layer room;
    if (!is_weighted(l) || layer_view(l, &room, &v) != SCALPEL_OK) return 0;
    return scalpel_net_weight_bytes(&v);
}

/* Fraction of the rows x cols weights that are zero, however they are stored. */
static double layer_zero_rate(const scalpel_layer *l)
{
    size_t total = (size_t)l->geom.rows * (size_t)l->geom.cols, nonzero = 0, i;
    if (!is_weighted(l) || total == 0) return 0.0;
    if (l->storage == SCALPEL_STORAGE_GCSR || l->storage == SCALPEL_STORAGE_HYBRID) {
        const float *v = (const float *)l->sparse.values;
        size_t n = (size_t)l->sparse.nnz_groups * (size_t)l->sparse.group;
        for (i = 0; i < n; i++) nonzero += v[i] != 0.0f;
        if (l->storage == SCALPEL_STORAGE_HYBRID) { /* an exact split: every weight in one part */
            v = (const float *)l->residual.values;
            for (i = 0; i < (size_t)l->residual.nnz_groups; i++) nonzero += v[i] != 0.0f;
        }
    } else if (l->storage == SCALPEL_STORAGE_TASD) { /* the zeros of the sum of the terms */
        float *w = (float *)malloc(total * sizeof(float));
        if (w == NULL || scalpel_tasd_to_dense(l->series, w) != SCALPEL_OK) {
            free(w);
            return 0.0;
        }
        for (i = 0; i < total; i++) nonzero += w[i] != 0.0f;
        free(w);
    } else {
        for (i = 0; i < total; i++) nonzero += l->w[i] != 0.0f;
    }
    return 1.0 - (double)nonzero / (double)total;
}

static const char *storage_text(int32_t storage, int32_t group, char *buf, size_t size)
{
    if (storage == SCALPEL_STORAGE_GCSR) {
        if (group == 1) snprintf(buf, size, "csr");
        else snprintf(buf, size, "gcsr G=%d", (int)group);
    } else {
        snprintf(buf, size, "dense");
    }
    return buf;
}

/* A layer's storage as info, bench and plan --no-retrain name it: dense, csr, gcsr G=8, and the
 * no-retrain planner's hybrid G=8 + csr (grouped part + CSR residual) and tasd 2:8+1:8 (its
 * N:M terms; "tasd 0:0" for a series of none, the zero matrix). */
static const char *layer_storage_text(const scalpel_layer *l, char *buf, size_t size)
{
    if (!is_weighted(l)) return "-";
    if (l->storage == SCALPEL_STORAGE_HYBRID) {
        snprintf(buf, size, "hybrid G=%d + csr", (int)l->sparse.group);
        return buf;
    }
    if (l->storage == SCALPEL_STORAGE_TASD) {
        scalpel_tasd_spec spec;
        char terms[40]; /* "16:16+16:16+16:16+16:16" at most */
        int32_t t;
        memset(&spec, 0, sizeof spec);
        spec.n_terms = l->series->n_terms;
        for (t = 0; t < spec.n_terms && t < SCALPEL_TASD_MAX_TERMS; t++) {
            spec.n[t] = l->series->terms[t].n;
            spec.m[t] = l->series->terms[t].m;
        }
        scalpel_tasd_spec_string(&spec, terms, sizeof terms);
        snprintf(buf, size, "tasd %s", spec.n_terms > 0 ? terms : "0:0");
        return buf;
    }
    return storage_text(l->storage, l->storage == SCALPEL_STORAGE_GCSR ? l->sparse.group : 0, buf, size);
}

/* 0 when no layer of net is stored HYBRID or TASD, else 1 after a message naming the first one:
 * for the commands that do not take the no-retrain planner's storages (`what` does not). */
static int refuse_decomposed(const char *path, const scalpel_net *net, const char *what)
{
    int32_t i;
    char s[64];
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *l = &net->layers[i];
        if (is_weighted(l) && (l->storage == SCALPEL_STORAGE_HYBRID || l->storage == SCALPEL_STORAGE_TASD))
            return fail("%s: layer %d (%s) is stored as %s (a plan --no-retrain storage), which %s does not take; "
                        "use the model the plan started from", path, (int)i, scalpel_layer_kind_name(l->geom.kind),
                        layer_storage_text(l, s, sizeof s), what);
    }
    return 0;
}

/* An all-dense plan for net on profile hw, the reference bench times against: scalpel_plan_net's,
 * or, for a network with the no-retrain planner's HYBRID or TASD layers (which that planner does
 * not take), the same made here: every layer dense, which scalpel_net_pack converts to. */
static scalpel_status all_dense_plan(const scalpel_net *net, const scalpel_hw_profile *hw, scalpel_plan *plan)
{
    if (!scalpel_net_has_decomposed(net)) return scalpel_plan_net(net, hw, SCALPEL_PLAN_DENSE, plan);
    memset(plan, 0, sizeof *plan);
    plan->mode = SCALPEL_PLAN_DENSE;
    plan->n_layers = net->n_layers; /* every layer: technique none, storage dense, group 0 */
    plan->hw = *hw;
    return SCALPEL_OK;
}

static const char *shape_text(int32_t c, int32_t h, int32_t w, char *buf, size_t size)
{
    snprintf(buf, size, "%dx%dx%d", (int)c, (int)h, (int)w);
    return buf;
}

static const char *technique_name(int32_t t)
{
    switch (t) {
    case SCALPEL_TECHNIQUE_NONE: return "none";
    case SCALPEL_TECHNIQUE_WEIGHT_GROUPS: return "weight-groups";
    case SCALPEL_TECHNIQUE_WEIGHTS: return "weights";
    case SCALPEL_TECHNIQUE_NODES: return "nodes";
    }
    return "?";
}

static const char *class_name(int32_t c)
{
    switch (c) {
    case SCALPEL_HW_LOW: return "low parallelism";
    case SCALPEL_HW_MODERATE: return "moderate parallelism";
    case SCALPEL_HW_HIGH: return "high parallelism";
    }
    return "?";
}

static const char *dtype_name(int32_t d)
{
    switch (d) {
    case SCALPEL_DTYPE_F32: return "f32";
    case SCALPEL_DTYPE_Q15: return "q15";
    case SCALPEL_DTYPE_Q7: return "q7";
    }
    return "?";
}

static const char *mode_names[] = { "scalpel", "traditional", "optimized", "dense" };

static const char *rate_text(double r, char *buf, size_t size)
{
    if (r >= 1.0) snprintf(buf, size, "never");
    else snprintf(buf, size, "%.1f%%", 100.0 * r);
    return buf;
}

static double percent(double part, double whole)
{
    return whole > 0.0 ? 100.0 * part / whole : 0.0;
}

static int load_model(const char *path, scalpel_net *net)
{
    scalpel_status st = scalpel_net_load(path, net);
    if (st != SCALPEL_OK) return fail("%s: cannot load model: %s", path, scalpel_status_string(st));
    return 0;
}

/* Reads a whole file into *data (malloc'd; free it): a regular file only (a directory, device
 * or FIFO is refused before anything is read, as the library's readers do), exactly the length
 * it had when asked. Returns 0 or 1 after a message. */
static int read_whole_file(const char *path, unsigned char **data, size_t *size)
{
    uint64_t len = 0;
    unsigned char *buf;
    FILE *f;
    scalpel_status st = scalpel_file_size(path, &len);
    *data = NULL;
    *size = 0;
    if (st != SCALPEL_OK) return fail("%s: cannot read: %s", path, scalpel_status_string(st));
    if (len == 0) return fail("%s: empty file", path);
    if (len >= (uint64_t)SIZE_MAX / 2) return fail("%s: file too large to read into memory (%llu bytes)", path, (unsigned long long)len);
    f = fopen(path, "rb");
    if (f == NULL) return fail("%s: cannot open: %s", path, strerror(errno));
    buf = (unsigned char *)malloc((size_t)len);
    if (buf == NULL) {
        fclose(f);
        return fail("%s: out of memory reading the file (%llu bytes)", path, (unsigned long long)len);
    }
    if (fread(buf, 1, (size_t)len, f) != (size_t)len || fgetc(f) != EOF || ferror(f)) {
        free(buf);
        fclose(f);
        return fail("%s: read error, or the file changed while it was read", path);
    }
    fclose(f);
    *data = buf;
    *size = (size_t)len;
    return 0;
}

/* ---- saving: interrupts wait until the file is in place -------------------------------------- */

/* Every file the tool writes goes through the library's temporary file and rename. While one
 * is being written, SIGINT, SIGTERM and SIGHUP are held (delivered right after, with their
 * usual effect), so an interrupted command never leaves OUT.scalpel-tmp-* behind; SIGXFSZ is
 * ignored for the whole run, so a write past `ulimit -f` fails with a message instead of
 * killing the tool. Only kill -9 can leave a temporary file; OUT itself is always intact. */
static sigset_t saved_mask;

static void hold_signals(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGHUP);
    sigprocmask(SIG_BLOCK, &s, &saved_mask);
}

static void release_signals(void)
{
    sigprocmask(SIG_SETMASK, &saved_mask, NULL);
}

static scalpel_status save_net(const scalpel_net *net, const char *path)
{
    scalpel_status st;
    hold_signals();
    st = scalpel_net_save(net, path);
    release_signals();
    return st;
}

static scalpel_status export_net(const scalpel_net *net, const char *name, const char *path)
{
    scalpel_status st;
    hold_signals();
    st = scalpel_net_export_c(net, name, path);
    release_signals();
    return st;
}

static scalpel_status export_qnet(const scalpel_qnet *q, const char *name, const char *path)
{
    scalpel_status st;
    hold_signals();
    st = scalpel_qnet_export_c(q, name, path);
    release_signals();
    return st;
}

/* 0 when `name` can name an exported network, else 1 after saying why (a keyword, a name the
 * standard headers define, a reserved identifier: scalpel_export_name_problem's reasons). */
static int check_export_name(const char *name)
{
    const char *why = scalpel_export_name_problem(name);
    return why == NULL ? 0 : fail("export name '%s' %s", name, why);
}

/* ---- info -------------------------------------------------------------------------------- */

/* One line on the input preprocessing a model records (scalpel_input_norm), if any:
 * "input preprocessing: x / 255, then (x - 0.1307) / 0.3081 (folded into layer 0)". */
static void print_input_norm(const scalpel_net *net)
{
    const scalpel_input_norm *q = &net->input_norm;
    int32_t c;
    if (q->where == SCALPEL_INPUT_NORM_NONE) return;
    printf("input preprocessing: raw inputs in [0, %g]", (double)q->range);
    if (q->range != 1.0f) printf(", x / %g", (double)q->range);
    printf(", then (x - mean) / std with mean");
    for (c = 0; c < q->channels; c++) printf("%s%g", c ? ", " : " ", (double)q->mean[c]);
    printf(" and std");
    for (c = 0; c < q->channels; c++) printf("%s%g", c ? ", " : " ", (double)q->std[c]);
    printf("%s (%s)\n", q->channels > 1 ? " per channel" : "",
           q->where == SCALPEL_INPUT_NORM_FOLDED ? "folded into layer 0" : "done by layer 0, a batchnorm");
}

static int cmd_info(int n, char **args)
{
    const char *pos[MAX_POSITIONAL];
    int n_pos, rc, i, sw = 10;
    scalpel_net net;
    char s1[48], s2[48], s3[48];
    int64_t macs = 0, macs_dense = 0;
    size_t dense_bytes = 0, bytes;

    rc = parse_args("info", n, args, NULL, 0, pos, 1, 1, &n_pos);
    if (rc != 0) return rc;
    if (load_model(pos[0], &net) != 0) return 1;

    printf("%s: input %s, %d layers, model file %zu bytes\n", pos[0],
           shape_text(net.in_c, net.in_h, net.in_w, s1, sizeof s1), (int)net.n_layers,
           scalpel_net_serialized_size(&net));
    print_input_norm(&net);
    if (net.packed_batch > 0) printf("packed for batch %d\n", (int)net.packed_batch);
    for (i = 0; i < net.n_layers; i++) /* the storage column fits "hybrid G=8 + csr" when there is one */
        if ((int)strlen(layer_storage_text(&net.layers[i], s3, sizeof s3)) > sw)
            sw = (int)strlen(s3);
    printf("%3s  %-8s %12s    %-12s %-*s %12s %9s %12s\n", "#", "kind", "input", "output", sw, "storage",
           "weight bytes", "zeros", "MACs");
    for (i = 0; i < net.n_layers; i++) {
        const scalpel_layer *l = &net.layers[i];
        int64_t m = scalpel_layer_macs(l);
        printf("%3d  %-8s %12s -> %-12s %-*s", i, scalpel_layer_kind_name(l->geom.kind),
               shape_text(l->geom.in_c, l->geom.in_h, l->geom.in_w, s1, sizeof s1),
               shape_text(l->geom.out_c, l->geom.out_h, l->geom.out_w, s2, sizeof s2), sw,
               layer_storage_text(l, s3, sizeof s3));
        if (is_weighted(l))
            printf(" %12zu %8.1f%% %12lld\n", layer_weight_bytes(l), 100.0 * layer_zero_rate(l), (long long)m);
        else
            printf(" %12s %9s %12s\n", "-", "-", "-");
        macs += m;
        macs_dense += layer_macs_dense(l);
        dense_bytes += layer_dense_bytes(l);
    }
    bytes = scalpel_net_weight_bytes(&net);
    printf("total: %zu weight bytes (%.1f%% of the %zu dense), %lld MACs per sample (%.1f%% of the %lld dense)\n",
           bytes, percent((double)bytes, (double)dense_bytes), dense_bytes, (long long)macs,
           percent((double)macs, (double)macs_dense), (long long)macs_dense);
    scalpel_net_free(&net);
    return 0;
}

/* ---- plan and pack ----------------------------------------------------------------------- */

static void list_profiles(void)
{
    int32_t i, n = scalpel_hw_profile_count();
    scalpel_hw_profile host;
    printf("%-12s %-22s %3s %-5s %5s  %s\n", "profile", "class", "G", "dtype", "batch", "note");
    for (i = 0; i < n; i++) {
        scalpel_hw_profile p;
        const char *name = scalpel_hw_profile_name(i);
        if (name == NULL || scalpel_hw_profile_get(name, &p) != SCALPEL_OK) continue;
        printf("%-12s %-22s %3d %-5s %5d  %s\n", p.name, class_name(p.hw_class), (int)p.group,
               dtype_name(p.dtype), (int)p.batch, p.note != NULL ? p.note : "");
    }
    if (scalpel_hw_profile_host(&host) == SCALPEL_OK)
        printf("host         = %s (kernels compiled in: %s)\n", host.name, scalpel_kernels_backend());
}

/* A JSON string of plain text (the profiles' names and notes): quotes, backslashes and control
 * characters escaped. */
static void json_string(const char *text)
{
    const unsigned char *c;
    putchar('"');
    for (c = (const unsigned char *)(text != NULL ? text : ""); *c; c++) {
        if (*c == '"' || *c == '\\') printf("\\%c", *c);
        else if (*c < 0x20) printf("\\u%04x", (unsigned)*c);
        else putchar(*c);
    }
    putchar('"');
}

static void json_profile(const scalpel_hw_profile *p)
{
    printf("{\"name\": ");
    json_string(p->name);
    printf(", \"class\": ");
    json_string(class_name(p->hw_class));
    printf(", \"group\": %d, \"dtype\": ", (int)p->group);
    json_string(dtype_name(p->dtype));
    printf(", \"batch\": %d, \"breakeven\": {\"mv_csr\": %.9g, \"mv_grouped\": %.9g, \"mm_csr\": %.9g, "
           "\"mm_grouped\": %.9g}, \"note\": ",
           (int)p->batch, (double)p->breakeven_mv_csr, (double)p->breakeven_mv_grouped, (double)p->breakeven_mm_csr,
           (double)p->breakeven_mm_grouped);
    json_string(p->note);
    putchar('}');
}

/* plan --hw list --json: every built-in profile and the host's, with their break-even rates
 * (what Python's scalpel.torch reads, so that the C library stays the one source of them). */
static void list_profiles_json(void)
{
    int32_t i, n = scalpel_hw_profile_count(), first = 1;
    scalpel_hw_profile host;
    printf("{\"profiles\": [");
    for (i = 0; i < n; i++) {
        scalpel_hw_profile p;
        const char *name = scalpel_hw_profile_name(i);
        if (name == NULL || scalpel_hw_profile_get(name, &p) != SCALPEL_OK) continue;
        printf(first ? "\n  " : ",\n  ");
        json_profile(&p);
        first = 0;
    }
    printf("\n], \"host\": ");
    if (scalpel_hw_profile_host(&host) == SCALPEL_OK) json_profile(&host);
    else printf("null");
    printf(", \"backend\": ");
    json_string(scalpel_kernels_backend());
    printf("}\n");
}

/* --hw NAME: a built-in profile or "host". Returns 0 or 1 after a message. */
static int get_profile(const char *name, scalpel_hw_profile *hw)
{
    scalpel_status st;
    int32_t i, n;
    if (strcmp(name, "host") == 0) {
        st = scalpel_hw_profile_host(hw);
        if (st != SCALPEL_OK)
            return fail("--hw host: no built-in profile for the kernels compiled in (%s): %s",
                        scalpel_kernels_backend(), scalpel_status_string(st));
        return 0;
    }
    st = scalpel_hw_profile_get(name, hw);
    if (st == SCALPEL_OK) return 0;
    fprintf(stderr, "scalpel: --hw %s: unknown hardware profile (%s); built-in:", name, scalpel_status_string(st));
    n = scalpel_hw_profile_count();
    for (i = 0; i < n; i++) {
        const char *p = scalpel_hw_profile_name(i);
        if (p != NULL) fprintf(stderr, " %s", p);
    }
    fprintf(stderr, ", or host (see 'scalpel plan --hw list')\n");
    return 1;
}

static int parse_mode(const char *cmd, const char *s, scalpel_plan_mode *mode)
{
    int i;
    if (s == NULL) {
        *mode = SCALPEL_PLAN_SCALPEL;
        return 0;
    }
    for (i = 0; i < 4; i++)
        if (strcmp(s, mode_names[i]) == 0) {
            *mode = (scalpel_plan_mode)i;
            return 0;
        }
    return usage_error(cmd, "--mode '%s': expected scalpel, traditional, optimized or dense", s);
}

/* The shape break-even rates are measured on for net at `batch`: the model's largest FC
 * (else its largest convolution) for the matrix-vector product, and for the matrix-matrix
 * product the positions of its largest convolution, or `batch` columns for a model of fc
 * layers packed for batch > 1 (64 otherwise), at most 4096. Fails without a weighted layer. */
static int calibration_shape(const scalpel_net *net, int32_t batch, int32_t *rows, int32_t *cols, int32_t *n)
{
    const scalpel_layer *fc = NULL, *conv = NULL, *shape;
    int32_t i;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *l = &net->layers[i];
        int64_t size = (int64_t)l->geom.rows * l->geom.cols;
        if (l->geom.kind == SCALPEL_LAYER_FC && (fc == NULL || size > (int64_t)fc->geom.rows * fc->geom.cols)) fc = l;
        if (l->geom.kind == SCALPEL_LAYER_CONV2D && (conv == NULL || size > (int64_t)conv->geom.rows * conv->geom.cols)) conv = l;
    }
    shape = fc != NULL ? fc : conv;
    if (shape == NULL) return fail("calibration: the model has no weighted layer to measure on");
    *rows = shape->geom.rows;
    *cols = shape->geom.cols;
    *n = conv != NULL ? conv->geom.out_h * conv->geom.out_w : batch > 1 ? batch : 64;
    if (*n > 4096) *n = 4096;
    return 0;
}

/* The file that caches this machine's measured break-even rates for one kernel build, G and
 * shape: $XDG_CACHE_HOME/scalpel/ (an absolute XDG_CACHE_HOME; else $HOME/.cache/scalpel/)
 * host-BACKEND-gG-ROWSxCOLS-nN.profile, a small text file the user may read and delete. The
 * directories are made when `make` is set. 0 when there is no such place. */
static int cache_path(const scalpel_hw_profile *hw, int32_t rows, int32_t cols, int32_t n, int make, char *buf,
                      size_t size)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[PATH_MAX];
    int len;
    if (xdg != NULL && xdg[0] == '/') len = snprintf(dir, sizeof dir, "%s", xdg);
    else if (home != NULL && home[0] == '/') len = snprintf(dir, sizeof dir, "%s/.cache", home);
    else return 0;
    if (len <= 0 || (size_t)len >= sizeof dir - 16) return 0;
    if (make) (void)mkdir(dir, 0700);
    strcat(dir, "/scalpel");
    if (make) (void)mkdir(dir, 0700);
    len = snprintf(buf, size, "%s/host-%s-g%d-%dx%d-n%d.profile", dir, scalpel_kernels_backend(), (int)hw->group,
                   (int)rows, (int)cols, (int)n);
    return len > 0 && (size_t)len < size;
}

/* Reads the four rates of a cache file into hw; 0 when the file is missing or is not one this
 * program wrote (each rate a number in [0, 1], every line known): then it is measured again. */
static int cache_read(const char *path, scalpel_hw_profile *hw)
{
    FILE *f = fopen(path, "r");
    char line[256];
    double v[4];
    int seen = 0, k;
    static const char *const keys[4] = { "breakeven_mv_csr", "breakeven_mv_grouped", "breakeven_mm_csr",
                                         "breakeven_mm_grouped" };
    if (f == NULL) return 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char key[64], end[2];
        double x;
        if (line[0] == '#' || line[0] == '\n') continue;
        if (sscanf(line, "%63s %lf %1s", key, &x, end) != 2 || !(x >= 0.0 && x <= 1.0)) break;
        for (k = 0; k < 4 && strcmp(key, keys[k]) != 0; k++) {}
        if (k == 4 || (seen & (1 << k))) break;
        v[k] = x;
        seen |= 1 << k;
    }
    fclose(f);
    if (seen != 15) return 0;
    hw->breakeven_mv_csr = (float)v[0];
    hw->breakeven_mv_grouped = (float)v[1];
    hw->breakeven_mm_csr = (float)v[2];
    hw->breakeven_mm_grouped = (float)v[3];
    hw->note = "measured on this machine earlier (cached)";
    return 1;
}

/* Writes the cache file (to PATH.tmp, then renamed over PATH); a warning when it cannot. */
static void cache_write(const char *path, const scalpel_hw_profile *hw, int32_t rows, int32_t cols, int32_t n)
{
    char tmp[PATH_MAX + 8];
    FILE *f;
    int ok;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "scalpel: warning: cannot cache the measured profile in %s: %s\n", path, strerror(errno));
        return;
    }
    ok = fprintf(f, "# scalpel: break-even rates measured on this machine (kernels %s, G = %d, matrix %d x %d, "
                 "%d columns).\n# Written by plan/pack --hw host; delete this file to measure again.\n"
                 "breakeven_mv_csr %.6f\nbreakeven_mv_grouped %.6f\nbreakeven_mm_csr %.6f\nbreakeven_mm_grouped %.6f\n",
                 scalpel_kernels_backend(), (int)hw->group, (int)rows, (int)cols, (int)n, (double)hw->breakeven_mv_csr,
                 (double)hw->breakeven_mv_grouped, (double)hw->breakeven_mm_csr, (double)hw->breakeven_mm_grouped) > 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "scalpel: warning: cannot cache the measured profile in %s: %s\n", path, strerror(errno));
        remove(tmp);
    }
}

/* The break-even rates plan and pack use for hw on net:
 *   --calibrate (measure): measured now; for --hw host also written to the cache;
 *   --hw host: the cached measurement for this kernel build, G and shape, else measured now
 *              (a few seconds, once) and cached: the built-in figures come from other machines;
 *   a named profile: its built-in figures, with a note when it is this machine's own profile
 *              (they may not hold here: --hw host measures). */
static int choose_rates(const scalpel_net *net, const char *hw_name, int measure, scalpel_hw_profile *hw, FILE *say)
{
    int32_t rows = 0, cols = 0, n = 0;
    char path[PATH_MAX];
    int host = strcmp(hw_name, "host") == 0, cached;
    scalpel_hw_profile own;
    scalpel_status st;
    if (!host && !measure) {
        if (scalpel_hw_profile_host(&own) == SCALPEL_OK && strcmp(own.name, hw->name) == 0)
            fprintf(say, "note: profile %s's break-even rates are built-in figures from other machines; --hw host "
                    "measures this one (once, then cached)\n", hw->name);
        return 0;
    }
    if (calibration_shape(net, hw->batch, &rows, &cols, &n) != 0) return 1;
    cached = host && cache_path(hw, rows, cols, n, 0, path, sizeof path);
    if (cached && !measure && cache_read(path, hw)) {
        fprintf(say, "break-even rates: measured on this machine earlier, from %s (delete it to measure again)\n",
                path);
        return 0;
    }
    fprintf(say, "measuring the break-even rates of profile %s on this machine (kernels %s, G = %d): matrix-vector "
            "%d x %d, matrix-matrix %d x %d . %d x %d ...\n", hw->name, scalpel_kernels_backend(), (int)hw->group,
            (int)rows, (int)cols, (int)rows, (int)cols, (int)cols, (int)n);
    fflush(say);
    st = scalpel_hw_calibrate(hw, rows, cols, n);
    if (st != SCALPEL_OK) return fail("calibration failed: %s", scalpel_status_string(st));
    if (host && cache_path(hw, rows, cols, n, 1, path, sizeof path)) {
        cache_write(path, hw, rows, cols, n);
        fprintf(say, "  cached in %s (delete it to measure again)\n", path);
    }
    return 0;
}

static void print_profile(const scalpel_hw_profile *hw)
{
    char a[16], b[16], c[16], d[16];
    printf("profile %s: %s, G = %d, dtype %s, batch %d\n", hw->name, class_name(hw->hw_class), (int)hw->group,
           dtype_name(hw->dtype), (int)hw->batch);
    printf("  break-even rates: matrix-vector csr %s, grouped %s; matrix-matrix csr %s, grouped %s\n",
           rate_text(hw->breakeven_mv_csr, a, sizeof a), rate_text(hw->breakeven_mv_grouped, b, sizeof b),
           rate_text(hw->breakeven_mm_csr, c, sizeof c), rate_text(hw->breakeven_mm_grouped, d, sizeof d));
    printf("  note: %s\n", hw->note != NULL ? hw->note : "");
}

static void print_plan(const scalpel_net *net, const scalpel_plan *plan)
{
    int32_t i;
    size_t now = 0, planned = 0;
    int64_t macs_dense = 0, macs_planned = 0;
    char s1[32], r1[16], r2[16];
    printf("plan (%s mode):\n", mode_names[plan->mode >= 0 && plan->mode < 4 ? plan->mode : 0]);
    printf("%3s  %-7s %-13s %-10s %-6s %7s %7s %23s %25s  %s\n", "#", "kind", "technique", "storage", "kernel",
           "rate", "b-even", "bytes now -> planned", "MACs dense -> planned", "reason");
    for (i = 0; i < plan->n_layers && i < net->n_layers; i++) {
        const scalpel_layer *l = &net->layers[i];
        const scalpel_layer_plan *p = &plan->layers[i];
        const char *reason = p->reason != NULL ? p->reason : "";
        if (!is_weighted(l)) {
            printf("%3d  %-7s %-13s %-10s %-6s %7s %7s %23s %25s  %s\n", (int)i, scalpel_layer_kind_name(l->geom.kind),
                   technique_name(p->technique), "-", "-", "-", "-", "-", "-", reason);
            continue;
        }
        printf("%3d  %-7s %-13s %-10s %-6s %7s %7s %10zu -> %-10zu %11lld -> %-11lld  %s\n", (int)i,
               scalpel_layer_kind_name(l->geom.kind), technique_name(p->technique),
               storage_text(p->storage, p->group, s1, sizeof s1), p->kernel_mm ? "mm" : "mv",
               rate_text(p->rate, r1, sizeof r1), rate_text(p->break_even, r2, sizeof r2), p->bytes_now,
               p->bytes_planned, (long long)p->macs_dense, (long long)p->macs_planned, reason);
        now += p->bytes_now;
        planned += p->bytes_planned;
        macs_dense += p->macs_dense;
        macs_planned += p->macs_planned;
    }
    printf("total: weight bytes %zu -> %zu (%.1f%%), MACs per sample %lld -> %lld (%.1f%% of dense)\n", now,
           planned, percent((double)planned, (double)now), (long long)macs_dense, (long long)macs_planned,
           percent((double)macs_planned, (double)macs_dense));
}

static int verify_packed_layers(const scalpel_net *packed, const scalpel_net *dense, scalpel_plan *plan, int *changed);

/* *out = an independent copy of net (through the model file's bytes). */
static int net_copy(const scalpel_net *net, scalpel_net *out)
{
    size_t size = scalpel_net_serialized_size(net), written = 0;
    unsigned char *buf = size > 0 ? (unsigned char *)malloc(size) : NULL;
    scalpel_status st = buf == NULL ? SCALPEL_ERR_NO_MEMORY : scalpel_net_serialize(net, buf, size, &written);
    memset(out, 0, sizeof *out);
    if (st == SCALPEL_OK) st = scalpel_net_load_buffer(buf, written, out);
    free(buf);
    return st == SCALPEL_OK ? 0 : fail("cannot copy the network: %s", scalpel_status_string(st));
}

/* Dead nodes (rows of a weighted layer whose weights are all zero: channel pruning in PyTorch
 * leaves them, bias and all) cost time in every layer that reads them. plan and pack remove
 * them first, exactly (scalpel_net_remove_dead_nodes folds each constant output into the next
 * layer's bias), unless --keep-dead; this says what went. net becomes the smaller network
 * (dense: the plan packs it again), or stays as it was when no node is dead. */
static int remove_dead_nodes(scalpel_net *net, const char *path, const char *verb)
{
    scalpel_net out;
    int32_t removed = 0, i;
    int sep = 0;
    scalpel_status st = scalpel_net_remove_dead_nodes(net, NULL, &out, &removed);
    if (st == SCALPEL_ERR_UNSUPPORTED) {
        printf("dead nodes: not looked for (layer %d is a kind node removal does not handle)\n",
               (int)scalpel_net_first_unsupported(net, SCALPEL_USE_NODE_REMOVAL));
        return 0;
    }
    if (st != SCALPEL_OK) return fail("%s: removing dead nodes failed: %s", path, scalpel_status_string(st));
    if (removed == 0) {
        scalpel_net_free(&out);
        return 0;
    }
    printf("dead nodes: %s %d (all-zero weights; their constant outputs folded into the biases that read "
           "them; --keep-dead keeps them):", verb, (int)removed);
    for (i = 0; i < net->n_layers && i < out.n_layers; i++)
        if (is_weighted(&net->layers[i]) && net->layers[i].geom.rows != out.layers[i].geom.rows)
            printf("%s layer %d: %d -> %d %s", sep++ ? "," : "", (int)i, (int)net->layers[i].geom.rows,
                   (int)out.layers[i].geom.rows, net->layers[i].geom.kind == SCALPEL_LAYER_FC ? "outputs" : "channels");
    printf("\n");
    scalpel_net_free(net);
    *net = out;
    return 0;
}

/* plan and pack share their options. */
static int cmd_plan_or_pack(const char *cmd, int n, char **args)
{
    int pack = strcmp(cmd, "pack") == 0;
    cli_opt opts[7] = { { "--hw", NULL, 1, NULL, 0 }, { "--mode", NULL, 1, NULL, 0 },
                        { "--calibrate", NULL, 0, NULL, 0 }, { "--json", NULL, 0, NULL, 0 },
                        { "--output", "-o", 1, NULL, 0 }, { "--keep-dead", NULL, 0, NULL, 0 },
                        { "--batch", NULL, 1, NULL, 0 } };
    const char *pos[MAX_POSITIONAL];
    int n_pos, rc, host;
    scalpel_plan_mode mode = SCALPEL_PLAN_SCALPEL;
    scalpel_hw_profile hw;
    scalpel_plan plan;
    scalpel_net net, dense;
    scalpel_status st;
    size_t bytes_before, file_before;

    rc = parse_args(cmd, n, args, opts, 7, pos, 0, 1, &n_pos);
    if (rc != 0) return rc;
    if (opts[0].value == NULL) return usage_error(cmd, "--hw NAME is required ('--hw list' lists them)");
    if (!pack && opts[4].seen) return usage_error(cmd, "-o is for pack");
    if (!pack && strcmp(opts[0].value, "list") == 0) {
        if (n_pos != 0) return usage_error(cmd, "--hw list takes no MODEL");
        if (opts[3].seen) list_profiles_json();
        else list_profiles();
        return 0;
    }
    if (opts[3].seen && pack) return usage_error(cmd, "--json is for plan");
    if (n_pos != 1) return usage_error(cmd, "missing MODEL");
    if (pack && opts[4].value == NULL) return usage_error(cmd, "-o OUT is required");
    rc = parse_mode(cmd, opts[1].value, &mode);
    if (rc != 0) return rc;
    host = strcmp(opts[0].value, "host") == 0;
    memset(&dense, 0, sizeof dense);
    if (get_profile(opts[0].value, &hw) != 0) return 1;
    if (opts[6].value != NULL &&
        (rc = parse_int(cmd, "--batch", opts[6].value, 1, SCALPEL_NET_MAX_PACKED_BATCH, &hw.batch)) != 0)
        return rc;
    if (load_model(pos[0], &net) != 0) return 1;

    rc = 1;
    if (refuse_decomposed(pos[0], &net, pack ? "pack" : "plan --hw") != 0) goto done;
    bytes_before = scalpel_net_weight_bytes(&net);
    file_before = scalpel_net_serialized_size(&net);
    if (!opts[5].seen && mode != SCALPEL_PLAN_DENSE && remove_dead_nodes(&net, pos[0], pack ? "removed" : "pack removes") != 0)
        goto done;
    if (mode != SCALPEL_PLAN_DENSE && choose_rates(&net, opts[0].value, opts[2].seen, &hw, opts[3].seen ? stderr : stdout) != 0)
        goto done;
    if (opts[3].seen) { /* the profile with the rates this model is planned with, for scalpel.torch */
        json_profile(&hw);
        printf("\n");
        rc = 0;
        goto done;
    }
    st = scalpel_plan_net(&net, &hw, mode, &plan);
    if (st != SCALPEL_OK) {
        fail("%s: planning for %s failed: %s", pos[0], hw.name, scalpel_status_string(st));
        goto done;
    }
    if (!pack) {
        printf("%s: %d layers, input %dx%dx%d\n", pos[0], (int)net.n_layers, (int)net.in_c, (int)net.in_h,
               (int)net.in_w);
        print_profile(&plan.hw);
        print_plan(&net, &plan);
        rc = 0;
        goto done;
    }
    if (host && mode == SCALPEL_PLAN_SCALPEL && net_copy(&net, &dense) != 0) goto done;
    st = scalpel_net_pack(&net, &plan);
    if (st == SCALPEL_OK && dense.n_layers > 0) {
        scalpel_plan dense_plan;
        int changed = 0;
        st = scalpel_plan_net(&dense, &hw, SCALPEL_PLAN_DENSE, &dense_plan);
        if (st == SCALPEL_OK) st = scalpel_net_pack(&dense, &dense_plan);
        if (st == SCALPEL_OK) {
            if (verify_packed_layers(&net, &dense, &plan, &changed) != 0) goto done;
            if (changed) st = scalpel_net_pack(&net, &plan);
        }
    }
    if (st != SCALPEL_OK) {
        fail("%s: packing for %s failed: %s (nothing written)", pos[0], hw.name, scalpel_status_string(st));
        goto done;
    }
    st = save_net(&net, opts[4].value);
    if (st != SCALPEL_OK) {
        fail("%s: cannot save the packed model: %s", opts[4].value, scalpel_status_string(st));
        goto done;
    }
    printf("packed %s for %s (%s mode) -> %s\n", pos[0], hw.name, mode_names[mode], opts[4].value);
    printf("  weight bytes %zu -> %zu (%.1f%%), model file %zu -> %zu bytes (%.1f%%)\n", bytes_before,
           scalpel_net_weight_bytes(&net), percent((double)scalpel_net_weight_bytes(&net), (double)bytes_before),
           file_before, scalpel_net_serialized_size(&net),
           percent((double)scalpel_net_serialized_size(&net), (double)file_before));
    rc = 0;
done:
    scalpel_net_free(&net);
    scalpel_net_free(&dense);
    return rc;
}

/* ---- export-c ---------------------------------------------------------------------------- */

static int cmd_export_c(int n, char **args)
{
    cli_opt opts[1] = { { "--output", "-o", 1, NULL, 0 } };
    const char *pos[MAX_POSITIONAL];
    int n_pos, rc;
    scalpel_net net;
    scalpel_status st;

    rc = parse_args("export-c", n, args, opts, 1, pos, 2, 2, &n_pos);
    if (rc != 0) return rc;
    if (opts[0].value == NULL) return usage_error("export-c", "-o OUT.h is required");
    if (check_export_name(pos[1]) != 0) return 1;
    if (load_model(pos[0], &net) != 0) return 1;
    if (refuse_decomposed(pos[0], &net, "export-c") != 0) {
        scalpel_net_free(&net);
        return 1;
    }
    if (net.n_layers == 0) {
        scalpel_net_free(&net);
        return fail("%s: the network has no layers: nothing to export", pos[0]);
    }
    st = export_net(&net, pos[1], opts[0].value);
    if (st != SCALPEL_OK) {
        rc = fail("%s: cannot export %s as '%s': %s", opts[0].value, pos[0], pos[1], scalpel_status_string(st));
    } else {
        printf("wrote %s: static const scalpel_net %s (%d layers, %zu weight bytes)\n", opts[0].value, pos[1],
               (int)net.n_layers, scalpel_net_weight_bytes(&net));
        rc = 0;
    }
    scalpel_net_free(&net);
    return rc;
}

/* ---- import-safetensors ------------------------------------------------------------------ */

/* One whole-string number of a spec token field, in [lo, hi]. */
static int spec_number(const char *s, size_t len, long lo, long hi, int32_t *out)
{
    char buf[24];
    char *end = NULL;
    long v;
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] < '0' || buf[0] > '9') return 0;
    errno = 0;
    v = strtol(buf, &end, 10);
    if (*end != '\0' || errno == ERANGE || v < lo || v > hi) return 0;
    *out = (int32_t)v;
    return 1;
}

/* Splits s[0..len) at `sep` into at most max fields; returns the count (max + 1 if more). */
static int split_fields(const char *s, size_t len, char sep, const char **field, size_t *flen, int max)
{
    int n = 0;
    size_t start = 0, i;
    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == sep) {
            if (n >= max) return max + 1;
            field[n] = s + start;
            flen[n] = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

#define SPEC_MAX_DIM 1000000L

/* Builds net from SPEC (see the help text). Returns 0 or 1 after a message naming the token. */
/* Builds the network --arch describes, zero weights. bn_eps[SCALPEL_NET_MAX_LAYERS] gets the
 * epsilon of each `bn` layer (0 elsewhere). norm_layer: a batchnorm first, for the input
 * preprocessing when it cannot be folded (scalpel_input_norm, LAYER). */
static int build_from_spec(const char *spec, int norm_layer, float *bn_eps, scalpel_net *net)
{
    const char *p = spec;
    int token = 0;
    scalpel_status st = SCALPEL_OK;
    memset(net, 0, sizeof *net);
    memset(bn_eps, 0, SCALPEL_NET_MAX_LAYERS * sizeof(float));
    while (1) {
        const char *end = strchr(p, ','), *tok = p, *f[6];
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p), fl[6];
        int nf;
        int32_t v[4] = { 0, 0, 0, 0 };
        /* trim spaces around the token */
        while (len > 0 && (*tok == ' ' || *tok == '\t')) { tok++; len--; }
        while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t')) len--;
        token++;
        if (len == 0) {
            scalpel_net_free(net);
            return fail("--arch '%s': token %d is empty", spec, token);
        }
        if (token == 1) {
            nf = split_fields(tok, len, 'x', f, fl, 3);
            if (!((nf == 1 && spec_number(f[0], fl[0], 1, INT32_MAX, &v[0])) ||
                  (nf == 3 && spec_number(f[0], fl[0], 1, SPEC_MAX_DIM, &v[0]) &&
                   spec_number(f[1], fl[1], 1, SPEC_MAX_DIM, &v[1]) && spec_number(f[2], fl[2], 1, SPEC_MAX_DIM, &v[2])))) {
                return fail("--arch: bad input shape '%.*s' (token 1): expected CxHxW or N, positive integers",
                            (int)len, tok);
            }
            if (nf == 1) v[1] = v[2] = 1;
            st = scalpel_net_init(v[0], v[1], v[2], net);
            if (st != SCALPEL_OK)
                return fail("--arch: input shape '%.*s': %s", (int)len, tok, scalpel_status_string(st));
            if (norm_layer && (st = scalpel_net_add_layer(net, SCALPEL_LAYER_BATCHNORM, 0, 0, 0, 0, NULL, NULL)) != SCALPEL_OK) {
                scalpel_net_free(net);
                return fail("--arch: input preprocessing layer: %s", scalpel_status_string(st));
            }
        } else {
            const char *expect = NULL;
            nf = split_fields(tok, len, ':', f, fl, 5);
            if (net->n_layers >= SCALPEL_NET_MAX_LAYERS) {
                scalpel_net_free(net);
                return fail("--arch: token %d '%.*s': more than %d layers", token, (int)len, tok,
                            SCALPEL_NET_MAX_LAYERS);
            }
            if (fl[0] == 4 && strncmp(f[0], "conv", 4) == 0) {
                v[2] = 1;
                v[3] = 0;
                if (!(nf >= 3 && nf <= 5 && spec_number(f[1], fl[1], 1, SPEC_MAX_DIM, &v[0]) &&
                      spec_number(f[2], fl[2], 1, SPEC_MAX_DIM, &v[1]) &&
                      (nf < 4 || spec_number(f[3], fl[3], 1, SPEC_MAX_DIM, &v[2])) &&
                      (nf < 5 || spec_number(f[4], fl[4], 0, SPEC_MAX_DIM, &v[3]))))
                    expect = "conv:OUT:K[:STRIDE[:PAD]]";
                else
                    st = scalpel_net_add_conv2d(net, v[0], v[1], v[2], v[3], NULL, NULL);
            } else if (fl[0] == 4 && strncmp(f[0], "pool", 4) == 0) {
                if (!(nf >= 2 && nf <= 3 && spec_number(f[1], fl[1], 1, SPEC_MAX_DIM, &v[0]) &&
                      (nf < 3 || spec_number(f[2], fl[2], 1, SPEC_MAX_DIM, &v[1]))))
                    expect = "pool:K[:STRIDE]";
                else
                    st = scalpel_net_add_maxpool(net, v[0], nf == 3 ? v[1] : v[0]);
            } else if (fl[0] == 2 && strncmp(f[0], "fc", 2) == 0) {
                if (!(nf == 2 && spec_number(f[1], fl[1], 1, SPEC_MAX_DIM, &v[0])))
                    expect = "fc:OUT";
                else
                    st = scalpel_net_add_fc(net, v[0], NULL, NULL);
            } else if (fl[0] == 4 && strncmp(f[0], "relu", 4) == 0) {
                if (nf != 1) expect = "relu";
                else st = scalpel_net_add_relu(net);
            } else if (fl[0] == 2 && strncmp(f[0], "bn", 2) == 0) {
                double eps = 1e-5;
                char num[32], *e = NULL;
                if (nf == 2 && fl[1] > 0 && fl[1] < sizeof num) {
                    memcpy(num, f[1], fl[1]);
                    num[fl[1]] = '\0';
                    eps = strtod(num, &e);
                }
                if (nf > 2 || (nf == 2 && (e == NULL || *e != '\0' || !(eps > 0.0 && eps < 1.0))))
                    expect = "bn[:EPS] (EPS between 0 and 1, default 1e-5)";
                else if ((st = scalpel_net_add_layer(net, SCALPEL_LAYER_BATCHNORM, 0, 0, 0, 0, NULL, NULL)) == SCALPEL_OK)
                    bn_eps[net->n_layers - 1] = (float)eps;
            } else {
                expect = "conv:OUT:K[:STRIDE[:PAD]], pool:K[:STRIDE], fc:OUT, relu or bn[:EPS]";
            }
            if (expect != NULL) {
                scalpel_net_free(net);
                return fail("--arch: bad layer '%.*s' (token %d): expected %s (numbers from 1 to %ld, PAD from 0)",
                            (int)len, tok, token, expect, SPEC_MAX_DIM);
            }
            if (st != SCALPEL_OK) {
                char s[48];
                const scalpel_layer *last = net->n_layers > 0 ? &net->layers[net->n_layers - 1] : NULL;
                if (last != NULL) shape_text(last->geom.out_c, last->geom.out_h, last->geom.out_w, s, sizeof s);
                else shape_text(net->in_c, net->in_h, net->in_w, s, sizeof s);
                scalpel_net_free(net);
                return fail("--arch: cannot add layer '%.*s' (token %d) to its input %s: %s", (int)len, tok, token,
                            s, scalpel_status_string(st));
            }
        }
        if (end == NULL) break;
        p = end + 1;
    }
    if (net->n_layers == 0) return fail("--arch '%s': no layers after the input shape", spec);
    return 0;
}

/* Checks, for explicit --names, that each weighted layer's tensors are there with the right
 * shape, so that the message can name the tensor. Returns 0 or 1 after a message. */
static int check_tensors(const char *file, const unsigned char *data, size_t size, const scalpel_net *net,
                         char **names)
{
    int32_t i, k = 0;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *l = &net->layers[i];
        scalpel_safetensors_tensor t;
        char name[160];
        scalpel_status st;
        int ok;
        if (!is_weighted(l)) continue;
        if (strlen(names[k]) + 8 >= sizeof name) return fail("--names: '%s' is too long", names[k]);
        snprintf(name, sizeof name, "%s.weight", names[k]);
        st = scalpel_safetensors_find(data, size, name, &t);
        if (st == SCALPEL_ERR_ARGUMENT) return fail("%s: no tensor '%s' (layer %d, %s)", file, name, (int)i,
                                                    scalpel_layer_kind_name(l->geom.kind));
        if (st != SCALPEL_OK) return fail("%s: %s", file, scalpel_status_string(st));
        if (l->geom.kind == SCALPEL_LAYER_FC)
            ok = t.ndim == 2 && t.shape[0] == l->geom.rows && t.shape[1] == l->geom.cols;
        else
            ok = t.ndim == 4 && t.shape[0] == l->geom.out_c && t.shape[1] == l->geom.in_c && t.shape[2] == l->geom.kernel &&
                 t.shape[3] == l->geom.kernel;
        if (!ok) {
            if (l->geom.kind == SCALPEL_LAYER_FC)
                return fail("%s: tensor '%s' should be [%d, %d] for layer %d (fc %d -> %d)", file, name, (int)l->geom.rows,
                            (int)l->geom.cols, (int)i, (int)l->geom.cols, (int)l->geom.rows);
            return fail("%s: tensor '%s' should be [%d, %d, %d, %d] for layer %d (conv2d)", file, name, (int)l->geom.out_c,
                        (int)l->geom.in_c, (int)l->geom.kernel, (int)l->geom.kernel, (int)i);
        }
        snprintf(name, sizeof name, "%s.bias", names[k]);
        st = scalpel_safetensors_find(data, size, name, &t);
        if (st == SCALPEL_OK && !(t.ndim == 1 && t.shape[0] == l->geom.rows))
            return fail("%s: tensor '%s' should be [%d] for layer %d", file, name, (int)l->geom.rows, (int)i);
        if (st != SCALPEL_OK && st != SCALPEL_ERR_ARGUMENT) return fail("%s: %s", file, scalpel_status_string(st));
        k++;
    }
    return 0;
}

static const char *npy_shape_text(const scalpel_npy *a, char *buf, size_t size);

/* What a file that is not safetensors is, when the bytes say so: a PyTorch checkpoint
 * (torch.save writes a zip archive, older versions a pickle). NULL otherwise. */
static const char *torch_file_kind(const unsigned char *data, size_t size)
{
    if (size >= 4 && memcmp(data, "PK\x03\x04", 4) == 0) return "a zip archive (what torch.save writes)";
    if (size >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5) return "a Python pickle (what torch.save writes)";
    return NULL;
}

/* The JSON header of a safetensors file as text (NULL when the length field is implausible):
 * only for messages, after the library has refused the file. */
static const char *st_header(const unsigned char *data, size_t size, size_t *len)
{
    uint64_t n = 0;
    int i;
    if (size < 8) return NULL;
    for (i = 7; i >= 0; i--) n = (n << 8) | data[i];
    if (n == 0 || n > size - 8) return NULL;
    *len = (size_t)n;
    return (const char *)data + 8;
}

/* Whether the header text holds `needle`. */
static int st_header_has(const char *h, size_t len, const char *needle)
{
    size_t k, m = strlen(needle);
    for (k = 0; k + m <= len; k++)
        if (memcmp(h + k, needle, m) == 0) return 1;
    return 0;
}

/* The first dtype in the header other than F32, F16 and BF16, into out[16] ("" if none). */
static void st_unsupported_dtype(const char *h, size_t len, char out[16])
{
    size_t k, m = strlen("\"dtype\"");
    out[0] = '\0';
    for (k = 0; k + m < len; k++) {
        size_t a, b;
        if (memcmp(h + k, "\"dtype\"", m) != 0) continue;
        for (a = k + m; a < len && h[a] != '"'; a++) {}
        for (b = a + 1; b < len && h[b] != '"'; b++) {}
        if (a >= len || b >= len || b - a - 1 >= 16) continue;
        if ((b - a - 1 == 3 && (memcmp(h + a + 1, "F32", 3) == 0 || memcmp(h + a + 1, "F16", 3) == 0)) ||
            (b - a - 1 == 4 && memcmp(h + a + 1, "BF16", 4) == 0))
            continue;
        memcpy(out, h + a + 1, b - a - 1);
        out[b - a - 1] = '\0';
        return;
    }
}

/* The network on `samples` inputs x, `batch` at a time (ws sized for batch), into y. */
static scalpel_status forward_batches(const scalpel_net *net, const float *x, int32_t samples, int32_t batch, float *y,
                                      void *ws)
{
    size_t in_n = (size_t)scalpel_net_input_size(net), out_n = (size_t)scalpel_net_output_size(net);
    int32_t s;
    for (s = 0; s < samples; s += batch) {
        int32_t b = samples - s < batch ? samples - s : batch;
        scalpel_status st = scalpel_net_forward(net, x + (size_t)s * in_n, b, y + (size_t)s * out_n, ws);
        if (st != SCALPEL_OK) return st;
    }
    return SCALPEL_OK;
}

/* --check IN.npy OUT.npy: the imported network on IN against the framework's outputs OUT,
 * the largest difference against tol x the largest |OUT|. Returns 0 when within, 1 after a
 * message. */
static int import_check(const scalpel_net *net, const char *in_path, const char *out_path, double tol)
{
    scalpel_npy x, ref;
    scalpel_status st;
    int32_t in_n = scalpel_net_input_size(net), out_n = scalpel_net_output_size(net), batch;
    int64_t samples, count;
    size_t wsz, k;
    float *y = NULL;
    void *ws = NULL;
    double worst = 0.0, scale = 0.0;
    int rc = 1;
    char s1[160];
    memset(&ref, 0, sizeof ref);
    st = scalpel_npy_load(in_path, &x);
    if (st != SCALPEL_OK) return fail("--check %s: cannot read the inputs: %s (float32 .npy expected)", in_path,
                                      scalpel_status_string(st));
    st = scalpel_npy_load(out_path, &ref);
    if (st != SCALPEL_OK) {
        fail("--check %s: cannot read the reference outputs: %s (float32 .npy expected)", out_path,
             scalpel_status_string(st));
        goto done;
    }
    samples = x.shape[0];
    if (!((x.ndim == 4 && x.shape[1] == net->in_c && x.shape[2] == net->in_h && x.shape[3] == net->in_w) ||
          (x.ndim == 2 && x.shape[1] == in_n)) || samples < 1 || samples > 65536) {
        fail("--check %s: shape %s; the network takes (N, %d, %d, %d) or (N, %d), 1 <= N <= 65536", in_path,
             npy_shape_text(&x, s1, sizeof s1), (int)net->in_c, (int)net->in_h, (int)net->in_w, (int)in_n);
        goto done;
    }
    for (count = 1, k = 1; k < (size_t)ref.ndim; k++) count *= ref.shape[k];
    if (ref.shape[0] != samples || count != out_n) {
        fail("--check %s: shape %s; the network gives (%lld, %d) for the %lld inputs", out_path,
             npy_shape_text(&ref, s1, sizeof s1), (long long)samples, (int)out_n, (long long)samples);
        goto done;
    }
    batch = samples < 64 ? (int32_t)samples : 64;
    wsz = scalpel_net_workspace_size(net, batch);
    y = (float *)malloc((size_t)samples * (size_t)out_n * sizeof(float));
    ws = malloc(wsz ? wsz : 1);
    if (y == NULL || ws == NULL) {
        fail("--check: out of memory");
        goto done;
    }
    st = forward_batches(net, x.data, (int32_t)samples, batch, y, ws);
    if (st != SCALPEL_OK) {
        fail("--check: forward pass failed: %s", scalpel_status_string(st));
        goto done;
    }
    for (k = 0; k < (size_t)samples * (size_t)out_n; k++) {
        double d = fabs((double)y[k] - (double)ref.data[k]), m = fabs((double)ref.data[k]);
        if (d > worst) worst = d;
        if (m > scale) scale = m;
    }
    if (!(worst <= tol * scale)) {
        fail("--check: the imported model differs from the reference outputs by %.3g (largest output %.3g, "
             "tolerance %g of it) on %lld samples: the architecture does not match the model (a missing relu after a "
             "convolution, another layer order, a batch norm or normalization the file does not show?); nothing was "
             "written", worst, scale, tol, (long long)samples);
        goto done;
    }
    printf("check: %lld samples, largest difference %.3g (largest output %.3g, tolerance %g of it)\n", (long long)samples,
           worst, scale, tol);
    rc = 0;
done:
    free(y);
    free(ws);
    scalpel_npy_free(&x);
    scalpel_npy_free(&ref);
    return rc;
}

/* ---- import-safetensors: the tensors of a file and the layers that take them ---------- */

/* The tensors a file holds, by name, and which the import takes. */
typedef struct st_names {
    int32_t n;
    char (*name)[128];
    unsigned char *used;
} st_names;

static void st_names_free(st_names *t)
{
    free(t->name);
    free(t->used);
    memset(t, 0, sizeof *t);
}

static int st_names_list(const char *file, const unsigned char *data, size_t size, st_names *t)
{
    int32_t count = 0;
    scalpel_status st;
    memset(t, 0, sizeof *t);
    st = scalpel_safetensors_names(data, size, NULL, 0, &count);
    if (st != SCALPEL_OK) return fail("%s: cannot import: %s", file, scalpel_status_string(st));
    t->name = (char (*)[128])calloc((size_t)(count > 0 ? count : 1), 128);
    t->used = (unsigned char *)calloc((size_t)(count > 0 ? count : 1), 1);
    if (t->name == NULL || t->used == NULL) {
        st_names_free(t);
        return fail("out of memory");
    }
    st = scalpel_safetensors_names(data, size, t->name, count, NULL);
    if (st != SCALPEL_OK) {
        st_names_free(t);
        return fail("%s: cannot import: %s (a tensor name of 128 bytes or more, or holding a NUL)", file,
                    scalpel_status_string(st));
    }
    t->n = count;
    return 0;
}

/* The index of tensor PREFIX + SUFFIX, or -1. */
static int32_t st_names_find(const st_names *t, const char *prefix, const char *suffix)
{
    size_t lp = strlen(prefix);
    int32_t i;
    for (i = 0; i < t->n; i++)
        if (strncmp(t->name[i], prefix, lp) == 0 && strcmp(t->name[i] + lp, suffix) == 0) return i;
    return -1;
}

/* Marks PREFIX + SUFFIX used (names are unique: the file check refuses duplicates). */
static void st_names_use(st_names *t, const char *prefix, const char *suffix)
{
    int32_t i = st_names_find(t, prefix, suffix);
    if (i >= 0) t->used[i] = 1;
}

/* 1 when s ends with suffix; *len = the length before it. */
static int ends_with(const char *s, const char *suffix, size_t *len)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    if (ls < lx || strcmp(s + ls - lx, suffix) != 0) return 0;
    *len = ls - lx;
    return 1;
}

/* The prefixes P of tensors named P + suffix, in natural order (fc1 < fc2 < fc10), into
 * out[max] (pointers into buf, max * 128 bytes); excluding the prefixes of `but` (may be
 * NULL). Returns how many there are, even past max. */
static int32_t prefixes_of(const st_names *t, const char *suffix, char (*buf)[128], int32_t max,
                           char (*but)[128], int32_t n_but)
{
    int32_t i, j, k = 0;
    for (i = 0; i < t->n; i++) {
        size_t len;
        int skip = 0;
        if (!ends_with(t->name[i], suffix, &len)) continue;
        for (j = 0; j < n_but && j < max; j++)
            if (strlen(but[j]) == len && strncmp(but[j], t->name[i], len) == 0) skip = 1;
        if (skip) continue;
        if (k < max) {
            memcpy(buf[k], t->name[i], len);
            buf[k][len] = '\0';
            /* insertion sort: a file has a few hundred tensors at most */
            for (j = k; j > 0 && scalpel__st_natcmp(buf[j - 1], buf[j]) > 0; j--) {
                char tmp[128];
                memcpy(tmp, buf[j], 128);
                memcpy(buf[j], buf[j - 1], 128);
                memcpy(buf[j - 1], tmp, 128);
            }
        }
        k++;
    }
    return k;
}

/* "a, b, c and 4 more" of up to four prefixes (or names) followed by suffix. */
static const char *name_list(char (*names)[128], int32_t n, const char *suffix, char *buf, size_t size)
{
    int32_t i;
    size_t used = 0;
    buf[0] = '\0';
    for (i = 0; i < n && i < 4 && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s%s", i ? ", " : "", names[i], suffix);
    if (n > 4 && used < size) snprintf(buf + used, size - used, " and %d more", (int)(n - 4));
    return buf;
}

/* Fills the batch norm layer L from the PyTorch tensors P.weight (gamma, optional),
 * P.bias (beta, optional), P.running_mean and P.running_var: scale = gamma / sqrt(var + eps),
 * shift = beta - mean * scale, in double. */
static int fill_batchnorm(const char *file, const unsigned char *data, size_t size, const char *prefix, float eps,
                          scalpel_layer *L)
{
    static const char *const suffix[4] = { ".running_mean", ".running_var", ".weight", ".bias" };
    int32_t C = L->geom.out_c, c, k;
    float *v = (float *)malloc((size_t)C * 4 * sizeof(float)), *params = (float *)(uintptr_t)L->params;
    char name[300];
    if (v == NULL) return fail("out of memory");
    for (k = 0; k < 4; k++) {
        scalpel_safetensors_tensor t;
        scalpel_status st;
        snprintf(name, sizeof name, "%s%s", prefix, suffix[k]);
        st = scalpel_safetensors_find(data, size, name, &t);
        if (st == SCALPEL_ERR_ARGUMENT && k >= 2) { /* BatchNorm2d(affine=False): gamma 1, beta 0 */
            for (c = 0; c < C; c++) v[k * C + c] = k == 2 ? 1.0f : 0.0f;
            continue;
        }
        if (st == SCALPEL_ERR_ARGUMENT) {
            free(v);
            return fail("%s: no tensor '%s' for the batch norm %s", file, name, prefix);
        }
        if (st == SCALPEL_OK && !(t.ndim == 1 && t.shape[0] == C)) {
            free(v);
            return fail("%s: tensor '%s' should be [%d]: its batch norm follows %d channels", file, name, (int)C, (int)C);
        }
        if (st == SCALPEL_OK) st = scalpel_safetensors_read_f32(&t, v + k * C, C);
        if (st != SCALPEL_OK) {
            free(v);
            return fail("%s: tensor '%s': %s", file, name, scalpel_status_string(st));
        }
    }
    for (c = 0; c < C; c++) {
        double var = (double)v[C + c], scale, shift;
        if (!(var >= 0.0) || !isfinite(v[c]) || !isfinite(v[2 * C + c]) || !isfinite(v[3 * C + c]) || !isfinite(var)) {
            free(v);
            return fail("%s: batch norm %s, channel %d: running_var must be >= 0 and every value finite", file, prefix,
                        (int)c);
        }
        scale = (double)v[2 * C + c] / sqrt(var + (double)eps);
        shift = (double)v[3 * C + c] - (double)v[c] * scale;
        if (!isfinite((float)scale) || !isfinite((float)shift)) {
            free(v);
            return fail("%s: batch norm %s, channel %d: the folded scale or shift overflows", file, prefix, (int)c);
        }
        params[c] = (float)scale;
        params[C + c] = (float)shift;
    }
    free(v);
    return 0;
}

/* --mean M1[,M2..] --std S1[,S2..] [--input-range R]: the input preprocessing of the training
 * pipeline (torchvision Normalize) into *q, one value or one per input channel. */
static int parse_norm(const char *mean, const char *std, const char *range, int32_t in_c, scalpel_input_norm *q)
{
    const char *lists[2];
    float *dst[2];
    int k;
    memset(q, 0, sizeof *q);
    if (mean == NULL && std == NULL) {
        if (range != NULL) return usage_error("import-safetensors", "--input-range goes with --mean and --std");
        return 0;
    }
    if (mean == NULL || std == NULL) return usage_error("import-safetensors", "--mean and --std go together");
    lists[0] = mean;
    lists[1] = std;
    dst[0] = q->mean;
    dst[1] = q->std;
    q->range = 1.0f;
    if (range != NULL) {
        char *end = NULL;
        double r;
        errno = 0;
        r = strtod(range, &end);
        if (end == range || *end != '\0' || errno == ERANGE || !(r > 0.0 && r <= 1e30))
            return usage_error("import-safetensors", "--input-range %s: a positive number (1: inputs in [0, 1] as "
                               "ToTensor gives them; 255: bytes)", range);
        q->range = (float)r;
    }
    for (k = 0; k < 2; k++) {
        const char *p = lists[k];
        int32_t c = 0;
        for (;;) {
            char *end = NULL;
            double v;
            errno = 0;
            v = strtod(p, &end);
            if (end == p || errno == ERANGE || !isfinite(v) || (k == 1 && !(v > 0.0)) || fabs(v) > 1e30 ||
                (*end != ',' && *end != '\0'))
                return usage_error("import-safetensors", "%s '%s': numbers separated by commas%s", k ? "--std" : "--mean",
                                   lists[k], k ? ", each above 0" : "");
            if (c >= SCALPEL_INPUT_NORM_MAX_CHANNELS)
                return usage_error("import-safetensors", "%s '%s': at most %d values (one, or one per input channel)",
                                   k ? "--std" : "--mean", lists[k], SCALPEL_INPUT_NORM_MAX_CHANNELS);
            dst[k][c++] = (float)v;
            if (*end == '\0') break;
            p = end + 1;
        }
        if (k == 0) q->channels = c;
        else if (c != q->channels)
            return usage_error("import-safetensors", "--mean has %d value%s and --std %d", (int)q->channels,
                               q->channels == 1 ? "" : "s", (int)c);
    }
    if (q->channels != 1 && q->channels != in_c)
        return fail("--mean/--std: %d values for an input of %d channel%s (give one, or one per channel)",
                    (int)q->channels, (int)in_c, in_c == 1 ? "" : "s");
    return 0;
}

/* 1 when the preprocessing folds exactly into layer 0: a dense fc, or a conv2d without padding
 * (a padded border would read zeros where the original reads the normalized value of 0),
 * ungrouped or with one value for every channel. */
static int norm_folds(const scalpel_net *net, const scalpel_input_norm *q)
{
    const scalpel_layer *L = net->n_layers > 0 ? &net->layers[0] : NULL;
    const scalpel_layer_geom *g;
    if (L == NULL || L->storage != SCALPEL_STORAGE_DENSE) return 0;
    g = &L->geom;
    if (g->kind == SCALPEL_LAYER_FC) return 1;
    return g->kind == SCALPEL_LAYER_CONV2D && g->pad_top == 0 && g->pad_left == 0 && g->pad_bottom == 0 &&
           g->pad_right == 0 && (g->groups == 1 || q->channels == 1);
}

/* x -> (x / range - mean[c]) / std[c] = x * scale[c] + shift[c] for input channel c. */
static void norm_affine(const scalpel_input_norm *q, int32_t c, double *scale, double *shift)
{
    int32_t k = q->channels == 1 ? 0 : c;
    *scale = 1.0 / ((double)q->range * (double)q->std[k]);
    *shift = -(double)q->mean[k] / (double)q->std[k];
}

/* Applies the preprocessing q to net: folded into layer 0 (W'[o][k] = W[o][k] scale[c(k)],
 * b'[o] = b[o] + sum_k W[o][k] shift[c(k)], in double) when norm_folds, else into the batchnorm
 * build_from_spec put first. Records it in net->input_norm. */
static int apply_norm(scalpel_net *net, const scalpel_input_norm *q)
{
    scalpel_layer *L = &net->layers[0];
    int32_t c;
    if (norm_folds(net, q)) {
        const scalpel_layer_geom *g = &L->geom;
        float *w = (float *)(uintptr_t)L->w, *b = (float *)(uintptr_t)L->b;
        int32_t o, k, per_c = g->kind == SCALPEL_LAYER_FC ? net->in_h * net->in_w : g->kernel_h * g->kernel_w;
        for (o = 0; o < g->rows; o++) {
            double acc = (double)b[o];
            for (k = 0; k < g->cols; k++) {
                double scale, shift, v;
                norm_affine(q, k / per_c, &scale, &shift);
                acc += (double)w[(size_t)o * (size_t)g->cols + (size_t)k] * shift;
                v = (double)w[(size_t)o * (size_t)g->cols + (size_t)k] * scale;
                if (!isfinite((float)v)) return fail("--mean/--std: the folded weights overflow");
                w[(size_t)o * (size_t)g->cols + (size_t)k] = (float)v;
            }
            if (!isfinite((float)acc)) return fail("--mean/--std: the folded bias overflows");
            b[o] = (float)acc;
        }
        net->input_norm = *q;
        net->input_norm.where = SCALPEL_INPUT_NORM_FOLDED;
        return 0;
    }
    for (c = 0; c < net->in_c; c++) {
        double scale, shift;
        float *params = (float *)(uintptr_t)L->params;
        norm_affine(q, c, &scale, &shift);
        if (!isfinite((float)scale) || !isfinite((float)shift)) return fail("--mean/--std: the scale or shift overflows");
        params[c] = (float)scale;
        params[net->in_c + c] = (float)shift;
    }
    net->input_norm = *q;
    net->input_norm.where = SCALPEL_INPUT_NORM_LAYER;
    return 0;
}

static int cmd_import(int n, char **args)
{
    cli_opt opts[8] = { { "--arch", NULL, 1, NULL, 0 }, { "--names", NULL, 1, NULL, 0 },
                        { "--output", "-o", 1, NULL, 0 }, { "--tolerance", NULL, 1, NULL, 0 },
                        { "--allow-unused", NULL, 0, NULL, 0 }, { "--mean", NULL, 1, NULL, 0 },
                        { "--std", NULL, 1, NULL, 0 }, { "--input-range", NULL, 1, NULL, 0 } };
    const char *pos[MAX_POSITIONAL], *check_in = NULL, *check_out = NULL;
    char *rest[64];
    int n_pos, rc, n_names = 0, n_weighted = 0, n_bn = 0, i, n_rest = 0, norm_layer = 0;
    char *names_buf = NULL, *names[SCALPEL_NET_MAX_LAYERS + 1], *wnames[SCALPEL_NET_MAX_LAYERS + 1];
    char *bnames[SCALPEL_NET_MAX_LAYERS + 1];
    char (*pre)[128] = NULL, (*bpre)[128] = NULL, list[600];
    float bn_eps[SCALPEL_NET_MAX_LAYERS];
    unsigned char *data = NULL;
    size_t size = 0, hlen = 0;
    double tol = 1e-4;
    scalpel_net net;
    scalpel_input_norm norm;
    st_names tensors;
    scalpel_status st;
    const char *kind, *hdr;
    int32_t n_bpre = 0, n_unused = 0, n_wnames = 0, k;

    memset(&net, 0, sizeof net);
    memset(&tensors, 0, sizeof tensors);
    /* --check IN.npy OUT.npy takes two values: taken out before the common parser */
    for (i = 0; i < n; i++) {
        if (strcmp(args[i], "--check") == 0) {
            if (check_in != NULL) return usage_error("import-safetensors", "--check given twice");
            if (i + 2 >= n || args[i + 1][0] == '-' || args[i + 2][0] == '-')
                return usage_error("import-safetensors", "--check takes IN.npy OUT.npy");
            check_in = args[i + 1];
            check_out = args[i + 2];
            i += 2;
        } else {
            if (n_rest >= (int)(sizeof rest / sizeof rest[0])) return usage_error("import-safetensors", "too many arguments");
            rest[n_rest++] = args[i];
        }
    }
    rc = parse_args("import-safetensors", n_rest, rest, opts, 8, pos, 1, 1, &n_pos);
    if (rc != 0) return rc;
    if (opts[3].value != NULL) {
        char *end = NULL;
        errno = 0;
        tol = strtod(opts[3].value, &end);
        if (end == opts[3].value || *end != '\0' || errno == ERANGE || !(tol >= 0.0 && tol <= 1.0))
            return usage_error("import-safetensors", "--tolerance %s: a number from 0 to 1 (relative to the largest "
                               "reference output)", opts[3].value);
        if (check_in == NULL) return usage_error("import-safetensors", "--tolerance goes with --check IN.npy OUT.npy");
    }
    if (opts[0].value == NULL) return usage_error("import-safetensors", "--arch SPEC is required");
    if (opts[2].value == NULL) return usage_error("import-safetensors", "-o MODEL is required");
    if (build_from_spec(opts[0].value, 0, bn_eps, &net) != 0) return 1;
    if ((rc = parse_norm(opts[5].value, opts[6].value, opts[7].value, net.in_c, &norm)) != 0) goto done;
    if (norm.channels > 0 && !norm_folds(&net, &norm)) { /* again, with the batchnorm that does it first */
        norm_layer = 1;
        scalpel_net_free(&net);
        if (build_from_spec(opts[0].value, 1, bn_eps, &net) != 0) return 1;
    }
    for (i = norm_layer; i < net.n_layers; i++) {
        n_weighted += is_weighted(&net.layers[i]);
        n_bn += net.layers[i].geom.kind == SCALPEL_LAYER_BATCHNORM;
    }
    rc = 1;
    if (n_weighted == 0) {
        fail("--arch '%s': no fc or conv layer to import weights into", opts[0].value);
        goto done;
    }
    if (opts[1].value != NULL) {
        char *p;
        names_buf = (char *)malloc(strlen(opts[1].value) + 1);
        if (names_buf == NULL) {
            fail("out of memory");
            goto done;
        }
        strcpy(names_buf, opts[1].value);
        for (p = names_buf;;) {
            char *comma = strchr(p, ',');
            if (comma != NULL) *comma = '\0';
            if (*p == '\0') {
                fail("--names '%s': name %d is empty", opts[1].value, n_names + 1);
                goto done;
            }
            if (n_names >= SCALPEL_NET_MAX_LAYERS) {
                fail("--names '%s': more than %d names", opts[1].value, SCALPEL_NET_MAX_LAYERS);
                goto done;
            }
            names[n_names++] = p;
            if (comma == NULL) break;
            p = comma + 1;
        }
        if (n_names != n_weighted + n_bn) {
            fail("--names '%s': %d name%s for %d weighted layer%s%s in --arch", opts[1].value, n_names,
                 n_names == 1 ? "" : "s", n_weighted, n_weighted == 1 ? "" : "s", n_bn ? " and batch norms" : "");
            goto done;
        }
    }
    if (read_whole_file(pos[0], &data, &size) != 0) goto done;
    kind = torch_file_kind(data, size);
    if (kind != NULL) {
        fail("%s is %s, not a safetensors file. Save the weights with safetensors "
             "(safetensors.torch.save_file(model.state_dict(), \"model.safetensors\")), or convert the model itself "
             "with `python3 -m scalpel convert-torch` (python/: BatchNorm, pooling, joins and more)", pos[0], kind);
        goto done;
    }
    hdr = st_header(data, size, &hlen);
    if (hdr != NULL && st_header_has(hdr, hlen, ".weight_orig\"") && st_header_has(hdr, hlen, ".weight_mask\"")) {
        fail("%s holds *.weight_orig and *.weight_mask tensors: the model was saved while torch.nn.utils.prune still "
             "had its masks attached. Call prune.remove(module, \"weight\") on every pruned module (the zeros stay in "
             "the weights), then save again", pos[0]);
        goto done;
    }
    if (st_names_list(pos[0], data, size, &tensors) != 0) goto done;
    pre = (char (*)[128])calloc(SCALPEL_NET_MAX_LAYERS, 128);
    bpre = (char (*)[128])calloc(SCALPEL_NET_MAX_LAYERS, 128);
    if (pre == NULL || bpre == NULL) {
        fail("out of memory");
        goto done;
    }
    /* the file's batch norms: prefixes with running statistics */
    n_bpre = prefixes_of(&tensors, ".running_mean", bpre, SCALPEL_NET_MAX_LAYERS, NULL, 0);
    if (n_bpre > 0 && n_bn == 0) {
        fail("%s: %s look%s like BatchNorm (running statistics), and --arch has no bn layer to take %s. Add `bn` "
             "after the layer each one normalizes (e.g. 1x28x28,conv:20:5,bn,relu,...): it is folded into that "
             "layer when nothing comes between them, else kept as a layer. Or convert the model with "
             "`python3 -m scalpel convert-torch`", pos[0], name_list(bpre, n_bpre, ".*", list, sizeof list),
             n_bpre == 1 ? "s" : "", n_bpre == 1 ? "it" : "them");
        goto done;
    }
    /* the prefix each weighted layer (wnames) and each batch norm (bnames) takes, in layer order */
    if (opts[1].value != NULL) {
        int32_t w = 0, b = 0;
        for (i = norm_layer, k = 0; i < net.n_layers; i++) {
            if (is_weighted(&net.layers[i])) wnames[w++] = names[k++];
            else if (net.layers[i].geom.kind == SCALPEL_LAYER_BATCHNORM) bnames[b++] = names[k++];
        }
        for (k = 0; k < b; k++)
            if (st_names_find(&tensors, bnames[k], ".running_mean") < 0 || st_names_find(&tensors, bnames[k], ".running_var") < 0) {
                fail("%s: --names gives '%s' to bn layer %d, but the file has no %s.running_mean and %s.running_var",
                     pos[0], bnames[k], (int)k + 1, bnames[k], bnames[k]);
                goto done;
            }
        n_wnames = w;
    } else if (n_bn > 0) {
        int32_t n_w = prefixes_of(&tensors, ".weight", pre, SCALPEL_NET_MAX_LAYERS, bpre, n_bpre);
        if (n_bpre != n_bn) {
            fail("%s: %d batch norm%s in the file (%s) for %d bn layer%s in --arch", pos[0], (int)n_bpre,
                 n_bpre == 1 ? "" : "s", name_list(bpre, n_bpre, "", list, sizeof list), n_bn, n_bn == 1 ? "" : "s");
            goto done;
        }
        if (n_w != n_weighted) {
            fail("%s: %d *.weight tensor%s besides the batch norms' (%s) for %d weighted layer%s in --arch; "
                 "--names P1,P2,... picks them", pos[0], (int)n_w, n_w == 1 ? "" : "s",
                 name_list(pre, n_w, ".weight", list, sizeof list), n_weighted, n_weighted == 1 ? "" : "s");
            goto done;
        }
        for (k = 0; k < n_w; k++) wnames[k] = pre[k];
        for (k = 0; k < n_bpre; k++) bnames[k] = bpre[k];
        n_wnames = n_w;
    }
    if (n_wnames > 0 && check_tensors(pos[0], data, size, &net, wnames) != 0) goto done;
    st = scalpel_net_import_safetensors(&net, data, size, n_wnames > 0 ? (const char *const *)wnames : NULL,
                                        n_wnames);
    if (st == SCALPEL_ERR_UNSUPPORTED && hdr != NULL) {
        char dt[16];
        st_unsupported_dtype(hdr, hlen, dt);
        if (dt[0] != '\0') {
            fail("%s: a tensor has dtype %s; import takes F32, F16 and BF16 (save the model after model.float(), "
                 "or .half())", pos[0], dt);
            goto done;
        }
    }
    if (st != SCALPEL_OK) {
        fail("%s: cannot import into --arch '%s': %s%s", pos[0], opts[0].value, scalpel_status_string(st),
             n_names > 0 || (st != SCALPEL_ERR_ARGUMENT && st != SCALPEL_ERR_SHAPE) ? ""
             : " (without --names, the file's *.weight tensors in natural name order must match the weighted "
               "layers one to one, shapes included; --names P1,P2,... picks them)");
        goto done;
    }
    /* the tensors taken: each weighted layer's weight and bias, each batch norm's five */
    if (n_wnames > 0) {
        for (k = 0; k < n_wnames; k++) {
            st_names_use(&tensors, wnames[k], ".weight");
            st_names_use(&tensors, wnames[k], ".bias");
        }
    } else {
        int32_t n_w = prefixes_of(&tensors, ".weight", pre, SCALPEL_NET_MAX_LAYERS, NULL, 0);
        for (k = 0; k < n_w && k < SCALPEL_NET_MAX_LAYERS; k++) {
            st_names_use(&tensors, pre[k], ".weight");
            st_names_use(&tensors, pre[k], ".bias");
        }
    }
    for (i = norm_layer, k = 0; i < net.n_layers; i++) {
        static const char *const bn_suffix[5] = { ".weight", ".bias", ".running_mean", ".running_var",
                                                  ".num_batches_tracked" };
        int q;
        if (net.layers[i].geom.kind != SCALPEL_LAYER_BATCHNORM) continue;
        if (fill_batchnorm(pos[0], data, size, bnames[k], bn_eps[i], &net.layers[i]) != 0) goto done;
        for (q = 0; q < 5; q++) st_names_use(&tensors, bnames[k], bn_suffix[q]);
        k++;
    }
    for (k = 0; k < tensors.n; k++) n_unused += !tensors.used[k];
    if (n_unused > 0) {
        char (*unused)[128] = pre; /* reused: the prefixes are no longer needed */
        int32_t u = 0;
        for (k = 0; k < tensors.n && u < 4; k++)
            if (!tensors.used[k]) memcpy(unused[u++], tensors.name[k], 128);
        name_list(unused, n_unused, "", list, sizeof list);
        if (!opts[4].seen) {
            fail("%s: %d tensor%s the import does not use: %s. A layer missing from --arch (or --names) leaves a "
                 "model that computes something else; --allow-unused imports anyway", pos[0], (int)n_unused,
                 n_unused == 1 ? "" : "s", list);
            goto done;
        }
        fprintf(stderr, "scalpel: warning: %s: %d tensor%s not used (--allow-unused): %s\n", pos[0], (int)n_unused,
                n_unused == 1 ? "" : "s", list);
    }
    if (n_bn > 0) {
        scalpel_net folded;
        int32_t n_folded = 0;
        st = scalpel_net_fold_batchnorm(&net, &folded, &n_folded);
        if (st != SCALPEL_OK) {
            fail("%s: folding the batch norms: %s", pos[0], scalpel_status_string(st));
            goto done;
        }
        scalpel_net_free(&net);
        net = folded;
        printf("batch norm: %d of %d folded into the conv or fc before it%s\n", (int)n_folded, n_bn,
               n_folded < n_bn ? "; the others stay layers (something comes between, e.g. a relu)" : "");
    }
    if (norm.channels > 0) {
        if (apply_norm(&net, &norm) != 0) goto done;
        print_input_norm(&net);
    }
    if (check_in != NULL && import_check(&net, check_in, check_out, tol) != 0) goto done;
    st = save_net(&net, opts[2].value);
    if (st != SCALPEL_OK) {
        fail("%s: cannot save the model: %s", opts[2].value, scalpel_status_string(st));
        goto done;
    }
    printf("imported %s (%zu bytes) as %d layers, %d weighted, %zu weight bytes -> %s\n", pos[0], size,
           (int)net.n_layers, n_weighted, scalpel_net_weight_bytes(&net), opts[2].value);
    rc = 0;
done:
    st_names_free(&tensors);
    free(pre);
    free(bpre);
    free(names_buf);
    free(data);
    scalpel_net_free(&net);
    return rc;
}

/* ---- bench ------------------------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median over `repeat` samples of the time of one forward pass; each sample repeats the pass
 * until it lasts at least a millisecond. samples holds `repeat` doubles. */
static double time_forward(const scalpel_net *net, const float *in, int32_t batch, float *out, void *ws,
                           int32_t repeat, double *samples)
{
    long iters = 1, k;
    int32_t r;
    double t;
    for (;;) {
        t = now_seconds();
        for (k = 0; k < iters; k++) (void)scalpel_net_forward(net, in, batch, out, ws);
        t = now_seconds() - t;
        if (t >= 1e-3 || iters >= (1L << 20)) break;
        iters *= 2;
    }
    for (r = 0; r < repeat; r++) {
        t = now_seconds();
        for (k = 0; k < iters; k++) (void)scalpel_net_forward(net, in, batch, out, ws);
        samples[r] = (now_seconds() - t) / (double)iters;
    }
    qsort(samples, (size_t)repeat, sizeof(double), cmp_double);
    return repeat % 2 ? samples[repeat / 2] : 0.5 * (samples[repeat / 2 - 1] + samples[repeat / 2]);
}

/* Buffers for timing one network at one batch: input (random), output, workspace. */
typedef struct bench_bufs {
    float *in, *out;
    void *ws;
} bench_bufs;

static void bench_bufs_free(bench_bufs *b)
{
    free(b->in);
    free(b->out);
    free(b->ws);
    memset(b, 0, sizeof *b);
}

static int bench_bufs_alloc(const scalpel_net *net, int32_t batch, bench_bufs *b)
{
    size_t n_in = (size_t)scalpel_net_input_size(net) * (size_t)batch, i;
    size_t n_out = (size_t)scalpel_net_output_size(net) * (size_t)batch;
    size_t ws = scalpel_net_workspace_size(net, batch);
    memset(b, 0, sizeof *b);
    if (n_in == 0 || n_out == 0 || ws == 0) return fail("--batch %d: the buffers for this model would not fit", (int)batch);
    b->in = (float *)malloc(n_in * sizeof(float));
    b->out = (float *)malloc(n_out * sizeof(float));
    b->ws = malloc(ws);
    if (b->in == NULL || b->out == NULL || b->ws == NULL) {
        bench_bufs_free(b);
        return fail("--batch %d: out of memory for the input, output and workspace", (int)batch);
    }
    for (i = 0; i < n_in; i++) b->in[i] = uniform();
    return 0;
}

/* Seconds per forward pass, averaged over `iters` passes. */
static double forward_sample(const scalpel_net *net, const bench_bufs *b, int32_t batch, long iters)
{
    long k;
    double t = now_seconds();
    for (k = 0; k < iters; k++) (void)scalpel_net_forward(net, b->in, batch, b->out, b->ws);
    return (now_seconds() - t) / (double)iters;
}

/* Iterations of one forward pass that make a timing sample last at least a millisecond (at most
 * 2^20): long enough that the clock's resolution and the loop around it do not count, short
 * enough that a scheduler time slice given to another job shows as a sample that stands out.
 * Each count is judged by the faster of two runs, so that a burst of load during calibration
 * does not leave the samples short. Doubling from 1 also warms the caches first. */
static long forward_iters(const scalpel_net *net, const bench_bufs *b, int32_t batch)
{
    long iters = 1;
    for (;;) {
        double t = fmin(forward_sample(net, b, batch, iters), forward_sample(net, b, batch, iters));
        if (t * (double)iters >= 1e-3 || iters >= (1L << 20)) return iters;
        iters *= 2;
    }
}

/* CPU time of this process in seconds (bench is single-threaded), to tell how much of the time
 * it was timing it actually ran. */
static double cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return -1.0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The spread of one variant's samples, in seconds per forward pass. */
typedef struct bench_stats {
    double min, median, max;
} bench_stats;

/* Sorts samples[n] (n >= 1). */
static bench_stats bench_stats_of(double *samples, int32_t n)
{
    bench_stats s;
    qsort(samples, (size_t)n, sizeof(double), cmp_double);
    s.min = samples[0];
    s.max = samples[n - 1];
    s.median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
    return s;
}

/* When bench warns that its timings are unreliable (either rule):
 * - it had the CPU for less than BENCH_MIN_CPU_SHARE of the wall-clock time it spent timing the
 *   whole network: alone on a core a single-threaded loop gets over 99% (timer interrupts, kernel
 *   threads); sharing its core with one busy job it gets about half. Steady sharing in short
 *   turns slows every sample alike and need not widen the spread; it always shows here.
 * - BENCH_SLOW_SAMPLES or more whole-network samples last over BENCH_SLOW_FACTOR times the
 *   fastest sample of their version: on an idle core samples of a millisecond or more vary by a
 *   few percent, while losing the core to another job for a scheduler time slice (a millisecond
 *   or more) makes one last half as long again or more; bursts of load on other cores (memory
 *   bandwidth, a shared cache, the other hyperthread) show here too. One stray interruption does
 *   not move a median, so it takes two. */
#define BENCH_MIN_CPU_SHARE 0.9
#define BENCH_SLOW_FACTOR 1.5
#define BENCH_SLOW_SAMPLES 2

static int32_t bench_slow_samples(const double *sorted, int32_t n)
{
    int32_t i, slow = 0;
    for (i = 0; i < n; i++) slow += sorted[i] > BENCH_SLOW_FACTOR * sorted[0];
    return slow;
}

/* Times a and b interleaved: round r runs one sample of each, a first in even rounds and b first
 * in odd ones, so that a burst of load from another job hits both alike and neither always runs
 * on caches the other has just warmed. The iteration count of each is calibrated once, before
 * the rounds. Fills sa[repeat] and sb[repeat], sorted, and their spreads. */
static void time_pair(const scalpel_net *a, const bench_bufs *ba, const scalpel_net *b, const bench_bufs *bb,
                      int32_t batch, int32_t repeat, double *sa, double *sb, bench_stats *stats_a, bench_stats *stats_b)
{
    long ia = forward_iters(a, ba, batch), ib = forward_iters(b, bb, batch);
    int32_t r;
    for (r = 0; r < repeat; r++) {
        if (r % 2 == 0) {
            sa[r] = forward_sample(a, ba, batch, ia);
            sb[r] = forward_sample(b, bb, batch, ib);
        } else {
            sb[r] = forward_sample(b, bb, batch, ib);
            sa[r] = forward_sample(a, ba, batch, ia);
        }
    }
    *stats_a = bench_stats_of(sa, repeat);
    *stats_b = bench_stats_of(sb, repeat);
}

/* max / min: how much the samples of one variant vary (1 when they agree). */
static double bench_vary(bench_stats s)
{
    return s.min > 0.0 ? s.max / s.min : 1.0;
}

/* (max - min) / min in percent, the spread column of the table. */
static double spread_percent(bench_stats s)
{
    return 100.0 * (bench_vary(s) - 1.0);
}

static int cmd_bench(int n, char **args)
{
    cli_opt opts[2] = { { "--batch", NULL, 1, NULL, 0 }, { "--repeat", NULL, 1, NULL, 0 } };
    const char *pos[MAX_POSITIONAL];
    int n_pos, rc;
    int32_t batch = 1, repeat = 9, i, slow;
    int sw = 10;
    scalpel_net net, dense;
    scalpel_hw_profile hw;
    scalpel_plan plan;
    scalpel_status st;
    bench_bufs bs, bd;
    bench_stats w_stored, w_dense, worst;
    double wall, cpu, share, *samples = NULL, max_diff = 0.0, max_out = 0.0, sum_s = 0.0, sum_d = 0.0;
    size_t k, n_out;
    char s1[32], s2[32];

    rc = parse_args("bench", n, args, opts, 2, pos, 1, 1, &n_pos);
    if (rc != 0) return rc;
    if (opts[0].value != NULL && (rc = parse_int("bench", "--batch", opts[0].value, 1, 65536, &batch)) != 0) return rc;
    if (opts[1].value != NULL && (rc = parse_int("bench", "--repeat", opts[1].value, 1, 1000, &repeat)) != 0)
        return rc;
    memset(&bs, 0, sizeof bs);
    memset(&bd, 0, sizeof bd);
    if (load_model(pos[0], &net) != 0) return 1;
    if (load_model(pos[0], &dense) != 0) {
        scalpel_net_free(&net);
        return 1;
    }
    rc = 1;
    st = scalpel_hw_profile_host(&hw);
    if (st == SCALPEL_OK) st = all_dense_plan(&dense, &hw, &plan); /* HYBRID and TASD layers too */
    if (st == SCALPEL_OK) st = scalpel_net_pack(&dense, &plan);
    if (st != SCALPEL_OK) {
        fail("%s: cannot build the dense version: %s", pos[0], scalpel_status_string(st));
        goto done;
    }
    samples = (double *)malloc((size_t)repeat * 2 * sizeof(double));
    if (samples == NULL) {
        fail("out of memory");
        goto done;
    }
    if (bench_bufs_alloc(&net, batch, &bs) != 0 || bench_bufs_alloc(&dense, batch, &bd) != 0) goto done;
    memcpy(bd.in, bs.in, (size_t)scalpel_net_input_size(&net) * (size_t)batch * sizeof(float));

    /* the two versions must compute the same outputs before their times mean anything */
    st = scalpel_net_forward(&net, bs.in, batch, bs.out, bs.ws);
    if (st == SCALPEL_OK) st = scalpel_net_forward(&dense, bd.in, batch, bd.out, bd.ws);
    if (st != SCALPEL_OK) {
        fail("%s: forward pass failed: %s", pos[0], scalpel_status_string(st));
        goto done;
    }
    n_out = (size_t)scalpel_net_output_size(&net) * (size_t)batch;
    for (k = 0; k < n_out; k++) {
        max_diff = fmax(max_diff, fabs((double)bs.out[k] - bd.out[k]));
        max_out = fmax(max_out, fabs((double)bd.out[k]));
    }

    /* the whole network first: the warning below is about these samples */
    cpu = cpu_seconds();
    wall = now_seconds();
    time_pair(&net, &bs, &dense, &bd, batch, repeat, samples, samples + repeat, &w_stored, &w_dense);
    wall = now_seconds() - wall;
    cpu = cpu_seconds() - cpu;
    share = cpu >= 0.0 && wall > 0.0 ? fmin(cpu / wall, 1.0) : 1.0;  /* 1: unknown, judged by the spread only */
    slow = bench_slow_samples(samples, repeat) + bench_slow_samples(samples + repeat, repeat);
    worst = bench_vary(w_stored) >= bench_vary(w_dense) ? w_stored : w_dense;

    printf("%s: batch %d, %d rounds timing the stored and the dense version alternately, kernels %s\n", pos[0],
           (int)batch, (int)repeat, scalpel_kernels_backend());
    if (net.packed_batch > 0)
        printf("packed for batch %d%s\n", (int)net.packed_batch,
               net.packed_batch != batch ? "; timed at another batch (--batch N times at N)" : "");
    printf("weight bytes: stored %zu, dense %zu (%.1f%%); max |stored - dense| output difference %.3g\n",
           scalpel_net_weight_bytes(&net), scalpel_net_weight_bytes(&dense),
           percent((double)scalpel_net_weight_bytes(&net), (double)scalpel_net_weight_bytes(&dense)), max_diff);
    for (i = 0; i < net.n_layers; i++) { /* the stored column fits the longest storage ("hybrid G=8 + csr") */
        int len = (int)strlen(layer_storage_text(&net.layers[i], s1, sizeof s1));
        if (len > sw) sw = len;
    }
    printf("%3s  %-8s %-*s %-10s %14s %7s %14s %7s %9s\n", "#", "kind", sw, "stored", "dense", "stored (us)", "spread",
           "dense (us)", "spread", "speed-up");
    for (i = 0; i < net.n_layers && i < dense.n_layers; i++) {
        scalpel_net vs, vd;
        scalpel_layer room_s, room_d;
        bench_bufs ls, ld;
        bench_stats ts, td;
        scalpel_status vst = layer_view(&net.layers[i], &room_s, &vs);
        if (vst == SCALPEL_OK) vst = layer_view(&dense.layers[i], &room_d, &vd);
        if (vst == SCALPEL_ERR_UNSUPPORTED) { /* a concat of unequal parts: in the whole pass only */
            printf("%3d  %-8s %-*s %-10s %14s %7s %14s %7s %9s  (runs only inside the network)\n", (int)i,
                   scalpel_layer_kind_name(net.layers[i].geom.kind), sw, "-", "-", "-", "", "-", "", "-");
            continue;
        }
        if (vst != SCALPEL_OK) {
            fail("%s: layer %d: cannot make a one-layer view (%s)", pos[0], (int)i, scalpel_status_string(vst));
            goto done;
        }
        if (bench_bufs_alloc(&vs, batch, &ls) != 0) goto done;
        if (bench_bufs_alloc(&vd, batch, &ld) != 0) {
            bench_bufs_free(&ls);
            goto done;
        }
        time_pair(&vs, &ls, &vd, &ld, batch, repeat, samples, samples + repeat, &ts, &td);
        bench_bufs_free(&ls);
        bench_bufs_free(&ld);
        sum_s += ts.median;
        sum_d += td.median;
        printf("%3d  %-8s %-*s %-10s %14.2f %6.0f%% %14.2f %6.0f%% %8.2fx\n", (int)i,
               scalpel_layer_kind_name(net.layers[i].geom.kind), sw, layer_storage_text(&net.layers[i], s1, sizeof s1),
               layer_storage_text(&dense.layers[i], s2, sizeof s2), ts.median * 1e6, spread_percent(ts),
               td.median * 1e6, spread_percent(td), ts.median > 0.0 ? td.median / ts.median : 0.0);
    }
    printf("     %-*s %14.2f %7s %14.2f %7s %8.2fx\n", 20 + sw, "sum of layers", sum_s * 1e6, "", sum_d * 1e6, "",
           sum_s > 0.0 ? sum_d / sum_s : 0.0);
    printf("     %-*s %14.2f %6.0f%% %14.2f %6.0f%% %8.2fx\n", 20 + sw, "whole forward pass", w_stored.median * 1e6,
           spread_percent(w_stored), w_dense.median * 1e6, spread_percent(w_dense),
           w_stored.median > 0.0 ? w_dense.median / w_stored.median : 0.0);
    printf("whole forward pass (us)    %12s %12s %12s\n", "min", "median", "max");
    printf("  %-24s %12.2f %12.2f %12.2f\n", "stored", w_stored.min * 1e6, w_stored.median * 1e6, w_stored.max * 1e6);
    printf("  %-24s %12.2f %12.2f %12.2f\n", "dense", w_dense.min * 1e6, w_dense.median * 1e6, w_dense.max * 1e6);
    printf("speed-up (dense median / stored median): %.2fx\n",
           w_stored.median > 0.0 ? w_dense.median / w_stored.median : 0.0);
    fflush(stdout);
    if (slow >= BENCH_SLOW_SAMPLES || share < BENCH_MIN_CPU_SHARE)
        fprintf(stderr,
                "warning: timings vary by %.1fx (min %.2f us .. max %.2f us); another job may be running: results are "
                "unreliable (%d of %d whole-pass samples over %.1fx the fastest; bench had the CPU %.0f%% of the "
                "time)\n",
                bench_vary(worst), worst.min * 1e6, worst.max * 1e6, (int)slow, (int)(2 * repeat), BENCH_SLOW_FACTOR,
                100.0 * share);
    if (max_diff > 1e-3 * (1.0 + max_out)) {
        fail("%s: the stored and dense versions disagree (max difference %.3g)", pos[0], max_diff);
        goto done;
    }
    rc = 0;
done:
    bench_bufs_free(&bs);
    bench_bufs_free(&bd);
    free(samples);
    scalpel_net_free(&net);
    scalpel_net_free(&dense);
    return rc;
}

/* ---- pack: each sparse layer against dense, on this machine -------------------------------- */

/* pack --hw host promises no layer slower than dense on the machine it measured: each layer
 * the plan made sparse is timed against its dense version (interleaved, median of
 * PACK_VERIFY_ROUNDS samples of a millisecond or more each, at the plan's batch) and goes back
 * to dense unless it is faster. dense is the network before packing, packed dense. Prints one
 * line per layer timed; *changed tells whether the plan changed (pack again). */
#define PACK_VERIFY_ROUNDS 7
static int32_t first_sparse(const scalpel_net *net)
{
    int32_t i;
    for (i = 0; i < net->n_layers; i++)
        if (is_weighted(&net->layers[i]) && net->layers[i].storage != SCALPEL_STORAGE_DENSE) return i;
    return -1;
}

static int verify_packed_layers(const scalpel_net *packed, const scalpel_net *dense, scalpel_plan *plan, int *changed)
{
    int32_t i, batch = plan->hw.batch;
    double sa[PACK_VERIFY_ROUNDS], sb[PACK_VERIFY_ROUNDS];
    char s1[32];
    *changed = 0;
    for (i = 0; i < packed->n_layers && i < dense->n_layers; i++) {
        scalpel_net vs, vd;
        scalpel_layer room_s, room_d;
        bench_bufs bs, bd;
        bench_stats ts, td;
        if (!is_weighted(&packed->layers[i]) || packed->layers[i].storage == SCALPEL_STORAGE_DENSE) continue;
        if (!*changed && i == first_sparse(packed)) printf("timing each sparse layer against dense on this machine:\n");
        if (layer_view(&packed->layers[i], &room_s, &vs) != SCALPEL_OK || layer_view(&dense->layers[i], &room_d, &vd) != SCALPEL_OK)
            return fail("layer %d: cannot make a one-layer view", (int)i);
        if (bench_bufs_alloc(&vs, batch, &bs) != 0) return 1;
        if (bench_bufs_alloc(&vd, batch, &bd) != 0) {
            bench_bufs_free(&bs);
            return 1;
        }
        time_pair(&vs, &bs, &vd, &bd, batch, PACK_VERIFY_ROUNDS, sa, sb, &ts, &td);
        bench_bufs_free(&bs);
        bench_bufs_free(&bd);
        printf("  layer %d: %s %.2f us, dense %.2f us (median of %d, batch %d): %s\n", (int)i,
               layer_storage_text(&packed->layers[i], s1, sizeof s1), ts.median * 1e6, td.median * 1e6,
               PACK_VERIFY_ROUNDS, (int)batch, ts.median < td.median ? "kept" : "slower here: dense instead");
        if (ts.median >= td.median) {
            plan->layers[i].storage = SCALPEL_STORAGE_DENSE;
            plan->layers[i].group = 0;
            *changed = 1;
        }
    }
    return 0;
}

/* ---- plan --no-retrain ------------------------------------------------------------------- */

/* The datasets' pixels are in [0, 1]; a model that records raw inputs in [0, range]
 * (scalpel_input_norm, e.g. bytes: 255) gets them scaled to it, and the model's own layers
 * normalize them as training did. Says so. */
static int scale_to_input_range(const scalpel_net *net, scalpel_dataset *a, scalpel_dataset *b)
{
    float r = net->input_norm.range;
    size_t i, n;
    print_input_norm(net);
    if (net->input_norm.where == SCALPEL_INPUT_NORM_NONE || r == 1.0f) return 0;
    n = (size_t)a->n * (size_t)a->c * (size_t)a->h * (size_t)a->w;
    for (i = 0; i < n; i++) a->x[i] *= r;
    n = (size_t)b->n * (size_t)b->c * (size_t)b->h * (size_t)b->w;
    for (i = 0; i < n; i++) b->x[i] *= r;
    printf("data: pixels in [0, 1] scaled to the model's raw input range [0, %g]\n", (double)r);
    return 0;
}

/* The planning samples and the report samples: MNIST (train split for planning, test split for
 * the report) from --data, $SCALPEL_MNIST_DIR or ../shared/data/mnist, or the built-in
 * synthetic digits (two different seeds) with --synthetic. */
static int nr_data(const scalpel_net *net, const char *dir, int synthetic, int32_t samples,
                   scalpel_dataset *plan_set, scalpel_dataset *test_set)
{
    scalpel_status st;
    if (synthetic) {
        st = scalpel_dataset_synthetic(samples, 1, plan_set);
        if (st == SCALPEL_OK) st = scalpel_dataset_synthetic(2000, 2, test_set);
        if (st != SCALPEL_OK) return fail("synthetic data: %s", scalpel_status_string(st));
        return scale_to_input_range(net, plan_set, test_set);
    }
    if (dir == NULL) dir = getenv(SCALPEL_DATASET_MNIST_ENV);
    if (dir == NULL) dir = "../shared/data/mnist";
    st = scalpel_dataset_mnist(dir, 1, plan_set);
    if (st == SCALPEL_OK) st = scalpel_dataset_mnist(dir, 0, test_set);
    if (st != SCALPEL_OK) {
        scalpel_dataset_free(plan_set);
        return fail("MNIST in '%s': %s%s\n%s", dir, scalpel_status_string(st),
                    st == SCALPEL_ERR_UNSUPPORTED ? " (gzip'd files need a build with -DSCALPEL_ZLIB -lz, or gunzip them)" : "",
                    scalpel_dataset_mnist_help());
    }
    if (plan_set->n > samples) plan_set->n = samples;   /* the first `samples` training images */
    return scale_to_input_range(net, plan_set, test_set);
}

static int32_t *nr_labels(const scalpel_dataset *ds)
{
    int32_t *l = (int32_t *)malloc((size_t)(ds->n > 0 ? ds->n : 1) * sizeof(int32_t)), i;
    if (l != NULL)
        for (i = 0; i < ds->n; i++) l[i] = ds->y[i];
    return l;
}

static const char *nr_form_name(const scalpel_nr_candidate *c, char *buf, size_t size)
{
    switch (c->form) {
    case SCALPEL_NR_DENSE: snprintf(buf, size, "dense"); break;
    case SCALPEL_NR_GROUPED:
        if (c->group == 1) snprintf(buf, size, "csr");
        else snprintf(buf, size, "gcsr G=%d", (int)c->group);
        break;
    case SCALPEL_NR_HYBRID: snprintf(buf, size, "hybrid G=%d", (int)c->group); break;
    default: {
        char s[32];
        scalpel_tasd_spec_string(&c->spec, s, sizeof s);
        snprintf(buf, size, "tasd %s", s);
    }
    }
    return buf;
}

/* plan --no-retrain -o OUT: the planned network as a model file (version 4 when a layer is
 * HYBRID or TASD). Serialized to memory first, read back and run on the report samples ds, whose
 * outputs must be planned's bit for bit (what the report measured); only then saved, through a
 * temporary file renamed over OUT, so OUT may be MODEL itself (read whole before) and a failure
 * leaves any existing OUT as it was. Returns 0, or 1 after a message. */
static int nr_save(const scalpel_net *planned, const scalpel_dataset *ds, const char *path)
{
    enum { B = 100 };
    size_t size = scalpel_net_serialized_size(planned), written = 0, ws = scalpel_net_workspace_size(planned, B);
    int32_t in = scalpel_net_input_size(planned), outn = scalpel_net_output_size(planned), s;
    unsigned char *file = (unsigned char *)malloc(size ? size : 1);
    float *ya = (float *)malloc((size_t)B * (size_t)outn * sizeof(float));
    float *yb = (float *)malloc((size_t)B * (size_t)outn * sizeof(float));
    void *work = malloc(ws ? ws : 1);
    int differ = 0, rc = 1;
    scalpel_net back;
    scalpel_status st = SCALPEL_OK;
    memset(&back, 0, sizeof back);
    if (size == 0 || ws == 0) st = SCALPEL_ERR_OVERFLOW;
    else if (file == NULL || ya == NULL || yb == NULL || work == NULL) st = SCALPEL_ERR_NO_MEMORY;
    if (st == SCALPEL_OK) st = scalpel_net_serialize(planned, file, size, &written);
    if (st == SCALPEL_OK) st = scalpel_net_load_buffer(file, written, &back);
    if (st == SCALPEL_OK && scalpel_net_workspace_size(&back, B) > ws) st = SCALPEL_ERR_SHAPE;
    for (s = 0; st == SCALPEL_OK && !differ && s < ds->n; s += B) {
        int32_t nb = ds->n - s < B ? ds->n - s : B;
        const float *x = ds->x + (size_t)s * (size_t)in;
        st = scalpel_net_forward(planned, x, nb, ya, work);
        if (st == SCALPEL_OK) st = scalpel_net_forward(&back, x, nb, yb, work);
        if (st == SCALPEL_OK) differ = memcmp(ya, yb, (size_t)nb * (size_t)outn * sizeof(float)) != 0;
    }
    if (st == SCALPEL_OK && !differ) st = save_net(planned, path);
    if (st != SCALPEL_OK) {
        fail("%s: cannot save the planned model: %s", path, scalpel_status_string(st));
    } else if (differ) {
        fail("%s: not written: read back from its model file, the planned network computes other outputs", path);
    } else {
        printf("wrote %s: the planned network, model file version %d, %zu bytes; read back, it computes the "
               "planned outputs bit for bit on the %d test samples\n", path, (int)file[4], written, (int)ds->n);
        rc = 0;
    }
    scalpel_net_free(&back);
    free(file);
    free(ya);
    free(yb);
    free(work);
    return rc;
}

static int cmd_plan_no_retrain(int n, char **args)
{
    cli_opt opts[10] = { { "--no-retrain", NULL, 0, NULL, 0 }, { "--hw", NULL, 1, NULL, 0 },
                         { "--data", NULL, 1, NULL, 0 },       { "--synthetic", NULL, 0, NULL, 0 },
                         { "--budget", NULL, 1, NULL, 0 },     { "--samples", NULL, 1, NULL, 0 },
                         { "--exact", NULL, 0, NULL, 0 },      { "--repeat", NULL, 1, NULL, 0 },
                         { "--against", NULL, 1, NULL, 0 },    { "--output", "-o", 1, NULL, 0 } };
    const char *pos[MAX_POSITIONAL];
    int n_pos, rc;
    int32_t samples = 2000, repeat = 9, budget_bp = 50, i;
    scalpel_net net, planned, dense, other;
    scalpel_hw_profile hw;
    scalpel_plan dplan;
    scalpel_nr_options o;
    scalpel_nr_plan *plan = NULL;
    scalpel_dataset pset, tset;
    int32_t *plabels = NULL, *tlabels = NULL;
    float acc_given = 0.0f, acc_planned = 0.0f, acc_other = 0.0f;
    double *samp = NULL, *tp = NULL, *tg = NULL, *td = NULL, *to = NULL, t_plan = 0.0;
    bench_bufs bp, bg, bd, bo;
    scalpel_status st;

    rc = parse_args("plan", n, args, opts, 10, pos, 1, 1, &n_pos);
    if (rc != 0) return rc;
    if (opts[2].value != NULL && opts[3].seen) return usage_error("plan", "--data and --synthetic exclude each other");
    if (opts[4].value != NULL) {
        double b;
        char *end;
        errno = 0;
        b = strtod(opts[4].value, &end);
        if (!is_decimal(opts[4].value) || *end != '\0' || errno != 0 || !(b >= 0.0 && b <= 100.0))
            return usage_error("plan", "--budget '%s': expected percentage points from 0 to 100", opts[4].value);
        budget_bp = (int32_t)(b * 100.0 + 0.5);
    }
    if (opts[5].value != NULL && (rc = parse_int("plan", "--samples", opts[5].value, 10, 60000, &samples)) != 0) return rc;
    if (opts[7].value != NULL && (rc = parse_int("plan", "--repeat", opts[7].value, 1, 1000, &repeat)) != 0) return rc;
    if (get_profile(opts[1].value ? opts[1].value : "host", &hw) != 0) return 1;
    memset(&pset, 0, sizeof pset);
    memset(&tset, 0, sizeof tset);
    memset(&bp, 0, sizeof bp);
    memset(&bg, 0, sizeof bg);
    memset(&bd, 0, sizeof bd);
    memset(&bo, 0, sizeof bo);
    memset(&other, 0, sizeof other);
    memset(&planned, 0, sizeof planned);
    memset(&dense, 0, sizeof dense);
    if (load_model(pos[0], &net) != 0) return 1;
    rc = 1;
    if (refuse_decomposed(pos[0], &net, "plan --no-retrain") != 0) goto done;
    if (nr_data(&net, opts[2].value, opts[3].seen, samples, &pset, &tset) != 0) goto done;
    if (pset.c * pset.h * pset.w != scalpel_net_input_size(&net) || pset.classes > scalpel_net_output_size(&net)) {
        fail("%s: the model takes %d inputs and gives %d outputs; the data has %d x %d x %d images of %d classes",
             pos[0], (int)scalpel_net_input_size(&net), (int)scalpel_net_output_size(&net), (int)pset.c, (int)pset.h,
             (int)pset.w, (int)pset.classes);
        goto done;
    }
    plan = (scalpel_nr_plan *)malloc(sizeof *plan);
    plabels = nr_labels(&pset);
    tlabels = nr_labels(&tset);
    samp = (double *)malloc((size_t)repeat * 5 * sizeof(double));
    if (plan == NULL || plabels == NULL || tlabels == NULL || samp == NULL) {
        fail("out of memory");
        goto done;
    }
    tp = samp + repeat;
    tg = tp + repeat;
    td = tg + repeat;
    to = td + repeat;
    if (opts[8].value != NULL) {
        if (load_model(opts[8].value, &other) != 0) goto done;
        if (scalpel_net_input_size(&other) != scalpel_net_input_size(&net) ||
            scalpel_net_output_size(&other) != scalpel_net_output_size(&net)) {
            fail("%s: --against takes a model of the same inputs and outputs as %s", opts[8].value, pos[0]);
            goto done;
        }
    }
    memset(&o, 0, sizeof o);
    o.budget = (float)budget_bp / 10000.0f;
    if (o.budget == 0.0f) o.budget = 1e-9f;     /* 0 points: nothing may be lost (0 means default) */
    o.no_tasd = opts[6].seen;
    t_plan = now_seconds();
    st = scalpel_plan_no_retrain(&net, &hw, pset.x, plabels, pset.n, &o, plan);
    t_plan = now_seconds() - t_plan;
    if (st != SCALPEL_OK) {
        fail("%s: planning without retraining failed: %s", pos[0], scalpel_status_string(st));
        goto done;
    }
    if (load_model(pos[0], &planned) != 0 || load_model(pos[0], &dense) != 0) goto done;
    st = scalpel_net_apply_no_retrain(&planned, plan);
    if (st == SCALPEL_OK) st = scalpel_plan_net(&dense, &hw, SCALPEL_PLAN_DENSE, &dplan);
    if (st == SCALPEL_OK) st = scalpel_net_pack(&dense, &dplan);
    if (st != SCALPEL_OK) {
        fail("%s: applying the plan failed: %s", pos[0], scalpel_status_string(st));
        goto done;
    }
    printf("%s: no-retrain plan for %s (G = %d), kernels %s\n", pos[0], hw.name, (int)hw.group,
           scalpel_kernels_backend());
    printf("planned on %d training samples (errors on the first %d) in %.1f s: tau %.4f, budget %.2f points, %d accuracy evaluations\n",
           (int)pset.n, (int)(pset.n < 256 ? pset.n : 256), t_plan, plan->tau, (double)budget_bp / 100.0,
           (int)plan->evaluations);
    printf("%3s  %-8s %-18s %10s %10s %12s %12s %9s\n", "#", "kind", "chosen", "error", "time (us)", "dense (us)",
           "bytes", "vs dense");
    for (i = 0; i < net.n_layers; i++) {
        const scalpel_nr_layer *l = &plan->layers[i];
        const scalpel_nr_candidate *c, *d;
        char name[64];
        if (l->chosen < 0) continue;
        c = &l->cand[l->chosen];
        d = &l->cand[0];
        printf("%3d  %-8s %-18s %10.4f %10.2f %12.2f %12zu %8.2fx\n", (int)i, scalpel_layer_kind_name(net.layers[i].geom.kind),
               nr_form_name(c, name, sizeof name), c->error, c->seconds * 1e6, d->seconds * 1e6, c->bytes,
               c->seconds > 0.0 ? d->seconds / c->seconds : 0.0);
    }
    {
        /* accuracy on the report set, batch by batch */
        const scalpel_net *nets[3] = { &net, &planned, &other };
        float *accs[3] = { &acc_given, &acc_planned, &acc_other };
        int32_t k;
        for (k = 0; k < (opts[8].value != NULL ? 3 : 2); k++) {
            int32_t outn = scalpel_net_output_size(nets[k]), in = scalpel_net_input_size(nets[k]), s, right = 0, j;
            bench_bufs b;
            if (bench_bufs_alloc(nets[k], 100, &b) != 0) goto done;
            for (s = 0; s < tset.n; s += 100) {
                int32_t nb = tset.n - s < 100 ? tset.n - s : 100;
                (void)scalpel_net_forward(nets[k], tset.x + (size_t)s * (size_t)in, nb, b.out, b.ws);
                for (j = 0; j < nb; j++) right += scalpel_argmax_f32(b.out + (size_t)j * (size_t)outn, outn) == tlabels[s + j];
            }
            bench_bufs_free(&b);
            *accs[k] = tset.n ? (float)right / (float)tset.n : 0.0f;
        }
    }
    if (bench_bufs_alloc(&planned, 1, &bp) != 0 || bench_bufs_alloc(&net, 1, &bg) != 0 || bench_bufs_alloc(&dense, 1, &bd) != 0)
        goto done;
    memcpy(bg.in, bp.in, (size_t)scalpel_net_input_size(&net) * sizeof(float));
    memcpy(bd.in, bp.in, (size_t)scalpel_net_input_size(&net) * sizeof(float));
    if (opts[8].value != NULL) {
        if (bench_bufs_alloc(&other, 1, &bo) != 0) goto done;
        memcpy(bo.in, bp.in, (size_t)scalpel_net_input_size(&net) * sizeof(float));
    }
    for (i = 0; i < repeat; i++) {   /* interleaved: a machine that slows down slows all of them */
        tp[i] = time_forward(&planned, bp.in, 1, bp.out, bp.ws, 1, samp);
        tg[i] = time_forward(&net, bg.in, 1, bg.out, bg.ws, 1, samp);
        td[i] = time_forward(&dense, bd.in, 1, bd.out, bd.ws, 1, samp);
        if (opts[8].value != NULL) to[i] = time_forward(&other, bo.in, 1, bo.out, bo.ws, 1, samp);
    }
    qsort(to, (size_t)(opts[8].value != NULL ? repeat : 0), sizeof(double), cmp_double);
    qsort(tp, (size_t)repeat, sizeof(double), cmp_double);
    qsort(tg, (size_t)repeat, sizeof(double), cmp_double);
    qsort(td, (size_t)repeat, sizeof(double), cmp_double);
    printf("test set (%d samples): error %.2f%% as given -> %.2f%% planned (%+.2f points)\n", (int)tset.n,
           100.0 * (1.0 - acc_given), 100.0 * (1.0 - acc_planned), 100.0 * (double)(acc_given - acc_planned));
    printf("forward, batch 1, median of %d interleaved runs: dense %.2f us, as given %.2f us, planned %.2f us "
           "(%.2fx vs dense, %.2fx vs as given)\n", (int)repeat, td[repeat / 2] * 1e6, tg[repeat / 2] * 1e6,
           tp[repeat / 2] * 1e6, td[repeat / 2] / tp[repeat / 2], tg[repeat / 2] / tp[repeat / 2]);
    printf("weight bytes: dense %zu, as given %zu, planned %zu (%.1f%% of dense)\n", scalpel_net_weight_bytes(&dense),
           scalpel_net_weight_bytes(&net), scalpel_net_weight_bytes(&planned),
           percent((double)scalpel_net_weight_bytes(&planned), (double)scalpel_net_weight_bytes(&dense)));
    if (opts[8].value != NULL)
        printf("against %s: error %.2f%%, forward %.2f us (%.2fx vs dense), weight bytes %zu (%.1f%% of dense)\n",
               opts[8].value, 100.0 * (1.0 - acc_other), to[repeat / 2] * 1e6, td[repeat / 2] / to[repeat / 2],
               scalpel_net_weight_bytes(&other),
               percent((double)scalpel_net_weight_bytes(&other), (double)scalpel_net_weight_bytes(&dense)));
    if (opts[9].value == NULL) printf("(-o OUT saves the planned network)\n");
    else if (nr_save(&planned, &tset, opts[9].value) != 0) goto done;
    rc = 0;
done:
    bench_bufs_free(&bp);
    bench_bufs_free(&bg);
    bench_bufs_free(&bd);
    bench_bufs_free(&bo);
    scalpel_net_free(&other);
    free(plan);
    free(plabels);
    free(tlabels);
    free(samp);
    scalpel_dataset_free(&pset);
    scalpel_dataset_free(&tset);
    scalpel_net_free(&planned);
    scalpel_net_free(&dense);
    scalpel_net_free(&net);
    return rc;
}

/* ---- demo -------------------------------------------------------------------------------- */

/* demo --net NAME: a reference network with random weights (BatchNorms folded) */
static int demo_reference(const char *name, const char *seed_text, const char *path)
{
    const ref_net_desc *d = ref_net_find(name);
    int32_t seed = 1;
    int rc, i;
    scalpel_net net;
    scalpel_status st;
    char s1[48];
    if (strcmp(name, "list") == 0) {
        for (i = 0; i < REF_NET_COUNT; i++)
            printf("%-13s %s, input %s\n", ref_nets[i].name, ref_nets[i].what,
                   shape_text(ref_nets[i].c, ref_nets[i].h, ref_nets[i].w, s1, sizeof s1));
        return 0;
    }
    if (d == NULL) {
        fprintf(stderr, "scalpel demo: unknown network '%s'; one of:", name);
        for (i = 0; i < REF_NET_COUNT; i++) fprintf(stderr, " %s", ref_nets[i].name);
        fprintf(stderr, " (or list)\n");
        return EXIT_USAGE;
    }
    if (path == NULL) return usage_error("demo", "-o FILE is required");
    if (seed_text != NULL && (rc = parse_int("demo", "--seed", seed_text, 0, INT32_MAX, &seed)) != 0) return rc;
    st = ref_net_build(d, (uint64_t)seed, &net);
    if (st != SCALPEL_OK) return fail("demo: building %s failed: %s", name, scalpel_status_string(st));
    st = save_net(&net, path);
    if (st != SCALPEL_OK) {
        scalpel_net_free(&net);
        return fail("%s: cannot save the model: %s", path, scalpel_status_string(st));
    }
    printf("wrote %s: %s, %d layers, %zu weight bytes, random weights (seed %d)\n", path, d->what, (int)net.n_layers,
           scalpel_net_weight_bytes(&net), (int)seed);
    scalpel_net_free(&net);
    return 0;
}

static int cmd_demo(int n, char **args)
{
    static const int32_t sizes[4] = { 784, 300, 100, 10 };
    static const float rates[3] = { 0.92f, 0.91f, 0.74f };   /* Han et al., LeNet-300-100 */
    cli_opt opts[3] = { { "--output", "-o", 1, NULL, 0 }, { "--net", NULL, 1, NULL, 0 }, { "--seed", NULL, 1, NULL, 0 } };
    const char *pos[MAX_POSITIONAL];
    int n_pos, rc, layer;
    float *w = NULL, *b = NULL;
    uint8_t *mask = NULL;
    scalpel_net net;
    scalpel_status st;

    rc = parse_args("demo", n, args, opts, 3, pos, 0, 0, &n_pos);
    if (rc != 0) return rc;
    if (opts[1].value != NULL) return demo_reference(opts[1].value, opts[2].value, opts[0].value);
    if (opts[2].value != NULL) return usage_error("demo", "--seed goes with --net");
    if (opts[0].value == NULL) return usage_error("demo", "-o FILE is required");
    st = scalpel_net_init(sizes[0], 1, 1, &net);
    if (st != SCALPEL_OK) return fail("demo: %s", scalpel_status_string(st));
    rc = 1;
    w = (float *)malloc((size_t)sizes[0] * (size_t)sizes[1] * sizeof(float));
    b = (float *)malloc((size_t)sizes[1] * sizeof(float));
    mask = (uint8_t *)malloc((size_t)sizes[0] * (size_t)sizes[1]);
    if (w == NULL || b == NULL || mask == NULL) {
        fail("demo: out of memory");
        goto done;
    }
    rng_state = 20150607u;
    for (layer = 0; layer < 3; layer++) {
        int32_t rows = sizes[layer + 1], cols = sizes[layer], i;
        float scale = (float)sqrt(6.0 / (double)cols);   /* He-uniform, as for ReLU networks */
        for (i = 0; i < rows * cols; i++) w[i] = scale * uniform();
        for (i = 0; i < rows; i++) b[i] = 0.05f * uniform();
        st = scalpel_prune_magnitude_rate(w, rows, cols, rates[layer], mask, NULL);
        if (st != SCALPEL_OK) break;
        scalpel_mask_apply_f32(w, mask, (size_t)rows * (size_t)cols);
        st = scalpel_net_add_fc(&net, rows, w, b);
        if (st == SCALPEL_OK && layer < 2) st = scalpel_net_add_relu(&net);
        if (st != SCALPEL_OK) break;
    }
    if (st != SCALPEL_OK) {
        fail("demo: building the model failed: %s", scalpel_status_string(st));
        goto done;
    }
    st = save_net(&net, opts[0].value);
    if (st != SCALPEL_OK) {
        fail("%s: cannot save the model: %s", opts[0].value, scalpel_status_string(st));
        goto done;
    }
    printf("wrote %s: LeNet-300-100 shape (784-300-100-10, relu), random weights magnitude-pruned "
           "92%% / 91%% / 74%%, %zu bytes\n", opts[0].value, scalpel_net_serialized_size(&net));
    rc = 0;
done:
    free(w);
    free(b);
    free(mask);
    scalpel_net_free(&net);
    return rc;
}

/* ---- run ---------------------------------------------------------------------------------- */

/* "(1, 3, 32, 32)" */
static const char *npy_shape_text(const scalpel_npy *a, char *buf, size_t size)
{
    size_t len = 0;
    int32_t d;
    len += (size_t)snprintf(buf + len, size - len, "(");
    for (d = 0; d < a->ndim && len < size; d++)
        len += (size_t)snprintf(buf + len, size - len, "%lld%s", (long long)a->shape[d],
                                a->ndim == 1 ? "," : d + 1 < a->ndim ? ", " : "");
    if (len < size) snprintf(buf + len, size - len, ")");
    return buf;
}

/* 1 when a and b name the same existing file (so writing one would destroy the other). */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* scalpel run MODEL --input IN.npy --output OUT.npy [--batch N]: the model's outputs for every
 * sample of IN, computed N samples at a time (default: 64). */
static int cmd_run(int n, char **args)
{
    cli_opt opts[3] = { { "--input", "-i", 1, NULL, 0 }, { "--output", "-o", 1, NULL, 0 }, { "--batch", NULL, 1, NULL, 0 } };
    const char *pos[MAX_POSITIONAL];
    int n_pos, rc;
    int32_t batch = 64, in_n, out_n;
    int64_t samples, shape[4];
    scalpel_net net;
    scalpel_npy x;
    scalpel_status st;
    char s1[160], s2[64];
    float *y = NULL;
    void *ws = NULL;
    size_t wsz;
    const scalpel_layer *last;

    rc = parse_args("run", n, args, opts, 3, pos, 1, 1, &n_pos);
    if (rc != 0) return rc;
    if (opts[0].value == NULL) return usage_error("run", "--input IN.npy is required");
    if (opts[1].value == NULL) return usage_error("run", "--output OUT.npy is required");
    if (opts[2].value != NULL && (rc = parse_int("run", "--batch", opts[2].value, 1, 4096, &batch)) != 0) return rc;
    if (same_file(opts[1].value, opts[0].value) || same_file(opts[1].value, pos[0]))
        return usage_error("run", "--output %s is the %s: it would be overwritten", opts[1].value,
                           same_file(opts[1].value, pos[0]) ? "model file" : "input file");
    if (load_model(pos[0], &net) != 0) return 1;
    st = scalpel_npy_load(opts[0].value, &x);
    if (st != SCALPEL_OK) {
        scalpel_net_free(&net);
        if (st == SCALPEL_ERR_DTYPE)
            return fail("%s: the array holds '%s'; run takes float32 ('<f4', e.g. numpy's astype(np.float32))",
                        opts[0].value, x.descr);
        if (st == SCALPEL_ERR_MAGIC) return fail("%s: not a NumPy .npy file", opts[0].value);
        if (st == SCALPEL_ERR_UNSUPPORTED)
            return fail("%s: a Fortran-order, 0-d or over-%d-dimensional array; run takes C-order [N, C, H, W] or "
                        "[N, features]", opts[0].value, SCALPEL_NPY_MAX_DIMS);
        if (st == SCALPEL_ERR_ARGUMENT) return fail("%s: the array holds a NaN or an infinity", opts[0].value);
        return fail("%s: cannot read the array: %s", opts[0].value, scalpel_status_string(st));
    }
    in_n = scalpel_net_input_size(&net);
    out_n = scalpel_net_output_size(&net);
    samples = x.ndim >= 1 ? x.shape[0] : 0;
    if (!((x.ndim == 4 && x.shape[1] == net.in_c && x.shape[2] == net.in_h && x.shape[3] == net.in_w) ||
          (x.ndim == 2 && x.shape[1] == in_n)) || samples < 1 || samples > INT32_MAX) {
        rc = fail("%s: shape %s; %s takes (N, %d, %d, %d) or (N, %d) with N >= 1", opts[0].value,
                  npy_shape_text(&x, s1, sizeof s1), pos[0], (int)net.in_c, (int)net.in_h, (int)net.in_w, (int)in_n);
        goto done;
    }
    if (batch > samples) batch = (int32_t)samples;
    wsz = scalpel_net_workspace_size(&net, batch);
    y = (float *)malloc((size_t)samples * (size_t)out_n * sizeof(float));
    ws = malloc(wsz ? wsz : 1);
    if (wsz == 0 || y == NULL || ws == NULL) {
        rc = fail("run: out of memory for %lld samples (batch %d)", (long long)samples, (int)batch);
        goto done;
    }
    st = forward_batches(&net, x.data, (int32_t)samples, batch, y, ws);
    if (st != SCALPEL_OK) {
        rc = fail("%s: forward pass failed: %s", pos[0], scalpel_status_string(st));
        goto done;
    }
    last = net.n_layers > 0 ? &net.layers[net.n_layers - 1] : NULL;
    shape[0] = samples;
    if (last == NULL) {
        shape[1] = net.in_c; shape[2] = net.in_h; shape[3] = net.in_w;
    } else {
        shape[1] = last->geom.out_c; shape[2] = last->geom.out_h; shape[3] = last->geom.out_w;
    }
    hold_signals();
    st = scalpel_npy_save(opts[1].value, y, shape[2] == 1 && shape[3] == 1 ? 2 : 4, shape);
    release_signals();
    if (st != SCALPEL_OK) {
        rc = fail("%s: cannot write the outputs: %s", opts[1].value, scalpel_status_string(st));
        goto done;
    }
    printf("wrote %s: %lld samples x %s outputs\n", opts[1].value, (long long)samples,
           shape[2] == 1 && shape[3] == 1 ? (snprintf(s2, sizeof s2, "%d", (int)shape[1]), s2)
                                          : shape_text((int32_t)shape[1], (int32_t)shape[2], (int32_t)shape[3], s2, sizeof s2));
    rc = 0;
done:
    free(y);
    free(ws);
    scalpel_npy_free(&x);
    scalpel_net_free(&net);
    return rc;
}

/* ---- quantize ---------------------------------------------------------------------------- */

/* Test error (percent) of the float network, or of q when q != NULL, on the first n samples. */
static int q_error(const scalpel_net *net, const scalpel_qnet *q, const scalpel_dataset *ds, int32_t n, double *err)
{
    enum { B = 100 };
    int32_t in_n = ds->c * ds->h * ds->w, out_n = scalpel_net_output_size(net), s, k, wrong = 0;
    size_t wsz = q ? scalpel_qnet_workspace_size(q, B) : scalpel_net_workspace_size(net, B);
    float *out = (float *)malloc((size_t)B * (size_t)out_n * sizeof(float));
    void *ws = malloc(wsz);
    scalpel_status st = SCALPEL_OK;
    if (out == NULL || ws == NULL) st = SCALPEL_ERR_NO_MEMORY;
    for (s = 0; s < n && st == SCALPEL_OK; s += B) {
        int32_t b = n - s < B ? n - s : B;
        const float *x = ds->x + (size_t)s * (size_t)in_n;
        st = q ? scalpel_qnet_forward_f32(q, x, b, out, ws) : scalpel_net_forward(net, x, b, out, ws);
        for (k = 0; k < b && st == SCALPEL_OK; k++)
            wrong += scalpel_argmax_f32(out + (size_t)k * (size_t)out_n, out_n) != (int32_t)ds->y[s + k];
    }
    free(out);
    free(ws);
    if (st != SCALPEL_OK) return fail("evaluating the %s network: %s", q ? "fixed-point" : "float", scalpel_status_string(st));
    *err = 100.0 * (double)wrong / (double)(n > 0 ? n : 1);
    return 0;
}

/* n random inputs for net: each value the sum of four uniform draws on [-1, 1], scaled to unit
 * variance (near a normal; normalized images look like that), from a fixed seed. */
static float *random_inputs(const scalpel_net *net, int32_t n, uint64_t seed)
{
    size_t k, total = (size_t)n * (size_t)scalpel_net_input_size(net);
    float *x = (float *)malloc((total ? total : 1u) * sizeof(float));
    uint64_t st = seed * 0x9E3779B97F4A7C15ull + 1u;
    if (x == NULL) return NULL;
    for (k = 0; k < total; k++) {
        float sum = 0.0f;
        int j;
        for (j = 0; j < 4; j++) {
            st ^= st << 13; st ^= st >> 7; st ^= st << 17;
            sum += (float)(st >> 40) / 8388608.0f - 1.0f; /* [-1, 1) */
        }
        x[k] = sum * 0.8660254f; /* 4 draws of variance 1/3: variance 4/3, scaled to 1 */
    }
    return x;
}

/* quantize --random / --inputs: calibrate on cx[calib], compare with float on tx[test]
 * (argmax agreement, error relative to each sample's output range), export. `what` names the
 * samples in the report. */
static int quantize_compare(const scalpel_net *net, const scalpel_quant_options *qo, const float *cx, int32_t calib,
                            const float *tx, int32_t test, const char *what, const char **pos, const char *out_path)
{
    enum { B = 50 };
    int32_t in_n = scalpel_net_input_size(net), out_n = scalpel_net_output_size(net), s, k, agree = 0;
    float *yf = (float *)malloc((size_t)B * (size_t)out_n * sizeof(float));
    float *yq = (float *)malloc((size_t)B * (size_t)out_n * sizeof(float));
    void *wf = NULL, *wq = NULL;
    double worst = 0.0, sum_err = 0.0;
    scalpel_qnet q;
    scalpel_status st;
    int rc = 1;
    memset(&q, 0, sizeof(q));
    if (!yf || !yq) {
        rc = fail("out of memory for the outputs");
        goto done;
    }
    st = scalpel_qnet_quantize(net, qo, cx, calib, &q);
    if (st != SCALPEL_OK) {
        rc = fail("%s: cannot quantize: %s", pos[0], scalpel_status_string(st));
        goto done;
    }
    wf = malloc(scalpel_net_workspace_size(net, B));
    wq = malloc(scalpel_qnet_workspace_size(&q, B));
    if (!wf || !wq) {
        rc = fail("out of memory for the workspaces");
        goto done;
    }
    for (s = 0; s < test; s += B) {
        int32_t b = test - s < B ? test - s : B;
        const float *x = tx + (size_t)s * (size_t)in_n;
        st = scalpel_net_forward(net, x, b, yf, wf);
        if (st == SCALPEL_OK) st = scalpel_qnet_forward_f32(&q, x, b, yq, wq);
        if (st != SCALPEL_OK) {
            rc = fail("evaluating on %s: %s", what, scalpel_status_string(st));
            goto done;
        }
        for (k = 0; k < b; k++) {
            const float *f = yf + (size_t)k * (size_t)out_n, *g = yq + (size_t)k * (size_t)out_n;
            double range = 0.0, err = 0.0;
            int32_t j;
            for (j = 0; j < out_n; j++) {
                double a = f[j] < 0.0f ? -(double)f[j] : (double)f[j], d = (double)g[j] - (double)f[j];
                if (a > range) range = a;
                if ((d < 0.0 ? -d : d) > err) err = d < 0.0 ? -d : d;
            }
            err = range > 0.0 ? err / range : err;
            sum_err += err;
            if (err > worst) worst = err;
            agree += scalpel_argmax_f32(f, out_n) == scalpel_argmax_f32(g, out_n);
        }
    }
    if ((st = export_qnet(&q, pos[1], out_path)) != SCALPEL_OK) {
        rc = fail("%s: cannot export as '%s': %s", out_path, pos[1], scalpel_status_string(st));
        goto done;
    }
    printf("%s: %s, weight scales per %s, calibrated on %d %s\n", pos[0], qo->dtype == SCALPEL_DTYPE_Q15 ? "q15" : "q7",
           qo->per_channel ? "output channel" : "layer", (int)calib, what);
    printf("  fixed point against float on %d %s%s: the largest output agrees on %.1f%%; error over the output range "
           "%.4f mean, %.4f worst\n", (int)test, tx == cx ? "" : "other ", what, 100.0 * agree / test, sum_err / test, worst);
    printf("  weight bytes: float %zu, fixed point %zu\n", scalpel_net_weight_bytes(net), scalpel_qnet_weight_bytes(&q));
    printf("wrote %s: static const scalpel_qnet %s (%d layers)\n", out_path, pos[1], (int)q.n_layers);
    rc = 0;
done:
    scalpel_qnet_free(&q);
    free(yf); free(yq); free(wf); free(wq);
    return rc;
}

/* --random: `calib` random inputs to calibrate, `test` others to compare. */
static int quantize_random(const scalpel_net *net, const scalpel_quant_options *qo, int32_t calib, int32_t test,
                           const char **pos, const char *out_path)
{
    float *cx = random_inputs(net, calib, 1), *tx = random_inputs(net, test, 2);
    int rc = cx && tx ? quantize_compare(net, qo, cx, calib, tx, test, "random inputs", pos, out_path)
                      : fail("out of memory for %d random inputs", (int)(calib > test ? calib : test));
    free(cx);
    free(tx);
    return rc;
}

/* --inputs X.npy: the user's samples [N, C, H, W] or [N, C*H*W]; the first `calib` (at most
 * N) calibrate, the rest (or, when none is left, the same ones) are compared. */
static int quantize_npy(const scalpel_net *net, const scalpel_quant_options *qo, const char *path, int32_t calib,
                        const char **pos, const char *out_path)
{
    scalpel_npy x;
    char s1[96], what[600];
    int32_t in_n = scalpel_net_input_size(net), n;
    int rc;
    scalpel_status st = scalpel_npy_load(path, &x);
    if (st != SCALPEL_OK)
        return fail("--inputs %s: cannot read: %s (float32 .npy expected)", path, scalpel_status_string(st));
    if (!((x.ndim == 4 && x.shape[1] == net->in_c && x.shape[2] == net->in_h && x.shape[3] == net->in_w) ||
          (x.ndim == 2 && x.shape[1] == in_n)) || x.shape[0] < 1 || x.shape[0] > INT32_MAX) {
        rc = fail("--inputs %s: shape %s; %s takes (N, %d, %d, %d) or (N, %d) with N >= 1", path,
                  npy_shape_text(&x, s1, sizeof s1), pos[0], (int)net->in_c, (int)net->in_h, (int)net->in_w, (int)in_n);
        scalpel_npy_free(&x);
        return rc;
    }
    n = (int32_t)x.shape[0];
    if (calib > n) calib = n;
    snprintf(what, sizeof what, "inputs of %s", path);
    rc = quantize_compare(net, qo, x.data, calib, calib < n ? x.data + (size_t)calib * (size_t)in_n : x.data,
                          calib < n ? n - calib : n, what, pos, out_path);
    scalpel_npy_free(&x);
    return rc;
}

static int cmd_quantize(int n, char **args)
{
    cli_opt opts[11] = { { "--output", "-o", 1, NULL, 0 }, { "--dtype", NULL, 1, NULL, 0 },
                        { "--per-channel", NULL, 0, NULL, 0 }, { "--group", NULL, 1, NULL, 0 },
                        { "--data", NULL, 1, NULL, 0 }, { "--synthetic", NULL, 0, NULL, 0 },
                        { "--calib", NULL, 1, NULL, 0 }, { "--test", NULL, 1, NULL, 0 },
                        { "--random", NULL, 0, NULL, 0 }, { "--drop-softmax", NULL, 0, NULL, 0 },
                        { "--inputs", NULL, 1, NULL, 0 } };
    const char *pos[MAX_POSITIONAL];
    int n_pos, rc;
    int32_t calib = 500, test = 0;
    scalpel_quant_options qo;
    scalpel_dataset cset, tset;
    scalpel_net net;
    scalpel_qnet q;
    scalpel_status st;
    double ferr = 0.0, qerr = 0.0;

    rc = parse_args("quantize", n, args, opts, 11, pos, 2, 2, &n_pos);
    if (rc != 0) return rc;
    if (opts[0].value == NULL) return usage_error("quantize", "-o OUT.h is required");
    memset(&qo, 0, sizeof(qo));
    qo.dtype = SCALPEL_DTYPE_Q15;
    if (opts[1].value != NULL) {
        if (strcmp(opts[1].value, "q15") == 0) qo.dtype = SCALPEL_DTYPE_Q15;
        else if (strcmp(opts[1].value, "q7") == 0) qo.dtype = SCALPEL_DTYPE_Q7;
        else return usage_error("quantize", "--dtype '%s': expected q15 or q7", opts[1].value);
    }
    qo.per_channel = opts[2].seen;
    if (opts[3].value != NULL) {
        if (parse_int("quantize", "--group", opts[3].value, 1, 16, &qo.group) != 0) return EXIT_USAGE;
        if (qo.group != 1 && qo.group != 2 && qo.group != 4 && qo.group != 8 && qo.group != 16)
            return usage_error("quantize", "--group %d: expected 1, 2, 4, 8 or 16", (int)qo.group);
    }
    if ((opts[4].value != NULL) + opts[5].seen + opts[8].seen + (opts[10].value != NULL) > 1)
        return usage_error("quantize", "--data, --synthetic, --random and --inputs exclude each other");
    if (opts[6].value != NULL && parse_int("quantize", "--calib", opts[6].value, 1, 60000, &calib) != 0) return EXIT_USAGE;
    if (opts[7].value != NULL && parse_int("quantize", "--test", opts[7].value, 1, 1000000, &test) != 0) return EXIT_USAGE;
    if (check_export_name(pos[1]) != 0) return 1;
    if (load_model(pos[0], &net) != 0) return 1;
    if (refuse_decomposed(pos[0], &net, "quantize") != 0) {
        scalpel_net_free(&net);
        return 1;
    }
    if (opts[9].seen) { /* a final softmax has no parameters and nothing reads it: it just goes */
        if (net.n_layers == 0 || net.layers[net.n_layers - 1].geom.kind != SCALPEL_LAYER_SOFTMAX) {
            scalpel_net_free(&net);
            return fail("%s: --drop-softmax: the last layer is no softmax", pos[0]);
        }
        net.n_layers--;
        printf("%s: the final softmax (layer %d) dropped: the fixed-point outputs are the logits\n", pos[0],
               (int)net.n_layers);
    }
    {   /* a layer without a fixed-point version: say which, before anything else */
        int32_t bad = scalpel_net_first_unsupported(&net, SCALPEL_USE_FIXED_POINT);
        if (bad >= 0) {
            const scalpel_layer *l = &net.layers[bad];
            int rc2 = fail("%s: layer %d (%s) has no fixed-point version: softmax and lrn have none (a division or a "
                           "power per value at a precision 8 or 16 bits do not hold)%s", pos[0], (int)bad,
                           scalpel_layer_kind_name(l->geom.kind),
                           bad == net.n_layers - 1 && l->geom.kind == SCALPEL_LAYER_SOFTMAX
                               ? "; --drop-softmax quantizes without it (the largest output stays the same)" : "");
            scalpel_net_free(&net);
            return rc2;
        }
    }
    if (net.n_layers == 0) {
        scalpel_net_free(&net);
        return fail("%s: the network has no layers: nothing to quantize and export", pos[0]);
    }
    if (opts[8].seen || opts[10].value != NULL) {
        rc = opts[8].seen ? quantize_random(&net, &qo, calib, test ? test : 1000, pos, opts[0].value)
                          : quantize_npy(&net, &qo, opts[10].value, calib, pos, opts[0].value);
        scalpel_net_free(&net);
        return rc;
    }
    if (scalpel_net_input_size(&net) != 784) {
        int inputs = (int)scalpel_net_input_size(&net);
        scalpel_net_free(&net);
        return fail("%s: takes %d inputs; quantize calibrates on MNIST-format images (784 inputs) unless --inputs "
                    "X.npy or --random", pos[0], inputs);
    }
    if (nr_data(&net, opts[4].value, opts[5].seen, calib, &cset, &tset) != 0) {
        scalpel_net_free(&net);
        return 1;
    }
    if (test == 0 || test > tset.n) test = tset.n;
    st = scalpel_qnet_quantize(&net, &qo, cset.x, cset.n, &q);
    if (st != SCALPEL_OK) {
        rc = fail("%s: cannot quantize: %s", pos[0], scalpel_status_string(st));
    } else if (q_error(&net, NULL, &tset, test, &ferr) != 0 || q_error(&net, &q, &tset, test, &qerr) != 0) {
        rc = 1;
    } else if ((st = export_qnet(&q, pos[1], opts[0].value)) != SCALPEL_OK) {
        rc = fail("%s: cannot export as '%s': %s", opts[0].value, pos[1], scalpel_status_string(st));
    } else {
        printf("%s: %s, weight scales per %s, calibrated on %d images\n", pos[0], qo.dtype == SCALPEL_DTYPE_Q15 ? "q15" : "q7",
               qo.per_channel ? "output channel" : "layer", (int)cset.n);
        printf("  test error (%d images): float %.2f%%, fixed point %.2f%%\n", (int)test, ferr, qerr);
        printf("  weight bytes: float %zu, fixed point %zu\n", scalpel_net_weight_bytes(&net), scalpel_qnet_weight_bytes(&q));
        printf("wrote %s: static const scalpel_qnet %s (%d layers)\n", opts[0].value, pos[1], (int)q.n_layers);
        rc = 0;
    }
    scalpel_qnet_free(&q);
    scalpel_dataset_free(&cset);
    scalpel_dataset_free(&tset);
    scalpel_net_free(&net);
    return rc;
}

/* ---- main -------------------------------------------------------------------------------- */

/* 1 when args[0..n) hold `flag` before any "--" (it selects a command's variant). */
static int has_flag(int n, char **args, const char *flag)
{
    int i;
    for (i = 0; i < n; i++) {
        if (strcmp(args[i], "--") == 0) return 0;
        if (strcmp(args[i], flag) == 0) return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd;
    int rc, n;
    char **args;

    if (argc < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    cmd = argv[1];
#ifdef SIGXFSZ
    signal(SIGXFSZ, SIG_IGN);
#endif
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        if (argc > 2) return usage_error(NULL, "%s takes no argument ('%s'); for a command's help: scalpel COMMAND --help", cmd, argv[2]);
        print_help(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        if (argc > 2) return usage_error(NULL, "--version takes no argument ('%s')", argv[2]);
        printf("scalpel %s (kernels %s)\n", SCALPEL_VERSION_STRING, scalpel_kernels_backend());
        return 0;
    }
    n = argc - 2;
    args = argv + 2;
    if (strcmp(cmd, "info") == 0) rc = cmd_info(n, args);
    else if (strcmp(cmd, "plan") == 0 && has_flag(n, args, "--no-retrain")) rc = cmd_plan_no_retrain(n, args);
    else if (strcmp(cmd, "plan") == 0 || strcmp(cmd, "pack") == 0) rc = cmd_plan_or_pack(cmd, n, args);
    else if (strcmp(cmd, "export-c") == 0) rc = cmd_export_c(n, args);
    else if (strcmp(cmd, "quantize") == 0) rc = cmd_quantize(n, args);
    else if (strcmp(cmd, "import-safetensors") == 0) rc = cmd_import(n, args);
    else if (strcmp(cmd, "bench") == 0) rc = cmd_bench(n, args);
    else if (strcmp(cmd, "demo") == 0) rc = cmd_demo(n, args);
    else if (strcmp(cmd, "run") == 0) rc = cmd_run(n, args);
    else if (cmd[0] == '-') return usage_error(NULL, "unknown option '%s' (a command comes first)", cmd);
    else return usage_error(NULL, "unknown command '%s' (info, plan, pack, export-c, quantize, "
                                  "import-safetensors, bench, demo, run)", cmd);
    if (rc == -1) {   /* CMD --help */
        print_help(stdout);
        return 0;
    }
    return rc;
}
