import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _no_profile_env(monkeypatch):
    """Tests decide the profile themselves; a developer's $COMPANION_PROFILE must not leak in."""
    monkeypatch.delenv("COMPANION_PROFILE", raising=False)
