/* workloads/wl_util.h: small helpers the workload files share (private to
 * workloads/, not part of the workload contract): a first-error-wins error
 * slot that worker threads fill, work splitting, per-thread seeds, the
 * driver callbacks (which may be NULL), starting and joining workers, and
 * the ring-shaped live heap that cycle-churn and latency-service keep.
 * Everything here is static inline and uses only the public API.
 */
#ifndef RCGC_WL_UTIL_H
#define RCGC_WL_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sizes.h"
#include "workload.h"

/* Upper bound on worker threads (sanity: each gets a thread state). */
#define WL_MAX_THREADS 1024

/* ---- errors: the first one wins; read msg only after joining ---- */

struct wl_error {
    atomic_int set;
    char msg[128];   /* fits in a summary after the workload name */
};

static inline void wl_error_set(struct wl_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void wl_error_set(struct wl_error *e, const char *fmt, ...)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&e->set, &expected, 1))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

/* Record the calling thread's rcgc error, naming what failed. */
static inline void wl_error_rc(struct wl_error *e, const char *what)
{
    const char *m = rc_error_message();
    wl_error_set(e, "%s failed: %s", what, m[0] != '\0' ? m : "(no error message)");
}

/* Non-zero once any thread recorded an error (workers poll it to stop). */
static inline int wl_failed(struct wl_error *e)
{
    return atomic_load_explicit(&e->set, memory_order_relaxed);
}

/* Copy the error into the summary (after every worker was joined). */
static inline int wl_fail_summary(wl_context *ctx, const char *workload, struct wl_error *e)
{
    snprintf(ctx->summary, sizeof ctx->summary, "%s: %s", workload, e->msg);
    return -1;
}

/* ---- parameters ---- */

/* Check the parameters against the workload's contract: threads in
 * [w->min_threads (at least 1), WL_MAX_THREADS] and every size within
 * w->bounds (wl_check_sizes); on failure write the reason to ctx->summary
 * and return -1. */
static inline int wl_check_params(wl_context *ctx, const rc_workload *w)
{
    const wl_params *p = ctx->params;
    int min_threads = w->min_threads > 1 ? w->min_threads : 1;
    if (p == NULL) {
        snprintf(ctx->summary, sizeof ctx->summary, "%s: no parameters", w->name);
        return -1;
    }
    if (p->threads < min_threads || p->threads > WL_MAX_THREADS) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "%s: --threads must be in %d..%d, not %d", w->name, min_threads,
                 WL_MAX_THREADS, p->threads);
        return -1;
    }
    return wl_check_sizes(w, p, ctx->summary, sizeof ctx->summary);
}

/* Cyclic garbage waiting for a collection, in tracked objects: of `total`
 * made over the run, at most threshold0 wait at once (the collector's
 * generation-0 threshold), all of them when it is 0 (no automatic
 * collection).  For rc_workload.peak_bytes. */
static inline double wl_garbage_waiting(double total, long threshold0)
{
    return threshold0 > 0 && total > (double)threshold0 ? (double)threshold0 : total;
}

/* Worker index's share of total (the first total % n workers get one more). */
static inline long wl_share(long total, int n, int index)
{
    return total / n + (index < total % n ? 1 : 0);
}

/* Sum of the shares of workers 0..index-1 (where index's share starts). */
static inline long wl_share_start(long total, int n, int index)
{
    return (total / n) * index + (index < total % n ? index : total % n);
}

/* ---- random numbers: per-thread seeds from the run's seed and index ---- */

static inline uint64_t wl_seed(uint64_t seed, int index)
{
    /* splitmix64 of (seed, index); never 0 (xorshift's fixed point). */
    uint64_t z = seed + 0x9e3779b97f4a7c15u * (uint64_t)(index + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return z != 0 ? z : 0x2545f4914f6cdd1du;
}

static inline uint64_t wl_rng(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---- driver callbacks (either may be NULL) ---- */

static inline void wl_progress(wl_context *ctx, double fraction)
{
    if (ctx->progress != NULL)
        ctx->progress(ctx, fraction < 0 ? 0 : fraction > 1 ? 1 : fraction);
}

static inline void wl_record(wl_context *ctx, int thread, uint64_t ns)
{
    if (ctx->record_op != NULL)
        ctx->record_op(ctx, thread, ns);
}

/* A worker finished its operation k (of `mine`, started at t0): record the
 * latency and count it in *done; every `every` operations (a power of two)
 * see whether another worker failed, and worker 0 reports progress.  0 to
 * go on, -1 to stop. */
static inline int wl_op_done(wl_context *ctx, struct wl_error *err, int index, long k, long mine,
                             uint64_t t0, long *done, long every)
{
    wl_record(ctx, index, rc_clock_ns() - t0);
    (*done)++;
    if ((k & (every - 1)) != every - 1)
        return 0;
    if (wl_failed(err))
        return -1;
    if (index == 0)
        wl_progress(ctx, (double)(k + 1) / (double)mine);
    return 0;
}

/* ---- workers ---- */

/* The measured part of run() is over (wl_context.work_done). */
static inline void wl_work_done(wl_context *ctx)
{
    if (ctx->work_done != NULL)
        ctx->work_done(ctx);
}

/* Run fn(args + i * size) on n new threads and join them all.  The caller
 * (attached) is detached while it joins.  0, or -1 with the error in *err;
 * the threads that did start are joined either way. */
static inline int wl_run_workers(int n, void (*fn)(void *), void *args, size_t size,
                                 struct wl_error *err)
{
    if (n < 1 || n > WL_MAX_THREADS) {
        wl_error_set(err, "%d worker threads (valid: 1..%d)", n, WL_MAX_THREADS);
        return -1;
    }
    rc_thread **t = calloc((size_t)n, sizeof *t);
    if (t == NULL) {
        wl_error_set(err, "out of memory for %d thread handles", n);
        return -1;
    }
    int started = 0, rc = 0;
    for (; started < n; started++) {
        t[started] = rc_thread_start(fn, (char *)args + (size_t)started * size);
        if (t[started] == NULL) {
            wl_error_rc(err, "rc_thread_start");
            rc = -1;
            break;
        }
    }
    for (int i = 0; i < started; i++) {
        if (rc_thread_join(t[i]) < 0) {
            wl_error_rc(err, "rc_thread_join");
            rc = -1;
        }
    }
    free(t);
    return rc;
}

/* Objects alive now minus at the start, after a full collection (which
 * also merges every pending refcount): 0 when the run dropped everything
 * it made.  Call with no worker running. */
static inline long wl_leftover(size_t live_at_start)
{
    rc_gc_collect(2);
    return (long)rc_live_objects() - (long)live_at_start;
}

/* ---- the live heap: rings of WL_RING nodes held by one list ----
 * Node type: 2 slots (next, value).  Node i (0-based, ring r = i / WL_RING,
 * position p = i % WL_RING) holds the int 1000 + i (mortal: above the small
 * ints) and points to the next node of its ring; the last node of a ring
 * points back to its first.  The list holds each ring's first node.  The
 * checksum covers every node's value and position; walking it also checks
 * that each ring closes after exactly its length. */

#define WL_RING 100

/* The bound of --live (rc_workload.bounds) of a workload that keeps it. */
#define WL_LIVE_BOUND                                                                       \
    {"--live", offsetof(wl_params, live), 1, WL_MAX_LIVE, "node values 1000 + i fit a long"}

/* rc_workload.peak_bytes of a workload that keeps a heap of `live` nodes
 * and makes `garbage` tracked objects of cyclic garbage over the run. */
static inline double wl_heap_peak_bytes(long live, double garbage, long threshold0)
{
    return (double)live * WL_HEAP_NODE_BYTES +
           wl_garbage_waiting(garbage, threshold0) * WL_GARBAGE_BYTES;
}

static inline uint64_t wl_heap_term(long i)
{
    long p = i % WL_RING;
    return (uint64_t)(1000 + i) * (uint64_t)(2 * p + 1) + (uint64_t)(i / WL_RING);
}

/* Build a heap of `live` nodes.  New reference to the list, or NULL with an
 * rcgc error set.  *checksum: what wl_heap_check must return. */
static inline rc_object *wl_heap_build(rc_type *node, long live, uint64_t *checksum)
{
    rc_object *heap = rc_list_new();
    rc_object *ring[WL_RING];
    uint64_t sum = 0;
    if (heap == NULL)
        return NULL;
    for (long first = 0; first < live; first += WL_RING) {
        long len = live - first < WL_RING ? live - first : WL_RING;
        int n = 0, ok = 1;
        for (; n < len; n++) {
            rc_object *v;
            ring[n] = rc_instance_new(node);
            v = ring[n] != NULL ? rc_int_new(1000 + first + n) : NULL;
            if (v == NULL || rc_slot_set(ring[n], 1, v) < 0) {
                rc_decref(v);
                n++;
                ok = 0;
                break;
            }
            rc_decref(v);
            sum += wl_heap_term(first + n);
        }
        for (int k = 0; ok && k < len; k++)
            ok = rc_slot_set(ring[k], 0, ring[(k + 1) % len]) == 0;
        if (ok)
            ok = rc_list_append(heap, ring[0]) == 0;
        /* On failure, break the ring (if linked) so refcounting frees it. */
        if (!ok && n > 0 && ring[0] != NULL)
            rc_slot_set(ring[0], 0, rc_none());
        for (int k = 0; k < n; k++)
            rc_decref(ring[k]);
        if (!ok) {
            /* The rings already built are cycles: the collector frees them.
             * Functions that succeed leave the error in place. */
            rc_decref(heap);
            return NULL;
        }
        rc_safepoint();
    }
    *checksum = sum;
    return heap;
}

/* Walk every ring of the heap; returns the checksum, or sets *bad to a
 * description of the first malformed node. */
static inline uint64_t wl_heap_check(rc_object *heap, const rc_type *node, long live,
                                     const char **bad)
{
    uint64_t sum = 0;
    long nrings = (live + WL_RING - 1) / WL_RING;
    *bad = NULL;
    if (rc_list_len(heap) != nrings) {
        *bad = "the heap list has the wrong length";
        return 0;
    }
    for (long r = 0; r < nrings && *bad == NULL; r++) {
        long first = r * WL_RING;
        long len = live - first < WL_RING ? live - first : WL_RING;
        rc_object *head = rc_list_get(heap, r);
        rc_object *cur = head;
        rc_incref(cur);
        for (long p = 0; p < len; p++) {
            if (cur == NULL || rc_type_of(cur) != node) {
                *bad = "a heap node has the wrong type";
                break;
            }
            rc_object *v = rc_slot_get(cur, 1);
            int64_t val = rc_is_int(v) ? rc_int_value(v) : -1;
            rc_decref(v);
            if (val != 1000 + first + p) {
                *bad = "a heap node holds the wrong value";
                break;
            }
            sum += wl_heap_term(first + p);
            rc_object *next = rc_slot_get(cur, 0);
            rc_decref(cur);
            cur = next;
        }
        if (*bad == NULL && cur != head)
            *bad = "a heap ring does not close after its length";
        rc_decref(cur);
        rc_decref(head);
        if ((r & 63) == 0)
            rc_safepoint();
    }
    return sum;
}

#endif /* RCGC_WL_UTIL_H */
