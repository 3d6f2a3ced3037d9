"""Chunked streams: values depend only on seed, name and scheme; shards are exact slices."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from initlab.errors import ShapeError
from initlab.initialize import CHUNK_ELEMENTS, Rule, initialize, initialize_shard
from initlab.initialize.fast_draws import fill_uniform
from initlab.initialize.streams import (
    ChunkGrid,
    _mt_template,
    full_region,
    make_stream,
    stream_key,
)

CPU = torch.device("cpu")


def test_mt_state_layout_recognised():
    assert _mt_template() is not None


def test_streams_differ_beyond_32_bits():
    # manual_seed keeps 32 bits; keys are hashed into the whole state.
    first = torch.empty(4).uniform_(generator=make_stream(0, "w", 0, 0, CPU))
    second = torch.empty(4).uniform_(generator=make_stream(2**32, "w", 0, 0, CPU))
    assert not torch.equal(first, second)


def test_uniform_streams_differ_by_chunk():
    first, second = np.empty(4, np.float32), np.empty(4, np.float32)
    fill_uniform(first, stream_key(0, "w", 0, 0), 0.0, 1.0)
    fill_uniform(second, stream_key(0, "w", 0, 1), 0.0, 1.0)
    assert not (first == second).any()


def test_streams_repeat_for_same_key():
    first = torch.empty(4).normal_(generator=make_stream(5, "a.b", 1, 2, CPU))
    second = torch.empty(4).normal_(generator=make_stream(5, "a.b", 1, 2, CPU))
    assert torch.equal(first, second)


@pytest.mark.parametrize(
    "shape", [(), (5,), (40,), (3, 7), (10, 3, 4), (2, 50), (7, 3, 3, 5)]
)
def test_chunk_grid_covers_every_value_once(shape):
    grid = ChunkGrid(shape, chunk_elements=16)
    counts = torch.zeros(shape, dtype=torch.int64)
    indices = []
    for piece in grid.pieces(full_region(shape)):
        counts[piece.target] += 1
        indices.append(piece.chunk_index)
        assert piece.whole
    assert torch.all(counts == 1)
    assert indices == list(range(grid.count))


def test_chunk_grid_row_longer_than_chunk():
    # Each row of 50 values is cut into four chunks of at most 16.
    grid = ChunkGrid((2, 50), chunk_elements=16)
    assert grid.count == 8


def _big_linear() -> nn.Sequential:
    # 1500 x 1500 = 2.25 million values: three chunks of up to 2^20.
    return nn.Sequential(OrderedDict(a=nn.Linear(1500, 1500, bias=False)))


def test_initialize_repeats_for_same_seed():
    first, second = _big_linear(), _big_linear()
    initialize(first, "he_normal", seed=4)
    initialize(second, "he_normal", seed=4)
    assert torch.equal(first.a.weight, second.a.weight)


def test_initialize_differs_across_seeds():
    first, second = nn.Linear(8, 8), nn.Linear(8, 8)
    initialize(first, "he_normal", seed=0)
    initialize(second, "he_normal", seed=1)
    assert not torch.equal(first.weight, second.weight)


def test_values_independent_of_thread_count():
    first, second = _big_linear(), _big_linear()
    initialize(first, "trunc_normal(std=0.02)", threads=1)
    initialize(second, "trunc_normal(std=0.02)", threads=3)
    assert torch.equal(first.a.weight, second.a.weight)


def test_values_independent_of_memory_format():
    first = nn.Conv2d(64, 512, 7)
    second = nn.Conv2d(64, 512, 7).to(memory_format=torch.channels_last)
    initialize(first, "he_uniform", seed=6)
    initialize(second, "he_uniform", seed=6)
    assert not second.weight.is_contiguous()
    assert torch.equal(first.weight, second.weight)


def test_values_independent_of_module_order():
    first = nn.Sequential(OrderedDict(a=nn.Linear(5, 6), b=nn.Linear(6, 7)))
    second = nn.Sequential(OrderedDict(b=nn.Linear(6, 7), a=nn.Linear(5, 6)))
    initialize(first, "he_uniform", seed=2)
    initialize(second, "he_uniform", seed=2)
    assert torch.equal(first.a.weight, second.a.weight)
    assert torch.equal(first.b.weight, second.b.weight)


def test_values_independent_of_subset():
    first = nn.Sequential(OrderedDict(a=nn.Linear(5, 6), b=nn.Linear(6, 7)))
    second = nn.Sequential(OrderedDict(a=nn.Linear(5, 6), b=nn.Linear(6, 7)))
    initialize(first, "he_normal", seed=2)
    initialize(second, {"b.weight": "he_normal"}, seed=2)
    assert torch.equal(first.b.weight, second.b.weight)


SPLITS = {
    "rows": (slice(600, 1400),),
    "columns": (slice(None), slice(250, 900)),
    "block": (slice(100, 1200), slice(700, 1500)),
    "strided": (slice(3, 1500, 7), slice(1, 1000, 3)),
}


@pytest.mark.parametrize("split", SPLITS, ids=str)
@pytest.mark.parametrize(
    "scheme", ["he_normal", "he_uniform", "trunc_normal(std=0.02)"]
)
def test_shard_matches_full_tensor(split, scheme):
    model = _big_linear()
    initialize(model, scheme, seed=9)
    shard = initialize_shard("a.weight", (1500, 1500), SPLITS[split], scheme, seed=9)
    assert torch.equal(shard, model.a.weight.detach()[SPLITS[split]])


ORTHOGONAL_SPLITS = {
    "rows": (slice(40, 110),),
    "columns": (slice(None), slice(250, 900)),
    "block": (slice(10, 120), slice(700, 1500)),
    "strided": (slice(3, 150, 7), slice(1, 1000, 3)),
}


@pytest.mark.parametrize("split", ORTHOGONAL_SPLITS, ids=str)
def test_shard_matches_full_orthogonal(split):
    # Orthogonal blocks are drawn whole (QR), so a smaller matrix will do.
    model = nn.Linear(1500, 150, bias=False)
    initialize(model, "orthogonal", seed=9)
    slices = ORTHOGONAL_SPLITS[split]
    shard = initialize_shard("weight", (150, 1500), slices, "orthogonal", seed=9)
    assert shard.numel() > 0
    assert torch.equal(shard, model.weight.detach()[slices])


def test_shard_independent_of_thread_count():
    slices = (slice(None), slice(250, 900))
    first = initialize_shard("w", (1500, 1500), slices, "he_normal", threads=1)
    second = initialize_shard("w", (1500, 1500), slices, "he_normal", threads=4)
    assert torch.equal(first, second)


def test_shard_of_packed_attention():
    model = nn.MultiheadAttention(32, 4)
    initialize(model, "glorot_uniform", seed=1)
    slices = (slice(20, 70), slice(5, 30))
    shard = initialize_shard(
        "in_proj_weight", (96, 32), slices, "glorot_uniform", seed=1, blocks=3
    )
    assert torch.equal(shard, model.in_proj_weight.detach()[slices])


def test_shard_of_expert_stack():
    rule = Rule("orthogonal", in_axis=1, out_axis=2, batch_axis=0)
    model = nn.Module()
    model.w = nn.Parameter(torch.empty(4, 6, 6))
    initialize(model, {"w": rule}, seed=5)
    slices = (slice(1, 3), slice(2, 6))
    shard = initialize_shard("w", (4, 6, 6), slices, rule, seed=5)
    assert torch.equal(shard, model.w.detach()[slices])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("scheme", ["he_normal", "he_uniform"])
def test_shard_other_dtypes(scheme, dtype):
    model = nn.Linear(300, 200).to(dtype)
    initialize(model, scheme)
    slices = (slice(50, 150), slice(7, 300, 2))
    shard = initialize_shard("weight", (200, 300), slices, scheme, dtype=dtype)
    assert torch.equal(shard, model.weight.detach()[slices])


def test_shard_rejects_integer_index():
    with pytest.raises(ShapeError, match="slice"):
        initialize_shard("w", (4, 4), (1,), "he_normal")


def test_shard_rejects_too_many_slices():
    with pytest.raises(ShapeError, match="at most one slice per dimension"):
        initialize_shard("w", (4, 4), (slice(None),) * 3, "he_normal")


def test_chunk_size_constant():
    assert CHUNK_ELEMENTS == 2**20
