"""Collections: a manifest of pinned Debian programs, built into compact task directories and checked.

Modules: `manifest` (collection.yaml), `compact` (suite.jsonl.gz and content-addressed files), `build` (the
per-task unit and its local runner), `check`, `info` and `install` (apt-get at the pinned versions).
"""

from twinbench.collection.build import (
    BuildSettings,
    BuildStamp,
    TaskBuildResult,
    build_collection,
    build_task,
    rebuild_reason,
    run_units,
)
from twinbench.collection.check import CheckSettings, CollectionCheck, TaskCheck, check_collection, check_task
from twinbench.collection.compact import CompactionReport, compact_task_dir
from twinbench.collection.info import TaskInfo, collection_info, task_info
from twinbench.collection.install import InstallPlan, PackagePlan, plan_install, run_install
from twinbench.collection.manifest import MANIFEST_FILE, Manifest, TaskEntry, load_manifest, manifest_path

__all__ = [
    "MANIFEST_FILE",
    "BuildSettings",
    "BuildStamp",
    "CheckSettings",
    "CollectionCheck",
    "CompactionReport",
    "InstallPlan",
    "Manifest",
    "PackagePlan",
    "TaskBuildResult",
    "TaskCheck",
    "TaskEntry",
    "TaskInfo",
    "build_collection",
    "build_task",
    "check_collection",
    "check_task",
    "collection_info",
    "compact_task_dir",
    "load_manifest",
    "manifest_path",
    "plan_install",
    "rebuild_reason",
    "run_install",
    "run_units",
    "task_info",
]
