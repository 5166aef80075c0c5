"""Configuration precedence and errors that name the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.config import find_config, load_runner_config
from iotests.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "iotests.yaml"
    path.write_text(text)
    return path


def test_file_values_and_relative_paths(tmp_path: Path) -> None:
    path = write(tmp_path, "runner:\n  jobs: 3\n  timeout: 45\n  cases_dir: mycases\n")
    cfg = load_runner_config(path, {})
    assert cfg.get("jobs") == 3
    assert cfg.get("timeout") == 45.0
    assert cfg.get("cases_dir") == str(tmp_path / "mycases")
    assert cfg.get("results_dir") == str(tmp_path / "results")


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "runner:\n  jobs: 3\n  format: raw\n")
    cfg = load_runner_config(path, {"IOTESTS_JOBS": "7", "IOTESTS_FORMAT": "qcow2"})
    assert cfg.get("jobs") == 7
    assert cfg.get("format") == "qcow2"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("runner:\n  jobs: 0\n", "runner.jobs", "expected a whole number of at least 1, got 0"),
        ("runner:\n  jobs: many\n", "runner.jobs", "got 'many'"),
        ("runner:\n  format: qcow3\n", "runner.format", "expected one of raw, qcow2"),
        ("runner:\n  colour: red\n", "runner.colour", "unknown key"),
        ("runner: [1, 2]\n", "runner", "expected a mapping"),
        ("- a\n- b\n", "(top level)", "expected a mapping"),
        ("runner:\n  jobs: [\n", "line 3", "not valid YAML"),
        ("runner:\n  timeout: .nan\n", "runner.timeout", "positive, finite number"),
        ("runner:\n  timeout: .inf\n", "runner.timeout", "positive, finite number"),
        ("runner:\n  timeout: 0\n", "runner.timeout", "positive, finite number"),
        ("runer:\n  jobs: 2\n", "runer", "unknown section (known: runner, build)"),
    ],
)
def test_errors_name_file_key_and_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_runner_config(path, {})
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: ")
    assert problem in message


def test_a_file_that_is_not_utf8_is_named_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "iotests.yaml"
    path.write_bytes(b"runner:\n  imgopts: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"iotests.yaml: byte 19: not UTF-8 text"):
        load_runner_config(path, {})


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_environment_timeout_must_be_finite_and_positive(value: str) -> None:
    with pytest.raises(
        ConfigError, match=r"\$IOTESTS_TIMEOUT: timeout: expected a positive, finite"
    ):
        load_runner_config(None, {"IOTESTS_TIMEOUT": value})


def test_bad_environment_value() -> None:
    with pytest.raises(ConfigError, match=r"\$IOTESTS_JOBS: jobs: expected a number, got 'x'"):
        load_runner_config(None, {"IOTESTS_JOBS": "x"})


def test_find_config(tmp_path: Path) -> None:
    assert find_config(None, {}, tmp_path) is None
    path = write(tmp_path, "runner: {}\n")
    assert find_config(None, {}, tmp_path) == path
    with pytest.raises(ConfigError, match="config file not found"):
        find_config(str(tmp_path / "nope.yaml"), {}, tmp_path)
    assert find_config(None, {"IOTESTS_CONFIG": str(path)}, Path("/")) == path
