"""torimatome-jsonl: torimatome's memory storage, made durable by a JSON-lines journal.

Every committed unit of work is one line of the journal, appended and synced before the unit
commits; opening the file replays it. Registered for ``jsonl://`` URLs through the entry-point
group ``torimatome``, so ``torimatome.open("jsonl:///office.jsonl")`` finds it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any

from torimatome import ConfigurationError, StorageError, hookimpl
from torimatome.adapters.change_codec import decode_changes, encode_changes
from torimatome.adapters.memory_storage import Change, MemoryStorage

try:
    import fcntl
except ImportError:  # not on Windows: one process per file is then up to the shop
    fcntl = None  # type: ignore[assignment]

__all__ = ["JsonlStorage", "torimatome_register_storage"]
__version__ = "0.1.0"


class JsonlStorage:
    """A :class:`~torimatome.adapters.memory_storage.MemoryStorage` whose committed changes
    are journaled to ``path`` (created if missing), one unit of work per line."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        created = not self.path.exists()
        try:
            self._file: IO[bytes] = open(self.path, "a+b")  # noqa: SIM115 (closed by close())
            if created:
                _sync_directory(self.path.parent)  # so the new file itself survives a crash
        except OSError as exc:
            raise StorageError(f"Cannot open the journal {self.path}: {exc}") from exc
        try:
            self._lock()
            self._memory = MemoryStorage(on_commit=self._append)
            self._load()
        except BaseException:
            self._file.close()
            raise

    @classmethod
    def from_url(cls, url: str, config: object = None) -> JsonlStorage:
        """``jsonl:///relative/path.jsonl`` or ``jsonl:////absolute/path.jsonl``."""
        scheme, sep, path = url.partition("://")
        path = path if sep and scheme.lower() == "jsonl" else ""
        path = path[1:] if path.startswith("/") else path
        if not path or "?" in path or "#" in path:
            raise ConfigurationError(
                f"A jsonl URL looks like jsonl:///path/to/office.jsonl, not {url!r}."
            )
        return cls(path)

    def unit_of_work(self, *, write: bool = True) -> AbstractContextManager[Any]:
        return self._memory.unit_of_work(write=write)

    def close(self) -> None:
        self._memory.close()
        if not self._file.closed:
            self._file.close()  # releases the lock

    def _lock(self) -> None:
        if fcntl is None:
            return
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise StorageError(
                f"The journal {self.path} is already open (in this process or another)."
            ) from exc

    def _load(self) -> None:
        """Replay every complete line; cut off a torn last line (a unit that never committed)."""
        self._file.seek(0)
        good = 0
        changes: list[Change] = []
        for raw in _lines(self._file):
            if not raw.endswith(b"\n"):
                break
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise StorageError(f"The journal {self.path} is damaged at byte {good}.") from exc
            changes.extend(decode_changes(text))
            good += len(raw)
        self._memory.replay(changes)
        self._file.truncate(good)
        self._file.seek(0, os.SEEK_END)

    def _append(self, changes: list[Change]) -> None:
        """Write and sync one unit's changes before it commits; undo a partial write."""
        data = (encode_changes(changes) + "\n").encode("utf-8")
        end = self._file.seek(0, os.SEEK_END)
        try:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except BaseException:
            self._file.truncate(end)
            raise


def _sync_directory(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform that cannot open folders (Windows): nothing to sync
        return
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _lines(file: IO[bytes]) -> Iterator[bytes]:
    while raw := file.readline():
        yield raw


def open_jsonl(url: str, config: object) -> JsonlStorage:
    return JsonlStorage.from_url(url, config)


@hookimpl
def torimatome_register_storage(registry: Any) -> None:
    registry.add("jsonl", open_jsonl)
