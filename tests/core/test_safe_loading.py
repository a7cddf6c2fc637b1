"""No source file loads data in a way that can run code: a scan that fails when someone adds one."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("core", "kernels", "domains", "plugins", "examples", "benchmarks")
# (file, call) pairs that are allowed, each with why
ALLOWED = {
    # read_data_list(trusted=True): an explicit opt-in, documented "only for files you made yourself"
    ("domains/graphs/ssmkit_graphs/readers.py", "torch.load(path, weights_only=False)"),
}


def _kw(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_const(node, value) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _problem(call: ast.Call) -> str | None:
    func = ast.unparse(call.func)
    last = func.rsplit(".", 1)[-1]
    if func in ("eval", "exec"):
        return f"{func}() runs arbitrary code"
    if func == "torch.load" or last == "load_from_checkpoint":
        return None if _is_const(_kw(call, "weights_only"), True) else "without weights_only=True"
    if func in ("yaml.load", "yaml.load_all"):
        loader = _kw(call, "Loader")
        ok = loader is not None and ast.unparse(loader).rsplit(".", 1)[-1] in ("SafeLoader", "CSafeLoader")
        return None if ok else "without Loader=yaml.SafeLoader (use yaml.safe_load)"
    if func in ("yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all"):
        return "is unsafe (use yaml.safe_load)"
    if func.split(".")[0] in ("pickle", "cPickle", "dill", "joblib", "marshal", "shelve") and last in (
            "load", "loads", "open", "Unpickler"):
        return "unpickles arbitrary objects"
    if last in ("read_pickle", "Unpickler"):
        return "unpickles arbitrary objects"
    if func in ("np.load", "numpy.load"):
        allow = _kw(call, "allow_pickle")
        return None if allow is None or _is_const(allow, False) else "with allow_pickle"
    return None


def _sources():
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if not any(part.startswith(".") or part == "build" or part.endswith(".egg-info") for part in path.parts):
                yield path


def test_no_unsafe_loading_in_the_source_tree():
    found, scanned = [], 0
    for path in _sources():
        scanned += 1
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if isinstance(node, ast.Call) and (why := _problem(node)):
                if (rel, ast.unparse(node)) not in ALLOWED:
                    found.append(f"{rel}:{node.lineno}: {ast.unparse(node)} {why}")
    assert scanned > 50
    assert not found, "\n".join(found)


def test_the_scan_catches_each_pattern():
    bad = ["torch.load(p)", "torch.load(p, weights_only=False)", "yaml.load(s)", "yaml.load(s, Loader=yaml.Loader)",
           "yaml.unsafe_load(s)", "eval(s)", "pickle.load(f)", "pickle.loads(b)", "np.load(p, allow_pickle=True)",
           "pd.read_pickle(p)", "Model.load_from_checkpoint(p)"]
    good = ["torch.load(p, weights_only=True)", "yaml.safe_load(s)", "yaml.load(s, Loader=yaml.SafeLoader)",
            "model.eval()", "np.load(p)", "np.load(p, allow_pickle=False)", "json.load(f)"]
    assert all(_problem(ast.parse(src).body[0].value) for src in bad)
    assert not any(_problem(ast.parse(src).body[0].value) for src in good)
