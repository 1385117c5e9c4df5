"""The demo's closing table: one row an order, in plain words, its columns aligned in a terminal
also when a cell holds Chinese (two columns a character)."""

from __future__ import annotations

from wcwidth import wcswidth

from dispatch.simulation import DAY, TABLE_HEADER, aligned, outcome_row


def _starts(line: str, cells: list[str]) -> list[int]:
    """The terminal column each cell starts at."""
    out, at = [], 0
    for cell in cells:
        at = line.index(cell, at)
        out.append(wcswidth(line[:at]))
        at += len(cell)
    return out


def test_rows_say_claim_truth_verdict_and_complaint_and_line_up_with_chinese_names():
    wang = next(s for s in DAY if s.name == "王芳")
    mary = next(s for s in DAY if s.name == "Mary Smith")
    rows = [
        outcome_row(
            wang,
            {"id": 41, "provider": {"code": "NJ-SVC"}},
            {"verdict": "contradicted", "state": "resolved"},
            [{"id": 7, "work_order_id": 41}, {"id": 8, "work_order_id": 99}],
        ),
        outcome_row(mary, {"id": 1234, "provider": {"code": "SPR-HEAT"}}, {"state": "human_queue"}, []),
    ]
    assert rows[0][3:] == [
        "NJ-SVC: customer not home",
        "nobody went; the customer says so in Mandarin",
        "customer denied it",
        "#7 held at headquarters",
    ]
    assert rows[1][3:] == [
        "SPR-HEAT: job done",
        "installed; the customer is delighted",
        "still being checked (human queue)",
        "none",
    ]
    lines = aligned(TABLE_HEADER, rows)
    assert len(lines) == 4  # header, rule, two rows
    header_starts = _starts(lines[0], TABLE_HEADER)
    for line, row in zip(lines[2:], rows, strict=True):
        assert _starts(line, row) == header_starts, line
    # The rule under the header spans each column's width exactly.
    rule_starts = [0] + [i + 1 for i, ch in enumerate(lines[1]) if ch == " " and lines[1][i + 1] == "-"]
    assert rule_starts == header_starts
    # With ljust (counting characters, not columns) the Chinese row would be two columns short per character.
    assert wcswidth(lines[2].split("  Nanjing")[0]) == wcswidth(lines[3].split("  Springfield")[0])
