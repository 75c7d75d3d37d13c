/* runtime/records.c: the bounded record ring (records.h). */
#define RCGC_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "records.h"

void rec_ring_init(struct rec_ring *r, size_t size)
{
    r->items = NULL;
    r->size = size;
    r->count = r->cap = 0;
}

void rec_ring_fini(struct rec_ring *r)
{
    free(r->items);
    r->items = NULL;
    r->count = r->cap = 0;
}

int rec_ring_push(struct rec_ring *r, const void *rec)
{
    if (r->count == r->cap && r->cap < RC_RECORDS_KEPT) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        void *items = realloc(r->items, cap * r->size);
        if (items == NULL)
            return -1;
        r->items = items;
        r->cap = cap;
    }
    memcpy((char *)r->items + (r->count % RC_RECORDS_KEPT) * r->size, rec, r->size);
    r->count++;
    return 0;
}

size_t rec_ring_oldest(const struct rec_ring *r)
{
    return r->count > RC_RECORDS_KEPT ? r->count - RC_RECORDS_KEPT : 0;
}

size_t rec_ring_copy(const struct rec_ring *r, size_t first, void *out, size_t max)
{
    size_t n = 0, oldest = rec_ring_oldest(r);
    for (size_t i = first > oldest ? first : oldest; i < r->count && n < max; i++, n++)
        memcpy((char *)out + n * r->size,
               (const char *)r->items + (i % RC_RECORDS_KEPT) * r->size, r->size);
    return n;
}
