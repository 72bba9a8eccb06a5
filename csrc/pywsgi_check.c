/*
 * pywsgi_check.c: load the gateway and every app in a child process, as
 * the workers' user (see pywsgi_check.h).
 *
 * The child writes "<app index>\n<message>" to a pipe and exits 1 at the
 * first failure, or exits 0 having written nothing.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE                 /* initgroups */
#endif

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pywsgi_check.h"
#include "pywsgi_loader.h"


static void child_fail(int fd, int index, const char *msg);


/* the workers' identity, in the order nginx and Apache's mod_unixd take
   it: the groups, then the group, then the user */
static void
switch_user(const pywsgi_check *chk, int fd)
{
    char  msg[512];

    if (chk->user == NULL || geteuid() != 0 || chk->uid == 0
        || chk->uid == (uid_t) -1)
    {
        return;
    }

    if (initgroups(chk->user, chk->gid) == -1
        || setgid(chk->gid) == -1
        || setuid(chk->uid) == -1)
    {
        snprintf(msg, sizeof(msg), "cannot switch to the workers' user %s "
                 "(uid %d, gid %d) to check the apps as it: %s", chk->user,
                 (int) chk->uid, (int) chk->gid, strerror(errno));
        child_fail(fd, -1, msg);
    }
}


static void
child_run(const pywsgi_check *chk, int fd)
{
    static char     err[8192];
    int             i;
    const char     *why;
    pywsgi_gateway  gw;

    if (chk->prepare != NULL) {
        why = chk->prepare(chk->prepare_data);
        if (why != NULL) {
            child_fail(fd, -1, why);
        }
    }

    switch_user(chk, fd);

    if (chk->workdir != NULL && chdir(chk->workdir) == -1) {
        snprintf(err, sizeof(err), "cannot enter the workers' directory %s "
                 "in the check process: %s", chk->workdir, strerror(errno));
        child_fail(fd, -1, err);
    }

    if (pywsgi_gateway_open(&gw, chk->gateway, err, sizeof(err)) != 0) {
        child_fail(fd, -1, err);
    }

    for (i = 0; i < chk->napps; i++) {
        if (gw.init(&chk->apps[i], err, sizeof(err)) < 0) {
            /* Python itself, not this app: say so without the app */
            child_fail(fd, strncmp(err, PYWSGI_PYTHON_FAILED,
                                   sizeof(PYWSGI_PYTHON_FAILED) - 1) == 0
                           ? -1 : i, err);
        }
    }

    /* no atexit handlers, no flushing of the server's stdio buffers */
    _exit(0);
}


static void
child_fail(int fd, int index, const char *msg)
{
    char     head[32];
    size_t   len;
    ssize_t  n;

    len = (size_t) snprintf(head, sizeof(head), "%d\n", index);
    n = write(fd, head, len);

    len = strlen(msg);

    while (n >= 0 && len) {
        n = write(fd, msg, len);
        if (n > 0) {
            msg += n;
            len -= (size_t) n;
        }
    }

    _exit(1);
}


static size_t
read_all(int fd, char *buf, size_t len)
{
    ssize_t  n;
    size_t   total;

    total = 0;

    while (total < len) {
        n = read(fd, buf + total, len - total);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            break;
        }

        total += (size_t) n;
    }

    return total;
}


/* the child's "<index>\n<message>", or why it said nothing */
static int
child_answer(char *buf, size_t n, int status, int *failed, char *err,
    size_t errlen)
{
    char  *msg;

    if (n == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }

    *failed = -1;

    if (n == 0) {
        if (WIFSIGNALED(status)) {
            snprintf(err, errlen, "the process that starts Python to check "
                     "the apps was killed by signal %d: see the messages "
                     "above", WTERMSIG(status));
        } else {
            snprintf(err, errlen, "the process that starts Python to check "
                     "the apps exited with status %d: see the messages "
                     "above", WEXITSTATUS(status));
        }

        return -1;
    }

    buf[n] = '\0';
    msg = strchr(buf, '\n');

    if (msg != NULL) {
        *failed = atoi(buf);
        msg++;

    } else {
        msg = buf;
    }

    snprintf(err, errlen, "%s", msg);
    return -1;
}


int
pywsgi_check_apps(const pywsgi_check *chk, int *failed, char *err,
    size_t errlen)
{
    int     fds[2], status;
    char   *buf;
    pid_t   pid;
    size_t  n;

    *failed = -1;

    buf = malloc(errlen + 1);
    if (buf == NULL || pipe(fds) == -1) {
        snprintf(err, errlen, "cannot check the apps: %s", strerror(errno));
        free(buf);
        return -1;
    }

    pid = fork();

    if (pid == -1) {
        snprintf(err, errlen, "cannot check the apps: fork() failed: %s",
                 strerror(errno));
        close(fds[0]);
        close(fds[1]);
        free(buf);
        return -1;
    }

    if (pid == 0) {
        close(fds[0]);
        child_run(chk, fds[1]);
        /* unreachable */
    }

    close(fds[1]);
    n = read_all(fds[0], buf, errlen - 1);
    close(fds[0]);

    while (waitpid(pid, &status, 0) == -1 && errno == EINTR) {
        /* void */
    }

    if (child_answer(buf, n, status, failed, err, errlen) != 0) {
        free(buf);
        return -1;
    }

    free(buf);
    return 0;
}
