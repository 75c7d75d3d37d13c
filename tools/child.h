/* tools/child.h: one measured run in a child process, its JSON report in a
 * temporary file.  The fork, exec and wait that `rcgc compare`
 * (tools/rcgc/main.c: each configuration is `rcgc run ... --json TMP`) and
 * rcgc-bench (tools/bench/bench.c: `rcgc run` and the malloc/free floors)
 * share; each reads the report itself.
 *
 * The child's stdout goes to /dev/null (the parent prints the tables); its
 * stderr is inherited, or captured so that its first line can go into the
 * parent's message.  Waiting is interruptible: the parent's handler for
 * SIGINT, SIGTERM and SIGHUP (installed without SA_RESTART) stores the
 * signal in *interrupted; child_run then passes it on to the child (a
 * terminal's ^C reaches both, a kill of the parent alone does not) and
 * waits for the child to end.
 *
 * Single-threaded: call from the program's main thread.
 */
#ifndef RCGC_CHILD_H
#define RCGC_CHILD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct child {
    /* Set by the caller. */
    const char *path;                    /* the program to execute */
    char *const *argv;                   /* its argv, argv[0] included, NULL-terminated;
                                          * "--json" and the report file are appended */
    bool capture_stderr;                 /* keep stderr's first line in first_line */
    volatile sig_atomic_t *interrupted;  /* the signal the parent got (0: none), or NULL */
    /* Set by child_run. */
    char json[32];                       /* the report's temporary file */
    int exit_status;                     /* its exit status, -1 if a signal killed it */
    int term_signal;                     /* the signal that killed it, else 0 */
    char first_line[240];                /* stderr's first line (capture_stderr), else "" */
};

/* Create the temporary report file, run argv + {"--json", FILE} in a child
 * and wait for it.  0 when the child ran, whatever became of it (see
 * child_failure); the caller reads c->json, then calls child_done.  -1 with
 * err set when it could not be run (mkstemp, fork, waitpid); nothing is
 * left behind then. */
int child_run(struct child *c, char *err, size_t errlen);

/* How the child failed as a program, into buf (returned): "" when it exited
 * with status 0 or 1 (it ran to the end: its report says how the run went),
 * else "was killed by signal 9 (Killed)" or "exited with status 2". */
const char *child_failure(const struct child *c, char *buf, size_t n);

/* Remove the temporary report file. */
void child_done(struct child *c);

#endif /* RCGC_CHILD_H */
