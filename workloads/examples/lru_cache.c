/* workloads/examples/lru_cache.c: "lru-cache", a workload of one's own, and
 * the template for writing one (rcgc/workload.h).
 *
 * Threads share an LRU cache, as a server shares functools.lru_cache: a
 * dict maps each key (an int) to a Node instance, and the nodes form a
 * circular doubly linked list through their prev/next slots, most recently
 * used first, around a sentinel.  Each node holds an Entry whose node slot
 * points back at it.  A get of a cached key moves its node to the front; a
 * miss makes a node and its entry (two new cycles: node <-> entry, and the
 * node's links with its neighbours) and, once the cache holds more than
 * --capacity nodes, evicts the least recently used one: its links are
 * broken and the dict lets go of it, which leaves node <-> entry as cyclic
 * garbage for the collector.  One mutex makes each get atomic; a thread
 * waits for it detached (rc_detach), so that neither a stop of the world
 * nor, in gil mode, the GIL waits for it.
 *
 * verify() checks the structure (every node reachable from the sentinel
 * both ways, each in the dict under its key, each entry pointing back at
 * its node with the payload its key makes), the counts (gets = hits +
 * misses over every thread; nodes = misses - evictions), then drops the
 * cache, collects, and checks that every object the run made is gone.
 *
 * Build it against the installed headers and run it through the rcgc
 * command (README.md, "Your own workload"):
 *
 *     cc -shared -fPIC -O2 lru_cache.c $(pkg-config --cflags rcgc) -o lru_cache.so
 *     rcgc run lru-cache --load ./lru_cache.so --mode ft --threads 2
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <rcgc/rcgc.h>
#include <rcgc/workload.h>

/* The sizes, in the order of lru_sizes[] (run->size[i]). */
enum { SIZE_CAPACITY, SIZE_KEYS, SIZE_GETS };

static const rcgc_workload_size lru_sizes[] = {
    {"capacity", "nodes the cache holds before it evicts (lru-cache)", 10000, 500, 1, 10000000},
    {"keys", "distinct keys the gets draw from (lru-cache)", 20000, 1000, 1, 100000000},
    {"gets", "cache lookups, over every thread (lru-cache)", 2000000, 20000, 1, 1000000000},
    {NULL, NULL, 0, 0, 0, 0},
};

/* Slots. */
enum { NODE_PREV, NODE_NEXT, NODE_KEY, NODE_ENTRY, NODE_NSLOTS };
enum { ENTRY_NODE, ENTRY_PAYLOAD, ENTRY_NSLOTS };

/* What a thread counted; written by that thread only, read by verify
 * after the join. */
struct lru_stats {
    int64_t gets, hits, misses, evictions;
};

/* The shared cache.  dict, head and the nodes' slots change only under mu;
 * the rest is set by setup before the threads start. */
struct lru {
    pthread_mutex_t mu;
    rc_type *node_type, *entry_type;
    rc_object *dict;      /* key -> Node */
    rc_object *head;      /* the sentinel: head.next most recent, head.prev least */
    long capacity, keys, gets;
    long live_before;     /* rc_live_objects() before setup made anything */
    struct lru_stats *stats;   /* one per thread */
};

/* The payload an entry of key holds: what a get checks it against. */
static int64_t payload_of(long key)
{
    return (int64_t)key * 2654435761 % 1000003;
}

/* A failing rc_* call: fail the run with its error. */
static int lru_fail(rcgc_workload_run *run, const char *what)
{
    run->fail(run, "%s: %s", what, rc_error_message());
    return -1;
}

/* Slot i of o: a new reference (rc_slot_get takes no lock), NULL with an
 * error.  A borrowed read (rc_slot_get_borrowed) would end at the next
 * rc_slot_set, which may wait detached: every read here is counted. */
static rc_object *slot(rc_object *o, int i)
{
    return rc_slot_get(o, (size_t)i);
}

/* Whether slot i of o is x (and no error). */
static bool slot_is(rc_object *o, int i, rc_object *x)
{
    rc_object *v = slot(o, i);
    rc_decref(v);   /* only its address is compared: o still holds it */
    return v == x;
}

/* Take node out of the list and close the gap.  0, or -1 with an error. */
static int unlink_node(rc_object *node)
{
    rc_object *prev = slot(node, NODE_PREV), *next = slot(node, NODE_NEXT);
    int rc = prev == NULL || next == NULL || rc_slot_set(prev, NODE_NEXT, next) < 0 ||
                     rc_slot_set(next, NODE_PREV, prev) < 0 ||
                     rc_slot_set(node, NODE_PREV, rc_none()) < 0 ||
                     rc_slot_set(node, NODE_NEXT, rc_none()) < 0
                 ? -1
                 : 0;
    rc_decref(prev);
    rc_decref(next);
    return rc;
}

/* Put node at the front, just after the sentinel.  0, or -1. */
static int push_front(struct lru *c, rc_object *node)
{
    rc_object *first = slot(c->head, NODE_NEXT);
    int rc = first == NULL || rc_slot_set(node, NODE_PREV, c->head) < 0 ||
                     rc_slot_set(node, NODE_NEXT, first) < 0 ||
                     rc_slot_set(first, NODE_PREV, node) < 0 ||
                     rc_slot_set(c->head, NODE_NEXT, node) < 0
                 ? -1
                 : 0;
    rc_decref(first);
    return rc;
}

/* A new node for key with its entry (the node <-> entry cycle); NULL with
 * an error. */
static rc_object *new_node(struct lru *c, rc_object *key_obj, long key)
{
    rc_object *node = rc_instance_new(c->node_type);
    rc_object *entry = rc_instance_new(c->entry_type);
    rc_object *payload = rc_int_new(payload_of(key));
    bool ok = node != NULL && entry != NULL && payload != NULL &&
              rc_slot_set(node, NODE_KEY, key_obj) == 0 &&
              rc_slot_set(node, NODE_ENTRY, entry) == 0 &&
              rc_slot_set(entry, ENTRY_NODE, node) == 0 &&
              rc_slot_set(entry, ENTRY_PAYLOAD, payload) == 0;
    rc_decref(entry);
    rc_decref(payload);
    if (!ok) {
        rc_decref(node);
        return NULL;
    }
    return node;
}

/* Does node's entry hold what key makes, and point back at node? */
static bool entry_ok(rc_object *node, long key)
{
    rc_object *entry = slot(node, NODE_ENTRY);
    rc_object *payload = entry != NULL && rc_is_instance(entry) && slot_is(entry, ENTRY_NODE, node)
                             ? slot(entry, ENTRY_PAYLOAD)
                             : NULL;
    bool ok = payload != NULL && rc_is_int(payload) && rc_int_value(payload) == payload_of(key);
    rc_decref(payload);
    rc_decref(entry);
    return ok;
}

/* One get, with the mutex held.  0, or -1 after run->fail. */
static int get_locked(rcgc_workload_run *run, struct lru *c, struct lru_stats *st, long key)
{
    rc_object *key_obj = rc_int_new(key);
    if (key_obj == NULL)
        return lru_fail(run, "rc_int_new");
    int rc = 0;
    rc_object *node = rc_dict_get(c->dict, key_obj);
    if (node != NULL) {
        st->hits++;
        if (!entry_ok(node, key)) {
            run->fail(run, "key %ld: its entry does not hold payload %lld or point back at its "
                      "node", key, (long long)payload_of(key));
            rc = -1;
        } else if (!slot_is(c->head, NODE_NEXT, node) &&
                   (unlink_node(node) < 0 || push_front(c, node) < 0)) {
            rc = lru_fail(run, "moving a node to the front");
        }
        rc_decref(node);
        rc_decref(key_obj);
        return rc;
    }
    if (rc_error_occurred() != RC_ERR_KEY) {
        rc_decref(key_obj);
        return lru_fail(run, "rc_dict_get");
    }
    rc_error_clear();
    st->misses++;
    node = new_node(c, key_obj, key);
    if (node == NULL || push_front(c, node) < 0 || rc_dict_set(c->dict, key_obj, node) < 0)
        rc = lru_fail(run, "adding a node");
    rc_decref(node);
    rc_decref(key_obj);
    if (rc == 0 && rc_dict_len(c->dict) > c->capacity) {
        /* Evict the least recently used: break its links, drop it from the
         * dict; node <-> entry is then garbage only the collector frees. */
        rc_object *lru = slot(c->head, NODE_PREV);
        rc_object *lru_key = lru != NULL ? slot(lru, NODE_KEY) : NULL;
        if (lru_key == NULL || unlink_node(lru) < 0 || rc_dict_del(c->dict, lru_key) < 0)
            rc = lru_fail(run, "evicting a node");
        rc_decref(lru_key);
        rc_decref(lru);
        st->evictions++;
    }
    return rc;
}

/* xorshift64*: each thread's keys. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static int lru_setup(rcgc_workload_run *run)
{
    struct lru *c = calloc(1, sizeof *c);
    struct lru_stats *stats = calloc((size_t)run->threads, sizeof *stats);
    if (c == NULL || stats == NULL) {
        free(c);
        free(stats);
        snprintf(run->summary, sizeof run->summary, "out of memory");
        return -1;
    }
    c->live_before = rc_live_objects();
    c->capacity = run->size[SIZE_CAPACITY];
    c->keys = run->size[SIZE_KEYS];
    c->gets = run->size[SIZE_GETS];
    c->stats = stats;
    /* Types live until the runtime ends: made once per run. */
    c->node_type = rc_type_new("Node", NODE_NSLOTS, NULL);
    c->entry_type = rc_type_new("Entry", ENTRY_NSLOTS, NULL);
    c->dict = rc_dict_new();
    c->head = c->node_type != NULL ? rc_instance_new(c->node_type) : NULL;
    if (c->entry_type == NULL || c->dict == NULL || c->head == NULL ||
        rc_slot_set(c->head, NODE_PREV, c->head) < 0 ||
        rc_slot_set(c->head, NODE_NEXT, c->head) < 0) {
        snprintf(run->summary, sizeof run->summary, "making the cache: %s", rc_error_message());
        if (c->head != NULL) {   /* the sentinel's links to itself */
            rc_slot_set(c->head, NODE_PREV, rc_none());
            rc_slot_set(c->head, NODE_NEXT, rc_none());
        }
        rc_decref(c->head);
        rc_decref(c->dict);
        free(stats);
        free(c);
        return -1;
    }
    pthread_mutex_init(&c->mu, NULL);
    run->state = c;
    return 0;
}

static int64_t lru_thread(rcgc_workload_run *run, int thread)
{
    struct lru *c = run->state;
    struct lru_stats *st = &c->stats[thread];
    long n = c->gets / run->threads + (thread < c->gets % run->threads ? 1 : 0);
    uint64_t rng = run->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(thread + 1));
    if (rng == 0)
        rng = 1;
    for (long i = 0; i < n; i++) {
        long key = (long)(next_random(&rng) % (uint64_t)c->keys);
        uint64_t t0 = rc_clock_ns();
        rc_detach();   /* wait for the mutex without holding up a stop or the GIL */
        pthread_mutex_lock(&c->mu);
        rc_attach();
        st->gets++;
        int rc = get_locked(run, c, st, key);
        pthread_mutex_unlock(&c->mu);
        run->record_op(run, thread, rc_clock_ns() - t0);
        if (rc < 0)
            return -1;
        if (thread == 0 && (i & 1023) == 0)
            run->progress(run, (double)i / (double)n);
    }
    return st->gets;
}

/* Walk the list both ways and check every node against the dict.  The
 * number of nodes, or -1 with run->summary saying what is wrong. */
static long check_list(rcgc_workload_run *run, struct lru *c)
{
    long n = 0, len = rc_dict_len(c->dict);
    rc_incref(c->head);
    rc_object *prev = c->head, *node = slot(c->head, NODE_NEXT);
    bool ok = true;
    while (ok && node != c->head) {
        rc_object *key = node != NULL && rc_is_instance(node) ? slot(node, NODE_KEY) : NULL;
        ok = key != NULL && rc_is_int(key) && slot_is(node, NODE_PREV, prev) && ++n <= len;
        if (!ok) {
            snprintf(run->summary, sizeof run->summary,
                     "the list is broken after %ld nodes (the dict holds %ld)", n, len);
        } else if (rc_dict_get_borrowed(c->dict, key) != node ||
                   !entry_ok(node, (long)rc_int_value(key))) {
            rc_error_clear();
            snprintf(run->summary, sizeof run->summary,
                     "node %ld of the list is not the dict's node of its key, or its entry is "
                     "wrong", n);
            ok = false;
        }
        rc_decref(key);
        rc_decref(prev);
        prev = node;
        node = ok ? slot(node, NODE_NEXT) : NULL;
    }
    if (ok && (!slot_is(c->head, NODE_PREV, prev) || n != len)) {
        snprintf(run->summary, sizeof run->summary,
                 "the list holds %ld nodes, the dict %ld, or its last link is wrong", n, len);
        ok = false;
    }
    rc_decref(prev);
    rc_decref(node);
    return ok ? n : -1;
}

static int lru_verify(rcgc_workload_run *run)
{
    struct lru *c = run->state;
    struct lru_stats sum = {0};
    for (int t = 0; t < run->threads; t++) {
        sum.gets += c->stats[t].gets;
        sum.hits += c->stats[t].hits;
        sum.misses += c->stats[t].misses;
        sum.evictions += c->stats[t].evictions;
    }
    long nodes = check_list(run, c);
    int rc = 0;
    if (nodes < 0) {
        rc = -1;
    } else if (sum.hits + sum.misses != sum.gets || nodes != sum.misses - sum.evictions ||
               nodes > c->capacity) {
        snprintf(run->summary, sizeof run->summary,
                 "counts disagree: %lld gets, %lld hits, %lld misses, %lld evictions, %ld nodes "
                 "(capacity %ld)", (long long)sum.gets, (long long)sum.hits,
                 (long long)sum.misses, (long long)sum.evictions, nodes, c->capacity);
        rc = -1;
    }
    /* Drop the cache: break the sentinel's cycle; the nodes' links and
     * their node <-> entry cycles are the collector's. */
    rc_slot_set(c->head, NODE_PREV, rc_none());
    rc_slot_set(c->head, NODE_NEXT, rc_none());
    rc_decref(c->head);
    rc_decref(c->dict);
    rc_gc_collect(2);
    long left = rc_live_objects() - c->live_before;
    if (rc == 0 && left != 0) {
        snprintf(run->summary, sizeof run->summary,
                 "%ld objects the run made are still alive after a full collection", left);
        rc = -1;
    }
    if (rc == 0)
        snprintf(run->summary, sizeof run->summary,
                 "%lld gets, %lld hits, %lld evictions; %ld nodes checked both ways, nothing "
                 "left", (long long)sum.gets, (long long)sum.hits, (long long)sum.evictions,
                 nodes);
    pthread_mutex_destroy(&c->mu);
    free(c->stats);
    free(c);
    run->state = NULL;
    return rc;
}

/* Nodes, entries, payloads and keys (about 400 bytes a cached key) plus
 * the cyclic garbage a collection's threshold lets wait. */
static double lru_peak_bytes(const rcgc_workload_run *run)
{
    return (double)run->size[SIZE_CAPACITY] * 400.0 + 4e6;
}

static const rcgc_workload lru_cache = {
    .name = "lru-cache",
    .description = "threads share an LRU cache (a dict and a linked list of instances); "
                   "every eviction leaves a cycle",
    .sizes = lru_sizes,
    .default_threads = 2,
    .min_threads = 1,
    .default_seed = 42,
    .setup = lru_setup,
    .run_thread = lru_thread,
    .verify = lru_verify,
    .peak_bytes = lru_peak_bytes,
};

RCGC_WORKLOADS(&lru_cache);
