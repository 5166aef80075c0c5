"""The ``build:`` section of iotests.yaml, read and validated where it enters.

Which file: an explicit path (``--config``), else ``$IOTESTS_CONFIG``, else
``./iotests.yaml`` when present; its ``build:`` section is laid over the
packaged defaults (defaults.yaml beside this module); ``$IOTESTS_CACHE_DIR``
overrides ``cache_dir``, whose default is :func:`default_cache_dir`. Every problem raises
:class:`~iotests.errors.ConfigError` naming the file, the key and what was
expected, so a typo costs one glance, not a debugging session.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from iotests.build.profiles import Profile, VersionedOptions, parse_version
from iotests.config import find_config, read_yaml
from iotests.errors import ConfigError

CONFIG_ENV = "IOTESTS_CONFIG"
#: Overrides build.cache_dir (environment over config file, as everywhere).
CACHE_ENV = "IOTESTS_CACHE_DIR"
PACKAGED = "iotests/build/defaults.yaml (packaged)"

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_FPR_RE = re.compile(r"[0-9A-F]{40}")
_TOP_KEYS = {
    "default_source",
    "download_url",
    "sha256",
    "gpg_fingerprints",
    "gpg_fingerprint",
    "cache_dir",
    "debian_mirror",
    "python_index",
    "profiles",
}
_PROFILE_KEYS = {"description", "configure", "versioned", "binaries", "needs"}


@dataclass(frozen=True)
class BuildConfig:
    """Validated build settings; ``source`` names the file they came from."""

    source: str
    default_source: str
    download_url: str
    sha256: Mapping[str, str]
    gpg_fingerprints: tuple[str, ...]
    cache_dir: Path
    profiles: Mapping[str, Profile]
    #: The archive ``--source debian:SUITE`` reads its source index from.
    debian_mirror: str = "http://deb.debian.org/debian"
    #: The package index (PEP 691 JSON simple API) wheels configure needs come from.
    python_index: str = "https://pypi.org/simple"

    def profile(self, name: str) -> Profile:
        """The profile called *name*.

        :raises ConfigError: naming the profiles that do exist.
        """
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise ConfigError(
                self.source, f"build.profiles.{name}", f"no such profile (known: {known})"
            ) from None


def load_build_config(
    explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> BuildConfig:
    """Read and validate the build settings (see the module docstring for which file).

    The file is found and parsed by :mod:`iotests.config`, as the runner's
    section is, so both halves agree on which file is "the config".

    :raises ConfigError: for a missing or unreadable file, or any invalid key.
    """
    environ = os.environ if env is None else env
    packaged = resources.files("iotests.build").joinpath("defaults.yaml").read_text()
    merged: dict[str, Any] = dict(_section(yaml.safe_load(packaged), PACKAGED))
    merged.setdefault("cache_dir", str(default_cache_dir()))
    source = PACKAGED
    path = find_config(str(explicit) if explicit is not None else None, environ, Path.cwd())
    if path is not None:
        source = str(path)
        user = _section(read_yaml(path), source)
        profiles = dict(merged["profiles"])
        user_profiles = user.get("profiles", {})
        if not isinstance(user_profiles, dict):
            raise ConfigError(source, "build.profiles", "expected a mapping of name -> profile")
        profiles.update(user_profiles)
        merged.update(user)
        merged["profiles"] = profiles
    if environ.get(CACHE_ENV):
        merged["cache_dir"] = environ[CACHE_ENV]
    return _validate(merged, source)


def default_cache_dir() -> Path:
    """Where downloads, sources, builds and probe answers go unless configured.

    The user's cache directory by the platform's convention, through
    platformdirs: ``$XDG_CACHE_HOME/iotests`` when that is set (to an absolute
    path), else ``~/.cache/iotests`` on Linux. Read from the process
    environment, as every program reads XDG variables.
    """
    import platformdirs

    return Path(platformdirs.user_cache_dir("iotests", appauthor=False))


def _reject_unknown(
    mapping: Mapping[str, Any], allowed: set[str], source: str, prefix: str
) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise ConfigError(
            source,
            f"{prefix}.{unknown[0]}",
            f"unknown key (expected one of: {', '.join(sorted(allowed))})",
        )


def _section(document: Any, source: str) -> Mapping[str, Any]:
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(source, "(top level)", "expected a mapping with sections such as build:")
    section = document.get("build", {})
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(source, "build", "expected a mapping")
    _reject_unknown(section, _TOP_KEYS, source, "build")
    return section


def _string(value: Any, source: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(source, key, f"expected a non-empty string, got {value!r}")
    return value


def _strings(value: Any, source: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(source, key, f"expected a list of strings, got {value!r}")
    return tuple(value)


def _version(value: Any, source: str, key: str) -> tuple[int, ...]:
    try:
        return parse_version(str(value))
    except ValueError:
        raise ConfigError(source, key, f'expected a version such as "9.2", got {value!r}') from None


def _validate(raw: Mapping[str, Any], source: str) -> BuildConfig:
    from iotests.build.deps import KNOWN_NEEDS

    url = _string(raw.get("download_url"), source, "build.download_url")
    if not url.startswith(("http://", "https://", "file://")):
        raise ConfigError(source, "build.download_url", f"expected an http(s):// URL, got {url!r}")
    sums = raw.get("sha256") or {}
    if not isinstance(sums, dict):
        raise ConfigError(source, "build.sha256", "expected a mapping of version -> sha256 hex")
    checked_sums: dict[str, str] = {}
    for version, digest in sums.items():
        key = f"build.sha256.{version}"
        if not isinstance(digest, str) or not _SHA256_RE.fullmatch(digest.lower()):
            raise ConfigError(source, key, f"expected 64 hex digits in quotes, got {digest!r}")
        checked_sums[str(version)] = digest.lower()
    fprs_raw = raw.get("gpg_fingerprints", [])
    if "gpg_fingerprint" in raw:
        fprs_raw = [raw["gpg_fingerprint"]]
    if not isinstance(fprs_raw, list):
        raise ConfigError(source, "build.gpg_fingerprints", "expected a list of fingerprints")
    fprs: list[str] = []
    for fpr in fprs_raw:
        clean = str(fpr).replace(" ", "").upper()
        if not _FPR_RE.fullmatch(clean):
            raise ConfigError(
                source,
                "build.gpg_fingerprints",
                f"expected 40 hex digits per fingerprint, got {fpr!r}",
            )
        fprs.append(clean)
    cache_dir = Path(os.path.expanduser(_string(raw.get("cache_dir"), source, "build.cache_dir")))
    mirror = _string(raw.get("debian_mirror"), source, "build.debian_mirror").rstrip("/")
    if not mirror.startswith(("http://", "https://", "file:/")):
        raise ConfigError(
            source, "build.debian_mirror", f"expected an http(s):// or file: URL, got {mirror!r}"
        )
    index = _string(raw.get("python_index"), source, "build.python_index").rstrip("/")
    if not index.startswith(("http://", "https://")):
        raise ConfigError(
            source, "build.python_index", f"expected an http(s):// URL, got {index!r}"
        )
    profiles_raw = raw.get("profiles")
    if not isinstance(profiles_raw, dict) or not profiles_raw:
        raise ConfigError(source, "build.profiles", "expected a mapping of name -> profile")
    profiles = {
        str(name): _profile(str(name), body, source, KNOWN_NEEDS)
        for name, body in profiles_raw.items()
    }
    return BuildConfig(
        source=source,
        default_source=_string(raw.get("default_source"), source, "build.default_source"),
        download_url=url if url.endswith("/") else url + "/",
        sha256=checked_sums,
        gpg_fingerprints=tuple(fprs),
        cache_dir=cache_dir,
        profiles=profiles,
        debian_mirror=mirror,
        python_index=index,
    )


def _profile(name: str, body: Any, source: str, known_needs: frozenset[str]) -> Profile:
    prefix = f"build.profiles.{name}"
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(source, prefix, "profile names use letters, digits, '-' and '_' only")
    if not isinstance(body, dict):
        raise ConfigError(source, prefix, "expected a mapping with configure: and binaries:")
    _reject_unknown(body, _PROFILE_KEYS, source, prefix)
    configure = _strings(body.get("configure", []), source, f"{prefix}.configure")
    binaries = _strings(body.get("binaries"), source, f"{prefix}.binaries")
    if not binaries:
        raise ConfigError(source, f"{prefix}.binaries", "expected at least one binary")
    needs = _strings(body.get("needs", []), source, f"{prefix}.needs")
    for need in needs:
        if need not in known_needs:
            raise ConfigError(
                source,
                f"{prefix}.needs",
                f"unknown dependency {need!r} (known: {', '.join(sorted(known_needs))})",
            )
    versioned_raw = body.get("versioned", [])
    if not isinstance(versioned_raw, list):
        raise ConfigError(
            source, f"{prefix}.versioned", "expected a list of {since/before, configure}"
        )
    versioned: list[VersionedOptions] = []
    for index, entry in enumerate(versioned_raw):
        key = f"{prefix}.versioned[{index}]"
        if (
            not isinstance(entry, dict)
            or set(entry) - {"since", "before", "configure"}
            or ("since" not in entry and "before" not in entry)
        ):
            raise ConfigError(
                source, key, "expected since: and/or before: a version, and configure:"
            )
        versioned.append(
            VersionedOptions(
                configure=_strings(entry.get("configure"), source, f"{key}.configure"),
                since=_version(entry["since"], source, f"{key}.since")
                if "since" in entry
                else None,
                before=_version(entry["before"], source, f"{key}.before")
                if "before" in entry
                else None,
            )
        )
    description = body.get("description", "")
    return Profile(
        name=name,
        configure=configure,
        binaries=binaries,
        description=str(description),
        versioned=tuple(versioned),
        needs=needs,
        definition={
            "configure": list(configure),
            "binaries": list(binaries),
            "versioned": versioned_raw,
        },
    )
