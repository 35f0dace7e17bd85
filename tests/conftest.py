import os
from pathlib import Path

import pytest

from rlvr.paths import DATASETS_DIR

# The public eval sets ship with the repository (datasets/public/<name>/{test.jsonl,LICENSE}); tests
# read them there, never from outside the checkout.
PUBLIC_DATA = DATASETS_DIR / "public"

# Keep test runs from filling the user's cache and from fighting over threads.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder holding the public eval sets, one subfolder per set (gsm8k/test.jsonl, ...)."""
    if not PUBLIC_DATA.is_dir():
        pytest.fail(f"public eval sets not found at {PUBLIC_DATA} (datasets/public in the repository)")
    return PUBLIC_DATA
