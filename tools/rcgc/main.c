/* tools/rcgc/main.c: the `rcgc` command: subcommands, flags, dispatch.
 *
 *   rcgc list [--load FILE.so]...
 *   rcgc run WORKLOAD [--mode M] [--collector C] [--threads N] [sizes] [--read HOW]
 *                     [--seed S] [--quick] [--trace] [--json FILE] [--hgrm FILE]
 *                     [--html FILE]
 *   rcgc compare WORKLOAD [--modes M,M..] [--collectors C,C..] [--threads N,N..]
 *                         [sizes] ...
 *   rcgc report FILE.json [--hgrm FILE] [--html FILE]
 *
 * --load FILE.so (list, run, compare; repeatable) loads a library of
 * workloads written against rcgc/workload.h before anything else is
 * parsed, so that its workloads and their size flags are known.
 *
 * Exit status: 0 success; 1 a run failed (verification, leak, crash) or a
 * file could not be read or written; 2 a usage error (unknown command,
 * workload, mode or flag, a bad number), reported on one line naming the
 * culprit and the valid choices.
 *
 * `compare` runs each configuration in a child process (this executable,
 * re-executed as `rcgc run ... --json TMP`) so that peak RSS, which the
 * kernel keeps per process, and anything a runtime leaves behind do not mix
 * between configurations; it then reads the children's JSON back.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "cli.h"
#include "rcgc/workload.h"
#include "sizes.h"

#ifndef RCGC_VERSION
#define RCGC_VERSION "unknown"
#endif

#define CLI_MAX_THREADS 1024
_Static_assert(CLI_MAX_THREADS == RCGC_WORKLOAD_MAX_THREADS,
               "--threads' bound is a loaded workload's");
#define CLI_MAX_LIST 16
#define CLI_MAX_LOADS 16

/* ----------------------------------------------------------------- flags */

enum {
    C_RUN = 1 << 0,
    C_COMPARE = 1 << 1,
    C_REPORT = 1 << 2,
    C_LIST = 1 << 3,
};

struct cli_flag {
    const char *name;
    const char *arg;    /* the value's name in help, NULL if the flag takes none */
    unsigned cmds;
    const char *help;
};

static const struct cli_flag cli_flags[] = {
    {"--mode", "M", C_RUN, "threading mode: gil, ft or ft-atomic (default gil)"},
    {"--modes", "M,M..", C_COMPARE, "modes to compare (default gil,ft,ft-atomic)"},
    {"--collector", "NAME", C_RUN, "cycle collector: stw, concurrent or concurrent-thread\n                       (the concurrent collector with a collector thread\n                       instead of assists; default stw)"},
    {"--collectors", "NAME,NAME..", C_COMPARE, "collectors to compare (default stw)"},
    {"--threads", "N", C_RUN, "worker threads (default: the workload's)"},
    {"--threads", "N,N..", C_COMPARE, "thread counts to compare (default: the workload's)"},
    {"--depth", "D", C_RUN | C_COMPARE, "tree depth (binary-trees)"},
    {"--live", "N", C_RUN | C_COMPARE, "live heap nodes (cycle-churn, latency-service)"},
    {"--cycles", "N", C_RUN | C_COMPARE, "rings built and dropped (cycle-churn)"},
    {"--requests", "N", C_RUN | C_COMPARE, "requests (latency-service, deepcopy-storm)"},
    {"--iterations", "N", C_RUN | C_COMPARE, "reads (shared-refs), operations (shared-objects)"},
    {"--items", "N", C_RUN | C_COMPARE,
     "items (handoff, finalizer-storm); services in the configuration\n"
     "                       (deepcopy-storm)"},
    {"--gc-threshold", "N0[,N1[,N2]]", C_RUN | C_COMPARE,
     "the collector's thresholds (rc_gc_set_threshold): N0 tracked\n"
     "                       allocations start a young collection (0: no automatic\n"
     "                       collection), N1 and N2 of the younger generation's\n"
     "                       collections an older one; those not given keep the\n"
     "                       runtime's defaults"},
    {"--gc-stress", "N", C_RUN | C_COMPARE,
     "collect every N tracked allocations (the generation the\n"
     "                       thresholds pick; rc_gc_set_stress; N >= 1), a torture test"},
    {"--gc-verify", NULL, C_RUN | C_COMPARE,
     "run the heap verifier around every collection\n"
     "                       (rc_gc_set_verify); a failure aborts"},
    {"--read", "HOW", C_RUN | C_COMPARE,
     "how a read takes the item (shared-refs, shared-objects): borrow\n"
     "                       (a borrowed reference, no count written; the\n"
     "                       default) or ref (a reference taken and dropped,\n"
     "                       as CPython 3.13t)"},
    {"--quick", NULL, C_RUN | C_COMPARE, "small sizes (the workload's quick defaults)"},
    {"--seed", "S", C_RUN | C_COMPARE, "random seed, decimal or 0x hex (default: the workload's)"},
    {"--trace", NULL, C_RUN | C_COMPARE, "one line per collection on stderr (or RCGC_TRACE=1)"},
    {"--json", "FILE", C_RUN | C_COMPARE, "write the JSON report (docs/report-schema.md)"},
    {"--hgrm", "FILE", C_RUN | C_REPORT,
     "write HdrHistogram .hgrm files (ms): stalls to FILE, op latency\n"
     "                       to STEM.ops.hgrm, GC pauses to STEM.gc.hgrm (STEM: FILE\n"
     "                       without a trailing .hgrm)"},
    {"--html", "FILE", C_RUN | C_COMPARE | C_REPORT,
     "write a self-contained HTML report: the table, a GC pause\n"
     "                       timeline and percentile curves (inline SVG)"},
    {"--load", "FILE.so", C_RUN | C_COMPARE | C_LIST,
     "load a library of workloads (rcgc/workload.h; repeatable):\n"
     "                       they run and report like the built-in ones"},
    {"--help", NULL, C_RUN | C_COMPARE | C_REPORT | C_LIST, "show this help"},
};
#define CLI_NFLAGS (sizeof cli_flags / sizeof cli_flags[0])

struct cli_cmd {
    const char *name;
    unsigned bit;
    const char *usage;
    const char *brief;   /* for `rcgc --help` */
    const char *what;
};

static const struct cli_cmd cli_cmds[] = {
    {"list", C_LIST, "rcgc list", "list the workloads",
     "List the workloads, their size flags and what they do."},
    {"run", C_RUN, "rcgc run WORKLOAD [flags]", "run a workload in one mode",
     "Run one workload in one mode and print throughput, stalls, GC pauses and\n"
     "operation latency."},
    {"compare", C_COMPARE, "rcgc compare WORKLOAD [flags]",
     "compare modes and thread counts side by side",
     "Run one workload in several modes and thread counts, each in its own process,\n"
     "and print them side by side."},
    {"report", C_REPORT, "rcgc report FILE.json [flags]", "print a saved JSON report",
     "Print the table of a saved JSON report (from run or compare --json)."},
};
#define CLI_NCMDS (sizeof cli_cmds / sizeof cli_cmds[0])

/* What the flags of one invocation said. */
struct cli_opts {
    const struct cli_cmd *cmd;
    const char *positional;      /* WORKLOAD or FILE */
    const rc_workload *workload;
    bool quick, trace;
    const char *json, *hgrm, *html;
    rc_mode modes[CLI_MAX_LIST];
    int nmodes;
    rc_collector_kind collectors[CLI_MAX_LIST];
    int ncollectors;
    long gc_threshold[RC_GC_GENERATIONS];   /* --gc-threshold: the first ngc_threshold */
    int ngc_threshold;
    const char *gc_threshold_arg;           /* as given, for compare's children */
    long gc_stress;                         /* --gc-stress N, 0 if not given */
    const char *gc_stress_arg;              /* as given, for compare's children */
    bool gc_verify;                         /* --gc-verify */
    int threads[CLI_MAX_LIST];
    int nthreads;
    uint64_t seed;
    bool seed_set;
    long sizes[CLI_MAX_SIZES];
    bool size_set[CLI_MAX_SIZES];
    int read;                    /* --read: enum wl_read, WL_READ_UNUSED if not given */
    const char *loads[CLI_MAX_LOADS];   /* --load, as given, for compare's children */
    int nloads;
};

/* The size flags of loaded workloads (cli_sizes past the built-in ones),
 * as flags of run and compare; filled by cli_load_all. */
static struct cli_flag cli_ext_flags[WL_MAX_EXT];
static size_t cli_next_flags;

static void cli_usage(FILE *f)
{
    fprintf(f,
            "usage: rcgc COMMAND [ARGS]\n"
            "Run rcgc's stress workloads in gil, ft and ft-atomic mode and report throughput,\n"
            "mutator stalls, GC pauses and operation latency.\n\n"
            "commands:\n");
    for (size_t i = 0; i < CLI_NCMDS; i++)
        fprintf(f, "  %-30s %s\n", cli_cmds[i].usage, cli_cmds[i].brief);
    fprintf(f,
            "  %-30s %s\n\n"
            "'rcgc COMMAND --help' shows a command's flags.  Exit status: 0 success, 1 a run\n"
            "failed or a file could not be read or written, 2 a usage error.\n",
            "rcgc help [COMMAND]", "this text, or a command's help");
}

static void cli_help(const struct cli_cmd *c)
{
    printf("usage: %s\n%s\n", c->usage, c->what);
    if (c->bit == C_RUN || c->bit == C_COMPARE) {
        printf("WORKLOAD: one of");
        for (size_t i = 0; wl_at(i) != NULL; i++)
            printf("%s %s", i ? "," : "", wl_at(i)->name);
        printf(" (see 'rcgc list').\n");
    }
    printf("\nflags:\n");
    for (size_t i = 0; i < CLI_NFLAGS; i++) {
        const struct cli_flag *fl = &cli_flags[i];
        if (!(fl->cmds & c->bit))
            continue;
        char lhs[40];
        snprintf(lhs, sizeof lhs, "%s%s%s", fl->name, fl->arg ? " " : "", fl->arg ? fl->arg : "");
        printf("  %-20s %s\n", lhs, fl->help);
    }
    for (size_t i = 0; i < cli_next_flags && (c->bit & (C_RUN | C_COMPARE)); i++) {
        char lhs[40];
        snprintf(lhs, sizeof lhs, "%s %s", cli_ext_flags[i].name, cli_ext_flags[i].arg);
        printf("  %-20s %s\n", lhs, cli_ext_flags[i].help);
    }
    if (c->bit == C_RUN || c->bit == C_COMPARE)
        printf("\nSize flags apply only to the workloads that use them ('rcgc list'); they\n"
               "override the defaults, or the --quick sizes.  Before anything runs, each\n"
               "size is checked against the workload's bound, and the memory the run would\n"
               "hold at its peak (estimated from figures measured per object) against the\n"
               "machine's: too much is a usage error.  Progress is drawn on stderr\n"
               "when it is a terminal.  Threaded runs are not exactly repeatable, even with\n"
               "the same seed.\n");
    if (c->bit == C_COMPARE)
        printf("Each configuration runs in a child process (rcgc run ... --json TMP), so\n"
               "peak RSS is per configuration.  The runs are every combination of --modes,\n"
               "--collectors and --threads; rows: thread counts, then collectors, then modes.\n");
    if (c->bit == C_REPORT)
        printf("\nThe table is re-rendered from the file alone: it matches what the run\n"
               "printed.  The JSON schema: docs/report-schema.md.\n");
    if (c->bit != C_LIST)
        printf("\nExit status: 0 success; 1 %s; 2 a usage error.\n",
               c->bit == C_REPORT ? "the file could not be read, or --hgrm/--html written"
                                  : "a run failed (verification, leak, crash) or an output\n"
                                    "could not be written");
}

/* A usage error: one line on stderr, exit 2. */
__attribute__((noreturn, format(printf, 2, 3))) static void cli_die_usage(
    const struct cli_cmd *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "rcgc%s%s: ", c ? " " : "", c ? c->name : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static const char *valid_flags(unsigned bit)
{
    static char buf[512];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < CLI_NFLAGS + cli_next_flags; i++) {
        const struct cli_flag *fl = i < CLI_NFLAGS ? &cli_flags[i] : &cli_ext_flags[i - CLI_NFLAGS];
        if (!(fl->cmds & bit))
            continue;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", len ? ", " : "", fl->name);
        if (len >= sizeof buf)
            break;
    }
    return buf;
}

static const char *valid_workloads(void)
{
    static char buf[512];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; wl_at(i) != NULL && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "",
                                wl_at(i)->name);
    return buf;
}

/* ------------------------------------------------------------- numbers */

static long parse_long(const struct cli_cmd *c, const char *flag, const char *v, long min,
                       long max)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || n < min || n > max || v[0] == ' ') {
        if (min == LONG_MIN && max == LONG_MAX)
            cli_die_usage(c, "%s needs an integer, not '%s'", flag, v);
        if (max == LONG_MAX)
            cli_die_usage(c, "%s needs an integer >= %ld, not '%s'", flag, min, v);
        cli_die_usage(c, "%s needs an integer in %ld..%ld, not '%s'", flag, min, max, v);
    }
    return n;
}

static uint64_t parse_seed(const struct cli_cmd *c, const char *v)
{
    char *end;
    errno = 0;
    bool hex = v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
    unsigned long long n = strtoull(v, &end, hex ? 16 : 10);   /* never octal */
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0)
        cli_die_usage(c, "--seed needs an unsigned 64-bit integer (decimal or 0x hex), not '%s'",
                      v);
    return (uint64_t)n;
}

static rc_mode parse_mode(const struct cli_cmd *c, const char *flag, const char *v)
{
    rc_mode m;
    if (rc_mode_from_name(v, &m) < 0) {
        rc_error_clear();
        cli_die_usage(c, "unknown mode '%s' for %s (valid: gil, ft, ft-atomic)", v, flag);
    }
    return m;
}

/* A collector name; one this build cannot run (rc_collector_check) would
 * be refused here, before anything runs, with the runtime's reason. */
static rc_collector_kind parse_collector(const struct cli_cmd *c, const char *flag, const char *v)
{
    rc_collector_kind k;
    if (rc_collector_from_name(v, &k) < 0) {
        rc_error_clear();
        cli_die_usage(c, "unknown collector '%s' for %s (valid: %s)", v, flag,
                      cli_collector_names());
    }
    if (rc_collector_check(k) < 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", rc_error_message());
        rc_error_clear();
        cli_die_usage(c, "%s %s: %s", flag, v, why);
    }
    return k;
}

static int parse_read(const struct cli_cmd *c, const char *flag, const char *v)
{
    int r = wl_read_from_name(v);
    if (r == WL_READ_UNUSED)
        cli_die_usage(c, "unknown read mode '%s' for %s (valid: %s)", v, flag, WL_READ_VALID);
    return r;
}

/* Split a comma-separated list into out[0..]; returns the count. */
static int split_list(const struct cli_cmd *c, const char *flag, const char *v, char *copy,
                      size_t copylen, char *items[CLI_MAX_LIST], const char *valid)
{
    snprintf(copy, copylen, "%s", v);
    int n = 0;
    char *p = copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        if (*p == '\0')
            cli_die_usage(c, "%s needs a comma-separated list of %s, not '%s'", flag, valid, v);
        if (n == CLI_MAX_LIST)
            cli_die_usage(c, "%s takes at most %d values, not '%s'", flag, CLI_MAX_LIST, v);
        items[n++] = p;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return n;
}

/* --gc-threshold N0[,N1[,N2]]: 1 to 3 integers >= 0 (rc_gc_set_threshold
 * refuses negative ones). */
static void parse_gc_threshold(const struct cli_cmd *c, const char *flag, const char *v,
                               struct cli_opts *o)
{
    static const char valid[] = "1 to 3 integers >= 0 (N0[,N1[,N2]])";
    char copy[256], *items[CLI_MAX_LIST];
    int n = split_list(c, flag, v, copy, sizeof copy, items, valid);
    if (n > RC_GC_GENERATIONS)
        cli_die_usage(c, "%s takes at most %d thresholds (N0[,N1[,N2]]), not '%s'", flag,
                      RC_GC_GENERATIONS, v);
    for (int g = 0; g < n; g++) {
        char *end;
        errno = 0;
        long t = strtol(items[g], &end, 10);
        if (items[g][0] < '0' || items[g][0] > '9' || *end != '\0' || errno != 0)
            cli_die_usage(c, "%s needs a comma-separated list of %s, not '%s'", flag, valid, v);
        o->gc_threshold[g] = t;
    }
    o->ngc_threshold = n;
    o->gc_threshold_arg = v;
}

/* ---------------------------------------------------------------- parse */

static const struct cli_flag *find_flag(unsigned bit, const char *name, size_t len)
{
    for (size_t i = 0; i < CLI_NFLAGS + cli_next_flags; i++) {
        const struct cli_flag *fl = i < CLI_NFLAGS ? &cli_flags[i] : &cli_ext_flags[i - CLI_NFLAGS];
        if ((fl->cmds & bit) && strlen(fl->name) == len && strncmp(fl->name, name, len) == 0)
            return fl;
    }
    return NULL;
}

static void cli_parse(const struct cli_cmd *c, int argc, char **argv, struct cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cmd = c;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0)
            a = "--help";
        if (a[0] != '-' || a[1] == '\0') {
            if (c->bit == C_LIST || o->positional != NULL)
                cli_die_usage(c, "unexpected argument '%s' (usage: %s)", a, c->usage);
            o->positional = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq != NULL ? (size_t)(eq - a) : strlen(a);
        const struct cli_flag *fl = a[1] == '-' ? find_flag(c->bit, a, len) : NULL;
        if (fl == NULL)
            cli_die_usage(c, "unknown flag '%.*s' (valid: %s)", (int)len, a, valid_flags(c->bit));
        const char *v = NULL;
        if (fl->arg != NULL) {
            if (eq != NULL)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else
                cli_die_usage(c, "%s needs a value (%s %s%s)", fl->name, fl->name, fl->arg,
                              strcmp(fl->name, "--gc-stress") == 0 ? ", an integer >= 1" : "");
        } else if (eq != NULL) {
            cli_die_usage(c, "%s takes no value, not '%s'", fl->name, eq + 1);
        }

        const char *n = fl->name;
        if (strcmp(n, "--help") == 0) {
            cli_help(c);
            exit(0);
        } else if (strcmp(n, "--html") == 0) {
            o->html = v;
        } else if (strcmp(n, "--mode") == 0) {
            o->modes[0] = parse_mode(c, n, v);
            o->nmodes = 1;
        } else if (strcmp(n, "--modes") == 0) {
            char copy[256], *items[CLI_MAX_LIST];
            o->nmodes = split_list(c, n, v, copy, sizeof copy, items, "gil, ft, ft-atomic");
            for (int k = 0; k < o->nmodes; k++)
                o->modes[k] = parse_mode(c, n, items[k]);
        } else if (strcmp(n, "--collector") == 0) {
            o->collectors[0] = parse_collector(c, n, v);
            o->ncollectors = 1;
        } else if (strcmp(n, "--collectors") == 0) {
            char copy[256], *items[CLI_MAX_LIST];
            o->ncollectors =
                split_list(c, n, v, copy, sizeof copy, items, cli_collector_names());
            for (int k = 0; k < o->ncollectors; k++)
                o->collectors[k] = parse_collector(c, n, items[k]);
        } else if (strcmp(n, "--gc-threshold") == 0) {
            parse_gc_threshold(c, n, v, o);
        } else if (strcmp(n, "--gc-stress") == 0) {
            o->gc_stress = parse_long(c, n, v, 1, LONG_MAX);
            o->gc_stress_arg = v;
        } else if (strcmp(n, "--gc-verify") == 0) {
            o->gc_verify = true;
        } else if (strcmp(n, "--threads") == 0 && c->bit == C_RUN) {
            o->threads[0] = (int)parse_long(c, n, v, 1, CLI_MAX_THREADS);
            o->nthreads = 1;
        } else if (strcmp(n, "--threads") == 0) {
            char copy[256], *items[CLI_MAX_LIST];
            char valid[64];
            snprintf(valid, sizeof valid, "integers in 1..%d", CLI_MAX_THREADS);
            o->nthreads = split_list(c, n, v, copy, sizeof copy, items, valid);
            for (int k = 0; k < o->nthreads; k++) {
                char *end;
                errno = 0;
                long t = strtol(items[k], &end, 10);
                if (*end != '\0' || errno != 0 || t < 1 || t > CLI_MAX_THREADS)
                    cli_die_usage(c, "%s needs a comma-separated list of %s, not '%s'", n, valid,
                                  v);
                o->threads[k] = (int)t;
            }
        } else if (strcmp(n, "--seed") == 0) {
            o->seed = parse_seed(c, v);
            o->seed_set = true;
        } else if (strcmp(n, "--read") == 0) {
            o->read = parse_read(c, n, v);
        } else if (strcmp(n, "--quick") == 0) {
            o->quick = true;
        } else if (strcmp(n, "--trace") == 0) {
            o->trace = true;
        } else if (strcmp(n, "--json") == 0) {
            o->json = v;
        } else if (strcmp(n, "--hgrm") == 0) {
            o->hgrm = v;
        } else if (strcmp(n, "--load") == 0) {
            /* Loaded already (cli_load_all); kept, once, for compare's
             * children. */
            bool seen = false;
            for (int k = 0; k < o->nloads; k++)
                seen = seen || strcmp(o->loads[k], v) == 0;
            if (!seen && o->nloads == CLI_MAX_LOADS)
                cli_die_usage(c, "--load: at most %d libraries", CLI_MAX_LOADS);
            if (!seen)
                o->loads[o->nloads++] = v;
        } else {
            int k = 0;
            while (k < cli_nsizes && strcmp(cli_sizes[k].flag, n) != 0)
                k++;
            if (k == cli_nsizes)   /* a flag in the table without a handler */
                cli_die_usage(c, "internal error: flag %s not handled", n);
            /* A loaded workload's size may allow 0 or less: its bounds
             * (cli_check_fits) say, naming the workload; a built-in one's
             * must be >= 1 (cli_need_workload). */
            o->sizes[k] = parse_long(c, n, v, LONG_MIN, LONG_MAX);
            o->size_set[k] = true;
        }
    }
}

/* Does the workload use this size flag?  size_flags lists them, separated
 * by spaces or commas. */
static bool uses_flag(const rc_workload *w, const char *flag)
{
    const char *s = w->size_flags != NULL ? w->size_flags : "";
    size_t len = strlen(flag);
    for (const char *p = strstr(s, flag); p != NULL; p = strstr(p + 1, flag)) {
        bool start = p == s || p[-1] == ' ' || p[-1] == ',';
        bool end = p[len] == '\0' || p[len] == ' ' || p[len] == ',';
        if (start && end)
            return true;
    }
    return false;
}

/* Does the workload use --read?  Its defaults then set a read mode. */
static bool uses_read(const rc_workload *w)
{
    wl_params p;
    wl_defaults(w, &p);
    return p.read != WL_READ_UNUSED;
}

static const char *read_workloads(void)
{
    static char buf[512];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; wl_at(i) != NULL && len < sizeof buf; i++)
        if (uses_read(wl_at(i)))
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", len ? ", " : "",
                                    wl_at(i)->name);
    return buf;
}

/* The workload named by the positional argument, checked against the size
 * flags and --read given. */
static void cli_need_workload(struct cli_opts *o)
{
    const struct cli_cmd *c = o->cmd;
    if (o->positional == NULL)
        cli_die_usage(c, "missing WORKLOAD (valid: %s)", valid_workloads());
    o->workload = wl_find(o->positional);
    if (o->workload == NULL)
        cli_die_usage(c, "unknown workload '%s' (valid: %s; one of a library: --load FILE.so)",
                      o->positional, valid_workloads());
    for (int k = 0; k < cli_nsizes; k++)
        if (o->size_set[k] && o->workload->loaded == NULL && o->sizes[k] < 1)
            cli_die_usage(c, "%s needs an integer >= 1, not '%ld'", cli_sizes[k].flag,
                          o->sizes[k]);
    for (int k = 0; k < cli_nsizes; k++)
        if (o->size_set[k] && !uses_flag(o->workload, cli_sizes[k].flag))
            cli_die_usage(c, "%s does not use %s (its size flags: %s)", o->workload->name,
                          cli_sizes[k].flag,
                          o->workload->size_flags && o->workload->size_flags[0]
                              ? o->workload->size_flags
                              : "none");
    if (o->read != WL_READ_UNUSED && !uses_read(o->workload))
        cli_die_usage(c, "%s does not use --read (workloads that do: %s)", o->workload->name,
                      read_workloads());
    int min = o->workload->min_threads > 1 ? o->workload->min_threads : 1;
    for (int k = 0; k < o->nthreads; k++)
        if (o->threads[k] < min)
            cli_die_usage(c, "%s needs --threads of at least %d (valid: %d..%d), not %d",
                          o->workload->name, min, min, CLI_MAX_THREADS, o->threads[k]);
}

/* Defaults, then --quick, then the flags. */
static wl_params cli_params(const struct cli_opts *o)
{
    wl_params p;
    wl_defaults(o->workload, &p);
    if (o->quick)
        wl_quick(o->workload, &p);
    if (o->nthreads > 0)
        p.threads = o->threads[0];
    if (o->seed_set)
        p.seed = o->seed;
    for (int k = 0; k < cli_nsizes; k++)
        if (o->size_set[k])
            cli_size_set(&p, k, o->sizes[k]);
    if (o->read != WL_READ_UNUSED)
        p.read = o->read;
    if (p.threads < 1)
        p.threads = 1;
    return p;
}

/* "14.6 TiB": bytes with a binary unit, 3 significant digits. */
static const char *fmt_bytes(char buf[32], double b)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (u < 6 && b >= 1024.0 * 0.9995) {
        b /= 1024.0;
        u++;
    }
    snprintf(buf, 32, "%.*f %s", u == 0 || b >= 99.95 ? 0 : b >= 9.995 ? 1 : 2, b, units[u]);
    return buf;
}

/* The generation-0 threshold a run will use: --gc-threshold's N0, else the
 * runtime's default, read (once) from a runtime made for the purpose
 * (rc_gc_get_threshold needs one), with RCGC_TRACE hidden from it so that
 * it prints nothing. */
static long cli_threshold0(const struct cli_opts *o)
{
    static long dflt = -1;
    if (o->ngc_threshold > 0)
        return o->gc_threshold[0];
    if (dflt >= 0)
        return dflt;
    const char *trace = getenv("RCGC_TRACE");
    char *saved = trace != NULL ? strdup(trace) : NULL;
    unsetenv("RCGC_TRACE");
    rc_config cfg = rc_config_default();
    rc_runtime *rt = rc_runtime_new(&cfg);
    long t[RC_GC_GENERATIONS];
    if (rt == NULL || rc_gc_get_threshold(t) < 0) {
        fprintf(stderr, "rcgc %s: reading the collector's default thresholds: %s\n", o->cmd->name,
                rc_error_message());
        exit(1);
    }
    long leaked = rc_runtime_free(rt);
    (void)leaked;
    if (saved != NULL && setenv("RCGC_TRACE", saved, 1) != 0) {
        fprintf(stderr, "rcgc %s: setenv RCGC_TRACE: %s\n", o->cmd->name, strerror(errno));
        exit(1);
    }
    free(saved);
    dflt = t[0];
    return dflt;
}

/* Before anything runs: the sizes within the workload's bounds, and the
 * memory the run would hold at its peak (rc_workload.peak_bytes, from the
 * figures measured in workloads/sizes.h) within the machine's physical
 * memory; a usage error naming the flags otherwise. */
static void cli_check_fits(const struct cli_opts *o, const wl_params *p)
{
    const struct cli_cmd *c = o->cmd;
    const rc_workload *w = o->workload;
    char msg[320];
    if (wl_check_sizes(w, p, msg, sizeof msg) < 0)
        cli_die_usage(c, "%s", msg);
    double have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    /* Threshold 0, every cycle kept to the end, needs the most: when even
     * that fits, the threshold in force need not be known. */
    if (!(have > 0) || WL_BASE_BYTES + wl_peak_bytes(w, p, 0) <= have)
        return;
    long t0 = cli_threshold0(o);
    double need = WL_BASE_BYTES + wl_peak_bytes(w, p, t0);
    if (need <= have)
        return;
    char flags[256], gc[48] = "", b1[32], b2[32];
    size_t len = 0;
    flags[0] = '\0';
    for (const wl_bound *b = w->bounds; b != NULL && b->flag != NULL && len < sizeof flags; b++)
        len += (size_t)snprintf(flags + len, sizeof flags - len, " %s %ld", b->flag,
                                *(const long *)(const void *)((const char *)p + b->offset));
    if (o->ngc_threshold > 0)
        snprintf(gc, sizeof gc, " and --gc-threshold %ld", t0);
    cli_die_usage(c, "%s%s with %d thread%s%s would need about %s of memory at its peak; this "
                     "machine has %s",
                  w->name, flags, p->threads, p->threads == 1 ? "" : "s", gc,
                  fmt_bytes(b1, need), fmt_bytes(b2, have));
}

/* ------------------------------------------------------------- commands */

static int cmd_list(const struct cli_opts *o)
{
    (void)o;
    printf("%-18s %-22s %s\n", "workload", "size flags", "description");
    const rc_workload *w;
    for (size_t i = 0; (w = wl_at(i)) != NULL; i++) {
        printf("%-18s %-22s %s", w->name, w->size_flags ? w->size_flags : "",
               w->description ? w->description : "");
        if (wl_source(w) != NULL)
            printf(" (--load %s)", wl_source(w));
        printf("\n");
    }
    return 0;
}

/* Progress on stderr only when it is a terminal, and not mixed into the
 * collector's trace lines. */
static bool cli_show_progress(const struct cli_opts *o)
{
    const char *t = getenv("RCGC_TRACE");
    bool tracing = o->trace || (t != NULL && t[0] != '\0' && t[0] != '0');
    return !tracing && isatty(STDERR_FILENO) == 1;
}

static int cmd_run(struct cli_opts *o)
{
    cli_need_workload(o);
    wl_params params = cli_params(o);
    cli_check_fits(o, &params);
    struct cli_run_opts ro = {
        .workload = o->workload,
        .mode = o->nmodes > 0 ? o->modes[0] : RC_MODE_GIL,
        .collector = o->ncollectors > 0 ? o->collectors[0] : RC_COLLECTOR_STW,
        .ngc_threshold = o->ngc_threshold,
        .gc_stress = o->gc_stress,
        .gc_verify = o->gc_verify,
        .params = params,
        .quick = o->quick,
        .trace = o->trace,
        .progress = cli_show_progress(o),
    };
    memcpy(ro.gc_threshold, o->gc_threshold, sizeof ro.gc_threshold);
    if (ro.progress)
        fprintf(stderr, "rcgc: %s, mode %s, collector %s, %d threads, seed %" PRIu64 "\n",
                o->workload->name, rc_mode_name(ro.mode), rc_collector_name(ro.collector),
                ro.params.threads, ro.params.seed);
    struct cli_run r;
    memset(&r, 0, sizeof r);
    int rc = cli_run_one(&ro, &r);
    if (rc < 0)
        fprintf(stderr, "rcgc run: %s\n", r.error);
    else if (!r.verified)
        fprintf(stderr, "rcgc run: verification failed: %s\n", r.summary);
    else if (r.leaked != 0)
        fprintf(stderr, "rcgc run: %ld objects leaked\n", r.leaked);
    cli_table_print(stdout, &r, 1);
    fflush(stdout);
    int status = rc == 0 ? 0 : 1;
    char err[512];
    if (o->json != NULL && cli_json_write(o->json, "run", &r, 1, err, sizeof err) < 0) {
        fprintf(stderr, "rcgc run: %s\n", err);
        status = 1;
    }
    if (o->hgrm != NULL && rc >= 0 && cli_write_hgrm(&r, o->hgrm, err, sizeof err) < 0) {
        fprintf(stderr, "rcgc run: %s\n", err);
        status = 1;
    }
    if (o->html != NULL && cli_html_write(o->html, "run", NULL, &r, 1, err, sizeof err) < 0) {
        fprintf(stderr, "rcgc run: %s\n", err);
        status = 1;
    }
    cli_run_fini(&r);
    return status;
}

/* The signal that interrupted `compare` (SIGINT, SIGTERM, SIGHUP), or 0. */
static volatile sig_atomic_t cli_interrupted;

static void cli_on_signal(int sig)
{
    cli_interrupted = sig;
}

/* Run one configuration in a child: `rcgc run ... --json TMP` (tools/child.h).
 * Fills *out from the child's JSON, or with an error row.  0 if the run
 * succeeded. */
static int compare_one(const struct cli_opts *o, rc_mode mode, rc_collector_kind collector,
                       int threads, struct cli_run *out)
{
    char *argv[32 + 2 * CLI_MAX_SIZES + 2 * CLI_MAX_LOADS];
    char sbuf[CLI_MAX_SIZES][32], tbuf[16], seedbuf[32];
    int n = 0;
    argv[n++] = "rcgc";
    argv[n++] = "run";
    argv[n++] = (char *)o->workload->name;
    for (int k = 0; k < o->nloads; k++) {
        argv[n++] = "--load";
        argv[n++] = (char *)o->loads[k];
    }
    argv[n++] = "--mode";
    argv[n++] = (char *)rc_mode_name(mode);
    argv[n++] = "--collector";
    argv[n++] = (char *)rc_collector_name(collector);
    snprintf(tbuf, sizeof tbuf, "%d", threads);
    argv[n++] = "--threads";
    argv[n++] = tbuf;
    if (o->quick)
        argv[n++] = "--quick";
    if (o->trace)
        argv[n++] = "--trace";
    if (o->seed_set) {
        snprintf(seedbuf, sizeof seedbuf, "%" PRIu64, o->seed);
        argv[n++] = "--seed";
        argv[n++] = seedbuf;
    }
    for (int k = 0; k < cli_nsizes; k++) {
        if (!o->size_set[k])
            continue;
        snprintf(sbuf[k], sizeof sbuf[k], "%ld", o->sizes[k]);
        argv[n++] = (char *)cli_sizes[k].flag;
        argv[n++] = sbuf[k];
    }
    if (o->read != WL_READ_UNUSED) {
        argv[n++] = "--read";
        argv[n++] = (char *)wl_read_name(o->read);
    }
    if (o->gc_threshold_arg != NULL) {
        argv[n++] = "--gc-threshold";
        argv[n++] = (char *)o->gc_threshold_arg;
    }
    if (o->gc_stress_arg != NULL) {
        argv[n++] = "--gc-stress";
        argv[n++] = (char *)o->gc_stress_arg;
    }
    if (o->gc_verify)
        argv[n++] = "--gc-verify";
    argv[n] = NULL;

    /* The child's table is not wanted: the parent prints them together. */
    struct child ch = {.path = "/proc/self/exe", .argv = argv, .interrupted = &cli_interrupted};
    struct cli_run *runs = NULL;
    size_t nruns = 0;
    char err[512], how[96] = "";
    int rc = -1;
    bool ran = child_run(&ch, err, sizeof err) == 0;
    if (ran && child_failure(&ch, how, sizeof how)[0] == '\0' &&
        cli_json_read(ch.json, &runs, &nruns, err, sizeof err) == 0 && nruns == 1) {
        *out = runs[0];
        rc = out->error[0] == '\0' && out->verified && out->leaked == 0 ? 0 : -1;
    } else {
        snprintf(out->workload, sizeof out->workload, "%s", o->workload->name);
        snprintf(out->mode, sizeof out->mode, "%s", rc_mode_name(mode));
        snprintf(out->collector, sizeof out->collector, "%s", rc_collector_name(collector));
        out->params = cli_params(o);
        out->params.threads = threads;
        out->quick = o->quick;
        if (!ran)
            snprintf(out->error, sizeof out->error, "%.200s", err);
        else if (how[0] != '\0')
            snprintf(out->error, sizeof out->error, "the child process %s", how);
        else if (nruns != 1 && runs != NULL)
            snprintf(out->error, sizeof out->error, "the child wrote %zu runs, not 1", nruns);
        else
            snprintf(out->error, sizeof out->error, "reading the child's report: %.200s", err);
        for (size_t i = 0; i < nruns; i++)
            cli_run_fini(&runs[i]);
    }
    free(runs);
    child_done(&ch);
    return rc;
}

static int cmd_compare(struct cli_opts *o)
{
    cli_need_workload(o);
    if (o->nmodes == 0) {
        for (int m = 0; m < RC_MODE_COUNT; m++)
            o->modes[m] = (rc_mode)m;
        o->nmodes = RC_MODE_COUNT;
    }
    if (o->ncollectors == 0) {
        o->collectors[0] = RC_COLLECTOR_STW;
        o->ncollectors = 1;
    }
    if (o->nthreads == 0) {
        o->threads[0] = cli_params(o).threads;
        o->nthreads = 1;
    }
    for (int t = 0; t < o->nthreads; t++) {
        wl_params p = cli_params(o);
        p.threads = o->threads[t];
        cli_check_fits(o, &p);
    }
    size_t n = (size_t)o->nmodes * (size_t)o->ncollectors * (size_t)o->nthreads, k = 0;
    struct cli_run *runs = calloc(n, sizeof *runs);
    if (runs == NULL) {
        fprintf(stderr, "rcgc compare: out of memory\n");
        return 1;
    }
    bool tty = cli_show_progress(o);
    int status = 0;
    /* Interrupted: let the current child end, remove its temporary file,
     * then die of the same signal.  No SA_RESTART, so waitpid sees it. */
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa = {.sa_handler = cli_on_signal};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    /* The cross product: thread counts, then collectors, then modes. */
    for (int t = 0; t < o->nthreads; t++) {
        for (int c = 0; c < o->ncollectors; c++) {
            for (int m = 0; m < o->nmodes && cli_interrupted == 0; m++, k++) {
                rc_collector_kind col = o->collectors[c];
                if (tty)
                    fprintf(stderr, "rcgc compare: [%zu/%zu] %s, mode %s, collector %s, %d "
                                    "threads\n",
                            k + 1, n, o->workload->name, rc_mode_name(o->modes[m]),
                            rc_collector_name(col), o->threads[t]);
                if (compare_one(o, o->modes[m], col, o->threads[t], &runs[k]) != 0)
                    status = 1;
            }
        }
    }
    if (cli_interrupted != 0) {
        int sig = cli_interrupted;
        fprintf(stderr, "rcgc compare: interrupted (%s)\n", strsignal(sig));
        signal(sig, SIG_DFL);
        raise(sig);
        return 128 + sig;
    }
    cli_table_print(stdout, runs, n);
    fflush(stdout);
    char err[512];
    if (o->json != NULL && cli_json_write(o->json, "compare", runs, n, err, sizeof err) < 0) {
        fprintf(stderr, "rcgc compare: %s\n", err);
        status = 1;
    }
    if (o->html != NULL && cli_html_write(o->html, "compare", NULL, runs, n, err, sizeof err) < 0) {
        fprintf(stderr, "rcgc compare: %s\n", err);
        status = 1;
    }
    for (size_t i = 0; i < n; i++)
        cli_run_fini(&runs[i]);
    free(runs);
    return status;
}

static int cmd_report(struct cli_opts *o)
{
    if (o->positional == NULL)
        cli_die_usage(o->cmd, "missing FILE.json (usage: %s)", o->cmd->usage);
    struct cli_run *runs = NULL;
    size_t n = 0;
    char err[512];
    if (cli_json_read(o->positional, &runs, &n, err, sizeof err) < 0) {
        fprintf(stderr, "rcgc report: %s\n", err);
        return 1;
    }
    int status = 0;
    if (o->hgrm != NULL && n != 1) {
        fprintf(stderr, "rcgc report: --hgrm needs a report of one run; %s holds %zu\n",
                o->positional, n);
        status = 1;
    }
    cli_table_print(stdout, runs, n);
    if (status == 0 && o->hgrm != NULL && cli_write_hgrm(&runs[0], o->hgrm, err, sizeof err) < 0) {
        fprintf(stderr, "rcgc report: %s\n", err);
        status = 1;
    }
    if (o->html != NULL) {
        char command[16], created[64];
        cli_json_meta(o->positional, command, sizeof command, created, sizeof created);
        if (cli_html_write(o->html, command[0] != '\0' ? command : "report", created, runs, n, err,
                           sizeof err) < 0) {
            fprintf(stderr, "rcgc report: %s\n", err);
            status = 1;
        }
    }
    for (size_t i = 0; i < n; i++)
        cli_run_fini(&runs[i]);
    free(runs);
    return status;
}

/* Load every --load FILE.so before the flags are parsed (a loaded
 * workload's size flags are flags of run and compare), and make its sizes
 * flags.  A library that cannot be loaded is a usage error.  The values
 * are taken as cli_parse will take them; a --load without one is left for
 * it to report. */
static void cli_load_all(const struct cli_cmd *c, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *path = NULL;
        if (strcmp(argv[i], "--load") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--load=", 7) == 0)
            path = argv[i] + 7;
        else
            continue;
        char err[512];
        if (wl_load(path, err, sizeof err) < 0)
            cli_die_usage(c, "%s", err);
    }
    cli_sizes_sync();
    for (int k = CLI_NBUILTIN_SIZES + (int)cli_next_flags; k < cli_nsizes; k++) {
        const char *help = wl_size_help(cli_sizes[k].key);
        cli_ext_flags[cli_next_flags++] = (struct cli_flag){
            cli_sizes[k].flag, "N", C_RUN | C_COMPARE,
            help != NULL && help[0] != '\0' ? help : "a size of a loaded workload"};
    }
}

static const struct cli_cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < CLI_NCMDS; i++)
        if (strcmp(cli_cmds[i].name, name) == 0)
            return &cli_cmds[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        cli_usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0) {
        printf("rcgc %s\n", RCGC_VERSION);
        return 0;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            cli_usage(stdout);
            return 0;
        }
        const struct cli_cmd *c = find_cmd(argv[2]);
        if (c == NULL)
            cli_die_usage(NULL, "unknown command '%s' (valid: list, run, compare, report, help)",
                          argv[2]);
        cli_help(c);
        return 0;
    }
    const struct cli_cmd *c = find_cmd(name);
    if (c == NULL)
        cli_die_usage(NULL, "unknown command '%s' (valid: list, run, compare, report, help)",
                      name);
    if ((c->bit & (C_LIST | C_RUN | C_COMPARE)) != 0)
        cli_load_all(c, argc - 2, argv + 2);
    struct cli_opts o;
    cli_parse(c, argc - 2, argv + 2, &o);
    /* A bad value in a variable the runtime reads (RCGC_GC_STRESS, ...) is
     * a usage error before anything runs, not a failed run per
     * configuration. */
    if ((c->bit & (C_RUN | C_COMPARE)) != 0 && rc_check_environment() < 0)
        cli_die_usage(c, "%s", rc_error_message());
    switch (c->bit) {
    case C_LIST:
        return cmd_list(&o);
    case C_RUN:
        return cmd_run(&o);
    case C_COMPARE:
        return cmd_compare(&o);
    default:
        return cmd_report(&o);
    }
}
