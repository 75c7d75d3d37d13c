/* runtime/weakref.h: weak references (internal part).  Every weakref list
 * and every rc_weakref.target is under rt->weakref_mu, a leaf lock under
 * which no object code runs (callbacks run after it is released). */
#ifndef RCGC_WEAKREF_H
#define RCGC_WEAKREF_H

#ifndef RCGC_BUILDING
#error "runtime/weakref.h is internal to rcgc"
#endif

#include "internal.h"

/* Target o is dying: detach every weakref to it, then run the callbacks of
 * those weakrefs that are still alive. */
void weakref_clear_target(rc_object *o);

#endif /* RCGC_WEAKREF_H */
