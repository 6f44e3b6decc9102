"""Refuse files that would expand beyond sane limits before any parser opens them.

An .xlsx file is a zip archive; a few kilobytes can declare (or really hold) gigabytes of XML. The
checks run in two steps: first the central directory (entry count, declared sizes, compression
ratios), then a bounded streaming decompression of every entry, which catches archives whose
headers lie about their sizes (Python's zipfile stops at the declared size and the CRC then fails).
Only a file that passes both reaches calamine, inside a worker process with a timeout and a memory
cap (see workers.py), so even a parser bug cannot hang or exhaust the run.

The same decompression pass looks for document type declarations in the package's XML parts. Excel
never writes one; a DOCTYPE with ENTITY definitions is how an entity-expansion ("billion laughs") or
external-entity file is built, so such a file is refused before any XML parser sees it.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

# Limits, with why they are where they are. A real unit workbook is 20-80 KB on disk and expands
# to at most a few MB (the largest generated city workbook: 60 KB -> 0.4 MB, ratio 8).
MAX_FILE_BYTES = 20 * 1024 * 1024  # 20 MB on disk: ~300x the largest real workbook
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024  # 50 MB of XML in total: room for ~500k rating rows
MAX_RATIO = 100  # uncompressed/compressed per entry; real XML compresses 5-15x, bombs 1000x+
RATIO_FLOOR_BYTES = 1024 * 1024  # tiny entries (styles, theme) may compress extremely well; ignore
MAX_ENTRIES = 10_000  # a workbook has ~10-20 parts; thousands of entries is an attack
MAX_CSV_BYTES = 50 * 1024 * 1024  # all CSV files of one delivery together
MAX_ROWS_PER_SHEET = 100_000  # 10x the largest plausible unit (500 staff x ~15 raters)
MAX_COLUMNS_PER_SHEET = 200  # the widest template sheet has 11 columns
_CHUNK = 1024 * 1024

# Parts every SpreadsheetML package has; a .docx is a valid zip without them.
_WORKBOOK_PARTS = ("[Content_Types].xml", "xl/workbook.xml")


@dataclass(frozen=True)
class Refusal:
    """Why a file is not parsed: an issue kind (see issues.py) and a Chinese detail for the unit."""

    kind: str
    detail: str
    technical: str = ""  # the library's own words, for the log only


def sniff(head: bytes) -> str:
    """What the first bytes say the file is: zip, ole2 (legacy .xls/.doc), pdf, html, text, empty, binary."""
    if not head:
        return "empty"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole2"
    if head.startswith(b"%PDF"):
        return "pdf"
    lowered = head[:512].lstrip().lower()
    if lowered.startswith((b"<html", b"<!doctype html", b"<table")):
        return "html"
    if b"\x00" not in head[:4096]:
        return "text"
    return "binary"


_SNIFF_DETAIL = {
    "empty": "，文件为空",
    "ole2": "，而是旧版Excel（.xls）或Word文件，请另存为.xlsx",
    "pdf": "，而是PDF文件",
    "html": "，而是网页（HTML）文件",
    "text": "，而是文本文件",
    "binary": "，文件格式无法识别",
}


# A workbook saved with an open password is not a zip: Excel wraps the encrypted package in an OLE2
# compound file, as old .xls files are, with streams named EncryptionInfo and EncryptedPackage.
ENCRYPTED_DETAIL = "，而是设置了打开密码的加密文件：请在Excel中取消打开密码后另存为.xlsx重新报送"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


def is_encrypted_package(path: Path) -> bool:
    """Whether an OLE2 file holds an encrypted Office package (its directory names the stream). Called
    after check_size, so at most MAX_FILE_BYTES are read."""
    with path.open("rb") as fh:
        return _ENCRYPTED_STREAM in fh.read(MAX_FILE_BYTES + 1)


def check_size(size: int, limit: int | None = None) -> Refusal | None:
    limit = MAX_FILE_BYTES if limit is None else limit
    if size > limit:
        return Refusal("file_too_large", f"（{size / 1e6:.1f} MB，上限 {limit / 1e6:.0f} MB）")
    return None


def check_xlsx(path: Path, formula_parts: set[str] | None = None) -> Refusal | None:
    """None when `path` is a plausible workbook within every limit, else why it is refused.

    `formula_parts`, if given, receives the names of the parts holding formula or error cells: the
    decompression pass sees every byte anyway, so the reader knows for free whether any sheet needs
    its XML looked at (read.note_formula_cells)."""
    size = path.stat().st_size
    refused = check_size(size)
    if refused:
        return refused
    with path.open("rb") as fh:
        head = fh.read(4096)
    kind = sniff(head)
    if kind == "ole2" and is_encrypted_package(path):
        return Refusal("not_a_workbook", ENCRYPTED_DETAIL)
    if kind != "zip":
        return Refusal("not_a_workbook", _SNIFF_DETAIL.get(kind, ""))
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            refused = check_declared(infos)
            if refused:
                return refused
            names = {i.filename for i in infos}
            if not all(p in names for p in _WORKBOOK_PARTS):
                return Refusal("not_a_workbook", "，压缩包中没有工作簿内容（可能是Word等其他Office文件）")
            return verify_entries(zf, infos, formula_parts)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        OSError,
        ValueError,
        NotImplementedError,
    ) as exc:
        # A zip signature without a readable central directory: the typical cut-off upload.
        return Refusal(
            "unreadable_file",
            "（文件不完整或已损坏，可能上传时被截断；请用Excel重新保存后报送）",
            f"{type(exc).__name__}: {exc}",
        )


def check_declared(infos: list[zipfile.ZipInfo]) -> Refusal | None:
    """Limits on what the central directory declares; cheap, and stops most bombs outright."""
    if len(infos) > MAX_ENTRIES:
        return Refusal("zip_bomb", f"（压缩包含 {len(infos)} 个条目，上限 {MAX_ENTRIES}）")
    seen: set[str] = set()
    repeated: set[str] = set()
    for info in infos:
        (repeated if info.filename in seen else seen).add(info.filename)
    if repeated:
        # Excel never writes one; which copy a reader takes is up to the reader, so the file is ambiguous
        twice = min(repeated)
        return Refusal(
            "unreadable_file",
            f"（压缩包中有重名的条目“{twice[:80]}”，文件结构异常；请用Excel重新保存后报送）",
            f"duplicate zip entry {twice!r}",
        )
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        return Refusal(
            "zip_bomb", f"（解压后 {total / 1e6:.0f} MB，上限 {MAX_UNCOMPRESSED_BYTES / 1e6:.0f} MB）"
        )
    for info in infos:
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            return Refusal("zip_bomb", f"（条目 {info.filename} 压缩比 {ratio:.0f}，上限 {MAX_RATIO}）")
    return None


def verify_entries(
    zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], formula_parts: set[str] | None = None
) -> Refusal | None:
    """Decompress every entry in bounded chunks, counting real bytes against the limit.

    zipfile never yields more than an entry's declared size and checks the CRC at the end, so a
    header that under-declares its size fails here as a corrupt file instead of reaching calamine.
    """
    seen = 0
    for info in infos:
        if info.is_dir():
            continue
        tail = b""  # the end of the previous chunk, so a declaration split across two is still seen
        with zf.open(info) as member:
            while chunk := member.read(_CHUNK):
                seen += len(chunk)
                if seen > MAX_UNCOMPRESSED_BYTES:
                    return Refusal("zip_bomb", f"（解压后超过 {MAX_UNCOMPRESSED_BYTES / 1e6:.0f} MB）")
                window = tail + chunk
                # Every spelling of a declaration holds a "!", which Excel's XML almost never does:
                # one memchr-fast test first (a tenth of a "<!" search), the regex only on a hit.
                if b"!" in window and _DECLARATION.search(window):
                    return Refusal("unsafe_xml", "", f"DOCTYPE/ENTITY declaration in {info.filename}")
                if formula_parts is not None and has_formula_or_error(window):
                    formula_parts.add(info.filename)
                tail = chunk[-_TAIL:]
    return None


# "<!DOCTYPE" or "<!ENTITY" in UTF-8 (or any ASCII-compatible encoding) and in UTF-16 either way round.
_DECLARATION = re.compile(
    rb"<!(?:DOCTYPE|ENTITY)"
    rb"|<\x00!\x00(?:D\x00O\x00C\x00T\x00Y\x00P\x00E|E\x00N\x00T\x00I\x00T\x00Y)\x00"
    rb"|\x00<\x00!\x00(?:D\x00O\x00C\x00T\x00Y\x00P\x00E|E\x00N\x00T\x00I\x00T\x00Y)"
)
_TAIL = 32
# A formula element (with or without a namespace prefix) or an error-typed cell; most workbooks have
# neither. A false hit only costs an XML pass (read.note_formula_cells).
_FORMULA_MARKS = (b"<f>", b"<f ", b"<f/", b":f>", b":f ", b":f/", b't="e"', b"t='e'")
_FORMULA_PREFIX = frozenset(b"<:")
_FORMULA_SUFFIX = frozenset(b"> /")
# Past this many "f" bytes in one part, the substring tests are cheaper than looking at each "f".
_MAX_F_VISITS = 2000


def has_formula_or_error(data: bytes) -> bool:
    """Whether any of _FORMULA_MARKS occurs in `data`.

    The element marks are found from the part's "f" bytes (a few hundred in a workbook, located at
    memchr speed) rather than by substring searches, which step over every "<" of the XML: a third
    of the time on a generated city's sheets. A part with more "f"s than _MAX_F_VISITS (a hostile
    one, say) gets the plain searches, so the cost stays linear in its size."""
    at = data.find(b"f", 1)
    visits = 0
    while at != -1:
        visits += 1
        if visits > _MAX_F_VISITS:
            return any(mark in data for mark in _FORMULA_MARKS)
        if data[at - 1] in _FORMULA_PREFIX and at + 1 < len(data) and data[at + 1] in _FORMULA_SUFFIX:
            return True
        at = data.find(b"f", at + 1)
    return b't="e"' in data or b"t='e'" in data
