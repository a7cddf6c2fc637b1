"""Errors that reach users as one clear line (the CLI prints them without a traceback)."""

from __future__ import annotations

from pathlib import Path


class SSMKitError(Exception):
    """Base of ssmkit's user-facing errors."""

    def __str__(self) -> str:
        # one line whatever a wrapped third-party message holds (parsers often report over several lines)
        text = super().__str__()
        if "\n" not in text and "\r" not in text:
            return text
        return "; ".join(part.strip() for part in text.splitlines() if part.strip())


class DataError(SSMKitError, ValueError):
    """Bad or missing input data: names the file and, where known, the line and column."""

    def __init__(self, problem: str, path: str | Path | None = None, line: int | None = None,
                 column: str | None = None):
        self.problem, self.path, self.line, self.column = problem, path, line, column
        where = ""
        if path is not None:
            where = str(path)
            if line is not None:
                where += f", line {line}"
            if column is not None:
                where += f", column {column!r}"
            where += ": "
        super().__init__(where + problem)


class ConfigError(SSMKitError, ValueError):
    """A bad argument or option value (named, with what is allowed)."""


class PluginError(SSMKitError):
    """A plug-in that cannot be loaded, or a name that cannot be resolved."""


class RegistryClash(PluginError):
    """Two plug-ins (or two entries) claim the same name."""
