/* rcgc/workload.h: a workload of one's own, run by the rcgc command.
 *
 * A workload library is a shared object that defines one or more
 * rcgc_workload and registers them with RCGC_WORKLOADS(&a, &b, ...).
 * `rcgc list/run/compare --load FILE.so` loads it (repeatable): its
 * workloads then run in every mode (gil, ft, ft-atomic) and under every
 * collector, with every report (table, JSON, .hgrm, HTML), like the
 * built-in ones.  workloads/examples/lru_cache.c is the template.
 *
 * Build it against the installed headers, without linking the library:
 * the rc_* functions it calls are the rcgc command's own, which the
 * command exports to the libraries it loads (linking librcgc into the
 * workload would give it a second, idle runtime):
 *
 *     cc -shared -fPIC -O2 my_workload.c $(pkg-config --cflags rcgc) -o my_workload.so
 *
 * One run, in a runtime of its own created in the mode being measured:
 *
 *   setup(run)            on the runtime's creating thread, attached: build
 *                         what the threads share; keep it in run->state.
 *   run_thread(run, i)    for i in 0..threads-1, each on a thread of its own
 *                         started with rc_thread_start (attached), all at
 *                         once; returns the operations it did.
 *   verify(run)           on the creating thread, after every thread joined
 *                         (also when a thread failed): check the result,
 *                         write a one-line summary, and drop everything the
 *                         run made.
 *
 * The threads start together: none runs run_thread until all have
 * started, and if one cannot start none does (the run fails, saying so),
 * so a thread may wait for its peers.  verify runs whenever setup
 * succeeded, whatever the threads did.  The driver then frees the runtime
 * and counts the objects still alive: a run that leaves any fails.
 * setup and verify return 0, anything else is a failure, with the reason
 * in run->summary or given to run->fail; run_thread returns -1 to fail,
 * after run->fail (the operations a failed thread did are not counted).
 * setup must drop what it made when it fails; verify is not called then.
 *
 * Size names: not rcgc's own flags (mode, threads, seed, quick, json,
 * load, read, gc-stress, ...); a built-in workload's size name (depth,
 * live, cycles, requests, iterations, items) is that same flag.
 *
 * The ABI: RCGC_WORKLOAD_ABI_VERSION changes with any change to these
 * structures (a field appended too: a library's arrays and structures are
 * read at their compiled size) or to the object header and the inline
 * reference counting the library compiles in (rcgc/object.h); the
 * registration also records sizeof(rc_object) as a check.  The command
 * refuses a library built for another version, naming both.
 */
#ifndef RCGC_WORKLOAD_H
#define RCGC_WORKLOAD_H

#include <stdint.h>

#include "rcgc/rcgc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2: the object header's ob_flags became one byte and ob_weak the next. */
#define RCGC_WORKLOAD_ABI_VERSION 2

/* The most size flags one workload may declare, and the most threads a
 * run may have (--threads). */
#define RCGC_WORKLOAD_MAX_SIZES 8
#define RCGC_WORKLOAD_MAX_THREADS 1024

/* The name of the registration symbol RCGC_WORKLOADS defines. */
#define RCGC_WORKLOAD_SYMBOL "rcgc_workload_module"

/* One size flag: --NAME N on the command line, "NAME" in the JSON
 * report's params and the table's header line. */
typedef struct rcgc_workload_size {
    const char *name;     /* lower-case letters, digits and '-', starting
                           * with a letter, at most 23 characters: "capacity" */
    const char *help;     /* one line, for `rcgc run --help` */
    long dflt;            /* the full size */
    long quick;           /* the size under --quick (tests, smoke runs) */
    long min, max;        /* the valid values: others are a usage error,
                           * before anything runs */
} rcgc_workload_size;

typedef struct rcgc_workload_run rcgc_workload_run;

/* One run, as the workload's functions see it.  The driver fills it; the
 * workload writes only state and summary. */
struct rcgc_workload_run {
    int threads;          /* worker threads (>= the workload's min_threads) */
    uint64_t seed;        /* derive per-thread seeds from it and the index */
    /* size[i]: the value of the workload's sizes[i] (defaults, then
     * --quick, then the flags). */
    const long *size;
    /* The workload's own: set by setup, read by run_thread and verify. */
    void *state;
    /* Record one operation's latency in nanoseconds (rc_clock_ns() around
     * it), for the report's op-latency percentiles.  Any worker thread;
     * thread: its index. */
    void (*record_op)(rcgc_workload_run *run, int thread, uint64_t latency_ns);
    /* Progress in [0, 1], drawn on a terminal.  Any thread. */
    void (*progress)(rcgc_workload_run *run, double fraction);
    /* Fail the run with a message (printf format; the first call's is
     * kept).  Any thread; the thread then returns -1 from run_thread. */
    void (*fail)(rcgc_workload_run *run, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
    /* setup's reason when it fails; verify's one-line account of what it
     * checked ("12000 gets, 3100 evictions, order checked"). */
    char summary[160];
    void *driver;         /* the driver's own */
};

typedef struct rcgc_workload {
    const char *name;          /* lower-case letters, digits and '-', at
                                * most 63 characters; not a built-in's name */
    const char *description;   /* one line, for `rcgc list` */
    /* The size flags, ended by an entry whose name is NULL (or NULL for
     * none); at most RCGC_WORKLOAD_MAX_SIZES.  A name a built-in workload
     * uses (depth, live, cycles, requests, iterations, items) is the same
     * flag and JSON key. */
    const rcgc_workload_size *sizes;
    int default_threads;       /* 0 means 1; at most RCGC_WORKLOAD_MAX_THREADS */
    int min_threads;           /* fewer is a usage error; 0 means 1 */
    uint64_t default_seed;     /* --seed overrides it */
    /* May be NULL.  0, or -1 with the reason in run->summary. */
    int (*setup)(rcgc_workload_run *run);
    /* Required.  The operations done, or -1 (after run->fail). */
    int64_t (*run_thread)(rcgc_workload_run *run, int thread);
    /* Required.  0 when the result checks out, -1 with the reason in
     * run->summary; either way everything the run made is dropped. */
    int (*verify)(rcgc_workload_run *run);
    /* May be NULL.  The memory a run of these sizes holds at its peak, in
     * bytes (run->threads and run->size are set): the command refuses a
     * run that would not fit in the machine's memory. */
    double (*peak_bytes)(const rcgc_workload_run *run);
} rcgc_workload;

/* What RCGC_WORKLOADS defines: the ABI version first, so that any
 * version's module can be told apart. */
typedef struct rcgc_workload_library {
    int abi_version;                        /* RCGC_WORKLOAD_ABI_VERSION */
    unsigned object_size;                   /* sizeof(rc_object) */
    const rcgc_workload *const *workloads;  /* NULL-terminated */
} rcgc_workload_library;

/* Register a library's workloads: RCGC_WORKLOADS(&lru_cache); at file
 * scope, once per library. */
#define RCGC_WORKLOADS(...)                                                            \
    __attribute__((visibility("default"))) extern const rcgc_workload_library          \
        rcgc_workload_module;                                                          \
    const rcgc_workload_library rcgc_workload_module = {                               \
        RCGC_WORKLOAD_ABI_VERSION, (unsigned)sizeof(rc_object),                        \
        (const rcgc_workload *const[]){__VA_ARGS__, NULL}}

#ifdef __cplusplus
}
#endif

#endif /* RCGC_WORKLOAD_H */
