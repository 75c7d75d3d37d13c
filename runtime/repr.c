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

/* Python's str repr: single quotes unless the text holds one and no
 * double quote. */
static void repr_str(struct rbuf *rb, const struct rc_str *s)
{
    bool dq = memchr(s->data, '\'', s->len) != NULL && memchr(s->data, '"', s->len) == NULL;
    char q = dq ? '"' : '\'';
    rb_put(rb, &q, 1);
    for (size_t i = 0; i < s->len && !rb_stopped(rb); i++) {
        unsigned char c = (unsigned char)s->data[i];
        char tmp[8];
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
        } else {
            rb_put(rb, (const char *)&c, 1);   /* printable ASCII and UTF-8 bytes */
        }
    }
    rb_put(rb, &q, 1);
}

static void repr(struct rbuf *rb, rc_object *o);

static void repr_tuple(struct rbuf *rb, const struct rc_tuple *t)
{
    rb_puts(rb, "(");
    for (size_t i = 0; i < t->n && !rb_stopped(rb); i++) {
        if (i > 0)
            rb_puts(rb, ", ");
        repr(rb, t->items[i]);
    }
    rb_puts(rb, t->n == 1 ? ",)" : ")");
}

static void repr_list(struct rbuf *rb, rc_object *l)
{
    rb_puts(rb, "[");
    for (long i = 0; !rb_stopped(rb); i++) {
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

static void repr_weakref(struct rbuf *rb, rc_object *w)
{
    char tmp[160];
    rc_object *target = rc_weakref_get(w);
    if (target == NULL)
        snprintf(tmp, sizeof tmp, "<weakref at %p; dead>", (void *)w);
    else
        snprintf(tmp, sizeof tmp, "<weakref at %p; to '%.64s' at %p>", (void *)w,
                 target->ob_type->name, (void *)target);
    rc_decref(target);
    rb_puts(rb, tmp);
}

static void repr(struct rbuf *rb, rc_object *o)
{
    if (rb_stopped(rb))
        return;
    char tmp[128];
    const rc_type *t = o->ob_type;
    if (t == &rc_int_type) {
        snprintf(tmp, sizeof tmp, "%" PRId64, ((struct rc_int *)o)->value);
        rb_puts(rb, tmp);
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
                repr_tuple(rb, (struct rc_tuple *)o);
            else if (t == &rc_list_type)
                repr_list(rb, o);
            else
                repr_dict(rb, o);
            if (!rb->fixed)
                rec_leave();
        }
        repr_leave();
    } else {
        snprintf(tmp, sizeof tmp, "<%.64s object at %p>", t->name, (void *)o);
        rb_puts(rb, tmp);
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
