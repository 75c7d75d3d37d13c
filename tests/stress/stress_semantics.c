/* tests/stress/stress_semantics.c: rc_repr, rc_equal, rc_hash, rc_copy and
 * rc_deepcopy (rcgc/semantics.h) on a graph other threads mutate, in one
 * mode (--mode).  In the ft modes the readers run beside the mutators; in
 * gil mode they take turns at safepoints.
 *
 * The graph: NCONT containers (lists, dicts and instances, a third each),
 * held by a root list.  Each container has one link position (list item
 * 0, dict key 0, slot 0) holding another container or None, which makes
 * cycles (so repr meets containers it is printing, deepcopy meets
 * originals it has copied, and comparisons recurse); its other positions
 * hold ints, strs and Objs (stress.h: an instance whose int and str slots
 * are its own, so a freed Obj fails its check and ASan sees the read).
 * One link position per container keeps a repr linear in the graph.
 * Phases:
 *   race      mutators replace items, links and slots, append to and pop
 *             from lists, set and delete dict keys; readers repr, compare,
 *             hash, copy and deep-copy random containers and check each
 *             result: a str of the right shape; 0 or 1 (or a
 *             RecursionError for a deep copy's cycles); a copy of the
 *             right type whose Objs, deep copies included, are intact;
 *   teardown  the links broken, the root dropped, a collection: every
 *             object made is gone (rc_live_objects back to the baseline)
 *             and rc_runtime_free reports no leak.
 * Usage: stress_semantics [--mode M] [--threads N] [--iterations K] [--seed S]
 */
#include "stress.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NCONT 12
#define MAXLEN 8   /* list items and dict keys per container, link included */

static int nthreads = 4;
static long iterations = 20000;
static uint64_t seed = 777;
static rc_type *obj_type, *node_type;
static rc_object *root;   /* list of the NCONT containers */
static size_t base;

/* Container i: list (i % 3 == 0), dict (1) or instance of node_type (2). */
static int kind(int i)
{
    return i % 3;
}

/* A value for a non-link position: an int, a str, a new Obj, a tuple
 * (an int and a new Obj) or a weak reference to a new Obj (dead at once:
 * nothing else holds it). */
static rc_object *atom(uint64_t r, int64_t id)
{
    switch (r % 5) {
    case 0:
        return rc_int_new((int64_t)(r >> 8) % 100000);
    case 1:
        return rc_str_new((r >> 8) & 1 ? "it's" : "plain");
    case 2:
        return stress_obj_new(obj_type, id);
    case 3: {
        rc_object *items[2] = {rc_int_new(id), stress_obj_new(obj_type, id)};
        rc_object *t = items[0] != NULL && items[1] != NULL ? rc_tuple_new(2, items) : NULL;
        rc_decref(items[0]);
        rc_decref(items[1]);
        return t;
    }
    default: {
        rc_object *o = stress_obj_new(obj_type, id);
        rc_object *w = o != NULL ? rc_weakref_new(o, NULL, NULL) : NULL;
        rc_decref(o);
        return w;
    }
    }
}

/* Everything reachable from o that is an Obj is intact; containers are
 * walked to depth 2 (their items read with references, as the API gives
 * them to another thread). */
static int intact(rc_object *o, int depth)
{
    if (o == NULL)
        return 0;
    if (rc_type_of(o) == obj_type)
        return stress_obj_check(obj_type, o);
    if (depth == 0)
        return 1;
    int ok = 1;
    if (rc_is_tuple(o)) {
        for (long i = 0; ok && i < rc_tuple_len(o); i++) {
            rc_object *v = rc_tuple_get(o, i);
            ok = intact(v, depth - 1);
            rc_decref(v);
        }
    } else if (rc_is_list(o)) {
        for (long i = 0; ok; i++) {
            rc_object *v = rc_list_get(o, i);
            if (v == NULL) {
                rc_error_clear();
                break;
            }
            ok = intact(v, depth - 1);
            rc_decref(v);
        }
    } else if (rc_is_dict(o)) {
        size_t pos = 0;
        rc_object *k, *v;
        while (ok && rc_dict_next_ref(o, &pos, &k, &v)) {
            ok = intact(v, depth - 1);
            rc_decref(k);
            rc_decref(v);
        }
    } else if (rc_type_of(o) == node_type) {
        for (size_t s = 0; s < 4 && ok; s++) {
            rc_object *v = rc_slot_get(o, s);
            ok = intact(v, depth - 1);
            rc_decref(v);
        }
    }
    return ok;
}

struct worker {
    int index;
    long ops, recursions, equal;
};

static void mutator(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 1000003u + (uint64_t)w->index + 1;
    int64_t seq = (int64_t)(w->index + 1) << 40;
    for (long n = 0; n < iterations; n++) {
        uint64_t r = rng_next(&rng);
        int i = (int)(r % NCONT), j = (int)((r >> 8) % NCONT);
        rc_object *c = rc_list_get(root, i);
        bool link = ((r >> 16) & 3) == 0;
        rc_object *v;
        if (link)
            v = ((r >> 20) & 7) == 0 ? rc_none() : rc_list_get(root, j);
        else
            v = atom(r >> 24, seq++);
        CHECK(c != NULL && v != NULL, "%s", rc_error_message());
        int pos = link ? 0 : 1 + (int)((r >> 32) % (MAXLEN - 1));
        int rc = 0;
        switch (kind(i)) {
        case 0:
            if (pos < rc_list_len(c)) {
                rc = rc_list_set(c, pos, v);
                if (rc < 0 && rc_error_occurred() == RC_ERR_INDEX) {
                    rc_error_clear();   /* another mutator popped it meanwhile */
                    rc = 0;
                }
            }
            else if (((r >> 40) & 1) == 0 && rc_list_len(c) > 1)
                rc_decref(rc_list_pop(c, -1));   /* shrink now and then */
            else if (rc_list_len(c) < MAXLEN)
                rc = rc_list_append(c, v);
            break;
        case 1: {
            rc_object *k = rc_int_new(pos);
            if (!link && ((r >> 40) & 3) == 0) {
                if (rc_dict_del(c, k) < 0)
                    rc_error_clear();   /* not there */
            } else {
                rc = rc_dict_set(c, k, v);
            }
            rc_decref(k);
            break;
        }
        default:
            rc = rc_slot_set(c, (size_t)(pos % 4), v);
            break;
        }
        CHECK(rc == 0, "%s", rc_error_message());
        rc_decref(v);
        rc_decref(c);
        w->ops++;
    }
}

static void reader(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 2000003u + (uint64_t)w->index + 1;
    for (long n = 0; n < iterations; n++) {
        uint64_t r = rng_next(&rng);
        rc_object *c = rc_list_get(root, (long)(r % NCONT));
        CHECK(c != NULL, "%s", rc_error_message());
        switch ((r >> 8) % 5) {
        case 0: {
            rc_object *s = rc_repr(c);
            int kd = kind((int)(r % NCONT));
            char open = kd == 0 ? '[' : kd == 1 ? '{' : '<';
            CHECK(s != NULL && rc_str_data(s)[0] == open, "repr: %s",
                  s != NULL ? rc_str_data(s) : rc_error_message());
            rc_decref(s);
            break;
        }
        case 1: {
            /* A shallow copy: the same items (identity), unless a mutator
             * changed one in between. */
            rc_object *y = rc_copy(c);
            CHECK(y != NULL && y != c && rc_type_of(y) == rc_type_of(c) && intact(y, 2),
                  "copy: %s", rc_error_message());
            int eq = y != NULL ? rc_equal(c, y) : -1;
            if (eq < 0 && rc_error_occurred() == RC_ERR_RECURSION) {
                rc_error_clear();
                w->recursions++;
            } else {
                CHECK(eq == 0 || eq == 1, "equal: %s", rc_error_message());
                w->equal += eq == 1;
            }
            rc_decref(y);
            break;
        }
        case 2:
        case 3: {
            rc_object *y = rc_deepcopy(c);
            CHECK(y != NULL && y != c && rc_type_of(y) == rc_type_of(c) && intact(y, 4),
                  "deepcopy: %s", rc_error_message());
            /* Comparing a cyclic original with its copy recurses until
             * the limit: RecursionError, or 0 when they differ first. */
            int eq = y != NULL ? rc_equal(y, c) : -1;
            if (eq < 0) {
                CHECK(rc_error_occurred() == RC_ERR_RECURSION, "equal: %s", rc_error_message());
                rc_error_clear();
                w->recursions++;
            }
            rc_decref(y);   /* cyclic garbage, for the collector */
            break;
        }
        default: {
            rc_object *k = rc_int_new((int64_t)(r >> 16) % MAXLEN);
            rc_object *t = rc_tuple_new(1, &k);
            CHECK(rc_hash(k) != -1 && rc_hash(t) != -1, "hash: %s", rc_error_message());
            if (kind((int)(r % NCONT)) == 2) {   /* an instance: by identity */
                CHECK(rc_hash(c) != -1 && rc_hash(c) == rc_hash(c), "hash: %s", rc_error_message());
            } else {   /* lists and dicts: TypeError */
                CHECK(rc_hash(c) == -1 && rc_error_occurred() == RC_ERR_TYPE, "hash of a %s",
                      rc_is_list(c) ? "list" : "dict");
                rc_error_clear();
            }
            rc_decref(t);
            rc_decref(k);
            break;
        }
        }
        rc_decref(c);
        w->ops++;
    }
}

static int phase_race(void)
{
    root = rc_list_new();
    for (int i = 0; i < NCONT; i++) {
        rc_object *c = kind(i) == 0 ? rc_list_new() : kind(i) == 1 ? rc_dict_new()
                                                                    : rc_instance_new(node_type);
        if (kind(i) == 0)
            CHECK(rc_list_append(c, rc_none()) == 0, "%s", rc_error_message());   /* the link */
        CHECK(c != NULL && rc_list_append(root, c) == 0, "%s", rc_error_message());
        rc_decref(c);
    }
    int nmut = nthreads / 2 > 0 ? nthreads / 2 : 1;
    struct worker ws[64];
    rc_thread *ts[64];
    for (int t = 0; t < nthreads; t++) {
        ws[t] = (struct worker){.index = t};
        ts[t] = rc_thread_start(t < nmut ? mutator : reader, &ws[t]);
        CHECK(ts[t] != NULL, "%s", rc_error_message());
    }
    long recursions = 0, equal = 0, ops = 0;
    for (int t = 0; t < nthreads; t++) {
        CHECK(rc_thread_join(ts[t]) == 0, "%s", rc_error_message());
        recursions += ws[t].recursions;
        equal += ws[t].equal;
        ops += ws[t].ops;
    }
    printf("  race: %ld operations, %ld shallow copies compared equal, %ld comparisons hit "
           "the recursion limit\n", ops, equal, recursions);
    return ops == (long)nthreads * iterations;
}

static int phase_teardown(void)
{
    for (int i = 0; i < NCONT; i++) {
        rc_object *c = rc_list_get(root, i);
        CHECK(intact(c, 2), "container %d went bad", i);
        CHECK(rc_clear(c) == 0, "%s", rc_error_message());
        rc_decref(c);
    }
    rc_decref(root);
    root = NULL;
    rc_gc_collect(2);
    CHECK(rc_live_objects() == base, "%zu objects left, %zu expected", rc_live_objects(), base);
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
    node_type = rc_type_new("Node", 4, NULL);
    base = rc_live_objects();
    static const struct stress_phase phases[] = {{"race", phase_race},
                                                 {"teardown", phase_teardown}};
    return stress_run_phases(rt, phases, 2);
}
