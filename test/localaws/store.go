package localaws

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Staging labels with a meaning to the service.
const (
	stageCurrent  = "AWSCURRENT"
	stagePending  = "AWSPENDING"
	stagePrevious = "AWSPREVIOUS"
)

// maxVersions is the number of versions above which deprecated versions are
// removed, oldest first.
const maxVersions = 100

// store holds the secrets of one (account, region).
type store struct {
	mu      sync.Mutex
	account string
	region  string
	byName  map[string]*secretRec
	byARN   map[string]*secretRec
}

// secretRec is one secret. Guarded by its store's mu.
type secretRec struct {
	name, arn    string
	description  *string
	kmsKeyID     *string
	tags         []Tag
	created      time.Time
	lastChanged  time.Time
	lastAccessed time.Time
	deleted      time.Time // zero unless scheduled for deletion
	deletionDate time.Time
	lastRotated  time.Time
	nextRotation time.Time
	rotationSet  bool // rotation was configured once (RotationEnabled present)
	rotationOn   bool
	lambdaARN    string
	rules        *RotationRules
	versions     map[string]*version
	order        []string        // version IDs, oldest first
	rotation     *activeRotation // set while a RotateSecret-driven rotation runs
	policy       *string         // resource policy (PutResourcePolicy or planted)
	primary      string          // PrimaryRegion of a replicated secret
	replicas     []ReplicaStatus // ReplicationStatus (planted)
	owner        string          // OwningService (planted)
}

// version is one secret version; a RotateSecret placeholder has no value.
type version struct {
	id           string
	str          *string
	bin          []byte
	stages       []string
	created      time.Time
	lastAccessed time.Time
}

func (v *version) hasValue() bool { return v.str != nil || v.bin != nil }

func (v *version) sameValue(str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) || (v.bin == nil) != (bin == nil) {
		return false
	}
	if str != nil && *v.str != *str {
		return false
	}
	return bytes.Equal(v.bin, bin)
}

func (v *version) has(stage string) bool { return slices.Contains(v.stages, stage) }

func (v *version) remove(stage string) {
	v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == stage })
}

func (v *version) add(stage string) {
	if !v.has(stage) {
		v.stages = append(v.stages, stage)
	}
}

// Tag is a secret's tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// RotationRules is the RotationRules member of RotateSecret and DescribeSecret.
type RotationRules struct {
	AutomaticallyAfterDays *int64  `json:"AutomaticallyAfterDays,omitempty"`
	Duration               *string `json:"Duration,omitempty"`
	ScheduleExpression     *string `json:"ScheduleExpression,omitempty"`
}

// holder returns the version carrying stage, or nil.
func (sec *secretRec) holder(stage string) *version {
	for _, id := range sec.order {
		if v := sec.versions[id]; v.has(stage) {
			return v
		}
	}
	return nil
}

// moveStage attaches stage to v, detaching it from every other version, and
// keeps AWSPREVIOUS on the version AWSCURRENT left.
func (sec *secretRec) moveStage(stage string, v *version) {
	old := sec.holder(stage)
	if old == v {
		return
	}
	if old != nil {
		old.remove(stage)
	}
	v.add(stage)
	if stage == stageCurrent && old != nil {
		for _, id := range sec.order {
			sec.versions[id].remove(stagePrevious)
		}
		old.add(stagePrevious)
	}
}

// addVersion appends a version and removes the oldest deprecated versions
// while there are more than maxVersions. (AWS also keeps deprecated versions
// younger than 24 hours and may then answer LimitExceededException; the
// emulator prunes regardless of age.)
func (sec *secretRec) addVersion(v *version) {
	sec.versions[v.id] = v
	sec.order = append(sec.order, v.id)
	for len(sec.order) > maxVersions {
		i := slices.IndexFunc(sec.order, func(id string) bool { return len(sec.versions[id].stages) == 0 })
		if i < 0 {
			return
		}
		delete(sec.versions, sec.order[i])
		sec.order = slices.Delete(sec.order, i, i+1)
	}
}

func (sec *secretRec) removeVersion(id string) {
	delete(sec.versions, id)
	sec.order = slices.DeleteFunc(sec.order, func(s string) bool { return s == id })
}

// epoch is a timestamp sent as epoch seconds (a JSON number with a fraction).
type epoch time.Time

// MarshalJSON writes seconds with millisecond precision.
func (e epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(time.Time(e).UnixMilli())/1000, 'f', 3, 64)), nil
}

func ep(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

// day truncates to the UTC day (LastAccessedDate has day precision).
func day(t time.Time) time.Time {
	return t.UTC().Truncate(24 * time.Hour)
}

// parseSecretARN splits arn:<partition>:secretsmanager:<region>:<account>:secret:<rest>.
func parseSecretARN(id string) (region, account, rest string, ok bool) {
	f := strings.SplitN(id, ":", 7)
	if len(f) != 7 || f[0] != "arn" || f[2] != "secretsmanager" || f[5] != "secret" || f[6] == "" {
		return "", "", "", false
	}
	return f[3], f[4], f[6], true
}

// find looks a secret up by name, full ARN or partial ARN (the ARN without
// the "-XXXXXX" suffix). A secret whose recovery window ended by now is
// deleted for good first.
func (st *store) find(id string, now time.Time) *secretRec {
	var sec *secretRec
	if _, _, rest, ok := parseSecretARN(id); ok {
		if sec = st.byARN[id]; sec == nil {
			sec = st.byName[rest]
		}
	} else {
		sec = st.byName[id]
	}
	if st.purge(sec, now) {
		return nil
	}
	return sec
}

// purge deletes sec for good if its recovery window ended by now.
func (st *store) purge(sec *secretRec, now time.Time) bool {
	if sec == nil || sec.deletionDate.IsZero() || now.Before(sec.deletionDate) {
		return false
	}
	delete(st.byName, sec.name)
	delete(st.byARN, sec.arn)
	return true
}

// storeFor returns the store of (account, region), creating it.
func (s *Server) storeFor(account, region string) *store {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := storeKey{account, region}
	st := s.stores[k]
	if st == nil {
		st = &store{account: account, region: region, byName: map[string]*secretRec{}, byARN: map[string]*secretRec{}}
		s.stores[k] = st
	}
	return st
}
