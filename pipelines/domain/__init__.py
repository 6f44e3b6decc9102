"""Pure domain knowledge shared by the generator, ingestion and tests: no I/O at import time."""
