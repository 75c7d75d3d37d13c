/* tests/unit/test_stw.c: stop-the-world.  While threads mutate, every stop
 * must find each attached thread parked: a counter a thread bumps only
 * between safepoints stays frozen for the whole stop.  Also: requesters
 * racing each other, threads attaching and detaching during stops, stop
 * records, merge queues drained by a stop, and misuse.
 */
#define RCGC_BUILDING 1
#include "harness.h"
#include "internal.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    if (rc_gc_get_stress() == 0)
        assert_int_equal(before + 50, rc_stw_count());
    else   /* the mutators' allocations collect, and collections stop too */
        assert_true(rc_stw_count() >= before + 50);
    rc_stw_record rec[50];
    assert_int_equal(50, rc_stw_records(before, rec, 50));
    for (int i = 0; i < 50; i++) {
        assert_true(rec[i].request_ns > 0);
        if (harness_mode == RC_MODE_GIL) {
            assert_int_equal(0, rec[i].threads);   /* holding the GIL is enough */
            assert_int_equal(0, rec[i].time_to_safepoint_ns);
        } else {
            /* Only ATTACHED threads are counted: a mutator may be detached
             * (waiting for a lock) or itself waiting to stop the world. */
            assert_true(rec[i].threads <= (uint32_t)m.n);
        }
        /* Stops never overlap: each begins (every thread parked) after the
         * one before ended.  Request times need not ascend: a requester
         * that waited for another's stop asked before it. */
        assert_true(i == 0 || rec[i].request_ns + rec[i].time_to_safepoint_ns >=
                                  rec[i - 1].request_ns + rec[i - 1].time_to_safepoint_ns +
                                      rec[i - 1].pause_ns);
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

/* ---- fairness: back-to-back stops ---- */

/* One safepoint per step: a thread let go by a restart counts exactly one
 * step before it can park again. */
static void stepper(void *p)
{
    struct mutator_arg *a = p;
    struct mutators *m = a->m;
    atomic_fetch_add(&m->started, 1);
    while (!atomic_load(&m->stop)) {
        atomic_fetch_add(&m->counts[a->index], 1);
        rc_safepoint();
    }
}

/* A thread that stops the world in a loop, with nothing between a restart
 * and its next stop, must not keep the others parked: every restart lets
 * each of them run to its next safepoint, so over STOPS stops each counts
 * at least STOPS - 1 steps.  (Without the restart's to_wake, stw.h, the
 * requester re-takes stw.mu before the woken threads do, and they starve.) */
static void test_back_to_back_stops_let_others_run(void **state)
{
    if (harness_mode == RC_MODE_GIL) {
        print_message("skipped: in gil mode a stop is the GIL held; handing it over "
                      "is the GIL's switch interval (test_gil)\n");
        skip();
    }
    enum { STOPS = 300 };
    static struct mutators m;
    memset(&m, 0, sizeof m);
    m.n = 2;
    rc_thread *t[MAX_THREADS];
    struct mutator_arg args[MAX_THREADS];
    for (int i = 0; i < m.n; i++) {
        args[i] = (struct mutator_arg){&m, i};
        t[i] = rc_thread_start(stepper, &args[i]);
        assert_non_null(t[i]);
    }
    while (atomic_load(&m.started) < m.n)
        rc_safepoint();   /* they need no stop of ours to start */
    long first[MAX_THREADS], last[MAX_THREADS];
    for (int s = 0; s < STOPS; s++) {
        assert_int_equal(0, rc_stop_the_world());
        for (int i = 0; i < m.n; i++) {
            long c = atomic_load(&m.counts[i]);
            if (s == 0)
                first[i] = c;
            last[i] = c;
        }
        assert_int_equal(0, rc_start_the_world());
    }
    stop_mutators(&m, t);
    for (int i = 0; i < m.n; i++) {
        if (last[i] - first[i] < STOPS - 1)
            fail_msg("thread %d counted %ld steps over %d back-to-back stops, expected >= %d",
                     i, last[i] - first[i], STOPS, STOPS - 1);
    }
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

/* ---- interleavings found in review, forced ---- */

static _Atomic int other_ran_during_stop, world_is_stopped;

static void other_thread(void *arg)
{
    /* Getting here needs the GIL in gil mode. */
    if (atomic_load(&world_is_stopped))
        atomic_store(&other_ran_during_stop, 1);
}

static void test_gil_stop_survives_drop_request(void **state)
{
    /* gil mode: a thread waiting for the GIL asks the stopper to drop it;
     * the stopper must not hand it over at its safepoints until it
     * restarts the world. */
    if (harness_mode != RC_MODE_GIL)
        skip();   /* about the GIL's forced switching */
    atomic_store(&other_ran_during_stop, 0);
    assert_int_equal(0, rc_stop_the_world());
    atomic_store(&world_is_stopped, 1);
    rc_thread *t = rc_thread_start(other_thread, NULL);   /* waits for the GIL */
    /* Run safepoints until the other thread's drop request has arrived,
     * then a few more: each would hand the GIL over if it were honoured. */
    while (!(rc_atomic_load_relaxed(&rc_tls_eval_breaker) & RC_EB_GIL_DROP))
        rc_safepoint();
    for (int i = 0; i < 100; i++) {
        rc_object *o = rc_int_new(100000 + i);   /* allocation: a safepoint */
        rc_decref(o);
        rc_safepoint();
    }
    atomic_store(&world_is_stopped, 0);
    assert_int_equal(0, rc_start_the_world());
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(0, atomic_load(&other_ran_during_stop));
}

static pthread_mutex_t user_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int holder_has_lock, dropper_done, release_holder, finalizer_ran_stopped,
    finalizer_ran;
static rc_object *fin_target;

static void locking_finalizer(rc_object *self)
{
    if (atomic_load(&world_is_stopped))
        atomic_store(&finalizer_ran_stopped, 1);
    pthread_mutex_lock(&user_lock);   /* a parked thread holds it while stopped */
    pthread_mutex_unlock(&user_lock);
    atomic_store(&finalizer_ran, 1);
}

static void lock_holder(void *arg)
{
    pthread_mutex_lock(&user_lock);
    atomic_store(&holder_has_lock, 1);
    while (!atomic_load(&release_holder))
        rc_safepoint();   /* parks, lock held, while the world is stopped */
    pthread_mutex_unlock(&user_lock);
}

static void target_dropper(void *arg)
{
    rc_decref(fin_target);   /* ft: queued to the main thread */
    atomic_store(&dropper_done, 1);
}

static void test_no_finalizer_runs_while_stopped(void **state)
{
    /* A stop merges every queue; an object that dies in that merge must be
     * freed after the restart, not while other threads are parked (one of
     * them holds the lock its finalizer takes: that would deadlock). */
    if (harness_mode != RC_MODE_FT)
        skip();   /* only biased counting defers a death to a merge queue */
    atomic_store(&holder_has_lock, 0);
    atomic_store(&dropper_done, 0);
    atomic_store(&release_holder, 0);
    atomic_store(&finalizer_ran_stopped, 0);
    atomic_store(&finalizer_ran, 0);
    rc_type *T = rc_type_new("Locking", 0, locking_finalizer);
    fin_target = rc_instance_new(T);
    rc_incref(fin_target);   /* one for the dropper */
    rc_thread *h = rc_thread_start(lock_holder, NULL);
    rc_thread *d = rc_thread_start(target_dropper, NULL);
    while (!atomic_load(&holder_has_lock) || !atomic_load(&dropper_done))
        ;   /* no safepoint: the merge must happen in the stop */
    rc_decref(fin_target);   /* ft: the last reference is the queue's now */
    assert_int_equal(0, rc_stop_the_world());
    atomic_store(&world_is_stopped, 1);
    atomic_store(&release_holder, 1);
    atomic_store(&world_is_stopped, 0);
    assert_int_equal(0, rc_start_the_world());
    assert_int_equal(0, rc_thread_join(h));
    assert_int_equal(0, rc_thread_join(d));
    assert_int_equal(1, atomic_load(&finalizer_ran));
    assert_int_equal(0, atomic_load(&finalizer_ran_stopped));
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

/* The safepoint timeout: a stop held up by a thread in a long loop with
 * no safepoint says so on stderr, naming the thread's function, and goes
 * on waiting.  The looping thread is let go by a plain (unregistered)
 * thread once the report is out; stderr goes to a pipe meanwhile. */
static _Atomic int spin_started, spin_release;

/* The paced variant: the looping thread first allocates while the main
 * thread's collection runs a finalizer that waits for those allocations,
 * so that it waits once for that collection (allocation pacing, docs/gc.md
 * [gc.pacing]); its re-attach must leave its entry point as it was. */
static _Atomic int paced_fin_in, paced_allocs_done, paced_collected;

static void wait_for_paced_allocs(rc_object *self)
{
    (void)self;
    atomic_store(&paced_fin_in, 1);
    while (!atomic_load(&paced_allocs_done))
        rc_safepoint();
}

/* Not static: dladdr names exported symbols only. */
void long_loop_without_safepoint(void *arg);
void long_loop_without_safepoint(void *arg)
{
    if (arg != NULL) {
        while (!atomic_load(&paced_fin_in))
            rc_safepoint();
        rc_object *keep = rc_list_new();
        for (int i = 0; i < 300; i++) {   /* 3 thresholds of 100 */
            rc_object *x = rc_list_new();
            rc_list_append(keep, x);
            rc_decref(x);
        }
        rc_decref(keep);
        atomic_store(&paced_allocs_done, 1);
        while (!atomic_load(&paced_collected))   /* the collection has more stops */
            rc_safepoint();
    }
    atomic_store(&spin_started, 1);
    while (!atomic_load(&spin_release))
        ;   /* attached, no safepoint */
}

/* Reads the redirected stderr (a pipe) until the report's last line has
 * come, then lets the looping thread go.  poll() bounds the wait: with no
 * report in 60 s it gives up and lets the thread go anyway. */
struct releaser {
    int fd;                /* the pipe's read end */
    char buf[1 << 16];     /* what was read; the test reads it after join */
    size_t len;
    bool saw_report;
};

static void *release_when_reported(void *p)
{
    struct releaser *r = p;
    while (!r->saw_report && r->len < sizeof r->buf - 1) {
        struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
        if (poll(&pfd, 1, 60000) <= 0)
            break;
        ssize_t n = read(r->fd, r->buf + r->len, sizeof r->buf - 1 - r->len);
        if (n <= 0)
            break;
        r->len += (size_t)n;
        r->buf[r->len] = '\0';
        r->saw_report = strstr(r->buf, "rc_safepoint()") != NULL;   /* its last line */
    }
    atomic_store(&spin_release, 1);   /* report or not: never leave it hanging */
    return NULL;
}

static void holdout_report(bool paced)
{
    if (harness_mode == RC_MODE_GIL)
        skip();   /* holding the GIL is the stop: it waits for no thread */
    rc_config cfg = rc_config_default();
    cfg.mode = harness_mode;
    cfg.safepoint_timeout_ms = 20;
    rc_runtime *rt = rc_runtime_new(&cfg);
    assert_non_null(rt);
    atomic_store(&spin_started, 0);
    atomic_store(&spin_release, 0);
    atomic_store(&paced_fin_in, 0);
    atomic_store(&paced_allocs_done, 0);
    atomic_store(&paced_collected, 0);
    if (paced) {
        assert_int_equal(0, rc_gc_set_stress(0));   /* pacing is off under stress */
        assert_int_equal(0, rc_gc_set_threshold(100, 10, 10));
        rc_type *F = rc_type_new("WaitsForAllocs", 1, wait_for_paced_allocs);
        rc_object *a = rc_instance_new(F);
        rc_slot_set(a, 0, a);
        rc_decref(a);
    }
    rc_thread *t = rc_thread_start(long_loop_without_safepoint, paced ? (void *)1 : NULL);
    assert_non_null(t);
    if (paced) {
        assert_int_equal(1, rc_gc_collect(0));   /* its finalizer waits for t */
        assert_int_equal(1, rc_testing_gc_pace_waits());
        atomic_store(&paced_collected, 1);
    }
    while (!atomic_load(&spin_started))
        rc_safepoint();

    int pipefd[2];
    assert_int_equal(0, pipe(pipefd));
    static struct releaser r;
    memset(&r, 0, sizeof r);
    r.fd = pipefd[0];
    /* No assertion while stderr is redirected (a failure would jump out
     * with it redirected and the looping thread never let go). */
    fflush(stderr);
    int saved = dup(2);
    bool redirected = saved >= 0 && dup2(pipefd[1], 2) == 2;
    pthread_t rel;
    int created = redirected ? pthread_create(&rel, NULL, release_when_reported, &r) : -1;
    int stopped = created == 0 ? rc_stop_the_world() : -1;
    fflush(stderr);
    if (saved >= 0) {
        dup2(saved, 2);
        close(saved);
    }
    close(pipefd[1]);   /* no write end left: the rest reads to EOF */
    if (created == 0)
        pthread_join(rel, NULL);
    else
        atomic_store(&spin_release, 1);
    assert_true(redirected);
    assert_int_equal(0, created);
    assert_int_equal(0, stopped);
    assert_int_equal(0, rc_start_the_world());
    assert_int_equal(0, rc_thread_join(t));
    for (ssize_t n; r.len < sizeof r.buf - 1 &&
                    (n = read(pipefd[0], r.buf + r.len, sizeof r.buf - 1 - r.len)) > 0;)
        r.len += (size_t)n;
    close(pipefd[0]);
    r.buf[r.len] = '\0';
    printf("%s", r.buf);
    assert_true(r.saw_report);
    assert_non_null(strstr(r.buf, "has waited"));
    assert_non_null(strstr(r.buf, "for 1 thread(s) to reach a safepoint"));
    /* Named by its function (the test is linked with -rdynamic). */
    assert_non_null(strstr(r.buf, "long_loop_without_safepoint"));
    /* Once per stop. */
    assert_null(strstr(strstr(r.buf, "has waited") + 1, "has waited"));
    assert_int_equal(0, rc_runtime_free(rt));
}

static void test_safepoint_timeout_reports_the_holdout(void **state)
{
    holdout_report(false);
}

static void test_safepoint_timeout_report_after_pacing(void **state)
{
    holdout_report(true);
}

/* A thread that asks to stop the world while another thread's stop is on
 * waits it out; with stw_stop_online it stays online (its borrows live on)
 * and the requester learns of it (stw_parked_online), so that a collector
 * checks its garbage for resurrection. */
static _Atomic int online_go, online_ready, online_done;

static void online_requester(void *arg)
{
    (void)arg;
    while (!atomic_load(&online_go))
        rc_safepoint();
    atomic_store(&online_ready, 1);
    /* No safepoint from here: wait until main's stop is requested. */
    while (!(rc_atomic_load_relaxed(&rc_tls_eval_breaker) & RC_EB_STW))
        sched_yield();
    struct thr_state *ts = rc_tls_state;
    if (stw_stop_online(ts->rt, ts) == 0)   /* waits out main's stop, online */
        stw_start(ts->rt, ts);
    atomic_store(&online_done, 1);
}

static void test_stop_waited_out_online_is_reported(void **state)
{
    (void)state;
    if (harness_mode == RC_MODE_GIL)
        skip();   /* gil mode: holding the GIL is the stop; nobody waits one out */
    struct rc_runtime *rt = rc_tls_state->rt;
    assert_int_equal(0, rc_stop_the_world());   /* nobody parked online */
    assert_false(stw_parked_online(rt));
    assert_int_equal(0, rc_start_the_world());
    atomic_store(&online_go, 0);
    atomic_store(&online_ready, 0);
    atomic_store(&online_done, 0);
    rc_thread *t = rc_thread_start(online_requester, NULL);
    assert_non_null(t);
    atomic_store(&online_go, 1);
    while (!atomic_load(&online_ready))
        sched_yield();   /* it runs no safepoint any more: our stop finds it running */
    assert_int_equal(0, rc_stop_the_world());   /* completes once it parked */
    assert_true(stw_parked_online(rt));
    assert_int_equal(0, rc_start_the_world());
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(1, atomic_load(&online_done));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_stops_freeze_mutators),
        HARNESS_TEST(test_stop_waited_out_online_is_reported),
        HARNESS_TEST(test_stops_with_attach_detach),
        HARNESS_TEST(test_back_to_back_stops_let_others_run),
        HARNESS_TEST(test_concurrent_requesters),
        HARNESS_TEST(test_stop_merges_queues),
        HARNESS_TEST(test_gil_stop_survives_drop_request),
        HARNESS_TEST(test_no_finalizer_runs_while_stopped),
        HARNESS_TEST(test_stw_misuse),
        cmocka_unit_test(test_safepoint_timeout_reports_the_holdout),
        cmocka_unit_test(test_safepoint_timeout_report_after_pacing),
    };
    return HARNESS_RUN("stw", tests, argc, argv);
}
