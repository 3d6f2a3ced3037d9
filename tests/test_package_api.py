"""The top-level names work however the subpackages were imported first."""

import torch

import initlab


def _model():
    return torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2)
    )


def test_initialize_callable_after_submodule_import():
    import initlab.initialize.record  # noqa: F401 - binds initlab.initialize to the subpackage

    record = initlab.initialize(_model(), "glorot_uniform")
    assert type(record).__name__ == "InitRecord"


def test_probe_callable_after_submodule_import():
    from initlab.probe import ProbeReport

    report = initlab.probe(_model(), torch.randn(8, 4))
    assert isinstance(report, ProbeReport)


def test_lazy_names_resolve():
    for name in (
        "fill_",
        "sample",
        "materialize",
        "initialize_shard",
        "lsuv_",
        "Rule",
        "InitRecord",
    ):
        assert callable(getattr(initlab, name)), name
