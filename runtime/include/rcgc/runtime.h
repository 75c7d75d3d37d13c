/* rcgc/runtime.h: runtimes, modes, thread states, the GIL and safepoints.
 *
 * A process has at most one runtime at a time; it may create and free
 * runtimes one after another, in any mode.  The current thread state is
 * implicit (thread-local), as in CPython: rc_runtime_new attaches the calling
 * thread, rc_thread_start gives each new thread its own state.
 *
 * A thread is ATTACHED (may touch objects) or DETACHED (must not).  In gil
 * mode attached means holding the GIL.  rc_detach/rc_attach bracket
 * blocking calls, like Py_BEGIN/END_ALLOW_THREADS.
 */
#ifndef RCGC_RUNTIME_H
#define RCGC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "rcgc/atomic.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rc_mode {
    RC_MODE_GIL = 0,        /* one global lock, plain refcounts */
    RC_MODE_FT = 1,         /* free-threaded, biased reference counting */
    RC_MODE_FT_ATOMIC = 2,  /* free-threaded, every refcount op atomic */
} rc_mode;
#define RC_MODE_COUNT 3

/* Which cycle collector a runtime uses (rcgc/gc.h, docs/gc.md).  Both find
 * the same garbage and keep the same semantics; they differ in how long
 * they stop the world. */
typedef enum rc_collector_kind {
    RC_COLLECTOR_STW = 0,         /* generational, stop-the-world (default) */
    RC_COLLECTOR_CONCURRENT = 1,  /* young collections stop the world; the
                                     oldest generation is collected while
                                     the world runs, with a stop that
                                     validates what was found
                                     (docs/gc.md [gc.concurrent]); its
                                     work runs in slices on the
                                     allocating threads (assists) */
    RC_COLLECTOR_CONCURRENT_THREAD = 2,   /* the concurrent collector with
                                     its work run by a collector thread
                                     of its own instead (assists only
                                     while that thread cannot run) */
} rc_collector_kind;
#define RC_COLLECTOR_COUNT 3

typedef struct rc_config {
    rc_mode mode;
    rc_collector_kind collector;
    /* gil mode: how long a waiting thread waits before asking the holder to
     * drop the GIL (CPython's sys.setswitchinterval), in microseconds. */
    long switch_interval_us;
    /* ft modes (in gil mode a stop waits for no thread): when a
     * stop-the-world has waited this long (milliseconds) for threads to
     * reach a safepoint, print once on stderr which threads hold it up, how
     * long they have been attached and where they entered rcgc, and keep
     * waiting (the JVM's -XX:+SafepointTimeout).  At most
     * RC_SAFEPOINT_TIMEOUT_MAX_MS.  0: the environment's
     * RCGC_SAFEPOINT_TIMEOUT_MS (a whole number in that range; anything else
     * makes rc_runtime_new fail with a ValueError naming it), else off.  A long C loop that touches no object
     * should detach (rc_detach/rc_attach) or call rc_safepoint(). */
    long safepoint_timeout_ms;
    /* How deeply rc_equal, rc_repr and rc_deepcopy may nest containers on
     * one thread (rcgc/semantics.h): 1..RC_RECURSION_LIMIT_MAX; 0 means
     * RC_RECURSION_LIMIT_DEFAULT (1000, Python's). */
    int recursion_limit;
} rc_config;
/* The largest safepoint timeout accepted (about 11.6 days). */
#define RC_SAFEPOINT_TIMEOUT_MAX_MS 1000000000L

typedef struct rc_runtime rc_runtime;
typedef struct rc_thread rc_thread;

/* Defaults: gil mode, the stop-the-world collector, 5 ms switch
 * interval, safepoint timeout from the environment (0). */
rc_config rc_config_default(void);

/* "gil", "ft", "ft-atomic"; NULL for a value out of range. */
const char *rc_mode_name(rc_mode mode);

/* Parse a mode name into *out.  0, or -1 with an error naming the valid
 * values. */
int rc_mode_from_name(const char *name, rc_mode *out);

/* "stw", "concurrent"; NULL for a value out of range. */
const char *rc_collector_name(rc_collector_kind kind);

/* Parse a collector name into *out.  0, or -1 with an error naming the
 * valid values. */
int rc_collector_from_name(const char *name, rc_collector_kind *out);

/* Whether this build can run a runtime with that collector: 0, or -1 with
 * an error saying why not (a value out of range, or a collector not
 * available yet).  rc_runtime_new refuses exactly what this refuses. */
int rc_collector_check(rc_collector_kind kind);

/* Whether the environment variables a new runtime reads
 * (RCGC_SAFEPOINT_TIMEOUT_MS, RCGC_GC_STRESS, RCGC_GC_VERIFY) hold values it
 * accepts: 0, or -1 with the ValueError rc_runtime_new would fail with.
 * Needs no runtime: a program (the rcgc command) may check them before it
 * starts anything. */
int rc_check_environment(void);

/* Create the runtime and attach the calling thread to it.  NULL with an
 * error if cfg is invalid, a runtime already exists, or memory runs out. */
rc_runtime *rc_runtime_new(const rc_config *cfg);

/* Free the runtime: drains pending refcount merges, releases immortal
 * objects and types.  Must be called by the thread that created it, after
 * every started thread was joined.  Returns the number of mortal objects
 * still alive (leaked; 0 when all is well), or -1 with an error (wrong
 * thread, threads still running), in which case nothing is freed. */
long rc_runtime_free(rc_runtime *rt);

/* The runtime, borrowed; NULL if none. */
rc_runtime *rc_runtime_current(void);

/* The runtime's mode. */
rc_mode rc_runtime_mode(const rc_runtime *rt);

/* The runtime's collector. */
rc_collector_kind rc_runtime_collector(const rc_runtime *rt);

/* Start a thread that runs fn(arg) with its own thread state, attached,
 * on a stack of at least 16 MiB (rcgc/semantics.h's recursion limit at its
 * maximum needs up to 8 MiB in the sanitizer builds).
 * NULL with an error if no runtime, fn is NULL, or the thread cannot be
 * created.  The handle must be joined. */
rc_thread *rc_thread_start(void (*fn)(void *), void *arg);

/* Wait for the thread to finish and free its handle.  The caller is
 * detached while it waits (in gil mode it releases the GIL).  0, or -1 with
 * an error (NULL handle, joining oneself). */
int rc_thread_join(rc_thread *t);

/* Give a thread not started by rc_thread_start (a foreign thread) a thread
 * state, attached.  0, or -1 with an error (no runtime, already
 * registered).  Pair with rc_thread_unregister before the thread exits. */
int rc_thread_register(void);
int rc_thread_unregister(void);

/* Ask the kernel for a CPU slice of ns nanoseconds for the calling OS
 * thread (any thread, with or without a runtime), keeping its scheduling
 * policy and nice value.  Linux 6.12 and later let a SCHED_OTHER thread
 * choose its slice: a thread with a short one, when it wakes, preempts a
 * running thread at once instead of waiting for the next scheduler tick
 * (up to 4 ms at 250 Hz) when every CPU is busy -- for threads that wake
 * often and run briefly (a latency sensor; the runtime's own reclaimer,
 * docs/threads.md [thr.qsbr]).  Returns the slice in force afterwards, in
 * ns: ns, or 0 when the kernel keeps its default (an older kernel, another
 * policy, a refusal).  -1 with a ValueError if ns is outside
 * RC_CPU_SLICE_MIN_NS..RC_CPU_SLICE_MAX_NS (the kernel's own bounds). */
#define RC_CPU_SLICE_MIN_NS 100000            /* 0.1 ms */
#define RC_CPU_SLICE_MAX_NS 100000000         /* 100 ms */
int64_t rc_thread_cpu_slice(uint64_t ns);

/* Detach the calling thread before a blocking call; attach it again after
 * (in gil mode: release and retake the GIL).  Before it detaches, the
 * thread hands the collector what it keeps for later (garbage to free,
 * promoted objects), which may run finalizers and pass safepoints (with
 * the concurrent collector: up to about 2 ms if a collection holds what
 * it needs).  0, or -1 with an error if the thread has no state or is
 * already in the requested state. */
int rc_detach(void);
int rc_attach(void);

/* Eval breaker of the calling thread: non-zero when something asks it to
 * stop at a safepoint (GIL drop request, pending refcount merges, ...).
 * Written by any thread with an atomic or (release); read here relaxed and
 * the slow path re-reads it with acquire. */
extern _Thread_local _Atomic uintptr_t rc_tls_eval_breaker
    __attribute__((tls_model("initial-exec")));

void rc_safepoint_slow(void);

/* A safepoint: a point where this thread may hand over the GIL, merge
 * refcounts queued to it, or park for the collector.  One word is tested. */
static inline void rc_safepoint(void)
{
    /* relaxed: a bit seen late is handled at the next safepoint. */
    if (__builtin_expect(rc_atomic_load_relaxed(&rc_tls_eval_breaker) != 0, 0))
        rc_safepoint_slow();
}

/* ---- stop-the-world ----
 * rc_stop_the_world returns once every other attached thread is parked at a
 * safepoint; detached threads cannot attach until rc_start_the_world.  Two
 * threads asking at once are served one after the other (the second parks
 * meanwhile).  Pending refcount merges of every thread are done, so counts
 * are exact while stopped.  In gil mode holding the GIL is already a
 * stopped world: the call only records the stop.  The caller must be
 * attached and must not detach (or join a thread) until it restarts the
 * world.  Both return 0, or -1 with an error. */
int rc_stop_the_world(void);
int rc_start_the_world(void);

/* One stop, for the reporting layer.  Times from rc_clock_ns. */
typedef struct rc_stw_record {
    uint64_t request_ns;            /* when the stop was requested */
    uint64_t time_to_safepoint_ns;  /* request -> last thread parked */
    uint64_t pause_ns;              /* world stopped -> restarted */
    uint32_t threads;               /* threads that had to be brought to a
                                       safepoint (attached and running at the
                                       request; not those detached or
                                       waiting to attach) */
} rc_stw_record;

/* The runtime keeps the most recent RC_RECORDS_KEPT records of stops (and
 * of collections, rcgc/gc.h): a long-running program's records take
 * bounded memory (about 4 MB of stops, 8 MB of collections). */
#define RC_RECORDS_KEPT ((size_t)1 << 16)
/* Number of stops recorded in this runtime (all of them, kept or not). */
size_t rc_stw_count(void);
/* Index of the oldest stop record still kept (0 until more than
 * RC_RECORDS_KEPT were recorded). */
size_t rc_stw_records_oldest(void);
/* Copy up to max records starting at index first (or at the oldest kept,
 * if first is older); returns how many. */
size_t rc_stw_records(size_t first, rc_stw_record *out, size_t max);

/* Monotonic clock in nanoseconds (the one every rcgc record uses). */
uint64_t rc_clock_ns(void);

/* Per-thread GIL statistics of the calling thread (gil mode; zero
 * otherwise). */
typedef struct rc_gil_stats {
    uint64_t acquisitions;   /* times the thread took the GIL */
    uint64_t waits;          /* of those, times it had to wait */
    uint64_t wait_ns;        /* total time spent waiting */
    uint64_t drop_requests;  /* times it asked the holder to drop the GIL */
} rc_gil_stats;
int rc_gil_stats_get(rc_gil_stats *out);

/* The same, summed over every thread of the runtime, exited ones included
 * (running threads' figures are a snapshot). */
int rc_gil_stats_total(rc_gil_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* RCGC_RUNTIME_H */
