/* twinbench privilege dropper: preloaded into a reference program whose package ships shared libraries.
 *
 * The broker makes execute-only (mode 0111, root-owned) copies of the reference's binary and of its
 * package's shared libraries, and binds them over the real paths in the reference's sandbox. The dynamic
 * loader must read a library to map it, so the reference starts as root there; by the time constructors
 * run every DT_NEEDED library is mapped, and this constructor drops to the reference uid before main.
 * From then on neither the program nor anything it is asked to open (/proc/self/exe, the libraries, their
 * /proc/self/mem pages through another process) can read those bytes: the files are unreadable to that
 * uid, and the uid change leaves the process non-dumpable.
 *
 * TWINBENCH_RUN_AS=UID:GID says whom to become; TWINBENCH_PRELOAD_REST is what LD_PRELOAD should hold
 * afterwards (libfaketime, say), so that children of the reference do not load this library again.
 * Without TWINBENCH_RUN_AS a process that is still root stops: running the reference as root is never
 * the right outcome.
 *
 * The agent's environment arrives as TWINBENCH_AGENT_ENV_<n>=KEY=VALUE and becomes KEY=VALUE only here,
 * after the uid change. Constructors of the program's libraries and of other preloads (libfaketime) run
 * before this one, as root: they must not see a variable the agent chose, or FAKETIME_LOAD_FILE=/usr/bin/X
 * would have libfaketime map the execute-only binary as root and serve its bytes as timestamps.
 * glibc passes main the environ of the moment it calls main, so main's envp and getenv agree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <string.h>
#include <unistd.h>

static void refuse(const char *why) {
    static const char prefix[] = "twinbench: cannot start the reference: ";
    if (write(2, prefix, sizeof prefix - 1) < 0 || write(2, why, strlen(why)) < 0 || write(2, "\n", 1) < 0) {
        /* nothing more can be reported */
    }
    _exit(126);
}

extern char **environ;

static const char agent_prefix[] = "TWINBENCH_AGENT_ENV_";

/* environ with every TWINBENCH_AGENT_ENV_<n>=KEY=VALUE entry turned into KEY=VALUE (the strings stay where
 * the kernel put them; only the array is new) */
static void restore_agent_environment(void) {
    size_t count = 0;
    for (char **entry = environ; *entry != NULL; entry++) count++;
    char **restored = calloc(count + 1, sizeof *restored);
    if (restored == NULL) refuse("out of memory");
    size_t kept = 0;
    for (char **entry = environ; *entry != NULL; entry++) {
        if (strncmp(*entry, agent_prefix, sizeof agent_prefix - 1) == 0) {
            char *value = strchr(*entry, '=');
            if (value != NULL && strchr(value + 1, '=') != NULL && value[1] != '=') restored[kept++] = value + 1;
        } else {
            restored[kept++] = *entry;
        }
    }
    restored[kept] = NULL;
    environ = restored;
}

__attribute__((constructor(101))) static void twinbench_drop_privileges(void) {
    const char *spec = getenv("TWINBENCH_RUN_AS");
    if (spec == NULL) {
        if (getuid() == 0 || geteuid() == 0) refuse("no uid to run as");
        return;
    }
    char *end = NULL;
    errno = 0;
    long uid = strtol(spec, &end, 10);
    if (errno != 0 || end == spec || *end != ':' || uid <= 0) refuse("malformed TWINBENCH_RUN_AS");
    const char *gid_text = end + 1;
    long gid = strtol(gid_text, &end, 10);
    if (errno != 0 || end == gid_text || *end != '\0' || gid <= 0) refuse("malformed TWINBENCH_RUN_AS");
    const char *rest = getenv("TWINBENCH_PRELOAD_REST");
    if (rest != NULL && *rest != '\0') {
        setenv("LD_PRELOAD", rest, 1);
    } else {
        unsetenv("LD_PRELOAD");
    }
    unsetenv("TWINBENCH_PRELOAD_REST");
    unsetenv("TWINBENCH_RUN_AS");
    if (getuid() != (uid_t)uid || geteuid() != (uid_t)uid) {
        if (setgroups(0, NULL) != 0) refuse("setgroups failed");
        if (setgid((gid_t)gid) != 0) refuse("setgid failed");
        if (setuid((uid_t)uid) != 0) refuse("setuid failed");
        if (getuid() != (uid_t)uid || geteuid() != (uid_t)uid || setuid(0) == 0) refuse("the uid did not change");
    }
    /* The launcher entered the caller's working directory as root. Enter it again as the new uid, so that
     * a directory root alone could pass (a 0700 parent) does not stay open to relative paths. */
    char *cwd = getcwd(NULL, 0);
    if (cwd == NULL || chdir(cwd) != 0) refuse("the working directory cannot be entered as the reference's uid");
    free(cwd);
    /* a uid change makes a process non-dumpable only while fs.suid_dumpable is 0: say so whatever it is,
     * so that a child of the reference running as the same uid cannot read its memory either */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) refuse("cannot make the process non-dumpable");
    restore_agent_environment();
}
