"""An interpolation strip shown as a table, for both parts of the Interpolate page."""

from __future__ import annotations

import pandas as pd

from app import output


def strip_table(rows: list[dict], names: tuple[str, str] = ("A", "B")) -> None:
    """A strip as a wrapping table; rows that differ from the step before are highlighted."""
    a, b = names
    df = pd.DataFrame(
        [
            {
                "tau": r["tau"],
                "text": r["text"],
                "change": r["change"],
                f"BLEU vs {a}": r["bleu_a"],
                f"BLEU vs {b}": r["bleu_b"],
            }
            for r in rows
        ]
    )
    fine = any(abs(r["tau"] * 10 - round(r["tau"] * 10)) > 1e-9 for r in rows)  # a log-odds grid
    output.text_table(
        df,
        highlight=[r["changed"] for r in rows],
        columns=["text", "change"],
        formats={"tau": "{:.3g}" if fine else "{:.1f}", f"BLEU vs {a}": "{:.1f}", f"BLEU vs {b}": "{:.1f}"},
    )
