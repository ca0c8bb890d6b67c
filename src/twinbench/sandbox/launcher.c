/* twinbench launcher: the last step between the sandbox runner and a candidate program.
 *
 * The runner (root inside the sandbox) posix_spawns this static binary, which is far cheaper than
 * forking the Python runner. It applies the run's limits, drops to the candidate uid, enters the work
 * dir and execs the program. If exec fails, the reason goes to fd 3 and the exit status is 127.
 *
 * usage: launch UID GID CPU_S AS_BYTES FSIZE_BYTES NOFILE NPROC WORKDIR PROGRAM ARGV0 [ARGS...]
 * UID -1 means "do not change uid": unprivileged mode, where the sandbox is already another user, or a
 * reference started as root whose preloaded dropper (TWINBENCH_RUN_AS, dropuid.c) changes it before main.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static void fail(const char *what) {
    const char *reason = strerror(errno);
    if (write(3, what, strlen(what)) < 0 || write(3, ": ", 2) < 0 || write(3, reason, strlen(reason)) < 0) {
        /* nothing more can be reported */
    }
    _exit(127);
}

static void limit(int resource, unsigned long long soft, unsigned long long hard) {
    struct rlimit value = {(rlim_t)soft, (rlim_t)hard};
    if (setrlimit(resource, &value) != 0) fail("setrlimit");
}

int main(int argc, char **argv) {
    if (argc < 11) {
        errno = EINVAL;
        fail("launcher usage");
    }
    long uid = strtol(argv[1], NULL, 10);
    long gid = strtol(argv[2], NULL, 10);
    unsigned long long cpu = strtoull(argv[3], NULL, 10);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    limit(RLIMIT_CPU, cpu, cpu + 1);
    limit(RLIMIT_AS, strtoull(argv[4], NULL, 10), strtoull(argv[4], NULL, 10));
    limit(RLIMIT_FSIZE, strtoull(argv[5], NULL, 10), strtoull(argv[5], NULL, 10));
    limit(RLIMIT_NOFILE, strtoull(argv[6], NULL, 10), strtoull(argv[6], NULL, 10));
    limit(RLIMIT_CORE, 0, 0);
    /* binds for any uid but root; in a user namespace it counts that namespace's processes */
    limit(RLIMIT_NPROC, strtoull(argv[7], NULL, 10), strtoull(argv[7], NULL, 10));
    if (uid < 0 && getenv("TWINBENCH_RUN_AS") != NULL && geteuid() == 0) {
        /* The program stays root until the preloaded dropper (dropuid.c) changes its uid. If the loader
         * could not load that library it would only warn and run the program as root: refuse instead. */
        const char *preload = getenv("LD_PRELOAD");
        size_t length = preload == NULL ? 0 : strcspn(preload, ": ");
        char first[4096];
        if (length == 0 || length >= sizeof first) {
            errno = ENOENT;
            fail("the uid dropper is not preloaded");
        }
        memcpy(first, preload, length);
        first[length] = '\0';
        int probe = open(first, O_RDONLY | O_CLOEXEC);
        if (probe < 0) fail("the uid dropper cannot be loaded");
        close(probe);
    }
    if (uid >= 0) {
        if (setgroups(0, NULL) != 0) fail("setgroups");
        if (setgid((gid_t)gid) != 0) fail("setgid");
        if (setuid((uid_t)uid) != 0) fail("setuid");
    }
    if (chdir(argv[8]) != 0) fail("chdir");
    signal(SIGPIPE, SIG_DFL);
    /* Only stdin, stdout, stderr (and fd 3, close-on-exec) may reach the program. Whatever else the
     * harness inherited and did not mark close-on-exec (a CI runner's pipe, an open task file) would
     * otherwise be reopenable through /proc/self/fd, past every mount that hides its file. */
    if (syscall(SYS_close_range, 4U, ~0U, 0U) != 0) {
        long highest = sysconf(_SC_OPEN_MAX);
        for (long fd = 4; fd < (highest > 0 ? highest : 65536); fd++) close((int)fd);
    }
    execv(argv[9], argv + 10);
    fail("exec");
    return 127;
}
