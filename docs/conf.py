"""Sphinx configuration for the recsim_envs documentation.

Build: ``pip install -e ".[docs]"`` then ``sphinx-build -W -b html docs docs/_build/html``.
Pages under ``envs/generated/`` and ``results/generated/`` and the pictures under ``_generated/`` are written at
build time by ``_ext/recsim_pages.py`` from the registry, the env docstrings, the envs' own renderers and
``benchmarks/RESULTS.md``; they are never edited by hand.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

project = "recsim_envs"
author = "recsim_envs developers"
copyright = "2026, recsim_envs developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "recsim_pages",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# _generated/*.md are pulled into pages with {include}, never built on their own
exclude_patterns = ["_build", "_generated/*.md"]

html_theme = "furo"
html_title = "recsim_envs"


# MathJax served from the site itself (no CDN): the [docs] extra installs MathJax 3's browser build
# (django-static-mathjax packages it as static files; nothing of Django is used), and only its es5/ folder is copied.
def _local_mathjax() -> str:
    import shutil

    import mathjax

    src = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    static = HERE / "_generated" / "static"
    dst = static / "mathjax" / "es5"
    if not (dst / "tex-mml-chtml.js").exists():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    return str(static)


html_static_path = [_local_mathjax()]
mathjax_path = "mathjax/es5/tex-mml-chtml.js"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
# The docstrings are written for readers of the source (Markdown-style headings, unicode maths); render them
# as-is rather than failing the build on their formatting.
suppress_warnings: list[str] = []
nitpicky = False
