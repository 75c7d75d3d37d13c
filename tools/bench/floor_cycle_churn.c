/* tools/bench/floor_cycle_churn.c: rcgc-floor-cycle-churn, the malloc/free
 * floor of workloads/cycle_churn.c.
 *
 * The same work: a live heap of --live nodes (default CC_LIVE) in rings
 * of 100 (floor_heap_build: wl_util.h's layout and checksum), built by the
 * main thread before the workers start and checked and freed after they
 * end; --cycles rings (default CC_CYCLES) built, walked and dropped in
 * total, split over --threads workers with wl_share, each worker drawing
 * k = 1..8 and the payload base from wl_rng on its wl_seed(seed, index),
 * as the workload's workers do.  k = 1 is a small struct that holds itself
 * and its payload (the workload's self-referencing list); k >= 2 is a ring
 * of Node(next, value).  Every payload is a boxed int (its own malloc; rcgc's
 * ints above 256 are heap objects).  Where the workload drops a ring for
 * the collector to find, the floor breaks it and frees it at once: from
 * the first node, k nodes and their payloads.
 *
 * Verifies what the workload does: each ring's payloads and closure before
 * it is freed, the live heap's checksum at the end, that exactly --cycles
 * rings were built; and in place of the collector's count and the
 * live-object count, that every object allocated was freed.  ops = rings
 * built.
 */
#include "floor.h"
#include "sizes.h"

/* k = 1: the self-referencing container, reduced to what it holds. */
struct cc_self {
    struct cc_self *self;
    int64_t *value;   /* boxed int */
};

/* Written by the main thread before the workers start, then read only;
 * err is wl_util.h's first-error-wins slot (atomic, any thread). */
struct cc_shared {
    int threads;
    long cycles;
    struct wl_error err;
};

/* One per worker: the counts are written by that worker only and read by
 * the main thread after the join (pthread_join orders them). */
struct cc_worker {
    struct cc_shared *sh;
    int index;
    uint64_t seed;
    long rings;        /* rings built and freed */
    long nodes;        /* nodes in them */
    long made, freed;  /* objects allocated and freed (nodes and ints) */
};

/* Payload of node j of a ring whose base value is base (as the workload). */
static int64_t cc_payload(uint64_t base, int j)
{
    return 1000 + (int64_t)(base % 1000000) + j;
}

/* k = 1: build, check, free.  0, or -1 with the error recorded. */
static int cc_self_list(struct cc_worker *w, uint64_t base)
{
    struct cc_self *l = floor_malloc(sizeof *l);
    l->self = l;
    l->value = floor_box(cc_payload(base, 0));
    floor_escape(l);
    int ok = l->self == l && *l->value == cc_payload(base, 0);
    struct cc_self *s = l->self;
    s->self = NULL;   /* break the cycle, then free what it held */
    free(s->value);
    free(s);
    w->made += 2;
    w->freed += 2;
    if (!ok) {
        wl_error_set(&w->sh->err, "a self-referencing list was corrupted");
        return -1;
    }
    return 0;
}

/* k >= 2: a ring of k Node(next, value).  Build, walk, break and free. */
static int cc_ring(struct cc_worker *w, int k, uint64_t base)
{
    struct floor_node *n[CC_MAX_RING];
    for (int j = 0; j < k; j++) {
        n[j] = floor_malloc(sizeof *n[j]);
        n[j]->next = NULL;
        n[j]->value = floor_box(cc_payload(base, j));
    }
    for (int j = 0; j < k; j++)
        n[j]->next = n[(j + 1) % k];
    floor_escape(n[0]);
    /* Walk it from the first node: k payloads, then back at the start. */
    const struct floor_node *cur = n[0];
    int ok = 1;
    for (int j = 0; ok && j < k; j++) {
        ok = *cur->value == cc_payload(base, j);
        cur = cur->next;
    }
    ok = ok && cur == n[0];
    /* Drop it: break the ring at the first node and free k nodes. */
    struct floor_node *c = n[0];
    for (int j = 0; j < k; j++) {
        struct floor_node *next = c->next;
        free(c->value);
        free(c);
        c = next;
    }
    w->made += 2 * k;
    w->freed += 2 * k;
    if (!ok) {
        wl_error_set(&w->sh->err, "a ring of %d nodes was corrupted", k);
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
        int rc = k == 1 ? cc_self_list(w, r >> 3) : cc_ring(w, k, r >> 3);
        if (rc < 0)
            return;
        w->rings++;
        w->nodes += k;
        if ((i & 4095) == 4095 && wl_failed(&sh->err))
            return;
    }
}

static int cc_run(floor_ctx *ctx)
{
    const wl_params *p = &ctx->params;
    struct cc_shared sh = {.threads = p->threads, .cycles = p->cycles};
    struct floor_heap heap;
    uint64_t want = 0;
    long made = 0, freed = 0;
    floor_heap_build(&heap, p->live, &want, &made);

    struct cc_worker *w = floor_malloc((size_t)p->threads * sizeof *w);
    for (int i = 0; i < p->threads; i++)
        w[i] = (struct cc_worker){.sh = &sh, .index = i, .seed = wl_seed(p->seed, i)};
    floor_run_workers(p->threads, cc_worker_main, w, sizeof *w, &sh.err);
    floor_work_done(ctx);
    long rings = 0, nodes = 0;
    for (int i = 0; i < p->threads; i++) {
        rings += w[i].rings;
        nodes += w[i].nodes;
        made += w[i].made;
        freed += w[i].freed;
    }
    free(w);
    ctx->ops = (uint64_t)rings;

    const char *bad = NULL;
    uint64_t got = floor_heap_check(&heap, &bad);
    if (bad == NULL)   /* a malformed heap cannot be freed safely: leave it */
        freed += floor_heap_free(&heap);
    ctx->leaked = made - freed;
    if (wl_failed(&sh.err)) {
        snprintf(ctx->summary, sizeof ctx->summary, "cycle-churn: %s", sh.err.msg);
        return -1;
    }
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
    snprintf(ctx->summary, sizeof ctx->summary,
             "heap checksum 0x%llx ok; %ld rings (%ld nodes) churned; %ld objects freed",
             (unsigned long long)got, rings, nodes, freed);
    return 0;
}

static const floor_spec cc_spec = {
    .name = "cycle-churn",
    .sizes = FLOOR_LIVE | FLOOR_CYCLES,
    .defaults = wl_cycle_churn_defaults,
    .quick = wl_cycle_churn_quick,
    .run = cc_run,
};

int main(int argc, char **argv)
{
    return floor_main(&cc_spec, argc, argv);
}
