/* gc/records.c: what the collector reports: a record per collection (a
 * ring of the newest RC_RECORDS_KEPT, runtime/records.h), the trace line
 * (RCGC_TRACE=1), and the callbacks registered with rc_gc_callback_add.
 * Thread rule: the ring and the callback array are under gc.mu; callbacks
 * run outside it, on a copy (a callback may add or remove callbacks).
 */
#define RCGC_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

static void gc_trace_line(const rc_gc_record *r);

void gc_records_init(struct gc_state *gc)
{
    rec_ring_init(&gc->records, sizeof(rc_gc_record));
}

void gc_records_fini(struct gc_state *gc)
{
    rec_ring_fini(&gc->records);
}

void gc_record_append(struct rc_runtime *rt, const rc_gc_record *rec)
{
    struct gc_state *gc = rt->gc;
    pthread_mutex_lock(&gc->mu);
    (void)rec_ring_push(&gc->records, rec);   /* statistics only: may drop */
    pthread_mutex_unlock(&gc->mu);
    /* relaxed: a setting. */
    if (rc_atomic_load_relaxed(&gc->trace))
        gc_trace_line(rec);
}

void gc_invoke_callbacks(struct rc_runtime *rt, rc_gc_phase phase, const rc_gc_info *info)
{
    struct gc_state *gc = rt->gc;
    pthread_mutex_lock(&gc->mu);
    size_t n = gc->ncallbacks;
    struct gc_callback *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (copy != NULL)
        memcpy(copy, gc->callbacks, n * sizeof *copy);
    pthread_mutex_unlock(&gc->mu);
    for (size_t i = 0; copy != NULL && i < n; i++)
        copy[i].cb(phase, info, copy[i].arg);
    free(copy);
}

/* One line per collection on stderr (RCGC_TRACE=1), like GODEBUG=gctrace. */
static void gc_trace_line(const rc_gc_record *r)
{
    char cycle[96] = "";
    if (r->cycle_start_ns != 0)
        snprintf(cycle, sizeof cycle, "; cycle: %.1f us of concurrent work over %.1f us",
                 (double)r->concurrent_ns / 1e3,
                 (double)(r->end_ns - (r->cycle_start_ns < r->start_ns ? r->cycle_start_ns
                                                                       : r->start_ns)) / 1e3);
    fprintf(stderr,
            "gc %d%s: %ld scanned, %ld unreachable, %ld saved; tts %.1f us, pause %.1f us, "
            "total %.1f us; %ld tracked objects%s\n",
            r->generation, r->local ? " (thread-local)" : "", r->scanned, r->collected,
            r->uncollectable,
            (double)r->time_to_safepoint_ns / 1e3, (double)r->pause_ns / 1e3,
            (double)(r->end_ns - r->start_ns) / 1e3, r->heap_size, cycle);
}

size_t rc_gc_record_count(void)
{
    struct rc_runtime *rt = rc_rt;
    if (rt == NULL)
        return 0;
    gc_local_finish_own();
    pthread_mutex_lock(&rt->gc->mu);
    size_t n = rt->gc->records.count;
    pthread_mutex_unlock(&rt->gc->mu);
    return n;
}

size_t rc_gc_records_oldest(void)
{
    struct rc_runtime *rt = rc_rt;
    if (rt == NULL)
        return 0;
    pthread_mutex_lock(&rt->gc->mu);
    size_t n = rec_ring_oldest(&rt->gc->records);
    pthread_mutex_unlock(&rt->gc->mu);
    return n;
}

size_t rc_gc_records(size_t first, rc_gc_record *out, size_t max)
{
    struct rc_runtime *rt = rc_rt;
    if (rt == NULL || out == NULL)
        return 0;
    gc_local_finish_own();
    pthread_mutex_lock(&rt->gc->mu);
    size_t n = rec_ring_copy(&rt->gc->records, first, out, max);
    pthread_mutex_unlock(&rt->gc->mu);
    return n;
}
