/* tests/unit/test_gclist.c: thread-safe GC lists.  Objects freed by a
 * thread that does not own their list are handed back to the owner and
 * released at the owner's next tracked allocation; an exited thread's
 * lists are adopted; frees of old objects never drive the young count
 * below zero (which would hold automatic collection back).  Memory retired
 * for lock-free readers (QSBR) is freed by the retiring thread itself while
 * it is the only online reader, and waits for a grace period while another
 * reader is online.
 */
#define RCGC_BUILDING 1
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
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

/* Retire n blocks: objects that were in a list (marked shared) and die. */
static void retire_objects(rc_object *box, int n)
{
    for (int i = 0; i < n; i++) {
        rc_object *o = rc_list_new();
        rc_list_append(box, o);   /* marked shared: retired when freed */
        rc_decref(o);
        rc_object *back = rc_list_pop(box, -1);
        rc_decref(back);          /* freed: retired through QSBR */
    }
}

/* Reach safepoints until no batch is pending (bounded): with no other
 * thread online, only our own quiescent states can end grace periods. */
static void safepoints_until_nothing_pending(void)
{
    uint64_t deadline = rc_clock_ns() + 30ull * 1000000000ull;
    while (qsbr_pending() > 0 && rc_clock_ns() < deadline)
        rc_safepoint();
}

static void test_lone_thread_frees_retired_memory_itself(void **state)
{
    /* One thread alone retires memory; no other reader can hold a pointer
     * to it, so it frees each full batch itself at its next safepoint
     * (local reclamation, runtime/qsbr.c): no grace period, nothing left
     * pending. */
    if (harness_mode == RC_MODE_GIL) {
        print_message("skipped: gil mode has no lock-free reads and retires nothing\n");
        skip();
    }
    rc_object *box = rc_list_new();
    struct qsbr_thread_state *q = &rc_tls_state->qsbr;
    uint64_t retired0 = q->retired, local0 = q->freed_locally;
    retire_objects(box, 100000);
    rc_safepoint();   /* one more quiescent state */
    assert_true(q->retired - retired0 >= 100000);
    /* Every full batch (256 blocks); the last, partial one is still being
     * filled. */
    assert_true(q->freed_locally - local0 >= 100000 - 256);
    safepoints_until_nothing_pending();   /* earlier tests' batches */
    assert_int_equal(0, qsbr_pending());
    rc_decref(box);
}

/* A second reader, driven by phases (flags: release stores, acquire
 * loads): online at safepoints until phase 1; detached until phase 2;
 * online at safepoints again until phase 3.  reader_state says where it
 * is: 1 online, 2 detached, 3 online again. */
static _Atomic int reader_phase, reader_state;

/* Wait until *flag reaches value: at safepoints (quiescent states), or
 * without any (detached; or to keep a held batch where it is). */
static void wait_flag(_Atomic int *flag, int value, bool at_safepoints)
{
    while (atomic_load_explicit(flag, memory_order_acquire) < value) {
        if (at_safepoints)
            rc_safepoint();
        else
            sched_yield();
    }
}

static void second_reader(void *arg)
{
    (void)arg;
    atomic_store_explicit(&reader_state, 1, memory_order_release);
    wait_flag(&reader_phase, 1, true);
    rc_detach();
    atomic_store_explicit(&reader_state, 2, memory_order_release);
    wait_flag(&reader_phase, 2, false);
    rc_attach();
    atomic_store_explicit(&reader_state, 3, memory_order_release);
    wait_flag(&reader_phase, 3, true);
}

static void test_other_online_reader_gets_a_grace_period(void **state)
{
    /* While another reader is online it may hold pointers to what we
     * retire: nothing may be freed locally, every batch goes through a
     * grace period.  Once it is offline, we free locally again.  A batch
     * kept while we were alone is not freed if the reader came online
     * before our next quiescent state (the interleaving reclaim_held's
     * check is for).  Our own safepoints end the grace periods of what is
     * still pending. */
    if (harness_mode == RC_MODE_GIL) {
        print_message("skipped: gil mode has no lock-free reads and retires nothing\n");
        skip();
    }
    rc_gc_disable();   /* a stop would park the reader (offline) meanwhile */
    atomic_store(&reader_phase, 0);
    atomic_store(&reader_state, 0);
    rc_object *box = rc_list_new();
    struct qsbr_thread_state *q = &rc_tls_state->qsbr;
    rc_thread *th = rc_thread_start(second_reader, NULL);
    assert_non_null(th);

    /* 1. The reader online: nothing freed locally. */
    wait_flag(&reader_state, 1, true);
    uint64_t local0 = q->freed_locally;
    retire_objects(box, 20000);
    rc_safepoint();
    assert_int_equal(0, (long)(q->freed_locally - local0));

    /* 2. The reader detached: local again. */
    atomic_store_explicit(&reader_phase, 1, memory_order_release);
    wait_flag(&reader_state, 2, true);
    local0 = q->freed_locally;
    retire_objects(box, 20000);
    rc_safepoint();
    assert_true(q->freed_locally - local0 >= 20000 - 256);

    /* 3. A batch kept while alone; the reader comes online before our next
     * safepoint: that safepoint must submit the batch, not free it. */
    for (int i = 0; i < 300; i++) {
        rc_object *o = rc_list_new();
        rc_list_append(box, o);
        rc_decref(o);
    }
    local0 = q->freed_locally;
    assert_int_equal(0, rc_list_clear(box));   /* 300 retired: a batch fills */
    assert_non_null(q->held);
    atomic_store_explicit(&reader_phase, 2, memory_order_release);
    wait_flag(&reader_state, 3, false);   /* no safepoint meanwhile */
    assert_non_null(q->held);
    rc_safepoint();
    assert_null(q->held);
    assert_int_equal(0, (long)(q->freed_locally - local0));

    /* The batches submitted meanwhile end their grace periods with both
     * of us at safepoints. */
    safepoints_until_nothing_pending();
    assert_int_equal(0, qsbr_pending());
    atomic_store_explicit(&reader_phase, 3, memory_order_release);
    assert_int_equal(0, rc_thread_join(th));
    rc_decref(box);
    rc_gc_enable();
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_handback_drained_at_next_allocation),
        HARNESS_TEST(test_exited_thread_lists_are_adopted),
        HARNESS_TEST(test_young_count_never_negative),
        HARNESS_TEST(test_lone_thread_frees_retired_memory_itself),
        HARNESS_TEST(test_other_online_reader_gets_a_grace_period),
    };
    return HARNESS_RUN("gclist", tests, argc, argv);
}
