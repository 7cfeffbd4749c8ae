"""PII: presidio-research's synthetic sentences with typed character spans."""

from .mirrors import Mirrors
from .text import Record


def _spans(text: str, raw_spans: list[Record]) -> tuple[list[Record], bool]:
    """The spans as {"start", "end", "type"}, and whether every offset matches its value."""
    spans = []
    ok = True
    for s in raw_spans:
        st, en = s["start_position"], s["end_position"]
        if text[st:en] != s["entity_value"]:
            ok = False
        spans.append({"start": st, "end": en, "type": s["entity_type"]})
    return spans, ok


def build_pii(m: Mirrors) -> tuple[list[Record], int]:
    """The records, and how many were dropped because a span's offsets were off."""
    d = m.json("microsoft/presidio-research", "data/synth_dataset_v2.json")
    out, bad = [], 0
    for i, x in enumerate(d):
        text = x["full_text"]
        spans, ok = _spans(text, x["spans"])
        if not ok:
            bad += 1
            continue
        spans.sort(key=lambda s: (s["start"], s["end"]))
        out.append(
            {
                "text": text,
                "spans": spans,
                "source": "presidio-research/synth_dataset_v2",
                "id": f"synth_v2-{i}",
                "template_id": x.get("template_id"),
            }
        )
    return out, bad
