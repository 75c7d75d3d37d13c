/* runtime/weakref.c: weak references with callbacks.
 *
 * A weakref holds a borrowed pointer to its target and sits in the target's
 * weakref list; both are under rt->weakref_mu (a leaf lock: no object code
 * runs under it).  The target's death (obj_dealloc -> weakref_clear_target)
 * detaches every weakref under the lock, then runs the callbacks of those
 * weakrefs it could still take a reference to, outside the lock, most
 * recent first (as CPython).  rc_weakref_get takes a reference to the
 * target under the lock only if the target is not already dying
 * (ref_try_incref); targets and weakrefs are marked MAYBE_WEAKREF so that
 * their deaths are decided by a compare-and-swap that try_incref respects.
 */
#define RCGC_BUILDING 1
#include <stdlib.h>
#include "objects.h"
#include "weakref.h"

/* The weakref table (rc_runtime.weak): a target's list head lives there,
 * not in the target, so that the objects that never get a weakref (nearly
 * all) carry no word for one.  ob_weak says whether a target has an entry:
 * set with the entry's insertion, cleared with its removal, both under
 * weakref_mu; the list functions below keep an entry exactly while its
 * list is not empty.  Addresses hash by a multiplicative mix (blocks are
 * 16-byte aligned, so the low bits carry nothing); deletion shifts the
 * entries after it back, so no tombstones. */
#define WEAK_MIN_CAP 16

/* The entry of target, or NULL; weakref_mu held. */
static struct weak_entry *weak_find(struct rc_runtime *rt, rc_object *target)
{
    if (rt->weak_cap == 0)
        return NULL;
    for (size_t i = weakref_table_slot(target, rt->weak_cap);; i = (i + 1) & (rt->weak_cap - 1)) {
        struct weak_entry *e = &rt->weak[i];
        if (e->target == target)
            return e;
        if (e->target == NULL)
            return NULL;
    }
}

/* Move the entries into a new array of cap entries (a power of two, more
 * than twice the entries); a, zeroed, is the new array.  weakref_mu held. */
static void weak_rehash(struct rc_runtime *rt, struct weak_entry *a, size_t cap)
{
    for (size_t j = 0; j < rt->weak_cap; j++) {
        rc_object *t = rt->weak[j].target;
        if (t == NULL)
            continue;
        size_t i = weakref_table_slot(t, cap);
        while (a[i].target != NULL)
            i = (i + 1) & (cap - 1);
        a[i] = rt->weak[j];
    }
    mem_free(rt->weak);
    rt->weak = a;
    rt->weak_cap = cap;
}

/* Room for one more entry (the table at most half full after it): 0, or
 * -1 with a MemoryError.  weakref_mu held. */
static int weak_reserve(struct rc_runtime *rt)
{
    if (2 * (rt->weak_n + 1) <= rt->weak_cap)
        return 0;
    size_t cap = rt->weak_cap ? 2 * rt->weak_cap : WEAK_MIN_CAP;
    struct weak_entry *a = mem_calloc(cap, sizeof *a);
    if (a == NULL)
        return -1;
    weak_rehash(rt, a, cap);
    return 0;
}

/* After a removal: a table down to an eighth full shrinks to half its
 * size (a quarter full then), so a burst of targets does not keep its
 * memory, and each rehash under the lock stays proportional to the
 * entries.  Best effort: without memory it stays as it is. */
static void weak_maybe_shrink(struct rc_runtime *rt)
{
    if (rt->weak_cap <= WEAK_MIN_CAP || 8 * rt->weak_n >= rt->weak_cap)
        return;
    /* Not inside a stop (the collector's phase 1 detaches weakrefs there):
     * no allocation while the world waits.  A later removal shrinks it. */
    struct thr_state *ts = rc_tls_state;
    if (ts != NULL && ts->holds_stw)
        return;
    size_t cap = rt->weak_cap / 2;
    struct weak_entry *a = mem_try_calloc(cap, sizeof *a);
    if (a != NULL)
        weak_rehash(rt, a, cap);
}

/* Add target's entry (none yet, room reserved); weakref_mu held. */
static void weak_insert(struct rc_runtime *rt, rc_object *target, struct rc_weakref *head)
{
    size_t i = weakref_table_slot(target, rt->weak_cap);
    while (rt->weak[i].target != NULL)
        i = (i + 1) & (rt->weak_cap - 1);
    rt->weak[i] = (struct weak_entry){target, head};
    rt->weak_n++;
    rc_atomic_store_relaxed(&target->ob_weak, 1);
}

/* Remove entry e (its list is empty now); weakref_mu held.  Every entry
 * after it in its run whose home slot does not lie between the hole and
 * itself moves back into the hole. */
static void weak_remove(struct rc_runtime *rt, struct weak_entry *e)
{
    size_t mask = rt->weak_cap - 1, hole = (size_t)(e - rt->weak);
    /* release: see weakref_listed.  The last access to the target by this
     * thread, which may have found it through a weakref while its owner
     * deallocates it. */
    rc_atomic_store_release(&e->target->ob_weak, 0);
    for (size_t i = (hole + 1) & mask; rt->weak[i].target != NULL; i = (i + 1) & mask) {
        size_t home = weakref_table_slot(rt->weak[i].target, rt->weak_cap);
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            rt->weak[hole] = rt->weak[i];
            hole = i;
        }
    }
    rt->weak[hole].target = NULL;
    rt->weak[hole].head = NULL;
    rt->weak_n--;
    weak_maybe_shrink(rt);
}

/* Take target's whole list out of the table (its weakrefs still point at
 * it); weakref_mu held. */
static struct rc_weakref *weak_take(struct rc_runtime *rt, rc_object *target)
{
    struct weak_entry *e = weak_find(rt, target);
    if (e == NULL)
        return NULL;
    struct rc_weakref *wr = e->head;
    weak_remove(rt, e);
    return wr;
}

int rc_is_weakref(rc_object *o)
{
    return obj_is(o, &rc_weakref_type);
}

/* Take wr out of its target's list; weakref_mu held. */
static void detach_locked(struct rc_weakref *wr)
{
    if (wr->target != NULL) {
        if (wr->prev != NULL) {
            wr->prev->next = wr->next;
        } else {
            struct rc_runtime *rt = rc_rt;
            struct weak_entry *e = weak_find(rt, wr->target);
            if (wr->next != NULL)
                e->head = wr->next;
            else
                weak_remove(rt, e);
        }
        if (wr->next != NULL)
            wr->next->prev = wr->prev;
        wr->target = NULL;
        wr->prev = wr->next = NULL;
    }
}

static void weakref_dealloc(rc_object *o)
{
    pthread_mutex_t *mu = &rc_rt->weakref_mu;
    pthread_mutex_lock(mu);
    detach_locked((struct rc_weakref *)o);
    pthread_mutex_unlock(mu);
    obj_free(o);
}

void weakref_detach_garbage(rc_object *o)
{
    pthread_mutex_t *mu = &rc_rt->weakref_mu;
    pthread_mutex_lock(mu);
    detach_locked((struct rc_weakref *)o);
    pthread_mutex_unlock(mu);
}

void weakref_lock(void)
{
    pthread_mutex_lock(&rc_rt->weakref_mu);
}

void weakref_unlock(void)
{
    pthread_mutex_unlock(&rc_rt->weakref_mu);
}

void weakref_detach_garbage_locked(rc_object *o)
{
    detach_locked((struct rc_weakref *)o);
}

bool weakref_callback_locked(rc_object *o, bool (*is_garbage)(rc_object *))
{
    struct weak_entry *e = weak_find(rc_rt, o);
    for (struct rc_weakref *wr = e != NULL ? e->head : NULL; wr != NULL; wr = wr->next)
        if (wr->callback != NULL && !is_garbage(&wr->ob))
            return true;
    return false;
}

/* A weakref holds no strong reference, but it is tracked (as in CPython)
 * so the collector can tell a weakref that is itself garbage (no callback)
 * from one that is reachable. */
static int weakref_traverse(rc_object *o, rc_visit_fn visit, void *arg)
{
    return 0;
}

static void weakref_clear(rc_object *o)
{
}

const rc_type rc_weakref_type = {
    .name = "weakref",
    .flags = RC_TYPE_GC | RC_TYPE_FILLS_BODY,   /* rc_weakref_new sets every field */
    .basicsize = sizeof(struct rc_weakref),
    .dealloc = weakref_dealloc,
    .traverse = weakref_traverse,
    .clear = weakref_clear,
};

rc_object *rc_weakref_new(rc_object *target, rc_weakref_callback callback, void *arg)
{
    if (target == NULL)
        return err_null(RC_ERR_TYPE, "rc_weakref_new() target must be an object, not NULL");
    if (!(target->ob_type->flags & RC_TYPE_WEAKREFABLE))
        return err_null(RC_ERR_TYPE, "cannot create weak reference to '%s' object",
                        target->ob_type->name);
    rc_object *o = obj_alloc(&rc_weakref_type, sizeof(struct rc_weakref));
    if (o == NULL)
        return NULL;
    struct rc_weakref *wr = (struct rc_weakref *)o;
    wr->callback = callback;
    wr->arg = arg;
    /* Another thread's target: its weakref list changes (internal.h). */
    obj_escape_check(target);
    ref_set_maybe_weakref(target);
    ref_set_maybe_weakref(o);   /* weakref_clear_target try_increfs it */
    struct rc_runtime *rt = rc_rt;
    pthread_mutex_lock(&rt->weakref_mu);
    struct weak_entry *e = weak_find(rt, target);
    if (e == NULL && weak_reserve(rt) < 0) {
        pthread_mutex_unlock(&rt->weakref_mu);
        wr->target = NULL;   /* in no list: its dealloc has nothing to detach */
        wr->prev = wr->next = NULL;
        rc_decref(o);
        return NULL;         /* MemoryError, from weak_reserve */
    }
    wr->target = target;
    wr->prev = NULL;
    wr->next = e != NULL ? e->head : NULL;
    if (wr->next != NULL)
        wr->next->prev = wr;
    if (e != NULL)
        e->head = wr;
    else
        weak_insert(rt, target, wr);
    pthread_mutex_unlock(&rt->weakref_mu);
    return o;
}

rc_object *rc_weakref_get(rc_object *o)
{
    if (!rc_is_weakref(o))
        return err_type_null("rc_weakref_get", "a weakref", o);
    obj_escape_check(o);   /* another thread's weakref: internal.h */
    struct rc_weakref *wr = (struct rc_weakref *)o;
    pthread_mutex_t *mu = &rc_rt->weakref_mu;
    pthread_mutex_lock(mu);
    rc_object *t = wr->target;
    if (t != NULL && !ref_try_incref(t))
        t = NULL;   /* dying: its weakref_clear_target is waiting for the lock */
    pthread_mutex_unlock(mu);
    return t;
}

void weakref_clear_target(rc_object *o)
{
    if (!weakref_listed(o))
        return;
    struct rc_runtime *rt = rc_rt;
    struct rc_weakref *run = NULL, **tail = &run;
    pthread_mutex_lock(&rt->weakref_mu);
    struct rc_weakref *wr = weak_take(rt, o);
    while (wr != NULL) {
        struct rc_weakref *next = wr->next;
        wr->target = NULL;
        wr->prev = wr->next = NULL;
        /* A weakref that is itself dying gets no callback (CPython's rule);
         * its deallocation finds target == NULL and leaves the list. */
        if (wr->callback != NULL && ref_try_incref(&wr->ob)) {
            *tail = wr;
            tail = &wr->next;
        }
        wr = next;
    }
    pthread_mutex_unlock(&rt->weakref_mu);
    /* Outside the lock: the callbacks may do anything.  `next` links only
     * weakrefs we hold a reference to. */
    while (run != NULL) {
        struct rc_weakref *next = run->next;
        run->next = NULL;
        run->callback(&run->ob, run->arg);
        rc_decref(&run->ob);
        run = next;
    }
}

void weakref_detach_for_gc(rc_object *o, struct weakref_cb **cbs, size_t *n,
                           bool (*is_garbage)(rc_object *))
{
    /* The world is stopped: nobody makes or drops a weakref meanwhile. */
    if (!weakref_listed(o))
        return;
    pthread_mutex_t *mu = &rc_rt->weakref_mu;
    pthread_mutex_lock(mu);
    weakref_detach_for_gc_locked(o, cbs, n, is_garbage);
    pthread_mutex_unlock(mu);
}

void weakref_detach_for_gc_locked(rc_object *o, struct weakref_cb **cbs, size_t *n,
                                  bool (*is_garbage)(rc_object *))
{
    if (!weakref_listed(o))
        return;
    struct rc_weakref *wr = weak_take(rc_rt, o);
    while (wr != NULL) {
        struct rc_weakref *next = wr->next;
        wr->target = NULL;
        wr->prev = wr->next = NULL;
        if (wr->callback != NULL && !is_garbage(&wr->ob) && ref_try_incref(&wr->ob)) {
            struct weakref_cb *a = realloc(*cbs, (*n + 1) * sizeof *a);
            if (a == NULL)
                rc_fatal("collector: out of memory recording a weakref callback");
            a[*n] = (struct weakref_cb){&wr->ob, wr->callback, wr->arg};
            *cbs = a;
            (*n)++;
        }
        wr = next;
    }
}
