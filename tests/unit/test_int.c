/* tests/unit/test_int.c: the int type: values, the immortal small ints
 * (-5..256: static, shared, counts never written), mortal ints and their
 * counts, bad input, allocation failure, ints seen from other threads.
 */
#define RCGC_BUILDING 1   /* to look at the object header and rc_int_type */
#include "harness.h"
#include "objects.h"

#include <pthread.h>
#include <string.h>

static void test_small_ints_are_static_immortal_and_shared(void **state)
{
    size_t live = rc_live_objects();
    for (int64_t v = -5; v <= 256; v++) {
        rc_object *o = rc_int_new(v);
        assert_non_null(o);
        assert_int_equal(v, rc_int_value(o));
        assert_true(rc_is_int(o));
        assert_int_equal(1, rc_is_immortal(o));
        assert_int_equal((intptr_t)RC_REF_IMMORTAL, rc_refcount(o));
        assert_ptr_equal(o, rc_int_new(v));
        /* The header is the static initialiser's, for every entry. */
        assert_int_equal(RC_TID_NONE, rc_atomic_load_relaxed(&o->ob_tid));
        assert_true(o->ob_flags & RC_OBF_STATIC);
        assert_int_equal(0, rc_atomic_load_relaxed(&o->ob_ref_shared));
        assert_int_equal(0, rc_atomic_load_relaxed(&o->ob_gc_bits));
        assert_ptr_equal(&rc_int_type, rc_type_of(o));
    }
    /* Consecutive values are consecutive objects: one table. */
    assert_ptr_equal((struct rc_int *)rc_int_new(-5) + 261, (struct rc_int *)rc_int_new(256));
    assert_int_equal(live, rc_live_objects());
    assert_int_equal(RC_ERR_NONE, rc_error_occurred());
}

static void test_small_int_counts_are_never_written(void **state)
{
    rc_object *o = rc_int_new(42);
    for (int i = 0; i < 1000; i++)
        rc_incref(o);
    for (int i = 0; i < 3000; i++)   /* more decrefs than increfs: harmless */
        rc_decref(o);
    assert_int_equal((intptr_t)RC_REF_IMMORTAL, rc_refcount(o));
    assert_int_equal(RC_REF_IMMORTAL, rc_atomic_load_relaxed(&o->ob_ref_local));
    assert_int_equal(0, rc_atomic_load_relaxed(&o->ob_ref_shared));
    assert_int_equal(RC_TID_NONE, rc_atomic_load_relaxed(&o->ob_tid));
    assert_int_equal(42, rc_int_value(o));
    /* Making it immortal again is accepted and changes nothing. */
    assert_int_equal(0, rc_make_immortal(o));
    assert_true(o->ob_flags & RC_OBF_STATIC);
    assert_false(o->ob_flags & RC_OBF_IMMORTALIZED);
}

static void test_boundaries_are_mortal(void **state)
{
    static const int64_t values[] = {-6, 257, -7, 258, 1000, -1000};
    size_t live = rc_live_objects();
    for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
        rc_object *a = rc_int_new(values[k]);
        rc_object *b = rc_int_new(values[k]);
        assert_non_null(a);
        assert_non_null(b);
        assert_ptr_not_equal(a, b);
        assert_int_equal(0, rc_is_immortal(a));
        assert_int_equal(1, rc_refcount(a));
        assert_int_equal(1, rc_refcount(b));
        assert_int_equal(values[k], rc_int_value(a));
        assert_int_equal(values[k], rc_int_value(b));
        assert_false(a->ob_flags & RC_OBF_STATIC);
        assert_int_equal(live + 2, rc_live_objects());
        rc_decref(a);
        rc_decref(b);
        assert_int_equal(live, rc_live_objects());
    }
}

static void test_extreme_values(void **state)
{
    static const int64_t values[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1,
                                     (int64_t)1 << 32, -((int64_t)1 << 32)};
    for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
        rc_object *o = rc_int_new(values[k]);
        assert_non_null(o);
        assert_true(values[k] == rc_int_value(o));
        rc_decref(o);
    }
    /* -1 is a legitimate value: no error is set. */
    rc_error_clear();
    assert_int_equal(-1, rc_int_value(rc_int_new(-1)));
    assert_int_equal(RC_ERR_NONE, rc_error_occurred());
}

static void test_mortal_int_refcount(void **state)
{
    size_t live = rc_live_objects();
    rc_object *o = rc_int_new(123456);
    assert_int_equal(1, rc_refcount(o));
    rc_incref(o);
    rc_incref(o);
    assert_int_equal(3, rc_refcount(o));
    rc_decref(o);
    assert_int_equal(2, rc_refcount(o));
    rc_decref(o);
    assert_int_equal(1, rc_refcount(o));
    assert_int_equal(live + 1, rc_live_objects());
    rc_decref(o);
    assert_int_equal(live, rc_live_objects());
}

static void test_value_bad_input(void **state)
{
    assert_int_equal(-1, rc_int_value(NULL));
    assert_int_equal(RC_ERR_TYPE, rc_error_occurred());
    assert_string_equal("rc_int_value() argument must be an int, not NULL", rc_error_message());
    rc_error_clear();

    rc_object *s = rc_str_new("12");
    assert_int_equal(-1, rc_int_value(s));
    assert_int_equal(RC_ERR_TYPE, rc_error_occurred());
    assert_string_equal("rc_int_value() argument must be an int, not str", rc_error_message());
    rc_error_clear();
    rc_decref(s);

    rc_object *l = rc_list_new();
    assert_int_equal(-1, rc_int_value(l));
    assert_non_null(strstr(rc_error_message(), "not list"));
    assert_error(RC_ERR_TYPE);
    rc_decref(l);

    assert_int_equal(-1, rc_int_value(rc_none()));
    assert_non_null(strstr(rc_error_message(), "not NoneType"));
    assert_error(RC_ERR_TYPE);
    /* bool is its own type here, not an int subclass. */
    assert_int_equal(-1, rc_int_value(rc_true()));
    assert_error(RC_ERR_TYPE);
}

static void test_is_int(void **state)
{
    rc_object *heap = rc_int_new(1 << 20);
    rc_object *s = rc_str_new("1");
    rc_object *t = rc_tuple_new(0, NULL);
    rc_error_clear();
    assert_int_equal(1, rc_is_int(rc_int_new(0)));
    assert_int_equal(1, rc_is_int(heap));
    assert_int_equal(0, rc_is_int(NULL));
    assert_int_equal(0, rc_is_int(rc_none()));
    assert_int_equal(0, rc_is_int(rc_false()));
    assert_int_equal(0, rc_is_int(s));
    assert_int_equal(0, rc_is_int(t));
    /* A predicate sets no error, NULL included. */
    assert_int_equal(RC_ERR_NONE, rc_error_occurred());
    rc_decref(heap);
    rc_decref(s);
    rc_decref(t);
}

static void test_alloc_failure(void **state)
{
    size_t live = rc_live_objects();
    rc_testing_fail_alloc_after(1);
    assert_null(rc_int_new(1000));
    assert_error(RC_ERR_MEMORY);
    assert_int_equal(live, rc_live_objects());

    /* A small int allocates nothing: the armed failure is still pending
     * for the next real allocation. */
    rc_testing_fail_alloc_after(1);
    rc_object *small = rc_int_new(7);
    assert_non_null(small);
    assert_int_equal(7, rc_int_value(small));
    assert_null(rc_int_new(-1000));
    assert_error(RC_ERR_MEMORY);

    /* Off again: allocation works. */
    rc_object *o = rc_int_new(1000);
    assert_non_null(o);
    assert_int_equal(1000, rc_int_value(o));
    rc_decref(o);
    assert_int_equal(live, rc_live_objects());
}

static int count_visit(rc_object *o, void *arg)
{
    (*(int *)arg)++;
    return 0;
}

static void test_int_is_not_a_container(void **state)
{
    rc_object *o = rc_int_new(99999);
    rc_object *small = rc_int_new(3);
    assert_int_equal(0, rc_gc_is_tracked(o));
    assert_int_equal(0, rc_gc_is_tracked(small));
    int visits = 0;
    assert_int_equal(0, rc_traverse(o, count_visit, &visits));
    assert_int_equal(0, rc_traverse(small, count_visit, &visits));
    assert_int_equal(0, visits);
    rc_object *refs = rc_gc_get_referents(o);
    assert_non_null(refs);
    assert_int_equal(0, rc_list_len(refs));
    rc_decref(refs);
    assert_int_equal(0, rc_clear(o));
    assert_int_equal(99999, rc_int_value(o));
    assert_int_equal(1, rc_refcount(o));
    assert_string_equal("int", rc_type_name(rc_type_of(o)));
    rc_decref(o);
}

static void test_make_immortal_heap_int(void **state)
{
    size_t live = rc_live_objects();
    rc_object *o = rc_int_new(1 << 30);
    assert_int_equal(0, rc_make_immortal(o));   /* consumes our reference */
    assert_int_equal(1, rc_is_immortal(o));
    assert_int_equal((intptr_t)RC_REF_IMMORTAL, rc_refcount(o));
    assert_int_equal(1 << 30, rc_int_value(o));
    rc_decref(o);
    assert_int_equal(1 << 30, rc_int_value(o));
    /* Not counted as live; rc_runtime_free releases it (no leak). */
    assert_int_equal(live, rc_live_objects());
}

/* ---- other threads ---- */

struct int_worker {
    rc_object *small[262];
    rc_object *made;      /* a mortal int made here, handed to the main thread */
    rc_object *given;     /* a mortal int of the main thread's, dropped here */
    int64_t given_value;
};

static void int_worker_fn(void *arg)
{
    struct int_worker *w = arg;
    for (int64_t v = -5; v <= 256; v++)
        w->small[v + 5] = rc_int_new(v);
    w->made = rc_int_new(-123456789);
    w->given_value = rc_int_value(w->given);
    rc_decref(w->given);
}

static void test_ints_across_threads(void **state)
{
    size_t live = rc_live_objects();
    struct int_worker w = {.given = rc_int_new(777777)};
    rc_incref(w.given);   /* one for us, one for the worker to drop */
    rc_thread *t = rc_thread_start(int_worker_fn, &w);
    assert_non_null(t);
    assert_int_equal(0, rc_thread_join(t));
    for (int64_t v = -5; v <= 256; v++)
        assert_ptr_equal(rc_int_new(v), w.small[v + 5]);
    assert_int_equal(777777, w.given_value);
    rc_safepoint();   /* ft: merge what the worker queued to us */
    assert_int_equal(1, rc_refcount(w.given));
    rc_decref(w.given);
    assert_non_null(w.made);
    assert_int_equal(-123456789, rc_int_value(w.made));
    assert_int_equal(1, rc_refcount(w.made));
    rc_decref(w.made);
    assert_int_equal(live, rc_live_objects());
}

struct foreign_result {
    rc_object *small;
    rc_object *big;
    rc_error_kind err;
};

static void *foreign_fn(void *arg)
{
    struct foreign_result *r = arg;
    r->small = rc_int_new(100);   /* no allocation: works without a state */
    r->big = rc_int_new(100000);  /* needs a thread state */
    r->err = rc_error_occurred();
    return NULL;
}

static void test_int_new_on_unregistered_thread(void **state)
{
    struct foreign_result r = {0};
    pthread_t th;
    assert_int_equal(0, pthread_create(&th, NULL, foreign_fn, &r));
    assert_int_equal(0, pthread_join(th, NULL));
    assert_ptr_equal(rc_int_new(100), r.small);
    assert_null(r.big);
    assert_int_equal(RC_ERR_RUNTIME, r.err);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_small_ints_are_static_immortal_and_shared),
        HARNESS_TEST(test_small_int_counts_are_never_written),
        HARNESS_TEST(test_boundaries_are_mortal),
        HARNESS_TEST(test_extreme_values),
        HARNESS_TEST(test_mortal_int_refcount),
        HARNESS_TEST(test_value_bad_input),
        HARNESS_TEST(test_is_int),
        HARNESS_TEST(test_alloc_failure),
        HARNESS_TEST(test_int_is_not_a_container),
        HARNESS_TEST(test_make_immortal_heap_int),
        HARNESS_TEST(test_ints_across_threads),
        HARNESS_TEST(test_int_new_on_unregistered_thread),
    };
    return HARNESS_RUN("int", tests, argc, argv);
}
