"""Checked ``from_pretrained`` for the loaders that do not go through :func:`companion.models.build_model`:
chapter 9's chat LLM (:func:`companion.llm.load_causal_lm`) and chapter 8's translation models
(:func:`companion.translation.build_encoder_decoder`, :func:`companion.translation.load_marian`).

transformers initialises any weight missing from a checkpoint at random and only logs it, so a weights
file saved from another model, with renamed tensors or with half of them, would load as a partly random
model. These loaders refuse it with the checks of :mod:`companion.models`.
"""
from __future__ import annotations

import os

_WEIGHT_FILES = ("*.safetensors", "*.bin", "config.json")


def from_pretrained_checked(model_class, location: str | os.PathLike, argument: str, **kwargs):
    """``model_class.from_pretrained(location, **kwargs)``, refusing what transformers only logs.

    Args:
        model_class: a transformers class with ``from_pretrained`` (``AutoModelForCausalLM``, ``AutoModel``,
            ``MarianMTModel``, ...).
        location: a hub id or a local folder written by ``save_pretrained``.
        argument: the name of the caller's argument that gave ``location``; errors start with it.
        **kwargs: passed on (``dtype``, ``add_pooling_layer``, ...).

    Returns:
        The model (in evaluation mode, as ``from_pretrained`` returns it).

    Raises:
        ValueError: the checkpoint lacks some of the backbone's weights, or holds them in another shape
            (a new head or pooler is allowed); a local file is corrupt or truncated (the file is named).
        OSError: a local folder's files cannot be read (named), or a hub id cannot be loaded.
    """
    from .models import _check_backbone_loaded, _naming_local_files

    location = os.fspath(location)
    try:
        with _naming_local_files(location, "model", _WEIGHT_FILES):
            model, info = model_class.from_pretrained(location, output_loading_info=True, **kwargs)
        _check_backbone_loaded(model, info, location)
    except (ValueError, OSError) as err:
        message = str(err)
        if argument == "name" or not message.startswith("name: "):
            raise
        raise type(err)(f"{argument}: {message[len('name: '):]}") from (err.__cause__ or err)
    return model
