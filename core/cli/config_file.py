"""YAML config files of ``ssmkit <plugin> <pipeline> ... --config FILE``, checked before LightningCLI reads them,
and jsonargparse's errors about them as one line.

jsonargparse reports a broken config over several lines after the whole usage text (or, for bytes that are not
UTF-8, lets a UnicodeDecodeError through); here each becomes one ``ConfigError`` naming the file (and the line
and column of a YAML syntax error).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import ConfigError

MAX_MESSAGE = 300  # characters of a jsonargparse message kept (its union-type reports run to pages)


def config_files(args: list[str]) -> list[str]:
    """The values of ``--config FILE``, ``--config=FILE`` and ``-c FILE`` in ``args``."""
    found = []
    for i, arg in enumerate(args):
        if arg in ("--config", "-c") and i + 1 < len(args):
            found.append(args[i + 1])
        elif arg.startswith("--config="):
            found.append(arg.split("=", 1)[1])
    return found


def check_config(path: str | Path) -> None:
    """An existing config file must be UTF-8 YAML holding a mapping (``model:``, ``data:``, ``trainer:`` ...)."""
    file = Path(path)
    if not file.is_file():  # not a file: jsonargparse reads the value as inline YAML, or says it is missing
        return
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a YAML config (not UTF-8 text: {exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc.strerror or exc})") from None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None and start is not mark:  # e.g. "while parsing a flow sequence"
            problem += f", {context} from line {start.line + 1}, column {start.column + 1}"
        raise ConfigError(f"{path}{where}: not valid YAML ({problem})") from None
    if value is None:
        raise ConfigError(f"{path}: the config is empty (expected options such as 'model:', 'data:', 'trainer:')")
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: a config is a YAML mapping of options ('model:', 'data:', 'trainer:' ...), "
                          f"this one holds a {type(value).__name__}")


def argument_problem(exc: Exception, configs: list[str], command: str) -> str:
    """jsonargparse's error (about a config value or a flag) as one line, with the config files and --help."""
    problem = " ".join(str(exc).split())
    if len(problem) > MAX_MESSAGE:
        problem = problem[:MAX_MESSAGE] + " ..."
    source = f"config {', '.join(configs)} or the flags; " if configs else ""
    return f"{problem} ({source}see `{command} --help`)"
