"""Reproducible benchmarks for adaptsend; run them with ``python -m bench``.

Every figure a benchmark prints is a ratio between runs made in the same
process invocation, so that a shared, noisy machine still gives comparable
numbers: absolute times from different invocations are not comparable.
"""
