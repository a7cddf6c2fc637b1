"""The registry of everything plug-ins add, discovered lazily through entry points.

Listing plug-ins reads entry-point metadata only; a plug-in's module is imported the first
time one of its names is used. A broken plug-in is recorded (``broken()``) with its error and
never stops the others.
"""

from __future__ import annotations

import importlib.metadata as md
import traceback
from dataclasses import dataclass
from typing import Any

from .errors import PluginError, RegistryClash
from .plugin import KINDS, Plugin, api_compatible

GROUP = "ssmkit.plugins"


@dataclass
class PluginInfo:
    """What the entry-point metadata says, before anything is imported."""

    name: str
    target: str
    dist: str
    dist_version: str


class Registry:
    def __init__(self, group: str = GROUP):
        self.group = group
        self._info: dict[str, PluginInfo] | None = None
        self._plugins: dict[str, Plugin] = {}
        self._broken: dict[str, str] = {}
        self._items: dict[str, dict[str, Any]] = {k: {} for k in KINDS}

    def refresh(self) -> None:
        """Forget everything (after installing or removing plug-ins)."""
        self.__init__(self.group)

    # discovery (metadata only) ------------------------------------------------------
    def discovered(self) -> dict[str, PluginInfo]:
        if self._info is None:
            self._info = {}
            seen: dict[str, list[PluginInfo]] = {}
            for ep in md.entry_points(group=self.group):
                dist = getattr(ep, "dist", None)
                info = PluginInfo(ep.name, ep.value, dist.metadata["Name"] if dist else "?",
                                  dist.version if dist else "?")
                seen.setdefault(ep.name, []).append(info)
            for name, infos in seen.items():
                # the same distribution found twice on sys.path is one plug-in, not a clash
                unique = {(i.dist, i.target): i for i in infos}
                if len(unique) > 1:
                    sides = " and ".join(f"{i.dist} {i.dist_version} ({i.target})" for i in unique.values())
                    self._broken[name] = f"name clash: plug-in {name!r} is declared by {sides}"
                self._info[name] = infos[0]
        return self._info

    def names(self) -> list[str]:
        return sorted(self.discovered())

    def broken(self) -> dict[str, str]:
        """Plug-in name -> error, for those that failed (after they were tried)."""
        return dict(self._broken)

    # loading --------------------------------------------------------------------------
    def load(self, name: str) -> Plugin:
        """Import and validate one plug-in; raises PluginError (and records it) on failure."""
        if name in self._plugins:
            return self._plugins[name]
        info = self.discovered().get(name)
        if info is None:
            known = ", ".join(self.names()) or "none"
            raise PluginError(f"no plug-in named {name!r} is installed (installed: {known})")
        if name in self._broken:
            raise PluginError(f"plug-in {name!r} is broken: {self._broken[name]}")
        try:
            plugin = self._import(info)
            self._check(name, plugin)
        except PluginError as exc:
            self._broken[name] = str(exc)
            raise
        except Exception as exc:  # a plug-in's own bug must not take the others down
            last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            where = f" ({last.filename}:{last.lineno})" if last else ""
            self._broken[name] = f"{type(exc).__name__}: {exc}{where}"
            raise PluginError(f"plug-in {name!r} failed to load: {self._broken[name]}") from exc
        self._plugins[name] = plugin
        for kind in KINDS:
            for key, obj in plugin.items(kind).items():
                self._items[kind][f"{name}/{key}"] = obj
        return plugin

    @staticmethod
    def _import(info: PluginInfo) -> Plugin:
        module_name, _, attr = info.target.partition(":")
        obj = importlib_import(module_name)
        for part in filter(None, attr.split(".")):
            obj = getattr(obj, part)
        return obj() if callable(obj) and not isinstance(obj, Plugin) else obj

    def _check(self, name: str, plugin: Any) -> None:
        from . import API_VERSION

        if not isinstance(plugin, Plugin):
            raise PluginError(f"plug-in {name!r}: entry point gives {type(plugin).__name__}, not ssmkit.Plugin")
        if plugin.name != name:
            raise PluginError(f"plug-in {name!r}: its Plugin object is named {plugin.name!r}")
        if not api_compatible(plugin.api_version, API_VERSION):
            raise PluginError(f"plug-in {name!r} targets core API {plugin.api_version}, "
                              f"this ssmkit provides {API_VERSION}")
        for kind in KINDS:
            for key in plugin.items(kind):
                if not key or "/" in key:
                    raise RegistryClash(f"plug-in {name!r}: {kind} name {key!r} must be a plain name "
                                        f"(it is registered as '{name}/<name>')")

    def load_all(self) -> dict[str, Plugin]:
        for name in self.names():
            try:
                self.load(name)
            except PluginError:
                pass
        return dict(self._plugins)

    # lookup -----------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Any:
        """An item by "plugin/name"; a plain name means "core/name"."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        full = name if "/" in name else f"core/{name}"
        if full not in self._items[kind]:
            self.load(full.split("/", 1)[0])
        try:
            return self._items[kind][full]
        except KeyError:
            self.load_all()
            known = ", ".join(sorted(self._items[kind])) or "none"
            raise PluginError(f"no {kind[:-1].replace('_', ' ')} named {name!r} (known: {known})") from None

    def items(self, kind: str) -> dict[str, Any]:
        """All registered items of a kind, loading every plug-in."""
        self.load_all()
        return dict(self._items[kind])


def importlib_import(module_name: str):
    import importlib

    return importlib.import_module(module_name)


REGISTRY = Registry()


def get(kind: str, name: str) -> Any:
    return REGISTRY.get(kind, name)


def items(kind: str) -> dict[str, Any]:
    return REGISTRY.items(kind)
