package localaws

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
)

// ServicePrincipalSecretsManager is the principal of the calls Secrets
// Manager makes on its own behalf (invoking a rotation function).
const ServicePrincipalSecretsManager = "secretsmanager.amazonaws.com"

// LoggedRequest is one authorization an IAM evaluation would make for a
// request the emulator received: who asked (Principal), for what (Action on
// Resource), and the request context the policies' conditions read. A
// request the service authorizes twice (GetSecretValue of a secret encrypted
// with a customer managed key: secretsmanager:GetSecretValue, then kms:Decrypt
// through Secrets Manager) is logged twice, the second with Via set.
//
// It never holds a secret value, a password or a RotationToken.
type LoggedRequest struct {
	Seq int `json:"seq"` // order of arrival, from 1
	// Principal is the caller's ARN (arn:aws:iam::A:user/N,
	// arn:aws:sts::A:assumed-role/R/S) or a service principal
	// (secretsmanager.amazonaws.com).
	Principal        string `json:"principal"`
	PrincipalAccount string `json:"principalAccount,omitempty"`
	// RoleARN and Session are set for assumed-role callers.
	RoleARN string `json:"roleArn,omitempty"`
	Session string `json:"session,omitempty"`
	// Action is the IAM action, e.g. secretsmanager:GetSecretValue.
	Action string `json:"action"`
	// Resource is the ARN the action is authorized on ("*" when the action has
	// no resource type); ResourceAccount is its account.
	Resource        string `json:"resource"`
	ResourceAccount string `json:"resourceAccount,omitempty"`
	// Context holds the condition keys the emulator knows for the request:
	// aws:ResourceTag/<key> (the secret's tags before the call),
	// secretsmanager:resource/AllowRotationLambdaArn, kms:ViaService,
	// kms:CallerAccount, kms:EncryptionContext:SecretARN, sts:ExternalId,
	// aws:PrincipalOrgID and aws:ResourceOrgID (when SetOrganization named the
	// account), aws:SourceAccount and aws:SourceArn (service calls); for IAM
	// (iam.go) the user's tags as aws:ResourceTag/<key> and TagUser's
	// aws:TagKeys and aws:RequestTag/<key>.
	Context map[string][]string `json:"context,omitempty"`
	// Via names the service that made this call on the caller's behalf
	// (secretsmanager for the KMS calls behind a secret's value).
	Via string `json:"via,omitempty"`
}

// RequestLog returns every request logged since the server started or the
// last ResetRequestLog, in order of arrival.
func (s *Server) RequestLog() []LoggedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqLog)
}

// ResetRequestLog empties the request log.
func (s *Server) ResetRequestLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqLog = nil
}

// SetOrganization records that accounts belong to the AWS Organizations
// organization org: their requests carry aws:PrincipalOrgID, and requests on
// their resources aws:ResourceOrgID.
func (s *Server) SetOrganization(org string, accounts ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.orgs == nil {
		s.orgs = map[string]string{}
	}
	for _, a := range accounts {
		s.orgs[a] = org
	}
}

// LogRequest logs a request that a fake in front of the emulator served (for
// instance an RDS API): the caller is found from r's SigV4 credential as for
// the emulator's own services. It returns false when r's access key is not
// one the server issued (nothing is logged).
func (s *Server) LogRequest(r *http.Request, action, resource string, context map[string][]string) bool {
	akid, _, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return false
	}
	s.mu.Lock()
	k := s.keys[akid]
	s.mu.Unlock()
	if k == nil {
		return false
	}
	s.logRequest(k, action, resource, context, "")
	return true
}

// logRequest appends one entry for caller (nil for the Secrets Manager
// service principal) and, when Options.RequestLogFile is set, writes it as a
// JSON line.
func (s *Server) logRequest(caller *keyRec, action, resource string, context map[string][]string, via string) {
	e := LoggedRequest{Action: action, Resource: resource, Context: map[string][]string{}, Via: via}
	for k, v := range context {
		e.Context[k] = slices.Clone(v)
	}
	if caller == nil {
		e.Principal = ServicePrincipalSecretsManager
	} else {
		e.Principal, e.PrincipalAccount = caller.arn, caller.creds.Account
		if caller.assumed {
			e.RoleARN = caller.role
			e.Session = caller.arn[strings.LastIndex(caller.arn, "/")+1:]
		}
	}
	if f := strings.SplitN(resource, ":", 6); len(f) == 6 {
		e.ResourceAccount = f[4]
	}
	s.mu.Lock()
	if org := s.orgs[e.PrincipalAccount]; org != "" {
		e.Context["aws:PrincipalOrgID"] = []string{org}
	}
	if org := s.orgs[e.ResourceAccount]; org != "" && e.ResourceAccount != "" {
		e.Context["aws:ResourceOrgID"] = []string{org}
	}
	if len(e.Context) == 0 {
		e.Context = nil
	}
	e.Seq = len(s.reqLog) + 1
	s.reqLog = append(s.reqLog, e)
	file := s.opts.RequestLogFile
	s.mu.Unlock()
	if file != "" {
		b, err := json.Marshal(e)
		if err != nil {
			return
		}
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return
		}
		_, _ = f.Write(append(b, '\n'))
		_ = f.Close()
	}
}

// logSecretsManager logs a Secrets Manager request before it runs: the
// secret's ARN, tags and rotation function as the request finds them, and,
// for a value read or written under a customer managed key, the KMS call
// Secrets Manager makes on the caller's behalf.
func (s *Server) logSecretsManager(r *request, body []byte) {
	action := "secretsmanager:" + r.op
	var in struct {
		SecretID string `json:"SecretId"`
		Name     string `json:"Name"`
	}
	_ = json.Unmarshal(body, &in)
	id := in.SecretID
	if r.op == "CreateSecret" {
		id = in.Name
	}
	switch r.op {
	case "GetRandomPassword", "ListSecrets", "BatchGetSecretValue":
		s.logRequest(r.caller, action, "*", nil, "")
		return
	}
	account, region := r.account, r.region
	resource := ""
	if reg, acc, _, ok := parseSecretARN(id); ok {
		account, region, resource = acc, reg, id
	} else if id != "" {
		resource = "arn:aws:secretsmanager:" + region + ":" + account + ":secret:" + id
	}
	ctx := map[string][]string{}
	var kmsKey string
	if id != "" && r.op != "CreateSecret" {
		st := s.storeFor(account, region)
		st.mu.Lock()
		if sec := st.find(id, s.now()); sec != nil {
			resource = sec.arn
			for _, t := range sec.tags {
				ctx["aws:ResourceTag/"+t.Key] = []string{t.Value}
			}
			if sec.lambdaARN != "" {
				ctx["secretsmanager:resource/AllowRotationLambdaArn"] = []string{sec.lambdaARN}
			}
			if sec.kmsKeyID != nil {
				kmsKey = kmsKeyARN(*sec.kmsKeyID, region, account)
			}
		}
		st.mu.Unlock()
	}
	if resource == "" {
		resource = "*"
	}
	s.logRequest(r.caller, action, resource, ctx, "")
	kmsAction := ""
	switch r.op {
	case "GetSecretValue":
		kmsAction = "kms:Decrypt"
	case "PutSecretValue", "UpdateSecret":
		kmsAction = "kms:GenerateDataKey"
	}
	if kmsKey != "" && kmsAction != "" {
		s.logRequest(r.caller, kmsAction, kmsKey, map[string][]string{
			"kms:ViaService":                  {"secretsmanager." + region + ".amazonaws.com"},
			"kms:CallerAccount":               {r.caller.creds.Account},
			"kms:EncryptionContext:SecretARN": {resource},
			"kms:EncryptionContextKeys":       {"SecretARN", "SecretVersionId"},
			"aws:CalledVia":                   {"secretsmanager.amazonaws.com"},
			"aws:CalledViaFirst":              {"secretsmanager.amazonaws.com"},
			"aws:CalledViaLast":               {"secretsmanager.amazonaws.com"},
		}, "secretsmanager")
	}
}

// kmsKeyARN returns the ARN of a secret's KmsKeyId, or "" for the AWS managed
// key aws/secretsmanager (whose key policy AWS owns).
func kmsKeyARN(id, region, account string) string {
	switch {
	case id == "" || id == "alias/aws/secretsmanager" || strings.HasSuffix(id, ":alias/aws/secretsmanager"):
		return ""
	case strings.HasPrefix(id, "arn:"):
		return id
	case strings.HasPrefix(id, "alias/"):
		return "arn:aws:kms:" + region + ":" + account + ":" + id
	}
	return "arn:aws:kms:" + region + ":" + account + ":key/" + id
}

// logAssumeRole logs an sts:AssumeRole request with its ExternalId.
func (s *Server) logAssumeRole(r *request, roleARN string, externalID *string) {
	ctx := map[string][]string{}
	if externalID != nil {
		ctx["sts:ExternalId"] = []string{*externalID}
	}
	s.logRequest(r.caller, "sts:AssumeRole", roleARN, ctx, "")
}

// logInvoke logs Secrets Manager invoking a rotation function for a secret.
func (s *Server) logInvoke(lambdaARN, secretARN string) {
	_, account, _, _ := parseSecretARN(secretARN)
	s.logRequest(nil, "lambda:InvokeFunction", lambdaARN, map[string][]string{
		"aws:SourceAccount": {account},
		"aws:SourceArn":     {secretARN},
	}, "")
}

// logRDS logs an RDS DescribeDBInstances or DescribeDBClusters request (Query
// protocol) from an issued access key, whoever then serves it: the resource is
// the instance or cluster ARN the request names (an identifier becomes the
// ARN in the caller's account and region), or all of them (db:* / cluster:*).
func (s *Server) logRDS(r *http.Request, body []byte) {
	if r.Header.Get("X-Amz-Target") != "" {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return
	}
	action := form.Get("Action")
	kind, param := "db", "DBInstanceIdentifier"
	switch action {
	case "DescribeDBInstances":
	case "DescribeDBClusters":
		kind, param = "cluster", "DBClusterIdentifier"
	default:
		return
	}
	akid, region, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return
	}
	if region == "" {
		region = s.opts.Region
	}
	s.mu.Lock()
	k := s.keys[akid]
	s.mu.Unlock()
	if k == nil {
		return
	}
	resource := form.Get(param)
	switch {
	case strings.HasPrefix(resource, "arn:"):
	case resource == "":
		resource = "arn:aws:rds:" + region + ":" + k.creds.Account + ":" + kind + ":*"
	default:
		resource = "arn:aws:rds:" + region + ":" + k.creds.Account + ":" + kind + ":" + resource
	}
	s.logRequest(k, "rds:"+action, resource, nil, "")
}

// logElastiCache logs an ElastiCache user request (DescribeUsers, ModifyUser,
// ListTagsForResource) of caller in (account, region) before it runs: the
// resource is the user's ARN (DescribeUsers without a UserId: every user of
// the account and region, user:*), with the user's tags as
// aws:ResourceTag/<key> when the user exists there.
func (s *Server) logElastiCache(caller *keyRec, account, region string, form url.Values) {
	action := form.Get("Action")
	prefix := "arn:aws:elasticache:" + region + ":" + account + ":user:"
	resource := prefix + "*"
	switch {
	case action == "ListTagsForResource":
		resource = form.Get("ResourceName")
		if resource == "" {
			resource = "*"
		}
	case form.Get("UserId") != "":
		resource = prefix + form.Get("UserId")
	}
	ctx := map[string][]string{}
	s.mu.Lock()
	if u := s.ecUsers[resource]; u != nil && strings.HasPrefix(resource, prefix) {
		for k, v := range u.Tags {
			ctx["aws:ResourceTag/"+k] = []string{v}
		}
	}
	s.mu.Unlock()
	s.logRequest(caller, "elasticache:"+action, resource, ctx, "")
}
