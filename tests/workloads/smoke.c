/* tests/workloads/smoke.c: run one workload at its quick() sizes in one
 * mode and check that it verified its result and left nothing behind.
 *   workload_smoke --mode gil|ft|ft-atomic --workload NAME
 * Threaded code runs: every workload gets 2 threads.  A workload with a
 * read mode (shared-refs' --read) runs once per read mode.  Exit 0 on
 * success, 1 on failure, 2 on a bad command line. */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "workload.h"

struct driver {
    atomic_long ops_recorded;
    _Atomic int bad_fraction;
    _Atomic int bad_thread;
    int threads;
};

static void record_op(wl_context *ctx, int thread, uint64_t ns)
{
    struct driver *d = ctx->driver;
    atomic_fetch_add(&d->ops_recorded, 1);
    if (thread < 0 || thread >= d->threads)
        atomic_store(&d->bad_thread, 1);
    (void)ns;
}

static void progress(wl_context *ctx, double fraction)
{
    struct driver *d = ctx->driver;
    if (!(fraction >= 0.0 && fraction <= 1.0))
        atomic_store(&d->bad_fraction, 1);
}

/* read: the read mode to run with, WL_READ_UNUSED for the default. */
static int run(rc_mode mode, const rc_workload *wl, int read)
{
    wl_params p;
    wl->defaults(&p);
    wl->quick(&p);
    p.threads = 2;
    if (read != WL_READ_UNUSED)
        p.read = read;
    struct driver d = {.threads = p.threads};
    wl_context ctx = {.params = &p, .record_op = record_op, .progress = progress, .driver = &d};

    rc_config cfg = rc_config_default();
    cfg.mode = mode;
    cfg.collector = harness_collector;
    rc_runtime *rt = rc_runtime_new(&cfg);
    if (rt == NULL) {
        fprintf(stderr, "rc_runtime_new: %s\n", rc_error_message());
        return 0;
    }
    uint64_t t0 = rc_clock_ns();
    int rc = wl->run(&ctx);
    double secs = (double)(rc_clock_ns() - t0) * 1e-9;
    printf("%s [%s%s%s]: %s\n", wl->name, rc_mode_name(mode), p.read ? ", read " : "",
           p.read ? wl_read_name(p.read) : "", ctx.summary);
    printf("%s [%s]: %.3f s, %llu ops, %ld latencies recorded\n", wl->name, rc_mode_name(mode),
           secs, (unsigned long long)ctx.ops, (long)atomic_load(&d.ops_recorded));
    long leaked = rc_runtime_free(rt);
    int ok = 1;
    if (rc != 0) {
        fprintf(stderr, "FAIL: run() returned %d\n", rc);
        ok = 0;
    }
    if (leaked != 0) {
        fprintf(stderr, "FAIL: rc_runtime_free returned %ld (%s)\n", leaked,
                leaked < 0 ? rc_error_message() : "objects leaked");
        ok = 0;
    }
    if (ctx.ops == 0 || ctx.summary[0] == '\0') {
        fprintf(stderr, "FAIL: no ops or no summary reported\n");
        ok = 0;
    }
    if (atomic_load(&d.bad_fraction) || atomic_load(&d.bad_thread)) {
        fprintf(stderr, "FAIL: progress outside [0, 1] or record_op thread out of range\n");
        ok = 0;
    }
    return ok;
}

/* Size checks: zero threads, a size below 1, a bad read mode or a size over
 * its bound (rc_workload.bounds) must fail with a message (no runtime
 * objects are made). */
static int run_invalid(rc_mode mode, const rc_workload *wl)
{
    rc_config cfg = rc_config_default();
    cfg.mode = mode;
    cfg.collector = harness_collector;
    rc_runtime *rt = rc_runtime_new(&cfg);
    if (rt == NULL)
        return 0;
    int ok = 1;
    static const char *const what[4] = {"threads 0", "size -1", "an unknown read mode",
                                        "a size over its bound"};
    for (int which = 0; which < 4; which++) {
        wl_params p;
        wl->defaults(&p);
        wl->quick(&p);
        const wl_bound *over = wl->bounds;
        while (over != NULL && over->flag != NULL && over->max == LONG_MAX)
            over++;
        if (which == 2 && p.read == WL_READ_UNUSED)
            continue;   /* no read mode to get wrong */
        if (which == 3 && (over == NULL || over->flag == NULL))
            continue;   /* every size may go up to LONG_MAX */
        if (which == 0)
            p.threads = 0;
        else if (which == 1)
            p.depth = p.live = p.cycles = p.requests = p.iterations = p.items = -1;
        else if (which == 2)
            p.read = 99;
        else
            *(long *)(void *)((char *)&p + over->offset) = over->max + 1;
        wl_context ctx = {.params = &p};
        if (wl->run(&ctx) != -1 || ctx.summary[0] == '\0') {
            fprintf(stderr, "FAIL: run() accepted %s\n", what[which]);
            ok = 0;
        } else {
            printf("%s [%s]: rejected as it should: %s\n", wl->name, rc_mode_name(mode),
                   ctx.summary);
        }
    }
    if (rc_runtime_free(rt) != 0)
        ok = 0;
    return ok;
}

/* The workload's own sizes: every size flag it lists has a bound, and its
 * defaults and quick sizes are within them. */
static int check_bounds(const rc_workload *wl)
{
    int ok = 1;
    char msg[256];
    for (const char *f = wl->size_flags; f != NULL && *f != '\0';) {
        size_t len = strcspn(f, " ,");
        const wl_bound *b = wl->bounds;
        while (b != NULL && b->flag != NULL &&
               (strlen(b->flag) != len || strncmp(b->flag, f, len) != 0))
            b++;
        if (b == NULL || b->flag == NULL) {
            fprintf(stderr, "FAIL: %s: %.*s has no bound\n", wl->name, (int)len, f);
            ok = 0;
        }
        f += len + strspn(f + len, " ,");
    }
    for (int quick = 0; quick < 2; quick++) {
        wl_params p;
        wl->defaults(&p);
        if (quick)
            wl->quick(&p);
        if (wl_check_sizes(wl, &p, msg, sizeof msg) != 0) {
            fprintf(stderr, "FAIL: %s's %s sizes are out of its bounds: %s\n", wl->name,
                    quick ? "quick" : "default", msg);
            ok = 0;
        }
    }
    return ok;
}

int main(int argc, char **argv)
{
    rc_mode mode = harness_parse_mode(argc, argv);
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--workload") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (strcmp(argv[i], "--mode") == 0 || strcmp(argv[i], "--collector") == 0)
            i++;
        else {
            fprintf(stderr, "usage: %s --mode gil|ft|ft-atomic [--collector stw|concurrent] --workload NAME\n", argv[0]);
            return 2;
        }
    }
    const rc_workload *wl = wl_find(name);
    if (wl == NULL) {
        fprintf(stderr, "%s: --workload: unknown workload '%s'; valid:", argv[0],
                name != NULL ? name : "");
        for (size_t i = 0; rc_workloads[i] != NULL; i++)
            fprintf(stderr, " %s", rc_workloads[i]->name);
        fputc('\n', stderr);
        return 2;
    }
    wl_params defaults;
    wl->defaults(&defaults);
    int ok = 1;
    if (defaults.read == WL_READ_UNUSED) {
        ok = run(mode, wl, WL_READ_UNUSED);
    } else {
        for (int read = WL_READ_BORROW; read <= WL_READ_REF; read++)
            ok = run(mode, wl, read) && ok;
    }
    ok = ok && run_invalid(mode, wl);
    ok = check_bounds(wl) && ok;
    printf("%d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
    return ok ? 0 : 1;
}
