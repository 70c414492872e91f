"""HTTP API and web page (FastAPI): ``drywallqa serve``. :class:`ServeConfig` imports no web framework;
:func:`create_app` (FastAPI) is imported when first used."""

from .config import ServeConfig

__all__ = ["ServeConfig", "create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), "create_app"])
