"""The calibration command end to end on a tiny sample, with the fake encoder and reader (no model)."""

from __future__ import annotations

import argparse

import pytest
from conftest import SHARED, FakeEncoder, FakeReader

QA_TRAIN = SHARED / "qa-train"


@pytest.mark.skipif(not QA_TRAIN.is_dir(), reason=f"{QA_TRAIN} not present")
def test_calibrate_fits_models_and_a_threshold_and_writes_them(tmp_path):
    pytest.importorskip("sklearn")
    from qa.reader.calibrate import calibrate
    from qa.reader.calibration import CONFIDENCE_FEATURES, SENTENCE_FEATURES, load_calibration
    from qa.reader.features import SHORTLIST_FEATURES

    args = argparse.Namespace(data=str(QA_TRAIN), weights=str(tmp_path), passages=24, questions_per_passage=1, off_collection=6,
                              withheld=5, false_not_found=0.05, threshold_datasets="", threads=1, seed=3, dry_run=False)
    fitted = calibrate(args, encoder=FakeEncoder(), reader=FakeReader())
    assert 0.0 <= fitted.threshold <= 1.0
    assert fitted.record["off_collection_questions"] == 6
    assert fitted.record["withheld_answer_questions"] == 5
    loaded = load_calibration(tmp_path)
    assert loaded.threshold == pytest.approx(fitted.threshold, abs=1e-4)
    assert (loaded.shortlist.features, loaded.sentence.features, loaded.confidence.features) == (
        SHORTLIST_FEATURES, SENTENCE_FEATURES, CONFIDENCE_FEATURES)
    again = calibrate(argparse.Namespace(**{**vars(args), "dry_run": True}), encoder=FakeEncoder(), reader=FakeReader())
    assert again.to_json() | {"record": None} == fitted.to_json() | {"record": None}  # same seed, same fit
    assert set(fitted.record["answerable_not_found_by_dataset"]) <= set(fitted.record["threshold_datasets"])  # "": every set

    # Only the chosen datasets' answerable questions set the threshold; the fitted models stay the same.
    typed = calibrate(argparse.Namespace(**{**vars(args), "dry_run": True, "threshold_datasets": "squad"}),
                      encoder=FakeEncoder(), reader=FakeReader())
    assert typed.record["threshold_datasets"] == ["squad"]
    assert (typed.shortlist, typed.sentence, typed.confidence) == (fitted.shortlist, fitted.sentence, fitted.confidence)
    assert typed.record["check"]["auroc_answerable_vs_unanswerable"] == fitted.record["check"]["auroc_answerable_vs_unanswerable"]
