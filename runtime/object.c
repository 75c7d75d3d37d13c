/* runtime/object.c: allocating and deallocating objects; immortality; the
 * None/True/False singletons.
 *
 * Deallocation order (obj_dealloc), as CPython's subtype_dealloc with
 * PEP 442: the finalizer runs once (it may resurrect the object), then weak
 * references are cleared and their callbacks run, then the type's dealloc
 * drops what the object holds and frees it.
 *
 * The trashcan: deallocating a container drops its items, which may free
 * containers in turn; past TRASH_MAX_DEPTH nested deallocations a
 * container's deallocation is deferred to the thread's trash stack (linked
 * through its gc_head, unused once the object is dead and untracked) and
 * run by the outermost deallocation, so a list nested a million deep is
 * freed in bounded C stack.  Thread rule: the trash stack and depth belong
 * to the deallocating thread (thr_state, owner only).
 *
 * Live-object accounting: every obj_alloc counts one allocation and every
 * obj_free of a mortal object one free on the calling thread's state;
 * rc_make_immortal counts the object as gone from the mortal population.
 */
#define RCGC_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "borrow.h"
#include "objects.h"
#include "weakref.h"

#define TRASH_MAX_DEPTH 50

/* ------------------------------------------------------------ allocation */

rc_object *obj_alloc(const rc_type *t, size_t size)
{
    struct thr_state *ts = rc_tls_state;
    if (RC_UNLIKELY(ts == NULL))
        return err_no_thread_null(t->name);
    RC_DEBUG_CHECK_ATTACHED(ts, "allocating an object");
    rc_safepoint();
    bool gc = (t->flags & RC_TYPE_GC) != 0;
    if (gc)
        gcl_note_alloc(ts);   /* may collect: before anything half-built exists */
    size_t pre = gc ? sizeof(struct gc_head) : 0;
    /* Not calloc: only the header, the gc_head and the body of a type
     * whose constructor does not fill it need zeroes (docs/memory.md). */
    char *mem = mem_alloc(pre + size);
    if (RC_UNLIKELY(mem == NULL))
        return NULL;
    rc_object *o = (rc_object *)(mem + pre);
    if (!(t->flags & RC_TYPE_FILLS_BODY))
        memset(o + 1, 0, size - sizeof *o);
    /* Every header field, all unpublished: plain or relaxed stores. */
    ref_stamp(o, ts);
    o->ob_flags = 0;
    rc_atomic_store_relaxed(&o->ob_weak, 0);
    rc_atomic_store_relaxed(&o->ob_mutex, 0);
    rc_atomic_store_relaxed(&o->ob_gc_bits, gc ? RC_GC_TRACKED : 0);
    o->ob_type = t;
    if (gc) {
        OBJ_GC_HEAD(o)->aux = 0;
        gcl_track_new(ts, o);   /* sets next, prev and owner */
        rc_atomic_store_relaxed(&ts->gc_allocs, rc_atomic_load_relaxed(&ts->gc_allocs) + 1);
    }
    /* relaxed: owner-written counter, read as a snapshot by others. */
    rc_atomic_store_relaxed(&ts->allocs, rc_atomic_load_relaxed(&ts->allocs) + 1);
    return o;
}

void obj_track(rc_object *o)
{
    /* Only the collector tracks an object again, one that something still
     * refers to after it was cleared: whoever that is, it is left to
     * collections that stop the world (internal.h). */
    rc_atomic_or_relaxed(&o->ob_gc_bits, RC_GC_TRACKED | RC_GC_ESCAPED);
    gcl_track_new(rc_tls_state, o);
}

void obj_free(rc_object *o)
{
    struct thr_state *ts = rc_tls_state;
    if (!(o->ob_flags & RC_OBF_IMMORTALIZED))
        rc_atomic_store_relaxed(&ts->frees, rc_atomic_load_relaxed(&ts->frees) + 1);
    if (obj_is_gc(o)) {
        rc_atomic_store_relaxed(&ts->gc_frees, rc_atomic_load_relaxed(&ts->gc_frees) + 1);
        if (obj_gc_bits(o) & RC_GC_TRACKED) {
            gcl_note_free(ts);
            gcl_free_tracked(ts, o);   /* unlink, or hand back to its owner */
        } else {
            gcl_release_memory(ts, o);
        }
        return;
    }
    void *mem = o;
    if ((obj_gc_bits(o) & RC_GC_SHARED) && ts->qsbr.registered) {
        /* A lock-free reader may still hold a pointer to o and will read
         * its counts (and a dict key's contents): keep the memory intact
         * until a grace period has passed. */
        qsbr_retire(ts, mem);
        return;
    }
#ifdef RCGC_DEBUG
    /* Leave a recognisable pattern for a debugger (ASan poisons anyway). */
    memset(o, 0xdb, sizeof *o);
#endif
    mem_free(mem);
}

/* --------------------------------------------------------------- escape */

void obj_escape_slow(rc_object *o)
{
    /* Another thread's object that it may be collecting on its own (and
     * that this thread is about to change, or to hold without a count):
     * wait until no thread-local collection is deciding (they hold the
     * lock as readers), mark it, and let them go on.  A collection that
     * starts after this sees the mark, one that ran before has finished
     * with o; the caller's access follows either way.  With the world
     * stopped by the caller no collection is deciding (a decision passes
     * no safepoint), so no lock is needed then. */
    struct thr_state *ts = rc_tls_state;
    struct rc_runtime *rt = ts != NULL ? ts->rt : rc_rt;
    if (ts != NULL && ts->holds_stw) {
        rc_atomic_or_relaxed(&o->ob_gc_bits, RC_GC_ESCAPED);
        return;
    }
    if (pthread_rwlock_trywrlock(&rt->escape_lock) != 0) {
        rc_atomic_add_relaxed(&rt->escape_waits, 1);   /* relaxed: a counter */
        pthread_rwlock_wrlock(&rt->escape_lock);
    }
    rc_atomic_or_relaxed(&o->ob_gc_bits, RC_GC_ESCAPED);
    pthread_rwlock_unlock(&rt->escape_lock);
}

/* ---------------------------------------------------------- deallocation */

/* o is in the old space (gclist.h), which a concurrent collector may be
 * reading: say it is dead before its type's dealloc takes its contents
 * apart.  In the ft modes under o's lock, held by a collector traversing
 * it (docs/gc.md [gc.concurrent]), so that a traversal either ends before
 * the dealloc starts or sees RC_GC_DEAD and skips o.  Instances need no
 * lock: their slots are atomic and their memory is kept by the old
 * space, so a traversal reads stale pointers at worst, which it never
 * dereferences.  Attached spin: a dealloc may run where the thread holds
 * borrowed references, and the collector holds the lock only briefly. */
__attribute__((noinline)) static void obj_mark_dead(struct thr_state *ts, rc_object *o)
{
    if (ts->tid == RC_TID_GIL || (o->ob_type->flags & RC_TYPE_HEAP)) {
        rc_atomic_or_relaxed(&o->ob_gc_bits, RC_GC_DEAD);
        return;
    }
    obj_lock_attached(o);
    rc_atomic_or_relaxed(&o->ob_gc_bits, RC_GC_DEAD);
    obj_unlock(o);
}

static void dealloc_now(struct thr_state *ts, rc_object *o)
{
    const rc_type *t = o->ob_type;
    if (t->finalize != NULL && !(obj_gc_bits(o) & RC_GC_FINALIZED)) {
        /* PEP 442: run once, with one reference; it may resurrect. */
        rc_atomic_or_relaxed(&o->ob_gc_bits, RC_GC_FINALIZED);
        ref_resurrect_begin(o, (t->flags & RC_TYPE_WEAKREFABLE) != 0);
        t->finalize(o);
        if (ref_resurrect_end(o))
            return;
    }
    if (weakref_listed(o))
        weakref_clear_target(o);
    /* A tracked object stays in its GC list until obj_free unlinks it (or
     * hands it back to its owner); the collector leaves dying objects
     * (count 0) alone meanwhile. */
    if ((t->flags & RC_TYPE_GC) && RC_UNLIKELY(gcl_in_oldspace(&ts->rt->gcl, OBJ_GC_HEAD(o))))
        obj_mark_dead(ts, o);
    ts->dealloc_depth++;
    t->dealloc(o);
    ts->dealloc_depth--;
}

void obj_dealloc(rc_object *o)
{
    struct thr_state *ts = rc_tls_state;
    RC_DEBUG_CHECK_ATTACHED(ts, "freeing an object");
    if (ts->dealloc_depth >= TRASH_MAX_DEPTH && obj_is_gc(o)) {
        /* Defer: the outermost obj_dealloc on this thread runs it.  The
         * trash stack links through the gc_head's aux word, which the
         * collector leaves alone on a dying object (count 0); the object
         * stays in its GC list. */
        struct gc_head *g = OBJ_GC_HEAD(o);
        g->aux = (uintptr_t)ts->trash;
        ts->trash = g;
        return;
    }
    dealloc_now(ts, o);
    if (ts->dealloc_depth == 0) {
        while (ts->trash != NULL) {
            struct gc_head *g = ts->trash;
            ts->trash = (struct gc_head *)g->aux;
            dealloc_now(ts, GC_HEAD_OBJ(g));
        }
    }
}

/* ------------------------------------------------------------ immortality */

int rc_make_immortal(rc_object *o)
{
    struct thr_state *ts = rc_tls_state;
    if (o == NULL)
        return err_int(RC_ERR_TYPE, "rc_make_immortal() argument must be an object, not NULL");
    if (ts == NULL) {
        err_no_thread_null("rc_make_immortal");
        return -1;
    }
    if (!ts->attached)
        return err_int(RC_ERR_RUNTIME, "rc_make_immortal(): the thread is detached");
    struct rc_runtime *rt = ts->rt;
    /* Other threads may hold and count o meanwhile.  What must not happen
     * is a store of RC_REF_IMMORTAL between another thread's load of
     * ob_ref_local and its plain store of an updated value (that would undo
     * it), and only o's owner, or a merge on its behalf, stores there.  In
     * gil mode the GIL excludes them; in ft-atomic nobody owns an object;
     * in ft the caller may be the owner, and every other thread's update is
     * an atomic one of ob_ref_shared, which stays harmless: a drop that
     * would reach zero is queued to the owner, and ref_merge leaves an
     * immortal object alone (the caller's absorbed reference keeps the
     * total above zero anyway).  Else the world is stopped: the owner is
     * parked at a safepoint or detached, not in the middle of an update,
     * and nobody merges. */
    bool stop = rt->cfg.mode == RC_MODE_FT && !ts->holds_stw &&
                rc_atomic_load_relaxed(&o->ob_tid) != rc_tls_tid &&
                rc_atomic_load_relaxed(&o->ob_ref_local) != RC_REF_IMMORTAL;
    if (stop && stw_stop(rt, ts) < 0)
        return -1;
    int r = 0;
    pthread_mutex_lock(&rt->mu);
    /* Decided under rt->mu, so two callers cannot both register o (it
     * would be freed twice at shutdown). */
    if (rc_atomic_load_relaxed(&o->ob_ref_local) == RC_REF_IMMORTAL)
        goto out;   /* already immortal: the caller's reference is absorbed */
    if (rt->nimmortals == rt->cap_immortals) {
        size_t cap = rt->cap_immortals ? rt->cap_immortals * 2 : 16;
        rc_object **a = mem_realloc(rt->immortals, cap * sizeof *a);
        if (a == NULL) {
            r = -1;
            goto out;
        }
        rt->immortals = a;
        rt->cap_immortals = cap;
    }
    rt->immortals[rt->nimmortals++] = o;
    /* From here on no count of o is ever written again (ref_merge and
     * resurrection leave immortal objects alone; other threads' updates
     * test ob_ref_local first, and those that loaded it before this store
     * are harmless, see above), so the counts' values do not matter; the
     * caller's reference is absorbed.  ob_flags: read only when o is
     * freed, at rc_runtime_free. */
    o->ob_flags |= RC_OBF_IMMORTALIZED;
    rc_atomic_store_relaxed(&o->ob_ref_local, RC_REF_IMMORTAL);
    rc_atomic_store_relaxed(&ts->frees, rc_atomic_load_relaxed(&ts->frees) + 1);
out:
    pthread_mutex_unlock(&rt->mu);
    if (stop)
        stw_start(rt, ts);
    return r;
}

void obj_release_immortals(struct rc_runtime *rt)
{
    /* Shutdown, single thread.  First drop every reference immortal
     * containers hold (they may point at each other), then free them. */
    for (size_t i = 0; i < rt->nimmortals; i++) {
        rc_object *o = rt->immortals[i];
        if (obj_is_gc(o))
            o->ob_type->clear(o);
    }
    struct thr_state *ts = rc_tls_state;
    for (size_t i = 0; i < rt->nimmortals; i++) {
        rc_object *o = rt->immortals[i];
        ref_stamp(o, ts);            /* mortal again, one reference */
        rc_atomic_or_relaxed(&o->ob_gc_bits, RC_GC_FINALIZED);  /* no finalizers at shutdown */
        rc_decref(o);
    }
    mem_free(rt->immortals);
    rt->immortals = NULL;
    rt->nimmortals = rt->cap_immortals = 0;
}

size_t rc_live_objects(void)
{
    struct rc_runtime *rt = rc_rt;
    if (rt == NULL)
        return 0;
    gc_local_finish_own();   /* garbage found, not yet freed, is not live */
    pthread_mutex_lock(&rt->mu);
    int64_t live = (int64_t)(rt->dead_allocs - rt->dead_frees);
    for (struct thr_state *t = rt->threads; t != NULL; t = t->next)
        /* relaxed: a snapshot; see struct thr_state. */
        live += (int64_t)(rc_atomic_load_relaxed(&t->allocs) - rc_atomic_load_relaxed(&t->frees));
    pthread_mutex_unlock(&rt->mu);
    return live > 0 ? (size_t)live : 0;
}

size_t obj_live_tracked(struct rc_runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    int64_t live = (int64_t)(rt->dead_gc_allocs - rt->dead_gc_frees);
    for (struct thr_state *t = rt->threads; t != NULL; t = t->next)
        /* relaxed: a snapshot; see struct thr_state. */
        live += (int64_t)(rc_atomic_load_relaxed(&t->gc_allocs) -
                          rc_atomic_load_relaxed(&t->gc_frees));
    pthread_mutex_unlock(&rt->mu);
    return live > 0 ? (size_t)live : 0;
}

const rc_type *rc_type_of(rc_object *o)
{
    if (o == NULL)
        return err_null(RC_ERR_TYPE, "rc_type_of() argument must be an object, not NULL");
    return o->ob_type;
}

const char *rc_type_name(const rc_type *t)
{
    if (t == NULL)
        return err_null(RC_ERR_TYPE, "rc_type_name() argument must be a type, not NULL");
    return t->name;
}

/* ------------------------------------------------- None, True and False */

static void static_dealloc(rc_object *o)
{
    rc_fatal("deallocating the immortal %s singleton", o->ob_type->name);
}

const rc_type rc_none_type = {.name = "NoneType", .basicsize = sizeof(rc_object),
                              .dealloc = static_dealloc};
const rc_type rc_bool_type = {.name = "bool", .basicsize = sizeof(rc_object),
                              .dealloc = static_dealloc};

#define STATIC_OBJECT(type)                                                   \
    {.ob_tid = RC_TID_NONE, .ob_flags = RC_OBF_STATIC,                       \
     .ob_ref_local = RC_REF_IMMORTAL, .ob_ref_shared = 0, .ob_type = &(type)}

static rc_object none_object = STATIC_OBJECT(rc_none_type);
static rc_object true_object = STATIC_OBJECT(rc_bool_type);
static rc_object false_object = STATIC_OBJECT(rc_bool_type);

rc_object *rc_none(void) { return &none_object; }
rc_object *rc_true(void) { return &true_object; }
rc_object *rc_false(void) { return &false_object; }
rc_object *rc_bool(int v) { return v ? &true_object : &false_object; }
