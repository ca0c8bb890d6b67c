"""Making a task directory from a real program: task.yaml, docs/, cli_model.json and an empty tests/."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from pydantic import ValidationError

from twinbench.formats import FormatError, ReferenceSpec, Task, TaskDir, load_task, save_task
from twinbench.reference.debian import (
    ReferenceError,
    hidden_paths_for,
    package_files,
    package_owning,
    resolve_binary,
)
from twinbench.reference.docmodel import mine_named_docs
from twinbench.reference.docs import gather_docs

CLI_MODEL_FILE = "cli_model.json"
# where a package's commands live, in the order a default binary is looked for
COMMAND_DIRS = (Path("/usr/bin"), Path("/bin"), Path("/usr/games"), Path("/usr/sbin"), Path("/sbin"))
COMMAND_PATH = os.pathsep.join(str(directory) for directory in COMMAND_DIRS)


def create_task(
    name: str,
    out_dir: Path,
    *,
    debian: str | None = None,
    binary: str | None = None,
    binary_path: Path | None = None,
    docs: Path | None = None,
) -> TaskDir:
    """Create a task directory for a Debian package's program (or any executable); errors are FormatErrors."""
    if (debian is None) == (binary_path is None):
        raise FormatError("give exactly one of a Debian package or a binary path")
    if binary is not None and debian is None:
        raise FormatError("a binary name is only used with a Debian package; give the binary path instead")
    _check_task_name(name)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FormatError(f"{out_dir} already exists and is not empty")
    if docs is not None and not docs.exists():
        raise FormatError(f"extra docs {docs} do not exist")

    if debian is not None:
        reference, run_path = _debian_reference(debian, binary)
    elif binary_path is not None:
        reference, run_path = _path_reference(binary_path)
    else:  # unreachable: checked above that exactly one is given; this keeps the types honest
        raise FormatError("give exactly one of a Debian package or a binary path")

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tests").mkdir()
    doc_names = gather_docs(run_path, reference.debian_package, out_dir / "docs", docs)
    texts = {doc_name: _read_text(out_dir / doc_name) for doc_name in doc_names}
    cli_model = mine_named_docs(run_path.name, {name: text for name, text in texts.items() if text is not None})
    (out_dir / CLI_MODEL_FILE).write_text(cli_model.model_dump_json(indent=2) + "\n", encoding="utf-8")
    task = Task(
        id=name,
        description=_description(cli_model.summary, reference.debian_package),
        reference=reference,
        docs=doc_names,
    )
    save_task(task, out_dir)
    return load_task(out_dir)


def _check_task_name(name: str) -> None:
    try:
        Task(id=name, reference=ReferenceSpec(binary="placeholder"))
    except ValidationError:
        raise FormatError(f"task name {name!r} is not valid: use letters, digits, '.', '_' and '-'") from None


def _debian_reference(package: str, binary: str | None) -> tuple[ReferenceSpec, Path]:
    """The reference spec for a package's program, and the path to run it by (its command name kept)."""
    if not _is_installed(package):
        raise FormatError(f"package {package} is not installed; apt-get install {package}")
    command = binary if binary is not None else _default_binary(package)
    try:
        resolved = resolve_binary(command)
    except ReferenceError as exc:
        raise FormatError(str(exc)) from None
    run_path = Path(command) if "/" in command else Path(shutil.which(command) or resolved)
    recorded = command if "/" in command else _command_name_for(resolved, command)
    spec = ReferenceSpec(debian_package=package, binary=recorded)
    # list the files now, so the sandbox can hide them even on a machine whose dpkg database differs
    spec.hidden_paths = [str(path) for path in hidden_paths_for(spec)]
    return spec, run_path.absolute()


def _path_reference(binary_path: Path) -> tuple[ReferenceSpec, Path]:
    try:
        resolved = resolve_binary(str(binary_path.absolute()))
    except ReferenceError as exc:
        raise FormatError(str(exc)) from None
    package = package_owning(str(resolved)) or package_owning(str(binary_path.absolute()))
    spec = ReferenceSpec(debian_package=package, binary=str(resolved), hidden_paths=[str(resolved)])
    if package is not None:
        spec.hidden_paths = [str(path) for path in hidden_paths_for(spec)]
    return spec, binary_path.absolute()


def _default_binary(package: str) -> str:
    """The package's name if that is one of its commands, else the first executable it installs."""
    files = set(package_files(package))
    found = shutil.which(package, path=COMMAND_PATH)
    if found is not None and (Path(found) in files or Path(found).resolve() in files):
        return package
    for directory in COMMAND_DIRS:
        for path in sorted(files):
            if path.parent == directory and path.is_file() and os.access(path, os.X_OK):
                return _command_name_for(path.resolve(), path.name)
    raise FormatError(f"package {package} installs no program in {', '.join(str(d) for d in COMMAND_DIRS)}")


def _command_name_for(resolved: Path, name: str) -> str:
    """`name` if it finds this very file on PATH, else the absolute path (so a later lookup cannot drift)."""
    found = shutil.which(name)
    return name if found is not None and Path(found).resolve() == resolved else str(resolved)


def _is_installed(package: str) -> bool:
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f", "${db:Status-Status}", package],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == "installed"


def _package_version(package: str) -> str:
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _description(summary: str, package: str | None) -> str:
    if package is None:
        return summary
    origin = f"Debian package {package} {_package_version(package)}".strip()
    return f"{summary} ({origin})" if summary else origin


def _read_text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return None if b"\0" in data[:8192] else data.decode("utf-8", errors="replace")
