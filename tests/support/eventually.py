"""Waiting for what the database will show shortly: a killed client's session ends (and
its run's advisory lock goes) only when the server notices the closed socket, which on a
loaded machine can take a moment."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(read: Callable[[], T], want: T, seconds: float = 30.0) -> T:
    """Call ``read`` until it returns ``want`` or ``seconds`` pass; return the last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if value == want or time.monotonic() > deadline:
            return value
        time.sleep(0.2)
