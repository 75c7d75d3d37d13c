/* gc/gclist.h: thread-safe GC lists.
 *
 * Every tracked object (a container) is in exactly one GC list, recorded in
 * its gc_head: `owner` is the gcl_owner whose lists hold it.  Each thread
 * has an owner and links what it allocates into its own generation-0 list
 * without a lock.  Lists are changed only by:
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
 *   unlink an orphan's dead object    | any thread          | orphan_mu
 *
 * In gil mode the GIL serialises everything, so any thread unlinks
 * directly.  The hand-back stack is mimalloc's thread-delayed free: a dead
 * object stays linked (its memory kept) until its owner unlinks and frees
 * it.  When an owner exits, it adopts its lists into the runtime's orphan
 * owner, then closes its stack (HANDBACK_CLOSED); a thread that finds a
 * closed stack unlinks under orphan_mu instead.  Owner structs of exited
 * threads live until the runtime is freed (their objects still name them).
 */
#ifndef RCGC_GCLIST_H
#define RCGC_GCLIST_H

#ifndef RCGC_BUILDING
#error "gc/gclist.h is internal to rcgc"
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
 *   owner       set at allocation; changed only with the world stopped;
 *   aux         during a collection: gc_refs (collector only); once the
 *               object is dead: the link of a hand-back or trash stack. */
struct gc_head {
    struct gc_head *next;
    struct gc_head *prev;
    struct gcl_owner *owner;
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
    bool exited;                        /* its thread has exited; owner thread */
    struct gcl_owner *next_owner;       /* runtime's list; under gc.owners_mu */
};

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

/* A new owner for the calling thread, linked into the runtime's owners.
 * NULL with MemoryError. */
struct gcl_owner *gcl_owner_new(struct rc_runtime *rt);

/* The calling thread exits: adopt its lists into the orphan owner and close
 * its hand-back stack.  Caller attached (so never during a stop). */
void gcl_owner_exit(struct rc_runtime *rt, struct thr_state *ts);

/* Link a new object of the calling thread. */
void gcl_track_new(struct thr_state *ts, rc_object *o);

/* A tracked object is dead (its type's dealloc has run): unlink it and free
 * its memory now, or hand it back to its owner thread, which will. */
void gcl_free_tracked(struct thr_state *ts, rc_object *o);

/* Unlink and free every object handed back to `owner`.  Called by the
 * owner thread, or by the collector with the world stopped. */
void gcl_drain_handback(struct thr_state *ts, struct gcl_owner *owner);

/* Free the memory of a dead object that is in no list (untracked). */
void gcl_release_memory(struct thr_state *ts, rc_object *o);

#endif /* RCGC_GCLIST_H */
