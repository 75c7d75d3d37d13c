/* rcgc/error.h: the calling thread's error state, like CPython's exception
 * state.  A function that fails returns NULL or -1 (its header comment says
 * which) and records a kind and a message here; a function that succeeds
 * leaves the state alone.  The state is per thread and needs no runtime, so
 * even rc_runtime_new can report why it failed.
 */
#ifndef RCGC_ERROR_H
#define RCGC_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rc_error_kind {
    RC_ERR_NONE = 0,
    RC_ERR_MEMORY,   /* allocation failed (MemoryError) */
    RC_ERR_TYPE,     /* NULL or wrong-type argument (TypeError) */
    RC_ERR_INDEX,    /* index out of range (IndexError) */
    RC_ERR_KEY,      /* missing dict key (KeyError) */
    RC_ERR_VALUE,    /* bad value, e.g. a negative size (ValueError) */
    RC_ERR_RUNTIME,  /* wrong runtime or thread state (RuntimeError) */
    RC_ERR_RECURSION, /* nesting deeper than the recursion limit
                         (RecursionError; rcgc/semantics.h) */
} rc_error_kind;

/* The kind of the last error on this thread, RC_ERR_NONE if none. */
rc_error_kind rc_error_occurred(void);

/* The last error's message ("" if none); valid until the next error or
 * rc_error_clear on this thread. */
const char *rc_error_message(void);

/* A kind's Python-style name: "MemoryError", "TypeError", ... */
const char *rc_error_kind_name(rc_error_kind kind);

/* Forget the last error. */
void rc_error_clear(void);

#ifdef __cplusplus
}
#endif

#endif /* RCGC_ERROR_H */
