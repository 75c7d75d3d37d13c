/* runtime/mem.c: the runtime's memory allocation, with fault injection for
 * tests (rcgc/testing.h).  Thread rule: the countdown belongs to the calling
 * thread's state.  A thread without a state allocates without injection.
 *
 * The allocator (RCGC_ALLOCATOR, docs/memory.md): mimalloc when built with
 * RCGC_MIMALLOC, the C library's malloc otherwise.  Invariant: a block from
 * mem_alloc/mem_calloc/mem_realloc is released only by mem_free or
 * mem_realloc (directly, or after a grace period by qsbr.c's batch free),
 * never by free(); memory the runtime takes from malloc() goes back through
 * free().  mem_free may be called from any thread, including qsbr.c's
 * reclaimer, which has no thread state: both allocators take frees of
 * blocks another thread allocated (mimalloc hands them back to the owning
 * thread's page, as gclist.c's hand-back stack does for GC lists). */
#define RCGC_BUILDING 1
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#ifdef RCGC_MIMALLOC
#include <mimalloc.h>
#define raw_malloc(n)     mi_malloc(n)
#define raw_calloc(n, s)  mi_calloc((n), (s))
#define raw_realloc(p, n) mi_realloc((p), (n))
#define raw_free(p)       mi_free(p)
#define raw_zalloc_aligned(n, a) mi_zalloc_aligned((n), (a))
#else
#define raw_malloc(n)     malloc(n)
#define raw_calloc(n, s)  calloc((n), (s))
#define raw_realloc(p, n) realloc((p), (n))
#define raw_free(p)       free(p)
static void *raw_zalloc_aligned(size_t n, size_t a)
{
    void *p = aligned_alloc(a, n);   /* n is a multiple of a */
    return p != NULL ? memset(p, 0, n) : NULL;
}
#endif

#include "internal.h"

static inline bool inject_failure(void)
{
    struct thr_state *ts = rc_tls_state;
    if (RC_LIKELY(ts == NULL || (ts->fail_countdown | ts->fail_gc_countdown) == 0))
        return false;
    long *countdown = ts->in_auto_gc ? &ts->fail_gc_countdown : &ts->fail_countdown;
    if (*countdown == 0)
        return false;
    return --*countdown == 0;
}

void *mem_alloc(size_t n)
{
    void *p = inject_failure() ? NULL : raw_malloc(n);
    return RC_LIKELY(p != NULL) ? p : err_nomem();
}

void *mem_calloc(size_t n, size_t size)
{
    void *p = inject_failure() ? NULL : raw_calloc(n, size);
    return RC_LIKELY(p != NULL) ? p : err_nomem();
}

void *mem_realloc(void *old, size_t n)
{
    void *p = inject_failure() ? NULL : raw_realloc(old, n);
    return RC_LIKELY(p != NULL) ? p : err_nomem();
}

void *mem_try_realloc(void *old, size_t n)
{
    return raw_realloc(old, n);
}

void *mem_try_calloc(size_t n, size_t size)
{
    return raw_calloc(n, size);
}

void *mem_calloc_lines(size_t size)
{
    size_t n = (size + MEM_LINES - 1) / MEM_LINES * MEM_LINES;
    void *p = inject_failure() ? NULL : raw_zalloc_aligned(n, MEM_LINES);
    return RC_LIKELY(p != NULL) ? p : err_nomem();
}

void mem_free(void *p)
{
    raw_free(p);
}

void rc_testing_fail_alloc_after(long n)
{
    struct thr_state *ts = rc_tls_state;
    if (ts != NULL)
        ts->fail_countdown = n > 0 ? n : 0;
}

void rc_testing_fail_gc_alloc_after(long n)
{
    struct thr_state *ts = rc_tls_state;
    if (ts != NULL)
        ts->fail_gc_countdown = n > 0 ? n : 0;
}

void mem_trim(void)
{
#ifdef RCGC_MIMALLOC
    mi_collect(true);   /* this thread's heap and the abandoned segments */
#endif
    malloc_trim(0);     /* the C library's heap (thread states, records) */
}

const char *mem_allocator_name(void)
{
#ifdef RCGC_MIMALLOC
    return "mimalloc";
#else
    return "system";
#endif
}
