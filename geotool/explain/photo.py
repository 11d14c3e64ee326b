"""One photo explained: the paper's teaser ("building 2.86, mountain 0.62 …").

:func:`explain_photo` loads a model, explains one photo (the predicted class of the
finest head by default, or a given class), computes ci for every concept of its label map
and, when asked, writes a PNG with four panels: the photo as the model saw it, the
explanation heat map, the top-k pixels, and the per-concept ci bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from sqlalchemy.engine import Engine

from geotool.errors import GeotoolError, InvalidValueError, MissingInputError, require_module
from geotool.explain.influence import top_k_mask
from geotool.explain.pipeline import IGNORED, ExplainSession, InfluenceParams, model_checkpoint
from geotool.explain.preprocess import open_photo, prepare_mask, prepare_photo
from geotool.explain.report import save_figure
from geotool.explain.segmenters import ImageRef, MaskProblem, Segmenter, synthetic_masks
from geotool.learn.checkpoint import load_model
from geotool.progress import NO_PROGRESS, Progress


@dataclass(frozen=True)
class PhotoParams:
    """One photo to explain (``geotool concepts explain``): ``photo`` with model ``model``;
    ``mask`` its label map (ADE20k ids unless the segmenter says otherwise; a network
    segmenter needs none); ``out_png`` the figure; ``target_class`` the class explained
    (default: the predicted one); ``influence`` how (its ``limit`` and ``batch_size`` do
    not apply)."""

    model: str
    photo: Path
    mask: Path | None = None
    out_png: Path | None = None
    target_class: int | None = None
    influence: InfluenceParams = field(default_factory=InfluenceParams)

    def validate(self) -> None:
        if not self.model:
            raise InvalidValueError("the model name is empty; give one with --model NAME")
        if not Path(self.photo).is_file():
            raise MissingInputError(f"photo {self.photo} does not exist")
        if self.target_class is not None and self.target_class < 0:
            raise InvalidValueError(f"--target-class {self.target_class}: must be 0 or more")
        self.influence.validate()


@dataclass
class ConceptScore:
    concept: str
    value: int
    beta: int
    tki: float
    size: float
    ci: float


@dataclass
class PhotoExplanation:
    photo: Path
    target_class: int
    target_label: str
    predicted_class: int
    predicted_label: str
    k: int
    scores: list[ConceptScore]  # by ci, highest first
    heat: NDArray[np.float32] = field(repr=False)
    figure: Path | None = None
    model_input: NDArray[np.uint8] | None = field(default=None, repr=False)  # [H, W, 3]

    def table(self) -> str:
        lines = [f"{self.photo}: explained class {self.target_class} "
                 f"({self.target_label}); predicted {self.predicted_label}; k={self.k}",
                 f"  {'concept':<24} {'β':>3} {'ci':>7} {'tki':>7} {'size':>7}"]
        for s in self.scores:
            lines.append(f"  {s.concept:<24} {s.beta:>3} {s.ci:7.2f} {s.tki:7.3f} "
                         f"{s.size:7.3f}")
        return "\n".join(lines)


def explain_photo(engine: Engine, params: PhotoParams, *, progress: Progress = NO_PROGRESS,
                  segmenter: Segmenter | None = None) -> PhotoExplanation:
    """Explain one photo (:class:`PhotoParams`); ``segmenter`` defaults to label-map files
    in ADE20k ids. ``progress`` gets one phase."""
    params.validate()
    model_name, photo, mask, out_png = params.model, params.photo, params.mask, params.out_png
    options, target_class = params.influence, params.target_class
    progress.phase(f"explaining {photo}")
    segmenter = segmenter or synthetic_masks()
    with engine.connect() as conn:
        _, checkpoint = model_checkpoint(conn, model_name)
    if target_class is not None:
        from dataclasses import replace

        options = replace(options, explain=replace(options.explain, target="given"))
    session = ExplainSession(load_model(Path(checkpoint)), options)
    img = open_photo(photo)
    ref = ImageRef(0, Path(photo).stem, str(photo), str(mask) if mask else None)
    label_map = segmenter.label_map(ref, img)
    if isinstance(label_map, MaskProblem):
        raise GeotoolError(f"{photo}: {label_map.detail} ({label_map.status}); give its "
                           "label map with --mask MASK.png")
    prepared = prepare_photo(img, session.geometry)
    labels = prepare_mask(label_map, session.geometry)
    if segmenter.ignore:
        labels = np.where(np.isin(labels, list(segmenter.ignore)), IGNORED, labels)
    n_classes = len(session.level_classes)
    if target_class is not None and not 0 <= target_class < n_classes:
        raise GeotoolError(f"--target-class {target_class}: the model has {n_classes} "
                           f"classes at level {options.explain.level} (0..{n_classes - 1})")
    targets = torch.tensor([target_class]) if target_class is not None else None
    expl, rows = session.explain([prepared], [labels], targets=targets)
    scores = [ConceptScore(segmenter.names.get(int(c), str(int(c))), int(c), int(b),
                           float(t), float(s), float(v))
              for c, b, t, s, v in zip(rows.concept.tolist(), rows.beta.tolist(),
                                       rows.tki.tolist(), rows.size.tolist(),
                                       rows.ci.tolist(), strict=True)]
    scores.sort(key=lambda s: (s.beta, -s.ci))
    level = session.level_classes
    target, predicted = int(expl.targets[0]), int(expl.predicted[0])
    result = PhotoExplanation(Path(photo), target, level.labels[target], predicted,
                              level.labels[predicted], rows.k, scores,
                              expl.maps[0].cpu().numpy(), model_input=prepared)
    if out_png is not None:
        result.figure = _figure(result, prepared, Path(out_png))
    return result


def _figure(result: PhotoExplanation, photo: NDArray[np.uint8], path: Path) -> Path:
    require_module("matplotlib", "dev", "the explanation figure")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heat = result.heat
    top = top_k_mask(torch.from_numpy(heat)[None], result.k)[0].numpy()
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8),
                             gridspec_kw={"width_ratios": [1, 1, 1, 1.4]})
    axes[0].imshow(photo)
    axes[0].set_title("photo (model input)")
    axes[1].imshow(heat, cmap="inferno")
    axes[1].set_title("IG + SmoothGrad²")
    overlay = photo.astype(np.float32) / 255 * 0.35
    overlay[top] = [1.0, 0.9, 0.1]
    axes[2].imshow(overlay)
    axes[2].set_title(f"top-{result.k} pixels")
    for ax in axes[:3]:
        ax.axis("off")
    beta0 = [s for s in result.scores if s.beta == min(s.beta for s in result.scores)] \
        if result.scores else []
    axes[3].barh([s.concept for s in beta0][::-1], [s.ci for s in beta0][::-1])
    axes[3].axvline(1.0, color="grey", lw=0.8, ls="--")
    axes[3].set_xlabel("concept influence ci")
    axes[3].set_title(f"explained: {result.target_label}")
    fig.tight_layout()
    return save_figure(fig, path, 110)
