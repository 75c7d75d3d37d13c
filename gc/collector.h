/* gc/collector.h: what every collector shares, and the table of operations
 * each one implements (docs/gc.md [gc.interface]).
 *
 * Generations (CPython's scheme): generation 0 holds what threads allocated
 * since the last collection, 1 and 2 what survived one or more.  Each
 * thread's gcl_owner has its own list per generation (runtime/gclist.h);
 * the permanent generation (rc_gc_freeze) is never collected.
 *
 * A collection has four phases (docs/gc.md [gc.phases]); only the first,
 * finding the unreachable set, differs between collectors:
 *   1. find (the collector's find_garbage, under its own stops): leave the
 *      unreachable objects of generations 0..gen in c->unreachable, with
 *      weakrefs to them detached and one reference each held (c->held),
 *      and every survivor back in its owner's lists; the world running
 *      again on return;
 *   2. world running: weakref callbacks, finalizers (garbage.c);
 *   3. world stopped if object code ran: resurrection (garbage.c);
 *   4. world running: clear the garbage, drop the held references.
 * collector.c drives the phases, the triggers and the bookkeeping.
 *
 * Thread rule for struct gc_state: fields marked (mu) are under gc.mu;
 * (collector) belong to the thread running a collection, which
 * `collecting` makes unique; (atomic) are read and written atomically from
 * any thread with the order each access names.  Lock order: gc.mu is a
 * leaf; no object code runs under it.
 */
#ifndef RCGC_COLLECTOR_H
#define RCGC_COLLECTOR_H

#ifndef RCGC_BUILDING
#error "gc/collector.h is internal to rcgc"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "records.h"

struct collection;

/* The operations a collector implements.  NULL entries are optional. */
struct gc_collector_ops {
    const char *name;                       /* rc_collector_name's */
    /* Runtime creation / teardown: the collector's own state beside the
     * shared gc_state (0, or -1 with an error). */
    int (*init)(struct rc_runtime *rt);
    void (*fini)(struct rc_runtime *rt);
    /* After the creating thread attached: threads of the collector's own
     * (optional; 0, or -1 with an error).  threads: how many it runs now,
     * which rc_runtime_free does not wait for the program to join;
     * stop_threads joins them (the creating thread, attached, no other
     * thread of the program's left). */
    int (*start)(struct rc_runtime *rt);
    int (*threads)(struct rc_runtime *rt);
    void (*stop_threads)(struct rc_runtime *rt);
    /* A setting that may let the collector's threads work changed
     * (rc_gc_enable, rc_gc_set_stress; optional). */
    void (*settings_changed)(struct rc_runtime *rt);
    /* A thread state was created / is exiting (gc/hooks.h). */
    int (*thread_attach)(struct thr_state *ts);
    void (*thread_exit)(struct thr_state *ts);
    /* Phase 1 of a collection of generations 0..c->gen (above).  Returns
     * the number of survivors promoted, or -1 with MemoryError having
     * changed nothing (every member back in generation c->gen). */
    long (*find_garbage)(struct collection *c);
    /* A tracked allocation count was reported (young: tracked objects
     * allocated minus freed since the last collection): collect now if
     * due.  Both collectors use gc_trigger_generational, which calls
     * collect_due once young passes generation 0's threshold. */
    void (*allocated)(struct thr_state *ts, long young);
    /* An automatic collection is due (the threshold above, or
     * rc_gc_set_stress's count). */
    void (*collect_due)(struct thr_state *ts);
    /* After every report, when automatic collection may run: work the
     * collector does on the reporting thread (optional). */
    void (*assist)(struct thr_state *ts);
    /* With the world stopped by a caller that needs the whole heap in the
     * owners' lists (a full collection, freeze, unfreeze): drop any
     * collection work in progress that holds objects elsewhere
     * (optional). */
    void (*cancel_stw)(struct rc_runtime *rt);
    /* After phase 4 of collection c: whether it has more to find in
     * another round of phases 1-4, under the same gc.collecting (the
     * concurrent collector validating its candidates in batches, a stop
     * each; optional).  Each round is a record of its own; the callbacks
     * and the statistics see one collection. */
    bool (*more)(struct collection *c);
    /* A reference to `value` was stored into `container`.  The
     * stop-the-world collector needs none (NULL), and no runtime store
     * calls it yet: the first collector that sets it adds the call, behind
     * one predictable branch, to gc/hooks.h and the container stores. */
    void (*store_barrier)(rc_object *container, rc_object *value);
    /* Young collections of what a thread alone has seen run on that
     * thread without a stop, in ft mode (docs/gc.md [gc.local]); the
     * stop-the-world collector keeps CPython's stop for every one. */
    bool local_young;
    /* With local_young: after a local collection promoted `promoted`
     * objects into the calling thread's own list of the oldest
     * generation.  They join the collector's when it asks for them and
     * can take them now; else they wait there for a later call (the
     * collector's stops take them as young ones).  Passes no safepoint. */
    void (*adopt)(struct thr_state *ts, long promoted);
    /* The calling thread may stay away long (gc_thread_leaving: it
     * detaches on the program's request, or exits): what the collector
     * keeps on it for later goes where other threads' collections reach
     * it, if it can (optional; may pass safepoints). */
    void (*leaving)(struct thr_state *ts);
    /* rc_gc_collect(gen) is about to collect, on a thread in no collection
     * of its own: work that should come first with the world running
     * (optional; may pass safepoints). */
    void (*before_collect)(struct thr_state *ts, int gen);
};

extern const struct gc_collector_ops gc_stw_collector;
extern const struct gc_collector_ops gc_concurrent_collector;

struct cc_state;

struct gc_callback {
    rc_gc_callback cb;
    void *arg;
};

struct gc_state {
    const struct gc_collector_ops *ops; /* immutable after gc_runtime_init */
    pthread_mutex_t mu;               /* guards (mu) fields; leaf, no object code */
    _Atomic long young_count;         /* tracked allocs - deallocs since the
                                         last collection, never below 0;
                                         threads report theirs in batches
                                         (relaxed: it only decides when) */
    _Atomic int collecting;           /* 1 while a collection runs (2: one
                                         the collector thread runs): taken
                                         by an acquire CAS, released by a
                                         seq_cst store (gc_collect) */
    /* Allocation pacing (gc_counts_alloc): a thread whose reports took
     * young_count GC_PACE thresholds past generation 0's while another
     * thread collects waits, detached, for that collection to end (at
     * most GC_PACE_WAIT_NS, once per collection).  pace_waiters: seq_cst,
     * against the collector's seq_cst release of collecting
     * (gc_release_collecting), so one of the two sees the other; the wait
     * and the wake happen under pace_mu.  collections: incremented by each
     * collection once it holds collecting (relaxed: it only names the
     * collection a thread waited for). */
    pthread_mutex_t pace_mu;
    pthread_cond_t pace_cv;
    _Atomic int pace_waiters;
    _Atomic unsigned long collections;
    _Atomic unsigned long pace_waits; /* waits so far (relaxed: a counter;
                                         rc_testing_gc_pace_waits) */
    _Atomic int enabled;              /* automatic collection (relaxed: a
                                         setting, read at each trigger) */
    _Atomic long stress;              /* collect every n allocations of a
                                         thread (relaxed: a setting) */
    _Atomic int verify;               /* RC_GC_VERIFY_*: heap verifier
                                         around collections (relaxed: a
                                         setting) */
    long verify_credit;               /* RC_GC_VERIFY_AMORTIZED: objects
                                         scanned (+1 per collection) by the
                                         collections since the last
                                         verification (the
                                         collecting thread: gc.collecting) */
    long verify_heap;                 /* tracked objects the last collection
                                         left (the same) */
    bool young_growing;               /* the last automatic generation-0
                                         collection that stopped the world
                                         kept more than half of what it
                                         scanned (collection.young_to_old;
                                         the collecting thread:
                                         gc.collecting) */
    _Atomic int trace;                /* a line per collection on stderr
                                         (relaxed: a setting) */
    _Atomic long threshold[RC_GC_GENERATIONS]; /* (relaxed: settings) */
    _Atomic long count[RC_GC_GENERATIONS];   /* [1], [2]: collections of the
                                                younger generation since
                                                (relaxed: decide when) */
    _Atomic long long_lived_total;    /* survivors of the last full collection */
    _Atomic long long_lived_pending;  /* promoted into gen 2 since, minus the
                                         gen-2 objects freed since (threads
                                         report theirs in batches; relaxed:
                                         it only decides when to collect) */
    int debug;                        /* RC_GC_DEBUG_* (mu) */
    rc_object *garbage;               /* the garbage list, immortal; set by
                                         gc_runtime_start, cleared by the
                                         first gc_collect_at_exit (creating
                                         thread, single-threaded then) */
    rc_gc_gen_stats stats[RC_GC_GENERATIONS];   /* (mu) */
    struct gc_callback *callbacks;    /* (mu) */
    size_t ncallbacks, cap_callbacks; /* (mu) */
    struct rec_ring records;          /* rc_gc_record of every collection (mu) */
    struct gc_head **work;            /* the set as an array + the mark stack
                                         (collector); kept between collections
                                         while small */
    size_t work_cap;                  /* entries of each half (collector) */
    struct cc_state *cc;              /* the concurrent collector's, or NULL
                                         (immutable after init) */
    struct gc_head *cycle_list;       /* old-space objects a concurrent
                                         cycle holds out of the old space's
                                         lists (walks include it), or NULL;
                                         written by the cycle's thread
                                         (no stop on) or a stopper, read
                                         with the world stopped */
    _Atomic int local_off;            /* SAVEALL is set or callbacks are
                                         registered, which thread-local
                                         collections cannot honour: written
                                         under mu (gc_local_settings_locked),
                                         read relaxed as a setting */
    _Atomic long local_threads;       /* threads that collect their own young
                                         objects (ft mode: registered thread
                                         states); relaxed: it scales a
                                         trigger (gc_local_collect) */
    /* Tests: called by a thread-local collection while it decides (escape
     * lock held as a reader): phase 0 once its first member's count is
     * read, phase 1 between its subtract and mark passes; set while no
     * local collection runs (gc_local_test_hook). */
    void (*local_hook)(void *, int);
    void *local_hook_arg;
    _Atomic int oldspace_deferred;    /* a cycle holds pointers into the old
                                         space: no stop drains its stack
                                         (relaxed: written and read as
                                         cycle_list is) */
};

/* Per thread, owner only (allocated by gc_thread_attach). */
struct gc_thread_state {
    long stress_countdown;            /* allocations to the next stress
                                         collection */
    bool cycle_partial;               /* the concurrent cycle's batch this
                                         thread validated last was not its
                                         last (cc_finish) */
    bool finishing_cycle;             /* this thread's gc_collect finishes a
                                         concurrent cycle, holding its busy
                                         flag; cleared when the validation
                                         released it (concurrent.c) */
    int in_collection;                /* this thread runs gc_collect, its
                                         callbacks included: its allocations
                                         start no automatic collection */
    bool background;                  /* the collector's own thread
                                         (concurrent.c): its collections
                                         hold gc.collecting as 2 */
    bool auto_collect;                /* inside an automatic collection
                                         (gc_collect_quietly's), its
                                         callbacks included; rc_gc_collect
                                         clears it for its own (both save
                                         and restore it) */
    bool wait_background;             /* rc_gc_collect: wait for the
                                         collector thread's collection
                                         instead of returning 0 */
    unsigned long adopt_seen;         /* the concurrent collector's adopt
                                         epoch this thread last answered
                                         (concurrent.c, cc_adopt) */
    bool adopt_gave_up;               /* it last left with promoted objects
                                         unmoved, busy held throughout:
                                         it waits for busy no more until
                                         it has moved them (cc_adopt_now) */
    unsigned long paced;              /* gc.collections when this thread
                                         last waited for a collection
                                         (allocation pacing) */
    /* Thread-local collections (collector.c, gc_local_collect). */
    long local_young;                 /* tracked allocations minus frees
                                         reported since this thread's last
                                         young collection, never below 0 */
    bool young_stop;                  /* the young count passed the trigger
                                         for the whole young generation:
                                         the young collection due now is
                                         one that stops the world
                                         (gc_trigger_generational) */
    long local_count1;                /* its local collections of generation
                                         0 since its last one of generation
                                         1 (gc_collect_auto) */
    int local_fallback;               /* young collections to leave to the
                                         collector after a local one found
                                         garbage with a finalizer to run */
    struct gc_head **lwork;           /* the set + mark stack, then the
                                         held references (2 * lwork_cap) */
    size_t lwork_cap;
    /* The garbage of its last local collection, still to clear and
     * release (gc_local_clear_some): defer_n references at the start of
     * lwork (the held array), done up to defer_at, clearing and then
     * releasing. */
    size_t defer_n, defer_at;
    bool defer_releasing;
    bool no_defer;                    /* exiting: clear at once */
    rc_gc_record defer_rec;           /* its record, appended when done */
};

/* One collection (collector: the thread running it owns it). */
struct collection {
    struct rc_runtime *rt;
    struct thr_state *ts;
    int gen;
    struct gc_head taken;          /* the set, as spliced from the owners */
    struct gc_head unreachable;    /* phase 1's result; private (a local
                                      collection's is c->held instead) */
    struct gc_head **set;          /* the set as an array (gc.work), then the
                                      mark stack in set[n..2n) */
    size_t n;
    rc_object **held;              /* every unreachable object, one reference each */
    size_t nheld, held_room;
    size_t finalizers;             /* of them, those with a finalizer not run
                                      yet (gc_hold_stw; 0 in a
                                      local collection, whose garbage has
                                      none: gc_local_settle) */
    rc_object **saved;             /* RC_GC_DEBUG_SAVEALL: bound for gc.garbage */
    size_t nsaved;
    struct weakref_cb *cbs;        /* callbacks of reachable weakrefs */
    size_t ncbs;
    rc_gc_record rec;
    uint64_t lap_ns;               /* start of the phase being timed (gc_lap) */
    bool saveall;                  /* RC_GC_DEBUG_SAVEALL at the start */
    bool verify;                   /* the heap verifier around it */
    bool parked_online;            /* a thread waited out one of its stops
                                      online, borrows kept (stw.h) */
    bool partial;                  /* a part of a collection (a concurrent
                                      cycle's batch before its last): the
                                      generations' counts are left as they
                                      are (set by find_garbage) */
    bool young_to_old;             /* an automatic collection of
                                      generation 0 that stops the world
                                      while the young generation grows
                                      (gc.young_growing), no thread-local
                                      collections, and a concurrently
                                      collected old space: its survivors
                                      go there (gc_trial_deletion_stw;
                                      set by collect_round) */
    int dest;                      /* where a stop's survivors went
                                      (gc_trial_deletion_stw; set by
                                      find_garbage) */
    long kept;                     /* how many of the set it relinked
                                      there (alive; not the resurrected
                                      or saved garbage gc_finish puts
                                      back, nor generation 1 moved with
                                      them; set by find_garbage) */
    bool young_left;               /* a collection of the oldest generation
                                      that left the young ones alone (an
                                      automatic cycle's last batch without
                                      them): their counts are left as they
                                      are (set by find_garbage) */
    bool local;                    /* a thread-local collection:
                                      no stop, the calling thread's own
                                      objects only, its own work buffer */
    size_t young_members;          /* a local collection's members taken
                                      from generation 0 (the first ones
                                      of the set) */
    bool defer_clear;              /* a local collection whose garbage its
                                      thread clears and releases later, a
                                      slice at a time (gc_finish stops
                                      before phase 4) */
    long local_left;               /* objects of generation 1 a local
                                      collection of it left out (escaped,
                                      counted by other threads) */
};

/* ------------------------------------------------------------ collector.c */

/* Collect generations 0..gen on the calling (attached) thread; returns the
 * number of unreachable objects found, 0 if a collection is running, -1
 * with MemoryError if the collector could not get its memory. */
long gc_collect(struct thr_state *ts, int gen);

/* An automatic collection: as gc_collect, leaving no error behind when it
 * could not run (the allocation that triggered it goes on). */
void gc_collect_quietly(struct thr_state *ts, int gen);

/* The generational trigger (CPython's thresholds and long-lived damping):
 * once young passes generation 0's threshold, collect the oldest
 * generation that is due (gc_generation_due). */
void gc_trigger_generational(struct thr_state *ts, long young);
/* The stop-the-world collector's collect_due: the oldest generation that
 * is due, collected now. */
void gc_collect_due_now(struct thr_state *ts);
/* The oldest generation g >= 1 whose count passed its threshold (the
 * oldest only under the long-lived damping), else 0. */
int gc_generation_due(struct gc_state *gc);

/* Stop / restart the world for collection c, adding each stop's
 * time-to-safepoint and pause to c->rec.  Objects that died in the stop's
 * merge are freed by the restart. */
void gc_stop(struct collection *c);
void gc_start(struct collection *c);

/* The list generation i of g's owner is in, or the old space's for the
 * oldest generation when the collector keeps one (renaming g's owner).
 * With the world stopped. */
struct gc_head *gc_dest_list_stw(struct rc_runtime *rt, struct gc_head *g, int i);

/* Where survivors of a collection of generation gen go: one generation
 * older, the oldest staying put. */
static inline int gc_dest_generation(int gen)
{
    return gen < RC_GC_GENERATIONS - 1 ? gen + 1 : gen;
}

/* A thread-local collection's survivor g (unlinked, still marked
 * RC_OBF_LOCAL) into its thread's list of the generation after c->gen.
 * One entering the oldest generation takes RC_GC_OLD there, and other
 * threads' reads escape it no more (runtime/internal.h): it is never a
 * local member again.  Atomic: other threads set bits of their own. */
static inline void gc_local_promote(struct collection *c, struct gc_head *g)
{
    int dest = gc_dest_generation(c->gen);
    rc_object *o = GC_HEAD_OBJ(g);
    o->ob_flags &= (uint8_t)~RC_OBF_LOCAL;
    if (dest == RC_GC_GENERATIONS - 1)
        rc_atomic_or_relaxed(&o->ob_gc_bits, RC_GC_OLD);
    gcl_append(&c->ts->gcl->lists[dest], g);
}

/* Add the elapsed time since *t to *slot and move *t to now. */
void gc_lap(uint64_t *t, uint64_t *slot);

/* The count of an object while the world is stopped (queues merged, so
 * exact): rc_refcount without its argument check. */
static inline intptr_t gc_refcount_stw(rc_object *o)
{
    RC_ASSERT_STW("gc_refcount_stw");
    /* relaxed: with the world stopped no other thread writes the counts;
     * the stop's own synchronisation ordered their last writes. */
    uint32_t local = rc_atomic_load_relaxed(&o->ob_ref_local);
    if (local == RC_REF_IMMORTAL)
        return (intptr_t)RC_REF_IMMORTAL;
    intptr_t shared = rc_atomic_load_relaxed(&o->ob_ref_shared);
    return (intptr_t)local + (shared >> RC_REF_SHARED_SHIFT) -
           ((shared & RC_REF_STATE_MASK) == RC_REF_QUEUED);
}

/* ob_gc_bits while the world is stopped: nobody else writes them, so a
 * plain (relaxed) store replaces the atomic read-modify-write. */
static inline void gc_set_bits_stw(rc_object *o, uint8_t bits)
{
    RC_ASSERT_STW("gc_set_bits_stw");
    rc_atomic_store_relaxed(&o->ob_gc_bits, bits);
}

static inline bool gc_collecting(rc_object *o)
{
    return (obj_gc_bits(o) & RC_GC_COLLECTING) != 0;
}

static inline intptr_t gc_refs(struct gc_head *g) { return (intptr_t)g->aux; }

/* Whether o is a member of the calling thread's thread-local collection
 * (RC_OBF_LOCAL, read only on the thread's own objects).  Any object:
 * non-GC ones never carry the flag. */
static inline bool gc_local_member(rc_object *o)
{
    return rc_atomic_load_relaxed(&o->ob_tid) == rc_tls_tid && (o->ob_flags & RC_OBF_LOCAL);
}

/* -------------------------------------------------------- stw_collector.c */

/* The stop-the-world collector's phase 1 (also the concurrent collector's
 * for young generations and for full collections asked for). */
long gc_stw_find_garbage(struct collection *c);
/* Its body, with the world already stopped by the caller (left stopped). */
long gc_stw_find_garbage_stw(struct collection *c);
/* With the world stopped: exact trial deletion over c->taken, survivors
 * to their generation's lists (gc_dest_list_stw), the unreachable into
 * c->unreachable with their weakrefs handled and one reference held.
 * Returns the number of survivors, or -1 with MemoryError and every
 * member back in generation c->gen. */
long gc_trial_deletion_stw(struct collection *c);
/* The work buffer freed if a big collection grew it (its owner: the
 * thread holding gc.collecting; the world may run). */
void gc_work_trim(struct gc_state *gc);
/* Before a stop (gc.collecting held): the work buffer grown to hold need
 * set entries, its new pages touched, so that the stop neither copies nor
 * faults it in.  Failure leaves it as it was, with no error. */
void gc_work_prepare(struct gc_state *gc, size_t need);
/* The set a young collection takes, about (gc_work_prepare's need). */
size_t gc_young_estimate(struct gc_state *gc);
/* With the world stopped: free what was handed back to every owner (the
 * old space's only when no concurrent cycle defers its frees). */
void gc_drain_handbacks_stw(struct collection *c);

/* ------------------------------------------------------------ concurrent.c */

/* Whether a concurrent cycle's passes hold counts in the prev words of
 * gc_state.cycle_list (runtime/gclist.h, cycle_refs): a walk of that list
 * may follow next but not prev.  World stopped, or the cycle's holder. */
bool gc_cc_links_borrowed(struct rc_runtime *rt);

/* Tests drive a concurrent cycle by hand (automatic collection off):
 * start one now over the old space (false: none started), its phase
 * (0 idle, 1 build, 2 subtract, 3 mark, 4 gather, 5 ready; -1: not the
 * concurrent collector), units of its passes on this thread, and the
 * collection that validates it once ready (its result; -1 if not ready). */
bool gc_cc_test_start(struct thr_state *ts);
/* What the calling thread's local collections promoted joins the old
 * space now, as a thread that detaches moves it (if busy is free). */
void gc_cc_test_adopt(struct thr_state *ts);
/* Ask the threads for what their local collections promoted, as a cycle
 * due does (each moves it on at its next reports). */
void gc_cc_test_announce(struct rc_runtime *rt);
/* How long rc_gc_collect(2) waits for the threads to move theirs on (0:
 * the default); set on the thread that then calls rc_gc_collect. */
void gc_cc_test_set_adopt_wait(struct rc_runtime *rt, uint64_t ns);
/* Objects of the threads' own lists of the oldest generation that
 * rc_gc_collect(2)'s stops moved into the old space so far. */
long gc_cc_test_stop_renamed(struct rc_runtime *rt);
/* Objects promoted that the threads have not answered for (cc.unadopted). */
long gc_cc_test_unadopted(struct rc_runtime *rt);
/* Take (hold) or give back the cycle's busy flag, as a slice would. */
void gc_cc_test_busy(struct thr_state *ts, bool hold);
int gc_cc_test_phase(struct rc_runtime *rt);
void gc_cc_test_work(struct thr_state *ts, size_t units);
long gc_cc_test_finish(struct thr_state *ts);
/* Finish the cycle's batches, one collection each, until it has ended;
 * returns what they found in all (or -1). */
long gc_cc_test_finish_all(struct thr_state *ts);
/* Candidates per validating stop (0: the default). */
void gc_cc_test_set_batch(struct rc_runtime *rt, size_t batch);
/* The cycle's order (build's record of its list) fails to grow past this
 * many entries, as if memory ran out (0: no limit). */
void gc_cc_test_limit_order(struct rc_runtime *rt, size_t entries);

/* With rt->escape_lock held as a reader, no stop: trial deletion over the
 * calling thread's candidates of its lists of generations 0..c->gen (0 or
 * 1; docs/gc.md [gc.local]), its own work buffer *work (*cap entries a
 * half, grown as needed).  Survivors to its list of the next generation
 * (RC_GC_OLD for the oldest: the old space's, which the thread joins to
 * the old space when it can, gc_collector_ops.adopt), the unreachable out
 * of every list, one reference each held: c->held, in *work, is the
 * garbage (c->unreachable stays empty).  Returns
 * the survivors, or -1 with MemoryError and nothing changed. */
long gc_trial_deletion_local(struct collection *c, struct gc_head ***work, size_t *cap);

/* --------------------------------------- collector.c: local collections */

/* Under gc.mu, after SAVEALL or the callbacks changed: local_off again. */
void gc_local_settings_locked(struct gc_state *gc);
/* Whether the calling thread may collect its own young objects now (ft
 * mode, automatic collection on, nothing asked of a collection that needs
 * the world stopped: SAVEALL, callbacks). */
bool gc_local_allowed(struct thr_state *ts);
/* Thread-local collections are on for the runtime (ft mode, the
 * collector has them, no setting turns them off). */
bool gc_local_mode(struct rc_runtime *rt);
/* A thread-local collection of generations 0..gen (0 or 1; docs/gc.md
 * [gc.local]); returns what it found, or -1 if it could not run (not
 * allowed, garbage with a finalizer, no memory), having collected
 * nothing. */
long gc_local_collect(struct thr_state *ts, int gen);
/* Whether the calling thread's own young objects are due for a
 * thread-local collection (ft mode: its reported allocations since its
 * last young collection reached generation 0's threshold). */
bool gc_local_due(struct thr_state *ts);
/* Up to `budget` objects' worth of the calling thread's deferred
 * garbage (its last local collection's): each is cleared, then, once all
 * are, released (SIZE_MAX: all).  Runs object deallocation, no other
 * object code. */
void gc_local_clear_some(struct thr_state *ts, size_t budget);
/* gc_local_finish_own (hooks.h) also comes before the records and
 * statistics a thread reads: they then show its collections done, as
 * they would have been without deferral. */
/* Drop the collector's reference to a cleared piece of garbage (garbage.c). */
void gc_release_garbage(rc_object *o);
/* Tests: a function a thread-local collection calls in the middle of its
 * decision, with the phase (gc_state.local_hook; NULL: none). */
void gc_local_test_hook(struct rc_runtime *rt, void (*hook)(void *, int), void *arg);
/* An automatic collection of generation gen: of the thread's own young
 * objects when gen is 0 and it may, else the collector's
 * (gc_collect_quietly). */
void gc_collect_auto(struct thr_state *ts, int gen);

/* -------------------------------------------------------------- garbage.c */
/* The phases after finding, the same for every collector. */

/* World stopped: detach the weakrefs to the unreachable set, keeping the
 * callbacks of weakrefs that are themselves reachable (c->cbs). */
void gc_handle_weakrefs_stw(struct collection *c);
/* World stopped, phase 1's end: one reference to every unreachable
 * object, their addresses in buf (room entries, at least as many as the
 * set had: c->held), begun by gc_hold_begin_stw and taken object by object
 * by gc_hold_stw as phase 1 finds them; objects other threads own are
 * merged instead (docs/gc.md [gc.phases]).  gc_hold_stw also does what
 * gc_handle_weakrefs_stw does, for that object.  buf may be the set's
 * array being read (gc.work), provided no entry is written before it is
 * read; phase 4 trims it. */
void gc_hold_begin_stw(struct collection *c, rc_object **buf, size_t room);
void gc_hold_stw(struct collection *c, rc_object *o);
/* A thread-local collection, once it has decided (no lock held): check
 * that no other thread counts or escaped any of its garbage, close the
 * garbage to stale lock-free readers and detach the weakrefs to it (under
 * the weakref lock).  LOCAL_SETTLED: c goes on to gc_finish.  Otherwise
 * the garbage is put back and our references dropped, and c has nothing
 * left to finish: LOCAL_REACHED, another thread reached it (alive, into
 * generation 1); LOCAL_NEEDS_CODE, a finalizer or weakref callback would
 * run (back into generation 0, for a collection that stops the world). */
enum local_settle { LOCAL_SETTLED, LOCAL_REACHED, LOCAL_NEEDS_CODE };
enum local_settle gc_local_settle(struct collection *c, long *survivors);
/* Phases 2 to 4, after find_garbage.  Adds the objects put back
 * (resurrected or saved) to *survivors, sets *saved (RC_GC_DEBUG_SAVEALL);
 * returns the number of unreachable objects found. */
long gc_finish(struct collection *c, long *survivors, long *saved);

/* ---------------------------------------------------------------- records.c */

void gc_records_init(struct gc_state *gc);
void gc_records_fini(struct gc_state *gc);
/* Append c's record (under gc.mu) and print the trace line if asked. */
void gc_record_append(struct rc_runtime *rt, const rc_gc_record *rec);
/* Call every registered callback with phase and info, outside gc.mu. */
void gc_invoke_callbacks(struct rc_runtime *rt, rc_gc_phase phase, const rc_gc_info *info);

/* ---------------------------------------------------------------- verify.c */

/* The heap verifier, with the world stopped by the caller.  Returns 0, or
 * -1 with an error naming the first problem; fatal: abort instead. */
int gc_verify_heap_stw(struct rc_runtime *rt, bool fatal);
/* Call fn on every live tracked object of lists first..last of every
 * owner (world stopped by the caller); stops at fn's first non-zero
 * result and returns it. */
int gc_walk_heap_stw(struct rc_runtime *rt, int first, int last,
                     int (*fn)(rc_object *, void *), void *arg);

#endif /* RCGC_COLLECTOR_H */
