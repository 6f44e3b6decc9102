"""Receipt pages: escaped, complete for errors, grouped for warnings, safely named."""

from __future__ import annotations

from datetime import datetime

from pipelines.domain.quarters import TZ
from pipelines.ingest.receipt import ReceiptHeader, receipt_file_name, render_receipt

HEADER = ReceiptHeader(
    quarter="2025Q3",
    unit_code="371602-X-017",
    unit_name="滨城区审计局",
    file_name="<script>alert(1)</script>.xlsx",
    submission_id="ab" * 32,
    arrival_at=datetime(2025, 10, 14, 9, 30, tzinfo=TZ),
    accepted=False,
    is_current=False,
)


def _item(
    severity: str, kind: str, row: int | None, value: str | None, message: str, header: str = "成效"
) -> dict[str, object]:
    return {
        "severity": severity,
        "kind": kind,
        "sheet": "评议打分",
        "excel_row": row,
        "column_header": header,
        "value": value,
        "message": message,
    }


def test_a_rejected_receipt_lists_every_error_and_groups_warnings() -> None:
    items = [
        _item("error", "wrong_type", 12, "优", "「评议打分」表第12行「成效」的值“优”不是数字"),
        _item("error", "out_of_range", 30, "<b>105</b>", "超出范围"),
        *[_item("warning", "number_as_text", r, "85", f"第{r}行是文本") for r in (3, 4, 5, 9)],
    ]
    page = render_receipt(HEADER, items)
    assert "已退回（2项错误）" in page
    assert "371602-X-017（滨城区审计局）" in page
    assert "2025-10-14 09:30:00（北京时间）" in page
    assert HEADER.submission_id in page
    assert "「评议打分」表第12行「成效」的值“优”不是数字" in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # file names and values are escaped
    assert "<b>105</b>" not in page
    assert "第3–5、9行" in page  # every warned row named, compactly
    assert page.count("<td>文本格式的数字</td>") == 1  # one line per (kind, sheet, column) ...
    assert "<td>4</td>" in page and "第3行是文本" in page  # ... with its count and an example


def test_accepted_receipts_say_whether_they_are_current() -> None:
    current = render_receipt(
        HEADER.__class__(**{**HEADER.__dict__, "accepted": True, "is_current": True}), []
    )
    assert "已接收（本单位本季度当前有效报送）" in current and "未发现任何问题" in current
    replaced = render_receipt(HEADER.__class__(**{**HEADER.__dict__, "accepted": True}), [])
    assert "已被本单位此后接收的报送取代" in replaced


def test_receipt_file_names_are_safe_and_unique() -> None:
    assert receipt_file_name("../../etc/passwd.xlsx", "f" * 64, "xlsx") == "passwd_ffffffffffff.html"
    assert receipt_file_name("市委办公室2025Q3平时考核（修改版）.xlsx", "0" * 64, "xlsx") == (
        "市委办公室2025Q3平时考核（修改版）_000000000000.html"
    )
    assert receipt_file_name("单位信息.csv、人员名册.csv", "1" * 64, "csv") == "CSV_111111111111.html"


def test_an_id_in_a_quoted_value_or_a_tidied_one_is_masked_on_the_receipt() -> None:
    """A probe found IDs in clear on receipts: a refused grade typed as an ID, a title normalisation
    tidied (the receipt quotes the original and the result), a file named after an ID."""
    from pipelines.domain.national_id import MASK
    from pipelines.ingest.issues import file_issue, issue
    from pipelines.ingest.receipt import receipt_file_name

    refused = issue("invalid_value", sheet="人员名册", row=3, header="岗位类别", value="37160219850101001X")
    assert refused.value == MASK and "37160219850101001X" not in refused.message
    tidied = issue(
        "fullwidth_normalised",
        sheet="人员名册",
        row=4,
        header="职务职级",
        value="３７１６０２１９８５０１０１００１Ｘ",
        detail="，已按“37160219850101001X”处理",
    )
    assert not any(ch.isdigit() for ch in tidied.message.replace("第4行", ""))
    assert "37160219850101001X" not in file_issue("unreadable_file", "（37160219850101001X）").message
    assert "37160219850101001X" not in receipt_file_name("37160219850101001X.xlsx", "ab" * 32, "xlsx")
