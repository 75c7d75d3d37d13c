/* runtime/brc.h: biased reference counting's merge queues (ft mode).
 *
 * When a non-owner finds an object's shared count at 0 and would take it
 * below, it sets the object QUEUED (its reference becomes the queue's) and
 * hands the object to the owner thread's queue; the owner merges local and
 * shared counts at its next safepoint and drops the queue's reference.  If
 * the owner has exited, the non-owner merges at once.  Model: CPython's
 * Python/brc.c and pycore_brc.h.
 *
 * Synchronisation: thread states are found by id through a hash of buckets,
 * each with its own mutex.  A queue is changed only under its owner's bucket
 * mutex (enqueue by non-owners, splice by the owner), which is what lets
 * ThreadSanitizer see the hand-over: liburcu 0.13's atomics are inline
 * assembly that TSan cannot see (see docs/refcount.md).  Lock order: a
 * bucket mutex is a leaf; no object code (deallocation, finalizers) runs
 * under it: the owner splices its queue to a local one and merges unlocked.
 */
#ifndef RCGC_BRC_H
#define RCGC_BRC_H

#ifndef RCGC_BUILDING
#error "runtime/brc.h is internal to rcgc"
#endif

#include <pthread.h>
#include <stdint.h>
#include <urcu/wfcqueue.h>

#include "rcgc/object.h"

struct thr_state;
struct rc_runtime;

#define BRC_NBUCKETS 64

struct brc_bucket {
    pthread_mutex_t mu;
    struct thr_state *threads;   /* registered states with tid in this bucket; under mu */
};

/* Per runtime. */
struct brc_state {
    struct brc_bucket buckets[BRC_NBUCKETS];
};

/* Per thread. */
struct brc_thread_state {
    /* Objects queued to this thread; under its bucket's mu. */
    struct __cds_wfcq_head qhead;
    struct cds_wfcq_tail qtail;
    struct thr_state *bucket_next;   /* under the bucket's mu */
    bool registered;                 /* under the bucket's mu */
    uint64_t merged;                 /* objects merged from the queue; owner only */
};

void brc_init(struct brc_state *brc);
void brc_fini(struct brc_state *brc);

/* Make ts findable by its tid (thread start). */
void brc_register(struct brc_state *brc, struct thr_state *ts);

/* Thread exit: merge everything queued, and stop being findable once the
 * queue is empty.  Later queuers of this thread's objects merge them
 * themselves, so the caller must make no refcount operation afterwards. */
void brc_unregister(struct brc_state *brc, struct thr_state *ts);

/* Called by a non-owner that just moved o to QUEUED; owner is the ob_tid it
 * read before doing so.  Steals the reference that the queue now holds. */
void brc_queue_object(rc_object *o, uintptr_t owner);

/* Owner: merge every object queued to the calling thread (safepoint). */
void brc_merge_queued(struct thr_state *ts);

/* With the world stopped: merge every thread's queue on its behalf, so that
 * every count is exact (the collector needs it).  The other threads are
 * parked or detached, so nobody writes the local counts being merged.
 * Objects found dead are not freed now (no object code may run while the
 * world is stopped: a parked thread may hold a lock a finalizer wants);
 * stw_defer_dealloc keeps them until the world restarts. */
void brc_merge_all_stw(struct rc_runtime *rt);

#endif /* RCGC_BRC_H */
