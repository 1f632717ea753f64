package mysql

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// tokens splits one line of SHOW GRANTS / SHOW CREATE USER output on spaces
// outside quotes. Quoted parts (`…`, '…', "…") stay inside their token
// exactly as printed, so `a b`@`%` is one token.
func tokens(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch c {
		case ' ', '\t', '\n':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		case '`', '\'', '"':
			end, err := quotedEnd(line, i)
			if err != nil {
				return nil, err
			}
			cur.WriteString(line[i:end])
			i = end - 1
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out, nil
}

// quotedEnd returns the index just past the quoted part starting at i. A
// doubled quote stays inside; in '…' and "…" a backslash escapes the next
// byte (the server prints strings that way).
func quotedEnd(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, errors.New("unterminated quote in server output")
}

// unquote returns the text of a quoted token (or the token itself if it is
// not quoted).
func unquote(tok string) string {
	if len(tok) < 2 {
		return tok
	}
	q := tok[0]
	if (q != '`' && q != '\'' && q != '"') || tok[len(tok)-1] != q {
		return tok
	}
	body := tok[1 : len(tok)-1]
	if q == '`' {
		return strings.ReplaceAll(body, "``", "`")
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			i++
			switch body[i] {
			case '0':
				b.WriteByte(0)
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'Z':
				b.WriteByte(26)
			default:
				b.WriteByte(body[i])
			}
		case c == q && i+1 < len(body) && body[i+1] == q:
			b.WriteByte(q)
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitTopLevel splits s on commas outside parentheses and quotes.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '`', '\'', '"':
			end, err := quotedEnd(s, i)
			if err != nil {
				return append(out, strings.TrimSpace(s[start:]))
			}
			i = end - 1
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// grant is one line of SHOW GRANTS, with the grantee taken out.
type grant struct {
	Privileges  []string // "SELECT", "INSERT (`user`)", or role names for role grants
	Object      string   // "*.*", "`db`.*", "PROCEDURE `db`.`p`", "``@`%`" (PROXY); "" for role grants
	GrantOption bool     // WITH GRANT OPTION (or WITH ADMIN OPTION for roles)
}

// parseGrant reads one line of SHOW GRANTS.
func parseGrant(line string) (grant, error) {
	var g grant
	toks, err := tokens(line)
	if err != nil {
		return g, err
	}
	if len(toks) < 3 || !strings.EqualFold(toks[0], "GRANT") {
		return g, errors.New("unrecognised SHOW GRANTS line")
	}
	on, to := -1, -1
	for i := 1; i < len(toks); i++ {
		switch {
		case on < 0 && to < 0 && strings.EqualFold(toks[i], "ON"):
			on = i
		case to < 0 && strings.EqualFold(toks[i], "TO"):
			to = i
		}
		if to >= 0 {
			break
		}
	}
	if to < 0 || to+1 >= len(toks) {
		return g, errors.New("SHOW GRANTS line without a grantee")
	}
	privEnd := to
	if on >= 0 {
		privEnd = on
		g.Object = strings.Join(toks[on+1:to], " ")
		if g.Object == "" {
			return g, errors.New("SHOW GRANTS line without an object")
		}
	}
	for _, p := range splitTopLevel(strings.Join(toks[1:privEnd], " ")) {
		if p == "" {
			continue
		}
		if on >= 0 {
			p = normalisePrivilege(p)
		}
		g.Privileges = append(g.Privileges, p)
	}
	rest := toks[to+2:]
	for i := 0; i+2 < len(rest); i++ {
		if strings.EqualFold(rest[i], "WITH") && strings.EqualFold(rest[i+2], "OPTION") &&
			(strings.EqualFold(rest[i+1], "GRANT") || strings.EqualFold(rest[i+1], "ADMIN")) {
			g.GrantOption = true
		}
	}
	return g, nil
}

// normalisePrivilege upper-cases a privilege's keyword part, keeping any
// column list as printed.
func normalisePrivilege(p string) string {
	if i := strings.IndexByte(p, '('); i >= 0 {
		return strings.ToUpper(strings.TrimSpace(p[:i])) + " " + strings.TrimSpace(p[i:])
	}
	return strings.ToUpper(p)
}

// privilegeSet is the grants of one account, by object ("" for roles).
type privilegeSet map[string]*objectPrivileges

type objectPrivileges struct {
	privs       []string
	grantOption bool
}

// defaultRole returns the role of a MariaDB "SET DEFAULT ROLE `r` FOR …"
// line of SHOW GRANTS, and whether l is one.
func defaultRole(l string) (string, bool, error) {
	toks, err := tokens(l)
	if err != nil {
		return "", false, err
	}
	if len(toks) < 4 || !strings.EqualFold(toks[0], "SET") || !strings.EqualFold(toks[1], "DEFAULT") || !strings.EqualFold(toks[2], "ROLE") {
		return "", false, nil
	}
	return toks[3], true, nil
}

func collect(lines []string) (privilegeSet, error) {
	set := privilegeSet{}
	for _, l := range lines {
		if _, ok, err := defaultRole(l); err != nil {
			return nil, err
		} else if ok {
			continue
		}
		g, err := parseGrant(l)
		if err != nil {
			return nil, err
		}
		op := set[g.Object]
		if op == nil {
			op = &objectPrivileges{}
			set[g.Object] = op
		}
		for _, p := range g.Privileges {
			if p == "USAGE" || slices.Contains(op.privs, p) {
				continue
			}
			op.privs = append(op.privs, p)
		}
		op.grantOption = op.grantOption || g.GrantOption
	}
	return set, nil
}

// syncGrants returns the statements that make target's privileges equal to
// source's: stale privileges revoked first, then missing ones granted, then
// the default role. sourceLines and targetLines are SHOW GRANTS output;
// target is the quoted account the statements apply to.
func syncGrants(sourceLines, targetLines []string, target string) ([]statement, error) {
	src, err := collect(sourceLines)
	if err != nil {
		return nil, fmt.Errorf("read grants of the original user: %w", err)
	}
	dst, err := collect(targetLines)
	if err != nil {
		return nil, fmt.Errorf("read grants of the clone: %w", err)
	}
	out := revokeStale(src, dst, target)
	out = append(out, grantMissing(src, dst, target)...)
	if st, ok := syncDefaultRole(sourceLines, targetLines, target); ok {
		out = append(out, st)
	}
	return out, nil
}

// objects are the object names of s, sorted ("" holds roles).
func (s privilegeSet) objects() []string {
	var out []string
	for o := range s {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

// get returns the privileges on obj, none when s has no entry for it.
func (s privilegeSet) get(obj string) *objectPrivileges {
	if p := s[obj]; p != nil {
		return p
	}
	return &objectPrivileges{}
}

// without returns the privileges of a that b lacks.
func without(a, b []string) []string {
	var out []string
	for _, p := range a {
		if !slices.Contains(b, p) {
			out = append(out, p)
		}
	}
	return out
}

// revokeStale revokes what dst holds and src does not: roles, privileges on
// each object, and grant options.
func revokeStale(src, dst privilegeSet, target string) []statement {
	var revokes []statement
	for _, obj := range dst.objects() {
		have, want := dst[obj], src.get(obj)
		stale := without(have.privs, want.privs)
		if obj == "" {
			for _, role := range stale {
				revokes = append(revokes, statement{query: "REVOKE " + role + " FROM " + target})
			}
			continue
		}
		if len(stale) > 0 {
			revokes = append(revokes, statement{query: "REVOKE " + strings.Join(stale, ", ") + " ON " + obj + " FROM " + target})
		}
		if have.grantOption && !want.grantOption {
			revokes = append(revokes, statement{query: "REVOKE GRANT OPTION ON " + obj + " FROM " + target})
		}
	}
	return revokes
}

// grantMissing grants what src holds and dst does not: roles (with ADMIN
// OPTION where src has it), privileges on each object and grant options.
func grantMissing(src, dst privilegeSet, target string) []statement {
	var grants []statement
	for _, obj := range src.objects() {
		want, have := src[obj], dst.get(obj)
		missing := without(want.privs, have.privs)
		if obj == "" {
			for _, role := range missing {
				q := "GRANT " + role + " TO " + target
				if want.grantOption {
					q += " WITH ADMIN OPTION"
				}
				grants = append(grants, statement{query: q})
			}
			continue
		}
		needOption := want.grantOption && !have.grantOption
		if len(missing) == 0 && !needOption {
			continue
		}
		privs := missing
		if len(privs) == 0 {
			privs = []string{"USAGE"}
		}
		q := "GRANT " + strings.Join(privs, ", ") + " ON " + obj + " TO " + target
		if want.grantOption {
			q += " WITH GRANT OPTION"
		}
		grants = append(grants, statement{query: q})
	}
	return grants
}

// syncDefaultRole sets target's default role to source's when they differ.
// MariaDB lists a default role as "SET DEFAULT ROLE `r` FOR …"; the
// statement comes after the role grants it depends on.
func syncDefaultRole(sourceLines, targetLines []string, target string) (statement, bool) {
	want, have := "NONE", "NONE"
	for _, l := range sourceLines {
		if r, ok, _ := defaultRole(l); ok {
			want = r
		}
	}
	for _, l := range targetLines {
		if r, ok, _ := defaultRole(l); ok {
			have = r
		}
	}
	if strings.EqualFold(want, have) {
		return statement{}, false
	}
	return statement{query: "SET DEFAULT ROLE " + want + " FOR " + target}, true
}

// userOptions is what SHOW CREATE USER tells about an account.
type userOptions struct {
	Plugin  string // "" when the output names none (MariaDB's IDENTIFIED BY PASSWORD)
	Hash    string // the stored authentication string, "" when none
	Require string // the REQUIRE clause without the keyword ("SSL", "NONE", "ISSUER '…' SUBJECT '…'"); "" when absent
}

// parseCreateUser reads SHOW CREATE USER output.
func parseCreateUser(line string) (userOptions, error) {
	var o userOptions
	toks, err := tokens(line)
	if err != nil {
		return o, err
	}
	if len(toks) < 3 || !strings.EqualFold(toks[0], "CREATE") || !strings.EqualFold(toks[1], "USER") {
		return o, errors.New("unrecognised SHOW CREATE USER output")
	}
	stop := map[string]bool{"PASSWORD": true, "ACCOUNT": true, "WITH": true, "COMMENT": true, "ATTRIBUTE": true,
		"DEFAULT": true, "FAILED_LOGIN_ATTEMPTS": true, "PASSWORD_LOCK_TIME": true, "IDENTIFIED": true}
	for i := 3; i < len(toks); i++ {
		kw := strings.ToUpper(toks[i])
		switch {
		case kw == "IDENTIFIED" && i+2 < len(toks):
			switch strings.ToUpper(toks[i+1]) {
			case "WITH", "VIA":
				o.Plugin = unquote(toks[i+2])
				if i+4 < len(toks) && (strings.EqualFold(toks[i+3], "AS") || strings.EqualFold(toks[i+3], "USING")) {
					o.Hash = unquote(toks[i+4])
				}
			case "BY":
				if strings.EqualFold(toks[i+2], "PASSWORD") && i+3 < len(toks) {
					o.Hash = unquote(toks[i+3])
				}
			}
		case kw == "REQUIRE" && !strings.EqualFold(toks[i-1], "PASSWORD"):
			j := i + 1
			for j < len(toks) && !stop[strings.ToUpper(toks[j])] {
				j++
			}
			o.Require = strings.Join(toks[i+1:j], " ")
		}
	}
	return o, nil
}
