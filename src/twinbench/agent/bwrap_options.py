"""bwrap's options handed over on a descriptor (`bwrap --args FD`) rather than on its command line.

bwrap's pid 1 in a sandbox is a fork of bwrap itself, so `/proc/1/cmdline` there is bwrap's argv, readable by
everything in the sandbox. Passed on the command line, that argv would show the agent the room's host paths,
the host path of the task's docs, the list of files hidden from it and the reference's settings. Read from a
memfd instead, the command line is `bwrap --args N` and the command bwrap runs (the launcher and its own
arguments), which the agent chose or may know.
"""

from __future__ import annotations

import fcntl
import os

from twinbench.sandbox.rooms import LAUNCHER

# descriptors below this are stdio and the numbers the sandboxes give fixed meanings; a memfd made by a harness
# started with its stdio closed would otherwise take one of them
FIRST_FREE_FD = 10


def split_at_launcher(argv: list[str]) -> tuple[list[str], list[str]]:
    """(bwrap and its options, the command it runs) of a room's bwrap argv: both rooms end their options with
    `--chdir /` and start the command with the launcher, and no option takes an argument after `/`."""
    for index in range(3, len(argv)):
        if argv[index] == LAUNCHER and argv[index - 2 : index] == ["--chdir", "/"]:
            return argv[:index], argv[index:]
    raise ValueError("not a room's bwrap command: no `--chdir / LAUNCHER` in it")


class BwrapOptions:
    """The options of one bwrap argv in a memfd (`fd`), for one start; closed in this process on exit.

    `extra` options are added to the file (an --info-fd, say) without ever appearing on a command line."""

    def __init__(self, argv: list[str], extra: tuple[str, ...] = ()) -> None:
        head, self.command = split_at_launcher(argv)
        self.bwrap = head[0]
        self.options = [*head[1:], *extra]
        self.fd: int | None = None

    def __enter__(self) -> BwrapOptions:
        memfd = os.memfd_create("twinbench-bwrap-options", os.MFD_CLOEXEC)
        try:
            self.fd = fcntl.fcntl(memfd, fcntl.F_DUPFD_CLOEXEC, FIRST_FREE_FD)
        finally:
            os.close(memfd)
        data = b"".join(os.fsencode(option) + b"\0" for option in self.options)
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        os.lseek(self.fd, 0, os.SEEK_SET)
        return self

    def argv(self, fd_number: int) -> list[str]:
        """The short argv that reads the options from `fd_number`, the memfd's number in bwrap."""
        return [self.bwrap, "--args", str(fd_number), *self.command]

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
