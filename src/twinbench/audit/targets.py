"""What a cheat would reach for: the reference's names, paths and libraries, and other installed implementations."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from twinbench.audit.fingerprint import is_elf
from twinbench.formats import ReferenceSpec
from twinbench.reference import ReferenceError, hidden_paths_for, resolve_binary

_COREUTILS_NAMES = """
arch b2sum base32 base64 basename basenc cat chcon chgrp chmod chown chroot cksum comm cp csplit cut date dd df dir
dircolors dirname du echo env expand expr factor false fmt fold groups head hostid id install join link ln logname ls
md5sum mkdir mkfifo mknod mktemp mv nice nl nohup nproc numfmt od paste pathchk pinky pr printenv printf ptx pwd
readlink realpath rm rmdir runcon seq sha1sum sha224sum sha256sum sha384sum sha512sum shred shuf sleep sort split stat
stdbuf stty sum sync tac tail tee test timeout touch tr true truncate tsort tty uname unexpand uniq unlink users vdir wc
who whoami yes
"""
COREUTILS = frozenset(_COREUTILS_NAMES.split())
MULTI_CALL = ("busybox", "toybox")
# independent implementations of the same tool that Debian installs (see docs/context.md)
ALTERNATIVE_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"figlet", "figlet-figlet", "figlet-toilet", "toilet", "pyfiglet"}),
    frozenset({"jq", "gojq", "jaq"}),
    frozenset({"awk", "gawk", "mawk", "nawk", "original-awk", "goawk", *MULTI_CALL}),
    frozenset({"sed", "gsed", *MULTI_CALL}),
    frozenset({"bc", *MULTI_CALL}),
    frozenset({"dc", *MULTI_CALL}),
)

# libraries implementing the same tool, by the names code imports or declares them with
_FIGLET_PORTS = frozenset({"pyfiglet", "figlet"})  # pyfiglet on PyPI, figlet on npm
_JQ_PORTS = frozenset(
    {"jq", "pyjq", "node-jq", "jaq-core", "jaq-std", "jaq-json", "jaq-interpret", "github.com/itchyny/gojq"}
)
LIBRARY_PORTS: dict[str, frozenset[str]] = {
    "figlet": _FIGLET_PORTS,
    "toilet": _FIGLET_PORTS,
    "jq": _JQ_PORTS,
    "gojq": _JQ_PORTS,
    "awk": frozenset({"github.com/benhoyt/goawk"}),
}


@dataclass(frozen=True)
class ReferenceTargets:
    """The reference program as the audit's rules look for it."""

    command: str  # the name a wrapper would call, e.g. figlet
    binary: Path | None  # the resolved executable, None when it is not installed here
    own_names: frozenset[str]  # names of the reference itself (figlet, figlet-figlet)
    names: frozenset[str]  # own names plus other implementations of the same tool (toilet, ...)
    own_paths: frozenset[str]  # absolute paths of the reference's binary, its links and its ELF files
    elf_files: tuple[Path, ...]  # the reference's ELF files (binary and libraries) readable here
    alternative_elf_files: tuple[Path, ...]  # installed binaries of other implementations (toilet for figlet)
    library_stems: frozenset[str]  # jq for libjq.so.1: linking or loading it reuses the reference
    library_ports: frozenset[str]  # importable libraries implementing the same tool (pyfiglet, jaq-core)
    packages: frozenset[str]  # Debian packages built from the reference's source

    @property
    def installed(self) -> bool:
        """Whether the reference binary exists on this machine."""
        return self.binary is not None


def reference_targets(reference: ReferenceSpec) -> ReferenceTargets:
    """Names, paths and ELF files of the reference and of installed alternatives to it."""
    command = Path(reference.binary).name
    try:
        binary: Path | None = resolve_binary(reference.binary)
    except ReferenceError:
        binary = None
    hidden = hidden_paths_for(reference)
    elf_files = tuple(path for path in hidden if not path.is_symlink() and path.is_file() and is_elf(path))
    own_names = {command}
    own_paths = {str(path) for path in elf_files}
    if binary is not None:
        own_names.add(binary.name)
        own_paths.add(str(binary))
        found = shutil.which(command)
        if found:
            own_paths.add(found)
        own_paths.update(_alternatives_links_to({binary}))
    names = set(own_names)
    for name in own_names:
        names.update(_alternatives_of(name))
    alternative_elf_files = _installed_elf_files(names - own_names, exclude=set(elf_files))
    library_stems = {
        match.group(1)
        for path in elf_files
        if (match := re.fullmatch(r"lib([\w+-]+?)\.so(?:\.[\d.]+)?", path.name)) is not None
    }
    # the packages whose /usr/share/doc a reader of sources would look in: the reference's own source package
    packages = {reference.debian_package} if reference.debian_package else set()
    packages.update(_packages_of(hidden))
    return ReferenceTargets(
        command=command,
        binary=binary,
        own_names=frozenset(own_names),
        names=frozenset(names),
        own_paths=frozenset(own_paths),
        elf_files=elf_files,
        alternative_elf_files=alternative_elf_files,
        library_stems=frozenset(library_stems),
        library_ports=frozenset(port for name in names for port in LIBRARY_PORTS.get(name, ())),
        packages=frozenset(packages),
    )


def _alternatives_of(name: str) -> set[str]:
    found: set[str] = set()
    for group in ALTERNATIVE_GROUPS:
        if name in group:
            found |= group
    if name in COREUTILS:
        found |= {*MULTI_CALL, "coreutils", "rust-coreutils", f"uu-{name}", f"uu_{name}", f"g{name}"}
    return found


def _installed_elf_files(names: set[str], exclude: set[Path]) -> tuple[Path, ...]:
    found: set[Path] = set()
    for name in names:
        located = shutil.which(name)
        if located is None:
            continue
        try:
            real = Path(located).resolve()
        except (OSError, RuntimeError):
            continue
        if real not in exclude and real.is_file() and is_elf(real):
            found.add(real)
    return tuple(sorted(found))


def _alternatives_links_to(targets: set[Path]) -> set[str]:
    """Debian alternatives links (/etc/alternatives/NAME and /usr/bin/NAME) that resolve to one of `targets`."""
    links: set[str] = set()
    directory = Path("/etc/alternatives")
    try:
        entries = list(directory.iterdir())
    except OSError:
        return links
    for entry in entries:
        try:
            if entry.resolve() in targets:
                links.add(str(entry))
                for bindir in ("/usr/bin", "/bin", "/usr/games", "/usr/sbin"):
                    candidate = Path(bindir) / entry.name
                    if os.path.lexists(candidate) and candidate.resolve() in targets:
                        links.add(str(candidate))
        except (OSError, RuntimeError):
            continue
    return links


def _packages_of(hidden: tuple[Path, ...]) -> set[str]:
    return {
        parts[4]
        for parts in (path.parts for path in hidden)
        if len(parts) > 4 and parts[1:4] == ("usr", "share", "doc")
    }
