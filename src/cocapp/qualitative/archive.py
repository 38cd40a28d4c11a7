"""Safe reading of a REFI-QDA archive (``.qdpx``): bounded sizes, each member read once, no escape.

A ``.qdpx`` file comes from outside (another team's export, a download), so it is treated as hostile
until shown otherwise. Before anything is decompressed the zip's central directory is checked:

* at most ``max_members`` members, no member name twice, no two members sharing their compressed
  data (the overlapping-entry "zip bomb" of Fifield 2019, USENIX WOOT);
* each member's declared size at most ``max_member_bytes`` and its compression ratio at most
  ``max_ratio`` (a 200 KB archive that expands to 200 MB is refused before it is expanded);
* the declared sizes together at most ``max_total_bytes``.

Members are then read in chunks, counting the bytes actually produced (a lying header stops at the
limit too), and each member is read at most once (a source text referenced by eight elements is
decompressed once). The project XML is parsed with :mod:`defusedxml`: a document type declaration
(DTD), and with it every entity-expansion attack, is refused. Paths named by the project are
resolved inside the archive (``internal://``, bare names) or inside the folder holding the ``.qdpx``
(``relative://``); anything that would leave them (``..``, absolute paths, other schemes) is refused.

Every refusal is a :class:`QualitativeInputError` naming the file and the limit or path.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

__all__ = ["ArchiveLimits", "SafeArchive", "limits_from_config"]

_CHUNK = 1 << 16


def _input_error(message: str):
    from cocapp.qualitative.io import QualitativeInputError

    return QualitativeInputError(message)


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits on what a ``.qdpx`` archive may make cocapp read (config ``qualitative.qdpx_limits``).

    The defaults admit any interview study seen in practice (a project XML of tens of MB, transcripts
    of a few MB each) and refuse expansion attacks: text and XML compress 3-20 fold, never 200 fold.
    """

    max_members: int = 10_000
    max_member_bytes: int = 256 * 2**20
    max_total_bytes: int = 1024 * 2**20
    max_ratio: float = 200.0
    min_ratio_bytes: int = 1 * 2**20  # members smaller than this are never refused for their ratio


def limits_from_config(qual_config: dict | None) -> ArchiveLimits:
    """:class:`ArchiveLimits` with the values given under ``qualitative.qdpx_limits``."""
    given = dict((qual_config or {}).get("qdpx_limits") or {})
    known = {f.name for f in fields(ArchiveLimits)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise _input_error(f"key qualitative.qdpx_limits: unknown limit(s) {unknown}; known: {sorted(known)}")
    return ArchiveLimits(**given)


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{int(n)} bytes"


class SafeArchive:
    """A ``.qdpx`` zip opened under :class:`ArchiveLimits`; use as a context manager."""

    def __init__(self, path: Path, limits: ArchiveLimits | None = None, what: str = "a REFI-QDA project"):
        self.path = Path(path)
        self.limits = limits or ArchiveLimits()
        if not self.path.is_file():
            noun = what.split(" ", 1)[1] if what.startswith(("a ", "an ")) else what
            raise _input_error(f"{self.path}: {noun} not found")
        try:
            self.zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError) as err:
            raise _input_error(f"{self.path}: not {what}: not a valid zip archive ({err})") from None
        try:
            self._check_directory()
        except Exception:
            self.zf.close()
            raise
        self.bytes_read = 0
        self._cache: dict[str, bytes] = {}
        self.members = {i.filename.lower(): i.filename for i in self.zf.infolist() if not i.is_dir()}

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *exc) -> None:
        self.zf.close()

    # -- the central directory, before anything is expanded ----------------------------------------
    def _check_directory(self) -> None:
        lim, name = self.limits, self.path
        infos = self.zf.infolist()
        if len(infos) > lim.max_members:
            raise _input_error(
                f"{name}: the archive has {len(infos)} members, more than the limit of {lim.max_members} "
                "(qualitative.qdpx_limits.max_members)"
            )
        seen: set[str] = set()
        total = 0
        for info in infos:
            key = info.filename.lower()
            if key in seen:
                raise _input_error(
                    f"{name}: member {info.filename!r} appears more than once in the archive; refused"
                )
            seen.add(key)
            if info.file_size > lim.max_member_bytes:
                raise _input_error(
                    f"{name}: member {info.filename!r} expands to {_mb(info.file_size)}, more than the limit "
                    f"of {_mb(lim.max_member_bytes)} (qualitative.qdpx_limits.max_member_bytes)"
                )
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size >= lim.min_ratio_bytes and ratio > lim.max_ratio:
                raise _input_error(
                    f"{name}: member {info.filename!r} expands {ratio:.0f}-fold "
                    f"({_mb(info.compress_size)} -> "
                    f"{_mb(info.file_size)}), more than the limit of {lim.max_ratio:g}-fold "
                    "(qualitative.qdpx_limits.max_ratio): a compression bomb"
                )
            total += info.file_size
        if total > lim.max_total_bytes:
            raise _input_error(
                f"{name}: the archive's members expand to {_mb(total)}, more than the limit of "
                f"{_mb(lim.max_total_bytes)} (qualitative.qdpx_limits.max_total_bytes)"
            )
        spans = sorted((i.header_offset, i.header_offset + 30 + len(i.filename.encode()), i) for i in infos)
        for (start, _, a), (nxt, _, b) in zip(spans, spans[1:], strict=False):
            if nxt < start + 30 + a.compress_size:
                raise _input_error(
                    f"{name}: members {a.filename!r} and {b.filename!r} share compressed data "
                    "(overlapping zip entries, a compression bomb); refused"
                )

    # -- members -------------------------------------------------------------------------------------
    def find_member(self, name: str) -> str | None:
        """The archive's spelling of member ``name`` (case-insensitive), or ``None``."""
        return self.members.get(name.lower())

    def read(self, member: str) -> bytes:
        """The bytes of ``member`` (exact archive name), read once and counted against the limits."""
        if member in self._cache:
            return self._cache[member]
        lim = self.limits
        info = self.zf.getinfo(member)
        out = bytearray()
        try:
            with self.zf.open(info) as fh:
                while chunk := fh.read(_CHUNK):
                    out += chunk
                    if len(out) > lim.max_member_bytes or len(out) > info.file_size:
                        raise _input_error(
                            f"{self.path}: member {member!r} expands beyond "
                            f"{_mb(min(lim.max_member_bytes, info.file_size))} "
                            "(its declared size or qualitative.qdpx_limits.max_member_bytes); refused"
                        )
                    if self.bytes_read + len(out) > lim.max_total_bytes:
                        raise _input_error(
                            f"{self.path}: reading {member!r} passes the limit of {_mb(lim.max_total_bytes)} "
                            "read from the archive (qualitative.qdpx_limits.max_total_bytes); refused"
                        )
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as err:
            raise _input_error(
                f"{self.path}: member {member!r} cannot be read from the archive ({err})"
            ) from None
        self.bytes_read += len(out)
        data = bytes(out)
        self._cache[member] = data
        return data

    def read_outside(self, file: Path) -> bytes:
        """A file beside the archive (``relative://``), under the same size limits, read once."""
        key = f"relative:{file}"
        if key in self._cache:
            return self._cache[key]
        size = file.stat().st_size
        if size > self.limits.max_member_bytes:
            raise _input_error(
                f"{file}: {_mb(size)}, more than the limit of {_mb(self.limits.max_member_bytes)} "
                "(qualitative.qdpx_limits.max_member_bytes)"
            )
        if self.bytes_read + size > self.limits.max_total_bytes:
            raise _input_error(
                f"{file}: reading it passes the limit of {_mb(self.limits.max_total_bytes)} "
                "(qualitative.qdpx_limits.max_total_bytes)"
            )
        data = file.read_bytes()[: self.limits.max_member_bytes + 1]
        self.bytes_read += len(data)
        self._cache[key] = data
        return data

    def project_xml(self) -> tuple[str, bytes]:
        """The single ``*.qde`` member, any name and case (``project.qde``, ``Trial.qde``)."""
        qde = sorted(
            n for n in self.members.values() if n.lower().endswith(".qde") and "/" not in n.strip("/")
        )
        if not qde:
            qde = sorted(n for n in self.members.values() if n.lower().endswith(".qde"))
        if not qde:
            raise _input_error(f"{self.path}: project.qde not found in the archive (no *.qde member)")
        if len(qde) > 1:
            raise _input_error(
                f"{self.path}: the archive holds {len(qde)} project files {qde}; expected one *.qde"
            )
        return qde[0], self.read(qde[0])

    # -- paths named by the project ------------------------------------------------------------------
    def resolve(self, ref: str) -> tuple[str, str | Path] | str:
        """Where ``ref`` (a ``plainTextPath``/``path``) points: ``("member", name)``, ``("file", path)``,
        or an explanation (``str``) of why it cannot be read.

        ``internal://x`` is ``sources/x`` in the archive; ``relative://x`` (also ``relative:///x``) is
        ``x`` under the folder holding the ``.qdpx``; a bare ``x`` (qc writes these) is looked for in
        the archive's ``sources/`` and root, then beside the ``.qdpx``. Absolute paths, ``..`` that
        leaves the archive or the folder, and other schemes are refused.
        """
        if ref.startswith("internal://"):
            rel = _inside(ref[len("internal://") :])
            if rel is None:
                return f"path {ref!r} leaves the archive; refused"
            member = self.find_member(f"sources/{rel}")
            return ("member", member) if member else f"not found in the archive (looked for sources/{rel})"
        if ref.startswith("relative://"):
            return self._beside(ref[len("relative://") :].lstrip("/"), ref)
        if "://" in ref or ref.startswith(("/", "\\")) or (len(ref) > 1 and ref[1] == ":"):
            return f"path {ref!r}: only internal://, relative:// and bare relative paths are read"
        rel = _inside(ref)
        if rel is None:
            return f"path {ref!r} leaves the project; refused"
        for candidate in (f"sources/{rel}", rel):
            member = self.find_member(candidate)
            if member:
                return ("member", member)
        found = self._beside(rel, ref)
        if isinstance(found, str):
            return f"not found in the archive (looked for sources/{rel} and {rel}) nor beside it"
        return found

    def _beside(self, rel: str, ref: str) -> tuple[str, Path] | str:
        folder = self.path.resolve().parent
        clean = _inside(rel)
        if clean is None:
            return f"path {ref!r} leaves the project folder {folder}; refused"
        target = (folder / clean).resolve()
        if not target.is_relative_to(folder):
            return f"path {ref!r} leaves the project folder {folder}; refused"
        if not target.is_file():
            return f"not found (looked for {target})"
        return ("file", target)

    def read_ref(self, ref: str) -> bytes | str:
        """The bytes ``ref`` points to, or the reason (``str``) they cannot be read."""
        where = self.resolve(ref)
        if isinstance(where, str):
            return where
        kind, target = where
        return self.read(target) if kind == "member" else self.read_outside(target)


def _inside(rel: str) -> str | None:
    """``rel`` normalised (``\\`` as ``/``), or ``None`` when it is absolute or climbs out with ``..``."""
    rel = rel.replace("\\", "/")
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        return None
    norm = posixpath.normpath(rel)
    if norm == ".." or norm.startswith("../") or norm.startswith("/") or norm in ("", "."):
        return None
    return norm
