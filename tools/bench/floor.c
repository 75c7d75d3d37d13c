/* tools/bench/floor.c: the program around a malloc/free floor (floor.h):
 * flags, the measured run, the report on stdout and in JSON, the worker
 * threads, and the live heap that cycle-churn and latency-service keep.
 *
 * Everything but floor_run_workers' threads runs on the main thread.  The
 * live heap is built before the workers start and freed after they were
 * joined; in between it is only read (pthread_create and pthread_join
 * order the accesses).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "floor.h"
#include "sizes.h"

/* ----------------------------------------------------------------- flags */

struct floor_flag {
    const char *name;
    const char *arg;      /* NULL: takes no value */
    unsigned size;        /* the enum floor_size bit of a size flag, else 0 */
    const char *help;
};

static const struct floor_flag floor_flags[] = {
    {"--threads", "N", 0, "worker threads (default: the workload's, 1)"},
    {"--depth", "D", FLOOR_DEPTH, "tree depth"},
    {"--live", "N", FLOOR_LIVE, "live heap nodes"},
    {"--cycles", "N", FLOOR_CYCLES, "rings built and freed"},
    {"--requests", "N", FLOOR_REQUESTS, "requests"},
    {"--seed", "S", 0, "random seed, decimal or 0x hex (default: the workload's)"},
    {"--quick", NULL, 0, "small sizes (the workload's quick defaults)"},
    {"--json", "FILE", 0, "write the JSON report (the shape of rcgc run's, schema rcgc-floor/1)"},
    {"--help", NULL, 0, "show this help"},
};
#define FLOOR_NFLAGS (sizeof floor_flags / sizeof floor_flags[0])

/* The size flags of workloads other than this one's: `rcgc run` answers
 * them with "does not use", so the floors do too. */
static const char *const floor_other_sizes[] = {"--iterations", "--items"};

static const floor_spec *floor_cur;   /* main thread only: for messages */

static bool floor_has_flag(const floor_spec *s, const struct floor_flag *f)
{
    return f->size == 0 || (s->sizes & f->size) != 0;
}

/* "--threads, --depth, ..." for this floor. */
static const char *floor_valid_flags(const floor_spec *s, bool sizes_only)
{
    static char buf[256];
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < FLOOR_NFLAGS; i++) {
        const struct floor_flag *f = &floor_flags[i];
        if (!floor_has_flag(s, f) || (sizes_only && f->size == 0))
            continue;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", n > 0 ? ", " : "", f->name);
        if (n >= sizeof buf)
            break;
    }
    return buf;
}

/* A usage error: one line on stderr, exit 2. */
__attribute__((noreturn, format(printf, 1, 2))) static void floor_usage_error(const char *fmt,
                                                                               ...)
{
    va_list ap;
    fprintf(stderr, "rcgc-floor-%s: ", floor_cur->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void floor_help(const floor_spec *s)
{
    printf("usage: rcgc-floor-%s [--threads N]", s->name);
    for (size_t i = 0; i < FLOOR_NFLAGS; i++)
        if (floor_flags[i].size != 0 && floor_has_flag(s, &floor_flags[i]))
            printf(" [%s %s]", floor_flags[i].name, floor_flags[i].arg);
    printf(" [--seed S] [--quick] [--json FILE]\n");
    printf("The malloc/free floor of the rcgc workload %s: the same work, sizes,\n"
           "threads and verification as `rcgc run %s`, with every object freed\n"
           "explicitly and no rcgc runtime.\n\n",
           s->name, s->name);
    wl_params def, q;
    s->defaults(&def);
    s->quick(&q);
    for (size_t i = 0; i < FLOOR_NFLAGS; i++) {
        const struct floor_flag *f = &floor_flags[i];
        if (!floor_has_flag(s, f))
            continue;
        char left[32];
        snprintf(left, sizeof left, "%s%s%s", f->name, f->arg != NULL ? " " : "",
                 f->arg != NULL ? f->arg : "");
        long d = f->size == FLOOR_DEPTH ? def.depth : f->size == FLOOR_LIVE ? def.live
                 : f->size == FLOOR_CYCLES ? def.cycles : def.requests;
        long dq = f->size == FLOOR_DEPTH ? q.depth : f->size == FLOOR_LIVE ? q.live
                  : f->size == FLOOR_CYCLES ? q.cycles : q.requests;
        if (f->size != 0)
            printf("  %-16s %s (default %ld; --quick %ld)\n", left, f->help, d, dq);
        else
            printf("  %-16s %s\n", left, f->help);
    }
    printf("\nExit status: 0 verified; 1 verification failed or the JSON could not be\n"
           "written; 2 a usage error.\n");
}

static long floor_parse_long(const char *flag, const char *v, long min, long max)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (v[0] == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
        if (max == LONG_MAX)
            floor_usage_error("%s needs an integer >= %ld, not '%s'", flag, min, v);
        floor_usage_error("%s needs an integer in %ld..%ld, not '%s'", flag, min, max, v);
    }
    return n;
}

static uint64_t floor_parse_seed(const char *v)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 0);
    if (v[0] == '\0' || v[0] == '-' || v[0] == '+' || *end != '\0' || errno != 0)
        floor_usage_error("--seed needs an unsigned 64-bit integer (decimal or 0x hex), not '%s'",
                          v);
    return (uint64_t)n;
}

struct floor_opts {
    const char *json;
    bool quick;
    /* Flags given, applied after the defaults and --quick. */
    bool threads_set, seed_set;
    int threads;
    uint64_t seed;
    long depth, live, cycles, requests;   /* 0: not given */
};

static void floor_parse(const floor_spec *s, int argc, char **argv, struct floor_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            floor_usage_error("unexpected argument '%s' (valid flags: %s)", a,
                              floor_valid_flags(s, false));
        const char *eq = strchr(a, '=');
        size_t len = eq != NULL ? (size_t)(eq - a) : strlen(a);
        const struct floor_flag *f = NULL;
        for (size_t k = 0; k < FLOOR_NFLAGS && f == NULL; k++)
            if (strlen(floor_flags[k].name) == len && strncmp(floor_flags[k].name, a, len) == 0)
                f = &floor_flags[k];
        bool other_size = false;
        for (size_t k = 0; k < sizeof floor_other_sizes / sizeof floor_other_sizes[0]; k++)
            other_size |= strlen(floor_other_sizes[k]) == len &&
                          strncmp(floor_other_sizes[k], a, len) == 0;
        if ((f != NULL && !floor_has_flag(s, f)) || other_size)
            floor_usage_error("%s does not use %.*s (its size flags: %s)", s->name, (int)len, a,
                              floor_valid_flags(s, true));
        if (f == NULL)
            floor_usage_error("unknown flag '%.*s' (valid: %s)", (int)len, a,
                              floor_valid_flags(s, false));
        const char *v = NULL;
        if (f->arg != NULL) {
            if (eq != NULL)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else
                floor_usage_error("%s needs a value (%s %s)", f->name, f->name, f->arg);
        } else if (eq != NULL) {
            floor_usage_error("%s takes no value, not '%s'", f->name, eq + 1);
        }
        if (strcmp(f->name, "--help") == 0) {
            floor_help(s);
            exit(0);
        } else if (strcmp(f->name, "--quick") == 0) {
            o->quick = true;
        } else if (strcmp(f->name, "--json") == 0) {
            if (v[0] == '\0')
                floor_usage_error("--json needs a file name, not ''");
            o->json = v;
        } else if (strcmp(f->name, "--threads") == 0) {
            o->threads = (int)floor_parse_long(f->name, v, 1, WL_MAX_THREADS);
            o->threads_set = true;
        } else if (strcmp(f->name, "--seed") == 0) {
            o->seed = floor_parse_seed(v);
            o->seed_set = true;
        } else if (strcmp(f->name, "--depth") == 0) {
            o->depth = floor_parse_long(f->name, v, s->depth_min, s->depth_max);
        } else if (strcmp(f->name, "--live") == 0) {
            o->live = floor_parse_long(f->name, v, 1, WL_MAX_LIVE);
        } else if (strcmp(f->name, "--cycles") == 0) {
            o->cycles = floor_parse_long(f->name, v, 1, CC_MAX_CYCLES);
        } else if (strcmp(f->name, "--requests") == 0) {
            o->requests = floor_parse_long(f->name, v, 1, LS_MAX_REQUESTS);
        }
    }
}

/* ---------------------------------------------------------------- output */

/* ns as the rcgc table shows latencies: 850ns, 2.11us, 5.25ms, 1.20s. */
static const char *floor_fmt_ns(char *buf, size_t n, uint64_t ns)
{
    static const char *const unit[] = {"ns", "us", "ms", "s"};
    double v = (double)ns;
    int u = 0;
    while (u < 3 && v >= 999.5) {
        v /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%" PRIu64 "ns", ns);
    else
        snprintf(buf, n, "%.*f%s", v < 9.995 ? 2 : v < 99.95 ? 1 : 0, v, unit[u]);
    return buf;
}

static void floor_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

struct floor_result {
    double wall_s, cpu_s, ops_per_s, teardown_s;
    long peak_rss_kb;
    bool verified;
};

static int floor_write_json(const char *path, const floor_spec *s, const struct floor_opts *o,
                            const floor_ctx *ctx, const struct floor_result *r)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "rcgc-floor-%s: cannot write %s: %s\n", s->name, path, strerror(errno));
        return -1;
    }
    const wl_params *p = &ctx->params;
    fprintf(f, "{\"schema\": \"rcgc-floor/1\", \"generator\": \"rcgc-floor-%s\", ", s->name);
    fprintf(f, "\"command\": \"run\", \"host\": {\"cpus\": %ld},\n \"runs\": [{",
            sysconf(_SC_NPROCESSORS_ONLN));
    fprintf(f, "\"workload\": \"%s\", \"mode\": \"floor\", \"threads\": %d, \"quick\": %s,\n",
            s->name, p->threads, o->quick ? "true" : "false");
    fprintf(f,
            "  \"params\": {\"threads\": %d, \"seed\": \"%" PRIu64 "\", \"depth\": %ld, "
            "\"live\": %ld, \"cycles\": %ld, \"requests\": %ld, \"iterations\": 0, \"items\": 0},\n",
            p->threads, p->seed, p->depth, p->live, p->cycles, p->requests);
    fprintf(f, "  \"error\": null, \"wall_s\": %.17g, \"teardown_s\": %.17g, \"cpu_s\": %.17g, "
               "\"peak_rss_kb\": %ld, ", r->wall_s, r->teardown_s, r->cpu_s, r->peak_rss_kb);
    fprintf(f, "\"ops\": %" PRIu64 ", \"ops_per_s\": %.17g,\n", ctx->ops, r->ops_per_s);
    fprintf(f, "  \"verify\": {\"ok\": %s, \"summary\": ", r->verified ? "true" : "false");
    floor_json_string(f, ctx->summary);
    fprintf(f, "}, \"leaked\": %ld,\n", ctx->leaked);
    const lat_hist *h = ctx->ops_hist;
    uint64_t count = h != NULL ? lat_hist_count(h) : 0;
    if (count == 0) {
        fprintf(f, "  \"percentiles\": {\"ops\": {\"count\": 0, \"min\": 0, \"mean\": 0, "
                   "\"p50\": 0, \"p90\": 0, \"p99\": 0, \"p99.9\": 0, \"max\": 0}}");
    } else {
        fprintf(f,
                "  \"percentiles\": {\"ops\": {\"count\": %" PRIu64 ", \"min\": %" PRIu64
                ", \"mean\": %.17g, \"p50\": %" PRIu64 ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64
                ", \"p99.9\": %" PRIu64 ", \"max\": %" PRIu64 "}}",
                count, lat_hist_min(h), lat_hist_mean(h), lat_hist_percentile(h, 50),
                lat_hist_percentile(h, 90), lat_hist_percentile(h, 99),
                lat_hist_percentile(h, 99.9), lat_hist_max(h));
    }
    fprintf(f, "}]}\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "rcgc-floor-%s: error writing %s\n", s->name, path);
        return -1;
    }
    return 0;
}

static void floor_print(FILE *f, const floor_spec *s, const floor_ctx *ctx,
                        const struct floor_result *r)
{
    const wl_params *p = &ctx->params;
    fprintf(f, "rcgc-floor-%s: the malloc/free floor of %s; threads %d", s->name, s->name,
            p->threads);
    if (s->sizes & FLOOR_DEPTH)
        fprintf(f, ", depth %ld", p->depth);
    if (s->sizes & FLOOR_LIVE)
        fprintf(f, ", live %ld", p->live);
    if (s->sizes & FLOOR_CYCLES)
        fprintf(f, ", cycles %ld", p->cycles);
    if (s->sizes & FLOOR_REQUESTS)
        fprintf(f, ", requests %ld", p->requests);
    fprintf(f, ", seed %" PRIu64 "\n", p->seed);
    fprintf(f, "ops %" PRIu64 "  wall %.3f s  ops/s %.0f  cpu %.3f s  teardown %.3f s  "
               "peak RSS %.1f MB\n", ctx->ops, r->wall_s, r->ops_per_s, r->cpu_s, r->teardown_s,
            (double)r->peak_rss_kb / 1024.0);
    const lat_hist *h = ctx->ops_hist;
    if (h != NULL && lat_hist_count(h) > 0) {
        char b[5][24];
        fprintf(f, "op latency: count %" PRIu64 "  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
                lat_hist_count(h), floor_fmt_ns(b[0], sizeof b[0], lat_hist_percentile(h, 50)),
                floor_fmt_ns(b[1], sizeof b[1], lat_hist_percentile(h, 90)),
                floor_fmt_ns(b[2], sizeof b[2], lat_hist_percentile(h, 99)),
                floor_fmt_ns(b[3], sizeof b[3], lat_hist_percentile(h, 99.9)),
                floor_fmt_ns(b[4], sizeof b[4], lat_hist_max(h)));
    }
    fprintf(f, "%s: %s\n", r->verified ? "verified" : "verification FAILED", ctx->summary);
}

static double floor_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

void floor_work_done(floor_ctx *ctx)
{
    if (ctx->work_end_ns == 0) {
        ctx->work_end_cpu = floor_cpu_s();
        ctx->work_end_ns = floor_clock_ns();
    }
}

int floor_main(const floor_spec *spec, int argc, char **argv)
{
    floor_cur = spec;
    struct floor_opts o = {0};
    floor_parse(spec, argc, argv, &o);

    floor_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    if (o.quick)
        spec->quick(&ctx.params);
    else
        spec->defaults(&ctx.params);
    wl_params *p = &ctx.params;
    if (o.threads_set)
        p->threads = o.threads;
    if (o.seed_set)
        p->seed = o.seed;
    if (o.depth > 0)
        p->depth = o.depth;
    if (o.live > 0)
        p->live = o.live;
    if (o.cycles > 0)
        p->cycles = o.cycles;
    if (o.requests > 0)
        p->requests = o.requests;

    struct floor_result r = {0};
    double c0 = floor_cpu_s();
    uint64_t w0 = floor_clock_ns();
    int rc = spec->run(&ctx);
    uint64_t w1 = floor_clock_ns();
    double c1 = floor_cpu_s();
    if (ctx.work_end_ns != 0) {   /* as rcgc run: the teardown timed on its own */
        r.teardown_s = (double)(w1 - ctx.work_end_ns) * 1e-9;
        w1 = ctx.work_end_ns;
        c1 = ctx.work_end_cpu;
    }
    r.cpu_s = c1 - c0;
    r.wall_s = (double)(w1 - w0) * 1e-9;
    r.ops_per_s = r.wall_s > 0 ? (double)ctx.ops / r.wall_s : 0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r.peak_rss_kb = ru.ru_maxrss;
    r.verified = rc == 0 && ctx.leaked == 0;
    if (rc == 0 && ctx.leaked != 0)
        snprintf(ctx.summary, sizeof ctx.summary, "%s: %ld objects allocated but not freed",
                 spec->name, ctx.leaked);

    floor_print(stdout, spec, &ctx, &r);
    fflush(stdout);
    int status = r.verified ? 0 : 1;
    if (!r.verified)
        fprintf(stderr, "rcgc-floor-%s: verification failed: %s\n", spec->name, ctx.summary);
    if (o.json != NULL && floor_write_json(o.json, spec, &o, &ctx, &r) < 0)
        status = 1;
    lat_hist_free(ctx.ops_hist);
    return status;
}

void floor_oom(size_t bytes)
{
    /* write(2), not stdio: any thread may get here while others run. */
    char msg[128];
    int n = snprintf(msg, sizeof msg, "rcgc-floor-%s: out of memory (malloc of %zu bytes)\n",
                     floor_cur != NULL ? floor_cur->name : "?", bytes);
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
        n = 0;
    _exit(1);
}

/* --------------------------------------------------------------- workers */

struct floor_start {
    void (*fn)(void *);
    void *arg;
};

static void *floor_thread_main(void *p)
{
    struct floor_start *s = p;
    s->fn(s->arg);
    return NULL;
}

int floor_run_workers(int n, void (*fn)(void *), void *args, size_t size, struct wl_error *err)
{
    if (n < 1 || n > WL_MAX_THREADS) {
        wl_error_set(err, "%d worker threads (valid: 1..%d)", n, WL_MAX_THREADS);
        return -1;
    }
    pthread_t *t = calloc((size_t)n, sizeof *t);
    struct floor_start *st = calloc((size_t)n, sizeof *st);
    if (t == NULL || st == NULL) {
        free(t);
        free(st);
        wl_error_set(err, "out of memory for %d thread handles", n);
        return -1;
    }
    int started = 0, rc = 0;
    for (; started < n; started++) {
        st[started] = (struct floor_start){fn, (char *)args + (size_t)started * size};
        int e = pthread_create(&t[started], NULL, floor_thread_main, &st[started]);
        if (e != 0) {
            wl_error_set(err, "pthread_create failed: %s", strerror(e));
            rc = -1;
            break;
        }
    }
    for (int i = 0; i < started; i++) {
        int e = pthread_join(t[i], NULL);
        if (e != 0) {
            wl_error_set(err, "pthread_join failed: %s", strerror(e));
            rc = -1;
        }
    }
    free(t);
    free(st);
    return rc;
}

/* ------------------------------------------------------------- live heap */

void floor_heap_build(struct floor_heap *h, long live, uint64_t *checksum, long *objects)
{
    struct floor_node *ring[WL_RING];
    uint64_t sum = 0;
    h->live = live;
    h->nrings = (live + WL_RING - 1) / WL_RING;
    h->heads = floor_malloc((size_t)h->nrings * sizeof *h->heads);
    *objects = 1;
    for (long first = 0, r = 0; first < live; first += WL_RING, r++) {
        long len = live - first < WL_RING ? live - first : WL_RING;
        for (long n = 0; n < len; n++) {
            ring[n] = floor_malloc(sizeof *ring[n]);
            ring[n]->next = NULL;
            ring[n]->value = floor_box(1000 + first + n);
            sum += wl_heap_term(first + n);
        }
        for (long k = 0; k < len; k++)
            ring[k]->next = ring[(k + 1) % len];
        h->heads[r] = ring[0];
        *objects += 2 * len;
    }
    *checksum = sum;
}

uint64_t floor_heap_check(const struct floor_heap *h, const char **bad)
{
    uint64_t sum = 0;
    *bad = NULL;
    for (long r = 0; r < h->nrings && *bad == NULL; r++) {
        long first = r * WL_RING;
        long len = h->live - first < WL_RING ? h->live - first : WL_RING;
        const struct floor_node *head = h->heads[r], *cur = head;
        for (long p = 0; p < len; p++) {
            if (cur == NULL) {
                *bad = "a heap ring ends before its length";
                break;
            }
            if (cur->value == NULL || *cur->value != 1000 + first + p) {
                *bad = "a heap node holds the wrong value";
                break;
            }
            sum += wl_heap_term(first + p);
            cur = cur->next;
        }
        if (*bad == NULL && cur != head)
            *bad = "a heap ring does not close after its length";
    }
    return sum;
}

long floor_heap_free(struct floor_heap *h)
{
    long freed = 0;
    for (long r = 0; r < h->nrings; r++) {
        long len = h->live - r * WL_RING < WL_RING ? h->live - r * WL_RING : WL_RING;
        struct floor_node *cur = h->heads[r];
        /* Break the ring by counting: exactly len nodes, then stop. */
        for (long p = 0; p < len && cur != NULL; p++) {
            struct floor_node *next = cur->next;
            free(cur->value);
            free(cur);
            freed += 2;
            cur = next;
        }
    }
    free(h->heads);
    h->heads = NULL;
    return freed + 1;
}
