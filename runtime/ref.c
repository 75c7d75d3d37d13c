/* runtime/ref.c: the out-of-line halves of reference counting.
 *
 * Counts (see rcgc/object.h for the fields and docs/refcount.md for the
 * design): with L = ob_ref_local, S = the count in ob_ref_shared and
 * q = 1 while the object sits in its owner's merge queue, the number of
 * references is
 *
 *     R = L + S - q
 *
 * A non-owner whose decrement would take S below zero (S == 0, state
 * UNSHARED or MAYBE_WEAKREF) instead sets the state to QUEUED without
 * decrementing: its reference becomes the queue's (q = 1), which keeps the
 * object alive until the owner merges it and subtracts that reference
 * (brc.c).  Consequences that the code below relies on:
 *   - while QUEUED, a merge at the owner's local zero yields S >= 1, so only
 *     the queue's merge can find the object dead;
 *   - an owner whose local count reaches 0 merges at once: if S == 0 and the
 *     state is UNSHARED nobody else can hold or take a reference (a thread
 *     that might, through a weakref, would have set MAYBE_WEAKREF) and the
 *     object is freed without an atomic read-modify-write;
 *   - every other death is decided by one compare-and-swap (or fetch_sub on
 *     a merged object) that leaves the count at 0 in state MERGED, which
 *     ref_try_incref refuses, so "take a reference if alive" is safe.
 *
 * Memory order: a decrement that may be the last is acq_rel (release: this
 * thread's writes to the object happen-before its deallocation; acquire:
 * the deallocating thread sees every other thread's writes).  Increments
 * are relaxed.  The owner's own reads of ob_ref_shared before it decides
 * an object's death are acquire, pairing with those acq_rel decrements.
 */
#define RCGC_BUILDING 1
#include <stdio.h>
#include <stdlib.h>

#include <sched.h>

#include "internal.h"

_Thread_local uintptr_t rc_tls_tid = RC_TID_UNREGISTERED;

/* Arithmetic shift of a signed value: implementation-defined in C11 and
 * arithmetic on every compiler rcgc supports (gcc, clang). */
static inline intptr_t sh_count(intptr_t s) { return s >> RC_REF_SHARED_SHIFT; }
static inline intptr_t sh_state(intptr_t s) { return s & RC_REF_STATE_MASK; }
/* count * 4 + state, not count << 2: left-shifting a negative is UB. */
static inline intptr_t sh_pack(intptr_t count, intptr_t state)
{
    return count * RC_REF_ONE_SHARED + state;
}

void rc_fatal_refcount(rc_object *o, const char *what)
{
    rc_fatal("%s: object %p", what, (void *)o);
}

void rc_incref_saturated(rc_object *o)
{
    /* The owner's local count is at its cap (or a non-owner read the cap):
     * count this reference in the shared count instead.  relaxed: as any
     * increment. */
    rc_atomic_add_relaxed(&o->ob_ref_shared, RC_REF_ONE_SHARED);
}

intptr_t ref_merge(rc_object *o, intptr_t extra)
{
    /* relaxed: the caller is the owner (its own writes) or the owner has
     * exited (its writes happen-before our lookup of it, through the
     * registry lock in brc.c). */
    uint32_t local = rc_atomic_load_relaxed(&o->ob_ref_local);
    if (local == RC_REF_IMMORTAL)
        return 1;   /* made immortal while queued: its counts are frozen */
    /* Clear tid and local before the CAS: once the CAS publishes MERGED
     * another thread may free the object, so we must not write it after.
     * A thread that reads ob_tid == 0 takes the shared path, which is
     * correct in every state. */
    /* release: a thread that reads the 0 (instance.c: slot_unbias, which
     * then trusts that no owner writes slots without the lock) sees every
     * write the owner made before, its unlocked slot writes included. */
    rc_atomic_store_release(&o->ob_tid, RC_TID_NONE);
    /* release: rc_refcount, seeing this 0, then sees the store above. */
    rc_atomic_store_release(&o->ob_ref_local, 0);
    intptr_t shared = rc_atomic_load_relaxed(&o->ob_ref_shared);
    intptr_t merged;
    do {
        merged = sh_pack(sh_count(shared) + (intptr_t)local + extra, RC_REF_MERGED);
    } while (!rc_atomic_cas_acq_rel(&o->ob_ref_shared, &shared, merged));
    if (RC_UNLIKELY(sh_count(merged) < 0))
        rc_fatal_refcount(o, "negative reference count after merge (too many rc_decref)");
    return sh_count(merged);
}

void rc_decref_local_zero(rc_object *o)
{
    /* acquire: pairs with the acq_rel decrements of other threads, so their
     * writes to the object happen-before we free it. */
    intptr_t shared = rc_atomic_load_acquire(&o->ob_ref_shared);
    if (shared == 0) {
        /* UNSHARED, S == 0: R == 0 and no thread can be taking a new
         * reference (see the file comment). */
        obj_dealloc(o);
        return;
    }
    if (ref_merge(o, 0) == 0)
        obj_dealloc(o);
}

void rc_decref_shared_mt(rc_object *o)
{
    RC_DEBUG_CHECK_ATTACHED(rc_tls_state, "rc_decref of another thread's object");
    /* The owner as we saw it before our CAS: the id to queue to.  relaxed:
     * see rc_incref. */
    uintptr_t owner = rc_atomic_load_relaxed(&o->ob_tid);
    intptr_t shared = rc_atomic_load_relaxed(&o->ob_ref_shared);
    if (sh_state(shared) == RC_REF_MERGED) {
        /* MERGED is final, so a plain atomic decrement suffices: the
         * ft-atomic mode's (and every merged object's) path. */
        intptr_t old = rc_atomic_sub_acq_rel(&o->ob_ref_shared, RC_REF_ONE_SHARED);
        if (old == sh_pack(1, RC_REF_MERGED))
            obj_dealloc(o);
        else if (RC_UNLIKELY(sh_count(old) <= 0))
            rc_fatal_refcount(o, "rc_decref on an object whose count is already 0");
        return;
    }
    intptr_t desired;
    bool queue;
    do {
        intptr_t state = sh_state(shared);
        queue = sh_count(shared) == 0 &&
                (state == RC_REF_UNSHARED || state == RC_REF_MAYBE_WEAKREF);
        /* Queueing keeps the count: our reference becomes the queue's. */
        desired = queue ? sh_pack(0, RC_REF_QUEUED) : shared - RC_REF_ONE_SHARED;
    } while (!rc_atomic_cas_acq_rel(&o->ob_ref_shared, &shared, desired));
    if (queue)
        brc_queue_object(o, owner);
    else if (desired == sh_pack(0, RC_REF_MERGED))
        obj_dealloc(o);
}

intptr_t rc_refcount(rc_object *o)
{
    if (o == NULL)
        return err_int(RC_ERR_TYPE, "rc_refcount() argument must be an object, not NULL");
    /* Two words, which other threads change while we read them: take a
     * pair that held at one moment.  The shared word read twice, unchanged,
     * brackets the local load.  A merge (ref_merge) zeroes ob_tid and the
     * local count before its compare-and-swap publishes the sum: an object
     * seen with no owner, a local count of 0 and a shared word not yet
     * MERGED is a merge half done, whose sum is not readable yet; wait for
     * it (no object rests in that state: ft-atomic's start MERGED, and a
     * dead one keeps its owner's id or a link).  So a live object the
     * caller holds never reads as 0.  acquire (shared, local): a local 0
     * loaded from a merge's release store makes its earlier store of
     * ob_tid visible to the relaxed load after it; the shared loads stay
     * in program order around them. */
    for (int spins = 0;; spins++) {
        intptr_t s1 = rc_atomic_load_acquire(&o->ob_ref_shared);
        uint32_t local = rc_atomic_load_acquire(&o->ob_ref_local);
        if (local == RC_REF_IMMORTAL)
            return (intptr_t)RC_REF_IMMORTAL;
        uintptr_t tid = rc_atomic_load_relaxed(&o->ob_tid);
        intptr_t s2 = rc_atomic_load_acquire(&o->ob_ref_shared);
        bool merging = local == 0 && tid == RC_TID_NONE && sh_state(s2) != RC_REF_MERGED;
        if (s1 == s2 && !merging)
            return (intptr_t)local + sh_count(s2) - (sh_state(s2) == RC_REF_QUEUED);
        if (spins >= 64)
            sched_yield();   /* the merging thread may have been preempted */
    }
}

int rc_is_immortal(rc_object *o)
{
    if (o == NULL)
        return err_int(RC_ERR_TYPE, "rc_is_immortal() argument must be an object, not NULL");
    /* relaxed: immortality never changes once the object is shared. */
    return rc_atomic_load_relaxed(&o->ob_ref_local) == RC_REF_IMMORTAL;
}

int ref_try_incref(rc_object *o)
{
    uint32_t local = rc_atomic_load_relaxed(&o->ob_ref_local);
    if (local == RC_REF_IMMORTAL)
        return 1;
    if (rc_atomic_load_relaxed(&o->ob_tid) == rc_tls_tid) {
        /* We own it.  Reaching local 0 either freed it (ob_tid left as is:
         * its deallocation may still be pending, e.g. in our trash stack)
         * or merged it (ob_tid = 0), so an owned object with local 0 is
         * dead; with local > 0 it is alive (a finalizer running on it has
         * resurrected it with local 1). */
        if (local == 0)
            return 0;
        rc_incref(o);
        return 1;
    }
    intptr_t shared = rc_atomic_load_relaxed(&o->ob_ref_shared);
    for (;;) {
        /* 0: may be dying on its owner's fast path (it was never marked
         * MAYBE_WEAKREF).  MERGED with count 0: dead. */
        if (shared == 0 || shared == sh_pack(0, RC_REF_MERGED))
            return 0;
        if (rc_atomic_cas_acq_rel(&o->ob_ref_shared, &shared, shared + RC_REF_ONE_SHARED))
            return 1;
    }
}

int rc_try_incref(rc_object *o)
{
    if (o == NULL)
        return err_int(RC_ERR_TYPE, "rc_try_incref() argument must be an object, not NULL");
    if (RC_UNLIKELY(rc_tls_state == NULL)) {
        err_no_thread_null("rc_try_incref");
        return -1;
    }
    /* The caller's pointer is borrowed (docs/threads.md [thr.borrow]): the
     * memory is valid until its next quiescent state, which is all that
     * ref_try_incref needs. */
    return ref_try_incref(o);
}

void ref_set_maybe_weakref(rc_object *o)
{
    if (rc_atomic_load_relaxed(&o->ob_ref_local) == RC_REF_IMMORTAL)
        return;
    intptr_t shared = rc_atomic_load_relaxed(&o->ob_ref_shared);
    while (sh_state(shared) == RC_REF_UNSHARED) {
        if (rc_atomic_cas_acq_rel(&o->ob_ref_shared, &shared, shared | RC_REF_MAYBE_WEAKREF))
            return;
    }
}

void ref_resurrect_begin(rc_object *o, bool maybe_weakref)
{
    /* The object is dead and held exclusively by this thread: stamp it as
     * new, with one reference.  A weakref may hand it to another thread
     * while the finalizer runs (ref_try_incref's CAS on ob_ref_shared), so
     * the shared count is published last, once, with release: that thread
     * then sees the new tid and local count and our earlier writes. */
    const struct thr_state *ts = rc_tls_state;
    intptr_t shared = ts->stamp_shared;
    if (maybe_weakref && sh_state(shared) == RC_REF_UNSHARED)
        shared |= RC_REF_MAYBE_WEAKREF;
    rc_atomic_store_relaxed(&o->ob_tid, ts->stamp_tid);         /* ordered by the release below */
    rc_atomic_store_relaxed(&o->ob_ref_local, ts->stamp_local); /* ordered by the release below */
    rc_atomic_store_release(&o->ob_ref_shared, shared);
}

int ref_resurrect_end(rc_object *o)
{
    if (rc_atomic_load_relaxed(&o->ob_ref_local) == RC_REF_IMMORTAL)
        return 1;   /* the finalizer made it immortal: alive for good */
    if (rc_atomic_load_relaxed(&o->ob_tid) == rc_tls_tid) {
        uint32_t local = rc_atomic_load_relaxed(&o->ob_ref_local) - 1;
        rc_atomic_store_relaxed(&o->ob_ref_local, local);
        if (local != 0)
            return 1;
        intptr_t shared = rc_atomic_load_acquire(&o->ob_ref_shared); /* as rc_decref_local_zero */
        if (shared == 0)
            return 0;
        return ref_merge(o, 0) != 0;
    }
    /* ft-atomic: the stamp is MERGED (ob_tid 0), so the object cannot be
     * queued; one atomic decrement decides. */
    intptr_t old = rc_atomic_sub_acq_rel(&o->ob_ref_shared, RC_REF_ONE_SHARED);
    return old != sh_pack(1, RC_REF_MERGED);
}
