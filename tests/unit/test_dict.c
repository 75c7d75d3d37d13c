/* tests/unit/test_dict.c: the dict type and the key protocol
 * (runtime/dict.c): set/get/replace/del/contains/clear/len, many keys,
 * tombstones and resizes, key kinds (int, str, tuple, identity keys,
 * unhashable ones), KeyError messages, exact reference counts, iteration,
 * bad input to every public function, allocation failure, the GC hooks
 * (traverse, clear) as rc_traverse/rc_clear/rc_gc_* see them, and reads
 * from other threads: a non-owner's rc_dict_get (ft: first through the
 * lock, which marks the value, then lock-free, seen by holding the dict's
 * lock meanwhile) with exact counts, and readers running across resizes
 * and clears.  The threaded stress test is stress_containers_dict.c.
 *
 * Every test releases what it made: the harness fails a test that leaks.
 */
#include "harness.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Internal layout, to see when a dict's table is replaced; the lock byte,
 * to hold a dict's lock while another thread reads it. */
#define RCGC_BUILDING 1
#include "objects.h"
#include "lock.h"

#include <sched.h>
#include <stdatomic.h>
#include <time.h>

/* ------------------------------------------------------------- helpers */

static rc_object *mkint(int64_t v)
{
    rc_object *o = rc_int_new(v);
    assert_non_null(o);
    return o;
}

static rc_object *mkstr(const char *s)
{
    rc_object *o = rc_str_new(s);
    assert_non_null(o);
    return o;
}

static rc_object *mkdict(void)
{
    rc_object *d = rc_dict_new();
    assert_non_null(d);
    return d;
}

static rc_object *mktuple2(rc_object *a, rc_object *b)
{
    rc_object *items[2] = {a, b};
    rc_object *t = rc_tuple_new(2, items);
    assert_non_null(t);
    return t;
}

/* d[key] = value, releasing the caller's references to key and value. */
static void set_steal(rc_object *d, rc_object *key, rc_object *value)
{
    assert_int_equal(0, rc_dict_set(d, key, value));
    rc_decref(key);
    rc_decref(value);
}

/* d[int k] = int v. */
static void set_ii(rc_object *d, int64_t k, int64_t v)
{
    set_steal(d, mkint(k), mkint(v));
}

/* The int value stored under key (which the caller keeps). */
static int64_t get_int(rc_object *d, rc_object *key)
{
    rc_object *v = rc_dict_get(d, key);
    assert_non_null(v);
    assert_true(rc_is_int(v));
    int64_t x = rc_int_value(v);
    rc_decref(v);
    return x;
}

static int64_t get_ii(rc_object *d, int64_t k)
{
    rc_object *key = mkint(k);
    int64_t x = get_int(d, key);
    rc_decref(key);
    return x;
}

static int contains_i(rc_object *d, int64_t k)
{
    rc_object *key = mkint(k);
    int r = rc_dict_contains(d, key);
    rc_decref(key);
    return r;
}

static void del_i(rc_object *d, int64_t k)
{
    rc_object *key = mkint(k);
    assert_int_equal(0, rc_dict_del(d, key));
    rc_decref(key);
}

static void assert_missing(rc_object *d, rc_object *key)
{
    assert_int_equal(0, rc_dict_contains(d, key));
    assert_null(rc_dict_get(d, key));
    assert_error(RC_ERR_KEY);
}

static void assert_message_contains(const char *needle)
{
    if (strstr(rc_error_message(), needle) == NULL)
        fail_msg("error message \"%s\" does not contain \"%s\"", rc_error_message(), needle);
}

static void *table_of(rc_object *d)
{
    return atomic_load_explicit(&((struct rc_dict *)d)->table, memory_order_relaxed);
}

/* ------------------------------------------------------------- basics */

static void test_empty_dict(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    assert_true(rc_is_dict(d));
    assert_int_equal(0, rc_dict_len(d));
    assert_int_equal(1, rc_refcount(d));
    rc_object *k = mkint(1000);
    assert_missing(d, k);
    assert_int_equal(-1, rc_dict_del(d, k));
    assert_error(RC_ERR_KEY);
    size_t pos = 0;
    assert_int_equal(0, rc_dict_next(d, &pos, NULL, NULL));
    assert_int_equal(0, rc_dict_clear(d));
    assert_int_equal(0, rc_dict_len(d));
    assert_int_equal(RC_ERR_NONE, rc_error_occurred());
    rc_decref(k);
    rc_decref(d);
}

static void test_set_get(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    set_ii(d, 1000, 1);
    set_ii(d, 2000, 2);
    set_steal(d, mkstr("three"), mkint(3));
    assert_int_equal(3, rc_dict_len(d));
    assert_int_equal(1, get_ii(d, 1000));
    assert_int_equal(2, get_ii(d, 2000));
    rc_object *k = mkstr("three");   /* an equal key, not the stored one */
    assert_int_equal(3, get_int(d, k));
    assert_int_equal(1, rc_dict_contains(d, k));
    rc_decref(k);
    assert_int_equal(1, contains_i(d, 1000));
    assert_int_equal(0, contains_i(d, 3000));
    /* small (immortal) ints and negative ints are keys like any other */
    set_ii(d, -7, 70);
    set_ii(d, 5, 50);
    assert_int_equal(70, get_ii(d, -7));
    assert_int_equal(50, get_ii(d, 5));
    set_ii(d, INT64_MIN, 1);
    set_ii(d, INT64_MAX, 2);
    assert_int_equal(1, get_ii(d, INT64_MIN));
    assert_int_equal(2, get_ii(d, INT64_MAX));
    assert_int_equal(7, rc_dict_len(d));
    rc_decref(d);
}

static void test_replace_keeps_key_drops_old_value(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    rc_object *k1 = mkint(1000), *k2 = mkint(1000);
    rc_object *v1 = mkstr("old"), *v2 = mkstr("new");
    assert_int_equal(0, rc_dict_set(d, k1, v1));
    assert_int_equal(2, rc_refcount(k1));
    assert_int_equal(2, rc_refcount(v1));
    /* Replace through an equal but distinct key object. */
    assert_int_equal(0, rc_dict_set(d, k2, v2));
    assert_int_equal(1, rc_dict_len(d));
    assert_int_equal(2, rc_refcount(k1));   /* the stored key stays */
    assert_int_equal(1, rc_refcount(k2));   /* the new one is not taken */
    assert_int_equal(1, rc_refcount(v1));   /* old value dropped */
    assert_int_equal(2, rc_refcount(v2));
    size_t pos = 0;
    rc_object *key = NULL, *value = NULL;
    assert_int_equal(1, rc_dict_next(d, &pos, &key, &value));
    assert_ptr_equal(k1, key);
    assert_ptr_equal(v2, value);
    assert_int_equal(0, rc_dict_next(d, &pos, &key, &value));
    /* Replacing a value by itself keeps exactly one reference. */
    assert_int_equal(0, rc_dict_set(d, k1, v2));
    assert_int_equal(2, rc_refcount(v2));
    rc_object *got = rc_dict_get(d, k2);
    assert_ptr_equal(v2, got);
    rc_decref(got);
    rc_decref(d);
    assert_int_equal(1, rc_refcount(k1));
    assert_int_equal(1, rc_refcount(v2));
    rc_decref(k1);
    rc_decref(k2);
    rc_decref(v1);
    rc_decref(v2);
}

static void test_refcounts(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    rc_object *k = mkstr("key"), *v = mkint(123456);
    assert_int_equal(1, rc_refcount(k));
    assert_int_equal(1, rc_refcount(v));
    /* set takes one reference to each */
    assert_int_equal(0, rc_dict_set(d, k, v));
    assert_int_equal(2, rc_refcount(k));
    assert_int_equal(2, rc_refcount(v));
    /* get returns a new reference; contains takes none */
    rc_object *g = rc_dict_get(d, k);
    assert_ptr_equal(v, g);
    assert_int_equal(3, rc_refcount(v));
    rc_decref(g);
    assert_int_equal(1, rc_dict_contains(d, k));
    assert_int_equal(2, rc_refcount(k));
    assert_int_equal(2, rc_refcount(v));
    /* iteration lends references */
    size_t pos = 0;
    rc_object *ik, *iv;
    assert_int_equal(1, rc_dict_next(d, &pos, &ik, &iv));
    assert_int_equal(2, rc_refcount(k));
    assert_int_equal(2, rc_refcount(v));
    /* del drops both */
    assert_int_equal(0, rc_dict_del(d, k));
    assert_int_equal(1, rc_refcount(k));
    assert_int_equal(1, rc_refcount(v));
    /* clear drops both */
    assert_int_equal(0, rc_dict_set(d, k, v));
    assert_int_equal(2, rc_refcount(k));
    assert_int_equal(0, rc_dict_clear(d));
    assert_int_equal(1, rc_refcount(k));
    assert_int_equal(1, rc_refcount(v));
    /* freeing the dict drops both */
    assert_int_equal(0, rc_dict_set(d, k, v));
    assert_int_equal(0, rc_dict_set(d, v, k));   /* each is key and value */
    assert_int_equal(3, rc_refcount(k));
    assert_int_equal(3, rc_refcount(v));
    rc_decref(d);
    assert_int_equal(1, rc_refcount(k));
    assert_int_equal(1, rc_refcount(v));
    rc_decref(k);
    rc_decref(v);
}

static void test_del_contains_len(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    for (int64_t i = 0; i < 20; i++)
        set_ii(d, 1000 + i, i);
    assert_int_equal(20, rc_dict_len(d));
    for (int64_t i = 0; i < 20; i += 2)
        del_i(d, 1000 + i);
    assert_int_equal(10, rc_dict_len(d));
    for (int64_t i = 0; i < 20; i++) {
        assert_int_equal(i % 2, contains_i(d, 1000 + i));
        if (i % 2)
            assert_int_equal(i, get_ii(d, 1000 + i));
    }
    /* deleting twice is a KeyError, and changes nothing */
    rc_object *k = mkint(1000);
    assert_int_equal(-1, rc_dict_del(d, k));
    assert_error(RC_ERR_KEY);
    assert_int_equal(10, rc_dict_len(d));
    /* a deleted key can come back */
    assert_int_equal(0, rc_dict_set(d, k, k));
    assert_int_equal(11, rc_dict_len(d));
    assert_int_equal(1000, get_int(d, k));
    rc_decref(k);
    rc_decref(d);
}

static void test_clear(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    for (int64_t i = 0; i < 100; i++)
        set_ii(d, 1000 + i, 5000 + i);
    assert_int_equal(0, rc_dict_clear(d));
    assert_int_equal(0, rc_dict_len(d));
    assert_null(table_of(d));
    for (int64_t i = 0; i < 100; i++)
        assert_int_equal(0, contains_i(d, 1000 + i));
    size_t pos = 0;
    assert_int_equal(0, rc_dict_next(d, &pos, NULL, NULL));
    /* still usable */
    set_ii(d, 1000, 1);
    assert_int_equal(1, rc_dict_len(d));
    assert_int_equal(1, get_ii(d, 1000));
    assert_int_equal(0, rc_dict_clear(d));
    assert_int_equal(0, rc_dict_clear(d));   /* clearing an empty dict */
    rc_decref(d);
}

/* ------------------------------------------------------------ many keys */

static void test_many_int_keys(void **state)
{
    (void)state;
    enum { N = 100000 };
    rc_object *d = mkdict();
    long expect = 0;
    for (int64_t i = 0; i < N; i++) {
        set_ii(d, i * 7919 - 300000, i);
        expect++;
        /* interleaved deletes: every third key, a few steps behind */
        if (i >= 10 && (i - 10) % 3 == 0) {
            del_i(d, (i - 10) * 7919 - 300000);
            expect--;
        }
        if (i % 997 == 0)
            assert_int_equal(expect, rc_dict_len(d));
    }
    assert_int_equal(expect, rc_dict_len(d));
    for (int64_t i = 0; i < N; i++) {
        bool deleted = i + 10 < N && i % 3 == 0;
        rc_object *k = mkint(i * 7919 - 300000);
        if (deleted) {
            assert_int_equal(0, rc_dict_contains(d, k));
        } else {
            assert_int_equal(i, get_int(d, k));
        }
        rc_decref(k);
    }
    /* overwrite every remaining value, then delete them all */
    for (int64_t i = 0; i < N; i++) {
        if (i + 10 < N && i % 3 == 0)
            continue;
        set_ii(d, i * 7919 - 300000, -i);
    }
    assert_int_equal(expect, rc_dict_len(d));
    for (int64_t i = 0; i < N; i++) {
        if (i + 10 < N && i % 3 == 0)
            continue;
        assert_int_equal(-i, get_ii(d, i * 7919 - 300000));
        del_i(d, i * 7919 - 300000);
    }
    assert_int_equal(0, rc_dict_len(d));
    rc_decref(d);
}

static void test_many_str_keys(void **state)
{
    (void)state;
    enum { N = 10000 };
    rc_object *d = mkdict();
    char buf[64];
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "key-%d", i);
        set_steal(d, mkstr(buf), mkint(i));
        if (i % 4 == 3) {   /* delete the previous key */
            snprintf(buf, sizeof buf, "key-%d", i - 1);
            rc_object *k = mkstr(buf);
            assert_int_equal(0, rc_dict_del(d, k));
            rc_decref(k);
        }
    }
    assert_int_equal(N - N / 4, rc_dict_len(d));
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "key-%d", i);
        rc_object *k = mkstr(buf);
        if (i % 4 == 2)
            assert_int_equal(0, rc_dict_contains(d, k));
        else
            assert_int_equal(i, get_int(d, k));
        rc_decref(k);
    }
    /* prefixes and the empty string are distinct keys */
    set_steal(d, mkstr(""), mkint(-1));
    set_steal(d, mkstr("key-"), mkint(-2));
    rc_object *k = mkstr("");
    assert_int_equal(-1, get_int(d, k));
    rc_decref(k);
    k = mkstr("key-");
    assert_int_equal(-2, get_int(d, k));
    rc_decref(k);
    k = mkstr("key-1");
    assert_int_equal(1, get_int(d, k));
    rc_decref(k);
    rc_decref(d);
}

/* ------------------------------------------------- tombstones and resize */

static void test_tombstone_reuse_and_resize(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    assert_null(table_of(d));
    /* The smallest table has 8 slots and takes 5 (load factor 2/3). */
    for (int64_t i = 0; i < 5; i++)
        set_ii(d, 1000 + i, i);
    void *t = table_of(d);
    assert_non_null(t);
    /* Deleting and re-adding a key reuses its tombstone: no resize. */
    for (int round = 0; round < 50; round++) {
        del_i(d, 1002);
        assert_int_equal(0, contains_i(d, 1002));
        set_ii(d, 1002, round);
        assert_ptr_equal(t, table_of(d));
        assert_int_equal(5, rc_dict_len(d));
        assert_int_equal(round, get_ii(d, 1002));
    }
    /* Replacing values never resizes. */
    for (int64_t i = 0; i < 5; i++)
        set_ii(d, 1000 + i, 10 * i);
    assert_ptr_equal(t, table_of(d));
    /* A sixth key does. */
    set_ii(d, 1005, 5);
    assert_true(table_of(d) != t);
    assert_int_equal(6, rc_dict_len(d));
    for (int64_t i = 0; i < 5; i++)
        assert_int_equal(10 * i, get_ii(d, 1000 + i));
    assert_int_equal(5, get_ii(d, 1005));
    rc_decref(d);
}

static void test_churn(void **state)
{
    (void)state;
    /* Insert new keys while deleting old ones, so the live count stays
     * small while tombstones pile up: resizes must clean them, and every
     * lookup (present or missing) must still terminate and be right. */
    rc_object *d = mkdict();
    enum { WINDOW = 4, N = 20000 };
    for (int64_t i = 0; i < N; i++) {
        set_ii(d, 100000 + i, i);
        if (i >= WINDOW)
            del_i(d, 100000 + i - WINDOW);
        assert_int_equal(i < WINDOW ? i + 1 : WINDOW, rc_dict_len(d));
        if (i % 101 == 0) {
            assert_int_equal(0, contains_i(d, 100000 + i - WINDOW));
            assert_int_equal(0, contains_i(d, 100000 + i + 1));
            assert_int_equal(i, get_ii(d, 100000 + i));
        }
    }
    for (int64_t i = N - WINDOW; i < N; i++)
        assert_int_equal(i, get_ii(d, 100000 + i));
    /* Empty the dict by deletes only: all tombstones, no live entry. */
    for (int64_t i = N - WINDOW; i < N; i++)
        del_i(d, 100000 + i);
    assert_int_equal(0, rc_dict_len(d));
    assert_int_equal(0, contains_i(d, 7777777));
    size_t pos = 0;
    assert_int_equal(0, rc_dict_next(d, &pos, NULL, NULL));
    set_ii(d, 1, 2);
    assert_int_equal(2, get_ii(d, 1));
    rc_decref(d);
}

/* ------------------------------------------------------------- key kinds */

static void test_tuple_keys(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    rc_object *one = mkint(1000), *a = mkstr("a"), *b = mkstr("b");
    rc_object *t1 = mktuple2(one, a);
    rc_object *t1b;
    {
        rc_object *one2 = mkint(1000), *a2 = mkstr("a");
        t1b = mktuple2(one2, a2);   /* equal to t1, no shared items */
        rc_decref(one2);
        rc_decref(a2);
    }
    rc_object *t2 = mktuple2(a, one);   /* order matters */
    rc_object *t3 = mktuple2(one, b);
    rc_object *empty = rc_tuple_new(0, NULL);
    assert_non_null(empty);
    rc_object *single = rc_tuple_new(1, &one);
    assert_non_null(single);
    rc_object *nested = mktuple2(t1, empty);
    rc_object *nestedb = mktuple2(t1b, empty);

    set_steal(d, t1, mkint(1));
    set_steal(d, t2, mkint(2));
    set_steal(d, t3, mkint(3));
    set_steal(d, empty, mkint(4));
    set_steal(d, single, mkint(5));
    set_steal(d, nested, mkint(6));
    assert_int_equal(6, rc_dict_len(d));
    assert_int_equal(1, get_int(d, t1b));
    assert_int_equal(6, get_int(d, nestedb));
    rc_object *single2 = rc_tuple_new(1, &one);
    assert_non_null(single2);
    assert_int_equal(5, get_int(d, single2));
    rc_decref(single2);
    /* The 1-tuple (1000,) is not the int 1000. */
    assert_int_equal(0, rc_dict_contains(d, one));
    assert_int_equal(0, rc_dict_contains(d, a));
    /* replace through the equal tuple */
    assert_int_equal(0, rc_dict_set(d, t1b, b));
    assert_int_equal(6, rc_dict_len(d));
    rc_object *g = rc_dict_get(d, t1);   /* t1 is borrowed from d now */
    assert_ptr_equal(b, g);
    rc_decref(g);
    assert_int_equal(0, rc_dict_del(d, t1b));
    assert_int_equal(0, rc_dict_contains(d, t1b));
    /* tuples holding identity keys */
    rc_object *tn = mktuple2(rc_none(), rc_true());
    rc_object *tn2 = mktuple2(rc_none(), rc_true());
    rc_object *tf = mktuple2(rc_none(), rc_false());
    set_steal(d, tn, mkint(7));
    assert_int_equal(7, get_int(d, tn2));
    assert_int_equal(0, rc_dict_contains(d, tf));
    rc_decref(tn2);
    rc_decref(tf);
    rc_decref(t1b);
    rc_decref(nestedb);
    rc_decref(one);
    rc_decref(a);
    rc_decref(b);
    rc_decref(d);
}

static rc_object *deep_tuple(int depth, int64_t leaf)
{
    rc_object *t = mkint(leaf);
    for (int i = 0; i < depth; i++) {
        rc_object *n = rc_tuple_new(1, &t);
        assert_non_null(n);
        rc_decref(t);
        t = n;
    }
    return t;
}

static void test_deep_tuple_keys(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    /* Deep but within the bound: hashable, compared by value. */
    rc_object *t = deep_tuple(500, 424242), *t2 = deep_tuple(500, 424242);
    rc_object *t3 = deep_tuple(500, 424243);
    set_steal(d, t, mkint(1));
    assert_int_equal(1, get_int(d, t2));
    assert_int_equal(0, rc_dict_contains(d, t3));
    rc_decref(t2);
    rc_decref(t3);
    /* Too deep to hash: an error (Python: RecursionError), not a crash. */
    rc_object *deep = deep_tuple(100000, 1);
    rc_object *v = mkint(5000);
    assert_int_equal(-1, rc_dict_set(d, deep, v));
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(-1, rc_dict_contains(d, deep));
    assert_error(RC_ERR_RUNTIME);
    assert_null(rc_dict_get(d, deep));
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(1, rc_refcount(deep));
    assert_int_equal(1, rc_refcount(v));
    assert_int_equal(1, rc_dict_len(d));
    /* ... even as a value it is fine */
    assert_int_equal(0, rc_dict_set(d, v, deep));
    rc_decref(deep);
    rc_decref(v);
    rc_decref(d);   /* frees the deep tuple (trashcan) */
}

static void test_identity_keys(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    set_steal(d, rc_none(), mkint(1));
    set_steal(d, rc_true(), mkint(2));
    set_steal(d, rc_false(), mkint(3));
    assert_int_equal(3, rc_dict_len(d));
    assert_int_equal(1, get_int(d, rc_none()));
    assert_int_equal(2, get_int(d, rc_bool(1)));
    assert_int_equal(3, get_int(d, rc_bool(0)));
    /* True is not the int 1, False not 0 */
    assert_int_equal(0, contains_i(d, 1));
    assert_int_equal(0, contains_i(d, 0));
    set_ii(d, 1, 10);
    assert_int_equal(2, get_int(d, rc_true()));
    assert_int_equal(10, get_ii(d, 1));
    assert_int_equal(0, rc_dict_del(d, rc_none()));
    assert_missing(d, rc_none());
    rc_decref(d);
}

static void test_instance_keys(void **state)
{
    (void)state;
    rc_type *T = rc_type_new("Thing", 1, NULL);
    assert_non_null(T);
    rc_object *a = rc_instance_new(T), *b = rc_instance_new(T);
    assert_non_null(a);
    assert_non_null(b);
    rc_object *d = mkdict();
    set_steal(d, mkint(1000), mkint(0));
    assert_int_equal(0, rc_dict_set(d, a, rc_none()));
    assert_int_equal(2, rc_refcount(a));
    /* identity: b is not a, even with equal contents */
    assert_int_equal(1, rc_dict_contains(d, a));
    assert_int_equal(0, rc_dict_contains(d, b));
    set_steal(d, b, mkint(2));
    b = NULL;   /* the dict holds the only reference now */
    assert_int_equal(3, rc_dict_len(d));
    rc_object *g = rc_dict_get(d, a);
    assert_ptr_equal(rc_none(), g);
    rc_decref(g);
    /* many instances */
    rc_object *objs[200];
    for (int i = 0; i < 200; i++) {
        objs[i] = rc_instance_new(T);
        assert_non_null(objs[i]);
        assert_int_equal(0, rc_dict_set(d, objs[i], objs[i]));
    }
    for (int i = 0; i < 200; i++) {
        rc_object *v = rc_dict_get(d, objs[i]);
        assert_ptr_equal(objs[i], v);
        rc_decref(v);
        assert_int_equal(3, rc_refcount(objs[i]));   /* ours, key, value */
    }
    for (int i = 0; i < 200; i += 2)
        assert_int_equal(0, rc_dict_del(d, objs[i]));
    for (int i = 0; i < 200; i++) {
        assert_int_equal(i % 2, rc_dict_contains(d, objs[i]));
        rc_decref(objs[i]);
    }
    assert_int_equal(0, rc_dict_del(d, a));
    assert_int_equal(1, rc_refcount(a));
    rc_decref(a);
    rc_decref(d);
}

static void test_int_str_distinct(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    set_steal(d, mkint(1), mkstr("int one"));
    set_steal(d, mkstr("1"), mkstr("str one"));
    set_steal(d, mkint(1000), mkstr("int 1000"));
    set_steal(d, mkstr("1000"), mkstr("str 1000"));
    assert_int_equal(4, rc_dict_len(d));
    rc_object *k = mkstr("1");
    rc_object *v = rc_dict_get(d, k);
    assert_string_equal("str one", rc_str_data(v));
    rc_decref(v);
    assert_int_equal(0, rc_dict_del(d, k));
    rc_decref(k);
    k = mkint(1);
    v = rc_dict_get(d, k);
    assert_string_equal("int one", rc_str_data(v));
    rc_decref(v);
    rc_decref(k);
    k = mkint(1000);
    v = rc_dict_get(d, k);
    assert_string_equal("int 1000", rc_str_data(v));
    rc_decref(v);
    rc_decref(k);
    assert_int_equal(3, rc_dict_len(d));
    /* a str with an embedded NUL differs from its prefix */
    rc_object *s1 = rc_str_new_len("ab\0c", 4), *s2 = rc_str_new_len("ab", 2);
    assert_non_null(s1);
    assert_non_null(s2);
    set_steal(d, s1, mkint(1));
    assert_int_equal(0, rc_dict_contains(d, s2));
    rc_decref(s2);
    rc_decref(d);
}

static void assert_unhashable(rc_object *d, rc_object *key, const char *tname)
{
    char want[64];
    snprintf(want, sizeof want, "unhashable type: '%s'", tname);
    rc_object *v = mkint(99999);
    long len = rc_dict_len(d);
    intptr_t krc = rc_refcount(key);
    assert_int_equal(-1, rc_dict_set(d, key, v));
    assert_message_contains(want);
    assert_error(RC_ERR_TYPE);
    assert_null(rc_dict_get(d, key));
    assert_message_contains(want);
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_dict_contains(d, key));
    assert_message_contains(want);
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_dict_del(d, key));
    assert_message_contains(want);
    assert_error(RC_ERR_TYPE);
    assert_int_equal(len, rc_dict_len(d));
    assert_int_equal(krc, rc_refcount(key));
    assert_int_equal(1, rc_refcount(v));
    rc_decref(v);
}

static void test_unhashable_keys(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    set_ii(d, 1000, 1);
    rc_object *list = rc_list_new();
    assert_non_null(list);
    rc_object *other = mkdict();
    assert_unhashable(d, list, "list");
    assert_unhashable(d, other, "dict");
    assert_unhashable(d, d, "dict");
    rc_object *one = mkint(1000);
    rc_object *tl = mktuple2(one, list);
    assert_unhashable(d, tl, "list");
    rc_object *tt = mktuple2(one, tl);   /* nested: ((1000, [])) */
    assert_unhashable(d, tt, "list");
    rc_object *td = mktuple2(other, one);
    assert_unhashable(d, td, "dict");
    /* they are fine as values (this replaces d[1000]) */
    assert_int_equal(0, rc_dict_set(d, one, tl));
    assert_int_equal(0, rc_dict_set(d, rc_none(), list));
    assert_int_equal(2, rc_dict_len(d));
    assert_int_equal(3, rc_refcount(tl));   /* ours, d's, tt's */
    rc_decref(tt);
    rc_decref(tl);
    rc_decref(td);
    rc_decref(one);
    rc_decref(list);
    rc_decref(other);
    rc_decref(d);
}

static void test_missing_key_messages(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    set_ii(d, 1, 1);
    rc_object *k = mkint(1234567);
    assert_null(rc_dict_get(d, k));
    assert_message_contains("1234567");
    assert_error(RC_ERR_KEY);
    assert_int_equal(-1, rc_dict_del(d, k));
    assert_message_contains("1234567");
    assert_error(RC_ERR_KEY);
    rc_decref(k);
    k = mkint(-42);
    assert_null(rc_dict_get(d, k));
    assert_message_contains("-42");
    assert_error(RC_ERR_KEY);
    rc_decref(k);
    k = mkstr("no such key");
    assert_null(rc_dict_get(d, k));
    assert_message_contains("no such key");
    assert_error(RC_ERR_KEY);
    assert_int_equal(-1, rc_dict_del(d, k));
    assert_message_contains("no such key");
    assert_error(RC_ERR_KEY);
    rc_decref(k);
    /* tuples show their items; a long key is truncated, not overflowed */
    rc_object *a = mkint(77), *s = mkstr("x");
    k = mktuple2(a, s);
    assert_null(rc_dict_get(d, k));
    assert_message_contains("(77, 'x')");
    assert_error(RC_ERR_KEY);
    rc_decref(k);
    rc_decref(a);
    rc_decref(s);
    char big[2000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    k = mkstr(big);
    assert_null(rc_dict_get(d, k));
    assert_message_contains("zzzz");
    assert_error(RC_ERR_KEY);
    rc_decref(k);
    assert_missing(d, rc_none());
    rc_decref(d);
}

/* ------------------------------------------------------------- iteration */

static void test_iteration(void **state)
{
    (void)state;
    enum { N = 1000 };
    rc_object *d = mkdict();
    for (int64_t i = 0; i < N; i++)
        set_ii(d, 10000 + i, i);
    for (int64_t i = 0; i < N; i += 3)
        del_i(d, 10000 + i);
    int seen[N] = {0};
    size_t pos = 0;
    rc_object *k, *v;
    long count = 0;
    while (rc_dict_next(d, &pos, &k, &v) == 1) {
        int64_t ki = rc_int_value(k) - 10000;
        assert_true(ki >= 0 && ki < N);
        assert_int_equal(ki, rc_int_value(v));
        seen[ki]++;
        count++;
    }
    assert_int_equal(rc_dict_len(d), count);
    for (int i = 0; i < N; i++)
        assert_int_equal(i % 3 == 0 ? 0 : 1, seen[i]);
    /* after the end it keeps saying so */
    assert_int_equal(0, rc_dict_next(d, &pos, &k, &v));
    /* either out-pointer may be NULL */
    pos = 0;
    count = 0;
    while (rc_dict_next(d, &pos, &k, NULL) == 1)
        count++;
    assert_int_equal(rc_dict_len(d), count);
    pos = 0;
    count = 0;
    while (rc_dict_next(d, &pos, NULL, &v) == 1)
        count++;
    assert_int_equal(rc_dict_len(d), count);
    pos = 0;
    count = 0;
    while (rc_dict_next(d, &pos, NULL, NULL) == 1)
        count++;
    assert_int_equal(rc_dict_len(d), count);
    /* a cursor far past the end is harmless */
    pos = (size_t)-1;
    assert_int_equal(0, rc_dict_next(d, &pos, &k, &v));
    assert_int_equal(RC_ERR_NONE, rc_error_occurred());
    rc_decref(d);
}

/* ------------------------------------------------------------- bad input */

static void assert_type_error(const char *needle)
{
    assert_message_contains(needle);
    assert_error(RC_ERR_TYPE);
}

struct thread_result {
    rc_object *obj;
    rc_error_kind kind;
};

static void *unregistered_thread(void *arg)
{
    struct thread_result *r = arg;
    r->obj = rc_dict_new();
    r->kind = rc_error_occurred();
    return NULL;
}

static void test_bad_input(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    rc_object *list = rc_list_new();
    assert_non_null(list);
    rc_object *k = mkint(1000), *v = mkint(2000);
    size_t pos = 0;
    rc_object *ok, *ov;

    assert_int_equal(-1, rc_dict_len(NULL));
    assert_type_error("rc_dict_len() argument must be a dict, not NULL");
    assert_int_equal(-1, rc_dict_len(list));
    assert_type_error("rc_dict_len() argument must be a dict, not list");
    assert_int_equal(-1, rc_dict_len(k));
    assert_type_error("not int");

    assert_int_equal(-1, rc_dict_set(NULL, k, v));
    assert_type_error("rc_dict_set() argument must be a dict, not NULL");
    assert_int_equal(-1, rc_dict_set(list, k, v));
    assert_type_error("rc_dict_set() argument must be a dict, not list");
    assert_int_equal(-1, rc_dict_set(d, NULL, v));
    assert_type_error("rc_dict_set()");
    assert_int_equal(-1, rc_dict_set(d, k, NULL));
    assert_type_error("rc_dict_set()");
    assert_int_equal(-1, rc_dict_set(d, NULL, NULL));
    assert_type_error("rc_dict_set()");
    assert_int_equal(-1, rc_dict_set(d, list, v));
    assert_type_error("unhashable type: 'list'");

    assert_null(rc_dict_get(NULL, k));
    assert_type_error("rc_dict_get() argument must be a dict, not NULL");
    assert_null(rc_dict_get(list, k));
    assert_type_error("rc_dict_get() argument must be a dict, not list");
    assert_null(rc_dict_get(d, NULL));
    assert_type_error("rc_dict_get()");

    assert_int_equal(-1, rc_dict_contains(NULL, k));
    assert_type_error("rc_dict_contains() argument must be a dict, not NULL");
    assert_int_equal(-1, rc_dict_contains(list, k));
    assert_type_error("rc_dict_contains() argument must be a dict, not list");
    assert_int_equal(-1, rc_dict_contains(d, NULL));
    assert_type_error("rc_dict_contains()");

    assert_int_equal(-1, rc_dict_del(NULL, k));
    assert_type_error("rc_dict_del() argument must be a dict, not NULL");
    assert_int_equal(-1, rc_dict_del(list, k));
    assert_type_error("rc_dict_del() argument must be a dict, not list");
    assert_int_equal(-1, rc_dict_del(d, NULL));
    assert_type_error("rc_dict_del()");

    assert_int_equal(-1, rc_dict_clear(NULL));
    assert_type_error("rc_dict_clear() argument must be a dict, not NULL");
    assert_int_equal(-1, rc_dict_clear(list));
    assert_type_error("rc_dict_clear() argument must be a dict, not list");

    assert_int_equal(-1, rc_dict_next(NULL, &pos, &ok, &ov));
    assert_type_error("rc_dict_next() argument must be a dict, not NULL");
    assert_int_equal(-1, rc_dict_next(list, &pos, &ok, &ov));
    assert_type_error("rc_dict_next() argument must be a dict, not list");
    assert_int_equal(-1, rc_dict_next(d, NULL, &ok, &ov));
    assert_type_error("rc_dict_next()");

    assert_int_equal(0, rc_is_dict(NULL));
    assert_int_equal(0, rc_is_dict(list));
    assert_int_equal(0, rc_is_dict(k));
    assert_int_equal(1, rc_is_dict(d));
    assert_int_equal(RC_ERR_NONE, rc_error_occurred());

    /* nothing changed, nothing leaked or taken */
    assert_int_equal(0, rc_dict_len(d));
    assert_int_equal(0, rc_list_len(list));
    assert_int_equal(1, rc_refcount(k));
    assert_int_equal(1, rc_refcount(v));
    assert_int_equal(1, rc_refcount(d));

    /* a thread with no thread state cannot make a dict */
    pthread_t th;
    struct thread_result r = {NULL, RC_ERR_NONE};
    assert_int_equal(0, pthread_create(&th, NULL, unregistered_thread, &r));
    assert_int_equal(0, pthread_join(th, NULL));
    assert_null(r.obj);
    assert_int_equal(RC_ERR_RUNTIME, r.kind);

    rc_decref(k);
    rc_decref(v);
    rc_decref(list);
    rc_decref(d);
}

/* ---------------------------------------------------- allocation failure */

static void test_alloc_failure_new(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    rc_testing_fail_alloc_after(1);
    assert_null(rc_dict_new());
    assert_error(RC_ERR_MEMORY);
    assert_int_equal(live, rc_live_objects());
    rc_testing_fail_alloc_after(0);
}

static void test_alloc_failure_first_table(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    rc_object *k = mkstr("key"), *v = mkint(5000);
    rc_testing_fail_alloc_after(1);
    assert_int_equal(-1, rc_dict_set(d, k, v));
    assert_error(RC_ERR_MEMORY);
    rc_testing_fail_alloc_after(0);
    assert_int_equal(0, rc_dict_len(d));
    assert_null(table_of(d));
    assert_int_equal(1, rc_refcount(k));
    assert_int_equal(1, rc_refcount(v));
    assert_missing(d, k);
    /* and then it works */
    assert_int_equal(0, rc_dict_set(d, k, v));
    assert_int_equal(5000, get_int(d, k));
    rc_decref(k);
    rc_decref(v);
    rc_decref(d);
}

static void check_five(rc_object *d)
{
    assert_int_equal(5, rc_dict_len(d));
    for (int64_t i = 0; i < 5; i++)
        assert_int_equal(i, get_ii(d, 1000 + i));
}

static void test_alloc_failure_resize(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    for (int64_t i = 0; i < 5; i++)   /* a full smallest table */
        set_ii(d, 1000 + i, i);
    void *t = table_of(d);
    rc_object *k = mkint(1005), *v = mkint(2005);
    rc_testing_fail_alloc_after(1);
    assert_int_equal(-1, rc_dict_set(d, k, v));
    assert_error(RC_ERR_MEMORY);
    rc_testing_fail_alloc_after(0);
    assert_ptr_equal(t, table_of(d));
    assert_int_equal(1, rc_refcount(k));
    assert_int_equal(1, rc_refcount(v));
    assert_int_equal(0, rc_dict_contains(d, k));
    check_five(d);
    rc_decref(k);
    rc_decref(v);

    /* A later n: the key and value allocations succeed, the resize
     * (the third allocation) fails. */
    rc_testing_fail_alloc_after(3);
    k = rc_int_new(1006);
    v = rc_int_new(2006);
    assert_non_null(k);
    assert_non_null(v);
    assert_int_equal(-1, rc_dict_set(d, k, v));
    assert_error(RC_ERR_MEMORY);
    rc_testing_fail_alloc_after(0);
    assert_ptr_equal(t, table_of(d));
    assert_int_equal(1, rc_refcount(k));
    assert_int_equal(1, rc_refcount(v));
    check_five(d);

    /* Replacing a value, deleting, and reusing a tombstone allocate
     * nothing: the armed failure is still pending afterwards. */
    rc_object *k1000 = mkint(1000), *k1001 = mkint(1001), *v1 = mkint(1);
    rc_testing_fail_alloc_after(1);
    assert_int_equal(0, rc_dict_set(d, k1000, rc_int_new(0)));
    assert_int_equal(0, rc_dict_del(d, k1001));
    assert_int_equal(0, rc_dict_set(d, k1001, v1));
    assert_null(rc_int_new(99999));   /* the first allocation since arming */
    assert_error(RC_ERR_MEMORY);
    rc_testing_fail_alloc_after(0);
    assert_ptr_equal(t, table_of(d));
    check_five(d);
    rc_decref(k1000);
    rc_decref(k1001);
    rc_decref(v1);

    /* With no injection the same insertion resizes. */
    assert_int_equal(0, rc_dict_set(d, k, v));
    assert_true(table_of(d) != t);
    assert_int_equal(6, rc_dict_len(d));
    rc_decref(k);
    rc_decref(v);
    rc_decref(d);
}

static void test_alloc_failure_sweep(void **state)
{
    (void)state;
    /* Make every insertion's first allocation fail: the table creation and
     * every resize must fail cleanly, and the retry succeed. */
    enum { N = 3000 };
    rc_object *d = mkdict();
    int failures = 0;
    for (int64_t i = 0; i < N; i++) {
        rc_object *k = mkint(100000 + i), *v = mkint(200000 + i);
        void *t = table_of(d);
        rc_testing_fail_alloc_after(1);
        int r = rc_dict_set(d, k, v);
        rc_testing_fail_alloc_after(0);
        if (r < 0) {
            assert_error(RC_ERR_MEMORY);
            failures++;
            assert_ptr_equal(t, table_of(d));
            assert_int_equal(i, rc_dict_len(d));
            assert_int_equal(1, rc_refcount(k));
            assert_int_equal(1, rc_refcount(v));
            assert_int_equal(0, rc_dict_contains(d, k));
            assert_int_equal(0, rc_dict_set(d, k, v));
            assert_true(table_of(d) != t);
        } else {
            assert_ptr_equal(t, table_of(d));
        }
        assert_int_equal(i + 1, rc_dict_len(d));
        rc_decref(k);
        rc_decref(v);
    }
    /* the first table and a handful of doublings */
    assert_true(failures >= 5);
    assert_true(failures <= 20);
    for (int64_t i = 0; i < N; i++)
        assert_int_equal(200000 + i, get_ii(d, 100000 + i));
    rc_decref(d);
}

/* -------------------------------------------------------------- GC hooks */

struct visit_log {
    rc_object *seen[64];
    int n;
    int stop_after;   /* 0: never stop */
};

static int log_visit(rc_object *o, void *arg)
{
    struct visit_log *log = arg;
    if (log->n < 64)
        log->seen[log->n] = o;
    log->n++;
    return log->stop_after != 0 && log->n >= log->stop_after ? 7 : 0;
}

static int count_in(const struct visit_log *log, rc_object *o)
{
    int c = 0;
    for (int i = 0; i < log->n && i < 64; i++)
        c += log->seen[i] == o;
    return c;
}

static void test_gc_traverse_and_referents(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    assert_int_equal(1, rc_gc_is_tracked(d));
    struct visit_log log = {.n = 0, .stop_after = 0};
    assert_int_equal(0, rc_traverse(d, log_visit, &log));
    assert_int_equal(0, log.n);

    rc_object *k1 = mkint(1000), *v1 = mkstr("one");
    rc_object *k2 = mkstr("two"), *v2 = rc_list_new();
    assert_non_null(v2);
    assert_int_equal(0, rc_dict_set(d, k1, v1));
    assert_int_equal(0, rc_dict_set(d, k2, v2));
    assert_int_equal(0, rc_dict_set(d, rc_none(), d));   /* a cycle */
    set_ii(d, 1001, 1);
    assert_int_equal(0, rc_dict_del(d, k2));   /* a tombstone */
    assert_int_equal(0, rc_dict_set(d, k2, v2));
    rc_object *k3 = mkint(1001);
    assert_int_equal(0, rc_dict_del(d, k3));   /* a tombstone left */
    rc_decref(k3);

    log.n = 0;
    assert_int_equal(0, rc_traverse(d, log_visit, &log));
    assert_int_equal(6, log.n);
    assert_int_equal(1, count_in(&log, k1));
    assert_int_equal(1, count_in(&log, v1));
    assert_int_equal(1, count_in(&log, k2));
    assert_int_equal(1, count_in(&log, v2));
    assert_int_equal(1, count_in(&log, rc_none()));
    assert_int_equal(1, count_in(&log, d));

    /* a non-zero visit result stops the traversal and is returned */
    log.n = 0;
    log.stop_after = 3;
    assert_int_equal(7, rc_traverse(d, log_visit, &log));
    assert_int_equal(3, log.n);

    rc_object *refs = rc_gc_get_referents(d);
    assert_non_null(refs);
    assert_int_equal(6, rc_list_len(refs));
    int found = 0;
    for (long i = 0; i < 6; i++) {
        rc_object *o = rc_list_get(refs, i);
        assert_non_null(o);
        found += o == k1 || o == v1 || o == k2 || o == v2 || o == rc_none() || o == d;
        rc_decref(o);
    }
    assert_int_equal(6, found);
    rc_decref(refs);
    assert_int_equal(2, rc_refcount(d));
    assert_int_equal(2, rc_refcount(v2));

    /* rc_clear breaks the cycle and leaves an empty, usable dict */
    assert_int_equal(0, rc_clear(d));
    assert_int_equal(0, rc_dict_len(d));
    assert_int_equal(1, rc_refcount(d));
    assert_int_equal(1, rc_refcount(k1));
    assert_int_equal(1, rc_refcount(v1));
    assert_int_equal(1, rc_refcount(k2));
    assert_int_equal(1, rc_refcount(v2));
    log.n = 0;
    log.stop_after = 0;
    assert_int_equal(0, rc_traverse(d, log_visit, &log));
    assert_int_equal(0, log.n);
    assert_int_equal(0, rc_clear(d));   /* twice is fine */
    assert_int_equal(0, rc_dict_set(d, k1, v1));
    assert_int_equal(1, rc_dict_len(d));
    assert_int_equal(1, rc_gc_is_tracked(d));
    rc_decref(d);   /* dealloc after a clear and a reuse */
    assert_int_equal(1, rc_refcount(k1));
    rc_decref(k1);
    rc_decref(v1);
    rc_decref(k2);
    rc_decref(v2);
}

static void test_gc_clear_then_dealloc(void **state)
{
    (void)state;
    /* Two dicts that hold each other: clear one, refcounting frees both. */
    rc_object *a = mkdict(), *b = mkdict();
    set_steal(a, mkstr("b"), b);   /* a holds b; b's own ref moved to a */
    assert_int_equal(0, rc_dict_set(b, rc_none(), a));
    assert_int_equal(2, rc_refcount(a));
    assert_int_equal(0, rc_clear(a));   /* frees b, which drops its ref to a */
    assert_int_equal(1, rc_refcount(a));
    assert_int_equal(0, rc_dict_len(a));
    rc_decref(a);
}

static void test_nested_dealloc(void **state)
{
    (void)state;
    /* A chain of dicts nested 100,000 deep is freed without blowing the C
     * stack (the trashcan bounds nested deallocations). */
    rc_object *outer = mkdict();
    rc_object *key = mkstr("inner");
    for (int i = 0; i < 100000; i++) {
        rc_object *n = mkdict();
        assert_int_equal(0, rc_dict_set(n, key, outer));
        rc_decref(outer);
        outer = n;
    }
    rc_decref(key);
    rc_decref(outer);
}

/* ----------------------------------------- drops that look at the dict */

static rc_object *g_dict;
static rc_object *g_key;
static rc_object *g_extra_key;
static long g_seen_len;
static int g_seen_contains;
static rc_object *g_seen_value;
static int g_finalized;

/* Finalizer of a value: observe g_dict as it is while the value is being
 * dropped, and optionally insert into it. */
static void observe_finalize(rc_object *self)
{
    (void)self;
    g_finalized++;
    g_seen_len = rc_dict_len(g_dict);
    g_seen_contains = rc_dict_contains(g_dict, g_key);
    g_seen_value = NULL;
    if (g_seen_contains == 1) {
        rc_object *v = rc_dict_get(g_dict, g_key);
        g_seen_value = v;   /* identity only */
        rc_decref(v);
    }
    if (g_extra_key != NULL)
        rc_dict_set(g_dict, g_extra_key, g_extra_key);
}

static void test_drops_see_consistent_dict(void **state)
{
    (void)state;
    rc_type *T = rc_type_new("Observer", 0, observe_finalize);
    assert_non_null(T);
    g_dict = mkdict();
    g_key = mkstr("k");
    g_extra_key = NULL;
    set_ii(g_dict, 1000, 1);

    /* replace: the old value's finalizer sees the new value stored */
    rc_object *inst = rc_instance_new(T);
    assert_non_null(inst);
    assert_int_equal(0, rc_dict_set(g_dict, g_key, inst));
    rc_decref(inst);   /* the dict holds the only reference */
    rc_object *newv = mkint(424242);
    g_finalized = 0;
    assert_int_equal(0, rc_dict_set(g_dict, g_key, newv));
    assert_int_equal(1, g_finalized);
    assert_int_equal(2, g_seen_len);
    assert_int_equal(1, g_seen_contains);
    assert_ptr_equal(newv, g_seen_value);
    rc_decref(newv);

    /* del: the finalizer sees the key gone */
    inst = rc_instance_new(T);
    assert_non_null(inst);
    assert_int_equal(0, rc_dict_set(g_dict, g_key, inst));
    rc_decref(inst);
    g_finalized = 0;
    assert_int_equal(0, rc_dict_del(g_dict, g_key));
    assert_int_equal(1, g_finalized);
    assert_int_equal(1, g_seen_len);
    assert_int_equal(0, g_seen_contains);

    /* clear: the finalizer sees an empty dict, and what it inserts stays */
    inst = rc_instance_new(T);
    assert_non_null(inst);
    assert_int_equal(0, rc_dict_set(g_dict, g_key, inst));
    rc_decref(inst);
    g_extra_key = mkstr("added during clear");
    g_finalized = 0;
    assert_int_equal(0, rc_dict_clear(g_dict));
    assert_int_equal(1, g_finalized);
    assert_int_equal(0, g_seen_len);
    assert_int_equal(0, g_seen_contains);
    assert_int_equal(1, rc_dict_len(g_dict));
    assert_int_equal(1, rc_dict_contains(g_dict, g_extra_key));
    assert_int_equal(3, rc_refcount(g_extra_key));   /* ours, key, value */

    /* the GC clear hook behaves the same */
    inst = rc_instance_new(T);
    assert_non_null(inst);
    assert_int_equal(0, rc_dict_set(g_dict, g_key, inst));
    rc_decref(inst);
    rc_object *extra = g_extra_key;
    g_extra_key = NULL;
    g_finalized = 0;
    assert_int_equal(0, rc_clear(g_dict));
    assert_int_equal(1, g_finalized);
    assert_int_equal(0, g_seen_len);
    assert_int_equal(0, rc_dict_len(g_dict));
    assert_int_equal(1, rc_refcount(extra));
    assert_int_equal(1, rc_refcount(g_key));

    rc_decref(extra);
    rc_decref(g_key);
    rc_decref(g_dict);
    g_dict = g_key = NULL;
}

/* ------------------------------------------- reads from another thread */

/* A reader thread: looks the stored entry up by an equal key of its own
 * (a str, or a tuple, which lock-free readers must reference to compare),
 * and a missing key, once the test says go.  Records what it saw; the test
 * asserts after joining (cmocka is not thread-safe). */
struct reader_job {
    rc_object *d;
    bool tuple_key;
    _Atomic int ready, go, done;
    rc_object *got;            /* rc_dict_get's new reference, taken over */
    int contains, contains_missing;
    rc_object *got_missing;
    rc_error_kind missing_kind;
    long len;
};

static rc_object *make_lookup_key(bool tuple_key)
{
    rc_object *s = rc_str_new("the key");
    if (!tuple_key)
        return s;
    rc_object *n = rc_int_new(1000);
    rc_object *items[2] = {n, s};
    rc_object *t = rc_tuple_new(2, items);
    rc_decref(n);
    rc_decref(s);
    return t;
}

static void reader_main(void *arg)
{
    struct reader_job *j = arg;
    rc_object *key = make_lookup_key(j->tuple_key);
    rc_object *missing = rc_str_new("no such key");
    /* Allocated before the test takes the dict's lock: an allocation may
     * collect (RCGC_GC_STRESS), and a collection stops the world, which
     * would wait for the lock holder's next safepoint. */
    atomic_store(&j->ready, 1);
    while (!atomic_load(&j->go))
        rc_safepoint();
    j->got = rc_dict_get(j->d, key);
    j->contains = rc_dict_contains(j->d, key);
    j->contains_missing = rc_dict_contains(j->d, missing);
    j->got_missing = rc_dict_get(j->d, missing);
    j->missing_kind = rc_error_occurred();
    rc_error_clear();
    j->len = rc_dict_len(j->d);
    rc_decref(key);
    rc_decref(missing);
    atomic_store(&j->done, 1);
}

static void sleep_us(long us)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000};
    nanosleep(&ts, NULL);
}

/* What one round saw while the test held the dict's lock. */
struct round_seen {
    bool parked;         /* the reader waited for the lock */
    bool done_locked;    /* the reader finished while we held the lock */
    intptr_t shared;     /* the value's ob_ref_shared, still locked */
};

/* Run one reader.  In the ft modes the test holds the dict's lock while
 * the reader runs: a lock-free read finishes meanwhile, a read that falls
 * back parks on the lock (seen as LK_PARKED) until we unlock.  No
 * safepoint runs here while the lock is held (the lock's rule). */
static struct round_seen reader_round(struct reader_job *j, rc_object *v)
{
    struct round_seen seen = {false, false, 0};
    atomic_store(&j->ready, 0);
    atomic_store(&j->go, 0);
    atomic_store(&j->done, 0);
    rc_thread *t = rc_thread_start(reader_main, j);
    assert_non_null(t);
    if (harness_mode != RC_MODE_GIL) {
        while (!atomic_load(&j->ready))
            rc_safepoint();
        obj_lock(j->d);
        atomic_store(&j->go, 1);
        for (long waited = 0; waited < 20L * 1000 * 1000; waited += 100) {
            seen.parked = (atomic_load(&j->d->ob_mutex) & LK_PARKED) != 0;
            seen.done_locked = atomic_load(&j->done) != 0;
            if (seen.parked || seen.done_locked)
                break;
            sleep_us(100);
        }
        seen.shared = atomic_load(&v->ob_ref_shared);
        obj_unlock(j->d);
    } else {
        atomic_store(&j->go, 1);   /* the GIL serialises the reader */
    }
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(1, atomic_load(&j->done));
    return seen;
}

static void check_reader_results(struct reader_job *j, rc_object *v)
{
    assert_ptr_equal(v, j->got);
    assert_int_equal(1, j->contains);
    assert_int_equal(0, j->contains_missing);
    assert_null(j->got_missing);
    assert_int_equal(RC_ERR_KEY, j->missing_kind);
    assert_int_equal(1, j->len);
}

static void non_owner_get(bool tuple_key)
{
    rc_object *d = mkdict();
    rc_object *k = make_lookup_key(tuple_key);   /* ours, like the value */
    rc_object *v = mkstr("the value");
    assert_int_equal(0, rc_dict_set(d, k, v));
    assert_int_equal(2, rc_refcount(v));
    struct reader_job j = {.d = d, .tuple_key = tuple_key};

    /* Round 1.  ft: the value (and a tuple key) were only ever counted by
     * us, the owner: shared count 0, UNSHARED, which ref_try_incref must
     * refuse; the reader falls back to the lock, and there marks them
     * MAYBE_WEAKREF.  ft-atomic: counts start merged, so it reads
     * lock-free at once. */
    struct round_seen s1 = reader_round(&j, v);
    if (harness_mode == RC_MODE_FT) {
        assert_true(s1.parked);
        assert_false(s1.done_locked);
        assert_int_equal(0, s1.shared);   /* not marked before the fallback */
    } else if (harness_mode == RC_MODE_FT_ATOMIC) {
        assert_true(s1.done_locked);
        assert_false(s1.parked);
    }
    check_reader_results(&j, v);
    assert_int_equal(3, rc_refcount(v));   /* ours, the dict's, the reader's */
    assert_int_equal(2, rc_refcount(k));   /* ours, the dict's */
    intptr_t shared = atomic_load(&v->ob_ref_shared);
    if (harness_mode == RC_MODE_FT) {
        /* one shared reference (the reader's), state MAYBE_WEAKREF */
        assert_int_equal(RC_REF_ONE_SHARED + RC_REF_MAYBE_WEAKREF, shared);
        if (tuple_key)
            assert_int_equal(RC_REF_MAYBE_WEAKREF,
                             atomic_load(&k->ob_ref_shared) & RC_REF_STATE_MASK);
    } else if (harness_mode == RC_MODE_FT_ATOMIC) {
        assert_int_equal(RC_REF_MERGED, shared & RC_REF_STATE_MASK);
    }
    rc_decref(j.got);
    assert_int_equal(2, rc_refcount(v));

    /* Round 2: lock-free in both ft modes (it finishes while we hold the
     * lock), with exact counts. */
    struct round_seen s2 = reader_round(&j, v);
    if (harness_mode != RC_MODE_GIL) {
        assert_true(s2.done_locked);
        assert_false(s2.parked);
    }
    check_reader_results(&j, v);
    assert_int_equal(3, rc_refcount(v));
    assert_int_equal(2, rc_refcount(k));
    rc_decref(j.got);
    assert_int_equal(2, rc_refcount(v));

    /* The marks change nothing for the owner: drop everything. */
    assert_int_equal(0, rc_dict_del(d, k));
    assert_int_equal(1, rc_refcount(v));
    assert_int_equal(1, rc_refcount(k));
    rc_decref(d);
    rc_decref(k);
    rc_decref(v);
}

static void test_non_owner_get(void **state)
{
    (void)state;
    non_owner_get(false);
}

static void test_non_owner_get_tuple_key(void **state)
{
    (void)state;
    non_owner_get(true);
}

/* Lock-free readers keep working across a resize and a clear made while
 * they run: old tables stay readable (ft: retired through QSBR). */
struct churn_reader {
    rc_object *d;
    _Atomic int *stop;
    long hits, bad;
};

static void churn_reader_main(void *arg)
{
    struct churn_reader *c = arg;
    rc_object *keys[64];
    for (int i = 0; i < 64; i++)
        keys[i] = rc_int_new(5000 + i);
    for (long n = 0; !atomic_load(c->stop); n++) {
        rc_object *key = keys[n % 64];
        rc_object *v = rc_dict_get(c->d, key);
        if (v == NULL) {
            if (rc_error_occurred() != RC_ERR_KEY)
                c->bad++;
            rc_error_clear();
        } else {
            /* values are key + 1000000 */
            if (!rc_is_int(v) || rc_int_value(v) != rc_int_value(key) + 1000000)
                c->bad++;
            c->hits++;
            rc_decref(v);
        }
        if (rc_dict_contains(c->d, key) < 0)
            c->bad++;
        long len = rc_dict_len(c->d);
        if (len < 0 || len > 64)
            c->bad++;
        if (n % 32 == 0)
            rc_safepoint();
    }
    for (int i = 0; i < 64; i++)
        rc_decref(keys[i]);
}

static void test_readers_across_resize_and_clear(void **state)
{
    (void)state;
    rc_object *d = mkdict();
    _Atomic int stop = 0;
    struct churn_reader c[2] = {{.d = d, .stop = &stop}, {.d = d, .stop = &stop}};
    rc_thread *t[2];
    for (int i = 0; i < 2; i++) {
        t[i] = rc_thread_start(churn_reader_main, &c[i]);
        assert_non_null(t[i]);
    }
    void *first_table = NULL;
    int resizes = 0;
    for (int round = 0; round < 200; round++) {
        /* grow from nothing through several resizes, delete half, clear */
        for (int64_t i = 0; i < 64; i++) {
            void *before = table_of(d);
            set_ii(d, 5000 + i, 1005000 + i);
            resizes += table_of(d) != before;
        }
        if (first_table == NULL)
            first_table = table_of(d);
        for (int64_t i = 0; i < 64; i += 2)
            del_i(d, 5000 + i);
        assert_int_equal(32, rc_dict_len(d));
        assert_int_equal(0, rc_dict_clear(d));
        assert_null(table_of(d));
        rc_safepoint();
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(0, rc_thread_join(t[i]));
        assert_int_equal(0, c[i].bad);
    }
    assert_true(resizes >= 200 * 4);   /* 8 -> 16 -> 32 -> 64 -> 128 */
    rc_decref(d);
}

static void test_shared_subtuple_hash_is_linear(void **state)
{
    /* t = (t, t) sixty-four times: 2^64 paths, 64 distinct tuples.  A
     * tuple's hash is computed once, at creation, from its items' cached
     * hashes, so hashing it is constant time (recursing would never end). */
    rc_object *t = rc_tuple_new(0, NULL);
    for (int i = 0; i < 64; i++) {
        rc_object *pair[2] = {t, t};
        rc_object *n = rc_tuple_new(2, pair);
        assert_non_null(n);
        rc_decref(t);
        t = n;
    }
    rc_object *d = rc_dict_new();
    rc_object *v = rc_int_new(64);
    assert_int_equal(0, rc_dict_set(d, t, v));
    assert_int_equal(1, rc_dict_contains(d, t));
    rc_object *got = rc_dict_get(d, t);
    assert_true(got == v);
    rc_decref(got);
    rc_decref(v);
    rc_decref(t);
    rc_decref(d);
}

/* ---- rc_dict_next_ref: iteration that is safe against other threads ---- */

static void test_next_ref_yields_new_references(void **state)
{
    size_t live = rc_live_objects();
    rc_object *d = rc_dict_new();
    for (int i = 0; i < 100; i++) {
        rc_object *k = rc_int_new(1000 + i), *v = rc_int_new(5000 + i);
        assert_int_equal(0, rc_dict_set(d, k, v));
        rc_decref(k);
        rc_decref(v);
    }
    size_t pos = 0;
    rc_object *k, *v;
    int seen[100] = {0}, n = 0;
    while (rc_dict_next_ref(d, &pos, &k, &v) == 1) {
        int i = (int)rc_int_value(k) - 1000;
        assert_true(i >= 0 && i < 100);
        assert_int_equal(5000 + i, rc_int_value(v));
        assert_int_equal(2, rc_refcount(v));   /* the dict's and ours */
        seen[i]++;
        n++;
        rc_decref(k);
        rc_decref(v);
    }
    assert_int_equal(100, n);
    for (int i = 0; i < 100; i++)
        assert_int_equal(1, seen[i]);
    assert_int_equal(0, rc_dict_next_ref(d, &pos, NULL, NULL));   /* stays at the end */
    assert_int_equal(-1, rc_dict_next_ref(NULL, &pos, &k, &v));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_dict_next_ref(d, NULL, &k, &v));
    assert_error(RC_ERR_TYPE);
    rc_decref(d);
    assert_int_equal(live, rc_live_objects());
}

struct mutator {
    rc_object *d;
    _Atomic int stop;
    _Atomic long rounds;
};

/* Values are strs "v<key>": a yielded pair can be checked on its own. */
static rc_object *value_for(int64_t key)
{
    char buf[32];
    snprintf(buf, sizeof buf, "v%lld", (long long)key);
    return rc_str_new(buf);
}

static void mutate_dict(void *p)
{
    struct mutator *m = p;
    uint64_t x = 88172645463325252ull;
    while (!atomic_load(&m->stop)) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int64_t key = (int64_t)(x % 512) + 100000;
        rc_object *k = rc_int_new(key);
        if (x & 0x100) {
            rc_object *v = value_for(key);   /* set or replace: old value dropped */
            rc_dict_set(m->d, k, v);
            rc_decref(v);
        } else if (rc_dict_del(m->d, k) < 0) {
            rc_error_clear();                /* KeyError: it was not there */
        }
        rc_decref(k);
        m->rounds++;
        rc_safepoint();
    }
}

static void test_next_ref_while_another_thread_mutates(void **state)
{
    size_t live = rc_live_objects();
    struct mutator m = {.d = rc_dict_new()};
    rc_thread *t = rc_thread_start(mutate_dict, &m);
    long pairs = 0, bad = 0;
    /* Iterate until the writer has done real work meanwhile (counted, so the
     * test cannot pass with a writer that never ran). */
    for (int pass = 0; pass < 200 || atomic_load(&m.rounds) < 20000 || pairs < 10000;
         pass++) {
        size_t pos = 0;
        rc_object *k, *v;
        while (rc_dict_next_ref(m.d, &pos, &k, &v) == 1) {
            char want[32];
            snprintf(want, sizeof want, "v%lld", (long long)rc_int_value(k));
            if (!rc_is_str(v) || strcmp(rc_str_data(v), want) != 0)
                bad++;
            pairs++;
            rc_decref(k);
            rc_decref(v);
        }
        rc_safepoint();   /* gil mode: let the writer run */
    }
    atomic_store(&m.stop, 1);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(0, bad);
    assert_true(pairs >= 10000);
    rc_decref(m.d);
    assert_int_equal(live, rc_live_objects());
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_empty_dict),
        HARNESS_TEST(test_set_get),
        HARNESS_TEST(test_replace_keeps_key_drops_old_value),
        HARNESS_TEST(test_refcounts),
        HARNESS_TEST(test_del_contains_len),
        HARNESS_TEST(test_clear),
        HARNESS_TEST(test_many_int_keys),
        HARNESS_TEST(test_many_str_keys),
        HARNESS_TEST(test_tombstone_reuse_and_resize),
        HARNESS_TEST(test_churn),
        HARNESS_TEST(test_tuple_keys),
        HARNESS_TEST(test_deep_tuple_keys),
        HARNESS_TEST(test_identity_keys),
        HARNESS_TEST(test_instance_keys),
        HARNESS_TEST(test_int_str_distinct),
        HARNESS_TEST(test_unhashable_keys),
        HARNESS_TEST(test_shared_subtuple_hash_is_linear),
        HARNESS_TEST(test_next_ref_yields_new_references),
        HARNESS_TEST(test_next_ref_while_another_thread_mutates),
        HARNESS_TEST(test_missing_key_messages),
        HARNESS_TEST(test_iteration),
        HARNESS_TEST(test_bad_input),
        HARNESS_TEST(test_alloc_failure_new),
        HARNESS_TEST(test_alloc_failure_first_table),
        HARNESS_TEST(test_alloc_failure_resize),
        HARNESS_TEST(test_alloc_failure_sweep),
        HARNESS_TEST(test_gc_traverse_and_referents),
        HARNESS_TEST(test_gc_clear_then_dealloc),
        HARNESS_TEST(test_nested_dealloc),
        HARNESS_TEST(test_drops_see_consistent_dict),
        HARNESS_TEST(test_non_owner_get),
        HARNESS_TEST(test_non_owner_get_tuple_key),
        HARNESS_TEST(test_readers_across_resize_and_clear),
    };
    return HARNESS_RUN("dict", tests, argc, argv);
}
