/* runtime/borrow.h: what the borrowed container reads (rc_list_get_borrowed
 * in list.c, rc_dict_get_borrowed in dict.c) share.
 *
 * A borrowed read returns an item without writing its counts; the pointer
 * stays valid until the calling thread's next quiescent state (ft modes:
 * QSBR keeps the memory of RC_GC_SHARED objects) or, in gil mode, until it
 * lets another thread run or drops a reference itself (docs/threads.md
 * [thr.borrow]).  So a borrowed read must not itself end the borrows the
 * caller already holds: it never runs a safepoint, never drops a reference,
 * and never waits detached.  obj_lock's slow path parks detached (lock.h),
 * which reports a quiescent state; the borrowed reads' rare locked fallback
 * uses obj_lock_attached instead.
 *
 * Thread rule: ft modes only (gil mode takes no container lock).
 */
#ifndef RCGC_BORROW_H
#define RCGC_BORROW_H

#ifndef RCGC_BUILDING
#error "runtime/borrow.h is internal to rcgc"
#endif

#include <sched.h>
#include <stdatomic.h>

#include "lock.h"

/* Take o's lock byte, waiting attached (spinning, yielding the CPU) rather
 * than parked.  Deadlock-free because of lock.h's rule: the holder runs no
 * safepoint and no object code under the lock, so it never waits for this
 * thread (nor parks for a stop-the-world) before it unlocks; and a thread
 * that stops the world finds no container locked.  A waiting stop-the-world
 * requester waits for this thread only until the holder unlocks.  The
 * PARKED bit of other waiters is kept; release with obj_unlock, which wakes
 * them.  acquire on success: pairs with the holder's release in
 * obj_unlock, as obj_lock does. */
static inline void obj_lock_attached(rc_object *o)
{
    for (;;) {
        /* relaxed: only a hint; the CAS decides. */
        uint8_t v = atomic_load_explicit(&o->ob_mutex, memory_order_relaxed);
        if (!(v & LK_LOCKED) &&
            atomic_compare_exchange_weak_explicit(&o->ob_mutex, &v, (uint8_t)(v | LK_LOCKED),
                                                  memory_order_acquire, memory_order_relaxed))
            return;
        sched_yield();
    }
}

#endif /* RCGC_BORROW_H */
