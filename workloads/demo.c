/* workloads/demo.c: see demo.h.  Public API only. */
#include "demo.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define QCAP 1024
#define TABLE 1000

struct shared {
    const struct demo_params *p;
    rc_type *node_type;
    rc_object *table;                 /* list of TABLE ints, read by all */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rc_object *queue[QCAP];
    int head, len, producers_left;
    _Atomic long verified, bad;
    _Atomic uint64_t gil_wait_ns;
};

struct worker {
    struct shared *sh;
    int index;
    long items;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A node graph: Node(seq, str, list of 3 ints) with a cycle-free shape. */
static rc_object *build(struct shared *sh, long seq)
{
    rc_object *n = rc_instance_new(sh->node_type);
    rc_object *v = rc_int_new(seq);
    char buf[32];
    snprintf(buf, sizeof buf, "n%ld", seq);
    rc_object *s = rc_str_new(buf);
    rc_object *l = rc_list_new();
    if (n == NULL || v == NULL || s == NULL || l == NULL)
        return NULL;
    for (int k = 0; k < 3; k++) {
        rc_object *x = rc_int_new(seq + k);
        rc_list_append(l, x);
        rc_decref(x);
    }
    rc_slot_set(n, 0, v);
    rc_slot_set(n, 1, s);
    rc_slot_set(n, 2, l);
    rc_decref(v);
    rc_decref(s);
    rc_decref(l);
    return n;
}

static int verify(rc_object *n)
{
    rc_object *v = rc_slot_get(n, 0), *s = rc_slot_get(n, 1), *l = rc_slot_get(n, 2);
    long seq = (long)rc_int_value(v);
    char buf[32];
    snprintf(buf, sizeof buf, "n%ld", seq);
    int ok = rc_is_str(s) && strcmp(rc_str_data(s), buf) == 0 && rc_list_len(l) == 3;
    for (int k = 0; ok && k < 3; k++) {
        rc_object *x = rc_list_get(l, k);
        ok = rc_int_value(x) == seq + k;
        rc_decref(x);
    }
    rc_decref(v);
    rc_decref(s);
    rc_decref(l);
    return ok;
}

static void read_table(struct shared *sh, int index)
{
    long sum = 0;
    for (long i = 0; i < sh->p->reads; i++) {
        rc_object *x = rc_list_get(sh->table, (long)((i * 7 + index) % TABLE));
        sum += rc_int_value(x);
        rc_decref(x);
        if ((i & 255) == 0)
            rc_safepoint();
    }
    if (sum < 0)
        sh->bad++;
}

static void producer(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    read_table(sh, w->index);
    for (long i = 0; i < w->items; i++) {
        rc_object *n = build(sh, w->index * 100000000L + i);
        rc_detach();
        pthread_mutex_lock(&sh->mu);
        while (sh->len == QCAP)
            pthread_cond_wait(&sh->cv, &sh->mu);
        sh->queue[(sh->head + sh->len++) % QCAP] = n;
        pthread_cond_broadcast(&sh->cv);
        pthread_mutex_unlock(&sh->mu);
        rc_attach();
    }
    pthread_mutex_lock(&sh->mu);
    sh->producers_left--;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
    rc_gil_stats st;
    rc_gil_stats_get(&st);
    sh->gil_wait_ns += st.wait_ns;
}

static void consumer(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    read_table(sh, w->index);
    for (;;) {
        rc_detach();
        pthread_mutex_lock(&sh->mu);
        while (sh->len == 0 && sh->producers_left > 0)
            pthread_cond_wait(&sh->cv, &sh->mu);
        rc_object *n = NULL;
        if (sh->len > 0) {
            n = sh->queue[sh->head];
            sh->head = (sh->head + 1) % QCAP;
            sh->len--;
            pthread_cond_broadcast(&sh->cv);
        }
        pthread_mutex_unlock(&sh->mu);
        rc_attach();
        if (n == NULL)
            break;
        if (n != NULL && verify(n))
            sh->verified++;
        else
            sh->bad++;
        rc_decref(n);
    }
    rc_gil_stats st;
    rc_gil_stats_get(&st);
    sh->gil_wait_ns += st.wait_ns;
}

int demo_run(rc_mode mode, const struct demo_params *p, struct demo_result *out)
{
    memset(out, 0, sizeof *out);
    rc_config cfg = rc_config_default();
    cfg.mode = mode;
    rc_runtime *rt = rc_runtime_new(&cfg);
    if (rt == NULL)
        return -1;
    static struct shared sh;
    memset(&sh, 0, sizeof sh);
    sh.p = p;
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cv, NULL);
    sh.node_type = rc_type_new("Node", 3, NULL);
    sh.table = rc_list_new();
    for (long i = 0; i < TABLE; i++) {
        rc_object *x = rc_int_new(i * 1000);
        rc_list_append(sh.table, x);
        rc_decref(x);
    }
    int nprod = p->threads / 2, ncons = p->threads - nprod;
    sh.producers_left = nprod;
    struct worker w[64];
    rc_thread *t[64];
    double t0 = now_s();
    for (int i = 0; i < p->threads; i++) {
        w[i] = (struct worker){.sh = &sh, .index = i,
                               .items = i < nprod ? p->items / nprod : 0};
        t[i] = rc_thread_start(i < nprod ? producer : consumer, &w[i]);
    }
    for (int i = 0; i < p->threads; i++)
        rc_thread_join(t[i]);
    out->wall_s = now_s() - t0;
    (void)ncons;
    rc_decref(sh.table);
    out->verified = sh.verified;
    out->gil_wait_ns = sh.gil_wait_ns;
    long expected = (p->items / nprod) * nprod;
    out->ops_per_s = (double)(expected + p->reads * p->threads) / out->wall_s;
    out->leaked = rc_runtime_free(rt);
    pthread_cond_destroy(&sh.cv);
    pthread_mutex_destroy(&sh.mu);
    if (sh.bad != 0 || out->verified != expected || out->leaked != 0) {
        fprintf(stderr, "demo: verification failed: %ld of %ld verified, %ld bad, %ld leaked\n",
                out->verified, expected, (long)sh.bad, out->leaked);
        return -1;
    }
    return 0;
}
