"""The workflow on a SLURM cluster (issue 16): tests/cluster/slurm_cluster.sh starts a one-node cluster
(slurmctld, slurmd, munge) on this machine, the tiny fixture study runs through it with
profiles/slurm (snakemake-executor-plugin-slurm, one sbatch job per rule), and every output equals a
local run's byte for byte (logs and the report's run time aside).

Skipped, with the reason, where SLURM's daemons, the executor plugin or root are missing (the daemons
come from Debian's slurmctld, slurmd, slurm-client and munge packages; the script installs them with
apt-get when COCAPP_SLURM_INSTALL=1). The resource requests of profiles/slurm (sized for a national
study) are lowered to fit a small test machine.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "fixtures" / "tiny"
SCRIPT = Path(__file__).parent / "cluster" / "slurm_cluster.sh"
PROFILE = ROOT / "profiles" / "slurm"


def _missing() -> str | None:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    for tool in ("slurmctld", "slurmd", "sbatch", "squeue", "munged"):
        if shutil.which(tool, path=path) is None:
            return f"{tool} not installed (Debian packages slurmctld, slurmd, slurm-client, munge)"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm not installed"
    if os.geteuid() != 0:
        return "starting slurmd needs root"
    if Path("/etc/slurm/slurm.conf").is_file() and not Path("/etc/slurm/slurm.conf").is_symlink():
        return "/etc/slurm/slurm.conf is a configured cluster's: not starting a test cluster beside it"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_missing() is not None, reason=str(_missing()))]


def _small_resources() -> list[str]:
    """--set-resources for every rule of the profile, within a 2-core test machine."""
    rules = yaml.safe_load((PROFILE / "config.yaml").read_text("utf-8"))["set-resources"]
    return ["--set-resources", *(f"{r}:mem_mb=1000" for r in rules), *(f"{r}:runtime=20" for r in rules)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm")
    proc = subprocess.run(
        ["bash", str(SCRIPT), "start", str(folder)], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], capture_output=True, timeout=60)
        pytest.fail(f"the test cluster did not start:\n{proc.stdout}\n{proc.stderr}")
    try:
        yield folder / "slurm.conf"
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], capture_output=True, timeout=60)


def test_tiny_study_on_slurm_equals_a_local_run(
    cluster, tmp_path, run_snakemake, monkeypatch, comparable_outputs
):
    local, remote = tmp_path / "local", tmp_path / "slurm"
    shutil.copytree(TINY, local)
    shutil.copytree(TINY, remote)
    proc = run_snakemake(local, "--cores", "1")
    assert proc.returncode == 0, proc.stderr[-4000:]
    monkeypatch.setenv("SLURM_CONF", str(cluster))
    cmd = [
        "--workflow-profile",  # replaces profiles/default given by run_snakemake (the last one wins)
        str(PROFILE),
        "--slurm-no-account",  # the test cluster keeps no accounts
        "--slurm-status-command",  # and no accounting database (sacct): squeue, with MinJobAge=3600
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--jobs",
        "4",
        *_small_resources(),
    ]
    proc = run_snakemake(remote, *cmd, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    assert "SLURM jobid" in proc.stderr + proc.stdout  # the jobs went through sbatch
    a, b = comparable_outputs(local), comparable_outputs(remote)
    assert sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == []
