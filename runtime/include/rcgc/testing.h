/* rcgc/testing.h: hooks for tests of rcgc itself; not for applications. */
#ifndef RCGC_TESTING_H
#define RCGC_TESTING_H

#ifdef __cplusplus
extern "C" {
#endif

/* Make the n-th memory allocation from now on the calling thread fail (1 =
 * the next one); 0 turns injection off.  Every runtime allocation (objects,
 * item arrays, tables, strings, queue nodes excepted) honours it. */
void rc_testing_fail_alloc_after(long n);

/* The same for the allocations made inside automatic collections (those an
 * allocation starts: the collector's own memory, and what its callbacks and
 * finalizers allocate).  The two countdowns are separate, so a failure
 * aimed at an operation's allocation lands there whenever collections
 * happen (RCGC_GC_STRESS), and a failure aimed at a collection lands in
 * the next automatic one.  An explicit rc_gc_collect counts as the
 * caller's. */
void rc_testing_fail_gc_alloc_after(long n);

/* Make the calling thread's n-th rc_thread_start from now on fail as if
 * the system had no thread to give (RuntimeError, EAGAIN's message); 0
 * turns it off.  For testing how a program copes with a thread that does
 * not start. */
void rc_testing_fail_thread_start_after(long n);

/* How many times the calling thread's runtime has made an allocating
 * thread wait for another thread's collection (allocation pacing,
 * docs/gc.md [gc.pacing]); 0 without a runtime. */
unsigned long rc_testing_gc_pace_waits(void);

#ifdef __cplusplus
}
#endif

#endif /* RCGC_TESTING_H */
