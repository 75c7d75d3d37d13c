/* tests/death/use_after_free.c: touching a freed object's count is a
 * programming error that sanitizer builds must catch loudly.  Run as
 *   use_after_free --mode M incref|decref
 * it frees an object and then increfs or decrefs it; CTest expects
 * AddressSanitizer's heap-use-after-free report (asan configuration only).
 */
#include <stdio.h>
#include <string.h>

#include "rcgc/rcgc.h"

int main(int argc, char **argv)
{
    rc_config cfg = rc_config_default();
    const char *op = argc > 3 ? argv[3] : "decref";
    if (argc > 2 && strcmp(argv[1], "--mode") == 0 && rc_mode_from_name(argv[2], &cfg.mode) < 0) {
        fprintf(stderr, "%s\n", rc_error_message());
        return 2;
    }
    rc_runtime *rt = rc_runtime_new(&cfg);
    rc_object *o = rc_list_new();
    rc_decref(o);            /* freed */
    if (strcmp(op, "incref") == 0)
        rc_incref(o);        /* must be caught */
    else
        rc_decref(o);        /* must be caught */
    rc_runtime_free(rt);
    puts("use-after-free went unnoticed");
    return 0;
}
