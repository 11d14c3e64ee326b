"""The demo: the whole pipeline, end to end, on the built-in synthetic planet.

``geotool demo`` (and the README's first command) runs every stage for real — the private
PostGIS server, a seeded world with its OSM extract imported into a local Nominatim,
rendered photos, ingest, reverse geocoding, the SemP and S2 partitionings, a model trained
on each (``training/synthetic.toml``) and the concept-aware alignment model (λ > 0,
``training/align_synthetic.toml``), five-crop prediction of the test split (the alignment
model from its training coordinates' gallery), one evaluation ladder for all three with the
baselines, one photo answered by the SemP and the alignment model, concept influence with
its report, a QGIS project reading the demo's database and the one photo's explain page
(docs/viewing.md) — and checks the data half against the generator's own truth. Every
step is idempotent and resumable: a finished step is recognised and skipped, an
interrupted one is redone or continued, so running the demo twice costs little the second
time.

The demo is a list of :class:`Step` over one :class:`DemoContext`: a step has a name, an
``is_done(ctx)`` that says what is already there (or None: the step has work to do, or
only its stage can tell, as ingest and prediction skip finished work themselves), and a
``run(ctx)`` that does it and says what it did. :func:`run_demo` is a loop over
:data:`STEPS`; adding a step (a new model family, a QGIS project) is one entry there.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geotool.db.urls import shown_url
from geotool.errors import InvalidValueError
from geotool.progress import NO_PROGRESS, Progress
from geotool.settings import Settings, load_settings

if TYPE_CHECKING:
    from geotool.geocode.nominatim.local import LocalNominatim

__all__ = ["STEPS", "DemoContext", "DemoParams", "DemoReport", "Outcome", "Step",
           "StepResult", "demo_workdir", "run_demo"]


@dataclass(frozen=True)
class DemoParams:
    """What the demo builds. The defaults finish in a few minutes on two CPU cores.

    ``workdir`` holds the world and the photos (default ``<geotool home>/demo``);
    ``database_url`` the database (default: geotool's private server)."""

    seed: int = 7
    countries: int = 6
    photos: int = 3000
    size: int = 96
    dataset: str = "demo"
    geocoder: str = "bulk"
    taus: tuple[int, ...] = (10, 25, 50)
    s2_img_min: int = 10
    s2_img_maxes: tuple[int, ...] = (400, 200, 100)
    nominatim_database: str = "nominatim"
    learn: bool = True  # train, predict, evaluate and explain (needs the ml extra)
    train_config: str = "synthetic.toml"  # a file of training/ (geotool.db.resources)
    align_config: str = "align_synthetic.toml"  # the alignment model's (λ > 0)
    epochs: int | None = None  # None: the training config's
    concept_images: int = 120  # test photos explained for concept influence
    workdir: Path | None = None
    database_url: str | None = None

    def validate(self) -> None:
        if self.countries < 1:
            raise InvalidValueError(f"--countries must be at least 1, not {self.countries}")
        if self.photos < 100:
            raise InvalidValueError(
                f"--photos must be at least 100 for a useful demo, not {self.photos}")
        if self.geocoder not in {"bulk", "nominatim"}:
            raise InvalidValueError(
                f"--geocoder must be bulk or nominatim, not {self.geocoder!r}")
        if self.epochs is not None and self.epochs < 1:
            raise InvalidValueError(f"--epochs must be at least 1, not {self.epochs}")


@dataclass
class StepResult:
    """One pipeline step: what it did (or that it was already done) and how long it took."""

    name: str
    detail: str
    seconds: float
    skipped: bool = False


@dataclass
class DemoReport:
    """Everything the demo did, plus checks of its result against the generator's truth."""

    workdir: Path
    steps: list[StepResult] = field(default_factory=list)
    images: dict[str, int] = field(default_factory=dict)
    geocode_agreement: float = 0.0
    geocode_checked: int = 0
    partitionings: list[dict[str, Any]] = field(default_factory=list)
    cell_examples: list[str] = field(default_factory=list)
    cells_containing: float = 0.0
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> best metrics
    evaluation: Any = None  # geotool.learn.evaluate.EvaluationTable
    answer: Any = None  # geotool.learn.predict.ImageAnswer of one test photo
    align_answer: Any = None  # geotool.learn.align.predict.AlignImageAnswer of that photo
    answer_truth: str = ""  # that photo's true place (its address vector, fine first)
    concepts: Any = None  # geotool.explain.report.ConceptReport
    concepts_text: str = ""
    concept_chart: Path | None = None
    qgis_project: Path | None = None  # the QGIS project reading the demo's database
    explain_page: Path | None = None  # the one photo's explain page
    viewing: list[str] = field(default_factory=list)  # commands that open and remake them


@dataclass
class DemoContext:
    """What the steps share: the parameters, where things go, and what earlier steps made
    (the database URL and engine, the local Nominatim). Steps write their results into
    ``report``."""

    params: DemoParams
    workdir: Path
    progress: Progress
    report: DemoReport
    url: str = ""  # the resolved database URL (the database step)
    _engine: Engine | None = None
    _local: LocalNominatim | None = None

    #: The demo's models and the partitioning set each learns.
    models: dict[str, str] = field(default_factory=lambda: {
        "demo_semp_model": "demo_semp", "demo_s2_model": "demo_s2"})
    #: The demo's alignment model (family align, λ > 0; learns the dataset's photos).
    align_model: str = "demo_align_model"

    @property
    def all_models(self) -> list[str]:
        """The classifiers, then the alignment model: what is predicted and evaluated."""
        return [*self.models, self.align_model]

    @property
    def world_dir(self) -> Path:
        return self.workdir / "world"

    @property
    def photo_dir(self) -> Path:
        return self.workdir / "photos"

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from geotool.db.engine import get_engine

            self._engine = get_engine(self.url)
        return self._engine

    @property
    def local(self) -> LocalNominatim:
        """The local Nominatim the world is imported into (on the demo's server)."""
        if self._local is None:
            from geotool.geocode.nominatim.local import local_nominatim

            url = self.params.database_url
            self._local = local_nominatim(load_settings(database_url=url) if url else None,
                                          database=self.params.nominatim_database)
        return self._local


@dataclass(frozen=True)
class Outcome:
    """What a step's ``run`` did; ``skipped``: its stage found the work already done."""

    detail: str
    skipped: bool = False


def never_done(ctx: DemoContext) -> str | None:
    """For steps that always run: they are cheap, or only their stage can tell what is
    already done (and then skips it, reporting ``Outcome.skipped``)."""
    return None


@dataclass(frozen=True)
class Step:
    """One step of the demo. ``is_done(ctx)`` returns what is already there (the step is
    then skipped and that is its detail) or None; ``run(ctx)`` does the work.
    ``learning`` steps need the ml extra and are left out with ``--no-learn``."""

    name: str
    is_done: Callable[[DemoContext], str | None]
    run: Callable[[DemoContext], Outcome]
    learning: bool = False


def demo_workdir(settings: Settings | None = None) -> Path:
    """Where the demo keeps its world and photos: ``<geotool home>/demo``."""
    return (settings or load_settings()).home / "demo"


# ----------------------------------------------------------------------------- data half
def _database(ctx: DemoContext) -> Outcome:
    from geotool.db.engine import database_url as resolve_url
    from geotool.db.migrate import upgrade

    ctx.url = resolve_url(ctx.params.database_url)
    revision = upgrade(ctx.url)
    return Outcome(f"PostGIS at {shown_url(ctx.url)}, schema at revision {revision}")


def _world_done(ctx: DemoContext) -> str | None:
    from geotool.synth.places import world_matches

    p = ctx.params
    if world_matches(ctx.world_dir, p.seed, p.countries):
        return f"world of seed {p.seed} already in {ctx.world_dir}"
    return None


def _world(ctx: DemoContext) -> Outcome:
    from geotool.synth.world import generate_world

    p = ctx.params
    w = generate_world(p.seed, p.countries, ctx.world_dir, progress=ctx.progress)
    return Outcome(f"{len(w.places):,} places in {p.countries} countries → {ctx.world_dir}")


def _nominatim(ctx: DemoContext) -> Outcome:
    from geotool.geocode.nominatim.local import import_osm

    osm = ctx.world_dir / "world.osm"
    record = import_osm(osm, ctx.local)
    where = f"Nominatim database {record.database}"
    if record.skipped:
        return Outcome(f"{where} already holds this extract", skipped=True)
    return Outcome(f"imported {osm} into {where}")


def _photos_done(ctx: DemoContext) -> str | None:
    from geotool.synth.photos import photo_set_matches

    p = ctx.params
    if photo_set_matches(ctx.photo_dir, ctx.world_dir, p.photos, p.size, p.seed):
        return f"{p.photos:,} photos already in {ctx.photo_dir}"
    return None


def _photos(ctx: DemoContext) -> Outcome:
    from geotool.synth.photos import generate_photos

    p = ctx.params
    if ctx.photo_dir.exists():  # the demo's own folder, cut short or made with other settings
        shutil.rmtree(ctx.photo_dir)
    generate_photos(ctx.world_dir, p.photos, p.size, ctx.photo_dir, seed=p.seed,
                    overwrite=True, progress=ctx.progress)
    return Outcome(f"{p.photos:,} photos of {p.size} px → {ctx.photo_dir}")


def _ingest(ctx: DemoContext) -> Outcome:
    from geotool.ingest.load import IngestParams, ingest_file

    summary = ingest_file(ctx.engine, IngestParams(ctx.photo_dir / "all.csv",
                                                   ctx.params.dataset),
                          progress=ctx.progress)
    return Outcome(f"{summary.rows_read:,} rows: {summary.loaded:,} loaded, "
                   f"{summary.already_present:,} already present",
                   skipped=summary.loaded == 0 and summary.updated == 0)


def _geocode(ctx: DemoContext) -> Outcome:
    from geotool.geocode.pipeline import GeocodeParams, geocode
    from geotool.geocode.registry import GeocoderOptions

    local = ctx.local
    options = GeocoderOptions(database_url=ctx.url, concurrency=2,
                              nominatim_dsn=local.nominatim_dsn,
                              nominatim_project_dir=str(local.project_dir), simplify=0.0001)
    summary = geocode(ctx.engine, GeocodeParams(ctx.params.dataset, ctx.params.geocoder,
                                                options), progress=ctx.progress)
    if summary.images_todo == 0 and summary.details_written == 0:
        return Outcome("every image already has its address vector", skipped=True)
    return Outcome(f"{summary.images_written:,} images with {summary.geocoder}: "
                   f"{summary.ok:,} ok, {summary.unplaceable:,} unplaceable, "
                   f"{summary.failed:,} failed; {summary.details_written:,} locations "
                   "described")


def _partition_params(ctx: DemoContext) -> list[Any]:
    from geotool.partition.build import BuildParams

    p = ctx.params
    return [BuildParams(name="demo_semp", dataset=p.dataset, taus=p.taus),
            BuildParams(name="demo_s2", scheme="s2", dataset=p.dataset,
                        img_min=p.s2_img_min, img_maxes=p.s2_img_maxes)]


def _partitionings(ctx: DemoContext) -> Outcome:
    """Build the sets that are missing or were built otherwise (a rebuild would change
    the classes the models learnt), then check the data half against the truth."""
    from geotool.partition.build import build_partitioning

    wanted = _partition_params(ctx)
    todo = [p for p in wanted if not _set_is_current(ctx.engine, p)]
    for params in todo:
        build_partitioning(ctx.engine, params, progress=ctx.progress)
    parts = [f"{p.name}: " + ", ".join(str(n) for n in _class_counts(ctx.engine, p.name))
             + " classes" for p in wanted]
    _check(ctx)
    return Outcome("; ".join(parts), skipped=not todo)


def _set_is_current(engine: Engine, params: Any) -> bool:
    """Whether set ``params.name`` exists, built with exactly these parameters."""
    from geotool.partition.params import to_json

    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT params FROM partitioning_sets WHERE name = :n"), {"n": params.name}).scalar()
    return stored is not None and to_json(stored) == to_json(asdict(params))


def _class_counts(engine: Engine, set_name: str) -> list[int]:
    with engine.connect() as conn:
        return [int(n) for n in conn.execute(sa.text(
            "SELECT p.n_classes FROM partitionings p JOIN partitioning_sets s ON s.id = p.set_id "
            "WHERE s.name = :n ORDER BY p.level"), {"n": set_name}).scalars()]


# ------------------------------------------------------------------------- learning half
def _training(ctx: DemoContext) -> Outcome:
    from geotool.db.resources import training_config
    from geotool.learn.config import load_train_config
    from geotool.learn.registry import find_model
    from geotool.learn.train import TrainParams, train

    done, parts = True, []
    for name, set_name in ctx.models.items():
        with ctx.engine.connect() as conn:
            existing = find_model(conn, name)
        if existing is not None and existing.status == "done":
            ctx.report.models[name] = dict(existing.metrics or {})
            parts.append(f"{name} already trained")
            continue
        done = False
        cfg = load_train_config(training_config(ctx.params.train_config),
                                partitions=set_name, name=name, epochs=ctx.params.epochs,
                                checkpoint_dir=str(ctx.workdir / "models" / name))
        ctx.progress.message(f"    training {name} on {set_name} "
                             f"({cfg.backbone}, {cfg.epochs} epochs)")
        result = train(ctx.engine, TrainParams(cfg, resume=existing is not None),
                       progress=ctx.progress)
        ctx.report.models[name] = dict(result.best_metrics)
        parts.append(f"{name}: {result.steps:,} steps in {result.seconds:,.0f} s")
    return Outcome("; ".join(parts), skipped=done)


def _align_training(ctx: DemoContext) -> Outcome:
    """The concept-aware image–GPS alignment model (``training/align_synthetic.toml``:
    λ = 0.5, the planet's concept vocabulary) on the demo's photos and coordinates."""
    from geotool.db.resources import training_config
    from geotool.learn.config import load_train_config
    from geotool.learn.registry import find_model
    from geotool.learn.train import TrainParams, train

    name = ctx.align_model
    with ctx.engine.connect() as conn:
        existing = find_model(conn, name)
    if existing is not None and existing.status == "done":
        ctx.report.models[name] = dict(existing.metrics or {})
        return Outcome(f"{name} already trained", skipped=True)
    cfg = load_train_config(training_config(ctx.params.align_config),
                            dataset=ctx.params.dataset, name=name, epochs=ctx.params.epochs,
                            checkpoint_dir=str(ctx.workdir / "models" / name))
    ctx.progress.message(f"    training {name} on {ctx.params.dataset} ({cfg.backbone}, "
                         f"λ = {cfg.concept_lambda}, {cfg.epochs} epochs)")
    result = train(ctx.engine, TrainParams(cfg, resume=existing is not None),
                   progress=ctx.progress)
    ctx.report.models[name] = dict(result.best_metrics)
    m = result.best_metrics
    return Outcome(f"{name}: {result.steps:,} steps in {result.seconds:,.0f} s; val within "
                   f"25/200/750 km {m.get('acc_25km', 0):.3f}/{m.get('acc_200km', 0):.3f}/"
                   f"{m.get('acc_750km', 0):.3f}")


def _prediction(ctx: DemoContext) -> Outcome:
    from geotool.learn.predict import PredictParams, predict

    parts, done = [], True
    for name in ctx.all_models:  # the alignment model answers from its training coordinates
        summary = predict(ctx.engine, PredictParams(name, ctx.params.dataset, "test"),
                          progress=ctx.progress)
        done = done and summary.predicted == 0
        parts.append(f"{name}: {summary.predicted + summary.already_done:,} test photos "
                     f"({summary.already_done:,} done before), {summary.failed} failed")
    return Outcome("; ".join(parts), skipped=done)


def _evaluation(ctx: DemoContext) -> Outcome:
    from geotool.learn.evaluate import EvaluateParams, evaluate

    ctx.report.evaluation = evaluate(ctx.engine, EvaluateParams(
        tuple(ctx.all_models), ctx.params.dataset, "test"))
    return Outcome(f"{len(ctx.report.evaluation.frame)} rows (models and baselines)")


def _one_photo(ctx: DemoContext) -> Outcome:
    from geotool.learn.lookup import ready_model
    from geotool.learn.predict import predict_image

    with ctx.engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT i.id, i.path FROM images i JOIN datasets d ON d.id = i.dataset_id "
            "WHERE d.name = :ds AND i.split = 'test' AND i.path IS NOT NULL "
            "ORDER BY i.id LIMIT 1"), {"ds": ctx.params.dataset}).one()
        truth = conn.execute(sa.text(
            "SELECT string_agg(coalesce(l.name_en, l.name, l.osm_key), ', ' "
            "ORDER BY a.position) FROM image_addresses a "
            "JOIN locations l ON l.id = a.location_id WHERE a.image_id = :i"),
            {"i": row.id}).scalar()
    ready = ready_model(ctx.engine, "demo_semp_model")
    ctx.report.answer = predict_image(ready, [row.path])[0]
    ctx.report.answer_truth = truth or ""
    detail = f"{row.path}: {ctx.report.answer.summary_line()}"
    from geotool.learn.align.predict import predict_image_align

    ctx.report.align_answer = predict_image_align(ctx.engine, ctx.align_model, [row.path])[0]
    detail += f"; {ctx.align_model}: {ctx.report.align_answer.summary_line()}"
    return Outcome(detail)


def _concepts(ctx: DemoContext) -> Outcome:
    from geotool.explain.attributions import ExplainParams
    from geotool.explain.pipeline import ConceptParams, InfluenceParams, compute_concepts
    from geotool.explain.report import ReportParams, concept_report, format_report

    influence = InfluenceParams(explain=ExplainParams(noise_samples=4, ig_steps=8),
                                k=_demo_k(ctx.params), betas=(0, 2),
                                limit=ctx.params.concept_images)
    summary = compute_concepts(ctx.engine, ConceptParams(
        "demo_semp_model", ctx.params.dataset, "test", influence), progress=ctx.progress)
    chart = ctx.workdir / "concepts.png"
    report = ctx.report
    report.concepts = concept_report(ctx.engine, ReportParams(
        "demo_semp_model", min_images=10, design=ctx.photo_dir / "design.json", chart=chart))
    report.concepts_text = format_report(report.concepts)
    report.concept_chart = chart
    return Outcome(f"{summary.images_explained + summary.images_already_done:,} test photos "
                   f"explained ({summary.images_already_done:,} before); chart {chart}",
                   skipped=summary.images_explained == 0)


def _qgis_project(ctx: DemoContext) -> Outcome:
    from geotool.export.qgis import QgisParams, export_qgis

    path = ctx.workdir / "demo.qgz"
    done = export_qgis(ctx.engine, QgisParams(path), progress=ctx.progress)
    env = "" if "PGSERVICEFILE" in os.environ or \
        done.service_file == Path.home() / ".pg_service.conf" else \
        f"PGSERVICEFILE={done.service_file} "
    ctx.report.qgis_project = path
    ctx.report.viewing += [f"{env}qgis {path}",
                           f"geotool export qgis --out {path.name}  (to write it again)"]
    return Outcome(f"{path}: {len(done.layers)} layers through service {done.service!r} "
                   f"({done.service_file}); open it with: {env}qgis {path}")


def _explain_page(ctx: DemoContext) -> Outcome:
    from geotool.explain.attributions import ExplainParams
    from geotool.explain.page import ExplainPageParams, explain_page
    from geotool.explain.pipeline import InfluenceParams

    if ctx.report.answer is None:
        return Outcome("no photo answered (the one-photo step did not run)", skipped=True)
    photo = Path(ctx.report.answer.path)
    path = ctx.workdir / "explain.html"
    influence = InfluenceParams(explain=ExplainParams(noise_samples=4, ig_steps=8),
                                k=_demo_k(ctx.params))
    done = explain_page(ctx.engine, ExplainPageParams(
        photo, "demo_semp_model", path, influence=influence), progress=ctx.progress)
    ctx.report.explain_page = path
    ctx.report.viewing += [
        f"open {path} in a browser (one file, no network)",
        f"geotool concepts explain {photo} --model demo_semp_model --html {path.name}  "
        "(to write it again)"]
    return Outcome(f"{path}: {done.bytes / 1e3:,.0f} kB, {done.cells} cells, "
                   f"{done.concepts} concepts")


def _demo_k(params: DemoParams) -> int:
    """Top-k pixels for the demo: 10 % of the model's input pixels. At the synthetic
    model's 64 px the default (1000 at 224 px, scaled: 82 px) leaves most concepts with no
    top-k pixel at all and their median ci at 0 (docs/concepts.md)."""
    from geotool.db.resources import training_config
    from geotool.learn.config import load_train_config

    size = load_train_config(training_config(params.train_config)).input_size()
    return max(1, size * size // 10)


#: The demo, in order. Each step may use what the steps before it made.
STEPS: list[Step] = [
    Step("database", never_done, _database),
    Step("synthetic world", _world_done, _world),
    Step("Nominatim import", never_done, _nominatim),
    Step("synthetic photos", _photos_done, _photos),
    Step("ingest", never_done, _ingest),
    Step("reverse geocoding", never_done, _geocode),
    Step("partitionings", never_done, _partitionings),
    Step("training", never_done, _training, learning=True),
    Step("alignment training", never_done, _align_training, learning=True),
    Step("five-crop prediction", never_done, _prediction, learning=True),
    Step("evaluation", never_done, _evaluation, learning=True),
    Step("one photo", never_done, _one_photo, learning=True),
    Step("concept influence", never_done, _concepts, learning=True),
    Step("QGIS project", never_done, _qgis_project),
    Step("explain page", never_done, _explain_page, learning=True),
]


def run_demo(params: DemoParams | None = None, *, progress: Progress = NO_PROGRESS,
             steps: list[Step] | None = None) -> DemoReport:
    """Run the pipeline (``steps``, default :data:`STEPS`) on the synthetic planet and
    return what happened.

    ``progress`` gets one message per step (its name, then what it did) and the phases of
    the stages the steps call.
    """
    params = params or DemoParams()
    params.validate()
    workdir = params.workdir or demo_workdir()
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(params, workdir, progress, DemoReport(workdir=workdir))
    for step in steps if steps is not None else STEPS:
        if step.learning and not params.learn:
            continue
        if step.learning:
            from geotool.errors import require_module

            require_module("torch", "ml", "the demo's training, prediction and concept steps")
        t0 = time.monotonic()
        progress.message(f"[{len(ctx.report.steps) + 1}] {step.name} …")
        done = step.is_done(ctx)
        outcome = Outcome(done, skipped=True) if done is not None else step.run(ctx)
        ctx.report.steps.append(StepResult(step.name, outcome.detail,
                                           time.monotonic() - t0, outcome.skipped))
        progress.message(f"    {outcome.detail}")
    return ctx.report


def _check(ctx: DemoContext) -> None:
    """Compare the database with the generator's truth and collect what to show."""
    from geotool.partition.summary import list_sets, show_set
    from geotool.synth.places import load_world

    engine, config, report = ctx.engine, ctx.params, ctx.report
    world = load_world(ctx.world_dir)
    with engine.connect() as conn:
        report.images = {row[0]: int(row[1]) for row in conn.execute(sa.text(
            "SELECT i.split, count(*) FROM images i JOIN datasets d ON d.id = i.dataset_id "
            "WHERE d.name = :ds GROUP BY i.split ORDER BY i.split"), {"ds": config.dataset})}
        rows = conn.execute(sa.text(
            "SELECT ST_Y(i.geom), ST_X(i.geom), array_agg(l.osm_key ORDER BY a.position) "
            "FROM images i JOIN datasets d ON d.id = i.dataset_id "
            "JOIN image_addresses a ON a.image_id = i.id "
            "JOIN locations l ON l.id = a.location_id "
            "WHERE d.name = :ds GROUP BY i.id, i.geom ORDER BY i.id"), {"ds": config.dataset}).all()
        agree = 0
        for lat, lon, keys in rows:
            expected = [p.key for p in world.locate(lat, lon)]
            agree += int(list(keys) == expected)
        report.geocode_checked = len(rows)
        report.geocode_agreement = agree / len(rows) if rows else 0.0
        inside, total = conn.execute(sa.text(
            "SELECT count(*) FILTER (WHERE ST_Covers(c.geom, i.geom)), count(*) "
            "FROM image_labels il JOIN cells c ON c.id = il.cell_id "
            "JOIN partitionings p ON p.id = c.partitioning_id "
            "JOIN partitioning_sets s ON s.id = p.set_id "
            "JOIN images i ON i.id = il.image_id "
            "WHERE s.name = 'demo_semp' AND c.geom_source = 'osm'")).one()
        report.cells_containing = inside / total if total else 0.0
        report.cell_examples = [r[0] for r in conn.execute(sa.text(
            "SELECT c.label FROM cells c JOIN partitionings p ON p.id = c.partitioning_id "
            "JOIN partitioning_sets s ON s.id = p.set_id WHERE s.name = 'demo_semp' "
            "ORDER BY p.level, c.n_images DESC, c.class_index LIMIT 5"))]
    for info in list_sets(engine):
        if info.name not in {"demo_semp", "demo_s2"}:
            continue
        _, levels = show_set(engine, info.name)
        for lv in levels:
            report.partitionings.append({"set": info.name, **{
                k: v for k, v in asdict(lv).items()
                if k in {"level", "name", "tau", "n_classes", "n_labelled", "images_median"}}})
