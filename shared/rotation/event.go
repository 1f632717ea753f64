package rotation

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/aws/aws-lambda-go/events"
)

// Step names as Secrets Manager sends them.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

// ErrInvalidEvent is wrapped by every event validation error.
var ErrInvalidEvent = errors.New("invalid rotation event")

var stepNames = map[string]string{
	"createsecret": StepCreate, "create_secret": StepCreate,
	"setsecret": StepSet, "set_secret": StepSet,
	"testsecret": StepTest, "test_secret": StepTest,
	"finishsecret": StepFinish, "finish_secret": StepFinish,
}

// Event is a validated rotation event.
type Event struct {
	Step               string // one of the Step constants
	SecretID           string // ARN or name, as sent
	ClientRequestToken string // the pending version's ID
	RotationToken      string // opaque; passed to PutSecretValue, never logged
}

// ParseEvent validates a Lambda rotation event. Errors name the field and the
// rule and never show a field's value.
func ParseEvent(ev events.SecretsManagerSecretRotationEvent) (Event, error) {
	step, ok := stepNames[strings.ToLower(ev.Step)]
	if !ok {
		return Event{}, fmt.Errorf("%w: Step must be createSecret, setSecret, testSecret or finishSecret", ErrInvalidEvent)
	}
	if err := validSecretID(ev.SecretID); err != nil {
		return Event{}, err
	}
	if err := validToken(ev.ClientRequestToken); err != nil {
		return Event{}, err
	}
	if len(ev.RotationToken) > 4096 {
		return Event{}, fmt.Errorf("%w: RotationToken is longer than 4096 characters", ErrInvalidEvent)
	}
	return Event{Step: step, SecretID: ev.SecretID, ClientRequestToken: ev.ClientRequestToken, RotationToken: ev.RotationToken}, nil
}

func validSecretID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: SecretId is empty", ErrInvalidEvent)
	}
	if len(id) > 2048 {
		return fmt.Errorf("%w: SecretId is longer than 2048 characters", ErrInvalidEvent)
	}
	for _, r := range id {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' {
			return fmt.Errorf("%w: SecretId must be an ARN or a name of printable ASCII characters", ErrInvalidEvent)
		}
	}
	return nil
}

func validToken(tok string) error {
	if len(tok) < 32 || len(tok) > 64 {
		return fmt.Errorf("%w: ClientRequestToken must be 32 to 64 characters", ErrInvalidEvent)
	}
	for _, r := range tok {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("%w: ClientRequestToken must contain only letters, digits and '-'", ErrInvalidEvent)
		}
	}
	return nil
}
