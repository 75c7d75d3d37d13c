/* gc/hooks.h: the one way the runtime reaches the collector.
 *
 * The layers read top to bottom: tools -> workloads -> gc -> runtime
 * (docs/gc.md [gc.layers]).  gc/ uses the runtime's internal headers;
 * runtime/ includes no gc/ header but this one, and touches no collector
 * state: struct gc_state and struct gc_thread_state are opaque here.  A
 * check in CI (tools/check-layers.sh) fails when a runtime file includes
 * another gc/ header.
 *
 * Every hook is called by the runtime on the thread named, attached unless
 * said otherwise; none is called with the world stopped.
 */
#ifndef RCGC_GC_HOOKS_H
#define RCGC_GC_HOOKS_H

#ifndef RCGC_BUILDING
#error "gc/hooks.h is internal to rcgc"
#endif

#include <stdbool.h>

struct rc_runtime;
struct thr_state;
struct gc_state;          /* the collector's, per runtime (gc/collector.h) */
struct gc_thread_state;   /* the collector's, per thread */

/* The collector's environment variables hold values gc_runtime_init
 * accepts: 0, or -1 with a ValueError naming the variable.  No runtime
 * needed. */
int gc_check_environment(void);
/* Runtime creation, before any thread state exists: the collector's state
 * for rt->cfg.collector (rt->gc).  0, or -1 with an error (MemoryError). */
int gc_runtime_init(struct rc_runtime *rt);
/* After the creating thread attached: what needs objects (the garbage
 * list).  0, or -1 with an error. */
int gc_runtime_start(struct rc_runtime *rt);
/* rc_runtime_free, on the creating thread, attached: how many threads
 * the collector runs of its own (not the program's to join); then, once
 * no thread of the program's is left, stop and join them. */
int gc_runtime_threads(struct rc_runtime *rt);
void gc_runtime_stop_threads(struct rc_runtime *rt);
/* Runtime teardown, single-threaded, after every thread state is gone. */
void gc_runtime_fini(struct rc_runtime *rt);

/* A thread state was created (the thread is registered, not attached yet);
 * ts->gc is the collector's.  0, or -1 with MemoryError. */
int gc_thread_attach(struct thr_state *ts);
/* The thread is about to exit (attached, its merge queue still
 * registered): the collector finishes what it left for later on it, and
 * leaves nothing more. */
void gc_thread_exiting(struct thr_state *ts);
/* The thread exits (attached, its lists not yet adopted): the collector
 * takes its last counts and frees ts->gc. */
void gc_thread_exit(struct thr_state *ts);

/* The allocation counts of ts (ts->gct) reached their report point: the
 * collector takes them and may collect now (called by an allocation before
 * the object exists).  Returns when to report next: the |delta| of tracked
 * allocations minus frees at which to call again. */
long gc_counts_alloc(struct thr_state *ts);
/* The same from the free path: takes the counts, never collects. */
void gc_counts_free(struct thr_state *ts);
/* Before the runtime counts live objects for the calling thread, and
 * before it detaches on the program's request (rc_detach, rc_thread_join:
 * it may stay away long): garbage the collector found on it and has not
 * freed yet (a thread-local collection's, freed a slice at a time) is
 * freed now, if the thread is attached and may run deallocations.  Any
 * thread, attached or not; no lock held. */
void gc_local_finish_own(void);
/* The calling thread, attached, detaches on the program's request next
 * (rc_detach, rc_thread_join) or is about to exit (gc_thread_exiting)
 * and may stay away long: what the collector keeps on it for later goes
 * where other threads' collections reach it.  May pass safepoints. */
void gc_thread_leaving(void);

/* Runtime shutdown, on the creating thread with no other thread left:
 * collect until nothing more is found, finalizers included, saving
 * nothing (SAVEALL off).  Called twice: before and after the runtime
 * releases its immortal objects (the garbage list among them, which the
 * first call forgets). */
void gc_collect_at_exit(struct rc_runtime *rt);

#endif /* RCGC_GC_HOOKS_H */
