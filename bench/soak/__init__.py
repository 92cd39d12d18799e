"""The load-and-faults run (``make soak``, ``python -m bench.soak``): see __main__.py."""
