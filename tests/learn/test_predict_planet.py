"""Prediction and evaluation on the tiny synthetic planet, end to end on real PostGIS:
photos → addresses → SemP and S2 → two small trained models → predict → evaluate.

The planet and its models are built once per module into a template database; each test
works on its own copy (CREATE DATABASE … TEMPLATE), so tests that write do not interfere.
Evaluation numbers are checked against NumPy over the exported CSV and the photo set's own
coordinates, never against the same SQL.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support.bad_images import png_declaring
from support.tiny_planet import TinyPlanet, build_tiny_planet
from support.tiny_training import fit_tiny_model
from typer.testing import CliRunner

from geotool.cli.app import app
from geotool.export.predictions import PredictionExportParams, export_predictions
from geotool.learn.evaluate import EvaluateParams, evaluate
from geotool.learn.lookup import ready_model
from geotool.learn.predict import PredictParams, predict, predict_image
from geotool.progress import RecordingProgress
from geotool.synth.places import load_world

pytestmark = pytest.mark.slow  # the module builds a planet and trains two models (~1 min)


@dataclass(frozen=True)
class PlanetDb:
    template: str
    planet: TinyPlanet
    directory: Path
    cluster: Any


@pytest.fixture(scope="module")
def planet_db(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlanetDb]:
    name = f"geotool_planet_{uuid.uuid4().hex[:8]}"
    url = cluster.create(name, template="geotool_test_template")
    eng = sa.create_engine(url)
    directory = tmp_path_factory.mktemp("planet")
    planet = build_tiny_planet(eng, directory)
    fit_tiny_model(eng, planet.semp, "semp_small", directory, epochs=10, seed=1)
    fit_tiny_model(eng, planet.s2, "s2_small", directory, epochs=10, seed=1)
    eng.dispose()
    yield PlanetDb(name, planet, directory, cluster)
    cluster.drop(name)


@pytest.fixture()
def planet_url(planet_db: PlanetDb) -> Iterator[str]:
    name = f"geotool_pc_{uuid.uuid4().hex[:8]}"
    yield planet_db.cluster.create(name, template=planet_db.template)
    from geotool.db.engine import dispose_engines

    dispose_engines()
    planet_db.cluster.drop(name)


@pytest.fixture()
def planet_engine(planet_url: str) -> Iterator[Engine]:
    eng = sa.create_engine(planet_url)
    yield eng
    eng.dispose()


def _truth(planet: TinyPlanet) -> dict[str, tuple[float, float, str]]:
    with (planet.photo_dir / "all.csv").open(encoding="utf-8") as fh:
        return {r["id"]: (float(r["lat"]), float(r["lon"]), r["split"])
                for r in csv.DictReader(fh)}


def _haversine(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
               ) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def test_ladder_matches_numpy_over_exported_predictions(
        planet_db: PlanetDb, planet_engine: Engine, tmp_path: Path) -> None:
    summary = predict(planet_engine, PredictParams("semp_small", "tiny", "test", batch_size=32))
    truth = _truth(planet_db.planet)
    n_test = sum(1 for v in truth.values() if v[2] == "test")
    assert summary.predicted == n_test and summary.failed == 0
    exported = export_predictions(planet_engine,
                                  PredictionExportParams("semp_small", tmp_path / "p.csv"))
    with exported.path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["img_id", "p_key", "pred_class", "pred_lat", "pred_lng", "mode"]
    assert {r["mode"] for r in rows if r["p_key"] == "hierarchy"} == {"hier"}
    assert {r["mode"] for r in rows if r["p_key"] != "hierarchy"} == {"flat"}
    table = evaluate(planet_engine, EvaluateParams(("semp_small",), "tiny", "test",
                                                   baselines=False))
    frame = table.frame
    strict = evaluate(planet_engine, EvaluateParams(("semp_small",), "tiny", "test",
                                                    strict=True, baselines=False)).frame
    with planet_engine.connect() as conn:
        labels = {r.external_id: r.classes for r in conn.execute(sa.text(
            "SELECT external_id, classes FROM geotool_labels('tiny_semp', 'test')"))}
        names = dict(conn.execute(sa.text(
            "SELECT p.name, p.level FROM partitionings p JOIN partitioning_sets s "
            "ON s.id = p.set_id WHERE s.name = 'tiny_semp'")).all())
    p_keys = {r["p_key"] for r in rows}
    assert p_keys == {*names, "hierarchy"}
    for p_key in sorted(p_keys):
        mine = [r for r in rows if r["p_key"] == p_key]
        assert len(mine) == n_test
        lat = np.array([float(r["pred_lat"]) for r in mine])
        lon = np.array([float(r["pred_lng"]) for r in mine])
        tlat = np.array([truth[r["img_id"]][0] for r in mine])
        tlon = np.array([truth[r["img_id"]][1] for r in mine])
        d = _haversine(lat, lon, tlat, tlon)
        level = 0 if p_key == "hierarchy" else names[p_key]
        prediction = "hierarchical" if p_key == "hierarchy" else "flat"
        got = frame[(frame.prediction == prediction) & (frame.level == level)].iloc[0]
        assert got.n_images == n_test
        got_strict = strict[(strict.prediction == prediction)
                            & (strict.level == level)].iloc[0]
        for r_km in (1, 25, 200, 750, 2500):
            assert got[f"acc_{r_km}km"] == pytest.approx(np.mean(d <= r_km), abs=1e-12)
            assert got_strict[f"acc_{r_km}km"] == pytest.approx(np.mean(d < r_km), abs=1e-12)
        assert got.mean_km == pytest.approx(d.mean(), rel=1e-9)
        assert got.median_km == pytest.approx(np.median(d), rel=1e-9)
        assert got.geoscore == pytest.approx(np.mean(5000 * np.exp(-d / 1492.7)), rel=1e-9)
        true_class = [labels[r["img_id"]][level] for r in mine]
        top1 = np.mean([int(r["pred_class"]) == t for r, t in zip(mine, true_class,
                                                                   strict=True)])
        assert got.top1 == pytest.approx(top1, abs=1e-12)


def test_stored_errors_equal_the_databases_haversine(planet_engine: Engine) -> None:
    """``error_km`` is written by the client (migration 0011); on every stored answer it
    equals the database's own ``geotool_haversine`` of the row's coordinates."""
    predict(planet_engine, PredictParams("semp_small", "tiny", "test", batch_size=32))
    with planet_engine.connect() as conn:
        n, worst = conn.execute(sa.text(
            "SELECT count(*), max(abs(error_km - geotool_haversine(lat, lon, true_lat, "
            "true_lon))) FROM predictions")).one()
    assert n > 0 and worst < 1e-9


def test_semantic_country_accuracy_against_the_world(
        planet_db: PlanetDb, planet_engine: Engine) -> None:
    predict(planet_engine, PredictParams("semp_small", "tiny", "test", crops=1))
    world = load_world(planet_db.directory / "world")
    truth = _truth(planet_db.planet)
    with planet_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT i.external_id, l.osm_key FROM predictions p "
            "JOIN images i ON i.id = p.image_id JOIN cells c ON c.id = p.cell_id "
            "JOIN locations l ON l.id = c.location_id "
            "WHERE p.mode = 'flat' AND p.level = 0")).all()

    def country(key: str) -> str:
        return world.path(key)[-1].key

    hits = []
    for ext, key in rows:
        lat, lon, _ = truth[ext]
        area = world.containing_area(lat, lon)
        assert area is not None
        hits.append(country(key) == country(area.key))
    got = evaluate(planet_engine, EvaluateParams(("semp_small",), "tiny", "test",
                                                 baselines=False)).frame
    flat0 = got[(got.prediction == "flat") & (got.level == 0)].iloc[0]
    assert flat0.country == pytest.approx(np.mean(hits), abs=1e-12)


def test_model_beats_frequent_class_and_random(planet_engine: Engine) -> None:
    for model in ("semp_small", "s2_small"):
        predict(planet_engine, PredictParams(model, "tiny", "test"))
    frame = evaluate(planet_engine, EvaluateParams(("semp_small", "s2_small"), "tiny",
                                                   "test")).frame
    assert set(frame.model) >= {"semp_small", "s2_small", "tiny_semp", "tiny_s2"}
    for set_name, model in (("tiny_semp", "semp_small"), ("tiny_s2", "s2_small")):
        base = frame[frame.model == set_name]
        mine = frame[frame.model == model]
        frequent = base[(base.prediction == "most frequent class") & (base.level == 0)].iloc[0]
        oracle = base[(base.prediction == "oracle") & (base.level == 0)].iloc[0]
        random = base[(base.prediction == "random class (expected)") & (base.level == 0)]
        hier = mine[mine.prediction == "hierarchical"].iloc[0]
        print(model, hier.acc_750km, frequent.acc_750km, float(random.acc_750km.iloc[0]))
        assert oracle.top1 == 1.0  # over the photos that have a class: every one is hit
        if model == "semp_small":
            assert hier.acc_750km >= frequent.acc_750km + 0.4  # measured 0.63 vs 0.05
        assert hier.acc_750km > float(random.acc_750km.iloc[0])


class _StopAfter(RecordingProgress):
    def __init__(self, batches: int) -> None:
        super().__init__()
        self.left = batches

    def advance(self, n: int = 1) -> None:
        super().advance(n)
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


def test_resume_skips_done_images(planet_engine: Engine) -> None:
    with pytest.raises(KeyboardInterrupt):
        predict(planet_engine, PredictParams("semp_small", "tiny", "test", batch_size=16),
                progress=_StopAfter(2))
    with planet_engine.connect() as conn:
        done = conn.execute(sa.text("SELECT count(DISTINCT image_id) FROM predictions"))
        first = done.scalar_one()
        status = conn.execute(sa.text(
            "SELECT status FROM runs_status WHERE stage = 'predict'")).scalar_one()
    assert first == 32 and status == "interrupted"
    again = predict(planet_engine, PredictParams("semp_small", "tiny", "test", batch_size=16))
    assert again.already_done == 32 and again.predicted > 0
    with planet_engine.connect() as conn:
        total, runs = conn.execute(sa.text(
            "SELECT count(DISTINCT image_id), count(DISTINCT prediction_run_id) "
            "FROM predictions")).one()
    assert total == 32 + again.predicted and runs == 1
    third = predict(planet_engine, PredictParams("semp_small", "tiny", "test", batch_size=16))
    assert third.predicted == 0 and third.already_done == total
    # other parameters are another prediction run
    other = predict(planet_engine, PredictParams("semp_small", "tiny", "test", combine="max",
                                                 crops=1))
    assert other.predicted == total and other.prediction_run_id != again.prediction_run_id


def test_deleting_images_or_cells_deletes_their_predictions(planet_engine: Engine) -> None:
    predict(planet_engine, PredictParams("semp_small", "tiny", "test", crops=1))
    predict(planet_engine, PredictParams("s2_small", "tiny", "test", crops=1))
    with planet_engine.begin() as conn:
        image_id = conn.execute(sa.text("SELECT min(image_id) FROM predictions")).scalar_one()
        conn.execute(sa.text("DELETE FROM images WHERE id = :i"), {"i": image_id})
        assert conn.execute(sa.text("SELECT count(*) FROM predictions WHERE image_id = :i"),
                            {"i": image_id}).scalar_one() == 0
        s2_rows = conn.execute(sa.text(
            "SELECT count(*) FROM predictions p JOIN prediction_runs r "
            "ON r.id = p.prediction_run_id JOIN models m ON m.id = r.model_id "
            "WHERE m.name = 's2_small'")).scalar_one()
        conn.execute(sa.text("DELETE FROM partitioning_sets WHERE name = 'tiny_semp'"))
        left = conn.execute(sa.text("SELECT count(*) FROM predictions")).scalar_one()
        dangling = conn.execute(sa.text(
            "SELECT count(*) FROM predictions p LEFT JOIN cells c ON c.id = p.cell_id "
            "WHERE c.id IS NULL")).scalar_one()
    assert left == s2_rows > 0 and dangling == 0


def test_corrupt_and_missing_photos_are_recorded(planet_engine: Engine,
                                                 tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    with planet_engine.begin() as conn:
        ids = conn.execute(sa.text(
            "SELECT id FROM images WHERE split = 'test' ORDER BY id LIMIT 2")).scalars().all()
        conn.execute(sa.text("UPDATE images SET path = :p WHERE id = :i"),
                     {"p": str(broken), "i": ids[0]})
        conn.execute(sa.text("UPDATE images SET path = :p WHERE id = :i"),
                     {"p": str(tmp_path / "gone.jpg"), "i": ids[1]})
    summary = predict(planet_engine, PredictParams("semp_small", "tiny", "test"))
    assert summary.failed == 2 and summary.predicted > 0
    with planet_engine.connect() as conn:
        reasons = dict(conn.execute(sa.text(
            "SELECT image_id, reason FROM prediction_failures")).all())
        predicted = conn.execute(sa.text(
            "SELECT count(*) FROM predictions WHERE image_id = ANY(:ids)"),
            {"ids": list(ids)}).scalar_one()
    assert "cannot decode" in reasons[ids[0]] and "not found" in reasons[ids[1]]
    assert predicted == 0
    again = predict(planet_engine, PredictParams("semp_small", "tiny", "test"))
    assert again.predicted == 0 and again.failed == 0
    retry = predict(planet_engine, PredictParams("semp_small", "tiny", "test", retry_failed=True))
    assert retry.failed == 2


def test_predict_image_agrees_with_the_database(planet_db: PlanetDb,
                                                planet_engine: Engine) -> None:
    predict(planet_engine, PredictParams("semp_small", "tiny", "test", top_k=3))
    with planet_engine.connect() as conn:
        path, cell, prob, topk = conn.execute(sa.text(
            "SELECT i.path, p.class_index, p.probability, p.topk_class_index "
            "FROM predictions p JOIN images i ON i.id = p.image_id "
            "WHERE p.mode = 'hier' AND p.level = 0 ORDER BY i.id LIMIT 1")).one()
    ready = ready_model(planet_engine, "semp_small")
    [answer] = predict_image(ready, [path], top_k=3)
    assert answer.error is None
    assert answer.hierarchical[0].class_index == cell
    assert answer.hierarchical[0].probability == pytest.approx(prob, rel=1e-5)
    line = answer.summary_line()
    names = list(dict.fromkeys((c.key, c.name) for c in reversed(answer.hierarchical)))
    assert line.count(" › ") == len(names) - 1 and line.count("%") == len(names)
    doc = answer.to_dict()
    assert doc["schema"] == "geotool.predict-image/1"
    assert json.loads(json.dumps(doc)) == doc
    [bad] = predict_image(ready, [planet_db.directory / "nothing.png"])
    assert bad.error is not None and bad.hierarchical == []


def test_cli_predict_evaluate_export(planet_db: PlanetDb, planet_url: str,
                                     tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"GEOTOOL_DATABASE_URL": planet_url}
    res = runner.invoke(app, ["predict", "--model", "semp_small", "--dataset", "tiny",
                              "--crops", "1"], env=env)
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["predict", "--model", "s2_small", "--dataset", "tiny"], env=env)
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["evaluate", "--model", "semp_small", "--model", "s2_small",
                              "--format", "md"], env=env)
    assert res.exit_code == 0, res.output
    assert "| semp_small | model | hierarchical |" in res.output
    assert "oracle" in res.output
    res = runner.invoke(app, ["evaluate", "--model", "semp_small", "--strict"], env=env)
    assert res.exit_code == 0, res.output
    print(res.output)
    assert "distance < r" in res.output and "oracle" in res.output
    res = runner.invoke(app, ["evaluate", "--model", "semp_small", "--format", "latex",
                              "--no-baselines"], env=env)
    assert res.exit_code == 0 and "\\begin{tabular}" in res.output
    res = runner.invoke(app, ["evaluate", "--model", "nope"], env=env)
    assert res.exit_code == 1 and "no model named 'nope'" in res.output
    gpkg = tmp_path / "pred.gpkg"
    res = runner.invoke(app, ["export", "predictions", "--model", "semp_small", "--out",
                              str(gpkg)], env=env)
    assert res.exit_code == 0, res.output
    db = sqlite3.connect(gpkg)
    points = db.execute("SELECT count(*) FROM predictions").fetchone()[0]
    lines = db.execute("SELECT count(*) FROM errors").fetchone()[0]
    kinds = dict(db.execute("SELECT table_name, geometry_type_name "
                            "FROM gpkg_geometry_columns").fetchall())
    db.close()
    assert points == lines > 0 and kinds == {"predictions": "POINT", "errors": "LINESTRING"}
    photo = next((planet_db.planet.photo_dir / "images").rglob("*.jpg"))
    res = runner.invoke(app, ["predict-image", str(photo), "--model", "semp_small", "--json"],
                        env=env)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)  # stderr: the warning that the 48 px photo is upscaled
    assert doc[0]["schema"] == "geotool.predict-image/1" and doc[0]["lat"] is not None


def _numpy_hierarchy(probs: list[np.ndarray], ancestors: np.ndarray) -> list[int]:
    """The hierarchical fine class per photo by an explicit loop (docs/method.md §7: an
    orphan at a level takes the factor of the level below)."""
    out = []
    for b in range(probs[0].shape[0]):
        best, best_score = -1, -1.0
        for f in range(probs[0].shape[1]):
            factor = score = probs[0][b, f]
            for k in range(1, len(probs)):
                if ancestors[k, f] >= 0:
                    factor = probs[k][b, ancestors[k, f]]
                score *= factor
            if score > best_score:
                best, best_score = f, score
        out.append(best)
    return out


def test_stored_answers_recomputed_in_numpy(planet_engine: Engine) -> None:
    """Every stored flat, top-k and hierarchical answer of a run equals NumPy over the
    model's probabilities for the same crops, with the ancestor matrix read from the
    database by plain SQL (not geotool's reader)."""
    from geotool.learn.inference import level_probabilities
    from geotool.learn.predict import crop_transform, load_crops

    options = PredictParams("semp_small", "tiny", "test", batch_size=64, top_k=4)
    summary = predict(planet_engine, options)
    ready = ready_model(planet_engine, "semp_small")
    with planet_engine.connect() as conn:
        photos = conn.execute(sa.text(
            "SELECT id, path FROM images WHERE split = 'test' ORDER BY id")).all()
        stored = {(r.image_id, r.mode, r.level): r for r in conn.execute(sa.text(
            "SELECT image_id, mode, level, class_index, probability, topk_class_index "
            "FROM predictions WHERE prediction_run_id = :r"),
            {"r": summary.prediction_run_id})}
        n = [int(v) for v in conn.execute(sa.text(
            "SELECT p.n_classes FROM partitionings p JOIN partitioning_sets s "
            "ON s.id = p.set_id WHERE s.name = 'tiny_semp' ORDER BY p.level")).scalars()]
        ancestors = np.full((len(n), n[0]), -1)
        ancestors[0] = np.arange(n[0])
        for level, fine, anc in conn.execute(sa.text(
                "SELECT pa.level, fc.class_index, ac.class_index FROM cell_ancestors ca "
                "JOIN cells fc ON fc.id = ca.cell_id JOIN cells ac ON ac.id = ca.ancestor_cell_id "
                "JOIN partitionings pa ON pa.id = ac.partitioning_id "
                "JOIN partitionings pf ON pf.id = fc.partitioning_id "
                "JOIN partitioning_sets s ON s.id = pf.set_id "
                "WHERE s.name = 'tiny_semp' AND pf.level = 0")):
            ancestors[level, fine] = anc
    crops, ok, failed = load_crops([p.path for p in photos], crop_transform(ready, options))
    assert crops is not None and not failed
    probs = level_probabilities(ready.loaded.model, crops, "mean")
    hier = _numpy_hierarchy(probs, ancestors)
    assert len(stored) >= len(photos) * len(n)
    for b, photo in enumerate(photos):
        for k in range(len(n)):
            flat = stored[(photo.id, "flat", k)]
            assert flat.class_index == int(np.argmax(probs[k][b]))
            assert flat.probability == pytest.approx(float(probs[k][b].max()), rel=1e-5)
            want_topk = np.argsort(-probs[k][b], kind="stable")[:min(4, n[k])]
            assert flat.topk_class_index == want_topk.tolist()
            want = hier[b] if k == 0 else int(ancestors[k, hier[b]])
            got = stored.get((photo.id, "hier", k))
            if want < 0:
                assert got is None
            else:
                assert got is not None and got.class_index == want
                assert got.probability == pytest.approx(float(probs[k][b, want]), rel=1e-5)


def test_evaluate_top_k_3_partial_run_and_two_resizes(planet_engine: Engine) -> None:
    """top-5 is missing (not top-3) for a run with --top-k 3; --top-k/--resize pick the
    run; every row names its run; a stopped run warns and its baselines are over its own
    photos."""
    predict(planet_engine, PredictParams("semp_small", "tiny", "test", top_k=3))
    table = evaluate(planet_engine, EvaluateParams(("semp_small",), "tiny", "test", top_k=3))
    mine = table.frame[table.frame.kind == "model"]
    assert mine.top5.isna().all() and mine.top1.notna().all()
    assert set(mine.top_k) == {3} and set(mine.resize) == {110} and not table.warnings
    with planet_engine.connect() as conn:
        top3 = conn.execute(sa.text(
            "SELECT count(*) FROM prediction_errors WHERE top5_correct IS NOT NULL")
        ).scalar_one()
    assert top3 == 0
    predict(planet_engine, PredictParams("semp_small", "tiny", "test", top_k=5, resize=130))
    wide = evaluate(planet_engine, EvaluateParams(("semp_small",), "tiny", "test",
                                                  resize=130)).frame
    narrow = evaluate(planet_engine, EvaluateParams(("semp_small",), "tiny", "test",
                                                    resize=110)).frame
    assert set(wide[wide.kind == "model"].resize) == {130}
    assert set(narrow[narrow.kind == "model"].resize) == {110}
    # k = 5: flat rows have top-5 (hierarchical rows keep no top-k)
    assert wide[(wide.kind == "model") & (wide.prediction == "flat")].top5.notna().all()
    assert set(wide.run.dropna()) != set(narrow.run.dropna())
    # a stopped run: 16 of the split's photos
    with pytest.raises(KeyboardInterrupt):
        predict(planet_engine, PredictParams("semp_small", "tiny", "test", batch_size=16,
                                             crops=1), progress=_StopAfter(1))
    partial = evaluate(planet_engine, EvaluateParams(("semp_small",), "tiny", "test", crops=1))
    assert len(partial.warnings) == 1 and "answered 16 of the" in partial.warnings[0]
    assert (partial.frame[partial.frame.kind == "model"].n_images == 16).all()
    base = partial.frame[partial.frame.kind == "baseline"]
    frequent = base[base.prediction == "most frequent class"]
    assert (frequent.n_images == 16).all()
    assert (base[base.prediction == "oracle"].n_images <= 16).all()
    assert set(base.run) == set(partial.frame[partial.frame.kind == "model"].run)


def test_oracle_row_is_over_one_photo_set(planet_engine: Engine) -> None:
    """The oracle's accuracies, mean, median and GeoScore are all over the photos with a
    class at that level (NumPy over the photos' coordinates and their classes' means)."""
    predict(planet_engine, PredictParams("semp_small", "tiny", "test", crops=1))
    frame = evaluate(planet_engine, EvaluateParams(("semp_small",), "tiny", "test", crops=1)).frame
    with planet_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.level, i.lat, i.lon, c.lat AS clat, c.lon AS clon "
            "FROM images i JOIN image_classes ic ON ic.image_id = i.id "
            "JOIN partitioning_sets s ON s.id = ic.set_id AND s.name = 'tiny_semp' "
            "JOIN partitionings p ON p.set_id = s.id "
            "JOIN cells c ON c.id = ic.cell_ids[p.level + 1] WHERE i.split = 'test'")).all()
        n_test = conn.execute(sa.text(
            "SELECT count(*) FROM images WHERE split = 'test'")).scalar_one()
    oracle = frame[(frame.kind == "baseline") & (frame.prediction == "oracle")]
    unlabelled_somewhere = False
    for r in oracle.itertuples():
        mine = [x for x in rows if x.level == r.level]
        unlabelled_somewhere |= len(mine) < n_test
        d = _haversine(np.array([x.clat for x in mine]), np.array([x.clon for x in mine]),
                       np.array([x.lat for x in mine]), np.array([x.lon for x in mine]))
        assert r.n_images == len(mine)
        for r_km in (1, 25, 200, 750, 2500):
            assert getattr(r, f"acc_{r_km}km") == pytest.approx(np.mean(d <= r_km))
        assert r.mean_km == pytest.approx(d.mean())
        assert r.median_km == pytest.approx(np.median(d))
        assert r.geoscore == pytest.approx(np.mean(5000 * np.exp(-d / 1492.7)))
        assert r.top1 == 1.0
    assert unlabelled_somewhere  # the case that mixed photo sets: some photo has no class


def test_new_weights_make_a_new_prediction_run(planet_engine: Engine,
                                               tmp_path: Path) -> None:
    """What `train --resume` does to best.pt — new bytes under the same path — makes the
    next prediction a new run; the old run's answers stay as they were, not mixed in."""
    import shutil

    import torch

    from geotool.learn.checkpoint import read_checkpoint, save_checkpoint

    with planet_engine.connect() as conn:
        original = Path(conn.execute(sa.text(
            "SELECT checkpoint_path FROM models WHERE name = 'semp_small'")).scalar_one())
    path = tmp_path / "best.pt"  # this test's own copy (other tests share the original)
    shutil.copy(original, path)
    with planet_engine.begin() as conn:
        conn.execute(sa.text("UPDATE models SET checkpoint_path = :p "
                             "WHERE name = 'semp_small'"), {"p": str(path)})
    first = predict(planet_engine, PredictParams("semp_small", "tiny", "test", crops=1))
    data = read_checkpoint(path)
    data["model"] = {k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v
                     for k, v in data["model"].items()}
    save_checkpoint(path, {k: v for k, v in data.items() if k not in ("format", "version")})
    second = predict(planet_engine, PredictParams("semp_small", "tiny", "test", crops=1))
    assert second.prediction_run_id != first.prediction_run_id
    assert second.predicted == first.predicted and second.already_done == 0
    with planet_engine.connect() as conn:
        runs = conn.execute(sa.text(
            "SELECT id, checkpoint_sha256, amp, params->>'checkpoint_sha256' FROM "
            "prediction_runs ORDER BY id")).all()
        counts = dict(conn.execute(sa.text(
            "SELECT prediction_run_id, count(DISTINCT image_id) FROM predictions "
            "GROUP BY 1")).all())
    assert [r.id for r in runs] == [first.prediction_run_id, second.prediction_run_id]
    assert runs[0].checkpoint_sha256 != runs[1].checkpoint_sha256
    assert all(len(r.checkpoint_sha256) == 64 and r[3] == r.checkpoint_sha256 for r in runs)
    assert {r.amp for r in runs} == {"off"}  # CPU
    assert counts == {first.prediction_run_id: first.predicted,
                      second.prediction_run_id: second.predicted}
    # evaluate reads the newest run, the new weights' answers only
    frame = evaluate(planet_engine, EvaluateParams(("semp_small",), "tiny", "test")).frame
    assert set(frame[frame.kind == "model"].run) == {second.prediction_run_id}


def test_non_finite_probabilities_are_failures_not_class_0(
        planet_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A photo whose probabilities come out NaN (a fault: an fp16 overflow, damaged
    weights) used to be stored as class 0; now it is a failure with the reason and has no
    prediction rows, and the rest of its batch is stored as usual."""
    import geotool.learn.predict as predict_module

    real = predict_module.level_probabilities

    def poisoned(*args: Any, **kwargs: Any) -> list[np.ndarray]:
        probs = real(*args, **kwargs)
        probs[0][1, :] = np.nan  # the second photo of every batch
        return probs

    monkeypatch.setattr(predict_module, "level_probabilities", poisoned)
    summary = predict(planet_engine, PredictParams("semp_small", "tiny", "test", crops=1,
                                                   batch_size=16))
    with planet_engine.connect() as conn:
        failures = dict(conn.execute(sa.text(
            "SELECT image_id, reason FROM prediction_failures")).all())
        second = conn.execute(sa.text(
            "SELECT id FROM images WHERE split = 'test' ORDER BY id")).scalars().all()[1::16]
        stored = conn.execute(sa.text(
            "SELECT count(*) FROM predictions WHERE image_id = ANY(:ids)"),
            {"ids": list(failures)}).scalar_one()
    assert set(failures) == set(second) and summary.failed == len(second) > 0
    assert all("non-finite" in r for r in failures.values())
    assert stored == 0 and summary.predicted > 0


def test_cli_what_a_new_user_hits(planet_db: PlanetDb, planet_url: str,
                                  tmp_path: Path) -> None:
    """Issue 17: predict-image's exit code, bomb and small-photo handling; a rerun of
    predict points to --retry-failed; `runs` names the model of a predict run."""
    from PIL import Image

    runner = CliRunner()
    env = {"GEOTOOL_DATABASE_URL": planet_url}
    photo = next((planet_db.planet.photo_dir / "images").rglob("*.jpg"))
    bomb = png_declaring(tmp_path / "bomb.png", 100_000, 100_000)
    small = tmp_path / "small.png"
    Image.new("RGB", (8, 6), (120, 130, 140)).save(small)
    res = runner.invoke(app, ["predict-image", str(photo), str(bomb), str(small), "--model",
                              "semp_small"], env=env)
    assert res.exit_code == 1, res.output  # one photo could not be read
    assert "Traceback" not in res.output
    assert "too large to decode safely" in res.output
    assert "small.png is 8×6 px, smaller than the model's" in res.output
    assert "1 of 3 photo(s) could not be read" in res.output
    ok = runner.invoke(app, ["predict-image", str(photo), "--model", "semp_small"], env=env)
    assert ok.exit_code == 0, ok.output
    with sa.create_engine(planet_url).begin() as conn:
        conn.execute(sa.text(
            "UPDATE images SET path = '/nonexistent/x.jpg' WHERE id = "
            "(SELECT min(id) FROM images WHERE split = 'test')"))
    args = ["predict", "--model", "semp_small", "--dataset", "tiny", "--crops", "1"]
    first = runner.invoke(app, args, env=env)
    assert first.exit_code == 0 and "1 unreadable" in first.output, first.output
    again = runner.invoke(app, args, env=env)
    assert again.exit_code == 0, again.output
    assert "--retry-failed" in again.output and "1 in this run" in again.output
    listed = runner.invoke(app, ["runs", "--stage", "predict"], env=env)
    assert listed.exit_code == 0 and "model semp_small" in listed.output, listed.output


def test_evaluation_does_not_depend_on_row_order(planet_engine: Engine) -> None:
    """The same predictions give the same table, to the last bit, whatever order the rows
    reach the aggregates in: a float8 ``avg`` adds in arrival order, which moves with the
    plan (autovacuum's ANALYZE between two runs) and the heap (updated tuples). The
    demo's resumed run compares its table with ``DataFrame.equals``."""
    predict(planet_engine, PredictParams("semp_small", "tiny", "test"))
    params = EvaluateParams(("semp_small",), "tiny", "test")
    before = evaluate(planet_engine, params).frame
    with planet_engine.begin() as conn:  # same values, other physical order: every other
        for table, key in (("predictions", "image_id"), ("images", "id")):  # row moves
            conn.execute(sa.text(f"UPDATE {table} SET {key} = {key} WHERE {key} % 2 = 0"))
        conn.execute(sa.text("ANALYZE predictions, images"))
    after = evaluate(planet_engine, params).frame
    differ = before.compare(after) if before.shape == after.shape else after
    assert after.equals(before), differ
