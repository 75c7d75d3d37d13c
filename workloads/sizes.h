/* workloads/sizes.h: every workload's sizes, in one place.
 *
 * The default and --quick sizes of each workload, the default seed and
 * thread counts, and the constants of a workload's shape that its
 * malloc/free floor repeats (tools/bench/floor*.c) are defined here and
 * nowhere else.  The workloads (workloads/, whose defaults() and
 * quick() are the functions below), the floors (the same functions) and
 * rcgc-bench (tools/bench/bench.c: its full sizes are the defaults, its
 * quick ones fractions of them) include this file, so none of them can
 * drift from the others.
 *
 * Header-only and free of the runtime: the floors and rcgc-bench include it
 * without linking rcgc.
 */
#ifndef RCGC_WL_SIZES_H
#define RCGC_WL_SIZES_H

#include "workload.h"

/* Every workload's default --seed. */
#define WL_SEED 12345

/* ---- binary-trees ---- */
#define BT_DEPTH 16           /* --depth */
#define BT_QUICK_DEPTH 10
#define BT_MIN_DEPTH 4        /* the shallowest short-lived trees; the smallest --depth */
#define BT_MAX_DEPTH 26       /* the deepest --depth */

/* ---- cycle-churn ---- */
#define CC_LIVE 1000000       /* --live: nodes of the live heap */
#define CC_CYCLES 2000000     /* --cycles: rings built and dropped */
#define CC_QUICK_LIVE 5000
#define CC_QUICK_CYCLES 20000
#define CC_MAX_RING 8         /* a churned ring has 1..CC_MAX_RING nodes */

/* ---- latency-service ---- */
#define LS_LIVE 500000        /* --live */
#define LS_REQUESTS 200000    /* --requests */
#define LS_QUICK_LIVE 5000
#define LS_QUICK_REQUESTS 5000
#define LS_NODES 20           /* nodes of one request's graph */

/* ---- shared-refs ---- */
#define SR_ITERATIONS 250000000L   /* --iterations: about 1 s in gil mode, 1 thread */
#define SR_QUICK_ITERATIONS 200000L

/* ---- handoff ---- */
#define HO_ITEMS 1000000      /* --items */
#define HO_QUICK_ITEMS 20000
#define HO_MIN_THREADS 2      /* a producer and a consumer at least; the default */

/* ---- finalizer-storm ---- */
#define FS_ITEMS 200000       /* --items: cycles */
#define FS_QUICK_ITEMS 10000

/* ---- defaults() and quick() of each workload (workload.h) ---- */

/* *p = sizes, with the default seed (sizes gives the threads and sizes). */
static inline void wl_sizes_set(wl_params *p, wl_params sizes)
{
    *p = sizes;
    p->seed = WL_SEED;
}

/* clang-format off */
static inline void wl_binary_trees_defaults(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .depth = BT_DEPTH}); }
static inline void wl_binary_trees_quick(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .depth = BT_QUICK_DEPTH}); }

static inline void wl_cycle_churn_defaults(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .live = CC_LIVE, .cycles = CC_CYCLES}); }
static inline void wl_cycle_churn_quick(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .live = CC_QUICK_LIVE,
                              .cycles = CC_QUICK_CYCLES}); }

static inline void wl_latency_service_defaults(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .live = LS_LIVE, .requests = LS_REQUESTS}); }
static inline void wl_latency_service_quick(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .live = LS_QUICK_LIVE,
                              .requests = LS_QUICK_REQUESTS}); }

static inline void wl_shared_refs_defaults(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .iterations = SR_ITERATIONS,
                              .read = WL_READ_BORROW}); }
static inline void wl_shared_refs_quick(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .iterations = SR_QUICK_ITERATIONS,
                              .read = WL_READ_BORROW}); }

static inline void wl_handoff_defaults(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = HO_MIN_THREADS, .items = HO_ITEMS}); }
static inline void wl_handoff_quick(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = HO_MIN_THREADS, .items = HO_QUICK_ITEMS}); }

static inline void wl_finalizer_storm_defaults(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .items = FS_ITEMS}); }
static inline void wl_finalizer_storm_quick(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .items = FS_QUICK_ITEMS}); }
/* clang-format on */

#endif /* RCGC_WL_SIZES_H */
