"""Plug-ins made in the test: a dist-info folder with entry_points.txt put on sys.path."""

import sys
import textwrap

import pytest

from ssmkit.errors import PluginError
from ssmkit.registry import Registry


def _dist(root, dist, version, module, body, ep_name=None):
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[ssmkit.plugins]\n{ep_name or module} = {module}:plugin\n")
    (root / f"{module}.py").write_text(textwrap.dedent(body))


GOOD = """
from ssmkit import API_VERSION, Plugin
from ssmkit.scan_orders import Reverse
import torch
class Head(torch.nn.Module):
    '''a test head'''
plugin = Plugin(name="{name}", version="1.2", api_version=API_VERSION, heads={{"lin": Head}},
                scan_orders={{"rev": Reverse()}})
"""


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith("tp_")]:
        del sys.modules[mod]


def test_discovered_lazily_and_namespaced(plugin_dir):
    _dist(plugin_dir, "tp-good", "1.2", "tp_good", GOOD.format(name="goodp"), ep_name="goodp")
    reg = Registry()
    assert "goodp" in reg.names() and "core" in reg.names()
    assert "tp_good" not in sys.modules  # listing read metadata only
    assert reg.get("heads", "goodp/lin").__doc__ == "a test head"
    assert "tp_good" in sys.modules
    assert reg.get("scan_orders", "goodp/rev").permutation(length=3).tolist() == [2, 1, 0]
    assert reg.get("scan_orders", "reverse") is reg.get("scan_orders", "core/reverse")


def test_broken_plugins_are_isolated_and_reported_by_name(plugin_dir):
    _dist(plugin_dir, "tp-good", "1.0", "tp_good2", GOOD.format(name="fine"), ep_name="fine")
    _dist(plugin_dir, "tp-importerr", "1.0", "tp_importerr", "import not_a_module_anywhere\n", ep_name="crashy")
    _dist(plugin_dir, "tp-oldapi", "1.0", "tp_oldapi", """
from ssmkit import Plugin
plugin = Plugin(name="oldapi", version="0.1", api_version="0.3")
""", ep_name="oldapi")
    _dist(plugin_dir, "tp-notaplugin", "1.0", "tp_notaplugin", "plugin = 42\n", ep_name="weird")
    reg = Registry()
    loaded = reg.load_all()
    assert "fine" in loaded and "core" in loaded
    broken = reg.broken()
    assert "ModuleNotFoundError" in broken["crashy"] and "not_a_module_anywhere" in broken["crashy"]
    assert "targets core API 0.3" in broken["oldapi"]
    assert "not ssmkit.Plugin" in broken["weird"]
    assert reg.get("heads", "fine/lin") is not None  # the others keep working
    with pytest.raises(PluginError, match="crashy"):
        reg.get("heads", "crashy/anything")


def test_clash_between_two_distributions_names_both(plugin_dir):
    _dist(plugin_dir, "tp-alpha", "1.0", "tp_alpha", GOOD.format(name="same"), ep_name="same")
    _dist(plugin_dir, "tp-beta", "2.0", "tp_beta", GOOD.format(name="same"), ep_name="same")
    reg = Registry()
    reg.load_all()
    msg = reg.broken()["same"]
    assert "tp-alpha" in msg and "tp-beta" in msg and "clash" in msg
    with pytest.raises(PluginError, match="clash"):
        reg.load("same")


def test_a_plugin_cannot_claim_another_namespace(plugin_dir):
    _dist(plugin_dir, "tp-squat", "1.0", "tp_squat", """
from ssmkit import API_VERSION, Plugin
from ssmkit.scan_orders import Reverse
plugin = Plugin(name="squat", version="1", api_version=API_VERSION, scan_orders={"core/hilbert": Reverse()})
""", ep_name="squat")
    reg = Registry()
    with pytest.raises(PluginError, match="plain name"):
        reg.load("squat")
    assert reg.get("scan_orders", "core/hilbert").name == "hilbert"  # not overridden


def test_unknown_names_are_clear_errors():
    reg = Registry()
    with pytest.raises(PluginError, match="no plug-in named 'nope'"):
        reg.get("mixers", "nope/thing")
    with pytest.raises(PluginError, match="no mixer named 'nothing'"):
        reg.get("mixers", "nothing")
