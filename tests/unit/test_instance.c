/* tests/unit/test_instance.c: user-defined types, instances and their
 * slots, finalizers (run once, resurrection), weak references and their
 * callbacks, and deallocation of deep instance chains (trashcan).
 */
#define RCGC_BUILDING 1   /* to read the runtime's count of cleared slot biases */
#include "harness.h"
#include "internal.h"
#include "objects.h"
#include "weakref.h"

#include <stdatomic.h>

#include <string.h>

static void test_type_and_slots(void **state)
{
    rc_type *T = rc_type_new("Point", 2, NULL);
    assert_non_null(T);
    assert_string_equal("Point", rc_type_name(T));
    rc_object *p = rc_instance_new(T);
    assert_non_null(p);
    assert_true(rc_type_of(p) == T);
    assert_int_equal(1, rc_is_instance(p));
    assert_int_equal(2, rc_instance_nslots(p));
    assert_int_equal(1, rc_gc_is_tracked(p));
    rc_object *v = rc_slot_get(p, 0);
    assert_true(v == rc_none());
    rc_decref(v);
    rc_object *x = rc_int_new(100000);
    assert_int_equal(0, rc_slot_set(p, 1, x));
    assert_int_equal(2, rc_refcount(x));
    v = rc_slot_get(p, 1);
    assert_true(v == x);
    assert_int_equal(3, rc_refcount(x));
    rc_decref(v);
    assert_int_equal(0, rc_slot_set(p, 1, rc_none()));   /* drops x */
    assert_int_equal(1, rc_refcount(x));
    assert_int_equal(0, rc_slot_set(p, 0, x));
    rc_decref(x);
    rc_decref(p);   /* frees p and x */
}

static void test_type_bad_input(void **state)
{
    assert_null(rc_type_new(NULL, 1, NULL));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_type_new("Huge", (size_t)1 << 40, NULL));
    assert_error(RC_ERR_VALUE);
    assert_null(rc_instance_new(NULL));
    assert_error(RC_ERR_TYPE);
    rc_object *l = rc_list_new();
    assert_null(rc_instance_new((rc_type *)rc_type_of(l)));
    assert_error(RC_ERR_TYPE);
    rc_type *T = rc_type_new("T", 1, NULL);
    rc_object *o = rc_instance_new(T);
    assert_null(rc_slot_get(o, 1));
    assert_error(RC_ERR_INDEX);
    assert_int_equal(-1, rc_slot_set(o, 5, l));
    assert_error(RC_ERR_INDEX);
    assert_int_equal(-1, rc_slot_set(o, 0, NULL));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_slot_get(l, 0));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_slot_get(NULL, 0));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_slot_get_borrowed(NULL, 0));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_slot_get_borrowed(l, 0));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_slot_get_borrowed(o, 1));
    assert_non_null(strstr(rc_error_message(), "rc_slot_get_borrowed"));
    assert_error(RC_ERR_INDEX);
    assert_int_equal(-1, rc_slot_set(NULL, 0, l));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_instance_nslots(l));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(0, rc_is_instance(NULL));
    assert_int_equal(0, rc_is_instance(l));
    rc_testing_fail_alloc_after(1);
    assert_null(rc_instance_new(T));
    assert_error(RC_ERR_MEMORY);
    rc_testing_fail_alloc_after(1);
    assert_null(rc_type_new("NoMemory", 0, NULL));
    assert_error(RC_ERR_MEMORY);
    rc_decref(o);
    rc_decref(l);
}

/* rc_slot_get_borrowed: the slot's value, no count written; None for a
 * slot emptied by clear; in the ft modes the value is marked RC_GC_SHARED
 * (its memory then outlives a borrower whatever kills it). */
static void test_slot_get_borrowed(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    rc_type *T = rc_type_new("Borrowing", 2, NULL);
    rc_object *o = rc_instance_new(T);
    rc_object *v = rc_int_new(123456789);
    assert_int_equal(0, rc_slot_set(o, 1, v));
    intptr_t count = rc_refcount(v);
    assert_int_equal(0, obj_gc_bits(v) & RC_GC_SHARED);   /* stored, never shared */
    assert_ptr_equal(v, rc_slot_get_borrowed(o, 1));
    assert_int_equal(count, rc_refcount(v));             /* nothing counted */
    assert_ptr_equal(rc_none(), rc_slot_get_borrowed(o, 0));
    assert_int_equal(harness_mode == RC_MODE_GIL ? 0 : RC_GC_SHARED,
                     obj_gc_bits(v) & RC_GC_SHARED);
    rc_decref(v);
    rc_clear(o);   /* empties the slots */
    assert_ptr_equal(rc_none(), rc_slot_get_borrowed(o, 1));
    rc_decref(o);
    rc_safepoint();
    assert_int_equal(live, rc_live_objects());
}

/* ---- finalizers ---- */

static int finalized;
static long refcount_in_finalizer;
static rc_object *resurrect_into;   /* a list, or NULL */

static void finalizer(rc_object *self)
{
    finalized++;
    refcount_in_finalizer = rc_refcount(self);
    if (resurrect_into != NULL)
        rc_list_append(resurrect_into, self);
}

static void test_finalizer_runs_once(void **state)
{
    finalized = 0;
    resurrect_into = NULL;
    size_t live = rc_live_objects();
    rc_type *T = rc_type_new("Fin", 1, finalizer);
    rc_object *o = rc_instance_new(T);
    rc_object *payload = rc_str_new("payload");
    rc_slot_set(o, 0, payload);
    rc_decref(payload);
    rc_decref(o);
    assert_int_equal(1, finalized);
    assert_int_equal(1, refcount_in_finalizer);   /* the finalizer's own reference */
    assert_int_equal(live, rc_live_objects());    /* payload went with it */
}

static void test_finalizer_resurrects_once(void **state)
{
    finalized = 0;
    size_t live = rc_live_objects();
    rc_object *keep = rc_list_new();
    resurrect_into = keep;
    rc_type *T = rc_type_new("Phoenix", 1, finalizer);
    rc_object *o = rc_instance_new(T);
    rc_object *v = rc_int_new(4242);
    rc_slot_set(o, 0, v);
    rc_decref(v);
    rc_decref(o);
    assert_int_equal(1, finalized);
    /* Resurrected: alive in `keep`, its slot intact. */
    assert_int_equal(1, rc_list_len(keep));
    rc_object *back = rc_list_get(keep, 0);
    assert_true(back == o);
    assert_int_equal(2, rc_refcount(back));
    rc_object *slot = rc_slot_get(back, 0);
    assert_int_equal(4242, rc_int_value(slot));
    rc_decref(slot);
    rc_decref(back);
    /* Dying again: the finalizer is not run a second time. */
    resurrect_into = NULL;
    rc_object *popped = rc_list_pop(keep, -1);
    rc_decref(popped);
    assert_int_equal(1, finalized);
    rc_decref(keep);
    assert_int_equal(live, rc_live_objects());
}

/* ---- weak references ---- */

struct cb_log {
    int calls;
    rc_object *weakref_seen;
    rc_object *target_then;   /* what rc_weakref_get returned in the callback */
};

static void weak_callback(rc_object *wr, void *arg)
{
    struct cb_log *log = arg;
    log->calls++;
    log->weakref_seen = wr;
    log->target_then = rc_weakref_get(wr);
}

static void test_weakref_basics(void **state)
{
    size_t live = rc_live_objects();
    rc_type *T = rc_type_new("Target", 0, NULL);
    rc_object *t = rc_instance_new(T);
    struct cb_log log = {0};
    rc_object *wr = rc_weakref_new(t, weak_callback, &log);
    assert_non_null(wr);
    assert_int_equal(1, rc_is_weakref(wr));
    assert_int_equal(1, rc_gc_is_tracked(wr));   /* tracked, as in CPython: the
                                                    collector must tell garbage
                                                    weakrefs from reachable ones */
    assert_int_equal(1, rc_refcount(t));   /* a weak reference counts nothing */
    rc_object *got = rc_weakref_get(wr);
    assert_true(got == t);
    assert_int_equal(2, rc_refcount(t));
    rc_decref(got);
    rc_decref(t);   /* dies: callback with the weakref, target gone */
    assert_int_equal(1, log.calls);
    assert_true(log.weakref_seen == wr);
    assert_null(log.target_then);
    rc_error_clear();
    assert_null(rc_weakref_get(wr));
    assert_int_equal(RC_ERR_NONE, rc_error_occurred());   /* dead target is not an error */
    rc_decref(wr);
    assert_int_equal(live, rc_live_objects());
}

static void test_weakref_dead_first_gets_no_callback(void **state)
{
    rc_type *T = rc_type_new("Target", 0, NULL);
    rc_object *t = rc_instance_new(T);
    struct cb_log a = {0}, b = {0};
    rc_object *wa = rc_weakref_new(t, weak_callback, &a);
    rc_object *wb = rc_weakref_new(t, weak_callback, &b);
    rc_object *wc = rc_weakref_new(t, NULL, NULL);   /* no callback */
    rc_decref(wa);   /* gone before the target: unlinked, never called */
    rc_decref(t);
    assert_int_equal(0, a.calls);
    assert_int_equal(1, b.calls);
    assert_null(rc_weakref_get(wc));
    rc_decref(wb);
    rc_decref(wc);
}

static rc_object *weak_to_self;

static void finalizer_uses_weakref(rc_object *self)
{
    /* During finalization the object is alive, so its weakrefs still
     * work; taking a reference and dropping it must not re-trigger
     * anything. */
    rc_object *me = rc_weakref_get(weak_to_self);
    assert_true(me == self);
    rc_decref(me);
    finalized++;
}

static void test_weakref_in_finalizer(void **state)
{
    finalized = 0;
    rc_type *T = rc_type_new("SelfWeak", 0, finalizer_uses_weakref);
    rc_object *o = rc_instance_new(T);
    weak_to_self = rc_weakref_new(o, NULL, NULL);
    rc_decref(o);
    assert_int_equal(1, finalized);
    assert_null(rc_weakref_get(weak_to_self));
    rc_decref(weak_to_self);
}

static void test_weakref_bad_input(void **state)
{
    assert_null(rc_weakref_new(NULL, NULL, NULL));
    assert_error(RC_ERR_TYPE);
    rc_object *l = rc_list_new();
    assert_null(rc_weakref_new(l, NULL, NULL));
    assert_int_equal(RC_ERR_TYPE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), "cannot create weak reference to 'list'"));
    rc_error_clear();
    assert_null(rc_weakref_new(rc_none(), NULL, NULL));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_weakref_get(l));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_weakref_get(NULL));
    assert_error(RC_ERR_TYPE);
    rc_type *T = rc_type_new("T", 0, NULL);
    rc_object *t = rc_instance_new(T);
    rc_object *wr = rc_weakref_new(t, NULL, NULL);
    assert_null(rc_weakref_new(wr, NULL, NULL));   /* weakrefs are not weakrefable */
    assert_error(RC_ERR_TYPE);
    rc_testing_fail_alloc_after(1);
    assert_null(rc_weakref_new(t, NULL, NULL));
    assert_error(RC_ERR_MEMORY);
    rc_decref(wr);
    rc_decref(t);
    rc_decref(l);
}

/* The weakref table (runtime/weakref.c) holds every target's list: many
 * targets make it grow, and their deaths in a scattered order remove
 * entries from the middle of its probe runs.  After every death each
 * surviving weakref must still find its own target, and each dead
 * target's weakrefs must have been called once and cleared. */
#define TABLE_TARGETS 3000

static void count_callback(rc_object *wr, void *arg)
{
    (*(int *)arg)++;
}

/* The weakref table's invariant (runtime/weakref.c): the entries and
 * their count agree, each target is flagged, and no empty slot lies
 * between an entry's home slot and the slot it is in, wrapping around
 * the end. */
static void assert_weak_table_sound(void)
{
    struct rc_runtime *rt = rc_rt;
    size_t n = 0, cap = rt->weak_cap;
    for (size_t i = 0; i < cap; i++) {
        rc_object *t = rt->weak[i].target;
        if (t == NULL)
            continue;
        n++;
        assert_non_null(rt->weak[i].head);
        assert_int_equal(1, atomic_load(&t->ob_weak));
        for (size_t j = weakref_table_slot(t, cap); j != i; j = (j + 1) & (cap - 1))
            assert_non_null(rt->weak[j].target);
    }
    assert_int_equal(rt->weak_n, n);
}

/* Entries whose probe runs wrap around the end of the table: targets
 * chosen by their home slot (the last two of 64, then the first two),
 * among fillers, then removed in an order that takes runs apart from the middle.  After each
 * removal the table is sound and every weakref left finds its target. */
#define WRAP_POOL 3000
#define WRAP_FILL 17      /* entries that make a 64-slot table */
#define WRAP_AT_END 8     /* targets whose home is slot 62 or 63 */
#define WRAP_AT_START 4   /* then targets whose home is slot 0 or 1 */
#define WRAP_N (WRAP_FILL + WRAP_AT_END + WRAP_AT_START)

static void test_weakref_table_wraps(void **state)
{
    size_t live = rc_live_objects();
    rc_type *T = rc_type_new("Target", 0, NULL);
    static rc_object *pool[WRAP_POOL];
    rc_object *target[WRAP_N], *weak[WRAP_N];
    int n = 0;
    for (int i = 0; i < WRAP_POOL; i++)
        pool[i] = rc_instance_new(T);
    for (int i = 0; n < WRAP_FILL; i++) {
        target[n] = pool[i];
        pool[i] = NULL;
        weak[n] = rc_weakref_new(target[n], NULL, NULL);
        n++;
    }
    assert_int_equal(64, rc_rt->weak_cap);
    /* Homes at the end, then at the start: the latter sit behind the
     * wrapped run, where a removal in it must not pull them back past
     * their home. */
    for (int pass = 0; pass < 2; pass++) {
        int want = pass == 0 ? WRAP_FILL + WRAP_AT_END : WRAP_N;
        for (int i = 0; i < WRAP_POOL && n < want; i++) {
            size_t home = pool[i] != NULL ? weakref_table_slot(pool[i], 64) : 32;
            if (pass == 0 ? home < 62 : home > 1)
                continue;
            target[n] = pool[i];
            pool[i] = NULL;
            weak[n] = rc_weakref_new(target[n], NULL, NULL);
            n++;
        }
    }
    assert_int_equal(WRAP_N, n);
    assert_int_equal(64, rc_rt->weak_cap);   /* still: at most half full */
    assert_weak_table_sound();
    int wrapped = 0;   /* entries that live before their home slot */
    for (size_t i = 0; i < 64; i++)
        if (rc_rt->weak[i].target != NULL && weakref_table_slot(rc_rt->weak[i].target, 64) > i)
            wrapped++;
    assert_true(wrapped >= WRAP_AT_END - 2);   /* all but the two that fit */
    for (int i = 0; i < WRAP_POOL; i++)
        rc_decref(pool[i]);
    /* The targets at the end of the table first, alternating from the
     * middle of their run outward, then the fillers. */
    int order[WRAP_N], k = 0;
    for (int d = 0; d < WRAP_AT_END; d++)
        order[k++] = WRAP_FILL + (WRAP_AT_END / 2 + (d % 2 ? -(d + 1) / 2 : d / 2));
    for (int i = WRAP_FILL + WRAP_AT_END; i < WRAP_N; i++)
        order[k++] = i;
    for (int i = 0; i < WRAP_FILL; i++)
        order[k++] = i;
    bool dead[WRAP_N] = {false};
    for (k = 0; k < n; k++) {
        int i = order[k];
        rc_decref(target[i]);
        dead[i] = true;
        assert_weak_table_sound();
        for (int j = 0; j < n; j++) {
            rc_object *got = rc_weakref_get(weak[j]);
            assert_true(got == (dead[j] ? NULL : target[j]));
            rc_decref(got);
        }
    }
    assert_int_equal(0, rc_rt->weak_n);
    assert_int_equal(16, rc_rt->weak_cap);   /* shrunk as it emptied */
    for (int i = 0; i < n; i++)
        rc_decref(weak[i]);
    assert_int_equal(live, rc_live_objects());
}

static void test_weakref_table_many_targets(void **state)
{
    size_t live = rc_live_objects();
    rc_type *T = rc_type_new("Target", 1, NULL);
    static int calls[TABLE_TARGETS];
    static rc_object *target[TABLE_TARGETS], *table_weak[TABLE_TARGETS][2];
    memset(calls, 0, sizeof calls);
    for (int i = 0; i < TABLE_TARGETS; i++) {
        target[i] = rc_instance_new(T);
        assert_non_null(target[i]);
        table_weak[i][0] = rc_weakref_new(target[i], count_callback, &calls[i]);
        /* Every third target gets a second weakref, without a callback. */
        table_weak[i][1] = i % 3 == 0 ? rc_weakref_new(target[i], NULL, NULL) : NULL;
        assert_non_null(table_weak[i][0]);
    }
    bool dead[TABLE_TARGETS] = {false};
    for (int k = 0; k < TABLE_TARGETS; k++) {
        int i = (int)(((long)k * 7919) % TABLE_TARGETS);   /* 7919 is prime: a permutation */
        if (k % 5 == 0 && table_weak[i][1] != NULL) {
            /* Some second weakrefs go first: unlinked from a live list. */
            rc_decref(table_weak[i][1]);
            table_weak[i][1] = NULL;
        }
        rc_decref(target[i]);
        dead[i] = true;
        assert_int_equal(1, calls[i]);
        if (k % 50 == 0)
            assert_weak_table_sound();
        if (k % 97 == 0 || k == TABLE_TARGETS - 1) {
            for (int j = 0; j < TABLE_TARGETS; j++) {
                for (int w = 0; w < 2; w++) {
                    if (table_weak[j][w] == NULL)
                        continue;
                    rc_object *got = rc_weakref_get(table_weak[j][w]);
                    assert_true(got == (dead[j] ? NULL : target[j]));
                    rc_decref(got);
                }
            }
        }
    }
    for (int i = 0; i < TABLE_TARGETS; i++) {
        assert_int_equal(1, calls[i]);
        rc_decref(table_weak[i][0]);
        rc_decref(table_weak[i][1]);
    }
    assert_int_equal(live, rc_live_objects());
}

/* The first weakref of a runtime allocates the table: when that fails,
 * rc_weakref_new reports a MemoryError and leaves nothing behind, and the
 * target works on. */
static void test_weakref_table_out_of_memory(void **state)
{
    size_t live = rc_live_objects();
    rc_type *T = rc_type_new("Target", 0, NULL);
    rc_object *t = rc_instance_new(T);
    rc_testing_fail_alloc_after(2);   /* the weakref, then the table */
    assert_null(rc_weakref_new(t, weak_callback, NULL));
    assert_error(RC_ERR_MEMORY);
    assert_int_equal(live + 1, rc_live_objects());
    struct cb_log log = {0};
    rc_object *wr = rc_weakref_new(t, weak_callback, &log);
    assert_non_null(wr);
    rc_object *got = rc_weakref_get(wr);
    assert_true(got == t);
    rc_decref(got);
    rc_decref(t);
    assert_int_equal(1, log.calls);
    rc_decref(wr);
    assert_int_equal(live, rc_live_objects());
}

/* ---- traverse / clear ---- */

static int count_visits(rc_object *o, void *arg)
{
    (*(int *)arg)++;
    return 0;
}

static void test_traverse_and_clear(void **state)
{
    rc_type *T = rc_type_new("Pair", 2, NULL);
    rc_object *p = rc_instance_new(T);
    rc_object *a = rc_str_new("a"), *b = rc_list_new();
    rc_slot_set(p, 0, a);
    rc_slot_set(p, 1, b);
    int n = 0;
    assert_int_equal(0, rc_traverse(p, count_visits, &n));
    assert_int_equal(2, n);
    rc_object *refs = rc_gc_get_referents(p);
    assert_int_equal(2, rc_list_len(refs));
    rc_decref(refs);
    assert_int_equal(2, rc_refcount(a));
    assert_int_equal(0, rc_clear(p));
    assert_int_equal(1, rc_refcount(a));
    assert_int_equal(1, rc_refcount(b));
    n = 0;
    assert_int_equal(0, rc_traverse(p, count_visits, &n));
    assert_int_equal(0, n);
    rc_object *v = rc_slot_get(p, 0);   /* a cleared slot reads None */
    assert_true(v == rc_none());
    assert_int_equal(0, rc_slot_set(p, 0, a));   /* and can be set again */
    rc_decref(a);
    rc_decref(b);
    rc_decref(p);
}

static void test_self_cycle_broken_by_clear(void **state)
{
    size_t live = rc_live_objects();
    rc_type *T = rc_type_new("Node", 1, NULL);
    rc_object *o = rc_instance_new(T);
    rc_slot_set(o, 0, o);
    assert_int_equal(2, rc_refcount(o));
    rc_clear(o);   /* what the collector will do to unreachable cycles */
    rc_decref(o);
    assert_int_equal(live, rc_live_objects());
}

static void test_clear_on_object_kept_alive_by_its_cycle(void **state)
{
    /* rc_clear on an object whose only reference is its own slot: the
     * clear drops that reference while the hook is still running.  Under
     * ASan this was a heap-use-after-free before rc_clear held a reference
     * across the hook. */
    size_t live = rc_live_objects();
    rc_type *T = rc_type_new("Loop", 2, NULL);
    rc_object *o = rc_instance_new(T);
    rc_object *s = rc_str_new("second slot");
    rc_slot_set(o, 0, o);
    rc_slot_set(o, 1, s);
    rc_decref(s);
    rc_decref(o);   /* alive only through slot 0 */
    assert_int_equal(1, rc_refcount(o));
    assert_int_equal(0, rc_clear(o));
    assert_int_equal(live, rc_live_objects());
}

static void test_weakref_dying_in_trash_gets_no_callback(void **state)
{
    /* An inner list [T, W] (W a weakref to T) wrapped n lists deep.  A list
     * drops its items last first, so W dies before T.  For the n at which
     * the inner list is freed at the trashcan's depth limit, both deaths
     * are deferred to the trash stack, W still on T's weakref list; the
     * stack frees T first, whose weakref clearing finds W dead: W must get
     * no callback and must not be revived (a double free under ASan).  W's
     * MAYBE_WEAKREF mark makes its death a merge (owner id cleared), and
     * ref_try_incref refuses an owned object whose local count is 0; this
     * sweep covers that depth whatever the trashcan's limit is. */
    size_t live = rc_live_objects();
    rc_type *T = rc_type_new("Target", 0, NULL);
    for (int n = 0; n < 130; n++) {
        rc_object *t = rc_instance_new(T);
        struct cb_log log = {0};
        rc_object *w = rc_weakref_new(t, weak_callback, &log);
        rc_object *outer = rc_list_new();
        assert_int_equal(0, rc_list_append(outer, t));
        assert_int_equal(0, rc_list_append(outer, w));
        rc_decref(w);
        rc_decref(t);
        for (int i = 0; i < n; i++) {
            rc_object *l = rc_list_new();
            assert_int_equal(0, rc_list_append(l, outer));
            rc_decref(outer);
            outer = l;
        }
        rc_decref(outer);
        assert_int_equal(0, log.calls);
        assert_int_equal(live, rc_live_objects());
    }
}

static void test_deep_instance_chain(void **state)
{
    /* A chain 1,000,000 deep is freed without recursing a million frames
     * deep (the trashcan in object.c). */
    size_t live = rc_live_objects();
    rc_type *T = rc_type_new("Link", 1, NULL);
    rc_object *head = rc_instance_new(T);
    for (int i = 0; i < 1000000; i++) {
        rc_object *n = rc_instance_new(T);
        assert_non_null(n);
        rc_slot_set(n, 0, head);
        rc_decref(head);
        head = n;
    }
    assert_int_equal(live + 1000001, rc_live_objects());
    rc_decref(head);
    assert_int_equal(live, rc_live_objects());
}

/* The slot bias (docs/threads.md [thr.slots]): a thread writes the slots
 * of its own instances without their lock until another thread writes one
 * of them (or must read one under the lock); then the owner's bias is
 * cleared, once, with the world stopped, and it locks like everyone. */
struct bias_owner {
    rc_type *t;
    rc_object *inst;          /* made by the owner; a reference for main */
    _Atomic int stage;        /* 1: inst ready; 2: main wrote; 3: owner wrote */
    _Atomic int failed;       /* the owner's failed calls (cmocka asserts are main's) */
};

static void bias_owner_fn(void *arg)
{
    struct bias_owner *b = arg;
    b->inst = rc_instance_new(b->t);
    rc_object *v = rc_int_new(7001);
    if (rc_slot_set(b->inst, 0, v) != 0)   /* biased in gil and ft */
        atomic_fetch_add(&b->failed, 1);
    rc_decref(v);
    rc_incref(b->inst);   /* main's reference, counted by us (handed over) */
    atomic_store(&b->stage, 1);
    while (atomic_load(&b->stage) != 2)
        rc_safepoint();   /* main's stop finds us here */
    v = rc_int_new(7003);
    if (rc_slot_set(b->inst, 1, v) != 0)   /* under the lock now (ft) */
        atomic_fetch_add(&b->failed, 1);
    rc_decref(v);
    rc_decref(b->inst);
    atomic_store(&b->stage, 3);
}

static long unbiases(void)
{
    struct rc_runtime *rt = rc_tls_state->rt;
    pthread_mutex_lock(&rt->mu);
    long n = rt->slot_unbiases;
    pthread_mutex_unlock(&rt->mu);
    return n;
}

static void test_slot_bias_is_cleared_once(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    struct bias_owner b = {.t = rc_type_new("Biased", 2, NULL)};
    long before = unbiases();
    rc_thread *t = rc_thread_start(bias_owner_fn, &b);
    assert_non_null(t);
    while (atomic_load(&b.stage) != 1)
        rc_safepoint();
    /* Main writes the owner's instance: ft clears the owner's bias first. */
    rc_object *v = rc_int_new(7002);
    assert_int_equal(0, rc_slot_set(b.inst, 0, v));
    rc_decref(v);
    long after_first = unbiases();
    assert_int_equal(0, rc_slot_set(b.inst, 0, rc_none()));   /* no second stop */
    assert_int_equal(after_first, unbiases());
    atomic_store(&b.stage, 2);
    while (atomic_load(&b.stage) != 3)
        rc_safepoint();
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(0, atomic_load(&b.failed));
    /* gil: every thread owns every object, nothing to clear; ft-atomic: no
     * owner, no bias; ft: the owner's, once. */
    assert_int_equal(harness_mode == RC_MODE_FT ? 1 : 0, after_first - before);
    assert_int_equal(after_first, unbiases());
    rc_object *x = rc_slot_get(b.inst, 0), *y = rc_slot_get(b.inst, 1);
    assert_ptr_equal(rc_none(), x);
    assert_int_equal(7003, rc_int_value(y));
    rc_decref(x);
    rc_decref(y);
    /* Our own instances: never a stop, whatever we write. */
    rc_object *mine = rc_instance_new(b.t);
    for (int i = 0; i < 100; i++) {
        v = rc_int_new(8000 + i);
        assert_int_equal(0, rc_slot_set(mine, (size_t)(i & 1), v));
        rc_decref(v);
    }
    assert_int_equal(after_first, unbiases());
    rc_decref(mine);
    rc_decref(b.inst);
    rc_safepoint();
    assert_int_equal(live, rc_live_objects());
}

/* The biased (lockless) write is for a thread's own instances while its
 * bias lasts, and never after the instance's finalizer ran: resurrection
 * restamps the owner while another thread may rely on the lock. */
static rc_object *resurrected;

static void keep_self(rc_object *self)
{
    rc_incref(self);
    resurrected = self;
}

static rc_type *plain_type;

static void make_instance_fn(void *arg)
{
    *(rc_object **)arg = rc_instance_new(plain_type);   /* ours to hand over */
}

static void test_biased_writes_are_own_and_unfinalized(void **state)
{
    (void)state;
    size_t live = rc_live_objects();
    rc_type *T = rc_type_new("Phoenix", 1, keep_self);
    rc_object *o = rc_instance_new(T);
    bool own = harness_mode != RC_MODE_FT_ATOMIC;   /* ft-atomic: nobody owns */
    assert_int_equal(own, slot_write_biased(o));
    resurrected = NULL;
    rc_decref(o);   /* the finalizer resurrects it */
    assert_ptr_equal(o, resurrected);
    assert_int_equal(RC_GC_FINALIZED, obj_gc_bits(o) & RC_GC_FINALIZED);
    assert_false(slot_write_biased(o));
    rc_object *v = rc_int_new(4242);
    assert_int_equal(0, rc_slot_set(o, 0, v));   /* under the lock, and works */
    rc_decref(v);
    rc_object *got = rc_slot_get(o, 0);
    assert_int_equal(4242, rc_int_value(got));
    rc_decref(got);
    /* Another thread's instance: never ours to write without the lock. */
    plain_type = rc_type_new("Plain", 1, NULL);
    rc_object *theirs = NULL;
    rc_thread *t = rc_thread_start(make_instance_fn, &theirs);
    assert_non_null(t);
    assert_int_equal(0, rc_thread_join(t));
    assert_non_null(theirs);
    assert_int_equal(harness_mode == RC_MODE_GIL, slot_write_biased(theirs));
    /* Detached, a write that needs the lock (and maybe a stop) is refused
     * in the ft modes; gil mode writes are the GIL holder's alone. */
    if (harness_mode != RC_MODE_GIL) {
        assert_int_equal(0, rc_detach());
        assert_int_equal(-1, rc_slot_set(theirs, 0, rc_none()));
        assert_int_equal(-1, rc_clear(theirs));
        assert_int_equal(0, rc_attach());
        assert_error(RC_ERR_RUNTIME);
    }
    assert_int_equal(0, rc_clear(theirs));
    rc_decref(theirs);
    rc_decref(o);   /* finalized already: dies now */
    rc_safepoint();
    assert_int_equal(live, rc_live_objects());
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_type_and_slots),
        HARNESS_TEST(test_type_bad_input),
        HARNESS_TEST(test_slot_get_borrowed),
        HARNESS_TEST(test_finalizer_runs_once),
        HARNESS_TEST(test_finalizer_resurrects_once),
        HARNESS_TEST(test_weakref_basics),
        HARNESS_TEST(test_weakref_dead_first_gets_no_callback),
        HARNESS_TEST(test_weakref_in_finalizer),
        HARNESS_TEST(test_weakref_bad_input),
        HARNESS_TEST(test_weakref_table_many_targets),
        HARNESS_TEST(test_weakref_table_wraps),
        HARNESS_TEST(test_weakref_table_out_of_memory),
        HARNESS_TEST(test_traverse_and_clear),
        HARNESS_TEST(test_self_cycle_broken_by_clear),
        HARNESS_TEST(test_clear_on_object_kept_alive_by_its_cycle),
        HARNESS_TEST(test_weakref_dying_in_trash_gets_no_callback),
        HARNESS_TEST(test_deep_instance_chain),
        HARNESS_TEST(test_slot_bias_is_cleared_once),
        HARNESS_TEST(test_biased_writes_are_own_and_unfinalized),
    };
    return HARNESS_RUN("instance", tests, argc, argv);
}
