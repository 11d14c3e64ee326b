"""Dataset readers: one per file format, all with the same shape.

A reader is built from a path (``Reader(path)``), reads its header at once (so a file
with missing columns fails before anything else happens) and then streams
:class:`SourceRow` objects from :meth:`rows`: the raw values exactly as the file holds
them, with their 1-based line number and raw text. Converting and checking values is
``geotool.ingest.validate``'s job; readers never hold a whole file in memory.

Formats (see docs/ingest.md):

``csv``           ``id,lat,lon[,path][,mask_path][,author][,split]``
``geoestimation`` GeoEstimation meta CSVs ``IMG_ID,AUTHOR,LAT,LON,...``
``semp``          SemP test CSV ``img_id,latitude,longitude``; images in ``img/`` beside it
``emp16``         EMP-16 JSON lines ``{"id", "latitude", "longitude", "h_raw", "h"}``
``latlon``        coordinates only, ``LAT,LON`` (GeoCLIP's ``coordinates_100K.csv``) or
                  ``lat,lon``/``latitude,longitude``: the id is the row's 1-based number
                  among the data rows, so ingesting the same file again matches the same
                  images

Files may be compressed with bzip2 (``.bz2``) or gzip (``.gz``). Relative image paths are
resolved against the folder that holds the file and stored as absolute paths, because
the ``images`` table has no per-dataset root folder.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar, cast

from geotool.ingest.errors import IngestError

FORMATS = ("csv", "geoestimation", "semp", "emp16", "latlon")
JSON_SUFFIXES = {".jsonl", ".json", ".ndjson"}


@dataclass(slots=True)
class SourceRow:
    """One record as the file holds it; ``lat``/``lon`` are text (CSV) or JSON values."""

    line_no: int
    raw: str
    external_id: str | None
    lat: Any
    lon: Any
    path: str | None = None
    mask_path: str | None = None
    author: str | None = None
    split: str | None = None
    address: Any = None  # EMP-16 ``h_raw``: OSM ids, finest first; None when absent
    error: str | None = None  # the record itself is unreadable (e.g. broken JSON)


class SourceFile:
    """An opened (possibly compressed) UTF-8 text file that knows how many bytes it read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.total_bytes = path.stat().st_size
            self._binary: IO[bytes] = path.open("rb")
        except OSError as exc:
            raise IngestError(f"cannot open {path}: {exc.strerror or exc}") from exc
        inner: IO[bytes] = self._binary
        if path.suffix == ".bz2":
            inner = cast(IO[bytes], bz2.BZ2File(self._binary))
        elif path.suffix == ".gz":
            inner = cast(IO[bytes], gzip.GzipFile(fileobj=self._binary))
        self.text = io.TextIOWrapper(inner, encoding="utf-8-sig", newline="")

    def bytes_read(self) -> int:
        """Bytes of the file on disk consumed so far (compressed bytes for .bz2/.gz)."""
        try:
            return self._binary.tell()
        except (OSError, ValueError):
            return self.total_bytes

    def close(self) -> None:
        self.text.close()
        self._binary.close()


def data_suffix(path: Path) -> str:
    """The suffix that names the content, ignoring a compression suffix."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in {".bz2", ".gz"}:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _decode_error(path: Path, exc: UnicodeDecodeError) -> IngestError:
    return IngestError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start} of a "
                       "block); convert it to UTF-8 and try again")


class Reader:
    """The common shape: ``Reader(path)``, ``.rows()``, ``.has_split``, ``.bytes_read()``."""

    format_name: ClassVar[str]

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.base_dir = self.path.resolve().parent
        self._base = str(self.base_dir)
        self.source = SourceFile(self.path)
        self.has_split = False

    @property
    def total_bytes(self) -> int:
        return self.source.total_bytes

    def bytes_read(self) -> int:
        return self.source.bytes_read()

    def rows(self) -> Iterator[SourceRow]:
        raise NotImplementedError

    def close(self) -> None:
        self.source.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def resolve(self, value: str | None) -> str | None:
        """An image path from the file, made absolute against the file's folder."""
        if value is None:
            return None
        value = value.strip()
        if not value:
            return None
        # os.path, not pathlib: this runs twice per row and pathlib is ~10x slower
        return value if os.path.isabs(value) else os.path.join(self._base, value)


class _LineTap:
    """Hands lines to ``csv.reader`` while keeping them, to give each record its raw text."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.taken.append(line)
        return line


class _TableReader(Reader):
    """CSV formats: a header row, then one record per row; columns found by name."""

    # field -> accepted header names (compared case-insensitively)
    columns: ClassVar[dict[str, tuple[str, ...]]]
    required: ClassVar[tuple[str, ...]] = ("id", "lat", "lon")

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        self._tap = _LineTap(iter(self.source.text))
        self._csv = csv.reader(self._tap)
        try:
            header = next(self._csv, None)
        except UnicodeDecodeError as exc:
            self.close()
            raise _decode_error(self.path, exc) from exc
        except csv.Error as exc:
            self.close()
            raise IngestError(f"{self.path}: unreadable CSV header ({exc})") from exc
        self._tap.taken.clear()
        if not header:
            self.close()
            raise IngestError(f"{self.path} is empty: expected a header line such as "
                              f"{','.join(self.example_header())}")
        self.header = [h.strip() for h in header]
        lowered = [h.lower() for h in self.header]
        self.index: dict[str, int] = {}
        for field_name, names in self.columns.items():
            for name in names:
                if name.lower() in lowered:
                    self.index[field_name] = lowered.index(name.lower())
                    break
        missing = [self.columns[f][0] for f in self.required if f not in self.index]
        if missing:
            self.close()
            raise IngestError(
                f"{self.path}: the header {','.join(self.header)!r} lacks column(s) "
                f"{', '.join(missing)} needed by format {self.format_name!r} "
                f"(expected e.g. {','.join(self.example_header())}); check --format")
        self.has_split = "split" in self.index

    @classmethod
    def example_header(cls) -> list[str]:
        return [cls.columns[f][0] for f in cls.required]

    def rows(self) -> Iterator[SourceRow]:
        taken = self._tap.taken
        index = self.index
        # a format without an id column (latlon) numbers its data rows from 1
        get_id, get_lat, get_lon = index.get("id", -1), index["lat"], index["lon"]
        number = 0
        optional = [(f, index[f]) for f in ("path", "mask_path", "author", "split") if f in index]
        line_no = 1  # the header
        try:
            for fields in self._csv:
                start = line_no + 1
                line_no += len(taken)
                raw = "".join(taken).rstrip("\r\n")
                taken.clear()
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue  # blank line
                n = len(fields)
                number += 1
                row = SourceRow(
                    line_no=start,
                    raw=raw,
                    external_id=(str(number) if get_id < 0 else
                                 fields[get_id] if get_id < n else None),
                    lat=fields[get_lat] if get_lat < n else None,
                    lon=fields[get_lon] if get_lon < n else None,
                )
                for name, i in optional:
                    if i < n:
                        setattr(row, name, fields[i])
                self.finish(row)
                yield row
        except UnicodeDecodeError as exc:
            raise _decode_error(self.path, exc) from exc
        except csv.Error as exc:
            raise IngestError(f"{self.path}, line {line_no + 1}: unreadable CSV ({exc}); "
                              "fix the quoting of that line") from exc

    def finish(self, row: SourceRow) -> None:
        """Format-specific completion of a row (image paths)."""
        row.path = self.resolve(row.path)
        row.mask_path = self.resolve(row.mask_path)


class CsvReader(_TableReader):
    """Plain CSV ``id,lat,lon[,path][,mask_path][,author][,split]``."""

    format_name = "csv"
    columns = {
        "id": ("id",),
        "lat": ("lat",),
        "lon": ("lon",),
        "path": ("path",),
        "mask_path": ("mask_path",),
        "author": ("author",),
        "split": ("split",),
    }


class GeoEstimationReader(_TableReader):
    """GeoEstimation meta CSVs ``IMG_ID,AUTHOR,LAT,LON,...`` (images come from shards)."""

    format_name = "geoestimation"
    columns = {"id": ("IMG_ID",), "lat": ("LAT",), "lon": ("LON",), "author": ("AUTHOR",)}


class SempReader(_TableReader):
    """SemP test CSV ``img_id,latitude,longitude``; the image is ``img/<img_id>`` beside it."""

    format_name = "semp"
    columns = {"id": ("img_id",), "lat": ("latitude",), "lon": ("longitude",)}

    def finish(self, row: SourceRow) -> None:
        ident = (row.external_id or "").strip()
        row.path = os.path.join(self._base, "img", ident) if ident else None


class LatLonReader(_TableReader):
    """Coordinates only: ``LAT,LON`` (GeoCLIP's ``coordinates_100K.csv``), ``lat,lon`` or
    ``latitude,longitude``; each image's id is its 1-based data row number."""

    format_name = "latlon"
    columns = {"lat": ("lat", "latitude"), "lon": ("lon", "longitude")}
    required = ("lat", "lon")


class Emp16Reader(Reader):
    """EMP-16 JSON lines ``{"id", "latitude", "longitude", "h_raw", "h"}``.

    ``h_raw`` is the address vector as OSM ids, finest first; ``h`` (the original
    authors' processed hierarchy) is ignored: geotool builds its own.
    """

    format_name = "emp16"

    def rows(self) -> Iterator[SourceRow]:
        line_no = 0
        try:
            for line in self.source.text:
                line_no += 1
                text = line.strip()
                if not text:
                    continue
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield SourceRow(line_no, text, None, None, None,
                                    error=f"not valid JSON ({exc.msg} at column {exc.colno})")
                    continue
                if not isinstance(obj, dict):
                    yield SourceRow(line_no, text, None, None, None,
                                    error="not a JSON object")
                    continue
                ident = obj.get("id")
                yield SourceRow(
                    line_no=line_no,
                    raw=text,
                    external_id=None if ident is None else str(ident),
                    lat=obj.get("latitude"),
                    lon=obj.get("longitude"),
                    address=obj.get("h_raw"),
                )
        except UnicodeDecodeError as exc:
            raise _decode_error(self.path, exc) from exc
        except (OSError, EOFError) as exc:
            raise IngestError(f"{self.path}: cannot decompress/read after line {line_no} "
                              f"({exc}); is the file complete?") from exc


READERS: dict[str, type[Reader]] = {
    "csv": CsvReader,
    "geoestimation": GeoEstimationReader,
    "semp": SempReader,
    "emp16": Emp16Reader,
    "latlon": LatLonReader,
}


def detect_format(path: Path | str) -> str:
    """Guess the format from the file name and, for CSV files, the header line."""
    p = Path(path)
    if data_suffix(p) in JSON_SUFFIXES:
        return "emp16"
    source = SourceFile(p)
    try:
        first = source.text.readline()
    except UnicodeDecodeError as exc:
        raise _decode_error(p, exc) from exc
    finally:
        source.close()
    try:
        header = {h.strip().lower() for h in next(csv.reader([first]), [])}
    except csv.Error:
        header = set()
    if {"img_id", "latitude", "longitude"} <= header:
        return "semp"
    if {"img_id", "lat", "lon"} <= header:
        return "geoestimation"
    if {"id", "lat", "lon"} <= header:
        return "csv"
    if header in ({"lat", "lon"}, {"latitude", "longitude"}):
        return "latlon"
    if first.lstrip().startswith("{"):
        return "emp16"
    raise IngestError(
        f"cannot tell the format of {p} from its header {first.strip()!r}: expected "
        "id,lat,lon (csv), IMG_ID,AUTHOR,LAT,LON (geoestimation), img_id,latitude,longitude "
        "(semp), LAT,LON (latlon) or JSON lines (emp16); pass --format")


def open_reader(path: Path | str, fmt: str = "auto") -> Reader:
    """The reader for ``path`` in format ``fmt`` (``auto``: detected)."""
    name = detect_format(path) if fmt == "auto" else fmt
    if name not in READERS:
        raise IngestError(f"unknown format {fmt!r}; choose one of auto, {', '.join(FORMATS)}")
    return READERS[name](path)
