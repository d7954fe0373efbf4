// Command testproviders is a TEST resource provider for the Pulumi engine, built for running this repository's
// dev stack offline (the registries here serve neither the random, vault, aws nor docker-build provider plugins).
//
// One binary, installed under several names; it picks its package from the name it is started as:
//
//   - pulumi-resource-random: RandomPassword and RandomBytes, generated with crypto/rand, marked secret, and kept
//     in state (a second `pulumi up` with the same inputs keeps the value; a changed input replaces it), like
//     the real provider.
//   - pulumi-resource-vault: records the resources of the dev stack (Provider, Audit, Mount, Policy, AuthBackend,
//     kubernetes.AuthBackendConfig/AuthBackendRole, kv.SecretV2) in Pulumi state only. No Vault server is contacted;
//     it says so in a warning at Configure and in every resource's `testProvider` output.
//   - pulumi-resource-aws, pulumi-resource-docker-build: answer the provider handshake (CheckConfig/Configure) so
//     the engine can load them, and reject every resource and invoke: the dev stack uses none.
//
// Versions (GetPluginInfo) are the SDK's version with "+airflow-platform.testprovider" build metadata.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/pkg/v3/resource/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Versions are stamped with -ldflags -X at build time (scripts/install/pulumi.sh); these are the repo's npm SDKs.
var (
	randomVersion      = "4.21.2"
	vaultVersion       = "7.8.0"
	awsVersion         = "7.48.0"
	dockerBuildVersion = "0.0.22"
)

const buildMeta = "+airflow-platform.testprovider"

func main() {
	name := strings.TrimPrefix(filepath.Base(os.Args[0]), "pulumi-resource-")
	if env := os.Getenv("AIRFLOW_PLATFORM_TESTPROVIDER"); env != "" {
		name = env
	}
	var version string
	var kinds map[string]resourceKind
	switch name {
	case "random":
		version, kinds = randomVersion, randomKinds()
	case "vault":
		version, kinds = vaultVersion, vaultKinds()
	case "aws":
		version, kinds = awsVersion, map[string]resourceKind{}
	case "docker-build":
		version, kinds = dockerBuildVersion, map[string]resourceKind{}
	default:
		fmt.Fprintf(os.Stderr, "testproviders: unknown provider %q (start it as pulumi-resource-{random,vault,aws,docker-build})\n", name)
		os.Exit(2)
	}
	err := provider.Main(name, func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return newServer(host, name, version+buildMeta, kinds), nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s test provider: %v\n", name, err)
		os.Exit(1)
	}
}

// ctxBackground is used for host log calls that have no request context.
var ctxBackground = context.Background()
