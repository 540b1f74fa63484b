"""The reader's fitted numbers: shortlist, sentence and confidence models and the abstention threshold.

Written by `python -m qa.reader.calibrate` beside the reader weights (`calibration.json`), with the
format version and the SHA-256 of the reader weights it was fit with; loading checks both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import ModelLoadError
from qa.reader.features import SHORTLIST_FEATURES, LinearModel
from qa.reader.model import WEIGHTS_DIR

CALIBRATION_FILE = "calibration.json"
CALIBRATION_VERSION = 1
# Inputs of the model that scores a read sentence, and of the one that says how likely the answer is right.
SENTENCE_FEATURES = ("shortlist_logit", "log_answer_probability", "log_mass", "no_answer", "has_span", "coverage",
                     "article_coverage", "names")
CONFIDENCE_FEATURES = ("best_logit", "margin", "no_answer", "log_answer_probability", "coverage", "article_coverage", "names",
                       "dense", "pairs")


@dataclass(frozen=True)
class Calibration:
    """Fitted models and the `found` threshold on the confidence (an estimated probability of being right)."""

    shortlist: LinearModel
    sentence: LinearModel
    confidence: LinearModel
    threshold: float
    reader_sha256: str
    record: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"format_version": CALIBRATION_VERSION, "shortlist": self.shortlist.to_json(), "sentence": self.sentence.to_json(),
                "confidence": self.confidence.to_json(), "threshold": round(self.threshold, 4), "reader_sha256": self.reader_sha256,
                "record": self.record}

    def save(self, folder: Path) -> Path:
        path = folder / CALIBRATION_FILE
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path


def load_calibration(folder: Path | None = None, *, reader_sha256: str | None = None) -> Calibration:
    """Read and check `calibration.json`; ModelLoadError with the fix when missing, stale or malformed."""
    path = (folder or WEIGHTS_DIR) / CALIBRATION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"no reader calibration at {path}: run `python -m qa.reader.calibrate` or reinstall the package") from None
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"the reader calibration {path} is unreadable ({error}): rerun `python -m qa.reader.calibrate`") from None
    if data.get("format_version") != CALIBRATION_VERSION:
        raise ModelLoadError(f"{path} has format {data.get('format_version')!r}, this version reads {CALIBRATION_VERSION}: "
                             "rerun `python -m qa.reader.calibrate`")
    if reader_sha256 is not None and data.get("reader_sha256") != reader_sha256:
        raise ModelLoadError(f"{path} was fit for other reader weights: rerun `python -m qa.reader.calibrate`")
    try:
        calibration = Calibration(LinearModel.from_json(data["shortlist"]), LinearModel.from_json(data["sentence"]),
                                  LinearModel.from_json(data["confidence"]), float(data["threshold"]),
                                  str(data["reader_sha256"]), dict(data.get("record") or {}))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(f"{path} is malformed ({error!r}): rerun `python -m qa.reader.calibrate`") from None
    for model, expected in ((calibration.shortlist, SHORTLIST_FEATURES), (calibration.sentence, SENTENCE_FEATURES),
                            (calibration.confidence, CONFIDENCE_FEATURES)):
        if model.features != expected or len(model.coef) != len(expected):
            raise ModelLoadError(f"{path} lists features {model.features}, this version computes {expected}: "
                                 "rerun `python -m qa.reader.calibrate`")
    return calibration


def neutral_calibration(threshold: float = 0.5) -> Calibration:
    """Unfitted stand-in models: the shortlist by term coverage and rank, sentences by the reader's own score.

    Used to bootstrap calibration (before any fit) and by tests that want behaviour independent of fitted numbers.
    """
    def model(names: tuple[str, ...], weights: dict[str, float]) -> LinearModel:
        return LinearModel(names, tuple(weights.get(n, 0.0) for n in names), 0.0)

    return Calibration(
        model(SHORTLIST_FEATURES, {"coverage": 4.0, "reciprocal_rank": 1.0, "pairs": 1.0}),
        model(SENTENCE_FEATURES, {"log_answer_probability": 1.0}),
        model(CONFIDENCE_FEATURES, {"best_logit": 1.0}),
        threshold, "", {})
