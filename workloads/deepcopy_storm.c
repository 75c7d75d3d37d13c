/* workloads/deepcopy_storm.c: "deepcopy-storm".
 *
 * Models: a server that deep-copies its settings for every request (so a
 * request may change its copy freely), reads the copy and drops it.  The
 * settings are a cyclic graph, as configurations are (services that
 * depend on each other, back-references to the whole), so every copy is
 * cyclic garbage that only the collector reclaims: rc_deepcopy's memo
 * keeps the aliasing and the cycles of the original in each copy.
 *
 * Sizes: --items services in the shared configuration (default
 * DS_SERVICES), --requests requests in total (default DS_REQUESTS).
 *
 * The configuration: a dict {"name": "settings", "services": [S0 .. Sn-1],
 * "by_name": {"svc-<i>": Si}, "defaults": (30, 3, "eu")}; each Si an
 * instance of Service with slots name "svc-<i>", port 8000 + i, deps
 * [S(i+1)%n, S(7i+3)%n], settings {"timeout": 10 + i % 50, "retries": i % 4,
 * "tags": ("svc", "tier-<i % 3>")} and config (the root dict: a cycle
 * through every service).
 *
 * Request: copy = rc_deepcopy(config); walk the copy: for each service,
 * the port, the timeout, the retries, the number of deps, the length of
 * its first tag; check that the copy keeps the original's shape (each
 * service of the copy's list is the one its by_name maps its name to,
 * its deps are the copy's services, its config is the copy itself, and
 * no object of the copy is the original's but the atoms); change the copy
 * (a request's own setting), which must leave the original as it was;
 * drop the copy.
 * Its latency (rc_clock_ns around all of it) goes to ctx->record_op.
 *
 * Threads: --threads workers (default 1) split the requests and share the
 * configuration, which nobody changes.
 *
 * Verifies: every request's checksum against the original's, computed
 * once before the workers start; at the end the original's checksum again,
 * and that nothing is left after dropping it and rc_gc_collect(2).
 * ops = requests.
 */
#include "sizes.h"
#include "wl_util.h"

extern const rc_workload wl_deepcopy_storm;

enum { SVC_NAME, SVC_PORT, SVC_DEPS, SVC_SETTINGS, SVC_CONFIG, SVC_NSLOTS };

struct ds_shared {
    wl_context *ctx;
    rc_type *service;
    rc_object *config;
    rc_object *k_name, *k_services, *k_by_name, *k_defaults, *k_timeout, *k_retries, *k_tags;
    long services, requests;
    int threads;
    uint64_t want;   /* the original's checksum */
    struct wl_error err;
};

struct ds_worker {
    struct ds_shared *sh;
    int index;
    long served;
};

/* A new str "<prefix><i>"; NULL with an error. */
static rc_object *ds_name(const char *prefix, long i)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%s%ld", prefix, i);
    return rc_str_new(buf);
}

/* d[k] = v (v stolen); 0, or -1 with an error. */
static int ds_put(rc_object *d, rc_object *k, rc_object *v)
{
    int rc = v != NULL ? rc_dict_set(d, k, v) : -1;
    rc_decref(v);
    return rc;
}

/* Service i's settings dict; NULL with an error. */
static rc_object *ds_settings(struct ds_shared *sh, long i)
{
    rc_object *d = rc_dict_new();
    rc_object *tag[2] = {rc_str_new("svc"), ds_name("tier-", i % 3)};
    rc_object *tags = tag[0] != NULL && tag[1] != NULL ? rc_tuple_new(2, tag) : NULL;
    rc_decref(tag[0]);
    rc_decref(tag[1]);
    if (d == NULL || ds_put(d, sh->k_timeout, rc_int_new(10 + i % 50)) < 0 ||
        ds_put(d, sh->k_retries, rc_int_new(i % 4)) < 0 || ds_put(d, sh->k_tags, tags) < 0) {
        rc_decref(d);
        return NULL;
    }
    return d;
}

/* The configuration; NULL with an error. */
static rc_object *ds_build(struct ds_shared *sh)
{
    rc_object *cfg = rc_dict_new(), *list = rc_list_new(), *by_name = rc_dict_new();
    rc_object *def[3] = {rc_int_new(30), rc_int_new(3), rc_str_new("eu")};
    rc_object *defaults = def[0] != NULL && def[1] != NULL && def[2] != NULL
                              ? rc_tuple_new(3, def) : NULL;
    for (int k = 0; k < 3; k++)
        rc_decref(def[k]);
    bool ok = cfg != NULL && list != NULL && by_name != NULL &&
              ds_put(cfg, sh->k_name, rc_str_new("settings")) == 0 &&
              rc_dict_set(cfg, sh->k_services, list) == 0 &&
              rc_dict_set(cfg, sh->k_by_name, by_name) == 0 &&
              ds_put(cfg, sh->k_defaults, defaults) == 0;
    defaults = NULL;
    for (long i = 0; ok && i < sh->services; i++) {
        rc_object *s = rc_instance_new(sh->service);
        rc_object *name = ds_name("svc-", i);
        ok = s != NULL && name != NULL && rc_slot_set(s, SVC_NAME, name) == 0 &&
             rc_slot_set(s, SVC_CONFIG, cfg) == 0 && rc_list_append(list, s) == 0 &&
             rc_dict_set(by_name, name, s) == 0;
        rc_object *port = ok ? rc_int_new(8000 + i) : NULL;
        rc_object *settings = port != NULL ? ds_settings(sh, i) : NULL;
        ok = settings != NULL && rc_slot_set(s, SVC_PORT, port) == 0 &&
             rc_slot_set(s, SVC_SETTINGS, settings) == 0;
        rc_decref(port);
        rc_decref(settings);
        rc_decref(name);
        rc_decref(s);
    }
    /* The deps, once every service exists: the cycles between them. */
    for (long i = 0; ok && i < sh->services; i++) {
        rc_object *deps = rc_list_new();
        rc_object *a = rc_list_get_borrowed(list, (i + 1) % sh->services);
        rc_object *b = rc_list_get_borrowed(list, (7 * i + 3) % sh->services);
        ok = deps != NULL && a != NULL && b != NULL && rc_list_append(deps, a) == 0 &&
             rc_list_append(deps, b) == 0;
        rc_object *s = ok ? rc_list_get_borrowed(list, i) : NULL;
        ok = s != NULL && rc_slot_set(s, SVC_DEPS, deps) == 0;
        rc_decref(deps);
    }
    rc_decref(list);
    rc_decref(by_name);
    if (!ok) {
        wl_error_rc(&sh->err, "building the configuration");
        if (cfg != NULL)
            rc_dict_clear(cfg);   /* its services' back-references: the collector's */
        rc_decref(cfg);
        return NULL;
    }
    return cfg;
}

/* v, borrowed from dict d under key k, if it is a `what`; else NULL with
 * the error recorded. */
static rc_object *ds_get(struct ds_shared *sh, rc_object *d, rc_object *k, int (*is)(rc_object *),
                         const char *what)
{
    rc_object *v = rc_dict_get_borrowed(d, k);
    if (v == NULL || !is(v)) {
        wl_error_set(&sh->err, "the copy's %s is not a %s", rc_str_data(k), what);
        return NULL;
    }
    return v;
}

/* The checksum of a configuration (the original or a copy), checking its
 * shape: each listed service is its by_name entry, its deps are services
 * of this configuration's list, its config is this configuration.  copy:
 * also that nothing in it but atoms is the original's.  0 with an error
 * recorded when the shape is wrong.  Borrowed reads: the walker is the
 * only thread that reaches a copy, and nobody changes the original. */
static uint64_t ds_checksum(struct ds_shared *sh, rc_object *cfg, bool copy)
{
    rc_object *list = ds_get(sh, cfg, sh->k_services, rc_is_list, "list");
    rc_object *by_name = list != NULL ? ds_get(sh, cfg, sh->k_by_name, rc_is_dict, "dict") : NULL;
    rc_object *defaults = by_name != NULL ? ds_get(sh, cfg, sh->k_defaults, rc_is_tuple, "tuple")
                                          : NULL;
    if (defaults == NULL)
        return 0;
    rc_object *orig_list = rc_dict_get_borrowed(sh->config, sh->k_services);
    if (copy && (cfg == sh->config || list == orig_list)) {
        wl_error_set(&sh->err, "the copy shares its configuration or list with the original");
        return 0;
    }
    uint64_t sum = (uint64_t)rc_list_len(list) * 1000003u;
    for (long i = 0; i < rc_list_len(list); i++) {
        rc_object *s = rc_list_get_borrowed(list, i);
        rc_object *name = s != NULL ? rc_slot_get_borrowed(s, SVC_NAME) : NULL;
        rc_object *deps = s != NULL ? rc_slot_get_borrowed(s, SVC_DEPS) : NULL;
        rc_object *settings = s != NULL ? rc_slot_get_borrowed(s, SVC_SETTINGS) : NULL;
        rc_object *port = s != NULL ? rc_slot_get_borrowed(s, SVC_PORT) : NULL;
        rc_object *orig = copy ? rc_list_get_borrowed(orig_list, i) : NULL;
        if (settings == NULL || !rc_is_dict(settings) || !rc_is_list(deps) || !rc_is_int(port) ||
            rc_dict_get_borrowed(by_name, name) != s ||
            rc_slot_get_borrowed(s, SVC_CONFIG) != cfg ||
            (copy && (orig == NULL || s == orig ||
                      settings == rc_slot_get_borrowed(orig, SVC_SETTINGS) ||
                      deps == rc_slot_get_borrowed(orig, SVC_DEPS)))) {
            rc_error_clear();
            wl_error_set(&sh->err, "service %ld of the %s lost its shape", i,
                         copy ? "copy" : "original");
            return 0;
        }
        for (long k = 0; k < rc_list_len(deps); k++) {
            rc_object *d = rc_list_get_borrowed(deps, k);
            rc_object *dn = d != NULL && rc_is_instance(d) ? rc_slot_get_borrowed(d, SVC_NAME)
                                                           : NULL;
            if (dn == NULL || rc_dict_get_borrowed(by_name, dn) != d) {
                rc_error_clear();
                wl_error_set(&sh->err, "dependency %ld of service %ld is not one of the %s's",
                             k, i, copy ? "copy" : "original");
                return 0;
            }
        }
        rc_object *timeout = rc_dict_get_borrowed(settings, sh->k_timeout);
        rc_object *retries = rc_dict_get_borrowed(settings, sh->k_retries);
        rc_object *tags = rc_dict_get_borrowed(settings, sh->k_tags);
        rc_object *tag = tags != NULL && rc_is_tuple(tags) && rc_tuple_len(tags) == 2
                             ? rc_tuple_get(tags, 1) : NULL;
        if (!rc_is_int(timeout) || !rc_is_int(retries) || tag == NULL || !rc_is_str(tag)) {
            rc_error_clear();
            rc_decref(tag);
            wl_error_set(&sh->err, "service %ld's settings lost their shape", i);
            return 0;
        }
        sum = sum * 31 + (uint64_t)rc_int_value(port) * 7 + (uint64_t)rc_int_value(timeout) * 3 +
              (uint64_t)rc_int_value(retries) + (uint64_t)rc_list_len(deps) * 11 +
              (uint64_t)rc_str_len(tag);
        rc_decref(tag);
    }
    return sum;
}

static void ds_worker_main(void *arg)
{
    struct ds_worker *w = arg;
    struct ds_shared *sh = w->sh;
    long mine = wl_share(sh->requests, sh->threads, w->index);
    for (long k = 0; k < mine; k++) {
        uint64_t t0 = rc_clock_ns();
        rc_object *copy = rc_deepcopy(sh->config);
        if (copy == NULL) {
            wl_error_rc(&sh->err, "rc_deepcopy");
            return;
        }
        uint64_t got = ds_checksum(sh, copy, true);
        /* The request's own setting: the first service's timeout, in the
         * copy only (the final checksum of the original shows a leak). */
        rc_object *list = rc_dict_get_borrowed(copy, sh->k_services);
        rc_object *s0 = list != NULL ? rc_list_get_borrowed(list, 0) : NULL;
        rc_object *settings = s0 != NULL ? rc_slot_get_borrowed(s0, SVC_SETTINGS) : NULL;
        if (settings == NULL || ds_put(settings, sh->k_timeout, rc_int_new(k)) < 0) {
            wl_error_rc(&sh->err, "changing the copy");
            rc_decref(copy);
            return;
        }
        rc_decref(copy);   /* cyclic garbage: the collector's */
        if (got != sh->want) {
            wl_error_set(&sh->err, "request %ld: the copy's checksum is 0x%llx, not 0x%llx", k,
                         (unsigned long long)got, (unsigned long long)sh->want);
            return;
        }
        if (wl_op_done(sh->ctx, &sh->err, w->index, k, mine, t0, &w->served, 256) < 0)
            return;
    }
    if (w->index == 0)
        wl_progress(sh->ctx, 1.0);
}

static int ds_run(wl_context *ctx)
{
    const wl_params *p = ctx->params;
    if (wl_check_params(ctx, &wl_deepcopy_storm) < 0)
        return -1;
    struct ds_shared sh = {.ctx = ctx, .services = p->items, .requests = p->requests,
                           .threads = p->threads};
    size_t live_at_start = rc_live_objects();
    ctx->ops = 0;
    sh.service = rc_type_new("Service", SVC_NSLOTS, NULL);
    rc_object **keys[] = {&sh.k_name, &sh.k_services, &sh.k_by_name, &sh.k_defaults,
                          &sh.k_timeout, &sh.k_retries, &sh.k_tags};
    const char *names[] = {"name", "services", "by_name", "defaults", "timeout", "retries", "tags"};
    bool ok = sh.service != NULL;
    for (size_t k = 0; ok && k < sizeof keys / sizeof keys[0]; k++)
        ok = (*keys[k] = rc_str_intern(names[k])) != NULL;
    if (!ok) {
        wl_error_rc(&sh.err, "setting up");
        return wl_fail_summary(ctx, "deepcopy-storm", &sh.err);
    }
    sh.config = ds_build(&sh);
    sh.want = sh.config != NULL ? ds_checksum(&sh, sh.config, false) : 0;
    if (sh.config == NULL || wl_failed(&sh.err)) {
        rc_decref(sh.config);
        return wl_fail_summary(ctx, "deepcopy-storm", &sh.err);
    }
    struct ds_worker *w = calloc((size_t)p->threads, sizeof *w);
    if (w == NULL) {
        rc_decref(sh.config);
        snprintf(ctx->summary, sizeof ctx->summary, "deepcopy-storm: out of memory");
        return -1;
    }
    for (int i = 0; i < p->threads; i++)
        w[i] = (struct ds_worker){.sh = &sh, .index = i};
    wl_run_workers(p->threads, ds_worker_main, w, sizeof *w, &sh.err);
    wl_work_done(ctx);
    long served = 0;
    for (int i = 0; i < p->threads; i++)
        served += w[i].served;
    free(w);
    ctx->ops = (uint64_t)served;

    uint64_t again = wl_failed(&sh.err) ? sh.want : ds_checksum(&sh, sh.config, false);
    rc_dict_clear(sh.config);   /* the services' back-references stay: the collector's */
    rc_decref(sh.config);
    long left = wl_leftover(live_at_start);
    if (wl_failed(&sh.err))
        return wl_fail_summary(ctx, "deepcopy-storm", &sh.err);
    if (again != sh.want || served != p->requests || left != 0) {
        snprintf(ctx->summary, sizeof ctx->summary,
                 "deepcopy-storm: the original's checksum 0x%llx (was 0x%llx), %ld of %ld "
                 "requests served, %ld objects left after a full collection",
                 (unsigned long long)again, (unsigned long long)sh.want, served, p->requests,
                 left);
        return -1;
    }
    snprintf(ctx->summary, sizeof ctx->summary,
             "%ld deep copies of %ld services checksummed (0x%llx) and shaped like the "
             "original; nothing left", served, p->items, (unsigned long long)sh.want);
    return 0;
}

static const wl_bound ds_bounds[] = {
    {"--items", offsetof(wl_params, items), 1, DS_MAX_SERVICES,
     "a configuration is copied whole on every request"},
    {"--requests", offsetof(wl_params, requests), 1, LONG_MAX, NULL},
    {NULL, 0, 0, 0, NULL},
};

/* The configuration (DS_TRACKED_PER_SERVICE tracked objects a service) and
 * the copies waiting for a collection: each copy is one whole
 * configuration of cyclic garbage. */
static double ds_peak_bytes(const wl_params *p, long threshold0)
{
    double per_copy = (double)p->items * DS_TRACKED_PER_SERVICE + 3;
    return per_copy * WL_GARBAGE_BYTES +
           wl_garbage_waiting(per_copy * (double)p->requests, threshold0) * WL_GARBAGE_BYTES;
}

const rc_workload wl_deepcopy_storm = {
    .name = "deepcopy-storm",
    .description = "requests deep-copy a shared cyclic configuration, read the copy and drop "
                   "it (cyclic garbage)",
    .size_flags = "--items --requests",
    .defaults = wl_deepcopy_storm_defaults,
    .quick = wl_deepcopy_storm_quick,
    .bounds = ds_bounds,
    .peak_bytes = ds_peak_bytes,
    .run = ds_run,
};
