/* workloads/registry.c: the table of workloads, in a stable order, and the
 * check of their sizes against their bounds. */
#include <stdio.h>
#include <string.h>

#include "loaded.h"
#include "workload.h"

extern const rc_workload wl_binary_trees, wl_cycle_churn, wl_latency_service, wl_shared_refs,
    wl_shared_objects, wl_handoff, wl_finalizer_storm, wl_deepcopy_storm;

const rc_workload *const rc_workloads[] = {
    &wl_binary_trees,
    &wl_cycle_churn,
    &wl_latency_service,
    &wl_shared_refs,
    &wl_shared_objects,
    &wl_handoff,
    &wl_finalizer_storm,
    &wl_deepcopy_storm,
    NULL,
};

#define WL_NBUILTIN (sizeof rc_workloads / sizeof rc_workloads[0] - 1)

const rc_workload *wl_at(size_t i)
{
    return i < WL_NBUILTIN ? rc_workloads[i] : wl_loaded_at(i - WL_NBUILTIN);
}

const rc_workload *wl_find(const char *name)
{
    if (name == NULL)
        return NULL;
    const rc_workload *w;
    for (size_t i = 0; (w = wl_at(i)) != NULL; i++)
        if (strcmp(w->name, name) == 0)
            return w;
    return NULL;
}

void wl_defaults(const rc_workload *w, wl_params *p)
{
    memset(p, 0, sizeof *p);
    if (w->loaded != NULL)
        wl_loaded_defaults(w, p);
    else
        w->defaults(p);
}

void wl_quick(const rc_workload *w, wl_params *p)
{
    if (w->loaded != NULL)
        wl_loaded_quick(w, p);
    else
        w->quick(p);
}

double wl_peak_bytes(const rc_workload *w, const wl_params *p, long threshold0)
{
    return w->loaded != NULL ? wl_loaded_peak_bytes(w, p) : w->peak_bytes(p, threshold0);
}

int wl_run(const rc_workload *w, wl_context *ctx)
{
    ctx->workload = w;
    return w->run(ctx);
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
