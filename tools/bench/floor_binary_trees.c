/* tools/bench/floor_binary_trees.c: rcgc-floor-binary-trees, the
 * malloc/free floor of workloads/binary_trees.c.
 *
 * The same work: a long-lived tree of depth D (--depth, default BT_DEPTH) built
 * first and kept to the end; then for d = 4, 6, ..., D, 2^(D-d+4) trees of
 * depth d built bottom-up (children before parent), walked (nodes counted)
 * and freed, split over --threads workers (wl_share) exactly as the
 * workload splits them.  A node is a malloc'd struct of two child pointers
 * (the workload's 2-slot Node); a leaf holds two NULLs (None).  Freeing a
 * tree is the walk that rcgc's decref of the root does: children first.
 *
 * Verifies what the workload does: every walked tree has exactly
 * 2^(d+1)-1 well-formed nodes, the total counted is sum_d 2^(D-d+4) *
 * (2^(d+1)-1), the long-lived tree still has 2^(D+1)-1 nodes at the end;
 * and in place of the workload's live-object count, every node allocated
 * was freed.  ops = nodes allocated.
 */
#include "floor.h"
#include "sizes.h"

struct bt_node {
    struct bt_node *left, *right;
};

/* Written by the main thread before the workers start, then read only;
 * err is wl_util.h's first-error-wins slot (atomic, any thread). */
struct bt_shared {
    long depth;
    int threads;
    struct wl_error err;
};

/* One per worker: counted and freed are written by that worker only and
 * read by the main thread after the join (pthread_join orders them). */
struct bt_worker {
    struct bt_shared *sh;
    int index;
    uint64_t counted;   /* nodes counted by this worker's walks */
    uint64_t freed;     /* nodes it freed */
};

static long bt_nodes(long d)
{
    return (2L << d) - 1;
}

static long bt_iterations(long max_depth, long d)
{
    return 1L << (max_depth - d + BT_MIN_DEPTH);
}

/* A tree of depth d, children before the parent. */
static struct bt_node *bt_build(long d)
{
    struct bt_node *n;
    if (d == 0) {
        n = floor_malloc(sizeof *n);
        n->left = n->right = NULL;
        return n;
    }
    struct bt_node *l = bt_build(d - 1);
    struct bt_node *r = bt_build(d - 1);
    n = floor_malloc(sizeof *n);
    n->left = l;
    n->right = r;
    return n;
}

/* Nodes in the tree, or -1 if some node has one child. */
static long bt_count(const struct bt_node *n)
{
    if (n->left == NULL && n->right == NULL)
        return 1;
    if (n->left == NULL || n->right == NULL)
        return -1;
    long a = bt_count(n->left);
    long b = a < 0 ? -1 : bt_count(n->right);
    return b < 0 ? -1 : 1 + a + b;
}

/* Free the tree; returns the nodes freed. */
static uint64_t bt_free(struct bt_node *n)
{
    if (n == NULL)
        return 0;
    uint64_t c = bt_free(n->left) + bt_free(n->right);
    free(n);
    return c + 1;
}

static void bt_worker_main(void *arg)
{
    struct bt_worker *w = arg;
    struct bt_shared *sh = w->sh;
    long D = sh->depth;
    for (long d = BT_MIN_DEPTH; d <= D && !wl_failed(&sh->err); d += 2) {
        long mine = wl_share(bt_iterations(D, d), sh->threads, w->index);
        long expect = bt_nodes(d);
        for (long i = 0; i < mine; i++) {
            struct bt_node *t = bt_build(d);
            long c = bt_count(t);
            w->freed += bt_free(t);
            if (c != expect) {
                wl_error_set(&sh->err, "a tree of depth %ld has %ld nodes, not %ld", d, c,
                             expect);
                return;
            }
            w->counted += (uint64_t)c;
            if ((i & 1023) == 1023 && wl_failed(&sh->err))
                return;
        }
    }
}

static int bt_run(floor_ctx *ctx)
{
    const wl_params *p = &ctx->params;
    struct bt_shared sh = {.depth = p->depth, .threads = p->threads};
    struct bt_node *long_lived = bt_build(p->depth);
    uint64_t allocated = (uint64_t)bt_nodes(p->depth), freed = 0;

    struct bt_worker *w = floor_malloc((size_t)p->threads * sizeof *w);
    for (int i = 0; i < p->threads; i++)
        w[i] = (struct bt_worker){.sh = &sh, .index = i};
    floor_run_workers(p->threads, bt_worker_main, w, sizeof *w, &sh.err);
    floor_work_done(ctx);

    uint64_t counted = 0, expected = 0;
    for (int i = 0; i < p->threads; i++) {
        counted += w[i].counted;
        freed += w[i].freed;
    }
    free(w);
    for (long d = BT_MIN_DEPTH; d <= p->depth; d += 2)
        expected += (uint64_t)bt_iterations(p->depth, d) * (uint64_t)bt_nodes(d);
    allocated += counted;
    ctx->ops = allocated;

    long ll = bt_count(long_lived);
    freed += bt_free(long_lived);
    ctx->leaked = (long)(allocated - freed);
    if (wl_failed(&sh.err)) {
        snprintf(ctx->summary, sizeof ctx->summary, "binary-trees: %s", sh.err.msg);
        return -1;
    }
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
    snprintf(ctx->summary, sizeof ctx->summary,
             "depth %ld: %llu short-lived nodes walked ok, long-lived tree %ld nodes ok, "
             "%llu nodes freed",
             p->depth, (unsigned long long)counted, ll, (unsigned long long)freed);
    return 0;
}

static const floor_spec bt_spec = {
    .name = "binary-trees",
    .sizes = FLOOR_DEPTH,
    .depth_min = BT_MIN_DEPTH,
    .depth_max = BT_MAX_DEPTH,
    .defaults = wl_binary_trees_defaults,
    .quick = wl_binary_trees_quick,
    .run = bt_run,
};

int main(int argc, char **argv)
{
    return floor_main(&bt_spec, argc, argv);
}
