/* gc/gc.c: the collector's view of objects: traverse, clear, tracking, and
 * referents.  The cycle collector itself builds on these hooks.
 * Thread rule: rc_traverse/rc_clear read/modify a container the caller may
 * mutate (one thread at a time, as any container mutation).
 */
#define RCGC_BUILDING 1
#include "objects.h"

int rc_traverse(rc_object *o, rc_visit_fn visit, void *arg)
{
    if (o == NULL)
        return err_int(RC_ERR_TYPE, "rc_traverse() argument must be an object, not NULL");
    if (visit == NULL)
        return err_int(RC_ERR_TYPE, "rc_traverse() visit function must not be NULL");
    if (!obj_is_gc(o))
        return 0;
    return o->ob_type->traverse(o, visit, arg);
}

int rc_clear(rc_object *o)
{
    if (o == NULL)
        return err_int(RC_ERR_TYPE, "rc_clear() argument must be an object, not NULL");
    if (obj_is_gc(o)) {
        /* Hold a reference across the hook: if o is alive only through a
         * cycle, dropping one of its referents may drop o's last reference
         * while the hook still walks o (CPython's delete_garbage does the
         * same). */
        rc_incref(o);
        o->ob_type->clear(o);
        rc_decref(o);
    }
    return 0;
}

int rc_gc_is_tracked(rc_object *o)
{
    if (o == NULL)
        return err_int(RC_ERR_TYPE, "rc_gc_is_tracked() argument must be an object, not NULL");
    return (obj_gc_bits(o) & RC_GC_TRACKED) != 0;
}

static int append_referent(rc_object *referent, void *list)
{
    return rc_list_append(list, referent) < 0 ? -1 : 0;
}

rc_object *rc_gc_get_referents(rc_object *o)
{
    if (o == NULL)
        return err_null(RC_ERR_TYPE, "rc_gc_get_referents() argument must be an object, not NULL");
    rc_object *list = rc_list_new();
    if (list == NULL)
        return NULL;
    if (obj_is_gc(o) && o->ob_type->traverse(o, append_referent, list) != 0) {
        rc_decref(list);
        return NULL;
    }
    return list;
}
