"""What ingestion's first half hands the ingest step when the operator's command ran it ahead
(pipelines/ingest/prefetch.py); a module of its own so that run.py and prefetch.py need not import
each other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prefetched:
    """What ingestion's first half did for a quarter before its step ran, and the landing area as it
    found it: the step works on that view instead of walking and hashing every landed file again."""

    archived: int
    parsed: int
    seconds: float
    deliveries: int  # deliveries found in the landing area
    landed: frozenset[tuple[str, str]]  # (unit, submission id) of each one archived
    skipped: tuple[str, ...]  # what was not ingested, and why (IngestReport.skipped)
    receiving_notes: tuple[str, ...]  # what the receiving log said about itself

    def to_json(self) -> dict[str, object]:
        return {
            "archived": self.archived,
            "parsed": self.parsed,
            "seconds": round(self.seconds, 3),
            "deliveries": self.deliveries,
            "landed": sorted(self.landed),
            "skipped": list(self.skipped),
            "receiving_notes": list(self.receiving_notes),
        }

    @classmethod
    def from_json(cls, message: dict[str, object]) -> Prefetched:
        """Raises KeyError, TypeError or ValueError on a message not made by `to_json`."""
        landed = message["landed"]
        skipped, notes = message["skipped"], message["receiving_notes"]
        if not isinstance(landed, list) or not isinstance(skipped, list) or not isinstance(notes, list):
            raise TypeError("not a prefetch result")
        return cls(
            archived=int(message["archived"]),  # type: ignore[call-overload]
            parsed=int(message["parsed"]),  # type: ignore[call-overload]
            seconds=float(message["seconds"]),  # type: ignore[arg-type]
            deliveries=int(message["deliveries"]),  # type: ignore[call-overload]
            landed=frozenset((str(unit), str(sid)) for unit, sid in landed),
            skipped=tuple(str(line) for line in skipped),
            receiving_notes=tuple(str(line) for line in notes),
        )
