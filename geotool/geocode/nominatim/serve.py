"""Nominatim's own v1 HTTP API (``/status``, ``/reverse``, ``/details``, ``/search``, ...)
served from a local Nominatim database with the standard library only.

``nominatim serve`` needs uvicorn plus falcon or starlette; this module runs the very same
endpoint functions of ``nominatim_api.v1`` behind ``http.server`` instead, so the HTTP
geocoder can be tested and benchmarked against a real Nominatim without extra packages.
It is meant for local use (tests, benchmarks, a quick endpoint on one machine), not as a
public web server.
"""

from __future__ import annotations

import asyncio
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Reply(Exception):
    def __init__(self, status: int, body: str, content_type: str) -> None:
        super().__init__(status)
        self.status, self.body, self.content_type = status, body, content_type


def _adaptor_class() -> type:
    from nominatim_api.server.asgi_adaptor import ASGIAdaptor

    class Adaptor(ASGIAdaptor):
        def __init__(self, params: Mapping[str, str], headers: Mapping[str, str],
                     base: str, server: NominatimHttpServer) -> None:
            self._params, self._headers, self._base, self._server = params, headers, base, server

        def get(self, name: str, default: str | None = None) -> str | None:
            return self._params.get(name, default)

        def get_header(self, name: str, default: str | None = None) -> str | None:
            return self._headers.get(name, default)

        def error(self, msg: str, status: int = 400) -> Exception:
            return _Reply(status, msg, self.content_type)

        def create_response(self, status: int, output: str, num_results: int) -> Any:
            return _Reply(status, output, self.content_type)

        def base_uri(self) -> str:
            return self._base

        def config(self) -> Any:
            return self._server.api.config

        def formatting(self) -> Any:
            return self._server.formatter

        def query_stats(self) -> Any:
            return None

    return Adaptor


class NominatimHttpServer:
    """Serve Nominatim's v1 API for a local database on ``host:port`` (0: any free port)."""

    def __init__(self, environ: Mapping[str, str], project_dir: Path | str | None = None,
                 host: str = "127.0.0.1", port: int = 0, pool_size: int = 8) -> None:
        from nominatim_api import NominatimAPIAsync
        from nominatim_api.result_formatting import load_format_dispatcher
        from nominatim_api.v1 import get_routes

        env = {"NOMINATIM_API_POOL_SIZE": str(pool_size), **environ}
        self.loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._loop_thread.start()
        self.api = NominatimAPIAsync(project_dir, env)
        self.formatter = load_format_dispatcher(
            "v1", Path(project_dir) if project_dir is not None else None)
        self.routes = dict(
            asyncio.run_coroutine_threadsafe(get_routes(self.api), self.loop).result(60))
        self.adaptor = _adaptor_class()
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self._http_thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> NominatimHttpServer:
        self._http_thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        asyncio.run_coroutine_threadsafe(self.api.close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._loop_thread.join(10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                parts = urllib.parse.urlsplit(self.path)
                name = parts.path.strip("/").removesuffix(".php")
                endpoint = server.routes.get(name)
                if endpoint is None:
                    self._send(404, "not found", "text/plain")
                    return
                params = dict(urllib.parse.parse_qsl(parts.query))
                adaptor = server.adaptor(params, dict(self.headers.items()), server.url, server)
                future = asyncio.run_coroutine_threadsafe(endpoint(server.api, adaptor),
                                                          server.loop)
                try:
                    reply = future.result(120)
                    if not isinstance(reply, _Reply):
                        raise RuntimeError("the endpoint gave no response")
                    self._send(reply.status, reply.body, reply.content_type)
                except _Reply as reply:
                    self._send(reply.status, reply.body, reply.content_type)
                except Exception as exc:  # noqa: BLE001 - a server answers 500, never dies
                    self._send(500, f"internal error: {exc}", "text/plain")

            def _send(self, status: int, body: str, content_type: str) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@contextmanager
def serve(environ: Mapping[str, str], project_dir: Path | str | None = None,
          **kwargs: Any) -> Iterator[NominatimHttpServer]:
    """Context manager: a running server; its base URL is ``.url``."""
    server = NominatimHttpServer(environ, project_dir, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()
