"""The batched replica engine agrees with training each replica alone."""

import copy
from dataclasses import replace

import pytest
import torch

from initlab.data import load
from initlab.models import build_model, parse_model_spec
from initlab.training import (
    Splits,
    StackedNetwork,
    TrainingSettings,
    derive_seed,
    dropout_mask,
    initialize_replica,
    stream_generator,
    train_replicas,
    train_single,
)
from initlab.training.dropout import stacked_dropout_masks


@pytest.fixture(autouse=True)
def one_thread():
    # One thread makes float32 sums independent of the machine's core count
    # and avoids oversubscribing a shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    return load("digits", seed=0)


def _splits(dataset, train=None):
    x_train, y_train = dataset.x_train[:train], dataset.y_train[:train]
    return Splits.from_arrays(x_train, y_train, dataset.x_test, dataset.y_test)


def _max_difference(first, second):
    return max(
        float((a - b).detach().abs().max())
        for a, b in zip(first.parameters(), second.parameters(), strict=True)
    )


def _check_against_single(spec_text, inits, rates, dataset, settings):
    """Train the replicas in one batch and each one alone; return the differences."""
    spec = parse_model_spec(spec_text)
    network_spec = replace(spec, dropout=max(rates) or spec.dropout)
    network = StackedNetwork(
        network_spec, dataset.input_shape, dataset.num_classes, len(inits)
    )
    for replica, name in enumerate(inits):
        initialize_replica(network, replica, name, stream_generator(replica, name))
    start = copy.deepcopy(network)
    splits = _splits(dataset)
    generators = [stream_generator(replica, "train") for replica in range(len(inits))]
    train_replicas(network, splits, settings, generators, rates)

    differences = []
    for replica, rate in enumerate(rates):
        alone = build_model(
            replace(spec, dropout=rate), dataset.input_shape, dataset.num_classes
        )
        start.store_replica(replica, alone)
        train_single(alone, splits, settings, stream_generator(replica, "train"))
        batched = build_model(
            replace(spec, dropout=rate), dataset.input_shape, dataset.num_classes
        )
        network.store_replica(replica, batched)
        differences.append(_max_difference(alone, batched))
    return differences


def test_train_replicas_matches_single_after_one_epoch(digits):
    inits = ["he_normal", "glorot_uniform", "zeros", "constant(0.02)", "orthogonal"]
    rates = [0.0, 0.2, 0.0, 0.2, 0.0]
    differences = _check_against_single(
        "mlp:5x50:tanh", inits, rates, digits, TrainingSettings(epochs=1)
    )
    for name, rate, difference in zip(inits, rates, differences, strict=True):
        assert difference <= 1e-4, f"{name} with dropout {rate}: {difference}"


def test_train_replicas_matches_single_with_adam(digits):
    differences = _check_against_single(
        "mlp:3x32:relu",
        ["he_uniform", "lecun_normal"],
        [0.0, 0.3],
        digits,
        TrainingSettings(epochs=1, optimizer="adam", lr=1e-3, batch_size=64),
    )
    assert max(differences) <= 1e-4


def test_train_replicas_matches_single_cnn(digits):
    images = digits.as_images()
    small = replace(
        images,
        x_train=images.x_train[:256],
        y_train=images.y_train[:256],
        x_test=images.x_test[:64],
        y_test=images.y_test[:64],
    )
    differences = _check_against_single(
        "cnn:4-8:relu:dropout=0.25",
        ["he_normal", "glorot_uniform"],
        [0.25, 0.0],
        small,
        TrainingSettings(epochs=1, batch_size=32),
    )
    assert max(differences) <= 1e-4


def test_stacked_forward_matches_standalone_model(digits):
    spec = parse_model_spec("mlp:2x16:gelu")
    network = StackedNetwork(spec, digits.input_shape, digits.num_classes, 3)
    for replica in range(3):
        initialize_replica(network, replica, "he_normal", stream_generator(replica))
    inputs = torch.as_tensor(digits.x_test[:20])
    logits = network(inputs)
    model = network.store_replica(
        1, build_model(spec, digits.input_shape, digits.num_classes)
    )
    assert logits.shape == (3, 20, 10)
    assert torch.allclose(logits[1], model(inputs), atol=1e-5)


def test_stacked_forward_shared_and_per_replica_inputs_agree(digits):
    spec = parse_model_spec("cnn:4:tanh")
    images = digits.as_images()
    network = StackedNetwork(spec, images.input_shape, images.num_classes, 2)
    for replica in range(2):
        initialize_replica(network, replica, "glorot_normal", stream_generator(replica))
    inputs = torch.as_tensor(images.x_test[:8])
    shared = network(inputs)
    stacked = network(inputs.unsqueeze(0).expand(2, *inputs.shape))
    assert torch.allclose(shared, stacked, atol=1e-6)


def test_load_replica_round_trips_weights(digits):
    spec = parse_model_spec("mlp:2x8:relu")
    network = StackedNetwork(spec, digits.input_shape, digits.num_classes, 2)
    model = build_model(spec, digits.input_shape, digits.num_classes)
    network.load_replica(1, model)
    copy_back = network.store_replica(
        1, build_model(spec, digits.input_shape, digits.num_classes)
    )
    assert _max_difference(model, copy_back) == 0.0
    assert float(network.weight(0, 0).detach().abs().max()) == 0.0


def test_initialize_replica_uses_standalone_fans(digits):
    spec = parse_model_spec("mlp:1x400:relu")
    network = StackedNetwork(spec, digits.input_shape, digits.num_classes, 1)
    initialize_replica(network, 0, "he_normal", stream_generator(0))
    # He normal: std = sqrt(2 / fan_in) with fan_in = 64 input features.
    std = float(network.weight(0, 0).detach().std())
    assert abs(std - (2 / 64) ** 0.5) < 0.01
    assert float(network.biases[0].detach().abs().max()) == 0.0


def test_initialize_replica_same_seed_same_weights(digits):
    spec = parse_model_spec("mlp:2x8:tanh")
    network = StackedNetwork(spec, digits.input_shape, digits.num_classes, 3)
    initialize_replica(network, 0, "orthogonal", stream_generator(5, "a"))
    initialize_replica(network, 1, "orthogonal", stream_generator(5, "a"))
    initialize_replica(network, 2, "orthogonal", stream_generator(6, "a"))
    assert torch.equal(network.weight(1, 0), network.weight(1, 1))
    assert not torch.equal(network.weight(1, 0), network.weight(1, 2))


def test_dropout_mask_values_and_keep_fraction():
    mask = dropout_mask((400, 50), 0.2, stream_generator(0))
    values = set(mask.unique().tolist())
    assert values == {0.0, 1.25}
    assert abs(float((mask > 0).float().mean()) - 0.8) < 0.01


def test_stacked_dropout_masks_rate_zero_draws_nothing():
    generators = [stream_generator(0), stream_generator(1)]
    before = generators[0].get_state()
    masks = stacked_dropout_masks((4, 5), [0.0, 0.5], generators)
    assert torch.equal(generators[0].get_state(), before)
    assert torch.equal(masks[0], torch.ones(4, 5))
    assert torch.equal(masks[1], dropout_mask((4, 5), 0.5, stream_generator(1)))


def test_stacked_dropout_masks_all_zero_rates_returns_none():
    assert stacked_dropout_masks((4, 5), [0.0, 0.0], [None, None]) is None


def test_train_replicas_rejects_shared_generator(digits):
    spec = parse_model_spec("mlp:1x4:tanh")
    network = StackedNetwork(spec, digits.input_shape, digits.num_classes, 2)
    generator = stream_generator(0)
    with pytest.raises(ValueError, match="own generator"):
        train_replicas(
            network, _splits(digits, 64), TrainingSettings(epochs=1), [generator] * 2
        )


def test_train_replicas_rejects_dropout_without_sites(digits):
    spec = parse_model_spec("mlp:1x4:tanh")
    network = StackedNetwork(spec, digits.input_shape, digits.num_classes, 1)
    with pytest.raises(ValueError, match="dropout sites"):
        train_replicas(
            network,
            _splits(digits, 64),
            TrainingSettings(epochs=1),
            [stream_generator(0)],
            [0.5],
        )


def test_train_replicas_history_shape(digits):
    spec = parse_model_spec("mlp:1x8:tanh")
    network = StackedNetwork(spec, digits.input_shape, digits.num_classes, 2)
    for replica in range(2):
        initialize_replica(network, replica, "he_normal", stream_generator(replica))
    epochs_seen = []
    history = train_replicas(
        network,
        _splits(digits, 128),
        TrainingSettings(epochs=2),
        [stream_generator(0), stream_generator(1)],
        on_epoch=lambda epoch, total: epochs_seen.append((epoch, total)),
    )
    assert history.metric("test_accuracy").shape == (3, 2)
    assert history.epochs == 2
    assert epochs_seen == [(1, 2), (2, 2)]


def test_network_rejects_learnable_activation(digits):
    from initlab.errors import ConfigError

    with pytest.raises(ConfigError, match="prelu"):
        StackedNetwork(parse_model_spec("mlp:2x8:prelu"), (64,), 10, 2)


def test_network_rejects_cnn_on_vectors():
    from initlab.errors import ConfigError

    with pytest.raises(ConfigError, match="image inputs"):
        StackedNetwork(parse_model_spec("cnn:4:relu"), (64,), 10, 2)


def test_network_rejects_output_width_mismatch():
    from initlab.errors import ConfigError

    with pytest.raises(ConfigError, match="10 classes"):
        StackedNetwork(parse_model_spec("mlp:64-32-5:relu"), (64,), 10, 2)


def test_training_settings_rejects_unknown_optimizer():
    from initlab.errors import ConfigError

    with pytest.raises(ConfigError, match="rmsprop"):
        TrainingSettings(optimizer="rmsprop")


def test_derive_seed_stable_and_distinct():
    assert derive_seed(0, "init", "he_normal") == derive_seed(0, "init", "he_normal")
    assert derive_seed(0, "init", "he_normal") != derive_seed(1, "init", "he_normal")
    assert derive_seed(0, "init", "he_normal") != derive_seed(0, "init", "zeros")
    assert 0 <= derive_seed(123, "train") < 2**63
