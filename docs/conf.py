from __future__ import annotations

import importlib.metadata

project = "flask-indox-media"
author = "flask-indox-media developers"
release = importlib.metadata.version("flask-indox-media")
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
]
autodoc_typehints = "description"
autodoc_member_order = "bysource"
intersphinx_mapping = {}  # offline builds: no inventories are fetched
html_theme = "furo"
exclude_patterns = ["_build", "benchmarks.md"]
nitpicky = False
