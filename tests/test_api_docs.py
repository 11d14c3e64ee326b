"""docs/api.md is true: its ```python blocks run, in order, as one script, in an empty
folder against a test database (a block that no longer matches the API fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.requires import import_or_skip

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def api_blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_page_has_examples_of_every_stage() -> None:
    code = "\n".join(api_blocks())
    for stage in ("ingest_file", "geocode(", "build_partitioning", "train(", "predict(",
                  "evaluate(", "compute_concepts", "concept_report", "export_cells",
                  "export_predictions", "export_qgis", "create_viewer", "explain_page"):
        assert stage in code, stage


@pytest.mark.slow
def test_api_examples_run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    import_or_skip("torch", "the ml extra: pip install 'geotool[ml]'")
    monkeypatch.setenv("GEOTOOL_DATABASE_URL", db_url)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "api_md"}
    for number, block in enumerate(api_blocks(), 1):
        try:
            exec(compile(block, f"docs/api.md block {number}", "exec"), namespace)
        except Exception as exc:  # name the block that broke
            raise AssertionError(f"docs/api.md block {number} failed: {exc!r}\n{block}"
                                 ) from exc
    printed = capsys.readouterr().out
    assert "240 images loaded, 0 rejected" in printed
    assert "split 'holdout' is not one of train, val, test" in printed
    assert (tmp_path / "cells.geojson").is_file() and (tmp_path / "pred.csv").is_file()
