"""The cluster side for real: render what a stack applies, a local Kubernetes control plane, and an applier."""
