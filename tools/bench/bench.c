/* tools/bench/bench.c: rcgc-bench, the workload benchmark suite.
 *
 * Runs rcgc's workloads (`rcgc run WORKLOAD --mode M --threads N SIZES
 * --json TMP`) and their malloc/free floors (`rcgc-floor-WORKLOAD
 * --threads N SIZES --json TMP`, tools/bench/floor*.c), each run in its own
 * child process so that peak RSS is per run, and prints markdown tables
 * ready for BENCHMARKS.md, each preceded by the machine (CPU model, online
 * CPUs, kernel) and the exact command, with issue 6's targets marked met
 * or missed.  The programs are found beside this one (the directory of
 * /proc/self/exe: build/<preset>/tools/).
 *
 * Method: every table names the configurations (program, workload, mode,
 * threads) it needs; configurations shared by tables run once per trial.
 * A trial runs every configuration once, round-robin (A/B interleaved),
 * starting one further along at each trial so no configuration always
 * follows the same one.  A figure is the median over trials; a ratio is
 * the median of the ratios taken within each trial (both sides measured
 * minutes apart at most, under the same machine conditions), so it need
 * not equal the ratio of the two medians shown.  Nothing asserts a timing:
 * the exit status is 1 only when a run failed (verification, a leak, a
 * crash) or the output could not be written, 2 on a usage error.
 *
 * Single-threaded: the driver forks and waits; nothing here is shared.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "sizes.h"

#define BENCH_MAX_TRIALS 99
#define BENCH_MAX_CONFIGS 48
#define BENCH_MAX_ARGS 24

/* ------------------------------------------------------------- settings */

/* Sizes of one bench run (full or --quick). */
struct bench_sizes {
    long depth;                     /* binary-trees */
    long cc_live, cc_cycles;        /* cycle-churn */
    long ls_live, ls_requests;      /* latency-service */
    long sr_iterations;             /* shared-refs; 0: calibrate */
    double sr_target_s;             /* calibration: an ft run of 1 thread lasts this */
    long sr_probe;                  /* calibration: the probe run's reads */
    long so_iterations;             /* shared-objects: operations per run */
};

/* Full: the workloads' defaults (workloads/sizes.h), which are issue 6's
 * sizes (binary-trees depth 16, cycle-churn 1M live and 2M rings).  Quick:
 * a quarter of the work (two levels less deep, a quarter of the rings and
 * requests, a quarter of cycle-churn's heap, a fifth of latency-service's),
 * for CI's log (under 2 minutes on 2 cores). */
static const struct bench_sizes bench_full = {BT_DEPTH, CC_LIVE, CC_CYCLES, LS_LIVE, LS_REQUESTS,
                                              0, 1.0, 20000000, SO_ITERATIONS};
static const struct bench_sizes bench_quick = {BT_DEPTH - 2, CC_LIVE / 4, CC_CYCLES / 4,
                                               LS_LIVE / 5, LS_REQUESTS / 4, 0, 0.25, 5000000,
                                               SO_ITERATIONS / 4};

static struct bench_sizes sz;
static int trials;
static bool quick;
static const char *out_path;
static char exe_dir[PATH_MAX];
static char command_line[1024];     /* this program's argv, shell-quoted */
static bool sr_calibrated;
static bool tty;                    /* progress on stderr */

/* ---------------------------------------------------------------- usage */

enum bench_table { T_THROUGHPUT, T_SCALING, T_SHARED_REFS, T_LATENCY, T_MEMORY, T_COUNT };

static const char *const table_names[T_COUNT] = {"throughput", "scaling", "shared-refs",
                                                 "latency", "memory"};
static const char *const table_help[T_COUNT] = {
    "1 thread: binary-trees and cycle-churn, floor/gil/ft/ft-atomic ops/s, ratios",
    "2 threads vs 1: binary-trees and cycle-churn, floor/gil/ft scaling",
    "shared-refs reads/s and shared-objects ops/s, gil/ft/ft-atomic at 1 and 2 threads",
    "latency-service, 2 threads: floor/gil/ft request latency percentiles",
    "peak RSS of cycle-churn: floor/gil/ft",
};
static bool table_on[T_COUNT];

__attribute__((noreturn, format(printf, 1, 2))) static void bench_usage_error(const char *fmt,
                                                                               ...)
{
    va_list ap;
    fputs("rcgc-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void bench_help(void)
{
    printf("usage: rcgc-bench [--quick] [--trials N] [--only TABLE[,TABLE..]] [--out FILE]\n"
           "                  [--iterations N]\n"
           "Run the rcgc workloads and their malloc/free floors, each run in its own\n"
           "process, trials interleaved, and print markdown tables (medians, same-run\n"
           "ratios, issue 6's targets met or missed) for BENCHMARKS.md.\n\n"
           "  --quick          smaller sizes and 3 trials (CI's informational run)\n"
           "  --trials N       trials, 1..%d (default 5; 3 with --quick)\n"
           "  --only T,T..     only these tables (default: all)\n"
           "  --out FILE       write the markdown to FILE (default: stdout)\n"
           "  --iterations N   shared-refs reads per run (default: calibrated so that an\n"
           "                   ft run with 1 thread lasts about 1 s; 0.25 s with --quick)\n"
           "  --help           show this help\n\nTables:\n",
           BENCH_MAX_TRIALS);
    for (int t = 0; t < T_COUNT; t++)
        printf("  %-12s %s\n", table_names[t], table_help[t]);
    printf("\nThe programs run are rcgc, rcgc-floor-binary-trees, rcgc-floor-cycle-churn\n"
           "and rcgc-floor-latency-service, from this program's directory.  Progress\n"
           "goes to stderr when it is a terminal.  Exit status: 0 every run verified;\n"
           "1 a run failed or FILE could not be written; 2 a usage error.\n");
}

static long bench_parse_long(const char *flag, const char *v, long min, long max)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (v[0] == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
        if (max == LONG_MAX)
            bench_usage_error("%s needs an integer >= %ld, not '%s'", flag, min, v);
        bench_usage_error("%s needs an integer in %ld..%ld, not '%s'", flag, min, max, v);
    }
    return n;
}

static void bench_parse_only(const char *v)
{
    const char *valid = "throughput, scaling, shared-refs, latency, memory";
    if (v[0] == '\0')
        bench_usage_error("--only needs a comma-separated list of tables (valid: %s), not ''",
                          valid);
    const char *p = v;
    for (;;) {
        size_t len = strcspn(p, ",");
        int t = 0;
        for (; t < T_COUNT; t++)
            if (strlen(table_names[t]) == len && strncmp(table_names[t], p, len) == 0)
                break;
        if (t == T_COUNT)
            bench_usage_error("unknown table '%.*s' for --only (valid: %s)", (int)len, p, valid);
        table_on[t] = true;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
}

static void bench_quote_command(int argc, char **argv)
{
    size_t n = 0;
    for (int i = 0; i < argc && n < sizeof command_line; i++) {
        const char *a = argv[i];
        bool plain = a[0] != '\0' && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                               "0123456789_./,=:+-") == strlen(a);
        n += (size_t)snprintf(command_line + n, sizeof command_line - n, "%s%s%s%s",
                              i > 0 ? " " : "", plain ? "" : "'", a, plain ? "" : "'");
    }
}

static void bench_parse(int argc, char **argv)
{
    static const char *const flags[] = {"--quick", "--trials", "--only", "--out", "--iterations",
                                        "--help"};
    const char *valid = "--quick, --trials, --only, --out, --iterations, --help";
    long trials_arg = 0, iterations = 0;
    bool any_table = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t len = eq != NULL ? (size_t)(eq - a) : strlen(a);
        size_t f = 0;
        for (; f < sizeof flags / sizeof flags[0]; f++)
            if (strlen(flags[f]) == len && strncmp(flags[f], a, len) == 0)
                break;
        if (f == sizeof flags / sizeof flags[0]) {
            if (strncmp(a, "--", 2) != 0)
                bench_usage_error("unexpected argument '%s' (valid flags: %s)", a, valid);
            bench_usage_error("unknown flag '%.*s' (valid: %s)", (int)len, a, valid);
        }
        const char *name = flags[f];
        bool takes_value = f >= 1 && f <= 4;
        const char *v = NULL;
        if (takes_value) {
            if (eq != NULL)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else
                bench_usage_error("%s needs a value", name);
        } else if (eq != NULL) {
            bench_usage_error("%s takes no value, not '%s'", name, eq + 1);
        }
        if (strcmp(name, "--help") == 0) {
            bench_help();
            exit(0);
        } else if (strcmp(name, "--quick") == 0) {
            quick = true;
        } else if (strcmp(name, "--trials") == 0) {
            trials_arg = bench_parse_long(name, v, 1, BENCH_MAX_TRIALS);
        } else if (strcmp(name, "--only") == 0) {
            bench_parse_only(v);
            any_table = true;
        } else if (strcmp(name, "--out") == 0) {
            if (v[0] == '\0')
                bench_usage_error("--out needs a file name, not ''");
            out_path = v;
        } else if (strcmp(name, "--iterations") == 0) {
            iterations = bench_parse_long(name, v, 1, LONG_MAX);
        }
    }
    sz = quick ? bench_quick : bench_full;
    trials = trials_arg > 0 ? (int)trials_arg : quick ? 3 : 5;
    if (iterations > 0)
        sz.sr_iterations = iterations;
    if (!any_table)
        for (int t = 0; t < T_COUNT; t++)
            table_on[t] = true;
}

/* -------------------------------------------------------- configurations */

enum bench_metric {
    M_OPS_PER_S,
    M_WALL_S,
    M_RSS_KB,
    M_OP_P50,
    M_OP_P99,
    M_OP_P999,
    M_OP_MAX,
    M_GC_MAX,
    M_COUNT
};

/* One configuration: a program with its arguments, and its samples. */
struct bench_config {
    bool floor;                    /* a malloc/free floor, not rcgc run */
    const char *workload;
    const char *mode;              /* "floor", "gil", "ft", "ft-atomic" */
    const char *read;              /* shared-refs --read (NULL: the default) */
    int threads;
    char *argv[BENCH_MAX_ARGS];    /* without --json: argv[0] is the path */
    int argc;
    char shown[256];               /* the command as the tables show it */
    double s[M_COUNT][BENCH_MAX_TRIALS];   /* NAN: failed or not measured */
    int failed;
};

static struct bench_config configs[BENCH_MAX_CONFIGS];
static int nconfigs;
static int failures_total;

static char *bench_strdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL) {
        fprintf(stderr, "rcgc-bench: out of memory\n");
        exit(1);
    }
    return p;
}

/* The size flags of a workload, as argv words ("--depth", "16", ...). */
static int bench_size_args(const char *workload, char **out)
{
    char buf[32];
    int n = 0;
#define BENCH_ARG(flag, value)                                \
    do {                                                      \
        out[n++] = bench_strdup(flag);                        \
        snprintf(buf, sizeof buf, "%ld", (long)(value));      \
        out[n++] = bench_strdup(buf);                         \
    } while (0)
    if (strcmp(workload, "binary-trees") == 0) {
        BENCH_ARG("--depth", sz.depth);
    } else if (strcmp(workload, "cycle-churn") == 0) {
        BENCH_ARG("--live", sz.cc_live);
        BENCH_ARG("--cycles", sz.cc_cycles);
    } else if (strcmp(workload, "latency-service") == 0) {
        BENCH_ARG("--live", sz.ls_live);
        BENCH_ARG("--requests", sz.ls_requests);
    } else if (strcmp(workload, "shared-refs") == 0) {
        BENCH_ARG("--iterations", sz.sr_iterations);
    } else if (strcmp(workload, "shared-objects") == 0) {
        BENCH_ARG("--iterations", sz.so_iterations);
    }
#undef BENCH_ARG
    return n;
}

static void bench_config_init(struct bench_config *c, bool is_floor, const char *workload,
                              const char *mode, const char *read, int threads)
{
    char path[PATH_MAX + 64], tbuf[16];
    memset(c, 0, sizeof *c);
    c->floor = is_floor;
    c->workload = workload;
    c->mode = mode;
    c->read = read;
    c->threads = threads;
    if (is_floor)
        snprintf(path, sizeof path, "%s/rcgc-floor-%s", exe_dir, workload);
    else
        snprintf(path, sizeof path, "%s/rcgc", exe_dir);
    c->argv[c->argc++] = bench_strdup(path);
    if (!is_floor) {
        c->argv[c->argc++] = bench_strdup("run");
        c->argv[c->argc++] = bench_strdup(workload);
        c->argv[c->argc++] = bench_strdup("--mode");
        c->argv[c->argc++] = bench_strdup(mode);
    }
    snprintf(tbuf, sizeof tbuf, "%d", threads);
    c->argv[c->argc++] = bench_strdup("--threads");
    c->argv[c->argc++] = bench_strdup(tbuf);
    c->argc += bench_size_args(workload, c->argv + c->argc);
    if (read != NULL) {
        c->argv[c->argc++] = bench_strdup("--read");
        c->argv[c->argc++] = bench_strdup(read);
    }
    size_t n = (size_t)snprintf(c->shown, sizeof c->shown, "%s",
                                is_floor ? strrchr(c->argv[0], '/') + 1 : "rcgc");
    for (int i = 1; i < c->argc && n < sizeof c->shown; i++)
        n += (size_t)snprintf(c->shown + n, sizeof c->shown - n, " %s", c->argv[i]);
    for (int m = 0; m < M_COUNT; m++)
        for (int t = 0; t < BENCH_MAX_TRIALS; t++)
            c->s[m][t] = NAN;
}

static void bench_config_fini(struct bench_config *c)
{
    for (int i = 0; i < c->argc; i++)
        free(c->argv[i]);
    c->argc = 0;
}

/* The configuration's index, added the first time it is needed. */
static int need(bool is_floor, const char *workload, const char *mode, const char *read,
                int threads)
{
    for (int i = 0; i < nconfigs; i++)
        if (configs[i].floor == is_floor && strcmp(configs[i].workload, workload) == 0 &&
            strcmp(configs[i].mode, mode) == 0 && configs[i].threads == threads &&
            (configs[i].read == read ||
             (configs[i].read != NULL && read != NULL && strcmp(configs[i].read, read) == 0)))
            return i;
    if (nconfigs == BENCH_MAX_CONFIGS) {
        fprintf(stderr, "rcgc-bench: more than %d configurations\n", BENCH_MAX_CONFIGS);
        exit(1);
    }
    bench_config_init(&configs[nconfigs], is_floor, workload, mode, read, threads);
    return nconfigs++;
}

static int need_rcgc(const char *workload, const char *mode, int threads)
{
    return need(false, workload, mode, NULL, threads);
}

static int need_floor(const char *workload, int threads)
{
    return need(true, workload, "floor", NULL, threads);
}

/* --------------------------------------------------------------- one run */

/* The signal that interrupted the bench (SIGINT, SIGTERM, SIGHUP), or 0. */
static volatile sig_atomic_t bench_interrupted;

static void bench_on_signal(int sig)
{
    bench_interrupted = sig;
}

static const json_t *jget(const json_t *o, const char *key)
{
    return json_is_object(o) ? json_object_get(o, key) : NULL;
}

/* A number at o.key; NAN when missing or not a number. */
static double jnum(const json_t *o, const char *key)
{
    const json_t *v = jget(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Read a run's report into out[]; 0, or -1 with why the run failed. */
static int bench_read_report(const char *path, double *out, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (root == NULL) {
        snprintf(err, errlen, "its report is not readable JSON: %s (line %d)", je.text, je.line);
        return -1;
    }
    int rc = -1;
    const json_t *schema = jget(root, "schema"), *runs = jget(root, "runs");
    const json_t *r = json_is_array(runs) && json_array_size(runs) == 1
                          ? json_array_get(runs, 0)
                          : NULL;
    const char *sch = json_is_string(schema) ? json_string_value(schema) : "";
    if (strcmp(sch, "rcgc-run/1") != 0 && strcmp(sch, "rcgc-floor/1") != 0) {
        snprintf(err, errlen, "its report has schema '%.40s', not rcgc-run/1 or rcgc-floor/1",
                 sch);
    } else if (!json_is_object(r)) {
        snprintf(err, errlen, "its report does not hold exactly one run");
    } else if (json_is_string(jget(r, "error"))) {
        snprintf(err, errlen, "%.200s", json_string_value(jget(r, "error")));
    } else if (!json_is_true(jget(jget(r, "verify"), "ok"))) {
        const json_t *s = jget(jget(r, "verify"), "summary");
        snprintf(err, errlen, "verification failed: %.200s",
                 json_is_string(s) ? json_string_value(s) : "(no summary)");
    } else if (!json_is_integer(jget(r, "leaked")) ||
               json_integer_value(jget(r, "leaked")) != 0) {
        snprintf(err, errlen, "it leaked objects (leaked: %.0f)", jnum(r, "leaked"));
    } else if (!isfinite(jnum(r, "ops_per_s")) || !isfinite(jnum(r, "wall_s")) ||
               !isfinite(jnum(r, "peak_rss_kb"))) {
        snprintf(err, errlen, "its report lacks ops_per_s, wall_s or peak_rss_kb");
    } else {
        const json_t *pc = jget(r, "percentiles");
        const json_t *ops = jget(pc, "ops"), *gc = jget(pc, "gc_pause");
        out[M_OPS_PER_S] = jnum(r, "ops_per_s");
        out[M_WALL_S] = jnum(r, "wall_s");
        out[M_RSS_KB] = jnum(r, "peak_rss_kb");
        bool has_ops = jnum(ops, "count") > 0;
        out[M_OP_P50] = has_ops ? jnum(ops, "p50") : NAN;
        out[M_OP_P99] = has_ops ? jnum(ops, "p99") : NAN;
        out[M_OP_P999] = has_ops ? jnum(ops, "p99.9") : NAN;
        out[M_OP_MAX] = has_ops ? jnum(ops, "max") : NAN;
        out[M_GC_MAX] = jnum(gc, "count") > 0 ? jnum(gc, "max") : NAN;
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* Run argv[0..argc-1] in a child (tools/child.h: --json PATH appended,
 * stdout to /dev/null, stderr kept for messages); fill out[M_COUNT].  0, or
 * -1 with err set. */
static int bench_run_argv(char **argv, int argc, double *out, char *err, size_t errlen)
{
    char *args[BENCH_MAX_ARGS + 1];
    memcpy(args, argv, (size_t)argc * sizeof *args);
    args[argc] = NULL;
    struct child ch = {.path = args[0], .argv = args, .capture_stderr = true,
                       .interrupted = &bench_interrupted};
    if (child_run(&ch, err, errlen) < 0)
        return -1;
    char how[96];
    int rc = -1;
    if (child_failure(&ch, how, sizeof how)[0] != '\0') {
        snprintf(err, errlen, "it %s%s%.200s", how, ch.first_line[0] != '\0' ? ": " : "",
                 ch.first_line);
    } else {
        rc = bench_read_report(ch.json, out, err, errlen);
        if (rc == 0 && ch.exit_status != 0) {
            snprintf(err, errlen, "exit status 1: %.200s", ch.first_line);
            rc = -1;
        }
    }
    child_done(&ch);
    return rc;
}

static void bench_check_interrupt(void)
{
    if (bench_interrupted == 0)
        return;
    int sig = bench_interrupted;
    fprintf(stderr, "rcgc-bench: interrupted (%s)\n", strsignal(sig));
    signal(sig, SIG_DFL);
    raise(sig);
    exit(128 + sig);
}

/* --------------------------------------------------- shared-refs reads */

/* Reads per shared-refs run: a probe run in ft mode with 1 thread, scaled
 * so that a run lasts sz.sr_target_s, two significant digits. */
static void bench_calibrate(void)
{
    if (sz.sr_iterations > 0)
        return;
    struct bench_config probe;
    sz.sr_iterations = sz.sr_probe;
    bench_config_init(&probe, false, "shared-refs", "ft", "borrow", 1);
    double out[M_COUNT];
    char err[320];
    if (tty)
        fprintf(stderr, "rcgc-bench: calibrating shared-refs: %s\n", probe.shown);
    int rc = bench_run_argv(probe.argv, probe.argc, out, err, sizeof err);
    bench_check_interrupt();
    if (rc < 0 || !(out[M_WALL_S] > 0)) {
        fprintf(stderr, "rcgc-bench: calibrating shared-refs: %s failed: %s; using %ld reads\n",
                probe.shown, rc < 0 ? err : "no wall time", sz.sr_probe);
    } else {
        double want = (double)sz.sr_probe * sz.sr_target_s / out[M_WALL_S];
        double mag = pow(10, floor(log10(want)) - 1);
        long n = (long)(round(want / mag) * mag);
        sz.sr_iterations = n < 100000 ? 100000 : n;
        sr_calibrated = true;
    }
    bench_config_fini(&probe);
}

/* ---------------------------------------------------------------- trials */

static void bench_run_trials(void)
{
    int total = trials * nconfigs, k = 0;
    time_t start = time(NULL);
    for (int t = 0; t < trials; t++) {
        for (int j = 0; j < nconfigs; j++, k++) {
            struct bench_config *c = &configs[(t + j) % nconfigs];
            if (tty)
                fprintf(stderr, "rcgc-bench: [%d/%d, %lds] trial %d: %s\n", k + 1, total,
                        (long)(time(NULL) - start), t + 1, c->shown);
            double out[M_COUNT];
            char err[320];
            int rc = bench_run_argv(c->argv, c->argc, out, err, sizeof err);
            bench_check_interrupt();
            if (rc < 0) {
                fprintf(stderr, "rcgc-bench: trial %d: %s failed: %s\n", t + 1, c->shown, err);
                c->failed++;
                failures_total++;
                continue;
            }
            for (int m = 0; m < M_COUNT; m++)
                c->s[m][t] = out[m];
        }
    }
    if (tty)
        fprintf(stderr, "rcgc-bench: %d runs in %lds\n", total, (long)(time(NULL) - start));
}

/* ------------------------------------------------------------ statistics */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the finite values of v[0..n-1]; NAN when there are none. */
static double median_of(const double *v, int n)
{
    double tmp[BENCH_MAX_TRIALS];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            tmp[k++] = v[i];
    if (k == 0)
        return NAN;
    qsort(tmp, (size_t)k, sizeof tmp[0], cmp_double);
    return k % 2 == 1 ? tmp[k / 2] : (tmp[k / 2 - 1] + tmp[k / 2]) / 2;
}

static double med(int c, enum bench_metric m)
{
    return median_of(configs[c].s[m], trials);
}

/* 1 for a baseline row, NAN when every run of it failed. */
static double one_if_ok(int c)
{
    return isfinite(med(c, M_WALL_S)) ? 1 : NAN;
}

/* Median over trials of a/b, both measured in the same trial. */
static double ratio(int a, int b, enum bench_metric m)
{
    double r[BENCH_MAX_TRIALS];
    for (int t = 0; t < trials; t++) {
        double x = configs[a].s[m][t], y = configs[b].s[m][t];
        r[t] = y > 0 ? x / y : NAN;
    }
    return median_of(r, trials);
}

/* Median over trials of (a2/a1) / (b2/b1): a's scaling as a fraction of
 * b's, every figure from the same trial.  b1 < 0: a2/a1 alone. */
static double scaling(int a1, int a2, int b1, int b2)
{
    double r[BENCH_MAX_TRIALS];
    for (int t = 0; t < trials; t++) {
        double sa = configs[a2].s[M_OPS_PER_S][t] / configs[a1].s[M_OPS_PER_S][t];
        double sb = b1 < 0 ? 1
                           : configs[b2].s[M_OPS_PER_S][t] / configs[b1].s[M_OPS_PER_S][t];
        r[t] = sb > 0 ? sa / sb : NAN;
    }
    return median_of(r, trials);
}

/* ------------------------------------------------------------ formatting */

#define FMT_N 32
typedef char fmtbuf[FMT_N];

static const char *fmt_rate(fmtbuf b, double v)
{
    if (!isfinite(v))
        snprintf(b, FMT_N, "failed");
    else if (v >= 1e9)
        snprintf(b, FMT_N, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(b, FMT_N, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(b, FMT_N, "%.1fk", v / 1e3);
    else
        snprintf(b, FMT_N, "%.0f", v);
    return b;
}

static const char *fmt_x(fmtbuf b, double v)
{
    if (!isfinite(v))
        snprintf(b, FMT_N, "-");
    else
        snprintf(b, FMT_N, "%.2fx", v);
    return b;
}

/* ns as the rcgc table shows latencies: 850ns, 2.11us, 5.25ms, 1.20s. */
static const char *fmt_ns(fmtbuf b, double ns)
{
    static const char *const unit[] = {"ns", "us", "ms", "s"};
    if (!isfinite(ns)) {
        snprintf(b, FMT_N, "-");
        return b;
    }
    double v = ns;
    int u = 0;
    while (u < 3 && v >= 999.5) {
        v /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(b, FMT_N, "%.0fns", v);
    else
        snprintf(b, FMT_N, "%.*f%s", v < 9.995 ? 2 : v < 99.95 ? 1 : 0, v, unit[u]);
    return b;
}

static const char *fmt_mb(fmtbuf b, double kb)
{
    if (!isfinite(kb))
        snprintf(b, FMT_N, "failed");
    else
        snprintf(b, FMT_N, "%.1f MB", kb / 1024);
    return b;
}

/* "met" / "missed" / "-" for a ratio against a bound. */
static const char *verdict_ge(double v, double bound)
{
    return !isfinite(v) ? "-" : v >= bound ? "met" : "missed";
}

static const char *verdict_le(double v, double bound)
{
    return !isfinite(v) ? "-" : v <= bound ? "met" : "missed";
}

/* ---------------------------------------------------------------- tables */

static char machine[1024];
static double load_start = NAN;     /* 1-minute load average before the trials */
static double load_end = NAN;       /* and after them */

/* The 1-minute load average (/proc/loadavg), NAN if unreadable: a loaded
 * machine makes every figure noisier, ratios less so. */
static double bench_loadavg(void)
{
    double l = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &l) != 1)
            l = NAN;
        fclose(f);
    }
    return l;
}

static void bench_machine(void)
{
    char cpu[160] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof line, f) != NULL) {
            char *c = strchr(line, ':');
            if (strncmp(line, "model name", 10) == 0 && c != NULL) {
                snprintf(cpu, sizeof cpu, "%s", c + 2);
                cpu[strcspn(cpu, "\n")] = '\0';
                break;
            }
        }
        fclose(f);
    }
    struct utsname u;
    char kernel[3 * sizeof u.release + 8] = "unknown kernel";
    if (uname(&u) == 0)
        snprintf(kernel, sizeof kernel, "%s %s %s", u.sysname, u.release, u.machine);
    snprintf(machine, sizeof machine, "%s, %ld cores (online CPUs), %s", cpu,
             sysconf(_SC_NPROCESSORS_ONLN), kernel);
}

/* Trials of the configurations listed, with failures if any. */
static void trials_note(FILE *o, const int *cs, int n)
{
    int failed = 0;
    for (int i = 0; i < n; i++)
        failed += configs[cs[i]].failed;
    fprintf(o, "Median of %d trial%s; in each trial every configuration runs once, in its own "
               "process, interleaved round-robin; ratios are medians of the ratios within each "
               "trial.",
            trials, trials > 1 ? "s" : "");
    if (failed > 0)
        fprintf(o, " **%d run%s failed** (see stderr); their cells use the trials that "
                   "succeeded.",
                failed, failed > 1 ? "s" : "");
    fprintf(o, "\n");
}

static void table_header(FILE *o, const char *title, const int *cs, int n)
{
    fprintf(o, "### %s\n\n", title);
    fprintf(o, "Machine: %s; load average %.2f before the trials, %.2f after. Command: `%s`.\n",
            machine, load_start, load_end, command_line);
    trials_note(o, cs, n);
    fprintf(o, "Runs:");
    for (int i = 0; i < n; i++)
        fprintf(o, "%s `%s`", i > 0 ? "," : "", configs[cs[i]].shown);
    fprintf(o, ".\n\n");
}

/* throughput: [workload][floor, gil, ft, ft-atomic] with 1 thread */
static const char *const tp_workloads[2] = {"binary-trees", "cycle-churn"};
static const char *const tp_modes[4] = {"floor", "gil", "ft", "ft-atomic"};
static const double tp_target[2] = {1.40, 0.62};   /* gil and ft, vs the floor */
static int tp[2][4];

static void plan_throughput(void)
{
    for (int w = 0; w < 2; w++)
        for (int m = 0; m < 4; m++)
            tp[w][m] = m == 0 ? need_floor(tp_workloads[w], 1)
                              : need_rcgc(tp_workloads[w], tp_modes[m], 1);
}

static void render_throughput(FILE *o)
{
    fmtbuf a, b, c;
    table_header(o, "Throughput, 1 thread: rcgc against the malloc/free floor", &tp[0][0], 8);
    fprintf(o, "| workload | variant | ops/s | vs floor | vs gil | target (gil, ft) | result |\n"
               "|---|---|---:|---:|---:|---|---|\n");
    for (int w = 0; w < 2; w++) {
        for (int m = 0; m < 4; m++) {
            int i = tp[w][m];
            double vf = m == 0 ? one_if_ok(i) : ratio(i, tp[w][0], M_OPS_PER_S);
            bool targeted = m == 1 || m == 2;
            char target[32] = "-";
            if (targeted)
                snprintf(target, sizeof target, ">= %.2fx floor", tp_target[w]);
            fprintf(o, "| %s | %s | %s | %s | %s | %s | %s |\n", tp_workloads[w],
                    m == 0 ? "floor (malloc/free)" : tp_modes[m],
                    fmt_rate(a, med(i, M_OPS_PER_S)), fmt_x(b, vf),
                    m >= 1 ? fmt_x(c, ratio(i, tp[w][1], M_OPS_PER_S)) : "-", target,
                    targeted ? verdict_ge(vf, tp_target[w]) : "-");
        }
    }
    fprintf(o, "\nops: binary-trees counts nodes allocated (depth %ld), cycle-churn rings built "
               "and dropped (%ld live, %ld rings).\n\n",
            sz.depth, sz.cc_live, sz.cc_cycles);
    for (int w = 0; w < 2; w++) {
        double r = ratio(tp[w][2], tp[w][1], M_OPS_PER_S);
        fprintf(o, "- %s, ft vs gil: %s (target: ft within 10%% of gil, ops/s ratio >= "
                   "0.91x): %s\n",
                tp_workloads[w], fmt_x(a, r), verdict_ge(r, 1 / 1.10));
    }
    fprintf(o, "\n");
}

/* scaling: [workload][floor, gil, ft][1 thread, 2 threads] */
static int sc[2][3][2];

static void plan_scaling(void)
{
    for (int w = 0; w < 2; w++)
        for (int m = 0; m < 3; m++)
            for (int t = 0; t < 2; t++)
                sc[w][m][t] = m == 0 ? need_floor(tp_workloads[w], t + 1)
                                     : need_rcgc(tp_workloads[w], tp_modes[m], t + 1);
}

static void render_scaling(FILE *o)
{
    fmtbuf a, b, c, d;
    table_header(o, "Scaling: 2 threads against 1", &sc[0][0][0], 12);
    fprintf(o, "| workload | variant | ops/s, 1 thread | ops/s, 2 threads | 2 vs 1 | vs the "
               "floor's scaling | target | result |\n"
               "|---|---|---:|---:|---:|---:|---|---|\n");
    for (int w = 0; w < 2; w++) {
        for (int m = 0; m < 3; m++) {
            int one = sc[w][m][0], two = sc[w][m][1];
            double s = scaling(one, two, -1, -1);
            double f = m == 0 ? scaling(one, two, one, two)
                              : scaling(one, two, sc[w][0][0], sc[w][0][1]);
            const char *target = m == 0 ? "-" : m == 1 ? "none (the contrast)" : ">= 0.90x";
            fprintf(o, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", tp_workloads[w],
                    m == 0 ? "floor (malloc/free)" : tp_modes[m],
                    fmt_rate(a, med(one, M_OPS_PER_S)), fmt_rate(b, med(two, M_OPS_PER_S)),
                    fmt_x(c, s), fmt_x(d, f), target, m == 2 ? verdict_ge(f, 0.90) : "-");
        }
    }
    fprintf(o, "\nTarget: ft's 2-vs-1 scaling at least 0.9x of the floor's in the same run; gil "
               "mode is not expected to scale (one thread runs at a time).\n\n");
}

/* shared-refs: [borrow, ref][gil, ft, ft-atomic][1 thread, 2 threads] */
static const char *const sr_modes[3] = {"gil", "ft", "ft-atomic"};
static const char *const sr_reads[2] = {"borrow", "ref"};
static int sr[2][3][2];
/* shared-objects, the same grid: the slots of shared instances */
static int so[2][3][2];

static void plan_shared_refs(void)
{
    for (int r = 0; r < 2; r++)
        for (int m = 0; m < 3; m++)
            for (int t = 0; t < 2; t++) {
                sr[r][m][t] = need(false, "shared-refs", sr_modes[m], sr_reads[r], t + 1);
                so[r][m][t] = need(false, "shared-objects", sr_modes[m], sr_reads[r], t + 1);
            }
}

static void render_shared_refs(FILE *o)
{
    fmtbuf a, b, c;
    table_header(o, "shared-refs: reads of shared objects, 1 and 2 threads", &sr[0][0][0], 12);
    if (sr_calibrated)
        fprintf(o, "--iterations %ld was calibrated (an ft run with 1 thread lasts about %.2g "
                   "s); add `--iterations %ld` to repeat it exactly.\n\n",
                sz.sr_iterations, sz.sr_target_s, sz.sr_iterations);
    fprintf(o, "`--read borrow`: rc_list_get_borrowed, no count written; `--read ref`: "
               "rc_list_get + rc_decref, which writes the item's shared count on every read "
               "in ft mode (as CPython 3.13t does).\n\n");
    fprintf(o, "| read | mode | reads/s, 1 thread | reads/s, 2 threads | 2 vs 1 | target | result |\n"
               "|---|---|---:|---:|---:|---|---|\n");
    for (int r = 0; r < 2; r++)
        for (int m = 0; m < 3; m++) {
            double x = scaling(sr[r][m][0], sr[r][m][1], -1, -1);
            bool target = r == 0 && m == 1;
            fprintf(o, "| %s | %s | %s | %s | %s | %s | %s |\n", sr_reads[r], sr_modes[m],
                    fmt_rate(a, med(sr[r][m][0], M_OPS_PER_S)),
                    fmt_rate(b, med(sr[r][m][1], M_OPS_PER_S)), fmt_x(c, x),
                    m == 0 ? "none (the contrast)" : target ? ">= 1.60x" : "-",
                    target ? verdict_ge(x, 1.60) : "-");
        }
    fprintf(o, "\nTarget: shared-refs in ft mode scales with threads (2 threads >= 1.6x of "
               "1), with the runtime's read path for reads that do not escape (borrow).\n\n");

    table_header(o, "shared-objects: a shared cache's slots, read and replaced, 1 and 2 threads",
                 &so[0][0][0], 12);
    fprintf(o, "One operation in %d replaces an entry's value (rc_slot_set), the others read "
               "it: `--read borrow` with rc_slot_get_borrowed, no count written; `--read ref` "
               "with rc_slot_get + rc_decref.\n\n", SO_WRITE_EVERY);
    fprintf(o, "| read | mode | ops/s, 1 thread | ops/s, 2 threads | 2 vs 1 |\n"
               "|---|---|---:|---:|---:|\n");
    for (int r = 0; r < 2; r++)
        for (int m = 0; m < 3; m++)
            fprintf(o, "| %s | %s | %s | %s | %s |\n", sr_reads[r], sr_modes[m],
                    fmt_rate(a, med(so[r][m][0], M_OPS_PER_S)),
                    fmt_rate(b, med(so[r][m][1], M_OPS_PER_S)),
                    fmt_x(c, scaling(so[r][m][0], so[r][m][1], -1, -1)));
    fprintf(o, "\nNo target: the figures show what a read-mostly shared cache costs in each "
               "mode.\n\n");
}

/* latency-service, 2 threads: floor, gil, ft */
static int ls[3];

static void plan_latency(void)
{
    ls[0] = need_floor("latency-service", 2);
    ls[1] = need_rcgc("latency-service", "gil", 2);
    ls[2] = need_rcgc("latency-service", "ft", 2);
}

static void render_latency(FILE *o)
{
    fmtbuf a, b, c, d, e, f, g, h;
    table_header(o, "latency-service, 2 threads: request latency", ls, 3);
    fprintf(o, "| variant | threads | requests/s | p50 | p99 | p99.9 | max | p99 vs floor | "
               "p99.9 vs floor | GC pause max |\n"
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int v = 0; v < 3; v++) {
        int i = ls[v];
        fprintf(o, "| %s | 2 | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                v == 0 ? "floor (malloc/free)" : tp_modes[v], fmt_rate(a, med(i, M_OPS_PER_S)),
                fmt_ns(b, med(i, M_OP_P50)), fmt_ns(c, med(i, M_OP_P99)),
                fmt_ns(d, med(i, M_OP_P999)), fmt_ns(e, med(i, M_OP_MAX)),
                fmt_x(f, v == 0 ? one_if_ok(i) : ratio(i, ls[0], M_OP_P99)),
                fmt_x(g, v == 0 ? one_if_ok(i) : ratio(i, ls[0], M_OP_P999)),
                fmt_ns(h, med(i, M_GC_MAX)));
    }
    fprintf(o, "\nSizes: %ld live nodes, %ld requests. Target: report ft's p99, p99.9 and max "
               "request latency with the stop-the-world collector next to the malloc/free "
               "floor's: the baseline the next collector must beat (reported above).\n\n",
            sz.ls_live, sz.ls_requests);
}

/* memory: cycle-churn with 1 thread: floor, gil, ft */
static int mem[3];

static void plan_memory(void)
{
    mem[0] = need_floor("cycle-churn", 1);
    mem[1] = need_rcgc("cycle-churn", "gil", 1);
    mem[2] = need_rcgc("cycle-churn", "ft", 1);
}

static void render_memory(FILE *o)
{
    fmtbuf a, b;
    char title[96];
    snprintf(title, sizeof title, "Memory: peak RSS of cycle-churn with %ld live nodes",
             sz.cc_live);
    table_header(o, title, mem, 3);
    fprintf(o, "| variant | peak RSS | vs floor | target | result |\n"
               "|---|---:|---:|---|---|\n");
    for (int v = 0; v < 3; v++) {
        double r = v == 0 ? one_if_ok(mem[v]) : ratio(mem[v], mem[0], M_RSS_KB);
        fprintf(o, "| %s | %s | %s | %s | %s |\n", v == 0 ? "floor (malloc/free)" : tp_modes[v],
                fmt_mb(a, med(mem[v], M_RSS_KB)), fmt_x(b, r), v == 0 ? "-" : "<= 1.50x floor",
                v == 0 ? "-" : verdict_le(r, 1.50));
    }
    fprintf(o, "\nPeak RSS is ru_maxrss of each run's own process, after the run.\n\n");
}

static void (*const plans[T_COUNT])(void) = {plan_throughput, plan_scaling, plan_shared_refs,
                                             plan_latency, plan_memory};
static void (*const renders[T_COUNT])(FILE *) = {render_throughput, render_scaling,
                                                 render_shared_refs, render_latency,
                                                 render_memory};

/* ------------------------------------------------------------------ main */

static void bench_find_programs(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "rcgc-bench: cannot read /proc/self/exe: %s\n", strerror(errno));
        exit(1);
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0';
    snprintf(exe_dir, sizeof exe_dir, "%s", self);
}

int main(int argc, char **argv)
{
    bench_parse(argc, argv);
    bench_quote_command(argc, argv);
    bench_find_programs();
    tty = isatty(STDERR_FILENO) == 1;

    for (int t = 0; t < T_COUNT; t++)
        if (table_on[t] && t == T_SHARED_REFS)
            bench_calibrate();
    for (int t = 0; t < T_COUNT; t++)
        if (table_on[t])
            plans[t]();
    for (int i = 0; i < nconfigs; i++) {
        if (access(configs[i].argv[0], X_OK) != 0) {
            fprintf(stderr, "rcgc-bench: cannot run %s: %s (build it beside rcgc-bench)\n",
                    configs[i].argv[0], strerror(errno));
            return 1;
        }
    }
    FILE *o = stdout;
    if (out_path != NULL && (o = fopen(out_path, "w")) == NULL) {
        fprintf(stderr, "rcgc-bench: cannot write %s: %s\n", out_path, strerror(errno));
        return 1;
    }

    /* Interrupted: let the current child end, remove its files, then die
     * of the same signal.  No SA_RESTART, so waitpid sees it. */
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa = {.sa_handler = bench_on_signal};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);

    bench_machine();
    load_start = bench_loadavg();
    bench_run_trials();
    load_end = bench_loadavg();

    fprintf(o, "## Workloads against the malloc/free floor (tools/bench/bench.c)\n\n");
    for (int t = 0; t < T_COUNT; t++)
        if (table_on[t])
            renders[t](o);
    int status = failures_total > 0 ? 1 : 0;
    if (o != stdout ? fclose(o) != 0 : fflush(o) != 0) {
        fprintf(stderr, "rcgc-bench: error writing %s\n", out_path != NULL ? out_path : "stdout");
        status = 1;
    }
    if (failures_total > 0)
        fprintf(stderr, "rcgc-bench: %d run%s failed\n", failures_total,
                failures_total > 1 ? "s" : "");
    for (int i = 0; i < nconfigs; i++)
        bench_config_fini(&configs[i]);
    return status;
}
