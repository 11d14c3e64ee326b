"""Concept-pass options the computation cannot honour are refused by name before any work
(a ``k`` of 0 used to become 1 silently; a negative β or a level the model lacks failed
deep inside with a plain ValueError / IndexError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geotool.errors import GeotoolError, InvalidValueError
from geotool.explain.attributions import ExplainOptions
from geotool.explain.pipeline import ConceptOptions


@pytest.mark.parametrize(("options", "named"), [
    (ConceptOptions(k=0), "--k 0"),
    (ConceptOptions(k=-3), "--k -3"),
    (ConceptOptions(betas=(0, -1)), "--beta"),
    (ConceptOptions(betas=()), "--beta"),
    (ConceptOptions(min_size=1.0), "--min-size"),
    (ConceptOptions(min_size=-0.1), "--min-size"),
    (ConceptOptions(batch_size=0), "--batch-size"),
    (ConceptOptions(limit=0), "--limit"),
    (ConceptOptions(explain=ExplainOptions(ig_steps=1)), "--ig-steps"),
    (ConceptOptions(explain=ExplainOptions(reduction="mean")), "--reduction"),
    (ConceptOptions(explain=ExplainOptions(baseline="grey")), "baseline"),
    (ConceptOptions(explain=ExplainOptions(level=3)), "level 3: the model has 3 levels"),
    (ConceptOptions(explain=ExplainOptions(level=-1)), "level -1"),
])
def test_bad_options_are_refused_by_name(options: ConceptOptions, named: str) -> None:
    with pytest.raises(InvalidValueError, match=named):
        options.check(n_levels=3)


def test_good_options_pass() -> None:
    ConceptOptions().check(n_levels=1)
    ConceptOptions(k=1, betas=(0, 2), min_size=0.01, limit=5,
                   explain=ExplainOptions(level=2)).check(n_levels=3)


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
