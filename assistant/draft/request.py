"""The draft input (design.md, "Contract: draft input"): validated, cleaned, with French errors.

Shared by ``doctrine draft`` (YAML/JSON files), the Python API and the UI form, so that an unknown
route or objective is refused the same way everywhere, with the list of valid ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.draft.catalogue import BUILD_ROUTE_IDS, CRITERION_IDS, EXCEPTION_IDS, ROUTE_IDS
from assistant.text import clean_control_chars

MAX_TEXT = 4000
_MARKER_LIKE = re.compile(r"\[(\d{1,3})\]")


class DraftInputError(ValueError):
    """Invalid draft input; the message lists every problem, in French."""


def _clean(value: object) -> object:
    """Strip control characters; neutralise ``[n]`` so user text can never pose as a citation."""
    if not isinstance(value, str):
        return value
    text = clean_control_chars(value).strip()
    return _MARKER_LIKE.sub(r"(\1)", text) or None


class DraftContext(BaseModel):
    """The situation around the purchase (design.md, draft input ``context``)."""

    model_config = ConfigDict(extra="forbid")

    data_sensitivity: str | None = Field(None, max_length=MAX_TEXT)
    mutualised_examined: str | None = Field(None, max_length=MAX_TEXT)
    market_examined: str | None = Field(None, max_length=MAX_TEXT)
    exception: str | None = None
    exception_facts: str | None = Field(None, max_length=MAX_TEXT)
    notes: str | None = Field(None, max_length=MAX_TEXT)

    @field_validator("*", mode="before")
    @classmethod
    def _clean_all(cls, value: object) -> object:
        return _clean(value)

    @field_validator("exception")
    @classmethod
    def _known_exception(cls, value: str | None) -> str | None:
        if value is not None and value not in EXCEPTION_IDS:
            raise ValueError(f"exception inconnue « {value} » ; exceptions valides : {', '.join(EXCEPTION_IDS)}")
        return value


class DraftRequest(BaseModel):
    """What the buyer asks a draft for (design.md, "Contract: draft input")."""

    model_config = ConfigDict(extra="forbid")

    object: str = Field(min_length=3, max_length=500)
    entity: str | None = Field(None, max_length=500)
    route: str
    criteria: list[str] = Field(min_length=1)
    facts: dict[str, str] = Field(default_factory=dict)
    context: DraftContext = Field(default_factory=DraftContext)

    @field_validator("object", "entity", mode="before")
    @classmethod
    def _clean_text(cls, value: object) -> object:
        return _clean(value)

    @field_validator("route", mode="before")
    @classmethod
    def _known_route(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() not in ROUTE_IDS:
            raise ValueError(f"voie inconnue « {value} » ; voies valides : {', '.join(ROUTE_IDS)}")
        return value.strip() if isinstance(value, str) else value

    @field_validator("criteria", mode="before")
    @classmethod
    def _known_criteria(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            unknown = [str(c) for c in value if str(c).strip() not in CRITERION_IDS]
            if unknown:
                raise ValueError(
                    f"critère(s) inconnu(s) : {', '.join(f'« {c} »' for c in unknown)} ; "
                    f"critères valides : {', '.join(CRITERION_IDS)}"
                )
            value = list(dict.fromkeys(str(c).strip() for c in value))
        return value

    @field_validator("facts", mode="before")
    @classmethod
    def _clean_facts(cls, value: object) -> object:
        if value is None:
            return {}
        if isinstance(value, dict):
            unknown = [str(k) for k in value if str(k) not in CRITERION_IDS]
            if unknown:
                raise ValueError(
                    f"critère(s) inconnu(s) dans « facts » : {', '.join(f'« {c} »' for c in unknown)} ; "
                    f"critères valides : {', '.join(CRITERION_IDS)}"
                )
            cleaned = {}
            for key, text in value.items():
                if text is None:
                    continue
                if not isinstance(text, str):
                    raise ValueError(f"« facts.{key} » doit être un texte")
                if len(text) > MAX_TEXT:
                    raise ValueError(f"« facts.{key} » dépasse {MAX_TEXT} caractères")
                if (text := _clean(text)) is not None:
                    cleaned[str(key)] = text
            return cleaned
        return value

    @field_validator("context", mode="before")
    @classmethod
    def _none_context(cls, value: object) -> object:
        return {} if value is None else value

    @model_validator(mode="after")
    def _consistent(self) -> DraftRequest:
        stray = [k for k in self.facts if k not in self.criteria]
        if stray:
            raise ValueError(
                f"« facts » renseigne des critères absents de « criteria » : {', '.join(stray)} "
                "(ajoutez-les à « criteria » ou retirez ces éléments)"
            )
        if self.context.exception and self.route not in BUILD_ROUTE_IDS:
            raise ValueError(
                f"« context.exception » ne s'applique qu'aux voies de développement spécifique "
                f"({', '.join(BUILD_ROUTE_IDS)})"
            )
        return self

    def buyer_texts(self) -> list[str]:
        """Everything the buyer wrote: the only admissible source of facts about the offer."""
        texts = [self.object, self.entity or "", *self.facts.values()]
        texts += [v for v in self.context.model_dump().values() if isinstance(v, str)]
        return [t for t in texts if t]


_FIELD_NAMES = {
    "": ("object", "entity", "route", "criteria", "facts", "context"),
    "context": tuple(DraftContext.model_fields),
}


def _french_error(err: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()))
    kind = err.get("type", "")
    where = f"« {loc} » : " if loc else ""
    if kind == "missing":
        return f"{where}champ obligatoire manquant"
    if kind == "extra_forbidden":
        parent = ".".join(str(p) for p in err.get("loc", ())[:-1])
        allowed = _FIELD_NAMES.get(parent, ())
        return f"{where}champ inconnu ; champs admis : {', '.join(allowed)}"
    if kind == "value_error":
        return f"{where}{str(err.get('msg', '')).removeprefix('Value error, ')}"
    if kind == "string_too_short":
        return f"{where}texte trop court (au moins {err.get('ctx', {}).get('min_length')} caractères)"
    if kind == "string_too_long":
        return f"{where}texte trop long (au plus {err.get('ctx', {}).get('max_length')} caractères)"
    if kind == "too_short":
        return f"{where}au moins un élément attendu"
    if kind.startswith("string"):
        return f"{where}texte attendu"
    if kind.startswith("list"):
        return f"{where}liste attendue"
    if kind.startswith(("dict", "model")):
        return f"{where}objet (clé : valeur) attendu"
    return f"{where}{err.get('msg', 'valeur invalide')}"


def parse_request(data: object) -> DraftRequest:
    """Validate a draft input (parsed YAML/JSON, or a form) into a request, with French errors."""
    if isinstance(data, DraftRequest):
        return data
    if not isinstance(data, Mapping):
        raise DraftInputError("l'entrée doit être un objet (clé : valeur) : object, route, criteria…")
    try:
        return DraftRequest.model_validate(dict(data))
    except ValidationError as exc:
        lines = [_french_error(err) for err in exc.errors()]
        raise DraftInputError("entrée invalide :\n- " + "\n- ".join(lines)) from exc


def load_request(path: Path) -> DraftRequest:
    """Read a YAML or JSON draft input file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DraftInputError(f"lecture impossible de {path} : {exc}") from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise DraftInputError(f"{path} n'est pas un fichier YAML ou JSON valide : {exc}") from exc
    return parse_request(data)
