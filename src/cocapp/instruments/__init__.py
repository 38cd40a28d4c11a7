"""Questionnaire instruments as data.

An instrument is described by one YAML file (``<KEY>.yaml``) shipped in this folder or in a folder
listed under ``instrument_paths`` in the config. The workflow finds each configured instrument's file
there when it is parsed and gives the files to the stages (``--instruments``), which load exactly
those (:func:`instrument_files`: a ``{key: file}`` map in place of the folders to search). The file
gives the items, the response range, the labelled missing codes, the subscales with their item
numbers, the reverse-keyed items, the score kind (``mean``, or ``sum`` = prorated mean x number of
items) and the citation. Files are validated against ``cocapp/schemas/instrument.schema.yaml``; a
student adds an instrument by adding a file, not code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy/pandas are imported where scores are computed, not to find a file
    import numpy as np
    import pandas as pd

import yaml

from cocapp import yamlio

__all__ = [
    "Instrument",
    "InstrumentError",
    "Instruments",
    "YamlFileError",
    "read_yaml_file",
    "Scale",
    "builtin_instrument_dir",
    "configured_instruments",
    "given_instruments",
    "instrument_file",
    "instrument_files",
    "load_instrument",
    "load_instruments",
]


class InstrumentError(ValueError):
    """An instrument file is missing or malformed; the message names the file and key."""


class YamlFileError(ValueError):
    """A YAML file cannot be read or parsed; the message names the file, line and column."""


class _UniqueKeyLoader(yamlio.LOADER):
    """The safe loader of :mod:`cocapp.yamlio` (libyaml's C parser when PyYAML has it) refusing a key
    given twice in one mapping (plain YAML keeps the last one, silently: a pasted block would override
    the one above it)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key (a list or mapping used as a key)
            raise yaml.constructor.ConstructorError(
                None, None, "a list or mapping is used as a key", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "in a mapping", node.start_mark, f"key {key!r} appears twice", key_node.start_mark
            )
        seen[key] = True
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _yaml_problem(err: yaml.YAMLError) -> str:
    """One line for a YAML error: ``line L, column C: problem``."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    text = " ".join(f"{context + ': ' if context else ''}{problem}".split())
    if mark is None:
        return text
    return f"line {mark.line + 1}, column {mark.column + 1}: {text}"


def read_yaml_file(path: str | Path, what: str = "file") -> Any:
    """Parse a YAML file; YamlFileError (one line naming file, line and column) when it cannot be read,
    is not UTF-8 text, is not YAML, or repeats a key in one mapping."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise YamlFileError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise YamlFileError(f"{path}: is a folder, not a {what}") from None
    except OSError as err:
        raise YamlFileError(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise YamlFileError(
            f"{path}: line {line}, byte offset {err.start}: byte 0x{data[err.start]:02x} is not UTF-8: "
            f"a {what} is UTF-8 text (re-save it as UTF-8)"
        ) from None
    if "\x00" in text:
        raise YamlFileError(f"{path}: contains NUL bytes: not a text {what}")
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise YamlFileError(f"{path}: not valid YAML: {_yaml_problem(err)}") from None
    except RecursionError:
        raise YamlFileError(f"{path}: not valid YAML: nested too deeply") from None
    if _expanded_size(doc, YAML_MAX_NODES) > YAML_MAX_NODES:
        raise YamlFileError(
            f"{path}: refused: more than {YAML_MAX_NODES} values once its aliases (*name) are expanded"
        )
    return doc


# A config or instrument file has some hundreds of values; aliases (*name) can make a small file stand
# for billions ("billion laughs"), which validation and error messages would then walk through.
YAML_MAX_NODES = 200_000


def _expanded_size(doc: Any, limit: int) -> int:
    """Number of values in ``doc`` counting each alias use in full; stops counting past ``limit``."""
    count, stack = 0, [doc]
    while stack and count <= limit:
        node = stack.pop()
        count += 1
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list | tuple | set):
            stack.extend(node)
    return count


@dataclass(frozen=True)
class Scale:
    """One scored scale of an instrument: a subscale or the total."""

    key: str
    label: str
    items: tuple[int, ...]

    @property
    def k(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Instrument:
    """A questionnaire: item range, missing codes, keying and scales (see module docstring)."""

    key: str
    name: str
    citation: str
    n_items: int
    column_pattern: str
    response_min: float
    response_max: float
    response_labels: dict[int, str]
    missing_codes: dict[float, str]
    score_kind: str
    reverse_keyed: frozenset[int]
    scales: tuple[Scale, ...]
    verified: bool
    key_note: str
    reference: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    item_columns: tuple[str, ...] = ()  # explicit column names (key ``columns``), item 1 first
    short_name: str = ""  # key ``short_name``: the name in figures (default: ``name``)

    @property
    def display_name(self) -> str:
        """The instrument's name in figures and their captions: ``short_name``, else ``name`` (never
        the key, which is an identifier)."""
        return self.short_name or self.name

    def scale_phrase(self, key: str) -> str:
        """A scale inside a sentence, e.g. ``"total STAR-P"``, ``"positive collaboration STAR-P"``:
        the scale's label (first letter lower-cased, :func:`cocapp.words.in_sentence`) and
        :attr:`display_name`."""
        from cocapp.words import in_sentence

        return f"{in_sentence(self.scale(key).label)} {self.display_name}"

    def scale_title(self, key: str) -> str:
        """A scale as an axis label or heading, e.g. ``"STAR-P Total"``: :attr:`display_name` and the
        scale's label."""
        return f"{self.display_name} {self.scale(key).label}"

    # -- columns -------------------------------------------------------------------------------
    def column(self, item: int, pattern: str | None = None) -> str:
        """Raw column name of item number ``item`` (1-based): ``pattern`` (the config's
        ``item_columns``) when given, else the file's explicit ``columns``, else its ``column_pattern``."""
        if pattern is None and self.item_columns:
            return self.item_columns[item - 1]
        return (pattern or self.column_pattern).format(item=item)

    def columns(self, items: Iterable[int] | None = None, pattern: str | None = None) -> list[str]:
        """Raw column names of ``items`` (default: all items, in item order)."""
        items = range(1, self.n_items + 1) if items is None else items
        return [self.column(i, pattern) for i in items]

    def scale(self, key: str) -> Scale:
        for s in self.scales:
            if s.key == key:
                return s
        raise KeyError(f"{self.key} has no scale {key!r}; scales: {[s.key for s in self.scales]}")

    @property
    def scale_keys(self) -> list[str]:
        return [s.key for s in self.scales]

    # -- values --------------------------------------------------------------------------------
    def valid_mask(self, values: pd.DataFrame | np.ndarray) -> np.ndarray:
        """True where a raw cell is an answer: inside the declared response range.

        Declared missing codes (e.g. 8, 9) and empty cells are not answers. The range is the
        instrument's declared one, never the range observed in the data.
        """
        import numpy as np

        arr = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            ok = (arr >= self.response_min) & (arr <= self.response_max)
        return ok & ~np.isnan(arr)

    def keyed(self, values: pd.DataFrame, pattern: str | None = None) -> pd.DataFrame:
        """Item answers after reverse keying, missing as NaN; columns stay the raw item names.

        Reverse keying uses the declared range: x' = (min + max) - x.
        """
        cols = self.columns(pattern=pattern)
        raw = values[cols].to_numpy(dtype=float)
        import numpy as np
        import pandas as pd

        out = np.where(self.valid_mask(raw), raw, np.nan)
        rev = [i - 1 for i in sorted(self.reverse_keyed)]
        if rev:
            out[:, rev] = (self.response_min + self.response_max) - out[:, rev]
        return pd.DataFrame(out, columns=cols, index=values.index)

    def scale_range(self, scale: Scale) -> tuple[float, float]:
        """Theoretical range of a scale score (sum scales: item range x k)."""
        if self.score_kind == "sum":
            return self.response_min * scale.k, self.response_max * scale.k
        return self.response_min, self.response_max


def builtin_instrument_dir() -> Path:
    """Folder of the instrument files shipped with cocapp."""
    return Path(str(resources.files("cocapp.instruments")))


@cache
def _validator():
    """The instrument schema's validator, built once per process."""
    import jsonschema

    text = resources.files("cocapp.schemas").joinpath("instrument.schema.yaml").read_text("utf-8")
    schema = yamlio.safe_load(text)
    return jsonschema.validators.validator_for(schema)(schema)


def instrument_files(files: Iterable[str | Path]) -> dict[str, Path]:
    """``{key: file}`` of instrument files given by name (a stage's ``--instruments``): the key is the
    file's name without ``.yaml``. A key given twice, or a file not named ``<KEY>.yaml``, is an error."""
    out: dict[str, Path] = {}
    for f in map(Path, files):
        if f.suffix != ".yaml":
            raise InstrumentError(f"{f}: an instrument file is named <KEY>.yaml")
        if f.stem in out:
            raise InstrumentError(f"instrument {f.stem}: two files given ({out[f.stem]}, {f})")
        out[f.stem] = f
    return out


def instrument_file(key: str, search_paths: Iterable[str | Path] | Mapping[str, Path] = ()) -> Path:
    """Path of the instrument file for ``key``: first ``<key>.yaml`` in ``search_paths``, then built-ins;
    or, when ``search_paths`` is a ``{key: file}`` map (:func:`instrument_files`), the file it gives, and
    no search."""
    if isinstance(search_paths, Mapping):
        if key not in search_paths:
            given = ", ".join(str(f) for f in search_paths.values()) or "none"
            raise InstrumentError(f"instrument {key}: no file {key}.yaml given (--instruments: {given})")
        return Path(search_paths[key])
    for folder in [*map(Path, search_paths), builtin_instrument_dir()]:
        candidate = folder / f"{key}.yaml"
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(p) for p in [*search_paths, builtin_instrument_dir()])
    raise InstrumentError(f"no instrument file {key}.yaml in {searched}")


def _parse(spec: dict, source: str) -> Instrument:
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator().iter_errors(spec))  # as jsonschema.validate
    try:
        if error is not None:
            raise error
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise InstrumentError(f"{source}: key {where}: {err.message}") from None
    columns = tuple(str(c) for c in spec.get("columns") or ())
    n = _item_count(spec, columns, source)
    if not columns:
        problem = pattern_problem(spec["column_pattern"])
        if problem:
            raise InstrumentError(f"{source}: key column_pattern: {problem}")
    names = columns or tuple(spec["column_pattern"].format(item=i) for i in range(1, n + 1))
    for code in spec.get("missing_codes") or {}:
        if not _is_number(code):
            raise InstrumentError(f"{source}: key missing_codes: {code!r} is not a numeric code")
    for code in spec["response"].get("labels") or {}:
        if not (_is_number(code) and float(code).is_integer()):
            raise InstrumentError(f"{source}: key response/labels: {code!r} is not an integer response")
    lo, hi = float(spec["response"]["min"]), float(spec["response"]["max"])
    if lo >= hi:
        raise InstrumentError(f"{source}: key response: min {lo} must be below max {hi}")
    missing = {float(k): v for k, v in (spec.get("missing_codes") or {}).items()}
    for code in missing:
        if lo <= code <= hi:
            raise InstrumentError(
                f"{source}: key missing_codes: code {code:g} lies inside the response range {lo:g}-{hi:g}"
            )
    reverse = frozenset(_positions(spec.get("reverse_keyed") or [], names, f"{source}: key reverse_keyed"))
    scales: list[Scale] = []
    for skey, sspec in (spec.get("subscales") or {}).items():
        items = tuple(_positions(sspec["items"], names, f"{source}: key subscales/{skey}/items"))
        scales.append(Scale(skey, sspec.get("label", skey), items))
    total = spec.get("total")
    if total is not None:
        t_items = total["items"]
        items = (
            tuple(range(1, n + 1))
            if t_items == "all"
            else tuple(_positions(t_items, names, f"{source}: key total/items"))
        )
        scales.append(Scale("total", total.get("label", "Total"), items))
    for s in scales:
        bad = [i for i in s.items if not 1 <= i <= n]
        if bad:
            raise InstrumentError(f"{source}: key subscales/{s.key}: items {bad} outside 1..{n}")
        if len(set(s.items)) != len(s.items):
            raise InstrumentError(f"{source}: key subscales/{s.key}: an item is listed twice")
    bad = [i for i in reverse if not 1 <= i <= n]
    if bad:
        raise InstrumentError(f"{source}: key reverse_keyed: items {sorted(bad)} outside 1..{n}")
    ks = spec.get("key_source") or {}
    return Instrument(
        key=spec["key"],
        name=spec["name"],
        citation=" ".join(spec.get("citation", "").split()),
        n_items=n,
        column_pattern=spec.get("column_pattern") or "",
        response_min=lo,
        response_max=hi,
        response_labels={int(k): v for k, v in (spec["response"].get("labels") or {}).items()},
        missing_codes=missing,
        score_kind=spec["score"]["kind"],
        reverse_keyed=reverse,
        scales=tuple(scales),
        verified=bool(ks.get("verified", False)),
        key_note=" ".join(str(ks.get("note", "")).split()),
        reference=spec.get("reference") or {},
        source=source,
        item_columns=columns,
        short_name=spec.get("short_name") or "",
    )


def _item_count(spec: dict, columns: tuple[str, ...], source: str) -> int:
    """Number of items: ``items``, or the length of the explicit ``columns`` (which must agree)."""
    if columns and spec.get("column_pattern"):
        raise InstrumentError(f"{source}: key columns: give either columns or column_pattern, not both")
    if columns:
        if len(set(columns)) != len(columns):
            twice = sorted({c for c in columns if columns.count(c) > 1})
            raise InstrumentError(f"{source}: key columns: {twice} listed twice")
        if spec.get("items") is not None and spec["items"] != len(columns):
            raise InstrumentError(
                f"{source}: key items: {spec['items']} items, but columns lists {len(columns)} columns"
            )
        return len(columns)
    if spec.get("column_pattern") is None:
        raise InstrumentError(f"{source}: key column_pattern: needed (or an explicit list under columns)")
    if spec.get("items") is None:
        raise InstrumentError(f"{source}: key items: the number of items is needed with a column_pattern")
    return int(spec["items"])


def _positions(items: Iterable, names: tuple[str, ...], where: str) -> list[int]:
    """Item positions (1-based) of ``items`` given by position or by column name."""
    out: list[int] = []
    for item in items:
        if isinstance(item, str):
            if item not in names:
                raise InstrumentError(f"{where}: {item!r} is not one of the instrument's columns")
            out.append(names.index(item) + 1)
        else:
            out.append(item)
    return out


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` (e.g. ``"rsa_{item:02d}"``) cannot name item columns, or None when it can."""
    try:
        first, second = pattern.format(item=1), pattern.format(item=2)
    except (KeyError, IndexError, ValueError, TypeError, AttributeError) as err:
        return f"{pattern!r} is not a column pattern with {{item}} ({type(err).__name__}: {err})"
    if first == second:
        return f"{pattern!r} gives the same column name for every item"
    return None


def load_instrument(key: str, search_paths: Iterable[str | Path] | Mapping[str, Path] = ()) -> Instrument:
    """Load and validate the instrument ``key`` (e.g. ``"RSA"``) from its file (:func:`instrument_file`).

    Files are read once per process (and again when they change), as the workflow asks for the same
    instruments many times while it is parsed.
    """
    path = instrument_file(key, search_paths)
    stat = path.stat()
    return _load_file(key, str(path), stat.st_mtime_ns, stat.st_size)


@cache
def _load_file(key: str, path_text: str, _mtime_ns: int, _size: int) -> Instrument:
    path = Path(path_text)
    try:
        spec = read_yaml_file(path, "instrument file")
    except YamlFileError as err:
        raise InstrumentError(str(err)) from None
    if not isinstance(spec, dict):
        raise InstrumentError(f"{path}: expected a mapping of keys at the top level")
    try:
        inst = _parse(spec, str(path))
    except InstrumentError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as err:
        # what the schema cannot express (e.g. a label key that is not a number)
        raise InstrumentError(f"{path}: malformed instrument file ({type(err).__name__}: {err})") from None
    if inst.key != key:
        raise InstrumentError(f"{path}: key {inst.key!r} does not match the file name {key!r}")
    return inst


def load_instruments(
    keys: Iterable[str], search_paths: Iterable[str | Path] | Mapping[str, Path] = ()
) -> dict[str, Instrument]:
    """Load several instruments, keyed by their key, in the given order."""
    paths = search_paths if isinstance(search_paths, Mapping) else list(search_paths)
    return {k: load_instrument(k, paths) for k in keys}


class Instruments(dict):
    """Instruments by key (config order); looking up another key is an :class:`InstrumentError`."""

    def __missing__(self, key):
        raise InstrumentError(f"instrument {key}: not one of the instruments given ({', '.join(self)})")


def configured_instruments(
    config: Mapping, instruments: Mapping[str, Instrument] | None = None
) -> Instruments:
    """The instruments of the configured groups by key: ``instruments`` when given (what a stage loaded
    from the files on its command line), else loaded through the config's ``instrument_paths`` (the
    workflow when it is parsed, and library use)."""
    if instruments is not None:
        return instruments if isinstance(instruments, Instruments) else Instruments(instruments)
    keys = list(dict.fromkeys(k for g in config["groups"].values() for k in g["instruments"]))
    return Instruments(load_instruments(keys, config.get("instrument_paths") or []))


def given_instruments(config: Mapping, files: Iterable[str | Path], group: str | None = None) -> Instruments:
    """The instruments of every configured group (or of ``group``), in config order, loaded from exactly
    the instrument ``files`` given (a stage's ``--instruments``): a configured instrument without its
    file, or a file of an instrument no group (``group``) uses, is an :class:`InstrumentError`."""
    given = instrument_files(files)
    groups = [group] if group is not None else list(config["groups"])
    keys = list(dict.fromkeys(k for g in groups for k in config["groups"][g]["instruments"]))
    unused = [str(f) for k, f in given.items() if k not in keys]
    if unused:
        raise InstrumentError(
            f"--instruments: {unused[0]} is given, but no configured group"
            + (f" ({group})" if group is not None else "")
            + f" uses instrument {Path(unused[0]).stem}"
        )
    return Instruments(load_instruments(keys, given))
