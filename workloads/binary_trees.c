/* workloads/binary_trees.c: "binary-trees", the GCBench / benchmarks-game
 * allocation benchmark.
 *
 * Models: a program that allocates many short-lived, acyclic, GC-tracked
 * objects while a large long-lived structure sits in the heap.  Reference
 * counting frees every tree; the collector still runs (young collections
 * are triggered by tracked allocations) and pays for scanning what
 * survives, as in CPython.
 *
 * Shape: a long-lived tree of depth D (--depth, default BT_DEPTH) is built first
 * and kept to the end; then for d = 4, 6, ..., D, 2^(D-d+4) trees of depth d
 * are built bottom-up (children before parent), walked (nodes counted) and
 * dropped.  Nodes are instances of a 2-slot type Node(left, right); a leaf
 * holds None twice.  A tree of depth d has 2^(d+1)-1 nodes.
 *
 * Threads: the trees of each depth are split over --threads workers
 * (default 1); the long-lived tree belongs to the thread that runs run().
 *
 * Verifies: every walked tree has exactly 2^(d+1)-1 well-formed nodes, the
 * total counted is sum_d 2^(D-d+4) * (2^(d+1)-1), and the long-lived tree
 * still has 2^(D+1)-1 nodes at the end.  ops = nodes allocated.
 */
#include "sizes.h"
#include "wl_util.h"

extern const rc_workload wl_binary_trees;

struct bt_shared {
    wl_context *ctx;
    rc_type *node;
    long depth;
    int threads;
    struct wl_error err;
};

struct bt_worker {
    struct bt_shared *sh;
    int index;
    uint64_t counted;   /* nodes counted by this worker's walks */
};

static long bt_nodes(long d)
{
    return (2L << d) - 1;
}

static long bt_iterations(long max_depth, long d)
{
    return 1L << (max_depth - d + BT_MIN_DEPTH);
}

/* A tree of depth d, children before the parent.  New reference, or NULL
 * with an rcgc error set (nothing left behind). */
static rc_object *bt_build(rc_type *node, long d)
{
    if (d == 0)
        return rc_instance_new(node);
    rc_object *l = bt_build(node, d - 1);
    if (l == NULL)
        return NULL;
    rc_object *r = bt_build(node, d - 1);
    rc_object *n = r != NULL ? rc_instance_new(node) : NULL;
    if (n != NULL && (rc_slot_set(n, 0, l) < 0 || rc_slot_set(n, 1, r) < 0)) {
        rc_decref(n);
        n = NULL;
    }
    rc_decref(l);
    rc_decref(r);
    return n;
}

/* Nodes in the tree, or -1 if some node is not a Node or has one child. */
static long bt_count(rc_object *n, const rc_type *node)
{
    if (rc_type_of(n) != node)
        return -1;
    rc_safepoint();   /* as an interpreter checks its eval breaker per call */
    rc_object *l = rc_slot_get(n, 0), *r = rc_slot_get(n, 1);
    long c;
    if (l == rc_none() && r == rc_none()) {
        c = 1;
    } else if (l == NULL || r == NULL || l == rc_none() || r == rc_none()) {
        c = -1;
    } else {
        long a = bt_count(l, node);
        long b = a < 0 ? -1 : bt_count(r, node);
        c = b < 0 ? -1 : 1 + a + b;
    }
    rc_decref(l);
    rc_decref(r);
    return c;
}

static void bt_worker_main(void *arg)
{
    struct bt_worker *w = arg;
    struct bt_shared *sh = w->sh;
    long D = sh->depth;
    double total = 0, done = 0;
    for (long d = BT_MIN_DEPTH; d <= D; d += 2)
        total += (double)wl_share(bt_iterations(D, d), sh->threads, w->index) *
                 (double)bt_nodes(d);
    for (long d = BT_MIN_DEPTH; d <= D && !wl_failed(&sh->err); d += 2) {
        long mine = wl_share(bt_iterations(D, d), sh->threads, w->index);
        long expect = bt_nodes(d);
        for (long i = 0; i < mine; i++) {
            rc_object *t = bt_build(sh->node, d);
            if (t == NULL) {
                wl_error_rc(&sh->err, "building a tree");
                return;
            }
            long c = bt_count(t, sh->node);
            rc_decref(t);
            if (c != expect) {
                wl_error_set(&sh->err, "a tree of depth %ld has %ld nodes, not %ld", d, c,
                             expect);
                return;
            }
            w->counted += (uint64_t)c;
            done += (double)c;
            if (w->index == 0 && (i & 63) == 63 && total > 0)
                wl_progress(sh->ctx, done / total);
            if ((i & 1023) == 1023 && wl_failed(&sh->err))
                return;
        }
    }
    if (w->index == 0)
        wl_progress(sh->ctx, 1.0);
}

static int bt_run(wl_context *ctx)
{
    const wl_params *p = ctx->params;
    if (wl_check_params(ctx, &wl_binary_trees) < 0)
        return -1;
    struct bt_shared sh = {.ctx = ctx, .depth = p->depth, .threads = p->threads};
    size_t live_at_start = rc_live_objects();
    ctx->ops = 0;
    sh.node = rc_type_new("Node", 2, NULL);
    if (sh.node == NULL) {
        wl_error_rc(&sh.err, "rc_type_new");
        return wl_fail_summary(ctx, "binary-trees", &sh.err);
    }
    rc_object *long_lived = bt_build(sh.node, p->depth);
    if (long_lived == NULL) {
        wl_error_rc(&sh.err, "building the long-lived tree");
        return wl_fail_summary(ctx, "binary-trees", &sh.err);
    }
    uint64_t allocated = (uint64_t)bt_nodes(p->depth);

    struct bt_worker *w = calloc((size_t)p->threads, sizeof *w);
    if (w == NULL) {
        rc_decref(long_lived);
        snprintf(ctx->summary, sizeof ctx->summary, "binary-trees: out of memory");
        return -1;
    }
    for (int i = 0; i < p->threads; i++)
        w[i] = (struct bt_worker){.sh = &sh, .index = i};
    wl_run_workers(p->threads, bt_worker_main, w, sizeof *w, &sh.err);
    wl_work_done(ctx);

    uint64_t counted = 0, expected = 0;
    for (int i = 0; i < p->threads; i++)
        counted += w[i].counted;
    free(w);
    for (long d = BT_MIN_DEPTH; d <= p->depth; d += 2)
        expected += (uint64_t)bt_iterations(p->depth, d) * (uint64_t)bt_nodes(d);
    allocated += counted;
    ctx->ops = allocated;

    long ll = bt_count(long_lived, sh.node);
    rc_decref(long_lived);
    if (wl_failed(&sh.err))
        return wl_fail_summary(ctx, "binary-trees", &sh.err);
    if (counted != expected) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "binary-trees: walked %llu nodes in short-lived trees, expected %llu",
                 (unsigned long long)counted, (unsigned long long)expected);
        return -1;
    }
    if (ll != bt_nodes(p->depth)) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "binary-trees: the long-lived tree has %ld nodes at the end, not %ld", ll,
                 bt_nodes(p->depth));
        return -1;
    }
    long left = wl_leftover(live_at_start);
    if (left != 0) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "binary-trees: %ld objects left behind after the run", left);
        return -1;
    }
    snprintf(ctx->summary, sizeof ctx->summary,
             "depth %ld: %llu short-lived nodes walked ok, long-lived tree %ld nodes ok",
             p->depth, (unsigned long long)counted, ll);
    return 0;
}

static const wl_bound bt_bounds[] = {
    {"--depth", offsetof(wl_params, depth), BT_MIN_DEPTH, BT_MAX_DEPTH,
     "a tree of depth D has 2^(D+1)-1 nodes: at 26 the two trees held at once take about "
     "28 GiB"},
    {NULL, 0, 0, 0, NULL},
};

/* The long-lived tree and, per worker, the tree it builds and walks: the
 * deepest short-lived ones at the peak (no more at once than there are of
 * them).  Acyclic: reference counting frees every tree, nothing waits for
 * the collector.  p within bt_bounds. */
static double bt_peak_bytes(const wl_params *p, long threshold0)
{
    (void)threshold0;
    long deepest = p->depth - (p->depth - BT_MIN_DEPTH) % 2;
    long trees = bt_iterations(p->depth, deepest);
    double at_once = (double)(p->threads < trees ? p->threads : trees);
    return ((double)bt_nodes(p->depth) + at_once * (double)bt_nodes(deepest)) *
           WL_TREE_NODE_BYTES;
}

const rc_workload wl_binary_trees = {
    .name = "binary-trees",
    .description = "GCBench/benchmarks-game trees: a long-lived tree plus many short-lived ones",
    .size_flags = "--depth",
    .defaults = wl_binary_trees_defaults,
    .quick = wl_binary_trees_quick,
    .bounds = bt_bounds,
    .peak_bytes = bt_peak_bytes,
    .run = bt_run,
};
