/* workloads/finalizer_storm.c: "finalizer-storm".
 *
 * Models: code whose garbage cycles have finalizers (__del__) and are
 * watched through weak references with callbacks (caches, WeakValue
 * registries, observers): the collector's slow path -- weakref clearing,
 * callbacks, PEP 442 finalization, resurrection -- under threads.
 *
 * Sizes: --items cycles in total (default FS_ITEMS).  Cycle g has k = 2..4
 * members (random per cycle), instances of Member(next, id, inner) with a
 * finalizer: next links the ring, id is the int g * 4 + j (the member's
 * oid), inner is a weakref (callback counted as "garbage callback") to the
 * next member -- a weakref that is itself part of the garbage, which by
 * CPython's rule gets no callback.  Each member also has a reachable weakref
 * with a callback, stored in its worker's registry dict under its oid (a
 * WeakValueDictionary); the callback deletes that entry.  The finalizer of
 * member 0 of every 16th cycle resurrects it (appends it to a global list,
 * which workers drain now and then, making the ring garbage again).
 *
 * Threads: --threads workers (default 1) split the cycles; finalizers and
 * callbacks run on whichever thread the collection happens on, so all
 * bookkeeping is atomic.
 *
 * Verifies: every member's finalizer ran exactly once (a bitmap over oids,
 * set with atomic or; a second run is counted), each saw an intact object
 * (its ring link not yet cleared, as PEP 442 promises); every reachable
 * weakref's callback ran exactly once (its registry entry was there to
 * delete, the registries are empty after a full collection, the count
 * matches) and found its weakref dead; no garbage weakref's callback ran;
 * the resurrection count; and after dropping everything and
 * rc_gc_collect(2), nothing is left (rc_live_objects back to the start, the
 * garbage list empty).  ops = cycles.
 */
#include "sizes.h"
#include "wl_util.h"

#define FS_MAX_K 4
#define FS_RESURRECT_EVERY 16
#define FS_ARG_SHIFT 16    /* callback arg: oid << 16 | worker index */
#define FS_MEMBER_TRACKED 3   /* tracked objects of a member: it and its two weakrefs */
_Static_assert((uintmax_t)FS_MAX_ITEMS <= (UINTPTR_MAX >> (FS_ARG_SHIFT + 3)) / FS_MAX_K,
               "FS_MAX_ITEMS (sizes.h): every oid << FS_ARG_SHIFT fits a callback argument");

extern const rc_workload wl_finalizer_storm;

/* Finalizers and callbacks get no context: the run's state is global
 * (run() is called at most once per runtime, one runtime at a time). */
static struct {
    rc_type *member;
    rc_object **reg;               /* per-worker registry dicts */
    rc_object *lazarus;            /* resurrected members, NULL at the end */
    _Atomic uint64_t *finalized;   /* bitmap over oids */
    long noids;
    atomic_long fin_calls, fin_dups, fin_bad, resurrected;
    atomic_long cb_calls, cb_bad, garbage_cbs;
    struct wl_error err;           /* first problem seen by a finalizer/callback */
} fs;

struct fs_worker {
    wl_context *ctx;
    int index, threads;
    long items;
    uint64_t seed;
    long cycles, members;
    struct wl_error *err;
};

static void fs_finalize(rc_object *self)
{
    atomic_fetch_add(&fs.fin_calls, 1);
    rc_object *idv = rc_slot_get(self, 1), *next = rc_slot_get(self, 0);
    long oid = idv != NULL && rc_is_int(idv) ? (long)rc_int_value(idv) : -1;
    int intact = next != NULL && rc_type_of(next) == fs.member;
    rc_decref(idv);
    rc_decref(next);
    if (oid < 0 || oid >= fs.noids || !intact) {
        atomic_fetch_add(&fs.fin_bad, 1);
        wl_error_set(&fs.err, "a finalizer saw a cleared or corrupted member (oid %ld)", oid);
        return;
    }
    uint64_t bit = (uint64_t)1 << (oid & 63);
    if (atomic_fetch_or(&fs.finalized[oid >> 6], bit) & bit) {
        atomic_fetch_add(&fs.fin_dups, 1);
        wl_error_set(&fs.err, "member %ld was finalized twice", oid);
        return;
    }
    if (oid % (FS_MAX_K * FS_RESURRECT_EVERY) == 0 && fs.lazarus != NULL) {
        if (rc_list_append(fs.lazarus, self) == 0) {
            atomic_fetch_add(&fs.resurrected, 1);
        } else {
            atomic_fetch_add(&fs.fin_bad, 1);
            wl_error_rc(&fs.err, "resurrecting a member");
        }
    }
}

static void fs_reachable_cb(rc_object *wr, void *arg)
{
    uintptr_t a = (uintptr_t)arg;
    int t = (int)(a & (((uintptr_t)1 << FS_ARG_SHIFT) - 1));
    long oid = (long)(a >> FS_ARG_SHIFT);
    atomic_fetch_add(&fs.cb_calls, 1);
    if (fs.reg == NULL)
        return;   /* after the run (only if it left objects behind) */
    rc_object *target = rc_weakref_get(wr);
    if (target != NULL) {
        rc_decref(target);
        atomic_fetch_add(&fs.cb_bad, 1);
        wl_error_set(&fs.err, "the callback of member %ld's weakref found it alive", oid);
    }
    rc_object *key = rc_int_new(oid);
    if (key == NULL || rc_dict_del(fs.reg[t], key) < 0) {
        atomic_fetch_add(&fs.cb_bad, 1);
        wl_error_set(&fs.err, "member %ld's weakref callback ran twice (or failed: %s)", oid,
                     rc_error_message());
        rc_error_clear();
    }
    rc_decref(key);
}

static void fs_garbage_cb(rc_object *wr, void *arg)
{
    atomic_fetch_add(&fs.garbage_cbs, 1);
}

/* Drop up to max resurrected members (their rings become garbage again). */
static void fs_drain(long max)
{
    for (long i = 0; i < max; i++) {
        rc_object *o = rc_list_pop(fs.lazarus, -1);
        if (o == NULL) {
            rc_error_clear();   /* empty (IndexError) */
            return;
        }
        rc_decref(o);
    }
}

/* Build cycle g of k members, register its weakrefs, check and drop it. */
static int fs_cycle(struct fs_worker *w, long g, int k)
{
    rc_object *m[FS_MAX_K] = {0};
    int ok = 1;
    const char *what = "building a cycle";
    for (int j = 0; ok && j < k; j++) {
        m[j] = rc_instance_new(fs.member);
        rc_object *id = m[j] != NULL ? rc_int_new(g * FS_MAX_K + j) : NULL;
        ok = id != NULL && rc_slot_set(m[j], 1, id) == 0;
        rc_decref(id);
    }
    for (int j = 0; ok && j < k; j++)
        ok = rc_slot_set(m[j], 0, m[(j + 1) % k]) == 0;
    for (int j = 0; ok && j < k; j++) {
        rc_object *inner = rc_weakref_new(m[(j + 1) % k], fs_garbage_cb, NULL);
        ok = inner != NULL && rc_slot_set(m[j], 2, inner) == 0;
        rc_decref(inner);
    }
    for (int j = 0; ok && j < k; j++) {
        long oid = g * FS_MAX_K + j;
        void *arg = (void *)(((uintptr_t)oid << FS_ARG_SHIFT) | (uintptr_t)w->index);
        rc_object *wr = rc_weakref_new(m[j], fs_reachable_cb, arg);
        rc_object *key = wr != NULL ? rc_int_new(oid) : NULL;
        ok = key != NULL && rc_dict_set(fs.reg[w->index], key, wr) == 0;
        rc_decref(key);
        rc_decref(wr);
    }
    if (ok) {
        /* Walk the ring: k members with the right ids, then back at m[0]. */
        what = "checking a cycle";
        rc_object *cur = m[0];
        rc_incref(cur);
        for (int j = 0; ok && j < k; j++) {
            rc_object *id = rc_slot_get(cur, 1);
            ok = id != NULL && rc_is_int(id) && rc_int_value(id) == g * FS_MAX_K + j;
            rc_decref(id);
            rc_object *next = rc_slot_get(cur, 0);
            rc_decref(cur);
            cur = next;
        }
        ok = ok && cur == m[0];
        rc_decref(cur);
        if (!ok)
            wl_error_set(w->err, "cycle %ld was corrupted before it was dropped", g);
    } else {
        wl_error_rc(w->err, what);
    }
    for (int j = 0; j < k; j++)
        rc_decref(m[j]);   /* a garbage cycle now (partial ones too) */
    return ok ? 0 : -1;
}

static void fs_worker_main(void *arg)
{
    struct fs_worker *w = arg;
    long first = wl_share_start(w->items, w->threads, w->index);
    long mine = wl_share(w->items, w->threads, w->index);
    uint64_t rng = w->seed;
    for (long i = 0; i < mine; i++) {
        int k = 2 + (int)(wl_rng(&rng) % (FS_MAX_K - 1));
        if (fs_cycle(w, first + i, k) < 0)
            return;
        w->cycles++;
        w->members += k;
        if ((i & 255) == 255) {
            fs_drain(64);
            if (wl_failed(w->err) || wl_failed(&fs.err))
                return;
            if (w->index == 0)
                wl_progress(w->ctx, (double)(i + 1) / (double)mine);
        }
    }
    if (w->index == 0)
        wl_progress(w->ctx, 1.0);
}

static long fs_popcount(void)
{
    long n = 0;
    for (long i = 0; i < (fs.noids + 63) / 64; i++)
        n += __builtin_popcountll(atomic_load(&fs.finalized[i]));
    return n;
}

static int fs_run(wl_context *ctx)
{
    const wl_params *p = ctx->params;
    if (wl_check_params(ctx, &wl_finalizer_storm) < 0)
        return -1;
    struct wl_error err = {0};
    size_t live_at_start = rc_live_objects();
    ctx->ops = 0;
    memset(&fs, 0, sizeof fs);
    fs.noids = p->items * FS_MAX_K;
    fs.finalized = calloc((size_t)(fs.noids + 63) / 64, sizeof *fs.finalized);
    fs.reg = calloc((size_t)p->threads, sizeof *fs.reg);
    struct fs_worker *w = calloc((size_t)p->threads, sizeof *w);
    if (fs.finalized == NULL || fs.reg == NULL || w == NULL) {
        free((void *)fs.finalized);
        free(fs.reg);
        free(w);
        memset(&fs, 0, sizeof fs);
        snprintf(ctx->summary, sizeof ctx->summary, "finalizer-storm: out of memory");
        return -1;
    }
    fs.member = rc_type_new("Member", 3, fs_finalize);
    fs.lazarus = fs.member != NULL ? rc_list_new() : NULL;
    int ok = fs.lazarus != NULL;
    for (int i = 0; ok && i < p->threads; i++)
        ok = (fs.reg[i] = rc_dict_new()) != NULL;
    if (!ok) {
        wl_error_rc(&err, "setting up");
    } else {
        for (int i = 0; i < p->threads; i++)
            w[i] = (struct fs_worker){.ctx = ctx, .index = i, .threads = p->threads,
                                      .items = p->items, .seed = wl_seed(p->seed, i),
                                      .err = &err};
        wl_run_workers(p->threads, fs_worker_main, w, sizeof *w, &err);
    }
    wl_work_done(ctx);
    long cycles = 0, members = 0;
    for (int i = 0; i < p->threads; i++) {
        cycles += w[i].cycles;
        members += w[i].members;
    }
    free(w);
    ctx->ops = (uint64_t)cycles;

    /* Every cycle not yet collected goes now: its reachable weakrefs'
     * callbacks empty the registries. */
    rc_gc_collect(2);
    long reg_left = 0;
    for (int i = 0; i < p->threads; i++)
        reg_left += fs.reg[i] != NULL ? rc_dict_len(fs.reg[i]) : 0;
    long cb_calls_then = atomic_load(&fs.cb_calls);
    /* Let the resurrected go (no finalizer runs again), drop the rest. */
    rc_object *laz = fs.lazarus;
    fs.lazarus = NULL;
    rc_decref(laz);
    for (int i = 0; i < p->threads; i++)
        rc_decref(fs.reg[i]);
    long left = wl_leftover(live_at_start);
    rc_object *garbage = rc_gc_garbage();
    long garbage_len = garbage != NULL ? rc_list_len(garbage) : -1;

    long want_resurrected = (cycles + FS_RESURRECT_EVERY - 1) / FS_RESURRECT_EVERY;
    long fin_calls = atomic_load(&fs.fin_calls), finalized = fs_popcount();
    long dups = atomic_load(&fs.fin_dups), fin_bad = atomic_load(&fs.fin_bad);
    long res = atomic_load(&fs.resurrected), cb_calls = atomic_load(&fs.cb_calls);
    long cb_bad = atomic_load(&fs.cb_bad), gcbs = atomic_load(&fs.garbage_cbs);
    int rc = -1;
    if (wl_failed(&err))
        wl_fail_summary(ctx, "finalizer-storm", &err);
    else if (wl_failed(&fs.err))
        wl_fail_summary(ctx, "finalizer-storm", &fs.err);
    else if (cycles != p->items)
        snprintf(ctx->summary, sizeof ctx->summary, "finalizer-storm: built %ld cycles, not %ld",
                 cycles, p->items);
    else if (fin_calls != members || finalized != members || dups != 0 || fin_bad != 0)
        snprintf(ctx->summary, sizeof ctx->summary,
                 "finalizer-storm: %ld finalizer calls for %ld members (%ld distinct, %ld "
                 "twice, %ld bad)", fin_calls, members, finalized, dups, fin_bad);
    else if (res != want_resurrected)
        snprintf(ctx->summary, sizeof ctx->summary,
                 "finalizer-storm: %ld members resurrected, expected %ld", res, want_resurrected);
    else if (reg_left != 0 || cb_calls_then != members || cb_calls != members || cb_bad != 0)
        snprintf(ctx->summary, sizeof ctx->summary,
                 "finalizer-storm: %ld weakref callbacks for %ld reachable weakrefs (%ld bad); "
                 "%ld registry entries left after a full collection",
                 cb_calls, members, cb_bad, reg_left);
    else if (gcbs != 0)
        snprintf(ctx->summary, sizeof ctx->summary,
                 "finalizer-storm: %ld callbacks ran for weakrefs that were themselves garbage",
                 gcbs);
    else if (left != 0 || garbage_len != 0)
        snprintf(ctx->summary, sizeof ctx->summary,
                 "finalizer-storm: %ld objects left, %ld in the garbage list after a full "
                 "collection", left, garbage_len);
    else {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "%ld cycles: %ld finalizers and %ld weakref callbacks ran once each, %ld "
                 "resurrected; nothing left", cycles, fin_calls, cb_calls, res);
        rc = 0;
    }
    free((void *)fs.finalized);
    free(fs.reg);
    fs.finalized = NULL;
    fs.reg = NULL;
    fs.noids = 0;
    return rc;
}

static const wl_bound fs_bounds[] = {
    {"--items", offsetof(wl_params, items), 1, FS_MAX_ITEMS,
     "member ids travel shifted in a callback's pointer-sized argument"},
    {NULL, 0, 0, 0, NULL},
};

/* The bitmap of finalized members, and the cycles waiting for a collection:
 * (2 + FS_MAX_K) / 2 members a cycle on average. */
static double fs_peak_bytes(const wl_params *p, long threshold0)
{
    double made = (double)p->items * (2 + FS_MAX_K) / 2.0 * FS_MEMBER_TRACKED;
    return (double)p->items * FS_MAX_K / 8.0 +
           wl_garbage_waiting(made, threshold0) * WL_GARBAGE_BYTES;
}

const rc_workload wl_finalizer_storm = {
    .name = "finalizer-storm",
    .description = "garbage cycles with finalizers, weakref callbacks and resurrection",
    .size_flags = "--items",
    .defaults = wl_finalizer_storm_defaults,
    .quick = wl_finalizer_storm_quick,
    .bounds = fs_bounds,
    .peak_bytes = fs_peak_bytes,
    .run = fs_run,
};
