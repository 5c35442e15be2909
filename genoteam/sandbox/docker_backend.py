"""The Docker backend: one hardened container per kernel, talked to over its attach socket.

Why the kernel is the container's main process (under Docker's init): when the kernel dies,
the container stops, so Docker itself records why (State.OOMKilled, the exit code), and killing
the container on a timeout stops every process the cell started, not just the kernel. A restart
is a new container from the same image, with the same mounts and limits.
"""

from __future__ import annotations

import datetime
import grp
import logging
import os
import pwd
import threading
import time
from pathlib import Path
from typing import Any

from genoteam.sandbox import hostfs, lifecycle
from genoteam.sandbox import image as sandbox_image
from genoteam.sandbox.api import CellStatus, SandboxLimits, SessionSpec
from genoteam.sandbox.pool import Slot
from genoteam.sandbox.session import KernelSession
from genoteam.sandbox.transport import DockerAttachTransport, KernelConnection
from genoteam.toolkit.errors import GenoteamError

log = logging.getLogger(__name__)

WORK_PATH = "/work"
INPUT_ROOT = "/input"
# Who the kernel runs as when the host is root: a high id that no host account or group uses, so
# files it leaves on the host belong to nobody (GENOTEAM_SANDBOX_UID overrides; checked unused).
DEFAULT_SANDBOX_UID = 1_879_000
CONTROL_TIMEOUT_S = 15  # kill/remove calls: never wait on the engine longer than this
KERNEL_COMMAND = ["python3", "-u", "/opt/genoteam/kernel.py"]

_leftovers_checked = False
_leftovers_lock = threading.Lock()


def docker_client(timeout_s: int = 120) -> Any:
    """A docker-py client, or a clear error when no engine answers."""
    try:
        import docker

        client = docker.from_env(timeout=timeout_s)
        client.ping()
        return client
    except Exception as error:
        raise GenoteamError(
            f"no Docker engine answers ({type(error).__name__}: {error})",
            "start Docker (as root: `bash scripts/setup.d/20-docker-engine.sh`), or use backend='local' "
            "(not a security boundary)",
        ) from error


def engine_answers() -> bool:
    try:
        docker_client(timeout_s=5)
        return True
    except GenoteamError:
        return False


def remove_leftovers_once(client: Any) -> list[str]:
    """At this process's first Docker session: remove containers of owners that are gone."""
    global _leftovers_checked
    with _leftovers_lock:
        if _leftovers_checked:
            return []
        _leftovers_checked = True
    return lifecycle.remove_leftovers(client)


def sandbox_user() -> tuple[int, int]:
    """Run as the host user when it is not root (its files stay its own), else as a high uid/gid
    that no host account or group has (checked: an id in use is refused with what to do)."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    uid = int(os.environ.get("GENOTEAM_SANDBOX_UID") or DEFAULT_SANDBOX_UID)
    for lookup, what in ((pwd.getpwuid, "account"), (grp.getgrgid, "group")):
        try:
            entry = lookup(uid)
        except KeyError:
            continue
        raise GenoteamError(
            f"the sandbox id {uid} belongs to the host {what} {entry[0]!r}",
            "set GENOTEAM_SANDBOX_UID to an id no host account or group uses",
        )
    return uid, uid


def container_options(
    limits: SandboxLimits, image: str, mounts: list[tuple[str, Path, bool]], user: tuple[int, int]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The hardened configuration: (create_container keywords, create_host_config keywords)."""
    uid, gid = user
    threads = str(max(1, int(limits.cpus)))
    create = {
        "image": image,
        "command": KERNEL_COMMAND,
        "user": f"{uid}:{gid}",
        "working_dir": WORK_PATH,
        "stdin_open": True,
        "detach": False,  # with stdin_open: StdinOnce, so the kernel sees end of input when its host goes away
        "tty": False,
        "use_config_proxy": False,  # never hand the client's proxy settings to analysis code
        "environment": {
            "HOME": "/tmp",
            "MPLCONFIGDIR": "/tmp/.matplotlib",
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "GENOTEAM_WORK": WORK_PATH,
        },
        "volumes": [path for path, _host, _writable in mounts],
    }
    host = {
        "init": True,
        "network_mode": "bridge" if limits.network else "none",
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={limits.tmpfs_size},mode=1777"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "pids_limit": limits.pids,
        "mem_limit": limits.memory,
        "memswap_limit": limits.memory,  # equal: no swap, so a memory bomb ends instead of thrashing
        "nano_cpus": int(limits.cpus * 1e9),
        "ulimits": [{"Name": "core", "Soft": 0, "Hard": 0}],
        # the protocol goes through attach, never into log files
        "log_config": {"Type": "none", "Config": {}},
        "binds": {
            str(host): {"bind": path, "mode": "rw" if writable else "ro"} for path, host, writable in mounts
        },
    }
    return create, host


class DockerSession(KernelSession):
    backend = "docker"

    def __init__(
        self, spec: SessionSpec, client: Any | None = None, slot: Slot | None = None, image: str | None = None
    ) -> None:
        super().__init__(spec, slot)
        self.client = client or docker_client()
        self.image = self.client.images.get(image) if image else sandbox_image.find_image(self.client)
        self.container: Any = None
        self._control_client: Any = None
        self._started_at = ""
        self.user = sandbox_user()
        work = Path(spec.work_dir).resolve()
        work.mkdir(parents=True, exist_ok=True)
        for sub in spec.writable_subdirs:
            if "/" in sub or sub in {"", ".", ".."}:
                raise GenoteamError(f"work subfolder {sub!r} cannot be a folder name", "use plain names")
            (work / sub).mkdir(exist_ok=True)
        if os.getuid() == 0:
            for _path, folder, writable in self._mounts():
                if writable:
                    hostfs.chown_tree(folder, *self.user)
        for name, folder in spec.input_dirs.items():
            if "/" in name or name in {"", ".", ".."}:
                raise GenoteamError(
                    f"input name {name!r} cannot be a folder name", "use a plain name like 'geo'"
                )
            if not Path(folder).is_dir():
                raise GenoteamError(
                    f"input folder {folder} ({name}) does not exist", "pass existing folders as inputs"
                )

    @property
    def work_path(self) -> str:
        return WORK_PATH

    def _mounts(self) -> list[tuple[str, Path, bool]]:
        work = Path(self.spec.work_dir).resolve()
        subs = self.spec.writable_subdirs
        mounts = [(f"{WORK_PATH}/{sub}", work / sub, True) for sub in subs] or [(WORK_PATH, work, True)]
        for name, folder in self.spec.input_dirs.items():
            mounts.append((f"{INPUT_ROOT}/{name}", Path(folder).resolve(), False))
        return mounts

    def _sandbox_input_path(self, name: str) -> str:
        return f"{INPUT_ROOT}/{name}"

    def _hand_over(self, path: Path) -> None:
        if os.getuid() == 0:
            os.chown(path, *self.user, follow_symlinks=False)

    def _launch(self) -> KernelConnection:
        create, host = container_options(self.spec.limits, self.image.id, self._mounts(), self.user)
        name = f"genoteam-{self.spec.task_id or 'task'}-{self.session_id[:8]}-{self.generation}"
        name = "".join(ch if ch.isalnum() or ch in "_.-" else "-" for ch in name)[:120]
        self._started_at = datetime.datetime.now(datetime.UTC).isoformat()
        created = self.client.api.create_container(
            name=name,
            labels=lifecycle.labels_for(self.spec.job_id, self.session_id, self.spec.task_id, self.node),
            host_config=self.client.api.create_host_config(**host),
            **create,
        )
        self.container = self.client.containers.get(created["Id"])
        raw = self.client.api.attach_socket(
            self.container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        )
        self.container.start()
        return KernelConnection(DockerAttachTransport(raw))

    def _control(self) -> Any:
        """A client with a short timeout for kill/remove, so stopping never hangs on the engine."""
        if self._control_client is None:
            self._control_client = docker_client(timeout_s=CONTROL_TIMEOUT_S)
        return self._control_client

    def _kill(self) -> None:
        container = self.container
        if container is None:
            return
        try:
            self._control().api.kill(container.id)
        except Exception as error:  # not running any more: that is what we want
            log.debug("kill %s: %s", container.name, error)

    def _why_dead(self) -> tuple[CellStatus, str]:
        state = self._wait_state()
        exit_code = state.get("ExitCode")
        if state.get("OOMKilled") or self._oom_event_seen():
            return CellStatus.out_of_memory, (
                f"the kernel was killed for using more than the session's memory limit ({self.spec.limits.memory})"
            )
        return (
            CellStatus.killed,
            f"the kernel died (exit code {exit_code}, {state.get('Error') or 'no engine error'})",
        )

    def _wait_state(self) -> dict[str, Any]:
        """The container's final state (it may take a moment to stop after the stream ends)."""
        deadline = time.monotonic() + 2  # a dead stream with a running container: a broken protocol
        while True:
            self.container.reload()
            state = self.container.attrs.get("State", {})
            if not state.get("Running") or time.monotonic() > deadline:
                return state
            time.sleep(0.05)

    def _oom_event_seen(self) -> bool:
        """Docker's 'oom' event for the container (some engines miss State.OOMKilled on cgroup v2)."""
        try:
            until = datetime.datetime.now(datetime.UTC)
            since = datetime.datetime.fromisoformat(self._started_at)
            events = self.client.events(
                since=since,
                until=until,
                filters={"container": self.container.id, "event": "oom"},
                decode=True,
            )
            return any(True for _ in events)
        except Exception as error:
            log.debug("reading oom events failed: %s", error)
            return False

    def _dispose(self) -> None:
        if self.container is None:
            return
        try:
            self._control().api.remove_container(self.container.id, force=True)
        except Exception as error:  # already gone
            log.debug("remove %s: %s", self.container.name, error)
        self.container = None

    def info(self) -> dict[str, Any]:
        data = super().info()
        data.update(
            image_id=self.image.id,
            image_tags=list(self.image.tags),
            container=self.container.name if self.container is not None else None,
        )
        return data


def open_docker_session(
    spec: SessionSpec, slot: Slot | None = None, client: Any | None = None, image: str | None = None
) -> DockerSession:
    """`image` (tag or id) overrides the lookup by content hash (tests pin the image they built)."""
    client = client or docker_client()
    remove_leftovers_once(client)
    session = DockerSession(spec, client=client, slot=slot, image=image)
    session.open()
    return session
