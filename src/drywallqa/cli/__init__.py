"""The ``drywallqa`` command line, one module per stage: data -> training (train, ship, calibrate) -> evaluation
-> prediction -> serving. Each module registers its commands on :data:`~drywallqa.cli.common.app`."""

# each module registers its commands; `drywallqa --help` lists the top-level ones in this order, then the groups
# `data` and `export`
from . import data, training, evaluation, prediction, serving  # noqa: F401,I001
from .common import app, unwrap_command_help

unwrap_command_help(app)

__all__ = ["app"]
