/* tests/unit/test_gclist.c: thread-safe GC lists.  Objects freed by a
 * thread that does not own their list are handed back to the owner and
 * released at the owner's next tracked allocation; an exited thread's
 * lists are adopted, and its owner record is reused by a later thread once
 * no thread can still push on its stack (so records and the walks over
 * them follow the threads alive, not every thread that ever ran); frees of old objects never drive the young count
 * below zero (which would hold automatic collection back).  Memory retired
 * for lock-free readers (QSBR) is freed by the retiring thread itself while
 * it is the only online reader, and waits for a grace period while another
 * reader is online.
 */
#define RCGC_BUILDING 1
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "harness.h"
#include "internal.h"

#define N 1000

static void clear_box(void *box)
{
    rc_list_clear(box);   /* frees N lists the main thread owns */
}

static void test_handback_drained_at_next_allocation(void **state)
{
    size_t live = rc_live_objects();
    rc_object *box = rc_list_new();
    for (int i = 0; i < N; i++) {
        rc_object *l = rc_list_new();
        assert_int_equal(0, rc_list_append(box, l));
        rc_decref(l);
    }
    rc_thread *t = rc_thread_start(clear_box, box);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(live + 1, rc_live_objects());   /* dead, whatever their memory */
    struct gcl_owner *me = rc_tls_state->gcl;
    if (harness_mode == RC_MODE_FT_ATOMIC)
        /* Every free ran on the other thread: all handed back to us. */
        assert_non_null(atomic_load(&me->handback));
    rc_object *one = rc_list_new();   /* our next tracked allocation drains */
    assert_null(atomic_load(&me->handback));
    rc_decref(one);
    rc_decref(box);
    assert_int_equal(0, rc_gc_verify_heap());
}

static void make_and_exit(void *out)
{
    rc_object *l = rc_list_new();
    rc_list_append(l, l);   /* a cycle that outlives its thread */
    *(rc_object **)out = l;  /* and one reference to it for the main thread */
    rc_incref(l);
    rc_decref(l);
}

static void test_exited_thread_lists_are_adopted(void **state)
{
    size_t live = rc_live_objects();
    rc_object *l = NULL;
    rc_thread *t = rc_thread_start(make_and_exit, &l);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(0, rc_gc_verify_heap());   /* in an orphan list, owner exited */
    rc_object *all = rc_gc_get_objects(-1);
    int found = 0;
    for (long i = 0; i < rc_list_len(all); i++) {
        rc_object *o = rc_list_get(all, i);
        found += o == l;
        rc_decref(o);
    }
    rc_decref(all);
    assert_int_equal(1, found);
    rc_decref(l);   /* now only the cycle holds it */
    assert_int_equal(live + 1, rc_live_objects());
    assert_int_equal(1, rc_gc_collect(2));
    assert_int_equal(live, rc_live_objects());
}

/* ------------------------------------------- exited threads' owner records */

/* A thread that leaves 8 lists in the main thread's box and one garbage
 * cycle behind. */
static void fill_box_and_exit(void *box)
{
    for (int i = 0; i < 8; i++) {
        rc_object *l = rc_list_new();
        rc_list_append(box, l);
        rc_decref(l);
    }
    rc_object *cycle = rc_list_new();
    rc_list_append(cycle, cycle);
    rc_decref(cycle);
}

static long owner_records(void)
{
    return gcl_owner_records(rc_tls_state->rt);
}

static void test_exited_owner_records_are_reused(void **state)
{
    rc_gc_disable();   /* no collection: reuse must not wait for one */
    long base = owner_records();
    /* the main thread's, the orphan's, and the concurrent collector's old space */
    assert_int_equal(harness_collector != RC_COLLECTOR_STW ? 3 : 2, base);
    rc_object *box = rc_list_new();
    for (int i = 0; i < 300; i++) {
        rc_thread *t = rc_thread_start(fill_box_and_exit, box);
        assert_int_equal(0, rc_thread_join(t));
        /* ft modes: its record is reusable after a grace period. */
        rc_detach();
        qsbr_barrier();
        rc_attach();
        /* Reused, not one per thread that ever ran. */
        assert_int_equal(base + 1, owner_records());
    }
    assert_int_equal(0, rc_gc_verify_heap());   /* their objects name the orphan */
    assert_int_equal(300, rc_gc_collect(0));   /* the cycles they left */
    assert_int_equal(0, rc_gc_verify_heap());
    assert_int_equal(300 * 8, rc_list_len(box));
    for (long i = 0; i < rc_list_len(box); i++) {
        rc_object *l = rc_list_get(box, i);
        assert_true(rc_is_list(l));
        assert_int_equal(0, rc_list_len(l));
        rc_decref(l);
    }
    rc_decref(box);
    assert_int_equal(0, rc_gc_collect(2));
    assert_int_equal(0, rc_gc_verify_heap());
    rc_gc_enable();
}

/* Starting a thread never stops the world, however many threads exited
 * before: a parent that spins attached (no safepoint) until its new
 * thread runs is not held up (it would wait forever for a stop that waits
 * for it). */
static _Atomic int child_ran;

static void nothing(void *unused)
{
}

static void set_child_ran(void *unused)
{
    atomic_store_explicit(&child_ran, 1, memory_order_release);
}

static void test_thread_start_never_stops_the_world(void **state)
{
    if (harness_mode == RC_MODE_GIL) {
        print_message("skipped: in gil mode a parent spinning attached holds the GIL its child needs\n");
        skip();
    }
    rc_gc_disable();
    for (int i = 0; i < 200; i++)
        assert_int_equal(0, rc_thread_join(rc_thread_start(nothing, NULL)));
    size_t stops = rc_stw_count();
    atomic_store(&child_ran, 0);
    rc_thread *t = rc_thread_start(set_child_ran, NULL);
    assert_non_null(t);
    while (!atomic_load_explicit(&child_ran, memory_order_acquire))
        sched_yield();   /* attached, no safepoint */
    assert_int_equal(stops, rc_stw_count());
    assert_int_equal(0, rc_thread_join(t));
    rc_gc_enable();
}

/* A thread with more objects than one exit chunk (4,096) exits: they are
 * all adopted, each named by the orphan, none left behind in its record
 * (which a later thread reuses, empty). */
static void fill_box_big(void *box)
{
    for (int i = 0; i < 20000; i++) {
        rc_object *l = rc_list_new();
        rc_list_append(box, l);
        rc_decref(l);
    }
}

static void test_big_heap_adopted_in_chunks(void **state)
{
    rc_object *box = rc_list_new();
    rc_thread *t = rc_thread_start(fill_box_big, box);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(0, rc_gc_verify_heap());
    struct gcl_owner *orphan = rc_tls_state->rt->gcl.orphan;
    /* Under the torture configuration collections promote some into the
     * oldest generation first: the concurrent collector's old space. */
    struct gcl_owner *old = rc_tls_state->rt->gcl.oldspace;
    for (long i = 0; i < rc_list_len(box); i++) {
        rc_object *l = rc_list_get(box, i);
        struct gcl_owner *ow = gcl_owner_of(OBJ_GC_HEAD(l));
        rc_decref(l);
        assert_true(ow == orphan || (old != NULL && ow == old));
    }
    assert_int_equal(20000, rc_list_len(box));
    rc_decref(box);
    assert_int_equal(0, rc_gc_verify_heap());
}

/* A thread exits while a collection holds its objects in a private list
 * (phase 2, a finalizer running), and its owner record is reused by a
 * thread that starts before phase 3: the objects still name the record.
 * Put back, they go to the lists of the thread now using it, and name it
 * (the verifier in phase 3 checks); when that thread exits, to the
 * orphan's. */
static _Atomic int holder_phase, reuser_phase;
static rc_object *resurrected;
static rc_thread *holder, *reuser;
static struct gcl_owner *holder_record, *reuser_record;

static void holder_main(void *p)
{
    rc_type *type = p;
    holder_record = rc_tls_state->gcl;
    rc_object *a = rc_instance_new(type);
    rc_object *b = rc_list_new();
    rc_slot_set(a, 0, b);
    rc_list_append(b, a);   /* a <-> b, in this thread's lists */
    rc_decref(b);
    rc_decref(a);            /* garbage now */
    atomic_store_explicit(&holder_phase, 1, memory_order_release);
    rc_detach();
    while (atomic_load_explicit(&holder_phase, memory_order_acquire) != 2)
        sched_yield();
    rc_attach();
}

static void reuser_main(void *unused)
{
    reuser_record = rc_tls_state->gcl;
    atomic_store_explicit(&reuser_phase, 1, memory_order_release);
    rc_detach();
    while (atomic_load_explicit(&reuser_phase, memory_order_acquire) != 2)
        sched_yield();
    rc_attach();
}

static void resurrect_and_reuse_record(rc_object *self)
{
    rc_incref(self);
    resurrected = self;
    atomic_store_explicit(&holder_phase, 2, memory_order_release);
    rc_thread_join(holder);
    holder = NULL;
    /* ft modes: a record is reusable after a grace period; wait for the
     * holder's (we are the only other reader). */
    rc_detach();
    qsbr_barrier();
    rc_attach();
    reuser = rc_thread_start(reuser_main, NULL);
    rc_detach();
    while (atomic_load_explicit(&reuser_phase, memory_order_acquire) != 1)
        sched_yield();
    rc_attach();
}

static void test_thread_exits_while_collection_holds_its_objects(void **state)
{
    rc_gc_disable();
    rc_type *type = rc_type_new("Holder", 1, resurrect_and_reuse_record);
    assert_non_null(type);
    atomic_store(&holder_phase, 0);
    atomic_store(&reuser_phase, 0);
    resurrected = NULL;
    holder = rc_thread_start(holder_main, type);
    assert_non_null(holder);
    rc_detach();   /* gil mode: the holder needs the GIL to get there */
    while (atomic_load_explicit(&holder_phase, memory_order_acquire) != 1)
        sched_yield();
    rc_attach();
    rc_gc_set_verify(1);   /* phase 3's verifier checks where they went */
    assert_int_equal(2, rc_gc_collect(2));   /* found; both resurrected */
    rc_gc_set_verify(0);
    assert_null(holder);
    assert_non_null(resurrected);
    assert_ptr_equal(holder_record, reuser_record);   /* the record was reused */
    /* The concurrent collector keeps the oldest generation in its old
     * space, which survivors of a full collection join instead. */
    struct gcl_owner *old = rc_tls_state->rt->gcl.oldspace;
    assert_ptr_equal(old != NULL ? old : reuser_record, gcl_owner_of(OBJ_GC_HEAD(resurrected)));
    assert_int_equal(0, rc_gc_verify_heap());
    atomic_store_explicit(&reuser_phase, 2, memory_order_release);
    assert_int_equal(0, rc_thread_join(reuser));
    assert_int_equal(0, rc_gc_verify_heap());   /* now in the orphan's lists */
    assert_ptr_equal(old != NULL ? old : rc_tls_state->rt->gcl.orphan,
                     gcl_owner_of(OBJ_GC_HEAD(resurrected)));
    rc_object *b = rc_slot_get(resurrected, 0);
    assert_true(rc_is_list(b));
    assert_int_equal(1, rc_list_len(b));
    rc_decref(b);
    rc_slot_set(resurrected, 0, rc_none());   /* break the cycle */
    rc_decref(resurrected);
    rc_gc_enable();
}

/* Resident memory in bytes (/proc/self/statm). */
static long resident_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static void one_list(void *unused)
{
    rc_decref(rc_list_new());   /* the thread made an owner record its own */
}

/* Start and join n threads, two at a time; every 1,000, wait for the
 * grace periods that make exited threads' records reusable (liburcu's
 * worker ends them in the background, later on a loaded machine). */
static void churn_threads(long n)
{
    for (long i = 0; i < n; i += 2) {
        if (i % 1000 == 0) {
            rc_detach();
            qsbr_barrier();
            rc_attach();
        }
        rc_thread *a = rc_thread_start(one_list, NULL);
        rc_thread *b = rc_thread_start(one_list, NULL);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(0, rc_thread_join(a));
        assert_int_equal(0, rc_thread_join(b));
    }
}

/* After 100,000 threads have started and exited, the runtime holds what
 * it held after 100: owner records are reused (each ~160 bytes, about
 * 16 MB for 100,000 if kept, and a walk over each at every collection).
 * The record count is exact.  Resident memory (after giving the
 * allocators' free memory back) is checked too, except under a sanitizer,
 * whose quarantine and caches hold hundreds of MB of freed memory.  Under
 * a sanitizer threads start 20-50x slower: 5,000 threads there (the exact
 * record count still catches a record kept per thread). */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifdef UNDER_SANITIZER
#define MANY_THREADS 5000L
#endif
#ifndef MANY_THREADS
#define MANY_THREADS 100000L
#endif

static void test_memory_flat_after_many_threads(void **state)
{
    churn_threads(100);
#ifndef UNDER_SANITIZER
    /* The rings of stop and collection records grow to RC_RECORDS_KEPT
     * entries (a few MB): fill them first, so that the collections the
     * threads' allocations run under GC stress do not count as growth. */
    for (size_t i = 0; i < RC_RECORDS_KEPT; i++)
        rc_gc_collect(0);
#endif
    rc_gc_collect(2);
    long records = owner_records();
    mem_trim();
    long rss = resident_bytes();
    churn_threads(MANY_THREADS);
    rc_gc_collect(2);
    mem_trim();
    long grown = resident_bytes() - rss;
    printf("after %ld more threads: %ld owner records (%ld after 100), resident memory "
           "%+ld kB (%s allocator)\n", MANY_THREADS, owner_records(), records, grown / 1024,
           mem_allocator_name());
    /* As many as ran at once or waited for a grace period in one round of
     * 1,000, not one per thread that ever ran. */
    assert_true(owner_records() <= records + 1000 + 2);
#ifndef UNDER_SANITIZER
    assert_true(grown < 4L * 1024 * 1024);   /* 16 MB if records were kept */
#endif
}

static void test_young_count_never_negative(void **state)
{
    rc_gc_disable();
    rc_object *box = rc_list_new();
    for (int i = 0; i < N; i++) {
        rc_object *l = rc_list_new();
        rc_list_append(box, l);
        rc_decref(l);
    }
    assert_true(rc_gc_collect(2) >= 0);   /* the count starts afresh */
    rc_thread *t = rc_thread_start(clear_box, box);   /* N frees of old objects */
    assert_int_equal(0, rc_thread_join(t));
    long counts[RC_GC_GENERATIONS];
    assert_int_equal(0, rc_gc_get_count(counts));
    assert_true(counts[0] >= 0);
    /* So new allocations count toward the next collection at once. */
    for (int i = 0; i < 100; i++) {
        rc_object *l = rc_list_new();
        rc_list_append(box, l);
        rc_decref(l);
    }
    assert_int_equal(0, rc_gc_get_count(counts));
    assert_true(counts[0] >= 100 - 32);   /* other threads' batches aside */
    rc_decref(box);
    rc_gc_enable();
}

/* Retire n blocks: objects that were in a list (marked shared) and die. */
static void retire_objects(rc_object *box, int n)
{
    for (int i = 0; i < n; i++) {
        rc_object *o = rc_list_new();
        rc_list_append(box, o);   /* marked shared: retired when freed */
        rc_decref(o);
        rc_object *back = rc_list_pop(box, -1);
        rc_decref(back);          /* freed: retired through QSBR */
    }
}

/* Reach safepoints until no batch is pending (bounded): with no other
 * thread online, only our own quiescent states can end grace periods. */
static void safepoints_until_nothing_pending(void)
{
    uint64_t deadline = rc_clock_ns() + 30ull * 1000000000ull;
    while (!qsbr_idle(rc_tls_state) && rc_clock_ns() < deadline)
        rc_safepoint();
}

/* Batches that came back to us are freed a slice each time we fill a
 * batch of our own (runtime/qsbr.c, free_returned), not at safepoints:
 * retire until they are.  Returns the batches that took. */
static long retire_until_returned_freed(rc_object *box)
{
    long n = 0;
    while (rc_tls_state->qsbr.returned != NULL && n < 100000) {
        retire_objects(box, 256);
        n++;
    }
    return n;
}

static void test_lone_thread_frees_retired_memory_itself(void **state)
{
    /* One thread alone retires memory; no other reader can hold a pointer
     * to it, so it frees each full batch itself at its next safepoint
     * (local reclamation, runtime/qsbr.c): no grace period, nothing left
     * pending. */
    if (harness_mode == RC_MODE_GIL) {
        print_message("skipped: gil mode has no lock-free reads and retires nothing\n");
        skip();
    }
    rc_object *box = rc_list_new();
    struct qsbr_thread_state *q = &rc_tls_state->qsbr;
    uint64_t retired0 = q->retired, local0 = q->freed_locally;
    retire_objects(box, 100000);
    rc_safepoint();   /* one more quiescent state */
    assert_true(q->retired - retired0 >= 100000);
    /* Every full batch (256 blocks); the last, partial one is still being
     * filled. */
    assert_true(q->freed_locally - local0 >= 100000 - 256);
    safepoints_until_nothing_pending();   /* earlier tests' batches */
    assert_true(qsbr_idle(rc_tls_state));
    rc_decref(box);
}

/* A second reader, driven by phases (flags: release stores, acquire
 * loads): online at safepoints until phase 1; detached until phase 2;
 * online at safepoints again until phase 3.  reader_state says where it
 * is: 1 online, 2 detached, 3 online again. */
static _Atomic int reader_phase, reader_state;

/* Wait until *flag reaches value: at safepoints (quiescent states), or
 * without any (detached; or to keep a held batch where it is). */
static void wait_flag(_Atomic int *flag, int value, bool at_safepoints)
{
    while (atomic_load_explicit(flag, memory_order_acquire) < value) {
        if (at_safepoints)
            rc_safepoint();
        else
            sched_yield();
    }
}

static void second_reader(void *arg)
{
    (void)arg;
    atomic_store_explicit(&reader_state, 1, memory_order_release);
    wait_flag(&reader_phase, 1, true);
    rc_detach();
    atomic_store_explicit(&reader_state, 2, memory_order_release);
    wait_flag(&reader_phase, 2, false);
    rc_attach();
    atomic_store_explicit(&reader_state, 3, memory_order_release);
    wait_flag(&reader_phase, 3, true);
}

/* A thread that stops retiring, online and passing safepoints only,
 * still frees the batches that came back to it (a slice per quiescent
 * state once it has retired nothing for a while): qsbr_barrier, which
 * waits for them, returns (it would wait for that thread's exit). */
static _Atomic int quiet_phase, quiet_state;
static _Atomic long quiet_freed;

static void quiet_worker(void *arg)
{
    (void)arg;
    rc_object *box = rc_list_new();
    uint64_t returned0 = rc_tls_state->qsbr.freed_returned;
    retire_objects(box, 20000);   /* the main thread online: submitted */
    atomic_store_explicit(&quiet_state, 1, memory_order_release);
    wait_flag(&quiet_phase, 1, true);   /* safepoints, never retiring */
    atomic_store(&quiet_freed, (long)(rc_tls_state->qsbr.freed_returned - returned0));
    rc_decref(box);
}

static void test_thread_that_stops_retiring_frees_what_came_back(void **state)
{
    if (harness_mode == RC_MODE_GIL) {
        print_message("skipped: gil mode has no lock-free reads and retires nothing\n");
        skip();
    }
    rc_gc_disable();   /* no stop parks the worker meanwhile */
    atomic_store(&quiet_phase, 0);
    atomic_store(&quiet_state, 0);
    rc_thread *th = rc_thread_start(quiet_worker, NULL);
    assert_non_null(th);
    wait_flag(&quiet_state, 1, true);
    assert_int_equal(0, rc_detach());
    qsbr_barrier();   /* hangs if the worker keeps its batches */
    assert_int_equal(0, rc_attach());
    atomic_store_explicit(&quiet_phase, 1, memory_order_release);
    assert_int_equal(0, rc_thread_join(th));
    assert_true(atomic_load(&quiet_freed) >= 20000 - 256);
    rc_gc_enable();
}

static void test_other_online_reader_gets_a_grace_period(void **state)
{
    /* While another reader is online it may hold pointers to what we
     * retire: nothing may be freed locally, every batch goes through a
     * grace period.  Once it is offline, we free locally again.  A batch
     * kept while we were alone is not freed if the reader came online
     * before our next quiescent state (the interleaving reclaim_held's
     * check is for).  Our own safepoints end the grace periods of what is
     * still pending. */
    if (harness_mode == RC_MODE_GIL) {
        print_message("skipped: gil mode has no lock-free reads and retires nothing\n");
        skip();
    }
    rc_gc_disable();   /* a stop would park the reader (offline) meanwhile */
    atomic_store(&reader_phase, 0);
    atomic_store(&reader_state, 0);
    rc_object *box = rc_list_new();
    struct qsbr_thread_state *q = &rc_tls_state->qsbr;
    rc_thread *th = rc_thread_start(second_reader, NULL);
    assert_non_null(th);

    /* 1. The reader online: nothing freed locally. */
    wait_flag(&reader_state, 1, true);
    uint64_t local0 = q->freed_locally, returned0 = q->freed_returned;
    retire_objects(box, 20000);
    rc_safepoint();
    assert_int_equal(0, (long)(q->freed_locally - local0));

    /* 2. The reader detached: local again. */
    atomic_store_explicit(&reader_phase, 1, memory_order_release);
    wait_flag(&reader_state, 2, true);
    local0 = q->freed_locally;
    retire_objects(box, 20000);
    rc_safepoint();
    assert_true(q->freed_locally - local0 >= 20000 - 256);

    /* 3. A batch kept while alone; the reader comes online before our next
     * safepoint: that safepoint must submit the batch, not free it. */
    for (int i = 0; i < 300; i++) {
        rc_object *o = rc_list_new();
        rc_list_append(box, o);
        rc_decref(o);
    }
    local0 = q->freed_locally;
    assert_int_equal(0, rc_list_clear(box));   /* 300 retired: a batch fills */
    assert_non_null(q->held);
    atomic_store_explicit(&reader_phase, 2, memory_order_release);
    wait_flag(&reader_state, 3, false);   /* no safepoint meanwhile */
    assert_non_null(q->held);
    rc_safepoint();
    assert_null(q->held);
    assert_int_equal(0, (long)(q->freed_locally - local0));

    /* The batches submitted meanwhile end their grace periods with both
     * of us at safepoints, and come back to us to be freed: we stayed
     * online throughout (phase 1's, the batch of phase 3). */
    uint64_t deadline = rc_clock_ns() + 30ull * 1000000000ull;
    while (q->returned == NULL && rc_clock_ns() < deadline)
        rc_safepoint();
    /* Taken from the box at a safepoint, freed as we retire more: two for
     * each batch of ours (and more come back meanwhile, the reader being
     * online). */
    assert_non_null(q->returned);
    long batches = q->nreturned;
    long ours = retire_until_returned_freed(box);
    assert_null(q->returned);
    assert_true(ours <= 2 * batches + 64);
    safepoints_until_nothing_pending();
    assert_true(qsbr_idle(rc_tls_state));
    assert_null(q->returned);
    assert_true(q->freed_returned - returned0 >= 20000 - 256 + 256);
    atomic_store_explicit(&reader_phase, 3, memory_order_release);
    assert_int_equal(0, rc_thread_join(th));
    rc_decref(box);
    rc_gc_enable();
}

/* A second reader at safepoints until told to stop. */
static _Atomic int online_stop;

static void online_reader(void *arg)
{
    (void)arg;
    atomic_store_explicit(&reader_state, 1, memory_order_release);
    wait_flag(&online_stop, 1, true);
}

static void test_offline_thread_batches_are_freed_without_it(void **state)
{
    /* Batches go back to the thread that retired them after their grace
     * period (runtime/qsbr.c, struct qsbr_box).  A thread that is offline
     * then (detached: it may stay so for as long as it likes) must not
     * keep them: the reclaimer frees them itself, so everything is freed
     * while we stay detached. */
    if (harness_mode == RC_MODE_GIL) {
        print_message("skipped: gil mode has no lock-free reads and retires nothing\n");
        skip();
    }
    rc_gc_disable();   /* no stop meanwhile */
    atomic_store(&online_stop, 0);
    atomic_store(&reader_state, 0);
    rc_object *box = rc_list_new();
    rc_thread *th = rc_thread_start(online_reader, NULL);
    assert_non_null(th);
    wait_flag(&reader_state, 1, true);
    retire_objects(box, 20000);   /* submitted: another reader is online */
    struct thr_state *ts = rc_tls_state;
    rc_detach();
    /* Detached, we are no reader: the other one's safepoints end the grace
     * periods, and nothing may wait in our box for us. */
    uint64_t until = rc_clock_ns() + 30ull * 1000000000ull;
    while (!qsbr_idle(ts) && rc_clock_ns() < until)
        sched_yield();
    bool idle = qsbr_idle(ts);
    rc_attach();
    assert_true(idle);
    atomic_store_explicit(&online_stop, 1, memory_order_release);
    assert_int_equal(0, rc_thread_join(th));
    rc_decref(box);
    rc_gc_enable();
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_handback_drained_at_next_allocation),
        HARNESS_TEST(test_exited_thread_lists_are_adopted),
        HARNESS_TEST(test_offline_thread_batches_are_freed_without_it),
        HARNESS_TEST(test_exited_owner_records_are_reused),
        HARNESS_TEST(test_big_heap_adopted_in_chunks),
        HARNESS_TEST(test_thread_start_never_stops_the_world),
        HARNESS_TEST(test_thread_exits_while_collection_holds_its_objects),
        HARNESS_TEST(test_memory_flat_after_many_threads),
        HARNESS_TEST(test_young_count_never_negative),
        HARNESS_TEST(test_lone_thread_frees_retired_memory_itself),
        HARNESS_TEST(test_other_online_reader_gets_a_grace_period),
        HARNESS_TEST(test_thread_that_stops_retiring_frees_what_came_back),
    };
    return HARNESS_RUN("gclist", tests, argc, argv);
}
