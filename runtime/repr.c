/* runtime/repr.c: rc_repr (rcgc/semantics.h), and the bounded repr of a
 * key in a KeyError's message (dict.c).
 *
 * One writer serves both: rc_repr's grows on the heap; a message's fills
 * the caller's buffer and stops, marked truncated, when it is full (its
 * nesting is then bounded by the buffer, so it does not count against the
 * recursion limit).  Lists and dicts are read as semantics.c reads them
 * (a reference per item), so another thread may mutate them meanwhile.
 *
 * Thread rule: `printing`, the containers being printed (Py_ReprEnter), is
 * the calling thread's own.
 */
#define RCGC_BUILDING 1
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects.h"

struct rbuf {
    char *p;
    size_t len, cap;
    bool fixed;       /* p is the caller's: stop when full */
    bool truncated;   /* fixed and full: the rest was dropped */
    bool failed;      /* an error is set (MemoryError, RecursionError...) */
};

static bool rb_stopped(const struct rbuf *rb)
{
    return rb->failed || rb->truncated;
}

static void rb_put(struct rbuf *rb, const char *s, size_t n)
{
    if (rb_stopped(rb))
        return;
    if (rb->len + n + 1 > rb->cap) {
        if (rb->fixed) {
            size_t fit = rb->cap - rb->len - 1;
            memcpy(rb->p + rb->len, s, fit);
            rb->len += fit;
            rb->p[rb->len] = '\0';
            rb->truncated = true;
            return;
        }
        size_t cap = rb->cap * 2 > rb->len + n + 1 ? rb->cap * 2 : rb->len + n + 1;
        char *p = realloc(rb->p, cap);
        if (p == NULL) {
            err_nomem();
            rb->failed = true;
            return;
        }
        rb->p = p;
        rb->cap = cap;
    }
    memcpy(rb->p + rb->len, s, n);
    rb->len += n;
    rb->p[rb->len] = '\0';
}

static void rb_puts(struct rbuf *rb, const char *s)
{
    rb_put(rb, s, strlen(s));
}

/* ------------------------------------------------ containers being printed */

static _Thread_local struct {
    rc_object **p;
    size_t n, cap;
} printing;

/* 1 if o is being printed on this thread (print "[...]"), 0 after adding
 * it, -1 with a MemoryError. */
static int repr_enter(rc_object *o)
{
    for (size_t i = 0; i < printing.n; i++)
        if (printing.p[i] == o)
            return 1;
    if (printing.n == printing.cap) {
        size_t cap = printing.cap != 0 ? printing.cap * 2 : 16;
        rc_object **p = realloc(printing.p, cap * sizeof *p);
        if (p == NULL) {
            err_nomem();
            return -1;
        }
        printing.p = p;
        printing.cap = cap;
    }
    printing.p[printing.n++] = o;
    return 0;
}

static void repr_leave(void)
{
    if (--printing.n == 0) {   /* nothing kept past the outermost repr */
        free(printing.p);
        printing.p = NULL;
        printing.cap = 0;
    }
}

/* -------------------------------------------------------------- the repr */

/* The code point of the UTF-8 sequence at p (n bytes left) and its length
 * in *len; -1 (and *len 1) for a byte that starts no valid sequence
 * (overlong forms and surrogates included). */
static long utf8_decode(const unsigned char *p, size_t n, size_t *len)
{
    *len = 1;
    unsigned c = p[0];
    size_t k = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
    if (k == 0 || k > n)
        return -1;
    long cp = (long)(c & (0x7f >> k));
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    static const long least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *len = k;
    return cp;
}

/* Whether repr escapes code point cp (>= 0x80): the C1 controls, the
 * Latin-1 no-break space and soft hyphen, and the Unicode separators and
 * format characters Python's str.isprintable() refuses that text is most
 * likely to hold.  Other non-printable code points print as they are. */
static bool utf8_escaped(long cp)
{
    return cp <= 0xa0 || cp == 0xad || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200f) ||
           (cp >= 0x2028 && cp <= 0x202f) || (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 ||
           cp == 0xfeff;
}

/* Python's str repr: single quotes unless the text holds one and no
 * double quote; backslash escapes for the quote, the backslash, \n, \t,
 * \r, other ASCII controls, bytes that are not UTF-8 (\xNN, as if the
 * str held those code points) and the code points utf8_escaped names
 * (\xNN, \uNNNN); other UTF-8 sequences as they are. */
static void repr_str(struct rbuf *rb, const struct rc_str *s)
{
    bool dq = memchr(s->data, '\'', s->len) != NULL && memchr(s->data, '"', s->len) == NULL;
    char q = dq ? '"' : '\'';
    rb_put(rb, &q, 1);
    const unsigned char *d = (const unsigned char *)s->data;
    for (size_t i = 0; i < s->len && !rb_stopped(rb);) {
        unsigned char c = d[i];
        char tmp[16];
        size_t len = 1;
        if (c == (unsigned char)q || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            rb_put(rb, tmp, 2);
        } else if (c == '\n') {
            rb_puts(rb, "\\n");
        } else if (c == '\t') {
            rb_puts(rb, "\\t");
        } else if (c == '\r') {
            rb_puts(rb, "\\r");
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
            rb_puts(rb, tmp);
        } else if (c < 0x80) {
            rb_put(rb, (const char *)&c, 1);
        } else {
            long cp = utf8_decode(d + i, s->len - i, &len);
            if (cp < 0)
                snprintf(tmp, sizeof tmp, "\\x%02x", c);
            else if (utf8_escaped(cp))
                snprintf(tmp, sizeof tmp, cp <= 0xff ? "\\x%02lx" : "\\u%04lx", cp);
            if (cp < 0 || utf8_escaped(cp))
                rb_puts(rb, tmp);
            else
                rb_put(rb, (const char *)d + i, len);
        }
        i += len;
    }
    rb_put(rb, &q, 1);
}

static void repr(struct rbuf *rb, rc_object *o);

/* Each item held while it prints (rc_tuple_get): printing one may drop
 * the last reference to another object, whose finalizer may clear the
 * tuple.  A cleared tuple's item is a ValueError, printed as <NULL> in a
 * message. */
static void repr_tuple(struct rbuf *rb, rc_object *t)
{
    long n = rc_tuple_len(t);
    rb_puts(rb, "(");
    for (long i = 0; i < n && !rb_stopped(rb); i++) {
        if (i > 0)
            rb_puts(rb, ", ");
        rc_object *v = rc_tuple_get(t, i);
        if (v == NULL && rb->fixed) {
            rc_error_clear();
            rb_puts(rb, "<NULL>");
        } else if (v == NULL) {
            rb->failed = true;
        } else {
            repr(rb, v);
        }
        rc_decref(v);
    }
    rb_puts(rb, n == 1 ? ",)" : ")");
}

/* The items as many as the list had at the start at most (fewer if it
 * shrinks meanwhile): one another thread keeps growing does not keep us
 * here. */
static void repr_list(struct rbuf *rb, rc_object *l)
{
    long n = rc_list_len(l);
    rb_puts(rb, "[");
    for (long i = 0; i < n && !rb_stopped(rb); i++) {
        rc_object *v = rc_list_get(l, i);
        if (v == NULL) {
            if (rc_error_occurred() == RC_ERR_INDEX)
                rc_error_clear();   /* the end, as it is now */
            else
                rb->failed = true;
            break;
        }
        if (i > 0)
            rb_puts(rb, ", ");
        repr(rb, v);
        rc_decref(v);
    }
    rb_puts(rb, "]");
}

static void repr_dict(struct rbuf *rb, rc_object *d)
{
    rb_puts(rb, "{");
    size_t pos = 0;
    rc_object *k, *v;
    for (bool first = true; !rb_stopped(rb) && rc_dict_next_ref(d, &pos, &k, &v); first = false) {
        if (!first)
            rb_puts(rb, ", ");
        repr(rb, k);
        rb_puts(rb, ": ");
        repr(rb, v);
        rc_decref(k);
        rc_decref(v);
    }
    rb_puts(rb, "}");
}

/* The target is held while its type is read; a message (fixed) takes no
 * reference, whose drop could run the target's finalizer inside the dict
 * call that reports a KeyError (which ends no borrow), and prints the
 * weakref alone. */
static void repr_weakref(struct rbuf *rb, rc_object *w)
{
    char tmp[160];
    if (rb->fixed) {
        snprintf(tmp, sizeof tmp, "<weakref at %p>", (void *)w);
        rb_puts(rb, tmp);
        return;
    }
    rc_object *target = rc_weakref_get(w);
    if (target == NULL)
        snprintf(tmp, sizeof tmp, "<weakref at %p; dead>", (void *)w);
    else
        snprintf(tmp, sizeof tmp, "<weakref at %p; to '%.64s' at %p>", (void *)w,
                 target->ob_type->name, (void *)target);
    rc_decref(target);
    rb_puts(rb, tmp);
}

/* The leaves: an int, or an object printed as "<type object at addr>".
 * Out of line, so that their buffer is not in every recursive frame. */
__attribute__((noinline)) static void repr_int(struct rbuf *rb, rc_object *o)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%" PRId64, ((struct rc_int *)o)->value);
    rb_puts(rb, tmp);
}

__attribute__((noinline)) static void repr_other(struct rbuf *rb, rc_object *o)
{
    char tmp[96];
    snprintf(tmp, sizeof tmp, "<%.64s object at %p>", o->ob_type->name, (void *)o);
    rb_puts(rb, tmp);
}

static void repr(struct rbuf *rb, rc_object *o)
{
    if (rb_stopped(rb))
        return;
    const rc_type *t = o->ob_type;
    if (t == &rc_int_type) {
        repr_int(rb, o);
    } else if (t == &rc_str_type) {
        repr_str(rb, (struct rc_str *)o);
    } else if (t == &rc_none_type) {
        rb_puts(rb, "None");
    } else if (t == &rc_bool_type) {
        rb_puts(rb, o == rc_true() ? "True" : "False");
    } else if (t == &rc_weakref_type) {
        repr_weakref(rb, o);
    } else if (t == &rc_tuple_type || t == &rc_list_type || t == &rc_dict_type) {
        /* A tuple too: it may hold itself through a list (([(...)],)). */
        int seen = repr_enter(o);
        if (seen != 0) {
            if (seen > 0)
                rb_puts(rb, t == &rc_tuple_type ? "(...)" : t == &rc_list_type ? "[...]" : "{...}");
            else
                rb->failed = true;
            return;
        }
        if (!rb->fixed && rec_enter("while getting the repr of an object") < 0) {
            rb->failed = true;
        } else {
            if (t == &rc_tuple_type)
                repr_tuple(rb, o);
            else if (t == &rc_list_type)
                repr_list(rb, o);
            else
                repr_dict(rb, o);
            if (!rb->fixed)
                rec_leave();
        }
        repr_leave();
    } else {
        repr_other(rb, o);
    }
}

rc_object *rc_repr(rc_object *o)
{
    if (o == NULL)
        return err_null(RC_ERR_TYPE, "rc_repr() argument must be an object, not NULL");
    struct rbuf rb = {0};
    rb_put(&rb, "", 0);   /* a buffer even for an empty text */
    repr(&rb, o);
    rc_object *s = rb.failed ? NULL : rc_str_new_len(rb.p, rb.len);
    free(rb.p);
    return s;
}

void repr_message(rc_object *o, char *buf, size_t n)
{
    struct rbuf rb = {.p = buf, .cap = n - 3, .fixed = true};
    buf[0] = '\0';
    if (o == NULL) {
        rb_puts(&rb, "<NULL>");
        return;
    }
    repr(&rb, o);
    if (rb.truncated || rb.failed)
        strcpy(buf + rb.len, "...");
}
