/* runtime/thread.c: thread states, attach/detach, safepoints, and the
 * rc_thread_start/join API.
 *
 * A thread state is created and registered by its own thread (thr_enter),
 * and unregistered and freed by its own thread (thr_exit); in between, other
 * threads reach it only through the runtime's list (under rt->mu: counters,
 * for rc_live_objects) and the BRC buckets (under a bucket mutex: queueing an
 * object to it).  Thread ids are unique for the life of the process, so an
 * object that names an exited owner can never be mistaken for another
 * thread's: the merge queue lookup fails and the finder merges it
 * (brc_queue_object).
 */
#define RCGC_BUILDING 1
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "objects.h"

_Thread_local struct thr_state *rc_tls_state;
_Thread_local _Atomic uintptr_t rc_tls_eval_breaker;

/* Next ft-mode thread id; never reused within the process. */
static _Atomic uintptr_t next_tid = RC_TID_FIRST;

struct rc_thread {
    pthread_t pthread;
    void (*fn)(void *);
    void *arg;
    bool failed;              /* the thread could not get a state; set before exit */
    char error[200];          /* why; read by the joiner after pthread_join */
};

/* ------------------------------------------------------ attach / detach */

void thr_take(struct thr_state *ts)
{
    if (ts->rt->cfg.mode == RC_MODE_GIL) {
        gil_take(&ts->rt->gil, ts);
        ts->stw.status = THR_ATTACHED;   /* owner only in gil mode */
    } else {
        stw_attach(ts->rt, ts);
        qsbr_online(ts);
    }
    ts->attached = true;
}

void thr_release(struct thr_state *ts, bool forced)
{
    ts->attached = false;
    if (ts->rt->cfg.mode == RC_MODE_GIL) {
        ts->stw.status = THR_DETACHED;
        gil_drop(&ts->rt->gil, ts, forced);
    } else {
        qsbr_offline(ts);
        stw_detach(ts->rt, ts);
    }
}

/* Detaching while this thread holds the world stopped would deadlock (ft)
 * or silently restart it (gil). */
static int check_may_detach(struct thr_state *ts, const char *fn)
{
    if (ts->holds_stw)
        return err_int(RC_ERR_RUNTIME, "%s(): this thread has stopped the world "
                       "(rc_start_the_world first)", fn);
    return 0;
}

int rc_detach(void)
{
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL) {
        err_no_thread_null("rc_detach");
        return -1;
    }
    if (!ts->attached)
        return err_int(RC_ERR_RUNTIME, "rc_detach(): the thread is already detached");
    if (check_may_detach(ts, "rc_detach") < 0)
        return -1;
    gc_thread_leaving();     /* may pass safepoints: finalizers, garbage */
    gc_local_finish_own();   /* nothing kept alive while we are away */
    thr_release(ts, false);
    return 0;
}

int rc_attach(void)
{
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL) {
        err_no_thread_null("rc_attach");
        return -1;
    }
    if (ts->attached)
        return err_int(RC_ERR_RUNTIME, "rc_attach(): the thread is already attached");
    ts->site = __builtin_return_address(0);
    thr_take(ts);
    /* Anything queued while we were away is merged now. */
    rc_safepoint();
    return 0;
}

void rc_safepoint_slow(void)
{
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL || !ts->attached)
        return;
    /* The thread that holds the world stopped defers everything: merging
     * may free objects and run finalizers, which must not run while other
     * threads are parked (docs/threads.md [thr.stw]).  The bits stay set
     * and are handled at the first safepoint after the restart. */
    if (ts->holds_stw)
        return;
    /* acquire: pairs with the release or of the thread that set the bit
     * (brc_queue_object, gil_take). */
    uintptr_t bits = rc_atomic_load_acquire(&rc_tls_eval_breaker);
    if (bits & RC_EB_BRC_MERGE) {
        /* Clear first: an object queued after this point sets it again. */
        rc_atomic_and_acq_rel(&rc_tls_eval_breaker, ~(uintptr_t)RC_EB_BRC_MERGE);
        brc_merge_queued(ts);
    }
    if (bits & RC_EB_STW) {
        rc_atomic_and_acq_rel(&rc_tls_eval_breaker, ~(uintptr_t)RC_EB_STW);
        qsbr_offline_to_park(ts);   /* a parked thread holds no lock-free pointer */
        stw_park(ts->rt, ts);
        qsbr_online(ts);
    }
    if (bits & RC_EB_QSBR) {
        /* Keep reporting at every safepoint until no batch is pending
         * (qsbr.c, submit): one report may come too early.  The report
         * also frees or submits the batches this thread kept while it was
         * the only online reader (qsbr.c, reclaim_held), so clearing the
         * bit first loses none of them. */
        /* Cleared first, then checked: a submit that set the bit before
         * our clear made its batch pending before that (our clear reads
         * from its set, acquire), so we see it and set the bit again; one
         * that sets it after our clear leaves it set. */
        if (qsbr_idle(ts)) {
            rc_atomic_and_acq_rel(&rc_tls_eval_breaker, ~(uintptr_t)RC_EB_QSBR);
            if (!qsbr_idle(ts))
                rc_atomic_or_release(&rc_tls_eval_breaker, RC_EB_QSBR);
        }
        qsbr_quiescent(ts);
    }
    if (bits & RC_EB_GIL_DROP) {
        /* gil_take clears the bit when we get the GIL back.  (A stopper
         * never gets here: handing the GIL over would restart the world.) */
        thr_release(ts, true);
        thr_take(ts);
    }
}

int rc_gil_stats_get(rc_gil_stats *out)
{
    struct thr_state *ts = rc_tls_state;
    if (out == NULL)
        return err_int(RC_ERR_TYPE, "rc_gil_stats_get() argument must be a pointer, not NULL");
    if (ts == NULL) {
        err_no_thread_null("rc_gil_stats_get");
        return -1;
    }
    out->acquisitions = ts->gil.acquisitions;
    out->waits = ts->gil.waits;
    out->wait_ns = ts->gil.wait_ns;
    out->drop_requests = ts->gil.drop_requests;
    return 0;
}

int rc_gil_stats_total(rc_gil_stats *out)
{
    struct rc_runtime *rt = rc_rt;
    if (out == NULL)
        return err_int(RC_ERR_TYPE, "rc_gil_stats_total() argument must be a pointer, not NULL");
    if (rt == NULL) {
        err_no_thread_null("rc_gil_stats_total");
        return -1;
    }
    /* Lock order: rt->mu, then gil.mu (gil_take never takes rt->mu). */
    pthread_mutex_lock(&rt->mu);
    pthread_mutex_lock(&rt->gil.mu);
    struct gil_thread_state sum = rt->dead_gil;
    for (struct thr_state *t = rt->threads; t != NULL; t = t->next) {
        sum.acquisitions += t->gil.acquisitions;
        sum.waits += t->gil.waits;
        sum.wait_ns += t->gil.wait_ns;
        sum.drop_requests += t->gil.drop_requests;
    }
    pthread_mutex_unlock(&rt->gil.mu);
    pthread_mutex_unlock(&rt->mu);
    out->acquisitions = sum.acquisitions;
    out->waits = sum.waits;
    out->wait_ns = sum.wait_ns;
    out->drop_requests = sum.drop_requests;
    return 0;
}

/* ------------------------------------------------ thread state lifetime */

/* Create, register and attach a state for the calling thread.  NULL with an
 * error if memory runs out. */
struct thr_state *thr_enter(struct rc_runtime *rt, bool is_main, const void *site,
                            const void *start_fn)
{
    struct thr_state *ts = calloc(1, sizeof *ts);
    if (ts == NULL)
        return err_nomem();
    ts->rt = rt;
    ts->is_main = is_main;
    ts->site = site;
    ts->start_fn = start_fn;
    ts->eval_breaker = &rc_tls_eval_breaker;
    rc_atomic_store_relaxed(&rc_tls_eval_breaker, 0);  /* own TLS, unpublished */
    /* Unique id (relaxed: only uniqueness matters). */
    uintptr_t id = rc_atomic_add_relaxed(&next_tid, 1);
    switch (rt->cfg.mode) {
    case RC_MODE_GIL:
        /* Every thread is "the owner" of every object: plain counting,
         * made safe by the GIL. */
        ts->tid = RC_TID_GIL;
        ts->stamp_tid = RC_TID_GIL;
        ts->stamp_local = 1;
        ts->stamp_shared = 0;
        break;
    case RC_MODE_FT:
        ts->tid = id;
        ts->stamp_tid = id;
        ts->stamp_local = 1;
        ts->stamp_shared = 0;
        break;
    case RC_MODE_FT_ATOMIC:
        /* Objects belong to no thread and start merged with one
         * reference: every op is one atomic op on the shared count. */
        ts->tid = id;
        ts->stamp_tid = RC_TID_NONE;
        ts->stamp_local = 0;
        ts->stamp_shared = RC_REF_ONE_SHARED | RC_REF_MERGED;
        break;
    }
    /* gil: every object is every thread's (RC_TID_GIL), the GIL serialises
     * slot writes; ft-atomic: objects have no owner, so no bias. */
    rc_atomic_store_relaxed(&ts->slot_bias, rt->cfg.mode != RC_MODE_FT_ATOMIC);   /* unpublished */
    rc_tls_state = ts;
    rc_tls_tid = ts->tid;
    pthread_mutex_lock(&rt->mu);
    ts->next = rt->threads;
    if (rt->threads != NULL)
        rt->threads->prev = ts;
    rt->threads = ts;
    rt->nthreads++;
    pthread_mutex_unlock(&rt->mu);
    if (rt->cfg.mode == RC_MODE_FT)
        brc_register(&rt->brc, ts);
    if (rt->cfg.mode != RC_MODE_GIL) {
        qsbr_register(ts);   /* lock-free container reads */
        qsbr_offline(ts);    /* until attached */
    }
    if (gc_thread_attach(ts) < 0)
        rc_fatal("out of memory creating a thread's collector state");
    ts->gct.report_at = 1;   /* the first tracked allocation asks the collector */
    thr_take(ts);
    /* Attached first: a reused record may still be named by objects a
     * collection holds, and no stop is on while we are attached and not
     * at a safepoint (gclist.h). */
    ts->gcl = gcl_owner_new(rt);
    if (ts->gcl == NULL)
        rc_fatal("out of memory creating a thread's GC lists");
    return ts;
}

/* Detach, unregister and free the calling thread's state. */
void thr_exit(struct thr_state *ts)
{
    struct rc_runtime *rt = ts->rt;
    if (ts->holds_stw)
        rc_start_the_world();   /* never leave the world stopped behind us */
    if (!ts->attached)
        thr_take(ts);
    gc_thread_exiting(ts);   /* garbage it kept for later, while registered */
    /* Merge what was queued to us while still attached: merging may free
     * objects. */
    if (rt->cfg.mode == RC_MODE_FT)
        brc_unregister(&rt->brc, ts);
    gc_thread_exit(ts);    /* the collector takes our last counts */
    gcl_owner_exit(rt, ts); /* our lists go to the orphan owner */
    qsbr_unregister(ts);   /* frees or hands over what we retired; online here */
    thr_release(ts, false);
    pthread_mutex_lock(&rt->mu);
    if (ts->prev != NULL)
        ts->prev->next = ts->next;
    else
        rt->threads = ts->next;
    if (ts->next != NULL)
        ts->next->prev = ts->prev;
    rt->nthreads--;
    rt->dead_allocs += rc_atomic_load_relaxed(&ts->allocs);  /* own counters */
    rt->dead_frees += rc_atomic_load_relaxed(&ts->frees);
    rt->dead_gil.acquisitions += ts->gil.acquisitions;
    rt->dead_gil.waits += ts->gil.waits;
    rt->dead_gil.wait_ns += ts->gil.wait_ns;
    rt->dead_gil.drop_requests += ts->gil.drop_requests;
    rt->dead_gc_allocs += rc_atomic_load_relaxed(&ts->gc_allocs);
    rt->dead_gc_frees += rc_atomic_load_relaxed(&ts->gc_frees);
    pthread_mutex_unlock(&rt->mu);
    rc_tls_state = NULL;
    rc_tls_tid = RC_TID_UNREGISTERED;
    free(ts);
}

/* ------------------------------------------------------ rc_thread_start */

static void *thread_main(void *p)
{
    rc_thread *t = p;
    struct rc_runtime *rt = rc_rt;
    const void *fn = (const void *)(uintptr_t)t->fn;
    struct thr_state *ts = thr_enter(rt, false, fn, fn);
    if (ts == NULL) {
        t->failed = true;
        strncpy(t->error, rc_error_message(), sizeof t->error - 1);
        return NULL;
    }
    t->fn(t->arg);
    thr_exit(ts);
    return NULL;
}

/* The least stack a thread started by rc_thread_start gets. */
#define THREAD_STACK_MIN ((size_t)16 << 20)

/* rc_testing_fail_thread_start_after's countdown: the calling thread's. */
static _Thread_local long fail_start_countdown;

void rc_testing_fail_thread_start_after(long n)
{
    fail_start_countdown = n > 0 ? n : 0;
}

rc_thread *rc_thread_start(void (*fn)(void *), void *arg)
{
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL)
        return err_no_thread_null("rc_thread_start");
    if (fn == NULL)
        return err_null(RC_ERR_TYPE, "rc_thread_start() function must not be NULL");
    rc_thread *t = calloc(1, sizeof *t);
    if (t == NULL)
        return err_nomem();
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&ts->rt->mu);
    ts->rt->nstarted++;
    pthread_mutex_unlock(&ts->rt->mu);
    /* At least THREAD_STACK_MIN of stack, whatever the process's stack
     * limit says (glibc gives threads 2 MiB when it is unlimited): enough
     * for rcgc/semantics.h's deepest recursion (RC_RECURSION_LIMIT_MAX) in
     * the sanitizer builds. */
    pthread_attr_t attr;
    size_t stack = 0;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        if (pthread_attr_getstacksize(&attr, &stack) == 0 && stack < THREAD_STACK_MIN)
            rc = pthread_attr_setstacksize(&attr, THREAD_STACK_MIN);
        if (rc == 0)
            rc = fail_start_countdown > 0 && --fail_start_countdown == 0
                     ? EAGAIN
                     : pthread_create(&t->pthread, &attr, thread_main, t);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        pthread_mutex_lock(&ts->rt->mu);
        ts->rt->nstarted--;
        pthread_mutex_unlock(&ts->rt->mu);
        free(t);
        return err_null(RC_ERR_RUNTIME, "rc_thread_start(): cannot create a thread: %s",
                        strerror(rc));
    }
    return t;
}

int rc_thread_join(rc_thread *t)
{
    struct thr_state *ts = rc_tls_state;
    if (t == NULL)
        return err_int(RC_ERR_TYPE, "rc_thread_join() argument must be a thread, not NULL");
    if (ts == NULL) {
        err_no_thread_null("rc_thread_join");
        return -1;
    }
    if (pthread_equal(t->pthread, pthread_self()))
        return err_int(RC_ERR_RUNTIME, "rc_thread_join(): a thread cannot join itself");
    if (check_may_detach(ts, "rc_thread_join") < 0)
        return -1;
    bool was_attached = ts->attached;
    if (was_attached) {
        gc_thread_leaving();     /* may pass safepoints: finalizers, garbage */
        gc_local_finish_own();   /* nothing kept alive while we wait */
        thr_release(ts, false);
    }
    int rc = pthread_join(t->pthread, NULL);
    if (was_attached)
        thr_take(ts);
    if (rc != 0) {
        /* Not joined: the handle stays valid and nstarted unchanged. */
        return err_int(RC_ERR_RUNTIME, "rc_thread_join(): %s", strerror(rc));
    }
    pthread_mutex_lock(&ts->rt->mu);
    ts->rt->nstarted--;
    pthread_mutex_unlock(&ts->rt->mu);
    bool failed = t->failed;
    if (failed)
        err_set(RC_ERR_RUNTIME, "rc_thread_join(): the thread could not start: %s", t->error);
    free(t);
    if (was_attached)
        rc_safepoint();
    return failed ? -1 : 0;
}

/* ------------------------------------------------------ rc_thread_cpu_slice */

/* The kernel's struct sched_attr (include/uapi/linux/sched/types.h, whose
 * header clashes with glibc's <sched.h>; glibc 2.36 has no wrapper).  The
 * fields after sched_period are left out: size says how much there is. */
#define OS_SCHED_FLAG_RESET_ON_FORK 0x01u
struct os_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;   /* SCHED_OTHER: the slice, ns (Linux >= 6.12) */
    uint64_t sched_deadline;
    uint64_t sched_period;
};

int64_t rc_thread_cpu_slice(uint64_t ns)
{
    if (ns < RC_CPU_SLICE_MIN_NS || ns > RC_CPU_SLICE_MAX_NS)
        return err_int(RC_ERR_VALUE, "rc_thread_cpu_slice(): the slice must be in %d..%d ns, "
                       "not %llu", RC_CPU_SLICE_MIN_NS, RC_CPU_SLICE_MAX_NS,
                       (unsigned long long)ns);
#if defined(SYS_sched_getattr) && defined(SYS_sched_setattr)
    struct os_sched_attr a = {0};
    if (syscall(SYS_sched_getattr, 0, &a, (unsigned)sizeof a, 0u) != 0 ||
        a.sched_policy != SCHED_OTHER)
        return 0;
    a.size = sizeof a;
    a.sched_flags &= OS_SCHED_FLAG_RESET_ON_FORK;   /* kept; the rest are requests */
    a.sched_runtime = ns;   /* policy and nice as they were */
    if (syscall(SYS_sched_setattr, 0, &a, 0u) != 0)
        return 0;
    a = (struct os_sched_attr){0};
    if (syscall(SYS_sched_getattr, 0, &a, (unsigned)sizeof a, 0u) != 0)
        return 0;
    return (int64_t)a.sched_runtime;
#else
    return 0;
#endif
}

/* ------------------------------------------------------ foreign threads */

int rc_thread_register(void)
{
    struct rc_runtime *rt = rc_rt;
    if (rt == NULL) {
        err_no_thread_null("rc_thread_register");
        return -1;
    }
    if (rc_tls_state != NULL)
        return err_int(RC_ERR_RUNTIME, "rc_thread_register(): the thread is already registered");
    return thr_enter(rt, false, __builtin_return_address(0), NULL) != NULL ? 0 : -1;
}

int rc_thread_unregister(void)
{
    struct thr_state *ts = rc_tls_state;
    if (ts == NULL)
        return err_int(RC_ERR_RUNTIME, "rc_thread_unregister(): the thread is not registered");
    if (ts->is_main)
        return err_int(RC_ERR_RUNTIME,
                       "rc_thread_unregister(): the runtime's creating thread "
                       "leaves with rc_runtime_free");
    if (ts->start_fn != NULL)
        return err_int(RC_ERR_RUNTIME,
                       "rc_thread_unregister(): a thread from rc_thread_start leaves when "
                       "its function returns");
    thr_exit(ts);
    return 0;
}
