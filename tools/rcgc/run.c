/* tools/rcgc/run.c: one measured run of a workload.
 *
 * The run creates a runtime in the requested mode, starts the stall sensor,
 * calls the workload's run() on this (the creating) thread, stops the
 * sensor, copies the collector's and stop-the-world records, reads the GIL
 * totals, and frees the runtime (its return value is the leak count).
 *
 * The sensor is jHiccup's method: a mutator thread like any other that
 * detaches, sleeps 1 ms, attaches again and records how late it woke.
 * Attaching blocks while the world is stopped (ft modes) or while another
 * thread holds the GIL (gil mode), so the sensor feels the stalls the
 * application feels.  Its histogram is written by the sensor thread only
 * and read by the main thread after rc_thread_join.  It asks for a short
 * CPU slice (CLI_SENSOR_SLICE_NS) so that, on a machine whose CPUs the
 * workers keep busy, it is not measuring its own wait for a CPU.
 *
 * Operation latency: one histogram per worker index, each written only by
 * the worker of that index (the workload contract gives each index to one
 * thread); an index out of range goes to an overflow histogram under a
 * mutex.  All are merged after run() returns, when the workers are joined.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char *const cli_lat_keys[CLI_LAT_COUNT] = {"sensor", "ops", "gc_pause"};

struct cli_size cli_sizes[CLI_MAX_SIZES] = {
    {"depth", "--depth", offsetof(wl_params, depth), -1},
    {"live", "--live", offsetof(wl_params, live), -1},
    {"cycles", "--cycles", offsetof(wl_params, cycles), -1},
    {"requests", "--requests", offsetof(wl_params, requests), -1},
    {"iterations", "--iterations", offsetof(wl_params, iterations), -1},
    {"items", "--items", offsetof(wl_params, items), -1},
};
int cli_nsizes = CLI_NBUILTIN_SIZES;
_Static_assert(CLI_NBUILTIN_SIZES == 6, "cli_sizes' first six are wl_params.builtin_used's bits");

void cli_sizes_sync(void)
{
    /* Slots are taken in order and never given back, so the new ones
     * follow those already in the table. */
    static char flags[WL_MAX_EXT][32];
    for (int k = cli_nsizes - CLI_NBUILTIN_SIZES; k < WL_MAX_EXT && wl_ext_name(k) != NULL; k++) {
        snprintf(flags[k], sizeof flags[k], "--%s", wl_ext_name(k));
        cli_sizes[cli_nsizes++] = (struct cli_size){
            wl_ext_name(k), flags[k], offsetof(wl_params, ext) + (size_t)k * sizeof(long), k};
    }
}

long *cli_size_field(wl_params *p, int i)
{
    return (long *)(void *)((char *)p + cli_sizes[i].offset);
}

long cli_size_get(const wl_params *p, int i)
{
    return *(const long *)(const void *)((const char *)p + cli_sizes[i].offset);
}

bool cli_size_used(const wl_params *p, int i)
{
    int k = cli_sizes[i].ext;
    if (k >= 0)
        return (p->ext_used >> k & 1u) != 0;
    return cli_size_get(p, i) != 0 || (p->builtin_used >> i & 1u) != 0;
}

void cli_size_set(wl_params *p, int i, long v)
{
    *cli_size_field(p, i) = v;
    if (cli_sizes[i].ext >= 0)
        p->ext_used |= 1u << cli_sizes[i].ext;
}

/* ------------------------------------------------------------ histograms */

lat_hist *cli_hist_new(void)
{
    lat_hist *h = lat_hist_new();
    if (h == NULL) {
        fprintf(stderr, "rcgc: out of memory for a histogram\n");
        exit(1);
    }
    return h;
}

static void pcts_of(const lat_hist *h, struct cli_pcts *p)
{
    memset(p, 0, sizeof *p);
    if (h == NULL || lat_hist_count(h) == 0)
        return;
    p->count = lat_hist_count(h);
    p->min = lat_hist_min(h);
    p->p50 = lat_hist_percentile(h, 50.0);
    p->p90 = lat_hist_percentile(h, 90.0);
    p->p99 = lat_hist_percentile(h, 99.0);
    p->p999 = lat_hist_percentile(h, 99.9);
    p->max = lat_hist_max(h);
    p->mean = lat_hist_mean(h);
}

void cli_run_percentiles(struct cli_run *r)
{
    for (int i = 0; i < CLI_LAT_COUNT; i++)
        pcts_of(r->hist[i], &r->pct[i]);
}

void cli_run_fini(struct cli_run *r)
{
    for (int i = 0; i < CLI_LAT_COUNT; i++) {
        lat_hist_free(r->hist[i]);
        r->hist[i] = NULL;
    }
    free(r->gc);
    free(r->stw);
    r->gc = NULL;
    r->stw = NULL;
    r->ngc = r->nstw = 0;
}

/* ------------------------------------------------- the driver's callbacks */

struct driver {
    lat_hist **op_hists;   /* [nop]: index i written by worker i only */
    int nop;
    pthread_mutex_t overflow_mu;
    lat_hist *overflow;    /* under overflow_mu */
    bool show_progress;
    atomic_int last_permille;   /* -1 before the first draw */
    const char *label;
    /* When run() said its measured work was over (drv_work_done): 0 and
     * unused until then.  Written by the workload's main thread, the one
     * that called run(), and read by it after run() returns. */
    uint64_t work_end_ns;
    double work_end_cpu;
};

static void drv_record_op(wl_context *ctx, int thread, uint64_t latency_ns)
{
    struct driver *d = ctx->driver;
    if (thread >= 0 && thread < d->nop) {
        lat_hist_record(d->op_hists[thread], latency_ns);
        return;
    }
    pthread_mutex_lock(&d->overflow_mu);
    lat_hist_record(d->overflow, latency_ns);
    pthread_mutex_unlock(&d->overflow_mu);
}

static double cpu_now(void);

static void drv_work_done(wl_context *ctx)
{
    struct driver *d = ctx->driver;
    if (d->work_end_ns == 0) {   /* the first call ends the measured part */
        d->work_end_cpu = cpu_now();
        d->work_end_ns = rc_clock_ns();
    }
}

static void drv_progress(wl_context *ctx, double fraction)
{
    struct driver *d = ctx->driver;
    if (!d->show_progress)
        return;
    if (!(fraction >= 0.0))
        fraction = 0.0;
    if (fraction > 1.0)
        fraction = 1.0;
    int pm = (int)(fraction * 1000.0);
    int last = atomic_load_explicit(&d->last_permille, memory_order_relaxed);
    /* One thread draws each new value; others racing with it skip.
     * relaxed: this only decides who prints, it orders no data. */
    while (pm > last) {
        if (atomic_compare_exchange_weak_explicit(&d->last_permille, &last, pm,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            fprintf(stderr, "\r%s %5.1f%%", d->label, pm / 10.0);
            fflush(stderr);
            break;
        }
    }
}

static uint64_t since(uint64_t t, uint64_t t0)
{
    return t > t0 ? t - t0 : 0;
}

/* ------------------------------------------------------------ the sensor */

struct sensor {
    lat_hist *hist;          /* sensor thread only until joined */
    uint64_t slice_ns;       /* written by the sensor, read after join */
    uint64_t origin;         /* the run's origin: set before the sensor starts */
    uint64_t max_ns;         /* the longest stall, and when it began (since */
    uint64_t max_at_ns;      /* origin): written by the sensor, read after join */
    atomic_bool stop;        /* set by the main thread (release) */
    rc_gil_stats gil;        /* the sensor's own, written before it ends */
    char error[200];         /* written by the sensor, read after join */
};

static void sensor_main(void *arg)
{
    struct sensor *s = arg;
    int64_t slice = rc_thread_cpu_slice(CLI_SENSOR_SLICE_NS);
    s->slice_ns = slice > 0 ? (uint64_t)slice : 0;
    /* acquire: pairs with the release store in cli_run_one. */
    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        if (rc_detach() < 0) {
            snprintf(s->error, sizeof s->error, "sensor: rc_detach: %s", rc_error_message());
            return;
        }
        uint64_t intended = rc_clock_ns() + CLI_SENSOR_INTERVAL_NS;
        struct timespec ts = {.tv_sec = (time_t)(intended / 1000000000u),
                              .tv_nsec = (long)(intended % 1000000000u)};
        /* rc_clock_ns is CLOCK_MONOTONIC, so an absolute sleep on it. */
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        if (rc_attach() < 0) {
            snprintf(s->error, sizeof s->error, "sensor: rc_attach: %s", rc_error_message());
            return;
        }
        uint64_t now = rc_clock_ns();
        uint64_t stall = now > intended ? now - intended : 0;
        lat_hist_record(s->hist, stall);
        if (stall > s->max_ns) {
            s->max_ns = stall;
            s->max_at_ns = since(intended, s->origin);
        }
    }
    rc_gil_stats_get(&s->gil);
}

/* ------------------------------------------------------------- one run */

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}


/* Copy the collector's and the stops' records, times made relative to t0.
 * The runtime keeps the last RC_RECORDS_KEPT of each; a run with more says
 * so on stderr (its tables and reports cover the records kept). */
static void copy_records(struct cli_run *out, uint64_t t0)
{
    size_t lost_gc = rc_gc_records_oldest(), lost_stw = rc_stw_records_oldest();
    if (lost_gc > 0 || lost_stw > 0)
        fprintf(stderr, "rcgc: the runtime keeps the last %zu records: the first %zu "
                        "collections and %zu stops of this run are not in its report\n",
                RC_RECORDS_KEPT, lost_gc, lost_stw);
    size_t n = rc_gc_record_count() - lost_gc;
    if (n > 0) {
        out->gc = calloc(n, sizeof *out->gc);
        if (out->gc != NULL)
            out->ngc = rc_gc_records(lost_gc, out->gc, n);
    }
    for (size_t i = 0; i < out->ngc; i++) {
        out->gc[i].start_ns = since(out->gc[i].start_ns, t0);
        out->gc[i].end_ns = since(out->gc[i].end_ns, t0);
        if (out->gc[i].cycle_start_ns != 0)   /* 0: no cycle; later than t0 */
            out->gc[i].cycle_start_ns = since(out->gc[i].cycle_start_ns, t0);
    }
    n = rc_stw_count() - lost_stw;
    if (n > 0) {
        out->stw = calloc(n, sizeof *out->stw);
        if (out->stw != NULL)
            out->nstw = rc_stw_records(lost_stw, out->stw, n);
    }
    for (size_t i = 0; i < out->nstw; i++)
        out->stw[i].request_ns = since(out->stw[i].request_ns, t0);
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* rc_gc_set_threshold takes the three thresholds one by one. */
_Static_assert(RC_GC_GENERATIONS == 3, "rc_gc_set_threshold sets three thresholds");

/* Set the thresholds --gc-threshold gave (the others keep the runtime's
 * defaults) and record those in force.  0, or -1 with out->error. */
static int apply_gc_threshold(const struct cli_run_opts *o, struct cli_run *out)
{
    long t[RC_GC_GENERATIONS];
    if (rc_gc_get_threshold(t) < 0) {
        snprintf(out->error, sizeof out->error, "rc_gc_get_threshold: %s", rc_error_message());
        return -1;
    }
    for (int g = 0; g < o->ngc_threshold && g < RC_GC_GENERATIONS; g++)
        t[g] = o->gc_threshold[g];
    if (o->ngc_threshold > 0 && rc_gc_set_threshold(t[0], t[1], t[2]) < 0) {
        snprintf(out->error, sizeof out->error, "rc_gc_set_threshold: %s", rc_error_message());
        return -1;
    }
    if (rc_gc_get_threshold(out->gc_threshold) < 0) {
        snprintf(out->error, sizeof out->error, "rc_gc_get_threshold: %s", rc_error_message());
        return -1;
    }
    out->gc_threshold_known = true;
    return 0;
}

/* Set GC stress and the heap verifier when --gc-stress / --gc-verify were
 * given (only then: the flags win over RCGC_GC_STRESS / RCGC_GC_VERIFY,
 * which the runtime reads when it is created), and record those in force,
 * read back from the runtime.  0, or -1 with out->error. */
static int apply_gc_stress(const struct cli_run_opts *o, struct cli_run *out)
{
    if (o->gc_stress > 0 && rc_gc_set_stress(o->gc_stress) < 0) {
        snprintf(out->error, sizeof out->error, "rc_gc_set_stress: %s", rc_error_message());
        return -1;
    }
    if (o->gc_verify && rc_gc_set_verify(1) < 0) {
        snprintf(out->error, sizeof out->error, "rc_gc_set_verify: %s", rc_error_message());
        return -1;
    }
    long stress = rc_gc_get_stress();
    int verify = rc_gc_get_verify();
    if (stress < 0 || verify < 0) {
        snprintf(out->error, sizeof out->error, "rc_gc_get_stress/verify: %s", rc_error_message());
        return -1;
    }
    out->gc_stress = stress;
    out->gc_verify = verify != RC_GC_VERIFY_OFF;
    out->gc_verify_amortized = verify == RC_GC_VERIFY_AMORTIZED;
    return 0;
}

int cli_run_one(const struct cli_run_opts *o, struct cli_run *out)
{
    const rc_workload *w = o->workload;
    snprintf(out->workload, sizeof out->workload, "%s", w->name);
    snprintf(out->mode, sizeof out->mode, "%s", rc_mode_name(o->mode));
    snprintf(out->collector, sizeof out->collector, "%s", rc_collector_name(o->collector));
    out->params = o->params;
    out->quick = o->quick;
    out->sensor_interval_ns = CLI_SENSOR_INTERVAL_NS;

    if (o->trace && setenv("RCGC_TRACE", "1", 1) != 0) {
        snprintf(out->error, sizeof out->error, "setenv RCGC_TRACE: %s", strerror(errno));
        return -1;
    }
    rc_config cfg = rc_config_default();
    cfg.mode = o->mode;
    cfg.collector = o->collector;
    out->switch_interval_us = cfg.switch_interval_us;

    int nop = o->params.threads > 0 ? o->params.threads : 1;
    struct driver drv = {.nop = nop, .show_progress = o->progress};
    atomic_init(&drv.last_permille, -1);
    char label[128];
    snprintf(label, sizeof label, "rcgc: %s %s %s x%d", w->name, out->mode, out->collector,
             o->params.threads);
    drv.label = label;
    drv.op_hists = calloc((size_t)nop, sizeof *drv.op_hists);
    if (drv.op_hists == NULL) {
        snprintf(out->error, sizeof out->error, "out of memory");
        return -1;
    }
    for (int i = 0; i < nop; i++)
        drv.op_hists[i] = cli_hist_new();
    drv.overflow = cli_hist_new();
    pthread_mutex_init(&drv.overflow_mu, NULL);

    struct sensor sensor = {.hist = cli_hist_new()};
    atomic_init(&sensor.stop, false);

    int result = -1;
    uint64_t t0 = rc_clock_ns();
    sensor.origin = t0;
    rc_runtime *rt = rc_runtime_new(&cfg);
    if (rt == NULL) {
        snprintf(out->error, sizeof out->error, "rc_runtime_new: %s", rc_error_message());
        goto done;
    }
    if (apply_gc_threshold(o, out) < 0 || apply_gc_stress(o, out) < 0) {
        long leaked = rc_runtime_free(rt);
        (void)leaked;
        goto done;
    }
    rc_thread *sensor_thread = rc_thread_start(sensor_main, &sensor);
    if (sensor_thread == NULL) {
        snprintf(out->error, sizeof out->error, "starting the sensor: %s", rc_error_message());
        long leaked = rc_runtime_free(rt);
        (void)leaked;
        goto done;
    }

    wl_context ctx = {
        .params = &o->params,
        .record_op = drv_record_op,
        .progress = drv_progress,
        .work_done = drv_work_done,
        .driver = &drv,
    };
    double cpu0 = cpu_now();
    uint64_t w0 = rc_clock_ns();
    int rc = wl_run(w, &ctx);
    uint64_t w1 = rc_clock_ns();
    double cpu1 = cpu_now();

    /* release: pairs with the acquire load in sensor_main. */
    atomic_store_explicit(&sensor.stop, true, memory_order_release);
    if (rc_thread_join(sensor_thread) < 0)
        snprintf(out->error, sizeof out->error, "joining the sensor: %s", rc_error_message());
    if (drv.show_progress && atomic_load(&drv.last_permille) >= 0)
        fprintf(stderr, "\r\033[K");

    copy_records(out, t0);
    rc_gil_stats total = {0};
    rc_gil_stats_total(&total);
    out->sensor_gil = sensor.gil;
    out->sensor_slice_ns = sensor.slice_ns;
    out->sensor_max_at_ns = sensor.max_at_ns;
    out->gil = (rc_gil_stats){
        .acquisitions = sub_sat(total.acquisitions, sensor.gil.acquisitions),
        .waits = sub_sat(total.waits, sensor.gil.waits),
        .wait_ns = sub_sat(total.wait_ns, sensor.gil.wait_ns),
        .drop_requests = sub_sat(total.drop_requests, sensor.gil.drop_requests),
    };

    out->leaked = rc_runtime_free(rt);
    if (out->leaked < 0 && out->error[0] == '\0')
        snprintf(out->error, sizeof out->error, "rc_runtime_free: %s", rc_error_message());
    if (sensor.error[0] != '\0' && out->error[0] == '\0')
        snprintf(out->error, sizeof out->error, "%s", sensor.error);

    out->verified = rc == 0;
    snprintf(out->summary, sizeof out->summary, "%s",
             ctx.summary[0] != '\0' ? ctx.summary : (rc == 0 ? "ok" : "failed"));
    /* The measured part: up to work_done if run() called it (its teardown
     * on its own), else the whole call. */
    uint64_t wend = drv.work_end_ns != 0 ? drv.work_end_ns : w1;
    out->wall_s = (double)(wend - w0) * 1e-9;
    out->cpu_s = (drv.work_end_ns != 0 ? drv.work_end_cpu : cpu1) - cpu0;
    out->teardown_s = (double)(w1 - wend) * 1e-9;
    out->ops = ctx.ops;
    out->ops_per_s = out->wall_s > 0 ? (double)ctx.ops / out->wall_s : 0.0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out->peak_rss_kb = ru.ru_maxrss;

    /* Histograms: the sensor's, the merged op latencies, the GC pauses. */
    out->hist[CLI_LAT_SENSOR] = sensor.hist;
    sensor.hist = NULL;
    lat_hist *ops = cli_hist_new();
    for (int i = 0; i < nop; i++)
        lat_hist_merge(ops, drv.op_hists[i]);
    lat_hist_merge(ops, drv.overflow);
    out->hist[CLI_LAT_OPS] = ops;
    lat_hist *pauses = cli_hist_new();
    for (size_t i = 0; i < out->ngc; i++)
        if (!out->gc[i].local)   /* stopped nobody: not a pause */
            lat_hist_record(pauses, out->gc[i].pause_ns);
    out->hist[CLI_LAT_GC_PAUSE] = pauses;
    cli_run_percentiles(out);

    if (out->error[0] != '\0')
        result = -1;
    else
        result = out->verified && out->leaked == 0 ? 0 : 1;

done:
    lat_hist_free(sensor.hist);
    for (int i = 0; i < nop; i++)
        lat_hist_free(drv.op_hists[i]);
    free(drv.op_hists);
    lat_hist_free(drv.overflow);
    pthread_mutex_destroy(&drv.overflow_mu);
    return result;
}

/* ---------------------------------------------------------------- .hgrm */

static int write_one_hgrm(const lat_hist *h, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = lat_hist_write_hgrm(h, f, CLI_HGRM_UNIT_RATIO);
    if (fclose(f) != 0 || rc < 0) {
        snprintf(err, errlen, "error writing %s", path);
        return -1;
    }
    return 0;
}

int cli_write_hgrm(const struct cli_run *r, const char *path, char *err, size_t errlen)
{
    if (r->hist[CLI_LAT_SENSOR] == NULL) {
        snprintf(err, errlen, "no histograms to write to %s", path);
        return -1;
    }
    if (write_one_hgrm(r->hist[CLI_LAT_SENSOR], path, err, errlen) < 0)
        return -1;
    size_t len = strlen(path);
    size_t stem = len;
    if (len > 5 && strcmp(path + len - 5, ".hgrm") == 0)
        stem = len - 5;
    static const struct {
        enum cli_lat which;
        const char *suffix;
    } extra[] = {{CLI_LAT_OPS, ".ops.hgrm"}, {CLI_LAT_GC_PAUSE, ".gc.hgrm"}};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        const lat_hist *h = r->hist[extra[i].which];
        if (h == NULL || lat_hist_count(h) == 0)
            continue;
        size_t n = stem + strlen(extra[i].suffix) + 1;
        char *p = malloc(n);
        if (p == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        snprintf(p, n, "%.*s%s", (int)stem, path, extra[i].suffix);
        int rc = write_one_hgrm(h, p, err, errlen);
        free(p);
        if (rc < 0)
            return -1;
    }
    return 0;
}
