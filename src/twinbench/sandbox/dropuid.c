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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void refuse(const char *why) {
    static const char prefix[] = "twinbench: cannot start the reference: ";
    if (write(2, prefix, sizeof prefix - 1) < 0 || write(2, why, strlen(why)) < 0 || write(2, "\n", 1) < 0) {
        /* nothing more can be reported */
    }
    _exit(126);
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
    if (getuid() == (uid_t)uid && geteuid() == (uid_t)uid) return;
    if (setgroups(0, NULL) != 0) refuse("setgroups failed");
    if (setgid((gid_t)gid) != 0) refuse("setgid failed");
    if (setuid((uid_t)uid) != 0) refuse("setuid failed");
    if (getuid() != (uid_t)uid || geteuid() != (uid_t)uid || setuid(0) == 0) refuse("the uid did not change");
}
