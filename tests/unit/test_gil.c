/* tests/unit/test_gil.c: the GIL of gil mode.  Two CPU-bound threads must
 * both make progress (forced switching at safepoints), a handover must
 * follow a drop request promptly (counted, not timed), and a detached
 * thread must let others run.  In the ft modes the same programs run in
 * parallel and the GIL statistics stay zero.
 */
#include "harness.h"

#include <pthread.h>

struct spinner {
    _Atomic long *counts;   /* counts[0], counts[1]: one per thread */
    _Atomic int *done;      /* threads that saw enough handovers */
    int self;
    long handovers;         /* times this thread saw the other progress */
    rc_gil_stats stats;     /* this thread's GIL statistics at the end */
};

#define HANDOVERS 10

static void spin_until_other_progresses(void *p)
{
    struct spinner *s = p;
    /* CPU-bound and allocation-free: in gil mode only a forced switch at
     * rc_safepoint lets the other thread run, so this loop ends only if
     * the GIL really changes hands (ctest's timeout fails it otherwise).
     * relaxed: the counters are only compared, nothing is published. */
    long last = rc_atomic_load_relaxed(&s->counts[1 - s->self]);
    /* Keep going until both threads are satisfied: the other one needs us
     * to keep making progress. */
    while (rc_atomic_load_relaxed(s->done) < 2) {
        rc_atomic_add_relaxed(&s->counts[s->self], 1);
        long now = rc_atomic_load_relaxed(&s->counts[1 - s->self]);
        if (now != last && s->handovers < HANDOVERS) {
            last = now;
            if (++s->handovers == HANDOVERS)
                rc_atomic_add_relaxed(s->done, 1);
        }
        rc_safepoint();
    }
    rc_gil_stats_get(&s->stats);
}

static void test_two_cpu_bound_threads_both_progress(void **state)
{
    _Atomic long counts[2] = {0, 0};
    _Atomic int done = 0;
    struct spinner s0 = {counts, &done, 0, 0, {0}}, s1 = {counts, &done, 1, 0, {0}};
    rc_thread *a = rc_thread_start(spin_until_other_progresses, &s0);
    rc_thread *b = rc_thread_start(spin_until_other_progresses, &s1);
    assert_int_equal(0, rc_thread_join(a));
    assert_int_equal(0, rc_thread_join(b));
    assert_int_equal(HANDOVERS, s0.handovers);
    assert_int_equal(HANDOVERS, s1.handovers);
    /* The runtime-wide totals include the two exited threads. */
    rc_gil_stats total;
    assert_int_equal(0, rc_gil_stats_total(&total));
    assert_true(total.acquisitions >= s0.stats.acquisitions + s1.stats.acquisitions);
    assert_true(total.wait_ns >= s0.stats.wait_ns + s1.stats.wait_ns);
    assert_true(total.drop_requests >= s0.stats.drop_requests + s1.stats.drop_requests);
    assert_int_equal(-1, rc_gil_stats_total(NULL));
    assert_error(RC_ERR_TYPE);
    if (harness_mode == RC_MODE_GIL) {
        /* Each saw the other progress HANDOVERS times, so each took the GIL
         * back at least that often, and every such wait asked for it. */
        for (int i = 0; i < 2; i++) {
            const rc_gil_stats *st = i == 0 ? &s0.stats : &s1.stats;
            assert_true(st->acquisitions >= HANDOVERS / 2);
            assert_true(st->waits >= 1);
            assert_true(st->drop_requests >= 1);
            /* Prompt handover: the holder reaches a safepoint at every loop
             * turn, so one request per wait is the norm; allow slack for
             * an unlucky scheduler, but not a holder that ignores them. */
            assert_true(st->drop_requests <= 3 * st->waits + 3);
        }
    } else {
        assert_int_equal(0, s0.stats.acquisitions);
        assert_int_equal(0, s1.stats.drop_requests);
    }
}

struct handshake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int signalled;
    rc_object *made;   /* built by the other thread while we are detached */
};

static void signal_main(void *p)
{
    struct handshake *h = p;
    /* Needs to be attached (in gil mode: to hold the GIL) to build this. */
    h->made = rc_str_new("built while main was detached");
    pthread_mutex_lock(&h->mu);
    h->signalled = 1;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void test_detach_lets_another_thread_run(void **state)
{
    struct handshake h = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    rc_thread *t = rc_thread_start(signal_main, &h);
    /* Block on a plain condition variable while detached: if detaching did
     * not release the GIL, the other thread could never run and this
     * would wait forever. */
    assert_int_equal(0, rc_detach());
    pthread_mutex_lock(&h.mu);
    while (!h.signalled)
        pthread_cond_wait(&h.cv, &h.mu);
    pthread_mutex_unlock(&h.mu);
    assert_int_equal(0, rc_attach());
    assert_int_equal(0, rc_thread_join(t));
    assert_string_equal("built while main was detached", rc_str_data(h.made));
    rc_decref(h.made);
}

static void test_gil_stats_count_acquisitions(void **state)
{
    rc_gil_stats before, after;
    assert_int_equal(0, rc_gil_stats_get(&before));
    for (int i = 0; i < 5; i++) {
        assert_int_equal(0, rc_detach());
        assert_int_equal(0, rc_attach());
    }
    assert_int_equal(0, rc_gil_stats_get(&after));
    if (harness_mode == RC_MODE_GIL)
        assert_int_equal(before.acquisitions + 5, after.acquisitions);
    else
        assert_int_equal(0, after.acquisitions);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_two_cpu_bound_threads_both_progress),
        HARNESS_TEST(test_detach_lets_another_thread_run),
        HARNESS_TEST(test_gil_stats_count_acquisitions),
    };
    return HARNESS_RUN("gil", tests, argc, argv);
}
