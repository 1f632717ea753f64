package localaws

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// sigV4Auth is the parsed Authorization header of a SigV4 request.
type sigV4Auth struct {
	akid, date, region, service string
	signedHeaders               []string
	signature                   string
}

// parseSigV4 reads "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request,
// SignedHeaders=a;b, Signature=hex".
func parseSigV4(h string) (sigV4Auth, bool) {
	var a sigV4Auth
	rest, found := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !found {
		return a, false
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return a, false
			}
			a.akid, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	return a, a.akid != "" && a.signature != "" && len(a.signedHeaders) > 0
}

// verifySigV4 recomputes the request's SigV4 signature with the stored
// secret key and compares it with the one sent.
func verifySigV4(r *http.Request, body []byte, secretKey string) bool {
	a, ok := parseSigV4(r.Header.Get("Authorization"))
	if !ok {
		return false
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if len(amzDate) < 8 || amzDate[:8] != a.date {
		return false
	}
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon.WriteString(path + "\n")
	canon.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, h := range a.signedHeaders {
		canon.WriteString(h + ":" + headerValue(r, h) + "\n")
	}
	canon.WriteString("\n" + strings.Join(a.signedHeaders, ";") + "\n")
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	canon.WriteString(payload)
	crHash := sha256.Sum256([]byte(canon.String()))
	scope := a.date + "/" + a.region + "/" + a.service + "/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(crHash[:])
	key := []byte("AWS4" + secretKey)
	for _, p := range []string{a.date, a.region, a.service, "aws4_request"} {
		key = hmacSHA256(key, p)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	return hmac.Equal([]byte(want), []byte(a.signature))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// headerValue is a header's canonical value: Host and Content-Length come
// from the request fields Go's server moves them to.
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		return strconv.FormatInt(r.ContentLength, 10)
	}
	vals := r.Header.Values(name)
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

func canonicalQuery(q url.Values) string {
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, sigEscape(k)+"="+sigEscape(v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

// sigEscape is SigV4's URI encoding: everything but unreserved characters.
func sigEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}
