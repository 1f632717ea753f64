package audit

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Secret is the metadata the checks read: a ListSecrets entry, completed by
// DescribeSecret (replication), ListSecretVersionIds (the pending version's
// creation date) and GetResourcePolicy. It never holds a value.
type Secret struct {
	Account, Region, ARN, Name string

	Created, LastChanged, LastRotated, LastAccessed, NextRotation, Deleted time.Time

	RotationEnabled   bool
	RotationLambdaARN string
	// AfterDays and Schedule are the rotation rules (AutomaticallyAfterDays,
	// ScheduleExpression).
	AfterDays int64
	Schedule  string

	KmsKeyID      string
	Tags          map[string]string
	Stages        map[string][]string // version ID -> labels (placeholder included)
	OwningService string
	PrimaryRegion string

	// VersionCreated holds the creation date of the versions
	// ListSecretVersionIds lists (only versions that hold a value).
	VersionCreated map[string]time.Time
	// Policy is the resource policy; nil when the secret has none.
	Policy *string
	// Replicas is DescribeSecret's ReplicationStatus.
	Replicas []Replica
}

// Replica is one replica region's status.
type Replica struct {
	Region, Status, Message string
}

// PendingVersion returns the version that holds AWSPENDING without
// AWSCURRENT (a rotation in progress or failing), or "".
func (s *Secret) PendingVersion() string {
	ids := make([]string, 0, len(s.Stages))
	for id := range s.Stages {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if st := s.Stages[id]; slices.Contains(st, "AWSPENDING") && !slices.Contains(st, "AWSCURRENT") {
			return id
		}
	}
	return ""
}

// Env is what the checks know about the fleet besides the secret.
type Env struct {
	// Home is the central (function's) account.
	Home string
	// Known are the accounts of the fleet (home, allowed and audited).
	Known []string
}

func (e Env) known(account string) bool {
	return account == e.Home || slices.Contains(e.Known, account)
}

const day = 24 * time.Hour

func date(t time.Time) string { return t.UTC().Format("2006-01-02") }

// Evaluate runs every check on s and returns its findings, in Checks order.
// It is a pure function of its arguments.
func Evaluate(cfg Config, env Env, now time.Time, s *Secret) []Finding {
	var out []Finding
	add := func(c Check, sev Severity, detail string) {
		out = append(out, Finding{Account: s.Account, Region: s.Region, SecretARN: s.ARN, SecretName: s.Name,
			Check: c, Severity: sev, Detail: detail + "; fix: " + c.Info().Fix})
	}
	deleted := !s.Deleted.IsZero()
	// Rotation is managed by RDS, Redshift, … (OwningService), or, for a
	// replica, in the primary region, where the primary is audited.
	managed := s.OwningService != "" || (s.PrimaryRegion != "" && s.PrimaryRegion != s.Region)

	if !s.RotationEnabled && !deleted && !managed {
		d := "automatic rotation is off"
		if s.RotationLambdaARN != "" {
			d = "automatic rotation was turned off (a rotation function is still configured)"
		}
		add(RotationDisabled, Medium, d)
	}

	if !deleted && !managed {
		if f, ok := overdue(cfg, now, s); ok {
			add(RotationOverdue, High, f)
		}
	}

	if id := s.PendingVersion(); id != "" && !deleted {
		since, exact := s.VersionCreated[id]
		if !exact {
			// A valueless placeholder (createSecret never succeeded) is not
			// listed by ListSecretVersionIds. The rotation started at or before
			// the secret's last change, so the age is at least this old.
			since = s.LastChanged
		}
		if !since.IsZero() && now.Sub(since) > cfg.StuckAfter {
			how := "since"
			if !exact {
				how = "since at least"
			}
			add(RotationStuck, High, fmt.Sprintf("rotation failing %s %s (%s old): version %s still holds AWSPENDING without AWSCURRENT",
				how, date(since), age(now.Sub(since)), id))
		}
	}

	if s.RotationEnabled && s.RotationLambdaARN != "" && !managed && !inFleet(cfg, env, s) {
		add(RotationFunctionOutside, Medium, fmt.Sprintf("rotated by %s, which is not a function of this fleet", s.RotationLambdaARN))
	}

	if cfg.UnusedAfter > 0 && !deleted {
		last, never := s.LastAccessed, s.LastAccessed.IsZero()
		if never {
			last = s.Created
		}
		if !last.IsZero() && now.Sub(last) > cfg.UnusedAfter {
			d := fmt.Sprintf("last accessed on %s (%s ago, threshold %s)", date(last), age(now.Sub(last)), age(cfg.UnusedAfter))
			if never {
				d = fmt.Sprintf("never accessed since its creation on %s (%s ago, threshold %s)", date(last), age(now.Sub(last)), age(cfg.UnusedAfter))
			}
			add(Unused, Low, d)
		}
	}

	if !deleted && awsManagedKey(s.KmsKeyID) {
		add(AWSManagedKey, Low, "encrypted with the AWS managed key aws/secretsmanager")
	}

	if s.Policy != nil {
		for _, p := range EvaluatePolicy(*s.Policy, cfg, env, s.Account) {
			add(p.Check, p.Severity, p.Detail)
		}
	}

	if len(cfg.RequiredTags) > 0 {
		var missing []string
		for _, k := range cfg.RequiredTags {
			if _, ok := s.Tags[k]; !ok {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			add(MissingTags, Low, "missing required tag keys: "+strings.Join(missing, ", "))
		}
	}

	if cfg.NamePattern != nil && !cfg.NamePattern.MatchString(s.Name) {
		add(NameConvention, Low, fmt.Sprintf("name does not match %s", strings.TrimSuffix(strings.TrimPrefix(cfg.NamePattern.String(), "^(?:"), ")$")))
	}

	if deleted && s.RotationEnabled {
		add(DeletionScheduledRotating, Medium, fmt.Sprintf("deletion requested on %s while rotation is on", date(s.Deleted)))
	}

	for _, r := range s.Replicas {
		if strings.EqualFold(r.Status, "Failed") {
			add(ReplicationFailed, High, fmt.Sprintf("replica in %s failed: %s", shorten(r.Region), shorten(r.Message)))
		}
	}
	return out
}

var rateRE = regexp.MustCompile(`^rate\(\s*(\d+)\s+(hours?|days?)\s*\)$`)

// interval returns the rotation interval the rules give, or 0 when there is
// no schedule the audit can read (none, or cron()).
func interval(s *Secret) time.Duration {
	if s.AfterDays > 0 {
		return time.Duration(s.AfterDays) * day
	}
	if m := rateRE.FindStringSubmatch(strings.TrimSpace(s.Schedule)); m != nil {
		n, _ := strconv.Atoi(m[1])
		if strings.HasPrefix(m[2], "hour") {
			return time.Duration(n) * time.Hour
		}
		return time.Duration(n) * day
	}
	return 0
}

func overdue(cfg Config, now time.Time, s *Secret) (string, bool) {
	last, ever := s.LastRotated, !s.LastRotated.IsZero()
	if !ever {
		last = s.Created
	}
	if last.IsZero() {
		return "", false
	}
	what := "last rotated on " + date(last)
	switch {
	case !ever && s.RotationEnabled:
		what = "never rotated since its creation on " + date(last)
	case !ever:
		// LastRotatedDate is not returned while rotation is off.
		what = "no rotation recorded since its creation on " + date(last)
	}
	if s.RotationEnabled {
		if every := interval(s); every > 0 {
			if limit := every + cfg.Grace; now.Sub(last) > limit {
				return fmt.Sprintf("%s (%s ago), schedule every %s plus %s grace", what, age(now.Sub(last)), age(every), age(cfg.Grace)), true
			}
			return "", false
		}
		if s.Schedule != "" && !s.NextRotation.IsZero() {
			// cron(): the service's own NextRotationDate says when it was due.
			if now.Sub(s.NextRotation) > cfg.Grace {
				return fmt.Sprintf("%s; the scheduled rotation of %s (%s) has not happened", what, date(s.NextRotation), s.Schedule), true
			}
			return "", false
		}
	}
	if now.Sub(last) > cfg.MaxAge {
		return fmt.Sprintf("%s (%s ago), older than the %s maximum without a schedule", what, age(now.Sub(last)), age(cfg.MaxAge)), true
	}
	return "", false
}

// age renders a duration in days (or hours below two days).
func age(d time.Duration) string {
	if d < 2*day {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d/day))
}

// awsManagedKey reports whether a secret's KmsKeyId is the AWS managed key
// (no KmsKeyId at all means the same).
func awsManagedKey(id string) bool {
	return id == "" || id == "alias/aws/secretsmanager" || strings.HasSuffix(id, ":alias/aws/secretsmanager")
}

// inFleet reports whether s's rotation function is one of the fleet's.
func inFleet(cfg Config, env Env, s *Secret) bool {
	fn, err := arn.Parse(s.RotationLambdaARN)
	if err != nil || fn.Service != "lambda" || !strings.HasPrefix(fn.Resource, "function:") {
		return false
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(fn.Resource, "function:"), ":") // drop a qualifier
	unqualified := fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", fn.Partition, fn.Region, fn.AccountID, name)
	for _, f := range cfg.FleetFunctions {
		if strings.HasPrefix(f, "arn:") {
			if f == s.RotationLambdaARN || f == unqualified {
				return true
			}
			continue
		}
		if ok, _ := path.Match(f, name); ok && (fn.AccountID == s.Account || fn.AccountID == env.Home) {
			return true
		}
	}
	return false
}
