/* tests/unit/test_hist.c: lat_hist, the latency histogram: the slot layout
 * and its error bound, percentiles against exactly computed ones on a
 * million values from several distributions, min/max/count/mean/stddev,
 * merge, record_n, clamping, reset, the empty histogram, and the .hgrm text
 * (byte-compared on a small data set worked out by hand from HdrHistogram's
 * rules, and parsed back on a large one).
 *
 * No runtime is needed: plain cmocka tests; the harness only reads --mode.
 */
#include "harness.h"
#include "hist.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_VALUES 1000000

/* ---- helpers ---- */

/* splitmix64: a small deterministic generator. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static double rng_unit(uint64_t *s)
{
    return ((double)(rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller). */
static double rng_normal(uint64_t *s)
{
    double u = rng_unit(s), v = rng_unit(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static uint64_t to_ns(double x)
{
    if (!(x > 0.0))
        return 0;
    if (x >= (double)LAT_HIST_HIGHEST)
        return LAT_HIST_HIGHEST;
    return (uint64_t)llround(x);
}

enum dist { DIST_UNIFORM, DIST_EXPONENTIAL, DIST_LOGNORMAL, DIST_BIMODAL };

static const char *dist_name(enum dist d)
{
    switch (d) {
    case DIST_UNIFORM: return "uniform";
    case DIST_EXPONENTIAL: return "exponential";
    case DIST_LOGNORMAL: return "lognormal";
    case DIST_BIMODAL: return "bimodal";
    }
    return "?";
}

/* n values (ns) from distribution d. */
static uint64_t *make_values(enum dist d, size_t n, uint64_t seed)
{
    uint64_t *v = malloc(n * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        switch (d) {
        case DIST_UNIFORM:      /* 0 .. 10 ms */
            v[i] = rng_next(&seed) % 10000001u;
            break;
        case DIST_EXPONENTIAL:  /* mean 100 us */
            v[i] = to_ns(-log(rng_unit(&seed)) * 100000.0);
            break;
        case DIST_LOGNORMAL:    /* median 50 us, sigma 2: a tail to ~1 s */
            v[i] = to_ns(exp(log(50000.0) + 2.0 * rng_normal(&seed)));
            break;
        case DIST_BIMODAL:      /* 95% ~20 us, 5% ~5 ms pauses */
            if (rng_unit(&seed) < 0.95)
                v[i] = to_ns(20000.0 + 3000.0 * rng_normal(&seed));
            else
                v[i] = to_ns(5000000.0 + 1000000.0 * rng_normal(&seed));
            break;
        }
    }
    return v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The exact percentile of sorted[0..n), p given in hundredths of a percent:
 * the smallest value with at least p% of the values <= it, computed in
 * integers (rank = ceil(p * n / 100), at least 1). */
static uint64_t exact_percentile(const uint64_t *sorted, uint64_t n, uint64_t p_hundredths)
{
    uint64_t rank = (p_hundredths * n + 9999) / 10000;
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

static const uint64_t test_percentiles[] = {0, 100, 1000, 2500, 5000, 7500, 9000,
                                            9900, 9990, 9999, 10000};   /* hundredths */

static lat_hist *hist_of(const uint64_t *v, size_t n)
{
    lat_hist *h = lat_hist_new();
    assert_non_null(h);
    for (size_t i = 0; i < n; i++)
        lat_hist_record(h, v[i]);
    return h;
}

/* Every slot of a and b equal, and every summary. */
static void assert_same_hist(const lat_hist *a, const lat_hist *b)
{
    lat_hist_iter ia, ib;
    lat_hist_bucket ba, bb;
    assert_int_equal(lat_hist_count(a), lat_hist_count(b));
    assert_int_equal(lat_hist_clamped(a), lat_hist_clamped(b));
    assert_int_equal(lat_hist_min(a), lat_hist_min(b));
    assert_int_equal(lat_hist_max(a), lat_hist_max(b));
    assert_true(lat_hist_mean(a) == lat_hist_mean(b));
    lat_hist_iter_init(&ia, a);
    lat_hist_iter_init(&ib, b);
    for (;;) {
        int ra = lat_hist_iter_next(&ia, &ba), rb = lat_hist_iter_next(&ib, &bb);
        assert_int_equal(ra, rb);
        if (!ra)
            break;
        assert_int_equal(ba.low, bb.low);
        assert_int_equal(ba.high, bb.high);
        assert_int_equal(ba.count, bb.count);
        assert_int_equal(ba.cumulative, bb.cumulative);
    }
    for (size_t k = 0; k < sizeof test_percentiles / sizeof test_percentiles[0]; k++) {
        double p = (double)test_percentiles[k] / 100.0;
        assert_int_equal(lat_hist_percentile(a, p), lat_hist_percentile(b, p));
    }
}

/* The whole .hgrm text of h. */
static char *hgrm_text(const lat_hist *h, double ratio)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(0, lat_hist_write_hgrm(h, f, ratio));
    long len = ftell(f);
    assert_true(len > 0);
    char *text = malloc((size_t)len + 1);
    assert_non_null(text);
    rewind(f);
    assert_int_equal((size_t)len, fread(text, 1, (size_t)len, f));
    text[len] = '\0';
    fclose(f);
    return text;
}

/* ---- layout ---- */

static void test_layout_and_error_bound(void **state)
{
    /* One slot per value below 2048. */
    for (uint64_t v = 0; v < 2048; v++) {
        assert_int_equal(v, lat_hist_lowest_equivalent(v));
        assert_int_equal(v, lat_hist_highest_equivalent(v));
    }
    /* Above: slots tile each power of two in 1024 equal pieces, no gaps. */
    for (unsigned m = 11; m < 42; m++) {
        uint64_t base = UINT64_C(1) << m, width = UINT64_C(1) << (m - 10);
        assert_int_equal(base, lat_hist_lowest_equivalent(base));
        assert_int_equal(base + width - 1, lat_hist_highest_equivalent(base));
        assert_int_equal(base - 1, lat_hist_highest_equivalent(base - 1));
        uint64_t top = (base << 1) - 1;
        assert_int_equal(top, lat_hist_highest_equivalent(top));
        assert_int_equal(top - width + 1, lat_hist_lowest_equivalent(top));
    }
    assert_int_equal(LAT_HIST_HIGHEST, lat_hist_highest_equivalent(LAT_HIST_HIGHEST));
    assert_int_equal(LAT_HIST_HIGHEST, lat_hist_highest_equivalent(UINT64_MAX));
    assert_true(LAT_HIST_HIGHEST >= UINT64_C(3600000000000));   /* an hour, in ns */
    /* The bound: highest - v < v / 1024 (< 0.1%), on random values. */
    uint64_t seed = 1;
    for (int i = 0; i < 1000000; i++) {
        unsigned bits = 1 + (unsigned)(rng_next(&seed) % 42);
        uint64_t v = rng_next(&seed) >> (64 - bits);
        uint64_t lo = lat_hist_lowest_equivalent(v), hi = lat_hist_highest_equivalent(v);
        assert_true(lo <= v && v <= hi);
        assert_true((hi - v) * 1024 <= v);
        assert_true((hi - v) * 1000 <= v);
        assert_int_equal(lo, lat_hist_lowest_equivalent(hi));
        assert_int_equal(hi, lat_hist_highest_equivalent(lo));
    }
}

/* ---- summaries ---- */

static void test_empty(void **state)
{
    lat_hist *h = lat_hist_new();
    assert_non_null(h);
    assert_int_equal(0, lat_hist_count(h));
    assert_int_equal(0, lat_hist_clamped(h));
    assert_int_equal(0, lat_hist_min(h));
    assert_int_equal(0, lat_hist_max(h));
    assert_true(lat_hist_mean(h) == 0.0);
    assert_true(lat_hist_stddev(h) == 0.0);
    for (double p = 0.0; p <= 100.0; p += 12.5)
        assert_int_equal(0, lat_hist_percentile(h, p));
    lat_hist_iter it;
    lat_hist_bucket b;
    lat_hist_iter_init(&it, h);
    assert_int_equal(0, lat_hist_iter_next(&it, &b));
    /* The .hgrm of nothing: header and footer, as HdrHistogram writes it. */
    char *text = hgrm_text(h, 1000.0);
    assert_string_equal("       Value     Percentile TotalCount 1/(1-Percentile)\n"
                        "\n"
                        "#[Mean    =        0.000, StdDeviation   =        0.000]\n"
                        "#[Max     =        0.000, Total count    =            0]\n"
                        "#[Buckets =           32, SubBuckets     =         2048]\n",
                        text);
    free(text);
    lat_hist_reset(h);
    assert_int_equal(0, lat_hist_count(h));
    lat_hist_free(h);
    lat_hist_free(NULL);
}

static void test_small_exact_values(void **state)
{
    lat_hist *h = lat_hist_new();
    assert_non_null(h);
    for (uint64_t v = 1; v <= 10; v++)
        lat_hist_record(h, v);
    assert_int_equal(10, lat_hist_count(h));
    assert_int_equal(1, lat_hist_min(h));
    assert_int_equal(10, lat_hist_max(h));
    assert_true(lat_hist_mean(h) == 5.5);
    assert_true(fabs(lat_hist_stddev(h) - sqrt(8.25)) < 1e-12);
    assert_int_equal(1, lat_hist_percentile(h, 0.0));
    assert_int_equal(1, lat_hist_percentile(h, 10.0));
    assert_int_equal(2, lat_hist_percentile(h, 10.5));
    assert_int_equal(5, lat_hist_percentile(h, 50.0));
    assert_int_equal(10, lat_hist_percentile(h, 90.01));
    assert_int_equal(10, lat_hist_percentile(h, 100.0));
    /* Out of range and NaN percentiles clamp to [0, 100]. */
    assert_int_equal(1, lat_hist_percentile(h, -5.0));
    assert_int_equal(10, lat_hist_percentile(h, 250.0));
    assert_int_equal(1, lat_hist_percentile(h, NAN));
    /* 1.1% of 3000 values is the 33rd, though 1.1 * 3000 / 100 computes as
     * 33.00000000000001 in doubles. */
    lat_hist_reset(h);
    for (uint64_t v = 1; v <= 3000; v++)
        lat_hist_record(h, v);
    assert_int_equal(33, lat_hist_percentile(h, 1.1));
    assert_int_equal(3, lat_hist_percentile(h, 0.1));
    assert_int_equal(1, lat_hist_percentile(h, 0.01));
    /* A value in a wide slot reports the slot's top, but never above max. */
    lat_hist_reset(h);
    lat_hist_record(h, 10000);   /* slot 10000..10007 */
    lat_hist_record(h, 20001);   /* slot 20000..20015 */
    assert_int_equal(10007, lat_hist_percentile(h, 50.0));
    assert_int_equal(20001, lat_hist_percentile(h, 99.0));
    assert_int_equal(10000, lat_hist_percentile(h, 0.0));
    assert_int_equal(10000, lat_hist_min(h));
    assert_int_equal(20001, lat_hist_max(h));
    /* Zero is a value like any other. */
    lat_hist_record(h, 0);
    assert_int_equal(0, lat_hist_min(h));
    assert_int_equal(0, lat_hist_percentile(h, 30.0));
    lat_hist_free(h);
}

/* Every percentile with two decimals (0.01% .. 99.99%), on 1..n, against
 * the rank computed in integers: the double arithmetic never asks for one
 * value too many or too few. */
static void test_percentile_rank_sweep(void **state)
{
    static const uint64_t sizes[] = {3, 7, 10, 30, 999, 1001, 3000, 10000, 100000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t n = sizes[k];
        lat_hist *h = lat_hist_new();
        assert_non_null(h);
        for (uint64_t v = 1; v <= n; v++)
            lat_hist_record(h, v);
        for (uint64_t ph = 1; ph < 10000; ph++) {
            uint64_t rank = (ph * n + 9999) / 10000;   /* the value is its rank */
            uint64_t want = lat_hist_highest_equivalent(rank);
            if (want > n)
                want = n;
            uint64_t got = lat_hist_percentile(h, (double)ph / 100.0);
            if (got != want)
                fail_msg("n %" PRIu64 " p%.2f: %" PRIu64 ", want %" PRIu64, n,
                         (double)ph / 100.0, got, want);
        }
        lat_hist_free(h);
    }
}

/* Percentiles, min, max, count, mean and stddev against exact figures. */
static void check_distribution(enum dist d, uint64_t seed)
{
    uint64_t *v = make_values(d, N_VALUES, seed);
    lat_hist *h = hist_of(v, N_VALUES);
    long double sum = 0.0L;
    for (size_t i = 0; i < N_VALUES; i++)
        sum += (long double)v[i];
    long double mean = sum / N_VALUES, dev2 = 0.0L, sq = 0.0L;
    for (size_t i = 0; i < N_VALUES; i++) {
        long double dv = (long double)v[i] - mean;
        dev2 += dv * dv;
        sq += (long double)v[i] * (long double)v[i];
    }
    double stddev = (double)sqrtl(dev2 / N_VALUES), rms = (double)sqrtl(sq / N_VALUES);
    qsort(v, N_VALUES, sizeof v[0], cmp_u64);

    assert_int_equal(N_VALUES, lat_hist_count(h));
    assert_int_equal(0, lat_hist_clamped(h));
    assert_int_equal(v[0], lat_hist_min(h));
    assert_int_equal(v[N_VALUES - 1], lat_hist_max(h));
    /* The mean is exact (a 128-bit sum), far inside 0.1%. */
    assert_true(fabs(lat_hist_mean(h) - (double)mean) <= 1e-9 * (double)mean);
    /* The deviation is HdrHistogram's (slot middles): off by at most
     * rms / 2048 in theory; within 0.1% here. */
    double sd = lat_hist_stddev(h);
    if (!(fabs(sd - stddev) <= rms / 2048.0 && fabs(sd - stddev) <= 0.001 * stddev))
        fail_msg("%s: stddev %.3f, exact %.3f, rms %.3f", dist_name(d), sd, stddev, rms);

    for (size_t k = 0; k < sizeof test_percentiles / sizeof test_percentiles[0]; k++) {
        double p = (double)test_percentiles[k] / 100.0;
        uint64_t want = exact_percentile(v, N_VALUES, test_percentiles[k]);
        uint64_t got = lat_hist_percentile(h, p);
        /* got is want's slot top (clamped to max): never below, < 0.1% above. */
        if (!(got >= want && (got - want) * 1000 <= want))
            fail_msg("%s p%g: histogram %" PRIu64 ", exact %" PRIu64, dist_name(d), p, got, want);
        if (k > 0 && k + 1 < sizeof test_percentiles / sizeof test_percentiles[0])
            assert_int_equal(lat_hist_highest_equivalent(want) < v[N_VALUES - 1]
                                 ? lat_hist_highest_equivalent(want) : v[N_VALUES - 1],
                             got);
    }
    assert_int_equal(v[0], lat_hist_percentile(h, 0.0));
    assert_int_equal(v[N_VALUES - 1], lat_hist_percentile(h, 100.0));
    lat_hist_free(h);
    free(v);
}

static void test_accuracy_uniform(void **state)
{
    check_distribution(DIST_UNIFORM, 11);
}

static void test_accuracy_exponential(void **state)
{
    check_distribution(DIST_EXPONENTIAL, 12);
}

static void test_accuracy_lognormal(void **state)
{
    check_distribution(DIST_LOGNORMAL, 13);
}

static void test_accuracy_bimodal(void **state)
{
    check_distribution(DIST_BIMODAL, 14);
}

/* ---- merge, record_n, clamping, reset ---- */

static void test_merge_equals_recording_all(void **state)
{
    uint64_t *v = make_values(DIST_LOGNORMAL, N_VALUES, 21);
    lat_hist *all = hist_of(v, N_VALUES);
    lat_hist *part[4];
    for (int k = 0; k < 4; k++) {
        part[k] = lat_hist_new();
        assert_non_null(part[k]);
    }
    for (size_t i = 0; i < N_VALUES; i++)   /* uneven split */
        lat_hist_record(part[(v[i] % 7) % 4], v[i]);
    lat_hist *merged = lat_hist_new();
    assert_non_null(merged);
    for (int k = 0; k < 4; k++)
        assert_int_equal(0, lat_hist_merge(merged, part[k]));
    assert_same_hist(all, merged);

    /* Merging an empty histogram changes nothing; into an empty one copies. */
    lat_hist *empty = lat_hist_new();
    assert_non_null(empty);
    assert_int_equal(0, lat_hist_merge(merged, empty));
    assert_same_hist(all, merged);
    assert_int_equal(0, lat_hist_merge(empty, all));
    assert_same_hist(all, empty);

    /* Merging into itself doubles every count. */
    assert_int_equal(0, lat_hist_merge(merged, merged));
    lat_hist *twice = hist_of(v, N_VALUES);
    for (size_t i = 0; i < N_VALUES; i++)
        lat_hist_record(twice, v[i]);
    assert_same_hist(twice, merged);

    assert_int_equal(-1, lat_hist_merge(NULL, all));
    assert_int_equal(-1, lat_hist_merge(all, NULL));
    /* A total that would overflow is refused, dst unchanged. */
    lat_hist *big = lat_hist_new();
    assert_non_null(big);
    lat_hist_record_n(big, 5, UINT64_MAX - 10);
    assert_int_equal(-1, lat_hist_merge(big, all));
    assert_int_equal(UINT64_MAX - 10, lat_hist_count(big));
    assert_int_equal(5, lat_hist_max(big));

    for (int k = 0; k < 4; k++)
        lat_hist_free(part[k]);
    lat_hist_free(all);
    lat_hist_free(merged);
    lat_hist_free(empty);
    lat_hist_free(twice);
    lat_hist_free(big);
    free(v);
}

static void test_record_n(void **state)
{
    lat_hist *a = lat_hist_new(), *b = lat_hist_new();
    assert_non_null(a);
    assert_non_null(b);
    static const uint64_t vals[] = {0, 7, 2047, 2048, 123456, 987654321, UINT64_C(3600000000000)};
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
        lat_hist_record_n(a, vals[k], k + 1);
        for (size_t j = 0; j <= k; j++)
            lat_hist_record(b, vals[k]);
    }
    lat_hist_record_n(a, 999, 0);   /* nothing */
    assert_same_hist(a, b);
    assert_true(lat_hist_stddev(a) == lat_hist_stddev(b));

    /* A sum past 2^64 stays exact: 2^40 copies of the highest value. */
    lat_hist_reset(a);
    lat_hist_record_n(a, LAT_HIST_HIGHEST, UINT64_C(1) << 40);
    lat_hist_record_n(a, LAT_HIST_HIGHEST, UINT64_C(1) << 40);
    assert_true(lat_hist_mean(a) == (double)LAT_HIST_HIGHEST);
    assert_int_equal(UINT64_C(1) << 41, lat_hist_count(a));
    assert_int_equal(0, lat_hist_clamped(a));
    lat_hist_free(a);
    lat_hist_free(b);
}

static void test_clamping(void **state)
{
    lat_hist *h = lat_hist_new();
    assert_non_null(h);
    lat_hist_record(h, 1000);
    lat_hist_record(h, LAT_HIST_HIGHEST);        /* in range: not clamped */
    assert_int_equal(0, lat_hist_clamped(h));
    lat_hist_record(h, LAT_HIST_HIGHEST + 1);
    lat_hist_record(h, UINT64_C(1) << 62);
    lat_hist_record(h, UINT64_MAX);
    lat_hist_record_n(h, UINT64_MAX - 1, 5);
    assert_int_equal(10, lat_hist_count(h));
    assert_int_equal(8, lat_hist_clamped(h));
    assert_int_equal(LAT_HIST_HIGHEST, lat_hist_max(h));
    assert_int_equal(1000, lat_hist_min(h));
    assert_int_equal(LAT_HIST_HIGHEST, lat_hist_percentile(h, 100.0));
    assert_int_equal(LAT_HIST_HIGHEST, lat_hist_percentile(h, 50.0));
    assert_int_equal(1000, lat_hist_percentile(h, 10.0));
    assert_true(fabs(lat_hist_mean(h) - (1000.0 + 9.0 * (double)LAT_HIST_HIGHEST) / 10.0) < 1.0);
    /* Clamped counts survive a merge and go on reset. */
    lat_hist *m = lat_hist_new();
    assert_non_null(m);
    assert_int_equal(0, lat_hist_merge(m, h));
    assert_int_equal(8, lat_hist_clamped(m));
    lat_hist_reset(h);
    assert_int_equal(0, lat_hist_clamped(h));
    lat_hist_free(h);
    lat_hist_free(m);
}

static void test_reset_then_reuse(void **state)
{
    uint64_t *v = make_values(DIST_BIMODAL, 100000, 31);
    lat_hist *h = hist_of(v, 100000);
    lat_hist_record(h, UINT64_C(3000000000000));
    lat_hist_reset(h);
    assert_int_equal(0, lat_hist_count(h));
    assert_int_equal(0, lat_hist_max(h));
    assert_int_equal(0, lat_hist_min(h));
    lat_hist_iter it;
    lat_hist_bucket b;
    lat_hist_iter_init(&it, h);
    assert_int_equal(0, lat_hist_iter_next(&it, &b));
    for (size_t i = 0; i < 100000; i++)
        lat_hist_record(h, v[i]);
    lat_hist *fresh = hist_of(v, 100000);
    assert_same_hist(fresh, h);
    lat_hist_free(h);
    lat_hist_free(fresh);
    free(v);
}

/* ---- iteration ---- */

struct walk {
    uint64_t slots, values, prev_high, stop_after;
};

static int walk_fn(const lat_hist_bucket *b, void *arg)
{
    struct walk *w = arg;
    if (w->slots > 0 && b->low <= w->prev_high)
        return -1;   /* out of order */
    if (b->count == 0 || b->high < b->low)
        return -2;
    w->slots++;
    w->values += b->count;
    if (b->cumulative != w->values)
        return -3;
    w->prev_high = b->high;
    return w->slots == w->stop_after ? 42 : 0;
}

static void test_iteration(void **state)
{
    uint64_t *v = make_values(DIST_EXPONENTIAL, 100000, 41);
    lat_hist *h = hist_of(v, 100000);
    struct walk w = {0};
    assert_int_equal(0, lat_hist_foreach(h, walk_fn, &w));
    assert_int_equal(100000, w.values);
    assert_true(w.slots > 1000);
    /* Every value lies in the slot that holds it: count per slot agrees. */
    lat_hist_iter it;
    lat_hist_bucket b;
    qsort(v, 100000, sizeof v[0], cmp_u64);
    size_t i = 0;
    lat_hist_iter_init(&it, h);
    while (lat_hist_iter_next(&it, &b)) {
        uint64_t n = 0;
        while (i < 100000 && v[i] <= b.high) {
            assert_true(v[i] >= b.low);
            i++;
            n++;
        }
        assert_int_equal(b.count, n);
        assert_int_equal(lat_hist_lowest_equivalent(b.high), b.low);
    }
    assert_int_equal(100000, i);
    /* foreach stops at the first non-zero return and passes it back. */
    struct walk stop = {.stop_after = 3};
    assert_int_equal(42, lat_hist_foreach(h, walk_fn, &stop));
    assert_int_equal(3, stop.slots);
    lat_hist_free(h);
    free(v);
}

/* ---- .hgrm ---- */

/* Worked out by hand from HdrHistogram's rules (Java
 * AbstractHistogram.outputPercentileDistribution with 5 ticks per half
 * distance, ratio 1000) for 1000 ns x4, 2500 x3, 3001 x2, 10001 x1, and
 * identical to what HdrHistogram 2.1.11 prints for them:
 * - slots: 1000 is exact; 2500 lies in 2500..2501 and 3001 in 3000..3001
 *   (width 2 in 2048..4095); 10001 in 10000..10007 (width 8): rows print
 *   the slot tops /1000: 1.000, 2.501, 3.001, 10.007.
 * - levels from 0% by 10% below 50%, 5% to 75%, 2.5% to 87.5%, 1.25% to
 *   93.75%; a slot prints a row for each level up to its cumulative
 *   percentage (40%, 70%, 90%); the last slot prints one row (91.25%) and
 *   the 100% row without the last column.
 * - 1/(1-p) with 2 decimals: 1/0.7 = 1.43, 1/(1-0.8875) = 8.89, ...
 * - footer: HdrHistogram's mean of slot middles (1000, 2501, 3001, 10004):
 *   27509/10 = 2750.9 -> 2.751; deviation sqrt(6518251.29) = 2553.1 ->
 *   2.553; max = top of 10001's slot = 10.007; 32 buckets of 2048. */
static const char tiny_hgrm[] =
    "       Value     Percentile TotalCount 1/(1-Percentile)\n"
    "\n"
    "       1.000 0.000000000000          4           1.00\n"
    "       1.000 0.100000000000          4           1.11\n"
    "       1.000 0.200000000000          4           1.25\n"
    "       1.000 0.300000000000          4           1.43\n"
    "       1.000 0.400000000000          4           1.67\n"
    "       2.501 0.500000000000          7           2.00\n"
    "       2.501 0.550000000000          7           2.22\n"
    "       2.501 0.600000000000          7           2.50\n"
    "       2.501 0.650000000000          7           2.86\n"
    "       2.501 0.700000000000          7           3.33\n"
    "       3.001 0.750000000000          9           4.00\n"
    "       3.001 0.775000000000          9           4.44\n"
    "       3.001 0.800000000000          9           5.00\n"
    "       3.001 0.825000000000          9           5.71\n"
    "       3.001 0.850000000000          9           6.67\n"
    "       3.001 0.875000000000          9           8.00\n"
    "       3.001 0.887500000000          9           8.89\n"
    "       3.001 0.900000000000          9          10.00\n"
    "      10.007 0.912500000000         10          11.43\n"
    "      10.007 1.000000000000         10\n"
    "#[Mean    =        2.751, StdDeviation   =        2.553]\n"
    "#[Max     =       10.007, Total count    =           10]\n"
    "#[Buckets =           32, SubBuckets     =         2048]\n";

static void test_hgrm_tiny_byte_exact(void **state)
{
    lat_hist *h = lat_hist_new();
    assert_non_null(h);
    lat_hist_record_n(h, 1000, 4);
    lat_hist_record_n(h, 2500, 3);
    lat_hist_record(h, 3001);
    lat_hist_record(h, 3001);
    lat_hist_record(h, 10001);
    char *text = hgrm_text(h, 1000.0);
    assert_string_equal(tiny_hgrm, text);
    free(text);
    /* The API's own figures are the exact ones. */
    assert_true(fabs(lat_hist_mean(h) - 2750.3) < 1e-9);
    assert_int_equal(10001, lat_hist_max(h));
    assert_int_equal(10001, lat_hist_percentile(h, 95.0));

    /* A single value, in ns (ratio 1): one row at 0% and the 100% row. */
    lat_hist_reset(h);
    lat_hist_record(h, 42);
    text = hgrm_text(h, 1.0);
    assert_string_equal("       Value     Percentile TotalCount 1/(1-Percentile)\n"
                        "\n"
                        "      42.000 0.000000000000          1           1.00\n"
                        "      42.000 1.000000000000          1\n"
                        "#[Mean    =       42.000, StdDeviation   =        0.000]\n"
                        "#[Max     =       42.000, Total count    =            1]\n"
                        "#[Buckets =           32, SubBuckets     =         2048]\n",
                        text);
    free(text);
    lat_hist_free(h);
}

/* Numbers are rounded as Java's Formatter rounds them (the shortest decimal
 * that reads back as the double, half up), not as printf does (the exact
 * binary value, half to even).  Both texts below are what HdrHistogram
 * 2.1.11 (Java) prints for the same values. */
static void test_hgrm_java_rounding(void **state)
{
    lat_hist *h = lat_hist_new();
    assert_non_null(h);
    /* 45 / 10000 = 0.0045, a double a hair below: printf says 0.004. */
    lat_hist_record(h, 45);
    char *text = hgrm_text(h, 10000.0);
    assert_string_equal("       Value     Percentile TotalCount 1/(1-Percentile)\n"
                        "\n"
                        "       0.005 0.000000000000          1           1.00\n"
                        "       0.005 1.000000000000          1\n"
                        "#[Mean    =        0.005, StdDeviation   =        0.000]\n"
                        "#[Max     =        0.005, Total count    =            1]\n"
                        "#[Buckets =           32, SubBuckets     =         2048]\n",
                        text);
    free(text);
    /* Deep levels end on a 5 at the 13th decimal: 99.97802734375% prints
     * as 0.999780273438 (printf: ...437), 99.99267578125% as ...813. */
    lat_hist_reset(h);
    lat_hist_record_n(h, 1, 99999);
    lat_hist_record(h, 2);
    text = hgrm_text(h, 1.0);
    assert_non_null(strstr(text, "\n       1.000 0.999780273438      99999        4551.11\n"));
    assert_non_null(strstr(text, "\n       1.000 0.999926757813      99999       13653.33\n"));
    assert_null(strstr(text, "0.999780273437"));
    free(text);
    lat_hist_free(h);
}

struct hgrm_row {
    double value, fraction, inverse;
    uint64_t count;
    int columns;
};

static void test_hgrm_parse_back(void **state)
{
    const double ratio = 1000.0;
    uint64_t *v = make_values(DIST_LOGNORMAL, N_VALUES, 51);
    lat_hist *h = hist_of(v, N_VALUES);
    char *text = hgrm_text(h, ratio);

    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);   /* strtok_r skips the blank line */
    assert_non_null(line);
    assert_string_equal("       Value     Percentile TotalCount 1/(1-Percentile)", line);
    assert_int_equal('\n', text[strlen(line) + 1]);   /* the blank line */

    size_t nrows = 0, cap = 1024;
    struct hgrm_row *rows = malloc(cap * sizeof *rows);
    assert_non_null(rows);
    double mean = -1, sd = -1, max = -1;
    uint64_t total = 0;
    int buckets = 0, sub_buckets = 0, footer_lines = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        if (line[0] == '#') {
            footer_lines++;
            if (sscanf(line, "#[Mean    = %lf, StdDeviation   = %lf]", &mean, &sd) == 2)
                continue;
            if (sscanf(line, "#[Max     = %lf, Total count    = %" SCNu64 "]", &max, &total) == 2)
                continue;
            if (sscanf(line, "#[Buckets = %d, SubBuckets     = %d]", &buckets, &sub_buckets) == 2)
                continue;
            fail_msg("unexpected footer line '%s'", line);
        }
        assert_int_equal(0, footer_lines);   /* rows come before the footer */
        if (nrows == cap) {
            cap *= 2;
            rows = realloc(rows, cap * sizeof *rows);
            assert_non_null(rows);
        }
        struct hgrm_row *r = &rows[nrows++];
        r->columns = sscanf(line, "%lf %lf %" SCNu64 " %lf", &r->value, &r->fraction, &r->count,
                            &r->inverse);
        assert_true(r->columns == 3 || r->columns == 4);
        assert_int_equal(r->columns == 3 ? 38 : 53, strlen(line));   /* fixed widths */
    }
    assert_int_equal(3, footer_lines);
    assert_true(nrows > 50);

    for (size_t i = 0; i < nrows; i++) {
        struct hgrm_row *r = &rows[i];
        int last = i + 1 == nrows;
        assert_int_equal(last ? 3 : 4, r->columns);
        if (i == 0)
            assert_true(r->fraction == 0.0);
        if (i > 0) {
            assert_true(r->fraction > rows[i - 1].fraction);
            assert_true(r->value >= rows[i - 1].value);
            assert_true(r->count >= rows[i - 1].count);
        }
        if (!last) {
            assert_true(r->fraction < 1.0);
            /* 1/(1-p), to its 2 decimals plus what p's 12 printed
             * decimals (+-5e-13) move it by: 5e-13 / (1-p)^2. */
            double inv = 1.0 / (1.0 - r->fraction);
            assert_true(fabs(r->inverse - inv) <= 0.005 + 1e-12 * inv * inv);
            /* The row's count covers its percentile... */
            assert_true((double)r->count >= r->fraction * N_VALUES * (1 - 1e-12));
            /* ...and its value is the percentile's, to 0.1% (and to the
             * printed 3 decimals). */
            double p = lat_hist_percentile(h, r->fraction * 100.0) / ratio;
            assert_true(fabs(r->value - p) <= 0.001 * p + 0.0005);
        }
    }
    struct hgrm_row *lastrow = &rows[nrows - 1];
    assert_true(lastrow->fraction == 1.0);
    assert_int_equal(N_VALUES, lastrow->count);
    assert_int_equal(N_VALUES, total);
    assert_int_equal(32, buckets);
    assert_int_equal(2048, sub_buckets);
    double hmax = (double)lat_hist_highest_equivalent(lat_hist_max(h)) / ratio;
    assert_true(fabs(max - hmax) <= 0.0005);
    assert_true(fabs(lastrow->value - hmax) <= 0.0005);
    assert_true(fabs(mean - lat_hist_mean(h) / ratio) <= 0.001 * mean);
    assert_true(fabs(sd - lat_hist_stddev(h) / ratio) <= 0.0005);
    /* The 5-ticks-per-half-distance levels: 0, 10, ..., 40, 50, 55, ... */
    static const double first_levels[] = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65,
                                          0.7, 0.75, 0.775, 0.8, 0.825, 0.85, 0.875, 0.8875};
    for (size_t k = 0; k < sizeof first_levels / sizeof first_levels[0]; k++)
        assert_true(fabs(rows[k].fraction - first_levels[k]) < 1e-12);
    free(rows);
    free(text);
    lat_hist_free(h);
    free(v);
}

static void test_hgrm_errors(void **state)
{
    lat_hist *h = lat_hist_new();
    assert_non_null(h);
    lat_hist_record(h, 5);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(-1, lat_hist_write_hgrm(h, f, 0.0));
    assert_int_equal(-1, lat_hist_write_hgrm(h, f, -1000.0));
    assert_int_equal(-1, lat_hist_write_hgrm(h, f, NAN));
    assert_int_equal(-1, lat_hist_write_hgrm(h, f, INFINITY));
    assert_int_equal(-1, lat_hist_write_hgrm(NULL, f, 1.0));
    assert_int_equal(-1, lat_hist_write_hgrm(h, NULL, 1.0));
    assert_int_equal(0, ftell(f));   /* nothing written for bad arguments */
    fclose(f);
    /* A device that takes no data: the error surfaces, at the latest when
     * the writer flushes. */
    FILE *full = fopen("/dev/full", "w");
    if (full != NULL) {
        assert_int_equal(-1, lat_hist_write_hgrm(h, full, 1.0));
        fclose(full);
    }
    /* A stream opened for reading only. */
    FILE *ro = tmpfile();
    assert_non_null(ro);
    FILE *rd = fdopen(dup(fileno(ro)), "r");
    assert_non_null(rd);
    assert_int_equal(-1, lat_hist_write_hgrm(h, rd, 1.0));
    fclose(rd);
    fclose(ro);
    lat_hist_free(h);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_and_error_bound),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_small_exact_values),
        cmocka_unit_test(test_percentile_rank_sweep),
        cmocka_unit_test(test_accuracy_uniform),
        cmocka_unit_test(test_accuracy_exponential),
        cmocka_unit_test(test_accuracy_lognormal),
        cmocka_unit_test(test_accuracy_bimodal),
        cmocka_unit_test(test_merge_equals_recording_all),
        cmocka_unit_test(test_record_n),
        cmocka_unit_test(test_clamping),
        cmocka_unit_test(test_reset_then_reuse),
        cmocka_unit_test(test_iteration),
        cmocka_unit_test(test_hgrm_tiny_byte_exact),
        cmocka_unit_test(test_hgrm_java_rounding),
        cmocka_unit_test(test_hgrm_parse_back),
        cmocka_unit_test(test_hgrm_errors),
    };
    return HARNESS_RUN("hist", tests, argc, argv);
}
