package ldap

import (
	"fmt"
	"unicode/utf16"

	goldap "github.com/go-ldap/ldap/v3"
)

// Active Directory requests. AD keeps a password in unicodePwd, written (never
// read) as the UTF-16LE encoding of the password in double quotes, only over an
// encrypted connection (LDAPS). These builders are tested against the requests
// they generate, on the wire, and not against a real domain controller: no AD
// strategy is registered.

// ADPassword returns the unicodePwd value of pw: UTF-16LE of "pw" (with the
// quotes), as [MS-ADTS] 3.1.1.3.1.5.1 requires.
func ADPassword(pw string) []byte {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	out := make([]byte, 0, 2*len(u))
	for _, c := range u {
		out = append(out, byte(c), byte(c>>8))
	}
	return out
}

// ADChangeRequest is a user changing its own AD password: one Modify that
// deletes the old unicodePwd value and adds the new one (AD checks the old
// password and the domain's password policy). dn is canonicalized first and
// refused, wrapping ErrHostileDN, when it is not plain.
func ADChangeRequest(dn, oldPw, newPw string) (*goldap.ModifyRequest, error) {
	c, err := CanonicalDN(dn)
	if err != nil {
		return nil, fmt.Errorf("active directory change: %w", err)
	}
	req := goldap.NewModifyRequest(c, nil)
	req.Delete("unicodePwd", []string{string(ADPassword(oldPw))})
	req.Add("unicodePwd", []string{string(ADPassword(newPw))})
	return req, nil
}

// ADResetRequest is an administrator resetting a user's AD password: one
// Modify that replaces unicodePwd (needs the Reset Password right).
func ADResetRequest(dn, newPw string) (*goldap.ModifyRequest, error) {
	c, err := CanonicalDN(dn)
	if err != nil {
		return nil, fmt.Errorf("active directory reset: %w", err)
	}
	req := goldap.NewModifyRequest(c, nil)
	req.Replace("unicodePwd", []string{string(ADPassword(newPw))})
	return req, nil
}
