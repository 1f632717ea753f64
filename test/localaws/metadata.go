package localaws

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// The resource-policy operations. They are registered here rather than in
// the smOps literal so that the metadata APIs stay in one file.
func init() {
	smOps["GetResourcePolicy"] = (*Server).getResourcePolicy
	smOps["PutResourcePolicy"] = (*Server).putResourcePolicy
	smOps["DeleteResourcePolicy"] = (*Server).deleteResourcePolicy
}

// ReplicaStatus is one entry of DescribeSecret's ReplicationStatus.
type ReplicaStatus struct {
	Region           string `json:"Region"`
	KmsKeyID         string `json:"KmsKeyId,omitempty"`
	Status           string `json:"Status"` // InSync, Failed, InProgress
	StatusMessage    string `json:"StatusMessage,omitempty"`
	LastAccessedDate *epoch `json:"LastAccessedDate,omitempty"`
}

func (s *Server) getResourcePolicy(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.withSecret(r, in.SecretID, true, func(_ *store, sec *secretRec) (any, *apiError) {
		return struct {
			ARN            string  `json:"ARN"`
			Name           string  `json:"Name"`
			ResourcePolicy *string `json:"ResourcePolicy,omitempty"`
		}{sec.arn, sec.name, sec.policy}, nil
	})
}

// putResourcePolicy stores a policy that is a JSON object with a Statement,
// as the service's syntax check requires (MalformedPolicyDocumentException
// otherwise). BlockPublicPolicy (the service's Zelkova check) is not
// emulated: a public policy is stored, so the audit can be tested on it.
func (s *Server) putResourcePolicy(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID          string `json:"SecretId"`
		ResourcePolicy    string
		BlockPublicPolicy *bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkLen("resourcePolicy", len(in.ResourcePolicy), 1, 20480); e != nil {
		return nil, e
	}
	var doc struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(in.ResourcePolicy), &doc) != nil || len(doc.Statement) == 0 {
		return nil, errf(400, "MalformedPolicyDocumentException", "This resource policy contains a syntax error.")
	}
	return s.withSecret(r, in.SecretID, false, func(_ *store, sec *secretRec) (any, *apiError) {
		p := in.ResourcePolicy
		sec.policy = &p
		sec.lastChanged = s.now()
		return arnName{sec.arn, sec.name}, nil
	})
}

func (s *Server) deleteResourcePolicy(r *request, body []byte) (any, *apiError) {
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.withSecret(r, in.SecretID, false, func(_ *store, sec *secretRec) (any, *apiError) {
		sec.policy = nil
		sec.lastChanged = s.now()
		return arnName{sec.arn, sec.name}, nil
	})
}

// SecretState is metadata a test plants on an existing secret with
// SetSecretState: states the API cannot produce on demand (old dates, a
// rotation stuck for days, a failed replica, a policy the service would have
// refused). Nil and zero fields leave the secret unchanged.
type SecretState struct {
	Created, LastChanged, LastAccessed, LastRotated, NextRotation, Deleted time.Time

	// KmsKeyID replaces the secret's KmsKeyId ("" keeps it).
	KmsKeyID string
	// ResourcePolicy is stored as is, without the syntax check of
	// PutResourcePolicy.
	ResourcePolicy *string
	// Rotation turns rotation on with this function and rules, without
	// running it (as a rotation configured long ago).
	Rotation *PlantedRotation
	// RotationOff turns rotation off, keeping the function.
	RotationOff bool
	// Pending adds a version holding AWSPENDING (and nothing else), as a
	// rotation that keeps failing leaves it.
	Pending *PlantedPending
	// PrimaryRegion and Replicas set the replication status.
	PrimaryRegion string
	Replicas      []ReplicaStatus
	// OwningService marks the secret as managed by a service (e.g. "rds").
	OwningService string
}

// PlantedRotation is a rotation configuration.
type PlantedRotation struct {
	LambdaARN string
	Rules     RotationRules
}

// PlantedPending is a stuck AWSPENDING version.
type PlantedPending struct {
	VersionID string    // 32-64 characters; empty for a random UUID
	Created   time.Time // default now
	// WithValue gives the version the current value (createSecret
	// succeeded, a later step failed); otherwise it is a valueless
	// placeholder (createSecret failed), which ListSecretVersionIds omits.
	WithValue bool
}

// SetSecretState plants st on the secret secretID (name or ARN) of account
// and region. It returns the pending version's ID when st.Pending is set.
func (s *Server) SetSecretState(account, region, secretID string, st SecretState) (string, error) {
	if region == "" {
		region = s.opts.Region
	}
	store := s.storeFor(account, region)
	store.mu.Lock()
	defer store.mu.Unlock()
	sec := store.find(secretID, s.now())
	if sec == nil {
		return "", fmt.Errorf("localaws: set secret state: no secret %q in %s/%s", secretID, account, region)
	}
	set := func(dst *time.Time, v time.Time) {
		if !v.IsZero() {
			*dst = v
		}
	}
	set(&sec.created, st.Created)
	set(&sec.lastChanged, st.LastChanged)
	set(&sec.lastRotated, st.LastRotated)
	set(&sec.nextRotation, st.NextRotation)
	if !st.LastAccessed.IsZero() {
		sec.lastAccessed = day(st.LastAccessed)
	}
	if !st.Deleted.IsZero() {
		sec.deleted = st.Deleted
		sec.deletionDate = st.Deleted.Add(30 * 24 * time.Hour)
	}
	if st.KmsKeyID != "" {
		k := st.KmsKeyID
		sec.kmsKeyID = &k
	}
	if st.ResourcePolicy != nil {
		p := *st.ResourcePolicy
		sec.policy = &p
	}
	if r := st.Rotation; r != nil {
		rules := r.Rules
		sec.rotationSet, sec.rotationOn, sec.lambdaARN, sec.rules = true, true, r.LambdaARN, &rules
	}
	if st.RotationOff {
		sec.rotationSet, sec.rotationOn = true, false
	}
	if st.PrimaryRegion != "" {
		sec.primary = st.PrimaryRegion
	}
	if st.Replicas != nil {
		sec.replicas = slices.Clone(st.Replicas)
	}
	if st.OwningService != "" {
		sec.owner = st.OwningService
	}
	id := ""
	if p := st.Pending; p != nil {
		id = p.VersionID
		if id == "" {
			id = newUUID()
		}
		if len(id) < 32 || len(id) > 64 || sec.versions[id] != nil {
			return "", fmt.Errorf("localaws: set secret state: pending version ID must be 32-64 characters and new")
		}
		created := p.Created
		if created.IsZero() {
			created = s.now()
		}
		v := &version{id: id, created: created}
		if p.WithValue {
			cur := sec.holder(stageCurrent)
			if cur == nil || !cur.hasValue() {
				return "", fmt.Errorf("localaws: set secret state: a pending version with a value needs an AWSCURRENT value to copy")
			}
			v.str, v.bin = cur.str, cur.bin
		}
		for _, vid := range sec.order {
			sec.versions[vid].remove(stagePending)
		}
		v.stages = []string{stagePending}
		sec.addVersion(v)
	}
	return id, nil
}
