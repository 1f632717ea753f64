package localaws

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Role is an IAM role that AssumeRole can assume. The trust policy it models:
// principals of TrustedAccounts may assume it, and when ExternalID is set the
// caller must pass exactly that ExternalId.
type Role struct {
	Account            string   // the role's account (12 digits)
	Name               string   // role name, e.g. "RotaryMember"
	Path               string   // optional IAM path, e.g. "/rotary/"; default "/"
	TrustedAccounts    []string // accounts whose principals may assume the role
	ExternalID         string   // required ExternalId, "" for none
	MaxSessionDuration time.Duration
}

// ARN returns arn:aws:iam::<Account>:role<Path><Name>.
func (r Role) ARN() string {
	p := r.Path
	if p == "" {
		p = "/"
	}
	return "arn:aws:iam::" + r.Account + ":role" + p + r.Name
}

// AddRole registers a role (replacing one with the same ARN) and makes sure
// its account exists. It returns the role's ARN.
func (s *Server) AddRole(r Role) string {
	if !validAccountID(r.Account) || r.Name == "" {
		panic(fmt.Sprintf("localaws: AddRole: need a 12-digit account and a name, got %q, %q", r.Account, r.Name))
	}
	if r.MaxSessionDuration == 0 {
		r.MaxSessionDuration = time.Hour
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[r.Account] = true
	s.roles[r.ARN()] = r
	return r.ARN()
}

var (
	sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]*$`)
	externalIDRe  = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
)

func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request, form url.Values, body []byte) {
	action := form.Get("Action")
	if action != "AssumeRole" && action != "GetCallerIdentity" {
		writeXMLError(w, errf(400, "InvalidAction", "Could not find operation %s for version 2011-06-15", action))
		return
	}
	caller, region, aerr := s.authenticate(r, body, false)
	if aerr != nil {
		writeXMLError(w, aerr)
		return
	}
	req := &request{ctx: r.Context(), op: action, account: caller.creds.Account, region: region, caller: caller}
	f := s.count(action, req.account)
	if e := queryFault(r.Context(), f, errf(403, "AccessDenied", "User: %s is not authorized to perform: sts:%s", caller.arn, action)); e != nil {
		writeXMLError(w, e)
		return
	}
	var (
		out any
		e   *apiError
	)
	switch action {
	case "AssumeRole":
		out, e = s.assumeRole(req, form)
	default:
		out = getCallerIdentityResponse{
			Result: callerIdentity{Account: req.account, Arn: caller.arn, UserID: caller.userID},
			Meta:   responseMetadata{newUUID()},
		}
	}
	writeQueryResult(w, stsNamespace, f, out, e)
}

func stsValidation(member, constraint string) *apiError {
	return errf(400, "ValidationError", "1 validation error detected: Value at '%s' failed to satisfy constraint: %s", member, constraint)
}

func (s *Server) assumeRole(r *request, form url.Values) (any, *apiError) {
	roleARN := form.Get("RoleArn")
	session := form.Get("RoleSessionName")
	if l := len(roleARN); l < 20 || l > 2048 {
		return nil, stsValidation("roleArn", "Member must have length between 20 and 2048")
	}
	if l := len(session); l < 2 || l > 64 {
		return nil, stsValidation("roleSessionName", "Member must have length between 2 and 64")
	}
	if !sessionNameRe.MatchString(session) {
		return nil, stsValidation("roleSessionName", `Member must satisfy regular expression pattern: [\w+=,.@-]*`)
	}
	ext, hasExt := form.Get("ExternalId"), form.Has("ExternalId")
	if hasExt {
		if l := len(ext); l < 2 || l > 1224 {
			return nil, stsValidation("externalId", "Member must have length between 2 and 1224")
		}
		if !externalIDRe.MatchString(ext) {
			return nil, stsValidation("externalId", `Member must satisfy regular expression pattern: [\w+=,.@:\/-]*`)
		}
	}
	if len(form.Get("Policy")) > 2048 {
		return nil, stsValidation("policy", "Member must have length less than or equal to 2048")
	}
	duration := time.Hour
	if v := form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 || n > 43200 {
			return nil, stsValidation("durationSeconds", "Member must have value between 900 and 43200")
		}
		duration = time.Duration(n) * time.Second
	}
	var extLogged *string
	if hasExt {
		extLogged = &ext
	}
	s.logAssumeRole(r, roleARN, extLogged)
	s.mu.Lock()
	role, ok := s.roles[roleARN]
	s.mu.Unlock()
	trusted := ok && slices.Contains(role.TrustedAccounts, r.account) && (role.ExternalID == "" || ext == role.ExternalID)
	if !trusted {
		return nil, errf(403, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", r.caller.arn, roleARN)
	}
	if duration > role.MaxSessionDuration {
		return nil, stsValidation("durationSeconds", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	if r.caller.assumed && duration > time.Hour {
		return nil, stsValidation("durationSeconds", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	exp := s.now().Add(duration).UTC().Truncate(time.Second)
	creds := Credentials{
		AccessKeyID:     "ASIA" + randomString(upperDigits, 16),
		SecretAccessKey: randomString(alnum, 40),
		SessionToken:    "IQoJb3JpZ2luX2VjE" + randomString(alnum, 160),
		Expiration:      exp,
		Account:         role.Account,
	}
	roleID := "AROA" + roleIDSuffix(roleARN)
	assumedARN := "arn:aws:sts::" + role.Account + ":assumed-role/" + role.Name + "/" + session
	s.mu.Lock()
	s.keys[creds.AccessKeyID] = &keyRec{creds: creds, arn: assumedARN, userID: roleID + ":" + session, assumed: true, role: roleARN}
	s.mu.Unlock()
	res := assumeRoleResponse{Meta: responseMetadata{newUUID()}}
	res.Result.User = assumedRoleUser{Arn: assumedARN, AssumedRoleID: roleID + ":" + session}
	res.Result.Credentials = stsCredentials{
		AccessKeyID:     creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey,
		SessionToken:    creds.SessionToken,
		Expiration:      exp.Format(time.RFC3339),
	}
	if si := form.Get("SourceIdentity"); si != "" {
		res.Result.SourceIdentity = si
	}
	if form.Get("Policy") != "" || form.Has("Tags.member.1.Key") || form.Has("PolicyArns.member.1.arn") {
		size := 6 // percent of the packed-policy limit used; the emulator does not pack policies
		res.Result.PackedPolicySize = &size
	}
	return res, nil
}

// roleIDSuffix derives a stable 17-character unique ID for a role ARN.
func roleIDSuffix(roleARN string) string {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(roleARN); i++ {
		h = (h ^ uint64(roleARN[i])) * 1099511628211
	}
	var b strings.Builder
	for range 17 {
		b.WriteByte(upperDigits[h%uint64(len(upperDigits))])
		h = h/uint64(len(upperDigits)) ^ (h << 7) ^ 0x5bd1e995
	}
	return b.String()
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type assumedRoleUser struct {
	Arn           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Result  struct {
		SourceIdentity   string          `xml:"SourceIdentity,omitempty"`
		User             assumedRoleUser `xml:"AssumedRoleUser"`
		Credentials      stsCredentials  `xml:"Credentials"`
		PackedPolicySize *int            `xml:"PackedPolicySize,omitempty"`
	} `xml:"AssumeRoleResult"`
	Meta responseMetadata `xml:"ResponseMetadata"`
}

type callerIdentity struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

type getCallerIdentityResponse struct {
	XMLName xml.Name         `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
	Result  callerIdentity   `xml:"GetCallerIdentityResult"`
	Meta    responseMetadata `xml:"ResponseMetadata"`
}
