"""Locks on an index directory: one writer at a time, and leases that keep a generation while it is read.

- The writer lock (`writer_lock`, a `filelock.FileLock` on `DIR/.lock`) is held by `qa index` from
  reading the previous index to removing stale generations, so two runs on one folder take turns.
- A generation lease (`lease_generation`) is a shared `flock` on a generation's directory. Readers
  hold one while they load it (and an `Assistant` while it serves it); `remove_generation` takes the
  exclusive lock without waiting, so it only ever removes a generation nobody holds.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self, TypeVar

from filelock import FileLock, Timeout

from qa.errors import IndexBusyError, IndexCorruptError

LOCK_FILE = ".lock"
TRASH_PREFIX = ".tmp-"  # a generation being removed is first renamed to `.tmp-<name>`
T = TypeVar("T")


@contextmanager
def writer_lock(index_dir: Path, *, wait: bool = True, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the exclusive writer lock of `index_dir` (which must exist) for the duration of the block.

    Args:
        wait: when another run holds the lock, wait for it (saying so through `on_wait`);
            with False, raise IndexBusyError at once.
        on_wait: receives the one-line "waiting for ..." message.
    """
    path = index_dir / LOCK_FILE
    lock = FileLock(path, thread_local=False, on_acquired=_record_holder)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _holder(path)
        if not wait:
            raise IndexBusyError(f"another indexing run of {index_dir} ({holder}) is in progress: wait until it "
                                 "ends, or leave out --no-wait to wait for it") from None
        if on_wait is not None:
            on_wait(f"waiting for another indexing run of {index_dir}, {holder}")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _record_holder(descriptor: int) -> None:
    """Write this process's id into the lock file it just locked, for the message a waiting run prints."""
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "pid unknown"


class GenerationLease:
    """A shared lock on one generation directory; `remove_generation` leaves a held generation alone."""

    def __init__(self, descriptor: int, path: Path) -> None:
        self.path = path
        self._descriptor = descriptor
        # Closing the descriptor releases the lock: also when a lease is dropped without `release`.
        self._finalizer = weakref.finalize(self, os.close, descriptor)

    def release(self) -> None:
        self._finalizer()

    @property
    def held(self) -> bool:
        return self._finalizer.alive

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lease_generation(path: Path) -> GenerationLease | None:
    """A lease on the generation directory `path`, or None if it is gone (removed since it was named)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH)  # waits only while a removal renames it away
        if not os.path.samestat(os.fstat(descriptor), os.stat(path)):
            raise FileNotFoundError(path)
    except OSError:  # renamed away for removal, or replaced by another directory of the same name
        os.close(descriptor)
        return None
    return GenerationLease(descriptor, path)


def remove_generation(path: Path) -> bool:
    """Remove a generation directory unless someone holds a lease on it; True if removed.

    It is renamed to `.tmp-<name>` under the exclusive lock first, so a reader sees it whole or not at all.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # in use: a later run removes it
        trash = path.with_name(TRASH_PREFIX + path.name)
        os.replace(path, trash)
    finally:
        os.close(descriptor)
    shutil.rmtree(trash, ignore_errors=True)
    return True


def read_live(resolve: Callable[[], Path], read: Callable[[Path], T], *, attempts: int = 5) -> T:
    """`read(generation)` for the generation `resolve()` names, under a lease.

    A generation removed between naming and leasing, or whose read fails after `CURRENT` moved on,
    is retried with the new one; a read that fails while its generation is still live raises.
    """
    for attempt in range(attempts):
        generation = resolve()
        lease = lease_generation(generation)
        if lease is None:
            continue
        with lease:
            try:
                return read(generation)
            except Exception:
                if attempt + 1 == attempts or resolve() == generation:
                    raise
    raise IndexCorruptError(f"the index replaced its live generation {attempts} times while it was being loaded "
                            f"(last {generation.name}): try again once indexing has finished")
