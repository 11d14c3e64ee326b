"""Alignment predictions on the tiny planet with the stand-in model
(tests/support/tiny_align_model.py): every stored answer, top-k and concept score checked
against an independent computation; resume; the cache; the ladder beside a classifier's
baselines; predict-image's sentence."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import torch
from sqlalchemy.engine import Engine
from support.align_configs import small_align
from support.learn_planet import planet_database, small
from support.tiny_align_model import TinyAlignModel, load_tiny, register_tiny, save_tiny

from geotool.errors import GeotoolError
from geotool.learn.align.gallery import GalleryParams, load_gallery
from geotool.learn.align.predict import (
    AlignPredictParams,
    predict_align,
    predict_image_align,
)
from geotool.learn.align.probe import ProbeParams, probe
from geotool.learn.align.report import AlignReportParams, align_concept_report
from geotool.learn.evaluate import EvaluateParams, evaluate
from geotool.learn.geodesy import haversine_km
from geotool.learn.inference import CropTransform, default_resize, read_image

planet = pytest.fixture(scope="module")(planet_database)


@pytest.fixture(scope="module")
def aligned(planet: tuple[str, Engine, Path], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, Any]]:
    """The stand-in registered as model 'tiny_align' and its predictions of the test split."""
    _, engine, _ = planet
    model = TinyAlignModel(seed=4)
    ckpt = save_tiny(model, tmp_path_factory.mktemp("align") / "tiny.pt")
    register_tiny(engine, "tiny_align", ckpt, "tiny")
    summary = predict_align(engine, AlignPredictParams("tiny_align", "tiny", "test", top_k=5),
                            loader=load_tiny)
    yield {"model": model, "ckpt": ckpt, "summary": summary}


def _expected(engine: Engine, model: TinyAlignModel, run_id: int
              ) -> tuple[list[Any], np.ndarray, np.ndarray]:
    with engine.connect() as conn:
        photos = conn.execute(sa.text(
            "SELECT i.id, i.path, i.lat, i.lon FROM images i JOIN datasets d ON "
            "d.id = i.dataset_id WHERE d.name = 'tiny' AND i.split = 'test' ORDER BY i.id")
        ).all()
        gallery = np.asarray(conn.execute(sa.text(
            "SELECT p.lat, p.lon FROM gallery_points p JOIN prediction_runs r ON "
            "r.gallery_id = p.gallery_id WHERE r.id = :r ORDER BY p.idx"), {"r": run_id}
        ).all(), dtype=np.float64)
    transform = CropTransform(32, default_resize(32), 1)
    with torch.no_grad():
        x = torch.stack([transform(read_image(p.path))[0] for p in photos])
        img = model.encode_image(x).double().numpy()
        gal = model.encode_gps(torch.from_numpy(gallery).float()).double().numpy()
    return photos, img, gal


def test_answers_are_the_brute_force_best_gallery_points(planet: tuple[str, Engine, Path],
                                                         aligned: dict[str, Any]) -> None:
    _, engine, _ = planet
    summary = aligned["summary"]
    assert summary.predicted > 0 and summary.failed == 0 and not summary.cache_hit
    photos, img, gal = _expected(engine, aligned["model"], summary.prediction_run_id)
    with engine.connect() as conn:
        rows = {r.image_id: r for r in conn.execute(sa.text(
            "SELECT p.*, geotool_haversine(p.lat, p.lon, p.true_lat, p.true_lon) AS sql_km, "
            "pr.family, pr.gallery_id FROM predictions p JOIN prediction_runs pr "
            "ON pr.id = p.prediction_run_id WHERE p.prediction_run_id = :r"),
            {"r": summary.prediction_run_id})}
        gallery = np.asarray(conn.execute(sa.text(
            "SELECT p.lat, p.lon FROM gallery_points p JOIN galleries g ON g.id = p.gallery_id "
            "WHERE g.name = 'tiny_train' ORDER BY p.idx")).all())
        n_train = conn.execute(sa.text(
            "SELECT count(DISTINCT (lat, lon)) FROM images WHERE split = 'train'")).scalar()
    assert len(gallery) == n_train  # the default gallery: the training coordinates
    assert len(rows) == len(photos)
    scale = 1 / 0.07
    sim = img @ gal.T
    prob = np.exp(scale * sim - scale * sim.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    for b, photo in enumerate(photos):
        r = rows[photo.id]
        order = np.argsort(-sim[b], kind="stable")[:5]
        assert r.mode == "gallery" and r.level == 0 and r.family == "align"
        assert r.cell_id is None and r.class_index is None
        # the stored top-5 are the five best (up to float32 rounding between near-equal
        # neighbours, which may swap places)
        assert r.topk_gallery_index[0] == r.gallery_index
        np.testing.assert_allclose(sim[b, r.topk_gallery_index], sim[b, order], atol=2e-6)
        assert (r.lat, r.lon) == tuple(gallery[r.gallery_index])
        np.testing.assert_allclose(r.topk_probability, prob[b, order], rtol=1e-3, atol=1e-6)
        assert r.probability == pytest.approx(prob[b, order[0]], rel=1e-3)
        assert r.error_km == pytest.approx(r.sql_km, abs=1e-9)
        assert r.error_km == pytest.approx(float(haversine_km(r.lat, r.lon, photo.lat,
                                                               photo.lon)), abs=1e-9)


def test_concept_scores_of_both_sides(planet: tuple[str, Engine, Path],
                                      aligned: dict[str, Any]) -> None:
    _, engine, _ = planet
    model, run_id = aligned["model"], aligned["summary"].prediction_run_id
    photos, img, gal = _expected(engine, model, run_id)
    with engine.connect() as conn:
        names = dict(conn.execute(sa.text(
            "SELECT id, name FROM concepts WHERE vocabulary = 'align:tiny'")).all())
        stored = {(r.image_id, r.side): r for r in conn.execute(sa.text(
            "SELECT pc.*, p.gallery_index FROM prediction_concepts pc JOIN predictions p "
            "USING (prediction_run_id, image_id) WHERE prediction_run_id = :r"), {"r": run_id})}
    assert len(stored) == 2 * len(photos)
    with torch.no_grad():
        img_scores = model.concept_scores(torch.from_numpy(img).float()).numpy()
        gal_scores = model.concept_scores(torch.from_numpy(gal).float()).numpy()
    for b, photo in enumerate(photos):
        for side, expected in (("image", img_scores[b]),
                               ("location", gal_scores[stored[photo.id, "image"].gallery_index])):
            r = stored[photo.id, side]
            got = {names[c]: s for c, s in zip(r.concept_ids, r.scores, strict=True)}
            assert list(r.scores) == sorted(r.scores, reverse=True)
            assert len(got) == len(model.concept_names)
            for k, name in enumerate(model.concept_names):
                assert got[name] == pytest.approx(expected[k], abs=1e-5)


def test_resume_cache_and_stale_run(planet: tuple[str, Engine, Path],
                                    aligned: dict[str, Any]) -> None:
    _, engine, _ = planet
    params = AlignPredictParams("tiny_align", "tiny", "test", top_k=5)
    again = predict_align(engine, params, loader=load_tiny)
    assert again.predicted == 0 and again.already_done == aligned["summary"].predicted
    assert again.cache_hit and again.prediction_run_id == aligned["summary"].prediction_run_id
    first = aligned["summary"].prediction_run_id
    # another checkpoint under the same name: cache missed, a new run keyed by the new
    # weights (migration 0012's key) answers every photo; the old run keeps its answers
    model = TinyAlignModel(seed=9)
    save_tiny(model, aligned["ckpt"])
    redo = predict_align(engine, params, loader=load_tiny)
    assert not redo.cache_hit and redo.predicted == aligned["summary"].predicted
    assert redo.prediction_run_id != first
    save_tiny(aligned["model"], aligned["ckpt"])
    back = predict_align(engine, params, loader=load_tiny)
    # the first weights again: their run resumes (nothing to do); the cache's old key was
    # dropped, so the gallery is encoded again
    assert back.prediction_run_id == first and back.predicted == 0
    assert back.already_done == aligned["summary"].predicted and not back.cache_hit
    with engine.begin() as conn:
        keys = conn.execute(sa.text(
            "SELECT id, checkpoint_sha256, amp FROM prediction_runs WHERE id IN (:a, :b)"),
            {"a": first, "b": redo.prediction_run_id}).all()
        assert conn.execute(sa.text("SELECT count(*) FROM gallery_embedding_sets")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM predictions WHERE "
                                    "prediction_run_id = :r"), {"r": first}).scalar() == \
            aligned["summary"].predicted
        # the other weights' run goes: the module's later tests evaluate the newest run
        conn.execute(sa.text("DELETE FROM prediction_runs WHERE id = :r"),
                     {"r": redo.prediction_run_id})
    sha = {r.id: r.checkpoint_sha256 for r in keys}
    assert {r.amp for r in keys} == {"off"}
    assert sha[first] == hashlib.sha256(aligned["ckpt"].read_bytes()).hexdigest()
    assert sha[redo.prediction_run_id] not in ("", sha[first])


def test_ladder_beside_a_classifier_and_semantic_accuracy(
        planet: tuple[str, Engine, Path], aligned: dict[str, Any]) -> None:
    _, engine, _ = planet
    table = evaluate(engine, EvaluateParams(("tiny_align",), "tiny", "test"))
    frame = table.frame
    assert list(frame["prediction"]) == ["gallery top-1"]
    with engine.connect() as conn:
        err = np.asarray(conn.execute(sa.text(
            "SELECT error_km FROM predictions WHERE prediction_run_id = :r"),
            {"r": aligned["summary"].prediction_run_id}).scalars().all())
    row = frame.iloc[0]
    for r in (1, 25, 200, 750, 2500):
        assert row[f"acc_{r}km"] == pytest.approx(float(np.mean(err <= r)))
    assert row["geoscore"] == pytest.approx(float(np.mean(5000 * np.exp(-err / 1492.7))))
    assert row["median_km"] == pytest.approx(float(np.median(err)))
    assert pd.isna(row["top1"]) and row["partitioning"] == "gallery tiny_train"
    assert 0.0 <= row["country"] <= 1.0  # judged by the photos' country polygons
    with pytest.raises(GeotoolError, match="no predictions .* --gallery other"):
        evaluate(engine, EvaluateParams(("tiny_align",), "tiny", "test", gallery="other"))


def test_cells_gallery_and_predict_image_sentence(planet: tuple[str, Engine, Path],
                                                 aligned: dict[str, Any]) -> None:
    _, engine, photos = planet
    with engine.connect() as conn:
        fine = conn.execute(sa.text(
            "SELECT p.name, count(c.id) FROM partitionings p JOIN cells c ON "
            "c.partitioning_id = p.id GROUP BY p.name, p.level ORDER BY p.level LIMIT 1")).one()
    cells = load_gallery(engine, GalleryParams("tiny_cells", "cells", fine[0]))
    assert cells.n_points == fine[1]
    path = sorted((photos / "images").rglob("*.jpg"))[0]
    answers = predict_image_align(engine, "tiny_align", [path, photos / "missing.jpg"],
                                  gallery="tiny_cells", top_k=3, loader=load_tiny)
    ok, bad = answers
    assert bad.error and "missing.jpg" in bad.error
    assert ok.place and ok.confidence is not None and 0 < ok.confidence <= 1
    line = ok.summary_line()
    assert line.startswith(f"near {ok.place} (") and " %) — because: " in line
    top, second = ok.concepts[:2]
    assert f"{top[0]} {top[1]:.2f}, {second[0]} {second[1]:.2f}" in line
    assert sum(s for _, s in ok.concepts) == pytest.approx(1.0, abs=1e-3)
    assert ok.to_dict()["schema"] == "geotool.predict-image-align/1"


def test_probe_climate_from_frozen_gps_embeddings(planet: tuple[str, Engine, Path],
                                                  aligned: dict[str, Any]) -> None:
    _, engine, photos = planet
    summary = probe(engine, ProbeParams("tiny_align", "climate", alpha=0.5),
                    loader=load_tiny)
    truth = {p["id"]: p["climate"] for p in
             json.loads((photos / "photos.json").read_text())["photos"]}
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT external_id, split, lat, lon FROM images WHERE split IN ('train', 'test') "
            "ORDER BY id")).all()
    classes = sorted({truth[r.external_id] for r in rows})
    assert summary.classes == classes and summary.kind == "class"
    assert summary.n_train == sum(r.split == "train" for r in rows)
    assert summary.n_test == sum(r.split == "test" for r in rows)
    # the same probe computed independently: augmented least squares on one-hot labels
    with torch.no_grad():
        emb = aligned["model"].encode_gps(torch.tensor(
            [(r.lat, r.lon) for r in rows], dtype=torch.float32)).double().numpy()
    y = np.eye(len(classes))[[classes.index(truth[r.external_id]) for r in rows]]
    tr = np.asarray([r.split == "train" for r in rows])
    xm, ym = emb[tr].mean(0), y[tr].mean(0)
    d = emb.shape[1]
    w = np.linalg.lstsq(np.vstack([emb[tr] - xm, np.sqrt(0.5) * np.eye(d)]),
                        np.vstack([y[tr] - ym, np.zeros((d, len(classes)))]), rcond=None)[0]
    pred = ((emb[~tr] - xm) @ w + ym).argmax(1)
    assert summary.scores["accuracy"] == pytest.approx(float(np.mean(pred == y[~tr].argmax(1))))
    country = probe(engine, ProbeParams("tiny_align", "country", side="image",
                                        method="logistic"), loader=load_tiny)
    assert len(country.classes) == 4 and 0 <= country.scores["accuracy"] <= 1


def test_concept_report_and_views_agree(planet: tuple[str, Engine, Path],
                                        aligned: dict[str, Any], tmp_path: Path) -> None:
    _, engine, _ = planet
    report = align_concept_report(engine, AlignReportParams("tiny_align",
                                                            chart=tmp_path / "c.png"))
    assert report.chart is not None and report.chart.stat().st_size > 1000
    run = aligned["summary"].prediction_run_id
    with engine.connect() as conn:
        view = {(r.country, r.concept): r for r in conn.execute(sa.text(
            "SELECT country, concept, n_photos, mean_score, share_first "
            "FROM align_concepts_by_country WHERE prediction_run_id = :r AND side = 'image'"),
            {"r": run})}
        cells = conn.execute(sa.text(
            "SELECT count(DISTINCT cell_id) FROM align_concepts_by_cell "
            "WHERE prediction_run_id = :r"), {"r": run}).scalar()
        ranked = conn.execute(sa.text(
            "SELECT count(*) FROM align_prediction_concepts WHERE prediction_run_id = :r "
            "AND rank = 1"), {"r": run}).scalar()
    assert cells and ranked == 2 * aligned["summary"].predicted
    assert sum(r.n_photos for r in report.regions) == aligned["summary"].predicted
    for region in report.regions:
        for concept, mean, lift in region.top:
            got = view[region.region, concept]
            assert got.n_photos == region.n_photos
            assert mean == pytest.approx(got.mean_score, abs=1e-6)
            assert lift == pytest.approx(mean / report.mean_score[concept])
    assert report.informative is None  # the stand-in's vocabulary marks nothing
    with pytest.raises(GeotoolError, match="choose image or location"):
        align_concept_report(engine, AlignReportParams("tiny_align", side="both"))


@pytest.mark.slow
def test_real_model_through_the_cli_beside_a_classifier(planet: tuple[str, Engine, Path],
                                                        tmp_path: Path) -> None:
    """A trained AlignModel (align-model's trainer, tiny config) and a trained classifier:
    `geotool predict` for both, one `geotool evaluate` ladder with the set's baselines,
    `geotool predict-image`'s sentence, `geotool probe` and `geotool align-report`."""
    from typer.testing import CliRunner

    from geotool.cli.app import app
    from geotool.learn.train import TrainParams, train

    url, engine, photos = planet
    train(engine, TrainParams(small_align(tmp_path / "a", name="real_align", epochs=1)))
    train(engine, TrainParams(small(tmp_path / "c", name="real_cls", epochs=1)))
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, [*args, "--database-url", url])
        assert result.exit_code == 0, result.output
        return result.output

    for name in ("real_align", "real_cls"):
        run("predict", "--model", name, "--dataset", "tiny", "--crops", "1")
    ladder = run("evaluate", "--model", "real_cls", "--model", "real_align", "--format", "csv")
    lines = [ln.split(",") for ln in ladder.strip().splitlines()]
    assert [ln[:3] for ln in lines if ln[0] == "real_align"] == \
        [["real_align", "model", "gallery top-1"]]
    assert any(ln[1] == "baseline" and ln[2] == "most frequent class" for ln in lines)
    image = sorted((photos / "images").rglob("*.jpg"))[0]
    said = run("predict-image", str(image), "--model", "real_align", "--crops", "1")
    assert "near " in said and " — because: " in said
    # an undecodable photo and a missing one: the others are answered, each listed (JSON
    # too), exit code 1, as for a classifier
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    result = runner.invoke(app, ["predict-image", str(image), str(broken),
                                 str(tmp_path / "missing.jpg"), "--model", "real_align",
                                 "--crops", "1", "--json", "--database-url", url])
    assert result.exit_code == 1, result.output
    listed = json.loads(result.stdout)
    assert [a["error"] is None for a in listed] == [True, False, False]
    assert all(a["schema"] == "geotool.predict-image-align/1" for a in listed)
    assert "2 of 3 photo(s) could not be read" in " ".join(result.output.split())
    probed = run("probe", "--model", "real_align", "--target", "climate")
    assert "climate" in probed
    assert "distinctive concepts" in run("align-report", "--model", "real_align")


def test_qgis_views_show_gallery_answers(planet: tuple[str, Engine, Path],
                                         aligned: dict[str, Any]) -> None:
    """The QGIS project's prediction layers read qgis_predictions/_lines: an alignment
    model's gallery answers are there, one point and one line per photo."""
    _, engine, _ = planet
    run = aligned["summary"].prediction_run_id
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text(
            "SELECT image_id, error_km FROM predictions WHERE prediction_run_id = :r"),
            {"r": run}).all())
        shown = dict(conn.execute(sa.text(
            "SELECT image_id, error_km FROM qgis_predictions WHERE prediction_run_id = :r"),
            {"r": run}).all())
        lines = conn.execute(sa.text(
            "SELECT count(*) FROM qgis_prediction_lines WHERE prediction_run_id = :r"),
            {"r": run}).scalar()
    assert len(stored) == aligned["summary"].predicted and shown == stored
    assert lines == len(stored)
