/* gen_firmware_model.c - host half of the Cortex-M firmware test: builds a pruned
 * LeNet-300-100-shaped network (784-300-100-10 fully connected with ReLU, fixed-seed random
 * weights), exports it with scalpel_net_export_c, and writes the inputs and the host's outputs
 * the firmware must reproduce.
 *
 *   gcc -O2 -I. tests/gen_firmware_model.c -o gen_firmware_model -lm
 *   ./gen_firmware_model DIR      writes DIR/lenet_model.h and DIR/lenet_vectors.h
 *
 * Pruning is the test's own: whole aligned groups zeroed at random, fc1 with G = 2 at about
 * 92% (the paper's Cortex-M4 SIMD width), fc2 with G = 4 at about 85%, fc3 dense; about
 * 110 KB of constant data, well inside the 512 KB of flash the emulated board has. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define N_VECTORS 4

/* W[rows x cols] with groups of G zeroed at rate `prune`, the kept weights scaled so that each
 * output sums about sqrt(kept fan-in) unit terms (activations stay near 1 layer after layer). */
static float *pruned_weights(int32_t rows, int32_t cols, int32_t group, float prune)
{
    float *w = (float *)malloc((size_t)rows * (size_t)cols * sizeof(float));
    float scale = 1.7f / sqrtf((float)cols * (1.0f - prune) + 1.0f);
    int32_t r, c, j;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c += group) {
            int zero = (float)(test_rand() % 10000u) < prune * 10000.0f;
            for (j = c; j < c + group && j < cols; j++)
                w[(size_t)r * (size_t)cols + (size_t)j] = zero ? 0.0f : test_uniform() * scale;
        }
    return w;
}

static int add_layer(scalpel_net *net, int32_t outputs, int32_t group, float prune)
{
    int32_t cols = scalpel_net_output_size(net), i;
    float *w = pruned_weights(outputs, cols, group ? group : 1, prune);
    float *b = (float *)malloc((size_t)outputs * sizeof(float));
    scalpel_gcsr m;
    int ok;
    for (i = 0; i < outputs; i++) b[i] = test_uniform() * 0.05f;
    if (group == 0) {
        ok = scalpel_net_add_fc(net, outputs, w, b) == SCALPEL_OK;
    } else {
        ok = scalpel_gcsr_from_dense(w, outputs, cols, group, &m) == SCALPEL_OK &&
             scalpel_net_add_fc_gcsr(net, &m, b) == SCALPEL_OK;
        scalpel_gcsr_free(&m);
    }
    free(w);
    free(b);
    return ok;
}

/* A float literal that reads back as the same float (9 significant digits, C locale). */
static void put_float(FILE *f, float v)
{
    char s[48];
    int len = sprintf(s, "%.9g", (double)v);
    if (strchr(s, '.') == NULL && strchr(s, 'e') == NULL) strcpy(s + len, ".0");
    fprintf(f, "%sf", s);
}

static void put_array(FILE *f, const float *v, int32_t n)
{
    int32_t i;
    fputs("{", f);
    for (i = 0; i < n; i++) {
        fputs(i % 8 == 0 ? "\n        " : " ", f);
        put_float(f, v[i]);
        if (i + 1 < n) fputc(',', f);
    }
    fputs(" }", f);
}

int main(int argc, char **argv)
{
    scalpel_net net;
    char path[600];
    float in[N_VECTORS][784], out[N_VECTORS][10];
    int32_t cls[N_VECTORS];
    void *work;
    FILE *f;
    int32_t v, i;
    int ok;
    if (argc != 2 || strlen(argv[1]) > 500) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
    test_rng_state = 0x5CA1BE1ull;
    ok = scalpel_net_init(1, 28, 28, &net) == SCALPEL_OK && add_layer(&net, 300, 2, 0.92f) &&
         scalpel_net_add_relu(&net) == SCALPEL_OK && add_layer(&net, 100, 4, 0.85f) &&
         scalpel_net_add_relu(&net) == SCALPEL_OK && add_layer(&net, 10, 0, 0.0f);
    if (!ok) { fprintf(stderr, "gen_firmware_model: building the network failed\n"); return 1; }
    work = malloc(scalpel_net_workspace_size(&net, 1));
    /* inputs like MNIST digits: most pixels 0, the rest in (0, 1]; a vector whose two best
     * classes are too close to call after reordered sums is replaced */
    for (v = 0; v < N_VECTORS; v++) {
        float best, second;
        do {
            for (i = 0; i < 784; i++) in[v][i] = test_rand() % 4u == 0 ? (test_uniform() + 1.0f) * 0.5f : 0.0f;
            if (scalpel_net_forward(&net, in[v], 1, out[v], work) != SCALPEL_OK) return 1;
            cls[v] = scalpel_argmax_f32(out[v], 10);
            best = out[v][cls[v]];
            second = -1e30f;
            for (i = 0; i < 10; i++)
                if (i != cls[v] && out[v][i] > second) second = out[v][i];
        } while (best - second < 1e-2f * (fabsf(best) + 1.0f));
    }
    free(work);
    sprintf(path, "%s/lenet_model.h", argv[1]);
    if (scalpel_net_export_c(&net, "lenet", path) != SCALPEL_OK) {
        fprintf(stderr, "gen_firmware_model: export to %s failed\n", path);
        return 1;
    }
    sprintf(path, "%s/lenet_vectors.h", argv[1]);
    f = fopen(path, "w");
    if (f == NULL) { perror(path); return 1; }
    fprintf(f, "/* lenet_vectors.h: inputs and the host's outputs (%s kernels), written by\n"
               " * tests/gen_firmware_model.c. Generated file. */\n"
               "#define LENET_N_VECTORS %d\n", scalpel_kernels_backend(), N_VECTORS);
    fprintf(f, "static const float lenet_inputs[%d][784] = {", N_VECTORS);
    for (v = 0; v < N_VECTORS; v++) { fputs(v ? ",\n    " : "\n    ", f); put_array(f, in[v], 784); }
    fprintf(f, "\n};\nstatic const float lenet_expected[%d][10] = {", N_VECTORS);
    for (v = 0; v < N_VECTORS; v++) { fputs(v ? ",\n    " : "\n    ", f); put_array(f, out[v], 10); }
    fprintf(f, "\n};\nstatic const int32_t lenet_expected_class[%d] = {", N_VECTORS);
    for (v = 0; v < N_VECTORS; v++) fprintf(f, "%s%d", v ? ", " : " ", (int)cls[v]);
    fputs(" };\n", f);
    if (ferror(f) | fclose(f)) { fprintf(stderr, "gen_firmware_model: writing %s failed\n", path); return 1; }
    printf("gen_firmware_model: %lu weight bytes, classes", (unsigned long)scalpel_net_weight_bytes(&net));
    for (v = 0; v < N_VECTORS; v++) printf(" %d", (int)cls[v]);
    printf(", files in %s\n", argv[1]);
    scalpel_net_free(&net);
    return 0;
}
