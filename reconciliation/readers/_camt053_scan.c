/* The camt.053 fast layout read in one pass over each entry (an optional accelerator of
 * reconciliation/readers/camt053_layout.py, which stays the definition of the layout).
 *
 * scan(text, first_line, first_piece) takes one piece of a file (the same ``Chunk.text`` the Polars
 * fast path gets) and returns (rows, entries, balance), or None to DECLINE the piece. It accepts a
 * strict subset of what ``camt053_layout.entries_of`` accepts: anything it is not certain of (a
 * character reference or an entity other than the five predefined ones, a comment or CDATA, an element or order outside the layout, a value holding a control
 * character or a possible Unicode space at its ends) is declined, and the caller reads that piece
 * with the Polars path, which reads it or raises exactly as it always did. ``rows`` holds one line
 * per entry: its line number and the 14 fields of ``camt053_layout.FIELDS`` in that order, each
 * stripped of the spaces around it, its entities replaced, separated by \x1f, an absent field written as \x1e (neither can
 * be in a value: control characters are declined), for Polars' CSV reader with no quoting.
 * ``balance`` is the piece's start tags minus end tags, counted as ``check_piece`` counts them.
 *
 * The piece is read with the GIL released; the only allocation is the growing output buffer.
 */
#define PY_SSIZE_T_CLEAN
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* memmem */
#endif
#include <Python.h>
#include <string.h>

enum {
    AMOUNT, CDI, REVERSAL, BOOKING_DATE, VALUE_DATE, BANK_REF, SUBFAMILY, END_TO_END,
    DEBTOR_ACCOUNT, CREDITOR_ACCOUNT, DEBTOR_BANK, CREDITOR_BANK, USTRD, ADDTL, N_FIELDS
};

#define SEPARATOR '\x1f'
#define ABSENT '\x1e'

typedef struct {
    const char *start, *end; /* start == NULL: absent */
} Span;

typedef struct {
    const char *begin, *p, *end; /* the piece, and where the cursor is */
    int bad;              /* set once: the entry is not in the layout (or not certainly) */
    long long lines;      /* newlines passed */
    long long empty;      /* ``/>`` passed in text (``check_piece`` counts them as tags closed) */
} Cursor;

typedef struct {
    char *data;
    size_t size, capacity;
} Buffer;

/* XML's whitespace, the only whitespace the layout allows between elements (the Polars pattern's
 * \s also takes Unicode spaces: those entries are declined, never misread). */
static inline int is_space(char ch) {
    return ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r';
}

/* A control character XML 1.0 forbids anywhere in a document (all below 0x20 but tab, line feed,
 * carriage return): the piece is declined, and the XML parser refuses the file. */
static inline int forbidden(unsigned char ch) {
    return ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r';
}

/* A carriage return at ``q`` not followed by a line feed: a line end to the XML parser, which this
 * scan (counting line feeds) would not count; the piece is declined, so line numbers stay true. */
static inline int lone_return(const char *q, const char *end) {
    return *q == '\r' && (q + 1 >= end || q[1] != '\n');
}

/* The bytes a text or a stretch between entries is scanned for: the rest is passed over. */
static unsigned char SPECIAL[256];

static void init_special(void) {
    const char *special = "<>&:\n\r";
    for (const char *s = special; *s; s++) SPECIAL[(unsigned char)*s] = 1;
    for (int ch = 0; ch < 0x20; ch++) SPECIAL[ch] |= forbidden((unsigned char)ch);
}

static inline void skip_spaces(Cursor *c) {
    while (c->p < c->end && is_space(*c->p)) {
        if (lone_return(c->p, c->end)) {
            c->bad = 1;
            return;
        }
        c->lines += *c->p == '\n';
        c->p++;
    }
}

static inline int at(const Cursor *c, const char *literal, size_t n) {
    return (size_t)(c->end - c->p) >= n && memcmp(c->p, literal, n) == 0;
}

/* ``:Ntry`` at ``q`` (a namespace prefix on an entry: never the fast layout). */
static inline int prefixed_entry(const Cursor *c, const char *q) {
    return c->end - q >= 5 && memcmp(q + 1, "Ntry", 4) == 0;
}

/* The five predefined entities and what they stand for (``camt053_layout._ENTITIES``). */
static const struct {
    const char *name; /* from ``&`` through ``;`` */
    size_t size;
    char ch;
} ENTITIES[] = {{"&amp;", 5, '&'}, {"&lt;", 4, '<'}, {"&gt;", 4, '>'},
                {"&quot;", 6, '"'}, {"&apos;", 6, '\''}};

/* The size of the predefined entity at ``q`` (its character in ``*ch``), or 0: another ``&``. */
static size_t entity_at(const char *q, const char *end, char *ch) {
    for (size_t i = 0; i < sizeof(ENTITIES) / sizeof(ENTITIES[0]); i++) {
        if ((size_t)(end - q) >= ENTITIES[i].size && memcmp(q, ENTITIES[i].name, ENTITIES[i].size) == 0) {
            *ch = ENTITIES[i].ch;
            return ENTITIES[i].size;
        }
    }
    return 0;
}

/* From ``q`` to the ``<`` that ends a text (or ``>`` too when ``stop_at_gt``), or the end of the
 * piece: counts newlines and ``/>``; an ``&`` that is not a predefined entity (a character reference,
 * another entity) or ``:Ntry`` declines. */
static const char *text_end(Cursor *c, const char *q, int stop_at_gt) {
    char ch;
    for (;;) {
        while (q < c->end && !SPECIAL[(unsigned char)*q]) q++;
        if (q >= c->end || *q == '<' || (*q == '>' && stop_at_gt)) return q;
        if (*q == '&') {
            size_t size = entity_at(q, c->end, &ch);
            if (size == 0) {
                c->bad = 1;
                return c->end;
            }
            q += size;
            continue;
        }
        if ((*q == ':' && prefixed_entry(c, q)) || forbidden((unsigned char)*q) ||
            lone_return(q, c->end)) {
            c->bad = 1;
            return c->end;
        }
        if (*q == '\n')
            c->lines++;
        else if (*q == '>' && q > c->begin && q[-1] == '/')
            c->empty++;
        q++;
    }
}

#define OPEN(c, name) open_tag(c, name, sizeof(name) - 1)
#define CLOSE(c, name) close_tag(c, name, sizeof(name) - 1)
#define LEAF(c, name, out) leaf(c, name, sizeof(name) - 1, out)
#define WRAPPER(c, name) wrapper(c, name, sizeof(name) - 1)
#define NAMED(name) name, sizeof(name) - 1

/* ``<name>`` at the cursor: consumed, 1; else 0. */
static inline int open_tag(Cursor *c, const char *name, size_t n) {
    if (c->bad || (size_t)(c->end - c->p) < n + 2 || c->p[0] != '<' ||
        memcmp(c->p + 1, name, n) != 0 || c->p[n + 1] != '>')
        return 0;
    c->p += n + 2;
    return 1;
}

/* ``</name>`` and the spaces after it, or the entry is bad. */
static inline void close_tag(Cursor *c, const char *name, size_t n) {
    if (c->bad || (size_t)(c->end - c->p) < n + 3 || c->p[0] != '<' || c->p[1] != '/' ||
        memcmp(c->p + 2, name, n) != 0 || c->p[n + 2] != '>') {
        c->bad = 1;
        return;
    }
    c->p += n + 3;
    skip_spaces(c);
}

/* The text of an element whose start tag was just read, up to ``</name>``, into ``out``. */
static inline void text_of(Cursor *c, const char *name, size_t n, Span *out) {
    const char *start = c->p;
    const char *lt = text_end(c, c->p, 0);
    if (lt >= c->end) {
        c->bad = 1;
        return;
    }
    c->p = lt;
    close_tag(c, name, n);
    if (!c->bad && out != NULL) {
        out->start = start;
        out->end = lt;
    }
}

/* ``<name>text</name>`` (a leaf): 1 if it is at the cursor (its text into ``out``), else 0. */
static inline int leaf(Cursor *c, const char *name, size_t n, Span *out) {
    if (!open_tag(c, name, n)) return 0;
    text_of(c, name, n, out);
    return !c->bad;
}

static inline void require(Cursor *c, int found) {
    if (!found) c->bad = 1;
}

/* Opening a wrapper: its start tag and the spaces after it. */
static inline int wrapper(Cursor *c, const char *name, size_t n) {
    if (!open_tag(c, name, n)) return 0;
    skip_spaces(c);
    return 1;
}

/* ``<Amt>`` or ``<Amt`` + attributes + ``>``: a space, then at least one more character, none of
 * them ``<`` or ``>``, the last not ``/`` (the layout's ``(?:\s[^<>]*[^<>/])?``). */
static int amount_tag(Cursor *c) {
    if (c->bad || !at(c, "<Amt", 4) || c->end - c->p < 5) return 0;
    const char *q = c->p + 4;
    if (*q == '>') {
        c->p = q + 1;
        return 1;
    }
    if (!is_space(*q)) return 0;
    const char *r = text_end(c, q, 1);
    if (r >= c->end || *r != '>' || r - q < 2 || r[-1] == '/') return 0;
    c->p = r + 1;
    return 1;
}

/* ``<Sts>text</Sts>`` or ``<Sts><Cd>..</Cd></Sts>`` (or ``Prtry``). */
static void status(Cursor *c) {
    if (!OPEN(c, "Sts")) {
        c->bad = 1;
        return;
    }
    const char *lt = memchr(c->p, '<', (size_t)(c->end - c->p));
    if (lt != NULL && (size_t)(c->end - lt) >= 6 && memcmp(lt, "</Sts>", 6) == 0) {
        text_of(c, "Sts", 3, NULL);
        return;
    }
    skip_spaces(c);
    require(c, LEAF(c, "Cd", NULL) || LEAF(c, "Prtry", NULL));
    CLOSE(c, "Sts");
}

static void bank_transaction_code(Cursor *c, Span *fields) {
    require(c, WRAPPER(c, "BkTxCd"));
    if (WRAPPER(c, "Domn")) {
        require(c, LEAF(c, "Cd", NULL));
        require(c, WRAPPER(c, "Fmly"));
        require(c, LEAF(c, "Cd", NULL));
        require(c, LEAF(c, "SubFmlyCd", &fields[SUBFAMILY]));
        CLOSE(c, "Fmly");
        CLOSE(c, "Domn");
    }
    if (WRAPPER(c, "Prtry")) {
        require(c, LEAF(c, "Cd", NULL));
        LEAF(c, "Issr", NULL);
        CLOSE(c, "Prtry");
    }
    CLOSE(c, "BkTxCd");
}

static void references(Cursor *c, Span *fields) {
    if (!WRAPPER(c, "Refs")) return;
    while (LEAF(c, "MsgId", NULL) || LEAF(c, "PmtInfId", NULL) || LEAF(c, "InstrId", NULL)) {
    }
    LEAF(c, "EndToEndId", &fields[END_TO_END]);
    while (LEAF(c, "UETR", NULL) || LEAF(c, "TxId", NULL) || LEAF(c, "MndtId", NULL) ||
           LEAF(c, "ChqNb", NULL) || LEAF(c, "ClrSysRef", NULL) || LEAF(c, "AcctOwnrTxId", NULL) ||
           LEAF(c, "AcctSvcrTxId", NULL)) {
    }
    CLOSE(c, "Refs");
}

static void names(Cursor *c) {
    while (LEAF(c, "Nm", NULL)) {
    }
}

static void party(Cursor *c, const char *name, size_t n) {
    if (!wrapper(c, name, n)) return;
    if (WRAPPER(c, "Pty")) {
        names(c);
        CLOSE(c, "Pty");
    }
    names(c);
    close_tag(c, name, n);
}

/* ``<CdtrAcct><Id><IBAN>x`` or ``<Id><Othr><Id>x`` (+ scheme, issuer), then currency and names. */
static void account(Cursor *c, const char *name, size_t n, Span *out) {
    if (!wrapper(c, name, n)) return;
    require(c, WRAPPER(c, "Id"));
    if (!LEAF(c, "IBAN", out)) {
        require(c, WRAPPER(c, "Othr"));
        require(c, LEAF(c, "Id", out));
        if (WRAPPER(c, "SchmeNm")) {
            require(c, LEAF(c, "Cd", NULL) || LEAF(c, "Prtry", NULL));
            CLOSE(c, "SchmeNm");
        }
        LEAF(c, "Issr", NULL);
        CLOSE(c, "Othr");
    }
    CLOSE(c, "Id");
    while (LEAF(c, "Ccy", NULL) || LEAF(c, "Nm", NULL)) {
    }
    close_tag(c, name, n);
}

/* The agent's bank: ``BICFI`` if it has one, else ``ClrSysMmbId/MmbId``. */
static void agent(Cursor *c, const char *name, size_t n, Span *out) {
    if (!wrapper(c, name, n)) return;
    Span bic = {NULL, NULL}, member = {NULL, NULL};
    require(c, WRAPPER(c, "FinInstnId"));
    LEAF(c, "BICFI", &bic);
    LEAF(c, "BIC", NULL);
    if (WRAPPER(c, "ClrSysMmbId")) {
        if (WRAPPER(c, "ClrSysId")) {
            require(c, LEAF(c, "Cd", NULL) || LEAF(c, "Prtry", NULL));
            CLOSE(c, "ClrSysId");
        }
        require(c, LEAF(c, "MmbId", &member));
        CLOSE(c, "ClrSysMmbId");
    }
    names(c);
    CLOSE(c, "FinInstnId");
    close_tag(c, name, n);
    *out = bic.start != NULL ? bic : member;
}

static void transaction(Cursor *c, Span *fields) {
    require(c, WRAPPER(c, "TxDtls"));
    references(c, fields);
    if (WRAPPER(c, "RltdPties")) {
        party(c, NAMED("Dbtr"));
        account(c, NAMED("DbtrAcct"), &fields[DEBTOR_ACCOUNT]);
        party(c, NAMED("Cdtr"));
        account(c, NAMED("CdtrAcct"), &fields[CREDITOR_ACCOUNT]);
        CLOSE(c, "RltdPties");
    }
    if (WRAPPER(c, "RltdAgts")) {
        agent(c, NAMED("DbtrAgt"), &fields[DEBTOR_BANK]);
        agent(c, NAMED("CdtrAgt"), &fields[CREDITOR_BANK]);
        CLOSE(c, "RltdAgts");
    }
    if (WRAPPER(c, "RmtInf")) {
        require(c, LEAF(c, "Ustrd", &fields[USTRD]));
        while (LEAF(c, "Ustrd", NULL)) {
        }
        CLOSE(c, "RmtInf");
    }
    CLOSE(c, "TxDtls");
}

/* One entry, from just after ``<Ntry>`` through ``</Ntry>``: its fields, or ``bad``. */
static void entry(Cursor *c, Span *fields) {
    memset(fields, 0, sizeof(Span) * N_FIELDS);
    skip_spaces(c);
    LEAF(c, "NtryRef", NULL);
    require(c, amount_tag(c));
    if (!c->bad) text_of(c, "Amt", 3, &fields[AMOUNT]);
    require(c, LEAF(c, "CdtDbtInd", &fields[CDI]));
    LEAF(c, "RvslInd", &fields[REVERSAL]);
    status(c);
    if (WRAPPER(c, "BookgDt")) {
        require(c, LEAF(c, "Dt", &fields[BOOKING_DATE]) || LEAF(c, "DtTm", NULL));
        CLOSE(c, "BookgDt");
    }
    if (WRAPPER(c, "ValDt")) {
        require(c, LEAF(c, "Dt", &fields[VALUE_DATE]) || LEAF(c, "DtTm", &fields[VALUE_DATE]));
        CLOSE(c, "ValDt");
    }
    LEAF(c, "AcctSvcrRef", &fields[BANK_REF]);
    bank_transaction_code(c, fields);
    if (WRAPPER(c, "NtryDtls")) {
        transaction(c, fields);
        CLOSE(c, "NtryDtls");
    }
    LEAF(c, "AddtlNtryInf", &fields[ADDTL]);
    if (!c->bad && !at(c, "</Ntry>", 7)) c->bad = 1;
    c->p += c->bad ? 0 : 7;
}

/* Is the character at ``q`` (before ``end``) a Unicode space other than ASCII (U+0085, U+00A0,
 * U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000), which Polars' strip removes? */
static int unicode_space(const unsigned char *q, const unsigned char *end) {
    if (q[0] == 0xC2) return end - q >= 2 && (q[1] == 0x85 || q[1] == 0xA0);
    if (end - q < 3) return 0;
    if (q[0] == 0xE1) return q[1] == 0x9A && q[2] == 0x80;
    if (q[0] == 0xE3) return q[1] == 0x80 && q[2] == 0x80;
    if (q[0] != 0xE2) return 0;
    if (q[1] == 0x80) return q[2] <= 0x8A || q[2] == 0xA8 || q[2] == 0xA9 || q[2] == 0xAF;
    return q[1] == 0x81 && q[2] == 0x9F;
}

/* The value stripped of spaces around it; 0 if it cannot be written as is (a control character
 * inside, or a possible Unicode space at an end). */
static int stripped(Span *v) {
    const char *s = v->start, *e = v->end;
    while (s < e && is_space(*s)) s++;
    while (e > s && is_space(e[-1])) e--;
    if (s < e) {
        const char *last = e - 1;
        while (last > s && ((unsigned char)*last & 0xC0) == 0x80) last--;
        const unsigned char *u = (const unsigned char *)s, *ue = (const unsigned char *)e;
        if (unicode_space(u, ue) || unicode_space((const unsigned char *)last, ue)) return 0;
    }
    for (const char *q = s; q < e; q++)
        if ((unsigned char)*q < 0x20 && *q != '\t') return 0;
    v->start = s;
    v->end = e;
    return 1;
}

/* The text from ``s`` to ``e`` written at ``w`` with its entities replaced (each is whole: the
 * scan declined any other ``&``); the end of what was written. */
static char *decoded(char *w, const char *s, const char *e) {
    const char *amp;
    char ch;
    while ((amp = memchr(s, '&', (size_t)(e - s))) != NULL) {
        memcpy(w, s, (size_t)(amp - s));
        w += amp - s;
        size_t size = entity_at(amp, e, &ch);
        *w++ = size ? ch : '&';
        s = amp + (size ? size : 1);
    }
    memcpy(w, s, (size_t)(e - s));
    return w + (e - s);
}

static int reserve(Buffer *out, size_t more) {
    if (out->size + more <= out->capacity) return 1;
    size_t capacity = out->capacity * 2 > out->size + more ? out->capacity * 2 : out->size + more;
    char *data = PyMem_RawRealloc(out->data, capacity);
    if (data == NULL) return 0;
    out->data = data;
    out->capacity = capacity;
    return 1;
}

/* One row: line number, then the fields; 0 if a value cannot be written (declined), -1 if out of
 * memory. */
static int write_row(Buffer *out, long long line_no, Span *fields, size_t entry_size) {
    for (int i = 0; i < N_FIELDS; i++)
        if (fields[i].start != NULL && !stripped(&fields[i])) return 0;
    if (!reserve(out, entry_size + 32 + 2 * N_FIELDS)) return -1;
    char *w = out->data + out->size;
    char digits[24];
    int n = 0;
    do { /* line numbers are positive */
        digits[n++] = (char)('0' + line_no % 10);
        line_no /= 10;
    } while (line_no > 0 && n < 24);
    while (n > 0) *w++ = digits[--n];
    for (int i = 0; i < N_FIELDS; i++) {
        *w++ = SEPARATOR;
        if (fields[i].start == NULL) {
            *w++ = ABSENT;
        } else {
            w = decoded(w, fields[i].start, fields[i].end);
        }
    }
    *w++ = '\n';
    out->size = (size_t)(w - out->data);
    return 1;
}

/* The root of the first piece: spaces, an optional ``<?xml ...?>``, spaces, ``<Document`` and a
 * space or ``>`` (``camt053_layout._ROOT``, with ASCII spaces only). */
static int plain_root(const char *p, const char *end) {
    Cursor c = {p, p, end, 0, 0, 0};
    skip_spaces(&c);
    if (at(&c, "<?xml", 5)) {
        const char *q = c.p + 5;
        while (q < end && *q != '<' && *q != '>') q++;
        if (q >= end || *q != '>' || q[-1] != '?' || q - 1 < c.p + 5) return 0;
        c.p = q + 1;
        skip_spaces(&c);
    }
    return at(&c, "<Document", 9) && c.end - c.p > 9 && (c.p[9] == '>' || is_space(c.p[9]));
}

/* Tags counted as ``check_piece`` counts them (``<``, ``</``, ``/>``), between entries. */
typedef struct {
    long long tags, ends, questions;
} Counts;

/* From the cursor to the next ``<Ntry>`` (the cursor left on it: 1) or to the end of the piece (0),
 * counting tags and newlines; ``bad`` (decline) for ``<!``, ``&``, ``:Ntry``, a ``</Ntry>`` with no
 * entry open, or an ``<Ntry`` that is not a plain ``<Ntry>`` (nor a longer name like ``NtryRef``). */
static int to_entry(Cursor *c, Counts *k) {
    for (;;) {
        const char *q = text_end(c, c->p, 1);
        if (q >= c->end) return 0; /* the end of the piece, or declined (``bad``) */
        c->p = q + 1;
        if (*q == '>') {
            if (q > c->begin && q[-1] == '/') c->empty++;
            continue;
        }
        long long left = c->end - q;
        if (left >= 5 && memcmp(q + 1, "Ntry", 4) == 0) {
            unsigned char next = left > 5 ? (unsigned char)q[5] : 0;
            if (next == '>') {
                c->p = q;
                return 1;
            }
            if (!((next >= 'A' && next <= 'Z') || (next >= 'a' && next <= 'z') ||
                  (next >= '0' && next <= '9'))) {
                c->bad = 1;
                return 0;
            }
        }
        k->tags++;
        if (left < 2) continue;
        if (q[1] == '!' || (left >= 7 && memcmp(q + 1, "/Ntry>", 6) == 0)) {
            c->bad = 1;
            return 0;
        }
        k->questions += q[1] == '?';
        k->ends += q[1] == '/';
    }
}

/* The whole piece: 1 read, 0 declined, -1 out of memory. */
static int scan_piece(const char *text, Py_ssize_t size, long long first_line, int first_piece,
                      Buffer *out, long long *entries, long long *balance) {
    Cursor c = {text, text, text + size, 0, 0, 0};
    Counts k = {0, 0, 0};
    Span fields[N_FIELDS];
    int declaration = 0;
    if (first_piece) {
        skip_spaces(&c);
        declaration = at(&c, "<?xml", 5);
        c.p = text;
        c.lines = 0;
        if (!plain_root(text, c.end)) return 0;
    }
    while (to_entry(&c, &k)) {
        const char *start = c.p;
        long long line_no = first_line + c.lines;
        c.p += 6;
        entry(&c, fields);
        if (c.bad) return 0;
        int written = write_row(out, line_no, fields, (size_t)(c.p - start));
        if (written <= 0) return written;
        (*entries)++;
    }
    if (c.bad || k.questions != declaration) return 0;
    *balance = k.tags - declaration - 2 * k.ends - c.empty;
    return 1;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *text;
    long long first_line;
    int first_piece;
    if (!PyArg_ParseTuple(args, "ULp", &text, &first_line, &first_piece)) return NULL;
    Py_ssize_t size;
    const char *data = PyUnicode_AsUTF8AndSize(text, &size);
    if (data == NULL) return NULL;
    Buffer out = {PyMem_RawMalloc(size / 4 + 1024), 0, (size_t)(size / 4 + 1024)};
    if (out.data == NULL) return PyErr_NoMemory();
    long long entries = 0, balance = 0;
    int read;
    Py_BEGIN_ALLOW_THREADS
    read = scan_piece(data, size, first_line, first_piece, &out, &entries, &balance);
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    if (read < 0) {
        PyErr_NoMemory();
    } else if (read == 0) {
        result = Py_NewRef(Py_None);
    } else {
        PyObject *rows = PyBytes_FromStringAndSize(out.data, (Py_ssize_t)out.size);
        if (rows != NULL) result = Py_BuildValue("(NLL)", rows, entries, balance);
    }
    PyMem_RawFree(out.data);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(text, first_line, first_piece) -> (rows, entries, balance) or None (declined)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_camt053_scan", "The camt.053 fast layout in one pass (C).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__camt053_scan(void) {
    init_special();
    return PyModule_Create(&module);
}
