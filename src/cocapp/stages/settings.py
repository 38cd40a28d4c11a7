"""The config values one stage reads: picked from the config by dotted keys, and guarded while it runs.

A stage declares the keys it reads (``"statistics.acceptable_alpha"``, ``"groups.*.instruments"``;
``*`` stands for every group). :func:`pick` takes exactly those values out of the validated config;
the workflow passes them to the rule as ``params`` (so Snakemake reruns a job when, and only when,
one of them changes) and to the stage on its command line. While the stage runs, :class:`Settings`
raises :class:`UndeclaredSetting` on any other key and records every key read, so a test can check
that declared and read keys agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

__all__ = ["Settings", "UndeclaredSetting", "expand_keys", "pick", "settings_json"]


class UndeclaredSetting(KeyError):
    """A stage read a config key it did not declare (a bug in the stage's declaration)."""

    def __str__(self) -> str:
        return f"config key {self.args[0]!r} is read by the stage but not declared in its settings"


_DOT = re.compile(r"\.(?![^{]*\})")  # a dot between key parts, not one inside {a.b}


def expand_keys(config: dict, keys: Iterable[str], group: str | None = None) -> list[tuple[str, ...]]:
    """Concrete key paths of dotted ``keys``: ``*`` after ``groups`` becomes each group (or ``group``);
    ``{a.b}`` becomes the value of the config key ``a.b`` (the key is left out when that is unset).

    >>> cfg = {"groups": {"x": {}, "y": {}}, "show": {"group": "y"}}
    >>> expand_keys(cfg, ["groups.*.label", "groups.{show.group}.label", "groups.{show.other}.label"])
    [('groups', 'x', 'label'), ('groups', 'y', 'label')]
    """
    paths: list[tuple[str, ...]] = []
    for key in keys:
        prefixes: list[tuple[str, ...]] = [()]
        for part in _DOT.split(key):
            if part == "*":
                node_groups = [group] if group is not None else list(config.get("groups", {}))
                prefixes = [p + (g,) for p in prefixes for g in node_groups]
            elif part.startswith("{") and part.endswith("}"):
                value = _node(config, part[1:-1].split("."))
                prefixes = [p + (value,) for p in prefixes] if isinstance(value, str) else []
            else:
                prefixes = [p + (part,) for p in prefixes]
        paths += [p for p in prefixes if p not in paths]
    return paths


def _node(config: dict, path: Iterable[str]):
    """The value at the key path ``path`` of ``config``, None when unset."""
    node = config
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def pick(config: dict, keys: Iterable[str], group: str | None = None) -> dict:
    """The nested sub-dict of ``config`` holding exactly ``keys`` (absent optional keys are left out).

    A key ending in ``*`` (``groups.*``) takes the names alone: a stage that only lists the groups.

    >>> pick({"a": {"b": 1, "c": 2}, "groups": {"x": {"k": 1, "j": 2}}}, ["a.b", "groups.*.k"])
    {'a': {'b': 1}, 'groups': {'x': {'k': 1}}}
    >>> pick({"groups": {"x": {"k": 1}, "y": {"k": 2}}}, ["groups.*"])
    {'groups': {'x': {}, 'y': {}}}
    """
    out: dict = {}
    names_only = {path for key in keys if key.endswith(".*") for path in expand_keys(config, [key], group)}
    for path in expand_keys(config, keys, group):
        if path in names_only and _node(config, path) is not None:
            target = out
            for part in path:
                target = target.setdefault(part, {})
            continue
        node = config
        for part in path:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            target = out
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = node
    return out


def settings_json(config: dict, keys: Iterable[str], group: str | None = None) -> str:
    """:func:`pick` as compact JSON, keys in config order: the text Snakemake compares between runs.

    Keys are not sorted: the order of the config's mappings is meaningful (groups pair with the stage's
    per-group file lists in config order; tables, models and labels follow it).
    """
    return json.dumps(pick(config, keys, group), separators=(",", ":"), default=str)


class Settings(dict):
    """Nested config values of one stage. Reading an undeclared key raises; every read is recorded.

    ``declared`` holds the concrete key paths the stage declared; a declared key that is absent from
    the config (an optional section) answers ``get`` with the default, as a plain dict would.
    """

    def __init__(self, data: dict, declared: Iterable[tuple[str, ...]] = (), *, _path=(), _shared=None):
        super().__init__()
        self._path = tuple(_path)
        self._shared = _shared or {"declared": set(map(tuple, declared)), "read": set()}
        for key, value in data.items():
            if isinstance(value, dict):
                value = Settings(value, _path=self._path + (key,), _shared=self._shared)
            dict.__setitem__(self, key, value)

    # -- bookkeeping ------------------------------------------------------------------------------
    @property
    def read_paths(self) -> set[tuple[str, ...]]:
        """Key paths read so far (by item access, ``get``, ``in`` or iteration; a declared key that is
        absent counts as read when ``get`` or ``in`` looked it up)."""
        return self._shared["read"]

    def _declared(self, key) -> bool:
        path = self._path + (key,)
        return any(d[: len(path)] == path or path[: len(d)] == d for d in self._shared["declared"])

    def _mark(self, key) -> None:
        self._shared["read"].add(self._path + (key,))

    # -- dict interface ---------------------------------------------------------------------------
    def __getitem__(self, key):
        if not dict.__contains__(self, key):
            if self._declared(key):
                raise KeyError(key)
            raise UndeclaredSetting(".".join(map(str, self._path + (key,))))
        self._mark(key)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return self[key]
        if not self._declared(key):
            raise UndeclaredSetting(".".join(map(str, self._path + (key,))))
        self._mark(key)  # an optional key looked up and absent: its absence decided what the stage did
        return default

    def __contains__(self, key) -> bool:
        if dict.__contains__(self, key):
            self._mark(key)
            return True
        if not self._declared(key):
            raise UndeclaredSetting(".".join(map(str, self._path + (key,))))
        self._mark(key)
        return False

    def __iter__(self):
        for key in dict.__iter__(self):
            self._mark(key)
            yield key

    def keys(self):
        return list(iter(self))

    def items(self):
        return [(k, self[k]) for k in iter(self)]

    def values(self):
        return [self[k] for k in iter(self)]

    def plain(self) -> dict:
        """A plain-dict copy (for YAML/JSON dumping), marking everything as read."""
        return {k: v.plain() if isinstance(v, Settings) else v for k, v in self.items()}
