/* tools/rcgc/cli.h: the internal interface of the `rcgc` command.
 *
 * One measured run is a struct cli_run.  run.c fills it by running a
 * workload in a fresh runtime (with the stall sensor and the op-latency
 * histograms); json.c writes it to, and reads it back from, the versioned
 * JSON report (docs/report-schema.md); table.c renders any number of them
 * as the terminal table.  The table is drawn only from fields that the JSON
 * holds, so `rcgc report FILE.json` reproduces what `rcgc run` printed.
 *
 * Threads: everything here runs on the command's main thread, except the
 * callbacks run.c hands to the workload (record_op, progress) and the
 * sensor thread, which are described in run.c.
 */
#ifndef RCGC_CLI_H
#define RCGC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"
#include "rcgc/rcgc.h"
#include "workload.h"

#define CLI_SCHEMA "rcgc-run/1"

/* The sensor's sleep, as jHiccup's default resolution. */
#define CLI_SENSOR_INTERVAL_NS 1000000u

/* The CPU slice the sensor asks the kernel for (rc_thread_cpu_slice: a
 * thread with a short slice, when it wakes, preempts a running one at once
 * instead of at the next tick).  Without it, when the
 * workers keep every CPU busy, the sensor's own wait for a CPU (up to a
 * 4 ms tick) is what it records, not a stall of the runtime's making. */
#define CLI_SENSOR_SLICE_NS 100000u

/* .hgrm values are written in milliseconds (values are recorded in ns). */
#define CLI_HGRM_UNIT_RATIO 1e6

/* The latency distributions every run keeps. */
enum cli_lat {
    CLI_LAT_SENSOR = 0,   /* how late the 1 ms sensor woke up */
    CLI_LAT_OPS,          /* the workload's per-operation latency */
    CLI_LAT_GC_PAUSE,     /* pause_ns of each collection */
    CLI_LAT_COUNT
};
/* JSON keys: "sensor", "ops", "gc_pause". */
extern const char *const cli_lat_keys[CLI_LAT_COUNT];

/* Percentiles of one distribution, in ns (count 0: no samples, the rest 0). */
struct cli_pcts {
    uint64_t count;
    uint64_t min, p50, p90, p99, p999, max;
    double mean;
};

/* The size parameters of wl_params, each with its flag and JSON key: the
 * built-in workloads' CLI_NBUILTIN_SIZES, then the ext sizes of loaded
 * workloads (and of reports read), cli_nsizes in all.  Thread rule: the
 * table grows only on the main thread (cli_sizes_sync), before runs. */
struct cli_size {
    const char *key;    /* "depth" (JSON key and table label) */
    const char *flag;   /* "--depth" */
    size_t offset;      /* offsetof(wl_params, depth): a long */
    int ext;            /* its wl_params.ext slot, -1 for a built-in field */
};
#define CLI_NBUILTIN_SIZES 6
#define CLI_MAX_SIZES (CLI_NBUILTIN_SIZES + WL_MAX_EXT)
extern struct cli_size cli_sizes[CLI_MAX_SIZES];
extern int cli_nsizes;
/* Add the ext sizes named since the last call (wl_ext_name) to the table. */
void cli_sizes_sync(void);
long *cli_size_field(wl_params *p, int i);
long cli_size_get(const wl_params *p, int i);
/* Whether p holds size i: a built-in one when it is not 0, an ext one when
 * its ext_used bit is set. */
bool cli_size_used(const wl_params *p, int i);
/* Set size i to v (and an ext size's ext_used bit). */
void cli_size_set(wl_params *p, int i, long v);

struct cli_run {
    char workload[64];
    char mode[16];             /* "gil", "ft", "ft-atomic" */
    char collector[24];        /* rc_collector_name: "stw", "concurrent", ... */
    /* The collector's thresholds during the run (rc_gc_get_threshold);
     * unknown in a report written before they were recorded. */
    bool gc_threshold_known;
    long gc_threshold[RC_GC_GENERATIONS];
    /* GC stress and the heap verifier in force during the run (--gc-stress,
     * --gc-verify, else RCGC_GC_STRESS, RCGC_GC_VERIFY); 0 and false in a
     * report written before they were recorded. */
    long gc_stress;
    bool gc_verify;
    bool gc_verify_amortized;  /* RC_GC_VERIFY_AMORTIZED (RCGC_GC_VERIFY=amortized) */
    wl_params params;
    bool quick;
    long switch_interval_us;   /* the runtime's GIL switch interval */
    uint64_t sensor_interval_ns;
    uint64_t sensor_slice_ns;  /* the slice the kernel gave the sensor; 0: its default */
    uint64_t sensor_max_at_ns; /* when the sensor's longest stall began, since the origin */
    /* Outcome.  error[0] != '\0': the run did not complete (no runtime, a
     * child that crashed...); only workload/mode/params are meaningful. */
    char error[256];
    bool verified;             /* run() returned 0 */
    char summary[160];         /* the workload's verification summary */
    long leaked;               /* rc_runtime_free's count */
    /* Measures.  wall and cpu cover the workload's measured work: its
     * run() call up to wl_work_done, or the whole call; teardown_s is the
     * rest of the call (checking, dropping and collecting the live heap). */
    double wall_s, cpu_s, teardown_s;
    long peak_rss_kb;          /* ru_maxrss of the process at the end */
    uint64_t ops;
    double ops_per_s;
    rc_gil_stats gil;          /* summed over the workload's threads */
    rc_gil_stats sensor_gil;   /* the sensor's own (gil mode) */
    struct cli_pcts pct[CLI_LAT_COUNT];
    lat_hist *hist[CLI_LAT_COUNT];   /* owned; NULL after an error */
    /* Records, times in ns since the run's origin (just before the
     * runtime was created). */
    rc_gc_record *gc;
    size_t ngc;
    rc_stw_record *stw;
    size_t nstw;
};

/* ---- run.c ---- */

struct cli_run_opts {
    const rc_workload *workload;
    rc_mode mode;
    rc_collector_kind collector;   /* rc_collector_check accepted it */
    /* --gc-threshold: the first ngc_threshold thresholds (0..3) to set with
     * rc_gc_set_threshold; the others keep the runtime's defaults. */
    long gc_threshold[RC_GC_GENERATIONS];
    int ngc_threshold;
    /* --gc-stress (0: not given) and --gc-verify (false: not given): set
     * with rc_gc_set_stress / rc_gc_set_verify only when given, so that
     * they win over the environment without hiding it otherwise. */
    long gc_stress;
    bool gc_verify;
    wl_params params;      /* complete: defaults, quick, then flags */
    bool quick;
    bool trace;            /* set RCGC_TRACE=1 before creating the runtime */
    bool progress;         /* draw progress on stderr */
};

/* Run the workload once in a runtime of its own and fill *out (which the
 * caller zeroes).  0: verified and nothing leaked; 1: the run finished but
 * failed verification or leaked; -1: it could not run (out->error says
 * why). */
int cli_run_one(const struct cli_run_opts *o, struct cli_run *out);

/* A new histogram for ns values (exits on out of memory). */
lat_hist *cli_hist_new(void);

/* Fill r->pct from r->hist. */
void cli_run_percentiles(struct cli_run *r);

/* Free what a run owns (not the struct itself). */
void cli_run_fini(struct cli_run *r);

/* "ft stw x2": a run's name in the tables' verification lines and the HTML
 * page's legends and data-run attributes (mode, collector, threads: what
 * tells the runs of one compare apart).  Written into buf; returns buf. */
const char *cli_run_label(char buf[48], const struct cli_run *r);

/* "stw, concurrent": every collector's name (rc_collector_name), for
 * messages. */
const char *cli_collector_names(void);

/* ---- table.c ---- */

/* 1 if two runs share workload, sizes, read mode, gc thresholds (when both
 * are known), seed and quick setting (so a table or page can show the setup
 * once). */
bool cli_same_setup(const struct cli_run *a, const struct cli_run *b);

/* A run's setup as one line of text, without the workload: its sizes, its
 * read mode (shared-refs), its gc thresholds (when known), its seed and
 * "(quick sizes)", e.g. "depth 16, gc thresholds 2000/10/10, seed 12345".
 * Written into buf (truncated to n bytes); returns buf. */
const char *cli_setup_text(char *buf, size_t n, const struct cli_run *r);

/* The terminal table of runs[0..n-1]: a header line per workload/sizes, a
 * throughput table, a latency table and the verification lines. */
void cli_table_print(FILE *f, const struct cli_run *runs, size_t n);

/* ns with a unit, 4 significant digits ("850ns", "62.1us", "1.20ms"). */
const char *cli_fmt_ns(char buf[32], uint64_t ns);

/* ---- json.c ---- */

/* Write runs as a schema rcgc-run/1 document.  command: "run" or
 * "compare".  0, or -1 with a message in err. */
int cli_json_write(const char *path, const char *command, const struct cli_run *runs, size_t n,
                   char *err, size_t errlen);

/* Read a document written by cli_json_write: *runs (malloc'd, each to be
 * cli_run_fini'd) and *n.  0, or -1 with a message in err naming the file
 * and the field that was wrong. */
int cli_json_read(const char *path, struct cli_run **runs, size_t *n, char *err, size_t errlen);

/* Read the "command" and "created" strings of a JSON report (each "" if it
 * cannot), for the HTML page of `rcgc report`. */
void cli_json_meta(const char *path, char *command, size_t commandlen, char *created,
                   size_t createdlen);

/* ---- html.c ---- */

/* Write the self-contained HTML report of runs[0..n-1]: title, the table,
 * a GC pause timeline and percentile curves (inline SVG, no scripts, no
 * network).  command: "run" or "compare"; created: the date shown (ISO
 * 8601), NULL for now.  0, or -1 with a message in err. */
int cli_html_write(const char *path, const char *command, const char *created,
                   const struct cli_run *runs, size_t n, char *err, size_t errlen);

/* ---- hgrm (run.c) ---- */

/* Write the .hgrm files of a run: the sensor to path, op latency to
 * <path without .hgrm>.ops.hgrm when there are ops, GC pauses to
 * <...>.gc.hgrm when there were collections.  0, or -1 with err. */
int cli_write_hgrm(const struct cli_run *r, const char *path, char *err, size_t errlen);

#endif /* RCGC_CLI_H */
