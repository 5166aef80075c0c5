"""Configuration: command-line flags over environment variables over the YAML file.

The project's ``iotests.yaml`` has a ``runner:`` section (read here) and a
``build:`` section (read by :mod:`iotests.build.config`). Values are checked
where they enter; an error names the file, the key and what was expected.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from iotests.errors import ConfigError
from iotests.runner.settings import AIOMODES, CACHEMODES, FORMATS, PROTOCOLS

CONFIG_NAME = "iotests.yaml"
#: The file's top-level sections: ``runner:`` (read here) and ``build:`` (iotests.build.config).
SECTIONS = ("runner", "build")


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("a whole number of at least 1")
    return value


def _positive_number(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError("a positive, finite number of seconds")
    return float(value)


def jobs_argument(text: str) -> int:
    """argparse type for a job count: 0 and negatives are refused, never taken as "unset"."""
    try:
        return _positive_int(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of at least 1, not {text!r}"
        ) from None


def seconds_argument(text: str) -> float:
    """argparse type for a timeout: nan, inf, 0 and negatives are refused."""
    try:
        return _positive_number(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive, finite number of seconds, not {text!r}"
        ) from None


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a string")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return str(value)

    return check


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {
        "1",
        "yes",
        "true",
        "on",
        "0",
        "no",
        "false",
        "off",
    }:
        return value.lower() in {"1", "yes", "true", "on"}
    raise ValueError("true or false")


#: Keys of the ``runner:`` section, with their checks and environment variables.
RUNNER_KEYS: dict[str, tuple[Callable[[Any], Any], str | None]] = {
    "format": (_choice(FORMATS), "IOTESTS_FORMAT"),
    "protocol": (_choice(PROTOCOLS), "IOTESTS_PROTOCOL"),
    "jobs": (_positive_int, "IOTESTS_JOBS"),
    "timeout": (_positive_number, "IOTESTS_TIMEOUT"),
    "results_dir": (_string, "IOTESTS_RESULTS_DIR"),
    "cases_dir": (_string, "IOTESTS_CASES_DIR"),
    "expected_dir": (_string, "IOTESTS_EXPECTED_DIR"),
    "cachemode": (_choice(CACHEMODES), None),
    "aiomode": (_choice(AIOMODES), None),
    "imgopts": (_string, None),
    "regenerate": (_boolean, "IOTESTS_REGENERATE"),
    "build_dir": (_string, "IOTESTS_BUILD_DIR"),
    "bytecode_cache": (_boolean, "IOTESTS_BYTECODE_CACHE"),
}
PATH_KEYS = ("results_dir", "cases_dir", "expected_dir", "build_dir")


@dataclass(frozen=True)
class RunnerConfig:
    """The ``runner:`` values after file and environment, paths made absolute."""

    values: Mapping[str, Any]
    source: str

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def find_config(explicit: str | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """The config file to use: --config, then $IOTESTS_CONFIG, then ./iotests.yaml."""
    chosen = explicit or environ.get("IOTESTS_CONFIG")
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise ConfigError(str(path), "(file)", "config file not found")
        return path
    default = cwd / CONFIG_NAME
    return default if default.is_file() else None


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse *path* as the toolkit's YAML config: a mapping of known sections."""
    data = read_yaml_document(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(top level)", "expected a mapping of sections")
    for key in data:
        if key not in SECTIONS:
            raise ConfigError(
                str(path), str(key), "unknown section (known: " + ", ".join(SECTIONS) + ")"
            )
    return data


def read_yaml_document(path: Path) -> Any:
    """Parse *path* as YAML, turning every problem into a ConfigError naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), "(file)", f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(path), f"byte {exc.start}", "not UTF-8 text (is this the right file?)"
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ConfigError(
            str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from exc
    return data


def load_runner_config(path: Path | None, environ: Mapping[str, str]) -> RunnerConfig:
    """Merge the file's ``runner:`` section with IOTESTS_* variables (which win)."""
    values: dict[str, Any] = {}
    base = Path.cwd()
    source = "defaults"
    if path is not None:
        base = path.resolve().parent
        source = str(path)
        section = read_yaml(path).get("runner", {})
        if not isinstance(section, dict):
            raise ConfigError(source, "runner", "expected a mapping")
        for key, raw in section.items():
            if key not in RUNNER_KEYS:
                raise ConfigError(
                    source, f"runner.{key}", "unknown key (known: " + ", ".join(RUNNER_KEYS) + ")"
                )
            check, _ = RUNNER_KEYS[key]
            try:
                values[key] = check(raw)
            except ValueError as exc:
                raise ConfigError(source, f"runner.{key}", f"expected {exc}, got {raw!r}") from None
        for key in PATH_KEYS:
            if key in values:
                values[key] = str((base / values[key]).resolve())
    for key, (check, variable) in RUNNER_KEYS.items():
        if variable is None or variable not in environ:
            continue
        raw_env: Any = environ[variable]
        if check in (_positive_int, _positive_number):
            try:
                raw_env = float(raw_env) if check is _positive_number else int(raw_env)
            except ValueError:
                raise ConfigError(
                    f"${variable}", key, f"expected a number, got {environ[variable]!r}"
                ) from None
        try:
            values[key] = check(raw_env)
        except ValueError as exc:
            raise ConfigError(
                f"${variable}", key, f"expected {exc}, got {environ[variable]!r}"
            ) from None
        if key in PATH_KEYS:
            values[key] = str(Path(values[key]).resolve())
    values.setdefault("cases_dir", str(base / "cases"))
    values.setdefault("expected_dir", str(base / "expected"))
    values.setdefault("results_dir", str(base / "results"))
    return RunnerConfig(values, source)


def environ() -> Mapping[str, str]:
    return os.environ
