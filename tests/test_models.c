/* test_models.c - the trained models in models/ (the MNIST reproduction's LeNets, a DS-CNN
 * trained on Fashion-MNIST) still load, validate, and score on their test set what
 * models/manifest.txt records for them.
 *
 *   test_models MODELS_DIR [MNIST_DIR | -] [FASHION_MNIST_DIR | -]
 *
 * manifest.txt: one line per model, "FILE ERRORS [DATA]", ERRORS = misclassified test images
 * out of 10000 when the model was saved, DATA = mnist (the default) or fashion-mnist. Every
 * model must load (scalpel_net_load checks the CRC and every record) and be a 1x28x28 -> 10
 * network. With its data set (MNIST_DIR, else $SCALPEL_MNIST_DIR; FASHION_MNIST_DIR, else
 * $SCALPEL_FASHION_MNIST_DIR, else fashion-mnist beside the MNIST directory; "-" = none) its
 * errors must be within 3 of the manifest: another CPU's kernels sum in another order, which
 * may move a borderline image or two, not more. */
#define SCALPEL_IMPLEMENTATION
#include "scalpel_train.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int32_t count_errors(const scalpel_net *net, const scalpel_dataset *ds)
{
    enum { B = 100 };
    int32_t in = scalpel_net_input_size(net), s, b, k, errors = 0;
    size_t ws_size = scalpel_net_workspace_size(net, B);
    float *x = (float *)malloc((size_t)B * (size_t)in * sizeof(float)), *y = (float *)malloc((size_t)B * 10 * sizeof(float));
    void *ws = malloc(ws_size ? ws_size : 1);
    if (!x || !y || !ws || ws_size == 0) { free(x); free(y); free(ws); return -1; }
    for (s = 0; s < ds->n; s += B) {
        int32_t nb = ds->n - s < B ? ds->n - s : B;
        for (b = 0; b < nb; b++)
            for (k = 0; k < in; k++) x[(size_t)b * (size_t)in + (size_t)k] = ds->x[(size_t)(s + b) * (size_t)in + (size_t)k];
        if (scalpel_net_forward(net, x, nb, y, ws) != SCALPEL_OK) { errors = -1; break; }
        for (b = 0; b < nb; b++)
            if (scalpel_argmax_f32(y + (size_t)b * 10, 10) != (int32_t)ds->y[s + b]) errors++;
    }
    free(x);
    free(y);
    free(ws);
    return errors;
}

int main(int argc, char **argv)
{
    char path[1024], line[512], file[256], data[32], fashion_dir[1024];
    const char *dir, *mnist, *fashion;
    FILE *mf;
    scalpel_dataset test, ftest;
    int have_mnist = 0, have_fashion = 0, models = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: test_models MODELS_DIR [MNIST_DIR | -] [FASHION_MNIST_DIR | -]\n");
        return 2;
    }
    dir = argv[1];
    mnist = argc > 2 ? argv[2] : getenv("SCALPEL_MNIST_DIR");
    fashion = argc > 3 ? argv[3] : getenv("SCALPEL_FASHION_MNIST_DIR");
    if (fashion == NULL && mnist && strcmp(mnist, "-") != 0) { /* beside MNIST: DIR/../fashion-mnist */
        snprintf(fashion_dir, sizeof fashion_dir, "%s/../fashion-mnist", mnist);
        fashion = fashion_dir;
    }
    memset(&test, 0, sizeof test);
    memset(&ftest, 0, sizeof ftest);
    if (mnist && strcmp(mnist, "-") != 0) have_mnist = scalpel_dataset_mnist(mnist, 0, &test) == SCALPEL_OK;
    if (fashion && strcmp(fashion, "-") != 0) have_fashion = scalpel_dataset_mnist(fashion, 0, &ftest) == SCALPEL_OK;
    if (!have_mnist) printf("no MNIST (give its directory or set SCALPEL_MNIST_DIR): only loading the MNIST models\n");
    if (!have_fashion)
        printf("no Fashion-MNIST (give its directory or set SCALPEL_FASHION_MNIST_DIR): only loading its models\n");
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    mf = fopen(path, "r");
    CHECK(mf != NULL, "%s opens", path);
    while (mf && fgets(line, sizeof line, mf)) {
        scalpel_net net;
        scalpel_status st;
        int want = -1, fields, fashion_model;
        if (line[0] == '#' || line[0] == '\n') continue;
        strcpy(data, "mnist");
        fields = sscanf(line, "%255s %d %31s", file, &want, data);
        if (fields < 2 || (strcmp(data, "mnist") != 0 && strcmp(data, "fashion-mnist") != 0)) {
            CHECK(0, "manifest line: %s", line);
            continue;
        }
        fashion_model = strcmp(data, "fashion-mnist") == 0;
        models++;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        st = scalpel_net_load(path, &net);
        CHECK(st == SCALPEL_OK, "%s loads: %s", path, scalpel_status_string(st));
        if (st != SCALPEL_OK) continue;
        CHECK(scalpel_net_validate(&net) == SCALPEL_OK, "%s validates", file);
        CHECK(scalpel_net_input_size(&net) == 784 && scalpel_net_output_size(&net) == 10, "%s is 784 -> 10", file);
        if (fashion_model ? have_fashion : have_mnist) {
            int32_t got = count_errors(&net, fashion_model ? &ftest : &test);
            CHECK(got >= 0 && abs(got - want) <= 3, "%s: %d test errors, manifest %d", file, (int)got, want);
            printf("%-32s %5d errors (manifest %d), %lu weight bytes\n", file, (int)got, want,
                   (unsigned long)scalpel_net_weight_bytes(&net));
        }
        scalpel_net_free(&net);
    }
    if (mf) fclose(mf);
    CHECK(models >= 1, "the manifest lists models (%d)", models);
    scalpel_dataset_free(&test);
    scalpel_dataset_free(&ftest);
    return test_summary("test_models");
}
