/* tests/unit/harness.h: what every rcgc test shares.
 *
 * Each test binary runs in one mode, chosen by "--mode gil|ft|ft-atomic" on
 * the command line (CTest runs each binary once per mode).  HARNESS_TEST
 * wraps a test with a fresh runtime in that mode and, after the test,
 * asserts that rc_runtime_free reports no leaked object.
 *
 * cmocka is not thread-safe: assert only on the test's own thread; worker
 * threads record results that the test checks after joining them.
 */
#ifndef RCGC_TEST_HARNESS_H
#define RCGC_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "rcgc/rcgc.h"
#include "rcgc/testing.h"

extern rc_mode harness_mode;
/* "--collector stw|concurrent" (default stw): the collector of every
 * runtime the harness makes. */
extern rc_collector_kind harness_collector;

int harness_setup(void **state);     /* new runtime in harness_mode */
int harness_teardown(void **state);  /* free it; fail if anything leaked */

#define HARNESS_TEST(f) cmocka_unit_test_setup_teardown(f, harness_setup, harness_teardown)

/* Parse --mode (exit 2 with a message naming the valid values on a bad
 * one), then run the group. */
int harness_run(const char *group, const struct CMUnitTest *tests, size_t n,
                int argc, char **argv);
#define HARNESS_RUN(group, tests, argc, argv) \
    harness_run(group, tests, sizeof(tests) / sizeof((tests)[0]), argc, argv)

/* Assert that the last error is of the given kind, then clear it. */
#define assert_error(kind)                                          \
    do {                                                            \
        assert_int_equal((kind), rc_error_occurred());              \
        assert_true(rc_error_message()[0] != '\0');                 \
        rc_error_clear();                                           \
    } while (0)

/* Parse "--mode M" (and "--collector C" into harness_collector) for
 * programs that are not cmocka groups (stress), and
 * print the torture settings (RCGC_GC_STRESS, RCGC_GC_VERIFY) when set. */
rc_mode harness_parse_mode(int argc, char **argv);

#endif
