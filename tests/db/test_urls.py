"""The address conversions of geotool.db.urls, checked against psycopg's own parser."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from geotool.db.urls import (
    conninfo_to_nominatim,
    conninfo_with_database,
    dsn_database,
    dsn_setting,
    libpq_url,
    nominatim_to_conninfo,
    normalise_url,
    shown_url,
    url_to_conninfo,
    url_to_libpq_conninfo,
    with_database,
)
from geotool.errors import InvalidValueError

URL = "postgresql://geo:s3cr%40t@db.example:6543/maps"


def test_sqlalchemy_and_libpq_urls() -> None:
    assert normalise_url(URL) == "postgresql+psycopg://geo:s3cr%40t@db.example:6543/maps"
    assert normalise_url("postgres://a@h/d") == "postgresql+psycopg://a@h/d"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    assert with_database(URL, "other") == "postgresql+psycopg://geo:s3cr%40t@db.example:6543/other"
    assert libpq_url(normalise_url(URL)) == URL
    assert libpq_url(URL, "other").endswith("/other")
    assert "s3cr" not in shown_url(URL) and "***" in shown_url(URL)
    parsed = conninfo_to_dict(libpq_url(URL))
    assert parsed == {"user": "geo", "password": "s3cr@t", "host": "db.example",
                      "port": "6543", "dbname": "maps"}


def test_conninfo_and_nominatim_dsn() -> None:
    conninfo = url_to_conninfo(normalise_url(URL))
    assert conninfo_to_dict(conninfo) == conninfo_to_dict(libpq_url(URL))
    nominatim = conninfo_to_nominatim("host=/tmp port=5433 dbname=nominatim")
    assert nominatim.startswith("pgsql:")
    assert sorted(nominatim[len("pgsql:"):].split(";")) == [
        "dbname=nominatim", "host=/tmp", "port=5433"]
    assert conninfo_to_dict(nominatim_to_conninfo(nominatim)) == {
        "host": "/tmp", "port": "5433", "dbname": "nominatim"}
    with pytest.raises(InvalidValueError, match="password"):
        conninfo_to_nominatim("host=h password='a;b' dbname=d")
    assert nominatim_to_conninfo("host=h dbname=d") == "host=h dbname=d"
    assert dsn_database(nominatim) == "nominatim"
    assert dsn_database("host=h dbname=d") == "d"
    assert dsn_database("") == "default"


def test_conninfo_for_another_database() -> None:
    conninfo = url_to_libpq_conninfo(normalise_url(URL), "nominatim")
    assert "://" not in conninfo
    assert conninfo_to_dict(conninfo) == {**conninfo_to_dict(libpq_url(URL)),
                                          "dbname": "nominatim"}
    socket = url_to_libpq_conninfo("postgresql+psycopg://me@/x?host=/tmp/s&port=5433", "n")
    assert conninfo_to_dict(socket) == {"user": "me", "host": "/tmp/s", "port": "5433",
                                        "dbname": "n"}
    admin = conninfo_with_database("host=/tmp port=5 user=u dbname=x", "postgres")
    assert conninfo_to_dict(admin) == {"host": "/tmp", "port": "5", "user": "u",
                                       "dbname": "postgres"}
    assert dsn_setting("pgsql:dbname=n;host=h;user=me", "user") == "me"
    assert dsn_setting("host=h", "user") is None
    assert dsn_database("dbname='my db' host=h") == "my db"
