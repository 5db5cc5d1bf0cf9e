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
    { "plan", "scalpel plan --hw NAME|host|list [--mode MODE] [--calibrate] MODEL\n"
              "       scalpel plan --hw list [--json]\n"
              "       scalpel plan --no-retrain [--hw NAME|host] [--data DIR | --synthetic] [--budget POINTS]\n"
              "                    [--samples N] [--exact] [--repeat N] [--against MODEL2] MODEL" },
    { "pack", "scalpel pack --hw NAME|host [--mode MODE] [--calibrate] MODEL -o OUT" },
    { "export-c", "scalpel export-c MODEL NAME -o OUT.h" },
    { "quantize", "scalpel quantize MODEL NAME -o OUT.h [--dtype q15|q7] [--per-channel] [--group G]\n"
                  "                        [--data DIR | --synthetic] [--calib N] [--test N]" },
    { "import-safetensors", "scalpel import-safetensors FILE --arch SPEC [--names P1,P2,...] -o MODEL\n"
                            "                          [--check IN.npy OUT.npy [--tolerance T]]" },
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
    "      Layers of a model file: kind, input -> output shape, storage (dense, gcsr G=n, csr),\n"
    "      weight bytes, fraction of zero weights, multiply-accumulates executed per sample.\n"
    "  scalpel plan --hw NAME [--mode MODE] [--calibrate] MODEL\n"
    "      The per-layer plan for a hardware profile: technique, storage, kernel, pruning rate\n"
    "      against the kernel's break-even rate, bytes and MACs now -> planned, and why.\n"
    "      --hw list     list the built-in profiles and exit\n"
    "      --hw host     the profile of the kernels compiled into this program\n"
    "      --mode MODE   scalpel (default: the paper's per-class rules), traditional (CSR for\n"
    "                    every pruned layer), optimized (CSR, layers over 50% dense kept dense),\n"
    "                    dense\n"
    "      --calibrate   measure this machine's break-even rates first (on the model's largest\n"
    "                    FC shape and, for the matrix-matrix kernel, the positions of its\n"
    "                    largest convolution or 64 columns)\n"
    "";

/* Split from help_text: C99 compilers need only take string literals of 4095 characters. */
static const char help_text_no_retrain[] =
    "  scalpel plan --no-retrain [--hw NAME|host] [--data DIR | --synthetic] [--budget POINTS]\n"
    "               [--samples N] [--exact] [--repeat N] [--against MODEL2] MODEL\n"
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
    "                    same network pruned with retraining), timed in the same rounds\n";

static const char help_text_rest[] =
    "  scalpel pack --hw NAME [--mode MODE] [--calibrate] MODEL -o OUT\n"
    "      Plan, convert every layer to its planned storage and save to OUT (which may be\n"
    "      MODEL itself). Prints the sizes before and after.\n"
    "  scalpel export-c MODEL NAME -o OUT.h\n"
    "      A C header with static const arrays and `static const scalpel_net NAME`, ready to\n"
    "      run without allocation (include scalpel.h first). NAME: a C identifier that is no\n"
    "      keyword, reserved name or standard library name (a refusal says which).\n"
    "  scalpel quantize MODEL NAME -o OUT.h [--dtype q15|q7] [--per-channel] [--group G]\n"
    "                   [--data DIR | --synthetic] [--calib N] [--test N]\n"
    "      Fixed point for microcontrollers: quantize the model (q15 default, or q7) with\n"
    "      activation ranges calibrated on N training images (default 500), report the test\n"
    "      error of the float and the fixed-point network on --test N images (default all)\n"
    "      and their weight bytes, and write a C header with `static const scalpel_qnet NAME`\n"
    "      (scalpel_qnet_forward, no allocation). --per-channel: one weight scale per output\n"
    "      channel; --group G: regroup sparse layers (e.g. 4 for q7's SXTB16 + SMLAD).\n"
    "      Data as for plan --no-retrain.\n"
    "  scalpel import-safetensors FILE --arch SPEC [--names P1,P2,...] -o MODEL\n"
    "                             [--check IN.npy OUT.npy [--tolerance T]]\n"
    "      Build the network SPEC describes, fill its weights from a safetensors file\n"
    "      (F32, F16 or BF16 tensors \"<P>.weight\" and optional \"<P>.bias\") and save it.\n"
    "      --names gives the tensor prefix of each weighted layer in order; without it the\n"
    "      file's *.weight tensors are taken in natural name order (fc1 < fc2 < fc10).\n"
    "      SPEC: the input shape, then the layers, separated by commas:\n"
    "        CxHxW or N          input of C channels of H x W (N alone means N x 1 x 1)\n"
    "        conv:OUT:K[:S[:P]]  convolution, OUT filters of K x K, stride S (1), padding P (0)\n"
    "        pool:K[:S]          max pooling K x K, stride S (default K)\n"
    "        fc:OUT              fully connected (flattens its input)\n"
    "        relu                max(x, 0)\n"
    "      e.g. 1x28x28,conv:20:5,relu,pool:2,conv:50:5,relu,pool:2,fc:500,relu,fc:10\n"
    "             (LeNet-5 as PyTorch users write it; Caffe's has no relu after the convolutions)\n"
    "           784,fc:300,relu,fc:100,relu,fc:10                        (LeNet-300-100)\n"
    "      SPEC must be the model's forward pass exactly: --check IN.npy OUT.npy (sample inputs\n"
    "      and the framework's outputs for them, float32) runs the imported network on IN and\n"
    "      refuses to write MODEL when an output differs from OUT by more than T (default\n"
    "      1e-4) of the largest |OUT|. For models beyond this SPEC (batch norm, other pooling,\n"
    "      residual joins) use `python3 -m scalpel convert-torch` or `convert` (ONNX).\n"
    "  scalpel bench MODEL [--batch N] [--repeat N]\n"
    "      Forward time of the model as stored and of its dense version, side by side, whole\n"
    "      and per layer (median of N repeats, default 9; batch default 1).\n"
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
 * never scalpel_net_free it. */
static scalpel_status layer_view(const scalpel_layer *l, scalpel_layer *room, scalpel_net *v)
{
    scalpel_status st = scalpel_net_init(l->geom.in_c, l->geom.in_h, l->geom.in_w, v);
    if (st != SCALPEL_OK) return st;
    *room = *l;
    room->block = NULL;
    room->geom.from = 0; /* alone, it reads the network input */
    v->layers = room;
    v->n_layers = 1;
    return SCALPEL_OK;
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
    if (l->storage == SCALPEL_STORAGE_GCSR) {
        const float *v = (const float *)l->sparse.values;
        size_t n = (size_t)l->sparse.nnz_groups * (size_t)l->sparse.group;
        for (i = 0; i < n; i++) nonzero += v[i] != 0.0f;
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

static const char *layer_storage_text(const scalpel_layer *l, char *buf, size_t size)
{
    if (!is_weighted(l)) return "-";
    return storage_text(l->storage, l->storage == SCALPEL_STORAGE_GCSR ? l->sparse.group : 0, buf, size);
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

static int cmd_info(int n, char **args)
{
    const char *pos[MAX_POSITIONAL];
    int n_pos, rc, i;
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
    printf("%3s  %-8s %12s    %-12s %-10s %12s %9s %12s\n", "#", "kind", "input", "output", "storage",
           "weight bytes", "zeros", "MACs");
    for (i = 0; i < net.n_layers; i++) {
        const scalpel_layer *l = &net.layers[i];
        int64_t m = scalpel_layer_macs(l);
        printf("%3d  %-8s %12s -> %-12s %-10s", i, scalpel_layer_kind_name(l->geom.kind),
               shape_text(l->geom.in_c, l->geom.in_h, l->geom.in_w, s1, sizeof s1),
               shape_text(l->geom.out_c, l->geom.out_h, l->geom.out_w, s2, sizeof s2), layer_storage_text(l, s3, sizeof s3));
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

/* Runs scalpel_hw_calibrate on the model's largest FC shape (else its largest convolution)
 * and n = the positions of its largest convolution (64 without one). */
static int calibrate(const scalpel_net *net, scalpel_hw_profile *hw)
{
    const scalpel_layer *fc = NULL, *conv = NULL, *shape;
    int32_t i, n;
    scalpel_status st;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *l = &net->layers[i];
        int64_t size = (int64_t)l->geom.rows * l->geom.cols;
        if (l->geom.kind == SCALPEL_LAYER_FC && (fc == NULL || size > (int64_t)fc->geom.rows * fc->geom.cols)) fc = l;
        if (l->geom.kind == SCALPEL_LAYER_CONV2D && (conv == NULL || size > (int64_t)conv->geom.rows * conv->geom.cols)) conv = l;
    }
    shape = fc != NULL ? fc : conv;
    if (shape == NULL) return fail("--calibrate: the model has no weighted layer to calibrate on");
    n = conv != NULL ? conv->geom.out_h * conv->geom.out_w : 64;
    printf("calibrating profile %s on this machine (kernels %s, G = %d): matrix-vector %d x %d, "
           "matrix-matrix %d x %d . %d x %d ...\n", hw->name, scalpel_kernels_backend(), (int)hw->group,
           (int)shape->geom.rows, (int)shape->geom.cols, (int)shape->geom.rows, (int)shape->geom.cols, (int)shape->geom.cols, (int)n);
    fflush(stdout);
    st = scalpel_hw_calibrate(hw, shape->geom.rows, shape->geom.cols, n);
    if (st != SCALPEL_OK) return fail("--calibrate: calibration failed: %s", scalpel_status_string(st));
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

/* plan and pack share their options. */
static int cmd_plan_or_pack(const char *cmd, int n, char **args)
{
    int pack = strcmp(cmd, "pack") == 0;
    cli_opt opts[5] = { { "--hw", NULL, 1, NULL, 0 }, { "--mode", NULL, 1, NULL, 0 },
                        { "--calibrate", NULL, 0, NULL, 0 }, { "--json", NULL, 0, NULL, 0 },
                        { "--output", "-o", 1, NULL, 0 } };
    const char *pos[MAX_POSITIONAL];
    int n_pos, rc;
    scalpel_plan_mode mode = SCALPEL_PLAN_SCALPEL;
    scalpel_hw_profile hw;
    scalpel_plan plan;
    scalpel_net net;
    scalpel_status st;
    size_t bytes_before, file_before;

    rc = parse_args(cmd, n, args, opts, 5, pos, 0, 1, &n_pos);
    if (rc != 0) return rc;
    if (opts[0].value == NULL) return usage_error(cmd, "--hw NAME is required ('--hw list' lists them)");
    if (!pack && opts[4].seen) return usage_error(cmd, "-o is for pack");
    if (!pack && strcmp(opts[0].value, "list") == 0) {
        if (n_pos != 0) return usage_error(cmd, "--hw list takes no MODEL");
        if (opts[3].seen) list_profiles_json();
        else list_profiles();
        return 0;
    }
    if (opts[3].seen) return usage_error(cmd, "--json is for 'plan --hw list --json'");
    if (n_pos != 1) return usage_error(cmd, "missing MODEL");
    if (pack && opts[4].value == NULL) return usage_error(cmd, "-o OUT is required");
    rc = parse_mode(cmd, opts[1].value, &mode);
    if (rc != 0) return rc;
    if (get_profile(opts[0].value, &hw) != 0) return 1;
    if (load_model(pos[0], &net) != 0) return 1;

    rc = 1;
    if (opts[2].seen && calibrate(&net, &hw) != 0) goto done;
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
    bytes_before = scalpel_net_weight_bytes(&net);
    file_before = scalpel_net_serialized_size(&net);
    st = scalpel_net_pack(&net, &plan);
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
static int build_from_spec(const char *spec, scalpel_net *net)
{
    const char *p = spec;
    int token = 0;
    scalpel_status st = SCALPEL_OK;
    memset(net, 0, sizeof *net);
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
            } else {
                expect = "conv:OUT:K[:STRIDE[:PAD]], pool:K[:STRIDE], fc:OUT or relu";
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

static int cmd_import(int n, char **args)
{
    cli_opt opts[4] = { { "--arch", NULL, 1, NULL, 0 }, { "--names", NULL, 1, NULL, 0 },
                        { "--output", "-o", 1, NULL, 0 }, { "--tolerance", NULL, 1, NULL, 0 } };
    const char *pos[MAX_POSITIONAL], *check_in = NULL, *check_out = NULL;
    char *rest[64];
    int n_pos, rc, n_names = 0, n_weighted = 0, i, n_rest = 0;
    char *names_buf = NULL, *names[SCALPEL_NET_MAX_LAYERS + 1];
    unsigned char *data = NULL;
    size_t size = 0, hlen = 0;
    double tol = 1e-4;
    scalpel_net net;
    scalpel_status st;
    const char *kind, *hdr;

    memset(&net, 0, sizeof net);
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
    rc = parse_args("import-safetensors", n_rest, rest, opts, 4, pos, 1, 1, &n_pos);
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
    if (build_from_spec(opts[0].value, &net) != 0) return 1;
    for (i = 0; i < net.n_layers; i++) n_weighted += is_weighted(&net.layers[i]);
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
        if (n_names != n_weighted) {
            fail("--names '%s': %d name%s for %d weighted layer%s in --arch", opts[1].value, n_names,
                 n_names == 1 ? "" : "s", n_weighted, n_weighted == 1 ? "" : "s");
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
    if (n_names > 0 && check_tensors(pos[0], data, size, &net, names) != 0) goto done;
    st = scalpel_net_import_safetensors(&net, data, size, n_names > 0 ? (const char *const *)names : NULL,
                                        n_names);
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

static int cmd_bench(int n, char **args)
{
    cli_opt opts[2] = { { "--batch", NULL, 1, NULL, 0 }, { "--repeat", NULL, 1, NULL, 0 } };
    const char *pos[MAX_POSITIONAL];
    int n_pos, rc;
    int32_t batch = 1, repeat = 9, i;
    scalpel_net net, dense;
    scalpel_hw_profile hw;
    scalpel_plan plan;
    scalpel_status st;
    bench_bufs bs, bd;
    double *samples = NULL, t_stored, t_dense, max_diff = 0.0, max_out = 0.0, sum_s = 0.0, sum_d = 0.0;
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
    if (st == SCALPEL_OK) st = scalpel_plan_net(&dense, &hw, SCALPEL_PLAN_DENSE, &plan);
    if (st == SCALPEL_OK) st = scalpel_net_pack(&dense, &plan);
    if (st != SCALPEL_OK) {
        fail("%s: cannot build the dense version: %s", pos[0], scalpel_status_string(st));
        goto done;
    }
    samples = (double *)malloc((size_t)repeat * sizeof(double));
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

    t_stored = time_forward(&net, bs.in, batch, bs.out, bs.ws, repeat, samples);
    t_dense = time_forward(&dense, bd.in, batch, bd.out, bd.ws, repeat, samples);

    printf("%s: batch %d, median of %d runs, kernels %s\n", pos[0], (int)batch, (int)repeat,
           scalpel_kernels_backend());
    printf("weight bytes: stored %zu, dense %zu (%.1f%%); max |stored - dense| output difference %.3g\n",
           scalpel_net_weight_bytes(&net), scalpel_net_weight_bytes(&dense),
           percent((double)scalpel_net_weight_bytes(&net), (double)scalpel_net_weight_bytes(&dense)), max_diff);
    printf("%3s  %-8s %-10s %-10s %14s %14s %9s\n", "#", "kind", "stored", "dense", "stored (us)", "dense (us)",
           "speed-up");
    for (i = 0; i < net.n_layers && i < dense.n_layers; i++) {
        scalpel_net vs, vd;
        scalpel_layer room_s, room_d;
        bench_bufs ls, ld;
        double ts, td;
        if (layer_view(&net.layers[i], &room_s, &vs) != SCALPEL_OK || layer_view(&dense.layers[i], &room_d, &vd) != SCALPEL_OK) {
            fail("%s: layer %d: cannot make a one-layer view", pos[0], (int)i);
            goto done;
        }
        if (bench_bufs_alloc(&vs, batch, &ls) != 0) goto done;
        if (bench_bufs_alloc(&vd, batch, &ld) != 0) {
            bench_bufs_free(&ls);
            goto done;
        }
        ts = time_forward(&vs, ls.in, batch, ls.out, ls.ws, repeat, samples);
        td = time_forward(&vd, ld.in, batch, ld.out, ld.ws, repeat, samples);
        bench_bufs_free(&ls);
        bench_bufs_free(&ld);
        sum_s += ts;
        sum_d += td;
        printf("%3d  %-8s %-10s %-10s %14.2f %14.2f %8.2fx\n", (int)i, scalpel_layer_kind_name(net.layers[i].geom.kind),
               layer_storage_text(&net.layers[i], s1, sizeof s1), layer_storage_text(&dense.layers[i], s2, sizeof s2),
               ts * 1e6, td * 1e6, ts > 0.0 ? td / ts : 0.0);
    }
    printf("     %-30s %14.2f %14.2f %8.2fx\n", "sum of layers", sum_s * 1e6, sum_d * 1e6, sum_s > 0.0 ? sum_d / sum_s : 0.0);
    printf("     %-30s %14.2f %14.2f %8.2fx\n", "whole forward pass", t_stored * 1e6, t_dense * 1e6,
           t_stored > 0.0 ? t_dense / t_stored : 0.0);
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

/* ---- plan --no-retrain ------------------------------------------------------------------- */

/* The planning samples and the report samples: MNIST (train split for planning, test split for
 * the report) from --data, $SCALPEL_MNIST_DIR or ../shared/data/mnist, or the built-in
 * synthetic digits (two different seeds) with --synthetic. */
static int nr_data(const char *dir, int synthetic, int32_t samples, scalpel_dataset *plan_set,
                   scalpel_dataset *test_set)
{
    scalpel_status st;
    if (synthetic) {
        st = scalpel_dataset_synthetic(samples, 1, plan_set);
        if (st == SCALPEL_OK) st = scalpel_dataset_synthetic(2000, 2, test_set);
        if (st != SCALPEL_OK) return fail("synthetic data: %s", scalpel_status_string(st));
        return 0;
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
    return 0;
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

static int cmd_plan_no_retrain(int n, char **args)
{
    cli_opt opts[9] = { { "--no-retrain", NULL, 0, NULL, 0 }, { "--hw", NULL, 1, NULL, 0 },
                        { "--data", NULL, 1, NULL, 0 },       { "--synthetic", NULL, 0, NULL, 0 },
                        { "--budget", NULL, 1, NULL, 0 },     { "--samples", NULL, 1, NULL, 0 },
                        { "--exact", NULL, 0, NULL, 0 },      { "--repeat", NULL, 1, NULL, 0 },
                        { "--against", NULL, 1, NULL, 0 } };
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

    rc = parse_args("plan", n, args, opts, 9, pos, 1, 1, &n_pos);
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
    if (nr_data(opts[2].value, opts[3].seen, samples, &pset, &tset) != 0) goto done;
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
    printf("(HYBRID and TASD layers run in memory; model files do not store them yet)\n");
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

static int cmd_quantize(int n, char **args)
{
    cli_opt opts[8] = { { "--output", "-o", 1, NULL, 0 }, { "--dtype", NULL, 1, NULL, 0 },
                        { "--per-channel", NULL, 0, NULL, 0 }, { "--group", NULL, 1, NULL, 0 },
                        { "--data", NULL, 1, NULL, 0 }, { "--synthetic", NULL, 0, NULL, 0 },
                        { "--calib", NULL, 1, NULL, 0 }, { "--test", NULL, 1, NULL, 0 } };
    const char *pos[MAX_POSITIONAL];
    int n_pos, rc;
    int32_t calib = 500, test = 0;
    scalpel_quant_options qo;
    scalpel_dataset cset, tset;
    scalpel_net net;
    scalpel_qnet q;
    scalpel_status st;
    double ferr = 0.0, qerr = 0.0;

    rc = parse_args("quantize", n, args, opts, 8, pos, 2, 2, &n_pos);
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
    if (opts[4].value != NULL && opts[5].seen) return usage_error("quantize", "--data and --synthetic exclude each other");
    if (opts[6].value != NULL && parse_int("quantize", "--calib", opts[6].value, 1, 60000, &calib) != 0) return EXIT_USAGE;
    if (opts[7].value != NULL && parse_int("quantize", "--test", opts[7].value, 1, 1000000, &test) != 0) return EXIT_USAGE;
    if (check_export_name(pos[1]) != 0) return 1;
    if (load_model(pos[0], &net) != 0) return 1;
    {   /* a layer without a fixed-point version yet: say which, before anything else */
        int32_t bad = scalpel_net_first_unsupported(&net, SCALPEL_USE_FIXED_POINT);
        if (bad >= 0) {
            const scalpel_layer *l = &net.layers[bad];
            int rc2 = fail("%s: layer %d (%s%s) has no fixed-point version yet; quantize takes fc, conv2d with square "
                           "windows, unpadded max pooling and relu", pos[0], (int)bad, scalpel_layer_kind_name(l->geom.kind),
                           l->geom.kind == SCALPEL_LAYER_CONV2D || l->geom.kind == SCALPEL_LAYER_MAXPOOL
                               ? " with a window of the operators issue" : "");
            scalpel_net_free(&net);
            return rc2;
        }
    }
    if (net.n_layers == 0) {
        scalpel_net_free(&net);
        return fail("%s: the network has no layers: nothing to quantize and export", pos[0]);
    }
    if (scalpel_net_input_size(&net) != 784) {
        int inputs = (int)scalpel_net_input_size(&net);
        scalpel_net_free(&net);
        return fail("%s: takes %d inputs; quantize calibrates on MNIST digits (784 inputs)", pos[0], inputs);
    }
    if (nr_data(opts[4].value, opts[5].seen, calib, &cset, &tset) != 0) {
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
