"""bench/gpu_sync.py (the GPU measurement of the collective path's learner side) runs on the CPU over gloo at a
tiny shape: two FSDP2 trainer ranks, two receivers, every receiver's weights equal to rank 0's gather."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # spawns four torch processes
def test_gpu_sync_bench_runs_on_cpu_at_a_tiny_shape():
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "gpu_sync.py"), "--shape", "tiny", "--trainers", "2",
                           "--receivers", "2", "--syncs", "2", "--bucket-mb", "0.5", "--timeout-s", "120"],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    row = proc.stdout.strip().splitlines()[-1].split("|")
    cells = [c.strip() for c in row[1:-1]]
    assert cells[0] == "tiny" and cells[5:7] == ["2", "2"]
    assert int(cells[4]) >= 2  # several buckets at 0.5 MB
    assert all(float(c) >= 0 for c in cells[7:])
