/* workloads/registry.c: the table of workloads, in a stable order. */
#include <string.h>

#include "workload.h"

extern const rc_workload wl_binary_trees, wl_cycle_churn, wl_latency_service, wl_shared_refs,
    wl_handoff, wl_finalizer_storm;

const rc_workload *const rc_workloads[] = {
    &wl_binary_trees,
    &wl_cycle_churn,
    &wl_latency_service,
    &wl_shared_refs,
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
