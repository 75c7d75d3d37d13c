/* workloads/workload.h: the contract between a workload and whatever runs
 * it (the `rcgc` command, tests, benchmarks).
 *
 * A workload is one C file using only the public rcgc API (rcgc/rcgc.h),
 * registered by name in workloads/registry.c.  The driver creates the
 * runtime (in the mode being measured), then calls run() on the runtime's
 * creating thread, attached.  run() starts its own worker threads with
 * rc_thread_start, joins them, verifies its result (a checksum that breaks
 * if a live object was freed or corrupted), drops everything it made, and
 * returns.  The driver then frees the runtime and reports leaks.
 *
 * Threads: run() may be called once per runtime; the driver may run its own
 * sensor thread at the same time.  Callbacks into the driver (ctx->record_op,
 * ctx->progress) are thread-safe and may be called from any worker thread.
 */
#ifndef RCGC_WORKLOADS_WORKLOAD_H
#define RCGC_WORKLOADS_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rcgc/rcgc.h"

/* How shared-refs and shared-objects read (wl_params.read, flag --read). */
enum wl_read {
    WL_READ_UNUSED = 0,   /* the workload has no --read */
    WL_READ_BORROW,       /* "borrow": rc_list_get_borrowed, no count written */
    WL_READ_REF,          /* "ref": rc_list_get + rc_decref, a reference per read */
};
#define WL_READ_VALID "borrow, ref"

/* The flag value of a WL_READ_* ("borrow", "ref"), NULL for WL_READ_UNUSED
 * or anything else. */
static inline const char *wl_read_name(int read)
{
    return read == WL_READ_BORROW ? "borrow" : read == WL_READ_REF ? "ref" : NULL;
}

/* The WL_READ_* a flag value names, or WL_READ_UNUSED if none does. */
static inline int wl_read_from_name(const char *name)
{
    if (name == NULL)
        return WL_READ_UNUSED;
    for (int r = WL_READ_BORROW; r <= WL_READ_REF; r++)
        if (strcmp(name, wl_read_name(r)) == 0)
            return r;
    return WL_READ_UNUSED;
}

/* The most distinct size names loaded workloads may add (wl_params.ext). */
#define WL_MAX_EXT 16

/* Sizes and settings.  wl_defaults() fills the defaults (full sizes);
 * wl_quick() scales a workload's defaults down for tests.  0 means "not
 * used by this workload". */
typedef struct wl_params {
    int threads;          /* worker threads (>= 1) */
    uint64_t seed;        /* derive per-thread seeds from it and the index */
    long depth;           /* binary-trees: tree depth (default 16) */
    long live;            /* cycle-churn, latency-service: live heap nodes */
    long cycles;          /* cycle-churn: rings built and dropped, in total */
    long requests;        /* latency-service: requests, in total */
    long iterations;      /* shared-refs: reads; shared-objects: operations; in total */
    long items;           /* handoff, finalizer-storm: items, in total */
    int read;             /* shared-refs, shared-objects: enum wl_read (default WL_READ_BORROW) */
    /* The size flags of loaded workloads (rcgc/workload.h) other than the
     * ones above: ext[k] is the size named wl_ext_name(k), meaningful
     * when bit k of ext_used is set (0 is a valid value there). */
    long ext[WL_MAX_EXT];
    uint32_t ext_used;
    /* The fields above (depth, live, cycles, requests, iterations, items:
     * bits 0..5) that a loaded workload uses, which may then hold 0; a
     * built-in workload uses those that are not 0. */
    uint32_t builtin_used;
} wl_params;

typedef struct wl_context wl_context;
struct wl_context {
    const wl_params *params;
    /* Record one operation's latency in nanoseconds (latency-service's
     * requests, handoff's deliveries...).  thread: the worker's index. */
    void (*record_op)(wl_context *ctx, int thread, uint64_t latency_ns);
    /* Report progress in [0, 1] (the driver shows it on a terminal). */
    void (*progress)(wl_context *ctx, double fraction);
    /* Called by run() (wl_work_done) once its measured work is over: the
     * workers joined, before the teardown that checks the result, drops
     * the live heap and collects it to show nothing is left.  The driver
     * ends wall and CPU time there, as the peer programs and the floors
     * end their timing before they free their live heap; the teardown is
     * reported on its own.  NULL, or never called: the whole run() is
     * measured. */
    void (*work_done)(wl_context *ctx);
    void *driver;         /* the driver's own data */
    const struct rc_workload *workload;   /* set by wl_run */
    /* Set by run(): operations done (for throughput), and a one-line
     * summary of what was verified (e.g. "checksum 0x1234 ok"). */
    uint64_t ops;
    char summary[160];
};

/* The valid values of one size flag of a workload (rc_workload.bounds). */
typedef struct wl_bound {
    const char *flag;    /* "--depth" */
    size_t offset;       /* offsetof(wl_params, depth): a long */
    long min, max;
    const char *why;     /* why not more than max, for the message (or NULL) */
} wl_bound;

struct wl_loaded;   /* a workload from a library (workloads/loaded.c) */

typedef struct rc_workload {
    const char *name;          /* "binary-trees", ... */
    const char *description;   /* one line */
    const char *size_flags;    /* the size flags it uses, e.g. "--depth" */
    int min_threads;           /* the fewest worker threads it runs with
                                * (0 means 1); the driver refuses fewer as
                                * a usage error, before anything runs */
    void (*defaults)(wl_params *p);   /* full sizes */
    void (*quick)(wl_params *p);      /* small sizes, for tests */
    /* The bounds of each size flag it uses, ended by {NULL}
     * (workloads/sizes.h): run() and the driver, before anything runs,
     * refuse a value outside them (wl_check_sizes). */
    const wl_bound *bounds;
    /* The memory a run of these sizes holds at its peak, in bytes, besides
     * the process's own (WL_BASE_BYTES): an estimate from the figures
     * measured in workloads/sizes.h.  threshold0: the collector's
     * generation-0 threshold in force (0: no automatic collection), which
     * bounds the cyclic garbage waiting for a collection.  The driver
     * refuses a run that would not fit in the machine's memory. */
    double (*peak_bytes)(const wl_params *p, long threshold0);
    /* Run to completion.  0 on success (verified); -1 with a message in
     * ctx->summary when verification failed or the runtime reported an
     * error (the message names what was wrong). */
    int (*run)(wl_context *ctx);
    /* NULL for a built-in workload.  A loaded one has no defaults, quick
     * or peak_bytes of its own: call them through wl_defaults, wl_quick,
     * wl_peak_bytes and wl_run, which work for both. */
    const struct wl_loaded *loaded;
} rc_workload;

/* The built-in workloads, NULL-terminated, in a stable order. */
extern const rc_workload *const rc_workloads[];

/* The i-th workload: the built-in ones, then those loaded (wl_load) in the
 * order they were; NULL past the last. */
const rc_workload *wl_at(size_t i);

/* The workload of that name (built-in or loaded), or NULL. */
const rc_workload *wl_find(const char *name);

/* Fill p with the workload's full sizes (p zeroed first), then scale them
 * down to its quick sizes (wl_quick, after wl_defaults). */
void wl_defaults(const rc_workload *w, wl_params *p);
void wl_quick(const rc_workload *w, wl_params *p);

/* rc_workload.peak_bytes, for built-in and loaded workloads (0 when a
 * loaded one gives no estimate). */
double wl_peak_bytes(const rc_workload *w, const wl_params *p, long threshold0);

/* Run w (sets ctx->workload): rc_workload.run's contract. */
int wl_run(const rc_workload *w, wl_context *ctx);

/* ---- workloads loaded from libraries (workloads/loaded.c) ---- */

/* Load the workload library at path (rcgc/workload.h): check its ABI
 * version and its workloads' definitions, and register them.  A path
 * without a '/' names a file in the current directory.  Loading one
 * library twice registers it once.  0, or -1 with a one-line message in
 * err naming the file and what is wrong (no such file, not loadable, no
 * registration symbol, another ABI version, a bad definition, a name that
 * clashes with a built-in or already loaded workload). */
int wl_load(const char *path, char *err, size_t n);

/* The library a loaded workload came from (as given to wl_load); NULL for
 * a built-in. */
const char *wl_source(const rc_workload *w);

/* The help line of a loaded workload's size of that name ("capacity"):
 * the first loaded definition's; NULL if no loaded workload has it. */
const char *wl_size_help(const char *name);

/* Whether name may name a size: lower-case letters, digits and '-',
 * starting with a letter, at most 23 characters. */
bool wl_size_name_ok(const char *name);

/* The name of wl_params.ext[k] ("capacity"), NULL if slot k is unused. */
const char *wl_ext_name(int k);

/* The ext slot of a size name, added if new: k, or -1 if all WL_MAX_EXT
 * are taken. */
int wl_ext_slot(const char *name);

/* Check p's sizes against w->bounds: 0, or -1 with a one-line message
 * naming the workload, the flag, its valid values and why ("binary-trees:
 * --depth must be in 4..26, not 40 (...)") in msg. */
int wl_check_sizes(const rc_workload *w, const wl_params *p, char *msg, size_t n);

#endif /* RCGC_WORKLOADS_WORKLOAD_H */
