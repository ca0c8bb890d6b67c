"""apt for coverage builds: the build log runner, deb-src entries, and the exact source version to build."""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from twinbench.reference.coverage.model import BUILD_JSON, CoverageBuildError

_OUTPUT_TAIL = 1 << 20  # the part of a command's output read back for its error line
SRC_SOURCES_FILE = Path("/etc/apt/sources.list.d/twinbench-src.sources")

APT_LOCK = ["-o", "DPkg::Lock::Timeout=600"]  # wait for another apt run instead of failing at once


class BuildRunner:
    """Runs build commands, appending their output to the build log and failing with one-line errors."""

    def __init__(self, logfile: IO[str], log_path: Path, say: Callable[[str], None]) -> None:
        self.logfile = logfile
        self.log_path = log_path
        self.say = say

    def fail(self, message: str) -> CoverageBuildError:
        """The error to raise: the message and where the build log is, on one line."""
        return CoverageBuildError(f"{message} (build log: {self.log_path})")

    def run(
        self, argv: list[str], *, what: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run argv; raise CoverageBuildError naming `what` and the last error line if it fails."""
        result = self.attempt(argv, cwd=cwd, env=env)
        if result.returncode != 0:
            raise self.fail(f"{what} failed (exit {result.returncode}): {last_error_line(result.stdout)}")
        return result

    def attempt(
        self, argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run argv and return its result whatever the exit code."""
        base = os.environ if env is None else {}
        full_env = {**base, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C", **(env or {})}
        self.logfile.write(f"$ {shlex.join(argv)}{'  (in ' + str(cwd) + ')' if cwd else ''}\n")
        self.logfile.flush()
        start = self.logfile.tell()
        began = time.monotonic()
        try:
            # straight into the log, so `tail -f` shows a long build as it goes
            result = subprocess.run(
                argv,
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=self.logfile,
                stderr=subprocess.STDOUT,
                timeout=4 * 3600,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise self.fail(f"{argv[0]}: {exc}") from None
        self.logfile.seek(0, os.SEEK_END)
        end = self.logfile.tell()
        with open(self.log_path, "rb") as reader:
            reader.seek(max(start, end - _OUTPUT_TAIL))
            output = reader.read().decode("utf-8", "replace")
        self.logfile.write(f"[exit {result.returncode} after {time.monotonic() - began:.1f}s]\n")
        self.logfile.flush()
        return subprocess.CompletedProcess(argv, result.returncode, output, None)

    def apt_install(self, packages: list[str]) -> None:
        """apt-get install the packages that are not installed yet."""
        missing = [p for p in packages if not installed(p)]
        if missing:
            self.say(f"installing {' '.join(missing)}")
            self.run(
                [*apt_prefix(), "apt-get", "install", "-y", "--no-install-recommends", *APT_LOCK, *missing],
                what="apt-get install " + " ".join(missing),
            )


def last_error_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("E:", "error", "Error")) or ": error" in line or "*** " in line:
            return line[:300]
    return lines[-1][:300] if lines else "no output"


def apt_prefix() -> list[str]:
    # apt needs root; other users go through sudo without a password prompt, as scripts/setup.sh does
    if os.geteuid() == 0 or shutil.which("sudo") is None:
        return []
    return ["sudo", "-n"]


def installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}", package], capture_output=True, text=True, check=False
    )
    return result.returncode == 0 and result.stdout.strip() == "installed"


# --- deb-src lines ----------------------------------------------------------------------------------------------


def ensure_deb_src(runner: BuildRunner, package: str) -> None:
    """Add deb-src entries mirroring the configured deb entries, then refresh apt's lists when needed."""
    wanted = _deb_src_stanzas()
    current = SRC_SOURCES_FILE.read_text(encoding="utf-8") if SRC_SOURCES_FILE.exists() else None
    changed = False
    if wanted and current != wanted:
        runner.say(f"adding deb-src entries in {SRC_SOURCES_FILE}")
        _write_root_file(runner, SRC_SOURCES_FILE, wanted)
        changed = True
    if changed or not source_versions(package)[1]:
        runner.say("apt-get update")
        runner.run([*apt_prefix(), "apt-get", "update", *APT_LOCK], what="apt-get update")


def _write_root_file(runner: BuildRunner, path: Path, text: str) -> None:
    if os.access(path.parent, os.W_OK):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)
        tmp.replace(path)
        return
    with tempfile.NamedTemporaryFile("w", suffix=".sources", delete=False) as handle:
        handle.write(text)
    try:
        runner.run([*apt_prefix(), "install", "-m", "0644", handle.name, str(path)], what=f"writing {path}")
    finally:
        os.unlink(handle.name)


def _deb_src_stanzas() -> str:
    """deb822 text with a deb-src stanza for every Debian/Ubuntu deb entry that has no deb-src twin yet."""
    entries = _apt_entries()
    have_src = {(uri, suite) for types, uri, suite, _c, _o in entries if "deb-src" in types}
    stanzas: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[str]] = {}
    for types, uri, suite, components, options in entries:
        if "deb" not in types or (uri, suite) in have_src or not _is_distro_mirror(uri, options):
            continue
        key = (uri, components, tuple(sorted(options.items())))
        suites = stanzas.setdefault(key, [])
        if suite not in suites:
            suites.append(suite)
    blocks = []
    for (uri, components, extra), suites in stanzas.items():
        lines = ["Types: deb-src", f"URIs: {uri}", f"Suites: {' '.join(suites)}", f"Components: {components}"]
        lines += [f"{name}: {value}" for name, value in extra]
        blocks.append("\n".join(lines) + "\n")
    return ("# written by twinbench: source entries for the mirrors configured for binaries\n\n" if blocks else "") + (
        "\n".join(blocks)
    )


_Entry = tuple[set[str], str, str, str, dict[str, str]]  # types, uri, suite, components, extra options


def _apt_entries() -> list[_Entry]:
    entries: list[_Entry] = []
    main = Path("/etc/apt/sources.list")
    files = [main] if main.exists() else []
    parts = Path("/etc/apt/sources.list.d")
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources") and p != SRC_SOURCES_FILE)
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        entries += _deb822_entries(text) if path.suffix == ".sources" else _one_line_entries(text)
    return entries


def _deb822_entries(text: str) -> list[_Entry]:
    entries: list[_Entry] = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        last = ""
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and last:
                fields[last] += " " + line.strip()
                continue
            name, _, value = line.partition(":")
            last = name.strip()
            fields[last] = value.strip()
        lower = {k.lower(): v for k, v in fields.items()}
        if lower.get("enabled", "yes").lower() == "no" or "uris" not in lower:
            continue
        types = set(lower.get("types", "").split())
        options = {k: v for k, v in fields.items() if k.lower() not in {"types", "uris", "suites", "components"}}
        components = " ".join(lower.get("components", "").split())
        for uri in lower["uris"].split():
            for suite in lower.get("suites", "").split():
                entries.append((types, uri, suite, components, options))
    return entries


def _one_line_entries(text: str) -> list[_Entry]:
    entries: list[_Entry] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        match = re.match(r"^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if not match:
            continue
        kind, opts, uri, suite, components = match.groups()
        options: dict[str, str] = {}
        for opt in (opts or "").split():
            name, _, value = opt.partition("=")
            if name == "signed-by":
                options["Signed-By"] = value
        entries.append(({kind}, uri, suite, " ".join(components.split()), options))
    return entries


def _is_distro_mirror(uri: str, options: dict[str, str]) -> bool:
    # third-party repositories (nodesource, cloud SDKs) seldom publish sources: asking for them breaks apt-get update
    segments = [s.lower() for s in uri.split("://", 1)[-1].split("/")[1:]]
    keyring = " ".join(v for k, v in options.items() if k.lower() == "signed-by").lower()
    return any(s.startswith(("debian", "ubuntu")) for s in segments) or any(
        name in keyring for name in ("debian-archive-keyring", "ubuntu-archive-keyring")
    )


# --- fetching the source -----------------------------------------------------------------------------------------


def source_versions(package: str) -> tuple[str, list[str]]:
    """The source package name and its versions known to apt, newest first."""
    result = subprocess.run(
        ["apt-cache", "showsrc", package], capture_output=True, text=True, errors="replace", check=False
    )
    records: list[tuple[str, str, list[str]]] = []
    for block in re.split(r"\n\s*\n", result.stdout if result.returncode == 0 else ""):
        fields = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", block, flags=re.MULTILINE))
        if "Package" in fields and "Version" in fields:
            binaries = [b.strip() for b in fields.get("Binary", "").split(",")]
            records.append((fields["Package"], fields["Version"], binaries))
    exact = [r for r in records if r[0] == package] or [r for r in records if package in r[2]]
    if not exact:
        return package, []
    source = exact[0][0]
    unique = {v for name, v, _b in exact if name == source}
    versions = sorted(unique, key=functools.cmp_to_key(_compare_versions), reverse=True)
    return source, versions


def _compare_versions(left: str, right: str) -> int:
    if left == right:
        return 0
    result = subprocess.run(["dpkg", "--compare-versions", left, "lt", right], check=False)
    return -1 if result.returncode == 0 else 1


def upstream_version(version: str) -> str:
    without_epoch = version.split(":", 1)[-1]
    return without_epoch.rsplit("-", 1)[0] if "-" in without_epoch else without_epoch


def installed_source(package: str) -> tuple[str, str] | None:
    """(source package, source version) of the installed binary package PKG, or None when it is not installed.

    A binNMU such as bc 1.07.1-3+b1 is a rebuild of source 1.07.1-3: dpkg records the source version apart.
    """
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}\t${source:Package}\t${source:Version}", package],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    status, _, rest = result.stdout.partition("\t")
    source, _, version = rest.partition("\t")
    if result.returncode != 0 or status.strip() != "installed" or not source or not version:
        return None
    return source.strip(), version.strip()


def choose_version(
    package: str, installed_version: str | None, available: list[str], upgrade: list[str] | None = None
) -> str:
    """The source version to build: exactly the installed one; raises naming both versions when apt lacks it.

    upgrade is the apt-get install arguments (`jq=V libjq1=V`) that would install binaries matching a source
    the mirror has; the refusal quotes them so the user can resolve it in one command.
    """
    if installed_version is None:
        if not available:
            raise CoverageBuildError(f"apt knows no source package for {package} (no deb-src entry for its mirror?)")
        return available[0]
    if installed_version in available:
        return installed_version
    if not available:
        raise CoverageBuildError(f"{package} {installed_version} is installed but apt knows no source for it")
    install = " ".join(upgrade or [f"{package}={available[0]}"])
    raise CoverageBuildError(
        f"{package} {installed_version} is installed but the mirror's sources offer {', '.join(available)}: "
        f"run `apt-get install {install}` and build again, or add a mirror with source {installed_version}"
    )


def matching_upgrade(source: str, available: list[str]) -> list[str] | None:
    """apt-get install arguments that bring every installed binary of SOURCE to the newest source version the
    mirror has both the source and those binaries of (jq and libjq1 move together); None when there is none."""
    listing = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${source:Package}\t${db:Status-Status}\n"],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    binaries = sorted(
        name
        for name, of, status in (line.split("\t") for line in listing.stdout.splitlines() if line.count("\t") == 2)
        if of == source and status == "installed"
    )
    if not binaries:
        return None
    # a binNMU (figlet 2.2.5-3+b1) is a rebuild of its source version (2.2.5-3)
    offered = [{re.sub(r"\+b\d+$", "", v): v for v in binary_versions(name)} for name in binaries]
    for version in available:
        if all(version in versions for versions in offered):
            return [f"{name}={versions[version]}" for name, versions in zip(binaries, offered, strict=True)]
    return None


def binary_versions(package: str) -> list[str]:
    """The versions of binary package PKG that apt can install."""
    result = subprocess.run(["apt-cache", "madison", package], capture_output=True, text=True, check=False)
    versions = []
    for line in result.stdout.splitlines():
        fields = [field.strip() for field in line.split("|")]
        if len(fields) == 3 and fields[0] == package and fields[2].endswith("Packages"):
            versions.append(fields[1])
    return versions


def fetch_source(runner: BuildRunner, source: str, version: str, out_dir: Path) -> Path:
    """Unpack source package SOURCE at exactly VERSION into out_dir; returns the unpacked tree.

    The source is fetched and unpacked in a staging directory first: an earlier build in out_dir (another
    version of the same upstream release unpacks to the same directory name) is replaced only once the new
    source is here, so a fetch that fails (a 404 on the mirror) leaves it whole."""
    name = f"{source}-{upstream_version(version)}"
    target = out_dir / name
    staging = out_dir / ".fetching"
    if staging.exists():
        shutil.rmtree(staging)  # a fetch interrupted before
    staging.mkdir()
    try:
        runner.say(f"apt-get source {source}={version}")
        result = runner.attempt(["apt-get", "source", f"{source}={version}"], cwd=staging)
        if result.returncode != 0 and re.search(r"^E: Failed to fetch \S+\s+404", result.stdout, flags=re.MULTILINE):
            raise runner.fail(
                f"the mirror lacks the source files of {source} {version} (404 Not Found)"
                f"{_other_versions(source, version)}"
            )
        if result.returncode != 0 or not (staging / name / "debian").is_dir():
            raise runner.fail(f"apt-get source {source}={version} failed: {last_error_line(result.stdout)}")
        # the new source is here: what out_dir held no longer describes it
        (out_dir / BUILD_JSON).unlink(missing_ok=True)
        if target.exists():
            shutil.rmtree(target)
        for fetched in staging.iterdir():  # the tree, and the .dsc and tarballs beside it
            destination = out_dir / fetched.name
            if destination.is_dir() and not destination.is_symlink():
                shutil.rmtree(destination)
            fetched.replace(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _other_versions(source: str, missing: str) -> str:
    """A hint naming the other source versions apt lists, with the apt-get install that would make one of them
    the installed version (a mirror may keep the files of an older point release and not of the newest)."""
    others = [version for version in source_versions(source)[1] if version != missing]
    upgrade = matching_upgrade(source, others) if others else None
    if not upgrade:
        return ""
    older = _compare_versions(upgrade[0].split("=", 1)[1].split("+b")[0], missing) < 0
    flag = "--allow-downgrades " if older else ""
    return f"; it also lists {', '.join(others)}: try `apt-get install {flag}{' '.join(upgrade)}` and build again"


def counter_files_written(
    exe: Path, arg_sets: list[list[str]], variable: str, value: str, pattern: str, library_path: str = ""
) -> list[str]:
    """Run an instrumented binary with `variable` set to `value` (its "{dir}" the run's own fresh directory),
    trying each argument list until one writes files matching `pattern` there; their names, or [].
    library_path, when given, is the LD_LIBRARY_PATH of the build's own libraries."""
    loader = {"LD_LIBRARY_PATH": library_path} if library_path else {}
    for args in arg_sets:
        with tempfile.TemporaryDirectory(prefix="twinbench-counters-") as tmp:
            env = {**os.environ, **loader, variable: value.format(dir=tmp)}
            try:
                subprocess.run(
                    [str(exe), *args], cwd=tmp, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30
                )
            except subprocess.TimeoutExpired:
                continue
            except OSError as exc:
                raise CoverageBuildError(f"{exe} cannot run: {exc}") from None
            written = sorted(path.name for path in Path(tmp).glob(pattern))
            if written:
                return written
    return []


def run_tool(argv: list[str], what: str) -> subprocess.CompletedProcess[str]:
    """Run a coverage tool (llvm-profdata, llvm-cov, go tool covdata); a failure is a CoverageBuildError naming
    `what` with the start of its stderr."""
    result = subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False)
    if result.returncode != 0:
        raise CoverageBuildError(f"{what} failed: {result.stderr.strip()[:300]}")
    return result
