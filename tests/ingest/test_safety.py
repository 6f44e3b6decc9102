"""Files that would expand beyond sane limits, or are no workbook at all, never reach the parser."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from pipelines.ingest import safety
from pipelines.ingest.safety import check_xlsx, sniff

_PARTS = {"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"}


def _real_workbook(path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("单位信息").write_row(0, 0, ["单位代码", "单位名称"])
    book.close()
    return path


def _zip(path: Path, entries: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def test_a_real_workbook_passes(tmp_path: Path) -> None:
    assert check_xlsx(_real_workbook(tmp_path / "ok.xlsx")) is None


def test_a_highly_compressed_entry_is_a_zip_bomb(tmp_path: Path) -> None:
    bomb = _zip(tmp_path / "bomb.xlsx", {**_PARTS, "xl/worksheets/sheet1.xml": b"\0" * (20 * 1024 * 1024)})
    assert bomb.stat().st_size < 100_000  # 20 MB of zeros packs into ~20 KB
    refusal = check_xlsx(bomb)
    assert refusal is not None and refusal.kind == "zip_bomb"
    assert "压缩比" in refusal.detail


def test_too_much_uncompressed_data_is_a_zip_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safety, "MAX_UNCOMPRESSED_BYTES", 1_000_000)
    # Stored (uncompressed) so the ratio is 1: only the total can catch it.
    path = _zip(tmp_path / "big.xlsx", {**_PARTS, "xl/a.xml": b"x" * 1_200_000}, zipfile.ZIP_STORED)
    refusal = check_xlsx(path)
    assert refusal is not None and refusal.kind == "zip_bomb"


def test_too_many_entries_is_a_zip_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safety, "MAX_ENTRIES", 50)
    path = _zip(tmp_path / "many.xlsx", {**_PARTS, **{f"xl/p{i}.xml": "<x/>" for i in range(60)}})
    refusal = check_xlsx(path)
    assert refusal is not None and refusal.kind == "zip_bomb"


def test_a_header_that_understates_the_size_is_caught_by_decompressing(tmp_path: Path) -> None:
    """The central directory says 100 bytes; the stream inflates to 5 MB."""
    path = _zip(tmp_path / "liar.xlsx", {**_PARTS, "xl/worksheets/sheet1.xml": b"<row/>" * 900_000})
    data = bytearray(path.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    patched = 0
    # The uncompressed size sits at offset 22 of a local header and 24 of a central directory entry.
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        for start in _headers(data, signature):
            if data[start + name_at : start + name_at + len(name)] == name:
                struct.pack_into("<I", data, start + size_at, 100)
                patched += 1
    assert patched == 2
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo(name.decode()).file_size == 100
    refusal = check_xlsx(path)
    assert refusal is not None and refusal.kind in ("unreadable_file", "zip_bomb")


def _headers(data: bytearray, signature: bytes) -> list[int]:
    out, at = [], data.find(signature)
    while at >= 0:
        out.append(at)
        at = data.find(signature, at + 1)
    return out


def test_a_word_document_renamed_xlsx_is_not_a_workbook(tmp_path: Path) -> None:
    path = _zip(tmp_path / "x.xlsx", {"[Content_Types].xml": "<Types/>", "word/document.xml": "<w/>"})
    refusal = check_xlsx(path)
    assert refusal is not None and refusal.kind == "not_a_workbook"


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"%PDF-1.4\n%%EOF\n", "pdf"),
        ("平时考核数据见附件".encode("gb18030"), "text"),
        (b"<html><body></body></html>", "html"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "ole2"),
        (b"", "empty"),
        (b"\x00\x01\x02\x03\xff" * 10, "binary"),
    ],
)
def test_other_files_renamed_xlsx_are_not_workbooks(tmp_path: Path, content: bytes, kind: str) -> None:
    assert sniff(content) == kind
    path = tmp_path / "renamed.xlsx"
    path.write_bytes(content)
    refusal = check_xlsx(path)
    assert refusal is not None and refusal.kind == "not_a_workbook"


def test_a_workbook_with_an_open_password_is_named_as_such(tmp_path: Path) -> None:
    """Excel's "encrypt with password" (here msoffcrypto-tool's, the same ECMA-376 agile encryption)
    makes an OLE2 file, not a zip: the unit is told to remove the password, not that it sent an .xls."""
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = _real_workbook(tmp_path / "plain.xlsx")
    locked = tmp_path / "locked.xlsx"
    with plain.open("rb") as src, locked.open("wb") as dst:
        OOXMLFile(src).encrypt("密码123", dst)
    assert sniff(locked.read_bytes()[:4096]) == "ole2"
    refusal = check_xlsx(locked)
    assert refusal is not None and refusal.kind == "not_a_workbook"
    assert refusal.detail == safety.ENCRYPTED_DETAIL and "打开密码" in refusal.detail
    # an old .xls (or any other OLE2 file) is still told to save as .xlsx
    old = tmp_path / "old.xlsx"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    other = check_xlsx(old)
    assert other is not None and "旧版Excel" in other.detail


def test_a_zip_with_two_entries_of_one_name_is_refused(tmp_path: Path) -> None:
    """Which copy a reader takes is the reader's choice (zipfile the last, another maybe the first)."""
    path = _real_workbook(tmp_path / "twice.xlsx")
    with zipfile.ZipFile(path) as zf:
        sheet = next(n for n in zf.namelist() if n.startswith("xl/worksheets/"))
        data = zf.read(sheet)
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "a") as zf:
        zf.writestr(sheet, data)
    refusal = check_xlsx(path)
    assert refusal is not None and refusal.kind == "unreadable_file"
    assert "重名的条目" in refusal.detail and sheet in refusal.detail


def test_a_truncated_workbook_is_unreadable(tmp_path: Path) -> None:
    path = _real_workbook(tmp_path / "cut.xlsx")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    refusal = check_xlsx(path)
    assert refusal is not None and refusal.kind == "unreadable_file"


def test_an_oversized_file_is_refused_before_opening(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safety, "MAX_FILE_BYTES", 1000)
    path = _real_workbook(tmp_path / "ok.xlsx")
    refusal = check_xlsx(path)
    assert refusal is not None and refusal.kind == "file_too_large"
