/* tests/stress/stress_slots.c: instance slots shared by threads, in one mode
 * (--mode).  In the ft modes rc_slot_get takes no lock while rc_slot_set
 * writes under the instance's lock and drops the value it replaced; in gil
 * mode the same threads take turns at safepoints.  Every value read is
 * checked: None, or an Obj (stress.h: slot 0 an int id, slot 1 the str
 * "obj-<id>") that is intact, so a freed or reused value fails the check,
 * and ASan sees a read of freed memory.  Phases:
 *   race     a cache: a list of Entry instances with 4 slots each, made
 *            by setter 0, which owns them and so writes them without
 *            their lock while its slot bias lasts (until another thread
 *            writes one, or must read one under the lock).  Setters
 *            replace slots with new Objs (theirs alone: nobody else ever
 *            counted them, so a reader's try-incref refuses them and it
 *            falls back to the lock), with values they read elsewhere
 *            (counted by several threads), or with None, and now and then
 *            empty a whole Entry (rc_clear); getters read
 *            slots through references they hold and through instances
 *            borrowed from the list (rc_list_get_borrowed), and keep some
 *            values across safepoints to check them again; some reads
 *            borrow everything (rc_slot_get_borrowed: the value and its
 *            own slots, which a dying value has emptied to None);
 *   dying    a writer replaces the list's Entries with new ones, so
 *            instances die while readers that borrowed them from the list
 *            read their slots (with rc_slot_get or rc_slot_get_borrowed):
 *            each read gives an intact Obj or None;
 *   clear    an instance never stored in a container (not marked
 *            shared) is handed by pointer from its owner to the others;
 *            the owner writes it and empties it with rc_clear while the
 *            others write and read it;
 *   teardown every slot left holds None or an intact Obj; after the
 *            cache is dropped rc_live_objects() is back to the baseline
 *            and rc_runtime_free reports no leak.
 * Usage: stress_slots [--mode M] [--threads N] [--iterations K] [--seed S]
 * Threaded runs are not exactly repeatable; the seed fixes each thread's
 * choices, not the interleaving.
 */
#include "stress.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nthreads = 4;
static long iterations = 100000;
static uint64_t seed = 4242;
static rc_type *obj_type;     /* Obj(id, "obj-<id>"): stress_obj_new */
static rc_type *entry_type;   /* Entry: NSLOTS slots, each None or an Obj */
static rc_object *cache;      /* list of NENTRIES Entries, made by setter 0 */
static _Atomic int cache_ready;   /* setter 0 -> everyone (seq_cst) */
static size_t base;

#define NSLOTS 4
#define NENTRIES 8
#define KEEP 8   /* values a getter keeps across safepoints */

/* None, or an intact Obj. */
static int value_ok(rc_object *v)
{
    if (v == rc_none() || stress_obj_check(obj_type, v))
        return 1;
    rc_object *n = v != NULL && rc_type_of(v) == obj_type ? rc_slot_get(v, 0) : NULL;
    rc_object *s = v != NULL && rc_type_of(v) == obj_type ? rc_slot_get(v, 1) : NULL;
    fprintf(stderr, "bad value %p: type %s, count %ld, slot 0 %s, slot 1 %s\n", (void *)v,
            v != NULL ? rc_type_name(rc_type_of(v)) : "-", v != NULL ? (long)rc_refcount(v) : -1L,
            n != NULL ? rc_type_name(rc_type_of(n)) : "-", s != NULL ? rc_type_name(rc_type_of(s)) : "-");
    rc_decref(n);
    rc_decref(s);
    return 0;
}

/* A value read borrowed from a slot (rc_slot_get_borrowed), which may die
 * while we look at it: None; or an Obj whose slots, read borrowed too, are
 * its intact int and str, or None once its death has emptied them
 * (docs/threads.md [thr.slots]).  Never freed memory (ASan). */
static int borrowed_value_ok(rc_object *v)
{
    if (v == rc_none())
        return 1;
    if (rc_type_of(v) != obj_type)
        return 0;
    rc_object *n = rc_slot_get_borrowed(v, 0), *s = rc_slot_get_borrowed(v, 1);
    if (n == rc_none() || s == rc_none())
        return (n == rc_none() || rc_is_int(n)) && (s == rc_none() || rc_is_str(s));
    if (!rc_is_int(n) || !rc_is_str(s))
        return 0;
    char buf[48];
    snprintf(buf, sizeof buf, "obj-%lld", (long long)rc_int_value(n));
    return strcmp(rc_str_data(s), buf) == 0;
}

static rc_object *new_entry(int64_t id)
{
    rc_object *e = rc_instance_new(entry_type);
    for (int s = 0; e != NULL && s < NSLOTS; s++) {
        rc_object *o = stress_obj_new(obj_type, id * NSLOTS + s);
        if (o == NULL || rc_slot_set(e, (size_t)s, o) < 0) {
            rc_decref(o);
            rc_decref(e);
            return NULL;
        }
        rc_decref(o);
    }
    return e;
}

struct worker {
    int index;
    _Atomic int *stop;   /* getters run until it is set */
    long ops, borrowed_reads, nones;
};

/* Setter 0 fills the cache (its Entries are its own); the others wait. */
static void await_cache(int index)
{
    if (index == 0 && !atomic_load(&cache_ready)) {
        for (int k = 0; k < NENTRIES; k++) {
            rc_object *e = new_entry(k);
            CHECK(e != NULL && rc_list_append(cache, e) == 0, "%s", rc_error_message());
            rc_decref(e);
        }
        atomic_store(&cache_ready, 1);
    }
    while (!atomic_load(&cache_ready))
        rc_safepoint();   /* gil mode: lets setter 0 run */
}

static void setter(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 1000003u + (uint64_t)w->index + 1;
    long seq = 0;
    await_cache(w->index);
    rc_object *held[NENTRIES];
    for (int k = 0; k < NENTRIES; k++)
        held[k] = rc_list_get(cache, k);
    for (long i = 0; i < iterations; i++) {
        uint64_t r = rng_next(&rng);
        rc_object *e = held[r % NENTRIES];
        size_t s = (size_t)((r >> 8) % NSLOTS);
        int what = (int)((r >> 16) % 8);
        rc_object *v;
        if (what < 5) {
            v = stress_obj_new(obj_type, ((int64_t)(w->index + 1) << 40) + seq++);
            CHECK(v != NULL, "%s", rc_error_message());
        } else if (what == 5 && ((r >> 48) & 15) == 0) {
            /* Now and then empty the whole Entry while others write and
             * read it (rc_clear: as locked writes of None). */
            CHECK(rc_clear(e) == 0, "%s", rc_error_message());
            w->ops++;
            continue;
        } else if (what < 7) {
            /* A value another slot holds: counted by several threads. */
            v = rc_slot_get(held[(r >> 24) % NENTRIES], (size_t)((r >> 32) % NSLOTS));
            CHECK(value_ok(v), "setter read a bad value");
        } else {
            v = rc_none();
        }
        CHECK(rc_slot_set(e, s, v) == 0, "%s", rc_error_message());
        rc_decref(v);
        w->ops++;
    }
    for (int k = 0; k < NENTRIES; k++)
        rc_decref(held[k]);
}

/* Read slots until *stop, through a held Entry or a borrowed one. */
static void getter(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 2000003u + (uint64_t)w->index + 1;
    rc_object *keep[KEEP] = {0};
    await_cache(-1);
    rc_object *held = rc_list_get(cache, w->index % NENTRIES);
    while (!atomic_load(w->stop) || w->ops < 1000) {
        uint64_t r = rng_next(&rng);
        size_t s = (size_t)((r >> 8) % NSLOTS);
        rc_object *v;
        if ((r & 3) == 3) {
            /* Borrowed all the way: the Entry, its value, the value's
             * slots; nothing counted, nothing kept. */
            rc_object *e = rc_list_get_borrowed(cache, (long)((r >> 16) % NENTRIES));
            CHECK(e != NULL, "%s", rc_error_message());
            rc_object *b = rc_slot_get_borrowed(e, s);
            CHECK(b != NULL && borrowed_value_ok(b), "borrowed value went bad");
            w->borrowed_reads++;
            if ((++w->ops & 63) == 0)
                rc_safepoint();
            continue;
        } else if (r & 1) {
            rc_object *e = rc_list_get_borrowed(cache, (long)((r >> 16) % NENTRIES));
            CHECK(e != NULL, "%s", rc_error_message());
            v = rc_slot_get(e, s);   /* ends no borrow: e stays usable */
            w->borrowed_reads++;
        } else {
            v = rc_slot_get(held, s);
        }
        CHECK(value_ok(v), "getter read a bad value");
        if (v == rc_none())
            w->nones++;
        int k = (int)((r >> 24) % KEEP);
        rc_object *old = keep[k];
        keep[k] = v;   /* kept across safepoints, checked again when let go */
        if (old != NULL) {
            CHECK(value_ok(old), "a kept value went bad");
            rc_decref(old);
        }
        if ((++w->ops & 63) == 0)
            rc_safepoint();
    }
    for (int k = 0; k < KEEP; k++)
        rc_decref(keep[k]);
    rc_decref(held);
}

/* Replace the cache's Entries, so that instances die while getters that
 * borrowed them read their slots. */
static void replacer(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 3000003u + (uint64_t)w->index + 1;
    for (long i = 0; i < iterations / 8; i++) {
        uint64_t r = rng_next(&rng);
        rc_object *e = new_entry(((int64_t)(w->index + 1) << 40) + i);
        CHECK(e != NULL, "%s", rc_error_message());
        CHECK(rc_list_set(cache, (long)(r % NENTRIES), e) == 0, "%s", rc_error_message());
        rc_decref(e);
        w->ops++;
    }
}

/* Getters that only borrow: every read goes through rc_list_get_borrowed. */
static void borrow_getter(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 4000003u + (uint64_t)w->index + 1;
    while (!atomic_load(w->stop) || w->ops < 1000) {
        uint64_t r = rng_next(&rng);
        rc_object *e = rc_list_get_borrowed(cache, (long)(r % NENTRIES));
        CHECK(e != NULL, "%s", rc_error_message());
        for (size_t s = 0; s < NSLOTS; s++) {
            if ((r >> 40) & 1) {
                rc_object *b = rc_slot_get_borrowed(e, s);   /* nothing counted */
                CHECK(b != NULL && borrowed_value_ok(b), "borrowed entry's slot %zu is bad", s);
                if (b == rc_none())
                    w->nones++;
                continue;
            }
            rc_object *v = rc_slot_get(e, s);
            CHECK(value_ok(v), "borrowed entry's slot %zu is bad", s);
            if (v == rc_none())
                w->nones++;
            rc_decref(v);
        }
        w->borrowed_reads++;
        if ((++w->ops & 15) == 0)
            rc_safepoint();
    }
}

/* Phase "clear": an instance never stored in a container (so not marked
 * shared), made by clear_owner and handed to the others by pointer: the
 * owner writes it (biased until another thread writes it) and empties it
 * with rc_clear, while the others write and read it. */
static rc_object *private_inst;
static _Atomic int private_ready;

static void clear_owner(void *p)
{
    struct worker *w = p;
    private_inst = rc_instance_new(entry_type);
    CHECK(private_inst != NULL, "%s", rc_error_message());
    atomic_store(&private_ready, 1);
    long seq = 0;
    for (long i = 0; i < iterations / 4; i++) {
        rc_object *v = stress_obj_new(obj_type, ((int64_t)(w->index + 1) << 40) + seq++);
        CHECK(v != NULL && rc_slot_set(private_inst, (size_t)(i % NSLOTS), v) == 0, "%s",
              rc_error_message());
        rc_decref(v);
        if ((i & 7) == 0)
            CHECK(rc_clear(private_inst) == 0, "%s", rc_error_message());
        w->ops++;
    }
}

static void clear_other(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 5000003u + (uint64_t)w->index + 1;
    while (!atomic_load(&private_ready))
        rc_safepoint();
    long seq = 0;
    while (!atomic_load(w->stop) || w->ops < 1000) {
        uint64_t r = rng_next(&rng);
        size_t s = (size_t)(r % NSLOTS);
        if ((r >> 8) & 1) {
            rc_object *v = stress_obj_new(obj_type, ((int64_t)(w->index + 1) << 40) + seq++);
            CHECK(v != NULL && rc_slot_set(private_inst, s, v) == 0, "%s", rc_error_message());
            rc_decref(v);
        } else {
            rc_object *v = rc_slot_get(private_inst, s);
            CHECK(value_ok(v), "private instance's slot %zu is bad", s);
            rc_decref(v);
        }
        if ((++w->ops & 63) == 0)
            rc_safepoint();
    }
}

/* nw writers running wfn, then nr readers running rfn until the writers
 * are done; returns the readers' totals in *sum. */
static void run(int nw, void (*wfn)(void *), int nr, void (*rfn)(void *), struct worker *sum)
{
    _Atomic int stop = 0;
    struct worker w[64] = {0};
    rc_thread *t[64];
    for (int i = 0; i < nw + nr; i++) {
        w[i].index = i;
        w[i].stop = &stop;
        t[i] = rc_thread_start(i < nw ? wfn : rfn, &w[i]);
        CHECK(t[i] != NULL, "%s", rc_error_message());
    }
    for (int i = 0; i < nw; i++) {
        CHECK(rc_thread_join(t[i]) == 0, "%s", rc_error_message());
        CHECK(w[i].ops > 0, "writer %d did nothing", i);
    }
    atomic_store(&stop, 1);
    *sum = (struct worker){0};
    for (int i = nw; i < nw + nr; i++) {
        CHECK(rc_thread_join(t[i]) == 0, "%s", rc_error_message());
        sum->ops += w[i].ops;
        sum->borrowed_reads += w[i].borrowed_reads;
        sum->nones += w[i].nones;
    }
    rc_safepoint();   /* merge what was queued to us */
}

/* Every slot of every Entry holds None or an intact Obj. */
static void check_cache(const char *phase)
{
    for (long k = 0; k < NENTRIES; k++) {
        rc_object *e = rc_list_get(cache, k);
        CHECK(e != NULL && rc_type_of(e) == entry_type, "%s: entry %ld", phase, k);
        for (size_t s = 0; e != NULL && s < NSLOTS; s++) {
            rc_object *v = rc_slot_get(e, s);
            CHECK(value_ok(v), "%s: entry %ld slot %zu is bad", phase, k, s);
            rc_decref(v);
        }
        rc_decref(e);
    }
}

static int half(void) { return nthreads / 2 > 0 ? nthreads / 2 : 1; }

static int phase_race(void)
{
    cache = rc_list_new();
    CHECK(cache != NULL, "%s", rc_error_message());
    struct worker sum;
    run(half(), setter, nthreads - half() > 0 ? nthreads - half() : 1, getter, &sum);
    printf("    %ld reads (%ld through borrowed instances, %ld None)\n", sum.ops,
           sum.borrowed_reads, sum.nones);
    CHECK(sum.borrowed_reads > 0 && sum.ops > sum.borrowed_reads, "both kinds of read ran");
    check_cache("race");
    return 1;
}

static int phase_dying(void)
{
    struct worker sum;
    run(1, replacer, nthreads > 1 ? nthreads - 1 : 1, borrow_getter, &sum);
    printf("    %ld borrowed instances read (%ld None slots)\n", sum.borrowed_reads, sum.nones);
    CHECK(sum.borrowed_reads > 0, "no read");
    check_cache("dying");
    return 1;
}

static int phase_clear(void)
{
    struct worker sum;
    run(1, clear_owner, nthreads > 1 ? nthreads - 1 : 1, clear_other, &sum);
    printf("    %ld operations on the private instance by the others\n", sum.ops);
    for (size_t s = 0; s < NSLOTS; s++) {
        rc_object *v = rc_slot_get(private_inst, s);
        CHECK(value_ok(v), "clear: slot %zu is bad", s);
        rc_decref(v);
    }
    rc_decref(private_inst);   /* the owner's reference, handed over */
    return 1;
}

static int phase_teardown(void)
{
    rc_decref(cache);
    rc_safepoint();
    CHECK(rc_live_objects() == base, "live %zu, expected %zu", rc_live_objects(), base);
    return 1;
}

int main(int argc, char **argv)
{
    struct stress_args args = {.threads = nthreads, .iterations = iterations, .seed = seed};
    stress_parse_args(argc, argv, 2, &args);
    nthreads = args.threads;
    iterations = args.iterations;
    seed = args.seed;
    rc_runtime *rt = stress_runtime_new(args.mode);
    obj_type = rc_type_new("Obj", 2, NULL);
    entry_type = rc_type_new("Entry", NSLOTS, NULL);
    base = rc_live_objects();
    static const struct stress_phase phases[] = {{"race", phase_race},
                                                 {"dying", phase_dying},
                                                 {"clear", phase_clear},
                                                 {"teardown", phase_teardown}};
    return stress_run_phases(rt, phases, 4);
}
