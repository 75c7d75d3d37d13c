/* tests/unit/test_list.c: the list type: the references each operation
 * takes, transfers and drops, index rules (negative, clamped insert), bad
 * input for every function, allocation failure (the list unchanged),
 * growth, what the collector sees (tracking, traverse, clear, referents),
 * the order of store and drop seen from a finalizer, a list nested a
 * million deep (the trashcan) and a list of a million items; slots past
 * len stay NULL; and reads by a thread that owns none of the items (ft:
 * the first read falls back to the lock and marks the item, later reads
 * are lock-free, proven by holding the list's lock meanwhile).  Concurrent
 * mutation is tested in tests/stress/stress_containers_list.c.
 */
#define RCGC_BUILDING 1   /* struct rc_list, to look at the item array */
#include "harness.h"
#include "lock.h"
#include "objects.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The list's item array and its capacity (0 without one).  Read from the
 * test's thread while no other thread uses the list. */
static struct list_array *arr_of(rc_object *l)
{
    return atomic_load(&((struct rc_list *)l)->arr);
}

static size_t cap_of(rc_object *l)
{
    struct list_array *a = arr_of(l);
    return a != NULL ? a->cap : 0;
}

/* A list of n mortal ints base, base+1, ...; each int's only reference is
 * the list's. */
static rc_object *int_list(long n, int64_t base)
{
    rc_object *l = rc_list_new();
    assert_non_null(l);
    for (long i = 0; i < n; i++) {
        rc_object *v = rc_int_new(base + i);
        assert_non_null(v);
        assert_int_equal(0, rc_list_append(l, v));
        rc_decref(v);
    }
    return l;
}

/* The int value at index i. */
static int64_t int_at(rc_object *l, long i)
{
    rc_object *v = rc_list_get(l, i);
    assert_non_null(v);
    int64_t x = rc_int_value(v);
    rc_decref(v);
    return x;
}

static void assert_ints(rc_object *l, const int64_t *want, long n)
{
    assert_int_equal(n, rc_list_len(l));
    for (long i = 0; i < n; i++)
        assert_true(want[i] == int_at(l, i));
}

static void test_new(void **state)
{
    size_t live = rc_live_objects();
    rc_object *l = rc_list_new();
    assert_non_null(l);
    assert_int_equal(1, rc_refcount(l));
    assert_int_equal(0, rc_list_len(l));
    assert_int_equal(1, rc_gc_is_tracked(l));
    assert_int_equal(0, rc_is_immortal(l));
    assert_null(arr_of(l));
    assert_int_equal(0, cap_of(l));
    assert_int_equal(live + 1, rc_live_objects());
    rc_decref(l);
    assert_int_equal(live, rc_live_objects());
}

static void test_append_takes_a_reference(void **state)
{
    size_t live = rc_live_objects();
    rc_object *l = rc_list_new();
    rc_object *x = rc_int_new(1000);
    rc_object *small = rc_int_new(1);
    assert_int_equal(1, rc_refcount(x));
    assert_int_equal(0, rc_list_append(l, x));
    assert_int_equal(2, rc_refcount(x));
    assert_int_equal(0, rc_list_append(l, x));   /* the same item twice */
    assert_int_equal(3, rc_refcount(x));
    assert_int_equal(0, rc_list_append(l, small));
    assert_int_equal((intptr_t)RC_REF_IMMORTAL, rc_refcount(small));
    assert_int_equal(0, rc_list_append(l, rc_none()));
    assert_int_equal(4, rc_list_len(l));
    assert_int_equal(1, rc_refcount(l));   /* appending takes none on the list */
    rc_decref(x);
    assert_int_equal(2, rc_refcount(x));   /* kept alive by the list alone */
    rc_decref(l);
    assert_int_equal(live, rc_live_objects());
}

static void test_get_returns_a_new_reference(void **state)
{
    rc_object *l = rc_list_new();
    rc_object *a = rc_str_new("a"), *b = rc_str_new("b"), *c = rc_str_new("c");
    rc_list_append(l, a);
    rc_list_append(l, b);
    rc_list_append(l, c);
    rc_object *g = rc_list_get(l, 0);
    assert_ptr_equal(a, g);
    assert_int_equal(3, rc_refcount(a));   /* ours, the list's, g */
    rc_decref(g);
    assert_int_equal(2, rc_refcount(a));
    rc_object *want[] = {a, b, c};
    for (long i = 0; i < 3; i++) {
        g = rc_list_get(l, i);
        assert_ptr_equal(want[i], g);
        rc_decref(g);
        g = rc_list_get(l, i - 3);   /* negative: from the end */
        assert_ptr_equal(want[i], g);
        rc_decref(g);
    }
    assert_int_equal(2, rc_refcount(b));
    rc_decref(l);
    assert_int_equal(1, rc_refcount(a));
    assert_int_equal(1, rc_refcount(c));
    rc_decref(a);
    rc_decref(b);
    rc_decref(c);
}

static void test_index_out_of_range(void **state)
{
    rc_object *l = int_list(3, 1000);
    rc_object *x = rc_int_new(5000);
    assert_null(rc_list_get(l, 5));
    assert_string_equal("rc_list_get(): index 5 out of range (len 3)", rc_error_message());
    assert_error(RC_ERR_INDEX);
    assert_null(rc_list_get(l, 3));
    assert_error(RC_ERR_INDEX);
    assert_null(rc_list_get(l, -4));
    assert_string_equal("rc_list_get(): index -4 out of range (len 3)", rc_error_message());
    assert_error(RC_ERR_INDEX);
    assert_null(rc_list_get(l, LONG_MIN));
    assert_error(RC_ERR_INDEX);
    assert_null(rc_list_get(l, LONG_MAX));
    assert_error(RC_ERR_INDEX);

    assert_int_equal(-1, rc_list_set(l, 3, x));
    assert_string_equal("rc_list_set(): index 3 out of range (len 3)", rc_error_message());
    assert_error(RC_ERR_INDEX);
    assert_int_equal(-1, rc_list_set(l, -4, x));
    assert_error(RC_ERR_INDEX);
    assert_int_equal(-1, rc_list_set(l, LONG_MIN, x));
    assert_error(RC_ERR_INDEX);
    assert_int_equal(1, rc_refcount(x));   /* not taken on failure */

    assert_null(rc_list_pop(l, 3));
    assert_string_equal("rc_list_pop(): index 3 out of range (len 3)", rc_error_message());
    assert_error(RC_ERR_INDEX);
    assert_null(rc_list_pop(l, -4));
    assert_error(RC_ERR_INDEX);
    assert_null(rc_list_pop(l, LONG_MIN));
    assert_error(RC_ERR_INDEX);

    int64_t want[] = {1000, 1001, 1002};
    assert_ints(l, want, 3);
    rc_object *empty = rc_list_new();
    assert_null(rc_list_get(empty, 0));
    assert_string_equal("rc_list_get(): index 0 out of range (len 0)", rc_error_message());
    assert_error(RC_ERR_INDEX);
    assert_null(rc_list_get(empty, -1));
    assert_error(RC_ERR_INDEX);
    assert_int_equal(-1, rc_list_set(empty, 0, x));
    assert_error(RC_ERR_INDEX);
    rc_decref(empty);
    rc_decref(x);
    rc_decref(l);
}

static void test_set_replaces(void **state)
{
    size_t live = rc_live_objects();
    rc_object *l = int_list(3, 1000);
    rc_object *old = rc_list_get(l, 1);
    rc_object *x = rc_int_new(7777);
    assert_int_equal(2, rc_refcount(old));
    assert_int_equal(0, rc_list_set(l, 1, x));
    assert_int_equal(2, rc_refcount(x));     /* ours and the list's */
    assert_int_equal(1, rc_refcount(old));   /* the list let go of it */
    rc_decref(old);
    int64_t want1[] = {1000, 7777, 1002};
    assert_ints(l, want1, 3);

    /* Negative index; the replaced item's last reference was the list's,
     * so it is freed. */
    assert_int_equal(live + 4, rc_live_objects());   /* the list, 1000, 1002, x */
    assert_int_equal(0, rc_list_set(l, -1, x));
    assert_int_equal(3, rc_refcount(x));
    assert_int_equal(live + 3, rc_live_objects());
    int64_t want2[] = {1000, 7777, 7777};
    assert_ints(l, want2, 3);

    /* Setting an item to itself keeps it alive and its count unchanged. */
    rc_object *first = rc_list_get(l, 0);
    assert_int_equal(2, rc_refcount(first));
    assert_int_equal(0, rc_list_set(l, 0, first));
    assert_int_equal(2, rc_refcount(first));
    assert_int_equal(1000, rc_int_value(first));
    rc_decref(first);

    /* An immortal item. */
    assert_int_equal(0, rc_list_set(l, 0, rc_none()));
    assert_int_equal(live + 2, rc_live_objects());   /* the list and x */
    rc_decref(l);
    assert_int_equal(1, rc_refcount(x));
    rc_decref(x);
    assert_int_equal(live, rc_live_objects());
}

static void test_insert_clamps_like_python(void **state)
{
    rc_object *l = rc_list_new();
    rc_object *v[8];
    for (int i = 0; i < 8; i++)
        v[i] = rc_int_new(100000 + i);
    /* Python: l.insert(i, x) with the index clamped to [0, len]. */
    assert_int_equal(0, rc_list_insert(l, 0, v[0]));         /* [0] */
    assert_int_equal(0, rc_list_insert(l, 100, v[1]));       /* [0 1] */
    assert_int_equal(0, rc_list_insert(l, -100, v[2]));      /* [2 0 1] */
    assert_int_equal(0, rc_list_insert(l, -1, v[3]));        /* [2 0 3 1] */
    assert_int_equal(0, rc_list_insert(l, 1, v[4]));         /* [2 4 0 3 1] */
    assert_int_equal(0, rc_list_insert(l, LONG_MIN, v[5]));  /* [5 2 4 0 3 1] */
    assert_int_equal(0, rc_list_insert(l, LONG_MAX, v[6]));  /* [5 2 4 0 3 1 6] */
    assert_int_equal(0, rc_list_insert(l, 7, v[7]));         /* at len: the end */
    int64_t want[] = {100005, 100002, 100004, 100000, 100003, 100001, 100006, 100007};
    assert_ints(l, want, 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(2, rc_refcount(v[i]));
        rc_decref(v[i]);
    }
    rc_decref(l);
}

static void test_insert_many_at_front(void **state)
{
    rc_object *l = rc_list_new();
    for (int i = 0; i < 1000; i++) {
        rc_object *x = rc_int_new(i);
        assert_int_equal(0, rc_list_insert(l, 0, x));
        rc_decref(x);
    }
    assert_int_equal(1000, rc_list_len(l));
    for (long i = 0; i < 1000; i++)
        assert_int_equal(999 - i, int_at(l, i));
    rc_decref(l);
}

static void test_pop_transfers_the_reference(void **state)
{
    size_t live = rc_live_objects();
    rc_object *l = int_list(6, 10000);   /* [10000 .. 10005] */
    rc_object *x = rc_list_pop(l, -1);
    assert_non_null(x);
    assert_int_equal(10005, rc_int_value(x));
    assert_int_equal(1, rc_refcount(x));   /* the list's, now ours */
    assert_int_equal(5, rc_list_len(l));
    rc_decref(x);
    assert_int_equal(live + 6, rc_live_objects());

    rc_object *held = rc_list_get(l, 0);
    assert_int_equal(2, rc_refcount(held));
    x = rc_list_pop(l, 0);
    assert_ptr_equal(held, x);
    assert_int_equal(2, rc_refcount(held));   /* transferred, not copied */
    rc_decref(x);
    rc_decref(held);
    int64_t want1[] = {10001, 10002, 10003, 10004};
    assert_ints(l, want1, 4);

    x = rc_list_pop(l, -2);
    assert_int_equal(10003, rc_int_value(x));
    rc_decref(x);
    x = rc_list_pop(l, 1);
    assert_int_equal(10002, rc_int_value(x));
    rc_decref(x);
    int64_t want2[] = {10001, 10004};
    assert_ints(l, want2, 2);
    x = rc_list_pop(l, -1);
    assert_int_equal(10004, rc_int_value(x));
    rc_decref(x);
    x = rc_list_pop(l, 0);
    assert_int_equal(10001, rc_int_value(x));
    rc_decref(x);
    assert_int_equal(0, rc_list_len(l));

    /* Empty: IndexError, whatever the index. */
    assert_null(rc_list_pop(l, -1));
    assert_non_null(strstr(rc_error_message(), "pop from empty list"));
    assert_non_null(strstr(rc_error_message(), "rc_list_pop()"));
    assert_error(RC_ERR_INDEX);
    assert_null(rc_list_pop(l, 0));
    assert_non_null(strstr(rc_error_message(), "pop from empty list"));
    assert_error(RC_ERR_INDEX);
    /* Usable after being emptied. */
    assert_int_equal(0, rc_list_append(l, rc_true()));
    assert_ptr_equal(rc_true(), rc_list_pop(l, -1));
    rc_decref(l);
    assert_int_equal(live, rc_live_objects());
}

static void test_clear(void **state)
{
    size_t live = rc_live_objects();
    rc_object *l = rc_list_new();
    rc_object *x = rc_str_new("x");
    for (int i = 0; i < 20; i++)
        rc_list_append(l, x);
    assert_int_equal(21, rc_refcount(x));
    assert_int_equal(0, rc_list_clear(l));
    assert_int_equal(0, rc_list_len(l));
    assert_int_equal(1, rc_refcount(x));
    assert_null(arr_of(l));   /* the array is given back */
    assert_int_equal(0, cap_of(l));
    assert_int_equal(0, rc_list_clear(l));   /* clearing an empty list */
    assert_int_equal(0, rc_list_append(l, x));
    assert_int_equal(1, rc_list_len(l));
    assert_int_equal(2, rc_refcount(x));
    rc_decref(x);
    rc_object *l2 = int_list(100, 5000);
    assert_int_equal(live + 103, rc_live_objects());   /* l, x, l2, 100 ints */
    assert_int_equal(0, rc_list_clear(l2));   /* frees the 100 ints */
    assert_int_equal(live + 3, rc_live_objects());
    rc_decref(l2);
    rc_decref(l);
    assert_int_equal(live, rc_live_objects());
}

static void test_bad_input(void **state)
{
    size_t live = rc_live_objects();
    rc_object *t = rc_tuple_new(0, NULL);
    rc_object *s = rc_str_new("not a list");
    rc_object *x = rc_int_new(9999);
    rc_object *l = int_list(2, 100);
    rc_object *bad[] = {NULL, t, s, rc_none()};
    const char *names[] = {"NULL", "tuple", "str", "NoneType"};
    char want[128];
    for (int k = 0; k < 4; k++) {
        rc_object *o = bad[k];
        assert_int_equal(-1, rc_list_len(o));
        snprintf(want, sizeof want, "rc_list_len() argument must be a list, not %s", names[k]);
        assert_string_equal(want, rc_error_message());
        assert_error(RC_ERR_TYPE);
        assert_int_equal(-1, rc_list_append(o, x));
        snprintf(want, sizeof want, "rc_list_append() argument must be a list, not %s", names[k]);
        assert_string_equal(want, rc_error_message());
        assert_error(RC_ERR_TYPE);
        assert_int_equal(-1, rc_list_insert(o, 0, x));
        assert_non_null(strstr(rc_error_message(), "rc_list_insert()"));
        assert_error(RC_ERR_TYPE);
        assert_null(rc_list_get(o, 0));
        snprintf(want, sizeof want, "rc_list_get() argument must be a list, not %s", names[k]);
        assert_string_equal(want, rc_error_message());
        assert_error(RC_ERR_TYPE);
        assert_int_equal(-1, rc_list_set(o, 0, x));
        assert_non_null(strstr(rc_error_message(), "rc_list_set()"));
        assert_error(RC_ERR_TYPE);
        assert_null(rc_list_pop(o, -1));
        assert_non_null(strstr(rc_error_message(), "rc_list_pop()"));
        assert_error(RC_ERR_TYPE);
        assert_int_equal(-1, rc_list_clear(o));
        assert_non_null(strstr(rc_error_message(), "rc_list_clear()"));
        assert_error(RC_ERR_TYPE);
    }
    assert_int_equal(0, rc_tuple_len(t));
    assert_int_equal(1, rc_refcount(x));

    /* NULL items: TypeError, the list unchanged. */
    assert_int_equal(-1, rc_list_append(l, NULL));
    assert_string_equal("rc_list_append(): item must be an object, not NULL", rc_error_message());
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_list_insert(l, 0, NULL));
    assert_string_equal("rc_list_insert(): item must be an object, not NULL", rc_error_message());
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_list_set(l, 0, NULL));
    assert_string_equal("rc_list_set(): item must be an object, not NULL", rc_error_message());
    assert_error(RC_ERR_TYPE);
    /* A NULL item is reported even with a bad index. */
    assert_int_equal(-1, rc_list_set(l, 99, NULL));
    assert_error(RC_ERR_TYPE);
    int64_t want_items[] = {100, 101};
    assert_ints(l, want_items, 2);

    rc_decref(t);
    rc_decref(s);
    rc_decref(x);
    rc_decref(l);
    assert_int_equal(live, rc_live_objects());
}

static void test_is_list(void **state)
{
    rc_object *l = rc_list_new();
    rc_object *t = rc_tuple_new(0, NULL);
    rc_error_clear();
    assert_int_equal(1, rc_is_list(l));
    assert_int_equal(0, rc_is_list(t));
    assert_int_equal(0, rc_is_list(NULL));
    assert_int_equal(0, rc_is_list(rc_none()));
    assert_int_equal(0, rc_is_list(rc_int_new(2)));
    assert_int_equal(RC_ERR_NONE, rc_error_occurred());
    rc_decref(l);
    rc_decref(t);
}

static void test_alloc_failure(void **state)
{
    size_t live = rc_live_objects();
    rc_testing_fail_alloc_after(1);
    assert_null(rc_list_new());
    assert_error(RC_ERR_MEMORY);
    assert_int_equal(live, rc_live_objects());

    rc_object *l = rc_list_new();
    rc_object *x = rc_int_new(31337);

    /* The first append allocates the array. */
    rc_testing_fail_alloc_after(1);
    assert_int_equal(-1, rc_list_append(l, x));
    assert_error(RC_ERR_MEMORY);
    assert_int_equal(0, rc_list_len(l));
    assert_null(arr_of(l));
    assert_int_equal(1, rc_refcount(x));
    rc_testing_fail_alloc_after(1);
    assert_int_equal(-1, rc_list_insert(l, 0, x));
    assert_error(RC_ERR_MEMORY);
    assert_int_equal(0, rc_list_len(l));
    assert_int_equal(1, rc_refcount(x));

    /* Fill to capacity, then growth fails: nothing changes. */
    int64_t n = 0;
    do {
        rc_object *v = rc_int_new(1000 + n++);
        assert_int_equal(0, rc_list_append(l, v));
        rc_decref(v);
    } while ((size_t)rc_list_len(l) < cap_of(l));
    struct list_array *items = arr_of(l);
    size_t cap = cap_of(l);
    rc_testing_fail_alloc_after(1);
    assert_int_equal(-1, rc_list_append(l, x));
    assert_error(RC_ERR_MEMORY);
    rc_testing_fail_alloc_after(1);
    assert_int_equal(-1, rc_list_insert(l, 0, x));
    assert_error(RC_ERR_MEMORY);
    assert_ptr_equal(items, arr_of(l));
    assert_int_equal(cap, cap_of(l));
    assert_int_equal(n, rc_list_len(l));
    assert_int_equal(1, rc_refcount(x));
    for (long i = 0; i < (long)n; i++)
        assert_int_equal(1000 + i, int_at(l, i));

    /* Reads, set, pop and clear allocate nothing: the armed failure is
     * still pending afterwards. */
    rc_testing_fail_alloc_after(1);
    assert_int_equal(n, rc_list_len(l));
    rc_object *g = rc_list_get(l, 0);
    assert_non_null(g);
    assert_int_equal(0, rc_list_set(l, 0, x));
    rc_object *p = rc_list_pop(l, -1);
    assert_non_null(p);
    assert_int_equal(0, rc_list_insert(l, 0, p));   /* room left by pop */
    assert_null(rc_int_new(123456789));
    assert_error(RC_ERR_MEMORY);
    rc_testing_fail_alloc_after(1);
    assert_int_equal(0, rc_list_clear(l));
    assert_null(rc_int_new(123456789));
    assert_error(RC_ERR_MEMORY);

    /* And it works again. */
    assert_int_equal(0, rc_list_append(l, x));
    assert_int_equal(2, rc_refcount(x));
    rc_decref(g);
    rc_decref(p);
    rc_decref(x);
    rc_decref(l);
    assert_int_equal(live, rc_live_objects());
}

/* Slots past len read NULL (a lock-free reader that raced a pop must never
 * find a stale item there). */
static void assert_tail_null(rc_object *l)
{
    struct list_array *a = arr_of(l);
    if (a == NULL)
        return;
    for (size_t i = (size_t)rc_list_len(l); i < a->cap; i++)
        assert_null(atomic_load(&a->items[i]));
}

static void test_growth_is_geometric(void **state)
{
    rc_object *l = rc_list_new();
    int resizes = 0;
    size_t cap = 0;
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(0, rc_list_append(l, rc_none()));
        if (cap_of(l) != cap) {
            resizes++;
            assert_true(cap_of(l) >= cap + cap / 4);   /* grows by a factor */
            cap = cap_of(l);
            assert_tail_null(l);
        }
        assert_true((size_t)rc_list_len(l) <= cap_of(l));
    }
    assert_true(resizes <= 30);
    assert_true(cap_of(l) <= 2 * (size_t)rc_list_len(l));
    rc_decref(l);
}

static void test_slots_past_len_are_null(void **state)
{
    rc_object *l = int_list(20, 3000);
    assert_tail_null(l);
    rc_object *x = rc_list_pop(l, -1);   /* from the end */
    rc_decref(x);
    assert_tail_null(l);
    x = rc_list_pop(l, 3);               /* from the middle: a shift */
    rc_decref(x);
    assert_tail_null(l);
    x = rc_list_pop(l, 0);
    assert_int_equal(0, rc_list_insert(l, 5, x));
    assert_int_equal(0, rc_list_insert(l, 0, x));
    rc_decref(x);
    assert_tail_null(l);
    while (rc_list_len(l) > 0) {
        x = rc_list_pop(l, 0);
        rc_decref(x);
        assert_tail_null(l);
    }
    assert_non_null(arr_of(l));   /* popping keeps the array */
    rc_decref(l);
}

/* ---- what the collector sees ---- */

struct visits {
    rc_object *seen[8];
    int n;
    int stop_at;   /* return 9 from this visit (1-based); 0: never */
};

static int record_visit(rc_object *o, void *arg)
{
    struct visits *v = arg;
    if (v->n < 8)
        v->seen[v->n] = o;
    v->n++;
    return v->n == v->stop_at ? 9 : 0;
}

static void test_gc_traverse_and_referents(void **state)
{
    rc_object *l = rc_list_new();
    rc_object *a = rc_int_new(60000);
    rc_object *t = rc_tuple_new(1, &a);
    rc_list_append(l, a);
    rc_list_append(l, t);
    rc_list_append(l, rc_none());
    assert_int_equal(1, rc_gc_is_tracked(l));
    struct visits v = {0};
    assert_int_equal(0, rc_traverse(l, record_visit, &v));
    assert_int_equal(3, v.n);
    assert_ptr_equal(a, v.seen[0]);
    assert_ptr_equal(t, v.seen[1]);
    assert_ptr_equal(rc_none(), v.seen[2]);
    assert_int_equal(3, rc_refcount(a));   /* traversal takes none */
    struct visits stop = {.stop_at = 1};
    assert_int_equal(9, rc_traverse(l, record_visit, &stop));
    assert_int_equal(1, stop.n);
    struct visits none = {0};
    rc_object *empty = rc_list_new();
    assert_int_equal(0, rc_traverse(empty, record_visit, &none));
    assert_int_equal(0, none.n);

    rc_object *refs = rc_gc_get_referents(l);
    assert_non_null(refs);
    assert_int_equal(3, rc_list_len(refs));
    int found = 0;
    for (long i = 0; i < 3; i++) {
        rc_object *r = rc_list_get(refs, i);
        found += (r == a) + (r == t) * 2 + (r == rc_none()) * 4;
        rc_decref(r);
    }
    assert_int_equal(7, found);
    assert_int_equal(4, rc_refcount(a));
    rc_decref(refs);
    assert_int_equal(3, rc_refcount(a));
    rc_decref(empty);
    rc_decref(t);
    rc_decref(l);
    assert_int_equal(1, rc_refcount(a));
    rc_decref(a);
}

static void test_gc_clear(void **state)
{
    size_t live = rc_live_objects();
    rc_object *l = int_list(10, 20000);
    assert_int_equal(live + 11, rc_live_objects());
    assert_int_equal(0, rc_clear(l));
    assert_int_equal(0, rc_list_len(l));
    assert_int_equal(live + 1, rc_live_objects());
    assert_int_equal(1, rc_gc_is_tracked(l));
    struct visits v = {0};
    assert_int_equal(0, rc_traverse(l, record_visit, &v));
    assert_int_equal(0, v.n);
    assert_int_equal(0, rc_list_append(l, rc_none()));   /* still usable */
    rc_decref(l);
    assert_int_equal(live, rc_live_objects());
}

static void test_self_reference(void **state)
{
    size_t live = rc_live_objects();
    rc_object *l = rc_list_new();
    assert_int_equal(0, rc_list_append(l, l));
    assert_int_equal(2, rc_refcount(l));
    struct visits v = {0};
    assert_int_equal(0, rc_traverse(l, record_visit, &v));
    assert_int_equal(1, v.n);
    assert_ptr_equal(l, v.seen[0]);
    rc_object *g = rc_list_get(l, -1);
    assert_ptr_equal(l, g);
    rc_decref(g);
    rc_decref(l);
    /* Only the cycle keeps it alive now. */
    assert_int_equal(1, rc_refcount(l));
    assert_int_equal(live + 1, rc_live_objects());
    /* Clearing drops the last reference: the list is freed inside its
     * own clear, which must not touch it afterwards. */
    assert_int_equal(0, rc_clear(l));
    assert_int_equal(live, rc_live_objects());
}

/* ---- set and clear drop references only once the list is consistent
 * (a finalizer run by the drop looks at the list) ---- */

static rc_object *g_list;
static long g_seen_len;
static rc_object *g_seen_item;
static int g_finalized;

static void look_at_list(rc_object *self)
{
    g_finalized++;
    g_seen_len = rc_list_len(g_list);
    g_seen_item = g_seen_len > 0 ? rc_list_get(g_list, 0) : NULL;
}

static void test_drops_happen_after_the_store(void **state)
{
    rc_type *type = rc_type_new("Watcher", 0, look_at_list);
    assert_non_null(type);
    g_list = rc_list_new();
    rc_object *w = rc_instance_new(type);
    assert_non_null(w);
    assert_int_equal(0, rc_list_append(g_list, w));
    rc_decref(w);   /* the list holds the only reference */

    /* set: the watcher dies when replaced and must see its replacement. */
    rc_object *x = rc_int_new(424242);
    g_finalized = 0;
    assert_int_equal(0, rc_list_set(g_list, 0, x));
    assert_int_equal(1, g_finalized);
    assert_int_equal(1, g_seen_len);
    assert_ptr_equal(x, g_seen_item);
    rc_decref(g_seen_item);

    /* clear: the watcher dies during the clear and sees an empty list. */
    w = rc_instance_new(type);
    assert_int_equal(0, rc_list_append(g_list, w));
    rc_decref(w);
    g_finalized = 0;
    assert_int_equal(0, rc_list_clear(g_list));
    assert_int_equal(1, g_finalized);
    assert_int_equal(0, g_seen_len);
    assert_null(g_seen_item);

    rc_decref(x);
    rc_decref(g_list);
    g_list = NULL;
}

/* ---- size ---- */

static void test_nested_a_million_deep(void **state)
{
    /* [[[[...]]]]: freeing the outermost frees a million lists, each from
     * its parent's dealloc; the trashcan keeps the C stack bounded. */
    size_t live = rc_live_objects();
    rc_object *outer = rc_list_new();
    rc_object *cur = outer;
    for (int i = 0; i < 1000000; i++) {
        rc_object *child = rc_list_new();
        assert_non_null(child);
        assert_int_equal(0, rc_list_append(cur, child));
        rc_decref(child);   /* cur holds it */
        cur = child;
    }
    assert_int_equal(live + 1000001, rc_live_objects());
    rc_decref(outer);
    assert_int_equal(live, rc_live_objects());
}

static void test_a_million_items(void **state)
{
    size_t live = rc_live_objects();
    enum { N = 1000000 };
    rc_object *l = int_list(N, 0);   /* 0..256 immortal, the rest mortal */
    assert_int_equal(N, rc_list_len(l));
    assert_int_equal(live + 1 + (N - 257), rc_live_objects());
    for (long i = 0; i < N; i += 9973)
        assert_int_equal(i, int_at(l, i));
    assert_int_equal(N - 1, int_at(l, -1));
    /* Pop from the end and the front, insert at the front. */
    for (int k = 0; k < 1000; k++) {
        rc_object *x = rc_list_pop(l, -1);
        assert_int_equal(N - 1 - k, rc_int_value(x));
        rc_decref(x);
    }
    rc_object *first = rc_list_pop(l, 0);
    assert_int_equal(0, rc_int_value(first));
    assert_int_equal(0, rc_list_insert(l, LONG_MAX, first));   /* to the end */
    assert_int_equal(N - 1000, rc_list_len(l));
    assert_int_equal(1, int_at(l, 0));
    assert_int_equal(0, int_at(l, -1));
    assert_int_equal(N - 1001, int_at(l, -2));
    int64_t sum = 0;
    for (long i = 0; i < N - 1000; i++)
        sum += int_at(l, i);
    assert_true(sum == (int64_t)(N - 1000) * (N - 1001) / 2);
    rc_decref(l);
    assert_int_equal(live, rc_live_objects());
}

/* ---- another thread ---- */

struct filler {
    rc_object *list;
    int ok;
};

static void filler_fn(void *arg)
{
    struct filler *f = arg;
    f->ok = 1;
    for (int i = 0; i < 1000; i++) {
        rc_object *x = rc_int_new(50000 + i);
        if (x == NULL || rc_list_append(f->list, x) < 0)
            f->ok = 0;
        rc_decref(x);
    }
    /* Drop one of the main thread's items. */
    rc_object *x = rc_list_pop(f->list, 0);
    if (x == NULL || rc_int_value(x) != -77777)
        f->ok = 0;
    rc_decref(x);
}

static void test_list_filled_by_another_thread(void **state)
{
    size_t live = rc_live_objects();
    struct filler f = {.list = rc_list_new()};
    rc_object *mine = rc_int_new(-77777);
    rc_list_append(f.list, mine);
    rc_decref(mine);
    rc_thread *t = rc_thread_start(filler_fn, &f);
    assert_non_null(t);
    assert_int_equal(0, rc_thread_join(t));   /* one mutator at a time */
    rc_safepoint();
    assert_true(f.ok);
    assert_int_equal(1000, rc_list_len(f.list));
    for (long i = 0; i < 1000; i++)
        assert_int_equal(50000 + i, int_at(f.list, i));
    rc_decref(f.list);   /* frees ints owned by an exited thread */
    assert_int_equal(live, rc_live_objects());
}

/* ---- lock-free reads by a thread that owns none of the items ---- */

enum { NR_ITEMS = 6 };

struct reader {
    rc_object *list;
    rc_object *want[NR_ITEMS];
    rc_object *got[NR_ITEMS];
    intptr_t held[NR_ITEMS];     /* rc_refcount while the reader holds it */
    intptr_t after[NR_ITEMS];    /* rc_refcount after the reader dropped it */
    intptr_t state[NR_ITEMS];    /* ob_ref_shared's state after the read */
    rc_object *got_neg;          /* rc_list_get(list, -1) */
    int index_error;             /* rc_list_get(list, len) failed right */
    _Atomic int done;
};

static void reader_fn(void *arg)
{
    struct reader *r = arg;
    for (int i = 0; i < NR_ITEMS; i++) {
        rc_object *g = rc_list_get(r->list, i);
        r->got[i] = g;
        if (g == NULL)
            continue;
        r->held[i] = rc_refcount(g);
        r->state[i] = atomic_load(&g->ob_ref_shared) & RC_REF_STATE_MASK;
        rc_decref(g);
        r->after[i] = rc_refcount(g);   /* the list still holds it */
    }
    r->got_neg = rc_list_get(r->list, -1);
    rc_decref(r->got_neg);
    r->index_error = rc_list_get(r->list, NR_ITEMS) == NULL &&
                     rc_error_occurred() == RC_ERR_INDEX;
    rc_error_clear();
    atomic_store(&r->done, 1);
}

static void test_get_from_a_thread_that_owns_no_item(void **state)
{
    size_t live = rc_live_objects();
    rc_object *l = rc_list_new();
    struct reader r = {.list = l};
    for (int i = 0; i < NR_ITEMS; i++) {
        /* Mortal objects of this thread, held by the list alone (the last
         * one also by us), and one immortal. */
        r.want[i] = i == 2 ? rc_none()
                    : i % 2 ? rc_str_new("item") : rc_int_new(1000000 + i);
        assert_int_equal(0, rc_list_append(l, r.want[i]));
        if (i != NR_ITEMS - 1)
            rc_decref(r.want[i]);
    }
    if (harness_mode == RC_MODE_FT) {
        /* Nobody else ever touched them: ob_ref_shared is exactly 0, which
         * ref_try_incref refuses, so the first read must fall back. */
        assert_int_equal(0, atomic_load(&r.want[0]->ob_ref_shared));
        assert_int_equal(0, atomic_load(&r.want[1]->ob_ref_shared));
    }

    /* First reader: falls back to the lock and marks each item. */
    rc_thread *t = rc_thread_start(reader_fn, &r);
    assert_non_null(t);
    assert_int_equal(0, rc_thread_join(t));
    rc_safepoint();
    for (int i = 0; i < NR_ITEMS; i++) {
        assert_ptr_equal(r.want[i], r.got[i]);
        if (i == 2) {
            assert_int_equal((intptr_t)RC_REF_IMMORTAL, r.held[i]);
            continue;
        }
        intptr_t mine = i == NR_ITEMS - 1;
        assert_int_equal(2 + mine, r.held[i]);   /* the list's, the reader's */
        assert_int_equal(1 + mine, r.after[i]);
        assert_int_equal(1 + mine, rc_refcount(r.want[i]));
        if (harness_mode == RC_MODE_FT)
            assert_int_equal(RC_REF_MAYBE_WEAKREF, r.state[i]);
        else if (harness_mode == RC_MODE_FT_ATOMIC)
            assert_int_equal(RC_REF_MERGED, r.state[i]);
    }
    assert_ptr_equal(r.want[NR_ITEMS - 1], r.got_neg);
    assert_true(r.index_error);

    /* Second reader, with the list's lock held by us: only the lock-free
     * path can serve it now (a fallback would wait for the lock: we give
     * it 20 s, then release the lock and report the failure). */
    struct reader r2 = {.list = l};
    memcpy(r2.want, r.want, sizeof r.want);
    obj_lock(l);
    t = rc_thread_start(reader_fn, &r2);
    assert_non_null(t);
    rc_detach();
    for (int ms = 0; ms < 20000 && !atomic_load(&r2.done); ms++)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    rc_attach();
    int served_lock_free = atomic_load(&r2.done);
    obj_unlock(l);
    assert_int_equal(0, rc_thread_join(t));
    rc_safepoint();
    assert_true(served_lock_free);
    for (int i = 0; i < NR_ITEMS; i++) {
        assert_ptr_equal(r.want[i], r2.got[i]);
        if (i == 2)
            continue;
        intptr_t mine = i == NR_ITEMS - 1;
        assert_int_equal(2 + mine, r2.held[i]);
        assert_int_equal(1 + mine, r2.after[i]);
        assert_int_equal(1 + mine, rc_refcount(r.want[i]));
    }
    assert_ptr_equal(r.want[NR_ITEMS - 1], r2.got_neg);
    assert_true(r2.index_error);

    /* Marked items still die normally, through their owner (us). */
    assert_int_equal(live + NR_ITEMS, rc_live_objects());   /* the list, 5 items */
    rc_decref(r.want[NR_ITEMS - 1]);
    rc_decref(l);
    assert_int_equal(live, rc_live_objects());
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_new),
        HARNESS_TEST(test_append_takes_a_reference),
        HARNESS_TEST(test_get_returns_a_new_reference),
        HARNESS_TEST(test_index_out_of_range),
        HARNESS_TEST(test_set_replaces),
        HARNESS_TEST(test_insert_clamps_like_python),
        HARNESS_TEST(test_insert_many_at_front),
        HARNESS_TEST(test_pop_transfers_the_reference),
        HARNESS_TEST(test_clear),
        HARNESS_TEST(test_bad_input),
        HARNESS_TEST(test_is_list),
        HARNESS_TEST(test_alloc_failure),
        HARNESS_TEST(test_growth_is_geometric),
        HARNESS_TEST(test_slots_past_len_are_null),
        HARNESS_TEST(test_gc_traverse_and_referents),
        HARNESS_TEST(test_gc_clear),
        HARNESS_TEST(test_self_reference),
        HARNESS_TEST(test_drops_happen_after_the_store),
        HARNESS_TEST(test_nested_a_million_deep),
        HARNESS_TEST(test_a_million_items),
        HARNESS_TEST(test_list_filled_by_another_thread),
        HARNESS_TEST(test_get_from_a_thread_that_owns_no_item),
    };
    return HARNESS_RUN("list", tests, argc, argv);
}
