"""The only module that imports vLLM: AsyncLLM behind the `EngineClient` contract.

Also holds the CPU start-up policy: a default KV-cache size, and a short-prompt self-test that
proves the chosen kernels survive a request like "Hi" before the server reports ready.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from typing import Any, cast

import vllm
from vllm import SamplingParams
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.exceptions import VLLMClientError
from vllm.inputs import TokensPrompt
from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams
from vllm.usage.usage_lib import UsageContext
from vllm.v1.engine.async_llm import AsyncLLM
from vllm.v1.engine.exceptions import EngineDeadError, EngineGenerateError

from serve.errors import BadRequest, EngineFailure
from serve.types import ChoiceOutput, GenerationStep, SamplingConfig, Tokenizer, TokenLogprob

log = logging.getLogger("serve.engine")


def cpu_defaults() -> None:
    """On CPU, size the KV cache from RAM unless the operator already chose
    (VLLM_CPU_KVCACHE_SPACE, GiB)."""
    if "VLLM_CPU_KVCACHE_SPACE" in os.environ:
        return
    total_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    space = max(1, min(16, int(total_gib // 8)))
    os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(space)
    log.info("cpu kv cache", extra={"kv_cache_gib": space, "total_ram_gib": round(total_gib)})


def safe_cpu_dtype(args: AsyncEngineArgs) -> None:
    """On a CPU that advertises AMX but may not use it, bf16 runs vLLM's AMX kernels and dies:
    choose float32 before loading, and say so."""
    from serve.amx import amx_advertised_but_refused

    if str(args.dtype) in ("auto", "bfloat16") and amx_advertised_but_refused():
        log.warning(
            "this CPU reports AMX but the kernel refused AMX permission; vLLM's bf16 "
            "kernels would crash, so the model runs in float32",
            extra={"requested_dtype": str(args.dtype)},
        )
        args.dtype = "float32"


class UnsupportedCheckpoint(RuntimeError):
    """The checkpoint uses a quantization this vLLM (or vllm-cpu) cannot run."""


def check_quantization(model: str) -> None:
    """Refuse, before loading, quantization methods this vLLM has no loader for.

    vLLM 0.32 dropped its built-in bitsandbytes loader; a plugin may register one again (through
    `vllm.general_plugins`), so ask the registry after loading plugins.
    """
    import json
    from pathlib import Path

    cfg_path = Path(model) / "config.json"
    if not cfg_path.exists():
        return
    qc = json.loads(cfg_path.read_text()).get("quantization_config") or {}
    method = qc.get("quant_method")
    if method != "bitsandbytes":
        return
    from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS
    from vllm.plugins import load_general_plugins

    load_general_plugins()
    if method not in QUANTIZATION_METHODS:
        raise UnsupportedCheckpoint(
            "bitsandbytes checkpoints do not load in this vLLM (0.32 has no built-in bitsandbytes "
            "loader and no plugin registers one); load them with transformers, or serve "
            "llm-quantize's compressed-tensors output"
        )


def check_cpu_support(model: str) -> None:
    """Refuse, before loading, checkpoints whose kernels vllm-cpu 0.32 lacks.

    Its weight-only (WNA16) CPU kernel takes 4-bit weights only, so compressed-tensors W8A16 fails
    deep inside engine start-up; and its build for CPUs without AVX-512 (`_C_AVX2`) has no WNA16
    kernel at all, so there W4A16 fails the same way. Say so in one line instead.
    """
    import json
    from pathlib import Path

    cfg_path = Path(model) / "config.json"
    if not cfg_path.exists():
        return
    qc = json.loads(cfg_path.read_text()).get("quantization_config") or {}
    if qc.get("quant_method") != "compressed-tensors":
        return
    for group in (qc.get("config_groups") or {}).values():
        weights = group.get("weights") or {}
        if group.get("input_activations"):
            continue
        if weights.get("num_bits") == 8:
            raise UnsupportedCheckpoint(
                "W8A16 (8-bit weight-only) checkpoints do not run on CPU: vllm-cpu 0.32's "
                "weight-only kernel takes 4-bit weights only; use w8a8 or w4a16 here, or a GPU"
            )
        if weights.get("num_bits") == 4 and not has_wna16_kernel():
            raise UnsupportedCheckpoint(
                "W4A16 (4-bit weight-only) checkpoints do not run on this CPU: vllm-cpu 0.32's "
                "build for CPUs without AVX-512 has no weight-only kernel; use w8a8 here, or a "
                "CPU with AVX-512, or a GPU"
            )


def has_wna16_kernel() -> bool:
    """Does the vllm-cpu kernel library this CPU gets (_C, _C_AVX512 or _C_AVX2) have the
    weight-only int4 GEMM?"""
    import torch
    from vllm.platforms import current_platform

    current_platform.import_kernels()
    return hasattr(torch.ops._C, "cpu_gemm_wna16")


def apply_server_defaults(args: AsyncEngineArgs, argv: list[str], fair: bool = False) -> None:
    """Engine defaults llm-serve chooses unless the operator set them.

    Compact structured JSON: a grammar that allows free whitespace lets weak models pad with
    newlines until max_tokens, which returns truncated, unparseable JSON. With per-key access
    (`fair`), vLLM's priority scheduling, so the fair-share order reaches the engine's queue.
    """
    if fair and not any(a.startswith("--scheduling-policy") for a in argv):
        args.scheduling_policy = "priority"
    if not any(a.startswith("--structured-outputs-config") for a in argv):
        so = args.structured_outputs_config
        if so.backend == "auto":
            so.backend = "xgrammar"  # vLLM allows the whitespace switch on xgrammar/guidance only
        so.disable_any_whitespace = True


def is_cpu() -> bool:
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


class VLLMEngine:
    """AsyncLLM adapted to the server's engine contract."""

    def __init__(self, llm: AsyncLLM, model_path: str) -> None:
        self.llm = llm
        mc = llm.model_config
        self.model_path = model_path
        self.max_model_len = int(mc.max_model_len)
        self.max_num_seqs = int(llm.vllm_config.scheduler_config.max_num_seqs)
        # vLLM hands back the checkpoint's HF tokenizer, which fits the contract.
        self.tokenizer = cast(Tokenizer, llm.get_tokenizer())
        self.default_sampling: dict[str, Any] = dict(mc.get_diff_sampling_param())
        if "max_new_tokens" in self.default_sampling:
            self.default_sampling["max_tokens"] = self.default_sampling.pop("max_new_tokens")
        self.engine_version = f"vllm {vllm.__version__}"
        self.dtype = str(mc.dtype).removeprefix("torch.")

    @classmethod
    def start(cls, args: AsyncEngineArgs) -> VLLMEngine:
        llm = AsyncLLM.from_engine_args(args, usage_context=UsageContext.OPENAI_API_SERVER)
        return cls(llm, str(args.model))

    @classmethod
    def attach(cls, args: AsyncEngineArgs, client: dict[str, Any]) -> VLLMEngine:
        """A client of the engine another process started: one of several API processes, with
        the addresses vLLM's APIServerProcessManager hands each (as `vllm serve` does)."""
        client = {k: v for k, v in client.items() if k != "api_server_loads"}  # the server's
        count, index = int(client.pop("client_count")), int(client.pop("client_index"))
        args._api_process_count, args._api_process_rank = count, index
        config = args.create_engine_config(usage_context=UsageContext.OPENAI_API_SERVER)
        llm = AsyncLLM.from_vllm_config(
            config,
            usage_context=UsageContext.OPENAI_API_SERVER,
            disable_log_stats=args.disable_log_stats,
            client_addresses=client,
            client_count=count,
            client_index=index,
        )
        return cls(llm, str(args.model))

    # ---- contract ----------------------------------------------------------------------------
    @property
    def dead(self) -> bool:
        return bool(self.llm.errored)

    def num_unfinished_requests(self) -> int:
        return int(self.llm.get_num_unfinished_requests())

    def shutdown(self) -> None:
        self.llm.shutdown()

    def sampling_params(self, p: SamplingConfig) -> SamplingParams:
        structured = None
        if p.json_schema is not None:
            structured = StructuredOutputsParams(json=p.json_schema)
        elif p.json_object:
            structured = StructuredOutputsParams(json_object=True)
        return SamplingParams(
            n=p.n,
            max_tokens=p.max_tokens,
            temperature=p.temperature,
            top_p=p.top_p,
            top_k=p.top_k,
            min_p=p.min_p,
            seed=p.seed,
            stop=p.stop or None,
            stop_token_ids=p.stop_token_ids or None,
            presence_penalty=p.presence_penalty,
            frequency_penalty=p.frequency_penalty,
            repetition_penalty=p.repetition_penalty,
            logit_bias=p.logit_bias,
            logprobs=p.logprobs,
            prompt_logprobs=p.prompt_logprobs,
            structured_outputs=structured,
            ignore_eos=p.ignore_eos,
            min_tokens=p.min_tokens,
            skip_special_tokens=p.skip_special_tokens,
            include_stop_str_in_output=p.include_stop_str_in_output,
            output_kind=RequestOutputKind.DELTA if p.stream else RequestOutputKind.FINAL_ONLY,
        )

    async def generate(
        self, prompt_ids: list[int], params: SamplingConfig, request_id: str
    ) -> AsyncIterator[GenerationStep]:
        try:
            sp = self.sampling_params(params)
        except (VLLMClientError, ValueError, TypeError) as exc:
            # a backstop: service._check_sampling refuses what it knows of first
            raise BadRequest(str(exc), param=getattr(exc, "parameter", None)) from None
        want_lp = params.logprobs is not None
        prompt = TokensPrompt(prompt_token_ids=prompt_ids)
        gen = self.llm.generate(prompt, sp, request_id, priority=params.priority)
        try:
            async for out in gen:
                yield GenerationStep(
                    choices=[
                        ChoiceOutput(
                            index=o.index,
                            text=o.text,
                            token_ids=o.token_ids,
                            logprobs=self._logprobs(o.token_ids, o.logprobs) if want_lp else None,
                            finish_reason=o.finish_reason,
                        )
                        for o in out.outputs
                    ],
                    prompt_logprobs=(
                        self._prompt_logprobs(prompt_ids, out.prompt_logprobs)
                        if out.prompt_logprobs is not None
                        else None
                    ),
                )
        except (VLLMClientError, ValueError) as exc:
            raise BadRequest(str(exc)) from None
        except EngineDeadError:
            raise EngineFailure("the engine died; the server is restarting") from None
        except EngineGenerateError as exc:
            raise EngineFailure(f"generation failed: {exc.__cause__ or exc}") from None
        finally:
            await gen.aclose()  # aborts the engine request if it is still running

    def _decode_one(self, tid: int) -> str:
        return str(self.tokenizer.decode([tid]))

    def _logprobs(self, token_ids: Any, lps: Any) -> list[TokenLogprob]:
        out: list[TokenLogprob] = []
        for tid, pos in zip(token_ids, lps or [], strict=False):
            chosen = pos.get(tid)
            top = sorted(pos.items(), key=lambda kv: kv[1].rank)
            out.append(
                TokenLogprob(
                    token=chosen.decoded_token
                    if chosen and chosen.decoded_token is not None
                    else self._decode_one(tid),
                    logprob=float(chosen.logprob) if chosen else float("-inf"),
                    top=[
                        (lp.decoded_token or self._decode_one(t), float(lp.logprob))
                        for t, lp in top
                    ],
                )
            )
        return out

    def _prompt_logprobs(self, prompt_ids: list[int], lps: Any) -> list[TokenLogprob | None]:
        out: list[TokenLogprob | None] = []
        for tid, pos in zip(prompt_ids, lps, strict=False):
            if pos is None:
                out.append(TokenLogprob(token=self._decode_one(tid), logprob=None, top=[]))
                continue
            out.extend(self._logprobs([tid], [pos]))
        return out


async def self_test(engine: VLLMEngine) -> None:
    """Run the prompts that crashed vllm-cpu's AMX kernels (1-5 tokens); raise if the engine dies.

    Cheap (a few decode steps) and it runs before /ready turns 200, so a kernel that cannot run
    short prompts is found at start-up, not by the first user who types "Hi".
    """
    tok = engine.tokenizer
    seeds = [tok.bos_token_id if tok.bos_token_id is not None else 0]
    prompts = [seeds, list(tok.encode("Hi", add_special_tokens=True)) or seeds, list(range(1, 6))]
    for i, ids in enumerate(prompts):
        # logprobs on the last prompt also warms that path (its first use costs seconds)
        lp = 1 if i == len(prompts) - 1 else None
        params = SamplingConfig(max_tokens=2, temperature=0.0, logprobs=lp, prompt_logprobs=lp)
        async for _ in engine.generate(ids, params, f"self-test-{i}"):
            pass
    if engine.dead:
        raise EngineFailure("engine died during the short-prompt self-test")
