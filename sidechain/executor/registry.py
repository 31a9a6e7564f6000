"""Executors by name, for the CLI (`--executor sequential|parallel|both`), replay and bench.

An executor is a class `Executor(chain_id, forks, **options)` implementing `BlockExecutorAPI`,
found at "module:Class"; a listed executor whose module is missing is reported as not
available instead of failing on an import.
"""

import importlib
import inspect
from typing import Any

from sidechain.executor.abc import BlockExecutorAPI
from sidechain.executor.errors import ExecutorUnavailable
from sidechain.executor.forks import SLUICE_FORKS, ForkSchedule

EXECUTORS = {
    "sequential": "sidechain.executor.sequential:SequentialExecutor",
    "parallel": "sidechain.executor.parallel:ParallelExecutor",
}
CHOICES = (*EXECUTORS, "both")


def executor_names(choice: str) -> tuple[str, ...]:
    """The executors a `--executor` choice runs, each checked to be available."""
    names = tuple(EXECUTORS) if choice == "both" else (choice,)
    for name in names:
        executor_class(name)
    return names


def executor_class(name: str) -> type[BlockExecutorAPI]:
    if name not in EXECUTORS:
        raise ExecutorUnavailable(name, tuple(EXECUTORS))
    module_name, class_name = EXECUTORS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise ExecutorUnavailable(name, _available()) from error
    return getattr(module, class_name)  # type: ignore[no-any-return]


def make_executor(
    name: str, chain_id: int, forks: ForkSchedule = SLUICE_FORKS, **options: Any
) -> BlockExecutorAPI:
    """A new executor; each option (`workers`, `store_path`...) goes to the executor only if
    its constructor takes it, so callers pass one set of options to every executor."""
    cls = executor_class(name)
    accepted = inspect.signature(cls.__init__).parameters
    taken = {key: value for key, value in options.items() if key in accepted}
    return cls(chain_id, forks, **taken)  # type: ignore[call-arg]


def _available() -> tuple[str, ...]:
    available = []
    for name, target in EXECUTORS.items():
        try:
            importlib.import_module(target.split(":")[0])
        except ModuleNotFoundError:
            continue
        available.append(name)
    return tuple(available)
