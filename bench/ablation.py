"""What each idea of the answer engine is worth: the evaluation (dev and blind) with one idea removed.

    .venv/bin/python bench/ablation.py [--data-dir DIR] [--only scope,premises]

Each variant is the shipped pipeline with one stage switched off by patching it in this process
(the product has no feature flags): no scope check (subject coverage per part), no reference
check, no premise check, no abbreviation/accent normalisation, no method-question search, no
drafting of drafting requests, and the previous generator size (7 sentences / 1,400 characters).
Prints one line per variant and set: the metrics and their difference with the full pipeline.
The blind set is scored here, never tuned on: this measures, it does not choose.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import assistant  # noqa: E402,F401 - offline environment first
from assistant.answer import chain as chain_module  # noqa: E402
from assistant.answer.generators import ExtractiveGenerator  # noqa: E402
from assistant.answer.scope import PartVerdict  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.evaluation import run_evaluation  # noqa: E402
from assistant.evaluation.thresholds import NO_THRESHOLDS  # noqa: E402
from assistant.index.ingest import run_index  # noqa: E402
from assistant.pipeline import Pipeline  # noqa: E402

METRICS = ("fact_coverage", "refusal_precision", "refusal_recall", "false_refusal_rate", "premise_handled",
           "decision_accuracy", "mrr@10")


@contextlib.contextmanager
def patched(obj: object, name: str, value: object) -> Iterator[None]:
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def _covered(part, *_args, **_kwargs) -> PartVerdict:  # noqa: ANN001
    return PartVerdict(part, True, 1.0, ())


VARIANTS: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
    "complet": contextlib.nullcontext,
    "sans périmètre (scope)": lambda: patched(chain_module, "judge_part", _covered),
    "sans références": lambda: patched(chain_module, "reference_found", lambda *_: True),
    "sans prémisses": lambda: patched(chain_module, "claim_supported", lambda *_: True),
    "sans normalisation": lambda: contextlib.ExitStack(),  # filled in below (two patches)
    "sans question de méthode": lambda: patched(chain_module.AnswerChain, "_method_question", lambda *_: False),
    "sans rédaction": lambda: patched(chain_module.AnswerChain, "__init__", _no_drafting_init()),
    "générateur 7 / 1400": lambda: contextlib.ExitStack(),
}


def _no_drafting_init():  # noqa: ANN202
    init = chain_module.AnswerChain.__init__

    def without(self, settings, searcher, llm=None, drafting=None) -> None:  # noqa: ANN001
        init(self, settings, searcher, llm, drafting=None)

    return without


def _variant(name: str) -> contextlib.AbstractContextManager:
    if name == "sans normalisation":
        stack = contextlib.ExitStack()
        stack.enter_context(patched(chain_module, "normalise", lambda text, _dir: text))
        stack.enter_context(patched(chain_module, "reaccent", lambda text, _map: text))
        return stack
    if name == "générateur 7 / 1400":
        stack = contextlib.ExitStack()
        init = ExtractiveGenerator.__init__
        stack.enter_context(patched(ExtractiveGenerator, "__init__",
                                    lambda self, settings, **kw: init(self, settings, max_units=7, max_chars=1400)))
        return stack
    return VARIANTS[name]()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="index existant (défaut : index neuf du corpus livré)")
    parser.add_argument("--only", default="", help="variantes (noms séparés par des virgules)")
    args = parser.parse_args()
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="doctrine-ablation-"))
    settings = Settings(data_dir=data, knowledge_dir=ROOT / "knowledge", evals_dir=ROOT / "evals")
    if args.data_dir is None:
        run_index(settings)
    names = [n for n in VARIANTS if not args.only or n in args.only.split(",")]
    full: dict[str, dict[str, float]] = {}
    print("| variante | jeu | " + " | ".join(METRICS) + " |")
    print("|---|---|" + "---|" * len(METRICS))
    for name in names:
        with _variant(name):
            pipeline = Pipeline(settings)  # the evaluation builds fresh chains: the patches apply
            report = run_evaluation(settings, reader=pipeline.reader, write=False, thresholds=NO_THRESHOLDS)
        for set_name in ("dev", "blind"):
            m = report.ours.set_metrics(set_name)
            if name == "complet":
                full[set_name] = m
            cells = []
            for k in METRICS:
                value = m.get(k)
                delta = "" if name == "complet" or value is None or full[set_name].get(k) is None \
                    else f" ({value - full[set_name][k]:+.3f})"
                cells.append("—" if value is None else f"{value:.3f}{delta}")
            print(f"| {name} | {set_name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
