/* tests/unit/test_refcount.c: reference counting in the three modes: counts,
 * immortality, the stamp each mode gives new objects, the owner's local
 * count cap, and biased counting across threads (queueing to the owner,
 * merging at the owner's safepoint, an owner that exits first).
 */
#define RCGC_BUILDING 1   /* to look at the object header's fields */
#include "harness.h"
#include "internal.h"
#include "objects.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static void test_new_object_has_one_reference(void **state)
{
    size_t live = rc_live_objects();
    rc_object *o = rc_list_new();
    assert_non_null(o);
    assert_int_equal(live + 1, rc_live_objects());
    assert_int_equal(1, rc_refcount(o));
    rc_incref(o);
    assert_int_equal(2, rc_refcount(o));
    rc_incref(o);
    assert_int_equal(3, rc_refcount(o));
    rc_decref(o);
    rc_decref(o);
    assert_int_equal(1, rc_refcount(o));
    assert_int_equal(live + 1, rc_live_objects());
    rc_decref(o);
    assert_int_equal(live, rc_live_objects());
}

static void test_stamp_depends_on_mode(void **state)
{
    rc_object *o = rc_str_new("x");
    assert_non_null(o);
    uintptr_t tid = rc_atomic_load_relaxed(&o->ob_tid);
    uint32_t local = rc_atomic_load_relaxed(&o->ob_ref_local);
    intptr_t shared = rc_atomic_load_relaxed(&o->ob_ref_shared);
    switch (harness_mode) {
    case RC_MODE_GIL:
        assert_int_equal(RC_TID_GIL, tid);
        assert_int_equal(RC_TID_GIL, rc_tls_tid);
        assert_int_equal(1, local);
        assert_int_equal(0, shared);
        break;
    case RC_MODE_FT:
        assert_true(tid >= RC_TID_FIRST);
        assert_int_equal(rc_tls_tid, tid);
        assert_int_equal(1, local);
        assert_int_equal(0, shared);
        break;
    case RC_MODE_FT_ATOMIC:
        assert_int_equal(RC_TID_NONE, tid);
        assert_int_equal(0, local);
        assert_int_equal(RC_REF_ONE_SHARED | RC_REF_MERGED, shared);
        break;
    }
    /* And the ops touch the field each mode says. */
    rc_incref(o);
    if (harness_mode == RC_MODE_FT_ATOMIC) {
        assert_int_equal(0, rc_atomic_load_relaxed(&o->ob_ref_local));
        assert_int_equal(2 * RC_REF_ONE_SHARED | RC_REF_MERGED,
                         rc_atomic_load_relaxed(&o->ob_ref_shared));
    } else {
        assert_int_equal(2, rc_atomic_load_relaxed(&o->ob_ref_local));
        assert_int_equal(0, rc_atomic_load_relaxed(&o->ob_ref_shared));
    }
    rc_decref(o);
    rc_decref(o);
}

static void test_immortals_are_never_written(void **state)
{
    rc_object *objs[] = {rc_none(), rc_true(), rc_false(), rc_int_new(0), rc_int_new(256),
                         rc_int_new(-5)};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) {
        rc_object *o = objs[i];
        assert_non_null(o);
        assert_int_equal(1, rc_is_immortal(o));
        rc_object before = {0};
        memcpy(&before, o, sizeof before);
        for (int k = 0; k < 1000; k++)
            rc_incref(o);
        for (int k = 0; k < 2000; k++)
            rc_decref(o);
        assert_memory_equal(&before, o, sizeof before);
        assert_int_equal((intptr_t)RC_REF_IMMORTAL, rc_refcount(o));
    }
    assert_true(rc_bool(1) == rc_true());
    assert_true(rc_bool(0) == rc_false());
    rc_object *big = rc_int_new(257);
    assert_int_equal(0, rc_is_immortal(big));
    rc_decref(big);
}

static void test_null_and_bad_arguments(void **state)
{
    rc_incref(NULL);   /* tolerated, like Py_XINCREF */
    rc_decref(NULL);
    rc_error_clear();
    assert_int_equal(-1, rc_refcount(NULL));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_is_immortal(NULL));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_make_immortal(NULL));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_type_of(NULL));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_type_name(NULL));
    assert_error(RC_ERR_TYPE);
    rc_object *l = rc_list_new();
    assert_string_equal("list", rc_type_name(rc_type_of(l)));
    rc_decref(l);
}

static void test_make_immortal(void **state)
{
    size_t live = rc_live_objects();
    rc_object *l = rc_list_new();
    rc_object *s = rc_str_new("kept forever");
    assert_int_equal(0, rc_list_append(l, s));
    assert_int_equal(0, rc_make_immortal(l));   /* consumes our reference */
    assert_int_equal(1, rc_is_immortal(l));
    assert_int_equal((intptr_t)RC_REF_IMMORTAL, rc_refcount(l));
    rc_decref(l);
    rc_decref(l);
    assert_int_equal(1, rc_is_immortal(l));
    /* The immortal list holds s; live count: s only. */
    assert_int_equal(live + 1, rc_live_objects());
    assert_int_equal(2, rc_refcount(s));
    rc_decref(s);
    assert_int_equal(1, rc_refcount(s));
    /* Both are released at rc_runtime_free (teardown checks no leak). */
}

static void test_local_count_cap_spills_to_shared(void **state)
{
    if (harness_mode == RC_MODE_FT_ATOMIC)
        skip();   /* ft-atomic has no local count: every op is shared */
    rc_object *o = rc_str_new("cap");
    /* Pretend the owner already holds RC_REF_LOCAL_MAX - 1 references. */
    rc_atomic_store_relaxed(&o->ob_ref_local, RC_REF_LOCAL_MAX - 1);
    rc_incref(o);   /* reaches the cap */
    assert_int_equal(RC_REF_LOCAL_MAX, rc_atomic_load_relaxed(&o->ob_ref_local));
    rc_incref(o);   /* spills */
    rc_incref(o);
    assert_int_equal(RC_REF_LOCAL_MAX, rc_atomic_load_relaxed(&o->ob_ref_local));
    assert_int_equal(2 * RC_REF_ONE_SHARED, rc_atomic_load_relaxed(&o->ob_ref_shared));
    assert_int_equal((intptr_t)RC_REF_LOCAL_MAX + 2, rc_refcount(o));
    assert_int_equal(0, rc_is_immortal(o));
    /* Back to one reference without walking 4 billion decrefs. */
    rc_atomic_store_relaxed(&o->ob_ref_local, 1);
    rc_atomic_store_relaxed(&o->ob_ref_shared, 0);
    rc_decref(o);
}

/* ---- biased counting across threads ---- */

struct xthread {
    rc_object *obj;
    int ops;
    intptr_t seen;
};

static void incref_decref_many(void *p)
{
    struct xthread *x = p;
    for (int i = 0; i < x->ops; i++)
        rc_incref(x->obj);
    x->seen = rc_refcount(x->obj);
    for (int i = 0; i < x->ops; i++)
        rc_decref(x->obj);
}

static void test_other_thread_counts_in_shared(void **state)
{
    rc_object *o = rc_str_new("shared");
    struct xthread x = {.obj = o, .ops = 1000};
    rc_thread *t = rc_thread_start(incref_decref_many, &x);
    assert_non_null(t);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(1001, x.seen);
    assert_int_equal(1, rc_refcount(o));
    if (harness_mode == RC_MODE_FT) {
        /* The other thread's ops went to the shared count and cancelled
         * out; the owner's local count is untouched. */
        assert_int_equal(1, rc_atomic_load_relaxed(&o->ob_ref_local));
        assert_int_equal(0, rc_atomic_load_relaxed(&o->ob_ref_shared));
    }
    rc_decref(o);
}

static void drop_one(void *p)
{
    rc_decref(p);
}

static void test_non_owner_drop_queues_to_owner(void **state)
{
    size_t live = rc_live_objects();
    rc_object *o = rc_str_new("queued");
    rc_incref(o);   /* this reference is given to the other thread */
    assert_int_equal(2, rc_refcount(o));
    rc_thread *t = rc_thread_start(drop_one, o);
    assert_int_equal(0, rc_thread_join(t));   /* join ends in a safepoint */
    assert_int_equal(1, rc_refcount(o));
    if (harness_mode == RC_MODE_FT) {
        /* The drop took the shared count below zero: the object went to
         * our queue and our safepoint merged it. */
        assert_int_equal(RC_TID_NONE, rc_atomic_load_relaxed(&o->ob_tid));
        assert_int_equal(RC_REF_ONE_SHARED | RC_REF_MERGED,
                         rc_atomic_load_relaxed(&o->ob_ref_shared));
        assert_int_equal(1, rc_tls_state->brc.merged);
    }
    rc_decref(o);
    assert_int_equal(live, rc_live_objects());
}

static void test_non_owner_drops_last_reference(void **state)
{
    /* The owner gives away its only reference; the object dies when the
     * other thread drops it: at our merge (ft) or at once (others). */
    size_t live = rc_live_objects();
    rc_object *o = rc_list_new();
    rc_thread *t = rc_thread_start(drop_one, o);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(live, rc_live_objects());
}

struct made {
    rc_object *obj[64];
};

static void make_and_hand_over(void *p)
{
    struct made *m = p;
    for (int i = 0; i < 64; i++) {
        rc_object *l = rc_list_new();
        rc_object *v = rc_int_new(1000 + i);
        rc_list_append(l, v);
        rc_decref(v);
        m->obj[i] = l;   /* our reference goes to the joiner */
    }
}

static void test_owner_exits_before_its_objects(void **state)
{
    size_t live = rc_live_objects();
    struct made m;
    rc_thread *t = rc_thread_start(make_and_hand_over, &m);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(live + 128, rc_live_objects());
    for (int i = 0; i < 64; i++) {
        assert_int_equal(1, rc_refcount(m.obj[i]));
        rc_object *v = rc_list_get(m.obj[i], 0);
        assert_int_equal(1000 + i, rc_int_value(v));
        rc_decref(v);
        /* The owner is gone: this drop merges in place and frees. */
        rc_decref(m.obj[i]);
    }
    assert_int_equal(live, rc_live_objects());
}

/* ---- interleavings found in review, forced ---- */

#define EXIT_N 200000
static rc_object *exit_x, *exit_y;
static _Atomic int exit_stage;

static void exit_worker(void *arg)
{
    exit_x = rc_int_new(100000);
    exit_y = rc_list_new();
    for (int i = 0; i < EXIT_N; i++)
        rc_list_append(exit_y, exit_x);   /* x: local count EXIT_N + 1 */
    /* x's own reference and y's go to the main thread. */
    atomic_store(&exit_stage, 1);
    while (atomic_load(&exit_stage) != 2)
        sched_yield();
    /* Returning exits the thread: its exit merge frees y (queued to us by
     * the main thread), whose deallocation drops x EXIT_N times on the
     * owner path, while the main thread drops x concurrently. */
}

static void test_owner_exit_merge_races_a_drop(void **state)
{
    /* Once an exiting owner is no longer findable, other threads merge its
     * objects themselves; it must not touch a count after that point, or
     * its and their writes to the local count collide (lost decrements:
     * a leak or an early free). */
    if (harness_mode == RC_MODE_GIL)
        skip();   /* the race needs two threads running at once */
    size_t live = rc_live_objects();
    for (int round = 0; round < 10; round++) {
        atomic_store(&exit_stage, 0);
        rc_thread *t = rc_thread_start(exit_worker, NULL);
        while (atomic_load(&exit_stage) != 1) {
            rc_safepoint();   /* the worker's allocations may collect (stress) */
            sched_yield();
        }
        rc_decref(exit_y);   /* ft: queued to the worker */
        atomic_store(&exit_stage, 2);
        while (rc_refcount(exit_x) > EXIT_N / 2)
            ;   /* the worker's exit merge is dropping x: race it */
        rc_decref(exit_x);
        assert_int_equal(0, rc_thread_join(t));
        assert_int_equal(live, rc_live_objects());
    }
}

static void drop_the_global(void *arg)
{
    rc_decref(*(rc_object **)arg);
}

static void test_immortal_while_queued_stays_immortal(void **state)
{
    /* A non-owner's drop queues o to us; we make o immortal before our
     * merge runs.  The merge must leave the immortal counts alone. */
    if (harness_mode == RC_MODE_GIL)
        skip();   /* no merge queues in gil mode */
    rc_object *o = rc_int_new(123456);
    rc_incref(o);
    rc_incref(o);   /* ours 2, the other thread's 1 */
    rc_thread *t = rc_thread_start(drop_the_global, &o);
    while (rc_refcount(o) != 2)
        ;   /* dropped: ft: queued to us, no safepoint of ours yet */
    assert_int_equal(0, rc_make_immortal(o));   /* consumes one of ours */
    assert_int_equal(0, rc_thread_join(t));      /* ends in a safepoint: merge */
    assert_int_equal(1, rc_is_immortal(o));
    assert_int_equal((intptr_t)RC_REF_IMMORTAL, rc_refcount(o));
    assert_int_equal(0, rc_make_immortal(o));   /* absorbed; not registered twice */
    /* Teardown frees it exactly once (ASan checks). */
}

/* rc_make_immortal on objects another thread is counting at that very
 * moment.  Each round, one side makes IMM_N objects and gives the other a
 * reference to each; the counting side increfs and decrefs them in a tight
 * loop (passing safepoints) until the immortalizing side has made all of
 * them immortal, then checks they still are and drops its references.
 * owner_counts: the counting thread owns the objects (ft: its plain local
 * stores race the immortal store, unless the world is stopped); else the
 * immortalizing thread owns them and the counting thread's updates are
 * atomic ones of the shared count. */
#define IMM_N 4
struct imm_race {
    bool owner_counts;
    int rounds;
    rc_object *objs[IMM_N];         /* written before published, read after */
    _Atomic int published;          /* round whose objs are ready (seq_cst) */
    _Atomic int immortalized;       /* round whose objs are immortal (seq_cst) */
    _Atomic int done;               /* round the counting thread finished (seq_cst) */
    _Atomic long not_immortal;      /* counting thread's findings */
    long pairs;                     /* counting thread only */
};

static void imm_make(struct imm_race *r, int round)
{
    for (int i = 0; i < IMM_N; i++) {
        r->objs[i] = rc_int_new(10000000 + round * IMM_N + i);
        rc_incref(r->objs[i]);   /* the other side's reference */
    }
    atomic_store(&r->published, round);
}

/* Wait for *flag == round, passing safepoints (gil mode: lets the GIL go). */
static void imm_wait(_Atomic int *flag, int round)
{
    while (atomic_load(flag) != round)
        rc_safepoint();
}

static void imm_count(struct imm_race *r, int round)
{
    if (r->owner_counts)
        imm_make(r, round);
    else
        imm_wait(&r->published, round);
    while (atomic_load(&r->immortalized) != round) {
        for (int i = 0; i < IMM_N; i++) {
            rc_incref(r->objs[i]);
            rc_decref(r->objs[i]);
        }
        if ((++r->pairs & 31) == 0)
            rc_safepoint();   /* a stop requested by the other side waits here */
    }
    for (int i = 0; i < IMM_N; i++) {
        if (!rc_is_immortal(r->objs[i]))
            atomic_fetch_add(&r->not_immortal, 1);
        rc_decref(r->objs[i]);   /* no-op if immortal */
    }
}

static void imm_counter_thread(void *arg)
{
    struct imm_race *r = arg;
    for (int round = 1; round <= r->rounds; round++) {
        imm_count(r, round);
        atomic_store(&r->done, round);
    }
}

static void imm_race(bool owner_counts)
{
    struct imm_race r = {.owner_counts = owner_counts,
                         .rounds = harness_mode == RC_MODE_GIL ? 20 : 400};
    rc_thread *t = rc_thread_start(imm_counter_thread, &r);
    assert_non_null(t);
    for (int round = 1; round <= r.rounds; round++) {
        if (owner_counts)
            imm_wait(&r.published, round);
        else
            imm_make(&r, round);
        for (int i = 0; i < IMM_N; i++)
            assert_int_equal(0, rc_make_immortal(r.objs[i]));   /* consumes ours */
        atomic_store(&r.immortalized, round);
        imm_wait(&r.done, round);   /* before objs is reused */
    }
    assert_int_equal(0, rc_thread_join(t));
    printf("%d rounds of %d objects; %ld incref/decref pairs meanwhile\n", r.rounds, IMM_N,
           r.pairs);
    assert_int_equal(0, atomic_load(&r.not_immortal));
    /* rc_runtime_free frees each exactly once (ASan checks). */
}

static void test_make_immortal_while_the_owner_counts(void **state)
{
    (void)state;
    imm_race(true);
}

static void test_make_immortal_while_another_thread_counts(void **state)
{
    (void)state;
    imm_race(false);
}

static void test_error_state(void **state)
{
    rc_error_clear();
    assert_int_equal(RC_ERR_NONE, rc_error_occurred());
    assert_string_equal("", rc_error_message());
    assert_null(rc_list_get(rc_none(), 0));
    assert_int_equal(RC_ERR_TYPE, rc_error_occurred());
    assert_string_equal("TypeError", rc_error_kind_name(rc_error_occurred()));
    assert_non_null(strstr(rc_error_message(), "NoneType"));
    rc_error_clear();
    assert_string_equal("MemoryError", rc_error_kind_name(RC_ERR_MEMORY));
    assert_string_equal("KeyError", rc_error_kind_name(RC_ERR_KEY));
}

static void test_allocation_failure_is_memory_error(void **state)
{
    size_t live = rc_live_objects();
    rc_testing_fail_alloc_after(1);
    assert_null(rc_list_new());
    assert_error(RC_ERR_MEMORY);
    rc_object *y = rc_str_new("y");   /* injection is one-shot */
    assert_non_null(y);
    rc_decref(y);
    rc_testing_fail_alloc_after(2);
    rc_object *a = rc_str_new("first");
    assert_non_null(a);
    assert_null(rc_int_new(100000));
    assert_error(RC_ERR_MEMORY);
    rc_decref(a);
    assert_int_equal(live, rc_live_objects());
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_new_object_has_one_reference),
        HARNESS_TEST(test_stamp_depends_on_mode),
        HARNESS_TEST(test_immortals_are_never_written),
        HARNESS_TEST(test_null_and_bad_arguments),
        HARNESS_TEST(test_make_immortal),
        HARNESS_TEST(test_make_immortal_while_the_owner_counts),
        HARNESS_TEST(test_make_immortal_while_another_thread_counts),
        HARNESS_TEST(test_local_count_cap_spills_to_shared),
        HARNESS_TEST(test_other_thread_counts_in_shared),
        HARNESS_TEST(test_non_owner_drop_queues_to_owner),
        HARNESS_TEST(test_non_owner_drops_last_reference),
        HARNESS_TEST(test_owner_exits_before_its_objects),
        HARNESS_TEST(test_owner_exit_merge_races_a_drop),
        HARNESS_TEST(test_immortal_while_queued_stays_immortal),
        HARNESS_TEST(test_error_state),
        HARNESS_TEST(test_allocation_failure_is_memory_error),
    };
    return HARNESS_RUN("refcount", tests, argc, argv);
}
