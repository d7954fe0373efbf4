package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/bcrypt"
)

const (
	lowerChars   = "abcdefghijklmnopqrstuvwxyz"
	upperChars   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	numericChars = "0123456789"
	// The random provider's default special characters.
	specialChars = "!@#$%&*()-_=+[]{}<>:?"
)

// randomKinds: every input of a random resource forces a new value, as in the real provider (keepers included).
func randomKinds() map[string]resourceKind {
	return map[string]resourceKind{
		"random:index/randomPassword:RandomPassword": {replaceAll: true, compute: computePassword},
		"random:index/randomBytes:RandomBytes":       {replaceAll: true, compute: computeBytes},
	}
}

func num(m resource.PropertyMap, key string, def float64) (float64, bool) {
	v, ok := m[resource.PropertyKey(key)]
	if !ok || v.IsNull() {
		return def, true
	}
	v = reveal(v)
	if v.IsComputed() || v.IsOutput() {
		return 0, false
	}
	if !v.IsNumber() {
		return def, true
	}
	return v.NumberValue(), true
}

func flag(m resource.PropertyMap, key string, def bool) bool {
	v, ok := m[resource.PropertyKey(key)]
	if !ok || v.IsNull() {
		return def
	}
	v = reveal(v)
	if v.IsBool() {
		return v.BoolValue()
	}
	return def
}

func str(m resource.PropertyMap, key, def string) string {
	v, ok := m[resource.PropertyKey(key)]
	if !ok || v.IsNull() {
		return def
	}
	v = reveal(v)
	if v.IsString() {
		return v.StringValue()
	}
	return def
}

func randIndex(n int) (int, error) {
	i, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(i.Int64()), nil
}

func pick(set string) (byte, error) {
	i, err := randIndex(len(set))
	if err != nil {
		return 0, err
	}
	return set[i], nil
}

// generatePassword follows the random provider: the minimum count of each enabled class first, the rest from
// every enabled class, then a crypto/rand shuffle.
func generatePassword(inputs resource.PropertyMap) (string, error) {
	length, _ := num(inputs, "length", 0)
	if length < 1 {
		return "", fmt.Errorf("random TEST provider: length must be at least 1, got %v", length)
	}
	special := specialChars
	if o := str(inputs, "overrideSpecial", ""); o != "" {
		special = o
	}
	type class struct {
		chars string
		on    bool
		min   string
	}
	classes := []class{
		{lowerChars, flag(inputs, "lower", true), "minLower"},
		{upperChars, flag(inputs, "upper", true), "minUpper"},
		{numericChars, flag(inputs, "numeric", flag(inputs, "number", true)), "minNumeric"},
		{special, flag(inputs, "special", true), "minSpecial"},
	}
	var all string
	var out []byte
	for _, c := range classes {
		if !c.on {
			continue
		}
		all += c.chars
		n, _ := num(inputs, c.min, 0)
		for i := 0; i < int(n); i++ {
			b, err := pick(c.chars)
			if err != nil {
				return "", err
			}
			out = append(out, b)
		}
	}
	if all == "" {
		return "", fmt.Errorf("random TEST provider: at least one of lower, upper, numeric and special must be enabled")
	}
	if len(out) > int(length) {
		return "", fmt.Errorf("random TEST provider: length %v is less than the sum of the minimums (%d)", length, len(out))
	}
	for len(out) < int(length) {
		b, err := pick(all)
		if err != nil {
			return "", err
		}
		out = append(out, b)
	}
	for i := len(out) - 1; i > 0; i-- {
		j, err := randIndex(i + 1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

func computePassword(_ string, inputs resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	outputs := inputs.Copy()
	for key, def := range map[string]bool{"lower": true, "upper": true, "numeric": true, "special": true} {
		if _, ok := outputs[resource.PropertyKey(key)]; !ok {
			outputs[resource.PropertyKey(key)] = resource.NewBoolProperty(def)
		}
	}
	_, known := num(inputs, "length", 0)
	if preview || !known || inputs.ContainsUnknowns() {
		outputs["result"] = resource.MakeSecret(resource.MakeComputed(resource.NewStringProperty("")))
		outputs["bcryptHash"] = resource.MakeSecret(resource.MakeComputed(resource.NewStringProperty("")))
		return "", outputs, nil
	}
	pw, err := generatePassword(inputs)
	if err != nil {
		return "", nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", nil, err
	}
	outputs["result"] = resource.MakeSecret(resource.NewStringProperty(pw))
	outputs["bcryptHash"] = resource.MakeSecret(resource.NewStringProperty(string(hash)))
	return "none", outputs, nil
}

func computeBytes(_ string, inputs resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	outputs := inputs.Copy()
	length, known := num(inputs, "length", 0)
	if preview || !known {
		outputs["base64"] = resource.MakeSecret(resource.MakeComputed(resource.NewStringProperty("")))
		outputs["hex"] = resource.MakeSecret(resource.MakeComputed(resource.NewStringProperty("")))
		return "", outputs, nil
	}
	if length < 1 {
		return "", nil, fmt.Errorf("random TEST provider: length must be at least 1, got %v", length)
	}
	buf := make([]byte, int(length))
	if _, err := rand.Read(buf); err != nil {
		return "", nil, err
	}
	outputs["base64"] = resource.MakeSecret(resource.NewStringProperty(base64.StdEncoding.EncodeToString(buf)))
	outputs["hex"] = resource.MakeSecret(resource.NewStringProperty(hex.EncodeToString(buf)))
	return "none", outputs, nil
}
