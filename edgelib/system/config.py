"""The runtime's config file: servers, their addresses and platforms, and the models they host.

One JSON file describes a whole deployment, so the same code runs on one machine (every server
on 127.0.0.1) and across real machines (each server's ``host`` its own address)::

    {
      "servers": {
        "edge-0": {"host": "127.0.0.1", "port": 0, "platform": "edge-server",
                   "load": ["tail"], "repository": ["tail", "spare"],
                   "max_message_bytes": 16777216, "max_concurrent_rpcs": 256}
      },
      "models": {
        "tail": {"kind": "branchy_slice", "weights": "w.pt", "width": 64, "exit": 3,
                 "start": 5, "max_queue": 64},
        "spare": {"kind": "echo", "features": 16}
      }
    }

``host`` defaults to 127.0.0.1 (binding elsewhere must be written down); ``port`` 0 picks a free
port. ``load`` lists the models loaded at start; ``repository`` those RepositoryModelLoad may
load (default: every model of the file). A model's ``kind`` and arguments are those of
``edgelib.system.hosted``; ``alpha`` (the moving average's weight, default 0.2) configures its
queue. Relative weight paths (a model's ``weights``, or each of them when it maps input
resolutions to files) are relative to the config file. A server's optional ``dispatch``
(``{"ladder": [names, most accurate first], "bound_ms": T}``) serves requests for any ladder
model with the adaptive paper's latency-bounded dispatcher (``edgelib.serving``); without it,
each request runs on the model it names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .. import platforms, serving

QUEUE_KEYS = ("alpha",)


@dataclass(frozen=True)
class ServerConfig:
    name: str
    host: str = "127.0.0.1"
    port: int = 0
    platform: str = "edge-server"
    load: tuple[str, ...] = ()
    repository: tuple[str, ...] = ()
    max_message_bytes: int = 16 * 1024 * 1024
    max_concurrent_rpcs: int = 256
    models: dict = field(default_factory=dict)  # name -> the model's config entry
    dispatch: dict | None = None  # {"ladder": [most … least accurate], "bound_ms": T}

    def model_spec(self, name: str) -> tuple[dict, dict]:
        """(hosted-model arguments, queue arguments) of one model of the repository."""
        spec = dict(self.models[name])
        queue = {k: spec.pop(k) for k in QUEUE_KEYS if k in spec}
        return spec, queue


def _check_server(name: str, s: dict, models: dict, base: Path) -> ServerConfig:
    known = {"host", "port", "platform", "load", "repository", "max_message_bytes",
             "max_concurrent_rpcs", "dispatch"}
    problems = [f"unknown key {k!r}" for k in s if k not in known]
    port = s.get("port", 0)
    if not (isinstance(port, int) and 0 <= port <= 65535):
        problems.append(f"port must be an integer in 0…65535, got {port!r}")
    if s.get("platform", "edge-server") not in platforms.NAMES:
        problems.append(f"platform must be one of {platforms.NAMES}")
    repository = tuple(s.get("repository", models))
    load = tuple(s.get("load", ()))
    problems += [f"model {m!r} is not in the file's models" for m in set(repository) - set(models)]
    problems += [f"loads {m!r}, which is not in its repository" for m in set(load) - set(repository)]
    for key, lo, hi in (("max_message_bytes", 1024, 2 ** 31 - 1), ("max_concurrent_rpcs", 1, 100_000)):
        v = s.get(key, lo)
        if not (isinstance(v, int) and lo <= v <= hi):
            problems.append(f"{key} must be an integer in {lo}…{hi}, got {v!r}")
    problems += _check_dispatch(s.get("dispatch"), repository)
    if problems:
        raise ValueError(f"bad server {name!r} in the config: " + "; ".join(problems))
    entries = {}
    for m in repository:
        entry = dict(models[m])
        if isinstance(entry.get("weights"), dict):  # one file per input resolution
            entry["weights"] = {r: _relative_to(base, w) for r, w in entry["weights"].items()}
        elif "weights" in entry:
            entry["weights"] = _relative_to(base, entry["weights"])
        entries[m] = entry
    return ServerConfig(name=name, host=s.get("host", "127.0.0.1"), port=port,
                        platform=s.get("platform", "edge-server"), load=load,
                        repository=repository,
                        max_message_bytes=s.get("max_message_bytes", 16 * 1024 * 1024),
                        max_concurrent_rpcs=s.get("max_concurrent_rpcs", 256), models=entries,
                        dispatch=s.get("dispatch"))


def _relative_to(base: Path, weights) -> str:
    """A weights path, relative ones taken from the config file's folder."""
    if not isinstance(weights, str):
        raise ValueError(f"a weights path must be a string, got {weights!r}")
    return weights if Path(weights).is_absolute() else str(base / weights)


def _check_dispatch(d, repository: tuple[str, ...]) -> list[str]:
    """Problems of a server's ``dispatch`` entry (the adaptive paper's dispatcher)."""
    if d is None:
        return []
    if not isinstance(d, dict) or set(d) != {"ladder", "bound_ms"}:
        return ["dispatch must be an object with exactly 'ladder' and 'bound_ms'"]
    try:
        serving.latency_bounded(d["ladder"], d["bound_ms"])
    except (TypeError, ValueError) as err:
        return [f"dispatch: {err}"]
    return [f"dispatch: ladder model {m!r} is not in the repository"
            for m in d["ladder"] if m not in repository]


def load(path: str | Path) -> dict[str, ServerConfig]:
    """Every server of a config file, checked."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read the config {path}: {err}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("servers"), dict) or not isinstance(
            raw.get("models", {}), dict):
        raise ValueError(f"config {path}: need an object with 'servers' (and 'models') objects")
    models = raw.get("models", {})
    for name, m in models.items():
        if not isinstance(m, dict) or "kind" not in m:
            raise ValueError(f"config {path}: model {name!r} needs an object with a 'kind'")
    return {name: _check_server(name, s if isinstance(s, dict) else {"?": s}, models, path.parent)
            for name, s in raw["servers"].items()}


def write(path: str | Path, servers: dict, models: dict) -> Path:
    """Write a config file (for tests and notebooks that start servers themselves)."""
    path = Path(path)
    path.write_text(json.dumps({"servers": servers, "models": models}, indent=1))
    return path
