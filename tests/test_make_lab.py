"""`make lab`: installs the lab extra once (a second call goes straight to JupyterLab), passes
--allow-root when run as root (containers, WSL) and opens the workshop simulator (JupyterLab
then serves notebooks/, the simulator's folder). Checked with `make -n` on a stand-in venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _dry_run(venv: Path) -> str:
    return subprocess.run(["make", "-n", "lab", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=60).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_lab_installs_once_and_allows_root(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    first = _dry_run(venv)
    assert 'pip install --quiet -e ".[lab]"' in first  # nothing installed yet
    checksum = subprocess.run(["cksum", "pyproject.toml"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.split()[0]
    now = time.time()
    (venv / f".installed-{checksum}").touch()
    os.utime(venv / f".installed-{checksum}", (now - 10, now - 10))  # newer than pyproject, older than lab
    (venv / f".lab-{checksum}").touch()
    second = _dry_run(venv)
    assert "pip install" not in second and "jupyter lab" in second
    assert ("--allow-root" in second) == (os.geteuid() == 0)
    launch = next(line for line in second.splitlines() if "jupyter lab" in line)
    assert launch.split("#")[0].split()[-1] == "notebooks/workshop_simulator.ipynb"
    assert (ROOT / "notebooks" / "workshop_simulator.ipynb").is_file()
