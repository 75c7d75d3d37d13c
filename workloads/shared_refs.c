/* workloads/shared_refs.c: "shared-refs".
 *
 * Models: threads that read shared objects without allocating (a shared
 * configuration, a module's globals, a cache).  --read says how a read
 * takes the item:
 *   borrow (default)  rc_list_get_borrowed: a borrowed reference, no count
 *                     written, used only before the next safepoint (the
 *                     runtime's read path for reads that do not escape;
 *                     docs/threads.md [thr.borrow]), so readers share the
 *                     items' cache lines read-only;
 *   ref               rc_list_get + rc_decref, a reference taken and
 *                     dropped per read, as CPython 3.13t does: the cost is
 *                     reference-count traffic on objects another thread
 *                     owns -- plain increments under the GIL, biased
 *                     counting's shared (atomic) path in ft mode, one
 *                     atomic per op in ft-atomic mode -- and with several
 *                     threads the items' cache lines move between cores.
 * Both add the lock-free list read.
 *
 * Sizes: a shared list of 1,000 mortal ints (value 1,000,000 + 37 i), made
 * by the thread that runs run(); --iterations reads in total (default
 * SR_ITERATIONS: about a second in gil mode with 1 thread).
 *
 * Threads: --threads workers (default 1) split the reads.  Worker t reads
 * index (start_t + n * stride_t) % 1000 at its n-th read, start and stride
 * (coprime with 1000) from its seed; it calls rc_safepoint() every 256
 * reads (gil mode switches there).
 *
 * Verifies: the sum of the values each worker read equals the sum computed
 * from its index sequence and the values' formula alone; afterwards every
 * item's reference count is exactly 1 again (the list's), so every take was
 * matched by a drop (ref) or no read wrote a count (borrow).  ops = reads.
 */
#include "sizes.h"
#include "wl_util.h"

#define SR_ITEMS 1000

extern const rc_workload wl_shared_refs;

struct sr_shared {
    wl_context *ctx;
    rc_object *list;
    long iterations;
    int threads;
    int read;   /* enum wl_read; set before the workers start, read-only after */
    struct wl_error err;
};

struct sr_worker {
    struct sr_shared *sh;
    int index;
    long start, stride, reads;
    uint64_t sum;
};

static int64_t sr_value(long i)
{
    return 1000000 + 37 * (int64_t)i;
}

static long sr_gcd(long a, long b)
{
    while (b != 0) {
        long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void sr_worker_main(void *arg)
{
    struct sr_worker *w = arg;
    struct sr_shared *sh = w->sh;
    rc_object *list = sh->list;
    long n = wl_share(sh->iterations, sh->threads, w->index);
    long idx = w->start;
    bool borrow = sh->read == WL_READ_BORROW;
    uint64_t sum = 0;
    long i = 0;
    for (; i < n; i++) {
        /* borrow: x is used before the next safepoint, below, and not
         * kept; ref: x is ours until the decref. */
        rc_object *x = borrow ? rc_list_get_borrowed(list, idx) : rc_list_get(list, idx);
        if (x == NULL) {
            wl_error_rc(&sh->err, borrow ? "rc_list_get_borrowed" : "rc_list_get");
            break;
        }
        sum += (uint64_t)rc_int_value(x);
        if (!borrow)
            rc_decref(x);
        idx += w->stride;
        if (idx >= SR_ITEMS)
            idx -= SR_ITEMS;
        if ((i & 255) == 255) {
            rc_safepoint();
            if ((i & ((1 << 20) - 1)) == (1 << 20) - 1) {
                if (wl_failed(&sh->err))
                    break;
                if (w->index == 0)
                    wl_progress(sh->ctx, (double)(i + 1) / (double)n);
            }
        }
    }
    w->sum = sum;
    w->reads = i;
    if (w->index == 0)
        wl_progress(sh->ctx, 1.0);
}

/* What worker w's reads must sum to: each run of 1000 consecutive reads
 * visits every index once (the stride is coprime with 1000). */
static uint64_t sr_expected(const struct sr_worker *w, long n)
{
    uint64_t all = 0, sum;
    for (long i = 0; i < SR_ITEMS; i++)
        all += (uint64_t)sr_value(i);
    sum = all * (uint64_t)(n / SR_ITEMS);
    long idx = w->start;
    for (long i = 0; i < n % SR_ITEMS; i++) {
        sum += (uint64_t)sr_value(idx);
        idx = (idx + w->stride) % SR_ITEMS;
    }
    return sum;
}

static int sr_run(wl_context *ctx)
{
    const wl_params *p = ctx->params;
    if (wl_check_params(ctx, &wl_shared_refs) < 0)
        return -1;
    if (wl_read_name(p->read) == NULL) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "shared-refs: --read must be one of %s, not %d", WL_READ_VALID, p->read);
        return -1;
    }
    struct sr_shared sh = {.ctx = ctx, .iterations = p->iterations, .threads = p->threads,
                           .read = p->read};
    size_t live_at_start = rc_live_objects();
    ctx->ops = 0;
    sh.list = rc_list_new();
    if (sh.list == NULL) {
        wl_error_rc(&sh.err, "rc_list_new");
        return wl_fail_summary(ctx, "shared-refs", &sh.err);
    }
    for (long i = 0; i < SR_ITEMS; i++) {
        rc_object *x = rc_int_new(sr_value(i));
        if (x == NULL || rc_list_append(sh.list, x) < 0) {
            wl_error_rc(&sh.err, "building the shared list");
            rc_decref(x);
            rc_decref(sh.list);
            return wl_fail_summary(ctx, "shared-refs", &sh.err);
        }
        rc_decref(x);
    }

    struct sr_worker *w = calloc((size_t)p->threads, sizeof *w);
    if (w == NULL) {
        rc_decref(sh.list);
        snprintf(ctx->summary, sizeof ctx->summary, "shared-refs: out of memory");
        return -1;
    }
    for (int i = 0; i < p->threads; i++) {
        uint64_t s = wl_seed(p->seed, i);
        long stride;
        do
            stride = 1 + (long)(wl_rng(&s) % (SR_ITEMS - 1));
        while (sr_gcd(stride, SR_ITEMS) != 1);
        w[i] = (struct sr_worker){.sh = &sh, .index = i,
                                  .start = (long)(wl_rng(&s) % SR_ITEMS), .stride = stride};
    }
    wl_run_workers(p->threads, sr_worker_main, w, sizeof *w, &sh.err);
    wl_work_done(ctx);

    long reads = 0, bad_thread = -1;
    uint64_t sum = 0, want = 0;
    for (int i = 0; i < p->threads; i++) {
        long n = wl_share(p->iterations, p->threads, i);
        uint64_t e = sr_expected(&w[i], n);
        reads += w[i].reads;
        sum += w[i].sum;
        want += e;
        if (bad_thread < 0 && (w[i].reads != n || w[i].sum != e))
            bad_thread = i;
    }
    free(w);
    ctx->ops = (uint64_t)reads;

    rc_safepoint();   /* merge any counts queued to us (ft) */
    long bad_item = -1;
    intptr_t bad_count = 0;
    for (long i = 0; i < SR_ITEMS && !wl_failed(&sh.err); i++) {
        rc_object *x = rc_list_get(sh.list, i);
        /* 2: the list's reference and the one rc_list_get just gave us. */
        intptr_t c = x != NULL ? rc_refcount(x) : -1;
        int ok = x != NULL && rc_int_value(x) == sr_value(i) && c == 2;
        rc_decref(x);
        if (!ok) {
            bad_item = i;
            bad_count = c - 1;
            break;
        }
    }
    rc_decref(sh.list);
    long left = wl_leftover(live_at_start);
    if (wl_failed(&sh.err))
        return wl_fail_summary(ctx, "shared-refs", &sh.err);
    if (bad_thread >= 0 || sum != want) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "shared-refs: read sum 0x%llx, expected 0x%llx (thread %ld wrong)",
                 (unsigned long long)sum, (unsigned long long)want, bad_thread);
        return -1;
    }
    if (bad_item >= 0) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "shared-refs: item %ld has reference count %ld after the reads, not 1 (or a "
                 "wrong value)", bad_item, (long)bad_count);
        return -1;
    }
    if (left != 0) {
        snprintf(ctx->summary, sizeof ctx->summary, "shared-refs: %ld objects left behind",
                 left);
        return -1;
    }
    snprintf(ctx->summary, sizeof ctx->summary,
             "%ld reads (%s), sum 0x%llx ok; every item's count back to 1", reads,
             wl_read_name(p->read), (unsigned long long)sum);
    return 0;
}

static const wl_bound sr_bounds[] = {
    {"--iterations", offsetof(wl_params, iterations), 1, SR_MAX_ITERATIONS,
     "reads are counted in a long"},
    {NULL, 0, 0, 0, NULL},
};

/* The shared list of SR_ITEMS ints, whatever the reads. */
static double sr_peak_bytes(const wl_params *p, long threshold0)
{
    (void)p;
    (void)threshold0;
    return (double)SR_ITEMS * WL_TREE_NODE_BYTES;
}

const rc_workload wl_shared_refs = {
    .name = "shared-refs",
    .description = "threads read the items of one shared list, borrowed or taking a "
                   "reference (--read), no allocation",
    .size_flags = "--iterations",
    .defaults = wl_shared_refs_defaults,
    .quick = wl_shared_refs_quick,
    .bounds = sr_bounds,
    .peak_bytes = sr_peak_bytes,
    .run = sr_run,
};
