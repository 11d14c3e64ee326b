"""A small fake Nominatim HTTP server on 127.0.0.1 for fault and resume tests.

Its world is arithmetic, so tests compute the expected answer independently:
a point with lat < 0 is open sea ("Unable to geocode"); otherwise the place is the street
``W<street_id(lat, lon)>`` inside the city ``R<city_id(lat)>`` in country ``xx``, whose
boundary relation ``R9`` is what a zoom-3 ``/reverse`` answers. /details address lines also hold a
postcode, a house number and a non-address row, which geotool must drop.

``country=`` changes the zoom-3 answer to one without the country's boundary relation, as a
Nominatim database without an admin_level 2 relation gives: ``"unable"`` (nothing at rank 4:
"Unable to geocode"), ``"node"`` (a ``place=country`` node), ``"other"`` (a relation of another
country). geotool must then store the documented synthetic id ``C:xx``.

Faults are queued with :meth:`FakeNominatim.fail_next` (``"429"``, ``"500"``, ``"drop"``,
``"hang"``) and apply to the next requests of any kind except /status.
``hold_relation_details_after=n`` answers the first n /details requests for relations and
holds every later one (``held`` counts them) until ``gate`` is set: a deterministic way to
catch a client in its location-details phase.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def street_id(lat: float, lon: float) -> int:
    return 100_000 + int(lat * 10) * 1000 + int(lon * 10)


def city_id(lat: float) -> int:
    return 500 + int(lat)


COUNTRY_MODES = ("relation", "unable", "node", "other")


def expected_vector(lat: float, lon: float, country: str = "R9") -> list[str]:
    """What geotool must store for a point (finest first); ``country`` is the country's
    location id (``C:xx`` when the zoom-3 lookup finds no boundary relation of ``xx``)."""
    if lat < 0:
        return []
    return [f"W{street_id(lat, lon)}", f"R{city_id(lat)}", country]


class FakeNominatim:
    def __init__(self, delay: float = 0.0, not_nominatim: bool = False,
                 country: str = "relation",
                 hold_relation_details_after: int | None = None) -> None:
        if country not in COUNTRY_MODES:
            raise ValueError(f"country mode {country!r} not in {COUNTRY_MODES}")
        self.delay = delay
        self.not_nominatim = not_nominatim
        self.country = country
        self.hold_after = hold_relation_details_after
        self.relation_details = 0
        self.held = 0
        self.gate = threading.Event()
        self.faults: deque[str] = deque()
        self.hits: dict[str, int] = {}
        self.user_agents: set[str] = set()
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail_next(self, *faults: str) -> None:
        with self.lock:
            self.faults.extend(faults)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                parts = urllib.parse.urlsplit(self.path)
                path = parts.path.strip("/")
                query = dict(urllib.parse.parse_qsl(parts.query))
                with fake.lock:
                    name = "reverse@3" if query.get("zoom") == "3" else path
                    fake.hits[name] = fake.hits.get(name, 0) + 1
                    fake.user_agents.add(self.headers.get("User-Agent", ""))
                    fault = fake.faults.popleft() if fake.faults and path != "status" else None
                if fake.not_nominatim:
                    self._send(200, b"<html><body>It works!</body></html>", "text/html")
                    return
                if fault == "429":
                    self._send(429, b'{"error": "too many"}', headers={"Retry-After": "0"})
                    return
                if fault == "500":
                    self._send(500, b"Internal Server Error", "text/plain")
                    return
                if fault == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault == "hang":
                    fake.release.wait(5)
                    return
                if fake.delay:
                    time.sleep(fake.delay)
                if path == "details" and query.get("osmtype") == "R" and fake._hold():
                    fake.gate.wait(30)
                body = fake.answer(path, query)
                if body is None:
                    self._send(404, b'{"error": "not found"}')
                else:
                    self._send(200, json.dumps(body).encode())

            def _send(self, code: int, body: bytes, ctype: str = "application/json",
                      headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def _hold(self) -> bool:
        """Count a relation /details request; True when it must wait for ``gate``."""
        with self.lock:
            self.relation_details += 1
            if self.hold_after is None or self.relation_details <= self.hold_after:
                return False
            self.held += 1
            return not self.gate.is_set()

    def answer(self, path: str, q: dict[str, str]) -> Any:
        if path == "status":
            return {"status": 0, "message": "OK", "software_version": "fake-5.0",
                    "data_updated": "2026-01-01T00:00:00+00:00"}
        if path == "reverse":
            lat, lon = float(q["lat"]), float(q["lon"])
            if lat < 0:
                return {"error": "Unable to geocode"}
            if q.get("zoom") == "3":
                return self._country_answer()
            return {"place_id": 1, "osm_type": "way", "osm_id": street_id(lat, lon),
                    "lat": q["lat"], "lon": q["lon"], "display_name": "x"}
        if path == "details":
            kind, oid = q.get("osmtype"), int(q.get("osmid", "0"))
            if kind == "W":
                lat = (oid - 100_000) // 1000 / 10
                city = city_id(lat)
                return {
                    "osm_type": "W", "osm_id": oid, "category": "highway",
                    "type": "residential", "admin_level": 15, "localname": f"Street {oid}",
                    "names": {"name": f"Street {oid}", "name:en": f"Street {oid} EN"},
                    "country_code": "xx", "rank_address": 26, "extratags": {},
                    "centroid": {"type": "Point", "coordinates": [1.0, lat]},
                    "geometry": {"type": "LineString",
                                 "coordinates": [[1.0, lat], [1.1, lat]]},
                    "address": [
                        self._row(f"Street {oid}", "W", oid, "highway", "residential", 26),
                        {"localname": "12", "class": "place", "type": "house_number",
                         "rank_address": 28, "isaddress": True},
                        self._row(f"Other {oid}", "W", oid + 1, "highway", "service", 26,
                                  isaddress=False),
                        self._row(f"City {city}", "R", city, "boundary", "administrative",
                                  16, admin_level=8),
                        {"localname": "12345", "class": "place", "type": "postcode",
                         "rank_address": 5, "isaddress": True},
                        {"localname": "Fakeland", "class": "place", "type": "country",
                         "rank_address": 4, "isaddress": True},
                        {"localname": "xx", "class": "place", "type": "country_code",
                         "rank_address": 4, "isaddress": False},
                    ],
                }
            if kind == "R":
                lat = float(oid - 500) + 0.5
                return {"osm_type": "R", "osm_id": oid, "category": "boundary",
                        "type": "administrative", "admin_level": 8 if oid != 9 else 2,
                        "localname": f"City {oid}", "names": {"name": f"City {oid}"},
                        "country_code": "xx", "rank_address": 16 if oid != 9 else 4,
                        "extratags": {"population": "1 000", "wikidata": f"Q{oid}"},
                        "centroid": {"type": "Point", "coordinates": [1.0, lat]},
                        "geometry": {"type": "Polygon", "coordinates": [[
                            [0, lat - 0.5], [2, lat - 0.5], [2, lat + 0.5], [0, lat + 0.5],
                            [0, lat - 0.5]]]}}
            return None
        return None

    def _country_answer(self) -> dict[str, Any]:
        if self.country == "unable":
            return {"error": "Unable to geocode"}
        if self.country == "node":
            return {"place_id": 3, "osm_type": "node", "osm_id": 77, "category": "place",
                    "type": "country", "place_rank": 4,
                    "address": {"country": "Fakeland", "country_code": "xx"}}
        if self.country == "other":
            return {"place_id": 4, "osm_type": "relation", "osm_id": 8,
                    "address": {"country": "Otherland", "country_code": "yy"}}
        return {"osm_type": "relation", "osm_id": 9,
                "address": {"country": "Fakeland", "country_code": "xx"}}

    @staticmethod
    def _row(name: str, t: str, oid: int, cls: str, typ: str, rank: int,
             isaddress: bool = True, admin_level: int = 15) -> dict[str, Any]:
        return {"localname": name, "osm_type": t, "osm_id": oid, "class": cls, "type": typ,
                "admin_level": admin_level, "rank_address": rank, "isaddress": isaddress,
                "distance": 0}


@contextmanager
def fake_nominatim(**kwargs: Any) -> Iterator[FakeNominatim]:
    fake = FakeNominatim(**kwargs)
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        fake.gate.set()
        fake.server.shutdown()
        fake.server.server_close()
