"""Hostile input: every reader (PLY binary and ASCII, .splat, cameras.json) and the Config refuse bad input with their own
error naming the file and the line or record, and return only finite, checked data otherwise (property-based)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.inputs import InputError
from engines.splatting import (
    Camera,
    Config,
    SceneFileError,
    look_at,
    read_cameras_json,
    read_ply,
    read_splat,
    stream,
    write_cameras_json,
    write_ply,
    write_splat,
)
from engines.splatting.formats import COORD_LIMIT, LOG_SCALE_LIMIT, MAX_SPLATS, QUAT_NORM, SH_LIMIT
from engines.splatting.scene import Scene

ROOT = Path(__file__).resolve().parents[3]
NAMES = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
         "rot_0", "rot_1", "rot_2", "rot_3"]
ROW = [0.5, -1.0, 2.0, 0, 0, 1, 0.1, 0.2, 0.3, 0.0, -2.0, -2.5, -3.0, 1.0, 0.1, 0.0, 0.0]


def _ply(path, rows, fmt="binary_little_endian", types=None, before="", before_body=b"", after=""):
    """A hand-built PLY: ``types`` maps a property to its PLY type (default float); ``before`` declares elements before vertex."""
    types = types or {}
    header = f"ply\nformat {fmt} 1.0\ncomment hand-built\n{before}element vertex {len(rows)}\n"
    header += "".join(f"property {types.get(n, 'float')} {n}\n" for n in NAMES) + after + "end_header\n"
    if fmt == "ascii":
        body = "".join(" ".join(str(v) for v in r) + "\n" for r in rows).encode()
    else:
        dt = np.dtype([(n, "<" + {"float": "f4", "double": "f8"}[types.get(n, "float")]) for n in NAMES])
        body = np.array([tuple(r) for r in rows], dtype=dt).tobytes()
    Path(path).write_bytes(header.encode() + before_body + body)
    return Path(path)


# ---- the cases the hostile user found ---------------------------------------------------------------------------------
def test_a_double_beyond_float32_is_refused_not_stored_as_infinity(tmp_path):
    p = _ply(tmp_path / "d.ply", [ROW, [1e300] + ROW[1:]], types={"x": "double"})
    with pytest.raises(SceneFileError, match=r"d\.ply: vertex 1: position inf is not finite"):
        read_ply(p)
    p = _ply(tmp_path / "a.ply", [ROW, ROW[:4] + ["1e39"] + ROW[5:]], fmt="ascii")
    with pytest.raises(SceneFileError, match=r"a\.ply:\d+: vertex 1: normal inf"):
        read_ply(p)
    p = _ply(tmp_path / "ok.ply", [ROW, [1e30] + ROW[1:]], types={"x": "double"})
    with pytest.raises(SceneFileError, match="beyond"):  # finite in float32, but its square is not
        read_ply(p)


@pytest.mark.parametrize("column, value, match", [(10, 100.0, "log-scale"), (13, 1e-20, "quaternion of norm"),
                                                   (13, 1e30, "rotation|quaternion"), (6, 1e9, "SH coefficient")])
def test_log_scales_beyond_exp_and_degenerate_quaternions_are_refused(tmp_path, column, value, match):
    row = list(ROW)
    row[column] = value
    if column == 13:
        row[14] = 0.0
    with pytest.raises(SceneFileError, match=match):
        read_ply(_ply(tmp_path / "s.ply", [ROW, row]))


@pytest.mark.parametrize("fmt", ["binary_little_endian", "ascii"])
def test_elements_declared_before_vertex_are_skipped_by_their_size(tmp_path, fmt):
    rows = [ROW, [v + 1 for v in ROW]]
    plain = read_ply(_ply(tmp_path / "plain.ply", rows, fmt=fmt))
    before = ("element camera 2\nproperty double px\nproperty uchar flag\n"
              "element face 2\nproperty list uchar int vertex_indices\nproperty float quality\n")
    if fmt == "ascii":
        body = b"1.5 3\n2.5 4\n3 0 1 1 0.5\n2 1 0 0.25\n"
    else:
        body = struct.pack("<dBdB", 1.5, 3, 2.5, 4) + struct.pack("<B3if", 3, 0, 1, 1, 0.5) + struct.pack("<B2if", 2, 1, 0, 0.25)
    s = read_ply(_ply(tmp_path / "faces.ply", rows, fmt=fmt, before=before, before_body=body,
                      after="element edge 1\nproperty int a\n"))
    for k in ("means", "sh", "opacity_logit", "log_scales", "quats", "normals"):
        assert np.array_equal(getattr(s, k), getattr(plain, k)), k


def test_a_bare_property_line_names_its_header_line(tmp_path):
    p = tmp_path / "bare.ply"
    p.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty\nend_header\n")
    with pytest.raises(SceneFileError, match=r"bare\.ply:4: expected 'property TYPE NAME'"):
        read_ply(p)
    p.write_bytes(b"ply\nformat ascii 1.0\nproperty float x\nend_header\n")
    with pytest.raises(SceneFileError, match=r"bare\.ply:3: a property before any element"):
        read_ply(p)


def test_zero_focal_lengths_and_non_rotations_are_refused(tmp_path):
    cam = Camera(look_at([1.0, -4.0, 2.0], [0, 0, 0]), 500.0, 510.0, 320.0, 240.0, 640, 480)
    items = json.loads(write_cameras_json([cam, cam], tmp_path / "c.json").read_text())
    for field, value, match in (("fx", 0, r"camera 1: fx: 0 is out of range"), ("width", True, "camera 1: width: expected a number"),
                                ("rotation", [[2, 0, 0], [0, 1, 0], [0, 0, 1]], "not a rotation"),
                                ("position", [0, 0, "1"], r"position\[2\]: expected a number"), ("height", 10.5, "whole number")):
        bad = [items[0], dict(items[1], **{field: value})]
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(SceneFileError, match=match):
            read_cameras_json(tmp_path / "bad.json")
    (tmp_path / "nan.json").write_text('[{"fx": NaN}]')
    with pytest.raises(SceneFileError, match="nan.json"):
        read_cameras_json(tmp_path / "nan.json")
    pose = ",".join(["1", "0", "0", "0", "0", "1", "0", "0", "0", "0", "1", "5", "0", "0"])
    with pytest.raises(ValueError, match="camera_pose: focal lengths"):
        Config(path="pose", camera_pose=pose)
    with pytest.raises(ValueError, match="camera_pose: the first three columns are not a rotation"):
        Config(path="pose", camera_pose="2,0,0,0,0,1,0,0,0,0,1,5")
    with pytest.raises(ValueError, match="camera_pose: a number is not finite"):
        Config(path="pose", camera_pose="nan,0,0,0,0,1,0,0,0,0,1,5")


def test_a_fifo_is_refused_by_every_reader_and_the_engine(tmp_path):
    fifo = tmp_path / "scene.ply"
    os.mkfifo(fifo)
    for reader in (read_ply, read_splat, read_cameras_json):
        with pytest.raises(SceneFileError, match="not a regular file"):
            reader(fifo)
    with pytest.raises(SceneFileError, match="not a regular file"):
        list(stream(Config(scene="file", scene_path=str(fifo)), "cpu"))
    out = subprocess.run([sys.executable, "-m", "engines", "run", "splatting", "--set", "scene=file", "--set", f"scene_path={fifo}",
                          "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith(f"error: {fifo}: not a regular file")


def test_the_readers_error_is_the_projects_input_error():
    assert issubclass(SceneFileError, InputError) and issubclass(SceneFileError, ValueError)


@pytest.mark.parametrize("changes, field", [
    (dict(width=4096, height=4096, frames=2000), "frames"), (dict(seed=2**70), "seed"), (dict(pair_budget=500_000_000), "pair_budget"),
    (dict(rc_capacity=50_000_000), "rc_capacity"), (dict(near=0.0), "near"), (dict(width=10**9), "width"),
    (dict(splat_scale=1e300), "splat_scale")])
def test_size_like_fields_are_bounded(changes, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        Config(**changes)


# ---- property-based: round trips hold, mutated files raise only SceneFileError or give finite, checked data ---------------
finite32 = st.floats(-1e4, 1e4, allow_nan=False, width=32)


@st.composite
def scenes(draw):
    n = draw(st.integers(1, 12))
    deg = draw(st.integers(0, 3))
    K = (deg + 1) ** 2

    def arr(shape, lo=-1e4, hi=1e4):
        return np.array(draw(st.lists(st.floats(lo, hi, allow_nan=False, width=32), min_size=int(np.prod(shape)),
                                      max_size=int(np.prod(shape))))).reshape(shape).astype(np.float32)

    quats = arr((n, 4), -10, 10)
    quats[:, 0] = np.where(np.linalg.norm(quats, axis=1) < 1e-3, 1.0, quats[:, 0])
    return Scene(arr((n, 3)), arr((n, K, 3), -100, 100), arr((n,), -50, 50), arr((n, 3), -20, 20), quats, normals=arr((n, 3), -1, 1),
                 name="h")


def _assert_checked(s: Scene) -> None:
    """What every reader promises about a scene it returns."""
    n = s.n
    assert 1 <= n <= MAX_SPLATS and s.means.shape == (n, 3) and s.quats.shape == (n, 4) and s.log_scales.shape == (n, 3)
    for a in (s.means, s.sh, s.opacity_logit, s.log_scales, s.quats):
        assert a.dtype == np.float32 and np.isfinite(a).all()
    assert np.abs(s.means).max() <= COORD_LIMIT and np.abs(s.sh).max() <= SH_LIMIT and np.abs(s.log_scales).max() <= LOG_SCALE_LIMIT
    qn = np.linalg.norm(s.quats.astype(np.float64), axis=1)
    assert (qn >= QUAT_NORM[0]).all() and (qn <= QUAT_NORM[1]).all()


@given(scenes())
def test_ply_round_trip_binary_and_ascii(tmp_path_factory, scene):
    d = tmp_path_factory.mktemp("rt")
    back = read_ply(write_ply(scene, d / "s.ply"))
    # the same scene as an ASCII PLY (each float32 written as the shortest decimal that reads back as it)
    K = scene.sh.shape[1]
    names = NAMES[:9] + [f"f_rest_{i}" for i in range(3 * (K - 1))] + NAMES[9:]
    cols = np.concatenate([scene.means, scene.normals, scene.sh[:, 0], scene.sh[:, 1:].transpose(0, 2, 1).reshape(scene.n, -1),
                           scene.opacity_logit[:, None], scene.log_scales, scene.quats], axis=1)
    text = f"ply\r\nformat ascii 1.0\r\nelement vertex {scene.n}\r\n" + "".join(f"property float {k}\r\n" for k in names)
    text += "end_header\r\n" + "".join(" ".join(repr(float(v)) for v in row) + "\r\n" for row in cols)
    (d / "a.ply").write_text(text)
    ascii_back = read_ply(d / "a.ply")
    for got in (back, ascii_back):
        _assert_checked(got)
        for k in ("means", "sh", "opacity_logit", "log_scales", "quats", "normals"):
            assert np.array_equal(getattr(got, k), getattr(scene, k)), k


@given(scenes())
def test_splat_round_trip(tmp_path_factory, scene):
    scene.log_scales = np.clip(scene.log_scales, -8, 8)
    back = read_splat(write_splat(scene, tmp_path_factory.mktemp("sp") / "s.splat", sort_by_importance=False))
    _assert_checked(back)
    assert np.array_equal(back.means, scene.means) and np.allclose(back.log_scales, scene.log_scales, atol=1e-5)


@given(st.lists(st.tuples(st.floats(-50, 50), st.floats(-50, 50), st.floats(-50, 50), st.floats(0, 6.28), st.floats(-1.4, 1.4),
                          st.floats(10, 5000), st.integers(1, 4096), st.integers(1, 4096)), min_size=1, max_size=4))
def test_cameras_json_round_trip(tmp_path_factory, specs):
    cams = []
    for x, y, z, az, el, f, w, h in specs:
        eye = np.array([x, y, z])
        cams.append(Camera(look_at(eye, eye + [np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)]), f, f, w / 2, h / 2, w, h))
    back = read_cameras_json(write_cameras_json(cams, tmp_path_factory.mktemp("cj") / "cameras.json"))
    for a, b in zip(cams, back):
        assert np.allclose(a.viewmat, b.viewmat, atol=1e-9) and (a.fx, a.width, a.height) == (b.fx, b.width, b.height)


HOSTILE_TOKENS = ["1e39", "nan", "-inf", "1e300", "abc", "0x10", "1e-45", "3.4e38", "-0", "9" * 400, "", "1,5"]
HEADER_LINES = ["property", "property float", "property list uchar", "property list float int x", "element vertex -1",
                "element vertex 99999999999999999999", "element vertex 1", "element face 3", "format ascii 1.0",
                "format binary_big_endian 1.0", "format foo 1.0", "end_header", "comment x", "property double x",
                "property uchar rot_0", "ply", "\xff", "element vertex x"]


def _valid_ply(fmt: str) -> bytes:
    rows = [ROW, [v * 0.5 for v in ROW], [v + 0.25 for v in ROW]]
    header = f"ply\nformat {fmt} 1.0\nelement vertex 3\n" + "".join(f"property float {n}\n" for n in NAMES) + "end_header\n"
    if fmt == "ascii":
        return (header + "".join(" ".join(str(v) for v in r) + "\n" for r in rows)).encode()
    return header.encode() + np.asarray(rows, dtype="<f4").tobytes()


def _read_only_checked(reader, path):
    try:
        got = reader(path)
    except SceneFileError as err:
        assert str(path) in str(err), str(err)  # every message names the file
        return
    if isinstance(got, Scene):
        _assert_checked(got)
    else:
        for c in got:
            assert np.isfinite(c.viewmat).all() and c.fx > 0 and c.fy > 0 and 1 <= c.width <= 16384


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("line"), st.integers(0, 40), st.integers(0, len(HEADER_LINES) - 1)),
    st.tuples(st.just("token"), st.integers(0, 10**4), st.integers(0, len(HOSTILE_TOKENS) - 1)),
)


def _mutate(data: bytes, muts) -> bytes:
    for kind, at, value in muts:
        if kind == "flip" and data:
            i = at % len(data)
            data = data[:i] + bytes([value]) + data[i + 1:]
        elif kind == "cut":
            data = data[: at % (len(data) + 1)]
        elif kind == "insert":
            i = at % (len(data) + 1)
            data = data[:i] + bytes([value]) + data[i:]
        elif kind == "line":
            lines = data.split(b"\n")
            i = at % len(lines)
            lines[i] = HEADER_LINES[value].encode("latin-1")
            data = b"\n".join(lines)
        elif kind == "token":
            parts = data.split(b" ")
            i = at % len(parts)
            parts[i] = HOSTILE_TOKENS[value].encode()
            data = b" ".join(parts)
    return data


@pytest.mark.parametrize("fmt", ["binary_little_endian", "ascii"])
@given(muts=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_ply_files_raise_only_scene_file_error_or_give_checked_data(tmp_path_factory, fmt, muts):
    p = tmp_path_factory.mktemp("mut") / "m.ply"
    p.write_bytes(_mutate(_valid_ply(fmt), muts))
    _read_only_checked(read_ply, p)


@given(muts=st.lists(mutation, min_size=1, max_size=4), values=st.lists(st.floats(width=32), min_size=6, max_size=6))
def test_mutated_splat_files_raise_only_scene_file_error_or_give_checked_data(tmp_path_factory, muts, values):
    rec = struct.pack("<3f3f4B4B", *values, 200, 100, 50, 255, 200, 128, 128, 128)
    good = struct.pack("<3f3f4B4B", 1, 2, 3, 0.1, 0.2, 0.3, 1, 2, 3, 4, 128, 128, 128, 128)
    p = tmp_path_factory.mktemp("mut") / "m.splat"
    p.write_bytes(_mutate(good + rec, muts))
    _read_only_checked(read_splat, p)


json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats() | st.text(max_size=5),
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                           max_leaves=12)


@given(field=st.sampled_from(["position", "rotation", "fx", "fy", "width", "height", "id"]), value=json_values,
       muts=st.lists(mutation, max_size=2))
def test_mutated_cameras_json_raises_only_scene_file_error_or_gives_checked_cameras(tmp_path_factory, field, value, muts):
    cam = Camera(look_at([1.0, -4.0, 2.0], [0, 0, 0]), 500.0, 510.0, 320.0, 240.0, 640, 480)
    d = tmp_path_factory.mktemp("cj")
    items = json.loads(write_cameras_json([cam], d / "c.json").read_text())
    items[0][field] = value
    text = json.dumps(items, allow_nan=True).encode()
    p = d / "cameras.json"
    p.write_bytes(_mutate(text, muts))
    _read_only_checked(read_cameras_json, p)


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_scene_file_error(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("rb")
    for reader, name, prefix in ((read_ply, "r.ply", b"ply\n"), (read_splat, "r.splat", b""), (read_cameras_json, "r.json", b"")):
        p = d / name
        p.write_bytes(prefix + data)
        _read_only_checked(reader, p)
