"""Loader start-up: time to the first batch of ``data_flow(nb_proc_workers=2)`` vs torch.

Run: python benchmarks/bench_loader_startup.py [runs]

The work (issue #20, target 3): a training script whose top level imports torch (and
numpy), makes 2,048 float32 elements of shape (1, 64, 64) in RAM and defines a light
preprocessor ``x * 2`` -- with no ``if __name__ == "__main__":`` guard. Each run is a
fresh interpreter (the venv's python) running such a script; the script times, with
``time.perf_counter``, from creating the loader to holding its first batch of 32 in
random order, then does the same for a second epoch (a new iteration over the same
loader). The baseline, run the same way in the same benchmark, alternating with ours,
is ``torch.utils.data.DataLoader(num_workers=2, batch_size=32, shuffle=True)`` over a
map-style Dataset. Target: median first batch of data_flow <= 2 x torch's.

For context, a third script also imports h5py at its top level: data_flow's workers
then come from its fork server instead of being forks of the script (h5py is not
fork-safe), and the first batch includes starting that server. A fourth does the same
but, like a training script that builds its model after its loader, waits 1 s between
making the loader and iterating (timed from the iteration): the server, started when
the loader is made, is ready by then.

Without torch (``pip install torch``) the baseline is a plain ``multiprocessing``
fork pool (``Pool(2).imap`` over batches), and the script imports numpy only.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

COMMON = """
import json
import sys
import time

{imports}
import numpy as np

from napari_datatools.io import data_flow

X = np.random.default_rng(0).random((2048, 1, 64, 64), dtype=np.float32)
Y = np.arange(len(X))


def double(batch):
    x, y = batch
    return x * 2, y


{loader}

times = []
t0 = time.perf_counter()
loader = make_loader()
if len(sys.argv) > 1:  # the script goes on with other work before its first epoch
    time.sleep(float(sys.argv[1]))
    t0 = time.perf_counter()
for epoch in range(2):
    if epoch:
        t0 = time.perf_counter()
    it = iter(loader)
    first = next(it)
    times.append(time.perf_counter() - t0)
    del first, it
print(json.dumps(times))
"""

OURS = """
def make_loader():
    return data_flow([X, Y], 32, nb_proc_workers=2, sample_random=True, preprocessor=double)
"""

TORCH = """
class Elements(torch.utils.data.Dataset):
    def __len__(self):
        return len(X)

    def __getitem__(self, i):
        return X[i] * 2, Y[i]


def make_loader():
    return torch.utils.data.DataLoader(Elements(), batch_size=32, shuffle=True, num_workers=2)
"""

POOL = """
import multiprocessing


def batches():
    order = np.random.default_rng().permutation(len(X))
    return [(X[order[b:b + 32]], Y[order[b:b + 32]]) for b in range(0, len(X), 32)]


class Loader:
    def __iter__(self):
        self.pool = multiprocessing.get_context("fork").Pool(2)
        return self.pool.imap(double, batches())


def make_loader():
    return Loader()
"""


def _have_torch() -> bool:
    done = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return done.returncode == 0


def _script(directory: Path, name: str, imports: str, loader: str) -> Path:
    path = directory / f"{name}.py"
    path.write_text(COMMON.format(imports=imports, loader=loader))
    return path


def _run(script: Path, *args: str) -> list[float]:
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          timeout=600, cwd=script.parent)
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _line(label: str, seconds: list[float]) -> str:
    ms = [1000 * s for s in seconds]
    return (f"  {label:<44} min {min(ms):7.1f}  median {statistics.median(ms):7.1f}  "
            f"max {max(ms):7.1f} ms")


def main(runs: int = 7) -> None:
    torch = _have_torch()
    base_imports = "import torch" if torch else ""
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as tmp:
        directory = Path(tmp)
        scripts = {
            "ours": _script(directory, "ours", base_imports, OURS),
            "baseline": _script(directory, "baseline", base_imports,
                                TORCH if torch else POOL),
            "ours, h5py imported": _script(directory, "ours_h5py",
                                           base_imports + "\nimport h5py", OURS),
        }
        runs_of = {name: (script,) for name, script in scripts.items()}
        runs_of["ours, h5py imported, 1 s later"] = (scripts["ours, h5py imported"], "1.0")
        for script in scripts.values():  # warm the file cache once
            _run(script)
        results: dict[str, list[list[float]]] = {name: [] for name in runs_of}
        for _ in range(runs):
            for name, run in runs_of.items():  # alternate: drift hits all alike
                results[name].append(_run(*run))
    baseline = ("torch DataLoader(num_workers=2)" if torch
                else "multiprocessing fork Pool(2) (no torch installed)")
    print(f"loader start-up: scripts importing {'torch and ' if torch else ''}numpy at top "
          f"level, no main guard; 2048 x (1, 64, 64) float32, batches of 32; {runs} runs "
          "each, time from making the loader to its first batch")
    labels = {"ours": "data_flow(nb_proc_workers=2)", "baseline": baseline,
              "ours, h5py imported": "data_flow, h5py imported",
              "ours, h5py imported, 1 s later": "data_flow, h5py imported, iterated 1 s later"}
    for epoch, what in ((0, "first epoch"), (1, "second epoch (same loader, new iteration)")):
        print(f" {what}:")
        for name in results:
            print(_line(labels[name], [r[epoch] for r in results[name]]))
    ours = statistics.median(r[0] for r in results["ours"])
    base = statistics.median(r[0] for r in results["baseline"])
    served = statistics.median(r[0] for r in results["ours, h5py imported"])
    print(f" first batch, median ratio data_flow / baseline: {ours / base:.2f} x "
          "(target <= 2)")
    later = statistics.median(r[0] for r in results["ours, h5py imported, 1 s later"])
    print(f" first batch, median ratio data_flow with h5py imported / baseline: "
          f"{served / base:.2f} x (context); iterated 1 s after making it: "
          f"{later / base:.2f} x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
