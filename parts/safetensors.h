/* parts/safetensors.h: implementation part of scalpel.h (merged into it before release) */

/* ======================================================================================== */
/* >>safetensors                                                                             */
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

SCALPEL__PRIV uint64_t scalpel__st_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    int k;
    for (k = 7; k >= 0; k--) v = (v << 8) | p[k];
    return v;
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
    hlen = scalpel__st_u64le(bytes);
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
            bits = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
            memcpy(&out[i], &bits, sizeof(bits));
        } else {
            p = t->data + (size_t)i * 2;
            bits = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
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
    uint64_t hlen = scalpel__st_u64le(bytes);
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

/* Whether every float of x[n] is finite (exponent field not all ones). */
SCALPEL__PRIV int scalpel__st_finite(const float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof(bits));
        if ((bits & 0x7F800000u) == 0x7F800000u) return 0;
    }
    return 1;
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
        if (!scalpel__is_weighted(L->kind)) continue;
        if (L->rows <= 0 || L->cols <= 0) return SCALPEL_ERR_ARGUMENT;
        if ((size_t)L->rows > (SIZE_MAX / sizeof(float) - total) / ((size_t)L->cols + 1))
            return SCALPEL_ERR_OVERFLOW;
        off_w[n_weighted] = total;
        off_b[n_weighted] = total + (size_t)L->rows * (size_t)L->cols;
        total += (size_t)L->rows * ((size_t)L->cols + 1);
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
        /* insertion sort: at most 32 names */
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
        if (L->kind == SCALPEL_LAYER_FC) {
            if (t.ndim != 2 || t.shape[0] != L->rows || t.shape[1] != L->cols) { st = SCALPEL_ERR_SHAPE; goto fail; }
        } else {
            if (t.ndim != 4 || t.shape[0] != L->rows || t.shape[1] != L->in_c ||
                t.shape[2] != L->kernel || t.shape[3] != L->kernel || t.count != (int64_t)L->rows * L->cols) {
                st = SCALPEL_ERR_SHAPE;
                goto fail;
            }
        }
        if ((st = scalpel_safetensors_read_f32(&t, tmp + off_w[i], t.count)) != SCALPEL_OK) goto fail;
        memcpy(name + plen, ".bias", 6);
        st = scalpel__st_find(data, size, name, plen + 5, &t);
        if (st == SCALPEL_ERR_ARGUMENT) {
            memset(tmp + off_b[i], 0, (size_t)L->rows * sizeof(float));
        } else if (st != SCALPEL_OK) {
            goto fail;
        } else {
            if (t.ndim != 1 || t.shape[0] != L->rows) { st = SCALPEL_ERR_SHAPE; goto fail; }
            if ((st = scalpel_safetensors_read_f32(&t, tmp + off_b[i], t.count)) != SCALPEL_OK) goto fail;
        }
        if (!scalpel__st_finite(tmp + off_w[i], (size_t)L->rows * ((size_t)L->cols + 1))) {
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
