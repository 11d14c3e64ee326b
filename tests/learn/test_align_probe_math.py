"""The probe's fits against independent computations (NumPy least squares, the
augmented-data form of ridge, a hand-made separable problem)."""

from __future__ import annotations

import numpy as np
import pytest

from geotool.errors import InvalidValueError
from geotool.learn.align.probe import (
    ProbeParams,
    fit_and_score,
    logistic_fit,
    r2_score,
    ridge_fit,
)


def test_ridge_alpha0_is_least_squares_with_intercept() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4))
    y = x @ np.array([1.0, -2.0, 0.5, 0.0]) + 3.0 + rng.normal(scale=0.1, size=50)
    fit = ridge_fit(x, y, 0.0)
    ref = np.linalg.lstsq(np.column_stack([x, np.ones(50)]), y, rcond=None)[0]
    np.testing.assert_allclose(fit.weight[:, 0], ref[:4], atol=1e-10)
    np.testing.assert_allclose(fit.bias[0], ref[4], atol=1e-10)


def test_ridge_alpha_matches_augmented_least_squares() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
    alpha = 2.5
    fit = ridge_fit(x, y, alpha)
    xc, yc = x - x.mean(0), y - y.mean(0)
    aug_x = np.vstack([xc, np.sqrt(alpha) * np.eye(3)])
    aug_y = np.vstack([yc, np.zeros((3, 2))])
    np.testing.assert_allclose(fit.weight, np.linalg.lstsq(aug_x, aug_y, rcond=None)[0],
                               atol=1e-10)
    np.testing.assert_allclose(fit.bias, y.mean(0) - x.mean(0) @ fit.weight, atol=1e-12)
    with pytest.raises(InvalidValueError):
        ridge_fit(x, y, -1.0)


def test_r2_by_hand() -> None:
    y, p = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.5, 2.5, 4.0])
    assert r2_score(y, p) == pytest.approx(1 - 0.5 / 5.0)
    assert r2_score(y, y) == 1.0


def test_logistic_separates_separable_classes_and_ridge_classifies() -> None:
    rng = np.random.default_rng(2)
    centres = np.array([[4.0, 0.0], [0.0, 4.0], [-4.0, -4.0]])
    labels = np.repeat(np.arange(3), 40)
    x = centres[labels] + rng.normal(scale=0.5, size=(120, 2))
    fit = logistic_fit(x, labels, 3, alpha=1.0)
    assert np.mean(fit.predict(x).argmax(1) == labels) == 1.0
    scores = fit_and_score(x[::2], labels[::2], x[1::2], labels[1::2], "class", "ridge", 1.0)
    assert scores["accuracy"] == 1.0 and scores["most_frequent"] == pytest.approx(1 / 3)
    value = fit_and_score(x[::2], x[::2, 0] * 2, x[1::2], x[1::2, 0] * 2, "value", "ridge", 0)
    assert value["r2"] == pytest.approx(1.0)


def test_probe_params_refuse_bad_input() -> None:
    for bad, match in ((dict(target="income"), "--target"), (dict(side="text"), "--side"),
                       (dict(method="svm"), "--method"), (dict(alpha=-1), "--alpha"),
                       (dict(test_split="train"), "held-out"),
                       (dict(target="csv"), "target-file")):
        with pytest.raises(InvalidValueError, match=match):
            ProbeParams(**{"model": "m", "target": "country", **bad}).validate()  # type: ignore[arg-type]
