/* ---------------------------------------------------------------------------------------- */
/* >>export and import (implementation): C-header export                                     */
/* ---------------------------------------------------------------------------------------- */
/*
 * scalpel_net_export_c writes a header that needs nothing but scalpel.h: arrays named
 * <name>_l<i>_w, _b, _row_ptr, _col_idx, _values (only those a layer has) and
 * `static const scalpel_net <name>`, built with positional initializers so that the same text
 * compiles as C99 and as C++. Floats are printed with 9 significant digits, which reads back
 * as the same float in every conforming compiler, so the firmware computes with exactly the
 * weights the host had. The header refuses, with #error, a scalpel.h whose scalpel_net may
 * be laid out differently (another major.minor version, another model format version).
 */

#ifndef SCALPEL_NO_MALLOC

#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest name accepted: every array name adds at most "_l31_row_ptr" to it, and the
 * result stays well within the 63 significant characters C99 promises for identifiers. */
#define SCALPEL__EX_MAX_NAME 48

/* name must be usable as it stands for `static const scalpel_net name` and as the prefix of the
 * array names: a C identifier, not a keyword of C99 or C++, and not one of the identifiers the
 * standards reserve (leading underscore followed by an underscore or a capital). */
SCALPEL__PRIV int scalpel__ex_name_ok(const char *name)
{
    static const char *const keywords[] = {
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
        "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
        "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
        "typedef", "union", "unsigned", "void", "volatile", "while", "_Bool", "_Complex",
        "_Imaginary", "alignas", "alignof", "and", "and_eq", "asm", "bitand", "bitor", "bool",
        "catch", "char16_t", "char32_t", "class", "compl", "constexpr", "const_cast",
        "decltype", "delete", "dynamic_cast", "explicit", "export", "false", "friend",
        "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr", "operator", "or",
        "or_eq", "private", "protected", "public", "reinterpret_cast", "static_assert",
        "static_cast", "template", "this", "thread_local", "throw", "true", "try", "typeid",
        "typename", "using", "virtual", "wchar_t", "xor", "xor_eq", "NULL" };
    size_t i, n;
    if (name == NULL) return 0;
    n = strlen(name);
    if (n == 0 || n > SCALPEL__EX_MAX_NAME) return 0;
    for (i = 0; i < n; i++) {
        char c = name[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        int digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && i > 0)) return 0;
    }
    if (name[0] == '_' && (name[1] == '_' || (name[1] >= 'A' && name[1] <= 'Z'))) return 0;
    for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
        if (strcmp(name, keywords[i]) == 0) return 0;
    return 1;
}

/* 1 when every weight and bias of the (valid) network is finite: a NaN or an infinity has no
 * portable literal, and a network holding one is a bug to report, not to ship. */
SCALPEL__PRIV int scalpel__ex_finite(const scalpel_net *net)
{
    int32_t i;
    for (i = 0; i < net->n_layers; i++) {
        const scalpel_layer *L = &net->layers[i];
        const float *arrays[2];
        size_t counts[2], j;
        int a;
        if (!scalpel__is_weighted(L->kind)) continue;
        arrays[0] = L->b;
        counts[0] = (size_t)L->rows;
        if (L->storage == SCALPEL_STORAGE_DENSE) {
            arrays[1] = L->w;
            counts[1] = (size_t)L->rows * (size_t)L->cols;
        } else {
            arrays[1] = (const float *)L->sparse.values;
            counts[1] = (size_t)L->sparse.nnz_groups * (size_t)L->sparse.group;
        }
        for (a = 0; a < 2; a++)
            for (j = 0; j < counts[a]; j++) {
                uint32_t bits;
                memcpy(&bits, arrays[a] + j, 4);
                if ((bits & 0x7f800000u) == 0x7f800000u) return 0;
            }
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

/* The integer arrays of a grouped-CSR layer: int32 row pointers, uint16/uint32 columns. */
SCALPEL__PRIV int scalpel__ex_gcsr(FILE *f, const char *name, int32_t layer, const scalpel_gcsr *s)
{
    int32_t j;
    int bad = fprintf(f, "SCALPEL_EXPORT_ALIGN16 static const int32_t %s_l%d_row_ptr[%ld] = {", name, (int)layer,
                      (long)s->rows + 1) < 0;
    for (j = 0; j <= s->rows && !bad; j++)
        bad |= fprintf(f, "%s%ld%s", j % 12 == 0 ? "\n    " : " ", (long)s->row_ptr[j], j < s->rows ? "," : "") < 0;
    bad |= fputs("\n};\n", f) < 0;
    if (s->nnz_groups == 0 || bad) return bad ? -1 : 0;
    bad |= fprintf(f, "SCALPEL_EXPORT_ALIGN16 static const %s %s_l%d_col_idx[%ld] = {",
                   s->index_bits == 16 ? "uint16_t" : "uint32_t", name, (int)layer, (long)s->nnz_groups) < 0;
    for (j = 0; j < s->nnz_groups && !bad; j++)
        bad |= fprintf(f, "%s%luu%s", j % 12 == 0 ? "\n    " : " ", (unsigned long)scalpel_gcsr_col(s, j),
                       j + 1 < s->nnz_groups ? "," : "") < 0;
    bad |= fputs("\n};\n", f) < 0;
    if (bad) return -1;
    return scalpel__ex_floats(f, name, layer, "values", (const float *)s->values,
                              (size_t)s->nnz_groups * (size_t)s->group);
}

/* One positional initializer for net->layers[i] (every field given, so -Wextra's
 * missing-initializer warning stays quiet in C and C++). */
SCALPEL__PRIV int scalpel__ex_layer(FILE *f, const char *name, int32_t i, const scalpel_layer *L)
{
    int bad, weighted = scalpel__is_weighted(L->kind), gcsr = weighted && L->storage == SCALPEL_STORAGE_GCSR;
    char w[80], b[80];
    if (weighted && !gcsr) sprintf(w, "%s_l%d_w", name, (int)i);
    else strcpy(w, "NULL");
    if (weighted) sprintf(b, "%s_l%d_b", name, (int)i);
    else strcpy(b, "NULL");
    bad = fprintf(f, "        { %d, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %d, %s,\n",
                  (int)L->kind, (long)L->in_c, (long)L->in_h, (long)L->in_w, (long)L->out_c, (long)L->out_h,
                  (long)L->out_w, (long)L->kernel, (long)L->stride, (long)L->pad, (long)L->rows, (long)L->cols,
                  (int)L->storage, w) < 0;
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
    bad |= fprintf(f, "          %s, NULL }", b) < 0;
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
        " * allocation (a static workspace of scalpel_net_workspace_size(&%s, batch) bytes). */\n"
        "#ifndef SCALPEL_NET_EXPORT_%s_H\n#define SCALPEL_NET_EXPORT_%s_H\n\n"
        "#if !defined(SCALPEL_H) || !defined(SCALPEL_NET_FORMAT_VERSION)\n"
        "#error \"include scalpel.h before this exported network (%s)\"\n#endif\n"
        "#if SCALPEL_NET_FORMAT_VERSION != %d || SCALPEL_VERSION_NUMBER / 100 != %d\n"
        "#error \"this exported network (%s) was written by Scalpel %s: scalpel_net may differ in this version\"\n"
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
        name, SCALPEL_VERSION_STRING, SCALPEL_NET_FORMAT_VERSION, (long)net->in_c, (long)net->in_h,
        (long)net->in_w, (long)net->n_layers, (unsigned long)scalpel_net_weight_bytes(net), name, name,
        name, name, name, SCALPEL_NET_FORMAT_VERSION, SCALPEL_VERSION_NUMBER / 100, name,
        SCALPEL_VERSION_STRING) < 0;
    for (i = 0; i < net->n_layers && !bad; i++) {
        const scalpel_layer *L = &net->layers[i];
        bad |= fprintf(f, "/* layer %d: %s, %ld x %ld x %ld -> %ld x %ld x %ld%s */\n", (int)i,
                       scalpel_layer_kind_name(L->kind), (long)L->in_c, (long)L->in_h, (long)L->in_w,
                       (long)L->out_c, (long)L->out_h, (long)L->out_w,
                       !scalpel__is_weighted(L->kind) ? ""
                       : L->storage == SCALPEL_STORAGE_DENSE ? ", dense" : ", grouped CSR") < 0;
        if (!scalpel__is_weighted(L->kind) || bad) continue;
        if (L->storage == SCALPEL_STORAGE_DENSE)
            bad |= scalpel__ex_floats(f, name, i, "w", L->w, (size_t)L->rows * (size_t)L->cols) < 0;
        else
            bad |= scalpel__ex_gcsr(f, name, i, &L->sparse) < 0;
        if (!bad) bad |= scalpel__ex_floats(f, name, i, "b", L->b, (size_t)L->rows) < 0;
    }
    if (bad) return -1;
    bad |= fprintf(f, "\nSCALPEL_EXPORT_UNUSED static const scalpel_net %s = {\n    %ld, %ld, %ld, %ld,\n    {\n",
                   name, (long)net->in_c, (long)net->in_h, (long)net->in_w, (long)net->n_layers) < 0;
    for (i = 0; i < net->n_layers && !bad; i++) {
        bad |= scalpel__ex_layer(f, name, i, &net->layers[i]) < 0;
        bad |= fputs(i + 1 < net->n_layers ? ",\n" : "\n", f) < 0;
    }
    if (net->n_layers == 0) /* C forbids empty braces: one all-zero layer, unused */
        bad |= fputs("        { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL,\n"
                     "          { 0, 0, 0, 0, SCALPEL_DTYPE_F32, 0, NULL, NULL, NULL, NULL, NULL }, NULL, NULL }\n", f) < 0;
    bad |= fprintf(f, "    },\n    NULL, NULL\n};\n\n#endif /* SCALPEL_NET_EXPORT_%s_H */\n", name) < 0;
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
    if (!scalpel__ex_name_ok(name)) return SCALPEL_ERR_ARGUMENT;
    if (!scalpel__ex_finite(net)) return SCALPEL_ERR_ARGUMENT;
    st = scalpel__nf_tmp_open(path, net->alloc_ctx, &tmp, &f);
    if (st != SCALPEL_OK) return st;
    if (scalpel__ex_write(f, net, name) != 0) st = SCALPEL_ERR_IO;
    return scalpel__nf_tmp_close(f, tmp, path, net->alloc_ctx, st);
}

#ifdef __cplusplus
}
#endif

#endif /* SCALPEL_NO_MALLOC */
