"""The server image: it refuses at start a mount layout the sibling sandboxes cannot see, it names
the sandbox image of its sources (the one the host built), and the Dockerfile builds with the
plain `docker build` command from the checkout."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.install.installed import ROOT

SOCKET = "/var/run/docker.sock"


def _docker(*args: str, timeout: float = 120, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, timeout=timeout)


@pytest.mark.docker
def test_server_refuses_a_layout_sibling_sandboxes_cannot_see(server_image, shared_input, tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    # the old recipe: data at /input inside, from another host path
    done = _docker(
        "run", "-i", "--rm", "--pull=never", "--network", "none",
        "-v", f"{SOCKET}:{SOCKET}",
        "-v", f"{shared_input}:/input:ro", "-e", "GENOTEAM_INPUT=/input",
        "-v", f"{workspace}:{workspace}", "-e", f"GENOTEAM_WORKSPACE={workspace}",
        server_image,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "sibling containers" in done.stderr and f"from the host's {shared_input}" in done.stderr, (
        done.stderr
    )
    assert "the same absolute path" in done.stderr  # what to do
    # a workspace that is not mounted at all
    unmounted = _docker(
        "run", "-i", "--rm", "--pull=never", "--network", "none",
        "-v", f"{SOCKET}:{SOCKET}",
        "-v", f"{shared_input}:{shared_input}:ro", "-e", f"GENOTEAM_INPUT={shared_input}",
        server_image,
    )  # fmt: skip
    assert unmounted.returncode == 1 and "workspace" in unmounted.stderr, unmounted.stderr
    assert "not mounted from the host" in unmounted.stderr


@pytest.mark.docker
def test_server_image_names_the_sandbox_image_of_its_sources(server_image, sandbox_image):
    from genoteam.sandbox.builder import CA_CANDIDATES

    ca = next(c for c in CA_CANDIDATES if Path(c).is_file())
    done = _docker(
        "run", "--rm", "--pull=never", "--network", "none",
        "-v", f"{SOCKET}:{SOCKET}", "-v", f"{ca}:/host-ca.crt:ro",
        server_image, "image", "build", "--sandbox-only", "--ca-bundle", "/host-ca.crt",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "skipped: sandbox image" in done.stdout and "reused, unchanged" in done.stdout, done.stdout


@pytest.mark.docker
def test_docker_build_of_the_checkout_works(docker_engine, server_image, tmp_path):
    """`docker build -t genoteam-server .` from the checkout (here on the local base, and with the
    host's CA bundle beside the Dockerfile, as a user behind a proxy would; the layers the builder
    made are reused). Tagged with a test name, removed afterwards."""
    from genoteam.sandbox.builder import ca_bundle
    from genoteam.sandbox.image import default_base

    context = tmp_path / "checkout"
    shutil.copytree(
        ROOT, context, ignore=shutil.ignore_patterns(".git", ".venvs", ".cache", "build", "*.egg-info")
    )
    (context / "build-ca.crt").write_bytes(ca_bundle())
    tag = f"genoteam-server:docker-build-test-{tmp_path.name[-12:].lower()}"
    try:
        done = subprocess.run(
            [
                "docker",
                "build",
                "--pull=false",
                "--build-arg",
                f"BASE_IMAGE={default_base(docker_engine)}",
                "-t",
                tag,
                ".",
            ],
            cwd=context,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        version = _docker("run", "--rm", "--pull=never", "--network", "none", tag, "--version")
        assert version.returncode == 0 and version.stdout.startswith("genoteam "), version.stderr
    finally:
        _docker("rmi", "--no-prune", tag)
