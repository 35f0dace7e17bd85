"""rlvr/hydra_app.py: sweep subdirectory names stay within the file-name limit."""
from __future__ import annotations

from rlvr.hydra_app import short_dirname


def test_long_override_lists_make_short_distinct_directory_names():
    short = "seed=0,reward=random"
    assert short_dirname(short) == short  # the usual case reads exactly as before
    a = ",".join(f"key{i}.sub=value{i}" for i in range(40)) + ",seed=1"
    b = a[:-1] + "2"
    assert len(a) > 255 and len(short_dirname(a)) <= 120 and len(short_dirname(b)) <= 120
    assert short_dirname(a) != short_dirname(b) and short_dirname(a).startswith("key0.sub=value0")
    assert short_dirname(a) == short_dirname(a)


def test_the_conf_files_name_sweep_jobs_through_the_resolver():
    from omegaconf import OmegaConf

    from rlvr.paths import CONF_DIR

    for name in ("config.yaml", "stage.yaml", "pipeline.yaml"):
        subdir = OmegaConf.load(CONF_DIR / name).hydra.sweep._get_node("subdir")._value()
        assert subdir == "${hydra.job.num}_${rlvr_dirname:${hydra.job.override_dirname}}", name
    overrides = ",".join(f"model.base.key{i}=value{i}" for i in range(30))
    node = OmegaConf.create({"job": {"num": 3, "override_dirname": overrides},
                             "subdir": "${job.num}_${rlvr_dirname:${job.override_dirname}}"})
    assert node.subdir == "3_" + short_dirname(overrides) and len(node.subdir) <= 122
