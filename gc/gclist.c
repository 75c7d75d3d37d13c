/* gc/gclist.c: thread-safe GC lists (see gclist.h for the synchronisation
 * table).
 *
 * Invariant: a tracked object is linked in exactly one list of its
 * gc_head.owner (the orphan owner's lists for objects of exited threads,
 * whose owner field still names the exited owner), or -- during a
 * collection only -- in one of the collector's private lists.  A dead
 * tracked object stays linked until its owner (or orphan_mu's holder, or
 * the collector) unlinks it and frees its memory.
 */
#define RCGC_BUILDING 1
#include <stdlib.h>

#include "internal.h"
#include "collect.h"

struct gcl_owner *gcl_owner_new(struct rc_runtime *rt)
{
    struct gcl_owner *ow = calloc(1, sizeof *ow);
    if (ow == NULL)
        return err_nomem();
    for (int i = 0; i < GCL_NLISTS; i++)
        gcl_init(&ow->lists[i]);
    atomic_init(&ow->handback, NULL);
    pthread_mutex_lock(&rt->gc.owners_mu);
    ow->next_owner = rt->gc.owners;
    rt->gc.owners = ow;
    pthread_mutex_unlock(&rt->gc.owners_mu);
    return ow;
}

void gcl_track_new(struct thr_state *ts, rc_object *o)
{
    struct gc_head *g = OBJ_GC_HEAD(o);
    struct gcl_owner *ow = ts->gcl;
    g->owner = ow;
    gcl_append(&ow->lists[0], g);
}

void gcl_release_memory(struct thr_state *ts, rc_object *o)
{
    struct gc_head *g = OBJ_GC_HEAD(o);
    if ((obj_gc_bits(o) & RC_GC_SHARED) && ts->qsbr.registered) {
        /* A lock-free reader may still hold a pointer: keep the memory
         * until a grace period has passed (runtime/qsbr.h). */
        qsbr_retire(ts, g);
        return;
    }
    mem_free(g);
}

/* Unlink a dead object from its list and free it; the caller may touch
 * that list (owner thread, gil mode, collector, or orphan_mu held). */
static void unlink_and_release(struct thr_state *ts, rc_object *o)
{
    struct gc_head *g = OBJ_GC_HEAD(o);
    gcl_remove(g);
    gcl_release_memory(ts, o);
}

void gcl_free_tracked(struct thr_state *ts, rc_object *o)
{
    struct gc_head *g = OBJ_GC_HEAD(o);
    /* The oldest generation shrank: the trigger for full collections
     * counts its growth (collect.c, flush_counts).  The bit was set with
     * the world stopped, before this thread could see the object die. */
    if (obj_gc_bits(o) & RC_GC_OLD)
        ts->gc.old_freed++;
    struct gcl_owner *ow = g->owner;
    struct rc_runtime *rt = ts->rt;
    if (ow == ts->gcl || rt->cfg.mode == RC_MODE_GIL) {
        unlink_and_release(ts, o);
        return;
    }
    /* Another thread's object: push it on that owner's hand-back stack
     * (Treiber push; the single consumer takes the whole stack with an
     * exchange, so there is no ABA).  release: the owner that pops it sees
     * everything we did to the object. */
    struct gc_head *head = atomic_load_explicit(&ow->handback, memory_order_relaxed);
    while (head != HANDBACK_CLOSED) {
        g->aux = (uintptr_t)head;
        if (atomic_compare_exchange_weak_explicit(&ow->handback, &head, g,
                                                  memory_order_release, memory_order_relaxed))
            return;
    }
    /* The owner exited and adopted its lists into the orphan owner before
     * closing its stack: the object is in an orphan list now. */
    pthread_mutex_lock(&rt->gc.orphan_mu);
    gcl_remove(g);
    pthread_mutex_unlock(&rt->gc.orphan_mu);
    gcl_release_memory(ts, o);
}

void gcl_drain_handback(struct thr_state *ts, struct gcl_owner *ow)
{
    /* acquire: pairs with the pushers' release CAS. */
    struct gc_head *g = atomic_exchange_explicit(&ow->handback, NULL, memory_order_acquire);
    while (g != NULL) {
        struct gc_head *next = (struct gc_head *)g->aux;
        unlink_and_release(ts, GC_HEAD_OBJ(g));
        g = next;
    }
}

void gcl_owner_exit(struct rc_runtime *rt, struct thr_state *ts)
{
    struct gcl_owner *ow = ts->gcl;
    struct gcl_owner *orphan = rt->gc.orphan;
    pthread_mutex_lock(&rt->gc.orphan_mu);
    /* Adopt first, then close: a pusher that finds the stack closed takes
     * orphan_mu and so finds its object in an orphan list. */
    for (int i = 0; i < GCL_NLISTS; i++)
        gcl_splice(&orphan->lists[i], &ow->lists[i]);
    struct gc_head *dead = atomic_exchange_explicit(&ow->handback, HANDBACK_CLOSED,
                                                    memory_order_acquire);
    for (struct gc_head *g = dead; g != NULL; g = (struct gc_head *)g->aux)
        gcl_remove(g);
    ow->exited = true;
    pthread_mutex_unlock(&rt->gc.orphan_mu);
    /* Release outside orphan_mu: releasing may retire memory through QSBR,
     * which must not happen under a lock other online threads wait for. */
    while (dead != NULL) {
        struct gc_head *next = (struct gc_head *)dead->aux;
        gcl_release_memory(ts, GC_HEAD_OBJ(dead));
        dead = next;
    }
}
