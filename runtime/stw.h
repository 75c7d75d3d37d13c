/* runtime/stw.h: thread status, safepoint parking and stop-the-world (ft
 * modes).  In gil mode an attached thread holds the GIL, which is already a
 * stopped world for everyone else; stw_stop only records the stop there.
 *
 * Synchronisation table (every field below is under stw_state.mu):
 *
 *   operation                 | takes  | waits while
 *   --------------------------+--------+-----------------------------------
 *   attach (stw_attach)       | mu     | a stop by another thread is on
 *   detach (stw_detach)       | mu     | never (counts itself parked)
 *   park at a safepoint       | mu     | a stop by another thread is on
 *   stop   (stw_stop)         | mu     | another stop is on (parked itself),
 *                             |        | or the last restart's woken threads
 *                             |        | have not all left their wait
 *                             |        | (to_wake > 0, on woken_cv),
 *                             |        | then until every counted thread parked
 *   start  (stw_start)        | mu     | never
 *
 * A requester counts the threads that are ATTACHED when it stops the world
 * and raises RC_EB_STW in their eval breakers; each counted thread
 * uncounts itself when it parks or detaches.
 *
 * Fairness: a restart lets every thread it wakes (parked or waiting to
 * attach) leave its wait before the next stop may begin (to_wake), so a
 * thread that stops the world in a loop cannot keep the others parked: each
 * of them runs at least up to its next safepoint between two stops.
 * Without it the requester, which keeps the CPU, usually re-takes stw.mu
 * before a woken thread does.  Lock order: stw.mu before
 * rt->mu (the requester walks the thread list under both); no object code
 * runs under either.
 */
#ifndef RCGC_STW_H
#define RCGC_STW_H

#ifndef RCGC_BUILDING
#error "runtime/stw.h is internal to rcgc"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "rcgc/runtime.h"
#include "records.h"

struct thr_state;
struct rc_runtime;

enum thr_status {
    THR_DETACHED = 0,   /* must not touch objects */
    THR_ATTACHED,       /* running, may touch objects */
    THR_PARKED,         /* attached, but stopped at a safepoint */
};

struct stw_state {
    pthread_mutex_t mu;
    pthread_cond_t resume_cv;    /* parked and attaching threads wait here */
    pthread_cond_t parked_cv;    /* the requester waits here */
    pthread_cond_t woken_cv;     /* a would-be requester waits here for
                                    to_wake to reach 0 */
    struct thr_state *requester; /* who stopped the world; NULL if running */
    unsigned waiting;            /* threads waiting on resume_cv */
    unsigned to_wake;            /* of those the last restart woke, the ones
                                    still to leave their wait; set by
                                    stw_start, a new stop waits for 0 */
    long countdown;              /* counted threads not yet parked */
    uint64_t stop_ns;            /* when the world was fully stopped */
    uint64_t request_ns;         /* when the stop was requested */
    uint32_t nstopped;           /* threads counted for the current stop */
    long timeout_ms;             /* rc_config.safepoint_timeout_ms as resolved;
                                    0 off (immutable after rc_runtime_new) */
    struct rec_ring records;     /* rc_stw_record of every stop (records.h) */
    /* Objects that died while the world was stopped, linked through their
     * (dead) ob_tid; the requester frees them after restarting it. */
    rc_object *dead;
    /* A thread waited out the current stop parked online (stw_stop_online),
     * keeping borrowed references across it.  Under mu: cleared when a stop
     * begins, set by such a thread, read by the requester before it
     * restarts the world (stw_parked_online). */
    bool parked_online;
};

/* Per thread, under stw_state.mu. */
struct stw_thread_state {
    enum thr_status status;
    bool counted;                /* the current stop waits for us */
    uint64_t attach_ns;          /* when it last attached (ft modes) */
    const void *attach_site;     /* from where: the code address that called
                                    rc_attach / rc_runtime_new /
                                    rc_thread_register, or the function
                                    rc_thread_start runs */
};

void stw_init(struct stw_state *stw, long timeout_ms);
void stw_fini(struct stw_state *stw);

/* Attach / detach the calling thread (ft modes; gil mode uses the GIL). */
void stw_attach(struct rc_runtime *rt, struct thr_state *ts);
void stw_detach(struct rc_runtime *rt, struct thr_state *ts);

/* Safepoint: park if another thread has stopped the world. */
void stw_park(struct rc_runtime *rt, struct thr_state *ts);

/* Stop the world / restart it (caller attached).  stw_stop returns -1 with
 * an error if the caller already stopped it. */
int stw_stop(struct rc_runtime *rt, struct thr_state *ts);
/* stw_stop, but if another thread's stop comes first, the caller waits
 * for it without going offline for QSBR: memory it may still read through
 * borrowed pointers stays allocated (docs/threads.md [thr.borrow]), so a
 * caller that must not end its borrows may stop the world. */
int stw_stop_online(struct rc_runtime *rt, struct thr_state *ts);
/* With the world stopped by the caller: whether a thread parked online
 * during this stop.  Such a thread may use, after the restart, references
 * it borrowed before the stop: a collector that found garbage in this stop
 * must then check for resurrection as if object code had run. */
bool stw_parked_online(struct rc_runtime *rt);
int stw_start(struct rc_runtime *rt, struct thr_state *ts);

/* With the world stopped by the caller: o is dead (count 0); deallocate it
 * once the world runs again.  Its ob_tid becomes the link: no thread takes
 * a reference to a dead object (try_incref reads the counts, which stay
 * dead), and a pointer never equals a thread id. */
void stw_defer_dealloc(struct rc_runtime *rt, rc_object *o);

#endif /* RCGC_STW_H */
