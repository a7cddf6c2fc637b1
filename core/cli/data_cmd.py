"""`ssmkit data list | fetch NAME... | verify NAME...`."""

from __future__ import annotations

import argparse

from .. import registry
from ..data import catalog, download
from .report import console, print_table


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ssmkit data", description="datasets the installed plug-ins know")
    parser.add_argument("--data-dir", default=None,
                        help=f"data directory (default: ${catalog.ENV_VAR} or {catalog.DEFAULT_DIR})")
    sub = parser.add_subparsers(dest="cmd", required=True)
    listing = sub.add_parser("list", help="every registered dataset and whether it is present")
    listing.add_argument("--data-dir", default=None, dest="data_dir_sub", help="data directory")
    for cmd, text in (("fetch", "download (resuming) and verify"), ("verify", "check presence and sha256")):
        p = sub.add_parser(cmd, help=text)
        p.add_argument("names", nargs="+", metavar="NAME")
        p.add_argument("--data-dir", default=None, dest="data_dir_sub", help="data directory")
    args = parser.parse_args(argv)
    root = catalog.data_dir(getattr(args, "data_dir_sub", None) or args.data_dir)
    if args.cmd == "list":
        rows = []
        for name, ent in sorted(registry.items("datasets").items()):
            statuses = [download.check_file(root, f).status for f in ent.files]
            present = "yes" if all(s in ("ok", "unchecked") for s in statuses) else (
                "partly" if any(s != "missing" for s in statuses) else "no")
            rows.append((name, len(ent.files), _size(ent.size), present, ent.licence,
                         "generated" if ent.generated else ent.description[:60]))
        columns = ["name", "files", "size", "present", "licence", "about"]
        print_table(f"datasets (data directory: {root})", columns, rows)
        return 0
    failed = False
    for name in args.names:
        statuses = download.fetch(name, root) if args.cmd == "fetch" else download.verify(name, root)
        for st in statuses:
            colour = "green" if st.status == "ok" else ("yellow" if st.status == "unchecked" else "red")
            console.print(f"[{colour}]{st.status:9}[/{colour}] {name}: {st.path} {st.detail}")
            failed |= st.status in ("missing", "corrupt")
    return 1 if failed else 0
