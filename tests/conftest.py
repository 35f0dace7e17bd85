import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Keep test runs from filling the user's cache and from fighting over threads.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"public benchmark data not found at {SHARED_DATA} (expected ../shared/data beside the repo)")
    return SHARED_DATA
