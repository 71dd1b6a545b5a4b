"""Evaluation suite end to end on the small test corpus: case files, runner with baselines, reports,
thresholds, the ``doctrine eval`` command, the tuning script and the optional LLM judge."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.config import PROJECT_ROOT, Settings
from assistant.evaluation import (
    CaseError,
    EvalReport,
    ThresholdError,
    check_thresholds,
    latest_report,
    load_cases,
    load_thresholds,
    parse_fail_under,
    run_evaluation,
)
from assistant.evaluation.thresholds import Thresholds
from tests.conftest import make_settings, write_corpus

CASES = PROJECT_ROOT / "tests" / "data" / "eval" / "cases.yaml"


@pytest.fixture(scope="module")
def eval_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The small test corpus, indexed once for this module; reports and thresholds in a temp evals/."""
    from assistant.indexing import run_index

    root = tmp_path_factory.mktemp("eval-small")
    settings = make_settings(root / "data", knowledge_dir=write_corpus(root / "knowledge"), evals_dir=root / "evals")
    run_index(settings)
    return settings


@pytest.fixture(scope="module")
def compared(eval_settings: Settings) -> EvalReport:
    """One run with baselines, shared by the report tests."""
    calls: list[tuple[int, int, str]] = []
    report = run_evaluation(eval_settings, CASES, compare=True, progress=lambda d, t, label: calls.append((d, t, label)))
    report.progress_calls = calls  # type: ignore[attr-defined]
    return report


# ---------------------------------------------------------------- case files


def _write(tmp_path: Path, text: str, name: str = "cases.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_format_loads_with_defaults() -> None:
    case_set = load_cases(CASES)
    by_id = {c.id: c for c in case_set.cases}
    assert by_id["t-oos-001"].expected_refused and not by_id["t-proc-001"].expected_refused
    assert by_id["t-oos-002"].correction_ok and by_id["t-oos-002"].expected_facts == ("annexe 7",)
    assert by_id["t-fu-001"].history[0]["role"] == "user"
    assert by_id["t-proc-001"].expected_sources == ("circulaire-test",)
    assert case_set.warnings == []


def test_json_files_folders_and_overrides(tmp_path: Path) -> None:
    _write(tmp_path, json.dumps({"cases": [{"id": "j1", "question": "Q ?", "kind": "factual",
                                            "expected_refused": True, "notes": "x"}]}), "a.json")
    _write(tmp_path, "cases:\n  - {id: y1, question: 'Q ?', kind: criteria}\n", "b.yml")
    _write(tmp_path, "ignored", ".hidden.yaml")
    case_set = load_cases(tmp_path)
    assert [c.id for c in case_set.cases] == ["j1", "y1"]
    assert case_set.cases[0].expected_refused and case_set.cases[1].expected_facts == ()
    assert any("notes" in w for w in case_set.warnings)  # unknown field: tolerated, reported


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("cases:\n  - {id: a, kind: factual}\n", "cas « a » : champ « question »"),
        ("cases:\n  - {id: a, question: 'Q ?', kind: legal}\n", "valeur « legal » inconnue"),
        ("cases:\n  - {id: a, question: 'Q ?', kind: factual, expected_facts: 'un seul'}\n", "une liste est attendue"),
        ("cases:\n  - {id: a, question: 'Q ?', kind: factual, history: [{role: bot, content: x}]}\n",
         "champ « history », tour 1"),
        ("cases:\n  - {id: a, question: 'Q ?', kind: factual, correction_ok: 'oui'}\n", "true ou false"),
        ("cases:\n  - {question: 'Q ?', kind: factual}\n", "cas n° 1 : champ « id »"),
        ("cases:\n  - {id: a, question: 'Q ?', kind: factual}\n  - {id: a, question: 'R ?', kind: factual}\n",
         "identifiant déjà utilisé"),
        ("cases:\n  - {id: a, question: 'Q ?'\n", "illisible ligne"),
        ("questions: []\n", "clé « cases » absente"),
        ("cases: []\n", "aucun cas"),
    ],
)
def test_invalid_case_files_name_file_and_case(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CaseError) as err:
        load_cases(path)
    assert str(path) in str(err.value)
    assert fragment in str(err.value)


def test_missing_case_path(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="introuvable"):
        load_cases(tmp_path / "absent.yaml")


# ---------------------------------------------------------------- thresholds


def test_thresholds_file_and_fail_under() -> None:
    shipped = load_thresholds(PROJECT_ROOT / "evals" / "thresholds.yaml")
    assert shipped.minimum["citation_validity"] == 1.0
    assert set(shipped.ahead_metrics) == {"hit@5", "fact_coverage"}
    assert parse_fail_under(["hit@5=0.9", "fact_coverage=0,8"]) == {"hit@5": 0.9, "fact_coverage": 0.8}
    with pytest.raises(ThresholdError, match="métrique inconnue"):
        parse_fail_under(["precision=0.9"])
    with pytest.raises(ThresholdError, match="format attendu"):
        parse_fail_under(["hit@5"])


def test_threshold_checks() -> None:
    limits = Thresholds({"hit@5": 0.9, "refusal_recall": 0.9}, {"latency_p95_ms": 100.0}, ("hit@5",), 0.0, "t")
    ours = {"hit@5": 0.95, "refusal_recall": None, "latency_p95_ms": 150.0}
    checks = {c.name: c for c in check_thresholds(ours, limits, {"bm25": {"hit@5": 0.95}, "dense": {"hit@5": 0.5}})}
    assert checks["hit@5 >= 0.9"].passed
    assert not checks["refusal_recall >= 0.9"].passed  # unmeasurable fails: the gate did not see it
    assert not checks["latency_p95_ms <= 100"].passed
    assert not checks["hit@5 > bm25"].passed  # a tie is not ahead
    assert checks["hit@5 > dense"].passed
    skipped = check_thresholds(ours, limits, None)
    assert [c.skipped for c in skipped if "devant" in c.name] == [True]
    lag = limits._replace(ahead_margin=-0.01)
    assert all(c.passed for c in check_thresholds(ours, lag, {"bm25": {"hit@5": 0.955}}) if c.name.endswith("bm25"))


# ---------------------------------------------------------------- runner and reports


def test_compare_runs_every_system_with_same_cases(compared: EvalReport) -> None:
    names = [s.name for s in compared.systems]
    assert names == ["ours", "bm25", "dense", "langchain"]
    for system in compared.systems:
        assert [r.case_id for r in system.results] == [c.id for c in load_cases(CASES).cases]
        assert all(r.error is None for r in system.results), [r.error for r in system.results]
        # Citations produced by every system are real, verbatim quotes of indexed documents.
        assert system.metrics["citation_validity"] in (None, 1.0)
    naive = compared.system("langchain")
    assert naive is not None and naive.metrics["refusal_rate"] == 0.0  # no evidence gate
    assert naive.setup_s > 0
    ours = compared.ours
    assert ours.metrics["hit@5"] == 1.0  # two documents in the corpus: the expected one is always in the top 5
    assert ours.metrics["counts"]["cases"] == 5 and compared.kinds["out_of_scope"] == 2
    assert set(compared.deltas) == {"bm25", "dense", "langchain"}
    assert compared.deltas["langchain"]["hit@5"] == pytest.approx(ours.metrics["hit@5"] - naive.metrics["hit@5"])
    follow_up = next(r for r in ours.results if r.case_id == "t-fu-001")
    assert follow_up.query != follow_up.question and "ordre" in follow_up.query  # the condensed query was scored
    calls = compared.progress_calls  # type: ignore[attr-defined]
    assert calls[-1][0] == calls[-1][1] == 5 * 4 + 1


def test_naive_baseline_stays_offline(eval_settings: Settings, no_network: list) -> None:
    from assistant.evaluation.baselines import NaiveLangChainSystem

    system = NaiveLangChainSystem(eval_settings)
    try:
        output = system.run(load_cases(CASES).cases[1])
    finally:
        system.close()
    assert no_network == []
    assert system.chunks >= 2 and not output.refused and output.citations
    assert output.retrieved_doc_ids[0] == "circulaire-test"
    assert not Path(system._dir).exists()  # the temporary Chroma folder is removed


def test_report_files_are_complete_and_self_contained(compared: EvalReport) -> None:
    folder = Path(compared.out_dir or "")
    assert folder.parent.name == "reports" and re.fullmatch(r"\d{8}-\d{6}(-\d+)?", folder.name)
    data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert data["n_cases"] == 5 and data["compare"] is True
    assert EvalReport.from_json(data).ours.metrics["hit@5"] == compared.ours.metrics["hit@5"]
    html = (folder / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert not re.search(r"<(script|link)\b[^>]*(src|href)=", html)  # nothing fetched from outside
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "| ours — " in markdown and "| langchain |" in markdown
    for failed in compared.failed_cases():
        assert f"### {failed.case_id}" in markdown and "**Réponse donnée**" in markdown


def test_latest_report_picks_the_newest(eval_settings: Settings, compared: EvalReport, tmp_path: Path) -> None:
    reports = eval_settings.evals_dir / "reports"
    assert latest_report(reports)["report_dir"] == compared.out_dir  # type: ignore[index]
    assert latest_report(tmp_path / "nothing") is None
    newer = run_evaluation(eval_settings, CASES, out_dir=reports / "zz-manual")
    broken = reports / "zzz-broken"
    broken.mkdir()
    (broken / "report.json").write_text("{tronqué", encoding="utf-8")
    latest = latest_report(reports)
    assert latest is not None and latest["report_dir"] == newer.out_dir
    assert latest["compare"] is False and Path(latest["files"]["report.html"]).is_file()


def test_default_thresholds_file_is_checked(eval_settings: Settings, tmp_path: Path) -> None:
    eval_settings.evals_dir.mkdir(parents=True, exist_ok=True)
    (eval_settings.evals_dir / "thresholds.yaml").write_text(
        "minimum: {hit@5: 0.5, citation_validity: 1.0}\nahead_of_baselines: {metrics: [hit@5]}\n", encoding="utf-8"
    )
    try:
        report = run_evaluation(eval_settings, CASES, out_dir=tmp_path / "r")
    finally:
        (eval_settings.evals_dir / "thresholds.yaml").unlink()
    names = {c["name"]: c for c in report.checks}
    assert names["hit@5 >= 0.5"]["passed"] and names["hit@5 devant chaque référence"]["skipped"]
    assert report.passed


def test_unknown_expected_source_is_reported(eval_settings: Settings, tmp_path: Path) -> None:
    path = _write(tmp_path, "cases:\n  - {id: u1, question: 'Que faut-il pour la réversibilité ?', kind: criteria,"
                            " expected_sources: [document-inexistant]}\n")
    report = run_evaluation(eval_settings, path, write=False)
    assert report.out_dir is None
    assert any("document-inexistant" in w for w in report.warnings)
    assert report.ours.results[0].retrieval["hit@10"] == 0.0


# ---------------------------------------------------------------- CLI


def _cli(eval_settings: Settings, args: list[str]):  # noqa: ANN202
    from assistant.commands.eval import eval_command

    app = typer.Typer()
    app.command(name="eval")(eval_command)
    app.command(name="noop")(lambda: None)  # keep "eval" a subcommand
    env = {"DOCTRINE_DATA_DIR": str(eval_settings.data_dir), "DOCTRINE_KNOWLEDGE_DIR": str(eval_settings.knowledge_dir),
           "DOCTRINE_EVALS_DIR": str(eval_settings.evals_dir)}
    return CliRunner().invoke(app, ["eval", *args], env=env)


def test_eval_command_json_and_exit_codes(eval_settings: Settings, tmp_path: Path) -> None:
    ok = _cli(eval_settings, ["--cases", str(CASES), "--json", "--out", str(tmp_path / "a")])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout.strip().splitlines()[-1])
    assert data["systems"][0]["name"] == "ours" and (tmp_path / "a" / "report.html").is_file()

    missed = _cli(eval_settings, ["--cases", str(CASES), "--out", str(tmp_path / "b"),
                                  "--fail-under", "hit@5=0.5", "--fail-under", "pass_rate=1.01"])
    assert missed.exit_code == 1, missed.output
    assert "Seuil non atteint" in missed.output and "pass_rate" in missed.output
    assert "Cas en échec" in missed.output

    bad_metric = _cli(eval_settings, ["--cases", str(CASES), "--fail-under", "qualite=1"])
    assert bad_metric.exit_code == 2 and "métrique inconnue" in bad_metric.output
    bad_cases = _cli(eval_settings, ["--cases", str(_write(tmp_path, "cases:\n  - {id: x}\n"))])
    assert bad_cases.exit_code == 2 and "cas « x »" in bad_cases.output
    no_judge = _cli(eval_settings, ["--cases", str(CASES), "--judge"])
    assert no_judge.exit_code == 2 and "LLM" in no_judge.output


# ---------------------------------------------------------------- tuning script


def test_tune_script_sweeps_real_settings(eval_settings: Settings) -> None:
    spec = importlib.util.spec_from_file_location("bench_tune", PROJECT_ROOT / "bench" / "tune.py")
    assert spec and spec.loader
    tune = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tune)
    params = tune.default_params(eval_settings)
    assert {"dense_weight", "k"} <= set(params) and len(params) > 2  # gate settings found by name
    gate = next(name for name in params if name not in ("dense_weight", "k"))
    result = tune.sweep(eval_settings, load_cases(CASES).cases, {"k": (3, 5), gate: (0.0, 5.0)}, log=lambda _m: None)
    rows = {(r["param"], r.get("k"), r.get(gate)): r for r in result["rows"]}
    assert len(result["rows"]) == 5
    permissive = rows[(gate, eval_settings.k, 0.0)]
    strict = rows[(gate, eval_settings.k, 5.0)]
    # An impossible threshold changes what the gate does: the sweep really re-runs the chain.
    assert permissive["refusal_rate"] != strict["refusal_rate"]
    tune.print_tables(result)


# ---------------------------------------------------------------- LLM judge


def test_llm_judge_through_a_real_http_server(eval_settings: Settings, tmp_path: Path) -> None:
    server_module = pytest.importorskip("tests.llm_server")
    verdict = json.dumps({"faithfulness": 0.5, "correctness": 1.0, "unsupported_claims": [], "missing_facts": []})
    with server_module.ScriptedLLMServer(replies=["Réponse sans JSON."], default=verdict) as server:
        settings = eval_settings.model_copy(update={"llm_base_url": server.base_url, "llm_model": "test-model"})
        report = run_evaluation(settings, CASES, judge=True, out_dir=tmp_path / "j")
        requests = list(server.requests)
    judged = [r for r in report.ours.results if r.judge is not None]
    answered = [r for r in report.ours.results if not r.refused and not r.error]
    assert len(judged) == len(answered) == len(requests) > 0
    assert "error" in judged[0].judge  # the unparsable first reply is recorded, not fatal
    good = [r.judge for r in judged[1:]]
    if good:
        assert report.ours.metrics["judge_faithfulness"] == pytest.approx(0.5)
        assert report.ours.metrics["judge_correctness"] == pytest.approx(1.0)
    prompt = json.dumps(requests[0], ensure_ascii=False)
    assert "évaluateur rigoureux" in prompt and answered[0].question in prompt
    assert all(r.generator == "extractive" for r in answered)  # the judge grades, it does not answer
