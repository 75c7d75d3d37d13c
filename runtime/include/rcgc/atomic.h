/* rcgc/atomic.h: the one atomics wrapper of rcgc.
 *
 * Every atomic access in the project goes through these macros, so the
 * memory order in use is part of the name and can be grepped for
 * ("rc_atomic_.*_relaxed" lists every relaxed access).  They are thin
 * type-generic wrappers over C11 <stdatomic.h>.
 *
 * Conventions:
 *  - a relaxed access carries a comment saying why no ordering is needed;
 *  - an acquire names the release it pairs with, and the other way round;
 *  - acquire/release operations are preferred to bare fences, which
 *    ThreadSanitizer does not model.
 */
#ifndef RCGC_ATOMIC_H
#define RCGC_ATOMIC_H

#include <stdatomic.h>
#include <stdbool.h>

#define rc_atomic_load_relaxed(p)  atomic_load_explicit((p), memory_order_relaxed)
#define rc_atomic_load_acquire(p)  atomic_load_explicit((p), memory_order_acquire)
#define rc_atomic_load_seq_cst(p)  atomic_load_explicit((p), memory_order_seq_cst)

#define rc_atomic_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define rc_atomic_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define rc_atomic_store_seq_cst(p, v) atomic_store_explicit((p), (v), memory_order_seq_cst)

#define rc_atomic_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define rc_atomic_add_acq_rel(p, v) atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
#define rc_atomic_sub_relaxed(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)
#define rc_atomic_sub_acq_rel(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_acq_rel)
#define rc_atomic_or_acq_rel(p, v)  atomic_fetch_or_explicit((p), (v), memory_order_acq_rel)
#define rc_atomic_or_release(p, v)  atomic_fetch_or_explicit((p), (v), memory_order_release)
#define rc_atomic_or_relaxed(p, v)  atomic_fetch_or_explicit((p), (v), memory_order_relaxed)
#define rc_atomic_and_acq_rel(p, v) atomic_fetch_and_explicit((p), (v), memory_order_acq_rel)
#define rc_atomic_and_relaxed(p, v) atomic_fetch_and_explicit((p), (v), memory_order_relaxed)

#define rc_atomic_exchange_acq_rel(p, v) \
    atomic_exchange_explicit((p), (v), memory_order_acq_rel)
#define rc_atomic_exchange_acquire(p, v) \
    atomic_exchange_explicit((p), (v), memory_order_acquire)
#define rc_atomic_exchange_relaxed(p, v) \
    atomic_exchange_explicit((p), (v), memory_order_relaxed)

/* Compare-and-swap; on failure *expected receives the current value
 * (loaded relaxed: every caller retries and re-derives from it). */
#define rc_atomic_cas_acq_rel(p, expected, desired)                          \
    atomic_compare_exchange_weak_explicit((p), (expected), (desired),         \
                                          memory_order_acq_rel,               \
                                          memory_order_relaxed)
#define rc_atomic_cas_relaxed(p, expected, desired)                          \
    atomic_compare_exchange_weak_explicit((p), (expected), (desired),         \
                                          memory_order_relaxed,               \
                                          memory_order_relaxed)
#define rc_atomic_cas_release(p, expected, desired)                          \
    atomic_compare_exchange_weak_explicit((p), (expected), (desired),         \
                                          memory_order_release,               \
                                          memory_order_relaxed)
#define rc_atomic_cas_strong_acquire(p, expected, desired)                   \
    atomic_compare_exchange_strong_explicit((p), (expected), (desired),       \
                                            memory_order_acquire,             \
                                            memory_order_relaxed)
#define rc_atomic_cas_strong_acq_rel(p, expected, desired)                   \
    atomic_compare_exchange_strong_explicit((p), (expected), (desired),       \
                                            memory_order_acq_rel,             \
                                            memory_order_relaxed)

#endif /* RCGC_ATOMIC_H */
