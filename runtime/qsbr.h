/* runtime/qsbr.h: deferred freeing of memory that lock-free readers may
 * still touch (ft modes): old list item arrays and dict tables, and objects
 * that were ever stored in a container (RC_GC_SHARED).  Built on liburcu's
 * QSBR flavour (docs/threads.md [thr.qsbr]):
 *
 *   - a thread is an RCU reader while attached: online when attached,
 *     offline when detached or parked for a stop-the-world;
 *   - a thread reports a quiescent state at its safepoint when asked
 *     (RC_EB_QSBR), which a thread that submits retired memory asks of all;
 *   - retired pointers collect in a per-thread batch; a full batch (or the
 *     thread's exit) goes to the reclaimer, rcgc's thread (unless
 *     reclaimed locally, below), which hands it back to the thread after a
 *     grace period (rounds at most a millisecond apart): after
 *     every reader has passed a quiescent state, so no reader still holds
 *     a pointer it loaded before the memory was unpublished.  The thread
 *     frees it at its next quiescent state (a free from the allocating
 *     thread: the allocator's fast path), or the reclaimer does if the
 *     thread is offline then (qsbr.c, struct qsbr_box);
 *   - local reclamation: while the retiring thread is the only online
 *     reader, a full batch is kept instead, and freed by that thread at its
 *     next quiescent state if it is still alone then (the count of online
 *     readers, read with a read-modify-write): a single attached thread
 *     pays no grace period, no cross-thread free and no reclaimer wake-up
 *     (qsbr.c, reclaim_held).
 *
 * Readers hold raw pointers only between safepoints, and never across a
 * detach.  ThreadSanitizer cannot see liburcu 0.13's synchronisation
 * (inline assembly); qsbr.c tells it, with __tsan_release at every
 * quiescent state and before every submission, and __tsan_acquire in the
 * reclaimer after each grace period.
 */
#ifndef RCGC_QSBR_H
#define RCGC_QSBR_H

#ifndef RCGC_BUILDING
#error "runtime/qsbr.h is internal to rcgc"
#endif

#include <stdbool.h>
#include <stdint.h>

struct thr_state;
struct qsbr_batch;
struct qsbr_box;

/* Owner only. */
struct qsbr_thread_state {
    bool registered;            /* an RCU reader (ft modes) */
    bool online;                /* counted in qsbr.c's online_readers */
    struct qsbr_batch *batch;   /* retired, being filled */
    struct qsbr_box *box;       /* where its batches come back to after
                                   their grace periods (qsbr.c) */
    struct qsbr_batch *held;    /* full batches kept for this thread's next
                                   quiescent state (local reclamation,
                                   qsbr.c); linked through next */
    struct qsbr_batch *returned; /* batches taken back from its box, freed
                                   a slice at a time (qsbr.c,
                                   QSBR_RETURNED_SLICE); linked through
                                   next */
    long nreturned;             /* batches in returned */
    uint64_t retired_seen;      /* retired at its last quiescent state */
    unsigned quiet_states;      /* quiescent states since it last retired */
    uint64_t retired;           /* pointers retired (statistics) */
    uint64_t freed_locally;     /* of those, freed by this thread itself
                                   with no grace period (local
                                   reclamation; statistics) */
    uint64_t freed_returned;    /* of those, freed by this thread after
                                   their grace period (its box;
                                   statistics) */
};

/* The calling thread becomes / stops being a reader (thread start/exit). */
void qsbr_register(struct thr_state *ts);
void qsbr_unregister(struct thr_state *ts);

/* Attach/detach and parking. */
void qsbr_online(struct thr_state *ts);
void qsbr_offline(struct thr_state *ts);
/* qsbr_offline for a park (a stop waits for it): the batches that came
 * back to the thread stay in its box, for the reclaimer or for the thread
 * once online again. */
void qsbr_offline_to_park(struct thr_state *ts);

/* A quiescent state: the thread holds no pointer loaded lock-free.  Frees
 * or submits the batches the thread holds. */
void qsbr_quiescent(struct thr_state *ts);

/* Free p (a block from mem_alloc and friends) with mem_free after a grace
 * period, or at the calling thread's next quiescent state while it is the
 * only online reader.  ft modes only; the calling thread must be a
 * registered, online reader. */
void qsbr_retire(struct thr_state *ts, void *p);

/* Tag of a retired pointer (qsbr_retire) that is an exited thread's owner
 * record: after the grace period it goes to gcl_owner_reusable instead of
 * mem_free.  Blocks and records are at least 2-byte aligned. */
#define QSBR_RECORD ((uintptr_t)1)

/* Wait until every retired block has been freed (runtime shutdown).  The
 * caller must not be online. */
void qsbr_barrier(void);

/* Start / join the reclaimer (rc_runtime_new, and rc_runtime_free after
 * qsbr_barrier, ft modes; both under runtime.c's runtime_create_mu).  qsbr_start: 0,
 * or -1 with an error if the thread cannot be created. */
int qsbr_start(void);
void qsbr_stop(void);

/* No batch is waiting for its grace period, process-wide, and none came
 * back to the calling thread to be freed: it may stop reporting quiescent
 * states at its safepoints (thread.c).  Owner. */
bool qsbr_idle(struct thr_state *ts);

#endif /* RCGC_QSBR_H */
