/* twinbench's ./executable for ProgramBench branches: what the branch's tests run as the pytest uid.
 *
 * It sends its argv, working directory, environment and (over SCM_RIGHTS) its stdin, stdout and stderr to
 * the branch supervisor's broker, which starts the real candidate as another uid through the launcher,
 * with the task's limits; then it exits as the candidate did (the same status, or the same signal).
 *
 * request: 4-byte big-endian length, then NUL-terminated fields: argc, argv[0..argc-1], cwd, environ...
 * reply:   "exit N", "signal N" or "error MESSAGE", then end of stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCKET_PATH "/run/twinbench/broker.sock"

extern char **environ;

static char *body;
static size_t length, capacity;

static void die(const char *what) {
    fprintf(stderr, "twinbench shim: the candidate could not be started: %s: %s\n", what, strerror(errno));
    _exit(126);
}

static void put(const char *text) {
    size_t size = strlen(text) + 1;
    if (length + size > capacity) {
        capacity = (length + size) * 2;
        body = realloc(body, capacity);
        if (body == NULL) die("realloc");
    }
    memcpy(body + length, text, size);
    length += size;
}

static void send_all(int fd, const char *data, size_t size) {
    while (size > 0) {
        ssize_t sent = send(fd, data, size, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            die("send");
        }
        data += sent;
        size -= (size_t)sent;
    }
}

int main(int argc, char **argv) {
    char number[32];
    snprintf(number, sizeof number, "%d", argc);
    put(number);
    for (int i = 0; i < argc; i++) put(argv[i]);
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL) strcpy(cwd, "/");
    put(cwd);
    for (char **entry = environ; *entry != NULL; entry++) put(*entry);

    int fds[3];
    for (int fd = 0; fd < 3; fd++) {
        /* a closed descriptor reaches the candidate as /dev/null, as a shell would give it */
        fds[fd] = fcntl(fd, F_GETFD) < 0 ? open("/dev/null", O_RDWR | O_CLOEXEC) : fd;
        if (fds[fd] < 0) die("open /dev/null");
    }
    int connection = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connection < 0) die("socket");
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strcpy(address.sun_path, SOCKET_PATH);
    if (connect(connection, (struct sockaddr *)&address, sizeof address) != 0) die("connect");

    unsigned char header[4] = {(unsigned char)(length >> 24), (unsigned char)(length >> 16),
                               (unsigned char)(length >> 8), (unsigned char)length};
    struct iovec part = {.iov_base = header, .iov_len = sizeof header};
    union {
        char buffer[CMSG_SPACE(sizeof fds)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {.msg_iov = &part, .msg_iovlen = 1, .msg_control = control.buffer,
                             .msg_controllen = sizeof control.buffer};
    struct cmsghdr *rights = CMSG_FIRSTHDR(&message);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(rights), fds, sizeof fds);
    while (sendmsg(connection, &message, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR) die("sendmsg");
    }
    send_all(connection, body, length);

    char reply[512];
    size_t got = 0;
    for (;;) {
        ssize_t chunk = read(connection, reply + got, sizeof reply - 1 - got);
        if (chunk < 0 && errno == EINTR) continue;
        if (chunk <= 0) break;
        got += (size_t)chunk;
        if (got == sizeof reply - 1) break;
    }
    reply[got] = '\0';
    if (strncmp(reply, "exit ", 5) == 0) return atoi(reply + 5) & 0xff;
    if (strncmp(reply, "signal ", 7) == 0) {
        int number_of_signal = atoi(reply + 7);
        signal(number_of_signal, SIG_DFL);
        sigset_t all;
        sigemptyset(&all);
        sigaddset(&all, number_of_signal);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        kill(getpid(), number_of_signal);
        return 128 + number_of_signal;
    }
    fprintf(stderr, "twinbench shim: %s\n", got ? reply : "the broker gave no answer");
    return 126;
}
