/* workloads/latency_service.c: "latency-service".
 *
 * Models: a request-serving process whose requests each build a small
 * object graph (a dict with an id, a path string and a list of 20 nodes,
 * some carrying string tags), read a piece of shared state, walk the graph,
 * answer, and drop it -- leaving one reference cycle per request behind for
 * the collector (as real services do, through parent links, closures,
 * exception tracebacks).  Its figure of merit is the latency distribution
 * of requests: collector pauses show up as tail latency.
 *
 * Sizes: a live heap of --live nodes (default LS_LIVE) in rings of 100 held
 * by one list (the shared state, built before the workers start);
 * --requests requests in total (default LS_REQUESTS).
 *
 * Request i: Req = {"id": 1000 + i, "path": "/api/item/<i>", "nodes": [n0 ..
 * n19]}, each n_j a RNode(next, value, tag) with value 1000 + 20 i + j and,
 * for j % 5 == 0, a str tag "n<i>.<j>"; n_j.next = n_(j+1) for j < 19 and
 * n19.next = n_b for a random b in 0..18, so n_b .. n19 form the request's
 * one cycle.  It also looks up a random ring of the live heap and reads its
 * first node's value.
 *
 * Threads: --threads workers (default 1) split the requests; each request's
 * latency (rc_clock_ns around build, walk, check and drop) goes to
 * ctx->record_op with the worker's index.
 *
 * Verifies: each request's checksum (20 steps along next from n0: values
 * weighted by step, tag lengths, the path's length, the heap value read;
 * after 20 steps the walk must be back at n_b) against the value computed
 * from i alone; at the end the live heap's checksum, and that nothing is
 * left after dropping everything and rc_gc_collect(2).  ops = requests.
 */
#include "sizes.h"
#include "wl_util.h"

extern const rc_workload wl_latency_service;

struct ls_shared {
    wl_context *ctx;
    rc_type *heap_node, *rnode;
    rc_object *heap;                       /* list of ring heads */
    rc_object *k_id, *k_path, *k_nodes;    /* interned keys */
    long live, nrings, requests;
    int threads;
    struct wl_error err;
};

struct ls_worker {
    struct ls_shared *sh;
    int index;
    uint64_t seed;
    long served;
};

/* Serve request i; 0, or -1 with the error recorded. */
static int ls_request(struct ls_shared *sh, long i, uint64_t r)
{
    rc_object *n[LS_NODES] = {0};
    rc_object *req = NULL, *nodes = NULL, *v = NULL, *s = NULL;
    int back = (int)(r % (LS_NODES - 1));
    long ring = (long)((r >> 8) % (uint64_t)sh->nrings);
    uint64_t want = 0;
    char buf[48];
    const char *what = "building a request";
    int ok = 0;

    /* --- build --- */
    req = rc_dict_new();
    nodes = rc_list_new();
    if (req == NULL || nodes == NULL)
        goto fail;
    for (int j = 0; j < LS_NODES; j++) {
        n[j] = rc_instance_new(sh->rnode);
        v = n[j] != NULL ? rc_int_new(1000 + 20 * (int64_t)i + j) : NULL;
        if (v == NULL || rc_slot_set(n[j], 1, v) < 0)
            goto fail;
        rc_decref(v);
        v = NULL;
        want += (uint64_t)(1000 + 20 * i + j) * (uint64_t)(j + 1);
        if (j % 5 == 0) {
            int len = snprintf(buf, sizeof buf, "n%ld.%d", i, j);
            s = rc_str_new(buf);
            if (s == NULL || rc_slot_set(n[j], 2, s) < 0)
                goto fail;
            rc_decref(s);
            s = NULL;
            want += (uint64_t)len;
        }
        if (rc_list_append(nodes, n[j]) < 0)
            goto fail;
    }
    for (int j = 0; j < LS_NODES; j++)
        if (rc_slot_set(n[j], 0, n[j < LS_NODES - 1 ? j + 1 : back]) < 0)
            goto fail;
    for (int j = 0; j < LS_NODES; j++) {
        rc_decref(n[j]);
        n[j] = NULL;
    }
    int plen = snprintf(buf, sizeof buf, "/api/item/%ld", i);
    want += (uint64_t)plen;
    s = rc_str_new(buf);
    v = s != NULL ? rc_int_new(1000 + (int64_t)i) : NULL;
    if (v == NULL || rc_dict_set(req, sh->k_id, v) < 0 || rc_dict_set(req, sh->k_path, s) < 0 ||
        rc_dict_set(req, sh->k_nodes, nodes) < 0)
        goto fail;
    rc_decref(v);
    rc_decref(s);
    rc_decref(nodes);
    v = s = nodes = NULL;
    want += (uint64_t)(1000 + ring * WL_RING);

    /* --- serve: read shared state, walk, check --- */
    what = "serving a request";
    uint64_t got = 0;
    rc_object *head = rc_list_get(sh->heap, ring);
    rc_object *hv = head != NULL ? rc_slot_get(head, 1) : NULL;
    rc_decref(head);
    if (hv == NULL)
        goto fail;
    got += (uint64_t)rc_int_value(hv);
    rc_decref(hv);
    rc_object *id = rc_dict_get(req, sh->k_id);
    rc_object *path = id != NULL ? rc_dict_get(req, sh->k_path) : NULL;
    rc_object *lst = path != NULL ? rc_dict_get(req, sh->k_nodes) : NULL;
    if (lst == NULL) {
        rc_decref(id);
        rc_decref(path);
        goto fail;
    }
    ok = rc_is_int(id) && rc_int_value(id) == 1000 + i && rc_is_str(path) &&
         rc_list_len(lst) == LS_NODES;
    if (ok)
        got += (uint64_t)rc_str_len(path);
    rc_decref(id);
    rc_decref(path);
    rc_object *cur = ok ? rc_list_get(lst, 0) : NULL;
    for (int step = 0; ok && step < LS_NODES; step++) {
        if (cur == NULL || rc_type_of(cur) != sh->rnode) {
            ok = 0;
            break;
        }
        rc_object *val = rc_slot_get(cur, 1), *tag = rc_slot_get(cur, 2);
        if (rc_is_int(val))
            got += (uint64_t)rc_int_value(val) * (uint64_t)(step + 1);
        else
            ok = 0;
        if (rc_is_str(tag))
            got += (uint64_t)rc_str_len(tag);
        rc_decref(val);
        rc_decref(tag);
        rc_object *next = rc_slot_get(cur, 0);
        rc_decref(cur);
        cur = next;
    }
    if (ok) {
        rc_object *nb = rc_list_get(lst, back);
        ok = nb != NULL && cur == nb;
        rc_decref(nb);
    }
    rc_decref(cur);
    rc_decref(lst);
    rc_decref(req);   /* n_b .. n19 stay behind as a cycle */
    if (!ok || got != want) {
        wl_error_set(&sh->err, "request %ld: checksum 0x%llx, expected 0x%llx%s", i,
                     (unsigned long long)got, (unsigned long long)want,
                     ok ? "" : " (graph malformed)");
        return -1;
    }
    return 0;

fail:
    wl_error_rc(&sh->err, what);
    rc_decref(v);
    rc_decref(s);
    for (int j = 0; j < LS_NODES; j++)
        rc_decref(n[j]);
    rc_decref(nodes);
    rc_decref(req);
    return -1;
}

static void ls_worker_main(void *arg)
{
    struct ls_worker *w = arg;
    struct ls_shared *sh = w->sh;
    long first = wl_share_start(sh->requests, sh->threads, w->index);
    long mine = wl_share(sh->requests, sh->threads, w->index);
    uint64_t rng = w->seed;
    for (long k = 0; k < mine; k++) {
        uint64_t t0 = rc_clock_ns();
        if (ls_request(sh, first + k, wl_rng(&rng)) < 0 ||
            wl_op_done(sh->ctx, &sh->err, w->index, k, mine, t0, &w->served, 1024) < 0)
            return;
    }
    if (w->index == 0)
        wl_progress(sh->ctx, 1.0);
}

static int ls_run(wl_context *ctx)
{
    const wl_params *p = ctx->params;
    if (wl_check_params(ctx, &wl_latency_service) < 0)
        return -1;
    struct ls_shared sh = {.ctx = ctx, .live = p->live, .requests = p->requests,
                           .threads = p->threads};
    sh.nrings = (p->live + WL_RING - 1) / WL_RING;
    size_t live_at_start = rc_live_objects();
    ctx->ops = 0;
    sh.heap_node = rc_type_new("Node", 2, NULL);
    sh.rnode = sh.heap_node != NULL ? rc_type_new("RNode", 3, NULL) : NULL;
    sh.k_id = sh.rnode != NULL ? rc_str_intern("id") : NULL;
    sh.k_path = sh.k_id != NULL ? rc_str_intern("path") : NULL;
    sh.k_nodes = sh.k_path != NULL ? rc_str_intern("nodes") : NULL;
    if (sh.k_nodes == NULL) {
        wl_error_rc(&sh.err, "setting up");
        return wl_fail_summary(ctx, "latency-service", &sh.err);
    }
    uint64_t want = 0;
    sh.heap = wl_heap_build(sh.heap_node, p->live, &want);
    if (sh.heap == NULL) {
        wl_error_rc(&sh.err, "building the live heap");
        return wl_fail_summary(ctx, "latency-service", &sh.err);
    }

    struct ls_worker *w = calloc((size_t)p->threads, sizeof *w);
    if (w == NULL) {
        rc_decref(sh.heap);
        snprintf(ctx->summary, sizeof ctx->summary, "latency-service: out of memory");
        return -1;
    }
    for (int i = 0; i < p->threads; i++)
        w[i] = (struct ls_worker){.sh = &sh, .index = i, .seed = wl_seed(p->seed, i)};
    wl_run_workers(p->threads, ls_worker_main, w, sizeof *w, &sh.err);
    wl_work_done(ctx);
    long served = 0;
    for (int i = 0; i < p->threads; i++)
        served += w[i].served;
    free(w);
    ctx->ops = (uint64_t)served;

    const char *bad = NULL;
    uint64_t got = wl_heap_check(sh.heap, sh.heap_node, p->live, &bad);
    rc_decref(sh.heap);
    long left = wl_leftover(live_at_start);
    if (wl_failed(&sh.err))
        return wl_fail_summary(ctx, "latency-service", &sh.err);
    if (bad != NULL || got != want) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "latency-service: live heap corrupted: %s (checksum 0x%llx, expected 0x%llx)",
                 bad != NULL ? bad : "checksum mismatch", (unsigned long long)got,
                 (unsigned long long)want);
        return -1;
    }
    if (served != p->requests) {
        snprintf(ctx->summary, sizeof ctx->summary, "latency-service: served %ld requests, not %ld",
                 served, p->requests);
        return -1;
    }
    if (left != 0) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "latency-service: %ld objects left behind after a full collection", left);
        return -1;
    }
    snprintf(ctx->summary, sizeof ctx->summary,
             "%ld requests checksummed ok; heap checksum 0x%llx ok; nothing left", served,
             (unsigned long long)got);
    return 0;
}

static const wl_bound ls_bounds[] = {
    WL_LIVE_BOUND,
    {"--requests", offsetof(wl_params, requests), 1, LS_MAX_REQUESTS,
     "node values 1000 + 20 i + j fit a long"},
    {NULL, 0, 0, 0, NULL},
};

/* The live heap, and the requests' cycles waiting for a collection: request
 * i leaves n_b .. n_(LS_NODES-1) behind, b uniform in 0..LS_NODES-2, so
 * (LS_NODES + 2) / 2 tracked nodes on average. */
static double ls_peak_bytes(const wl_params *p, long threshold0)
{
    return wl_heap_peak_bytes(p->live, (double)p->requests * (LS_NODES + 2) / 2.0, threshold0);
}

const rc_workload wl_latency_service = {
    .name = "latency-service",
    .description = "requests build, walk and drop a 20-node graph with a cycle; per-request "
                   "latency",
    .size_flags = "--live --requests",
    .defaults = wl_latency_service_defaults,
    .quick = wl_latency_service_quick,
    .bounds = ls_bounds,
    .peak_bytes = ls_peak_bytes,
    .run = ls_run,
};
