/* tests/unit/test_concurrent.c: the concurrent collector's cycle, driven by
 * hand so that a mutation lands at every step of its passes (docs/gc.md
 * [gc.concurrent]).  Automatic collection is off in every test; the hooks
 * of gc/collector.h start a cycle over the old space, run its passes a
 * unit at a time, and finish it with its validating stop.  Whatever a
 * mutation does between two units, the stop must keep every live object
 * intact and find every object that was garbage throughout.
 *
 * This program always runs the concurrent collector (--collector is
 * ignored): CTest runs it once per mode.  The last tests run it with its
 * collector thread (RC_COLLECTOR_CONCURRENT_THREAD).
 */
#define RCGC_BUILDING 1
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "internal.h"

enum { PH_IDLE = 0, PH_BUILD = 1, PH_SUBTRACT = 2, PH_MARK = 3, PH_READY = 5 };

static rc_type *node_type;   /* Node(next, value) */

/* Automatic collection off, everything so far collected and in the old
 * space: the live count to come back to. */
static size_t quiesce(void)
{
    rc_gc_disable();
    rc_gc_collect(2);
    return rc_live_objects();
}

static struct thr_state *me(void) { return rc_tls_state; }

/* A cycle over the old space started, and run until it has done `units`
 * units (or is ready); returns the units done. */
static size_t run_to(size_t units)
{
    assert_true(gc_cc_test_start(me()));
    size_t done = 0;
    while (done < units && gc_cc_test_phase(me()->rt) != PH_READY) {
        gc_cc_test_work(me(), 1);
        done++;
    }
    return done;
}

static void run_to_ready(void)
{
    while (gc_cc_test_phase(me()->rt) != PH_READY)
        gc_cc_test_work(me(), 1);
}

/* Units a whole cycle takes over the current old space. */
static size_t cycle_length(void)
{
    size_t n = run_to((size_t)-1);
    assert_int_equal(0, gc_cc_test_finish(me()));
    return n;
}

/* An instance in a cycle with itself, holding an int. */
static rc_object *self_node(long v)
{
    rc_object *x = rc_instance_new(node_type);
    rc_object *n = rc_int_new(v);
    rc_slot_set(x, 0, x);
    rc_slot_set(x, 1, n);
    rc_decref(n);
    return x;
}

/* A list holding n self-cycles (values 0..n-1). */
static rc_object *list_of_self_nodes(long n)
{
    rc_object *l = rc_list_new();
    for (long i = 0; i < n; i++) {
        rc_object *x = self_node(i);
        rc_list_append(l, x);
        rc_decref(x);
    }
    return l;
}

static int node_intact(rc_object *x, long v)
{
    rc_object *self = rc_slot_get(x, 0), *n = rc_slot_get(x, 1);
    int ok = self == x && n != NULL && rc_is_int(n) && rc_int_value(n) == v;
    rc_decref(self);
    rc_decref(n);
    return ok;
}

static int setup_types(void **state)
{
    if (harness_setup(state) != 0)
        return -1;
    node_type = rc_type_new("Node", 2, NULL);
    return node_type == NULL ? -1 : 0;
}

/* A runtime whose cycles its collector thread runs. */
static int setup_thread_types(void **state)
{
    harness_collector = RC_COLLECTOR_CONCURRENT_THREAD;
    int rc = setup_types(state);
    harness_collector = RC_COLLECTOR_CONCURRENT;
    return rc;
}

/* ------------------------------------------------------------------ tests */

/* Old garbage is found by a cycle, and only at its stop. */
static void test_cycle_finds_old_garbage(void **state)
{
    size_t live = quiesce();
    rc_object *holder = list_of_self_nodes(50);
    rc_gc_collect(2);   /* into the old space */
    rc_decref(holder);  /* 50 garbage nodes there */
    run_to((size_t)-1);
    assert_int_equal(PH_READY, gc_cc_test_phase(me()->rt));
    assert_int_equal(50, gc_cc_test_finish(me()));
    assert_int_equal(PH_IDLE, gc_cc_test_phase(me()->rt));
    rc_gc_record r;
    assert_int_equal(1, rc_gc_records(rc_gc_record_count() - 1, &r, 1));
    assert_int_equal(2, r.generation);
    assert_true(r.cycle_start_ns != 0 && r.cycle_start_ns <= r.start_ns);
    assert_true(r.concurrent_ns > 0);
    assert_int_equal(live, rc_live_objects());
}

/* The lost object of concurrent marking: a reference moved from a
 * container the cycle has not traversed into one it has, then deleted
 * from the first, at every step of the cycle, directly and through a
 * local variable held across further steps. */
static void lost_object_at_every_step(int through_local)
{
    size_t live = quiesce();
    rc_object *a = rc_list_new(), *b = rc_list_new();
    rc_object *x = self_node(7);
    rc_list_append(a, x);
    rc_decref(x);
    rc_gc_collect(2);
    size_t len = cycle_length();
    assert_true(len > 3);
    for (size_t k = 0; k <= len; k++) {
        rc_object *from = rc_list_len(a) == 1 ? a : b, *to = from == a ? b : a;
        run_to(k);
        rc_object *moved = rc_list_pop(from, 0);
        assert_non_null(moved);
        if (through_local) {
            gc_cc_test_work(me(), 2);   /* held only by this local meanwhile */
            rc_safepoint();
        }
        rc_list_append(to, moved);
        rc_decref(moved);
        run_to_ready();
        assert_int_equal(0, gc_cc_test_finish(me()));   /* nothing was garbage */
        rc_object *got = rc_list_get(to, 0);
        assert_ptr_equal(moved, got);
        assert_true(node_intact(got, 7));
        rc_decref(got);
        assert_int_equal(0, rc_gc_verify_heap());
    }
    rc_decref(a);
    rc_decref(b);
    assert_int_equal(1, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

static void test_lost_object_at_every_step(void **state)
{
    lost_object_at_every_step(0);
}

static void test_lost_object_through_a_local(void **state)
{
    lost_object_at_every_step(1);
}

/* Old containers of every kind die while a cycle reads them: their
 * deallocation marks them dead (under their lock in the ft modes) before
 * freeing what they hold, and the cycle skips them.  A read of a freed
 * array or table is a use after free under ASan. */
static void test_containers_die_at_every_step(void **state)
{
    size_t live = quiesce();
    rc_object *probe[3];
    size_t len = 0;
    for (size_t k = 0;; k++) {
        rc_object *l = rc_list_new(), *d = rc_dict_new();
        rc_object *items[4];
        for (int i = 0; i < 4; i++) {
            items[i] = self_node(i);
            rc_list_append(l, items[i]);
            rc_object *key = rc_int_new(i);
            rc_dict_set(d, key, items[i]);
            rc_decref(key);
        }
        rc_object *t = rc_tuple_new(4, items);
        for (int i = 0; i < 4; i++)
            rc_decref(items[i]);
        probe[0] = l;
        probe[1] = d;
        probe[2] = t;
        rc_gc_collect(2);
        if (k == 0) {
            len = cycle_length();
            assert_true(len > 3);
        }
        run_to(k);
        for (int i = 0; i < 3; i++)
            rc_decref(probe[i]);   /* each dies, its items with it... */
        run_to_ready();
        /* ...except the self-cycles, garbage now; the stop finds them if
         * the cycle saw them unreferenced, else the next collection. */
        long found = gc_cc_test_finish(me());
        assert_true(found >= 0 && found <= 4);
        assert_int_equal(4 - found, rc_gc_collect(2));
        assert_int_equal(live, rc_live_objects());
        if (k > len)
            break;
    }
}

/* ft modes: another thread drops the last reference to a big old list
 * just as the cycle starts traversing it.  The deallocation waits for
 * the cycle's hold of the list's lock and marks it dead before freeing
 * its array; without that, the traversal reads freed memory (ASan).  The
 * timing is aimed, not forced: each round gives the two a window of the
 * traversal's length (a 20,000-item list); with the lock and the mark
 * taken out, ASan caught a use after free in one run of three. */
static _Atomic int drop_go;   /* 0 wait, 1 made, 2 drop */

/* The list is the dropper's own (biased count), so its last decref
 * deallocates it there and then, not through the owner's merge queue. */
static void dropper_main(void *arg)
{
    rc_object *l = rc_list_new();
    for (long i = 0; i < 20000; i++)
        rc_list_append(l, rc_none());   /* immortal: the deallocation frees the
                                           array at once, while a traversal
                                           would still be reading it */
    atomic_store_explicit(&drop_go, 1, memory_order_release);
    while (atomic_load_explicit(&drop_go, memory_order_acquire) != 2)
        rc_safepoint();
    rc_decref(l);
}

static void test_list_dies_while_traversed(void **state)
{
    if (harness_mode == RC_MODE_GIL)
        skip();   /* gil mode: a slice holds the GIL, no deallocation overlaps it */
    size_t live = quiesce();
    for (int round = 0; round < 60; round++) {
        atomic_store(&drop_go, 0);
        rc_thread *t = rc_thread_start(dropper_main, NULL);
        assert_non_null(t);
        while (atomic_load_explicit(&drop_go, memory_order_acquire) != 1)
            rc_safepoint();
        rc_gc_collect(2);   /* the list into the old space */
        assert_true(gc_cc_test_start(me()));
        while (gc_cc_test_phase(me()->rt) == PH_BUILD)
            gc_cc_test_work(me(), 1);
        atomic_store_explicit(&drop_go, 2, memory_order_release);
        run_to_ready();
        assert_int_equal(0, gc_cc_test_finish(me()));
        assert_int_equal(0, rc_thread_join(t));
    }
    assert_int_equal(0, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

/* A weakref read turns a candidate (garbage so far) into a live object
 * after the passes chose it: the stop keeps it, intact. */
static void test_weakref_read_keeps_a_candidate(void **state)
{
    size_t live = quiesce();
    rc_object *x = self_node(3);
    rc_object *w = rc_weakref_new(x, NULL, NULL);
    rc_gc_collect(2);
    rc_decref(x);   /* garbage, in the old space, with a weakref */
    run_to((size_t)-1);
    rc_object *again = rc_weakref_get(w);
    assert_ptr_equal(x, again);
    assert_int_equal(0, gc_cc_test_finish(me()));
    assert_true(node_intact(again, 3));
    rc_object *still = rc_weakref_get(w);
    assert_ptr_equal(x, still);
    rc_decref(still);
    rc_decref(again);
    assert_int_equal(1, rc_gc_collect(2));
    assert_null(rc_weakref_get(w));
    rc_error_clear();
    rc_decref(w);
    assert_int_equal(live, rc_live_objects());
}

/* A weakref made after its target joins the old space while a cycle runs
 * (after the target did): garbage with its target, it gets no callback. */
static int callbacks;

static void count_callback(rc_object *wr, void *arg)
{
    callbacks++;
}

static void test_younger_weakref_in_garbage_gets_no_callback(void **state)
{
    size_t live = quiesce();
    rc_object *holder = rc_list_new();
    rc_object *x = self_node(5);
    rc_list_append(holder, x);
    rc_decref(x);
    rc_gc_collect(2);                 /* x in the old space */
    run_to(0);                        /* a cycle took the old space */
    x = rc_list_pop(holder, 0);
    rc_object *w = rc_weakref_new(x, count_callback, NULL);
    rc_slot_set(x, 1, w);             /* only x holds w */
    rc_decref(w);
    rc_gc_collect(1);                 /* w joins the old space, not the cycle */
    rc_decref(x);                     /* x and w: garbage */
    callbacks = 0;
    run_to_ready();
    assert_int_equal(2, gc_cc_test_finish(me()));
    assert_int_equal(0, callbacks);
    rc_decref(holder);
    assert_int_equal(live, rc_live_objects());
}

/* Old garbage held by young garbage (a group that spans the young
 * generations and the cycle's members) survives the cycle that meets it
 * first, as a young collection keeps what older objects refer to (here
 * the cycle has no candidate: x's count, held by young y, makes it a
 * root, and its last stop leaves the young generations alone); once its
 * young part joins the old space (a young collection promotes it), the
 * next cycle finds the whole group. */
static void test_group_across_generations_found_by_next_cycle(void **state)
{
    size_t live = quiesce();
    rc_object *x = rc_instance_new(node_type);
    rc_gc_collect(2);                 /* x in the old space */
    run_to(0);
    rc_object *y = rc_list_new();     /* young */
    rc_list_append(y, x);
    rc_slot_set(x, 0, y);             /* x <-> y */
    rc_decref(y);
    rc_decref(x);
    run_to_ready();
    assert_int_equal(0, gc_cc_test_finish(me()));
    run_to((size_t)-1);               /* y still young: x is a root */
    assert_int_equal(0, gc_cc_test_finish(me()));
    assert_int_equal(0, rc_gc_collect(1));   /* y joins the old space */
    run_to((size_t)-1);
    assert_int_equal(2, gc_cc_test_finish(me()));
    assert_int_equal(live, rc_live_objects());
}

/* The stop callbacks of the collection that ends a cycle run after the
 * cycle is over: another thread's rc_gc_collect(2), which needs the cycle
 * to itself, gets it meanwhile, so a callback that stops the world (or,
 * in gil mode, lets the GIL go by allocating) does not wait forever for a
 * thread that waits for the callback's end.  The other thread is made to
 * ask while the callback runs (its arrival is waited for; whether it is
 * already waiting for the cycle when the stop comes is aimed, not forced:
 * before the fix, the run hung whenever it was). */
static _Atomic int other_phase;   /* 1: about to collect, 2: collected */
static _Atomic long other_found;
static _Atomic int stop_armed;

static void other_main(void *arg)
{
    atomic_store(&other_phase, 1);
    atomic_store(&other_found, rc_gc_collect(2));
    atomic_store(&other_phase, 2);
}

static void stop_callback(rc_gc_phase phase, const rc_gc_info *info, void *arg)
{
    if (phase != RC_GC_STOP || info->generation != 2 || !atomic_exchange(&stop_armed, 0))
        return;
    rc_thread **t = arg;
    *t = rc_thread_start(other_main, NULL);
    while (atomic_load(&other_phase) == 0)
        rc_safepoint();
    for (int i = 0; i < 2000; i++) {
        rc_decref(rc_list_new());   /* safepoints; gil mode lets the GIL go */
        sched_yield();
    }
    rc_stop_the_world();
    rc_start_the_world();
}

static void test_stop_callback_while_another_thread_collects(void **state)
{
    size_t live = quiesce();
    rc_object *x = self_node(1);
    rc_gc_collect(2);
    rc_decref(x);
    rc_thread *t = NULL;
    atomic_store(&other_phase, 0);
    atomic_store(&stop_armed, 1);
    assert_int_equal(0, rc_gc_callback_add(stop_callback, &t));
    run_to((size_t)-1);
    assert_int_equal(1, gc_cc_test_finish(me()));
    assert_int_equal(0, rc_gc_callback_remove(stop_callback, &t));
    assert_non_null(t);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(2, atomic_load(&other_phase));
    assert_true(atomic_load(&other_found) >= 0);
    assert_int_equal(live, rc_live_objects());
}

/* The collector thread: a cycle started on this thread is run and
 * finished by the collector's own thread, while this one waits detached
 * (it does no slice: only a thread that allocates assists). */
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static bool cycle_done;
static long cycle_found;
static pthread_t cycle_thread;

static void cycle_done_callback(rc_gc_phase phase, const rc_gc_info *info, void *arg)
{
    (void)arg;
    if (phase != RC_GC_STOP || info->generation != 2)
        return;
    pthread_mutex_lock(&done_mu);
    /* The cycle's batches are one collection each: done when they have
     * found the 5,000 self-cycles. */
    cycle_found += info->collected;
    cycle_done = cycle_found >= 5000;
    cycle_thread = pthread_self();
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&done_mu);
}

static void test_collector_thread_runs_the_cycle(void **state)
{
    size_t live = quiesce();
    /* Under the torture configuration's stress the thread stands aside
     * (docs/gc.md [gc.concurrent]): off, for this runtime. */
    assert_int_equal(0, rc_gc_set_stress(0));
    rc_object *l = list_of_self_nodes(5000);
    rc_gc_collect(2);   /* into the old space */
    rc_decref(l);       /* the list goes; 5,000 self-cycles of old garbage stay */
    cycle_done = false;
    cycle_found = 0;
    assert_int_equal(0, rc_gc_callback_add(cycle_done_callback, NULL));
    assert_true(gc_cc_test_start(me()));
    assert_int_equal(0, rc_gc_enable());   /* wakes the collector thread */
    assert_int_equal(0, rc_detach());
    /* A deadline only so that a collector thread that never runs fails
     * the test instead of hanging it. */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    pthread_mutex_lock(&done_mu);
    int rc = 0;
    while (!cycle_done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&done_cv, &done_mu, &deadline);
    bool done = cycle_done;
    long found = cycle_found;
    pthread_t by = cycle_thread;
    pthread_mutex_unlock(&done_mu);
    assert_int_equal(0, rc_attach());
    rc_gc_disable();
    assert_int_equal(0, rc_gc_callback_remove(cycle_done_callback, NULL));
    assert_true(done);
    assert_int_equal(5000, found);
    assert_false(pthread_equal(by, pthread_self()));
    assert_int_equal(PH_IDLE, gc_cc_test_phase(me()->rt));
    assert_int_equal(live, rc_live_objects());
}

/* rc_gc_collect(2) made while the collector thread's own collection runs
 * waits for it and then collects: complete, it finds garbage made before
 * it was called (before, it returned 0 at once, as for a collection of
 * another thread of the program's, and stress_gc's final collections
 * under this collector found nothing).  The collector thread is held in a
 * finalizer of its collection until this thread is about to call; that
 * the call then lands while that collection still holds the collector is
 * aimed (the collection has its clearing left to do), not forced: the
 * assertion holds either way, and failed before whenever it landed. */
static atomic_int fin_entered, main_calling;

static void blocking_fin(rc_object *self)
{
    (void)self;
    atomic_store(&fin_entered, 1);
    while (!atomic_load(&main_calling)) {
        rc_safepoint();
        sched_yield();
    }
}

static void test_collect_waits_for_the_collector_thread(void **state)
{
    size_t live = quiesce();
    assert_int_equal(0, rc_gc_set_stress(0));   /* the thread works (above) */
    rc_type *fin_type = rc_type_new("Blocking", 1, blocking_fin);
    assert_non_null(fin_type);
    rc_object *x = rc_instance_new(fin_type);
    rc_slot_set(x, 0, x);
    rc_gc_collect(2);   /* into the old space */
    rc_decref(x);       /* old garbage with a finalizer */
    atomic_store(&fin_entered, 0);
    atomic_store(&main_calling, 0);
    assert_true(gc_cc_test_start(me()));
    assert_int_equal(0, rc_gc_enable());
    assert_int_equal(0, rc_detach());
    while (!atomic_load(&fin_entered))
        sched_yield();
    assert_int_equal(0, rc_attach());
    rc_object *g = self_node(3);
    rc_decref(g);       /* young garbage made before the call */
    atomic_store(&main_calling, 1);
    long found = rc_gc_collect(2);
    rc_gc_disable();
    assert_true(found >= 1);
    while (rc_gc_collect(2) > 0)
        ;
    assert_int_equal(live, rc_live_objects());
}

/* rc_runtime_free does not count the collector's thread as the program's:
 * with one thread of the program's still running it names one, and once
 * that one is joined it frees the runtime (harness_teardown). */
static atomic_int release_waiter;

static void waiter_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&release_waiter)) {
        rc_safepoint();
        sched_yield();
    }
}

static void test_runtime_free_leaves_the_collector_thread_out(void **state)
{
    atomic_store(&release_waiter, 0);
    rc_thread *t = rc_thread_start(waiter_main, NULL);
    assert_non_null(t);
    assert_int_equal(-1, rc_runtime_free(*state));
    assert_int_equal(RC_ERR_RUNTIME, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), " 1 thread(s) still running"));
    rc_error_clear();
    atomic_store(&release_waiter, 1);
    assert_int_equal(0, rc_thread_join(t));
    /* The collector thread still runs cycles: a full collection works. */
    rc_object *x = self_node(7);
    rc_decref(x);
    assert_int_equal(1, rc_gc_collect(2));
}

/* Freeze during a cycle cancels it; the frozen heap is all there. */
static void test_freeze_cancels_a_cycle(void **state)
{
    size_t live = quiesce();
    rc_object *keep = list_of_self_nodes(10);
    rc_gc_collect(2);
    run_to(5);
    assert_int_not_equal(PH_IDLE, gc_cc_test_phase(me()->rt));
    assert_int_equal(0, rc_gc_freeze());
    assert_int_equal(PH_IDLE, gc_cc_test_phase(me()->rt));
    /* keep, its 10 nodes, and the runtime's own tracked objects */
    assert_true(rc_gc_get_freeze_count() >= 11);
    assert_int_equal(0, rc_gc_unfreeze());
    assert_int_equal(0, rc_gc_get_freeze_count());
    assert_int_equal(0, rc_gc_verify_heap());
    rc_decref(keep);
    assert_int_equal(10, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

/* A cancel (rc_gc_freeze) at every step of a cycle.  From build to
 * gather the passes keep each member's count in its prev link; the
 * verifier, run at each step, checks the list's next links meanwhile, and
 * after the cancel every link again: a cancel that did not restore them
 * leaves broken links (and a corrupt list for the next unlink). */
static void test_cancel_at_every_step(void **state)
{
    size_t live = quiesce();
    rc_object *keep = list_of_self_nodes(10);
    rc_gc_collect(2);
    size_t len = cycle_length();
    for (size_t k = 0; k <= len; k++) {
        run_to(k);
        assert_int_equal(0, rc_gc_verify_heap());
        assert_int_equal(0, rc_gc_freeze());
        assert_int_equal(PH_IDLE, gc_cc_test_phase(me()->rt));
        assert_int_equal(0, rc_gc_unfreeze());
        assert_int_equal(0, rc_gc_verify_heap());
        /* and a whole new cycle over the same list finds nothing */
        run_to((size_t)-1);
        assert_int_equal(0, gc_cc_test_finish(me()));
    }
    rc_decref(keep);
    assert_int_equal(10, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

/* More members reachable at once than the mark stack's first length, and
 * more candidates than it too: the stack grows, and the cycle finds the
 * garbage exactly, leaving every live member alone. */
static void test_mark_stack_and_candidates_grow(void **state)
{
    enum { LIVE = 20000, DEAD = 9000 };
    size_t live = quiesce();
    rc_object *keep = list_of_self_nodes(LIVE);
    rc_object *dead = list_of_self_nodes(DEAD);
    rc_list_append(dead, dead);
    rc_gc_collect(2);
    rc_decref(dead);
    run_to((size_t)-1);
    assert_int_equal(DEAD + 1, gc_cc_test_finish(me()));
    assert_int_equal(LIVE, rc_list_len(keep));
    for (long i = 0; i < LIVE; i += 997) {
        rc_object *x = rc_list_get(keep, i);
        assert_true(node_intact(x, i));
        rc_decref(x);
    }
    assert_int_equal(0, rc_gc_verify_heap());
    rc_decref(keep);
    assert_int_equal(LIVE, rc_gc_collect(2));   /* keep itself died by its count */
    assert_int_equal(live, rc_live_objects());
}

/* While a cycle holds the old space: the verifier and the heap walks see
 * its objects, young collections run, and an explicit full collection
 * drops the cycle and collects everything, synchronously. */
static void test_heap_complete_during_a_cycle(void **state)
{
    size_t live = quiesce();
    rc_object *keep = list_of_self_nodes(10);
    rc_gc_collect(2);
    run_to(8);
    assert_int_equal(0, rc_gc_verify_heap());
    rc_object *all = rc_gc_get_objects(2);
    assert_non_null(all);
    long n = rc_list_len(all);
    assert_true(n >= 11);   /* keep and its nodes, in the cycle's list */
    rc_decref(all);
    rc_object *young = rc_list_new();
    rc_list_append(young, young);
    rc_decref(young);
    assert_int_equal(1, rc_gc_collect(0));   /* a young collection meanwhile */
    rc_decref(keep);
    assert_int_equal(10, rc_gc_collect(2));  /* the cycle dropped, all found */
    assert_int_equal(PH_IDLE, gc_cc_test_phase(me()->rt));
    assert_int_equal(live, rc_live_objects());
}

/* A garbage structure far bigger than anything else is reclaimed by one
 * cycle (its stop is O(the structure): docs/gc.md says so). */
static void test_big_ring_reclaimed(void **state)
{
    enum { N = 50000 };
    size_t live = quiesce();
    rc_object *first = rc_instance_new(node_type), *prev = first;
    for (long i = 1; i < N; i++) {
        rc_object *x = rc_instance_new(node_type);
        rc_slot_set(prev, 0, x);
        rc_decref(x);
        prev = x;
    }
    rc_slot_set(prev, 0, first);
    rc_gc_collect(2);
    rc_decref(first);
    run_to((size_t)-1);
    assert_int_equal(N, gc_cc_test_finish(me()));
    assert_int_equal(live, rc_live_objects());
}


/* No memory for the cycle's order (build's record of its list) after 10
 * entries: the rest of the list goes back to the old space, none of it a
 * member.  The cycle still ends, finds garbage only among what it kept,
 * leaves the lists whole; rc_gc_collect(2), incomplete the same way,
 * falls back to a collection of the whole heap that finds the rest. */
static void test_build_without_memory_for_the_order(void **state)
{
    size_t live = quiesce();
    rc_object *holder = list_of_self_nodes(50);
    rc_gc_collect(2);                 /* into the old space */
    rc_decref(holder);                /* 50 self-cycles of old garbage */
    gc_cc_test_limit_order(me()->rt, 10);
    run_to((size_t)-1);
    long found = gc_cc_test_finish_all(me());
    assert_true(found >= 0 && found <= 10);
    assert_int_equal(PH_IDLE, gc_cc_test_phase(me()->rt));
    assert_int_equal(0, rc_gc_verify_heap());
    assert_int_equal(50 - found, rc_gc_collect(2));
    gc_cc_test_limit_order(me()->rt, 0);
    assert_int_equal(0, rc_gc_verify_heap());
    assert_int_equal(live, rc_live_objects());
}

/* ------------------------------------------------ batched validation */

/* Each test has a runtime of its own (harness_setup): a batch size set
 * with gc_cc_test_set_batch lasts to the test's end. */

/* A garbage chain of self-cycles, each holding the one made before it:
 * n depth-first trees of one node (a node reaches only older ones, whose
 * trees came first), every reference between them from a later tree to
 * an earlier one.  Returns the newest node. */
static rc_object *chain_backward(long n)
{
    rc_object *prev = NULL;
    for (long i = 0; i < n; i++) {
        rc_object *x = self_node(i);
        if (prev != NULL) {
            rc_object *n0 = rc_slot_get(x, 1);
            rc_slot_set(x, 1, prev);   /* the int goes; prev is held */
            rc_decref(n0);
            rc_decref(prev);
        }
        prev = x;
    }
    return prev;
}

/* Batches of one tree: rc_gc_collect(2) validates the newest tree first,
 * clears it, and so frees every next one in turn; one call finds the
 * whole chain (complete, as one stop over all of it would), in many
 * stops. */
static void test_batches_complete_a_chain(void **state)
{
    enum { N = 40 };
    size_t live = quiesce();
    gc_cc_test_set_batch(me()->rt, 1);
    rc_object *head = chain_backward(N);
    rc_gc_collect(2);
    rc_decref(head);
    size_t before = rc_gc_record_count();
    assert_int_equal(N, rc_gc_collect(2));
    size_t rounds = rc_gc_record_count() - before;
    assert_true(rounds > N / 2);   /* a stop per tree (two nodes may share one) */
    assert_int_equal(PH_IDLE, gc_cc_test_phase(me()->rt));
    /* Only the collection that ends the cycle carries its figures. */
    rc_gc_record r;
    assert_int_equal(1, rc_gc_records(rc_gc_record_count() - 1, &r, 1));
    assert_true(r.cycle_start_ns != 0);
    assert_int_equal(1, rc_gc_records(before, &r, 1));
    assert_int_equal(2, r.generation);
    assert_true(r.cycle_start_ns == 0);
    assert_int_equal(live, rc_live_objects());
}

/* The same chain under SAVEALL: kept garbage would keep the next batch's
 * alive, so the cycle validates in one batch and saves all of it. */
static void test_batches_saveall_keeps_everything(void **state)
{
    enum { N = 20 };
    size_t live = quiesce();
    gc_cc_test_set_batch(me()->rt, 1);
    rc_object *head = chain_backward(N);
    rc_gc_collect(2);
    rc_decref(head);
    assert_int_equal(0, rc_gc_set_debug(RC_GC_DEBUG_SAVEALL));
    assert_int_equal(N, rc_gc_collect(2));
    assert_int_equal(0, rc_gc_set_debug(0));
    rc_object *garbage = rc_gc_garbage();
    assert_int_equal(N, rc_list_len(garbage));
    while (rc_list_len(garbage) > 0) {
        rc_object *x = rc_list_pop(garbage, -1);
        rc_decref(x);
    }
    assert_int_equal(N, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

/* A garbage weakref with a callback, reached from an older garbage node
 * (its tree before its target's, were the weakref's target not followed
 * as a reference): its target is validated with it or after it, never
 * first, so the weakref is garbage when the target dies, and its callback
 * does not run. */
static void test_batches_weakref_with_its_target(void **state)
{
    size_t live = quiesce();
    gc_cc_test_set_batch(me()->rt, 1);
    rc_object *r = self_node(1);
    rc_object *x = self_node(2);
    rc_object *w = rc_weakref_new(x, count_callback, NULL);
    rc_slot_set(r, 1, w);   /* r -> w, w weakly -> x */
    rc_decref(w);
    rc_gc_collect(2);
    rc_decref(r);
    rc_decref(x);
    callbacks = 0;
    run_to((size_t)-1);
    assert_int_equal(3, gc_cc_test_finish_all(me()));
    assert_int_equal(0, callbacks);
    assert_int_equal(live, rc_live_objects());
}

/* Between two batches' stops the world runs.  The lost-object move (a
 * reference moved from a container to another, held by a local between)
 * at every step of the passes, which may make the moved object a
 * candidate, then again between every two batches' stops: the object
 * stays intact, and the batches find the garbage chain exactly. */
static long finish_batches_moving(rc_object *a, rc_object *b, int *moves)
{
    long found = 0;
    while (gc_cc_test_phase(me()->rt) == PH_READY) {
        long f = gc_cc_test_finish(me());
        assert_true(f >= 0);
        found += f;
        rc_object *from = rc_list_len(a) == 1 ? a : b, *to = from == a ? b : a;
        rc_object *moved = rc_list_pop(from, 0);
        assert_non_null(moved);
        rc_list_append(to, moved);
        rc_decref(moved);
        (*moves)++;
        assert_int_equal(0, rc_gc_verify_heap());
    }
    return found;
}

static void test_batches_with_mutation_between(void **state)
{
    enum { N = 12 };
    size_t live = quiesce();
    gc_cc_test_set_batch(me()->rt, 1);
    rc_object *a = rc_list_new(), *b = rc_list_new();
    rc_object *x = self_node(7);
    rc_list_append(a, x);
    rc_decref(x);
    rc_gc_collect(2);
    rc_object *head = chain_backward(N);
    rc_gc_collect(1);
    rc_decref(head);
    int moves = 0;
    size_t len = run_to((size_t)-1);
    assert_int_equal(N, finish_batches_moving(a, b, &moves));
    assert_true(moves > 1);
    for (size_t k = 0; k <= len; k++) {
        head = chain_backward(N);
        rc_gc_collect(1);   /* into the old space */
        rc_decref(head);
        rc_object *from = rc_list_len(a) == 1 ? a : b, *to = from == a ? b : a;
        run_to(k);
        rc_object *moved = rc_list_pop(from, 0);
        assert_ptr_equal(x, moved);
        gc_cc_test_work(me(), 2);   /* held only by this local meanwhile */
        rc_list_append(to, moved);
        rc_decref(moved);
        run_to_ready();
        assert_int_equal(N, finish_batches_moving(a, b, &moves));
        rc_object *got = rc_list_get(rc_list_len(a) == 1 ? a : b, 0);
        assert_ptr_equal(x, got);
        assert_true(node_intact(got, 7));
        rc_decref(got);
    }
    rc_decref(a);
    rc_decref(b);
    assert_int_equal(1, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

/* A young garbage weakref, held only by its old target, whose batch is
 * not the cycle's last: the batch takes the young generations (its member
 * has a weakref), so the weakref is garbage there and is not called
 * back. */
static void test_batches_young_weakref_in_an_early_batch(void **state)
{
    size_t live = quiesce();
    gc_cc_test_set_batch(me()->rt, 1);
    rc_object *z = self_node(1);   /* the older tree: the last batch */
    rc_object *a = self_node(2);
    rc_gc_collect(2);
    rc_object *w = rc_weakref_new(a, count_callback, NULL);   /* young */
    rc_slot_set(a, 1, w);          /* only a holds w */
    rc_decref(w);
    rc_decref(a);
    rc_decref(z);
    callbacks = 0;
    run_to((size_t)-1);
    assert_int_equal(3, gc_cc_test_finish_all(me()));
    assert_int_equal(0, callbacks);
    assert_int_equal(live, rc_live_objects());
}

/* ft modes: another thread builds X -> Y1 -> ... -> Yn -> Z (X and Z
 * self-cycles, the Ys not), all garbage with the references in its local
 * counts, and waits detached.  Trees {Y1, ..., Z}, then {X}: clearing X
 * drops Y1's last reference from this thread, queued to Y1's owner; the
 * next batch's stop merges it, Y1's count reaches 0 there and its
 * deallocation waits for the restart, where it queues Y2's, and so on.
 * The stop restarts for each, and Z is found by the same call.  Y1's
 * type may be given a finalizer. */
static pthread_mutex_t chain_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t chain_cv = PTHREAD_COND_INITIALIZER;
static int chain_state;   /* 1: built, 2: may exit */
static int chain_len;
static rc_type *chain_first_type;

static void chain_builder(void *arg)
{
    rc_object *ys[16];
    for (int i = 0; i < chain_len; i++)
        ys[i] = rc_instance_new(i == 0 && chain_first_type ? chain_first_type : node_type);
    rc_object *z = self_node(2);
    for (int i = 0; i < chain_len; i++) {
        rc_slot_set(ys[i], 0, i + 1 < chain_len ? ys[i + 1] : z);
        if (i > 0)
            rc_decref(ys[i]);
    }
    rc_decref(z);
    rc_object *x = self_node(3);
    rc_slot_set(x, 1, ys[0]);
    rc_decref(ys[0]);
    rc_decref(x);
    assert_int_equal(0, rc_detach());
    pthread_mutex_lock(&chain_mu);
    chain_state = 1;
    pthread_cond_broadcast(&chain_cv);
    while (chain_state != 2)
        pthread_cond_wait(&chain_cv, &chain_mu);
    pthread_mutex_unlock(&chain_mu);
    assert_int_equal(0, rc_attach());
}

/* The chain built by another thread, then rc_gc_collect(2) with batches of
 * one tree; returns what the call found. */
static long collect_queued_chain(int n)
{
    gc_cc_test_set_batch(me()->rt, 1);
    chain_state = 0;
    chain_len = n;
    rc_thread *t = rc_thread_start(chain_builder, NULL);
    assert_non_null(t);
    assert_int_equal(0, rc_detach());
    pthread_mutex_lock(&chain_mu);
    while (chain_state != 1)
        pthread_cond_wait(&chain_cv, &chain_mu);
    pthread_mutex_unlock(&chain_mu);
    assert_int_equal(0, rc_attach());
    long first = rc_gc_collect(2);
    pthread_mutex_lock(&chain_mu);
    chain_state = 2;
    pthread_cond_broadcast(&chain_cv);
    pthread_mutex_unlock(&chain_mu);
    assert_int_equal(0, rc_thread_join(t));
    return first;
}

static void test_batches_queued_release_between_batches(void **state)
{
    size_t live = quiesce();
    /* The Ys die by their counts (found by the call in gil mode, where the
     * clearing frees them at once); X and Z are the call's. */
    long first = collect_queued_chain(1);
    assert_true(first == 2 || first == 3);
    assert_int_equal(0, rc_gc_collect(2));   /* nothing left behind */
    first = collect_queued_chain(8);
    assert_true(first >= 2 && first <= 10);
    assert_int_equal(0, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

/* The chain's Y1 freezes the heap from its finalizer, which runs between
 * two stops of a batch (the restart that lets it die): the cycle is
 * cancelled there, and the call collects the whole heap instead. */
static void freeze_from_finalizer(rc_object *self)
{
    assert_int_equal(0, rc_gc_freeze());
}

static void test_batches_freeze_between_restarts(void **state)
{
    size_t live = quiesce();
    chain_first_type = rc_type_new("Freezer", 2, freeze_from_finalizer);
    assert_non_null(chain_first_type);
    long first = collect_queued_chain(2);
    chain_first_type = NULL;
    assert_true(first >= 0);
    assert_int_equal(0, rc_gc_unfreeze());
    (void)rc_gc_collect(2);   /* what the freeze kept from the call */
    assert_int_equal(0, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

/* The growth count across a cycle's batches: what the old space gained
 * while the cycle ran is added back once, after its last batch (not once
 * per batch, which doubled it each time). */
static void test_batches_growth_count_once(void **state)
{
    size_t live = quiesce();
    gc_cc_test_set_batch(me()->rt, 1);
    rc_object *h[4];
    for (int i = 0; i < 4; i++)
        h[i] = self_node(i);
    rc_gc_collect(2);
    for (int i = 0; i < 4; i++)
        rc_decref(h[i]);
    struct gc_state *gc = me()->rt->gc;
    atomic_store(&gc->long_lived_pending, 50);
    run_to((size_t)-1);
    atomic_store(&gc->long_lived_pending, 150);   /* grown by 100 meanwhile */
    assert_int_equal(4, gc_cc_test_finish_all(me()));
    assert_int_equal(100, atomic_load(&gc->long_lived_pending));
    assert_int_equal(live, rc_live_objects());
}

/* Old objects that die after a cycle starts but before its build reaches
 * them are left out of its members, so out of the survivors its last
 * batch counts as the oldest generation's size: their deaths, which the
 * growth count took off meanwhile, are no loss from that size and are
 * given back (else the baseline shrinks below what is alive, and cycles
 * come early: binary-trees' dropped trees did that). */
static void test_deaths_before_build_count_once(void **state)
{
    (void)state;
    size_t live = quiesce();
    rc_object *l = rc_list_new();
    for (int i = 0; i < 5; i++) {
        rc_object *x = rc_instance_new(node_type);
        rc_list_append(l, x);
        rc_decref(x);
    }
    rc_gc_collect(2);   /* the list and its five: old */
    struct gc_state *gc = me()->rt->gc;
    atomic_store(&gc->long_lived_pending, 50);
    assert_true(gc_cc_test_start(me()));
    rc_decref(l);   /* six deaths before build reached them */
    me()->gct.old_freed = 0;   /* as counted off already: */
    atomic_store(&gc->long_lived_pending, 150 - 6);   /* grown by 100 too */
    run_to_ready();
    assert_int_equal(0, gc_cc_test_finish_all(me()));
    assert_int_equal(100, atomic_load(&gc->long_lived_pending));
    assert_int_equal(live, rc_live_objects());
}

/* A young garbage weakref to an old object that joined the old space
 * after the cycle began, which a batch takes in because a candidate
 * refers to it: the batch takes the young generations too, and the
 * weakref is not called back. */
static void test_batches_young_weakref_on_a_taken_referent(void **state)
{
    size_t live = quiesce();
    gc_cc_test_set_batch(me()->rt, 1);
    rc_object *z = self_node(1);   /* the older tree: the last batch */
    rc_object *a = self_node(2);
    rc_gc_collect(2);
    rc_object *r = rc_instance_new(node_type);
    assert_true(gc_cc_test_start(me()));          /* members: z, a */
    rc_gc_collect(1);                             /* r joins the old space: no member */
    rc_object *w = rc_weakref_new(r, count_callback, NULL);   /* young */
    rc_slot_set(r, 1, w);                         /* only r holds w */
    rc_decref(w);
    rc_slot_set(a, 1, r);                         /* a -> r */
    rc_decref(r);
    rc_decref(a);
    rc_decref(z);
    callbacks = 0;
    run_to_ready();
    assert_true(gc_cc_test_finish_all(me()) >= 3);
    assert_int_equal(0, callbacks);
    (void)rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* A finalizer stores its object into garbage it refers to, validated in
 * a later batch: its batch sees it resurrected, and the later batch takes
 * it again (no longer a member) with the rest, so one call finds both. */
static void stash_into_referent(rc_object *self)
{
    rc_object *g = rc_slot_get(self, 0);
    rc_slot_set(g, 1, self);   /* still unreachable */
    rc_decref(g);
}

static void test_batches_finalizer_stores_into_a_later_batch(void **state)
{
    size_t live = quiesce();
    rc_type *stash_type = rc_type_new("Stash", 2, stash_into_referent);
    assert_non_null(stash_type);
    gc_cc_test_set_batch(me()->rt, 1);
    rc_object *g = self_node(1);                 /* the older tree */
    rc_object *f = rc_instance_new(stash_type);  /* f.0 = g, f.1 = f */
    rc_slot_set(f, 0, g);
    rc_slot_set(f, 1, f);
    rc_decref(g);
    rc_decref(f);
    assert_true(rc_gc_collect(2) >= 2);
    assert_int_equal(0, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

/* A batch's garbage is freed before its cycle ends.  A weakref made at a
 * freed member's address, promoted into the old space and held only by a
 * candidate of a later batch that is garbage by then, is taken into that
 * batch (its member-map bit was cleared with its batch), so it is garbage
 * there and not called back. */
static void test_batches_reused_address_is_no_member(void **state)
{
    size_t live = quiesce();
    gc_cc_test_set_batch(me()->rt, 1);
    rc_object *c = self_node(1);                       /* the older tree */
    rc_object *wr0 = rc_weakref_new(c, NULL, NULL);    /* our way back to c */
    rc_object *k = self_node(2);
    rc_object *kw = rc_weakref_new(k, NULL, NULL);
    rc_slot_set(k, 1, kw);                             /* k -> kw, kw ~> k */
    void *kw_addr = kw;
    rc_gc_collect(2);
    rc_decref(kw);
    rc_decref(k);
    rc_decref(c);
    run_to((size_t)-1);
    assert_int_equal(2, gc_cc_test_finish(me()));      /* batch {k, kw}: freed */
    assert_int_equal(PH_READY, gc_cc_test_phase(me()->rt));
    c = rc_weakref_get(wr0);                           /* c, a candidate, held again */
    assert_non_null(c);
    rc_object *spare = rc_list_new(), *n = NULL;
    for (int i = 0; i < 64 && n == NULL; i++) {
        rc_object *w = rc_weakref_new(c, count_callback, NULL);
        if ((void *)w == kw_addr) {
            n = w;
        } else {
            rc_list_append(spare, w);
            rc_decref(w);
        }
    }
    rc_decref(spare);
    if (n == NULL) {
        rc_decref(c);
        rc_decref(wr0);
        assert_true(gc_cc_test_finish_all(me()) >= 0);
        skip();   /* the allocator did not reuse the address: nothing to check */
    }
    rc_slot_set(c, 1, n);                              /* c -> n, n ~> c */
    rc_decref(n);
    rc_gc_collect(1);                                  /* n joins the old space */
    rc_decref(c);                                      /* c and n: garbage */
    callbacks = 0;
    assert_int_equal(2, gc_cc_test_finish_all(me()));
    assert_int_equal(0, callbacks);
    rc_decref(wr0);
    assert_int_equal(live, rc_live_objects());
}

/* While a heap is built (automatic young collections keep all they scan),
 * generation 0's survivors go straight to the old space the cycles
 * collect (gc_trial_deletion_stw): a generation-1 collection that stops the world
 * holds about one young collection's survivors, not threshold[1] of them
 * (gil and ft-atomic modes, whose young collections all stop the world;
 * ft mode's are mostly thread-local, and none of its stops may hold more
 * either).  The survivors are still found when they die. */
static void test_growing_heap_stops_stay_small(void **state)
{
    size_t live = quiesce();
    long saved[RC_GC_GENERATIONS];
    assert_int_equal(0, rc_gc_get_threshold(saved));
    assert_int_equal(0, rc_gc_set_threshold(200, 10, 1000000));   /* no cycle */
    rc_gc_enable();   /* automatic collections: what this is about */
    size_t first = rc_gc_record_count();
    rc_object *keep = rc_list_new();
    for (int i = 0; i < 20000; i++) {
        rc_object *o = rc_list_new();
        assert_int_equal(0, rc_list_append(keep, o));
        rc_decref(o);
    }
    size_t n = rc_gc_record_count() - first;
    rc_gc_record *recs = calloc(n, sizeof *recs);
    assert_non_null(recs);
    assert_int_equal(n, rc_gc_records(first, recs, n));
    long gen1_stops = 0, largest = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].generation != 1 || recs[i].local)
            continue;
        gen1_stops++;
        largest = recs[i].scanned > largest ? recs[i].scanned : largest;
    }
    free(recs);
    rc_gc_disable();
    assert_int_equal(0, rc_gc_set_threshold(saved[0], saved[1], saved[2]));
    /* Before: 10 young collections' survivors, about 2,000. */
    assert_true(largest <= 3 * 200);
    if (harness_mode != RC_MODE_FT)
        assert_true(gen1_stops >= 5);
    /* A self-referencing list among them is still found once dropped. */
    rc_object *self = rc_list_get(keep, 100);
    assert_int_equal(0, rc_list_append(self, self));
    rc_decref(self);
    rc_decref(keep);
    assert_int_equal(1, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

/* rc_gc_collect(0) called by a callback of an automatic collection, while
 * a heap is being built, keeps CPython's generations: its survivors are
 * in generation 1, not sent on to the old space as the automatic
 * collection's own were. */
static bool probe_armed;         /* this thread: the heap has grown a while */
static int probe_in_gen1 = -1;   /* the callback's finding (this thread) */

static void collect0_probe(rc_gc_phase phase, const rc_gc_info *info, void *arg)
{
    (void)info;
    (void)arg;
    if (phase != RC_GC_STOP || !probe_armed || probe_in_gen1 != -1 || info->generation != 0)
        return;
    probe_in_gen1 = 0;   /* once: rc_gc_collect calls us again */
    rc_object *holder = rc_list_new();
    rc_object *probe = rc_list_new();
    rc_list_append(holder, probe);
    rc_gc_collect(0);
    rc_object *gen1 = rc_gc_get_objects(1);
    for (long i = 0; gen1 != NULL && i < rc_list_len(gen1); i++)
        probe_in_gen1 |= rc_list_get_borrowed(gen1, i) == probe;
    rc_decref(gen1);
    rc_decref(probe);
    rc_decref(holder);
}

static void test_collect0_in_a_callback_keeps_generations(void **state)
{
    size_t live = quiesce();
    long saved[RC_GC_GENERATIONS];
    assert_int_equal(0, rc_gc_get_threshold(saved));
    assert_int_equal(0, rc_gc_set_threshold(200, 10, 1000000));
    /* A callback turns ft mode's thread-local collections off: every
     * young collection stops the world, in all three modes. */
    assert_int_equal(0, rc_gc_callback_add(collect0_probe, NULL));
    rc_gc_enable();
    rc_object *keep = rc_list_new();
    probe_armed = false;
    probe_in_gen1 = -1;
    for (int i = 0; i < 4000 && probe_in_gen1 == -1; i++) {
        rc_object *o = rc_list_new();
        assert_int_equal(0, rc_list_append(keep, o));
        rc_decref(o);
        probe_armed = i >= 2000;   /* the heap has been growing a while */
    }
    rc_gc_disable();
    assert_int_equal(0, rc_gc_callback_remove(collect0_probe, NULL));
    assert_int_equal(0, rc_gc_set_threshold(saved[0], saved[1], saved[2]));
    int found = probe_in_gen1;
    probe_armed = false;
    probe_in_gen1 = -1;
    rc_decref(keep);
    rc_gc_collect(2);
    assert_int_equal(1, found);
    assert_int_equal(live, rc_live_objects());
}

/* An automatic young collection that sends its survivors to the old space
 * sends there what its garbage's finalizers resurrect, too, and counts
 * each object it put there once as old-space growth (a resurrected object
 * left in generation 1 would be counted again when it left). */
static rc_object *resurrected;   /* this thread */

static void resurrect(rc_object *self)
{
    rc_incref(self);
    resurrected = self;
}

static void test_resurrected_young_garbage_joins_the_survivors(void **state)
{
    if (harness_mode == RC_MODE_FT) {
        print_message("skipped: ft mode collects its young objects thread-locally, "
                      "and sends none straight to the old space\n");
        skip();
    }
    size_t live = quiesce();
    rc_type *phoenix = rc_type_new("Phoenix", 1, resurrect);
    assert_non_null(phoenix);
    long saved[RC_GC_GENERATIONS];
    assert_int_equal(0, rc_gc_get_threshold(saved));
    assert_int_equal(0, rc_gc_set_threshold(200, 1000, 1000000));   /* generation 0 only */
    struct thr_state *ts = me();
    struct gc_state *gc = ts->rt->gc;
    rc_gc_enable();
    rc_object *keep = rc_list_new();
    for (int i = 0; i < 2000; i++) {   /* a growing heap */
        rc_object *o = rc_list_new();
        rc_list_append(keep, o);
        rc_decref(o);
    }
    rc_gc_disable();
    assert_true(gc->young_growing);
    /* A self-referencing Phoenix: garbage that the next automatic young
     * collection resurrects; everything else it scans is alive. */
    rc_object *p = rc_instance_new(phoenix);
    assert_int_equal(0, rc_slot_set(p, 0, p));
    rc_decref(p);
    long pending0 = rc_atomic_load_relaxed(&gc->long_lived_pending);
    size_t first = rc_gc_record_count();
    ts->gc->auto_collect = true;   /* as gc_collect_quietly */
    assert_true(gc_collect(ts, 0) >= 0);
    ts->gc->auto_collect = false;
    long grown = rc_atomic_load_relaxed(&gc->long_lived_pending) - pending0;
    assert_int_equal(0, rc_gc_set_threshold(saved[0], saved[1], saved[2]));
    rc_gc_record r;
    assert_int_equal(1, rc_gc_records(first, &r, 1));
    assert_non_null(resurrected);
    assert_int_equal(r.scanned, grown);   /* the Phoenix too, once */
    assert_true(obj_gc_bits(resurrected) & RC_GC_OLD);
    assert_int_equal(0, rc_slot_set(resurrected, 0, rc_none()));   /* the cycle broken */
    rc_decref(resurrected);
    resurrected = NULL;
    rc_decref(keep);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* No object is in an older generation than one allocated before it: a
 * young collection that sends generation 0 to the old space sends
 * generation 1 along.  Else a weakref made after its referent could
 * reach the old space while the referent waits in generation 1; both
 * garbage, the collection of generation 1 would find the referent alone
 * and call the weakref back as if it were alive. */
static int garbage_weakref_calls;   /* this thread */

static void count_call(rc_object *wr, void *arg)
{
    (void)wr;
    (void)arg;
    garbage_weakref_calls++;
}

static void test_no_object_overtakes_an_older_one(void **state)
{
    size_t live = quiesce();
    struct thr_state *ts = me();
    struct gc_state *gc = ts->rt->gc;
    garbage_weakref_calls = 0;
    rc_object *a = rc_instance_new(node_type);
    gc->young_growing = false;      /* the world stopped owns it: none here */
    ts->gc->auto_collect = true;    /* as gc_collect_quietly */
    assert_true(gc_collect(ts, 0) >= 0);   /* a: generation 1 */
    /* a alone, alive: the young generation now counts as growing (where
     * young collections all stop the world). */
    rc_object *w = rc_weakref_new(a, count_call, NULL);
    assert_non_null(w);
    assert_true(gc_collect(ts, 0) >= 0);   /* w: on, and a with it */
    ts->gc->auto_collect = false;
    assert_int_equal(0, rc_slot_set(a, 0, a));
    assert_int_equal(0, rc_slot_set(a, 1, w));
    bool same = (obj_gc_bits(a) & RC_GC_OLD) == (obj_gc_bits(w) & RC_GC_OLD);
    rc_decref(w);
    rc_decref(a);                   /* a and its weakref: garbage */
    rc_gc_collect(1);
    rc_gc_collect(2);
    assert_true(same);
    assert_int_equal(0, garbage_weakref_calls);
    assert_int_equal(live, rc_live_objects());
}

/* rc_gc_collect(2) lets other threads run between its cycle's batches, as
 * between its slices: in gil mode it hands the GIL over when asked (it
 * held it through every batch: 0.8 s at 10M objects).  Another thread,
 * spinning at safepoints, sees a batch's record appended while the
 * collection is still on. */
static _Atomic int full_on;          /* gc callback: a full collection runs */
static _Atomic size_t full_records;  /* records when it began */
static _Atomic int between_batches, other_ready, other_stop;

static void full_flag(rc_gc_phase phase, const rc_gc_info *info, void *arg)
{
    (void)arg;
    if (info->generation != 2)
        return;
    if (phase == RC_GC_START)
        atomic_store(&full_records, rc_gc_record_count());
    atomic_store(&full_on, phase == RC_GC_START);
}

static void watch_batches(void *arg)
{
    (void)arg;
    atomic_store(&other_ready, 1);
    while (!atomic_load(&other_stop)) {
        if (atomic_load(&full_on) && rc_gc_record_count() > atomic_load(&full_records))
            atomic_store(&between_batches, 1);
        rc_safepoint();
    }
}

static void test_full_collection_lets_others_run_between_batches(void **state)
{
    (void)state;
    rc_config cfg = rc_config_default();
    cfg.mode = harness_mode;
    cfg.collector = harness_collector;
    cfg.switch_interval_us = 200;   /* gil mode: asked for soon */
    rc_runtime *rt = rc_runtime_new(&cfg);
    assert_non_null(rt);
    rc_gc_disable();
    atomic_store(&between_batches, 0);
    atomic_store(&other_ready, 0);
    atomic_store(&other_stop, 0);
    atomic_store(&full_on, 0);
    rc_type *node = rc_type_new("Node", 2, NULL);
    assert_non_null(node);
    /* 20,000 rings of 10 nodes, held by a list: garbage validated in
     * about 50 batches once the list is gone. */
    rc_object *holder = rc_list_new();
    for (int r = 0; r < 20000; r++) {
        rc_object *first = rc_instance_new(node), *prev = first;
        rc_incref(prev);
        for (int i = 1; i < 10; i++) {
            rc_object *o = rc_instance_new(node);
            assert_int_equal(0, rc_slot_set(prev, 0, o));
            rc_decref(prev);
            prev = o;
        }
        assert_int_equal(0, rc_slot_set(prev, 0, first));
        rc_decref(prev);
        assert_int_equal(0, rc_list_append(holder, first));
        rc_decref(first);
    }
    rc_gc_collect(2);   /* in the old space */
    rc_decref(holder);
    assert_int_equal(0, rc_gc_callback_add(full_flag, NULL));
    rc_thread *th = rc_thread_start(watch_batches, NULL);
    assert_non_null(th);
    while (!atomic_load(&other_ready))
        rc_safepoint();
    assert_int_equal(200000, rc_gc_collect(2));
    atomic_store(&other_stop, 1);
    assert_int_equal(0, rc_thread_join(th));
    assert_int_equal(0, rc_gc_callback_remove(full_flag, NULL));
    assert_int_equal(1, atomic_load(&between_batches));
    assert_int_equal(0, rc_runtime_free(rt));
}

/* The record of a cycle's collection counts its members as scanned, as a
 * full collection counts the heap (not the members and the set). */
static void test_cycle_record_scanned(void **state)
{
    size_t live = quiesce();
    rc_object *holder = list_of_self_nodes(50);
    rc_gc_collect(2);
    rc_decref(holder);
    run_to((size_t)-1);
    assert_int_equal(50, gc_cc_test_finish(me()));
    rc_gc_record r;
    assert_int_equal(1, rc_gc_records(rc_gc_record_count() - 1, &r, 1));
    assert_true(r.scanned >= 50 && r.scanned <= 58);   /* the 50, what quiesce left */
    assert_int_equal(live, rc_live_objects());
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cycle_finds_old_garbage, setup_types,
                                        harness_teardown),
        cmocka_unit_test(test_full_collection_lets_others_run_between_batches),
        HARNESS_TEST(test_growing_heap_stops_stay_small),
        HARNESS_TEST(test_collect0_in_a_callback_keeps_generations),
        HARNESS_TEST(test_resurrected_young_garbage_joins_the_survivors),
        cmocka_unit_test_setup_teardown(test_no_object_overtakes_an_older_one, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_lost_object_at_every_step, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_at_every_step, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_mark_stack_and_candidates_grow, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_lost_object_through_a_local, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_containers_die_at_every_step, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_list_dies_while_traversed, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_weakref_read_keeps_a_candidate, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_younger_weakref_in_garbage_gets_no_callback,
                                        setup_types, harness_teardown),
        cmocka_unit_test_setup_teardown(test_group_across_generations_found_by_next_cycle,
                                        setup_types, harness_teardown),
        cmocka_unit_test_setup_teardown(test_stop_callback_while_another_thread_collects,
                                        setup_types, harness_teardown),
        cmocka_unit_test_setup_teardown(test_freeze_cancels_a_cycle, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_heap_complete_during_a_cycle, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_big_ring_reclaimed, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_build_without_memory_for_the_order,
                                        setup_types, harness_teardown),
        cmocka_unit_test_setup_teardown(test_batches_complete_a_chain, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_batches_saveall_keeps_everything, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_batches_weakref_with_its_target, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_batches_with_mutation_between, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_batches_young_weakref_in_an_early_batch,
                                        setup_types, harness_teardown),
        cmocka_unit_test_setup_teardown(test_batches_queued_release_between_batches,
                                        setup_types, harness_teardown),
        cmocka_unit_test_setup_teardown(test_batches_finalizer_stores_into_a_later_batch,
                                        setup_types, harness_teardown),
        cmocka_unit_test_setup_teardown(test_batches_reused_address_is_no_member,
                                        setup_types, harness_teardown),
        cmocka_unit_test_setup_teardown(test_cycle_record_scanned, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_batches_freeze_between_restarts, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_batches_growth_count_once, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_deaths_before_build_count_once, setup_types,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_batches_young_weakref_on_a_taken_referent,
                                        setup_types, harness_teardown),
        cmocka_unit_test_setup_teardown(test_collector_thread_runs_the_cycle,
                                        setup_thread_types, harness_teardown),
        cmocka_unit_test_setup_teardown(test_runtime_free_leaves_the_collector_thread_out,
                                        setup_thread_types, harness_teardown),
        cmocka_unit_test_setup_teardown(test_collect_waits_for_the_collector_thread,
                                        setup_thread_types, harness_teardown),
    };
    harness_collector = RC_COLLECTOR_CONCURRENT;
    int rc = harness_run("concurrent", tests, sizeof tests / sizeof tests[0], argc, argv);
    return rc;
}
