"""`twinbench collection install`: every reference of a collection apt-installed at its pinned version."""

from __future__ import annotations

import shlex
import subprocess
from typing import Literal

from pydantic import BaseModel

from twinbench.collection.manifest import Manifest
from twinbench.reference.coverage.apt import apt_prefix

PackageState = Literal["installed", "to_install", "unavailable"]
APT_TIMEOUT_S = 60


class PackagePlan(BaseModel):
    """What install does for one pinned package, and why."""

    package: str
    version: str
    state: PackageState
    installed_version: str | None = None
    reason: str = ""


class InstallPlan(BaseModel):
    """The whole collection's packages, and the one apt-get command that installs those it can."""

    packages: list[PackagePlan]
    command: list[str]

    @property
    def unavailable(self) -> list[PackagePlan]:
        """Packages apt cannot install at the pinned version."""
        return [plan for plan in self.packages if plan.state == "unavailable"]

    def shell_command(self) -> str:
        """The apt-get command as one shell line (empty when nothing is to install)."""
        return shlex.join(self.command) if self.command else ""


def installed_version(package: str) -> str | None:
    """The installed version of a Debian package, or None when it is not installed."""
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}", package],
            capture_output=True,
            text=True,
            timeout=APT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    status, _, version = result.stdout.strip().partition(" ")
    return version if result.returncode == 0 and status == "installed" and version else None


def available_versions(packages: list[str]) -> dict[str, list[str]]:
    """The binary versions apt's lists offer for each package (sources excluded), from one apt-cache call
    (it reads the whole package cache each time it starts)."""
    found: dict[str, list[str]] = {package: [] for package in packages}
    if not packages:
        return found
    try:
        result = subprocess.run(
            ["apt-cache", "madison", *packages], capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return found
    for line in result.stdout.splitlines():
        fields = [field.strip() for field in line.split("|")]
        binary = len(fields) == 3 and fields[0] in found and not fields[2].endswith(" Sources")
        if binary and fields[1] not in found[fields[0]]:
            found[fields[0]].append(fields[1])
    return found


def plan_install(manifest: Manifest) -> InstallPlan:
    """For each package of the manifest: already installed, installable at its version, or why not."""
    current = {entry.package: installed_version(entry.package) for entry in manifest.tasks}
    missing = sorted({entry.package for entry in manifest.tasks if current[entry.package] != entry.version})
    offered = available_versions(missing)
    plans: list[PackagePlan] = []
    pins: dict[str, str] = {}
    for entry in manifest.tasks:
        if entry.package in pins:
            if pins[entry.package] != entry.version:
                plans.append(
                    PackagePlan(
                        package=entry.package,
                        version=entry.version,
                        state="unavailable",
                        reason=f"task {entry.id} pins {entry.version}, another task pins {pins[entry.package]}",
                    )
                )
            continue
        pins[entry.package] = entry.version
        plans.append(
            _plan_package(entry.package, entry.version, current[entry.package], offered.get(entry.package, []))
        )
    wanted = [f"{plan.package}={plan.version}" for plan in plans if plan.state == "to_install"]
    command = [*apt_prefix(), "apt-get", "install", "-y", "--no-install-recommends", "--allow-downgrades", *wanted]
    return InstallPlan(packages=plans, command=command if wanted else [])


def _plan_package(package: str, version: str, current: str | None, offered: list[str]) -> PackagePlan:
    if current == version:
        return PackagePlan(package=package, version=version, state="installed", installed_version=current)
    if version in offered:
        return PackagePlan(package=package, version=version, state="to_install", installed_version=current)
    reason = (
        f"apt's lists offer {', '.join(offered)}, not {version}"
        if offered
        else "apt's lists have no such package (apt-get update? another release?)"
    )
    return PackagePlan(package=package, version=version, state="unavailable", installed_version=current, reason=reason)


def run_install(plan: InstallPlan) -> tuple[int, str]:
    """Run the plan's apt-get command; its exit status and the last line of its output."""
    if not plan.command:
        return 0, "nothing to install"
    try:
        result = subprocess.run(plan.command, capture_output=True, text=True, check=False, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return result.returncode, lines[-1] if lines else ""
