/* runtime/mem.c: the runtime's memory allocation, with fault injection for
 * tests (rcgc/testing.h).  Thread rule: the countdown belongs to the calling
 * thread's state.  A thread without a state allocates without injection. */
#define RCGC_BUILDING 1
#include <stdlib.h>

#include "internal.h"

static inline bool inject_failure(void)
{
    struct thr_state *ts = rc_tls_state;
    if (RC_LIKELY(ts == NULL || ts->fail_countdown == 0))
        return false;
    return --ts->fail_countdown == 0;
}

void *mem_alloc(size_t n)
{
    void *p = inject_failure() ? NULL : malloc(n);
    return p != NULL ? p : err_nomem();
}

void *mem_calloc(size_t n, size_t size)
{
    void *p = inject_failure() ? NULL : calloc(n, size);
    return p != NULL ? p : err_nomem();
}

void *mem_realloc(void *old, size_t n)
{
    void *p = inject_failure() ? NULL : realloc(old, n);
    return p != NULL ? p : err_nomem();
}

void mem_free(void *p)
{
    free(p);
}

void rc_testing_fail_alloc_after(long n)
{
    struct thr_state *ts = rc_tls_state;
    if (ts != NULL)
        ts->fail_countdown = n > 0 ? n : 0;
}
