/* tests/unit/test_gclist.c: thread-safe GC lists.  Objects freed by a
 * thread that does not own their list are handed back to the owner and
 * released at the owner's next tracked allocation; an exited thread's
 * lists are adopted; frees of old objects never drive the young count
 * below zero (which would hold automatic collection back).
 */
#define RCGC_BUILDING 1
#include "harness.h"
#include "internal.h"

#define N 1000

static void clear_box(void *box)
{
    rc_list_clear(box);   /* frees N lists the main thread owns */
}

static void test_handback_drained_at_next_allocation(void **state)
{
    size_t live = rc_live_objects();
    rc_object *box = rc_list_new();
    for (int i = 0; i < N; i++) {
        rc_object *l = rc_list_new();
        assert_int_equal(0, rc_list_append(box, l));
        rc_decref(l);
    }
    rc_thread *t = rc_thread_start(clear_box, box);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(live + 1, rc_live_objects());   /* dead, whatever their memory */
    struct gcl_owner *me = rc_tls_state->gcl;
    if (harness_mode == RC_MODE_FT_ATOMIC)
        /* Every free ran on the other thread: all handed back to us. */
        assert_non_null(atomic_load(&me->handback));
    rc_object *one = rc_list_new();   /* our next tracked allocation drains */
    assert_null(atomic_load(&me->handback));
    rc_decref(one);
    rc_decref(box);
    assert_int_equal(0, rc_gc_verify_heap());
}

static void make_and_exit(void *out)
{
    rc_object *l = rc_list_new();
    rc_list_append(l, l);   /* a cycle that outlives its thread */
    *(rc_object **)out = l;  /* and one reference to it for the main thread */
    rc_incref(l);
    rc_decref(l);
}

static void test_exited_thread_lists_are_adopted(void **state)
{
    size_t live = rc_live_objects();
    rc_object *l = NULL;
    rc_thread *t = rc_thread_start(make_and_exit, &l);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(0, rc_gc_verify_heap());   /* in an orphan list, owner exited */
    rc_object *all = rc_gc_get_objects(-1);
    int found = 0;
    for (long i = 0; i < rc_list_len(all); i++) {
        rc_object *o = rc_list_get(all, i);
        found += o == l;
        rc_decref(o);
    }
    rc_decref(all);
    assert_int_equal(1, found);
    rc_decref(l);   /* now only the cycle holds it */
    assert_int_equal(live + 1, rc_live_objects());
    assert_int_equal(1, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

static void test_young_count_never_negative(void **state)
{
    rc_gc_disable();
    rc_object *box = rc_list_new();
    for (int i = 0; i < N; i++) {
        rc_object *l = rc_list_new();
        rc_list_append(box, l);
        rc_decref(l);
    }
    assert_true(rc_gc_collect(2) >= 0);   /* the count starts afresh */
    rc_thread *t = rc_thread_start(clear_box, box);   /* N frees of old objects */
    assert_int_equal(0, rc_thread_join(t));
    long counts[RC_GC_GENERATIONS];
    assert_int_equal(0, rc_gc_get_count(counts));
    assert_true(counts[0] >= 0);
    /* So new allocations count toward the next collection at once. */
    for (int i = 0; i < 100; i++) {
        rc_object *l = rc_list_new();
        rc_list_append(box, l);
        rc_decref(l);
    }
    assert_int_equal(0, rc_gc_get_count(counts));
    assert_true(counts[0] >= 100 - 32);   /* other threads' batches aside */
    rc_decref(box);
    rc_gc_enable();
}

static void test_lone_thread_ends_grace_periods(void **state)
{
    /* One thread alone retires memory (objects that were in a list); it
     * never parks or detaches, so only its own safepoints can end grace
     * periods: the batches it hands over must be freed while it runs. */
    if (harness_mode == RC_MODE_GIL)
        skip();   /* no lock-free reads, nothing is retired in gil mode */
    rc_object *box = rc_list_new();
    for (int i = 0; i < 100000; i++) {
        rc_object *o = rc_list_new();
        rc_list_append(box, o);   /* marked shared: retired when freed */
        rc_decref(o);
        rc_object *back = rc_list_pop(box, -1);
        rc_decref(back);          /* freed: retired through QSBR */
    }
    /* Wait on the condition (bounded), at safepoints: every batch handed
     * over must be freed, with no other thread and no detach. */
    uint64_t deadline = rc_clock_ns() + 30ull * 1000000000ull;
    while (qsbr_pending() > 0 && rc_clock_ns() < deadline) {
        rc_object *t = rc_list_new();   /* allocation: a safepoint */
        rc_decref(t);
    }
    assert_int_equal(0, qsbr_pending());
    rc_decref(box);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_handback_drained_at_next_allocation),
        HARNESS_TEST(test_exited_thread_lists_are_adopted),
        HARNESS_TEST(test_young_count_never_negative),
        HARNESS_TEST(test_lone_thread_ends_grace_periods),
    };
    return HARNESS_RUN("gclist", tests, argc, argv);
}
