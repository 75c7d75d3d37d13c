/* runtime/brc.c: merge queues for biased reference counting.
 *
 * Invariant: an object is in at most one queue, at most once (only the
 * thread whose CAS moved it to QUEUED enqueues it), and the queue holds one
 * reference to it, dropped by the merge (ref_merge(o, -1)).  See brc.h for
 * the locking rule.
 */
#define RCGC_BUILDING 1
#include <stdlib.h>

#include "internal.h"

struct brc_node {
    struct cds_wfcq_node node;
    rc_object *obj;
};

static struct brc_bucket *bucket_of(struct brc_state *brc, uintptr_t tid)
{
    return &brc->buckets[(tid * 0x9E3779B97F4A7C15u) >> 58];  /* 64 buckets */
}

void brc_init(struct brc_state *brc)
{
    for (int i = 0; i < BRC_NBUCKETS; i++) {
        pthread_mutex_init(&brc->buckets[i].mu, NULL);
        brc->buckets[i].threads = NULL;
    }
}

void brc_fini(struct brc_state *brc)
{
    for (int i = 0; i < BRC_NBUCKETS; i++)
        pthread_mutex_destroy(&brc->buckets[i].mu);
}

void brc_register(struct brc_state *brc, struct thr_state *ts)
{
    __cds_wfcq_init(&ts->brc.qhead, &ts->brc.qtail);
    ts->brc.merged = 0;
    struct brc_bucket *b = bucket_of(brc, ts->tid);
    pthread_mutex_lock(&b->mu);
    ts->brc.bucket_next = b->threads;
    b->threads = ts;
    ts->brc.registered = true;
    pthread_mutex_unlock(&b->mu);
}

void brc_unregister(struct brc_state *brc, struct thr_state *ts)
{
    struct brc_bucket *b = bucket_of(brc, ts->tid);
    /* Merge until the queue is found empty under the bucket lock, and
     * unlink in that same critical section.  Merging may free objects and
     * so touch counts of objects we own; once we are unlinked, other
     * threads merge our objects themselves (writing their local counts),
     * so after the unlock this thread must not touch a count again.
     * (CPython's _Py_brc_remove_thread does the same.) */
    for (;;) {
        brc_merge_queued(ts);
        pthread_mutex_lock(&b->mu);
        if (cds_wfcq_empty(&ts->brc.qhead, &ts->brc.qtail))
            break;
        pthread_mutex_unlock(&b->mu);
    }
    struct thr_state **pp = &b->threads;
    while (*pp != ts)
        pp = &(*pp)->brc.bucket_next;
    *pp = ts->brc.bucket_next;
    ts->brc.registered = false;
    pthread_mutex_unlock(&b->mu);
}

void brc_queue_object(rc_object *o, uintptr_t owner)
{
    struct brc_state *brc = &rc_rt->brc;
    struct brc_bucket *b = bucket_of(brc, owner);
    /* The node is allocated outside the lock; it is the one allocation on a
     * refcount path, once per object life at most. */
    struct brc_node *n = malloc(sizeof *n);
    if (n == NULL)
        rc_fatal("out of memory queueing an object for a refcount merge");
    cds_wfcq_node_init(&n->node);
    n->obj = o;
    pthread_mutex_lock(&b->mu);
    struct thr_state *ts = b->threads;
    while (ts != NULL && ts->tid != owner)
        ts = ts->brc.bucket_next;
    if (ts != NULL) {
        cds_wfcq_enqueue(&ts->brc.qhead, &ts->brc.qtail, &n->node);
        /* release: pairs with the owner's acquire re-read of its breaker in
         * rc_safepoint_slow (the queue itself is handed over by b->mu). */
        rc_atomic_or_release(ts->eval_breaker, RC_EB_BRC_MERGE);
        pthread_mutex_unlock(&b->mu);
        return;
    }
    pthread_mutex_unlock(&b->mu);
    free(n);
    /* The owner has exited (or o is owned by no thread in this runtime):
     * nobody else writes its local count any more, so merge here.  The
     * owner's last writes happen-before its unregistering, which
     * happens-before our lookup under the same bucket mutex. */
    if (ref_merge(o, -1) == 0)
        obj_dealloc(o);
}

void brc_merge_queued(struct thr_state *ts)
{
    struct __cds_wfcq_head head;
    struct cds_wfcq_tail tail;
    __cds_wfcq_init(&head, &tail);
    struct brc_bucket *b = bucket_of(&ts->rt->brc, ts->tid);
    pthread_mutex_lock(&b->mu);
    __cds_wfcq_splice_blocking(&head, &tail, &ts->brc.qhead, &ts->brc.qtail);
    pthread_mutex_unlock(&b->mu);

    struct cds_wfcq_node *node, *next;
    __cds_wfcq_for_each_blocking_safe(&head, &tail, node, next) {
        struct brc_node *n = caa_container_of(node, struct brc_node, node);
        rc_object *o = n->obj;
        free(n);
        ts->brc.merged++;
        /* Drop the queue's reference while merging. */
        if (ref_merge(o, -1) == 0)
            obj_dealloc(o);
    }
}

void brc_merge_all_stw(struct rc_runtime *rt)
{
    RC_ASSERT_STW("brc_merge_all_stw");
    struct __cds_wfcq_head head;
    struct cds_wfcq_tail tail;
    __cds_wfcq_init(&head, &tail);
    /* Collect under the locks, merge outside them: merging may free objects
     * and run finalizers. */
    pthread_mutex_lock(&rt->mu);
    for (struct thr_state *t = rt->threads; t != NULL; t = t->next) {
        struct brc_bucket *b = bucket_of(&rt->brc, t->tid);
        pthread_mutex_lock(&b->mu);
        if (t->brc.registered)
            __cds_wfcq_splice_blocking(&head, &tail, &t->brc.qhead, &t->brc.qtail);
        pthread_mutex_unlock(&b->mu);
    }
    pthread_mutex_unlock(&rt->mu);
    struct cds_wfcq_node *node, *next;
    __cds_wfcq_for_each_blocking_safe(&head, &tail, node, next) {
        struct brc_node *n = caa_container_of(node, struct brc_node, node);
        rc_object *o = n->obj;
        free(n);
        if (ref_merge(o, -1) == 0)
            stw_defer_dealloc(rt, o);
    }
}
