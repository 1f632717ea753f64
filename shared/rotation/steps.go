package rotation

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/logging"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// create makes the pending value and stores it as AWSPENDING.
// Happy path: DescribeSecret, GetSecretValue(AWSCURRENT), PutSecretValue.
func (r *run) create(ctx context.Context) error {
	d, err := r.describe(ctx)
	if err != nil {
		return err
	}
	if done, err := r.tokenState(d); done || err != nil {
		return err
	}
	cur, _, err := r.read(ctx, "", StageCurrent)
	if err != nil {
		return err
	}
	rot, err := r.route(cur)
	if err != nil {
		return err
	}
	if err := r.confine(cur); err != nil {
		return err
	}
	if _, ok := rot.(rotators.Minter); ok {
		// Never mint what cannot be stored: if an earlier try stored the
		// pending value, creation is done.
		_, _, err := r.read(ctx, r.ev.ClientRequestToken, StagePending)
		if err == nil {
			r.note = logging.OutcomePendingStored
			return nil
		}
		if !isNotFound(err) {
			return err
		}
	}
	resp, err := call(ctx, r, rot.Create, rotators.CreateRequest{
		Rotation:  r.rotation(),
		Current:   cur,
		Passwords: r.passwords(),
		Previous:  r.loader("", StagePrevious),
		Master:    r.masterLoader(cur),
	})
	if err != nil {
		return fmt.Errorf("create pending value: %w", err)
	}
	pending := resp.Pending
	r.addSecrets(pending.Secrets()...)
	stored, err := pending.MarshalStored()
	if err != nil {
		r.discard(ctx, rot, pending, cur)
		return fmt.Errorf("create pending value: %w", err)
	}
	body := string(stored)
	if len(body) > secret.MaxSize {
		r.discard(ctx, rot, pending, cur)
		return ErrPendingTooLarge
	}
	in := &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(r.arn),
		ClientRequestToken: aws.String(r.ev.ClientRequestToken),
		SecretString:       aws.String(body),
		VersionStages:      []string{StagePending},
	}
	if r.ev.RotationToken != "" {
		in.RotationToken = aws.String(r.ev.RotationToken)
	}
	_, err = r.sm.PutSecretValue(ctx, in)
	if err == nil {
		return nil
	}
	if isExists(err) {
		// An earlier try stored a different pending value under this token;
		// that one stands. Undo what this try made, if anything.
		r.note = logging.OutcomePendingStored
		r.discard(ctx, rot, pending, cur)
		return nil
	}
	// The write may have been applied before the error: look before undoing.
	got, _, gerr := r.read(ctx, r.ev.ClientRequestToken, StagePending)
	if gerr == nil && got.StoredJSON() == body {
		r.note = logging.OutcomeStoredDespiteError
		return nil
	}
	if isNotFound(gerr) {
		r.discard(ctx, rot, pending, cur)
	}
	return fmt.Errorf("store pending value: %w", err)
}

// discard undoes Create for rotators that can, when the pending value was not
// stored. Its own failure is logged, not returned: the step already failed or
// succeeded for other reasons.
func (r *run) discard(ctx context.Context, rot rotators.Rotator, pending, cur secret.Value) {
	d, ok := rot.(rotators.Discarder)
	if !ok {
		return
	}
	// Cleanup has its own context: it runs even when the step's work used up
	// its deadline, and still ends before the Lambda deadline.
	cctx, cancel := r.limits.cleanupContext(ctx)
	defer cancel()
	_, err := d.Discard(cctx, rotators.DiscardRequest{Rotation: r.rotation(), Pending: pending, Master: r.masterLoader(cur)})
	err = redactErr(r, err)
	if err != nil {
		r.e.cfg.Logger.WarnContext(ctx, "could not undo createSecret's change on the target",
			"secretArn", r.arn, "error", r.scrub(err.Error()))
	}
}

// set makes the pending value valid on the target.
// Happy path: GetSecretValue(token, AWSPENDING), GetSecretValue(AWSCURRENT).
func (r *run) set(ctx context.Context) error {
	pending, done, err := r.readPending(ctx)
	if done || err != nil {
		return err
	}
	cur, _, err := r.read(ctx, "", StageCurrent)
	if err != nil {
		return err
	}
	rot, err := r.route(cur)
	if err != nil {
		return err
	}
	if err := r.confine(cur, pending); err != nil {
		return err
	}
	_, err = call(ctx, r, rot.Set, rotators.SetRequest{
		Rotation: r.rotation(),
		Current:  cur,
		Pending:  pending,
		Previous: r.loader("", StagePrevious),
		Master:   r.masterLoader(pending),
	})
	if err != nil {
		return fmt.Errorf("set pending value on the target: %w", err)
	}
	r.remember(rot)
	return nil
}

// test proves the pending value works. Happy path: GetSecretValue(token, AWSPENDING).
func (r *run) test(ctx context.Context) error {
	pending, done, err := r.readPending(ctx)
	if done || err != nil {
		return err
	}
	rot, err := r.route(pending)
	if err != nil {
		return err
	}
	if err := r.confine(pending); err != nil {
		return err
	}
	_, err = call(ctx, r, rot.Test, rotators.TestRequest{
		Rotation: r.rotation(),
		Pending:  pending,
		Current:  r.loader("", StageCurrent),
		Master:   r.masterLoader(pending),
	})
	if err != nil {
		return fmt.Errorf("test pending value: %w", err)
	}
	r.remember(rot)
	return nil
}

// remember records this rotation's route for finishSecret.
func (r *run) remember(rot rotators.Rotator) {
	_, finisher := rot.(rotators.Finisher)
	r.e.rememberRoute(r.arn, r.ev.ClientRequestToken, route{engine: r.engine, finisher: finisher})
}

// finish moves AWSCURRENT to the pending version.
// Happy path: DescribeSecret, UpdateSecretVersionStage (plus one read of the
// pending value when a registered rotator has finish work).
func (r *run) finish(ctx context.Context) error {
	d, err := r.describe(ctx)
	if err != nil {
		return err
	}
	if done, err := r.tokenState(d); done || err != nil {
		return err
	}
	currentID := ""
	for id, stages := range d.VersionIdsToStages {
		for _, s := range stages {
			if s == StageCurrent {
				currentID = id
			}
		}
	}
	known, hit := r.e.recallRoute(r.arn, r.ev.ClientRequestToken)
	if hit && r.engine == "" {
		r.engine = known.engine
	}
	if r.e.anyFinisher && (!hit || known.finisher) {
		pending, _, err := r.read(ctx, r.ev.ClientRequestToken, StagePending)
		if err != nil {
			return err
		}
		rot, err := r.route(pending)
		if err != nil {
			return err
		}
		if err := r.confine(pending); err != nil {
			return err
		}
		if f, ok := rot.(rotators.Finisher); ok {
			_, err = call(ctx, r, f.Finish, rotators.FinishRequest{
				Rotation: r.rotation(),
				Pending:  func(context.Context) (secret.Value, bool, error) { return pending, true, nil },
				Current:  r.loader(currentID, ""),
				Previous: r.loader("", StagePrevious),
				Master:   r.masterLoader(pending),
			})
			if err != nil {
				return fmt.Errorf("finish on the target: %w", err)
			}
		}
	}
	in := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:        aws.String(r.arn),
		VersionStage:    aws.String(StageCurrent),
		MoveToVersionId: aws.String(r.ev.ClientRequestToken),
	}
	if currentID != "" {
		in.RemoveFromVersionId = aws.String(currentID)
	}
	if _, err := r.sm.UpdateSecretVersionStage(ctx, in); err != nil {
		return fmt.Errorf("move AWSCURRENT to the pending version: %w", err)
	}
	r.rotated = true
	return nil
}

// call is the decorator around every rotator method: the method gets a
// context ending at the step deadline (the Lambda deadline minus the cleanup
// reserve), an error that ran into it says so, and an error leaves it with
// every known secret value scrubbed from its text.
func call[Req, Resp any](ctx context.Context, r *run, method func(context.Context, Req) (Resp, error), req Req) (Resp, error) {
	sctx, cancel := r.limits.stepContext(ctx)
	defer cancel()
	resp, err := method(sctx, req)
	return resp, redactErr(r, r.limits.explain(ctx, sctx, err))
}

func redactErr(r *run, err error) error {
	if err == nil {
		return nil
	}
	return redact(err, r.secretList())
}
