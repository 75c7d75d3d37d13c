/* workloads/demo.h: the demo workload (until the full workload set lands):
 * producers build small object graphs and hand them to consumers, which
 * verify a checksum and drop them, while every thread also reads a shared
 * table of objects (refcount traffic on shared objects). */
#ifndef RCGC_WORKLOAD_DEMO_H
#define RCGC_WORKLOAD_DEMO_H

#include "rcgc/rcgc.h"

struct demo_params {
    int threads;        /* >= 2: half produce, half consume */
    long items;         /* graphs handed over, in total */
    long reads;         /* shared-table reads per thread */
};

struct demo_result {
    double wall_s;
    double ops_per_s;   /* (items + reads * threads) / wall */
    long verified;      /* graphs that passed their checksum */
    long leaked;        /* objects alive at rc_runtime_free */
    uint64_t gil_wait_ns;
};

/* Run the demo in its own runtime of the given mode.  0 on success (every
 * graph verified, nothing leaked), -1 with rc_error_message() otherwise. */
int demo_run(rc_mode mode, const struct demo_params *p, struct demo_result *out);

#endif
