"""A real Ray cluster of two nodes on loopback, started and stopped by the test that uses it.

Each node is one `ray start` run in a session of its own, so every daemon of that node (raylet,
agents, the workers it starts) shares one process group: killing the group kills the node, and
stopping the cluster never touches a Ray process this module did not start (unlike `ray stop`,
which stops every Ray process of the machine). Every node has its own temp dir, CPUs, memory,
a custom resource named after it and a small object store.

Pinning to 127.0.0.1: Ray on Linux turns a loopback `--node-ip-address` or `--address` into the
machine's outward address unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, and with that setting its
CLI refuses to start a second node. The second node is therefore started through the CLI's own
`main` with those two checks set for loopback (LOOPBACK_WORKER_NODE); everything it starts
inherits the setting, so every socket of the cluster listens on 127.0.0.1 (checked by
`listening_addresses`).

Token authentication is on, with a token made for this cluster and handed to every node and
driver in the environment (`env`), never written to ~/.ray.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"
OBJECT_STORE_BYTES = 100 * 1000 * 1000  # the smallest store Ray accepts is ~75 MB
NODE_MEMORY_BYTES = 4 << 30
RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # loopback addresses stay loopback (see above)
    "RAY_USAGE_STATS_ENABLED": "0",  # Ray's usage report would go to the internet
}
LOOPBACK_WORKER_NODE = (
    "import sys\n"
    "import ray._private.ray_constants as constants\n"
    "import ray._private.services as services\n"
    "constants.ENABLE_RAY_CLUSTER = True  # allow a second node; children keep the loopback setting\n"
    "services.resolve_ip_for_localhost = lambda host: host  # 127.0.0.1 stays 127.0.0.1\n"
    "from ray.scripts.scripts import main\n"
    "sys.argv = ['ray', *sys.argv[1:]]\n"
    "main()\n"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def ray_env() -> dict[str, str]:
    """The environment every process of the cluster, and every driver of it, runs with."""
    return {**os.environ, **RAY_ENV}


def group_pids(pgid: int) -> list[int]:
    """The live processes of process group `pgid`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] not in {"Z", "X"} and int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


@dataclass
class RayNode:
    name: str
    temp_dir: Path
    pgid: int = 0
    node_id: str = ""
    raylet_pid: int = 0
    killed: bool = False

    def find_raylet(self, wait_s: float = 30.0) -> None:
        """The node's raylet and the node id Ray gave it (from the raylet's own command line)."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            for pid in group_pids(self.pgid):
                args = _cmdline(pid)
                if args and Path(args[0]).name == "raylet":
                    ids = [arg.split("=", 1)[1] for arg in args if arg.startswith("--node_id=")]
                    if ids:
                        self.raylet_pid, self.node_id = pid, ids[0]
                        return
            time.sleep(0.2)
        raise RuntimeError(f"node {self.name}: no raylet in process group {self.pgid} after {wait_s:.0f}s")

    def is_ancestor_of(self, pid: int) -> bool:
        """True when `pid` descends from this node's raylet (Ray workers are the raylet's children)."""
        while pid > 1:
            if pid == self.raylet_pid:
                return True
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                return False
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        return False


@dataclass
class LoopbackCluster:
    """Two (or more) Ray nodes on 127.0.0.1; the first is the head."""

    root: Path
    names: tuple[str, ...] = ("node_a", "node_b")
    cpus: int = 1
    port: int = field(default_factory=free_port)
    client_port: int = field(default_factory=free_port)
    nodes: dict[str, RayNode] = field(default_factory=dict)
    token: str = field(default_factory=lambda: secrets.token_hex(32))

    def env(self) -> dict[str, str]:
        """The environment of the cluster's processes and of every driver that connects to it."""
        return {**ray_env(), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}

    @property
    def address(self) -> str:
        """The GCS address a driver connects to (RAY_ADDRESS for `--cluster auto`)."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def client_address(self) -> str:
        return f"ray://{LOOPBACK}:{self.client_port}"

    def start(self) -> LoopbackCluster:
        for index, name in enumerate(self.names):
            self._start_node(name, head=index == 0)
        return self

    def _start_node(self, name: str, head: bool) -> None:
        temp_dir = self.root / name
        temp_dir.mkdir(parents=True, exist_ok=True)
        common = [
            "--node-ip-address",
            LOOPBACK,
            "--num-cpus",
            str(self.cpus),
            "--memory",
            str(NODE_MEMORY_BYTES),
            "--object-store-memory",
            str(OBJECT_STORE_BYTES),
            "--resources",
            json.dumps({name: 1}),
            "--temp-dir",
            str(temp_dir),
            "--disable-usage-stats",
        ]
        if head:
            command = [
                sys.executable,
                "-m",
                "ray.scripts.scripts",
                "start",
                "--head",
                "--port",
                str(self.port),
            ]
            command += ["--include-dashboard=false", "--ray-client-server-port", str(self.client_port)]
        else:
            command = [sys.executable, "-c", LOOPBACK_WORKER_NODE, "start", "--address", self.address]
        log = temp_dir / "ray-start.log"
        with log.open("w") as out:
            # a session of its own: the node's daemons share this process group (pgid == pid)
            process = subprocess.Popen(
                command + common, stdout=out, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True
            )
        node = RayNode(name, temp_dir, pgid=process.pid)
        self.nodes[name] = node
        if process.wait(timeout=120) != 0:
            raise RuntimeError(f"`ray start` of {name} failed:\n{log.read_text()[-3000:]}")
        node.find_raylet()

    def kill_node(self, name: str) -> None:
        """Kill every process of the node at once (raylet, agents, its workers), as a crash would."""
        node = self.nodes[name]
        _signal_group(node.pgid, signal.SIGKILL)
        node.killed = True

    def node_of(self, node_id: str) -> RayNode:
        found = [node for node in self.nodes.values() if node.node_id == node_id]
        if not found:
            raise KeyError(f"no node of this cluster has id {node_id!r}")
        return found[0]

    def listening_addresses(self) -> set[str]:
        """The local addresses of every listening TCP socket of the cluster's processes."""
        inodes: set[str] = set()
        for node in self.nodes.values():
            for pid in group_pids(node.pgid):
                inodes |= _socket_inodes(pid)
        addresses = set()
        for table, family in (("tcp", 4), ("tcp6", 6)):
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:  # 0A: LISTEN
                    addresses.add(_address(local.split(":")[0], family))
        return addresses

    def stop(self, grace_s: float = 2.0) -> None:
        """SIGTERM every node's process group (worker nodes first), SIGKILL what is left after `grace_s`
        (the GCS and raylets take 10 s and more to end on SIGTERM; nothing of theirs needs keeping)."""
        nodes = list(self.nodes.values())[::-1]
        for node in nodes:
            _signal_group(node.pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(group_pids(node.pgid) for node in nodes):
            time.sleep(0.2)
        for node in nodes:
            _signal_group(node.pgid, signal.SIGKILL)


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                found.add(target[len("socket:[") : -1])
    except OSError:
        pass
    return found


def _address(hex_ip: str, family: int) -> str:
    """An address of /proc/net/tcp{,6} (little-endian 32-bit words) as text."""
    raw = bytes.fromhex(hex_ip)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if family == 4 else socket.AF_INET6, words)


def _signal_group(pgid: int, signum: int) -> None:
    if pgid <= 1:
        return
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass
