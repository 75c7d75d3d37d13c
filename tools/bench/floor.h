/* tools/bench/floor.h: what the malloc/free floor programs share.
 *
 * A floor is a workload of workloads/ written again with plain malloc and
 * free and no rcgc runtime linked (rcgc-floor-binary-trees,
 * rcgc-floor-cycle-churn, rcgc-floor-latency-service): the same shape,
 * sizes, defaults, thread split, seeds and verification as the workload of
 * the same name, but every object is freed explicitly where the workload
 * drops it (rings are broken and freed, not left to a collector).  rcgc's
 * overhead is reported as a ratio to it (tools/bench/bench.c).
 *
 * The work splitting, per-thread seeds, random numbers, the error slot and
 * the live heap's layout and checksum come from workloads/wl_util.h itself,
 * and the default and --quick sizes (the workloads' own defaults() and
 * quick()) and the shape constants from workloads/sizes.h, so the floors
 * cannot drift from the workloads.  wl_util.h's static inline
 * functions that call the runtime are never used here; the floors are not
 * linked with the runtime, so a use would fail to link.
 *
 * floor_main() is the whole program around a floor's run(): the flags of
 * `rcgc run` that apply (--threads --depth --live --cycles --requests
 * --seed --quick --json --help; defaults, then --quick, then the flags), a
 * usage error on one line of stderr with exit status 2, the measured run
 * (wall and CPU time of run() up to floor_work_done, peak RSS at the end), a few lines on
 * stdout, and the JSON report.  Exit status 1 when verification failed.
 *
 * The JSON report (--json FILE) has the shape of `rcgc run`'s rcgc-run/1
 * (docs/report-schema.md) so one reader takes both: {"schema":
 * "rcgc-floor/1", "generator", "command": "run", "host": {"cpus"}, "runs":
 * [one run]}, the run holding "workload", "mode": "floor", "threads",
 * "quick", "params" (threads, seed as a decimal string, the six sizes),
 * "error": null, "wall_s", "teardown_s", "cpu_s", "peak_rss_kb", "ops", "ops_per_s",
 * "verify": {"ok", "summary"}, "leaked" (objects not freed: 0 when
 * verified), "percentiles": {"ops": {count, min, mean, p50, p90, p99,
 * p99.9, max}} (ns; count 0 when the floor records no operations).
 *
 * Threads: floor_main and run() run on the main thread; run() starts its
 * workers with floor_run_workers (pthreads) and joins them before it reads
 * their results.
 */
#ifndef RCGC_FLOOR_H
#define RCGC_FLOOR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "hist.h"
#include "wl_util.h"

/* The size flags a floor may use (a bit each in floor_spec.sizes). */
enum floor_size {
    FLOOR_DEPTH = 1u << 0,
    FLOOR_LIVE = 1u << 1,
    FLOOR_CYCLES = 1u << 2,
    FLOOR_REQUESTS = 1u << 3,
};

typedef struct floor_ctx floor_ctx;
struct floor_ctx {
    wl_params params;       /* after defaults, --quick and the flags */
    /* Set by run(): operations done (the workload's definition), the
     * objects it allocated but did not free (0 when all is well), and one
     * line on what was verified or why verification failed. */
    uint64_t ops;
    long leaked;
    char summary[160];
    /* Set by run() when it records per-operation latency (ns): the merged
     * histogram, owned by floor_main afterwards.  NULL: no operations. */
    lat_hist *ops_hist;
    /* Set by run() (floor_work_done) when its workers have finished, as
     * the workload's wl_work_done: wall and CPU time end there, and the
     * check and the freeing of the live heap after it are the teardown.
     * 0: the whole run() is measured. */
    uint64_t work_end_ns;
    double work_end_cpu;
};

typedef struct floor_spec {
    const char *name;        /* the workload's name: "binary-trees" */
    unsigned sizes;          /* enum floor_size bits: the size flags it uses */
    long depth_min, depth_max;   /* valid --depth (FLOOR_DEPTH only) */
    void (*defaults)(wl_params *p);   /* the workload's defaults */
    void (*quick)(wl_params *p);      /* the workload's quick sizes */
    /* Run to completion: 0 when verified, -1 with ctx->summary saying why
     * not. */
    int (*run)(floor_ctx *ctx);
} floor_spec;

/* The measured part of run() is over (floor_ctx.work_end_ns). */
void floor_work_done(floor_ctx *ctx);

/* The program: parse argv, run, report.  Returns the exit status. */
int floor_main(const floor_spec *spec, int argc, char **argv);

/* Out of memory in a floor: message on stderr, _exit(1).  The floors treat
 * it as fatal rather than unwinding, as a benchmark floor should. */
__attribute__((noreturn, cold)) void floor_oom(size_t bytes);

/* malloc that never returns NULL (floor_oom instead). */
static inline void *floor_malloc(size_t bytes)
{
    void *p = malloc(bytes);
    if (__builtin_expect(p == NULL, 0))
        floor_oom(bytes);
    return p;
}

/* Make p escape, as an object handed to the runtime does: the compiler
 * may not drop the stores into what p reaches, nor fold a malloc/free pair
 * around it away (the refbench OPAQUE idiom). */
static inline void floor_escape(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* CLOCK_MONOTONIC in ns: the clock rc_clock_ns reads. */
static inline uint64_t floor_clock_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Run fn(args + i * size) on n new threads (pthreads) and join them all:
 * wl_run_workers without the runtime.  0, or -1 with the error in *err;
 * the threads that did start are joined either way. */
int floor_run_workers(int n, void (*fn)(void *), void *args, size_t size, struct wl_error *err);

/* ---- the live heap of cycle-churn and latency-service (wl_util.h) ----
 * The same rings of WL_RING nodes: node i holds a boxed int 1000 + i (its
 * own malloc, as rcgc's ints above 256 are heap objects) and points to the
 * next node of its ring, the last back to the first.  The ring heads sit in
 * an array (rcgc: a list). */

/* Node(next, value), the 2-slot type of the workloads. */
struct floor_node {
    struct floor_node *next;
    int64_t *value;   /* a boxed int: malloc'd, freed with the node */
};

struct floor_heap {
    struct floor_node **heads;   /* nrings ring heads */
    long live, nrings;
};

/* A boxed int: one malloc'd int64_t. */
static inline int64_t *floor_box(int64_t v)
{
    int64_t *p = floor_malloc(sizeof *p);
    *p = v;
    return p;
}

/* Build a heap of live nodes into *h.  *checksum: what floor_heap_check
 * must return; *objects: objects allocated (nodes, ints, the head array). */
void floor_heap_build(struct floor_heap *h, long live, uint64_t *checksum, long *objects);
/* Walk every ring; the checksum, or *bad set to the first problem (the
 * same checks, in the same words, as wl_heap_check). */
uint64_t floor_heap_check(const struct floor_heap *h, const char **bad);
/* Break and free every ring and the head array; returns the objects freed. */
long floor_heap_free(struct floor_heap *h);

#endif /* RCGC_FLOOR_H */
