"""Rust mutants: the coverage build's own rustc invocations, replayed on a mutated copy of the crate.

A Debian Rust package is built by cargo through dh-cargo, which always runs cargo with `--verbose
--verbose`, so the build log holds every rustc command line with its environment (`Running \\`...\\``).
cargo cannot reuse the coverage build's target dir from a copy of the tree (its fingerprints change with the
tree's path, and a fresh build of every dependency takes half an hour), so a mutant is built the way cargo
would rebuild it incrementally: only the units of the program's own crates (crate roots inside the source
tree, not the vendored `debian/cargo_registry`) are compiled again, in order, against the dependencies'
rlibs the coverage build already made. The replay drops `-C instrument-coverage` (a mutant needs no
counters), writes no debug info and does not optimize (see REPLAY_CODEGEN), so two replays are
byte-identical only when the compiler made the same code of both.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.reference.coverage import CoverageBuildError

RUSTC_TIMEOUT_S = 1800
REPLAY_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # the distribution's rustc and linker, as dpkg-buildpackage ran them
# A release build's crate takes minutes to optimize on a small machine (ripgrep's: over 8 on 2 busy cores);
# unoptimized, with the release's assertions and overflow semantics kept, it takes well under one
REPLACED_CODEGEN = ("incremental=", "debuginfo=", "opt-level=", "debug-assertions=", "overflow-checks=")
REPLAY_CODEGEN = ("-C", "debuginfo=0", "-C", "opt-level=0", "-C", "debug-assertions=off", "-C", "overflow-checks=off")
_RUNNING = re.compile(r"Running `(.*?)`", re.S)
_ENV_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
SKIPPED_TREES = ("target", "debian", ".git", ".pc")


class RustcUnit(BaseModel):
    """One rustc run of the coverage build, for a crate of the program's own."""

    crate_name: str
    crate_root: str = Field(description="the crate's root file, relative to the source tree")
    env: dict[str, str] = Field(default_factory=dict)
    args: list[str] = Field(description="rustc's arguments as the build ran them")
    output: str = Field(description="the artifact the build wrote: out-dir/[lib]name+extra-filename[.rlib]")

    @property
    def is_binary(self) -> bool:
        return _option(self.args, "--crate-type") == "bin"


def rustc_units(log_text: str, source_dir: Path) -> list[RustcUnit]:
    """The rustc runs of a cargo build log (`cargo -vv`) that compiled crates of `source_dir` itself, in order.

    Build scripts are left out: their outputs (OUT_DIR) stay where the coverage build left them."""
    units: list[RustcUnit] = []
    seen: set[str] = set()
    for match in _RUNNING.finditer(log_text):
        try:
            words = shlex.split(match.group(1))
        except ValueError:
            continue
        env: dict[str, str] = {}
        while words and _ENV_WORD.match(words[0]):
            name, value = words.pop(0).split("=", 1)
            env[name] = value
        if not words or Path(words[0]).name != "rustc":
            continue
        args = words[1:]
        crate_name = _option(args, "--crate-name")
        root = next((arg for arg in args if arg.endswith(".rs") and not arg.startswith("-")), None)
        out_dir = _option(args, "--out-dir")
        if crate_name is None or root is None or out_dir is None or crate_name.startswith("build_script_"):
            continue
        relative = _inside(source_dir, Path(env.get("PWD", str(source_dir))) / root)
        if relative is None or relative.parts[0] in SKIPPED_TREES:
            continue
        extra = _codegen(args, "extra-filename") or ""
        file = f"{crate_name}{extra}" if _option(args, "--crate-type") == "bin" else f"lib{crate_name}{extra}.rlib"
        output = str(Path(out_dir) / file)
        if output in seen:
            continue
        seen.add(output)
        units.append(RustcUnit(crate_name=crate_name, crate_root=str(relative), env=env, args=args, output=output))
    return units


def binary_unit(units: list[RustcUnit], binary_name: str) -> RustcUnit:
    """The unit that links the program's executable: the binary crate named like it, else the only one."""
    binaries = [unit for unit in units if unit.is_binary]
    wanted = binary_name.replace("-", "_")
    for unit in binaries:
        if unit.crate_name == wanted:
            return unit
    if len(binaries) == 1:
        return binaries[0]
    names = ", ".join(unit.crate_name for unit in binaries) or "none"
    raise CoverageBuildError(f"the build log names no binary crate for {binary_name} (binary crates: {names})")


class RustcReplay:
    """Rebuilds the program's own crates from a private copy of their sources (see the module's docstring)."""

    def __init__(self, source_dir: Path, units: list[RustcUnit], binary_name: str, root: Path) -> None:
        self.source_dir = source_dir
        self.units = units
        self.final = binary_unit(units, binary_name)
        self.root = root
        self.tree = root / "tree"

    def build(self, file: str, content: bytes, into: Path) -> tuple[Path | None, bytes]:
        """The executable built with `file` holding `content` (its other sources as in the coverage build),
        in the directory `into`; None and the compiler's last words when it does not build."""
        self._ensure_tree()
        source = self.tree / file
        original = (self.source_dir / file).read_bytes()  # not the copy's, which a killed build left mutated
        into.mkdir(parents=True, exist_ok=True)
        outputs: dict[str, str] = {}
        try:
            # every own source as in the coverage build, then the one mutation
            self._restore_sources()
            source.write_bytes(content)
            for unit in self.units:
                args = self._replayed_args(unit, into, outputs)
                env = {**os.environ, **unit.env, "PATH": REPLAY_PATH, "PWD": str(self.tree)}
                env.pop("RUSTFLAGS", None)
                result = subprocess.run(
                    ["rustc", *args],
                    cwd=self.tree,
                    env=env,
                    capture_output=True,
                    timeout=RUSTC_TIMEOUT_S,
                    check=False,
                )
                if result.returncode != 0:
                    return None, result.stderr[-4000:]
                outputs[unit.output] = str(into / Path(unit.output).name)
                if unit is self.final:
                    break
        except (subprocess.TimeoutExpired, OSError) as exc:
            return None, f"rustc did not run to the end: {exc}".encode()
        finally:
            source.write_bytes(original)
        built = Path(outputs.get(self.final.output, into / "missing"))
        return (built, b"") if built.is_file() else (None, b"rustc wrote no executable")

    def _restore_sources(self) -> None:
        for name, original in self._originals().items():
            copy = self.tree / name
            if copy.read_bytes() != original:
                copy.write_bytes(original)

    def _originals(self) -> dict[str, bytes]:
        roots = {Path(unit.crate_root).parent for unit in self.units}
        return {
            str(path.relative_to(self.source_dir)): path.read_bytes()
            for root in roots
            for path in sorted((self.source_dir / root).rglob("*.rs"))
            if (self.tree / path.relative_to(self.source_dir)).is_file()
        }

    def _replayed_args(self, unit: RustcUnit, into: Path, outputs: dict[str, str]) -> list[str]:
        """The unit's arguments writing into `into`, linking the replayed own crates, without counters."""
        args: list[str] = []
        words = iter(unit.args)
        for word in words:
            if word == "--out-dir":
                next(words, None)
                args += ["--out-dir", str(into)]
            elif word == "--extern":
                name, _, path = next(words, "").partition("=")
                args += ["--extern", f"{name}={outputs.get(path, path)}" if path else name]
            elif word == "-C":
                value = next(words, "")
                # counters, incremental state and debug info are left out; what the code does is not
                if value == "instrument-coverage" or value.startswith(REPLACED_CODEGEN):
                    continue
                args += ["-C", value]
            elif word == unit.crate_root or (word.endswith(".rs") and not word.startswith("-")):
                args.append(unit.crate_root)
            else:
                args.append(word)
        return [*args, *REPLAY_CODEGEN, "-L", f"dependency={into}"]

    def _ensure_tree(self) -> None:
        ready = self.root / "tree.ready"
        if ready.exists() and self.tree.is_dir():
            return
        if self.tree.exists():
            shutil.rmtree(self.tree)
        self.root.mkdir(parents=True, exist_ok=True)
        top = str(self.source_dir)

        def left_out(directory: str, names: list[str]) -> list[str]:
            # build outputs and packaging, at the top of the tree only (a crate may have a debian/ module)
            return [name for name in names if name in SKIPPED_TREES] if directory == top else []

        shutil.copytree(self.source_dir, self.tree, symlinks=True, ignore=left_out)
        ready.write_text("ok")


def _option(args: list[str], name: str) -> str | None:
    for index, word in enumerate(args):
        if word == name and index + 1 < len(args):
            return args[index + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def _codegen(args: list[str], name: str) -> str | None:
    for index, word in enumerate(args):
        value = args[index + 1] if word == "-C" and index + 1 < len(args) else word[2:] if word.startswith("-C") else ""
        if value.startswith(name + "="):
            return value.split("=", 1)[1]
    return None


def _inside(source_dir: Path, path: Path) -> Path | None:
    try:
        return Path(os.path.normpath(path)).relative_to(source_dir)
    except ValueError:
        return None
