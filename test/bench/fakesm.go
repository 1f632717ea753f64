package bench

import (
	"context"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotary-secrets/rotary/shared/rotation"
)

// MemSM is an in-memory Secrets Manager with just what the engine uses, so
// allocation figures measure the engine and the rotator, not an HTTP stack.
// It counts calls per operation. It is not a faithful emulator (that is
// test/localaws); the figures of SM calls per rotation are cross-checked
// against localaws by the tests.
type MemSM struct {
	mu      sync.Mutex
	secrets map[string]*memSecret
	calls   map[string]int
}

type memSecret struct {
	order    []string
	versions map[string]*memVersion
}

type memVersion struct {
	value  *string
	stages []string
}

var _ rotation.SecretsManagerAPI = (*MemSM)(nil)

// NewMemSM returns an empty store.
func NewMemSM() *MemSM {
	return &MemSM{secrets: map[string]*memSecret{}, calls: map[string]int{}}
}

// Put stores value as the AWSCURRENT version of arn (a new secret).
func (m *MemSM) Put(arn, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := value
	m.secrets[arn] = &memSecret{order: []string{"v0"}, versions: map[string]*memVersion{"v0": {value: &v, stages: []string{"AWSCURRENT"}}}}
}

// Begin adds an empty AWSPENDING version under token, as RotateSecret does.
func (m *MemSM) Begin(arn, token string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.secrets[arn]
	for _, v := range s.versions {
		v.stages = slices.DeleteFunc(v.stages, func(st string) bool { return st == "AWSPENDING" })
	}
	s.order = append(s.order, token)
	s.versions[token] = &memVersion{stages: []string{"AWSPENDING"}}
	// Keep the store small: versions without labels are dropped, as the
	// service deprecates them.
	for id, v := range s.versions {
		if len(v.stages) == 0 {
			delete(s.versions, id)
			s.order = slices.DeleteFunc(s.order, func(o string) bool { return o == id })
		}
	}
}

// Calls returns the number of calls per operation since the last Reset.
func (m *MemSM) Calls() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for k, v := range m.calls {
		out[k] = v
	}
	return out
}

// Total returns the number of calls since the last Reset.
func (m *MemSM) Total() int {
	n := 0
	for _, v := range m.Calls() {
		n += v
	}
	return n
}

// Reset zeroes the counters.
func (m *MemSM) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = map[string]int{}
}

func (m *MemSM) count(op string) { m.calls[op]++ }

func notFound() error {
	return &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret value.")}
}

// DescribeSecret implements rotation.SecretsManagerAPI.
func (m *MemSM) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("DescribeSecret")
	s := m.secrets[aws.ToString(in.SecretId)]
	if s == nil {
		return nil, notFound()
	}
	stages := map[string][]string{}
	for id, v := range s.versions {
		stages[id] = slices.Clone(v.stages)
	}
	return &secretsmanager.DescribeSecretOutput{ARN: in.SecretId, RotationEnabled: aws.Bool(true), VersionIdsToStages: stages}, nil
}

// GetSecretValue implements rotation.SecretsManagerAPI.
func (m *MemSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("GetSecretValue")
	s := m.secrets[aws.ToString(in.SecretId)]
	if s == nil {
		return nil, notFound()
	}
	id, stage := aws.ToString(in.VersionId), aws.ToString(in.VersionStage)
	var v *memVersion
	if id != "" {
		v = s.versions[id]
		if v != nil && stage != "" && !slices.Contains(v.stages, stage) {
			return nil, &types.InvalidRequestException{Message: aws.String("stage not on version")}
		}
	} else {
		if stage == "" {
			stage = "AWSCURRENT"
		}
		for vid, cand := range s.versions {
			if slices.Contains(cand.stages, stage) {
				v, id = cand, vid
			}
		}
	}
	if v == nil || v.value == nil {
		return nil, notFound()
	}
	return &secretsmanager.GetSecretValueOutput{ARN: in.SecretId, VersionId: aws.String(id), SecretString: v.value, VersionStages: slices.Clone(v.stages)}, nil
}

// PutSecretValue implements rotation.SecretsManagerAPI.
func (m *MemSM) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("PutSecretValue")
	s := m.secrets[aws.ToString(in.SecretId)]
	if s == nil {
		return nil, notFound()
	}
	id := aws.ToString(in.ClientRequestToken)
	v := s.versions[id]
	switch {
	case v == nil:
		v = &memVersion{}
		s.versions[id] = v
		s.order = append(s.order, id)
	case v.value != nil && *v.value != aws.ToString(in.SecretString):
		return nil, &types.ResourceExistsException{Message: aws.String("a version with this token has another value")}
	}
	val := aws.ToString(in.SecretString)
	v.value = &val
	for _, st := range in.VersionStages {
		for _, o := range s.versions {
			o.stages = slices.DeleteFunc(o.stages, func(x string) bool { return x == st })
		}
		v.stages = append(v.stages, st)
	}
	return &secretsmanager.PutSecretValueOutput{ARN: in.SecretId, VersionId: aws.String(id), VersionStages: slices.Clone(v.stages)}, nil
}

// UpdateSecretVersionStage implements rotation.SecretsManagerAPI; moving
// AWSCURRENT moves AWSPREVIOUS to the old current version, as the service does.
func (m *MemSM) UpdateSecretVersionStage(_ context.Context, in *secretsmanager.UpdateSecretVersionStageInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("UpdateSecretVersionStage")
	s := m.secrets[aws.ToString(in.SecretId)]
	if s == nil {
		return nil, notFound()
	}
	stage, to, from := aws.ToString(in.VersionStage), aws.ToString(in.MoveToVersionId), aws.ToString(in.RemoveFromVersionId)
	if s.versions[to] == nil {
		return nil, notFound()
	}
	if from != "" && s.versions[from] != nil {
		old := s.versions[from]
		old.stages = slices.DeleteFunc(old.stages, func(x string) bool { return x == stage })
		if stage == "AWSCURRENT" {
			for _, o := range s.versions {
				o.stages = slices.DeleteFunc(o.stages, func(x string) bool { return x == "AWSPREVIOUS" })
			}
			old.stages = append(old.stages, "AWSPREVIOUS")
		}
	}
	s.versions[to].stages = append(s.versions[to].stages, stage)
	return &secretsmanager.UpdateSecretVersionStageOutput{ARN: in.SecretId}, nil
}

// GetRandomPassword implements rotation.SecretsManagerAPI (unused: passwords
// are generated locally).
func (m *MemSM) GetRandomPassword(context.Context, *secretsmanager.GetRandomPasswordInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("GetRandomPassword")
	return nil, &types.InvalidRequestException{Message: aws.String("not supported by MemSM")}
}
