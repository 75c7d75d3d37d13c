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
 * The upper bound of each size (the largest value the workload's arithmetic
 * holds; run() and the `rcgc` command refuse more, the command before
 * anything runs) and the memory figures from which the command estimates
 * what a run needs (rc_workload.peak_bytes) are here too.
 *
 * Header-only and free of the runtime: the floors and rcgc-bench include it
 * without linking rcgc.
 */
#ifndef RCGC_WL_SIZES_H
#define RCGC_WL_SIZES_H

#include <limits.h>

#include "workload.h"

/* Every workload's default --seed. */
#define WL_SEED 12345

/* ---- binary-trees ---- */
#define BT_DEPTH 16           /* --depth */
#define BT_QUICK_DEPTH 10
#define BT_MIN_DEPTH 4        /* the shallowest short-lived trees; the smallest --depth */
/* The deepest --depth: the run holds the long-lived tree and each worker's
 * current tree, 2^(D+1)-1 nodes each; at 26 that is 2 x 134 million nodes,
 * about 28 GiB (WL_TREE_NODE_BYTES), and each level deeper multiplies the
 * memory by 2 and the time by 4 (depth 22 takes about 4 minutes). */
#define BT_MAX_DEPTH 26

/* ---- cycle-churn ---- */
#define CC_LIVE 1000000       /* --live: nodes of the live heap */
#define CC_CYCLES 2000000     /* --cycles: rings built and dropped */
#define CC_QUICK_LIVE 5000
#define CC_QUICK_CYCLES 20000
#define CC_MAX_RING 8         /* a churned ring has 1..CC_MAX_RING nodes */
/* Nodes churned (CC_MAX_RING a ring at most) are counted in a long. */
#define CC_MAX_CYCLES (LONG_MAX / CC_MAX_RING)

/* ---- latency-service ---- */
#define LS_LIVE 500000        /* --live */
#define LS_REQUESTS 200000    /* --requests */
#define LS_QUICK_LIVE 5000
#define LS_QUICK_REQUESTS 5000
#define LS_NODES 20           /* nodes of one request's graph */
/* Request i's node values 1000 + LS_NODES i + j are 64-bit ints. */
#define LS_MAX_REQUESTS ((LONG_MAX - 1000) / LS_NODES - 1)

/* ---- shared-refs ---- */
#define SR_ITERATIONS 250000000L   /* --iterations: about 1 s in gil mode, 1 thread */
#define SR_QUICK_ITERATIONS 200000L
#define SR_MAX_ITERATIONS LONG_MAX   /* reads are counted in a long */

/* ---- shared-objects ---- */
#define SO_ITERATIONS 20000000L    /* --iterations: operations, about 0.5 s in gil mode, 1 thread */
#define SO_QUICK_ITERATIONS 50000L
#define SO_ENTRIES 1024            /* shared Entry instances */
#define SO_WRITE_EVERY 100         /* one operation in 100 replaces a value */
/* A writer's sequence number (at most --iterations) has 40 bits of an id. */
#define SO_MAX_ITERATIONS ((1L << 40) - 1)

/* ---- handoff ---- */
#define HO_ITEMS 1000000      /* --items */
#define HO_QUICK_ITEMS 20000
#define HO_MIN_THREADS 2      /* a producer and a consumer at least; the default */
/* Item seq's payload ints 7 seq + k (k < 4) are 64-bit ints. */
#define HO_MAX_ITEMS ((LONG_MAX - 4) / 7)

/* ---- finalizer-storm ---- */
#define FS_ITEMS 200000       /* --items: cycles */
#define FS_QUICK_ITEMS 10000
/* A member's id (4 per cycle at most), shifted left by 16 bits, travels in
 * a callback's pointer-sized argument (finalizer_storm.c checks this). */
#define FS_MAX_ITEMS (1L << 40)

/* ---- deepcopy-storm ---- */
#define DS_SERVICES 64        /* --items: services in the configuration */
#define DS_REQUESTS 20000     /* --requests: deep copies */
#define DS_QUICK_SERVICES 16
#define DS_QUICK_REQUESTS 500
/* A copy holds a Service instance, its deps list and its settings dict
 * per service (the tags tuple, all atoms, is shared), and three more
 * containers; a configuration of a million services copied per request
 * is past any use. */
#define DS_TRACKED_PER_SERVICE 3
#define DS_MAX_SERVICES 1000000L

/* ---- the live heap of cycle-churn and latency-service (wl_util.h) ---- */
/* Its node values 1000 + i and ring starts + WL_RING stay within a long. */
#define WL_MAX_LIVE (LONG_MAX / 2)

/* ---- memory: the figures rc_workload.peak_bytes estimates from ----
 *
 * Measured with the workloads themselves, plain build (RelWithDebInfo,
 * mimalloc), on the project's 2-core 24 GiB machine: the peak RSS of `rcgc
 * run` (the JSON's peak_rss_kb, ru_maxrss) at two or more sizes, the
 * difference divided by the difference in objects held at the run's peak.
 * The modes agree within 3% where more than one was measured (ft-atomic:
 * binary-trees --depth 18, 137,804 KiB against gil's 134,040).
 * The estimate is for plain builds: the AddressSanitizer build needs about
 * 1.9 times as much (cycle-churn --cycles 1000 --live 1M and 2M: 323,612
 * and 614,160 KiB, 298 bytes a live-heap node).
 *
 * A binary-trees node, a Node instance with 2 slots (leaves hold None): at
 * --depth D the peak holds the long-lived tree and one short-lived tree of
 * depth D, 2 (2^(D+1) - 1) nodes.  Peak RSS at depth 18, 20, 22 (gil):
 * 134,040, 490,512 and 1,780,124 KiB: 116 bytes a node from 18 to 20, 105
 * from 20 to 22 (ft: 490,408 and 1,780,352 KiB at 20 and 22, the same). */
#define WL_TREE_NODE_BYTES 112
/* A live-heap node (wl_heap_build): a Node instance and its int.
 * cycle-churn --cycles 1000 --live 1M, 2M, 4M, 8M (gil): 158,460, 312,364,
 * 624,444 and 1,248,660 KiB: 158 to 161 bytes a node (ft: 162,780,
 * 319,492, 626,532 and 1,249,384 KiB); latency-service --requests 1000
 * --live 2M and 8M: 312,096 and 1,245,640 KiB, 159 bytes a node. */
#define WL_HEAP_NODE_BYTES 160
/* Cyclic garbage waiting for a collection, per GC-tracked object in it
 * (with the untracked ints, strings and dict entries it holds), measured
 * with --gc-threshold 0 (no automatic collection, so every cycle waits for
 * the end): cycle-churn --live 1000 --cycles 200k and 800k: 148,720 and
 * 579,544 KiB for 2.7 million more churned nodes (one tracked object each),
 * 163 bytes; latency-service --live 1000 --requests 100k and 400k: 217,024
 * and 852,544 KiB, 2,169 bytes a request, whose cycle holds 11 tracked
 * RNodes on average: 197 bytes; finalizer-storm --items 50k and 200k:
 * 86,956 and 335,468 KiB, 1,696 bytes a cycle of 3 members on average,
 * each a tracked instance and two tracked weakrefs: 188 bytes. */
#define WL_GARBAGE_BYTES 200
/* The process itself: 2 to 4 MB (a run of binary-trees --depth 4, the
 * intercept of cycle-churn's line); the collector's and the stops' records
 * (the last 65,536 of each, in the runtime and copied for the report) add
 * about 20 MB in long runs. */
#define WL_BASE_BYTES (32.0 * 1024 * 1024)

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

static inline void wl_shared_objects_defaults(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .iterations = SO_ITERATIONS,
                              .read = WL_READ_BORROW}); }
static inline void wl_shared_objects_quick(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .iterations = SO_QUICK_ITERATIONS,
                              .read = WL_READ_BORROW}); }

static inline void wl_handoff_defaults(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = HO_MIN_THREADS, .items = HO_ITEMS}); }
static inline void wl_handoff_quick(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = HO_MIN_THREADS, .items = HO_QUICK_ITEMS}); }

static inline void wl_deepcopy_storm_defaults(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .items = DS_SERVICES, .requests = DS_REQUESTS}); }
static inline void wl_deepcopy_storm_quick(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .items = DS_QUICK_SERVICES,
                              .requests = DS_QUICK_REQUESTS}); }

static inline void wl_finalizer_storm_defaults(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .items = FS_ITEMS}); }
static inline void wl_finalizer_storm_quick(wl_params *p)
{ wl_sizes_set(p, (wl_params){.threads = 1, .items = FS_QUICK_ITEMS}); }
/* clang-format on */

#endif /* RCGC_WL_SIZES_H */
