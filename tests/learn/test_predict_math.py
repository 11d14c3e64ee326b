"""The numbers under prediction and evaluation, checked by hand and against independent
implementations: great-circle distance (SQL) against hand-computed cases and pyproj's
ellipsoidal geodesic, crop combination on hand-made probabilities, the hierarchical
prediction on a toy three-level set (in memory and read from PostGIS), crops and top-k."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sqlalchemy as sa
import torch
from PIL import Image
from pyproj import Geod
from sqlalchemy.engine import Engine

from geotool.learn.inference import (
    CropTransform,
    answer_from_probs,
    combine_crops,
    default_resize,
    hierarchical_scores,
)
from geotool.learn.lookup import read_ancestor_matrix

R = 6371.0
HALF = math.pi * R  # antipodal distance on the sphere


def _sql_distances(engine: Engine, pairs: list[tuple[float, float, float, float]]) -> list[float]:
    with engine.connect() as conn:
        return [conn.execute(sa.text("SELECT geotool_haversine(:a, :b, :c, :d)"),
                             {"a": a, "b": b, "c": c, "d": d}).scalar_one()
                for a, b, c, d in pairs]


HAND_CASES = [
    ((48.8566, 2.3522, 48.8566, 2.3522), 0.0),  # identical points
    ((0.0, 0.0, 0.0, 180.0), HALF),  # antipodes on the equator
    ((30.5, 10.3, -30.5, -169.7), HALF),  # antipodes off the equator: rounding pushes a > 1
    ((90.0, 0.0, -90.0, 0.0), HALF),  # pole to pole
    ((90.0, 0.0, 90.0, 123.0), 0.0),  # the north pole, any longitude
    ((0.0, 0.0, 90.0, 0.0), HALF / 2),  # equator to pole
    ((0.0, 179.0, 0.0, -179.0), 2 * math.pi * R / 180),  # 2 degrees across the dateline
    ((-10.0, -179.5, -10.0, 179.5), math.pi * R / 180 * math.cos(math.radians(10))),
]


def test_haversine_hand_cases(engine: Engine) -> None:
    got = _sql_distances(engine, [pair for pair, _ in HAND_CASES])
    for (pair, want), d in zip(HAND_CASES, got, strict=True):
        assert not math.isnan(d), pair
        # the last case is a small circle arc, not a great circle: the great circle is
        # shorter, by less than 0.01 km over 1 degree at 10 degrees south
        tol = 0.01 if pair[0] == -10.0 else 1e-6
        assert d == pytest.approx(want, abs=tol), (pair, d, want)


def test_haversine_is_clamped_where_rounding_exceeds_one(engine: Engine) -> None:
    rng = np.random.default_rng(3)
    lat = rng.uniform(-89, 89, 200)
    lon = rng.uniform(-180, 0, 200)
    pairs = [(float(a), float(b), float(-a), float(b + 180)) for a, b in zip(lat, lon,
                                                                          strict=True)]
    got = np.array(_sql_distances(engine, pairs))
    assert not np.isnan(got).any()
    assert np.allclose(got, HALF, atol=1e-6)


def test_haversine_within_sphere_ellipsoid_tolerance_of_pyproj(engine: Engine) -> None:
    rng = np.random.default_rng(11)
    n = 300
    lat1, lat2 = rng.uniform(-85, 85, n), rng.uniform(-85, 85, n)
    lon1, lon2 = rng.uniform(-180, 180, n), rng.uniform(-180, 180, n)
    got = np.array(_sql_distances(engine, list(zip(lat1, lon1, lat2, lon2, strict=True))))
    _, _, metres = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    ellipsoid = np.asarray(metres) / 1000
    far = ellipsoid > 1
    rel = np.abs(got[far] - ellipsoid[far]) / ellipsoid[far]
    # a sphere of the mean radius differs from WGS84 geodesics by at most ~0.56 %
    assert rel.max() < 0.0056, rel.max()
    assert np.median(rel) < 0.003


def test_combine_mean_and_max_by_hand() -> None:
    # one photo, three crops, three classes
    probs = torch.tensor([[[0.6, 0.3, 0.1], [0.1, 0.5, 0.4], [0.2, 0.4, 0.4]]])
    mean = combine_crops(probs, "mean")
    mx = combine_crops(probs, "max")
    assert torch.allclose(mean, torch.tensor([[0.3, 0.4, 0.3]]))
    assert torch.allclose(mx, torch.tensor([[0.6, 0.5, 0.4]]))
    # the two rules disagree here: mean picks class 1, max picks class 0
    assert int(mean.argmax()) == 1 and int(mx.argmax()) == 0


# Toy three-level set: 4 fine, 3 middle, 2 coarse classes.
MIDDLE_OF_FINE = [0, 0, 1, 2]
COARSE_OF_MIDDLE = [1, 0, 0]
CORRECT = np.array([[0, 1, 2, 3], [0, 0, 1, 2], [1, 1, 0, 0]])
# What the SemP reference built: the coarse column filled at *middle* class rows.
REFERENCE_BUG = np.array([[0, 1, 2, 3], [0, 0, 1, 2], [1, 0, 0, 0]])
P_FINE = np.array([[0.2, 0.3, 0.3, 0.2]])
P_MIDDLE = np.array([[0.5, 0.3, 0.2]])
P_COARSE = np.array([[0.1, 0.9]])


def test_hierarchical_prediction_on_toy_set() -> None:
    probs = [P_FINE, P_MIDDLE, P_COARSE]
    scores = hierarchical_scores(probs, CORRECT)
    # by hand: f0 .2*.5*.9, f1 .3*.5*.9, f2 .3*.3*.1, f3 .2*.2*.1
    assert np.allclose(scores, [[0.09, 0.135, 0.009, 0.004]])
    answer = answer_from_probs(probs, CORRECT, top_k=2)
    assert answer.hier_index[:, 0].tolist() == [1, 0, 1]
    assert np.allclose(answer.hier_prob[:, 0], [0.3, 0.5, 0.9])
    # the reference code's matrix gives another answer (f0) on the same probabilities
    assert int(hierarchical_scores(probs, REFERENCE_BUG).argmax()) == 0
    # flat answers are per level's own argmax (fine tie 1/2 goes to the first)
    assert answer.flat_index[:, 0].tolist() == [1, 0, 1]
    assert answer.topk_index[0][0].tolist() == [1, 2]
    assert answer.topk_index[1][0].tolist() == [0, 1]


def test_orphan_takes_the_factor_of_the_level_below() -> None:
    anc = CORRECT.copy()
    anc[2, 3] = -1  # f3 has no coarse class: its middle factor .2 stands in for the coarse
    scores = hierarchical_scores([P_FINE, P_MIDDLE, P_COARSE], anc)
    assert scores[0, 3] == pytest.approx(0.2 * 0.2 * 0.2)
    anc[1, 3] = -1  # no middle class either: p_fine carries through both levels
    scores = hierarchical_scores([P_FINE, P_MIDDLE, P_COARSE], anc)
    assert scores[0, 3] == pytest.approx(0.2 ** 3)


def test_an_orphan_country_loses_to_a_class_with_twice_its_probability() -> None:
    """Issue 17's case: a small country whose images reached the fine τ but not the coarse
    one (no coarse ancestor) against a fine class with twice its probability whose coarse
    ancestor is less than certain. With the old neutral factor 1 the orphan won
    (0.3 · 1 > 0.6 · 0.45)."""
    p_fine = np.array([[0.3, 0.6, 0.1]])  # f0 the orphan, f1 twice as probable
    p_coarse = np.array([[0.45, 0.55]])  # f1 → c0; f2 → c1; f0 → none
    anc = np.array([[0, 1, 2], [-1, 0, 1]])
    scores = hierarchical_scores([p_fine, p_coarse], anc)
    assert scores[0].tolist() == pytest.approx([0.3 * 0.3, 0.6 * 0.45, 0.1 * 0.55])
    answer = answer_from_probs([p_fine, p_coarse], anc, top_k=1)
    assert int(answer.hier_index[0, 0]) == 1
    assert 0.3 * 1.0 > 0.6 * 0.45  # what a factor of 1 would have chosen instead


def test_hierarchical_answers_equal_a_numpy_loop_over_random_sets() -> None:
    """Random three-level sets with orphans, recomputed by an explicit per-photo,
    per-class loop (independent of the vectorised code)."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = [int(rng.integers(3, 9)), int(rng.integers(2, 6)), int(rng.integers(1, 4))]
        anc = np.stack([np.arange(n[0]), rng.integers(-1, n[1], n[0]),
                        rng.integers(-1, n[2], n[0])])
        probs = [rng.dirichlet(np.ones(k), size=4) for k in n]
        answer = answer_from_probs(probs, anc, top_k=3)
        for b in range(4):
            best, best_score = -1, -1.0
            for f in range(n[0]):
                factor = score = probs[0][b, f]
                for k in (1, 2):
                    if anc[k, f] >= 0:
                        factor = probs[k][b, anc[k, f]]
                    score *= factor
                if score > best_score:
                    best, best_score = f, score
            assert int(answer.hier_index[0, b]) == best
            for k in (1, 2):
                assert int(answer.hier_index[k, b]) == anc[k, best]


def test_ancestor_matrix_read_from_postgis(engine: Engine) -> None:
    with engine.begin() as conn:
        set_id = conn.execute(sa.text(
            "INSERT INTO partitioning_sets (name, scheme) VALUES ('toy3', 'imported') "
            "RETURNING id")).scalar_one()
        pids = [conn.execute(sa.text(
            "INSERT INTO partitionings (set_id, level, name) VALUES (:s, :l, :n) RETURNING id"),
            {"s": set_id, "l": level, "n": f"toy_l{level}"}).scalar_one() for level in range(3)]
        cells: list[list[int]] = []
        for level, n in enumerate((4, 3, 2)):
            cells.append([conn.execute(sa.text(
                "INSERT INTO cells (partitioning_id, class_index, n_images, lat, lon, label) "
                "VALUES (:p, :i, 10, 0, 0, :label) RETURNING id"),
                {"p": pids[level], "i": i, "label": f"c{level}_{i}"}).scalar_one()
                for i in range(n)])
        for f in range(4):
            m = MIDDLE_OF_FINE[f]
            c = COARSE_OF_MIDDLE[m]
            conn.execute(sa.text("INSERT INTO cell_ancestors VALUES (:a, :p, :b)"),
                         {"a": cells[0][f], "p": pids[1], "b": cells[1][m]})
            conn.execute(sa.text("INSERT INTO cell_ancestors VALUES (:a, :p, :b)"),
                         {"a": cells[0][f], "p": pids[2], "b": cells[2][c]})
        for m in range(3):  # middle rows must not leak into the fine matrix
            conn.execute(sa.text("INSERT INTO cell_ancestors VALUES (:a, :p, :b)"),
                         {"a": cells[1][m], "p": pids[2], "b": cells[2][COARSE_OF_MIDDLE[m]]})
        matrix = read_ancestor_matrix(conn, "toy3", [4, 3, 2])
    assert matrix.tolist() == CORRECT.tolist()
    answer = answer_from_probs([P_FINE, P_MIDDLE, P_COARSE], matrix, top_k=1)
    assert answer.hier_index[:, 0].tolist() == [1, 0, 1]
    # `partitions show` counts the orphans per level: none here; then f3 loses its
    # coarse ancestor (a NULL ancestor row) and f2 its rows altogether
    from geotool.partition.summary import show_set

    assert [lv.n_orphans for lv in show_set(engine, "toy3")[1]] == [0, 0, 0]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE cell_ancestors SET ancestor_cell_id = NULL "
                             "WHERE cell_id = :f AND ancestor_partitioning_id = :p"),
                     {"f": cells[0][3], "p": pids[2]})
        conn.execute(sa.text("DELETE FROM cell_ancestors WHERE cell_id = :f"),
                     {"f": cells[0][2]})
    assert [lv.n_orphans for lv in show_set(engine, "toy3")[1]] == [0, 1, 2]


def test_five_crops_and_centre_crop() -> None:
    assert default_resize(224) == 256 and default_resize(96) == 110
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (150, 200, 3), dtype=np.uint8))
    five = CropTransform(96, 110, crops=5, mean=(0, 0, 0), std=(1, 1, 1))(photo)
    one = CropTransform(96, 110, crops=1, mean=(0, 0, 0), std=(1, 1, 1))(photo)
    assert five.shape == (5, 3, 96, 96) and one.shape == (1, 3, 96, 96)
    assert torch.equal(five[4], one[0])  # FiveCrop's last crop is the centre crop
    # corners: resized to 110 x 146 (torchvision truncates 146.7), top-left at the origin
    from torchvision.transforms import functional as F
    resized = F.to_tensor(F.resize(photo, 110))
    assert resized.shape[1:] == (110, 146)
    assert torch.equal(five[0], resized[:, :96, :96])
    assert torch.equal(five[3], resized[:, -96:, -96:])


def test_summary_line_names_each_place_once_coarse_to_fine() -> None:
    from geotool.learn.predict import CellAnswer, ImageAnswer

    def cell(level: int, key: str, name: str, p: float) -> CellAnswer:
        return CellAnswer(level, f"tau_{level}", 0, key, f"{name}, somewhere", p, 0.0, 0.0)

    answer = ImageAnswer("x.jpg", hierarchical=[
        cell(0, "N1", "Barcelona", 0.40), cell(1, "R2", "Catalonia", 0.71),
        cell(2, "R3", "Spain", 0.92)])
    assert answer.summary_line() == "Spain 92 % › Catalonia 71 % › Barcelona 40 %"
    # a place that is a class at two levels is named once, with its coarser probability
    answer = ImageAnswer("x.jpg", hierarchical=[
        cell(0, "N1", "Tizai", 0.06), cell(1, "N1", "Tizai", 0.13), cell(2, "R3", "Spain", 0.5)])
    assert answer.summary_line() == "Spain 50 % › Tizai 13 %"


@pytest.mark.parametrize(("name", "message"), [
    ("gpu", "--device 'gpu': choose auto, cpu, cuda or cuda:N"),
    ("cuda:x", "--device 'cuda:x': choose"),
    ("meta", "--device 'meta': choose")])
def test_a_device_name_torch_does_not_know_is_refused(name: str, message: str) -> None:
    """torch.device('gpu') raised a RuntimeError traceback; 'meta' ran nothing useful."""
    from geotool.errors import InvalidValueError
    from geotool.learn.predict import pick_device

    with pytest.raises(InvalidValueError, match=message):
        pick_device(name)
    assert pick_device("cpu") == torch.device("cpu")


def test_prediction_options_refused_before_any_photo_is_read() -> None:
    """A resize below the input size used to fail per photo inside the loader (a
    ValueError from torchvision); negative workers inside the DataLoader."""
    from geotool.errors import InvalidValueError
    from geotool.learn.predict import PredictParams

    with pytest.raises(InvalidValueError, match="--resize 100: .* 224 px"):
        CropTransform(224, 100)
    CropTransform(224, 224)
    with pytest.raises(InvalidValueError, match="--workers -1"):
        PredictParams("m", "d", workers=-1).check()


@pytest.mark.parametrize("combine", ["mean", "max"])
def test_five_crop_probabilities_of_a_batch_equal_a_per_image_per_crop_loop(
        combine: str) -> None:
    """level_probabilities on B = 3 photos × 5 crops at once against one forward pass per
    image and crop, softmax per crop, then the mean (or max) by hand."""
    from geotool.learn.inference import level_probabilities
    from geotool.learn.model import GeoClassifier

    torch.manual_seed(0)
    model = GeoClassifier("small_cnn", [7, 4]).eval()
    crops = torch.randn(3, 5, 3, 32, 32)
    got = level_probabilities(model, crops, combine)
    for level, n in enumerate((7, 4)):
        assert got[level].shape == (3, n)
        for b in range(3):
            per_crop = []
            for c in range(5):
                with torch.no_grad():
                    logits = model(crops[b, c][None])[level][0].double()
                e = np.exp(logits.numpy() - logits.numpy().max())
                per_crop.append(e / e.sum())
            want = (np.mean(per_crop, axis=0) if combine == "mean"
                    else np.max(per_crop, axis=0))
            assert got[level][b] == pytest.approx(want, abs=1e-6)


def test_non_finite_probabilities_are_flagged_not_argmaxed() -> None:
    from geotool.learn.inference import finite_rows

    probs = [np.array([[0.2, 0.8], [np.nan, 0.5], [0.5, 0.5]]),
             np.array([[1.0], [1.0], [np.inf]])]
    assert finite_rows(probs).tolist() == [True, False, False]
    # what would have been stored without the check: class 0 for a NaN row
    assert int(np.argmax(probs[0][1])) == 0
