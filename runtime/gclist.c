/* runtime/gclist.c: thread-safe GC lists (see gclist.h for the
 * synchronisation table and the life of an exited thread's owner record).
 *
 * Invariant: a tracked object is linked in exactly one list of the owner
 * its gc_head names (the orphan owner for objects of exited threads), or --
 * during a collection only -- in one of the collector's private lists.  A
 * dead tracked object stays linked until its owner (or orphan_mu's holder,
 * or the collector) unlinks it and frees its memory.
 */
#define RCGC_BUILDING 1
#include <stdlib.h>

#include "internal.h"

/* ------------------------------------------------------------- owners */

static void owner_init(struct gcl_owner *ow, struct gcl_state *st)
{
    ow->state = st;
    for (int i = 0; i < GCL_NLISTS; i++)
        gcl_init(&ow->lists[i]);
    atomic_init(&ow->handback, NULL);
    ow->orphan = ow->exited = ow->oldspace = false;
    ow->unadopted = 0;
    ow->next_owner = ow->prev_owner = NULL;
}

/* Link ow at the head of *list (owners_mu held). */
static void owner_push_locked(struct gcl_owner **list, struct gcl_owner *ow)
{
    ow->prev_owner = NULL;
    ow->next_owner = *list;
    if (*list != NULL)
        (*list)->prev_owner = ow;
    *list = ow;
}

static void owner_unlink_locked(struct gcl_owner **list, struct gcl_owner *ow)
{
    if (ow->prev_owner != NULL)
        ow->prev_owner->next_owner = ow->next_owner;
    else
        *list = ow->next_owner;
    if (ow->next_owner != NULL)
        ow->next_owner->prev_owner = ow->prev_owner;
    ow->next_owner = ow->prev_owner = NULL;
}

int gcl_state_init(struct gcl_state *st)
{
    pthread_mutex_init(&st->owners_mu, NULL);
    pthread_mutex_init(&st->orphan_mu, NULL);
    st->owners = st->retired = st->spare = NULL;
    st->oldspace = NULL;
    st->nlive = st->nretired = st->nspare = 0;
    struct gcl_owner *orphan = calloc(1, sizeof *orphan);
    if (orphan == NULL) {
        pthread_mutex_destroy(&st->orphan_mu);
        pthread_mutex_destroy(&st->owners_mu);
        err_nomem();
        return -1;
    }
    owner_init(orphan, st);
    /* Its stack is closed for good: a thread freeing an orphan object
     * unlinks it under orphan_mu. */
    atomic_init(&orphan->handback, HANDBACK_CLOSED);
    orphan->orphan = orphan->exited = true;
    st->orphan = orphan;
    owner_push_locked(&st->owners, orphan);   /* single-threaded here */
    st->nlive = 1;
    return 0;
}

static void free_owner_list(struct gcl_owner *ow)
{
    while (ow != NULL) {
        struct gcl_owner *next = ow->next_owner;
        free(ow);
        ow = next;
    }
}

void gcl_state_fini(struct gcl_state *st)
{
    free_owner_list(st->owners);
    free_owner_list(st->retired);
    free_owner_list(st->spare);
    st->owners = st->retired = st->spare = st->orphan = st->oldspace = NULL;
    pthread_mutex_destroy(&st->orphan_mu);
    pthread_mutex_destroy(&st->owners_mu);
}

int gcl_oldspace_init(struct rc_runtime *rt)
{
    struct gcl_state *st = &rt->gcl;
    struct gcl_owner *old = calloc(1, sizeof *old);
    if (old == NULL) {
        err_nomem();
        return -1;
    }
    owner_init(old, st);
    old->oldspace = true;
    st->oldspace = old;
    /* In the owner list, so that walks with the world stopped (every
     * collection, the verifier, freeze) see its lists; never exited, never
     * reused.  Single-threaded here. */
    owner_push_locked(&st->owners, old);
    st->nlive++;
    return 0;
}

struct gcl_owner *gcl_owner_new(struct rc_runtime *rt)
{
    struct gcl_state *st = &rt->gcl;
    pthread_mutex_lock(&st->owners_mu);
    struct gcl_owner *ow = st->spare;
    if (ow != NULL) {
        owner_unlink_locked(&st->spare, ow);
        st->nspare--;
    }
    pthread_mutex_unlock(&st->owners_mu);
    if (ow == NULL && (ow = calloc(1, sizeof *ow)) == NULL)
        return err_nomem();
    /* A spare record is no thread's: its lists are empty (adopted at exit)
     * and its stack closed; nobody reads it but through stale pointers,
     * which only read `exited` and `orphan` (gcl_list_for_stw, with the
     * world stopped) -- never while we write them here, as we are not
     * parked and no stop is on. */
    owner_init(ow, st);
    pthread_mutex_lock(&st->owners_mu);
    owner_push_locked(&st->owners, ow);
    st->nlive++;
    pthread_mutex_unlock(&st->owners_mu);
    return ow;
}

/* Objects renamed and moved to the orphan's lists under one hold of
 * orphan_mu; the exiting thread passes a safepoint between two such moves,
 * so neither threads freeing orphan objects nor a stop-the-world wait for
 * more than one (about 40 us) whatever the thread's heap. */
#define EXIT_CHUNK 4096

/* Under orphan_mu: rename up to EXIT_CHUNK objects at the head of `from`
 * to `orphan` and move them to the end of `to`.  Returns whether any are
 * left in `from`. */
static bool adopt_chunk_locked(struct gcl_owner *orphan, struct gc_head *to,
                               struct gc_head *from)
{
    struct gc_head *first = from->next, *last = from;
    for (int n = 0; n < EXIT_CHUNK && last->next != from; n++) {
        last = last->next;
        gcl_set_owner(last, orphan);
    }
    if (last == from)
        return false;
    struct gc_head *rest = last->next, *tail = to->prev;
    from->next = rest;       /* cut [first..last] out of from */
    rest->prev = from;
    tail->next = first;      /* and append it to to */
    first->prev = tail;
    last->next = to;
    to->prev = last;
    return rest != from;
}

/* Push g on ow's hand-back stack (Treiber push; the single consumer takes
 * the whole stack with an exchange, so there is no ABA).  release: the
 * owner that pops it sees everything we did to the object.  false if the
 * stack is closed (its owner exited). */
static bool push_handback(struct gcl_owner *ow, struct gc_head *g)
{
    /* relaxed: only a guess for the CAS, which re-reads on failure. */
    struct gc_head *head = rc_atomic_load_relaxed(&ow->handback);
    while (head != HANDBACK_CLOSED) {
        g->aux = (uintptr_t)head;
        /* release: pairs with the acquire exchange of gcl_drain_handback
         * and gcl_owner_exit. */
        if (rc_atomic_cas_release(&ow->handback, &head, g))
            return true;
    }
    return false;
}

/* g, on ow's hand-back stack, has moved into the old space since its
 * pusher read its owner (gcl_adopt_into_oldspace): it is linked there
 * now, so it goes on the old space's stack instead of being unlinked.
 * The caller drains ow's stack: its owner thread, which did the move
 * itself, or a thread that stopped the world, which the move happened
 * before (the mover passes no safepoint in between). */
static bool forward_to_oldspace(struct gcl_owner *ow, struct gc_head *g)
{
    struct gcl_owner *now = gcl_owner_of(g);
    if (now == ow || !now->oldspace)
        return false;
    push_handback(now, g);
    return true;
}

void gcl_owner_exit(struct rc_runtime *rt, struct thr_state *ts)
{
    struct gcl_state *st = &rt->gcl;
    struct gcl_owner *ow = ts->gcl;
    struct gcl_owner *orphan = st->orphan;
    /* Rename and adopt, a chunk at a time; then close.  Meanwhile our
     * objects are in our lists, named by us, or in the orphan's, named by
     * it: a pusher that reads the orphan finds its stack closed and waits
     * for orphan_mu; one that read us pushes on our stack, still open, and
     * we unlink what it pushed when we close it below. */
    for (int i = 0; i < GCL_NLISTS; i++) {
        bool more = true;
        while (more) {
            pthread_mutex_lock(&st->orphan_mu);
            more = adopt_chunk_locked(orphan, &orphan->lists[i], &ow->lists[i]);
            pthread_mutex_unlock(&st->orphan_mu);
            if (more)
                rc_safepoint();
        }
    }
    pthread_mutex_lock(&st->orphan_mu);
    /* A collection or a freeze run at one of our safepoints may have put
     * objects back into a list already emptied (survivors promoted into
     * ours): adopt them too, with no safepoint now, so none is left. */
    for (int i = 0; i < GCL_NLISTS; i++)
        while (adopt_chunk_locked(orphan, &orphan->lists[i], &ow->lists[i]))
            ;
    /* Objects our local collections promoted (or an unfreeze put in our
     * list of the oldest generation) that the collector could not take
     * before we left: whoever can next moves them on. */
    if (st->oldspace != NULL && !gcl_is_empty(&orphan->lists[RC_GC_GENERATIONS - 1]))
        rc_atomic_store_relaxed(&st->orphan_old, true);
    /* acquire: pairs with the pushers' release CAS (gcl_free_tracked). */
    struct gc_head *taken = rc_atomic_exchange_acquire(&ow->handback, HANDBACK_CLOSED);
    struct gc_head *dead = NULL;
    while (taken != NULL) {
        struct gc_head *g = taken;
        taken = (struct gc_head *)g->aux;
        /* What we moved into the old space goes on its stack (our
         * objects are renamed to the orphan above, those only to it). */
        if (forward_to_oldspace(orphan, g))
            continue;
        gcl_remove(g);
        g->aux = (uintptr_t)dead;
        dead = g;
    }
    ow->exited = true;
    pthread_mutex_unlock(&st->orphan_mu);
    /* Out of the walks.  Reusable once no thread can be between reading
     * this record from an object and pushing on its stack: such a thread
     * is attached, so an online QSBR reader, and passes no quiescent state
     * in between -- after a grace period (qsbr_retire with QSBR_RECORD;
     * gil mode: at once, as nobody pushes). */
    pthread_mutex_lock(&st->owners_mu);
    owner_unlink_locked(&st->owners, ow);
    st->nlive--;
    owner_push_locked(&st->retired, ow);
    st->nretired++;
    pthread_mutex_unlock(&st->owners_mu);
    ts->gcl = NULL;
    if (rt->cfg.mode == RC_MODE_GIL)
        gcl_owner_reusable(ow);
    else
        qsbr_retire(ts, (void *)((uintptr_t)ow | QSBR_RECORD));
    /* Release outside orphan_mu: releasing may retire memory through QSBR,
     * which must not happen under a lock other online threads wait for. */
    while (dead != NULL) {
        struct gc_head *next = (struct gc_head *)dead->aux;
        gcl_release_memory(ts, GC_HEAD_OBJ(dead));
        dead = next;
    }
}

void gcl_owner_reusable(struct gcl_owner *ow)
{
    struct gcl_state *st = ow->state;
    pthread_mutex_lock(&st->owners_mu);
    owner_unlink_locked(&st->retired, ow);
    st->nretired--;
    owner_push_locked(&st->spare, ow);
    st->nspare++;
    pthread_mutex_unlock(&st->owners_mu);
}

void gcl_for_each_owner_stw(struct rc_runtime *rt, void (*fn)(struct gcl_owner *, void *),
                            void *arg)
{
    RC_ASSERT_STW("gcl_for_each_owner_stw");
    /* owners_mu orders our reads after the last link or unlink; the list
     * cannot change under us otherwise: a thread links its record after
     * attaching (gcl_owner_new) and unlinks it attached, past its last
     * safepoint (gcl_owner_exit), so never while the world is stopped. */
    pthread_mutex_lock(&rt->gcl.owners_mu);
    struct gcl_owner *ow = rt->gcl.owners;
    pthread_mutex_unlock(&rt->gcl.owners_mu);
    for (; ow != NULL; ow = ow->next_owner)
        fn(ow, arg);
}

struct gc_head *gcl_list_for_stw(struct rc_runtime *rt, struct gc_head *g, int i)
{
    RC_ASSERT_STW("gcl_list_for_stw");
    struct gcl_owner *ow = gcl_owner_of(g);
    if (ow->exited && !ow->orphan) {
        ow = rt->gcl.orphan;
        gcl_set_owner(g, ow);
    }
    return &ow->lists[i];
}

long gcl_owner_records(struct rc_runtime *rt)
{
    pthread_mutex_lock(&rt->gcl.owners_mu);
    long n = rt->gcl.nlive + rt->gcl.nretired + rt->gcl.nspare;
    pthread_mutex_unlock(&rt->gcl.owners_mu);
    return n;
}

/* ------------------------------------------------------------ objects */

void gcl_track_new(struct thr_state *ts, rc_object *o)
{
    struct gc_head *g = OBJ_GC_HEAD(o);
    struct gcl_owner *ow = ts->gcl;
    gcl_set_owner(g, ow);
    gcl_append(&ow->lists[0], g);
}

void gcl_release_memory(struct thr_state *ts, rc_object *o)
{
    struct gc_head *g = OBJ_GC_HEAD(o);
    if ((obj_gc_bits(o) & RC_GC_SHARED) && ts->qsbr.registered) {
        /* A lock-free reader may still hold a pointer: keep the memory
         * until a grace period has passed (runtime/qsbr.h). */
        qsbr_retire(ts, g);
        return;
    }
    mem_free(g);
}

/* Unlink a dead object from its list and free it; the caller may touch
 * that list (owner thread, gil mode, collector, or orphan_mu held). */
static void unlink_and_release(struct thr_state *ts, rc_object *o)
{
    struct gc_head *g = OBJ_GC_HEAD(o);
    gcl_remove(g);
    gcl_release_memory(ts, o);
}

void gcl_free_tracked(struct thr_state *ts, rc_object *o)
{
    struct gc_head *g = OBJ_GC_HEAD(o);
    /* The oldest generation shrank: the collector's trigger for full
     * collections counts its growth (reported with the allocation counts,
     * gc/hooks.h).  The bit was set with the world stopped, or by the
     * owner itself with the world running (a local collection's promotion,
     * rc_gc_collect(2)'s promotion of its own young objects): a free by
     * another thread may then miss it (a statistic, relaxed). */
    if (obj_gc_bits(o) & RC_GC_OLD)
        ts->gct.old_freed++;
    struct gcl_owner *ow = gcl_owner_of(g);
    struct rc_runtime *rt = ts->rt;
    /* The old space's objects are always handed back (gcl_oldspace_init):
     * a collector may be reading them. */
    if (ow == ts->gcl || (rt->cfg.mode == RC_MODE_GIL && !ow->oldspace)) {
        unlink_and_release(ts, o);
        return;
    }
    /* Another thread's object: push it on that owner's hand-back stack.
     * ow stays valid until we are done: it is freed only after a stop, and
     * we pass no safepoint here. */
    if (push_handback(ow, g))
        return;
    /* The owner exited (or is the orphan): the object is in an orphan list
     * now, or will be once the exiting owner releases orphan_mu -- unless
     * its thread moved it into the old space before exiting (we read the
     * owner before that: gcl_adopt_into_oldspace), which orphan_mu orders
     * before our read below.  The old space's stack is never closed. */
    pthread_mutex_lock(&rt->gcl.orphan_mu);
    struct gcl_owner *now = gcl_owner_of(g);
    if (now != ow && now->oldspace) {
        pthread_mutex_unlock(&rt->gcl.orphan_mu);
        push_handback(now, g);
        return;
    }
    gcl_remove(g);
    pthread_mutex_unlock(&rt->gcl.orphan_mu);
    gcl_release_memory(ts, o);
}

void gcl_drain_handback(struct thr_state *ts, struct gcl_owner *ow)
{
    /* acquire: pairs with the pushers' release CAS (gcl_free_tracked). */
    struct gc_head *g = rc_atomic_exchange_acquire(&ow->handback, NULL);
    while (g != NULL) {
        struct gc_head *next = (struct gc_head *)g->aux;
        if (!forward_to_oldspace(ow, g))
            unlink_and_release(ts, GC_HEAD_OBJ(g));
        g = next;
    }
}

void gcl_adopt_orphans_into_oldspace(struct rc_runtime *rt, size_t max)
{
    struct gcl_state *st = &rt->gcl;
    pthread_mutex_lock(&st->orphan_mu);
    if (gcl_adopt_some_into_oldspace(rt, &st->orphan->lists[RC_GC_GENERATIONS - 1], max))
        rc_atomic_store_relaxed(&st->orphan_old, false);
    pthread_mutex_unlock(&st->orphan_mu);
}

void gcl_adopt_into_oldspace(struct rc_runtime *rt, struct gc_head *list)
{
    (void)gcl_adopt_some_into_oldspace(rt, list, SIZE_MAX);
}

bool gcl_adopt_some_into_oldspace(struct rc_runtime *rt, struct gc_head *list, size_t max)
{
    struct gcl_owner *old = rt->gcl.oldspace;
    struct gc_head *first = list->next, *last = list;
    for (size_t k = 0; k < max && last->next != list; k++) {
        last = last->next;
        gcl_set_owner(last, old);
    }
    if (last == list)
        return true;   /* it was empty */
    /* first..last out of `list`, onto the end of the old space's. */
    struct gc_head *rest = last->next, *to = &old->lists[RC_GC_GENERATIONS - 1];
    list->next = rest;
    rest->prev = list;
    struct gc_head *tail = to->prev;
    tail->next = first;
    first->prev = tail;
    last->next = to;
    to->prev = last;
    return gcl_is_empty(list);
}

void gcl_drain_handback_at_teardown(struct gcl_owner *ow)
{
    /* acquire: pairs with the pushers' release CAS (gcl_free_tracked). */
    struct gc_head *g = rc_atomic_exchange_acquire(&ow->handback, NULL);
    while (g != NULL) {
        struct gc_head *next = (struct gc_head *)g->aux;
        gcl_remove(g);
        mem_free(g);   /* no reader left: every thread is gone */
        g = next;
    }
}

/* --------------------------------------------- counting for the collector */

void gcl_note_alloc_slow(struct thr_state *ts)
{
    /* Objects other threads handed back to us: unlink and free them. */
    /* relaxed: a hint; the drain's exchange acquires. */
    if (rc_atomic_load_relaxed(&ts->gcl->handback) != NULL)
        gcl_drain_handback(ts, ts->gcl);
    /* The collector takes the counts and says when to report next; it
     * may collect (nothing half-built exists yet).  Allocations meanwhile
     * count against the injection countdown for automatic collections
     * (internal.h). */
    bool outer = ts->in_auto_gc;   /* a callback's allocation in a collection */
    ts->in_auto_gc = true;
    ts->gct.report_at = gc_counts_alloc(ts);
    ts->in_auto_gc = outer;
}
