/* gc/api.c: the collector's view of objects: traverse, clear, tracking, and
 * referents.  The cycle collector itself builds on these hooks.
 * Thread rule: rc_traverse/rc_clear read/modify a container the caller may
 * mutate (one thread at a time, as any container mutation).
 */
#define RCGC_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects.h"
#include "collector.h"
#include "rcgc/testing.h"

struct escaping_visit {
    rc_visit_fn visit;
    void *arg;
};

static int visit_escaping(rc_object *target, void *arg)
{
    struct escaping_visit *ev = arg;
    obj_escape_check(target);
    return ev->visit(target, ev->arg);
}

int rc_traverse(rc_object *o, rc_visit_fn visit, void *arg)
{
    if (o == NULL)
        return err_int(RC_ERR_TYPE, "rc_traverse() argument must be an object, not NULL");
    if (visit == NULL)
        return err_int(RC_ERR_TYPE, "rc_traverse() visit function must not be NULL");
    if (!obj_is_gc(o))
        return 0;
    if (rc_tls_state == NULL || rc_tls_tid == RC_TID_GIL)
        return o->ob_type->traverse(o, visit, arg);
    /* ft: another thread's object is marked before it is read, and the
     * referents, handed out borrowed, too (runtime/internal.h). */
    obj_escape_check(o);
    struct escaping_visit ev = {visit, arg};
    return o->ob_type->traverse(o, visit_escaping, &ev);
}

int rc_clear(rc_object *o)
{
    if (o == NULL)
        return err_int(RC_ERR_TYPE, "rc_clear() argument must be an object, not NULL");
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL) {
        err_no_thread_null("rc_clear");
        return -1;
    }
    if (!ts->attached)
        return err_int(RC_ERR_RUNTIME, "rc_clear(): the thread is detached");
    if (obj_is_gc(o)) {
        obj_escape_check(o);   /* another thread's object: runtime/internal.h */
        /* Hold a reference across the hook: if o is alive only through a
         * cycle, dropping one of its referents may drop o's last reference
         * while the hook still walks o (CPython's delete_garbage does the
         * same). */
        rc_incref(o);
        int r = 0;
        if (rc_is_instance(o))
            r = instance_clear_live(o);   /* other threads may use its slots */
        else
            o->ob_type->clear(o);
        rc_decref(o);
        return r;
    }
    return 0;
}

int rc_gc_is_tracked(rc_object *o)
{
    if (o == NULL)
        return err_int(RC_ERR_TYPE, "rc_gc_is_tracked() argument must be an object, not NULL");
    return (obj_gc_bits(o) & RC_GC_TRACKED) != 0;
}

/* ================================================================ the API */
/* (collector.c drives the collectors; this is Python's gc module around them.) */


static struct thr_state *attached_state(const char *fn)
{
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL) {
        err_no_thread_null(fn);
        return NULL;
    }
    if (!ts->attached) {
        err_set(RC_ERR_RUNTIME, "%s(): the thread is detached", fn);
        return NULL;
    }
    return ts;
}

/* For functions that stop the world themselves. */
static struct thr_state *stopping_state(const char *fn)
{
    struct thr_state *ts = attached_state(fn);
    if (ts != NULL && ts->holds_stw) {
        err_set(RC_ERR_RUNTIME, "%s(): this thread holds the world stopped "
                "(rc_start_the_world first)", fn);
        return NULL;
    }
    return ts;
}

size_t rc_gc_link_size(void)
{
    return sizeof(struct gc_head);
}

long rc_gc_collect(int generation)
{
    struct thr_state *ts = stopping_state("rc_gc_collect");
    if (ts == NULL)
        return -1;
    if (generation < 0 || generation >= RC_GC_GENERATIONS)
        return err_int(RC_ERR_VALUE, "rc_gc_collect(): invalid generation %d (valid: 0, 1, 2)",
                       generation);
    /* Saved and restored: a finalizer run at a safepoint of the wait
     * (collector.c) may call rc_gc_collect itself. */
    bool waits = ts->gc->wait_background;
    ts->gc->wait_background = true;
    /* Not automatic, even from a callback of an automatic one: CPython's
     * generations (collector.h, collection.young_to_old). */
    bool automatic = ts->gc->auto_collect;
    ts->gc->auto_collect = false;
    const struct gc_collector_ops *ops = ts->rt->gc->ops;
    if (ops->before_collect != NULL && ts->gc->in_collection == 0)
        ops->before_collect(ts, generation);   /* may pass safepoints */
    /* What this thread's last local collection found goes first: the
     * collection asked for leaves nothing of the caller's behind.  (Not in
     * every collection: one run while the cycle's busy flag is held must
     * not run the finalizers that clearing may.) */
    gc_local_finish_own();
    long r = gc_collect(ts, generation);
    ts->gc->wait_background = waits;
    ts->gc->auto_collect = automatic;
    return r;
}

int rc_gc_enable(void)
{
    struct thr_state *ts = attached_state("rc_gc_enable");
    if (ts == NULL)
        return -1;
    struct gc_state *gc = ts->rt->gc;
    rc_atomic_store_relaxed(&gc->enabled, 1);   /* relaxed: a setting */
    if (gc->ops->settings_changed != NULL)
        gc->ops->settings_changed(ts->rt);
    return 0;
}

int rc_gc_disable(void)
{
    struct thr_state *ts = attached_state("rc_gc_disable");
    if (ts == NULL)
        return -1;
    rc_atomic_store_relaxed(&ts->rt->gc->enabled, 0);   /* relaxed: a setting */
    return 0;
}

int rc_gc_isenabled(void)
{
    struct thr_state *ts = attached_state("rc_gc_isenabled");
    if (ts == NULL)
        return -1;
    return rc_atomic_load_relaxed(&ts->rt->gc->enabled) != 0;   /* relaxed: a setting */
}

int rc_gc_get_count(long counts[RC_GC_GENERATIONS])
{
    struct thr_state *ts = attached_state("rc_gc_get_count");
    if (ts == NULL)
        return -1;
    if (counts == NULL)
        return err_int(RC_ERR_TYPE, "rc_gc_get_count() output must not be NULL");
    struct gc_state *gc = ts->rt->gc;
    /* Other threads' unflushed counts are not included (at most 32 each). */
    /* relaxed: counts that decide when to collect (collector.h). */
    long young = rc_atomic_load_relaxed(&gc->young_count) + ts->gct.delta;
    counts[0] = young > 0 ? young : 0;   /* as young_count itself, never below 0 */
    for (int i = 1; i < RC_GC_GENERATIONS; i++)
        counts[i] = rc_atomic_load_relaxed(&gc->count[i]);
    return 0;
}

int rc_gc_get_threshold(long thresholds[RC_GC_GENERATIONS])
{
    struct thr_state *ts = attached_state("rc_gc_get_threshold");
    if (ts == NULL)
        return -1;
    if (thresholds == NULL)
        return err_int(RC_ERR_TYPE, "rc_gc_get_threshold() output must not be NULL");
    for (int i = 0; i < RC_GC_GENERATIONS; i++)
        thresholds[i] = rc_atomic_load_relaxed(&ts->rt->gc->threshold[i]);   /* a setting */
    return 0;
}

int rc_gc_set_threshold(long t0, long t1, long t2)
{
    struct thr_state *ts = attached_state("rc_gc_set_threshold");
    if (ts == NULL)
        return -1;
    if (t0 < 0 || t1 < 0 || t2 < 0)
        return err_int(RC_ERR_VALUE, "rc_gc_set_threshold(): thresholds must be >= 0, not "
                       "(%ld, %ld, %ld)", t0, t1, t2);
    struct gc_state *gc = ts->rt->gc;
    /* relaxed: settings, read at the next trigger. */
    rc_atomic_store_relaxed(&gc->threshold[0], t0);
    rc_atomic_store_relaxed(&gc->threshold[1], t1);
    rc_atomic_store_relaxed(&gc->threshold[2], t2);
    return 0;
}

int rc_gc_get_stats(rc_gc_gen_stats stats[RC_GC_GENERATIONS])
{
    struct thr_state *ts = attached_state("rc_gc_get_stats");
    if (ts == NULL)
        return -1;
    if (stats == NULL)
        return err_int(RC_ERR_TYPE, "rc_gc_get_stats() output must not be NULL");
    gc_local_finish_own();
    struct gc_state *gc = ts->rt->gc;
    pthread_mutex_lock(&gc->mu);
    memcpy(stats, gc->stats, sizeof gc->stats);
    pthread_mutex_unlock(&gc->mu);
    return 0;
}

int rc_gc_callback_add(rc_gc_callback cb, void *arg)
{
    struct thr_state *ts = attached_state("rc_gc_callback_add");
    if (ts == NULL)
        return -1;
    if (cb == NULL)
        return err_int(RC_ERR_TYPE, "rc_gc_callback_add() callback must not be NULL");
    struct gc_state *gc = ts->rt->gc;
    pthread_mutex_lock(&gc->mu);
    if (gc->ncallbacks == gc->cap_callbacks) {
        size_t cap = gc->cap_callbacks ? gc->cap_callbacks * 2 : 4;
        struct gc_callback *a = mem_realloc(gc->callbacks, cap * sizeof *a);
        if (a == NULL) {
            pthread_mutex_unlock(&gc->mu);
            return -1;
        }
        gc->callbacks = a;
        gc->cap_callbacks = cap;
    }
    gc->callbacks[gc->ncallbacks++] = (struct gc_callback){cb, arg};
    gc_local_settings_locked(gc);
    pthread_mutex_unlock(&gc->mu);
    return 0;
}

int rc_gc_callback_remove(rc_gc_callback cb, void *arg)
{
    struct thr_state *ts = attached_state("rc_gc_callback_remove");
    if (ts == NULL)
        return -1;
    struct gc_state *gc = ts->rt->gc;
    pthread_mutex_lock(&gc->mu);
    for (size_t i = 0; i < gc->ncallbacks; i++) {
        if (gc->callbacks[i].cb == cb && gc->callbacks[i].arg == arg) {
            memmove(&gc->callbacks[i], &gc->callbacks[i + 1],
                    (gc->ncallbacks - i - 1) * sizeof gc->callbacks[0]);
            gc->ncallbacks--;
            gc_local_settings_locked(gc);
            pthread_mutex_unlock(&gc->mu);
            return 0;
        }
    }
    pthread_mutex_unlock(&gc->mu);
    return err_int(RC_ERR_VALUE, "rc_gc_callback_remove(): callback not registered");
}

int rc_gc_set_debug(int flags)
{
    struct thr_state *ts = attached_state("rc_gc_set_debug");
    if (ts == NULL)
        return -1;
    if (flags & ~RC_GC_DEBUG_SAVEALL)
        return err_int(RC_ERR_VALUE, "rc_gc_set_debug(): unknown flags 0x%x (valid: "
                       "RC_GC_DEBUG_SAVEALL)", flags & ~RC_GC_DEBUG_SAVEALL);
    pthread_mutex_lock(&ts->rt->gc->mu);
    ts->rt->gc->debug = flags;
    gc_local_settings_locked(ts->rt->gc);
    pthread_mutex_unlock(&ts->rt->gc->mu);
    return 0;
}

int rc_gc_get_debug(void)
{
    struct thr_state *ts = attached_state("rc_gc_get_debug");
    if (ts == NULL)
        return -1;
    pthread_mutex_lock(&ts->rt->gc->mu);
    int d = ts->rt->gc->debug;
    pthread_mutex_unlock(&ts->rt->gc->mu);
    return d;
}

rc_object *rc_gc_garbage(void)
{
    struct thr_state *ts = attached_state("rc_gc_garbage");
    return ts != NULL ? ts->rt->gc->garbage : NULL;
}

int rc_gc_set_stress(long n)
{
    struct thr_state *ts = attached_state("rc_gc_set_stress");
    if (ts == NULL)
        return -1;
    if (n < 0)
        return err_int(RC_ERR_VALUE, "rc_gc_set_stress(): n must be >= 0, not %ld", n);
    struct gc_state *gc = ts->rt->gc;
    rc_atomic_store_relaxed(&gc->stress, n);   /* relaxed: a setting */
    ts->gct.report_at = 1;   /* others pick it up at their next report */
    if (gc->ops->settings_changed != NULL)
        gc->ops->settings_changed(ts->rt);
    return 0;
}

long rc_gc_get_stress(void)
{
    struct thr_state *ts = attached_state("rc_gc_get_stress");
    if (ts == NULL)
        return -1;
    return rc_atomic_load_relaxed(&ts->rt->gc->stress);   /* relaxed: a setting */
}

int rc_gc_get_verify(void)
{
    struct thr_state *ts = attached_state("rc_gc_get_verify");
    if (ts == NULL)
        return -1;
    return rc_atomic_load_relaxed(&ts->rt->gc->verify);   /* relaxed: a setting */
}

int rc_gc_set_verify(int level)
{
    struct thr_state *ts = attached_state("rc_gc_set_verify");
    if (ts == NULL)
        return -1;
    if (level != RC_GC_VERIFY_OFF && level != RC_GC_VERIFY_EVERY &&
        level != RC_GC_VERIFY_AMORTIZED)
        return err_int(RC_ERR_VALUE, "rc_gc_set_verify: level must be RC_GC_VERIFY_OFF (0), "
                       "RC_GC_VERIFY_EVERY (1) or RC_GC_VERIFY_AMORTIZED (2), not %d", level);
    rc_atomic_store_relaxed(&ts->rt->gc->verify, level);   /* relaxed: a setting */
    return 0;
}

/* A growable array of held references, built with the world stopped. */
struct objvec {
    rc_object **items;
    size_t n, cap;
    bool failed;
};

static void objvec_push_held(struct objvec *v, rc_object *o)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        rc_object **a = realloc(v->items, cap * sizeof *a);
        if (a == NULL) {
            v->failed = true;
            return;
        }
        v->items = a;
        v->cap = cap;
    }
    rc_incref(o);   /* an increment only: allowed while stopped */
    v->items[v->n++] = o;
}

/* After the restart: a new list of the held objects (dropping our holds). */
static rc_object *objvec_to_list(struct objvec *v)
{
    rc_object *list = v->failed ? NULL : rc_list_new();
    for (size_t i = 0; i < v->n; i++) {
        if (list != NULL && rc_list_append(list, v->items[i]) < 0) {
            rc_decref(list);
            list = NULL;
        }
        rc_decref(v->items[i]);
    }
    free(v->items);
    if (v->failed && list == NULL)
        err_nomem();
    return list;
}

struct referrers {
    rc_object *const *targets;
    size_t n;
    bool hit;
};

static int visit_is_target(rc_object *referent, void *arg)
{
    struct referrers *r = arg;
    for (size_t i = 0; i < r->n; i++)
        if (r->targets[i] == referent) {
            r->hit = true;
            return 1;
        }
    return 0;
}

struct referrers_walk {
    struct referrers r;
    struct objvec out;
};

static int collect_referrer(rc_object *o, void *arg)
{
    struct referrers_walk *rw = arg;
    rw->r.hit = false;
    o->ob_type->traverse(o, visit_is_target, &rw->r);
    if (rw->r.hit)
        objvec_push_held(&rw->out, o);
    return 0;
}

rc_object *rc_gc_get_referrers(rc_object *const *objs, size_t n)
{
    if (n > 0 && objs == NULL)
        return err_null(RC_ERR_TYPE, "rc_gc_get_referrers(): objs is NULL but n is %zu", n);
    for (size_t i = 0; i < n; i++)
        if (objs[i] == NULL)
            return err_null(RC_ERR_TYPE, "rc_gc_get_referrers(): objs[%zu] is NULL", i);
    struct thr_state *ts = stopping_state("rc_gc_get_referrers");
    if (ts == NULL)
        return NULL;
    struct referrers_walk rw = {{objs, n, false}, {NULL, 0, 0, false}};
    rc_stop_the_world();
    gc_walk_heap_stw(ts->rt, 0, GCL_PERMANENT, collect_referrer, &rw);
    rc_start_the_world();
    return objvec_to_list(&rw.out);
}

static int collect_object(rc_object *o, void *arg)
{
    objvec_push_held(arg, o);
    return 0;
}

rc_object *rc_gc_get_objects(int generation)
{
    if (generation < -1 || generation >= RC_GC_GENERATIONS)
        return err_null(RC_ERR_VALUE, "rc_gc_get_objects(): invalid generation %d "
                        "(valid: -1 for all, 0, 1, 2)", generation);
    struct thr_state *ts = stopping_state("rc_gc_get_objects");
    if (ts == NULL)
        return NULL;
    struct objvec v = {NULL, 0, 0, false};
    int first = generation < 0 ? 0 : generation;
    int last = generation < 0 ? RC_GC_GENERATIONS - 1 : generation;
    rc_stop_the_world();
    gc_walk_heap_stw(ts->rt, first, last, collect_object, &v);
    rc_start_the_world();
    return objvec_to_list(&v);
}

/* The world is stopped for the walk: o's contents are read without its
 * lock, and a referent another thread drops at that moment could be dead
 * by the time we counted it.  With the world stopped every referent is
 * held by o and alive when counted (objvec_push_held). */
rc_object *rc_gc_get_referents(rc_object *o)
{
    if (o == NULL)
        return err_null(RC_ERR_TYPE, "rc_gc_get_referents() argument must be an object, not NULL");
    if (!obj_is_gc(o))
        return rc_list_new();   /* atoms refer to nothing */
    struct thr_state *ts = stopping_state("rc_gc_get_referents");
    if (ts == NULL)
        return NULL;
    struct objvec v = {NULL, 0, 0, false};
    rc_stop_the_world();
    o->ob_type->traverse(o, collect_object, &v);
    rc_start_the_world();
    return objvec_to_list(&v);
}

/* ------------------------------------------------------------ freezing */

/* Set or clear RC_GC_OLD on every object of a list (world stopped: no
 * other writer of the bits).  Returns the number of objects. */
static long mark_old(struct gc_head *list, bool old)
{
    long n = 0;
    for (struct gc_head *g = list->next; g != list; g = g->next, n++) {
        rc_object *o = GC_HEAD_OBJ(g);
        uint8_t bits = obj_gc_bits(o);
        rc_atomic_store_relaxed(&o->ob_gc_bits,
                                (uint8_t)(old ? bits | RC_GC_OLD : bits & ~RC_GC_OLD));
    }
    return n;
}

/* Frozen objects leave generation 2: their deaths no longer count against
 * its growth (collector.c, long_lived_pending). */
static void freeze_owner(struct gcl_owner *ow, void *arg)
{
    mark_old(&ow->lists[RC_GC_GENERATIONS - 1], false);
    for (int i = 0; i < RC_GC_GENERATIONS; i++)
        gcl_splice(&ow->lists[GCL_PERMANENT], &ow->lists[i]);
}

/* Unfrozen objects join generation 2: they count as its growth.  A
 * collector with an old space gets them there. */
struct unfreeze {
    struct rc_runtime *rt;
    long added;
};

static void unfreeze_owner(struct gcl_owner *ow, void *arg)
{
    struct unfreeze *u = arg;
    struct gc_head *perm = &ow->lists[GCL_PERMANENT];
    u->added += mark_old(perm, true);
    if (u->rt->gcl.oldspace == NULL || ow->oldspace) {
        gcl_splice(&ow->lists[RC_GC_GENERATIONS - 1], perm);
        return;
    }
    while (!gcl_is_empty(perm)) {
        struct gc_head *g = perm->next;
        gcl_remove(g);
        gcl_append(gc_dest_list_stw(u->rt, g, RC_GC_GENERATIONS - 1), g);
    }
}

/* Freeze and unfreeze need the whole heap in the owners' lists. */
static void cancel_collector_work_stw(struct rc_runtime *rt)
{
    if (rt->gc->ops->cancel_stw != NULL)
        rt->gc->ops->cancel_stw(rt);
}

int rc_gc_freeze(void)
{
    struct thr_state *ts = stopping_state("rc_gc_freeze");
    if (ts == NULL)
        return -1;
    rc_stop_the_world();
    cancel_collector_work_stw(ts->rt);
    gcl_for_each_owner_stw(ts->rt, freeze_owner, NULL);
    rc_atomic_store_relaxed(&ts->rt->gc->young_count, 0);   /* relaxed: a trigger count */
    rc_start_the_world();
    return 0;
}

int rc_gc_unfreeze(void)
{
    struct thr_state *ts = stopping_state("rc_gc_unfreeze");
    if (ts == NULL)
        return -1;
    rc_stop_the_world();
    cancel_collector_work_stw(ts->rt);
    struct unfreeze u = {ts->rt, 0};
    gcl_for_each_owner_stw(ts->rt, unfreeze_owner, &u);
    rc_atomic_add_relaxed(&ts->rt->gc->long_lived_pending, u.added);   /* relaxed: a trigger count */
    rc_start_the_world();
    return 0;
}

static int count_one(rc_object *o, void *arg)
{
    (*(long *)arg)++;
    return 0;
}

long rc_gc_get_freeze_count(void)
{
    struct thr_state *ts = stopping_state("rc_gc_get_freeze_count");
    if (ts == NULL)
        return -1;
    long n = 0;
    rc_stop_the_world();
    gc_walk_heap_stw(ts->rt, GCL_PERMANENT, GCL_PERMANENT, count_one, &n);
    rc_start_the_world();
    return n;
}

int rc_gc_verify_heap(void)
{
    struct thr_state *ts = stopping_state("rc_gc_verify_heap");
    if (ts == NULL)
        return -1;
    rc_stop_the_world();
    int r = gc_verify_heap_stw(ts->rt, false);
    rc_start_the_world();
    return r;
}

/* ============================================================ testing */

unsigned long rc_testing_gc_pace_waits(void)
{
    struct thr_state *ts = rc_tls_state;
    /* relaxed: a counter. */
    return ts != NULL ? rc_atomic_load_relaxed(&ts->rt->gc->pace_waits) : 0;
}
