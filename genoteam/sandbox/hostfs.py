"""How the host touches folders that sandboxed code could write: never through a link, never a
FIFO or device, never without a size bound.

Why a module of its own: code in the sandbox can plant a symlink (to any host file), a FIFO (an
open() that never returns), a device, a setuid binary or a huge sparse file where the host
expects one of its outputs. Every host read, copy, listing and clean-up of such a folder goes
through these functions, which walk with directory descriptors and O_NOFOLLOW (os.fwalk), so a
component swapped for a link between a check and a use is not followed either.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import OutputLayout

READ_LIMIT = 256 << 20  # the largest file the host reads from a sandbox folder (tables, JSON)
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID


class UnsafeFile(GenoteamError):
    """A path in a sandbox folder is a link, not a regular file, or too large."""


def kind_of(mode: int) -> str:
    """A word for what a non-regular entry is, for notes and errors."""
    for test, word in (
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISDIR, "folder"),
    ):
        if test(mode):
            return word
    return "regular file" if stat.S_ISREG(mode) else "special file"


def _parts(root: Path, path: Path) -> list[str]:
    relative = Path(os.path.normpath(path)).relative_to(os.path.normpath(root))
    parts = [p for p in relative.parts if p not in ("", ".")]
    if ".." in parts or not parts:
        raise UnsafeFile(f"{path} is not a file inside {root}", "name a file under the folder")
    return parts


def _open_parent(root: Path, path: Path, parts: list[str], create: bool, what_to_do: str) -> int:
    """A descriptor of the folder holding `path`, reached from `root` one O_NOFOLLOW step at a time
    (missing folders made when `create`), so no link on the way is followed. The caller closes it."""
    current = os.open(root, _DIR_FLAGS)
    try:
        for name in parts[:-1]:
            try:
                following = os.open(name, _DIR_FLAGS, dir_fd=current)
            except FileNotFoundError as error:
                if not create:
                    raise UnsafeFile(
                        f"{path}: {name} does not exist ({error.strerror})", what_to_do
                    ) from error
                os.mkdir(name, 0o755, dir_fd=current)
                following = os.open(name, _DIR_FLAGS, dir_fd=current)
            except OSError as error:
                raise UnsafeFile(
                    f"{path}: {name} is not a plain folder ({error.strerror}); sandboxed code may have "
                    "replaced it with a link",
                    what_to_do,
                ) from error
            os.close(current)
            current = following
    except BaseException:
        os.close(current)
        raise
    return current


def open_regular(root: Path, path: Path, limit: int = READ_LIMIT) -> tuple[int, int]:
    """(fd, size) of `path`, a regular file under `root` reached without following any link.

    Every component below `root` is opened with O_NOFOLLOW relative to its parent's descriptor;
    the file itself with O_NONBLOCK too, so a FIFO cannot block the host. The caller closes fd.
    """
    root, path = Path(root), Path(path)
    parts = _parts(root, path)
    current = _open_parent(root, path, parts, False, "the host reads only real files the analysis wrote")
    try:
        try:
            fd = os.open(parts[-1], _OPEN_FLAGS, dir_fd=current)
        except OSError as error:
            if error.errno == 2:  # ENOENT: simply absent
                raise FileNotFoundError(str(path)) from error
            info = os.stat(parts[-1], dir_fd=current, follow_symlinks=False)
            raise UnsafeFile(
                f"{path} is a {kind_of(info.st_mode)}, not a regular file; the host does not follow it",
                "sandboxed code must write real files, not links or pipes",
            ) from error
    finally:
        os.close(current)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UnsafeFile(
            f"{path} is a {kind_of(info.st_mode)}, not a regular file; the host does not read it",
            "sandboxed code must write real files, not pipes or devices",
        )
    if info.st_size > limit:
        os.close(fd)
        raise UnsafeFile(
            f"{path} has {info.st_size} bytes, more than the {limit} the host reads from such a folder",
            "write smaller outputs",
        )
    return fd, info.st_size


def read_bytes(root: Path, path: Path, limit: int = READ_LIMIT) -> bytes:
    """The content of a regular file under `root` (no links followed), at most `limit` bytes."""
    fd, _size = open_regular(root, path, limit)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # grew after the check
        raise UnsafeFile(f"{path} grew beyond {limit} bytes while the host read it", "write smaller outputs")
    return data


def read_text(root: Path, path: Path, limit: int = READ_LIMIT) -> str:
    return read_bytes(root, path, limit).decode("utf-8", errors="replace")


def read_json(root: Path, path: Path, limit: int = READ_LIMIT) -> Any:
    return json.loads(read_bytes(root, path, limit))


def output_layout(root: Path) -> OutputLayout:
    """The GenoTEX layout of a folder sandboxed code wrote: its readers follow no link and stop
    at READ_LIMIT bytes (host code reading cohort_info.json or a result goes through this)."""
    root = Path(root)
    return OutputLayout(root, read_bytes=lambda path: read_bytes(root, path))


def is_folder(path: Path) -> bool:
    """True when `path` itself is a folder, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def is_regular(root: Path, path: Path) -> bool:
    """True when `path` is a regular file under `root` reached without links."""
    try:
        fd, _ = open_regular(root, path, limit=1 << 62)
    except (FileNotFoundError, UnsafeFile, NotADirectoryError):
        return False
    os.close(fd)
    return True


@dataclass
class Listing:
    """Regular files under a folder, and what was not followed or dropped (with a note each)."""

    files: list[tuple[str, int]] = field(default_factory=list)  # (relative path, size)
    dropped: list[str] = field(default_factory=list)

    def notes(self, limit: int = 20) -> str:
        if not self.dropped:
            return ""
        shown = "; ".join(self.dropped[:limit])
        more = f"; and {len(self.dropped) - limit} more" if len(self.dropped) > limit else ""
        return f"{len(self.dropped)} entr{'y' if len(self.dropped) == 1 else 'ies'} not copied/read: {shown}{more}"


def _walk(root: Path) -> Iterator[tuple[str, list[str], list[str], int]]:
    """os.fwalk without following links; nothing when root is absent or not a real folder."""
    try:
        info = os.lstat(root)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        return
    yield from os.fwalk(root, follow_symlinks=False)


def _entries(root: Path) -> Iterator[tuple[str, int, os.stat_result]]:
    """(name, its folder's descriptor, its lstat) of every entry under `root` still there when
    reached; links are listed, never followed."""
    for _folder, dirs, files, dir_fd in _walk(root):
        for name in dirs + files:
            try:
                yield name, dir_fd, os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue


def regular_files(root: Path) -> Listing:
    """Every regular file under `root` (sorted), links and special files noted, none followed."""
    listing = Listing()
    root = Path(root)
    for folder, dirs, files, dir_fd in _walk(root):
        relative = os.path.relpath(folder, root)
        for name in sorted(dirs + files):
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            rel = os.path.normpath(os.path.join(relative, name))
            if stat.S_ISREG(info.st_mode):
                listing.files.append((rel, info.st_size))
            elif not stat.S_ISDIR(info.st_mode):
                listing.dropped.append(f"{rel} ({kind_of(info.st_mode)})")
        dirs.sort()
    listing.files.sort()
    return listing


def copy_tree(source: Path, target: Path, limit: int = READ_LIMIT) -> Listing:
    """Copy the regular files under `source` into `target` (merging), dropping links, devices and
    FIFOs and clearing setuid/setgid bits; the listing names what was dropped."""
    listing = regular_files(source)
    copied = Listing(dropped=list(listing.dropped))
    for rel, _size in listing.files:
        destination = Path(target) / rel
        try:
            data = read_bytes(Path(source), Path(source) / rel, limit)
        except (UnsafeFile, FileNotFoundError) as error:  # swapped or removed after the listing
            copied.dropped.append(f"{rel} ({getattr(error, 'problem', None) or 'gone'})")
            continue
        Path(target).mkdir(parents=True, exist_ok=True)
        write_bytes(Path(target), destination, data)  # a link at the target is replaced, not followed
        copied.files.append((rel, len(data)))
    return copied


def clear_special_bits(root: Path) -> int:
    """Clear setuid/setgid bits of every file and folder under `root`; return how many changed.

    Files are changed through a descriptor opened with O_NOFOLLOW, so a link swapped in between
    the listing and the change is never followed to a host file.
    """
    changed = 0
    for name, dir_fd, info in _entries(Path(root)):
        if not info.st_mode & SPECIAL_BITS or not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            continue
        flags = _DIR_FLAGS if stat.S_ISDIR(info.st_mode) else _OPEN_FLAGS
        try:
            fd = os.open(name, flags, dir_fd=dir_fd)
        except OSError:
            continue
        try:
            mode = os.fstat(fd).st_mode
            os.fchmod(fd, stat.S_IMODE(mode) & ~SPECIAL_BITS)
            changed += 1
        except OSError:  # not ours to change (a non-root host): the others still are
            continue
        finally:
            os.close(fd)
    return changed


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give a folder tree to the sandbox user, never through a link (only root can, and needs to)."""
    root = Path(root)
    if stat.S_ISLNK(os.lstat(root).st_mode):
        raise UnsafeFile(f"{root} is a link; the host does not hand it over", "use a real folder")
    os.chown(root, uid, gid, follow_symlinks=False)
    for _folder, dirs, files, dir_fd in _walk(root):
        for name in dirs + files:
            try:
                os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue


def write_bytes(root: Path, path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file under `root` without following links: folders are opened (or made) one by one
    with O_NOFOLLOW, and the file is written beside its name and renamed over it, so a link or
    FIFO planted at the name is replaced, never written through."""
    root, path = Path(root), Path(path)
    parts = _parts(root, path)
    current = _open_parent(root, path, parts, True, "remove the link at that name")
    try:
        tmp = f".{parts[-1]}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=current)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, parts[-1], src_dir_fd=current, dst_dir_fd=current)
    finally:
        os.close(current)


def usage(roots: list[Path], max_files: int) -> tuple[int, int]:
    """(bytes, entries) held under `roots`, counting allocated blocks or apparent size, whichever
    is larger (a sparse file counts at its full size); stops counting past `max_files` entries."""
    total_bytes = entries = 0
    for root in roots:
        for _name, _dir_fd, info in _entries(Path(root)):
            entries += 1
            total_bytes += max(info.st_size, info.st_blocks * 512)
            if entries > max_files:
                return total_bytes, entries
    return total_bytes, entries


def append_line(path: Path, line: str) -> None:
    """Append to a host record without following a link or blocking on a FIFO planted at its name."""
    flags = (
        os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    )
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as error:
        raise UnsafeFile(
            f"cannot append to {path} ({error.strerror}): it is not a regular file the host owns",
            "remove whatever is at that path; host records are never written through links",
        ) from error
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeFile(f"{path} is not a regular file; the host does not write to it", "remove it")
        data = memoryview(line.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)
