/* runtime/str.c: the str type (immutable bytes, struct rc_str in
 * objects.h), the byte hash that str and dict share, and interned strings.
 *
 * Invariant: a str's len, hash and data are written once, by its creator,
 * before the object is published, and never again; data[len] == '\0' and
 * hash == hash_bytes(data, len).  So any thread may read a str it holds a
 * reference to without synchronisation.
 *
 * Interning: rt->interned is an open-addressed set of interned strs keyed
 * by content, under rt->mu.  Every str in it is immortal (made so before it
 * is inserted, so a thread that finds it never sees it mortal) and carries
 * RC_OBF_INTERNED; the set holds borrowed pointers, the objects themselves
 * are in rt->immortals and released by obj_release_immortals at shutdown,
 * before str_intern_fini frees the set.  Lock rule: no object is allocated
 * and rc_make_immortal is not called while rt->mu is held (obj_alloc runs
 * a safepoint, rc_make_immortal takes rt->mu); the set's own memory is
 * allocated under rt->mu, which is a plain mem_alloc.  A miss therefore
 * creates the str unlocked and inserts it under the lock after looking
 * again: if another thread inserted the same content meanwhile, that one
 * is returned and ours stays an unreachable immortal until shutdown (at
 * most one per racing thread, and only on a first intern).
 */
#define RCGC_BUILDING 1
#include <limits.h>
#include <string.h>

#include "objects.h"

/* ------------------------------------------------------------------ hash */

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* Eight bytes at a time: each word is spread upward by an odd multiply,
 * folded in, rotated (so high bits reach the low ones) and multiplied
 * again; the length seeds the state so "a" and "a\0" differ, and the tail
 * (zero-padded) is always mixed in.  hash_int (objects.h) is the final
 * avalanche: every input bit affects every output bit.  Not a keyed hash:
 * no defence against chosen-collision inputs. */
uint64_t hash_bytes(const void *p, size_t n)
{
    const uint64_t k1 = 0x9e3779b97f4a7c15u;  /* 2^64 / golden ratio, odd */
    const uint64_t k2 = 0xd6e8feb86659fd93u;  /* odd, dense bit pattern */
    const unsigned char *s = p;
    uint64_t h = 0x6a09e667f3bcc909u ^ ((uint64_t)n * k1);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);   /* native byte order: hashes are per process */
        h = rotl64(h ^ (w * k2), 29) * k1;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)s[i] << (8 * i);
    h = rotl64(h ^ (w * k2), 29) * k1;
    return hash_int((int64_t)h);
}

/* ------------------------------------------------------------------- str */

/* Longest str: its length must fit rc_str_len's long, and its size a
 * size_t. */
#define STR_MAX_LEN ((size_t)LONG_MAX - offsetof(struct rc_str, data) - 1)

static void str_dealloc(rc_object *o)
{
    obj_free(o);
}

const rc_type rc_str_type = {
    .name = "str",
    .flags = RC_TYPE_FILLS_BODY,   /* str_alloc sets len, data, hash */
    .basicsize = sizeof(struct rc_str),
    .dealloc = str_dealloc,
};

/* A new str holding a copy of s[0..len) (s may be NULL when len is 0). */
static struct rc_str *str_alloc(const char *fn, const char *s, size_t len)
{
    if (len > STR_MAX_LEN)
        return err_null(RC_ERR_MEMORY, "%s(): length %zu is too large", fn, len);
    struct rc_str *str =
        (struct rc_str *)obj_alloc(&rc_str_type, offsetof(struct rc_str, data) + len + 1);
    if (str == NULL)
        return NULL;
    str->len = len;
    if (len > 0)
        memcpy(str->data, s, len);
    str->data[len] = '\0';
    str->hash = hash_bytes(str->data, len);
    return str;
}

rc_object *rc_str_new(const char *s)
{
    if (s == NULL)
        return err_null(RC_ERR_TYPE, "rc_str_new() argument must be a C string, not NULL");
    struct rc_str *str = str_alloc("rc_str_new", s, strlen(s));
    return str != NULL ? &str->ob : NULL;
}

rc_object *rc_str_new_len(const char *s, size_t len)
{
    if (s == NULL && len > 0)
        return err_null(RC_ERR_TYPE,
                        "rc_str_new_len() argument must be a byte buffer, not NULL "
                        "(length %zu)", len);
    struct rc_str *str = str_alloc("rc_str_new_len", s, len);
    return str != NULL ? &str->ob : NULL;
}

const char *rc_str_data(rc_object *o)
{
    if (!obj_is(o, &rc_str_type))
        return err_type_null("rc_str_data", "a str", o);
    return ((struct rc_str *)o)->data;
}

long rc_str_len(rc_object *o)
{
    if (!obj_is(o, &rc_str_type))
        return err_type_int("rc_str_len", "a str", o);
    return (long)((struct rc_str *)o)->len;
}

int rc_is_str(rc_object *o)
{
    return obj_is(o, &rc_str_type);
}

/* ------------------------------------------------------------- interning */

/* Open addressing, linear probing; cap is a power of two and
 * len <= cap * 2 / 3, so a probe always ends at an empty slot.  Entries
 * are never removed.  Every field under rt->mu. */
struct str_intern_table {
    size_t cap;
    size_t len;
    struct rc_str **slots;   /* borrowed (the objects are immortal) */
};

#define INTERN_MIN_CAP 64

/* The interned str with these bytes, or NULL.  Under rt->mu. */
static struct rc_str *intern_find_locked(const struct str_intern_table *t,
                                         const char *s, size_t len, uint64_t hash)
{
    if (t == NULL)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        struct rc_str *e = t->slots[i];
        if (e == NULL)
            return NULL;
        if (e->hash == hash && e->len == len && memcmp(e->data, s, len) == 0)
            return e;
    }
}

static void intern_put_locked(struct rc_str **slots, size_t cap, struct rc_str *str)
{
    size_t mask = cap - 1;
    size_t i = (size_t)str->hash & mask;
    while (slots[i] != NULL)
        i = (i + 1) & mask;
    slots[i] = str;
}

/* Make room for one more entry.  0, or -1 with MemoryError.  Under
 * rt->mu (raw memory only: no object code runs). */
static int intern_reserve_locked(struct rc_runtime *rt)
{
    struct str_intern_table *t = rt->interned;
    if (t == NULL) {
        t = mem_alloc(sizeof *t);
        if (t == NULL)
            return -1;
        t->slots = mem_calloc(INTERN_MIN_CAP, sizeof *t->slots);
        if (t->slots == NULL) {
            mem_free(t);
            return -1;
        }
        t->cap = INTERN_MIN_CAP;
        t->len = 0;
        rt->interned = t;
        return 0;
    }
    if ((t->len + 1) * 3 <= t->cap * 2)
        return 0;
    size_t cap = t->cap * 2;
    struct rc_str **slots = mem_calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i] != NULL)
            intern_put_locked(slots, cap, t->slots[i]);
    mem_free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

rc_object *rc_str_intern(const char *s)
{
    if (s == NULL)
        return err_null(RC_ERR_TYPE, "rc_str_intern() argument must be a C string, not NULL");
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL)
        return err_no_thread_null("rc_str_intern");
    struct rc_runtime *rt = ts->rt;
    size_t len = strlen(s);
    uint64_t hash = hash_bytes(s, len);

    /* The common case: already interned.  Reserve room now, so that after
     * the unlocked creation the insert can fail only if other threads
     * used up the room meanwhile and the set cannot grow. */
    pthread_mutex_lock(&rt->mu);
    struct rc_str *found = intern_find_locked(rt->interned, s, len, hash);
    int rc = found != NULL ? 0 : intern_reserve_locked(rt);
    pthread_mutex_unlock(&rt->mu);
    if (found != NULL)
        return &found->ob;
    if (rc < 0)
        return NULL;

    /* Create it and make it immortal with no lock held. */
    struct rc_str *str = str_alloc("rc_str_intern", s, len);
    if (str == NULL)
        return NULL;
    str->ob.ob_flags |= RC_OBF_INTERNED;   /* unpublished */
    if (rc_make_immortal(&str->ob) < 0) {
        rc_decref(&str->ob);   /* rc_make_immortal keeps it on failure */
        return NULL;
    }

    /* Publish it, unless another thread was faster.  The mutex's release
     * (unlock here) pairs with the acquire (lock) of a thread that finds
     * it, so that thread sees the complete, immortal object. */
    pthread_mutex_lock(&rt->mu);
    found = intern_find_locked(rt->interned, s, len, hash);
    if (found == NULL) {
        rc = intern_reserve_locked(rt);
        if (rc == 0) {
            struct str_intern_table *t = rt->interned;
            intern_put_locked(t->slots, t->cap, str);
            t->len++;
            found = str;
        }
    }
    pthread_mutex_unlock(&rt->mu);
    /* On a lost race or a failed insert, str stays immortal and
     * unreachable; obj_release_immortals frees it at shutdown. */
    return found != NULL ? &found->ob : NULL;
}

void str_intern_fini(struct rc_runtime *rt)
{
    /* Shutdown, single thread: the interned objects were already released
     * by obj_release_immortals; only the set itself is left. */
    struct str_intern_table *t = rt->interned;
    if (t == NULL)
        return;
    mem_free(t->slots);
    mem_free(t);
    rt->interned = NULL;
}
