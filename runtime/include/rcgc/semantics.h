/* rcgc/semantics.h: the object semantics Python programmers know: `==`
 * against `is`, hash, repr, and the copy module's copy and deepcopy.
 *
 * Each follows CPython (Objects/listobject.c, dictobject.c, tupleobject.c,
 * Lib/copy.py, Lib/reprlib's Py_ReprEnter): the differences are listed
 * beside each function.  Containers nested deeper than the recursion limit
 * (rc_set_recursion_limit), and comparisons that recurse forever (two
 * distinct lists that each contain themselves), fail with RC_ERR_RECURSION
 * (RecursionError) instead of overflowing the C stack.
 *
 * Threads: every function here may run while other threads mutate the
 * objects it reads (ft modes), except rc_clear on a tuple, which must be
 * serialized with every reader of the tuple (docs/threads.md [thr.api]).
 * It reads a list's items, a dict's entries, a tuple's items and an
 * instance's slots one at a time, each taking a reference, as iterating
 * them in Python does: it sees some state each item had, never freed
 * memory, but not necessarily one state of the whole container (a list
 * that grows during rc_copy may give a copy with some of the new items; a
 * list is read up to the length it had when the call reached it, so one
 * that keeps growing does not keep the call going).  A caller that needs
 * one consistent state holds its own lock.
 *
 * Dicts are printed, compared, copied and iterated in their table's order,
 * not in insertion order (rcgc's dict does not keep it): repr({5: 0, 1: 0})
 * may print {1: 0, 5: 0}, and a copy may print its entries in another
 * order than the original.  A tuple that rc_clear emptied (garbage, or a
 * caller's own doing) has no items: each function fails on it with the
 * ValueError rc_tuple_get gives.
 */
#ifndef RCGC_SEMANTICS_H
#define RCGC_SEMANTICS_H

#include <stdint.h>

#include "rcgc/object.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Python's `a == b`: 1 if equal, 0 if not, -1 with an error.
 *   int, str     by value, by content;
 *   tuple, list  same type and length, then item by item, each item first
 *                by identity (CPython's shortcut: a list that contains
 *                itself equals itself);
 *   dict         the same keys, each with an equal value;
 *   None, bool, instances, weakrefs and every other object: by identity.
 * Objects of different types are not equal.  Unlike Python, True is not
 * 1 (bool is not an int here: dict keys tell them apart too).
 * TypeError for a NULL argument; RC_ERR_RECURSION when the comparison
 * nests deeper than the recursion limit (a = [a], b = [b]: a == b). */
int rc_equal(rc_object *a, rc_object *b);

/* Python's hash(o), as dict keys hash it (rc_dict_set): ints by value,
 * strs by content, tuples from their items; None, bools, instances and
 * weakrefs by identity (as Python hashes the instances of a class that
 * defines no __eq__, and as dicts have always keyed them here), unless
 * their type says otherwise (rc_type_new_ex's RC_TYPE_NEW_UNHASHABLE:
 * Python's __hash__ = None).  Never -1: like CPython, -1 means an error
 * (TypeError for a NULL argument, a list, a dict, an instance of an
 * unhashable type, or a tuple holding one; RuntimeError for a tuple
 * nested too deep to be a key).  Equal objects hash alike. */
int64_t rc_hash(rc_object *o);

/* Python's repr(o), as a new str: 1, 'a', "it's", (2,), [1, 'a', (2,)],
 * {'k': [None, True]}, <Node object at 0x55d0c0ffee00>, <weakref at
 * 0x...; to 'Node' at 0x...> or <weakref at 0x...; dead>.  A list or dict
 * already being printed on this thread prints as [...] or {...}
 * (Py_ReprEnter), so a container that contains itself prints.  In a str,
 * ASCII controls are escaped (\n, \t, \r, \xNN), so are bytes that are
 * not UTF-8 (\xNN) and the C1 controls, no-break and other Unicode spaces,
 * separators and format characters (\x85, \xa0, \u2028, ...); other
 * UTF-8 sequences are kept as they are.  NULL with an error (TypeError
 * for NULL, MemoryError, RC_ERR_RECURSION for nesting deeper than the
 * recursion limit). */
rc_object *rc_repr(rc_object *o);

/* copy.copy(o): a new list, dict or instance (of o's type) holding the same
 * references o holds; o itself, with a new reference, for an int, str,
 * tuple, None, bool or weakref (they cannot change).  An instance's copy
 * has its slots, not its weak references.  NULL with an error. */
rc_object *rc_copy(rc_object *o);

/* copy.deepcopy(o): a copy of everything reachable from o through lists,
 * dicts, tuples and instance slots, with a memo so that an object reached
 * twice is copied once (aliasing is kept: two references to one list copy
 * to two references to one new list) and cycles copy to cycles (x = [x]
 * copies to y with y[0] is y).  ints, strs, None, bools and weakrefs are
 * shared, not copied; a tuple is copied only when one of its items had to
 * be.  Dict keys are deep-copied too.  The memo holds a reference to
 * every original and copy until the call returns.  NULL with an error
 * (everything made so far dropped); RC_ERR_RECURSION for nesting deeper
 * than the recursion limit. */
rc_object *rc_deepcopy(rc_object *o);

/* The recursion limit: how deeply rc_equal, rc_repr and rc_deepcopy may
 * nest containers on one thread (sys.setrecursionlimit).  The runtime
 * starts with rc_config.recursion_limit (0: RC_RECURSION_LIMIT_DEFAULT).
 * rc_set_recursion_limit: 0, or -1 with a ValueError for a limit outside
 * 1..RC_RECURSION_LIMIT_MAX, or an error with no runtime.  At the maximum
 * the deepest of these calls uses about 2.6 MB of C stack (7.2 MB in the
 * AddressSanitizer build): threads started by rc_thread_start have 16 MiB;
 * a program's own threads (rc_thread_register) need the same to use the
 * maximum.
 * rc_get_recursion_limit: the limit, or -1 with an error with no runtime. */
#define RC_RECURSION_LIMIT_DEFAULT 1000
#define RC_RECURSION_LIMIT_MAX 10000
int rc_set_recursion_limit(int limit);
int rc_get_recursion_limit(void);

#ifdef __cplusplus
}
#endif

#endif /* RCGC_SEMANTICS_H */
