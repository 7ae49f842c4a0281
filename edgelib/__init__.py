"""edgelib — the thin library behind the notebooks of this repository.

One module per idea from the papers (see ../README.md and the architecture guide):
profiles, data, models, train, cache, cost, plots, report.
"""

__version__ = "0.1.0"
