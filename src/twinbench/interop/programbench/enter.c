/* twinbench's step between a ProgramBench branch's broker and the launcher: in a mount namespace of its
 * own, bind the real candidate over the shim's path, then exec the launcher. So the candidate runs at the
 * path the tests called (/workspace/executable: a script's $0, argparse's prog name), while pytest's
 * processes keep seeing the shim there. A terminal on stdin becomes the candidate's controlling terminal.
 *
 * usage: enter REAL TARGET LAUNCHER [LAUNCHER ARGS...]   (root inside the branch's sandbox)
 * On failure the reason goes to fd 3, as the launcher reports its own, and the exit status is 127.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

static void fail(const char *what) {
    const char *reason = strerror(errno);
    if (write(3, what, strlen(what)) < 0 || write(3, ": ", 2) < 0 || write(3, reason, strlen(reason)) < 0) {
        /* nothing more can be reported */
    }
    _exit(127);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        errno = EINVAL;
        fail("enter usage");
    }
    if (unshare(CLONE_NEWNS) != 0) fail("unshare");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail("mount private");
    if (mount(argv[1], argv[2], NULL, MS_BIND, NULL) != 0) fail("bind the candidate");
    /* A terminal on stdin (a tmux pane, a pexpect pty) becomes the candidate's controlling terminal, taken
     * from the shim's session, so keys like Ctrl-C and window resizes reach the candidate as signals. We
     * lead a new session (the broker spawned us with setsid) and are still root, which may take it. */
    if (isatty(0) && ioctl(0, TIOCSCTTY, 1) != 0) fail("take the terminal");
    execv(argv[3], argv + 3);
    fail("exec launcher");
    return 127;
}
