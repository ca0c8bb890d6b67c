/* twinbench launcher: the last step between the sandbox runner and a candidate program.
 *
 * The runner (root inside the sandbox) posix_spawns this static binary, which is far cheaper than
 * forking the Python runner. It applies the run's limits, drops to the candidate uid, enters the work
 * dir and execs the program. If exec fails, the reason goes to fd 3 and the exit status is 127.
 *
 * usage: launch UID GID CPU_S AS_BYTES FSIZE_BYTES NOFILE NPROC NEW_IPC CGROUP_FDS CPUS WORKDIR PROGRAM ARGV0 [ARGS...]
 * The positions are defined once, in runner_main.py (LAUNCH_FIELDS and launch_argv); the enum below names
 * them, and tests/test_launch_contract.py checks that both agree.
 * UID -1 means "do not change uid": unprivileged mode, where the sandbox is already another user, or a
 * reference started as root whose preloaded dropper (TWINBENCH_RUN_AS, dropuid.c) changes it before main.
 * CGROUP_FDS, unless -1, are open cgroup.procs files (comma-separated): the launcher joins those cgroups first,
 * so that all the program and its children use is counted there. NEW_IPC 1 gives the program a fresh IPC namespace.
 * CPUS, unless -1, are the host CPUs (comma-separated) the program is pinned to: the CPU count it reads
 * (sched_getaffinity, which nproc, Go and Rust use) is the sandbox's fixed machine's, not the host's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
    ARG_UID = 1,
    ARG_GID,
    ARG_CPU_S,
    ARG_AS_BYTES,
    ARG_FSIZE_BYTES,
    ARG_NOFILE,
    ARG_NPROC,
    ARG_NEW_IPC,
    ARG_CGROUP_FDS,
    ARG_CPUS,
    ARG_WORKDIR,
    ARG_PROGRAM,
    ARG_ARGV0,
};

#define STACK_BYTES (8ULL << 20)

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
    if (argc < ARG_ARGV0 + 1) {
        errno = EINVAL;
        fail("launcher usage");
    }
    long uid = strtol(argv[ARG_UID], NULL, 10);
    long gid = strtol(argv[ARG_GID], NULL, 10);
    unsigned long long cpu = strtoull(argv[ARG_CPU_S], NULL, 10);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    for (const char *cursor = argv[ARG_CGROUP_FDS]; *cursor != '\0';) {
        char *end;
        long cgroup_fd = strtol(cursor, &end, 10);
        if (end == cursor) break;
        if (cgroup_fd >= 0) {
            /* "0" is the writer itself: no pid of ours has to mean anything in the cgroup's pid namespace */
            if (write((int)cgroup_fd, "0\n", 2) != 2) fail("joining the sandbox's cgroup");
            close((int)cgroup_fd);
        }
        cursor = *end == ',' ? end + 1 : end;
    }
    cpu_set_t pinned;
    CPU_ZERO(&pinned);
    for (const char *cursor = argv[ARG_CPUS]; *cursor != '\0';) {
        char *end;
        long cpu = strtol(cursor, &end, 10);
        if (end == cursor) break;
        if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_SET((int)cpu, &pinned);
        cursor = *end == ',' ? end + 1 : end;
    }
    if (CPU_COUNT(&pinned) > 0 && sched_setaffinity(0, sizeof pinned, &pinned) != 0) fail("sched_setaffinity");
    if (strcmp(argv[ARG_NEW_IPC], "1") == 0 && unshare(CLONE_NEWIPC) != 0) fail("unshare(CLONE_NEWIPC)");
    /* When the sandbox's cgroup runs out of memory the kernel kills one of its processes: the program, never
     * the runner beside it. Raising one's own score needs no privilege (lowering the runner's would need
     * CAP_SYS_RESOURCE, which bwrap drops); an unmounted /proc only loses this preference. */
    int adjust = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (adjust >= 0) {
        if (write(adjust, "1000", 4) != 4) { /* see above */ }
        close(adjust);
    }
    limit(RLIMIT_CPU, cpu, cpu + 1);
    limit(RLIMIT_AS, strtoull(argv[ARG_AS_BYTES], NULL, 10), strtoull(argv[ARG_AS_BYTES], NULL, 10));
    limit(RLIMIT_FSIZE, strtoull(argv[ARG_FSIZE_BYTES], NULL, 10), strtoull(argv[ARG_FSIZE_BYTES], NULL, 10));
    limit(RLIMIT_NOFILE, strtoull(argv[ARG_NOFILE], NULL, 10), strtoull(argv[ARG_NOFILE], NULL, 10));
    limit(RLIMIT_CORE, 0, 0);
    /* The stack limit is the host's otherwise, and glibc derives ARG_MAX from it (getconf ARG_MAX, xargs
     * --show-limits): the fixed machine's is 8 MiB, where the hard limit allows (sandbox/machine.py). */
    struct rlimit stack;
    if (getrlimit(RLIMIT_STACK, &stack) == 0 && (stack.rlim_max == RLIM_INFINITY || stack.rlim_max >= STACK_BYTES))
        limit(RLIMIT_STACK, STACK_BYTES, stack.rlim_max);
    /* binds for any uid but root; in a user namespace it counts that namespace's processes */
    limit(RLIMIT_NPROC, strtoull(argv[ARG_NPROC], NULL, 10), strtoull(argv[ARG_NPROC], NULL, 10));
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
    if (chdir(argv[ARG_WORKDIR]) != 0) fail("chdir");
    /* Python (the runner, the harness) ignores these; an ignored signal stays ignored across exec, and a
     * program must meet the default: killed by SIGPIPE on a closed pipe, by SIGXFSZ past its file size limit */
    signal(SIGPIPE, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL);
    /* Only stdin, stdout, stderr (and fd 3, close-on-exec) may reach the program. Whatever else the
     * harness inherited and did not mark close-on-exec (a CI runner's pipe, an open task file) would
     * otherwise be reopenable through /proc/self/fd, past every mount that hides its file. */
    if (syscall(SYS_close_range, 4U, ~0U, 0U) != 0) {
        long highest = sysconf(_SC_OPEN_MAX);
        for (long fd = 4; fd < (highest > 0 ? highest : 65536); fd++) close((int)fd);
    }
    execv(argv[ARG_PROGRAM], argv + ARG_ARGV0);
    fail("exec");
    return 127;
}
