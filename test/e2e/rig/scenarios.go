package rig

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/audit"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// The scenarios the end-to-end tests and the demo run, in one place so that
// the IAM oracle (test/iam) replays exactly the same rotations and judges
// every request they make against the shipped policies.

// CentralFunctionName is the central function's name in the e2e tests and
// the demo (template.yaml's default FunctionName).
const CentralFunctionName = "rotary-central"

// CentralRounds is how many times TestCentralRotatesMemberSecrets rotates
// each of CentralCases (twice: alternating users switch to the clone and
// back).
const CentralRounds = 2

// CentralCases are the secrets the central function rotates in the member
// accounts in TestCentralRotatesMemberSecrets and in `make demo`: PostgreSQL
// and MariaDB, single and alternating users, in both member accounts.
func CentralCases(pg Postgres, maria MariaDB) []Case {
	return []Case{
		{Name: "orders/postgres-single", Account: MemberA, Target: pg, Strategy: rotators.SingleUser},
		{Name: "orders/postgres-multi", Account: MemberB, Target: pg, Strategy: rotators.AlternatingUsers},
		{Name: "billing/mariadb-single", Account: MemberB, Target: maria, Strategy: rotators.SingleUser},
		{Name: "billing/mariadb-multi", Account: MemberA, Target: maria, Strategy: rotators.AlternatingUsers},
	}
}

// CentralConfig is the central function of the e2e tests and the demo:
// central mode in CentralAccount, both members allowed, their ExternalId,
// trusting the CA bundle.
func CentralConfig(bundle string) FunctionConfig {
	return FunctionConfig{
		Name:       CentralFunctionName,
		Home:       CentralAccount,
		Mode:       awsx.ModeCentral,
		Allowed:    []string{MemberA, MemberB},
		ExternalID: ExternalID,
		CABundle:   bundle,
	}
}

// AccountFunctionName is the name of the per-account copy of the central
// function in TestAccountMode (infra/per-account.yaml's FunctionName).
const AccountFunctionName = "rotary-account"

// AccountConfig is TestAccountMode's function: the central bootstrap in
// account mode in MemberA.
func AccountConfig(bundle string) FunctionConfig {
	return FunctionConfig{Name: AccountFunctionName, Home: MemberA, Mode: awsx.ModeAccount, CABundle: bundle}
}

// AccountCases are the secrets of MemberA the per-account function rotates
// in TestAccountMode (once each).
func AccountCases(pg Postgres, maria MariaDB) []Case {
	return []Case{
		{Name: "local/postgres-single", Account: MemberA, Target: pg, Strategy: rotators.SingleUser},
		{Name: "local/mariadb-multi", Account: MemberA, Target: maria, Strategy: rotators.AlternatingUsers},
	}
}

// The secret `make demo` sets up for rotation whose rotation keeps failing
// (its audit step must find it stuck): the central function has no rotator
// for engine "oracle", so createSecret fails and AWSPENDING stays.
const (
	StuckSecretName    = "billing/oracle-app"
	StuckSecretAccount = MemberB
)

// CreateStuckSecret creates the demo's StuckSecretName in
// StuckSecretAccount, tagged for rotation as the README says (the shipped
// IAM lets the function through; its engine is what fails), and returns it.
func (w *World) CreateStuckSecret(ctx context.Context) (*Secret, error) {
	v := secret.Value{Engine: "oracle", Host: "127.0.0.1", Username: "app", Password: NewPassword()}
	out, err := w.SecretsManager(StuckSecretAccount).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(StuckSecretName), SecretString: aws.String(v.StoredJSON()), Tags: RotateTags(),
	})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", StuckSecretName, err)
	}
	s := &Secret{Case: Case{Name: StuckSecretName, Account: StuckSecretAccount}, ARN: aws.ToString(out.ARN)}
	s.remember(v.Password)
	return s, nil
}

// GenericSecretName is the secret TestGenericUnderRIE rotates with the
// generic function (functions/generic, account mode).
const GenericSecretName = "e2e/generic"

// GenericSecretValue is its initial value (no real credential: the generic
// engine only generates a new password).
func GenericSecretValue() string {
	return secret.Value{Engine: "generic", Password: "initial-value-0001"}.StoredJSON()
}

// AuditRoleName is the read-only role the fleet audit assumes in the member
// accounts (template.yaml and infra/member-role.yaml AuditRoleName), which
// AddMember creates next to RoleName.
const AuditRoleName = "rotary-audit"

// AuditFunctionName is the audit function's name (template.yaml's default
// AuditFunctionName).
const AuditFunctionName = "rotary-audit"

// Audit runs the fleet audit of `make demo`'s step 7 as the scheduled audit
// function does: acting with creds (the central account's), it audits the
// central account directly and the members through AuditRoleName with the
// ExternalId, metadata only. fleetFunctions are the fleet's rotation
// functions (ARNs or name globs).
func (w *World) Audit(ctx context.Context, creds localaws.Credentials, fleetFunctions ...string) *audit.Report {
	base := w.AWS.AWSConfig(creds, Region)
	base.Retryer = audit.Retryer
	clients := awsx.New(base, awsx.Config{Mode: awsx.ModeCentral, RoleName: AuditRoleName, ExternalID: ExternalID,
		AllowedAccounts: []string{MemberA, MemberB}, HomeAccount: CentralAccount, FunctionName: AuditFunctionName})
	cfg := audit.DefaultConfig()
	cfg.FleetFunctions = fleetFunctions
	sc := &audit.Scanner{Config: cfg, Clients: audit.AWSXClients{Clients: clients}, Home: CentralAccount,
		Accounts: []string{CentralAccount, MemberA, MemberB}, Regions: []string{Region}}
	return sc.Run(ctx)
}
