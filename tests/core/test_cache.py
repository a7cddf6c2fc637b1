"""Derived files (indexes, converted arrays) go beside their data, or into the user cache for a read-only folder."""

from ssmkit.cache import cache_root, derived_path, find_derived


def test_beside_the_data_else_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSMKIT_CACHE", str(tmp_path / "cache"))
    assert cache_root() == tmp_path / "cache"
    data = tmp_path / "data.fa"
    data.write_text(">a\nA\n")
    assert derived_path(data, "data.fa.fai") == tmp_path / "data.fa.fai"
    assert find_derived(data, "data.fa.fai") is None
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "x.fa").write_text(">a\nA\n")
    ro.chmod(0o555)  # marked read-only: left alone even by root, who could write there
    try:
        target = derived_path(ro / "x.fa", "x.fa.fai")
    finally:
        ro.chmod(0o755)
    assert target.parent.parent == tmp_path / "cache" / "derived" and target.name == "x.fa.fai"
    target.parent.mkdir(parents=True)
    target.write_text("cached")
    assert find_derived(ro / "x.fa", "x.fa.fai") == target
    (ro / "x.fa.fai").write_text("beside")  # one beside the data is found first
    assert find_derived(ro / "x.fa", "x.fa.fai") == ro / "x.fa.fai"
