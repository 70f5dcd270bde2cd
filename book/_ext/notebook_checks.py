"""Sphinx extension: warn (and so, with ``-W``, fail the build) on notebooks that must not be published.

The site shows committed outputs without executing anything, so a notebook committed after a failed
run would otherwise be published with a traceback. Checked for every ``.ipynb`` source:

* no cell has an ``error`` output (a raising cell);
* at most one cell is tagged ``parameters`` and none ``injected-parameters`` (papermill).
"""

from __future__ import annotations

import json

from sphinx.util import logging

logger = logging.getLogger(__name__)


def check_notebook(app, docname, source):
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    try:
        nb = json.loads(source[0])
    except ValueError:
        return
    location = app.env.doc2path(docname)
    tagged = {"parameters": 0, "injected-parameters": 0}
    for index, cell in enumerate(nb.get("cells", [])):
        tags = cell.get("metadata", {}).get("tags", [])
        for tag in tagged:
            tagged[tag] += tag in tags
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                logger.warning(f"cell {index} raised {output.get('ename')}: {output.get('evalue')} "
                               "(re-run the notebook before committing it)", location=location)
    if tagged["parameters"] > 1:
        logger.warning(f"{tagged['parameters']} cells are tagged 'parameters' (papermill needs one)", location=location)
    if tagged["injected-parameters"]:
        logger.warning("a papermill 'injected-parameters' cell is committed", location=location)


def setup(app):
    app.connect("source-read", check_notebook)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
