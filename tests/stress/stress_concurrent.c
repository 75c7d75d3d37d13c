/* tests/stress/stress_concurrent.c: mutators move references while the
 * concurrent collector's cycles run (docs/gc.md [gc.concurrent]); in one
 * mode (--mode) and with either collector (--collector; CTest runs it with
 * the concurrent one).
 *
 * The heap: NTOK tokens, each a small cyclic structure (an instance whose
 * slots hold its id, itself, and a list holding it back), so that only the
 * cycle collector could free one and a token it freed or cleared by
 * mistake fails its check (or is a use after free under ASan).  They live
 * in NLOC locations: list boxes (any number of tokens), dict boxes (keyed
 * by id) and slot boxes (an instance with one slot: None or one token),
 * and in the threads' local variables.  Every token is in exactly one
 * place at any time, and has a weakref that others read.
 *
 *   move      threads take a token out of one location (pop, delete, or
 *             empty the slot), hold it in a local variable across
 *             allocations (which run the cycle's slices) and a safepoint,
 *             then put it into another location: references move between
 *             containers, slots and locals, in every order relative to the
 *             cycle's passes, including the classic lost object (taken out
 *             of a container the cycle has not traversed yet, put into one
 *             it has).  Meanwhile they make garbage cycles, keep some long
 *             enough to reach the old space before dropping them, read
 *             random tokens' weakrefs (a live token must be returned
 *             intact), and now and then replace a whole box with a new one
 *             (the old box dies while a cycle may be traversing it).  The
 *             main thread verifies the heap meanwhile.
 *   account   every token is found exactly once, intact; cycles ran
 *             (some finished while the movers ran, with the concurrent
 *             collector); after dropping everything and collecting, the
 *             live-object count is back where it started.
 *
 * Usage: stress_concurrent [--mode M] [--collector C] [--threads N]
 *        [--iterations K] [--seed S]
 */
#include "stress.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NTOK = 600, NLOC = 96, LOCAL_MAX = 2, OLD_GARBAGE = 64 };
enum loc_kind { LOC_LIST, LOC_DICT, LOC_SLOT };

static int nthreads = 3;
static long iterations = 150000;
static uint64_t seed = 1313;

static rc_type *tok_type;    /* Tok(id, self, back) */
static rc_type *box_type;    /* Box(token) */
static rc_type *ring_type;   /* Ring(next, payload): garbage */
static rc_object *weak[NTOK];

/* A location: its container, and a try-lock the movers take (never
 * waited on, so holding it across a safepoint or a stop cannot deadlock). */
struct loc {
    _Atomic int busy;
    enum loc_kind kind;
    rc_object *box;          /* the lock holder's */
};
static struct loc locs[NLOC];

static _Atomic long moves, box_replacements, weak_reads, garbage_dropped;
static _Atomic int movers_done;

static size_t live_at_start;
static uint64_t cycles_before;

/* --------------------------------------------------------------- tokens */

static rc_object *tok_new(long id)
{
    rc_object *t = rc_instance_new(tok_type);
    rc_object *n = rc_int_new(id);
    rc_object *back = rc_list_new();
    if (t == NULL || n == NULL || back == NULL) {
        CHECK(0, "allocating token %ld: %s", id, rc_error_message());
        exit(1);
    }
    rc_list_append(back, t);
    rc_list_append(back, n);
    rc_slot_set(t, 0, n);
    rc_slot_set(t, 1, t);
    rc_slot_set(t, 2, back);
    rc_decref(n);
    rc_decref(back);
    return t;
}

/* The id of token t (held by the caller), or -1 if it is not intact. */
static long tok_check(rc_object *t)
{
    if (t == NULL || rc_type_of(t) != tok_type) {
        return -1;
    }
    rc_object *n = rc_slot_get(t, 0);
    rc_object *self = rc_slot_get(t, 1);
    rc_object *back = rc_slot_get(t, 2);
    long id = -1;
    if (n != NULL && rc_is_int(n) && self == t && back != NULL && rc_is_list(back) &&
        rc_list_len(back) == 2) {
        rc_object *b0 = rc_list_get(back, 0);
        rc_object *b1 = rc_list_get(back, 1);
        int64_t v = rc_int_value(n);
        if (b0 == t && b1 == n && v >= 0 && v < NTOK)
            id = (long)v;
        rc_decref(b0);
        rc_decref(b1);
    }
    rc_decref(n);
    rc_decref(self);
    rc_decref(back);
    return id;
}

/* ------------------------------------------------------------ locations */

static rc_object *box_new(enum loc_kind kind)
{
    rc_object *b = kind == LOC_LIST ? rc_list_new()
                   : kind == LOC_DICT ? rc_dict_new()
                                      : rc_instance_new(box_type);
    if (b == NULL) {
        CHECK(0, "allocating a box: %s", rc_error_message());
        exit(1);
    }
    return b;
}

static int loc_trylock(struct loc *l)
{
    int expected = 0;
    return atomic_compare_exchange_strong(&l->busy, &expected, 1);
}

static void loc_unlock(struct loc *l)
{
    atomic_store(&l->busy, 0);
}

/* Take a token out of l (locked by the caller): a new reference, or NULL
 * if l holds none. */
static rc_object *loc_take(struct loc *l)
{
    switch (l->kind) {
    case LOC_LIST:
        return rc_list_len(l->box) > 0 ? rc_list_pop(l->box, -1) : NULL;
    case LOC_DICT: {
        size_t pos = 0;
        rc_object *k, *v;
        if (!rc_dict_next_ref(l->box, &pos, &k, &v))
            return NULL;
        CHECK(rc_dict_del(l->box, k) == 0, "deleting from a dict box: %s", rc_error_message());
        rc_decref(k);
        return v;
    }
    case LOC_SLOT: {
        rc_object *t = rc_slot_get(l->box, 0);
        if (t == rc_none()) {   /* empty */
            rc_decref(t);
            return NULL;
        }
        rc_slot_set(l->box, 0, rc_none());
        return t;
    }
    }
    return NULL;
}

/* Put token t (the caller's reference, kept) into l, locked by the caller;
 * returns 0 if l has no room (a full slot box). */
static int loc_put(struct loc *l, rc_object *t, long id)
{
    switch (l->kind) {
    case LOC_LIST:
        CHECK(rc_list_append(l->box, t) == 0, "append: %s", rc_error_message());
        return 1;
    case LOC_DICT: {
        rc_object *k = rc_int_new(id);
        CHECK(rc_dict_set(l->box, k, t) == 0, "dict set: %s", rc_error_message());
        rc_decref(k);
        return 1;
    }
    case LOC_SLOT: {
        rc_object *cur = rc_slot_get(l->box, 0);
        rc_decref(cur);
        if (cur != rc_none())
            return 0;   /* full */
        rc_slot_set(l->box, 0, t);
        return 1;
    }
    }
    return 0;
}

/* Replace l's box by a new one holding the same tokens; the old one dies
 * (perhaps while a cycle traverses it). */
static void loc_replace(struct loc *l)
{
    rc_object *fresh = box_new(l->kind);
    rc_object *old = l->box;
    rc_object *t;
    struct loc tmp = {.kind = l->kind, .box = fresh};
    while ((t = loc_take(l)) != NULL) {
        long id = tok_check(t);
        CHECK(id >= 0, "a token in a box being replaced is broken");
        int put = id >= 0 && loc_put(&tmp, t, id);
        CHECK(put, "the new box has no room");
        rc_decref(t);
        if (!put)
            break;
    }
    l->box = fresh;
    rc_decref(old);
    atomic_fetch_add(&box_replacements, 1);
}

/* -------------------------------------------------------------- garbage */

/* A garbage cycle of n rings, each holding an int. */
static rc_object *ring_new(long n, long v)
{
    rc_object *first = rc_instance_new(ring_type), *prev = first;
    for (long i = 0; i < n; i++) {
        rc_object *val = rc_int_new(v + i);
        rc_slot_set(prev, 1, val);
        rc_decref(val);
        rc_object *next = i + 1 < n ? rc_instance_new(ring_type) : first;
        rc_slot_set(prev, 0, next);
        if (next != first)
            rc_decref(next);
        prev = next;
    }
    return first;
}

/* ----------------------------------------------------------------- move */

struct mover {
    int index;
    uint64_t rng;
    rc_object *local[LOCAL_MAX];   /* tokens held in local variables */
    long local_id[LOCAL_MAX];
    rc_object *old[OLD_GARBAGE];   /* garbage held until it is old */
};

/* One move: a token from a location (or from our locals) to another
 * location (or into our locals), held across allocations and a safepoint
 * on the way. */
static void move_one(struct mover *m)
{
    struct loc *src = &locs[rng_next(&m->rng) % NLOC];
    struct loc *dst = &locs[rng_next(&m->rng) % NLOC];
    int slot = (int)(rng_next(&m->rng) % LOCAL_MAX);
    bool from_local = m->local[slot] != NULL && rng_next(&m->rng) % 4 == 0;
    rc_object *t;
    long id;
    if (from_local) {
        t = m->local[slot];
        id = m->local_id[slot];
        m->local[slot] = NULL;
    } else {
        if (!loc_trylock(src))
            return;
        t = loc_take(src);
        loc_unlock(src);
        if (t == NULL)
            return;
        id = tok_check(t);
        CHECK(id >= 0, "a token taken out of a %s box is broken",
              src->kind == LOC_LIST ? "list" : src->kind == LOC_DICT ? "dict" : "slot");
    }
    /* Held only here now: allocations run the cycle's slices (and young
     * collections), the safepoint lets other threads' stops through. */
    for (int k = 0; k < 40; k++)
        rc_decref(rc_list_new());
    rc_safepoint();
    if (!from_local && m->local[slot] == NULL && rng_next(&m->rng) % 8 == 0) {
        m->local[slot] = t;   /* kept in a local variable for a while */
        m->local_id[slot] = id;
        atomic_fetch_add(&moves, 1);
        return;
    }
    for (;;) {
        if (loc_trylock(dst)) {
            int put = loc_put(dst, t, id);
            loc_unlock(dst);
            if (put)
                break;
        }
        rc_safepoint();   /* a holder may be parked for a stop */
        dst = &locs[rng_next(&m->rng) % NLOC];
    }
    rc_decref(t);
    atomic_fetch_add(&moves, 1);
}

static void make_garbage(struct mover *m, long it)
{
    rc_object *g = ring_new(1 + (long)(rng_next(&m->rng) % 6), it);
    int k = (int)(rng_next(&m->rng) % OLD_GARBAGE);
    if (m->old[k] != NULL) {
        rc_decref(m->old[k]);   /* old by now: garbage for a cycle */
        atomic_fetch_add(&garbage_dropped, 1);
    }
    m->old[k] = g;
    if (rng_next(&m->rng) % 2 == 0)
        rc_decref(ring_new(3, it));   /* young garbage */
}

static void read_weakref(struct mover *m)
{
    long id = (long)(rng_next(&m->rng) % NTOK);
    rc_object *t = rc_weakref_get(weak[id]);
    CHECK(t != NULL, "the weakref of live token %ld was cleared", id);
    if (t != NULL) {
        CHECK(tok_check(t) == id, "token %ld read through its weakref is broken", id);
        rc_decref(t);
    }
    atomic_fetch_add(&weak_reads, 1);
}

static void mover_main(void *arg)
{
    struct mover *m = arg;
    for (long it = 0; it < iterations; it++) {
        unsigned r = (unsigned)(rng_next(&m->rng) % 100);
        if (r < 60) {
            move_one(m);
        } else if (r < 85) {
            make_garbage(m, it);
        } else if (r < 99) {
            read_weakref(m);
        } else {
            struct loc *l = &locs[rng_next(&m->rng) % NLOC];
            if (loc_trylock(l)) {
                loc_replace(l);
                loc_unlock(l);
            }
        }
    }
    /* Put our locals back; drop the garbage we kept. */
    for (int s = 0; s < LOCAL_MAX; s++) {
        while (m->local[s] != NULL) {
            struct loc *l = &locs[rng_next(&m->rng) % NLOC];
            if (loc_trylock(l)) {
                if (loc_put(l, m->local[s], m->local_id[s])) {
                    rc_decref(m->local[s]);
                    m->local[s] = NULL;
                }
                loc_unlock(l);
            }
            rc_safepoint();
        }
    }
    for (int k = 0; k < OLD_GARBAGE; k++)
        rc_decref(m->old[k]);
    atomic_fetch_add(&movers_done, 1);
}

/* Cycles that finished since cycles_before (among the records kept), and
 * the garbage they found. */
static int cycles_finished(long *found)
{
    size_t n = rc_gc_record_count(), first = rc_gc_records_oldest();
    int cycles = 0;
    *found = 0;
    for (size_t i = first; i < n; i++) {
        rc_gc_record r;
        if (rc_gc_records(i, &r, 1) == 1 && r.cycle_start_ns != 0 &&
            r.cycle_start_ns >= cycles_before) {
            cycles++;
            *found += r.collected;
        }
    }
    return cycles;
}

static int phase_move(void)
{
    live_at_start = rc_live_objects();
    tok_type = rc_type_new("Tok", 3, NULL);
    box_type = rc_type_new("Box", 1, NULL);
    ring_type = rc_type_new("Ring", 2, NULL);
    for (int i = 0; i < NLOC; i++) {
        atomic_init(&locs[i].busy, 0);
        locs[i].kind = (enum loc_kind)(i % 3);
        locs[i].box = box_new(locs[i].kind);
    }
    for (long id = 0; id < NTOK; id++) {
        rc_object *t = tok_new(id);
        weak[id] = rc_weakref_new(t, NULL, NULL);
        if (!loc_put(&locs[id % NLOC], t, id))
            loc_put(&locs[(id % NLOC) / 3 * 3], t, id);   /* a full slot box: a list box */
        rc_decref(t);
    }
    /* Everything built so far into the old space, where cycles look. */
    rc_gc_collect(2);
    /* Low thresholds: young collections and cycles come often. */
    rc_gc_set_threshold(300, 3, 3);
    cycles_before = rc_clock_ns();

    struct mover movers[64];
    rc_thread *threads[64];
    for (int i = 0; i < nthreads; i++) {
        memset(&movers[i], 0, sizeof movers[i]);
        movers[i].index = i;
        movers[i].rng = seed * 7919 + (uint64_t)i * 104729 + 1;
        threads[i] = rc_thread_start(mover_main, &movers[i]);
        CHECK(threads[i] != NULL, "starting mover %d: %s", i, rc_error_message());
    }
    /* Verify the heap while they move (each verification stops the world
     * and walks the cycle's list too). */
    int verifications = 0;
    while (atomic_load(&movers_done) < nthreads) {
        CHECK(rc_gc_verify_heap() == 0, "heap verifier: %s", rc_error_message());
        verifications++;
        for (int k = 0; k < 2000; k++)
            rc_decref(rc_list_new());
        rc_detach();
        sched_yield();
        rc_attach();
    }
    for (int i = 0; i < nthreads; i++)
        if (threads[i] != NULL)
            CHECK(rc_thread_join(threads[i]) == 0, "joining mover %d", i);
    long found;
    int cycles = cycles_finished(&found);
    printf("    %ld moves, %ld box replacements, %ld weakref reads, %ld old garbage "
           "rings dropped, %d verifications; %d cycles finished while moving, finding %ld "
           "objects\n",
           atomic_load(&moves), atomic_load(&box_replacements), atomic_load(&weak_reads),
           atomic_load(&garbage_dropped), verifications, cycles, found);
    if (harness_collector != RC_COLLECTOR_STW) {
        CHECK(cycles > 0, "no concurrent cycle finished while the movers ran");
        CHECK(found > 0, "the cycles found no garbage");
    }
    return 1;
}

static int phase_account(void)
{
    static int seen[NTOK];
    memset(seen, 0, sizeof seen);
    long found = 0;
    rc_gc_collect(2);
    CHECK(rc_gc_verify_heap() == 0, "heap verifier: %s", rc_error_message());
    for (int i = 0; i < NLOC; i++) {
        rc_object *t;
        while ((t = loc_take(&locs[i])) != NULL) {
            long id = tok_check(t);
            CHECK(id >= 0, "a token in box %d is broken", i);
            if (id >= 0) {
                CHECK(seen[id] == 0, "token %ld is in two places", id);
                seen[id]++;
            }
            found++;
            rc_decref(t);
        }
        rc_decref(locs[i].box);
        locs[i].box = NULL;
    }
    CHECK(found == NTOK, "%ld tokens found, %d made", found, NTOK);
    for (long id = 0; id < NTOK; id++)
        rc_decref(weak[id]);
    for (int i = 0; i < 4 && rc_gc_collect(2) > 0; i++)
        ;
    size_t live = rc_live_objects();
    CHECK(live == live_at_start, "%zu live objects, %zu at the start", live, live_at_start);
    CHECK(rc_gc_verify_heap() == 0, "heap verifier: %s", rc_error_message());
    return 1;
}

int main(int argc, char **argv)
{
    struct stress_args args = {.threads = nthreads, .iterations = iterations, .seed = seed};
    stress_parse_args(argc, argv, 1, &args);
    nthreads = args.threads;
    iterations = args.iterations;
    seed = args.seed;
    rc_runtime *rt = stress_runtime_new(args.mode);
    static const struct stress_phase phases[] = {
        {"move", phase_move},
        {"account", phase_account},
    };
    return stress_run_phases(rt, phases, 2);
}
