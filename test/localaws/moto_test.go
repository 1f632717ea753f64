package localaws_test

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// startMoto runs moto_server on a free loopback port and returns its URL. A
// missing binary fails the test: CI must have it.
func startMoto(t *testing.T) string {
	t.Helper()
	dbtest.NeedsServers(t)
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatalf("moto_server is not on PATH: the differential suite needs it (pip install 'moto[server]'): %v", err)
	}
	addr := freePort(t)
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(bin, "-H", host, "-p", port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	// Werkzeug announces " * Running on http://HOST:PORT" once it listens.
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var seen []string
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "Running on http://") {
				ready <- nil
				for sc.Scan() { // keep draining so moto never blocks on a full pipe
				}
				return
			}
			seen = append(seen, line)
		}
		ready <- fmt.Errorf("moto_server exited before listening: %s", strings.Join(seen, "\n"))
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("moto_server did not start listening within 60s")
	}
	return "http://" + addr
}

// motoDeviation is a scenario where moto and AWS disagree: the emulator must
// produce aws (what the AWS reference says) and moto must still differ (when
// moto is fixed, the entry goes).
type motoDeviation struct {
	aws    []string
	why    string
	source string // the AWS reference that decides
}

// motoDeviations lists moto 5.x's known deviations exercised by the suite.
// Keep it in sync with the table in README.md.
var motoDeviations = map[string]motoDeviation{
	"not-found-status": {
		aws:    []string{"get: ERR ResourceNotFoundException HTTP 400"},
		why:    "moto answers ResourceNotFoundException with HTTP 404; AWS uses 400 for every modeled error but InternalServiceError",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/CommonErrors.html",
	},
	"stage-move-then-get": {
		aws:    []string{"move: ok", "get: two [AWSCURRENT AWSPENDING]"},
		why:    "moto keeps a default-version pointer that UpdateSecretVersionStage does not move, so GetSecretValue still returns the old version",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html",
	},
	"put-current-keeps-other-labels": {
		aws:    []string{"put: ok", "stages: v1=[AWSPREVIOUS BLUE] v2=[AWSCURRENT]"},
		why:    "moto overwrites the old version's labels with [AWSPREVIOUS] when AWSCURRENT moves; AWS only adds AWSPREVIOUS",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html",
	},
	"put-on-deleted": {
		aws:    []string{"put: ERR InvalidRequestException"},
		why:    "moto accepts PutSecretValue on a secret scheduled for deletion",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html",
	},
	"create-name-scheduled-for-deletion": {
		aws:    []string{"create: ERR InvalidRequestException"},
		why:    "moto answers ResourceExistsException; AWS InvalidRequestException (\"already scheduled for deletion\")",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html",
	},
	"token-too-short": {
		aws:    []string{"create: ERR ValidationException"},
		why:    "ClientRequestToken is 32-64 characters; AWS's constraint failures are ValidationException, moto answers InvalidParameterException",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html#SecretsManager-CreateSecret-request-ClientRequestToken",
	},
	"value-over-limit": {
		aws:    []string{"create: ERR ValidationException"},
		why:    "moto has no 65,536-byte limit on SecretString",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html#SecretsManager-CreateSecret-request-SecretString",
	},
	"list-versions-hides-placeholder-and-deprecated": {
		aws:    []string{"list: v2=[AWSCURRENT] v3=[AWSPREVIOUS]", "list deprecated: v1=[] v2=[AWSCURRENT] v3=[AWSPREVIOUS]"},
		why:    "moto lists unlabeled (deprecated) versions without IncludeDeprecated",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ListSecretVersionIds.html#SecretsManager-ListSecretVersionIds-request-IncludeDeprecated",
	},
	"describe-hides-deprecated": {
		aws:    []string{"raw stages: v2=[AWSPREVIOUS] v3=[AWSCURRENT]"},
		why:    "moto's VersionIdsToStages includes versions with an empty label list",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html#SecretsManager-DescribeSecret-response-VersionIdsToStages",
	},
	"create-string-and-binary": {
		aws:    []string{"create: ERR InvalidParameterException"},
		why:    "moto accepts SecretString and SecretBinary together; AWS takes one or the other, never both",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html#SecretsManager-CreateSecret-request-SecretBinary",
	},
	"put-same-token": {
		aws: []string{
			"create: ok", "put: ok", "same token same value: ok", "returned v2 [AWSPENDING]",
			"same token other value: ERR ResourceExistsException", "get: two [AWSPENDING]",
		},
		why:    "a repeated PutSecretValue with the same token and value \"succeeds but does nothing\"; moto moves AWSCURRENT to it",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html",
	},
	"batch-get": {
		aws:    []string{"create: ok", "create: ok", "batch: ok", "values [A B]", "neither list nor filters: ERR InvalidParameterException"},
		why:    "moto accepts a BatchGetSecretValue with neither SecretIdList nor Filters; AWS requires one of them",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_BatchGetSecretValue.html",
	},
	"stage-custom-label-move": {
		aws: []string{
			"create: ok", "put: ok", "put: ok", "move without remove: ERR InvalidParameterException", "move: ok",
			"stages: v1=[AWSCURRENT] v3=[BLUE GREEN]",
		},
		why:    "moto requires RemoveFromVersionId only for AWSCURRENT and then attaches a second copy of the label; AWS requires it for any label attached elsewhere",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html#SecretsManager-UpdateSecretVersionStage-request-RemoveFromVersionId",
	},
	"get-unknown-stage-message": {
		aws:    []string{"get: ERR ResourceNotFoundException: Secrets Manager can't find the specified secret value for staging label: NOPE"},
		why:    "moto's message for a label on no version is \"can't find the specified secret\"",
		source: "https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot.html",
	},
}

// scenario drives one API story through a client and writes observations.
type scenario struct {
	name string
	run  func(e *obs)
}

// obs records normalised observations for one scenario on one backend.
type obs struct {
	t      *testing.T
	c      *secretsmanager.Client
	prefix string
	lines  []string
	tokens map[string]string // version ID -> short tag
}

func (o *obs) n(name string) *string { return aws.String(o.prefix + name) }

func (o *obs) tok(tag string) *string {
	tk := token(o.prefix[:4] + tag)
	o.tokens[tk] = tag
	return aws.String(tk)
}

func (o *obs) tag(id string) string {
	if t, ok := o.tokens[id]; ok {
		return t
	}
	return "auto"
}

func (o *obs) add(format string, args ...any) {
	o.lines = append(o.lines, fmt.Sprintf(format, args...))
}

// res records "op: ok" or "op: ERR <code>"; it reports whether err was nil.
func (o *obs) res(op string, err error) bool {
	if err != nil {
		o.add("%s: ERR %s", op, code(err))
		return false
	}
	o.add("%s: ok", op)
	return true
}

func (o *obs) create(name, tag, value string) error {
	_, err := o.c.CreateSecret(o.t.Context(), &secretsmanager.CreateSecretInput{Name: o.n(name), ClientRequestToken: o.tok(tag), SecretString: aws.String(value)})
	return err
}

func (o *obs) put(name, tag, value string, stages ...string) error {
	in := &secretsmanager.PutSecretValueInput{SecretId: o.n(name), ClientRequestToken: o.tok(tag), SecretString: aws.String(value)}
	if len(stages) > 0 {
		in.VersionStages = stages
	}
	_, err := o.c.PutSecretValue(o.t.Context(), in)
	return err
}

func (o *obs) get(name, tag, stage string) {
	in := &secretsmanager.GetSecretValueInput{SecretId: o.n(name)}
	if tag != "" {
		in.VersionId = o.tok(tag)
	}
	if stage != "" {
		in.VersionStage = aws.String(stage)
	}
	out, err := o.c.GetSecretValue(o.t.Context(), in)
	if err != nil {
		o.add("get: ERR %s", code(err))
		return
	}
	st := slices.Clone(out.VersionStages)
	slices.Sort(st)
	o.add("get: %s %v", aws.ToString(out.SecretString), st)
}

func (o *obs) stageLine(m map[string][]string, keepEmpty bool) string {
	var parts []string
	for id, st := range m {
		if len(st) == 0 && !keepEmpty {
			continue
		}
		st = slices.Clone(st)
		slices.Sort(st)
		parts = append(parts, fmt.Sprintf("%s=%v", o.tag(id), st))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// stages records DescribeSecret's labelled versions.
func (o *obs) stages(name string) {
	d, err := o.c.DescribeSecret(o.t.Context(), &secretsmanager.DescribeSecretInput{SecretId: o.n(name)})
	if err != nil {
		o.add("stages: ERR %s", code(err))
		return
	}
	o.add("stages: %s", o.stageLine(d.VersionIdsToStages, false))
}

func (o *obs) move(name, stage, to, from string) error {
	in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: o.n(name), VersionStage: aws.String(stage)}
	if to != "" {
		in.MoveToVersionId = o.tok(to)
	}
	if from != "" {
		in.RemoveFromVersionId = o.tok(from)
	}
	_, err := o.c.UpdateSecretVersionStage(o.t.Context(), in)
	return err
}

var arnRe = regexp.MustCompile(`^arn:aws:secretsmanager:eu-west-1:123456789012:secret:(.+)-[A-Za-z0-9]{6}$`)

var motoScenarios = []scenario{
	{"create-and-get", func(o *obs) {
		out, err := o.c.CreateSecret(o.t.Context(), &secretsmanager.CreateSecretInput{Name: o.n("s"), ClientRequestToken: o.tok("v1"), SecretString: aws.String("one")})
		if o.res("create", err) {
			m := arnRe.FindStringSubmatch(aws.ToString(out.ARN))
			o.add("arn matches name: %v, version %s", m != nil && m[1] == o.prefix+"s", o.tag(aws.ToString(out.VersionId)))
		}
		o.get("s", "", "")
		o.get("s", "v1", "")
		o.get("s", "", "AWSCURRENT")
	}},
	{"create-idempotency", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		o.res("same token same value", o.create("s", "v1", "one"))
		o.res("same token other value", o.create("s", "v1", "other"))
		o.res("other token", o.create("s", "v2", "one"))
		o.stages("s")
	}},
	{"create-string-and-binary", func(o *obs) {
		_, err := o.c.CreateSecret(o.t.Context(), &secretsmanager.CreateSecretInput{Name: o.n("s"), SecretString: aws.String("a"), SecretBinary: []byte("b")})
		o.res("create", err)
	}},
	{"create-binary", func(o *obs) {
		_, err := o.c.CreateSecret(o.t.Context(), &secretsmanager.CreateSecretInput{Name: o.n("s"), SecretBinary: []byte{0, 1, 2, 255}})
		o.res("create", err)
		out, err := o.c.GetSecretValue(o.t.Context(), &secretsmanager.GetSecretValueInput{SecretId: o.n("s")})
		if o.res("get", err) {
			o.add("binary %v string %v", out.SecretBinary, out.SecretString != nil)
		}
	}},
	{"put-with-token", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		o.res("put pending", o.put("s", "v2", "two", "AWSPENDING"))
		o.stages("s")
		o.get("s", "", "AWSPENDING")
		o.get("s", "v2", "AWSPENDING")
		o.get("s", "", "")
	}},
	{"put-without-token", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		_, err := o.c.PutSecretValue(o.t.Context(), &secretsmanager.PutSecretValueInput{SecretId: o.n("s"), SecretString: aws.String("two")})
		o.res("put", err)
		o.get("s", "", "")
		o.get("s", "", "AWSPREVIOUS")
	}},
	{"put-same-token", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		o.res("put", o.put("s", "v2", "two", "AWSPENDING"))
		out, err := o.c.PutSecretValue(o.t.Context(), &secretsmanager.PutSecretValueInput{SecretId: o.n("s"), ClientRequestToken: o.tok("v2"), SecretString: aws.String("two")})
		if o.res("same token same value", err) {
			o.add("returned %s %v", o.tag(aws.ToString(out.VersionId)), out.VersionStages)
		}
		o.res("same token other value", o.put("s", "v2", "changed"))
		o.get("s", "v2", "")
	}},
	{"put-current-twice", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		o.res("put", o.put("s", "v2", "two"))
		o.res("put", o.put("s", "v3", "three"))
		o.stages("s")
		o.get("s", "", "AWSPREVIOUS")
	}},
	{"put-current-keeps-other-labels", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		if err := o.move("s", "BLUE", "v1", ""); err != nil {
			o.res("label", err)
		}
		o.lines = nil
		o.res("put", o.put("s", "v2", "two"))
		o.stages("s")
	}},
	{"stage-move-requires-remove-from", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		o.res("put", o.put("s", "v2", "two", "AWSPENDING"))
		o.res("move", o.move("s", "AWSCURRENT", "v2", ""))
		o.stages("s")
	}},
	{"stage-move-current", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		o.res("put", o.put("s", "v2", "two", "AWSPENDING"))
		o.res("move", o.move("s", "AWSCURRENT", "v2", "v1"))
		o.stages("s")
		o.res("remove pending", o.move("s", "AWSPENDING", "", "v2"))
		o.stages("s")
		o.get("s", "", "AWSCURRENT")
		o.get("s", "", "AWSPREVIOUS")
	}},
	{"stage-move-then-get", func(o *obs) {
		if o.create("s", "v1", "one") != nil || o.put("s", "v2", "two", "AWSPENDING") != nil {
			o.add("setup failed")
		}
		o.res("move", o.move("s", "AWSCURRENT", "v2", "v1"))
		o.get("s", "", "")
	}},
	{"stage-move-wrong-remove-from", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		o.res("put", o.put("s", "v2", "two", "AWSPENDING"))
		o.res("put", o.put("s", "v3", "three", "OTHER"))
		o.res("move", o.move("s", "AWSCURRENT", "v2", "v3"))
		o.stages("s")
	}},
	{"stage-remove-only", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		o.res("put", o.put("s", "v2", "two", "AWSPENDING"))
		o.res("remove pending", o.move("s", "AWSPENDING", "", "v2"))
		o.res("remove pending again", o.move("s", "AWSPENDING", "", "v2"))
		o.res("remove label held elsewhere", o.move("s", "AWSCURRENT", "", "v2"))
		o.res("remove current", o.move("s", "AWSCURRENT", "", "v1"))
		o.stages("s")
	}},
	{"stage-custom-label-move", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		o.res("put", o.put("s", "v2", "two", "BLUE"))
		o.res("put", o.put("s", "v3", "three", "GREEN"))
		o.res("move without remove", o.move("s", "BLUE", "v3", ""))
		o.res("move", o.move("s", "BLUE", "v3", "v2"))
		o.stages("s")
	}},
	{"not-found-status", func(o *obs) {
		_, err := o.c.GetSecretValue(o.t.Context(), &secretsmanager.GetSecretValueInput{SecretId: o.n("nope")})
		var re *awshttp.ResponseError
		status := 0
		if errors.As(err, &re) {
			status = re.HTTPStatusCode()
		}
		o.add("get: ERR %s HTTP %d", code(err), status)
	}},
	{"get-errors", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		o.get("nope", "", "")
		o.get("s", "v9", "")
		o.get("s", "", "NOPE")
		o.get("s", "v1", "AWSPENDING")
	}},
	{"get-unknown-stage-message", func(o *obs) {
		if o.create("s", "v1", "one") != nil {
			o.add("setup failed")
		}
		_, err := o.c.GetSecretValue(o.t.Context(), &secretsmanager.GetSecretValueInput{SecretId: o.n("s"), VersionStage: aws.String("NOPE")})
		o.add("get: ERR %s: %s", code(err), message(err))
	}},
	{"lookup-by-arn", func(o *obs) {
		out, err := o.c.CreateSecret(o.t.Context(), &secretsmanager.CreateSecretInput{Name: o.n("s"), SecretString: aws.String("one")})
		if !o.res("create", err) {
			return
		}
		arn := aws.ToString(out.ARN)
		for _, id := range []string{arn, arn[:len(arn)-7]} {
			v, err := o.c.GetSecretValue(o.t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			if o.res("get", err) {
				o.add("value %s, same ARN %v", aws.ToString(v.SecretString), aws.ToString(v.ARN) == arn)
			}
		}
	}},
	{"delete-and-restore", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		_, err := o.c.DeleteSecret(o.t.Context(), &secretsmanager.DeleteSecretInput{SecretId: o.n("s"), RecoveryWindowInDays: aws.Int64(7)})
		o.res("delete", err)
		o.get("s", "", "")
		d, err := o.c.DescribeSecret(o.t.Context(), &secretsmanager.DescribeSecretInput{SecretId: o.n("s")})
		if o.res("describe", err) {
			o.add("deleted date set: %v", d.DeletedDate != nil)
		}
		_, err = o.c.DeleteSecret(o.t.Context(), &secretsmanager.DeleteSecretInput{SecretId: o.n("s")})
		o.res("delete again", err)
		_, err = o.c.RestoreSecret(o.t.Context(), &secretsmanager.RestoreSecretInput{SecretId: o.n("s")})
		o.res("restore", err)
		o.get("s", "", "")
	}},
	{"delete-options", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		_, err := o.c.DeleteSecret(o.t.Context(), &secretsmanager.DeleteSecretInput{SecretId: o.n("s"), RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
		o.res("both", err)
		_, err = o.c.DeleteSecret(o.t.Context(), &secretsmanager.DeleteSecretInput{SecretId: o.n("s"), RecoveryWindowInDays: aws.Int64(3)})
		o.res("window 3", err)
		_, err = o.c.DeleteSecret(o.t.Context(), &secretsmanager.DeleteSecretInput{SecretId: o.n("s"), ForceDeleteWithoutRecovery: aws.Bool(true)})
		o.res("force", err)
		o.get("s", "", "")
		o.res("create again", o.create("s", "v2", "two"))
		_, err = o.c.DeleteSecret(o.t.Context(), &secretsmanager.DeleteSecretInput{SecretId: o.n("never"), ForceDeleteWithoutRecovery: aws.Bool(true)})
		o.res("force unknown", err)
	}},
	{"put-on-deleted", func(o *obs) {
		if o.create("s", "v1", "one") != nil {
			o.add("setup failed")
		}
		if _, err := o.c.DeleteSecret(o.t.Context(), &secretsmanager.DeleteSecretInput{SecretId: o.n("s"), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
			o.add("setup failed")
		}
		o.res("put", o.put("s", "v2", "two"))
	}},
	{"create-name-scheduled-for-deletion", func(o *obs) {
		if o.create("s", "v1", "one") != nil {
			o.add("setup failed")
		}
		if _, err := o.c.DeleteSecret(o.t.Context(), &secretsmanager.DeleteSecretInput{SecretId: o.n("s"), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
			o.add("setup failed")
		}
		o.res("create", o.create("s", "v2", "two"))
	}},
	{"token-too-short", func(o *obs) {
		_, err := o.c.CreateSecret(o.t.Context(), &secretsmanager.CreateSecretInput{Name: o.n("s"), ClientRequestToken: aws.String("short"), SecretString: aws.String("x")})
		o.res("create", err)
	}},
	{"value-over-limit", func(o *obs) {
		_, err := o.c.CreateSecret(o.t.Context(), &secretsmanager.CreateSecretInput{Name: o.n("s"), SecretString: aws.String(strings.Repeat("x", 65537))})
		o.res("create", err)
	}},
	{"value-at-limit", func(o *obs) {
		_, err := o.c.CreateSecret(o.t.Context(), &secretsmanager.CreateSecretInput{Name: o.n("s"), SecretString: aws.String(strings.Repeat("x", 65536))})
		o.res("create", err)
	}},
	{"list-versions-hides-placeholder-and-deprecated", func(o *obs) {
		if o.create("s", "v1", "one") != nil || o.put("s", "v2", "two") != nil || o.put("s", "v3", "three") != nil || o.move("s", "AWSCURRENT", "v2", "v3") != nil {
			o.add("setup failed")
		}
		for _, dep := range []bool{false, true} {
			out, err := o.c.ListSecretVersionIds(o.t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: o.n("s"), IncludeDeprecated: aws.Bool(dep)})
			if err != nil {
				o.add("list: ERR %s", code(err))
				continue
			}
			m := map[string][]string{}
			for _, v := range out.Versions {
				m[aws.ToString(v.VersionId)] = v.VersionStages
			}
			label := "list"
			if dep {
				label = "list deprecated"
			}
			o.add("%s: %s", label, o.stageLine(m, true))
		}
	}},
	{"describe-hides-deprecated", func(o *obs) {
		if o.create("s", "v1", "one") != nil || o.put("s", "v2", "two") != nil || o.put("s", "v3", "three") != nil {
			o.add("setup failed")
		}
		d, err := o.c.DescribeSecret(o.t.Context(), &secretsmanager.DescribeSecretInput{SecretId: o.n("s")})
		if o.res("describe", err) {
			o.lines = nil
			o.add("raw stages: %s", o.stageLine(d.VersionIdsToStages, true))
		}
	}},
	{"describe-fields", func(o *obs) {
		_, err := o.c.CreateSecret(o.t.Context(), &secretsmanager.CreateSecretInput{Name: o.n("s"), SecretString: aws.String("x"), Description: aws.String("d1"),
			Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("db")}}})
		o.res("create", err)
		d, err := o.c.DescribeSecret(o.t.Context(), &secretsmanager.DescribeSecretInput{SecretId: o.n("s")})
		if o.res("describe", err) {
			o.add("description %s, rotation enabled %v, tags %d, created %v", aws.ToString(d.Description), aws.ToBool(d.RotationEnabled), len(d.Tags), d.CreatedDate != nil)
		}
	}},
	{"tags", func(o *obs) {
		o.res("create", o.create("s", "v1", "x"))
		_, err := o.c.TagResource(o.t.Context(), &secretsmanager.TagResourceInput{SecretId: o.n("s"), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")}}})
		o.res("tag", err)
		_, err = o.c.TagResource(o.t.Context(), &secretsmanager.TagResourceInput{SecretId: o.n("s"), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("3")}}})
		o.res("retag", err)
		_, err = o.c.UntagResource(o.t.Context(), &secretsmanager.UntagResourceInput{SecretId: o.n("s"), TagKeys: []string{"b"}})
		o.res("untag", err)
		d, err := o.c.DescribeSecret(o.t.Context(), &secretsmanager.DescribeSecretInput{SecretId: o.n("s")})
		if o.res("describe", err) {
			var tags []string
			for _, t := range d.Tags {
				tags = append(tags, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
			}
			o.add("tags %v", tags)
		}
		_, err = o.c.TagResource(o.t.Context(), &secretsmanager.TagResourceInput{SecretId: o.n("nope"), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}})
		o.res("tag unknown", err)
	}},
	{"list-secrets-filter", func(o *obs) {
		for _, n := range []string{"app/a", "app/b", "other"} {
			if o.create(n, "t"+n[len(n)-1:], "x") != nil {
				o.add("setup failed")
			}
		}
		out, err := o.c.ListSecrets(o.t.Context(), &secretsmanager.ListSecretsInput{Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{o.prefix + "app/"}}}})
		if o.res("list", err) {
			var names []string
			for _, s := range out.SecretList {
				names = append(names, strings.TrimPrefix(aws.ToString(s.Name), o.prefix))
			}
			slices.Sort(names)
			o.add("names %v", names)
		}
	}},
	{"update-secret", func(o *obs) {
		o.res("create", o.create("s", "v1", "one"))
		_, err := o.c.UpdateSecret(o.t.Context(), &secretsmanager.UpdateSecretInput{SecretId: o.n("s"), ClientRequestToken: o.tok("v2"), SecretString: aws.String("two")})
		o.res("update", err)
		o.stages("s")
		o.get("s", "", "")
		_, err = o.c.UpdateSecret(o.t.Context(), &secretsmanager.UpdateSecretInput{SecretId: o.n("s"), Description: aws.String("new")})
		o.res("update description", err)
		o.stages("s")
	}},
	{"batch-get", func(o *obs) {
		o.res("create", o.create("a", "va", "A"))
		o.res("create", o.create("b", "vb", "B"))
		out, err := o.c.BatchGetSecretValue(o.t.Context(), &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{o.prefix + "a", o.prefix + "b"}})
		if o.res("batch", err) {
			var vals []string
			for _, v := range out.SecretValues {
				vals = append(vals, aws.ToString(v.SecretString))
			}
			slices.Sort(vals)
			o.add("values %v", vals)
		}
		_, err = o.c.BatchGetSecretValue(o.t.Context(), &secretsmanager.BatchGetSecretValueInput{})
		o.res("neither list nor filters", err)
	}},
	{"random-password", func(o *obs) {
		out, err := o.c.GetRandomPassword(o.t.Context(), &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(40), ExcludePunctuation: aws.Bool(true)})
		if o.res("default classes", err) {
			pw := aws.ToString(out.RandomPassword)
			o.add("length %d, punctuation %v", len(pw), strings.ContainsAny(pw, "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"))
		}
		_, err = o.c.GetRandomPassword(o.t.Context(), &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(3)})
		o.res("too short", err)
	}},
}

// TestDifferentialMoto runs every scenario against the emulator and against
// moto_server: results must be equal except for the documented deviations.
func TestDifferentialMoto(t *testing.T) {
	motoURL := startMoto(t)
	s := localaws.Start(t)
	ours := noRetry(s, s.DefaultCredentials())
	motoCfg := aws.Config{
		Region:           region,
		BaseEndpoint:     aws.String(motoURL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIAMOTOMOTOMOTO0000", "moto-secret", ""),
		RetryMaxAttempts: 1,
	}
	moto := secretsmanager.NewFromConfig(motoCfg)
	for i, sc := range motoScenarios {
		t.Run(sc.name, func(t *testing.T) {
			prefix := fmt.Sprintf("d%03d-", i)
			runOn := func(c *secretsmanager.Client) []string {
				o := &obs{t: t, c: c, prefix: prefix, tokens: map[string]string{}}
				sc.run(o)
				return o.lines
			}
			got, fromMoto := runOn(ours), runOn(moto)
			dev, deviates := motoDeviations[sc.name]
			switch {
			case !deviates:
				if diff := cmp.Diff(fromMoto, got); diff != "" {
					t.Errorf("emulator differs from moto (-moto +emulator):\n%s", diff)
				}
			default:
				if diff := cmp.Diff(dev.aws, got); diff != "" {
					t.Errorf("emulator differs from AWS's documented behaviour (%s) (-aws +emulator):\n%s", dev.source, diff)
				}
				if cmp.Equal(dev.aws, fromMoto) {
					t.Errorf("moto now agrees with AWS on %q: remove the deviation entry (and its README row)", sc.name)
				}
			}
		})
	}
	for name := range motoDeviations {
		if !slices.ContainsFunc(motoScenarios, func(sc scenario) bool { return sc.name == name }) {
			t.Errorf("deviation %q has no scenario", name)
		}
	}
}
