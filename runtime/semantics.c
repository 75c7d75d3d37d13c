/* runtime/semantics.c: rc_equal, rc_hash, rc_copy, rc_deepcopy and the
 * recursion limit (rcgc/semantics.h); rc_repr is in repr.c.
 *
 * Containers are read through the public calls that take a reference
 * (rc_list_get, rc_dict_next_ref, rc_slot_get), one item at a time, so
 * that another thread may mutate them meanwhile (rcgc/semantics.h says
 * what the caller sees); atoms (int, str, tuple) are immutable and read in
 * place.
 *
 * Thread rule: the recursion depth is the calling thread's own
 * (rec_depth); the limit is the runtime's (rc_runtime.recursion_limit).
 */
#define RCGC_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "objects.h"

/* ----------------------------------------------------- recursion limit */

/* Containers the calling thread is nested in, over rc_equal, rc_repr and
 * rc_deepcopy (they may call each other only through the public API). */
static _Thread_local int rec_depth;

int rec_enter(const char *what)
{
    struct rc_runtime *rt = rc_rt;
    int limit = rt != NULL ? rc_atomic_load_relaxed(&rt->recursion_limit)
                           : RC_RECURSION_LIMIT_DEFAULT;
    if (rec_depth >= limit)
        return err_int(RC_ERR_RECURSION, "maximum recursion depth (%d) exceeded %s", limit,
                       what);
    rec_depth++;
    return 0;
}

void rec_leave(void)
{
    rec_depth--;
}

int rc_set_recursion_limit(int limit)
{
    struct rc_runtime *rt = rc_rt;
    if (rt == NULL || rc_tls_state == NULL)
        return err_int(RC_ERR_RUNTIME, "rc_set_recursion_limit(): no runtime on this thread");
    if (limit < 1 || limit > RC_RECURSION_LIMIT_MAX)
        return err_int(RC_ERR_VALUE, "rc_set_recursion_limit(): the limit must be in 1..%d, "
                       "not %d", RC_RECURSION_LIMIT_MAX, limit);
    rc_atomic_store_relaxed(&rt->recursion_limit, limit);
    return 0;
}

int rc_get_recursion_limit(void)
{
    struct rc_runtime *rt = rc_rt;
    if (rt == NULL || rc_tls_state == NULL)
        return err_int(RC_ERR_RUNTIME, "rc_get_recursion_limit(): no runtime on this thread");
    return rc_atomic_load_relaxed(&rt->recursion_limit);
}

/* ------------------------------------------------------------ equality */

static int equal(rc_object *a, rc_object *b);

/* Items compared as CPython's PyObject_RichCompareBool: identity first. */
static int item_equal(rc_object *a, rc_object *b)
{
    return a == b ? 1 : equal(a, b);
}

/* Items are taken with a reference each (rc_tuple_get): comparing one may
 * drop the last reference to another object, whose finalizer may clear
 * this tuple (a cleared tuple's items read as a ValueError). */
static int tuple_equal(rc_object *a, rc_object *b)
{
    long n = rc_tuple_len(a);
    if (n != rc_tuple_len(b))
        return 0;
    int r = 1;
    for (long i = 0; i < n && r == 1; i++) {
        rc_object *x = rc_tuple_get(a, i);
        rc_object *y = x != NULL ? rc_tuple_get(b, i) : NULL;
        r = y != NULL ? item_equal(x, y) : -1;
        rc_decref(x);
        rc_decref(y);
    }
    return r;
}

/* The length first (==), then the items while both lists still have them
 * (another thread may shrink either meanwhile), at most as many as they
 * had (one growing forever does not keep us here), then the lengths
 * again: listobject.c's list_richcompare. */
static int list_equal(rc_object *a, rc_object *b)
{
    long n = rc_list_len(a);
    if (n != rc_list_len(b))
        return 0;
    int r = 1;
    for (long i = 0; i < n && r == 1; i++) {
        rc_object *x = rc_list_get(a, i);
        rc_object *y = x != NULL ? rc_list_get(b, i) : NULL;
        if (y == NULL) {
            rc_decref(x);
            if (rc_error_occurred() != RC_ERR_INDEX)
                return -1;
            rc_error_clear();   /* the end of one of them */
            break;
        }
        r = item_equal(x, y);
        rc_decref(x);
        rc_decref(y);
    }
    if (r == 1 && rc_list_len(a) != rc_list_len(b))
        r = 0;
    return r;
}

/* The same length, and every key of a in b with an equal value. */
static int dict_equal(rc_object *a, rc_object *b)
{
    if (rc_dict_len(a) != rc_dict_len(b))
        return 0;
    size_t pos = 0;
    rc_object *k, *va;
    int r = 1;
    while (r == 1 && rc_dict_next_ref(a, &pos, &k, &va)) {
        rc_object *vb = rc_dict_get(b, k);
        if (vb == NULL) {
            r = rc_error_occurred() == RC_ERR_KEY ? 0 : -1;
            if (r == 0)
                rc_error_clear();
        } else {
            r = item_equal(va, vb);
            rc_decref(vb);
        }
        rc_decref(k);
        rc_decref(va);
    }
    return r;
}

static int equal(rc_object *a, rc_object *b)
{
    if (a == b)
        return 1;
    const rc_type *t = a->ob_type;
    if (t != b->ob_type)
        return 0;
    if (t == &rc_int_type)
        return ((struct rc_int *)a)->value == ((struct rc_int *)b)->value;
    if (t == &rc_str_type) {
        struct rc_str *sa = (struct rc_str *)a, *sb = (struct rc_str *)b;
        return sa->len == sb->len && memcmp(sa->data, sb->data, sa->len) == 0;
    }
    if (t != &rc_tuple_type && t != &rc_list_type && t != &rc_dict_type)
        return 0;   /* identity, which failed above */
    if (rec_enter("in comparison") < 0)
        return -1;
    int r = t == &rc_tuple_type ? tuple_equal(a, b)
            : t == &rc_list_type ? list_equal(a, b)
                                 : dict_equal(a, b);
    rec_leave();
    return r;
}

int rc_equal(rc_object *a, rc_object *b)
{
    if (a == NULL || b == NULL)
        return err_int(RC_ERR_TYPE, "rc_equal() arguments must be objects, not NULL");
    return equal(a, b);
}

/* ---------------------------------------------------------------- hash */

int64_t rc_hash(rc_object *o)
{
    uint64_t h;
    if (obj_hash(o, &h) < 0)
        return -1;
    int64_t v = (int64_t)h;
    return v == -1 ? -2 : v;   /* -1 is the error value, as in CPython */
}

/* ---------------------------------------------------------- shallow copy */

/* Atoms: shared by copy and deepcopy (copy.py's _copy_immutable and
 * _deepcopy_atomic; deepcopy copies tuples apart). */
static bool is_atom(rc_object *o)
{
    const rc_type *t = o->ob_type;
    return t == &rc_int_type || t == &rc_str_type || t == &rc_none_type ||
           t == &rc_bool_type || t == &rc_weakref_type;
}

/* The copiers below fill copy (a new, empty container of o's type, whose
 * reference they take over) from o, each item as fill(item, arg) makes it
 * (a new reference, or NULL with an error): copy, or NULL with an error
 * (copy dropped). */

/* fill for a shallow copy: the item itself. */
static rc_object *same(rc_object *o, void *arg)
{
    (void)arg;
    rc_incref(o);
    return o;
}

/* An instance's slots. */
static rc_object *instance_copy(rc_object *o, rc_object *(*fill)(rc_object *, void *), void *arg,
                                rc_object *copy)
{
    long n = rc_instance_nslots(o);
    for (long i = 0; i < n; i++) {
        rc_object *v = rc_slot_get(o, (size_t)i);
        rc_object *w = v != NULL ? fill(v, arg) : NULL;
        rc_decref(v);
        int r = w != NULL ? rc_slot_set(copy, (size_t)i, w) : -1;
        rc_decref(w);
        if (r < 0) {
            rc_decref(copy);
            return NULL;
        }
    }
    return copy;
}

/* A list's items, each read with rc_list_get, as many as it had at the
 * start at most (fewer if it shrinks meanwhile; a list another thread
 * keeps growing does not keep us here). */
static rc_object *list_copy(rc_object *o, rc_object *(*fill)(rc_object *, void *), void *arg,
                            rc_object *copy)
{
    long n = rc_list_len(o);
    for (long i = 0; i < n; i++) {
        rc_object *v = rc_list_get(o, i);
        if (v == NULL) {
            if (rc_error_occurred() != RC_ERR_INDEX) {
                rc_decref(copy);
                return NULL;
            }
            rc_error_clear();   /* it shrank meanwhile */
            return copy;
        }
        rc_object *w = fill(v, arg);
        rc_decref(v);
        int r = w != NULL ? rc_list_append(copy, w) : -1;
        rc_decref(w);
        if (r < 0) {
            rc_decref(copy);
            return NULL;
        }
    }
    return copy;
}

/* A dict's entries, keys and values both through fill. */
static rc_object *dict_copy(rc_object *o, rc_object *(*fill)(rc_object *, void *), void *arg,
                            rc_object *copy)
{
    size_t pos = 0;
    rc_object *k, *v;
    while (rc_dict_next_ref(o, &pos, &k, &v)) {
        rc_object *k2 = fill(k, arg);
        rc_object *v2 = k2 != NULL ? fill(v, arg) : NULL;
        int r = v2 != NULL ? rc_dict_set(copy, k2, v2) : -1;
        rc_decref(k);
        rc_decref(v);
        rc_decref(k2);
        rc_decref(v2);
        if (r < 0) {
            rc_decref(copy);
            return NULL;
        }
    }
    return copy;
}

/* A new, empty container of o's type: o is a list, a dict or an instance
 * (every object that is neither an atom nor a tuple).  NULL with an
 * error. */
static rc_object *new_like(rc_object *o)
{
    const rc_type *t = o->ob_type;
    return t == &rc_list_type ? rc_list_new()
           : t == &rc_dict_type ? rc_dict_new()
                                : rc_instance_new((rc_type *)t);
}

/* copy (new_like(o), or NULL after its error) filled from o by the copier
 * of o's type. */
static rc_object *copy_into(rc_object *o, rc_object *(*fill)(rc_object *, void *), void *arg,
                            rc_object *copy)
{
    const rc_type *t = o->ob_type;
    return copy == NULL             ? NULL
           : t == &rc_list_type ? list_copy(o, fill, arg, copy)
           : t == &rc_dict_type ? dict_copy(o, fill, arg, copy)
                                : instance_copy(o, fill, arg, copy);
}

rc_object *rc_copy(rc_object *o)
{
    if (o == NULL)
        return err_null(RC_ERR_TYPE, "rc_copy() argument must be an object, not NULL");
    if (is_atom(o) || o->ob_type == &rc_tuple_type)
        return same(o, NULL);
    return copy_into(o, same, NULL, new_like(o));
}

/* ------------------------------------------------------------ deepcopy */

/* The memo: original -> copy, both held (a reference each) until the
 * deepcopy returns, so that no original's address is reused by another
 * object meanwhile.  Open addressing on the original's address. */
struct memo_entry {
    rc_object *orig, *copy;
};

struct memo {
    struct memo_entry *e;
    size_t mask, n;   /* capacity - 1 (a power of two), entries */
};

static size_t memo_slot(const struct memo *m, const rc_object *o)
{
    return (size_t)(hash_int((int64_t)(uintptr_t)o) & m->mask);
}

static rc_object *memo_get(const struct memo *m, const rc_object *o)
{
    if (m->e == NULL)
        return NULL;
    for (size_t i = memo_slot(m, o);; i = (i + 1) & m->mask) {
        if (m->e[i].orig == o)
            return m->e[i].copy;
        if (m->e[i].orig == NULL)
            return NULL;
    }
}

/* Record orig -> copy (taking a reference to each).  0, or -1 with a
 * MemoryError. */
static int memo_put(struct memo *m, rc_object *orig, rc_object *copy)
{
    if (m->e == NULL || (m->n + 1) * 2 > m->mask + 1) {
        size_t cap = m->e == NULL ? 64 : (m->mask + 1) * 2;
        struct memo_entry *e = calloc(cap, sizeof *e);
        if (e == NULL) {
            err_nomem();
            return -1;
        }
        struct memo old = *m;
        m->e = e;
        m->mask = cap - 1;
        for (size_t i = 0; old.e != NULL && i <= old.mask; i++) {
            if (old.e[i].orig == NULL)
                continue;
            size_t j = memo_slot(m, old.e[i].orig);
            while (m->e[j].orig != NULL)
                j = (j + 1) & m->mask;
            m->e[j] = old.e[i];
        }
        free(old.e);
    }
    size_t j = memo_slot(m, orig);
    while (m->e[j].orig != NULL)
        j = (j + 1) & m->mask;
    rc_incref(orig);
    rc_incref(copy);
    m->e[j] = (struct memo_entry){orig, copy};
    m->n++;
    return 0;
}

static void memo_free(struct memo *m)
{
    for (size_t i = 0; m->e != NULL && i <= m->mask; i++) {
        rc_decref(m->e[i].orig);   /* NULL-safe */
        rc_decref(m->e[i].copy);
    }
    free(m->e);
}

static rc_object *deep(rc_object *o, void *arg);

/* copy.py's _deepcopy_tuple: the items' copies; the tuple itself when each
 * copy is its item, and the memo's entry when copying the items reached
 * the tuple again (through a list or an instance: a tuple alone cannot
 * contain itself).  Each item is held (rc_tuple_get) while it is copied:
 * a copy runs safepoints, where a finalizer may clear the tuple. */
static rc_object *deep_tuple(struct memo *m, rc_object *t)
{
    long n = rc_tuple_len(t);
    rc_object *small[8], **items = n <= 8 ? small : malloc((size_t)n * sizeof *items);
    if (items == NULL)
        return err_nomem();
    long made = 0;
    bool all_same = true;
    rc_object *copy = NULL;
    for (; made < n; made++) {
        rc_object *item = rc_tuple_get(t, made);
        items[made] = item != NULL ? deep(item, m) : NULL;
        all_same = all_same && items[made] == item;
        rc_decref(item);
        if (items[made] == NULL)
            goto out;
    }
    copy = memo_get(m, t);
    if (copy != NULL) {
        rc_incref(copy);
    } else if (all_same) {
        copy = same(t, NULL);
    } else {
        copy = rc_tuple_new((size_t)n, items);
        if (copy != NULL && memo_put(m, t, copy) < 0) {
            rc_decref(copy);
            copy = NULL;
        }
    }
out:
    for (long i = 0; i < made; i++)
        rc_decref(items[i]);
    if (items != small)
        free(items);
    return copy;
}

/* The copy of o, a new reference; NULL with an error. */
static rc_object *deep(rc_object *o, void *arg)
{
    struct memo *m = arg;
    if (is_atom(o))
        return same(o, NULL);
    rc_object *done = memo_get(m, o);
    if (done != NULL)
        return same(done, NULL);
    if (rec_enter("while copying an object") < 0)
        return NULL;
    rc_object *copy;
    if (o->ob_type == &rc_tuple_type) {
        copy = deep_tuple(m, o);
    } else {
        /* In the memo before its items are copied: a cycle back to o finds
         * this copy. */
        copy = new_like(o);
        if (copy != NULL && memo_put(m, o, copy) < 0) {
            rc_decref(copy);
            copy = NULL;
        }
        copy = copy_into(o, deep, m, copy);
    }
    rec_leave();
    return copy;
}

rc_object *rc_deepcopy(rc_object *o)
{
    if (o == NULL)
        return err_null(RC_ERR_TYPE, "rc_deepcopy() argument must be an object, not NULL");
    struct memo m = {0};
    rc_object *copy = deep(o, &m);
    memo_free(&m);
    return copy;
}
