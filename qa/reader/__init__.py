"""The learned reader: candidate features, the span model, its training and calibration on public QA data."""
