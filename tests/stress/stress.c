/* tests/stress/stress.c: see stress.h. */
#include "stress.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

_Atomic int stress_failures;

static long parse_number(const char *prog, const char *flag, const char *v, long min, long max)
{
    char *end;
    errno = 0;
    long n = v != NULL ? strtol(v, &end, 10) : 0;
    if (v == NULL || *v == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
        fprintf(stderr, "%s: %s needs an integer in [%ld, %ld], not '%s'\n", prog, flag, min,
                max, v != NULL ? v : "");
        exit(2);
    }
    return n;
}

void stress_parse_args(int argc, char **argv, int min_threads, struct stress_args *a)
{
    a->mode = harness_parse_mode(argc, argv);
    if (UNDER_TSAN)
        a->iterations = a->iterations / 10 > 0 ? a->iterations / 10 : 1;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--threads") == 0) {
            a->threads = (int)parse_number(argv[0], "--threads", v, min_threads, 64);
            i++;
        } else if (strcmp(argv[i], "--iterations") == 0) {
            a->iterations = parse_number(argv[0], "--iterations", v, 1, LONG_MAX);
            i++;
        } else if (strcmp(argv[i], "--seed") == 0) {
            a->seed = (uint64_t)parse_number(argv[0], "--seed", v, 1, LONG_MAX);
            i++;
        } else if (strcmp(argv[i], "--mode") == 0) {
            i++;   /* harness_parse_mode checked it */
        } else {
            fprintf(stderr, "%s: unknown flag '%s' (valid: --mode, --threads, --iterations, "
                    "--seed)\n", argv[0], argv[i]);
            exit(2);
        }
    }
    const char *prog = strrchr(argv[0], '/');
    printf("%s: mode=%s threads=%d iterations=%ld seed=%llu\n", prog ? prog + 1 : argv[0],
           rc_mode_name(a->mode), a->threads, a->iterations, (unsigned long long)a->seed);
}

rc_runtime *stress_runtime_new(rc_mode mode)
{
    rc_config cfg = rc_config_default();
    cfg.mode = mode;
    rc_runtime *rt = rc_runtime_new(&cfg);
    if (rt == NULL) {
        fprintf(stderr, "rc_runtime_new: %s\n", rc_error_message());
        exit(1);
    }
    return rt;
}
