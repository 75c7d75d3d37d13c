/* tools/rcgc/json.c: the JSON report, schema "rcgc-run/1", written and read
 * with jansson.  docs/report-schema.md describes every field; change both
 * together, and bump the schema's version when a reader of the old one
 * would misread the new one.
 *
 * Numbers: times and counts are JSON integers (ns, objects); rates and
 * seconds are reals, written with 17 significant digits so they read back
 * bit for bit.  The seed is a decimal string: it is a full 64-bit value,
 * past what many JSON readers hold exactly.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#ifndef RCGC_VERSION
#define RCGC_VERSION "unknown"
#endif

static const char *const phase_keys[RC_GC_NPHASES] = {
    "merge", "update_refs", "subtract", "reachable", "finalize", "clear",
};

/* ---------------------------------------------------------------- writer */

static json_t *jint(uint64_t v)
{
    return json_integer((json_int_t)v);
}

static json_t *gil_obj(const rc_gil_stats *g)
{
    return json_pack("{s:o, s:o, s:o, s:o}", "acquisitions", jint(g->acquisitions), "waits",
                     jint(g->waits), "wait_ns", jint(g->wait_ns), "drop_requests",
                     jint(g->drop_requests));
}

static json_t *pcts_obj(const struct cli_pcts *p)
{
    return json_pack("{s:o, s:o, s:f, s:o, s:o, s:o, s:o, s:o}", "count", jint(p->count), "min",
                     jint(p->min), "mean", p->mean, "p50", jint(p->p50), "p90", jint(p->p90),
                     "p99", jint(p->p99), "p99.9", jint(p->p999), "max", jint(p->max));
}

static json_t *hist_arr(const lat_hist *h)
{
    json_t *a = json_array();
    if (h == NULL)
        return a;
    lat_hist_iter it;
    lat_hist_bucket b;
    lat_hist_iter_init(&it, h);
    while (lat_hist_iter_next(&it, &b))
        json_array_append_new(a, json_pack("[o, o]", jint(b.high), jint(b.count)));
    return a;
}

static json_t *params_obj(const wl_params *p)
{
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, p->seed);
    json_t *o = json_pack("{s:i, s:s}", "threads", p->threads, "seed", seed);
    /* The built-in sizes always (0: not used); a loaded workload's own
     * sizes when it uses them. */
    for (int i = 0; i < cli_nsizes; i++)
        if (cli_sizes[i].ext < 0 || cli_size_used(p, i))
            json_object_set_new(o, cli_sizes[i].key, json_integer(cli_size_get(p, i)));
    const char *read = wl_read_name(p->read);
    json_object_set_new(o, "read", read != NULL ? json_string(read) : json_null());
    return o;
}

static json_t *collection_obj(const rc_gc_record *g)
{
    json_t *phases = json_object();
    for (int i = 0; i < RC_GC_NPHASES; i++)
        json_object_set_new(phases, phase_keys[i], jint(g->phase_ns[i]));
    json_t *o = json_pack("{s:i, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I}", "generation",
                          g->generation, "start_ns", jint(g->start_ns), "end_ns",
                          jint(g->end_ns), "time_to_safepoint_ns",
                          jint(g->time_to_safepoint_ns), "pause_ns", jint(g->pause_ns),
                          "phase_ns", phases, "scanned", (json_int_t)g->scanned, "collected",
                          (json_int_t)g->collected, "uncollectable",
                          (json_int_t)g->uncollectable, "heap_size", (json_int_t)g->heap_size);
    if (o != NULL && g->local)   /* a thread-local collection: no stop */
        json_object_set_new(o, "local", json_true());
    if (o != NULL && g->cycle_start_ns != 0) {   /* ended a concurrent cycle */
        json_object_set_new(o, "cycle_start_ns", jint(g->cycle_start_ns));
        json_object_set_new(o, "concurrent_ns", jint(g->concurrent_ns));
    }
    return o;
}

static json_t *stop_obj(const rc_stw_record *s)
{
    return json_pack("{s:o, s:o, s:o, s:i}", "request_ns", jint(s->request_ns),
                     "time_to_safepoint_ns", jint(s->time_to_safepoint_ns), "pause_ns",
                     jint(s->pause_ns), "threads", (int)s->threads);
}

static json_t *run_obj(const struct cli_run *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "workload", json_string(r->workload));
    json_object_set_new(o, "mode", json_string(r->mode));
    json_object_set_new(o, "collector", json_string(r->collector));
    json_object_set_new(o, "threads", json_integer(r->params.threads));
    json_object_set_new(o, "quick", json_boolean(r->quick));
    json_object_set_new(o, "params", params_obj(&r->params));
    json_object_set_new(o, "switch_interval_us", json_integer(r->switch_interval_us));
    if (r->gc_threshold_known) {
        json_t *t = json_array();
        for (int g = 0; g < RC_GC_GENERATIONS; g++)
            json_array_append_new(t, json_integer(r->gc_threshold[g]));
        json_object_set_new(o, "gc_threshold", t);
    }
    json_object_set_new(o, "gc_stress", json_integer(r->gc_stress));
    json_object_set_new(o, "gc_verify", json_boolean(r->gc_verify));
    json_object_set_new(o, "gc_verify_amortized", json_boolean(r->gc_verify_amortized));
    json_object_set_new(o, "sensor_interval_ns", jint(r->sensor_interval_ns));
    json_object_set_new(o, "sensor_slice_ns", jint(r->sensor_slice_ns));
    json_object_set_new(o, "sensor_max_at_ns", jint(r->sensor_max_at_ns));
    json_object_set_new(o, "error", r->error[0] != '\0' ? json_string(r->error) : json_null());
    json_object_set_new(o, "wall_s", json_real(r->wall_s));
    json_object_set_new(o, "teardown_s", json_real(r->teardown_s));
    json_object_set_new(o, "cpu_s", json_real(r->cpu_s));
    json_object_set_new(o, "peak_rss_kb", json_integer(r->peak_rss_kb));
    json_object_set_new(o, "ops", jint(r->ops));
    json_object_set_new(o, "ops_per_s", json_real(r->ops_per_s));
    json_object_set_new(o, "gil_wait_s", json_real((double)r->gil.wait_ns * 1e-9));
    json_object_set_new(o, "gil", gil_obj(&r->gil));
    json_object_set_new(o, "sensor_gil", gil_obj(&r->sensor_gil));
    json_object_set_new(o, "verify", json_pack("{s:b, s:s}", "ok", r->verified, "summary",
                                               r->summary));
    json_object_set_new(o, "leaked", json_integer(r->leaked));
    json_t *pc = json_object(), *hs = json_object();
    for (int i = 0; i < CLI_LAT_COUNT; i++) {
        json_object_set_new(pc, cli_lat_keys[i], pcts_obj(&r->pct[i]));
        json_object_set_new(hs, cli_lat_keys[i], hist_arr(r->hist[i]));
    }
    json_object_set_new(o, "percentiles", pc);
    json_object_set_new(o, "histograms", hs);
    json_t *cs = json_array();
    for (size_t i = 0; i < r->ngc; i++)
        json_array_append_new(cs, collection_obj(&r->gc[i]));
    json_object_set_new(o, "collections", cs);
    json_t *ss = json_array();
    for (size_t i = 0; i < r->nstw; i++)
        json_array_append_new(ss, stop_obj(&r->stw[i]));
    json_object_set_new(o, "stops", ss);
    return o;
}

int cli_json_write(const char *path, const char *command, const struct cli_run *runs, size_t n,
                   char *err, size_t errlen)
{
    char created[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) != NULL)
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:{s:I}}", "schema", CLI_SCHEMA, "generator",
                             "rcgc " RCGC_VERSION, "command", command, "created", created, "host",
                             "cpus", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN));
    if (root == NULL) {
        snprintf(err, errlen, "out of memory building the JSON report");
        return -1;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *r = run_obj(&runs[i]);
        if (r == NULL || json_array_append_new(arr, r) < 0) {
            json_decref(arr);
            json_decref(root);
            snprintf(err, errlen, "out of memory building the JSON report");
            return -1;
        }
    }
    json_object_set_new(root, "runs", arr);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        json_decref(root);
        return -1;
    }
    int rc = json_dumpf(root, f, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    if (rc == 0 && fputc('\n', f) == EOF)
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    json_decref(root);
    if (rc != 0) {
        snprintf(err, errlen, "error writing %s", path);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- reader */

/* A field's path for messages ("runs[2].percentiles.sensor"), cut to fit. */
__attribute__((format(printf, 3, 4))) static void wpath(char *dst, size_t n, const char *fmt,
                                                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

/* Reading state: the first error wins; later getters do nothing. */
struct rd {
    const char *file;
    char *err;
    size_t errlen;
    bool failed;
};

static void rd_fail(struct rd *rd, const char *where, const char *key, const char *what)
{
    if (rd->failed)
        return;
    rd->failed = true;
    snprintf(rd->err, rd->errlen, "%s: %s%s%s: %s", rd->file, where,
             where[0] != '\0' && key[0] != '\0' ? "." : "", key, what);
}

static json_t *rd_get(struct rd *rd, json_t *obj, const char *where, const char *key)
{
    if (rd->failed)
        return NULL;
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        rd_fail(rd, where, key, "missing");
    return v;
}

static uint64_t rd_u64_of(struct rd *rd, json_t *v, const char *where, const char *key)
{
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        rd_fail(rd, where, key, "not an integer >= 0");
        return 0;
    }
    return (uint64_t)json_integer_value(v);
}

static uint64_t rd_u64(struct rd *rd, json_t *obj, const char *where, const char *key)
{
    return rd_u64_of(rd, rd_get(rd, obj, where, key), where, key);
}

static long rd_long(struct rd *rd, json_t *obj, const char *where, const char *key)
{
    json_t *v = rd_get(rd, obj, where, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v)) {
        rd_fail(rd, where, key, "not an integer");
        return 0;
    }
    return (long)json_integer_value(v);
}

static double rd_double(struct rd *rd, json_t *obj, const char *where, const char *key)
{
    json_t *v = rd_get(rd, obj, where, key);
    if (v == NULL)
        return 0;
    if (!json_is_number(v)) {
        rd_fail(rd, where, key, "not a number");
        return 0;
    }
    return json_number_value(v);
}

static bool rd_bool(struct rd *rd, json_t *obj, const char *where, const char *key)
{
    json_t *v = rd_get(rd, obj, where, key);
    if (v == NULL)
        return false;
    if (!json_is_boolean(v)) {
        rd_fail(rd, where, key, "not true or false");
        return false;
    }
    return json_is_true(v);
}

static void rd_str(struct rd *rd, json_t *obj, const char *where, const char *key, char *buf,
                   size_t size, bool null_ok)
{
    buf[0] = '\0';
    json_t *v = rd_get(rd, obj, where, key);
    if (v == NULL || (null_ok && json_is_null(v)))
        return;
    if (!json_is_string(v)) {
        rd_fail(rd, where, key, null_ok ? "not a string or null" : "not a string");
        return;
    }
    snprintf(buf, size, "%s", json_string_value(v));
}

static json_t *rd_typed(struct rd *rd, json_t *obj, const char *where, const char *key,
                        bool array)
{
    json_t *v = rd_get(rd, obj, where, key);
    if (v != NULL && (array ? !json_is_array(v) : !json_is_object(v))) {
        rd_fail(rd, where, key, array ? "not an array" : "not an object");
        return NULL;
    }
    return v;
}

static void rd_gil(struct rd *rd, json_t *obj, const char *where, rc_gil_stats *g)
{
    g->acquisitions = rd_u64(rd, obj, where, "acquisitions");
    g->waits = rd_u64(rd, obj, where, "waits");
    g->wait_ns = rd_u64(rd, obj, where, "wait_ns");
    g->drop_requests = rd_u64(rd, obj, where, "drop_requests");
}

static void rd_params(struct rd *rd, json_t *obj, const char *where, wl_params *p)
{
    p->threads = (int)rd_long(rd, obj, where, "threads");
    char seed[32];
    rd_str(rd, obj, where, "seed", seed, sizeof seed, false);
    if (!rd->failed) {
        char *end;
        errno = 0;
        p->seed = strtoull(seed, &end, 10);
        if (seed[0] < '0' || seed[0] > '9' || *end != '\0' || errno != 0)
            rd_fail(rd, where, "seed", "not a decimal string of an unsigned 64-bit integer");
    }
    for (int i = 0; i < CLI_NBUILTIN_SIZES; i++)
        *cli_size_field(p, i) = rd_long(rd, obj, where, cli_sizes[i].key);
    /* Any other integer: a size of a workload loaded from a library
     * (rcgc/workload.h), which need not be loaded to read the report. */
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (rd->failed)
            break;
        bool known = strcmp(key, "threads") == 0 || strcmp(key, "seed") == 0 ||
                     strcmp(key, "read") == 0;
        for (int i = 0; i < CLI_NBUILTIN_SIZES && !known; i++)
            known = strcmp(key, cli_sizes[i].key) == 0;
        if (known)
            continue;
        long val = rd_long(rd, obj, where, key);
        if (!wl_size_name_ok(key)) {
            rd_fail(rd, where, key, "not a size name (lower-case letters, digits and '-', "
                    "starting with a letter, at most 23 characters)");
            break;
        }
        int k = wl_ext_slot(key);
        if (k < 0) {
            rd_fail(rd, where, key, "one size more than a report may hold");
            break;
        }
        cli_sizes_sync();
        for (int i = CLI_NBUILTIN_SIZES; i < cli_nsizes; i++)
            if (cli_sizes[i].ext == k)
                cli_size_set(p, i, val);
    }
    /* "read": a later addition, so a report without it is read as one of a
     * workload without --read (reports written before it had none). */
    p->read = WL_READ_UNUSED;
    json_t *read = rd->failed ? NULL : json_object_get(obj, "read");
    if (read != NULL && !json_is_null(read)) {
        p->read = json_is_string(read) ? wl_read_from_name(json_string_value(read))
                                       : WL_READ_UNUSED;
        if (p->read == WL_READ_UNUSED)
            rd_fail(rd, where, "read", "not null or one of \"borrow\", \"ref\"");
    }
}

static void rd_pcts(struct rd *rd, json_t *obj, const char *where, struct cli_pcts *p)
{
    p->count = rd_u64(rd, obj, where, "count");
    p->min = rd_u64(rd, obj, where, "min");
    p->mean = rd_double(rd, obj, where, "mean");
    p->p50 = rd_u64(rd, obj, where, "p50");
    p->p90 = rd_u64(rd, obj, where, "p90");
    p->p99 = rd_u64(rd, obj, where, "p99");
    p->p999 = rd_u64(rd, obj, where, "p99.9");
    p->max = rd_u64(rd, obj, where, "max");
}

static lat_hist *rd_hist(struct rd *rd, json_t *arr, const char *where)
{
    lat_hist *h = cli_hist_new();
    if (rd->failed)
        return h;
    size_t i;
    json_t *b;
    json_array_foreach(arr, i, b) {
        char w[160];
        wpath(w, sizeof w, "%s[%zu]", where, i);
        if (!json_is_array(b) || json_array_size(b) != 2) {
            rd_fail(rd, w, "", "not a [value, count] pair");
            break;
        }
        uint64_t v = rd_u64_of(rd, json_array_get(b, 0), w, "value");
        uint64_t c = rd_u64_of(rd, json_array_get(b, 1), w, "count");
        if (rd->failed)
            break;
        lat_hist_record_n(h, v, c);
    }
    return h;
}

static void rd_collection(struct rd *rd, json_t *o, const char *where, rc_gc_record *g)
{
    g->generation = (int)rd_long(rd, o, where, "generation");
    g->start_ns = rd_u64(rd, o, where, "start_ns");
    g->end_ns = rd_u64(rd, o, where, "end_ns");
    g->time_to_safepoint_ns = rd_u64(rd, o, where, "time_to_safepoint_ns");
    g->pause_ns = rd_u64(rd, o, where, "pause_ns");
    json_t *ph = rd_typed(rd, o, where, "phase_ns", false);
    char w[160];
    wpath(w, sizeof w, "%s.phase_ns", where);
    for (int i = 0; i < RC_GC_NPHASES && ph != NULL; i++)
        g->phase_ns[i] = rd_u64(rd, ph, w, phase_keys[i]);
    g->scanned = rd_long(rd, o, where, "scanned");
    g->collected = rd_long(rd, o, where, "collected");
    g->uncollectable = rd_long(rd, o, where, "uncollectable");
    g->heap_size = rd_long(rd, o, where, "heap_size");
    if (!rd->failed && json_object_get(o, "local") != NULL)
        g->local = rd_bool(rd, o, where, "local");
    if (!rd->failed && json_object_get(o, "cycle_start_ns") != NULL) {
        g->cycle_start_ns = rd_u64(rd, o, where, "cycle_start_ns");
        g->concurrent_ns = rd_u64(rd, o, where, "concurrent_ns");
    }
}

static void rd_stop(struct rd *rd, json_t *o, const char *where, rc_stw_record *s)
{
    s->request_ns = rd_u64(rd, o, where, "request_ns");
    s->time_to_safepoint_ns = rd_u64(rd, o, where, "time_to_safepoint_ns");
    s->pause_ns = rd_u64(rd, o, where, "pause_ns");
    s->threads = (uint32_t)rd_u64(rd, o, where, "threads");
}

/* "collector": a later addition to rcgc-run/1.  A report written before it
 * existed has none, and every run then used the stop-the-world collector
 * (the only one there was): read as "stw". */
static void rd_collector(struct rd *rd, json_t *o, const char *where, struct cli_run *r)
{
    snprintf(r->collector, sizeof r->collector, "%s", rc_collector_name(RC_COLLECTOR_STW));
    json_t *v = rd->failed ? NULL : json_object_get(o, "collector");
    rc_collector_kind k;
    if (v == NULL)
        return;
    if (!json_is_string(v) || rc_collector_from_name(json_string_value(v), &k) < 0) {
        rc_error_clear();
        char msg[96];
        snprintf(msg, sizeof msg, "not one of %s", cli_collector_names());
        rd_fail(rd, where, "collector", msg);
        return;
    }
    snprintf(r->collector, sizeof r->collector, "%s", rc_collector_name(k));
}

/* "gc_threshold": a later addition to rcgc-run/1.  Absent (a report written
 * before it existed): unknown. */
static void rd_gc_threshold(struct rd *rd, json_t *o, const char *where, struct cli_run *r)
{
    json_t *v = rd->failed ? NULL : json_object_get(o, "gc_threshold");
    r->gc_threshold_known = false;
    if (v == NULL)
        return;
    bool ok = json_is_array(v) && json_array_size(v) == RC_GC_GENERATIONS;
    for (int g = 0; ok && g < RC_GC_GENERATIONS; g++) {
        json_t *t = json_array_get(v, (size_t)g);
        ok = json_is_integer(t) && json_integer_value(t) >= 0;
        if (ok)
            r->gc_threshold[g] = (long)json_integer_value(t);
    }
    if (!ok) {
        char msg[64];
        snprintf(msg, sizeof msg, "not an array of %d integers >= 0", RC_GC_GENERATIONS);
        rd_fail(rd, where, "gc_threshold", msg);
        return;
    }
    r->gc_threshold_known = true;
}

/* "gc_stress", "gc_verify" and "gc_verify_amortized": later additions to
 * rcgc-run/1.  Absent (a report written before they existed): 0 and false,
 * off. */
static void rd_gc_stress(struct rd *rd, json_t *o, const char *where, struct cli_run *r)
{
    r->gc_stress = 0;
    r->gc_verify = false;
    r->gc_verify_amortized = false;
    if (rd->failed)
        return;
    if (json_object_get(o, "gc_stress") != NULL) {
        r->gc_stress = rd_long(rd, o, where, "gc_stress");
        if (!rd->failed && r->gc_stress < 0)
            rd_fail(rd, where, "gc_stress", "not an integer >= 0");
    }
    if (!rd->failed && json_object_get(o, "gc_verify") != NULL)
        r->gc_verify = rd_bool(rd, o, where, "gc_verify");
    if (!rd->failed && json_object_get(o, "gc_verify_amortized") != NULL)
        r->gc_verify_amortized = rd_bool(rd, o, where, "gc_verify_amortized");
    if (!rd->failed && r->gc_verify_amortized && !r->gc_verify)
        rd_fail(rd, where, "gc_verify_amortized", "true while gc_verify is false");
}

static void rd_run(struct rd *rd, json_t *o, const char *where, struct cli_run *r)
{
    char w[160];
    rd_str(rd, o, where, "workload", r->workload, sizeof r->workload, false);
    rd_str(rd, o, where, "mode", r->mode, sizeof r->mode, false);
    rc_mode m;
    if (!rd->failed && rc_mode_from_name(r->mode, &m) < 0) {
        rc_error_clear();
        rd_fail(rd, where, "mode", "not gil, ft or ft-atomic");
    }
    rd_collector(rd, o, where, r);
    r->quick = rd_bool(rd, o, where, "quick");
    json_t *p = rd_typed(rd, o, where, "params", false);
    wpath(w, sizeof w, "%s.params", where);
    if (p != NULL)
        rd_params(rd, p, w, &r->params);
    r->switch_interval_us = rd_long(rd, o, where, "switch_interval_us");
    rd_gc_threshold(rd, o, where, r);
    rd_gc_stress(rd, o, where, r);
    r->sensor_interval_ns = rd_u64(rd, o, where, "sensor_interval_ns");
    r->sensor_slice_ns = 0;   /* absent: a report written before the field */
    if (!rd->failed && json_object_get(o, "sensor_slice_ns") != NULL)
        r->sensor_slice_ns = rd_u64(rd, o, where, "sensor_slice_ns");
    r->sensor_max_at_ns = 0;   /* absent: a report written before the field */
    if (!rd->failed && json_object_get(o, "sensor_max_at_ns") != NULL)
        r->sensor_max_at_ns = rd_u64(rd, o, where, "sensor_max_at_ns");
    rd_str(rd, o, where, "error", r->error, sizeof r->error, true);
    r->wall_s = rd_double(rd, o, where, "wall_s");
    r->teardown_s = 0;   /* absent: a report written before the field */
    if (!rd->failed && json_object_get(o, "teardown_s") != NULL)
        r->teardown_s = rd_double(rd, o, where, "teardown_s");
    r->cpu_s = rd_double(rd, o, where, "cpu_s");
    r->peak_rss_kb = rd_long(rd, o, where, "peak_rss_kb");
    r->ops = rd_u64(rd, o, where, "ops");
    r->ops_per_s = rd_double(rd, o, where, "ops_per_s");
    (void)rd_double(rd, o, where, "gil_wait_s");   /* derived from gil.wait_ns */
    json_t *g = rd_typed(rd, o, where, "gil", false);
    wpath(w, sizeof w, "%s.gil", where);
    if (g != NULL)
        rd_gil(rd, g, w, &r->gil);
    g = rd_typed(rd, o, where, "sensor_gil", false);
    wpath(w, sizeof w, "%s.sensor_gil", where);
    if (g != NULL)
        rd_gil(rd, g, w, &r->sensor_gil);
    json_t *v = rd_typed(rd, o, where, "verify", false);
    wpath(w, sizeof w, "%s.verify", where);
    if (v != NULL) {
        r->verified = rd_bool(rd, v, w, "ok");
        rd_str(rd, v, w, "summary", r->summary, sizeof r->summary, false);
    }
    r->leaked = rd_long(rd, o, where, "leaked");

    json_t *pc = rd_typed(rd, o, where, "percentiles", false);
    json_t *hs = rd_typed(rd, o, where, "histograms", false);
    for (int i = 0; i < CLI_LAT_COUNT && pc != NULL && hs != NULL; i++) {
        wpath(w, sizeof w, "%s.percentiles", where);
        json_t *x = rd_typed(rd, pc, w, cli_lat_keys[i], false);
        wpath(w, sizeof w, "%s.percentiles.%s", where, cli_lat_keys[i]);
        if (x != NULL)
            rd_pcts(rd, x, w, &r->pct[i]);
        wpath(w, sizeof w, "%s.histograms", where);
        x = rd_typed(rd, hs, w, cli_lat_keys[i], true);
        wpath(w, sizeof w, "%s.histograms.%s", where, cli_lat_keys[i]);
        r->hist[i] = rd_hist(rd, x, w);
        if (!rd->failed && lat_hist_count(r->hist[i]) != r->pct[i].count) {
            char msg[128];
            snprintf(msg, sizeof msg, "holds %" PRIu64 " samples but percentiles.%s.count is %" PRIu64,
                     (uint64_t)lat_hist_count(r->hist[i]), cli_lat_keys[i], r->pct[i].count);
            rd_fail(rd, w, "", msg);
        }
    }

    json_t *cs = rd_typed(rd, o, where, "collections", true);
    if (cs != NULL && json_array_size(cs) > 0) {
        r->gc = calloc(json_array_size(cs), sizeof *r->gc);
        if (r->gc == NULL) {
            rd_fail(rd, where, "collections", "out of memory");
            return;
        }
        size_t i;
        json_t *c;
        json_array_foreach(cs, i, c) {
            wpath(w, sizeof w, "%s.collections[%zu]", where, i);
            if (!json_is_object(c))
                rd_fail(rd, w, "", "not an object");
            rd_collection(rd, c, w, &r->gc[i]);
        }
        r->ngc = json_array_size(cs);
    }
    json_t *ss = rd_typed(rd, o, where, "stops", true);
    if (ss != NULL && json_array_size(ss) > 0) {
        r->stw = calloc(json_array_size(ss), sizeof *r->stw);
        if (r->stw == NULL) {
            rd_fail(rd, where, "stops", "out of memory");
            return;
        }
        size_t i;
        json_t *s;
        json_array_foreach(ss, i, s) {
            wpath(w, sizeof w, "%s.stops[%zu]", where, i);
            if (!json_is_object(s))
                rd_fail(rd, w, "", "not an object");
            rd_stop(rd, s, w, &r->stw[i]);
        }
        r->nstw = json_array_size(ss);
    }
}

int cli_json_read(const char *path, struct cli_run **runs_out, size_t *n_out, char *err,
                  size_t errlen)
{
    *runs_out = NULL;
    *n_out = 0;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (root == NULL) {
        if (je.line > 0)
            snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        else
            snprintf(err, errlen, "%s", je.text);   /* it names the file */
        return -1;
    }
    struct rd rd = {.file = path, .err = err, .errlen = errlen};
    if (!json_is_object(root)) {
        rd_fail(&rd, "", "", "the document is not a JSON object");
    } else {
        char schema[64];
        rd_str(&rd, root, "", "schema", schema, sizeof schema, false);
        if (!rd.failed && strcmp(schema, CLI_SCHEMA) != 0) {
            snprintf(err, errlen, "%s: schema is '%s'; this rcgc reads '%s'", path, schema,
                     CLI_SCHEMA);
            rd.failed = true;
        }
    }
    json_t *arr = rd.failed ? NULL : rd_typed(&rd, root, "", "runs", true);
    struct cli_run *runs = NULL;
    size_t n = arr != NULL ? json_array_size(arr) : 0;
    if (n > 0) {
        runs = calloc(n, sizeof *runs);
        if (runs == NULL) {
            rd_fail(&rd, "", "runs", "out of memory");
            n = 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char w[32];
        wpath(w, sizeof w, "runs[%zu]", i);
        json_t *o = json_array_get(arr, i);
        if (!json_is_object(o))
            rd_fail(&rd, w, "", "not an object");
        else
            rd_run(&rd, o, w, &runs[i]);
    }
    json_decref(root);
    if (rd.failed) {
        for (size_t i = 0; i < n; i++)
            cli_run_fini(&runs[i]);
        free(runs);
        return -1;
    }
    *runs_out = runs;
    *n_out = n;
    return 0;
}

void cli_json_meta(const char *path, char *command, size_t commandlen, char *created,
                   size_t createdlen)
{
    command[0] = '\0';
    created[0] = '\0';
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (root == NULL)
        return;
    const char *s = json_string_value(json_object_get(root, "command"));
    if (s != NULL)
        snprintf(command, commandlen, "%s", s);
    s = json_string_value(json_object_get(root, "created"));
    if (s != NULL)
        snprintf(created, createdlen, "%s", s);
    json_decref(root);
}
