"""The batch folder: plan, per-task state, each task's own work folder, and GenoTEX's layout.

```
<batch>/plan.json                 the questions and the task graph (written at every start)
<batch>/inputs/task_info.json     the batch's copy of the task file (what every task reads)
<batch>/state/<key16>.json        one task's state: running | done | insufficient_data | failed
<batch>/tasks/<key16>/work/       the engine's output folder for that task (redone each attempt)
<batch>/preprocess/<Trait>/...    GenoTEX's layout, shared by every question (published by tasks)
<batch>/regress/<Trait>/...
<batch>/summary.json              answered / insufficient data / failed, with reasons
<batch>/scores.csv, scores.md     per-question GenoTEX metrics (with --reference)
```

State files are written atomically (a reader sees the old or the new one, never half), by the
driver alone, so a kill -9 at any moment leaves each task either finished (and skipped on
--resume) or not (and run again). `key16` is the content key's first 16 hex digits; the state
file holds the whole key and is trusted only when it matches.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import atomic_write_json

FINISHED = ("done", "insufficient_data")  # --resume skips these; failed and running are redone


class BatchFolder:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    @property
    def plan_path(self) -> Path:
        return self.root / "plan.json"

    @property
    def summary_path(self) -> Path:
        return self.root / "summary.json"

    def task_dir(self, key: str) -> Path:
        return self.root / "tasks" / key[:16]

    def work_dir(self, key: str) -> Path:
        return self.task_dir(key) / "work"

    def state_path(self, key: str) -> Path:
        return self.root / "state" / f"{key[:16]}.json"

    def read_state(self, key: str) -> dict[str, Any] | None:
        """A task's state, or None when it has none (never run, or a state left by other work)."""
        path = self.state_path(key)
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # damaged: the task is simply run again
            return None
        return state if isinstance(state, dict) and state.get("key") == key else None

    def write_state(self, key: str, state: dict[str, Any]) -> None:
        atomic_write_json(self.state_path(key), {**state, "key": key})

    def finished(self, key: str) -> bool:
        """Done or insufficient data, not partial, and its work folder still there (a question
        gathers its cohorts from their tasks' folders)."""
        state = self.read_state(key)
        return (
            bool(state)
            and state.get("status") in FINISHED
            and not state.get("partial")
            and self.work_dir(key).is_dir()
        )

    def holds_other_work(self) -> bool:
        """Whether the folder has contents that are not a batch's (a wrong --output)."""
        if not self.root.exists() or self.plan_path.is_file():
            return False
        ours = {".batch.lock", "inputs"}  # what a start leaves before its plan is written
        return any(entry.name not in ours for entry in self.root.iterdir())

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """One driver per batch folder at a time (released by the kernel when the driver dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".batch.lock", "a+") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                raise GenoteamError(
                    f"another genoteam batch is running in {self.root}",
                    "wait for it to finish (or stop it), then run with --resume",
                ) from error
            try:
                os.ftruncate(handle.fileno(), 0)
                os.write(handle.fileno(), f"{os.getpid()}\n".encode())
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
