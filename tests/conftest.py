import dataclasses

import pytest

import transinv.presets as presets


@pytest.fixture
def tiny_preset(monkeypatch):
    """The small preset with a few iterations and one test item per class: for plumbing tests."""
    tiny = dataclasses.replace(presets.SMALL, iter_scale=0.004, pretrain_iter_scale=0.004, eval_items=1)  # 20 its
    monkeypatch.setitem(presets.PRESETS, "small", tiny)
    return tiny


@pytest.fixture(scope="session")
def slurm_cluster():
    """A one-node Slurm cluster for the session (tests/slurm_cluster.py); skipped where it cannot come up."""
    from slurm_cluster import missing_binaries, start, stop
    missing = missing_binaries()
    if missing:
        pytest.skip(f"no Slurm here (missing {', '.join(missing)}; apt-get install slurm-wlm munge)")
    try:
        cluster = start()
    except RuntimeError as error:
        pytest.skip(str(error))
    yield cluster
    stop(cluster)


@pytest.fixture
def slurm(slurm_cluster, monkeypatch):
    """The test cluster for Slurm's clients and for submitit; small CPU-only jobs, to fit a laptop."""
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.conf))
    for name, value in {"GPUS": "0", "CPUS": "1", "MEM_GB": "2", "TIME_MIN": "10", "PARALLEL": "2"}.items():
        monkeypatch.setenv(f"TRANSINV_SLURM_{name}", value)
    return slurm_cluster
