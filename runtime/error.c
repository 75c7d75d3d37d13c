/* runtime/error.c: the per-thread error state (rcgc/error.h) and fatal
 * errors.  Thread rule: each thread reads and writes only its own state. */
#define RCGC_BUILDING 1
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static _Thread_local struct {
    rc_error_kind kind;
    char msg[256];
} tls_error;

static void verr_set(rc_error_kind kind, const char *fmt, va_list ap)
{
    tls_error.kind = kind;
    vsnprintf(tls_error.msg, sizeof tls_error.msg, fmt, ap);
}

void err_set(rc_error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr_set(kind, fmt, ap);
    va_end(ap);
}

void *err_null(rc_error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr_set(kind, fmt, ap);
    va_end(ap);
    return NULL;
}

int err_int(rc_error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr_set(kind, fmt, ap);
    va_end(ap);
    return -1;
}

void *err_nomem(void)
{
    return err_null(RC_ERR_MEMORY, "out of memory");
}

void *err_type_null(const char *fn, const char *want, rc_object *got)
{
    return err_null(RC_ERR_TYPE, "%s() argument must be %s, not %s", fn, want,
                    got == NULL ? "NULL" : got->ob_type->name);
}

int err_type_int(const char *fn, const char *want, rc_object *got)
{
    err_type_null(fn, want, got);
    return -1;
}

void *err_no_thread_null(const char *fn)
{
    return err_null(RC_ERR_RUNTIME,
                    rc_rt == NULL ? "%s: no rcgc runtime (call rc_runtime_new first)"
                                  : "%s: this thread has no rcgc thread state "
                                    "(use rc_thread_start or rc_thread_register)",
                    fn);
}

rc_error_kind rc_error_occurred(void) { return tls_error.kind; }

const char *rc_error_message(void) { return tls_error.msg; }

void rc_error_clear(void)
{
    tls_error.kind = RC_ERR_NONE;
    tls_error.msg[0] = '\0';
}

const char *rc_error_kind_name(rc_error_kind kind)
{
    switch (kind) {
    case RC_ERR_NONE: return "no error";
    case RC_ERR_MEMORY: return "MemoryError";
    case RC_ERR_TYPE: return "TypeError";
    case RC_ERR_INDEX: return "IndexError";
    case RC_ERR_KEY: return "KeyError";
    case RC_ERR_VALUE: return "ValueError";
    case RC_ERR_RUNTIME: return "RuntimeError";
    case RC_ERR_RECURSION: return "RecursionError";
    }
    return "unknown error";
}

void rc_fatal(const char *fmt, ...)
{
    va_list ap;
    fputs("rcgc: fatal: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
