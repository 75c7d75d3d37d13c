/* workloads/loaded.h: what registry.c asks of the workloads loaded from
 * libraries (workloads/loaded.c); the rest of the program goes through the
 * wl_* functions of workload.h. */
#ifndef RCGC_WORKLOADS_LOADED_H
#define RCGC_WORKLOADS_LOADED_H

#include <stddef.h>

#include "workload.h"

/* The i-th loaded workload, NULL past the last. */
const rc_workload *wl_loaded_at(size_t i);

/* wl_defaults, wl_quick and wl_peak_bytes for a loaded workload
 * (w->loaded != NULL). */
void wl_loaded_defaults(const rc_workload *w, wl_params *p);
void wl_loaded_quick(const rc_workload *w, wl_params *p);
double wl_loaded_peak_bytes(const rc_workload *w, const wl_params *p);

#endif /* RCGC_WORKLOADS_LOADED_H */
