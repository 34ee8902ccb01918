/* rust_demangle: see rust_demangle.h. Written from RFC 2603 ("Rust Symbol
 * Mangling (v0)"); the output follows rustc-demangle's alternate form
 * ({:#}), which is what gdb prints for Rust frames without DWARF. */
#include "rust_demangle.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Types, paths and consts nest; each level costs a few C stack frames.
 * rustc never nests this deep, a hostile symbol could nest without end. */
#define MAX_DEPTH 200
/* The code points of one punycode identifier. */
#define MAX_PUNY 256

struct out {
    char *buf;
    size_t len;
    size_t cap;
};

struct parser {
    const char *s; /* after "_R": backrefs count from here */
    size_t len;
    size_t pos;
    unsigned depth;
    /* Lifetimes bound by the enclosing for<...> binders. */
    uint64_t bound_lifetimes;
    /* NULL while skipping (an impl's path, the instantiating crate):
     * parsed for syntax only, backrefs not followed. */
    struct out *out;
    int err; /* sticky: the first error */
};

static void
fail(struct parser *p, int err)
{
    if (p->err == 0)
        p->err = err;
}

static void
emitn(struct parser *p, const char *s, size_t n)
{
    struct out *o = p->out;

    if (!o || p->err)
        return;
    if (o->len + n > BTC_RUST_DEMANGLE_MAX_OUT) {
        fail(p, -EINVAL);
        return;
    }
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->len + n + 1) * 2;
        char *b = realloc(o->buf, cap);

        if (!b) {
            fail(p, -ENOMEM);
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void
emit(struct parser *p, const char *s)
{
    emitn(p, s, strlen(s));
}

static void
emit_u64(struct parser *p, uint64_t v)
{
    char buf[24];
    size_t i = sizeof(buf);

    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    emitn(p, buf + i, sizeof(buf) - i);
}

static void
emit_utf8(struct parser *p, uint32_t cp)
{
    char b[4];
    size_t n;

    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | cp >> 12);
        b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | cp >> 18);
        b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    emitn(p, b, n);
}

static char
peek(const struct parser *p)
{
    return p->pos < p->len ? p->s[p->pos] : '\0';
}

static bool
eat(struct parser *p, char c)
{
    if (p->err || peek(p) != c)
        return false;
    p->pos++;
    return true;
}

static char
next(struct parser *p)
{
    if (p->err || p->pos >= p->len) {
        fail(p, -EINVAL);
        return '\0';
    }
    return p->s[p->pos++];
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool
is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

/* <base-62-number>: "_" is 0, "<digits>_" is their value plus one. */
static uint64_t
base62(struct parser *p)
{
    uint64_t v = 0;

    if (eat(p, '_'))
        return 0;
    for (;;) {
        char c = next(p);
        unsigned d;

        if (c == '_')
            break;
        if (is_digit(c))
            d = (unsigned)(c - '0');
        else if (is_lower(c))
            d = 10 + (unsigned)(c - 'a');
        else if (is_upper(c))
            d = 36 + (unsigned)(c - 'A');
        else {
            fail(p, -EINVAL);
            return 0;
        }
        if (v > (UINT64_MAX - d) / 62) {
            fail(p, -EINVAL);
            return 0;
        }
        v = v * 62 + d;
    }
    if (v == UINT64_MAX) {
        fail(p, -EINVAL);
        return 0;
    }
    return v + 1;
}

/* [<tag> <base-62-number>]: 0 when absent, else the number plus one (a
 * disambiguator "s_" is 1, a binder "G_" binds one lifetime). */
static uint64_t
opt_base62(struct parser *p, char tag)
{
    uint64_t v;

    if (!eat(p, tag))
        return 0;
    v = base62(p);
    if (p->err || v == UINT64_MAX) {
        fail(p, -EINVAL);
        return 0;
    }
    return v + 1;
}

struct ident {
    const char *ascii;
    size_t ascii_len;
    const char *puny; /* NULL: not punycode */
    size_t puny_len;
};

/* <undisambiguated-identifier> = ["u"] <decimal-number> ["_"] <bytes> */
static struct ident
ident(struct parser *p)
{
    struct ident id = {"", 0, NULL, 0};
    bool puny = eat(p, 'u');
    size_t n = 0;
    char c = peek(p);

    if (!is_digit(c)) {
        fail(p, -EINVAL);
        return id;
    }
    if (c == '0')
        p->pos++;
    else
        while (is_digit(peek(p))) {
            n = n * 10 + (size_t)(p->s[p->pos++] - '0');
            if (n > p->len) {
                fail(p, -EINVAL);
                return id;
            }
        }
    /* The separator, needed when the bytes begin with a digit or '_'. */
    eat(p, '_');
    if (p->err || n > p->len - p->pos) {
        fail(p, -EINVAL);
        return id;
    }
    id.ascii = p->s + p->pos;
    id.ascii_len = n;
    p->pos += n;
    if (puny) {
        /* The basic code points, then the last '_' (punycode's '-'). */
        const char *sep = NULL;

        for (size_t i = 0; i < n; i++)
            if (id.ascii[i] == '_')
                sep = id.ascii + i;
        if (sep) {
            id.puny = sep + 1;
            id.puny_len = n - (size_t)(sep + 1 - id.ascii);
            id.ascii_len = (size_t)(sep - id.ascii);
        } else {
            id.puny = id.ascii;
            id.puny_len = n;
            id.ascii_len = 0;
        }
        if (id.puny_len == 0)
            fail(p, -EINVAL);
    }
    return id;
}

static uint32_t
puny_adapt(uint32_t delta, uint32_t points, bool first)
{
    uint32_t k = 0;

    delta = first ? delta / 700 : delta / 2;
    delta += delta / points;
    while (delta > (36 - 1) * 26 / 2) {
        delta /= 36 - 1;
        k += 36;
    }
    return k + (36 * delta) / (delta + 38);
}

/* RFC 3492's decoder. Returns the number of code points, or -1. */
static int
puny_decode(const struct ident *id, uint32_t cps[MAX_PUNY])
{
    uint32_t n = 128, i = 0, bias = 72, len = 0;
    size_t pos = 0;

    if (id->ascii_len > MAX_PUNY)
        return -1;
    for (; len < id->ascii_len; len++)
        cps[len] = (unsigned char)id->ascii[len];
    while (pos < id->puny_len) {
        uint32_t old = i, w = 1;

        for (uint32_t k = 36;; k += 36) {
            char c;
            uint32_t d, t;

            if (pos >= id->puny_len)
                return -1;
            c = id->puny[pos++];
            if (is_lower(c))
                d = (uint32_t)(c - 'a');
            else if (is_digit(c))
                d = 26 + (uint32_t)(c - '0');
            else
                return -1;
            if (d > (UINT32_MAX - i) / w)
                return -1;
            i += d * w;
            t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
            if (d < t)
                break;
            if (w > UINT32_MAX / (36 - t))
                return -1;
            w *= 36 - t;
        }
        if (len >= MAX_PUNY)
            return -1;
        bias = puny_adapt(i - old, len + 1, old == 0);
        if (i / (len + 1) > 0x10ffff - n)
            return -1;
        n += i / (len + 1);
        i %= len + 1;
        if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff))
            return -1;
        memmove(cps + i + 1, cps + i, (len - i) * sizeof(cps[0]));
        cps[i++] = n;
        len++;
    }
    return (int)len;
}

static void
emit_ident(struct parser *p, const struct ident *id)
{
    uint32_t cps[MAX_PUNY];
    int n;

    if (!id->puny) {
        emitn(p, id->ascii, id->ascii_len);
        return;
    }
    n = puny_decode(id, cps);
    if (n < 0) {
        /* As rustc-demangle shows an identifier it cannot decode. */
        emit(p, "punycode{");
        if (id->ascii_len) {
            emitn(p, id->ascii, id->ascii_len);
            emit(p, "-");
        }
        emitn(p, id->puny, id->puny_len);
        emit(p, "}");
        return;
    }
    for (int i = 0; i < n; i++)
        emit_utf8(p, cps[i]);
}

static bool
enter(struct parser *p)
{
    if (p->err)
        return false;
    if (++p->depth > MAX_DEPTH) {
        fail(p, -EINVAL);
        return false;
    }
    return true;
}

static void
leave(struct parser *p)
{
    p->depth--;
}

/* <backref> = "B" <base-62-number>, the "B" eaten: the position it names,
 * which must lie before the backref itself (so following one always goes
 * back, never loops). Returns 0 on error or while skipping. */
static size_t
backref(struct parser *p, bool *ret_follow)
{
    size_t start = p->pos - 1;
    uint64_t target = base62(p);

    *ret_follow = false;
    if (p->err)
        return 0;
    if (target >= start) {
        fail(p, -EINVAL);
        return 0;
    }
    *ret_follow = p->out != NULL;
    return (size_t)target;
}

static void path(struct parser *p, bool in_value);
static void type(struct parser *p);
static void konst(struct parser *p);

/* A for<...> binder's lifetimes: 'a for the outermost, counting inwards. */
static void
emit_lifetime(struct parser *p, uint64_t lt)
{
    uint64_t depth;

    if (lt == 0) {
        emit(p, "'_");
        return;
    }
    if (lt > p->bound_lifetimes) {
        fail(p, -EINVAL);
        return;
    }
    depth = p->bound_lifetimes - lt;
    if (depth < 26) {
        char name[3] = {'\'', (char)('a' + depth), '\0'};

        emit(p, name);
    } else {
        emit(p, "'_");
        emit_u64(p, depth);
    }
}

/* [<binder>]: binds its lifetimes (the caller restores the count) and
 * prints "for<'a, 'b> ". */
static void
binder(struct parser *p)
{
    uint64_t n = opt_base62(p, 'G');

    if (n == 0 || p->err)
        return;
    /* More lifetimes than the symbol has bytes cannot be used. */
    if (n > p->len) {
        fail(p, -EINVAL);
        return;
    }
    emit(p, "for<");
    for (uint64_t i = 0; i < n && !p->err; i++) {
        if (i)
            emit(p, ", ");
        p->bound_lifetimes++;
        emit_lifetime(p, 1);
    }
    emit(p, "> ");
}

static void
generic_arg(struct parser *p)
{
    if (eat(p, 'L'))
        emit_lifetime(p, base62(p));
    else if (eat(p, 'K'))
        konst(p);
    else
        type(p);
}

/* {<generic-arg>} "E", printed as "<a, b>". */
static void
generic_args(struct parser *p)
{
    emit(p, "<");
    for (int i = 0; !p->err && !eat(p, 'E'); i++) {
        if (i)
            emit(p, ", ");
        generic_arg(p);
    }
    emit(p, ">");
}

/* A path printed with its generic args left open ("Fn<()" without ">"),
 * so that a dyn trait's associated types can follow. Returns whether it
 * left them open. */
static bool
path_open_generics(struct parser *p)
{
    bool open = false;

    if (!enter(p))
        return false;
    if (eat(p, 'B')) {
        bool follow;
        size_t target = backref(p, &follow);

        if (follow) {
            size_t saved = p->pos;

            p->pos = target;
            open = path_open_generics(p);
            p->pos = saved;
        }
    } else if (eat(p, 'I')) {
        path(p, false);
        emit(p, "<");
        for (int i = 0; !p->err && !eat(p, 'E'); i++) {
            if (i)
                emit(p, ", ");
            generic_arg(p);
        }
        open = true;
    } else {
        path(p, false);
    }
    leave(p);
    return open;
}

/* <dyn-trait> = <path> {"p" <undisambiguated-identifier> <type>} */
static void
dyn_trait(struct parser *p)
{
    bool open = path_open_generics(p);

    while (!p->err && eat(p, 'p')) {
        struct ident id;

        emit(p, open ? ", " : "<");
        open = true;
        id = ident(p);
        emit_ident(p, &id);
        emit(p, " = ");
        type(p);
    }
    if (open)
        emit(p, ">");
}

/* <dyn-bounds> <lifetime>, the "D" eaten. */
static void
dyn_type(struct parser *p)
{
    uint64_t saved = p->bound_lifetimes;
    uint64_t lt;

    emit(p, "dyn ");
    binder(p);
    for (int i = 0; !p->err && !eat(p, 'E'); i++) {
        if (i)
            emit(p, " + ");
        dyn_trait(p);
    }
    p->bound_lifetimes = saved;
    if (!eat(p, 'L')) {
        fail(p, -EINVAL);
        return;
    }
    lt = base62(p);
    if (lt) {
        emit(p, " + ");
        emit_lifetime(p, lt);
    }
}

/* <fn-sig> = [<binder>] ["U"] ["K" <abi>] {<type>} "E" <type>, "F" eaten. */
static void
fn_type(struct parser *p)
{
    uint64_t saved = p->bound_lifetimes;

    binder(p);
    if (eat(p, 'U'))
        emit(p, "unsafe ");
    if (eat(p, 'K')) {
        emit(p, "extern \"");
        if (eat(p, 'C')) {
            emit(p, "C");
        } else {
            struct ident id = ident(p);

            /* '-' is not an identifier character: "C-unwind" is "C_unwind". */
            if (id.puny)
                fail(p, -EINVAL);
            for (size_t i = 0; i < id.ascii_len; i++)
                emitn(p, id.ascii[i] == '_' ? "-" : id.ascii + i, 1);
        }
        emit(p, "\" ");
    }
    emit(p, "fn(");
    for (int i = 0; !p->err && !eat(p, 'E'); i++) {
        if (i)
            emit(p, ", ");
        type(p);
    }
    emit(p, ")");
    if (!eat(p, 'u')) {
        emit(p, " -> ");
        type(p);
    }
    p->bound_lifetimes = saved;
}

static const char *
basic_type(char c)
{
    switch (c) {
    case 'a':
        return "i8";
    case 'b':
        return "bool";
    case 'c':
        return "char";
    case 'd':
        return "f64";
    case 'e':
        return "str";
    case 'f':
        return "f32";
    case 'h':
        return "u8";
    case 'i':
        return "isize";
    case 'j':
        return "usize";
    case 'l':
        return "i32";
    case 'm':
        return "u32";
    case 'n':
        return "i128";
    case 'o':
        return "u128";
    case 's':
        return "i16";
    case 't':
        return "u16";
    case 'u':
        return "()";
    case 'v':
        return "...";
    case 'x':
        return "i64";
    case 'y':
        return "u64";
    case 'z':
        return "!";
    case 'p':
        return "_";
    default:
        return NULL;
    }
}

static void
type(struct parser *p)
{
    char c;
    const char *basic;

    if (!enter(p))
        return;
    c = next(p);
    basic = basic_type(c);
    if (basic) {
        emit(p, basic);
        goto done;
    }
    switch (c) {
    case 'A':
    case 'S':
        emit(p, "[");
        type(p);
        if (c == 'A') {
            emit(p, "; ");
            konst(p);
        }
        emit(p, "]");
        break;
    case 'T': {
        int n = 0;

        emit(p, "(");
        for (; !p->err && !eat(p, 'E'); n++) {
            if (n)
                emit(p, ", ");
            type(p);
        }
        emit(p, n == 1 ? ",)" : ")");
        break;
    }
    case 'R':
    case 'Q':
        /* "&'a mut T" */
        emit(p, "&");
        if (eat(p, 'L')) {
            uint64_t lt = base62(p);

            if (lt) {
                emit_lifetime(p, lt);
                emit(p, " ");
            }
        }
        if (c == 'Q')
            emit(p, "mut ");
        type(p);
        break;
    case 'P':
    case 'O':
        emit(p, c == 'P' ? "*const " : "*mut ");
        type(p);
        break;
    case 'F':
        fn_type(p);
        break;
    case 'D':
        dyn_type(p);
        break;
    case 'B': {
        bool follow;
        size_t target = backref(p, &follow);

        if (follow) {
            size_t saved = p->pos;

            p->pos = target;
            type(p);
            p->pos = saved;
        }
        break;
    }
    default:
        /* A named type: a path in type position ("Vec<u8>", no "::<"). */
        p->pos--;
        path(p, false);
        break;
    }
done:
    leave(p);
}

/* The hex digits of a const, then "_": the value, or -1 when it does not
 * fit in 64 bits (the digits are then at *ret_hex, *ret_n of them). */
static int
const_data(struct parser *p, uint64_t *ret_v, const char **ret_hex, size_t *ret_n)
{
    size_t start = p->pos;
    uint64_t v = 0;
    bool big = false;

    for (;;) {
        char c = next(p);
        unsigned d;

        if (c == '_')
            break;
        if (is_digit(c))
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = 10 + (unsigned)(c - 'a');
        else {
            fail(p, -EINVAL);
            return 0;
        }
        if (v >> 60)
            big = true;
        v = v << 4 | d;
    }
    *ret_v = v;
    *ret_hex = p->s + start;
    *ret_n = p->pos - 1 - start;
    return big ? -1 : 0;
}

static void
emit_char_literal(struct parser *p, uint64_t v)
{
    char buf[16];

    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        fail(p, -EINVAL);
        return;
    }
    emit(p, "'");
    switch (v) {
    case '\0':
        emit(p, "\\0");
        break;
    case '\t':
        emit(p, "\\t");
        break;
    case '\r':
        emit(p, "\\r");
        break;
    case '\n':
        emit(p, "\\n");
        break;
    case '\\':
        emit(p, "\\\\");
        break;
    case '\'':
        emit(p, "\\'");
        break;
    default:
        if (v < 0x20 || v == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            size_t i = 0;

            buf[i++] = '\\';
            buf[i++] = 'u';
            buf[i++] = '{';
            if (v >= 0x10)
                buf[i++] = hex[v >> 4];
            buf[i++] = hex[v & 0xf];
            buf[i++] = '}';
            emitn(p, buf, i);
        } else {
            emit_utf8(p, (uint32_t)v);
        }
        break;
    }
    emit(p, "'");
}

/* <const> = <type> <const-data> | "p" | <backref>: integers, bool and
 * char, as rustc mangles const generic arguments. */
static void
konst(struct parser *p)
{
    char c;
    bool neg = false;
    uint64_t v;
    const char *hex;
    size_t n;
    int big;

    if (!enter(p))
        return;
    c = next(p);
    switch (c) {
    case 'p':
        emit(p, "_");
        goto done;
    case 'B': {
        bool follow;
        size_t target = backref(p, &follow);

        if (follow) {
            size_t saved = p->pos;

            p->pos = target;
            konst(p);
            p->pos = saved;
        }
        goto done;
    }
    case 'a': /* signed integers */
    case 's':
    case 'l':
    case 'x':
    case 'n':
    case 'i':
        neg = eat(p, 'n');
        break;
    case 'h': /* unsigned integers */
    case 't':
    case 'm':
    case 'y':
    case 'o':
    case 'j':
    case 'b':
    case 'c':
        break;
    default:
        fail(p, -EINVAL);
        goto done;
    }
    big = const_data(p, &v, &hex, &n);
    if (p->err)
        goto done;
    if (c == 'b') {
        if (big || v > 1)
            fail(p, -EINVAL);
        emit(p, v ? "true" : "false");
    } else if (c == 'c') {
        if (big)
            fail(p, -EINVAL);
        else
            emit_char_literal(p, v);
    } else {
        if (neg)
            emit(p, "-");
        if (big) {
            /* Beyond 64 bits: rustc-demangle too shows the digits. */
            emit(p, "0x");
            emitn(p, hex, n);
        } else {
            emit_u64(p, v);
        }
    }
done:
    leave(p);
}

/* <impl-path> = [<disambiguator>] <path>: parsed, never printed (an impl
 * is shown as "<Type>" or "<Type as Trait>"). */
static void
skip_impl_path(struct parser *p)
{
    struct out *saved = p->out;

    opt_base62(p, 's');
    p->out = NULL;
    path(p, false);
    p->out = saved;
}

/* @in_value: the path names a value (the symbol itself), whose generic
 * args are written "::<...>"; in a type they are "<...>". */
static void
path(struct parser *p, bool in_value)
{
    char c;

    if (!enter(p))
        return;
    c = next(p);
    switch (c) {
    case 'C': {
        struct ident id;

        /* The crate's disambiguator, a hash, is left out. */
        opt_base62(p, 's');
        id = ident(p);
        emit_ident(p, &id);
        break;
    }
    case 'N': {
        char ns = next(p);
        uint64_t dis;
        struct ident id;

        if (!is_lower(ns) && !is_upper(ns)) {
            fail(p, -EINVAL);
            break;
        }
        path(p, in_value);
        dis = opt_base62(p, 's');
        id = ident(p);
        if (is_upper(ns)) {
            /* Closures and shims are shown with their index. */
            char other[2] = {ns, '\0'};

            emit(p, "::{");
            emit(p, ns == 'C' ? "closure" : ns == 'S' ? "shim" : other);
            if (id.ascii_len || id.puny) {
                emit(p, ":");
                emit_ident(p, &id);
            }
            emit(p, "#");
            emit_u64(p, dis);
            emit(p, "}");
        } else if (id.ascii_len || id.puny) {
            /* A tuple struct's constructor ("c" namespace) has no name of
             * its own: it is shown as the struct. */
            emit(p, "::");
            emit_ident(p, &id);
        }
        break;
    }
    case 'M':
        skip_impl_path(p);
        emit(p, "<");
        type(p);
        emit(p, ">");
        break;
    case 'X':
        skip_impl_path(p);
        /* fall through */
    case 'Y':
        emit(p, "<");
        type(p);
        emit(p, " as ");
        path(p, false);
        emit(p, ">");
        break;
    case 'I':
        path(p, in_value);
        if (in_value)
            emit(p, "::");
        generic_args(p);
        break;
    case 'B': {
        bool follow;
        size_t target = backref(p, &follow);

        if (follow) {
            size_t saved = p->pos;

            p->pos = target;
            path(p, in_value);
            p->pos = saved;
        }
        break;
    }
    default:
        fail(p, -EINVAL);
        break;
    }
    leave(p);
}

/* The part of @sym before a vendor suffix ".llvm.<hex>", which LLVM adds
 * to names it had to make unique and no demangler shows. */
static size_t
without_llvm_suffix(const char *sym)
{
    const char *llvm = strstr(sym, ".llvm.");
    size_t n = strlen(sym);

    if (llvm && strspn(llvm + 6, "0123456789ABCDEF@") == strlen(llvm + 6))
        n = (size_t)(llvm - sym);
    return n;
}

static int
demangle_v0(const char *sym, size_t n, char **ret_name)
{
    struct out o = {0};
    struct parser p = {.s = sym + 2, .len = n - 2, .out = &o};

    /* A decimal number after "_R" would be a later encoding version. */
    if (!is_upper(peek(&p)))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)sym[i] >= 0x80)
            return -EINVAL;
    path(&p, true);
    /* The instantiating crate: parsed, not shown. */
    if (!p.err && is_upper(peek(&p))) {
        p.out = NULL;
        path(&p, false);
        p.out = &o;
    }
    if (!p.err && p.pos < p.len) {
        /* Other vendor suffixes (".cold") are shown as they are. */
        if (peek(&p) == '.')
            emitn(&p, p.s + p.pos, p.len - p.pos);
        else
            fail(&p, -EINVAL);
    }
    if (!p.err && !o.buf)
        fail(&p, -EINVAL);
    if (p.err) {
        free(o.buf);
        return p.err;
    }
    *ret_name = o.buf;
    return 0;
}

/* The components of a legacy symbol: 0 and the offset of its "E" and of
 * the hash component's length, or -EINVAL. Components may hold '.' (".."
 * stands for "::"), so only their lengths tell where the name ends. */
static int
legacy_layout(const char *sym, size_t n, size_t *ret_end, size_t *ret_hash)
{
    size_t pos = 3, last = 0;

    if (strncmp(sym, "_ZN", 3) != 0)
        return -EINVAL;
    while (pos < n && sym[pos] != 'E') {
        size_t len = 0, start = pos;

        if (!is_digit(sym[pos]))
            return -EINVAL;
        while (pos < n && is_digit(sym[pos])) {
            len = len * 10 + (size_t)(sym[pos++] - '0');
            if (len > n)
                return -EINVAL;
        }
        if (len == 0 || len > n - pos)
            return -EINVAL;
        last = start;
        pos += len;
    }
    /* After the "E": nothing, or a suffix such as ".cold". */
    if (pos >= n || last == 0 || (pos + 1 < n && sym[pos + 1] != '.'))
        return -EINVAL;
    /* A path of at least one component, then the hash. */
    if (last == 3 || pos - last != 19 || strncmp(sym + last, "17h", 3) != 0 ||
        strspn(sym + last + 3, "0123456789abcdef") < 16)
        return -EINVAL;
    *ret_end = pos;
    *ret_hash = last;
    return 0;
}

bool
btc_rust_is_legacy(const char *sym)
{
    size_t end, hash;

    return legacy_layout(sym, without_llvm_suffix(sym), &end, &hash) == 0;
}

/* One "$...$" escape of a legacy component. Returns its length, or 0 when
 * it is none that rustc writes. */
static size_t
legacy_escape(struct parser *p, const char *s, size_t n)
{
    static const struct {
        const char *esc, *text;
    } table[] = {
        {"$SP$", "@"}, {"$BP$", "*"}, {"$RF$", "&"}, {"$LT$", "<"},
        {"$GT$", ">"}, {"$LP$", "("}, {"$RP$", ")"}, {"$C$", ","},
    };
    const char *end = memchr(s + 1, '$', n - 1);
    uint32_t cp = 0;
    size_t len;

    if (!end)
        return 0;
    len = (size_t)(end - s) + 1;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strlen(table[i].esc) == len && memcmp(s, table[i].esc, len) == 0) {
            emit(p, table[i].text);
            return len;
        }
    /* "$u7b$": a code point in hex. */
    if (len < 4 || len > 10 || s[1] != 'u')
        return 0;
    for (size_t i = 2; i < len - 1; i++) {
        char c = s[i];

        if (is_digit(c))
            cp = cp << 4 | (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            cp = cp << 4 | (uint32_t)(10 + c - 'a');
        else
            return 0;
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0x20)
        return 0;
    emit_utf8(p, cp);
    return len;
}

/* One component: "_$" starts one that begins with an escape; ".." is
 * "::" (paths inside a component: "std..rt..lang_start"). */
static void
legacy_component(struct parser *p, const char *s, size_t n)
{
    size_t i = 0;

    if (n >= 2 && s[0] == '_' && s[1] == '$')
        i = 1;
    while (i < n && !p->err) {
        if (s[i] == '.') {
            if (i + 1 < n && s[i + 1] == '.') {
                emit(p, "::");
                i += 2;
            } else {
                emit(p, ".");
                i++;
            }
        } else if (s[i] == '$') {
            size_t len = legacy_escape(p, s + i, n - i);

            if (len == 0) {
                /* Not rustc's: shown as it is, as rustc-demangle does. */
                emitn(p, s + i, n - i);
                return;
            }
            i += len;
        } else {
            size_t j = i;

            while (j < n && s[j] != '.' && s[j] != '$')
                j++;
            emitn(p, s + i, j - i);
            i = j;
        }
    }
}

static int
demangle_legacy(const char *sym, size_t n, char **ret_name)
{
    struct out o = {0};
    struct parser p = {.s = sym, .len = n, .pos = 3, .out = &o};
    size_t end, hash;
    bool first = true;

    if (legacy_layout(sym, n, &end, &hash) < 0)
        return -EINVAL;
    /* The last component, the hash, is left out. */
    while (p.pos < hash && !p.err) {
        size_t len = 0;

        while (is_digit(sym[p.pos]))
            len = len * 10 + (size_t)(sym[p.pos++] - '0');
        if (!first)
            emit(&p, "::");
        first = false;
        legacy_component(&p, sym + p.pos, len);
        p.pos += len;
    }
    emitn(&p, sym + end + 1, n - end - 1);
    if (!p.err && !o.buf)
        fail(&p, -EINVAL);
    if (p.err) {
        free(o.buf);
        return p.err;
    }
    *ret_name = o.buf;
    return 0;
}

int
btc_rust_demangle(const char *sym, char **ret_name)
{
    size_t n = without_llvm_suffix(sym);

    if (strncmp(sym, "_R", 2) == 0)
        return demangle_v0(sym, n, ret_name);
    if (btc_rust_is_legacy(sym))
        return demangle_legacy(sym, n, ret_name);
    return -EINVAL;
}
