"""Adapts the published github.com/hashicorp/vault/sdk v0.21.0 (a copy, path in argv[1]) to the two signatures Vault
1.21.4's in-tree sdk changed; scripts/install/vault.sh runs it and fails if either place moved."""

import re
import sys
from pathlib import Path

sdk = Path(sys.argv[1])

backend = sdk / "framework/backend.go"
text = backend.read_text()
old = "ActivationFunc func(context.Context, *logical.Request, string) error"
if text.count(old) != 1:
    sys.exit(f"[vault] {backend}: the ActivationFunc field is not where this script expects it")
backend.write_text(text.replace(old, "ActivationFunc func(context.Context, *logical.Request) error"))

manager = sdk / "helper/keysutil/lock_manager.go"
text = manager.read_text()
head = "func (lm *LockManager) RestorePolicy(ctx context.Context, storage logical.Storage, name, backup string, force bool) error {"
start = text.find(head)
end = text.find("\n}\n", start)
if start < 0 or end < 0:
    sys.exit(f"[vault] {manager}: RestorePolicy is not where this script expects it")
body = text[start + len(head):end]
body = re.sub(r"\breturn nil\b", "return name, nil", body)
body = re.sub(r"\breturn (?!name, nil)", 'return "", ', body)
new_head = head.replace("force bool) error {", "force bool) (string, error) {")
manager.write_text(text[:start] + new_head + body + text[end:])
