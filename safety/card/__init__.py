"""`llm-probe card`: a base model and a candidate (quantized or retrained) measured side by side.

Both are reached as OpenAI-compatible servers, so any two servers can be compared; every
measurement is made item by item on the same inputs for both, and every difference is reported
with a paired bootstrap 95% interval (the items are resampled together, so what both models find
hard cancels). A gate turns the differences into an exit code for CI.

    config.py    CardConfig and the gate's thresholds (flags come from their field docs)
    inputs.py    the prompt sets and held-out text windows, from files or the bundled defaults
    measure.py   what one server does on them (log-likelihoods, greedy tokens, outputs, latency)
    paired.py    paired bootstrap intervals and the card's rows
    bbq.py       BBQ-style multiple-choice bias items, by file
    attention.py per-head entropy and Jensen-Shannon distance between two checkpoints' maps
    report.py    card.md, card.json and card.png
    run.py       the whole card; `serve_and_card` starts both models with llm-serve first
"""
