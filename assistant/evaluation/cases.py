"""Evaluation case files (contract "evaluation case files" in design.md): load, validate, group in sets.

A case file is YAML (or JSON) with a top-level ``cases`` list, validated by a pydantic model; every
error names the file, the case and the field. Unknown fields are tolerated (the contract grows by
adding fields) but reported, since they are often typos.

The shipped suite has two kinds of sets (``evals/cases/``): ``dev/`` may be read by tuning code;
``blind/<batch>/`` was written without the corpus open and is only ever scored (``guard_not_blind``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

CASE_KINDS: tuple[str, ...] = (
    "factual", "procedure", "criteria", "justification_request", "out_of_scope", "follow_up",
)
# Out-of-scope cases by the way they tempt an assistant to answer.
OOS_TYPES: tuple[str, ...] = ("neighbouring", "false_premise", "invented_reference", "off_topic")
CASE_SUFFIXES = (".yaml", ".yml", ".json")
DEV_SET = "dev"
BLIND_SET = "blind"


class CaseError(ValueError):
    """An invalid case file or case; the message (French) names the file, the case and the field."""

    def __init__(self, path: Path | str, message: str, case_id: str | None = None, index: int | None = None) -> None:
        self.path = str(path)
        self.case_id = case_id
        where = str(path)
        if case_id:
            where += f", cas « {case_id} »"
        elif index is not None:
            where += f", cas n° {index + 1}"
        super().__init__(f"{where} : {message}")


class BlindSetAccess(PermissionError):
    """Tuning code asked for blind cases: they are scored, never tuned on."""


class _Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str


class CaseModel(BaseModel):
    """One case as written in a file."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    kind: Literal[CASE_KINDS]  # type: ignore[valid-type]
    expected_facts: list[str] = Field(default_factory=list)
    expected_sources: list[str] = Field(default_factory=list)
    history: list[_Turn] = Field(default_factory=list)
    correction_ok: StrictBool = False
    expected_refused: StrictBool | None = None
    oos_type: Literal[OOS_TYPES] | None = None  # type: ignore[valid-type]

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @field_validator("expected_facts", "expected_sources", mode="before")
    @classmethod
    def _text_list(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            raise ValueError(f"une liste est attendue, pas un texte (écrire [{value!r}])")
        if not isinstance(value, list):
            raise ValueError("une liste de textes est attendue")
        out = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise ValueError(f"élément {i + 1} : un texte est attendu")
            if not str(item).strip():
                raise ValueError(f"élément {i + 1} : texte vide")
            out.append(str(item).strip())
        return out

    @field_validator("history", mode="before")
    @classmethod
    def _no_null_history(cls, value: Any) -> Any:
        return [] if value is None else value


_FRENCH = {
    "missing": "manquant ou vide",
    "string_too_short": "manquant ou vide",
    "bool_type": "true ou false attendu",
    "string_type": "un texte est attendu",
    "list_type": "une liste est attendue",
}


def _explain(exc: ValidationError, raw: dict[str, Any]) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    name = loc[0] if loc else "(cas)"
    if name == "history" and len(loc) > 1 and loc[1].isdigit():
        return f"champ « history », tour {int(loc[1]) + 1} : attendu {{role: user|assistant, content: texte}}"
    if err["type"] == "literal_error":
        allowed = CASE_KINDS if name == "kind" else OOS_TYPES
        return f"champ « {name} » : valeur « {raw.get(name)} » inconnue (attendu : {', '.join(allowed)})"
    message = _FRENCH.get(err["type"], str(err["msg"]).removeprefix("Value error, "))
    return f"champ « {name} » : {message}"


@dataclass(frozen=True)
class EvalCase:
    """One question with what a good answer must contain."""

    id: str
    question: str
    kind: str
    expected_facts: tuple[str, ...] = ()
    expected_sources: tuple[str, ...] = ()
    history: tuple[dict[str, str], ...] = ()
    correction_ok: bool = False
    expected_refused: bool = False
    oos_type: str | None = None
    source_file: str = ""

    @property
    def in_scope(self) -> bool:
        """An answer (not a refusal) is expected."""
        return not self.expected_refused

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "question": self.question, "kind": self.kind,
            "expected_facts": list(self.expected_facts), "expected_sources": list(self.expected_sources),
            "history": [dict(t) for t in self.history], "correction_ok": self.correction_ok,
            "expected_refused": self.expected_refused, "oos_type": self.oos_type, "source_file": self.source_file,
        }


class CaseSet(NamedTuple):
    cases: list[EvalCase]
    files: list[str]
    warnings: list[str]


class NamedSet(NamedTuple):
    """A case set under its report name (``dev``, ``blind``, ``blind/batch-1``, or a path's name)."""

    name: str
    path: str
    cases: list[EvalCase]
    files: list[str]


def parse_case(raw: Any, path: Path, index: int, warnings: list[str]) -> EvalCase:
    """Validate one raw mapping from a case file."""
    if not isinstance(raw, dict):
        raise CaseError(path, "chaque cas doit être un dictionnaire (id, question, kind, ...)", index=index)
    raw_id = raw.get("id")
    case_id = str(raw_id).strip() if isinstance(raw_id, (str, int, float)) and not isinstance(raw_id, bool) else ""
    try:
        model = CaseModel.model_validate(raw)
    except ValidationError as exc:
        message = _explain(exc, raw)
        if message.startswith("champ « id »") or not case_id:
            raise CaseError(path, message, index=index) from exc
        raise CaseError(path, message, case_id) from exc
    unknown = sorted(set(model.model_extra or {}))
    if unknown:
        warnings.append(f"{path}, cas « {model.id} » : champ(s) inconnu(s) ignoré(s) : {', '.join(unknown)}")
    expected_refused = model.expected_refused if model.expected_refused is not None else model.kind == "out_of_scope"
    case = EvalCase(
        id=model.id, question=model.question, kind=model.kind,
        expected_facts=tuple(model.expected_facts), expected_sources=tuple(model.expected_sources),
        history=tuple({"role": t.role, "content": t.content} for t in model.history),
        correction_ok=model.correction_ok, expected_refused=expected_refused,
        oos_type=model.oos_type, source_file=str(path),
    )
    if case.correction_ok and not case.expected_facts:
        warnings.append(
            f"{path}, cas « {case.id} » : correction_ok sans expected_facts : réussi par un refus "
            "ou une prémisse signalée comme non fondée"
        )
    return case


def load_case_file(path: Path, warnings: list[str] | None = None) -> list[EvalCase]:
    """Cases of one file, in file order."""
    found: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(path, f"lecture impossible ({exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        mark = getattr(exc, "problem_mark", None)
        line = f" ligne {mark.line + 1}" if mark is not None else ""
        raise CaseError(path, f"YAML/JSON illisible{line} ({first})") from exc
    if isinstance(data, dict):
        if "cases" not in data:
            raise CaseError(path, "clé « cases » absente (attendu : cases: [ ... ])")
        raw_cases = data["cases"]
    elif isinstance(data, list) or data is None:
        raw_cases = data
    else:
        raise CaseError(path, "le fichier doit contenir « cases: » suivi d'une liste de cas")
    raw_cases = raw_cases or []
    if not isinstance(raw_cases, list):
        raise CaseError(path, "« cases » doit être une liste")
    cases = [parse_case(raw, path, i, found) for i, raw in enumerate(raw_cases)]
    if warnings is not None:
        warnings.extend(found)
    return cases


def case_files(path: Path) -> list[Path]:
    """A file, or every case file under a folder (sorted, recursive, hidden files skipped)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(
            p for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in CASE_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    raise CaseError(path, "fichier ou dossier de cas introuvable")


def load_cases(path: Path | str | Sequence[Path | str]) -> CaseSet:
    """All cases from a file, a folder, or several of them; ids must be unique across files."""
    paths: Iterable[Path | str] = [path] if isinstance(path, (str, Path)) else path
    files = [f for p in paths for f in case_files(Path(p))]
    if not files:
        raise CaseError(str(path), "aucun fichier de cas (.yaml, .yml, .json)")
    warnings: list[str] = []
    seen: dict[str, str] = {}
    cases: list[EvalCase] = []
    for file in files:
        for case in load_case_file(file, warnings):
            if case.id in seen:
                raise CaseError(file, f"identifiant déjà utilisé dans {seen[case.id]}", case.id)
            seen[case.id] = str(file)
            cases.append(case)
    if not cases:
        raise CaseError(str(path), "aucun cas à évaluer")
    return CaseSet(cases, [str(f) for f in files], warnings)


def is_blind(path: Path | str) -> bool:
    """True for anything inside a ``blind`` case folder."""
    return BLIND_SET in Path(path).resolve().parts


def guard_not_blind(path: Path | str) -> Path:
    """For tuning code: refuse blind cases (and folders that contain them)."""
    resolved = Path(path).resolve()
    if is_blind(resolved) or (resolved.is_dir() and (resolved / BLIND_SET).exists()):
        raise BlindSetAccess(
            f"{path} : les cas « blind » ne servent qu'à mesurer, jamais à régler (utiliser evals/cases/dev)"
        )
    return resolved


def suite_sets(cases_root: Path) -> list[tuple[str, Path]]:
    """The shipped suite's sets: ``dev``, then ``blind`` (all batches) and each batch when there are several."""
    sets: list[tuple[str, Path]] = []
    if (cases_root / DEV_SET).is_dir():
        sets.append((DEV_SET, cases_root / DEV_SET))
    blind = cases_root / BLIND_SET
    if blind.is_dir() and case_files(blind):
        sets.append((BLIND_SET, blind))
        batches = sorted(p for p in blind.iterdir() if p.is_dir() and not p.name.startswith(".") and case_files(p))
        if len(batches) > 1:
            sets += [(f"{BLIND_SET}/{b.name}", b) for b in batches]
    return sets


def load_sets(spec: Sequence[tuple[str, Path]]) -> tuple[list[NamedSet], list[str]]:
    """Load named sets; a case id must be unique across the sets that are not nested in one another."""
    out: list[NamedSet] = []
    warnings: list[str] = []
    owner: dict[str, tuple[str, str]] = {}
    for name, path in spec:
        loaded = load_cases(path)
        warnings += [w for w in loaded.warnings if w not in warnings]
        for case in loaded.cases:
            prev = owner.get(case.id)
            if prev and prev[1] != case.source_file:
                raise CaseError(case.source_file, f"identifiant déjà utilisé dans {prev[1]}", case.id)
            owner[case.id] = (name, case.source_file)
        out.append(NamedSet(name, str(path), loaded.cases, loaded.files))
    return out, warnings
