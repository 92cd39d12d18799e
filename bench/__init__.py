"""Benchmarks: each module measures one figure against a baseline taken in the same run.

Run them all with ``python -m bench`` (``make bench``), or one with
``python -m bench.posting``. Each prints ``name: X ops/s, baseline Y ops/s,
ratio Z``; the ratio is the figure of record, since the absolute numbers
depend on the machine.
"""
