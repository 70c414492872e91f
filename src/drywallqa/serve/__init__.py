"""HTTP API and web page (FastAPI): ``drywallqa serve``."""

from .app import ServeConfig, create_app

__all__ = ["ServeConfig", "create_app"]
