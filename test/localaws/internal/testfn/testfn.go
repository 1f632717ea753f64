// Package testfn is a minimal rotation function for localaws's own tests: it
// runs the four steps the way AWS's rotation templates do, against the
// emulator, with hooks to fail a step or drop the RotationToken. It must not
// be used outside test/localaws (Rotary's real engine is shared/rotation).
package testfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Event is the rotation event Secrets Manager sends.
type Event struct {
	Step               string `json:"Step"`
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
	RotationToken      string `json:"RotationToken"`
}

// Options configures the function.
type Options struct {
	// Client returns the Secrets Manager client for an event (for instance
	// one with assumed-role credentials).
	Client func(ctx context.Context, ev Event) (*secretsmanager.Client, error)
	// DropRotationToken leaves RotationToken out of PutSecretValue, as a
	// function written before the token existed would.
	DropRotationToken bool
	// RotationToken, when set, replaces the event's RotationToken in
	// PutSecretValue (a function passing a wrong token).
	RotationToken string
	// Hook runs at the start of every step; an error fails the step.
	Hook func(ctx context.Context, ev Event) error
}

// Handler returns the function as raw JSON in, raw JSON out, the shape of
// lambda.NewHandler(...).Invoke and of localaws.HandlerFunction.
func Handler(o Options) func(ctx context.Context, payload []byte) ([]byte, error) {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		var ev Event
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("decode event: %w", err)
		}
		if err := Rotate(ctx, o, ev); err != nil {
			return nil, err
		}
		return []byte("null"), nil
	}
}

// Rotate runs one step.
func Rotate(ctx context.Context, o Options, ev Event) error {
	if o.Hook != nil {
		if err := o.Hook(ctx, ev); err != nil {
			return err
		}
	}
	c, err := o.Client(ctx, ev)
	if err != nil {
		return fmt.Errorf("%s: client: %w", ev.Step, err)
	}
	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &ev.SecretID})
	if err != nil {
		return fmt.Errorf("%s: describe: %w", ev.Step, err)
	}
	if !aws.ToBool(d.RotationEnabled) {
		return fmt.Errorf("%s: rotation is not enabled", ev.Step)
	}
	stages, ok := d.VersionIdsToStages[ev.ClientRequestToken]
	if !ok {
		return fmt.Errorf("%s: version %s has no stage", ev.Step, ev.ClientRequestToken)
	}
	if slices.Contains(stages, "AWSCURRENT") {
		return nil
	}
	if !slices.Contains(stages, "AWSPENDING") {
		return fmt.Errorf("%s: version %s is not AWSPENDING", ev.Step, ev.ClientRequestToken)
	}
	switch ev.Step {
	case "createSecret":
		return create(ctx, o, c, ev)
	case "setSecret":
		return nil
	case "testSecret":
		_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &ev.SecretID, VersionId: &ev.ClientRequestToken, VersionStage: aws.String("AWSPENDING")})
		if err != nil {
			return fmt.Errorf("testSecret: read pending: %w", err)
		}
		return nil
	case "finishSecret":
		current := ""
		for id, st := range d.VersionIdsToStages {
			if slices.Contains(st, "AWSCURRENT") {
				current = id
			}
		}
		if _, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: &ev.SecretID, VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: &ev.ClientRequestToken, RemoveFromVersionId: &current,
		}); err != nil {
			return fmt.Errorf("finishSecret: move AWSCURRENT: %w", err)
		}
		if _, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: &ev.SecretID, VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: &ev.ClientRequestToken,
		}); err != nil {
			return fmt.Errorf("finishSecret: remove AWSPENDING: %w", err)
		}
		return nil
	}
	return fmt.Errorf("unknown step %q", ev.Step)
}

func create(ctx context.Context, o Options, c *secretsmanager.Client, ev Event) error {
	cur, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &ev.SecretID, VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		return fmt.Errorf("createSecret: read current: %w", err)
	}
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &ev.SecretID, VersionId: &ev.ClientRequestToken, VersionStage: aws.String("AWSPENDING")})
	var nf *types.ResourceNotFoundException
	switch {
	case err == nil:
		return nil // already created by an earlier attempt
	case !errors.As(err, &nf):
		return fmt.Errorf("createSecret: read pending: %w", err)
	}
	pw, err := c.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{ExcludeCharacters: aws.String(":/@\"'\\")})
	if err != nil {
		return fmt.Errorf("createSecret: random password: %w", err)
	}
	val := map[string]any{}
	if json.Unmarshal([]byte(aws.ToString(cur.SecretString)), &val) != nil {
		val = map[string]any{}
	}
	val["password"] = aws.ToString(pw.RandomPassword)
	b, err := json.Marshal(val)
	if err != nil {
		return fmt.Errorf("createSecret: encode: %w", err)
	}
	in := &secretsmanager.PutSecretValueInput{
		SecretId: &ev.SecretID, ClientRequestToken: &ev.ClientRequestToken,
		SecretString: aws.String(string(b)), VersionStages: []string{"AWSPENDING"},
	}
	switch {
	case o.RotationToken != "":
		in.RotationToken = &o.RotationToken
	case !o.DropRotationToken && ev.RotationToken != "":
		in.RotationToken = &ev.RotationToken
	}
	if _, err := c.PutSecretValue(ctx, in); err != nil {
		return fmt.Errorf("createSecret: put pending: %w", err)
	}
	return nil
}
