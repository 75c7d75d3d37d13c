/* tests/stress/stress_containers_list.c: one list shared by threads, in one
 * mode (--mode).  In the ft modes readers take no lock (rc_list_get,
 * rc_list_len) while writers mutate under the list's lock; in gil mode the
 * same threads take turns at safepoints.  Every object read is checked: an
 * instance of type Obj whose slot 0 is an int id and slot 1 the str
 * "obj-<id>", so a freed, reused or torn object fails the check (and ASan
 * sees a read of a freed slot value: the slots' int and str are not shared,
 * so they are freed at once when their Obj dies).  Phases:
 *   mixed    writers append, insert, set, pop, move (pop + insert) and now
 *            and then clear, so the array grows, shrinks to nothing and is
 *            replaced while readers hammer rc_list_get at random indices,
 *            in range and out (IndexError expected), and rc_list_len, and
 *            keep some items across safepoints to check them again later;
 *   iterate  readers walk the list by index until IndexError while a
 *            writer pops from both ends and appends (and rotates items
 *            from the front to the back): no crash, no freed object;
 *   teardown every item left has a count of exactly 1 (the list's), and
 *            after the lists are dropped rc_live_objects() is back to the
 *            baseline and rc_runtime_free reports no leak.
 * Usage: stress_containers_list [--mode M] [--threads N] [--iterations K]
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
static rc_type *obj_type;   /* Obj(id, "obj-<id>"): stress_obj_new */

#define MAX_LEN 1500   /* writers keep the mixed list about this short */

/* ---------------------------------------------------------------- objects */

/* A fresh id: writer index in the high bits, a sequence number below. */
static int64_t next_id(int writer, long *seq)
{
    return ((int64_t)(writer + 1) << 40) + (*seq)++;
}

/* An operation that raced another writer may find the index gone. */
static void expect_index_error(const char *what)
{
    CHECK(rc_error_occurred() == RC_ERR_INDEX, "%s: error %d: %s", what,
          (int)rc_error_occurred(), rc_error_message());
    rc_error_clear();
}

/* ---------------------------------------------------------------- workers */

struct worker {
    int index;
    rc_object *list;
    _Atomic int *stop;      /* readers run until it is set */
    long ops;               /* writers: operations; readers: gets */
    long hits, index_errors, passes, len_max;
};

static void writer_mixed(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 1000003u + (uint64_t)w->index + 1;
    long seq = 0;
    for (long k = 0; k < iterations; k++) {
        uint64_t r = rng_next(&rng);
        long n = rc_list_len(w->list);
        CHECK(n >= 0 && n <= MAX_LEN + nthreads, "len %ld", n);
        int op = (int)(r % 100);
        if (n >= MAX_LEN && op < 45)
            op = 70;   /* full: pop instead */
        long idx = n > 0 ? (long)((r >> 16) % (uint64_t)n) : 0;
        if ((r >> 40) % 4 == 0)
            idx -= n;   /* negative now and then */
        if (op < 35) {                              /* append */
            rc_object *o = stress_obj_new(obj_type, next_id(w->index, &seq));
            CHECK(o != NULL && rc_list_append(w->list, o) == 0, "append: %s",
                  rc_error_message());
            rc_decref(o);
        } else if (op < 45) {                       /* insert */
            rc_object *o = stress_obj_new(obj_type, next_id(w->index, &seq));
            CHECK(o != NULL && rc_list_insert(w->list, idx, o) == 0, "insert: %s",
                  rc_error_message());
            rc_decref(o);
        } else if (op < 65) {                       /* set */
            rc_object *o = stress_obj_new(obj_type, next_id(w->index, &seq));
            CHECK(o != NULL, "make: %s", rc_error_message());
            if (rc_list_set(w->list, idx, o) < 0)
                expect_index_error("set");
            rc_decref(o);
        } else if (op < 85) {                       /* pop */
            rc_object *o = rc_list_pop(w->list, (r >> 50) & 1 ? -1 : idx);
            if (o == NULL)
                expect_index_error("pop");
            else
                CHECK(stress_obj_check(obj_type, o), "popped a bad object");
            rc_decref(o);
        } else if (op < 99) {                       /* move: pop, insert */
            rc_object *o = rc_list_pop(w->list, idx);
            if (o == NULL) {
                expect_index_error("move");
            } else {
                CHECK(rc_list_insert(w->list, (long)((r >> 24) % (uint64_t)(n + 1)), o) == 0,
                      "insert back: %s", rc_error_message());
                rc_decref(o);
            }
        } else if ((r >> 32) % 20 == 0) {           /* clear, rarely */
            CHECK(rc_list_clear(w->list) == 0, "clear: %s", rc_error_message());
        }
        w->ops++;
        if ((k & 15) == 0)
            rc_safepoint();
    }
}

#define HOLD 8

static void reader_mixed(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 7777777u + (uint64_t)w->index + 1;
    rc_object *held[HOLD] = {0};
    long k = 0;
    while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
        uint64_t r = rng_next(&rng);
        long n = rc_list_len(w->list);
        CHECK(n >= 0 && n <= MAX_LEN + nthreads, "len %ld", n);
        if (n > w->len_max)
            w->len_max = n;
        /* Indices in [-(n + 4), n + 4): some out of range. */
        long span = 2 * (n + 4);
        long idx = (long)(r % (uint64_t)span) - (n + 4);
        rc_object *o = rc_list_get(w->list, idx);
        if (o == NULL) {
            expect_index_error("get");
            w->index_errors++;
        } else {
            CHECK(stress_obj_check(obj_type, o), "got a bad object at %ld", idx);
            w->hits++;
            int slot = (int)((r >> 32) % HOLD);
            if ((r >> 40) % 8 == 0) {
                /* Keep it across safepoints: a reference keeps an object
                 * alive whatever the list does meanwhile. */
                if (held[slot] != NULL)
                    CHECK(stress_obj_check(obj_type, held[slot]), "a held object went bad");
                rc_decref(held[slot]);
                held[slot] = o;
            } else {
                rc_decref(o);
            }
        }
        w->ops++;
        if ((++k & 63) == 0)
            rc_safepoint();
    }
    for (int i = 0; i < HOLD; i++) {
        if (held[i] != NULL)
            CHECK(stress_obj_check(obj_type, held[i]), "a held object went bad");
        rc_decref(held[i]);
    }
}

/* Pops from both ends, rotates front to back, appends: the list stays
 * around its initial length while readers walk it. */
static void writer_iterate(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 31337u + (uint64_t)w->index + 1;
    long seq = 0;
    for (long k = 0; k < iterations; k++) {
        uint64_t r = rng_next(&rng);
        rc_object *o = rc_list_pop(w->list, r & 1 ? 0 : -1);
        if (o == NULL) {
            expect_index_error("pop");
        } else {
            CHECK(stress_obj_check(obj_type, o), "popped a bad object");
            if ((r >> 8) % 4 == 0) {
                /* rotate: back in at the end */
                CHECK(rc_list_append(w->list, o) == 0, "%s", rc_error_message());
                rc_decref(o);
                o = NULL;
            }
            rc_decref(o);
        }
        if ((r >> 8) % 4 != 0) {
            rc_object *fresh = stress_obj_new(obj_type, next_id(w->index, &seq));
            CHECK(fresh != NULL && rc_list_append(w->list, fresh) == 0, "append: %s",
                  rc_error_message());
            rc_decref(fresh);
        }
        w->ops++;
        if ((k & 15) == 0)
            rc_safepoint();
    }
}

static void reader_iterate(void *p)
{
    struct worker *w = p;
    long k = 0;
    while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
        for (long i = 0;; i++) {
            rc_object *o = rc_list_get(w->list, i);
            if (o == NULL) {
                expect_index_error("iterate");
                break;
            }
            CHECK(stress_obj_check(obj_type, o), "iteration got a bad object at %ld", i);
            rc_decref(o);
            w->hits++;
            if ((++k & 63) == 0)
                rc_safepoint();
        }
        w->passes++;
        rc_safepoint();
    }
}

/* ---------------------------------------------------------------- phases */

/* Start nw writers and nr readers on list; readers stop once every writer
 * is done. */
static void run(rc_object *list, int nw, int nr, void (*wfn)(void *), void (*rfn)(void *),
                long *hits, long *index_errors, long *passes)
{
    _Atomic int stop = 0;
    rc_thread *t[128];
    struct worker w[128];
    for (int i = 0; i < nw + nr; i++) {
        w[i] = (struct worker){.index = i, .list = list, .stop = &stop};
        t[i] = rc_thread_start(i < nw ? wfn : rfn, &w[i]);
        CHECK(t[i] != NULL, "%s", rc_error_message());
    }
    for (int i = 0; i < nw; i++) {
        CHECK(rc_thread_join(t[i]) == 0, "%s", rc_error_message());
        CHECK(w[i].ops == iterations, "writer %d did %ld", i, w[i].ops);
    }
    atomic_store(&stop, 1);
    *hits = *index_errors = *passes = 0;
    for (int i = nw; i < nw + nr; i++) {
        CHECK(rc_thread_join(t[i]) == 0, "%s", rc_error_message());
        *hits += w[i].hits;
        *index_errors += w[i].index_errors;
        *passes += w[i].passes;
    }
    rc_safepoint();   /* merge what was queued to us */
}

/* Every item left is an intact Obj held by the list alone. */
static void check_items(rc_object *list, const char *phase)
{
    long n = rc_list_len(list);
    for (long i = 0; i < n; i++) {
        rc_object *o = rc_list_get(list, i);
        CHECK(stress_obj_check(obj_type, o), "%s: item %ld is bad", phase, i);
        CHECK(rc_refcount(o) == 2, "%s: item %ld has count %ld (want the list's and ours)",
              phase, i, (long)rc_refcount(o));
        rc_decref(o);
    }
}

static int nwriters(void) { return nthreads / 2 > 0 ? nthreads / 2 : 1; }
static int nreaders(void) { return nthreads - nwriters() > 0 ? nthreads - nwriters() : 1; }

static rc_object *mixed_list, *iter_list;

static int phase_mixed(void)
{
    mixed_list = rc_list_new();
    long seq = 0;
    for (int i = 0; i < 64; i++) {
        rc_object *o = stress_obj_new(obj_type, next_id(100, &seq));
        CHECK(rc_list_append(mixed_list, o) == 0, "%s", rc_error_message());
        rc_decref(o);
    }
    long hits, index_errors, passes;
    run(mixed_list, nwriters(), nreaders(), writer_mixed, reader_mixed, &hits, &index_errors,
        &passes);
    printf("    %ld gets served, %ld IndexErrors, final len %ld\n", hits, index_errors,
           rc_list_len(mixed_list));
    CHECK(hits > 0, "no get served");
    CHECK(index_errors > 0, "no IndexError seen");
    check_items(mixed_list, "mixed");
    return 1;
}

static int phase_iterate(void)
{
    iter_list = rc_list_new();
    long seq = 0;
    for (int i = 0; i < 256; i++) {
        rc_object *o = stress_obj_new(obj_type, next_id(101, &seq));
        CHECK(rc_list_append(iter_list, o) == 0, "%s", rc_error_message());
        rc_decref(o);
    }
    long hits, index_errors, passes;
    run(iter_list, 1, nthreads > 1 ? nthreads - 1 : 1, writer_iterate, reader_iterate, &hits,
        &index_errors, &passes);
    printf("    %ld items visited in %ld passes, final len %ld\n", hits, passes,
           rc_list_len(iter_list));
    CHECK(passes > 0, "no pass finished");
    check_items(iter_list, "iterate");
    return 1;
}

static size_t base;

static int phase_teardown(void)
{
    rc_decref(mixed_list);
    rc_decref(iter_list);
    rc_safepoint();
    CHECK(rc_live_objects() == base, "live %zu, expected %zu", rc_live_objects(), base);
    return 1;
}

int main(int argc, char **argv)
{
    struct stress_args args = {.threads = nthreads, .iterations = iterations, .seed = seed};
    stress_parse_args(argc, argv, 2, &args);
    rc_mode mode = args.mode;
    nthreads = args.threads;
    iterations = args.iterations;
    seed = args.seed;
    rc_runtime *rt = stress_runtime_new(mode);
    obj_type = rc_type_new("Obj", 2, NULL);
    base = rc_live_objects();
    static const struct stress_phase phases[] = {
        {"mixed", phase_mixed}, {"iterate", phase_iterate}, {"teardown", phase_teardown}};
    return stress_run_phases(rt, phases, 3);
}
