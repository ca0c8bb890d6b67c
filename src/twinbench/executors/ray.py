"""The Ray executor: each unit a Ray task with its resource needs; inputs through the object store.

Ray's own retries are off (`max_retries=0`): the driver (`drive`) retries lost attempts itself, so that
it can count them and record the last reason, the same way for every executor.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from twinbench import __version__
from twinbench.executors.units import (
    SANDBOX_RESOURCE,
    ExecutorUnavailable,
    Unit,
    UnitFiles,
    UnitFunction,
    UnitOutcome,
    execute_unit,
    new_scratch,
    pack_dir,
    pack_path,
    remove_scratch,
    short_reason,
    unpack_tar,
)


def twinbench_version() -> str:
    """twinbench's version and the Python it runs on, as a driver and its workers must share them."""
    return f"twinbench {__version__} (Python {sys.version_info.major}.{sys.version_info.minor})"


# joining a cluster with token authentication (Ray's default since 2.5x) takes what `ray start --address` takes
TOKEN_HELP = (
    "RAY_AUTH_MODE=token, and the head's ~/.ray/auth_token copied here or RAY_AUTH_TOKEN set; "
    "https://docs.ray.io/en/latest/ray-security/token-auth.html"
)
# what one unit asks of the sandbox marker: a node with {"twinbench_sandbox": 1} takes as many units as its CPUs
SANDBOX_SHARE = 0.001


# an input on its way to a worker: ("path", str) readable there as it is, or ("tar", ObjectRef of pack_path)
Shipped = tuple[str, Any]


class WorkerVersionMismatch(Exception):
    """A worker's twinbench is not the driver's: units and their results would not mean the same thing."""


def run_on_worker(
    function: UnitFunction, payload: Any, shipped: dict[str, Shipped], driver_version: str = ""
) -> tuple[Any, bytes]:
    """The Ray task: unpack inputs into a scratch dir, run the unit, return its value and its out/ as a tar."""
    import ray

    if driver_version and driver_version != twinbench_version():
        # before anything runs: another version's grader or testgen would record results under this one's name
        node = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
        raise WorkerVersionMismatch(
            f"the worker on {node} runs {twinbench_version()}, the driver "
            f"{driver_version}: install the same twinbench (and Python) on every node"
        )
    scratch = new_scratch()
    try:
        inputs: dict[str, Path] = {}
        for name, (kind, value) in shipped.items():
            if kind == "path":
                inputs[name] = Path(value)
                continue
            data, base = ray.get(value)
            unpack_tar(data, scratch / "inputs" / name)
            inputs[name] = scratch / "inputs" / name / base
        result = execute_unit(function, payload, inputs, scratch, threading.Event())
        return result, pack_dir(scratch / "out")
    finally:
        remove_scratch(scratch)


class RayExecutor:
    """Units as Ray tasks on the cluster at `address` (None: RAY_ADDRESS, or a new one on this machine).

    Paths under one of `shared_dirs` are passed as they are (every node must see them at the same
    path); other inputs are packed once per path and put in the object store.
    """

    name = "ray"

    def __init__(self, address: str | None = None, shared_dirs: tuple[Path, ...] = ()) -> None:
        try:
            import ray
        except ImportError:
            raise ExecutorUnavailable("the ray executor needs Ray: pip install 'twinbench[ray]'") from None
        self._ray = ray
        if not ray.is_initialized():
            try:
                if address is None and not os.environ.get("RAY_ADDRESS"):
                    # a one-machine cluster: this machine runs sandboxes, so it gets the marker
                    ray.init(
                        resources={SANDBOX_RESOURCE: float(os.cpu_count() or 1)},
                        include_dashboard=False,
                        log_to_driver=False,
                        logging_level=logging.WARNING,
                    )
                else:
                    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ExecutorUnavailable(
                    f"cannot reach the Ray cluster at {address or os.environ.get('RAY_ADDRESS')}: {short_reason(exc)} "
                    f"(joining a cluster with token authentication takes {TOKEN_HELP})"
                ) from None
        if not ray.cluster_resources().get(SANDBOX_RESOURCE):  # type: ignore[no-untyped-call]
            raise ExecutorUnavailable(
                f"no node of the Ray cluster offers the {SANDBOX_RESOURCE} resource: start the nodes that can run "
                f"sandboxes with ray start --resources='{{\"{SANDBOX_RESOURCE}\": 1}}'"
            )
        self.shared_dirs = tuple(path.resolve() for path in shared_dirs)
        self._task = ray.remote(run_on_worker)
        self._shipped: dict[Path, Any] = {}
        self._pending: dict[Any, tuple[str, int]] = {}

    def submit(self, unit: Unit, attempt: int) -> None:
        """Start one attempt as a Ray task asking for the unit's CPUs, memory and the sandbox marker."""
        needs = unit.resources
        options: dict[str, Any] = {"num_cpus": needs.cpus, "max_retries": 0, "retry_exceptions": False}
        if needs.memory_mb:
            options["memory"] = needs.memory_mb * 1024 * 1024
        if needs.sandbox:
            options["resources"] = {SANDBOX_RESOURCE: SANDBOX_SHARE}
        shipped = {name: self._ship(path) for name, path in unit.inputs.items()}
        reference = self._task.options(**options).remote(unit.function, unit.payload, shipped, twinbench_version())
        self._pending[reference] = (unit.key, attempt)

    def gather(self) -> Iterator[UnitOutcome]:
        """Outcomes as Ray tasks finish; a dead worker or node, an OOM kill or an exception is that attempt's error."""
        ray = self._ray
        while self._pending:
            ready, _ = ray.wait(list(self._pending), num_returns=1)
            for reference in ready:
                key, attempt = self._pending.pop(reference)
                try:
                    value, tar = ray.get(reference)
                except ray.exceptions.TaskCancelledError:
                    yield UnitOutcome(key=key, attempt=attempt, error="cancelled by an interrupt", cancelled=True)
                except ray.exceptions.RayError as exc:
                    yield UnitOutcome(key=key, attempt=attempt, error=_ray_reason(exc))
                else:
                    yield UnitOutcome(key=key, attempt=attempt, value=value, files=UnitFiles(tar=tar))

    def interrupt(self) -> int:
        """Cancel every pending task (a running one gets KeyboardInterrupt); returns how many were pending."""
        for reference in self._pending:
            self._ray.cancel(reference)
        return len(self._pending)

    def close(self) -> None:
        """Forget shipped inputs; the connection to the cluster stays for the process (ray.shutdown ends it)."""
        self._shipped.clear()

    def _ship(self, path: Path) -> Shipped:
        resolved = path.resolve()
        if any(resolved.is_relative_to(shared) for shared in self.shared_dirs):
            return ("path", str(resolved))
        if resolved not in self._shipped:
            self._shipped[resolved] = self._ray.put((pack_path(resolved), resolved.name))
        return ("tar", self._shipped[resolved])


def _ray_reason(exc: BaseException) -> str:
    """Why an attempt was lost, in one line: the unit's own exception, or what Ray says happened to its worker."""
    ray_exceptions = __import__("ray").exceptions
    if isinstance(exc, ray_exceptions.RayTaskError):
        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
        return short_reason(cause)
    if isinstance(exc, ray_exceptions.OutOfMemoryError):
        return "the worker was killed for lack of memory (Ray's memory monitor): " + short_reason(exc)[:200]
    if isinstance(exc, ray_exceptions.NodeDiedError):
        return "the node running it died: " + short_reason(exc)[:200]
    if isinstance(exc, ray_exceptions.WorkerCrashedError):
        return "its worker process died (killed or crashed): " + short_reason(exc)[:200]
    return short_reason(exc)
