"""Finding a reference program: its binary, the files to hide from candidates, and its docs."""

from twinbench.reference.debian import (
    ReferenceError,
    hidden_paths_for,
    package_files,
    package_owning,
    resolve_binary,
    sibling_packages,
    stage_reference,
)

__all__ = [
    "ReferenceError",
    "hidden_paths_for",
    "package_files",
    "package_owning",
    "resolve_binary",
    "sibling_packages",
    "stage_reference",
]
