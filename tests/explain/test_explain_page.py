"""The explain-one-photo HTML page, loaded in a real headless Chromium.

On the viewing planet (support/viewing_planet.py: an S2 model with ≥ 25 fine cells) a
test photo known to the database is explained into one page. Chromium's DOM must hold the
label path (each level's name as the model's answer gives it) and 25 cell shapes; its
screenshot must not be blank; the file must hold no network resource and stay under 2 MB
for a 640 px photo. Bad input is one clear line.

Set GEOTOOL_DOC_IMAGES=DIR to keep the screenshot (docs/img/viewing-explain.png).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image
from support.viewing_planet import ViewingDb, chromium
from typer.testing import CliRunner

from geotool.cli.app import app
from geotool.errors import GeotoolError, UnavailableError
from geotool.explain.attributions import ExplainParams
from geotool.explain.page import (
    PAGE_SECTIONS,
    ExplainPageParams,
    NotAnImageError,
    PagePathError,
    explain_page,
)
from geotool.explain.pipeline import InfluenceParams
from geotool.learn.lookup import ready_model
from geotool.learn.predict import predict_image

pytestmark = pytest.mark.slow  # shares the session's viewing planet (~1 min to build)

FAST = InfluenceParams(explain=ExplainParams(noise_samples=2, ig_steps=4))


def _test_photo(db: ViewingDb) -> tuple[Path, float, float]:
    with db.engine().connect() as conn:
        row = conn.execute(sa.text(
            "SELECT path, lat, lon FROM images WHERE split = 'test' ORDER BY id LIMIT 1")).one()
    return Path(row.path), float(row.lat), float(row.lon)


def _browser(page: Path, png: Path) -> str:
    exe = chromium()
    common = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--no-first-run", f"--user-data-dir={png.parent / 'chromium-profile'}"]
    shot = subprocess.run(common + ["--window-size=1200,1250", f"--screenshot={png}",
                                    page.as_uri()], capture_output=True, text=True,
                          timeout=120)
    assert png.exists(), shot.stderr[-2000:]
    dom = subprocess.run(common + ["--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    keep = os.environ.get("GEOTOOL_DOC_IMAGES")
    if keep:
        shutil.copy(png, Path(keep) / png.name)
    return dom.stdout


def test_page_in_chromium(viewing_db: ViewingDb, tmp_path: Path) -> None:
    photo, lat, lon = _test_photo(viewing_db)
    out = tmp_path / "page.html"
    engine = viewing_db.engine()
    summary = explain_page(engine, ExplainPageParams(photo, viewing_db.model, out,
                                                     influence=FAST))
    text = out.read_text(encoding="utf-8")
    assert summary.bytes == len(text.encode()) < 2_000_000
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert summary.true_location == pytest.approx((lat, lon))
    assert summary.cells == 25 and summary.concepts > 0

    # the levels are the model's own hierarchical answer for this photo (predict-image)
    answer = predict_image(ready_model(engine, viewing_db.model), [photo], top_k=25)[0]
    assert [(a.name, a.probability) for a in summary.levels] == \
        [(c.name, pytest.approx(c.probability)) for c in reversed(answer.hierarchical)]
    assert summary.answer == answer.summary_line()

    png = tmp_path / "viewing-explain.png"
    dom = _browser(out, png)
    path_html = re.search(r'<div class="labelpath" id="label-path">(.*?)</div>', dom, re.S)
    levels_html = re.search(r'<ol class="levels" id="levels">(.*?)</ol>', dom, re.S)
    assert path_html is not None and levels_html is not None
    places = re.findall(r'<span class="place">(.*?)</span>', path_html.group(1))
    assert places == [p.strip() for p in answer.hierarchical[0].label.split(",")][::-1]
    items = re.findall(r"<li[^>]*>(.*?)</li>", levels_html.group(1), re.S)
    assert len(items) == len(summary.levels)
    for item, level in zip(items, summary.levels[::-1], strict=True):
        assert level.name in item and f"{level.probability:.1%}" in item
    assert len(re.findall(r'<path class="cell"', dom)) == 25
    assert len(re.findall(r'<circle class="truth"', dom)) == 1
    pixels = np.asarray(Image.open(png).convert("RGB"))
    assert pixels.shape[0] > 500 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200


def test_640px_photo_page_is_small(viewing_db: ViewingDb, tmp_path: Path) -> None:
    photo, _, _ = _test_photo(viewing_db)
    rng = np.random.default_rng(0)  # noise compresses badly: the worst case for JPEG
    big = Image.open(photo).convert("RGB").resize((640, 480), Image.Resampling.BICUBIC)
    noisy = np.clip(np.asarray(big, dtype=np.int16) + rng.integers(-40, 40, (480, 640, 3)),
                    0, 255).astype(np.uint8)
    large = tmp_path / "large.jpg"
    Image.fromarray(noisy).save(large, quality=95)
    out = tmp_path / "large.html"
    summary = explain_page(viewing_db.engine(), ExplainPageParams(
        large, viewing_db.model, out, influence=FAST))
    assert summary.bytes < 2_000_000 and summary.true_location is None
    assert summary.concepts == 0 and "No label map" in out.read_text(encoding="utf-8")


def test_bad_input_is_one_clear_line(viewing_db: ViewingDb, tmp_path: Path) -> None:
    photo, _, _ = _test_photo(viewing_db)
    engine = viewing_db.engine()
    text_file = tmp_path / "notes.jpg"
    text_file.write_text("not a photo")
    with pytest.raises(NotAnImageError, match="not an image"):
        explain_page(engine, ExplainPageParams(text_file, viewing_db.model,
                                               tmp_path / "x.html"))
    with pytest.raises(PagePathError, match="does not exist"):
        explain_page(engine, ExplainPageParams(photo, viewing_db.model,
                                               tmp_path / "no" / "x.html"))
    with pytest.raises(GeotoolError, match="no model named 'nope'"):
        explain_page(engine, ExplainPageParams(photo, "nope", tmp_path / "x.html"))
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["concepts", "explain", str(text_file), "--model",
                                      viewing_db.model, "--html", str(tmp_path / "x.html"),
                                      "--database-url", url])
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and "not an image" in lines[0], \
        result.output


def test_a_family_without_a_page_is_refused(viewing_db: ViewingDb, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The page is dispatched on models.family (the alignment family's page is tested in
    test_explain_page_align.py); a family with no page builder is refused clearly."""
    photo, _, _ = _test_photo(viewing_db)
    monkeypatch.delitem(PAGE_SECTIONS, "classifier")
    with pytest.raises(UnavailableError, match="'classifier' family.*pages exist for: align"):
        explain_page(viewing_db.engine(), ExplainPageParams(photo, viewing_db.model,
                                                            tmp_path / "x.html"))
