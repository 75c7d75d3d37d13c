/* runtime/runtime.c: creating and freeing the runtime.
 *
 * At most one runtime exists at a time.  rc_rt is written only here, by
 * rc_runtime_new (before any other thread of this runtime exists) and by
 * rc_runtime_free (after every such thread was joined), under
 * runtime_create_mu; threads read it after their creation, which
 * happens-after rc_runtime_new.
 */
#define RCGC_BUILDING 1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects.h"

struct rc_runtime *rc_rt;
static pthread_mutex_t runtime_create_mu = PTHREAD_MUTEX_INITIALIZER;

rc_config rc_config_default(void)
{
    rc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.mode = RC_MODE_GIL;
    cfg.collector = RC_COLLECTOR_STW;
    cfg.switch_interval_us = 5000;
    return cfg;
}

/* The index of name in names[0..n), or -1 with a ValueError naming the
 * valid values ("unknown <what> 'x' (valid: a, b)"). */
static int name_index(const char *const *names, int n, const char *what, const char *name)
{
    char valid[128] = "";
    for (int i = 0; i < n; i++) {
        if (name != NULL && strcmp(name, names[i]) == 0)
            return i;
        size_t len = strlen(valid);
        snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "", names[i]);
    }
    return err_int(RC_ERR_VALUE, "unknown %s '%s' (valid: %s)", what,
                   name != NULL ? name : "(null)", valid);
}

static const char *const mode_names[RC_MODE_COUNT] = {"gil", "ft", "ft-atomic"};

const char *rc_mode_name(rc_mode mode)
{
    return (unsigned)mode < RC_MODE_COUNT ? mode_names[mode] : NULL;
}

int rc_mode_from_name(const char *name, rc_mode *out)
{
    if (out == NULL)
        return err_int(RC_ERR_TYPE, "rc_mode_from_name() output must not be NULL");
    int i = name_index(mode_names, RC_MODE_COUNT, "mode", name);
    if (i < 0)
        return -1;
    *out = (rc_mode)i;
    return 0;
}

static const char *const collector_names[RC_COLLECTOR_COUNT] = {"stw", "concurrent",
                                                                 "concurrent-thread"};

const char *rc_collector_name(rc_collector_kind kind)
{
    return (unsigned)kind < RC_COLLECTOR_COUNT ? collector_names[kind] : NULL;
}

int rc_collector_from_name(const char *name, rc_collector_kind *out)
{
    if (out == NULL)
        return err_int(RC_ERR_TYPE, "rc_collector_from_name() output must not be NULL");
    int i = name_index(collector_names, RC_COLLECTOR_COUNT, "collector", name);
    if (i < 0)
        return -1;
    *out = (rc_collector_kind)i;
    return 0;
}

rc_collector_kind rc_runtime_collector(const rc_runtime *rt)
{
    return rt != NULL ? rt->cfg.collector : RC_COLLECTOR_STW;
}

rc_mode rc_runtime_mode(const rc_runtime *rt)
{
    return rt != NULL ? rt->cfg.mode : RC_MODE_GIL;
}

rc_runtime *rc_runtime_current(void)
{
    return rc_rt;
}

/* Undo what rc_runtime_new set up below the collector, in reverse order
 * (single-threaded; every thread state is gone).  gcl: the GC lists'
 * state was initialised. */
static void runtime_teardown(struct rc_runtime *rt, bool gcl)
{
    if (gcl)
        gcl_state_fini(&rt->gcl);
    stw_fini(&rt->stw);
    gil_fini(&rt->gil);
    brc_fini(&rt->brc);
    mem_free(rt->weak);   /* entries left only by leaked targets */
    pthread_mutex_destroy(&rt->weakref_mu);
    pthread_rwlock_destroy(&rt->escape_lock);
    pthread_mutex_destroy(&rt->mu);
    free(rt);
}

/* RCGC_SAFEPOINT_TIMEOUT_MS: a whole number >= 0; unset or empty: 0 (off).
 * 0, or -1 with a ValueError naming the variable. */
static int safepoint_timeout_from_env(long *ms)
{
    const char *s = getenv("RCGC_SAFEPOINT_TIMEOUT_MS");
    *ms = 0;
    if (s == NULL || s[0] == '\0')
        return 0;
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (*end != '\0' || errno != 0 || n < 0 || n > RC_SAFEPOINT_TIMEOUT_MAX_MS || s[0] < '0' ||
        s[0] > '9')
        return err_int(RC_ERR_VALUE, "RCGC_SAFEPOINT_TIMEOUT_MS must be a whole number of "
                       "milliseconds in 0..%ld (0: off), not '%s'",
                       (long)RC_SAFEPOINT_TIMEOUT_MAX_MS, s);
    *ms = n;
    return 0;
}

int rc_check_environment(void)
{
    long ms;
    return safepoint_timeout_from_env(&ms) < 0 ? -1 : gc_check_environment();
}

rc_runtime *rc_runtime_new(const rc_config *cfg)
{
    rc_config c = cfg != NULL ? *cfg : rc_config_default();
    if ((unsigned)c.mode >= RC_MODE_COUNT)
        return err_null(RC_ERR_VALUE, "rc_runtime_new(): mode %d is not valid "
                        "(valid: RC_MODE_GIL, RC_MODE_FT, RC_MODE_FT_ATOMIC)", (int)c.mode);
    if (rc_collector_check(c.collector) < 0)
        return NULL;
    if (c.switch_interval_us <= 0)
        return err_null(RC_ERR_VALUE, "rc_runtime_new(): switch_interval_us must be > 0, not %ld",
                        c.switch_interval_us);
    if (c.safepoint_timeout_ms < 0 || c.safepoint_timeout_ms > RC_SAFEPOINT_TIMEOUT_MAX_MS)
        return err_null(RC_ERR_VALUE, "rc_runtime_new(): safepoint_timeout_ms must be in "
                        "0..%ld (0: RCGC_SAFEPOINT_TIMEOUT_MS or off), not %ld",
                        (long)RC_SAFEPOINT_TIMEOUT_MAX_MS, c.safepoint_timeout_ms);
    if (c.safepoint_timeout_ms == 0 && safepoint_timeout_from_env(&c.safepoint_timeout_ms) < 0)
        return NULL;
    if (c.recursion_limit < 0 || c.recursion_limit > RC_RECURSION_LIMIT_MAX)
        return err_null(RC_ERR_VALUE, "rc_runtime_new(): recursion_limit must be in 0..%d "
                        "(0: the default, %d), not %d", RC_RECURSION_LIMIT_MAX,
                        RC_RECURSION_LIMIT_DEFAULT, c.recursion_limit);
    if (c.recursion_limit == 0)
        c.recursion_limit = RC_RECURSION_LIMIT_DEFAULT;
    pthread_mutex_lock(&runtime_create_mu);
    if (rc_rt != NULL) {
        pthread_mutex_unlock(&runtime_create_mu);
        return err_null(RC_ERR_RUNTIME, "rc_runtime_new(): a runtime already exists "
                        "(free it with rc_runtime_free first)");
    }
    if (rc_tls_state != NULL) {
        pthread_mutex_unlock(&runtime_create_mu);
        return err_null(RC_ERR_RUNTIME, "rc_runtime_new(): this thread still has a thread state");
    }
    struct rc_runtime *rt = calloc(1, sizeof *rt);
    if (rt == NULL) {
        pthread_mutex_unlock(&runtime_create_mu);
        return err_nomem();
    }
    rt->cfg = c;
    rt->main_thread = pthread_self();
    atomic_init(&rt->recursion_limit, c.recursion_limit);
    pthread_mutex_init(&rt->mu, NULL);
    pthread_mutex_init(&rt->weakref_mu, NULL);
    {
        /* Writers first: an escaping thread waits for the collection in
         * progress, never for a stream of them. */
        pthread_rwlockattr_t attr;
        pthread_rwlockattr_init(&attr);
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&rt->escape_lock, &attr);
        pthread_rwlockattr_destroy(&attr);
    }
    brc_init(&rt->brc);
    gil_init(&rt->gil, c.switch_interval_us);
    stw_init(&rt->stw, c.safepoint_timeout_ms);
    if (gcl_state_init(&rt->gcl) < 0) {
        runtime_teardown(rt, false);
        pthread_mutex_unlock(&runtime_create_mu);
        return NULL;
    }
    if (gc_runtime_init(rt) < 0) {
        runtime_teardown(rt, true);
        pthread_mutex_unlock(&runtime_create_mu);
        return NULL;
    }
    if (c.mode != RC_MODE_GIL && qsbr_start() < 0) {
        gc_runtime_fini(rt);
        runtime_teardown(rt, true);
        pthread_mutex_unlock(&runtime_create_mu);
        return NULL;
    }
    rc_rt = rt;
    rt->main_state = thr_enter(rt, true, __builtin_return_address(0), NULL);
    if (rt->main_state == NULL) {
        rc_rt = NULL;
        qsbr_stop();
        gc_runtime_fini(rt);
        runtime_teardown(rt, true);
        pthread_mutex_unlock(&runtime_create_mu);
        return NULL;
    }
    if (gc_runtime_start(rt) < 0)
        rc_fatal("cannot start the collector: %s", rc_error_message());
    pthread_mutex_unlock(&runtime_create_mu);
    return rt;
}

long rc_runtime_free(rc_runtime *rt)
{
    if (rt == NULL)
        return err_int(RC_ERR_TYPE, "rc_runtime_free() argument must be a runtime, not NULL");
    if (rt != rc_rt)
        return err_int(RC_ERR_RUNTIME, "rc_runtime_free(): not the current runtime");
    struct thr_state *ts = rc_tls_state;
    if (ts != rt->main_state)
        return err_int(RC_ERR_RUNTIME,
                       "rc_runtime_free(): must be called by the thread that created the runtime");
    if (!ts->attached)
        return err_int(RC_ERR_RUNTIME, "rc_runtime_free(): the thread is detached (rc_attach first)");
    if (ts->holds_stw)
        return err_int(RC_ERR_RUNTIME, "rc_runtime_free(): the world is stopped (rc_start_the_world first)");
    /* The collector's own threads (a collector thread) are not the
     * program's to join: stopped here once the program's are gone. */
    long own = gc_runtime_threads(rt);
    pthread_mutex_lock(&rt->mu);
    long others = rt->nthreads - 1, started = rt->nstarted;
    pthread_mutex_unlock(&rt->mu);
    if (others - own > 0 || started - own > 0)
        return err_int(RC_ERR_RUNTIME,
                       "rc_runtime_free(): %ld thread(s) still running or not joined",
                       started > others ? started - own : others - own);
    if (own > 0) {
        gc_runtime_stop_threads(rt);
        pthread_mutex_lock(&rt->mu);
        others = rt->nthreads - 1;
        started = rt->nstarted;
        pthread_mutex_unlock(&rt->mu);
        /* A thread registered by hand (not started) that the count above
         * took for the collector's: the collector's work falls back to
         * assists, and the caller joins that thread first. */
        if (others > 0 || started > 0)
            return err_int(RC_ERR_RUNTIME,
                           "rc_runtime_free(): %ld thread(s) still running or not joined",
                           started > others ? started : others);
    }

    /* Objects freed by exited threads may be queued to us. */
    if (rt->cfg.mode == RC_MODE_FT)
        brc_merge_queued(ts);
    /* Whatever is garbage goes now (finalizers run); releasing the immortal
     * objects may leave more cycles behind, so collect again after. */
    gc_collect_at_exit(rt);
    obj_release_immortals(rt);
    gc_collect_at_exit(rt);
    str_intern_fini(rt);
    pthread_mutex_lock(&rt->mu);
    rc_type *types = rt->heap_types;
    rt->heap_types = NULL;
    pthread_mutex_unlock(&rt->mu);

    pthread_mutex_lock(&runtime_create_mu);
    thr_exit(ts);   /* merges anything still queued; folds its counters */
    rc_rt = NULL;
    /* Memory retired for lock-free readers is freed before we return, and
     * the reclaimer joined: under runtime_create_mu, so that a runtime
     * created meanwhile by another thread neither finds this one's
     * reclaimer still running (and starts none) nor has its batches
     * waited for here.  Nothing the barrier waits for takes this lock:
     * every thread of this runtime is gone. */
    if (rt->cfg.mode != RC_MODE_GIL) {
        qsbr_barrier();
        qsbr_stop();
    }
    pthread_mutex_unlock(&runtime_create_mu);
    /* Every thread state is gone and folded into the dead totals. */
    long leaked = (long)(rt->dead_allocs - rt->dead_frees);
    /* Heap types last: leaked objects (if any) still point at them, but a
     * leaked object is never touched again by the runtime. */
    while (types != NULL) {
        rc_type *next = types->next_heap;
        mem_free((char *)types->name);
        mem_free(types);
        types = next;
    }
    gc_runtime_fini(rt);
    runtime_teardown(rt, true);
    return leaked;
}
