"""Checked loading of pretrained weights for the loaders that do not go through
:func:`companion.models.build_model`: chapter 9's chat LLM (:func:`companion.llm.load_causal_lm`) and chapter 8's
translation models (:func:`companion.translation.build_encoder_decoder`, :func:`companion.translation.load_marian`).

These loaders load *whole* models: nothing in them is a new head. transformers initialises any weight missing
from a checkpoint at random, and ignores tensors the config has no place for, logging both; a weights file saved
from another model, with renamed tensors, half of them, or a config with fewer layers, would load as a partly
random or truncated model. :func:`from_pretrained_checked` refuses both, and every error names the caller's
argument and the file.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

_WEIGHT_FILES = ("*.safetensors", "*.bin", "*.index.json", "config.json")
TOKENIZER_FILES = ("tokenizer*", "vocab*", "*.model", "*.spm", "special_tokens_map.json", "config.json")
# top-level parts of a task model's checkpoint that an encoder loaded from it leaves unused (its head, its pooler)
TASK_HEADS = ("classifier.", "pre_classifier.", "score.", "pooler.", "cls.", "qa_outputs.")


def check_location(location, argument: str) -> str:
    """``location`` as a string: a hub id (``repo`` or ``namespace/repo``) or an existing local directory.

    Raises:
        TypeError: ``location`` is neither a string nor a path, or ``argument`` is not a string.
        ValueError: ``location`` is empty.
        FileNotFoundError: ``location`` can only be a local path (it starts with ``/``, ``.`` or ``~``, has more
            than one ``/``, or is a ``Path``) and is not an existing directory.
    """
    from .models import _is_local_path

    if not isinstance(argument, str) or not argument:
        raise TypeError(f"argument: expected the name of the caller's argument, got {argument!r}")
    if isinstance(location, os.PathLike):
        location, local = os.fspath(location), True
    elif isinstance(location, str):
        local = False
    else:
        raise TypeError(f"{argument}: expected a hub id or a model directory (str or Path), got "
                        f"{type(location).__name__}")
    if not location:
        raise ValueError(f"{argument}: empty model name")
    expanded = os.path.expanduser(location)
    if (local or _is_local_path(location)) and not os.path.isdir(expanded):
        what = "a file, not a model directory" if os.path.isfile(expanded) else "not an existing directory"
        raise FileNotFoundError(f"{argument}: {location!r} is {what} (a hub id is 'repo' or 'namespace/repo'; "
                                "offline, use a directory written by save_pretrained)")
    return expanded if os.path.isdir(expanded) else location


@contextlib.contextmanager
def naming(location: str, argument: str, what: str, patterns=_WEIGHT_FILES):
    """Re-raise a library's error while loading ``what`` from ``location`` as one that starts with ``argument``:
    for a local directory it names the files (:func:`companion.models` does the same for ``build_model``), for a
    hub id it says the hub could not serve it. The original error stays attached as ``__cause__``."""
    from .models import _is_local_path, _naming_local_files

    try:
        with _naming_local_files(location, what, patterns):
            yield
    except Exception as err:  # noqa: BLE001 - safetensors, tokenizers and json raise types of their own
        message = str(err)
        if message.startswith("name: "):
            if argument == "name":
                raise
            raise type(err)(f"{argument}: {message[len('name: '):]}") from (err.__cause__ or err)
        if _is_local_path(location) or not isinstance(err, OSError):
            raise
        raise OSError(f"{argument}: cannot load the {what} of {location!r} from the hub (offline, or no such "
                      f"repository?): {message.splitlines()[0] if message else type(err).__name__}") from err


def from_pretrained_checked(model_class, location, argument: str, *, unused_allowed: tuple[str, ...] = (), **kwargs):
    """``model_class.from_pretrained(location, **kwargs)`` for a whole model, refusing what transformers only logs.

    Args:
        model_class: a transformers class with ``from_pretrained`` (``AutoModelForCausalLM``, ``AutoModel``,
            ``MarianMTModel``, ...).
        location: a hub id or a local folder written by ``save_pretrained`` (str or ``Path``).
        argument: the name of the caller's argument that gave ``location``; every error starts with it.
        unused_allowed: top-level prefixes of checkpoint weights the model may leave unused (after the base
            model's prefix, e.g. ``bert.``): :data:`TASK_HEADS` when an encoder is loaded from a task model.
        **kwargs: passed on (``dtype``, ``add_pooling_layer``, ...).

    Returns:
        The model (in evaluation mode, as ``from_pretrained`` returns it).

    Raises:
        TypeError: ``model_class`` has no ``from_pretrained``; a bad ``location`` or ``argument`` type.
        FileNotFoundError: a local ``location`` that is not a directory.
        ValueError: the checkpoint lacks some of the model's weights, holds some in another shape, or holds
            weights the config has no place for (a classifier or pooler is allowed); a local file is corrupt.
        OSError: a local folder's files cannot be read (named), or a hub id cannot be loaded.
    """
    if not callable(getattr(model_class, "from_pretrained", None)):
        raise TypeError(f"model_class: expected a transformers model class, got {model_class!r}")
    location = check_location(location, argument)
    with naming(location, argument, "model"):
        model, info = model_class.from_pretrained(location, output_loading_info=True, **kwargs)
    missing = sorted(info.get("missing_keys") or ())
    mismatched = sorted(m[0] if isinstance(m, (tuple, list)) else m for m in info.get("mismatched_keys") or ())
    base = f"{getattr(model, 'base_model_prefix', '')}."
    unused = sorted(k for k in info.get("unexpected_keys") or ()
                    if not (k[len(base):] if k.startswith(base) else k).startswith(tuple(unused_allowed)))
    problems = []
    if missing:
        problems.append(f"lacks {len(missing)} of the {len(model.state_dict())} weights the model needs "
                        f"(e.g. {missing[:3]}); they would be randomly initialised")
    if mismatched:
        problems.append(f"holds weights of the wrong shape (e.g. {mismatched[:3]})")
    if unused:
        problems.append(f"holds {len(unused)} weights the config has no place for (e.g. {unused[:3]}); does "
                        "config.json describe the model that was saved (number of layers, tied embeddings)?")
    if problems:
        files = sorted(str(p) for pattern in ("*.safetensors", "*.bin") for p in
                       Path(location).glob(pattern)) if os.path.isdir(location) else []
        raise ValueError(f"{argument}: {files or [location]} " + "; ".join(problems) +
                         ". Save the model again with save_pretrained")
    return model


def check_vocabulary(tokenizer, model, location: str, argument: str) -> None:
    """Refuse a tokenizer with more tokens than the model has embedding rows (a tokenizer of another model in
    the folder): its ids would index past the embeddings.

    Raises:
        ValueError: ``len(tokenizer)`` > the rows of ``model.get_input_embeddings()``; starts with ``argument``.
    """
    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > rows:
        raise ValueError(f"{argument}: the tokenizer in {location} has {len(tokenizer)} tokens but the model embeds "
                         f"only {rows}; are the tokenizer files from another model?")
