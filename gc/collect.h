/* gc/collect.h: the collector's state and the runtime's hooks into it.
 *
 * Generations (CPython's scheme): generation 0 holds what threads allocated
 * since the last collection, 1 and 2 what survived one or more.  Each
 * thread's gcl_owner has its own list per generation (gclist.h); a
 * collection of generation g takes every owner's lists 0..g, with the world
 * stopped, into the collector's private lists, and puts survivors back into
 * their owners' lists g+1 (g for the oldest).  The permanent generation
 * (rc_gc_freeze) is never collected.
 *
 * Thread rule for struct gc_state: fields marked (mu) are under gc.mu;
 * (collector) belong to the thread running a collection, which `collecting`
 * makes unique; (atomic) are accessed atomically from any thread.
 */
#ifndef RCGC_COLLECT_H
#define RCGC_COLLECT_H

#ifndef RCGC_BUILDING
#error "gc/collect.h is internal to rcgc"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gclist.h"

struct gc_callback {
    rc_gc_callback cb;
    void *arg;
};

struct gc_state {
    pthread_mutex_t mu;               /* guards (mu) fields; leaf, no object code */
    pthread_mutex_t owners_mu;        /* owners list; leaf */
    pthread_mutex_t orphan_mu;        /* the orphan owner's lists; leaf */
    struct gcl_owner *owners;         /* every owner ever created (owners_mu) */
    struct gcl_owner *orphan;         /* lists adopted from exited threads */

    _Atomic long young;               /* tracked allocs - deallocs since the
                                         last collection; threads flush their
                                         counts into it in batches */
    _Atomic int collecting;           /* 1 while a collection runs */
    _Atomic int enabled;              /* automatic collection */
    _Atomic long stress;              /* collect gen 0 every n allocations */
    _Atomic int verify;               /* heap verifier around collections */
    _Atomic int trace;                /* a line per collection on stderr */
    _Atomic long threshold[RC_GC_GENERATIONS];
    _Atomic long count[RC_GC_GENERATIONS];   /* [1], [2]: collections of the
                                                younger generation since */
    _Atomic long long_lived_total;    /* survivors of the last full collection */
    _Atomic long long_lived_pending;  /* promoted into gen 2 since, minus the
                                         gen-2 objects freed since (threads
                                         flush theirs in batches; relaxed:
                                         it only decides when to collect) */
    int debug;                        /* RC_GC_DEBUG_* (mu) */
    rc_object *garbage;               /* the garbage list, immortal (mu to create) */
    rc_gc_gen_stats stats[RC_GC_GENERATIONS];   /* (mu) */
    struct gc_callback *callbacks;    /* (mu) */
    size_t ncallbacks, cap_callbacks;
    rc_gc_record *records;            /* (mu) a ring once cap_records reaches
                                         RC_RECORDS_KEPT: record i at i % KEPT */
    size_t nrecords, cap_records;     /* (mu) nrecords: all ever recorded */
    struct gc_head **work;            /* the set as an array + the mark stack
                                         (collector); kept between collections
                                         while small */
    size_t work_cap;                  /* entries of each half (collector) */
};

/* Per thread, owner only. */
struct gc_thread_state {
    long delta;          /* tracked allocations - deallocations not yet
                            flushed into gc.young */
    long flush_at;       /* flush (and consider collecting) at this |delta| */
    long old_freed;      /* gen-2 (RC_GC_OLD) objects freed, not yet taken
                            off gc.long_lived_pending */
    long stress_countdown;
};

void gc_init(struct rc_runtime *rt);
void gc_fini(struct rc_runtime *rt);

/* Allocation of a tracked object by ts (gc_note_alloc, inline in
 * runtime/internal.h): count it; maybe collect. */
void gc_note_alloc_slow(struct thr_state *ts);
void gc_note_free_slow(struct thr_state *ts);

/* Collect generations 0..gen on the calling (attached) thread; returns the
 * number of unreachable objects found, 0 if a collection is running, -1
 * with MemoryError if the work array could not be allocated. */
long gc_collect_generation(struct thr_state *ts, int gen);

/* Thread exit: flush counts, adopt the thread's lists (gclist.h). */
void gc_thread_exit(struct thr_state *ts);

/* Runtime shutdown: collect until nothing more is found. */
void gc_collect_at_exit(struct rc_runtime *rt);

/* The heap verifier, with the world stopped by the caller.  Returns 0, or
 * -1 with an error naming the first problem; fatal: abort instead. */
int gc_verify_heap_stw(struct rc_runtime *rt, bool fatal);

/* One line per collection on stderr (RCGC_TRACE=1), like GODEBUG=gctrace. */
void gc_trace_line(const rc_gc_record *rec);

#endif /* RCGC_COLLECT_H */
