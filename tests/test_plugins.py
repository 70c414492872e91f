"""Plugins (``drywallqa.utils.plugins``): an image encoder of another package, declared as an entry point of the
``drywallqa.plugins`` group or named in ``$DRYWALLQA_PLUGINS``, is found by its name in a config and in a saved model
folder, in a fresh process that never imported it (the server, a Ray worker). The registry held only what had been
imported: a model trained with a user's encoder could be loaded nowhere but in the script that registered it."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from drywallqa.models import create_model
from drywallqa.models.encoders import ENCODERS
from drywallqa.utils.plugins import load_plugins

PLUGIN = textwrap.dedent("""
    from drywallqa.models.encoders import register_encoder
    from drywallqa.models.encoders.scratch import ScratchEncoder

    @register_encoder("plugin_scratch")
    class PluginScratch(ScratchEncoder):
        '''The scratch encoder under another name: a user's own encoder.'''
""")


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    """A folder holding the module ``dq_plugin_demo`` and the metadata of an installed package whose entry point of
    the group names it; on ``sys.path`` for this process. The registry is left as it was found."""
    (tmp_path / "dq_plugin_demo.py").write_text(PLUGIN)
    info = tmp_path / "dq_plugin_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dq-plugin-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[drywallqa.plugins]\ndemo = dq_plugin_demo\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    load_plugins.cache_clear()
    yield tmp_path
    ENCODERS.remove("plugin_scratch")
    sys.modules.pop("dq_plugin_demo", None)
    load_plugins.cache_clear()


def _in_a_fresh_process(code: str, pythonpath: list, **env) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath)), **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


LOAD = ("from drywallqa.models.base import PromptedSegmentationModel as M; import sys; "
        "print(M.from_pretrained(sys.argv[-1] if len(sys.argv) > 1 else {folder!r}).config.encoder)")


def test_an_encoder_of_an_installed_plugin_builds_and_its_model_loads_anywhere(plugin_path, tmp_path, tiny_kwargs):
    assert "plugin_scratch" in ENCODERS  # found by its name: the plugin imported on the first miss
    folder = tmp_path / "model"
    create_model("film_unet", **{**tiny_kwargs, "encoder": "plugin_scratch"}).save_pretrained(folder)
    assert json.loads((folder / "config.json").read_text())["config"]["encoder"] == "plugin_scratch"
    src = os.path.dirname(os.path.dirname(os.path.abspath(__import__("drywallqa").__file__)))
    ran = _in_a_fresh_process(LOAD.format(folder=str(folder)), [src, plugin_path])
    assert ran.returncode == 0 and ran.stdout.strip() == "plugin_scratch", ran.stderr[-2000:]
    without = _in_a_fresh_process(LOAD.format(folder=str(folder)), [src])  # the plugin not installed there
    assert without.returncode != 0 and "unknown encoder 'plugin_scratch'" in without.stderr, without.stderr[-2000:]


def test_a_module_named_in_the_environment_is_a_plugin(tmp_path, tiny_kwargs):
    (tmp_path / "dq_env_plugin.py").write_text(PLUGIN.replace("plugin_scratch", "env_scratch"))
    src = os.path.dirname(os.path.dirname(os.path.abspath(__import__("drywallqa").__file__)))
    code = ("from drywallqa.models import create_model; "
            f"print(create_model('film_unet', **{dict(tiny_kwargs, encoder='env_scratch')!r}).config.encoder)")
    ran = _in_a_fresh_process(code, [src, tmp_path], DRYWALLQA_PLUGINS=" dq_env_plugin, ")
    assert ran.returncode == 0 and ran.stdout.strip() == "env_scratch", ran.stderr[-2000:]


def test_a_broken_plugin_is_named_and_stops_nothing_else(plugin_path, caplog):
    (plugin_path / "dq_plugin_demo.py").write_text("raise RuntimeError('needs a GPU library')\n")
    assert ENCODERS.get("scratch") is not None  # the encoders of drywallqa itself
    with pytest.raises(KeyError) as err:
        ENCODERS.get("plugin_scratch")
    said = str(err.value)
    assert "unknown encoder 'plugin_scratch'" in said and "plugin 'demo' could not be imported" in said, said
    assert "needs a GPU library" in said and "needs a GPU library" in caplog.text


def test_a_ray_cluster_job_passes_the_plugins_on(monkeypatch):
    """A running Ray cluster's workers do not inherit this process's environment: $DRYWALLQA_PLUGINS goes along in
    the job's runtime_env (and nothing is added where it is not set)."""
    from drywallqa.engine.batch_ray import job_runtime_env

    monkeypatch.setenv("DRYWALLQA_PLUGINS", "my_encoders")
    assert job_runtime_env() == {"runtime_env": {"env_vars": {"DRYWALLQA_PLUGINS": "my_encoders"}}}
    monkeypatch.delenv("DRYWALLQA_PLUGINS")
    assert job_runtime_env() == {}
