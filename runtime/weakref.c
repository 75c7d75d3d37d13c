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

static struct rc_weakref **weaklist_of(rc_object *target)
{
    return (struct rc_weakref **)((char *)target + target->ob_type->weaklist_offset);
}

/* A target's list head.  Written under weakref_mu; read under it, except
 * by the target's own death (weaklist_empty), hence atomic accesses
 * (relaxed: weakref_mu or the refcount orders everything else). */
static inline struct rc_weakref *head_load(struct rc_weakref **head)
{
    return __atomic_load_n(head, __ATOMIC_RELAXED);
}

static inline void head_store(struct rc_weakref **head, struct rc_weakref *wr)
{
    __atomic_store_n(head, wr, __ATOMIC_RELAXED);
}

/* Whether a dying target (count 0) has no weakrefs, without the lock: most
 * objects never get one, and the lock is one for the whole runtime.  Sound
 * because no weakref to it can be made any more (making one needs a
 * reference), every weakref made before was made by a thread whose
 * reference was dropped before the count reached 0 (release/acquire on the
 * count), and a concurrent weakref_dealloc only removes entries. */
static inline bool weaklist_empty(rc_object *target)
{
    return head_load(weaklist_of(target)) == NULL;
}

bool weakref_any_stw(rc_object *o)
{
    RC_ASSERT_STW("weakref_any_stw");
    return (o->ob_type->flags & RC_TYPE_WEAKREFABLE) && !weaklist_empty(o);
}

int rc_is_weakref(rc_object *o)
{
    return obj_is(o, &rc_weakref_type);
}

/* Take wr out of its target's list; weakref_mu held. */
static void detach_locked(struct rc_weakref *wr)
{
    if (wr->target != NULL) {
        if (wr->prev != NULL)
            wr->prev->next = wr->next;
        else
            head_store(weaklist_of(wr->target), wr->next);
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
    for (struct rc_weakref *wr = head_load(weaklist_of(o)); wr != NULL; wr = wr->next)
        if (wr->callback != NULL && !is_garbage(&wr->ob))
            return true;
    return false;
}

bool weakref_any_locked(rc_object *o)
{
    return (o->ob_type->flags & RC_TYPE_WEAKREFABLE) && !weaklist_empty(o);
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
    pthread_mutex_t *mu = &rc_rt->weakref_mu;
    pthread_mutex_lock(mu);
    struct rc_weakref **head = weaklist_of(target);
    wr->target = target;
    wr->prev = NULL;
    wr->next = head_load(head);
    if (wr->next != NULL)
        wr->next->prev = wr;
    head_store(head, wr);
    pthread_mutex_unlock(mu);
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
    if (weaklist_empty(o))
        return;
    struct rc_weakref **head = weaklist_of(o);
    pthread_mutex_t *mu = &rc_rt->weakref_mu;
    struct rc_weakref *run = NULL, **tail = &run;
    pthread_mutex_lock(mu);
    struct rc_weakref *wr = head_load(head);
    head_store(head, NULL);
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
    pthread_mutex_unlock(mu);
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
    if (weaklist_empty(o))
        return;
    pthread_mutex_t *mu = &rc_rt->weakref_mu;
    pthread_mutex_lock(mu);
    weakref_detach_for_gc_locked(o, cbs, n, is_garbage);
    pthread_mutex_unlock(mu);
}

void weakref_detach_for_gc_locked(rc_object *o, struct weakref_cb **cbs, size_t *n,
                                  bool (*is_garbage)(rc_object *))
{
    if (weaklist_empty(o))
        return;
    struct rc_weakref **head = weaklist_of(o);
    struct rc_weakref *wr = head_load(head);
    head_store(head, NULL);
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
