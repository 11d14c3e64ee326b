"""Errors raised by the synthetic planet generator.

They exist so that callers (the CLI, the photos generator, tests) can tell a bad request
for a synthetic world — zero countries, an unknown ISO code, a missing world directory —
from a bug, and show the message to the user as it is.
"""

from __future__ import annotations

from geotool.errors import GeotoolError


class SynthError(ValueError, GeotoolError):
    """A synthetic-world request that cannot be fulfilled; the message says why and what to do.

    A ``ValueError`` first (callers and tests rely on that), and a ``GeotoolError``, so the
    CLI shows it as one line."""
