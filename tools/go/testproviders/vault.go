package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// vaultKinds: the resources components/vault.ts creates. Outputs are the inputs plus the computed values the
// program reads (Mount.path, AuthBackend.path, Policy.name are inputs; accessors and KV paths are computed).
// Keys that name the object in Vault force a replacement, as in the real provider.
func vaultKinds() map[string]resourceKind {
	return map[string]resourceKind{
		"vault:index/audit:Audit": {replaceAll: true, compute: func(_ string, in resource.PropertyMap, _ bool) (string, resource.PropertyMap, error) {
			return str(in, "path", str(in, "type", "file")), in.Copy(), nil
		}},
		"vault:index/mount:Mount": {replaceOn: []string{"path", "type"}, compute: func(_ string, in resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
			out := in.Copy()
			out["accessor"] = accessor("kv", preview)
			return str(in, "path", ""), out, nil
		}, update: keepComputed("accessor")},
		"vault:index/policy:Policy": {replaceOn: []string{"name"}, compute: func(_ string, in resource.PropertyMap, _ bool) (string, resource.PropertyMap, error) {
			return str(in, "name", ""), in.Copy(), nil
		}},
		"vault:index/authBackend:AuthBackend": {replaceOn: []string{"path", "type"}, compute: func(_ string, in resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
			out := in.Copy()
			if _, ok := out["path"]; !ok {
				out["path"] = resource.NewStringProperty(str(in, "type", ""))
			}
			out["accessor"] = accessor("auth_"+str(in, "type", ""), preview)
			return str(out, "path", ""), out, nil
		}, update: keepComputed("accessor")},
		"vault:kubernetes/authBackendConfig:AuthBackendConfig": {replaceOn: []string{"backend"}, compute: func(_ string, in resource.PropertyMap, _ bool) (string, resource.PropertyMap, error) {
			return fmt.Sprintf("auth/%s/config", str(in, "backend", "kubernetes")), in.Copy(), nil
		}},
		"vault:kubernetes/authBackendRole:AuthBackendRole": {replaceOn: []string{"backend", "roleName"}, compute: func(_ string, in resource.PropertyMap, _ bool) (string, resource.PropertyMap, error) {
			return fmt.Sprintf("auth/%s/role/%s", str(in, "backend", "kubernetes"), str(in, "roleName", "")), in.Copy(), nil
		}},
		"vault:appRole/authBackendRole:AuthBackendRole": {replaceOn: []string{"backend", "roleName"}, compute: func(_ string, in resource.PropertyMap, _ bool) (string, resource.PropertyMap, error) {
			return fmt.Sprintf("auth/%s/role/%s", str(in, "backend", "approle"), str(in, "roleName", "")), in.Copy(), nil
		}},
		"vault:kv/secretV2:SecretV2": {replaceOn: []string{"mount", "name", "namespace"}, compute: computeSecretV2, update: func(_, news resource.PropertyMap) resource.PropertyMap {
			_, out, _ := computeSecretV2("", news, false)
			return out
		}},
	}
}

// computeSecretV2 records the KV v2 secret: path <mount>/data/<name>, and `data` (secret) parsed from dataJson.
func computeSecretV2(_ string, in resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	out := in.Copy()
	mount, name := str(in, "mount", ""), str(in, "name", "")
	id := fmt.Sprintf("%s/data/%s", mount, name)
	out["path"] = resource.NewStringProperty(id)
	raw, ok := in["dataJson"]
	switch {
	case !ok:
	case reveal(raw).IsString():
		var data map[string]any
		if err := json.Unmarshal([]byte(reveal(raw).StringValue()), &data); err != nil {
			return "", nil, fmt.Errorf("vault TEST provider: dataJson of %s is not a JSON object: %w", id, err)
		}
		out["data"] = resource.MakeSecret(resource.NewObjectProperty(resource.NewPropertyMapFromMap(data)))
	case preview:
		out["data"] = resource.MakeSecret(resource.MakeComputed(resource.NewStringProperty("")))
	}
	return id, out, nil
}

func accessor(prefix string, preview bool) resource.PropertyValue {
	if preview {
		return resource.MakeComputed(resource.NewStringProperty(""))
	}
	buf := make([]byte, 4)
	_, _ = rand.Read(buf)
	return resource.NewStringProperty(fmt.Sprintf("%s_%s", prefix, hex.EncodeToString(buf)))
}

// keepComputed: an in-place update takes the new inputs and keeps the named computed outputs.
func keepComputed(keys ...string) func(olds, news resource.PropertyMap) resource.PropertyMap {
	return func(olds, news resource.PropertyMap) resource.PropertyMap {
		out := news.Copy()
		for _, k := range keys {
			if v, ok := olds[resource.PropertyKey(k)]; ok {
				out[resource.PropertyKey(k)] = v
			}
		}
		return out
	}
}
