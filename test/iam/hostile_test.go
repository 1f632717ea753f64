package iam

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/templates"
)

// A synthesized request: the hostile tenant's attacks (what the code refuses,
// asked of IAM directly) and the legitimate requests of each role, for the
// "who may do what" table.
type row struct {
	who, what string // table cells: the principal and the resource, in words
	req       localaws.LoggedRequest
	// extra identity policies for principals no template defines (an
	// attacker's own role, given every permission).
	extra []NamedPolicy
	// resource replaces the rendered resource policy (a role the attacker
	// controls in another account).
	resource map[string]any
	allow    bool // the expected decision
}

// inOrg lists the accounts of the example organization.
var inOrg = map[string]bool{central: true, memberA: true, memberB: true}

// request builds a logged request as localaws would log it.
func request(principal, action, resource string, ctx map[string][]string) localaws.LoggedRequest {
	r := localaws.LoggedRequest{Principal: principal, Action: action, Resource: resource, Context: map[string][]string{}}
	for k, v := range ctx {
		r.Context[k] = v
	}
	if f := strings.Split(principal, ":"); len(f) >= 6 {
		r.PrincipalAccount = f[4]
		if parts := strings.Split(f[5], "/"); parts[0] == "assumed-role" && len(parts) == 3 {
			r.RoleARN, r.Session = roleARN(f[4], parts[1]), parts[2]
		}
	}
	if f := strings.SplitN(resource, ":", 6); len(f) == 6 {
		r.ResourceAccount = f[4]
	}
	if inOrg[r.PrincipalAccount] {
		r.Context["aws:PrincipalOrgID"] = []string{orgID}
	}
	if inOrg[r.ResourceAccount] {
		r.Context["aws:ResourceOrgID"] = []string{orgID}
	}
	return r
}

func session(account, role, name string) string {
	return "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + name
}

var (
	centralSession = session(central, centralRoleName, centralFn)
	memberASession = session(memberA, memberRol, "rotary.rotary-central.0001")
	memberBSession = session(memberB, memberRol, "rotary.rotary-central.0002")
	perAccountSess = session(memberA, perAccountRole, perAccountFn)
	cmkExample     = &rig.Secret{ARN: secretARN(memberB, "orders/postgres/app-AbCdEf"), MasterARN: secretARN(memberB, "orders/postgres/postgres-GhIjKl")}
	allowAll       = NamedPolicy{Name: "the attacker's own identity policy (every action)", Policy: map[string]any{
		"Version": "2012-10-17", "Statement": []any{map[string]any{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}},
	}}
)

func secretARN(account, name string) string {
	return "arn:aws:secretsmanager:" + region + ":" + account + ":secret:" + name
}

// rotated is the context of a secret rotated by fn.
func rotated(fn string) map[string][]string {
	return map[string][]string{"aws:ResourceTag/rotary:rotate": {"true"}, "secretsmanager:resource/AllowRotationLambdaArn": {fn}}
}

var (
	marked      = map[string][]string{"aws:ResourceTag/rotary:role": {"master"}}
	viaSM       = map[string][]string{"kms:ViaService": {"secretsmanager." + region + ".amazonaws.com"}}
	withExtID   = map[string][]string{"sts:ExternalId": {rig.ExternalID}}
	centralARN  = fnARN(central, centralFn)
	perAccARN   = fnARN(memberA, perAccountFn)
	memberARole = roleARN(memberA, memberRol)
)

// hostile are the hostile tenant's attacks: each must be denied.
func hostile() []row {
	outsiderRole := "arn:aws:sts::" + outsider + ":assumed-role/rotary-central/attacker"
	developer := "arn:aws:sts::" + central + ":assumed-role/developer/attacker"
	trustsAnyone := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Sid": "TrustsAnyone", "Effect": "Allow", "Principal": map[string]any{"AWS": "*"}, "Action": "sts:AssumeRole",
	}}}
	return []row{
		{who: "member role of A", what: "B's master secret (masterarn in another account; B keeps its secrets to B with a resource policy)",
			req: request(memberASession, "secretsmanager:GetSecretValue", cmkExample.MasterARN, marked)},
		{who: "member role of A", what: "a master secret of B without a resource policy",
			req: request(memberASession, "secretsmanager:GetSecretValue", secretARN(memberB, "other/master-MnOpQr"), marked)},
		{who: "member role of A", what: "describe a master secret of B (the RDS resolver's call)",
			req: request(memberASession, "secretsmanager:DescribeSecret", secretARN(memberB, "other/master-MnOpQr"), marked)},
		{who: "central function role", what: "a master secret of member B, read directly",
			req: request(centralSession, "secretsmanager:GetSecretValue", secretARN(memberB, "other/master-MnOpQr"), marked)},
		{who: "member role of A", what: "a secret of the central account rotated by the central function",
			req: request(memberASession, "secretsmanager:GetSecretValue", secretARN(central, "fleet/postgres-StUvWx"), rotated(centralARN))},
		{who: "central function role", what: "an unmarked secret of the central account (masterarn naming it from a member's rotation)",
			req: request(centralSession, "secretsmanager:GetSecretValue", secretARN(central, "billing/stripe-YzAbCd"), nil)},
		{who: "member role of A", what: "an untagged secret of A whose rotation function is the central function",
			req: request(memberASession, "secretsmanager:GetSecretValue", secretARN(memberA, "untagged-EfGhIj"),
				map[string][]string{"secretsmanager:resource/AllowRotationLambdaArn": {centralARN}})},
		{who: "member role of A", what: "write an untagged secret of A",
			req: request(memberASession, "secretsmanager:PutSecretValue", secretARN(memberA, "untagged-EfGhIj"),
				map[string][]string{"secretsmanager:resource/AllowRotationLambdaArn": {centralARN}})},
		{who: "per-account function role in A", what: "an untagged secret of A rotated by it",
			req: request(perAccountSess, "secretsmanager:GetSecretValue", secretARN(memberA, "untagged-EfGhIj"),
				map[string][]string{"secretsmanager:resource/AllowRotationLambdaArn": {perAccARN}})},
		{who: "member role of A", what: "a tagged secret of A rotated by another function",
			req: request(memberASession, "secretsmanager:PutSecretValue", secretARN(memberA, "theirs-KlMnOp"), rotated(fnARN(memberA, "someone-else")))},
		{who: "member role of A", what: "move the stages of a tagged secret of A rotated by another function",
			req: request(memberASession, "secretsmanager:UpdateSecretVersionStage", secretARN(memberA, "theirs-KlMnOp"), rotated(fnARN(memberA, "someone-else")))},
		{who: "per-account function role in A", what: "a tagged secret of A rotated by the central function",
			req: request(perAccountSess, "secretsmanager:GetSecretValue", secretARN(memberA, "central-QrStUv"), rotated(centralARN))},
		{who: "member role of A", what: "write a master secret of A (masters are read-only)",
			req: request(memberASession, "secretsmanager:PutSecretValue", secretARN(memberA, "db/master-WxYzAb"), marked)},
		{who: "central function role", what: "assume A's member role without the ExternalId",
			req: request(centralSession, "sts:AssumeRole", memberARole, nil)},
		{who: "central function role", what: "assume A's member role with a wrong ExternalId",
			req: request(centralSession, "sts:AssumeRole", memberARole, map[string][]string{"sts:ExternalId": {"guessed"}})},
		{who: "a role named like the central one in an account outside the organization", what: "assume A's member role with the ExternalId",
			req: request(outsiderRole, "sts:AssumeRole", memberARole, withExtID), extra: []NamedPolicy{allowAll}},
		{who: "another role of the central account (not the fleet)", what: "assume A's member role with the ExternalId",
			req: request(developer, "sts:AssumeRole", memberARole, withExtID), extra: []NamedPolicy{allowAll}},
		{who: "central function role", what: "assume a member-named role in an account outside the organization that trusts anyone",
			req: request(centralSession, "sts:AssumeRole", roleARN(outsider, memberRol), withExtID), resource: trustsAnyone},
		{who: "central function role", what: "assume another role of A",
			req: request(centralSession, "sts:AssumeRole", roleARN(memberA, "admin"), withExtID), resource: trustsAnyone},
		{who: "member role of B", what: "decrypt with B's secrets key directly (not through Secrets Manager)",
			req: request(memberBSession, "kms:Decrypt", keyARN(memberB), nil)},
		{who: "member role of A", what: "decrypt with B's secrets key through Secrets Manager",
			req: request(memberASession, "kms:Decrypt", keyARN(memberB), viaSM)},
		{who: "member role of A", what: "describe a database of B",
			req: request(memberASession, "rds:DescribeDBInstances", rdsInstanceARN(memberB), nil)},
		{who: "central function role", what: "describe a database of member A directly",
			req: request(centralSession, "rds:DescribeDBInstances", rdsInstanceARN(memberA), nil)},
		{who: "member role of A", what: "set the passwords of an ElastiCache user of A not tagged rotary:rotate=true",
			req: request(memberASession, "elasticache:ModifyUser", elastiCacheUserARN(memberA), nil)},
		{who: "member role of A", what: "set the passwords of a tagged ElastiCache user of B",
			req: request(memberASession, "elasticache:ModifyUser", elastiCacheUserARN(memberB), rotateTagged)},
		{who: "member role of A", what: "read the tags of an ElastiCache user of A not tagged rotary:rotate=true",
			req: request(memberASession, "elasticache:ListTagsForResource", elastiCacheUserARN(memberA), nil)},
		{who: "member role of A", what: "read the tags of a tagged ElastiCache user of B",
			req: request(memberASession, "elasticache:ListTagsForResource", elastiCacheUserARN(memberB), rotateTagged)},
		{who: "member role of A", what: "create an access key for an IAM user of A not tagged rotary:rotate=true",
			req: request(memberASession, "iam:CreateAccessKey", iamUserARN(memberA, "admin"), nil)},
		{who: "member role of A", what: "delete an access key of a tagged IAM user of B",
			req: request(memberASession, "iam:DeleteAccessKey", iamUserARN(memberB, "deploy-bot"), rotateTagged)},
		{who: "central function role", what: "create an access key for a tagged IAM user of member A directly",
			req: request(centralSession, "iam:CreateAccessKey", iamUserARN(memberA, "deploy-bot"), rotateTagged)},
		{who: "member role of A", what: "re-tag a tagged IAM user of A (give it to another secret with rotary:secret)",
			req: request(memberASession, "iam:TagUser", iamUserARN(memberA, "deploy-bot"), tagging(rotateTagged, "rotary:secret", secretARN(memberA, "other/secret-AbCdEf")))},
		{who: "member role of A", what: "tag an IAM user of A rotary:rotate=true (put it in the fleet's reach)",
			req: request(memberASession, "iam:TagUser", iamUserARN(memberA, "admin"), tagging(nil, "rotary:rotate", "true"))},
		{who: "member role of A", what: "set rotary:rotate on a tagged IAM user of A",
			req: request(memberASession, "iam:TagUser", iamUserARN(memberA, "deploy-bot"), tagging(rotateTagged, "rotary:rotate", "true"))},
		{who: "member role of A", what: "write rotary:minting and rotary:secret in one iam:TagUser on a tagged IAM user of A",
			req: request(memberASession, "iam:TagUser", iamUserARN(memberA, "deploy-bot"), tagging(tagging(rotateTagged, "rotary:minting", "t 1"), "rotary:secret", secretARN(memberA, "other/secret-AbCdEf")))},
		{who: "member role of A", what: "write rotary:minting on an IAM user of A not tagged rotary:rotate=true",
			req: request(memberASession, "iam:TagUser", iamUserARN(memberA, "admin"), tagging(nil, "rotary:minting", "t 1"))},
		{who: "member role of A", what: "iam:TagUser on a tagged IAM user of A naming no tag key",
			req: request(memberASession, "iam:TagUser", iamUserARN(memberA, "deploy-bot"), rotateTagged)},
		{who: "per-account function role in A (a postgres-multi copy)", what: "write rotary:minting on an IAM user of A tagged rotary:rotate=true",
			req: request(perAccountSess, "iam:TagUser", iamUserARN(memberA, "deploy-bot"), tagging(rotateTagged, "rotary:minting", "t 1"))},
		{who: "per-account function role in A (a postgres-multi copy)", what: "delete an access key of an IAM user of A tagged rotary:rotate=true",
			req: request(perAccountSess, "iam:DeleteAccessKey", iamUserARN(memberA, "deploy-bot"), rotateTagged)},
		{who: "per-account function role in A (a postgres-single copy)", what: "describe an RDS instance of A (its strategy reads no master secret)",
			req: request(session(memberA, pgSingleRole, pgSingleFn), "rds:DescribeDBInstances", rdsInstanceARN(memberA), nil)},
		{who: "per-account function role in A (a postgres-single copy)", what: "read A's master secret tagged rotary:role=master (its strategy reads none)",
			req: request(session(memberA, pgSingleRole, pgSingleFn), "secretsmanager:GetSecretValue", secretARN(memberA, "db/master-WxYzAb"), marked)},
		{who: "per-account function role in A (a generic copy)", what: "describe A's master secret tagged rotary:role=master (only the RDS resolver's copies describe masters)",
			req: request(session(memberA, genericRole, genericFn), "secretsmanager:DescribeSecret", secretARN(memberA, "db/master-WxYzAb"), marked)},
	}
}

// rotateTagged is the request context of a resource tagged rotary:rotate=true.
var rotateTagged = map[string][]string{"aws:ResourceTag/rotary:rotate": {"true"}}

// tagging returns ctx (not changed) plus the context keys of an iam:TagUser
// request writing the tag key=value (aws:TagKeys, aws:RequestTag/key).
func tagging(ctx map[string][]string, key, value string) map[string][]string {
	out := map[string][]string{}
	for k, v := range ctx {
		out[k] = v
	}
	out["aws:TagKeys"] = append(append([]string(nil), out["aws:TagKeys"]...), key)
	out["aws:RequestTag/"+key] = []string{value}
	return out
}

// elastiCacheUserARN is an ElastiCache RBAC user of account.
func elastiCacheUserARN(account string) string {
	return "arn:aws:elasticache:" + region + ":" + account + ":user:app-user"
}

func iamUserARN(account, name string) string { return "arn:aws:iam::" + account + ":user/" + name }

// legitimate are the requests each role needs (the must-allow verdict runs on
// the scenarios' real requests; these are for the table).
func legitimate() []row {
	invoke := func(account string) map[string][]string {
		return map[string][]string{"aws:SourceAccount": {account}, "aws:SourceArn": {secretARN(account, "app-AbCdEf")}}
	}
	return []row{
		{who: "Secrets Manager (service)", what: "invoke the central function for a secret of the central account",
			req: request(localaws.ServicePrincipalSecretsManager, "lambda:InvokeFunction", centralARN, invoke(central)), allow: true},
		{who: "Secrets Manager (service)", what: "invoke the central function for a secret of a member account (default MemberInvokeScope)",
			req: request(localaws.ServicePrincipalSecretsManager, "lambda:InvokeFunction", centralARN, invoke(memberA)), allow: true},
		{who: "central function role", what: "assume A's member role with the ExternalId",
			req: request(centralSession, "sts:AssumeRole", memberARole, withExtID), allow: true},
		{who: "member role of A", what: "describe, read, write, move stages of A's tagged secret rotated by the central function",
			req: request(memberASession, "secretsmanager:PutSecretValue", secretARN(memberA, "app-AbCdEf"), rotated(centralARN)), allow: true},
		{who: "member role of A", what: "read A's master secret tagged rotary:role=master",
			req: request(memberASession, "secretsmanager:GetSecretValue", secretARN(memberA, "db/master-WxYzAb"), marked), allow: true},
		{who: "member role of A", what: "describe a database of A (RDS-managed master's endpoint)",
			req: request(memberASession, "rds:DescribeDBInstances", rdsInstanceARN(memberA), nil), allow: true},
		{who: "member role of A", what: "set the passwords of A's ElastiCache user tagged rotary:rotate=true",
			req: request(memberASession, "elasticache:ModifyUser", elastiCacheUserARN(memberA), rotateTagged), allow: true},
		{who: "member role of A", what: "read the tags of A's ElastiCache user tagged rotary:rotate=true (its rotary:secret ownership tag)",
			req: request(memberASession, "elasticache:ListTagsForResource", elastiCacheUserARN(memberA), rotateTagged), allow: true},
		{who: "member role of A", what: "create, list, deactivate, delete access keys of an IAM user of A tagged rotary:rotate=true (iam-access-key)",
			req: request(memberASession, "iam:CreateAccessKey", iamUserARN(memberA, "deploy-bot"), rotateTagged), allow: true},
		{who: "member role of A", what: "write only the tag rotary:minting (createSecret's intent) on an IAM user of A tagged rotary:rotate=true",
			req: request(memberASession, "iam:TagUser", iamUserARN(memberA, "deploy-bot"), tagging(rotateTagged, "rotary:minting", "0f2a6b1c-7d3e-4f5a-9b8c-1d2e3f4a5b6c 1764531000")), allow: true},
		{who: "member role of B", what: "decrypt with B's secrets key through Secrets Manager",
			req: request(memberBSession, "kms:Decrypt", keyARN(memberB), viaSM), allow: true},
		{who: "central function role", what: "write a tagged secret of the central account rotated by the central function",
			req: request(centralSession, "secretsmanager:PutSecretValue", secretARN(central, "fleet/postgres-StUvWx"), rotated(centralARN)), allow: true},
		{who: "central function role", what: "read a master secret of the central account tagged rotary:role=master (by design: see the note)",
			req: request(centralSession, "secretsmanager:GetSecretValue", secretARN(central, "fleet/master-EfGhIj"), marked), allow: true},
		{who: "per-account function role in A", what: "write A's tagged secret rotated by it",
			req: request(perAccountSess, "secretsmanager:PutSecretValue", secretARN(memberA, "local-AbCdEf"), rotated(perAccARN)), allow: true},
		{who: "per-account function role in A", what: "read A's master secret tagged rotary:role=master",
			req: request(perAccountSess, "secretsmanager:GetSecretValue", secretARN(memberA, "db/master-WxYzAb"), marked), allow: true},
		{who: "a user of A turning rotation on with the central function (allowed by its own account)", what: "invoke the central function (RotateSecret needs it; see above)",
			req: request("arn:aws:iam::"+memberA+":user/deployer", "lambda:InvokeFunction", centralARN, nil), extra: []NamedPolicy{{
				Name: "the user's identity policy (invoke the central function)", Policy: map[string]any{"Version": "2012-10-17", "Statement": []any{
					map[string]any{"Sid": "InvokeRotary", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": centralARN}}},
			}}},
	}
}

// judge evaluates rows under d.
func judge(t *testing.T, d *Deployment, rows []row) ([]Case, []Verdict) {
	t.Helper()
	var cases []Case
	for _, r := range rows {
		c := d.Case(r.who+": "+r.what, r.req, r.extra...)
		if r.resource != nil {
			c.ResourcePolicy, c.ResourcePolicyName = r.resource, "the attacker's trust policy (trusts anyone)"
		}
		cases = append(cases, c)
	}
	return cases, evaluate(t, cases)
}

// mustDeny evaluates the hostile rows under d and returns one message per
// request that is not denied.
func mustDeny(t *testing.T, d *Deployment) []string {
	t.Helper()
	rows := append(hostile(), auditHostile()...)
	cases, vs := judge(t, d, rows)
	var bad []string
	for i, v := range vs {
		if v.Allowed() || v.Decision == "error" {
			bad = append(bad, fmt.Sprintf("must deny %s (%s): %s", cases[i].Name, Describe(rows[i].req), explain(cases[i], v)))
		}
	}
	return bad
}

// TestMustDeny: every request of the hostile tenant's attacks is denied by the
// shipped policies, behind the code's own refusals.
func TestMustDeny(t *testing.T) {
	for _, msg := range mustDeny(t, deploy(t, stacks(cmkExample))) {
		t.Error(msg)
	}
}

// TestMustDenyControl: without the rotary:rotate tag condition of the member
// role, the must-deny verdict fails and names the untagged-secret attacks and
// the statement that allowed them.
func TestMustDenyControl(t *testing.T) {
	d := deployEdited(t, stacks(cmkExample), "RotateTaggedSecrets", func(st map[string]any) {
		delete(st["Condition"].(map[string]any)["StringEquals"].(map[string]any), "aws:ResourceTag/rotary:rotate")
	})
	bad := mustDeny(t, d)
	if len(bad) == 0 {
		t.Fatal("the must-deny verdict passed without the tag condition")
	}
	for _, msg := range bad {
		if !strings.Contains(msg, "untagged secret of A") || !strings.Contains(msg, "allowed by infra/member-role.yaml MemberRole policy rotary-member, statement RotateTaggedSecrets") {
			t.Errorf("unexpected failure without the tag condition: %s", msg)
		}
	}
	t.Logf("as expected: %s", bad[0])
}

// TestMustDenyTagKeysControl: without either aws:TagKeys condition of the
// minting-intent statement, the must-deny verdict fails on the iam:TagUser
// attacks it stops: without ForAllValues:StringEquals, those writing
// rotary:secret or rotary:rotate (the fleet could give itself any user of the
// account); without Null, the request naming no tag key (ForAllValues holds
// for an absent key).
func TestMustDenyTagKeysControl(t *testing.T) {
	for cond, wants := range map[string][]string{
		"ForAllValues:StringEquals": {"give it to another secret with rotary:secret", "set rotary:rotate on a tagged IAM user", "write rotary:minting and rotary:secret in one iam:TagUser"},
		"Null":                      {"iam:TagUser on a tagged IAM user of A naming no tag key"},
	} {
		d := deployEdited(t, stacks(cmkExample), "RecordMintingIntentOnTaggedUsers", func(st map[string]any) {
			delete(st["Condition"].(map[string]any), cond)
		})
		bad := strings.Join(mustDeny(t, d), "\n")
		for _, want := range wants {
			if !strings.Contains(bad, want) {
				t.Errorf("without %s the must-deny verdict did not fail on %q; failures:\n%s", cond, want, bad)
			}
		}
	}
}

// TestMustDenyResourceTagControl: without the aws:ResourceTag/rotary:rotate
// condition of a statement giving the member role an ElastiCache or IAM user
// action, the must-deny verdict fails on that statement's rows about a user
// not tagged rotary:rotate=true (the fleet would reach every user of the
// account), and names the statement.
func TestMustDenyResourceTagControl(t *testing.T) {
	for sid, wants := range map[string][]string{
		"RotateTaggedElastiCacheUsers": {
			"set the passwords of an ElastiCache user of A not tagged rotary:rotate=true",
			"read the tags of an ElastiCache user of A not tagged rotary:rotate=true",
		},
		"ManageAccessKeysOfTaggedUsers":    {"create an access key for an IAM user of A not tagged rotary:rotate=true"},
		"RecordMintingIntentOnTaggedUsers": {"write rotary:minting on an IAM user of A not tagged rotary:rotate=true"},
	} {
		d := deployEdited(t, stacks(cmkExample), sid, func(st map[string]any) {
			cond := st["Condition"].(map[string]any)
			eq := cond["StringEquals"].(map[string]any)
			delete(eq, "aws:ResourceTag/rotary:rotate")
			if len(eq) == 0 {
				delete(cond, "StringEquals")
			}
			if len(cond) == 0 {
				delete(st, "Condition")
			}
		})
		bad := mustDeny(t, d)
		if len(bad) == 0 {
			t.Errorf("the must-deny verdict passed without %s's tag condition", sid)
			continue
		}
		all := strings.Join(bad, "\n")
		for _, want := range wants {
			if !strings.Contains(all, want) {
				t.Errorf("without %s's tag condition the must-deny verdict did not fail on %q; failures:\n%s", sid, want, all)
			}
		}
		for _, msg := range bad {
			if !strings.Contains(msg, "statement "+sid) {
				t.Errorf("without %s's tag condition, a failure another statement allowed: %s", sid, msg)
			}
		}
	}
}

// TestMemberInvokeScope: Secrets Manager may invoke the central function for
// the secrets of the accounts the chosen MemberInvokeScope names, and of any
// other account only when the scope says so. The scope values are read from
// the template (this-account-only/any-account-secret, or listed-accounts with
// MemberAccountIds/any-account).
func TestMemberInvokeScope(t *testing.T) {
	invoke := func(account string) localaws.LoggedRequest {
		return request(localaws.ServicePrincipalSecretsManager, "lambda:InvokeFunction", centralARN,
			map[string][]string{"aws:SourceAccount": {account}, "aws:SourceArn": {secretARN(account, "a-AbCdEf")}})
	}
	type mode struct {
		scope            string
		member, outsider bool // whether member A's and an outsider's secrets may invoke
	}
	var modes []mode
	for _, scope := range allowedValues(t, "template.yaml", "MemberInvokeScope") {
		switch scope {
		case "this-account-only": // members get a permission each, added by hand
			modes = append(modes, mode{scope, false, false})
		case "listed-accounts": // one permission per MemberAccountIds
			modes = append(modes, mode{scope, true, false})
		case "any-account-secret", "any-account":
			modes = append(modes, mode{scope, true, true})
		default:
			t.Errorf("MemberInvokeScope %q: this test does not know what it should allow", scope)
		}
	}
	for _, m := range modes {
		sts := stacks(nil)
		sts[0].Params["MemberInvokeScope"] = m.scope
		rows := []row{{req: invoke(central), allow: true}, {req: invoke(memberA), allow: m.member}, {req: invoke(outsider), allow: m.outsider}}
		cases, vs := judge(t, deploy(t, sts), rows)
		for i, v := range vs {
			if v.Allowed() != rows[i].allow || v.Decision == "error" {
				t.Errorf("MemberInvokeScope=%s: %s: want allowed=%v: %s", m.scope, Describe(rows[i].req), rows[i].allow, explain(cases[i], v))
			}
		}
	}
}

// allowedValues returns a template parameter's AllowedValues.
func allowedValues(t *testing.T, file, param string) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, file))
	if err != nil {
		t.Fatal(err)
	}
	root, err := templates.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range root.Get("Parameters").Get(param).Get("AllowedValues").List {
		out = append(out, v.Str())
	}
	if len(out) == 0 {
		t.Fatalf("%s: parameter %s has no AllowedValues", file, param)
	}
	return out
}

const (
	tableBegin = "<!-- who-may-do-what:begin (generated by test/iam: ROTARY_UPDATE_IAM_TABLE=1 go test ./test/iam -run TestWhoMayDoWhat) -->"
	tableEnd   = "<!-- who-may-do-what:end -->"
)

// TestWhoMayDoWhat checks the "who may do what" table of infra/README.md
// against the oracle's decisions (ROTARY_UPDATE_IAM_TABLE=1 rewrites it).
func TestWhoMayDoWhat(t *testing.T) {
	d := deploy(t, stacks(cmkExample))
	rows := append(append(legitimate(), auditLegitimate()...), append(hostile(), auditHostile()...)...)
	cases, vs := judge(t, d, rows)
	var b strings.Builder
	b.WriteString("| who | may | action | on what | decided by |\n|---|---|---|---|---|\n")
	for i, v := range vs {
		if v.Allowed() != rows[i].allow || v.Decision == "error" {
			t.Errorf("%s: want allowed=%v: %s", cases[i].Name, rows[i].allow, explain(cases[i], v))
		}
		may := "no"
		if v.Allowed() {
			may = "**yes**"
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %s |\n", rows[i].who, may, rows[i].req.Action, rows[i].what, decidedBy(v))
	}
	table := b.String()
	const readme = repoRoot + "/infra/README.md"
	src, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	i, j := strings.Index(text, tableBegin), strings.Index(text, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("infra/README.md has no block %q … %q", tableBegin, tableEnd)
	}
	want := text[:i+len(tableBegin)] + "\n" + table + text[j:]
	if want == text {
		return
	}
	if os.Getenv("ROTARY_UPDATE_IAM_TABLE") == "1" {
		if err := os.WriteFile(readme, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("infra/README.md table rewritten")
		return
	}
	t.Errorf("the \"who may do what\" table of infra/README.md differs from the oracle's decisions; run ROTARY_UPDATE_IAM_TABLE=1 go test ./test/iam -run TestWhoMayDoWhat. Want:\n%s", table)
}

// decidedBy names the statements that decided v, for the table.
func decidedBy(v Verdict) string {
	var parts []string
	for _, g := range v.Grants {
		parts = append(parts, shortReason(g))
	}
	for _, d := range v.Denials {
		if d.Type == "Explicit" {
			parts = append(parts, "Deny "+shortReason(d))
		} else {
			parts = append(parts, "no "+d.Policy+" policy allows it")
		}
	}
	return strings.Join(parts, "; ")
}

// shortReason is "file resource: Sid" without the policy's kind.
func shortReason(r Reason) string {
	p := r.Policy
	for _, suffix := range []string{" trust policy", " key policy", " secret resource policy"} {
		p = strings.TrimSuffix(p, suffix)
	}
	if i := strings.Index(p, " policy "); i >= 0 {
		p = p[:i]
	}
	if r.Sid == "" {
		return p
	}
	return p + " `" + r.Sid + "`"
}

// TestEvaluatorMissing: without node_modules the oracle says what to run.
func TestEvaluatorMissing(t *testing.T) {
	_, err := Evaluate(t.Context(), t.TempDir(), nil)
	if !errors.Is(err, ErrNoEvaluator) || !strings.Contains(err.Error(), "run npm ci in test/iam") {
		t.Fatalf("Evaluate without node_modules: %v, want ErrNoEvaluator naming npm ci", err)
	}
}
