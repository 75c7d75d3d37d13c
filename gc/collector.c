/* gc/collector.c: the hooks the runtime calls (gc/hooks.h), the choice of
 * collector, the driver of a collection's phases, and the generational
 * trigger (docs/gc.md [gc.interface], [gc.gens]).
 *
 * Thread rule: see struct gc_state in collector.h.  One collection runs at
 * a time (gc.collecting); a nested or concurrent request returns 0 at once.
 */
#define RCGC_BUILDING 1
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "objects.h"

/* Tracked allocations minus frees a thread counts before it reports them
 * (every one under rc_gc_set_stress). */
#define REPORT_AT 32

/* ------------------------------------------------------------ the table */

static const struct gc_collector_ops *collector_ops(rc_collector_kind kind)
{
    switch (kind) {
    case RC_COLLECTOR_STW:
        return &gc_stw_collector;
    case RC_COLLECTOR_CONCURRENT:
    case RC_COLLECTOR_CONCURRENT_THREAD:
        return &gc_concurrent_collector;
    }
    return NULL;
}

int rc_collector_check(rc_collector_kind kind)
{
    if ((unsigned)kind >= RC_COLLECTOR_COUNT || collector_ops(kind) == NULL)
        return err_int(RC_ERR_VALUE, "collector %d is not valid (valid: RC_COLLECTOR_STW, "
                       "RC_COLLECTOR_CONCURRENT, RC_COLLECTOR_CONCURRENT_THREAD)",
                       (int)kind);
    return 0;
}

/* ------------------------------------------------------------ the hooks */

/* The torture settings a new runtime starts with (docs/gc.md [gc.check]):
 * RCGC_GC_STRESS, a whole number >= 0, and RCGC_GC_VERIFY, 0, 1 or
 * amortized (RC_GC_VERIFY_*); unset or empty: 0.  0, or -1 with a
 * ValueError naming the variable. */
static int settings_from_env(long *stress, int *verify)
{
    const char *s = getenv("RCGC_GC_STRESS");
    *stress = 0;
    if (s != NULL && s[0] != '\0') {
        char *end;
        errno = 0;
        long n = strtol(s, &end, 10);
        if (*end != '\0' || errno != 0 || n < 0 || s[0] == '-' || s[0] == '+' ||
            s[0] == ' ')
            return err_int(RC_ERR_VALUE, "RCGC_GC_STRESS must be a whole number >= 0 "
                           "(collect every N tracked allocations; 0: off), not '%s'", s);
        *stress = n;
    }
    const char *v = getenv("RCGC_GC_VERIFY");
    *verify = RC_GC_VERIFY_OFF;
    if (v != NULL && v[0] != '\0') {
        if (strcmp(v, "1") == 0)
            *verify = RC_GC_VERIFY_EVERY;
        else if (strcmp(v, "amortized") == 0)
            *verify = RC_GC_VERIFY_AMORTIZED;
        else if (strcmp(v, "0") != 0)
            return err_int(RC_ERR_VALUE, "RCGC_GC_VERIFY must be 0, 1 or amortized (1: verify "
                           "the heap around every collection; amortized: around every one "
                           "while the heap is small, as often as the collections' own work "
                           "allows beyond), not '%s'", v);
    }
    return 0;
}

int gc_check_environment(void)
{
    long stress;
    int verify;
    return settings_from_env(&stress, &verify);
}

int gc_runtime_init(struct rc_runtime *rt)
{
    long stress;
    int verify;
    if (rc_collector_check(rt->cfg.collector) < 0 || settings_from_env(&stress, &verify) < 0)
        return -1;
    struct gc_state *gc = calloc(1, sizeof *gc);
    if (gc == NULL) {
        err_nomem();
        return -1;
    }
    gc->ops = collector_ops(rt->cfg.collector);
    pthread_mutex_init(&gc->mu, NULL);
    pthread_mutex_init(&gc->pace_mu, NULL);
    rc_cond_init_monotonic(&gc->pace_cv);   /* the wait's limit */
    atomic_init(&gc->pace_waiters, 0);
    atomic_init(&gc->collections, 0);
    atomic_init(&gc->pace_waits, 0);
    atomic_init(&gc->young_count, 0);
    atomic_init(&gc->collecting, 0);
    atomic_init(&gc->enabled, 1);
    atomic_init(&gc->stress, stress);
    atomic_init(&gc->verify, verify);
    const char *trace = getenv("RCGC_TRACE");
    atomic_init(&gc->trace, trace != NULL && trace[0] != '\0' && trace[0] != '0');
    static const long defaults[RC_GC_GENERATIONS] = {2000, 10, 10};
    for (int i = 0; i < RC_GC_GENERATIONS; i++) {
        atomic_init(&gc->threshold[i], defaults[i]);
        atomic_init(&gc->count[i], 0);
    }
    atomic_init(&gc->long_lived_total, 0);
    atomic_init(&gc->long_lived_pending, 0);
    atomic_init(&gc->oldspace_deferred, 0);
    gc_records_init(gc);
    rt->gc = gc;
    if (gc->ops->init != NULL && gc->ops->init(rt) < 0) {
        gc_records_fini(gc);
        pthread_mutex_destroy(&gc->mu);
        pthread_mutex_destroy(&gc->pace_mu);
        pthread_cond_destroy(&gc->pace_cv);
        free(gc);
        rt->gc = NULL;
        return -1;
    }
    return 0;
}

int gc_runtime_start(struct rc_runtime *rt)
{
    /* The collector's garbage list, owned by the runtime. */
    rc_object *garbage = rc_list_new();
    if (garbage == NULL || rc_make_immortal(garbage) < 0)
        return -1;
    rt->gc->garbage = garbage;
    const struct gc_collector_ops *ops = rt->gc->ops;
    return ops->start != NULL ? ops->start(rt) : 0;
}

int gc_runtime_threads(struct rc_runtime *rt)
{
    const struct gc_collector_ops *ops = rt->gc->ops;
    return ops->threads != NULL ? ops->threads(rt) : 0;
}

void gc_runtime_stop_threads(struct rc_runtime *rt)
{
    const struct gc_collector_ops *ops = rt->gc->ops;
    if (ops->stop_threads != NULL)
        ops->stop_threads(rt);
}

void gc_runtime_fini(struct rc_runtime *rt)
{
    struct gc_state *gc = rt->gc;
    if (gc->ops->fini != NULL)
        gc->ops->fini(rt);
    mem_free(gc->callbacks);   /* grown with mem_realloc (api.c) */
    gc_records_fini(gc);
    pthread_mutex_destroy(&gc->mu);
    pthread_mutex_destroy(&gc->pace_mu);
    pthread_cond_destroy(&gc->pace_cv);
    free(gc);
    rt->gc = NULL;
}

int gc_thread_attach(struct thr_state *ts)
{
    struct gc_thread_state *gts = calloc(1, sizeof *gts);
    if (gts == NULL) {
        err_nomem();
        return -1;
    }
    ts->gc = gts;
    const struct gc_collector_ops *ops = ts->rt->gc->ops;
    if (ops->thread_attach != NULL && ops->thread_attach(ts) < 0) {
        free(gts);
        ts->gc = NULL;
        return -1;
    }
    /* relaxed: see the field. */
    if (ts->rt->cfg.mode == RC_MODE_FT)
        rc_atomic_add_relaxed(&ts->rt->gc->local_threads, 1);
    return 0;
}

/* Add a thread's count to gc.young_count, which never goes below 0 (as
 * CPython's generation-0 count): frees of objects allocated before the
 * last collection must not hold the next one back.  relaxed: a count
 * that decides when to collect, nothing else. */
static long report_delta(struct gc_state *gc, long delta)
{
    long young = rc_atomic_load_relaxed(&gc->young_count);
    long next;
    do {
        next = young + delta > 0 ? young + delta : 0;
    } while (!rc_atomic_cas_relaxed(&gc->young_count, &young, next));
    return next;
}

/* Take the thread's counts: its allocation delta into young_count, its
 * freed gen-2 objects off long_lived_pending.  Returns young_count. */
static long take_counts(struct thr_state *ts)
{
    struct gc_state *gc = ts->rt->gc;
    long young = report_delta(gc, ts->gct.delta);
    long own = ts->gc->local_young + ts->gct.delta;
    ts->gc->local_young = own > 0 ? own : 0;
    ts->gct.delta = 0;
    long k = ts->gct.old_freed;
    if (k != 0) {
        ts->gct.old_freed = 0;
        /* relaxed: long_lived_* only decide when to collect. */
        long now = rc_atomic_sub_relaxed(&gc->long_lived_pending, k) - k;
        if (now < 0) {
            /* Generation 2 is smaller than the last full collection left:
             * the smaller size becomes the baseline that growth is
             * measured against (our share of the shortfall moves from
             * pending to total). */
            long move = -now < k ? -now : k;
            rc_atomic_add_relaxed(&gc->long_lived_pending, move);
            rc_atomic_sub_relaxed(&gc->long_lived_total, move);
        }
    }
    return young;
}

void gc_thread_exiting(struct thr_state *ts)
{
    /* Still registered for merges: clearing touches counts of objects we
     * own, which after brc_unregister other threads merge themselves.
     * Local collections the merging's finalizers start clear at once. */
    ts->gc->no_defer = true;
    gc_local_clear_some(ts, SIZE_MAX);
    gc_thread_leaving();
}

void gc_thread_exit(struct thr_state *ts)
{
    take_counts(ts);
    const struct gc_collector_ops *ops = ts->rt->gc->ops;
    if (ops->thread_exit != NULL)
        ops->thread_exit(ts);
    if (ts->rt->cfg.mode == RC_MODE_FT)
        rc_atomic_sub_relaxed(&ts->rt->gc->local_threads, 1);   /* relaxed: the field */
    mem_free(ts->gc->lwork);
    free(ts->gc);
    ts->gc = NULL;
}

/* Allocation pacing.  A collection holds gc.collecting to its end, its
 * finalizers and clearing included, which run with the world running
 * (milliseconds for tens of thousands of garbage objects), and no other
 * thread's collection starts meanwhile: another thread that allocates on
 * piles up young objects for the next one, whose stop (O(young objects))
 * grows, as does its clearing, and so on.  With two threads, cycle-churn's
 * young collections grew to 50,000-110,000 objects, pausing 2-57 ms.  So a
 * thread whose reports find the young generation GC_PACE thresholds past
 * generation 0's while another thread collects waits, detached, for that
 * collection to end, then collects: the young generation stays near
 * GC_PACE thresholds.  At most GC_PACE_WAIT_NS, and once per collection:
 * a finalizer or callback of that collection may wait for this thread
 * (Go's allocation assists pace allocating goroutines likewise).  Not
 * for the collector thread's collections (gc.collecting 2): that thread
 * is there so that the program's threads need not wait for its work
 * (pacing them cost cycle-churn a quarter of its rate with it). */
#define GC_PACE 2
#define GC_PACE_WAIT_NS 2000000

static void gc_pace_wait(struct thr_state *ts, struct gc_state *gc)
{
    /* relaxed: see the field.  Read just after the collection took
     * gc.collecting, it may still name the one before: then this thread
     * may wait twice for one collection, 4 ms at most. */
    unsigned long seq = rc_atomic_load_relaxed(&gc->collections);
    if (ts->gc->paced == seq)
        return;   /* waited for this one already */
    ts->gc->paced = seq;
    rc_atomic_add_relaxed(&gc->pace_waits, 1);   /* relaxed: a counter */
    /* Detached as rc_thread_join is (thr_release, not rc_detach: the
     * thread's entry point, which the safepoint timeout's report names,
     * stays its own, and no error can arise: the caller is attached and
     * holds no stop). */
    thr_release(ts, false);
    struct timespec until = rc_deadline_after(GC_PACE_WAIT_NS);
    pthread_mutex_lock(&gc->pace_mu);
    atomic_fetch_add(&gc->pace_waiters, 1);   /* seq_cst: see the field */
    while (atomic_load(&gc->collecting) == 1 &&
           pthread_cond_timedwait(&gc->pace_cv, &gc->pace_mu, &until) == 0)
        ;
    atomic_fetch_sub(&gc->pace_waiters, 1);
    pthread_mutex_unlock(&gc->pace_mu);
    thr_take(ts);
    rc_safepoint();   /* what was queued meanwhile is merged (as rc_attach) */
}

/* Release gc.collecting (the collection is over) and wake the paced
 * threads.  seq_cst store, then seq_cst load of pace_waiters, against the
 * waiter's seq_cst increment then load of collecting: in the single order
 * of the four, either we see the waiter (and wake it under pace_mu, which
 * it holds from its check to its wait) or it sees collecting at 0.  The
 * store is also the release that pairs with the next collection's acquire
 * CAS. */
static void gc_release_collecting(struct gc_state *gc)
{
    atomic_store(&gc->collecting, 0);
    if (atomic_load(&gc->pace_waiters) == 0)
        return;
    pthread_mutex_lock(&gc->pace_mu);
    pthread_cond_broadcast(&gc->pace_cv);
    pthread_mutex_unlock(&gc->pace_mu);
}

/* Objects of deferred garbage cleared or released per allocation report
 * (each about 20-40 ns): a local collection's 1,500-2,000 pieces of
 * garbage go in a dozen slices of 5-10 us instead of one of 70 us inside
 * one request (latency-service, BENCHMARKS.md). */
#define LOCAL_CLEAR_SLICE 256

/* Whether the thread may run the deallocations of its deferred garbage
 * now: not inside a collection of its own, nor inside the clearing itself
 * (in_collection: a deallocation run there may run a finalizer, of an
 * object the garbage alone held, that reads the records or collects), nor
 * in a stop or a deallocation. */
static bool may_clear(struct thr_state *ts)
{
    return ts->gc->defer_n > 0 && ts->gc->in_collection == 0 && !ts->holds_stw &&
           ts->dealloc_depth == 0;
}

long gc_counts_alloc(struct thr_state *ts)
{
    struct gc_state *gc = ts->rt->gc;
    if (may_clear(ts))
        gc_local_clear_some(ts, LOCAL_CLEAR_SLICE);
    long young = take_counts(ts);
    /* relaxed: settings and a flag read as hints; a collection decided on
     * a stale value is one collection early or late. */
    long stress = rc_atomic_load_relaxed(&gc->stress);
    if (stress <= 0 && !ts->holds_stw && ts->gc->in_collection == 0 && ts->dealloc_depth == 0 &&
        rc_atomic_load_relaxed(&gc->collecting) == 1 && rc_atomic_load_relaxed(&gc->enabled)) {
        long t0 = rc_atomic_load_relaxed(&gc->threshold[0]);
        /* Where threads collect their own young objects, the young count
         * holds each one's (gc_trigger_generational). */
        if (t0 > 0 && gc_local_mode(ts->rt))
            t0 *= rc_atomic_load_relaxed(&gc->local_threads) + 1;
        if (t0 > 0 && young >= GC_PACE * t0)
            gc_pace_wait(ts, gc);
    }
    if (!ts->holds_stw && ts->gc->in_collection == 0 &&
        !rc_atomic_load_relaxed(&gc->collecting) && rc_atomic_load_relaxed(&gc->enabled)) {
        if (stress <= 0 && gc_local_due(ts)) {
            /* This thread's own young objects are due: the collector picks
             * the generation, and collects generation 0 thread-locally. */
            gc->ops->collect_due(ts);
        } else if (stress <= 0) {
            gc->ops->allocated(ts, young);
        } else if (ts->gc->stress_countdown > stress ||   /* the setting was lowered */
                   --ts->gc->stress_countdown <= 0) {
            /* Stress stands in for generation 0's threshold; the older
             * generations keep theirs, so garbage promoted out of
             * generation 0 is still found (CPython's set_threshold(1)).
             * Threshold 0 means no automatic collection, stress included.
             * relaxed: a setting. */
            ts->gc->stress_countdown = stress;
            if (rc_atomic_load_relaxed(&gc->threshold[0]) > 0)
                gc->ops->collect_due(ts);
        }
    }
    /* The collector's share of work on this thread, also while automatic
     * collection is off (the concurrent collector then only frees what
     * died in its old space). */
    if (gc->ops->assist != NULL && !ts->holds_stw && ts->gc->in_collection == 0 &&
        !rc_atomic_load_relaxed(&gc->collecting))
        gc->ops->assist(ts);
    /* Read again: a callback or finalizer of the collection just run may
     * have changed the setting (rc_gc_set_stress). */
    return rc_atomic_load_relaxed(&gc->stress) > 0 ? 1 : REPORT_AT;
}

void gc_counts_free(struct thr_state *ts)
{
    take_counts(ts);
    /* A thread that only frees still lets the collector free what died in
     * its old space (an assist between cycles does only that). */
    struct gc_state *gc = ts->rt->gc;
    if (gc->ops->assist != NULL && !ts->holds_stw && ts->gc->in_collection == 0 &&
        !rc_atomic_load_relaxed(&gc->collecting))
        gc->ops->assist(ts);
}

void gc_collect_at_exit(struct rc_runtime *rt)
{
    struct thr_state *ts = rc_tls_state;
    struct gc_state *gc = rt->gc;
    /* The garbage list goes away: nothing is saved now, even if a
     * finalizer run since the last call (releasing the immortal objects)
     * asked for SAVEALL again. */
    pthread_mutex_lock(&gc->mu);
    gc->debug = 0;
    gc_local_settings_locked(gc);
    pthread_mutex_unlock(&gc->mu);
    gc_local_finish_own();
    /* A collection can free objects whose clearing makes more cycles
     * unreachable (a cycle held only by another cycle's finalizer...). */
    for (int i = 0; i < 16; i++)
        if (gc_collect(ts, RC_GC_GENERATIONS - 1) == 0)
            break;
    /* The runtime releases its immortal objects next, the garbage list
     * among them.  What died in an old space since the last collection is
     * freed now (no collection may come). */
    gc->garbage = NULL;
    struct gcl_owner *old = rt->gcl.oldspace;
    if (old != NULL && !rc_atomic_load_relaxed(&gc->oldspace_deferred))
        gcl_drain_handback(ts, old);
}

/* ------------------------------------------------------------ the driver */

void gc_stop(struct collection *c)
{
    if (rc_stop_the_world() != 0)
        rc_fatal("collector: cannot stop the world: %s", rc_error_message());
}

void gc_start(struct collection *c)
{
    c->parked_online |= stw_parked_online(c->rt);
    size_t n = rc_stw_count();
    if (rc_start_the_world() != 0)
        rc_fatal("collector: cannot restart the world: %s", rc_error_message());
    rc_stw_record r;
    if (rc_stw_records(n, &r, 1) == 1) {
        c->rec.time_to_safepoint_ns += r.time_to_safepoint_ns;
        c->rec.pause_ns += r.pause_ns;
    }
}

void gc_lap(uint64_t *t, uint64_t *slot)
{
    uint64_t now = rc_clock_ns();
    *slot += now - *t;
    *t = now;
}

/* After a collection c of generation gen that left `survivors` in an
 * older generation (c->dest): the generation counts and the long-lived
 * damping.  relaxed: trigger counts (collector.h). */
static void account(struct gc_state *gc, const struct collection *c, long survivors)
{
    int gen = c->gen;
    for (int i = c->young_left ? gen : 0; i <= gen; i++)
        rc_atomic_store_relaxed(&gc->count[i], 0);
    if (gen < RC_GC_GENERATIONS - 1)
        rc_atomic_add_relaxed(&gc->count[gen + 1], 1);
    if (gen == 1 || (gen == 0 && c->dest == RC_GC_GENERATIONS - 1)) {
        /* Generation 0's went there with generation 1 (gc_trial_deletion_stw), and
         * what the garbage's code resurrected with them (gc_finish). */
        rc_atomic_add_relaxed(&gc->long_lived_pending, survivors);
    } else if (gen == 2) {
        rc_atomic_store_relaxed(&gc->long_lived_total, survivors);
        rc_atomic_store_relaxed(&gc->long_lived_pending, 0);
    }
}

/* Whether the heap verifier runs around the collection about to start
 * (the collecting thread).  RC_GC_VERIFY_AMORTIZED: while the last
 * collection left a small heap, always; beyond, once the collections since
 * the last verification have scanned as many objects as the heap holds
 * (each counting one more), so that verifying (two heap walks) costs at
 * most two walks per heap's worth of collection work. */
#define VERIFY_SMALL_HEAP 4096

static bool verify_due(struct gc_state *gc)
{
    switch (rc_atomic_load_relaxed(&gc->verify)) {   /* relaxed: a setting */
    case RC_GC_VERIFY_EVERY:
        return true;
    case RC_GC_VERIFY_AMORTIZED:
        return gc->verify_heap <= VERIFY_SMALL_HEAP || gc->verify_credit >= gc->verify_heap;
    default:
        return false;
    }
}

/* One collection, its callbacks included: one round of phases 1-4, or
 * more while the collector's `more` asks for them (a record each, the
 * callbacks and the collection count once).  The stop callbacks run after
 * gc.collecting is released (a callback may collect explicitly), so the
 * calling thread's in_collection keeps its allocations there from starting
 * automatic collections, which under stress would recurse. */
static long collect(struct thr_state *ts, int gen);
static long collect_round(struct thr_state *ts, int gen, struct collection *c, long *saved);

long gc_collect(struct thr_state *ts, int gen)
{
    ts->gc->in_collection++;
    long r = collect(ts, gen);
    ts->gc->in_collection--;
    return r;
}

static long collect(struct thr_state *ts, int gen)
{
    struct rc_runtime *rt = ts->rt;
    struct gc_state *gc = rt->gc;
    int expected = 0;
    /* acquire: pairs with the release store that ended the previous
     * collection, so its writes to the collector's state (gc.work, the
     * lists it relinked) happen before ours.  The collector thread holds
     * it as 2. */
    int mine = ts->gc->background ? 2 : 1;
    while (!rc_atomic_cas_strong_acquire(&gc->collecting, &expected, mine)) {
        /* One collection at a time; a nested request is a no-op, and so is
         * one made while another thread of the program's collects (as
         * CPython's gc.collect).  But rc_gc_collect, outside any
         * collection of its own, waits for one the collector thread runs:
         * that one is not the program's, and the call must be complete. */
        if (expected != 2 || !ts->gc->wait_background || ts->gc->in_collection > 1)
            return 0;
        rc_safepoint();
        sched_yield();
        expected = 0;
    }

    rc_atomic_add_relaxed(&gc->collections, 1);   /* relaxed: see the field */

    rc_gc_info info = {.generation = gen};
    gc_invoke_callbacks(rt, RC_GC_START, &info);

    long found = 0, saved = 0;
    for (int round = 0;; round++) {
        struct collection c;
        long round_saved = 0;
        long r = collect_round(ts, gen, &c, &round_saved);
        if (r < 0) {
            gc_release_collecting(gc);
            info.collected = -1;
            gc_invoke_callbacks(rt, RC_GC_STOP, &info);
            return -1;
        }
        found += r;
        saved += round_saved;
        pthread_mutex_lock(&gc->mu);
        gc->stats[gen].collections += round == 0;
        gc->stats[gen].collected += (uint64_t)r;
        gc->stats[gen].uncollectable += (uint64_t)round_saved;
        pthread_mutex_unlock(&gc->mu);
        if (gc->ops->more == NULL || !gc->ops->more(&c))
            break;
        /* Between rounds (a concurrent cycle's batches) the world runs, as
         * between the cycle's slices: a safepoint, where in gil mode a
         * thread that asked for the GIL gets it (rc_gc_collect(2) over
         * 10M objects would hold it through 2,400 batches, 0.8 s).  A
         * cycle cancelled meanwhile (rc_gc_freeze) ends in the next round
         * (cc_validate).  Other threads run meanwhile without collecting
         * (collecting is ours; gc_pace_wait waits for one collection, not
         * for each round): their young generations grow until it ends,
         * as during the cycle's passes. */
        rc_safepoint();
    }
    gc_release_collecting(gc);

    info.collected = found;
    info.uncollectable = saved;
    gc_invoke_callbacks(rt, RC_GC_STOP, &info);
    return found;
}

/* Phases 1-4 of one round of a collection, c (collecting held), its
 * record appended.  Returns what it found, or -1 (MemoryError; the round
 * changed nothing, earlier rounds' garbage stays freed). */
static long collect_round(struct thr_state *ts, int gen, struct collection *c, long *saved)
{
    struct rc_runtime *rt = ts->rt;
    struct gc_state *gc = rt->gc;
    memset(c, 0, sizeof *c);
    c->rt = rt;
    c->ts = ts;
    c->gen = gen;
    gcl_init(&c->taken);
    gcl_init(&c->unreachable);
    pthread_mutex_lock(&gc->mu);
    /* No garbage list (runtime shutdown): nothing can be saved. */
    c->saveall = (gc->debug & RC_GC_DEBUG_SAVEALL) != 0 && gc->garbage != NULL;
    pthread_mutex_unlock(&gc->mu);
    c->verify = verify_due(gc);
    c->rec.verified = c->verify;
    c->rec.generation = gen;
    c->rec.start_ns = c->lap_ns = rc_clock_ns();
    bool automatic = ts->gc->auto_collect;
    c->young_to_old = gen == 0 && automatic && rt->gcl.oldspace != NULL && !gc_local_mode(rt) &&
                      gc->young_growing;

    long survivors = gc->ops->find_garbage(c);
    if (survivors < 0)
        return -1;
    long found = gc_finish(c, &survivors, saved);

    if (!c->partial)
        account(gc, c, survivors);
    /* Whether the young generation is growing (young_to_old): judged by
     * the automatic collections of generation 0 that stop the world, by
     * what they kept alive. */
    if (gen == 0 && automatic && !c->local && c->rec.scanned > 0)
        gc->young_growing = 2 * c->kept > c->rec.scanned;
    c->rec.collected = found;
    c->rec.uncollectable = *saved;
    c->rec.end_ns = rc_clock_ns();
    c->rec.heap_size = (long)obj_live_tracked(rt);
    /* + 1: a collection that scans nothing (young objects all died by
     * reference counting) still counts toward the next verification. */
    gc->verify_credit = c->verify ? 0 : gc->verify_credit + c->rec.scanned + 1;
    gc->verify_heap = c->rec.heap_size;
    gc_record_append(rt, &c->rec);
    return found;
}

/* ------------------------------------------ thread-local collections */

/* After a thread-local collection found garbage that would run object
 * code (a finalizer, a weakref callback: gc_local_settle), this many of
 * the thread's young collections are left to the collector, which stops
 * the world for them (a program whose young garbage has finalizers would
 * otherwise decide twice each time). */
#define LOCAL_FALLBACK 8

void gc_local_settings_locked(struct gc_state *gc)
{
    rc_atomic_store_relaxed(&gc->local_off,
                            (gc->debug & RC_GC_DEBUG_SAVEALL) != 0 || gc->ncallbacks > 0);
}

/* Thread-local collections are on for the runtime (not for a thread):
 * ft mode, and no setting they cannot honour.  The heap verifier runs
 * around the collections that stop the world, local ones in between.
 * relaxed: settings. */
bool gc_local_mode(struct rc_runtime *rt)
{
    struct gc_state *gc = rt->gc;
    return gc->ops->local_young && rt->cfg.mode == RC_MODE_FT &&
           !rc_atomic_load_relaxed(&gc->local_off);
}

bool gc_local_allowed(struct thr_state *ts)
{
    return gc_local_mode(ts->rt) && ts->gcl != NULL && !ts->holds_stw && !ts->gc->background &&
           rc_atomic_load_relaxed(&ts->rt->gc->enabled);   /* relaxed: a setting */
}

/* A local collection is over, its garbage gone: counted and recorded
 * (so that a record, or the statistics, say its garbage was freed, and
 * what that freed in turn, with its weakref callbacks, was). */
static void local_done(struct thr_state *ts, rc_gc_record *rec)
{
    struct gc_state *gc = ts->rt->gc;
    pthread_mutex_lock(&gc->mu);
    gc->stats[rec->generation].collections++;
    gc->stats[rec->generation].collected += (uint64_t)rec->collected;
    pthread_mutex_unlock(&gc->mu);
    rec->end_ns = rc_clock_ns();
    rec->heap_size = (long)obj_live_tracked(ts->rt);
    gc_record_append(ts->rt, rec);
}

void gc_local_clear_some(struct thr_state *ts, size_t budget)
{
    struct gc_thread_state *gts = ts->gc;
    if (gts->defer_n == 0 || gts->in_collection > 0)
        return;
    uint64_t t0 = rc_clock_ns();
    rc_object **held = (rc_object **)(void *)gts->lwork;
    /* Deallocations run here; an allocation one makes starts no
     * collection (which would want the buffer the garbage is in). */
    gts->in_collection++;
    for (size_t done = 0; done < budget && gts->defer_n > 0; done++) {
        rc_object *o = held[gts->defer_at++];
        if (!gts->defer_releasing) {
            /* Every piece is cleared before any is released, as in
             * gc_finish: released earlier, one that other garbage still
             * refers to would look resurrected. */
            if (!(obj_gc_bits(o) & RC_GC_TRACKED))
                o->ob_type->clear(o);
            if (gts->defer_at == gts->defer_n) {
                gts->defer_releasing = true;
                gts->defer_at = 0;
            }
        } else {
            gc_release_garbage(o);
            if (gts->defer_at == gts->defer_n) {
                gts->defer_n = gts->defer_at = 0;
                gts->defer_releasing = false;
            }
        }
    }
    gts->defer_rec.phase_ns[RC_GC_T_CLEAR] += rc_clock_ns() - t0;
    gts->in_collection--;
    if (gts->defer_n == 0)
        local_done(ts, &gts->defer_rec);
}

void gc_local_finish_own(void)
{
    struct thr_state *ts = rc_tls_state;
    if (ts != NULL && ts->gc != NULL && ts->attached && may_clear(ts))
        gc_local_clear_some(ts, SIZE_MAX);
}

void gc_thread_leaving(void)
{
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL || ts->gc == NULL || !ts->attached || ts->holds_stw || ts->gcl == NULL)
        return;
    const struct gc_collector_ops *ops = ts->rt->gc->ops;
    if (ops->leaving != NULL)
        ops->leaving(ts);
}

static long local_collect(struct thr_state *ts, int gen, bool defer);

long gc_local_collect(struct thr_state *ts, int gen)
{
    return local_collect(ts, gen, false);
}

static long local_collect(struct thr_state *ts, int gen, bool defer)
{
    struct gc_thread_state *gts = ts->gc;
    struct rc_runtime *rt = ts->rt;
    struct gc_state *gc = rt->gc;
    /* Not beside a collection of the collector's: from its decision until
     * it unlinks its garbage, that garbage (ours too, perhaps, and linked
     * to our objects by a finalizer meanwhile) is the collector's, aux
     * words and RC_GC_COLLECTING included.  Our decision keeps to the
     * objects on our lists, which that garbage has left, and marks its
     * members with RC_OBF_LOCAL; starting only between collections keeps
     * the two apart entirely.  acquire: pairs with the release of
     * gc.collecting, after that unlinking.  A collection that starts
     * after this load stops the world, which waits for our decision to
     * end (it passes no safepoint). */
    if (gts->in_collection > 0)
        return -1;
    /* The buffer is needed again.  First: clearing may pass safepoints
     * (a finalizer's allocations), at which a collection may start. */
    gc_local_clear_some(ts, SIZE_MAX);
    if (!gc_local_allowed(ts) || atomic_load_explicit(&gc->collecting, memory_order_acquire) != 0)
        return -1;
    defer = defer && !gts->no_defer;
    gts->in_collection++;
    struct collection c;
    memset(&c, 0, sizeof c);
    c.rt = rt;
    c.ts = ts;
    c.gen = gen;
    c.local = true;
    c.defer_clear = defer;
    gcl_init(&c.taken);
    gcl_init(&c.unreachable);
    c.rec.generation = gen;
    c.rec.local = 1;
    c.rec.start_ns = c.lap_ns = rc_clock_ns();
    /* What other threads handed back to us is unlinked first (the owner
     * drains its own stack, gclist.h). */
    gcl_drain_handback(ts, ts->gcl);
    /* Decide with no other thread marking our objects escaped meanwhile
     * (runtime/internal.h): the escape lock as a reader, no safepoint and
     * no object code until it is released. */
    pthread_rwlock_rdlock(&rt->escape_lock);
    gc_lap(&c.lap_ns, &c.rec.phase_ns[RC_GC_T_MERGE]);
    bool had_error = rc_error_occurred() != RC_ERR_NONE;
    long survivors = gc_trial_deletion_local(&c, &gts->lwork, &gts->lwork_cap);
    pthread_rwlock_unlock(&rt->escape_lock);
    if (survivors < 0) {
        if (!had_error)
            rc_error_clear();   /* an automatic collection leaves no error */
        gts->in_collection--;
        return -1;
    }
    long garbage = (long)c.nheld, promoted = survivors;
    long saved = 0, found = 0;
    enum local_settle settled = gc_local_settle(&c, &survivors);
    /* Survivors of generation 1 entered the oldest generation (this
     * thread's list of it), growth that the trigger of the collector's
     * cycles counts (CPython's long-lived damping), and join the old
     * space when the collector asks for them (relaxed: trigger counts,
     * collector.h). */
    if (gen > 0) {
        if (settled == LOCAL_REACHED)
            promoted = survivors;   /* the garbage kept too */
        rc_atomic_add_relaxed(&gc->long_lived_pending, promoted);
        if (gc->ops->adopt != NULL)
            gc->ops->adopt(ts, promoted);
    }
    switch (settled) {
    case LOCAL_SETTLED:
        found = gc_finish(&c, &survivors, &saved);
        if (defer && c.nheld > 0) {
            /* c.held is the start of gts->lwork (gc_trial_deletion_local) */
            gts->defer_n = c.nheld;
            gts->defer_at = 0;
            gts->defer_releasing = false;
        }
        break;
    case LOCAL_REACHED:   /* kept alive: a collection that found nothing */
        break;
    case LOCAL_NEEDS_CODE:
        /* Put back into generation 0 for a young collection that stops
         * the world, which the caller runs now (gc_collect_auto), and the
         * next few after it: a program whose young garbage has finalizers
         * would otherwise decide twice each time.  The decision's
         * survivors did leave generation 0, its garbage is there now. */
        report_delta(gc, garbage - (long)c.young_members);
        gts->local_fallback = LOCAL_FALLBACK;
        gts->in_collection--;
        return -1;
    }
    /* Every member of generation 0 left it: the survivors for the next
     * generation, the garbage freed untracked, so never counted as frees
     * (as a global collection's, whose stop zeroes the count).  Generation
     * 0 was collected once more; generation 1 counts toward its own
     * collection on this thread, and its collection toward the next
     * cycle.  What it left out (escaped objects, others' counts) waits for
     * a collection of generation 1 that stops the world, which the
     * young collections that stop the world lead to (account), or the
     * next one once it holds generation 0's threshold of them. */
    report_delta(gc, -(long)c.young_members);
    if (gen == 0) {
        gts->local_count1++;
    } else {
        gts->local_count1 = 0;
        rc_atomic_add_relaxed(&gc->count[2], 1);
        long t0 = rc_atomic_load_relaxed(&gc->threshold[0]);
        if (c.local_left >= t0)
            rc_atomic_store_relaxed(&gc->count[1], rc_atomic_load_relaxed(&gc->threshold[1]));
    }
    gts->local_young = 0;
    c.rec.collected = found;
    c.rec.uncollectable = saved;
    if (gts->defer_n > 0)
        gts->defer_rec = c.rec;   /* counted once its garbage is gone */
    else
        local_done(ts, &c.rec);
    gts->in_collection--;
    return found;
}

void gc_local_test_hook(struct rc_runtime *rt, void (*hook)(void *, int), void *arg)
{
    rt->gc->local_hook = hook;
    rt->gc->local_hook_arg = arg;
}

void gc_collect_auto(struct thr_state *ts, int gen)
{
    /* young_stop: the whole young generation, with the world stopped. */
    if (gen == 0 && !ts->gc->young_stop) {
        /* Generation 1 too once the thread's own collections of
         * generation 0 reach its threshold (relaxed: a setting). */
        int local_gen = ts->gc->local_count1 >= rc_atomic_load_relaxed(&ts->rt->gc->threshold[1]);
        if (ts->gc->local_fallback > 0)
            ts->gc->local_fallback--;
        else if (local_collect(ts, local_gen, true) >= 0)
            return;
    }
    gc_collect_quietly(ts, gen);
    ts->gc->local_young = 0;   /* its young objects were collected too */
}

/* ------------------------------------------------------- the trigger */

void gc_collect_quietly(struct thr_state *ts, int gen)
{
    /* An automatic collection runs inside an allocation that goes on to
     * succeed: a collection that could not run (MemoryError) must not
     * leave its error behind for the allocating caller. */
    bool had_error = rc_error_occurred() != RC_ERR_NONE;
    bool outer = ts->gc->auto_collect;
    ts->gc->auto_collect = true;
    long r = gc_collect(ts, gen);
    ts->gc->auto_collect = outer;
    if (r < 0 && !had_error)
        rc_error_clear();
}

int gc_generation_due(struct gc_state *gc)
{
    /* relaxed: settings and trigger counts (collector.h). */
    for (int g = RC_GC_GENERATIONS - 1; g > 0; g--) {
        if (rc_atomic_load_relaxed(&gc->count[g]) < rc_atomic_load_relaxed(&gc->threshold[g]))
            continue;
        /* CPython's damping of full collections: only when the objects
         * promoted since the last one exceed 25% of what it left. */
        if (g == RC_GC_GENERATIONS - 1 &&
            rc_atomic_load_relaxed(&gc->long_lived_pending) <
                rc_atomic_load_relaxed(&gc->long_lived_total) / 4)
            continue;
        return g;
    }
    return 0;
}

void gc_trigger_generational(struct thr_state *ts, long young)
{
    struct gc_state *gc = ts->rt->gc;
    long t0 = rc_atomic_load_relaxed(&gc->threshold[0]);   /* relaxed: a setting */
    if (t0 <= 0)
        return;   /* threshold 0 turns automatic collection off */
    /* Where threads collect their own young objects, each does so at t0
     * of its own (gc_local_due); the whole young generation is collected
     * once what they leave (objects other threads saw) adds up to t0 more
     * than they can hold between them.  relaxed: a trigger count. */
    bool local = gc_local_mode(ts->rt);
    if (local)
        t0 *= rc_atomic_load_relaxed(&gc->local_threads) + 1;
    if (young < t0)
        return;
    /* What local collections left (escaped objects, others' counts): a
     * young collection that stops the world takes it. */
    ts->gc->young_stop = local;
    gc->ops->collect_due(ts);
    ts->gc->young_stop = false;
}

bool gc_local_due(struct thr_state *ts)
{
    struct gc_state *gc = ts->rt->gc;
    long t0 = rc_atomic_load_relaxed(&gc->threshold[0]);   /* relaxed: a setting */
    return t0 > 0 && ts->gc->local_young >= t0 && gc_local_mode(ts->rt) &&
           rc_atomic_load_relaxed(&gc->enabled);
}

void gc_collect_due_now(struct thr_state *ts)
{
    gc_collect_auto(ts, gc_generation_due(ts->rt->gc));
}

struct gc_head *gc_dest_list_stw(struct rc_runtime *rt, struct gc_head *g, int i)
{
    RC_ASSERT_STW("gc_dest_list_stw");
    struct gcl_owner *old = rt->gcl.oldspace;
    if (old != NULL && i == RC_GC_GENERATIONS - 1) {
        gcl_set_owner(g, old);
        return &old->lists[i];
    }
    return gcl_list_for_stw(rt, g, i);
}
