/* rcgc/gc.h: the cycle collector, modelled on Python's gc module.
 *
 * Every container type has a traverse hook (visit each object it holds a
 * reference to) and a clear hook (drop those references, breaking cycles),
 * with CPython's tp_traverse/tp_clear meaning.  The collector is
 * generational (three generations, like CPython) and finds garbage cycles by
 * trial deletion.  Functions returning int give 0 (or a count) on success
 * and -1 with an error (rcgc/error.h) on bad input.  All of them need an
 * attached thread.
 */
#ifndef RCGC_GC_H
#define RCGC_GC_H

#include <stddef.h>
#include <stdint.h>

#include "rcgc/object.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- what the collector sees of an object ---- */

/* Called for each referent; a non-zero return stops the traversal and is
 * returned by rc_traverse. */
typedef int (*rc_visit_fn)(rc_object *referent, void *arg);

/* Visit every object o holds a reference to (nothing for atoms).  Returns
 * 0, the first non-zero visit result, or -1 with an error for NULL. */
int rc_traverse(rc_object *o, rc_visit_fn visit, void *arg);

/* Drop the references o holds, breaking cycles through it (a no-op for
 * atoms; a tuple's items are dropped too, as the collector needs).  The
 * object stays valid.  Lists, dicts and instances may be cleared while
 * other threads use them (each empties as its own locked mutations do);
 * a tuple may not (its readers take no lock: tuples are immutable
 * otherwise).  0, or -1 with an error for NULL or a detached caller. */
int rc_clear(rc_object *o);

/* 1 if o is tracked by the collector (a container), else 0. */
int rc_gc_is_tracked(rc_object *o);

/* A new list of the objects o refers to (like gc.get_referents).  Safe while
 * other threads mutate o: it stops the world for the walk (so it may wait
 * for a stop, ends borrows, and is refused while the caller holds one). */
rc_object *rc_gc_get_referents(rc_object *o);

/* A new list of the tracked objects that refer to any of objs[0..n-1]
 * (like gc.get_referrers).  Stops the world while it looks. */
rc_object *rc_gc_get_referrers(rc_object *const *objs, size_t n);

/* A new list of the tracked objects in a generation (0..2), or in all of
 * them with generation -1 (like gc.get_objects).  Stops the world. */
rc_object *rc_gc_get_objects(int generation);

/* ---- collecting ---- */

#define RC_GC_GENERATIONS 3

/* Collect generations 0..generation (0, 1 or 2; 2 is a full collection).
 * Returns the number of unreachable objects found (as gc.collect), or -1
 * with a ValueError for a generation out of range, or with a MemoryError
 * if the collector's work array could not be allocated (the objects stay
 * tracked, in generation `generation`; RC_GC_STOP callbacks see collected
 * -1).  While a collection is running (e.g. from a finalizer it runs) a
 * nested call returns 0. */
long rc_gc_collect(int generation);

/* Automatic collection, triggered by allocation in any thread. */
int rc_gc_enable(void);
int rc_gc_disable(void);
int rc_gc_isenabled(void);   /* 1 or 0 */

/* counts[0]: tracked allocations minus deallocations since the last
 * collection; counts[1]: generation-0 collections since the last
 * generation-1 one; counts[2]: generation-1 collections since the last full
 * one (as gc.get_count). */
int rc_gc_get_count(long counts[RC_GC_GENERATIONS]);

/* Thresholds (as gc.get_threshold/set_threshold; defaults 2000, 10, 10).
 * threshold0 == 0 disables automatic collection.  A negative value is a
 * ValueError. */
int rc_gc_get_threshold(long thresholds[RC_GC_GENERATIONS]);
int rc_gc_set_threshold(long threshold0, long threshold1, long threshold2);

/* gc.freeze: move every tracked object to a permanent generation that is
 * never collected; unfreeze moves them back to the oldest generation. */
int rc_gc_freeze(void);
int rc_gc_unfreeze(void);
long rc_gc_get_freeze_count(void);

/* Per generation, since the runtime started (as gc.get_stats). */
typedef struct rc_gc_gen_stats {
    uint64_t collections;
    uint64_t collected;      /* unreachable objects found */
    uint64_t uncollectable;  /* of those, kept in the garbage list */
} rc_gc_gen_stats;
int rc_gc_get_stats(rc_gc_gen_stats stats[RC_GC_GENERATIONS]);

/* Callbacks around every collection (as gc.callbacks). */
typedef enum rc_gc_phase {
    RC_GC_START = 0,
    RC_GC_STOP = 1,
} rc_gc_phase;
typedef struct rc_gc_info {
    int generation;
    long collected;       /* RC_GC_STOP only */
    long uncollectable;   /* RC_GC_STOP only */
} rc_gc_info;
typedef void (*rc_gc_callback)(rc_gc_phase phase, const rc_gc_info *info, void *arg);
/* Add a callback; -1 with an error if cb is NULL or memory runs out. */
int rc_gc_callback_add(rc_gc_callback cb, void *arg);
/* Remove the first (cb, arg) registration; -1 with a ValueError if absent. */
int rc_gc_callback_remove(rc_gc_callback cb, void *arg);

/* Debug flags (as gc.set_debug).  RC_GC_DEBUG_SAVEALL: unreachable objects
 * are appended to the garbage list instead of being freed. */
#define RC_GC_DEBUG_SAVEALL 0x20
int rc_gc_set_debug(int flags);
int rc_gc_get_debug(void);

/* The garbage list (as gc.garbage), borrowed: uncollectable objects land
 * here.  The caller may empty it (rc_list_clear) to let them go. */
rc_object *rc_gc_garbage(void);

/* ---- checking (tests) ---- */

/* GC stress: collect every n tracked allocations of a thread (0 = off), the
 * generation chosen as the thresholds would (usually 0; generations 1 and 2
 * when their counts are due).  Stress is automatic collection:
 * rc_gc_disable and a generation-0 threshold of 0 turn it off too.
 * A new runtime starts with the value of the environment variable
 * RCGC_GC_STRESS (a whole number >= 0; anything else makes rc_runtime_new
 * fail with a ValueError naming it), 0 if unset or empty. */
int rc_gc_set_stress(long every_n_allocations);
/* The stress setting in force (-1 with an error if the thread is not
 * attached). */
long rc_gc_get_stress(void);

/* Heap verifier: with the world stopped, check that every tracked object is
 * in exactly one GC list with its owner recorded, that lists are well
 * linked, and that no count is below the references held by tracked
 * objects.  0, or -1 with a message naming the first problem found. */
int rc_gc_verify_heap(void);

/* When the heap verifier runs around collections (a failure aborts):
 *   RC_GC_VERIFY_OFF        never;
 *   RC_GC_VERIFY_EVERY      around every collection;
 *   RC_GC_VERIFY_AMORTIZED  around every collection while the last one left
 *                           at most 4,096 tracked objects, and beyond that
 *                           whenever the collections since the last
 *                           verification have scanned (counting one more
 *                           per collection) as many objects as the heap
 *                           holds: at most two heap walks per heap's worth
 *                           of collection work, so a torture run on a large
 *                           heap still ends.
 * A new runtime starts with RCGC_GC_VERIFY: "1" every, "amortized",
 * "0" or unset or empty off; anything else makes rc_runtime_new fail with a
 * ValueError naming it.  rc_gc_set_verify: 0, or -1 with a ValueError for
 * a level not listed (or an error if the thread is not attached). */
#define RC_GC_VERIFY_OFF 0
#define RC_GC_VERIFY_EVERY 1
#define RC_GC_VERIFY_AMORTIZED 2
int rc_gc_set_verify(int level);
/* The level in force (-1 with an error if the thread is not attached). */
int rc_gc_get_verify(void);

/* Bytes of GC links that precede every object of a GC type (on top of
 * sizeof(rc_object)): the list links, the owner and the collector's word. */
size_t rc_gc_link_size(void);

/* ---- records, for the reporting layer ---- */

/* Phases whose time every collection records. */
typedef enum rc_gc_phase_time {
    RC_GC_T_MERGE = 0,      /* stop, merge refcounts and hand-back queues */
    RC_GC_T_UPDATE_REFS,    /* copy counts to gc_refs */
    RC_GC_T_SUBTRACT,       /* subtract internal references */
    RC_GC_T_REACHABLE,      /* mark what is reachable from outside */
    RC_GC_T_FINALIZE,       /* weakref callbacks and finalizers */
    RC_GC_T_CLEAR,          /* break cycles, free */
    RC_GC_NPHASES
} rc_gc_phase_time;

typedef struct rc_gc_record {
    int generation;
    uint64_t start_ns, end_ns;          /* rc_clock_ns */
    uint64_t time_to_safepoint_ns;      /* summed over the collection's stops */
    uint64_t pause_ns;                  /* world stopped, summed over its stops */
    uint64_t phase_ns[RC_GC_NPHASES];
    long scanned;                       /* objects in the generations collected */
    long collected;                     /* unreachable objects found */
    long uncollectable;
    long heap_size;                     /* tracked objects after the collection */
    uint64_t cycle_start_ns;            /* RC_COLLECTOR_CONCURRENT: when the
                                           concurrent work of the cycle this
                                           collection finished began (0: none) */
    uint64_t concurrent_ns;             /* that work's time, summed over the
                                           slices that did it (world running) */
    int verified;                       /* 1: the heap verifier ran around it
                                           (rc_gc_set_verify) */
    int local;                          /* 1: a thread-local collection of the
                                           young objects only its thread had
                                           seen (ft mode): no thread stopped,
                                           pause_ns 0 (docs/gc.md [gc.local]) */
} rc_gc_record;

/* Collections recorded (all of them; the most recent RC_RECORDS_KEPT are
 * kept, rcgc/runtime.h), the index of the oldest kept, and a copy of up to
 * max records from index first (or from the oldest kept, if first is
 * older); returns how many were copied. */
size_t rc_gc_record_count(void);
size_t rc_gc_records_oldest(void);
size_t rc_gc_records(size_t first, rc_gc_record *out, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* RCGC_GC_H */
