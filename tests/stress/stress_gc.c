/* tests/stress/stress_gc.c: the cycle collector under threads, in one mode
 * (--mode).  Three phases, each ending with every object accounted for
 * (the live count back where it started, the heap verifier happy):
 *   churn     threads build and drop cycles of every kind (lists, dicts
 *             through tuples, instance rings, cycles with finalizers, with
 *             resurrecting finalizers, with weakrefs held from outside)
 *             next to live checksummed structures, with automatic
 *             collection at a low threshold and explicit collections of
 *             every generation from every thread;
 *   handoff   threads pass cyclic checksummed items to each other through
 *             a shared list; the receiver checks and drops them, so garbage
 *             made on one thread's lists is dropped by another while
 *             collections run;
 *   exits     short-lived threads build garbage and publish live cyclic
 *             items, then exit at once (their lists are adopted), while a
 *             collector thread collects and consumes what they published.
 * Afterwards: every finalizer ran exactly once per object, every weakref
 * callback exactly once per weakref, none saw a cleared object or a live
 * weakref to garbage.
 * Usage: stress_gc [--mode M] [--threads N] [--iterations K] [--seed S]
 * Threaded runs are not exactly repeatable; the seed fixes each thread's
 * choices, not the interleaving.
 */
#include "stress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int nthreads = 4;
static long iterations = 100000;
static uint64_t seed = 4242;

static rc_type *item_type;      /* Item(seq, name, payload, self) */
static rc_type *node_type;      /* Node(next, value) */
static rc_type *fin_type;       /* Fin(partner, value): finalizer checks */
static rc_type *phoenix_type;   /* Phoenix(self, marker): resurrects once */

static _Atomic long fin_made, fin_calls, fin_broken;
static _Atomic long phoenix_made, phoenix_calls, phoenix_dups;
static _Atomic long weak_made, weak_calls, weak_saw_target;
static rc_object *graveyard;    /* where phoenixes resurrect (shared list) */

/* Four full collections: garbage dropped by a non-owner may only be freed
 * after the collection that merged its count. */
static void collect_all(void)
{
    for (int i = 0; i < 4; i++)
        rc_gc_collect(2);
}

/* ------------------------------------------------------ checksummed items */

/* An item in a cycle with itself: alive only while someone holds it; any
 * part freed or cleared too early breaks the checksum. */
static rc_object *make_item(long seq)
{
    rc_object *it = rc_instance_new(item_type);
    rc_object *n = rc_int_new(seq);
    char buf[32];
    snprintf(buf, sizeof buf, "item-%ld", seq);
    rc_object *s = rc_str_new(buf);
    rc_object *l = rc_list_new();
    for (long k = 0; k < 4; k++) {
        rc_object *v = rc_int_new(seq * 7 + k);
        rc_list_append(l, v);
        rc_decref(v);
    }
    rc_list_append(l, it);   /* the payload points back: a second cycle */
    rc_slot_set(it, 0, n);
    rc_slot_set(it, 1, s);
    rc_slot_set(it, 2, l);
    rc_slot_set(it, 3, it);
    rc_decref(n);
    rc_decref(s);
    rc_decref(l);
    return it;
}

static int check_item(rc_object *it)
{
    if (!rc_is_instance(it) || rc_type_of(it) != item_type)
        return 0;
    rc_object *n = rc_slot_get(it, 0), *s = rc_slot_get(it, 1);
    rc_object *l = rc_slot_get(it, 2), *self = rc_slot_get(it, 3);
    int ok = rc_is_int(n) && rc_is_str(s) && rc_is_list(l) && self == it;
    if (ok) {
        long seq = (long)rc_int_value(n);
        char buf[32];
        snprintf(buf, sizeof buf, "item-%ld", seq);
        ok = strcmp(rc_str_data(s), buf) == 0 && rc_list_len(l) == 5;
        for (long k = 0; ok && k < 5; k++) {
            rc_object *v = rc_list_get(l, k);
            ok = v != NULL && (k < 4 ? rc_int_value(v) == seq * 7 + k : v == it);
            rc_decref(v);
        }
    }
    rc_decref(n);
    rc_decref(s);
    rc_decref(l);
    rc_decref(self);
    return ok;
}

/* ------------------------------------------------ finalizers and weakrefs */

/* Fin(partner, value) <-> Node(fin, value): the finalizer runs before the
 * collector clears anything, so it must see the pair intact. */
static void fin_check(rc_object *self)
{
    atomic_fetch_add(&fin_calls, 1);
    rc_object *partner = rc_slot_get(self, 0), *v = rc_slot_get(self, 1);
    int ok = rc_is_instance(partner) && rc_is_int(v);
    if (ok) {
        rc_object *back = rc_slot_get(partner, 0), *pv = rc_slot_get(partner, 1);
        ok = back == self && rc_is_int(pv) && rc_int_value(pv) == rc_int_value(v);
        rc_decref(back);
        rc_decref(pv);
    }
    if (!ok)
        atomic_fetch_add(&fin_broken, 1);
    rc_decref(partner);
    rc_decref(v);
}

/* Phoenix(self, marker): resurrects into the graveyard.  PEP 442: never
 * finalized twice, so the marker is never found set. */
static void phoenix_finalize(rc_object *self)
{
    atomic_fetch_add(&phoenix_calls, 1);
    rc_object *marker = rc_slot_get(self, 1);
    if (marker != rc_none())
        atomic_fetch_add(&phoenix_dups, 1);
    rc_decref(marker);
    rc_slot_set(self, 1, rc_true());
    if (graveyard != NULL)
        rc_list_append(graveyard, self);
}

static void weak_callback(rc_object *wr, void *arg)
{
    atomic_fetch_add(&weak_calls, 1);
    rc_object *t = rc_weakref_get(wr);
    if (t != NULL) {
        atomic_fetch_add(&weak_saw_target, 1);
        rc_decref(t);
    }
}

/* ------------------------------------------------------------- churn */

struct worker {
    int index;
    long done;
    rc_object *weaks;   /* weakrefs with callbacks, handed to main at exit */
};

static void make_garbage(uint64_t r, long seq, rc_object *weaks)
{
    switch (r % 8) {
    case 0: {
        rc_object *l = rc_list_new();
        rc_list_append(l, l);
        rc_decref(l);
        break;
    }
    case 1: {   /* a ring of 2..12 nodes */
        long n = 2 + (long)((r >> 8) % 11);
        rc_object *first = rc_instance_new(node_type), *prev = first;
        rc_incref(prev);
        for (long i = 1; i < n; i++) {
            rc_object *o = rc_instance_new(node_type);
            rc_slot_set(prev, 0, o);
            rc_decref(prev);
            prev = o;
        }
        rc_slot_set(prev, 0, first);
        rc_decref(prev);
        rc_decref(first);
        break;
    }
    case 2: {   /* d[k] = l; l.append((d,)) */
        rc_object *d = rc_dict_new(), *l = rc_list_new();
        rc_object *k = rc_int_new(seq);
        rc_object *t = rc_tuple_new(1, &d);
        rc_dict_set(d, k, l);
        rc_list_append(l, t);
        rc_decref(k);
        rc_decref(t);
        rc_decref(l);
        rc_decref(d);
        break;
    }
    case 3: {
        rc_object *f = rc_instance_new(fin_type), *n = rc_instance_new(node_type);
        rc_object *v = rc_int_new(seq);
        rc_slot_set(f, 0, n);
        rc_slot_set(n, 0, f);
        rc_slot_set(f, 1, v);
        rc_slot_set(n, 1, v);
        rc_decref(v);
        atomic_fetch_add(&fin_made, 1);
        rc_decref(n);
        rc_decref(f);
        break;
    }
    case 4: {
        rc_object *p = rc_instance_new(phoenix_type);
        rc_slot_set(p, 0, p);
        atomic_fetch_add(&phoenix_made, 1);
        rc_decref(p);
        break;
    }
    case 5: {   /* a pair with a weakref held from outside */
        rc_object *a = rc_instance_new(node_type), *b = rc_instance_new(node_type);
        rc_slot_set(a, 0, b);
        rc_slot_set(b, 0, a);
        rc_object *w = rc_weakref_new(a, weak_callback, NULL);
        rc_list_append(weaks, w);
        atomic_fetch_add(&weak_made, 1);
        rc_decref(w);
        rc_decref(a);
        rc_decref(b);
        break;
    }
    case 6: {   /* a weakref that is garbage itself: never called back */
        rc_object *a = rc_instance_new(node_type);
        rc_object *w = rc_weakref_new(a, weak_callback, NULL);
        rc_slot_set(a, 0, a);
        rc_slot_set(a, 1, w);
        rc_decref(w);
        rc_decref(a);
        break;
    }
    default: {  /* phoenixes back from the graveyard die for good */
        rc_object *p = rc_list_pop(graveyard, -1);
        if (p == NULL)
            rc_error_clear();   /* empty */
        rc_decref(p);
        break;
    }
    }
}

#define MINE 32

static void churn_worker(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 1000003u + (uint64_t)w->index + 1;
    w->weaks = rc_list_new();
    rc_object *mine = rc_list_new();
    long seq = (long)w->index * 100000000L;
    for (int i = 0; i < MINE; i++) {
        rc_object *it = make_item(seq++);
        rc_list_append(mine, it);
        rc_decref(it);
    }
    for (long i = 0; i < iterations; i++) {
        uint64_t r = rng_next(&rng);
        make_garbage(r, seq++, w->weaks);
        if ((r >> 20) % 16 == 0) {   /* replace a live item: the old one is garbage */
            rc_object *it = make_item(seq++);
            rc_list_set(mine, (long)((r >> 24) % MINE), it);
            rc_decref(it);
        }
        if ((i & 255) == 0) {
            for (long k = 0; k < MINE; k++) {
                rc_object *it = rc_list_get(mine, k);
                CHECK(check_item(it), "thread %d: live item %ld corrupted", w->index, k);
                rc_decref(it);
            }
        }
        if (i % 997 == 0)
            rc_gc_collect((int)((r >> 32) % 3));
        if (w->index == 0 && i % 4099 == 0)
            CHECK(rc_gc_verify_heap() == 0, "verify: %s", rc_error_message());
        rc_safepoint();
        w->done++;
    }
    for (long k = 0; k < MINE; k++) {
        rc_object *it = rc_list_get(mine, k);
        CHECK(check_item(it), "thread %d: live item %ld corrupted at the end", w->index, k);
        rc_decref(it);
    }
    rc_decref(mine);
}

static void phase_churn(void)
{
    rc_thread *t[64];
    struct worker w[64];
    graveyard = rc_list_new();
    rc_gc_set_threshold(100, 5, 5);
    rc_gc_enable();
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){.index = i};
        t[i] = rc_thread_start(churn_worker, &w[i]);
        CHECK(t[i] != NULL, "%s", rc_error_message());
    }
    for (int i = 0; i < nthreads; i++) {
        CHECK(rc_thread_join(t[i]) == 0, "%s", rc_error_message());
        CHECK(w[i].done == iterations, "thread %d did %ld", i, w[i].done);
    }
    rc_gc_disable();
    collect_all();
    /* Every weakref is still held: each target is dead, each callback ran
     * once, none found its target alive. */
    CHECK(atomic_load(&weak_calls) == atomic_load(&weak_made), "weakref callbacks %ld, weakrefs %ld",
          atomic_load(&weak_calls), atomic_load(&weak_made));
    CHECK(atomic_load(&weak_saw_target) == 0, "%ld callbacks saw their target",
          atomic_load(&weak_saw_target));
    for (int i = 0; i < nthreads; i++) {
        long n = rc_list_len(w[i].weaks);
        for (long k = 0; k < n; k++) {
            rc_object *wr = rc_list_get(w[i].weaks, k);
            rc_object *tgt = rc_weakref_get(wr);
            CHECK(tgt == NULL, "a weakref to collected garbage still answers");
            rc_decref(tgt);
            rc_decref(wr);
        }
        rc_decref(w[i].weaks);
    }
    /* Phoenixes still in the graveyard: finalized once, dropped now. */
    rc_list_clear(graveyard);
    rc_decref(graveyard);
    graveyard = NULL;
    collect_all();
    CHECK(atomic_load(&fin_calls) == atomic_load(&fin_made), "finalizers %ld of %ld",
          atomic_load(&fin_calls), atomic_load(&fin_made));
    CHECK(atomic_load(&fin_broken) == 0, "%ld finalizers saw a cleared partner",
          atomic_load(&fin_broken));
    CHECK(atomic_load(&phoenix_calls) == atomic_load(&phoenix_made), "phoenix finalizers %ld of %ld",
          atomic_load(&phoenix_calls), atomic_load(&phoenix_made));
    CHECK(atomic_load(&phoenix_dups) == 0, "%ld phoenixes finalized twice",
          atomic_load(&phoenix_dups));
}

/* ------------------------------------------------------------- handoff */

static rc_object *hub;          /* shared list of items in flight */
static _Atomic long produced, consumed;

static void handoff_worker(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 7919u + (uint64_t)w->index + 1;
    long seq = 1000000000L + (long)w->index * 10000000L;
    long n = iterations / 2;
    for (long i = 0; i < n; i++) {
        uint64_t r = rng_next(&rng);
        if (r & 1) {
            rc_object *it = make_item(seq++);
            rc_list_append(hub, it);
            rc_decref(it);
            atomic_fetch_add(&produced, 1);
        } else {
            rc_object *it = rc_list_pop(hub, (r >> 1) & 1 ? -1 : 0);
            if (it == NULL) {
                rc_error_clear();   /* empty for now */
            } else {
                CHECK(check_item(it), "thread %d: handed-over item corrupted", w->index);
                rc_decref(it);   /* often not ours: garbage on another thread's list */
                atomic_fetch_add(&consumed, 1);
            }
        }
        if (i % 211 == 0)
            rc_gc_collect(0);
        if (i % 1999 == 0)
            rc_gc_collect((int)((r >> 8) % 3));
        rc_safepoint();
        w->done++;
    }
}

static void phase_handoff(void)
{
    hub = rc_list_new();
    rc_gc_set_threshold(200, 5, 5);
    rc_gc_enable();
    rc_thread *t[64];
    struct worker w[64];
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){.index = i};
        t[i] = rc_thread_start(handoff_worker, &w[i]);
        CHECK(t[i] != NULL, "%s", rc_error_message());
    }
    for (int i = 0; i < nthreads; i++)
        CHECK(rc_thread_join(t[i]) == 0, "%s", rc_error_message());
    rc_gc_disable();
    long left = rc_list_len(hub);
    for (long k = 0; k < left; k++) {
        rc_object *it = rc_list_get(hub, k);
        CHECK(check_item(it), "item left in the hub corrupted");
        rc_decref(it);
    }
    CHECK(atomic_load(&consumed) + left == atomic_load(&produced), "consumed %ld + left %ld != produced %ld",
          atomic_load(&consumed), left, atomic_load(&produced));
    rc_decref(hub);
    hub = NULL;
    collect_all();
}

/* ------------------------------------------------------------- exits */

static rc_object *pub;          /* items published by exiting threads */
static _Atomic int makers_done;
static _Atomic long published, taken;

struct maker {
    int index;
    int round;
};

static void make_and_exit(void *p)
{
    struct maker *m = p;
    uint64_t rng = seed ^ ((uint64_t)m->index << 20) ^ ((uint64_t)m->round << 40);
    long seq = 2000000000L + (long)m->round * 100000L + (long)m->index * 1000L;
    rc_object *scratch = rc_list_new();
    for (int k = 0; k < 40; k++)
        make_garbage(rng_next(&rng) % 4, seq + 500 + k, scratch);   /* no phoenix, no weakref */
    rc_decref(scratch);
    for (int k = 0; k < 8; k++) {
        rc_object *it = make_item(seq + k);
        rc_list_append(pub, it);
        rc_decref(it);
        atomic_fetch_add(&published, 1);
    }
}

static void collector_thread(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed + 99u;
    for (;;) {
        int finished = atomic_load(&makers_done);   /* read before draining */
        rc_gc_collect((int)(rng_next(&rng) % 3));
        long got = 0;
        rc_object *it;
        while ((it = rc_list_pop(pub, -1)) != NULL) {
            CHECK(check_item(it), "published item corrupted");
            rc_decref(it);
            atomic_fetch_add(&taken, 1);
            got++;
        }
        rc_error_clear();
        rc_safepoint();
        w->done++;
        if (finished && got == 0)
            break;
    }
}

static void phase_exits(void)
{
    pub = rc_list_new();
    int rounds = (int)(iterations / 4000) + 1;
    rc_gc_set_threshold(100, 5, 5);
    rc_gc_enable();
    atomic_store(&makers_done, 0);
    struct worker cw = {.index = 0};
    rc_thread *collector = rc_thread_start(collector_thread, &cw);
    CHECK(collector != NULL, "%s", rc_error_message());
    for (int r = 0; r < rounds; r++) {
        rc_thread *makers[64];
        struct maker mk[64];
        for (int i = 0; i < nthreads; i++) {
            mk[i] = (struct maker){.index = i, .round = r};
            makers[i] = rc_thread_start(make_and_exit, &mk[i]);
            CHECK(makers[i] != NULL, "%s", rc_error_message());
        }
        for (int i = 0; i < nthreads; i++)
            CHECK(rc_thread_join(makers[i]) == 0, "%s", rc_error_message());
        rc_gc_collect(r % 3);
    }
    atomic_store(&makers_done, 1);
    CHECK(rc_thread_join(collector) == 0, "%s", rc_error_message());
    rc_gc_disable();
    CHECK(rc_list_len(pub) == 0, "%ld items never taken", rc_list_len(pub));
    CHECK(atomic_load(&taken) == atomic_load(&published), "taken %ld of %ld",
          atomic_load(&taken), atomic_load(&published));
    CHECK(atomic_load(&published) == (long)rounds * nthreads * 8, "published %ld",
          atomic_load(&published));
    rc_decref(pub);
    pub = NULL;
    collect_all();
    CHECK(atomic_load(&fin_calls) == atomic_load(&fin_made), "finalizers %ld of %ld",
          atomic_load(&fin_calls), atomic_load(&fin_made));
    CHECK(atomic_load(&fin_broken) == 0, "%ld finalizers saw a cleared partner",
          atomic_load(&fin_broken));
}

/* ---------------------------------------------------------------- main */

static int run_phase(const char *name, void (*phase)(void), size_t base)
{
    int before = stress_failed();
    phase();
    CHECK(rc_live_objects() == base, "%s: live %zu, expected %zu", name, rc_live_objects(), base);
    CHECK(rc_gc_verify_heap() == 0, "%s: verify: %s", name, rc_error_message());
    int ok = stress_failed() == before;
    printf("%s: %s\n", name, ok ? "ok" : "FAILED");
    return ok;
}

int main(int argc, char **argv)
{
    struct stress_args args = {.threads = nthreads, .iterations = iterations, .seed = seed};
    stress_parse_args(argc, argv, 1, &args);
    rc_mode mode = args.mode;
    nthreads = args.threads;
    iterations = args.iterations;
    seed = args.seed;
    rc_runtime *rt = stress_runtime_new(mode);
    item_type = rc_type_new("Item", 4, NULL);
    node_type = rc_type_new("Node", 2, NULL);
    fin_type = rc_type_new("Fin", 2, fin_check);
    phoenix_type = rc_type_new("Phoenix", 2, phoenix_finalize);
    (void)rc_gc_garbage();
    rc_gc_disable();
    rc_gc_collect(2);
    size_t base = rc_live_objects();
    int passed = 0, total = 0;
    total++, passed += run_phase("churn", phase_churn, base);
    total++, passed += run_phase("handoff", phase_handoff, base);
    total++, passed += run_phase("exits", phase_exits, base);
    printf("collections %zu, finalizers %ld, phoenixes %ld, weakref callbacks %ld\n",
           rc_gc_record_count(), atomic_load(&fin_calls), atomic_load(&phoenix_calls),
           atomic_load(&weak_calls));
    long leaked = rc_runtime_free(rt);
    CHECK(leaked == 0, "rc_runtime_free reported %ld leaked", leaked);
    if (leaked != 0 && passed == total)
        passed--;
    printf("%d passed, %d failed\n", passed, total - passed);
    return stress_failed() == 0 ? 0 : 1;
}
