package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/pulumi/pulumi/pkg/v3/resource/provider"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// resourceKind is what the test provider knows about one resource type token.
type resourceKind struct {
	// replaceOn lists input keys whose change replaces the resource; nil with replaceAll: every key.
	replaceOn  []string
	replaceAll bool
	// defaults fills input defaults in Check (the real providers report defaulted inputs the same way).
	defaults func(inputs resource.PropertyMap)
	// compute returns the outputs of a create from the checked inputs; preview: unknowns allowed.
	compute func(name string, inputs resource.PropertyMap, preview bool) (id string, outputs resource.PropertyMap, err error)
	// update returns the outputs of an in-place update (default: new inputs plus the old computed outputs).
	update func(olds, news resource.PropertyMap) resource.PropertyMap
}

type server struct {
	pulumirpc.UnimplementedResourceProviderServer
	host    *provider.HostClient
	name    string
	version string
	kinds   map[string]resourceKind
	warned  sync.Once
}

func newServer(host *provider.HostClient, name, version string, kinds map[string]resourceKind) *server {
	return &server{host: host, name: name, version: version, kinds: kinds}
}

var unmarshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, SkipNulls: true}

func unmarshal(s *structpb.Struct, label string) (resource.PropertyMap, error) {
	opts := unmarshalOpts
	opts.Label = label
	return plugin.UnmarshalProperties(s, opts)
}

func marshal(m resource.PropertyMap, label string, keepUnknowns bool) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{Label: label, KeepUnknowns: keepUnknowns, KeepSecrets: true, KeepResources: true})
}

func (s *server) describe() string {
	switch s.name {
	case "vault":
		return "vault TEST provider (airflow-platform tools/go/testproviders): records resources in Pulumi state only, no Vault server is contacted"
	case "random":
		return "random TEST provider (airflow-platform tools/go/testproviders): crypto/rand values kept in Pulumi state"
	default:
		return fmt.Sprintf("%s TEST provider (airflow-platform tools/go/testproviders): no resources or invokes are implemented", s.name)
	}
}

func (s *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: s.version}, nil
}

func (s *server) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	spec := map[string]any{
		"name":        s.name,
		"version":     s.version,
		"description": s.describe(),
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetSchemaResponse{Schema: string(b)}, nil
}

func (s *server) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true, AcceptOutputs: false}, nil
}

func (s *server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *server) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOldInputs(), "olds")
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "news")
	if err != nil {
		return nil, err
	}
	changed := changedKeys(olds, news)
	if len(changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: changed}, nil
}

func (s *server) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	s.warn("")
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

// warn tells the user, once per process, that this is a test provider (random: only in the engine's log).
func (s *server) warn(urn resource.URN) {
	s.warned.Do(func() {
		if s.host == nil {
			return
		}
		sev := diag.Warning
		if s.name == "random" {
			sev = diag.Debug
		}
		_ = s.host.Log(ctxBackground, sev, urn, s.describe())
	})
}

func (s *server) kind(token string) (resourceKind, error) {
	k, ok := s.kinds[token]
	if !ok {
		return resourceKind{}, status.Errorf(codes.Unimplemented, "%s: resource type %s is not implemented", s.describe(), token)
	}
	return k, nil
}

func (s *server) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	return nil, status.Errorf(codes.Unimplemented, "%s: invoke %s is not implemented", s.describe(), req.GetTok())
}

func (s *server) Call(_ context.Context, req *pulumirpc.CallRequest) (*pulumirpc.CallResponse, error) {
	return nil, status.Errorf(codes.Unimplemented, "%s: call %s is not implemented", s.describe(), req.GetTok())
}

func (s *server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	urn := resource.URN(req.GetUrn())
	k, err := s.kind(string(urn.Type()))
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "check.news")
	if err != nil {
		return nil, err
	}
	if k.defaults != nil {
		k.defaults(news)
	}
	inputs, err := marshal(news, "check.inputs", true)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs}, nil
}

func (s *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	urn := resource.URN(req.GetUrn())
	k, err := s.kind(string(urn.Type()))
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOldInputs(), "diff.oldInputs")
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 {
		// State written without old inputs: compare with the outputs (they contain every input).
		if olds, err = unmarshal(req.GetOlds(), "diff.olds"); err != nil {
			return nil, err
		}
	}
	news, err := unmarshal(req.GetNews(), "diff.news")
	if err != nil {
		return nil, err
	}
	ignore := map[string]bool{}
	for _, key := range req.GetIgnoreChanges() {
		ignore[key] = true
	}
	var changed, replaces []string
	for _, key := range changedKeys(olds, news) {
		if ignore[key] {
			continue
		}
		changed = append(changed, key)
		if k.replaceAll || contains(k.replaceOn, key) {
			replaces = append(replaces, key)
		}
	}
	if len(changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: changed, Replaces: replaces}, nil
}

func (s *server) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	urn := resource.URN(req.GetUrn())
	s.warn(urn)
	k, err := s.kind(string(urn.Type()))
	if err != nil {
		return nil, err
	}
	inputs, err := unmarshal(req.GetProperties(), "create.properties")
	if err != nil {
		return nil, err
	}
	id, outputs, err := k.compute(urn.Name(), inputs, req.GetPreview())
	if err != nil {
		return nil, err
	}
	if s.name == "vault" {
		outputs["testProvider"] = resource.NewStringProperty(s.describe())
	}
	props, err := marshal(outputs, "create.outputs", req.GetPreview())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		id = ""
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (s *server) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	urn := resource.URN(req.GetUrn())
	k, err := s.kind(string(urn.Type()))
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds(), "update.olds")
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "update.news")
	if err != nil {
		return nil, err
	}
	var outputs resource.PropertyMap
	if k.update != nil {
		outputs = k.update(olds, news)
	} else {
		outputs = olds.Copy()
		for key, v := range news {
			outputs[key] = v
		}
	}
	props, err := marshal(outputs, "update.outputs", req.GetPreview())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// Read (refresh) returns the recorded state unchanged: nothing outside Pulumi state exists for these resources.
func (s *server) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (s *server) Delete(context.Context, *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (s *server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (s *server) GetMapping(context.Context, *pulumirpc.GetMappingRequest) (*pulumirpc.GetMappingResponse, error) {
	return &pulumirpc.GetMappingResponse{}, nil
}

// changedKeys lists the top-level keys whose values differ, secretness aside.
func changedKeys(olds, news resource.PropertyMap) []string {
	keys := map[resource.PropertyKey]bool{}
	for k := range olds {
		keys[k] = true
	}
	for k := range news {
		keys[k] = true
	}
	var changed []string
	for k := range keys {
		if k == "testProvider" {
			continue
		}
		o, n := olds[k], news[k]
		if n.ContainsUnknowns() || !reveal(o).DeepEquals(reveal(n)) {
			changed = append(changed, string(k))
		}
	}
	sort.Strings(changed)
	return changed
}

// reveal strips secret markers (deeply), so a value that only changed secretness is not a change.
func reveal(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return reveal(v.SecretValue().Element)
	case v.IsArray():
		arr := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			arr[i] = reveal(e)
		}
		return resource.NewArrayProperty(arr)
	case v.IsObject():
		obj := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			obj[k] = reveal(e)
		}
		return resource.NewObjectProperty(obj)
	}
	return v
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
