/* gc/stw_collector.c: the stop-the-world generational collector's way of
 * finding garbage (find_garbage of struct gc_collector_ops; docs/gc.md
 * [gc.phases] steps 1 to 5).
 *
 * With the world stopped: merge every refcount queue (rc_stop_the_world:
 * exact counts), drain every hand-back stack, take every owner's lists
 * 0..gen into the collection's `taken` list, then trial deletion over the
 * set: gc_refs = refcount, minus the references from other members; what
 * is left above zero is referenced from outside, and everything reachable
 * from it survives.  Survivors go back to their owners' lists one
 * generation older; the rest is c->unreachable, whose weakrefs are
 * detached and whose members the collector holds (garbage.c).  Then the
 * world restarts.  The pause is proportional to the generations taken:
 * the whole heap for a full collection.
 *
 * An object whose count is 0 while the world is stopped is dying (its
 * deallocation is pending on some thread, e.g. in a trash stack): the
 * collector leaves it alone, including its aux word, which then links that
 * stack.  Thread rule: the collecting thread owns struct collection and
 * gc.work; every helper here runs with the world stopped by it.
 */
#define RCGC_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "objects.h"

/* ----------------------------------------------------------- taking the set */

static void drain_one(struct gcl_owner *ow, void *arg)
{
    struct collection *c = arg;
    if (ow->orphan || ow->exited)
        return;   /* closed stacks (gclist.h) */
    /* The old space's stack: never while a concurrent cycle holds
     * pointers into the old space (the objects handed back there keep
     * their memory until it ends), and only by full collections: the
     * collector drains it between cycles on the threads' assists, so that
     * young collections' stops do not free old objects by the thousand.
     * relaxed: see gc_state.oldspace_deferred. */
    if (ow->oldspace && (c->gen < RC_GC_GENERATIONS - 1 ||
                         rc_atomic_load_relaxed(&c->rt->gc->oldspace_deferred)))
        return;
    gcl_drain_handback(c->ts, ow);
}

void gc_drain_handbacks_stw(struct collection *c)
{
    RC_ASSERT_STW("gc_drain_handbacks_stw");
    gcl_for_each_owner_stw(c->rt, drain_one, c);
}

static void take_generations(struct gcl_owner *ow, void *arg)
{
    struct collection *c = arg;
    for (int i = 0; i <= c->gen; i++)
        gcl_splice(&c->taken, &ow->lists[i]);
}

/* The set is walked as an array: the CPU can then fetch the objects a few
 * entries ahead, where a list walk waits for every link in turn (a heap
 * whose list order is not its address order costs a cache miss per link,
 * several times per collection).  Entry tag SET_DYING: the object is dying
 * (count 0); it is only carried along to be relinked.  Mark-phase value of
 * gc_refs: MARKED = reachable and scanned.  A negative gc_refs other than
 * MARKED (counts below the references held: a refcounting bug elsewhere)
 * is treated as a root, as any nonzero value was before marking. */
#define SET_DYING ((uintptr_t)1)
#define MARKED ((uintptr_t)INTPTR_MIN)
#define PREFETCH_AHEAD 24
/* Work buffers up to this many entries are kept for the next collection;
 * larger ones (full collections of a big heap) are given back. */
#define WORK_KEEP ((size_t)1 << 16)

static inline struct gc_head *set_head(struct gc_head *e)
{
    return (struct gc_head *)((uintptr_t)e & ~SET_DYING);
}

static inline void prefetch_entry(struct gc_head **set, size_t i, size_t n)
{
    if (i + PREFETCH_AHEAD < n) {
        /* The gc_head (aux) and the header, then the body's first words:
         * at most two cache lines whatever the alignment. */
        const char *g = (const char *)set_head(set[i + PREFETCH_AHEAD]);
        __builtin_prefetch(g);
        __builtin_prefetch(g + sizeof(struct gc_head) + sizeof(rc_object));
    }
}

/* Room for `need` set entries plus as many stack entries.  0, or -1 if
 * memory ran out (the buffer is unchanged). */
static int reserve_work(struct gc_state *gc, size_t need)
{
    if (need <= gc->work_cap)
        return 0;
    size_t cap = gc->work_cap ? gc->work_cap : 1024;
    while (cap < need)
        cap *= 2;
    /* mem_realloc: fault injection reaches this path (MemoryError set). */
    struct gc_head **w = mem_realloc(gc->work, 2 * cap * sizeof *w);
    if (w == NULL)
        return -1;
    gc->work = w;
    gc->work_cap = cap;
    return 0;
}

void gc_work_prepare(struct gc_state *gc, size_t need)
{
    if (need <= gc->work_cap)
        return;
    size_t cap = gc->work_cap ? gc->work_cap : 1024;
    while (cap < need)
        cap *= 2;
    struct gc_head **w = mem_try_realloc(gc->work, 2 * cap * sizeof *w);
    if (w == NULL)
        return;   /* the stop grows it, or fails with MemoryError, as before */
    /* The new entries, [2 * old cap, 2 * cap), touched now: the stop then
     * takes no page fault on them. */
    memset(w + 2 * gc->work_cap, 0, 2 * (cap - gc->work_cap) * sizeof *w);
    gc->work = w;
    gc->work_cap = cap;
}

size_t gc_young_estimate(struct gc_state *gc)
{
    /* relaxed: settings.  A young collection's set is generation 0's
     * threshold of objects per collection of generation 0, times those
     * before generation 1 is collected; other threads' unreported counts
     * and objects allocated while the stop is requested add some. */
    size_t t0 = (size_t)rc_atomic_load_relaxed(&gc->threshold[0]);
    size_t t1 = (size_t)rc_atomic_load_relaxed(&gc->threshold[1]);
    size_t n = t0 * (t1 + 1);
    n += n / 4;
    return n < WORK_KEEP ? n : WORK_KEEP;
}

/* Pass 1 (the only list walk): the set into the array, gc_refs = the exact
 * count for every object that is alive, COLLECTING set on those.  -1 if
 * memory for the array ran out (nothing changed but some COLLECTING bits,
 * which the caller's put_back clears). */
static int gather_stw(struct collection *c)
{
    RC_ASSERT_STW("gather_stw");
    struct gc_state *gc = c->rt->gc;
    size_t n = 0;
    for (struct gc_head *g = c->taken.next; g != &c->taken; g = g->next) {
        __builtin_prefetch(GC_HEAD_OBJ(g->next));
        if (n == gc->work_cap && reserve_work(gc, n + 1) < 0)
            return -1;
        rc_object *o = GC_HEAD_OBJ(g);
        intptr_t rc = gc_refcount_stw(o);
        if (rc <= 0) {
            gc->work[n++] = (struct gc_head *)((uintptr_t)g | SET_DYING);
            continue;   /* dying: left alone (see the file comment) */
        }
        g->aux = (uintptr_t)rc;
        gc_set_bits_stw(o, obj_gc_bits(o) | RC_GC_COLLECTING);
        gc->work[n++] = g;
    }
    c->set = gc->work;
    c->n = n;
    c->rec.scanned += (long)n;
    return 0;
}

/* traverse, with instances (every heap type: rc_type_new) walked here:
 * their slots are an array, and the visitor, a constant at each call site,
 * is inlined instead of being called through two function pointers per
 * reference (instances are most of what a typical heap tracks). */
static inline __attribute__((always_inline)) void
traverse_fast(rc_object *o, int (*visit)(rc_object *, void *), void *arg)
{
    if (o->ob_type->flags & RC_TYPE_HEAP) {
        const struct rc_instance *in = (const struct rc_instance *)o;
        for (size_t i = 0, n = instance_nslots(in); i < n; i++) {
            /* relaxed: the world is stopped. */
            rc_object *v = rc_atomic_load_relaxed(&in->slots[i]);
            if (v != NULL)
                visit(v, arg);
        }
    } else {
        o->ob_type->traverse(o, visit, arg);
    }
}

/* The passes that follow references (subtract, mark) meet their targets
 * in no useful order.  Rather than act on a target at once (a cache miss
 * the CPU waits for), a visit prefetches it and parks it in a small ring;
 * it is acted on WINDOW visits later, by when its memory has arrived.
 * The ring holds unchecked pointers (non-GC objects too). */
#define RING_SIZE 256u            /* power of two */
#define WINDOW 64u                /* targets in flight */

struct ring {
    rc_object *slot[RING_SIZE];
    unsigned head, tail;          /* tail - head = entries */
    bool local;                   /* a thread-local collection's (member) */
};

static inline void prefetch_target(const rc_object *o)
{
    /* gc_head (aux) just before it, the header (bits, type), and the
     * first words of the body (slots) that its traverse reads. */
    __builtin_prefetch((const char *)o - sizeof(struct gc_head), 1);
    __builtin_prefetch((const char *)o + sizeof(rc_object));
}

/* With the world stopped only objects of the set carry RC_GC_COLLECTING
 * (non-GC objects never do), so the bit alone says "in the set".  A
 * thread-local collection's set is the calling thread's objects carrying
 * RC_OBF_LOCAL (gc_local_member): another thread's local collection may be
 * marking its own meanwhile, and neither touches the other's flags or aux
 * words. */
static inline bool member(rc_object *o, bool local)
{
    return local ? gc_local_member(o) : gc_collecting(o);
}

static inline void decref_target(rc_object *target, bool local)
{
    if (member(target, local))
        OBJ_GC_HEAD(target)->aux--;
}

static int visit_decref_parked(rc_object *target, void *arg)
{
    struct ring *r = arg;
    if (r->tail - r->head == WINDOW)
        decref_target(r->slot[r->head++ % RING_SIZE], r->local);
    prefetch_target(target);
    r->slot[r->tail++ % RING_SIZE] = target;
    return 0;
}

/* Pass 2: subtract the references that members of the set hold to each
 * other; what is left in gc_refs comes from outside. */
static void subtract_set(struct collection *c)
{
    struct gc_head **set = c->set;
    size_t n = c->n;
    struct ring r = {.head = 0, .tail = 0, .local = c->local};
    for (size_t i = 0; i < n; i++) {
        prefetch_entry(set, i, n);
        if ((uintptr_t)set[i] & SET_DYING)
            continue;
        rc_object *o = GC_HEAD_OBJ(set[i]);
        traverse_fast(o, visit_decref_parked, &r);
    }
    while (r.head != r.tail)
        decref_target(r.slot[r.head++ % RING_SIZE], r.local);
}

/* Marking: targets wait in the ring (unchecked); when it is full they are
 * checked at once and, if newly marked, wait on the stack instead (marked,
 * not yet scanned).  Each member is marked once, so the stack, in
 * set[n..2n), cannot overflow. */
struct mark {
    struct ring ring;
    struct gc_head **stack;
    size_t top;
};

static int visit_mark(rc_object *target, void *arg);

/* Mark o if it is a member not marked yet; returns whether it was. */
static inline bool mark_one(rc_object *o, bool local)
{
    if (!member(o, local))
        return false;
    struct gc_head *g = OBJ_GC_HEAD(o);
    if (g->aux == MARKED)
        return false;
    g->aux = MARKED;
    return true;
}

static int visit_mark(rc_object *target, void *arg)
{
    struct mark *m = arg;
    if (m->ring.tail - m->ring.head == RING_SIZE) {
        if (mark_one(target, m->ring.local))
            m->stack[m->top++] = OBJ_GC_HEAD(target);
        return 0;
    }
    prefetch_target(target);
    m->ring.slot[m->ring.tail++ % RING_SIZE] = target;
    return 0;
}

/* Scan one parked target (mark it and its references if it is a member
 * not marked yet). */
static inline void mark_parked(struct mark *m)
{
    rc_object *o = m->ring.slot[m->ring.head++ % RING_SIZE];
    if (mark_one(o, m->ring.local))
        traverse_fast(o, visit_mark, m);
}

/* Pass 3: everything reachable from a member with gc_refs > 0 is marked
 * (MARKED); the members left at gc_refs 0 are unreachable.  The roots
 * enter the ring as the array pass finds them, so up to WINDOW chains of
 * references (rings, lists of lists) are followed at once. */
static void mark_reachable(struct collection *c)
{
    struct gc_head **set = c->set;
    size_t n = c->n;
    struct mark m = {.ring = {.head = 0, .tail = 0, .local = c->local}, .stack = set + n, .top = 0};
    for (size_t i = 0; i < n; i++) {
        prefetch_entry(set, i, n);
        struct gc_head *g = set[i];
        if (((uintptr_t)g & SET_DYING) || g->aux == 0 || g->aux == MARKED)
            continue;   /* dying, unreachable so far, or already marked */
        visit_mark(GC_HEAD_OBJ(g), &m);
        while (m.ring.tail - m.ring.head >= WINDOW)
            mark_parked(&m);
    }
    for (;;) {
        if (m.ring.head != m.ring.tail) {
            mark_parked(&m);
        } else if (m.top > 0) {
            rc_object *o = GC_HEAD_OBJ(m.stack[--m.top]);
            traverse_fast(o, visit_mark, &m);
        } else {
            break;
        }
    }
}

/* Pass 4: relink every member.  Survivors (and the dying) go to their
 * owners' lists for generation `dest`, in the order they had, with
 * COLLECTING cleared; the unreachable to c->unreachable, still COLLECTING
 * with gc_refs 0, each held (gc_hold_stw) as it is met: c->held, begun by
 * the caller, is the set's own array, each entry written after it was
 * read (no more unreachable objects than entries read).  Returns the
 * number of survivors. */
static long relink_stw(struct collection *c, int dest)
{
    RC_ASSERT_STW("relink_stw");
    struct gc_head **set = c->set;
    size_t n = c->n;
    uint8_t old = dest == RC_GC_GENERATIONS - 1 ? RC_GC_OLD : 0;
    long survivors = 0;
    gcl_init(&c->taken);   /* every member is relinked below */
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n)
            __builtin_prefetch(set_head(set[i + PREFETCH_AHEAD]), 1);
        struct gc_head *g = set_head(set[i]);
        if (g == set[i]) {
            rc_object *o = GC_HEAD_OBJ(g);
            if (g->aux == 0) {
                gcl_append(&c->unreachable, g);
                gc_hold_stw(c, o);
#ifdef RCGC_DEBUG
                if (c->nheld > i + 1)   /* held[] must stay behind the entries read */
                    rc_fatal("collector: %zu held after %zu set entries", c->nheld, i + 1);
#endif
                continue;
            }
            gc_set_bits_stw(o, (uint8_t)((obj_gc_bits(o) & ~RC_GC_COLLECTING) | old));
            survivors++;
        }
        gcl_append(gc_dest_list_stw(c->rt, g, dest), g);
    }
    return survivors;
}

/* The collection cannot proceed (phase 1, world stopped): every member of
 * the set back into generation c->gen of its owner, COLLECTING cleared. */
static void abandon_stw(struct collection *c)
{
    RC_ASSERT_STW("abandon_stw");
    while (!gcl_is_empty(&c->taken)) {
        struct gc_head *g = c->taken.next;
        rc_object *o = GC_HEAD_OBJ(g);
        gc_set_bits_stw(o, (uint8_t)(obj_gc_bits(o) & ~RC_GC_COLLECTING));
        gcl_remove(g);
        gcl_append(gc_dest_list_stw(c->rt, g, c->gen), g);
    }
}

/* ------------------------------------------- a thread-local collection */

/* Whether o, on the calling thread's generation-0 list, is a member of its
 * thread-local collection (docs/gc.md [gc.local]): alive and tracked, ours
 * (ob_tid), not escaped (RC_GC_ESCAPED clear), and counted by no other
 * thread: a shared count of 0, in state UNSHARED or MAYBE_WEAKREF (not
 * QUEUED or MERGED), so that its whole count is the local one.  relaxed
 * loads: another thread changes the bits only under the escape lock, which
 * we hold as a reader, and the count only through a reference of its own,
 * which keeps o reachable from outside the set while it holds it (see the
 * design note); a count another thread took since the load is caught
 * before the garbage is cleared (gc_local_settle). */
static inline bool local_candidate(rc_object *o, uintptr_t me)
{
    uint8_t bits = obj_gc_bits(o);
    /* RC_GC_OLD: never on a generation-0 list, and other threads skip the
     * escape check for it (runtime/internal.h). */
    if ((bits & (RC_GC_TRACKED | RC_GC_ESCAPED | RC_GC_COLLECTING | RC_GC_OLD)) != RC_GC_TRACKED)
        return false;
    if (rc_atomic_load_relaxed(&o->ob_tid) != me)
        return false;
    uint32_t local = rc_atomic_load_relaxed(&o->ob_ref_local);
    return local != 0 && local != RC_REF_IMMORTAL &&
           (uintptr_t)rc_atomic_load_relaxed(&o->ob_ref_shared) <= (uintptr_t)RC_REF_MAYBE_WEAKREF;
}

/* Room for need set entries plus as many stack entries in the thread's
 * own work buffer.  0, or -1 (MemoryError set; the buffer unchanged). */
static int reserve_local(struct gc_head ***work, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    struct gc_head **w = mem_realloc(*work, 2 * c * sizeof *w);
    if (w == NULL)
        return -1;
    *work = w;
    *cap = c;
    return 0;
}

static void local_unmark(struct collection *c)
{
    for (size_t i = 0; i < c->n; i++)
        GC_HEAD_OBJ(c->set[i])->ob_flags &= (uint8_t)~RC_OBF_LOCAL;
}

long gc_trial_deletion_local(struct collection *c, struct gc_head ***work, size_t *cap)
{
    struct thr_state *ts = c->ts;
    uintptr_t me = ts->tid;
    size_t n = 0;
    c->set = *work;
    c->n = 0;
    c->local_left = 0;
    for (int i = 0; i <= c->gen; i++) {
        struct gc_head *list = &ts->gcl->lists[i];
        for (struct gc_head *g = list->next; g != list; g = g->next) {
            __builtin_prefetch(GC_HEAD_OBJ(g->next));
            rc_object *o = GC_HEAD_OBJ(g);
            if (!local_candidate(o, me)) {
                if (i > 0)
                    c->local_left++;   /* left in generation 1 */
                continue;
            }
            if (n == *cap && reserve_local(work, cap, n + 1) < 0) {
                local_unmark(c);
                return -1;
            }
            c->set = *work;
            /* the whole count */
            g->aux = (uintptr_t)rc_atomic_load_relaxed(&o->ob_ref_local);
            o->ob_flags |= RC_OBF_LOCAL;
            c->set[n++] = g;
            c->n = n;
            if (n == 1 && c->rt->gc->local_hook != NULL)
                c->rt->gc->local_hook(c->rt->gc->local_hook_arg, 0);
        }
        if (i == 0)
            c->young_members = n;
    }
    c->rec.scanned += (long)n;
    gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_UPDATE_REFS]);
    subtract_set(c);
    gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_SUBTRACT]);
    if (c->rt->gc->local_hook != NULL)
        c->rt->gc->local_hook(c->rt->gc->local_hook_arg, 1);
    mark_reachable(c);
    /* Relink: survivors to our list of the next generation, in the order
     * they had; the unreachable out of every list, still marked, each
     * with one reference of ours (no merge: every member is ours and
     * counted locally), into c->held: the work buffer, compacted in place
     * (held[k] is written once set[k] was read).  A local collection's
     * garbage is an array, not a list (c->unreachable stays empty): the
     * passes that follow load its objects independently of each other,
     * not one pointer chase after another. */
    long survivors = 0;
    rc_object **held = (rc_object **)(void *)*work;
    size_t nheld = 0;
    for (size_t i = 0; i < n; i++) {
        struct gc_head *g = c->set[i];
        gcl_remove(g);
        if (g->aux == 0) {
            rc_object *o = GC_HEAD_OBJ(g);
            rc_incref(o);
            held[nheld++] = o;
        } else {
            gc_local_promote(c, g);
            survivors++;
        }
    }
    c->held = held;
    c->nheld = nheld;
    c->set = NULL;
    c->n = 0;
    gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_REACHABLE]);
    return survivors;
}

/* ------------------------------------------------------------- phase 1 */

/* Generation 1 of every owner joins the old space too, uncollected,
 * when generation 0's survivors go there: an object never sits in an
 * older generation than one allocated before it (a weakref made after its
 * referent, both garbage, would otherwise be in the old space while a
 * young collection finds its referent, and be called back as if it were
 * alive).  Only the first such collection finds anything there: the next
 * ones send generation 0 on before it reaches generation 1.  Returns how
 * many moved. */
struct gen1_move {
    struct collection *c;
    long moved;
};

static void gen1_to_old_owner(struct gcl_owner *ow, void *arg)
{
    struct gen1_move *m = arg;
    if (ow->oldspace)
        return;
    struct gc_head *list = &ow->lists[1];
    while (!gcl_is_empty(list)) {
        struct gc_head *g = list->next;
        rc_object *o = GC_HEAD_OBJ(g);
        gc_set_bits_stw(o, obj_gc_bits(o) | RC_GC_OLD);
        gcl_remove(g);
        gcl_append(gc_dest_list_stw(m->c->rt, g, RC_GC_GENERATIONS - 1), g);
        m->moved++;
    }
}

static long gen1_to_old_stw(struct collection *c)
{
    RC_ASSERT_STW("gen1_to_old_stw");
    struct gen1_move m = {c, 0};
    gcl_for_each_owner_stw(c->rt, gen1_to_old_owner, &m);
    return m.moved;
}

long gc_trial_deletion_stw(struct collection *c)
{
    RC_ASSERT_STW("gc_trial_deletion_stw");
    struct gc_state *gc = c->rt->gc;
    if (gather_stw(c) < 0) {
        /* No memory for the array (MemoryError is set): the set goes back
         * to generation `gen` of its owners, COLLECTING cleared, without
         * RC_GC_OLD (the younger members are not counted as promoted). */
        abandon_stw(c);
        return -1;
    }
    gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_UPDATE_REFS]);
    subtract_set(c);
    gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_SUBTRACT]);
    mark_reachable(c);
    /* Where the survivors go: the next generation, except that while
     * the young generation keeps most of what it allocates (a heap
     * being built: the last such collection kept more than half,
     * gc.young_growing) and the old space is collected concurrently,
     * generation 0's go straight to the old space.  Otherwise
     * generation 1 would hold everything the last threshold[1] young
     * collections kept, all alive, and collecting it would stop the
     * world for all of it (gil and ft-atomic modes, which have no
     * thread-local collections: 22,000 objects and 0.8-1.3 ms in
     * cycle-churn while its heap is built); the concurrent cycle finds,
     * in slices and short stops, whatever garbage they later become.
     * collect_round decides (c->young_to_old): automatic collections
     * only (rc_gc_collect(0) keeps CPython's generations: its survivors
     * are in generation 1, as gc.get_objects(1) shows), and only where
     * young collections all stop the world (ft mode's are thread-local:
     * [gc.local]). */
    c->dest = c->young_to_old ? RC_GC_GENERATIONS - 1 : gc_dest_generation(c->gen);
    /* The held references go into the work buffer, the set's array as the
     * relinking reads it: no allocation inside the stop (an allocator's
     * page faults there cost milliseconds, BENCHMARKS.md). */
    gc_hold_begin_stw(c, (rc_object **)(void *)gc->work, 2 * gc->work_cap);
    long survivors = relink_stw(c, c->dest);
    c->kept = survivors;
    if (c->young_to_old)
        survivors += gen1_to_old_stw(c);
    c->set = NULL;
    c->n = 0;
    gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_REACHABLE]);
    return survivors;
}

long gc_stw_find_garbage(struct collection *c)
{
    /* The set's array sized for the young generations before the stop,
     * not grown in it (a full collection, O(heap) anyway, grows it in its
     * stop if it must). */
    gc_work_prepare(c->rt->gc, gc_young_estimate(c->rt->gc));
    gc_stop(c);
    long survivors = gc_stw_find_garbage_stw(c);
    gc_start(c);
    return survivors;
}

long gc_stw_find_garbage_stw(struct collection *c)
{
    RC_ASSERT_STW("gc_stw_find_garbage_stw");
    struct rc_runtime *rt = c->rt;
    struct gc_state *gc = rt->gc;
    /* A full collection takes the whole heap: a concurrent cycle holding
     * part of the old space gives it back first. */
    if (c->gen == RC_GC_GENERATIONS - 1 && gc->ops->cancel_stw != NULL)
        gc->ops->cancel_stw(rt);
    if (c->verify)
        gc_verify_heap_stw(rt, true);
    gc_drain_handbacks_stw(c);
    gcl_for_each_owner_stw(rt, take_generations, c);
    /* A collection starts the count afresh.  Other threads' unreported
     * counts (at most report_at each) count toward the next one.
     * relaxed: a trigger count (collector.h). */
    rc_atomic_store_relaxed(&gc->young_count, 0);
    c->ts->gct.delta = 0;
    gc_lap(&c->lap_ns, &c->rec.phase_ns[RC_GC_T_MERGE]);
    return gc_trial_deletion_stw(c);
}

void gc_work_trim(struct gc_state *gc)
{
    if (gc->work_cap > WORK_KEEP) {
        mem_free(gc->work);
        gc->work = NULL;
        gc->work_cap = 0;
    }
}

static void stw_collector_fini(struct rc_runtime *rt)
{
    mem_free(rt->gc->work);
    rt->gc->work = NULL;
    rt->gc->work_cap = 0;
}

const struct gc_collector_ops gc_stw_collector = {
    .name = "stw",
    .fini = stw_collector_fini,
    .find_garbage = gc_stw_find_garbage,
    .allocated = gc_trigger_generational,
    .collect_due = gc_collect_due_now,
    .store_barrier = NULL,   /* the world is stopped for the whole trial deletion */
};
