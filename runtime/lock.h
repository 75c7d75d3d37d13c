/* runtime/lock.h: the per-object lock byte (ob_mutex), used by containers to
 * serialise mutation in the free-threaded modes.  Modelled on CPython's
 * PyMutex: one byte, LOCKED plus HAS_PARKED; contended lockers spin briefly,
 * then park on a condition variable in a global parking lot keyed by the
 * object's address, detached (so a stop-the-world never waits for them).
 *
 * Rules: the lock is not recursive; no object code (decref that may free,
 * finalizers, callbacks) and no safepoint runs while it is held, so a
 * holder never parks for a stop-the-world and a lock is never held across
 * one.  In gil mode containers do not use it: the GIL serialises them.
 *
 * Memory order: a successful lock is acquire, unlock is release (the pair
 * orders the protected fields).
 */
#ifndef RCGC_LOCK_H
#define RCGC_LOCK_H

#ifndef RCGC_BUILDING
#error "runtime/lock.h is internal to rcgc"
#endif

#include <stdatomic.h>

#include "rcgc/object.h"

#define LK_LOCKED 0x1u
#define LK_PARKED 0x2u

void obj_lock_slow(rc_object *o);
void obj_unlock_slow(rc_object *o);

static inline void obj_lock(rc_object *o)
{
    uint8_t expected = 0;
    if (!atomic_compare_exchange_strong_explicit(&o->ob_mutex, &expected, LK_LOCKED,
                                                 memory_order_acquire, memory_order_relaxed))
        obj_lock_slow(o);
}

static inline void obj_unlock(rc_object *o)
{
    uint8_t expected = LK_LOCKED;
    if (!atomic_compare_exchange_strong_explicit(&o->ob_mutex, &expected, 0,
                                                 memory_order_release, memory_order_relaxed))
        obj_unlock_slow(o);
}

#endif /* RCGC_LOCK_H */
