"""Jetson power modes: nvpmodel.conf / `nvpmodel -q` parsing, reading the running mode, switching.

The conf files in test/fixtures/nvpmodel/ follow NVIDIA's documented format for four boards (see
its README). nvpmodel itself cannot exist here (no Jetson), so reading and switching through the
tool use test/fake_nvpmodel.py on PATH; the mode tables the fake serves are written out below,
independently of the parser.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TEST_DIR
from fake_nvpmodel import FakeNvpmodel

from yolo_trt_ros.errors import PowerModeError
from yolo_trt_ros.jetson import (
    Nvpmodel,
    PowerMode,
    check_power_mode,
    parse_nvpmodel_conf,
    parse_nvpmodel_modes_listing,
    parse_nvpmodel_query,
    parse_nvpmodel_status,
)

FIXTURES = TEST_DIR / "fixtures" / "nvpmodel"
# The boards' mode tables (id -> name) and boot defaults, as the fixtures' README documents them.
BOARDS = {
    "orin_nano_8gb_super": ({0: "15W", 1: "25W", 2: "MAXN_SUPER", 3: "7W"}, 2),
    "orin_nx_16gb_super": ({0: "MAXN_SUPER", 1: "10W", 2: "15W", 3: "25W", 4: "40W"}, 2),
    "agx_orin_64gb": ({0: "MAXN", 1: "15W", 2: "30W", 3: "50W"}, 2),
    "agx_thor": ({0: "MAXN", 1: "120W", 2: "90W", 3: "70W", 4: "40W"}, 0),
}


def conf_text(board: str) -> str:
    return (FIXTURES / f"{board}.conf").read_text()


@pytest.fixture
def no_nvpmodel_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def fake_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, board: str, current: int, **options: bool
) -> FakeNvpmodel:
    fake = FakeNvpmodel(tmp_path / "fake_bin", BOARDS[board][0], current, **options)
    monkeypatch.setenv("PATH", fake.path_env)
    return fake


def board_with_conf(tmp_path: Path, board: str) -> Path:
    conf = tmp_path / "nvpmodel.conf"
    conf.write_text(conf_text(board))
    return conf


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_conf_gives_every_mode_and_the_default(board: str) -> None:
    modes, default = BOARDS[board]
    table = parse_nvpmodel_conf(conf_text(board))
    assert {mode.id: mode.name for mode in table.modes} == modes
    assert table.default_id == default
    assert table.names == tuple(modes[key] for key in sorted(modes))


def test_the_same_name_has_different_ids_on_different_boards() -> None:
    nano = parse_nvpmodel_conf(conf_text("orin_nano_8gb_super"))
    nx = parse_nvpmodel_conf(conf_text("orin_nx_16gb_super"))
    agx = parse_nvpmodel_conf(conf_text("agx_orin_64gb"))
    assert nano.by_name("MAXN_SUPER").id == 2 and nx.by_name("MAXN_SUPER").id == 0
    assert (nano.by_name("15W").id, nx.by_name("15W").id, agx.by_name("15W").id) == (0, 2, 1)
    assert nano.by_name("maxn_super") == PowerMode(2, "MAXN_SUPER")  # names are case-insensitive


def test_unknown_mode_names_list_the_boards_modes() -> None:
    nano = parse_nvpmodel_conf(conf_text("orin_nano_8gb_super"))
    with pytest.raises(
        PowerModeError, match=r"no power mode named '50W'.*15W, 25W, MAXN_SUPER, 7W"
    ):
        nano.by_name("50W")
    with pytest.raises(PowerModeError, match="id 9"):
        nano.by_id(9)


def test_commented_out_blocks_are_not_modes() -> None:
    text = conf_text("agx_orin_64gb") + "\n# < POWER_MODEL ID=7 NAME=OLD_CUSTOM >\n"
    assert parse_nvpmodel_conf(text).find("OLD_CUSTOM") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# only comments\n< PARAM TYPE=FILE NAME=CPU_ONLINE >\n", "no '< POWER_MODEL"),
        ("< POWER_MODEL ID=0 NAME=A >\n< POWER_MODEL ID=0 NAME=B >\n", "id twice"),
    ],
)
def test_broken_conf_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(PowerModeError, match=message):
        parse_nvpmodel_conf(text)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("NV Power Mode: MAXN\n0\n", PowerMode(0, "MAXN")),  # AGX Orin, AGX Thor
        ("NVPM WARN: fan mode is not set!\nNV Power Mode: 15W\n0\n", PowerMode(0, "15W")),  # Nano
        ("NV Power Mode: MAXN_SUPER\n0\n", PowerMode(0, "MAXN_SUPER")),  # Orin NX, JetPack 6.2
        ("NV Fan Mode:quiet\nNV Power Mode: MODE_15W_6CORE\n2\n", PowerMode(2, "MODE_15W_6CORE")),
        ("NV Power Mode: 120W  \n  1  \n", PowerMode(1, "120W")),  # Thor, stray spaces
    ],
)
def test_nvpmodel_query_output(output: str, expected: PowerMode) -> None:
    assert parse_nvpmodel_query(output) == expected


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("NVPM ERROR: Error opening /etc/nvpmodel.conf\n", "no 'NV Power Mode:' line"),
        ("NV Power Mode: 15W\n", "no mode id"),
    ],
)
def test_unexpected_query_output_is_a_clear_error(output: str, message: str) -> None:
    with pytest.raises(PowerModeError, match=message):
        parse_nvpmodel_query(output)


def test_verbose_listing_and_status_file() -> None:
    listing = (
        "NVPM VERB: Config file: /etc/nvpmodel.conf\n"
        "NVPM VERB: parsing done for /etc/nvpmodel.conf\n"
        "NVPM VERB: POWER_MODEL: ID=0 NAME=MAXN\n"
        "NVPM VERB: POWER_MODEL: ID=1 NAME=15W\n"
        "NVPM VERB: POWER_MODEL: ID=2 NAME=30W\n"
    )
    assert parse_nvpmodel_modes_listing(listing).names == ("MAXN", "15W", "30W")
    assert parse_nvpmodel_status("pmode:0002\n") == 2
    assert parse_nvpmodel_status("pmode:0001 fmode:quiet\n") == 1
    with pytest.raises(PowerModeError, match="pmode"):
        parse_nvpmodel_status("")


# --- reading the running mode ------------------------------------------------------------------


@pytest.mark.usefixtures("no_nvpmodel_on_path")
def test_a_machine_without_nvpmodel_is_not_a_jetson(tmp_path: Path) -> None:
    reading = Nvpmodel(conf_path=tmp_path / "absent.conf").read()
    assert not reading.is_jetson and reading.mode is None
    check = check_power_mode(Nvpmodel(conf_path=tmp_path / "absent.conf"), ["15W"])
    assert check.level == "OK" and check.mode_name == ""
    assert check.summary.startswith("not a Jetson") and "15W not checked" in check.summary


@pytest.mark.usefixtures("no_nvpmodel_on_path")
def test_container_without_the_tool_reads_the_status_and_conf_files(tmp_path: Path) -> None:
    conf, status = board_with_conf(tmp_path, "orin_nano_8gb_super"), tmp_path / "status"
    status.write_text("pmode:0001\n")
    reading = Nvpmodel(conf_path=conf, status_path=status).read()
    assert reading.is_jetson and reading.mode == PowerMode(1, "25W")
    assert str(status) in reading.source

    status.unlink()
    reading = Nvpmodel(conf_path=conf, status_path=status).read()
    assert reading.is_jetson and reading.mode is None and str(status) in reading.problem


def test_the_tool_is_asked_when_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_on_path(tmp_path, monkeypatch, "orin_nx_16gb_super", current=3)
    nvpmodel = Nvpmodel(conf_path=tmp_path / "absent.conf")  # modes via `nvpmodel -p --verbose`
    reading = nvpmodel.read()
    assert reading.is_jetson and reading.mode == PowerMode(3, "25W")
    assert reading.table is not None and reading.table.names[0] == "MAXN_SUPER"
    assert reading.source == "nvpmodel -q"


# --- switching by name -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("board", "name", "expected_id"),
    [("orin_nano_8gb_super", "7W", 3), ("orin_nx_16gb_super", "15w", 2), ("agx_thor", "MAXN", 0)],
)
def test_switching_looks_the_id_up_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, board: str, name: str, expected_id: int
) -> None:
    fake = fake_on_path(tmp_path, monkeypatch, board, current=1)
    nvpmodel = Nvpmodel(conf_path=board_with_conf(tmp_path, board))
    now = nvpmodel.switch(name)
    assert f"-m {expected_id}" in fake.calls and fake.current == expected_id
    assert now.id == expected_id and now.name.upper() == name.upper()


def test_a_refused_or_unfinished_switch_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = board_with_conf(tmp_path, "orin_nano_8gb_super")
    fake_on_path(tmp_path / "a", monkeypatch, "orin_nano_8gb_super", current=0, refuse=True)
    with pytest.raises(PowerModeError, match=r"Permission denied.*sudo nvpmodel -m 3"):
        Nvpmodel(conf_path=conf).switch("7W")
    fake_on_path(tmp_path / "b", monkeypatch, "orin_nano_8gb_super", current=0, needs_reboot=True)
    with pytest.raises(PowerModeError, match=r"did not switch to 7W.*reboot"):
        Nvpmodel(conf_path=conf).switch("7W")
    with pytest.raises(PowerModeError, match="no power mode named '30W'"):
        Nvpmodel(conf_path=conf).switch("30W")


# --- checking against a launch profile ---------------------------------------------------------


def test_check_agrees_warns_and_switches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_on_path(tmp_path, monkeypatch, "orin_nano_8gb_super", current=0)
    nvpmodel = Nvpmodel(conf_path=board_with_conf(tmp_path, "orin_nano_8gb_super"))

    same = check_power_mode(nvpmodel, ["15W"])
    assert (same.level, same.mode_name) == (
        "OK",
        "15W",
    ) and "as the launch profile expects" in same.summary
    assert check_power_mode(nvpmodel, []).level == "OK"

    other = check_power_mode(nvpmodel, ["7W"])
    assert (other.level, other.mode_name) == ("WARN", "15W")
    assert "running 15W but the launch profile is for 7W" in other.summary
    assert "sudo nvpmodel -m 3" in other.summary  # 7W's id on this board, found by name
    assert not any(call.startswith("-m") for call in fake.calls)  # no switching unless asked

    absent = check_power_mode(nvpmodel, ["50W"])
    assert absent.level == "WARN" and "does not have" in absent.summary

    switched = check_power_mode(nvpmodel, ["MAXN", "MAXN_SUPER"], switch=True)
    assert (switched.level, switched.mode_name) == ("OK", "MAXN_SUPER")
    assert "switched from 15W" in switched.summary and fake.current == 2


def test_check_reports_a_failed_switch_as_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_on_path(tmp_path, monkeypatch, "agx_orin_64gb", current=0, refuse=True)
    nvpmodel = Nvpmodel(conf_path=board_with_conf(tmp_path, "agx_orin_64gb"))
    check = check_power_mode(nvpmodel, ["30W"], switch=True)
    assert (check.level, check.mode_name) == ("WARN", "MAXN")
    assert "sudo nvpmodel -m 2" in check.summary
