"""One module per contender; each runs inside a fresh child process and returns plain dicts.

Every contender module offers the same functions, so the child can call them by name:
``epoch(work, optimizer)``, ``latency(work, sizes)`` and, for handgrad and the floor only,
``sweep_point(...)``.
"""
