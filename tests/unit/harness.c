/* tests/unit/harness.c: see harness.h. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rc_mode harness_mode = RC_MODE_GIL;
rc_collector_kind harness_collector = RC_COLLECTOR_STW;

rc_mode harness_parse_mode(int argc, char **argv)
{
    rc_mode mode = RC_MODE_GIL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mode") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: --mode needs a value: gil, ft or ft-atomic\n", argv[0]);
                exit(2);
            }
            if (rc_mode_from_name(argv[++i], &mode) < 0) {
                fprintf(stderr, "%s: --mode: %s\n", argv[0], rc_error_message());
                exit(2);
            }
        } else if (strcmp(argv[i], "--collector") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: --collector needs a value: stw, concurrent or concurrent-thread\n", argv[0]);
                exit(2);
            }
            if (rc_collector_from_name(argv[++i], &harness_collector) < 0) {
                fprintf(stderr, "%s: --collector: %s\n", argv[0], rc_error_message());
                exit(2);
            }
        }
    }
    /* A torture run (docs/torture.md) says so in its log. */
    const char *stress = getenv("RCGC_GC_STRESS"), *verify = getenv("RCGC_GC_VERIFY");
    if ((stress != NULL && stress[0] != '\0') || (verify != NULL && verify[0] != '\0'))
        printf("torture settings: RCGC_GC_STRESS=%s RCGC_GC_VERIFY=%s\n",
               stress != NULL ? stress : "", verify != NULL ? verify : "");
    return mode;
}

int harness_setup(void **state)
{
    rc_config cfg = rc_config_default();
    cfg.mode = harness_mode;
    cfg.collector = harness_collector;
    rc_error_clear();
    rc_runtime *rt = rc_runtime_new(&cfg);
    if (rt == NULL) {
        fprintf(stderr, "rc_runtime_new: %s\n", rc_error_message());
        return -1;
    }
    *state = rt;
    return 0;
}

int harness_teardown(void **state)
{
    long leaked = rc_runtime_free(*state);
    if (leaked != 0) {
        fprintf(stderr, "rc_runtime_free: %ld (%s)\n", leaked,
                leaked < 0 ? rc_error_message() : "objects leaked");
        return -1;
    }
    return 0;
}

int harness_run(const char *group, const struct CMUnitTest *tests, size_t n,
                int argc, char **argv)
{
    harness_mode = harness_parse_mode(argc, argv);
    char name[128];
    snprintf(name, sizeof name, "%s [%s, %s]", group, rc_mode_name(harness_mode),
             rc_collector_name(harness_collector));
    return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}
