/* gc/concurrent.c: the concurrent collector (RC_COLLECTOR_CONCURRENT;
 * docs/gc.md [gc.concurrent]).
 *
 * Young collections (generations 0 and 1) run on the thread whose objects
 * they are, with no stop, in ft mode (collector.c, gc_local_collect; their
 * survivors join the old space through cc_adopt), and otherwise are the
 * stop-the-world collector's: their pause is bounded by the young
 * threshold.  The oldest
 * generation lives in the old space (runtime/gclist.h), one owner of the
 * collector's, and is collected by a *cycle* whose long work runs while
 * the world runs, in slices, and whose stop is proportional to the
 * garbage it found:
 *
 *   start     (a slice) take the old space's list as the cycle's own
 *             (the old space's hand-back stack is no longer drained, so
 *             every object of that list keeps its memory to the end);
 *   build     (slices) every object of the list whose count is not 0
 *             becomes a member: its address into the member map (a bit per
 *             16 bytes of address space), its count as read now (racy: too
 *             high or too low) into its links' prev word (cycle_refs);
 *   subtract  (slices, down the list) for each member, the references it
 *             holds to other members are subtracted from theirs;
 *   mark      (slices) from every member left above 0, everything it
 *             reaches among the members is marked;
 *   gather    (slices) the members left unmarked are the candidates, in
 *             the order of a depth-first search over the references
 *             among them (a tree per root the walk meets), and the prev
 *             links are restored;
 *   validate  (stops, gc_collect) exact trial deletion over the
 *             candidates (counts merged, traversals redone with the world
 *             stopped) decides which are garbage: in batches of whole
 *             trees of about cc.batch objects, the last trees first, one
 *             collection each (its own stop, finalizers and clearing);
 *             the last batch ends the cycle: its list goes back to the
 *             old space and its stack may be drained again (the young
 *             generations join the set at the end of an automatic cycle,
 *             and where weakrefs are: cc_validate_stw).
 *
 * Why racy reads are enough: trial deletion over *any* set S, with the
 * world stopped, finds exactly the members of S referenced from outside
 * S and everything they reach; the rest of S is garbage whatever happened
 * before the stop.  So the concurrent passes only choose S: a race makes
 * a live object a candidate (rejected at the stop) or misses garbage (a
 * later cycle finds it).  The same holds for each batch: a batch's
 * member referenced from outside the batch survives it.  The order makes
 * that rare: in a depth-first forest every reference between two trees
 * goes from the later tree to the earlier one, so a batch's referrers
 * among the candidates were in batches validated, and cleared, before it
 * (garbage of one cycle is all found, as a whole-set stop would; a
 * weakref's target counts as a reference, so that a garbage weakref is
 * never taken for a live one and called back).  What the passes must
 * get right is memory safety:
 *
 *   - every member stays valid memory to the end of the cycle (the old
 *     space's deferral above);
 *   - the passes dereference what a member refers to only once the member
 *     map has said it is a member itself: a referent that died (a young
 *     object, freed at once) is only looked up by address, never read;
 *   - a member's prev word is the cycle's while it holds a count: nobody
 *     else unlinks from the cycle's list (the old space's objects are
 *     handed back, never unlinked by their threads), and what walks or
 *     splices it with the world stopped (the heap verifier, a cancel)
 *     skips the prev links or restores them first;
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
 * rc_gc_collect(2)'s cycle (cc_collect_sync, between its slices and,
 * through collect()'s rounds, between its batches: busy is held from the
 * start of its passes to its last batch, seconds at millions of objects).
 * A stop by rc_gc_freeze or unfreeze may cancel the cycle under either
 * (both check the phase after each safepoint and stop).  Whoever waits
 * for busy passes safepoints meanwhile (cc_acquire).
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
#include "weakref.h"

enum cc_phase { CC_IDLE, CC_BUILD, CC_SUBTRACT, CC_MARK, CC_GATHER, CC_READY };

/* Whether the prev links of the cycle's list hold counts (cycle_refs). */
static inline bool cc_links_borrowed(int phase)
{
    return phase >= CC_BUILD && phase <= CC_GATHER;
}

/* Work units (objects walked or traversed) per assist: a unit is tens of
 * nanoseconds, an assist 30-80 us.  Smaller assists make cycles longer,
 * and the old space's frees wait for a cycle's end: at 256, binary-trees
 * held 40% more memory than with the stop-the-world collector; at 1024,
 * less (BENCHMARKS.md). */
#define CC_ASSIST 1024
/* Units per slice of the collector thread, between two safepoints (a stop
 * waits at most one slice for it: about 30-100 us). */
#define CC_THREAD_SLICE 1024
/* Promoted objects a thread moves into the old space per allocation
 * report when asked (cc_adopt_if_asked): a rename each, about 20-40 us. */
#define CC_ADOPT_SLICE 4096
/* How long rc_gc_collect(2) lets the threads move their promoted objects
 * on themselves before its stop renames what is left
 * (cc_collect_sync_owned). */
#define CC_ADOPT_WAIT_NS 2000000
/* Units per slice of a collection asked for, between two safepoints. */
#define CC_SYNC_SLICE 4096
#define CC_RING 32u                /* power of two */
/* The mark stack's first length (it grows by doubling). */
#define CC_STACK_MIN 4096
/* Entries of the cycle's order that a pass prefetches ahead. */
#define CC_ORDER_AHEAD 16
/* Candidates validated per stop (whole trees: a bigger tree, one stop of
 * its own).  A candidate is 30-60 ns of a stop (BENCHMARKS.md), so a
 * batch is 0.1-0.25 ms (8,192 made stops of up to 1.1 ms at 10M live
 * objects, where a candidate's first touch misses the TLB). */
#define CC_BATCH 4096
/* Restarts of a batch's stop to let a dying candidate die first
 * (cc_validate): each lets one more link of a chain of releases queued to
 * other threads die.  An automatic cycle need not be complete (what is
 * left, the next finds); rc_gc_collect(2) must. */
#define CC_DYING_RETRIES 1
#define CC_DYING_RETRIES_SYNC 64
/* cc_validate_stw: a batch's candidate is dying, restart the world. */
#define CC_RETRY (-2L)
/* Candidates ahead whose header a stop's first walk over a batch
 * prefetches (the batch is scattered over the heap). */
#define CC_PREFETCH 8

/* A member's cycle_refs word (runtime/gclist.h): its count minus the
 * references from members, as 2 * refs + 1.  Odd, so that a walk of the
 * list tells a member from an object build left out, whose prev is still
 * a pointer (even).  Marked reachable: CC_V_MARKED; an immortal count:
 * CC_V_IMMORTAL, never decremented.  A member's refs start at 1 or more
 * and lose one per reference a member holds to it, far fewer than 2^62,
 * so no count meets either and every value stays odd. */
#define CC_V_MARKED   (INTPTR_MIN + 1)
#define CC_V_IMMORTAL INTPTR_MAX
#define CC_V_ROOT(v)  (((v) & 1) && (v) > 1)   /* a member, refs > 0 (marked
                                                 excluded) */
/* gather: a candidate already in the candidates' array (below any count,
 * odd). */
#define CC_V_ORDERED  (INTPTR_MIN + 3)
/* The first candidate of each tree, in stack[]: its low bit set. */
#define CC_TREE_ROOT  ((uintptr_t)1)

/* The member map: a bit per 16-byte grain of the 48-bit address space,
 * set at each member's address, in three levels as a page table: map[a >>
 * 36] (4096 entries) -> [(a >> 22) & 16383] -> a 32 KiB bitmap of 4 MiB.
 * Only members' memory is dereferenced by the passes, and no member is
 * freed while they run, so a set bit names exactly a member: objects are
 * 16-byte aligned and at least 32 bytes long, and a young object freed
 * meanwhile cannot be reallocated at a member's address.  (A batch's
 * garbage is freed before the cycle ends: its members leave the map at
 * the batch's stop, before that.  After the passes only
 * cc_take_referents_stw reads the map.)  About 1/128 of the heap's span,
 * against 20 bytes a member for a hash table. */
#define CC_ADDR_BITS  48
#define CC_L1_SHIFT   36
#define CC_L2_SHIFT   22
#define CC_GRAIN      4
#define CC_L1_SIZE    ((size_t)1 << (CC_ADDR_BITS - CC_L1_SHIFT))
#define CC_L2_SIZE    ((size_t)1 << (CC_L1_SHIFT - CC_L2_SHIFT))
#define CC_CHUNK_BITS ((size_t)1 << (CC_L2_SHIFT - CC_GRAIN))
typedef uint64_t *cc_l2[CC_L2_SIZE];

struct cc_state {
    _Atomic int busy;          /* a slice (or the finish) is running */
    _Atomic int phase;         /* enum cc_phase; written by busy's holder
                                  (or a stopper), relaxed: read unlocked
                                  only as a hint that a cycle runs */
    struct gc_head list;       /* the cycle's objects, out of the old space */
    struct gc_head *cursor;    /* build: the next object of list */
    /* build: every object of list in order, members or not, for the
     * passes that follow: they walk this array, whose loads are
     * independent and prefetched CC_ORDER_AHEAD ahead, not the list, a
     * chain of cache misses (the walks were half of the passes' time at
     * 1M members).  pos: the next entry of a pass. */
    rc_object **order;
    size_t norder, order_cap, pos;
    size_t order_limit;        /* tests: entries the order may hold as if
                                  memory ran out beyond (0: no limit;
                                  set holding busy) */
    struct gc_head *restored;  /* gather: the last object whose prev is
                                  restored (or &list) */
    cc_l2 **map;               /* the member map (CC_L1_SIZE entries) */
    /* Members met by a traversal wait here, their count's word prefetched,
     * until CC_RING more have come: then it is in cache when the pass
     * writes it (as the stop-the-world passes' ring). */
    rc_object *ring[CC_RING];
    unsigned rhead, rtail;     /* rtail - rhead entries */
    rc_object **stack;         /* mark: members marked, not yet traversed;
                                  then the candidates, stack[0..top), each
                                  tree's first tagged CC_TREE_ROOT; the
                                  validation takes batches off the top */
    size_t top, stack_cap;
    rc_object **dfs;           /* gather: candidates met, not yet traversed */
    size_t dfs_top, dfs_cap;
    size_t n;                  /* members */
    size_t batch;              /* candidates per validating stop (CC_BATCH;
                                  tests set it, holding busy) */
    size_t batches;            /* batches this cycle validated so far */
    long moved, kept;          /* candidates the batches took, survivors
                                  they left */
    bool unordered;            /* gather could not order every tree (no
                                  memory for dfs): one batch */
    /* rc_gc_collect(2) validates its cycle's batches one collection after
     * another, holding busy between them (gc_collector_ops.more).  Written
     * and read by the thread holding gc.collecting only, false whenever
     * that is released. */
    bool sync_more;
    bool skipped;              /* build left out an object not known dead
                                  (its count read as 0 mid-merge, or no
                                  memory for the map) */
    bool incomplete;           /* garbage may be missed for want of memory
                                  (the map or the candidates' array) */
    long pending_at_start;     /* gc.long_lived_pending at the start */
    long left_dead;            /* build: objects of the list left out as
                                  dead or dying (cc_finish) */
    /* What local collections promote waits in its thread's own list of
     * the oldest generation, where a death is an unlink by the owner (no
     * RC_GC_DEAD mark, no push on the old space's stack, no drain later):
     * binary-trees promotes whole trees that die a few collections later.
     * It joins the old space when a cycle asks for it (cc_adopt_if_asked):
     * each thread compares adopt_epoch with the one it last answered at
     * its reports, and while a cycle runs, adopts at every report; and
     * when the thread leaves (cc_adopt_now) or rc_gc_collect(2) asks
     * (cc_before_collect).  A cycle
     * due is announced first (the epoch moves on, announced set) and
     * starts at the next due check, one young threshold of allocations
     * later, so that it finds the threads' promoted objects in the old
     * space.  Written by any thread, read by all; relaxed: hints (a
     * thread that misses the announcement adopts at the cycle's first
     * assist, its objects then joining the old space while the cycle
     * runs, as ever). */
    _Atomic unsigned long adopt_epoch;
    _Atomic int announced;
    /* Objects local collections promoted that their threads have not
     * answered for yet (moved on, or seen their list empty): what
     * rc_gc_collect(2) waits for before its stop renames the rest
     * (cc_collect_sync_owned).  Each thread adds and takes back its own
     * share (gcl_owner.unadopted), and a stop that empties a thread's
     * list drops its share (cc_forget_share); relaxed: a hint. */
    _Atomic long unadopted;
    uint64_t adopt_wait_ns;    /* CC_ADOPT_WAIT_NS; tests set it, on the
                                  thread that then calls rc_gc_collect
                                  (plain: that thread's alone) */
    long stop_renamed;         /* objects of the threads' own lists of the
                                  oldest generation that promote_young_stw
                                  moved (tests; world stopped) */
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
    /* A finished cycle's map and stack, freed outside any stop (freeing
     * megabytes unmaps pages: milliseconds). */
    cc_l2 **spent_map;
    rc_object **spent_stack, **spent_dfs, **spent_order;
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

/* ----------------------------------------------------------- the member map */

static inline bool cc_map_has(const struct cc_state *cc, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a >> CC_ADDR_BITS)
        return false;
    cc_l2 *l2 = cc->map[a >> CC_L1_SHIFT];
    if (l2 == NULL)
        return false;
    const uint64_t *bits = (*l2)[(a >> CC_L2_SHIFT) & (CC_L2_SIZE - 1)];
    if (bits == NULL)
        return false;
    size_t i = (a >> CC_GRAIN) & (CC_CHUNK_BITS - 1);
    return (bits[i >> 6] >> (i & 63)) & 1;
}

/* Set p's bit; false (nothing set) if p cannot be mapped: not aligned to a
 * grain, above the mapped space, or no memory for a level (an optional
 * allocation: a cycle that misses a member misses garbage, which the next
 * one finds). */
static bool cc_map_add(struct cc_state *cc, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if ((a >> CC_ADDR_BITS) || (a & ((1u << CC_GRAIN) - 1)))
        return false;
    cc_l2 **l1 = &cc->map[a >> CC_L1_SHIFT];
    if (*l1 == NULL && (*l1 = mem_try_calloc(1, sizeof(cc_l2))) == NULL)
        return false;
    uint64_t **chunk = &(**l1)[(a >> CC_L2_SHIFT) & (CC_L2_SIZE - 1)];
    if (*chunk == NULL && (*chunk = mem_try_calloc(CC_CHUNK_BITS / 64, sizeof(uint64_t))) == NULL)
        return false;
    size_t i = (a >> CC_GRAIN) & (CC_CHUNK_BITS - 1);
    (*chunk)[i >> 6] |= (uint64_t)1 << (i & 63);
    return true;
}

/* Clear p's bit (p was mapped). */
static void cc_map_del(struct cc_state *cc, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    uint64_t *bits = (*cc->map[a >> CC_L1_SHIFT])[(a >> CC_L2_SHIFT) & (CC_L2_SIZE - 1)];
    size_t i = (a >> CC_GRAIN) & (CC_CHUNK_BITS - 1);
    bits[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

static void cc_map_free(cc_l2 **map)
{
    if (map == NULL)
        return;
    for (size_t i = 0; i < CC_L1_SIZE; i++) {
        if (map[i] == NULL)
            continue;
        for (size_t j = 0; j < CC_L2_SIZE; j++)
            mem_free((*map[i])[j]);
        mem_free(map[i]);
    }
    mem_free(map);
}

/* Free what a finished cycle left in spent (busy held, no stop on). */
static void cc_free_spent(struct cc_state *cc)
{
    cc_map_free(cc->spent_map);
    mem_free(cc->spent_stack);
    mem_free(cc->spent_dfs);
    mem_free(cc->spent_order);
    cc->spent_map = NULL;
    cc->spent_stack = NULL;
    cc->spent_dfs = NULL;
    cc->spent_order = NULL;
}

/* Drop the map and the stack: into spent, freed by cc_free_spent. */
static void cc_free_map(struct cc_state *cc)
{
    cc_free_spent(cc);   /* (a cycle's map is spent before the next starts) */
    cc->spent_map = cc->map;
    cc->spent_stack = cc->stack;
    cc->spent_dfs = cc->dfs;
    cc->spent_order = cc->order;
    cc->map = NULL;
    cc->stack = NULL;
    cc->dfs = NULL;
    cc->order = NULL;
    cc->n = cc->top = cc->stack_cap = 0;
    cc->dfs_top = cc->dfs_cap = 0;
    cc->norder = cc->order_cap = cc->pos = 0;
}

/* Push o on a growable array (*a, *top of *cap), doubling it (an optional
 * allocation); false if it could not grow. */
static inline bool cc_array_push(rc_object ***a, size_t *top, size_t *cap, rc_object *o)
{
    if (RC_UNLIKELY(*top == *cap)) {
        size_t n = *cap < CC_STACK_MIN ? CC_STACK_MIN : 2 * *cap;
        rc_object **grown = mem_try_realloc(*a, n * sizeof *grown);
        if (grown == NULL)
            return false;
        *a = grown;
        *cap = n;
    }
    (*a)[(*top)++] = o;
    return true;
}

/* The mark stack, then the candidates. */
static inline bool cc_push(struct cc_state *cc, rc_object *o)
{
    return cc_array_push(&cc->stack, &cc->top, &cc->stack_cap, o);
}

/* The order sized for the whole old space at once (an over-estimate;
 * pages are touched as it fills): no copy as it grows.  Without the
 * memory, it grows from what it has.  Not in a stop (megabytes).  The
 * stack (the mark stack, then the candidates: each member is pushed at
 * most once) likewise, but for rc_gc_collect(2) only
 * (cc_collect_sync_owned), whose candidates are often the whole heap:
 * doubling copied it in one slice, 35 ms for the last copy at 10M
 * objects, the GIL held all along in gil mode.  An automatic cycle's
 * candidates are usually few, and a stack sized for all members cost
 * binary-trees 1.2 MB of its 35 MB peak.  The same for gather's search
 * stack (dfs), as deep as the widest garbage. */
static void cc_size_array(rc_object ***a, size_t *cap, size_t estimate)
{
    if (*cap < estimate) {
        rc_object **grown = mem_try_realloc(*a, estimate * sizeof *grown);
        if (grown != NULL) {
            *a = grown;
            *cap = estimate;
        }
    }
}

static void cc_size_order(struct cc_state *cc, size_t estimate)
{
    cc_size_array(&cc->order, &cc->order_cap, estimate);
}

/* The cycle's order (build). */
static inline bool cc_order_push(struct cc_state *cc, rc_object *o)
{
    if (RC_UNLIKELY(cc->norder == cc->order_limit) && cc->order_limit != 0)
        return false;
    return cc_array_push(&cc->order, &cc->norder, &cc->order_cap, o);
}

/* The gather's search stack. */
static inline bool cc_dfs_push(struct cc_state *cc, rc_object *o)
{
    return cc_array_push(&cc->dfs, &cc->dfs_top, &cc->dfs_cap, o);
}

static inline rc_object *cc_untag(rc_object *o)
{
    return (rc_object *)((uintptr_t)o & ~CC_TREE_ROOT);
}

/* Walk the cycle's list and set every prev link again (the counts in
 * them are lost): before a stop splices or unlinks from the list while
 * the passes hold them. */
static void cc_restore_links(struct cc_state *cc)
{
    struct gc_head *last = &cc->list;
    for (struct gc_head *g = cc->list.next; g != &cc->list; g = g->next) {
        g->prev = last;
        last = g;
    }
    cc->list.prev = last;
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
        for (size_t i = 0, n = t->nslots; i < n; i++) {
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

/* Park member p, its count's word prefetched; returns the member it
 * displaced (ring full), if any. */
static inline bool cc_park(struct cc_state *cc, rc_object *p, rc_object **out)
{
    __builtin_prefetch(&OBJ_GC_HEAD(p)->cycle_refs, 1);
    bool full = cc->rtail - cc->rhead == CC_RING;
    if (full)
        *out = cc->ring[cc->rhead++ % CC_RING];
    cc->ring[cc->rtail++ % CC_RING] = p;
    return full;
}

static inline void apply_subtract(rc_object *p)
{
    struct gc_head *g = OBJ_GC_HEAD(p);
    if (g->cycle_refs != CC_V_IMMORTAL)
        g->cycle_refs -= 2;
}

static inline void apply_mark(struct cc_state *cc, rc_object *p)
{
    struct gc_head *g = OBJ_GC_HEAD(p);
    if (g->cycle_refs != CC_V_MARKED) {
        g->cycle_refs = CC_V_MARKED;
        /* No room: p's referents may stay unmarked, so live members become
         * candidates, which the stop rejects (sound, only slower). */
        (void)cc_push(cc, p);
    }
}

static int visit_subtract(rc_object *p, void *arg)
{
    struct cc_state *cc = arg;
    rc_object *e;
    if (cc_map_has(cc, p) && cc_park(cc, p, &e))
        apply_subtract(e);
    return 0;
}

static int visit_mark(rc_object *p, void *arg)
{
    struct cc_state *cc = arg;
    rc_object *e;
    if (cc_map_has(cc, p) && cc_park(cc, p, &e))
        apply_mark(cc, e);
    return 0;
}

/* ------------------------------------------------------------- the passes */

/* The passes walk the cycle's list; a unit is an object walked or
 * traversed. */

/* No memory to record the rest of the list in the cycle's order (at g):
 * that rest goes back to the old space now, none of it a member (their
 * links were not borrowed; g's predecessor's next and the list head's
 * prev are pointers).  Busy held, no stop on: nobody else changes either
 * list meanwhile.  Garbage among them is missed (incomplete). */
static void cc_build_cut(struct cc_state *cc, struct gc_head *g)
{
    struct gc_head *old = &rc_rt->gcl.oldspace->lists[RC_GC_GENERATIONS - 1];
    struct gc_head *before = g->prev, *last = cc->list.prev, *tail = old->prev;
    before->next = &cc->list;
    cc->list.prev = before;
    tail->next = g;
    g->prev = tail;
    last->next = old;
    old->prev = last;
    cc->incomplete = true;
}

static size_t cc_build(struct cc_state *cc, size_t budget)
{
    size_t done = 0;
    struct gc_head *g = cc->cursor;
    while (g != &cc->list && done < budget) {
        struct gc_head *next = g->next;   /* the list is the cycle's alone */
        __builtin_prefetch(next);
        rc_object *o = GC_HEAD_OBJ(g);
        done++;
        if (!cc_order_push(cc, o)) {
            cc_build_cut(cc, g);
            g = &cc->list;
            break;
        }
        if (!(obj_gc_bits(o) & RC_GC_DEAD)) {
            int32_t rc = cc_count(o);
            if (rc > 0 && cc_map_add(cc, o)) {
                g->cycle_refs = rc == INT32_MAX ? CC_V_IMMORTAL : 2 * (intptr_t)rc + 1;
                cc->n++;
            } else {
                cc->skipped = true;
                if (rc > 0)
                    cc->incomplete = true;   /* no memory for the map */
                else
                    cc->left_dead++;
            }
        } else {
            cc->left_dead++;
        }
        g = next;
    }
    cc->cursor = g;
    if (g == &cc->list) {
        cc_set_phase(cc, CC_SUBTRACT);
        cc->pos = 0;
    }
    return done;
}

static inline void cc_order_prefetch(const struct cc_state *cc, size_t i)
{
    if (i + CC_ORDER_AHEAD < cc->norder)
        __builtin_prefetch(OBJ_GC_HEAD(cc->order[i + CC_ORDER_AHEAD]));
}

static size_t cc_subtract(struct cc_state *cc, bool ft, size_t budget)
{
    size_t done = 0, i = cc->pos;
    while (i < cc->norder && done < budget) {
        cc_order_prefetch(cc, i);
        rc_object *o = cc->order[i++];
        done++;
        if (OBJ_GC_HEAD(o)->cycle_refs & 1)   /* a member */
            cc_traverse(o, ft, visit_subtract, cc);
    }
    cc->pos = i;
    while (cc->rhead != cc->rtail)
        apply_subtract(cc->ring[cc->rhead++ % CC_RING]);
    if (i == cc->norder) {
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
            cc_traverse(cc->stack[--cc->top], ft, visit_mark, cc);
            continue;
        }
        if (cc->rhead != cc->rtail) {
            apply_mark(cc, cc->ring[cc->rhead++ % CC_RING]);
            continue;
        }
        if (cc->pos == cc->norder) {
            cc_set_phase(cc, CC_GATHER);
            cc->pos = 0;
            cc->restored = &cc->list;
            break;
        }
        cc_order_prefetch(cc, cc->pos);
        struct gc_head *g = OBJ_GC_HEAD(cc->order[cc->pos++]);
        done++;
        if (CC_V_ROOT(g->cycle_refs)) {   /* a member left above 0 */
            g->cycle_refs = CC_V_MARKED;
            (void)cc_push(cc, GC_HEAD_OBJ(g));   /* no room: as apply_mark */
        }
    }
    return done;
}

/* Whether g's word holds the count of a candidate not yet ordered: a
 * member left unmarked (odd, at most 1).  A restored prev (even) is a
 * member the gather's walk passed, every candidate of which it ordered. */
static inline bool cc_unordered(const struct gc_head *g)
{
    intptr_t v = g->cycle_refs;
    return (v & 1) && v != CC_V_MARKED && v != CC_V_ORDERED;
}

/* Candidate p joins the array behind the tree being searched (tag:
 * CC_TREE_ROOT for a tree's first), and the search stack. */
static void cc_order(struct cc_state *cc, rc_object *p, uintptr_t tag)
{
    OBJ_GC_HEAD(p)->cycle_refs = CC_V_ORDERED;
    if (!cc_push(cc, (rc_object *)((uintptr_t)p | tag)))
        cc->incomplete = true;   /* a candidate left out: garbage missed */
    else if (!cc_dfs_push(cc, p))
        cc->unordered = true;    /* its tree may be split: one batch */
}

static int visit_order(rc_object *p, void *arg)
{
    struct cc_state *cc = arg;
    if (cc_map_has(cc, p) && cc_unordered(OBJ_GC_HEAD(p)))
        cc_order(cc, p, 0);
    return 0;
}

/* The references of candidate o to candidates not yet ordered, and a
 * weakref's target (read under the weakref lock, a leaf: no holder waits
 * for a stop): into o's tree. */
static void cc_order_referents(struct cc_state *cc, rc_object *o, bool ft)
{
    cc_traverse(o, ft, visit_order, cc);
    if (rc_is_weakref(o)) {
        pthread_mutex_t *mu = &rc_rt->weakref_mu;
        pthread_mutex_lock(mu);
        rc_object *target = ((struct rc_weakref *)o)->target;
        pthread_mutex_unlock(mu);
        if (target != NULL)
            visit_order(target, cc);
    }
}

/* The members left unmarked are the candidates: into stack[0..top), a
 * depth-first tree after another.  The walk down the cycle's list meets
 * each tree's root; the search from it (its stack carried between
 * slices) orders what the root reaches among the candidates left.  So
 * within a tree the order follows the references, and between trees the
 * list's order (roughly that of allocation, which every later walk of
 * them, at the stop and after, follows).  Every prev link is set again on
 * the way: the list is whole once the pass ends. */
static size_t cc_gather(struct cc_state *cc, bool ft, size_t budget)
{
    size_t done = 0, i = cc->pos;
    struct gc_head *last = cc->restored;
    while (done < budget) {
        if (cc->dfs_top > 0) {
            done++;
            cc_order_referents(cc, cc->dfs[--cc->dfs_top], ft);
            continue;
        }
        if (i == cc->norder)
            break;
        cc_order_prefetch(cc, i);
        struct gc_head *g = OBJ_GC_HEAD(cc->order[i++]);
        done++;
        if (cc_unordered(g))
            cc_order(cc, GC_HEAD_OBJ(g), CC_TREE_ROOT);
        g->prev = last;
        last = g;
    }
    cc->pos = i;
    cc->restored = last;
    if (i == cc->norder && cc->dfs_top == 0) {
        /* The order is spent: freed as the slice ends (cc_release), not
         * held through the validation's batches (8 bytes an object). */
        mem_free(cc->spent_order);
        cc->spent_order = cc->order;
        cc->order = NULL;
        cc->norder = cc->order_cap = cc->pos = 0;
        cc_set_phase(cc, CC_READY);
    }
    return done;
}

/* ------------------------------------------------------------ the cycle */

/* The old space's size, over-estimated: every tracked object, with some
 * room for what the snapshot of the threads' counters missed (the pacing
 * of the collector thread).  Takes the runtime's lock: never with the
 * world stopped. */
static size_t cc_estimate(struct rc_runtime *rt)
{
    size_t n = obj_live_tracked(rt);
    return n + n / 8 + 4096;
}

/* Start a cycle over the old space's list (busy held, and either no stop
 * on or the caller's own stop), whose size is about estimate.  Returns
 * false if the old space is empty, or if memory ran out (MemoryError left
 * set unless quiet), the old space unchanged. */
static bool cc_start(struct rc_runtime *rt, struct cc_state *cc, size_t estimate, bool quiet)
{
    struct gc_state *gc = rt->gc;
    struct gcl_owner *old = rt->gcl.oldspace;
    cc_free_spent(cc);
    if (gcl_is_empty(&old->lists[RC_GC_GENERATIONS - 1]))
        return false;
    bool had_error = rc_error_occurred() != RC_ERR_NONE;
    cc->map = mem_calloc(CC_L1_SIZE, sizeof *cc->map);
    if (cc->map == NULL) {
        if (quiet && !had_error)
            rc_error_clear();   /* an automatic cycle: no error left behind */
        return false;
    }
    cc->n = cc->top = cc->dfs_top = cc->norder = cc->pos = 0;
    cc_size_order(cc, estimate);
    cc->rhead = cc->rtail = 0;
    cc->skipped = cc->incomplete = cc->unordered = false;
    cc->batches = 0;
    cc->moved = cc->kept = 0;
    cc->left_dead = 0;
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
    /* relaxed: counters.  A cycle's passes are about 5 units per member,
     * and an assist does CC_ASSIST units per report, so assists alone end
     * a cycle within about 5 * estimate / CC_ASSIST reports; the thread
     * gets eight times as long before they join it. */
    rc_atomic_store_relaxed(&cc->reports, 0);
    rc_atomic_store_relaxed(&cc->reports_allowed, (long)(40 * estimate / CC_ASSIST) + 64);
    cc_set_phase(cc, CC_BUILD);
    return true;
}

/* The cycle's list back into the old space, the map dropped, frees no
 * longer deferred.  The world is stopped, or the caller holds busy and no
 * stop is on. */
static void cc_end(struct rc_runtime *rt, struct cc_state *cc)
{
    struct gc_state *gc = rt->gc;
    struct gcl_owner *old = rt->gcl.oldspace;
    if (cc_links_borrowed(cc_phase(cc)))
        cc_restore_links(cc);   /* a cancel in the middle of the passes */
    gcl_splice(&old->lists[RC_GC_GENERATIONS - 1], &cc->list);
    gc->cycle_list = NULL;
    cc_free_map(cc);
    cc_set_phase(cc, CC_IDLE);
    rc_atomic_store_relaxed(&gc->oldspace_deferred, 0);
}

static void cc_forget_share(struct cc_state *cc, struct gcl_owner *ow);

static void forget_share_stw(struct gcl_owner *ow, void *arg)
{
    cc_forget_share(arg, ow);
}

static void cc_cancel_stw(struct rc_runtime *rt)
{
    RC_ASSERT_STW("cc_cancel_stw");
    struct cc_state *cc = cc_of(rt);
    if (cc_phase(cc) != CC_IDLE)
        cc_end(rt, cc);
    /* A full collection and a freeze take every list: nothing promoted is
     * left for the threads to answer for.  (An unfreeze leaves their
     * lists where they are: their shares go all the same, and the next
     * rc_gc_collect(2) does not wait for them; its stop takes them.) */
    gcl_for_each_owner_stw(rt, forget_share_stw, cc);
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
    bool weakrefs;             /* a taken object has weakrefs */
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
        cc_map_has(t->cc, r) || gc_refcount_stw(r) <= 0)
        return 0;
    gc_set_bits_stw(r, bits | RC_GC_COLLECTING);
    gcl_remove(g);
    gcl_append(&t->c->taken, g);
    t->weakrefs = t->weakrefs || weakref_listed(r);
    return 0;
}

/* Returns whether an object it took has weakrefs. */
static bool cc_take_referents_stw(struct collection *c, struct cc_state *cc)
{
    RC_ASSERT_STW("cc_take_referents_stw");
    struct take_ctx t = {c, cc, c->rt->gcl.oldspace, false};
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
    return t.weakrefs;
}

/* Every owner's young generations into c->taken (world stopped), and
 * what its thread's local collections promoted that has not joined the
 * old space yet (its list of the oldest generation: cc_adopt): young for
 * this purpose, as those joined do with this stop. */
static void take_young_stw(struct gcl_owner *ow, void *arg)
{
    struct collection *c = arg;
    if (ow->oldspace)
        return;
    for (int i = 0; i < RC_GC_GENERATIONS; i++)
        gcl_splice(&c->taken, &ow->lists[i]);
    cc_forget_share(cc_of(c->rt), ow);
}

/* Where the next batch starts in stack[0..top): whole trees off the top,
 * at least cc.batch candidates, or all that are left (0).  One batch when
 * gather could not order them, or when the garbage is kept (SAVEALL: a
 * kept object would keep the next batches' garbage alive). */
static size_t cc_batch_from(const struct cc_state *cc, bool saveall)
{
    if (cc->unordered || saveall)
        return 0;
    size_t k = cc->top;
    while (k > 0) {
        k--;
        if (((uintptr_t)cc->stack[k] & CC_TREE_ROOT) && cc->top - k >= cc->batch)
            return k;
    }
    return 0;
}

/* Validation (phase 1 of a collection that validates a batch of the
 * cycle's candidates, stack[from..top)), with the world stopped: the
 * batch into c->taken, exact trial deletion over it.  The last batch
 * (from 0) ends the cycle: its list back into the old space.
 *
 * A candidate whose count the stop's merges took to 0 but that is not
 * dead yet dies once the world restarts (stw_defer_dealloc), still
 * holding what it refers to: an earlier batch's clearing dropped the last
 * reference to it from this thread, queued to its owner.  Validated now,
 * what only it holds would survive; with `retry`, the batch is left as it
 * was and CC_RETRY returned, to let it die first (cc_validate).
 *
 * The last batch of an automatic cycle takes the young generations too
 * if it has candidates, because garbage the cycle found may be referred
 * to by young garbage (a cycle completed by a younger object): left out,
 * that young garbage would count as a live referrer, keeping the group
 * alive.  So an automatic cycle ends as a full collection would, with
 * O(batch + young) work at its stop; the survivors all join the old
 * space.  (With no candidate there it leaves them: no young garbage can
 * hold one, and taking them would make the stop a collection of the
 * whole generation 1, up to tens of thousands of objects while a heap
 * grows.  Old garbage held by young garbage a cycle did not take as a
 * candidate waits for a young collection to promote its holders.)  Other
 * batches leave
 * the young generations alone (garbage of their own that young garbage
 * refers to survives, for the next cycle; rc_gc_collect(2)'s cycle
 * began with every object there was, and what other threads allocated
 * since cannot refer to what was garbage then), unless a member has
 * weakrefs: a young weakref in the garbage, left out, would be called
 * back as if it were live (while the call holds the collector, other
 * threads' young generations grow: taken always, they would lengthen
 * its stops). */
static long cc_validate_stw(struct collection *c, struct cc_state *cc, size_t from,
                            bool retry)
{
    RC_ASSERT_STW("cc_validate_stw");
    struct rc_runtime *rt = c->rt;
    bool last = from == 0;
    bool young = false, dying = false;
    long moved = 0;
    for (size_t k = from; k < cc->top; k++) {
        if (k + CC_PREFETCH < cc->top)
            __builtin_prefetch(cc_untag(cc->stack[k + CC_PREFETCH]));
        rc_object *o = cc_untag(cc->stack[k]);
        /* Dead or dying since (count 0, perhaps on the old space's stack,
         * or a trash stack through aux): left in the list. */
        if (obj_gc_bits(o) & RC_GC_DEAD)
            continue;
        if (gc_refcount_stw(o) <= 0) {
            dying = true;
            continue;
        }
        struct gc_head *g = OBJ_GC_HEAD(o);
        gcl_remove(g);
        gcl_append(&c->taken, g);
        moved++;
        /* A young weakref may be garbage with it: left out, it would be
         * called back as if it were live. */
        young = young || weakref_listed(o);
        /* No longer a member: its memory may be freed and reused before
         * the cycle ends, and a later batch must take it as any other old
         * object if a candidate refers to it (cc_take_referents_stw), as
         * when a finalizer stores it into one. */
        if (!last)
            cc_map_del(cc, o);
    }
    if (dying && retry) {
        /* The batch as it was: back into the cycle's list (c->taken held
         * nothing else: a collection starts with it empty), members again
         * (their bits' chunks exist: no allocation, cannot fail). */
        if (!last)
            for (struct gc_head *g = c->taken.next; g != &c->taken; g = g->next)
                (void)cc_map_add(cc, GC_HEAD_OBJ(g));
        gcl_splice(&cc->list, &c->taken);
        return CC_RETRY;
    }
    cc->top = from;
    young = young || (moved > 0 && last && c->ts->gc->finishing_cycle);
    /* Non-members exist only if objects joined the old space since the
     * cycle began, or build left some out, or earlier batches left
     * survivors. */
    if (!gcl_is_empty(&rt->gcl.oldspace->lists[RC_GC_GENERATIONS - 1]) || cc->skipped)
        young = cc_take_referents_stw(c, cc) || young;
    if (young) {
        /* The threads' hand-back stacks (the old space's is still
         * deferred), then their young generations. */
        gc_drain_handbacks_stw(c);
        gcl_for_each_owner_stw(rt, take_young_stw, c);
        /* relaxed: a trigger count (collector.h). */
        rc_atomic_store_relaxed(&rt->gc->young_count, 0);
        c->ts->gct.delta = 0;
    }
    /* Before its last batch a cycle's collection leaves the generations'
     * counts alone (a young collection is still due when it was), and
     * the growth count as it finds it (cc_finish adds what the old space
     * gained since the cycle began after the last batch only). */
    c->partial = !last;
    c->young_left = !young && c->ts->gc->finishing_cycle;
    c->ts->gc->cycle_partial = !last;
    bool first = cc->batches++ == 0;
    long members = (long)cc->n;
    if (last)
        cc_end(rt, cc);
    long survivors = gc_trial_deletion_stw(c);
    if (survivors < 0) {
        if (!last)
            cc_end(rt, cc);   /* the batches left go back with the rest */
        return -1;
    }
    /* The cycle considered every member, as a full collection scans the
     * whole heap (its first batch says so); a later batch its set. */
    if (first)
        c->rec.scanned = members;
    cc->moved += moved;
    cc->kept += survivors;
    /* What a full collection would have left: the old space after it. */
    return members - cc->moved + cc->kept;
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
            done += cc_gather(cc, ft, budget - done);
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

/* A thread's promoted objects are accounted for (it moved them on or
 * gave up waiting to, or a stop took its list): its share of
 * cc.unadopted goes.  The owner thread, or a stopper. */
static void cc_forget_share(struct cc_state *cc, struct gcl_owner *ow)
{
    if (ow->unadopted != 0) {
        rc_atomic_sub_relaxed(&cc->unadopted, ow->unadopted);   /* relaxed: a hint */
        ow->unadopted = 0;
    }
}

static void cc_adopted_all(struct thr_state *ts, struct cc_state *cc, unsigned long epoch)
{
    ts->gc->adopt_seen = epoch;
    ts->gc->adopt_gave_up = false;
    cc_forget_share(cc, ts->gcl);
}

/* A cycle starts on this thread (busy held): what it promoted and has
 * not moved on since the announcement joins the old space first, up to a
 * slice (no safepoint here); the rest joins while the cycle runs. */
static void cc_take_own(struct thr_state *ts, struct cc_state *cc)
{
    if (ts->gcl == NULL)
        return;
    /* relaxed: a hint. */
    unsigned long epoch = rc_atomic_load_relaxed(&cc->adopt_epoch);
    if (gcl_adopt_some_into_oldspace(ts->rt, &ts->gcl->lists[RC_GC_GENERATIONS - 1],
                                     CC_ADOPT_SLICE))
        cc_adopted_all(ts, cc, epoch);
}

/* Every owner's young generations join the old space (renamed; with the
 * world stopped), and what its local collections promoted (cc_adopt).
 * O(young objects), bounded by the young thresholds. */
static void promote_young_stw(struct gcl_owner *ow, void *arg)
{
    struct collection *c = arg;
    if (ow->oldspace)
        return;
    struct cc_state *cc = cc_of(c->rt);
    for (int i = 0; i < RC_GC_GENERATIONS; i++) {
        struct gc_head *list = &ow->lists[i];
        while (!gcl_is_empty(list)) {
            struct gc_head *g = list->next;
            rc_object *o = GC_HEAD_OBJ(g);
            gc_set_bits_stw(o, obj_gc_bits(o) | RC_GC_OLD);
            gcl_remove(g);
            gcl_append(gc_dest_list_stw(c->rt, g, RC_GC_GENERATIONS - 1), g);
            if (i == RC_GC_GENERATIONS - 1)
                cc->stop_renamed++;
        }
    }
    cc_forget_share(cc, ow);
}

/* In ft mode, the calling thread's young generations, and what its local
 * collections promoted, join the old space with the world running (busy
 * held): what promote_young_stw would do for this thread, out of the
 * stop that starts a synchronous cycle (a single-threaded program's young
 * generations are all its own: tens of thousands of objects, hundreds of
 * microseconds of a stop).  Each object takes RC_GC_OLD first, as
 * gc_local_promote does (atomic: other threads set bits of their own),
 * then the lists are renamed and spliced as cc_adopt does; a free that
 * read this thread as the owner before the rename is forwarded by its
 * next drain (forward_to_oldspace). */
static void cc_promote_own(struct thr_state *ts)
{
    struct gcl_owner *ow = ts->gcl;
    if (ts->rt->cfg.mode != RC_MODE_FT || ow == NULL)
        return;
    for (int i = 0; i < RC_GC_GENERATIONS; i++) {
        struct gc_head *list = &ow->lists[i];
        if (i < RC_GC_GENERATIONS - 1)
            for (struct gc_head *g = list->next; g != list; g = g->next)
                rc_atomic_or_relaxed(&GC_HEAD_OBJ(g)->ob_gc_bits, RC_GC_OLD);
        gcl_adopt_into_oldspace(ts->rt, list);
    }
    struct cc_state *cc = cc_of(ts->rt);
    cc_adopted_all(ts, cc, rc_atomic_load_relaxed(&cc->adopt_epoch));   /* relaxed: a hint */
}

/* The validation stop of a batch of a cycle whose passes are done.
 * *validated: whether it was (else a stop by rc_gc_freeze or unfreeze
 * cancelled the cycle, and the whole heap was collected instead). */
static long cc_validate(struct collection *c, struct cc_state *cc, bool *validated)
{
    size_t from = cc_batch_from(cc, c->saveall);
    /* The spent order (cc_gather) freed before the stop, not in it (the
     * last batch's cc_end would). */
    cc_free_spent(cc);
    /* The set's array sized before the stop: the batch, and the young
     * generations (taken at the end of an automatic cycle, or for
     * weakrefs; the old objects they pull in, if any, grow it). */
    gc_work_prepare(c->rt->gc, cc->top - from + gc_young_estimate(c->rt->gc));
    gc_stop(c);
    /* A dying candidate restarts the world a bounded number of times
     * (cc_validate_stw; its death may queue another). */
    int retries = c->ts->gc->finishing_cycle ? CC_DYING_RETRIES : CC_DYING_RETRIES_SYNC;
    for (int again = 0;; again++) {
        *validated = cc_phase(cc) == CC_READY;
        if (!*validated) {
            /* rc_gc_freeze or unfreeze cancelled the cycle while we
             * waited for our stop: the whole heap, under this stop. */
            long survivors = gc_stw_find_garbage_stw(c);
            gc_start(c);
            return survivors;
        }
        if (c->verify)
            gc_verify_heap_stw(c->rt, true);
        if (from == 0) {
            /* The collection that ends the cycle carries its figures. */
            c->rec.concurrent_ns = cc->work_ns;
            c->rec.cycle_start_ns = cc->start_ns;
        }
        gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_MERGE]);
        long survivors = cc_validate_stw(c, cc, from, again < retries);
        gc_start(c);
        if (survivors != CC_RETRY)
            return survivors;
        gc_stop(c);
    }
}

/* A full collection asked for (rc_gc_collect(2), collection at exit): a
 * cycle run to its end on this thread, over the whole heap.  A short stop
 * (O(young objects)) moves the young generations into the old space and
 * starts the cycle; the passes run with the world running, this thread
 * passing a safepoint between slices; each batch's validation stop is
 * O(batch), and collect() runs one collection per batch (the op `more`),
 * this thread holding busy throughout.  Complete: garbage never changes,
 * so the passes find every object that was garbage at the start (a cycle
 * already running is dropped, its members chosen before some of that
 * garbage was), and the batches' order lets none of it keep another
 * batch's alive (file comment). */
static long cc_collect_sync_owned(struct collection *c, struct cc_state *cc);

/* The synchronous collection is over (busy held): busy and the collector
 * thread go free. */
static void cc_sync_done(struct cc_state *cc)
{
    cc->sync_more = false;
    cc_release(cc);
    /* relaxed: see the field.  The collector thread finishes its slice,
     * sees the flag and waits for the wake below. */
    rc_atomic_store_relaxed(&cc->sync, 0);
    cc_wake(cc);
}

static long cc_collect_sync(struct collection *c, struct cc_state *cc)
{
    rc_atomic_store_relaxed(&cc->sync, 1);   /* relaxed: see cc_sync_done */
    long r = cc_collect_sync_owned(c, cc);
    if (!cc->sync_more) {   /* (busy released) */
        rc_atomic_store_relaxed(&cc->sync, 0);
        cc_wake(cc);
    }
    return r;
}

/* The next batch of the synchronous collection's cycle (busy held since
 * the last). */
static long cc_collect_sync_next(struct collection *c, struct cc_state *cc)
{
    bool validated;
    long survivors = cc_validate(c, cc, &validated);
    if (!validated || cc_phase(cc) != CC_READY)
        cc_sync_done(cc);   /* the last batch, an error, or a cancel */
    return survivors;
}

static bool cc_more(struct collection *c)
{
    return cc_of(c->rt)->sync_more;
}

static long cc_collect_sync_owned(struct collection *c, struct cc_state *cc)
{
    struct rc_runtime *rt = c->rt;
    struct gc_state *gc = rt->gc;
    size_t cap = cc_estimate(rt);
    cc_acquire(cc);
    cc->sync_more = false;
    /* A cycle that runs is dropped with the world running: ending it in
     * the middle of its passes walks its whole list to restore the links
     * (tens of milliseconds at millions of objects), which the stop below
     * must not wait for. */
    if (cc_phase(cc) != CC_IDLE)
        cc_end(rt, cc);
    cc_free_spent(cc);   /* not in the stop (cc_start would) */
    cc_size_order(cc, cap);   /* likewise */
    cc_size_array(&cc->stack, &cc->stack_cap, cap);
    cc_size_array(&cc->dfs, &cc->dfs_cap, cap);   /* gather's search: as deep as wide garbage */
    cc_promote_own(c->ts);
    gc_stop(c);   /* (no cycle can start meanwhile: that takes busy) */
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
        /* An empty heap, or no memory for the member map (MemoryError). */
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
    if (cc->incomplete) {
        /* Garbage was left out for want of memory: not complete. */
        gc_stop(c);
        cc_cancel_stw(rt);
        gc_start(c);
        cc_release(cc);
        return gc_stw_find_garbage(c);
    }
    bool validated;
    long survivors = cc_validate(c, cc, &validated);
    /* Batches left: collect() comes back for them (cc_more), busy ours
     * meanwhile. */
    cc->sync_more = validated && cc_phase(cc) == CC_READY;
    if (!cc->sync_more)
        cc_release(cc);
    return survivors;
}

static long cc_find_garbage(struct collection *c)
{
    struct cc_state *cc = cc_of(c->rt);
    if (c->gen < RC_GC_GENERATIONS - 1)
        return gc_stw_find_garbage(c);
    if (cc->sync_more)   /* ours: we hold gc.collecting (the field) */
        return cc_collect_sync_next(c, cc);
    if (!c->ts->gc->finishing_cycle)
        return cc_collect_sync(c, cc);
    /* Finishing an automatic cycle (cc_finish, busy held).  If a stop by
     * rc_gc_freeze or unfreeze, during the start callbacks, cancelled it:
     * the whole heap with the world stopped. */
    if (cc_phase(cc) != CC_READY)
        return gc_stw_find_garbage(c);
    bool validated;
    long survivors = cc_validate(c, cc, &validated);
    if (validated) {
        /* The batch is validated (the cycle over if it was the last):
         * busy goes now, before the finalizers and the stop callbacks,
         * which may wait for a thread that spins on it (cc_acquire) or
         * stop the world.  A later slice validates the next batch. */
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
    long left_dead = cc->left_dead;
    ts->gc->finishing_cycle = true;
    long found = gc_collect(ts, RC_GC_GENERATIONS - 1);
    if (ts->gc->finishing_cycle) {
        /* Not validated (another collection ran, or a fallback to the
         * whole heap): busy is still ours. */
        ts->gc->finishing_cycle = false;
        cc_release(cc);
    } else if (found >= 0 && !ts->gc->cycle_partial) {
        /* The last batch's accounting reset the growth count; what the old
         * space gained or lost while the cycle ran counts still.  Except
         * what died before build reached it (a tree dropped as the cycle
         * began): left out of the members, so out of the survivors the
         * accounting counted, its deaths are not a loss from them (the
         * few that died before the start, their deaths counted then,
         * leave the count that much high). */
        rc_atomic_add_relaxed(&gc->long_lived_pending, pending - pending_at_start + left_dead);
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
        /* relaxed: hints (the fields). */
        if (cc_phase(cc) == CC_IDLE && gc_local_mode(rt) &&
            !rc_atomic_exchange_relaxed(&cc->announced, 1)) {
            /* Ask the threads for what they promoted; start next time. */
            rc_atomic_add_relaxed(&cc->adopt_epoch, 1);
        } else if (rc_atomic_cas_strong_acquire(&cc->busy, &expected, 1)) {
            /* acquire / release: busy (struct cc_state). */
            bool started = false;
            if (cc_phase(cc) == CC_IDLE) {
                cc_take_own(ts, cc);
                rc_atomic_store_relaxed(&cc->announced, 0);
                started = cc_start(rt, cc, cc_estimate(rt), true);
            }
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
    } else {
        /* No longer due (the old space shrank): a later announcement asks
         * again for what was promoted since.  relaxed: a hint. */
        rc_atomic_store_relaxed(&cc->announced, 0);
    }
    gc_collect_auto(ts, gen);
}

/* What the calling thread's local collections promoted into the oldest
 * generation (gc_local_promote), waiting in its own list of it, joins the
 * old space, whose lists are busy's holder's (or a stop's), when the
 * collector asks for it (struct cc_state: a new adopt epoch, a cycle
 * running; or `anyway`) and busy is free now: CC_ADOPT_SLICE objects a
 * call, and as many of what exited threads left (orphan_old).  Else at a
 * later call, or at a stop that takes it (take_young_stw,
 * promote_young_stw; a full collection).  A cycle running takes the
 * objects as ones that joined the old space while it ran.  Passes no
 * safepoint. */
static void cc_adopt_if_asked(struct thr_state *ts, bool anyway)
{
    struct rc_runtime *rt = ts->rt;
    struct cc_state *cc = cc_of(rt);
    struct gc_head *promoted = &ts->gcl->lists[RC_GC_GENERATIONS - 1];
    /* relaxed: hints (struct cc_state; orphan_old is read again under
     * orphan_mu). */
    unsigned long epoch = rc_atomic_load_relaxed(&cc->adopt_epoch);
    bool asked = anyway || epoch != ts->gc->adopt_seen || cc_phase(cc) != CC_IDLE;
    bool orphans = rc_atomic_load_relaxed(&rt->gcl.orphan_old);
    if (!orphans && (!asked || gcl_is_empty(promoted))) {
        if (asked)
            cc_adopted_all(ts, cc, epoch);
        return;
    }
    int expected = 0;
    /* acquire / release: busy (struct cc_state). */
    if (!rc_atomic_cas_strong_acquire(&cc->busy, &expected, 1))
        return;
    if (asked && gcl_adopt_some_into_oldspace(rt, promoted, CC_ADOPT_SLICE))
        cc_adopted_all(ts, cc, epoch);
    if (orphans)   /* what exited threads could not move (gcl_owner_exit) */
        gcl_adopt_orphans_into_oldspace(rt, CC_ADOPT_SLICE);
    cc_release(cc);
}

/* After a local collection promoted objects (gc_collector_ops.adopt). */
static void cc_adopt(struct thr_state *ts, long promoted)
{
    /* A stop at a safepoint of the collection's settling (a finalizer that
     * allocated) may have taken them already, with the thread's share. */
    if (promoted > 0 && !gcl_is_empty(&ts->gcl->lists[RC_GC_GENERATIONS - 1])) {
        ts->gcl->unadopted += promoted;
        rc_atomic_add_relaxed(&cc_of(ts->rt)->unadopted, promoted);   /* relaxed: a hint */
    }
    cc_adopt_if_asked(ts, false);
}

/* A thread that detaches or is about to exit (gc_collector_ops.leaving):
 * its promoted objects join the old space now, so that the cycles see
 * them, a slice at a time with a safepoint between (a thread's list can
 * hold hundreds of thousands: binary-trees' main thread keeps its
 * long-lived tree there), as long as busy is free when it asks (else a
 * detaching thread's rest waits for its next report). */
static void cc_adopt_now(struct thr_state *ts)
{
    struct cc_state *cc = cc_of(ts->rt);
    struct gc_head *promoted = &ts->gcl->lists[RC_GC_GENERATIONS - 1];
    uint64_t until = 0;
    for (;;) {
        /* relaxed: a hint (struct cc_state). */
        unsigned long epoch = rc_atomic_load_relaxed(&cc->adopt_epoch);
        if (gcl_is_empty(promoted)) {
            cc_adopted_all(ts, cc, epoch);
            return;
        }
        int expected = 0;
        /* acquire / release: busy (struct cc_state). */
        if (rc_atomic_cas_strong_acquire(&cc->busy, &expected, 1)) {
            bool empty = gcl_adopt_some_into_oldspace(ts->rt, promoted, CC_ADOPT_SLICE);
            cc_release(cc);
            if (empty) {
                cc_adopted_all(ts, cc, epoch);
                return;
            }
        } else {
            /* A slice, or a collection finishing a cycle, holds busy: wait
             * for it a while, passing safepoints.  Not if this thread is
             * inside a collection (a finalizer of its own, perhaps with
             * busy held by that collection: it would never come back),
             * nor beside rc_gc_collect(2)'s cycle (cc.sync: busy is its
             * for seconds), nor again after giving up once, until this
             * thread has moved its objects (a thread that detaches around
             * every blocking call would pay the wait every time). */
            uint64_t now = rc_clock_ns();
            if (until == 0)
                until = now + CC_ADOPT_WAIT_NS;
            /* relaxed: a hint (cc.sync). */
            if (ts->gc->in_collection > 0 || ts->gc->adopt_gave_up || now >= until ||
                rc_atomic_load_relaxed(&cc->sync)) {
                /* The rest waits for our next report, or a stop that
                 * takes it; rc_gc_collect(2) waits for us no more. */
                ts->gc->adopt_gave_up = true;
                cc_forget_share(cc, ts->gcl);
                return;
            }
            sched_yield();
        }
        rc_safepoint();
    }
}

/* Before rc_gc_collect(2) (gc_collector_ops.before_collect): move ours
 * on, and what exited threads left, then ask the other threads for what
 * their local collections promoted and give them up to CC_ADOPT_WAIT_NS
 * in all to move it on themselves, a slice at each of their reports, so
 * that the stop that starts the collection renames only what is left
 * (promote_young_stw: what a thread that allocates nothing meanwhile
 * holds, or one waiting attached).  Busy is not ours: they need it.
 * Another collection running meanwhile holds their reports back; the
 * wait then ends at its limit. */
static void cc_before_collect(struct thr_state *ts, int gen)
{
    struct cc_state *cc = cc_of(ts->rt);
    /* relaxed: hints (struct cc_state). */
    if (gen != RC_GC_GENERATIONS - 1 || !gc_local_mode(ts->rt))
        return;
    cc_adopt_now(ts);   /* ours, in slices: cc_promote_own passes no safepoint */
    uint64_t until = rc_clock_ns() + cc->adopt_wait_ns;
    /* What exited threads left (gcl_owner_exit), in slices too. */
    struct rc_runtime *rt = ts->rt;
    while (rc_atomic_load_relaxed(&rt->gcl.orphan_old) && rc_clock_ns() < until) {
        int expected = 0;
        /* acquire / release: busy (struct cc_state). */
        if (rc_atomic_cas_strong_acquire(&cc->busy, &expected, 1)) {
            gcl_adopt_orphans_into_oldspace(rt, CC_ADOPT_SLICE);
            cc_release(cc);
        } else {
            sched_yield();
        }
        rc_safepoint();
    }
    if (rc_atomic_load_relaxed(&cc->unadopted) <= ts->gcl->unadopted)
        return;
    rc_atomic_add_relaxed(&cc->adopt_epoch, 1);
    while (rc_atomic_load_relaxed(&cc->unadopted) > ts->gcl->unadopted && rc_clock_ns() < until) {
        rc_safepoint();
        sched_yield();
    }
}

/* An exiting thread (gc_collector_ops.thread_exit, after .leaving): what
 * it promoted since joins the old space, a slice of it if busy is free;
 * the rest goes to the orphan's list (gcl_owner_exit), which the next
 * reports move on, and its share of cc.unadopted goes all the same.  No
 * safepoint here. */
static void cc_thread_exit(struct thr_state *ts)
{
    cc_adopt_if_asked(ts, true);
    cc_adopted_all(ts, cc_of(ts->rt), ts->gc->adopt_seen);
}

/* After each report of a thread's allocations: its share of a running
 * cycle's work. */
static void cc_assist(struct thr_state *ts)
{
    struct rc_runtime *rt = ts->rt;
    struct cc_state *cc = cc_of(rt);
    cc_adopt_if_asked(ts, false);
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
    atomic_init(&cc->adopt_epoch, 0);
    atomic_init(&cc->announced, 0);
    atomic_init(&cc->unadopted, 0);
    cc->adopt_wait_ns = CC_ADOPT_WAIT_NS;
    cc->batch = CC_BATCH;
    gcl_init(&cc->list);
    cc->threaded = rt->cfg.collector == RC_COLLECTOR_CONCURRENT_THREAD;
    if (cc->threaded) {
        pthread_mutex_init(&cc->tmu, NULL);
        rc_cond_init_monotonic(&cc->tcv);   /* the back-off's limit */
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
    struct timespec until = rc_deadline_after(1000000);
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
    struct cc_state *cc = cc_of(rt);
    /* A cycle left running (every thread gone: nobody else can touch it):
     * its list, links whole again, back into the old space. */
    if (cc != NULL && cc_phase(cc) != CC_IDLE)
        cc_end(rt, cc);
    /* Old objects that died after the last collection (the exiting main
     * thread's merges, interned strings' containers): freed now. */
    if (rt->gcl.oldspace != NULL)
        gcl_drain_handback_at_teardown(rt->gcl.oldspace);
    if (cc != NULL) {
        cc_free_map(cc);
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
    .local_young = true,
    .adopt = cc_adopt,
    /* An exiting thread tries too; what it leaves goes to the orphan's
     * list, and the next thread that can moves it on (orphan_old):
     * waiting for busy there could wait for a collection whose finalizer
     * waits for the exiting thread. */
    .thread_exit = cc_thread_exit,
    .leaving = cc_adopt_now,
    .before_collect = cc_before_collect,
    .assist = cc_assist,
    .cancel_stw = cc_cancel_stw,
    .more = cc_more,
    .store_barrier = NULL,   /* the stop re-reads what it decides on */
};

/* ------------------------------------------------------ hooks for tests */

void gc_cc_test_busy(struct thr_state *ts, bool hold)
{
    struct cc_state *cc = cc_of(ts->rt);
    if (hold)
        cc_acquire(cc);
    else
        cc_release(cc);
}

bool gc_cc_test_start(struct thr_state *ts)
{
    struct rc_runtime *rt = ts->rt;
    struct cc_state *cc = cc_of(rt);
    if (cc == NULL)
        return false;
    size_t cap = cc_estimate(rt);
    cc_acquire(cc);
    bool started = false;
    if (cc_phase(cc) == CC_IDLE) {
        cc_take_own(ts, cc);   /* as cc_collect_due */
        started = cc_start(rt, cc, cap, true);
    }
    cc_release(cc);
    return started;
}

void gc_cc_test_adopt(struct thr_state *ts)
{
    if (cc_of(ts->rt) != NULL)
        cc_adopt_now(ts);
}

void gc_cc_test_announce(struct rc_runtime *rt)
{
    rc_atomic_add_relaxed(&cc_of(rt)->adopt_epoch, 1);   /* relaxed: a hint */
}

void gc_cc_test_set_adopt_wait(struct rc_runtime *rt, uint64_t ns)
{
    cc_of(rt)->adopt_wait_ns = ns != 0 ? ns : CC_ADOPT_WAIT_NS;
}

long gc_cc_test_stop_renamed(struct rc_runtime *rt)
{
    return cc_of(rt)->stop_renamed;
}

long gc_cc_test_unadopted(struct rc_runtime *rt)
{
    return rc_atomic_load_relaxed(&cc_of(rt)->unadopted);   /* relaxed: a hint */
}

bool gc_cc_links_borrowed(struct rc_runtime *rt)
{
    struct cc_state *cc = cc_of(rt);
    return cc != NULL && cc_links_borrowed(cc_phase(cc));
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

long gc_cc_test_finish_all(struct thr_state *ts)
{
    long total = 0;
    do {
        long found = gc_cc_test_finish(ts);
        if (found < 0)
            return found;
        total += found;
    } while (gc_cc_test_phase(ts->rt) == CC_READY);
    return total;
}

void gc_cc_test_limit_order(struct rc_runtime *rt, size_t entries)
{
    struct cc_state *cc = cc_of(rt);
    if (cc == NULL)
        return;
    cc_acquire(cc);
    cc->order_limit = entries;
    cc_release(cc);
}

void gc_cc_test_set_batch(struct rc_runtime *rt, size_t batch)
{
    struct cc_state *cc = cc_of(rt);
    if (cc == NULL)
        return;
    cc_acquire(cc);
    cc->batch = batch == 0 ? CC_BATCH : batch;
    cc_release(cc);
}
