"""The seccomp filter every twinbench sandbox loads (bwrap --seccomp): what namespaces cannot isolate.

Two kernel facilities outlive a sandbox or reach past it, so sandboxed code may not use them:

* Keyrings. As root, candidates and agents run as a real host uid, and that uid's user keyring lives in
  the kernel for as long as the uid has any process: a key added by one action (or by a graded candidate)
  could be read back by the next action or agent run. add_key, request_key and keyctl fail with EPERM.
* New user namespaces. Inside one an unprivileged process may mount tmpfs filesystems, whose pages count
  against no limit of ours, and so exhaust the host's memory. clone and unshare with CLONE_NEWUSER fail
  with EPERM; clone3, whose flags a filter cannot read, fails with ENOSYS, and libc falls back to clone.

Syscalls of ABIs other than the machine's own (32-bit x86 on x86-64, x32) fail with EPERM: their numbers
differ, and nothing in a Debian toolchain needs them.
"""

from __future__ import annotations

import errno
import fcntl
import os
import platform
import struct
from dataclasses import dataclass

# classic BPF opcodes and the seccomp_data layout (linux/filter.h, linux/seccomp.h)
LOAD_WORD = 0x20  # BPF_LD | BPF_W | BPF_ABS
JUMP_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JUMP_GREATER_EQUAL = 0x35  # BPF_JMP | BPF_JGE | BPF_K
JUMP_ANY_BIT = 0x45  # BPF_JMP | BPF_JSET | BPF_K
RETURN = 0x06  # BPF_RET | BPF_K
NR_OFFSET = 0
ARCH_OFFSET = 4
FIRST_ARG_LOW_OFFSET = 16  # args[0], low 32 bits on a little-endian machine
ALLOW = 0x7FFF0000
ERRNO = 0x00050000
CLONE_NEWUSER = 0x10000000
# descriptors below this may be a process's stdio or what subprocess and posix_spawn map onto it
FIRST_UNSHARED_FD = 10
X32_SYSCALL_BIT = 0x40000000


@dataclass(frozen=True)
class Abi:
    """One architecture's audit id and the numbers of the syscalls the filter looks at."""

    audit_arch: int
    denied: tuple[int, ...]  # add_key, request_key, keyctl
    unshare: int
    clone: int
    clone3: int
    x32_possible: bool = False


ABIS = {
    "x86_64": Abi(0xC000003E, (248, 249, 250), unshare=272, clone=56, clone3=435, x32_possible=True),
    "aarch64": Abi(0xC00000B7, (217, 218, 219), unshare=97, clone=220, clone3=435),
}


class _Program:
    """A tiny assembler: instructions with symbolic forward jump targets."""

    def __init__(self) -> None:
        self.code: list[tuple[int, str | int, str | int, int]] = []
        self.labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def load(self, offset: int) -> None:
        self.code.append((LOAD_WORD, 0, 0, offset))

    def jump(self, opcode: int, value: int, if_true: str | int = 0, if_false: str | int = 0) -> None:
        self.code.append((opcode, if_true, if_false, value))

    def ret(self, value: int) -> None:
        self.code.append((RETURN, 0, 0, value))

    def assemble(self) -> bytes:
        out = bytearray()
        for index, (opcode, if_true, if_false, value) in enumerate(self.code):
            out += struct.pack("=HBBI", opcode, self._offset(index, if_true), self._offset(index, if_false), value)
        return bytes(out)

    def _offset(self, index: int, target: str | int) -> int:
        if isinstance(target, int):
            return target
        offset = self.labels[target] - index - 1
        if not 0 <= offset <= 255:
            raise ValueError(f"seccomp jump to {target} out of range")
        return offset


def filter_program(machine: str | None = None) -> bytes | None:
    """The filter as bwrap reads it (an array of struct sock_filter), or None on an unsupported machine."""
    abi = ABIS.get(machine or platform.machine())
    if abi is None:
        return None
    program = _Program()
    program.load(ARCH_OFFSET)
    program.jump(JUMP_EQUAL, abi.audit_arch, if_false="deny")
    program.load(NR_OFFSET)
    if abi.x32_possible:
        program.jump(JUMP_GREATER_EQUAL, X32_SYSCALL_BIT, if_true="deny")
    for number in abi.denied:
        program.jump(JUMP_EQUAL, number, if_true="deny")
    program.jump(JUMP_EQUAL, abi.clone3, if_true="no_such_call")
    program.jump(JUMP_EQUAL, abi.unshare, if_true="check_flags")
    program.jump(JUMP_EQUAL, abi.clone, if_true="check_flags")
    program.ret(ALLOW)
    program.label("check_flags")
    program.load(FIRST_ARG_LOW_OFFSET)
    program.jump(JUMP_ANY_BIT, CLONE_NEWUSER, if_true="deny")
    program.ret(ALLOW)
    program.label("deny")
    program.ret(ERRNO | errno.EPERM)
    program.label("no_such_call")
    program.ret(ERRNO | errno.ENOSYS)
    return program.assemble()


_PROGRAM = filter_program()


def seccomp_fd() -> int | None:
    """A fresh descriptor holding the filter, for one bwrap to read (bwrap reads it to its end, so every
    sandbox needs its own); close-on-exec, so only a descriptor passed on purpose reaches bwrap."""
    if _PROGRAM is None:
        return None
    created = os.memfd_create("twinbench-seccomp")
    # never a low number: in a harness started with its stdio closed the memfd would be fd 0, 1 or 2, which
    # subprocess then replaces with the child's stdin or stdout, and bwrap would read that as the filter
    fd = fcntl.fcntl(created, fcntl.F_DUPFD_CLOEXEC, FIRST_UNSHARED_FD)
    os.close(created)
    os.write(fd, _PROGRAM)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
