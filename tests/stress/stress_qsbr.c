/* tests/stress/stress_qsbr.c: local reclamation (runtime/qsbr.c,
 * reclaim_held) against readers that keep coming online.
 *
 * The main thread is the only writer: it replaces the items of a shared
 * list with fresh objects, so every replaced item is retired.  While it is
 * the only online reader it keeps its full batches and frees them itself at
 * its next quiescent state if it is still alone then.  The other threads
 * attach, read items lock-free, check each one and detach again (with
 * rc_list_get, and with rc_list_get_borrowed, holding the borrowed items
 * until their last use before the next safepoint), over and over,
 * spending most of their time detached; every SYNC_EVERY replacements the
 * writer waits until all of them are detached, so that it is alone when it
 * next fills a batch: the window under test is a reader coming online just
 * as the writer decides that it is alone.  An object freed too early
 * fails check_obj (wrong type, torn slots) in any build, and is a
 * use-after-free under ASan or a race under TSan.  In the ft modes the
 * writer must have freed some batches locally, or the run did not exercise
 * the path and fails.  In gil mode the same threads take turns; nothing is
 * retired.
 *
 * Usage: stress_qsbr [--mode M] [--threads N] [--iterations K] [--seed S]
 * (N: the writer and N-1 readers.)
 */
#define RCGC_BUILDING 1
#include "stress.h"
#include "internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define LIST_LEN 512
#define READS_PER_ATTACH 32
/* Work done detached between attaches, so that the writer is often alone
 * (attaching costs relatively more under TSan). */
#define DETACHED_STEPS (UNDER_TSAN ? 200000 : 10000)

static rc_type *obj_type;   /* Obj(id, "obj-<id>"): stress_obj_new */
static rc_object *shared;   /* the list; written by main only */
static uint64_t seed = 777;
/* Set by the writer when it is done (release); readers poll it (acquire). */
static _Atomic int writer_done;
/* Readers detached right now: each adds 1 after detaching and subtracts 1
 * before attaching (seq_cst); the writer polls it. */
static _Atomic int detached_readers;

#define SYNC_EVERY 512   /* writer iterations between waits for "all detached" */

struct reader {
    int index;
    long attaches;   /* written by the reader, read by main after joining */
    long reads;
};

static void reader_main(void *arg)
{
    struct reader *r = arg;
    uint64_t rng = seed * 2654435761u + (uint64_t)r->index + 1;
    volatile uint64_t sink = 0;
    CHECK(rc_detach() == 0, "detach: %s", rc_error_message());
    atomic_fetch_add(&detached_readers, 1);
    while (!atomic_load_explicit(&writer_done, memory_order_acquire)) {
        atomic_fetch_sub(&detached_readers, 1);
        CHECK(rc_attach() == 0, "attach: %s", rc_error_message());
        r->attaches++;
        /* Borrowed items stay valid (memory intact, type unchanged) until
         * our next safepoint or detach, even if the writer replaces them
         * meanwhile: hold a batch of them for a while, then use them. */
        rc_object *borrowed[READS_PER_ATTACH];
        for (int k = 0; k < READS_PER_ATTACH; k++) {
            long i = (long)(rng_next(&rng) % LIST_LEN);
            borrowed[k] = rc_list_get_borrowed(shared, i);
            CHECK(borrowed[k] != NULL, "borrow: %s", rc_error_message());
        }
        /* Only what the borrowing rules allow until the last borrowed use
         * (rc_type_of, rc_try_incref); then check what we took. */
        for (int k = 0; k < READS_PER_ATTACH; k++) {
            rc_object *b = borrowed[k];
            borrowed[k] = NULL;
            if (b == NULL)
                continue;
            CHECK(rc_type_of(b) == obj_type, "reader %d: borrowed item freed", r->index);
            if (rc_try_incref(b) == 1)   /* not dead yet: a reference */
                borrowed[k] = b;
            r->reads++;
        }
        for (int k = 0; k < READS_PER_ATTACH; k++) {
            if (borrowed[k] != NULL) {
                CHECK(stress_obj_check(obj_type, borrowed[k]), "reader %d: bad borrowed object", r->index);
                rc_decref(borrowed[k]);
            }
        }
        for (int k = 0; k < READS_PER_ATTACH; k++) {
            long i = (long)(rng_next(&rng) % LIST_LEN);
            rc_object *o = rc_list_get(shared, i);
            CHECK(stress_obj_check(obj_type, o), "reader %d: bad object at %ld", r->index, i);
            rc_decref(o);
            r->reads++;
        }
        CHECK(rc_detach() == 0, "detach: %s", rc_error_message());
        atomic_fetch_add(&detached_readers, 1);
        for (int k = 0; k < DETACHED_STEPS; k++)
            sink += rng_next(&rng);
    }
    (void)sink;
    atomic_fetch_sub(&detached_readers, 1);
    CHECK(rc_attach() == 0, "attach: %s", rc_error_message());
}

int main(int argc, char **argv)
{
    struct stress_args args = {.threads = 3, .iterations = 400000, .seed = seed};
    stress_parse_args(argc, argv, 2, &args);
    seed = args.seed;
    rc_runtime *rt = stress_runtime_new(args.mode);
    obj_type = rc_type_new("Obj", 2, NULL);
    size_t base = rc_live_objects();
    int failed = 0;

    shared = rc_list_new();
    for (int64_t i = 0; i < LIST_LEN; i++) {
        rc_object *o = stress_obj_new(obj_type, i);
        if (o == NULL || rc_list_append(shared, o) < 0) {
            fprintf(stderr, "FAIL: setup: %s\n", rc_error_message());
            return 1;
        }
        rc_decref(o);
    }
    uint64_t freed_before = rc_tls_state->qsbr.freed_locally;

    int nreaders = args.threads - 1;
    struct reader readers[64];
    rc_thread *threads[64];
    for (int t = 0; t < nreaders; t++) {
        readers[t] = (struct reader){.index = t};
        threads[t] = rc_thread_start(reader_main, &readers[t]);
        if (threads[t] == NULL) {
            fprintf(stderr, "FAIL: rc_thread_start: %s\n", rc_error_message());
            return 1;
        }
    }
    uint64_t rng = seed;
    uint64_t deadline = rc_clock_ns() + 60ull * 1000000000ull;
    for (long it = 0; it < args.iterations; it++) {
        if (it % SYNC_EVERY == 0) {
            /* Now and then wait (at safepoints, bounded) until every reader
             * is detached, so that the writer is alone when it next fills a
             * batch while the readers come back: the window under test, at
             * any thread count and speed. */
            while (atomic_load(&detached_readers) < nreaders && rc_clock_ns() < deadline)
                rc_safepoint();
        }
        long i = (long)(rng_next(&rng) % LIST_LEN);
        rc_object *o = stress_obj_new(obj_type, LIST_LEN + it);
        CHECK(o != NULL && rc_list_set(shared, i, o) == 0, "set: %s", rc_error_message());
        rc_decref(o);   /* the replaced item is retired */
    }
    atomic_store_explicit(&writer_done, 1, memory_order_release);
    long attaches = 0, reads = 0;
    for (int t = 0; t < nreaders; t++) {
        if (rc_thread_join(threads[t]) != 0) {
            fprintf(stderr, "FAIL: rc_thread_join: %s\n", rc_error_message());
            failed++;
        }
        attaches += readers[t].attaches;
        reads += readers[t].reads;
    }
    uint64_t freed_locally = rc_tls_state->qsbr.freed_locally - freed_before;
    printf("readers attached %ld times, read %ld items; writer freed %llu "
           "retired blocks locally\n", attaches, reads, (unsigned long long)freed_locally);
    CHECK(attaches > 0 && reads > 0, "the readers never ran");
    if (args.mode != RC_MODE_GIL)
        CHECK(freed_locally > 0, "local reclamation never happened: the test "
              "did not exercise it");
    rc_decref(shared);
    CHECK(rc_live_objects() == base, "live objects %zu, expected %zu",
          rc_live_objects(), base);
    long leaked = rc_runtime_free(rt);
    if (leaked != 0) {
        fprintf(stderr, "FAIL: rc_runtime_free reported %ld leaked\n", leaked);
        failed++;
    }
    failed += stress_failed();
    printf("%s\n", failed == 0 ? "passed" : "FAILED");
    return failed == 0 ? 0 : 1;
}
