/* tools/lat/hist.c: lat_hist, the log-linear latency histogram (see hist.h),
 * and its HdrHistogram percentile-distribution (.hgrm) writer.
 *
 * Slot layout and error bound.  Slot index of a value v <= LAT_HIST_HIGHEST:
 *   s = max(0, floor(log2 v) - 10)      (the slot width is 2^s)
 *   index = s * 1024 + (v >> s)
 * For v < 2048, s = 0 and index = v: one slot per value.  For v >= 2048,
 * v >> s lies in [1024, 2047], so each power of two [2^m, 2^(m+1)) maps onto
 * 1024 consecutive slots of width 2^s = 2^(m-10) <= v/1024, and the indices
 * run on without gaps from 0 to LAT_HIST_COUNTS - 1.  Reporting a slot by
 * its highest value errs by less than one slot width: relative error
 * < 1/1024 < 0.1%.  This is HdrHistogram's layout for lowest value 1 and
 * 3 significant digits (bucket b holds sub-buckets 1024..2047 of width 2^b).
 *
 * Invariants: total == sum of counts[]; every non-zero counter has an index
 * <= slot(max); min/max are the exact extremes of the recorded (clamped)
 * values; sum (128 bits, sum_hi:sum_lo) is their exact sum.  Work that
 * scans counters stops at slot(max) or once the total count is reached, so
 * a histogram of short pauses never touches the pages of the long ones.
 *
 * The .hgrm writer reproduces HdrHistogram's (Java) outputPercentileDistribution
 * byte for byte, footer figures included (checked against HdrHistogram
 * 2.1.11 on uniform, exponential, log-normal, bimodal and edge-case data at
 * several unit ratios).
 */
#include "hist.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lat_hist {
    uint64_t total;    /* values recorded */
    uint64_t clamped;  /* of which clamped to LAT_HIST_HIGHEST */
    uint64_t min;      /* UINT64_MAX when empty */
    uint64_t max;      /* 0 when empty */
    uint64_t sum_lo;   /* exact sum of the values, low 64 bits */
    uint64_t sum_hi;   /* and high 64 bits */
    uint64_t counts[LAT_HIST_COUNTS];
};

/* Index of the highest set bit of v (v > 0). */
static inline unsigned top_bit(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    return 63u - (unsigned)__builtin_clzll(v);
#else
    unsigned b = 0;
    while (v >>= 1)
        b++;
    return b;
#endif
}

/* Slot width exponent of value v: 0 below 2048, else floor(log2 v) - 10. */
static inline unsigned value_shift(uint64_t v)
{
    return top_bit(v | (LAT_HIST_SUB_BUCKETS - 1)) - (LAT_HIST_SUB_BITS - 1);
}

/* Slot index of v (v <= LAT_HIST_HIGHEST). */
static inline size_t slot_of(uint64_t v)
{
    unsigned s = value_shift(v);
    return ((size_t)s << (LAT_HIST_SUB_BITS - 1)) + (size_t)(v >> s);
}

/* Slot width exponent of slot i. */
static inline unsigned slot_shift(size_t i)
{
    return i < LAT_HIST_SUB_BUCKETS ? 0u : (unsigned)(i >> (LAT_HIST_SUB_BITS - 1)) - 1u;
}

/* Lowest value of slot i. */
static inline uint64_t slot_low(size_t i)
{
    unsigned s = slot_shift(i);
    return (uint64_t)(i - ((size_t)s << (LAT_HIST_SUB_BITS - 1))) << s;
}

/* Highest value of slot i. */
static inline uint64_t slot_high(size_t i)
{
    return slot_low(i) + ((UINT64_C(1) << slot_shift(i)) - 1);
}

/* Middle of slot i, rounded up (HdrHistogram's "median equivalent value"). */
static inline uint64_t slot_mid(size_t i)
{
    return slot_low(i) + ((UINT64_C(1) << slot_shift(i)) >> 1);
}

/* The full 128-bit product a * b as hi:lo. */
static void mul_64x64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    const uint64_t m32 = UINT64_C(0xffffffff);
    uint64_t ll = (a & m32) * (b & m32), lh = (a & m32) * (b >> 32);
    uint64_t hl = (a >> 32) * (b & m32), hh = (a >> 32) * (b >> 32);
    uint64_t mid = (ll >> 32) + (lh & m32) + (hl & m32);
    *lo = (mid << 32) | (ll & m32);
    *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

/* sum += hi:lo. */
static inline void sum_add(lat_hist *h, uint64_t hi, uint64_t lo)
{
    uint64_t new_lo = h->sum_lo + lo;
    h->sum_hi += hi + (new_lo < lo);
    h->sum_lo = new_lo;
}

lat_hist *lat_hist_new(void)
{
    /* calloc: a block this size comes zeroed from fresh pages, so untouched
     * slots (the long-pause range, usually) cost address space only. */
    lat_hist *h = calloc(1, sizeof *h);
    if (h != NULL)
        h->min = UINT64_MAX;
    return h;
}

void lat_hist_free(lat_hist *h)
{
    free(h);
}

void lat_hist_reset(lat_hist *h)
{
    if (h->total > 0)
        memset(h->counts, 0, (slot_of(h->max) + 1) * sizeof h->counts[0]);
    h->total = 0;
    h->clamped = 0;
    h->min = UINT64_MAX;
    h->max = 0;
    h->sum_lo = 0;
    h->sum_hi = 0;
}

void lat_hist_record(lat_hist *h, uint64_t value)
{
    if (value > LAT_HIST_HIGHEST) {
        value = LAT_HIST_HIGHEST;
        h->clamped++;
    }
    h->counts[slot_of(value)]++;
    h->total++;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    sum_add(h, 0, value);
}

void lat_hist_record_n(lat_hist *h, uint64_t value, uint64_t count)
{
    uint64_t hi, lo;
    if (count == 0)
        return;
    if (value > LAT_HIST_HIGHEST) {
        value = LAT_HIST_HIGHEST;
        h->clamped += count;
    }
    h->counts[slot_of(value)] += count;
    h->total += count;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    mul_64x64(value, count, &hi, &lo);
    sum_add(h, hi, lo);
}

int lat_hist_merge(lat_hist *dst, const lat_hist *src)
{
    if (dst == NULL || src == NULL || dst->total > UINT64_MAX - src->total)
        return -1;
    if (src->total == 0)
        return 0;
    /* Read src's scalars first: dst may be src. */
    uint64_t total = src->total, clamped = src->clamped, min = src->min, max = src->max;
    uint64_t hi = src->sum_hi, lo = src->sum_lo;
    size_t top = slot_of(max);
    for (size_t i = 0; i <= top; i++)
        dst->counts[i] += src->counts[i];
    dst->total += total;
    dst->clamped += clamped;
    if (min < dst->min)
        dst->min = min;
    if (max > dst->max)
        dst->max = max;
    sum_add(dst, hi, lo);
    return 0;
}

uint64_t lat_hist_count(const lat_hist *h)
{
    return h->total;
}

uint64_t lat_hist_clamped(const lat_hist *h)
{
    return h->clamped;
}

uint64_t lat_hist_min(const lat_hist *h)
{
    return h->total > 0 ? h->min : 0;
}

uint64_t lat_hist_max(const lat_hist *h)
{
    return h->max;
}

double lat_hist_mean(const lat_hist *h)
{
    if (h->total == 0)
        return 0.0;
    return ((double)h->sum_hi * 18446744073709551616.0 + (double)h->sum_lo) / (double)h->total;
}

/* HdrHistogram's mean: each value taken as the middle of its slot. */
static double slot_mean(const lat_hist *h)
{
    lat_hist_iter it;
    lat_hist_bucket b;
    double total = 0.0;
    if (h->total == 0)
        return 0.0;
    lat_hist_iter_init(&it, h);
    while (lat_hist_iter_next(&it, &b))
        total += (double)(b.low + ((b.high - b.low + 1) >> 1)) * (double)b.count;
    return total / (double)h->total;
}

double lat_hist_stddev(const lat_hist *h)
{
    lat_hist_iter it;
    lat_hist_bucket b;
    double mean = slot_mean(h), total = 0.0;
    if (h->total == 0)
        return 0.0;
    lat_hist_iter_init(&it, h);
    while (lat_hist_iter_next(&it, &b)) {
        double dev = (double)(b.low + ((b.high - b.low + 1) >> 1)) - mean;
        total += dev * dev * (double)b.count;
    }
    return sqrt(total / (double)h->total);
}

uint64_t lat_hist_percentile(const lat_hist *h, double percentile)
{
    if (h->total == 0)
        return 0;
    if (!(percentile > 0.0))   /* also NaN */
        return h->min;
    if (percentile >= 100.0)
        return h->max;
    /* rank = ceil(p% of total), at least 1.  One ulp off p first, as
     * HdrHistogram does, so that p * total / 100 rounding up across an
     * integer (1.1% of 3000 computing as 33.00000000000001) does not ask
     * for one value too many. */
    double want = nextafter(percentile, 0.0) * (double)h->total / 100.0;
    uint64_t rank = want <= 1.0 ? 1 : want >= (double)h->total ? h->total : (uint64_t)ceil(want);
    uint64_t seen = 0;
    size_t top = slot_of(h->max);
    for (size_t i = 0; i <= top; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = slot_high(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;   /* not reached: the counts add up to total */
}

uint64_t lat_hist_lowest_equivalent(uint64_t value)
{
    return slot_low(slot_of(value < LAT_HIST_HIGHEST ? value : LAT_HIST_HIGHEST));
}

uint64_t lat_hist_highest_equivalent(uint64_t value)
{
    return slot_high(slot_of(value < LAT_HIST_HIGHEST ? value : LAT_HIST_HIGHEST));
}

void lat_hist_iter_init(lat_hist_iter *it, const lat_hist *h)
{
    it->h = h;
    it->index = 0;
    it->cumulative = 0;
}

int lat_hist_iter_next(lat_hist_iter *it, lat_hist_bucket *out)
{
    const lat_hist *h = it->h;
    if (it->cumulative >= h->total)
        return 0;
    while (it->index < LAT_HIST_COUNTS && h->counts[it->index] == 0)
        it->index++;
    if (it->index >= LAT_HIST_COUNTS)
        return 0;   /* not reached: the counts add up to total */
    out->low = slot_low(it->index);
    out->high = slot_high(it->index);
    out->count = h->counts[it->index];
    it->cumulative += out->count;
    out->cumulative = it->cumulative;
    it->index++;
    return 1;
}

int lat_hist_foreach(const lat_hist *h, int (*fn)(const lat_hist_bucket *b, void *arg),
                     void *arg)
{
    lat_hist_iter it;
    lat_hist_bucket b;
    lat_hist_iter_init(&it, h);
    while (lat_hist_iter_next(&it, &b)) {
        int rc = fn(&b, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- .hgrm ----
 *
 * HdrHistogram's percentile iteration, restated: a "level" starts at 0%.
 * Walking the non-empty slots upwards with cumulative percentage c, a slot
 * prints one row per level <= c (its highest value, the level, the
 * cumulative count, 1/(1 - level)), the level moving on after each row by
 * 100 / (5 * 2^(k+1)) where k = floor(log2(100 / (100 - level))): 5 rows per
 * halving of the distance to 100%.  The slot that completes the count prints
 * one such row at most, then a final row at exactly 100% without the last
 * column.  The float arithmetic is HdrHistogram's, so the same levels come
 * out; the formats are those of its outputPercentileDistribution (Java),
 * whose text HdrHistogram's plotters read.
 */

/* The level after level. */
static double next_level(double level)
{
    double halvings = log(100.0 / (100.0 - level)) / log(2.0);
    if (!(halvings < 60.0))
        return INFINITY;   /* at (or rounded onto) 100%: no further level */
    int64_t ticks = (int64_t)LAT_HIST_HGRM_TICKS << ((int64_t)halvings + 1);
    return level + 100.0 / (double)ticks;
}

/* x with `decimals` decimals, right-aligned in `width`, as Java's Formatter
 * writes "%<width>.<decimals>f" (the .hgrm text is HdrHistogram Java's).
 * Java rounds the shortest decimal that reads back as x, half up; printf
 * rounds the exact binary value, half to even.  They part when that
 * decimal ends on a 5 just past the last place, as the deep percentile
 * levels do: 0.9997802734375 to 12 places is ...438 in Java, ...437 in C. */
static void java_fixed(char *out, size_t size, double x, int decimals, int width)
{
    char sci[40], digits[24], num[64], body[72];
    int n = 0, len = 0, b = 0;
    if (!isfinite(x) || fabs(x) >= 1e30 || decimals > 20) {
        snprintf(out, size, "%*.*f", width, decimals, x);   /* not reached for .hgrm */
        return;
    }
    for (int prec = 0; prec < 17; prec++) {   /* shortest "%.*e" that reads back as x */
        snprintf(sci, sizeof sci, "%.*e", prec, x);
        if (strtod(sci, NULL) == x)
            break;
    }
    const char *c = sci;
    if (*c == '-')
        body[b++] = *c++;
    for (; *c != 'e'; c++)   /* the digits, whatever the locale's decimal point */
        if (*c >= '0' && *c <= '9')
            digits[n++] = *c;
    /* x = 0.d1 d2 .. dn * 10^(exp + 1): keep the digits down to 10^-decimals,
     * as the integer x * 10^decimals in num. */
    int keep = atoi(c + 1) + 1 + decimals;
    for (int i = 0; i < keep; i++)
        num[len++] = i < n ? digits[i] : '0';
    if (keep >= 0 && keep < n && digits[keep] >= '5') {   /* half up */
        int i = len - 1;
        while (i >= 0 && num[i] == '9')
            num[i--] = '0';
        if (i >= 0) {
            num[i]++;
        } else {
            memmove(num + 1, num, (size_t)len);
            num[0] = '1';
            len++;
        }
    }
    if (len < decimals + 1) {   /* leading zeros: at least "0.<decimals>" */
        int pad = decimals + 1 - len;
        memmove(num + pad, num, (size_t)len);
        memset(num, '0', (size_t)pad);
        len += pad;
    }
    memcpy(body + b, num, (size_t)(len - decimals));
    b += len - decimals;
    if (decimals > 0) {
        body[b++] = '.';
        memcpy(body + b, num + len - decimals, (size_t)decimals);
        b += decimals;
    }
    body[b] = '\0';
    snprintf(out, size, "%*s", width, body);
}

/* One row; the 100% row has no 1/(1-Percentile) column. */
static int hgrm_row(FILE *out, double value, double level, uint64_t cumulative)
{
    char v[80], p[80], inv[80];
    double fraction = level / 100.0;
    java_fixed(v, sizeof v, value, 3, 12);
    java_fixed(p, sizeof p, fraction, 12, 2);
    if (level == 100.0)
        return fprintf(out, "%s %s %10" PRIu64 "\n", v, p, cumulative);
    java_fixed(inv, sizeof inv, 1.0 / (1.0 - fraction), 2, 14);
    return fprintf(out, "%s %s %10" PRIu64 " %s\n", v, p, cumulative, inv);
}

int lat_hist_write_hgrm(const lat_hist *h, FILE *out, double value_unit_ratio)
{
    if (h == NULL || out == NULL || !(value_unit_ratio > 0.0) || isinf(value_unit_ratio))
        return -1;
    if (fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
                "1/(1-Percentile)") < 0)
        return -1;

    lat_hist_iter it;
    lat_hist_bucket b;
    double level = 0.0;
    lat_hist_iter_init(&it, h);
    while (lat_hist_iter_next(&it, &b)) {
        double reached = (100.0 * (double)b.cumulative) / (double)h->total;
        double value = (double)b.high / value_unit_ratio;
        int last = b.cumulative == h->total;
        while (reached >= level) {
            if (hgrm_row(out, value, level, b.cumulative) < 0)
                return -1;
            level = next_level(level);
            if (last)
                break;
        }
        if (last && hgrm_row(out, value, 100.0, b.cumulative) < 0)
            return -1;
    }

    /* HdrHistogram's footer: its mean and deviation (slot middles) and its
     * max (the top of the max's slot), so the file is the one it writes. */
    char mean[80], sd[80], max[80];
    java_fixed(mean, sizeof mean, slot_mean(h) / value_unit_ratio, 3, 12);
    java_fixed(sd, sizeof sd, lat_hist_stddev(h) / value_unit_ratio, 3, 12);
    java_fixed(max, sizeof max,
               (h->total > 0 ? (double)slot_high(slot_of(h->max)) : 0.0) / value_unit_ratio, 3, 12);
    if (fprintf(out, "#[Mean    = %s, StdDeviation   = %s]\n", mean, sd) < 0 ||
        fprintf(out, "#[Max     = %s, Total count    = %12" PRIu64 "]\n", max, h->total) < 0 ||
        fprintf(out, "#[Buckets = %12d, SubBuckets     = %12d]\n", LAT_HIST_BUCKETS,
                (int)LAT_HIST_SUB_BUCKETS) < 0)
        return -1;
    if (fflush(out) != 0 || ferror(out))
        return -1;
    return 0;
}
