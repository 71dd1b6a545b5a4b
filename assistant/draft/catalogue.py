"""The nine doctrine objectives and the five routes (``knowledge/criteria.yaml``) as typed objects.

Drafting, the UI form and the evaluation read the same catalogue; ids are a contract
(design.md), so loading fails loudly when the file and the contract disagree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assistant.config import PROJECT_ROOT

CRITERIA_FILE = "criteria.yaml"

# Contract ids (design.md, "Contract: criteria ids").
CRITERION_IDS: tuple[str, ...] = (
    "performance_metier", "souverainete", "securite", "cout", "disponibilite",
    "adaptabilite_reversibilite", "maintenance", "interoperabilite", "durabilite",
)
ROUTE_IDS: tuple[str, ...] = ("mutualisee", "sur_etagere", "faire", "faire_faire", "faire_avec")
BUILD_ROUTE_IDS: tuple[str, ...] = ("faire", "faire_faire", "faire_avec")
# The circular's two exceptions that allow a specific development, in the order of criteria.yaml.
EXCEPTION_IDS: tuple[str, ...] = ("aucune_solution", "resilience_continuite")


class CatalogError(ValueError):
    """``criteria.yaml`` is missing or does not match the contract; the message is in French."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Reference(_Frozen):
    """A corpus document, and optionally one of its sections (last heading of the section path)."""

    doc: str
    section: str | None = None

    def matches(self, doc_id: str, section_label: str) -> bool:
        """True when a section record (``"A > B"`` path) is this reference."""
        if doc_id != self.doc:
            return False
        if self.section is None:
            return True
        return section_label == self.section or section_label.endswith(f" > {self.section}")


class SubAxis(_Frozen):
    id: str
    label: str
    description: str = ""


class Criterion(_Frozen):
    id: str
    label: str
    order: int
    doctrine: str
    query: str
    references: tuple[Reference, ...] = ()
    sub_axes: tuple[SubAxis, ...] = ()
    evidence_to_request: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    not_documented: str = ""

    @property
    def doc_ids(self) -> tuple[str, ...]:
        """Referenced then related documents, without repeats: where evidence is looked for first."""
        return tuple(dict.fromkeys([r.doc for r in self.references] + list(self.related)))


class RouteException(_Frozen):
    id: str
    text: str


class Route(_Frozen):
    id: str
    label: str
    step: int
    when: str
    query: str
    must_show: tuple[str, ...] = ()
    exceptions: tuple[RouteException, ...] = ()
    references: tuple[Reference, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _name_exceptions(cls, data: Any) -> Any:
        """Plain-text exceptions get the contract ids by position."""
        if isinstance(data, dict) and isinstance(data.get("exceptions"), list):
            named = []
            for i, item in enumerate(data["exceptions"]):
                if isinstance(item, str):
                    if i >= len(EXCEPTION_IDS):
                        raise ValueError(f"exception en trop pour la voie {data.get('id')}")
                    item = {"id": EXCEPTION_IDS[i], "text": item}
                named.append(item)
            data = {**data, "exceptions": named}
        return data

    @property
    def doc_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.doc for r in self.references))

    @property
    def builds(self) -> bool:
        """Specific development (faire, faire faire, faire avec): an exception must be invoked."""
        return self.id in BUILD_ROUTE_IDS

    def exception(self, exception_id: str) -> RouteException | None:
        return next((e for e in self.exceptions if e.id == exception_id), None)


class Catalog(_Frozen):
    version: int = 1
    criteria: tuple[Criterion, ...] = Field(default=())
    routes: tuple[Route, ...] = Field(default=())

    @model_validator(mode="after")
    def _contract(self) -> Catalog:
        for kind, found, expected in (
            ("critères", [c.id for c in self.criteria], CRITERION_IDS),
            ("voies", [r.id for r in self.routes], ROUTE_IDS),
        ):
            if len(set(found)) != len(found):
                raise ValueError(f"identifiants de {kind} en double : {', '.join(found)}")
            if set(found) != set(expected):
                raise ValueError(
                    f"les {kind} doivent être exactement {', '.join(expected)} (trouvé : {', '.join(found)})"
                )
        for route in self.routes:
            if route.builds and {e.id for e in route.exceptions} != set(EXCEPTION_IDS):
                raise ValueError(f"la voie {route.id} doit décrire les exceptions {', '.join(EXCEPTION_IDS)}")
        return self

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise KeyError(criterion_id)

    def route(self, route_id: str) -> Route:
        for r in self.routes:
            if r.id == route_id:
                return r
        raise KeyError(route_id)

    @property
    def criterion_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in sorted(self.criteria, key=lambda c: c.order))

    @property
    def route_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.routes)


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> Catalog:  # noqa: ARG001 - mtime is the cache key
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path} illisible : {exc}") from exc
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'racine'} : {err['msg']}" for err in exc.errors()
        )
        raise CatalogError(f"{path} invalide : {details}") from exc


def load_catalog(knowledge_dir: Path) -> Catalog:
    """The catalogue of ``knowledge_dir`` (the shipped one when a user corpus has none); reloaded
    only when the file changes."""
    path = knowledge_dir / CRITERIA_FILE
    if not path.exists():
        path = PROJECT_ROOT / "knowledge" / CRITERIA_FILE
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise CatalogError(f"fichier des critères introuvable : {path}") from exc
    return _load(str(path.resolve()), mtime)
