"""data_flow with worker processes in scripts that have no ``if __name__ == "__main__":``.

Each script runs in a fresh interpreter (the venv's python), as a user would run it:
the workers must not run the script again (its top level appends a line to a marker
file), and the batches must be right.
"""

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = """
import json
import os
import sys
{extra_import}
import numpy as np

from napari_datatools.io import data_flow

with open(sys.argv[1], "a") as marker:  # top-level work: must run once
    marker.write(f"{{os.getpid()}}\\n")

OFFSET = 100.0


{preprocessor}


X = np.arange(40, dtype=np.float32).reshape(20, 2)
flow = data_flow([X, np.arange(20)], 4, nb_proc_workers=2, sample_random=True, rng=1,
                 preprocessor={name})
batches = []
for epoch in range(2):  # each epoch starts its workers again
    for x, y, in_worker in flow:
        batches.append({{"x": x.tolist(), "y": y.tolist(), "worker": in_worker.tolist()}})
print(json.dumps(batches))
"""

FUNCTION = """
def shift(batch):
    x, y = batch
    return x + OFFSET, y, np.array([os.getpid() != PARENT, "h5py" in sys.modules])


PARENT = os.getpid()
"""

CLASS = """
class Shift:
    def __init__(self):
        self.parent = os.getpid()

    def __call__(self, batch):
        x, y = batch
        return x + OFFSET, y, np.array([os.getpid() != self.parent, "h5py" in sys.modules])
"""


@pytest.mark.parametrize("extra_import, preprocessor, name", [
    ("", FUNCTION, "shift"),  # nothing fork-unsafe imported: workers are forks
    ("import h5py", FUNCTION, "shift"),  # h5py imported: workers come from the fork server
    ("import h5py", CLASS, "Shift()"),
], ids=["function, fork", "function, fork server", "class instance, fork server"])
def test_script_without_main_guard_runs_its_top_level_once(tmp_path, extra_import,
                                                           preprocessor, name):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT).format(
        extra_import=extra_import, preprocessor=preprocessor, name=name))
    marker = tmp_path / "marker.txt"
    done = subprocess.run([sys.executable, str(script), str(marker)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(marker.read_text().splitlines()) == 1  # not re-run by any worker
    batches = json.loads(done.stdout)
    assert len(batches) == 10
    for epoch in (batches[:5], batches[5:]):
        assert sorted(v for b in epoch for v in b["y"]) == list(range(20))
    for b in batches:
        assert b["x"] == [[2 * v + 100.0, 2 * v + 101.0] for v in b["y"]]
        assert b["worker"] == [True, False]  # preprocessed in a worker without h5py
