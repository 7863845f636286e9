/* The per-row work of ``kasda verify --export`` in one pass (an optional accelerator of
 * kasda/export.py, whose Python checks stay the definition of what is checked).
 *
 * check_rows(positions, versions, columns, jsonl, start, end, previous) takes one slice of
 * events.parquet (positions and versions as int64 buffers; the eight text columns aggregate_id,
 * aggregate_type, event, topic, state_b64, digest, chain_hash, body as Arrow C streams of one
 * chunk each) and the slice's lines of events.jsonl (the bytes ``jsonl[start:end]``), and for every
 * row checks what the fast path checks in Python: the column formats (canonical UUID, lowercase
 * hex, canonical base64, aggregate_type and event from the topic, position > 0, version >= 0), the
 * digest and the link (SHA-256, from the stored link before), the decoded body against the stored
 * bytes, and that the row's line of events.jsonl is, byte for byte, the exporter's rendering of it.
 *
 * It returns None when the slice does not hold (or is not certainly in the export's shape): the
 * caller then hands the export to the exact walks, which name the first problem. Otherwise
 * (head, bodies, lines): the last link, the rows whose body it could not vouch for (the caller
 * checks them in Python: an encrypted body, a float written otherwise, anything unusual) and the
 * rows whose line it could not render with certainty (index, line start, line end: the caller
 * renders them in Python). It vouches only for what it is certain of: a body is equal only when
 * both texts are JSON of a strict subset and plain_json's value of the stored one equals the body
 * value for value (numbers by identical text, strings by code points, dicts by key); anything else
 * is DECLINED, never judged.
 *
 * body_vouched(body, state) is the body check alone (True: certainly equal; False: declined),
 * line_ends(jsonl, start, count) the offset after ``count`` more lines (-1: fewer lines).
 *
 * The rows are checked with the GIL released.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <Python.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

/* -- Arrow C data interface ------------------------------------------------------------------ */
struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
    const char *(*get_last_error)(struct ArrowArrayStream *);
    void (*release)(struct ArrowArrayStream *);
    void *private_data;
};

enum { VIEW, LARGE, SMALL };

typedef struct {
    struct ArrowArray array; /* array.release == NULL: nothing held */
    int kind;
    int64_t length, offset, n_data;
    const uint8_t *views;
    const int64_t *large;
    const int32_t *small;
    const char *data;
    const char *const *buffers; /* VIEW: the data buffers */
    const int64_t *sizes;       /* VIEW: their sizes */
} Column;

/* One text of a column: 0 when it is out of its buffers (never expected from Polars). */
static inline int text_at(const Column *c, int64_t i, const char **p, size_t *n) {
    int64_t at = i + c->offset;
    if (c->kind == VIEW) {
        const uint8_t *v = c->views + 16 * at;
        int32_t len, index, off;
        memcpy(&len, v, 4);
        if (len < 0) return 0;
        if (len <= 12) {
            *p = (const char *)v + 4;
            *n = (size_t)len;
            return 1;
        }
        memcpy(&index, v + 8, 4);
        memcpy(&off, v + 12, 4);
        if (index < 0 || index >= c->n_data || off < 0 || (int64_t)off + len > c->sizes[index])
            return 0;
        *p = c->buffers[index] + off;
        *n = (size_t)len;
        return 1;
    }
    int64_t a, b;
    if (c->kind == LARGE) {
        a = c->large[at];
        b = c->large[at + 1];
    } else {
        a = c->small[at];
        b = c->small[at + 1];
    }
    if (a < 0 || b < a) return 0;
    *p = c->data + a;
    *n = (size_t)(b - a);
    return 1;
}

static void release_column(Column *c) {
    if (c->array.release != NULL) c->array.release(&c->array);
    c->array.release = NULL;
}

/* The column from an Arrow C stream capsule: exactly one chunk of ``length`` texts, no NULL. */
static int open_column(PyObject *capsule, Column *c, int64_t length) {
    memset(c, 0, sizeof *c);
    struct ArrowArrayStream *stream = PyCapsule_GetPointer(capsule, "arrow_array_stream");
    if (stream == NULL) return -1;
    struct ArrowSchema schema;
    memset(&schema, 0, sizeof schema);
    if (stream->get_schema(stream, &schema) != 0) {
        PyErr_SetString(PyExc_ValueError, "the column's schema cannot be read");
        return -1;
    }
    int kind = -1;
    if (strcmp(schema.format, "vu") == 0) kind = VIEW;
    else if (strcmp(schema.format, "U") == 0) kind = LARGE;
    else if (strcmp(schema.format, "u") == 0) kind = SMALL;
    if (schema.release != NULL) schema.release(&schema);
    if (kind < 0) return 0;
    if (stream->get_next(stream, &c->array) != 0 || c->array.release == NULL) {
        c->array.release = NULL;
        return 0;
    }
    struct ArrowArray extra;
    memset(&extra, 0, sizeof extra);
    if (stream->get_next(stream, &extra) != 0) return 0;
    if (extra.release != NULL) {
        extra.release(&extra);
        return 0; /* more than one chunk */
    }
    struct ArrowArray *a = &c->array;
    if (a->length != length || a->null_count != 0 || a->offset < 0) return 0;
    c->kind = kind;
    c->length = a->length;
    c->offset = a->offset;
    if (kind == VIEW) {
        if (a->n_buffers < 3) return 0;
        c->views = a->buffers[1];
        c->n_data = a->n_buffers - 3;
        c->buffers = (const char *const *)(a->buffers + 2);
        c->sizes = a->buffers[a->n_buffers - 1];
        if (c->views == NULL && length) return 0;
    } else {
        if (a->n_buffers != 3) return 0;
        if (kind == LARGE) c->large = a->buffers[1];
        else c->small = a->buffers[1];
        c->data = a->buffers[2];
        if ((c->large == NULL && c->small == NULL) || (c->data == NULL && length)) return 0;
    }
    return 1;
}

/* -- growing buffers -------------------------------------------------------------------------- */
typedef struct {
    char *data;
    size_t size, capacity;
} Buffer;

static int reserve(Buffer *b, size_t more) {
    if (b->size + more <= b->capacity) return 1;
    size_t capacity = b->capacity ? b->capacity : 4096;
    while (capacity < b->size + more) capacity *= 2;
    char *data = realloc(b->data, capacity);
    if (data == NULL) return 0;
    b->data = data;
    b->capacity = capacity;
    return 1;
}

static inline int put(Buffer *b, const void *p, size_t n) {
    if (!reserve(b, n)) return 0;
    memcpy(b->data + b->size, p, n);
    b->size += n;
    return 1;
}

/* -- JSON, parsed into a tape of nodes --------------------------------------------------------- */
enum { J_OBJ = 1, J_ARR, J_STR, J_INT, J_FLT, J_TRUE, J_FALSE, J_NULL };
#define MAX_NODES 8192
#define MAX_DEPTH 32
#define MAX_MEMBERS 64 /* per object: the comparison keeps them on the stack, per level */
#define MAX_DIGITS 640 /* below any limit Python may set on int(str) */

typedef struct {
    uint8_t type;
    uint8_t flag;   /* string: has escapes; object: keys strictly increasing */
    uint32_t start; /* string: first byte inside the quotes; number: first byte */
    uint32_t len;   /* string: bytes inside the quotes; number: its text */
    uint32_t count; /* containers: children (an object's keys and values both) */
    uint32_t next;  /* the node after this one's subtree */
} Node;

typedef struct {
    const uint8_t *s;
    size_t n, p;
    Node *nodes;
    uint32_t used;
    int depth;
    int body;   /* the body text: check whether it is json.dumps' own (ASCII, sorted) output */
    int canon;  /* still json.dumps(..., sort_keys=True) output, with ensure_ascii */
} Parser;

/* Bytes a JSON string holds as they are, with no check: printable ASCII but " and \\. */
static uint8_t PLAIN[256];

static inline int hexval(uint8_t ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static inline int hex4(const uint8_t *s, int *lower) {
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(s[k]);
        if (h < 0) return -1;
        if (s[k] >= 'A' && s[k] <= 'F') *lower = 0;
        v = v * 16 + h;
    }
    return v;
}

/* Strict UTF-8 of one character at s[0..n): its length, or 0 (overlong, surrogate, too big). */
static inline size_t utf8_char(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        if (n >= 2 && (s[1] & 0xC0) == 0x80) return 2;
        return 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;
        if (c == 0xED && s[1] >= 0xA0) return 0; /* a surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;
        if (c == 0xF4 && s[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

static inline size_t put_code(uint8_t *out, uint32_t cp) {
    /* UTF-8, surrogates included (as Python's str holds them): one code point, one sequence */
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* The code points of a JSON string's content (escapes already validated), as json.loads makes
 * them (a high surrogate escape followed by a low one is one character), in UTF-8 into ``out``
 * (at least ``len`` bytes: no escape grows). Returns the length. */
static size_t decode_string(const uint8_t *s, size_t len, uint8_t *out) {
    size_t i = 0, o = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c != '\\') {
            out[o++] = c;
            i++;
            continue;
        }
        uint8_t e = s[i + 1];
        if (e != 'u') {
            uint8_t v = e;
            switch (e) {
            case 'b': v = '\b'; break;
            case 'f': v = '\f'; break;
            case 'n': v = '\n'; break;
            case 'r': v = '\r'; break;
            case 't': v = '\t'; break;
            default: break; /* " \ / */
            }
            out[o++] = v;
            i += 2;
            continue;
        }
        int lower = 1;
        uint32_t cp = (uint32_t)hex4(s + i + 2, &lower);
        i += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= len && s[i] == '\\' && s[i + 1] == 'u') {
            uint32_t low = (uint32_t)hex4(s + i + 2, &lower);
            if (low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                i += 6;
            }
        }
        o += put_code(out + o, cp);
    }
    return o;
}

static inline size_t skip_ws(Parser *P) {
    size_t from = P->p;
    while (P->p < P->n) {
        uint8_t c = P->s[P->p];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        P->p++;
    }
    return P->p - from;
}

/* In the body: whitespace other than json.dumps' own (``one``: exactly one space) is not its
 * output. */
static inline void ws_canon(Parser *P, size_t skipped, int one) {
    if (one ? (skipped != 1 || P->s[P->p - 1] != ' ') : skipped != 0) P->canon = 0;
}

static int parse_value(Parser *P);

static int parse_string(Parser *P) {
    /* at the opening quote */
    size_t i = P->p + 1;
    const uint8_t *s = P->s;
    int esc = 0;
    while (1) {
        while (i < P->n && PLAIN[s[i]]) i++;
        if (i >= P->n) return 0;
        uint8_t c = s[i];
        if (c == '"') break;
        if (c < 0x20) return 0; /* json's strict mode refuses it */
        if (c == '\\') {
            if (i + 1 >= P->n) return 0;
            uint8_t e = s[i + 1];
            esc = 1;
            if (e == 'u') {
                if (i + 6 > P->n) return 0;
                int lower = 1;
                int cp = hex4(s + i + 2, &lower);
                if (cp < 0) return 0;
                if (P->body) {
                    if (!lower) P->canon = 0;
                    if (cp >= 0xDC00 && cp <= 0xDFFF) P->canon = 0; /* a low one alone */
                    else if (cp >= 0xD800 && cp <= 0xDBFF) {
                        int low = -1;
                        if (i + 12 <= P->n && s[i + 6] == '\\' && s[i + 7] == 'u')
                            low = hex4(s + i + 8, &lower);
                        if (low < 0xDC00 || low > 0xDFFF) P->canon = 0; /* a lone high one */
                        else i += 6;                                    /* the pair */
                        if (!lower) P->canon = 0;
                    } else if (cp >= 0x20 && cp < 0x7F) P->canon = 0;
                    else if (cp == '\b' || cp == '\f' || cp == '\n' || cp == '\r' || cp == '\t')
                        P->canon = 0;
                }
                i += 6;
                continue;
            }
            if (e == '/') P->canon = 0;
            else if (!(e == '"' || e == '\\' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                       e == 't'))
                return 0;
            i += 2;
            continue;
        }
        if (c >= 0x80) { /* json.dumps without ensure_ascii writes it as it is, too */
            size_t k = utf8_char(s + i, P->n - i);
            if (k == 0) return 0;
            i += k;
            continue;
        }
        i++;
    }
    if (P->used >= MAX_NODES) return 0;
    Node *node = &P->nodes[P->used++];
    node->type = J_STR;
    node->flag = (uint8_t)esc;
    node->start = (uint32_t)(P->p + 1);
    node->len = (uint32_t)(i - P->p - 1);
    node->count = 0;
    node->next = P->used;
    P->p = i + 1;
    return 1;
}

static int parse_number(Parser *P) {
    const uint8_t *s = P->s;
    size_t i = P->p, from = P->p;
    int flt = 0;
    if (i < P->n && s[i] == '-') i++;
    if (i >= P->n) return 0;
    if (s[i] == '0') i++;
    else if (s[i] >= '1' && s[i] <= '9') {
        while (i < P->n && s[i] >= '0' && s[i] <= '9') i++;
    } else return 0;
    if (i < P->n && s[i] == '.') {
        i++;
        if (i >= P->n || s[i] < '0' || s[i] > '9') return 0;
        while (i < P->n && s[i] >= '0' && s[i] <= '9') i++;
        flt = 1;
    }
    if (i < P->n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < P->n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= P->n || s[i] < '0' || s[i] > '9') return 0;
        while (i < P->n && s[i] >= '0' && s[i] <= '9') i++;
        flt = 1;
    }
    if (i - from > MAX_DIGITS) return 0;
    if (P->used >= MAX_NODES) return 0;
    Node *node = &P->nodes[P->used++];
    node->type = flt ? J_FLT : J_INT;
    node->flag = 0;
    node->start = (uint32_t)from;
    node->len = (uint32_t)(i - from);
    node->count = 0;
    node->next = P->used;
    if (P->body && (flt || (i - from == 2 && s[from] == '-' && s[from + 1] == '0'))) P->canon = 0;
    P->p = i;
    return 1;
}

static int literal(Parser *P, const char *word, uint8_t type) {
    size_t k = strlen(word);
    if (P->n - P->p < k || memcmp(P->s + P->p, word, k) != 0) return 0;
    if (P->used >= MAX_NODES) return 0;
    Node *node = &P->nodes[P->used++];
    node->type = type;
    node->flag = 0;
    node->start = (uint32_t)P->p;
    node->len = (uint32_t)k;
    node->count = 0;
    node->next = P->used;
    P->p += k;
    return 1;
}

static int parse_container(Parser *P, int object) {
    if (++P->depth > MAX_DEPTH || P->used >= MAX_NODES) return 0;
    uint32_t me = P->used++;
    P->nodes[me].type = object ? J_OBJ : J_ARR;
    P->nodes[me].flag = 1;
    P->nodes[me].start = (uint32_t)P->p;
    uint32_t count = 0;
    P->p++;
    size_t w = skip_ws(P);
    char close = object ? '}' : ']';
    if (P->p < P->n && P->s[P->p] == (uint8_t)close) {
        if (P->body) ws_canon(P, w, 0);
        P->p++;
    } else {
        if (P->body) ws_canon(P, w, 0);
        while (1) {
            if (object) {
                if (P->p >= P->n || P->s[P->p] != '"') return 0;
                if (!parse_string(P)) return 0;
                w = skip_ws(P);
                if (P->body) ws_canon(P, w, 0);
                if (P->p >= P->n || P->s[P->p] != ':') return 0;
                P->p++;
                w = skip_ws(P);
                if (P->body) ws_canon(P, w, 1);
                count++;
            }
            if (!parse_value(P)) return 0;
            count++;
            w = skip_ws(P);
            if (P->body) ws_canon(P, w, 0);
            if (P->p >= P->n) return 0;
            uint8_t c = P->s[P->p];
            if (c == ',') {
                P->p++;
                w = skip_ws(P);
                if (P->body) ws_canon(P, w, 1);
                continue;
            }
            if (c != (uint8_t)close) return 0;
            P->p++;
            break;
        }
    }
    if (object && count / 2 > MAX_MEMBERS) return 0;
    P->nodes[me].len = (uint32_t)(P->p - P->nodes[me].start);
    P->nodes[me].count = count;
    P->nodes[me].next = P->used;
    P->depth--;
    return 1;
}

static int parse_value(Parser *P) {
    if (P->p >= P->n) return 0;
    uint8_t c = P->s[P->p];
    switch (c) {
    case '{': return parse_container(P, 1);
    case '[': return parse_container(P, 0);
    case '"': return parse_string(P);
    case 't': return literal(P, "true", J_TRUE);
    case 'f': return literal(P, "false", J_FALSE);
    case 'n': return literal(P, "null", J_NULL);
    default: return parse_number(P);
    }
}

/* A whole text: one value, whitespace around it only. */
static int parse_json(Parser *P, const uint8_t *s, size_t n, Node *nodes, int body) {
    P->s = s;
    P->n = n;
    P->p = 0;
    P->nodes = nodes;
    P->used = 0;
    P->depth = 0;
    P->body = body;
    P->canon = 1;
    if (n > 0xFFFFFFF0u) return 0;
    size_t w = skip_ws(P);
    if (body) ws_canon(P, w, 0);
    if (!parse_value(P)) return 0;
    w = skip_ws(P);
    if (body) ws_canon(P, w, 0);
    return P->p == n;
}

/* -- plain_json(stored) == body, vouched or declined ------------------------------------------ */
typedef struct {
    const Parser *a, *b; /* the stored bytes' tape, the body's */
    Buffer *arena;
} Pair;

/* A string's decoded text: in the JSON text itself, or decoded into the arena (its offset). */
typedef struct {
    const uint8_t *p; /* NULL: at ``at`` in the arena */
    size_t at, len;
} Text;

static int text_of(const Parser *P, const Node *node, Buffer *arena, Text *t) {
    if (!node->flag) {
        t->p = P->s + node->start;
        t->at = 0;
        t->len = node->len;
        return 1;
    }
    if (!reserve(arena, node->len)) return 0;
    t->p = NULL;
    t->at = arena->size;
    t->len = decode_string(P->s + node->start, node->len, (uint8_t *)arena->data + arena->size);
    arena->size += t->len;
    return 1;
}

static inline const uint8_t *text_ptr(const Text *t, const Buffer *arena) {
    return t->p != NULL ? t->p : (const uint8_t *)arena->data + t->at;
}

/* Each object's keys strictly increasing (code point order, as json.dumps' sort_keys writes
 * them; UTF-8 keeps it)? The object's flag says so; the body is not json.dumps' output if not. */
static int order_keys(Parser *P, Buffer *arena) {
    for (uint32_t k = 0; k < P->used; k++) {
        Node *object = &P->nodes[k];
        if (object->type != J_OBJ) continue;
        object->flag = 1;
        uint32_t members = object->count / 2, key = k + 1;
        Text previous = {0};
        for (uint32_t m = 0; m < members; m++) {
            size_t mark = arena->size;
            Text text;
            if (!text_of(P, &P->nodes[key], arena, &text)) return 0;
            if (m > 0) {
                const uint8_t *a = text_ptr(&previous, arena), *b = text_ptr(&text, arena);
                size_t n = previous.len < text.len ? previous.len : text.len;
                int order = memcmp(a, b, n);
                if (order > 0 || (order == 0 && previous.len >= text.len)) {
                    object->flag = 0;
                    P->canon = 0;
                    arena->size = mark;
                    break;
                }
                /* keep only this key's text in the arena */
                if (previous.p == NULL) {
                    if (text.p == NULL) {
                        memmove(arena->data + previous.at, arena->data + text.at, text.len);
                        text.at = previous.at;
                        arena->size = previous.at + text.len;
                    } else arena->size = previous.at;
                }
            }
            previous = text;
            key = P->nodes[key + 1].next;
        }
        arena->size = 0;
    }
    return 1;
}

static int same_text(const Pair *x, const Node *a, const Node *b) {
    if (!a->flag && !b->flag) return a->len == b->len && memcmp(x->a->s + a->start, x->b->s + b->start, a->len) == 0;
    size_t mark = x->arena->size;
    Text ta, tb;
    int same = text_of(x->a, a, x->arena, &ta) && text_of(x->b, b, x->arena, &tb) &&
               ta.len == tb.len &&
               memcmp(text_ptr(&ta, x->arena), text_ptr(&tb, x->arena), ta.len) == 0;
    x->arena->size = mark;
    return same;
}

static int equals_word(const Parser *P, const Node *node, Buffer *arena, const char *word) {
    if (node->type != J_STR) return 0;
    size_t mark = arena->size;
    Text t;
    int same = text_of(P, node, arena, &t) && t.len == strlen(word) &&
               memcmp(text_ptr(&t, arena), word, t.len) == 0;
    arena->size = mark;
    return same;
}

static inline int digits(const uint8_t *s, int n) {
    for (int k = 0; k < n; k++)
        if (s[k] < '0' || s[k] > '9') return 0;
    return 1;
}

static inline int number(const uint8_t *s, int n) {
    int v = 0;
    for (int k = 0; k < n; k++) v = v * 10 + (s[k] - '0');
    return v;
}

/* Text that datetime.fromisoformat reads and isoformat writes back unchanged:
 * YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM], the fraction not all zeros, the offset not -00:00. */
static int isoformat_text(const uint8_t *s, size_t n) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n < 19) return 0;
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
        s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
        s[16] != ':' || !digits(s + 17, 2))
        return 0;
    int year = number(s, 4), month = number(s + 5, 2), day = number(s + 8, 2);
    if (year < 1 || month < 1 || month > 12 || day < 1) return 0;
    int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (day > days[month - 1] + (month == 2 && leap)) return 0;
    if (number(s + 11, 2) > 23 || number(s + 14, 2) > 59 || number(s + 17, 2) > 59) return 0;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        if (n < i + 7 || !digits(s + i + 1, 6)) return 0;
        if (memcmp(s + i + 1, "000000", 6) == 0) return 0;
        i += 7;
    }
    if (i == n) return 1;
    if (n != i + 6 || (s[i] != '+' && s[i] != '-') || !digits(s + i + 1, 2) || s[i + 3] != ':' ||
        !digits(s + i + 4, 2))
        return 0;
    int hours = number(s + i + 1, 2), minutes = number(s + i + 4, 2);
    if (hours > 23 || minutes > 59) return 0;
    if (s[i] == '-' && hours == 0 && minutes == 0) return 0;
    return 1;
}

static int same(const Pair *x, uint32_t ia, uint32_t ib);

static int lower_hex(const uint8_t *s, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (!((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f'))) return 0;
    return 1;
}

/* {"_type_": kind, "_data_": data} (``type`` and ``data`` are node indices in the stored tape). */
static int same_wrapped(const Pair *x, uint32_t type, uint32_t data, uint32_t ib) {
    const Node *kind = &x->a->nodes[type], *d = &x->a->nodes[data], *b = &x->b->nodes[ib];
    if (equals_word(x->a, kind, x->arena, "datetime_iso")) {
        if (d->type != J_STR || b->type != J_STR || !same_text(x, d, b)) return 0;
        size_t mark = x->arena->size;
        Text t;
        int sure = text_of(x->a, d, x->arena, &t) && isoformat_text(text_ptr(&t, x->arena), t.len);
        x->arena->size = mark;
        return sure;
    }
    if (equals_word(x->a, kind, x->arena, "uuid_hex")) {
        if (d->type != J_STR || b->type != J_STR) return 0;
        size_t mark = x->arena->size;
        Text th, tu;
        int sure = text_of(x->a, d, x->arena, &th) && text_of(x->b, b, x->arena, &tu) &&
                   th.len == 32 && tu.len == 36;
        if (sure) {
            const uint8_t *h = text_ptr(&th, x->arena), *u = text_ptr(&tu, x->arena);
            sure = lower_hex(h, 32) && memcmp(u, h, 8) == 0 && u[8] == '-' &&
                   memcmp(u + 9, h + 8, 4) == 0 && u[13] == '-' && memcmp(u + 14, h + 12, 4) == 0 &&
                   u[18] == '-' && memcmp(u + 19, h + 16, 4) == 0 && u[23] == '-' &&
                   memcmp(u + 24, h + 20, 12) == 0;
        }
        x->arena->size = mark;
        return sure;
    }
    return same(x, data, ib); /* any other kind: plain_json of its data */
}

static int same(const Pair *x, uint32_t ia, uint32_t ib) {
    const Node *a = &x->a->nodes[ia], *b = &x->b->nodes[ib];
    switch (a->type) {
    case J_STR:
        return b->type == J_STR && same_text(x, a, b);
    case J_INT:
    case J_FLT: /* the same text is the same value; other texts: not certain, declined */
        return b->type == a->type && a->len == b->len &&
               memcmp(x->a->s + a->start, x->b->s + b->start, a->len) == 0;
    case J_TRUE:
    case J_FALSE:
    case J_NULL:
        return b->type == a->type;
    case J_ARR: {
        if (b->type != J_ARR || b->count != a->count) return 0;
        uint32_t ca = ia + 1, cb = ib + 1;
        for (uint32_t k = 0; k < a->count; k++) {
            if (!same(x, ca, cb)) return 0;
            ca = x->a->nodes[ca].next;
            cb = x->b->nodes[cb].next;
        }
        return 1;
    }
    case J_OBJ:
        break;
    default:
        return 0;
    }
    uint32_t members = a->count / 2;
    if (members == 2) { /* a wrapper of the library's transcoding? */
        uint32_t k0 = ia + 1, v0 = k0 + 1, k1 = x->a->nodes[v0].next, v1 = k1 + 1;
        const Node *n0 = &x->a->nodes[k0], *n1 = &x->a->nodes[k1];
        if (equals_word(x->a, n0, x->arena, "_type_") && equals_word(x->a, n1, x->arena, "_data_"))
            return same_wrapped(x, v0, v1, ib);
        if (equals_word(x->a, n0, x->arena, "_data_") && equals_word(x->a, n1, x->arena, "_type_"))
            return same_wrapped(x, v1, v0, ib);
    }
    if (b->type != J_OBJ || b->count != a->count || !b->flag) return 0;
    if (members == 0) return 1;
    /* the body's keys, strictly increasing: each stored key found once, by bisection */
    uint32_t keys[MAX_MEMBERS];
    Text texts[MAX_MEMBERS];
    uint8_t found[MAX_MEMBERS];
    size_t mark = x->arena->size;
    uint32_t at = ib + 1;
    for (uint32_t k = 0; k < members; k++) {
        keys[k] = at;
        if (!text_of(x->b, &x->b->nodes[at], x->arena, &texts[k])) return 0;
        found[k] = 0;
        at = x->b->nodes[at + 1].next;
    }
    int result = 1;
    uint32_t ka = ia + 1;
    for (uint32_t k = 0; k < members && result; k++) {
        Text key;
        size_t before = x->arena->size;
        if (!text_of(x->a, &x->a->nodes[ka], x->arena, &key)) {
            result = 0;
            break;
        }
        const uint8_t *kp = text_ptr(&key, x->arena);
        uint32_t lo = 0, hi = members;
        int hit = -1;
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            const uint8_t *mp = text_ptr(&texts[mid], x->arena);
            size_t m = key.len < texts[mid].len ? key.len : texts[mid].len;
            int order = memcmp(mp, kp, m);
            if (order == 0) order = (texts[mid].len > key.len) - (texts[mid].len < key.len);
            if (order == 0) {
                hit = (int)mid;
                break;
            }
            if (order < 0) lo = mid + 1;
            else hi = mid;
        }
        x->arena->size = before;
        if (hit < 0 || found[hit]) {
            result = 0;
            break;
        }
        found[hit] = 1;
        if (!same(x, ka + 1, keys[hit] + 1)) result = 0;
        ka = x->a->nodes[ka + 1].next;
    }
    x->arena->size = mark;
    return result;
}

/* -- one row's work ---------------------------------------------------------------------------- */
typedef struct {
    Node *state_nodes, *body_nodes;
    Buffer state, line, arena;
} Work;

static int work_open(Work *w) {
    memset(w, 0, sizeof *w);
    w->state_nodes = malloc(sizeof(Node) * MAX_NODES);
    w->body_nodes = malloc(sizeof(Node) * MAX_NODES);
    return w->state_nodes != NULL && w->body_nodes != NULL;
}

static void work_close(Work *w) {
    free(w->state_nodes);
    free(w->body_nodes);
    free(w->state.data);
    free(w->line.data);
    free(w->arena.data);
}

/* body_matches_state(json.loads(body), state) is certainly True: 1; not certain: 0.
 * ``canon`` hears whether the body is json.dumps' own ASCII output (the line can be rendered). */
static int body_vouched_for(Work *w, const uint8_t *body, size_t nb, const uint8_t *state,
                            size_t ns, int *canon, Parser *pb) {
    Parser pa;
    *canon = 0;
    /* json.loads(bytes) reads UTF-8 when it sees no BOM and no NUL in the first bytes: other
     * texts are declined (a BOM is no JSON token, a NUL no JSON byte, for the parser below too) */
    if (ns == 0 || state[0] == 0 || state[0] >= 0x80 || (ns > 1 && state[1] == 0)) return 0;
    w->arena.size = 0;
    if (!parse_json(pb, body, nb, w->body_nodes, 1) || !order_keys(pb, &w->arena)) return 0;
    *canon = pb->canon;
    if (!parse_json(&pa, state, ns, w->state_nodes, 0)) return 0;
    w->arena.size = 0;
    Pair x = {&pa, pb, &w->arena};
    return same(&x, 0, 0);
}

static int8_t HEX[256]; /* lowercase hex digits only */

/* Lowercase hex into bytes (``n`` even). */
static inline int unhex(const char *s, size_t n, uint8_t *out) {
    int bad = 0;
    for (size_t k = 0; k < n; k += 2) {
        int h = HEX[(uint8_t)s[k]], l = HEX[(uint8_t)s[k + 1]];
        bad |= h | l;
        out[k / 2] = (uint8_t)(h << 4 | l);
    }
    return bad >= 0;
}

/* A canonical lowercase UUID (8-4-4-4-12) into 16 bytes. */
static int uuid_bytes(const char *s, size_t n, uint8_t *out) {
    if (n != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') return 0;
    return unhex(s, 8, out) && unhex(s + 9, 4, out + 4) && unhex(s + 14, 4, out + 6) &&
           unhex(s + 19, 4, out + 8) && unhex(s + 24, 12, out + 10);
}

static int8_t B64[256];

static void init_tables(void) {
    memset(HEX, -1, sizeof HEX);
    for (int k = 0; k < 16; k++) HEX[(uint8_t)"0123456789abcdef"[k]] = (int8_t)k;
    for (int ch = 0x20; ch < 0x7F; ch++) PLAIN[ch] = ch != '"' && ch != '\\';
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(B64, -1, sizeof B64);
    for (int k = 0; k < 64; k++) B64[(uint8_t)alphabet[k]] = (int8_t)k;
}

/* Canonical base64 (what base64.b64encode writes) into ``out``: its length, or -1. */
static long b64_decode(const char *s, size_t n, uint8_t *out) {
    if (n % 4) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int a = B64[(uint8_t)s[i]], b = B64[(uint8_t)s[i + 1]];
        if (a < 0 || b < 0) return -1;
        if (i + 4 == n && s[i + 2] == '=') {
            if (s[i + 3] != '=' || (b & 0x0F)) return -1;
            out[o++] = (uint8_t)(a << 2 | b >> 4);
            break;
        }
        int c = B64[(uint8_t)s[i + 2]];
        if (c < 0) return -1;
        if (i + 4 == n && s[i + 3] == '=') {
            if (c & 0x03) return -1;
            out[o++] = (uint8_t)(a << 2 | b >> 4);
            out[o++] = (uint8_t)((b & 0x0F) << 4 | c >> 2);
            break;
        }
        int d = B64[(uint8_t)s[i + 3]];
        if (d < 0) return -1;
        out[o++] = (uint8_t)(a << 2 | b >> 4);
        out[o++] = (uint8_t)((b & 0x0F) << 4 | c >> 2);
        out[o++] = (uint8_t)((c & 0x03) << 6 | d);
    }
    return (long)o;
}

/* json.dumps(text, ensure_ascii=False) of a column's (valid UTF-8) text, quotes included. */
static int put_json_string(Buffer *b, const char *s, size_t n);

/* A text already known to need no escape (hex, base64, a UUID), quoted. */
static int put_plain_string(Buffer *b, const char *s, size_t n) {
    if (!reserve(b, n + 2)) return 0;
    b->data[b->size] = '"';
    memcpy(b->data + b->size + 1, s, n);
    b->data[b->size + n + 1] = '"';
    b->size += n + 2;
    return 1;
}

static int put_json_string(Buffer *b, const char *s, size_t n) {
    if (!reserve(b, 6 * n + 2)) return 0;
    char *o = b->data + b->size;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = "0123456789abcdef"[c >> 4];
            *o++ = "0123456789abcdef"[c & 15];
        }
    }
    *o++ = '"';
    b->size = (size_t)(o - b->data);
    return 1;
}

/* json.dumps(json.loads(body), ensure_ascii=False, sort_keys=True) of a body that is json.dumps'
 * own output (checked by the parser: its spacing, sorted keys, no float, each escape the one
 * json.dumps writes, with or without ensure_ascii): the same text with each escape of a character
 * from U+007F on written as that character. */
static int put_body(Buffer *b, const uint8_t *s, size_t n) {
    if (!reserve(b, n)) return 0;
    uint8_t *o = (uint8_t *)b->data + b->size;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c != '\\') {
            *o++ = c;
            i++;
            continue;
        }
        if (s[i + 1] != 'u') {
            *o++ = c;
            *o++ = s[i + 1];
            i += 2;
            continue;
        }
        int lower = 1;
        uint32_t cp = (uint32_t)hex4(s + i + 2, &lower);
        if (cp < 0x7F) { /* a control character: written as it is */
            memcpy(o, s + i, 6);
            o += 6;
            i += 6;
            continue;
        }
        i += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) { /* the parser saw its low half follow */
            uint32_t low = (uint32_t)hex4(s + i + 2, &lower);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
        }
        o += put_code(o, cp);
    }
    b->size = (size_t)(o - (uint8_t *)b->data);
    return 1;
}

/* A non-negative int64 in decimal (str(int)). */
static int put_int(Buffer *b, long long v) {
    char digits_[24];
    int k = 24;
    unsigned long long u = (unsigned long long)v;
    do {
        digits_[--k] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return put(b, digits_ + k, (size_t)(24 - k));
}

#define PUT(literal_) put(line, literal_, sizeof(literal_) - 1)

typedef struct {
    const char *p;
    size_t n;
} Span;

enum { ID, TYPE, EVENT, TOPIC, STATE, DIGEST, LINK, BODY, N_COLUMNS };

static int render(Buffer *line, const Span *t, long long position, long long version) {
    line->size = 0;
    return PUT("{\"aggregate_id\": ") && put_plain_string(line, t[ID].p, t[ID].n) &&
           PUT(", \"aggregate_type\": ") && put_json_string(line, t[TYPE].p, t[TYPE].n) &&
           PUT(", \"body\": ") && put_body(line, (const uint8_t *)t[BODY].p, t[BODY].n) &&
           PUT(", \"chain_hash\": ") && put_plain_string(line, t[LINK].p, t[LINK].n) &&
           PUT(", \"digest\": ") && put_plain_string(line, t[DIGEST].p, t[DIGEST].n) &&
           PUT(", \"event\": ") && put_json_string(line, t[EVENT].p, t[EVENT].n) &&
           PUT(", \"position\": ") && put_int(line, position) && PUT(", \"state_b64\": ") &&
           put_plain_string(line, t[STATE].p, t[STATE].n) && PUT(", \"topic\": ") &&
           put_json_string(line, t[TOPIC].p, t[TOPIC].n) && PUT(", \"version\": ") &&
           put_int(line, version) && PUT("}");
}

/* kind, _, name = topic.rpartition(":")[2].rpartition("."): aggregate_type and event. */
static int names_of_topic(const Span *t) {
    const char *topic = t[TOPIC].p, *end = topic + t[TOPIC].n;
    const char *after = topic;
    for (const char *q = end; q > topic; q--)
        if (q[-1] == ':') {
            after = q;
            break;
        }
    const char *dot = NULL;
    for (const char *q = end; q > after; q--)
        if (q[-1] == '.') {
            dot = q - 1;
            break;
        }
    const char *kind = after, *name = after;
    size_t kind_n = 0, name_n = (size_t)(end - after);
    if (dot != NULL) {
        kind_n = (size_t)(dot - after);
        name = dot + 1;
        name_n = (size_t)(end - name);
    }
    return t[TYPE].n == kind_n && memcmp(t[TYPE].p, kind, kind_n) == 0 && t[EVENT].n == name_n &&
           memcmp(t[EVENT].p, name, name_n) == 0;
}

typedef struct {
    Py_ssize_t *bodies;
    Py_ssize_t n_bodies;
    Py_ssize_t *lines; /* (row, start, end) each */
    Py_ssize_t n_lines;
} Declined;

/* The slice's rows: 1 sound (``head`` the last link, ``out`` the rows left to Python), 0 not. */
static int check(const int64_t *positions, const int64_t *versions, const Column *columns,
                 Py_ssize_t rows, const char *jsonl, Py_ssize_t start, Py_ssize_t end,
                 uint8_t *head, Declined *out, Work *w) {
    const char *cursor = jsonl + start, *stop = jsonl + end;
    for (Py_ssize_t i = 0; i < rows; i++) {
        Span t[N_COLUMNS];
        for (int k = 0; k < N_COLUMNS; k++)
            if (!text_at(&columns[k], i, &t[k].p, &t[k].n)) return 0;
        long long position = positions[i], version = versions[i];
        if (position <= 0 || version < 0) return 0;
        uint8_t aggregate[16], digest[32], link[32], computed[32];
        if (!uuid_bytes(t[ID].p, t[ID].n, aggregate)) return 0;
        if (t[DIGEST].n != 64 || !unhex(t[DIGEST].p, 64, digest)) return 0;
        if (t[LINK].n != 64 || !unhex(t[LINK].p, 64, link)) return 0;
        if (!names_of_topic(t)) return 0;
        if (!reserve(&w->state, t[STATE].n)) return 0;
        long ns = b64_decode(t[STATE].p, t[STATE].n, (uint8_t *)w->state.data);
        if (ns < 0) return 0;
        uint8_t be[8];
        for (int k = 0; k < 8; k++) be[k] = (uint8_t)((uint64_t)version >> (56 - 8 * k));
        SHA256_CTX sha;
        SHA256_Init(&sha);
        SHA256_Update(&sha, aggregate, 16);
        SHA256_Update(&sha, be, 8);
        SHA256_Update(&sha, t[TOPIC].p, t[TOPIC].n);
        SHA256_Update(&sha, "", 1);
        SHA256_Update(&sha, w->state.data, (size_t)ns);
        SHA256_Final(computed, &sha);
        if (memcmp(computed, digest, 32) != 0) return 0;
        for (int k = 0; k < 8; k++) be[k] = (uint8_t)((uint64_t)position >> (56 - 8 * k));
        SHA256_Init(&sha);
        SHA256_Update(&sha, head, 32);
        SHA256_Update(&sha, be, 8);
        SHA256_Update(&sha, digest, 32);
        SHA256_Final(computed, &sha);
        if (memcmp(computed, link, 32) != 0) return 0;
        memcpy(head, link, 32);
        Parser pb;
        int canon = 0;
        if (!body_vouched_for(w, (const uint8_t *)t[BODY].p, t[BODY].n,
                              (const uint8_t *)w->state.data, (size_t)ns, &canon, &pb))
            out->bodies[out->n_bodies++] = i;
        const char *newline = memchr(cursor, '\n', (size_t)(stop - cursor));
        if (newline == NULL) return 0;
        if (canon) {
            if (!render(&w->line, t, position, version)) return 0;
            if ((size_t)(newline - cursor) != w->line.size ||
                memcmp(cursor, w->line.data, w->line.size) != 0)
                return 0;
        } else {
            Py_ssize_t *l = out->lines + 3 * out->n_lines++;
            l[0] = i;
            l[1] = cursor - jsonl;
            l[2] = newline - jsonl;
        }
        cursor = newline + 1;
    }
    return cursor == stop;
}

/* -- Python ------------------------------------------------------------------------------------ */
static int read_buffer(PyObject *object, Py_buffer *view, const char *what) {
    if (PyObject_GetBuffer(object, view, PyBUF_SIMPLE) != 0) return 0;
    (void)what;
    return 1;
}

static PyObject *check_rows(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *positions_obj, *versions_obj, *capsules, *jsonl_obj;
    Py_ssize_t start, end;
    Py_buffer previous;
    if (!PyArg_ParseTuple(args, "OOO!Onny*", &positions_obj, &versions_obj, &PyTuple_Type,
                          &capsules, &jsonl_obj, &start, &end, &previous))
        return NULL;
    PyObject *result = NULL;
    Py_buffer positions = {0}, versions = {0}, jsonl = {0};
    Column columns[N_COLUMNS];
    int opened = 0;
    Declined out = {0};
    Work w;
    int work = 0;
    if (previous.len != 32) {
        PyErr_SetString(PyExc_ValueError, "previous must be 32 bytes");
        goto done;
    }
    if (PyTuple_GET_SIZE(capsules) != N_COLUMNS) {
        PyErr_SetString(PyExc_ValueError, "eight text columns expected");
        goto done;
    }
    if (!read_buffer(positions_obj, &positions, "positions") ||
        !read_buffer(versions_obj, &versions, "versions") || !read_buffer(jsonl_obj, &jsonl, "jsonl"))
        goto done;
    if (positions.len % 8 || versions.len != positions.len || start < 0 || end < start ||
        end > jsonl.len) {
        PyErr_SetString(PyExc_ValueError, "buffers of the wrong size");
        goto done;
    }
    Py_ssize_t rows = positions.len / 8;
    int usable = 1;
    for (int k = 0; k < N_COLUMNS; k++) {
        int r = open_column(PyTuple_GET_ITEM(capsules, k), &columns[k], rows);
        opened = k + 1;
        if (r < 0) goto done;
        if (r == 0) usable = 0;
    }
    if (!usable) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    out.bodies = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(rows + 1));
    out.lines = PyMem_Malloc(sizeof(Py_ssize_t) * 3 * (size_t)(rows + 1));
    work = work_open(&w);
    if (out.bodies == NULL || out.lines == NULL || !work) {
        PyErr_NoMemory();
        goto done;
    }
    uint8_t head[32];
    memcpy(head, previous.buf, 32);
    int sound;
    Py_BEGIN_ALLOW_THREADS
    sound = check(positions.buf, versions.buf, columns, rows, jsonl.buf, start, end, head, &out, &w);
    Py_END_ALLOW_THREADS
    if (!sound) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *bodies = PyList_New(out.n_bodies), *lines = PyList_New(out.n_lines);
    if (bodies == NULL || lines == NULL) {
        Py_XDECREF(bodies);
        Py_XDECREF(lines);
        goto done;
    }
    for (Py_ssize_t k = 0; k < out.n_bodies; k++) {
        PyObject *row = PyLong_FromSsize_t(out.bodies[k]);
        if (row == NULL) {
            Py_DECREF(bodies);
            Py_DECREF(lines);
            goto done;
        }
        PyList_SET_ITEM(bodies, k, row);
    }
    for (Py_ssize_t k = 0; k < out.n_lines; k++) {
        Py_ssize_t *l = out.lines + 3 * k;
        PyObject *item = Py_BuildValue("(nnn)", l[0], l[1], l[2]);
        if (item == NULL) {
            Py_DECREF(bodies);
            Py_DECREF(lines);
            goto done;
        }
        PyList_SET_ITEM(lines, k, item);
    }
    result = Py_BuildValue("(y#NN)", (const char *)head, (Py_ssize_t)32, bodies, lines);
done:
    for (int k = 0; k < opened; k++) release_column(&columns[k]);
    if (work) work_close(&w);
    PyMem_Free(out.bodies);
    PyMem_Free(out.lines);
    if (positions.obj != NULL) PyBuffer_Release(&positions);
    if (versions.obj != NULL) PyBuffer_Release(&versions);
    if (jsonl.obj != NULL) PyBuffer_Release(&jsonl);
    PyBuffer_Release(&previous);
    return result;
}

static PyObject *body_vouched(PyObject *self, PyObject *args) {
    (void)self;
    const char *body;
    Py_ssize_t nb;
    Py_buffer state;
    if (!PyArg_ParseTuple(args, "s#y*", &body, &nb, &state)) return NULL;
    Work w;
    if (!work_open(&w)) {
        work_close(&w);
        PyBuffer_Release(&state);
        return PyErr_NoMemory();
    }
    Parser pb;
    int canon = 0;
    int vouched = body_vouched_for(&w, (const uint8_t *)body, (size_t)nb, state.buf,
                                   (size_t)state.len, &canon, &pb);
    work_close(&w);
    PyBuffer_Release(&state);
    return PyBool_FromLong(vouched);
}

static PyObject *line_ends(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer jsonl;
    Py_ssize_t start, count;
    if (!PyArg_ParseTuple(args, "y*nn", &jsonl, &start, &count)) return NULL;
    Py_ssize_t at = start;
    if (start < 0 || start > jsonl.len || count < 0) at = -1;
    Py_BEGIN_ALLOW_THREADS
    const char *p = (const char *)jsonl.buf;
    for (Py_ssize_t k = 0; k < count && at >= 0; k++) {
        const char *newline = memchr(p + at, '\n', (size_t)(jsonl.len - at));
        at = newline == NULL ? -1 : newline - p + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&jsonl);
    return PyLong_FromSsize_t(at);
}

static PyMethodDef methods[] = {
    {"check_rows", check_rows, METH_VARARGS,
     "check_rows(positions, versions, columns, jsonl, start, end, previous, /)\n--\n\n"
     "One slice of rows: None, or (head, bodies, lines) left to Python."},
    {"body_vouched", body_vouched, METH_VARARGS,
     "body_vouched(body, state, /)\n--\n\n"
     "True when plain_json(json.loads(state)) == json.loads(body) for certain; False: declined."},
    {"line_ends", line_ends, METH_VARARGS,
     "line_ends(jsonl, start, count, /)\n--\n\nThe offset after count more lines, or -1."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_export_check", "The per-row work of kasda verify --export.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__export_check(void) {
    init_tables();
    return PyModule_Create(&module);
}
