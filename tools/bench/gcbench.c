/* tools/bench/gcbench.c: what the collector costs.
 *
 *   full   the pause of a full collection (rc_gc_collect(2)) of a heap of
 *          N live tracked objects, N = 100k, 1M, 4M, per tracked object:
 *          it must grow linearly.  Two heaps: "fresh" (list order = address
 *          order, as just built) and "aged" (built into memory freed in a
 *          random order, so walking it in list order jumps around memory,
 *          as in a heap that has run a while).
 *   young  young-collection pauses at the default threshold while a
 *          thread churns short-lived cycles next to a 1M-object old heap
 *          (cycle-churn's shape): p50, p99, max of generation 0 and 1.
 *   bytes  bytes per tracked object: resident memory added per Node(2
 *          slots) instance, next to its fixed parts (header, GC links,
 *          slots).
 *   threads  a full collection's pause and the resident memory after 100
 *          and after 100,000 threads have started and exited (5,000 with
 *          --quick): both must stay flat (docs/gc.md [gc.owners]).
 *
 * The heap is cycle-churn's: rings of 100 Node(next, value) instances,
 * each with a mortal int value, the rings' first nodes held by one list.
 * Figures are medians over trials.  Usage:
 *   rcgc-gcbench [--quick] [--trials N] [--only full,young,bytes,threads]
 *                [--modes gil,ft,ft-atomic]
 * Prints markdown tables (BENCHMARKS.md).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rcgc/rcgc.h"

#define RING 100

static int trials = 5;
static bool quick;

static void die(const char *what)
{
    fprintf(stderr, "rcgc-gcbench: %s: %s\n", what, rc_error_message());
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* Resident set size now, in bytes (from /proc/self/statm). */
static long rss_now(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

static rc_runtime *start_runtime(rc_mode mode)
{
    rc_config cfg = rc_config_default();
    cfg.mode = mode;
    rc_runtime *rt = rc_runtime_new(&cfg);
    if (rt == NULL)
        die("rc_runtime_new");
    return rt;
}

static void stop_runtime(rc_runtime *rt)
{
    long leaked = rc_runtime_free(rt);
    if (leaked != 0) {
        fprintf(stderr, "rcgc-gcbench: %ld objects leaked\n", leaked);
        exit(1);
    }
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The live heap: n nodes in rings of RING under one list (new reference).
 * aged: first allocate n Node instances and free them in a random order,
 * so the heap's nodes land in memory in an order unrelated to their list
 * order. */
static rc_object *build_heap(rc_type *node, long n, bool aged)
{
    if (aged) {
        rc_object **tmp = malloc((size_t)n * sizeof *tmp);
        if (tmp == NULL) {
            fprintf(stderr, "rcgc-gcbench: out of memory\n");
            exit(1);
        }
        for (long i = 0; i < n; i++)
            if ((tmp[i] = rc_instance_new(node)) == NULL)
                die("rc_instance_new");
        uint64_t s = 0x9e3779b97f4a7c15u;
        for (long i = n - 1; i > 0; i--) {
            long j = (long)(rng_next(&s) % (uint64_t)(i + 1));
            rc_object *t = tmp[i];
            tmp[i] = tmp[j];
            tmp[j] = t;
        }
        for (long i = 0; i < n; i++)
            rc_decref(tmp[i]);
        free(tmp);
    }
    rc_object *heap = rc_list_new();
    if (heap == NULL)
        die("rc_list_new");
    rc_object *ring[RING];
    for (long first = 0; first < n; first += RING) {
        long len = n - first < RING ? n - first : RING;
        for (long k = 0; k < len; k++) {
            ring[k] = rc_instance_new(node);
            rc_object *v = ring[k] != NULL ? rc_int_new(1000 + first + k) : NULL;
            if (v == NULL || rc_slot_set(ring[k], 1, v) < 0)
                die("building the heap");
            rc_decref(v);
        }
        for (long k = 0; k < len; k++)
            if (rc_slot_set(ring[k], 0, ring[(k + 1) % len]) < 0)
                die("building the heap");
        if (rc_list_append(heap, ring[0]) < 0)
            die("building the heap");
        for (long k = 0; k < len; k++)
            rc_decref(ring[k]);
    }
    return heap;
}

/* The last collection record. */
static rc_gc_record last_record(void)
{
    rc_gc_record r;
    memset(&r, 0, sizeof r);
    size_t n = rc_gc_record_count();
    if (n == 0 || rc_gc_records(n - 1, &r, 1) != 1)
        die("rc_gc_records");
    return r;
}

/* ---------------------------------------------------------------- full */

struct full_result {
    double pause_ms, total_ms, ns_per_obj;
    double phase_ms[3];   /* update refs, subtract, mark + relink (medians) */
    long tracked;
};

static struct full_result full_one(rc_mode mode, long n, bool aged)
{
    rc_runtime *rt = start_runtime(mode);
    rc_gc_disable();   /* only the collections measured here */
    rc_type *node = rc_type_new("Node", 2, NULL);
    if (node == NULL)
        die("rc_type_new");
    rc_object *heap = build_heap(node, n, aged);
    rc_gc_collect(2);   /* everything old now; warm */
    double pause[16], total[16], ph[3][16];
    int k = trials < 16 ? trials : 16;
    long scanned = 0;
    for (int i = 0; i < k; i++) {
        if (rc_gc_collect(2) < 0)
            die("rc_gc_collect");
        rc_gc_record r = last_record();
        pause[i] = (double)r.pause_ns / 1e6;
        total[i] = (double)(r.end_ns - r.start_ns) / 1e6;
        ph[0][i] = (double)r.phase_ns[RC_GC_T_UPDATE_REFS] / 1e6;
        ph[1][i] = (double)r.phase_ns[RC_GC_T_SUBTRACT] / 1e6;
        ph[2][i] = (double)r.phase_ns[RC_GC_T_REACHABLE] / 1e6;
        scanned = r.scanned;
    }
    rc_decref(heap);
    rc_gc_enable();
    rc_gc_collect(2);   /* the rings are cycles */
    rc_decref((rc_object *)node);
    stop_runtime(rt);
    struct full_result res = {median(pause, k), median(total, k), 0,
                              {median(ph[0], k), median(ph[1], k), median(ph[2], k)}, scanned};
    res.ns_per_obj = scanned > 0 ? res.pause_ms * 1e6 / (double)scanned : 0;
    return res;
}

static void bench_full(const rc_mode *modes, int nmodes)
{
    long sizes[3] = {100000, 1000000, 4000000};
    int nsizes = 3;
    if (quick) {
        sizes[1] = 400000;
        nsizes = 2;
    }
    printf("### Full collection cost (`rc_gc_collect(2)`, nothing to free)\n\n");
    printf("Median of %d collections each; pause = world stopped; the heap is rings of\n"
           "100 Node instances with an int each (ints are not tracked).\n\n", trials);
    printf("| mode | heap | live tracked | pause ms | total ms | refs / subtract / mark ms |"
           " ns per tracked object | vs %ldk |\n", sizes[0] / 1000);
    printf("|---|---|---:|---:|---:|---|---:|---:|\n");
    for (int m = 0; m < nmodes; m++) {
        for (int aged = 0; aged < 2; aged++) {
            double base = 0;
            for (int s = 0; s < nsizes; s++) {
                struct full_result r = full_one(modes[m], sizes[s], aged != 0);
                if (s == 0)
                    base = r.ns_per_obj;
                printf("| %s | %s | %ld | %.1f | %.1f | %.1f / %.1f / %.1f | %.1f | %.2fx |\n",
                       rc_mode_name(modes[m]), aged ? "aged" : "fresh", r.tracked,
                       r.pause_ms, r.total_ms, r.phase_ms[0], r.phase_ms[1], r.phase_ms[2],
                       r.ns_per_obj,
                       base > 0 ? r.ns_per_obj / base : 0);
                fflush(stdout);
            }
        }
    }
    printf("\nTarget: at most 15 ns per tracked object at 1M live, growing linearly "
           "(the last column stays near 1).\n\n");
}

/* --------------------------------------------------------------- young */

/* Churn short-lived rings of 1..8 nodes (cycle-churn's) for `rings`. */
static void churn(rc_type *node, long rings)
{
    uint64_t s = 12345;
    for (long i = 0; i < rings; i++) {
        int k = 1 + (int)(rng_next(&s) % 8);
        rc_object *n[8];
        for (int j = 0; j < k; j++) {
            n[j] = rc_instance_new(node);
            rc_object *v = n[j] != NULL ? rc_int_new(2000 + j) : NULL;
            if (v == NULL || rc_slot_set(n[j], 1, v) < 0)
                die("churn");
            rc_decref(v);
        }
        for (int j = 0; j < k; j++)
            if (rc_slot_set(n[j], 0, n[(j + 1) % k]) < 0)
                die("churn");
        for (int j = 0; j < k; j++)
            rc_decref(n[j]);
    }
}

static void bench_young(const rc_mode *modes, int nmodes)
{
    long live = quick ? 200000 : 1000000;
    long rings = quick ? 200000 : 1000000;
    printf("### Young collections at the default threshold\n\n");
    printf("One thread churns %ld short-lived rings (1-8 nodes) next to a %ld-object\n"
           "old heap; pauses (world stopped) of the automatic collections.\n\n", rings,
           live);
    printf("| mode | gen | collections | scanned (avg) | p50 us | p99 us | max us |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (int m = 0; m < nmodes; m++) {
        rc_runtime *rt = start_runtime(modes[m]);
        rc_type *node = rc_type_new("Node", 2, NULL);
        if (node == NULL)
            die("rc_type_new");
        rc_gc_disable();
        rc_object *heap = build_heap(node, live, false);
        rc_gc_collect(2);
        rc_gc_enable();
        size_t first = rc_gc_record_count();
        churn(node, rings);
        size_t n = rc_gc_record_count() - first;
        rc_gc_record *recs = calloc(n ? n : 1, sizeof *recs);
        double *p = calloc(n ? n : 1, sizeof *p);
        if (recs == NULL || p == NULL) {
            fprintf(stderr, "rcgc-gcbench: out of memory\n");
            exit(1);
        }
        n = rc_gc_records(first, recs, n);
        for (int gen = 0; gen < 2; gen++) {
            size_t k = 0;
            double scanned = 0;
            for (size_t i = 0; i < n; i++)
                if (recs[i].generation == gen) {
                    p[k++] = (double)recs[i].pause_ns / 1e3;
                    scanned += (double)recs[i].scanned;
                }
            double p50 = percentile(p, k, 50), p99 = percentile(p, k, 99);
            double mx = k ? p[k - 1] : 0;
            printf("| %s | %d | %zu | %.0f | %.1f | %.1f | %.1f |\n", rc_mode_name(modes[m]),
                   gen, k, k ? scanned / (double)k : 0, p50, p99, mx);
        }
        fflush(stdout);
        free(recs);
        free(p);
        rc_decref(heap);
        rc_gc_collect(2);
        rc_decref((rc_object *)node);
        stop_runtime(rt);
    }
    printf("\nTarget: young-collection (gen 0) pause p99 under 200 us.\n\n");
}

/* --------------------------------------------------------------- bytes */

static void bench_bytes(void)
{
    long n = quick ? 200000 : 1000000;
    rc_runtime *rt = start_runtime(RC_MODE_GIL);
    rc_gc_disable();
    rc_type *node = rc_type_new("Node", 2, NULL);
    if (node == NULL)
        die("rc_type_new");
    rc_object *keep = rc_list_new();
    if (keep == NULL)
        die("rc_list_new");
    /* Reserve the list's array first so only the nodes are measured. */
    for (long i = 0; i < n; i++)
        if (rc_list_append(keep, rc_none()) < 0)
            die("rc_list_append");
    long before = rss_now();
    for (long i = 0; i < n; i++) {
        rc_object *o = rc_instance_new(node);
        if (o == NULL || rc_list_set(keep, i, o) < 0)
            die("rc_instance_new");
        rc_decref(o);
    }
    long after = rss_now();
    printf("### Bytes per tracked object\n\n");
    printf("| object | header | GC links | body | resident bytes per object (measured, %ld objects) |\n",
           n);
    printf("|---|---:|---:|---:|---:|\n");
    printf("| Node (2 slots) | %zu | %zu | %s | %.1f |\n\n", sizeof(rc_object),
           rc_gc_link_size(), "16 (the slots)",
           before >= 0 && after >= 0 ? (double)(after - before) / (double)n : -1.0);
    rc_decref(keep);
    rc_gc_enable();
    rc_decref((rc_object *)node);
    stop_runtime(rt);
}

/* -------------------------------------------------------------- threads */

static void one_list(void *unused)
{
    rc_decref(rc_list_new());
}

/* Start and join threads until `total` have run, two at a time. */
static void run_threads(long *ran, long total)
{
    while (*ran < total) {
        rc_thread *a = rc_thread_start(one_list, NULL);
        rc_thread *b = rc_thread_start(one_list, NULL);
        if (a == NULL || b == NULL || rc_thread_join(a) < 0 || rc_thread_join(b) < 0)
            die("rc_thread_start/join");
        *ran += 2;
    }
}

/* Median pause of `trials` full collections of the heap now. */
static double full_pause_ms(void)
{
    double pause[16];
    int k = trials < 16 ? trials : 16;
    for (int i = 0; i < k; i++) {
        if (rc_gc_collect(2) < 0)
            die("rc_gc_collect");
        pause[i] = (double)last_record().pause_ns / 1e6;
    }
    return median(pause, k);
}

static void bench_threads(const rc_mode *modes, int nmodes)
{
    long many = quick ? 5000 : 100000;
    printf("### Exited threads (docs/gc.md [gc.owners])\n\n");
    printf("A heap of 100,000 live tracked objects; a full collection's pause (median of %d)\n"
           "and the resident memory after 100 and after %ld threads have started and\n"
           "exited (each allocates one list).\n\n", trials, many);
    printf("| mode | threads exited | full pause ms | resident MB | pause vs 100 |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (int m = 0; m < nmodes; m++) {
        rc_runtime *rt = start_runtime(modes[m]);
        rc_type *node = rc_type_new("Node", 2, NULL);
        if (node == NULL)
            die("rc_type_new");
        rc_object *heap = build_heap(node, 100000, false);
        long ran = 0;
        double base = 0;
        long points[2] = {100, many};
        for (int p = 0; p < 2; p++) {
            run_threads(&ran, points[p]);
            double ms = full_pause_ms();
            if (p == 0)
                base = ms;
            printf("| %s | %ld | %.2f | %.1f | %.2fx |\n", rc_mode_name(modes[m]), ran, ms,
                   (double)rss_now() / 1e6, base > 0 ? ms / base : 0);
            fflush(stdout);
        }
        rc_decref(heap);
        rc_gc_collect(2);
        rc_decref((rc_object *)node);
        stop_runtime(rt);
    }
    printf("\n");
}

/* ---------------------------------------------------------------- main */

static long parse_positive(const char *flag, const char *v)
{
    char *end;
    long n = v != NULL ? strtol(v, &end, 10) : 0;
    if (v == NULL || *v == '\0' || *end != '\0' || n <= 0) {
        fprintf(stderr, "rcgc-gcbench: %s needs a positive integer, not '%s'\n", flag,
                v != NULL ? v : "");
        exit(2);
    }
    return n;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: rcgc-gcbench [--quick] [--trials N] [--only full,young,bytes,threads]\n"
               "                    [--modes gil,ft,ft-atomic]\n"
               "Measures the collector's cost and prints markdown tables.\n");
}

int main(int argc, char **argv)
{
    bool do_full = true, do_young = true, do_bytes = true, do_threads = true;
    rc_mode modes[3] = {RC_MODE_GIL, RC_MODE_FT};
    int nmodes = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
            trials = 3;
        } else if (strcmp(argv[i], "--trials") == 0) {
            trials = (int)parse_positive("--trials", i + 1 < argc ? argv[++i] : NULL);
        } else if (strcmp(argv[i], "--only") == 0 || strcmp(argv[i], "--modes") == 0) {
            bool only = argv[i][2] == 'o';
            const char *flag = argv[i];
            if (i + 1 >= argc) {
                fprintf(stderr, "rcgc-gcbench: %s needs a value\n", flag);
                return 2;
            }
            char *list = strdup(argv[++i]), *save = NULL;
            if (list == NULL)
                return 1;
            if (only)
                do_full = do_young = do_bytes = do_threads = false;
            else
                nmodes = 0;
            for (char *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                if (only && strcmp(w, "full") == 0)
                    do_full = true;
                else if (only && strcmp(w, "young") == 0)
                    do_young = true;
                else if (only && strcmp(w, "bytes") == 0)
                    do_bytes = true;
                else if (only && strcmp(w, "threads") == 0)
                    do_threads = true;
                else if (!only && nmodes < 3 && rc_mode_from_name(w, &modes[nmodes]) == 0)
                    nmodes++;
                else {
                    fprintf(stderr, "rcgc-gcbench: %s: unknown value '%s' (valid: %s)\n", flag,
                            w, only ? "full, young, bytes, threads" : "gil, ft, ft-atomic");
                    free(list);
                    return 2;
                }
            }
            free(list);
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "rcgc-gcbench: unknown flag '%s' (valid: --quick, --trials, "
                            "--only, --modes, --help)\n", argv[i]);
            return 2;
        }
    }
    char cpu[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof line, f) != NULL)
            if (strncmp(line, "model name", 10) == 0 && strchr(line, ':') != NULL) {
                snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
                cpu[strcspn(cpu, "\n")] = '\0';
                break;
            }
        fclose(f);
    }
    printf("machine: %s, %ld cores\n\n", cpu, sysconf(_SC_NPROCESSORS_ONLN));
    /* bytes first: it reads the resident set, which memory freed by the
     * other benchmarks would leave inflated (allocators keep it). */
    if (do_bytes)
        bench_bytes();
    if (do_full)
        bench_full(modes, nmodes);
    if (do_young)
        bench_young(modes, nmodes);
    if (do_threads)
        bench_threads(modes, nmodes);
    return 0;
}
