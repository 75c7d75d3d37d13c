/* runtime/stw.c: safepoint parking and stop-the-world (see stw.h for the
 * synchronisation table).
 *
 * Invariant while a stop is on (requester != NULL): every registered thread
 * other than the requester is PARKED or DETACHED, or is counted in
 * countdown and on its way to a safepoint; a DETACHED thread cannot become
 * ATTACHED.  The requester sees every write those threads made before
 * parking or detaching, because both go through stw.mu.
 */
#define RCGC_BUILDING 1
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

uint64_t rc_clock_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void rc_cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

struct timespec rc_deadline_after(uint64_t after_ns)
{
    uint64_t t = rc_clock_ns() + after_ns;
    return (struct timespec){.tv_sec = (time_t)(t / 1000000000u),
                             .tv_nsec = (long)(t % 1000000000u)};
}

void stw_init(struct stw_state *stw, long timeout_ms)
{
    pthread_mutex_init(&stw->mu, NULL);
    pthread_cond_init(&stw->resume_cv, NULL);
    /* The requester's timed wait (the safepoint timeout). */
    rc_cond_init_monotonic(&stw->parked_cv);
    stw->timeout_ms = timeout_ms;
    pthread_cond_init(&stw->woken_cv, NULL);
    stw->requester = NULL;
    stw->waiting = stw->to_wake = 0;
    stw->countdown = 0;
    rec_ring_init(&stw->records, sizeof(rc_stw_record));
}

void stw_fini(struct stw_state *stw)
{
    rec_ring_fini(&stw->records);
    pthread_cond_destroy(&stw->woken_cv);
    pthread_cond_destroy(&stw->parked_cv);
    pthread_cond_destroy(&stw->resume_cv);
    pthread_mutex_destroy(&stw->mu);
}

/* The calling thread stops being waited for (it parked or detached). */
static void uncount_locked(struct stw_state *stw, struct thr_state *ts)
{
    if (ts->stw.counted) {
        ts->stw.counted = false;
        if (--stw->countdown == 0)
            pthread_cond_signal(&stw->parked_cv);
    }
}

static bool stopped_by_other_locked(struct stw_state *stw, struct thr_state *ts)
{
    return stw->requester != NULL && stw->requester != ts;
}

/* Wait until no other thread's stop is on.  Called with stw.mu held.  A
 * waiter leaves only when requester is NULL, which it is, between a
 * restart and the next stop, only until every waiter of that restart has
 * left (to_wake): so each leaving waiter is one of those counted. */
static void wait_resume_locked(struct stw_state *stw, struct thr_state *ts)
{
    if (!stopped_by_other_locked(stw, ts))
        return;
    stw->waiting++;
    do
        pthread_cond_wait(&stw->resume_cv, &stw->mu);
    while (stopped_by_other_locked(stw, ts));
    stw->waiting--;
    if (stw->to_wake > 0 && --stw->to_wake == 0)
        pthread_cond_broadcast(&stw->woken_cv);
}

void stw_attach(struct rc_runtime *rt, struct thr_state *ts)
{
    struct stw_state *stw = &rt->stw;
    pthread_mutex_lock(&stw->mu);
    wait_resume_locked(stw, ts);
    ts->stw.status = THR_ATTACHED;
    ts->stw.attach_ns = rc_clock_ns();
    ts->stw.attach_site = ts->site;
    pthread_mutex_unlock(&stw->mu);
}

/* "symbol+0x1f (file+0x1234)" for a code address, as far as dladdr knows
 * (a symbol of the program itself needs -rdynamic; the file offset works
 * with addr2line -e FILE either way). */
static void describe_site(const void *site, char *buf, size_t n)
{
    Dl_info info;
    if (site == NULL) {
        snprintf(buf, n, "unknown");
    } else if (dladdr(site, &info) == 0 || info.dli_fname == NULL) {
        snprintf(buf, n, "%p", site);
    } else {
        size_t off = (size_t)((const char *)site - (const char *)info.dli_fbase);
        if (info.dli_sname != NULL)
            snprintf(buf, n, "%s+0x%zx (%s+0x%zx)", info.dli_sname,
                     (size_t)((const char *)site - (const char *)info.dli_saddr), info.dli_fname,
                     off);
        else
            snprintf(buf, n, "%p (%s+0x%zx)", site, info.dli_fname, off);
    }
}

/* The safepoint timeout passed (rc_config.safepoint_timeout_ms): say once,
 * on stderr, which threads this stop still waits for.  Called with stw.mu
 * held; copies what it prints (the counted flags and attach sites are under
 * stw.mu, the thread list under rt->mu: lock order stw.mu, rt->mu), then
 * prints with neither held and takes stw.mu again: dladdr takes the
 * loader's lock and fprintf stderr's, which a holdout may hold while it
 * goes on to park or detach (dlopen running a constructor).  Meanwhile the
 * stop stays requested: other threads can only uncount themselves, and the
 * caller re-checks the countdown. */
#define REPORT_MAX 64

struct holdout {
    unsigned long tid;
    bool is_main, in_start_fn;
    uint64_t attach_ns;
    const void *site;
};

static void report_holdouts_locked(struct rc_runtime *rt, struct stw_state *stw,
                                   struct thr_state *requester, uint64_t waited_ns)
{
    struct holdout h[REPORT_MAX];
    int n = 0, more = 0;
    long countdown = stw->countdown;
    pthread_mutex_lock(&rt->mu);
    for (struct thr_state *t = rt->threads; t != NULL; t = t->next) {
        if (!t->stw.counted)
            continue;
        if (n == REPORT_MAX) {
            more++;
            continue;
        }
        h[n++] = (struct holdout){(unsigned long)t->tid, t->is_main,
                                  t->stw.attach_site == t->start_fn, t->stw.attach_ns,
                                  t->stw.attach_site};
    }
    pthread_mutex_unlock(&rt->mu);
    pthread_mutex_unlock(&stw->mu);

    uint64_t now = rc_clock_ns();
    fprintf(stderr,
            "rcgc: a stop-the-world (requested by thread %lu) has waited %.1f ms for %ld "
            "thread(s) to reach a safepoint; still waiting for:\n",
            (unsigned long)requester->tid, (double)waited_ns / 1e6, countdown);
    for (int i = 0; i < n; i++) {
        char where[512];
        describe_site(h[i].site, where, sizeof where);
        fprintf(stderr, "rcgc:   thread %lu%s, attached for %.1f ms; %s %s\n", h[i].tid,
                h[i].is_main ? " (the runtime's creator)" : "",
                (double)(now - h[i].attach_ns) / 1e6,
                h[i].in_start_fn ? "running its rc_thread_start function"
                                 : "it entered rcgc through a call from",
                where);
    }
    if (more > 0)
        fprintf(stderr, "rcgc:   and %d more\n", more);
    fprintf(stderr, "rcgc: a loop that runs long without touching objects should call "
                    "rc_safepoint() or rc_detach()/rc_attach() around it\n");
    fflush(stderr);
    pthread_mutex_lock(&stw->mu);
}

/* Wait until every counted thread parked; with a safepoint timeout, report
 * the holdouts once when it passes, then go on waiting. */
static void wait_parked_locked(struct rc_runtime *rt, struct stw_state *stw,
                               struct thr_state *ts)
{
    if (stw->timeout_ms > 0) {
        /* From now: the time the stop waited for an earlier one is not
         * these threads' doing. */
        uint64_t start = rc_clock_ns();
        uint64_t deadline = start + (uint64_t)stw->timeout_ms * 1000000u;
        struct timespec abs = {.tv_sec = (time_t)(deadline / 1000000000u),
                               .tv_nsec = (long)(deadline % 1000000000u)};
        while (stw->countdown > 0) {
            if (pthread_cond_timedwait(&stw->parked_cv, &stw->mu, &abs) != 0 &&
                stw->countdown > 0) {   /* timed out (spurious returns loop) */
                uint64_t now = rc_clock_ns();
                if (now >= deadline) {
                    report_holdouts_locked(rt, stw, ts, now - start);
                    break;
                }
            }
        }
    }
    while (stw->countdown > 0)
        pthread_cond_wait(&stw->parked_cv, &stw->mu);
}

void stw_detach(struct rc_runtime *rt, struct thr_state *ts)
{
    struct stw_state *stw = &rt->stw;
    pthread_mutex_lock(&stw->mu);
    ts->stw.status = THR_DETACHED;
    uncount_locked(stw, ts);
    pthread_mutex_unlock(&stw->mu);
}

/* Park until no other thread's stop is on.  Called with stw.mu held. */
static void park_locked(struct stw_state *stw, struct thr_state *ts)
{
    ts->stw.status = THR_PARKED;
    uncount_locked(stw, ts);
    wait_resume_locked(stw, ts);
    ts->stw.status = THR_ATTACHED;
}

void stw_park(struct rc_runtime *rt, struct thr_state *ts)
{
    struct stw_state *stw = &rt->stw;
    pthread_mutex_lock(&stw->mu);
    if (stopped_by_other_locked(stw, ts))
        park_locked(stw, ts);
    pthread_mutex_unlock(&stw->mu);
}

static int stop(struct rc_runtime *rt, struct thr_state *ts, bool offline_while_parked);

int stw_stop(struct rc_runtime *rt, struct thr_state *ts)
{
    return stop(rt, ts, true);
}

int stw_stop_online(struct rc_runtime *rt, struct thr_state *ts)
{
    return stop(rt, ts, false);
}

static int stop(struct rc_runtime *rt, struct thr_state *ts, bool offline_while_parked)
{
    struct stw_state *stw = &rt->stw;
    uint64_t t0 = rc_clock_ns();
    pthread_mutex_lock(&stw->mu);
    if (stw->requester == ts) {
        pthread_mutex_unlock(&stw->mu);
        return err_int(RC_ERR_RUNTIME, "rc_stop_the_world(): this thread already stopped the world");
    }
    for (;;) {
        if (stw->requester != NULL) {
            /* Another requester first: we are one of the threads it waits
             * for, so park (one requester waits for the other, never both
             * for each other), offline as any parked thread, so that grace
             * periods go on; or online (stw_stop_online), which only delays
             * them (the other requester never waits for one). */
            if (offline_while_parked)
                qsbr_offline_to_park(ts);
            else
                stw->parked_online = true;
            while (stw->requester != NULL)
                park_locked(stw, ts);
            if (offline_while_parked)
                qsbr_online(ts);
        } else if (stw->to_wake > 0) {
            /* The last restart's waiters have not all left their wait yet
             * (fairness, stw.h).  Nobody can stop the world meanwhile, and
             * they need only stw.mu to leave. */
            pthread_cond_wait(&stw->woken_cv, &stw->mu);
        } else {
            break;
        }
    }
    stw->requester = ts;
    stw->parked_online = false;
    stw->request_ns = t0;
    stw->countdown = 0;
    stw->nstopped = 0;
    pthread_mutex_lock(&rt->mu);
    for (struct thr_state *t = rt->threads; t != NULL; t = t->next) {
        if (t != ts && t->stw.status == THR_ATTACHED) {
            t->stw.counted = true;
            stw->countdown++;
            stw->nstopped++;
            /* release: pairs with the acquire re-read in rc_safepoint_slow.
             * t's breaker stays valid: t cannot unregister without rt->mu. */
            rc_atomic_or_release(t->eval_breaker, RC_EB_STW);
        }
    }
    pthread_mutex_unlock(&rt->mu);
    wait_parked_locked(rt, stw, ts);
    stw->stop_ns = rc_clock_ns();
    pthread_mutex_unlock(&stw->mu);
    return 0;
}

bool stw_parked_online(struct rc_runtime *rt)
{
    struct stw_state *stw = &rt->stw;
    pthread_mutex_lock(&stw->mu);
    bool r = stw->parked_online;
    pthread_mutex_unlock(&stw->mu);
    return r;
}

static void record_locked(struct stw_state *stw, uint64_t end_ns)
{
    rc_stw_record rec = {
        .request_ns = stw->request_ns,
        .time_to_safepoint_ns = stw->stop_ns - stw->request_ns,
        .pause_ns = end_ns - stw->stop_ns,
        .threads = stw->nstopped,
    };
    /* Statistics only: a lost record (no memory), not a lost stop. */
    (void)rec_ring_push(&stw->records, &rec);
}

void stw_defer_dealloc(struct rc_runtime *rt, rc_object *o)
{
    /* relaxed: the object is dead and only the requester touches it. */
    rc_atomic_store_relaxed(&o->ob_tid, (uintptr_t)rt->stw.dead);
    rt->stw.dead = o;
}

/* After the restart: free what died while the world was stopped. */
static void free_deferred(struct rc_runtime *rt)
{
    rc_object *o = rt->stw.dead;
    rt->stw.dead = NULL;
    while (o != NULL) {
        rc_object *next = (rc_object *)rc_atomic_load_relaxed(&o->ob_tid);
        obj_dealloc(o);
        o = next;
    }
}

int stw_start(struct rc_runtime *rt, struct thr_state *ts)
{
    struct stw_state *stw = &rt->stw;
    uint64_t end = rc_clock_ns();
    pthread_mutex_lock(&stw->mu);
    if (stw->requester != ts) {
        pthread_mutex_unlock(&stw->mu);
        return err_int(RC_ERR_RUNTIME,
                       "rc_start_the_world(): this thread did not stop the world");
    }
    record_locked(stw, end);
    stw->requester = NULL;
    stw->to_wake = stw->waiting;   /* 0 here: stw_stop waited for it */
    pthread_cond_broadcast(&stw->resume_cv);
    pthread_mutex_unlock(&stw->mu);
    return 0;
}

/* ------------------------------------------------------------ public API */

int rc_stop_the_world(void)
{
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL) {
        err_no_thread_null("rc_stop_the_world");
        return -1;
    }
    if (!ts->attached)
        return err_int(RC_ERR_RUNTIME, "rc_stop_the_world(): the thread is detached");
    struct rc_runtime *rt = ts->rt;
    if (rt->cfg.mode == RC_MODE_GIL) {
        /* Holding the GIL is a stopped world; record it all the same. */
        struct stw_state *stw = &rt->stw;
        pthread_mutex_lock(&stw->mu);
        if (stw->requester != NULL) {
            /* Impossible while the stopper keeps the GIL (it never hands it
             * over while stopped), so this is only a guard. */
            pthread_mutex_unlock(&stw->mu);
            return err_int(RC_ERR_RUNTIME,
                           stw->requester == ts
                               ? "rc_stop_the_world(): this thread already stopped the world"
                               : "rc_stop_the_world(): another thread has stopped the world");
        }
        stw->requester = ts;
        stw->request_ns = stw->stop_ns = rc_clock_ns();
        stw->nstopped = 0;
        pthread_mutex_unlock(&stw->mu);
        ts->holds_stw = true;
        return 0;
    }
    if (stw_stop(rt, ts) < 0)
        return -1;
    ts->holds_stw = true;
    brc_merge_all_stw(rt);
    return 0;
}

int rc_start_the_world(void)
{
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL) {
        err_no_thread_null("rc_start_the_world");
        return -1;
    }
    if (stw_start(ts->rt, ts) < 0)
        return -1;
    ts->holds_stw = false;
    free_deferred(ts->rt);   /* only this thread adds to the list */
    return 0;
}

size_t rc_stw_count(void)
{
    struct rc_runtime *rt = rc_rt;
    if (rt == NULL)
        return 0;
    pthread_mutex_lock(&rt->stw.mu);
    size_t n = rt->stw.records.count;
    pthread_mutex_unlock(&rt->stw.mu);
    return n;
}

size_t rc_stw_records_oldest(void)
{
    struct rc_runtime *rt = rc_rt;
    if (rt == NULL)
        return 0;
    pthread_mutex_lock(&rt->stw.mu);
    size_t n = rec_ring_oldest(&rt->stw.records);
    pthread_mutex_unlock(&rt->stw.mu);
    return n;
}

size_t rc_stw_records(size_t first, rc_stw_record *out, size_t max)
{
    struct rc_runtime *rt = rc_rt;
    if (rt == NULL || out == NULL)
        return 0;
    pthread_mutex_lock(&rt->stw.mu);
    size_t n = rec_ring_copy(&rt->stw.records, first, out, max);
    pthread_mutex_unlock(&rt->stw.mu);
    return n;
}
