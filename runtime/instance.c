/* runtime/instance.c: user-defined types (rc_type_new) and their instances:
 * N slots, an optional finalizer (PEP 442, run by obj_dealloc), weak
 * references (weakref.c).
 *
 * Invariant: every slot holds a reference (None initially), or NULL after
 * the instance was cleared.  Thread rule: a type is immutable once
 * rc_type_new returns; an instance's slots are written by one thread at a
 * time (the caller's responsibility until container locking lands).
 */
#define RCGC_BUILDING 1
#include <stdlib.h>
#include <string.h>

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

static void instance_dealloc(rc_object *o)
{
    struct rc_instance *in = as_instance(o);
    for (size_t i = 0; i < in->nslots; i++)
        rc_decref(in->slots[i]);
    obj_free(o);
}

static int instance_traverse(rc_object *o, rc_visit_fn visit, void *arg)
{
    struct rc_instance *in = as_instance(o);
    for (size_t i = 0; i < in->nslots; i++) {
        if (in->slots[i] != NULL) {
            int r = visit(in->slots[i], arg);
            if (r != 0)
                return r;
        }
    }
    return 0;
}

static void instance_clear(rc_object *o)
{
    struct rc_instance *in = as_instance(o);
    for (size_t i = 0; i < in->nslots; i++) {
        rc_object *v = in->slots[i];
        in->slots[i] = NULL;   /* unlink first: the decref may run code */
        rc_decref(v);
    }
}

rc_type *rc_type_new(const char *name, size_t nslots, rc_finalize_fn finalize)
{
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL)
        return err_no_thread_null("rc_type_new");
    if (name == NULL)
        return err_null(RC_ERR_TYPE, "rc_type_new() name must be a string, not NULL");
    if (nslots > INSTANCE_MAX_SLOTS)
        return err_null(RC_ERR_VALUE, "rc_type_new(): %zu slots is more than the maximum %zu",
                        nslots, INSTANCE_MAX_SLOTS);
    rc_type *t = mem_calloc(1, sizeof *t);
    char *copy = t != NULL ? mem_alloc(strlen(name) + 1) : NULL;
    if (copy == NULL) {
        mem_free(t);
        return NULL;
    }
    strcpy(copy, name);
    t->name = copy;
    /* rc_instance_new sets every field. */
    t->flags = RC_TYPE_GC | RC_TYPE_HEAP | RC_TYPE_WEAKREFABLE | RC_TYPE_FILLS_BODY;
    t->nslots = (uint32_t)nslots;
    t->basicsize = sizeof(struct rc_instance) + nslots * sizeof(rc_object *);
    t->weaklist_offset = offsetof(struct rc_instance, weakrefs);
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
    in->weakrefs = NULL;
    in->nslots = type->nslots;
    for (size_t i = 0; i < in->nslots; i++)
        in->slots[i] = rc_none();   /* immortal: no count to take */
    return o;
}

static int check_slot(const char *fn, rc_object *o, size_t index)
{
    if (!rc_is_instance(o))
        return err_type_int(fn, "an instance", o);
    if (index >= as_instance(o)->nslots)
        return err_int(RC_ERR_INDEX, "%s(): slot %zu out of range (%s has %zu slots)", fn,
                       index, o->ob_type->name, as_instance(o)->nslots);
    return 0;
}

rc_object *rc_slot_get(rc_object *o, size_t index)
{
    if (check_slot("rc_slot_get", o, index) < 0)
        return NULL;
    rc_object *v = as_instance(o)->slots[index];
    if (v == NULL)
        v = rc_none();   /* cleared by the collector or rc_clear */
    rc_incref(v);
    return v;
}

int rc_slot_set(rc_object *o, size_t index, rc_object *value)
{
    if (check_slot("rc_slot_set", o, index) < 0)
        return -1;
    if (value == NULL)
        return err_int(RC_ERR_TYPE, "rc_slot_set() value must be an object, not NULL");
    rc_setref(&as_instance(o)->slots[index], value);
    return 0;
}

long rc_instance_nslots(rc_object *o)
{
    if (!rc_is_instance(o))
        return err_type_int("rc_instance_nslots", "an instance", o);
    return (long)as_instance(o)->nslots;
}
