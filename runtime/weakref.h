/* runtime/weakref.h: weak references (internal part).  Every weakref list
 * and every rc_weakref.target is under rt->weakref_mu, a leaf lock under
 * which no object code runs (callbacks run after it is released). */
#ifndef RCGC_WEAKREF_H
#define RCGC_WEAKREF_H

#ifndef RCGC_BUILDING
#error "runtime/weakref.h is internal to rcgc"
#endif

#include "internal.h"

/* Target o is dying: detach every weakref to it, then run the callbacks of
 * those weakrefs that are still alive.  Called only when o has weakrefs
 * (weakref_listed). */
void weakref_clear_target(rc_object *o);

/* The home slot of target in a weakref table of cap entries (a power of
 * two): Fibonacci hashing, the product's top log2(cap) bits.  Here so the
 * tests can build the probe runs they need. */
static inline size_t weakref_table_slot(const rc_object *target, size_t cap)
{
    unsigned bits = (unsigned)__builtin_ctzll((unsigned long long)cap);
    return (size_t)(((uint64_t)(uintptr_t)target * 0x9E3779B97F4A7C15u) >> (64 - bits));
}

/* Whether o has weakrefs (an entry in the weakref table): under the
 * weakref lock, with the world stopped, or without the lock on a dying o
 * by the thread that deallocates it, which is how most objects, which
 * never get a weakref, skip the runtime-wide lock.  Sound there because
 * no weakref to o can be made any more (making one needs a reference),
 * every one made before was made by a thread whose reference was dropped
 * before the count reached 0 (release/acquire on the count), and a
 * concurrent weakref_dealloc only removes entries. */
static inline bool weakref_listed(rc_object *o)
{
    /* acquire: pairs with weak_remove's release store of 0, so that a
     * dying object's memory is freed after the last store to it by the
     * thread that emptied its list. */
    return rc_atomic_load_acquire(&o->ob_weak) != 0;
}

/* A callback to run later, with a reference to its weakref. */
struct weakref_cb {
    rc_object *weakref;
    rc_weakref_callback callback;
    void *arg;
};

/* The collector, world stopped: o is garbage.  Detach every weakref to o;
 * for each that has a callback and is not garbage itself (is_garbage says),
 * take a reference to it and append its callback to *cbs (grown with
 * realloc; *n entries). */
void weakref_detach_for_gc(rc_object *o, struct weakref_cb **cbs, size_t *n,
                           bool (*is_garbage)(rc_object *));

/* The collector, world stopped: weakref o is garbage itself.  Detach it
 * from its target's list (as CPython's collector clears every weakref in
 * the garbage): the target's death then cannot find it, so its callback
 * never runs and nobody else takes a reference to it. */
void weakref_detach_garbage(rc_object *o);

/* A thread-local collection (gc/garbage.c, no stop) holds the weakref lock
 * while it checks that no other thread took a reference to its garbage and
 * detaches the weakrefs to it, with the _locked variants of the above. */
void weakref_lock(void);
void weakref_unlock(void);
void weakref_detach_for_gc_locked(rc_object *o, struct weakref_cb **cbs, size_t *n,
                                  bool (*is_garbage)(rc_object *));
void weakref_detach_garbage_locked(rc_object *o);
/* Whether o's weakrefs include one with a callback that is not garbage
 * itself (is_garbage says): detaching would call it.  Under the lock. */
bool weakref_callback_locked(rc_object *o, bool (*is_garbage)(rc_object *));
#endif /* RCGC_WEAKREF_H */
