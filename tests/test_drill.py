"""The failure drills' arithmetic (benchmarks/drills/report.py): what counts as lost, as run
twice, as a second of refusals, and what fails the CI form. The drills themselves run as
`make drill-short` in .ci/run (docs/operations.md)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.drills.report import measure, table
from benchmarks.drills.traffic import Answer, Traffic

BEGAN = 1_000.0


def traffic_with(answers: list[Answer], acked: dict[int, float]) -> Traffic:
    """A finished traffic run's record."""
    traffic = Traffic("http://127.0.0.1:9", "client", "secret", 0, 0)
    traffic.answers.extend(answers)
    traffic.acked.update(acked)
    return traffic


def ledger(folder: Path, *lines: str) -> Path:
    """A handler ledger of two processes, as benchmarks/drills/handlers.py writes it."""
    (folder / "ledger-11").write_text("".join(line + "\n" for line in lines[::2]))
    (folder / "ledger-12").write_text("".join(line + "\n" for line in lines[1::2]))
    return folder


def test_an_acknowledged_event_without_an_ended_run_is_lost_and_fails_the_drill(
    tmp_path: Path,
) -> None:
    answers = [
        Answer(BEGAN + 0.2, "webhook", 503),
        Answer(BEGAN + 0.9, "load", 503),
        Answer(BEGAN + 2.5, "webhook", 503),
        Answer(BEGAN + 3.0, "webhook", 200),
        Answer(BEGAN + 3.1, "load", 302),
    ]
    acked = {1: BEGAN - 1, 2: BEGAN + 3.0, 3: BEGAN - 0.5}
    # 1 ran twice; 2 ran; 3 started in a process that was killed, and never ended
    folder = ledger(tmp_path, f"D 1 11 {BEGAN - 0.9}", f"D 1 12 {BEGAN + 4}",
                    f"D 2 11 {BEGAN + 3.2}", f"S 3 12 {BEGAN - 0.4}")
    row = measure("fault", traffic_with(answers, acked), folder, BEGAN, BEGAN + 2)
    assert (row.lost, row.twice, row.acked) == (1, 1, 3)
    assert row.refusal_seconds == 2  # seconds 0 and 2 of the fault
    assert (row.loads, row.loads_refused) == (2, 1)
    assert row.failed and row.recovered_in is None
    assert "never run: 3" in row.note


def test_503s_and_runs_twice_alone_pass_and_recovery_counts_the_catch_up(
    tmp_path: Path,
) -> None:
    answers = [Answer(BEGAN + 1, "webhook", 503), Answer(BEGAN + 4, "webhook", 200)]
    acked = {1: BEGAN + 0.5, 2: BEGAN + 4}
    folder = ledger(tmp_path, f"D 1 11 {BEGAN + 6}", f"D 1 12 {BEGAN + 7}",
                    f"D 2 11 {BEGAN + 4.1}")
    row = measure("fault", traffic_with(answers, acked), folder, BEGAN, BEGAN + 2)
    assert not row.failed and row.twice == 1
    assert row.recovered_in == 4.0  # event 1, acknowledged before the end, ran at +6 s
    assert "| fault " in table([row])


def test_a_server_error_or_no_answer_fails_the_drill(tmp_path: Path) -> None:
    for status in (500, 502, 0):
        answers = [Answer(BEGAN + 1, "load", status)]
        row = measure("fault", traffic_with(answers, {}), tmp_path, BEGAN, BEGAN + 1)
        assert row.failed and row.other == {status: 1}
    row = measure("fault", traffic_with([Answer(BEGAN, "load", 429)], {}), tmp_path, BEGAN, BEGAN)
    assert not row.failed and row.other == {429: 1}, "reported, not a failure"


def test_the_wait_for_handlers_ends_when_all_ran_or_none_ends_any_more(tmp_path: Path) -> None:
    """The drill waits for a backlog the workers are still working through (late, not lost),
    and stops once no handler has ended for the stall time (benchmarks/drills/faults.py)."""
    from benchmarks.drills.faults import wait_for_runs

    folder = ledger(tmp_path, f"D 1 11 {BEGAN}", f"D 2 12 {BEGAN}")
    assert wait_for_runs(folder, {1, 2}, stall=5) < 1, "all ran: no wait"
    waited = wait_for_runs(folder, {1, 2, 3}, stall=0.5, most=10)
    assert 0.5 <= waited < 2, "no handler ends any more: the rest will not run"
    assert wait_for_runs(folder, {1, 2, 3}, stall=5, most=0.6) < 1.5, "never past `most`"
