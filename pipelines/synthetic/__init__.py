"""Synthetic city generator: what 500 real units would submit each quarter, with mess and anomalies."""
