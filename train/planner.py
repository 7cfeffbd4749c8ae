"""Compute-optimal sizing (Chinchilla) and memory estimates for training and inference.

Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models": with C = 6 N D,
approach 3's fitted loss L(N, D) = E + A / N^alpha + B / D^beta, with E = 1.69, A = 406.4,
B = 410.7, alpha = 0.34, beta = 0.28, gives the optimum
    N_opt(C) = G (C / 6)^a,  D_opt(C) = G^-1 (C / 6)^b,
    G = (alpha A / (beta B))^(1 / (alpha + beta)),  a = beta / (alpha + beta),
    b = alpha / (alpha + beta).
Approaches 1 and 2 give a ~ b ~ 0.5 and about 20 tokens per parameter, which we report as the
rule of thumb next to the fit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28
TOKENS_PER_PARAM = 20.0
BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "int8": 1.0, "int4": 0.5}


def chinchilla_optimal(compute: float) -> tuple[float, float]:
    """(N_opt, D_opt) from the paper's parametric fit, for training FLOPs `compute`."""
    g = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
    a = BETA / (ALPHA + BETA)
    b = ALPHA / (ALPHA + BETA)
    return g * (compute / 6) ** a, (1 / g) * (compute / 6) ** b


def loss_estimate(n: float, d: float) -> float:
    return float(E + A / n**ALPHA + B / d**BETA)


@dataclass
class ModelShape:
    params: float
    layers: int
    hidden: int
    kv_heads: int
    head_dim: int


def shape_for(params: float) -> ModelShape:
    """A plausible Llama shape for a parameter count (aspect ratio ~ 128 hidden per layer)."""
    layers = max(2, round((params / 12 / 128**2) ** (1 / 3)))
    hidden = max(64, round((params / (12 * layers)) ** 0.5 / 64) * 64)
    heads = max(1, hidden // 64)
    return ModelShape(params, layers, hidden, max(1, heads // 4), 64)


@dataclass
class Plan:
    compute_flops: float
    params: float
    tokens: float
    tokens_per_param: float
    rule_of_thumb_tokens: float
    predicted_loss: float
    train_memory_gib: dict[str, float]
    inference_memory_gib: dict[str, float]
    kv_cache_bytes_per_token: float
    kv_cache_gib_at_context: float
    context: int
    batch: int


def plan(
    compute: float | None = None,
    params: float | None = None,
    context: int = 2048,
    batch: int = 8,
    micro_batch_tokens: int = 8192,
) -> Plan:
    """Given compute (FLOPs) or a parameter count, the compute-optimal other half and memory."""
    if compute is None and params is None:
        raise ValueError("give --compute or --params")
    if params is None:
        assert compute is not None
        params, tokens = chinchilla_optimal(compute)
    else:
        tokens = TOKENS_PER_PARAM * params if compute is None else compute / (6 * params)
        compute = 6 * params * tokens
    shape = shape_for(params)
    gib = 2.0**30
    # mixed precision AdamW: bf16 weights + fp32 master copy, fp32 grads, two fp32 moments
    weights, master, grads, adam = 2 * params, 4 * params, 4 * params, 8 * params
    # activations per token per layer, bf16: ~34 * hidden bytes without recomputation
    # (Korthikanti et al. 2022, no attention-score materialisation); ~2 * hidden with it
    act_full = 34 * shape.hidden * shape.layers * micro_batch_tokens
    act_ckpt = 2 * shape.hidden * shape.layers * micro_batch_tokens
    kv_per_token = 2 * shape.layers * shape.kv_heads * shape.head_dim * BYTES["bf16"]
    return Plan(
        compute_flops=compute,
        params=params,
        tokens=tokens,
        tokens_per_param=tokens / params,
        rule_of_thumb_tokens=TOKENS_PER_PARAM * params,
        predicted_loss=loss_estimate(params, tokens),
        train_memory_gib={
            "weights": weights / gib,
            "master_weights": master / gib,
            "gradients": grads / gib,
            "adam_states": adam / gib,
            "activations": act_full / gib,
            "activations_checkpointed": act_ckpt / gib,
            "total": (weights + master + grads + adam + act_full) / gib,
            "total_checkpointed": (weights + master + grads + adam + act_ckpt) / gib,
        },
        inference_memory_gib={k: params * v / gib for k, v in BYTES.items()},
        kv_cache_bytes_per_token=kv_per_token,
        kv_cache_gib_at_context=kv_per_token * context * batch / gib,
        context=context,
        batch=batch,
    )


def to_dict(p: Plan) -> dict[str, object]:
    return asdict(p)


def render(p: Plan) -> str:
    def si(x: float) -> str:
        for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
            if abs(x) >= div:
                return f"{x / div:.2f}{unit}"
        return f"{x:.0f}"

    lines = [
        f"training compute   {p.compute_flops:.3e} FLOPs (6 N D)",
        f"parameters N       {si(p.params)}",
        f"tokens D           {si(p.tokens)}  ({p.tokens_per_param:.1f} tokens/parameter; "
        f"rule of thumb 20x = {si(p.rule_of_thumb_tokens)})",
        f"predicted loss     {p.predicted_loss:.3f} nats/token (Chinchilla fit)",
        "training memory (mixed precision AdamW, GiB):",
        *[f"  {k:26s} {v:10.2f}" for k, v in p.train_memory_gib.items()],
        "inference weights (GiB):",
        *[f"  {k:26s} {v:10.2f}" for k, v in p.inference_memory_gib.items()],
        f"KV cache           {p.kv_cache_bytes_per_token / 1024:.1f} KiB/token; "
        f"{p.kv_cache_gib_at_context:.2f} GiB at context {p.context} x batch {p.batch}",
    ]
    return "\n".join(lines)
