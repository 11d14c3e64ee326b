"""The HTTP Nominatim geocoder and the geocode pipeline against a fake Nominatim on
127.0.0.1: answers, faults (429, 500, dropped connections, hangs), a server that is not
Nominatim, the public server's rate limit, caching, re-runs, and a SIGKILL mid-run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support.fake_nominatim import expected_vector, fake_nominatim
from support.point_datasets import add_point_dataset

from geotool.geocode.nominatim.http import HttpNominatim, NominatimUnavailable, NotNominatimError
from geotool.geocode.pipeline import GeocodeInterrupted, GeocodeParams, geocode
from geotool.progress import RecordingProgress


def _client(url: str, **kw: object) -> HttpNominatim:
    opts: dict[str, object] = {"concurrency": 4, "timeout": 2.0, "retries": 4, "backoff": 0.01,
                               "max_backoff": 0.05, "seed": 1}
    opts.update(kw)
    return HttpNominatim(url, "geotool-tests/1.0", **opts)  # type: ignore[arg-type]


POINTS = [(1.23, 4.56), (1.23, 4.56), (2.71, 0.5), (-3.0, 7.0), (5.05, 5.05), (1.21, 4.51)]


def _dataset(engine: Engine, points: list[tuple[float, float]], name: str) -> None:
    add_point_dataset(engine, name, points, id_prefix=f"{name}-")


def _vectors(engine: Engine, name: str) -> dict[tuple[float, float, str], list[str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT i.lat, i.lon, i.external_id, g.status, "
            "  array_remove(array_agg(l.osm_key ORDER BY a.position), NULL) "
            "FROM images i JOIN datasets d ON d.id = i.dataset_id "
            "JOIN image_geocodes g ON g.image_id = i.id "
            "LEFT JOIN image_addresses a ON a.image_id = i.id "
            "LEFT JOIN locations l ON l.id = a.location_id "
            "WHERE d.name = :n GROUP BY 1, 2, 3, 4"), {"n": name}).all()
    return {(lat, lon, ext): list(keys) for lat, lon, ext, _, keys in rows}


def test_reverse_details_and_filtering() -> None:
    with fake_nominatim() as fake, _client(fake.url) as gc:
        assert "fake-5.0" in gc.check()
        results = list(gc.reverse_many(POINTS))
        assert [[loc.osm_key for loc in r.locations] for r in results] == [
            expected_vector(lat, lon) for lat, lon in POINTS]
        assert [r.status for r in results] == [
            "unplaceable" if lat < 0 else "ok" for lat, _ in POINTS]
        streets = {expected_vector(lat, lon)[0] for lat, lon in POINTS if lat >= 0}
        assert fake.hits["details"] == len(streets)  # once per place, not per point
        assert fake.user_agents == {"geotool-tests/1.0"}
        city, street = gc.details_many(["R501", "W112045"])
        assert city is not None and street is not None
        assert city.population == 1000 and city.wikidata == "Q501" and city.is_area
        assert city.geometry_wkt is not None and city.geometry_wkt.startswith("POLYGON")
        assert street.is_area is False and street.geometry_wkt == "POINT(1.0 1.2)"
        assert street.name_en == "Street 112045 EN"


@pytest.mark.parametrize("faults", [("429", "429"), ("500", "drop"), ("hang",)])
def test_transient_faults_are_retried(faults: tuple[str, ...]) -> None:
    with fake_nominatim() as fake, _client(fake.url, concurrency=1, timeout=0.5) as gc:
        fake.fail_next(*faults)
        result = gc.reverse(1.23, 4.56)
        assert [loc.osm_key for loc in result.locations] == expected_vector(1.23, 4.56)
        assert fake.hits["reverse"] == 1 + len(faults)


def test_persistent_failure_stops_pipeline_with_resume_hint(engine: Engine) -> None:
    pts = [(1.0 + k / 10, 2.0) for k in range(6)]
    _dataset(engine, pts, "p")
    with fake_nominatim() as fake:
        gc = _client(fake.url, concurrency=1, retries=2)
        fake.delay = 0.0

        def break_server(batch: int) -> None:
            if batch == 1:
                fake.fail_next(*["500"] * 50)

        with pytest.raises(GeocodeInterrupted) as info:
            geocode(engine, GeocodeParams("p", batch_size=2), geocoder=gc,
                    after_batch=break_server)
        message = str(info.value)
        assert "2 of 6 images" in message and "again" in message
        assert "kept failing" in message
        with pytest.raises(NominatimUnavailable):
            gc.reverse(9.0, 9.0)
        fake.faults.clear()
        assert len(_vectors(engine, "p")) == 2
        summary = geocode(engine, GeocodeParams("p", batch_size=2), geocoder=gc)
        assert summary.images_todo == 4
        gc.close()
    got = _vectors(engine, "p")
    assert {k[:2]: v for k, v in got.items()} == {p: expected_vector(*p) for p in pts}
    with engine.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM runs ORDER BY id")).scalars().all()
    assert status == ["failed", "done"]


def test_ctrl_c_keeps_stored_batches_and_marks_the_run_interrupted(engine: Engine) -> None:
    pts = [(3.0 + k / 10, 4.0) for k in range(6)]
    _dataset(engine, pts, "c")

    def ctrl_c(batch: int) -> None:
        if batch == 1:
            raise KeyboardInterrupt

    with fake_nominatim() as fake, _client(fake.url, concurrency=1) as gc:
        fake.delay = 0.0
        with pytest.raises(KeyboardInterrupt):
            geocode(engine, GeocodeParams("c", batch_size=2), geocoder=gc, after_batch=ctrl_c)
        assert len(_vectors(engine, "c")) == 2
        with engine.connect() as conn:
            status, written = conn.execute(sa.text(
                "SELECT status, (summary->>'images_written')::int FROM runs")).one()
        assert (status, written) == ("interrupted", 2)
        assert geocode(engine, GeocodeParams("c", batch_size=2), geocoder=gc).images_todo == 4
    got = _vectors(engine, "c")
    assert {k[:2]: v for k, v in got.items()} == {p: expected_vector(*p) for p in pts}


def test_not_nominatim_and_wrong_url_fail_at_once() -> None:
    with (fake_nominatim(not_nominatim=True) as fake, _client(fake.url) as gc,
          pytest.raises(NotNominatimError, match="Nominatim")):
        gc.check()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with _client(f"http://127.0.0.1:{port}") as gc, pytest.raises(NotNominatimError,
                                                                  match="--nominatim-url"):
        gc.check()
    assert time.monotonic() - started < 2


def test_public_server_policy() -> None:
    progress = RecordingProgress()
    gc = HttpNominatim("https://nominatim.openstreetmap.org/", "geotool-tests/1.0",
                       concurrency=16, min_interval=0.1, progress=progress)
    assert gc.concurrency == 1 and gc.min_interval >= 1.0
    assert progress.messages and "local instance" in progress.messages[0]
    started = time.monotonic()
    for _ in range(3):
        gc._throttle()
    assert time.monotonic() - started >= 1.9  # three request slots ≥ 1 s apart
    gc.close()


def test_pipeline_cache_rerun_and_details(engine: Engine) -> None:
    _dataset(engine, POINTS, "a")
    with fake_nominatim() as fake, _client(fake.url) as gc:
        first = geocode(engine, GeocodeParams("a", batch_size=2), geocoder=gc)
        assert first.images_written == len(POINTS)
        assert first.points_queried == len(set(POINTS))
        got = _vectors(engine, "a")
        assert all(v == expected_vector(lat, lon) for (lat, lon, _), v in got.items())
        reverse_hits = fake.hits["reverse"]
        again = geocode(engine, GeocodeParams("a"), geocoder=gc)
        assert again.images_todo == 0 and fake.hits["reverse"] == reverse_hits
        _dataset(engine, POINTS[:3], "b")
        other = geocode(engine, GeocodeParams("b"), geocoder=gc)
        assert other.points_cached == 2 and fake.hits["reverse"] == reverse_hits
    assert {k[:2]: v for k, v in _vectors(engine, "b").items()} == {
        p: expected_vector(*p) for p in POINTS[:3]}
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT osm_key, ST_GeometryType(geom), details_source FROM locations")).all()
        statuses = conn.execute(sa.text(
            "SELECT status, count(*) FROM image_geocodes GROUP BY 1")).all()
    kinds = {k: t for k, t, _ in rows}
    assert all(src == "nominatim-http" for _, _, src in rows)
    assert kinds["R9"] == "ST_Polygon" and kinds["R501"] == "ST_Polygon"
    assert all(t == "ST_Point" for k, t in kinds.items() if k.startswith("W"))
    every = POINTS + POINTS[:3]
    want = {"ok": sum(lat >= 0 for lat, _ in every),
            "unplaceable": sum(lat < 0 for lat, _ in every)}
    assert dict(statuses) == want


def test_sigkill_mid_run_then_resume(engine: Engine, db_url: str) -> None:
    pts = [(1.0 + k / 50, 3.0 + k / 70) for k in range(60)]
    pts += pts[:10]  # shared coordinates
    _dataset(engine, pts, "k")
    with fake_nominatim(delay=0.03) as fake:
        cmd = [sys.executable, "-c", "from geotool.cli.app import main; main()",
               "geocode", "--dataset", "k", "--geocoder", "http", "--nominatim-url", fake.url,
               "--batch-size", "4", "--concurrency", "2", "--database-url", db_url]
        env = {**os.environ, "PYTHONPATH": os.getcwd()}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                done = conn.execute(sa.text("SELECT count(*) FROM image_geocodes")).scalar_one()
            if done >= 12 or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with engine.connect() as conn:
            partial = conn.execute(sa.text("SELECT count(*) FROM image_geocodes")).scalar_one()
        assert 12 <= partial < len(pts)
        # the killed run does not stay "running": its session's run lock is gone
        died_by = time.monotonic() + 30
        while True:
            with engine.connect() as conn:
                killed = conn.execute(sa.text(
                    "SELECT stage, status FROM runs_status ORDER BY id")).all()
            if [tuple(r) for r in killed] == [("geocode", "died")]:
                break
            assert time.monotonic() < died_by, killed
            time.sleep(0.2)
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert "0 images to geocode" in final.stdout
    with engine.connect() as conn:
        per_image = conn.execute(sa.text(
            "SELECT count(g.image_id) FROM images i LEFT JOIN image_geocodes g "
            "ON g.image_id = i.id GROUP BY i.id")).scalars().all()
        dup_positions = conn.execute(sa.text(
            "SELECT count(*) FROM (SELECT image_id, location_id FROM image_addresses "
            "GROUP BY 1, 2 HAVING count(*) > 1) x")).scalar_one()
    assert per_image == [1] * len(pts) and dup_positions == 0
    got = _vectors(engine, "k")
    assert len(got) == len(pts)
    assert all(v == expected_vector(lat, lon) for (lat, lon, _), v in got.items())


def test_cli_errors_speak_to_the_user(db_url: str) -> None:
    from typer.testing import CliRunner

    from geotool.cli.app import app

    runner = CliRunner()
    res = runner.invoke(app, ["geocode", "--dataset", "nope", "--geocoder", "http",
                              "--nominatim-url", "http://127.0.0.1:9", "--database-url", db_url])
    assert res.exit_code == 1 and "nope" in res.output and "geotool ingest" in res.output
    engine = sa.create_engine(db_url)
    _dataset(engine, [(1.0, 1.0)], "one")
    engine.dispose()
    with fake_nominatim(not_nominatim=True) as fake:
        res = runner.invoke(app, ["geocode", "--dataset", "one", "--geocoder", "http",
                                  "--nominatim-url", fake.url, "--database-url", db_url])
    assert res.exit_code == 1 and "Nominatim server" in " ".join(res.output.split())
    res = runner.invoke(app, ["geocode", "--dataset", "one", "--geocoder", "magic",
                              "--database-url", db_url])
    assert res.exit_code == 1 and "unknown geocoder" in res.output


# ------------------------------------------------- countries without a boundary relation
@pytest.mark.parametrize("mode", ["unable", "node", "other"])
def test_country_without_relation_gets_synthetic_id(engine: Engine, mode: str) -> None:
    """No admin_level 2 relation of ``xx`` behind the zoom-3 lookup (nothing at rank 4, a
    ``place=country`` node, a neighbour's relation): the documented fallback id ``C:xx``."""
    pts = [(1.23, 4.56), (2.71, 0.5), (5.05, 5.05), (-3.0, 7.0), (1.21, 4.51), (3.3, 3.3)]
    _dataset(engine, pts, "c")
    with fake_nominatim(country=mode, delay=0.01) as fake, _client(fake.url) as gc:
        direct = gc.reverse(7.5, 1.5)
        assert [loc.osm_key for loc in direct.locations] == expected_vector(7.5, 1.5, "C:xx")
        country = direct.locations[-1]
        assert (country.osm_type, country.osm_id, country.country_code, country.name) == (
            "C", None, "xx", "Fakeland")
        summary = geocode(engine, GeocodeParams("c", batch_size=3), geocoder=gc)
        assert summary.images_written == len(pts)
        # the country is looked up once per country code, not once per point
        assert fake.hits["reverse@3"] == 1
        hits = dict(fake.hits)
        again = geocode(engine, GeocodeParams("c"), geocoder=gc)
        assert again.images_todo == 0 and fake.hits == hits  # nothing asked again
    got = _vectors(engine, "c")
    assert {k[:2]: v for k, v in got.items()} == {p: expected_vector(*p, "C:xx") for p in pts}
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT osm_type, osm_id, country_code, name, details_source FROM locations "
            "WHERE osm_key = 'C:xx'")).one()
        keys = set(conn.execute(sa.text("SELECT osm_key FROM locations")).scalars())
    assert row[:4] == ("C", None, "xx", "Fakeland")
    assert row[4] is not None  # the details step is done with it (and does not ask again)
    assert "R9" not in keys and "R8" not in keys and "N77" not in keys


def test_country_lookup_is_asked_once_under_concurrency() -> None:
    """Many points of one country in flight at once still ask the zoom-3 lookup once."""
    pts = [(1.0 + k / 7, 2.0 + k / 11) for k in range(16)]
    with fake_nominatim(country="unable", delay=0.05) as fake, \
            _client(fake.url, concurrency=8) as gc:
        results = list(gc.reverse_many(pts))
    assert [[loc.osm_key for loc in r.locations] for r in results] == [
        expected_vector(*p, "C:xx") for p in pts]
    assert fake.hits["reverse@3"] == 1


# ------------------------------------------------- SIGKILL in the location-details phase
def _snapshot(engine: Engine) -> tuple[list[Any], list[Any], list[Any]]:
    """Everything geocoding stores, without surrogate ids and timestamps."""
    with engine.connect() as conn:
        locations = conn.execute(sa.text(
            "SELECT osm_key, osm_type, osm_id, name, name_en, category, type, admin_level, "
            "rank_address, is_area, country_code, wikidata, wikipedia, population, place, "
            "importance, ST_AsText(geom), ST_AsText(centroid), details_source "
            "FROM locations ORDER BY osm_key")).all()
        geocodes = conn.execute(sa.text(
            "SELECT i.external_id, g.status, g.source, g.detail FROM image_geocodes g "
            "JOIN images i ON i.id = g.image_id ORDER BY 1")).all()
        addresses = conn.execute(sa.text(
            "SELECT i.external_id, a.position, l.osm_key FROM image_addresses a "
            "JOIN images i ON i.id = a.image_id JOIN locations l ON l.id = a.location_id "
            "ORDER BY 1, 2")).all()
    return [tuple(r) for r in locations], [tuple(r) for r in geocodes], [
        tuple(r) for r in addresses]


def test_sigkill_in_details_phase_then_resume(engine: Engine, db_url: str,
                                              reference_engine: Engine) -> None:
    pts = [(1.0 + k / 2, 3.0 + k / 70) for k in range(24)]  # 24 streets in 12 cities
    pts += pts[:4]
    cities = {f"R{500 + int(lat)}" for lat, _ in pts}
    n_locations = len({street for p in pts for street in expected_vector(*p)[:1]}) + len(
        cities) + 1
    _dataset(engine, pts, "d")
    _dataset(reference_engine, pts, "d")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}

    def cmd(url: str, database: str) -> list[str]:
        return [sys.executable, "-c", "from geotool.cli.app import main; main()",
                "geocode", "--dataset", "d", "--geocoder", "http", "--nominatim-url", url,
                "--batch-size", "4", "--concurrency", "2", "--database-url", database]

    def details_done() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(
                "SELECT count(*) FROM locations WHERE details_source IS NOT NULL")).scalar_one())

    # relations' details: 6 answered, then held, so the run is caught mid-details
    with fake_nominatim(hold_relation_details_after=6) as fake:
        proc = subprocess.Popen(cmd(fake.url, db_url), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and fake.held == 0 and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None and fake.held > 0, proc.communicate()
        time.sleep(0.2)  # let the other worker reach the gate too
        with engine.connect() as conn:
            geocoded = conn.execute(sa.text("SELECT count(*) FROM image_geocodes")).scalar_one()
        partial = details_done()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert geocoded == len(pts)  # the reverse phase had finished: killed in details
        assert 0 < partial < n_locations
        assert details_done() == partial  # nothing was half-written by the dying process
        fake.gate.set()
        rerun = subprocess.run(cmd(fake.url, db_url), env=env, capture_output=True, text=True,
                               timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        said = " ".join(rerun.stdout.split())
        # only the missing details are fetched: no image and no finished location again
        assert "0 images geocoded" in said and "0 coordinates queried" in said
        assert f"{n_locations - partial} location details stored" in said
        hits = dict(fake.hits)
        final = subprocess.run(cmd(fake.url, db_url), env=env, capture_output=True, text=True,
                               timeout=120)
        assert final.returncode == 0 and "0 images to geocode" in final.stdout
        assert {k: v for k, v in fake.hits.items() if k != "status"} == {
            k: v for k, v in hits.items() if k != "status"}  # a finished run asks nothing
    with fake_nominatim() as fake, _client(fake.url, concurrency=2) as gc:
        # never interrupted
        geocode(reference_engine, GeocodeParams("d", batch_size=4), geocoder=gc)
    locations, geocodes, addresses = _snapshot(engine)
    assert len(locations) == n_locations == len({r[0] for r in locations})
    assert all(r[18] == "nominatim-http" and r[16] is not None for r in locations)
    assert {r[0] for r in locations if r[16].startswith("POLYGON")} == cities | {"R9"}
    assert len(geocodes) == len(pts) == len({r[0] for r in geocodes})
    assert len(addresses) == len({r[:2] for r in addresses}) == 3 * len(pts)
    got = {ext: [k for e, _, k in addresses if e == ext] for ext, *_ in geocodes}
    assert got == {f"d-{i}": expected_vector(*p) for i, p in enumerate(pts)}
    assert (locations, geocodes, addresses) == _snapshot(reference_engine)
