package localaws

import "strings"

// Character classes of GetRandomPassword.
const (
	pwLower       = "abcdefghijklmnopqrstuvwxyz"
	pwUpper       = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	pwDigits      = "0123456789"
	pwPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

// passwordOptions are GetRandomPassword's members.
type passwordOptions struct {
	PasswordLength          *int64
	ExcludeCharacters       *string
	ExcludeNumbers          bool
	ExcludePunctuation      bool
	ExcludeUppercase        bool
	ExcludeLowercase        bool
	IncludeSpace            bool
	RequireEachIncludedType *bool
}

// randomPassword follows the documented options: each included class minus
// ExcludeCharacters, one character of each class when RequireEachIncludedType
// (default true), the rest from all included characters, then a Fisher-Yates
// shuffle so the required characters sit anywhere. Every draw uses crypto/rand.
func randomPassword(o passwordOptions) (string, *apiError) {
	n := int64(32)
	if o.PasswordLength != nil {
		n = *o.PasswordLength
	}
	if n < 1 || n > 4096 {
		return "", validation("passwordLength", "Member must have value between 1 and 4096")
	}
	exclude := ""
	if o.ExcludeCharacters != nil {
		exclude = *o.ExcludeCharacters
		if e := checkLen("excludeCharacters", len(exclude), 0, 4096); e != nil {
			return "", e
		}
	}
	keep := func(set string) string {
		return strings.Map(func(r rune) rune {
			if strings.ContainsRune(exclude, r) {
				return -1
			}
			return r
		}, set)
	}
	var classes []string
	add := func(skip bool, set string) {
		if !skip {
			if k := keep(set); k != "" {
				classes = append(classes, k)
			}
		}
	}
	add(o.ExcludeLowercase, pwLower)
	add(o.ExcludeUppercase, pwUpper)
	add(o.ExcludeNumbers, pwDigits)
	add(o.ExcludePunctuation, pwPunctuation)
	add(!o.IncludeSpace, " ")
	if len(classes) == 0 {
		return "", errf(400, "InvalidParameterException", "The password can't be generated because every character is excluded.")
	}
	require := o.RequireEachIncludedType == nil || *o.RequireEachIncludedType
	if require && n < int64(len(classes)) {
		return "", errf(400, "InvalidParameterException", "Password length is too short based on the required types.")
	}
	all := strings.Join(classes, "")
	out := make([]byte, 0, n)
	if require {
		for _, c := range classes {
			out = append(out, c[randIndex(len(c))])
		}
	}
	for int64(len(out)) < n {
		out = append(out, all[randIndex(len(all))])
	}
	for i := len(out) - 1; i > 0; i-- {
		j := randIndex(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

func (s *Server) getRandomPassword(_ *request, body []byte) (any, *apiError) {
	var in passwordOptions
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	pw, e := randomPassword(in)
	if e != nil {
		return nil, e
	}
	return struct {
		RandomPassword string `json:"RandomPassword"`
	}{pw}, nil
}
