/* gc/garbage.c: what every collector does once it has found the
 * unreachable set (collector.h, phases 2 to 4; docs/gc.md [gc.phases]
 * steps 5 to 8): weakrefs, the collector's references, callbacks and
 * finalizers (PEP 442: once per object), resurrection, and clearing.
 *
 * Thread rule: the collecting thread owns struct collection.  Helpers
 * named _stw run with the world stopped by it (asserted in debug builds);
 * the rest run with the world running, on a private list that no other
 * thread reaches.  No object code runs while the world is stopped (a
 * parked thread may hold a lock that a finalizer wants).
 */
#define RCGC_BUILDING 1
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "objects.h"
#include "weakref.h"

static int visit_decref(rc_object *target, void *arg)
{
    if (gc_collecting(target))
        OBJ_GC_HEAD(target)->aux--;
    return 0;
}

/* Subtract the references that objects of `list` hold to each other
 * (phase 3's small unreachable list). */
static void subtract_refs_stw(struct gc_head *list)
{
    RC_ASSERT_STW("subtract_refs_stw");
    for (struct gc_head *g = list->next; g != list; g = g->next) {
        rc_object *o = GC_HEAD_OBJ(g);
        if (gc_collecting(o))
            o->ob_type->traverse(o, visit_decref, NULL);
    }
}

/* Objects reachable from `list` (whose members all survive) that are still
 * in the unreachable set (gc_refs 0) join `list`, and are scanned in turn:
 * the list is its own work queue. */
struct reach {
    struct gc_head *reachable;   /* append here what becomes reachable */
};

static int visit_reachable(rc_object *target, void *arg)
{
    if (gc_collecting(target)) {
        struct gc_head *g = OBJ_GC_HEAD(target);
        if (gc_refs(g) == 0) {
            struct reach *r = arg;
            gcl_remove(g);
            gcl_append(r->reachable, g);
            g->aux = 1;
        }
    }
    return 0;
}

static size_t list_length(const struct gc_head *list)
{
    size_t n = 0;
    for (const struct gc_head *g = list->next; g != list; g = g->next)
        n++;
    return n;
}

/* Put survivors back into their owners' lists for generation `dest`.
 * Returns how many were moved. */
static long put_back_stw(struct collection *c, struct gc_head *list, int dest)
{
    RC_ASSERT_STW("put_back_stw");
    long n = 0;
    uint8_t old = dest == RC_GC_GENERATIONS - 1 ? RC_GC_OLD : 0;
    while (!gcl_is_empty(list)) {
        struct gc_head *g = list->next;
        rc_object *o = GC_HEAD_OBJ(g);
        /* World stopped: nobody else writes the bits. */
        gc_set_bits_stw(o, (uint8_t)((obj_gc_bits(o) & ~RC_GC_COLLECTING) | old));
        gcl_remove(g);
        gcl_append(gc_dest_list_stw(c->rt, g, dest), g);
        n++;
    }
    return n;
}

/* ------------------------------------------------------ phase 1's end */

/* Collect the weakref callbacks of the unreachable set; weakrefs that are
 * unreachable themselves get none.  The world is stopped. */
static bool is_garbage(rc_object *o)
{
    /* From relink to phase 3: the members of the set still COLLECTING
     * with gc_refs 0 are the unreachable ones. */
    return gc_collecting(o) && gc_refs(OBJ_GC_HEAD(o)) == 0;
}

/* The weakrefs of one unreachable object o: those to it detached, those
 * it is (a garbage weakref to a live target) detached from its target, or
 * the target's death would run its callback and hand it to another
 * thread. */
static inline void handle_weakrefs_of(struct collection *c, rc_object *o)
{
    if (weakref_listed(o))
        weakref_detach_for_gc(o, &c->cbs, &c->ncbs, is_garbage);
    if (obj_is(o, &rc_weakref_type))
        weakref_detach_garbage(o);
}

void gc_handle_weakrefs_stw(struct collection *c)
{
    RC_ASSERT_STW("gc_handle_weakrefs_stw");
    for (struct gc_head *g = c->unreachable.next; g != &c->unreachable; g = g->next)
        handle_weakrefs_of(c, GC_HEAD_OBJ(g));
}

/* Whether o may be merged here: another thread owns its local count (ft
 * mode, mortal), and it is not QUEUED.  The stop merged every queue, but a
 * thread that parked while working through a batch it had taken out of its
 * queue (brc_merge_queued: a finalizer of an object of the batch reached a
 * safepoint) still holds QUEUED objects with the queue's reference in
 * their count; merging one would lose that state and leave its count one
 * too high until the owner merges it.  Those keep the old path. */
static inline bool owned_elsewhere(rc_object *o)
{
    uintptr_t tid = rc_atomic_load_relaxed(&o->ob_tid);
    if (tid == RC_TID_NONE || tid == RC_TID_GIL || tid == rc_tls_tid ||
        rc_atomic_load_relaxed(&o->ob_ref_local) == RC_REF_IMMORTAL)
        return false;
    intptr_t shared = rc_atomic_load_relaxed(&o->ob_ref_shared);
    return (shared & RC_REF_STATE_MASK) != RC_REF_QUEUED;
}

/* Non-GC objects that garbage refers to (ints, strings), that another
 * thread owns and whose shared count is 0: the garbage's references are
 * in the owner's local count, so clearing the garbage would drive the
 * shared count negative and queue them to their owner; merged, they are
 * freed here (or, if the owner still uses them, they end merged, as the
 * queue would have left them).  With a shared count above 0 the clear's
 * decrements need no queue, and the owner keeps its fast path. */
static int visit_merge(rc_object *target, void *arg)
{
    if (!gc_collecting(target) && !obj_is_gc(target) && owned_elsewhere(target) &&
        (rc_atomic_load_relaxed(&target->ob_ref_shared) >> RC_REF_SHARED_SHIFT) == 0)
        ref_merge(target, 0);
    return 0;
}

/* One reference to every unreachable object, for the collector.  The
 * world is stopped (every thread parked or detached, every queue merged
 * but the batches some owner is still working through), so an object
 * another thread owns is merged (its whole count moves into the shared
 * count, as CPython's free-threaded collector does): the collector's
 * decrefs then free it on this thread, where they would otherwise queue
 * it to its owner one by one through the biased-refcount queues. */
void gc_hold_begin_stw(struct collection *c, rc_object **buf, size_t room)
{
    RC_ASSERT_STW("gc_hold_begin_stw");
    c->held = buf;
    c->nheld = 0;
    c->held_room = room;
    c->finalizers = 0;
}

void gc_hold_stw(struct collection *c, rc_object *o)
{
    if (c->nheld == c->held_room)
        rc_fatal("collector: %zu unreachable objects, more than the set held", c->held_room);
    /* Each object's weakrefs before its reference: is_garbage reads only
     * the collector's bits and gc_refs, which neither holding nor the
     * relinking of the others (a survivor's bit cleared, its gc_refs
     * MARKED) changes for what it asks, so the order across objects does
     * not matter. */
    handle_weakrefs_of(c, o);
    if (o->ob_type->finalize != NULL && !(obj_gc_bits(o) & RC_GC_FINALIZED))
        c->finalizers++;
    if (owned_elsewhere(o)) {
        ref_merge(o, 1);
        o->ob_type->traverse(o, visit_merge, NULL);
    } else {
        rc_incref(o);   /* no object code: an increment */
    }
    c->held[c->nheld++] = o;
}

static void run_weakref_callbacks(struct collection *c)
{
    for (size_t i = 0; i < c->ncbs; i++) {
        c->cbs[i].callback(c->cbs[i].weakref, c->cbs[i].arg);
        rc_decref(c->cbs[i].weakref);
    }
    free(c->cbs);
    c->cbs = NULL;
    c->ncbs = 0;
}

/* Returns whether any object code ran. */
static bool run_callbacks_and_finalizers(struct collection *c)
{
    bool ran = c->ncbs > 0;
    run_weakref_callbacks(c);
    /* Counted in phase 1 (nearly always none): a finalizer runs only in
     * its object's deallocation, which our references keep from happening,
     * so none has run since. */
    if (c->finalizers == 0)
        return ran;
    /* The unreachable list is private and our references keep every member
     * alive, so it does not change under the finalizers' feet. */
    for (struct gc_head *g = c->unreachable.next; g != &c->unreachable; g = g->next) {
        rc_object *o = GC_HEAD_OBJ(g);
        rc_finalize_fn fin = o->ob_type->finalize;
        if (fin != NULL && !(obj_gc_bits(o) & RC_GC_FINALIZED)) {
            rc_atomic_or_relaxed(&o->ob_gc_bits, RC_GC_FINALIZED);
            fin(o);
            ran = true;
        }
    }
    return ran;
}

/* Phase 3, world stopped: survivors of the finalizers.  gc_refs = count
 * minus our reference minus references from inside the set; the objects
 * left above zero were resurrected, with everything they reach. */
static void handle_resurrected_stw(struct collection *c, struct gc_head *resurrected)
{
    RC_ASSERT_STW("handle_resurrected_stw");
    for (struct gc_head *g = c->unreachable.next; g != &c->unreachable; g = g->next)
        g->aux = (uintptr_t)(rc_refcount(GC_HEAD_OBJ(g)) - 1);
    subtract_refs_stw(&c->unreachable);
    struct gc_head *g = c->unreachable.next;
    while (g != &c->unreachable) {
        struct gc_head *next = g->next;
        if (gc_refs(g) > 0) {
            gcl_remove(g);
            gcl_append(resurrected, g);
        }
        g = next;
    }
    struct reach r = {resurrected};
    for (g = resurrected->next; g != resurrected; g = g->next) {
        rc_object *o = GC_HEAD_OBJ(g);
        o->ob_type->traverse(o, visit_reachable, &r);
    }
}

/* Drop the collector's references.  Garbage was cleared, so this frees it;
 * an object something still refers to after its clear is tracked again. */
/* Drop the collector's reference to a piece of garbage, cleared: one that
 * is still referenced (resurrected) is tracked again. */
void gc_release_garbage(rc_object *o)
{
    if (!(obj_gc_bits(o) & RC_GC_TRACKED) && rc_refcount(o) > 1)
        obj_track(o);
    rc_decref(o);
}

static void release_held(struct collection *c)
{
    for (size_t i = 0; i < c->nheld; i++)
        gc_release_garbage(c->held[i]);
    c->held = NULL;
    c->nheld = 0;
    /* The buffer held them (gc_hold_begin_stw): shrunk now, with the
     * world running, if a big collection grew it.  A thread-local
     * collection's is the thread's own (gts->lwork). */
    if (!c->local)
        gc_work_trim(c->rt->gc);
}

/* --------------------------------------- a thread-local collection's end */

/* The garbage of the calling thread's local collection: its members left
 * unreachable (another thread's local collection marks its own). */
static bool is_local_garbage(rc_object *o)
{
    /* Ours first (gc_local_member): another thread's local collection may
     * be writing the flags and aux word of its own objects. */
    return gc_local_member(o) && gc_refs(OBJ_GC_HEAD(o)) == 0;
}

enum local_settle gc_local_settle(struct collection *c, long *survivors)
{
    /* The decision read each member's count once, at a different moment:
     * another thread that held a count on a member read later could have
     * moved it meanwhile to one read earlier (a count taken through a
     * reference of its own, say a tuple's item), making the set look
     * unreferenced.  Reading what a member refers to escapes it first
     * (runtime/internal.h), which waits for the decision, so such a move
     * cannot happen; this pass checks it again all the same, cheaply: a
     * count any other thread holds on the garbage shows in its shared
     * count, and a touch as an escape.  acquire: ordered after the whole
     * decision.  Then the garbage is closed to stale lock-free readers
     * (state MAYBE_WEAKREF, from a weakref or a lock-free read that fell
     * back to the lock): its shared word goes to 0, which ref_try_incref
     * refuses; and its weakrefs are detached, in the same hold of the
     * weakref lock, under which nobody takes a reference through them.
     * Garbage that would run object code (a finalizer, a weakref callback)
     * is left to a collection that stops the world: a local collection
     * runs none, so no stop ever sees its garbage (COLLECTING, gc_refs 0)
     * half handled. */
    atomic_thread_fence(memory_order_acquire);
    bool reached = false, code = false, weak = false;
    rc_object **held = c->held;
    size_t n = c->nheld, i;
    for (i = 0; i < n; i++) {
        rc_object *o = held[i];
        intptr_t shared = rc_atomic_load_relaxed(&o->ob_ref_shared);
        if ((obj_gc_bits(o) & RC_GC_ESCAPED) || (uintptr_t)shared > (uintptr_t)RC_REF_MAYBE_WEAKREF)
            reached = true;
        if (o->ob_type->finalize != NULL && !(obj_gc_bits(o) & RC_GC_FINALIZED))
            code = true;
        weak |= shared != 0;   /* MAYBE_WEAKREF: weakrefs, or read lock-free */
    }
    if (!reached && !code && weak) {
        weakref_lock();
        for (i = 0; i < n; i++) {
            rc_object *o = held[i];
            if (weakref_listed(o) && weakref_callback_locked(o, is_local_garbage)) {
                code = true;
                break;
            }
            intptr_t expected = RC_REF_MAYBE_WEAKREF;
            if (rc_atomic_load_relaxed(&o->ob_ref_shared) != 0 &&
                !rc_atomic_cas_acq_rel(&o->ob_ref_shared, &expected, 0)) {
                reached = true;   /* a count taken since the pass above */
                break;
            }
        }
        if (reached || code) {
            /* Open again what was closed: alive after all, or left to a
             * collection that stops the world. */
            for (size_t k = 0; k < i; k++)
                ref_set_maybe_weakref(held[k]);
        } else {
            for (i = 0; i < n; i++) {
                rc_object *o = held[i];
                if (weakref_listed(o))
                    weakref_detach_for_gc_locked(o, &c->cbs, &c->ncbs, is_local_garbage);
                if (rc_is_weakref(o))
                    weakref_detach_garbage_locked(o);
            }
        }
        weakref_unlock();
    }
    if (!reached && !code)
        return LOCAL_SETTLED;
    /* Put back: alive after all, as the decision's survivors (the next
     * generation); or garbage that needs code, into generation 0 again,
     * for the young collection that stops the world which the caller asks
     * for.  Our references are dropped (a count that reaches 0 frees the
     * object as any drop does). */
    for (i = 0; i < n; i++) {
        struct gc_head *g = OBJ_GC_HEAD(held[i]);
        if (reached) {
            gc_local_promote(c, g);
        } else {
            held[i]->ob_flags &= (uint8_t)~RC_OBF_LOCAL;
            gcl_append(&c->ts->gcl->lists[0], g);
        }
        (*survivors)++;
    }
    for (i = 0; i < n; i++)
        rc_decref(held[i]);
    c->held = NULL;
    c->nheld = 0;
    return reached ? LOCAL_REACHED : LOCAL_NEEDS_CODE;
}

/* ------------------------------------------------------- phases 2 to 4 */

long gc_finish(struct collection *c, long *survivors, long *saved)
{
    struct rc_runtime *rt = c->rt;
    struct gc_state *gc = rt->gc;
    /* Where the survivors went (gc_trial_deletion_stw): what the garbage's code
     * resurrects joins them. */
    int dest = c->dest > 0 ? c->dest : gc_dest_generation(c->gen);
    long found = (long)c->nheld;

    /* ---- phase 2: world running ---- */
    bool ran_code = run_callbacks_and_finalizers(c);
    /* A thread that waited out phase 1's stop online (slot_unbias in
     * instance.c) kept the references it had borrowed, possibly to what
     * phase 1 found garbage, and may have taken a reference through one
     * since (rc_try_incref, a locked slot read): as if code had run. */
    ran_code |= c->parked_online;

    /* ---- phase 3: world stopped, unless no object code ran ----
     * With no callback or finalizer run since phase 1, nothing can have
     * resurrected the garbage (unreachable, its weakrefs detached) or
     * made a new weakref to it, and the garbage is in no owner's list:
     * the private list is emptied without stopping the world.  The
     * garbage list (SAVEALL) and the verifier need the world stopped. */
    bool stop_again = ran_code || c->saveall || c->verify;
    if (stop_again)
        gc_stop(c);
    for (;;) {
        struct gc_head resurrected;
        gcl_init(&resurrected);
        if (ran_code) {
            handle_resurrected_stw(c, &resurrected);
            *survivors += put_back_stw(c, &resurrected, dest);
        }
        /* A finalizer or callback may have made a new weakref to garbage;
         * a thread that already took a reference through one has
         * resurrected the object (counted just now), and with the world
         * stopped nobody can take one any more: detach them.  Their
         * callbacks run before the garbage is cleared. */
        if (ran_code && !c->saveall)
            gc_handle_weakrefs_stw(c);
        /* A thread that waited out this stop online keeps its borrows past
         * it, and may take a reference to the garbage once the world runs:
         * let it, then look again.  Each such wait needs a thread whose
         * slot bias is still on, and each bias ends once, so this ends. */
        if (!stop_again || !stw_parked_online(rt))
            break;
        gc_start(c);
        gc_stop(c);
        ran_code = true;
    }
    *saved = 0;
    /* The garbage leaves every list with these bits cleared.  With no
     * stop in phase 3 and no code run, the unreachable list is c->held,
     * and phase 4 unlinks each piece as it clears it (one pass over the
     * garbage instead of two); until then nothing reads their links or
     * bits but this thread (they are in no owner's list, and nothing
     * outside the garbage refers to them). */
    const uint8_t off = (uint8_t)~(RC_GC_COLLECTING | RC_GC_TRACKED | RC_GC_OLD);
    bool unlink_in_clear = !stop_again && !c->saveall && !c->local && !c->defer_clear;
    if (c->saveall) {
        /* Kept alive in the garbage list: back into the lists. */
        size_t n = list_length(&c->unreachable);
        c->saved = n ? malloc(n * sizeof *c->saved) : NULL;
        if (n && c->saved == NULL)
            rc_fatal("collector: out of memory saving %zu objects", n);
        for (struct gc_head *g = c->unreachable.next; g != &c->unreachable; g = g->next)
            c->saved[c->nsaved++] = GC_HEAD_OBJ(g);
        *saved = put_back_stw(c, &c->unreachable, dest);
        *survivors += *saved;
    } else {
        /* Garbage: out of every list; held only by us and by itself.
         * An atomic and: with the world running (no stop for phase 3) a
         * bit another thread sets must not be lost, whatever the path.
         * A local collection's garbage no other thread counts, holds or
         * may store (gc_local_settle): the one bit another thread may
         * still set is RC_GC_ESCAPED, by a borrowed read that loaded a
         * stale pointer and will find the object gone when it reads again,
         * so a plain load and store do (a locked instruction per object
         * was a tenth of the collection). */
        if (c->local) {
            /* Unlinked already: c->held is the garbage. */
            for (size_t i = 0; i < c->nheld; i++) {
                rc_object *o = c->held[i];
                o->ob_flags &= (uint8_t)~RC_OBF_LOCAL;
                rc_atomic_store_relaxed(&o->ob_gc_bits, (uint8_t)(obj_gc_bits(o) & off));
            }
        }
        if (unlink_in_clear) {
            gcl_init(&c->unreachable);   /* its members: c->held, below */
        } else {
            while (!gcl_is_empty(&c->unreachable)) {
                struct gc_head *g = c->unreachable.next;
                gcl_remove(g);
                rc_atomic_and_relaxed(&GC_HEAD_OBJ(g)->ob_gc_bits, off);
            }
        }
    }
    if (c->verify)
        gc_verify_heap_stw(rt, true);
    gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_FINALIZE]);
    if (stop_again)
        gc_start(c);

    /* ---- phase 4: world running ---- */
    if (c->defer_clear) {
        /* A local collection's: no weakref callback to run, and the caller
         * clears and releases the garbage a slice at a time
         * (gc_local_clear_some), c->held in the thread's own buffer. */
        gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_CLEAR]);
        return found;
    }
    if (c->saveall) {
        for (size_t i = 0; i < c->nsaved; i++)
            if (gc->garbage == NULL || rc_list_append(gc->garbage, c->saved[i]) < 0)
                rc_fatal("collector: cannot save garbage: %s", rc_error_message());
        free(c->saved);
        c->saved = NULL;
    } else {
        run_weakref_callbacks(c);   /* weakrefs made during phase 2 */
        for (size_t i = 0; i < c->nheld; i++) {
            rc_object *o = c->held[i];
            if (unlink_in_clear) {
                /* Out of the list, as gcl_remove leaves it.  An atomic and:
                 * the world runs, and a bit another thread sets must not
                 * be lost. */
                struct gc_head *g = OBJ_GC_HEAD(o);
                g->next = g->prev = NULL;
                rc_atomic_and_relaxed(&o->ob_gc_bits, off);
            } else if (obj_gc_bits(o) & RC_GC_TRACKED) {
                continue;   /* saved or resurrected: not garbage */
            }
            o->ob_type->clear(o);   /* garbage: break its cycles (held) */
        }
    }
    release_held(c);
    gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_CLEAR]);
    return found;
}
