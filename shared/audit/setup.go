package audit

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/rotary-secrets/rotary/shared/awsx"
)

// LoadConfig loads the SDK's default configuration (profiles,
// AWS_ENDPOINT_URL, the Lambda role, …) with the audit's Retryer.
func LoadConfig(ctx context.Context) (aws.Config, error) {
	return awsx.LoadConfig(ctx, config.WithRetryer(Retryer))
}

// NewScanner builds a Scanner from the environment (getenv) on base: the
// same ROTARY_MODE, ROTARY_ALLOWED_ACCOUNTS, ROTARY_ROLE_NAME,
// ROTARY_EXTERNAL_ID and ROTARY_ORG_ID as the central function, the same STS
// client cache (awsx.Clients), and the ROTARY_AUDIT_* settings. The home
// account comes from ROTARY_HOME_ACCOUNT or one sts:GetCallerIdentity call.
// The accounts audited are ROTARY_AUDIT_ACCOUNTS, or the home account and
// every allowed member account.
func NewScanner(ctx context.Context, getenv func(string) string, base aws.Config) (*Scanner, error) {
	xcfg, err := awsx.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := ConfigFromEnv(getenv, xcfg.OrgID)
	if err != nil {
		return nil, err
	}
	clients := awsx.New(base, xcfg)
	home, err := clients.HomeAccount(ctx)
	if err != nil {
		return nil, err
	}
	accounts := cfg.Accounts
	if len(accounts) == 0 {
		if xcfg.AllowAnyAccount {
			return nil, fmt.Errorf("%w: %s=* cannot be listed; set %s to the accounts to audit", ErrConfig, awsx.EnvAllowedAccounts, EnvAccounts)
		}
		accounts = []string{home}
		if xcfg.Mode == awsx.ModeCentral {
			for _, a := range xcfg.AllowedAccounts {
				if !slices.Contains(accounts, a) {
					accounts = append(accounts, a)
				}
			}
		}
	}
	regions := cfg.Regions
	if len(regions) == 0 {
		regions = []string{base.Region}
	}
	return &Scanner{
		Config:   cfg,
		Clients:  AWSXClients{Clients: clients},
		Home:     home,
		Accounts: accounts,
		Regions:  regions,
	}, nil
}
