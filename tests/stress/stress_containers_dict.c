/* tests/stress/stress_containers_dict.c: one dict shared by threads, in one
 * mode (--mode).  In the ft modes readers take no lock (rc_dict_get,
 * rc_dict_contains, rc_dict_len) while writers set, replace and delete
 * under the dict's lock; in gil mode the same threads take turns at
 * safepoints.
 *   keys     NKEYS ids, each an int (1000000 + id), a str "key-<id>" or a
 *            tuple (2000000 + id, "tk") by id % 3; a thread uses the shared
 *            canonical key object of an id, a key of its own made once, or
 *            a fresh equal key (so lookups compare by identity, by value,
 *            and against stored keys that die meanwhile);
 *   values   made fresh for every set, with a serial number: a str
 *            "val-<id>-<serial>", or an instance Val(serial, id,
 *            "val-<id>-<serial>") whose finalizer clears alive[serial];
 *            every value read is checked against the key it was read
 *            under: type, content, and (instances) not finalized.  A Val's
 *            int and str slots are not marked RC_GC_SHARED (instance slots
 *            do not mark), so they are freed at once when their Val dies:
 *            ASan sees any read of a dead Val's slots;
 *   writers  set (55%), delete (37%), get (7%) and, rarely, clear: the
 *            table grows, fills with tombstones, is rebuilt, shrinks to
 *            nothing and grows again while readers probe it;
 *   readers  get (60%), contains (30%), len (10%) with random keys, and
 *            keep a few values across safepoints to check them again;
 *   phases   "wide": NKEYS ids, a big table that grows, churns and is
 *            cleared; "hot": NHOT ids in the smallest tables, so a deleted
 *            slot is soon reused by another key while readers probe it (a
 *            read that returned the new key's value would fail the check);
 *   check    after each phase every entry's value matches its key, the
 *            count matches rc_dict_len, stored keys and values have exact
 *            counts; once the dict is dropped every Val was finalized and
 *            rc_live_objects() is back where it was; at the end
 *            rc_runtime_free reports no leak.
 * Usage: stress_containers_dict [--mode M] [--threads N] [--iterations K]
 *        [--seed S]
 * Threaded runs are not exactly repeatable; the seed fixes each thread's
 * choices, not the interleaving.
 */
#include "stress.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int nthreads = 4;
static long iterations = 200000;
static uint64_t seed = 12345;

#define NKEYS 768
#define HELD 8

#define NHOT 6
static rc_object *canon[NKEYS];     /* main's key objects, shared */
static rc_type *val_type;           /* Val(serial, id, "val-<id>-<serial>") */
static _Atomic uint8_t *alive;      /* Val serials not yet finalized */
static long serials_per_writer;

/* ------------------------------------------------------------------ keys */

static rc_object *make_key(int id)
{
    char buf[32];
    switch (id % 3) {
    case 0:
        return rc_int_new(1000000 + id);
    case 1:
        snprintf(buf, sizeof buf, "key-%d", id);
        return rc_str_new(buf);
    default: {
        rc_object *n = rc_int_new(2000000 + id), *s = rc_str_new("tk");
        rc_object *items[2] = {n, s};
        rc_object *t = (n != NULL && s != NULL) ? rc_tuple_new(2, items) : NULL;
        rc_decref(n);
        rc_decref(s);
        return t;
    }
    }
}

/* The id a stored key stands for, or -1. */
static int key_id(rc_object *k)
{
    if (rc_is_int(k))
        return (int)(rc_int_value(k) - 1000000);
    if (rc_is_str(k)) {
        const char *s = rc_str_data(k);
        return strncmp(s, "key-", 4) == 0 ? atoi(s + 4) : -1;
    }
    if (rc_is_tuple(k) && rc_tuple_len(k) == 2) {
        rc_object *n = rc_tuple_get(k, 0);
        int id = rc_is_int(n) ? (int)(rc_int_value(n) - 2000000) : -1;
        rc_decref(n);
        return id;
    }
    return -1;
}

/* ---------------------------------------------------------------- values */

static void val_finalize(rc_object *self)
{
    rc_object *n = rc_slot_get(self, 0);
    if (rc_is_int(n))
        atomic_store(&alive[rc_int_value(n)], 0);
    rc_decref(n);
}

static rc_object *make_value(int id, long serial)
{
    char buf[48];
    snprintf(buf, sizeof buf, "val-%d-%ld", id, serial);
    if (serial % 2 == 0)
        return rc_str_new(buf);
    rc_object *o = rc_instance_new(val_type);
    rc_object *sn = rc_int_new(serial), *n = rc_int_new(id), *s = rc_str_new(buf);
    if (o != NULL && sn != NULL && n != NULL && s != NULL) {
        atomic_store(&alive[serial], 1);
        rc_slot_set(o, 0, sn);
        rc_slot_set(o, 1, n);
        rc_slot_set(o, 2, s);
    } else {
        rc_decref(o);
        o = NULL;
    }
    rc_decref(sn);
    rc_decref(n);
    rc_decref(s);
    return o;
}

/* Is s "val-<id>-<serial>"?  The serial goes to *serial. */
static int parse_value_text(const char *s, int id, long *serial)
{
    char prefix[32];
    int n = snprintf(prefix, sizeof prefix, "val-%d-", id);
    if (strncmp(s, prefix, (size_t)n) != 0)
        return 0;
    char *end;
    *serial = strtol(s + n, &end, 10);
    return end != s + n && *end == '\0';
}

/* Is v, read under key id and held by the caller, a valid value for it? */
static int check_value(rc_object *v, int id)
{
    long serial;
    if (rc_is_str(v))
        return parse_value_text(rc_str_data(v), id, &serial) && serial % 2 == 0;
    if (rc_type_of(v) != val_type)
        return 0;
    rc_object *sn = rc_slot_get(v, 0), *n = rc_slot_get(v, 1), *s = rc_slot_get(v, 2);
    int ok = rc_is_int(sn) && rc_is_int(n) && rc_is_str(s) && rc_int_value(n) == id &&
             parse_value_text(rc_str_data(s), id, &serial) && serial == rc_int_value(sn) &&
             serial % 2 == 1 && atomic_load(&alive[serial]) == 1;
    rc_decref(sn);
    rc_decref(n);
    rc_decref(s);
    return ok;
}

/* --------------------------------------------------------------- workers */

struct worker {
    int index;
    rc_object *d;   /* the dict of this phase */
    int nkeys;      /* ids 0 .. nkeys-1 */
    long sets, dels, gets, hits, contains, lens, clears;
};

/* The key for id: the canonical one, the thread's own, or a fresh one
 * (a new reference in every case). */
static rc_object *pick_key(rc_object **own, int id, uint64_t r)
{
    rc_object *k;
    switch (r % 3) {
    case 0:
        k = canon[id];
        rc_incref(k);
        return k;
    case 1:
        k = own[id];
        rc_incref(k);
        return k;
    default:
        return make_key(id);
    }
}

static void make_own_keys(rc_object **own)
{
    for (int id = 0; id < NKEYS; id++) {
        own[id] = make_key(id);
        CHECK(own[id] != NULL, "%s", rc_error_message());
    }
}

static void drop_own_keys(rc_object **own)
{
    for (int id = 0; id < NKEYS; id++)
        rc_decref(own[id]);
}

static void check_get(struct worker *w, rc_object *key, int id, rc_object **held, int *held_id,
                      int *nheld)
{
    rc_object *v = rc_dict_get(w->d, key);
    w->gets++;
    if (v == NULL) {
        CHECK(rc_error_occurred() == RC_ERR_KEY, "get: error %d: %s", rc_error_occurred(),
              rc_error_message());
        rc_error_clear();
        return;
    }
    w->hits++;
    CHECK(check_value(v, id), "get: bad value of type %s for key %d",
          rc_type_name(rc_type_of(v)), id);
    if (held != NULL && *nheld < HELD) {
        held[*nheld] = v;
        held_id[(*nheld)++] = id;
    } else {
        rc_decref(v);
    }
}

static void writer(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 1000003u + (uint64_t)w->index + 1;
    rc_object *own[NKEYS];
    make_own_keys(own);
    long serial = (long)w->index * serials_per_writer;
    for (long i = 0; i < iterations; i++) {
        uint64_t r = rng_next(&rng);
        int id = (int)(r % (uint64_t)w->nkeys);
        unsigned op = (unsigned)((r >> 16) % 1000);
        rc_object *key = pick_key(own, id, r >> 32);
        if (key == NULL) {
            CHECK(0, "no key: %s", rc_error_message());
            continue;
        }
        if (op < 550) {
            rc_object *v = make_value(id, serial++);
            CHECK(v != NULL && rc_dict_set(w->d, key, v) == 0, "set: %s", rc_error_message());
            rc_decref(v);
            w->sets++;
        } else if (op < 920) {
            if (rc_dict_del(w->d, key) < 0) {
                CHECK(rc_error_occurred() == RC_ERR_KEY, "del: %s", rc_error_message());
                rc_error_clear();
            }
            w->dels++;
        } else if (op < 999 || (r >> 48) % 8 != 0) {
            check_get(w, key, id, NULL, NULL, NULL);
        } else {
            CHECK(rc_dict_clear(w->d) == 0, "clear: %s", rc_error_message());
            w->clears++;
        }
        rc_decref(key);
        if ((i & 63) == 0)
            rc_safepoint();
    }
    drop_own_keys(own);
}

static void reader(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 1000003u + (uint64_t)w->index + 1;
    rc_object *own[NKEYS];
    make_own_keys(own);
    rc_object *held[HELD];
    int held_id[HELD], nheld = 0;
    for (long i = 0; i < iterations; i++) {
        uint64_t r = rng_next(&rng);
        int id = (int)(r % (uint64_t)w->nkeys);
        unsigned op = (unsigned)((r >> 16) % 10);
        if (op == 9) {
            long len = rc_dict_len(w->d);
            CHECK(len >= 0 && len <= w->nkeys, "len %ld", len);
            w->lens++;
        } else {
            rc_object *key = pick_key(own, id, r >> 32);
            if (key == NULL) {
                CHECK(0, "no key: %s", rc_error_message());
                continue;
            }
            if (op < 6) {
                check_get(w, key, id, held, held_id, &nheld);
            } else {
                int c = rc_dict_contains(w->d, key);
                CHECK(c == 0 || c == 1, "contains: %d: %s", c, rc_error_message());
                w->contains++;
            }
            rc_decref(key);
        }
        if ((i & 63) == 0) {
            rc_safepoint();
            /* Held values stay valid across safepoints (and the
             * quiescent states they report). */
            for (int h = 0; h < nheld; h++)
                CHECK(check_value(held[h], held_id[h]), "held value for key %d changed",
                      held_id[h]);
            if (nheld > 0 && (r >> 60) % 2 == 0)
                rc_decref(held[--nheld]);
        }
    }
    while (nheld > 0)
        rc_decref(held[--nheld]);
    drop_own_keys(own);
}

/* ------------------------------------------------------------- phases */

/* With the threads joined: every entry's value matches its key, counts
 * are exact. */
static void check_final(rc_object *d, int nkeys)
{
    long count = 0;
    int stored_canon[NKEYS] = {0};
    int seen[NKEYS] = {0};
    size_t pos = 0;
    rc_object *k, *v;
    while (rc_dict_next(d, &pos, &k, &v) == 1) {
        int id = key_id(k);
        count++;
        if (id < 0 || id >= nkeys) {
            CHECK(0, "stored key of type %s has no id", rc_type_name(rc_type_of(k)));
            continue;
        }
        CHECK(!seen[id], "key %d stored twice", id);
        seen[id] = 1;
        stored_canon[id] = k == canon[id];
        CHECK(check_value(v, id), "stored value for key %d is bad", id);
        CHECK(rc_refcount(v) == 1, "value for key %d has count %ld", id, (long)rc_refcount(v));
        if (k != canon[id])
            CHECK(rc_refcount(k) == 1, "key %d has count %ld", id, (long)rc_refcount(k));
    }
    CHECK(count == rc_dict_len(d), "iterated %ld entries, len %ld", count, rc_dict_len(d));
    for (int id = 0; id < nkeys; id++) {
        CHECK(rc_dict_contains(d, canon[id]) == seen[id], "contains disagrees for key %d", id);
        long want = 1 + stored_canon[id];
        CHECK(rc_refcount(canon[id]) == want, "canonical key %d has count %ld, want %ld", id,
              (long)rc_refcount(canon[id]), want);
    }
    printf("  final: %ld entries\n", count);
}

/* One phase on a fresh dict over ids 0 .. nkeys-1: run the threads, check,
 * drop the dict; every value must then be finalized (serials are reused by
 * the next phase). */
static void run_phase(const char *name, int nkeys, int nwriters)
{
    rc_object *d = rc_dict_new();
    CHECK(d != NULL, "%s", rc_error_message());
    rc_thread *t[64];
    struct worker w[64];
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){.index = i, .d = d, .nkeys = nkeys};
        t[i] = rc_thread_start(i < nwriters ? writer : reader, &w[i]);
        CHECK(t[i] != NULL, "%s", rc_error_message());
    }
    struct worker sum = {0};
    for (int i = 0; i < nthreads; i++) {
        CHECK(rc_thread_join(t[i]) == 0, "%s", rc_error_message());
        sum.sets += w[i].sets;
        sum.dels += w[i].dels;
        sum.gets += w[i].gets;
        sum.hits += w[i].hits;
        sum.contains += w[i].contains;
        sum.lens += w[i].lens;
        sum.clears += w[i].clears;
    }
    rc_safepoint();   /* merge anything queued to us */
    printf("%s (%d keys): sets %ld, dels %ld, clears %ld, gets %ld (hits %ld), "
           "contains %ld, lens %ld\n",
           name, nkeys, sum.sets, sum.dels, sum.clears, sum.gets, sum.hits, sum.contains,
           sum.lens);
    CHECK(sum.hits > 0 && sum.hits < sum.gets, "%s: hits %ld of %ld gets", name, sum.hits,
          sum.gets);
    check_final(d, nkeys);
    rc_decref(d);
    long still_alive = 0;
    for (long s = 0; s < (long)nwriters * serials_per_writer; s++)
        still_alive += atomic_load(&alive[s]);
    CHECK(still_alive == 0, "%s: %ld values never finalized", name, still_alive);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    struct stress_args args = {.threads = nthreads, .iterations = iterations, .seed = seed};
    stress_parse_args(argc, argv, 2, &args);
    rc_mode mode = args.mode;
    nthreads = args.threads;
    iterations = args.iterations;
    seed = args.seed;
    int nwriters = nthreads / 2, nreaders = nthreads - nwriters;
    printf("%d writers, %d readers\n", nwriters, nreaders);
    serials_per_writer = iterations + 1;
    alive = calloc((size_t)nwriters * (size_t)serials_per_writer, sizeof *alive);
    if (alive == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    rc_runtime *rt = stress_runtime_new(mode);
    val_type = rc_type_new("Val", 3, val_finalize);
    size_t base = rc_live_objects();
    for (int id = 0; id < NKEYS; id++) {
        canon[id] = make_key(id);
        CHECK(canon[id] != NULL, "%s", rc_error_message());
    }
    size_t with_keys = rc_live_objects();
    /* wide: many keys, a big table that grows, churns and is cleared;
     * hot: a handful of keys in the smallest tables, so deleted slots are
     * reused by other keys while readers probe them. */
    run_phase("wide", NKEYS, nwriters);
    CHECK(rc_live_objects() == with_keys, "wide: live %zu, expected %zu", rc_live_objects(),
          with_keys);
    run_phase("hot", NHOT, nwriters);
    for (int id = 0; id < NKEYS; id++)
        rc_decref(canon[id]);
    CHECK(rc_live_objects() == base, "live %zu, expected %zu", rc_live_objects(), base);
    long leaked = rc_runtime_free(rt);
    CHECK(leaked == 0, "rc_runtime_free reported %ld leaked", leaked);
    free(alive);
    int passed = stress_failed() == 0;
    printf("%d passed, %d failed\n", passed, !passed);
    return passed ? 0 : 1;
}
