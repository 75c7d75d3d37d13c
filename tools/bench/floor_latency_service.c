/* tools/bench/floor_latency_service.c: rcgc-floor-latency-service, the
 * malloc/free floor of workloads/latency_service.c.
 *
 * The same work: a live heap of --live nodes (default LS_LIVE) in rings of
 * 100 (floor_heap_build), the shared state, built before the workers
 * start; --requests requests (default LS_REQUESTS) split over --threads
 * workers with wl_share_start/wl_share, each worker drawing one wl_rng
 * value per request from its wl_seed(seed, index).  Request i builds Req =
 * {id, path, nodes}: the dict becomes a struct of three fields, the id a
 * boxed int 1000 + i, the path a string "/api/item/<i>", nodes a list (a
 * struct with its own item array) of 20 RNode(next, value, tag), value a
 * boxed int 1000 + 20 i + j, tag a string "n<i>.<j>" for j % 5 == 0;
 * n_j.next = n_(j+1), n19.next = n_b for b = r % 19.  It reads the first
 * node's value of ring (r >> 8) % rings of the live heap, walks 20 steps
 * from n0 and checks the checksum, then frees the request: where the
 * workload leaves the cycle n_b .. n19 to the collector, the floor frees
 * every node through the list.  A string is one malloc (length and bytes),
 * as an rcgc str.
 *
 * Latency: floor_clock_ns (CLOCK_MONOTONIC, rcgc's clock) around each
 * request's build, read, walk, check and free, recorded per worker in a
 * lat_hist (tools/lat) and merged after the join, as `rcgc run` does.
 *
 * Verifies what the workload does: each request's checksum (computed from
 * i alone, as the workload computes it) and that the walk ends at n_b, the
 * live heap's checksum at the end, that every request was served; and in
 * place of the live-object count, that every object allocated was freed.
 * ops = requests.
 */
#include "floor.h"
#include "sizes.h"

/* A string: its length and bytes in one block, as an rcgc str. */
struct ls_str {
    size_t len;
    char s[];
};

/* RNode(next, value, tag). */
struct ls_rnode {
    struct ls_rnode *next;
    int64_t *value;        /* boxed int */
    struct ls_str *tag;    /* NULL: None */
};

/* The list of nodes: the list object and its item array. */
struct ls_list {
    long len;
    struct ls_rnode **items;
};

/* The request dict {"id", "path", "nodes"}, reduced to its three values. */
struct ls_req {
    int64_t *id;
    struct ls_str *path;
    struct ls_list *nodes;
};

/* Written by the main thread before the workers start, then read only
 * (the heap too, until the join); err is wl_util.h's first-error-wins slot
 * (atomic, any thread). */
struct ls_shared {
    const struct floor_heap *heap;   /* read only while the workers run */
    long requests;
    int threads;
    struct wl_error err;
};

/* One per worker: served, made, freed and hist are written by that worker
 * only and read by the main thread after the join (pthread_join orders
 * them). */
struct ls_worker {
    struct ls_shared *sh;
    int index;
    uint64_t seed;
    long served;
    long made, freed;    /* objects allocated and freed */
    lat_hist *hist;      /* written by this worker only; read after the join */
};

static struct ls_str *ls_str_new(const char *s, size_t len)
{
    struct ls_str *p = floor_malloc(sizeof *p + len + 1);
    p->len = len;
    memcpy(p->s, s, len + 1);
    return p;
}

/* Serve request i; 0, or -1 with the error recorded. */
static int ls_request(struct ls_worker *w, long i, uint64_t r)
{
    struct ls_shared *sh = w->sh;
    struct ls_rnode *n[LS_NODES];
    int back = (int)(r % (LS_NODES - 1));
    long ring = (long)((r >> 8) % (uint64_t)sh->heap->nrings);
    uint64_t want = 0;
    char buf[48];
    long made = 0;

    /* --- build --- */
    struct ls_req *req = floor_malloc(sizeof *req);
    struct ls_list *nodes = floor_malloc(sizeof *nodes);
    nodes->items = floor_malloc(LS_NODES * sizeof *nodes->items);
    nodes->len = 0;
    made += 3;
    for (int j = 0; j < LS_NODES; j++) {
        n[j] = floor_malloc(sizeof *n[j]);
        n[j]->next = NULL;
        n[j]->tag = NULL;
        n[j]->value = floor_box(1000 + 20 * (int64_t)i + j);
        made += 2;
        want += (uint64_t)(1000 + 20 * i + j) * (uint64_t)(j + 1);
        if (j % 5 == 0) {
            int len = snprintf(buf, sizeof buf, "n%ld.%d", i, j);
            n[j]->tag = ls_str_new(buf, (size_t)len);
            made++;
            want += (uint64_t)len;
        }
        nodes->items[nodes->len++] = n[j];
    }
    for (int j = 0; j < LS_NODES; j++)
        n[j]->next = n[j < LS_NODES - 1 ? j + 1 : back];
    int plen = snprintf(buf, sizeof buf, "/api/item/%ld", i);
    want += (uint64_t)plen;
    req->path = ls_str_new(buf, (size_t)plen);
    req->id = floor_box(1000 + (int64_t)i);
    req->nodes = nodes;
    made += 2;
    want += (uint64_t)(1000 + ring * WL_RING);
    floor_escape(req);

    /* --- serve: read shared state, walk, check --- */
    uint64_t got = (uint64_t)*sh->heap->heads[ring]->value;
    const struct ls_list *lst = req->nodes;
    int ok = *req->id == 1000 + i && req->path != NULL && lst->len == LS_NODES;
    if (ok)
        got += (uint64_t)req->path->len;
    const struct ls_rnode *cur = ok ? lst->items[0] : NULL;
    for (int step = 0; ok && step < LS_NODES; step++) {
        got += (uint64_t)*cur->value * (uint64_t)(step + 1);
        if (cur->tag != NULL)
            got += (uint64_t)cur->tag->len;
        cur = cur->next;
    }
    if (ok)
        ok = cur == lst->items[back];

    /* --- drop: the dict, its values, and every node (the cycle too) --- */
    long freed = 0;
    for (long j = 0; j < req->nodes->len; j++) {
        struct ls_rnode *x = req->nodes->items[j];
        freed += x->tag != NULL ? 3 : 2;
        free(x->tag);
        free(x->value);
        free(x);
    }
    free(req->nodes->items);
    free(req->nodes);
    free(req->path);
    free(req->id);
    free(req);
    freed += 5;
    w->made += made;
    w->freed += freed;
    if (!ok || got != want) {
        wl_error_set(&sh->err, "request %ld: checksum 0x%llx, expected 0x%llx%s", i,
                     (unsigned long long)got, (unsigned long long)want,
                     ok ? "" : " (graph malformed)");
        return -1;
    }
    return 0;
}

static void ls_worker_main(void *arg)
{
    struct ls_worker *w = arg;
    struct ls_shared *sh = w->sh;
    long first = wl_share_start(sh->requests, sh->threads, w->index);
    long mine = wl_share(sh->requests, sh->threads, w->index);
    uint64_t rng = w->seed;
    for (long k = 0; k < mine; k++) {
        uint64_t t0 = floor_clock_ns();
        if (ls_request(w, first + k, wl_rng(&rng)) < 0)
            return;
        lat_hist_record(w->hist, floor_clock_ns() - t0);
        w->served++;
        if ((k & 1023) == 1023 && wl_failed(&sh->err))
            return;
    }
}

static int ls_run(floor_ctx *ctx)
{
    const wl_params *p = &ctx->params;
    struct floor_heap heap;
    struct ls_shared sh = {.heap = &heap, .requests = p->requests, .threads = p->threads};
    uint64_t want = 0;
    long made = 0, freed = 0;
    floor_heap_build(&heap, p->live, &want, &made);

    ctx->ops_hist = lat_hist_new();
    struct ls_worker *w = floor_malloc((size_t)p->threads * sizeof *w);
    for (int i = 0; i < p->threads; i++) {
        w[i] = (struct ls_worker){.sh = &sh, .index = i, .seed = wl_seed(p->seed, i),
                                 .hist = lat_hist_new()};
        if (w[i].hist == NULL || ctx->ops_hist == NULL)
            floor_oom(sizeof(uint64_t) * LAT_HIST_COUNTS);
    }
    floor_run_workers(p->threads, ls_worker_main, w, sizeof *w, &sh.err);
    floor_work_done(ctx);
    long served = 0;
    for (int i = 0; i < p->threads; i++) {
        served += w[i].served;
        made += w[i].made;
        freed += w[i].freed;
        lat_hist_merge(ctx->ops_hist, w[i].hist);
        lat_hist_free(w[i].hist);
    }
    free(w);
    ctx->ops = (uint64_t)served;

    const char *bad = NULL;
    uint64_t got = floor_heap_check(&heap, &bad);
    if (bad == NULL)   /* a malformed heap cannot be freed safely: leave it */
        freed += floor_heap_free(&heap);
    ctx->leaked = made - freed;
    if (wl_failed(&sh.err)) {
        snprintf(ctx->summary, sizeof ctx->summary, "latency-service: %s", sh.err.msg);
        return -1;
    }
    if (bad != NULL || got != want) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "latency-service: live heap corrupted: %s (checksum 0x%llx, expected 0x%llx)",
                 bad != NULL ? bad : "checksum mismatch", (unsigned long long)got,
                 (unsigned long long)want);
        return -1;
    }
    if (served != p->requests) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "latency-service: served %ld requests, not %ld", served, p->requests);
        return -1;
    }
    snprintf(ctx->summary, sizeof ctx->summary,
             "%ld requests checksummed ok; heap checksum 0x%llx ok; %ld objects freed", served,
             (unsigned long long)got, freed);
    return 0;
}

static const floor_spec ls_spec = {
    .name = "latency-service",
    .sizes = FLOOR_LIVE | FLOOR_REQUESTS,
    .defaults = wl_latency_service_defaults,
    .quick = wl_latency_service_quick,
    .run = ls_run,
};

int main(int argc, char **argv)
{
    return floor_main(&ls_spec, argc, argv);
}
