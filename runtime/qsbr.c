/* runtime/qsbr.c: deferred freeing through liburcu's QSBR flavour (see
 * qsbr.h).  Thread rule: a thread's batches (being filled, or held for
 * local reclamation) are its own until handed to call_rcu, after which only
 * the callback touches them. */
#define RCGC_BUILDING 1
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Batches handed to call_rcu and not yet freed, process-wide (the worker
 * thread is liburcu's, shared by every runtime).  qsbr_barrier waits for
 * this to reach 0 instead of calling urcu_qsbr_barrier: that function
 * allocates a record that liburcu's worker frees with synchronisation
 * ThreadSanitizer cannot see (liburcu 0.13), while this mutex it can. */
static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pending_cv = PTHREAD_COND_INITIALIZER;
/* Changed under pending_mu (so the condition variable sees it); read
 * relaxed by threads deciding whether to report a quiescent state. */
static _Atomic long pending_batches;

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
 * path; mimalloc takes a free from another thread (liburcu's worker)
 * through a delayed-free list that the owner's next allocation works
 * through whole: with two threads, latency-service's requests stalled
 * 300-550 us inside malloc for a grace period's worth of batches
 * (BENCHMARKS.md).  While the thread is offline (detached, parked,
 * exited), a batch that comes back is freed by the callback, as before.
 * One per registered thread; freed by whoever drops its last reference. */
struct qsbr_box {
    /* Returned batches, linked through next: pushed by the callback (CAS),
     * taken whole by an exchange, by the owner or by a callback that finds
     * the owner offline.  seq_cst, with online: a callback that pushes
     * while the owner goes offline either sees it offline and takes the
     * stack itself, or the owner's exchange after its store sees the
     * push. */
    _Atomic(struct qsbr_batch *) head;
    _Atomic bool online;       /* owner online: written by the owner (seq_cst) */
    _Atomic long refs;         /* the owner's until it unregisters, and one
                                  per batch in call_rcu (acq_rel) */
};

struct qsbr_batch {
    struct rcu_head head;
    struct qsbr_batch *next;   /* held list (owner thread), or a box's stack */
    struct qsbr_box *box;      /* where it goes back to, or NULL */
    size_t n;
    void *ptrs[QSBR_BATCH];
};

/* Batches in boxes, not yet freed (qsbr_barrier waits for 0): added by
 * the callback before the batch stops counting as pending, taken off by
 * whoever drains it; seq_cst read-modify-writes, read under pending_mu by
 * qsbr_barrier and batches_done. */
static _Atomic long boxed_batches;

/* ThreadSanitizer annotations: liburcu 0.13's grace periods are invisible
 * to TSan, so make them visible on one synchronisation address. */
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
    /* No memory for a box: the callbacks free this thread's batches. */
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

/* The owner goes offline: returned batches are the callbacks' to free from
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
 * (gclist.h).  Any thread, liburcu's worker included. */
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

/* Free every batch in the box of an owner that is offline (a callback
 * that found it so).  The exchange (seq_cst, so acquire) orders the frees
 * after the callbacks' pushes, which came after their grace periods. */
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

static void free_batch(struct rcu_head *head)
{
    /* After a grace period: every reader's accesses before its last
     * quiescent state happen-before this (TSan: acquire what they
     * released). */
    TSAN_ACQUIRE();
    struct qsbr_batch *b = caa_container_of(head, struct qsbr_batch, head);
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
         * a thread that did not allocate (this is liburcu's worker).  The
         * batch itself is malloc'd (qsbr_retire). */
        for (size_t i = 0; i < b->n; i++)
            release_retired(b->ptrs[i]);
        free(b);
    }
    batches_done(&pending_batches, 1);
}

/* Hand the batch to call_rcu and ask every thread, this one included, to
 * report quiescent states at its safepoints while batches are pending
 * (RC_EB_QSBR stays set until none is: a single report may come before the
 * worker starts waiting for the grace period, and would not end it).  A
 * lone busy thread, which neither parks nor detaches, ends grace periods
 * this way.  Not here and now: the caller may be in the middle of an
 * operation that holds lock-free pointers.  Caller online. */
static void submit(struct thr_state *ts, struct qsbr_batch *b)
{
    pthread_mutex_lock(&pending_mu);
    atomic_fetch_add(&pending_batches, 1);
    pthread_mutex_unlock(&pending_mu);
    b->box = ts->qsbr.box;
    if (b->box != NULL)
        atomic_fetch_add_explicit(&b->box->refs, 1, memory_order_relaxed);   /* ours is held */
    TSAN_RELEASE();   /* our writes to b and to the retired blocks */
    urcu_qsbr_call_rcu(&b->head, free_batch);
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
         * for us (a callback that comes meanwhile frees the lot; else we
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
    /* seq_cst: a callback pushes a batch into our box before the batch
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
