"""Sphinx extension: every ``<script>`` once per page.

Sphinx 7.4 writes an inline script twice when an extension registers it after the HTML builder was
initialised: ``app.add_js_file(None, body=...)`` gives the builder the file name ``None``, and
``StandaloneHTMLBuilder.prepare_writing`` then adds every registered script again with the file name
``''``, which the builder does not recognise as the same script. sphinx-thebe registers its
``const THEBE_JS_URL = ...`` that way (at ``env-before-read-docs``), so every page raised
"Identifier 'THEBE_JS_URL' has already been declared" in the browser console; sphinx-togglebutton's
``togglebuttonSelector`` (at ``builder-inited``) was doubled too, silently (``var``). This drops the
second copy of any script that differs from an earlier one only by ``None`` versus ``''``.
"""

from __future__ import annotations


def _key(script):
    if isinstance(script, str):  # the old string interface
        return script, None, ()
    return script.filename or "", script.priority, tuple(sorted(script.attributes.items()))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept  # the builder's own list, reset from its copy before the next page


def setup(app):
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)  # after per-page additions
    return {"parallel_read_safe": True, "parallel_write_safe": True}
