"""The demo: the whole pipeline, end to end, on the built-in synthetic planet.

``geotool demo`` (and the README's first command) runs every stage for real — the private
PostGIS server, a seeded world with its OSM extract imported into a local Nominatim,
rendered photos, ingest, reverse geocoding, the SemP and S2 partitionings, a model trained
on each (``training/synthetic.toml``), five-crop prediction of the test split, the
evaluation ladder with its baselines, one photo answered, and concept influence with its
report — and checks the data half against the generator's own truth. Every step is idempotent and
resumable: a finished step is recognised and skipped, an interrupted one is redone or
continued, so running the demo twice costs little the second time.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geotool.db.urls import shown_url
from geotool.errors import InvalidValueError
from geotool.progress import NO_PROGRESS, Progress
from geotool.settings import Settings, load_settings


@dataclass(frozen=True)
class DemoConfig:
    """What the demo builds. The defaults finish in a few minutes on two CPU cores."""

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
    epochs: int | None = None  # None: the training config's
    concept_images: int = 120  # test photos explained for concept influence

    def validate(self) -> None:
        if self.countries < 1:
            raise InvalidValueError(f"--countries must be at least 1, not {self.countries}")
        if self.photos < 100:
            raise InvalidValueError(
                f"--photos must be at least 100 for a useful demo, not {self.photos}")
        if self.geocoder not in {"bulk", "nominatim"}:
            raise InvalidValueError(
                f"--geocoder must be bulk or nominatim, not {self.geocoder!r}")


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
    answer_truth: str = ""  # that photo's true place (its address vector, fine first)
    concepts: Any = None  # geotool.explain.report.ConceptReport
    concepts_text: str = ""
    concept_chart: Path | None = None




def demo_workdir(settings: Settings | None = None) -> Path:
    """Where the demo keeps its world and photos: ``<geotool home>/demo``."""
    return (settings or load_settings()).home / "demo"


def _world_matches(world_dir: Path, config: DemoConfig) -> bool:
    meta = world_dir / "world.json"
    if not meta.is_file():
        return False
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(data.get("seed") == config.seed and data.get("n_countries") == config.countries)


def _photos_match(photo_dir: Path, world_dir: Path, config: DemoConfig) -> bool:
    import hashlib

    meta = photo_dir / "photos.json"
    if not meta.is_file() or not (photo_dir / "all.csv").is_file():
        return False
    try:
        params = json.loads(meta.read_text(encoding="utf-8")).get("parameters", {})
    except (OSError, ValueError):
        return False
    world_hash = hashlib.sha256((world_dir / "world.json").read_bytes()).hexdigest()
    return bool(params.get("n") == config.photos and params.get("size") == config.size
                and params.get("seed") == config.seed
                and params.get("world_sha256") == world_hash)


def run_demo(config: DemoConfig | None = None, *, workdir: Path | None = None,
             database_url: str | None = None, progress: Progress = NO_PROGRESS,
             ) -> DemoReport:
    """Run the pipeline on the synthetic planet and return what happened.

    ``progress`` gets one message per step (its name, then what it did) and the phases of
    the stages the steps call.
    """
    log = progress.message
    from geotool.db.engine import database_url as resolve_url
    from geotool.db.engine import get_engine
    from geotool.db.migrate import upgrade

    config = config or DemoConfig()
    config.validate()
    workdir = workdir or demo_workdir()
    workdir.mkdir(parents=True, exist_ok=True)
    report = DemoReport(workdir=workdir)

    def step(name: str, fn: Callable[[], tuple[str, bool]]) -> None:
        t0 = time.monotonic()
        log(f"[{len(report.steps) + 1}] {name} …")
        detail, skipped = fn()
        report.steps.append(StepResult(name, detail, time.monotonic() - t0, skipped))
        log(f"    {detail}")

    url_holder: dict[str, str] = {}

    def database() -> tuple[str, bool]:
        url = resolve_url(database_url)
        revision = upgrade(url)
        url_holder["url"] = url
        shown = shown_url(url)
        return f"PostGIS at {shown}, schema at revision {revision}", False

    step("database", database)
    engine = get_engine(url_holder["url"])
    world_dir, photo_dir = workdir / "world", workdir / "photos"

    def world() -> tuple[str, bool]:
        from geotool.synth.world import generate_world

        if _world_matches(world_dir, config):
            return f"world of seed {config.seed} already in {world_dir}", True
        w = generate_world(config.seed, config.countries, world_dir, progress=progress)
        return f"{len(w.places):,} places in {config.countries} countries → {world_dir}", False

    step("synthetic world", world)

    from geotool.geocode.nominatim.local import local_nominatim

    local = local_nominatim(load_settings(database_url=database_url) if database_url else None,
                            database=config.nominatim_database)

    def nominatim() -> tuple[str, bool]:
        from geotool.geocode.nominatim.local import import_osm

        record = import_osm(world_dir / "world.osm", local)
        where = f"Nominatim database {record.database}"
        if record.skipped:
            return f"{where} already holds this extract", True
        return f"imported {world_dir / 'world.osm'} into {where}", False

    step("Nominatim import", nominatim)

    def photos() -> tuple[str, bool]:
        from geotool.synth.photos import generate_photos

        if _photos_match(photo_dir, world_dir, config):
            return f"{config.photos:,} photos already in {photo_dir}", True
        if photo_dir.exists():  # the demo's own folder, cut short or made with other settings
            shutil.rmtree(photo_dir)
        generate_photos(world_dir, config.photos, config.size, photo_dir, seed=config.seed,
                        overwrite=True, progress=progress)
        return f"{config.photos:,} photos of {config.size} px → {photo_dir}", False

    step("synthetic photos", photos)

    def ingest() -> tuple[str, bool]:
        from geotool.ingest.load import ingest_file

        summary = ingest_file(photo_dir / "all.csv", config.dataset, engine=engine,
                              progress=progress)
        done = summary.loaded == 0 and summary.updated == 0
        return (f"{summary.rows_read:,} rows: {summary.loaded:,} loaded, "
                f"{summary.already_present:,} already present"), done

    step("ingest", ingest)

    def geocode() -> tuple[str, bool]:
        from geotool.geocode.pipeline import GeocodeParams
        from geotool.geocode.pipeline import geocode as geocode_stage
        from geotool.geocode.registry import GeocoderOptions

        options = GeocoderOptions(database_url=url_holder["url"], concurrency=2,
                                  nominatim_dsn=local.nominatim_dsn,
                                  nominatim_project_dir=str(local.project_dir),
                                  simplify=0.0001)
        summary = geocode_stage(engine, GeocodeParams(config.dataset, config.geocoder, options),
                                progress=progress)
        if summary.images_todo == 0 and summary.details_written == 0:
            return "every image already has its address vector", True
        return (f"{summary.images_written:,} images with {summary.geocoder}: {summary.ok:,} ok, "
                f"{summary.unplaceable:,} unplaceable, {summary.failed:,} failed; "
                f"{summary.details_written:,} locations described"), False

    step("reverse geocoding", geocode)

    def build() -> tuple[str, bool]:
        from geotool.partition.build import BuildParams, build_partitioning

        wanted = [BuildParams(name="demo_semp", dataset=config.dataset, taus=config.taus),
                  BuildParams(name="demo_s2", scheme="s2", dataset=config.dataset,
                              img_min=config.s2_img_min, img_maxes=config.s2_img_maxes)]
        todo = [p for p in wanted if not _set_is_current(engine, p)]
        for params in todo:  # a rebuild would change the classes the models learnt
            build_partitioning(engine, params, progress)
        parts = [f"{p.name}: " + ", ".join(str(n) for n in _class_counts(engine, p.name))
                 + " classes" for p in wanted]
        return "; ".join(parts), not todo

    step("partitionings", build)
    _check(engine, config, world_dir, report)
    if config.learn:
        _learn(engine, config, workdir, photo_dir, report, step, progress)
    return report


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


Step = Callable[[str, Callable[[], tuple[str, bool]]], None]


def _learn(engine: Engine, config: DemoConfig, workdir: Path, photo_dir: Path,
           report: DemoReport, step: Step, progress: Progress) -> None:
    """The learning half: train SemP and S2 models, predict the test split, evaluate
    both against the baselines, answer one photo, and measure concept influence."""
    from geotool.db.resources import training_config
    from geotool.errors import require_module

    require_module("torch", "ml", "the demo's training, prediction and concept steps")
    from geotool.learn.config import load_train_config
    from geotool.learn.registry import find_model
    from geotool.learn.train import train

    models = {"demo_semp_model": "demo_semp", "demo_s2_model": "demo_s2"}

    def training() -> tuple[str, bool]:
        done, parts = True, []
        for name, set_name in models.items():
            with engine.connect() as conn:
                existing = find_model(conn, name)
            if existing is not None and existing.status == "done":
                report.models[name] = dict(existing.metrics or {})
                parts.append(f"{name} already trained")
                continue
            done = False
            cfg = load_train_config(training_config(config.train_config), partitions=set_name,
                                    name=name, epochs=config.epochs,
                                    checkpoint_dir=str(workdir / "models" / name))
            progress.message(f"    training {name} on {set_name} "
                             f"({cfg.backbone}, {cfg.epochs} epochs)")
            result = train(engine, cfg, progress, resume=existing is not None)
            report.models[name] = dict(result.best_metrics)
            parts.append(f"{name}: {result.steps:,} steps in {result.seconds:,.0f} s")
        return "; ".join(parts), done

    step("training", training)

    def prediction() -> tuple[str, bool]:
        from geotool.learn.predict import predict

        parts, done = [], True
        for name in models:
            summary = predict(engine, name, config.dataset, "test", progress=progress)
            done = done and summary.predicted == 0
            parts.append(f"{name}: {summary.predicted + summary.already_done:,} test photos "
                         f"({summary.already_done:,} done before), {summary.failed} failed")
        return "; ".join(parts), done

    step("five-crop prediction", prediction)

    def evaluation() -> tuple[str, bool]:
        from geotool.learn.evaluate import evaluate

        report.evaluation = evaluate(engine, list(models), config.dataset, "test")
        return f"{len(report.evaluation.frame)} rows (models and baselines)", False

    step("evaluation", evaluation)

    def one_photo() -> tuple[str, bool]:
        from geotool.learn.lookup import ready_model
        from geotool.learn.predict import predict_image

        with engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT i.id, i.path FROM images i JOIN datasets d ON d.id = i.dataset_id "
                "WHERE d.name = :ds AND i.split = 'test' AND i.path IS NOT NULL "
                "ORDER BY i.id LIMIT 1"), {"ds": config.dataset}).one()
            truth = conn.execute(sa.text(
                "SELECT string_agg(coalesce(l.name_en, l.name, l.osm_key), ', ' "
                "ORDER BY a.position) FROM image_addresses a "
                "JOIN locations l ON l.id = a.location_id WHERE a.image_id = :i"),
                {"i": row.id}).scalar()
        ready = ready_model(engine, "demo_semp_model")
        report.answer = predict_image(ready, [row.path])[0]
        report.answer_truth = truth or ""
        return f"{row.path}: {report.answer.summary_line()}", False

    step("one photo", one_photo)

    def concepts() -> tuple[str, bool]:
        from geotool.explain.attributions import ExplainOptions
        from geotool.explain.pipeline import ConceptOptions, compute_concepts
        from geotool.explain.report import concept_report, format_report

        options = ConceptOptions(explain=ExplainOptions(noise_samples=4, ig_steps=8),
                                 k=_demo_k(config), betas=(0, 2),
                                 limit=config.concept_images)
        summary = compute_concepts(engine, "demo_semp_model", config.dataset, "test",
                                   options, progress)
        chart = workdir / "concepts.png"
        report.concepts = concept_report(engine, "demo_semp_model", min_images=10,
                                         design=photo_dir / "design.json", chart=chart)
        report.concepts_text = format_report(report.concepts)
        report.concept_chart = chart
        done = summary.images_explained == 0
        return (f"{summary.images_explained + summary.images_already_done:,} test photos "
                f"explained ({summary.images_already_done:,} before); chart {chart}"), done

    step("concept influence", concepts)


def _demo_k(config: DemoConfig) -> int:
    """Top-k pixels for the demo: 10 % of the model's input pixels. At the synthetic
    model's 64 px the default (1000 at 224 px, scaled: 82 px) leaves most concepts with no
    top-k pixel at all and their median ci at 0 (docs/concepts.md)."""
    from geotool.db.resources import training_config
    from geotool.learn.config import load_train_config

    size = load_train_config(training_config(config.train_config)).input_size()
    return max(1, size * size // 10)


def _check(engine: Engine, config: DemoConfig, world_dir: Path, report: DemoReport) -> None:
    """Compare the database with the generator's truth and collect what to show."""
    from geotool.partition.summary import list_sets, show_set
    from geotool.synth.places import load_world

    world = load_world(world_dir)
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
