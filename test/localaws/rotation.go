package localaws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Function is a rotation function RotateSecret can invoke: it receives the
// event JSON and returns the function's result, or an error for a function
// error (an unhandled error, a timeout).
type Function interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// HandlerFunction is an in-process function, for instance
// lambda.NewHandler(engine.Handle).Invoke.
type HandlerFunction func(ctx context.Context, payload []byte) ([]byte, error)

// Invoke calls f.
func (f HandlerFunction) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// HTTPFunction is a function behind the Lambda Runtime Interface Emulator's
// invoke URL (http://127.0.0.1:PORT/2015-03-31/functions/function/invocations).
type HTTPFunction string

// FunctionError is the error a function returned: its errorType and
// errorMessage as Lambda reports them.
type FunctionError struct {
	Type    string
	Message string
}

// Error returns "errorType: errorMessage".
func (e *FunctionError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// invokeLocks serialises invocations per URL: the RIE runs one invocation at
// a time and refuses a second one, where Lambda would scale out.
var invokeLocks sync.Map // URL -> *sync.Mutex

// Invoke POSTs the payload to the invoke URL, one invocation at a time per
// URL. The RIE answers a function error
// with HTTP 200 and a JSON body holding errorType and errorMessage (see
// internal/lambda/rapi/handler/invocationerror.go in the RIE: the runtime's
// /invocation/<id>/error body is relayed as the invoke response), a timeout
// with HTTP 200 and the text "Task timed out after N.00 seconds", and its own
// failures with 4xx/5xx; all of them are errors here.
func (f HTTPFunction) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, string(f), bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	mu, _ := invokeLocks.LoadOrStore(string(f), &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invoke: HTTP %d from the invoke endpoint", resp.StatusCode)
	}
	if fe := functionError(resp.Header, body); fe != nil {
		return nil, fe
	}
	return body, nil
}

// functionError recognises a function error in an invoke response.
func functionError(h http.Header, body []byte) *FunctionError {
	var e struct {
		ErrorType    *string `json:"errorType"`
		ErrorMessage *string `json:"errorMessage"`
	}
	trimmed := bytes.TrimSpace(body)
	if bytes.HasPrefix(trimmed, []byte("Task timed out after")) {
		return &FunctionError{Type: "Sandbox.Timedout", Message: string(trimmed)}
	}
	if bytes.HasPrefix(trimmed, []byte("{")) && json.Unmarshal(trimmed, &e) == nil && (e.ErrorType != nil || e.ErrorMessage != nil) {
		fe := &FunctionError{}
		if e.ErrorType != nil {
			fe.Type = *e.ErrorType
		}
		if e.ErrorMessage != nil {
			fe.Message = *e.ErrorMessage
		}
		return fe
	}
	if t := h.Get("X-Amz-Function-Error"); t != "" {
		return &FunctionError{Type: t, Message: string(trimmed)}
	}
	return nil
}

// RegisterFunction makes f invokable as lambdaARN (the RotationLambdaARN given
// to RotateSecret). Registering the same ARN again replaces the function.
func (s *Server) RegisterFunction(lambdaARN string, f Function) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.functions[lambdaARN] = f
}

func (s *Server) function(lambdaARN string) Function {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.functions[lambdaARN]
}

// Rotation steps, in the order the service invokes them.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

// Outcome is the state of a rotation run.
type Outcome string

// Outcomes.
const (
	InProgress Outcome = "InProgress"
	Succeeded  Outcome = "Succeeded"
	Failed     Outcome = "Failed"
)

// RotationRun is one RotateSecret-driven rotation as a test sees it.
type RotationRun struct {
	SecretARN   string
	Token       string // ClientRequestToken: the pending version's ID
	Immediately bool   // false: only testSecret ran (RotateImmediately=false)
	Steps       []StepRun
	Attempts    int // sequences started (1 + retries used)
	Outcome     Outcome
	Error       string // why the run failed, "" on success
}

// StepRun is one invocation of the function.
type StepRun struct {
	Step    string
	Attempt int    // 1 for the first sequence, 2 for the first retry, ...
	Error   string // the function's error, "" on success
}

// Rotations returns the rotation runs of a secret (by full ARN), oldest first.
func (s *Server) Rotations(secretARN string) []RotationRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RotationRun
	for _, r := range s.runs[secretARN] {
		c := *r
		c.Steps = slices.Clone(r.Steps)
		out = append(out, c)
	}
	return out
}

// ranWith reports whether a rotation of the secret used token.
func (s *Server) ranWith(secretARN, token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.runs[secretARN], func(r *RotationRun) bool { return r.Token == token })
}

// activeRotation is a rotation whose steps are running.
type activeRotation struct {
	token         string
	rotationToken string
}

// checkRotationToken enforces the RotationToken during a RotateSecret-driven
// rotation: assumed-role callers must pass the rotation's token, and a token
// that is present must match. AWS documents that it "validates the identity
// using the token" without documenting the error; the emulator answers
// AccessDeniedException, the error IAM-side refusals use, with a message that
// names the parameter and never the token.
func checkRotationToken(r *request, sec *secretRec, tok *string) *apiError {
	a := sec.rotation
	if a == nil {
		return nil
	}
	if tok == nil {
		if !r.caller.assumed {
			return nil
		}
	} else if *tok == a.rotationToken {
		return nil
	}
	return errf(400, "AccessDeniedException",
		"User: %s is not authorized to perform: secretsmanager:%s on resource: %s because the RotationToken is missing or does not match the rotation in progress",
		r.caller.arn, r.op, sec.arn)
}

var (
	rateRe     = regexp.MustCompile(`^rate\((\d+) (hour|hours|day|days)\)$`)
	cronRe     = regexp.MustCompile(`^cron\([^()]+\)$`)
	durationRe = regexp.MustCompile(`^(\d+)h$`)
)

// interval validates rotation rules and returns the time between rotations
// (cron schedules: one day, an approximation).
func interval(rr *RotationRules) (time.Duration, *apiError) {
	if rr.AutomaticallyAfterDays != nil && rr.ScheduleExpression != nil {
		return 0, errf(400, "InvalidParameterException", "You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules.")
	}
	if rr.Duration != nil {
		m := durationRe.FindStringSubmatch(*rr.Duration)
		if m == nil {
			return 0, errf(400, "InvalidParameterException", "RotationRules.Duration must be a number of hours, such as 3h.")
		}
		if h, _ := strconv.Atoi(m[1]); h < 1 || h > 24 {
			return 0, errf(400, "InvalidParameterException", "RotationRules.Duration must be between 1h and 24h.")
		}
	}
	switch {
	case rr.AutomaticallyAfterDays != nil:
		d := *rr.AutomaticallyAfterDays
		if d < 1 || d > 1000 {
			return 0, errf(400, "InvalidParameterException", "RotationRules.AutomaticallyAfterDays must be within 1-1000.")
		}
		return time.Duration(d) * 24 * time.Hour, nil
	case rr.ScheduleExpression != nil:
		e := strings.TrimSpace(*rr.ScheduleExpression)
		if m := rateRe.FindStringSubmatch(e); m != nil {
			n, _ := strconv.Atoi(m[1])
			unit := 24 * time.Hour
			if strings.HasPrefix(m[2], "hour") {
				unit = time.Hour
			}
			if d := time.Duration(n) * unit; d >= 4*time.Hour && d <= 1000*24*time.Hour {
				return d, nil
			}
			return 0, errf(400, "InvalidParameterException", "The rotation schedule must be between 4 hours and 1000 days.")
		}
		if cronRe.MatchString(e) {
			return 24 * time.Hour, nil
		}
		return 0, errf(400, "InvalidParameterException", "Invalid ScheduleExpression: use rate(N hours), rate(N days) or cron(...).")
	}
	return 0, nil
}

func (s *Server) rotateSecret(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID           string `json:"SecretId"`
		ClientRequestToken *string
		RotationLambdaARN  *string
		RotationRules      *RotationRules
		RotateImmediately  *bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkToken("clientRequestToken", in.ClientRequestToken); e != nil {
		return nil, e
	}
	var every time.Duration
	if in.RotationRules != nil {
		d, e := interval(in.RotationRules)
		if e != nil {
			return nil, e
		}
		every = d
	}
	token := newUUID()
	if in.ClientRequestToken != nil {
		token = *in.ClientRequestToken
	}
	immediately := in.RotateImmediately == nil || *in.RotateImmediately

	var (
		fn       Function
		run      *RotationRun
		st       *store
		rotTok   string
		invoking string // the function's ARN, for the request log
	)
	out, e := s.withSecret(r, in.SecretID, false, func(sst *store, sec *secretRec) (any, *apiError) {
		st = sst
		lambdaARN := sec.lambdaARN
		if in.RotationLambdaARN != nil {
			lambdaARN = *in.RotationLambdaARN
		}
		if lambdaARN == "" {
			return nil, errf(400, "InvalidRequestException", "No Lambda rotation function ARN is associated with this secret.")
		}
		fn = s.function(lambdaARN)
		if fn == nil {
			return nil, errf(400, "AccessDeniedException", "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.")
		}
		res := arnNameVersion{ARN: sec.arn, Name: sec.name, VersionID: token}
		if p := sec.holder(stagePending); p != nil && !p.has(stageCurrent) {
			if p.id == token && sec.rotation != nil && sec.rotation.token == token {
				return res, nil // a retry of the call that started this rotation
			}
			return nil, errf(400, "InvalidRequestException", "A previous rotation isn't complete. That rotation will be reattempted.")
		}
		if sec.versions[token] != nil {
			if s.ranWith(sec.arn, token) {
				return res, nil // a retry of a call whose rotation already ended
			}
			return nil, errTokenInUse(token, sec.arn)
		}
		cur := sec.holder(stageCurrent)
		if !immediately && (cur == nil || !cur.hasValue()) {
			return nil, errf(400, "InvalidRequestException", "The secret has no AWSCURRENT value to test.")
		}
		now := s.now()
		sec.rotationSet, sec.rotationOn, sec.lambdaARN = true, true, lambdaARN
		sec.lastChanged = now
		if in.RotationRules != nil {
			sec.rules = in.RotationRules
			sec.nextRotation = now.Add(every)
		}
		for _, id := range sec.order {
			sec.versions[id].remove(stagePending)
		}
		placeholder := &version{id: token, stages: []string{stagePending}, created: now}
		if !immediately {
			placeholder.str, placeholder.bin = cur.str, cur.bin
		}
		sec.addVersion(placeholder)
		rotTok = newUUID() + "-" + randomString(alnum, 24)
		invoking = lambdaARN
		sec.rotation = &activeRotation{token: token, rotationToken: rotTok}
		run = &RotationRun{SecretARN: sec.arn, Token: token, Immediately: immediately, Outcome: InProgress}
		s.mu.Lock()
		s.runs[sec.arn] = append(s.runs[sec.arn], run)
		s.mu.Unlock()
		return res, nil
	})
	if e != nil || run == nil {
		return out, e
	}
	s.logInvoke(invoking, run.SecretARN)
	if s.opts.AsyncRotation {
		s.rotationStarted()
		go func() {
			defer s.rotationEnded()
			s.drive(context.Background(), st, fn, run, rotTok)
		}()
	} else {
		s.drive(context.WithoutCancel(r.ctx), st, fn, run, rotTok)
	}
	return out, nil
}

// drive invokes the steps of a rotation, re-driving the whole sequence with
// the same token up to Options.RotationRetries times, then records the
// outcome and ends the rotation.
func (s *Server) drive(ctx context.Context, st *store, fn Function, run *RotationRun, rotTok string) {
	steps := []string{StepCreate, StepSet, StepTest, StepFinish}
	if !run.Immediately {
		steps = []string{StepTest}
	}
	var failure string
	for attempt := 1; attempt <= 1+s.opts.RotationRetries; attempt++ {
		s.mu.Lock()
		run.Attempts = attempt
		s.mu.Unlock()
		failure = ""
		for _, step := range steps {
			err := s.invoke(ctx, fn, step, run, rotTok)
			msg := ""
			if err != nil {
				msg = err.Error()
				failure = step + ": " + msg
			}
			s.mu.Lock()
			run.Steps = append(run.Steps, StepRun{Step: step, Attempt: attempt, Error: msg})
			s.mu.Unlock()
			if err != nil {
				break
			}
		}
		if failure == "" && run.Immediately && !s.finished(st, run) {
			failure = "finishSecret returned without moving AWSCURRENT to the pending version"
		}
		if failure == "" {
			break
		}
	}

	st.mu.Lock()
	sec := st.byARN[run.SecretARN]
	if sec != nil {
		if sec.rotation != nil && sec.rotation.token == run.Token {
			sec.rotation = nil
		}
		if !run.Immediately {
			if v := sec.versions[run.Token]; v != nil && !v.has(stageCurrent) {
				sec.removeVersion(run.Token)
			}
		}
		if failure == "" {
			now := s.now()
			sec.lastRotated = now
			if sec.rules != nil {
				if d, e := interval(sec.rules); e == nil && d > 0 {
					sec.nextRotation = now.Add(d)
				}
			}
		}
	} else if failure == "" {
		failure = "the secret was deleted during the rotation"
	}
	st.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	run.Error = failure
	run.Outcome = Succeeded
	if failure != "" {
		run.Outcome = Failed
	}
}

// finished reports whether the run's token version holds AWSCURRENT.
func (s *Server) finished(st *store, run *RotationRun) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	sec := st.byARN[run.SecretARN]
	if sec == nil {
		return false
	}
	v := sec.versions[run.Token]
	return v != nil && v.has(stageCurrent)
}

// rotationEvent is the event Secrets Manager sends to a rotation function.
type rotationEvent struct {
	Step               string `json:"Step"`
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
	RotationToken      string `json:"RotationToken"`
}

func (s *Server) invoke(ctx context.Context, fn Function, step string, run *RotationRun, rotTok string) (err error) {
	payload, err := json.Marshal(rotationEvent{step, run.SecretARN, run.Token, rotTok})
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.InvokeTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("function panicked: %v", p)
		}
	}()
	_, err = fn.Invoke(ctx, payload)
	if errors.Is(err, context.DeadlineExceeded) || (err == nil && ctx.Err() != nil) {
		return fmt.Errorf("task timed out after %s: %w", s.opts.InvokeTimeout, context.DeadlineExceeded)
	}
	return err
}

func (s *Server) cancelRotateSecret(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.withSecret(r, in.SecretID, false, func(_ *store, sec *secretRec) (any, *apiError) {
		if sec.lambdaARN == "" {
			return nil, errf(400, "InvalidRequestException", "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and you didn't include such an ARN as a parameter in this call.")
		}
		sec.rotationOn = false
		out := arnNameVersion{ARN: sec.arn, Name: sec.name}
		if p := sec.holder(stagePending); p != nil && !p.has(stageCurrent) {
			out.VersionID = p.id
		}
		return out, nil
	})
}
