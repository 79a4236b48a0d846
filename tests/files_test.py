"""Atomic writes: the old file or the new one, never a torn one (issue 13, item 4)."""

import os

import pytest

from w2v2jax import files


def test_write_replaces_whole_and_leaves_no_temp(tmp_path):
    path = tmp_path / "vocab.json"
    files.write_json(str(path), {"a": 1})
    files.write_json(str(path), {"b": (1, 2)})
    assert path.read_text() == '{\n  "b": [\n    1,\n    2\n  ]\n}\n'
    assert os.listdir(tmp_path) == ["vocab.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would make it


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "config.json"
    files.write_json(str(path), {"old": True})

    with pytest.raises(TypeError):  # fails inside the write, after the temp file exists
        files.write_text(str(path), object())
    assert path.read_text() == '{\n  "old": true\n}\n'
    assert os.listdir(tmp_path) == ["config.json"]
