"""One configuration object for the whole assistant, and the offline environment.

Settings come from (highest first) constructor arguments, ``DOCTRINE_*`` environment
variables, then an optional ``doctrine.toml`` in the working directory. The evidence gate's
calibration is one nested value, ``settings.gate``; its environment names stay flat
(``DOCTRINE_GATE_MIN_DENSE``...), and so may its keys in ``doctrine.toml`` or in arguments
(``gate_min_dense = 0.3``, or a ``[gate]`` table with ``min_dense = 0.3``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Every library we load phones home by default; this turns all of it off. Forced, not defaulted:
# a user environment must not be able to re-enable telemetry by accident.
OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_TELEMETRY_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "CHROMA_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
}


def apply_offline_env() -> None:
    """Set the no-network, no-telemetry environment before any ML/UI library is imported."""
    os.environ.update(OFFLINE_ENV)


RetrievalMode = Literal["hybrid", "dense", "bm25", "rrf"]


class GateThresholds(BaseModel):
    """The evidence gate's calibration, chosen on the dev cases (evals/README.md, « Réglage »).

    The gate refuses when the best dense similarity is under ``min_dense`` (off-topic). Then each
    part of the question must be treated by the texts (``answer/scope.py``): the rarity-weighted
    share of its subject found in one section, plus ``scope_dense_weight`` x the dense similarity
    of the subject to its best passages, must reach ``scope``; everyday French words weigh ``general_weight`` of their rarity;
    a subject made of everyday words only is judged on meaning, ``everyday_dense`` (or
    ``everyday_dense_unanchored`` when the question has no word of the purchasing domain). When
    dense search is unavailable, the question's terms alone must reach ``degraded_overlap``. An
    English question, whose subject the French analysis cannot read, needs ``english_min_dense``. The
    gate judges the passages ranked by one reference fusion, ``fusion_weight`` x dense + (1 -
    ``fusion_weight``) x BM25, whatever fusion answers use, so that tuning retrieval does not
    change refusals.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    min_dense: float = 0.22
    scope: float = Field(0.66, ge=0.0, le=3.0)  # 0.70 on dev until 03/12/2026 (evals/README.md, Temps 34)
    scope_dense_weight: float = Field(1.2, ge=0.0, le=3.0)
    general_weight: float = Field(0.25, ge=0.0, le=1.0)
    everyday_dense: float = 0.28
    everyday_dense_unanchored: float = 0.40
    english_min_dense: float = 0.33
    degraded_overlap: float = 0.35
    fusion_weight: float = Field(0.8, ge=0.0, le=1.0)


GATE_PREFIX = "gate_"


def nest_gate_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """``{"gate_min_dense": 0.3}`` -> ``{"gate": {"min_dense": 0.3}}`` (flat keys win over a ``gate`` table)."""
    flat = {k[len(GATE_PREFIX):]: v for k, v in data.items() if k.startswith(GATE_PREFIX)}
    out = {k: v for k, v in data.items() if not k.startswith(GATE_PREFIX)}
    if flat:
        table = out.get("gate")
        base = table.model_dump() if isinstance(table, BaseModel) else dict(table or {})
        out["gate"] = base | flat
    return out


class _FlatGateArguments(PydanticBaseSettingsSource):
    """Constructor arguments, with flat ``gate_*`` keys folded into ``gate``."""

    def __init__(self, source: PydanticBaseSettingsSource) -> None:
        super().__init__(source.settings_cls)
        self.source = source

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return self.source.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        return nest_gate_keys(self.source())


class _TomlWithFlatGate(TomlConfigSettingsSource):
    """``doctrine.toml``, with flat ``gate_*`` keys folded into ``gate``."""

    def __call__(self) -> dict[str, Any]:
        return nest_gate_keys(super().__call__())


class Settings(BaseSettings):
    """All tunables of the assistant; defaults are the values chosen on the evaluation suite."""

    model_config = SettingsConfigDict(
        env_prefix="DOCTRINE_",
        # DOCTRINE_GATE_MIN_DENSE -> gate.min_dense: one split after the field name, nested fields only.
        env_nested_delimiter="_",
        env_nested_max_split=1,
        toml_file="doctrine.toml",
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = PROJECT_ROOT / "data"
    knowledge_dir: Path = PROJECT_ROOT / "knowledge"
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    evals_dir: Path = PROJECT_ROOT / "evals"

    embedding: str = Field("use", description="'use' or 'sentence-transformers:/path/to/model'")
    retrieval_mode: RetrievalMode = "hybrid"
    dense_weight: float = Field(0.5, ge=0.0, le=1.0)
    rrf_k: int = Field(60, ge=1)
    k: int = Field(5, ge=1, le=50)
    candidates: int = Field(40, ge=5, le=500)

    passage_max_chars: int = Field(400, ge=100, le=4000)
    passage_max_sentences: int = Field(3, ge=1, le=20)

    chroma_url: str | None = None
    collection: str = "doctrine"

    gate: GateThresholds = Field(default_factory=GateThresholds)

    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(60.0, gt=0)
    llm_temperature: float = 0.1

    max_question_chars: int = Field(2000, ge=10)
    max_upload_mb: int = Field(50, ge=1)

    # What one user file, and one upload (a batch of files), may expand to; and how long an upload
    # may hold the index writer. A file over a limit is refused by name, the rest of the batch passes.
    max_file_chars: int = Field(2_000_000, ge=1_000, description="characters extracted from one file")
    max_file_passages: int = Field(5_000, ge=10, description="passages cut from one file")
    max_upload_files: int = Field(50, ge=1, description="files in one upload")
    max_upload_passages: int = Field(10_000, ge=10, description="passages of one upload, all files together")
    ingest_time_budget_s: float = Field(120.0, gt=0, description="one upload, reading and indexing")
    # ``doctrine index`` refuses to remove more than this share of the indexed passages in one run
    # (a mistyped knowledge folder, a deleted mount) unless asked with --force or --rebuild.
    max_delete_share: float = Field(0.5, ge=0.0, le=1.0)
    # Answer from the official corpus only (files added by users are left out); the app's default.
    official_only: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (_FlatGateArguments(init_settings), env_settings, _TomlWithFlatGate(settings_cls))

    @field_validator("chroma_url", "llm_base_url", "llm_model", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def feedback_file(self) -> Path:
        return self.data_dir / "feedback.jsonl"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    def public_dict(self) -> dict[str, object]:
        """Settings as shown in reports: no secret."""
        data = self.model_dump(mode="json")
        data["llm_api_key"] = "***" if self.llm_api_key else None
        return data
