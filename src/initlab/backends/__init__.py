"""Samplers that fill arrays for a scheme: :mod:`.torch` and :mod:`.numpy`.

Both resolve the scheme to a primitive distribution for the tensor's fans
and shape with :func:`initlab.schemes.resolve_for_shape`, which applies the
degenerate-shape policy, and then sample that primitive. Every draw, masks
and QR inputs included, comes from the seed or generator passed in. Given
neither, the PyTorch backend uses torch's global generator and the NumPy
backend a new generator seeded from the operating system. Neither records
autograd history.
"""
