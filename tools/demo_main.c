/* tools/demo_main.c: rcgc-demo, the GIL-vs-free-threaded comparison on the
 * demo workload, until the full `rcgc` command lands.
 *   rcgc-demo [--quick] [--threads N] [--items N] [--reads N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

static long parse_long(const char *flag, const char *v, long min)
{
    char *end;
    long n = v != NULL ? strtol(v, &end, 10) : 0;
    if (v == NULL || *v == '\0' || *end != '\0' || n < min) {
        fprintf(stderr, "rcgc-demo: %s needs an integer >= %ld, not '%s'\n", flag, min,
                v != NULL ? v : "");
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    struct demo_params p = {.threads = 4, .items = 400000, .reads = 4000000};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            p.items = 20000;
            p.reads = 100000;
        } else if (strcmp(argv[i], "--threads") == 0) {
            p.threads = (int)parse_long("--threads", i + 1 < argc ? argv[++i] : NULL, 2);
        } else if (strcmp(argv[i], "--items") == 0) {
            p.items = parse_long("--items", i + 1 < argc ? argv[++i] : NULL, 1);
        } else if (strcmp(argv[i], "--reads") == 0) {
            p.reads = parse_long("--reads", i + 1 < argc ? argv[++i] : NULL, 0);
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: rcgc-demo [--quick] [--threads N>=2] [--items N] [--reads N]\n"
                   "Runs the demo workload in gil, ft and ft-atomic mode and prints a table.\n");
            return 0;
        } else {
            fprintf(stderr, "rcgc-demo: unknown flag '%s' (valid: --quick, --threads, "
                    "--items, --reads, --help)\n", argv[i]);
            return 2;
        }
    }
    if (p.threads > 64) {
        fprintf(stderr, "rcgc-demo: --threads must be 2..64\n");
        return 2;
    }
    printf("demo workload: %d threads, %ld handed-over graphs, %ld shared reads per thread\n\n",
           p.threads, p.items, p.reads);
    printf("%-10s %10s %14s %12s %10s %8s\n", "mode", "wall (s)", "ops/s", "vs gil", "GIL wait",
           "leaked");
    double gil_ops = 0;
    int rc = 0;
    for (int m = 0; m < RC_MODE_COUNT; m++) {
        struct demo_result r;
        if (demo_run((rc_mode)m, &p, &r) < 0) {
            fprintf(stderr, "rcgc-demo: %s: %s\n", rc_mode_name((rc_mode)m), rc_error_message());
            rc = 1;
            continue;
        }
        if (m == RC_MODE_GIL)
            gil_ops = r.ops_per_s;
        printf("%-10s %10.3f %14.0f %11.2fx %9.3fs %8ld\n", rc_mode_name((rc_mode)m), r.wall_s,
               r.ops_per_s, r.ops_per_s / gil_ops, (double)r.gil_wait_ns * 1e-9, r.leaked);
    }
    return rc;
}
