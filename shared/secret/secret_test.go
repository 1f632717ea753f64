package secret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// canary is a marker put into every value of a test secret; no error or log
// text may ever contain it.
const canary = "CANARY-9f2c41"

var stringKeys = []string{
	secret.KeyEngine, secret.KeyHost, secret.KeyUsername, secret.KeyPassword, secret.KeyDBName,
	secret.KeyMasterARN, secret.KeyDBClusterIdentifier, secret.KeyDBInstanceIdentifier,
}

func mustParse(t *testing.T, s string) secret.Value {
	t.Helper()
	v, err := secret.Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return v
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b
}

// stored returns the JSON Rotary stores for v (MarshalStored, as StoredJSON
// does). json.Marshal gives the same JSON with <, > and & escaped.
func stored(t *testing.T, v secret.Value) []byte {
	t.Helper()
	b, err := v.MarshalStored()
	if err != nil {
		t.Fatalf("MarshalStored: %v", err)
	}
	return b
}

// decodeAny decodes JSON keeping numbers exact, for semantic comparison.
func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return out
}

func TestRoundTripKeepsEveryKey(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"aws keys", `{"engine":"postgres","host":"db.example.com","port":5432,"username":"app","password":"pw","dbname":"app","ssl":true,"masterarn":"arn:aws:secretsmanager:us-east-1:111122223333:secret:master-AbCdEf","dbClusterIdentifier":"c1","dbInstanceIdentifier":"i1"}`},
		{"port as string", `{"port":"3306","username":"u"}`},
		{"unknown keys of every type", `{"password":"pw","nested":{"b":[1,2.50,"x<y&z"],"a":null},"big":123456789012345678901234567890,"float":1.50,"neg":-0.0e1,"t":true,"f":false,"n":null,"arr":[],"obj":{},"esc":"caf\u00e9 \"q\" \\ \/"}`},
		{"unknown key with known key's name in another case", `{"Password":"other","PORT":"x"}`},
		{"unicode", `{"username":"ユーザー","note":"😀"}`},
		{"empty object", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := mustParse(t, tt.in)
			out := stored(t, v)
			if diff := cmp.Diff(decodeAny(t, out), decodeAny(t, []byte(tt.in))); diff != "" {
				t.Errorf("marshal(parse(in)) differs from in (-got +want):\n%s", diff)
			}
			// Unknown keys are kept byte for byte (the inputs are compact).
			var want map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tt.in), &want); err != nil {
				t.Fatal(err)
			}
			v2 := mustParse(t, string(out))
			for k, raw := range v2.Extra {
				if !bytes.Equal(raw, want[k]) {
					t.Errorf("Extra[%q] = %s after a round trip, want %s", k, raw, want[k])
				}
			}
			if diff := cmp.Diff(v2, v, cmpopts.IgnoreUnexported(secret.Value{})); diff != "" {
				t.Errorf("parse(marshal(v)) differs (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(decodeAny(t, mustMarshal(t, v)), decodeAny(t, []byte(tt.in))); diff != "" {
				t.Errorf("json.Marshal(parse(in)) differs from in (-got +want):\n%s", diff)
			}
		})
	}
}

func TestRoundTripReindentedExtra(t *testing.T) {
	in := "{\n  \"opts\" : { \"a\" : [ 1 , 2 ] },\n  \"password\" : \"pw\"\n}\n"
	v := mustParse(t, in)
	out := stored(t, v)
	if diff := cmp.Diff(decodeAny(t, out), decodeAny(t, []byte(in))); diff != "" {
		t.Errorf("round trip (-got +want):\n%s", diff)
	}
}

func TestParseFields(t *testing.T) {
	v := mustParse(t, `{"engine":"mysql","host":"h","port":3306,"username":"u","password":"p","dbname":"d","ssl":false,"masterarn":"m","dbClusterIdentifier":"c","dbInstanceIdentifier":"i","x":"y"}`)
	f := false
	want := secret.Value{
		Engine: "mysql", Host: "h", Port: 3306, Username: "u", Password: "p", DBName: "d", SSL: &f,
		MasterARN: "m", DBClusterIdentifier: "c", DBInstanceIdentifier: "i",
		Extra: map[string]json.RawMessage{"x": json.RawMessage(`"y"`)},
	}
	if diff := cmp.Diff(v, want, cmpopts.IgnoreUnexported(secret.Value{})); diff != "" {
		t.Errorf("Parse (-got +want):\n%s", diff)
	}
}

func TestParseNullKnownKeysAreAbsent(t *testing.T) {
	v := mustParse(t, `{"password":null,"port":null,"ssl":null,"host":"h"}`)
	if v.Password != "" || v.Port != 0 || v.SSL != nil || v.Extra != nil {
		t.Errorf("Parse = %#v with Password %v, Port %d, SSL %v, Extra %v; want null keys absent", v, v.Password != "", v.Port, v.SSL, v.Extra)
	}
}

func TestParsePort(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    int
		wantOut string // port as marshalled
	}{
		{"number", `5432`, 5432, `5432`},
		{"string", `"5432"`, 5432, `"5432"`},
		{"min", `1`, 1, `1`},
		{"max", `65535`, 65535, `65535`},
		{"string max", `"65535"`, 65535, `"65535"`},
		{"string with spaces", `" 3306 "`, 3306, `"3306"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := mustParse(t, `{"port":`+tt.raw+`}`)
			if v.Port != tt.want {
				t.Errorf("Port = %d, want %d", v.Port, tt.want)
			}
			got := string(mustMarshal(t, v))
			if want := `{"port":` + tt.wantOut + `}`; got != want {
				t.Errorf("marshal = %s, want %s", got, want)
			}
		})
	}
}

func TestParseInvalidPort(t *testing.T) {
	for _, raw := range []string{`0`, `65536`, `-1`, `"abc"`, `1.5`, `true`, `false`, `""`, `"1.5"`, `"0"`, `"65536"`, `[]`, `{}`, `[5432]`, `1e3`, `"0x10"`, `99999999999999999999`} {
		t.Run(raw, func(t *testing.T) {
			_, err := secret.Parse([]byte(`{"port":` + raw + `}`))
			assertKeyError(t, err, secret.KeyPort)
		})
	}
}

func assertKeyError(t *testing.T, err error, key string) {
	t.Helper()
	var ke *secret.KeyError
	if !errors.As(err, &ke) {
		t.Fatalf("error = %v, want a *secret.KeyError", err)
	}
	if ke.Key != key {
		t.Errorf("KeyError.Key = %q, want %q", ke.Key, key)
	}
	if !errors.Is(err, secret.ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	if !strings.Contains(err.Error(), key) {
		t.Errorf("error %q does not name the key %q", err, key)
	}
}

func TestParseSSL(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{`true`, true}, {`false`, false}, {`"true"`, true}, {`"false"`, false},
		{`"TRUE"`, true}, {`"False"`, false}, {`"tRuE"`, true}, {`" true "`, true},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			v := mustParse(t, `{"ssl":`+tt.raw+`}`)
			if v.SSL == nil || *v.SSL != tt.want {
				t.Fatalf("SSL = %v, want %v", v.SSL, tt.want)
			}
			if got, want := string(mustMarshal(t, v)), fmt.Sprintf(`{"ssl":%v}`, tt.want); got != want {
				t.Errorf("marshal = %s, want %s", got, want)
			}
		})
	}
}

func TestParseInvalidSSL(t *testing.T) {
	for _, raw := range []string{`1`, `0`, `"1"`, `"yes"`, `"on"`, `""`, `"t"`, `[]`, `{}`, `[true]`} {
		t.Run(raw, func(t *testing.T) {
			_, err := secret.Parse([]byte(`{"ssl":` + raw + `}`))
			assertKeyError(t, err, secret.KeySSL)
		})
	}
}

func TestParseStringKeyTypes(t *testing.T) {
	for _, key := range stringKeys {
		for _, raw := range []string{`1`, `true`, `{}`, `[]`, `["x"]`, `{"a":"b"}`} {
			t.Run(key+"="+raw, func(t *testing.T) {
				_, err := secret.Parse([]byte(`{"` + key + `":` + raw + `}`))
				assertKeyError(t, err, key)
			})
		}
	}
}

func TestParseMalformed(t *testing.T) {
	big := func(n int) string {
		// A valid JSON object of exactly n bytes.
		prefix := `{"k":"`
		return prefix + strings.Repeat("a", n-len(prefix)-2) + `"}`
	}
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ``},
		{"whitespace", `   `},
		{"null", `null`},
		{"array", `[]`},
		{"array of objects", `[{"password":"p"}]`},
		{"string", `"password"`},
		{"number", `1`},
		{"true", `true`},
		{"unterminated", `{"password":"p"`},
		{"bad syntax", `{password:"p"}`},
		{"trailing object", `{"a":1} {}`},
		{"trailing text", `{"a":1} x`},
		{"trailing number", `{} 1`},
		{"trailing brace", `{"a":1}}`},
		{"trailing bracket", `{"a":1}]`},
		{"trailing comma", `{"a":1},`},
		{"too large", big(secret.MaxSize + 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := secret.Parse([]byte(tt.in))
			if !errors.Is(err, secret.ErrInvalid) {
				t.Fatalf("Parse error = %v, want ErrInvalid", err)
			}
			var ke *secret.KeyError
			if errors.As(err, &ke) {
				t.Errorf("Parse error is a KeyError for %q, want a plain ErrInvalid", ke.Key)
			}
		})
	}
	t.Run("max size accepted", func(t *testing.T) {
		mustParse(t, big(secret.MaxSize))
	})
	t.Run("trailing whitespace accepted", func(t *testing.T) {
		mustParse(t, "{\"a\":1} \n\t\r\n")
	})
}

// TestErrorsNeverContainValues puts the canary into every value of inputs that
// fail in each possible way.
func TestErrorsNeverContainValues(t *testing.T) {
	c := func(suffix string) string { return `"` + canary + suffix + `"` }
	all := func(override string) string {
		var b strings.Builder
		b.WriteString(`{"x":` + c("x") + `,`)
		for _, k := range stringKeys {
			b.WriteString(`"` + k + `":` + c(k) + `,`)
		}
		b.WriteString(override + `}`)
		return b.String()
	}
	inputs := map[string]string{
		"bad port string":   all(`"port":` + c("port")),
		"bad port number":   all(`"port":70000`),
		"bad ssl":           all(`"ssl":` + c("ssl")),
		"truncated":         `{"password":` + c("") + `,"host":"` + canary,
		"array":             `[` + c("") + `]`,
		"string":            c(""),
		"trailing":          all(`"port":1`) + c(""),
		"trailing brace":    all(`"port":1`) + `}` + c(""),
		"syntax in value":   `{"password":` + c("") + `,"port":` + canary + `}`,
		"bad escape":        `{"password":"` + canary + `\q"}`,
		"bad utf8 key":      `{"` + canary + "\xff" + `":1,`,
		"too large":         `{"password":"` + strings.Repeat(canary, secret.MaxSize/len(canary)+1) + `"}`,
		"duplicate and bad": `{"password":` + c("1") + `,"password":[` + c("2") + `]}`,
	}
	for _, k := range stringKeys {
		inputs["non-string "+k] = strings.Replace(all(`"port":1`), `"`+k+`":`+c(k), `"`+k+`":[`+c(k)+`]`, 1)
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			_, err := secret.Parse([]byte(in))
			if err == nil {
				t.Fatalf("Parse(%s) succeeded, want an error", in)
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(s, canary) {
					t.Errorf("error text %q contains a value from the input", s)
				}
			}
		})
	}
	t.Run("require", func(t *testing.T) {
		v := mustParse(t, all(`"port":1`))
		err := v.Require(secret.KeyPassword, secret.KeySSL)
		assertKeyError(t, err, secret.KeySSL)
		if strings.Contains(err.Error(), canary) {
			t.Errorf("Require error %q contains a value", err)
		}
	})
}

func canaryValue(t *testing.T) secret.Value {
	t.Helper()
	return mustParse(t, `{"engine":"postgres","host":"db.internal","port":5432,"username":"app_user","password":"pw-`+canary+`","dbname":"app","apiKey":"key-`+canary+`","nested":{"token":"tok-`+canary+`"},"list":["l-`+canary+`"]}`)
}

func TestValueNeverPrintsSecrets(t *testing.T) {
	v := canaryValue(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("value", "secret", v, "ptr", &v)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("value", "secret", v)
	outputs := map[string]string{
		"slog":    logs.String(),
		"%v":      fmt.Sprintf("%v", v),
		"%+v":     fmt.Sprintf("%+v", v),
		"%#v":     fmt.Sprintf("%#v", v),
		"%s":      fmt.Sprintf("%s", v),
		"%q":      fmt.Sprintf("%q", v),
		"%x":      fmt.Sprintf("%x", v),
		"%v ptr":  fmt.Sprintf("%v", &v),
		"%+v ptr": fmt.Sprintf("%+v", &v),
		"%#v ptr": fmt.Sprintf("%#v", &v),
		"in struct": fmt.Sprintf("%+v", struct {
			V secret.Value
			P *secret.Value
		}{v, &v}),
		"in slice":   fmt.Sprint([]secret.Value{v}),
		"wrapped":    fmt.Errorf("rotating %v: %w", v, errors.New("boom")).Error(),
		"Sprintln":   fmt.Sprintln(v),
		"LogValue":   v.LogValue().String(),
		"GoStringer": v.GoString(),
		"String":     v.String(),
		"Stringer":   fmt.Stringer(v).String(),
		"Print":      fmt.Sprint(v, &v),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, canary) {
				t.Errorf("output contains a secret value: %s", out)
			}
		})
	}
	t.Run("LogValue keeps identifiers", func(t *testing.T) {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "secret", v)
		var rec struct {
			Secret map[string]any `json:"secret"`
		}
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"engine": "postgres", "host": "db.internal", "port": float64(5432), "username": "app_user",
			"dbname": "app", "extraKeys": []any{"apiKey", "list", "nested"},
		}
		if diff := cmp.Diff(rec.Secret, want); diff != "" {
			t.Errorf("logged secret (-got +want):\n%s", diff)
		}
	})
}

func TestMarshalWritesRealValues(t *testing.T) {
	password := `<p&a"s\s>` + canary
	v := secret.Value{Username: "u", Password: password, Port: 5432}
	v.Set("apiKey", "<k&>")
	want := `{"apiKey":"<k&>","password":"<p&a\"s\\s>` + canary + `","port":5432,"username":"u"}`
	if got := string(stored(t, v)); got != want {
		t.Errorf("MarshalStored = %s\nwant %s", got, want)
	}
	if got := v.StoredJSON(); got != want {
		t.Errorf("StoredJSON = %s\nwant the stored JSON %s", got, want)
	}
	if got, err := v.MarshalJSON(); err != nil || string(got) != want {
		t.Errorf("MarshalJSON = %s, %v\nwant the stored JSON %s", got, err, want)
	}
	// json.Marshal HTML-escapes a Marshaler's output; the JSON still holds the
	// real password.
	for name, b := range map[string][]byte{
		"value":   mustMarshal(t, v),
		"pointer": mustMarshal(t, &v),
	} {
		t.Run(name, func(t *testing.T) {
			got := mustParse(t, string(b))
			if got.Password != password {
				t.Errorf("json.Marshal wrote password %q, want %q", got.Password, password)
			}
			if k, _ := got.Get("apiKey"); k != "<k&>" {
				t.Errorf("json.Marshal wrote apiKey %q, want %q", k, "<k&>")
			}
		})
	}
	t.Run("inside a struct", func(t *testing.T) {
		b := mustMarshal(t, struct {
			V secret.Value  `json:"v"`
			P *secret.Value `json:"p"`
		}{v, &v})
		var got map[string]map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"v", "p"} {
			if got[k]["password"] != password {
				t.Errorf("%s.password = %v, want %q", k, got[k]["password"], password)
			}
		}
	})
}

func TestSecrets(t *testing.T) {
	v := mustParse(t, `{"username":"u","password":"pw","apiKey":"k1","clientSecret":"cs","empty":"",`+
		`"num":12345,"obj":{"a":"b"},"rotationStrategy":"single-user","apiKeyId":"id1","keyId":"id2",`+
		`"clientId":"id3","accountSid":"AC1","appId":"app","orgUrl":"https://x","region":"us-east-1","adminSecretArn":"arn"}`)
	got := v.Secrets()
	slices.Sort(got)
	if diff := cmp.Diff(got, []string{"12345", "b", "cs", "k1", "pw"}); diff != "" {
		t.Errorf("Secrets (-got +want):\n%s", diff)
	}
	if got := (secret.Value{}).Secrets(); len(got) != 0 {
		t.Errorf("Secrets of the zero Value = %q, want none", got)
	}
}

// TestSecretsNested: every leaf under a key not known to hold an identifier is
// a secret, however deep, in arrays too; numbers count in their JSON text;
// booleans and null carry no secret. A known identifier key holding anything
// but a string is treated like any other key.
func TestSecretsNested(t *testing.T) {
	v := mustParse(t, `{"engine":"x","password":"pw-1","oauth":{"client":{"secret":"deep-secret-1"},`+
		`"scopes":["item-secret-2",12345678,true,null,{"c":"deeper-secret-3"}]},"pin":987654321,"flag":true,`+
		`"ratio":0.5e-3,"rotationStrategy":"single-user","apiKeyId":"id-1","clientId":{"hidden":"not-an-id-4"},`+
		`"esc":"a\"b\\c\u00e9<&>"}`)
	got := v.Secrets()
	slices.Sort(got)
	want := []string{"0.5e-3", "12345678", "987654321", `a"b\cé<&>`, "deep-secret-1", "deeper-secret-3", "item-secret-2", "not-an-id-4", "pw-1"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Secrets (-got +want):\n%s", diff)
	}
}

func TestRequire(t *testing.T) {
	f := false
	v := secret.Value{Host: "h", Port: 1, Username: "u", Password: "p", SSL: &f}
	v.Set("apiKey", "k")
	v.Set("emptyKey", "")
	tests := []struct {
		name    string
		keys    []string
		wantKey string // "" when no error
	}{
		{"none", nil, ""},
		{"present", []string{secret.KeyHost, secret.KeyPort, secret.KeyUsername, secret.KeyPassword, secret.KeySSL, "apiKey"}, ""},
		{"missing aws key", []string{secret.KeyHost, secret.KeyDBName}, secret.KeyDBName},
		{"first missing named", []string{secret.KeyEngine, secret.KeyDBName}, secret.KeyEngine},
		{"empty extra", []string{"emptyKey"}, "emptyKey"},
		{"missing extra", []string{"nope"}, "nope"},
		{"missing masterarn", []string{secret.KeyMasterARN}, secret.KeyMasterARN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Require(tt.keys...)
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("Require = %v, want nil", err)
				}
				return
			}
			assertKeyError(t, err, tt.wantKey)
		})
	}
	t.Run("ssl absent", func(t *testing.T) {
		assertKeyError(t, (secret.Value{}).Require(secret.KeySSL), secret.KeySSL)
	})
}

func TestClone(t *testing.T) {
	v := mustParse(t, `{"password":"p","ssl":true,"port":"5432","obj":{"a":1}}`)
	before := string(mustMarshal(t, v))
	c := v.Clone()
	if got := string(mustMarshal(t, c)); got != before {
		t.Fatalf("clone marshals to %s, want %s", got, before)
	}
	*c.SSL = false
	c.Extra["obj"][2] = 'X'
	c.Extra["new"] = json.RawMessage(`1`)
	c.Set("obj2", "v")
	c.Password = "changed"
	if got := string(mustMarshal(t, v)); got != before {
		t.Errorf("changing the clone changed the original: %s, want %s", got, before)
	}
	t.Run("zero", func(t *testing.T) {
		c := (secret.Value{}).Clone()
		if c.SSL != nil || c.Extra != nil {
			t.Errorf("Clone of zero Value = %#v, want zero", c)
		}
	})
}

func TestGetSetDelete(t *testing.T) {
	var v secret.Value
	if _, ok := v.Get("k"); ok {
		t.Error("Get on the zero Value found a key")
	}
	v.Delete("k") // no panic on a nil map
	special := "a\"b\\c<d>&e\n\u2028é"
	v.Set("k", special)
	v.Set(secret.KeyStrategy, "alternating-users")
	if got, ok := v.Get("k"); !ok || got != special {
		t.Errorf("Get(k) = %q, %v; want %q, true", got, ok, special)
	}
	if got := v.Strategy(); got != "alternating-users" {
		t.Errorf("Strategy = %q, want alternating-users", got)
	}
	v2 := mustParse(t, string(mustMarshal(t, v)))
	if got, ok := v2.Get("k"); !ok || got != special {
		t.Errorf("after a round trip Get(k) = %q, %v; want %q, true", got, ok, special)
	}
	if !v.Has("k") || v.Has("missing") {
		t.Errorf("Has(k) = %v, Has(missing) = %v; want true, false", v.Has("k"), v.Has("missing"))
	}
	v.Delete("k")
	if _, ok := v.Get("k"); ok {
		t.Error("Get found a deleted key")
	}
	if got := string(mustMarshal(t, v)); got != `{"rotationStrategy":"alternating-users"}` {
		t.Errorf("marshal after Delete = %s", got)
	}
	t.Run("non-string extra", func(t *testing.T) {
		v := mustParse(t, `{"n":1,"o":{},"z":null}`)
		for _, k := range []string{"n", "o", "z"} {
			if s, ok := v.Get(k); ok {
				t.Errorf("Get(%q) = %q, true; want false for a non-string", k, s)
			}
		}
	})
	t.Run("strategy absent", func(t *testing.T) {
		if got := (secret.Value{}).Strategy(); got != "" {
			t.Errorf("Strategy = %q, want empty", got)
		}
	})
}

// errorVocabulary returns every message Parse can give for data, built by
// making Parse fail in each way on inputs whose only strings are key names.
// Text from these messages is not a leak even when the input happens to hold
// it (a value "secret" or "port" is fine to see in "invalid secret: key \"port\"").
func errorVocabulary(data []byte) []string {
	var inputs []string
	inputs = append(inputs, `[]`, `{}}`, `{"port":true}`, `{"ssl":1}`)
	for _, k := range stringKeys {
		inputs = append(inputs, `{"`+k+`":1}`)
	}
	var out []string
	for _, in := range inputs {
		if _, err := secret.Parse([]byte(in)); err != nil {
			out = append(out, err.Error())
		}
	}
	if len(data) > secret.MaxSize {
		if _, err := secret.Parse(make([]byte, len(data))); err != nil {
			out = append(out, err.Error())
		}
	}
	return out
}

// leaks returns a piece of data (at least 4 bytes, raw or JSON-decoded) that
// occurs in msg but in no message of the vocabulary, or "".
func leaks(msg string, data []byte, vocab []string) string {
	inVocab := func(s string) bool {
		return slices.ContainsFunc(vocab, func(m string) bool { return strings.Contains(m, s) })
	}
	// Any leaked run of 4 or more raw bytes contains a leaked 4-byte window.
	for i := 0; i+4 <= len(data); i++ {
		w := string(data[i : i+4])
		if strings.Contains(msg, w) && !inVocab(w) {
			return w
		}
	}
	// Decoded strings differ from the raw bytes when the input uses escapes.
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		s, ok := tok.(string)
		if !ok || len(s) < 4 {
			continue
		}
		for i := 0; i+4 <= len(s); i++ {
			if w := s[i : i+4]; strings.Contains(msg, w) && !inVocab(w) {
				return w
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"port":5432}`, `{"port":"5432"}`, `{"ssl":"TRUE"}`, `{"ssl":false}`, `{"port":0}`,
		`{"engine":"postgres","host":"h","port":5432,"username":"u","password":"p<>&","dbname":"d","ssl":true,"x":{"y":[1,2]}}`,
		`{"password":1}`, `{"a":1}}`, `[]`, `null`, `{"big":123456789012345678901234567890}`,
		`{"password":"caf\u00e9","k":"\u2028"}`, `{"password":"secret"}`, `{"port":"port"}`, `{"a":"b"`,
		`{"port":"p0rt-value"}`, `{"ssl":"ssl-value"}`, `{"host":["host-value"]}`, `{"password":"pw-value"} trailing-value`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := secret.Parse(data)
		if err != nil {
			if !errors.Is(err, secret.ErrInvalid) {
				t.Fatalf("Parse error %v does not wrap ErrInvalid", err)
			}
			if w := leaks(err.Error(), data, errorVocabulary(data)); w != "" {
				t.Fatalf("Parse error %q holds %q from the input", err, w)
			}
			return
		}
		b, err := v.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of a parsed value: %v", err)
		}
		v2, err := secret.Parse(b)
		if err != nil {
			if len(b) > secret.MaxSize {
				return // escaping grew the value past what Secrets Manager stores
			}
			t.Fatalf("Parse(%s) of Marshal output: %v", b, err)
		}
		b2, err := v2.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b2, b) {
			t.Fatalf("marshal(parse(marshal(v))) = %s, want %s", b2, b)
		}
		if diff := cmp.Diff(v2, v, cmpopts.IgnoreUnexported(secret.Value{}), cmpopts.IgnoreFields(secret.Value{}, "Extra")); diff != "" {
			t.Fatalf("parse(marshal(v)) differs (-got +want):\n%s", diff)
		}
		if got, want := fmt.Sprint(v), fmt.Sprint(v2); got != want {
			t.Fatalf("%%v differs after a round trip: %s vs %s", got, want)
		}
		// What a Value prints must not depend on its password or on the values
		// (as opposed to the names) of its extra keys.
		w := v.Clone()
		w.Password = "other"
		for k := range w.Extra {
			w.Extra[k] = json.RawMessage(`null`)
		}
		for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			if got, want := fmt.Sprintf(format, v), fmt.Sprintf(format, w); got != want {
				t.Fatalf("%s prints %s, which depends on secret values (%s without them)", format, got, want)
			}
		}
		if got, want := v.LogValue().String(), w.LogValue().String(); got != want {
			t.Fatalf("LogValue = %s, which depends on secret values (%s without them)", got, want)
		}
	})
}

// TestStoredRoundTrips: the JSON MarshalStored writes parses back to the
// same value (every key, the port's form, the credentials), while String,
// fmt and slog describe the same value without any credential.
func TestStoredRoundTrips(t *testing.T) {
	v := canaryValue(t)
	v.Set(secret.KeyStrategy, "single-user")
	b, err := v.MarshalStored()
	if err != nil {
		t.Fatal(err)
	}
	got := mustParse(t, string(b))
	if diff := cmp.Diff(decodeAny(t, stored(t, got)), decodeAny(t, b)); diff != "" {
		t.Errorf("round trip changed the value (-got +want):\n%s", diff)
	}
	if got.Password != v.Password || got.StoredJSON() != string(b) {
		t.Errorf("round trip lost the credentials")
	}
	if !strings.Contains(string(b), canary) {
		t.Fatal("the stored JSON does not hold the credentials")
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "v", got)
	for what, out := range map[string]string{"String": got.String(), "%v": fmt.Sprintf("%v", got), "slog": logs.String()} {
		if strings.Contains(out, canary) {
			t.Errorf("%s prints a credential: %s", what, out)
		}
	}
}
