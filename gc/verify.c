/* gc/verify.c: walking the whole heap and the heap verifier (docs/gc.md
 * [gc.check]).  Everything here runs with the world stopped by the caller
 * (asserted in debug builds): no other thread touches a list, a bit or a
 * count meanwhile, so plain loads and relaxed stores suffice.
 */
#define RCGC_BUILDING 1
#include <stdio.h>

#include "collector.h"

/* ------------------------------------------------- walking the whole heap */

/* Call fn on every live tracked object of the given lists of every owner.
 * The world is stopped by the caller. */
struct walk {
    struct rc_runtime *rt;
    int first, last;   /* list indexes */
    int (*fn)(rc_object *o, void *arg);
    void *arg;
    int result;
};

/* The lists of ow to walk for list index i: its own, and for the old
 * space's oldest generation the objects a concurrent cycle holds
 * (gc_state.cycle_list).  Returns how many (at most 2). */
static int owner_lists(struct rc_runtime *rt, struct gcl_owner *ow, int i,
                       struct gc_head *out[2])
{
    int k = 0;
    out[k++] = &ow->lists[i];
    if (ow->oldspace && i == RC_GC_GENERATIONS - 1 && rt->gc->cycle_list != NULL)
        out[k++] = rt->gc->cycle_list;
    return k;
}

static void walk_owner(struct gcl_owner *ow, void *p)
{
    struct walk *w = p;
    for (int i = w->first; i <= w->last && w->result == 0; i++) {
        struct gc_head *lists[2];
        int nl = owner_lists(w->rt, ow, i, lists);
        for (int l = 0; l < nl; l++) {
            struct gc_head *head = lists[l];
            for (struct gc_head *g = head->next; g != head && w->result == 0; g = g->next) {
                rc_object *o = GC_HEAD_OBJ(g);
                if (rc_refcount(o) > 0)   /* dying objects are not part of the heap */
                    w->result = w->fn(o, w->arg);
            }
        }
    }
}

int gc_walk_heap_stw(struct rc_runtime *rt, int first, int last,
                     int (*fn)(rc_object *, void *), void *arg)
{
    RC_ASSERT_STW("gc_walk_heap_stw");
    struct walk w = {rt, first, last, fn, arg, 0};
    gcl_for_each_owner_stw(rt, walk_owner, &w);   /* each returns at once once
                                                    w.result is set */
    return w.result;
}

/* ------------------------------------------------------- heap verifier */

struct verify {
    struct rc_runtime *rt;
    char problem[200];
};

static void verify_fail(struct verify *v, const char *what, rc_object *o)
{
    if (v->problem[0] == '\0')
        snprintf(v->problem, sizeof v->problem, "heap verifier: %s (object %p, %s)", what,
                 (void *)o, o != NULL ? o->ob_type->name : "-");
}

static void verify_lists(struct gcl_owner *ow, void *arg)
{
    struct verify *v = arg;
    for (int i = 0; i < GCL_NLISTS; i++) {
      struct gc_head *lists[2];
      int nl = owner_lists(v->rt, ow, i, lists);
      for (int l = 0; l < nl; l++) {
        struct gc_head *head = lists[l];
        /* A concurrent cycle's passes keep counts in its list's prev words:
         * only the next links are checked there meanwhile. */
        bool prev_links = head != v->rt->gc->cycle_list || !gc_cc_links_borrowed(v->rt);
        for (struct gc_head *g = head->next; g != head; g = g->next) {
            rc_object *o = GC_HEAD_OBJ(g);
            if (prev_links ? g->next->prev != g || g->prev->next != g : g->next == NULL) {
                verify_fail(v, "broken list links", o);
                return;
            }
            uint8_t bits = obj_gc_bits(o);
            if (!obj_is_gc(o))
                verify_fail(v, "an object of a non-GC type in a GC list", o);
            else if (!(bits & RC_GC_TRACKED))
                verify_fail(v, "an untracked object in a GC list", o);
            else if (bits & RC_GC_VERIFY_MARK)
                verify_fail(v, "an object in two GC lists (or twice in one)", o);
            else if (gcl_owner_of(g) != ow)
                verify_fail(v, "an object in a list its owner field does not name "
                            "(an exited thread's objects name the orphan owner)", o);
            rc_atomic_or_relaxed(&o->ob_gc_bits, RC_GC_VERIFY_MARK);
        }
      }
    }
}

static void unmark_lists(struct gcl_owner *ow, void *arg)
{
    for (int i = 0; i < GCL_NLISTS; i++) {
        struct gc_head *lists[2];
        int nl = owner_lists(arg, ow, i, lists);
        for (int l = 0; l < nl; l++)
            for (struct gc_head *g = lists[l]->next; g != lists[l]; g = g->next)
                rc_atomic_and_relaxed(&GC_HEAD_OBJ(g)->ob_gc_bits,
                                      (uint8_t)~RC_GC_VERIFY_MARK);
    }
}

static int set_refs(rc_object *o, void *arg)
{
    OBJ_GC_HEAD(o)->aux = (uintptr_t)rc_refcount(o);
    return 0;
}

static int visit_sub(rc_object *target, void *arg)
{
    if (obj_is_gc(target) && (obj_gc_bits(target) & RC_GC_TRACKED) && rc_refcount(target) > 0)
        OBJ_GC_HEAD(target)->aux--;
    return 0;
}

static int sub_refs(rc_object *o, void *arg)
{
    o->ob_type->traverse(o, visit_sub, arg);
    return 0;
}

static int check_refs(rc_object *o, void *arg)
{
    if ((intptr_t)OBJ_GC_HEAD(o)->aux < 0) {
        verify_fail(arg, "a count below the references tracked objects hold (gc_refs < 0)", o);
        return 1;
    }
    return 0;
}

int gc_verify_heap_stw(struct rc_runtime *rt, bool fatal)
{
    RC_ASSERT_STW("gc_verify_heap_stw");
    struct verify v = {rt, ""};
    gcl_for_each_owner_stw(rt, verify_lists, &v);
    gcl_for_each_owner_stw(rt, unmark_lists, rt);
    if (v.problem[0] == '\0') {
        /* Live objects' aux words are free outside a collection. */
        gc_walk_heap_stw(rt, 0, GCL_PERMANENT, set_refs, NULL);
        gc_walk_heap_stw(rt, 0, GCL_PERMANENT, sub_refs, NULL);
        gc_walk_heap_stw(rt, 0, GCL_PERMANENT, check_refs, &v);
    }
    if (v.problem[0] == '\0')
        return 0;
    if (fatal)
        rc_fatal("%s", v.problem);
    return err_int(RC_ERR_RUNTIME, "%s", v.problem);
}

