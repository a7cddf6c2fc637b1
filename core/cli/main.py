"""The `ssmkit` console script."""

from __future__ import annotations

import sys

from .. import __version__, registry
from ..errors import SSMKitError

USAGE = """usage: ssmkit <command> ...

commands:
  plugins [show NAME]            installed plug-ins, what each registers, broken ones
  data list|fetch|verify ...     datasets the plug-ins know (--data-dir, $SSMKIT_DATA_DIR)
  demo [--data-dir DIR]          one small pipeline per installed domain, with a table of metrics
  <plugin> <pipeline> fit|validate|test|predict [--config FILE] [--model.x ...] [--print_config]
"""


def _pipelines_help() -> str:
    lines = []
    for name, pipe in sorted(registry.items("pipelines").items()):
        plugin, pipeline = name.split("/", 1)
        lines.append(f"  ssmkit {plugin} {pipeline:<18} {pipe.description}")
    return ("\npipelines:\n" + "\n".join(lines) + "\n") if lines else "\n(no pipelines installed)\n"


def _dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE + _pipelines_help())
        return 0
    if argv[0] == "--version":
        print(f"ssmkit {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command == "plugins":
        from .plugins_cmd import run
        return run(rest)
    if command == "data":
        from .data_cmd import run
        return run(rest)
    if command == "demo":
        from .demo import run
        return run(rest)
    if command not in registry.REGISTRY.names():
        raise SSMKitError(f"unknown command or plug-in {command!r} (see `ssmkit --help`)")
    plugin = registry.REGISTRY.load(command)
    if not rest or rest[0] in ("-h", "--help"):
        names = ", ".join(sorted(plugin.pipelines)) or "none"
        print(f"usage: ssmkit {command} <pipeline> fit|validate|test|predict ...\npipelines: {names}")
        return 0
    if rest[0] not in plugin.pipelines:
        names = ", ".join(sorted(plugin.pipelines)) or "none"
        raise SSMKitError(f"plug-in {command!r} has no pipeline {rest[0]!r} (it has: {names})")
    from .pipeline_cli import run_pipeline
    return run_pipeline(command, rest[0], rest[1:])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _dispatch(argv)
    except SSMKitError as exc:
        print(f"ssmkit: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"ssmkit: error: {exc.filename or exc}: file not found", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ssmkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
