/* workloads/handoff.c: "handoff".
 *
 * Models: a producer/consumer pipeline (a thread pool's work queue, an
 * actor's mailbox): objects are built on one thread and consumed and freed
 * on another.  In ft mode every consumed object is freed by a thread that
 * does not own it (biased counting's shared path, merge queues, GC list
 * hand-back); in gil mode the two sides take turns with the GIL.
 *
 * Sizes: --items items in total (default HO_ITEMS) through a bounded queue
 * of 256 entries (a pthread mutex and two condition variables; every wait is
 * bracketed with rc_detach/rc_attach, so a waiter never holds the GIL or
 * blocks a stop-the-world).
 *
 * Item seq: Item(seq, name, payload), seq the int 1000 + seq, name the str
 * "item-<seq>", payload a list of 4 ints 7 seq + k and one tuple (seq, name)
 * -- 9 objects, 4 of them GC-tracked, none in a cycle.
 *
 * Threads: --threads >= 2 (default 2): the first half produce (each a
 * contiguous range of seqs), the rest consume.  Each item's latency from
 * the start of its creation to the end of its consumption (verified and
 * dropped) goes to ctx->record_op with the consumer's index.
 *
 * Verifies: every item's checksum (its seq, name, payload and tuple agree
 * with the seq the producer queued it under), each seq consumed exactly
 * once (a bitmap), and the count.  ops = items.
 */
#include <pthread.h>

#include "sizes.h"
#include "wl_util.h"

#define HO_QCAP 256
#define HO_ITEM_OBJECTS 9   /* objects of one item */

extern const rc_workload wl_handoff;

struct ho_entry {
    rc_object *obj;
    long seq;
    uint64_t t0;
};

struct ho_shared {
    wl_context *ctx;
    rc_type *item;
    long items;
    int producers;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    struct ho_entry q[HO_QCAP];
    int head, len;
    int producers_left;    /* under mu */
    int aborted;           /* under mu: stop producing */
    _Atomic uint64_t *seen;   /* bitmap of consumed seqs */
    atomic_long consumed, dups;
    struct wl_error err;
};

struct ho_worker {
    struct ho_shared *sh;
    int index;
    long produced, consumed;
};

static int64_t ho_payload(long seq, int k)
{
    return 7 * (int64_t)seq + k;
}

/* New reference, or NULL with an rcgc error. */
static rc_object *ho_build(struct ho_shared *sh, long seq)
{
    char buf[40];
    snprintf(buf, sizeof buf, "item-%ld", seq);
    rc_object *it = rc_instance_new(sh->item);
    rc_object *n = it != NULL ? rc_int_new(1000 + (int64_t)seq) : NULL;
    rc_object *s = n != NULL ? rc_str_new(buf) : NULL;
    rc_object *l = s != NULL ? rc_list_new() : NULL;
    int ok = l != NULL;
    for (int k = 0; ok && k < 4; k++) {
        rc_object *v = rc_int_new(ho_payload(seq, k));
        ok = v != NULL && rc_list_append(l, v) == 0;
        rc_decref(v);
    }
    if (ok) {
        rc_object *pair[2] = {n, s};
        rc_object *t = rc_tuple_new(2, pair);
        ok = t != NULL && rc_list_append(l, t) == 0;
        rc_decref(t);
    }
    ok = ok && rc_slot_set(it, 0, n) == 0 && rc_slot_set(it, 1, s) == 0 &&
         rc_slot_set(it, 2, l) == 0;
    rc_decref(n);
    rc_decref(s);
    rc_decref(l);
    if (!ok) {
        rc_decref(it);
        return NULL;
    }
    return it;
}

static int ho_check(struct ho_shared *sh, rc_object *it, long seq)
{
    char buf[40];
    if (it == NULL || rc_type_of(it) != sh->item)
        return 0;
    snprintf(buf, sizeof buf, "item-%ld", seq);
    rc_object *n = rc_slot_get(it, 0), *s = rc_slot_get(it, 1), *l = rc_slot_get(it, 2);
    int ok = rc_is_int(n) && rc_int_value(n) == 1000 + seq && rc_is_str(s) &&
             strcmp(rc_str_data(s), buf) == 0 && rc_is_list(l) && rc_list_len(l) == 5;
    for (int k = 0; ok && k < 4; k++) {
        rc_object *v = rc_list_get(l, k);
        ok = v != NULL && rc_is_int(v) && rc_int_value(v) == ho_payload(seq, k);
        rc_decref(v);
    }
    if (ok) {
        rc_object *t = rc_list_get(l, 4);
        rc_object *a = rc_is_tuple(t) && rc_tuple_len(t) == 2 ? rc_tuple_get(t, 0) : NULL;
        rc_object *b = a != NULL ? rc_tuple_get(t, 1) : NULL;
        ok = a == n && b == s;
        rc_decref(a);
        rc_decref(b);
        rc_decref(t);
    }
    rc_decref(n);
    rc_decref(s);
    rc_decref(l);
    return ok;
}

/* Queue an item (the reference moves to the queue); 0, or -1 if the run
 * was aborted (the caller still owns e->obj). */
static int ho_put(struct ho_shared *sh, const struct ho_entry *e)
{
    int rc = 0;
    rc_detach();
    pthread_mutex_lock(&sh->mu);
    while (sh->len == HO_QCAP && !sh->aborted)
        pthread_cond_wait(&sh->not_full, &sh->mu);
    if (sh->aborted) {
        rc = -1;
    } else {
        sh->q[(sh->head + sh->len) % HO_QCAP] = *e;
        sh->len++;
        pthread_cond_signal(&sh->not_empty);
    }
    pthread_mutex_unlock(&sh->mu);
    rc_attach();
    return rc;
}

/* Next item, or 0 once the queue is empty and every producer is done. */
static int ho_get(struct ho_shared *sh, struct ho_entry *out)
{
    int got = 0;
    rc_detach();
    pthread_mutex_lock(&sh->mu);
    while (sh->len == 0 && sh->producers_left > 0)
        pthread_cond_wait(&sh->not_empty, &sh->mu);
    if (sh->len > 0) {
        *out = sh->q[sh->head];
        sh->head = (sh->head + 1) % HO_QCAP;
        sh->len--;
        got = 1;
        pthread_cond_signal(&sh->not_full);
    }
    pthread_mutex_unlock(&sh->mu);
    rc_attach();
    return got;
}

static void ho_producer_done(struct ho_shared *sh, int abort)
{
    rc_detach();
    pthread_mutex_lock(&sh->mu);
    sh->producers_left--;
    if (abort)
        sh->aborted = 1;
    pthread_cond_broadcast(&sh->not_empty);
    pthread_cond_broadcast(&sh->not_full);
    pthread_mutex_unlock(&sh->mu);
    rc_attach();
}

static void ho_producer(struct ho_worker *w)
{
    struct ho_shared *sh = w->sh;
    long first = wl_share_start(sh->items, sh->producers, w->index);
    long mine = wl_share(sh->items, sh->producers, w->index);
    int abort = 0;
    for (long i = 0; i < mine; i++) {
        struct ho_entry e = {.seq = first + i, .t0 = rc_clock_ns()};
        e.obj = ho_build(sh, e.seq);
        if (e.obj == NULL) {
            wl_error_rc(&sh->err, "building an item");
            abort = 1;
            break;
        }
        if (ho_put(sh, &e) < 0) {
            rc_decref(e.obj);
            break;
        }
        w->produced++;
        if (w->index == 0 && (i & 4095) == 4095)
            wl_progress(sh->ctx, (double)(i + 1) / (double)mine);
    }
    ho_producer_done(sh, abort);
    if (w->index == 0)
        wl_progress(sh->ctx, 1.0);
}

static void ho_consumer(struct ho_worker *w)
{
    struct ho_shared *sh = w->sh;
    struct ho_entry e;
    while (ho_get(sh, &e)) {
        int ok = ho_check(sh, e.obj, e.seq);
        rc_decref(e.obj);
        uint64_t t1 = rc_clock_ns();
        if (!ok) {
            wl_error_set(&sh->err, "item %ld failed its checksum", e.seq);
        } else if (e.seq < 0 || e.seq >= sh->items) {
            wl_error_set(&sh->err, "an item has seq %ld, outside 0..%ld", e.seq, sh->items - 1);
        } else {
            uint64_t bit = (uint64_t)1 << (e.seq & 63);
            if (atomic_fetch_or_explicit(&sh->seen[e.seq >> 6], bit, memory_order_relaxed) &
                bit)
                atomic_fetch_add(&sh->dups, 1);
        }
        wl_record(sh->ctx, w->index, t1 - e.t0);
        w->consumed++;
    }
}

static void ho_worker_main(void *arg)
{
    struct ho_worker *w = arg;
    if (w->index < w->sh->producers)
        ho_producer(w);
    else
        ho_consumer(w);
}

static int ho_run(wl_context *ctx)
{
    const wl_params *p = ctx->params;
    if (wl_check_params(ctx, &wl_handoff) < 0)
        return -1;
    struct ho_shared *sh = calloc(1, sizeof *sh);
    struct ho_worker *w = calloc((size_t)p->threads, sizeof *w);
    if (sh != NULL)
        sh->seen = calloc((size_t)(p->items + 63) / 64, sizeof *sh->seen);
    if (sh == NULL || w == NULL || sh->seen == NULL) {
        if (sh != NULL)
            free((void *)sh->seen);
        free(sh);
        free(w);
        snprintf(ctx->summary, sizeof ctx->summary, "handoff: out of memory");
        return -1;
    }
    size_t live_at_start = rc_live_objects();
    ctx->ops = 0;
    sh->ctx = ctx;
    sh->items = p->items;
    sh->producers = p->threads / 2;
    sh->producers_left = sh->producers;
    pthread_mutex_init(&sh->mu, NULL);
    pthread_cond_init(&sh->not_empty, NULL);
    pthread_cond_init(&sh->not_full, NULL);
    sh->item = rc_type_new("Item", 3, NULL);
    if (sh->item == NULL) {
        wl_error_rc(&sh->err, "rc_type_new");
    } else {
        /* Start consumers first: a producer never waits on a queue that no
         * consumer will drain.  If a thread fails to start, the producers
         * that could not start count as done and the rest stop. */
        rc_thread **t = calloc((size_t)p->threads, sizeof *t);
        if (t == NULL)
            wl_error_set(&sh->err, "out of memory for thread handles");
        for (int i = p->threads - 1; t != NULL && i >= 0; i--) {
            w[i] = (struct ho_worker){.sh = sh, .index = i};
            t[i] = rc_thread_start(ho_worker_main, &w[i]);
            if (t[i] == NULL) {
                wl_error_rc(&sh->err, "rc_thread_start");
                int unstarted = i < sh->producers ? i + 1 : sh->producers;
                rc_detach();
                pthread_mutex_lock(&sh->mu);
                sh->producers_left -= unstarted;
                sh->aborted = 1;
                pthread_cond_broadcast(&sh->not_empty);
                pthread_cond_broadcast(&sh->not_full);
                pthread_mutex_unlock(&sh->mu);
                rc_attach();
                break;
            }
        }
        for (int i = 0; t != NULL && i < p->threads; i++)
            if (t[i] != NULL && rc_thread_join(t[i]) < 0)
                wl_error_rc(&sh->err, "rc_thread_join");
        free(t);
    }
    wl_work_done(ctx);
    /* Anything still queued (only after an abort) is dropped here. */
    while (sh->len > 0) {
        rc_decref(sh->q[sh->head].obj);
        sh->head = (sh->head + 1) % HO_QCAP;
        sh->len--;
    }
    long produced = 0, consumed = 0, missing = -1;
    for (int i = 0; i < p->threads; i++) {
        produced += w[i].produced;
        consumed += w[i].consumed;
    }
    for (long s = 0; s < p->items; s++) {
        if (!(atomic_load(&sh->seen[s >> 6]) & ((uint64_t)1 << (s & 63)))) {
            missing = s;
            break;
        }
    }
    ctx->ops = (uint64_t)consumed;
    long dups = atomic_load(&sh->dups);
    long left = wl_leftover(live_at_start);
    int rc = -1;
    if (wl_failed(&sh->err))
        wl_fail_summary(ctx, "handoff", &sh->err);
    else if (produced != p->items || consumed != p->items || dups != 0 || missing >= 0)
        snprintf(ctx->summary, sizeof ctx->summary,
                 "handoff: %ld produced, %ld consumed of %ld; %ld consumed twice; first "
                 "missing seq %ld", produced, consumed, p->items, dups, missing);
    else if (left != 0)
        snprintf(ctx->summary, sizeof ctx->summary, "handoff: %ld objects left behind", left);
    else {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "%ld items handed over by %d producers to %d consumers, each verified once",
                 consumed, sh->producers, p->threads - sh->producers);
        rc = 0;
    }
    pthread_cond_destroy(&sh->not_full);
    pthread_cond_destroy(&sh->not_empty);
    pthread_mutex_destroy(&sh->mu);
    free((void *)sh->seen);
    free(sh);
    free(w);
    return rc;
}

static const wl_bound ho_bounds[] = {
    {"--items", offsetof(wl_params, items), 1, HO_MAX_ITEMS, "payload ints 7 seq + k fit a long"},
    {NULL, 0, 0, 0, NULL},
};

/* The bitmap of consumed seqs, and the items in flight: the queue's and one
 * being built or checked per thread (acyclic: freed by reference
 * counting). */
static double ho_peak_bytes(const wl_params *p, long threshold0)
{
    (void)threshold0;
    return (double)p->items / 8.0 +
           (double)(HO_QCAP + p->threads) * HO_ITEM_OBJECTS * WL_TREE_NODE_BYTES;
}

const rc_workload wl_handoff = {
    .name = "handoff",
    .description = "producers build small graphs, consumers verify and free them through a "
                   "bounded queue (2 threads or more)",
    .size_flags = "--items",
    .min_threads = HO_MIN_THREADS,
    .defaults = wl_handoff_defaults,
    .quick = wl_handoff_quick,
    .bounds = ho_bounds,
    .peak_bytes = ho_peak_bytes,
    .run = ho_run,
};
