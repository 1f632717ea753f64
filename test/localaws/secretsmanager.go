package localaws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// smHandler serves one Secrets Manager operation.
type smHandler func(s *Server, r *request, body []byte) (any, *apiError)

// smOps lists the Secrets Manager operations the emulator implements.
var smOps = map[string]smHandler{
	"CreateSecret":             (*Server).createSecret,
	"DescribeSecret":           (*Server).describeSecret,
	"GetSecretValue":           (*Server).getSecretValue,
	"PutSecretValue":           (*Server).putSecretValue,
	"UpdateSecretVersionStage": (*Server).updateSecretVersionStage,
	"ListSecretVersionIds":     (*Server).listSecretVersionIDs,
	"ListSecrets":              (*Server).listSecrets,
	"UpdateSecret":             (*Server).updateSecret,
	"DeleteSecret":             (*Server).deleteSecret,
	"RestoreSecret":            (*Server).restoreSecret,
	"TagResource":              (*Server).tagResource,
	"UntagResource":            (*Server).untagResource,
	"GetRandomPassword":        (*Server).getRandomPassword,
	"RotateSecret":             (*Server).rotateSecret,
	"CancelRotateSecret":       (*Server).cancelRotateSecret,
	"BatchGetSecretValue":      (*Server).batchGetSecretValue,
}

func (s *Server) serveSecretsManager(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	caller, region, aerr := s.authenticate(r, body, true)
	if aerr != nil {
		writeJSONError(w, aerr)
		return
	}
	h, ok := smOps[op]
	if !ok {
		writeJSONError(w, &apiError{400, "UnknownOperationException", ""})
		return
	}
	req := &request{ctx: r.Context(), op: op, account: caller.creds.Account, region: region, caller: caller}
	s.logSecretsManager(req, body)
	f := s.count(op, req.account)
	if f != nil {
		switch f.Kind {
		case Throttle:
			writeJSONError(w, &apiError{400, "ThrottlingException", "Rate exceeded"})
			return
		case InternalError:
			writeJSONError(w, &apiError{500, "InternalServiceError", "An error occurred on the server side."})
			return
		case AccessDenied:
			writeJSONError(w, errf(400, "AccessDeniedException", "User: %s is not authorized to perform: secretsmanager:%s because no identity-based policy allows the secretsmanager:%s action", caller.arn, op, op))
			return
		case Latency:
			sleep(r.Context(), f.Latency)
		}
	}
	out, aerr := h(s, req, body)
	if f != nil && f.Kind == AppliedThenFailed {
		aerr = &apiError{500, "InternalServiceError", "An error occurred on the server side."}
	}
	if aerr != nil {
		writeJSONError(w, aerr)
		return
	}
	writeJSON(w, out)
}

// decode reads a JSON request body. Unknown members are ignored, as AWS does.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{400, "SerializationException", "the request body is not a valid request for this operation"}
	}
	return nil
}

// validation builds AWS's ValidationException text. It never echoes the
// value: secret values and tokens must not appear in errors.
func validation(member, constraint string) *apiError {
	return errf(400, "ValidationException", "1 validation error detected: Value at '%s' failed to satisfy constraint: %s", member, constraint)
}

func checkLen(member string, n, lo, hi int) *apiError {
	if n < lo {
		return validation(member, fmt.Sprintf("Member must have length greater than or equal to %d", lo))
	}
	if n > hi {
		return validation(member, fmt.Sprintf("Member must have length less than or equal to %d", hi))
	}
	return nil
}

func checkSecretID(id string) *apiError {
	return checkLen("secretId", len(id), 1, 2048)
}

func checkToken(member string, tok *string) *apiError {
	if tok == nil {
		return nil
	}
	return checkLen(member, len(*tok), 32, 64)
}

const maxValueBytes = 65536

func checkValue(str *string, bin []byte) *apiError {
	if str != nil && bin != nil {
		return errf(400, "InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if str != nil {
		return checkLen("secretString", len(*str), 0, maxValueBytes)
	}
	if bin != nil {
		return checkLen("secretBinary", len(bin), 1, maxValueBytes)
	}
	return nil
}

func validName(name string) *apiError {
	if e := checkLen("name", len(name), 1, 512); e != nil {
		return e
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/_+=.@-", c)
		if !ok {
			return errf(400, "ValidationException", "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
		}
	}
	return nil
}

func checkTags(tags []Tag) *apiError {
	if len(tags) > 50 {
		return validation("tags", "Member must have length less than or equal to 50")
	}
	for _, t := range tags {
		if e := checkLen("tags.member.key", len(t.Key), 1, 128); e != nil {
			return e
		}
		if e := checkLen("tags.member.value", len(t.Value), 0, 256); e != nil {
			return e
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return errf(400, "InvalidParameterException", "Invalid tag key: the aws: prefix is reserved for AWS use.")
		}
	}
	return nil
}

func errNotFound() *apiError {
	return errf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func errDeleted() *apiError {
	return errf(400, "InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
}

func errTokenInUse(tok, arn string) *apiError {
	return errf(400, "ResourceExistsException", "You can't use ClientRequestToken %s because that value is already in use for a version of secret %s.", tok, arn)
}

// locate returns the store a SecretId addresses: the ARN's account and region
// for an ARN, the caller's otherwise. Another account's ARN is refused the way
// IAM refuses it when no resource policy grants access.
func (s *Server) locate(r *request, id string) (*store, *apiError) {
	if e := checkSecretID(id); e != nil {
		return nil, e
	}
	if region, account, _, ok := parseSecretARN(id); ok {
		if account != r.account {
			return nil, errf(400, "AccessDeniedException",
				"User: %s is not authorized to perform: secretsmanager:%s on resource: %s because no resource-based policy allows the secretsmanager:%s action",
				r.caller.arn, r.op, id, r.op)
		}
		return s.storeFor(account, region), nil
	}
	return s.storeFor(r.account, r.region), nil
}

// withSecret runs fn with the secret id names, its store locked. Secrets
// scheduled for deletion are refused unless allowDeleted.
func (s *Server) withSecret(r *request, id string, allowDeleted bool, fn func(st *store, sec *secretRec) (any, *apiError)) (any, *apiError) {
	st, e := s.locate(r, id)
	if e != nil {
		return nil, e
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	sec := st.find(id, s.now())
	if sec == nil {
		return nil, errNotFound()
	}
	if !allowDeleted && !sec.deleted.IsZero() {
		return nil, errDeleted()
	}
	return fn(st, sec)
}

type arnName struct {
	ARN  string `json:"ARN"`
	Name string `json:"Name"`
}

type arnNameVersion struct {
	ARN       string `json:"ARN"`
	Name      string `json:"Name"`
	VersionID string `json:"VersionId,omitempty"`
}

func (s *Server) createSecret(r *request, body []byte) (any, *apiError) {
	var in struct {
		Name               string
		ClientRequestToken *string
		Description        *string
		KmsKeyID           *string `json:"KmsKeyId"`
		SecretString       *string
		SecretBinary       []byte
		Tags               []Tag
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := validName(in.Name); e != nil {
		return nil, e
	}
	if e := checkToken("clientRequestToken", in.ClientRequestToken); e != nil {
		return nil, e
	}
	if in.Description != nil {
		if e := checkLen("description", len(*in.Description), 0, 2048); e != nil {
			return nil, e
		}
	}
	if e := checkValue(in.SecretString, in.SecretBinary); e != nil {
		return nil, e
	}
	if e := checkTags(in.Tags); e != nil {
		return nil, e
	}
	token := newUUID()
	if in.ClientRequestToken != nil {
		token = *in.ClientRequestToken
	}
	hasValue := in.SecretString != nil || in.SecretBinary != nil
	st := s.storeFor(r.account, r.region)
	st.mu.Lock()
	defer st.mu.Unlock()
	if sec := st.byName[in.Name]; sec != nil && !st.purge(sec, s.now()) {
		if !sec.deleted.IsZero() {
			return nil, errf(400, "InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		if v := sec.versions[token]; v != nil {
			if hasValue && v.sameValue(in.SecretString, in.SecretBinary) {
				return arnNameVersion{sec.arn, sec.name, v.id}, nil
			}
			return nil, errTokenInUse(token, sec.arn)
		}
		return nil, errf(400, "ResourceExistsException", "The operation failed because the secret %s already exists.", in.Name)
	}
	now := s.now()
	sec := &secretRec{
		name:        in.Name,
		arn:         fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", r.region, r.account, in.Name, randomString(alnum, 6)),
		description: in.Description,
		kmsKeyID:    in.KmsKeyID,
		tags:        mergeTags(nil, in.Tags),
		created:     now,
		lastChanged: now,
		versions:    map[string]*version{},
	}
	out := arnNameVersion{ARN: sec.arn, Name: sec.name}
	if hasValue {
		sec.addVersion(&version{id: token, str: in.SecretString, bin: in.SecretBinary, stages: []string{stageCurrent}, created: now})
		out.VersionID = token
	}
	st.byName[sec.name] = sec
	st.byARN[sec.arn] = sec
	return out, nil
}

func mergeTags(have, add []Tag) []Tag {
	out := slices.Clone(have)
	for _, t := range add {
		if i := slices.IndexFunc(out, func(o Tag) bool { return o.Key == t.Key }); i >= 0 {
			out[i].Value = t.Value
		} else {
			out = append(out, t)
		}
	}
	return out
}

// secretDesc is DescribeSecret's answer and a ListSecrets entry.
type secretDesc struct {
	ARN                    string              `json:"ARN"`
	Name                   string              `json:"Name"`
	Description            *string             `json:"Description,omitempty"`
	KmsKeyID               *string             `json:"KmsKeyId,omitempty"`
	RotationEnabled        *bool               `json:"RotationEnabled,omitempty"`
	RotationLambdaARN      string              `json:"RotationLambdaARN,omitempty"`
	RotationRules          *RotationRules      `json:"RotationRules,omitempty"`
	LastRotatedDate        *epoch              `json:"LastRotatedDate,omitempty"`
	LastChangedDate        *epoch              `json:"LastChangedDate,omitempty"`
	LastAccessedDate       *epoch              `json:"LastAccessedDate,omitempty"`
	DeletedDate            *epoch              `json:"DeletedDate,omitempty"`
	NextRotationDate       *epoch              `json:"NextRotationDate,omitempty"`
	Tags                   []Tag               `json:"Tags,omitempty"`
	VersionIDsToStages     map[string][]string `json:"VersionIdsToStages,omitempty"`
	SecretVersionsToStages map[string][]string `json:"SecretVersionsToStages,omitempty"`
	CreatedDate            *epoch              `json:"CreatedDate,omitempty"`
	OwningService          string              `json:"OwningService,omitempty"`
	PrimaryRegion          string              `json:"PrimaryRegion,omitempty"`
	ReplicationStatus      []ReplicaStatus     `json:"ReplicationStatus,omitempty"`
}

func (sec *secretRec) describe() secretDesc {
	d := secretDesc{
		ARN:               sec.arn,
		Name:              sec.name,
		Description:       sec.description,
		KmsKeyID:          sec.kmsKeyID,
		RotationLambdaARN: sec.lambdaARN,
		RotationRules:     sec.rules,
		LastChangedDate:   ep(sec.lastChanged),
		LastAccessedDate:  ep(sec.lastAccessed),
		DeletedDate:       ep(sec.deleted),
		CreatedDate:       ep(sec.created),
		Tags:              slices.Clone(sec.tags),
		OwningService:     sec.owner,
		PrimaryRegion:     sec.primary,
		ReplicationStatus: slices.Clone(sec.replicas),
	}
	if sec.rotationSet {
		on := sec.rotationOn
		d.RotationEnabled = &on
	}
	if sec.rotationOn {
		d.LastRotatedDate = ep(sec.lastRotated)
		d.NextRotationDate = ep(sec.nextRotation)
	}
	m := map[string][]string{}
	for _, id := range sec.order {
		if v := sec.versions[id]; len(v.stages) > 0 {
			m[id] = slices.Clone(v.stages)
		}
	}
	if len(m) > 0 {
		d.VersionIDsToStages = m
	}
	return d
}

func (s *Server) describeSecret(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.withSecret(r, in.SecretID, true, func(_ *store, sec *secretRec) (any, *apiError) {
		return sec.describe(), nil
	})
}

type secretValueOut struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionID     string   `json:"VersionId"`
	SecretString  *string  `json:"SecretString,omitempty"`
	SecretBinary  []byte   `json:"SecretBinary,omitempty"`
	VersionStages []string `json:"VersionStages"`
	CreatedDate   *epoch   `json:"CreatedDate,omitempty"`
}

// value resolves GetSecretValue's selectors on a live secret.
func (s *Server) value(sec *secretRec, versionID, stage string) (*secretValueOut, *apiError) {
	var v *version
	switch {
	case versionID != "":
		v = sec.versions[versionID]
		if v == nil {
			return nil, errf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", versionID)
		}
		if stage != "" && !v.has(stage) {
			return nil, errf(400, "InvalidRequestException", "You provided a VersionStage that is not associated to the provided VersionId.")
		}
	default:
		if stage == "" {
			stage = stageCurrent
		}
		v = sec.holder(stage)
	}
	if v == nil || !v.hasValue() {
		if stage != "" {
			return nil, errf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
		return nil, errf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", versionID)
	}
	now := day(s.now())
	v.lastAccessed = now
	sec.lastAccessed = now
	return &secretValueOut{
		ARN: sec.arn, Name: sec.name, VersionID: v.id,
		SecretString: v.str, SecretBinary: v.bin,
		VersionStages: slices.Clone(v.stages), CreatedDate: ep(v.created),
	}, nil
}

func (s *Server) getSecretValue(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID     string `json:"SecretId"`
		VersionID    string `json:"VersionId"`
		VersionStage string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.VersionID != "" {
		if e := checkLen("versionId", len(in.VersionID), 32, 64); e != nil {
			return nil, e
		}
	}
	return s.withSecret(r, in.SecretID, false, func(_ *store, sec *secretRec) (any, *apiError) {
		return s.value(sec, in.VersionID, in.VersionStage)
	})
}

type putOut struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionID     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages"`
}

func (s *Server) putSecretValue(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID           string `json:"SecretId"`
		ClientRequestToken *string
		SecretString       *string
		SecretBinary       []byte
		VersionStages      []string
		RotationToken      *string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkToken("clientRequestToken", in.ClientRequestToken); e != nil {
		return nil, e
	}
	if in.SecretString == nil && in.SecretBinary == nil {
		return nil, errf(400, "InvalidRequestException", "You must provide either SecretString or SecretBinary.")
	}
	if e := checkValue(in.SecretString, in.SecretBinary); e != nil {
		return nil, e
	}
	if in.VersionStages != nil {
		if e := checkStages(in.VersionStages); e != nil {
			return nil, e
		}
	}
	token := newUUID()
	if in.ClientRequestToken != nil {
		token = *in.ClientRequestToken
	}
	return s.withSecret(r, in.SecretID, false, func(_ *store, sec *secretRec) (any, *apiError) {
		if e := checkRotationToken(r, sec, in.RotationToken); e != nil {
			return nil, e
		}
		v, e := s.putValue(sec, token, in.SecretString, in.SecretBinary, in.VersionStages)
		if e != nil {
			return nil, e
		}
		return putOut{sec.arn, sec.name, v.id, slices.Clone(v.stages)}, nil
	})
}

func checkStages(stages []string) *apiError {
	if e := checkLen("versionStages", len(stages), 1, 20); e != nil {
		return e
	}
	for _, st := range stages {
		if e := checkLen("versionStages.member", len(st), 1, 256); e != nil {
			return e
		}
	}
	return nil
}

// putValue stores a value under token (PutSecretValue's algorithm, also used
// by UpdateSecret). A token naming a version with the same value is a no-op
// that returns that version; with another value it is ResourceExistsException;
// a valueless RotateSecret placeholder gets the value.
func (s *Server) putValue(sec *secretRec, token string, str *string, bin []byte, stages []string) (*version, *apiError) {
	now := s.now()
	v := sec.versions[token]
	switch {
	case v != nil && v.hasValue():
		if v.sameValue(str, bin) {
			return v, nil
		}
		return nil, errTokenInUse(token, sec.arn)
	case v != nil:
		v.str, v.bin = str, bin
	default:
		v = &version{id: token, str: str, bin: bin, created: now}
		sec.addVersion(v)
	}
	if len(stages) == 0 {
		stages = []string{stageCurrent}
	}
	if cur := sec.holder(stageCurrent); cur == nil || !cur.hasValue() {
		if !slices.Contains(stages, stageCurrent) {
			stages = append(slices.Clone(stages), stageCurrent)
		}
	}
	for _, st := range stages {
		sec.moveStage(st, v)
	}
	// RotationAbandoned: AWSCURRENT moved to a version other than the pending
	// one, so the pending rotation can never finish.
	if slices.Contains(stages, stageCurrent) {
		if p := sec.holder(stagePending); p != nil && p != v {
			p.remove(stagePending)
		}
	}
	sec.lastChanged = now
	return v, nil
}

func (s *Server) updateSecretVersionStage(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID            string `json:"SecretId"`
		VersionStage        string
		MoveToVersionID     *string `json:"MoveToVersionId"`
		RemoveFromVersionID *string `json:"RemoveFromVersionId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkLen("versionStage", len(in.VersionStage), 1, 256); e != nil {
		return nil, e
	}
	if e := checkToken("moveToVersionId", in.MoveToVersionID); e != nil {
		return nil, e
	}
	if e := checkToken("removeFromVersionId", in.RemoveFromVersionID); e != nil {
		return nil, e
	}
	// RemoveFromVersionId must name the version holding the label, also on a
	// retry after the move happened (the answer is then an error, as moto
	// answers; AWS documents no idempotent shortcut).
	return s.withSecret(r, in.SecretID, false, func(_ *store, sec *secretRec) (any, *apiError) {
		label := in.VersionStage
		holder := sec.holder(label)
		var from, to *version
		if in.RemoveFromVersionID != nil {
			if from = sec.versions[*in.RemoveFromVersionID]; from == nil {
				return nil, errf(400, "InvalidParameterException", "Not a valid version: %s", *in.RemoveFromVersionID)
			}
			if !from.has(label) {
				return nil, errf(400, "InvalidParameterException", "Version stage %s not found in version %s", label, from.id)
			}
		}
		if in.MoveToVersionID != nil {
			if to = sec.versions[*in.MoveToVersionID]; to == nil {
				return nil, errf(400, "InvalidParameterException", "Not a valid version: %s", *in.MoveToVersionID)
			}
		}
		switch {
		case to == nil && from == nil:
			return nil, errf(400, "InvalidParameterException", "You must specify MoveToVersionId or RemoveFromVersionId.")
		case to == nil:
			// Remove only. Removing AWSCURRENT leaves AWSPREVIOUS on the
			// version it was removed from, as when it moves.
			from.remove(label)
			if label == stageCurrent {
				for _, id := range sec.order {
					sec.versions[id].remove(stagePrevious)
				}
				from.add(stagePrevious)
			}
		case holder != nil && holder != to && from == nil:
			return nil, errf(400, "InvalidParameterException",
				"The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.",
				label, holder.id)
		case label == stageCurrent && !to.hasValue():
			return nil, errf(400, "InvalidRequestException", "You can't attach the staging label AWSCURRENT to a version that has no secret value.")
		default:
			sec.moveStage(label, to)
		}
		sec.lastChanged = s.now()
		return arnName{sec.arn, sec.name}, nil
	})
}

type versionEntry struct {
	VersionID        string   `json:"VersionId"`
	VersionStages    []string `json:"VersionStages,omitempty"`
	CreatedDate      *epoch   `json:"CreatedDate,omitempty"`
	LastAccessedDate *epoch   `json:"LastAccessedDate,omitempty"`
}

func (s *Server) listSecretVersionIDs(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID          string `json:"SecretId"`
		IncludeDeprecated bool
		MaxResults        *int
		NextToken         *string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	limit, start, e := paging(in.MaxResults, in.NextToken, 100)
	if e != nil {
		return nil, e
	}
	return s.withSecret(r, in.SecretID, true, func(_ *store, sec *secretRec) (any, *apiError) {
		var all []versionEntry
		for _, id := range sec.order {
			v := sec.versions[id]
			if !v.hasValue() || (len(v.stages) == 0 && !in.IncludeDeprecated) {
				continue
			}
			all = append(all, versionEntry{v.id, slices.Clone(v.stages), ep(v.created), ep(v.lastAccessed)})
		}
		page, next := cut(all, start, limit)
		return struct {
			ARN       string         `json:"ARN"`
			Name      string         `json:"Name"`
			Versions  []versionEntry `json:"Versions"`
			NextToken string         `json:"NextToken,omitempty"`
		}{sec.arn, sec.name, page, next}, nil
	})
}

// paging reads MaxResults (1..max) and a NextToken made by cut.
func paging(maxResults *int, nextToken *string, maxLimit int) (limit, start int, e *apiError) {
	limit = maxLimit
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > maxLimit {
			return 0, 0, validation("maxResults", fmt.Sprintf("Member must have value between 1 and %d", maxLimit))
		}
		limit = *maxResults
	}
	if nextToken != nil && *nextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(*nextToken)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
		if err != nil || err2 != nil || n < 0 {
			return 0, 0, errf(400, "InvalidNextTokenException", "The NextToken value is invalid.")
		}
		start = n
	}
	return limit, start, nil
}

func cut[T any](all []T, start, limit int) ([]T, string) {
	if start > len(all) {
		start = len(all)
	}
	end := min(start+limit, len(all))
	next := ""
	if end < len(all) {
		next = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
	}
	return all[start:end], next
}

type filter struct {
	Key    string
	Values []string
}

var filterValueRe = regexp.MustCompile(`^!?[a-zA-Z0-9 :_@/+=.\-!]*$`)

var filterKeys = []string{"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}

func checkFilters(fs []filter) *apiError {
	if len(fs) > 10 {
		return validation("filters", "Member must have length less than or equal to 10")
	}
	for _, f := range fs {
		if !slices.Contains(filterKeys, f.Key) {
			return validation("filters.member.key", "Member must satisfy enum value set: [all, name, tag-key, description, tag-value, primary-region, owning-service]")
		}
		if len(f.Values) < 1 || len(f.Values) > 10 {
			return validation("filters.member.values", "Member must have length between 1 and 10")
		}
		for _, v := range f.Values {
			if len(v) > 512 || !filterValueRe.MatchString(v) {
				return validation("filters.member.values.member", `Member must have length less than or equal to 512 and satisfy regular expression pattern: ^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$`)
			}
		}
	}
	return nil
}

// matches applies ListSecrets filters as API_Filter documents them: every
// filter must match, and within one filter any value. name, tag-key and
// tag-value are case-sensitive prefix matches; description matches the start
// of the description or of one of its words, ignoring case; all splits the
// value into words and matches any word against the start of any word of the
// name, description, tag keys and tag values, ignoring case. A value starting
// with "!" negates.
func (sec *secretRec) matches(fs []filter) bool {
	desc := ""
	if sec.description != nil {
		desc = *sec.description
	}
	var tagKeys, tagValues []string
	for _, t := range sec.tags {
		tagKeys = append(tagKeys, t.Key)
		tagValues = append(tagValues, t.Value)
	}
	for _, f := range fs {
		ok := false
		for _, val := range f.Values {
			neg := strings.HasPrefix(val, "!")
			val = strings.TrimPrefix(val, "!")
			var hit bool
			switch f.Key {
			case "name":
				hit = strings.HasPrefix(sec.name, val)
			case "tag-key":
				hit = slices.ContainsFunc(tagKeys, func(k string) bool { return strings.HasPrefix(k, val) })
			case "tag-value":
				hit = slices.ContainsFunc(tagValues, func(v string) bool { return strings.HasPrefix(v, val) })
			case "description":
				lv := strings.ToLower(val)
				hit = strings.HasPrefix(strings.ToLower(desc), lv) ||
					slices.ContainsFunc(words(desc), func(w string) bool { return strings.HasPrefix(w, lv) })
			case "all":
				var fields []string
				for _, f := range append(append([]string{sec.name, desc}, tagKeys...), tagValues...) {
					fields = append(fields, words(f)...)
				}
				for _, w := range words(val) {
					if slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(f, w) }) {
						hit = true
						break
					}
				}
			}
			if hit != neg {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// words splits s into lower-case words at punctuation, spaces, lower-to-upper
// case changes and letter/digit boundaries ("credsDatabase#892" -> creds,
// database, 892), as Secrets Manager's search does.
func words(s string) []string {
	var out []string
	var cur []rune
	kind := func(r rune) int {
		switch {
		case unicode.IsDigit(r):
			return 1
		case unicode.IsLetter(r):
			return 2
		}
		return 0
	}
	prev := rune(0)
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for _, r := range s {
		k := kind(r)
		switch {
		case k == 0:
			flush()
		case len(cur) > 0 && (kind(prev) != k || unicode.IsLower(prev) && unicode.IsUpper(r)):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	return out
}

// listed returns the caller's secrets in its region that match fs, sorted by
// creation date (then name), with their store locked by the caller of fn.
func (s *Server) listed(r *request, fs []filter, includeDeleted, desc bool, fn func(secs []*secretRec)) {
	st := s.storeFor(r.account, r.region)
	st.mu.Lock()
	defer st.mu.Unlock()
	var secs []*secretRec
	now := s.now()
	for _, sec := range st.byName {
		if st.purge(sec, now) {
			continue
		}
		if (includeDeleted || sec.deleted.IsZero()) && sec.matches(fs) {
			secs = append(secs, sec)
		}
	}
	sort.Slice(secs, func(i, j int) bool {
		a, b := secs[i], secs[j]
		if !a.created.Equal(b.created) {
			return a.created.Before(b.created) != desc
		}
		return (a.name < b.name) != desc
	})
	fn(secs)
}

func (s *Server) listSecrets(r *request, body []byte) (any, *apiError) {
	var in struct {
		Filters                []filter
		MaxResults             *int
		NextToken              *string
		SortOrder              string
		IncludePlannedDeletion bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkFilters(in.Filters); e != nil {
		return nil, e
	}
	if in.SortOrder != "" && in.SortOrder != "asc" && in.SortOrder != "desc" {
		return nil, validation("sortOrder", "Member must satisfy enum value set: [asc, desc]")
	}
	limit, start, e := paging(in.MaxResults, in.NextToken, 100)
	if e != nil {
		return nil, e
	}
	var out struct {
		SecretList []secretDesc `json:"SecretList"`
		NextToken  string       `json:"NextToken,omitempty"`
	}
	s.listed(r, in.Filters, in.IncludePlannedDeletion, in.SortOrder == "desc", func(secs []*secretRec) {
		page, next := cut(secs, start, limit)
		out.SecretList = []secretDesc{}
		for _, sec := range page {
			d := sec.describe()
			d.SecretVersionsToStages, d.VersionIDsToStages = d.VersionIDsToStages, nil
			d.ReplicationStatus = nil
			out.SecretList = append(out.SecretList, d)
		}
		out.NextToken = next
	})
	return out, nil
}

func (s *Server) updateSecret(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID           string `json:"SecretId"`
		ClientRequestToken *string
		Description        *string
		KmsKeyID           *string `json:"KmsKeyId"`
		SecretString       *string
		SecretBinary       []byte
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkToken("clientRequestToken", in.ClientRequestToken); e != nil {
		return nil, e
	}
	if e := checkValue(in.SecretString, in.SecretBinary); e != nil {
		return nil, e
	}
	if in.Description != nil {
		if e := checkLen("description", len(*in.Description), 0, 2048); e != nil {
			return nil, e
		}
	}
	token := newUUID()
	if in.ClientRequestToken != nil {
		token = *in.ClientRequestToken
	}
	return s.withSecret(r, in.SecretID, false, func(_ *store, sec *secretRec) (any, *apiError) {
		out := arnNameVersion{ARN: sec.arn, Name: sec.name}
		if in.SecretString != nil || in.SecretBinary != nil {
			v, e := s.putValue(sec, token, in.SecretString, in.SecretBinary, nil)
			if e != nil {
				return nil, e
			}
			out.VersionID = v.id
		}
		if in.Description != nil {
			sec.description = in.Description
		}
		if in.KmsKeyID != nil {
			sec.kmsKeyID = in.KmsKeyID
		}
		sec.lastChanged = s.now()
		return out, nil
	})
}

func (s *Server) deleteSecret(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID                   string `json:"SecretId"`
		RecoveryWindowInDays       *int64
		ForceDeleteWithoutRecovery *bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	force := in.ForceDeleteWithoutRecovery != nil && *in.ForceDeleteWithoutRecovery
	if force && in.RecoveryWindowInDays != nil {
		return nil, errf(400, "InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	days := int64(30)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
		if days < 7 || days > 30 {
			return nil, errf(400, "InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
	}
	st, e := s.locate(r, in.SecretID)
	if e != nil {
		return nil, e
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := s.now()
	sec := st.find(in.SecretID, now)
	if sec == nil {
		if force {
			// Force-deleting an unknown secret succeeds [DOC].
			return struct {
				ARN          string `json:"ARN"`
				Name         string `json:"Name"`
				DeletionDate *epoch `json:"DeletionDate"`
			}{in.SecretID, in.SecretID, ep(now)}, nil
		}
		return nil, errNotFound()
	}
	if !sec.deleted.IsZero() && !force {
		return nil, errf(400, "InvalidRequestException", "You tried to perform the operation on a secret that's currently marked deleted.")
	}
	date := now
	if force {
		delete(st.byName, sec.name)
		delete(st.byARN, sec.arn)
	} else {
		date = now.Add(time.Duration(days) * 24 * time.Hour)
		sec.deleted = now
		sec.deletionDate = date
	}
	return struct {
		ARN          string `json:"ARN"`
		Name         string `json:"Name"`
		DeletionDate *epoch `json:"DeletionDate"`
	}{sec.arn, sec.name, ep(date)}, nil
}

func (s *Server) restoreSecret(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.withSecret(r, in.SecretID, true, func(_ *store, sec *secretRec) (any, *apiError) {
		sec.deleted, sec.deletionDate = time.Time{}, time.Time{}
		return arnName{sec.arn, sec.name}, nil
	})
}

func (s *Server) tagResource(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID string `json:"SecretId"`
		Tags     []Tag
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkTags(in.Tags); e != nil {
		return nil, e
	}
	return s.withSecret(r, in.SecretID, true, func(_ *store, sec *secretRec) (any, *apiError) {
		tags := mergeTags(sec.tags, in.Tags)
		if len(tags) > 50 {
			return nil, validation("tags", "Member must have length less than or equal to 50")
		}
		sec.tags = tags
		return struct{}{}, nil
	})
}

func (s *Server) untagResource(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID string `json:"SecretId"`
		TagKeys  []string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.withSecret(r, in.SecretID, true, func(_ *store, sec *secretRec) (any, *apiError) {
		sec.tags = slices.DeleteFunc(sec.tags, func(t Tag) bool { return slices.Contains(in.TagKeys, t.Key) })
		return struct{}{}, nil
	})
}

type batchError struct {
	SecretID  string `json:"SecretId"`
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

func (s *Server) batchGetSecretValue(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretIDList []string `json:"SecretIdList"`
		Filters      []filter
		MaxResults   *int
		NextToken    *string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if (in.SecretIDList == nil) == (in.Filters == nil) {
		return nil, errf(400, "InvalidParameterException", "Either 'SecretIdList' or 'Filters' must be provided, but not both.")
	}
	if in.MaxResults != nil && in.Filters == nil {
		return nil, errf(400, "InvalidParameterException", "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided.")
	}
	var out struct {
		SecretValues []secretValueOut `json:"SecretValues"`
		Errors       []batchError     `json:"Errors"`
		NextToken    string           `json:"NextToken,omitempty"`
	}
	out.SecretValues, out.Errors = []secretValueOut{}, []batchError{}
	if in.SecretIDList != nil {
		if e := checkLen("secretIdList", len(in.SecretIDList), 1, 20); e != nil {
			return nil, e
		}
		one := *r
		one.op = "GetSecretValue"
		for _, id := range in.SecretIDList {
			v, e := s.withSecret(&one, id, false, func(_ *store, sec *secretRec) (any, *apiError) {
				return s.value(sec, "", "")
			})
			if e != nil {
				out.Errors = append(out.Errors, batchError{id, e.code, e.msg})
				continue
			}
			out.SecretValues = append(out.SecretValues, *v.(*secretValueOut))
		}
		return out, nil
	}
	if e := checkFilters(in.Filters); e != nil {
		return nil, e
	}
	limit, start, e := paging(in.MaxResults, in.NextToken, 20)
	if e != nil {
		return nil, e
	}
	s.listed(r, in.Filters, false, false, func(secs []*secretRec) {
		page, next := cut(secs, start, limit)
		for _, sec := range page {
			v, e := s.value(sec, "", "")
			if e != nil {
				out.Errors = append(out.Errors, batchError{sec.arn, e.code, e.msg})
				continue
			}
			out.SecretValues = append(out.SecretValues, *v)
		}
		out.NextToken = next
	})
	return out, nil
}
