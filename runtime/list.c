/* runtime/list.c: the list type, a growable sequence of references
 * (struct rc_list and struct list_array in objects.h), GC-tracked.
 *
 * Invariant: arr->items[0..len) are non-NULL references the list owns, and
 * arr->items[len..arr->cap) are NULL (outside a mutation, which holds the
 * lock); len <= arr->cap <= list_max_len(); arr is NULL exactly when the
 * list has no array (new, cleared), and then len == 0.  The item array is
 * its own allocation carrying its capacity, replaced as a whole when it
 * grows (list_reserve_locked, the only place that sizes it) or dropped by a
 * clear, never resized in place.  Every function that fails leaves the
 * list exactly as it was.  References are dropped only once the list is
 * consistent again (as CPython's list_clear and Py_SETREF do), because a
 * drop may run arbitrary code (a finalizer) that looks at the list.
 *
 * Thread rule.
 *   gil mode: the GIL serialises every list operation; no lock is taken
 *     and the atomics below compile to plain loads and stores.
 *   ft modes: a mutation (append, insert, set, pop, clear, growth) holds
 *     the list's lock byte (lock.h) and publishes with release stores;
 *     rc_list_get, rc_list_get_borrowed and rc_list_len take no lock
 *     (list_get_ft, list_get_borrowed_ft).  A mutation that changes len or
 *     arr or moves items keeps the list's sequence count odd while it runs
 *     (list_seq_begin/end, objects.h), so that a negative-index reader,
 *     which turns the index into a slot through len, can tell that it may
 *     have mixed two states and take the lock instead; insert and pop keep
 *     a second count, of moves, odd while they move items, for the
 *     non-negative-index readers (list_moves_begin/end).  The rule of
 *     lock.h holds: no object code runs under the lock (no decref that may
 *     free, no object allocation, no safepoint; mem_alloc of an array runs
 *     none), so the old item of set, pop's shifted-out slot and a cleared
 *     array's items are dropped after unlocking.  Memory a lock-free reader
 *     may still be reading is reclaimed only after a grace period (qsbr.h):
 *     a replaced array is retired (list_array_release), and every item
 *     stored is marked RC_GC_SHARED before it is published, so that its
 *     memory is retired too when it dies (obj_free) and a reader's
 *     ref_try_incref on it stays a read of valid memory.  The same makes
 *     borrowed reads sound (docs/threads.md [thr.borrow]): a borrowed item
 *     may die at once, but its memory, and the immutable content of an
 *     int or str, last until the borrower's next quiescent state.
 *   rc_traverse on a list another thread is mutating is the caller's
 *     problem: the collector calls traverse with the world stopped, and a
 *     user thread that traverses must exclude mutators itself (the visited
 *     items are borrowed, with no reference taken).
 *   Deallocation takes no lock: no other thread holds a reference.
 */
#define RCGC_BUILDING 1
#include <limits.h>
#include <string.h>

#include "borrow.h"
#include "lock.h"
#include "objects.h"

/* Largest len: the array's size must fit a size_t, and len a long. */
static size_t list_max_len(void)
{
    size_t m = (SIZE_MAX - sizeof(struct list_array)) / sizeof(rc_object *);
    return m < (size_t)LONG_MAX ? m : (size_t)LONG_MAX;
}

#define LIST_MIN_CAP 8

/* ---------------------------------------------------------- mode, locking */

/* The calling thread's state if the runtime is free-threaded (lists take
 * their lock, readers go lock-free), NULL in gil mode (or for a thread with
 * no state, which may not use objects at all).  The one mode test of each
 * operation. */
static inline struct thr_state *list_ft(void)
{
    struct thr_state *ts = rc_tls_state;
    return ts != NULL && ts->rt->cfg.mode != RC_MODE_GIL ? ts : NULL;
}

static inline void list_lock(struct thr_state *ft, struct rc_list *l)
{
    if (ft != NULL)
        obj_lock(&l->ob);
}

static inline void list_unlock(struct thr_state *ft, struct rc_list *l)
{
    if (ft != NULL)
        obj_unlock(&l->ob);
}

/* The fields as the writer sees them: called with the lock held (ft) or
 * the GIL (gil).  relaxed: every store to them is made under that same
 * exclusion, which orders it before our load. */
static inline struct list_array *list_arr_locked(struct rc_list *l)
{
    return rc_atomic_load_relaxed(&l->arr);
}

static inline size_t list_len_locked(struct rc_list *l)
{
    return rc_atomic_load_relaxed(&l->len);
}

/* Bracket a mutation that changes len or arr or moves items: the sequence
 * count is odd from before its first store to after its last (objects.h,
 * rc_list.seq).  Under the lock, ft mode only (gil mode has no lock-free
 * reader).  Every store of the mutation in between is a release store
 * (slots, len, arr), so a reader whose acquire load sees any of them sees
 * the odd count, or a later one, when it loads the count again. */
static inline void list_seq_begin(struct thr_state *ft, struct rc_list *l)
{
    if (ft != NULL)
        /* relaxed (both): under the lock; ordered before the mutation's
         * stores by their release (above). */
        rc_atomic_store_relaxed(&l->seq, rc_atomic_load_relaxed(&l->seq) + 1);
}

static inline void list_seq_end(struct thr_state *ft, struct rc_list *l)
{
    if (ft != NULL)
        /* release: pairs with a reader's first (acquire) load of seq: a
         * reader that sees the even count sees every store before it. */
        rc_atomic_store_release(&l->seq, rc_atomic_load_relaxed(&l->seq) + 1);
}

/* The same for the move count (objects.h, rc_list.moves), around the
 * moves of insert and pop and the stores that publish them. */
static inline void list_moves_begin(struct thr_state *ft, struct rc_list *l)
{
    if (ft != NULL)
        /* relaxed (both): as list_seq_begin. */
        rc_atomic_store_relaxed(&l->moves, rc_atomic_load_relaxed(&l->moves) + 1);
}

static inline void list_moves_end(struct thr_state *ft, struct rc_list *l)
{
    if (ft != NULL)
        /* release: as list_seq_end. */
        rc_atomic_store_release(&l->moves, rc_atomic_load_relaxed(&l->moves) + 1);
}

/* --------------------------------------------------------------- storage */

/* Give back an array nobody will read again once in-flight readers are
 * done: in ft mode a lock-free reader may have loaded it just before it was
 * unpublished, so it is freed after a grace period.  Called unlocked. */
static void list_array_release(struct thr_state *ft, struct list_array *a)
{
    if (a == NULL)
        return;
    if (ft != NULL && ft->qsbr.registered)
        qsbr_retire(ft, a);
    else
        mem_free(a);
}

/* Make room for at least need items in a list of len items; the caller
 * holds the lock (ft).  Growth is geometric (x1.5), so n appends cost O(n)
 * copies.  Returns the array, which has room: on growth a new one, already
 * published, and the replaced one (NULL if none) is left in *old for the
 * caller to list_array_release after unlocking.  NULL with MemoryError and
 * the list unchanged. */
static struct list_array *list_reserve_locked(const char *fn, struct rc_list *l, size_t len,
                                              size_t need, struct list_array **old)
{
    struct list_array *a = list_arr_locked(l);
    size_t cap = a != NULL ? a->cap : 0;
    if (need <= cap)
        return a;
    if (need > list_max_len())
        return err_null(RC_ERR_MEMORY, "%s(): list too long (%zu items)", fn, need);
    size_t ncap = cap < LIST_MIN_CAP ? LIST_MIN_CAP : cap + cap / 2;
    if (ncap < need || ncap > list_max_len())
        ncap = ncap < need ? need : list_max_len();
    /* mem_alloc runs no object code and no safepoint: allowed under the
     * lock.  On failure it sets MemoryError (thread-local, no object). */
    struct list_array *na = mem_alloc(sizeof *na + ncap * sizeof na->items[0]);
    if (na == NULL)
        return NULL;
    na->cap = ncap;
    /* Plain copies: na is not published yet, and the old array's slots are
     * only read here (by us and by lock-free readers: no race). */
    if (len > 0)
        memcpy((void *)na->items, (const void *)a->items, len * sizeof na->items[0]);
    memset((void *)(na->items + len), 0, (ncap - len) * sizeof na->items[0]);
    /* release: pairs with the acquire load of arr in list_get_ft, so a
     * reader that sees na sees its cap and contents. */
    rc_atomic_store_release(&l->arr, na);
    *old = a;
    return na;
}

/* Move a->items[from..from+n) to a->items[to..to+n) (overlapping), under
 * the lock (ft) or the GIL.  In ft mode lock-free readers load these slots
 * concurrently, so each slot is written with one atomic store, release so
 * that a reader that finds an item in its new slot sees it initialised
 * (the item was published under this lock, which we hold) and sees the
 * odd sequence count of the move (list_seq_begin; the caller's). */
static void list_move_locked(struct thr_state *ft, struct list_array *a, size_t to,
                             size_t from, size_t n)
{
    if (n == 0)
        return;
    if (ft == NULL) {
        memmove((void *)&a->items[to], (const void *)&a->items[from], n * sizeof a->items[0]);
        return;
    }
    if (to > from) {
        for (size_t k = n; k-- > 0;)
            /* relaxed load: under the lock.  release store: see above. */
            rc_atomic_store_release(&a->items[to + k], rc_atomic_load_relaxed(&a->items[from + k]));
    } else {
        for (size_t k = 0; k < n; k++)
            rc_atomic_store_release(&a->items[to + k], rc_atomic_load_relaxed(&a->items[from + k]));
    }
}

/* Detach the array (the list is then valid and empty), then drop the
 * references it held, last first as CPython does, then give the array
 * back.  Nothing touches the list after the detach: a drop may free it. */
static void list_clear_items(struct thr_state *ft, struct rc_list *l)
{
    list_lock(ft, l);
    struct list_array *a = list_arr_locked(l);
    size_t n = list_len_locked(l);
    list_seq_begin(ft, l);
    /* release: pairs with the acquire loads in list_get_ft/rc_list_len
     * (nothing else is published by these two, but the sequence count
     * relies on it). */
    rc_atomic_store_release(&l->len, 0);
    rc_atomic_store_release(&l->arr, NULL);
    list_seq_end(ft, l);
    list_unlock(ft, l);
    /* relaxed: a is detached, so nobody writes it any more (lock-free
     * readers that loaded it earlier only read it). */
    while (n > 0)
        rc_decref(rc_atomic_load_relaxed(&a->items[--n]));
    list_array_release(ft, a);
}

/* ------------------------------------------------------------ type hooks */

static int list_traverse(rc_object *o, rc_visit_fn visit, void *arg)
{
    struct rc_list *l = (struct rc_list *)o;
    /* relaxed: the collector calls this with the world stopped (or, in gil
     * mode, holding the GIL); a user thread must exclude mutators itself
     * (file comment). */
    struct list_array *a = rc_atomic_load_relaxed(&l->arr);
    size_t n = rc_atomic_load_relaxed(&l->len);
    for (size_t i = 0; a != NULL && i < n && i < a->cap; i++) {
        rc_object *item = rc_atomic_load_relaxed(&a->items[i]);
        if (item == NULL)
            continue;
        int r = visit(item, arg);
        if (r != 0)
            return r;
    }
    return 0;
}

static void list_clear(rc_object *o)
{
    list_clear_items(list_ft(), (struct rc_list *)o);
}

static void list_dealloc(rc_object *o)
{
    /* Already untracked by obj_dealloc; deep nesting is bounded by its
     * trashcan, so dropping items here may recurse only a little.  No lock
     * and relaxed accesses: nobody else holds a reference, so no thread
     * reads or writes the list any more (a lock-free reader of a container
     * holding it touches only its header, never its array).  For the same
     * reason the array is freed at once, not retired. */
    struct rc_list *l = (struct rc_list *)o;
    struct list_array *a = rc_atomic_load_relaxed(&l->arr);
    size_t n = rc_atomic_load_relaxed(&l->len);
    rc_atomic_store_relaxed(&l->len, 0);
    rc_atomic_store_relaxed(&l->arr, NULL);
    while (n > 0)
        rc_decref(rc_atomic_load_relaxed(&a->items[--n]));
    mem_free(a);
    obj_free(o);
}

const rc_type rc_list_type = {
    .name = "list",
    .flags = RC_TYPE_GC,
    .basicsize = sizeof(struct rc_list),
    .dealloc = list_dealloc,
    .traverse = list_traverse,
    .clear = list_clear,
};

/* ------------------------------------------------------------ public API */

/* The list, or NULL with a TypeError naming fn. */
static struct rc_list *as_list(const char *fn, rc_object *o)
{
    if (!obj_is(o, &rc_list_type))
        return err_type_null(fn, "a list", o);
    return (struct rc_list *)o;
}

static int check_item(const char *fn, rc_object *item)
{
    if (item == NULL)
        return err_int(RC_ERR_TYPE, "%s(): item must be an object, not NULL", fn);
    return 0;
}

/* index (negative counts from the end) as a position in [0, n), or -1
 * with an IndexError naming fn. */
static long list_index(const char *fn, long n, long index)
{
    long i = index < 0 ? index + n : index;
    if (i < 0 || i >= n)
        return err_int(RC_ERR_INDEX, "%s(): index %ld out of range (len %ld)", fn, index, n);
    return i;
}

rc_object *rc_list_new(void)
{
    /* obj_alloc zeroes the body: no array, len 0. */
    return obj_alloc(&rc_list_type, sizeof(struct rc_list));
}

long rc_list_len(rc_object *list)
{
    struct rc_list *l = as_list("rc_list_len", list);
    if (l == NULL)
        return -1;
    /* acquire: pairs with the writers' release stores of len.  The same in
     * gil mode, where it is a plain load on x86 and saves a mode test. */
    return (long)rc_atomic_load_acquire(&l->len);
}

int rc_list_append(rc_object *list, rc_object *item)
{
    struct rc_list *l = as_list("rc_list_append", list);
    if (l == NULL || check_item("rc_list_append", item) < 0)
        return -1;
    struct thr_state *ft = list_ft();
    if (ft != NULL) {
        obj_escape_check(&l->ob);   /* another thread's list: internal.h */
        obj_mark_shared(item);      /* before it is published (file comment) */
    }
    struct list_array *old = NULL;
    list_lock(ft, l);
    size_t n = list_len_locked(l);
    list_seq_begin(ft, l);   /* growth replaces arr; len changes */
    struct list_array *a = list_reserve_locked("rc_list_append", l, n, n + 1, &old);
    if (a != NULL) {
        rc_incref(item);
        /* release (both): pair with the acquire loads in list_get_ft and
         * rc_list_len; the item before len, so a reader that sees the new
         * len finds the item (or a later value) in its slot. */
        rc_atomic_store_release(&a->items[n], item);
        rc_atomic_store_release(&l->len, n + 1);
    }
    list_seq_end(ft, l);
    list_unlock(ft, l);
    list_array_release(ft, old);
    return a != NULL ? 0 : -1;
}

int rc_list_insert(rc_object *list, long index, rc_object *item)
{
    struct rc_list *l = as_list("rc_list_insert", list);
    if (l == NULL || check_item("rc_list_insert", item) < 0)
        return -1;
    struct thr_state *ft = list_ft();
    if (ft != NULL) {
        obj_escape_check(&l->ob);   /* another thread's list: internal.h */
        obj_mark_shared(item);      /* before it is published */
    }
    struct list_array *old = NULL;
    list_lock(ft, l);
    size_t len = list_len_locked(l);
    list_seq_begin(ft, l);   /* moves items before it publishes len */
    struct list_array *a = list_reserve_locked("rc_list_insert", l, len, len + 1, &old);
    if (a != NULL) {
        /* Clamp to [0, len], as Python's list.insert. */
        long n = (long)len;
        long i = index < 0 ? index + n : index;
        if (i < 0)
            i = 0;
        else if (i > n)
            i = n;
        bool moves = i < n;   /* items [i, n) shift right */
        if (moves)
            list_moves_begin(ft, l);
        list_move_locked(ft, a, (size_t)i + 1, (size_t)i, (size_t)(n - i));
        rc_incref(item);
        /* release: as in rc_list_append. */
        rc_atomic_store_release(&a->items[i], item);
        rc_atomic_store_release(&l->len, len + 1);
        if (moves)
            list_moves_end(ft, l);
    }
    list_seq_end(ft, l);
    list_unlock(ft, l);
    list_array_release(ft, old);
    return a != NULL ? 0 : -1;
}

/* ft mode, the slow path of rc_list_get: under the lock.  Loads everything
 * afresh (the lock may have detached us, ending our QSBR read section). */
static rc_object *list_get_locked(struct rc_list *l, long index)
{
    obj_lock(&l->ob);
    long i = list_index("rc_list_get", (long)list_len_locked(l), index);
    rc_object *item = NULL;
    if (i >= 0) {
        /* relaxed: under the lock. */
        item = rc_atomic_load_relaxed(&list_arr_locked(l)->items[i]);
        rc_incref(item);
        /* An item nobody but its owner ever touched has ob_ref_shared == 0,
         * which ref_try_incref refuses: mark it so the next lock-free read
         * succeeds (safe: the list holds a reference, the item is alive). */
        ref_set_maybe_weakref(item);
    }
    obj_unlock(&l->ob);
    return item;
}

/* ft mode: read without the lock.  The item pointer is valid memory while
 * we stay in our QSBR read section (no safepoint, no detach): the list held
 * it when we loaded it and it is RC_GC_SHARED, so its memory is retired,
 * not freed.  ref_try_incref refuses it if it is already dying; if it
 * succeeds, the item is still in the slot and the array still the list's,
 * then it was in the list at that moment.  A negative index names a slot
 * through len, and insert and pop move items before they publish the new
 * len, so a len and a slot loaded a moment apart may come from two states
 * (the item may never have been at that position, and a change of len and
 * back goes unseen): such a read is done only between two equal even
 * loads of the sequence count (objects.h, rc_list.seq), else under the
 * lock.  A non-negative index does not depend on len, but a slot may
 * already hold its post-move item while an insert or pop is still moving
 * the others, so it is read between two equal even loads of the move
 * count (rc_list.moves; appends and pops of the last item leave it
 * alone). */
__attribute__((noinline))   /* keeps rc_list_get's gil path lean */
static rc_object *list_get_ft(struct rc_list *l, long index)
{
    /* A negative index checks seq, a non-negative one the move count
     * (objects.h; list_get_borrowed_ft says why): the loads below must lie
     * between two equal even loads of it. */
    _Atomic size_t *count = index < 0 ? &l->seq : &l->moves;
    /* acquire: pairs with the release store that ended the last mutation
     * (list_seq_end, list_moves_end): we see all of its stores. */
    size_t seq = rc_atomic_load_acquire(count);
    if (seq & 1)
        return list_get_locked(l, index);   /* a writer is at work */
    /* acquire: pairs with the release store of len (append, insert), which
     * follows the array's and the item's publication. */
    long n = (long)rc_atomic_load_acquire(&l->len);
    long i = list_index("rc_list_get", n, index);
    if (i < 0)
        return NULL;
    /* acquire: pairs with the release store of arr in list_reserve_locked
     * (cap and the copied items). */
    struct list_array *a = rc_atomic_load_acquire(&l->arr);
    if (a != NULL && (size_t)i < a->cap) {
        /* acquire: pairs with the release stores into the slots (append,
         * insert, set, list_move_locked): the item is initialised. */
        rc_object *item = rc_atomic_load_acquire(&a->items[i]);
        if (item != NULL && ref_try_incref(item)) {
            /* acquire (all): ordered after the reference was taken.  The
             * count unchanged: for a negative index no mutation of len,
             * arr or positions, for a non-negative one no move of items,
             * may have begun since our first load of it (relaxed: after the
             * acquire loads above, any of which saw a store of such a
             * mutation, all release stores after its odd count, so this
             * load sees that count or a later one). */
            if (rc_atomic_load_acquire(&a->items[i]) == item &&
                rc_atomic_load_acquire(&l->arr) == a &&
                rc_atomic_load_relaxed(count) == seq)
                return item;
            /* Moved meanwhile.  The drop may run object code (it may have
             * been the last reference): a and item are dead to us now. */
            rc_decref(item);
        }
    }
    return list_get_locked(l, index);
}

rc_object *rc_list_get(rc_object *list, long index)
{
    struct rc_list *l = as_list("rc_list_get", list);
    if (l == NULL)
        return NULL;
    if (list_ft() != NULL) {
        obj_escape_check(&l->ob);   /* another thread's list: internal.h */
        return list_get_ft(l, index);
    }
    /* gil mode: the GIL excludes every writer. */
    long i = list_index("rc_list_get", (long)list_len_locked(l), index);
    if (i < 0)
        return NULL;
    /* relaxed: under the GIL. */
    rc_object *item = rc_atomic_load_relaxed(&list_arr_locked(l)->items[i]);
    rc_incref(item);
    return item;
}

int rc_list_set(rc_object *list, long index, rc_object *item)
{
    struct rc_list *l = as_list("rc_list_set", list);
    if (l == NULL || check_item("rc_list_set", item) < 0)
        return -1;
    struct thr_state *ft = list_ft();
    if (ft != NULL) {
        obj_escape_check(&l->ob);   /* another thread's list: internal.h */
        obj_mark_shared(item);      /* before it is published */
    }
    list_lock(ft, l);
    long i = list_index("rc_list_set", (long)list_len_locked(l), index);
    rc_object *old = NULL;
    if (i >= 0) {
        struct list_array *a = list_arr_locked(l);
        old = rc_atomic_load_relaxed(&a->items[i]);   /* relaxed: under the lock */
        rc_incref(item);
        /* release: pairs with the acquire load of the slot in list_get_ft. */
        rc_atomic_store_release(&a->items[i], item);
    }
    list_unlock(ft, l);
    /* Store first, drop the old reference last and unlocked (Py_SETREF). */
    rc_decref(old);
    return i < 0 ? -1 : 0;
}

rc_object *rc_list_pop(rc_object *list, long index)
{
    struct rc_list *l = as_list("rc_list_pop", list);
    if (l == NULL)
        return NULL;
    struct thr_state *ft = list_ft();
    if (ft != NULL)
        obj_escape_check(&l->ob);   /* another thread's list: internal.h */
    list_lock(ft, l);
    size_t n = list_len_locked(l);
    rc_object *item = NULL;
    if (n == 0) {
        err_set(RC_ERR_INDEX, "rc_list_pop(): pop from empty list");
    } else {
        long i = list_index("rc_list_pop", (long)n, index);
        if (i >= 0) {
            struct list_array *a = list_arr_locked(l);
            item = rc_atomic_load_relaxed(&a->items[i]);   /* relaxed: under the lock */
            list_seq_begin(ft, l);   /* moves items before it publishes len */
            bool moves = (size_t)i + 1 < n;   /* items (i, n) shift left */
            if (moves)
                list_moves_begin(ft, l);
            list_move_locked(ft, a, (size_t)i, (size_t)i + 1, n - (size_t)i - 1);
            /* release (both): pair with the acquire loads in list_get_ft;
             * the vacated slot must read NULL, never a stale item. */
            rc_atomic_store_release(&a->items[n - 1], NULL);
            rc_atomic_store_release(&l->len, n - 1);
            if (moves)
                list_moves_end(ft, l);
            list_seq_end(ft, l);
        }
    }
    list_unlock(ft, l);
    return item;   /* the list's reference, now the caller's */
}

int rc_list_clear(rc_object *list)
{
    struct rc_list *l = as_list("rc_list_clear", list);
    if (l == NULL)
        return -1;
    struct thr_state *ft = list_ft();
    if (ft != NULL)
        obj_escape_check(&l->ob);   /* another thread's list: internal.h */
    list_clear_items(ft, l);
    return 0;
}

int rc_is_list(rc_object *o)
{
    return obj_is(o, &rc_list_type);
}

/* ------------------------------------------------------- borrowed reads */

/* Lock-free attempts before a borrowed read takes the lock.  An attempt
 * fails only when a writer changed things meanwhile (a pop or clear emptied
 * the slot, or the count below moved); a read takes the lock at once when
 * its count shows a writer at work: the sequence count for a negative
 * index (any append, insert, pop or clear), the move count for a
 * non-negative one (only an insert, or a pop other than the last item). */
#define LIST_BORROW_TRIES 4

/* ft mode, the slow path of rc_list_get_borrowed: under the lock, taken
 * attached (borrow.h), so that the caller's earlier borrows survive.  The
 * item is in the list while we hold the lock: it is alive, and stays
 * readable until our next quiescent state even if it is dropped the moment
 * we unlock (RC_GC_SHARED). */
static rc_object *list_get_borrowed_locked(struct rc_list *l, long index)
{
    obj_lock_attached(&l->ob);
    long i = list_index("rc_list_get_borrowed", (long)list_len_locked(l), index);
    /* relaxed: under the lock. */
    rc_object *item = i >= 0 ? rc_atomic_load_relaxed(&list_arr_locked(l)->items[i]) : NULL;
    /* Marked while the list still holds it (internal.h). */
    if (item != NULL)
        obj_escape_check(item);
    obj_unlock(&l->ob);
    return item;
}

/* ft mode: a borrowed read, no count written and no lock taken (docs/
 * threads.md [thr.borrow]).  Loads as list_get_ft.  A slot of array a
 * holds what the list held at index i at some moment between our load of
 * a and our load of the slot: if a is still the list's array, now; if it
 * was replaced meanwhile, when it was replaced, since a replaced array is
 * never written again (list_reserve_locked, list_clear_items).  While an
 * insert or pop before i is moving items, though, "now" is half done: the
 * slot may already hold what index i will hold once the mutation
 * publishes len, while a slot before it still holds the earlier state, so
 * two reads by one thread could see the move half done: a non-negative
 * index's loads must lie between two equal even loads of the move count
 * (objects.h, rc_list.moves), which appends leave alone.  A negative index
 * names a slot through len, which insert and pop publish only after
 * moving the items: as in list_get_ft, its loads must lie between two
 * equal even loads of the sequence count (objects.h, rc_list.seq), which
 * then also vouch that len and arr did not change (nor change and change
 * back). */
__attribute__((noinline))   /* keeps rc_list_get_borrowed's gil path lean */
static rc_object *list_get_borrowed_ft(struct rc_list *l, long index)
{
    /* As in list_get_ft: seq for a negative index, the move count for a
     * non-negative one. */
    _Atomic size_t *count = index < 0 ? &l->seq : &l->moves;
    for (int attempt = 0; attempt < LIST_BORROW_TRIES; attempt++) {
        /* acquire: pairs with the release store that ended the last
         * mutation (list_seq_end, list_moves_end): we see its stores. */
        size_t seq = rc_atomic_load_acquire(count);
        if (seq & 1)
            break;   /* a writer is at work: wait for it on the lock */
        /* acquire: pairs with the release store of len (append, insert),
         * which follows the array's and the item's publication. */
        long n = (long)rc_atomic_load_acquire(&l->len);
        long i = list_index("rc_list_get_borrowed", n, index);
        if (i < 0)
            return NULL;
        /* acquire: pairs with the release store of arr in
         * list_reserve_locked (cap and the copied items). */
        struct list_array *a = rc_atomic_load_acquire(&l->arr);
        if (a == NULL || (size_t)i >= a->cap)
            continue;   /* cleared (and maybe regrown) since the len load */
        /* acquire: pairs with the release stores into the slots (append,
         * insert, set, list_move_locked): the item's content is visible. */
        rc_object *item = rc_atomic_load_acquire(&a->items[i]);
        if (item == NULL)
            continue;   /* popped or cleared since the len load */
        /* relaxed: after the acquire loads above; as in list_get_ft. */
        if (rc_atomic_load_relaxed(count) == seq) {
            if (!obj_escape_needed(item))
                return item;
            /* Another thread's object that it may collect on its own: mark
             * it (internal.h), then read again, since it may have left the
             * list and died while we waited. */
            obj_escape_slow(item);
            continue;
        }
        break;   /* a writer moved things meanwhile: take the lock */
    }
    return list_get_borrowed_locked(l, index);
}

rc_object *rc_list_get_borrowed(rc_object *list, long index)
{
    struct rc_list *l = as_list("rc_list_get_borrowed", list);
    if (l == NULL)
        return NULL;
    if (list_ft() != NULL) {
        obj_escape_check(&l->ob);   /* another thread's list: internal.h */
        return list_get_borrowed_ft(l, index);
    }
    /* gil mode: the GIL excludes every writer, and no other thread runs
     * until this one lets it (docs/threads.md [thr.borrow]). */
    long i = list_index("rc_list_get_borrowed", (long)list_len_locked(l), index);
    if (i < 0)
        return NULL;
    /* relaxed: under the GIL. */
    return rc_atomic_load_relaxed(&list_arr_locked(l)->items[i]);
}
