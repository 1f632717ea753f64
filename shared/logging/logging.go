package logging

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Redacted replaces every secret value in logs.
const Redacted = "[REDACTED]"

// sensitiveKeys are attribute names whose values are always redacted, compared
// in lower case with '_' and '-' removed.
var sensitiveKeys = map[string]bool{
	"password": true, "secret": true, "secretstring": true, "secretbinary": true,
	"rotationtoken": true, "apikey": true, "token": true, "authorization": true,
	"authtoken": true, "clientsecret": true, "privatekey": true, "masterpassword": true,
	"sessiontoken": true, "secretaccesskey": true, "randompassword": true,
}

// keySeparators drops '_' and '-' from attribute names. It is built once: a
// Replacer built per attribute cost 6 KiB of garbage each.
var keySeparators = strings.NewReplacer("_", "", "-", "")

func normalize(key string) string {
	return keySeparators.Replace(strings.ToLower(key))
}

// sensitiveSuffixes catch spellings such as newPassword, dbPassword,
// x-api-key and clientSecret.
var sensitiveSuffixes = []string{"password", "apikey", "secret", "authtoken", "sessiontoken", "rotationtoken", "privatekey", "accesskey"}

// sensitiveKey reports whether an attribute name says its value is a secret.
// clientRequestToken (a version ID) is not one.
func sensitiveKey(key string) bool {
	k := normalize(key)
	if sensitiveKeys[k] {
		return true
	}
	for _, suf := range sensitiveSuffixes {
		if strings.HasSuffix(k, suf) {
			return true
		}
	}
	return false
}

// Level reads AWS_LAMBDA_LOG_LEVEL (TRACE, DEBUG, INFO, WARN, ERROR, FATAL);
// INFO by default. slog has no TRACE or FATAL: they map to DEBUG and ERROR.
func Level(getenv func(string) string) slog.Level {
	switch strings.ToUpper(strings.TrimSpace(getenv("AWS_LAMBDA_LOG_LEVEL"))) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// New returns the logger a Lambda function uses. With AWS_LAMBDA_LOG_FORMAT=JSON
// (set by Lambda when the function's LoggingConfig says JSON) it is
// lambdacontext's own handler; otherwise the same JSON shape is written to
// stdout by NewJSON, so local runs and the Runtime Interface Emulator log
// exactly what CloudWatch would get. Both are wrapped in the redacting handler.
func New() *slog.Logger {
	if os.Getenv("AWS_LAMBDA_LOG_FORMAT") == "JSON" {
		return slog.New(Redact(lambdacontext.NewLogHandler()))
	}
	return NewJSON(os.Stdout, Level(os.Getenv))
}

// NewJSON returns a logger writing Lambda-format JSON lines (timestamp, level,
// message, requestId) to w, with redaction. Tests capture logs with it.
func NewJSON(w io.Writer, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: lambdacontext.ReplaceAttr})
	return slog.New(Redact(requestIDHandler{h}))
}

// requestIDHandler adds requestId from the Lambda context, as lambdacontext's
// handler does.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

type secretsKey struct{}

// WithSecrets returns a context whose log records have every occurrence of the
// given values replaced by [REDACTED], in messages and in string attributes,
// as ScrubValues does. The escaped spellings of the values are computed once
// for the context, when its first record is handled (never, if the logger
// discards everything), not for every line and attribute.
func WithSecrets(ctx context.Context, values ...string) context.Context {
	prev, _ := ctx.Value(secretsKey{}).(*scrubber)
	return context.WithValue(ctx, secretsKey{}, prev.with(values))
}

// Scrub replaces every value registered with WithSecrets in s.
func Scrub(ctx context.Context, s string) string {
	sc, _ := ctx.Value(secretsKey{}).(*scrubber)
	return sc.scrub(s)
}

// scrubber is a set of secret values, longest first, and, once first used,
// the spellings of each that ScrubValues looks for. A nil scrubber holds no
// value. It is safe for concurrent use.
type scrubber struct {
	values []string
	once   sync.Once
	forms  [][]string // forms[i] are the spellings of values[i]
}

// with returns a scrubber holding sc's values and the non-empty ones of
// values.
func (sc *scrubber) with(values []string) *scrubber {
	out := &scrubber{}
	if sc != nil {
		out.values = slices.Clip(sc.values)
	}
	added := false
	for _, v := range values {
		if v == "" || slices.Contains(out.values, v) {
			continue
		}
		out.values = append(out.values, v)
		added = true
	}
	if added {
		// Longer values go first, so a value contained in another never
		// leaves the rest of the other behind.
		slices.SortStableFunc(out.values, func(a, b string) int { return len(b) - len(a) })
	}
	return out
}

func (sc *scrubber) empty() bool { return sc == nil || len(sc.values) == 0 }

// scrub replaces each of sc's values in s by [REDACTED], in all its forms.
func (sc *scrubber) scrub(s string) string {
	if s == "" || sc.empty() {
		return s
	}
	sc.once.Do(func() {
		sc.forms = make([][]string, len(sc.values))
		for i, v := range sc.values {
			sc.forms[i] = forms(v)
		}
	})
	for i, v := range sc.values {
		for _, form := range sc.forms[i] {
			if form == "" || !strings.Contains(s, form) {
				continue
			}
			if len(v) >= MinSubstring {
				s = strings.ReplaceAll(s, form, Redacted)
			} else {
				s = replaceTokens(s, form)
			}
		}
	}
	return s
}

// MinSubstring is the length from which a secret value is scrubbed wherever
// it appears, even inside a longer word. A shorter value (1 to 3 bytes, which
// Rotary never generates: see password.MinLength) is scrubbed only where it
// stands as a whole token, so that a one-letter value cannot turn every
// message into confetti while a quoted or separated occurrence still goes.
const MinSubstring = 4

// ScrubValues replaces each of values in s by [REDACTED], also in the escaped
// forms drivers and JSON encoders produce. Longer values go first, so a value
// contained in another never leaves the rest of the other behind. Values
// shorter than MinSubstring are replaced only as whole tokens (not preceded
// or followed by a letter, digit or '_' where the value itself starts or ends
// with one).
func ScrubValues(s string, values []string) string {
	if s == "" || len(values) == 0 {
		return s
	}
	return (*scrubber)(nil).with(values).scrub(s)
}

// replaceTokens replaces the occurrences of tok in s that are whole tokens.
func replaceTokens(s, tok string) string {
	var b strings.Builder
	i := 0
	for {
		j := strings.Index(s[i:], tok)
		if j < 0 {
			break
		}
		j += i
		end := j + len(tok)
		before := !wordByte(tok[0]) || j == 0 || !wordByte(s[j-1])
		after := !wordByte(tok[len(tok)-1]) || end == len(s) || !wordByte(s[end])
		if before && after {
			b.WriteString(s[i:j])
			b.WriteString(Redacted)
			i = end
			continue
		}
		b.WriteString(s[i : j+1])
		i = j + 1
	}
	b.WriteString(s[i:])
	return b.String()
}

// wordByte reports whether c is part of a word: an ASCII letter, digit or
// '_', or any byte of a multi-byte UTF-8 character.
func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

// forms lists the spellings of v that may appear in error text: as is, JSON
// escaped (with and without HTML escaping, as encoding/json writes it),
// Go-quoted (%q), and with SQL quotes or backslashes doubled.
func forms(v string) []string {
	out := []string{v}
	add := func(f string) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	add(jsonEscape(v, true))
	add(jsonEscape(v, false))
	add(strings.TrimSuffix(strings.TrimPrefix(strconv.Quote(v), `"`), `"`))
	add(strings.ReplaceAll(v, "'", "''"))
	add(strings.ReplaceAll(v, `\`, `\\`))
	return out
}

// jsonEscape returns v as encoding/json writes it inside a string, without the
// quotes.
func jsonEscape(v string, escapeHTML bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(v) // a string always encodes
	q := strings.TrimSuffix(b.String(), "\n")
	return q[1 : len(q)-1]
}

// Redact wraps h so that sensitive attributes and registered secret values
// never reach it.
func Redact(h slog.Handler) slog.Handler { return redactHandler{base: h, plain: h} }

// redactHandler records the WithGroup and WithAttrs calls made on it. Values
// registered with WithSecrets are known only when a record is handled, so for
// a record whose context has some, the calls are replayed on base with the
// attributes scrubbed; plain is base with the calls applied once, attributes
// redacted by key only, for every other record.
type redactHandler struct {
	base  slog.Handler
	ops   []handlerOp
	plain slog.Handler
}

// handlerOp is one WithGroup (group set) or WithAttrs (attrs set) call.
type handlerOp struct {
	group string
	attrs []slog.Attr
}

func (h redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.plain.Enabled(ctx, l)
}

func (h redactHandler) Handle(ctx context.Context, r slog.Record) error {
	sc, _ := ctx.Value(secretsKey{}).(*scrubber)
	out := slog.NewRecord(r.Time, r.Level, sc.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a, sc))
		return true
	})
	next := h.plain
	if !sc.empty() && h.opsHold(sc) {
		next = h.base
		for _, op := range h.ops {
			if op.group != "" {
				next = next.WithGroup(op.group)
			} else {
				next = next.WithAttrs(redactAttrs(op.attrs, sc))
			}
		}
	}
	return next.Handle(ctx, out)
}

// opsHold reports whether an attribute added with WithAttrs holds one of
// sc's values: only then is plain, built without them, not clean enough.
func (h redactHandler) opsHold(sc *scrubber) bool {
	for _, op := range h.ops {
		for _, a := range op.attrs {
			if !redactAttr(a, sc).Equal(a) {
				return true
			}
		}
	}
	return false
}

func (h redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	clean := redactAttrs(as, nil)
	return redactHandler{
		base:  h.base,
		ops:   append(slices.Clip(h.ops), handlerOp{attrs: clean}),
		plain: h.plain.WithAttrs(clean),
	}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return redactHandler{
		base:  h.base,
		ops:   append(slices.Clip(h.ops), handlerOp{group: name}),
		plain: h.plain.WithGroup(name),
	}
}

func redactAttrs(as []slog.Attr, sc *scrubber) []slog.Attr {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = redactAttr(a, sc)
	}
	return clean
}

func redactAttr(a slog.Attr, sc *scrubber) slog.Attr {
	if sensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, sc.scrub(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = redactAttr(g, sc)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, sc.scrub(x.Error()))
		case []byte:
			// fmt would print the bytes as numbers, which no scrubbing matches.
			return slog.String(a.Key, sc.scrub(string(x)))
		case json.RawMessage:
			return slog.String(a.Key, sc.scrub(string(x)))
		}
		// Anything else is rendered by the JSON handler; never let an unknown
		// type print itself unscrubbed.
		return slog.String(a.Key, sc.scrub(slog.AnyValue(v.Any()).String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}
