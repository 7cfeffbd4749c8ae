"""Rebuild the public evaluation/training data sets in ``safety/data/public/``.

Every JSONL file there is produced by this package from pinned commits of public
GitHub repositories, read straight out of bare git mirrors (no network access
is needed once the mirrors exist).  See LICENSES.md for the provenance and
licence of every source.

Usage (from the repository root)
--------------------------------
    python3 -m safety.data.public.rebuild [--mirror-root DIR] [--out DIR]
                                          [--repo owner/name=GIT_DIR ...]

    (no flags)                 mirrors under /work/.mirror/<owner>+<name>/repo
    --mirror-root DIR          mirrors under DIR/<owner>+<name>/repo
    --repo owner/name=GIT_DIR  override one mirror (repeatable)
    --out DIR                  write the JSONL files elsewhere (default: safety/data/public/)

A mirror may be any clone (bare or not) that contains the pinned commit; e.g.
``git clone --bare https://github.com/gitleaks/gitleaks`` works.  The git
binary must be on PATH.  Reading the deepset parquet files needs ``pyarrow``.

All sampling uses ``random.Random`` seeded with fixed strings, so the output is
byte-for-byte reproducible for the pinned commits.

Modules: ``mirrors`` (pinned commits, git access), ``text`` (seeded sampling, language
guess, dedupe, JSONL writing), ``injection_train`` / ``injection_eval`` (prompt-injection
sources), ``pii`` (presidio-research), ``go_lexer`` / ``go_rules`` / ``gitleaks_cases``
(gitleaks' Go rule tests), ``detect_secrets_cases`` (detect-secrets' plugin tests),
``secrets_eval`` (merging both), ``cli`` (the command line).
"""
