package localaws

import (
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The fake IAM API: GetUser, TagUser, CreateAccessKey, ListAccessKeys,
// UpdateAccessKey and DeleteAccessKey (Query protocol, version 2010-05-08), enough for the
// iam-access-key rotator (rotators/iamkey). Users are registered by tests with
// AddUser; a caller sees only the users of its own account (IAM is global, so
// the region does not matter). Keys it issues are real credentials of this
// server: an Active key signs any call, and sts:GetCallerIdentity with it
// answers its user; an Inactive or deleted key is refused like an unknown one.
// Behaviour follows the IAM API reference: at most two keys per user
// (LimitExceeded), NoSuchEntity for an unknown user or key, ValidationError
// for a malformed name, ID or status, InvalidInput for a malformed tag and
// LimitExceeded past 50 tags per user. IAM policies are not evaluated (the
// IAM oracle in test/iam checks the templates' statements).

// iamNamespace is the XML namespace of IAM's Query responses.
const iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// iamServiceFailure is IAM's 5xx error.
var iamServiceFailure = apiError{500, "ServiceFailure", "An internal error occurred."}

// maxAccessKeysPerUser is IAM's quota AccessKeysPerUser.
const maxAccessKeysPerUser = 2

// maxTagsPerUser is IAM's limit of tags per user.
const maxTagsPerUser = 50

// IAMUser is an IAM user of the fake IAM API.
type IAMUser struct {
	Account string // 12 digits
	Name    string
	Path    string            // default "/"
	Tags    map[string]string // returned by GetUser
}

// ARN returns arn:aws:iam::<Account>:user<Path><Name>.
func (u IAMUser) ARN() string {
	p := u.Path
	if p == "" {
		p = "/"
	}
	return "arn:aws:iam::" + u.Account + ":user" + p + u.Name
}

type iamUser struct {
	IAMUser
	id      string
	created time.Time
	keys    []*iamKey
}

type iamKey struct {
	creds   Credentials
	active  bool
	created time.Time
}

type iamUserKey struct{ account, name string }

// AddUser registers an IAM user (replacing one of the same name in the
// account, with its keys) and returns its ARN.
func (s *Server) AddUser(u IAMUser) string {
	if !validAccountID(u.Account) || !iamNameRe.MatchString(u.Name) {
		panic(fmt.Sprintf("localaws: AddUser: need a 12-digit account and an IAM user name, got %q, %q", u.Account, u.Name))
	}
	if u.Path == "" {
		u.Path = "/"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[u.Account] = true
	if s.iam == nil {
		s.iam = map[iamUserKey]*iamUser{}
	}
	if old := s.iam[iamUserKey{u.Account, u.Name}]; old != nil {
		for _, k := range old.keys {
			delete(s.keys, k.creds.AccessKeyID)
		}
	}
	u.Tags = maps.Clone(u.Tags)
	s.iam[iamUserKey{u.Account, u.Name}] = &iamUser{IAMUser: u, id: "AIDA" + randomString(upperDigits, 17), created: s.now()}
	return u.ARN()
}

// TagUser sets a tag on a registered user (tests: the iam-access-key
// rotator's rotary:secret tag, known once the secret exists).
func (s *Server) TagUser(account, name, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.iam[iamUserKey{account, name}]
	if u == nil {
		panic(fmt.Sprintf("localaws: TagUser: no IAM user %s in account %s", name, account))
	}
	if u.Tags == nil {
		u.Tags = map[string]string{}
	}
	u.Tags[key] = value
}

// UserKeys returns the IDs of a user's access keys, oldest first, and which
// are active (for tests' checks).
func (s *Server) UserKeys(account, name string) (ids []string, active []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.iam[iamUserKey{account, name}]
	if u == nil {
		return nil, nil
	}
	for _, k := range u.keys {
		ids = append(ids, k.creds.AccessKeyID)
		active = append(active, k.active)
	}
	return ids, active
}

// IssueUserKey creates an active access key for a registered user as
// CreateAccessKey would (for tests' starting secrets), or fails at the quota.
func (s *Server) IssueUserKey(account, name string) (Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.iam[iamUserKey{account, name}]
	if u == nil {
		return Credentials{}, fmt.Errorf("localaws: no IAM user %s in account %s", name, account)
	}
	k, e := s.createAccessKeyLocked(u)
	if e != nil {
		return Credentials{}, e
	}
	return k.creds, nil
}

var (
	iamNameRe  = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	iamKeyIDRe = regexp.MustCompile(`^[\w]{16,128}$`)
	// iamTagRe is the character set of IAM tag keys and values.
	iamTagRe = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

func isIAMAction(action string) bool {
	switch action {
	case "GetUser", "TagUser", "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey":
		return true
	}
	return false
}

func (s *Server) serveIAM(w http.ResponseWriter, r *http.Request, form url.Values, body []byte) {
	action := form.Get("Action")
	caller, _, aerr := s.authenticate(r, body, false)
	if aerr != nil {
		writeQueryError(w, iamNamespace, aerr)
		return
	}
	account := caller.creds.Account
	s.logIAM(caller, action, form)
	f := s.count(action, account)
	denied := errf(403, "AccessDenied", "User: %s is not authorized to perform: iam:%s", caller.arn, action)
	if e := queryFaultWith(r.Context(), f, denied, iamServiceFailure); e != nil {
		writeQueryError(w, iamNamespace, e)
		return
	}
	out, e := s.iamAction(account, action, form)
	writeQueryResultWith(w, iamNamespace, f, out, e, iamServiceFailure)
}

type iamKeyXML struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

type iamUserXML struct {
	Path       string      `xml:"Path"`
	UserName   string      `xml:"UserName"`
	UserID     string      `xml:"UserId"`
	Arn        string      `xml:"Arn"`
	CreateDate string      `xml:"CreateDate"`
	Tags       []iamTagXML `xml:"Tags>member,omitempty"`
}

type iamTagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// iamResponse is <Action>Response with an optional <Action>Result.
type iamResponse struct {
	XMLName xml.Name
	Result  any              `xml:",omitempty"`
	Meta    responseMetadata `xml:"ResponseMetadata"`
}

func iamOut(action string, result any) iamResponse {
	out := iamResponse{XMLName: xml.Name{Space: iamNamespace, Local: action + "Response"}, Meta: responseMetadata{newUUID()}}
	if result != nil {
		out.Result = result
	}
	return out
}

func status(active bool) string {
	if active {
		return "Active"
	}
	return "Inactive"
}

func iamTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) iamAction(account, action string, form url.Values) (any, *apiError) {
	name := form.Get("UserName")
	if name == "" {
		return nil, errf(400, "ValidationError", "UserName is required by this fake (it does not model the caller's own user)")
	}
	if !iamNameRe.MatchString(name) {
		return nil, errf(400, "ValidationError", "1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.iam[iamUserKey{account, name}]
	if u == nil {
		return nil, errf(404, "NoSuchEntity", "The user with name %s cannot be found.", name)
	}
	findKey := func() (int, *apiError) {
		id := form.Get("AccessKeyId")
		if !iamKeyIDRe.MatchString(id) {
			return -1, errf(400, "ValidationError", "1 validation error detected: Value at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]+")
		}
		i := slices.IndexFunc(u.keys, func(k *iamKey) bool { return k.creds.AccessKeyID == id })
		if i < 0 {
			return -1, errf(404, "NoSuchEntity", "The Access Key with id %s cannot be found.", id)
		}
		return i, nil
	}
	switch action {
	case "GetUser":
		return iamOut(action, struct {
			XMLName xml.Name   `xml:"GetUserResult"`
			User    iamUserXML `xml:"User"`
		}{User: iamUserXML{Path: u.Path, UserName: u.Name, UserID: u.id, Arn: u.ARN(), CreateDate: iamTime(u.created), Tags: tagsXML(u.Tags)}}), nil
	case "TagUser":
		tags, e := iamTags(form)
		if e != nil {
			return nil, e
		}
		merged := maps.Clone(u.Tags)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, tags)
		if len(merged) > maxTagsPerUser {
			return nil, errf(409, "LimitExceeded", "The number of tags has reached the maximum limit.")
		}
		u.Tags = merged
		return iamOut(action, nil), nil
	case "CreateAccessKey":
		k, e := s.createAccessKeyLocked(u)
		if e != nil {
			return nil, e
		}
		return iamOut(action, struct {
			XMLName xml.Name  `xml:"CreateAccessKeyResult"`
			Key     iamKeyXML `xml:"AccessKey"`
		}{Key: iamKeyXML{UserName: u.Name, AccessKeyID: k.creds.AccessKeyID, Status: "Active", SecretAccessKey: k.creds.SecretAccessKey, CreateDate: iamTime(k.created)}}), nil
	case "ListAccessKeys":
		var members []iamKeyXML
		for _, k := range u.keys {
			members = append(members, iamKeyXML{UserName: u.Name, AccessKeyID: k.creds.AccessKeyID, Status: status(k.active), CreateDate: iamTime(k.created)})
		}
		return iamOut(action, struct {
			XMLName     xml.Name    `xml:"ListAccessKeysResult"`
			Members     []iamKeyXML `xml:"AccessKeyMetadata>member"`
			IsTruncated bool        `xml:"IsTruncated"`
		}{Members: members}), nil
	case "UpdateAccessKey":
		i, e := findKey()
		if e != nil {
			return nil, e
		}
		k := u.keys[i]
		switch form.Get("Status") {
		case "Active":
			k.active = true
			s.keys[k.creds.AccessKeyID] = &keyRec{creds: k.creds, arn: u.ARN(), userID: u.id}
		case "Inactive":
			k.active = false
			delete(s.keys, k.creds.AccessKeyID)
		default:
			return nil, errf(400, "ValidationError", "1 validation error detected: Value at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]")
		}
		return iamOut(action, nil), nil
	default: // DeleteAccessKey
		i, e := findKey()
		if e != nil {
			return nil, e
		}
		delete(s.keys, u.keys[i].creds.AccessKeyID)
		u.keys = slices.Delete(u.keys, i, i+1)
		return iamOut(action, nil), nil
	}
}

// createAccessKeyLocked issues a key for u; s.mu is held.
func (s *Server) createAccessKeyLocked(u *iamUser) (*iamKey, *apiError) {
	if len(u.keys) >= maxAccessKeysPerUser {
		return nil, errf(409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: %d", maxAccessKeysPerUser)
	}
	k := &iamKey{
		creds: Credentials{
			AccessKeyID:     "AKIA" + randomString(upperDigits, 16),
			SecretAccessKey: randomString(alnum, 40),
			Account:         u.Account,
		},
		active:  true,
		created: s.now(),
	}
	u.keys = append(u.keys, k)
	s.keys[k.creds.AccessKeyID] = &keyRec{creds: k.creds, arn: u.ARN(), userID: u.id}
	return k, nil
}

// iamTags reads TagUser's Tags.member.N.Key/Value (1 to 50 tags, keys of
// 1-128 and values of 0-256 tag characters, no key twice).
func iamTags(form url.Values) (map[string]string, *apiError) {
	tags := map[string]string{}
	for i := 1; ; i++ {
		k, ok := form[fmt.Sprintf("Tags.member.%d.Key", i)]
		if !ok {
			break
		}
		key, value := k[0], form.Get(fmt.Sprintf("Tags.member.%d.Value", i))
		if key == "" || len(key) > 128 || !iamTagRe.MatchString(key) || len(value) > 256 || !iamTagRe.MatchString(value) {
			return nil, errf(400, "InvalidInput", "1 validation error detected: Value at 'tags.%d' failed to satisfy constraint: tag keys must be 1-128 and values 0-256 characters of [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]", i)
		}
		if _, dup := tags[key]; dup {
			return nil, errf(400, "InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		tags[key] = value
	}
	if len(tags) == 0 || len(tags) > maxTagsPerUser {
		return nil, errf(400, "ValidationError", "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length between 1 and %d", maxTagsPerUser)
	}
	return tags, nil
}

func tagsXML(tags map[string]string) []iamTagXML {
	var out []iamTagXML
	for k, v := range tags {
		out = append(out, iamTagXML{k, v})
	}
	slices.SortFunc(out, func(a, b iamTagXML) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// logIAM logs an IAM request for the IAM oracle before it runs, as IAM
// authorizes it: the action on the user's ARN (arn:aws:iam::<caller's
// account>:user<path><name>, the path "/" for a user it does not know), the
// user's tags as aws:ResourceTag/<key> as they were before the call, and for
// TagUser the tags it writes as aws:TagKeys and aws:RequestTag/<key>. It
// never logs an access key's secret (no action it serves carries one in).
func (s *Server) logIAM(caller *keyRec, action string, form url.Values) {
	name := form.Get("UserName")
	account := caller.creds.Account
	ctx := map[string][]string{}
	resource := IAMUser{Account: account, Name: name}.ARN()
	s.mu.Lock()
	if u := s.iam[iamUserKey{account, name}]; u != nil {
		resource = u.ARN()
		for k, v := range u.Tags {
			ctx["aws:ResourceTag/"+k] = []string{v}
		}
	}
	s.mu.Unlock()
	if action == "TagUser" {
		for i := 1; ; i++ {
			k, ok := form[fmt.Sprintf("Tags.member.%d.Key", i)]
			if !ok {
				break
			}
			ctx["aws:TagKeys"] = append(ctx["aws:TagKeys"], k[0])
			ctx["aws:RequestTag/"+k[0]] = []string{form.Get(fmt.Sprintf("Tags.member.%d.Value", i))}
		}
	}
	s.logRequest(caller, "iam:"+action, resource, ctx, "")
}
