/* rcgc/types.h: the built-in types.
 *
 * Reference conventions follow CPython: a function returning rc_object *
 * returns a NEW reference unless its comment says "borrowed"; a function that
 * stores an object takes its own reference (the caller keeps its own).
 * On failure a function returns NULL or -1 and sets the thread's error
 * (rcgc/error.h).  Indexes may be negative and count from the end, as in
 * Python.
 *
 * Atoms (int, str) are not GC-tracked; containers (tuple, list, dict,
 * instance) are, and so are weakrefs (as in CPython: the collector must
 * tell a weakref that is itself garbage from a reachable one).
 */
#ifndef RCGC_TYPES_H
#define RCGC_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "rcgc/object.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- singletons (immortal; the returned reference needs no decref, but a
 * decref is harmless) ---- */
rc_object *rc_none(void);
rc_object *rc_true(void);
rc_object *rc_false(void);
/* rc_true() or rc_false(). */
rc_object *rc_bool(int v);

/* ---- int: a boxed int64.  -5..256 are immortal and shared. ---- */
rc_object *rc_int_new(int64_t v);
/* The value; -1 with an error if o is not an int (check rc_error_occurred
 * when the value may legitimately be -1). */
int64_t rc_int_value(rc_object *o);
int rc_is_int(rc_object *o);

/* ---- str: immutable UTF-8 bytes (any bytes but NUL with rc_str_new) ---- */
rc_object *rc_str_new(const char *s);
rc_object *rc_str_new_len(const char *s, size_t len);
/* Interned: one immortal object per distinct content, for the runtime's
 * life. */
rc_object *rc_str_intern(const char *s);
/* Borrowed pointer to the NUL-terminated bytes, valid while o lives; NULL
 * with an error if o is not a str. */
const char *rc_str_data(rc_object *o);
/* Length in bytes; -1 with an error if o is not a str. */
long rc_str_len(rc_object *o);
int rc_is_str(rc_object *o);

/* ---- tuple: immutable sequence ---- */
/* items may be NULL when n == 0; no item may be NULL. */
rc_object *rc_tuple_new(size_t n, rc_object *const *items);
long rc_tuple_len(rc_object *t);
rc_object *rc_tuple_get(rc_object *t, long index);
int rc_is_tuple(rc_object *o);

/* ---- list ---- */
rc_object *rc_list_new(void);
long rc_list_len(rc_object *list);
int rc_list_append(rc_object *list, rc_object *item);
/* Insert before index (clamped to [0, len] like Python's list.insert). */
int rc_list_insert(rc_object *list, long index, rc_object *item);
rc_object *rc_list_get(rc_object *list, long index);
/* The item at index, BORROWED: no count is written (readers of a shared
 * list do not contend on the items' counts), no lock is taken unless a
 * writer is changing the list at that moment, and other threads may mutate
 * the list meanwhile.  The caller holds a reference to list (not a
 * borrowed one).  The item stays valid, for the calling thread only (it
 * must not be handed to another thread), until that thread's next
 * safepoint, detach or reference drop; between the borrow and its last use
 * call only rc_list_get_borrowed, rc_dict_get_borrowed, rc_list_len,
 * rc_dict_len, rc_int_value, rc_str_data, rc_str_len, rc_type_of,
 * rc_type_name, rc_is_*, rc_is_immortal, rc_refcount, rc_try_incref and
 * the error functions.  The item may already have been removed and have
 * died: read only what an object never changes (identity, type, an int's
 * value, a str's bytes); an item of a container or instance type must not
 * be used as alive (its items may be gone): take a reference first with
 * rc_try_incref, or re-read with rc_list_get.  NULL with TypeError or
 * IndexError as rc_list_get.  Rules and reasons: docs/threads.md
 * [thr.borrow]. */
rc_object *rc_list_get_borrowed(rc_object *list, long index);
int rc_list_set(rc_object *list, long index, rc_object *item);
/* Remove and return the item at index (-1: the last). */
rc_object *rc_list_pop(rc_object *list, long index);
/* Remove every item. */
int rc_list_clear(rc_object *list);
int rc_is_list(rc_object *o);

/* ---- dict: hashed, open addressing ----
 * Keys: int, str and tuples of hashable keys compare by value; None, bools
 * and instances by identity.  Lists and dicts are unhashable (TypeError). */
rc_object *rc_dict_new(void);
long rc_dict_len(rc_object *d);
int rc_dict_set(rc_object *d, rc_object *key, rc_object *value);
/* NULL with RC_ERR_KEY if the key is missing. */
rc_object *rc_dict_get(rc_object *d, rc_object *key);
/* The value for key, BORROWED, under the rules of rc_list_get_borrowed
 * (docs/threads.md [thr.borrow]); key is held by the caller, or a borrowed
 * int or str.  A tuple key may take the dict's lock (never detached).
 * NULL with RC_ERR_KEY if the key is missing, TypeError as rc_dict_get. */
rc_object *rc_dict_get_borrowed(rc_object *d, rc_object *key);
/* 1 if present, 0 if not, -1 on error (no KeyError). */
int rc_dict_contains(rc_object *d, rc_object *key);
/* -1 with RC_ERR_KEY if the key is missing. */
int rc_dict_del(rc_object *d, rc_object *key);
int rc_dict_clear(rc_object *d);
/* Iterate: start with *pos = 0; returns 1 and BORROWED key/value (either
 * may be NULL if not wanted) while entries remain, then 0.  The dict must
 * not be mutated during the iteration. */
int rc_dict_next(rc_object *d, size_t *pos, rc_object **key, rc_object **value);
/* Iterate while other threads may mutate the dict: as rc_dict_next, but
 * key and value are NEW references (the caller drops them), so they stay
 * valid whatever other threads do.  An entry inserted or deleted during the
 * iteration may be seen or missed, and a resize may show an entry twice or
 * skip one (like iterating a Python dict that changes size, without the
 * error); every pair returned was in the dict when it was returned. */
int rc_dict_next_ref(rc_object *d, size_t *pos, rc_object **key, rc_object **value);
int rc_is_dict(rc_object *o);

/* ---- user-defined types: instances with N slots ---- */
typedef void (*rc_finalize_fn)(rc_object *self);
/* A type whose instances have nslots slots (initially None) and an
 * optional finalizer, run once before the instance is freed (PEP 442: it
 * may resurrect the instance).  The type lives until rc_runtime_free;
 * the name is copied.  Instances support weak references.  Slots are safe
 * to race on in every mode, as list items are (docs/threads.md
 * [thr.slots]): a read racing a write returns the old or the new value,
 * alive, never freed memory.  A sequence of calls is not atomic: two
 * threads that each read a slot and write back a value computed from it
 * can lose an update (as in Python), so such a step needs the caller's own
 * lock. */
rc_type *rc_type_new(const char *name, size_t nslots, rc_finalize_fn finalize);
/* rc_type_new with options, any of:
 *   RC_TYPE_NEW_UNHASHABLE  instances cannot be hashed: rc_hash, and using
 *                           one as a dict key (or in a tuple used as one),
 *                           fail with TypeError, as for a Python class
 *                           with __hash__ = None.  Without it instances
 *                           hash by identity (rcgc/semantics.h).
 * Another bit is a ValueError. */
#define RC_TYPE_NEW_UNHASHABLE 0x1u
rc_type *rc_type_new_ex(const char *name, size_t nslots, rc_finalize_fn finalize,
                        unsigned options);
rc_object *rc_instance_new(rc_type *type);
/* A new reference to the value of slot index (None after the instance was
 * cleared); NULL with an error for a non-instance or an index out of
 * range.  Takes no lock in the common case and ends no borrow: o may be
 * an instance borrowed from a container (docs/threads.md [thr.borrow]). */
rc_object *rc_slot_get(rc_object *o, size_t index);
/* The value of slot index, borrowed (docs/threads.md [thr.borrow]): no
 * count written and no lock taken, in every mode.  Valid for the calling
 * thread until its next safepoint, detach or drop, as a borrowed list
 * item; o may itself be borrowed.  NULL with an error as rc_slot_get. */
rc_object *rc_slot_get_borrowed(rc_object *o, size_t index);
/* Store a new reference to value in slot index and drop the old one; 0,
 * or -1 with an error.  In the ft modes it takes the instance's lock, so
 * it may wait detached: it ends borrows, as every mutation does. */
int rc_slot_set(rc_object *o, size_t index, rc_object *value);
/* Number of slots; -1 with an error if o is not an instance. */
long rc_instance_nslots(rc_object *o);
int rc_is_instance(rc_object *o);

/* ---- weak references ---- */
typedef void (*rc_weakref_callback)(rc_object *weakref, void *arg);
/* A weak reference to target (an instance).  callback (may be NULL) runs
 * with (weakref, arg) when the target dies, if the weakref is still alive
 * then. */
rc_object *rc_weakref_new(rc_object *target, rc_weakref_callback callback, void *arg);
/* The target (new reference), or NULL with no error set if it is gone. */
rc_object *rc_weakref_get(rc_object *weakref);
int rc_is_weakref(rc_object *o);

#ifdef __cplusplus
}
#endif

#endif /* RCGC_TYPES_H */
