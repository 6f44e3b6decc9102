"""Ingestion assets: a quarter's landing area to archive, ledger, receipts and raw tables."""
