package iam

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotary-secrets/rotary/shared/awsx/rdsx"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// The example deployment every test renders the templates for. The accounts
// are the e2e rig's (central, members A and B); Outsider is in no
// organization.
const (
	region    = rig.Region
	central   = rig.CentralAccount
	memberA   = rig.MemberA
	memberB   = rig.MemberB
	outsider  = "444444444444"
	orgID     = "o-rotaryexample1"
	memberRol = rig.RoleName

	centralFn       = "rotary-central"
	centralRoleName = "rotary-central-CentralFunctionRole-EXAMPLE1"
	perAccountFn    = "rotary-postgres-multi" // infra/per-account.yaml, Rotator=postgres-multi, in member A
	perAccountRole  = "rotary-postgres-multi-RotationFunctionRole-EXAMPLE2"
	// The e2e suite's account-mode function (rig.AccountConfig): the central
	// bootstrap deployed with infra/per-account.yaml in A as rig.AccountFunctionName.
	accountModeRole = "rotary-account-RotationFunctionRole-EXAMPLE3"
	// The e2e suite's generic function (TestGenericUnderRIE), deployed with
	// infra/per-account.yaml in A with Rotator=generic.
	genericFn   = "rotary-generic"
	genericRole = "rotary-generic-RotationFunctionRole-EXAMPLE4"
	// A postgres-single copy of infra/per-account.yaml in A: its strategy
	// reads no master secret, so its role gets no RDS permission.
	pgSingleFn   = "rotary-postgres-single"
	pgSingleRole = "rotary-postgres-single-RotationFunctionRole-EXAMPLE6"
	// The fleet audit's execution role (template.yaml AuditFunctionRole); in
	// the members it assumes rig.AuditRoleName (infra/member-role.yaml
	// AuditRole, deployed with AuditRoleArn).
	auditFnRole   = "rotary-central-AuditFunctionRole-EXAMPLE5"
	keyID         = "1234abcd-12ab-34cd-56ef-1234567890ab"
	rdsInstanceID = "orders-db"
)

// repoRoot is the repository root, two levels above this package.
const repoRoot = "../.."

func fnARN(account, name string) string {
	return "arn:aws:lambda:" + region + ":" + account + ":function:" + name
}

func roleARN(account, name string) string { return "arn:aws:iam::" + account + ":role/" + name }

func keyARN(account string) string { return "arn:aws:kms:" + region + ":" + account + ":key/" + keyID }

func rdsInstanceARN(account string) string {
	return "arn:aws:rds:" + region + ":" + account + ":db:" + rdsInstanceID
}

// stacks returns the example deployment: the central stack, the member role
// in A and B, the per-account function in A. cmk adds infra/examples/
// member-secret-cmk.yaml in B for the given secrets (nil: not deployed).
func stacks(cmk *rig.Secret) []Stack {
	centralRole := roleARN(central, centralRoleName)
	out := []Stack{{
		File: "template.yaml", Account: central, Region: region, StackName: "rotary-central",
		Params: map[string]string{
			"FunctionName": centralFn, "MemberRoleName": memberRol, "ExternalId": rig.ExternalID,
			"AllowedAccounts": memberA + "," + memberB, "OrgId": orgID,
		},
		// One invoke permission per member account, where the template has it.
		Optional: map[string]string{"MemberAccountIds": memberA + "," + memberB},
		Refs:     map[string]string{"CentralFunctionLogGroup": "/aws/lambda/" + centralFn, "CentralFunction": centralFn},
		Attrs: map[string]string{
			"CentralFunctionRole.Arn": centralRole, "CentralFunction.Arn": fnARN(central, centralFn),
			"AuditFunctionRole.Arn": roleARN(central, auditFnRole),
		},
	}}
	for _, m := range []string{memberA, memberB} {
		out = append(out, Stack{
			File: "infra/member-role.yaml", Account: m, Region: region, StackName: "rotary-member",
			Params: map[string]string{
				"CentralRoleArn": centralRole, "CentralFunctionArn": fnARN(central, centralFn),
				"RoleName": memberRol, "ExternalId": rig.ExternalID, "OrgId": orgID,
				"AuditRoleArn": roleARN(central, auditFnRole), "AuditRoleName": rig.AuditRoleName,
			},
			Optional: map[string]string{"CentralAccountId": central},
			Attrs:    map[string]string{"MemberRole.Arn": roleARN(m, memberRol), "AuditRole.Arn": roleARN(m, rig.AuditRoleName)},
		})
	}
	out = append(out,
		perAccountStack("rotary-postgres-multi", map[string]string{"Rotator": "postgres-multi"}, perAccountFn, perAccountRole),
		// The e2e suite's TestAccountMode runs the central bootstrap in account
		// mode, alternating users with a master secret among its cases: the
		// copy whose role allows the most of what a database rotator does.
		perAccountStack("rotary-account", map[string]string{"Rotator": "postgres-multi", "FunctionName": rig.AccountFunctionName},
			rig.AccountFunctionName, accountModeRole),
		perAccountStack(genericFn, map[string]string{"Rotator": "generic"}, genericFn, genericRole),
		perAccountStack(pgSingleFn, map[string]string{"Rotator": "postgres-single"}, pgSingleFn, pgSingleRole),
	)
	if cmk != nil {
		out = append(out, Stack{
			File: "infra/examples/member-secret-cmk.yaml", Account: memberB, Region: region, StackName: "orders",
			Params: map[string]string{"CentralFunctionArn": fnARN(central, centralFn), "Host": "db.example", "MemberRoleName": memberRol},
			Refs:   map[string]string{"SecretKey": keyID, "DatabaseSecret": cmk.ARN, "MasterSecret": cmk.MasterARN},
			Attrs:  map[string]string{"SecretKey.Arn": keyARN(memberB)},
		})
	}
	return out
}

// perAccountStack is infra/per-account.yaml deployed in member A as
// stackName, its function fn with execution role role.
func perAccountStack(stackName string, params map[string]string, fn, role string) Stack {
	return Stack{
		File: "infra/per-account.yaml", Account: memberA, Region: region, StackName: stackName, Params: params,
		Refs: map[string]string{"RotationFunctionLogGroup": "/aws/lambda/" + fn, "RotationFunction": fn},
		Attrs: map[string]string{
			"RotationFunctionRole.Arn": roleARN(memberA, role), "RotationFunction.Arn": fnARN(memberA, fn),
		},
	}
}

// deploy renders every stack.
func deploy(t *testing.T, sts []Stack) *Deployment {
	t.Helper()
	d := &Deployment{}
	for _, st := range sts {
		r, err := Render(repoRoot, st)
		if err != nil {
			t.Fatal(err)
		}
		d.Add(r)
	}
	return d
}

// deployEdited renders every stack and applies edit to the statement sid,
// failing t when no rendered policy has that statement (a negative control
// that edited nothing proves nothing).
func deployEdited(t *testing.T, sts []Stack, sid string, edit func(st map[string]any)) *Deployment {
	t.Helper()
	d := deploy(t, sts)
	var n int
	d.Policies, n = EditStatement(d.Policies, sid, edit)
	if n == 0 {
		t.Fatalf("no statement %s in the rendered policies", sid)
	}
	return d
}

// world is the emulator with the example deployment's accounts, roles and
// organization, behind a front that answers what the emulator does not serve
// (or, with the hostile suite's RDS fake merged, serves without knowing the
// test's database): DescribeDBInstances for RDS-managed masters, with the
// emulator still logging the request, and the RDS system tag on the master
// secrets RDS "manages" (rdsManaged), which TagResource refuses to set.
type world struct {
	*rig.World
	front *httptest.Server
	pg    rig.Postgres

	mu         sync.Mutex
	rdsManaged map[string]string // secret ARN -> DB instance ARN
}

func newWorld(t *testing.T, pg rig.Postgres) *world {
	t.Helper()
	w := &world{World: rig.NewWorld(localaws.Options{Region: region, VerifySignatures: true}), pg: pg, rdsManaged: map[string]string{}}
	t.Cleanup(w.Close)
	w.Account(outsider)
	w.AWS.SetOrganization(orgID, central, memberA, memberB)
	w.front = httptest.NewServer(http.HandlerFunc(w.serve))
	t.Cleanup(w.front.Close)
	return w
}

// roleCredentials creates role name in account, trusted by the account, and
// returns a session of it: the credentials Lambda gives a function whose
// execution role it is.
func (w *world) roleCredentials(t *testing.T, account, name, session string) localaws.Credentials {
	t.Helper()
	w.Account(account)
	c, err := assumeExecutionRole(t.Context(), w.AWS, account, name, session)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (w *world) serve(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	if action := form.Get("Action"); action == "DescribeDBInstances" || action == "DescribeDBClusters" {
		// The emulator sees (and logs) the request; the answer comes from here.
		w.AWS.ServeHTTP(httptest.NewRecorder(), r)
	}
	switch action := form.Get("Action"); {
	case action == "DescribeDBInstances":
		id := form.Get("DBInstanceIdentifier")
		host, port := w.pg.DB.Host, w.pg.DB.Port
		rw.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(rw, `<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult><DBInstances><DBInstance>`+
			`<DBInstanceIdentifier>%s</DBInstanceIdentifier><DBInstanceArn>%s</DBInstanceArn><Engine>postgres</Engine>`+
			`<Endpoint><Address>%s</Address><Port>%d</Port></Endpoint></DBInstance></DBInstances></DescribeDBInstancesResult>`+
			`<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></DescribeDBInstancesResponse>`,
			rdsInstanceID, id, host, port)
		return
	case action == "DescribeDBClusters":
		http.Error(rw, "no clusters here", http.StatusBadRequest)
		return
	}
	if r.Header.Get("X-Amz-Target") != "secretsmanager.DescribeSecret" {
		w.AWS.ServeHTTP(rw, r)
		return
	}
	rec := httptest.NewRecorder()
	w.AWS.ServeHTTP(rec, r)
	var out map[string]any
	if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &out) == nil {
		arn, _ := out["ARN"].(string)
		w.mu.Lock()
		db := w.rdsManaged[arn]
		w.mu.Unlock()
		if db != "" {
			tags, _ := out["Tags"].([]any)
			out["Tags"] = append(tags, map[string]any{"Key": rdsx.TagRDSPrimaryInstance, "Value": db})
			b, _ := json.Marshal(out)
			rec.Body = bytes.NewBuffer(b)
		}
	}
	for k, v := range rec.Header() {
		rw.Header()[k] = v
	}
	rw.Header().Del("Content-Length")
	rw.WriteHeader(rec.Code)
	_, _ = rw.Write(rec.Body.Bytes())
}

// startFunction runs the built function under the RIE, acting with creds
// (its execution role's session) against the front, and registers it with
// the emulator.
func (w *world) startFunction(t *testing.T, binary string, cfg rig.FunctionConfig, creds localaws.Credentials) *rig.Function {
	t.Helper()
	rie := lambdarie.Need(t, builds.RIE)
	bootstrap := lambdarie.Need(t, func() (string, error) { return builds.Function(binary) })
	cfg.Env = append(cfg.Env,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_SESSION_TOKEN="+creds.SessionToken,
		"AWS_ENDPOINT_URL="+w.front.URL,
		"AWS_LAMBDA_FUNCTION_NAME="+cfg.Name,
	)
	fn, err := w.StartFunction(t.Context(), rie, bootstrap, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

// provision creates a secret for c (rig.Provision) with Rotary's marker tags:
// rotary:rotate=true on the secret, rotary:role=master on its master.
func (w *world) provision(t *testing.T, c rig.Case) *rig.Secret {
	t.Helper()
	s, err := w.Provision(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	w.tag(t, s.Account, s.ARN, "rotary:rotate", "true")
	if s.MasterARN != "" {
		w.tag(t, s.Account, s.MasterARN, "rotary:role", "master")
	}
	return s
}

func (w *world) tag(t *testing.T, account, arn, key, value string) {
	t.Helper()
	if _, err := w.SecretsManager(account).TagResource(t.Context(), &secretsmanager.TagResourceInput{
		SecretId: aws.String(arn), Tags: []smtypes.Tag{{Key: aws.String(key), Value: aws.String(value)}},
	}); err != nil {
		t.Fatal(err)
	}
}

// makeRDSManaged turns s's master into an RDS-managed master: no host or
// port in its value, and RDS's system tag naming the DB instance.
func (w *world) makeRDSManaged(t *testing.T, s *rig.Secret) {
	t.Helper()
	sm := w.SecretsManager(s.Account)
	cur, err := sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.MasterARN)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := secret.Parse([]byte(aws.ToString(cur.SecretString)))
	if err != nil {
		t.Fatal(err)
	}
	v.Host, v.Port = "", 0
	if _, err := sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(s.MasterARN), SecretString: aws.String(v.StoredJSON())}); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.rdsManaged[s.MasterARN] = rdsInstanceARN(s.Account)
	w.mu.Unlock()
}

// encrypt makes Secrets Manager encrypt arn with the account's example CMK.
func (w *world) encrypt(t *testing.T, account, arn string) {
	t.Helper()
	if _, err := w.SecretsManager(account).UpdateSecret(t.Context(), &secretsmanager.UpdateSecretInput{
		SecretId: aws.String(arn), KmsKeyId: aws.String(keyARN(account)),
	}); err != nil {
		t.Fatal(err)
	}
}

// createSecret creates a secret in account with value (JSON) and one tag, as
// its owner, and returns its ARN.
func (w *world) createSecret(t *testing.T, account, name string, value map[string]string, tagKey, tagValue string) string {
	t.Helper()
	b, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	out, err := w.SecretsManager(account).CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(string(b)),
		Tags: []smtypes.Tag{{Key: aws.String(tagKey), Value: aws.String(tagValue)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

// rotate rotates s with fn and fails t unless the rotation succeeded (and,
// for a database secret, the new credential works as rig.Verify checks).
func (w *world) rotate(t *testing.T, s *rig.Secret, fn *rig.Function) {
	t.Helper()
	r, err := w.Rotate(t.Context(), s, fn)
	if err != nil {
		t.Fatal(err)
	}
	if s.Target == nil {
		if r.Run.Outcome != localaws.Succeeded {
			t.Fatalf("rotation of %s by %s: %s: %s\nlogs of the function:\n%s", s.Name, fn.ARN, r.Run.Outcome, r.Run.Error, fn.Logs())
		}
		return
	}
	if c := w.Verify(t.Context(), s, r); !c.OK() {
		t.Fatalf("rotation of %s (%s) by %s: %v\nlogs of the function:\n%s", s.Name, s.Strategy, fn.ARN, c.Err(), fn.Logs())
	}
}
