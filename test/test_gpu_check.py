"""benchmarks/gpu_check.sh runs end to end on a CPU (its logic; the GPU figures need a GPU)."""

import os
from pathlib import Path
import subprocess
import sys

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_measures_every_row_on_a_cpu(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path), PYTHON=sys.executable, OMP_NUM_THREADS='1')
    result = subprocess.run(
        [str(REPO_ROOT / 'benchmarks' / 'gpu_check.sh'), '--device', 'cpu', '--steps', '5',
         '--frames', '64', '--train-seconds', '0.2'],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    rows = [line for line in (tmp_path / 'gpu_check.md').read_text().splitlines()
            if line.startswith('| ') and not line.startswith('| measurement')]
    assert len(rows) == 4 + 1 + 6, rows  # online (2 k x 2 ways), offline, training (3 x 2)
    assert not [row for row in rows if 'failed' in row]
    assert any('step graphs, no capture (CPU)' in row for row in rows)
