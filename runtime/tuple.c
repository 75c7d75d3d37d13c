/* runtime/tuple.c: the tuple type, an immutable sequence of n references
 * (struct rc_tuple in objects.h), GC-tracked.
 *
 * Invariant: items[0..n) are references the tuple owns, all non-NULL from
 * rc_tuple_new until the collector's clear (or rc_clear) drops them; after
 * that every slot is NULL.  n never changes, so deallocation after a clear
 * just finds NULL slots.  A slot is set to NULL before its reference is
 * dropped (Py_CLEAR order), so code that the drop runs (a finalizer, a
 * traversal) never sees a freed item.
 *
 * Thread rule: a tuple is immutable once rc_tuple_new returns, so any
 * thread may read it; only clear writes it, with the world stopped (the
 * collector) or by a caller that holds the tuple exclusively (rc_clear).
 */
#define RCGC_BUILDING 1
#include <limits.h>

#include "objects.h"

/* Largest n: the object's size must fit a size_t, and n a long. */
static size_t tuple_max_len(void)
{
    size_t m = (SIZE_MAX - sizeof(struct rc_tuple)) / sizeof(rc_object *);
    return m < (size_t)LONG_MAX ? m : (size_t)LONG_MAX;
}

static int tuple_traverse(rc_object *o, rc_visit_fn visit, void *arg)
{
    struct rc_tuple *t = (struct rc_tuple *)o;
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i] != NULL) {
            int r = visit(t->items[i], arg);
            if (r != 0)
                return r;
        }
    }
    return 0;
}

/* Drop every item, setting its slot to NULL first. */
static void tuple_drop_items(struct rc_tuple *t)
{
    for (size_t i = 0; i < t->n; i++) {
        rc_object *item = t->items[i];
        t->items[i] = NULL;
        rc_decref(item);
    }
}

static void tuple_clear(rc_object *o)
{
    /* A drop may free the tuple itself: it may be alive only through the
     * cycle being broken, and the caller of rc_clear need not hold a
     * reference.  Hold one, so the loop never reads freed memory; our
     * decref frees the tuple if nothing else holds it.  (The list's clear
     * needs no such guard: it detaches its array before any drop.) */
    rc_incref(o);
    tuple_drop_items((struct rc_tuple *)o);
    rc_decref(o);
}

static void tuple_dealloc(rc_object *o)
{
    /* Dead and held exclusively (already untracked by obj_dealloc); the
     * slots may be NULL after a clear. */
    tuple_drop_items((struct rc_tuple *)o);
    obj_free(o);
}

const rc_type rc_tuple_type = {
    .name = "tuple",
    /* rc_tuple_new sets n and items, key_tuple_init the rest. */
    .flags = RC_TYPE_GC | RC_TYPE_FILLS_BODY,
    .basicsize = sizeof(struct rc_tuple),
    .dealloc = tuple_dealloc,
    .traverse = tuple_traverse,
    .clear = tuple_clear,
};

rc_object *rc_tuple_new(size_t n, rc_object *const *items)
{
    if (n > 0 && items == NULL)
        return err_null(RC_ERR_TYPE, "rc_tuple_new(): items is NULL but n is %zu", n);
    if (n > tuple_max_len())
        return err_null(RC_ERR_MEMORY, "rc_tuple_new(): %zu items is too many", n);
    /* Check every item before taking any reference: an error then leaves
     * every count as it was. */
    for (size_t i = 0; i < n; i++)
        if (items[i] == NULL)
            return err_null(RC_ERR_TYPE, "rc_tuple_new(): item %zu is NULL", i);
    struct rc_tuple *t = (struct rc_tuple *)obj_alloc(
        &rc_tuple_type, sizeof(struct rc_tuple) + n * sizeof(rc_object *));
    if (t == NULL)
        return NULL;
    t->n = n;
    for (size_t i = 0; i < n; i++) {
        rc_incref(items[i]);
        t->items[i] = items[i];
    }
    key_tuple_init(t);
    return &t->ob;
}

long rc_tuple_len(rc_object *o)
{
    if (!obj_is(o, &rc_tuple_type))
        return err_type_int("rc_tuple_len", "a tuple", o);
    return (long)((struct rc_tuple *)o)->n;
}

rc_object *rc_tuple_get(rc_object *o, long index)
{
    if (!obj_is(o, &rc_tuple_type))
        return err_type_null("rc_tuple_get", "a tuple", o);
    obj_escape_check(o);   /* another thread's tuple: internal.h */
    struct rc_tuple *t = (struct rc_tuple *)o;
    long n = (long)t->n;
    long i = index < 0 ? index + n : index;
    if (i < 0 || i >= n)
        return err_null(RC_ERR_INDEX, "rc_tuple_get(): index %ld out of range (len %ld)",
                        index, n);
    rc_object *item = t->items[i];
    if (item == NULL)
        return err_null(RC_ERR_VALUE, "rc_tuple_get(): the tuple was cleared (item %ld)",
                        index);
    rc_incref(item);
    return item;
}

int rc_is_tuple(rc_object *o)
{
    return obj_is(o, &rc_tuple_type);
}
