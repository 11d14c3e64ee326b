"""The ``geotool`` command line: Typer commands that parse, call the library, print."""
