/* runtime/objects.h: layouts of the built-in object types, and the key
 * protocol (hash, equality) that dict uses.  Internal.
 *
 * Thread rule for this slice: container contents are mutated by one thread
 * at a time (the caller's responsibility until container locking lands);
 * atoms (int, str) are immutable after creation, so any thread may read
 * them.
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

struct rc_list {
    rc_object ob;
    rc_object **items;  /* len references, cap slots */
    size_t len;
    size_t cap;
};

struct dict_table;
struct rc_dict {
    rc_object ob;
    struct dict_table *table;  /* NULL when empty and never grown */
    size_t len;
};

struct rc_weakref;

struct rc_instance {
    rc_object ob;
    struct rc_weakref *weakrefs;  /* weakref list; under rt->weakref_mu */
    size_t nslots;
    rc_object *slots[];           /* new references; NULL only after clear */
};

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

/* Interned strings (str.c): free the table at runtime shutdown, after the
 * immortal objects it points at were released. */
void str_intern_fini(struct rc_runtime *rt);

/* Shutdown (object.c): release objects made immortal at run time. */
void obj_release_immortals(struct rc_runtime *rt);

#endif /* RCGC_OBJECTS_H */
