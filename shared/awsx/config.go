package awsx

import (
	"context"
	"errors"
	"fmt"
	"github.com/rotary-secrets/rotary/shared/ascii"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Mode says whether a function may reach secrets outside its own account.
type Mode string

const (
	// ModeAccount is the default: every secret must be in the function's own
	// account, and no role is assumed.
	ModeAccount Mode = "account"
	// ModeCentral lets the function rotate secrets in the allowed member
	// accounts by assuming their member role.
	ModeCentral Mode = "central"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvMode            = "ROTARY_MODE"              // account (default) or central
	EnvRoleName        = "ROTARY_ROLE_NAME"         // member role name, default DefaultRoleName
	EnvExternalID      = "ROTARY_EXTERNAL_ID"       // optional ExternalId for AssumeRole
	EnvAllowedAccounts = "ROTARY_ALLOWED_ACCOUNTS"  // comma-separated account IDs, or * with ROTARY_ORG_ID
	EnvOrgID           = "ROTARY_ORG_ID"            // AWS Organizations ID (o-…)
	EnvHomeAccount     = "ROTARY_HOME_ACCOUNT"      // the function's own account; default: the invoked function ARN's
	EnvSMEndpoint      = "SECRETS_MANAGER_ENDPOINT" // Secrets Manager endpoint, as in AWS's rotation templates
	EnvFunctionName    = "AWS_LAMBDA_FUNCTION_NAME" // set by Lambda; used in the STS session name
)

// DefaultRoleName is the member-account role assumed in central mode when
// ROTARY_ROLE_NAME is unset; infra/member-role.yaml creates it.
const DefaultRoleName = "rotary-member"

// ErrConfig marks every configuration error returned by ConfigFromEnv, so a
// main can tell a deployment mistake from a transient failure.
var ErrConfig = errors.New("invalid rotary configuration")

// Config is the cross-account configuration of a function. Build it with
// ConfigFromEnv; the zero value is account mode with the default role name.
type Config struct {
	Mode Mode
	// RoleName is the IAM role assumed in member accounts (central mode).
	RoleName string
	// ExternalID is passed to AssumeRole when not empty. It is not a secret
	// in the cryptographic sense, but it is kept out of logs and errors.
	ExternalID string
	// AllowedAccounts lists the member accounts central mode may reach. The
	// home account is always reachable and need not be listed.
	AllowedAccounts []string
	// AllowAnyAccount is set by ROTARY_ALLOWED_ACCOUNTS=*: any account is
	// allowed by the function, and IAM confines AssumeRole to OrgID (the
	// execution role's aws:ResourceOrgID condition and the member role's
	// aws:PrincipalOrgID trust condition). Requires OrgID.
	AllowAnyAccount bool
	// OrgID is the AWS Organizations ID that member accounts belong to.
	OrgID string
	// HomeAccount is the function's own account. Empty means "on first need,
	// take the account of the invoked function's ARN, or outside Lambda ask
	// STS GetCallerIdentity once" (see Clients.HomeAccount).
	HomeAccount string
	// SecretsManagerEndpoint, when set, is the base endpoint of every Secrets
	// Manager client (AWS templates' SECRETS_MANAGER_ENDPOINT).
	SecretsManagerEndpoint string
	// FunctionName goes into the STS role session name for CloudTrail.
	FunctionName string
}

// validRoleName reports whether s is an IAM role name: 1 to 64 of
// [A-Za-z0-9_+=,.@-]. These checks are loops rather than regular expressions
// with counted repetitions, which cost heap and start-up stack in every
// function (see validSecretName).
func validRoleName(s string) bool { return ascii.Chars(s, 1, 64, "_+=,.@-") }

// validExternalID reports whether s is an STS ExternalId: 2 to 1224 of
// [A-Za-z0-9_+=,.@:/-].
func validExternalID(s string) bool { return ascii.Chars(s, 2, 1224, "_+=,.@:/-") }

// validOrgID reports whether s is an AWS Organizations ID: "o-" and 10 to 32
// of [a-z0-9].
func validOrgID(s string) bool {
	rest, ok := strings.CutPrefix(s, "o-")
	return ok && len(rest) >= 10 && len(rest) <= 32 && strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
}

// ConfigFromEnv reads the configuration from getenv (os.Getenv in mains, a map
// lookup in tests) and rejects any inconsistent setting with an error wrapping
// ErrConfig. Error messages never contain the ExternalId.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{
		Mode:                   Mode(strings.ToLower(get(EnvMode))),
		RoleName:               get(EnvRoleName),
		ExternalID:             get(EnvExternalID),
		OrgID:                  get(EnvOrgID),
		HomeAccount:            get(EnvHomeAccount),
		SecretsManagerEndpoint: get(EnvSMEndpoint),
		FunctionName:           get(EnvFunctionName),
	}
	if c.Mode == "" {
		c.Mode = ModeAccount
	}
	if c.RoleName == "" {
		c.RoleName = DefaultRoleName
	}
	if c.Mode != ModeAccount && c.Mode != ModeCentral {
		return Config{}, fmt.Errorf("%w: %s=%q, want %q or %q", ErrConfig, EnvMode, c.Mode, ModeAccount, ModeCentral)
	}
	if !validRoleName(c.RoleName) {
		return Config{}, fmt.Errorf("%w: %s=%q is not an IAM role name (1-64 of [A-Za-z0-9_+=,.@-])", ErrConfig, EnvRoleName, c.RoleName)
	}
	if c.ExternalID != "" && !validExternalID(c.ExternalID) {
		// The value itself stays out of the message.
		return Config{}, fmt.Errorf("%w: %s must be 2-1224 characters of [A-Za-z0-9_+=,.@:/-] (value not shown)", ErrConfig, EnvExternalID)
	}
	if c.OrgID != "" && !validOrgID(c.OrgID) {
		return Config{}, fmt.Errorf("%w: %s=%q is not an AWS Organizations ID (o-…)", ErrConfig, EnvOrgID, c.OrgID)
	}
	if c.HomeAccount != "" && !validAccountID(c.HomeAccount) {
		return Config{}, fmt.Errorf("%w: %s=%q is not a 12-digit account ID", ErrConfig, EnvHomeAccount, c.HomeAccount)
	}
	if c.SecretsManagerEndpoint != "" {
		u, err := url.Parse(c.SecretsManagerEndpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Config{}, fmt.Errorf("%w: %s=%q is not an http(s) URL", ErrConfig, EnvSMEndpoint, c.SecretsManagerEndpoint)
		}
	}

	allowed := get(EnvAllowedAccounts)
	if c.Mode == ModeAccount {
		if allowed != "" {
			return Config{}, fmt.Errorf("%w: %s is set but %s is %q; member accounts are reachable only in %q mode", ErrConfig, EnvAllowedAccounts, EnvMode, ModeAccount, ModeCentral)
		}
		return c, nil
	}
	switch {
	case allowed == "*":
		if c.OrgID == "" {
			return Config{}, fmt.Errorf("%w: %s=* needs %s, so that IAM confines role assumption to the organization", ErrConfig, EnvAllowedAccounts, EnvOrgID)
		}
		c.AllowAnyAccount = true
	case allowed != "":
		for _, a := range strings.Split(allowed, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			if a == "*" {
				return Config{}, fmt.Errorf("%w: %s: * must stand alone", ErrConfig, EnvAllowedAccounts)
			}
			if !validAccountID(a) {
				return Config{}, fmt.Errorf("%w: %s: %q is not a 12-digit account ID", ErrConfig, EnvAllowedAccounts, a)
			}
			if !slices.Contains(c.AllowedAccounts, a) {
				c.AllowedAccounts = append(c.AllowedAccounts, a)
			}
		}
	}
	return c, nil
}

// allows reports whether the allow-list (not the home-account rule) admits
// account.
func (c Config) allows(account string) bool {
	return c.AllowAnyAccount || slices.Contains(c.AllowedAccounts, account)
}

// LogValue implements slog.LogValuer: the configuration without the
// ExternalId's value.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mode", string(c.Mode)),
		slog.String("role_name", c.RoleName),
		slog.Bool("external_id_set", c.ExternalID != ""),
		slog.Any("allowed_accounts", c.AllowedAccounts),
		slog.Bool("allow_any_account", c.AllowAnyAccount),
		slog.String("org_id", c.OrgID),
		slog.String("home_account", c.HomeAccount),
		slog.Bool("secretsmanager_endpoint_set", c.SecretsManagerEndpoint != ""),
	)
}

// String describes the configuration without the ExternalId's value, so
// that printing a Config with %v or %+v cannot leak it.
func (c Config) String() string {
	return fmt.Sprintf("{Mode:%s RoleName:%s ExternalID:%s AllowedAccounts:%v AllowAnyAccount:%t OrgID:%s HomeAccount:%s SecretsManagerEndpoint:%s FunctionName:%s}",
		c.Mode, c.RoleName, redacted(c.ExternalID), c.AllowedAccounts, c.AllowAnyAccount, c.OrgID, c.HomeAccount, c.SecretsManagerEndpoint, c.FunctionName)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return "awsx.Config" + c.String() }

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "[set]"
}

// LoadConfig loads the SDK's default configuration (environment, shared
// files, the Lambda execution role's credentials) and fails when no region is
// configured. It logs nothing and never resolves credentials eagerly.
func LoadConfig(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS SDK config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("load AWS SDK config: no region (set AWS_REGION; Lambda sets it)")
	}
	return cfg, nil
}
