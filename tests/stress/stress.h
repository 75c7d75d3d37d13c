/* tests/stress/stress.h: what the threaded stress tests share: the command
 * line (--mode, --threads, --iterations, --seed), failure counting that
 * worker threads may use (cmocka's asserts are for the main thread only),
 * a per-thread random generator, and ThreadSanitizer detection (sizes
 * shrink under TSan, as in mimalloc's test-stress).
 *
 * Threaded runs are not exactly repeatable: the seed fixes each thread's
 * choices, not the interleaving.
 */
#ifndef RCGC_TEST_STRESS_H
#define RCGC_TEST_STRESS_H

#include "harness.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

/* Failed CHECKs so far, from any thread. */
extern _Atomic int stress_failures;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            atomic_fetch_add(&stress_failures, 1);                             \
        }                                                                      \
    } while (0)

static inline int stress_failed(void)
{
    return atomic_load(&stress_failures);
}

/* xorshift64: derive per-thread seeds from the run's seed and the thread's
 * index; never 0. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

struct stress_args {
    rc_mode mode;
    int threads;       /* default on entry; --threads */
    long iterations;   /* default on entry (divided by 10 under TSan) */
    uint64_t seed;     /* default on entry; --seed */
};

/* Parse argv into *a and print the run's settings (so a failing run can be
 * repeated).  A bad flag or value exits 2 with a message naming it and the
 * valid ones; threads must be in [min_threads, 64]. */
void stress_parse_args(int argc, char **argv, int min_threads, struct stress_args *a);

/* A runtime in the given mode; exits 1 with the error if it cannot be made. */
rc_runtime *stress_runtime_new(rc_mode mode);

/* Checkable objects for the container stress tests: an instance of a type
 * with 2 slots holding an int id and the str "obj-<id>".  The slots' int
 * and str are never shared, so they are freed at once when their object
 * dies: a reader of a dead object reads freed memory (ASan).
 * stress_obj_new: a new one, or NULL with the runtime's error.
 * stress_obj_check: 1 if o (which the caller holds a reference to) is an
 * intact object of type t, else 0. */
rc_object *stress_obj_new(rc_type *t, int64_t id);
int stress_obj_check(rc_type *t, rc_object *o);

/* A test's phases, run in order by stress_run_phases: a phase passes when
 * fn returns non-zero and no CHECK failed while it ran. */
struct stress_phase {
    const char *name;
    int (*fn)(void);
};

/* Run the n phases, printing each one's name and result; then free rt,
 * counting a leak it reports as one more failure; print "P passed, F
 * failed".  Returns main's exit status: 0 if everything passed, else 1. */
int stress_run_phases(rc_runtime *rt, const struct stress_phase *phases, int n);

#endif /* RCGC_TEST_STRESS_H */
