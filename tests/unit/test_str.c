/* tests/unit/test_str.c: the str type (copies, lengths, embedded NULs, the
 * hash stored at creation), hash_bytes' quality, bad input, allocation
 * failure, and interning: one immortal object per content, table growth,
 * failure at every allocation step, and threads interning the same strings
 * at once.
 */
#define RCGC_BUILDING 1   /* struct rc_str, hash_bytes, header flags */
#include "harness.h"
#include "objects.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_new_copies_bytes(void **state)
{
    size_t live = rc_live_objects();
    char buf[] = "hello";
    rc_object *s = rc_str_new(buf);
    assert_non_null(s);
    buf[0] = 'j';   /* the str holds its own copy */
    assert_int_equal(5, rc_str_len(s));
    assert_string_equal("hello", rc_str_data(s));
    assert_int_equal('\0', rc_str_data(s)[5]);
    assert_int_equal(1, rc_refcount(s));
    assert_int_equal(0, rc_is_immortal(s));
    assert_false(s->ob_flags & RC_OBF_INTERNED);
    assert_int_equal(live + 1, rc_live_objects());

    /* Equal contents: distinct objects, equal hashes. */
    rc_object *t = rc_str_new("hello");
    assert_ptr_not_equal(s, t);
    struct rc_str *ss = (struct rc_str *)s, *st = (struct rc_str *)t;
    assert_true(ss->hash == st->hash);
    assert_true(ss->hash == hash_bytes("hello", 5));
    rc_incref(s);
    assert_int_equal(2, rc_refcount(s));
    rc_decref(s);
    rc_decref(s);
    rc_decref(t);
    assert_int_equal(live, rc_live_objects());
}

static void test_empty_strings(void **state)
{
    rc_object *a = rc_str_new("");
    rc_object *b = rc_str_new_len(NULL, 0);   /* NULL is fine with len 0 */
    rc_object *c = rc_str_new_len("abc", 0);
    rc_object *objs[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        assert_non_null(objs[i]);
        assert_int_equal(0, rc_str_len(objs[i]));
        assert_string_equal("", rc_str_data(objs[i]));
        assert_true(((struct rc_str *)objs[i])->hash == hash_bytes("", 0));
        rc_decref(objs[i]);
    }
}

static void test_new_len_embedded_nuls(void **state)
{
    rc_object *s = rc_str_new_len("a\0b\0", 4);
    assert_non_null(s);
    assert_int_equal(4, rc_str_len(s));
    assert_memory_equal("a\0b\0", rc_str_data(s), 4);
    assert_int_equal('\0', rc_str_data(s)[4]);
    assert_true(((struct rc_str *)s)->hash == hash_bytes("a\0b\0", 4));

    /* Only len bytes are copied, then a NUL. */
    rc_object *p = rc_str_new_len("hello", 3);
    assert_int_equal(3, rc_str_len(p));
    assert_string_equal("hel", rc_str_data(p));

    /* "a" and "a\0" are different strings with different hashes. */
    rc_object *a = rc_str_new("a");
    rc_object *a0 = rc_str_new_len("a\0", 2);
    assert_int_equal(2, rc_str_len(a0));
    assert_true(((struct rc_str *)a)->hash != ((struct rc_str *)a0)->hash);
    rc_decref(s);
    rc_decref(p);
    rc_decref(a);
    rc_decref(a0);
}

static void test_long_string(void **state)
{
    size_t n = 1 << 20;
    char *buf = malloc(n);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + i % 26);
    rc_object *s = rc_str_new_len(buf, n);
    assert_non_null(s);
    assert_int_equal((long)n, rc_str_len(s));
    assert_memory_equal(buf, rc_str_data(s), n);
    assert_int_equal('\0', rc_str_data(s)[n]);
    free(buf);
    rc_decref(s);
}

static void test_bad_input(void **state)
{
    size_t live = rc_live_objects();
    assert_null(rc_str_new(NULL));
    assert_non_null(strstr(rc_error_message(), "rc_str_new()"));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_str_new_len(NULL, 3));
    assert_non_null(strstr(rc_error_message(), "rc_str_new_len()"));
    assert_error(RC_ERR_TYPE);
    /* Absurd lengths fail before anything is read or allocated. */
    assert_null(rc_str_new_len("x", SIZE_MAX));
    assert_error(RC_ERR_MEMORY);
    assert_null(rc_str_new_len("x", (size_t)LONG_MAX));
    assert_error(RC_ERR_MEMORY);
    assert_null(rc_str_intern(NULL));
    assert_non_null(strstr(rc_error_message(), "rc_str_intern()"));
    assert_error(RC_ERR_TYPE);

    rc_object *i = rc_int_new(5000);
    rc_object *l = rc_list_new();
    assert_null(rc_str_data(NULL));
    assert_string_equal("rc_str_data() argument must be a str, not NULL", rc_error_message());
    assert_error(RC_ERR_TYPE);
    assert_null(rc_str_data(i));
    assert_string_equal("rc_str_data() argument must be a str, not int", rc_error_message());
    assert_error(RC_ERR_TYPE);
    assert_null(rc_str_data(l));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_str_len(NULL));
    assert_string_equal("rc_str_len() argument must be a str, not NULL", rc_error_message());
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_str_len(i));
    assert_string_equal("rc_str_len() argument must be a str, not int", rc_error_message());
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_str_len(rc_none()));
    assert_error(RC_ERR_TYPE);
    rc_decref(i);
    rc_decref(l);
    assert_int_equal(live, rc_live_objects());
}

static void test_is_str(void **state)
{
    rc_object *s = rc_str_new("s");
    rc_object *i = rc_int_new(1);
    rc_object *l = rc_list_new();
    rc_error_clear();
    assert_int_equal(1, rc_is_str(s));
    assert_int_equal(1, rc_is_str(rc_str_intern("interned")));
    assert_int_equal(0, rc_is_str(NULL));
    assert_int_equal(0, rc_is_str(i));
    assert_int_equal(0, rc_is_str(l));
    assert_int_equal(0, rc_is_str(rc_none()));
    assert_int_equal(RC_ERR_NONE, rc_error_occurred());
    rc_decref(s);
    rc_decref(l);
}

static void test_alloc_failure(void **state)
{
    size_t live = rc_live_objects();
    rc_testing_fail_alloc_after(1);
    assert_null(rc_str_new("abc"));
    assert_error(RC_ERR_MEMORY);
    rc_testing_fail_alloc_after(1);
    assert_null(rc_str_new_len("a\0c", 3));
    assert_error(RC_ERR_MEMORY);
    rc_testing_fail_alloc_after(1);
    assert_null(rc_str_new(""));
    assert_error(RC_ERR_MEMORY);
    assert_int_equal(live, rc_live_objects());
    /* Injection is one-shot: the next allocation works. */
    rc_object *s = rc_str_new("abc");
    assert_non_null(s);
    rc_decref(s);
    assert_int_equal(live, rc_live_objects());
}

static int count_visit(rc_object *o, void *arg)
{
    (*(int *)arg)++;
    return 0;
}

static void test_str_is_not_a_container(void **state)
{
    rc_object *s = rc_str_new("atom");
    assert_int_equal(0, rc_gc_is_tracked(s));
    assert_int_equal(0, rc_gc_is_tracked(rc_str_intern("atom")));
    int visits = 0;
    assert_int_equal(0, rc_traverse(s, count_visit, &visits));
    assert_int_equal(0, visits);
    assert_int_equal(0, rc_clear(s));
    assert_string_equal("atom", rc_str_data(s));
    assert_string_equal("str", rc_type_name(rc_type_of(s)));
    rc_decref(s);
}

/* ---- hash_bytes ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_hash_bytes_distinguishes(void **state)
{
    /* Deterministic, and sensitive to order, length and zero bytes, on
     * both sides of the 8-byte word boundary. */
    assert_true(hash_bytes("abc", 3) == hash_bytes("abc", 3));
    assert_true(hash_bytes("ab", 2) != hash_bytes("ba", 2));
    assert_true(hash_bytes("", 0) != hash_bytes("\0", 1));
    assert_true(hash_bytes("\0", 1) != hash_bytes("\0\0", 2));
    assert_true(hash_bytes("\0\0\0\0\0\0\0\0", 8) != hash_bytes("\0\0\0\0\0\0\0\0\0", 9));
    assert_true(hash_bytes("abcdefgh", 8) != hash_bytes("abcdefgi", 8));
    assert_true(hash_bytes("abcdefghX", 9) != hash_bytes("abcdefghY", 9));
    assert_true(hash_bytes("Xbcdefgh12345678", 16) != hash_bytes("Ybcdefgh12345678", 16));
    /* Every prefix of a buffer hashes differently. */
    enum { P = 40 };
    uint64_t h[P + 1];
    const char *buf = "the quick brown fox jumps over the lazy dog";
    for (size_t n = 0; n <= P; n++)
        h[n] = hash_bytes(buf, n);
    qsort(h, P + 1, sizeof h[0], cmp_u64);
    for (size_t n = 1; n <= P; n++)
        assert_true(h[n] != h[n - 1]);
}

static void test_hash_bytes_distribution(void **state)
{
    enum { N = 200000, B = 4096 };
    uint64_t *h = malloc(N * sizeof *h);
    int *low = calloc(B, sizeof *low), *high = calloc(B, sizeof *high);
    assert_non_null(h);
    assert_non_null(low);
    assert_non_null(high);
    char buf[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(buf, sizeof buf, "key:%d", i);
        h[i] = hash_bytes(buf, (size_t)n);
        low[h[i] & (B - 1)]++;
        high[h[i] >> 52]++;
    }
    /* About 48.8 keys per bucket (sd 7): a good hash stays well inside
     * [15, 90] in both the low bits (dict slots) and the high bits. */
    for (int b = 0; b < B; b++) {
        assert_in_range(low[b], 15, 90);
        assert_in_range(high[b], 15, 90);
    }
    qsort(h, N, sizeof h[0], cmp_u64);
    for (int i = 1; i < N; i++)
        assert_true(h[i] != h[i - 1]);
    free(h);
    free(low);
    free(high);
}

static void test_hash_bytes_avalanche(void **state)
{
    /* Flipping any one input bit flips about half the output bits. */
    uint64_t x = 88172645463325252u;   /* xorshift64 state */
    double total = 0;
    long count = 0;
    int min_flipped = 64;
    for (size_t len = 1; len <= 40; len += 3) {
        for (int round = 0; round < 20; round++) {
            unsigned char in[40];
            for (size_t i = 0; i < len; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                in[i] = (unsigned char)x;
            }
            uint64_t h0 = hash_bytes(in, len);
            for (size_t bit = 0; bit < len * 8; bit++) {
                in[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                int flipped = __builtin_popcountll(h0 ^ hash_bytes(in, len));
                in[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                total += flipped;
                count++;
                if (flipped < min_flipped)
                    min_flipped = flipped;
            }
        }
    }
    double mean = total / (double)count;
    assert_true(mean > 31.5 && mean < 32.5);
    assert_true(min_flipped >= 10);
}

/* ---- interning ---- */

static void test_intern_returns_one_immortal_object(void **state)
{
    size_t live = rc_live_objects();
    rc_object *a = rc_str_intern("hello");
    assert_non_null(a);
    assert_int_equal(1, rc_is_immortal(a));
    assert_int_equal((intptr_t)RC_REF_IMMORTAL, rc_refcount(a));
    assert_true(a->ob_flags & RC_OBF_INTERNED);
    assert_string_equal("hello", rc_str_data(a));
    assert_int_equal(5, rc_str_len(a));
    assert_true(((struct rc_str *)a)->hash == hash_bytes("hello", 5));
    /* Immortal objects are not counted as live. */
    assert_int_equal(live, rc_live_objects());

    char buf[16];
    strcpy(buf, "hel");
    strcat(buf, "lo");
    assert_ptr_equal(a, rc_str_intern(buf));
    buf[0] = 'j';   /* the interned object holds its own copy */
    assert_string_equal("hello", rc_str_data(a));

    rc_object *b = rc_str_intern("world");
    assert_ptr_not_equal(a, b);
    assert_ptr_equal(b, rc_str_intern("world"));
    rc_object *e = rc_str_intern("");
    assert_int_equal(0, rc_str_len(e));
    assert_ptr_equal(e, rc_str_intern(""));

    /* A plain str of the same content is another object. */
    rc_object *plain = rc_str_new("hello");
    assert_ptr_not_equal(a, plain);
    assert_false(plain->ob_flags & RC_OBF_INTERNED);
    rc_decref(plain);

    /* Reference ops are no-ops: a decref does no harm. */
    rc_incref(a);
    rc_decref(a);
    rc_decref(a);
    assert_int_equal((intptr_t)RC_REF_IMMORTAL, rc_refcount(a));
    assert_ptr_equal(a, rc_str_intern("hello"));
    assert_int_equal(live, rc_live_objects());
}

static void test_intern_many(void **state)
{
    enum { N = 5000 };   /* well past the table's first capacities */
    rc_object **objs = malloc(N * sizeof *objs);
    assert_non_null(objs);
    char buf[32];
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "interned-%d", i);
        objs[i] = rc_str_intern(buf);
        assert_non_null(objs[i]);
    }
    for (int i = N - 1; i >= 0; i--) {
        snprintf(buf, sizeof buf, "interned-%d", i);
        assert_ptr_equal(objs[i], rc_str_intern(buf));
        assert_string_equal(buf, rc_str_data(objs[i]));
        if (i > 0)
            assert_ptr_not_equal(objs[i], objs[i - 1]);
    }
    free(objs);
}

static void test_intern_alloc_failure(void **state)
{
    /* In a fresh runtime a first intern allocates, in order: the table,
     * its slots, the str, and the runtime's immortal array (in
     * rc_make_immortal).  Fail each in turn, each time in a new runtime:
     * every failure must be clean (no leak: rc_runtime_free returns 0),
     * and a later intern must still give one object per content. */
    int failures = 0;
    long n;
    for (n = 1; n <= 10; n++) {
        assert_int_equal(0, rc_runtime_free(*state));
        rc_config cfg = rc_config_default();
        cfg.mode = harness_mode;
        *state = rc_runtime_new(&cfg);
        assert_non_null(*state);
        size_t live = rc_live_objects();

        rc_testing_fail_alloc_after(n);
        rc_object *o = rc_str_intern("fail");
        rc_testing_fail_alloc_after(0);
        if (o == NULL) {
            assert_error(RC_ERR_MEMORY);
            failures++;
        } else {
            assert_string_equal("fail", rc_str_data(o));
        }
        assert_int_equal(live, rc_live_objects());
        rc_object *again = rc_str_intern("fail");
        assert_non_null(again);
        assert_string_equal("fail", rc_str_data(again));
        assert_true(again->ob_flags & RC_OBF_INTERNED);
        assert_int_equal(1, rc_is_immortal(again));
        if (o != NULL) {
            assert_ptr_equal(o, again);
            break;   /* every allocation step has been failed once */
        }
        assert_ptr_equal(again, rc_str_intern("fail"));
        assert_int_equal(live, rc_live_objects());
    }
    assert_true(failures >= 3);   /* table, slots, str at least */
    assert_int_equal(failures + 1, n);

    /* A hit allocates nothing. */
    size_t live = rc_live_objects();
    rc_testing_fail_alloc_after(1);
    assert_non_null(rc_str_intern("fail"));
    rc_testing_fail_alloc_after(0);
    assert_int_equal(live, rc_live_objects());
}

/* Threads intern the same strings at the same time, in gil mode taking
 * turns, in ft modes in parallel: all must get the same object. */
enum { IW_THREADS = 4, IW_STRINGS = 1000 };

struct intern_shared {
    pthread_barrier_t start;
    rc_object *got[IW_THREADS][IW_STRINGS];
    int nulls[IW_THREADS];
    int bad_content[IW_THREADS];
};

struct intern_worker {
    struct intern_shared *sh;
    int index;
};

static void intern_worker_fn(void *arg)
{
    struct intern_worker *w = arg;
    struct intern_shared *sh = w->sh;
    char buf[32];
    /* Detached while blocked: in gil mode a thread waiting on the barrier
     * must not hold the GIL. */
    rc_detach();
    pthread_barrier_wait(&sh->start);
    rc_attach();
    for (int i = 0; i < IW_STRINGS; i++) {
        snprintf(buf, sizeof buf, "shared-%d", i);
        rc_object *o = rc_str_intern(buf);
        sh->got[w->index][i] = o;
        if (o == NULL)
            sh->nulls[w->index]++;
        else if (strcmp(rc_str_data(o), buf) != 0)
            sh->bad_content[w->index]++;
        if (i % 64 == 0)
            rc_safepoint();
    }
    /* Again, now hitting: the same objects. */
    for (int i = IW_STRINGS - 1; i >= 0; i--) {
        snprintf(buf, sizeof buf, "shared-%d", i);
        if (rc_str_intern(buf) != sh->got[w->index][i])
            sh->bad_content[w->index]++;
    }
}

static void test_intern_concurrent(void **state)
{
    struct intern_shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    assert_int_equal(0, pthread_barrier_init(&sh->start, NULL, IW_THREADS));
    struct intern_worker w[IW_THREADS];
    rc_thread *t[IW_THREADS];
    for (int k = 0; k < IW_THREADS; k++) {
        w[k] = (struct intern_worker){.sh = sh, .index = k};
        t[k] = rc_thread_start(intern_worker_fn, &w[k]);
        assert_non_null(t[k]);
    }
    for (int k = 0; k < IW_THREADS; k++)
        assert_int_equal(0, rc_thread_join(t[k]));
    pthread_barrier_destroy(&sh->start);
    char buf[32];
    for (int k = 0; k < IW_THREADS; k++) {
        assert_int_equal(0, sh->nulls[k]);
        assert_int_equal(0, sh->bad_content[k]);
    }
    for (int i = 0; i < IW_STRINGS; i++) {
        snprintf(buf, sizeof buf, "shared-%d", i);
        rc_object *mine = rc_str_intern(buf);
        assert_non_null(mine);
        for (int k = 0; k < IW_THREADS; k++)
            assert_ptr_equal(mine, sh->got[k][i]);
    }
    free(sh);
}

/* A str made on one thread, read and dropped on another. */
struct reader {
    rc_object *s;
    long len;
    int same;
    uint64_t hash;
};

static void reader_fn(void *arg)
{
    struct reader *r = arg;
    r->len = rc_str_len(r->s);
    r->same = strcmp(rc_str_data(r->s), "shared across threads") == 0;
    r->hash = ((struct rc_str *)r->s)->hash;
    rc_decref(r->s);
}

static void test_str_across_threads(void **state)
{
    size_t live = rc_live_objects();
    struct reader r = {.s = rc_str_new("shared across threads")};
    assert_non_null(r.s);
    rc_incref(r.s);   /* the reader's reference */
    rc_thread *t = rc_thread_start(reader_fn, &r);
    assert_non_null(t);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(21, r.len);
    assert_true(r.same);
    assert_true(r.hash == hash_bytes("shared across threads", 21));
    rc_safepoint();
    assert_int_equal(1, rc_refcount(r.s));
    rc_decref(r.s);
    assert_int_equal(live, rc_live_objects());
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_new_copies_bytes),
        HARNESS_TEST(test_empty_strings),
        HARNESS_TEST(test_new_len_embedded_nuls),
        HARNESS_TEST(test_long_string),
        HARNESS_TEST(test_bad_input),
        HARNESS_TEST(test_is_str),
        HARNESS_TEST(test_alloc_failure),
        HARNESS_TEST(test_str_is_not_a_container),
        HARNESS_TEST(test_hash_bytes_distinguishes),
        HARNESS_TEST(test_hash_bytes_distribution),
        HARNESS_TEST(test_hash_bytes_avalanche),
        HARNESS_TEST(test_intern_returns_one_immortal_object),
        HARNESS_TEST(test_intern_many),
        HARNESS_TEST(test_intern_alloc_failure),
        HARNESS_TEST(test_intern_concurrent),
        HARNESS_TEST(test_str_across_threads),
    };
    return HARNESS_RUN("str", tests, argc, argv);
}
