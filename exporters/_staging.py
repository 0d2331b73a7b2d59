"""Staging: nothing an export writes lands where the user looks until everything is complete.

Files are written into a scratch directory beside the target (``Staging``) and renamed into
place at the end, data first and the manifest last, so a failure (a row that does not
validate, a store that stops answering) leaves the previous export, if any, untouched and no
partial file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from schemas import ExportError


class Staging:
    """A scratch directory beside ``out``; ``commit`` renames what was staged into place."""

    def __init__(self, out: Path) -> None:
        self.root = out.parent
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._tmp = tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=self.root)
        except OSError as exc:
            raise ExportError(f"cannot write to {self.root}: {exc.strerror or exc}") from exc
        self.scratch = Path(self._tmp.name)
        self._files: list[str] = []
        self._dirs: list[str] = []

    def path(self, rel: str) -> Path:
        """Where to write the file that will land at ``root/rel``."""
        target = self.scratch / "out" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel not in self._files:
            self._files.append(rel)
        return target

    def directory(self, rel: str) -> Path:
        """A directory that replaces ``root/rel`` as a whole (an hf DatasetDict)."""
        target = self.scratch / "out" / rel
        target.mkdir(parents=True, exist_ok=True)
        if rel not in self._dirs:
            self._dirs.append(rel)
        return target

    def work(self, name: str) -> Path:
        """A scratch directory that is never committed."""
        target = self.scratch / "work" / name
        target.mkdir(parents=True, exist_ok=True)
        return target

    def staged_files(self) -> list[str]:
        """Every staged file (inside staged directories too), relative to ``root``, sorted."""
        out: set[str] = set(self._files)
        for rel in self._dirs:
            base = self.scratch / "out" / rel
            out |= {f"{rel}/{p.relative_to(base).as_posix()}" for p in base.rglob("*") if p.is_file()}
        return sorted(out)

    def staged(self, rel: str) -> Path:
        return self.scratch / "out" / rel

    def commit(self, last: str | None = None) -> None:
        """Rename directories, then files, into place; ``last`` (the manifest) goes last."""
        try:
            for rel in self._dirs:
                dest = self.root / rel
                if dest.is_dir():
                    os.replace(dest, self.work("replaced") / rel.replace("/", "_"))
                elif dest.exists():
                    raise ExportError(f"{dest} is a file; an hf export writes a directory there")
                os.replace(self.scratch / "out" / rel, dest)
            for rel in sorted(self._files, key=lambda r: r == last):
                dest = self.root / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.scratch / "out" / rel, dest)
        except OSError as exc:
            raise ExportError(f"cannot write into {self.root}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def closing(rows: Iterable[Any]) -> Iterator[None]:
    """Close a generator of rows (say, one holding a database cursor) even when export fails."""
    try:
        yield
    finally:
        close = getattr(rows, "close", None)
        if callable(close):
            close()
