"""The host's rules for folders sandboxed code could write (genoteam.sandbox.hostfs), on real files:
links are never followed (not even as a folder on the way), FIFOs never block, sizes are bounded,
copies drop what is not a regular file and say so, setuid bits do not survive."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from genoteam.sandbox import hostfs
from genoteam.sandbox.api import SandboxLimits
from genoteam.sandbox.quota import over_quota


@pytest.fixture()
def planted(tmp_path):
    """A work folder as hostile code leaves it, and a host file outside it."""
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    work = tmp_path / "work"
    (work / "real").mkdir(parents=True)
    (work / "real" / "data.csv").write_text("a,b\n1,2\n")
    os.symlink(secret, work / "real" / "link.csv")
    os.symlink(tmp_path, work / "dirlink")  # a folder on the way that is a link
    os.mkfifo(work / "real" / "pipe.csv")
    suid = work / "real" / "suid"
    suid.write_bytes(b"#!/bin/sh\n")
    suid.chmod(0o6755)
    return work, secret


def _in_thread(function, *args):
    """Run with a deadline: a FIFO opened the ordinary way would block forever."""
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(_catch(function, *args)), daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), f"{function.__name__} blocked"
    return outcome[0]


def _catch(function, *args):
    try:
        return function(*args)
    except Exception as error:  # the test inspects what was raised
        return error


def test_reads_refuse_links_fifos_and_linked_folders(planted):
    work, _ = planted
    assert hostfs.read_text(work, work / "real" / "data.csv") == "a,b\n1,2\n"
    link = _in_thread(hostfs.read_bytes, work, work / "real" / "link.csv")
    assert isinstance(link, hostfs.UnsafeFile) and "is a symlink, not a regular file" in link.problem
    fifo = _in_thread(hostfs.read_bytes, work, work / "real" / "pipe.csv")
    assert isinstance(fifo, hostfs.UnsafeFile) and "FIFO" in fifo.problem
    through = _in_thread(hostfs.read_bytes, work, work / "dirlink" / "secret.txt")
    assert isinstance(through, hostfs.UnsafeFile) and "not a plain folder" in through.problem
    with pytest.raises(FileNotFoundError):
        hostfs.read_bytes(work, work / "real" / "missing.csv")
    with pytest.raises(hostfs.UnsafeFile, match="more than the 4"):
        hostfs.read_bytes(work, work / "real" / "data.csv", limit=4)
    assert not hostfs.is_regular(work, work / "real" / "link.csv")


def test_copies_drop_links_and_fifos_with_a_note_and_clear_setuid(planted, tmp_path):
    work, secret = planted
    target = tmp_path / "copy"
    listing = _in_thread(hostfs.copy_tree, work, target)
    assert sorted(rel for rel, _ in listing.files) == ["real/data.csv", "real/suid"]
    assert sorted(listing.dropped) == ["dirlink (symlink)", "real/link.csv (symlink)", "real/pipe.csv (FIFO)"]
    assert "3 entries not copied/read" in listing.notes()
    assert not (target / "real" / "link.csv").exists() and not (target / "dirlink").exists()
    assert not os.stat(target / "real" / "suid").st_mode & (stat.S_ISUID | stat.S_ISGID)
    assert secret.read_text() == "host secret"


def test_setuid_bits_are_cleared_in_place_and_links_are_left_alone(planted):
    work, secret = planted
    secret.chmod(0o4755)  # a host file with the bit, reachable only through the link
    assert hostfs.clear_special_bits(work) == 1
    assert not (work / "real" / "suid").stat().st_mode & stat.S_ISUID
    assert secret.stat().st_mode & stat.S_ISUID, "the link was followed"


def test_host_writes_replace_a_planted_link_and_never_block_on_a_fifo(planted, tmp_path):
    work, secret = planted
    hostfs.write_bytes(work, work / "real" / "link.csv", b"new")
    assert (work / "real" / "link.csv").read_bytes() == b"new" and secret.read_text() == "host secret"
    error = _in_thread(hostfs.append_line, work / "real" / "pipe.csv", "x\n")
    assert isinstance(error, hostfs.UnsafeFile)
    os.symlink(secret, tmp_path / "messages.jsonl")
    with pytest.raises(hostfs.UnsafeFile, match="cannot append"):
        hostfs.append_line(tmp_path / "messages.jsonl", "x\n")
    assert secret.read_text() == "host secret"


def test_the_quota_counts_sparse_files_in_full_and_stops_counting_early(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with open(work / "sparse", "wb") as handle:
        handle.truncate(3 << 30)  # 3 GB apparent, no blocks
    limits = SandboxLimits(disk_bytes="1g", disk_files=10, disk_headroom="0")
    assert "more than its quota of 1g" in over_quota([work], limits)
    (work / "sparse").unlink()
    for i in range(50):
        (work / str(i)).touch()
    assert hostfs.usage([work], 10)[1] == 11  # stopped one past the limit
    assert "more than 10 files and folders" in over_quota([work], limits)
    huge_headroom = SandboxLimits(disk_headroom="1000000t")
    assert "the host keeps in reserve" in over_quota([work], huge_headroom)
