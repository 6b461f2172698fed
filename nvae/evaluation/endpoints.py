"""The two endpoint measures of an interpolation strip, and how stored results name them.

- `MATCH` ("endpoints match reconstructions", formerly "endpoints exact", key `endpoints_exact`):
  tau = 0 and tau = 1 decode exactly like A and B decoded alone. It checks the mixing (both
  mixings give exactly A and B at the ends), not the model: it holds even when A's own
  reconstruction is wrong.
- `INPUTS` ("endpoints reproduce inputs"): the share of the two endpoints (tau = 0 against input A,
  tau = 1 against input B) whose decoded text is the input itself, compared as the project compares
  a reconstruction with its input (`measures.short_sentences_exact`, `readout.sentence_paths.Waypoints.refs`):
  against the tokenizer's round trip of the input (`data.text.decode_ids` of its ids), so case,
  accents and spacing the tokenizer normalises away do not count.

Per strip `MATCH` is a bool and `INPUTS` 0, 0.5 or 1; over many strips both are shares (of pairs,
of endpoints). `endpoint_value` reads either from a record or summary written before the rename
(docs/results.json, runs/ablations/results.jsonl, exports), where `INPUTS` is missing unless it can
be recomputed from the strip. Plain values; no torch, no streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MATCH = "endpoints_match_reconstructions"
INPUTS = "endpoints_reproduce_inputs"
LEGACY = {MATCH: "endpoints_exact"}  # the keys results stored before the rename use
KEYS = (MATCH, INPUTS)
LABELS = {MATCH: "Endpoints match reconstructions", INPUTS: "Endpoints reproduce inputs"}
HELP = {
    MATCH: "τ = 0 and 1 decode exactly like A and B decoded alone (a check of the mixing, not of the model)",
    INPUTS: "share of the endpoints (τ = 0 against input A, τ = 1 against input B) that decode to the input itself "
    "(as the tokenizer reads it back)",
}


def strip_endpoints(texts: Sequence[str], decoded: Sequence[str], refs: Sequence[str]) -> dict:
    """One strip's two measures: `texts` its decoded steps (tau = 0 first, tau = 1 last), `decoded`
    A and B decoded alone, `refs` the tokenizer's round trip of inputs A and B."""
    if not texts:
        raise ValueError("a strip has at least one step")
    return {
        MATCH: texts[0] == decoded[0] and texts[-1] == decoded[1],
        INPUTS: ((texts[0] == refs[0]) + (texts[-1] == refs[1])) / 2,
    }


def endpoint_value(record: Mapping, key: str):
    """`record[key]`, from its name before the rename when only that is stored; for `INPUTS`
    recomputed from a strip of `measures.pair_record` ("strip" texts, "a"/"b" the round trips of
    the inputs) when missing; None when neither is there."""
    if key in record:
        return record[key]
    old = LEGACY.get(key)
    if old is not None and old in record:
        return record[old]
    strip = record.get("strip")
    if key == INPUTS and strip and all(isinstance(t, str) for t in strip) and "a" in record and "b" in record:
        return ((strip[0] == record["a"]) + (strip[-1] == record["b"])) / 2
    return None


def summarise_endpoints(records: Sequence[Mapping]) -> dict:
    """Both measures over many strips: the share of pairs whose endpoints match their
    reconstructions, and the share of endpoints that reproduce their input (None where a record
    lacks it)."""
    if not records:
        raise ValueError("no strips to summarise")
    out = {}
    for key in KEYS:
        values = [endpoint_value(r, key) for r in records]
        out[key] = None if any(v is None for v in values) else sum(float(v) for v in values) / len(values)
    return out


def with_endpoints(result: Mapping) -> dict:
    """A copy of an interpolation summary (`measures.interpolation_paths`, a stored one) with both
    measures under their new keys (from its records where the summary lacks them) and the old key
    left out."""
    out = {k: v for k, v in result.items() if k not in LEGACY.values()}
    from_records = summarise_endpoints(result["records"]) if result.get("records") else {}
    for key in KEYS:
        value = endpoint_value(result, key)
        out[key] = value if value is not None else from_records.get(key)
    return out
