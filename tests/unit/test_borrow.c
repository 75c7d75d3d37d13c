/* tests/unit/test_borrow.c: borrowed container reads (rc_list_get_borrowed,
 * rc_dict_get_borrowed) and rc_try_incref, docs/threads.md [thr.borrow].
 *
 * Single thread: a borrowed read returns the very object rc_list_get /
 * rc_dict_get would, writes none of its counts (the raw header fields are
 * compared), reports the same errors, and several borrows may be held at
 * once.  rc_try_incref takes a reference to a live object, refuses a dead
 * one (ft modes, where a dead shared object's memory outlives the borrow),
 * and in ft mode refuses an object another thread owns whose shared count
 * is 0 (it cannot tell it from dying), until an rc_list_get that had to
 * take the lock (its own lock-free try refused for the same reason) has
 * marked it MAYBE_WEAKREF.
 * Threads: a borrowed read from another thread while the main thread holds
 * the container's lock is served without it and leaves the items' counts
 * untouched (ft modes); and bounded stresses, every mode: a writer keeps
 * replacing the items of a list (and the values of a dict), clearing and
 * refilling it, while readers borrow and check that every value is one the
 * writer stored at that index (key), never older than one they saw before,
 * and now and then take a reference with rc_try_incref (in ft mode after
 * an rc_list_get has marked the item, so that the try races the writer's
 * drop); and a writer moves a list's items (insert and pop at the front)
 * while readers read index -1 and -2 (rc_list_get, rc_list_get_borrowed)
 * and check that each item read was at that position in a state the
 * writer published during the read.
 */
#define RCGC_BUILDING 1   /* raw header fields, the container lock byte */
#include "harness.h"
#include "lock.h"
#include "objects.h"

#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The raw counts: a borrowed read must leave all three as they were. */
struct counts {
    uintptr_t tid;
    uint32_t local;
    intptr_t shared;
};

static struct counts counts_of(rc_object *o)
{
    return (struct counts){atomic_load(&o->ob_tid), atomic_load(&o->ob_ref_local),
                           atomic_load(&o->ob_ref_shared)};
}

static void assert_counts_equal(struct counts a, struct counts b)
{
    assert_int_equal(a.tid, b.tid);
    assert_int_equal(a.local, b.local);
    assert_int_equal(a.shared, b.shared);
}

static rc_object *new_int(int64_t v)
{
    rc_object *x = rc_int_new(v);
    assert_non_null(x);
    return x;
}

static void append_new(rc_object *l, rc_object *x)
{
    assert_non_null(x);
    assert_int_equal(0, rc_list_append(l, x));
    rc_decref(x);
}

/* ------------------------------------------------------- single thread */

enum { NB = 6 };

/* A list of: a mortal int, a str, None, a small (immortal) int, a list, a
 * tuple; the list holds the only reference to each mortal one. */
static rc_object *mixed_list(void)
{
    rc_object *l = rc_list_new();
    assert_non_null(l);
    append_new(l, new_int(1234567));
    append_new(l, rc_str_new("borrowed"));
    append_new(l, rc_none());
    append_new(l, new_int(7));
    append_new(l, rc_list_new());
    rc_object *two[2] = {rc_none(), rc_true()};
    append_new(l, rc_tuple_new(2, two));
    return l;
}

static void test_list_borrowed_is_the_item(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    rc_object *l = mixed_list();
    for (long i = -NB; i < NB; i++) {
        rc_object *ref = rc_list_get(l, i);
        assert_non_null(ref);
        struct counts before = counts_of(ref);
        intptr_t rc_before = rc_refcount(ref);
        rc_object *b = rc_list_get_borrowed(l, i);
        assert_ptr_equal(ref, b);
        assert_counts_equal(before, counts_of(b));
        assert_int_equal(rc_before, rc_refcount(b));
        rc_decref(ref);
    }
    /* What a borrower may read: immutable content. */
    assert_int_equal(1234567, rc_int_value(rc_list_get_borrowed(l, 0)));
    assert_string_equal("borrowed", rc_str_data(rc_list_get_borrowed(l, 1)));
    assert_int_equal(8, rc_str_len(rc_list_get_borrowed(l, -5)));
    assert_ptr_equal(rc_none(), rc_list_get_borrowed(l, 2));
    assert_int_equal(1, rc_is_immortal(rc_list_get_borrowed(l, 3)));
    assert_int_equal(1, rc_is_list(rc_list_get_borrowed(l, 4)));
    /* Each mortal item is held by the list alone: nothing was left behind. */
    assert_int_equal(1, rc_refcount(rc_list_get_borrowed(l, 0)));
    assert_int_equal(1, rc_refcount(rc_list_get_borrowed(l, 1)));
    assert_int_equal(1, rc_refcount(rc_list_get_borrowed(l, 4)));
    assert_int_equal(1, rc_refcount(rc_list_get_borrowed(l, 5)));
    assert_false(rc_error_occurred());
    rc_decref(l);
    assert_int_equal(live, rc_live_objects());
}

static void test_list_borrowed_errors(void **state)
{
    (void)state;
    rc_object *l = rc_list_new();
    assert_null(rc_list_get_borrowed(l, 0));      /* empty */
    assert_error(RC_ERR_INDEX);
    assert_null(rc_list_get_borrowed(l, -1));
    assert_error(RC_ERR_INDEX);
    append_new(l, new_int(100000));
    append_new(l, new_int(100001));
    assert_null(rc_list_get_borrowed(l, 2));
    assert_int_equal(RC_ERR_INDEX, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), "rc_list_get_borrowed"));
    rc_error_clear();
    assert_null(rc_list_get_borrowed(l, -3));
    assert_error(RC_ERR_INDEX);
    assert_null(rc_list_get_borrowed(l, LONG_MAX));
    assert_error(RC_ERR_INDEX);
    assert_null(rc_list_get_borrowed(l, LONG_MIN));
    assert_error(RC_ERR_INDEX);
    assert_int_equal(100001, rc_int_value(rc_list_get_borrowed(l, -1)));
    assert_int_equal(100000, rc_int_value(rc_list_get_borrowed(l, -2)));

    assert_null(rc_list_get_borrowed(NULL, 0));
    assert_int_equal(RC_ERR_TYPE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), "rc_list_get_borrowed"));
    assert_non_null(strstr(rc_error_message(), "NULL"));
    rc_error_clear();
    rc_object *d = rc_dict_new();
    assert_null(rc_list_get_borrowed(d, 0));
    assert_int_equal(RC_ERR_TYPE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), "dict"));
    rc_error_clear();
    assert_null(rc_list_get_borrowed(rc_none(), 0));
    assert_error(RC_ERR_TYPE);

    /* The list is as it was. */
    assert_int_equal(2, rc_list_len(l));
    assert_int_equal(1, rc_refcount(rc_list_get_borrowed(l, 0)));
    rc_decref(d);
    rc_decref(l);
}

/* Borrows compose: a borrowed read does not end earlier borrows, so
 * several may be held and compared at once, and a borrowed int may serve
 * as a key. */
static void test_several_borrows_at_once(void **state)
{
    (void)state;
    rc_object *l = rc_list_new();
    rc_object *d = rc_dict_new();
    for (int i = 0; i < 100; i++) {
        rc_object *k = new_int(5000 + i);
        rc_object *v = new_int(9000 + i);
        assert_int_equal(0, rc_list_append(l, k));
        assert_int_equal(0, rc_dict_set(d, k, v));
        rc_decref(k);
        rc_decref(v);
    }
    rc_object *keys[100], *values[100];
    for (int i = 0; i < 100; i++) {
        keys[i] = rc_list_get_borrowed(l, i);
        values[i] = rc_dict_get_borrowed(d, keys[i]);
    }
    for (int i = 0; i < 100; i++) {
        assert_int_equal(5000 + i, rc_int_value(keys[i]));
        assert_int_equal(9000 + i, rc_int_value(values[i]));
        assert_int_equal(2, rc_refcount(keys[i]));    /* the list's and the dict's */
        assert_int_equal(1, rc_refcount(values[i]));  /* the dict's */
    }
    rc_decref(d);
    rc_decref(l);
}

static void test_dict_borrowed(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    rc_object *d = rc_dict_new();
    rc_object *k = rc_str_new("key");
    rc_object *v = new_int(424242);
    assert_int_equal(0, rc_dict_set(d, k, v));
    rc_object *items[2] = {new_int(300000), rc_str_new("t")};
    rc_object *tk = rc_tuple_new(2, items);   /* a tuple key: compared by value */
    rc_decref(items[0]);
    rc_decref(items[1]);
    rc_object *tv = rc_list_new();
    assert_int_equal(0, rc_dict_set(d, tk, tv));

    struct counts before = counts_of(v);
    rc_object *b = rc_dict_get_borrowed(d, k);
    assert_ptr_equal(v, b);
    assert_counts_equal(before, counts_of(v));
    assert_int_equal(2, rc_refcount(v));   /* ours and the dict's */

    /* Equal keys that are other objects find the same values. */
    rc_object *k2 = rc_str_new("key");
    assert_ptr_equal(v, rc_dict_get_borrowed(d, k2));
    rc_object *items2[2] = {new_int(300000), rc_str_new("t")};
    rc_object *tk2 = rc_tuple_new(2, items2);
    rc_decref(items2[0]);
    rc_decref(items2[1]);
    before = counts_of(tv);
    struct counts tk_before = counts_of(tk);
    assert_ptr_equal(tv, rc_dict_get_borrowed(d, tk2));
    assert_counts_equal(before, counts_of(tv));
    assert_counts_equal(tk_before, counts_of(tk));   /* the stored key, too */

    /* Errors, as rc_dict_get's. */
    rc_object *missing = rc_str_new("missing");
    assert_null(rc_dict_get_borrowed(d, missing));
    assert_int_equal(RC_ERR_KEY, rc_error_occurred());
    assert_string_equal("'missing'", rc_error_message());
    rc_error_clear();
    assert_null(rc_dict_get_borrowed(d, NULL));
    assert_int_equal(RC_ERR_TYPE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), "rc_dict_get_borrowed"));
    rc_error_clear();
    assert_null(rc_dict_get_borrowed(NULL, k));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_dict_get_borrowed(tv, k));   /* a list is not a dict */
    assert_error(RC_ERR_TYPE);
    assert_null(rc_dict_get_borrowed(d, tv));   /* a list is unhashable */
    assert_error(RC_ERR_TYPE);
    rc_object *empty = rc_dict_new();
    assert_null(rc_dict_get_borrowed(empty, k));
    assert_error(RC_ERR_KEY);

    rc_decref(empty);
    rc_decref(missing);
    rc_decref(tk2);
    rc_decref(k2);
    rc_decref(tv);
    rc_decref(tk);
    rc_decref(v);
    rc_decref(k);
    rc_decref(d);
    assert_int_equal(live, rc_live_objects());
}

static void test_try_incref(void **state)
{
    (void)state;
    rc_object *l = rc_list_new();
    append_new(l, new_int(777777));
    append_new(l, rc_list_new());
    append_new(l, new_int(3));   /* immortal */
    for (long i = 0; i < 3; i++) {
        rc_object *b = rc_list_get_borrowed(l, i);
        intptr_t n = rc_refcount(b);
        assert_int_equal(1, rc_try_incref(b));
        if (i == 2) {
            assert_int_equal((intptr_t)RC_REF_IMMORTAL, rc_refcount(b));
        } else {
            assert_int_equal(n + 1, rc_refcount(b));
        }
        rc_decref(b);
        assert_int_equal(n, rc_refcount(rc_list_get_borrowed(l, i)));
    }
    assert_int_equal(-1, rc_try_incref(NULL));
    assert_error(RC_ERR_TYPE);

    if (harness_mode != RC_MODE_GIL) {
        /* A borrowed item that died: in the ft modes its memory lasts
         * until this thread's next quiescent state (it was stored in a
         * list, so it is retired through QSBR), and rc_try_incref refuses
         * it.  (In gil mode its memory would be freed at once: a borrower
         * must not drop references, which the rule of [thr.borrow] says
         * for every mode.) */
        rc_object *b = rc_list_get_borrowed(l, 0);
        rc_object *other = new_int(888888);
        assert_int_equal(0, rc_list_set(l, 0, other));   /* b dies */
        rc_decref(other);
        assert_int_equal(777777, rc_int_value(b));        /* still readable */
        assert_int_equal(0, rc_try_incref(b));
        assert_false(rc_error_occurred());
    }
    rc_decref(l);
}

/* ft mode: an item owned by the main thread and counted by nobody else has
 * ob_ref_shared == 0, which rc_try_incref cannot tell from dying: another
 * thread's try is refused, rc_list_get (whose lock-free try is refused
 * too) marks it under the lock, and then the try succeeds. */
struct tryer {
    rc_object *list;
    int first, after_get, got_ok;
};

static void tryer_fn(void *arg)
{
    struct tryer *t = arg;
    t->first = rc_try_incref(rc_list_get_borrowed(t->list, 0));
    if (t->first == 1)
        rc_decref(rc_list_get_borrowed(t->list, 0));
    rc_object *x = rc_list_get(t->list, 0);
    t->got_ok = x != NULL && rc_int_value(x) == 5555555;
    rc_decref(x);
    t->after_get = rc_try_incref(rc_list_get_borrowed(t->list, 0));
    if (t->after_get == 1)
        rc_decref(rc_list_get_borrowed(t->list, 0));
}

static void test_try_incref_of_another_threads_object(void **state)
{
    (void)state;
    rc_object *l = rc_list_new();
    append_new(l, new_int(5555555));
    struct tryer t = {.list = l};
    rc_thread *th = rc_thread_start(tryer_fn, &t);
    assert_non_null(th);
    assert_int_equal(0, rc_thread_join(th));
    rc_safepoint();
    assert_true(t.got_ok);
    /* ft: refused although alive, then accepted; every other mode: the
     * object is never ambiguous. */
    assert_int_equal(harness_mode == RC_MODE_FT ? 0 : 1, t.first);
    assert_int_equal(1, t.after_get);
    assert_int_equal(1, rc_refcount(rc_list_get_borrowed(l, 0)));
    rc_decref(l);
}

/* ---------------------------------- lock-free, no writes, another thread */

struct lf_reader {
    rc_object *list, *dict, *key;
    rc_object *got[NB];
    rc_object *got_value;
    int64_t int_value;
    _Atomic int done;
};

static void lf_reader_fn(void *arg)
{
    struct lf_reader *r = arg;
    for (int i = 0; i < NB; i++)
        r->got[i] = rc_list_get_borrowed(r->list, i);
    r->int_value = rc_int_value(r->got[0]);
    r->got_value = rc_dict_get_borrowed(r->dict, r->key);
    atomic_store(&r->done, 1);
}

static void test_borrowed_reads_take_no_lock_and_write_nothing(void **state)
{
    (void)state;
    rc_object *l = mixed_list();
    rc_object *d = rc_dict_new();
    rc_object *k = new_int(31337);
    rc_object *v = new_int(-31337);
    assert_int_equal(0, rc_dict_set(d, k, v));
    struct lf_reader r = {.list = l, .dict = d, .key = k};
    struct counts before[NB], v_before = counts_of(v);
    rc_object *want[NB];
    for (int i = 0; i < NB; i++) {
        want[i] = rc_list_get_borrowed(l, i);
        before[i] = counts_of(want[i]);
    }
    if (harness_mode == RC_MODE_FT)   /* nobody else ever counted them */
        assert_int_equal(0, before[0].shared);

    /* With both locks held by us, only lock-free reads can serve the
     * reader (in gil mode there is no lock: the reader runs once we detach).
     * We give it 20 s, then unlock and report the failure. */
    bool ft = harness_mode != RC_MODE_GIL;
    if (ft) {
        obj_lock(l);
        obj_lock(d);
    }
    rc_thread *t = rc_thread_start(lf_reader_fn, &r);
    assert_non_null(t);
    rc_detach();
    for (int ms = 0; ms < 20000 && !atomic_load(&r.done); ms++)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    rc_attach();
    int served_lock_free = atomic_load(&r.done);
    if (ft) {
        obj_unlock(d);
        obj_unlock(l);
    }
    assert_int_equal(0, rc_thread_join(t));
    rc_safepoint();
    assert_true(served_lock_free);
    for (int i = 0; i < NB; i++) {
        assert_ptr_equal(want[i], r.got[i]);
        assert_counts_equal(before[i], counts_of(want[i]));   /* not even marked */
    }
    assert_int_equal(1234567, r.int_value);
    assert_ptr_equal(v, r.got_value);
    assert_counts_equal(v_before, counts_of(v));
    rc_decref(v);
    rc_decref(k);
    rc_decref(d);
    rc_decref(l);
}

/* ----------------------------------------------------- threaded stress */

/* Under ThreadSanitizer everything runs ~10x slower: fewer rounds. */
#if defined(__SANITIZE_THREAD__)
#define ST_ROUNDS 300
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ST_ROUNDS 300
#endif
#endif
#ifndef ST_ROUNDS
#define ST_ROUNDS 2000
#endif
#define ST_ITEMS 64
#define ST_READERS 2
#define ST_REFILL_EVERY 16      /* rounds between a clear + refill (list) or deletes (dict) */
#define ST_BASE ((int64_t)1 << 40)
#define ST_SPAN ((int64_t)1 << 20)   /* > ST_ROUNDS */

/* The value the writer stores at index (key) i in round r: mortal, and it
 * names both. */
static int64_t st_value(int i, long r)
{
    return ST_BASE + (int64_t)i * ST_SPAN + r;
}

struct st_shared {
    rc_object *list, *dict;
    rc_object *keys[ST_ITEMS];      /* the dict's keys, held by the test */
    _Atomic long round;             /* the writer's current round (release) */
    _Atomic int started;            /* readers that have read once */
    _Atomic int writer_done;
};

struct st_reader {
    struct st_shared *sh;
    uint64_t rng;
    long reads, index_errors, key_errors, tries_ok, tries_refused;
    long bad;                       /* failed checks; 0 expected */
    char what[160];                 /* the first failure */
    long seen_list[ST_ITEMS], seen_dict[ST_ITEMS];   /* newest round seen */
};

static void st_fail(struct st_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void st_fail(struct st_reader *r, const char *fmt, ...)
{
    if (r->bad++ > 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->what, sizeof r->what, fmt, ap);
    va_end(ap);
}

/* Check x, read borrowed at index (key) i: an int the writer stored there,
 * in a round not after its current one and not older than one this reader
 * saw there before (the writer's rounds only grow, and reads are
 * linearizable).  Returns its value. */
static int64_t st_check(struct st_reader *r, rc_object *x, int i, long *seen)
{
    int64_t v = rc_int_value(x);
    /* acquire: pairs with the writer's release store of round, made before
     * it stored any value of that round; x was loaded (acquire) before, so
     * the round of x is at most this. */
    long now = atomic_load(&r->sh->round);
    int64_t d = v - ST_BASE;
    if (d < 0 || d / ST_SPAN != i) {
        st_fail(r, "index %d holds %lld, which the writer never stored there", i, (long long)v);
        return v;
    }
    long round = (long)(d % ST_SPAN);
    if (round > now)
        st_fail(r, "index %d: round %ld, but the writer is only at %ld", i, round, now);
    if (round < seen[i])
        st_fail(r, "index %d went back from round %ld to %ld", i, seen[i], round);
    seen[i] = round;
    return v;
}

static void st_reader_fn(void *arg)
{
    struct st_reader *r = arg;
    struct st_shared *sh = r->sh;
    bool first = true;
    while (first || !atomic_load(&sh->writer_done)) {
        r->rng ^= r->rng << 13;
        r->rng ^= r->rng >> 7;
        r->rng ^= r->rng << 17;
        int i = (int)(r->rng % ST_ITEMS);
        if ((r->reads & 15) == 3) {
            /* Now and then a reference instead: in ft mode this marks the
             * item MAYBE_WEAKREF, so that later rc_try_incref calls on it
             * race the writer's drop through compare-and-swaps. */
            rc_object *z = rc_list_get(sh->list, i);
            if (z != NULL) {
                st_check(r, z, i, r->seen_list);
                rc_decref(z);
            } else if (rc_error_occurred() == RC_ERR_INDEX) {
                rc_error_clear();
            } else {
                st_fail(r, "rc_list_get(%d): %s", i, rc_error_message());
            }
        }
        rc_object *x = rc_list_get_borrowed(sh->list, i);
        if (x == NULL) {
            if (rc_error_occurred() == RC_ERR_INDEX)
                r->index_errors++;   /* cleared and not refilled yet */
            else
                st_fail(r, "rc_list_get_borrowed(%d): %s", i, rc_error_message());
            rc_error_clear();
        } else {
            int64_t v = st_check(r, x, i, r->seen_list);
            if ((r->reads & 7) == 0) {
                int got = rc_try_incref(x);
                if (got == 1) {
                    r->tries_ok++;
                    if (rc_int_value(x) != v)
                        st_fail(r, "index %d: the int changed under a reference", i);
                    rc_decref(x);   /* ends x's borrow: x is not used again */
                } else if (got == 0) {
                    r->tries_refused++;
                } else {
                    st_fail(r, "rc_try_incref: %s", rc_error_message());
                }
            }
        }
        rc_object *y = rc_dict_get_borrowed(sh->dict, sh->keys[i]);
        if (y == NULL) {
            if (rc_error_occurred() == RC_ERR_KEY)
                r->key_errors++;   /* deleted and not inserted again yet */
            else
                st_fail(r, "rc_dict_get_borrowed(%d): %s", i, rc_error_message());
            rc_error_clear();
        } else {
            st_check(r, y, i, r->seen_dict);
        }
        r->reads++;
        if (first) {
            first = false;
            atomic_fetch_add(&sh->started, 1);
        }
        if ((r->reads & 63) == 0)
            rc_safepoint();   /* ends every borrow; gil mode switches here */
    }
}

static void st_writer_fn(void *arg)
{
    struct st_shared *sh = arg;
    /* Wait, detached, until every reader is reading, so that they overlap
     * the writes in every mode (gil mode: they need the GIL to start). */
    while (atomic_load(&sh->started) < ST_READERS) {
        rc_detach();
        sched_yield();
        rc_attach();
    }
    for (long r = 1; r <= ST_ROUNDS; r++) {
        /* release (seq_cst): pairs with the readers' acquire load in
         * st_check; before any value of round r is stored. */
        atomic_store(&sh->round, r);
        bool refill = r % ST_REFILL_EVERY == 0;
        if (refill)
            rc_list_clear(sh->list);   /* readers may see IndexError now */
        for (int i = 0; i < ST_ITEMS; i++) {
            rc_object *v = rc_int_new(st_value(i, r));
            if (v == NULL)
                continue;   /* the readers' checks still hold; the test sees the count */
            if (refill)
                rc_list_append(sh->list, v);
            else
                rc_list_set(sh->list, i, v);
            if (refill && i % 3 == 0)
                rc_dict_del(sh->dict, sh->keys[i]);   /* tombstones, then resizes */
            else
                rc_dict_set(sh->dict, sh->keys[i], v);
            rc_decref(v);
        }
        if (refill) {
            for (int i = 0; i < ST_ITEMS; i += 3) {
                rc_object *v = rc_int_new(st_value(i, r));
                if (v != NULL)
                    rc_dict_set(sh->dict, sh->keys[i], v);
                rc_decref(v);
            }
        }
    }
    atomic_store(&sh->writer_done, 1);
}

static void test_stress_borrowed_reads_while_a_writer_replaces(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    struct st_shared sh = {.list = rc_list_new(), .dict = rc_dict_new()};
    assert_non_null(sh.list);
    assert_non_null(sh.dict);
    for (int i = 0; i < ST_ITEMS; i++) {
        sh.keys[i] = new_int(ST_BASE - 1000 - i);
        rc_object *v = new_int(st_value(i, 0));
        assert_int_equal(0, rc_list_append(sh.list, v));
        assert_int_equal(0, rc_dict_set(sh.dict, sh.keys[i], v));
        rc_decref(v);
    }
    struct st_reader rd[ST_READERS];
    rc_thread *rt[ST_READERS];
    memset(rd, 0, sizeof rd);
    for (int k = 0; k < ST_READERS; k++) {
        rd[k].sh = &sh;
        rd[k].rng = 0x9e3779b97f4a7c15u * (uint64_t)(k + 1);
        rt[k] = rc_thread_start(st_reader_fn, &rd[k]);
        assert_non_null(rt[k]);
    }
    rc_thread *wt = rc_thread_start(st_writer_fn, &sh);
    assert_non_null(wt);
    assert_int_equal(0, rc_thread_join(wt));
    for (int k = 0; k < ST_READERS; k++)
        assert_int_equal(0, rc_thread_join(rt[k]));
    rc_safepoint();   /* merge what was queued to us */

    long reads = 0;
    for (int k = 0; k < ST_READERS; k++) {
        printf("reader %d: %ld reads, %ld IndexError, %ld KeyError, try_incref %ld ok "
               "%ld refused%s%s\n", k, rd[k].reads, rd[k].index_errors, rd[k].key_errors,
               rd[k].tries_ok, rd[k].tries_refused, rd[k].bad ? "; FAILED: " : "",
               rd[k].bad ? rd[k].what : "");
        assert_int_equal(0, rd[k].bad);
        assert_true(rd[k].reads > 0);
        /* gil mode: nothing dies while a reader holds the GIL. */
        if (harness_mode == RC_MODE_GIL)
            assert_int_equal(0, rd[k].tries_refused);
        reads += rd[k].reads;
    }
    assert_true(reads >= ST_READERS);

    /* The writer's last round is all there, each item held by the list
     * (and the dict) alone: borrowed reads left no count behind. */
    assert_int_equal(ST_ITEMS, rc_list_len(sh.list));
    for (int i = 0; i < ST_ITEMS; i++) {
        rc_object *x = rc_list_get_borrowed(sh.list, i);
        assert_non_null(x);
        assert_int_equal(st_value(i, ST_ROUNDS), rc_int_value(x));
        rc_object *y = rc_dict_get_borrowed(sh.dict, sh.keys[i]);
        assert_non_null(y);
        assert_int_equal(st_value(i, ST_ROUNDS), rc_int_value(y));
        /* One object in both when the round set both from one int. */
        assert_int_equal(x == y ? 2 : 1, rc_refcount(x));
        assert_int_equal(x == y ? 2 : 1, rc_refcount(y));
    }
    for (int i = 0; i < ST_ITEMS; i++)
        rc_decref(sh.keys[i]);
    rc_decref(sh.dict);
    rc_decref(sh.list);
    assert_int_equal(live, rc_live_objects());
}

/* --------------------------- negative indexes while a writer moves items */

/* A writer moves items one slot at a time (rc_list_insert and rc_list_pop
 * shift them, then publish the new length) while readers read the list's
 * last two items through index -1 and -2, with rc_list_get and
 * rc_list_get_borrowed.  Every value read must be the one at that position
 * in a state the writer published during the read (list.c: the sequence
 * count of a negative-index read).  Two writers:
 *   NEG_FIXED_TAIL: insert(0, Z) then pop(0), on a list that ends in P, S:
 *     -1 is always S and -2 always P;
 *   NEG_ROTATE: pop(0), then append the popped item: the tail moves.  After
 *     step s (counted in done), the list is rotation k = s / 2 of the items
 *     0..NEG_N-1, without its first item if s is odd; either way -1 holds
 *     item k - 1 and -2 item k - 2 (mod NEG_N).  A reader that loaded
 *     done == d0 before its read and d1 after it accepts the -1 (-2) of
 *     every state from S(d0) to S(d1 + 1), step d1 + 1 being possibly in
 *     progress (a read that saw a store of step d1 + 2, a release store
 *     read by an acquire load, would see the done = d1 + 1 stored before
 *     it).
 * Every mode (gil mode never interleaves a read with a move). */
#define NEG_ROUNDS (ST_ROUNDS * 10)
#define NEG_N 64
#define NEG_BASE ((int64_t)1 << 41)

enum neg_writer { NEG_FIXED_TAIL, NEG_ROTATE };

struct neg_shared {
    rc_object *list;
    enum neg_writer writer;         /* set before the threads start */
    _Atomic long done;              /* steps (mutations) completed; stored
                                     * by the writer after each step and
                                     * loaded by the readers around each
                                     * read, seq_cst */
    _Atomic int started;            /* readers that have read once */
    _Atomic int writer_done;
};

struct neg_reader {
    struct neg_shared *sh;
    long reads;
    long bad[2][2];                 /* [borrowed][-1 - index]: failed checks */
    char what[160];                 /* the first failure */
};

/* Is v the value of the item at index (-1 or -2) in a state the writer
 * published in [d0, d1 + 1]? */
static bool neg_ok(const struct neg_shared *sh, int64_t v, long index, long d0, long d1)
{
    int64_t p = v - NEG_BASE;
    if (p < 0 || p >= NEG_N)
        return false;   /* Z, or something else entirely */
    if (sh->writer == NEG_FIXED_TAIL)
        return p == NEG_N + index;
    /* Item (k + index) mod NEG_N for some k in [d0 / 2, (d1 + 1) / 2]. */
    long k0 = d0 / 2, k1 = (d1 + 1) / 2;
    long off = ((long)p - index - k0) % NEG_N;
    if (off < 0)
        off += NEG_N;
    return off <= k1 - k0;
}

static void neg_reader_fn(void *arg)
{
    struct neg_reader *r = arg;
    struct neg_shared *sh = r->sh;
    bool first = true;
    while (first || !atomic_load(&sh->writer_done)) {
        int borrowed = (int)(r->reads & 1);
        long index = (r->reads & 2) ? -2 : -1;
        long d0 = atomic_load(&sh->done);
        rc_object *x = borrowed ? rc_list_get_borrowed(sh->list, index)
                                : rc_list_get(sh->list, index);
        long d1 = atomic_load(&sh->done);
        if (x == NULL) {
            r->bad[borrowed][-1 - index]++;
            if (r->what[0] == '\0')
                snprintf(r->what, sizeof r->what, "%s(%ld): %s",
                         borrowed ? "rc_list_get_borrowed" : "rc_list_get", index,
                         rc_error_message());
            rc_error_clear();
        } else {
            int64_t v = rc_int_value(x);
            if (!neg_ok(sh, v, index, d0, d1)) {
                r->bad[borrowed][-1 - index]++;
                if (r->what[0] == '\0')
                    snprintf(r->what, sizeof r->what,
                             "%s(%ld) = item %lld, steps %ld..%ld",
                             borrowed ? "rc_list_get_borrowed" : "rc_list_get", index,
                             (long long)(v - NEG_BASE), d0, d1);
            }
            if (!borrowed)
                rc_decref(x);
        }
        r->reads++;
        if (first) {
            first = false;
            atomic_fetch_add(&sh->started, 1);
        }
        if ((r->reads & 63) == 0)
            rc_safepoint();   /* ends the borrows; gil mode switches here */
    }
}

static void neg_writer_fn(void *arg)
{
    struct neg_shared *sh = arg;
    /* Wait, detached, until every reader is reading (as st_writer_fn). */
    while (atomic_load(&sh->started) < ST_READERS) {
        rc_detach();
        sched_yield();
        rc_attach();
    }
    rc_object *z = rc_int_new(NEG_BASE + 1000);
    long step = 0;
    for (long r = 1; r <= NEG_ROUNDS && z != NULL; r++) {
        if (sh->writer == NEG_FIXED_TAIL) {
            if (rc_list_insert(sh->list, 0, z) < 0)
                break;   /* the test sees the step count */
            atomic_store(&sh->done, ++step);
            rc_decref(rc_list_pop(sh->list, 0));
            atomic_store(&sh->done, ++step);
        } else {
            rc_object *x = rc_list_pop(sh->list, 0);
            atomic_store(&sh->done, ++step);
            int ok = rc_list_append(sh->list, x);
            rc_decref(x);
            if (ok < 0)
                break;
            atomic_store(&sh->done, ++step);
        }
        if ((r & 63) == 0)
            rc_safepoint();
    }
    rc_decref(z);
    atomic_store(&sh->writer_done, 1);
}

static void neg_index_stress(enum neg_writer writer)
{
    size_t live = rc_live_objects();
    struct neg_shared sh = {.list = rc_list_new(), .writer = writer};
    assert_non_null(sh.list);
    rc_object *items[NEG_N];
    for (int i = 0; i < NEG_N; i++) {
        items[i] = new_int(NEG_BASE + i);
        assert_int_equal(0, rc_list_append(sh.list, items[i]));
    }
    struct neg_reader rd[ST_READERS];
    rc_thread *rt[ST_READERS];
    memset(rd, 0, sizeof rd);
    for (int k = 0; k < ST_READERS; k++) {
        rd[k].sh = &sh;
        rt[k] = rc_thread_start(neg_reader_fn, &rd[k]);
        assert_non_null(rt[k]);
    }
    rc_thread *wt = rc_thread_start(neg_writer_fn, &sh);
    assert_non_null(wt);
    assert_int_equal(0, rc_thread_join(wt));
    for (int k = 0; k < ST_READERS; k++)
        assert_int_equal(0, rc_thread_join(rt[k]));
    rc_safepoint();

    long bad = 0;
    for (int k = 0; k < ST_READERS; k++) {
        printf("reader %d: %ld reads; wrong: rc_list_get -1: %ld, -2: %ld; "
               "rc_list_get_borrowed -1: %ld, -2: %ld%s%s\n", k, rd[k].reads,
               rd[k].bad[0][0], rd[k].bad[0][1], rd[k].bad[1][0], rd[k].bad[1][1],
               rd[k].what[0] ? "; first: " : "", rd[k].what);
        assert_true(rd[k].reads > 0);
        bad += rd[k].bad[0][0] + rd[k].bad[0][1] + rd[k].bad[1][0] + rd[k].bad[1][1];
    }
    assert_int_equal(0, bad);

    /* The writer ran every round: the list is back where it started (or,
     * rotated, NEG_ROUNDS places on). */
    assert_int_equal(2 * NEG_ROUNDS, atomic_load(&sh.done));
    assert_int_equal(NEG_N, rc_list_len(sh.list));
    for (int i = 0; i < NEG_N; i++) {
        long at = writer == NEG_FIXED_TAIL ? i : (i + NEG_ROUNDS) % NEG_N;
        assert_ptr_equal(items[at], rc_list_get_borrowed(sh.list, i));
        assert_int_equal(2, rc_refcount(items[i]));   /* ours and the list's */
        rc_decref(items[i]);
    }
    rc_decref(sh.list);
    assert_int_equal(live, rc_live_objects());
}

/* Non-negative indexes while a writer inserts at the front and pops it
 * again, counting its steps (done): one reader reads index j + 1, then
 * index j.  In a window where the step count did not move (d0 == d1, even)
 * it can see the state S(d0) and then S(d0 + 1) (the insert, possibly done
 * but not yet counted), in that order only: if index j + 1 gave item j
 * (the insert had moved it), index j must not give item j again (the state
 * before the move).  A read must not see a move half done (list.c: the
 * move count).  Bounded by the pairs checked and the reads.  Under
 * ThreadSanitizer a read costs ~30x more, and the writer is moving items
 * during most of them (only ~5% of pairs are checkable, against ~50%
 * without it), so the read bound there is much lower: 900,000 reads took
 * 30-40 s alone, past ctest's limit on a loaded 2-core machine. */
#define POS_PAIRS ((long)ST_ROUNDS * 1500)
#if ST_ROUNDS < 2000
#define POS_READS ((long)ST_ROUNDS * 200)
#else
#define POS_READS (2 * POS_PAIRS)
#endif

struct pos_shared {
    rc_object *list;
    _Atomic long done;              /* writer's steps, seq_cst (as neg_shared) */
    _Atomic int started, stop;      /* reader -> writer */
    long reads, pairs_checked, bad; /* reader only */
    char what[160];
};

static void pos_writer_fn(void *arg)
{
    struct pos_shared *sh = arg;
    while (!atomic_load(&sh->started)) {
        rc_detach();
        sched_yield();
        rc_attach();
    }
    rc_object *z = rc_int_new(NEG_BASE + 1000);
    long step = 0;
    while (z != NULL && !atomic_load(&sh->stop)) {
        if (rc_list_insert(sh->list, 0, z) < 0)
            break;
        atomic_store(&sh->done, ++step);
        rc_decref(rc_list_pop(sh->list, 0));
        atomic_store(&sh->done, ++step);
        if ((step & 127) == 0)
            rc_safepoint();
    }
    rc_decref(z);
}

static void pos_reader_fn(void *arg)
{
    struct pos_shared *sh = arg;
    atomic_store(&sh->started, 1);
    /* Reads are bounded too: a pair counts only if the writer did not
     * step meanwhile, which a slow (sanitized) reader rarely manages. */
    while (sh->pairs_checked < POS_PAIRS && sh->reads < POS_READS) {
        int borrowed = (int)(sh->reads & 1);
        long j = 1 + (sh->reads / 2) % (NEG_N - 3);
        long d0 = atomic_load(&sh->done);
        rc_object *x = borrowed ? rc_list_get_borrowed(sh->list, j + 1)
                                : rc_list_get(sh->list, j + 1);
        rc_object *y = borrowed ? rc_list_get_borrowed(sh->list, j)
                                : rc_list_get(sh->list, j);
        long d1 = atomic_load(&sh->done);
        if (x != NULL && y != NULL && d0 == d1 && (d0 & 1) == 0) {
            sh->pairs_checked++;
            if (rc_int_value(x) - NEG_BASE == j && rc_int_value(y) - NEG_BASE == j) {
                sh->bad++;
                if (sh->what[0] == '\0')
                    snprintf(sh->what, sizeof sh->what,
                             "%s(%ld) then (%ld) both gave item %ld at step %ld",
                             borrowed ? "rc_list_get_borrowed" : "rc_list_get", j + 1, j, j,
                             d0);
            }
        }
        if (x == NULL || y == NULL)
            rc_error_clear();
        if (!borrowed) {
            rc_decref(x);
            rc_decref(y);
        }
        sh->reads++;
        if ((sh->reads & 63) == 0)
            rc_safepoint();
    }
    atomic_store(&sh->stop, 1);
}

static void test_stress_two_reads_never_see_a_move_half_done(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    struct pos_shared sh = {.list = rc_list_new()};
    assert_non_null(sh.list);
    for (int i = 0; i < NEG_N; i++) {
        rc_object *x = new_int(NEG_BASE + i);
        assert_int_equal(0, rc_list_append(sh.list, x));
        rc_decref(x);
    }
    rc_thread *rt = rc_thread_start(pos_reader_fn, &sh);
    assert_non_null(rt);
    rc_thread *wt = rc_thread_start(pos_writer_fn, &sh);
    assert_non_null(wt);
    assert_int_equal(0, rc_thread_join(rt));
    assert_int_equal(0, rc_thread_join(wt));
    rc_safepoint();
    printf("reader: %ld reads, %ld pairs checked, %ld moves seen half done, %ld writer steps%s%s\n",
           sh.reads, sh.pairs_checked, sh.bad, atomic_load(&sh.done),
           sh.what[0] ? "; first: " : "", sh.what);
    assert_int_equal(0, sh.bad);
    assert_true(sh.pairs_checked > 0);   /* else the run checked nothing */
    assert_int_equal(NEG_N, rc_list_len(sh.list));
    rc_decref(sh.list);
    assert_int_equal(live, rc_live_objects());
}

static void test_stress_negative_index_while_inserting_at_front(void **state)
{
    (void)state;
    neg_index_stress(NEG_FIXED_TAIL);
}

static void test_stress_negative_index_while_rotating(void **state)
{
    (void)state;
    neg_index_stress(NEG_ROTATE);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_list_borrowed_is_the_item),
        HARNESS_TEST(test_list_borrowed_errors),
        HARNESS_TEST(test_several_borrows_at_once),
        HARNESS_TEST(test_dict_borrowed),
        HARNESS_TEST(test_try_incref),
        HARNESS_TEST(test_try_incref_of_another_threads_object),
        HARNESS_TEST(test_borrowed_reads_take_no_lock_and_write_nothing),
        HARNESS_TEST(test_stress_borrowed_reads_while_a_writer_replaces),
        HARNESS_TEST(test_stress_negative_index_while_inserting_at_front),
        HARNESS_TEST(test_stress_negative_index_while_rotating),
        HARNESS_TEST(test_stress_two_reads_never_see_a_move_half_done),
    };
    return HARNESS_RUN("borrow", tests, argc, argv);
}
