"""The scan cache in ``<project>/.cache/dataset.sqlite``: what each image's bytes decoded to.

Two tables. ``files`` maps a path to (size, mtime_ns, sha256) — the fast pre-check: a file
whose size and modification time are unchanged is not read at all. ``content`` maps a sha256
to the facts and fingerprint decoded from those bytes, so a renamed, restored or touched file
is hashed again but not decoded again, and a changed file is decoded afresh.

SQLite because it is in the standard library, survives a crash or Ctrl-C mid-write, and lets
the wizard and a CLI command use the same cache at once. The cache is disposable: a damaged or
unwritable one is replaced by a fresh (or in-memory) one, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CACHE_NAME = "dataset.sqlite"
SCHEMA = 1

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT);
CREATE TABLE IF NOT EXISTS content (sha256 TEXT PRIMARY KEY, version INTEGER, facts TEXT, fingerprint BLOB);
"""


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


class HashCache:
    """One connection, used from the thread that opened it (scan's coordinating thread)."""

    def __init__(self, cache_dir: Path, *, content_version: int) -> None:
        self.path = cache_dir / CACHE_NAME
        self.content_version = content_version
        self.conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30)
            conn.executescript(_DDL)
            row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
                conn.commit()
            elif row[0] != str(SCHEMA):
                conn.close()
                self._discard()
                return self._connect()
            return conn
        except sqlite3.DatabaseError:
            # A damaged file (or one from a future version): start over, the cache is disposable.
            with contextlib.suppress(OSError):
                self._discard()
            try:
                conn = sqlite3.connect(self.path, timeout=30)
                conn.executescript(_DDL)
                return conn
            except sqlite3.Error:
                pass
        except OSError:
            pass
        conn = sqlite3.connect(":memory:")  # read-only project: scan still works, uncached
        conn.executescript(_DDL)
        return conn

    def _discard(self) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(self.path) + suffix)

    # ----- lookups --------------------------------------------------------------------------
    def known_files(self) -> dict[str, tuple[int, int, str]]:
        """Every cached path → (size, mtime_ns, sha256), read in one query."""
        rows = self.conn.execute("SELECT path, size, mtime_ns, sha256 FROM files").fetchall()
        return {p: (s, m, h) for p, s, m, h in rows}

    def content_hashes(self) -> set[str]:
        """Hashes whose facts this version has cached."""
        rows = self.conn.execute("SELECT sha256 FROM content WHERE version=?", (self.content_version,))
        return {h for (h,) in rows}

    def sha_if_unchanged(self, key: str, size: int, mtime_ns: int) -> str | None:
        row = self.conn.execute("SELECT size, mtime_ns, sha256 FROM files WHERE path=?", (key,)).fetchone()
        if row and row[0] == size and row[1] == mtime_ns:
            return row[2]
        return None

    def content(self, shas: Iterable[str]) -> dict[str, tuple[dict[str, Any], bytes | None]]:
        """Cached (facts, fingerprint) for the given hashes that were made by this version."""
        out: dict[str, tuple[dict[str, Any], bytes | None]] = {}
        shas = list(dict.fromkeys(shas))
        for i in range(0, len(shas), 500):
            chunk = shas[i:i + 500]
            q = ",".join("?" * len(chunk))
            for sha, version, facts, fp in self.conn.execute(
                f"SELECT sha256, version, facts, fingerprint FROM content WHERE sha256 IN ({q})", chunk
            ):
                if version == self.content_version:
                    out[sha] = (json.loads(facts), fp)
        return out

    # ----- writes ---------------------------------------------------------------------------
    def put_file(self, key: str, size: int, mtime_ns: int, sha: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", (key, size, mtime_ns, sha))

    def put_content(self, sha: str, facts: dict[str, Any], fingerprint: bytes | None) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO content VALUES (?, ?, ?, ?)",
            (sha, self.content_version, json.dumps(facts, separators=(",", ":")), fingerprint),
        )

    def commit(self) -> None:
        with contextlib.suppress(sqlite3.OperationalError):  # locked or read-only: keep going uncached
            self.conn.commit()

    def prune(self, present: set[str]) -> None:
        """Forget paths that no longer exist, and content no remaining path refers to."""
        gone = [p for (p,) in self.conn.execute("SELECT path FROM files") if p not in present]
        self.conn.executemany("DELETE FROM files WHERE path=?", [(p,) for p in gone])
        self.conn.execute("DELETE FROM content WHERE sha256 NOT IN (SELECT sha256 FROM files)")
        self.commit()

    def close(self) -> None:
        self.commit()
        self.conn.close()

    def __enter__(self) -> "HashCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
