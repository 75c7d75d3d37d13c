/* tools/bench/refbench.c: the refcount microbenchmark.
 *
 * Measures incref+decref pairs on one object, in ns per pair, for:
 *   floor        a plain non-atomic counter, compiled without the runtime;
 *   gil          gil mode (plain owner path);
 *   ft-own       ft mode, on an object the thread owns (biased, plain);
 *   ft-other     ft mode, on an object another thread owns (atomic shared);
 *   ft-atomic    ft-atomic mode (every op atomic);
 *   immortal     an immortal object (no write at all);
 * each with 1 thread, and with 2 threads hammering the same object (in ft
 * modes the second thread is a non-owner; in gil mode the threads take
 * turns, so two threads do not go faster).  Every figure is the median of
 * several trials, and the variants are interleaved trial by trial (A/B
 * interleaving), so a ratio compares figures measured under the same
 * machine conditions.  The tables print ratios to the floor and to gil.
 *
 * Usage: rcgc-refbench [--quick] [--pairs N] [--trials N]
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcgc/rcgc.h"

/* Keep the compiler from folding an incref with the next decref. */
#define OPAQUE(p) __asm__ volatile("" : : "r"(p) : "memory")

static long pairs = 20000000;
static int trials = 7;

enum variant { V_FLOOR, V_GIL, V_FT_OWN, V_FT_OTHER, V_FT_ATOMIC, V_IMMORTAL, V_COUNT };
static const char *const vnames[V_COUNT] = {
    "floor (plain counter, no runtime)", "gil", "ft, owner thread",
    "ft, another thread's object", "ft-atomic", "immortal (gil mode)"};

struct plain_obj {
    uint32_t rc;
};

__attribute__((noinline)) static double bench_floor(long n)
{
    static struct plain_obj o = {1};
    uint64_t t0 = rc_clock_ns();
    for (long i = 0; i < n; i++) {
        o.rc++;
        OPAQUE(&o);
        o.rc--;
        OPAQUE(&o);
    }
    return (double)(rc_clock_ns() - t0) / (double)n;
}

__attribute__((noinline)) static double bench_object(rc_object *o, long n)
{
    uint64_t t0 = rc_clock_ns();
    for (long i = 0; i < n; i++) {
        rc_incref(o);
        OPAQUE(o);
        rc_decref(o);
        OPAQUE(o);
    }
    return (double)(rc_clock_ns() - t0) / (double)n;
}

/* ---- two threads on one object ---- */

struct two {
    _Atomic(rc_object *) obj;   /* published by whoever makes it */
    _Atomic int go;
    bool first_makes_it;        /* ft, owner thread: thread 0 owns the object */
};

struct hammer {
    struct two *two;
    int index;
    long n;
};

static void hammer_thread(void *p)
{
    struct hammer *h = p;
    struct two *two = h->two;
    if (h->index == 0 && two->first_makes_it)
        atomic_store(&two->obj, rc_list_new());
    rc_object *o;
    while ((o = atomic_load(&two->obj)) == NULL || !atomic_load(&two->go))
        rc_safepoint();
    for (long i = 0; i < h->n; i++) {
        rc_incref(o);
        OPAQUE(o);
        rc_decref(o);
        OPAQUE(o);
        if ((i & 4095) == 0)
            rc_safepoint();   /* gil mode: let the other thread in */
    }
}

static void make_object(void *p)
{
    *(rc_object **)p = rc_list_new();   /* owned by this (short-lived) thread */
}

/* ns per pair over both threads: wall time / all pairs.  Returns the
 * object (a new reference) through *made when thread 0 made it. */
static double bench_two(rc_object *o, long n, rc_object **made)
{
    struct two two = {.first_makes_it = o == NULL};
    atomic_init(&two.obj, o);
    atomic_init(&two.go, 0);
    struct hammer h[2] = {{&two, 0, n / 2}, {&two, 1, n / 2}};
    rc_thread *t[2];
    for (int i = 0; i < 2; i++)
        t[i] = rc_thread_start(hammer_thread, &h[i]);
    uint64_t t0 = rc_clock_ns();
    atomic_store(&two.go, 1);
    for (int i = 0; i < 2; i++)
        rc_thread_join(t[i]);
    double r = (double)(rc_clock_ns() - t0) / (double)n;
    if (made != NULL)
        *made = two.first_makes_it ? atomic_load(&two.obj) : NULL;
    return r;
}

/* One trial of one variant, in its own runtime. */
static double run_variant(enum variant v, int nthreads)
{
    if (v == V_FLOOR)
        return nthreads == 1 ? bench_floor(pairs) : -1;
    rc_config cfg = rc_config_default();
    cfg.mode = v == V_GIL || v == V_IMMORTAL ? RC_MODE_GIL
               : v == V_FT_ATOMIC            ? RC_MODE_FT_ATOMIC
                                             : RC_MODE_FT;
    rc_runtime *rt = rc_runtime_new(&cfg);
    if (rt == NULL) {
        fprintf(stderr, "rcgc-refbench: %s\n", rc_error_message());
        exit(1);
    }
    rc_object *o = NULL;
    if (v == V_IMMORTAL) {
        o = rc_none();
    } else if (v == V_FT_OTHER) {
        rc_thread *t = rc_thread_start(make_object, &o);
        rc_thread_join(t);   /* its owner has exited: no measuring thread is it */
    } else if (nthreads == 1 || v != V_FT_OWN) {
        o = rc_list_new();   /* owned by the measuring (main) thread */
    }   /* else: two threads, ft owner: hammer thread 0 makes and owns it */
    double r;
    if (nthreads == 1) {
        r = bench_object(o, pairs);
    } else {
        rc_object *made = NULL;
        r = bench_two(o, pairs, &made);
        if (made != NULL)
            o = made;
    }
    if (v != V_IMMORTAL)
        rc_decref(o);
    long leaked = rc_runtime_free(rt);
    if (leaked != 0) {
        fprintf(stderr, "rcgc-refbench: %ld objects leaked\n", leaked);
        exit(1);
    }
    return r;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void cpu_model(char *out, size_t n)
{
    snprintf(out, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[256];
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c != NULL) {
                snprintf(out, n, "%s", c + 2);
                out[strcspn(out, "\n")] = '\0';
            }
            break;
        }
    }
    fclose(f);
}

static long parse_positive(const char *flag, const char *v)
{
    char *end;
    long n = v != NULL ? strtol(v, &end, 10) : 0;
    if (v == NULL || *v == '\0' || *end != '\0' || n <= 0) {
        fprintf(stderr, "rcgc-refbench: %s needs a positive integer, not '%s'\n", flag,
                v != NULL ? v : "");
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            pairs = 2000000;
            trials = 3;
        } else if (strcmp(argv[i], "--pairs") == 0) {
            pairs = parse_positive("--pairs", i + 1 < argc ? argv[++i] : NULL);
        } else if (strcmp(argv[i], "--trials") == 0) {
            trials = (int)parse_positive("--trials", i + 1 < argc ? argv[++i] : NULL);
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: rcgc-refbench [--quick] [--pairs N] [--trials N]\n");
            return 0;
        } else {
            fprintf(stderr, "rcgc-refbench: unknown flag '%s' (valid: --quick, --pairs, "
                    "--trials, --help)\n", argv[i]);
            return 2;
        }
    }
    char cpu[160];
    cpu_model(cpu, sizeof cpu);
    printf("rcgc refcount microbenchmark: incref+decref pairs on one object\n");
    printf("machine: %s, %ld cores; %ld pairs per trial, median of %d interleaved trials\n\n",
           cpu, (long)sysconf(_SC_NPROCESSORS_ONLN), pairs, trials);
    for (int nthreads = 1; nthreads <= 2; nthreads++) {
        double *samples[V_COUNT];
        for (int v = 0; v < V_COUNT; v++)
            samples[v] = calloc((size_t)trials, sizeof(double));
        for (int t = 0; t < trials; t++)   /* interleaved: every variant per trial */
            for (int v = 0; v < V_COUNT; v++)
                samples[v][t] = run_variant((enum variant)v, nthreads);
        double med[V_COUNT];
        for (int v = 0; v < V_COUNT; v++) {
            qsort(samples[v], (size_t)trials, sizeof(double), cmp_double);
            med[v] = samples[v][trials / 2];
            free(samples[v]);
        }
        printf("%d thread%s%s\n\n", nthreads, nthreads > 1 ? "s" : "",
               nthreads > 1 ? " on the same object (ns per pair = wall / all pairs)" : "");
        printf("| variant | ns per pair | vs floor | vs gil |\n|---|---:|---:|---:|\n");
        for (int v = 0; v < V_COUNT; v++) {
            if (med[v] < 0)
                continue;   /* the floor is single-threaded */
            double floor = med[V_FLOOR] > 0 ? med[V_FLOOR] : -1;
            if (floor > 0)
                printf("| %s | %.2f | %.2fx | %.2fx |\n", vnames[v], med[v], med[v] / floor,
                       med[v] / med[V_GIL]);
            else
                printf("| %s | %.2f | - | %.2fx |\n", vnames[v], med[v], med[v] / med[V_GIL]);
        }
        printf("\n");
    }
    return 0;
}
