/* tests/stress/stress_api.c: the public calls that docs/threads.md [thr.api]
 * calls safe and that no other stress test races, called by several
 * threads at once on the same objects and the same runtime-wide state, in
 * one mode (--mode).  Each phase checks what the call promises (a value in
 * the range some thread set, an intact object, a callback that ran only
 * while registered...); ASan and TSan check the rest.  Phases:
 *   settings    every thread sets and reads the collector's settings
 *               (enable, thresholds, debug, stress, verify), adds and
 *               removes its own callbacks, reads counts, stats and records
 *               (collections, stops, GIL), live objects and the runtime's
 *               mode, and collects, while allocating cycles;
 *   immutables  the threads read one shared tuple, strings made with
 *               rc_str_new_len, and an instance, with the type predicates
 *               and the immutable accessors, and make the same objects
 *               immortal at once;
 *   starts      every thread makes types and starts, then joins, threads
 *               of its own, and threads the runtime did not start, which
 *               register and unregister themselves;
 *   weakrefs    a thread kills weakref targets while the others
 *               dereference the weakrefs: each gives NULL or the intact
 *               target;
 *   inspect     two threads ask for referrers, referents, all objects, the
 *               freeze count, freeze and unfreeze, while the others mutate;
 *   teardown    settings restored, every callback removed, live objects
 *               back to the baseline, no leak at rc_runtime_free.
 * Usage: stress_api [--mode M] [--threads N] [--iterations K] [--seed S]
 */
#include "stress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nthreads = 4;
static long iterations = 20000;
static uint64_t seed = 777;
static rc_type *obj_type;   /* Obj(id, "obj-<id>"): stress_obj_new */
static size_t base;
static rc_mode stress_mode;
static _Atomic int stop;

/* ---------------------------------------------------------------- runner */

struct worker {
    int index;
    void (*fn)(struct worker *);
    long ops;
    _Atomic long calls;   /* settings: callbacks that reached this worker's arg;
                             weakrefs: live targets seen */
    _Atomic int registered;   /* settings: 1 while its callback is added */
    _Atomic long stray;   /* weakrefs phase: dead targets seen */
    uint64_t last_collections;   /* settings phase: generation 0's, last seen */
};

static struct worker workers[64];

static void worker_main(void *p)
{
    struct worker *w = p;
    w->fn(w);
}

/* Run fn on nthreads threads, the first nw of which are "writers" (they
 * alone decide when the phase ends: the others run until stop). */
static void run(void (*fn)(struct worker *))
{
    rc_thread *t[64];
    atomic_store(&stop, 0);
    for (int i = 0; i < nthreads; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].index = i;
        workers[i].fn = fn;
        t[i] = rc_thread_start(worker_main, &workers[i]);
        CHECK(t[i] != NULL, "%s", rc_error_message());
    }
    for (int i = 0; i < nthreads; i++)
        CHECK(t[i] == NULL || rc_thread_join(t[i]) == 0, "%s", rc_error_message());
    rc_safepoint();
}

/* A garbage cycle of two lists. */
static void make_cycle(void)
{
    rc_object *a = rc_list_new(), *b = rc_list_new();
    CHECK(a != NULL && b != NULL, "%s", rc_error_message());
    if (a != NULL && b != NULL) {
        rc_list_append(a, b);
        rc_list_append(b, a);
    }
    rc_decref(a);
    rc_decref(b);
}

/* -------------------------------------------------------------- settings */

static void count_callback(rc_gc_phase ph, const rc_gc_info *info, void *arg)
{
    (void)ph;
    (void)info;
    struct worker *w = arg;
    atomic_fetch_add(&w->calls, 1);
}

static void settings_worker(struct worker *w)
{
    uint64_t rng = seed * 1000003u + (uint64_t)w->index + 1;
    for (long i = 0; i < iterations; i++) {
        uint64_t r = rng_next(&rng);
        switch (r % 12) {
        case 0: {
            /* Thresholds: every field some thread's value (1000..1999,
             * 5..14, 5..14), or the defaults. */
            long t0 = 1000 + (long)((r >> 8) % 1000), t1 = 5 + (long)((r >> 20) % 10);
            CHECK(rc_gc_set_threshold(t0, t1, t1) == 0, "%s", rc_error_message());
            long got[RC_GC_GENERATIONS];
            CHECK(rc_gc_get_threshold(got) == 0, "%s", rc_error_message());
            CHECK(got[0] >= 1000 && got[0] <= 2000 && got[1] >= 5 && got[1] <= 14 &&
                      got[2] >= 5 && got[2] <= 14,
                  "thresholds %ld/%ld/%ld", got[0], got[1], got[2]);
            break;
        }
        case 1:
            CHECK(((r >> 8) & 1 ? rc_gc_enable() : rc_gc_disable()) == 0, "%s",
                  rc_error_message());
            {
                int e = rc_gc_isenabled();   /* once: another thread may change it */
                CHECK(e == 0 || e == 1, "isenabled %d", e);
            }
            break;
        case 2:
            /* SAVEALL now and then: the garbage of the collections
             * meanwhile goes to rc_gc_garbage(), emptied at the end. */
            CHECK(rc_gc_set_debug(((r >> 8) & 7) == 0 ? RC_GC_DEBUG_SAVEALL : 0) == 0, "%s",
                  rc_error_message());
            {
                int d = rc_gc_get_debug();
                CHECK((d & ~RC_GC_DEBUG_SAVEALL) == 0, "debug %d", d);
            }
            break;
        case 3:
            CHECK(rc_gc_set_stress((long)((r >> 8) % 3) * 50) == 0, "%s", rc_error_message());
            {
                long st = rc_gc_get_stress();
                CHECK(st % 50 == 0 && st >= 0 && st <= 100, "stress %ld", st);
            }
            break;
        case 4:
            CHECK(rc_gc_set_verify((r >> 8) & 1 ? RC_GC_VERIFY_AMORTIZED : RC_GC_VERIFY_OFF) == 0,
                  "%s", rc_error_message());
            {
                int v = rc_gc_get_verify();
                CHECK(v == RC_GC_VERIFY_OFF || v == RC_GC_VERIFY_AMORTIZED, "verify %d", v);
            }
            break;
        case 5:
            if (atomic_load(&w->registered)) {
                CHECK(rc_gc_callback_remove(count_callback, w) == 0, "%s", rc_error_message());
                atomic_store(&w->registered, 0);
            } else {
                CHECK(rc_gc_callback_add(count_callback, w) == 0, "%s", rc_error_message());
                atomic_store(&w->registered, 1);
            }
            break;
        case 6: {
            long counts[RC_GC_GENERATIONS];
            rc_gc_gen_stats st[RC_GC_GENERATIONS];
            CHECK(rc_gc_get_count(counts) == 0 && rc_gc_get_stats(st) == 0, "%s",
                  rc_error_message());
            CHECK(st[0].collections >= w->last_collections, "collections went back");
            w->last_collections = st[0].collections;
            break;
        }
        case 7: {
            size_t n = rc_gc_record_count(), oldest = rc_gc_records_oldest();
            rc_gc_record rec[4];
            size_t got = rc_gc_records(oldest, rec, 4);
            CHECK(got <= 4 && oldest <= n + 1, "records %zu..%zu got %zu", oldest, n, got);
            for (size_t k = 0; k < got; k++)
                CHECK(rec[k].end_ns >= rec[k].start_ns, "record times");
            break;
        }
        case 8: {
            size_t n = rc_stw_count(), oldest = rc_stw_records_oldest();
            rc_stw_record rec[4];
            size_t got = rc_stw_records(oldest, rec, 4);
            CHECK(got <= 4 && oldest <= n + 1, "stops %zu..%zu got %zu", oldest, n, got);
            rc_gil_stats g;
            CHECK(rc_gil_stats_total(&g) == 0, "%s", rc_error_message());
            break;
        }
        case 9: {
            rc_runtime *rt = rc_runtime_current();
            CHECK(rt != NULL && rc_runtime_mode(rt) == stress_mode &&
                      rc_runtime_collector(rt) == harness_collector,
                  "runtime");
            (void)rc_live_objects();   /* a snapshot: any value */
            break;
        }
        case 10:
            if (((r >> 8) & 63) == 0)
                CHECK(rc_gc_collect((int)((r >> 16) % 3)) >= 0, "%s", rc_error_message());
            break;
        default:
            make_cycle();
            break;
        }
        w->ops++;
    }
    if (atomic_load(&w->registered)) {
        CHECK(rc_gc_callback_remove(count_callback, w) == 0, "%s", rc_error_message());
        atomic_store(&w->registered, 0);
    }
}

static int phase_settings(void)
{
    long th[RC_GC_GENERATIONS];
    rc_gc_get_threshold(th);
    run(settings_worker);
    long calls = 0;
    for (int i = 0; i < nthreads; i++)
        calls += atomic_load(&workers[i].calls);
    printf("    %ld callback calls\n", calls);
    /* Every callback was removed: a collection now calls none of them. */
    long before = calls;
    rc_gc_enable();
    CHECK(rc_gc_collect(2) >= 0, "%s", rc_error_message());
    calls = 0;
    for (int i = 0; i < nthreads; i++)
        calls += atomic_load(&workers[i].calls);
    CHECK(calls == before, "a removed callback was called (%ld, then %ld)", before, calls);
    rc_gc_set_threshold(th[0], th[1], th[2]);
    rc_gc_set_debug(0);
    CHECK(rc_list_clear(rc_gc_garbage()) == 0, "%s", rc_error_message());
    rc_gc_set_stress(0);
    rc_gc_set_verify(RC_GC_VERIFY_OFF);
    return 1;
}

/* ------------------------------------------------------------ immutables */

static rc_object *tup;       /* (Obj, str, int, None, Obj) */
static rc_object *strs[8];   /* rc_str_new_len, with a NUL inside */
static rc_object *inst;      /* an Obj */
static rc_object *immo[16];  /* made immortal by several threads at once */

static void immutables_worker(struct worker *w)
{
    uint64_t rng = seed * 2000003u + (uint64_t)w->index + 1;
    /* A reference to each object to immortalize, taken before the race,
     * consumed by rc_make_immortal. */
    rc_object *mine[16];
    for (int k = 0; k < 16; k++) {
        mine[k] = immo[k];
        rc_incref(mine[k]);
    }
    for (long i = 0; i < iterations; i++) {
        uint64_t r = rng_next(&rng);
        CHECK(rc_tuple_len(tup) == 5 && rc_is_tuple(tup) && !rc_is_list(tup) && !rc_is_dict(tup),
              "tuple");
        rc_object *x = rc_tuple_get(tup, (long)(r % 5));
        CHECK(x != NULL, "%s", rc_error_message());
        CHECK(x == rc_none() || rc_is_int(x) || rc_is_str(x) || stress_obj_check(obj_type, x),
              "tuple item");
        rc_decref(x);
        rc_object *s = strs[r % 8];
        CHECK(rc_str_len(s) == 9 && memcmp(rc_str_data(s), "abc\0defg", 8) == 0 &&
                  rc_str_data(s)[8] == (char)('0' + (int)(r % 8)),
              "str");
        CHECK(rc_is_instance(inst) && !rc_is_weakref(inst) && rc_instance_nslots(inst) == 2 &&
                  strcmp(rc_type_name(rc_type_of(inst)), "Obj") == 0,
              "instance");
        CHECK(rc_bool(1) == rc_true() && rc_bool(0) == rc_false() && rc_is_immortal(rc_false()),
              "bools");
        CHECK(rc_gc_is_tracked(inst) == 1 && rc_gc_is_tracked(s) == 0, "tracked");
        if (i < 16) {
            CHECK(rc_make_immortal(mine[i]) == 0, "%s", rc_error_message());
            CHECK(rc_is_immortal(immo[i]) == 1, "not immortal after rc_make_immortal");
        } else {
            int im = rc_is_immortal(immo[r % 16]);
            CHECK(im == 0 || im == 1, "is_immortal %d", im);
        }
        if ((i & 63) == 0)
            rc_safepoint();
        w->ops++;
    }
    for (long k = iterations; k < 16; k++)
        rc_decref(mine[k]);   /* too few iterations to use them all */
}

static int phase_immutables(void)
{
    rc_object *o1 = stress_obj_new(obj_type, 1), *o2 = stress_obj_new(obj_type, 2);
    rc_object *st = rc_str_new("item"), *n = rc_int_new(123456789);
    rc_object *items[5] = {o1, st, n, rc_none(), o2};
    tup = rc_tuple_new(5, items);
    CHECK(tup != NULL, "%s", rc_error_message());
    rc_decref(o1);
    rc_decref(o2);
    rc_decref(st);
    rc_decref(n);
    for (int k = 0; k < 8; k++) {
        char buf[9] = {'a', 'b', 'c', '\0', 'd', 'e', 'f', 'g', (char)('0' + k)};
        strs[k] = rc_str_new_len(buf, 9);
        CHECK(strs[k] != NULL, "%s", rc_error_message());
    }
    inst = stress_obj_new(obj_type, 3);
    for (int k = 0; k < 16; k++)
        immo[k] = rc_list_new();
    run(immutables_worker);
    for (int k = 0; k < 16; k++)
        CHECK(rc_is_immortal(immo[k]) == (iterations > k), "immo[%d]", k);
    for (int k = 0; k < 16; k++)
        if (iterations <= k)
            rc_decref(immo[k]);
    rc_decref(tup);
    for (int k = 0; k < 8; k++)
        rc_decref(strs[k]);
    rc_decref(inst);
    return 1;
}

/* ---------------------------------------------------------------- starts */

static void child(void *arg)
{
    rc_object *o = stress_obj_new(obj_type, (int64_t)(intptr_t)arg);
    CHECK(stress_obj_check(obj_type, o), "child's object");
    rc_decref(o);
}

/* A thread the runtime did not start: it registers, works, and leaves. */
static void *foreign(void *arg)
{
    if (rc_thread_register() != 0) {
        CHECK(0, "rc_thread_register: %s", rc_error_message());
        return NULL;
    }
    child(arg);
    CHECK(rc_thread_unregister() == 0, "%s", rc_error_message());
    return NULL;
}

static void starts_worker(struct worker *w)
{
    for (long i = 0; i < iterations / 200 + 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "T%d_%ld", w->index, i);
        rc_type *t = rc_type_new(name, (size_t)(i % 4), NULL);
        CHECK(t != NULL, "%s", rc_error_message());
        rc_object *o = rc_instance_new(t);
        CHECK(o != NULL && rc_instance_nslots(o) == i % 4 &&
                  strcmp(rc_type_name(rc_type_of(o)), name) == 0,
              "instance of a new type");
        rc_decref(o);
        rc_thread *c = rc_thread_start(child, (void *)(intptr_t)(w->index * 100000 + i));
        CHECK(c != NULL && rc_thread_join(c) == 0, "%s", rc_error_message());
        /* A foreign thread registering meanwhile; joined detached, so a
         * stop or the GIL never waits for us while we wait for it. */
        pthread_t f;
        CHECK(pthread_create(&f, NULL, foreign, (void *)(intptr_t)(w->index * 100000 + i)) == 0,
              "pthread_create");
        CHECK(rc_detach() == 0, "%s", rc_error_message());
        pthread_join(f, NULL);
        CHECK(rc_attach() == 0, "%s", rc_error_message());
        w->ops++;
    }
}

static int phase_starts(void)
{
    run(starts_worker);
    return 1;
}

/* -------------------------------------------------------------- weakrefs */

#define NWEAK 16
static rc_object *weak_slots;   /* list of NWEAK weakrefs to Objs */
static rc_object *strong;       /* list holding the targets, replaced by worker 0 */

static void weakrefs_worker(struct worker *w)
{
    uint64_t rng = seed * 3000003u + (uint64_t)w->index + 1;
    if (w->index == 0) {
        for (long i = 0; i < iterations; i++) {
            long k = (long)(rng_next(&rng) % NWEAK);
            rc_object *o = stress_obj_new(obj_type, 1000 + i);
            rc_object *wr = o != NULL ? rc_weakref_new(o, NULL, NULL) : NULL;
            CHECK(wr != NULL, "%s", rc_error_message());
            /* New target first, then its weakref; the old target dies when
             * the list lets go of it (its weakref then reads NULL). */
            CHECK(rc_list_set(strong, k, o) == 0 && rc_list_set(weak_slots, k, wr) == 0, "%s",
                  rc_error_message());
            rc_decref(o);
            rc_decref(wr);
            if ((i & 7) == 0)
                CHECK(rc_list_set(strong, (long)(rng_next(&rng) % NWEAK), rc_none()) == 0,
                      "%s", rc_error_message());
            w->ops++;
        }
        atomic_store(&stop, 1);
        return;
    }
    long alive = 0, dead = 0;
    while (!atomic_load(&stop) || w->ops < 1000) {
        rc_object *wr = rc_list_get(weak_slots, (long)(rng_next(&rng) % NWEAK));
        CHECK(wr != NULL && rc_is_weakref(wr), "weakref");
        rc_object *o = rc_weakref_get(wr);
        if (o == NULL) {
            CHECK(!rc_error_occurred(), "%s", rc_error_message());
            dead++;
        } else {
            CHECK(stress_obj_check(obj_type, o), "weakref target");
            rc_decref(o);
            alive++;
        }
        rc_decref(wr);
        if ((++w->ops & 63) == 0)
            rc_safepoint();
    }
    w->calls = alive;
    w->stray = dead;
}

static int phase_weakrefs(void)
{
    weak_slots = rc_list_new();
    strong = rc_list_new();
    for (int k = 0; k < NWEAK; k++) {
        rc_object *o = stress_obj_new(obj_type, k);
        rc_object *wr = rc_weakref_new(o, NULL, NULL);
        CHECK(wr != NULL && rc_list_append(strong, o) == 0 && rc_list_append(weak_slots, wr) == 0,
              "%s", rc_error_message());
        rc_decref(o);
        rc_decref(wr);
    }
    run(weakrefs_worker);
    long alive = 0, dead = 0;
    for (int i = 1; i < nthreads; i++) {
        alive += atomic_load(&workers[i].calls);
        dead += atomic_load(&workers[i].stray);
    }
    printf("    %ld live targets, %ld dead ones\n", alive, dead);
    CHECK(alive > 0, "no weakref gave its target");
    rc_decref(strong);
    rc_decref(weak_slots);
    return 1;
}

/* --------------------------------------------------------------- inspect */

static rc_object *inspected;   /* a list whose items the mutators replace */

static void inspect_worker(struct worker *w)
{
    uint64_t rng = seed * 4000003u + (uint64_t)w->index + 1;
    long n = iterations / 40 + 5;
    for (long i = 0; i < n; i++) {
        uint64_t r = rng_next(&rng);
        if (w->index < 2) {
            rc_object *x = rc_list_get(inspected, (long)(r % 8));
            rc_object *refs = x != NULL ? rc_gc_get_referrers(&x, 1) : NULL;
            CHECK(refs != NULL, "%s", rc_error_message());
            rc_decref(refs);
            rc_object *ents = rc_gc_get_referents(inspected);
            CHECK(ents != NULL && rc_list_len(ents) == 8, "referents");
            for (long k = 0; ents != NULL && k < rc_list_len(ents); k++) {
                rc_object *e = rc_list_get(ents, k);
                CHECK(stress_obj_check(obj_type, e), "referent %ld", k);
                rc_decref(e);
            }
            rc_decref(ents);
            rc_decref(x);
            if ((r >> 8) % 8 == 0) {
                rc_object *all = rc_gc_get_objects(-1);
                /* Possibly empty: the other inspector may have frozen
                 * everything into the permanent generation. */
                CHECK(all != NULL, "%s", rc_error_message());
                rc_decref(all);
            }
            if ((r >> 12) % 8 == 0) {
                CHECK(rc_gc_freeze() == 0, "%s", rc_error_message());
                CHECK(rc_gc_get_freeze_count() >= 0, "freeze count");
                CHECK(rc_gc_unfreeze() == 0, "%s", rc_error_message());
            }
        } else {
            rc_object *o = stress_obj_new(obj_type, (int64_t)i);
            CHECK(o != NULL && rc_list_set(inspected, (long)(r % 8), o) == 0, "%s",
                  rc_error_message());
            rc_decref(o);
            make_cycle();
        }
        w->ops++;
    }
}

static int phase_inspect(void)
{
    inspected = rc_list_new();
    for (int k = 0; k < 8; k++) {
        rc_object *o = stress_obj_new(obj_type, k);
        rc_list_append(inspected, o);
        rc_decref(o);
    }
    run(inspect_worker);
    rc_decref(inspected);
    return 1;
}

/* -------------------------------------------------------------- teardown */

static int phase_teardown(void)
{
    rc_gc_collect(2);
    rc_safepoint();
    CHECK(rc_live_objects() == base, "live %zu, expected %zu", rc_live_objects(), base);
    return 1;
}

int main(int argc, char **argv)
{
    struct stress_args args = {.threads = nthreads, .iterations = iterations, .seed = seed};
    stress_parse_args(argc, argv, 3, &args);
    nthreads = args.threads;
    iterations = args.iterations;
    seed = args.seed;
    stress_mode = args.mode;
    rc_runtime *rt = stress_runtime_new(args.mode);
    obj_type = rc_type_new("Obj", 2, NULL);
    base = rc_live_objects();
    static const struct stress_phase phases[] = {
        {"settings", phase_settings}, {"immutables", phase_immutables}, {"starts", phase_starts},
        {"weakrefs", phase_weakrefs}, {"inspect", phase_inspect},       {"teardown", phase_teardown}};
    return stress_run_phases(rt, phases, 6);
}
