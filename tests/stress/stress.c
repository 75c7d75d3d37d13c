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
        } else if (strcmp(argv[i], "--mode") == 0 || strcmp(argv[i], "--collector") == 0) {
            i++;   /* harness_parse_mode checked it */
        } else {
            fprintf(stderr, "%s: unknown flag '%s' (valid: --mode, --collector, "
                    "--threads, --iterations, --seed)\n", argv[0], argv[i]);
            exit(2);
        }
    }
    const char *prog = strrchr(argv[0], '/');
    printf("%s: mode=%s collector=%s threads=%d iterations=%ld seed=%llu\n",
           prog ? prog + 1 : argv[0], rc_mode_name(a->mode),
           rc_collector_name(harness_collector), a->threads, a->iterations, (unsigned long long)a->seed);
}

rc_runtime *stress_runtime_new(rc_mode mode)
{
    rc_config cfg = rc_config_default();
    cfg.mode = mode;
    cfg.collector = harness_collector;
    rc_runtime *rt = rc_runtime_new(&cfg);
    if (rt == NULL) {
        fprintf(stderr, "rc_runtime_new: %s\n", rc_error_message());
        exit(1);
    }
    return rt;
}

rc_object *stress_obj_new(rc_type *t, int64_t id)
{
    rc_object *o = rc_instance_new(t);
    rc_object *n = rc_int_new(id);
    char buf[48];
    snprintf(buf, sizeof buf, "obj-%lld", (long long)id);
    rc_object *s = rc_str_new(buf);
    if (o == NULL || n == NULL || s == NULL) {
        rc_decref(o);
        rc_decref(n);
        rc_decref(s);
        return NULL;
    }
    rc_slot_set(o, 0, n);
    rc_slot_set(o, 1, s);
    rc_decref(n);
    rc_decref(s);
    return o;
}

int stress_obj_check(rc_type *t, rc_object *o)
{
    if (o == NULL || rc_type_of(o) != t || rc_refcount(o) < 1)
        return 0;
    rc_object *n = rc_slot_get(o, 0), *s = rc_slot_get(o, 1);
    int ok = rc_is_int(n) && rc_is_str(s);
    if (ok) {
        char buf[48];
        snprintf(buf, sizeof buf, "obj-%lld", (long long)rc_int_value(n));
        ok = strcmp(rc_str_data(s), buf) == 0;
    }
    rc_decref(n);
    rc_decref(s);
    return ok;
}

int stress_run_phases(rc_runtime *rt, const struct stress_phase *phases, int n)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        int before = stress_failed();
        int ok = phases[i].fn() && stress_failed() == before;
        printf("  %-10s %s\n", phases[i].name, ok ? "ok" : "FAILED");
        fflush(stdout);
        ok ? passed++ : failed++;
    }
    long leaked = rc_runtime_free(rt);
    if (leaked != 0) {
        fprintf(stderr, "FAIL: rc_runtime_free reported %ld leaked\n", leaked);
        failed++;
    } else {
        passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
