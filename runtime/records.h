/* runtime/records.h: a bounded ring of fixed-size records (stops here,
 * collections in gc/).  It grows by doubling up to RC_RECORDS_KEPT entries,
 * then keeps the newest RC_RECORDS_KEPT: record i (counting every record
 * ever pushed) sits at i % RC_RECORDS_KEPT.  Thread rule: the caller holds
 * the lock that guards the ring (stw.mu, the collector's gc.mu).
 */
#ifndef RCGC_RECORDS_H
#define RCGC_RECORDS_H

#ifndef RCGC_BUILDING
#error "runtime/records.h is internal to rcgc"
#endif

#include <stddef.h>

struct rec_ring {
    void *items;
    size_t size;        /* bytes per record; immutable after rec_ring_init */
    size_t count;       /* records ever pushed */
    size_t cap;         /* entries allocated (<= RC_RECORDS_KEPT) */
};

void rec_ring_init(struct rec_ring *r, size_t size);
void rec_ring_fini(struct rec_ring *r);
/* Append a copy of rec.  Records are statistics: if the ring cannot grow,
 * the record is dropped (count unchanged) and -1 returned, no error set. */
int rec_ring_push(struct rec_ring *r, const void *rec);
/* Index of the oldest record still kept. */
size_t rec_ring_oldest(const struct rec_ring *r);
/* Copy up to max records from index first (or the oldest kept, if first is
 * older) into out; returns how many. */
size_t rec_ring_copy(const struct rec_ring *r, size_t first, void *out, size_t max);

#endif /* RCGC_RECORDS_H */
