/* runtime/gclist.h: thread-safe GC lists, the allocation side of tracking.
 *
 * Every tracked object (a container) is in exactly one GC list, recorded in
 * its gc_head: `owner` is the gcl_owner whose lists hold it.  Each thread
 * has an owner and links what it allocates into its own generation-0 list
 * without a lock.  The runtime owns the lists; a collector (gc/) moves
 * objects between them only with the world stopped.  Lists are changed
 * only by:
 *
 *   operation                         | who                 | exclusion
 *   ----------------------------------+---------------------+---------------------
 *   link a new object (alloc)         | owner thread        | none (own lists)
 *   unlink a dead object              | owner thread        | none (own lists)
 *   hand back a dead object           | any other thread    | lock-free push on the
 *                                     |                     | owner's hand-back stack
 *   drain the hand-back stack         | owner thread, or    | exchange (single
 *                                     | collector (stopped) | consumer at a time)
 *   splice, walk, move between owners | collector           | world stopped
 *   adopt an exited thread's lists    | the exiting thread  | orphan_mu (+ attached,
 *                                     |                     | so never during a stop)
 *   move own objects into the old     | owner thread        | the collector's right
 *   space (gcl_adopt_into_oldspace)   |                     | to the old space's lists
 *   unlink an orphan's dead object    | any thread          | orphan_mu
 *
 * In gil mode the GIL serialises everything, so any thread unlinks
 * directly.  The hand-back stack is mimalloc's thread-delayed free: a dead
 * object stays linked (its memory kept) until its owner unlinks and frees
 * it.
 *
 * Exited threads (docs/gc.md [gc.owners]).  An exiting thread, under
 * orphan_mu, renames the owner of every object in its lists to the orphan
 * owner, adopts the lists into the orphan's, then closes its hand-back
 * stack (HANDBACK_CLOSED); a thread that finds a closed stack unlinks under
 * orphan_mu instead.  It moves its objects a chunk at a time, passing a
 * safepoint between chunks, so its exit holds nobody up for long whatever
 * its heap.  Its record leaves the owner list (walks with the world
 * stopped never see it again) and is reused by a thread that starts later:
 * records are never freed before the runtime, so a pointer to one read at
 * any time stays valid memory.  What reuse must not meet is a thread that
 * read an object's old owner before the rename and is about to push on
 * that owner's stack: it is attached, so an online QSBR reader, and passes
 * no quiescent state until it has pushed, so the record is retired through
 * QSBR (qsbr_retire, tagged QSBR_RECORD) and becomes reusable
 * (gcl_owner_reusable) after a grace period.  In gil mode nobody pushes,
 * and a record is reusable at once.  So the records, and the walks over
 * them, follow the threads alive and not every thread that ever ran.  An
 * object a collector held in a private list while its owner exited names
 * the old record still; put back (gcl_list_for_stw), it goes to the
 * orphan's lists, or to those of the thread now using the record:
 * either way into the lists its owner field names.
 */
#ifndef RCGC_GCLIST_H
#define RCGC_GCLIST_H

#ifndef RCGC_BUILDING
#error "runtime/gclist.h is internal to rcgc"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "rcgc/gc.h"

struct thr_state;
struct rc_runtime;
struct gcl_owner;

/* The links that precede every object of a GC type.
 *   next, prev  the owner's list (sentinel-headed, circular); owner thread,
 *               or collector with the world stopped, or orphan_mu;
 *   xowner      set at allocation; changed with the world stopped, or by
 *               the exiting owner thread under orphan_mu (to the orphan
 *               owner), or by the owner thread moving the object into the
 *               old space (gcl_adopt_into_oldspace), while other threads
 *               may read it: relaxed atomic (gcl_owner_of; who may
 *               dereference what they read: above; a stale read pushes on
 *               the old owner's stack, whose drain forwards the object);
 *   aux         during a collection: gc_refs (collector only); once the
 *               object is dead: the link of a hand-back or trash stack;
 *   cycle_refs  shares prev's word: the concurrent collector's count of an
 *               object of its cycle's list, from its build pass until its
 *               gather pass restores prev (that list is the cycle's alone
 *               meanwhile: no owner thread unlinks the old space's objects;
 *               the heap verifier and the heap walks follow next only,
 *               and a stop that splices it restores the links first;
 *               gc/concurrent.c). */
struct gc_head {
    struct gc_head *next;
    union {
        struct gc_head *prev;
        intptr_t cycle_refs;
    };
    _Atomic(struct gcl_owner *) xowner;
    uintptr_t aux;
};

/* Generation lists 0..2, then the permanent generation (rc_gc_freeze). */
#define GCL_PERMANENT RC_GC_GENERATIONS
#define GCL_NLISTS (RC_GC_GENERATIONS + 1)

#define HANDBACK_CLOSED ((struct gc_head *)1)

struct gcl_owner {
    struct gc_head lists[GCL_NLISTS];   /* sentinels; see table above */
    /* Dead objects handed back by other threads, linked through aux.
     * Push: any thread (CAS, release); take: exchange (acquire). */
    _Atomic(struct gc_head *) handback;
    bool orphan;                        /* the runtime's orphan owner */
    bool oldspace;                      /* the runtime's old space (below) */
    /* Its thread has exited: written by that thread under orphan_mu before
     * the owner leaves the owner list; read by the collector (world
     * stopped, which orders it after that write). */
    bool exited;
    struct gcl_state *state;            /* the runtime's; immutable */
    /* The concurrent collector's: objects promoted into lists[RC_GC_
     * GENERATIONS - 1] that the thread has not answered for yet, its share
     * of cc.unadopted (gc/concurrent.c).  Written by the owner thread, or
     * by a thread that stopped the world (which orders it). */
    long unadopted;
    /* The runtime's owner list (live owners and the orphan), its retired
     * list once exited, its spare list once reusable; under
     * gcl_state.owners_mu. */
    struct gcl_owner *next_owner, *prev_owner;
};

/* Per runtime. */
struct gcl_state {
    pthread_mutex_t owners_mu;    /* the record lists and counts; leaf */
    pthread_mutex_t orphan_mu;    /* the orphan owner's lists; leaf */
    struct gcl_owner *owners;     /* live threads' owners and the orphan
                                     (owners_mu; doubly linked) */
    struct gcl_owner *retired;    /* exited threads' records waiting for
                                     a grace period (owners_mu) */
    struct gcl_owner *spare;      /* reusable records (owners_mu) */
    struct gcl_owner *orphan;     /* lists adopted from exited threads;
                                     immutable after gcl_init */
    struct gcl_owner *oldspace;   /* the old space, or NULL (below);
                                     immutable after gcl_oldspace_init */
    /* With an old space: the orphan's list of the oldest generation holds
     * objects an exited thread's local collections promoted and that it
     * could not move into the old space (gcl_adopt_into_oldspace).  Set
     * by the exiting thread and cleared by the thread that moves them,
     * both under orphan_mu; read relaxed as a hint. */
    _Atomic bool orphan_old;
    long nlive, nretired, nspare; /* records on each list, the orphan in
                                     nlive (owners_mu) */
};

static inline struct gcl_owner *gcl_owner_of(const struct gc_head *g)
{
    /* relaxed: the only concurrent write is the exiting owner's rename to
     * the orphan, and either value leads to the right list (gclist.c,
     * gcl_free_tracked); the collector reads it with the world stopped. */
    return rc_atomic_load_relaxed(&((struct gc_head *)g)->xowner);
}

static inline void gcl_set_owner(struct gc_head *g, struct gcl_owner *ow)
{
    /* relaxed: see gcl_owner_of. */
    rc_atomic_store_relaxed(&g->xowner, ow);
}

static inline void gcl_init(struct gc_head *head)
{
    head->next = head->prev = head;
}

static inline bool gcl_is_empty(const struct gc_head *head)
{
    return head->next == head;
}

static inline void gcl_append(struct gc_head *head, struct gc_head *g)
{
    struct gc_head *last = head->prev;
    g->prev = last;
    g->next = head;
    last->next = g;
    head->prev = g;
}

static inline void gcl_remove(struct gc_head *g)
{
    g->prev->next = g->next;
    g->next->prev = g->prev;
    g->next = g->prev = NULL;
}

/* Move every object of from to the end of to; from becomes empty. */
static inline void gcl_splice(struct gc_head *to, struct gc_head *from)
{
    if (gcl_is_empty(from))
        return;
    struct gc_head *first = from->next, *last = from->prev, *tail = to->prev;
    tail->next = first;
    first->prev = tail;
    last->next = to;
    to->prev = last;
    gcl_init(from);
}

/* Runtime creation and teardown (single-threaded).  gcl_state_init makes
 * the orphan owner: -1 with MemoryError, having undone its work. */
int gcl_state_init(struct gcl_state *st);
void gcl_state_fini(struct gcl_state *st);

/* The old space (docs/gc.md [gc.concurrent]): a collector that reads the
 * oldest generation while the world runs keeps it in one owner of its
 * own, no thread's, whose hand-back stack is never closed.  Every free of
 * an object it owns, by any thread in any mode, is a push on that stack;
 * the objects stay linked, their memory kept, until the collector drains
 * the stack at a moment when nothing it holds points at them.  Its lists
 * change only with the world stopped or on the thread that holds the
 * collector's right to them (gc/concurrent.c: busy), between two of its
 * safepoints (which no stop can cut into).  Called by the
 * collector's init (single-threaded): 0, or -1 with MemoryError. */
int gcl_oldspace_init(struct rc_runtime *rt);

/* Move the objects of `list`, one of the calling thread's own (its
 * thread-local collections' survivors into the oldest generation, gc/
 * collector.c), into the old space: renamed, then spliced into its list.
 * The caller may change the old space's lists (above: the collector's
 * right to them, taken without passing a safepoint until done).  A thread
 * that read an object's owner before the rename pushes it on the thread's
 * stack, whose drain (gcl_drain_handback, gcl_owner_exit) or a closed
 * stack's path (gcl_free_tracked) forwards it to the old space's. */
void gcl_adopt_into_oldspace(struct rc_runtime *rt, struct gc_head *list);
/* The same for the first `max` objects of `list` at most (a bounded
 * slice of the work); returns whether `list` is empty after. */
bool gcl_adopt_some_into_oldspace(struct rc_runtime *rt, struct gc_head *list, size_t max);
/* The same for the first `max` objects at most of the orphan's list of
 * the oldest generation (what exited threads left there: gcl_state.
 * orphan_old, cleared once it is empty), under orphan_mu. */
void gcl_adopt_orphans_into_oldspace(struct rc_runtime *rt, size_t max);

static inline bool gcl_in_oldspace(const struct gcl_state *st, const struct gc_head *g)
{
    struct gcl_owner *old = st->oldspace;
    return old != NULL && gcl_owner_of(g) == old;
}

/* A new owner for the calling thread, linked into the runtime's owners.
 * NULL with MemoryError. */
struct gcl_owner *gcl_owner_new(struct rc_runtime *rt);

/* The calling thread exits: rename its objects' owner to the orphan, adopt
 * its lists into the orphan's, close its hand-back stack, retire its owner
 * record.  Caller attached, an online QSBR reader in the ft modes; passes
 * safepoints. */
void gcl_owner_exit(struct rc_runtime *rt, struct thr_state *ts);

/* Call fn on every owner of a live thread and on the orphan.  The world
 * is stopped by the caller (asserted in debug builds). */
void gcl_for_each_owner_stw(struct rc_runtime *rt, void (*fn)(struct gcl_owner *, void *),
                            void *arg);

/* The list an object of `ow` belongs in for list index `i`: the orphan's
 * for an exited owner.  With the world stopped; renames g's owner to the
 * orphan when it names an exited one (objects a collector held privately
 * while their thread exited). */
struct gc_head *gcl_list_for_stw(struct rc_runtime *rt, struct gc_head *g, int i);

/* An exited thread's record may be reused (its grace period is over):
 * retired -> spare.  Any thread (qsbr.c's reclaimer included). */
void gcl_owner_reusable(struct gcl_owner *ow);

/* Owner records allocated (live, retired, spare, the orphan): what the
 * runtime holds for threads, for tests and statistics. */
long gcl_owner_records(struct rc_runtime *rt);

/* Link a new object of the calling thread. */
void gcl_track_new(struct thr_state *ts, rc_object *o);

/* A tracked object is dead (its type's dealloc has run): unlink it and free
 * its memory now, or hand it back to its owner thread, which will. */
void gcl_free_tracked(struct thr_state *ts, rc_object *o);

/* Unlink and free every object handed back to `owner`.  Called by the
 * owner thread, or by the collector with the world stopped. */
void gcl_drain_handback(struct thr_state *ts, struct gcl_owner *owner);

/* Runtime teardown, every thread gone and QSBR's last grace period over:
 * as gcl_drain_handback, with no thread state (the old space's objects
 * that died after the last collection, in the final thread's exit). */
void gcl_drain_handback_at_teardown(struct gcl_owner *ow);

/* Free the memory of a dead object that is in no list (untracked). */
void gcl_release_memory(struct thr_state *ts, rc_object *o);

#endif /* RCGC_GCLIST_H */
