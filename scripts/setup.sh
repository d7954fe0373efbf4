#!/usr/bin/env bash
# Installs the project's toolchain from its own pinned files: the Python lock into .venv (scripts/install/python.sh) and the npm lock.
# Idempotent and quick when already done. Services (Postgres, Kafka, ...) are installed by `./platform up`.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "syncing .venv with python/requirements.lock"
bash scripts/install/python.sh

step "the project's Node.js (scripts/install/node.sh)"
source scripts/node-env.sh
echo "node $(node --version) at $(command -v node)"

step "installing npm packages from package-lock.json"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  echo "node_modules is up to date"
fi

step "helm (for the chart render tests)"
bash scripts/install/helm.sh
bash scripts/install/kube.sh  # the local Kubernetes control plane (cluster/controlplane.py): k8s v1.37 + etcd + kwok, cached
bash scripts/install/pulumi.sh  # the real Pulumi engine for cluster/engine.py (CLI, kubernetes provider, test providers, node 22), cached
bash scripts/install/vault.sh  # HashiCorp Vault 1.21.4, the local platform's real secrets server (local/services/vault.py), cached
