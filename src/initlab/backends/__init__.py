"""Samplers that fill arrays for a scheme: :mod:`.torch` and :mod:`.numpy`.

Both take the scheme, resolve it to a primitive distribution for the
tensor's fans and shape, and sample that primitive from an explicit seed or
generator. Neither records autograd history or touches a global RNG.
"""
