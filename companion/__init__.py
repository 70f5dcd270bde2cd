"""companion: the tested code behind *Pre-training and Fine-tuning in Practice*.

Modules are organised by concept, not by chapter; each public function's docstring names the
book section that teaches it and the paper it comes from.
"""

__version__ = "0.1.0"
