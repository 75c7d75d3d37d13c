/* rcgc/object.h: the object header and the inline reference-count fast paths.
 *
 * The header is shown here only because rc_incref/rc_decref are inline, as
 * CPython's Include/refcount.h shows ob_refcnt; user code must not touch the
 * fields.  Layout in the spirit of PEP 703 (see docs/refcount.md):
 *
 *   ob_tid         owner thread id.  Written by the allocating thread before
 *                  the object is published, then only by the thread that
 *                  merges the counts (sets it to 0), or by the thread that
 *                  holds the object exclusively during deallocation
 *                  (resurrection).  Read by any thread with a relaxed load:
 *                  a stale value only sends a thread down the shared path,
 *                  which is always correct.
 *   ob_flags       type-independent flags (RC_OBF_*).  Written before
 *                  publication, or with the object held exclusively.
 *   ob_weak        nonzero while the object has weakrefs, whose list is in
 *                  the runtime's weakref table (runtime/weakref.c) rather
 *                  than in the object.  Written under the weakref lock (a
 *                  relaxed store sets it, a release store clears it); read
 *                  under it, with the world stopped, or (acquire) by the
 *                  thread that deallocates the object.
 *   ob_mutex       the object's lock byte (container mutation, ft mode).
 *   ob_gc_bits     collector bits (RC_GC_*), relaxed atomic accesses.  Set or
 *                  cleared before publication, by the thread that
 *                  deallocates, or with the world stopped; RC_GC_SHARED is
 *                  also set (atomic or) by any thread that stores the object
 *                  into a container in the ft modes.
 *   ob_ref_local   owner-local count: written only by the owner thread, with
 *                  relaxed stores (no other thread writes it, so no ordering
 *                  is needed; atomic only so that other threads' relaxed
 *                  reads of it for the immortal test are not data races).
 *                  RC_REF_IMMORTAL marks an immortal object.
 *   ob_ref_shared  shared count << 2 | merge state, atomic from any thread.
 *   ob_type        set at allocation, never changed.
 *
 * One code path serves all three modes; the mode only decides what a new
 * object is stamped with (runtime/ref.c, ref_stamp):
 *   gil        ob_tid = RC_TID_GIL, and every thread's tid is RC_TID_GIL, so
 *              every op is the plain owner path (safe: the GIL serialises);
 *   ft         ob_tid = the allocating thread's unique id (biased counting);
 *   ft-atomic  ob_tid = 0, which is no thread's id, and the counts start
 *              merged: every op is one atomic op on ob_ref_shared.
 */
#ifndef RCGC_OBJECT_H
#define RCGC_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "rcgc/atomic.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_object rc_object;
typedef struct rc_type rc_type;

struct rc_object {
    _Atomic uintptr_t ob_tid;
    uint8_t ob_flags;
    _Atomic uint8_t ob_weak;
    _Atomic uint8_t ob_mutex;
    _Atomic uint8_t ob_gc_bits;
    _Atomic uint32_t ob_ref_local;
    _Atomic intptr_t ob_ref_shared;
    const rc_type *ob_type;
};

/* ob_ref_local: an immortal object's local count.  Mortal local counts stay
 * below RC_REF_LOCAL_MAX; past it the owner's increments go to the shared
 * count, so the local count can never overflow into RC_REF_IMMORTAL. */
#define RC_REF_IMMORTAL      UINT32_MAX
#define RC_REF_LOCAL_MAX     (UINT32_MAX - 1)

/* ob_ref_shared: count << RC_REF_SHARED_SHIFT | state.  States only move
 * forward: UNSHARED -> MAYBE_WEAKREF -> QUEUED -> MERGED (a state may be
 * skipped).  MAYBE_WEAKREF: some thread that holds no reference may try to
 * take one (weakref, lock-free read), so the object's death must go through
 * a compare-and-swap.  QUEUED: the shared count went negative and the object
 * waits in its owner's merge queue.  MERGED: ob_ref_shared holds the whole
 * count; ob_tid is 0 and ob_ref_local is 0. */
#define RC_REF_SHARED_SHIFT  2
#define RC_REF_STATE_MASK    ((intptr_t)3)
#define RC_REF_UNSHARED      ((intptr_t)0)
#define RC_REF_MAYBE_WEAKREF ((intptr_t)1)
#define RC_REF_QUEUED        ((intptr_t)2)
#define RC_REF_MERGED        ((intptr_t)3)
#define RC_REF_ONE_SHARED    ((intptr_t)1 << RC_REF_SHARED_SHIFT)

/* ob_tid values that are not thread ids.  Thread ids in ft modes start at
 * RC_TID_FIRST and are never reused within a process. */
#define RC_TID_NONE   ((uintptr_t)0)          /* merged / ft-atomic / immortal */
#define RC_TID_GIL    ((uintptr_t)1)          /* gil mode: all threads share it */
#define RC_TID_FIRST  ((uintptr_t)2)
#define RC_TID_UNREGISTERED UINTPTR_MAX       /* a thread with no thread state */

/* The calling thread's id (RC_TID_UNREGISTERED if it has no thread state).
 * Written only by its own thread, at attach/detach of its thread state. */
extern _Thread_local uintptr_t rc_tls_tid __attribute__((tls_model("initial-exec")));

/* Out-of-line halves of the fast paths (runtime/ref.c). */
void rc_incref_saturated(rc_object *o);   /* owner's local count at its cap */
void rc_decref_shared_mt(rc_object *o);   /* caller is not the owner */
void rc_decref_local_zero(rc_object *o);  /* owner's local count reached 0 */
void rc_fatal_refcount(rc_object *o, const char *what) __attribute__((noreturn));

/* Take a reference.  NULL is ignored (like CPython's Py_XINCREF). */
static inline void rc_incref(rc_object *o)
{
    if (o == NULL)
        return;
    /* relaxed: only the owner writes ob_ref_local; others read it only to
     * test for RC_REF_IMMORTAL, which never changes once set. */
    uint32_t local = rc_atomic_load_relaxed(&o->ob_ref_local);
    if (__builtin_expect(local >= RC_REF_LOCAL_MAX, 0)) {
        if (local != RC_REF_IMMORTAL)
            rc_incref_saturated(o);
        return;
    }
    /* relaxed: a stale ob_tid only sends us down the shared path. */
    if (rc_atomic_load_relaxed(&o->ob_tid) == rc_tls_tid)
        rc_atomic_store_relaxed(&o->ob_ref_local, local + 1);
    else
        /* relaxed: an increment publishes nothing; the caller already holds
         * a reference obtained through some synchronised path. */
        rc_atomic_add_relaxed(&o->ob_ref_shared, RC_REF_ONE_SHARED);
}

/* Drop a reference; the object is deallocated when the last one goes.
 * NULL is ignored (like CPython's Py_XDECREF). */
static inline void rc_decref(rc_object *o)
{
    if (o == NULL)
        return;
    uint32_t local = rc_atomic_load_relaxed(&o->ob_ref_local);
    if (__builtin_expect(local == RC_REF_IMMORTAL, 0))
        return;
    if (rc_atomic_load_relaxed(&o->ob_tid) == rc_tls_tid) {
#ifdef RCGC_DEBUG
        /* An owner never sees local == 0 on a live object: reaching 0
         * either frees the object or merges it (ob_tid becomes 0). */
        if (local == 0)
            rc_fatal_refcount(o, "rc_decref on a freed object (owner count already 0)");
#endif
        rc_atomic_store_relaxed(&o->ob_ref_local, local - 1);
        if (local == 1)
            rc_decref_local_zero(o);
    } else {
        rc_decref_shared_mt(o);
    }
}

/* Replace *slot with a new reference to v and drop the old one (v may be
 * NULL).  The old value is dropped last, as CPython's Py_SETREF does. */
static inline void rc_setref(rc_object **slot, rc_object *v)
{
    rc_object *old = *slot;
    rc_incref(v);
    *slot = v;
    rc_decref(old);
}

/* The object's true reference count: local + shared, like
 * sys.getrefcount() without the argument's own reference.  Immortal objects
 * report RC_REF_IMMORTAL.  A snapshot: other threads may change it at once,
 * but it is a count the object had at one moment (never a sum of two words
 * read at different moments, nor a merge half done), so an object the
 * caller holds reads at least 1.  Returns -1 with an error for NULL. */
intptr_t rc_refcount(rc_object *o);

/* Take a reference to o only if it is still alive: for a BORROWED pointer
 * (rc_list_get_borrowed, rc_dict_get_borrowed) that is to be kept past the
 * borrow's end or stored (docs/threads.md [thr.borrow]).  o's memory must
 * be valid: the borrow has not ended.  Returns 1 with a new reference,
 * also for an object whose count already reached 0 but whose death is not
 * decided yet (queued to its owner), or whose finalizer is running: the
 * reference then resurrects it, as dereferencing a weakref does (PEP 442
 * allows it).  0 with no reference and no error when o's death has been
 * decided, and also when it cannot tell o from dying right now (ft mode,
 * another thread's object whose shared count is 0: its owner may be
 * freeing it on its non-atomic path): no reference taken; take one
 * through the container (rc_list_get / rc_dict_get).  -1 with an error
 * for NULL or a thread without a state.  Writes o's shared count (an
 * atomic read-modify-write) when o is not owned by the caller and not
 * immortal. */
int rc_try_incref(rc_object *o);

/* 1 if o is immortal (its counts are never written), else 0. */
int rc_is_immortal(rc_object *o);

/* Make o immortal for the rest of the runtime's life (PEP 683).  The
 * runtime releases it at rc_runtime_free.  Returns 0, consuming the caller's
 * reference; or -1 with an error, leaving the caller's reference alone.
 * Safe while other threads hold and count o: in ft mode, on an object
 * another thread owns, it stops the world for the store (so it may wait
 * for every thread to reach a safepoint, and it ends borrows); on the
 * caller's own objects, and in gil and ft-atomic mode, it does not.  Other
 * threads' references need not be dropped: counts are never written again
 * (docs/refcount.md [ref.immortal]). */
int rc_make_immortal(rc_object *o);

/* Mortal objects currently alive in the runtime (allocated - freed, summed
 * over all threads).  Exact when no other thread is allocating or freeing. */
size_t rc_live_objects(void);

/* The object's type, borrowed (types live as long as the runtime). */
const rc_type *rc_type_of(rc_object *o);

/* The type's name, borrowed. */
const char *rc_type_name(const rc_type *t);

#ifdef __cplusplus
}
#endif

#endif /* RCGC_OBJECT_H */
