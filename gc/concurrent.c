/* gc/concurrent.c: the concurrent collector (RC_COLLECTOR_CONCURRENT;
 * docs/gc.md [gc.concurrent]).
 *
 * Young collections (generations 0 and 1) are the stop-the-world
 * collector's: their pause is bounded by the young threshold.  The oldest
 * generation lives in the old space (runtime/gclist.h), one owner of the
 * collector's, and is collected by a *cycle* whose long work runs while
 * the world runs, in slices, and whose stop is proportional to the
 * garbage it found:
 *
 *   start     (a slice) take the old space's list as the cycle's own
 *             (the old space's hand-back stack is no longer drained, so
 *             every object of that list keeps its memory to the end);
 *   build     (slices) every object of the list whose count is not 0 into
 *             a hash table, its count as read now (racy: too high or too
 *             low) beside it;
 *   subtract  (slices) for each member, the references it holds to other
 *             members are subtracted from theirs;
 *   mark      (slices) from every member left above 0, everything it
 *             reaches among the members is marked;
 *   gather    (slices) the members left unmarked are the candidates;
 *   validate  (one stop, gc_collect) exact trial deletion over the
 *             candidates, the young generations and the old objects the
 *             candidates refer to that are no members (counts merged,
 *             traversals redone with the world stopped) decides which are
 *             garbage.  Then the cycle's list goes back to the old space
 *             and its stack may be drained again.
 *
 * Why racy reads are enough: trial deletion over *any* set S, with the
 * world stopped, finds exactly the members of S referenced from outside
 * S and everything they reach; the rest of S is garbage whatever happened
 * before the stop.  So the concurrent passes only choose S: a race makes
 * a live object a candidate (rejected at the stop) or misses garbage (a
 * later cycle finds it).  What they must get right is memory safety:
 *
 *   - every member stays valid memory to the end of the cycle (the old
 *     space's deferral above);
 *   - the passes never dereference what a member refers to: a referent is
 *     looked up by address in the table, so a referent that died (a young
 *     object, freed at once) is only compared, never read;
 *   - a member's contents are read under its lock in the ft modes (lists,
 *     dicts and tuples: their deallocation takes them apart under the
 *     same lock after setting RC_GC_DEAD, object.c), or lock-free for
 *     instances (atomic slots in memory the old space keeps); in gil mode
 *     a slice holds the GIL, as every mutator does.
 *
 * Slices run on mutator threads, as assists: a thread that reports its
 * tracked allocations (every 32) while a cycle runs does a bounded amount
 * of the cycle's work (CC_ASSIST units).  A slice passes no safepoint, so
 * no stop can fall inside one: between slices the cycle's state is
 * consistent, and a stop that must see the whole old space (a full
 * collection asked for with rc_gc_collect, freeze, unfreeze) cancels the
 * cycle (cc_cancel_stw).
 *
 * Thread rule: struct cc_state belongs to the thread holding cc.busy (an
 * acquire CAS, released with a release store), or to a thread that has
 * stopped the world.  A slice never passes a safepoint, so at a stop no
 * slice is half done.  Two holders do pass safepoints: the collection
 * that finishes a cycle (its own stop; it releases busy as soon as the
 * validation ended the cycle, before finalizers and callbacks), and
 * rc_gc_collect(2)'s cycle (cc_collect_sync, between its slices).  A stop
 * by rc_gc_freeze or unfreeze may cancel the cycle under either (both
 * check the phase after each safepoint and stop).  Whoever waits for busy
 * passes safepoints meanwhile (cc_acquire).
 */
#define RCGC_BUILDING 1
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "borrow.h"
#include "collector.h"
#include "objects.h"

enum cc_phase { CC_IDLE, CC_BUILD, CC_SUBTRACT, CC_MARK, CC_GATHER, CC_READY };

/* Work units (objects walked or traversed) per assist: a unit is tens of
 * nanoseconds, an assist 30-80 us.  Smaller assists make cycles longer,
 * and the old space's frees wait for a cycle's end: at 256, binary-trees
 * held 40% more memory than with the stop-the-world collector; at 1024,
 * less (BENCHMARKS.md). */
#define CC_ASSIST 1024
/* Units per slice of the collector thread, between two safepoints (a stop
 * waits at most one slice for it: about 30-100 us). */
#define CC_THREAD_SLICE 1024
/* Units per slice of a collection asked for, between two safepoints. */
#define CC_SYNC_SLICE 4096
/* Members at most per table slot (linear probing stays short). */
#define CC_LOAD_NUM 3
#define CC_LOAD_DEN 4
#define CC_MARKED INT32_MIN
#define CC_RING 32u                /* power of two */

/* A slot of the table: a member (NULL: empty) and its count minus the
 * references from members, CC_MARKED once marked reachable.  Packed: 12
 * bytes, the count in the key's cache line but for one slot in sixteen. */
struct __attribute__((packed)) cc_slot {
    rc_object *key;
    int32_t refs;
};

struct cc_state {
    _Atomic int busy;          /* a slice (or the finish) is running */
    _Atomic int phase;         /* enum cc_phase; written by busy's holder
                                  (or a stopper), relaxed: read unlocked
                                  only as a hint that a cycle runs */
    struct gc_head list;       /* the cycle's objects, out of the old space */
    struct gc_head *cursor;    /* build: the next object of list */
    struct cc_slot *slots;     /* the table (open addressing) */
    /* References met by a traversal wait here, their slot prefetched,
     * until CC_RING more have come: then the slot is in cache when the
     * lookup reads it (as the stop-the-world passes' ring, which parks
     * objects instead).  Only compared, never dereferenced. */
    struct cc_pending {
        const rc_object *p;
        size_t h;
    } ring[CC_RING];
    unsigned rhead, rtail;     /* rtail - rhead entries */
    uint32_t *stack;           /* mark: slots marked, not yet traversed;
                                  then the candidates' slots, stack[0..top) */
    size_t tsize;              /* slots */
    size_t n, cap;             /* members; at most cap */
    size_t pos, top;           /* subtract and mark: next slot; stack top */
    size_t walked;             /* build: objects of list seen */
    size_t next_estimate;      /* the list's length when it overflowed */
    bool skipped;              /* build left out an object not known dead
                                  (its count read as 0 mid-merge, or the
                                  table full) */
    long pending_at_start;     /* gc.long_lived_pending at the start */
    uint64_t start_ns, work_ns;
    /* The collector thread (RC_COLLECTOR_CONCURRENT_THREAD; cc_thread_main).
     * threaded: immutable after init.  thread: written by the creating
     * thread only (start, join).  running: set by the thread once it is
     * registered, cleared before it exits (relaxed: assists run the cycle
     * while it is 0, and a slice either of them runs holds busy).  tmu
     * guards the thread's wait: every change to what it waits for (a
     * cycle started, collection enabled, a synchronous collection over,
     * stop) is stored before taking tmu to signal tcv, so the thread's
     * check under tmu cannot miss it.  sync: a synchronous collection
     * (cc_collect_sync) owns the cycle (relaxed: the thread then waits
     * instead of spinning on busy). */
    bool threaded;
    struct rc_thread *thread;
    _Atomic int running, stop, sync;
    /* Pacing the collector thread: the allocation reports (cc_assist
     * calls) since the cycle started, and how many may pass before the
     * allocating threads assist it anyway (the thread has fallen behind;
     * Go's assists do the same).  Written at the start under busy, added
     * to by every reporting thread; relaxed: counters. */
    _Atomic long reports, reports_allowed;
    pthread_mutex_t tmu;
    pthread_cond_t tcv;
    void *spent[2];            /* a finished cycle's table, freed outside
                                  any stop (freeing megabytes unmaps pages:
                                  milliseconds) */
};

static struct cc_state *cc_of(struct rc_runtime *rt) { return rt->gc->cc; }

static inline int cc_phase(struct cc_state *cc)
{
    return rc_atomic_load_relaxed(&cc->phase);   /* relaxed: see the field */
}

static inline void cc_set_phase(struct cc_state *cc, int phase)
{
    rc_atomic_store_relaxed(&cc->phase, phase);
}

/* What the collector thread waits for changed (stored before this call):
 * wake it.  Nothing to do without one. */
static void cc_wake(struct cc_state *cc)
{
    if (!cc->threaded)
        return;
    pthread_mutex_lock(&cc->tmu);
    pthread_cond_broadcast(&cc->tcv);
    pthread_mutex_unlock(&cc->tmu);
}

/* ---------------------------------------------------------------- the table */

static inline size_t cc_hash(const struct cc_state *cc, const void *p)
{
    /* Fibonacci hashing, reduced to [0, tsize) by a multiply (no power
     * of two needed, so the table is sized to the members it will hold). */
    uint64_t h = ((uint64_t)(uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull;
    return (size_t)(((unsigned __int128)h * cc->tsize) >> 64);
}

/* The slot of member p, or SIZE_MAX when p is no member (never
 * dereferences p). */
static inline size_t cc_lookup_from(const struct cc_state *cc, const rc_object *p, size_t i)
{
    for (;;) {
        const rc_object *k = cc->slots[i].key;
        if (k == p)
            return i;
        if (k == NULL)
            return SIZE_MAX;
        if (++i == cc->tsize)
            i = 0;
    }
}

static inline size_t cc_lookup(const struct cc_state *cc, const rc_object *p)
{
    return cc_lookup_from(cc, p, cc_hash(cc, p));
}

static void cc_insert(struct cc_state *cc, rc_object *o, int32_t refs)
{
    size_t i = cc_hash(cc, o);
    while (cc->slots[i].key != NULL) {
        if (cc->slots[i].key == o)
            return;   /* twice in the list: a bug elsewhere; count it once */
        if (++i == cc->tsize)
            i = 0;
    }
    cc->slots[i].key = o;
    cc->slots[i].refs = refs;
    cc->n++;
}

/* Free what a finished cycle left in spent (busy held, no stop on). */
static void cc_free_spent(struct cc_state *cc)
{
    for (int i = 0; i < 2; i++) {
        mem_free(cc->spent[i]);
        cc->spent[i] = NULL;
    }
}

/* Drop the table: into spent, freed by cc_free_spent. */
static void cc_free_table(struct cc_state *cc)
{
    cc_free_spent(cc);   /* (a cycle's table is spent before the next starts) */
    cc->spent[0] = cc->slots;
    cc->spent[1] = cc->stack;
    cc->slots = NULL;
    cc->stack = NULL;
    cc->tsize = cc->n = cc->cap = cc->pos = cc->top = 0;
}

/* ------------------------------------------------------------ racy reads */

/* o's count as read now, without stopping anyone: the owner's local count
 * and the shared count, two loads (a reference moving between them can
 * be missed or seen twice: the stop decides).  Relaxed: owners store the
 * local count with relaxed atomics. */
static inline int32_t cc_count(rc_object *o)
{
    uint32_t local = rc_atomic_load_relaxed(&o->ob_ref_local);
    if (local == RC_REF_IMMORTAL)
        return INT32_MAX;
    intptr_t shared = rc_atomic_load_relaxed(&o->ob_ref_shared);
    /* A QUEUED object's count holds its merge queue's reference (as
     * gc_refcount_stw); counted, it would make garbage look referenced. */
    intptr_t rc = (intptr_t)local + (shared >> RC_REF_SHARED_SHIFT) -
                  ((shared & RC_REF_STATE_MASK) == RC_REF_QUEUED);
    if (rc > INT32_MAX)
        return INT32_MAX;
    return rc < 0 ? 0 : (int32_t)rc;
}

/* Traverse member o while the world runs (file comment).  Returns false if
 * o is dead (its contents are not read). */
static inline bool cc_traverse(rc_object *o, bool ft, int (*visit)(rc_object *, void *),
                               void *arg)
{
    const rc_type *t = o->ob_type;
    if (t->flags & RC_TYPE_HEAP) {
        /* Instances: atomic slots, in memory the old space keeps. */
        if (obj_gc_bits(o) & RC_GC_DEAD)
            return false;
        const struct rc_instance *in = (const struct rc_instance *)o;
        for (size_t i = 0; i < in->nslots; i++) {
            rc_object *v = rc_atomic_load_relaxed(&in->slots[i]);   /* relaxed: racy by design */
            if (v != NULL)
                visit(v, arg);
        }
        return true;
    }
    if (!ft) {
        /* gil mode: the slice holds the GIL; a member mid-deallocation
         * (a slice run by an allocation inside a deallocation) has
         * detached what it frees before dropping it. */
        if (obj_gc_bits(o) & RC_GC_DEAD)
            return false;
        t->traverse(o, visit, arg);
        return true;
    }
    /* Attached spin: no holder parks with the lock (lock.h), and a stop
     * waits for us meanwhile. */
    obj_lock_attached(o);
    bool live = !(obj_gc_bits(o) & RC_GC_DEAD);
    if (live)
        t->traverse(o, visit, arg);
    obj_unlock(o);
    return live;
}

/* Park p's lookup; returns the entry it displaced (ring full), if any. */
static inline bool cc_park(struct cc_state *cc, const rc_object *p, struct cc_pending *out)
{
    size_t h = cc_hash(cc, p);
    __builtin_prefetch(&cc->slots[h], 1);
    bool full = cc->rtail - cc->rhead == CC_RING;
    if (full)
        *out = cc->ring[cc->rhead++ % CC_RING];
    cc->ring[cc->rtail++ % CC_RING] = (struct cc_pending){p, h};
    return full;
}

static inline void apply_subtract(struct cc_state *cc, struct cc_pending e)
{
    size_t j = cc_lookup_from(cc, e.p, e.h);
    if (j != SIZE_MAX && cc->slots[j].refs != INT32_MAX)
        cc->slots[j].refs--;
}

static inline void apply_mark(struct cc_state *cc, struct cc_pending e)
{
    size_t j = cc_lookup_from(cc, e.p, e.h);
    if (j != SIZE_MAX && cc->slots[j].refs != CC_MARKED) {
        cc->slots[j].refs = CC_MARKED;
        cc->stack[cc->top++] = (uint32_t)j;
    }
}

static int visit_subtract(rc_object *p, void *arg)
{
    struct cc_state *cc = arg;
    struct cc_pending e;
    if (cc_park(cc, p, &e))
        apply_subtract(cc, e);
    return 0;
}

static int visit_mark(rc_object *p, void *arg)
{
    struct cc_state *cc = arg;
    struct cc_pending e;
    if (cc_park(cc, p, &e))
        apply_mark(cc, e);
    return 0;
}

/* ------------------------------------------------------------- the passes */

static size_t cc_build(struct cc_state *cc, size_t budget)
{
    size_t done = 0;
    struct gc_head *g = cc->cursor;
    while (g != &cc->list && done < budget) {
        struct gc_head *next = g->next;   /* the list is the cycle's alone */
        __builtin_prefetch(next);
        rc_object *o = GC_HEAD_OBJ(g);
        cc->walked++;
        done++;
        if (!(obj_gc_bits(o) & RC_GC_DEAD)) {
            int32_t rc = cc->n < cc->cap ? cc_count(o) : 0;
            if (rc > 0)
                cc_insert(cc, o, rc);
            else
                cc->skipped = true;
        }
        g = next;
    }
    cc->cursor = g;
    if (g == &cc->list) {
        if (cc->n == cc->cap)
            cc->next_estimate = cc->walked;   /* overflowed: size the next one */
        cc_set_phase(cc, CC_SUBTRACT);
        cc->pos = 0;
    }
    return done;
}

static size_t cc_subtract(struct cc_state *cc, bool ft, size_t budget)
{
    size_t done = 0;
    while (cc->pos < cc->tsize && done < budget) {
        if (cc->pos + 16 < cc->tsize && cc->slots[cc->pos + 16].key != NULL)
            __builtin_prefetch(cc->slots[cc->pos + 16].key);
        rc_object *o = cc->slots[cc->pos++].key;
        if (o == NULL) {
            if ((cc->pos & 7) == 0)
                done++;   /* empty slots: 8 per unit */
            continue;
        }
        done++;
        cc_traverse(o, ft, visit_subtract, cc);
    }
    while (cc->rhead != cc->rtail)
        apply_subtract(cc, cc->ring[cc->rhead++ % CC_RING]);
    if (cc->pos == cc->tsize) {
        cc_set_phase(cc, CC_MARK);
        cc->pos = 0;
        cc->top = 0;
    }
    return done;
}

static size_t cc_mark(struct cc_state *cc, bool ft, size_t budget)
{
    size_t done = 0;
    while (done < budget) {
        if (cc->top > 0) {
            done++;
            cc_traverse(cc->slots[cc->stack[--cc->top]].key, ft, visit_mark, cc);
            continue;
        }
        if (cc->rhead != cc->rtail) {
            apply_mark(cc, cc->ring[cc->rhead++ % CC_RING]);
            continue;
        }
        if (cc->pos == cc->tsize) {
            cc_set_phase(cc, CC_GATHER);
            cc->cursor = cc->list.next;
            break;
        }
        size_t i = cc->pos++;
        if ((i & 7) == 7)
            done++;   /* scanning slots is work too: 8 per unit */
        if (cc->slots[i].key != NULL && cc->slots[i].refs > 0) {
            cc->slots[i].refs = CC_MARKED;
            cc->stack[cc->top++] = (uint32_t)i;
        }
    }
    return done;
}

/* The members left unmarked are the candidates: their slots into
 * stack[0..top), so that the stop visits them only, not the table, and in
 * the order of the cycle's list (roughly the order they were allocated
 * in, which every later walk of them, at the stop and after, follows). */
static size_t cc_gather(struct cc_state *cc, size_t budget)
{
    size_t done = 0;
    struct gc_head *g = cc->cursor;
    while (g != &cc->list && done < budget) {
        struct gc_head *next = g->next;
        __builtin_prefetch(next);
        done++;
        size_t j = cc_lookup(cc, GC_HEAD_OBJ(g));
        if (j != SIZE_MAX && cc->slots[j].refs != CC_MARKED)
            cc->stack[cc->top++] = (uint32_t)j;
        g = next;
    }
    cc->cursor = g;
    if (g == &cc->list)
        cc_set_phase(cc, CC_READY);
    return done;
}

/* ------------------------------------------------------------ the cycle */

/* The old space's size, over-estimated: every tracked object, with some
 * room for what the snapshot of the threads' counters missed.  Takes the
 * runtime's lock: never with the world stopped. */
static size_t cc_estimate(struct rc_runtime *rt)
{
    size_t n = obj_live_tracked(rt);
    return n + n / 8 + 4096;
}

/* Start a cycle over the old space's list (busy held, and either no stop
 * on or the caller's own stop): cap members at most.  Returns false if
 * the old space is empty, or if memory ran out (MemoryError left set
 * unless quiet), the old space unchanged. */
static bool cc_start(struct rc_runtime *rt, struct cc_state *cc, size_t cap, bool quiet)
{
    struct gc_state *gc = rt->gc;
    struct gcl_owner *old = rt->gcl.oldspace;
    cc_free_spent(cc);
    if (gcl_is_empty(&old->lists[RC_GC_GENERATIONS - 1]))
        return false;
    if (cc->next_estimate > cap)
        cap = cc->next_estimate + cc->next_estimate / 8;
    if (cap > UINT32_MAX / 2)
        cap = UINT32_MAX / 2;
    size_t tsize = cap / CC_LOAD_NUM * CC_LOAD_DEN + 1;
    bool had_error = rc_error_occurred() != RC_ERR_NONE;
    cc->slots = mem_calloc(tsize, sizeof *cc->slots);
    cc->stack = mem_alloc(cap * sizeof *cc->stack);
    if (cc->slots == NULL || cc->stack == NULL) {
        cc_free_table(cc);
        cc_free_spent(cc);
        if (quiet && !had_error)
            rc_error_clear();   /* an automatic cycle: no error left behind */
        return false;
    }
    cc->tsize = tsize;
    cc->cap = cap;
    cc->n = cc->pos = cc->top = cc->walked = 0;
    cc->rhead = cc->rtail = 0;
    cc->next_estimate = 0;
    cc->skipped = false;
    /* Ours now: the old space's frees are deferred from here on (no stop
     * drains its stack), so every object of the list stays valid memory. */
    rc_atomic_store_relaxed(&gc->oldspace_deferred, 1);
    gcl_init(&cc->list);
    gcl_splice(&cc->list, &old->lists[RC_GC_GENERATIONS - 1]);
    gc->cycle_list = &cc->list;
    cc->cursor = cc->list.next;
    /* relaxed: a trigger count. */
    cc->pending_at_start = rc_atomic_load_relaxed(&gc->long_lived_pending);
    cc->start_ns = rc_clock_ns();
    cc->work_ns = 0;
    /* relaxed: counters.  A cycle's passes are about 4 units per member,
     * and an assist does CC_ASSIST units per report, so assists alone end
     * a cycle within about 4 * cap / CC_ASSIST reports; the thread gets
     * eight times as long before they join it. */
    rc_atomic_store_relaxed(&cc->reports, 0);
    rc_atomic_store_relaxed(&cc->reports_allowed, (long)(32 * cap / CC_ASSIST) + 64);
    cc_set_phase(cc, CC_BUILD);
    return true;
}

/* The cycle's list back into the old space, the table dropped, frees no
 * longer deferred.  The world is stopped, or the caller holds busy and no
 * stop is on. */
static void cc_end(struct rc_runtime *rt, struct cc_state *cc)
{
    struct gc_state *gc = rt->gc;
    struct gcl_owner *old = rt->gcl.oldspace;
    gcl_splice(&old->lists[RC_GC_GENERATIONS - 1], &cc->list);
    gc->cycle_list = NULL;
    cc_free_table(cc);
    cc_set_phase(cc, CC_IDLE);
    rc_atomic_store_relaxed(&gc->oldspace_deferred, 0);
}

static void cc_cancel_stw(struct rc_runtime *rt)
{
    RC_ASSERT_STW("cc_cancel_stw");
    struct cc_state *cc = cc_of(rt);
    if (cc_phase(cc) != CC_IDLE)
        cc_end(rt, cc);
}

/* Old-space objects the candidates refer to that are not members (they
 * joined the old space while the cycle ran), and what those refer to in
 * turn, join the set.  Left out, one that is garbage too would count as
 * live: a weakref in the garbage would be called back, as if it were
 * alive, when its target is collected.  COLLECTING marks what is taken
 * (gather sets it on every member of the set anyway). */
struct take_ctx {
    struct collection *c;
    struct cc_state *cc;
    struct gcl_owner *old;
};

static int visit_take(rc_object *r, void *arg)
{
    struct take_ctx *t = arg;
    if (!obj_is_gc(r))
        return 0;
    struct gc_head *g = OBJ_GC_HEAD(r);
    uint8_t bits = obj_gc_bits(r);
    /* Frozen objects (the old space's permanent list) have no RC_GC_OLD. */
    if (!(bits & RC_GC_TRACKED) || !(bits & RC_GC_OLD) || (bits & RC_GC_COLLECTING) ||
        gcl_owner_of(g) != t->old ||
        cc_lookup(t->cc, r) != SIZE_MAX || gc_refcount_stw(r) <= 0)
        return 0;
    gc_set_bits_stw(r, bits | RC_GC_COLLECTING);
    gcl_remove(g);
    gcl_append(&t->c->taken, g);
    return 0;
}

static void cc_take_referents_stw(struct collection *c, struct cc_state *cc)
{
    RC_ASSERT_STW("cc_take_referents_stw");
    struct take_ctx t = {c, cc, c->rt->gcl.oldspace};
    for (struct gc_head *g = c->taken.next; g != &c->taken; g = g->next) {
        rc_object *o = GC_HEAD_OBJ(g);
        gc_set_bits_stw(o, obj_gc_bits(o) | RC_GC_COLLECTING);
    }
    /* The list is its own work queue: what visit_take appends is visited
     * in turn. */
    for (struct gc_head *g = c->taken.next; g != &c->taken; g = g->next) {
        rc_object *o = GC_HEAD_OBJ(g);
        o->ob_type->traverse(o, visit_take, &t);
    }
}

/* Every owner's young generations into c->taken (world stopped). */
static void take_young_stw(struct gcl_owner *ow, void *arg)
{
    struct collection *c = arg;
    if (ow->oldspace)
        return;
    for (int i = 0; i < RC_GC_GENERATIONS - 1; i++)
        gcl_splice(&c->taken, &ow->lists[i]);
}

/* Validation (phase 1 of the collection that finishes a cycle), with the
 * world stopped: the candidates and the young generations into c->taken,
 * exact trial deletion over them, the cycle's list back into the old
 * space.  The young generations are in the set because garbage the cycle
 * found may be referred to by young garbage (a weakref made after its
 * target, a cycle completed by a younger object): left out, that young
 * garbage would count as a live referrer, keeping the group alive, and a
 * weakref in the garbage would be called back as if it were live.  So a
 * cycle ends as a full collection would, with O(candidates + young)
 * work at its stop; the survivors all join the old space. */
static long cc_validate_stw(struct collection *c, struct cc_state *cc)
{
    RC_ASSERT_STW("cc_validate_stw");
    struct rc_runtime *rt = c->rt;
    long members = (long)cc->n, moved = 0;
    for (size_t k = 0; k < cc->top; k++) {
        rc_object *o = cc->slots[cc->stack[k]].key;
        /* Dying since (count 0, perhaps on the old space's stack, or a
         * trash stack through aux): left in the list. */
        if ((obj_gc_bits(o) & RC_GC_DEAD) || gc_refcount_stw(o) <= 0)
            continue;
        struct gc_head *g = OBJ_GC_HEAD(o);
        gcl_remove(g);
        gcl_append(&c->taken, g);
        moved++;
    }
    /* Non-members exist only if objects joined the old space since the
     * cycle began, or build left some out. */
    if (!gcl_is_empty(&rt->gcl.oldspace->lists[RC_GC_GENERATIONS - 1]) || cc->skipped)
        cc_take_referents_stw(c, cc);
    /* The threads' hand-back stacks (the old space's is still deferred),
     * then their young generations. */
    gc_drain_handbacks_stw(c);
    gcl_for_each_owner_stw(rt, take_young_stw, c);
    /* relaxed: a trigger count (collector.h). */
    rc_atomic_store_relaxed(&rt->gc->young_count, 0);
    c->ts->gct.delta = 0;
    cc_end(rt, cc);
    long survivors = gc_trial_deletion_stw(c);
    if (survivors < 0)
        return -1;
    /* The cycle considered every member, as a full collection scans the
     * whole heap; the stop's trial deletion only the candidates. */
    c->rec.scanned = members;
    /* What a full collection would have left: the old space after it. */
    return members - moved + survivors;
}

/* Up to budget units of the passes (busy held, attached, no stop on). */
static void cc_work(struct cc_state *cc, bool ft, size_t budget)
{
    uint64_t t0 = rc_clock_ns();
    size_t done = 0;
    while (done < budget) {
        switch (cc_phase(cc)) {
        case CC_BUILD:
            done += cc_build(cc, budget - done);
            break;
        case CC_SUBTRACT:
            done += cc_subtract(cc, ft, budget - done);
            break;
        case CC_MARK:
            done += cc_mark(cc, ft, budget - done);
            break;
        case CC_GATHER:
            done += cc_gather(cc, budget - done);
            break;
        default:
            done = budget;   /* idle or ready: nothing to do */
            break;
        }
    }
    cc->work_ns += rc_clock_ns() - t0;
}

static void cc_acquire(struct cc_state *cc)
{
    /* acquire: pairs with the release store that ended the last holder's
     * work, so its writes to the cycle's state happen before ours.  A
     * holder is a slice (microseconds, no safepoint) or a collection
     * finishing a cycle before its validation (it releases busy then);
     * waiting, we pass safepoints, so that neither a stop nor, in gil
     * mode, the GIL waits for us meanwhile. */
    for (;;) {
        int expected = 0;
        if (rc_atomic_cas_strong_acquire(&cc->busy, &expected, 1))
            return;
        rc_safepoint();
        sched_yield();
    }
}

static void cc_release(struct cc_state *cc)
{
    cc_free_spent(cc);
    /* release: pairs with cc_acquire and cc_slice's acquire CAS. */
    rc_atomic_store_release(&cc->busy, 0);
}

/* Every owner's young generations join the old space (renamed; with the
 * world stopped).  O(young objects), bounded by the young thresholds. */
static void promote_young_stw(struct gcl_owner *ow, void *arg)
{
    struct collection *c = arg;
    if (ow->oldspace)
        return;
    for (int i = 0; i < RC_GC_GENERATIONS - 1; i++) {
        struct gc_head *list = &ow->lists[i];
        while (!gcl_is_empty(list)) {
            struct gc_head *g = list->next;
            rc_object *o = GC_HEAD_OBJ(g);
            gc_set_bits_stw(o, obj_gc_bits(o) | RC_GC_OLD);
            gcl_remove(g);
            gcl_append(gc_dest_list_stw(c->rt, g, RC_GC_GENERATIONS - 1), g);
        }
    }
}

/* The validation stop of a cycle whose passes are done. */
static long cc_validate(struct collection *c, struct cc_state *cc)
{
    /* The set's array sized before the stop: the candidates and the young
     * generations (the old objects they pull in, if any, grow it). */
    gc_work_prepare(c->rt->gc, cc->top + gc_young_estimate(c->rt->gc));
    gc_stop(c);
    if (cc_phase(cc) != CC_READY) {
        /* rc_gc_freeze or unfreeze cancelled the cycle while we waited for
         * our stop: the whole heap, under this stop. */
        long survivors = gc_stw_find_garbage_stw(c);
        gc_start(c);
        return survivors;
    }
    if (c->verify)
        gc_verify_heap_stw(c->rt, true);
    c->rec.concurrent_ns = cc->work_ns;
    c->rec.cycle_start_ns = cc->start_ns;
    gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_MERGE]);
    long survivors = cc_validate_stw(c, cc);
    gc_start(c);
    return survivors;
}

/* A full collection asked for (rc_gc_collect(2), collection at exit): a
 * cycle run to its end on this thread, over the whole heap.  A short stop
 * (O(young objects)) moves the young generations into the old space and
 * starts the cycle; the passes run with the world running, this thread
 * passing a safepoint between slices; the validation stop is O(garbage).
 * Complete: garbage never changes, so the passes find every object that
 * was garbage at the start (a cycle already running is dropped, its
 * table built before some of that garbage was). */
static long cc_collect_sync_owned(struct collection *c, struct cc_state *cc);

static long cc_collect_sync(struct collection *c, struct cc_state *cc)
{
    /* relaxed: see the field.  The collector thread finishes its slice,
     * sees the flag and waits for the wake below. */
    rc_atomic_store_relaxed(&cc->sync, 1);
    long r = cc_collect_sync_owned(c, cc);
    rc_atomic_store_relaxed(&cc->sync, 0);
    cc_wake(cc);
    return r;
}

static long cc_collect_sync_owned(struct collection *c, struct cc_state *cc)
{
    struct rc_runtime *rt = c->rt;
    struct gc_state *gc = rt->gc;
    size_t cap = cc_estimate(rt);
    cc_acquire(cc);
    gc_stop(c);
    cc_cancel_stw(rt);
    if (c->verify)
        gc_verify_heap_stw(rt, true);
    gc_drain_handbacks_stw(c);
    gcl_for_each_owner_stw(rt, promote_young_stw, c);
    /* relaxed: a trigger count (collector.h). */
    rc_atomic_store_relaxed(&gc->young_count, 0);
    c->ts->gct.delta = 0;
    bool had_error = rc_error_occurred() != RC_ERR_NONE;
    bool started = cc_start(rt, cc, cap, false);
    gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_MERGE]);
    gc_start(c);
    if (!started) {
        cc_release(cc);
        /* An empty heap, or no memory for the table (MemoryError). */
        return rc_error_occurred() != RC_ERR_NONE && !had_error ? -1 : 0;
    }
    bool ft = c->ts->tid != RC_TID_GIL;
    while (cc_phase(cc) != CC_READY) {
        cc_work(cc, ft, CC_SYNC_SLICE);
        if (cc_phase(cc) == CC_READY)
            break;
        rc_safepoint();
        if (cc_phase(cc) == CC_IDLE) {
            /* Cancelled at that safepoint (rc_gc_freeze, unfreeze): the
             * whole heap with the world stopped instead. */
            cc_release(cc);
            return gc_stw_find_garbage(c);
        }
    }
    if (cc->n == cc->cap) {
        /* Members were left out (the estimate was short): not complete. */
        gc_stop(c);
        cc_cancel_stw(rt);
        gc_start(c);
        cc_release(cc);
        return gc_stw_find_garbage(c);
    }
    long survivors = cc_validate(c, cc);
    cc_release(cc);
    return survivors;
}

static long cc_find_garbage(struct collection *c)
{
    struct cc_state *cc = cc_of(c->rt);
    if (c->gen < RC_GC_GENERATIONS - 1)
        return gc_stw_find_garbage(c);
    if (!c->ts->gc->finishing_cycle)
        return cc_collect_sync(c, cc);
    /* Finishing an automatic cycle (cc_finish, busy held).  If a stop by
     * rc_gc_freeze or unfreeze, during the start callbacks, cancelled it:
     * the whole heap with the world stopped. */
    if (cc_phase(cc) != CC_READY)
        return gc_stw_find_garbage(c);
    long survivors = cc_validate(c, cc);
    if (c->rec.cycle_start_ns != 0) {   /* validated (not the fallback) */
        /* The cycle is over: busy goes now, before the finalizers and the
         * stop callbacks, which may wait for a thread that spins on it
         * (cc_acquire) or stop the world. */
        c->ts->gc->finishing_cycle = false;
        cc_release(cc);
    }
    return survivors;
}

/* Finish a cycle whose passes are done (busy held): the collection that
 * validates it, which releases busy once the cycle has ended (else we
 * do).  Returns what it found, or -1 (MemoryError). */
static long cc_finish(struct thr_state *ts, struct cc_state *cc)
{
    struct gc_state *gc = ts->rt->gc;
    /* relaxed: trigger counts. */
    long pending = rc_atomic_load_relaxed(&gc->long_lived_pending);
    long pending_at_start = cc->pending_at_start;
    ts->gc->finishing_cycle = true;
    long found = gc_collect(ts, RC_GC_GENERATIONS - 1);
    if (ts->gc->finishing_cycle) {
        /* Not validated (another collection ran, or a fallback to the
         * whole heap): busy is still ours. */
        ts->gc->finishing_cycle = false;
        cc_release(cc);
    } else if (found >= 0) {
        /* The collection's accounting reset the growth count; what the old
         * space gained or lost while the cycle ran counts still. */
        rc_atomic_add_relaxed(&gc->long_lived_pending, pending - pending_at_start);
    }
    return found;
}

/* One slice of the cycle's work on this thread (attached, no stop on).
 * Finishes the cycle (a collection: stop, finalizers, clearing) when the
 * passes are done.  Returns false if it could do nothing: another thread
 * holds the cycle (busy) or, the passes done, a collection runs. */
static bool cc_slice(struct thr_state *ts, struct cc_state *cc, size_t budget)
{
    int expected = 0;
    /* acquire: see cc_acquire. */
    if (!rc_atomic_cas_strong_acquire(&cc->busy, &expected, 1))
        return false;
    cc_work(cc, ts->tid != RC_TID_GIL, budget);
    if (cc_phase(cc) != CC_READY) {
        cc_release(cc);
        return true;
    }
    /* relaxed: a hint.  Another thread's collection (a young one, its
     * finalizers perhaps long) holds the collector: finishing now would
     * return at once; no progress, the caller backs off. */
    if (rc_atomic_load_relaxed(&ts->rt->gc->collecting) != 0) {
        cc_release(cc);
        return false;
    }
    bool had_error = rc_error_occurred() != RC_ERR_NONE;
    if (cc_finish(ts, cc) < 0 && !had_error)
        rc_error_clear();   /* an automatic collection leaves no error */
    return true;
}

/* ------------------------------------------------------------ the hooks */

/* An automatic collection is due: the young generations', and a cycle if
 * the oldest generation is due and none runs. */
static void cc_collect_due(struct thr_state *ts)
{
    struct rc_runtime *rt = ts->rt;
    struct cc_state *cc = cc_of(rt);
    struct gc_state *gc = rt->gc;
    int gen = gc_generation_due(gc);
    if (gen == RC_GC_GENERATIONS - 1) {
        int expected = 0;
        /* acquire / release: busy (struct cc_state). */
        if (rc_atomic_cas_strong_acquire(&cc->busy, &expected, 1)) {
            bool started = cc_phase(cc) == CC_IDLE && cc_start(rt, cc, cc_estimate(rt), true);
            cc_release(cc);
            if (started)
                cc_wake(cc);
        }
        /* The young generation due on its own count: generation 2 stays
         * due until the cycle ends, and collecting generation 1 every time
         * meanwhile would promote every survivor of one young collection.
         * relaxed: trigger counts and settings. */
        gen = rc_atomic_load_relaxed(&gc->count[1]) >= rc_atomic_load_relaxed(&gc->threshold[1])
                  ? 1 : 0;
    }
    gc_collect_quietly(ts, gen);
}

/* After each report of a thread's allocations: its share of a running
 * cycle's work. */
static void cc_assist(struct thr_state *ts)
{
    struct rc_runtime *rt = ts->rt;
    struct cc_state *cc = cc_of(rt);
    if (cc_phase(cc) != CC_IDLE) {
        /* relaxed: a setting.  A cycle pauses while automatic collection
         * is off (tests drive one by hand then); rc_gc_collect(2) drops
         * it.  Not inside a deallocation (gil mode: a container half taken
         * apart).  Beside a running collector thread only when it has
         * fallen behind, or under rc_gc_set_stress, whose collections
         * should come as often as they can (relaxed: hints and settings;
         * busy decides who works). */
        if (ts->dealloc_depth == 0 && rc_atomic_load_relaxed(&rt->gc->enabled) &&
            (!rc_atomic_load_relaxed(&cc->running) || rc_atomic_load_relaxed(&rt->gc->stress) > 0 ||
             rc_atomic_add_relaxed(&cc->reports, 1) >= rc_atomic_load_relaxed(&cc->reports_allowed)))
            cc_slice(ts, cc, CC_ASSIST);
        return;
    }
    /* Between cycles: free what died in the old space (its stack's only
     * consumer while we hold busy, with no cycle and no stop on).
     * relaxed: a hint; the drain's exchange acquires. */
    struct gcl_owner *old = rt->gcl.oldspace;
    if (rc_atomic_load_relaxed(&old->handback) == NULL)
        return;
    int expected = 0;
    if (!rc_atomic_cas_strong_acquire(&cc->busy, &expected, 1))
        return;
    if (cc_phase(cc) == CC_IDLE)
        gcl_drain_handback(ts, old);
    cc_release(cc);
}

static int cc_init(struct rc_runtime *rt)
{
    struct cc_state *cc = calloc(1, sizeof *cc);
    if (cc == NULL || gcl_oldspace_init(rt) < 0) {
        free(cc);
        if (rc_error_occurred() == RC_ERR_NONE)
            err_nomem();
        return -1;
    }
    atomic_init(&cc->busy, 0);
    atomic_init(&cc->phase, CC_IDLE);
    atomic_init(&cc->running, 0);
    atomic_init(&cc->stop, 0);
    atomic_init(&cc->sync, 0);
    atomic_init(&cc->reports, 0);
    atomic_init(&cc->reports_allowed, 0);
    gcl_init(&cc->list);
    cc->threaded = rt->cfg.collector == RC_COLLECTOR_CONCURRENT_THREAD;
    if (cc->threaded) {
        pthread_mutex_init(&cc->tmu, NULL);
        pthread_cond_init(&cc->tcv, NULL);
    }
    rt->gc->cc = cc;
    return 0;
}

/* ------------------------------------------------------ the collector thread */

/* Whether the collector thread has a cycle to work on (relaxed loads:
 * under tmu for the wait, see the fields; as a hint in its loop).  Under
 * rc_gc_set_stress it stands aside: torture collections come at every
 * allocation, in step with the program (the allocating threads assist, as
 * with RC_COLLECTOR_CONCURRENT), which a thread working beside them made
 * lag (test_gc's stress tests then found old garbage left). */
static bool cc_thread_has_work(struct rc_runtime *rt, struct cc_state *cc)
{
    return cc_phase(cc) != CC_IDLE && rc_atomic_load_relaxed(&rt->gc->enabled) &&
           rc_atomic_load_relaxed(&rt->gc->stress) == 0 &&
           !rc_atomic_load_relaxed(&cc->sync) && !rc_atomic_load_relaxed(&cc->stop);
}

/* No progress possible for now: wait detached for up to a millisecond or
 * a wake. */
static void cc_thread_back_off(struct cc_state *cc)
{
    if (rc_detach() < 0)
        rc_fatal("collector thread: rc_detach: %s", rc_error_message());
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&cc->tmu);
    if (!rc_atomic_load_relaxed(&cc->stop))
        pthread_cond_timedwait(&cc->tcv, &cc->tmu, &until);
    pthread_mutex_unlock(&cc->tmu);
    if (rc_attach() < 0)
        rc_fatal("collector thread: rc_attach: %s", rc_error_message());
}

/* RC_COLLECTOR_CONCURRENT_THREAD: a thread of the collector's runs every
 * cycle's passes and finishes it (the validation stop, finalizers,
 * callbacks), in slices with a safepoint between them, so that the
 * allocating threads do none of it.  Waiting, it is detached: a stop does
 * not wait for it, and in gil mode it holds no GIL. */
static void cc_thread_main(void *arg)
{
    struct rc_runtime *rt = arg;
    struct cc_state *cc = cc_of(rt);
    struct thr_state *ts = rc_tls_state;
    ts->gc->background = true;
    rc_atomic_store_relaxed(&cc->running, 1);
    for (;;) {
        while (cc_thread_has_work(rt, cc)) {
            if (!cc_slice(ts, cc, CC_THREAD_SLICE)) {
                /* Another thread holds the cycle or the collector (a
                 * collection whose finalizers may take long): back off
                 * detached for up to a millisecond, holding no GIL, woken
                 * early by any cc_wake. */
                cc_thread_back_off(cc);
                continue;
            }
            rc_safepoint();
        }
        if (rc_detach() < 0)
            rc_fatal("collector thread: rc_detach: %s", rc_error_message());
        pthread_mutex_lock(&cc->tmu);
        while (!rc_atomic_load_relaxed(&cc->stop) && !cc_thread_has_work(rt, cc))
            pthread_cond_wait(&cc->tcv, &cc->tmu);
        pthread_mutex_unlock(&cc->tmu);
        if (rc_attach() < 0)
            rc_fatal("collector thread: rc_attach: %s", rc_error_message());
        if (rc_atomic_load_relaxed(&cc->stop))
            break;
    }
    /* Assists take over from here (a cycle that runs keeps its state). */
    rc_atomic_store_relaxed(&cc->running, 0);
}

static int cc_start_thread(struct rc_runtime *rt)
{
    struct cc_state *cc = cc_of(rt);
    if (!cc->threaded)
        return 0;
    cc->thread = rc_thread_start(cc_thread_main, rt);
    return cc->thread != NULL ? 0 : -1;
}

static int cc_threads(struct rc_runtime *rt)
{
    struct cc_state *cc = cc_of(rt);
    return cc->thread != NULL ? 1 : 0;
}

static void cc_stop_thread(struct rc_runtime *rt)
{
    struct cc_state *cc = cc_of(rt);
    if (cc->thread == NULL)
        return;
    rc_atomic_store_relaxed(&cc->stop, 1);
    cc_wake(cc);
    /* -1 only if the thread could not start (it is joined all the same):
     * assists did its work, so nothing is lost. */
    if (rc_thread_join(cc->thread) < 0)
        rc_error_clear();
    cc->thread = NULL;
}

static void cc_settings_changed(struct rc_runtime *rt)
{
    cc_wake(cc_of(rt));
}

static void cc_fini(struct rc_runtime *rt)
{
    /* Old objects that died after the last collection (the exiting main
     * thread's merges, interned strings' containers): freed now. */
    if (rt->gcl.oldspace != NULL)
        gcl_drain_handback_at_teardown(rt->gcl.oldspace);
    struct cc_state *cc = cc_of(rt);
    if (cc != NULL) {
        cc_free_table(cc);
        cc_free_spent(cc);
        if (cc->threaded) {
            pthread_mutex_destroy(&cc->tmu);
            pthread_cond_destroy(&cc->tcv);
        }
        free(cc);
        rt->gc->cc = NULL;
    }
    gc_stw_collector.fini(rt);
}

const struct gc_collector_ops gc_concurrent_collector = {
    .name = "concurrent",
    .init = cc_init,
    .fini = cc_fini,
    .start = cc_start_thread,
    .threads = cc_threads,
    .stop_threads = cc_stop_thread,
    .settings_changed = cc_settings_changed,
    .find_garbage = cc_find_garbage,
    .allocated = gc_trigger_generational,
    .collect_due = cc_collect_due,
    .assist = cc_assist,
    .cancel_stw = cc_cancel_stw,
    .store_barrier = NULL,   /* the stop re-reads what it decides on */
};

/* ------------------------------------------------------ hooks for tests */

bool gc_cc_test_start(struct thr_state *ts)
{
    struct rc_runtime *rt = ts->rt;
    struct cc_state *cc = cc_of(rt);
    if (cc == NULL)
        return false;
    size_t cap = cc_estimate(rt);
    cc_acquire(cc);
    bool started = cc_phase(cc) == CC_IDLE && cc_start(rt, cc, cap, true);
    cc_release(cc);
    return started;
}

int gc_cc_test_phase(struct rc_runtime *rt)
{
    struct cc_state *cc = cc_of(rt);
    return cc == NULL ? -1 : cc_phase(cc);
}

void gc_cc_test_work(struct thr_state *ts, size_t units)
{
    struct cc_state *cc = cc_of(ts->rt);
    cc_acquire(cc);
    cc_work(cc, ts->tid != RC_TID_GIL, units);
    cc_release(cc);
}

long gc_cc_test_finish(struct thr_state *ts)
{
    struct cc_state *cc = cc_of(ts->rt);
    cc_acquire(cc);
    if (cc_phase(cc) != CC_READY) {
        cc_release(cc);
        return -1;
    }
    return cc_finish(ts, cc);
}
