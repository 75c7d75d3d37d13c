/* runtime/list.c: the list type, a growable sequence of references
 * (struct rc_list in objects.h), GC-tracked.
 *
 * Invariant: items[0..len) are non-NULL references the list owns;
 * len <= cap <= list_max_len(); items is NULL exactly when cap == 0.  The
 * item array is its own allocation, replaced as a whole when it grows
 * (list_reserve, the only place that sizes it): a later change lets
 * readers run without the list's lock, and then the old array is freed
 * only after a grace period, instead of at once as here.  Every function
 * that fails leaves the list exactly as it was.  References are dropped
 * only once the list is consistent again (as CPython's list_clear and
 * Py_SETREF do), because a drop may run arbitrary code (a finalizer) that
 * looks at the list.
 *
 * Thread rule, for now: a list is mutated by one thread at a time (the
 * caller's duty); reads may run in any thread that holds a reference, as
 * long as no thread mutates the list meanwhile.
 */
#define RCGC_BUILDING 1
#include <limits.h>
#include <string.h>

#include "objects.h"

/* Largest len: the array's size must fit a size_t, and len a long. */
static size_t list_max_len(void)
{
    size_t m = SIZE_MAX / sizeof(rc_object *);
    return m < (size_t)LONG_MAX ? m : (size_t)LONG_MAX;
}

#define LIST_MIN_CAP 8

/* --------------------------------------------------------------- storage */

/* Make room for at least need items.  Growth is geometric (x1.5), so n
 * appends cost O(n) copies.  0, or -1 with MemoryError and the list
 * unchanged. */
static int list_reserve(const char *fn, struct rc_list *l, size_t need)
{
    if (need <= l->cap)
        return 0;
    if (need > list_max_len())
        return err_int(RC_ERR_MEMORY, "%s(): list too long (%zu items)", fn, need);
    size_t cap = l->cap < LIST_MIN_CAP ? LIST_MIN_CAP : l->cap + l->cap / 2;
    if (cap < need || cap > list_max_len())
        cap = cap < need ? need : list_max_len();
    rc_object **items = mem_alloc(cap * sizeof *items);
    if (items == NULL)
        return -1;
    if (l->len > 0)
        memcpy(items, l->items, l->len * sizeof *items);
    rc_object **old = l->items;
    l->items = items;
    l->cap = cap;
    mem_free(old);   /* lock-free readers: defer this past a grace period */
    return 0;
}

/* Empty the list, then drop the references it held (last first, as
 * CPython does).  The list is valid and empty before any drop runs. */
static void list_clear_items(struct rc_list *l)
{
    rc_object **items = l->items;
    size_t n = l->len;
    l->items = NULL;
    l->len = 0;
    l->cap = 0;
    while (n > 0)
        rc_decref(items[--n]);
    mem_free(items);
}

/* ------------------------------------------------------------ type hooks */

static int list_traverse(rc_object *o, rc_visit_fn visit, void *arg)
{
    struct rc_list *l = (struct rc_list *)o;
    for (size_t i = 0; i < l->len; i++) {
        int r = visit(l->items[i], arg);
        if (r != 0)
            return r;
    }
    return 0;
}

static void list_clear(rc_object *o)
{
    list_clear_items((struct rc_list *)o);
}

static void list_dealloc(rc_object *o)
{
    /* Already untracked by obj_dealloc; deep nesting is bounded by its
     * trashcan, so dropping items here may recurse only a little. */
    list_clear_items((struct rc_list *)o);
    obj_free(o);
}

const rc_type rc_list_type = {
    .name = "list",
    .flags = RC_TYPE_GC,
    .basicsize = sizeof(struct rc_list),
    .dealloc = list_dealloc,
    .traverse = list_traverse,
    .clear = list_clear,
};

/* ------------------------------------------------------------ public API */

/* The list, or NULL with a TypeError naming fn. */
static struct rc_list *as_list(const char *fn, rc_object *o)
{
    if (!obj_is(o, &rc_list_type))
        return err_type_null(fn, "a list", o);
    return (struct rc_list *)o;
}

static int check_item(const char *fn, rc_object *item)
{
    if (item == NULL)
        return err_int(RC_ERR_TYPE, "%s(): item must be an object, not NULL", fn);
    return 0;
}

/* index (negative counts from the end) as a position in [0, len), or -1
 * with an IndexError naming fn. */
static long list_index(const char *fn, const struct rc_list *l, long index)
{
    long n = (long)l->len;
    long i = index < 0 ? index + n : index;
    if (i < 0 || i >= n)
        return err_int(RC_ERR_INDEX, "%s(): index %ld out of range (len %ld)", fn, index, n);
    return i;
}

rc_object *rc_list_new(void)
{
    /* obj_alloc zeroes the body: no items, len 0, cap 0. */
    return obj_alloc(&rc_list_type, sizeof(struct rc_list));
}

long rc_list_len(rc_object *list)
{
    struct rc_list *l = as_list("rc_list_len", list);
    if (l == NULL)
        return -1;
    return (long)l->len;
}

int rc_list_append(rc_object *list, rc_object *item)
{
    struct rc_list *l = as_list("rc_list_append", list);
    if (l == NULL || check_item("rc_list_append", item) < 0)
        return -1;
    if (list_reserve("rc_list_append", l, l->len + 1) < 0)
        return -1;
    rc_incref(item);
    l->items[l->len++] = item;
    return 0;
}

int rc_list_insert(rc_object *list, long index, rc_object *item)
{
    struct rc_list *l = as_list("rc_list_insert", list);
    if (l == NULL || check_item("rc_list_insert", item) < 0)
        return -1;
    if (list_reserve("rc_list_insert", l, l->len + 1) < 0)
        return -1;
    /* Clamp to [0, len], as Python's list.insert. */
    long n = (long)l->len;
    long i = index < 0 ? index + n : index;
    if (i < 0)
        i = 0;
    else if (i > n)
        i = n;
    memmove(&l->items[i + 1], &l->items[i], (size_t)(n - i) * sizeof *l->items);
    rc_incref(item);
    l->items[i] = item;
    l->len++;
    return 0;
}

rc_object *rc_list_get(rc_object *list, long index)
{
    struct rc_list *l = as_list("rc_list_get", list);
    if (l == NULL)
        return NULL;
    long i = list_index("rc_list_get", l, index);
    if (i < 0)
        return NULL;
    rc_object *item = l->items[i];
    rc_incref(item);
    return item;
}

int rc_list_set(rc_object *list, long index, rc_object *item)
{
    struct rc_list *l = as_list("rc_list_set", list);
    if (l == NULL || check_item("rc_list_set", item) < 0)
        return -1;
    long i = list_index("rc_list_set", l, index);
    if (i < 0)
        return -1;
    /* Store first, drop the old reference last (Py_SETREF). */
    rc_setref(&l->items[i], item);
    return 0;
}

rc_object *rc_list_pop(rc_object *list, long index)
{
    struct rc_list *l = as_list("rc_list_pop", list);
    if (l == NULL)
        return NULL;
    if (l->len == 0)
        return err_null(RC_ERR_INDEX, "rc_list_pop(): pop from empty list");
    long i = list_index("rc_list_pop", l, index);
    if (i < 0)
        return NULL;
    rc_object *item = l->items[i];
    memmove(&l->items[i], &l->items[i + 1], (l->len - (size_t)i - 1) * sizeof *l->items);
    l->len--;
    return item;   /* the list's reference, now the caller's */
}

int rc_list_clear(rc_object *list)
{
    struct rc_list *l = as_list("rc_list_clear", list);
    if (l == NULL)
        return -1;
    list_clear_items(l);
    return 0;
}

int rc_is_list(rc_object *o)
{
    return obj_is(o, &rc_list_type);
}
