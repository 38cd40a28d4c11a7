"""``cocapp init``: a new study folder, optionally drafted from a data file.

A study is a folder: ``config.yaml`` (every key, the optional ones commented out with their
defaults), ``data/raw/`` (the raw questionnaire files), ``instruments/`` (one ``<KEY>.yaml`` per
questionnaire) and a ``README.md``; a run writes ``data/derived/`` and ``reports/`` beside them.

``--from FILE`` copies the file into ``data/raw/`` and drafts from it:

* the codebook (``data/raw/codebook.csv``): every column with its variable label, value labels and
  user-missing codes (read from an SPSS/Stata/SAS file; for a CSV only what the values show);
* one instrument skeleton per family of item columns: three or more columns named by one prefix and
  a number (``rsa_01`` ... ``rsa_36``) holding small integers; families named by a short code and a
  number without separator (``A1`` ... ``A5``, ``C1`` ... ``C5``, as a five-factor short form names its
  items) that share their response range are drafted as one instrument with the columns listed and a
  subscale per prefix (:func:`merge_named_families`);
* the config's group block (raw file, id and grouping column, instruments) and the list of groups.

Drafts are guesses from the data, marked ``EDIT``/``CHECK`` where a person must decide (the response
range and missing codes of a CSV, reverse keying, subscales); nothing is invented silently.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

__all__ = [
    "InitError",
    "ItemFamily",
    "draft_from_table",
    "find_item_families",
    "init_study",
    "merge_named_families",
    "render_config",
]

HERE = Path(__file__).resolve().parent

# Column names that usually hold the grouping of a study (checked case-insensitively, in this order).
GROUPING_NAMES = (
    "site", "group", "centre", "center", "region", "area", "location", "trust", "hospital", "clinic",
    "service", "team", "ward", "cluster", "school", "education", "country", "arm",
)  # fmt: skip
ID_NAMES = ("id", "respondent_id", "respondent", "case_id", "caseid", "record_id", "participant_id", "pid")
ITEM_COLUMN = re.compile(r"^(?P<prefix>[A-Za-z][A-Za-z0-9]*?)(?P<sep>[_.]?)(?P<num>\d+)$")
MIN_ITEMS = 3
MAX_ITEM_VALUES = 15  # an item column holds at most this many distinct values (answers and codes)


class InitError(ValueError):
    """The study folder cannot be made (exists, unreadable data file); the message says why."""


@dataclass
class ItemFamily:
    """Columns sharing a prefix and numbered 1..n: one drafted instrument."""

    key: str
    columns: list[str]
    pattern: str
    values: list[float]  # distinct non-missing values found
    labels: dict[float, str] = field(default_factory=dict)  # value labels (SPSS/Stata/SAS)
    missing: dict[float, str] = field(default_factory=dict)  # declared user-missing codes
    subscales: dict[str, list[str]] = field(default_factory=dict)  # prefix -> its columns (merged)


def _yaml_scalar(value) -> str:
    """A YAML scalar for the config template: JSON text is valid YAML for strings and numbers."""
    return json.dumps(value, ensure_ascii=False)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - YAML and Markdown, not HTML
    )
    env.filters["y"] = _yaml_scalar
    return env


def _integers(values) -> list[float] | None:
    """The distinct numbers of a column when every non-empty cell is an integer, else None."""
    import pandas as pd

    from cocapp.validate import to_number

    s = pd.Series(values)
    present = s[s.notna() & (s.astype("string").str.strip() != "")]
    if present.empty:
        return None
    x = to_number(present)
    if x.isna().any() or not (x == x.round()).all():
        return None
    return sorted(x.unique().tolist())


def find_item_families(table) -> list[ItemFamily]:
    """Families of item columns in a :class:`~cocapp.io.RawTable` (see module docstring), in column order."""
    found: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    for col in table.data.columns:
        m = ITEM_COLUMN.match(str(col))
        if m:
            found.setdefault((m["prefix"], m["sep"]), []).append((int(m["num"]), m["num"], str(col)))
    families: list[ItemFamily] = []
    used_keys: set[str] = set()
    for (prefix, sep), members in found.items():
        numbers = sorted(n for n, _, _ in members)
        if len(members) < MIN_ITEMS or numbers != list(range(1, len(members) + 1)):
            continue
        values: set[float] = set()
        ok = True
        for _, _, col in members:
            distinct = _integers(table.data[col])
            if distinct is None and table.data[col].notna().any():
                ok = False
                break
            values |= set(distinct or [])
        missing: dict[float, str] = {}
        labels: dict[float, str] = {}
        for _, _, col in members:
            missing.update(table.missing_codes.get(col, {}))
            labels.update(table.value_labels.get(col, {}))
        if not ok or len(values) > MAX_ITEM_VALUES:
            continue
        texts = [t for _, t, _ in members]
        width = len(texts[0])
        padded = all(len(t) == width for t in texts) and width > 1 and any(t.startswith("0") for t in texts)
        pattern = f"{prefix}{sep}{{item:0{width}d}}" if padded else f"{prefix}{sep}{{item}}"
        key = re.sub(r"[^A-Za-z0-9_-]", "_", prefix).upper()
        while key in used_keys:
            key += "_"
        used_keys.add(key)
        members.sort()
        families.append(
            ItemFamily(
                key=key,
                columns=[c for _, _, c in members],
                pattern=pattern,
                values=sorted(v for v in values if v not in missing),
                labels={k: v for k, v in labels.items() if k not in missing},
                missing=missing,
            )
        )
    return merge_named_families(families, table)


NAMED_PREFIX = 2  # prefixes of at most this many letters, without separator, name subscales (A1, EX3)


def merge_named_families(families: list[ItemFamily], table) -> list[ItemFamily]:
    """Families whose columns are a short code and a number without separator (``A1``, ``C1``, ...) and
    whose response ranges agree become one instrument: its columns listed in file order, one subscale
    per code (the draft of a questionnaire whose items are named, like examples/education's PERS).
    Other families are returned unchanged; nothing is merged when fewer than two families qualify."""
    named = [
        f
        for f in families
        if f.subscales == {} and re.fullmatch(rf"[A-Za-z]{{1,{NAMED_PREFIX}}}\{{item\}}", f.pattern)
    ]
    if len(named) < 2 or len({_response_range(f)[:2] for f in named}) != 1:
        return families
    order = {str(c): i for i, c in enumerate(table.data.columns)}
    columns = sorted((c for f in named for c in f.columns), key=order.__getitem__)
    used = {f.key for f in families if f not in named}
    key = "".join(f.pattern.removesuffix("{item}") for f in named).upper()
    while key in used:
        key += "_"
    merged = ItemFamily(
        key=key,
        columns=columns,
        pattern="",
        values=sorted({v for f in named for v in f.values}),
        labels={k: v for f in named for k, v in f.labels.items()},
        missing={k: v for f in named for k, v in f.missing.items()},
        subscales={f.pattern.removesuffix("{item}"): f.columns for f in named},
    )
    first = families.index(named[0])
    rest = [f for f in families if f not in named]
    return rest[:first] + [merged] + rest[first:]


def _response_range(family: ItemFamily) -> tuple[float, float, list[float]]:
    """(min, max, values beyond a gap): labelled codes give the range when there are labels; else
    the first run of consecutive values found (values after a gap are probably missing codes)."""
    if family.labels:
        codes = sorted(family.labels)
        return codes[0], codes[-1], [v for v in family.values if v < codes[0] or v > codes[-1]]
    values = family.values
    if not values:
        return 1.0, 5.0, []
    run_end = 0
    while run_end + 1 < len(values) and values[run_end + 1] - values[run_end] == 1:
        run_end += 1
    return values[0], values[run_end], values[run_end + 1 :]


def _num(v: float) -> str:
    return f"{v:g}"


def instrument_text(family: ItemFamily, source: str) -> str:
    """The drafted instrument file of ``family`` (YAML with comments marking what to check)."""
    lo, hi, beyond = _response_range(family)
    found = ", ".join(_num(v) for v in family.values) or "none"
    lines = [
        f"# DRAFT made by `cocapp init --from {source}` from the columns {family.columns[0]} ... "
        f"{family.columns[-1]}:",
        "# check every key against the questionnaire's manual (docs/instruments.md describes them).",
        f"key: {_yaml_scalar(family.key)}",
        f"name: {_yaml_scalar(family.key)}          # EDIT: the instrument's name, shown in captions",
        *(
            [
                "# EDIT: drafted as one instrument with a subscale per column prefix; split it into one",
                "# file per prefix if these are separate questionnaires",
                f"columns: [{', '.join(_yaml_scalar(c) for c in family.columns)}]",
            ]
            if family.subscales
            else [f"items: {len(family.columns)}", f"column_pattern: {_yaml_scalar(family.pattern)}"]
        ),
        "response:",
        f"  min: {_num(lo)}          # CHECK: values found in the data: {found}",
        f"  max: {_num(hi)}",
    ]
    if family.labels:
        labels = ", ".join(f"{_num(k)}: {_yaml_scalar(v)}" for k, v in sorted(family.labels.items()))
        lines.append(f"  labels: {{{labels}}}")
    codes = {**{v: "no_response" for v in beyond}}
    if family.missing:
        lines.append("missing_codes:      # declared user-missing in the data file")
        for code, label in sorted(family.missing.items()):
            lines.append(f"  {_num(code)}: no_response          # {_yaml_scalar(label)}; CHECK the kind")
    elif codes:
        lines.append("missing_codes:      # CHECK: values outside the response range found in the data")
        lines += [f"  {_num(code)}: {kind}" for code, kind in sorted(codes.items())]
    else:
        lines.append("missing_codes: {}   # labelled codes meaning no answer, e.g. {9: no_response}")
    lines += [
        "score:",
        "  kind: mean          # mean (person mean of the answered items) or sum (prorated: mean x items)",
        "reverse_keyed: []     # EDIT: items scored in reverse, (min + max) - answer (number or column)",
        *(
            ["subscales:            # EDIT: names and labels; items by column name"]
            + [
                f"  {_yaml_scalar(code.lower())}: {{label: {_yaml_scalar(code)}, items: [{', '.join(cols)}]}}"
                for code, cols in family.subscales.items()
            ]
            if family.subscales
            else ["subscales: {}         # EDIT: e.g. {name: {label: Name, items: [1, 2, 3]}}"]
        ),
        "total:",
        "  label: Total",
        "  items: all",
        "key_source:",
        "  verified: false",
        "  note: Drafted from the data by cocapp init; not checked against the questionnaire's manual.",
    ]
    return "\n".join(lines) + "\n"


def _identifier(text: str, default: str) -> str:
    key = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")
    if not key:
        return default
    return key if key[0].isalpha() else f"g_{key}"


def _distinct_text(series) -> list[str]:
    import pandas as pd

    s = series[series.notna()]
    if pd.api.types.is_numeric_dtype(s):
        s = s.map(lambda v: str(int(v)) if float(v).is_integer() else str(v))
    s = s.astype("string").str.strip()
    return sorted(set(s[s != ""].tolist()))


def draft_from_table(table, group: str, raw: str, codebook: str | None, source: str) -> dict:
    """What ``cocapp init --from`` drafts from a :class:`~cocapp.io.RawTable`: ``group`` (the config's
    group block), ``sites`` (found in the grouping column), ``codebook`` (CSV text), ``instruments``
    (key -> YAML text) and ``notes`` (what could not be decided, for the console)."""
    import pandas as pd

    data = table.data
    columns = [str(c) for c in data.columns]
    families = find_item_families(table)
    item_cols = {c for f in families for c in f.columns}
    others = [c for c in columns if c not in item_cols]
    notes: list[str] = []

    lower = {c.lower(): c for c in others}
    id_column = next((lower[n] for n in ID_NAMES if n in lower), None)
    if id_column is None:
        unique = [c for c in others if data[c].notna().all() and data[c].is_unique]
        id_column = unique[0] if unique else "EDIT_id_column"
    id_guessed = id_column.lower() not in ID_NAMES

    def few_values(c: str) -> bool:
        return c != id_column and 2 <= len(_distinct_text(data[c])) <= 30

    site_column = next((lower[n] for n in GROUPING_NAMES if n in lower and few_values(lower[n])), None)
    candidates = [c for c in others if few_values(c)]
    site_guessed = site_column is None
    if site_column is None:
        site_column = candidates[0] if candidates else "EDIT_grouping_column"
        notes.append(
            f"the grouping column is a guess ({site_column}); candidates: {', '.join(candidates) or 'none'}"
        )
    sites: list[str] = []
    if site_column in data.columns:
        labels = table.value_labels.get(site_column, {})
        if labels:
            sites = [labels[k] for k in sorted(labels)]
        else:
            sites = _distinct_text(data[site_column])
    if not families:
        notes.append("no item columns found (three or more columns <prefix><number> 1..n holding integers)")

    covariates = []
    for c in others:
        if c in (id_column, site_column):
            continue
        distinct = _integers(data[c])
        labelled = bool(table.value_labels.get(c))
        if distinct is not None and not labelled and len(distinct) > 10:
            kind = "numeric"
        elif labelled or len(_distinct_text(data[c])) <= 10:
            kind = "categorical"
        else:
            continue  # free text: not a covariate
        covariates.append(
            dict(key=_identifier(c, c), column=c, type=kind, label=table.variable_labels.get(c))
        )

    rows = []
    for c in columns:
        kind = (
            "string" if c == id_column
            else "site" if c == site_column
            else "item" if c in item_cols
            else next((v["type"] for v in covariates if v["column"] == c), "string")
        )  # fmt: skip
        labels = table.value_labels.get(c, {})
        if c == site_column and not labels:
            valid = "; ".join(sites)
        else:
            valid = "; ".join(f"{_num(k)}={v}" for k, v in sorted(labels.items()))
        if not valid and kind == "numeric":
            x = _integers(data[c]) or []
            valid = f"{_num(min(x))}-{_num(max(x))}" if x else ""
        missing = "; ".join(f"{_num(k)}={v}" for k, v in sorted(table.missing_codes.get(c, {}).items()))
        rows.append(
            dict(
                dataset=group,
                variable=c,
                label=table.variable_labels.get(c, ""),
                type=kind,
                valid_values=valid,
                missing_codes=missing,
            )
        )
    codebook_text = pd.DataFrame(rows).to_csv(index=False, lineterminator="\n")
    block = dict(
        key=group,
        raw=raw,
        codebook=codebook,
        id_column=id_column,
        id_guessed=id_guessed,
        site_column=site_column,
        site_guessed=site_guessed,
        site_candidates=[c for c in candidates if c != site_column],
        instruments=[f.key for f in families] or ["EDIT_INSTRUMENT"],
        covariates=covariates,
    )
    return dict(
        group=block,
        sites=sites,
        codebook=codebook_text,
        instruments={f.key: instrument_text(f, source) for f in families},
        notes=notes,
    )


def render_config(name: str, folder: str, groups: list[dict], sites: list[str]) -> str:
    """The study's config.yaml text (template ``config.yaml.j2``)."""
    return (
        _env()
        .get_template("config.yaml.j2")
        .render(
            name=name,
            folder=folder,
            groups=groups,
            sites=sites or ["EDIT first group", "EDIT second group"],
            sites_from_data=bool(sites),
        )
    )


PLACEHOLDER_GROUP = dict(
    key="respondents",
    raw="data/raw/respondents.csv",
    codebook="data/raw/codebook.csv",
    id_column="id",
    id_guessed=True,
    site_column="site",
    site_guessed=True,
    site_candidates=[],
    instruments=["EDIT_INSTRUMENT"],
    covariates=[],
)


def init_study(folder: str | Path, source: str | Path | None = None, name: str | None = None) -> list[str]:
    """Create the study folder ``folder`` (see module docstring); returns notes for the console.

    Refuses (InitError) when ``folder`` already holds a ``config.yaml``; nothing is written then.
    """
    from cocapp.io import RawReadError, read_raw
    from cocapp.rawformats import METADATA_FORMATS, format_of

    root = Path(folder)
    if (root / "config.yaml").exists():
        raise InitError(f"{root / 'config.yaml'}: exists already; cocapp init never overwrites a study")
    name = name or root.resolve().name
    notes: list[str] = []
    files: dict[Path, str] = {}
    if source is None:
        groups, sites = [PLACEHOLDER_GROUP], []
        notes.append("no data file given: fill in the lines marked EDIT in config.yaml")
    else:
        source = Path(source)
        try:
            table = read_raw(source)
        except (RawReadError, ValueError) as err:
            raise InitError(str(err)) from None
        except FileNotFoundError:
            raise InitError(f"{source}: no such file") from None
        raw = f"data/raw/{source.name}"
        codebook = None if format_of(source.name) in METADATA_FORMATS else "data/raw/codebook.csv"
        group = _identifier(source.stem, "respondents")
        draft = draft_from_table(table, group, raw, codebook, source.name)
        groups, sites = [draft["group"]], draft["sites"]
        files[root / "data" / "raw" / "codebook.csv"] = draft["codebook"]
        for key, text in draft["instruments"].items():
            files[root / "instruments" / f"{key}.yaml"] = text
        notes += draft["notes"]
    files[root / "config.yaml"] = render_config(name, str(folder), groups, sites)
    files[root / "README.md"] = (
        _env().get_template("README.md.j2").render(name=name, source=Path(source).name if source else None)
    )
    for sub in ("data/raw", "instruments"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if source is not None and not (root / "data" / "raw" / Path(source).name).exists():
        shutil.copyfile(source, root / "data" / "raw" / Path(source).name)
    for path, text in files.items():
        if path.exists() and path.name != "config.yaml":
            notes.append(f"{path}: exists, kept (the draft was not written)")
            continue
        path.write_text(text, "utf-8")
    return notes
