"""The journal: every accepted event, appended before it is acted on, and snapshots that bound replay time.

Theory of operation
-------------------
A *data directory* holds::

    genesis.cfg                      the CenterConfig the ACD was first built with (replay from seq 1 starts here)
    journal-<firstseq>.log           segments of frames; a new one starts at each snapshot
    snapshot-<seq>.snap              the ACD's whole state after event ``seq``

A segment is an 8-byte magic (``SWBJRNL1``) followed by frames. A frame is::

    4-byte big-endian payload length | 4-byte big-endian CRC32 (zlib.crc32) of the payload | payload

and the payload is msgpack of ``[seq, now, encode(event)]``. Sequence numbers start at 1 and go up by one with no
gap, across segments; the file name carries the first seq of the segment (zero-padded, so names sort in order).

Writes go straight to the kernel (``os.write``, no user-space buffer), so an event appended is on disk for every
crash but a power loss even with ``fsync="never"``; ``fsync`` says how far power loss is covered: ``always`` (fsync
after every append), ``batch`` (at most every ``batch_ms`` milliseconds; the runtime also syncs on a timer) or
``never`` (tests, simulations).

Reading: a crash in the middle of ``os.write`` leaves a *torn last frame* (short header, short payload, or a CRC
mismatch) at the end of the last segment. It is detected, reported and cut off by ``Journal.open``; a reader never
returns it. A bad frame that is followed by a valid frame anywhere later is *corruption*, not a torn write:
``JournalError`` names the file and the byte offset, and nothing is skipped silently.

Snapshots are written atomically (temporary file, fsync, rename, fsync of the directory) with their own magic,
length and CRC. At snapshot time the journal rotates: the segment in use is synced and closed and the next event
goes to ``journal-<seq+1>.log``, so recovery reads only the segments after the snapshot. ``prune`` keeps the last
``keep`` snapshots and every segment needed to replay from the oldest of them, so that a corrupt newest snapshot
still has a fallback.

``recover(data_dir, config)`` loads the newest valid snapshot (a corrupt one is reported and the next older one,
or the genesis configuration with a full replay, is used instead), then feeds the later frames to the ACD and
discards the actions: the ACD is deterministic, so this is the exact state at the last journaled event.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from engine.errors import JournalError, SwitchboardError
from engine.events import Event, decode, encode
from engine.model import CenterConfig

log = logging.getLogger("switchboard.journal")

SEGMENT_MAGIC = b"SWBJRNL1"
SNAPSHOT_MAGIC = b"SWBSNAP1"
GENESIS_MAGIC = b"SWBGENE1"
HEADER = struct.Struct(">II")
MAX_FRAME = 64 * 1024 * 1024
"""A frame longer than this is not a frame: its length field is garbage."""
FSYNC_POLICIES = ("always", "batch", "never")
GENESIS_NAME = "genesis.cfg"
LOCK_NAME = "LOCK"

_SEGMENT_RE = re.compile(r"^journal-(\d{20})\.log$")
_SNAPSHOT_RE = re.compile(r"^snapshot-(\d{20})\.snap$")


def segment_name(first_seq: int) -> str:
    return f"journal-{first_seq:020d}.log"


def snapshot_name(seq: int) -> str:
    return f"snapshot-{seq:020d}.snap"


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _unpack(data: bytes | memoryview) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def encode_frame(seq: int, now: float, event: Event) -> bytes:
    """The bytes of one frame: header (length, CRC32) and payload."""
    payload = _pack([seq, float(now), encode(event)])
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


# ------------------------------------------------------------------------------------------- listing ----

def list_segments(data_dir: str | Path) -> list[tuple[int, Path]]:
    """``(first_seq, path)`` of every segment, in order."""
    d = Path(data_dir)
    if not d.is_dir():
        return []
    out = []
    for p in d.iterdir():
        m = _SEGMENT_RE.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def list_snapshots(data_dir: str | Path) -> list[tuple[int, Path]]:
    """``(seq, path)`` of every snapshot file, oldest first."""
    d = Path(data_dir)
    if not d.is_dir():
        return []
    out = []
    for p in d.iterdir():
        m = _SNAPSHOT_RE.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def has_journal(data_dir: str | Path) -> bool:
    """True if the directory holds any journal state (segments, snapshots or a genesis record)."""
    d = Path(data_dir)
    return bool(list_segments(d) or list_snapshots(d) or (d / GENESIS_NAME).exists())


# ------------------------------------------------------------------------------------------- reading ----

@dataclass(frozen=True, slots=True)
class Frame:
    seq: int
    now: float
    event: Event
    path: Path
    offset: int


@dataclass(slots=True)
class SegmentScan:
    """What reading one segment found: its frames, where the valid part ends and what was torn off."""

    path: Path
    frames: list[Frame]
    valid_end: int
    size: int
    torn: str | None = None  # description of the torn tail, None when clean

    @property
    def torn_bytes(self) -> int:
        return self.size - self.valid_end


def _frame_at(buf: bytes, offset: int) -> tuple[int, str | None]:
    """Check the frame at ``offset``: ``(end, None)`` if length and CRC are good, else ``(offset, why)``."""
    n = len(buf)
    if n - offset < HEADER.size:
        return offset, f"short header ({n - offset} of {HEADER.size} bytes)"
    length, crc = HEADER.unpack_from(buf, offset)
    if length == 0 or length > MAX_FRAME:
        return offset, f"impossible frame length {length}"
    end = offset + HEADER.size + length
    if end > n:
        return offset, f"short payload ({n - offset - HEADER.size} of {length} bytes)"
    if zlib.crc32(memoryview(buf)[offset + HEADER.size:end]) != crc:
        return offset, "CRC mismatch"
    return end, None


def _next_valid_frame(buf: bytes, start: int) -> int | None:
    """The first offset after ``start`` where a frame with a good length and CRC begins, or None."""
    for p in range(start + 1, len(buf) - HEADER.size):
        length = int.from_bytes(buf[p:p + 4], "big")
        if length == 0 or length > MAX_FRAME or p + HEADER.size + length > len(buf):
            continue
        if _frame_at(buf, p)[1] is None:
            return p
    return None


def scan_segment(path: str | Path, *, last: bool = True) -> SegmentScan:
    """Read and check one segment. A torn tail is reported in the result (only allowed if ``last``); anything
    else wrong raises ``JournalError`` naming the file and byte offset."""
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"{path}: cannot read journal segment: {exc.strerror or exc}") from None
    size = len(buf)
    if size < len(SEGMENT_MAGIC):
        if SEGMENT_MAGIC.startswith(buf) and last:
            return SegmentScan(path, [], 0, size, f"torn segment header ({size} bytes)" if size else None)
        raise JournalError(f"{path}: not a Switchboard journal segment (bad header at byte offset 0)")
    if buf[:len(SEGMENT_MAGIC)] != SEGMENT_MAGIC:
        raise JournalError(f"{path}: not a Switchboard journal segment (bad header at byte offset 0)")
    frames: list[Frame] = []
    offset = len(SEGMENT_MAGIC)
    while offset < size:
        end, why = _frame_at(buf, offset)
        if why is not None:
            following = _next_valid_frame(buf, offset)
            if following is not None:
                raise JournalError(f"{path}: corrupt frame at byte offset {offset} ({why}; valid frames follow "
                                   f"at byte offset {following})")
            if not last:
                raise JournalError(f"{path}: corrupt frame at byte offset {offset} ({why}) in a segment that "
                                   f"is not the last one")
            return SegmentScan(path, frames, offset, size, f"{why} at byte offset {offset}")
        payload = memoryview(buf)[offset + HEADER.size:end]
        try:
            seq, now, encoded = _unpack(payload)
            if not isinstance(seq, int) or not isinstance(now, (int, float)):
                raise ValueError("bad [seq, now, event] record")
            event = decode(encoded)
            if not isinstance(event, Event):
                raise ValueError(f"{type(event).__name__} is not an event")
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise JournalError(f"{path}: unreadable frame at byte offset {offset}: {exc}") from None
        if frames and seq != frames[-1].seq + 1:
            raise JournalError(f"{path}: frame at byte offset {offset} has seq {seq}, expected "
                               f"{frames[-1].seq + 1}")
        frames.append(Frame(seq, float(now), event, path, offset))  # type: ignore[arg-type]
        offset = end
    return SegmentScan(path, frames, size, size, None)


def read_frames(data_dir: str | Path, after_seq: int = 0) -> Iterator[Frame]:
    """Every frame with ``seq > after_seq``, in order, checked (torn tail of the last segment left out).

    Raises ``JournalError`` on corruption, on a gap in the sequence numbers, or if the journal no longer holds
    the frame right after ``after_seq`` (pruned)."""
    segments = list_segments(data_dir)
    expected = after_seq + 1
    for i, (first, path) in enumerate(segments):
        is_last = i == len(segments) - 1
        if not is_last and segments[i + 1][0] <= after_seq + 1:
            continue  # every frame in it is at or before after_seq
        if first > expected:
            raise JournalError(f"{path}: segment starts at seq {first}, cannot replay from seq {expected} "
                               f"(older segments pruned or missing)")
        scan = scan_segment(path, last=is_last)
        if scan.frames and scan.frames[0].seq != first:
            raise JournalError(f"{path}: first frame has seq {scan.frames[0].seq}, the file name says {first}")
        for frame in scan.frames:
            if frame.seq < expected:
                continue
            if frame.seq != expected:
                raise JournalError(f"{frame.path}: frame at byte offset {frame.offset} has seq {frame.seq}, "
                                   f"expected {expected} (gap in the journal)")
            expected += 1
            yield frame


# ------------------------------------------------------------------------------------------- writing ----

def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Journal:
    """The append side of the journal in one data directory. Use ``Journal.open``."""

    def __init__(self, data_dir: Path, fd: int, path: Path, last_seq: int, *, fsync: str, batch_ms: float):
        self.data_dir = data_dir
        self.fsync = fsync
        self.batch_ms = batch_ms
        self.last_seq = last_seq
        self.path = path
        self._fd: int | None = fd
        self._lock_fd: int | None = None
        self._undo: tuple[int, int, float | None] | None = None
        self._dirty = False
        self._last_sync = time.monotonic()
        self.last_now: float | None = None
        """The ``now`` of the last frame of the segment in use, when it has one (read on open, kept on append)."""
        self.torn: SegmentScan | None = None
        """The scan that found a torn tail on open (already cut off), for the caller to report."""

    @classmethod
    def open(cls, data_dir: str | Path, *, fsync: str = "batch", batch_ms: float = 50.0) -> Journal:
        """Open (creating the directory and a first segment if needed) for appending after the last good frame.
        A torn last frame is cut off and logged; corruption raises ``JournalError``."""
        if fsync not in FSYNC_POLICIES:
            raise JournalError(f"fsync policy must be one of {', '.join(FSYNC_POLICIES)}, not {fsync!r}")
        d = Path(data_dir)
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"{d}: cannot create data directory: {exc.strerror or exc}") from None
        lock_fd = cls._lock(d)
        try:
            return cls._open_locked(d, lock_fd, fsync, batch_ms)
        except BaseException:
            os.close(lock_fd)
            raise

    @staticmethod
    def _lock(d: Path) -> int:
        """One writer per data directory: an exclusive ``flock`` on ``LOCK``, held until ``close``."""
        path = d / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(f"{path}: cannot open lock file: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise JournalError(f"{d}: data directory is in use by another process (locked)") from None
        return fd

    @classmethod
    def _open_locked(cls, d: Path, lock_fd: int, fsync: str, batch_ms: float) -> Journal:
        segments = list_segments(d)
        torn = None
        last_now: float | None = None
        if not segments:
            snaps = list_snapshots(d)
            first = (snaps[-1][0] + 1) if snaps else 1
            path = d / segment_name(first)
            last_seq = first - 1
            fd = cls._create_segment(path, fsync != "never")
        else:
            first, path = segments[-1]
            scan = scan_segment(path, last=True)
            if scan.frames and scan.frames[0].seq != first:
                raise JournalError(f"{path}: first frame has seq {scan.frames[0].seq}, the file name says {first}")
            if scan.torn is not None:
                log.warning("journal: %s: dropped a torn last frame (%s, %d bytes)", path, scan.torn,
                            scan.torn_bytes)
                torn = scan
            last_seq = scan.frames[-1].seq if scan.frames else first - 1
            last_now = scan.frames[-1].now if scan.frames else None
            try:
                fd = os.open(path, os.O_RDWR)
                if scan.valid_end < len(SEGMENT_MAGIC):
                    os.ftruncate(fd, 0)
                    os.write(fd, SEGMENT_MAGIC)
                elif scan.torn is not None:
                    os.ftruncate(fd, scan.valid_end)
                os.lseek(fd, 0, os.SEEK_END)
                if scan.torn is not None:
                    os.fsync(fd)
            except OSError as exc:
                raise JournalError(f"{path}: cannot open journal segment: {exc.strerror or exc}") from None
        journal = cls(d, fd, path, last_seq, fsync=fsync, batch_ms=batch_ms)
        journal._lock_fd = lock_fd
        journal.torn = torn
        journal.last_now = last_now
        return journal

    @staticmethod
    def _create_segment(path: Path, fsync: bool = True) -> int:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, SEGMENT_MAGIC)
            if fsync:
                os.fsync(fd)
        except OSError as exc:
            raise JournalError(f"{path}: cannot create journal segment: {exc.strerror or exc}") from None
        if fsync:
            _fsync_dir(path.parent)
        return fd

    @property
    def closed(self) -> bool:
        return self._fd is None

    @property
    def dirty(self) -> bool:
        """Appended since the last fsync."""
        return self._dirty

    def append(self, seq: int, now: float, event: Event, *, sync: bool = True) -> None:
        """Write one frame. ``seq`` must be ``last_seq + 1``. With ``fsync="always"`` the frame is synced before
        this returns; with ``"batch"`` it is if the last sync is ``batch_ms`` old. ``sync=False`` leaves syncing
        to the caller (the runtime does it off the event loop with ``sync_handle``)."""
        if self._fd is None:
            raise JournalError(f"{self.path}: journal is closed")
        if seq != self.last_seq + 1:
            raise JournalError(f"{self.path}: append of seq {seq}, expected {self.last_seq + 1}")
        data = encode_frame(seq, now, event)
        self._undo = (os.lseek(self._fd, 0, os.SEEK_CUR), self.last_seq, self.last_now)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.last_seq = seq
        self.last_now = now
        self._dirty = True
        if not sync:
            return
        if self.fsync == "always":
            self.sync()
        elif self.fsync == "batch" and (time.monotonic() - self._last_sync) * 1000.0 >= self.batch_ms:
            self.sync()

    def undo_last(self) -> None:
        """Take the frame just appended back out (the ACD refused its event after all): truncate the segment to
        where it was. Only valid right after ``append``, before anything else touches the journal."""
        if self._fd is None or self._undo is None:
            raise JournalError(f"{self.path}: nothing to undo")
        end, self.last_seq, self.last_now = self._undo
        self._undo = None
        os.ftruncate(self._fd, end)
        os.lseek(self._fd, end, os.SEEK_SET)

    def sync(self) -> None:
        """fsync the segment in use (unless the policy is ``never``)."""
        if self._fd is None:
            return
        if self.fsync != "never" and self._dirty:
            os.fsync(self._fd)
        self._dirty = False
        self._last_sync = time.monotonic()

    flush = sync

    def sync_handle(self) -> int | None:
        """For syncing from a worker thread: a duplicate of the segment's descriptor to ``os.fsync`` and close
        (``None`` if there is nothing to sync). Marks the journal synced up to here; a rotation or close in the
        meantime does not disturb the duplicate."""
        if self._fd is None or self.fsync == "never" or not self._dirty:
            return None
        self._dirty = False
        self._last_sync = time.monotonic()
        return os.dup(self._fd)

    def sync_due(self) -> bool:
        """Batch policy: unsynced appends older than ``batch_ms``."""
        return self._dirty and self.fsync == "batch" and \
            (time.monotonic() - self._last_sync) * 1000.0 >= self.batch_ms

    def rotate(self) -> Path:
        """Close the segment in use (synced) and start ``journal-<last_seq+1>.log``. Returns the new path."""
        if self._fd is None:
            raise JournalError(f"{self.path}: journal is closed")
        first = self.last_seq + 1
        new_path = self.data_dir / segment_name(first)
        if new_path == self.path:
            return self.path  # nothing appended since the last rotation
        if self.fsync != "never":
            os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        self._fd = self._create_segment(new_path, self.fsync != "never")
        self.path = new_path
        self._dirty = False
        return new_path

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            if self.fsync != "never" and self._dirty:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------------------- snapshots ----

def _write_record(path: Path, magic: bytes, obj: Any, fsync: bool = True) -> None:
    _write_payload(path, magic, _pack(obj), fsync)


def _write_payload(path: Path, magic: bytes, payload: bytes, fsync: bool = True) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(magic + HEADER.pack(len(payload), zlib.crc32(payload)) + payload)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise JournalError(f"{path}: cannot write: {exc.strerror or exc}") from None
    if fsync:
        _fsync_dir(path.parent)


def _read_record(path: Path, magic: bytes, what: str) -> Any:
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    if buf[:len(magic)] != magic:
        raise JournalError(f"{path}: not a Switchboard {what} (bad header at byte offset 0)")
    offset = len(magic)
    if len(buf) < offset + HEADER.size:
        raise JournalError(f"{path}: truncated {what} (short header at byte offset {offset})")
    length, crc = HEADER.unpack_from(buf, offset)
    payload = buf[offset + HEADER.size:]
    if len(payload) != length:
        raise JournalError(f"{path}: truncated {what} ({len(payload)} of {length} payload bytes at byte "
                           f"offset {offset + HEADER.size})")
    if zlib.crc32(payload) != crc:
        raise JournalError(f"{path}: corrupt {what} (CRC mismatch at byte offset {offset + HEADER.size})")
    try:
        return _unpack(payload)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise JournalError(f"{path}: unreadable {what}: {exc}") from None


def write_snapshot(data_dir: str | Path, seq: int, state: dict[str, Any], *, fsync: bool = True) -> Path:
    """Write the state after event ``seq`` atomically (temp file, fsync, rename). Returns the path."""
    d = Path(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / snapshot_name(seq)
    _write_record(path, SNAPSHOT_MAGIC, {"seq": seq, "written_at": time.time(), "state": state}, fsync)
    return path


def encode_snapshot(seq: int, state: dict[str, Any]) -> bytes:
    """The payload of a snapshot, packed now (so the state may change afterwards); see ``write_encoded_snapshot``."""
    return _pack({"seq": seq, "written_at": time.time(), "state": state})


def write_encoded_snapshot(data_dir: str | Path, seq: int, payload: bytes, *, fsync: bool = True) -> Path:
    """``write_snapshot`` for a payload from ``encode_snapshot`` (for a worker thread: no ACD access)."""
    d = Path(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / snapshot_name(seq)
    _write_payload(path, SNAPSHOT_MAGIC, payload, fsync)
    return path


def read_snapshot(path: str | Path) -> tuple[int, dict[str, Any]]:
    """``(seq, state)`` of a snapshot file; ``JournalError`` if it is not a complete, valid one."""
    path = Path(path)
    record = _read_record(path, SNAPSHOT_MAGIC, "snapshot")
    if not isinstance(record, dict) or not isinstance(record.get("seq"), int) or \
            not isinstance(record.get("state"), dict):
        raise JournalError(f"{path}: snapshot has no seq/state")
    return record["seq"], record["state"]


def write_genesis(data_dir: str | Path, config: CenterConfig) -> Path:
    """Record the configuration that replay from seq 1 starts from (once, when a data directory is new)."""
    d = Path(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / GENESIS_NAME
    _write_record(path, GENESIS_MAGIC, {"config": config.to_dict()})
    return path


def read_genesis(data_dir: str | Path) -> CenterConfig | None:
    path = Path(data_dir) / GENESIS_NAME
    if not path.exists():
        return None
    record = _read_record(path, GENESIS_MAGIC, "genesis record")
    try:
        return CenterConfig.from_dict(record["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalError(f"{path}: unreadable genesis configuration: {exc}") from None


def prune(data_dir: str | Path, keep: int = 2) -> list[Path]:
    """Delete all but the newest ``keep`` snapshots and the segments only needed before the oldest kept one.
    Returns the deleted paths."""
    keep = max(1, keep)
    snaps = list_snapshots(data_dir)
    if len(snaps) <= keep:
        oldest_kept = snaps[0][0] if snaps else None
        doomed_snaps: list[tuple[int, Path]] = []
    else:
        doomed_snaps = snaps[:-keep]
        oldest_kept = snaps[-keep][0]
    deleted = []
    for _, p in doomed_snaps:
        try:
            p.unlink()
            deleted.append(p)
        except OSError as exc:
            log.warning("journal: cannot delete %s: %s", p, exc)
    if oldest_kept is not None:
        segments = list_segments(data_dir)
        for i, (_first, p) in enumerate(segments[:-1]):
            if segments[i + 1][0] <= oldest_kept + 1:  # all its frames are at or before the oldest kept snapshot
                try:
                    p.unlink()
                    deleted.append(p)
                except OSError as exc:
                    log.warning("journal: cannot delete %s: %s", p, exc)
    for p in Path(data_dir).glob(".snapshot-*.tmp"):
        try:
            p.unlink()
        except OSError:
            pass
    return deleted


# ----------------------------------------------------------------------------------------- recovery ----

@dataclass(slots=True)
class Recovery:
    """What ``recover_info`` did. ``acd``: the machine rebuilt (by default a ``Center``: the ACD and the dialer)."""

    acd: Any
    last_seq: int
    snapshot_seq: int  # 0 = replayed from the genesis configuration
    snapshot_path: Path | None
    replayed: int
    skipped_snapshots: list[str]  # the reasons newer snapshots could not be used

    def describe(self) -> str:
        start = f"snapshot {self.snapshot_path.name} (seq {self.snapshot_seq})" if self.snapshot_path \
            else "the genesis configuration (no usable snapshot)"
        return f"recovered seq {self.last_seq} from {start}, replayed {self.replayed} events"


def _build_acd(config: CenterConfig) -> Any:
    """The default machine of a data directory: the ACD and the dialer (``engine.center.Center``)."""
    from engine.center import Center
    return Center.build(config)


def _restore_acd(state: dict[str, Any]) -> Any:
    """A center from its snapshot, or from an ACD's own snapshot (written before the dialer ran)."""
    from engine.center import Center
    return Center.restore(state)


def recover_info(data_dir: str | Path, config: CenterConfig | None = None, *, use_snapshots: bool = True,
                 acd_factory: Callable[[CenterConfig], Any] | None = None,
                 acd_restore: Callable[[dict[str, Any]], Any] | None = None) -> Recovery:
    """Rebuild the ACD of ``data_dir``: newest valid snapshot + the frames after it (see ``recover``)."""
    d = Path(data_dir)
    build = acd_factory or _build_acd
    restore = acd_restore or _restore_acd
    skipped: list[str] = []
    base_seq, base_path, acd = 0, None, None
    if use_snapshots:
        for seq, path in reversed(list_snapshots(d)):
            try:
                snap_seq, state = read_snapshot(path)
                if snap_seq != seq:
                    raise JournalError(f"{path}: holds seq {snap_seq}, the file name says {seq}")
                try:
                    acd = restore(state)
                except SwitchboardError:
                    raise
                except Exception as exc:
                    raise JournalError(f"{path}: cannot restore the state in it ({type(exc).__name__}: "
                                       f"{exc})") from None
            except SwitchboardError as exc:
                log.warning("journal: skipping snapshot %s: %s", path.name, exc)
                skipped.append(str(exc))
                continue
            base_seq, base_path = seq, path
            break
    if acd is None:
        genesis = read_genesis(d)
        if genesis is None:
            if config is None:
                raise JournalError(f"{d}: no genesis record and no usable snapshot: cannot tell the starting "
                                   f"configuration")
            log.warning("journal: %s has no genesis record; replaying on the configuration given", d)
            genesis = config
        elif config is not None and config != genesis:
            log.info("journal: the configuration given differs from the data directory's; the data directory's "
                     "wins (state is rebuilt exactly)")
        acd = build(genesis)
    replayed = 0
    last_seq = base_seq
    for frame in read_frames(d, after_seq=base_seq):
        try:
            acd.feed(frame.event, frame.now)
        except SwitchboardError as exc:
            raise JournalError(f"{frame.path}: frame seq {frame.seq} at byte offset {frame.offset} is refused on "
                               f"replay ({exc}): the journal does not match this engine") from None
        except Exception as exc:
            log.exception("replay of frame seq %d failed", frame.seq)
            raise JournalError(f"{frame.path}: frame seq {frame.seq} at byte offset {frame.offset}: the ACD raised "
                               f"{type(exc).__name__} on replay ({exc})") from None
        replayed += 1
        last_seq = frame.seq
    return Recovery(acd, last_seq, base_seq, base_path, replayed, skipped)


def recover(data_dir: str | Path, config: CenterConfig | None = None) -> tuple[Any, int]:
    """``(center, last_seq)``: the exact state (ACD and dialer) after the last event journaled in ``data_dir``.

    The newest snapshot that reads back whole is restored and the frames after it are replayed (actions
    discarded). A corrupt or unreadable snapshot is logged and the next older one is used, or, with none left,
    the genesis configuration (``config`` if the directory has no genesis record) with a replay from seq 1.
    Raises ``JournalError`` if the journal is corrupt or no longer reaches back to a usable starting point."""
    r = recover_info(data_dir, config)
    return r.acd, r.last_seq
