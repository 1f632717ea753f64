package audit

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrConfig marks every configuration error of the audit.
var ErrConfig = errors.New("invalid audit configuration")

// Environment variables read by ConfigFromEnv (besides awsx's ROTARY_MODE,
// ROTARY_ALLOWED_ACCOUNTS, ROTARY_ROLE_NAME, ROTARY_EXTERNAL_ID, …).
const (
	EnvRegions            = "ROTARY_AUDIT_REGIONS"             // comma-separated; default the SDK's region
	EnvAccounts           = "ROTARY_AUDIT_ACCOUNTS"            // comma-separated; default home + ROTARY_ALLOWED_ACCOUNTS
	EnvMaxAgeDays         = "ROTARY_AUDIT_MAX_AGE_DAYS"        // rotation-overdue without a schedule, default 90
	EnvGrace              = "ROTARY_AUDIT_GRACE"               // rotation-overdue grace after the schedule, default 24h
	EnvStuckAfter         = "ROTARY_AUDIT_STUCK_AFTER"         // rotation-stuck grace, default 6h
	EnvUnusedDays         = "ROTARY_AUDIT_UNUSED_DAYS"         // unused, default 90, 0 turns the check off
	EnvFleetFunctions     = "ROTARY_AUDIT_FLEET_FUNCTIONS"     // Lambda ARNs or name globs, default rotary-*
	EnvRequiredTags       = "ROTARY_AUDIT_REQUIRED_TAGS"       // comma-separated tag keys; off when unset
	EnvNamePattern        = "ROTARY_AUDIT_NAME_PATTERN"        // Go regexp matched against the whole name; off when unset
	EnvConcurrency        = "ROTARY_AUDIT_CONCURRENCY"         // secrets in flight per account, default 4
	EnvAccountConcurrency = "ROTARY_AUDIT_ACCOUNT_CONCURRENCY" // accounts in flight, default 4
)

// Defaults.
const (
	DefaultMaxAgeDays         = 90
	DefaultGrace              = 24 * time.Hour
	DefaultStuckAfter         = 6 * time.Hour
	DefaultUnusedDays         = 90
	DefaultFleetFunctions     = "rotary-*"
	DefaultConcurrency        = 4
	DefaultAccountConcurrency = 4
)

// Config holds the checks' thresholds and the scan's shape. The zero value is
// not usable; build it with ConfigFromEnv or DefaultConfig.
type Config struct {
	// Accounts to audit; empty means the scanner's default (home account and
	// the allowed member accounts).
	Accounts []string
	// Regions to audit; empty means the SDK's region.
	Regions []string
	// MaxAge is the oldest a secret's value may be when it has no schedule
	// that the audit can read (no rotation, or a cron expression).
	MaxAge time.Duration
	// Grace is added to the schedule before a rotation counts as overdue.
	Grace time.Duration
	// StuckAfter is how old a pending rotation may be before it counts as
	// stuck.
	StuckAfter time.Duration
	// UnusedAfter is the age of the last access that makes a secret unused;
	// zero turns the check off.
	UnusedAfter time.Duration
	// FleetFunctions are the rotation functions of this fleet: full Lambda
	// ARNs (match exactly), or function-name globs (path.Match syntax), which
	// match a function in the secret's own account (a per-account copy) or in
	// the home account (the central function).
	FleetFunctions []string
	// RequiredTags are tag keys every secret must carry (off when empty).
	RequiredTags []string
	// NamePattern, when set, must match the whole secret name.
	NamePattern *regexp.Regexp
	// OrgID is the organization (ROTARY_ORG_ID); a policy confined to it by
	// aws:PrincipalOrgID is not external.
	OrgID string
	// Concurrency is the number of secrets examined at once per account;
	// AccountConcurrency the number of accounts at once.
	Concurrency        int
	AccountConcurrency int
}

// DefaultConfig returns the defaults documented in README.md.
func DefaultConfig() Config {
	return Config{
		MaxAge:             DefaultMaxAgeDays * 24 * time.Hour,
		Grace:              DefaultGrace,
		StuckAfter:         DefaultStuckAfter,
		UnusedAfter:        DefaultUnusedDays * 24 * time.Hour,
		FleetFunctions:     []string{DefaultFleetFunctions},
		Concurrency:        DefaultConcurrency,
		AccountConcurrency: DefaultAccountConcurrency,
	}
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
)

// ConfigFromEnv reads the ROTARY_AUDIT_* variables through getenv; orgID is
// ROTARY_ORG_ID as awsx read it. Every error wraps ErrConfig and names the
// variable.
func ConfigFromEnv(getenv func(string) string, orgID string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := DefaultConfig()
	c.OrgID = orgID
	var err error
	if c.Accounts, err = list(get(EnvAccounts), EnvAccounts, accountRE, "a 12-digit account ID"); err != nil {
		return Config{}, err
	}
	if c.Regions, err = list(get(EnvRegions), EnvRegions, regionRE, "a region name such as eu-west-1"); err != nil {
		return Config{}, err
	}
	days := func(name string, def int, allowZero bool) (time.Duration, error) {
		v := get(name)
		if v == "" {
			return time.Duration(def) * 24 * time.Hour, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 3650 || (n == 0 && !allowZero) {
			return 0, fmt.Errorf("%w: %s=%q is not a whole number of days (1-3650%s)", ErrConfig, name, v, map[bool]string{true: ", 0 for off"}[allowZero])
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	dur := func(name string, def time.Duration) (time.Duration, error) {
		v := get(name)
		if v == "" {
			return def, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 365*24*time.Hour {
			return 0, fmt.Errorf("%w: %s=%q is not a duration from 0s to 8760h (for example 24h)", ErrConfig, name, v)
		}
		return d, nil
	}
	if c.MaxAge, err = days(EnvMaxAgeDays, DefaultMaxAgeDays, false); err != nil {
		return Config{}, err
	}
	if c.UnusedAfter, err = days(EnvUnusedDays, DefaultUnusedDays, true); err != nil {
		return Config{}, err
	}
	if c.Grace, err = dur(EnvGrace, DefaultGrace); err != nil {
		return Config{}, err
	}
	if c.StuckAfter, err = dur(EnvStuckAfter, DefaultStuckAfter); err != nil {
		return Config{}, err
	}
	if v := get(EnvFleetFunctions); v != "" {
		c.FleetFunctions = nil
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if !strings.HasPrefix(f, "arn:") {
				if _, err := path.Match(f, ""); err != nil {
					return Config{}, fmt.Errorf("%w: %s: %q is not a valid name glob", ErrConfig, EnvFleetFunctions, f)
				}
			}
			c.FleetFunctions = append(c.FleetFunctions, f)
		}
	}
	if v := get(EnvRequiredTags); v != "" {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" && !slices.Contains(c.RequiredTags, k) {
				c.RequiredTags = append(c.RequiredTags, k)
			}
		}
	}
	if v := get(EnvNamePattern); v != "" {
		re, err := regexp.Compile(`^(?:` + v + `)$`)
		if err != nil {
			return Config{}, fmt.Errorf("%w: %s is not a valid regular expression: %v", ErrConfig, EnvNamePattern, err)
		}
		c.NamePattern = re
	}
	num := func(name string, def int) (int, error) {
		v := get(name)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return 0, fmt.Errorf("%w: %s=%q is not a number from 1 to 64", ErrConfig, name, v)
		}
		return n, nil
	}
	if c.Concurrency, err = num(EnvConcurrency, DefaultConcurrency); err != nil {
		return Config{}, err
	}
	if c.AccountConcurrency, err = num(EnvAccountConcurrency, DefaultAccountConcurrency); err != nil {
		return Config{}, err
	}
	return c, nil
}

func list(v, name string, re *regexp.Regexp, what string) ([]string, error) {
	var out []string
	if v == "" {
		return nil, nil
	}
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !re.MatchString(s) {
			return nil, fmt.Errorf("%w: %s: %q is not %s", ErrConfig, name, s, what)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}
