/* tests/death/detached_use.c: allocating an object while detached is a
 * programming error that debug builds (RCGC_DEBUG: the sanitizer builds)
 * report loudly.  CTest expects the fatal message. */
#include <stdio.h>
#include <string.h>

#include "rcgc/rcgc.h"

int main(int argc, char **argv)
{
    rc_config cfg = rc_config_default();
    if (argc > 2 && strcmp(argv[1], "--mode") == 0 && rc_mode_from_name(argv[2], &cfg.mode) < 0)
        return 2;
    rc_runtime *rt = rc_runtime_new(&cfg);
    rc_detach();
    rc_object *o = rc_list_new();   /* must be caught */
    rc_attach();
    rc_decref(o);
    rc_runtime_free(rt);
    puts("use while detached went unnoticed");
    return 0;
}
