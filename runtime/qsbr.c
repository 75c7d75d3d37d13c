/* runtime/qsbr.c: deferred freeing through liburcu's QSBR flavour (see
 * qsbr.h).  Thread rule: a thread's batches (being filled, or held for
 * local reclamation) are its own until submitted to the reclaimer, after
 * which only the reclaimer touches them until it hands them back. */
#define RCGC_BUILDING 1
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu/urcu-qsbr.h>

#include "internal.h"
#include "qsbr.h"

#define QSBR_BATCH 256
/* The batches that came back to a thread (struct qsbr_box) are freed as it
 * retires more: QSBR_RETURNED_SLICE of them each time it fills a batch,
 * twice the rate they come back at, so any backlog drains (a batch is 256
 * frees, 2-6 us); at a quiescent state, those over QSBR_RETURNED_MAX (a
 * bound on the memory they hold); and a slice at each quiescent state
 * once QSBR_QUIET_STATES have passed with nothing retired (a thread that
 * stopped retiring still frees them all, and qsbr_barrier, which waits
 * for them, ends; a request passes many safepoints, and one that retires
 * in between does not pay for them there).  A grace
 * period returns many batches at once (latency-service, 2 threads:
 * 50-170): freed at once, they made the requests that reached a quiescent
 * state then 90-280 us longer, half of those over 100 us; freed a slice
 * per quiescent state, the same (a request passes many safepoints). */
#define QSBR_RETURNED_SLICE 2
#define QSBR_RETURNED_MAX 256
#define QSBR_QUIET_STATES 64

/* The reclaimer ends grace periods in rounds, at most one per
 * QSBR_ROUND_NS: what waits for a grace period is about a round's
 * retirements (latency-service, 2 threads: 24-37 batches on average, at
 * most 59-192, against 250-550 with liburcu's call_rcu worker, which
 * sleeps 10 ms after every round),
 * and the futex wake-ups a waiting grace period costs the readers stay at
 * a thousand a second.  It asks for a short CPU slice
 * (rc_thread_cpu_slice): on a machine whose CPUs the workers keep busy, a
 * waking thread with the default slice waits for the next scheduler tick
 * (4 ms at 250 Hz). */
#define QSBR_ROUND_NS 1000000u
#define QSBR_RECLAIMER_SLICE_NS 100000u

/* Batches submitted to the reclaimer and not yet back or freed,
 * process-wide (one runtime at a time; the reclaimer is the process's).
 * qsbr_barrier waits for this and boxed_batches to reach 0. */
static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pending_cv = PTHREAD_COND_INITIALIZER;
/* Changed under pending_mu (so the condition variable sees it); read
 * relaxed by threads deciding whether to report a quiescent state. */
static _Atomic long pending_batches;

/* The reclaimer: rcgc's thread that ends the grace periods of submitted
 * batches, in place of liburcu's call_rcu worker (QSBR_ROUND_NS says
 * why).  Started by qsbr_start (rc_runtime_new, ft modes) and joined by
 * qsbr_stop (rc_runtime_free, after qsbr_barrier), both under
 * runtime_create_mu; one runtime exists at a time.  A round: sleep out what
 * is left of QSBR_ROUND_NS since the last round began, take the whole
 * queue, one urcu_qsbr_synchronize_rcu (the reclaimer is no reader),
 * then hand every batch back (grace_over). */
static struct qsbr_batch *queue;       /* submitted, waiting for a round,
                                          linked through next: under
                                          pending_mu */
static pthread_cond_t queue_cv = PTHREAD_COND_INITIALIZER;
                                       /* signalled (under pending_mu) when
                                          queue stops being empty, and by
                                          qsbr_stop */
static bool reclaimer_stop;            /* under pending_mu: set by qsbr_stop */
static bool reclaimer_running;         /* qsbr_start's and qsbr_stop's, both
                                          under runtime.c's
                                          runtime_create_mu */
static pthread_t reclaimer;            /* the same */

/* Blocks that could not be deferred for lack of memory (qsbr_retire). */
static _Atomic long qsbr_lost;

/* Registered threads that are online, process-wide (as liburcu's readers).
 * Only ever changed by read-modify-writes (acq_rel): each thread adds 1 and
 * subtracts 1 for itself (count_online, count_offline), and reclaim_held
 * reads it with a read-modify-write that adds 0, so all of them are in one
 * modification order and each acquires from every earlier one.
 * qsbr_retire reads it relaxed, as a hint.  reclaim_held says why that is
 * enough. */
static _Atomic long online_readers;

/* Where a batch goes once its grace period is over: back to the thread
 * that retired it, which frees the blocks itself at its next quiescent
 * state.  The allocator's free from the allocating thread is its fast
 * path; mimalloc takes a free from another thread (the reclaimer)
 * through a delayed-free list that the owner's next allocation works
 * through whole: with two threads, latency-service's requests stalled
 * 300-550 us inside malloc for a grace period's worth of batches
 * (BENCHMARKS.md).  While the thread is offline (detached, parked,
 * exited), a batch that comes back is freed by the reclaimer.
 * One per registered thread; freed by whoever drops its last reference. */
struct qsbr_box {
    /* Returned batches, linked through next: pushed by the reclaimer
     * (CAS), taken whole by an exchange, by the owner or by the reclaimer
     * when it finds the owner offline.  seq_cst, with online: a push
     * while the owner goes offline either sees it offline and takes the
     * stack itself, or the owner's exchange after its store sees the
     * push. */
    _Atomic(struct qsbr_batch *) head;
    _Atomic bool online;       /* owner online: written by the owner (seq_cst) */
    _Atomic long refs;         /* the owner's until it unregisters, and one
                                  per batch submitted (acq_rel) */
};

struct qsbr_batch {
    struct qsbr_batch *next;   /* held list or returned list (owner thread),
                                  the reclaimer's queue or round, or a box's
                                  stack */
    struct qsbr_box *box;      /* where it goes back to, or NULL */
    size_t n;
    void *ptrs[QSBR_BATCH];
};

/* Batches in boxes, not yet freed (qsbr_barrier waits for 0): added by
 * the reclaimer before the batch stops counting as pending, taken off by
 * whoever drains it; seq_cst read-modify-writes, read under pending_mu by
 * qsbr_barrier and batches_done. */
static _Atomic long boxed_batches;

/* ThreadSanitizer annotations: liburcu 0.13's grace periods are invisible
 * to TSan (inline assembly and futexes), so make them visible on one
 * synchronisation address: released at every quiescent state and going
 * offline, acquired by the reclaimer after each grace period. */
#if defined(__SANITIZE_THREAD__)
#define QSBR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QSBR_TSAN 1
#endif
#endif
#ifdef QSBR_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static char tsan_grace;
#define TSAN_RELEASE() __tsan_release(&tsan_grace)
#define TSAN_ACQUIRE() __tsan_acquire(&tsan_grace)
#else
#define TSAN_RELEASE() ((void)0)
#define TSAN_ACQUIRE() ((void)0)
#endif

/* An unbalanced pair would make the count lie, and reclaim_held free what a
 * reader holds: checked in every build (these are not hot paths). */
static void count_online(struct qsbr_thread_state *q)
{
    if (q->online)
        rc_fatal("qsbr: a thread came online twice");
    q->online = true;
    /* acquire: our lock-free loads see what a thread unpublished before
     * its reclaim_held that came earlier in the count's order. */
    atomic_fetch_add_explicit(&online_readers, 1, memory_order_acq_rel);
}

static void count_offline(struct qsbr_thread_state *q)
{
    if (!q->online)
        rc_fatal("qsbr: a thread went offline twice");
    q->online = false;
    /* release: what we did with lock-free pointers happens before the
     * frees of a reclaim_held that comes later in the count's order. */
    atomic_fetch_sub_explicit(&online_readers, 1, memory_order_acq_rel);
}

static void drain_box(struct qsbr_box *box);
static void take_box(struct qsbr_thread_state *q);
static void free_returned(struct qsbr_thread_state *q, long max);

void qsbr_register(struct thr_state *ts)
{
    /* No memory for a box: the reclaimer frees this thread's batches. */
    struct qsbr_box *box = malloc(sizeof *box);
    if (box != NULL) {
        atomic_init(&box->head, NULL);
        atomic_init(&box->online, true);
        atomic_init(&box->refs, 1);
    }
    ts->qsbr.box = box;
    urcu_qsbr_register_thread();   /* online from here */
    ts->qsbr.registered = true;
    count_online(&ts->qsbr);
}

/* The owner goes offline: returned batches are the reclaimer's to free from
 * now on, and what came back before is freed now. */
static void box_offline(struct qsbr_thread_state *q)
{
    if (q->box != NULL) {
        atomic_store(&q->box->online, false);
        take_box(q);
    }
    free_returned(q, LONG_MAX);
}

static void box_online(struct qsbr_thread_state *q)
{
    if (q->box != NULL)
        atomic_store(&q->box->online, true);
}

/* A retired pointer's grace period is over: free the block, or, tagged
 * QSBR_RECORD, give an exited thread's owner record back for reuse
 * (gclist.h).  Any thread, the reclaimer included. */
static void release_retired(void *p)
{
    if ((uintptr_t)p & QSBR_RECORD)
        gcl_owner_reusable((struct gcl_owner *)((uintptr_t)p & ~QSBR_RECORD));
    else
        mem_free(p);
}

/* The batches counts went down: wake qsbr_barrier if both are 0. */
static void batches_done(_Atomic long *count, long k)
{
    pthread_mutex_lock(&pending_mu);
    if (atomic_fetch_sub(count, k) == k &&
        atomic_load(&pending_batches) + atomic_load(&boxed_batches) == 0)
        pthread_cond_broadcast(&pending_cv);
    pthread_mutex_unlock(&pending_mu);
}

static void box_unref(struct qsbr_box *box)
{
    /* acq_rel: the last one frees it after every other's use. */
    if (atomic_fetch_sub_explicit(&box->refs, 1, memory_order_acq_rel) == 1)
        free(box);
}

/* Free every batch in the box of an owner that is offline (the reclaimer,
 * which found it so).  The exchange (seq_cst, so acquire) orders the frees
 * after the reclaimer's pushes, which came after their grace periods. */
static void drain_box(struct qsbr_box *box)
{
    struct qsbr_batch *b = atomic_exchange(&box->head, NULL);
    long k = 0;
    while (b != NULL) {
        struct qsbr_batch *next = b->next;
        for (size_t i = 0; i < b->n; i++)
            release_retired(b->ptrs[i]);
        free(b);
        b = next;
        k++;
    }
    if (k > 0)
        batches_done(&boxed_batches, k);
}

/* The owner takes what came back to its box into its own list (the
 * exchange orders the frees after the pushes, as drain_box's). */
static void take_box(struct qsbr_thread_state *q)
{
    struct qsbr_batch *b = atomic_exchange(&q->box->head, NULL);
    while (b != NULL) {
        struct qsbr_batch *next = b->next;
        b->next = q->returned;
        q->returned = b;
        q->nreturned++;
        b = next;
    }
}

/* The owner frees up to max of the batches it took back (and more while
 * over QSBR_RETURNED_MAX are left), keeping one for its next
 * retirements. */
static void free_returned(struct qsbr_thread_state *q, long max)
{
    long k = 0;
    while (q->returned != NULL && (k < max || q->nreturned > QSBR_RETURNED_MAX)) {
        struct qsbr_batch *b = q->returned;
        q->returned = b->next;
        q->nreturned--;
        for (size_t i = 0; i < b->n; i++)
            release_retired(b->ptrs[i]);
        q->freed_returned += b->n;
        if (q->batch == NULL) {
            b->n = 0;   /* reuse it for the next retirements */
            q->batch = b;
        } else {
            free(b);
        }
        k++;
    }
    if (k > 0)
        batches_done(&boxed_batches, k);
}

/* The grace period of b is over (the reclaimer, after its
 * synchronize_rcu): back to its thread's box, or freed here. */
static void grace_over(struct qsbr_batch *b)
{
    struct qsbr_box *box = b->box;
    if (box != NULL) {
        /* Back to its thread (struct qsbr_box); counted as boxed before
         * it stops counting as pending, so qsbr_barrier never sees 0 in
         * between. */
        atomic_fetch_add(&boxed_batches, 1);
        struct qsbr_batch *top = atomic_load(&box->head);
        do
            b->next = top;
        while (!atomic_compare_exchange_weak(&box->head, &top, b));
        if (!atomic_load(&box->online))
            drain_box(box);
        box_unref(box);
    } else {
        /* The blocks came from mem_alloc and friends (objects, gc_heads,
         * item arrays, tables): mem_free, whose allocator takes frees from
         * a thread that did not allocate (this is the reclaimer).  The
         * batch itself is malloc'd (qsbr_retire). */
        for (size_t i = 0; i < b->n; i++)
            release_retired(b->ptrs[i]);
        free(b);
    }
    batches_done(&pending_batches, 1);
}

static void *reclaimer_main(void *arg)
{
    (void)arg;
    (void)rc_thread_cpu_slice(QSBR_RECLAIMER_SLICE_NS);   /* best effort */
    uint64_t began = 0;
    pthread_mutex_lock(&pending_mu);
    for (;;) {
        while (queue == NULL && !reclaimer_stop)
            pthread_cond_wait(&queue_cv, &pending_mu);
        if (queue == NULL)
            break;   /* stopping, and nothing left (qsbr_barrier waited) */
        pthread_mutex_unlock(&pending_mu);
        uint64_t next = began + QSBR_ROUND_NS;
        if (rc_clock_ns() < next) {
            struct timespec t = {.tv_sec = (time_t)(next / 1000000000u),
                                 .tv_nsec = (long)(next % 1000000000u)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
                ;
        }
        pthread_mutex_lock(&pending_mu);
        struct qsbr_batch *round = queue;
        queue = NULL;
        pthread_mutex_unlock(&pending_mu);
        began = rc_clock_ns();
        urcu_qsbr_synchronize_rcu();
        /* Every reader's accesses before its last quiescent state (or
         * going offline) happen before this (TSan: acquire what they
         * released). */
        TSAN_ACQUIRE();
        while (round != NULL) {
            struct qsbr_batch *b = round;
            round = b->next;
            grace_over(b);
        }
        pthread_mutex_lock(&pending_mu);
    }
    pthread_mutex_unlock(&pending_mu);
    return NULL;
}

int qsbr_start(void)
{
    if (reclaimer_running)
        return 0;
    pthread_mutex_lock(&pending_mu);
    reclaimer_stop = false;
    pthread_mutex_unlock(&pending_mu);
    /* With every signal blocked, as liburcu's own worker: a process-wide
     * signal (SIGINT, SIGALRM, SIGPROF...) must not run the program's
     * handler on a thread that has no thread state. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&reclaimer, NULL, reclaimer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0)
        return err_int(RC_ERR_RUNTIME, "cannot start the runtime's reclaimer thread: %s",
                       strerror(e));
    reclaimer_running = true;
    return 0;
}

void qsbr_stop(void)
{
    if (!reclaimer_running)
        return;
    pthread_mutex_lock(&pending_mu);
    reclaimer_stop = true;
    pthread_cond_signal(&queue_cv);
    pthread_mutex_unlock(&pending_mu);
    pthread_join(reclaimer, NULL);
    reclaimer_running = false;
}

/* Hand the batch to the reclaimer and ask every thread, this one included, to
 * report quiescent states at its safepoints while batches are pending
 * (RC_EB_QSBR stays set until none is: a single report may come before the
 * reclaimer starts waiting for the grace period, and would not end it).  A
 * lone busy thread, which neither parks nor detaches, ends grace periods
 * this way.  Not here and now: the caller may be in the middle of an
 * operation that holds lock-free pointers.  Caller online. */
static void submit(struct thr_state *ts, struct qsbr_batch *b)
{
    b->box = ts->qsbr.box;
    if (b->box != NULL)
        atomic_fetch_add_explicit(&b->box->refs, 1, memory_order_relaxed);   /* ours is held */
    TSAN_RELEASE();   /* our writes to the retired blocks */
    pthread_mutex_lock(&pending_mu);
    atomic_fetch_add(&pending_batches, 1);
    b->next = queue;
    if (queue == NULL)
        pthread_cond_signal(&queue_cv);
    queue = b;
    pthread_mutex_unlock(&pending_mu);
    struct rc_runtime *rt = ts->rt;
    pthread_mutex_lock(&rt->mu);
    for (struct thr_state *t = rt->threads; t != NULL; t = t->next)
        /* release: pairs with the acquire re-read in rc_safepoint_slow. */
        rc_atomic_or_release(t->eval_breaker, RC_EB_QSBR);
    pthread_mutex_unlock(&rt->mu);
}

/* Local reclamation.  Free the batches ts holds if ts is the only online
 * reader; otherwise submit them (if may_submit) or keep them.  Called where
 * ts holds no pointer loaded lock-free (a quiescent state, going offline,
 * unregistering) and is online.
 *
 * Freeing here is safe when the count, read by a read-modify-write (acq_rel)
 * that adds 0, is 1 (ts itself).  Every held block was unpublished (no
 * container, item array or table led to it any more) before it was retired,
 * so before that read-modify-write.  All changes to the count are
 * read-modify-writes, in one modification order.  Take any other reader B:
 * the count cannot read 1 while B is between its increment and its
 * decrement (ts is counted too), so our read-modify-write comes either
 *   - before B's increment: B's increment acquires from it (every later
 *     change is a read-modify-write, in its release sequence), so B's
 *     lock-free loads after it see the unpublishing stores, and B cannot
 *     reach these blocks; or
 *   - after B's decrement: it acquires from that release, so B's accesses
 *     while online (B holds no lock-free pointer across going offline)
 *     happen before our frees.
 * A thread that is offline, parked or detached is not counted and holds no
 * lock-free pointer (qsbr.h).  No fence: ThreadSanitizer sees all of it. */
static void reclaim_held(struct thr_state *ts, bool may_submit)
{
    struct qsbr_batch *held = ts->qsbr.held;
    if (held == NULL)
        return;
    if (atomic_fetch_add_explicit(&online_readers, 0, memory_order_acq_rel) == 1) {
        ts->qsbr.held = NULL;
        while (held != NULL) {
            struct qsbr_batch *b = held;
            held = b->next;
            for (size_t i = 0; i < b->n; i++)
                release_retired(b->ptrs[i]);
            ts->qsbr.freed_locally += b->n;
            if (ts->qsbr.batch == NULL) {
                b->n = 0;   /* reuse it for the next retirements */
                ts->qsbr.batch = b;
            } else {
                free(b);
            }
        }
    } else if (may_submit) {
        ts->qsbr.held = NULL;
        while (held != NULL) {
            struct qsbr_batch *b = held;
            held = b->next;
            submit(ts, b);
        }
    }
}

void qsbr_unregister(struct thr_state *ts)
{
    if (!ts->qsbr.registered)
        return;
    reclaim_held(ts, true);
    struct qsbr_batch *b = ts->qsbr.batch;
    ts->qsbr.batch = NULL;
    if (b != NULL && b->n > 0)
        submit(ts, b);
    else
        free(b);
    box_offline(&ts->qsbr);
    free(ts->qsbr.batch);   /* a batch free_returned kept for reuse */
    ts->qsbr.batch = NULL;
    if (ts->qsbr.box != NULL)
        box_unref(ts->qsbr.box);
    ts->qsbr.box = NULL;
    TSAN_RELEASE();
    count_offline(&ts->qsbr);
    urcu_qsbr_unregister_thread();
    ts->qsbr.registered = false;
}

void qsbr_online(struct thr_state *ts)
{
    if (ts->qsbr.registered) {
        urcu_qsbr_thread_online();
        count_online(&ts->qsbr);
        box_online(&ts->qsbr);
    }
}

static void go_offline(struct thr_state *ts, bool parking)
{
    if (ts->qsbr.registered) {
        /* Free what we hold if we are alone, but never submit here: going
         * offline stays cheap and takes no lock of ours (it runs on every
         * detach and park, and under stw.mu in stw_stop).  Kept batches
         * wait for our next quiescent state (our RC_EB_QSBR stays set) or
         * our exit: only those filled since our last safepoint, while we
         * were alone. */
        reclaim_held(ts, false);
        /* What came back to us: freed now when we detach (for as long as
         * we like); left in the box when we park for a stop, which waits
         * for us (the reclaimer, if it comes meanwhile, frees the lot; else we
         * do once online again). */
        if (parking) {
            if (ts->qsbr.box != NULL)
                atomic_store(&ts->qsbr.box->online, false);
        } else {
            box_offline(&ts->qsbr);
        }
        TSAN_RELEASE();
        count_offline(&ts->qsbr);
        urcu_qsbr_thread_offline();
    }
}

void qsbr_offline(struct thr_state *ts)
{
    go_offline(ts, false);
}

void qsbr_offline_to_park(struct thr_state *ts)
{
    go_offline(ts, true);
}

void qsbr_quiescent(struct thr_state *ts)
{
    if (ts->qsbr.registered) {
        reclaim_held(ts, true);
        /* relaxed: a hint; the exchange orders the frees. */
        struct qsbr_thread_state *q = &ts->qsbr;
        if (q->box != NULL && atomic_load_explicit(&q->box->head, memory_order_relaxed))
            take_box(q);
        if (q->retired != q->retired_seen) {
            q->retired_seen = q->retired;
            q->quiet_states = 0;
        } else if (q->returned != NULL && q->quiet_states < QSBR_QUIET_STATES) {
            q->quiet_states++;
        }
        /* Those over the bound; a slice once the thread stopped retiring. */
        free_returned(q, q->quiet_states >= QSBR_QUIET_STATES ? QSBR_RETURNED_SLICE : 0);
        TSAN_RELEASE();
        urcu_qsbr_quiescent_state();
    }
}

void qsbr_retire(struct thr_state *ts, void *p)
{
    struct qsbr_batch *b = ts->qsbr.batch;
    if (b == NULL) {
        b = malloc(sizeof *b);
        if (b == NULL) {
            /* No memory to defer with.  Waiting for a grace period here
             * could wait forever (the caller may hold a lock, or the world
             * stopped, that another online thread waits for), and freeing
             * now could free memory a reader still holds: keep the block
             * (it is lost) and say so once. */
            if (atomic_fetch_add(&qsbr_lost, 1) == 0)
                fprintf(stderr, "rcgc: out of memory deferring a free; "
                        "memory is being leaked to stay safe\n");
            return;
        }
        b->n = 0;
        ts->qsbr.batch = b;
    }
    b->ptrs[b->n++] = p;
    ts->qsbr.retired++;
    if (b->n == QSBR_BATCH) {
        ts->qsbr.batch = NULL;
        /* A batch made, some of those back from their grace periods freed
         * (callers may hold an object's lock; this takes only leaf locks:
         * pending_mu, and owners_mu for an owner record). */
        free_returned(&ts->qsbr, QSBR_RETURNED_SLICE);
        /* relaxed: a hint (alone now, likely alone at our next quiescent
         * state); reclaim_held decides.  Not alone: submit at once rather
         * than keep the batch across a detach. */
        if (atomic_load_explicit(&online_readers, memory_order_relaxed) == 1) {
            /* Alone: keep it for our next quiescent state, which the bit
             * asks for (the safepoint clears it before calling
             * qsbr_quiescent, which empties the held list). */
            b->next = ts->qsbr.held;
            ts->qsbr.held = b;
            rc_atomic_or_release(ts->eval_breaker, RC_EB_QSBR);
        } else {
            submit(ts, b);
        }
    }
}

bool qsbr_idle(struct thr_state *ts)
{
    /* seq_cst: the reclaimer pushes a batch into our box before the batch
     * stops counting as pending, so we see one or the other. */
    return atomic_load(&pending_batches) == 0 && ts->qsbr.returned == NULL &&
           (ts->qsbr.box == NULL || atomic_load(&ts->qsbr.box->head) == NULL);
}

void qsbr_barrier(void)
{
    /* Grace periods still end while we wait: the caller is offline, and a
     * thread that is online reports quiescent states at its safepoints
     * (and frees what came back to it). */
    pthread_mutex_lock(&pending_mu);
    while (atomic_load(&pending_batches) + atomic_load(&boxed_batches) > 0)
        pthread_cond_wait(&pending_cv, &pending_mu);
    pthread_mutex_unlock(&pending_mu);
}
