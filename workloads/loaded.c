/* workloads/loaded.c: workloads loaded from libraries (rcgc/workload.h).
 *
 * wl_load opens a library, checks its module's ABI version and every
 * workload's definition, and registers each as an rc_workload whose run()
 * is the driver's side of the public contract: setup, one thread per
 * run_thread, verify.  Its sizes live in wl_params: a size named like a
 * built-in one (depth, live, ...) in that field, any other in an ext slot
 * shared by every workload that uses the name.
 *
 * Threads: wl_load and wl_ext_slot run on the program's main thread
 * before any workload does (the rcgc command loads its --load libraries
 * while it parses its arguments, a report's sizes while it reads the
 * file); afterwards the tables here are only read.  A run's own state is
 * in struct loaded_run, described there.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loaded.h"
#include "rcgc/workload.h"
#include "workload.h"

#define WL_MAX_LOADED 64     /* workloads, over every library */
#define WL_MAX_LIBS 16

struct wl_loaded {
    rc_workload w;                       /* first: what the registry hands out */
    const rcgc_workload *def;            /* the library's definition */
    const char *source;                  /* the path given to wl_load */
    int nsizes;
    size_t offset[RCGC_WORKLOAD_MAX_SIZES];   /* of each size's long in wl_params */
    int ext[RCGC_WORKLOAD_MAX_SIZES];         /* its ext slot, -1 for a built-in field */
    int builtin[RCGC_WORKLOAD_MAX_SIZES];     /* else its index in builtin_sizes */
    wl_bound bounds[RCGC_WORKLOAD_MAX_SIZES + 1];
    char flags[RCGC_WORKLOAD_MAX_SIZES][32];  /* "--capacity" */
    char size_flags[RCGC_WORKLOAD_MAX_SIZES * 32];
};

static struct wl_loaded *loaded[WL_MAX_LOADED];
static size_t nloaded;
static void *libs[WL_MAX_LIBS];
static size_t nlibs;
static char ext_names[WL_MAX_EXT][24];

/* The sizes a built-in workload uses, by name: a loaded workload's size of
 * the same name is the same field (and flag).  In wl_params.builtin_used's
 * order (workload.h). */
static const struct {
    const char *name;
    size_t offset;
} builtin_sizes[] = {
    {"depth", offsetof(wl_params, depth)},       {"live", offsetof(wl_params, live)},
    {"cycles", offsetof(wl_params, cycles)},     {"requests", offsetof(wl_params, requests)},
    {"iterations", offsetof(wl_params, iterations)}, {"items", offsetof(wl_params, items)},
};

/* The command's other flags, which no size may shadow. */
static const char *const reserved_flags[] = {
    "mode", "modes", "collector", "collectors", "threads", "seed", "quick", "trace", "json",
    "hgrm", "html", "help", "load", "read", "gc-threshold", "gc-stress", "gc-verify", "version",
};

const rc_workload *wl_loaded_at(size_t i)
{
    return i < nloaded ? &loaded[i]->w : NULL;
}

const char *wl_source(const rc_workload *w)
{
    return w->loaded != NULL ? w->loaded->source : NULL;
}

const char *wl_size_help(const char *name)
{
    for (size_t i = 0; i < nloaded; i++)
        for (int j = 0; j < loaded[i]->nsizes; j++)
            if (strcmp(loaded[i]->def->sizes[j].name, name) == 0)
                return loaded[i]->def->sizes[j].help != NULL ? loaded[i]->def->sizes[j].help : "";
    return NULL;
}

const char *wl_ext_name(int k)
{
    return k >= 0 && k < WL_MAX_EXT && ext_names[k][0] != '\0' ? ext_names[k] : NULL;
}

int wl_ext_slot(const char *name)
{
    if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof ext_names[0])
        return -1;
    for (int k = 0; k < WL_MAX_EXT; k++) {
        if (ext_names[k][0] == '\0') {
            snprintf(ext_names[k], sizeof ext_names[k], "%s", name);
            return k;
        }
        if (strcmp(ext_names[k], name) == 0)
            return k;
    }
    return -1;
}

/* ------------------------------------------------------------ checking */

/* Lower-case letters, digits and '-', starting with a letter, 1..max
 * characters. */
static bool good_name(const char *s, size_t max)
{
    if (s == NULL || s[0] < 'a' || s[0] > 'z' || strlen(s) > max)
        return false;
    for (const char *p = s; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    return true;
}

bool wl_size_name_ok(const char *name)
{
    return good_name(name, sizeof ext_names[0] - 1);
}

/* Check one definition and build its rc_workload (not yet registered).
 * NULL with a message in err. */
static struct wl_loaded *make_loaded(const char *path, const rcgc_workload *d, char *err,
                                     size_t n)
{
    const char *name = d->name != NULL ? d->name : "(null)";
    if (!good_name(d->name, 63)) {
        snprintf(err, n, "--load %s: workload name '%s' is not 1..63 lower-case letters, digits "
                 "and '-' starting with a letter", path, name);
        return NULL;
    }
    const rc_workload *same = wl_find(d->name);
    if (same != NULL) {
        if (wl_source(same) != NULL)
            snprintf(err, n, "--load %s: workload '%s' clashes with the workload of that name "
                     "from %s", path, d->name, wl_source(same));
        else
            snprintf(err, n, "--load %s: workload '%s' clashes with the built-in workload of "
                     "that name", path, d->name);
        return NULL;
    }
    if (d->run_thread == NULL || d->verify == NULL) {
        snprintf(err, n, "--load %s: workload '%s' has no %s (rcgc/workload.h: both run_thread "
                 "and verify are required)", path, d->name,
                 d->run_thread == NULL ? "run_thread" : "verify");
        return NULL;
    }
    int dthreads = d->default_threads > 0 ? d->default_threads : 1;
    int mthreads = d->min_threads > 0 ? d->min_threads : 1;
    if (d->default_threads < 0 || d->min_threads < 0 || dthreads < mthreads ||
        dthreads > RCGC_WORKLOAD_MAX_THREADS) {
        snprintf(err, n, "--load %s: workload '%s': default_threads %d and min_threads %d must be "
                 "in 0..%d with the default at least the minimum", path, d->name,
                 d->default_threads, d->min_threads, RCGC_WORKLOAD_MAX_THREADS);
        return NULL;
    }
    struct wl_loaded *l = calloc(1, sizeof *l);
    if (l == NULL) {
        snprintf(err, n, "--load %s: out of memory", path);
        return NULL;
    }
    for (const rcgc_workload_size *s = d->sizes; s != NULL && s->name != NULL; s++) {
        int i = l->nsizes;
        if (i == RCGC_WORKLOAD_MAX_SIZES) {
            snprintf(err, n, "--load %s: workload '%s' has more than %d sizes", path, d->name,
                     RCGC_WORKLOAD_MAX_SIZES);
            goto fail;
        }
        if (!wl_size_name_ok(s->name)) {
            snprintf(err, n, "--load %s: workload '%s': size name '%s' is not 1..23 lower-case "
                     "letters, digits and '-' starting with a letter", path, d->name, s->name);
            goto fail;
        }
        for (size_t r = 0; r < sizeof reserved_flags / sizeof reserved_flags[0]; r++)
            if (strcmp(s->name, reserved_flags[r]) == 0) {
                snprintf(err, n, "--load %s: workload '%s': size --%s would shadow rcgc's own "
                         "flag of that name", path, d->name, s->name);
                goto fail;
            }
        for (int j = 0; j < i; j++)
            if (strcmp(d->sizes[j].name, s->name) == 0) {
                snprintf(err, n, "--load %s: workload '%s' declares size --%s twice", path,
                         d->name, s->name);
                goto fail;
            }
        if (s->min > s->max || s->dflt < s->min || s->dflt > s->max || s->quick < s->min ||
            s->quick > s->max) {
            snprintf(err, n, "--load %s: workload '%s': size --%s: default %ld and quick %ld "
                     "must lie in min..max, %ld..%ld", path, d->name, s->name, s->dflt, s->quick,
                     s->min, s->max);
            goto fail;
        }
        l->ext[i] = -1;
        bool builtin = false;
        for (size_t b = 0; b < sizeof builtin_sizes / sizeof builtin_sizes[0]; b++)
            if (strcmp(s->name, builtin_sizes[b].name) == 0) {
                l->offset[i] = builtin_sizes[b].offset;
                l->builtin[i] = (int)b;
                builtin = true;
            }
        if (!builtin) {
            int k = wl_ext_slot(s->name);
            if (k < 0) {
                snprintf(err, n, "--load %s: workload '%s': size --%s: the loaded workloads "
                         "have more than %d distinct size names", path, d->name, s->name,
                         WL_MAX_EXT);
                goto fail;
            }
            l->ext[i] = k;
            l->offset[i] = offsetof(wl_params, ext) + (size_t)k * sizeof(long);
        }
        snprintf(l->flags[i], sizeof l->flags[i], "--%s", s->name);
        l->bounds[i] = (wl_bound){l->flags[i], l->offset[i], s->min, s->max, NULL};
        size_t len = strlen(l->size_flags);
        snprintf(l->size_flags + len, sizeof l->size_flags - len, "%s%s", len ? " " : "",
                 l->flags[i]);
        l->nsizes++;
    }
    l->def = d;
    l->source = path;
    l->w = (rc_workload){
        .name = d->name,
        .description = d->description != NULL ? d->description : "",
        .size_flags = l->size_flags,
        .min_threads = mthreads,
        .bounds = l->bounds,
        .run = NULL,   /* set by the caller: loaded_run */
        .loaded = l,
    };
    return l;
fail:
    free(l);
    return NULL;
}

static int loaded_run(wl_context *ctx);

int wl_load(const char *path, char *err, size_t n)
{
    char file[PATH_MAX];
    if (path == NULL || path[0] == '\0') {
        snprintf(err, n, "--load needs a file name");
        return -1;
    }
    if (strlen(path) + 3 > sizeof file) {
        snprintf(err, n, "--load: the path is longer than %zu bytes: %.64s...", sizeof file - 3,
                 path);
        return -1;
    }
    snprintf(file, sizeof file, "%s%s", strchr(path, '/') != NULL ? "" : "./", path);
    if (access(file, F_OK) != 0) {
        snprintf(err, n, "--load %s: no such file", path);
        return -1;
    }
    dlerror();
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        snprintf(err, n, "--load %s: cannot load it: %s", path, dlerror());
        return -1;
    }
    for (size_t i = 0; i < nlibs; i++)
        if (libs[i] == h) {   /* loaded before: registered once */
            dlclose(h);
            return 0;
        }
    const rcgc_workload_library *m = dlsym(h, RCGC_WORKLOAD_SYMBOL);
    struct wl_loaded *made[WL_MAX_LOADED];
    size_t nmade = 0;
    if (m == NULL) {
        snprintf(err, n, "--load %s: no registration symbol %s (a workload library registers "
                 "its workloads with RCGC_WORKLOADS(...) from rcgc/workload.h)", path,
                 RCGC_WORKLOAD_SYMBOL);
        goto fail;
    }
    if (m->abi_version != RCGC_WORKLOAD_ABI_VERSION) {
        snprintf(err, n, "--load %s: built for workload ABI version %d; this rcgc runs version "
                 "%d (rebuild it against this rcgc's rcgc/workload.h)", path, m->abi_version,
                 RCGC_WORKLOAD_ABI_VERSION);
        goto fail;
    }
    if (m->object_size != sizeof(rc_object)) {
        snprintf(err, n, "--load %s: built with a %u-byte object header; this rcgc's is %zu "
                 "(rebuild it against this rcgc's headers)", path, m->object_size,
                 sizeof(rc_object));
        goto fail;
    }
    if (m->workloads == NULL || m->workloads[0] == NULL) {
        snprintf(err, n, "--load %s: its module registers no workload", path);
        goto fail;
    }
    if (nlibs == WL_MAX_LIBS) {
        snprintf(err, n, "--load %s: at most %d libraries may be loaded", path, WL_MAX_LIBS);
        goto fail;
    }
    for (size_t i = 0; m->workloads[i] != NULL; i++) {
        if (nloaded + nmade == WL_MAX_LOADED) {
            snprintf(err, n, "--load %s: at most %d workloads may be loaded", path,
                     WL_MAX_LOADED);
            goto fail;
        }
        const rcgc_workload *d = m->workloads[i];
        for (size_t j = 0; j < nmade; j++)
            if (d->name != NULL && strcmp(made[j]->def->name, d->name) == 0) {
                snprintf(err, n, "--load %s: registers workload '%s' twice", path, d->name);
                goto fail;
            }
        struct wl_loaded *l = make_loaded(path, d, err, n);
        if (l == NULL)
            goto fail;
        l->w.run = loaded_run;
        made[nmade++] = l;
    }
    for (size_t j = 0; j < nmade; j++)
        loaded[nloaded++] = made[j];
    libs[nlibs++] = h;
    return 0;
fail:
    for (size_t j = 0; j < nmade; j++)
        free(made[j]);
    dlclose(h);
    return -1;
}

/* ------------------------------------------------------------- sizes */

static long *size_field(wl_params *p, size_t offset)
{
    return (long *)(void *)((char *)p + offset);
}

void wl_loaded_defaults(const rc_workload *w, wl_params *p)
{
    const struct wl_loaded *l = w->loaded;
    p->threads = l->def->default_threads > 0 ? l->def->default_threads : 1;
    p->seed = l->def->default_seed;
    for (int i = 0; i < l->nsizes; i++) {
        *size_field(p, l->offset[i]) = l->def->sizes[i].dflt;
        if (l->ext[i] >= 0)
            p->ext_used |= 1u << l->ext[i];
        else
            p->builtin_used |= 1u << l->builtin[i];
    }
}

void wl_loaded_quick(const rc_workload *w, wl_params *p)
{
    const struct wl_loaded *l = w->loaded;
    for (int i = 0; i < l->nsizes; i++)
        *size_field(p, l->offset[i]) = l->def->sizes[i].quick;
}

/* The sizes in the order of the definition's. */
static void public_sizes(const struct wl_loaded *l, const wl_params *p, long *size)
{
    for (int i = 0; i < l->nsizes; i++)
        size[i] = *(const long *)(const void *)((const char *)p + l->offset[i]);
}

double wl_loaded_peak_bytes(const rc_workload *w, const wl_params *p)
{
    const struct wl_loaded *l = w->loaded;
    if (l->def->peak_bytes == NULL)
        return 0.0;
    long size[RCGC_WORKLOAD_MAX_SIZES] = {0};
    public_sizes(l, p, size);
    rcgc_workload_run r = {.threads = p->threads, .seed = p->seed, .size = size};
    double b = l->def->peak_bytes(&r);
    return b >= 0.0 && b < 1e30 ? b : 0.0;   /* NaN, negative, huge: no estimate */
}

/* --------------------------------------------------------------- a run */

/* One run of a loaded workload.  pub is what the workload sees (first, so
 * that its callbacks find the rest).  Thread rules: pub.state and
 * pub.summary are the workload's (its setup and verify on the creating
 * thread, its threads in between, ordered by rc_thread_start and
 * rc_thread_join); failed and message are written under mu by any thread;
 * gate is written under mu by the creating thread and read under it by
 * the others; thread[i].ops is written by thread i before it ends and read
 * after the join. */
struct loaded_run {
    rcgc_workload_run pub;
    wl_context *ctx;
    const struct wl_loaded *l;
    long size[RCGC_WORKLOAD_MAX_SIZES];
    pthread_mutex_t mu;
    pthread_cond_t gate_cv;
    int gate;        /* 0: wait; 1: every thread started, run; -1: one did
                      * not start, skip run_thread (its peers might wait
                      * for it forever) */
    bool failed;
    char message[160];
};

struct loaded_thread {
    struct loaded_run *run;
    int index;
    int64_t ops;
};

static void lr_record_op(rcgc_workload_run *pub, int thread, uint64_t latency_ns)
{
    wl_context *ctx = ((struct loaded_run *)(void *)pub)->ctx;
    ctx->record_op(ctx, thread, latency_ns);
}

static void lr_progress(rcgc_workload_run *pub, double fraction)
{
    wl_context *ctx = ((struct loaded_run *)(void *)pub)->ctx;
    ctx->progress(ctx, fraction);
}

static void lr_vfail(struct loaded_run *r, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&r->mu);
    if (!r->failed) {
        r->failed = true;
        vsnprintf(r->message, sizeof r->message, fmt, ap);
    }
    pthread_mutex_unlock(&r->mu);
}

__attribute__((format(printf, 2, 3))) static void lr_fail(rcgc_workload_run *pub,
                                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lr_vfail((struct loaded_run *)(void *)pub, fmt, ap);
    va_end(ap);
}

/* Open the gate: 1 when every thread started, -1 when one did not. */
static void lr_open_gate(struct loaded_run *r, int how)
{
    pthread_mutex_lock(&r->mu);
    r->gate = how;
    pthread_cond_broadcast(&r->gate_cv);
    pthread_mutex_unlock(&r->mu);
}

static void lr_thread_main(void *arg)
{
    struct loaded_thread *t = arg;
    struct loaded_run *r = t->run;
    /* Wait for every thread to start, detached (a stop of the world or, in
     * gil mode, the GIL never waits for us meanwhile). */
    rc_detach();
    pthread_mutex_lock(&r->mu);
    while (r->gate == 0)
        pthread_cond_wait(&r->gate_cv, &r->mu);
    int go = r->gate > 0;
    pthread_mutex_unlock(&r->mu);
    rc_attach();
    if (!go)
        return;
    t->ops = r->l->def->run_thread(&r->pub, t->index);
    if (t->ops < 0)
        lr_fail(&r->pub, "thread %d returned -1 without calling run->fail (the last rcgc "
                "error on it: %s)", t->index,
                rc_error_occurred() != RC_ERR_NONE ? rc_error_message() : "none");
}

/* The workload's summary, NUL-terminated whatever it wrote. */
static const char *lr_summary(struct loaded_run *r)
{
    r->pub.summary[sizeof r->pub.summary - 1] = '\0';
    return r->pub.summary;
}

static int loaded_run(wl_context *ctx)
{
    const struct wl_loaded *l = ctx->workload->loaded;
    const wl_params *p = ctx->params;
    struct loaded_run r = {.ctx = ctx, .l = l};
    public_sizes(l, p, r.size);
    r.pub = (rcgc_workload_run){
        .threads = p->threads,
        .seed = p->seed,
        .size = r.size,
        .record_op = lr_record_op,
        .progress = lr_progress,
        .fail = lr_fail,
        .driver = &r,
    };
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.gate_cv, NULL);
    int rc = -1;
    if (l->def->setup != NULL && l->def->setup(&r.pub) != 0) {
        snprintf(ctx->summary, sizeof ctx->summary, "setup failed: %.140s",
                 r.failed ? r.message
                 : lr_summary(&r)[0] != '\0' ? r.pub.summary
                                             : "(no reason given)");
        goto out;
    }
    int nt = p->threads;
    struct loaded_thread *ts = calloc((size_t)nt, sizeof *ts);
    rc_thread **hs = calloc((size_t)nt, sizeof *hs);
    int started = 0;
    if (ts == NULL || hs == NULL) {
        lr_fail(&r.pub, "out of memory for %d threads", nt);
    } else {
        for (; started < nt; started++) {
            ts[started] = (struct loaded_thread){.run = &r, .index = started};
            hs[started] = rc_thread_start(lr_thread_main, &ts[started]);
            if (hs[started] == NULL) {
                lr_fail(&r.pub, "could not start thread %d of %d, so none ran: %s", started,
                        nt, rc_error_message());
                break;
            }
        }
    }
    lr_open_gate(&r, started == nt ? 1 : -1);
    uint64_t ops = 0;
    for (int i = 0; i < started; i++) {
        if (rc_thread_join(hs[i]) < 0)
            lr_fail(&r.pub, "joining thread %d: %s", i, rc_error_message());
        if (ts[i].ops > 0)
            ops += (uint64_t)ts[i].ops;
    }
    free(ts);
    free(hs);
    ctx->ops = ops;
    /* Called whatever the threads did: it drops what setup made. */
    int vr = l->def->verify(&r.pub);
    snprintf(ctx->summary, sizeof ctx->summary, "%s",
             r.failed                    ? r.message
             : lr_summary(&r)[0] != '\0' ? r.pub.summary
             : vr == 0                   ? "ok"
                                         : "verify failed (no reason given)");
    rc = r.failed || vr != 0 ? -1 : 0;
out:
    pthread_cond_destroy(&r.gate_cv);
    pthread_mutex_destroy(&r.mu);
    return rc;
}
