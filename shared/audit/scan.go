package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotary-secrets/rotary/shared/awsx"
)

// SecretsManagerAPI is the part of the Secrets Manager client the audit
// uses: metadata only. It has no value-reading method, so no audit code path
// can read a secret value.
type SecretsManagerAPI interface {
	ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	ListSecretVersionIds(ctx context.Context, in *secretsmanager.ListSecretVersionIdsInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretVersionIdsOutput, error)
	GetResourcePolicy(ctx context.Context, in *secretsmanager.GetResourcePolicyInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetResourcePolicyOutput, error)
}

// Clients hands out a Secrets Manager client for an account and region.
type Clients interface {
	Client(ctx context.Context, account, region string) (SecretsManagerAPI, error)
}

// AWSXClients adapts awsx.Clients (the STS cache, the allow-list and the
// ExternalId of the rotation functions) to Clients. The partition is the one
// the region's name implies (awsx.Location).
type AWSXClients struct {
	Clients *awsx.Clients
}

// Client returns the cached client of account and region
// (awsx.Clients.Account: the same allow-list check as the rotation path,
// the member role assumed at most once per credential lifetime). No rotation
// is at hand: the STS session is named after the function alone
// (rotary.<function>) in the member's CloudTrail.
func (a AWSXClients) Client(ctx context.Context, account, region string) (SecretsManagerAPI, error) {
	loc, err := awsx.Location(account, region)
	if err != nil {
		return nil, err
	}
	acct, err := a.Clients.Account(ctx, loc, "")
	if err != nil {
		return nil, err
	}
	return acct.SecretsManager(), nil
}

// Retryer is the SDK retryer the audit's clients should use: the standard
// retryer with 10 attempts and no client-side retry quota, so that a throttled
// call is retried with backoff until it succeeds instead of failing the scan.
func Retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 10
		o.RateLimiter = ratelimit.None
	})
}

// Scanner audits accounts and regions. Set Config, Clients, Home, Accounts
// and Regions; the rest is optional.
type Scanner struct {
	Config   Config
	Clients  Clients
	Home     string   // the central account
	Accounts []string // accounts to audit
	Regions  []string
	Now      func() time.Time
	Logger   *slog.Logger // error lines (nil: none)
	// OnFinding, when set, is called for each finding as it is found, one
	// call at a time.
	OnFinding func(Finding)
}

// Report is a scan's result.
type Report struct {
	Findings []Finding `json:"findings"`
	Summary  Summary   `json:"summary"`
}

// Summary counts a scan.
type Summary struct {
	Accounts         int                      `json:"accounts"`
	AccountsFailed   int                      `json:"accountsFailed"`
	Regions          []string                 `json:"regions"`
	Secrets          int                      `json:"secrets"`
	SecretsByAccount map[string]int           `json:"secretsByAccount"`
	Vanished         int                      `json:"vanished"` // listed, then deleted before the audit reached them
	Findings         int                      `json:"findings"`
	ByCheck          map[Check]int            `json:"byCheck"`
	BySeverity       map[string]int           `json:"bySeverity"`
	ByAccount        map[string]map[Check]int `json:"byAccount"`
	APICalls         map[string]int           `json:"apiCalls"` // by operation, retries not counted
}

type scan struct {
	*Scanner
	env Env
	now time.Time

	mu       sync.Mutex
	findings []Finding
	secrets  map[string]int
	vanished int
	failed   map[string]bool
	calls    map[string]int
}

// Run audits every account and region. It never fails as a whole: what it
// could not read becomes an AccountUnreachable or SecretUnreadable finding
// for that account or secret, and the other accounts complete.
func (s *Scanner) Run(ctx context.Context) *Report {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	sc := &scan{Scanner: s, now: now(), failed: map[string]bool{}, calls: map[string]int{}, secrets: map[string]int{}}
	sc.env = Env{Home: s.Home, Known: slices.Clone(s.Accounts)}
	conc := max(s.Config.AccountConcurrency, 1)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for _, acct := range s.Accounts {
		for _, region := range s.Regions {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				sc.account(ctx, acct, region)
			})
		}
	}
	wg.Wait()

	slices.SortFunc(sc.findings, compareFindings)
	sum := Summary{
		Accounts: len(s.Accounts), AccountsFailed: len(sc.failed), Regions: slices.Clone(s.Regions),
		SecretsByAccount: sc.secrets, Vanished: sc.vanished, Findings: len(sc.findings),
		ByCheck: map[Check]int{}, BySeverity: map[string]int{}, ByAccount: map[string]map[Check]int{}, APICalls: sc.calls,
	}
	for _, a := range s.Accounts {
		sum.ByAccount[a] = map[Check]int{}
		sum.Secrets += sc.secrets[a]
	}
	for _, f := range sc.findings {
		sum.ByCheck[f.Check]++
		sum.BySeverity[f.Severity.String()]++
		if sum.ByAccount[f.Account] == nil {
			sum.ByAccount[f.Account] = map[Check]int{}
		}
		sum.ByAccount[f.Account][f.Check]++
	}
	return &Report{Findings: sc.findings, Summary: sum}
}

// compareFindings orders by severity (highest first), account, region,
// name, check.
func compareFindings(a, b Finding) int {
	if a.Severity != b.Severity {
		return int(b.Severity - a.Severity)
	}
	for _, c := range [][2]string{{a.Account, b.Account}, {a.Region, b.Region}, {a.SecretName, b.SecretName}, {string(a.Check), string(b.Check)}} {
		if x := strings.Compare(c[0], c[1]); x != 0 {
			return x
		}
	}
	return 0
}

func (sc *scan) add(fs ...Finding) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, f := range fs {
		sc.findings = append(sc.findings, f)
		if sc.OnFinding != nil {
			sc.OnFinding(f)
		}
	}
}

func (sc *scan) count(op string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.calls[op]++
}

func (sc *scan) logError(ctx context.Context, msg, account, region, secretARN string, err error) {
	sc.log(ctx, slog.LevelError, msg, account, region, secretARN, err)
}

func (sc *scan) log(ctx context.Context, level slog.Level, msg, account, region, secretARN string, err error) {
	if sc.Logger == nil {
		return
	}
	attrs := []slog.Attr{slog.String("account", account), slog.String("region", region), slog.String("error", err.Error())}
	if secretARN != "" {
		attrs = append(attrs, slog.String("secretArn", secretARN))
	}
	sc.Logger.LogAttrs(ctx, level, msg, attrs...)
}

func (sc *scan) unreachable(ctx context.Context, account, region, what string, err error) {
	sc.mu.Lock()
	sc.failed[account] = true
	sc.mu.Unlock()
	sc.logError(ctx, "audit: account not audited", account, region, "", err)
	sc.add(Finding{Account: account, Region: region, Check: AccountUnreachable, Severity: High,
		Detail: fmt.Sprintf("%s: %v; fix: %s", what, err, AccountUnreachable.Info().Fix)})
}

// account audits one account in one region.
func (sc *scan) account(ctx context.Context, account, region string) {
	client, err := sc.Clients.Client(ctx, account, region)
	if err != nil {
		sc.unreachable(ctx, account, region, "no client for the account", err)
		return
	}
	work := make(chan types.SecretListEntry)
	var wg sync.WaitGroup
	for range max(sc.Config.Concurrency, 1) {
		wg.Go(func() {
			for e := range work {
				sc.secret(ctx, client, account, region, e)
			}
		})
	}
	in := &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true), MaxResults: aws.Int32(100)}
	listed := 0
	for {
		sc.count("ListSecrets")
		out, err := client.ListSecrets(ctx, in)
		if err != nil {
			sc.unreachable(ctx, account, region, fmt.Sprintf("ListSecrets failed after %d secrets (the rest of the account was not audited)", listed), err)
			break
		}
		for _, e := range out.SecretList {
			listed++
			work <- e
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	close(work)
	wg.Wait()
}

var errVanished = errors.New("secret deleted during the audit")

// secret completes one listed secret's metadata and evaluates it.
func (sc *scan) secret(ctx context.Context, client SecretsManagerAPI, account, region string, e types.SecretListEntry) {
	s := fromListEntry(account, region, e)
	var problems []string
	fail := func(op string, err error) bool {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return true
		}
		sc.logError(ctx, "audit: metadata call failed", account, region, s.ARN, err)
		problems = append(problems, fmt.Sprintf("%s: %v", op, err))
		return false
	}
	vanished := false

	sc.count("GetResourcePolicy")
	pol, err := client.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String(s.ARN)})
	if err != nil {
		vanished = fail("GetResourcePolicy", err)
	} else if pol.ResourcePolicy != nil {
		s.Policy = pol.ResourcePolicy
	}

	if id := s.PendingVersion(); id != "" && !vanished {
		s.VersionCreated = map[string]time.Time{}
		in := &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(s.ARN), MaxResults: aws.Int32(100)}
		for {
			sc.count("ListSecretVersionIds")
			out, err := client.ListSecretVersionIds(ctx, in)
			if err != nil {
				vanished = fail("ListSecretVersionIds", err)
				break
			}
			for _, v := range out.Versions {
				if v.CreatedDate != nil {
					s.VersionCreated[aws.ToString(v.VersionId)] = *v.CreatedDate
				}
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}

	if s.PrimaryRegion != "" && s.PrimaryRegion == region && !vanished {
		sc.count("DescribeSecret")
		d, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.ARN)})
		if err != nil {
			vanished = fail("DescribeSecret", err)
		} else {
			for _, r := range d.ReplicationStatus {
				s.Replicas = append(s.Replicas, Replica{Region: aws.ToString(r.Region), Status: string(r.Status), Message: aws.ToString(r.StatusMessage)})
			}
		}
	}

	sc.mu.Lock()
	if vanished {
		sc.vanished++
	} else {
		sc.secrets[account]++
	}
	sc.mu.Unlock()
	if vanished {
		sc.log(ctx, slog.LevelInfo, "audit: secret skipped", account, region, s.ARN, errVanished)
		return
	}
	fs := Evaluate(sc.Config, sc.env, sc.now, s)
	if len(problems) > 0 {
		fs = append(fs, Finding{Account: account, Region: region, SecretARN: s.ARN, SecretName: s.Name, Check: SecretUnreadable, Severity: Medium,
			Detail: strings.Join(problems, "; ") + "; fix: " + SecretUnreadable.Info().Fix})
	}
	sc.add(fs...)
}

// fromListEntry copies a ListSecrets entry into a Secret.
func fromListEntry(account, region string, e types.SecretListEntry) *Secret {
	t := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return *p
	}
	s := &Secret{
		Account: account, Region: region, ARN: aws.ToString(e.ARN), Name: aws.ToString(e.Name),
		Created: t(e.CreatedDate), LastChanged: t(e.LastChangedDate), LastRotated: t(e.LastRotatedDate),
		LastAccessed: t(e.LastAccessedDate), NextRotation: t(e.NextRotationDate), Deleted: t(e.DeletedDate),
		RotationEnabled: aws.ToBool(e.RotationEnabled), RotationLambdaARN: aws.ToString(e.RotationLambdaARN),
		KmsKeyID: aws.ToString(e.KmsKeyId), OwningService: aws.ToString(e.OwningService), PrimaryRegion: aws.ToString(e.PrimaryRegion),
		Stages: e.SecretVersionsToStages, Tags: map[string]string{},
	}
	if r := e.RotationRules; r != nil {
		s.AfterDays = aws.ToInt64(r.AutomaticallyAfterDays)
		s.Schedule = aws.ToString(r.ScheduleExpression)
	}
	for _, tg := range e.Tags {
		s.Tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return s
}
