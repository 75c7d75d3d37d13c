/* runtime/gil.h: the global interpreter lock of gil mode.
 *
 * A thread that waits longer than the switch interval without seeing a
 * switch sets RC_EB_GIL_DROP in the holder's eval breaker; the holder drops
 * the GIL at its next safepoint and, because the drop was requested, waits
 * until another thread has taken it (forced switching: it cannot take the
 * GIL straight back).  Model: CPython's Python/ceval_gil.c.
 *
 * Every field of gil_state is under gil_state.mu.  Lock order: gil.mu is
 * taken with no other rcgc lock held, and no object code runs under it.
 */
#ifndef RCGC_GIL_H
#define RCGC_GIL_H

#ifndef RCGC_BUILDING
#error "runtime/gil.h is internal to rcgc"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct thr_state;

struct gil_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* signalled when the GIL is released */
    pthread_cond_t switch_cv;   /* signalled when a thread takes the GIL */
    bool locked;
    uint64_t switch_number;     /* incremented at every take */
    struct thr_state *holder;
    long interval_us;
};

/* Statistics (rc_gil_stats).  Written by the owner thread while it holds
 * gil.mu (in gil_take); read by others under gil.mu (rc_gil_stats_total),
 * or folded into the runtime's totals at thread exit. */
struct gil_thread_state {
    uint64_t acquisitions;
    uint64_t waits;
    uint64_t wait_ns;
    uint64_t drop_requests;
};

void gil_init(struct gil_state *gil, long interval_us);
void gil_fini(struct gil_state *gil);

/* Block until ts holds the GIL. */
void gil_take(struct gil_state *gil, struct thr_state *ts);

/* Release the GIL held by ts.  forced: the holder was asked to drop it, so
 * wait until another thread has taken it before returning. */
void gil_drop(struct gil_state *gil, struct thr_state *ts, bool forced);

#endif /* RCGC_GIL_H */
