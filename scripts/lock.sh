#!/usr/bin/env bash
# Re-resolve requirements.lock (every package of the environment, pinned, with hashes) from the
# readable requirements.txt. Run it after editing requirements.txt, then refresh the recorded
# outputs (pytest --update-outputs): a new environment is a new platform for them.
#   pip install uv && bash scripts/lock.sh
# torch stays out of the lock: it is installed first, exactly (torch==2.13.0), from the index
# that has the build for your machine (the CPU build on CI); the guide's own package is
# installed editable (pip install --no-deps -e .).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Resolve against torch's CPU build, whose dependencies are not the CUDA build's nvidia-* packages:
# the copy on this machine's disk where there is one, else PyTorch's CPU index.
if [ -d /opt/wheels ]; then torch_source=(--find-links /opt/wheels); else
  torch_source=(--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match); fi
uv pip compile requirements.txt --generate-hashes --python-version 3.11.7 "${torch_source[@]}" \
  --no-emit-package torch --no-emit-package llm-mastery-snippets \
  --custom-compile-command "bash scripts/lock.sh" -o requirements.lock "$@"
