"""Ingestion: landing files to validated, typed raw tables, with a receipt for every submission."""
