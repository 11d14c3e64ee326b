"""Concept-pass options the computation cannot honour are refused by name before any work
(a ``k`` of 0 used to become 1 silently; a negative β or a level the model lacks failed
deep inside with a plain ValueError / IndexError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geotool.errors import GeotoolError, InvalidValueError
from geotool.explain.attributions import ExplainParams
from geotool.explain.pipeline import InfluenceParams


@pytest.mark.parametrize(("options", "named"), [
    (InfluenceParams(k=0), "--k 0"),
    (InfluenceParams(k=-3), "--k -3"),
    (InfluenceParams(betas=(0, -1)), "--beta"),
    (InfluenceParams(betas=()), "--beta"),
    (InfluenceParams(min_size=1.0), "--min-size"),
    (InfluenceParams(min_size=-0.1), "--min-size"),
    (InfluenceParams(batch_size=0), "--batch-size"),
    (InfluenceParams(limit=0), "--limit"),
    (InfluenceParams(explain=ExplainParams(ig_steps=1)), "--ig-steps"),
    (InfluenceParams(explain=ExplainParams(reduction="mean")), "--reduction"),
    (InfluenceParams(explain=ExplainParams(baseline="grey")), "baseline"),
    (InfluenceParams(explain=ExplainParams(level=3)), "level 3: the model has 3 levels"),
    (InfluenceParams(explain=ExplainParams(level=-1)), "level -1"),
])
def test_bad_options_are_refused_by_name(options: InfluenceParams, named: str) -> None:
    with pytest.raises(InvalidValueError, match=named):
        options.check(n_levels=3)


def test_good_options_pass() -> None:
    InfluenceParams().check(n_levels=1)
    InfluenceParams(k=1, betas=(0, 2), min_size=0.01, limit=5,
                    explain=ExplainParams(level=2)).check(n_levels=3)


def test_list_flags_are_parsed_by_the_params_classes() -> None:
    """``--beta 0,1,2`` and ``--intervals 0,25,750`` are parsed where they are checked, so
    Python callers and the CLI get the same errors."""
    from geotool.explain.pipeline import ConceptParams
    from geotool.explain.report import ReportParams

    assert InfluenceParams.parse_betas("2,0, 1,2") == (0, 1, 2)
    for bad in ("", "1,x", "-1"):
        with pytest.raises(InvalidValueError, match="--beta"):
            InfluenceParams.parse_betas(bad)
    assert ReportParams.parse_bounds("0,25,750") == (0.0, 25.0, 750.0)
    with pytest.raises(InvalidValueError, match="--intervals"):
        ReportParams.parse_bounds("0,far")
    with pytest.raises(InvalidValueError, match="increasing"):
        ReportParams(model="m", bounds_km=(25.0, 0.0)).validate()
    with pytest.raises(InvalidValueError, match="given class"):
        ConceptParams("m", "d", influence=InfluenceParams(
            explain=ExplainParams(target="given"))).validate()
    with pytest.raises(InvalidValueError, match="--split"):
        ConceptParams("m", "d", split="holdout").validate()


def test_an_unwritable_figure_path_is_a_geotool_error(tmp_path: Path) -> None:
    """Used to be a PermissionError/NotADirectoryError traceback with the figure left open."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from geotool.explain.report import save_figure

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    fig, _ = plt.subplots()
    with pytest.raises(GeotoolError, match="cannot write the figure to .*a_file"):
        save_figure(fig, blocker / "chart.png", 50)
    assert not plt.fignum_exists(fig.number)
    written = save_figure(plt.subplots()[0], tmp_path / "sub" / "ok.png", 50)
    assert written.stat().st_size > 0 and plt.get_fignums() == []
