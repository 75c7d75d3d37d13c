/* tools/lat/hist.h: lat_hist, the latency histogram of the pause-latency
 * reporting layer (lat_): non-negative 64-bit values (nanoseconds) kept to
 * three significant decimal digits, HdrHistogram's log-linear idea.
 *
 * Bucket layout.  A value v is stored in one counter.  Values 0..2047 each
 * have their own counter (exact).  Above that, every power-of-two range
 * [2^m, 2^(m+1)) (m >= 11) is cut into 1024 equal slots of width
 * 2^(m-10), so a slot is never wider than 1/1024 of the values in it.  A
 * slot is reported by its highest value, so a reported value r for a
 * recorded value v satisfies v <= r < v * (1 + 1/1024): relative error
 * below 0.098% (< 0.1%, 3 significant digits).  The range is 0 to
 * LAT_HIST_HIGHEST = 2^42 - 1 ns (about 73 minutes); larger values are
 * clamped to LAT_HIST_HIGHEST and counted (lat_hist_clamped).  That is
 * LAT_HIST_COUNTS counters of 64 bits (33 * 1024, 264 KiB) in one block
 * allocated by lat_hist_new; the same layout as an HdrHistogram built with
 * (lowest 1, highest 3.6e12, 3 significant digits): 32 buckets of 2048
 * sub-buckets.
 *
 * Not thread-safe: keep one histogram per recording thread and merge them.
 */
#ifndef RCGC_LAT_HIST_H
#define RCGC_LAT_HIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LAT_HIST_SUB_BITS 11                              /* 2048 sub-buckets */
#define LAT_HIST_SUB_BUCKETS (1u << LAT_HIST_SUB_BITS)    /* HdrHistogram's SubBuckets */
#define LAT_HIST_HALF (LAT_HIST_SUB_BUCKETS / 2)          /* slots per power of two */
#define LAT_HIST_BUCKETS 32                               /* HdrHistogram's Buckets */
#define LAT_HIST_COUNTS ((LAT_HIST_BUCKETS + 1) * LAT_HIST_HALF)  /* 33792 counters */
#define LAT_HIST_HIGHEST ((UINT64_C(1) << (LAT_HIST_SUB_BITS + LAT_HIST_BUCKETS - 1)) - 1)

/* The .hgrm rows: HdrHistogram's percentile_ticks_per_half_distance. */
#define LAT_HIST_HGRM_TICKS 5

typedef struct lat_hist lat_hist;

/* One non-empty slot, as the iterator reports it. */
typedef struct lat_hist_bucket {
    uint64_t low;         /* lowest value the slot holds */
    uint64_t high;        /* highest value the slot holds (inclusive) */
    uint64_t count;       /* values recorded in the slot (> 0) */
    uint64_t cumulative;  /* values recorded in this slot and all below it */
} lat_hist_bucket;

/* Iterator over the non-empty slots, lowest first; plain data, no cleanup. */
typedef struct lat_hist_iter {
    const lat_hist *h;
    size_t index;
    uint64_t cumulative;
} lat_hist_iter;

/* New empty histogram, or NULL if allocation fails. */
lat_hist *lat_hist_new(void);
/* Free a histogram (NULL is ignored). */
void lat_hist_free(lat_hist *h);
/* Forget everything recorded; keeps the memory. */
void lat_hist_reset(lat_hist *h);

/* Record one value: O(1), no allocation; above LAT_HIST_HIGHEST it is clamped. */
void lat_hist_record(lat_hist *h, uint64_t value);
/* Record count copies of value (count 0 records nothing). */
void lat_hist_record_n(lat_hist *h, uint64_t value, uint64_t count);
/* Add src's values into dst (dst == src doubles it); -1 if an argument is NULL
 * or the total count would overflow, dst unchanged then. */
int lat_hist_merge(lat_hist *dst, const lat_hist *src);

/* Number of values recorded. */
uint64_t lat_hist_count(const lat_hist *h);
/* Number of recorded values that were above LAT_HIST_HIGHEST and clamped to it. */
uint64_t lat_hist_clamped(const lat_hist *h);
/* Exact smallest recorded value (after clamping); 0 when empty. */
uint64_t lat_hist_min(const lat_hist *h);
/* Exact largest recorded value (after clamping); 0 when empty. */
uint64_t lat_hist_max(const lat_hist *h);
/* Exact mean of the recorded values (after clamping); 0 when empty. */
double lat_hist_mean(const lat_hist *h);
/* Population standard deviation, HdrHistogram's way: each value taken as the
 * middle of its slot; within (RMS of the values)/2048 of the exact one. */
double lat_hist_stddev(const lat_hist *h);
/* The smallest recorded value v with at least percentile% of the values <= v,
 * reported as the highest value of v's slot but never above max; percentile
 * is clamped to [0, 100]; 0 gives min, 100 gives max, empty gives 0. */
uint64_t lat_hist_percentile(const lat_hist *h, double percentile);

/* Lowest value sharing value's slot (value clamped to the range first). */
uint64_t lat_hist_lowest_equivalent(uint64_t value);
/* Highest value sharing value's slot (value clamped to the range first). */
uint64_t lat_hist_highest_equivalent(uint64_t value);

/* Start iterating over h's non-empty slots. */
void lat_hist_iter_init(lat_hist_iter *it, const lat_hist *h);
/* Fill *out with the next non-empty slot; 0 when there are no more, else 1. */
int lat_hist_iter_next(lat_hist_iter *it, lat_hist_bucket *out);
/* Call fn on each non-empty slot, lowest first; stops at and returns the first
 * non-zero value fn returns, else 0. */
int lat_hist_foreach(const lat_hist *h, int (*fn)(const lat_hist_bucket *b, void *arg),
                     void *arg);

/* Write the .hgrm text: byte for byte what HdrHistogram's (Java)
 * outputPercentileDistribution(out, 5, value_unit_ratio) prints for the same
 * values (value_unit_ratio 1000.0 prints ns as us).  Its figures, not ours:
 * rows show slot tops (not clamped to max), the footer Mean is over slot
 * middles and Max is the top of max's slot, all within 0.1% of
 * lat_hist_percentile/mean/max.  Numbers are rounded as Java rounds them,
 * with '.' whatever the locale.  0, or -1 on a write error (the stream is
 * flushed to find out) or a ratio that is not finite and > 0. */
int lat_hist_write_hgrm(const lat_hist *h, FILE *out, double value_unit_ratio);

#endif /* RCGC_LAT_HIST_H */
