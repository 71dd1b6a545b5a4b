"""Evaluation case files (contract "evaluation case files" in design.md): load and validate.

A case file is YAML (or JSON) with a top-level ``cases`` list. Any file in that format must run,
so validation is strict on the contract's fields (a wrong type would silently skew a metric) and
every error names the file and the case. Unknown fields are tolerated (the contract may grow by
adding fields) but reported as warnings, since they are often typos.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

CASE_KINDS: tuple[str, ...] = (
    "factual", "procedure", "criteria", "justification_request", "out_of_scope", "follow_up",
)
CASE_SUFFIXES = (".yaml", ".yml", ".json")
KNOWN_FIELDS = frozenset({
    "id", "question", "kind", "expected_facts", "expected_sources", "history", "correction_ok", "expected_refused",
})
ROLES = ("user", "assistant")


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
            "expected_refused": self.expected_refused, "source_file": self.source_file,
        }


class CaseSet(NamedTuple):
    cases: list[EvalCase]
    files: list[str]
    warnings: list[str]


@dataclass
class _Ctx:
    path: Path
    warnings: list[str] = field(default_factory=list)


def _strings(value: Any, ctx: _Ctx, name: str, case_id: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        raise CaseError(ctx.path, f"champ « {name} » : une liste est attendue, pas un texte (écrire [{value!r}])",
                        case_id)
    if not isinstance(value, list):
        raise CaseError(ctx.path, f"champ « {name} » : une liste de textes est attendue", case_id)
    out: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise CaseError(ctx.path, f"champ « {name} », élément {i + 1} : un texte est attendu", case_id)
        text = str(item).strip()
        if not text:
            raise CaseError(ctx.path, f"champ « {name} », élément {i + 1} : texte vide", case_id)
        out.append(text)
    return tuple(out)


def _history(value: Any, ctx: _Ctx, case_id: str) -> tuple[dict[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise CaseError(ctx.path, "champ « history » : une liste de tours {role, content} est attendue", case_id)
    turns: list[dict[str, str]] = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
            raise CaseError(
                ctx.path, f"champ « history », tour {i + 1} : attendu {{role: user|assistant, content: texte}}",
                case_id,
            )
        turns.append({"role": turn["role"], "content": turn["content"]})
    return tuple(turns)


def _bool(value: Any, ctx: _Ctx, name: str, case_id: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise CaseError(ctx.path, f"champ « {name} » : true ou false attendu", case_id)
    return value


def parse_case(raw: Any, ctx: _Ctx, index: int) -> EvalCase:
    """Validate one raw mapping from a case file."""
    if not isinstance(raw, dict):
        raise CaseError(ctx.path, "chaque cas doit être un dictionnaire (id, question, kind, ...)", index=index)
    case_id = raw.get("id")
    if isinstance(case_id, (int, float)) and not isinstance(case_id, bool):
        case_id = str(case_id)
    if not isinstance(case_id, str) or not case_id.strip():
        raise CaseError(ctx.path, "champ « id » manquant ou vide", index=index)
    case_id = case_id.strip()
    question = raw.get("question")
    if not isinstance(question, str) or not question.strip():
        raise CaseError(ctx.path, "champ « question » manquant ou vide", case_id)
    kind = raw.get("kind")
    if kind not in CASE_KINDS:
        raise CaseError(
            ctx.path, f"champ « kind » : valeur « {kind} » inconnue (attendu : {', '.join(CASE_KINDS)})", case_id
        )
    unknown = sorted(set(raw) - KNOWN_FIELDS)
    if unknown:
        ctx.warnings.append(f"{ctx.path}, cas « {case_id} » : champ(s) inconnu(s) ignoré(s) : {', '.join(unknown)}")
    case = EvalCase(
        id=case_id,
        question=question.strip(),
        kind=kind,
        expected_facts=_strings(raw.get("expected_facts"), ctx, "expected_facts", case_id),
        expected_sources=_strings(raw.get("expected_sources"), ctx, "expected_sources", case_id),
        history=_history(raw.get("history"), ctx, case_id),
        correction_ok=_bool(raw.get("correction_ok"), ctx, "correction_ok", case_id, False),
        expected_refused=_bool(raw.get("expected_refused"), ctx, "expected_refused", case_id, kind == "out_of_scope"),
        source_file=str(ctx.path),
    )
    if case.correction_ok and not case.expected_facts:
        ctx.warnings.append(
            f"{ctx.path}, cas « {case_id} » : correction_ok sans expected_facts, seul un refus sera compté juste"
        )
    return case


def load_case_file(path: Path, warnings: list[str] | None = None) -> list[EvalCase]:
    """Cases of one file, in file order."""
    ctx = _Ctx(path)
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
    elif isinstance(data, list):
        raw_cases = data
    elif data is None:
        raw_cases = []
    else:
        raise CaseError(path, "le fichier doit contenir « cases: » suivi d'une liste de cas")
    if raw_cases is None:
        raw_cases = []
    if not isinstance(raw_cases, list):
        raise CaseError(path, "« cases » doit être une liste")
    cases = [parse_case(raw, ctx, i) for i, raw in enumerate(raw_cases)]
    if warnings is not None:
        warnings.extend(ctx.warnings)
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
