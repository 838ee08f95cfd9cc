"""The enqueue micro-benchmark with tiny sizes: each store's row holds conveyor's cost per
call, the bare call's and their ratios; on Redis, the commands run per enqueue."""

from __future__ import annotations

from pathlib import Path

from benchmarks.enqueue.cli import main


def test_each_store_gets_a_row_with_its_ratios(tmp_path: Path) -> None:
    output = tmp_path / "enqueue.md"

    main(["--n", "30", "--rounds", "2", "--output", str(output)])

    rows = {
        cells[0]: cells
        for line in output.read_text().splitlines()
        if line.startswith("| ") and not line.startswith("| store")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert set(rows) == {"redis", "postgres", "sqlite"}
    for cells in rows.values():
        figures = [float(c.replace(",", "")) for c in cells[2:8]]  # walls, CPUs, ratios
        assert all(figure > 0 for figure in figures), cells
    assert 5 <= float(rows["redis"][8]) <= 20  # the EVALSHA and the commands of its script
