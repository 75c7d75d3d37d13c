/* runtime/objects.h: layouts of the built-in object types, and the key
 * protocol (hash, equality) that dict uses.  Internal.
 *
 * Thread rule: atoms (int, str, tuple) are immutable after creation, so any
 * thread may read them; lists and dicts are mutated under their lock byte in
 * the ft modes and read lock-free (docs/threads.md [thr.lock], [thr.qsbr]);
 * instance slots are written by one thread at a time (the caller's
 * responsibility).
 */
#ifndef RCGC_OBJECTS_H
#define RCGC_OBJECTS_H

#ifndef RCGC_BUILDING
#error "runtime/objects.h is internal to rcgc"
#endif

#include "internal.h"

struct rc_int {
    rc_object ob;
    int64_t value;
};

/* Immutable; hash computed at creation (never written after publication). */
struct rc_str {
    rc_object ob;
    size_t len;
    uint64_t hash;
    char data[];       /* len bytes and a NUL */
};

/* Key status of a tuple (dict keys), fixed at creation. */
enum tuple_key_status {
    TUPLE_HASHABLE = 0,
    TUPLE_UNHASHABLE,   /* holds a list or dict, directly or in a tuple */
    TUPLE_TOO_DEEP,     /* nested deeper than KEY_MAX_DEPTH */
};
#define KEY_MAX_DEPTH 1000

struct rc_tuple {
    rc_object ob;
    size_t n;
    /* Computed once by key_tuple_init from the items' own (cached) hashes,
     * so hashing a tuple never recurses; immutable afterwards. */
    union {
        uint64_t hash;                   /* TUPLE_HASHABLE */
        const rc_type *unhashable_type;  /* TUPLE_UNHASHABLE: list or dict */
    };
    uint32_t depth;       /* 1 + deepest tuple item */
    uint8_t key_status;   /* enum tuple_key_status */
    rc_object *items[];   /* n new references; NULL only after clear */
};

/* A list's item array: one allocation, replaced as a whole (list.c), never
 * resized in place, so a lock-free reader may keep reading an old one until
 * a grace period frees it (qsbr.h).
 *   cap    written once before the array is published (release store of
 *          rc_list.arr), immutable after: read plainly by anyone who loaded
 *          arr.
 *   items  slots [0, len) hold the list's references, [len, cap) are NULL.
 *          Written only under the list's lock (ft; the GIL in gil mode),
 *          release stores; read lock-free with acquire loads (ft), relaxed
 *          under the lock.  An array not yet published or already detached
 *          is accessed plainly by the thread that holds it. */
struct list_array {
    size_t cap;
    _Atomic(rc_object *) items[];
};

struct rc_list {
    rc_object ob;
    /* The item array, NULL when the list has none (new or cleared; then
     * len == 0).  Written only under the list's lock (ft; the GIL in gil
     * mode) with release stores; read lock-free with acquire loads (ft),
     * relaxed under the lock; a replaced array is retired through QSBR in
     * ft mode.  Deallocation reads and writes it with no lock (no other
     * reference exists). */
    _Atomic(struct list_array *) arr;
    /* Number of items.  Same rule as arr; stored after the slots it
     * covers, so a reader that sees len sees them (or later values). */
    _Atomic size_t len;
    /* Sequence count (a seqlock) for lock-free reads of a negative index,
     * which names a slot through len (list.c: list_get_ft,
     * list_get_borrowed_ft).  ft modes only; stays 0 in gil mode.
     * Writers: only under the list's lock.  A mutation that changes len or
     * arr or moves items (append, insert, pop, clear) makes it odd before
     * its first store and even again after its last (list_seq_begin,
     * list_seq_end): a relaxed store of the odd value (each store of the
     * mutation is a release store, so a reader that acquires any of them
     * also sees the odd value or a later one), a release store of the even
     * value.  set, which moves nothing, leaves it alone.  Readers:
     * lock-free, for a negative index only: an acquire load (pairs with
     * the even store) before loading len, arr and the slot (acquire
     * loads), a relaxed load after them (those acquire loads keep it
     * after them); odd, or changed, means those loads may mix two states:
     * the reader takes the lock instead. */
    _Atomic size_t seq;
    /* Move count: the same protocol as seq, for the mutations that move
     * items (insert, and pop of any but the last item), read by
     * non-negative-index lock-free readers, whose slot does not depend on
     * len but whose item may be one a move has already shifted there while
     * a neighbouring slot still holds the state before it.  Appends and
     * pops of the last item do not move items and leave it alone, so
     * readers of a list that only grows or shrinks at its end never take
     * the lock because of it. */
    _Atomic size_t moves;
};

struct dict_table;
struct rc_dict {
    rc_object ob;
    /* The entry table (dict.c), NULL when empty (new or cleared).  Written
     * only under the dict's lock (ft; the GIL in gil mode; no lock in
     * dealloc, when no other reference exists) with release stores; read
     * lock-free with acquire loads (ft), relaxed under the lock.  Replaced
     * as a whole (resize, clear), never reallocated in place; a replaced
     * table is retired through QSBR in the ft modes. */
    _Atomic(struct dict_table *) table;
    /* Live entries.  Written under the same lock (relaxed stores); read
     * relaxed from any thread as a snapshot (rc_dict_len). */
    _Atomic size_t len;
};

struct rc_weakref;

/* An instance: the header and its type's nslots slots, nothing else (its
 * weakref list, if any, is in the runtime's weakref table). */
struct rc_instance {
    rc_object ob;
    /* New references; NULL only after clear.  gil mode: under the GIL.  ft
     * modes: written under the instance's lock (release stores, so a
     * lock-free reader's acquire load sees the value's contents); read
     * without it (instance.c: rc_slot_get); a value a writer removes is
     * marked RC_GC_SHARED before the writer drops it, so that its memory
     * outlives a reader that loaded it.  The collector reads them with
     * the world stopped (relaxed). */
    _Atomic(rc_object *) slots[];
};

static inline size_t instance_nslots(const struct rc_instance *in)
{
    return in->ob.ob_type->nslots;   /* immutable */
}

/* Whether the calling thread may write o's slots without the lock (the
 * slot bias, docs/threads.md [thr.slots]): o is its own, its bias is on,
 * and o's finalizer has not run.  relaxed (all): ob_tid is compared with
 * our own id only (it never becomes ours by a race; an unregistered
 * thread's id matches no object); the bias, see thr_state.slot_bias.  A
 * resurrection restamps ob_tid with the finalizing thread's id while
 * another thread may have found the previous owner unbiased (or none:
 * merged) and rely on the lock, so RC_GC_FINALIZED (set, by that thread,
 * before the restamp) keeps every later write off the biased path. */
static inline bool slot_write_biased(const rc_object *o)
{
    return rc_atomic_load_relaxed(&((rc_object *)o)->ob_tid) == rc_tls_tid &&
           !(obj_gc_bits(o) & RC_GC_FINALIZED) &&
           rc_atomic_load_relaxed(&rc_tls_state->slot_bias);
}

/* rc_clear on an instance other threads may be using (instance.c): its
 * slots emptied as rc_slot_set would write them; 0, or -1 with an error
 * (a detached caller).  The type's clear hook is for the collector's
 * garbage, which no other thread reaches. */
int instance_clear_live(rc_object *o);

struct rc_weakref {
    rc_object ob;
    /* Target, borrowed; NULL once it died.  Under rt->weakref_mu. */
    rc_object *target;
    rc_weakref_callback callback;  /* immutable */
    void *arg;                     /* immutable */
    struct rc_weakref *prev, *next; /* target's list; under rt->weakref_mu */
};

/* Hashing.  hash_bytes: strings (str.c).  hash_int: a 64-bit mixer. */
uint64_t hash_bytes(const void *p, size_t n);
static inline uint64_t hash_int(int64_t v)
{
    uint64_t x = (uint64_t)v;
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27; x *= 0x94d049bb133111ebu;
    x ^= x >> 31;
    return x;
}

/* Key protocol (dict.c).  obj_hash: 0 and *out, or -1 with TypeError for an
 * unhashable key (list, dict, a tuple holding one) or RuntimeError for a
 * tuple nested deeper than KEY_MAX_DEPTH.  key_tuple_init: compute a new
 * tuple's hash, depth and key status from its items (tuple.c calls it). */
void key_tuple_init(struct rc_tuple *t);
/*  obj_key_eq: equality of
 * two hashable keys (value for int/str/tuple, identity otherwise). */
int obj_hash(rc_object *key, uint64_t *out);
bool obj_key_eq(rc_object *a, rc_object *b);

/* The recursion limit of rcgc/semantics.h (semantics.c): rec_enter before
 * nesting into a container (0, or -1 with a RecursionError naming what
 * was being done, "in comparison"), rec_leave after it. */
int rec_enter(const char *what);
void rec_leave(void);

/* The repr of o, for a message, in buf (n > 4 bytes): cut to fit, then
 * ending "..." (repr.c). */
void repr_message(rc_object *o, char *buf, size_t n);

/* Interned strings (str.c): free the table at runtime shutdown, after the
 * immortal objects it points at were released. */
void str_intern_fini(struct rc_runtime *rt);

/* Shutdown (object.c): release objects made immortal at run time. */
void obj_release_immortals(struct rc_runtime *rt);

#endif /* RCGC_OBJECTS_H */
