/* workloads/registry.c: the table of workloads, in a stable order, and the
 * check of their sizes against their bounds. */
#include <stdio.h>
#include <string.h>

#include "workload.h"

extern const rc_workload wl_binary_trees, wl_cycle_churn, wl_latency_service, wl_shared_refs,
    wl_shared_objects, wl_handoff, wl_finalizer_storm;

const rc_workload *const rc_workloads[] = {
    &wl_binary_trees,
    &wl_cycle_churn,
    &wl_latency_service,
    &wl_shared_refs,
    &wl_shared_objects,
    &wl_handoff,
    &wl_finalizer_storm,
    NULL,
};

const rc_workload *wl_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; rc_workloads[i] != NULL; i++)
        if (strcmp(rc_workloads[i]->name, name) == 0)
            return rc_workloads[i];
    return NULL;
}

int wl_check_sizes(const rc_workload *w, const wl_params *p, char *msg, size_t n)
{
    for (const wl_bound *b = w->bounds; b != NULL && b->flag != NULL; b++) {
        long v = *(const long *)(const void *)((const char *)p + b->offset);
        if (v >= b->min && v <= b->max)
            continue;
        bool why = v > b->max && b->why != NULL;
        snprintf(msg, n, "%s: %s must be in %ld..%ld, not %ld%s%s%s", w->name, b->flag, b->min,
                 b->max, v, why ? " (" : "", why ? b->why : "", why ? ")" : "");
        return -1;
    }
    return 0;
}
