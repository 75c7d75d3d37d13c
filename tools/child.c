/* tools/child.c: one measured run in a child process (child.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

/* The first line of a file (the child's stderr), into buf. */
static void first_line(int fd, char *buf, size_t n)
{
    buf[0] = '\0';
    if (lseek(fd, 0, SEEK_SET) < 0)
        return;
    ssize_t got = read(fd, buf, n - 1);
    buf[got > 0 ? got : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

int child_run(struct child *c, char *err, size_t errlen)
{
    c->exit_status = -1;
    c->term_signal = 0;
    c->first_line[0] = '\0';
    snprintf(c->json, sizeof c->json, "/tmp/rcgc-run-XXXXXX");
    int jfd = mkstemp(c->json);
    if (jfd < 0) {
        snprintf(err, errlen, "mkstemp: %s", strerror(errno));
        c->json[0] = '\0';
        return -1;
    }
    close(jfd);
    int efd = -1;
    if (c->capture_stderr) {
        char err_path[] = "/tmp/rcgc-run-err-XXXXXX";
        efd = mkstemp(err_path);
        if (efd < 0) {
            snprintf(err, errlen, "mkstemp: %s", strerror(errno));
            child_done(c);
            return -1;
        }
        unlink(err_path);   /* the open descriptor keeps it while we need it */
    }
    size_t argc = 0;
    while (c->argv[argc] != NULL)
        argc++;
    char **args = calloc(argc + 3, sizeof *args);
    if (args == NULL) {
        snprintf(err, errlen, "out of memory");
        if (efd >= 0)
            close(efd);
        child_done(c);
        return -1;
    }
    memcpy(args, c->argv, argc * sizeof *args);
    args[argc] = "--json";
    args[argc + 1] = c->json;

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        free(args);
        if (efd >= 0)
            close(efd);
        child_done(c);
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
            close(devnull);
        }
        if (efd >= 0) {
            dup2(efd, STDERR_FILENO);
            close(efd);
        }
        execv(c->path, args);
        fprintf(stderr, "cannot run %s: %s\n", c->path, strerror(errno));
        _exit(127);
    }
    free(args);
    int wst;
    bool passed_on = false;
    while (waitpid(pid, &wst, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "waitpid: %s", strerror(errno));
            if (efd >= 0)
                close(efd);
            child_done(c);
            return -1;
        }
        if (c->interrupted != NULL && *c->interrupted != 0 && !passed_on) {
            kill(pid, *c->interrupted);   /* then wait for it */
            passed_on = true;
        }
    }
    if (efd >= 0) {
        first_line(efd, c->first_line, sizeof c->first_line);
        close(efd);
    }
    if (WIFSIGNALED(wst))
        c->term_signal = WTERMSIG(wst);
    else if (WIFEXITED(wst))
        c->exit_status = WEXITSTATUS(wst);
    return 0;
}

const char *child_failure(const struct child *c, char *buf, size_t n)
{
    if (c->term_signal != 0)
        snprintf(buf, n, "was killed by signal %d (%s)", c->term_signal,
                 strsignal(c->term_signal));
    else if (c->exit_status != 0 && c->exit_status != 1)
        snprintf(buf, n, "exited with status %d", c->exit_status);
    else
        buf[0] = '\0';
    return buf;
}

void child_done(struct child *c)
{
    if (c->json[0] != '\0')
        unlink(c->json);
    c->json[0] = '\0';
}
