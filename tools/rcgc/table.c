/* tools/rcgc/table.c: the terminal table of one or more runs.
 *
 * Drawn only from fields the JSON report holds (see cli.h), so that a run
 * and `rcgc report` of its JSON print the same text.  Three parts: a
 * throughput table (one row per run), a latency table (per run: sensor
 * stalls, GC pauses, operation latency when the workload has operations)
 * and one verification line per run.  A header line names the workload,
 * its sizes, read mode (shared-refs) and seed, again whenever they change
 * from one run to the next.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

const char *cli_fmt_ns(char buf[32], uint64_t ns)
{
    double v = (double)ns;
    if (ns < 1000)
        snprintf(buf, 32, "%" PRIu64 "ns", ns);
    else if (v < 1e6)
        snprintf(buf, 32, "%.*fus", v < 1e4 ? 2 : v < 1e5 ? 1 : 0, v / 1e3);
    else if (v < 1e9)
        snprintf(buf, 32, "%.*fms", v < 1e7 ? 2 : v < 1e8 ? 1 : 0, v / 1e6);
    else
        snprintf(buf, 32, "%.2fs", v / 1e9);
    return buf;
}

const char *cli_run_label(char buf[48], const struct cli_run *r)
{
    snprintf(buf, 48, "%s %s x%d", r->mode, r->collector, r->params.threads);
    return buf;
}

const char *cli_collector_names(void)
{
    static char buf[128];
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < RC_COLLECTOR_COUNT && len < sizeof buf; k++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", k > 0 ? ", " : "",
                                rc_collector_name((rc_collector_kind)k));
    return buf;
}

bool cli_same_setup(const struct cli_run *a, const struct cli_run *b)
{
    if (strcmp(a->workload, b->workload) != 0 || a->quick != b->quick ||
        a->params.seed != b->params.seed || a->params.read != b->params.read)
        return false;
    /* Unknown thresholds (an old report, a compare child that failed)
     * differ from none. */
    if (a->gc_threshold_known && b->gc_threshold_known &&
        memcmp(a->gc_threshold, b->gc_threshold, sizeof a->gc_threshold) != 0)
        return false;
    if (a->gc_stress != b->gc_stress || a->gc_verify != b->gc_verify ||
        a->gc_verify_amortized != b->gc_verify_amortized)
        return false;
    for (int i = 0; i < cli_nsizes; i++)
        if (cli_size_get(&a->params, i) != cli_size_get(&b->params, i) ||
            cli_size_used(&a->params, i) != cli_size_used(&b->params, i))
            return false;
    return true;
}

/* "depth 16, seed 12345" ... (cli.h).  Truncated to fit n bytes. */
const char *cli_setup_text(char *buf, size_t n, const struct cli_run *r)
{
    size_t len = 0;
    const char *sep = "";
#define SETUP_ADD(...)                                                          \
    do {                                                                        \
        if (len < n)                                                            \
            len += (size_t)snprintf(buf + len, n - len, __VA_ARGS__);           \
    } while (0)
    buf[0] = '\0';
    for (int i = 0; i < cli_nsizes; i++) {
        if (cli_size_used(&r->params, i)) {
            SETUP_ADD("%s%s %ld", sep, cli_sizes[i].key, cli_size_get(&r->params, i));
            sep = ", ";
        }
    }
    if (wl_read_name(r->params.read) != NULL) {
        SETUP_ADD("%sread %s", sep, wl_read_name(r->params.read));
        sep = ", ";
    }
    if (r->gc_threshold_known) {
        SETUP_ADD("%sgc thresholds %ld/%ld/%ld", sep, r->gc_threshold[0], r->gc_threshold[1],
                  r->gc_threshold[2]);
        sep = ", ";
    }
    /* "gc stress 1, verify", "gc stress 1" or "gc verify" when on;
     * "verify amortized" for RC_GC_VERIFY_AMORTIZED. */
    if (r->gc_stress > 0) {
        SETUP_ADD("%sgc stress %ld", sep, r->gc_stress);
        sep = ", ";
    }
    if (r->gc_verify) {
        SETUP_ADD("%s%s%s", sep, r->gc_stress > 0 ? "verify" : "gc verify",
                  r->gc_verify_amortized ? " amortized" : "");
        sep = ", ";
    }
    SETUP_ADD("%sseed %" PRIu64 "%s", sep, r->params.seed, r->quick ? " (quick sizes)" : "");
#undef SETUP_ADD
    return buf;
}

static void print_header(FILE *f, const struct cli_run *r)
{
    char setup[512];
    fprintf(f, "%s: %s\n", r->workload, cli_setup_text(setup, sizeof setup, r));
}

static void throughput_table(FILE *f, const struct cli_run *runs, size_t n)
{
    fprintf(f, "%-10s %-17s %7s %9s %13s %8s %10s %10s %6s %7s %s\n", "mode", "collector",
            "threads", "wall s", "ops/s", "cpu s", "peak RSS", "GIL wait s", "GCs", "leaked",
            "verified");
    for (size_t i = 0; i < n; i++) {
        const struct cli_run *r = &runs[i];
        if (i > 0 && !cli_same_setup(r, &runs[i - 1])) {
            fprintf(f, "\n");
            print_header(f, r);
        }
        if (r->error[0] != '\0') {
            fprintf(f, "%-10s %-17s %7d  FAILED: %s\n", r->mode, r->collector, r->params.threads,
                    r->error);
            continue;
        }
        char rss[32];
        snprintf(rss, sizeof rss, "%.1f MB", (double)r->peak_rss_kb / 1024.0);
        fprintf(f, "%-10s %-17s %7d %9.3f %13.0f %8.3f %10s %10.3f %6zu %7ld %s\n", r->mode,
                r->collector, r->params.threads, r->wall_s, r->ops_per_s, r->cpu_s, rss,
                (double)r->gil.wait_ns * 1e-9, r->ngc, r->leaked,
                r->verified ? "ok" : "FAILED");
    }
}

/* The row of one distribution; r NULL: a further row of the same run. */
static void latency_row(FILE *f, const struct cli_run *r, const char *what,
                        const struct cli_pcts *p)
{
    char b[6][32];
    if (r != NULL)
        fprintf(f, "%-10s %-17s %7d  %-9s", r->mode, r->collector, r->params.threads, what);
    else
        fprintf(f, "%-10s %-17s %7s  %-9s", "", "", "", what);
    if (p->count == 0) {
        fprintf(f, " %9d %9s %9s %9s %9s %9s\n", 0, "-", "-", "-", "-", "-");
        return;
    }
    fprintf(f, " %9" PRIu64 " %9s %9s %9s %9s %9s\n", p->count, cli_fmt_ns(b[0], p->p50),
            cli_fmt_ns(b[1], p->p90), cli_fmt_ns(b[2], p->p99), cli_fmt_ns(b[3], p->p999),
            cli_fmt_ns(b[4], p->max));
}

static void latency_table(FILE *f, const struct cli_run *runs, size_t n)
{
    fprintf(f, "%-10s %-17s %7s  %-9s %9s %9s %9s %9s %9s %9s\n", "mode", "collector", "threads",
            "latency", "count", "p50", "p90", "p99", "p99.9", "max");
    for (size_t i = 0; i < n; i++) {
        const struct cli_run *r = &runs[i];
        if (r->error[0] != '\0')
            continue;
        latency_row(f, r, "stall", &r->pct[CLI_LAT_SENSOR]);
        latency_row(f, NULL, "gc pause", &r->pct[CLI_LAT_GC_PAUSE]);
        if (r->pct[CLI_LAT_OPS].count > 0)
            latency_row(f, NULL, "op", &r->pct[CLI_LAT_OPS]);
    }
}

void cli_table_print(FILE *f, const struct cli_run *runs, size_t n)
{
    if (n == 0) {
        fprintf(f, "(no runs)\n");
        return;
    }
    print_header(f, &runs[0]);
    throughput_table(f, runs, n);
    fprintf(f, "\n");
    latency_table(f, runs, n);
    fprintf(f, "(stall: how late a 1 ms sleeper woke; gc pause: world stopped per collection)\n\n");
    for (size_t i = 0; i < n; i++) {
        const struct cli_run *r = &runs[i];
        char lb[48];
        cli_run_label(lb, r);
        if (r->error[0] != '\0')
            fprintf(f, "%s: FAILED: %s\n", lb, r->error);
        else
            fprintf(f, "%s: %s: %s%s\n", lb,
                    r->verified ? "verified" : "VERIFICATION FAILED", r->summary,
                    r->leaked != 0 ? "; LEAKED objects" : "");
    }
}
