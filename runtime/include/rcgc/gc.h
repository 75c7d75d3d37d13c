/* rcgc/gc.h: what the cycle collector sees of objects.
 *
 * Every container type has a traverse hook (visit each object it holds a
 * reference to) and a clear hook (drop those references, breaking cycles),
 * with CPython's tp_traverse/tp_clear meaning.
 */
#ifndef RCGC_GC_H
#define RCGC_GC_H

#include "rcgc/object.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called for each referent; a non-zero return stops the traversal and is
 * returned by rc_traverse. */
typedef int (*rc_visit_fn)(rc_object *referent, void *arg);

/* Visit every object o holds a reference to (nothing for atoms).  Returns
 * 0, the first non-zero visit result, or -1 with an error for NULL. */
int rc_traverse(rc_object *o, rc_visit_fn visit, void *arg);

/* Drop the references o holds, breaking cycles through it (a no-op for
 * atoms; a tuple's items are dropped too, as the collector needs).  The
 * object stays valid.  0, or -1 with an error for NULL. */
int rc_clear(rc_object *o);

/* 1 if o is tracked by the collector (a container), else 0. */
int rc_gc_is_tracked(rc_object *o);

/* A new list of the objects o refers to (like gc.get_referents). */
rc_object *rc_gc_get_referents(rc_object *o);

#ifdef __cplusplus
}
#endif

#endif /* RCGC_GC_H */
