"""A process that opens one Docker sandbox session and holds it (helper of the leftover tests).

usage: hold_session.py IMAGE WORK_DIR JOB_ID [--once]
Prints `ready <container name>` once the kernel answers, then sleeps until it is killed
(with --once it exits at once, leaving the closing to the atexit handler: "the next start").
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from genoteam.sandbox.api import SandboxLimits, SessionSpec
from genoteam.sandbox.factory import open_session
from genoteam.sandbox.pool import SessionPool


def main() -> None:
    image, work, job = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    spec = SessionSpec(task_id="hold", work_dir=work, job_id=job, limits=SandboxLimits(memory="128m"))
    pool = SessionPool(size=4, directory=work.parent / f"slots-{job}")
    session = open_session(spec, backend="docker", pool=pool, image=image)
    assert session.run_cell("x = 1").ok
    print(f"ready {session.info()['container']}", flush=True)
    if sys.argv[4:] == ["--once"]:
        return  # no close(): the session must be closed at interpreter exit
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
