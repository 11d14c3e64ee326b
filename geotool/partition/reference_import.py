"""Import the reference release's partitionings into geotool's tables.

Two formats (docs/partitioning.md, "Reading the results"):
- SemP: ``m_<n>.csv`` files with ``class_index,class_label,latitude_mean,longitude_mean``
  (``class_label`` an OSM key such as ``N1236316``) and ``h_dict.json``
  ``{"m_<n>": {label: parent label in the next coarser partitioning}, ...}``;
- S2: ``cells_*.csv`` with two preamble lines, then
  ``class_label,hex_id,imgs_per_cell,latitude_mean,longitude_mean``.
The files may come in any order: partitionings are ordered fine → coarse by their number
of classes (descending). Cells keep the release's class indices and coordinates (the
plain columns get the same mean). Semantic cells are linked to ``locations`` by OSM key
where the database knows it; ancestors come from ``h_dict.json`` (SemP) or S2 cell
containment. The set's scheme is ``imported``; it has no dataset and no image labels.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import s2sphere
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db import sqlfiles
from geotool.db.runs import recorded_run
from geotool.errors import MissingInputError
from geotool.partition.params import NAME_PATTERN, PartitionError, add_partitioning
from geotool.partition.s2cells import cell_polygon_wkt
from geotool.progress import NO_PROGRESS, Progress


@dataclass
class RefCell:
    class_index: int
    label: str
    lat: float
    lon: float
    n_images: int | None = None
    s2_token: str | None = None


def read_semp_csv(path: Path) -> list[RefCell]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    need = {"class_index", "class_label", "latitude_mean", "longitude_mean"}
    if not rows or not need <= set(rows[0]):
        raise PartitionError(f"{path} is not a SemP m_<n>.csv: it needs columns {sorted(need)}")
    return [RefCell(int(r["class_index"]), r["class_label"], float(r["latitude_mean"]),
                    float(r["longitude_mean"])) for r in rows]


def read_s2_csv(path: Path) -> list[RefCell]:
    with path.open(newline="", encoding="utf-8") as fh:
        lines = fh.read().splitlines()[2:]
    rows = list(csv.DictReader(lines))
    need = {"class_label", "hex_id", "imgs_per_cell", "latitude_mean", "longitude_mean"}
    if not rows or not need <= set(rows[0]):
        raise PartitionError(
            f"{path} is not an S2 cells CSV: after two preamble lines it needs {sorted(need)}"
        )
    return [RefCell(int(r["class_label"]), r["hex_id"], float(r["latitude_mean"]),
                    float(r["longitude_mean"]), int(r["imgs_per_cell"]), r["hex_id"])
            for r in rows]


@dataclass(frozen=True)
class ReferenceParams:
    """Import a reference release's partitionings (SemP ``m_<n>.csv`` files, or S2
    ``cells_*.csv`` files) as set ``name``; ``h_dict`` is SemP's ``h_dict.json`` (each
    class's parent in the next coarser level)."""

    name: str
    files: tuple[Path, ...]
    h_dict: Path | None = None

    def validate(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise PartitionError(
                f"partitioning name {self.name!r} must match {NAME_PATTERN.pattern}")
        if not self.files:
            raise PartitionError("give the release's m_<n>.csv or cells_*.csv files")
        for f in self.files:
            if not Path(f).exists():
                raise MissingInputError(f"reference file {f} does not exist")


@dataclass(frozen=True)
class ReferenceSummary:
    """The imported set: its name, id and number of partitionings."""

    name: str
    set_id: int
    partitionings: int


def import_reference(engine: Engine, params: ReferenceParams, *,
                     progress: Progress = NO_PROGRESS) -> ReferenceSummary:
    """Import the release files as set ``params.name`` (replacing it, with its
    ``labels_<name>`` view). One transaction: a failure leaves the previous set as it was,
    and the run (stage ``build``) ends ``failed``; each file is a ``progress`` phase.
    """
    params.validate()
    name, files, h_dict = params.name, [Path(f) for f in params.files], params.h_dict
    recorded = {"name": name, "scheme": "imported", "files": [str(f) for f in files],
                "h_dict": str(h_dict) if h_dict else None}
    with recorded_run(engine, "build", recorded) as run:
        set_id = _import(engine, name, files, h_dict, progress)
        run.summary["set_id"] = set_id
    return ReferenceSummary(name, set_id, len(files))


def _import(engine: Engine, name: str, files: list[Path], h_dict: Path | None,
            progress: Progress) -> int:
    is_s2 = all(f.name.startswith("cells") for f in files)
    parts = [(f, read_s2_csv(f) if is_s2 else read_semp_csv(f)) for f in files]
    parts.sort(key=lambda p: -len(p[1]))
    try:
        parents = json.loads(h_dict.read_text()) if h_dict else {}
    except (OSError, ValueError) as exc:
        raise PartitionError(f"cannot read the h_dict file {h_dict}: {exc}") from exc
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('geotool_build'))"))
        view = conn.dialect.identifier_preparer.quote(f"labels_{name}")
        conn.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
        conn.execute(sa.text("DELETE FROM partitioning_sets WHERE name = :n"), {"n": name})
        set_id = int(conn.execute(sa.text(
            "INSERT INTO partitioning_sets (name, scheme, params) VALUES (:n, 'imported', "
            "CAST(:p AS jsonb)) RETURNING id"),
            {"n": name, "p": json.dumps({"files": [str(f) for f, _ in parts],
                                         "s2": is_s2})}).scalar_one())
        pids = []
        for level, (path, cells) in enumerate(parts):
            progress.phase(f"{path.name}: {len(cells):,} cells")
            pid = add_partitioning(conn, set_id, level, path.stem, None,
                                   {"source": str(path)})
            _insert_cells(conn, pid, cells)
            pids.append(pid)
        _ancestors(conn, parts, pids, parents, is_s2)
        sqlfiles.run(conn, "partition/refresh_views")
    return set_id


def _insert_cells(conn: Connection, pid: int, cells: list[RefCell]) -> None:
    conn.execute(sa.text(
        "INSERT INTO cells (partitioning_id, class_index, location_id, s2_token, n_images, "
        "lat, lon, lat_plain, lon_plain, label, geom, geom_source) "
        "SELECT :p, :k, l.id, CAST(:tok AS text), :n, :lat, :lon, :lat, :lon, "
        "coalesce(l.name_en, l.name, CAST(:label AS text)), "
        "CASE WHEN :tok IS NOT NULL THEN ST_GeomFromText(CAST(:g AS text), 4326) "
        "WHEN ST_Dimension(l.geom) = 2 THEN l.geom END, "
        "CASE WHEN :tok IS NOT NULL THEN 's2' WHEN ST_Dimension(l.geom) = 2 THEN 'osm' END "
        "FROM (SELECT 1) one LEFT JOIN locations l "
        "ON l.osm_key = CAST(:label AS text) AND CAST(:tok AS text) IS NULL"),
        [{"p": pid, "k": c.class_index, "label": c.label, "tok": c.s2_token,
          "n": c.n_images or 0, "lat": c.lat, "lon": c.lon,
          "g": cell_polygon_wkt(s2sphere.CellId.from_token(c.s2_token).id())
          if c.s2_token else None} for c in cells])
    conn.execute(sa.text("UPDATE partitionings SET n_classes = :n WHERE id = :p"),
                 {"n": len(cells), "p": pid})


def _ancestors(conn: Connection, parts: list[tuple[Path, list[RefCell]]], pids: list[int],
               parents: dict[str, dict[str, str]], is_s2: bool) -> None:
    ids: list[dict[str, int]] = []
    for pid in pids:
        ids.append({str(r[0]): int(r[1]) for r in conn.execute(sa.text(
            "SELECT c.class_index, c.id FROM cells c WHERE c.partitioning_id = :p"),
            {"p": pid})})
    by_label = [{c.label: c for c in cells} for _path, cells in parts]
    rows = []
    for level, (_path, cells) in enumerate(parts):
        for cell in cells:
            current: str | None = cell.label
            for coarse in range(level + 1, len(parts)):
                found: RefCell | None = None
                if is_s2:
                    cid = s2sphere.CellId.from_token(cell.label)
                    for lvl in range(cid.level(), -1, -1):
                        found = by_label[coarse].get(cid.parent(lvl).to_token())
                        if found:
                            break
                else:
                    step = parents.get(f"m_{len(parts[coarse - 1][1])}", {})
                    current = step.get(current) if current is not None else None
                    found = by_label[coarse].get(current) if current else None
                rows.append({"c": ids[level][str(cell.class_index)], "p": pids[coarse],
                             "a": ids[coarse][str(found.class_index)] if found else None})
    if rows:
        conn.execute(sa.text("INSERT INTO cell_ancestors (cell_id, ancestor_partitioning_id, "
                             "ancestor_cell_id) VALUES (:c, :p, :a)"), rows)
