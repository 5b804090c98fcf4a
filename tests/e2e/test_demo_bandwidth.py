"""The bandwidth demo scenario end to end: nodes, a site and a market on loopback, paid on chain."""

from __future__ import annotations

from pathlib import Path

from earnest.demo.bandwidth import BandwidthOptions, run_bandwidth


def test_the_cheat_is_caught_and_honest_nodes_are_paid(tmp_path: Path) -> None:
    summary = run_bandwidth(BandwidthOptions(pages=4, data_dir=tmp_path))
    assert summary["caught"] and summary["rejected"] == summary["planted"] == 2
    assert summary["verified"] == 4 * 3 - 2 and summary["tasks_agreed"] == 4
    assert summary["bodies_match"] and summary["reconciled"]
    assert 0 < summary["base_units_paid"] < summary["budget"] - summary["refunded"]
