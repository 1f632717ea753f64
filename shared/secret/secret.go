package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Keys AWS's rotation templates read and write.
const (
	KeyEngine               = "engine"
	KeyHost                 = "host"
	KeyPort                 = "port"
	KeyUsername             = "username"
	KeyPassword             = "password"
	KeyDBName               = "dbname"
	KeySSL                  = "ssl"
	KeyMasterARN            = "masterarn"
	KeyDBClusterIdentifier  = "dbClusterIdentifier"
	KeyDBInstanceIdentifier = "dbInstanceIdentifier"
	// KeyStrategy selects a rotation strategy where an engine has several
	// ("single-user", "alternating-users", "dual-password"). It is Rotary's own key.
	KeyStrategy = "rotationStrategy"
)

// MaxSize is the largest SecretString Secrets Manager stores, in bytes.
const MaxSize = 65536

// ErrInvalid is wrapped by every validation error of this package.
var ErrInvalid = errors.New("invalid secret")

// KeyError reports a problem with one key of a secret. Its message names the key
// and the problem, never the key's value.
type KeyError struct {
	Key     string
	Problem string
}

// Error implements error.
func (e *KeyError) Error() string {
	return fmt.Sprintf("invalid secret: key %q %s", e.Key, e.Problem)
}

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *KeyError) Unwrap() error { return ErrInvalid }

// Value is one version of a secret. The zero Value is empty. Values are plain
// data: copy them with Clone before changing Extra in a copy.
type Value struct {
	Engine               string
	Host                 string
	Port                 int
	Username             string
	Password             string
	DBName               string
	SSL                  *bool // nil when the secret has no ssl key
	MasterARN            string
	DBClusterIdentifier  string
	DBInstanceIdentifier string

	// Extra holds every other key exactly as it was read, so a round trip keeps
	// keys Rotary does not know.
	Extra map[string]json.RawMessage

	// portString records that port was stored as a string, so it is written back
	// the same way.
	portString bool
}

// Parse decodes a SecretString. It accepts port as a number or a numeric string
// and ssl as a boolean or "true"/"false", like AWS's templates. It checks types
// only; use Require to check that keys are present.
func Parse(data []byte) (Value, error) {
	var v Value
	if len(data) > MaxSize {
		return v, fmt.Errorf("%w: value is %d bytes, more than %d", ErrInvalid, len(data), MaxSize)
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		// The decoder's message may quote part of the input; never return it.
		return v, fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	// More misses a stray '}' or ']'; only the end of input is acceptable here.
	if _, err := dec.Token(); err != io.EOF {
		return v, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalid)
	}
	if raw == nil {
		return v, fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	strs := []struct {
		key string
		dst *string
	}{
		{KeyEngine, &v.Engine}, {KeyHost, &v.Host}, {KeyUsername, &v.Username},
		{KeyPassword, &v.Password}, {KeyDBName, &v.DBName}, {KeyMasterARN, &v.MasterARN},
		{KeyDBClusterIdentifier, &v.DBClusterIdentifier}, {KeyDBInstanceIdentifier, &v.DBInstanceIdentifier},
	}
	for _, s := range strs {
		msg, ok := raw[s.key]
		if !ok || isNull(msg) {
			delete(raw, s.key)
			continue
		}
		if err := json.Unmarshal(msg, s.dst); err != nil {
			return Value{}, &KeyError{Key: s.key, Problem: "must be a string"}
		}
		delete(raw, s.key)
	}
	if msg, ok := raw[KeyPort]; ok && !isNull(msg) {
		port, asString, err := parsePort(msg)
		if err != nil {
			return Value{}, err
		}
		v.Port, v.portString = port, asString
	}
	delete(raw, KeyPort)
	if msg, ok := raw[KeySSL]; ok && !isNull(msg) {
		b, err := parseBool(msg)
		if err != nil {
			return Value{}, &KeyError{Key: KeySSL, Problem: `must be true, false, "true" or "false"`}
		}
		v.SSL = &b
	}
	delete(raw, KeySSL)
	if len(raw) > 0 {
		v.Extra = raw
	}
	return v, nil
}

func isNull(msg json.RawMessage) bool { return string(bytes.TrimSpace(msg)) == "null" }

func parsePort(msg json.RawMessage) (port int, asString bool, err error) {
	bad := &KeyError{Key: KeyPort, Problem: "must be a whole number from 1 to 65535"}
	var s string
	if json.Unmarshal(msg, &s) == nil {
		asString = true
	} else {
		var n json.Number
		if json.Unmarshal(msg, &n) != nil {
			return 0, false, bad
		}
		s = n.String()
	}
	p, convErr := strconv.Atoi(strings.TrimSpace(s))
	if convErr != nil || p < 1 || p > 65535 {
		return 0, false, bad
	}
	return p, asString, nil
}

func parseBool(msg json.RawMessage) (bool, error) {
	var b bool
	if json.Unmarshal(msg, &b) == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(msg, &s); err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// MarshalStored returns the JSON to store in Secrets Manager: the value with
// its real credentials, keys in a stable order, every Extra key unchanged,
// <, > and & as they are. It is the one named way to get a Value's credentials
// out as text; never log its result.
func (v Value) MarshalStored() ([]byte, error) {
	m := make(map[string]any, len(v.Extra)+10)
	for k, raw := range v.Extra {
		m[k] = raw
	}
	put := func(k, s string) {
		if s != "" {
			m[k] = s
		}
	}
	put(KeyEngine, v.Engine)
	put(KeyHost, v.Host)
	put(KeyUsername, v.Username)
	put(KeyPassword, v.Password)
	put(KeyDBName, v.DBName)
	put(KeyMasterARN, v.MasterARN)
	put(KeyDBClusterIdentifier, v.DBClusterIdentifier)
	put(KeyDBInstanceIdentifier, v.DBInstanceIdentifier)
	if v.Port != 0 {
		if v.portString {
			m[KeyPort] = strconv.Itoa(v.Port)
		} else {
			m[KeyPort] = v.Port
		}
	}
	if v.SSL != nil {
		m[KeySSL] = *v.SSL
	}
	// encoding/json sorts map keys, so output is deterministic. HTML escaping is
	// off so passwords with <, > or & are stored as they are.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode secret: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// StoredJSON is MarshalStored as a string, for building a SecretString; it
// is "" when Extra holds a key that is not valid JSON (Parse and Set never
// make one). It holds the real credentials: never log it.
func (v Value) StoredJSON() string {
	b, err := v.MarshalStored()
	if err != nil {
		return ""
	}
	return string(b)
}

// MarshalJSON writes what MarshalStored writes, so a Value inside a struct or
// map encodes to its real value (encoding/json HTML-escapes it). Code that
// stores a Value calls MarshalStored or StoredJSON by name.
func (v Value) MarshalJSON() ([]byte, error) { return v.MarshalStored() }

// String describes the value without its credentials: the engine, host,
// port, username and dbname only. Use StoredJSON for the JSON to store.
func (v Value) String() string { return "secret.Value" + v.describe() }

// GoString keeps %#v from printing credentials.
func (v Value) GoString() string { return "secret.Value" + v.describe() }

// Format keeps %v, %+v, %s and every other verb from printing credentials.
func (v Value) Format(f fmt.State, verb rune) { fmt.Fprint(f, v.String()) }

func (v Value) describe() string {
	return fmt.Sprintf("{engine=%q host=%q port=%d username=%q dbname=%q}", v.Engine, v.Host, v.Port, v.Username, v.DBName)
}

// LogValue implements slog.LogValuer: only keys that are never secret are
// logged, and the names (not values) of extra keys.
func (v Value) LogValue() slog.Value {
	attrs := []slog.Attr{}
	add := func(k, s string) {
		if s != "" {
			attrs = append(attrs, slog.String(k, s))
		}
	}
	add(KeyEngine, v.Engine)
	add(KeyHost, v.Host)
	if v.Port != 0 {
		attrs = append(attrs, slog.Int(KeyPort, v.Port))
	}
	add(KeyUsername, v.Username)
	add(KeyDBName, v.DBName)
	add(KeyMasterARN, v.MasterARN)
	if v.SSL != nil {
		attrs = append(attrs, slog.Bool(KeySSL, *v.SSL))
	}
	if len(v.Extra) > 0 {
		attrs = append(attrs, slog.Any("extraKeys", slices.Sorted(maps.Keys(v.Extra))))
	}
	return slog.GroupValue(attrs...)
}

// Clone returns a deep copy.
func (v Value) Clone() Value {
	c := v
	if v.SSL != nil {
		b := *v.SSL
		c.SSL = &b
	}
	if v.Extra != nil {
		c.Extra = make(map[string]json.RawMessage, len(v.Extra))
		for k, raw := range v.Extra {
			c.Extra[k] = slices.Clone(raw)
		}
	}
	return c
}

// Require checks that each named key is present and not empty. The error names
// the first missing key.
func (v Value) Require(keys ...string) error {
	for _, k := range keys {
		if !v.Has(k) {
			return &KeyError{Key: k, Problem: "is missing or empty"}
		}
	}
	return nil
}

// Has reports whether key is present with a non-empty value.
func (v Value) Has(key string) bool {
	switch key {
	case KeyEngine:
		return v.Engine != ""
	case KeyHost:
		return v.Host != ""
	case KeyPort:
		return v.Port != 0
	case KeyUsername:
		return v.Username != ""
	case KeyPassword:
		return v.Password != ""
	case KeyDBName:
		return v.DBName != ""
	case KeySSL:
		return v.SSL != nil
	case KeyMasterARN:
		return v.MasterARN != ""
	case KeyDBClusterIdentifier:
		return v.DBClusterIdentifier != ""
	case KeyDBInstanceIdentifier:
		return v.DBInstanceIdentifier != ""
	}
	s, ok := v.Get(key)
	return ok && s != ""
}

// Get returns an extra key's value when it is a JSON string.
func (v Value) Get(key string) (string, bool) {
	raw, ok := v.Extra[key]
	if !ok || isNull(raw) {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// Set stores s under an extra key. Use the fields for AWS's keys.
func (v *Value) Set(key, s string) {
	if v.Extra == nil {
		v.Extra = map[string]json.RawMessage{}
	}
	// Like MarshalStored, store <, > and & as they are, not as \u003c and so on.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	v.Extra[key] = bytes.TrimRight(buf.Bytes(), "\n")
}

// Delete removes an extra key.
func (v *Value) Delete(key string) { delete(v.Extra, key) }

// Strategy returns the rotationStrategy key, or "" when absent.
func (v Value) Strategy() string {
	s, _ := v.Get(KeyStrategy)
	return s
}

// safeExtraKeys are extra keys whose values are identifiers, not credentials.
var safeExtraKeys = map[string]bool{
	KeyStrategy: true, "accessKeyId": true, "apiKeyId": true, "apiKeyName": true, "keyId": true, "clientId": true,
	"accountSid": true, "appId": true, "orgUrl": true, "region": true, "adminSecretArn": true,
	// SaaS provider settings (rotators/saas): a host, an OAuth method name, a
	// SendGrid subuser name.
	"baseUrl": true, "tokenEndpointAuthMethod": true, "onBehalfOf": true,
	// ElastiCache RBAC user (rotators/elasticache, AWS's template's key).
	"user_arn": true,
	// LDAP (rotators/ldap): how TLS starts, "ldaps" or "starttls".
	"tlsMode": true,
}

// IdentifierKeys lists, sorted, the extra keys whose string values are
// identifiers, not credentials: Secrets leaves them out. The engine table
// (functions/internal/registry.Table) names the same keys per engine.
func IdentifierKeys() []string { return slices.Sorted(maps.Keys(safeExtraKeys)) }

// Secrets returns every value in v that must never be printed: the password
// and every leaf of every extra key not known to hold an identifier, however
// deeply nested in objects and arrays: strings as they decode, numbers in
// their JSON text. Booleans and null are not secrets. An identifier key
// (safeExtraKeys) is skipped only when it holds a string. The redacting
// decorators use it.
func (v Value) Secrets() []string {
	var out []string
	if v.Password != "" {
		out = append(out, v.Password)
	}
	for k, raw := range v.Extra {
		if safeExtraKeys[k] {
			if _, ok := v.Get(k); ok {
				continue
			}
		}
		out = appendLeaves(out, raw)
	}
	return out
}

// appendLeaves appends the string and number leaves of a JSON value (object
// keys are names, not values, and are left out).
func appendLeaves(out []string, raw json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if dec.Decode(&x) != nil {
		return out // Parse already checked the syntax
	}
	return appendLeaf(out, x)
}

func appendLeaf(out []string, x any) []string {
	switch x := x.(type) {
	case string:
		if x != "" {
			out = append(out, x)
		}
	case json.Number:
		out = append(out, x.String())
	case []any:
		for _, e := range x {
			out = appendLeaf(out, e)
		}
	case map[string]any:
		for _, e := range x {
			out = appendLeaf(out, e)
		}
	}
	return out
}
