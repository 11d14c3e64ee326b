"""Reverse geocoding against any Nominatim HTTP endpoint (a local ``nominatim serve``, the
docker-compose service, a planet server, or — slowly — nominatim.openstreetmap.org).

Requests (current v1 API, JSON only, standard library HTTP):

* ``/status?format=json`` once, before anything else: a wrong URL or a server that does not
  answer like Nominatim fails at once (:class:`NotNominatimError`).
* ``/reverse?format=jsonv2&zoom=18&addressdetails=1`` per coordinate. ``{"error": "Unable
  to geocode"}`` (open sea) is the answer ``unplaceable`` and is never retried.
* ``/details?addressdetails=1&polygon_geojson=1`` once per place that a reverse answer names
  (remembered in memory): its address lines carry the OSM ids the reverse answer lacks, and
  its own attributes and polygon serve the details step. Address lines follow the same rules
  as the in-process geocoder (:mod:`geotool.geocode.nominatim.inprocess`): ``isaddress``
  rows with an OSM object, postcodes and house numbers dropped; the country row without an
  OSM object resolves to the country's boundary relation that a zoom-3 ``/reverse`` at the
  same point returns (asked once per country), else ``C:<cc>``.

Timeouts, connection errors, 429 and 5xx are retried with exponential backoff and full
jitter (``Retry-After`` honoured); when the retries run out :class:`NominatimUnavailable`
says so and the pipeline adds how far it got. At nominatim.openstreetmap.org the usage
policy is enforced: one request at a time, at most one per second, an identifying
User-Agent, and a warning that a whole dataset needs a local instance.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from geotool.errors import GeotoolError, InvalidValueError
from geotool.geocode.nominatim.records import UNPLACEABLE, country_record, record_from_parts
from geotool.geocode.types import AddressResult, Geocoder, LocationRecord
from geotool.progress import NO_PROGRESS, Progress

PUBLIC_HOSTS = ("nominatim.openstreetmap.org",)
PUBLIC_WARNING = (
    "nominatim.openstreetmap.org allows at most 1 request/s: geocoding takes about 2 s per "
    "distinct coordinate here. A dataset of more than a few thousand images needs a local "
    "instance (`geotool nominatim import FILE.osm.pbf`, or the docker-compose service)."
)
_OSM_TYPES = {"N": "N", "W": "W", "R": "R", "node": "N", "way": "W", "relation": "R"}


class NominatimHttpError(GeotoolError, RuntimeError):
    """A Nominatim HTTP endpoint could not give an answer."""


class NotNominatimError(NominatimHttpError):
    """The URL does not lead to a Nominatim server."""


class NominatimUnavailable(NominatimHttpError):
    """The server kept failing after every retry."""


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class HttpNominatim(Geocoder):
    """A ``Geocoder`` over a Nominatim HTTP endpoint.

    ``concurrency`` requests run at once (forced to 1 at the public server);
    ``retries`` further attempts follow a transient failure, waiting
    ``backoff * 2**attempt`` seconds (capped by ``max_backoff``) times a random factor.
    """

    name = "http"
    source = "nominatim-http"
    fetches_details = True

    def __init__(
        self,
        base_url: str,
        user_agent: str,
        concurrency: int = 4,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        simplify: float = 0.0,
        min_interval: float | None = None,
        progress: Progress = NO_PROGRESS,
        seed: int | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidValueError(f"--nominatim-url {base_url!r} must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        self.public = host in PUBLIC_HOSTS
        self.user_agent = user_agent
        self.concurrency = 1 if self.public else max(1, concurrency)
        self.min_interval = 1.0 if self.public else (min_interval or 0.0)
        if self.public and min_interval:
            self.min_interval = max(1.0, min_interval)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.simplify = simplify
        self._namespace = f"nominatim-http:{self.base_url}"
        self.requests_made = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._places: dict[str, dict[str, Any]] = {}  # osm key -> /details answer
        self._countries: dict[str, str | None] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="nominatim-http")
        if self.public:
            progress.message(f"warning: {PUBLIC_WARNING}")

    @property
    def namespace(self) -> str:
        """The ``geocode_cache`` namespace: the endpoint."""
        return self._namespace

    def __enter__(self) -> HttpNominatim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ----------------------------------------------------------------- transport
    def _throttle(self) -> None:
        if self.min_interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            wait = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + self.min_interval
        if wait > 0:
            time.sleep(wait)

    def _get_once(self, path: str, params: Mapping[str, Any]) -> tuple[int, Any]:
        url = f"{self.base_url}/{path}?{urllib.parse.urlencode(params)}"
        req = urllib.request.Request(url, headers={"User-Agent": self.user_agent,
                                                   "Accept": "application/json"})
        self._throttle()
        self.requests_made += 1
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, body = err.code, err.read() if err.fp else b""
            if status == 429 or status >= 500:
                retry_after = _retry_after(err.headers.get("Retry-After"))
                raise _Transient(f"HTTP {status} from {url}", retry_after) from None
        except TimeoutError as err:
            raise _Transient(f"timeout after {self.timeout:g} s on {url}") from err
        except urllib.error.URLError as err:
            if isinstance(err.reason, (TimeoutError, socket.timeout)):
                raise _Transient(f"timeout after {self.timeout:g} s on {url}") from err
            raise _Transient(f"cannot connect to {url}: {err.reason}") from err
        except (http.client.HTTPException, ConnectionError, OSError) as err:
            raise _Transient(f"connection lost on {url}: {err!r}") from err
        try:
            return status, json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            if status >= 400:
                raise NominatimHttpError(
                    f"{url} answered HTTP {status}: {body[:200]!r}") from None
            raise NotNominatimError(
                f"{url} did not answer with JSON (HTTP {status}, starts {body[:80]!r}); "
                "is --nominatim-url a Nominatim server?") from None

    def _get(self, path: str, params: Mapping[str, Any]) -> tuple[int, Any]:
        attempt = 0
        while True:
            try:
                return self._get_once(path, params)
            except _Transient as err:
                if attempt >= self.retries:
                    raise NominatimUnavailable(
                        f"Nominatim at {self.base_url} kept failing: {err} "
                        f"({attempt + 1} attempts)") from None
                delay = min(self.max_backoff, self.backoff * 2 ** attempt)
                delay *= 0.5 + self._rng.random()
                if err.retry_after is not None:
                    delay = max(delay, min(err.retry_after, self.max_backoff))
                time.sleep(delay)
                attempt += 1

    # ----------------------------------------------------------------- status
    def check(self) -> str:
        """Ask ``/status`` once; raise :class:`NotNominatimError` unless Nominatim answers."""
        where = f"{self.base_url}/status"
        try:
            status, body = self._get_once("status", {"format": "json"})
        except _Transient as err:
            raise NotNominatimError(
                f"no Nominatim at {self.base_url}: {err}. Check --nominatim-url "
                "(e.g. http://localhost:8088) and that the server is running.") from None
        if not isinstance(body, dict) or "status" not in body or "message" not in body:
            raise NotNominatimError(
                f"{where} does not answer like Nominatim (HTTP {status}, {str(body)[:120]}); "
                "check --nominatim-url.")
        if body["status"] != 0:
            raise NominatimHttpError(
                f"Nominatim at {self.base_url} reports status {body['status']}: "
                f"{body['message']}")
        return f"Nominatim {body.get('software_version', '?')}, data {body.get('data_updated')}"

    # ----------------------------------------------------------------- reverse
    def reverse_many(self, points: Sequence[tuple[float, float]]) -> Iterator[AddressResult]:
        """Address vectors for (lat, lon) points, in input order."""
        return iter(list(self._pool.map(lambda p: self.reverse(*p), points)))

    def reverse(self, lat: float, lon: float) -> AddressResult:
        """The address vector of one coordinate."""
        status, body = self._get("reverse", {"lat": repr(lat), "lon": repr(lon),
                                             "format": "jsonv2", "zoom": 18,
                                             "addressdetails": 1})
        if isinstance(body, dict) and "error" in body:
            message = body["error"] if isinstance(body["error"], str) else json.dumps(
                body["error"])
            if UNPLACEABLE.lower() in message.lower():
                return AddressResult(lat, lon, "unplaceable", detail=UNPLACEABLE)
            raise NominatimHttpError(f"Nominatim refused ({lat}, {lon}): {message}")
        if status >= 400 or not isinstance(body, dict):
            raise NominatimHttpError(f"Nominatim answered HTTP {status} for ({lat}, {lon})")
        place = self._details_for(body)
        vec = self._vector(place, lat, lon) if place is not None else []
        return AddressResult(lat, lon, "ok" if vec else "unplaceable", tuple(vec))

    def _details_for(self, reverse_body: Mapping[str, Any]) -> dict[str, Any] | None:
        osm_type = _OSM_TYPES.get(str(reverse_body.get("osm_type", "")))
        osm_id = reverse_body.get("osm_id")
        if osm_type and osm_id is not None:
            key = f"{osm_type}{osm_id}"
            params: dict[str, Any] = {"osmtype": osm_type, "osmid": osm_id}
        elif reverse_body.get("place_id") is not None:
            key = f"place:{reverse_body['place_id']}"
            params = {"place_id": reverse_body["place_id"]}
        else:
            return None
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one /details request per place, even with concurrent points
            with self._lock:
                cached = self._places.get(key)
            if cached is not None:
                return cached
            status, body = self._get("details", {**params, "format": "json",
                                                 "addressdetails": 1, "polygon_geojson": 1})
            if status >= 400 or not isinstance(body, dict):
                return None
            with self._lock:
                self._places[key] = body
                if body.get("osm_type") and body.get("osm_id") is not None:
                    self._places[f"{_OSM_TYPES[body['osm_type']]}{body['osm_id']}"] = body
                self._key_locks.pop(key, None)
            return body

    def _country_key(self, cc: str, lat: float, lon: float) -> str | None:
        """The country's boundary relation, asked once per country code with a zoom-3
        reverse query at a point of that country (works on reverse-only imports)."""
        with self._lock:
            if cc in self._countries:
                return self._countries[cc]
            country_lock = self._key_locks.setdefault(f"country:{cc}", threading.Lock())
        with country_lock:  # one lookup per country, even with concurrent points
            with self._lock:
                if cc in self._countries:
                    return self._countries[cc]
            status, body = self._get("reverse", {"lat": repr(lat), "lon": repr(lon),
                                                 "format": "jsonv2", "zoom": 3,
                                                 "addressdetails": 1})
            key = None
            if status < 400 and isinstance(body, dict) and "error" not in body:
                hit_cc = str((body.get("address") or {}).get("country_code", "")).lower()
                if body.get("osm_type") == "relation" and hit_cc == cc:
                    key = f"R{body['osm_id']}"
            with self._lock:
                self._countries[cc] = key
            return key

    def _vector(self, place: Mapping[str, Any], lat: float, lon: float) -> list[LocationRecord]:
        cc = (place.get("country_code") or "").lower() or None
        out: list[LocationRecord] = []
        seen: set[str] = set()
        for row in place.get("address") or ():
            category = (str(row.get("class")), str(row.get("type")))
            if not row.get("isaddress") or category[1] in ("postcode", "postal_code"):
                continue
            osm_type = _OSM_TYPES.get(str(row.get("osm_type") or ""))
            if osm_type and row.get("osm_id") is not None:
                names = {"name": row["localname"]} if row.get("localname") else {}
                rec = record_from_parts(osm_type, int(row["osm_id"]), names, category, None,
                                        row.get("admin_level"), row.get("rank_address"), cc)
            elif category == ("place", "country") and cc:
                key = self._country_key(cc, lat, lon)
                rec = (LocationRecord(osm_key=key, osm_type="R", osm_id=int(key[1:]),
                                      country_code=cc, rank_address=4, admin_level=2)
                       if key else country_record(cc, {"name": row.get("localname") or cc}))
            else:
                continue
            if rec.osm_key not in seen:
                seen.add(rec.osm_key)
                out.append(rec)
        return out

    # ----------------------------------------------------------------- details
    def details_many(self, osm_keys: Sequence[str]) -> list[LocationRecord | None]:
        """Full details (attributes, simplified polygon or point) per location."""
        return list(self._pool.map(self._location_details, osm_keys))

    def _location_details(self, key: str) -> LocationRecord | None:
        if key.startswith("C:"):
            return None
        with self._lock:
            body = self._places.get(key)
        if body is None:
            status, body = self._get("details", {"osmtype": key[0], "osmid": key[1:],
                                                 "format": "json", "polygon_geojson": 1})
            if status >= 400 or not isinstance(body, dict) or "error" in body:
                return None
        return details_record(key, body, self.simplify)


def details_record(key: str, body: Mapping[str, Any], simplify: float) -> LocationRecord:
    """A ``LocationRecord`` from a ``/details`` JSON answer (geometry simplified)."""
    from shapely.geometry import shape

    wkt = None
    is_area = False
    geom = body.get("geometry")
    if isinstance(geom, dict) and geom.get("type"):
        shp = shape(geom)
        is_area = shp.geom_type in ("Polygon", "MultiPolygon")
        if is_area:
            wkt = (shp.simplify(simplify, preserve_topology=True) if simplify > 0 else shp).wkt
    centroid = None
    cen = body.get("centroid")
    if isinstance(cen, dict) and cen.get("coordinates"):
        lon, lat = cen["coordinates"][:2]
        centroid = (float(lat), float(lon))
        if wkt is None:
            wkt = f"POINT({lon} {lat})"
    names = body.get("names") or {}
    if not names and body.get("localname"):
        names = {"name": body["localname"]}
    return record_from_parts(
        key[0], int(key[1:]), names, (str(body.get("category")), str(body.get("type"))),
        body.get("extratags") or {}, body.get("admin_level"), body.get("rank_address"),
        (body.get("country_code") or "").lower() or None,
        wikipedia=body.get("calculated_wikipedia"),
        importance=body.get("importance") or body.get("calculated_importance"),
        is_area=is_area, geometry_wkt=wkt, centroid=centroid,
    )


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
