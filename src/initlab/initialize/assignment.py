"""Assignments: the schemes for the blocks of one parameter, and the rule that chose them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from initlab import distributions as dist
from initlab.fans import Fans
from initlab.initialize.layer_fans import Geometry
from initlab.schemes import Scheme


@dataclass(frozen=True)
class Labelled(Scheme):
    """A scheme shown under a label that names the source of its numbers.

    ``Labelled(Uniform(-0.125, 0.125), "uniform(+-1/sqrt(hidden_size))")``
    samples exactly like the inner scheme.
    """

    inner: Scheme
    text: str

    def resolve(
        self, fans: Fans, shape: Sequence[int] | None = None, layout: str = "torch"
    ) -> dist.Distribution:
        return self.inner.resolve(fans, shape, layout)

    def formula(self) -> str:
        return self.inner.formula()

    @property
    def label(self) -> str:
        return self.text

    def spec(self) -> str:
        return self.inner.spec()


@dataclass(frozen=True)
class Assignment:
    """The scheme (or one scheme per block) for a parameter, its blocks and the rule that chose it.

    ``zero_rows`` lists rows set to zero after the fill: an embedding's
    ``padding_idx``, which PyTorch keeps at zero.
    """

    schemes: tuple[Scheme, ...]
    geometry: Geometry
    rule: str
    zero_rows: tuple[int, ...] = ()

    def scheme_for(self, block: int) -> Scheme:
        """Return the scheme of one block."""
        return self.schemes[0] if len(self.schemes) == 1 else self.schemes[block]

    @property
    def label(self) -> str:
        """The scheme's label, or the distinct labels by block, for tables."""
        labels = [scheme.label for scheme in self.schemes]
        if len(set(labels)) == 1:
            return labels[0]
        return " | ".join(labels)


def assign(scheme: Scheme, geometry: Geometry, rule: str) -> Assignment:
    """Return an assignment of one scheme to every block."""
    return Assignment((scheme,), geometry, rule)


def with_fans(geometry: Geometry, fans: Fans) -> Geometry:
    """Return ``geometry`` with every block's fans replaced (a bias borrows its weight's)."""
    return Geometry(
        tuple(replace(block, fans=fans) for block in geometry.blocks), geometry.note
    )
