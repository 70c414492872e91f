"""``python -m drywallqa ...``: the command line, as the ``drywallqa`` command."""

from .cli import app

app(prog_name="drywallqa")
