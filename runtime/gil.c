/* runtime/gil.c: the GIL of gil mode (see gil.h). */
#define RCGC_BUILDING 1
#include <errno.h>
#include <time.h>

#include "internal.h"

void gil_init(struct gil_state *gil, long interval_us)
{
    pthread_mutex_init(&gil->mu, NULL);
    rc_cond_init_monotonic(&gil->cv);
    rc_cond_init_monotonic(&gil->switch_cv);
    gil->locked = false;
    gil->switch_number = 0;
    gil->holder = NULL;
    gil->interval_us = interval_us;
}

void gil_fini(struct gil_state *gil)
{
    pthread_cond_destroy(&gil->switch_cv);
    pthread_cond_destroy(&gil->cv);
    pthread_mutex_destroy(&gil->mu);
}

void gil_take(struct gil_state *gil, struct thr_state *ts)
{
    pthread_mutex_lock(&gil->mu);
    ts->gil.acquisitions++;
    if (gil->locked) {
        uint64_t t0 = rc_clock_ns();
        ts->gil.waits++;
        while (gil->locked) {
            uint64_t seen = gil->switch_number;
            struct timespec deadline = rc_deadline_after((uint64_t)gil->interval_us * 1000u);
            int rc = pthread_cond_timedwait(&gil->cv, &gil->mu, &deadline);
            if (rc == ETIMEDOUT && gil->locked && gil->switch_number == seen) {
                /* A whole interval without a switch: ask the holder to drop
                 * it.  release: pairs with the holder's acquire re-read of
                 * its breaker in rc_safepoint_slow. */
                rc_atomic_or_release(gil->holder->eval_breaker, RC_EB_GIL_DROP);
                ts->gil.drop_requests++;
            }
        }
        ts->gil.wait_ns += rc_clock_ns() - t0;
    }
    gil->locked = true;
    gil->holder = ts;
    gil->switch_number++;
    /* A request aimed at the previous holder of our breaker is void now. */
    rc_atomic_and_acq_rel(ts->eval_breaker, ~(uintptr_t)RC_EB_GIL_DROP);
    pthread_cond_broadcast(&gil->switch_cv);
    pthread_mutex_unlock(&gil->mu);
}

void gil_drop(struct gil_state *gil, struct thr_state *ts, bool forced)
{
    pthread_mutex_lock(&gil->mu);
    gil->locked = false;
    gil->holder = NULL;
    pthread_cond_signal(&gil->cv);
    if (forced) {
        /* Forced switching: do not return (and retake the GIL) until some
         * other thread has taken it. */
        uint64_t seen = gil->switch_number;
        while (gil->switch_number == seen)
            pthread_cond_wait(&gil->switch_cv, &gil->mu);
    }
    pthread_mutex_unlock(&gil->mu);
}
