package audit

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Check is a check id. The ids are fixed: alarms, saved queries and pipelines
// refer to them.
type Check string

// The checks. Each has a default severity and a fix (see Checks).
const (
	RotationDisabled          Check = "rotation-disabled"
	RotationOverdue           Check = "rotation-overdue"
	RotationStuck             Check = "rotation-stuck"
	RotationFunctionOutside   Check = "rotation-function-outside-fleet"
	Unused                    Check = "unused"
	AWSManagedKey             Check = "aws-managed-key"
	PublicOrExternalPolicy    Check = "public-or-external-policy"
	MissingTags               Check = "missing-tags"
	NameConvention            Check = "name-convention"
	DeletionScheduledRotating Check = "deletion-scheduled-while-rotating"
	ReplicationFailed         Check = "replication-failed"
	// The audit's own problems: what it could not read.
	MalformedPolicy    Check = "malformed-policy"
	AccountUnreachable Check = "account-unreachable"
	SecretUnreadable   Check = "secret-unreadable"
)

// Severity orders findings; -fail-on and the alarm compare against it.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota + 1
	Low
	Medium
	High
	Critical
)

var severityNames = map[Severity]string{Info: "info", Low: "low", Medium: "medium", High: "high", Critical: "critical"}

// String returns the severity's lower-case name.
func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return "unknown"
}

// ParseSeverity reads a severity name (any case).
func ParseSeverity(s string) (Severity, error) {
	for k, v := range severityNames {
		if strings.EqualFold(strings.TrimSpace(s), v) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: severity %q is not one of info, low, medium, high, critical", ErrConfig, s)
}

// MarshalJSON writes the severity's name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a severity's name.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var n string
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	v, err := ParseSeverity(n)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// CheckInfo describes a check for the README, the table and the fix line.
type CheckInfo struct {
	Check    Check
	Severity Severity // default severity (public-or-external-policy: critical for public, high for external)
	What     string
	Fix      string
}

// Checks lists every check, in report order.
var Checks = []CheckInfo{
	{RotationDisabled, Medium, "automatic rotation is off", "enable rotation with a Rotary function (RotateSecret --rotation-lambda-arn … --rotation-rules …)"},
	{RotationOverdue, High, "the last rotation is older than the schedule plus the grace (or the maximum age when there is no schedule)", "look up the rotation function's errors, then rotate now (RotateSecret)"},
	{RotationStuck, High, "an AWSPENDING version that is not AWSCURRENT is older than the grace: a rotation keeps failing", "read the rotation function's log for the failing step and fix it; or remove AWSPENDING to abandon the rotation"},
	{RotationFunctionOutside, Medium, "rotated by a Lambda that is neither this fleet's function nor a known per-account copy", "point the rotation at the Rotary function, or add the function to ROTARY_AUDIT_FLEET_FUNCTIONS if it is trusted"},
	{Unused, Low, "not accessed for the configured number of days", "confirm nobody uses it, then delete it (DeleteSecret with a recovery window)"},
	{AWSManagedKey, Low, "encrypted with the AWS managed key aws/secretsmanager, which cannot be shared or audited by key policy", "re-encrypt with a customer managed KMS key (UpdateSecret --kms-key-id)"},
	{PublicOrExternalPolicy, High, "the resource policy allows * or a principal outside the organization and the allowed accounts without a confining condition", "remove the statement or confine it with aws:PrincipalOrgID / aws:PrincipalAccount (PutResourcePolicy)"},
	{MissingTags, Low, "a required tag key is missing", "add the tag (TagResource)"},
	{NameConvention, Low, "the name does not match the organization's pattern", "recreate the secret under a conforming name, or exempt it"},
	{DeletionScheduledRotating, Medium, "scheduled for deletion while rotation is on", "restore it (RestoreSecret) if it is still used, or turn rotation off (CancelRotateSecret)"},
	{ReplicationFailed, High, "a replica region reports Failed", "read the replica's StatusMessage, fix the cause (KMS key, name clash) and replicate again"},
	{MalformedPolicy, Medium, "the resource policy could not be parsed as an IAM policy", "review the policy by hand and rewrite it (ValidateResourcePolicy, PutResourcePolicy)"},
	{AccountUnreachable, High, "the account could not be audited (role not assumable, listing denied or throttled)", "check the member role, its trust policy and its audit statements (infra/member-role.yaml)"},
	{SecretUnreadable, Medium, "a metadata call for the secret failed, so some checks did not run", "grant the audit statements on this secret (no value read is needed)"},
}

// Info returns the description of c.
func (c Check) Info() CheckInfo {
	for _, i := range Checks {
		if i.Check == c {
			return i
		}
	}
	return CheckInfo{Check: c, Severity: Medium}
}

// Known reports whether c is one of the checks (the closed set of metric
// dimension values).
func (c Check) Known() bool {
	for _, i := range Checks {
		if i.Check == c {
			return true
		}
	}
	return false
}

// Finding is one problem with one secret (or one account: SecretARN empty).
// Its JSON form is the one `-json` prints and the log line carries.
type Finding struct {
	Account    string   `json:"account"`
	Region     string   `json:"region"`
	SecretARN  string   `json:"secretArn"`
	SecretName string   `json:"secretName"`
	Check      Check    `json:"check"`
	Severity   Severity `json:"severity"`
	Detail     string   `json:"detail"`
}
