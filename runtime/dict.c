/* runtime/dict.c: the dict type (a hash table with open addressing) and the
 * key protocol (obj_hash, obj_key_eq) that it uses.
 *
 * Layout: struct rc_dict (objects.h) holds `len`, the number of live
 * entries, and `table`, NULL until the first insertion (and again after a
 * clear), else one allocation holding a struct dict_table: its capacity (a
 * power of two, at least DICT_MINSIZE), its fill, a count of deletions and
 * the entries {hash, key, value}.  A slot is
 *   empty      key == NULL (value NULL): ends every probe sequence;
 *   tombstone  key == DICT_TOMBSTONE (value NULL): a deleted entry; a probe
 *              goes past it, an insertion may reuse it;
 *   live       any other key, with a non-NULL value; the dict owns one
 *              reference to key and one to value, and hash == obj_hash(key).
 *
 * Invariants (checked by dict_check under RCGC_DEBUG, with the dict held):
 *   len + tombstones + empty == capacity
 *   fill == len + tombstones, and 3 * fill <= 2 * capacity (load factor
 *     <= 2/3 counting tombstones, so at least a third of the slots are
 *     empty and every probe sequence, which visits every slot, ends);
 *   no two live entries hold equal keys;
 *   a slot never becomes empty again: empty -> live -> tombstone -> live...
 * A resize builds a new table (a fresh allocation) holding only the live
 * entries, swaps the pointer and frees the old one: tombstones vanish and a
 * table is never reallocated in place, nor written once it is replaced, so
 * a lock-free reader can keep reading an old table until a grace period
 * frees it.
 *
 * Probing: CPython's perturbed probing (Objects/dictobject.c),
 *   i = (5 * i + 1 + perturb) & mask;  perturb >>= PERTURB_SHIFT;
 * starting at hash & mask with perturb = hash.  While perturb is non-zero
 * the high bits of the hash pick the next slots, so keys whose hashes agree
 * in their low bits (identity hashes of aligned pointers, small ints under
 * a weak mixer) do not pile into one cluster; once perturb is zero,
 * i -> 5i + 1 mod 2^k is a full-period recurrence, so every slot is
 * visited and a lookup terminates on the empty slots the load factor
 * guarantees.  Linear probing would be more cache-friendly but suffers
 * primary clustering, which tombstones make worse between resizes.
 *
 * Keys (obj_hash/obj_key_eq): int and str by value, tuples by value
 * (recursively, depth-bounded), list and dict unhashable, everything else
 * (None, bools, instances, weakrefs) by identity.  An int never equals a
 * str.  Nothing in the key protocol runs user code, so a lookup cannot
 * observe the table changing under it.
 *
 * Thread rule (docs/threads.md [thr.qsbr], [thr.lock]):
 *   gil mode   the GIL serialises every access; no lock is taken and the
 *              plain (_locked) paths run.
 *   ft modes   set, del, clear and resize hold the dict's lock byte
 *              (lock.h).  Under it runs no object code: no decref that may
 *              free, no object allocation, no safepoint; what a mutation
 *              must drop (a replaced value, a deleted entry, a cleared or
 *              replaced table) is handed back and dropped after unlocking.
 *              get, get_borrowed, contains and len run without the lock
 *              (see "Lock-free reads" below); get, get_borrowed and
 *              contains fall back to the lock when a lock-free read cannot
 *              decide (get_borrowed waits for it attached: borrow.h).
 *              Iteration (rc_dict_next) takes no lock and needs the dict
 *              left alone meanwhile.
 * Every key and value is marked RC_GC_SHARED before it is published into a
 * table in the ft modes, so its memory outlives any lock-free reader that
 * loaded it (object.c, obj_free); a replaced table is retired through QSBR
 * (qsbr.h).  A dict being deallocated has no other holder (a reader holds a
 * reference), so dealloc frees its table at once.
 *
 * Lock-free reads (ft modes).  A reader loads the table (acquire; the
 * resize and clear publish with release) and its deletion count, then
 * probes: a key loaded (acquire) as NULL ends the probe (absent), a
 * tombstone is skipped, another key is compared by identity, else by hash
 * and obj_key_eq.  The comparison may read a key that was deleted and
 * freed meanwhile: ints and strs keep their content inline and immutable,
 * and their memory is still there (RC_GC_SHARED), so that is safe; a tuple
 * compares its items, which a dead tuple no longer owns, so a tuple is
 * compared only after ref_try_incref on it succeeds.  get then loads the
 * value (acquire), takes a reference with ref_try_incref (refused if the
 * value is dying), and re-checks that the slot still holds that value and
 * key, that the dict still uses that table, and that the table saw no
 * deletion: with no deletion the slot's key cannot have left and come back
 * (ABA), so the slot held (key, value) at the re-check.  Anything else
 * falls back to the locked lookup.  Linearisation: a hit at the re-check
 * (get) or at the key load (contains); a miss at the load of the empty
 * slot, or of the table pointer when it is NULL: a key present throughout
 * the probe sits, since before the probe, in a slot that precedes every
 * slot of its probe sequence that is still empty, and a replaced table
 * keeps what it held when it was replaced.
 */
#define RCGC_BUILDING 1
#include "objects.h"

#include <string.h>

#include "borrow.h"
#include "lock.h"

/* ------------------------------------------------------------ the table */

#define DICT_MINSIZE   8      /* smallest capacity; a power of two */
#define PERTURB_SHIFT  5

/* KEY_MAX_DEPTH (objects.h): deepest tuple nesting a key may have.  Key
 * equality recurses into tuples, and this bounds its C stack; Python raises
 * RecursionError (a RuntimeError) for the same reason. */

/* Every field is written only by the holder of the dict (its lock in the
 * ft modes, the GIL in gil mode, or the dealloc that owns it) and may be
 * read by lock-free readers in the ft modes. */
struct dict_entry {
    /* Written before key (relaxed); a reader that loads key with acquire
     * sees its hash, or a later one if the slot was reused (then the key
     * changed, which the reader's re-check catches). */
    _Atomic uint64_t hash;
    /* NULL: empty; DICT_TOMBSTONE: deleted.  Release stores, paired with
     * the readers' acquire loads (they see hash and, for a new entry,
     * value); the holder itself loads relaxed. */
    _Atomic(rc_object *) key;
    /* NULL unless live.  Release stores (a reader that loads it with
     * acquire sees the value's content); holder loads relaxed. */
    _Atomic(rc_object *) value;
};

struct dict_table {
    size_t mask;        /* capacity - 1; set before publication, immutable */
    size_t fill;        /* live entries + tombstones; holder only */
    /* Deletions from this table.  Bumped by the holder after the
     * tombstone's store (release, paired with the readers' acquire loads:
     * a reader that sees the new count sees the tombstone).  A reader
     * that sees no change across its read saw no key leave a slot. */
    _Atomic size_t deletes;
    struct dict_entry entries[];
};

/* The tombstone marker: an address no object has.  Never refcounted or
 * dereferenced. */
static rc_object dict_tombstone_marker;
#define DICT_TOMBSTONE (&dict_tombstone_marker)

/* Holder's accesses (under the dict's lock, the GIL, or with the dict held
 * exclusively): relaxed, since every write to the table is the holder's
 * own or ordered before it by the lock (or the GIL). */
static inline struct dict_table *dict_table_locked(struct rc_dict *d)
{
    return rc_atomic_load_relaxed(&d->table);
}

static inline rc_object *entry_key_locked(struct dict_entry *e)
{
    return rc_atomic_load_relaxed(&e->key);
}

static inline rc_object *entry_value_locked(struct dict_entry *e)
{
    return rc_atomic_load_relaxed(&e->value);
}

static inline uint64_t entry_hash_locked(struct dict_entry *e)
{
    return rc_atomic_load_relaxed(&e->hash);
}

static inline bool key_live(const rc_object *k)
{
    return k != NULL && k != DICT_TOMBSTONE;
}

static inline size_t table_capacity(const struct dict_table *t)
{
    return t->mask + 1;
}

/* Would one more occupied slot take the table past 2/3? */
static inline bool table_full(const struct dict_table *t)
{
    return (t->fill + 1) * 3 > table_capacity(t) * 2;
}

/* Store a new entry into an empty or tombstone slot: hash, value, then the
 * key that makes it visible (release: pairs with the readers' acquire load
 * of key, which then see hash and value). */
static inline void entry_publish(struct dict_entry *e, uint64_t hash, rc_object *key,
                                 rc_object *value)
{
    /* relaxed: published by the key's release store below. */
    rc_atomic_store_relaxed(&e->hash, hash);
    /* release: a reader that loaded this slot's previous key may load the
     * value without that key's synchronisation; it still sees value's
     * content. */
    rc_atomic_store_release(&e->value, value);
    rc_atomic_store_release(&e->key, key);
}

/* A zeroed table of the given capacity (a power of two); NULL with
 * MemoryError.  Not an object allocation: no safepoint, fine under the
 * dict's lock. */
static struct dict_table *table_new(size_t capacity)
{
    if (capacity > (SIZE_MAX - sizeof(struct dict_table)) / sizeof(struct dict_entry))
        return err_nomem();
    struct dict_table *t =
        mem_calloc(1, sizeof(struct dict_table) + capacity * sizeof(struct dict_entry));
    if (t == NULL)
        return NULL;
    t->mask = capacity - 1;
    t->fill = 0;
    return t;
}

/* Free a table that was replaced or detached.  In the ft modes a lock-free
 * reader may still be probing it: free it after a grace period.  Call it
 * after unlocking (qsbr_retire may take the runtime's lock). */
static void table_free_deferred(struct dict_table *t)
{
    if (t == NULL)
        return;
    struct thr_state *ts = rc_tls_state;
    if (ts != NULL && ts->qsbr.registered)
        qsbr_retire(ts, t);
    else
        mem_free(t);
}

/* The smallest capacity that holds n live entries at most half full.  At
 * a resize n is just past 2/3 of the old capacity, so a growing dict
 * doubles; a dict whose live count stays put while tombstones pile up
 * keeps its size (or shrinks).  Either way at least capacity/6 insertions
 * into empty slots come before the next resize, so insertion is amortised
 * O(1), tombstone churn included.  0 if that would overflow. */
static size_t capacity_for(size_t n)
{
    if (n > SIZE_MAX / 2)
        return 0;
    size_t want = 2 * n;
    size_t cap = DICT_MINSIZE;
    while (cap < want) {
        if (cap > SIZE_MAX / 2)
            return 0;
        cap *= 2;
    }
    return cap;
}

/* The holder's lookup: the entry holding key (hash is obj_hash(key)), or
 * NULL if absent.  If slot is not NULL it receives the slot where key
 * would be inserted: the first tombstone on key's probe sequence, else the
 * empty slot that ended it.  Stored keys are alive (the dict owns them). */
static struct dict_entry *table_lookup(struct dict_table *t, rc_object *key,
                                       uint64_t hash, struct dict_entry **slot)
{
    size_t mask = t->mask;
    size_t i = (size_t)hash & mask;
    uint64_t perturb = hash;
    struct dict_entry *free_slot = NULL;
    for (;;) {
        struct dict_entry *e = &t->entries[i];
        rc_object *k = entry_key_locked(e);
        if (k == NULL) {
            if (slot != NULL)
                *slot = free_slot != NULL ? free_slot : e;
            return NULL;
        }
        if (k == DICT_TOMBSTONE) {
            if (free_slot == NULL)
                free_slot = e;
        } else if (k == key || (entry_hash_locked(e) == hash && obj_key_eq(k, key))) {
            return e;
        }
        perturb >>= PERTURB_SHIFT;
        i = (size_t)((i * 5 + 1 + perturb) & mask);
    }
}

/* Insert into a table known to hold no tombstones and no key equal to this
 * one (a fresh table being filled by a resize, not yet published): the
 * first empty slot. */
static void table_insert_clean(struct dict_table *t, uint64_t hash, rc_object *key,
                               rc_object *value)
{
    size_t mask = t->mask;
    size_t i = (size_t)hash & mask;
    uint64_t perturb = hash;
    while (entry_key_locked(&t->entries[i]) != NULL) {
        perturb >>= PERTURB_SHIFT;
        i = (size_t)((i * 5 + 1 + perturb) & mask);
    }
    struct dict_entry *e = &t->entries[i];
    /* relaxed: t is not published yet; dict_resize_locked publishes it
     * with a release store. */
    rc_atomic_store_relaxed(&e->hash, hash);
    rc_atomic_store_relaxed(&e->value, value);
    rc_atomic_store_relaxed(&e->key, key);
    t->fill++;
}

#ifdef RCGC_DEBUG
/* With the dict held (its lock, the GIL, or exclusively). */
static void dict_check(struct rc_dict *d)
{
    struct dict_table *t = dict_table_locked(d);
    /* relaxed: the holder's own field. */
    size_t len = rc_atomic_load_relaxed(&d->len);
    if (t == NULL) {
        if (len != 0)
            rc_fatal("dict %p: len %zu with no table", (void *)d, len);
        return;
    }
    size_t live = 0, dead = 0, empty = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        struct dict_entry *e = &t->entries[i];
        rc_object *k = entry_key_locked(e);
        if (k == NULL)
            empty++;
        else if (k == DICT_TOMBSTONE)
            dead++;
        else if (entry_value_locked(e) == NULL)
            rc_fatal("dict %p: live entry %zu has no value", (void *)d, i);
        else
            live++;
    }
    if (live != len || live + dead != t->fill || live + dead + empty != table_capacity(t) ||
        t->fill * 3 > table_capacity(t) * 2)
        rc_fatal("dict %p: broken table (len %zu, live %zu, tombstones %zu, "
                 "empty %zu, fill %zu, capacity %zu)",
                 (void *)d, len, live, dead, empty, t->fill, table_capacity(t));
}
#else
static inline void dict_check(struct rc_dict *d) { (void)d; }
#endif

/* Replace d's table by a fresh one with room for len + 1 live entries,
 * moving the live entries over (their references move with them).  The
 * old table (NULL if none) goes to *old, for the caller to free with
 * table_free_deferred after unlocking.  0, or -1 with MemoryError and d
 * unchanged.  Caller holds d. */
static int dict_resize_locked(struct rc_dict *d, struct dict_table **old)
{
    /* relaxed: the holder's own field. */
    size_t cap = capacity_for(rc_atomic_load_relaxed(&d->len) + 1);
    if (cap == 0) {
        err_nomem();
        return -1;
    }
    struct dict_table *nt = table_new(cap);
    if (nt == NULL)
        return -1;
    struct dict_table *ot = dict_table_locked(d);
    if (ot != NULL) {
        for (size_t i = 0; i <= ot->mask; i++) {
            struct dict_entry *e = &ot->entries[i];
            rc_object *k = entry_key_locked(e);
            if (key_live(k))
                table_insert_clean(nt, entry_hash_locked(e), k, entry_value_locked(e));
        }
    }
    /* release: pairs with the readers' acquire load of the table, which
     * then see nt's entries.  ot is not written again. */
    rc_atomic_store_release(&d->table, nt);
    *old = ot;
    dict_check(d);
    return 0;
}

/* Detach d's whole table, leaving d empty and valid; return it (NULL if
 * none) for dict_drop_table.  Caller holds d. */
static struct dict_table *dict_detach_locked(struct rc_dict *d)
{
    dict_check(d);
    struct dict_table *t = dict_table_locked(d);
    /* release: pairs with the readers' acquire load (a reader that sees
     * NULL sees an empty dict; one still on t re-checks the pointer). */
    rc_atomic_store_release(&d->table, NULL);
    /* relaxed: a snapshot for lock-free rc_dict_len. */
    rc_atomic_store_relaxed(&d->len, 0);
    return t;
}

/* Drop every reference a detached table held, then free it (after a grace
 * period if deferred).  Drops may run arbitrary code (deallocations,
 * finalizers) that may even use the dict again: it sees an empty dict, and
 * what it inserts stays.  No lock held. */
static void dict_drop_table(struct dict_table *t, bool deferred)
{
    if (t == NULL)
        return;
    /* Nobody writes t any more: it was detached by its last holder. */
    for (size_t i = 0; i <= t->mask; i++) {
        struct dict_entry *e = &t->entries[i];
        rc_object *k = entry_key_locked(e);
        if (key_live(k)) {
            rc_decref(k);
            rc_decref(entry_value_locked(e));
        }
    }
    if (deferred)
        table_free_deferred(t);
    else
        mem_free(t);
}

/* ---------------------------------------------------------- key protocol */

/* CPython's tuple hash (Objects/tupleobject.c, after xxHash's round). */
#define XXPRIME_1 UINT64_C(11400714785074694791)
#define XXPRIME_2 UINT64_C(14029467366897019727)
#define XXPRIME_5 UINT64_C(2870177450012600261)

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* A key's hash without touching the error state: TUPLE_HASHABLE and *out,
 * or why not (for TUPLE_UNHASHABLE, *why is the offending type).  Constant
 * time: a tuple's hash was computed at its creation. */
static enum tuple_key_status key_hash_status(rc_object *key, uint64_t *out,
                                             const rc_type **why)
{
    const rc_type *t = key->ob_type;
    if (t == &rc_int_type) {
        *out = hash_int(((struct rc_int *)key)->value);
        return TUPLE_HASHABLE;
    }
    if (t == &rc_str_type) {
        *out = ((struct rc_str *)key)->hash;
        return TUPLE_HASHABLE;
    }
    if (t == &rc_tuple_type) {
        struct rc_tuple *tup = (struct rc_tuple *)key;
        if (tup->key_status == TUPLE_UNHASHABLE)
            *why = tup->unhashable_type;
        else
            *out = tup->hash;
        return (enum tuple_key_status)tup->key_status;
    }
    if (t == &rc_list_type || t == &rc_dict_type || (t->flags & RC_TYPE_UNHASHABLE) != 0) {
        *why = t;
        return TUPLE_UNHASHABLE;
    }
    /* Identity: mix the address (its low bits are alignment zeros). */
    *out = hash_int((int64_t)(uintptr_t)key);
    return TUPLE_HASHABLE;
}

void key_tuple_init(struct rc_tuple *tup)
{
    uint64_t acc = XXPRIME_5;
    uint32_t depth = 0;
    enum tuple_key_status status = TUPLE_HASHABLE;
    const rc_type *why = NULL;
    for (size_t i = 0; i < tup->n; i++) {
        rc_object *item = tup->items[i];
        uint64_t lane = 0;
        const rc_type *item_why = NULL;
        enum tuple_key_status st = key_hash_status(item, &lane, &item_why);
        if (st != TUPLE_HASHABLE && status != TUPLE_UNHASHABLE) {
            status = st;   /* unhashable wins over too deep */
            why = item_why;
        }
        if (item->ob_type == &rc_tuple_type && ((struct rc_tuple *)item)->depth > depth)
            depth = ((struct rc_tuple *)item)->depth;
        acc += lane * XXPRIME_2;
        acc = rotl64(acc, 31);
        acc *= XXPRIME_1;
    }
    acc += (uint64_t)tup->n ^ (XXPRIME_5 ^ UINT64_C(3527539));
    tup->depth = depth + 1;
    if (tup->depth > KEY_MAX_DEPTH && status == TUPLE_HASHABLE)
        status = TUPLE_TOO_DEEP;
    if (status == TUPLE_UNHASHABLE)
        tup->unhashable_type = why;
    else
        tup->hash = acc;
    tup->key_status = (uint8_t)status;
}

int obj_hash(rc_object *key, uint64_t *out)
{
    if (key == NULL)
        return err_int(RC_ERR_TYPE, "unhashable type: 'NULL'");
    const rc_type *why = NULL;
    switch (key_hash_status(key, out, &why)) {
    case TUPLE_HASHABLE:
        return 0;
    case TUPLE_TOO_DEEP:
        return err_int(RC_ERR_RUNTIME,
                       "maximum recursion depth (%d) exceeded: tuple key nested too deep",
                       KEY_MAX_DEPTH);
    case TUPLE_UNHASHABLE:
        break;
    }
    return err_int(RC_ERR_TYPE, "unhashable type: '%s'", why->name);
}

static bool key_eq_depth(rc_object *a, rc_object *b, int depth)
{
    if (a == b)
        return true;
    if (a == NULL || b == NULL || a->ob_type != b->ob_type)
        return false;
    const rc_type *t = a->ob_type;
    if (t == &rc_int_type)
        return ((struct rc_int *)a)->value == ((struct rc_int *)b)->value;
    if (t == &rc_str_type) {
        struct rc_str *sa = (struct rc_str *)a, *sb = (struct rc_str *)b;
        return sa->len == sb->len && sa->hash == sb->hash &&
               memcmp(sa->data, sb->data, sa->len) == 0;
    }
    if (t == &rc_tuple_type) {
        struct rc_tuple *ta = (struct rc_tuple *)a, *tb = (struct rc_tuple *)b;
        /* Keys that hashed are at most KEY_MAX_DEPTH deep, so the guard
         * only bounds the stack for callers that compare unhashed keys;
         * equal tuples have equal cached hashes. */
        if (ta->n != tb->n || ta->hash != tb->hash || depth >= KEY_MAX_DEPTH)
            return false;
        for (size_t i = 0; i < ta->n; i++)
            if (!key_eq_depth(ta->items[i], tb->items[i], depth + 1))
                return false;
        return true;
    }
    return false;   /* identity, already tested */
}

bool obj_key_eq(rc_object *a, rc_object *b)
{
    return key_eq_depth(a, b, 0);
}

/* ------------------------------------------------------- KeyError text */

/* KeyError whose message is the key's repr, as Python's str(KeyError(k)). */
static void err_key(rc_object *key)
{
    char buf[200];
    repr_message(key, buf, sizeof buf);
    err_set(RC_ERR_KEY, "%s", buf);
}

/* ------------------------------------------------------------ the type */

static int dict_traverse(rc_object *o, rc_visit_fn visit, void *arg)
{
    /* The collector calls this with the world stopped (no mutator holds
     * the lock: none parks holding it), rc_traverse with the dict held by
     * its caller: plain (relaxed) loads suffice. */
    struct dict_table *t = dict_table_locked((struct rc_dict *)o);
    if (t == NULL)
        return 0;
    for (size_t i = 0; i <= t->mask; i++) {
        struct dict_entry *e = &t->entries[i];
        rc_object *k = entry_key_locked(e);
        if (key_live(k)) {
            int r = visit(k, arg);
            if (r != 0)
                return r;
            r = visit(entry_value_locked(e), arg);
            if (r != 0)
                return r;
        }
    }
    return 0;
}

/* Free-threaded mode (ts->rt->cfg.mode != RC_MODE_GIL), tested the cheap
 * way: in gil mode every registered thread's rc_tls_tid is RC_TID_GIL
 * (thread.c), so the gil paths pay one thread-local load and compare.  A
 * thread with no state takes the plain path (it must not touch objects
 * at all). */
static inline bool dict_mt(void)
{
    bool mt = rc_tls_tid != RC_TID_GIL && rc_tls_state != NULL;
#ifdef RCGC_DEBUG
    if (rc_tls_state != NULL && mt != (rc_tls_state->rt->cfg.mode != RC_MODE_GIL))
        rc_fatal("dict: thread id %#lx does not tell the mode", (unsigned long)rc_tls_tid);
#endif
    return mt;
}

/* Hold d for a mutation: its lock in the ft modes (mt is dict_mt()); the
 * GIL already holds it in gil mode.  One call site per mutation, so the
 * _locked body is inlined and the gil path stays plain. */
static inline void dict_lock(struct rc_dict *d, bool mt)
{
    if (mt)
        obj_lock(&d->ob);
}

static inline void dict_unlock(struct rc_dict *d, bool mt)
{
    if (mt)
        obj_unlock(&d->ob);
}

/* Empty d: detach its table (under the lock in the ft modes), then drop
 * what it held, unlocked, and retire it. */
static void dict_clear_any(struct rc_dict *d)
{
    bool mt = dict_mt();
    dict_lock(d, mt);
    struct dict_table *t = dict_detach_locked(d);
    dict_unlock(d, mt);
    dict_drop_table(t, true);
}

static void dict_clear_refs(rc_object *o)
{
    dict_clear_any((struct rc_dict *)o);
}

static void dict_dealloc(rc_object *o)
{
    /* Dead: nobody else holds d, so no lock, and no lock-free reader can be
     * on its table (a reader holds a reference to the dict). */
    dict_drop_table(dict_detach_locked((struct rc_dict *)o), false);
    obj_free(o);
}

const rc_type rc_dict_type = {
    .name = "dict",
    .flags = RC_TYPE_GC,
    .basicsize = sizeof(struct rc_dict),
    .dealloc = dict_dealloc,
    .traverse = dict_traverse,
    .clear = dict_clear_refs,
};

/* ------------------------------------------------------- lock-free reads */

enum lf_result {
    LF_ABSENT,   /* the key is not in the dict */
    LF_FOUND,    /* r->e held r->key, equal to the key */
    LF_RETRY,    /* undecided: use the locked path */
};

/* What a lock-free probe saw; pointers valid until the caller's next
 * quiescent state (safepoint, detach, or a lock wait). */
struct lf_read {
    struct dict_table *t;   /* the table probed */
    size_t deletes;         /* its deletion count before the probe */
    struct dict_entry *e;   /* LF_FOUND: the entry */
    rc_object *key;         /* LF_FOUND: its key as loaded */
    rc_object *held;        /* a stored key referenced for a comparison, or
                               NULL; the caller drops it when done with t */
};

/* Compare a stored key k, loaded lock-free and possibly dead, with the
 * caller's key: 1 equal, 0 not, -1 undecided.  held NULL: the caller may
 * not take a reference (a borrowed read), so tuples are undecided. */
static int key_eq_lockfree(rc_object *k, rc_object *key, rc_object **held)
{
    if (k->ob_type == &rc_tuple_type && key->ob_type == &rc_tuple_type) {
        /* A tuple compares its items, and a dead tuple no longer owns them
         * (their memory may be gone): compare only a live tuple, held. */
        if (held == NULL || *held != NULL || !ref_try_incref(k))
            return -1;
        *held = k;
    }
    /* Anything else reads only k's header and inline immutable content
     * (int, str), whose memory outlives us even if k died (RC_GC_SHARED). */
    return obj_key_eq(k, key);
}

/* Probe d for key without the lock (ft modes).  See "Lock-free reads" in
 * the file comment.  may_hold false: take no reference at all (r->held
 * stays NULL; a tuple key to compare makes the probe LF_RETRY). */
static enum lf_result dict_probe_lockfree(struct rc_dict *d, rc_object *key, uint64_t hash,
                                          struct lf_read *r, bool may_hold)
{
    r->held = NULL;
    /* acquire: pairs with the release store of dict_resize_locked and
     * dict_detach_locked. */
    struct dict_table *t = rc_atomic_load_acquire(&d->table);
    r->t = t;
    if (t == NULL)
        return LF_ABSENT;
    /* acquire: pairs with the release increment of dict_del_locked, so
     * every tombstone counted here is seen by the probe below. */
    r->deletes = rc_atomic_load_acquire(&t->deletes);
    size_t mask = t->mask;
    size_t i = (size_t)hash & mask;
    uint64_t perturb = hash;
    for (;;) {
        struct dict_entry *e = &t->entries[i];
        /* acquire: pairs with entry_publish's release store of key. */
        rc_object *k = rc_atomic_load_acquire(&e->key);
        if (k == NULL)
            return LF_ABSENT;
        if (k != DICT_TOMBSTONE) {
            int eq = k == key;
            /* relaxed: ordered after the key's acquire load.  A later hash
             * (the slot reused since) only filters: equality is decided
             * on k itself, which was in the slot when loaded. */
            if (!eq && rc_atomic_load_relaxed(&e->hash) == hash)
                eq = key_eq_lockfree(k, key, may_hold ? &r->held : NULL);
            if (eq < 0)
                return LF_RETRY;
            if (eq) {
                r->e = e;
                r->key = k;
                return LF_FOUND;
            }
        }
        perturb >>= PERTURB_SHIFT;
        i = (size_t)((i * 5 + 1 + perturb) & mask);
    }
}

/* Did the slot hold (r->key, v) at the re-check?  The value, the key, the
 * table and the deletion count, in that order, each acquire (pairing with
 * the holder's release stores), so each load is ordered before the next:
 * with the count unchanged, no key left the slot between the probe's load
 * and this one, so the key was r->key when the value was v. */
static bool lf_still_holds(struct rc_dict *d, const struct lf_read *r, rc_object *v)
{
    return rc_atomic_load_acquire(&r->e->value) == v &&
           rc_atomic_load_acquire(&r->e->key) == r->key &&
           rc_atomic_load_acquire(&d->table) == r->t &&
           rc_atomic_load_acquire(&r->t->deletes) == r->deletes;
}

/* ------------------------------------------------------ locked operations */

/* Each takes the dict held: under its lock (ft modes), under the GIL (gil
 * mode), and runs no object code.  What must be dropped is returned to the
 * caller, which drops it after unlocking. */

/* key's value, borrowed (the dict's reference), or NULL (no error set) if
 * absent. */
static rc_object *dict_lookup_locked(struct rc_dict *d, rc_object *key, uint64_t hash)
{
    struct dict_table *t = dict_table_locked(d);
    struct dict_entry *e = t != NULL ? table_lookup(t, key, hash, NULL) : NULL;
    return e != NULL ? entry_value_locked(e) : NULL;
}

/* A new reference to key's value, or NULL (no error set) if absent. */
static rc_object *dict_get_locked(struct rc_dict *d, rc_object *key, uint64_t hash)
{
    rc_object *v = dict_lookup_locked(d, key, hash);
    rc_incref(v);
    return v;
}

/* d[key] = value.  *old_value: the replaced value; *old_table: a replaced
 * table.  0, or -1 with MemoryError and d unchanged. */
static int dict_set_locked(struct rc_dict *d, rc_object *key, uint64_t hash, rc_object *value,
                           rc_object **old_value, struct dict_table **old_table)
{
    struct dict_table *t = dict_table_locked(d);
    struct dict_entry *slot = NULL;
    struct dict_entry *e = t != NULL ? table_lookup(t, key, hash, &slot) : NULL;
    if (e != NULL) {
        /* Replace: keep the stored key; the old value is dropped last, by
         * the caller, since its deallocation may run code that looks at
         * this dict. */
        *old_value = entry_value_locked(e);
        rc_incref(value);
        /* release: pairs with the readers' acquire load of value. */
        rc_atomic_store_release(&e->value, value);
        return 0;
    }
    /* A new key.  Everything that can fail (the resize) comes before any
     * reference is taken, so a failure leaves the dict as it was. */
    if (t == NULL || (entry_key_locked(slot) == NULL && table_full(t))) {
        if (dict_resize_locked(d, old_table) < 0)
            return -1;
        t = dict_table_locked(d);
        table_lookup(t, key, hash, &slot);
    }
    rc_incref(key);
    rc_incref(value);
    if (entry_key_locked(slot) == NULL)
        t->fill++;   /* an empty slot; a reused tombstone was counted */
    entry_publish(slot, hash, key, value);
    /* relaxed: a snapshot for lock-free rc_dict_len. */
    rc_atomic_store_relaxed(&d->len, rc_atomic_load_relaxed(&d->len) + 1);
    return 0;
}

/* del d[key]: 1 with the entry's references in *old_key and *old_value,
 * or 0 if absent (no error set). */
static int dict_del_locked(struct rc_dict *d, rc_object *key, uint64_t hash,
                           rc_object **old_key, rc_object **old_value)
{
    struct dict_table *t = dict_table_locked(d);
    struct dict_entry *e = t != NULL ? table_lookup(t, key, hash, NULL) : NULL;
    if (e == NULL)
        return 0;
    /* Unlink (the slot becomes a tombstone: it stays in fill); the caller
     * drops after, since the drops may run code that looks at this dict. */
    *old_key = entry_key_locked(e);
    *old_value = entry_value_locked(e);
    /* release: pairs with the readers' acquire load of key. */
    rc_atomic_store_release(&e->key, DICT_TOMBSTONE);
    /* relaxed: NULL publishes nothing; a reader that still loads the old
     * value fails its re-check (the key or the count changed). */
    rc_atomic_store_relaxed(&e->value, NULL);
    /* release, after the tombstone: pairs with the readers' acquire loads
     * of the count (dict_probe_lockfree, lf_still_holds). */
    rc_atomic_store_release(&t->deletes, rc_atomic_load_relaxed(&t->deletes) + 1);
    /* relaxed: a snapshot for lock-free rc_dict_len. */
    rc_atomic_store_relaxed(&d->len, rc_atomic_load_relaxed(&d->len) - 1);
    return 1;
}

/* ------------------------------------------------------------ public API */

/* Checks shared by the functions taking (dict, key): 0, or -1 with a
 * TypeError naming fn; on success *hash is the key's hash. */
static int check_dict_key(const char *fn, rc_object *d, rc_object *key, uint64_t *hash)
{
    *hash = 0;   /* set on failure too: -O3's inlining cannot tell it unused */
    if (!obj_is(d, &rc_dict_type))
        return err_type_int(fn, "a dict", d);
    if (key == NULL)
        return err_int(RC_ERR_TYPE, "%s() key must be an object, not NULL", fn);
    /* Another thread's dict, read or changed: internal.h. */
    obj_escape_check(d);
    return obj_hash(key, hash);
}

rc_object *rc_dict_new(void)
{
    rc_object *o = obj_alloc(&rc_dict_type, sizeof(struct rc_dict));
    if (o == NULL)
        return NULL;
    /* obj_alloc zeroed table, len and the lock byte: an empty dict. */
    return o;
}

long rc_dict_len(rc_object *d)
{
    if (!obj_is(d, &rc_dict_type))
        return err_type_int("rc_dict_len", "a dict", d);
    /* relaxed: a snapshot (len changes under the holder's lock at once
     * anyway); nothing is read through it. */
    return (long)rc_atomic_load_relaxed(&((struct rc_dict *)d)->len);
}

int rc_dict_set(rc_object *d, rc_object *key, rc_object *value)
{
    uint64_t hash;
    if (check_dict_key("rc_dict_set", d, key, &hash) < 0)
        return -1;
    if (value == NULL)
        return err_int(RC_ERR_TYPE, "rc_dict_set() value must be an object, not NULL");
    struct rc_dict *dict = (struct rc_dict *)d;
    rc_object *old_value = NULL;
    struct dict_table *old_table = NULL;
    bool mt = dict_mt();
    if (mt) {
        /* Before publication: a lock-free reader may load them and then
         * hold no reference (obj_mark_shared).  Harmless if not stored. */
        obj_mark_shared(key);
        obj_mark_shared(value);
    }
    dict_lock(dict, mt);
    int r = dict_set_locked(dict, key, hash, value, &old_value, &old_table);
    dict_unlock(dict, mt);
    table_free_deferred(old_table);
    rc_decref(old_value);
    return r;
}

/* rc_dict_get in the ft modes: NULL (no error set) if absent.  Not
 * inlined, to keep the gil path of rc_dict_get small. */
__attribute__((noinline)) static rc_object *dict_get_mt(struct rc_dict *d, rc_object *key,
                                                         uint64_t hash)
{
    struct lf_read r;
    enum lf_result res = dict_probe_lockfree(d, key, hash, &r, true);
    rc_object *v = NULL, *drop = NULL;
    if (res == LF_FOUND) {
        /* acquire: pairs with the release stores of value. */
        v = rc_atomic_load_acquire(&r.e->value);
        if (v == NULL || !ref_try_incref(v)) {
            /* Deleted meanwhile, dying, or (ft) owned by another thread and
             * never marked MAYBE_WEAKREF: ref_try_incref cannot tell that
             * from dying. */
            res = LF_RETRY;
            v = NULL;
        } else if (!lf_still_holds(d, &r, v)) {
            res = LF_RETRY;
            drop = v;
            v = NULL;
        }
    }
    /* Done with r's pointers: the drops may run code, safepoints
     * included. */
    rc_decref(r.held);
    rc_decref(drop);
    if (res != LF_RETRY)
        return v;

    obj_lock(&d->ob);   /* may wait detached: nothing loaded above is used */
    struct dict_table *t = dict_table_locked(d);
    struct dict_entry *e = t != NULL ? table_lookup(t, key, hash, NULL) : NULL;
    if (e != NULL) {
        v = entry_value_locked(e);
        rc_incref(v);
        /* In ft mode a value that only its owner ever counted has shared
         * count 0 and state UNSHARED, which ref_try_incref must refuse (it
         * may be dying on the owner's non-atomic path), so every lock-free
         * read of it would come here.  It is alive (the dict holds it and
         * we hold the lock): mark it MAYBE_WEAKREF, so its death goes
         * through a compare-and-swap and later lock-free reads can take a
         * reference.  Likewise a tuple key, which lock-free readers must
         * reference to compare.  Objects we own need no mark. */
        if (rc_atomic_load_relaxed(&v->ob_tid) != rc_tls_tid)   /* relaxed: see rc_incref */
            ref_set_maybe_weakref(v);
        rc_object *k = entry_key_locked(e);
        if (k->ob_type == &rc_tuple_type && rc_atomic_load_relaxed(&k->ob_tid) != rc_tls_tid)
            ref_set_maybe_weakref(k);
    }
    obj_unlock(&d->ob);
    return v;
}

rc_object *rc_dict_get(rc_object *d, rc_object *key)
{
    uint64_t hash;
    if (check_dict_key("rc_dict_get", d, key, &hash) < 0)
        return NULL;
    struct rc_dict *dict = (struct rc_dict *)d;
    rc_object *v = dict_mt() ? dict_get_mt(dict, key, hash) : dict_get_locked(dict, key, hash);
    if (v == NULL)
        err_key(key);
    return v;
}

/* rc_dict_get_borrowed in the ft modes: NULL (no error set) if absent.
 * No count is written and nothing is dropped (docs/threads.md
 * [thr.borrow]): the probe takes no reference (a tuple key it would have
 * to hold sends it to the lock), and a hit is re-checked exactly as
 * dict_get_mt's, which needs no reference: the value's memory outlives our
 * read section (RC_GC_SHARED) whether or not it is still alive.  The
 * fallback takes the lock attached (borrow.h), so that the caller's
 * earlier borrows survive; under it the value is the dict's, alive. */
__attribute__((noinline)) static rc_object *dict_get_borrowed_mt(struct rc_dict *d,
                                                                  rc_object *key, uint64_t hash)
{
    struct lf_read r;
    enum lf_result res = dict_probe_lockfree(d, key, hash, &r, false);
    if (res == LF_ABSENT)
        return NULL;
    if (res == LF_FOUND) {
        /* acquire: pairs with the release stores of value. */
        rc_object *v = rc_atomic_load_acquire(&r.e->value);
        /* Another thread's value that it may collect on its own is marked
         * before we hand it out (internal.h); the check that follows then
         * says the dict held it after the mark. */
        if (v != NULL && obj_escape_needed(v))
            obj_escape_slow(v);
        if (v != NULL && lf_still_holds(d, &r, v))
            return v;
    }
    obj_lock_attached(&d->ob);
    rc_object *v = dict_lookup_locked(d, key, hash);
    if (v != NULL)
        obj_escape_check(v);
    obj_unlock(&d->ob);
    return v;
}

rc_object *rc_dict_get_borrowed(rc_object *d, rc_object *key)
{
    uint64_t hash;
    if (check_dict_key("rc_dict_get_borrowed", d, key, &hash) < 0)
        return NULL;
    struct rc_dict *dict = (struct rc_dict *)d;
    /* gil mode: the GIL excludes every writer. */
    rc_object *v = dict_mt() ? dict_get_borrowed_mt(dict, key, hash)
                             : dict_lookup_locked(dict, key, hash);
    if (v == NULL)
        err_key(key);
    return v;
}

/* rc_dict_contains in the ft modes (not inlined: see dict_get_mt). */
__attribute__((noinline)) static int dict_contains_mt(struct rc_dict *d, rc_object *key,
                                                      uint64_t hash)
{
    struct lf_read r;
    enum lf_result res = dict_probe_lockfree(d, key, hash, &r, true);
    rc_decref(r.held);   /* done with r's pointers */
    if (res != LF_RETRY)
        return res == LF_FOUND;
    /* Only a tuple key we could not reference (dying, or unmarked and
     * another thread's) gets here. */
    obj_lock(&d->ob);
    struct dict_table *t = dict_table_locked(d);
    int found = t != NULL && table_lookup(t, key, hash, NULL) != NULL;
    obj_unlock(&d->ob);
    return found;
}

int rc_dict_contains(rc_object *d, rc_object *key)
{
    uint64_t hash;
    if (check_dict_key("rc_dict_contains", d, key, &hash) < 0)
        return -1;
    struct rc_dict *dict = (struct rc_dict *)d;
    if (dict_mt())
        return dict_contains_mt(dict, key, hash);
    struct dict_table *t = dict_table_locked(dict);
    return t != NULL && table_lookup(t, key, hash, NULL) != NULL;
}

int rc_dict_del(rc_object *d, rc_object *key)
{
    uint64_t hash;
    if (check_dict_key("rc_dict_del", d, key, &hash) < 0)
        return -1;
    struct rc_dict *dict = (struct rc_dict *)d;
    rc_object *old_key = NULL, *old_value = NULL;
    bool mt = dict_mt();
    dict_lock(dict, mt);
    int found = dict_del_locked(dict, key, hash, &old_key, &old_value);
    dict_unlock(dict, mt);
    if (!found) {
        err_key(key);
        return -1;
    }
    rc_decref(old_key);
    rc_decref(old_value);
    return 0;
}

int rc_dict_clear(rc_object *d)
{
    if (!obj_is(d, &rc_dict_type))
        return err_type_int("rc_dict_clear", "a dict", d);
    obj_escape_check(d);   /* another thread's dict: internal.h */
    dict_clear_any((struct rc_dict *)d);
    return 0;
}

/* Iteration takes no lock.  The dict must not be mutated meanwhile (the
 * borrowed pointers returned would dangle once the dict drops them).  In
 * the ft modes a concurrent mutation still cannot make a call read freed
 * table memory: each call loads the table pointer once (acquire) and a
 * replaced table outlives the call (QSBR); entries are loaded with acquire
 * and one whose value is already gone is skipped.  Across calls such an
 * iteration may miss or repeat entries. */
int rc_dict_next(rc_object *d, size_t *pos, rc_object **key, rc_object **value)
{
    if (!obj_is(d, &rc_dict_type))
        return err_type_int("rc_dict_next", "a dict", d);
    if (pos == NULL)
        return err_int(RC_ERR_TYPE, "rc_dict_next() pos must be a pointer, not NULL");
    obj_escape_check(d);   /* another thread's dict: internal.h */
    /* acquire: pairs with the release stores of the table pointer. */
    struct dict_table *t = rc_atomic_load_acquire(&((struct rc_dict *)d)->table);
    if (t == NULL)
        return 0;
    for (size_t i = *pos; i <= t->mask; i++) {
        struct dict_entry *e = &t->entries[i];
        /* acquire: pair with the holder's release stores of key, value. */
        rc_object *k = rc_atomic_load_acquire(&e->key);
        rc_object *v = key_live(k) ? rc_atomic_load_acquire(&e->value) : NULL;
        if (v != NULL) {
            *pos = i + 1;
            /* Borrowed: another thread's key or value that it may collect
             * on its own is marked first (internal.h; the dict is not
             * mutated meanwhile, so it still holds them). */
            if (key != NULL) {
                obj_escape_check(k);
                *key = k;
            }
            if (value != NULL) {
                obj_escape_check(v);
                *value = v;
            }
            return 1;
        }
    }
    *pos = table_capacity(t);
    return 0;
}

int rc_dict_next_ref(rc_object *d, size_t *pos, rc_object **key, rc_object **value)
{
    if (!obj_is(d, &rc_dict_type))
        return err_type_int("rc_dict_next_ref", "a dict", d);
    if (pos == NULL)
        return err_int(RC_ERR_TYPE, "rc_dict_next_ref() pos must be a pointer, not NULL");
    obj_escape_check(d);   /* another thread's dict: internal.h */
    struct rc_dict *dict = (struct rc_dict *)d;
    bool mt = dict_mt();
    /* Under the lock (ft modes), the entry found is in the dict and its
     * references are held by it: taking ours is safe.  No object code runs
     * under the lock (only increments). */
    dict_lock(dict, mt);
    struct dict_table *t = dict_table_locked(dict);
    int found = 0;
    if (t != NULL) {
        for (size_t i = *pos; i <= t->mask; i++) {
            struct dict_entry *e = &t->entries[i];
            rc_object *k = entry_key_locked(e);
            if (!key_live(k))
                continue;
            rc_object *v = entry_value_locked(e);
            *pos = i + 1;
            if (key != NULL) {
                rc_incref(k);
                *key = k;
            }
            if (value != NULL) {
                rc_incref(v);
                *value = v;
            }
            found = 1;
            break;
        }
        if (!found)
            *pos = table_capacity(t);
    }
    dict_unlock(dict, mt);
    return found;
}

int rc_is_dict(rc_object *o)
{
    return obj_is(o, &rc_dict_type);
}
