"""from_hf and `w2v2jax convert` on damaged or mismatched save_pretrained folders: each is
one sentence naming the file (and the key), and nothing is written."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import xla_env
from hf_reference import SMALL, make_hf_model
from safetensors.numpy import load_file, save_file

from w2v2jax.convert import from_hf
from w2v2jax.convert.export import write_workdir
from w2v2jax.errors import CheckpointError, WorkdirError
from w2v2jax.models.config import get_config

FF_KEY = "wav2vec2.encoder.layers.1.feed_forward.intermediate_dense.weight"


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("hf") / "model"
    make_hf_model(get_config("base", **{**SMALL, "vocab_size": 30}), path)
    return path


@pytest.fixture
def copy(hf_dir, tmp_path):
    out = tmp_path / "model"
    shutil.copytree(hf_dir, out)
    return out


def edit_tensors(folder, **changes):
    path = folder / "model.safetensors"
    sd = load_file(str(path))
    sd.update(changes)
    save_file(sd, str(path), metadata={"format": "pt"})


def edit_config(folder, **changes):
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    path.write_text(json.dumps({**cfg, **changes}))


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "w2v2jax.cli", *args],
        capture_output=True,
        check=False,
        text=True,
        env=xla_env.env(),
    )


def test_a_tensor_of_the_wrong_shape_names_its_key_and_both_shapes(copy):
    edit_tensors(copy, **{FF_KEY: np.zeros((97, 64), np.float32)})
    with pytest.raises(CheckpointError) as e:
        from_hf(str(copy))
    assert f"{FF_KEY} is [97, 64], the config needs [96, 64]" in str(e.value)
    assert "wrong shapes (1)" in str(e.value)


def test_a_config_that_does_not_fit_the_weights_lists_every_tensor(copy):
    edit_config(copy, intermediate_size=80)
    with pytest.raises(CheckpointError, match=r"wrong shapes \(6\)") as e:
        from_hf(str(copy))
    assert f"{FF_KEY} is [96, 64], the config needs [80, 64]" in str(e.value)
    assert "config.json belongs to these weights" in str(e.value)


def test_convert_refuses_wrong_shapes_at_once_and_writes_nothing(copy, tmp_path):
    """Today's failure mode: convert exits 0 and transcribe later fails inside orbax."""
    edit_tensors(copy, **{"lm_head.weight": np.zeros((31, 64), np.float32)})
    out = cli("convert", f"--from_hf={copy}", f"--out={tmp_path / 'conv'}")
    assert out.returncode == 1, out.stderr
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("w2v2jax convert: error:")]
    assert str(copy) in line and "Traceback" not in out.stderr
    assert "lm_head.weight is [31, 64], the config needs [30, 64]" in out.stderr
    assert "strict" not in out.stderr
    assert not (tmp_path / "conv").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no half-written folder


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncate_safetensors", r"model\.safetensors: cannot be read as safetensors .*truncated"),
        ("garbage_safetensors", r"model\.safetensors: cannot be read as safetensors"),
        ("config_not_json", r"config\.json: not a readable JSON file"),
        ("config_a_list", r"config\.json: expected a JSON object"),
        ("hidden_size_a_string", r"config\.json: hidden_size is '64', expected an integer > 0"),
        ("zero_heads", r"config\.json: num_attention_heads is 0, expected an integer > 0"),
        ("conv_dim_floats", r"config\.json: conv_dim is \[32\.5.*expected a list of integers"),
        ("heads_do_not_divide", r"config\.json: hidden_size=64 is not divisible by num_att"),
        ("bad_index", r"model\.safetensors\.index\.json: not a safetensors index"),
        ("truncated_bin", r"pytorch_model\.bin: cannot be read as a PyTorch file .*truncated"),
    ],
)
def test_damaged_files_are_one_sentence_naming_the_file(copy, damage, message):
    st, conf = copy / "model.safetensors", copy / "config.json"
    if damage == "truncate_safetensors":
        st.write_bytes(st.read_bytes()[: st.stat().st_size // 2])
    elif damage == "garbage_safetensors":
        st.write_bytes(b"\x00" * 16)
    elif damage == "config_not_json":
        conf.write_text(conf.read_text()[:40])
    elif damage == "config_a_list":
        conf.write_text("[1, 2]")
    elif damage == "hidden_size_a_string":
        edit_config(copy, hidden_size="64")
    elif damage == "zero_heads":
        edit_config(copy, num_attention_heads=0)
    elif damage == "conv_dim_floats":
        edit_config(copy, conv_dim=[32.5] * 7)
    elif damage == "heads_do_not_divide":
        edit_config(copy, num_attention_heads=5)
    elif damage == "bad_index":
        st.rename(copy / "shard.safetensors")
        (copy / "model.safetensors.index.json").write_text('{"weight_map": [1]')
    elif damage == "truncated_bin":
        st.unlink()
        (copy / "pytorch_model.bin").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(CheckpointError, match=message) as e:
        from_hf(str(copy))
    assert "\n" not in str(e.value)


def test_write_workdir_is_all_or_nothing(hf_dir, tmp_path):
    cfg, params = from_hf(str(hf_dir))
    (tmp_path / "empty").mkdir()
    write_workdir(cfg, params, str(tmp_path / "empty"))  # an empty folder is filled
    assert sorted(os.listdir(tmp_path / "empty")) == ["checkpoints", "config.json"]
    with pytest.raises(WorkdirError, match="not empty"):
        write_workdir(cfg, params, str(tmp_path / "empty"))
    bad_vocab = tmp_path / "vocab" / "vocab.json"
    bad_vocab.parent.mkdir()
    bad_vocab.write_text('{"<pad>": 0, "<s>"')
    with pytest.raises(CheckpointError, match=r"vocab\.json: not a vocabulary"):
        write_workdir(cfg, params, str(tmp_path / "new"), str(bad_vocab))
    assert sorted(os.listdir(tmp_path)) == ["empty", "vocab"]  # nothing left behind


@pytest.fixture(scope="module")
def pretraining_dir(tmp_path_factory):
    import transformers

    path = tmp_path_factory.mktemp("hf_pre") / "model"
    cfg = get_config("base", **SMALL, num_codevectors_per_group=8, codevector_dim=16)
    make_hf_model(cfg, path, cls=transformers.Wav2Vec2ForPreTraining)
    return path


def test_pretraining_heads_are_read_and_checked(pretraining_dir, tmp_path):
    _, params = from_hf(str(pretraining_dir))
    assert set(params) == {"wav2vec2", "quantizer", "project_hid", "project_q"}
    assert params["quantizer"]["codevectors"].shape == (1, 16, 8)
    shutil.copytree(pretraining_dir, tmp_path / "m")
    sd = load_file(str(tmp_path / "m" / "model.safetensors"))
    del sd["project_q.bias"]
    save_file(sd, str(tmp_path / "m" / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=r"missing keys \(1\): \['project_q\.bias'\]"):
        from_hf(str(tmp_path / "m"))


def test_a_converted_pretraining_checkpoint_restores_as_the_ctc_encoder(pretraining_dir, tmp_path):
    """The workdir holds what init_from restores (the encoder), not the quantizer."""
    import jax

    from w2v2jax.models import init_params
    from w2v2jax.train import checkpoint

    cfg, params = from_hf(str(pretraining_dir))
    write_workdir(cfg, params, str(tmp_path / "w"))
    abstract = jax.eval_shape(lambda: init_params(cfg, jax.random.PRNGKey(0)))
    restored, step = checkpoint.restore_params(str(tmp_path / "w"), abstract)
    assert step == 0 and set(restored) == {"wav2vec2"}
    jax.tree.map(np.testing.assert_array_equal, restored["wav2vec2"], params["wav2vec2"])
