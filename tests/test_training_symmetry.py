"""Counting distinct neurons, the measure of broken symmetry."""

import torch

from initlab.training import count_distinct_neurons


def test_count_distinct_neurons_identical_rows():
    weight = torch.full((50, 20), 0.02)
    assert count_distinct_neurons(weight, torch.zeros(50)) == 1


def test_count_distinct_neurons_all_zero_layer():
    assert count_distinct_neurons(torch.zeros(8, 4), torch.zeros(8)) == 1


def test_count_distinct_neurons_random_rows():
    weight = torch.randn(30, 10, generator=torch.Generator().manual_seed(0))
    assert count_distinct_neurons(weight, torch.zeros(30)) == 30


def test_count_distinct_neurons_tolerance_is_relative():
    weight = torch.tensor([[10.0, 1.0], [10.0, 1.0005], [10.0, 1.01]])
    # 1e-4 of the largest weight (10) is 1e-3: rows 0 and 1 match, row 2 does not.
    assert count_distinct_neurons(weight) == 2


def test_count_distinct_neurons_bias_separates_units():
    weight = torch.ones(2, 3)
    assert count_distinct_neurons(weight, torch.tensor([0.0, 0.5])) == 2


def test_count_distinct_neurons_links_chains():
    # Each neighbour is within the threshold (1e-4 * 100 = 0.01) of the next,
    # so the three units form one group.
    weight = torch.tensor([[100.0, 0.0], [100.0, 0.008], [100.0, 0.016]])
    assert count_distinct_neurons(weight) == 1


def test_count_distinct_neurons_convolution_weight():
    weight = torch.zeros(4, 2, 3, 3)
    weight[1, 0, 1, 1] = 1.0
    assert count_distinct_neurons(weight) == 2
