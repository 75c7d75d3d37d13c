/* workloads/cycle_churn.c: "cycle-churn".
 *
 * Models: a program that keeps a large live heap and constantly makes
 * short-lived reference cycles (parent/child links, self-referencing
 * containers) that only the cycle collector can reclaim.  The run depends
 * on automatic collection: nothing calls rc_gc_collect until the end, so
 * it measures how often the collector runs and how long it stops the world
 * with a big old generation to consider.
 *
 * Sizes: a live heap of --live nodes (default CC_LIVE) in rings of 100,
 * each ring's first node held by one global list; --cycles rings built and
 * dropped in total (default CC_CYCLES).  A churned ring has k = 1..8 nodes
 * (k chosen at random per ring): k = 1 is a list that holds itself and its
 * payload; k >= 2 is a ring of Node(next, value) instances.  Every node
 * carries a mortal int payload.
 *
 * Threads: --threads workers (default 1) share the rings to build; the live
 * heap is built and checked by the thread that runs run().
 *
 * Verifies: each churned ring is walked before it is dropped (its payloads
 * and closure checked); at the end the live heap's checksum (every ring
 * walked, every value and position); the collector found at least every
 * churned node and every live-heap node as unreachable; and after dropping
 * everything and rc_gc_collect(2), rc_live_objects() is back to its value
 * at the start.  ops = rings built.
 */
#include "sizes.h"
#include "wl_util.h"

extern const rc_workload wl_cycle_churn;

struct cc_shared {
    wl_context *ctx;
    rc_type *node;
    int threads;
    long cycles;
    struct wl_error err;
};

struct cc_worker {
    struct cc_shared *sh;
    int index;
    uint64_t seed;
    long rings;        /* rings built and dropped */
    long nodes;        /* tracked objects in them */
};

/* Payload of node j of a ring whose base value is base (mortal ints). */
static int64_t cc_payload(uint64_t base, int j)
{
    return 1000 + (int64_t)(base % 1000000) + j;
}

/* k = 1: a list [itself, payload].  Builds, checks and drops it; 0, or -1
 * with the error recorded. */
static int cc_self_list(struct cc_shared *sh, uint64_t base)
{
    rc_object *l = rc_list_new();
    rc_object *v = l != NULL ? rc_int_new(cc_payload(base, 0)) : NULL;
    if (v == NULL || rc_list_append(l, l) < 0 || rc_list_append(l, v) < 0) {
        wl_error_rc(&sh->err, "building a self-referencing list");
        rc_decref(v);
        rc_decref(l);   /* may leave a cycle: the collector takes it */
        return -1;
    }
    rc_decref(v);
    rc_object *a = rc_list_get(l, 0), *b = rc_list_get(l, 1);
    int ok = rc_list_len(l) == 2 && a == l && b != NULL && rc_is_int(b) &&
             rc_int_value(b) == cc_payload(base, 0);
    rc_decref(a);
    rc_decref(b);
    rc_decref(l);   /* garbage now: only the collector can free it */
    if (!ok) {
        wl_error_set(&sh->err, "a self-referencing list was corrupted");
        return -1;
    }
    return 0;
}

/* k >= 2: a ring of k Node(next, value).  Builds, checks and drops it. */
static int cc_ring(struct cc_shared *sh, int k, uint64_t base)
{
    rc_object *n[CC_MAX_RING];
    int made = 0, ok = 1;
    for (; made < k; made++) {
        n[made] = rc_instance_new(sh->node);
        rc_object *v = n[made] != NULL ? rc_int_new(cc_payload(base, made)) : NULL;
        if (v == NULL || rc_slot_set(n[made], 1, v) < 0) {
            rc_decref(v);
            made++;
            ok = 0;
            break;
        }
        rc_decref(v);
    }
    for (int j = 0; ok && j < k; j++)
        ok = rc_slot_set(n[j], 0, n[(j + 1) % k]) == 0;
    if (!ok) {
        wl_error_rc(&sh->err, "building a ring");
        for (int j = 0; j < made; j++)
            rc_decref(n[j]);
        return -1;
    }
    /* Walk it from the first node: k payloads, then back at the start. */
    rc_object *cur = n[0];
    rc_incref(cur);
    for (int j = 0; ok && j < k; j++) {
        rc_object *v = rc_slot_get(cur, 1);
        ok = v != NULL && rc_is_int(v) && rc_int_value(v) == cc_payload(base, j);
        rc_decref(v);
        rc_object *next = rc_slot_get(cur, 0);
        rc_decref(cur);
        cur = next;
    }
    ok = ok && cur == n[0];
    rc_decref(cur);
    for (int j = 0; j < k; j++)
        rc_decref(n[j]);   /* garbage now: only the collector can free it */
    if (!ok) {
        wl_error_set(&sh->err, "a ring of %d nodes was corrupted", k);
        return -1;
    }
    return 0;
}

static void cc_worker_main(void *arg)
{
    struct cc_worker *w = arg;
    struct cc_shared *sh = w->sh;
    long mine = wl_share(sh->cycles, sh->threads, w->index);
    uint64_t rng = w->seed;
    for (long i = 0; i < mine; i++) {
        uint64_t r = wl_rng(&rng);
        int k = 1 + (int)(r % CC_MAX_RING);
        int rc = k == 1 ? cc_self_list(sh, r >> 3) : cc_ring(sh, k, r >> 3);
        if (rc < 0)
            return;
        w->rings++;
        w->nodes += k;
        if ((i & 4095) == 4095) {
            if (wl_failed(&sh->err))
                return;
            if (w->index == 0)
                wl_progress(sh->ctx, (double)(i + 1) / (double)mine);
        }
    }
    if (w->index == 0)
        wl_progress(sh->ctx, 1.0);
}

static long cc_collected_total(void)
{
    rc_gc_gen_stats st[RC_GC_GENERATIONS];
    long n = 0;
    if (rc_gc_get_stats(st) < 0)
        return -1;
    for (int g = 0; g < RC_GC_GENERATIONS; g++)
        n += (long)st[g].collected;
    return n;
}

static int cc_run(wl_context *ctx)
{
    const wl_params *p = ctx->params;
    if (wl_check_params(ctx, &wl_cycle_churn) < 0)
        return -1;
    struct cc_shared sh = {.ctx = ctx, .threads = p->threads, .cycles = p->cycles};
    size_t live_at_start = rc_live_objects();
    long collected_at_start = cc_collected_total();
    ctx->ops = 0;
    sh.node = rc_type_new("Node", 2, NULL);
    if (sh.node == NULL) {
        wl_error_rc(&sh.err, "rc_type_new");
        return wl_fail_summary(ctx, "cycle-churn", &sh.err);
    }
    uint64_t want = 0;
    rc_object *heap = wl_heap_build(sh.node, p->live, &want);
    if (heap == NULL) {
        wl_error_rc(&sh.err, "building the live heap");
        return wl_fail_summary(ctx, "cycle-churn", &sh.err);
    }

    struct cc_worker *w = calloc((size_t)p->threads, sizeof *w);
    if (w == NULL) {
        rc_decref(heap);
        snprintf(ctx->summary, sizeof ctx->summary, "cycle-churn: out of memory");
        return -1;
    }
    for (int i = 0; i < p->threads; i++)
        w[i] = (struct cc_worker){.sh = &sh, .index = i, .seed = wl_seed(p->seed, i)};
    wl_run_workers(p->threads, cc_worker_main, w, sizeof *w, &sh.err);
    wl_work_done(ctx);
    long rings = 0, nodes = 0;
    for (int i = 0; i < p->threads; i++) {
        rings += w[i].rings;
        nodes += w[i].nodes;
    }
    free(w);
    ctx->ops = (uint64_t)rings;

    const char *bad = NULL;
    uint64_t got = wl_heap_check(heap, sh.node, p->live, &bad);
    rc_decref(heap);   /* its rings are cycles too: the collector frees them */
    long left = wl_leftover(live_at_start);
    long collected = cc_collected_total() - collected_at_start;
    if (wl_failed(&sh.err))
        return wl_fail_summary(ctx, "cycle-churn", &sh.err);
    if (bad != NULL || got != want) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "cycle-churn: live heap corrupted: %s (checksum 0x%llx, expected 0x%llx)",
                 bad != NULL ? bad : "checksum mismatch", (unsigned long long)got,
                 (unsigned long long)want);
        return -1;
    }
    if (rings != p->cycles) {
        snprintf(ctx->summary, sizeof ctx->summary, "cycle-churn: built %ld rings, not %ld",
                 rings, p->cycles);
        return -1;
    }
    if (collected < nodes + p->live) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "cycle-churn: the collector found %ld unreachable objects, expected at "
                 "least %ld", collected, nodes + p->live);
        return -1;
    }
    if (left != 0) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "cycle-churn: %ld objects left behind after dropping everything and a full "
                 "collection", left);
        return -1;
    }
    snprintf(ctx->summary, sizeof ctx->summary,
             "heap checksum 0x%llx ok; %ld rings (%ld nodes) churned; %ld collected; "
             "nothing left",
             (unsigned long long)got, rings, nodes, collected);
    return 0;
}

static const wl_bound cc_bounds[] = {
    WL_LIVE_BOUND,
    {"--cycles", offsetof(wl_params, cycles), 1, CC_MAX_CYCLES,
     "the nodes churned are counted in a long"},
    {NULL, 0, 0, 0, NULL},
};

/* The live heap, and the churned rings waiting for a collection: a ring has
 * (1 + CC_MAX_RING) / 2 tracked nodes on average, each with its int. */
static double cc_peak_bytes(const wl_params *p, long threshold0)
{
    return wl_heap_peak_bytes(p->live, (double)p->cycles * (1 + CC_MAX_RING) / 2.0, threshold0);
}

const rc_workload wl_cycle_churn = {
    .name = "cycle-churn",
    .description = "rings of 1..8 nodes made and dropped beside a live heap; the collector "
                   "reclaims them",
    .size_flags = "--live --cycles",
    .defaults = wl_cycle_churn_defaults,
    .quick = wl_cycle_churn_quick,
    .bounds = cc_bounds,
    .peak_bytes = cc_peak_bytes,
    .run = cc_run,
};
