/* runtime/dict.c: the dict type (a hash table with open addressing) and the
 * key protocol (obj_hash, obj_key_eq) that it uses.
 *
 * Layout: struct rc_dict (objects.h) holds `len`, the number of live
 * entries, and `table`, NULL until the first insertion (and again after a
 * clear), else one allocation holding a struct dict_table: its capacity (a
 * power of two, at least DICT_MINSIZE), its fill and the entries
 * {hash, key, value}.  A slot is
 *   empty      key == NULL (value NULL): ends every probe sequence;
 *   tombstone  key == DICT_TOMBSTONE (value NULL): a deleted entry; a probe
 *              goes past it, an insertion may reuse it;
 *   live       any other key, with a non-NULL value; the dict owns one
 *              reference to key and one to value, and hash == obj_hash(key).
 *
 * Invariants (checked by dict_check under RCGC_DEBUG):
 *   len + tombstones + empty == capacity
 *   fill == len + tombstones, and 3 * fill <= 2 * capacity (load factor
 *     <= 2/3 counting tombstones, so at least a third of the slots are
 *     empty and every probe sequence, which visits every slot, ends);
 *   no two live entries hold equal keys.
 * A resize builds a new table (a fresh allocation) holding only the live
 * entries, swaps the pointer and frees the old one: tombstones vanish and a
 * table is never reallocated in place, so a later lock-free reader can keep
 * reading an old table until a grace period frees it.
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
 * Thread rule (this slice): a dict is mutated by one thread at a time, the
 * caller's responsibility; reads may run concurrently with each other but
 * not with a mutation.  Concurrent safety (the object's lock byte for
 * writers, lock-free readers with deferred freeing of old tables) comes in
 * a later change.  Reference drops that may run arbitrary code (a value's
 * deallocation, its finalizer) happen only after the dict is consistent
 * again: an entry is unlinked before its references are dropped, and a
 * replaced value is dropped after the new one is stored.
 */
#define RCGC_BUILDING 1
#include "objects.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ the table */

#define DICT_MINSIZE   8      /* smallest capacity; a power of two */
#define PERTURB_SHIFT  5

/* KEY_MAX_DEPTH (objects.h): deepest tuple nesting a key may have.  Key
 * equality recurses into tuples, and this bounds its C stack; Python raises
 * RecursionError (a RuntimeError) for the same reason. */

struct dict_entry {
    uint64_t hash;
    rc_object *key;     /* NULL: empty; DICT_TOMBSTONE: deleted */
    rc_object *value;   /* NULL unless live */
};

struct dict_table {
    size_t mask;        /* capacity - 1 */
    size_t fill;        /* live entries + tombstones */
    struct dict_entry entries[];
};

/* The tombstone marker: an address no object has.  Never refcounted or
 * dereferenced. */
static rc_object dict_tombstone_marker;
#define DICT_TOMBSTONE (&dict_tombstone_marker)

static inline bool entry_live(const struct dict_entry *e)
{
    return e->key != NULL && e->key != DICT_TOMBSTONE;
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

/* A zeroed table of the given capacity (a power of two); NULL with
 * MemoryError. */
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

/* The entry holding key (hash is obj_hash(key)), or NULL if absent.  If
 * slot is not NULL it receives the slot where key would be inserted: the
 * first tombstone on key's probe sequence, else the empty slot that ended
 * it. */
static struct dict_entry *table_lookup(struct dict_table *t, rc_object *key,
                                       uint64_t hash, struct dict_entry **slot)
{
    size_t mask = t->mask;
    size_t i = (size_t)hash & mask;
    uint64_t perturb = hash;
    struct dict_entry *free_slot = NULL;
    for (;;) {
        struct dict_entry *e = &t->entries[i];
        if (e->key == NULL) {
            if (slot != NULL)
                *slot = free_slot != NULL ? free_slot : e;
            return NULL;
        }
        if (e->key == DICT_TOMBSTONE) {
            if (free_slot == NULL)
                free_slot = e;
        } else if (e->key == key || (e->hash == hash && obj_key_eq(e->key, key))) {
            return e;
        }
        perturb >>= PERTURB_SHIFT;
        i = (size_t)((i * 5 + 1 + perturb) & mask);
    }
}

/* Insert into a table known to hold no tombstones and no key equal to this
 * one (a fresh table being filled by a resize): the first empty slot. */
static void table_insert_clean(struct dict_table *t, uint64_t hash, rc_object *key,
                               rc_object *value)
{
    size_t mask = t->mask;
    size_t i = (size_t)hash & mask;
    uint64_t perturb = hash;
    while (t->entries[i].key != NULL) {
        perturb >>= PERTURB_SHIFT;
        i = (size_t)((i * 5 + 1 + perturb) & mask);
    }
    struct dict_entry *e = &t->entries[i];
    e->hash = hash;
    e->value = value;
    e->key = key;
    t->fill++;
}

#ifdef RCGC_DEBUG
static void dict_check(const struct rc_dict *d)
{
    const struct dict_table *t = d->table;
    if (t == NULL) {
        if (d->len != 0)
            rc_fatal("dict %p: len %zu with no table", (void *)d, d->len);
        return;
    }
    size_t live = 0, dead = 0, empty = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        const struct dict_entry *e = &t->entries[i];
        if (e->key == NULL)
            empty++;
        else if (e->key == DICT_TOMBSTONE)
            dead++;
        else if (e->value == NULL)
            rc_fatal("dict %p: live entry %zu has no value", (void *)d, i);
        else
            live++;
    }
    if (live != d->len || live + dead != t->fill || live + dead + empty != table_capacity(t) ||
        t->fill * 3 > table_capacity(t) * 2)
        rc_fatal("dict %p: broken table (len %zu, live %zu, tombstones %zu, "
                 "empty %zu, fill %zu, capacity %zu)",
                 (void *)d, d->len, live, dead, empty, t->fill, table_capacity(t));
}
#else
static inline void dict_check(const struct rc_dict *d) { (void)d; }
#endif

/* Replace d's table by a fresh one with room for d->len + 1 live entries,
 * moving the live entries over (their references move with them).  0, or
 * -1 with MemoryError and d unchanged. */
static int dict_resize(struct rc_dict *d)
{
    size_t cap = capacity_for(d->len + 1);
    if (cap == 0) {
        err_nomem();
        return -1;
    }
    struct dict_table *nt = table_new(cap);
    if (nt == NULL)
        return -1;
    struct dict_table *old = d->table;
    if (old != NULL) {
        for (size_t i = 0; i <= old->mask; i++) {
            struct dict_entry *e = &old->entries[i];
            if (entry_live(e))
                table_insert_clean(nt, e->hash, e->key, e->value);
        }
    }
    d->table = nt;
    /* Nothing reads a table without the dict being held (thread rule), so
     * the old one can go at once; lock-free readers will need a grace
     * period here. */
    mem_free(old);
    dict_check(d);
    return 0;
}

/* Detach d's whole table, leaving d empty and valid, then drop every
 * reference the table held and free it.  Drops may run arbitrary code
 * (deallocations, finalizers) that may even use d again: it sees an empty
 * dict, and what it inserts stays. */
static void dict_drop_all(struct rc_dict *d)
{
    dict_check(d);
    struct dict_table *t = d->table;
    d->table = NULL;
    d->len = 0;
    if (t == NULL)
        return;
    for (size_t i = 0; i <= t->mask; i++) {
        struct dict_entry *e = &t->entries[i];
        if (entry_live(e)) {
            rc_decref(e->key);
            rc_decref(e->value);
        }
    }
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
    if (t == &rc_list_type || t == &rc_dict_type) {
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

/* A bounded writer for messages: appends until the buffer is full, then
 * marks it truncated and ignores the rest. */
struct msgbuf {
    char *p;
    size_t cap, len;
    bool full;
};

static void mb_putc(struct msgbuf *mb, char c)
{
    if (mb->full)
        return;
    if (mb->len + 1 >= mb->cap) {
        mb->full = true;
        return;
    }
    mb->p[mb->len++] = c;
    mb->p[mb->len] = '\0';
}

static void mb_puts(struct msgbuf *mb, const char *s)
{
    while (*s != '\0' && !mb->full)
        mb_putc(mb, *s++);
}

static void mb_repr(struct msgbuf *mb, rc_object *o, int depth)
{
    if (mb->full)
        return;
    char tmp[64];
    if (o == NULL) {
        mb_puts(mb, "<NULL>");
    } else if (o->ob_type == &rc_int_type) {
        snprintf(tmp, sizeof tmp, "%" PRId64, ((struct rc_int *)o)->value);
        mb_puts(mb, tmp);
    } else if (o->ob_type == &rc_str_type) {
        struct rc_str *s = (struct rc_str *)o;
        mb_putc(mb, '\'');
        for (size_t i = 0; i < s->len && !mb->full; i++) {
            unsigned char c = (unsigned char)s->data[i];
            if (c == '\'' || c == '\\') {
                mb_putc(mb, '\\');
                mb_putc(mb, (char)c);
            } else if (c == '\n') {
                mb_puts(mb, "\\n");
            } else if (c == '\t') {
                mb_puts(mb, "\\t");
            } else if (c == '\r') {
                mb_puts(mb, "\\r");
            } else if (c < 0x20 || c == 0x7f) {
                snprintf(tmp, sizeof tmp, "\\x%02x", c);
                mb_puts(mb, tmp);
            } else {
                mb_putc(mb, (char)c);   /* printable ASCII and UTF-8 bytes */
            }
        }
        mb_putc(mb, '\'');
    } else if (o->ob_type == &rc_tuple_type) {
        struct rc_tuple *t = (struct rc_tuple *)o;
        if (depth >= KEY_MAX_DEPTH) {
            mb_puts(mb, "(...)");
            return;
        }
        mb_putc(mb, '(');
        for (size_t i = 0; i < t->n && !mb->full; i++) {
            if (i > 0)
                mb_puts(mb, ", ");
            mb_repr(mb, t->items[i], depth + 1);
        }
        if (t->n == 1)
            mb_putc(mb, ',');
        mb_putc(mb, ')');
    } else if (o->ob_type == &rc_none_type) {
        mb_puts(mb, "None");
    } else if (o->ob_type == &rc_bool_type) {
        mb_puts(mb, o == rc_true() ? "True" : "False");
    } else {
        snprintf(tmp, sizeof tmp, "<%.32s object at %p>", o->ob_type->name, (void *)o);
        mb_puts(mb, tmp);
    }
}

/* KeyError whose message is the key's repr, as Python's str(KeyError(k)). */
static void err_key(rc_object *key)
{
    char buf[200];
    struct msgbuf mb = {.p = buf, .cap = sizeof buf - 4, .len = 0, .full = false};
    buf[0] = '\0';
    mb_repr(&mb, key, 0);
    if (mb.full)
        strcpy(buf + mb.len, "...");
    err_set(RC_ERR_KEY, "%s", buf);
}

/* ------------------------------------------------------------ the type */

static int dict_traverse(rc_object *o, rc_visit_fn visit, void *arg)
{
    struct dict_table *t = ((struct rc_dict *)o)->table;
    if (t == NULL)
        return 0;
    for (size_t i = 0; i <= t->mask; i++) {
        struct dict_entry *e = &t->entries[i];
        if (entry_live(e)) {
            int r = visit(e->key, arg);
            if (r != 0)
                return r;
            r = visit(e->value, arg);
            if (r != 0)
                return r;
        }
    }
    return 0;
}

static void dict_clear_refs(rc_object *o)
{
    dict_drop_all((struct rc_dict *)o);
}

static void dict_dealloc(rc_object *o)
{
    dict_drop_all((struct rc_dict *)o);
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

/* ------------------------------------------------------------ public API */

/* Checks shared by the functions taking (dict, key): 0, or -1 with a
 * TypeError naming fn; on success *hash is the key's hash. */
static int check_dict_key(const char *fn, rc_object *d, rc_object *key, uint64_t *hash)
{
    if (!obj_is(d, &rc_dict_type))
        return err_type_int(fn, "a dict", d);
    if (key == NULL)
        return err_int(RC_ERR_TYPE, "%s() key must be an object, not NULL", fn);
    return obj_hash(key, hash);
}

rc_object *rc_dict_new(void)
{
    rc_object *o = obj_alloc(&rc_dict_type, sizeof(struct rc_dict));
    if (o == NULL)
        return NULL;
    /* obj_alloc zeroed table and len: an empty dict. */
    return o;
}

long rc_dict_len(rc_object *d)
{
    if (!obj_is(d, &rc_dict_type))
        return err_type_int("rc_dict_len", "a dict", d);
    return (long)((struct rc_dict *)d)->len;
}

int rc_dict_set(rc_object *d, rc_object *key, rc_object *value)
{
    uint64_t hash;
    if (check_dict_key("rc_dict_set", d, key, &hash) < 0)
        return -1;
    if (value == NULL)
        return err_int(RC_ERR_TYPE, "rc_dict_set() value must be an object, not NULL");
    struct rc_dict *dict = (struct rc_dict *)d;
    struct dict_entry *slot = NULL;
    struct dict_entry *e = NULL;
    if (dict->table != NULL)
        e = table_lookup(dict->table, key, hash, &slot);
    if (e != NULL) {
        /* Replace: keep the stored key; drop the old value last, since its
         * deallocation may run code that looks at this dict. */
        rc_object *old = e->value;
        rc_incref(value);
        e->value = value;
        rc_decref(old);
        return 0;
    }
    /* A new key.  Everything that can fail (the resize) comes before any
     * reference is taken, so a failure leaves the dict as it was. */
    if (dict->table == NULL || (slot->key == NULL && table_full(dict->table))) {
        if (dict_resize(dict) < 0)
            return -1;
        table_lookup(dict->table, key, hash, &slot);
    }
    rc_incref(key);
    rc_incref(value);
    if (slot->key == NULL)
        dict->table->fill++;   /* an empty slot; a reused tombstone was counted */
    slot->hash = hash;
    slot->value = value;
    slot->key = key;
    dict->len++;
    return 0;
}

rc_object *rc_dict_get(rc_object *d, rc_object *key)
{
    uint64_t hash;
    if (check_dict_key("rc_dict_get", d, key, &hash) < 0)
        return NULL;
    struct rc_dict *dict = (struct rc_dict *)d;
    struct dict_entry *e = dict->table != NULL ? table_lookup(dict->table, key, hash, NULL) : NULL;
    if (e == NULL) {
        err_key(key);
        return NULL;
    }
    rc_incref(e->value);
    return e->value;
}

int rc_dict_contains(rc_object *d, rc_object *key)
{
    uint64_t hash;
    if (check_dict_key("rc_dict_contains", d, key, &hash) < 0)
        return -1;
    struct rc_dict *dict = (struct rc_dict *)d;
    if (dict->table == NULL)
        return 0;
    return table_lookup(dict->table, key, hash, NULL) != NULL;
}

int rc_dict_del(rc_object *d, rc_object *key)
{
    uint64_t hash;
    if (check_dict_key("rc_dict_del", d, key, &hash) < 0)
        return -1;
    struct rc_dict *dict = (struct rc_dict *)d;
    struct dict_entry *e = dict->table != NULL ? table_lookup(dict->table, key, hash, NULL) : NULL;
    if (e == NULL) {
        err_key(key);
        return -1;
    }
    /* Unlink first (the slot becomes a tombstone: it stays in fill), then
     * drop: the drops may run code that looks at this dict. */
    rc_object *old_key = e->key, *old_value = e->value;
    e->key = DICT_TOMBSTONE;
    e->value = NULL;
    dict->len--;
    rc_decref(old_key);
    rc_decref(old_value);
    return 0;
}

int rc_dict_clear(rc_object *d)
{
    if (!obj_is(d, &rc_dict_type))
        return err_type_int("rc_dict_clear", "a dict", d);
    dict_drop_all((struct rc_dict *)d);
    return 0;
}

int rc_dict_next(rc_object *d, size_t *pos, rc_object **key, rc_object **value)
{
    if (!obj_is(d, &rc_dict_type))
        return err_type_int("rc_dict_next", "a dict", d);
    if (pos == NULL)
        return err_int(RC_ERR_TYPE, "rc_dict_next() pos must be a pointer, not NULL");
    struct dict_table *t = ((struct rc_dict *)d)->table;
    if (t == NULL)
        return 0;
    for (size_t i = *pos; i <= t->mask; i++) {
        struct dict_entry *e = &t->entries[i];
        if (entry_live(e)) {
            *pos = i + 1;
            if (key != NULL)
                *key = e->key;
            if (value != NULL)
                *value = e->value;
            return 1;
        }
    }
    *pos = table_capacity(t);
    return 0;
}

int rc_is_dict(rc_object *o)
{
    return obj_is(o, &rc_dict_type);
}
