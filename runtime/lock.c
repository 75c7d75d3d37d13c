/* runtime/lock.c: the slow paths of the object lock byte (see lock.h).
 *
 * Parking lot: LOT_SIZE buckets, each a mutex and a condition variable.  A
 * waiter sets LK_PARKED under its bucket's mutex and waits there; an
 * unlocker that finds LK_PARKED clears the whole byte under the same mutex
 * and wakes every waiter of the bucket, which then compete again (a waiter
 * that loses sets LK_PARKED again).  Because the waiter re-checks the byte
 * under the bucket mutex before waiting, and the unlocker changes a
 * PARKED byte only under it, no wake-up is lost.  Lock order: a bucket
 * mutex is a leaf; the waiter detaches before taking it.
 */
#define RCGC_BUILDING 1
#include <pthread.h>
#include <sched.h>

#include "internal.h"
#include "lock.h"

#define LOT_SIZE 64
#define SPIN_LIMIT 64

static struct lot_bucket {
    pthread_mutex_t mu;
    pthread_cond_t cv;
} lot[LOT_SIZE] = {
#define B {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER}
#define B8 B, B, B, B, B, B, B, B
    B8, B8, B8, B8, B8, B8, B8, B8
#undef B8
#undef B
};

static struct lot_bucket *bucket_of(rc_object *o)
{
    return &lot[((uintptr_t)o * 0x9E3779B97F4A7C15u) >> 58];
}

static inline bool try_set_locked(rc_object *o, uint8_t v)
{
    return atomic_compare_exchange_strong_explicit(&o->ob_mutex, &v, (uint8_t)(v | LK_LOCKED),
                                                   memory_order_acquire, memory_order_relaxed);
}

/* Park (detached) until the byte is seen unlocked.  Does not take it: the
 * caller re-attaches first and competes again, so this thread never holds a
 * lock while blocked in attach (a stop-the-world may be on, and its
 * requester may want this very lock). */
static void park_until_unlocked(struct lot_bucket *b, rc_object *o)
{
    pthread_mutex_lock(&b->mu);
    for (;;) {
        uint8_t v = atomic_load_explicit(&o->ob_mutex, memory_order_relaxed);
        if (!(v & LK_LOCKED))
            break;
        if (!(v & LK_PARKED) &&
            !atomic_compare_exchange_strong_explicit(&o->ob_mutex, &v, (uint8_t)(v | LK_PARKED),
                                                     memory_order_relaxed, memory_order_relaxed))
            continue;
        pthread_cond_wait(&b->cv, &b->mu);
    }
    pthread_mutex_unlock(&b->mu);
}

void obj_lock_slow(rc_object *o)
{
    struct lot_bucket *b = bucket_of(o);
    struct thr_state *ts = rc_tls_state;
    for (;;) {
        for (int spin = 0; spin < SPIN_LIMIT; spin++) {
            /* relaxed: only a hint; the CAS decides (acquire). */
            uint8_t v = atomic_load_explicit(&o->ob_mutex, memory_order_relaxed);
            if (!(v & LK_LOCKED) && try_set_locked(o, v))
                return;
            sched_yield();
        }
        /* Wait detached, so that a stop-the-world need not wait for us; a
         * thread that holds the world stopped waits attached (the holder of
         * o's lock never parks for a stop, so it will release it). */
        bool detach = ts != NULL && ts->attached && !ts->holds_stw;
        if (detach)
            thr_release(ts, false);
        park_until_unlocked(b, o);
        if (detach)
            thr_take(ts);   /* no safepoint: nothing may run between here and the lock */
    }
}

void obj_unlock_slow(rc_object *o)
{
    struct lot_bucket *b = bucket_of(o);
    pthread_mutex_lock(&b->mu);
    /* release: pairs with the next locker's acquire CAS. */
    atomic_store_explicit(&o->ob_mutex, 0, memory_order_release);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}
