"""A gallery's GPS embeddings, computed once per (checkpoint, gallery) and reused.

GeoCLIP encodes its whole GPS gallery (100,000 coordinates) on every prediction call —
its users' most common complaint. geotool keeps the embeddings in PostGIS
(``gallery_embedding_sets`` + ``gallery_embeddings``, migration 0014), keyed by the
SHA-256 of the checkpoint file's content and of the gallery's coordinates
(:func:`geotool.learn.align.gallery.content_hash`). A call looks the key up and either
reads the float32 chunks back (a hit) or encodes the gallery once and stores it (a miss).

Invalidation is by key: a checkpoint rewritten with other weights, or a gallery loaded
again with other points, has another key, so the old entry is never read for it. Entries
nobody can hit any more are deleted: a model's entries under an older checkpoint when a
newer one is stored for the same gallery, and (in ``gallery.load_gallery``) entries of a
gallery content no gallery holds.

This module needs no PyTorch: encoding is a callable (coordinates → embeddings) that the
caller builds from its model.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db.copy import psycopg_connection
from geotool.errors import GeotoolError
from geotool.learn.align.gallery import Gallery
from geotool.progress import NO_PROGRESS, Progress

#: Rows per stored chunk: 8,192 × 512 float32 = 16 MiB per bytea value.
CHUNK_ROWS = 8192
#: Coordinates encoded per call of the encoder.
ENCODE_BATCH = 4096

Encoder = Callable[[np.ndarray], np.ndarray]


def file_sha256(path: Path | str, block: int = 1 << 20) -> str:
    """SHA-256 of a file's content (a checkpoint: the model half of the cache key)."""
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as fh:
            while chunk := fh.read(block):
                digest.update(chunk)
    except FileNotFoundError:
        raise GeotoolError(f"checkpoint {path} does not exist; train the model again or "
                           "point models.checkpoint_path at its file") from None
    return digest.hexdigest()


@dataclass
class CachedEmbeddings:
    """A gallery's embeddings ``[N, D]`` (float32, rows in ``idx`` order); ``hit`` says
    whether they came from the cache; ``seconds`` is what this call spent on them."""

    embeddings: np.ndarray
    hit: bool
    seconds: float


def read_cached(conn: Connection, checkpoint_sha256: str, gallery_sha256: str
                ) -> np.ndarray | None:
    """The stored embeddings under this key, or None when there are none."""
    head = conn.execute(sa.text(
        "SELECT n_points, dim FROM gallery_embedding_sets WHERE checkpoint_sha256 = :c "
        "AND gallery_sha256 = :g"), {"c": checkpoint_sha256, "g": gallery_sha256}).first()
    if head is None:
        return None
    out = np.empty((int(head.n_points), int(head.dim)), dtype=np.float32)
    at = 0
    # binary result format: bytea in text format is hex, whose parsing cost ~17 s per
    # 200 MB (docs/benchmarks.md, "Gallery cache")
    with psycopg_connection(conn).cursor(binary=True) as cur:
        cur.execute("SELECT n_rows, data FROM gallery_embeddings WHERE checkpoint_sha256 = %s "
                    "AND gallery_sha256 = %s ORDER BY chunk",
                    (checkpoint_sha256, gallery_sha256))
        for n_rows, data in cur:
            block = np.frombuffer(data, dtype="<f4").reshape(int(n_rows), int(head.dim))
            out[at:at + int(n_rows)] = block
            at += int(n_rows)
    if at != out.shape[0]:  # a torn entry cannot be written (one transaction), but say so
        raise GeotoolError(f"cached gallery embeddings {checkpoint_sha256[:12]}/"
                           f"{gallery_sha256[:12]} hold {at} of {out.shape[0]} rows; "
                           "delete them with `geotool gallery clear-cache`")
    return out


def write_cached(conn: Connection, checkpoint_sha256: str, gallery_sha256: str,
                 embeddings: np.ndarray, seconds: float, model_id: int | None = None) -> None:
    """Store ``embeddings`` under the key (a concurrent writer of the same key wins;
    the content is the same) and drop this model's entries for the same gallery under
    other checkpoints."""
    emb = np.ascontiguousarray(embeddings, dtype="<f4")
    inserted = conn.execute(sa.text(
        "INSERT INTO gallery_embedding_sets (checkpoint_sha256, gallery_sha256, model_id, "
        "n_points, dim, seconds) VALUES (:c, :g, :m, :n, :d, :s) "
        "ON CONFLICT DO NOTHING RETURNING 1"),
        {"c": checkpoint_sha256, "g": gallery_sha256, "m": model_id, "n": emb.shape[0],
         "d": emb.shape[1], "s": seconds}).first()
    if inserted is None:
        return
    conn.execute(sa.text(
        "INSERT INTO gallery_embeddings (checkpoint_sha256, gallery_sha256, chunk, n_rows, "
        "data) VALUES (:c, :g, :k, :n, :data)"),
        [{"c": checkpoint_sha256, "g": gallery_sha256, "k": i // CHUNK_ROWS,
          "n": len(emb[i:i + CHUNK_ROWS]), "data": emb[i:i + CHUNK_ROWS].tobytes()}
         for i in range(0, emb.shape[0], CHUNK_ROWS)])
    if model_id is not None:
        conn.execute(sa.text(
            "DELETE FROM gallery_embedding_sets WHERE model_id = :m AND gallery_sha256 = :g "
            "AND checkpoint_sha256 <> :c"),
            {"m": model_id, "g": gallery_sha256, "c": checkpoint_sha256})


def encode_all(coords: np.ndarray, encode: Encoder, batch: int = ENCODE_BATCH,
               progress: Progress = NO_PROGRESS) -> np.ndarray:
    """Every coordinate through ``encode`` in batches: ``[N, D]`` float32."""
    progress.phase("encode gallery", len(coords))
    parts = []
    for i in range(0, len(coords), batch):
        parts.append(np.asarray(encode(coords[i:i + batch]), dtype=np.float32))
        progress.advance(min(batch, len(coords) - i))
    return np.concatenate(parts, axis=0)


def gallery_embeddings(engine: Engine, gallery: Gallery, checkpoint_sha256: str,
                       encode: Encoder, *, model_id: int | None = None, use_cache: bool = True,
                       progress: Progress = NO_PROGRESS) -> CachedEmbeddings:
    """The gallery's embeddings under the checkpoint: from the cache when stored, else
    encoded now (and stored unless ``use_cache`` is False)."""
    start = time.perf_counter()
    if use_cache:
        with engine.connect() as conn:
            cached = read_cached(conn, checkpoint_sha256, gallery.content_sha256)
        if cached is not None:
            if cached.shape[0] != gallery.n_points:
                raise GeotoolError(f"cached embeddings of gallery {gallery.name!r} have "
                                   f"{cached.shape[0]} rows for {gallery.n_points} points")
            return CachedEmbeddings(cached, True, time.perf_counter() - start)
    emb = encode_all(gallery.coords, encode, progress=progress)
    seconds = time.perf_counter() - start
    if use_cache:
        with engine.begin() as conn:
            write_cached(conn, checkpoint_sha256, gallery.content_sha256, emb, seconds,
                         model_id)
    return CachedEmbeddings(emb, False, seconds)


def clear_cache(engine: Engine, gallery: str | None = None) -> int:
    """Delete cached embeddings (of one gallery's content, or all); returns how many
    embedding sets went."""
    with engine.begin() as conn:
        result = conn.execute(sa.text(
            "DELETE FROM gallery_embedding_sets s WHERE CAST(:g AS text) IS NULL OR "
            "s.gallery_sha256 IN (SELECT content_sha256 FROM galleries WHERE name = :g)"),
            {"g": gallery})
        return int(result.rowcount or 0)
