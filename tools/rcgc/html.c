/* tools/rcgc/html.c: the HTML report of one or more runs (--html FILE).
 *
 * One self-contained page: inline CSS and inline SVG drawn here, no
 * JavaScript, no fonts, scripts or images fetched from anywhere.  Drawn
 * from the same struct cli_run fields as the terminal table (and so from
 * what the JSON report holds), so `rcgc report FILE.json --html OUT` gives
 * the page `rcgc run/compare --html` gave for the same data.  Contents:
 *
 *   - a title: workload, sizes, seed, the date (the JSON's "created" for
 *     report, else the time of writing) and the command;
 *   - the table: throughput, latency and verification, the same numbers
 *     and formats as the terminal table (table.c);
 *   - <svg id="pause-timeline">: every collection of every run, x = its
 *     start since the run's origin (s, linear), y = its pause (log); one
 *     <g class="series" data-run="ft stw x2" data-count="N"> of
 *     <circle class="mark"> per run; a run whose collections ended
 *     concurrent cycles also has <g class="cycles" data-run=...
 *     data-count="K">, one <line class="cycle"> per cycle, at the height
 *     of the pause that ended it, from when the cycle began to the end of
 *     the collection that ended it (the span of the trace line's "over";
 *     the world ran for all of it but that collection's stops), its
 *     tooltip saying how much concurrent work the passes took;
 *   - <svg id="percentiles-stall">, "percentiles-gc-pause" and (when a run
 *     recorded operations) "percentiles-op": HdrHistogram-plot style
 *     percentile curves, x = 1/(1-p) on a log axis (0%, 90%, 99%, ...),
 *     y = latency on a log axis; one <path class="curve" data-run=...
 *     data-count=...> per run that has samples, a step curve through the
 *     histogram's slots.
 *
 * Every chart has a legend; a run without data says so ("no collections",
 * "no samples") instead of drawing nothing silently.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* Chart geometry (SVG user units). */
#define CH_W 960.0
#define CH_H 380.0
#define CH_LEFT 78.0
#define CH_RIGHT 230.0 /* legend column */
#define CH_TOP 34.0
#define CH_BOTTOM 56.0
#define PLOT_X0 CH_LEFT
#define PLOT_X1 (CH_W - CH_RIGHT)
#define PLOT_Y0 CH_TOP
#define PLOT_Y1 (CH_H - CH_BOTTOM)

/* The percentile axis goes at most to 99.99999% (10^7). */
#define PCT_MAX_DECADES 7

static const char *const palette[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
};
#define NPALETTE (sizeof palette / sizeof palette[0])

static const char *run_color(size_t i)
{
    return palette[i % NPALETTE];
}

/* Text into HTML (element content and attribute values alike). */
static void esc(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f); break;
        }
    }
}

/* "depth 10, seed 42 (quick sizes)" */
/* ----------------------------------------------------------------- table */

/* The cells that name a run: mode, collector, threads. */
static void run_cells(FILE *f, const struct cli_run *r)
{
    fputs("<td>", f);
    esc(f, r->mode);
    fputs("</td><td>", f);
    esc(f, r->collector);
    fprintf(f, "</td><td>%d</td>", r->params.threads);
}

static void throughput_table(FILE *f, const struct cli_run *runs, size_t n)
{
    fputs("<table id=\"throughput\">\n<caption>Throughput</caption>\n<thead><tr><th>mode</th>"
          "<th>collector</th><th>threads</th><th>wall s</th><th>ops/s</th><th>cpu s</th><th>peak RSS</th>"
          "<th>GIL wait s</th><th>GCs</th><th>leaked</th><th>verified</th></tr></thead>\n<tbody>\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const struct cli_run *r = &runs[i];
        char lb[48];
        fputs("<tr class=\"run\" data-run=\"", f);
        esc(f, cli_run_label(lb, r));
        fputs("\">", f);
        run_cells(f, r);
        if (r->error[0] != '\0') {
            fputs("<td colspan=\"8\" class=\"bad\">FAILED: ", f);
            esc(f, r->error);
            fputs("</td></tr>\n", f);
            continue;
        }
        fprintf(f,
                "<td>%.3f</td><td>%.0f</td><td>%.3f</td><td>%.1f MB</td><td>%.3f</td>"
                "<td>%zu</td><td>%ld</td><td class=\"%s\">%s</td></tr>\n",
                r->wall_s, r->ops_per_s, r->cpu_s, (double)r->peak_rss_kb / 1024.0,
                (double)r->gil.wait_ns * 1e-9, r->ngc, r->leaked, r->verified ? "ok" : "bad",
                r->verified ? "ok" : "FAILED");
    }
    fputs("</tbody>\n</table>\n", f);
}

static void latency_row(FILE *f, const struct cli_run *r, const char *what,
                        const struct cli_pcts *p, bool first)
{
    char lb[48], b[5][32];
    fputs("<tr class=\"lat\" data-run=\"", f);
    esc(f, cli_run_label(lb, r));
    fprintf(f, "\" data-latency=\"%s\">", what);
    if (first)
        run_cells(f, r);
    else
        fputs("<td></td><td></td><td></td>", f);
    fprintf(f, "<td>%s</td>", what);
    if (p->count == 0) {
        fputs("<td>0</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td></tr>\n", f);
        return;
    }
    fprintf(f,
            "<td>%" PRIu64 "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
            p->count, cli_fmt_ns(b[0], p->p50), cli_fmt_ns(b[1], p->p90), cli_fmt_ns(b[2], p->p99),
            cli_fmt_ns(b[3], p->p999), cli_fmt_ns(b[4], p->max));
}

static void latency_table(FILE *f, const struct cli_run *runs, size_t n)
{
    fputs("<table id=\"latency\">\n<caption>Latency</caption>\n<thead><tr><th>mode</th>"
          "<th>collector</th><th>threads</th><th>latency</th><th>count</th><th>p50</th><th>p90</th><th>p99</th>"
          "<th>p99.9</th><th>max</th></tr></thead>\n<tbody>\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const struct cli_run *r = &runs[i];
        if (r->error[0] != '\0')
            continue;
        latency_row(f, r, "stall", &r->pct[CLI_LAT_SENSOR], true);
        latency_row(f, r, "gc pause", &r->pct[CLI_LAT_GC_PAUSE], false);
        if (r->pct[CLI_LAT_OPS].count > 0)
            latency_row(f, r, "op", &r->pct[CLI_LAT_OPS], false);
    }
    fputs("</tbody>\n</table>\n<p class=\"note\">stall: how late a 1 ms sleeper woke; gc pause: "
          "world stopped per collection; op: the workload&#39;s per-operation latency.</p>\n",
          f);
}

static void verification_list(FILE *f, const struct cli_run *runs, size_t n)
{
    fputs("<ul id=\"verification\">\n", f);
    for (size_t i = 0; i < n; i++) {
        const struct cli_run *r = &runs[i];
        char lb[48];
        bool ok = r->error[0] == '\0' && r->verified && r->leaked == 0;
        fprintf(f, "<li class=\"%s\">", ok ? "ok" : "bad");
        esc(f, cli_run_label(lb, r));
        fputs(": ", f);
        if (r->error[0] != '\0') {
            fputs("FAILED: ", f);
            esc(f, r->error);
        } else {
            fputs(r->verified ? "verified: " : "VERIFICATION FAILED: ", f);
            esc(f, r->summary);
            if (r->leaked != 0)
                fputs("; LEAKED objects", f);
        }
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
}

/* ---------------------------------------------------------------- charts */

/* A log10 axis over [lo, hi] decades mapped to [p0, p1] pixels. */
struct logax {
    double lo, hi;
    double p0, p1;
};

static double ax_map(const struct logax *a, double decade)
{
    if (decade < a->lo)
        decade = a->lo;
    if (decade > a->hi)
        decade = a->hi;
    return a->p0 + (decade - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* log10 of a latency in ns (0 counts as 1 ns). */
static double ns_decade(uint64_t ns)
{
    return log10(ns < 1 ? 1.0 : (double)ns);
}

/* The y axis of latencies lo_ns..hi_ns: whole decades around them. */
static struct logax ns_axis(uint64_t lo_ns, uint64_t hi_ns)
{
    struct logax a = {floor(ns_decade(lo_ns)), ceil(ns_decade(hi_ns)), PLOT_Y1, PLOT_Y0};
    if (a.hi <= a.lo)
        a.hi = a.lo + 1;
    return a;
}

/* "1ns", "10us", "100ms", "1s", "10s" for 10^k ns. */
static const char *decade_label(char buf[32], int k)
{
    static const char *const units[] = {"ns", "us", "ms", "s"};
    int u = k / 3 > 3 ? 3 : k / 3;
    int rest = k - 3 * u;
    double v = pow(10.0, rest);
    snprintf(buf, 32, "%.0f%s", v, units[u]);
    return buf;
}

static void svg_open(FILE *f, const char *id, const char *title)
{
    fprintf(f,
            "<figure>\n<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
            "viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
            "aria-label=\"",
            id, CH_W, CH_H, CH_W, CH_H);
    esc(f, title);
    fputs("\">\n", f);
    fprintf(f, "<text class=\"title\" x=\"%.1f\" y=\"20\">", (PLOT_X0 + PLOT_X1) / 2);
    esc(f, title);
    fputs("</text>\n", f);
    fprintf(f,
            "<rect class=\"plot\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
            PLOT_X0, PLOT_Y0, PLOT_X1 - PLOT_X0, PLOT_Y1 - PLOT_Y0);
}

static void svg_close(FILE *f)
{
    fputs("</svg>\n</figure>\n", f);
}

/* Horizontal grid lines and labels of a latency axis, and its title. */
static void y_latency_axis(FILE *f, const struct logax *y, const char *label)
{
    char b[32];
    for (int k = (int)y->lo; k <= (int)y->hi; k++) {
        double py = ax_map(y, k);
        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text class=\"tick y\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                PLOT_X0, py, PLOT_X1, py, PLOT_X0 - 6, py + 4, decade_label(b, k));
    }
    fprintf(f,
            "<text class=\"axis-label\" transform=\"translate(18,%.1f) rotate(-90)\">",
            (PLOT_Y0 + PLOT_Y1) / 2);
    esc(f, label);
    fputs("</text>\n", f);
}

static void x_axis_label(FILE *f, const char *label)
{
    fprintf(f, "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\">", (PLOT_X0 + PLOT_X1) / 2,
            CH_H - 12);
    esc(f, label);
    fputs("</text>\n", f);
}

/* A message in the middle of an empty plot. */
static void plot_message(FILE *f, const char *msg)
{
    fprintf(f, "<text class=\"empty\" x=\"%.1f\" y=\"%.1f\">", (PLOT_X0 + PLOT_X1) / 2,
            (PLOT_Y0 + PLOT_Y1) / 2);
    esc(f, msg);
    fputs("</text>\n", f);
}

/* One legend entry per run; note says why a run has no data, or NULL. */
static void legend_entry(FILE *f, size_t slot, size_t run_index, const struct cli_run *r,
                         const char *note)
{
    char lb[48];
    double x = PLOT_X1 + 16, y = PLOT_Y0 + 10 + 20.0 * (double)slot;
    fputs("<g class=\"legend-entry\" data-run=\"", f);
    esc(f, cli_run_label(lb, r));
    fprintf(f,
            "\"><rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/>"
            "<text class=\"legend\" x=\"%.1f\" y=\"%.1f\">",
            x, y - 2, run_color(run_index), x + 20, y + 4);
    esc(f, lb);
    if (note != NULL) {
        fputs(" (", f);
        esc(f, note);
        fputs(")", f);
    }
    fputs("</text></g>\n", f);
}

/* A "nice" upper bound for a linear axis: 1, 2 or 5 times a power of ten. */
static double nice_ceil(double v, double *step)
{
    if (!(v > 0))
        v = 1e-3;
    double p = pow(10.0, floor(log10(v)));
    double m = v / p;
    double top = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
    *step = top * p / (top == 1 || top == 10 ? 5 : top == 2 ? 4 : 5);
    return top * p;
}

static void pause_timeline(FILE *f, const struct cli_run *runs, size_t n)
{
    uint64_t lo = UINT64_MAX, hi = 0, tmax = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cli_run *r = &runs[i];
        if (r->error[0] != '\0')
            continue;
        uint64_t wall = (uint64_t)(r->wall_s * 1e9);
        if (wall > tmax)
            tmax = wall;
        for (size_t j = 0; j < r->ngc; j++) {
            const rc_gc_record *g = &r->gc[j];
            if (g->local)
                continue;   /* stopped nobody: no pause to plot */
            lo = g->pause_ns < lo ? g->pause_ns : lo;
            hi = g->pause_ns > hi ? g->pause_ns : hi;
            tmax = g->end_ns > tmax ? g->end_ns : tmax;
            total++;
        }
    }
    svg_open(f, "pause-timeline", "GC pauses over time (one mark per collection)");
    if (total == 0) {
        lo = 1000;
        hi = 1000000;
    }
    struct logax y = ns_axis(lo, hi);
    y_latency_axis(f, &y, "GC pause (log)");
    double step;
    double xmax = nice_ceil((double)tmax / 1e9, &step);
    for (int k = 0; (double)k * step <= xmax * (1 + 1e-9); k++) {
        double t = (double)k * step;
        double px = PLOT_X0 + t / xmax * (PLOT_X1 - PLOT_X0);
        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text class=\"tick x\" x=\"%.1f\" y=\"%.1f\">%g</text>\n",
                px, PLOT_Y0, px, PLOT_Y1, px, PLOT_Y1 + 18, t);
    }
    x_axis_label(f, "time since the run started (s)");
    if (total == 0)
        plot_message(f, "no collections");
    bool cycles = false;
    for (size_t i = 0; i < n && !cycles; i++)
        for (size_t j = 0; j < runs[i].ngc && !cycles; j++)
            cycles = runs[i].error[0] == '\0' && runs[i].gc[j].cycle_start_ns != 0;
    if (cycles)
        fprintf(f, "<text class=\"legend\" x=\"%.1f\" y=\"%.1f\">bars: concurrent cycles, "
                   "from their start to the end of the collection that ended them</text>\n",
                PLOT_X0 + 4, PLOT_Y0 + 14);
    size_t slot = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cli_run *r = &runs[i];
        char lb[48];
        const char *note = r->error[0] != '\0' ? "failed" : r->ngc == 0 ? "no collections" : NULL;
        legend_entry(f, slot++, i, r, note);
        if (note != NULL)
            continue;
        fputs("<g class=\"series\" data-run=\"", f);
        esc(f, cli_run_label(lb, r));
        size_t stops = 0;
        for (size_t j = 0; j < r->ngc; j++)
            stops += !r->gc[j].local;
        fprintf(f, "\" data-count=\"%zu\" fill=\"%s\">\n", stops, run_color(i));
        for (size_t j = 0; j < r->ngc; j++) {
            const rc_gc_record *g = &r->gc[j];
            if (g->local)
                continue;
            double px = PLOT_X0 + ((double)g->start_ns / 1e9) / xmax * (PLOT_X1 - PLOT_X0);
            double py = ax_map(&y, ns_decade(g->pause_ns));
            char b[32];
            fprintf(f,
                    "<circle class=\"mark\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"><title>gen %d at "
                    "%.3f s: pause %s</title></circle>\n",
                    px, py, g->generation, (double)g->start_ns / 1e9,
                    cli_fmt_ns(b, g->pause_ns));
        }
        fputs("</g>\n", f);
        size_t ncycles = 0;
        for (size_t j = 0; j < r->ngc; j++)
            ncycles += r->gc[j].cycle_start_ns != 0;
        if (ncycles == 0)
            continue;
        fputs("<g class=\"cycles\" data-run=\"", f);
        esc(f, lb);
        fprintf(f, "\" data-count=\"%zu\" stroke=\"%s\">\n", ncycles, run_color(i));
        for (size_t j = 0; j < r->ngc; j++) {
            const rc_gc_record *g = &r->gc[j];
            if (g->cycle_start_ns == 0)
                continue;
            uint64_t from = g->cycle_start_ns < g->start_ns ? g->cycle_start_ns : g->start_ns;
            double x0 = PLOT_X0 + ((double)from / 1e9) / xmax * (PLOT_X1 - PLOT_X0);
            uint64_t to = g->end_ns > from ? g->end_ns : from;
            double x1 = PLOT_X0 + ((double)to / 1e9) / xmax * (PLOT_X1 - PLOT_X0);
            double py = ax_map(&y, ns_decade(g->pause_ns));
            char w[32], s[32];
            fprintf(f,
                    "<line class=\"cycle\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\">"
                    "<title>concurrent cycle from %.3f s to %.3f s: %s of concurrent work over "
                    "%s</title></line>\n",
                    x0, py, x1 < x0 + 1 ? x0 + 1 : x1, py, (double)from / 1e9,
                    (double)to / 1e9, cli_fmt_ns(w, g->concurrent_ns), cli_fmt_ns(s, to - from));
        }
        fputs("</g>\n", f);
    }
    svg_close(f);
}

/* x of percentile p (0 <= p <= 1) on the 1/(1-p) axis, in decades. */
static double pct_decade(double p, double xmax)
{
    if (p >= 1.0)
        return xmax;
    double d = -log10(1.0 - p);
    return d > xmax ? xmax : d;
}

static void percentile_chart(FILE *f, const struct cli_run *runs, size_t n, enum cli_lat which,
                             const char *id, const char *title, const char *empty_note)
{
    uint64_t lo = UINT64_MAX, hi = 0, maxcount = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cli_run *r = &runs[i];
        if (r->error[0] != '\0' || r->hist[which] == NULL || r->pct[which].count == 0)
            continue;
        const lat_hist *h = r->hist[which];
        uint64_t mn = lat_hist_lowest_equivalent(lat_hist_min(h));
        uint64_t mx = lat_hist_highest_equivalent(lat_hist_max(h));
        lo = mn < lo ? mn : lo;
        hi = mx > hi ? mx : hi;
        maxcount = lat_hist_count(h) > maxcount ? lat_hist_count(h) : maxcount;
    }
    svg_open(f, id, title);
    if (maxcount == 0) {
        lo = 1000;
        hi = 1000000;
    }
    struct logax y = ns_axis(lo, hi);
    y_latency_axis(f, &y, "latency (log)");
    int decades = maxcount < 10 ? 1 : (int)ceil(log10((double)maxcount));
    if (decades > PCT_MAX_DECADES)
        decades = PCT_MAX_DECADES;
    if (decades < 2)
        decades = 2;
    struct logax x = {0, (double)decades, PLOT_X0, PLOT_X1};
    for (int k = 0; k <= decades; k++) {
        double px = ax_map(&x, k);
        char lab[32];
        if (k == 0)
            snprintf(lab, sizeof lab, "0%%");
        else
            snprintf(lab, sizeof lab, "%.*f%%", k > 2 ? k - 2 : 0, 100.0 - pow(10.0, 2 - k));
        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text class=\"tick x\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                px, PLOT_Y0, px, PLOT_Y1, px, PLOT_Y1 + 18, lab);
    }
    x_axis_label(f, "percentile (log scale of 1/(1-p))");
    if (maxcount == 0)
        plot_message(f, empty_note);
    size_t slot = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cli_run *r = &runs[i];
        const char *note = r->error[0] != '\0'                                         ? "failed"
                           : r->hist[which] == NULL || r->pct[which].count == 0 ? empty_note
                                                                                        : NULL;
        legend_entry(f, slot++, i, r, note);
        if (note != NULL)
            continue;
        const lat_hist *h = r->hist[which];
        uint64_t count = lat_hist_count(h), maxv = lat_hist_max(h);
        char lb[48];
        fputs("<path class=\"curve\" data-run=\"", f);
        esc(f, cli_run_label(lb, r));
        fprintf(f, "\" data-count=\"%" PRIu64 "\" stroke=\"%s\" d=\"", count, run_color(i));
        /* A step curve: slot b holds the values from percentile
         * (cumulative before b) to (cumulative after b). */
        lat_hist_iter it;
        lat_hist_bucket b;
        lat_hist_iter_init(&it, h);
        bool first = true;
        while (lat_hist_iter_next(&it, &b)) {
            uint64_t v = b.high < maxv ? b.high : maxv;
            double py = ax_map(&y, ns_decade(v));
            double p_before = (double)(b.cumulative - b.count) / (double)count;
            double p_after = (double)b.cumulative / (double)count;
            double xa = ax_map(&x, pct_decade(p_before, x.hi));
            double xb = ax_map(&x, pct_decade(p_after, x.hi));
            if (first)
                fprintf(f, "M%.1f %.1f", xa, py);
            else
                fprintf(f, "V%.1f", py);
            fprintf(f, "H%.1f", xb);
            first = false;
        }
        fputs("\"><title>", f);
        esc(f, lb);
        fprintf(f, ": %" PRIu64 " samples</title></path>\n", count);
    }
    svg_close(f);
}

/* ------------------------------------------------------------------ page */

static const char css[] =
    "body{font-family:sans-serif;margin:24px;color:#222;background:#fff}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}\n"
    ".meta{color:#555;margin:2px 0}\n"
    "table{border-collapse:collapse;margin:10px 0;font-size:14px}\n"
    "caption{text-align:left;font-weight:bold;padding:4px 0}\n"
    "th,td{border:1px solid #ccc;padding:3px 10px;text-align:right;"
    "font-family:monospace}\n"
    "th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}\n"
    "td:nth-child(2),th:nth-child(2){text-align:left}\n"
    "tr.lat td:nth-child(4){text-align:left}\n"
    ".bad{color:#b00;font-weight:bold}.ok{color:#070}\n"
    ".note{color:#555;font-size:13px}\n"
    "figure{margin:10px 0}\n"
    "svg.chart{background:#fff;font-family:sans-serif}\n"
    "svg .plot{fill:#fafafa;stroke:#888}\n"
    "svg .grid{stroke:#ddd;stroke-width:1}\n"
    "svg .tick{font-size:12px;fill:#333}svg .tick.y{text-anchor:end}"
    "svg .tick.x{text-anchor:middle}\n"
    "svg .axis-label{font-size:13px;fill:#222;text-anchor:middle}\n"
    "svg .title{font-size:15px;font-weight:bold;text-anchor:middle}\n"
    "svg .legend{font-size:13px;fill:#222}\n"
    "svg .empty{font-size:16px;fill:#888;text-anchor:middle}\n"
    "svg .curve{fill:none;stroke-width:2}\n"
    "svg .mark{fill-opacity:0.75}\n"
    "svg .cycle{stroke-width:3;stroke-opacity:0.45}\n";

int cli_html_write(const char *path, const char *command, const char *created,
                   const struct cli_run *runs, size_t n, char *err, size_t errlen)
{
    char now[32] = "";
    if (created == NULL || created[0] == '\0') {
        time_t t = time(NULL);
        struct tm tm;
        if (gmtime_r(&t, &tm) != NULL)
            strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
        created = now;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>rcgc: ",
          f);
    esc(f, n > 0 ? runs[0].workload : "no runs");
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>rcgc ", css);
    esc(f, command);
    fputs(": ", f);
    esc(f, n > 0 ? runs[0].workload : "no runs");
    fputs("</h1>\n", f);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && cli_same_setup(&runs[i], &runs[i - 1]))
            continue;
        fputs("<p class=\"meta setup\">", f);
        esc(f, runs[i].workload);
        fputs(": ", f);
        char setup[512];
        esc(f, cli_setup_text(setup, sizeof setup, &runs[i]));
        fputs("</p>\n", f);
    }
    fputs("<p class=\"meta\">", f);
    fprintf(f, "%zu run%s; written ", n, n == 1 ? "" : "s");
    esc(f, created);
    fputs(" by rcgc</p>\n", f);

    if (n == 0) {
        fputs("<p>(no runs)</p>\n", f);
    } else {
        fputs("<h2>Results</h2>\n", f);
        throughput_table(f, runs, n);
        latency_table(f, runs, n);
        verification_list(f, runs, n);

        bool ops = false;
        for (size_t i = 0; i < n; i++)
            ops = ops || (runs[i].error[0] == '\0' && runs[i].pct[CLI_LAT_OPS].count > 0);
        fputs("<h2>GC pause timeline</h2>\n", f);
        pause_timeline(f, runs, n);
        fputs("<h2>Percentiles</h2>\n", f);
        percentile_chart(f, runs, n, CLI_LAT_SENSOR, "percentiles-stall",
                         "Mutator stalls (1 ms sensor) by percentile", "no samples");
        percentile_chart(f, runs, n, CLI_LAT_GC_PAUSE, "percentiles-gc-pause",
                         "GC pauses by percentile", "no collections");
        if (ops)
            percentile_chart(f, runs, n, CLI_LAT_OPS, "percentiles-op",
                             "Operation latency by percentile", "no operations");
    }
    fputs("</body>\n</html>\n", f);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "writing %s failed", path);
        return -1;
    }
    return 0;
}
