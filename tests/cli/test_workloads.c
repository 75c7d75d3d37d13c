/* tests/cli/test_workloads.c: workload libraries for the tests of
 * `rcgc --load` (tests/CMakeLists.txt builds one per variant).
 *
 *   (no define)        workloads that each fail one way: setup (with its
 *                      summary, or with run->fail), a thread (with
 *                      run->fail, or returning -1 alone), verify, a leak,
 *                      a thread that cannot start while the others would
 *                      wait for it; plus "wl-sizes", whose size may be 0
 *                      and which checks that the sizes, threads and seed
 *                      reach it, and "wl-depth", whose size has a
 *                      built-in workload's name.
 *   TW_NO_SYMBOL       defines a workload but registers nothing.
 *   TW_ABI             registers for another ABI version.
 *   TW_OBJECT_SIZE     records another object header size.
 *   TW_CLASH           a workload named like a built-in one.
 *   TW_CLASH_LOADED    a workload named like the example's (lru-cache).
 *   TW_RESERVED_SIZE   a size named like one of rcgc's own flags.
 *   TW_BAD_DEFAULT     a size whose default lies outside its bounds.
 */
#include <stdatomic.h>
#include <stdio.h>

#include <rcgc/rcgc.h>
#include <rcgc/testing.h>
#include <rcgc/workload.h>

static int64_t one_op(rcgc_workload_run *run, int thread)
{
    (void)run;
    (void)thread;
    return 1;
}

static int verify_ok(rcgc_workload_run *run)
{
    snprintf(run->summary, sizeof run->summary, "ok");
    return 0;
}

#if defined(TW_NO_SYMBOL) || defined(TW_ABI) || defined(TW_OBJECT_SIZE) || defined(TW_CLASH) || \
    defined(TW_CLASH_LOADED) || defined(TW_RESERVED_SIZE) || defined(TW_BAD_DEFAULT)

#if defined(TW_RESERVED_SIZE)
static const rcgc_workload_size sizes[] = {{"threads", "shadows --threads", 1, 1, 1, 9},
                                           {NULL, NULL, 0, 0, 0, 0}};
#elif defined(TW_BAD_DEFAULT)
static const rcgc_workload_size sizes[] = {{"rounds", "default out of bounds", 50, 1, 1, 10},
                                           {NULL, NULL, 0, 0, 0, 0}};
#else
static const rcgc_workload_size *const sizes = NULL;
#endif

static const rcgc_workload bad = {
#if defined(TW_CLASH)
    .name = "binary-trees",
#elif defined(TW_CLASH_LOADED)
    .name = "lru-cache",
#else
    .name = "wl-bad",
#endif
    .description = "a library the command must refuse",
    .sizes = sizes,
    .run_thread = one_op,
    .verify = verify_ok,
};

#if defined(TW_ABI)
__attribute__((visibility("default"))) extern const rcgc_workload_library rcgc_workload_module;
const rcgc_workload_library rcgc_workload_module = {RCGC_WORKLOAD_ABI_VERSION + 1,
                                                    (unsigned)sizeof(rc_object),
                                                    (const rcgc_workload *const[]){&bad, NULL}};
#elif defined(TW_OBJECT_SIZE)
__attribute__((visibility("default"))) extern const rcgc_workload_library rcgc_workload_module;
const rcgc_workload_library rcgc_workload_module = {RCGC_WORKLOAD_ABI_VERSION,
                                                    (unsigned)sizeof(rc_object) + 8,
                                                    (const rcgc_workload *const[]){&bad, NULL}};
#elif defined(TW_NO_SYMBOL)
/* Referenced so that the definition is not unused. */
__attribute__((visibility("default"))) extern const rcgc_workload *const tw_unregistered;
const rcgc_workload *const tw_unregistered = &bad;
#else
RCGC_WORKLOADS(&bad);
#endif

#else /* the good library */

static int setup_fails(rcgc_workload_run *run)
{
    snprintf(run->summary, sizeof run->summary, "the setup refused on purpose");
    return -1;
}

static int setup_fails_with_fail(rcgc_workload_run *run)
{
    run->fail(run, "the setup failed through run->fail");
    return -1;
}

/* A list kept in run->state from setup to verify: if verify were skipped
 * after a thread failed, the run would leak it. */
static int setup_list(rcgc_workload_run *run)
{
    run->state = rc_list_new();
    return run->state != NULL ? 0 : -1;
}

static int verify_drops_list(rcgc_workload_run *run)
{
    rc_decref(run->state);
    run->state = NULL;
    snprintf(run->summary, sizeof run->summary, "ok");
    return 0;
}

static int64_t thread_fails_silently(rcgc_workload_run *run, int thread)
{
    (void)run;
    (void)thread;
    return -1;
}

/* Every thread waits for all the others to arrive: a run whose threads
 * do not all start must not call it (it would wait forever).  setup makes
 * the second rc_thread_start fail. */
static _Atomic int arrived;

static int setup_start_fails(rcgc_workload_run *run)
{
    atomic_store(&arrived, 0);
    rc_testing_fail_thread_start_after(2);
    return setup_list(run);
}

static int64_t thread_waits_for_all(rcgc_workload_run *run, int thread)
{
    (void)thread;
    atomic_fetch_add(&arrived, 1);
    while (atomic_load(&arrived) < run->threads)
        rc_safepoint();
    return 1;
}

static int64_t thread_depth(rcgc_workload_run *run, int thread)
{
    (void)run;
    (void)thread;
    return 1;
}

static int verify_depth(rcgc_workload_run *run)
{
    snprintf(run->summary, sizeof run->summary, "depth %ld", run->size[0]);
    return 0;
}

static int64_t thread_fails(rcgc_workload_run *run, int thread)
{
    if (thread == run->threads - 1) {
        run->fail(run, "thread %d failed on purpose", thread);
        return -1;
    }
    return 1;
}

static int verify_fails(rcgc_workload_run *run)
{
    snprintf(run->summary, sizeof run->summary, "the checksum is wrong on purpose");
    return -1;
}

/* Keeps one list alive past the run (the driver must count it). */
static int64_t thread_leaks(rcgc_workload_run *run, int thread)
{
    (void)run;
    if (thread == 0 && rc_list_new() == NULL)
        return -1;
    return 1;
}

/* Checks what the driver passed: the sizes in order (--zero may be 0),
 * the thread count and the seed, as the test gives them; and records one
 * op latency per thread. */
static int64_t thread_sizes(rcgc_workload_run *run, int thread)
{
    run->record_op(run, thread, 1000);
    run->progress(run, 1.0);
    return run->size[1] + 1;
}

static int verify_sizes(rcgc_workload_run *run)
{
    snprintf(run->summary, sizeof run->summary, "size %ld zero %ld threads %d seed %llu",
             run->size[0], run->size[1], run->threads, (unsigned long long)run->seed);
    return 0;
}

static const rcgc_workload_size fail_sizes[] = {{"rounds", "rounds (wl-* tests)", 5, 2, 1, 10},
                                                {NULL, NULL, 0, 0, 0, 0}};
static const rcgc_workload_size size_sizes[] = {
    {"rounds", "rounds (wl-* tests)", 5, 2, 1, 10},
    {"zero", "may be 0 (wl-sizes)", 3, 0, 0, 7},
    {NULL, NULL, 0, 0, 0, 0},
};

static const rcgc_workload_size depth_sizes[] = {{"depth", "a built-in's name", 2, 1, 0, 5},
                                                 {NULL, NULL, 0, 0, 0, 0}};

static const rcgc_workload setup_fail = {.name = "wl-setup-fail", .description = "setup fails",
                                         .sizes = fail_sizes, .setup = setup_fails,
                                         .run_thread = one_op, .verify = verify_ok};
static const rcgc_workload setup_fail_msg = {.name = "wl-setup-fail-msg",
                                             .description = "setup fails through run->fail",
                                             .setup = setup_fails_with_fail,
                                             .run_thread = one_op, .verify = verify_ok};
static const rcgc_workload thread_fail = {.name = "wl-thread-fail",
                                          .description = "its last thread fails",
                                          .default_threads = 2, .setup = setup_list,
                                          .run_thread = thread_fails,
                                          .verify = verify_drops_list};
static const rcgc_workload thread_silent = {.name = "wl-thread-silent",
                                            .description = "a thread returns -1 alone",
                                            .run_thread = thread_fails_silently,
                                            .verify = verify_ok};
static const rcgc_workload start_fail = {.name = "wl-start-fail",
                                         .description = "its second thread cannot start",
                                         .default_threads = 3, .min_threads = 2,
                                         .setup = setup_start_fails,
                                         .run_thread = thread_waits_for_all,
                                         .verify = verify_drops_list};
static const rcgc_workload depth = {.name = "wl-depth", .description = "a size named depth",
                                    .sizes = depth_sizes, .run_thread = thread_depth,
                                    .verify = verify_depth};
static const rcgc_workload verify_fail = {.name = "wl-verify-fail",
                                          .description = "verify fails",
                                          .run_thread = one_op, .verify = verify_fails};
static const rcgc_workload leak = {.name = "wl-leak", .description = "leaks a list",
                                   .run_thread = thread_leaks, .verify = verify_ok};
static const rcgc_workload sizes = {.name = "wl-sizes", .description = "echoes its sizes",
                                    .sizes = size_sizes, .default_threads = 3, .min_threads = 2,
                                    .default_seed = 7, .run_thread = thread_sizes,
                                    .verify = verify_sizes};

RCGC_WORKLOADS(&setup_fail, &setup_fail_msg, &thread_fail, &thread_silent, &start_fail,
               &verify_fail, &leak, &sizes, &depth);

#endif
