"""`ssmkit plugins` and `ssmkit plugins show NAME`."""

from __future__ import annotations

import argparse

from .. import registry
from ..errors import PluginError
from ..plugin import KINDS
from .report import console, print_table


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ssmkit plugins", description="installed plug-ins and what they register")
    sub = parser.add_subparsers(dest="cmd")
    show = sub.add_parser("show", help="everything one plug-in registers")
    show.add_argument("name")
    args = parser.parse_args(argv)
    reg = registry.REGISTRY
    if args.cmd == "show":
        return _show(reg, args.name)
    reg.load_all()
    rows = []
    for name in reg.names():
        info = reg.discovered()[name]
        plugin = reg._plugins.get(name)
        if plugin is None:
            rows.append((name, info.dist_version, info.dist, "-", *(["-"] * len(KINDS)), "[red]broken[/red]"))
            continue
        counts = [str(len(plugin.items(k))) for k in KINDS]
        rows.append((name, plugin.version, info.dist, plugin.api_version, *counts, "ok"))
    print_table("installed plug-ins", ["plug-in", "version", "distribution", "API", *KINDS, "status"], rows)
    for name, error in sorted(reg.broken().items()):
        console.print(f"[red]broken[/red] {name}: {error}")
    return 1 if reg.broken() else 0


def _show(reg: registry.Registry, name: str) -> int:
    try:
        plugin = reg.load(name)
    except PluginError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    info = reg.discovered()[name]
    console.print(f"[bold]{name}[/bold] {plugin.version} ({info.dist}), core API {plugin.api_version}")
    if plugin.description:
        console.print(plugin.description)
    for kind in KINDS:
        items = plugin.items(kind)
        if not items:
            continue
        rows = [(f"{name}/{key}", _describe(obj)) for key, obj in sorted(items.items())]
        print_table(kind.replace("_", " "), ["name", "what"], rows)
    return 0


def _describe(obj) -> str:
    text = getattr(obj, "description", "") or (obj.__doc__ or "")
    if not isinstance(text, str):
        text = ""
    return text.strip().split("\n")[0][:100]
