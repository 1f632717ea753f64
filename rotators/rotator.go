package rotators

import (
	"context"

	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// Rotator changes one credential on one target: what every rotator does. The
// engine calls Create, Set and Test in order for a rotation (and, when the
// rotator also implements Finisher, Finish), and any step may be called again
// after a failure or a crash at any point, with the same token: every method
// must be safe to call twice and must end in the same state as one call.
//
// The optional interfaces Finisher, Discarder and Minter carry the methods
// only some rotators have, as io.WriterTo does for io.Reader: the engine finds
// them with a type assertion and pays for them (a Secrets Manager read) only
// for the rotators that implement them.
type Rotator interface {
	// Create returns the pending value, derived from the current one (a new
	// password, the alternate user name, a newly minted API key). It must not
	// change the target in a way that breaks AWSCURRENT. If it creates something
	// on the target (an API key), it must be findable by the request's Token so a
	// retry can clean it up. The engine stores the returned value as AWSPENDING.
	Create(ctx context.Context, req CreateRequest) (CreateResponse, error)

	// Set makes the pending value valid on the target. Safe to call twice: if the
	// pending credential already works, Set succeeds without another change.
	Set(ctx context.Context, req SetRequest) (SetResponse, error)

	// Test proves the pending value works on the target. It must not change the
	// target.
	Test(ctx context.Context, req TestRequest) (TestResponse, error)
}

// Loader reads a secret version on demand, so a step pays for a Secrets Manager
// call only when the rotator needs that version. ok is false when the version
// does not exist (no AWSPREVIOUS yet, no master secret configured).
type Loader func(ctx context.Context) (v secret.Value, ok bool, err error)

// Rotation identifies the rotation a step belongs to. None of its fields is
// secret.
type Rotation struct {
	SecretARN string // full ARN of the secret being rotated
	Token     string // the event's ClientRequestToken: the pending version's ID
}

// CreateRequest is the input to Create.
type CreateRequest struct {
	Rotation
	Current   secret.Value       // the AWSCURRENT value
	Passwords password.Generator // where new passwords come from
	Previous  Loader             // the AWSPREVIOUS value
	Master    Loader             // the secret named by Current's masterarn
}

// CreateResponse is the output of Create.
type CreateResponse struct {
	Pending secret.Value // the value to store as AWSPENDING
}

// SetRequest is the input to Set.
type SetRequest struct {
	Rotation
	Current  secret.Value // the AWSCURRENT value
	Pending  secret.Value // the AWSPENDING value, as Create made it
	Previous Loader       // the AWSPREVIOUS value
	Master   Loader       // the secret named by the masterarn key
}

// SetResponse is the output of Set.
type SetResponse struct{}

// TestRequest is the input to Test.
type TestRequest struct {
	Rotation
	Pending secret.Value // the AWSPENDING value
	Current Loader       // the AWSCURRENT value
	Master  Loader       // the secret named by the masterarn key
}

// TestResponse is the output of Test.
type TestResponse struct{}

// FinishRequest is the input to Finish. Every version is loaded on demand.
type FinishRequest struct {
	Rotation
	Pending  Loader // the AWSPENDING value (about to become AWSCURRENT)
	Current  Loader // the AWSCURRENT value (about to become AWSPREVIOUS)
	Previous Loader // the AWSPREVIOUS value (about to lose its label)
	Master   Loader // the secret named by the masterarn key
}

// FinishResponse is the output of Finish.
type FinishResponse struct{}

// Finisher is implemented by rotators with work to do when a rotation ends.
// Only for these does the engine read the pending value in finishSecret and
// call Finish; a rotator without finish work (every database rotator) simply
// does not implement it, which saves finishSecret a Secrets Manager read.
type Finisher interface {
	// Finish runs just before the engine moves AWSCURRENT to the pending
	// version (e.g. to revoke the API key that was AWSPREVIOUS before this
	// rotation). It must not break AWSCURRENT or the pending value, and must
	// succeed when its work is already done (a key already revoked): a retried
	// finishSecret runs it again.
	Finish(ctx context.Context, req FinishRequest) (FinishResponse, error)
}

// Discarder is implemented by rotators whose Create changes the target (it
// mints an API key that a provider shows only once) and that must undo that
// change when the engine could not store Create's result ("retire on
// failure"). The engine calls Discard only after confirming that the pending
// value was not stored. Discard must succeed when there is nothing left to
// undo.
type Discarder interface {
	// Discard undoes what Create changed on the target for req.Pending.
	Discard(ctx context.Context, req DiscardRequest) (DiscardResponse, error)
}

// Minter is a rotator whose Create changes the target: it is another name for
// Discarder, not a marker. A Create that changes the target leaves something
// no stored version holds whenever its result is not stored, so it must be
// undoable (invariant 3: Discard); a Create that changes nothing has nothing
// to discard. Having Discard is therefore exactly what makes a rotator a
// minter, and one method cannot drift from a second declaration of the same
// fact. For a Minter the engine checks that no pending value is stored yet
// before calling Create (one extra Secrets Manager read), so a retried
// createSecret never mints a key that cannot be stored; Create may then revoke
// any key it finds under the request's Token, since none of them is held by a
// stored version.
type Minter = Discarder

// DiscardRequest is the input to Discard.
type DiscardRequest struct {
	Rotation
	Pending secret.Value // the value Create returned, which was not stored
	Master  Loader       // the secret named by the masterarn key
}

// DiscardResponse is the output of Discard.
type DiscardResponse struct{}
