"""Helpers shared by several test modules: data builders, reference implementations, fakes
for faults, and the Nominatim session fixtures (a pytest plugin, see conftest.py).

Test modules import from here (``from support.partition_data import ...``), never from
each other; nothing here is collected as a test. Benchmarks, run from the repository root
(``python -m benchmarks.NAME``), import the same helpers as ``tests.support``; the helpers
import each other relatively so that both names work.
"""
