/* workloads/shared_objects.c: "shared-objects".
 *
 * Models: a shared cache whose entries are replaced while other threads
 * read them (a memoisation table, a session store, a configuration that is
 * reloaded piece by piece): the slots of shared instances, read and
 * written by every thread at once, with no lock of the program's own.  In
 * the ft modes this is what instance slots must survive (docs/threads.md
 * [thr.slots]): a reader gets the old or the new value, never freed memory.
 *
 * Sizes: a shared list of SO_ENTRIES Entry instances, made by the thread
 * that runs run(); each Entry's slot 0 holds a Val, an instance whose
 * slot 0 is an int id and slot 1 the int so_payload(id).  --iterations
 * operations in total (default SO_ITERATIONS: about half a second in gil
 * mode with 1 thread), one in SO_WRITE_EVERY a write.
 *
 * Threads: --threads workers (default 1) split the operations.  A read
 * borrows an Entry from the list (rc_list_get_borrowed), takes its Val and
 * the Val's id and payload, and checks them; --read says how:
 *   borrow (default)  rc_slot_get_borrowed: borrowed, no count written, so
 *                     readers on several cores share the cache lines
 *                     read-only;
 *   ref               rc_slot_get + rc_decref: a reference taken and
 *                     dropped per value, as CPython 3.13t does for an
 *                     attribute read (atomic count traffic on objects
 *                     another thread made).
 * A write makes a new Val with a fresh id (the worker's index in the high
 * bits) and stores it with rc_slot_set, dropping the old one.
 * Workers call rc_safepoint() every 256 operations (gil mode switches
 * there).
 *
 * Verifies: every Val read was intact (its payload matches its id, its id
 * was issued by some writer or the setup), or, read borrowed, was dying
 * (replaced meanwhile: its slots read None, counted); at the end each
 * Entry holds the last Val some worker wrote to it (or its first, if none
 * did), with a
 * reference count of exactly 1 (the Entry's), so every reference a read
 * took was dropped; nothing is left behind.  ops = reads + writes; the
 * summary gives reads/s and writes/s.
 */
#include "sizes.h"
#include "wl_util.h"

extern const rc_workload wl_shared_objects;

/* A fresh id: worker index + 1 in the high bits (0 for the setup's). */
#define SO_ID(worker, seq) (((int64_t)(worker) + 1) << 40 | (int64_t)(seq))

static int64_t so_payload(int64_t id)
{
    return (int64_t)(((uint64_t)id * 0x9E3779B97F4A7C15u) >> 4);
}

struct so_shared {
    wl_context *ctx;
    rc_object *cache;   /* list of SO_ENTRIES Entries (read-only list) */
    rc_type *val_type;
    long iterations;
    int read;           /* enum wl_read; set before the workers start */
    int threads;
    struct wl_error err;
};

struct so_worker {
    struct so_shared *sh;
    int index;
    long reads, writes;
    long died;                  /* borrowed reads that found their Val dying */
    int64_t last[SO_ENTRIES];   /* the id this worker last wrote to each Entry, or -1 */
};

static rc_object *so_val_new(rc_type *t, int64_t id)
{
    rc_object *v = rc_instance_new(t);
    rc_object *a = rc_int_new(id), *b = rc_int_new(so_payload(id));
    int ok = v != NULL && a != NULL && b != NULL && rc_slot_set(v, 0, a) == 0 &&
             rc_slot_set(v, 1, b) == 0;
    rc_decref(a);
    rc_decref(b);
    if (!ok) {
        rc_decref(v);
        return NULL;
    }
    return v;
}

#define SO_DIED (-2)   /* so_val_id: a borrowed Val died while it was read */

/* The id of an intact Val (its payload matches), or -1.  borrow: v may be
 * borrowed, and its ints are read borrowed; else v is a reference, and the
 * ints are taken and dropped.  A borrowed Val that a writer replaced may
 * die while we read it: its slots are then emptied, one by one, and read
 * None (docs/threads.md [thr.slots]), which gives SO_DIED. */
static int64_t so_val_id(const struct so_shared *sh, rc_object *v, bool borrow)
{
    if (v == NULL || rc_type_of(v) != sh->val_type)
        return -1;
    rc_object *a = borrow ? rc_slot_get_borrowed(v, 0) : rc_slot_get(v, 0);
    rc_object *b = borrow ? rc_slot_get_borrowed(v, 1) : rc_slot_get(v, 1);
    int64_t id = -1;
    if (rc_is_int(a) && rc_is_int(b) && rc_int_value(b) == so_payload(rc_int_value(a)))
        id = rc_int_value(a);
    else if (borrow && (a == rc_none() || b == rc_none()) && (rc_is_int(a) || a == rc_none()) &&
             (rc_is_int(b) || b == rc_none()))
        id = SO_DIED;
    if (!borrow) {
        rc_decref(a);
        rc_decref(b);
    }
    return id;
}

/* An id some writer may have issued: the setup's (worker -1: SO_ENTRIES of
 * them) or a worker's. */
static int so_id_valid(const struct so_shared *sh, int64_t id)
{
    if (id < 0)
        return 0;
    int64_t worker = (id >> 40) - 1;
    int64_t seq = id & (((int64_t)1 << 40) - 1);
    if (worker == -1)
        return seq < SO_ENTRIES;
    return worker < sh->threads && seq < sh->iterations;
}

static void so_worker_main(void *arg)
{
    struct so_worker *w = arg;
    struct so_shared *sh = w->sh;
    long n = wl_share(sh->iterations, sh->threads, w->index);
    uint64_t rng = wl_seed(sh->ctx->params->seed, w->index);
    long i = 0, seq = 0;
    bool borrow = sh->read == WL_READ_BORROW;
    for (int k = 0; k < SO_ENTRIES; k++)
        w->last[k] = -1;
    for (; i < n; i++) {
        uint64_t r = wl_rng(&rng);
        long k = (long)(r % SO_ENTRIES);
        if ((r >> 32) % SO_WRITE_EVERY == 0) {
            int64_t id = SO_ID(w->index, seq++);
            rc_object *v = so_val_new(sh->val_type, id);
            /* The list holds every Entry for the whole run: a reference
             * taken under it is ours until the decref. */
            rc_object *e = v != NULL ? rc_list_get(sh->cache, k) : NULL;
            if (e == NULL || rc_slot_set(e, 0, v) < 0) {
                wl_error_rc(&sh->err, "replacing an entry's value");
                rc_decref(e);
                rc_decref(v);
                break;
            }
            w->last[k] = id;
            rc_decref(e);
            rc_decref(v);
            w->writes++;
        } else {
            /* e (and, with borrow, v and its ints) are borrowed: used
             * before the next safepoint, below, only by calls that end no
             * borrow (docs/threads.md [thr.borrow]). */
            rc_object *e = rc_list_get_borrowed(sh->cache, k);
            rc_object *v = e == NULL ? NULL : borrow ? rc_slot_get_borrowed(e, 0)
                                                     : rc_slot_get(e, 0);
            if (v == NULL) {
                wl_error_rc(&sh->err, "reading an entry's value");
                break;
            }
            int64_t id = so_val_id(sh, v, borrow);
            if (!borrow)
                rc_decref(v);
            if (id == SO_DIED) {
                w->died++;
            } else if (!so_id_valid(sh, id)) {
                wl_error_set(&sh->err, "entry %ld held a broken value (id %lld)", k,
                             (long long)id);
                break;
            }
            w->reads++;
        }
        if ((i & 255) == 255) {
            rc_safepoint();
            if ((i & ((1 << 16) - 1)) == (1 << 16) - 1) {
                if (wl_failed(&sh->err))
                    break;
                if (w->index == 0)
                    wl_progress(sh->ctx, (double)(i + 1) / (double)n);
            }
        }
    }
    if (w->index == 0)
        wl_progress(sh->ctx, 1.0);
}

/* Each Entry holds, with a count of exactly 1, the last Val some worker
 * wrote to it, or its setup Val if none did.  -1 with err set otherwise. */
static int so_check_cache(struct so_shared *sh, const struct so_worker *w, int threads)
{
    for (long k = 0; k < SO_ENTRIES; k++) {
        rc_object *e = rc_list_get(sh->cache, k);
        rc_object *v = e != NULL ? rc_slot_get(e, 0) : NULL;
        rc_decref(e);
        if (v == NULL) {
            wl_error_rc(&sh->err, "reading the cache at the end");
            return -1;
        }
        int64_t id = so_val_id(sh, v, false);
        /* 2: the Entry's reference and the one rc_slot_get just gave us. */
        intptr_t count = rc_refcount(v);
        rc_decref(v);
        bool written = false, match = false;
        for (int t = 0; t < threads; t++) {
            written |= w[t].last[k] >= 0;
            match |= w[t].last[k] == id;
        }
        if (!written)
            match = id == SO_ID(-1, k);
        if (!match) {
            wl_error_set(&sh->err,
                         "entry %ld holds id %lld, which is no worker's last write to it", k,
                         (long long)id);
            return -1;
        }
        if (count != 2) {
            wl_error_set(&sh->err, "entry %ld's value has %ld references, not 1", k,
                         (long)count - 1);
            return -1;
        }
    }
    return 0;
}

static int so_run(wl_context *ctx)
{
    const wl_params *p = ctx->params;
    if (wl_check_params(ctx, &wl_shared_objects) < 0)
        return -1;
    if (wl_read_name(p->read) == NULL) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "shared-objects: --read must be one of %s, not %d", WL_READ_VALID, p->read);
        return -1;
    }
    struct so_shared sh = {.ctx = ctx, .iterations = p->iterations, .threads = p->threads,
                           .read = p->read};
    size_t live_at_start = rc_live_objects();
    ctx->ops = 0;
    /* Types live until the runtime is freed (rc_type_new). */
    rc_type *entry_type = rc_type_new("Entry", 1, NULL);
    sh.val_type = rc_type_new("Val", 2, NULL);
    sh.cache = entry_type != NULL && sh.val_type != NULL ? rc_list_new() : NULL;
    if (sh.cache == NULL) {
        wl_error_rc(&sh.err, "making the cache");
        return wl_fail_summary(ctx, "shared-objects", &sh.err);
    }
    for (long k = 0; k < SO_ENTRIES; k++) {
        rc_object *e = rc_instance_new(entry_type);
        rc_object *v = e != NULL ? so_val_new(sh.val_type, SO_ID(-1, k)) : NULL;
        int ok = v != NULL && rc_slot_set(e, 0, v) == 0 && rc_list_append(sh.cache, e) == 0;
        rc_decref(v);
        rc_decref(e);
        if (!ok) {
            wl_error_rc(&sh.err, "filling the cache");
            rc_decref(sh.cache);
            return wl_fail_summary(ctx, "shared-objects", &sh.err);
        }
    }

    struct so_worker *w = calloc((size_t)p->threads, sizeof *w);
    if (w == NULL) {
        rc_decref(sh.cache);
        snprintf(ctx->summary, sizeof ctx->summary, "shared-objects: out of memory");
        return -1;
    }
    for (int i = 0; i < p->threads; i++)
        w[i] = (struct so_worker){.sh = &sh, .index = i};
    uint64_t t0 = rc_clock_ns();
    wl_run_workers(p->threads, so_worker_main, w, sizeof *w, &sh.err);
    wl_work_done(ctx);
    double secs = (double)(rc_clock_ns() - t0) / 1e9;

    long reads = 0, writes = 0, died = 0;
    for (int i = 0; i < p->threads; i++) {
        reads += w[i].reads;
        writes += w[i].writes;
        died += w[i].died;
    }
    ctx->ops = (uint64_t)(reads + writes);
    rc_safepoint();   /* merge any counts queued to us (ft) */
    if (!wl_failed(&sh.err) && reads + writes != p->iterations)
        wl_error_set(&sh.err, "%ld operations done, not %ld", reads + writes, p->iterations);
    if (!wl_failed(&sh.err))
        so_check_cache(&sh, w, p->threads);
    free(w);
    rc_decref(sh.cache);
    long left = wl_leftover(live_at_start);
    if (wl_failed(&sh.err))
        return wl_fail_summary(ctx, "shared-objects", &sh.err);
    if (left != 0) {
        snprintf(ctx->summary, sizeof ctx->summary, "shared-objects: %ld objects left behind",
                 left);
        return -1;
    }
    if (secs <= 0)
        secs = 1e-9;
    snprintf(ctx->summary, sizeof ctx->summary,
             "%ld reads (%s, %.0f/s; %ld saw a replaced value die), %ld writes (%.0f/s), "
             "every value intact; cache ok",
             reads, wl_read_name(p->read), (double)reads / secs, died, writes,
             (double)writes / secs);
    return 0;
}

static const wl_bound so_bounds[] = {
    {"--iterations", offsetof(wl_params, iterations), 1, SO_MAX_ITERATIONS,
     "a writer's sequence numbers have 40 bits"},
    {NULL, 0, 0, 0, NULL},
};

/* The cache: SO_ENTRIES Entries, each with a Val and its two ints, plus the
 * Vals replaced but not yet freed (QSBR keeps them until a grace period:
 * a few batches per thread). */
static double so_peak_bytes(const wl_params *p, long threshold0)
{
    (void)threshold0;
    return (double)SO_ENTRIES * 3 * WL_TREE_NODE_BYTES +
           (double)p->threads * 1024 * 3 * WL_TREE_NODE_BYTES;
}

const rc_workload wl_shared_objects = {
    .name = "shared-objects",
    .description = "threads read and replace the values in the slots of shared instances "
                   "(a shared cache), no lock of their own",
    .size_flags = "--iterations",
    .defaults = wl_shared_objects_defaults,
    .quick = wl_shared_objects_quick,
    .bounds = so_bounds,
    .peak_bytes = so_peak_bytes,
    .run = so_run,
};
