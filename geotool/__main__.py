"""``python -m geotool``: the same as the ``geotool`` command."""

from geotool.cli.app import app

app(prog_name="geotool")
