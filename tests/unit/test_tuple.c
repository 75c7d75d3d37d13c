/* tests/unit/test_tuple.c: the tuple type: the references it takes and
 * drops, indexing, bad input, allocation failure, and what the collector
 * sees (tracking, traverse, clear, referents), cycles included.
 */
#define RCGC_BUILDING 1   /* struct rc_tuple, to look at cleared slots */
#include "harness.h"
#include "objects.h"

#include <limits.h>
#include <string.h>

static void test_new_takes_references(void **state)
{
    size_t live = rc_live_objects();
    rc_object *a = rc_int_new(1000);
    rc_object *b = rc_str_new("b");
    rc_object *c = rc_list_new();
    rc_object *items[] = {a, b, c};
    rc_object *t = rc_tuple_new(3, items);
    assert_non_null(t);
    assert_int_equal(1, rc_refcount(t));
    assert_int_equal(3, rc_tuple_len(t));
    /* The tuple holds its own reference to each item. */
    assert_int_equal(2, rc_refcount(a));
    assert_int_equal(2, rc_refcount(b));
    assert_int_equal(2, rc_refcount(c));
    assert_int_equal(live + 4, rc_live_objects());
    rc_decref(a);
    rc_decref(b);
    rc_decref(c);
    /* Now only the tuple keeps them alive. */
    assert_int_equal(1, rc_refcount(a));
    assert_int_equal(1000, rc_int_value(a));
    assert_string_equal("b", rc_str_data(b));
    assert_int_equal(live + 4, rc_live_objects());
    rc_decref(t);   /* frees the items too */
    assert_int_equal(live, rc_live_objects());
}

static void test_get_returns_new_reference(void **state)
{
    rc_object *a = rc_int_new(-1000);
    rc_object *b = rc_str_new("second");
    rc_object *c = rc_int_new(3);   /* immortal */
    rc_object *items[] = {a, b, c};
    rc_object *t = rc_tuple_new(3, items);
    rc_object *x = rc_tuple_get(t, 0);
    assert_ptr_equal(a, x);
    assert_int_equal(3, rc_refcount(a));   /* ours, the tuple's, x */
    rc_decref(x);
    assert_int_equal(2, rc_refcount(a));
    /* Negative indexes count from the end. */
    x = rc_tuple_get(t, -1);
    assert_ptr_equal(c, x);
    assert_int_equal((intptr_t)RC_REF_IMMORTAL, rc_refcount(x));
    x = rc_tuple_get(t, -2);
    assert_ptr_equal(b, x);
    rc_decref(x);
    x = rc_tuple_get(t, -3);
    assert_ptr_equal(a, x);
    rc_decref(x);
    x = rc_tuple_get(t, 1);
    assert_ptr_equal(b, x);
    assert_int_equal(3, rc_refcount(b));
    rc_decref(x);
    assert_int_equal(2, rc_refcount(b));
    rc_decref(t);
    assert_int_equal(1, rc_refcount(a));
    assert_int_equal(1, rc_refcount(b));
    rc_decref(a);
    rc_decref(b);
}

static void test_get_out_of_range(void **state)
{
    rc_object *items[] = {rc_none(), rc_true(), rc_false()};
    rc_object *t = rc_tuple_new(3, items);
    assert_null(rc_tuple_get(t, 3));
    assert_string_equal("rc_tuple_get(): index 3 out of range (len 3)", rc_error_message());
    assert_error(RC_ERR_INDEX);
    assert_null(rc_tuple_get(t, -4));
    assert_string_equal("rc_tuple_get(): index -4 out of range (len 3)", rc_error_message());
    assert_error(RC_ERR_INDEX);
    assert_null(rc_tuple_get(t, LONG_MAX));
    assert_error(RC_ERR_INDEX);
    assert_null(rc_tuple_get(t, LONG_MIN));
    assert_error(RC_ERR_INDEX);
    rc_decref(t);
}

static void test_empty_tuple(void **state)
{
    rc_object *t = rc_tuple_new(0, NULL);
    assert_non_null(t);
    assert_int_equal(0, rc_tuple_len(t));
    assert_int_equal(1, rc_gc_is_tracked(t));
    assert_null(rc_tuple_get(t, 0));
    assert_error(RC_ERR_INDEX);
    assert_null(rc_tuple_get(t, -1));
    assert_error(RC_ERR_INDEX);
    /* An items pointer with n == 0 is not read. */
    rc_object *dummy = NULL;
    rc_object *u = rc_tuple_new(0, &dummy);
    assert_non_null(u);
    assert_int_equal(0, rc_tuple_len(u));
    rc_decref(t);
    rc_decref(u);
}

static void test_new_bad_input(void **state)
{
    size_t live = rc_live_objects();
    assert_null(rc_tuple_new(2, NULL));
    assert_non_null(strstr(rc_error_message(), "rc_tuple_new()"));
    assert_error(RC_ERR_TYPE);

    /* A NULL item anywhere: TypeError, and no reference taken or leaked. */
    rc_object *a = rc_int_new(5000);
    rc_object *b = rc_list_new();
    rc_object *last_null[] = {a, b, NULL};
    rc_object *first_null[] = {NULL, a, b};
    rc_object *mid_null[] = {a, NULL, b};
    assert_null(rc_tuple_new(3, last_null));
    assert_string_equal("rc_tuple_new(): item 2 is NULL", rc_error_message());
    assert_error(RC_ERR_TYPE);
    assert_null(rc_tuple_new(3, first_null));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_tuple_new(3, mid_null));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(1, rc_refcount(a));
    assert_int_equal(1, rc_refcount(b));
    assert_int_equal(live + 2, rc_live_objects());

    /* A size no allocation could satisfy fails before reading items. */
    rc_object *two[] = {a, b};
    assert_null(rc_tuple_new(SIZE_MAX, two));
    assert_error(RC_ERR_MEMORY);
    assert_null(rc_tuple_new(SIZE_MAX / sizeof(rc_object *), two));
    assert_error(RC_ERR_MEMORY);
    assert_int_equal(1, rc_refcount(a));
    rc_decref(a);
    rc_decref(b);
    assert_int_equal(live, rc_live_objects());
}

static void test_len_get_bad_input(void **state)
{
    rc_object *l = rc_list_new();
    rc_object *i = rc_int_new(1);
    assert_int_equal(-1, rc_tuple_len(NULL));
    assert_string_equal("rc_tuple_len() argument must be a tuple, not NULL", rc_error_message());
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_tuple_len(l));
    assert_string_equal("rc_tuple_len() argument must be a tuple, not list", rc_error_message());
    assert_error(RC_ERR_TYPE);
    assert_null(rc_tuple_get(NULL, 0));
    assert_string_equal("rc_tuple_get() argument must be a tuple, not NULL", rc_error_message());
    assert_error(RC_ERR_TYPE);
    assert_null(rc_tuple_get(i, 0));
    assert_string_equal("rc_tuple_get() argument must be a tuple, not int", rc_error_message());
    assert_error(RC_ERR_TYPE);
    assert_null(rc_tuple_get(l, 0));
    assert_error(RC_ERR_TYPE);
    rc_decref(l);
}

static void test_is_tuple(void **state)
{
    rc_object *t = rc_tuple_new(0, NULL);
    rc_object *l = rc_list_new();
    rc_error_clear();
    assert_int_equal(1, rc_is_tuple(t));
    assert_int_equal(0, rc_is_tuple(l));
    assert_int_equal(0, rc_is_tuple(NULL));
    assert_int_equal(0, rc_is_tuple(rc_none()));
    assert_int_equal(0, rc_is_tuple(rc_int_new(0)));
    assert_int_equal(RC_ERR_NONE, rc_error_occurred());
    rc_decref(t);
    rc_decref(l);
}

static void test_alloc_failure(void **state)
{
    size_t live = rc_live_objects();
    rc_object *a = rc_int_new(4242);
    rc_object *items[] = {a, a, rc_none()};
    rc_testing_fail_alloc_after(1);
    assert_null(rc_tuple_new(3, items));
    assert_error(RC_ERR_MEMORY);
    assert_int_equal(1, rc_refcount(a));
    rc_testing_fail_alloc_after(1);
    assert_null(rc_tuple_new(0, NULL));
    assert_error(RC_ERR_MEMORY);
    assert_int_equal(live + 1, rc_live_objects());
    /* The same item twice: two references. */
    rc_object *t = rc_tuple_new(3, items);
    assert_non_null(t);
    assert_int_equal(3, rc_refcount(a));
    /* Reads allocate nothing. */
    rc_testing_fail_alloc_after(1);
    rc_object *x = rc_tuple_get(t, 1);
    assert_ptr_equal(a, x);
    assert_int_equal(3, rc_tuple_len(t));
    rc_testing_fail_alloc_after(0);
    rc_decref(x);
    rc_decref(t);
    assert_int_equal(1, rc_refcount(a));
    rc_decref(a);
    assert_int_equal(live, rc_live_objects());
}

static void test_nested_tuples_freed(void **state)
{
    size_t live = rc_live_objects();
    rc_object *leaf = rc_str_new("leaf");
    rc_object *t = rc_tuple_new(1, &leaf);
    rc_decref(leaf);
    for (int i = 0; i < 100000; i++) {   /* deep: the trashcan bounds the stack */
        rc_object *outer = rc_tuple_new(1, &t);
        assert_non_null(outer);
        rc_decref(t);
        t = outer;
    }
    assert_int_equal(live + 100002, rc_live_objects());
    rc_decref(t);
    assert_int_equal(live, rc_live_objects());
}

/* ---- what the collector sees ---- */

struct visits {
    rc_object *seen[8];
    int n;
    int stop_at;   /* return 7 from this visit (1-based); 0: never */
};

static int record_visit(rc_object *o, void *arg)
{
    struct visits *v = arg;
    if (v->n < 8)
        v->seen[v->n] = o;
    v->n++;
    return v->n == v->stop_at ? 7 : 0;
}

static void test_gc_traverse(void **state)
{
    rc_object *a = rc_int_new(70000);
    rc_object *b = rc_str_new("b");
    rc_object *items[] = {a, b, rc_none(), a};
    rc_object *t = rc_tuple_new(4, items);
    assert_int_equal(1, rc_gc_is_tracked(t));
    struct visits v = {0};
    assert_int_equal(0, rc_traverse(t, record_visit, &v));
    assert_int_equal(4, v.n);
    assert_ptr_equal(a, v.seen[0]);
    assert_ptr_equal(b, v.seen[1]);
    assert_ptr_equal(rc_none(), v.seen[2]);
    assert_ptr_equal(a, v.seen[3]);
    /* Traversal takes no references. */
    assert_int_equal(3, rc_refcount(a));
    assert_int_equal(2, rc_refcount(b));
    /* A non-zero visit result stops the traversal and is returned. */
    struct visits stop = {.stop_at = 2};
    assert_int_equal(7, rc_traverse(t, record_visit, &stop));
    assert_int_equal(2, stop.n);

    rc_object *refs = rc_gc_get_referents(t);
    assert_non_null(refs);
    assert_int_equal(4, rc_list_len(refs));
    int found_a = 0, found_b = 0;
    for (long i = 0; i < 4; i++) {
        rc_object *r = rc_list_get(refs, i);
        found_a += r == a;
        found_b += r == b;
        rc_decref(r);
    }
    assert_int_equal(2, found_a);
    assert_int_equal(1, found_b);
    assert_int_equal(5, rc_refcount(a));   /* ours, the tuple's two, the list's two */
    rc_decref(refs);
    assert_int_equal(3, rc_refcount(a));

    rc_decref(t);
    assert_int_equal(1, rc_refcount(a));
    rc_decref(a);
    rc_decref(b);
}

static void test_gc_clear(void **state)
{
    size_t live = rc_live_objects();
    rc_object *a = rc_int_new(80000);
    rc_object *b = rc_list_new();
    rc_object *items[] = {a, b};
    rc_object *t = rc_tuple_new(2, items);
    assert_int_equal(2, rc_refcount(a));
    assert_int_equal(0, rc_clear(t));
    /* Every reference dropped and every slot NULL; the length stays. */
    assert_int_equal(1, rc_refcount(a));
    assert_int_equal(1, rc_refcount(b));
    struct rc_tuple *tt = (struct rc_tuple *)t;
    assert_null(tt->items[0]);
    assert_null(tt->items[1]);
    assert_int_equal(2, rc_tuple_len(t));
    assert_null(rc_tuple_get(t, 0));
    assert_error(RC_ERR_VALUE);
    struct visits v = {0};
    assert_int_equal(0, rc_traverse(t, record_visit, &v));
    assert_int_equal(0, v.n);
    rc_object *refs = rc_gc_get_referents(t);
    assert_int_equal(0, rc_list_len(refs));
    rc_decref(refs);
    /* Clearing twice is harmless, and so is deallocating after clear. */
    assert_int_equal(0, rc_clear(t));
    rc_decref(t);
    rc_decref(a);
    rc_decref(b);
    assert_int_equal(live, rc_live_objects());
}

static void test_cycle_broken_by_clear(void **state)
{
    /* t -> l -> t: refcounting alone cannot free it; clear breaks it. */
    size_t live = rc_live_objects();
    rc_object *l = rc_list_new();
    rc_object *t = rc_tuple_new(1, &l);
    assert_int_equal(0, rc_list_append(l, t));
    assert_int_equal(2, rc_refcount(t));
    assert_int_equal(2, rc_refcount(l));
    rc_decref(l);
    rc_decref(t);
    assert_int_equal(1, rc_refcount(t));
    assert_int_equal(live + 2, rc_live_objects());
    /* Clearing the tuple drops the list's last reference; the list's
     * dealloc drops the tuple's last one. */
    assert_int_equal(0, rc_clear(t));
    assert_int_equal(live, rc_live_objects());
}

static void test_cycle_through_tuple_cleared_at_list(void **state)
{
    /* The other way round: clear the list; the tuple (whose only
     * reference the list held) dies, dropping the list's last one. */
    size_t live = rc_live_objects();
    rc_object *l = rc_list_new();
    rc_object *items[] = {rc_none(), l};
    rc_object *t = rc_tuple_new(2, items);
    assert_int_equal(0, rc_list_append(l, t));
    rc_decref(t);   /* the list holds the tuple's only reference */
    assert_int_equal(2, rc_refcount(l));   /* ours and the tuple's */
    assert_int_equal(0, rc_clear(l));
    assert_int_equal(0, rc_list_len(l));
    assert_int_equal(1, rc_refcount(l));
    assert_int_equal(live + 1, rc_live_objects());
    rc_decref(l);
    assert_int_equal(live, rc_live_objects());
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_new_takes_references),
        HARNESS_TEST(test_get_returns_new_reference),
        HARNESS_TEST(test_get_out_of_range),
        HARNESS_TEST(test_empty_tuple),
        HARNESS_TEST(test_new_bad_input),
        HARNESS_TEST(test_len_get_bad_input),
        HARNESS_TEST(test_is_tuple),
        HARNESS_TEST(test_alloc_failure),
        HARNESS_TEST(test_nested_tuples_freed),
        HARNESS_TEST(test_gc_traverse),
        HARNESS_TEST(test_gc_clear),
        HARNESS_TEST(test_cycle_broken_by_clear),
        HARNESS_TEST(test_cycle_through_tuple_cleared_at_list),
    };
    return HARNESS_RUN("tuple", tests, argc, argv);
}
