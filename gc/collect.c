/* gc/collect.c: the generational cycle collector (docs/gc.md).
 *
 * A collection of generation g, in phase order (CPython's
 * gc_free_threading.c gc_collect_internal has the same shape):
 *
 *   1. stop the world; merge every refcount queue (exact counts); drain
 *      every hand-back stack; take every owner's lists 0..g into `young`;
 *      trial deletion: gc_refs = refcount, minus the references from
 *      other objects in `young`; whatever is left above zero is referenced
 *      from outside, and everything reachable from it survives; the rest
 *      is `unreachable`.  Clear the weakrefs to unreachable objects
 *      (keeping the callbacks of weakrefs that are themselves reachable),
 *      take a reference to every unreachable object, put survivors back
 *      into their owners' lists (promoted), restart the world;
 *   2. with the world running: weakref callbacks, then finalizers (PEP 442:
 *      once per object);
 *   3. stop the world again: objects a finalizer or callback made
 *      reachable again (resurrected), and everything they reach, survive;
 *      the rest leave the lists; restart;
 *   4. with the world running: clear the garbage (breaking its cycles), or
 *      with RC_GC_DEBUG_SAVEALL move it to the garbage list; drop the
 *      collector's references: reference counting frees it.
 *
 * No object code runs while the world is stopped (a parked thread may hold
 * a lock that a finalizer wants); objects that die in phase 1's merge are
 * freed after the restart (stw_defer_dealloc).  An object whose count is
 * 0 while the world is stopped is dying (its deallocation is pending on
 * some thread, e.g. in a trash stack): the collector leaves it alone,
 * including its aux word, which then links that stack.
 *
 * Thread rule: one collection at a time (gc.collecting); a nested or
 * concurrent request returns 0 at once.  The collecting thread owns
 * `struct collection`; the world is stopped whenever it touches another
 * owner's lists.
 */
#define RCGC_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "objects.h"
#include "collect.h"
#include "weakref.h"

#define FLUSH_AT 32

/* ------------------------------------------------------------------ init */

void gc_init(struct rc_runtime *rt)
{
    struct gc_state *gc = &rt->gc;
    pthread_mutex_init(&gc->mu, NULL);
    pthread_mutex_init(&gc->owners_mu, NULL);
    pthread_mutex_init(&gc->orphan_mu, NULL);
    gc->owners = NULL;
    struct gcl_owner *orphan = calloc(1, sizeof *orphan);
    if (orphan == NULL)
        rc_fatal("out of memory creating the collector's orphan lists");
    for (int i = 0; i < GCL_NLISTS; i++)
        gcl_init(&orphan->lists[i]);
    atomic_init(&orphan->handback, HANDBACK_CLOSED);
    orphan->orphan = orphan->exited = true;
    orphan->next_owner = NULL;
    gc->owners = orphan;
    gc->orphan = orphan;
    atomic_init(&gc->young, 0);
    atomic_init(&gc->collecting, 0);
    atomic_init(&gc->enabled, 1);
    atomic_init(&gc->stress, 0);
    atomic_init(&gc->verify, 0);
    static const long defaults[RC_GC_GENERATIONS] = {2000, 10, 10};
    for (int i = 0; i < RC_GC_GENERATIONS; i++) {
        atomic_init(&gc->threshold[i], defaults[i]);
        atomic_init(&gc->count[i], 0);
    }
    atomic_init(&gc->long_lived_total, 0);
    atomic_init(&gc->long_lived_pending, 0);
    gc->debug = 0;
    gc->garbage = NULL;
    memset(gc->stats, 0, sizeof gc->stats);
    gc->callbacks = NULL;
    gc->ncallbacks = gc->cap_callbacks = 0;
    gc->records = NULL;
    gc->nrecords = gc->cap_records = 0;
    gc->work = NULL;
    gc->work_cap = 0;
}

void gc_fini(struct rc_runtime *rt)
{
    struct gc_state *gc = &rt->gc;
    struct gcl_owner *ow = gc->owners;
    while (ow != NULL) {
        struct gcl_owner *next = ow->next_owner;
        free(ow);
        ow = next;
    }
    mem_free(gc->callbacks);   /* grown with mem_realloc (gc.c) */
    free(gc->records);
    mem_free(gc->work);
    pthread_mutex_destroy(&gc->orphan_mu);
    pthread_mutex_destroy(&gc->owners_mu);
    pthread_mutex_destroy(&gc->mu);
}

/* ------------------------------------------------------- stopping, walking */

struct collection {
    struct rc_runtime *rt;
    struct thr_state *ts;
    int gen;
    struct gc_head young;          /* the set, as spliced from the owners */
    struct gc_head unreachable;
    struct gc_head **set;          /* the set as an array (gc.work), then the
                                      mark stack in set[n..2n) */
    size_t n;
    rc_object **held;              /* every unreachable object, one reference each */
    size_t nheld;
    rc_object **saved;             /* RC_GC_DEBUG_SAVEALL: bound for gc.garbage */
    size_t nsaved;
    struct weakref_cb *cbs;        /* callbacks of reachable weakrefs */
    size_t ncbs;
    rc_gc_record rec;
    bool savall;
};

/* Stop the world (exact counts: rc_stop_the_world merges every queue). */
static void stop(struct collection *c)
{
    if (rc_stop_the_world() != 0)
        rc_fatal("collector: cannot stop the world: %s", rc_error_message());
}

/* Restart it and add the stop's time-to-safepoint and pause to the record.
 * Objects that died in the stop's merge are freed here, by
 * rc_start_the_world. */
static void start(struct collection *c)
{
    size_t n = rc_stw_count();
    if (rc_start_the_world() != 0)
        rc_fatal("collector: cannot restart the world: %s", rc_error_message());
    rc_stw_record r;
    if (rc_stw_records(n, &r, 1) == 1) {
        c->rec.time_to_safepoint_ns += r.time_to_safepoint_ns;
        c->rec.pause_ns += r.pause_ns;
    }
}

/* Call fn on every owner (live, exited and the orphan).  Owners only join
 * the list (at thread start), under owners_mu. */
static void for_each_owner(struct rc_runtime *rt, void (*fn)(struct gcl_owner *, void *),
                           void *arg)
{
    pthread_mutex_lock(&rt->gc.owners_mu);
    struct gcl_owner *ow = rt->gc.owners;
    pthread_mutex_unlock(&rt->gc.owners_mu);
    /* Owners added after this snapshot belong to threads that have not
     * attached yet: their lists are empty. */
    for (; ow != NULL; ow = ow->next_owner)
        fn(ow, arg);
}

/* The list an object of owner `ow` goes to for generation `gen`: an exited
 * thread's objects live in the orphan owner's lists. */
static struct gc_head *list_for(struct rc_runtime *rt, struct gcl_owner *ow, int gen)
{
    return ow->exited ? &rt->gc.orphan->lists[gen] : &ow->lists[gen];
}

static inline intptr_t gc_refs(struct gc_head *g) { return (intptr_t)g->aux; }
static inline bool collecting(rc_object *o) { return (obj_gc_bits(o) & RC_GC_COLLECTING) != 0; }

/* --------------------------------------------------------- phase 1: find */

static void drain_one(struct gcl_owner *ow, void *arg)
{
    struct collection *c = arg;
    if (!ow->exited)
        gcl_drain_handback(c->ts, ow);
}

static void take_generations(struct gcl_owner *ow, void *arg)
{
    struct collection *c = arg;
    for (int i = 0; i <= c->gen; i++)
        gcl_splice(&c->young, &ow->lists[i]);
}

/* The count of an object while the world is stopped (queues merged, so
 * exact): rc_refcount without its argument check. */
static inline intptr_t refcount_stopped(rc_object *o)
{
    uint32_t local = rc_atomic_load_relaxed(&o->ob_ref_local);
    if (local == RC_REF_IMMORTAL)
        return (intptr_t)RC_REF_IMMORTAL;
    intptr_t shared = rc_atomic_load_relaxed(&o->ob_ref_shared);
    return (intptr_t)local + (shared >> RC_REF_SHARED_SHIFT) -
           ((shared & RC_REF_STATE_MASK) == RC_REF_QUEUED);
}

/* ob_gc_bits while the world is stopped: nobody else writes them, so a
 * plain (relaxed) load and store replace the atomic read-modify-write. */
static inline void set_gc_bits_stopped(rc_object *o, uint8_t bits)
{
    rc_atomic_store_relaxed(&o->ob_gc_bits, bits);
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

/* Pass 1 (the only list walk): the set into the array, gc_refs = the exact
 * count for every object that is alive, COLLECTING set on those.  -1 if
 * memory for the array ran out (nothing changed but some COLLECTING bits,
 * which the caller's put_back clears). */
static int gather(struct collection *c)
{
    struct gc_state *gc = &c->rt->gc;
    size_t n = 0;
    for (struct gc_head *g = c->young.next; g != &c->young; g = g->next) {
        __builtin_prefetch(GC_HEAD_OBJ(g->next));
        if (n == gc->work_cap && reserve_work(gc, n + 1) < 0)
            return -1;
        rc_object *o = GC_HEAD_OBJ(g);
        intptr_t rc = refcount_stopped(o);
        if (rc <= 0) {
            gc->work[n++] = (struct gc_head *)((uintptr_t)g | SET_DYING);
            continue;   /* dying: left alone (see the file comment) */
        }
        g->aux = (uintptr_t)rc;
        set_gc_bits_stopped(o, obj_gc_bits(o) | RC_GC_COLLECTING);
        gc->work[n++] = g;
    }
    c->set = gc->work;
    c->n = n;
    c->rec.scanned += (long)n;
    return 0;
}

/* traverse, with instances (every heap type: rc_type_new) walked here:
 * their slots are plain, and the visitor, a constant at each call site,
 * is inlined instead of being called through two function pointers per
 * reference (instances are most of what a typical heap tracks). */
static inline __attribute__((always_inline)) void
traverse_fast(rc_object *o, int (*visit)(rc_object *, void *), void *arg)
{
    if (o->ob_type->flags & RC_TYPE_HEAP) {
        const struct rc_instance *in = (const struct rc_instance *)o;
        for (size_t i = 0; i < in->nslots; i++)
            if (in->slots[i] != NULL)
                visit(in->slots[i], arg);
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
};

static inline void prefetch_target(const rc_object *o)
{
    /* gc_head (aux) just before it, the header (bits, type), and the
     * first words of the body (slots) that its traverse reads. */
    __builtin_prefetch((const char *)o - sizeof(struct gc_head), 1);
    __builtin_prefetch((const char *)o + sizeof(rc_object));
}

/* Only objects of the set carry RC_GC_COLLECTING (non-GC objects never
 * do), so the bit alone says "in the set". */
static inline void decref_target(rc_object *target)
{
    if (collecting(target))
        OBJ_GC_HEAD(target)->aux--;
}

static int visit_decref_parked(rc_object *target, void *arg)
{
    struct ring *r = arg;
    if (r->tail - r->head == WINDOW)
        decref_target(r->slot[r->head++ % RING_SIZE]);
    prefetch_target(target);
    r->slot[r->tail++ % RING_SIZE] = target;
    return 0;
}

static int visit_decref(rc_object *target, void *arg)
{
    decref_target(target);
    return 0;
}

/* Pass 2: subtract the references that members of the set hold to each
 * other; what is left in gc_refs comes from outside. */
static void subtract_set(struct collection *c)
{
    struct gc_head **set = c->set;
    size_t n = c->n;
    struct ring r = {.head = 0, .tail = 0};
    for (size_t i = 0; i < n; i++) {
        prefetch_entry(set, i, n);
        if ((uintptr_t)set[i] & SET_DYING)
            continue;
        rc_object *o = GC_HEAD_OBJ(set[i]);
        traverse_fast(o, visit_decref_parked, &r);
    }
    while (r.head != r.tail)
        decref_target(r.slot[r.head++ % RING_SIZE]);
}

/* Subtract the references that objects of `list` hold to each other
 * (phase 3's small unreachable list). */
static void subtract_refs(struct gc_head *list)
{
    for (struct gc_head *g = list->next; g != list; g = g->next) {
        rc_object *o = GC_HEAD_OBJ(g);
        if (collecting(o))
            o->ob_type->traverse(o, visit_decref, NULL);
    }
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
static inline bool mark_one(rc_object *o)
{
    if (!collecting(o))
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
        if (mark_one(target))
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
    if (mark_one(o))
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
    struct mark m = {.ring = {.head = 0, .tail = 0}, .stack = set + n, .top = 0};
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
 * with gc_refs 0.  Returns the number of survivors. */
static long relink(struct collection *c, int dest)
{
    struct gc_head **set = c->set;
    size_t n = c->n;
    uint8_t old = dest == RC_GC_GENERATIONS - 1 ? RC_GC_OLD : 0;
    struct gcl_owner *last_owner = NULL;
    struct gc_head *list = NULL;
    long survivors = 0;
    gcl_init(&c->young);   /* every member is relinked below */
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n)
            __builtin_prefetch(set_head(set[i + PREFETCH_AHEAD]), 1);
        struct gc_head *g = set_head(set[i]);
        if (g == set[i]) {
            rc_object *o = GC_HEAD_OBJ(g);
            if (g->aux == 0) {
                gcl_append(&c->unreachable, g);
                continue;
            }
            set_gc_bits_stopped(o, (uint8_t)((obj_gc_bits(o) & ~RC_GC_COLLECTING) | old));
            survivors++;
        }
        if (g->owner != last_owner) {
            last_owner = g->owner;
            list = list_for(c->rt, last_owner, dest);
        }
        gcl_append(list, g);
    }
    return survivors;
}

/* Objects reachable from `list` (whose members all survive) that are still
 * in the unreachable set (gc_refs 0) join `list`, and are scanned in turn:
 * the list is its own work queue. */
struct reach {
    struct gc_head *reachable;   /* append here what becomes reachable */
};

static int visit_reachable(rc_object *target, void *arg)
{
    if (collecting(target)) {
        struct gc_head *g = OBJ_GC_HEAD(target);
        if (gc_refs(g) == 0) {
            struct reach *r = arg;
            gcl_remove(g);
            gcl_append(r->reachable, g);
            g->aux = 1;
        }
    }
    return 0;
}

static size_t list_length(const struct gc_head *list)
{
    size_t n = 0;
    for (const struct gc_head *g = list->next; g != list; g = g->next)
        n++;
    return n;
}

/* Put survivors back into their owners' lists for generation `dest`.
 * Returns how many were moved. */
static long put_back(struct collection *c, struct gc_head *list, int dest)
{
    long n = 0;
    uint8_t old = dest == RC_GC_GENERATIONS - 1 ? RC_GC_OLD : 0;
    while (!gcl_is_empty(list)) {
        struct gc_head *g = list->next;
        rc_object *o = GC_HEAD_OBJ(g);
        /* World stopped: nobody else writes the bits. */
        set_gc_bits_stopped(o, (uint8_t)((obj_gc_bits(o) & ~RC_GC_COLLECTING) | old));
        gcl_remove(g);
        gcl_append(list_for(c->rt, g->owner, dest), g);
        n++;
    }
    return n;
}

/* ------------------------------------------------------- phase 2, 3 and 4 */

/* Collect the weakref callbacks of the unreachable set; weakrefs that are
 * unreachable themselves get none.  The world is stopped. */
static bool is_garbage(rc_object *o)
{
    /* From relink to phase 3: the members of the set still COLLECTING
     * with gc_refs 0 are the unreachable ones. */
    return collecting(o) && gc_refs(OBJ_GC_HEAD(o)) == 0;
}

static void handle_weakrefs(struct collection *c)
{
    for (struct gc_head *g = c->unreachable.next; g != &c->unreachable; g = g->next) {
        rc_object *o = GC_HEAD_OBJ(g);
        if (o->ob_type->flags & RC_TYPE_WEAKREFABLE)
            weakref_detach_for_gc(o, &c->cbs, &c->ncbs, is_garbage);
        /* A garbage weakref to a live target: detached, or the target's
         * death would run its callback and hand it to another thread. */
        if (rc_is_weakref(o))
            weakref_detach_garbage(o);
    }
}

/* Whether o may be merged here: another thread owns its local count (ft
 * mode, mortal), and it is not QUEUED.  The stop merged every queue, but a
 * thread that parked while working through a batch it had taken out of its
 * queue (brc_merge_queued: a finalizer of an object of the batch reached a
 * safepoint) still holds QUEUED objects with the queue's reference in
 * their count; merging one would lose that state and leave its count one
 * too high until the owner merges it.  Those keep the old path. */
static inline bool owned_elsewhere(rc_object *o)
{
    uintptr_t tid = rc_atomic_load_relaxed(&o->ob_tid);
    if (tid == RC_TID_NONE || tid == RC_TID_GIL || tid == rc_tls_tid ||
        rc_atomic_load_relaxed(&o->ob_ref_local) == RC_REF_IMMORTAL)
        return false;
    intptr_t shared = rc_atomic_load_relaxed(&o->ob_ref_shared);
    return (shared & RC_REF_STATE_MASK) != RC_REF_QUEUED;
}

/* Non-GC objects that garbage refers to (ints, strings), that another
 * thread owns and whose shared count is 0: the garbage's references are
 * in the owner's local count, so clearing the garbage would drive the
 * shared count negative and queue them to their owner; merged, they are
 * freed here (or, if the owner still uses them, they end merged, as the
 * queue would have left them).  With a shared count above 0 the clear's
 * decrements need no queue, and the owner keeps its fast path. */
static int visit_merge(rc_object *target, void *arg)
{
    if (!collecting(target) && !obj_is_gc(target) && owned_elsewhere(target) &&
        (rc_atomic_load_relaxed(&target->ob_ref_shared) >> RC_REF_SHARED_SHIFT) == 0)
        ref_merge(target, 0);
    return 0;
}

/* One reference to every unreachable object, for the collector.  The
 * world is stopped (every thread parked or detached, every queue merged
 * but the batches some owner is still working through), so an object
 * another thread owns is merged (its whole count moves into the shared
 * count, as CPython's free-threaded collector does): the collector's
 * decrefs then free it on this thread, where they would otherwise queue
 * it to its owner one by one through the biased-refcount queues. */
static void hold_unreachable(struct collection *c)
{
    size_t n = list_length(&c->unreachable);
    c->held = n ? malloc(n * sizeof *c->held) : NULL;
    if (n && c->held == NULL)
        rc_fatal("collector: out of memory holding %zu unreachable objects", n);
    c->nheld = 0;
    for (struct gc_head *g = c->unreachable.next; g != &c->unreachable; g = g->next) {
        rc_object *o = GC_HEAD_OBJ(g);
        if (owned_elsewhere(o)) {
            ref_merge(o, 1);
            o->ob_type->traverse(o, visit_merge, NULL);
        } else {
            rc_incref(o);   /* no object code: an increment */
        }
        c->held[c->nheld++] = o;
    }
}

static void run_weakref_callbacks(struct collection *c)
{
    for (size_t i = 0; i < c->ncbs; i++) {
        c->cbs[i].callback(c->cbs[i].weakref, c->cbs[i].arg);
        rc_decref(c->cbs[i].weakref);
    }
    free(c->cbs);
    c->cbs = NULL;
    c->ncbs = 0;
}

/* Returns whether any object code ran. */
static bool run_callbacks_and_finalizers(struct collection *c)
{
    bool ran = c->ncbs > 0;
    run_weakref_callbacks(c);
    /* The unreachable list is private and our references keep every member
     * alive, so it does not change under the finalizers' feet. */
    for (struct gc_head *g = c->unreachable.next; g != &c->unreachable; g = g->next) {
        rc_object *o = GC_HEAD_OBJ(g);
        rc_finalize_fn fin = o->ob_type->finalize;
        if (fin != NULL && !(obj_gc_bits(o) & RC_GC_FINALIZED)) {
            rc_atomic_or_relaxed(&o->ob_gc_bits, RC_GC_FINALIZED);
            fin(o);
            ran = true;
        }
    }
    return ran;
}

/* Phase 3, world stopped: survivors of the finalizers.  gc_refs = count
 * minus our reference minus references from inside the set; the objects
 * left above zero were resurrected, with everything they reach. */
static void handle_resurrected(struct collection *c, struct gc_head *resurrected)
{
    for (struct gc_head *g = c->unreachable.next; g != &c->unreachable; g = g->next)
        g->aux = (uintptr_t)(rc_refcount(GC_HEAD_OBJ(g)) - 1);
    subtract_refs(&c->unreachable);
    struct gc_head *g = c->unreachable.next;
    while (g != &c->unreachable) {
        struct gc_head *next = g->next;
        if (gc_refs(g) > 0) {
            gcl_remove(g);
            gcl_append(resurrected, g);
        }
        g = next;
    }
    struct reach r = {resurrected};
    for (g = resurrected->next; g != resurrected; g = g->next) {
        rc_object *o = GC_HEAD_OBJ(g);
        o->ob_type->traverse(o, visit_reachable, &r);
    }
}

/* Drop the collector's references.  Garbage was cleared, so this frees it;
 * an object something still refers to after its clear is tracked again. */
static void release_held(struct collection *c)
{
    for (size_t i = 0; i < c->nheld; i++) {
        rc_object *o = c->held[i];
        if (!(obj_gc_bits(o) & RC_GC_TRACKED) && rc_refcount(o) > 1)
            obj_track(o);
        rc_decref(o);
    }
    free(c->held);
}

/* The collection cannot proceed (phase 1, world stopped): every member of
 * the set back into generation c->gen of its owner, COLLECTING cleared. */
static void abandon(struct collection *c)
{
    while (!gcl_is_empty(&c->young)) {
        struct gc_head *g = c->young.next;
        rc_object *o = GC_HEAD_OBJ(g);
        set_gc_bits_stopped(o, (uint8_t)(obj_gc_bits(o) & ~RC_GC_COLLECTING));
        gcl_remove(g);
        gcl_append(list_for(c->rt, g->owner, c->gen), g);
    }
}

/* ---------------------------------------------------------------- driver */

static void append_record(struct rc_runtime *rt, const rc_gc_record *rec)
{
    struct gc_state *gc = &rt->gc;
    pthread_mutex_lock(&gc->mu);
    /* A ring of RC_RECORDS_KEPT once full: record i is at i % KEPT. */
    if (gc->nrecords == gc->cap_records && gc->cap_records < RC_RECORDS_KEPT) {
        size_t cap = gc->cap_records ? gc->cap_records * 2 : 64;
        rc_gc_record *r = realloc(gc->records, cap * sizeof *r);
        if (r == NULL) {
            pthread_mutex_unlock(&gc->mu);
            return;   /* statistics only */
        }
        gc->records = r;
        gc->cap_records = cap;
    }
    gc->records[gc->nrecords++ % RC_RECORDS_KEPT] = *rec;
    pthread_mutex_unlock(&gc->mu);
}

static void invoke_callbacks(struct rc_runtime *rt, rc_gc_phase phase, const rc_gc_info *info)
{
    struct gc_state *gc = &rt->gc;
    pthread_mutex_lock(&gc->mu);
    size_t n = gc->ncallbacks;
    struct gc_callback *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (copy != NULL)
        memcpy(copy, gc->callbacks, n * sizeof *copy);
    pthread_mutex_unlock(&gc->mu);
    for (size_t i = 0; copy != NULL && i < n; i++)
        copy[i].cb(phase, info, copy[i].arg);
    free(copy);
}

static void lap(uint64_t *t, uint64_t *slot)
{
    uint64_t now = rc_clock_ns();
    *slot += now - *t;
    *t = now;
}

long gc_collect_generation(struct thr_state *ts, int gen)
{
    struct rc_runtime *rt = ts->rt;
    struct gc_state *gc = &rt->gc;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&gc->collecting, &expected, 1))
        return 0;   /* one collection at a time; a nested request is a no-op */

    rc_gc_info info = {.generation = gen};
    invoke_callbacks(rt, RC_GC_START, &info);

    struct collection c;
    memset(&c, 0, sizeof c);
    c.rt = rt;
    c.ts = ts;
    c.gen = gen;
    gcl_init(&c.young);
    gcl_init(&c.unreachable);
    pthread_mutex_lock(&gc->mu);
    c.savall = (gc->debug & RC_GC_DEBUG_SAVEALL) != 0;
    pthread_mutex_unlock(&gc->mu);
    c.rec.generation = gen;
    c.rec.start_ns = rc_clock_ns();
    uint64_t t = c.rec.start_ns;
    bool verify = atomic_load(&gc->verify) != 0;

    /* ---- phase 1: world stopped ---- */
    stop(&c);
    if (verify)
        gc_verify_heap_stw(rt, true);
    for_each_owner(rt, drain_one, &c);
    for_each_owner(rt, take_generations, &c);
    /* A collection starts the count afresh.  Other threads' unflushed
     * counts (at most FLUSH_AT each) will count toward the next one. */
    atomic_store(&gc->young, 0);
    ts->gc.delta = 0;
    lap(&t, &c.rec.phase_ns[RC_GC_T_MERGE]);
    if (gather(&c) < 0) {
        /* No memory for the array (MemoryError is set): the set goes back
         * to generation `gen` of its owners, COLLECTING cleared, without
         * RC_GC_OLD (the younger members are not counted as promoted). */
        abandon(&c);
        start(&c);
        atomic_store(&gc->collecting, 0);
        info.collected = -1;
        invoke_callbacks(rt, RC_GC_STOP, &info);
        return -1;
    }
    lap(&t, &c.rec.phase_ns[RC_GC_T_UPDATE_REFS]);
    subtract_set(&c);
    lap(&t, &c.rec.phase_ns[RC_GC_T_SUBTRACT]);
    mark_reachable(&c);
    int dest = gen < RC_GC_GENERATIONS - 1 ? gen + 1 : gen;
    long survivors = relink(&c, dest);
    if (gc->work_cap > WORK_KEEP) {
        mem_free(gc->work);
        gc->work = NULL;
        gc->work_cap = 0;
    }
    c.set = NULL;
    c.n = 0;
    handle_weakrefs(&c);
    hold_unreachable(&c);
    long found = (long)c.nheld;
    lap(&t, &c.rec.phase_ns[RC_GC_T_REACHABLE]);
    start(&c);

    /* ---- phase 2: world running ---- */
    bool ran_code = run_callbacks_and_finalizers(&c);

    /* ---- phase 3: world stopped, unless no object code ran ----
     * With no callback or finalizer run since phase 1, nothing can have
     * resurrected the garbage (unreachable, its weakrefs detached) or
     * made a new weakref to it, and the garbage is in no owner's list:
     * the private list is emptied without stopping the world.  The
     * garbage list (SAVEALL) and the verifier need the world stopped. */
    bool stop_again = ran_code || c.savall || verify;
    if (stop_again)
        stop(&c);
    struct gc_head resurrected;
    gcl_init(&resurrected);
    if (ran_code)
        handle_resurrected(&c, &resurrected);
    /* A finalizer or callback may have made a new weakref to garbage; a
     * thread that already took a reference through one has resurrected
     * the object (counted just now), and with the world stopped nobody
     * can take one any more: detach them.  Their callbacks run before the
     * garbage is cleared. */
    if (ran_code && !c.savall)
        handle_weakrefs(&c);
    survivors += put_back(&c, &resurrected, dest);
    long saved = 0;
    if (c.savall) {
        /* Kept alive in the garbage list: back into the lists. */
        size_t n = list_length(&c.unreachable);
        c.saved = n ? malloc(n * sizeof *c.saved) : NULL;
        if (n && c.saved == NULL)
            rc_fatal("collector: out of memory saving %zu objects", n);
        for (struct gc_head *g = c.unreachable.next; g != &c.unreachable; g = g->next)
            c.saved[c.nsaved++] = GC_HEAD_OBJ(g);
        saved = put_back(&c, &c.unreachable, dest);
        survivors += saved;
    } else {
        /* Garbage: out of every list; held only by us and by itself.
         * An atomic and: with the world running (no stop for phase 3) a
         * bit another thread sets must not be lost, whatever the path. */
        while (!gcl_is_empty(&c.unreachable)) {
            struct gc_head *g = c.unreachable.next;
            rc_object *o = GC_HEAD_OBJ(g);
            gcl_remove(g);
            rc_atomic_and_relaxed(&o->ob_gc_bits,
                                  (uint8_t)~(RC_GC_COLLECTING | RC_GC_TRACKED | RC_GC_OLD));
        }
    }
    if (verify)
        gc_verify_heap_stw(rt, true);
    lap(&t, &c.rec.phase_ns[RC_GC_T_FINALIZE]);
    if (stop_again)
        start(&c);

    /* ---- phase 4: world running ---- */
    if (c.savall) {
        for (size_t i = 0; i < c.nsaved; i++)
            if (gc->garbage == NULL || rc_list_append(gc->garbage, c.saved[i]) < 0)
                rc_fatal("collector: cannot save garbage: %s", rc_error_message());
        free(c.saved);
    } else {
        run_weakref_callbacks(&c);   /* weakrefs made during phase 2 */
        for (size_t i = 0; i < c.nheld; i++) {
            rc_object *o = c.held[i];
            if (!(obj_gc_bits(o) & RC_GC_TRACKED))
                o->ob_type->clear(o);   /* garbage: break its cycles (held) */
        }
    }
    release_held(&c);
    lap(&t, &c.rec.phase_ns[RC_GC_T_CLEAR]);

    /* ---- bookkeeping ---- */
    for (int i = 0; i <= gen; i++)
        atomic_store(&gc->count[i], 0);
    if (gen < RC_GC_GENERATIONS - 1)
        atomic_fetch_add(&gc->count[gen + 1], 1);
    if (gen == 1)
        atomic_fetch_add(&gc->long_lived_pending, survivors);
    else if (gen == 2) {
        atomic_store(&gc->long_lived_total, survivors);
        atomic_store(&gc->long_lived_pending, 0);
    }
    c.rec.collected = found;
    c.rec.uncollectable = saved;
    c.rec.end_ns = rc_clock_ns();
    c.rec.heap_size = (long)obj_live_tracked(rt);
    pthread_mutex_lock(&gc->mu);
    gc->stats[gen].collections++;
    gc->stats[gen].collected += (uint64_t)found;
    gc->stats[gen].uncollectable += (uint64_t)saved;
    pthread_mutex_unlock(&gc->mu);
    append_record(rt, &c.rec);
    if (rc_atomic_load_relaxed(&gc->trace))
        gc_trace_line(&c.rec);
    atomic_store(&gc->collecting, 0);

    info.collected = found;
    info.uncollectable = saved;
    invoke_callbacks(rt, RC_GC_STOP, &info);
    return found;
}

/* ------------------------------------------------------- automatic trigger */

/* An automatic collection runs inside an allocation that goes on to
 * succeed: a collection that could not run (MemoryError) must not leave
 * its error behind for the allocating caller. */
static void collect_quietly(struct thr_state *ts, int gen)
{
    bool had_error = rc_error_occurred() != RC_ERR_NONE;
    if (gc_collect_generation(ts, gen) < 0 && !had_error)
        rc_error_clear();
}

static void collect_automatically(struct thr_state *ts, long young)
{
    struct gc_state *gc = &ts->rt->gc;
    for (int g = RC_GC_GENERATIONS - 1; g >= 0; g--) {
        long count = g == 0 ? young : atomic_load(&gc->count[g]);
        if (count < atomic_load(&gc->threshold[g]))
            continue;
        /* CPython's damping of full collections: only when the objects
         * promoted since the last one exceed 25% of what it left. */
        if (g == RC_GC_GENERATIONS - 1 &&
            atomic_load(&gc->long_lived_pending) < atomic_load(&gc->long_lived_total) / 4)
            continue;
        collect_quietly(ts, g);
        return;
    }
}

/* Add a thread's count to gc.young, which never goes below 0 (as CPython's
 * generation-0 count): frees of objects allocated before the last
 * collection must not hold the next one back.  relaxed: a statistic that
 * decides when to collect, nothing else. */
static long flush_delta(struct gc_state *gc, long delta);

/* Take the thread's freed gen-2 objects off long_lived_pending. */
static void flush_counts(struct thr_state *ts)
{
    struct gc_state *gc = &ts->rt->gc;
    long k = ts->gc.old_freed;
    if (k != 0) {
        ts->gc.old_freed = 0;
        long now = atomic_fetch_sub_explicit(&gc->long_lived_pending, k,
                                             memory_order_relaxed) - k;
        if (now < 0) {
            /* Generation 2 is smaller than the last full collection left:
             * the smaller size becomes the baseline that growth is
             * measured against (our share of the shortfall moves from
             * pending to total). */
            long move = -now < k ? -now : k;
            atomic_fetch_add_explicit(&gc->long_lived_pending, move, memory_order_relaxed);
            atomic_fetch_sub_explicit(&gc->long_lived_total, move, memory_order_relaxed);
        }
    }
}

static long flush_delta(struct gc_state *gc, long delta)
{
    long young = atomic_load_explicit(&gc->young, memory_order_relaxed);
    long next;
    do {
        next = young + delta > 0 ? young + delta : 0;
    } while (!atomic_compare_exchange_weak_explicit(&gc->young, &young, next,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
    return next;
}

void gc_note_alloc_slow(struct thr_state *ts)
{
    struct gc_state *gc = &ts->rt->gc;
    long young = flush_delta(gc, ts->gc.delta);
    ts->gc.delta = 0;
    flush_counts(ts);
    long stress = atomic_load_explicit(&gc->stress, memory_order_relaxed);
    ts->gc.flush_at = stress > 0 ? 1 : FLUSH_AT;
    /* Objects other threads handed back to us: unlink and free them. */
    if (atomic_load_explicit(&ts->gcl->handback, memory_order_relaxed) != NULL)
        gcl_drain_handback(ts, ts->gcl);
    if (ts->holds_stw || atomic_load(&gc->collecting) || !atomic_load(&gc->enabled))
        return;
    if (stress > 0) {
        if (--ts->gc.stress_countdown <= 0) {
            ts->gc.stress_countdown = stress;
            collect_quietly(ts, 0);
        }
        return;
    }
    long t0 = atomic_load(&gc->threshold[0]);
    if (t0 > 0 && young >= t0)
        collect_automatically(ts, young);
}

void gc_note_free_slow(struct thr_state *ts)
{
    flush_delta(&ts->rt->gc, ts->gc.delta);
    ts->gc.delta = 0;
    flush_counts(ts);
}

void gc_thread_exit(struct thr_state *ts)
{
    flush_delta(&ts->rt->gc, ts->gc.delta);
    ts->gc.delta = 0;
    flush_counts(ts);
    gcl_owner_exit(ts->rt, ts);
}

void gc_collect_at_exit(struct rc_runtime *rt)
{
    struct thr_state *ts = rc_tls_state;
    pthread_mutex_lock(&rt->gc.mu);
    rt->gc.debug = 0;   /* the garbage list goes away: nothing is saved now */
    pthread_mutex_unlock(&rt->gc.mu);
    /* A collection can free objects whose clearing makes more cycles
     * unreachable (a cycle held only by another cycle's finalizer...). */
    for (int i = 0; i < 16; i++)
        if (gc_collect_generation(ts, RC_GC_GENERATIONS - 1) == 0)
            break;
}
