"""Bad configurations are refused with a message that names the field."""

import subprocess
import sys

import pytest

from engines.manipulator_cbf import Config


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(m1=-1.0), "m1"),
        (dict(m2=0.0), "m2"),
        (dict(dt=0.0), "dt"),
        (dict(dt=-1e-3), "dt"),
        (dict(barrier="circle", obstacle_x=0.1, obstacle_y=0.0, obstacle_r=0.5), "obstacle_r"),  # contains the base
        (dict(barrier="circle", obstacle_x=5.0, obstacle_y=0.0, obstacle_r=0.5), "obstacle_x"),  # out of reach
        (dict(floor_y=0.2), "floor_y"),  # the base below the floor
        (dict(floor_y=-0.1), "floor_y"),  # the reference starts below the floor
        (dict(ref_ry=1.5), "ref_ry"),  # the reference leaves the workspace
        (dict(lc1=2.0), "lc1"),
        (dict(barrier="wall"), "barrier"),
        (dict(mc_ns_lo=3.0, mc_ns_hi=1.0), "mc_ns_hi"),
        (dict(k1=5.0, k1_max=3.0), "k1_max"),  # a jump would lower the gain below its nominal value
        (dict(joint_limits=True, q2_min=-1.6), "q2_min"),  # the start bends the elbow to -2.07 rad
    ],
)
def test_bad_config_is_refused(changes, field):
    with pytest.raises(ValueError) as err:
        Config(**changes)
    assert str(err.value).startswith(f"{field}:")
    assert "allowed" in str(err.value)


def test_cli_refuses_negative_mass_with_exit_code_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "engines", "run", "manipulator_cbf", "--set", "m1=-1", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "m1:" in proc.stderr


def test_defaults_and_describe():
    cfg = Config()
    assert cfg.steps == 6000
    assert cfg.mc_scenarios == 1024  # the Monte Carlo's size in a headless run
    names = {row["name"] for row in Config.describe()}
    assert {"m1", "dt", "barrier", "impulse_ns", "k1", "k2", "tau_max", "seed"} <= names
    assert all(row["doc"] for row in Config.describe())
