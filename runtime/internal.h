/* runtime/internal.h: struct layouts shared by the runtime's subsystems
 * (types, thread states, the runtime) and their cross-file prototypes.
 * Models: mimalloc's types.h, Lua's lstate.h.  Not installed.
 *
 * Thread rule, in short: a thread state is written by its own thread, except
 * the fields marked otherwise; the runtime struct is written under the lock
 * named beside each field.
 */
#ifndef RCGC_INTERNAL_H
#define RCGC_INTERNAL_H

#ifndef RCGC_BUILDING
#error "runtime/internal.h is internal to rcgc (RCGC_BUILDING is not defined)"
#endif

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rcgc/rcgc.h"
#include "rcgc/testing.h"
#include "brc.h"
#include "gil.h"
#include "stw.h"
#include "qsbr.h"
#include "gclist.h"
#include "hooks.h"   /* the collector (gc/), reached only through this */

#define RC_LIKELY(x)   __builtin_expect(!!(x), 1)
#define RC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RC_HIDDEN      __attribute__((visibility("hidden")))

/* ------------------------------------------------------------------ types */

typedef void (*obj_dealloc_fn)(rc_object *o);
typedef int (*obj_traverse_fn)(rc_object *o, rc_visit_fn visit, void *arg);
typedef void (*obj_clear_fn)(rc_object *o);

/* rc_type flags */
#define RC_TYPE_GC          0x1u  /* instances carry a gc_head, traverse, clear */
#define RC_TYPE_HEAP        0x2u  /* created by rc_type_new, freed with the runtime */
#define RC_TYPE_WEAKREFABLE 0x4u  /* instances may have weakrefs (weakref.c) */
#define RC_TYPE_FILLS_BODY  0x8u  /* the constructor writes every field after the
                                     header before anything can read it (no
                                     safepoint in between): obj_alloc leaves
                                     the body unzeroed */
#define RC_TYPE_UNHASHABLE  0x10u /* heap type made with RC_TYPE_NEW_UNHASHABLE:
                                     its instances are not dict keys */

/* A type.  Built-in types are static const; heap types are made by
 * rc_type_new and immutable after it returns. */
struct rc_type {
    const char *name;
    uint32_t flags;              /* RC_TYPE_* */
    uint32_t nslots;             /* instances: number of slots */
    size_t basicsize;            /* object size, header included */
    obj_dealloc_fn dealloc;      /* frees what the object owns, then obj_free */
    obj_traverse_fn traverse;    /* GC types only */
    obj_clear_fn clear;          /* GC types only */
    rc_finalize_fn finalize;     /* optional, PEP 442 */
    struct rc_type *next_heap;   /* heap types: runtime's list, under rt->mu */
};

/* Built-in types (defined in their .c files). */
extern const rc_type rc_none_type, rc_bool_type, rc_int_type, rc_str_type,
    rc_tuple_type, rc_list_type, rc_dict_type, rc_weakref_type;

/* ob_flags */
#define RC_OBF_STATIC      0x1u  /* statically allocated immortal: never freed */
#define RC_OBF_IMMORTALIZED 0x2u /* heap object made immortal; runtime frees it */
#define RC_OBF_INTERNED    0x4u  /* an interned str */
#define RC_OBF_LOCAL       0x8u  /* a member of its owner thread's
                                    thread-local collection in progress
                                    (gc/stw_collector.c): set, cleared and
                                    read by that thread only, which reads it
                                    only on objects whose ob_tid is its own
                                    (a plain byte where ob_gc_bits would
                                    need a locked read-modify-write: other
                                    threads set bits there) */

/* ob_gc_bits */
#define RC_GC_TRACKED      0x1u  /* in a GC list (containers) */
#define RC_GC_FINALIZED    0x2u  /* finalizer has run (PEP 442: never again) */
#define RC_GC_SHARED       0x4u  /* ft: may be read lock-free by a thread that
                                    holds no reference; freed through QSBR */
#define RC_GC_COLLECTING   0x8u  /* in the set a collection is working on;
                                    gc_head.aux holds its gc_refs (collector,
                                    world stopped or private lists only) */
#define RC_GC_OLD          0x10u /* in the oldest generation: set when a
                                    collection puts it there (world stopped);
                                    its death counts against
                                    gc.long_lived_pending */
#define RC_GC_DEAD         0x20u /* an old-space object whose type's dealloc
                                    is about to run (or ran): set once, in
                                    the ft modes under the object's lock,
                                    which a concurrent collector holds to
                                    traverse it (object.c, obj_mark_dead) */
#define RC_GC_VERIFY_MARK  0x40u /* heap verifier: seen (world stopped) */
#define RC_GC_ESCAPED      0x80u /* ft: a thread other than the owner may
                                    hold a pointer into it or change it, so
                                    its owner's thread-local collections
                                    leave it alone (docs/gc.md [gc.local]).
                                    Set once, never cleared while the
                                    object lives: by the owner at will, by
                                    any other thread only through
                                    obj_escape_slow (under rt->escape_lock
                                    as a writer); atomic or, relaxed */

static inline uint8_t obj_gc_bits(const rc_object *o)
{
    /* relaxed: see ob_gc_bits in rcgc/object.h. */
    return rc_atomic_load_relaxed(&((rc_object *)o)->ob_gc_bits);
}

/* An object stored into a container in the ft modes may be read by a
 * lock-free reader holding no reference: its memory must outlive such
 * readers (qsbr.h).  Idempotent; the load avoids a write when set. */
static inline void obj_mark_shared(rc_object *o)
{
    if (!(obj_gc_bits(o) & RC_GC_SHARED) &&
        rc_atomic_load_relaxed(&o->ob_ref_local) != RC_REF_IMMORTAL)
        rc_atomic_or_relaxed(&o->ob_gc_bits, RC_GC_SHARED);
}

/* Thread-local collections (ft mode; docs/gc.md [gc.local]).  A thread
 * collects the objects it owns that no other thread can reach without
 * stopping anyone, so no other thread may change what such an object refers
 * to, take a reference out of it, or keep a pointer into it that it holds
 * no count for, while that runs.  Two checks keep them out, both before
 * the fact:
 *
 *   - obj_escape_check(o) before a thread other than o's owner reads or
 *     changes what o refers to (every container read and mutation,
 *     rc_clear, rc_traverse, a new weakref to it, a weakref's get);
 *   - obj_escape_check(item) before a borrowed read hands out an item.
 *
 * Both are one load and compare on the owner's path; the first time
 * another thread touches an object they take obj_escape_slow, which waits
 * for any thread-local collection in progress (rt->escape_lock: they hold
 * it as readers) and marks o RC_GC_ESCAPED.  In gil mode every object is
 * the caller's; in ft-atomic mode no object has an owner (ob_tid 0). */
void obj_escape_slow(rc_object *o);

static inline bool obj_escape_needed(const rc_object *o)
{
    uintptr_t owner = rc_atomic_load_relaxed(&((rc_object *)o)->ob_tid);
    /* Only tracked objects outside the oldest generation are ever
     * collected thread-locally (gc/stw_collector.c, local_candidate); an
     * object tracked again after a collection cleared it (obj_track) is
     * marked escaped then. */
    return RC_UNLIKELY(owner != rc_tls_tid) && owner != RC_TID_NONE &&
           (obj_gc_bits(o) & (RC_GC_TRACKED | RC_GC_ESCAPED | RC_GC_OLD)) == RC_GC_TRACKED;
}

static inline void obj_escape_check(rc_object *o)
{
    if (obj_escape_needed(o))
        obj_escape_slow(o);
}

/* struct gc_head, the GC links that precede every object of an RC_TYPE_GC
 * type, is defined in gclist.h. */
#define OBJ_GC_HEAD(o)  ((struct gc_head *)(o) - 1)
#define GC_HEAD_OBJ(g)  ((rc_object *)((struct gc_head *)(g) + 1))

static inline bool obj_is_gc(const rc_object *o)
{
    return (o->ob_type->flags & RC_TYPE_GC) != 0;
}

/* ---------------------------------------------------------- thread state */

/* Per-thread state; one per attached-capable thread.  Owner thread writes
 * everything unless a field says otherwise. */
struct thr_state {
    struct rc_runtime *rt;
    uintptr_t tid;                /* unique id (ft modes) or RC_TID_GIL */
    /* What a new (or resurrected) object is stamped with: see ref_stamp. */
    uintptr_t stamp_tid;
    uint32_t stamp_local;
    intptr_t stamp_shared;
    /* Points at the thread's rc_tls_eval_breaker; any thread may set bits
     * through it (atomic or, release), only the owner clears them.  Valid
     * while the state is registered (the registry lock guards lookups). */
    _Atomic uintptr_t *eval_breaker;
    bool attached;                /* owner only (stw.status is the shared view) */
    const void *site;             /* owner only: where the thread last entered
                                     through rc_attach / rc_runtime_new, or its
                                     rc_thread_start function; copied into
                                     stw.attach_site when it attaches */
    const void *start_fn;         /* its rc_thread_start function, or NULL
                                     (immutable after thr_enter) */
    bool is_main;                 /* created the runtime */
    bool holds_stw;               /* owner only: this thread stopped the world */
    /* Slot bias (instance.c, docs/threads.md [thr.slots]): while set, this
     * thread writes the slots of the instances it owns without their lock.
     * Set at thr_enter (gil and ft modes), cleared once and for all by a
     * thread that has stopped the world (slot_unbias), so the owner is
     * never in the middle of such a write when it changes.  The owner reads
     * it relaxed (the stop orders the clear before its next read); other
     * threads read it under rt->mu. */
    _Atomic bool slot_bias;
    /* Owner only: thread ids this thread has found without a slot bias
     * (instance.c: slot_unbias), direct-mapped.  A bias never comes back
     * and ids are never reused, so an entry stays true; it spares the
     * lookup under rt->mu on every locked read of that thread's objects. */
    uintptr_t unbiased_seen[8];
    /* Live-object accounting.  Owner writes with relaxed stores; other
     * threads read relaxed (rc_live_objects is a snapshot). */
    _Atomic uint64_t allocs;
    _Atomic uint64_t frees;
    _Atomic uint64_t gc_allocs;   /* the same, for objects of GC types */
    _Atomic uint64_t gc_frees;
    /* Trashcan (object.c): depth of nested deallocations and the stack of
     * containers whose deallocation was deferred to bound the C stack. */
    int dealloc_depth;
    struct gc_head *trash;
    /* Fault injection: 0 = off.  fail_countdown counts the caller's
     * allocations (rc_testing_fail_alloc_after); those made inside an
     * automatic collection (in_auto_gc) count against fail_gc_countdown
     * (rc_testing_fail_gc_alloc_after) instead, so that when collections
     * happen does not move the failure a test aimed at its own
     * allocation.  Owner only. */
    long fail_countdown;
    long fail_gc_countdown;
    bool in_auto_gc;   /* inside gcl_note_alloc_slow's collection hook (owner) */
    struct brc_thread_state brc;  /* merge queue (brc.h) */
    struct gil_thread_state gil;  /* GIL statistics (gil.h) */
    struct stw_thread_state stw;  /* status for stop-the-world (stw.h) */
    struct qsbr_thread_state qsbr; /* deferred frees (qsbr.h) */
    struct gcl_owner *gcl;        /* this thread's GC lists (gclist.h);
                                     NULL once they are adopted at exit */
    /* Tracked-object counts not yet reported to the collector (owner
     * only; gc/hooks.h gc_counts_alloc takes and resets them). */
    struct {
        long delta;               /* tracked allocations - frees */
        long report_at;           /* report when |delta| reaches this */
        long old_freed;           /* frees of RC_GC_OLD objects */
    } gct;
    struct gc_thread_state *gc;   /* the collector's (opaque here) */
    /* Runtime's list of thread states, under rt->mu. */
    struct thr_state *next, *prev;
};

/* The calling thread's state, NULL if it has none.  Owner only. */
extern _Thread_local struct thr_state *rc_tls_state
    __attribute__((tls_model("initial-exec")));

/* Allocation of a tracked object by ts: count it; every report_at, report
 * to the collector, which may collect (called before the object is
 * allocated, so no half-built object exists). */
void gcl_note_alloc_slow(struct thr_state *ts);
static inline void gcl_note_alloc(struct thr_state *ts)
{
    /* relaxed: a hint; the drain takes the stack with an acquire exchange.
     * Dead objects other threads handed back are freed promptly even by a
     * thread whose allocation count never reaches a report. */
    if (++ts->gct.delta >= ts->gct.report_at ||
        rc_atomic_load_relaxed(&ts->gcl->handback) != NULL)
        gcl_note_alloc_slow(ts);
}
/* A tracked object died. */
static inline void gcl_note_free(struct thr_state *ts)
{
    if (--ts->gct.delta <= -ts->gct.report_at)
        gc_counts_free(ts);   /* takes the counts; never collects */
}

/* Eval-breaker bits. */
#define RC_EB_GIL_DROP   0x1u   /* gil: a waiter asks the holder to drop it */
#define RC_EB_BRC_MERGE  0x2u   /* ft: objects queued for merging */
#define RC_EB_STW        0x4u   /* ft: another thread is stopping the world */
#define RC_EB_QSBR       0x8u   /* ft: report a quiescent state */

/* --------------------------------------------------------------- runtime */

struct rc_runtime {
    rc_config cfg;                  /* immutable after rc_runtime_new */
    pthread_t main_thread;          /* immutable */
    struct thr_state *main_state;   /* immutable */
    pthread_mutex_t mu;             /* guards the fields below it */
    struct thr_state *threads;      /* registered thread states */
    long nthreads;                  /* registered, main included */
    long nstarted;                  /* rc_thread_start'ed, not yet joined */
    uint64_t dead_allocs, dead_frees; /* folded in from exited threads */
    uint64_t dead_gc_allocs, dead_gc_frees;
    struct gil_thread_state dead_gil;  /* GIL statistics of exited threads */
    rc_type *heap_types;            /* rc_type_new'd types */
    rc_object **immortals;          /* made immortal at run time */
    size_t nimmortals, cap_immortals;
    struct str_intern_table *interned; /* rc_str_intern; under mu */
    long slot_unbiases;             /* threads whose slot bias was cleared
                                       (instance.c); under mu */
    struct brc_state brc;           /* thread-id -> state lookup (brc.h) */
    struct gil_state gil;           /* gil mode only */
    struct stw_state stw;           /* stop-the-world (stw.h) */
    struct gcl_state gcl;           /* GC lists and their owners (gclist.h) */
    struct gc_state *gc;            /* the collector's (gc/hooks.h; opaque
                                       here); immutable after creation */
    pthread_mutex_t weakref_mu;     /* guards every weakref list and the
                                       weakref table; leaf lock */
    /* The weakref table (weakref.c): the head of each target's weakref
     * list, by target, for the targets whose ob_weak is set.  Open
     * addressing with linear probing; cap a power of two or 0 (no array).
     * Under weakref_mu. */
    struct weak_entry {
        rc_object *target;          /* NULL: a free entry */
        struct rc_weakref *head;
    } *weak;
    size_t weak_cap, weak_n;
    /* Thread-local collections hold it as readers while they decide
     * (gc/collector.c, gc_local_collect); obj_escape_slow takes it as a writer to mark another
     * thread's object RC_GC_ESCAPED.  Writers preferred.  Leaf: nothing is
     * taken under it, no object code runs under it, and its readers pass
     * no safepoint while they hold it. */
    pthread_rwlock_t escape_lock;
    /* rcgc/semantics.h's recursion limit: set by rc_runtime_new and
     * rc_set_recursion_limit, read by any thread (relaxed: a setting,
     * ordering nothing). */
    _Atomic int recursion_limit;
    _Atomic unsigned long escape_waits; /* escapes that found a local
                                           collection deciding and waited
                                           for it (relaxed: a counter for
                                           tests) */
};

/* The one runtime, NULL if none.  Written only by rc_runtime_new/free,
 * which require that no other thread is attached; read by attached threads
 * (happens-after their own start). */
extern struct rc_runtime *rc_rt;

/* Timed waits measure on the monotonic clock (rc_clock_ns's), so that a
 * step of the wall clock cannot stretch or cut them short (stw.c):
 * rc_cond_init_monotonic initialises a condition variable for them, and
 * rc_deadline_after gives the absolute limit after_ns from now. */
void rc_cond_init_monotonic(pthread_cond_t *cv);
struct timespec rc_deadline_after(uint64_t after_ns);

/* --------------------------------------------------------------- errors */

void err_set(rc_error_kind kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Shorthands that return the failure value. */
void *err_null(rc_error_kind kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int err_int(rc_error_kind kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void *err_nomem(void);                    /* MemoryError; returns NULL */
/* TypeError "fn() argument must be X, not Y" (NULL reads "NULL"). */
void *err_type_null(const char *fn, const char *want, rc_object *got);
int err_type_int(const char *fn, const char *want, rc_object *got);
/* The thread has no state: RuntimeError; returns NULL / -1. */
void *err_no_thread_null(const char *fn);
__attribute__((noreturn, format(printf, 1, 2))) void rc_fatal(const char *fmt, ...);

/* Debug builds: touching objects from a thread that is not attached (no
 * state, or detached around a blocking call) is a programming error,
 * reported loudly. */
#ifdef RCGC_DEBUG
#define RC_DEBUG_CHECK_ATTACHED(ts, what)                                      \
    do {                                                                       \
        if (RC_UNLIKELY((ts) == NULL || !(ts)->attached))                     \
            rc_fatal("%s from a thread that is %s", (what),                   \
                     (ts) == NULL ? "not registered" : "detached");            \
    } while (0)
#else
#define RC_DEBUG_CHECK_ATTACHED(ts, what) ((void)0)
#endif

/* Debug builds: a helper whose name says it runs with the world stopped
 * (suffix _stw) checks that the calling thread stopped it. */
#ifdef RCGC_DEBUG
#define RC_ASSERT_STW(fn)                                                      \
    do {                                                                       \
        if (RC_UNLIKELY(rc_tls_state == NULL || !rc_tls_state->holds_stw))     \
            rc_fatal("%s() needs the world stopped by the calling thread", (fn)); \
    } while (0)
#else
#define RC_ASSERT_STW(fn) ((void)0)
#endif

/* --------------------------------------------------------------- memory */

/* malloc/calloc/realloc/free of objects and the memory they own (item
 * arrays, tables) and of other runtime memory that goes back through
 * mem_free, honouring fault injection.  Failure returns NULL with
 * MemoryError set.  The allocator is mimalloc or the C library's
 * (RCGC_ALLOCATOR, docs/memory.md): a block from these must be released by
 * mem_free or mem_realloc (or qsbr_retire, which ends in mem_free), never
 * by free(), and mem_free must never see a block from malloc().  mem_free
 * may run on any thread, one without a thread state included. */
void *mem_alloc(size_t n);
void *mem_calloc(size_t n, size_t size);
/* A zeroed block of size bytes that shares no cache line (nor the pair
 * of lines some CPUs fetch together) with any other block: for data that
 * every thread reads and nobody writes, such as a type, so that no write
 * to a neighbour invalidates it.  Released by mem_free. */
#define MEM_LINES 128
void *mem_calloc_lines(size_t size);
void *mem_realloc(void *p, size_t n);
/* mem_realloc for an optional allocation (a buffer grown ahead of need,
 * whose later use grows it again if this fails): no fault injection, and
 * failure (NULL, the block unchanged) sets no error. */
void *mem_try_realloc(void *p, size_t n);
/* mem_calloc for an optional allocation, likewise: no fault injection, no
 * error on failure. */
void *mem_try_calloc(size_t n, size_t size);
void mem_free(void *p);
/* Give the allocators' free memory back to the system where they can (for
 * measurements of what the runtime holds: tests, benchmarks). */
void mem_trim(void);
/* "mimalloc" or "system" (RCGC_ALLOCATOR). */
const char *mem_allocator_name(void);

/* --------------------------------------------------------------- objects */

/* A new object of type t, size bytes (>= sizeof(rc_object)) from
 * mem_alloc, counts stamped for the calling thread, other header fields
 * zeroed; the body (the size - sizeof(rc_object) bytes after the header)
 * zeroed too unless t has RC_TYPE_FILLS_BODY.  GC types get their gc_head
 * and RC_GC_TRACKED.  Runs a safepoint.  NULL with an error. */
rc_object *obj_alloc(const rc_type *t, size_t size);
/* Objects of GC types alive now (a snapshot, as rc_live_objects). */
size_t obj_live_tracked(struct rc_runtime *rt);
/* Release the memory of a dead object (the last step of a dealloc). */
void obj_free(rc_object *o);
/* Called when an object's count reaches zero: finalizer (once), weakrefs,
 * then the type's dealloc; bounded C-stack depth (trashcan). */
void obj_dealloc(rc_object *o);
/* Type check helpers. */
static inline bool obj_is(const rc_object *o, const rc_type *t)
{
    return o != NULL && o->ob_type == t;
}
/* Track an untracked GC object again, in the calling thread's lists. */
void obj_track(rc_object *o);

/* ------------------------------------------------------- reference counts */

/* Stamp a new object's counts for thread ts (mode-dependent values held in
 * the thread state; no branch on the mode). */
static inline void ref_stamp(rc_object *o, const struct thr_state *ts)
{
    rc_atomic_store_relaxed(&o->ob_tid, ts->stamp_tid);          /* unpublished */
    rc_atomic_store_relaxed(&o->ob_ref_local, ts->stamp_local);  /* unpublished */
    rc_atomic_store_relaxed(&o->ob_ref_shared, ts->stamp_shared); /* unpublished */
}
/* Take a reference only if o is not already dying (weakrefs).  1 on
 * success; 0 if o's count already reached zero.  o's memory must be valid,
 * which the caller guarantees by a lock that o's deallocation also takes. */
int ref_try_incref(rc_object *o);
/* Mark o as one that threads without a reference may try_incref, so its
 * death goes through a compare-and-swap (RC_REF_MAYBE_WEAKREF). */
void ref_set_maybe_weakref(rc_object *o);
/* Finalizer support: give a dead object one reference again (begin), then
 * drop it and report whether the object was resurrected (end: 1) or is
 * still dead (0). */
void ref_resurrect_begin(rc_object *o, bool maybe_weakref);
int ref_resurrect_end(rc_object *o);
/* Merge o's counts on behalf of its owner (the owner is the caller, or has
 * exited, or is parked while the caller has stopped the world): adds
 * extra, returns the merged total.  ob_tid and ob_ref_local
 * become 0, the state RC_REF_MERGED. */
intptr_t ref_merge(rc_object *o, intptr_t extra);

/* --------------------------------------------------------- thread states */

/* Create, register and attach a thread state for the calling thread (NULL
 * with an error); detach, unregister and free it. */
/* site: where the thread enters (internal.h, thr_state.site); start_fn: its
 * rc_thread_start function, NULL for the creator and registered threads. */
struct thr_state *thr_enter(struct rc_runtime *rt, bool is_main, const void *site,
                            const void *start_fn);
void thr_exit(struct thr_state *ts);
/* Attach / detach the calling thread's state without running a safepoint
 * (rc_attach runs one): for callers that hold a lock under which no object
 * code may run.  forced: see gil_drop. */
void thr_take(struct thr_state *ts);
void thr_release(struct thr_state *ts, bool forced);

#endif /* RCGC_INTERNAL_H */
