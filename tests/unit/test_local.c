/* tests/unit/test_local.c: thread-local young collections (docs/gc.md
 * [gc.local]).  The concurrent collector, ft mode: a thread collects the
 * young objects only it has seen without stopping the world; another
 * thread that changes one of its objects, or borrows one, marks it escaped
 * first, and waits for a decision in progress.  In gil and ft-atomic mode
 * no local collection runs (every test checks that much there).
 *
 * Each test drives the local collection by hand (gc_local_collect) with
 * automatic collection on (local collections need it) and a threshold no
 * test reaches; the torture settings (RCGC_GC_STRESS, RCGC_GC_VERIFY) are
 * turned off, since the verifier turns local collections off and stress
 * would collect at points the tests could not predict.  The forced
 * interleavings use the collector's test hook, which runs inside the
 * decision, with the escape lock held.
 */
#define RCGC_BUILDING 1
#include "harness.h"

#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "collector.h"
#include "internal.h"
#include "weakref.h"

static rc_type *node_type;   /* Node(next, value) */

static struct thr_state *me(void) { return rc_tls_state; }

static bool local_mode(void) { return harness_mode == RC_MODE_FT; }

static int setup(void **state)
{
    harness_collector = RC_COLLECTOR_CONCURRENT;
    if (harness_setup(state) != 0)
        return -1;
    node_type = rc_type_new("Node", 2, NULL);
    if (node_type == NULL)
        return -1;
    rc_gc_set_stress(0);
    rc_gc_set_verify(RC_GC_VERIFY_OFF);
    rc_gc_collect(2);
    rc_gc_set_threshold(1000000, 10, 10);   /* no automatic collection comes */
    rc_gc_enable();
    return 0;
}

static int teardown(void **state)
{
    gc_local_test_hook(me()->rt, NULL, NULL);
    return harness_teardown(state);
}

/* Node(next=itself, value=v): a young garbage cycle once dropped. */
static rc_object *self_node(long v)
{
    rc_object *x = rc_instance_new(node_type);
    rc_object *n = rc_int_new(v);
    rc_slot_set(x, 0, x);
    rc_slot_set(x, 1, n);
    rc_decref(n);
    return x;
}

static long value_of(rc_object *node)
{
    rc_object *n = rc_slot_get(node, 1);
    long v = rc_is_int(n) ? (long)rc_int_value(n) : -1;
    rc_decref(n);
    return v;
}

static rc_gc_record last_record(void)
{
    rc_gc_record r;
    size_t n = rc_gc_record_count();
    assert_true(n > 0);
    assert_int_equal(1, rc_gc_records(n - 1, &r, 1));
    return r;
}

/* Spin until *flag is set, passing safepoints (gil mode: the GIL goes to
 * the thread that sets it); fails the test after 20 s.  Not in a hook: a
 * decision passes no safepoint. */
static void await_flag(_Atomic int *flag)
{
    uint64_t until = rc_clock_ns() + 20000000000ull;
    while (!atomic_load(flag)) {
        assert_true(rc_clock_ns() < until);
        rc_safepoint();
        sched_yield();
    }
}

/* In ft mode, true; elsewhere checks that no local collection runs (of
 * either generation) and returns false. */
static bool runs_local_collections(void)
{
    if (local_mode())
        return true;
    assert_int_equal(-1, gc_local_collect(me(), 0));
    assert_int_equal(-1, gc_local_collect(me(), 1));
    return false;
}

/* ------------------------------------------------------------------ tests */

/* Young cycles nobody else saw are found with no stop; what is still
 * referenced survives into generation 1. */
static void test_collects_private_cycles_without_a_stop(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    rc_object *keep = rc_list_new();
    rc_object *kept = self_node(7);
    rc_list_append(keep, kept);
    for (long i = 0; i < 100; i++)
        rc_decref(self_node(i));
    size_t stops = rc_stw_count(), records = rc_gc_record_count();
    long found = gc_local_collect(me(), 0);
    if (!local_mode()) {
        assert_int_equal(-1, found);   /* never outside ft mode */
        assert_int_equal(records, rc_gc_record_count());
    } else {
        assert_int_equal(100, found);
        assert_int_equal(stops, rc_stw_count());   /* nobody stopped */
        rc_gc_record r = last_record();
        assert_int_equal(1, r.local);
        assert_int_equal(0, r.generation);
        assert_int_equal(100, r.collected);
        assert_int_equal(0, (long)r.pause_ns);
        /* The survivors went to generation 1, intact. */
        rc_object *gen1 = rc_gc_get_objects(1);
        bool found_keep = false, found_kept = false;
        for (long i = 0; i < rc_list_len(gen1); i++) {
            rc_object *o = rc_list_get_borrowed(gen1, i);
            found_keep |= o == keep;
            found_kept |= o == kept;
        }
        rc_decref(gen1);
        assert_true(found_keep && found_kept);
        assert_int_equal(7, value_of(kept));
    }
    rc_decref(kept);
    rc_decref(keep);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

struct toucher {
    rc_object *list;      /* the main thread's, reached through C */
    rc_object *got;       /* what the toucher popped or borrowed */
    long value;
    _Atomic int go, done;
};

static void pop_fn(void *arg)
{
    struct toucher *t = arg;
    await_flag(&t->go);
    t->got = rc_list_pop(t->list, 0);   /* a change: escapes the list first */
    t->value = t->got != NULL ? value_of(t->got) : -1;
    atomic_store(&t->done, 1);
}

/* A list another thread changed is escaped, and so left out of local
 * collections: garbage it is part of waits for a collection that stops
 * the world. */
static void test_changed_by_another_thread_is_left_out(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    rc_object *l = rc_list_new();
    rc_list_append(l, l);   /* a cycle */
    rc_object *x = self_node(5);
    rc_list_append(l, x);
    rc_decref(x);
    struct toucher t = {.list = l};
    atomic_store(&t.go, 1);
    rc_thread *th = rc_thread_start(pop_fn, &t);
    assert_non_null(th);
    assert_int_equal(0, rc_thread_join(th));
    assert_ptr_equal(l, t.got);   /* item 0 was the list itself */
    if (local_mode())
        assert_true(obj_gc_bits(l) & RC_GC_ESCAPED);
    rc_list_append(l, t.got);     /* back into its own list */
    rc_decref(t.got);
    rc_decref(l);                 /* garbage now: l -> l, l -> x -> x */
    long found = gc_local_collect(me(), 0);
    if (local_mode()) {
        /* x only this thread saw, but the escaped list, which is no
         * member, refers to it: a reference from outside the set. */
        assert_int_equal(0, found);
        assert_true(rc_live_objects() > live);
    } else {
        assert_int_equal(-1, found);
    }
    /* With the world stopped both go (x survived into generation 1). */
    assert_int_equal(2, rc_gc_collect(1));
    assert_int_equal(live, rc_live_objects());
}

static void borrow_fn(void *arg)
{
    struct toucher *t = arg;
    t->got = rc_list_get_borrowed(t->list, 0);
    t->value = rc_is_instance(t->got) ? 1 : 0;
    atomic_store(&t->done, 1);
}

/* An item another thread borrowed is escaped before it is handed out, and
 * the list it read before it is read. */
static void test_borrowed_item_is_escaped(void **state)
{
    (void)state;
    rc_object *l = rc_list_new();
    rc_object *x = self_node(9);
    rc_list_append(l, x);
    assert_false(obj_gc_bits(x) & RC_GC_ESCAPED);
    struct toucher t = {.list = l};
    rc_thread *th = rc_thread_start(borrow_fn, &t);
    assert_non_null(th);
    assert_int_equal(0, rc_thread_join(th));
    assert_ptr_equal(x, t.got);
    assert_int_equal(1, t.value);
    /* ft: marked; gil: every object is every thread's; ft-atomic: no
     * object has an owner. */
    assert_int_equal(local_mode(), (obj_gc_bits(x) & RC_GC_ESCAPED) != 0);
    /* The list was read by a thread that is not its owner: escaped too. */
    assert_int_equal(local_mode(), (obj_gc_bits(l) & RC_GC_ESCAPED) != 0);
    rc_decref(x);
    rc_decref(l);
}

/* The lost object, forced: while the owner's local collection decides
 * (after its subtract pass, before its mark pass), another thread pops the
 * only reference to x out of a list that the owner holds.  Without the
 * escape lock the mark pass would miss x and free it under the popper.
 * The popper must wait for the decision instead (escape_waits counts it). */
struct lost {
    struct toucher t;
    struct rc_runtime *rt;
    unsigned long waits_before;
};

static void wait_for_popper(void *arg, int phase)
{
    struct lost *lo = arg;
    if (phase != 1)
        return;
    atomic_store(&lo->t.go, 1);
    /* The popper finds the escape lock held (we hold it as a reader) and
     * counts its wait before it blocks. */
    uint64_t until = rc_clock_ns() + 20000000000ull;
    while (rc_atomic_load_relaxed(&lo->rt->escape_waits) == lo->waits_before &&
           rc_clock_ns() < until)
        sched_yield();
}

static void test_lost_object_waits_for_the_decision(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    rc_object *l = rc_list_new();
    rc_object *x = self_node(42);
    rc_list_append(l, x);
    rc_decref(x);   /* l holds the only reference from outside x's cycle */
    struct lost lo = {.t = {.list = l}, .rt = me()->rt,
                      .waits_before = rc_atomic_load_relaxed(&me()->rt->escape_waits)};
    rc_thread *th = rc_thread_start(pop_fn, &lo.t);
    assert_non_null(th);
    if (local_mode()) {
        gc_local_test_hook(me()->rt, wait_for_popper, &lo);
        assert_int_equal(0, gc_local_collect(me(), 0));   /* nothing is garbage */
        gc_local_test_hook(me()->rt, NULL, NULL);
        assert_true(rc_atomic_load_relaxed(&me()->rt->escape_waits) > lo.waits_before);
    } else {
        atomic_store(&lo.t.go, 1);
    }
    assert_int_equal(0, rc_thread_join(th));
    assert_ptr_equal(x, lo.t.got);
    assert_int_equal(42, lo.t.value);   /* alive and intact */
    assert_int_equal(0, rc_list_len(l));
    rc_decref(lo.t.got);
    rc_decref(l);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

static int callbacks;

static void on_dead(rc_object *wr, void *arg)
{
    (void)wr;
    (void)arg;
    callbacks++;
}

/* Garbage with a weakref and no callback: detached under the weakref
 * lock, no stop.  With a callback to run, the garbage is left, untouched,
 * to a collection that stops the world (which calls it once). */
static void test_weakref_to_local_garbage(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    callbacks = 0;
    rc_object *x = self_node(3);
    rc_object *plain = rc_weakref_new(x, NULL, NULL);
    rc_decref(x);
    size_t stops = rc_stw_count();
    long found = gc_local_collect(me(), 0);
    if (local_mode()) {
        assert_int_equal(1, found);
        assert_int_equal(stops, rc_stw_count());
        assert_null(rc_weakref_get(plain));
    } else {
        assert_int_equal(-1, found);
        assert_int_equal(1, rc_gc_collect(0));   /* with the world stopped */
    }
    rc_decref(plain);

    rc_object *y = self_node(4);
    rc_object *wr = rc_weakref_new(y, on_dead, NULL);
    rc_decref(y);
    size_t before = rc_live_objects();
    assert_int_equal(-1, gc_local_collect(me(), 0));   /* a callback to run */
    assert_int_equal(before, rc_live_objects());
    assert_int_equal(0, callbacks);
    rc_object *alive = rc_weakref_get(wr);
    assert_ptr_equal(y, alive);   /* untouched */
    assert_int_equal(4, value_of(alive));
    rc_decref(alive);
    assert_int_equal(1, rc_gc_collect(0));   /* the world stopped */
    assert_int_equal(1, callbacks);
    assert_null(rc_weakref_get(wr));
    rc_decref(wr);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* Another thread takes a reference through a weakref while the owner's
 * collection decides: the decision finds the target garbage (its count
 * was read before), but the check after it sees the other thread's count
 * and keeps all of it, alive, for a later collection.  The weakref was
 * used by that thread before (so escaped, no member, no wait). */
struct getter {
    rc_object *wr;
    rc_object *got;
    _Atomic int go, done;
};

static void get_fn(void *arg)
{
    struct getter *g = arg;
    rc_object *first = rc_weakref_get(g->wr);   /* escapes the weakref */
    rc_decref(first);
    atomic_store(&g->done, 1);
    await_flag(&g->go);
    g->got = rc_weakref_get(g->wr);
    atomic_store(&g->done, 2);
}

static void get_during_decision(void *arg, int phase)
{
    struct getter *g = arg;
    if (phase != 1)
        return;
    atomic_store(&g->go, 1);
    uint64_t until = rc_clock_ns() + 20000000000ull;
    while (atomic_load(&g->done) != 2 && rc_clock_ns() < until)
        sched_yield();
}

static void test_weakref_get_during_the_decision_keeps_the_garbage(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    rc_object *x = self_node(11);
    struct getter g = {.wr = rc_weakref_new(x, NULL, NULL)};
    rc_thread *th = rc_thread_start(get_fn, &g);
    assert_non_null(th);
    uint64_t until = rc_clock_ns() + 20000000000ull;
    while (atomic_load(&g.done) != 1) {   /* attached, so let stops through */
        assert_true(rc_clock_ns() < until);
        rc_safepoint();
        sched_yield();
    }
    rc_decref(x);   /* garbage now, but for the weakref */
    if (local_mode()) {
        gc_local_test_hook(me()->rt, get_during_decision, &g);
        assert_int_equal(0, gc_local_collect(me(), 0));   /* reached: kept */
        gc_local_test_hook(me()->rt, NULL, NULL);
    } else {
        atomic_store(&g.go, 1);
    }
    assert_int_equal(0, rc_thread_join(th));
    assert_ptr_equal(x, g.got);
    assert_int_equal(11, value_of(g.got));   /* intact: not cleared */
    rc_decref(g.got);
    rc_gc_collect(2);   /* garbage again; the world stopped this time */
    assert_null(rc_weakref_get(g.wr));
    rc_decref(g.wr);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* The root moved while the counts are read, forced: another thread holds
 * tuple Q = (P,) with P -> Q, the owner having dropped both.  Once the
 * owner's collection has read P's count (P was made first), the other
 * thread takes P out of Q and drops Q.  Read at that moment, Q's count
 * would be the cycle's alone and both would look like garbage, P cleared
 * under the thread that now holds it.  Reading Q's item escapes Q first,
 * which waits for the decision, so Q is read with the thread's count on it
 * and P survives. */
struct mover {
    rc_object *q;
    rc_object *p;
    struct rc_runtime *rt;
    unsigned long waits_before;
    long len;
    _Atomic int go, done;
};

static void move_fn(void *arg)
{
    struct mover *m = arg;
    await_flag(&m->go);
    m->p = rc_tuple_get(m->q, 0);   /* a reference to P, ours */
    rc_decref(m->q);
    atomic_store(&m->done, 1);
    m->len = rc_list_len(m->p);
}

static void move_during_the_reads(void *arg, int phase)
{
    struct mover *m = arg;
    if (phase != 0)
        return;
    atomic_store(&m->go, 1);
    /* Until the mover waits for us (or, were it not made to, is done). */
    uint64_t until = rc_clock_ns() + 20000000000ull;
    while (rc_atomic_load_relaxed(&m->rt->escape_waits) == m->waits_before &&
           !atomic_load(&m->done) && rc_clock_ns() < until)
        sched_yield();
}

static void test_root_moved_while_counts_are_read(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    rc_object *p = rc_list_new();
    rc_object *q = rc_tuple_new(1, &p);
    rc_list_append(p, q);
    struct mover m = {.q = q, .rt = me()->rt,
                      .waits_before = rc_atomic_load_relaxed(&me()->rt->escape_waits)};
    rc_incref(q);   /* the mover's reference, handed over below */
    rc_thread *th = rc_thread_start(move_fn, &m);
    assert_non_null(th);
    rc_decref(q);
    rc_decref(p);
    if (local_mode()) {
        gc_local_test_hook(me()->rt, move_during_the_reads, &m);
        assert_int_equal(0, gc_local_collect(me(), 0));
        gc_local_test_hook(me()->rt, NULL, NULL);
        assert_true(rc_atomic_load_relaxed(&me()->rt->escape_waits) > m.waits_before);
    } else {
        atomic_store(&m.go, 1);
    }
    assert_int_equal(0, rc_thread_join(th));
    assert_int_equal(1, m.len);   /* P intact: it still holds Q */
    rc_decref(m.p);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

static rc_object *resurrected;   /* the finalizer's list */

static void resurrect(rc_object *self)
{
    rc_list_append(resurrected, self);
}

/* A finalizer in the garbage: a local collection runs no object code, so
 * it leaves the garbage to a collection that stops the world, which runs
 * the finalizer once and keeps what it resurrects. */
static void test_finalizer_is_left_to_a_stop(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    rc_type *fin = rc_type_new("Fin", 2, resurrect);
    resurrected = rc_list_new();
    rc_object *x = rc_instance_new(fin);
    rc_slot_set(x, 0, x);
    rc_decref(x);
    /* A finalizer to run: left, untouched, to a stop. */
    assert_int_equal(-1, gc_local_collect(me(), 0));
    assert_int_equal(0, rc_list_len(resurrected));
    assert_false(obj_gc_bits(x) & RC_GC_FINALIZED);
    assert_int_equal(1, rc_gc_collect(0));   /* found there, then resurrected */
    assert_int_equal(1, rc_list_len(resurrected));
    assert_ptr_equal(x, rc_list_get_borrowed(resurrected, 0));
    assert_true(obj_gc_bits(x) & RC_GC_FINALIZED);
    rc_decref(resurrected);   /* x dies now, by a collection: no second call */
    resurrected = NULL;
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* Two threads collect their own young garbage at the same time, each
 * leaving the other's alone (an object of one referring to the other's:
 * counted by the other, so not a member of either). */
struct churner {
    rc_object *shared;   /* a list both append their survivors to */
    long found;
    _Atomic int go;
};

static void churn_fn(void *arg)
{
    struct churner *c = arg;
    await_flag(&c->go);
    for (int round = 0; round < 50; round++) {
        for (long i = 0; i < 40; i++)
            rc_decref(self_node(i));
        rc_object *keep = self_node(round);
        rc_list_append(c->shared, keep);
        rc_decref(keep);
        long f = gc_local_collect(me(), 0);
        if (f > 0)
            c->found += f;
    }
}

static void test_two_threads_collect_at_once(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    struct churner c[2] = {{.shared = rc_list_new()}, {0}};
    c[1].shared = c[0].shared;
    rc_thread *th[2];
    for (int i = 0; i < 2; i++) {
        th[i] = rc_thread_start(churn_fn, &c[i]);
        assert_non_null(th[i]);
    }
    atomic_store(&c[0].go, 1);
    atomic_store(&c[1].go, 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(0, rc_thread_join(th[i]));
    /* ft: each found its own 40 * 50 cycles (the kept ones survive). */
    if (local_mode())
        for (int i = 0; i < 2; i++)
            assert_int_equal(40 * 50, c[i].found);
    assert_int_equal(100, rc_list_len(c[0].shared));
    for (long i = 0; i < 100; i++) {
        rc_object *n = rc_list_get(c[0].shared, i);
        rc_object *self = rc_slot_get(n, 0);
        assert_ptr_equal(n, self);
        rc_decref(self);
        rc_decref(n);
    }
    rc_decref(c[0].shared);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* Young garbage another thread has seen is left by local collections;
 * once the young count passes the trigger for the whole young generation
 * (generation 0's threshold times one more than the threads), a young
 * collection that stops the world takes it. */
struct reader {
    rc_object *list;
    long n;
};

static void read_all_fn(void *arg)
{
    struct reader *r = arg;
    for (long i = 0; i < r->n; i++) {
        rc_object *x = rc_list_get(r->list, i);
        rc_decref(rc_slot_get(x, 1));   /* reading its slot escapes it */
        rc_decref(x);
    }
}

static void test_escaped_young_garbage_goes_to_a_stop(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    enum { N = 300 };
    rc_object *l = rc_list_new();
    for (long i = 0; i < N; i++) {
        rc_object *x = self_node(i);
        rc_list_append(l, x);
        rc_decref(x);
    }
    struct reader r = {.list = l, .n = N};
    rc_thread *th = rc_thread_start(read_all_fn, &r);
    assert_non_null(th);
    assert_int_equal(0, rc_thread_join(th));
    rc_list_clear(l);   /* N escaped garbage cycles, young */
    rc_decref(l);
    rc_gc_set_threshold(100, 1000000, 10);   /* generation 1 never due */
    size_t first = rc_gc_record_count();
    long found = 0;
    rc_object *hold = rc_list_new();   /* allocations that count, no garbage */
    for (int i = 0; i < 5000 && found < N; i++) {
        rc_object *e = rc_list_new();
        rc_list_append(hold, e);
        rc_decref(e);
        rc_safepoint();
        size_t n = rc_gc_record_count();
        for (size_t k = first; k < n; k++) {
            rc_gc_record rec;
            assert_int_equal(1, rc_gc_records(k, &rec, 1));
            if (!rec.local && rec.generation == 0)
                found += rec.collected;
        }
        first = n;
    }
    assert_true(found >= N);
    rc_decref(hold);
    rc_gc_set_threshold(1000000, 10, 10);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* A collection of generation 1 on the thread: its garbage found, its
 * survivors into the oldest generation and then the old space, all with
 * no stop. */
static void test_generation_1_collected_without_a_stop(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    rc_object *keep = self_node(1);   /* survives both */
    rc_object *later = self_node(2);  /* survives generation 0's */
    size_t stops = rc_stw_count();
    long found = gc_local_collect(me(), 0);
    if (!local_mode()) {
        assert_int_equal(-1, found);
        assert_int_equal(-1, gc_local_collect(me(), 1));
    } else {
        assert_int_equal(0, found);
        rc_decref(later);   /* garbage now, in generation 1 */
        later = NULL;
        assert_int_equal(1, gc_local_collect(me(), 1));
        assert_int_equal(stops, rc_stw_count());   /* nobody stopped */
        rc_gc_record r = last_record();
        assert_int_equal(1, r.local);
        assert_int_equal(1, r.generation);
        /* keep entered the oldest generation: its thread's list of it,
         * until the collector asks for it
         * (test_promoted_objects_wait_until_asked). */
        struct rc_runtime *rt = me()->rt;
        assert_true(obj_gc_bits(keep) & RC_GC_OLD);
        assert_false(gcl_in_oldspace(&rt->gcl, OBJ_GC_HEAD(keep)));
        assert_ptr_equal(OBJ_GC_HEAD(keep), me()->gcl->lists[RC_GC_GENERATIONS - 1].prev);
        assert_int_equal(1, value_of(keep));
    }
    rc_decref(later);
    rc_decref(keep);   /* a cycle in the old space: a cycle of the collector's finds it */
    assert_int_equal(local_mode() ? 1 : 2, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

/* What a local collection of generation 1 leaves there (escaped objects)
 * waits for a collection of generation 1 that stops the world, which is
 * due at once when it holds generation 0's threshold of them. */
static void test_generation_1_leaves_escaped_objects_to_a_stop(void **state)
{
    (void)state;
    if (!runs_local_collections())
        return;
    size_t live = rc_live_objects();
    enum { N = 8 };
    rc_object *l = rc_list_new();
    for (long i = 0; i < N; i++) {
        rc_object *x = self_node(i);
        rc_list_append(l, x);
        rc_decref(x);
    }
    assert_int_equal(0, gc_local_collect(me(), 0));   /* all into generation 1 */
    struct reader r = {.list = l, .n = N};
    rc_thread *th = rc_thread_start(read_all_fn, &r);
    assert_non_null(th);
    assert_int_equal(0, rc_thread_join(th));   /* every node escaped */
    rc_list_clear(l);   /* N escaped garbage cycles in generation 1 */
    rc_gc_set_threshold(N, 10, 10);   /* no allocation follows until reset */
    assert_int_equal(0, gc_local_collect(me(), 1));
    long counts[RC_GC_GENERATIONS];
    assert_int_equal(0, rc_gc_get_count(counts));
    assert_true(counts[1] >= 10);   /* generation 1 due */
    rc_gc_set_threshold(1000000, 10, 10);
    assert_int_equal(N, rc_gc_collect(1));
    rc_decref(l);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* A thread frees an object of the old space that it read, a moment
 * before, as another thread's (the one that moved it there: gcl_adopt_into_
 * oldspace), and pushes it on that thread's stack.  The object is linked
 * in the old space's list, perhaps a concurrent cycle's whose passes hold
 * their counts in its links: the owner's drain must hand it on to the old
 * space's stack, never unlink it.  Forced here: the stale read is an owner
 * field set back for the free. */
struct drainer {
    struct gcl_owner *owner;
    _Atomic int ready, go, done;
};

static void drain_fn(void *arg)
{
    struct drainer *d = arg;
    d->owner = rc_tls_state->gcl;
    atomic_store(&d->ready, 1);
    await_flag(&d->go);   /* safepoints drain no stack; allocations would */
    gcl_drain_handback(rc_tls_state, rc_tls_state->gcl);
    atomic_store(&d->done, 1);
}

static void test_stale_owner_free_is_forwarded_to_the_old_space(void **state)
{
    (void)state;
    if (!runs_local_collections())
        return;
    size_t live = rc_live_objects();
    struct rc_runtime *rt = me()->rt;
    rc_object *x = rc_instance_new(node_type);   /* no cycle: freed when dropped */
    assert_int_equal(0, gc_local_collect(me(), 0));
    assert_int_equal(0, gc_local_collect(me(), 1));
    struct gc_head *g = OBJ_GC_HEAD(x);
    gc_cc_test_adopt(me());   /* as asked for it */
    assert_true(gcl_in_oldspace(&rt->gcl, g));
    struct drainer d = {0};
    rc_thread *th = rc_thread_start(drain_fn, &d);
    assert_non_null(th);
    await_flag(&d.ready);
    rc_gc_disable();   /* the cycle goes by hand */
    assert_true(gc_cc_test_start(me()));
    while (gc_cc_test_phase(rt) < 2)   /* build done: x's links hold its count */
        gc_cc_test_work(me(), 1);
    assert_true(gc_cc_links_borrowed(rt));
    struct gcl_owner *old = gcl_owner_of(g);
    /* The stale read is the free's alone: its deallocation saw the old
     * space and marked it dead (obj_mark_dead), as here by hand, since
     * the owner field is set back for the whole of its death.  (A real
     * one is never a member: its count was 0 before the cycle could read
     * it; but its links are the old space's all the same.) */
    rc_atomic_or_relaxed(&x->ob_gc_bits, RC_GC_DEAD);
    gcl_set_owner(g, d.owner);   /* as read before the move */
    rc_decref(x);                /* dies: pushed on d's thread's stack */
    gcl_set_owner(g, old);       /* the move is done */
    atomic_store(&d.go, 1);
    await_flag(&d.done);
    assert_int_equal(0, rc_thread_join(th));
    while (gc_cc_test_phase(rt) != 5)   /* the passes to their end */
        gc_cc_test_work(me(), 1024);
    assert_true(gc_cc_test_finish_all(me()) >= 0);
    rc_gc_enable();
    assert_int_equal(0, rc_gc_verify_heap());
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* A thread whose promoted objects the collector could not take before it
 * exited (busy held meanwhile) leaves them in the orphan's list, and the
 * next thread that can moves them into the old space. */
struct leaver {
    rc_object *keep;   /* the main thread's list: what it promoted goes there */
    _Atomic int done;
};

static void leave_fn(void *arg)
{
    struct leaver *l = arg;
    rc_object *x = self_node(9);
    assert_int_equal(0, gc_local_collect(me(), 0));
    assert_int_equal(0, gc_local_collect(me(), 1));
    /* busy is the main thread's: x waits in our list of the oldest
     * generation. */
    assert_false(gcl_is_empty(&me()->gcl->lists[RC_GC_GENERATIONS - 1]));
    rc_list_append(l->keep, x);
    rc_decref(x);
}

static void test_exited_thread_promoted_objects_reach_the_old_space(void **state)
{
    (void)state;
    if (!runs_local_collections())
        return;
    size_t live = rc_live_objects();
    struct rc_runtime *rt = me()->rt;
    struct leaver l = {.keep = rc_list_new()};
    gc_cc_test_busy(me(), true);
    rc_thread *th = rc_thread_start(leave_fn, &l);
    assert_non_null(th);
    assert_int_equal(0, rc_thread_join(th));
    gc_cc_test_busy(me(), false);
    rc_object *x = rc_list_get_borrowed(l.keep, 0);
    assert_ptr_equal(rt->gcl.orphan, gcl_owner_of(OBJ_GC_HEAD(x)));
    assert_true(atomic_load(&rt->gcl.orphan_old));
    rt->gc->ops->adopt(me(), 0);   /* what the next allocation report does */
    assert_true(gcl_in_oldspace(&rt->gcl, OBJ_GC_HEAD(x)));
    assert_false(atomic_load(&rt->gcl.orphan_old));
    assert_int_equal(9, value_of(x));
    rc_decref(l.keep);
    assert_int_equal(1, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

/* A new list of n new instances, ours. */
static rc_object *list_of_instances(int n)
{
    rc_object *l = rc_list_new();
    for (int i = 0; i < n; i++) {
        rc_object *x = rc_instance_new(node_type);
        rc_list_append(l, x);
        rc_decref(x);
    }
    return l;
}

static size_t list_length(const struct gc_head *list)
{
    size_t n = 0;
    for (const struct gc_head *g = list->next; g != list; g = g->next)
        n++;
    return n;
}

/* What a thread's local collections promote waits in its own list of the
 * oldest generation, where a death is an unlink by the thread (nothing
 * goes on the old space's stack), until the collector asks for it (a
 * cycle due): then the thread moves it into the old space, a slice at
 * each allocation report. */
static void test_promoted_objects_wait_until_asked(void **state)
{
    (void)state;
    if (!runs_local_collections())
        return;
    size_t live = rc_live_objects();
    struct rc_runtime *rt = me()->rt;
    struct gc_head *own = &me()->gcl->lists[RC_GC_GENERATIONS - 1];
    size_t before = list_length(own);
    enum { N = 6000 };
    rc_object *l = list_of_instances(N);
    assert_int_equal(0, gc_local_collect(me(), 0));
    assert_int_equal(0, gc_local_collect(me(), 1));
    assert_int_equal(before + N + 1, list_length(own));
    rc_object *x0 = rc_list_get_borrowed(l, 0);
    assert_false(gcl_in_oldspace(&rt->gcl, OBJ_GC_HEAD(x0)));
    assert_true(obj_gc_bits(x0) & RC_GC_OLD);
    /* A death there is an unlink. */
    struct gc_head *stack = atomic_load(&rt->gcl.oldspace->handback);
    rc_decref(rc_list_pop(l, N - 1));
    assert_ptr_equal(stack, atomic_load(&rt->gcl.oldspace->handback));
    assert_int_equal(before + N, list_length(own));
    /* Unasked, a report leaves them there. */
    rt->gc->ops->adopt(me(), 0);
    assert_int_equal(before + N, list_length(own));
    /* Asked: a slice at a report, the rest at the next. */
    gc_cc_test_announce(rt);
    rt->gc->ops->adopt(me(), 0);
    size_t left = list_length(own);
    assert_true(left > 0 && left < before + N);
    rt->gc->ops->adopt(me(), 0);
    assert_int_equal(0, list_length(own));
    assert_true(gcl_in_oldspace(&rt->gcl, OBJ_GC_HEAD(x0)));
    rc_decref(l);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* A thread that detaches may stay away long: what its local collections
 * promoted joins the old space first, where the cycles see it. */
static void detach_fn(void *arg)
{
    _Atomic int *moved = arg;
    rc_object *x = rc_instance_new(node_type);   /* ours, alive: promoted */
    assert_int_equal(0, gc_local_collect(me(), 0));
    assert_int_equal(0, gc_local_collect(me(), 1));
    struct gcl_state *st = &me()->rt->gcl;
    assert_false(gcl_in_oldspace(st, OBJ_GC_HEAD(x)));
    assert_int_equal(0, rc_detach());
    assert_int_equal(0, rc_attach());
    atomic_store(moved, gcl_in_oldspace(st, OBJ_GC_HEAD(x)) ? 1 : 2);
    rc_decref(x);
}

static void test_detaching_thread_moves_its_promoted_objects(void **state)
{
    (void)state;
    if (!runs_local_collections())
        return;
    size_t live = rc_live_objects();
    _Atomic int moved = 0;
    rc_thread *th = rc_thread_start(detach_fn, &moved);
    assert_non_null(th);
    assert_int_equal(0, rc_thread_join(th));
    assert_int_equal(1, atomic_load(&moved));
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* A thread that detaches while the cycle's busy flag is held (a slice, a
 * collection finishing a cycle) waits a while for it, then goes with its
 * promoted objects where they are: it no longer holds rc_gc_collect(2)
 * up, whose stop takes them (the collection is complete). */
struct busy_leaver {
    _Atomic int away, back, gave_up;
};

static void busy_leave_fn(void *arg)
{
    struct busy_leaver *b = arg;
    rc_object *x = self_node(3);
    assert_int_equal(0, gc_local_collect(me(), 0));
    assert_int_equal(0, gc_local_collect(me(), 1));
    rc_decref(x);   /* garbage in our list of the oldest generation */
    assert_int_equal(0, rc_detach());   /* busy is the main thread's */
    atomic_store(&b->away, 1);
    while (!atomic_load(&b->back))
        sched_yield();   /* detached: no safepoint to pass */
    assert_int_equal(0, rc_attach());
    /* Its next detach tries busy once, no wait, until it moved them. */
    atomic_store(&b->gave_up, me()->gc->adopt_gave_up);
}

static void test_thread_leaving_while_busy_is_held(void **state)
{
    (void)state;
    if (!runs_local_collections())
        return;
    size_t live = rc_live_objects();
    struct rc_runtime *rt = me()->rt;
    struct busy_leaver b = {0};
    gc_cc_test_busy(me(), true);
    rc_thread *th = rc_thread_start(busy_leave_fn, &b);
    assert_non_null(th);
    await_flag(&b.away);
    gc_cc_test_busy(me(), false);
    assert_int_equal(me()->gcl->unadopted, gc_cc_test_unadopted(rt));
    gc_cc_test_set_adopt_wait(rt, 20000000000ull);   /* would be felt */
    long renamed = gc_cc_test_stop_renamed(rt);
    assert_int_equal(1, rc_gc_collect(2));
    assert_true(gc_cc_test_stop_renamed(rt) > renamed);
    atomic_store(&b.back, 1);
    assert_int_equal(0, rc_thread_join(th));
    assert_true(atomic_load(&b.gave_up));
    gc_cc_test_set_adopt_wait(rt, 0);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* A thread that exits while busy is held leaves its promoted objects to
 * the orphan's list; rc_gc_collect(2) moves them into the old space a
 * slice at a time before its stop, which renames none of them. */
struct orphan_maker {
    rc_object *list;   /* ours, its objects promoted; a reference theirs */
};

static void orphan_fn(void *arg)
{
    struct orphan_maker *o = arg;
    rc_object *l = list_of_instances(10000);
    assert_int_equal(0, gc_local_collect(me(), 0));
    assert_int_equal(0, gc_local_collect(me(), 1));
    o->list = l;   /* exits with busy held by the main thread */
}

static void test_exited_threads_leftovers_move_before_the_stop(void **state)
{
    (void)state;
    if (!runs_local_collections())
        return;
    size_t live = rc_live_objects();
    struct rc_runtime *rt = me()->rt;
    struct orphan_maker o = {0};
    gc_cc_test_busy(me(), true);
    rc_thread *th = rc_thread_start(orphan_fn, &o);
    assert_non_null(th);
    assert_int_equal(0, rc_thread_join(th));
    gc_cc_test_busy(me(), false);
    assert_true(atomic_load(&rt->gcl.orphan_old));
    assert_ptr_equal(rt->gcl.orphan, gcl_owner_of(OBJ_GC_HEAD(o.list)));
    long renamed = gc_cc_test_stop_renamed(rt);
    assert_int_equal(0, rc_gc_collect(2));
    assert_int_equal(renamed, gc_cc_test_stop_renamed(rt));
    assert_int_equal(10000, rc_list_len(o.list));
    rc_decref(o.list);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* rc_gc_collect(2) asks the threads for what their local collections
 * promoted before its stop: one that allocates moves it on itself (the
 * stop renames none of it); one that does not, the stop takes it after a
 * wait.  The collection is complete either way: the garbage there is
 * found. */
struct answerer {
    bool allocate;
    _Atomic int ready, stop;
};

static void answer_fn(void *arg)
{
    struct answerer *a = arg;
    rc_object *x = self_node(7);
    assert_int_equal(0, gc_local_collect(me(), 0));
    assert_int_equal(0, gc_local_collect(me(), 1));
    assert_false(gcl_is_empty(&me()->gcl->lists[RC_GC_GENERATIONS - 1]));
    rc_decref(x);   /* garbage in our list of the oldest generation */
    atomic_store(&a->ready, 1);
    if (a->allocate) {
        while (!atomic_load(&a->stop)) {
            /* 64 at a time, then freed: reports (every 32), which answer */
            rc_object *batch[64];
            for (int i = 0; i < 64; i++)
                batch[i] = rc_instance_new(node_type);
            for (int i = 0; i < 64; i++)
                rc_decref(batch[i]);
        }
    } else {
        await_flag(&a->stop);   /* safepoints only */
    }
}

static void collect_while_a_thread_holds_promoted(bool allocate)
{
    size_t live = rc_live_objects();
    struct rc_runtime *rt = me()->rt;
    /* Long enough for any scheduling when it answers; short when not. */
    gc_cc_test_set_adopt_wait(rt, allocate ? 20000000000ull : 1000000);
    struct answerer a = {.allocate = allocate};
    rc_thread *th = rc_thread_start(answer_fn, &a);
    assert_non_null(th);
    await_flag(&a.ready);
    long renamed = gc_cc_test_stop_renamed(rt);
    assert_int_equal(1, rc_gc_collect(2));
    if (allocate)
        assert_int_equal(renamed, gc_cc_test_stop_renamed(rt));
    else
        assert_true(gc_cc_test_stop_renamed(rt) > renamed);
    atomic_store(&a.stop, 1);
    assert_int_equal(0, rc_thread_join(th));
    gc_cc_test_set_adopt_wait(rt, 0);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

static void test_full_collection_lets_threads_move_promoted_objects(void **state)
{
    (void)state;
    if (runs_local_collections())
        collect_while_a_thread_holds_promoted(true);
}

static void test_full_collection_takes_a_silent_threads_promoted_objects(void **state)
{
    (void)state;
    if (runs_local_collections())
        collect_while_a_thread_holds_promoted(false);
}

/* An automatic local collection leaves its garbage to be cleared a slice
 * at a time at the thread's next allocation reports (gc_local_clear_some);
 * the records, statistics and live count a thread reads show it freed. */
static rc_object *allocate_until_deferred(rc_object *hold, long *made)
{
    struct gc_thread_state *gts = me()->gc;
    for (long i = 0; i < 100000 && gts->defer_n == 0; i++) {
        if (i % 2 == 0) {
            rc_decref(self_node(i));   /* garbage */
        } else {
            rc_object *e = rc_list_new();
            rc_list_append(hold, e);
            rc_decref(e);
            (*made)++;
        }
    }
    return hold;
}

static void test_local_garbage_is_cleared_in_slices(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    struct gc_thread_state *gts = me()->gc;
    rc_object *hold = rc_list_new();
    long made = 0;
    rc_gc_set_threshold(1000, 1000000, 10);   /* generation 1 never due */
    allocate_until_deferred(hold, &made);
    if (!local_mode()) {
        /* Young collections that stop the world free their garbage
         * before they end. */
        assert_int_equal(0, (long)gts->defer_n);
        assert_int_equal(0, last_record().local);
        rc_gc_set_threshold(1000000, 10, 10);
        rc_decref(hold);
        rc_gc_collect(2);
        assert_int_equal(live, rc_live_objects());
        return;
    }
    size_t pending = gts->defer_n;
    assert_true(pending >= 100);   /* half of a threshold's allocations */
    /* A slice per allocation report (32 tracked allocations): every piece
     * cleared, then every piece released, a few reports later, with no
     * call that finishes it. */
    long reports = 0;
    while (gts->defer_n > 0 && reports < 1000) {
        for (int k = 0; k < 32; k++) {
            rc_object *e = rc_list_new();
            rc_list_append(hold, e);
            rc_decref(e);
            made++;
        }
        reports++;
    }
    assert_int_equal(0, (long)gts->defer_n);
    assert_true(reports <= (long)(2 * pending / 256 + 3));
    rc_gc_record r = last_record();
    assert_int_equal(1, r.local);
    assert_int_equal((long)pending, r.collected);
    /* Reading the live count finishes what is pending first. */
    allocate_until_deferred(hold, &made);
    assert_true(gts->defer_n > 0);
    size_t now = rc_live_objects();
    assert_int_equal(0, (long)gts->defer_n);
    assert_int_equal((long)(live + 1 + (size_t)made), (long)now);
    rc_gc_set_threshold(1000000, 10, 10);
    rc_decref(hold);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* A thread that detaches passes safepoints while it moves its promoted
 * objects on (busy held by another thread here: it waits for it a
 * while).  A merge there may free one of its objects whose finalizer
 * allocates, and an automatic local collection then leaves garbage to
 * clear later: the thread clears it before it goes ("nothing kept alive
 * while we are away"). */
static rc_object *mg_hold;   /* what the finalizer keeps */

static void make_garbage(rc_object *self)
{
    (void)self;
    long made = 0;
    allocate_until_deferred(mg_hold, &made);
}

struct mg_leaver {
    rc_type *type;
    rc_object *given;          /* a reference for the main thread */
    _Atomic int ready, go, away, back;
    _Atomic long defer_n;      /* its garbage left to clear, detached */
};

static void mg_leave_fn(void *arg)
{
    struct mg_leaver *m = arg;
    rc_object *keep = rc_instance_new(node_type);   /* promoted: to move on */
    assert_int_equal(0, gc_local_collect(me(), 0));
    assert_int_equal(0, gc_local_collect(me(), 1));
    m->given = rc_instance_new(m->type);   /* ours, its one reference theirs */
    atomic_store(&m->ready, 1);
    await_flag(&m->go);   /* they dropped it: queued to us to merge */
    assert_int_equal(0, rc_detach());
    atomic_store(&m->defer_n, (long)me()->gc->defer_n);
    atomic_store(&m->away, 1);
    while (!atomic_load(&m->back))
        sched_yield();
    assert_int_equal(0, rc_attach());
    rc_decref(keep);
}

static void test_garbage_made_while_leaving_is_cleared(void **state)
{
    (void)state;
    if (!runs_local_collections())
        return;
    size_t live = rc_live_objects();
    mg_hold = rc_list_new();
    struct mg_leaver m = {.type = rc_type_new("MakesGarbage", 2, make_garbage)};
    assert_non_null(m.type);
    rc_gc_set_threshold(1000, 1000000, 10);   /* local collections come */
    rc_thread *th = rc_thread_start(mg_leave_fn, &m);
    assert_non_null(th);
    await_flag(&m.ready);
    gc_cc_test_busy(me(), true);
    rc_decref(m.given);   /* its last reference: merged by its owner */
    atomic_store(&m.go, 1);
    await_flag(&m.away);
    gc_cc_test_busy(me(), false);
    assert_int_equal(0, atomic_load(&m.defer_n));
    assert_true(rc_list_len(mg_hold) > 0);   /* the finalizer ran */
    atomic_store(&m.back, 1);
    assert_int_equal(0, rc_thread_join(th));
    rc_gc_set_threshold(1000000, 10, 10);
    rc_decref(mg_hold);
    mg_hold = NULL;
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

/* Clearing deferred garbage may run a finalizer: of an object outside
 * the set that only the garbage held.  One that reads the live count or
 * collects must not clear the same garbage again from inside (a piece
 * freed under the clearing, the collection recorded twice). */
static long nested_calls;

static void fin_nested(rc_object *self)
{
    (void)self;
    nested_calls++;
    (void)rc_live_objects();
    (void)rc_gc_collect(0);
    rc_gc_record r;
    (void)rc_gc_records(0, &r, 1);
}

static void test_finalizer_run_by_clearing_does_not_clear_again(void **state)
{
    (void)state;
    if (!local_mode()) {
        print_message("skipped: only ft mode defers a local collection's clearing\n");
        skip();
    }
    size_t live = rc_live_objects();
    struct gc_thread_state *gts = me()->gc;
    rc_type *fin_type = rc_type_new("Fin", 2, fin_nested);
    assert_non_null(fin_type);
    nested_calls = 0;
    rc_object *z = rc_instance_new(fin_type);
    rc_object *g = self_node(3);
    rc_slot_set(g, 1, z);   /* only g holds z */
    rc_decref(z);
    /* z escaped: another thread read it.  No member, so its finalizer
     * does not keep the local collection from deciding. */
    rc_object *l = rc_list_new();
    rc_list_append(l, z);
    struct reader r = {.list = l, .n = 1};
    rc_thread *th = rc_thread_start(read_all_fn, &r);
    assert_non_null(th);
    assert_int_equal(0, rc_thread_join(th));
    rc_list_clear(l);
    assert_true(obj_gc_bits(z) & RC_GC_ESCAPED);
    rc_decref(g);   /* garbage: g -> g, g -> z */
    rc_object *hold = rc_list_new();
    long made = 0;
    rc_gc_set_threshold(200, 1000000, 10);
    size_t first = rc_gc_record_count();
    allocate_until_deferred(hold, &made);
    assert_true(gts->defer_n > 0);
    assert_int_equal(0, nested_calls);
    size_t n = rc_live_objects();   /* clears: z's finalizer runs inside */
    (void)n;
    assert_int_equal(1, nested_calls);
    assert_int_equal(0, (long)gts->defer_n);
    /* Each local collection recorded once. */
    long found = 0, local = 0;
    for (size_t k = first; k < rc_gc_record_count(); k++) {
        rc_gc_record rec;
        assert_int_equal(1, rc_gc_records(k, &rec, 1));
        if (rec.local) {
            local++;
            found += rec.collected;
        }
    }
    assert_true(local >= 1);
    assert_true(found >= 1);
    rc_gc_set_threshold(1000000, 10, 10);
    rc_decref(hold);
    rc_decref(l);
    rc_gc_collect(2);
    assert_int_equal(live, rc_live_objects());
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_collects_private_cycles_without_a_stop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_by_another_thread_is_left_out, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_borrowed_item_is_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_object_waits_for_the_decision, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_weakref_to_local_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_weakref_get_during_the_decision_keeps_the_garbage,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_finalizer_is_left_to_a_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_moved_while_counts_are_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_two_threads_collect_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaped_young_garbage_goes_to_a_stop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_generation_1_collected_without_a_stop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_generation_1_leaves_escaped_objects_to_a_stop,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_owner_free_is_forwarded_to_the_old_space,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_exited_thread_promoted_objects_reach_the_old_space,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_promoted_objects_wait_until_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detaching_thread_moves_its_promoted_objects, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_thread_leaving_while_busy_is_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exited_threads_leftovers_move_before_the_stop,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_collection_lets_threads_move_promoted_objects,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_full_collection_takes_a_silent_threads_promoted_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_garbage_is_cleared_in_slices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_made_while_leaving_is_cleared, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_finalizer_run_by_clearing_does_not_clear_again,
                                        setup, teardown),
    };
    return harness_run("local", tests, sizeof tests / sizeof tests[0], argc, argv);
}
