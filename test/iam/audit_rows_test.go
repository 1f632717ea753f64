package iam

import (
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/test/e2e/rig"
)

// The fleet audit's principals: its execution role in the central account
// (template.yaml AuditFunctionRole) and the read-only AuditRole it assumes in
// the members (infra/member-role.yaml), whose sessions awsx names after the
// function (rotary.<function>).
var (
	auditFnSession    = session(central, auditFnRole, rig.AuditFunctionName)
	auditASession     = session(memberA, rig.AuditRoleName, "rotary."+rig.AuditFunctionName)
	auditBSession     = session(memberB, rig.AuditRoleName, "rotary."+rig.AuditFunctionName)
	memberAAuditRole  = roleARN(memberA, rig.AuditRoleName)
	tenantSecretOfA   = secretARN(memberA, "app-AbCdEf")
	fleetSecretOfHome = secretARN(central, "fleet/postgres-StUvWx")
)

// auditHostile are the requests the audit's roles must never be allowed:
// anything beyond reading secret metadata, and being assumed by, or
// assuming, anything but each other with the ExternalId.
func auditHostile() []row {
	developer := "arn:aws:sts::" + central + ":assumed-role/developer/attacker"
	outsiderAudit := "arn:aws:sts::" + outsider + ":assumed-role/" + auditFnRole + "/attacker"
	// A member account's administrator may replace its rotary-audit role with
	// one trusting anyone: only the audit function's own policy then stands
	// between it and a session without the ExternalId.
	trustsAnyone := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Sid": "TrustsAnyone", "Effect": "Allow", "Principal": map[string]any{"AWS": "*"}, "Action": "sts:AssumeRole",
	}}}
	var rows []row
	// TagResource would decide what the fleet rotates and reads (rotary:*
	// tags), PutResourcePolicy would open the secret to another account.
	for _, action := range []string{"GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage", "RotateSecret", "DeleteSecret", "TagResource", "PutResourcePolicy"} {
		rows = append(rows, row{who: "audit role of A", what: "A's tagged secret rotated by the central function (the audit reads metadata only)",
			req: request(auditASession, "secretsmanager:"+action, tenantSecretOfA, rotated(centralARN))})
	}
	rows = append(rows,
		row{who: "audit role of A", what: "describe a secret of B (each member's audit role sees its own account only)",
			req: request(auditASession, "secretsmanager:DescribeSecret", secretARN(memberB, "other/app-MnOpQr"), nil)},
		row{who: "member role of A", what: "assume A's audit role with the ExternalId",
			req: request(memberASession, "sts:AssumeRole", memberAAuditRole, withExtID)},
		row{who: "per-account function role in A", what: "assume A's audit role with the ExternalId",
			req: request(perAccountSess, "sts:AssumeRole", memberAAuditRole, withExtID)},
		row{who: "audit role of A", what: "read A's master secret tagged rotary:role=master",
			req: request(auditASession, "secretsmanager:GetSecretValue", secretARN(memberA, "db/master-WxYzAb"), marked)},
		row{who: "audit role of B", what: "decrypt with B's secrets key through Secrets Manager",
			req: request(auditBSession, "kms:Decrypt", keyARN(memberB), viaSM)},
		row{who: "audit role of A", what: "set the passwords of A's ElastiCache user tagged rotary:rotate=true",
			req: request(auditASession, "elasticache:ModifyUser", elastiCacheUserARN(memberA), rotateTagged)},
		row{who: "audit role of A", what: "create an access key for an IAM user of A tagged rotary:rotate=true",
			req: request(auditASession, "iam:CreateAccessKey", iamUserARN(memberA, "deploy-bot"), rotateTagged)},
		row{who: "audit role of A", what: "assume A's member (rotation) role with the ExternalId",
			req: request(auditASession, "sts:AssumeRole", memberARole, withExtID)},
		row{who: "audit function role", what: "read a tagged secret of the central account rotated by the central function",
			req: request(auditFnSession, "secretsmanager:GetSecretValue", fleetSecretOfHome, rotated(centralARN))},
		row{who: "audit function role", what: "write a tagged secret of the central account rotated by the central function",
			req: request(auditFnSession, "secretsmanager:PutSecretValue", fleetSecretOfHome, rotated(centralARN))},
		row{who: "audit function role", what: "assume A's member (rotation) role with the ExternalId",
			req: request(auditFnSession, "sts:AssumeRole", memberARole, withExtID)},
		row{who: "audit function role", what: "assume A's audit role without the ExternalId",
			req: request(auditFnSession, "sts:AssumeRole", memberAAuditRole, nil)},
		row{who: "audit function role", what: "assume an audit-named role of A that trusts anyone, without the ExternalId",
			req: request(auditFnSession, "sts:AssumeRole", memberAAuditRole, nil), resource: trustsAnyone},
		row{who: "audit function role", what: "assume an audit-named role of A that trusts anyone, with a wrong ExternalId",
			req: request(auditFnSession, "sts:AssumeRole", memberAAuditRole, map[string][]string{"sts:ExternalId": {"guessed"}}), resource: trustsAnyone},
		row{who: "central function role", what: "assume A's audit role with the ExternalId (the rotation function is not the audit)",
			req: request(centralSession, "sts:AssumeRole", memberAAuditRole, withExtID)},
		row{who: "another role of the central account (not the fleet)", what: "assume A's audit role with the ExternalId",
			req: request(developer, "sts:AssumeRole", memberAAuditRole, withExtID), extra: []NamedPolicy{allowAll}},
		row{who: "a role named like the audit function's in an account outside the organization", what: "assume A's audit role with the ExternalId",
			req: request(outsiderAudit, "sts:AssumeRole", memberAAuditRole, withExtID), extra: []NamedPolicy{allowAll}},
	)
	return rows
}

// auditLegitimate are the requests the audit makes (the must-allow verdict
// runs on make demo's audit; these are for the table).
func auditLegitimate() []row {
	return []row{
		{who: "audit function role", what: "assume A's audit role with the ExternalId",
			req: request(auditFnSession, "sts:AssumeRole", memberAAuditRole, withExtID), allow: true},
		{who: "audit role of A", what: "list A's secrets",
			req: request(auditASession, "secretsmanager:ListSecrets", "*", nil), allow: true},
		{who: "audit role of A", what: "describe any secret of A, list its versions, read its resource policy",
			req: request(auditASession, "secretsmanager:DescribeSecret", secretARN(memberA, "untagged-EfGhIj"), nil), allow: true},
		{who: "audit function role", what: "describe any secret of the central account",
			req: request(auditFnSession, "secretsmanager:DescribeSecret", fleetSecretOfHome, nil), allow: true},
	}
}

// TestMustDenyAuditControl: each audit must-deny row is held by a statement
// the test can name: breaking that statement makes the verdict fail on those
// rows, and only on them.
func TestMustDenyAuditControl(t *testing.T) {
	tests := []struct {
		name string
		sid  string
		edit func(st map[string]any)
		// every failure names a row containing row and the statement sid;
		// want is how many rows fail.
		row, statement string
		want           int
	}{
		{
			name: "no ExternalId condition on the audit function's AssumeRole",
			sid:  "AssumeMemberAuditRoles",
			edit: func(st map[string]any) {
				delete(st["Condition"].(map[string]any)["StringEquals"].(map[string]any), "sts:ExternalId")
			},
			row: "audit-named role of A that trusts anyone", statement: "statement AssumeMemberAuditRoles", want: 2,
		},
		{
			name: "audit roles granted every Secrets Manager action",
			sid:  "AuditReadSecretMetadata",
			edit: func(st map[string]any) { st["Action"] = "secretsmanager:*" },
			row:  "audit ", statement: "statement AuditReadSecretMetadata", want: 10,
		},
		{
			name: "audit role trusting every role of the central account",
			sid:  "CentralAuditFunction",
			edit: func(st map[string]any) { delete(st["Condition"].(map[string]any), "ArnLike") },
			row:  "another role of the central account", statement: "CentralAuditFunction", want: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deployEdited(t, stacks(cmkExample), tt.sid, tt.edit)
			bad := mustDeny(t, d)
			if len(bad) != tt.want {
				t.Errorf("%d must-deny rows failed, want %d:\n%s", len(bad), tt.want, strings.Join(bad, "\n"))
			}
			for _, msg := range bad {
				if !strings.Contains(msg, tt.row) || !strings.Contains(msg, tt.statement) {
					t.Errorf("unexpected failure: %s", msg)
				}
			}
			if len(bad) > 0 {
				t.Logf("as expected: %s", bad[0])
			}
		})
	}
}
