/* tests/unit/test_stw.c: stop-the-world.  While threads mutate, every stop
 * must find each attached thread parked: a counter a thread bumps only
 * between safepoints stays frozen for the whole stop.  Also: requesters
 * racing each other, threads attaching and detaching during stops, stop
 * records, merge queues drained by a stop, and misuse.
 */
#define RCGC_BUILDING 1
#include "harness.h"
#include "internal.h"

#include <sched.h>
#include <stdio.h>

#define MAX_THREADS 4

struct mutators {
    _Atomic long counts[MAX_THREADS];
    _Atomic int stop;
    _Atomic int started;
    int n;
    int detach_too;   /* also detach/attach around each step */
};

struct mutator_arg {
    struct mutators *m;
    int index;
};

static void mutator(void *p)
{
    struct mutator_arg *a = p;
    struct mutators *m = a->m;
    atomic_fetch_add(&m->started, 1);
    long k = 0;
    while (!atomic_load(&m->stop)) {
        /* Touch objects between safepoints, and count each step: a stop
         * must never observe this counter move. */
        rc_object *l = rc_list_new();   /* allocation: a safepoint */
        rc_object *v = rc_int_new(k++);
        rc_list_append(l, v);
        rc_decref(v);
        rc_decref(l);
        atomic_fetch_add(&m->counts[a->index], 1);
        rc_safepoint();
        if (m->detach_too) {
            rc_detach();
            sched_yield();
            rc_attach();
        }
    }
}

static void run_stops(struct mutators *m, int stops, int *frozen_ok)
{
    for (int s = 0; s < stops; s++) {
        long before[MAX_THREADS], after[MAX_THREADS];
        assert_int_equal(0, rc_stop_the_world());
        for (int i = 0; i < m->n; i++)
            before[i] = atomic_load(&m->counts[i]);
        for (int spin = 0; spin < 200; spin++)
            sched_yield();   /* give a running thread every chance to move */
        for (int i = 0; i < m->n; i++)
            after[i] = atomic_load(&m->counts[i]);
        assert_int_equal(0, rc_start_the_world());
        for (int i = 0; i < m->n; i++)
            if (before[i] != after[i])
                *frozen_ok = 0;
        /* Let them run (gil mode: only at our safepoints). */
        for (int spin = 0; spin < 20; spin++) {
            rc_safepoint();
            sched_yield();
        }
    }
}

static void start_mutators(struct mutators *m, rc_thread **t, struct mutator_arg *args)
{
    for (int i = 0; i < m->n; i++) {
        args[i] = (struct mutator_arg){m, i};
        t[i] = rc_thread_start(mutator, &args[i]);
        assert_non_null(t[i]);
    }
    /* Wait (attached, at safepoints) until all have started. */
    while (atomic_load(&m->started) < m->n) {
        rc_safepoint();
        rc_detach();
        sched_yield();
        rc_attach();
    }
}

static void stop_mutators(struct mutators *m, rc_thread **t)
{
    atomic_store(&m->stop, 1);
    for (int i = 0; i < m->n; i++)
        assert_int_equal(0, rc_thread_join(t[i]));
}

static void test_stops_freeze_mutators(void **state)
{
    static struct mutators m;
    memset(&m, 0, sizeof m);
    m.n = 3;
    rc_thread *t[MAX_THREADS];
    struct mutator_arg args[MAX_THREADS];
    size_t before = rc_stw_count();
    start_mutators(&m, t, args);
    int frozen_ok = 1;
    run_stops(&m, 50, &frozen_ok);
    long progressed = 0;
    for (int i = 0; i < m.n; i++)
        progressed += atomic_load(&m.counts[i]) > 0;
    stop_mutators(&m, t);
    assert_true(frozen_ok);
    assert_int_equal(m.n, progressed);   /* the test was not vacuous */
    assert_int_equal(before + 50, rc_stw_count());
    rc_stw_record rec[50];
    assert_int_equal(50, rc_stw_records(before, rec, 50));
    for (int i = 0; i < 50; i++) {
        assert_true(rec[i].request_ns > 0);
        if (harness_mode == RC_MODE_GIL) {
            assert_int_equal(0, rec[i].threads);   /* holding the GIL is enough */
            assert_int_equal(0, rec[i].time_to_safepoint_ns);
        } else {
            /* Threads still parked from the previous stop need no waking
             * and are not counted. */
            assert_true(rec[i].threads <= (uint32_t)m.n);
        }
        assert_true(i == 0 || rec[i].request_ns >= rec[i - 1].request_ns);
    }
}

static void test_stops_with_attach_detach(void **state)
{
    static struct mutators m;
    memset(&m, 0, sizeof m);
    m.n = 3;
    m.detach_too = 1;
    rc_thread *t[MAX_THREADS];
    struct mutator_arg args[MAX_THREADS];
    start_mutators(&m, t, args);
    int frozen_ok = 1;
    run_stops(&m, 50, &frozen_ok);
    stop_mutators(&m, t);
    assert_true(frozen_ok);
}

/* ---- concurrent requesters ---- */

struct requesters {
    _Atomic int inside;       /* threads between stop and start: must be <= 1 */
    _Atomic int overlaps;
    _Atomic long stops;
    int rounds;
};

static void requester(void *p)
{
    struct requesters *r = p;
    for (int i = 0; i < r->rounds; i++) {
        if (rc_stop_the_world() != 0)
            continue;
        if (atomic_fetch_add(&r->inside, 1) != 0)
            atomic_fetch_add(&r->overlaps, 1);
        sched_yield();
        atomic_fetch_sub(&r->inside, 1);
        atomic_fetch_add(&r->stops, 1);
        rc_start_the_world();
        rc_safepoint();
    }
}

static void test_concurrent_requesters(void **state)
{
    static struct mutators m;
    memset(&m, 0, sizeof m);
    m.n = 2;
    rc_thread *t[MAX_THREADS];
    struct mutator_arg args[MAX_THREADS];
    start_mutators(&m, t, args);
    struct requesters r = {.rounds = 100};
    rc_thread *q[3];
    for (int i = 0; i < 3; i++)
        q[i] = rc_thread_start(requester, &r);
    for (int i = 0; i < 3; i++)
        assert_int_equal(0, rc_thread_join(q[i]));
    stop_mutators(&m, t);
    assert_int_equal(300, atomic_load(&r.stops));
    assert_int_equal(0, atomic_load(&r.overlaps));
}

/* ---- merge queues are drained by a stop ---- */

struct owner_ctx {
    rc_object *obj;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int phase;   /* 0: building, 1: object ready, 2: may exit */
};

static void owner_thread(void *p)
{
    struct owner_ctx *c = p;
    rc_object *o = rc_str_new("owned elsewhere");
    rc_incref(o);            /* one reference for the main thread */
    c->obj = o;
    rc_detach();             /* blocked: never reaches a safepoint itself */
    pthread_mutex_lock(&c->mu);
    c->phase = 1;
    pthread_cond_broadcast(&c->cv);
    while (c->phase != 2)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    rc_attach();
    rc_decref(o);            /* our own reference */
}

static void test_stop_merges_queues(void **state)
{
    struct owner_ctx c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    size_t live = rc_live_objects();
    rc_thread *t = rc_thread_start(owner_thread, &c);
    rc_detach();
    pthread_mutex_lock(&c.mu);
    while (c.phase != 1)
        pthread_cond_wait(&c.cv, &c.mu);
    pthread_mutex_unlock(&c.mu);
    rc_attach();
    rc_object *o = c.obj;
    assert_int_equal(2, rc_refcount(o));
    rc_decref(o);   /* ft: queued to the blocked owner */
    if (harness_mode == RC_MODE_FT)
        assert_int_equal(RC_REF_QUEUED, rc_atomic_load_relaxed(&o->ob_ref_shared) & RC_REF_STATE_MASK);
    assert_int_equal(1, rc_refcount(o));
    assert_int_equal(0, rc_stop_the_world());
    if (harness_mode == RC_MODE_FT) {
        /* Merged on the owner's behalf: exact and final. */
        assert_int_equal(RC_REF_ONE_SHARED | RC_REF_MERGED,
                         rc_atomic_load_relaxed(&o->ob_ref_shared));
        assert_int_equal(RC_TID_NONE, rc_atomic_load_relaxed(&o->ob_tid));
    }
    assert_int_equal(1, rc_refcount(o));
    assert_int_equal(0, rc_start_the_world());
    pthread_mutex_lock(&c.mu);
    c.phase = 2;
    pthread_cond_broadcast(&c.cv);
    pthread_mutex_unlock(&c.mu);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(live, rc_live_objects());
}

static void test_stw_misuse(void **state)
{
    assert_int_equal(-1, rc_start_the_world());   /* not stopped */
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(0, rc_stop_the_world());
    assert_int_equal(-1, rc_stop_the_world());    /* already stopped by us */
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(-1, rc_detach());            /* would deadlock */
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(-1, rc_runtime_free(rc_runtime_current()));
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(0, rc_start_the_world());
    assert_int_equal(0, rc_detach());
    assert_int_equal(-1, rc_stop_the_world());    /* detached */
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(0, rc_attach());
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_stops_freeze_mutators),
        HARNESS_TEST(test_stops_with_attach_detach),
        HARNESS_TEST(test_concurrent_requesters),
        HARNESS_TEST(test_stop_merges_queues),
        HARNESS_TEST(test_stw_misuse),
    };
    return HARNESS_RUN("stw", tests, argc, argv);
}
