/* export_names.c - the names the C export (scalpel_net_export_c, scalpel_qnet_export_c) accepts
 * and refuses, and its refusal of a network with no layers. Run by tests/export_names.sh:
 *
 *   export_names DIR        checks every refused name below is refused, by both exports and by
 *                           scalpel_export_name_problem with the reason given here, and nothing
 *                           written; that networks with no layers are refused; then exports a
 *                           small network (float, f_NAME.h, and q15, q_NAME.h) under each
 *                           accepted name and writes DIR/export_names_index.h (the includes
 *                           and a table of the networks) and DIR/export_names_q.c, for
 *                           tests/export_names_check.c to compile.
 *   export_names --refused  reads names, one a line, and prints those it would accept (to
 *                           check that every name the headers define here is refused).
 */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

/* A name to refuse and (a part of) the reason it must get. */
static const char *const refused[][2] = {
    { "typeof", "is a C23 and GNU C keyword" },
    { "typeof_unqual", "is a C23 keyword" },
    { "unix", "is a macro compilers commonly predefine" },
    { "linux", "is a macro compilers commonly predefine" },
    { "i386", "is a macro compilers commonly predefine" },
    { "concept", "is a C++20 keyword" },
    { "requires", "is a C++20 keyword" },
    { "char8_t", "is a C++20 keyword" },
    { "co_await", "is a C++20 keyword" },
    { "co_yield", "is a C++20 keyword" },
    { "co_return", "is a C++20 keyword" },
    { "consteval", "is a C++20 keyword" },
    { "constinit", "is a C++20 keyword" },
    { "_Atomic", "is a C11 keyword" },
    { "_Static_assert", "is a C11 keyword" },
    { "nullptr", "is a C23 and C++ keyword" },
    { "constexpr", "is a C23 and C++ keyword" },
    { "bool", "is a C23 and C++ keyword" },
    { "true", "is a C23 and C++ keyword" },
    { "int", "is a C keyword" },
    { "restrict", "is a C99 keyword" },
    { "class", "is a C++ keyword" },
    { "and", "is a C++ keyword" },
    { "asm", "is a C++ and GNU C keyword" },
    { "module", "is special in C++20" },
    { "defined", "is a preprocessor operator" },
    { "scalpel_net", "is reserved for the library: scalpel_ prefix" },
    { "scalpel_layer", "is reserved for the library: scalpel_ prefix" },
    { "SCALPEL_H", "is reserved for the library: SCALPEL_ prefix" },
    { "scalpel", "its array names would take the scalpel_ prefix" },
    { "simde_mm_add_ps", "is reserved for SIMDe" },
    { "int8_t", "is a name <stdint.h> defines" },
    { "uint32_t", "is a name <stdint.h> defines" },
    { "INT32_MAX", "is a name <stdint.h> defines" },
    { "SIZE_MAX", "is a name <stdint.h> defines" },
    { "size_t", "is a name <stddef.h> defines" },
    { "NULL", "is a name <stddef.h> defines" },
    { "offsetof", "is a name <stddef.h> defines" },
    { "memcpy", "is a name <string.h> defines" },
    { "index", "is a name <string.h> defines" },
    { "stdin", "is a name <stdio.h> defines" },
    { "stderr", "is a name <stdio.h> defines" },
    { "EOF", "is a name <stdio.h> defines" },
    { "FILE", "is a name <stdio.h> defines" },
    { "printf", "is a name <stdio.h> defines" },
    { "getc_unlocked", "is a name <stdio.h> defines" },
    { "malloc", "is a name <stdlib.h> defines" },
    { "free", "is a name <stdlib.h> defines" },
    { "abs", "is a name <stdlib.h> defines" },
    { "rand_r", "is a name <stdlib.h> defines" },
    { "exp", "is a name <math.h> defines" },
    { "sinf", "is a name <math.h> defines" },
    { "y1", "is a name <math.h> defines" },
    { "lgammaf_r", "is a name <math.h> defines" },
    { "M_PI", "is a name <math.h> defines" },
    { "FP_NAN", "is reserved by <math.h>: FP_ prefix" },
    { "FLT_MAX", "is reserved by <float.h>: FLT_ prefix" },
    { "FP", "<name>_WORKSPACE_BYTES would take the FP_ prefix" },
    { "INT_MAX", "is a name <limits.h> defines" },
    { "CHAR_BIT", "is a name <limits.h> defines" },
    { "errno", "is a name <errno.h> defines" },
    { "assert", "is a name <assert.h> defines" },
    { "timezone", "is a name <time.h> defines" },
    { "uint", "is a name <sys/types.h> defines" },
    { "pthread_t", "is reserved by POSIX: pthread_ prefix" },
    { "pthread_mutex", "is reserved by POSIX: pthread_ prefix" },
    { "my_type_t", "ends in _t" },
    { "NET_MAX", "ends in _MAX" },
    { "main", "is main" },
    { "std", "is the C++ standard library's namespace" },
    { "a__b", "is reserved: double underscore" },
    { "__net", "is reserved: an underscore followed by a capital or another underscore" },
    { "_Foo", "is reserved: an underscore followed by a capital or another underscore" },
    { "_foo", "is reserved at file scope: leading underscore" },
    { "net_", "ends with an underscore" },
    { "net_layers", "has the form of an exported array name" },
    { "lenet_l3_w", "has the form of an exported array name" },
    { "lenet_l12_row_ptr", "has the form of an exported array name" },
    { "net_WORKSPACE_BYTES", "has the form of an exported array name" },
    { "n1234567890123456789012345678901234567890123456789", "is longer than 48 characters" },
    { "", "is empty" },
    { "2net", "is not a C identifier" },
    { "my-net", "is not a C identifier" },
    { "caf\xc3\xa9", "is not a C identifier" } };

/* Names that must be accepted (and compile: tests/export_names_check.c). */
static const char *const accepted[] = {
    "model", "lenet5", "Net_2", "my_scalpel", "x", "M", "FPnet", "FP_net", "net_l0", "layers", "EMNIST", "kws_tiny",
    "n12345678901234567890123456789012345678901234567" };
#define N_ACCEPTED ((int)(sizeof(accepted) / sizeof(accepted[0])))

#define IN_N 12
#define HIDDEN 8
#define OUT_N 3

/* A 12 -> 8 -> relu -> 3 network with fixed pseudo-random weights. */
static int build(scalpel_net *net)
{
    float w1[HIDDEN * IN_N], b1[HIDDEN], w2[OUT_N * HIDDEN], b2[OUT_N];
    int i;
    for (i = 0; i < HIDDEN * IN_N; i++) w1[i] = test_uniform();
    for (i = 0; i < HIDDEN; i++) b1[i] = 0.1f * test_uniform();
    for (i = 0; i < OUT_N * HIDDEN; i++) w2[i] = test_uniform();
    for (i = 0; i < OUT_N; i++) b2[i] = 0.1f * test_uniform();
    return scalpel_net_init(1, 3, 4, net) == SCALPEL_OK && scalpel_net_add_fc(net, HIDDEN, w1, b1) == SCALPEL_OK &&
           scalpel_net_add_relu(net) == SCALPEL_OK && scalpel_net_add_fc(net, OUT_N, w2, b2) == SCALPEL_OK;
}

/* 1 when an export gave `want` and wrote nothing at path (removed, so that a failure
 * counts once). */
static int refused_by(scalpel_status st, scalpel_status want, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    remove(path);
    return st == want && f == NULL;
}

/* The names on stdin that would be accepted; 1 when there is one. */
static int check_refused(void)
{
    char line[512];
    int bad = 0;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] && scalpel_export_name_problem(line) == NULL) {
            printf("accepted: %s\n", line);
            bad = 1;
        }
    }
    return bad;
}

int main(int argc, char **argv)
{
    scalpel_net net, empty;
    scalpel_qnet q, qempty;
    scalpel_quant_options opt;
    float calib[16 * IN_N];
    char path[600], probe[600];
    const char *dir;
    FILE *index;
    size_t i;
    if (argc == 2 && strcmp(argv[1], "--refused") == 0) return check_refused();
    if (argc != 2) {
        fprintf(stderr, "usage: export_names DIR | export_names --refused < NAMES\n");
        return 2;
    }
    dir = argv[1];
    if (!build(&net)) {
        printf("cannot build the network\n");
        return 1;
    }
    for (i = 0; i < sizeof calib / sizeof calib[0]; i++) calib[i] = test_uniform();
    memset(&opt, 0, sizeof(opt));
    opt.dtype = SCALPEL_DTYPE_Q15;
    CHECK(scalpel_qnet_quantize(&net, &opt, calib, 16, &q) == SCALPEL_OK, "quantize");
    sprintf(probe, "%s/refused.h", dir);
    remove(probe);

    /* 1. refused names: the reason, and both exports refuse them without writing anything */
    CHECK(scalpel_export_name_problem(NULL) != NULL, "NULL is refused");
    for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const char *name = refused[i][0], *want = refused[i][1], *why = scalpel_export_name_problem(name);
        CHECK(why != NULL && strstr(why, want) != NULL, "'%s': reason '%s', expected '%s'", name, why ? why : "(none)",
              want);
        CHECK(refused_by(scalpel_net_export_c(&net, name, probe), SCALPEL_ERR_ARGUMENT, probe),
              "'%s': refused by scalpel_net_export_c", name);
        CHECK(refused_by(scalpel_qnet_export_c(&q, name, probe), SCALPEL_ERR_ARGUMENT, probe),
              "'%s': refused by scalpel_qnet_export_c", name);
    }

    /* 2. a network with no layers: refused (SCALPEL_ERR_SHAPE), float and fixed point */
    CHECK(scalpel_net_init(1, 3, 4, &empty) == SCALPEL_OK && scalpel_net_validate(&empty) == SCALPEL_OK,
          "an empty network is valid");
    CHECK(refused_by(scalpel_net_export_c(&empty, "empty", probe), SCALPEL_ERR_SHAPE, probe),
          "export of a network with no layers refused");
    CHECK(scalpel_qnet_quantize(&empty, &opt, calib, 16, &qempty) == SCALPEL_OK && qempty.n_layers == 0 &&
              scalpel_qnet_validate(&qempty) == SCALPEL_OK,
          "an empty network quantizes to an empty, valid qnet");
    CHECK(refused_by(scalpel_qnet_export_c(&qempty, "empty", probe), SCALPEL_ERR_SHAPE, probe),
          "export of a fixed-point network with no layers refused");
    scalpel_qnet_free(&qempty);
    scalpel_net_free(&empty);

    /* 3. accepted names: exported, with an index for tests/export_names_check.c */
    sprintf(path, "%s/export_names_index.h", dir);
    index = fopen(path, "w");
    CHECK(index != NULL, "open %s", path);
    if (index == NULL) return test_summary("export_names");
    fprintf(index, "/* written by tests/export_names.c */\n#ifdef EXPORT_NAMES_Q\n");
    for (i = 0; i < (size_t)N_ACCEPTED; i++) {
        const char *why = scalpel_export_name_problem(accepted[i]);
        CHECK(why == NULL, "'%s' accepted (%s)", accepted[i], why ? why : "");
        sprintf(path, "%s/q_%s.h", dir, accepted[i]);
        CHECK(scalpel_qnet_export_c(&q, accepted[i], path) == SCALPEL_OK, "q export as '%s'", accepted[i]);
        fprintf(index, "#include \"q_%s.h\"\n", accepted[i]);
    }
    fprintf(index, "static const scalpel_qnet *const export_names_qnets[] = {\n");
    for (i = 0; i < (size_t)N_ACCEPTED; i++) fprintf(index, "    &%s,\n", accepted[i]);
    fprintf(index, "};\nstatic const size_t export_names_ws[] = {\n");
    for (i = 0; i < (size_t)N_ACCEPTED; i++) fprintf(index, "    %s_WORKSPACE_BYTES,\n", accepted[i]);
    fprintf(index, "};\n#else\n");
    for (i = 0; i < (size_t)N_ACCEPTED; i++) {
        sprintf(path, "%s/f_%s.h", dir, accepted[i]);
        CHECK(scalpel_net_export_c(&net, accepted[i], path) == SCALPEL_OK, "export as '%s'", accepted[i]);
        fprintf(index, "#include \"f_%s.h\"\n", accepted[i]);
    }
    fprintf(index, "static const scalpel_net *const export_names_nets[] = {\n");
    for (i = 0; i < (size_t)N_ACCEPTED; i++) fprintf(index, "    &%s,\n", accepted[i]);
    fprintf(index, "};\n#endif\n#define EXPORT_NAMES_COUNT %d\n#define EXPORT_NAMES_IN %d\n#define EXPORT_NAMES_OUT %d\n",
            N_ACCEPTED, IN_N, OUT_N);
    CHECK(fclose(index) == 0, "write the index");
    sprintf(path, "%s/export_names_q.c", dir);
    index = fopen(path, "w");
    CHECK(index != NULL && fputs("#define EXPORT_NAMES_Q 1\n#include \"export_names_check.c\"\n", index) >= 0 &&
              fclose(index) == 0,
          "write %s", path);
    scalpel_qnet_free(&q);
    scalpel_net_free(&net);
    return test_summary("export_names");
}
