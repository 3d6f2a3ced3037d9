"""Subcommands of the ``initlab`` command line, one module each.

A module here defines ``register(subparsers)`` that adds a parser and sets
its ``handler`` default; :mod:`initlab.cli` discovers the modules.
"""
