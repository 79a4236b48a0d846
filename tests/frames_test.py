import numpy as np
import pytest
import torch
import transformers

from w2v2jax.frames import frame_count, hop_length, layer_lengths, receptive_field
from w2v2jax.models.config import get_config


def test_frame_count_equals_transformers_for_all_lengths():
    cfg = get_config("base")
    ref = transformers.Wav2Vec2Model(
        transformers.Wav2Vec2Config(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            conv_dim=(8,) * 7,
        )
    )
    lengths = np.arange(0, 200001)
    expected = ref._get_feat_extract_output_lengths(torch.from_numpy(lengths)).numpy()
    np.testing.assert_array_equal(frame_count(lengths, cfg), expected)
    assert frame_count(16000, cfg) == 49


def test_frame_arithmetic_of_the_posts():
    cfg = get_config("base")
    assert receptive_field(cfg) == 400
    assert hop_length(cfg) == 320
    assert layer_lengths(400, cfg) == [400, 79, 39, 19, 9, 4, 2, 1]


@pytest.mark.parametrize("kernels,strides", [((10, 3, 3), (5, 2, 2)), ((7, 4, 3), (3, 3, 2))])
def test_receptive_field_is_smallest_length_with_one_frame(kernels, strides):
    cfg = get_config("base", conv_dim=(8,) * 3, conv_kernel=kernels, conv_stride=strides)
    rf = receptive_field(cfg)
    assert frame_count(rf, cfg) == 1
    assert frame_count(rf - 1, cfg) <= 0
