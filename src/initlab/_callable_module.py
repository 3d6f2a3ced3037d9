"""Let a subpackage be called as the function it is named after.

``initlab.probe`` and ``initlab.initialize`` are both a subpackage and the
main function inside it. Python sets ``initlab.probe`` to the subpackage as
soon as anything imports ``initlab.probe.<module>``, which would hide the
function, so the subpackage itself is made callable and forwards the call.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any


def make_module_callable(module_name: str, function: Callable[..., Any]) -> None:
    """Make ``sys.modules[module_name](...)`` call ``function(...)``."""

    class CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

    CallableModule.__call__.__doc__ = function.__doc__
    sys.modules[module_name].__class__ = CallableModule
