package awsx

import "strings"

// Limits of an STS RoleSessionName: 2-64 characters of [\w+=,.@-].
const (
	maxSessionName = 64
	tokenPrefixLen = 8
)

// SessionName returns a valid STS RoleSessionName (2-64 characters of
// [A-Za-z0-9_+=,.@-]) that names the function and the first characters of the
// rotation's ClientRequestToken, so CloudTrail in the member account shows
// which function and which rotation assumed the role: "rotary.<fn>.<token>".
// Characters outside the allowed set become '-'; the function name is cut so
// that the token prefix always fits. The ClientRequestToken is a version ID,
// not a secret; never pass the RotationToken here.
func SessionName(function, token string) string {
	const prefix = "rotary"
	tok := sanitizeSessionPart(token)
	if len(tok) > tokenPrefixLen {
		tok = tok[:tokenPrefixLen]
	}
	fn := sanitizeSessionPart(function)
	room := maxSessionName - len(prefix) - 1 // "rotary" + "."
	if tok != "" {
		room -= len(tok) + 1
	}
	if len(fn) > room {
		fn = fn[:room]
	}
	var b strings.Builder
	b.WriteString(prefix)
	if fn != "" {
		b.WriteString(".")
		b.WriteString(fn)
	}
	if tok != "" {
		b.WriteString(".")
		b.WriteString(tok)
	}
	return b.String()
}

// sanitizeSessionPart maps every byte outside [A-Za-z0-9_+=,.@-] to '-'.
// Working on bytes keeps the result ASCII whatever the input's encoding.
func sanitizeSessionPart(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !validSessionByte(c) {
			b[i] = '-'
		}
	}
	return string(b)
}

func validSessionByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("_+=,.@-", c) >= 0
}
