/* tests/stress/stress_refcount.c: reference counting under threads, in one
 * mode (--mode).  Three phases, each ending with every object accounted
 * for:
 *   hammer    threads take and drop references to shared objects at random;
 *             afterwards every count is back to exactly 1;
 *   handoff   producers build checksummed objects and hand them to
 *             consumers through a queue; consumers verify and drop them
 *             (cross-thread frees, BRC merge queues);
 *   orphans   threads build objects, publish them and exit at once, while
 *             other threads verify and drop them: owners exit before their
 *             objects do (merge by whoever finds them).
 * Usage: stress_refcount [--mode M] [--threads N] [--iterations K] [--seed S]
 * Threaded runs are not exactly repeatable; the seed fixes each thread's
 * choices, not the interleaving.
 */
#include "stress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int nthreads = 4;
static long iterations = 1000000;
static uint64_t seed = 12345;
static rc_type *item_type;   /* Item(seq, name, payload list) */

/* An item with a checksum that breaks if any part was freed or reused. */
static rc_object *make_item(long seq)
{
    rc_object *it = rc_instance_new(item_type);
    rc_object *n = rc_int_new(seq);
    char buf[32];
    snprintf(buf, sizeof buf, "item-%ld", seq);
    rc_object *s = rc_str_new(buf);
    rc_object *l = rc_list_new();
    for (long k = 0; k < 4; k++) {
        rc_object *v = rc_int_new(seq * 7 + k);
        rc_list_append(l, v);
        rc_decref(v);
    }
    rc_slot_set(it, 0, n);
    rc_slot_set(it, 1, s);
    rc_slot_set(it, 2, l);
    rc_decref(n);
    rc_decref(s);
    rc_decref(l);
    return it;
}

static int check_item(rc_object *it)
{
    if (!rc_is_instance(it) || rc_type_of(it) != item_type)
        return 0;
    rc_object *n = rc_slot_get(it, 0), *s = rc_slot_get(it, 1), *l = rc_slot_get(it, 2);
    long seq = (long)rc_int_value(n);
    char buf[32];
    snprintf(buf, sizeof buf, "item-%ld", seq);
    int ok = rc_is_str(s) && strcmp(rc_str_data(s), buf) == 0 && rc_list_len(l) == 4;
    for (long k = 0; ok && k < 4; k++) {
        rc_object *v = rc_list_get(l, k);
        ok = v != NULL && rc_int_value(v) == seq * 7 + k;
        rc_decref(v);
    }
    rc_decref(n);
    rc_decref(s);
    rc_decref(l);
    return ok;
}

/* ------------------------------------------------------------- hammer */

#define NSHARED 64
static rc_object *shared_objs[NSHARED];

struct worker {
    int index;
    long done;
};

static void hammer_worker(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed * 1000003u + (uint64_t)w->index + 1;
    rc_object *held[16];
    int nheld = 0;
    for (long i = 0; i < iterations; i++) {
        uint64_t r = rng_next(&rng);
        if (nheld < 16 && (r & 1)) {
            rc_object *o = shared_objs[(r >> 8) % NSHARED];
            rc_incref(o);
            held[nheld++] = o;
        } else if (nheld > 0) {
            rc_decref(held[--nheld]);
        }
        if ((i & 63) == 0)
            rc_safepoint();
    }
    while (nheld > 0)
        rc_decref(held[--nheld]);
    w->done = iterations;
}

static void phase_hammer(void)
{
    for (int i = 0; i < NSHARED; i++)
        shared_objs[i] = (i % 3 == 0) ? make_item(i)
                         : (i % 3 == 1) ? rc_str_new("shared") : rc_list_new();
    rc_thread *t[64];
    struct worker w[64];
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){.index = i};
        t[i] = rc_thread_start(hammer_worker, &w[i]);
        CHECK(t[i] != NULL, "%s", rc_error_message());
    }
    for (int i = 0; i < nthreads; i++) {
        CHECK(rc_thread_join(t[i]) == 0, "%s", rc_error_message());
        CHECK(w[i].done == iterations, "thread %d did %ld", i, w[i].done);
    }
    rc_safepoint();   /* merge anything queued to us */
    for (int i = 0; i < NSHARED; i++) {
        CHECK(rc_refcount(shared_objs[i]) == 1, "object %d has count %ld", i,
              (long)rc_refcount(shared_objs[i]));
        if (i % 3 == 0)
            CHECK(check_item(shared_objs[i]), "item %d corrupted", i);
        rc_decref(shared_objs[i]);
    }
}

/* ------------------------------------------------------------- handoff */

#define QCAP 256
static struct {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    rc_object *items[QCAP];
    int head, len;
    int producers_left;
} q = {.mu = PTHREAD_MUTEX_INITIALIZER, .not_empty = PTHREAD_COND_INITIALIZER,
       .not_full = PTHREAD_COND_INITIALIZER};

/* Blocking waits happen detached, so that in gil mode the waiter does not
 * hold the GIL that the other side needs. */
static void q_put(rc_object *o)
{
    rc_detach();
    pthread_mutex_lock(&q.mu);
    while (q.len == QCAP)
        pthread_cond_wait(&q.not_full, &q.mu);
    q.items[(q.head + q.len++) % QCAP] = o;
    pthread_cond_signal(&q.not_empty);
    pthread_mutex_unlock(&q.mu);
    rc_attach();
}

static rc_object *q_get(void)
{
    rc_detach();
    pthread_mutex_lock(&q.mu);
    while (q.len == 0 && q.producers_left > 0)
        pthread_cond_wait(&q.not_empty, &q.mu);
    rc_object *o = NULL;
    if (q.len > 0) {
        o = q.items[q.head];
        q.head = (q.head + 1) % QCAP;
        q.len--;
        pthread_cond_signal(&q.not_full);
    }
    pthread_mutex_unlock(&q.mu);
    rc_attach();
    return o;
}

static long items_per_producer;

static void producer(void *p)
{
    struct worker *w = p;
    for (long i = 0; i < items_per_producer; i++) {
        rc_object *it = make_item(w->index * 1000000L + i);
        CHECK(it != NULL, "%s", rc_error_message());
        q_put(it);   /* our reference goes to the consumer */
        w->done++;
    }
    pthread_mutex_lock(&q.mu);
    if (--q.producers_left == 0)
        pthread_cond_broadcast(&q.not_empty);
    pthread_mutex_unlock(&q.mu);
}

static void consumer(void *p)
{
    struct worker *w = p;
    rc_object *o;
    while ((o = q_get()) != NULL) {
        CHECK(check_item(o), "handed-over item corrupted");
        rc_decref(o);
        w->done++;
    }
}

static void phase_handoff(void)
{
    int np = nthreads / 2 > 0 ? nthreads / 2 : 1, nc = nthreads - np > 0 ? nthreads - np : 1;
    items_per_producer = iterations / 20;
    q.producers_left = np;
    rc_thread *t[128];
    struct worker w[128];
    for (int i = 0; i < np + nc; i++) {
        w[i] = (struct worker){.index = i};
        t[i] = rc_thread_start(i < np ? producer : consumer, &w[i]);
        CHECK(t[i] != NULL, "%s", rc_error_message());
    }
    long produced = 0, consumed = 0;
    for (int i = 0; i < np + nc; i++) {
        CHECK(rc_thread_join(t[i]) == 0, "%s", rc_error_message());
        if (i < np)
            produced += w[i].done;
        else
            consumed += w[i].done;
    }
    CHECK(produced == np * items_per_producer, "produced %ld", produced);
    CHECK(consumed == produced, "consumed %ld of %ld", consumed, produced);
}

/* ------------------------------------------------------------- orphans */

#define NSLOTS 512
static _Atomic(rc_object *) slots[NSLOTS];
static _Atomic long orphans_dropped;

struct orphan_maker {
    int index;
    int round;
};

static void make_orphans(void *p)
{
    struct orphan_maker *m = p;
    /* Publish items into free slots (our references go with them), then
     * exit while droppers may still hold them. */
    uint64_t rng = seed ^ ((uint64_t)m->index << 20) ^ (uint64_t)m->round;
    for (int k = 0; k < 32; k++) {
        rc_object *it = make_item(m->round * 100000L + m->index * 1000L + k);
        for (;;) {
            int s = (int)(rng_next(&rng) % NSLOTS);
            rc_object *expected = NULL;
            if (atomic_compare_exchange_strong(&slots[s], &expected, it))
                break;
            rc_safepoint();
        }
    }
}

static _Atomic int makers_done;

static void drop_orphans(void *p)
{
    struct worker *w = p;
    uint64_t rng = seed + 77u * (uint64_t)(w->index + 1);
    for (;;) {
        int finished = atomic_load(&makers_done);   /* read before the scan */
        int found = 0;
        /* One pass covers every slot, from a random start: a pass that
         * finds nothing after the makers finished means all were taken. */
        uint64_t start = rng_next(&rng);
        for (int n = 0; n < NSLOTS; n++) {
            int s = (int)((start + (uint64_t)n) % NSLOTS);
            rc_object *it = atomic_exchange(&slots[s], NULL);
            if (it != NULL) {
                CHECK(check_item(it), "orphan corrupted");
                rc_decref(it);
                atomic_fetch_add(&orphans_dropped, 1);
                found++;
            }
        }
        rc_safepoint();
        if (finished && found == 0)
            break;
    }
}

static void phase_orphans(void)
{
    int rounds = (int)(iterations / 20000) + 1;
    int ndrop = nthreads / 2 > 0 ? nthreads / 2 : 1;
    rc_thread *droppers[64];
    struct worker dw[64];
    atomic_store(&makers_done, 0);
    for (int i = 0; i < ndrop; i++) {
        dw[i] = (struct worker){.index = i};
        droppers[i] = rc_thread_start(drop_orphans, &dw[i]);
    }
    for (int r = 0; r < rounds; r++) {
        rc_thread *makers[64];
        struct orphan_maker mk[64];
        for (int i = 0; i < nthreads; i++) {
            mk[i] = (struct orphan_maker){.index = i, .round = r};
            makers[i] = rc_thread_start(make_orphans, &mk[i]);
        }
        for (int i = 0; i < nthreads; i++)
            CHECK(rc_thread_join(makers[i]) == 0, "%s", rc_error_message());
    }
    atomic_store(&makers_done, 1);
    for (int i = 0; i < ndrop; i++)
        CHECK(rc_thread_join(droppers[i]) == 0, "%s", rc_error_message());
    CHECK(atomic_load(&orphans_dropped) == (long)rounds * nthreads * 32, "dropped %ld",
          atomic_load(&orphans_dropped));
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    struct stress_args args = {.threads = nthreads, .iterations = iterations, .seed = seed};
    stress_parse_args(argc, argv, 1, &args);
    rc_mode mode = args.mode;
    nthreads = args.threads;
    iterations = args.iterations;
    seed = args.seed;
    rc_runtime *rt = stress_runtime_new(mode);
    item_type = rc_type_new("Item", 3, NULL);
    size_t base = rc_live_objects();
    phase_hammer();
    CHECK(rc_live_objects() == base, "hammer: live %zu, expected %zu", rc_live_objects(), base);
    phase_handoff();
    CHECK(rc_live_objects() == base, "handoff: live %zu, expected %zu", rc_live_objects(), base);
    phase_orphans();
    CHECK(rc_live_objects() == base, "orphans: live %zu, expected %zu", rc_live_objects(), base);
    long leaked = rc_runtime_free(rt);
    CHECK(leaked == 0, "rc_runtime_free reported %ld leaked", leaked);
    int passed = stress_failed() == 0;
    printf("%d passed, %d failed\n", passed, !passed);
    return passed ? 0 : 1;
}
