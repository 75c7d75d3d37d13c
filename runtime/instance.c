/* runtime/instance.c: user-defined types (rc_type_new) and their instances:
 * N slots, an optional finalizer (PEP 442, run by obj_dealloc), weak
 * references (weakref.c).
 *
 * Invariant: every slot holds a reference (None initially), or NULL after
 * the instance was cleared.  Thread rule: a type is immutable once
 * rc_type_new returns.  Slots (objects.h, rc_instance.slots) are safe to
 * race on, as lists are (docs/threads.md [thr.slots]).  A read takes a
 * reference without a lock (rc_slot_get says why that is safe) and falls
 * back to the instance's lock only when the value refuses a try-incref.  A
 * write stores under the instance's lock, except the owner's while its
 * slot bias lasts (thr_state.slot_bias: the owner stores without the lock
 * until another thread needs the lock on one of its instances); either
 * way it drops the old value last, marked RC_GC_SHARED first (ft modes).
 * gil mode: every thread is the owner and the GIL serialises writes.
 */
#define RCGC_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "borrow.h"
#include "lock.h"
#include "objects.h"

#define INSTANCE_MAX_SLOTS ((size_t)1 << 24)

static struct rc_instance *as_instance(rc_object *o)
{
    return (struct rc_instance *)o;
}

int rc_is_instance(rc_object *o)
{
    return o != NULL && (o->ob_type->flags & RC_TYPE_HEAP) != 0;
}

/* Empty every slot (to NULL) and drop what they held, for an instance that
 * lock-free readers may reach without a reference of their own (ft, it is
 * RC_GC_SHARED: borrowed from a container): slot by slot under its lock,
 * each value marked RC_GC_SHARED before it is dropped, as rc_slot_set
 * does, so a reader sees the value (alive, or refused by its try-incref
 * with its memory intact) or NULL.  Any other instance is reachable only
 * by the caller (dealloc, clear). */
static int slot_unbias(struct thr_state *ts, rc_object *o);
static void instance_clear(rc_object *o);

__attribute__((noinline)) static void instance_empty_shared(struct rc_instance *in)
{
    size_t n = instance_nslots(in);
    for (size_t i = 0; i < n; i++) {
        /* relaxed: an empty slot needs no lock (a writer that fills it
         * after this load writes after our emptying of it). */
        if (rc_atomic_load_relaxed(&in->slots[i]) == NULL)
            continue;
        obj_lock(&in->ob);
        /* relaxed: under the lock; readers that load NULL need nothing
         * more. */
        rc_object *v = rc_atomic_load_relaxed(&in->slots[i]);
        rc_atomic_store_relaxed(&in->slots[i], NULL);
        obj_unlock(&in->ob);
        if (v != NULL) {
            obj_mark_shared(v);
            rc_decref(v);   /* unlocked: may run object code */
        }
    }
}

static void instance_dealloc(rc_object *o)
{
    struct rc_instance *in = as_instance(o);
    size_t n = instance_nslots(in);
    if (RC_UNLIKELY(obj_gc_bits(o) & RC_GC_SHARED)) {
        instance_empty_shared(in);
    } else {
        /* Nobody else reaches a dying instance that was never shared, and
         * the slots die with it: no need to empty them first. */
        for (size_t i = 0; i < n; i++)
            rc_decref(rc_atomic_load_relaxed(&in->slots[i]));   /* relaxed: ours */
    }
    obj_free(o);
}

static int instance_traverse(rc_object *o, rc_visit_fn visit, void *arg)
{
    struct rc_instance *in = as_instance(o);
    size_t n = instance_nslots(in);
    for (size_t i = 0; i < n; i++) {
        /* relaxed: the collector runs with the world stopped. */
        rc_object *v = rc_atomic_load_relaxed(&in->slots[i]);
        if (v != NULL) {
            int r = visit(v, arg);
            if (r != 0)
                return r;
        }
    }
    return 0;
}

int instance_clear_live(rc_object *o)
{
    struct rc_instance *in = as_instance(o);
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL || ts->tid == RC_TID_GIL) {
        instance_clear(o);   /* gil mode: the GIL excludes everyone */
        return 0;
    }
    /* Other threads may be writing and reading the slots: empty them as a
     * locked writer would (rc_slot_set), each value marked before it is
     * dropped, after ending the owner's bias (a biased owner writes
     * without the lock).  A detached caller cannot stop the world: then
     * nothing is cleared (slot_unbias set the error). */
    if (slot_unbias(ts, o) < 0)
        return -1;
    instance_empty_shared(in);
    return 0;
}

/* The type's clear hook: the collector's garbage and rc_runtime_free's
 * immortals (rc_clear on a live instance goes through
 * instance_clear_live).  No other thread writes them, and none reads
 * them: a borrow ends at a stop, and the collector clears its garbage
 * only after a stop that no thread waited out online (gc/garbage.c, phase
 * 3), so no thread holds a borrowed pointer into it; no lock, and the
 * values are not marked (an int only garbage held is freed at once, not
 * through QSBR). */
static void instance_clear(rc_object *o)
{
    struct rc_instance *in = as_instance(o);
    size_t n = instance_nslots(in);
    for (size_t i = 0; i < n; i++) {
        /* relaxed: nobody else reaches the instance. */
        rc_object *v = rc_atomic_load_relaxed(&in->slots[i]);
        rc_atomic_store_relaxed(&in->slots[i], NULL);   /* unlink first: the decref may run code */
        rc_decref(v);
    }
}

rc_type *rc_type_new(const char *name, size_t nslots, rc_finalize_fn finalize)
{
    return rc_type_new_ex(name, nslots, finalize, 0);
}

rc_type *rc_type_new_ex(const char *name, size_t nslots, rc_finalize_fn finalize,
                        unsigned options)
{
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL)
        return err_no_thread_null("rc_type_new");
    if ((options & ~RC_TYPE_NEW_UNHASHABLE) != 0)
        return err_null(RC_ERR_VALUE, "rc_type_new_ex(): unknown options 0x%x (valid: "
                        "RC_TYPE_NEW_UNHASHABLE)", options & ~RC_TYPE_NEW_UNHASHABLE);
    if (name == NULL)
        return err_null(RC_ERR_TYPE, "rc_type_new() name must be a string, not NULL");
    if (nslots > INSTANCE_MAX_SLOTS)
        return err_null(RC_ERR_VALUE, "rc_type_new(): %zu slots is more than the maximum %zu",
                        nslots, INSTANCE_MAX_SLOTS);
    /* Read by every thread that touches an instance (flags, traverse,
     * ...), written by none: on lines of its own (mem_calloc_lines), or a
     * neighbouring object's writes make every reader miss. */
    rc_type *t = mem_calloc_lines(sizeof *t);
    char *copy = t != NULL ? mem_alloc(strlen(name) + 1) : NULL;
    if (copy == NULL) {
        mem_free(t);
        return NULL;
    }
    strcpy(copy, name);
    t->name = copy;
    /* rc_instance_new sets every field. */
    t->flags = RC_TYPE_GC | RC_TYPE_HEAP | RC_TYPE_WEAKREFABLE | RC_TYPE_FILLS_BODY |
               ((options & RC_TYPE_NEW_UNHASHABLE) != 0 ? RC_TYPE_UNHASHABLE : 0);
    t->nslots = (uint32_t)nslots;
    t->basicsize = sizeof(struct rc_instance) + nslots * sizeof(rc_object *);
    t->dealloc = instance_dealloc;
    t->traverse = instance_traverse;
    t->clear = instance_clear;
    t->finalize = finalize;
    struct rc_runtime *rt = ts->rt;
    pthread_mutex_lock(&rt->mu);
    t->next_heap = rt->heap_types;
    rt->heap_types = t;
    pthread_mutex_unlock(&rt->mu);
    return t;
}

rc_object *rc_instance_new(rc_type *type)
{
    if (type == NULL)
        return err_null(RC_ERR_TYPE, "rc_instance_new() argument must be a type, not NULL");
    if (!(type->flags & RC_TYPE_HEAP))
        return err_null(RC_ERR_TYPE,
                        "rc_instance_new() argument must be a type made by rc_type_new, not %s",
                        type->name);
    rc_object *o = obj_alloc(type, type->basicsize);
    if (o == NULL)
        return NULL;
    struct rc_instance *in = as_instance(o);
    for (size_t i = 0, n = type->nslots; i < n; i++)
        /* relaxed: unpublished; immortal, no count to take. */
        rc_atomic_store_relaxed(&in->slots[i], rc_none());
    return o;
}

__attribute__((noinline, cold)) static int slot_error(const char *fn, rc_object *o, size_t index)
{
    if (!rc_is_instance(o))
        return err_type_int(fn, "an instance", o);
    return err_int(RC_ERR_INDEX, "%s(): slot %zu out of range (%s has %zu slots)", fn, index,
                   o->ob_type->name, instance_nslots(as_instance(o)));
}

/* 0 if o is an instance with a slot index, else -1 with an error. */
static inline __attribute__((always_inline)) int check_slot(const char *fn, rc_object *o,
                                                            size_t index)
{
    if (RC_LIKELY(rc_is_instance(o) && index < instance_nslots(as_instance(o))))
        return 0;
    return slot_error(fn, o, index);
}

/* Clear the slot bias of o's owner, if o has an owner other than the
 * caller and its bias is still on: from then on it writes its instances'
 * slots under their lock too, so the caller may rely on the lock.  The
 * bias is cleared with the world stopped, where the owner cannot be in the
 * middle of a biased write (no safepoint runs inside one).  Once per
 * owner thread, ever.  The stop keeps the caller online for QSBR, so its
 * borrowed pointers stay valid (stw_stop_online).  Runs no object code and
 * holds no object lock. */
__attribute__((noinline)) static int slot_unbias(struct thr_state *ts, rc_object *o)
{
    if (RC_UNLIKELY(!ts->attached))
        return err_int(RC_ERR_RUNTIME, "instance slots used by a detached thread "
                                       "(call rc_attach first)");
    /* acquire: pairs with ref_merge's release store of 0, so that the
     * owner's earlier unlocked slot writes are visible to our locked ones.
     * A stale owner is another thread's id (or dead, below) all the same.
     * ob_tid changes to 0 when the counts are merged (no owner writes
     * biased after that) and to the finalizer's thread when a finalizer
     * resurrects o, after RC_GC_FINALIZED is set, which keeps every later
     * write off the biased path (rc_slot_set). */
    uintptr_t owner = rc_atomic_load_acquire(&o->ob_tid);
    if (owner == ts->tid || owner == RC_TID_NONE)
        return 0;   /* ours (no other biased writer), or nobody's */
    uintptr_t *seen = &ts->unbiased_seen[owner % 8];
    if (*seen == owner)
        return 0;   /* found without a bias before (ordered by rt->mu then) */
    struct rc_runtime *rt = ts->rt;
    for (int stopped = 0;; stopped = 1) {
        /* Find the owner among the live threads (a dead object's ob_tid
         * may be a link, stw_defer_dealloc, and matches none). */
        pthread_mutex_lock(&rt->mu);
        struct thr_state *t = rt->threads;
        while (t != NULL && t->tid != owner)
            t = t->next;
        bool biased = t != NULL && rc_atomic_load_relaxed(&t->slot_bias);
        if (biased && (stopped || ts->holds_stw)) {
            rc_atomic_store_relaxed(&t->slot_bias, false);
            rt->slot_unbiases++;
            biased = false;
        }
        pthread_mutex_unlock(&rt->mu);
        if (stopped)
            stw_start(rt, ts);
        if (!biased) {
            *seen = owner;   /* no bias now, none ever again */
            return 0;
        }
        if (stw_stop_online(rt, ts) < 0)
            rc_fatal("slot_unbias: cannot stop the world: %s", rc_error_message());
    }
}

/* rc_slot_get's slow path: v (loaded from the slot) is immortal, saturated,
 * another thread's, or its owner's count is 0 (dying). */
__attribute__((noinline)) static rc_object *slot_get_slow(struct rc_instance *in, size_t index,
                                                          rc_object *v)
{
    struct thr_state *ts = rc_tls_state;
    if (RC_UNLIKELY(ts == NULL))
        return err_no_thread_null("rc_slot_get");
    RC_DEBUG_CHECK_ATTACHED(ts, "rc_slot_get");
    if (ref_try_incref(v))
        return v;
    /* v was dying, or it is another thread's object that nobody but its
     * owner ever counted (ob_ref_shared 0, which ref_try_incref refuses).
     * Under the lock the slot's value is alive: the slot holds a
     * reference, and a writer drops what it replaces only after unlocking,
     * once the owner's bias no longer lets it write without the lock.
     * Waiting attached, as borrowed reads do (borrow.h), and stopping the
     * world online if at all: rc_slot_get ends no borrow (docs/threads.md
     * [thr.borrow]).  gil mode never gets here (every live value there is
     * the caller's, local count > 0). */
    if (slot_unbias(ts, &in->ob) < 0)
        return NULL;
    obj_lock_attached(&in->ob);
    /* relaxed: under the lock. */
    v = rc_atomic_load_relaxed(&in->slots[index]);
    if (v == NULL)
        v = rc_none();
    rc_incref(v);
    /* Let the next lock-free read of it succeed (ob_ref_shared 0 is
     * refused; list.c: list_get_locked). */
    ref_set_maybe_weakref(v);
    obj_unlock(&in->ob);
    return v;
}

/* Lock-free in every mode.  The load sees the value that some write left
 * in the slot.  If another thread's write replaced it since, the writer
 * marked it RC_GC_SHARED before dropping its reference, so its memory
 * outlives this call (qsbr.h: we run no safepoint here).  The reference is
 * taken only on a live object: on the owner's path the object is the
 * calling thread's and its local count is above 0, which only this thread
 * could lower (a count another thread dropped is merged by this thread, at
 * a safepoint, and the merge will see our increment); otherwise
 * ref_try_incref refuses a dying object.  The read takes effect at the
 * load: the value was in the slot then, and it is alive when counted. */
rc_object *rc_slot_get(rc_object *o, size_t index)
{
    if (RC_UNLIKELY(check_slot("rc_slot_get", o, index) < 0))
        return NULL;
    obj_escape_check(o);   /* another thread's instance: internal.h */
    struct rc_instance *in = as_instance(o);
    /* acquire: pairs with the writer's release store (rc_slot_set): the
     * value's contents are visible. */
    rc_object *v = rc_atomic_load_acquire(&in->slots[index]);
    if (RC_UNLIKELY(v == NULL))
        return rc_none();   /* cleared by the collector or rc_clear; immortal */
    /* relaxed: as in rc_incref. */
    uint32_t local = rc_atomic_load_relaxed(&v->ob_ref_local);
    if (RC_LIKELY(local < RC_REF_LOCAL_MAX)) {
        if (RC_LIKELY(local != 0 && rc_atomic_load_relaxed(&v->ob_tid) == rc_tls_tid)) {
            /* The owner's path (every value in gil mode): alive, not
             * saturated, ours. */
            rc_atomic_store_relaxed(&v->ob_ref_local, local + 1);
            return v;
        }
    } else if (local == RC_REF_IMMORTAL) {
        return v;   /* None, small ints, ...: nothing to count */
    }
    return slot_get_slow(in, index, v);
}

/* A borrowed read (docs/threads.md [thr.borrow]): no count written, no
 * lock, in every mode.  The value was in the slot at the load; if a writer
 * removes it after that, the writer marked it RC_GC_SHARED before dropping
 * it (and a dying shared instance marks what it empties), so its memory
 * lasts until the caller's next quiescent state, as a borrowed list item's
 * does.  ft: the value is also marked here (a load once it is), so that
 * every object a borrowed read hands out is RC_GC_SHARED, as a container's
 * items are: then it also survives its death by any other path (a
 * collection that finds it garbage) while the borrower stays online, as
 * it does when it waits out another thread's stop inside rc_slot_get
 * (slot_unbias).  Marking a value that was removed meanwhile writes a bit
 * that is already set, into memory still retired, not freed. */
rc_object *rc_slot_get_borrowed(rc_object *o, size_t index)
{
    if (RC_UNLIKELY(check_slot("rc_slot_get_borrowed", o, index) < 0))
        return NULL;
    obj_escape_check(o);   /* another thread's instance: internal.h */
    /* acquire: pairs with the writer's release store: the value's contents
     * are visible. */
    _Atomic(rc_object *) *slot = &as_instance(o)->slots[index];
    rc_object *v = rc_atomic_load_acquire(slot);
    /* Another thread's object that it may collect on its own is marked
     * before we hand it out (internal.h); it may have left the slot and
     * died while we waited, so the slot is read again until it holds a
     * value that needs no mark.  acquire: as above. */
    while (RC_UNLIKELY(v != NULL && obj_escape_needed(v))) {
        obj_escape_slow(v);
        v = rc_atomic_load_acquire(slot);
    }
    if (RC_UNLIKELY(v == NULL))
        return rc_none();
    if (rc_tls_tid != RC_TID_GIL)
        obj_mark_shared(v);
    return v;
}

/* rc_slot_set's path when the caller may not write without the lock: the
 * old value (NULL if the slot was empty), or NULL with an error (detached
 * caller) and *failed set, nothing stored. */
__attribute__((noinline)) static rc_object *slot_set_locked(struct thr_state *ts,
                                                             struct rc_instance *in,
                                                             size_t index, rc_object *value,
                                                             bool *failed)
{
    *failed = false;
    if (slot_unbias(ts, &in->ob) < 0) {   /* before the lock: it may stop the world */
        *failed = true;
        return NULL;
    }
    obj_lock(&in->ob);
    /* relaxed: under the lock. */
    rc_object *old = rc_atomic_load_relaxed(&in->slots[index]);
    /* release: pairs with rc_slot_get's acquire load. */
    rc_atomic_store_release(&in->slots[index], value);
    obj_unlock(&in->ob);
    return old;
}

int rc_slot_set(rc_object *o, size_t index, rc_object *value)
{
    if (RC_UNLIKELY(check_slot("rc_slot_set", o, index) < 0))
        return -1;
    if (RC_UNLIKELY(value == NULL))
        return err_int(RC_ERR_TYPE, "rc_slot_set() value must be an object, not NULL");
    struct rc_instance *in = as_instance(o);
    rc_object *old;
    if (RC_LIKELY(slot_write_biased(o))) {
        rc_incref(value);
        /* Ours and biased (every write in gil mode): no other thread
         * writes these slots, and none holds the lock to read them (it
         * would have cleared our bias first, with the world stopped, and
         * no safepoint runs between the check above and the store). */
        old = rc_atomic_load_relaxed(&in->slots[index]);
        /* release: pairs with rc_slot_get's acquire load. */
        rc_atomic_store_release(&in->slots[index], value);
    } else {
        if (RC_UNLIKELY(rc_tls_state == NULL)) {
            err_no_thread_null("rc_slot_set");
            return -1;
        }
        obj_escape_check(o);   /* another thread's instance: internal.h */
        rc_incref(value);
        bool failed;
        old = slot_set_locked(rc_tls_state, in, index, value, &failed);
        if (RC_UNLIKELY(failed)) {
            rc_decref(value);
            return -1;
        }
    }
    /* relaxed: as in rc_decref. */
    if (old != NULL && rc_atomic_load_relaxed(&old->ob_ref_local) != RC_REF_IMMORTAL) {
        /* A reader may have loaded old and not counted it yet: keep its
         * memory until that reader's next quiescent state (ft modes; gil
         * mode has no lock-free reader). */
        if (rc_tls_tid != RC_TID_GIL)
            obj_mark_shared(old);
        rc_decref(old);   /* unlocked, last (Py_SETREF): may run object code */
    }
    return 0;
}

long rc_instance_nslots(rc_object *o)
{
    if (!rc_is_instance(o))
        return err_type_int("rc_instance_nslots", "an instance", o);
    return (long)instance_nslots(as_instance(o));
}
